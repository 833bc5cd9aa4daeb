//! Committed offsets expire as KIP-211 has it: `offsets.retention.minutes`
//! after a group's last member left. A group away longer loses its place,
//! and `auto.offset.reset = latest` skips what was produced meanwhile
//! (KAFKA-4682's skip); back in time, or with the default week of
//! retention, nothing is lost; with `earliest` it re-reads instead.

use std::path::Path;

use ksim::harness::{run, Outcome, RunOptions};
use ksim::scenario::Scenario;

fn shipped() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/offsets_expiry.toml");
    std::fs::read_to_string(path).expect("ships")
}

/// The shipped scenario with `from` replaced by `to` (each must be there).
fn variant(edits: &[(&str, &str)]) -> Scenario {
    let mut text = shipped();
    for (from, to) in edits {
        assert!(text.contains(from), "offsets_expiry.toml has {from}");
        text = text.replace(from, to);
    }
    ksim::scenario::parse(&text, "offsets_expiry.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    run(s, seed, &RunOptions::default()).expect("runs")
}

fn invariants(o: &Outcome) -> Vec<&str> {
    let mut names: Vec<&str> = o.violations.iter().map(|v| v.invariant.as_str()).collect();
    names.dedup();
    names
}

const RETENTION: &str = r#""offsets.retention.minutes" = 1"#;

#[test]
fn a_group_away_past_the_retention_loses_its_offsets_and_latest_skips() {
    let scenario = variant(&[]);
    for seed in [1, 2] {
        let a = outcome(&scenario, seed);
        assert_eq!(
            invariants(&a),
            ["committed_offsets_monotonic", "processed_at_least_once"],
            "seed {seed}: {:?}",
            a.violations
        );
        let skipped = a
            .violations
            .iter()
            .find(|v| v.invariant == "processed_at_least_once")
            .expect("fired");
        assert!(
            skipped
                .detail
                .contains("auto.offset.reset moved the group to offset")
                && skipped.detail.contains("its committed offset expired at"),
            "{}",
            skipped.detail
        );
        assert_eq!(a.trace_hash, outcome(&scenario, seed).trace_hash);
    }
}

#[test]
fn the_default_retention_keeps_the_groups_place() {
    // A week: the member comes back to its committed offsets. Its first
    // start at the log end (latest, no offset yet) skips nothing it owed.
    let o = outcome(
        &variant(&[(RETENTION, r#""offsets.retention.minutes" = 10080"#)]),
        1,
    );
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    assert!(o.stats.records_consumed > 10_000, "{:?}", o.stats);
}

#[test]
fn back_before_the_retention_passes_nothing_expires() {
    let o = outcome(
        &variant(&[(r#"restart_after = "100s""#, r#"restart_after = "60s""#)]),
        1,
    );
    assert!(o.violations.is_empty(), "{:?}", o.violations);
}

#[test]
fn earliest_rereads_what_latest_skips() {
    let o = outcome(
        &variant(&[(
            r#""auto.offset.reset" = "latest""#,
            r#""auto.offset.reset" = "earliest""#,
        )]),
        1,
    );
    // The offsets still expired; the group starts over from the log start.
    assert_eq!(
        invariants(&o),
        ["committed_offsets_monotonic"],
        "{:?}",
        o.violations
    );
    let group = &o.stats.groups[0];
    assert!(group.duplicates > 0, "{group:?}");
}
