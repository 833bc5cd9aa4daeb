//! Causal explanations: a violation carries the chain of events that made
//! it, read from the run's own record — the acknowledgement with the
//! partition's leader, epoch, ISR and high watermark, what each replica held
//! when a crash or power loss hit it and what it recovered from its disk, and
//! the elections and truncations that followed.

use std::path::Path;

use ksim::check::Violation;
use ksim::harness::{run, RunOptions};

fn load(path: &str) -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn events(v: &Violation) -> Vec<String> {
    v.chain
        .iter()
        .map(|c| format!("{} {}", c.node, c.event))
        .collect()
}

fn first<'a>(violations: &'a [Violation], invariant: &str) -> &'a Violation {
    violations
        .iter()
        .find(|v| v.invariant == invariant)
        .unwrap_or_else(|| panic!("no {invariant} violation"))
}

#[test]
fn a_kip101_lost_write_is_explained_by_the_truncation_and_the_election_without_it() {
    let scenario = load("tests/fixtures/kip101_shrunk.toml");
    let o = run(&scenario, 6, &RunOptions::default()).expect("runs");
    let lost = first(&o.violations, "acked_writes_durable");
    let chain = events(lost);
    let text = chain.join("\n");
    // It starts at the acknowledgement, with the state then.
    assert!(
        chain[0].starts_with("orders-0 acknowledged at offset 250 with leader broker 1, leader epoch 0, ISR [1, 2, 3], high watermark"),
        "{text}"
    );
    // The old protocol cut a follower below the acknowledged offset...
    assert!(
        text.contains(
            "broker-3 truncated orders-0 to offset 250 (1 records removed, erasing offset 250)"
        ),
        "{text}"
    );
    // ...and that follower then led without it.
    assert!(
        text.contains("broker-3 became leader of orders-0 in epoch 2 at log end offset 250 (without offset 250)"),
        "{text}"
    );
    // Later violations of the same invariant and partition do not repeat it.
    assert!(o
        .violations
        .iter()
        .filter(|v| v.invariant == "acked_writes_durable")
        .skip(1)
        .all(|v| v.chain.is_empty()));
}

#[test]
fn a_power_loss_lost_write_is_explained_by_what_was_only_in_the_page_cache() {
    let scenario = load("scenarios/correlated_power_loss.toml");
    let o = run(&scenario, 0, &RunOptions::default()).expect("runs");
    let lost = first(&o.violations, "acked_writes_durable");
    let text = events(lost).join("\n");
    for broker in 1..=3 {
        assert!(
            text.contains(&format!(
                "broker-{broker} power_loss: its replica of orders-0 ended at offset"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("broker-{broker} restarted and recovered orders-0 from its disk to log end offset 0: offset 0 was not on its disk")),
            "{text}"
        );
    }
    assert!(text.contains("(without offset 0)"), "{text}");
}

#[test]
fn the_chain_is_in_the_run_record() {
    let scenario = load("tests/fixtures/kip101_shrunk.toml");
    let o = run(&scenario, 6, &RunOptions::default()).expect("runs");
    let summary = ksim::report::Summary::of(&scenario.name, "f.toml", 6, &o);
    let json = serde_json::to_value(&summary).expect("serialises");
    let chain = json["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .find_map(|v| v.get("chain"))
        .expect("a chain in the JSON");
    let link = &chain[0];
    assert!(link["at_ms"].is_u64() && link["node"].is_string() && link["event"].is_string());
    // And it reads back (replay and merge parse the record).
    let back: ksim::report::Summary = serde_json::from_value(json).expect("parses");
    assert_eq!(back.violations, summary.violations);
}

/// The text report prints the chain under the violation it explains.
#[test]
fn the_text_report_shows_how_it_came_about() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain_text");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::copy(
        root.join("tests/fixtures/kip101_shrunk.toml"),
        dir.join("kip101_shrunk.toml"),
    )
    .expect("copy");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(&dir)
        .args(["run", "kip101_shrunk.toml", "--seed", "6"])
        .output()
        .expect("ksim runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let violations: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "violations")
        .take_while(|l| !l.is_empty())
        .collect();
    insta::assert_snapshot!("explain_text_kip101", violations.join("\n"));
}
