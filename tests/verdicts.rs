//! Every shipped scenario keeps its verdict over seeds 0..100: the ones that
//! must pass pass every seed, the ones that show an anomaly fail some seeds
//! and only on the invariants that anomaly breaks. A sweep of every
//! scenario is long for a debug build: these tests are ignored by `cargo
//! test` and run in a release build,
//! `cargo test --release --test verdicts -- --ignored`.

use std::collections::{BTreeMap, BTreeSet};
mod common;

const SEEDS: &str = "0..100";

/// Scenarios that pass every seed.
const MUST_PASS: [&str; 29] = [
    "broker_crash",
    "broker_fencing",
    "compaction",
    "compression",
    "consumer_crash",
    "controller_failover",
    "controller_partition",
    "controller_rejoin",
    "coordinator_failover",
    "eos_pipeline",
    "hanging_transaction",
    "late_end_txn",
    "leader_power_loss",
    "network_partition",
    "node_drain",
    "power_loss",
    "rebalance_storm",
    "retention",
    "rolling_restart",
    "rolling_update",
    "shutdown_power_loss",
    "topic_creation",
    "topic_deletion",
    "topic_recreation",
    "transactions",
    "under_min_isr_reads",
    "zombie_consumer",
    "zombie_leader_pause",
    "zombie_producer",
];

/// Scenarios that show an anomaly: the invariants every failing seed
/// breaks, then the others a failing seed may break.
const MUST_FAIL: [(&str, &[&str], &[&str]); 10] = [
    (
        "acks1_leader_crash",
        &["acked_writes_durable"],
        &["offsets_consistent"],
    ),
    ("at_most_once_crash", &["processed_at_least_once"], &[]),
    (
        "correlated_power_loss",
        &["acked_writes_durable"],
        &["offsets_consistent"],
    ),
    (
        "kip101_truncation",
        &["acked_writes_durable"],
        // eventually_available: seeds 2 and 40, where a follower truncated to its
        // high watermark ends inside a batch of the leader's diverged log;
        // the leader's batch does not start at its log end
        // (UnexpectedOffset), so it backs off and asks again for good, and
        // acks=all waits on it (with truncation = "leader-epoch" no seed
        // of 0..100 fails).
        &[
            "offsets_consistent",
            "replicas_consistent",
            "eventually_available",
        ],
    ),
    (
        "offsets_expiry",
        &["committed_offsets_monotonic", "processed_at_least_once"],
        &[],
    ),
    ("partition_increase", &["key_order"], &[]),
    (
        "pod_reschedule",
        &["acked_writes_durable", "offsets_consistent"],
        &[],
    ),
    // A seed may reorder without writing twice (seed 72, since 4.0 and 4.1
    // ask for KRaft pre-votes): either invariant, or both.
    (
        "producer_retries",
        &[],
        &["no_duplicates", "partition_order"],
    ),
    (
        "topic_recreation_stale_offsets",
        &["processed_at_least_once"],
        &[],
    ),
    (
        "unclean_election",
        &["acked_writes_durable"],
        &["offsets_consistent", "reads_committed_only"],
    ),
];

/// Per seed: the invariants it violated.
fn sweep(scenario: &str) -> BTreeMap<u64, BTreeSet<String>> {
    sweep_file(&format!("scenarios/{scenario}.toml"), scenario, false)
}

/// Per seed of scenario file `file` (named `scenario`), or of its fixed
/// variant: the invariants it violated.
fn sweep_file(file: &str, scenario: &str, fixed: bool) -> BTreeMap<u64, BTreeSet<String>> {
    let out_dir = std::env::temp_dir().join(format!(
        "ksim-verdicts-{}-{scenario}-{fixed}",
        std::process::id()
    ));
    let out = out_dir.to_string_lossy();
    let mut args = vec![
        "explore", file, "--seeds", SEEDS, "--jobs", "2", "--out", &out,
    ];
    if fixed {
        args.push("--fixed");
    }
    let output = common::ksim(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &args);
    let stdout = common::stdout(&output);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{scenario}: {stdout}"
    );
    let json =
        std::fs::read_to_string(out_dir.join(scenario).join("explore.json")).expect("explore.json");
    let _ = std::fs::remove_dir_all(&out_dir);
    let report: serde_json::Value = serde_json::from_str(&json).expect("json");
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let seed = r["seed"].as_u64().expect("seed");
            let violated = r["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v["invariant"].as_str().expect("invariant").to_owned())
                .collect();
            (seed, violated)
        })
        .collect()
}

#[test]
#[ignore = "100 seeds of every scenario: run in a release build"]
fn must_pass_scenarios_pass_every_seed() {
    for scenario in MUST_PASS {
        let seeds = sweep(scenario);
        assert_eq!(seeds.len(), 100, "{scenario}");
        let failing: Vec<_> = seeds.iter().filter(|(_, v)| !v.is_empty()).collect();
        assert!(failing.is_empty(), "{scenario}: {failing:?}");
    }
}

#[test]
#[ignore = "100 seeds of every scenario: run in a release build"]
fn must_fail_scenarios_fail_the_same_invariants() {
    for (scenario, always, maybe) in MUST_FAIL {
        let seeds = sweep(scenario);
        assert_eq!(seeds.len(), 100, "{scenario}");
        let failing: Vec<_> = seeds.iter().filter(|(_, v)| !v.is_empty()).collect();
        assert!(
            !failing.is_empty(),
            "{scenario} shows its anomaly in some seed"
        );
        for (seed, violated) in failing {
            for invariant in always {
                assert!(
                    violated.contains(*invariant),
                    "{scenario} seed {seed}: {violated:?}"
                );
            }
            let unexpected: Vec<_> = violated
                .iter()
                .filter(|v| !always.contains(&v.as_str()) && !maybe.contains(&v.as_str()))
                .collect();
            assert!(
                unexpected.is_empty(),
                "{scenario} seed {seed}: {unexpected:?}"
            );
        }
    }
}

#[test]
#[ignore = "100 seeds of every scenario: run in a release build"]
fn anomalies_fail_only_their_invariants_and_their_fixes_pass_every_seed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/anomalies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/anomalies/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for path in files {
        let scenario = ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let anomaly = scenario.anomaly.expect("an [anomaly] table");
        let file = format!(
            "scenarios/anomalies/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        let before = sweep_file(&file, &scenario.name, false);
        assert_eq!(before.len(), 100, "{file}");
        let failing: Vec<_> = before.iter().filter(|(_, v)| !v.is_empty()).collect();
        for seed in &anomaly.seeds {
            assert!(
                failing.iter().any(|(s, _)| *s == seed) || *seed >= 100,
                "{file}: listed seed {seed} does not show the anomaly"
            );
        }
        for (seed, violated) in failing {
            for inv in &anomaly.breaks {
                assert!(
                    violated.contains(inv.name()),
                    "{file} seed {seed}: {violated:?}"
                );
            }
            let named = |v: &String| {
                anomaly
                    .breaks
                    .iter()
                    .chain(&anomaly.may_also_break)
                    .any(|i| i.name() == v)
            };
            let unexpected: Vec<_> = violated.iter().filter(|v| !named(v)).collect();
            assert!(unexpected.is_empty(), "{file} seed {seed}: {unexpected:?}");
        }
        let after = sweep_file(&file, &scenario.name, true);
        assert_eq!(after.len(), 100, "{file}");
        let failing: Vec<_> = after.iter().filter(|(_, v)| !v.is_empty()).collect();
        assert!(failing.is_empty(), "{file} --fixed: {failing:?}");
    }
}
