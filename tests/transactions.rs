//! Transactions end to end: transactional producers commit and abort
//! through the transaction coordinator, read_committed consumers are given
//! only what committed, and each transaction checker is shown firing on a
//! broken variant (a consumer that keeps aborted records, a coordinator
//! that commits what its producer aborted).

use ksim::client::consumer::ConsumerMutations;
use ksim::harness::{run, Outcome, RunOptions, TestMutations};

fn scenario(edit: Option<(&str, &str)>) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/transactions.toml");
    let mut text = std::fs::read_to_string(&path).expect("scenario file");
    if let Some((from, to)) = edit {
        assert!(text.contains(from), "the scenario has {from}");
        text = text.replace(from, to);
    }
    ksim::scenario::parse(&text, "transactions.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &ksim::scenario::Scenario, seed: u64, mutations: TestMutations) -> Outcome {
    let options = RunOptions {
        mutations,
        ..RunOptions::default()
    };
    run(s, seed, &options).expect("runs")
}

fn fired(o: &Outcome, invariant: &str) -> bool {
    o.violations.iter().any(|v| v.invariant == invariant)
}

#[test]
fn transactions_commit_and_abort_and_read_committed_sees_only_commits() {
    let s = scenario(None);
    for seed in [0, 1] {
        let o = outcome(&s, seed, TestMutations::default());
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        for name in ["transactions_atomic", "no_aborted_reads"] {
            assert!(o.checked.iter().any(|c| c == name), "{name} is checked");
        }
        // A tenth of the transactions abort: their records are acknowledged
        // (they are in the log) but never given to the read_committed group.
        let (acked, consumed) = (o.stats.records_acked, o.stats.records_consumed);
        assert!(acked > 2_000, "seed {seed}: {acked} acknowledged");
        assert!(
            consumed < acked && consumed > acked * 7 / 10,
            "seed {seed}: {consumed} consumed of {acked} acknowledged"
        );
        let again = outcome(&s, seed, TestMutations::default());
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn without_aborts_a_read_committed_group_reads_every_acknowledged_record() {
    let s = scenario(Some(("abort = 0.1", "abort = 0")));
    let o = outcome(&s, 2, TestMutations::default());
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    assert_eq!(o.stats.records_consumed, o.stats.records_acked);
}

#[test]
fn a_consumer_that_keeps_aborted_records_is_caught_reading_them() {
    let s = scenario(None);
    let keep = TestMutations {
        consumer: ConsumerMutations {
            keep_aborted_records: true,
            ..ConsumerMutations::default()
        },
        ..TestMutations::default()
    };
    let o = outcome(&s, 0, keep);
    assert!(fired(&o, "no_aborted_reads"), "{:?}", o.violations);
    assert!(!fired(&o, "transactions_atomic"), "{:?}", o.violations);
}

#[test]
fn a_coordinator_that_commits_aborted_transactions_tears_them() {
    let s = scenario(None);
    let commit = TestMutations {
        commit_aborted_transactions: true,
        ..TestMutations::default()
    };
    let o = outcome(&s, 0, commit);
    assert!(fired(&o, "transactions_atomic"), "{:?}", o.violations);
    let v = o
        .violations
        .iter()
        .find(|v| v.invariant == "transactions_atomic")
        .expect("fired");
    assert!(v.detail.contains("abort"), "{}", v.detail);
}

#[test]
fn kafka_refuses_a_transactional_id_without_idempotence() {
    for (edit, key) in [
        (
            r#""linger.ms" = 5 }"#,
            r#""linger.ms" = 5, "enable.idempotence" = false }"#,
        ),
        (r#""linger.ms" = 5 }"#, r#""linger.ms" = 5, acks = "1" }"#),
    ] {
        let path = "transactions.toml";
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios")
                .join(path),
        )
        .unwrap()
        .replace(edit, key);
        let err = ksim::scenario::parse(&text, path).unwrap_err().to_string();
        assert!(
            err.contains("Cannot set a transactional.id without also enabling idempotence."),
            "{err}"
        );
        assert!(err.starts_with("transactions.toml:25:"), "{err}");
    }
    // A transaction spec needs a transactional producer, and the other way round.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/transactions.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let no_id = text.replace(r#""transactional.id" = "pay", "#, "");
    let err = ksim::scenario::parse(&no_id, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("transaction needs config"), "{err}");
    let no_spec = text.replace("transaction = { records = 20, abort = 0.1 }", "");
    let err = ksim::scenario::parse(&no_spec, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs transaction = {"), "{err}");
}

#[test]
fn a_transaction_coordinator_crash_moves_the_transactional_ids_to_another_broker() {
    let s = scenario(None);
    let o = outcome(&s, 3, TestMutations::default());
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let crash = o
        .faults
        .iter()
        .find(|f| f.kind == "crash" && f.at_ns == 14 * sim::SECONDS)
        .expect("txn_coordinator(pay-0) crashed");
    assert!(crash.target.starts_with("broker-"), "{}", crash.target);
    // Naming a transactional id no producer has is an error naming the valid ones.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/transactions.toml"),
    )
    .unwrap()
    .replace("txn_coordinator(pay-0)", "txn_coordinator(pai-0)");
    let err = ksim::scenario::parse(&text, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"no transactional producer has transactional.id "pai-0"; did you mean "pay-0"? valid: pay-0, pay-1"#),
        "{err}"
    );
}

#[test]
fn a_transaction_left_open_is_reported_with_the_producer_holding_the_last_stable_offset() {
    let s = scenario(None);
    let hang = TestMutations {
        drop_txn_markers: true,
        ..TestMutations::default()
    };
    let o = outcome(&s, 0, hang);
    let stuck = o
        .violations
        .iter()
        .find(|v| v.invariant == "eventually_available" && v.detail.contains("last stable offset"))
        .unwrap_or_else(|| panic!("{:?}", o.violations));
    assert!(
        stuck
            .detail
            .contains("held by the open transaction of producer id")
            && stuck.detail.contains("transactional.id \"pay-"),
        "{}",
        stuck.detail
    );
}

#[test]
fn a_zombie_producer_is_fenced_when_it_wakes_and_starts_a_new_instance() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/zombie_producer.toml");
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let s = ksim::scenario::parse(&text, "zombie_producer.toml").unwrap_or_else(|e| panic!("{e}"));
    let trace =
        std::env::temp_dir().join(format!("ksim-zombie-producer-{}.jsonl", std::process::id()));
    let options = RunOptions {
        trace: Some(trace.clone()),
        ..RunOptions::default()
    };
    let o = run(&s, 0, &options).expect("runs");
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let lines = std::fs::read_to_string(&trace).expect("trace");
    let _ = std::fs::remove_file(&trace);
    // Paused 10 s..30 s with transaction.timeout.ms 10 s: the coordinator
    // aborted its transaction and bumped the epoch; on waking its next
    // request is refused (a produce INVALID_PRODUCER_EPOCH, an EndTxn
    // PRODUCER_FENCED, KAFKA-9911), and the new instance gets a newer epoch.
    let to_zombie = |needle: &str| {
        lines
            .lines()
            .filter(|l| l.contains(r#""to":"producer-0""#) && l.contains(needle))
            .map(|l| {
                let t = l.split(r#""t_ns":"#).nth(1).expect("t_ns");
                t.split([',', '}']).next().unwrap().parse::<u64>().unwrap()
            })
            .collect::<Vec<_>>()
    };
    let mut fenced = to_zombie("InvalidProducerEpoch");
    fenced.extend(to_zombie("error: Some(ProducerFenced)"));
    fenced.sort_unstable();
    assert!(
        !fenced.is_empty() && fenced[0] >= 30 * sim::SECONDS,
        "{fenced:?}"
    );
    let epochs: Vec<&str> = lines
        .lines()
        .filter(|l| {
            l.contains(r#""to":"producer-0""#) && l.contains("InitProducerId { error: None")
        })
        .collect();
    assert!(epochs.len() >= 2, "a new instance initialized");
    assert!(
        !epochs[epochs.len() - 1].contains("producer_epoch: 0 "),
        "{}",
        epochs[epochs.len() - 1]
    );
}
