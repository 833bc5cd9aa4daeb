//! The Kafka model stands alone: its modules (brokers, controllers,
//! clients, groups, transactions, logs, metadata, the protocol, errors,
//! configs and the process vocabulary) import nothing from the scenario format, the
//! harness, the checkers, the reports or the command line, and nothing from
//! the simulator but its time units and its shared bytes. This test fails
//! on the first import that crosses the line.

use std::path::{Path, PathBuf};

/// The model's modules, under `src/`.
const MODEL: [&str; 11] = [
    "broker",
    "client",
    "config",
    "controller",
    "group",
    "log",
    "metadata",
    "node",
    "protocol",
    "txn",
    "errors.rs",
];

/// What the model may not name.
const FORBIDDEN: [&str; 9] = [
    "crate::scenario",
    "crate::harness",
    "crate::check",
    "crate::report",
    "crate::cli",
    "crate::explore",
    "crate::guarantees",
    "crate::shrink",
    "crate::runner",
];

/// All the model may use of the simulator: its units of time, and `Blob`,
/// the shared immutable bytes its disk stores (a batch's records are
/// written to every replica's disk without a copy).
const SIM_ALLOWED: [&str; 6] = [
    "Nanos",
    "MILLIS",
    "SECONDS",
    "MICROS",
    "format_nanos",
    "Blob",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("readable directory")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The items a line names after `sim::` (`sim::{A, B}` or `sim::A`).
fn sim_items(line: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("sim::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 5..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            items.extend(group[..end].split(',').map(|s| s.trim().to_owned()));
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            items.push(rest[..end].to_owned());
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

fn crossings(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("readable source");
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for forbidden in FORBIDDEN {
            let hit = code.match_indices(forbidden).any(|(at, _)| {
                let next = code[at + forbidden.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if hit {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
        for item in sim_items(code) {
            if !SIM_ALLOWED.contains(&item.as_str()) {
                found.push(format!("{}:{}: sim::{item}", file.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn the_kafka_model_imports_nothing_from_the_harness_or_the_simulator() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in MODEL {
        rust_files(&src.join(module), &mut files);
    }
    assert!(
        files.len() > 50,
        "the model's files were found: {}",
        files.len()
    );
    let found: Vec<String> = files.iter().flat_map(|f| crossings(f)).collect();
    assert!(
        found.is_empty(),
        "the model crosses into the harness or the kernel:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_forbidden_import() {
    let dir = std::env::temp_dir().join(format!("ksim-boundary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("leak.rs");
    std::fs::write(
        &file,
        "use crate::scenario::Truncation;\nuse sim::{Ctx, MILLIS};\nuse crate::client::x; // crate::cli\n",
    )
    .expect("write");
    let found = crossings(&file);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("crate::scenario"));
    assert!(found[1].contains("sim::Ctx"));
}
