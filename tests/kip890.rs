//! KIP-890 ("Transactions Server-Side Defense") end to end. Each shipped
//! scenario passes with Kafka's defaults (partition verification on,
//! `transaction.version` 2) and shows the bug it is about with the switches
//! of a Kafka without the KIP (`transaction.partition.verification.enable
//! = false`, `[protocol] transaction_version = 1`):
//!
//! - `hanging_transaction`: a produce that reaches its leader after its
//!   transaction was aborted opens a transaction no coordinator knows; the
//!   last stable offset hangs there (`eventually_available` names the
//!   transactional id, producer id, epoch and partition).
//! - `late_end_txn` (KAFKA-17754): an EndTxn that reaches the coordinator
//!   after its retry ended the transaction ends the next one half way;
//!   records of an aborted transaction are read (`no_aborted_reads`,
//!   `transactions_atomic`).
//!
//! The failing seeds are the ones a release sweep of the unfixed variant
//! finds (`ksim explore FILE --seeds 0..100`); each is a few seconds in a
//! debug build.

use ksim::harness::{run, Outcome, RunOptions};

/// The fixed and unfixed switches, as the scenario files write them.
const VERIFY_ON: &str = "\"transaction.partition.verification.enable\" = true";
const VERIFY_OFF: &str = "\"transaction.partition.verification.enable\" = false";
const TV2: &str = "transaction_version = 2";
const TV1: &str = "transaction_version = 1";

fn scenario(name: &str, unfixed: bool) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("scenario file");
    if unfixed {
        for (from, to) in [(VERIFY_ON, VERIFY_OFF), (TV2, TV1)] {
            assert!(text.contains(from), "{name} sets {from}");
            text = text.replace(from, to);
        }
    }
    ksim::scenario::parse(&text, &format!("{name}.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &ksim::scenario::Scenario, seed: u64) -> Outcome {
    run(s, seed, &RunOptions::default()).expect("runs")
}

fn fired(o: &Outcome, invariant: &str) -> Vec<String> {
    o.violations
        .iter()
        .filter(|v| v.invariant == invariant)
        .map(|v| v.detail.clone())
        .collect()
}

#[test]
fn hanging_transaction_passes_with_verification_and_replays() {
    let s = scenario("hanging_transaction", false);
    assert!(
        s.cluster
            .config
            .get_bool("transaction.partition.verification.enable")
            == Some(true)
    );
    assert_eq!(s.protocol.transaction_version, 2);
    for seed in [0, 1, 2] {
        let o = outcome(&s, seed);
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        let again = outcome(&s, seed);
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn without_kip890_a_late_produce_hangs_the_last_stable_offset() {
    let s = scenario("hanging_transaction", true);
    for seed in [1, 18, 20] {
        let o = outcome(&s, seed);
        let hung = fired(&o, "eventually_available");
        let named = hung.iter().any(|d| {
            d.contains("held by the open transaction of producer id")
                && d.contains("transactional.id \"pay-0\"")
                && d.contains("payments-0")
        });
        assert!(named, "seed {seed}: {:?}", o.violations);
        let again = outcome(&s, seed);
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn late_end_txn_is_fenced_by_the_epoch_bump_and_replays() {
    let s = scenario("late_end_txn", false);
    for seed in [11, 13] {
        let o = outcome(&s, seed);
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        let again = outcome(&s, seed);
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn without_kip890_a_late_end_txn_ends_the_next_transaction() {
    let s = scenario("late_end_txn", true);
    for seed in [5, 6] {
        let o = outcome(&s, seed);
        assert!(
            !fired(&o, "no_aborted_reads").is_empty(),
            "seed {seed}: {:?}",
            o.violations
        );
        assert!(
            !fired(&o, "transactions_atomic").is_empty(),
            "seed {seed}: {:?}",
            o.violations
        );
        let again = outcome(&s, seed);
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn verification_alone_refuses_the_late_produce() {
    // KIP-890 part 1 without part 2 (Kafka 3.6 to 3.9): the leader asks the
    // coordinator before the late batch opens a transaction.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/hanging_transaction.toml");
    let text = std::fs::read_to_string(path)
        .expect("scenario file")
        .replace(TV2, TV1);
    let s = ksim::scenario::parse(&text, "hanging_transaction.toml").expect("parses");
    for seed in [0, 8] {
        let o = outcome(&s, seed);
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
    }
}

#[test]
fn transaction_version_errors_name_the_key_and_the_valid_values() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/late_end_txn.toml");
    let text = std::fs::read_to_string(path)
        .expect("scenario file")
        .replace(TV2, "transaction_version = 3");
    let e = ksim::scenario::parse(&text, "late_end_txn.toml")
        .expect_err("3 is not a transaction version")
        .to_string();
    assert!(e.starts_with("late_end_txn.toml:"), "{e}");
    assert!(e.contains("protocol.transaction_version"), "{e}");
    assert!(
        e.contains("valid: 1") && e.contains("2 (KIP-890 part 2"),
        "{e}"
    );
}
