//! Retention end to end: segments roll by `segment.ms` and go by
//! `retention.ms`; a consumer whose position retention removed gets
//! OFFSET_OUT_OF_RANGE and `auto.offset.reset` moves it; what retention
//! removed before a group processed it is a statistic, never a lost write.

mod common;

use std::path::Path;

use common::{ksim, scratch, stderr, stdout};
use ksim::harness::{run, RunOptions, TestMutations};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_text() -> String {
    std::fs::read_to_string(root().join("scenarios/retention.toml")).expect("ships")
}

fn scenario(text: &str) -> ksim::scenario::Scenario {
    ksim::scenario::parse(text, "retention.toml").expect("parses")
}

#[test]
fn what_retention_removed_is_counted_not_lost_and_runs_repeat() {
    let scenario = scenario(&scenario_text());
    let options = RunOptions::default();
    for seed in 0..2 {
        let a = run(&scenario, seed, &options).expect("runs");
        let b = run(&scenario, seed, &options).expect("runs");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert!(a.violations.is_empty(), "seed {seed}: {:?}", a.violations);
        let s = &a.stats;
        assert!(s.records_acked > 50_000, "seed {seed}: {}", s.records_acked);
        // retention.ms is 5 s and the settle phase 30 s: by the end every
        // acknowledged record is gone, and counted.
        assert_eq!(
            s.records_removed_by_retention, s.records_acked,
            "seed {seed}"
        );
        let slow = s.groups.iter().find(|g| g.group == "slow").expect("slow");
        assert!(slow.offset_resets > 0, "seed {seed}: {slow:?}");
        assert!(slow.removed_by_retention > 0, "seed {seed}: {slow:?}");
        assert_eq!(
            s.offset_resets,
            s.groups.iter().map(|g| g.offset_resets).sum::<u64>()
        );
        // Every acknowledged record was processed or removed first.
        for g in &s.groups {
            assert!(
                g.processed + g.removed_by_retention >= s.records_acked,
                "seed {seed}: {g:?}"
            );
        }
    }
}

#[test]
fn a_reader_served_past_removed_records_is_caught_skipping() {
    // The broker bug: a fetch below the log start offset is served from
    // the first record left, without OFFSET_OUT_OF_RANGE: the consumer
    // jumps over what retention removed without a reset.
    let scenario = scenario(&scenario_text());
    let options = RunOptions {
        mutations: TestMutations {
            serve_below_log_start: true,
            ..TestMutations::default()
        },
        ..RunOptions::default()
    };
    let outcome = run(&scenario, 0, &options).expect("runs");
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.invariant == "no_poll_skip"),
        "{:?}",
        outcome.violations
    );
    let slow = outcome.stats.groups.iter().find(|g| g.group == "slow");
    assert_eq!(slow.map(|g| g.offset_resets), Some(0));
}

#[test]
fn auto_offset_reset_none_stops_the_application_with_the_error() {
    let dir = scratch("retention", "none");
    let text = scenario_text().replace(
        r#""auto.offset.reset" = "earliest", "max.poll.records""#,
        r#""auto.offset.reset" = "none", "max.poll.records""#,
    );
    assert!(text.contains(r#""none""#));
    std::fs::write(dir.join("none.toml"), text).expect("write");
    let out = ksim(&dir, &["run", "none.toml", "--seed", "1", "--out", "."]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("consumer-slow-0 stopped for good on OFFSET_OUT_OF_RANGE"),
        "{report}"
    );
    // The report says what retention removed (the live group read on).
    assert!(
        report.contains("acknowledged records removed by retention;"),
        "{report}"
    );
}

#[test]
fn dump_log_starts_at_the_log_start_offset_and_the_json_counts() {
    let dir = scratch("retention", "dump");
    std::fs::write(dir.join("retention.toml"), scenario_text()).expect("write");
    let out = ksim(
        &dir,
        &[
            "dump-log",
            "retention.toml",
            "--seed",
            "1",
            "--at",
            "45s",
            "--broker",
            "2",
            "--partition",
            "events-0",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let first = text
        .lines()
        .find_map(|l| l.strip_prefix("baseOffset: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|o| o.parse::<u64>().ok())
        .expect("a batch");
    assert!(
        first > 1_000,
        "retention removed the oldest batches: {first}"
    );
    let out = ksim(
        &dir,
        &[
            "run",
            "retention.toml",
            "--seed",
            "1",
            "--format",
            "json",
            "--out",
            ".",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let stats = &json["stats"];
    assert!(stats["records_removed_by_retention"].as_u64() > Some(0));
    assert!(stats["offset_resets"].as_u64() > Some(0));
    insta::assert_json_snapshot!("retention_seed1_stats", stats);
}
