//! The data checkers shown firing on configurations Kafka documents as
//! unsafe, each next to its fix: the broken scenario must violate its
//! invariant within a seed budget, and the same scenario with the fix must
//! pass the first seeds. (The fix is applied to the scenario text, so the
//! pair differs in exactly one setting.)

use ksim::harness::{run, RunOptions};

fn load(file: &str, fix: Option<(&str, &str)>) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut text = std::fs::read_to_string(&path).expect("scenario file");
    if let Some((from, to)) = fix {
        assert!(text.contains(from), "{file} has {from}");
        text = text.replace(from, to);
    }
    ksim::scenario::parse(&text, file).unwrap_or_else(|e| panic!("{e}"))
}

/// The first seed below `budget` whose run violates `invariant`.
fn first_violation(s: &ksim::scenario::Scenario, invariant: &str, budget: u64) -> Option<u64> {
    (0..budget).find(|&seed| {
        run(s, seed, &RunOptions::default())
            .expect("runs")
            .violations
            .iter()
            .any(|v| v.invariant == invariant)
    })
}

fn pair(file: &str, invariant: &str, budget: u64, fix: (&str, &str)) {
    let broken = load(file, None);
    let seed = first_violation(&broken, invariant, budget);
    eprintln!("{file}: {invariant} first violated at seed {seed:?}");
    assert!(
        seed.is_some(),
        "{file} must violate {invariant} within {budget} seeds"
    );
    let fixed = load(file, Some(fix));
    for seed in 0..3 {
        let out = run(&fixed, seed, &RunOptions::default()).expect("runs");
        assert!(
            out.violations.is_empty(),
            "{file} with {} must pass seed {seed}: {:?}",
            fix.1,
            out.violations.first()
        );
    }
}

#[test]
fn acks_1_loses_acknowledged_writes_and_acks_all_does_not() {
    pair(
        "acks1_leader_crash.toml",
        "acked_writes_durable",
        30,
        (r#"acks = "1""#, r#"acks = "all""#),
    );
}

#[test]
fn unclean_election_loses_acknowledged_writes_and_clean_election_does_not() {
    pair(
        "unclean_election.toml",
        "acked_writes_durable",
        10,
        (
            r#""unclean.leader.election.enable" = true"#,
            r#""unclean.leader.election.enable" = false"#,
        ),
    );
}

#[test]
fn high_watermark_truncation_loses_writes_and_leader_epochs_do_not() {
    pair(
        "kip101_truncation.toml",
        "acked_writes_durable",
        30,
        (
            r#"truncation = "high-watermark""#,
            r#"truncation = "leader-epoch""#,
        ),
    );
}

#[test]
fn retries_without_idempotence_duplicate_and_idempotence_does_not() {
    pair(
        "producer_retries.toml",
        "no_duplicates",
        10,
        (
            r#""enable.idempotence" = false"#,
            r#""enable.idempotence" = true"#,
        ),
    );
}

#[test]
fn a_correlated_power_loss_loses_unflushed_writes_and_flushing_each_does_not() {
    pair(
        "correlated_power_loss.toml",
        "acked_writes_durable",
        10,
        (
            r#""min.insync.replicas" = 2"#,
            "\"min.insync.replicas\" = 2\n\"log.flush.interval.messages\" = 1",
        ),
    );
}

/// The other data checkers fire on the same broken variants.
#[test]
fn reorders_dirty_reads_and_inconsistent_offsets_are_caught() {
    let cases = [
        ("producer_retries.toml", "partition_order", 10),
        ("unclean_election.toml", "reads_committed_only", 3),
        ("acks1_leader_crash.toml", "offsets_consistent", 30),
    ];
    for (file, invariant, budget) in cases {
        let seed = first_violation(&load(file, None), invariant, budget);
        eprintln!("{file}: {invariant} first violated at seed {seed:?}");
        assert!(
            seed.is_some(),
            "{file} must violate {invariant} within {budget} seeds"
        );
    }
}

#[test]
fn acknowledged_writes_survive_the_must_pass_scenarios() {
    for file in [
        "broker_crash.toml",
        "rolling_restart.toml",
        "network_partition.toml",
    ] {
        let s = load(file, None);
        for seed in 0..3 {
            let out = run(&s, seed, &RunOptions::default()).expect("runs");
            assert!(
                out.violations.is_empty(),
                "{file} seed {seed}: {:?}",
                out.violations.first()
            );
            assert!(
                out.stats.records_acked > 0 && out.stats.records_consumed > 0,
                "{file}: records flowed"
            );
        }
    }
}

/// `replicas_consistent` on a really broken variant: recovery that trusts an
/// fsynced epoch checkpoint ahead of the unflushed data (the bug power_loss
/// seed 3 found) leaves a phantom record in an in-sync replica.
#[test]
fn a_replica_recovered_from_a_stale_epoch_checkpoint_diverges() {
    let s = load("power_loss.toml", None);
    let broken = RunOptions {
        mutations: ksim::harness::TestMutations {
            trust_epoch_checkpoint: true,
            ..Default::default()
        },
        ..RunOptions::default()
    };
    let violated = |options: &RunOptions| {
        run(&s, 3, options)
            .expect("runs")
            .violations
            .iter()
            .any(|v| v.invariant == "replicas_consistent")
    };
    assert!(violated(&broken), "the mutation must make seed 3 diverge");
    assert!(
        !violated(&RunOptions::default()),
        "the real recovery passes seed 3"
    );
}
