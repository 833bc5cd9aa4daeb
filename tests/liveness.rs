//! `eventually_available` is checked in every scenario, whatever its
//! `[check]` list; when the cluster has not recovered by the end of the
//! settle phase the violation says what is stuck, with its state.

use ksim::harness::{run, RunOptions};

/// Every broker crashes and stays down until the settle phase restarts it,
/// long enough for the controller to fence them all; the settle phase is
/// too short for them to register, catch up and lead again.
const TOO_SHORT_TO_RECOVER: &str = r#"
name = "too_short_to_recover"
duration = "20s"
settle = "1s"

[cluster]
brokers = 3
controllers = 3

[[topics]]
name = "orders"
partitions = 2
replication_factor = 3

[[producers]]
topic = "orders"
count = 1
rate = "100/s"
config = { acks = "all" }

[[consumers]]
topic = "orders"
group = "billing"
count = 1
config = { "auto.offset.reset" = "earliest" }

[[faults]]
at = "5s"
kind = "crash"
target = "all_brokers"

[check]
invariants = ["acked_writes_durable"]   # eventually_available is checked anyway
"#;

/// The details of the run's `eventually_available` violations.
fn unavailable(o: &ksim::harness::Outcome) -> Vec<&str> {
    o.violations
        .iter()
        .filter(|v| v.invariant == "eventually_available")
        .map(|v| v.detail.as_str())
        .collect()
}

#[test]
fn a_cluster_that_has_not_recovered_is_reported_with_what_is_stuck() {
    let scenario = ksim::scenario::parse(TOO_SHORT_TO_RECOVER, "t.toml").expect("parses");
    let o = run(&scenario, 1, &RunOptions::default()).expect("runs");
    assert!(o.checked.iter().any(|c| c == "eventually_available"));
    let stuck = unavailable(&o);
    let all = stuck.join("\n");
    // The partitions say who leads them (no one), their epoch, replicas and ISR.
    assert!(
        stuck.iter().any(
            |d| d.contains("partitions without a leader: orders-0 (leader epoch")
                && d.contains("Replicas [")
                && d.contains("Isr [")
        ),
        "{all}"
    );
    // The producer's complaint carries its partitions' state.
    assert!(
        stuck.iter().any(|d| d.contains(
            "producer-0 had nothing acknowledged after the faults healed (orders-0: Leader none"
        )),
        "{all}"
    );
}

#[test]
fn the_same_cluster_with_time_to_settle_is_available() {
    let text = TOO_SHORT_TO_RECOVER.replace("settle = \"1s\"", "settle = \"30s\"");
    let scenario = ksim::scenario::parse(&text, "t.toml").expect("parses");
    let o = run(&scenario, 1, &RunOptions::default()).expect("runs");
    let stuck = unavailable(&o);
    assert!(stuck.is_empty(), "{stuck:?}");
}

/// KAFKA-15591's anomaly as written, seed 282: the producer has records
/// acknowledged on every other partition after the faults heal, but one
/// batch it created at the start is still retried at the end.
#[test]
fn a_producer_stuck_on_one_partition_is_reported_with_the_records_it_holds() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/anomalies/kafka_15591_first_batch_overtaken.toml"
    );
    let text = std::fs::read_to_string(file).expect("readable");
    let scenario = ksim::scenario::parse(&text, file).expect("parses");
    let o = run(&scenario, 282, &RunOptions::default()).expect("runs");
    let stuck = unavailable(&o);
    assert!(!stuck.is_empty(), "seed 282 stalls a partition");
    for d in &stuck {
        assert!(
            d.contains("producer-0 still holds ")
                && d.contains(" records of orders-")
                && d.contains("the oldest created at 0.")
                && d.contains("Isr ["),
            "{d}"
        );
        assert!(!d.contains("had nothing acknowledged"), "{d}");
    }
    assert!(
        o.stats.records_acked > 0,
        "the producer's other partitions take its records"
    );
}
