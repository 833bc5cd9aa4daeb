//! `--trace FILE`: every line is one of the events docs/trace.md documents,
//! with exactly the keys it lists, in time order, framed by the `run` and
//! `end` lines; the file is the same for the same seed; its `end` line agrees
//! with the JSON summary. The table is read from docs/trace.md itself, so
//! the docs cannot drift from what ksim writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// event name -> its documented keys, from the table in docs/trace.md.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/trace.md"))
        .expect("docs/trace.md");
    let mut events = BTreeMap::new();
    for line in docs.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let mut keys: BTreeSet<String> = cells[2]
            .split(',')
            .map(|k| k.trim().trim_matches('`').to_owned())
            .collect();
        keys.insert("event".to_owned());
        events.insert(name, keys);
    }
    assert!(events.len() >= 10, "the docs' event table: {events:?}");
    events
}

/// Runs `scenario` with `seed`, tracing to a file; returns (trace, JSON summary).
fn traced(scenario: &str, seed: &str, name: &str) -> (String, serde_json::Value) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("trace");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join(format!("{name}.jsonl"));
    let out = Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run", scenario, "--seed", seed, "--format", "json", "--trace",
        ])
        .arg(&file)
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("ksim runs");
    let summary = serde_json::from_slice(&out.stdout).expect("JSON summary");
    (std::fs::read_to_string(&file).expect("trace file"), summary)
}

fn check(trace: &str, summary: &serde_json::Value) -> BTreeSet<String> {
    let docs = documented();
    let lines: Vec<serde_json::Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let mut seen = BTreeSet::new();
    let mut last_t = 0;
    for (i, line) in lines.iter().enumerate() {
        let object = line.as_object().expect("every line is an object");
        let event = object["event"].as_str().expect("event is a string");
        let keys: BTreeSet<String> = object.keys().cloned().collect();
        let Some(expected) = docs.get(event) else {
            panic!("line {}: event {event:?} is not in docs/trace.md", i + 1);
        };
        assert_eq!(&keys, expected, "line {}: keys of {event}", i + 1);
        let t = object["t_ns"].as_u64().expect("t_ns is an integer");
        assert!(t >= last_t, "line {}: time goes back", i + 1);
        last_t = t;
        seen.insert(event.to_owned());
    }
    assert_eq!(lines[0]["event"], "run");
    assert_eq!(lines[0]["schema"], 1);
    let end = lines.last().expect("lines");
    assert_eq!(end["event"], "end");
    assert_eq!(end["trace_hash"], summary["trace_hash"]);
    assert_eq!(end["events"], summary["events"]);
    assert_eq!(end["events"].as_u64(), Some(lines.len() as u64 - 2));
    seen
}

#[test]
fn every_line_is_a_documented_event() {
    let (trace, summary) = traced("tests/fixtures/kip101_shrunk.toml", "6", "kip101");
    let seen = check(&trace, &summary);
    for event in ["deliver", "timer", "fault", "fsync_done", "disconnected"] {
        assert!(seen.contains(event), "no {event} line: {seen:?}");
    }
    let (again, _) = traced("tests/fixtures/kip101_shrunk.toml", "6", "kip101-again");
    assert!(trace == again, "the same seed writes the same trace");
}

#[test]
fn power_loss_and_writeback_lines() {
    let (trace, summary) = traced(
        "scenarios/anomalies/last_replica_power_loss.toml",
        "1",
        "power",
    );
    let seen = check(&trace, &summary);
    assert!(seen.contains("writeback"), "{seen:?}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("\"fault\":\"power_loss\"")),
        "a power_loss fault line"
    );
}
