//! Kubernetes operations on a Kafka cluster: a node drain (each broker pod
//! evicted with SIGTERM and recreated elsewhere with its volume) loses
//! nothing; a pod rescheduled after its node died loses what the old
//! node's page cache held, under Kafka's defaults, and nothing with
//! min.insync.replicas = 2 or with a flush on every message.

mod common;

use ksim::harness::history::What;
use ksim::harness::{run, Outcome, RunOptions};
use ksim::scenario::{parse, Scenario};
use sim::SECONDS;

fn scenario(text: &str) -> Scenario {
    parse(text, "s.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    run(s, seed, &RunOptions::default()).expect("runs")
}

fn broken(o: &Outcome) -> Vec<&str> {
    let mut names: Vec<&str> = o.violations.iter().map(|v| v.invariant.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Acknowledgements every producer received in the simulated `seconds`.
fn acks_in(o: &Outcome, seconds: std::ops::Range<usize>) -> u64 {
    let per_producer = o.stats.acks_per_second.iter();
    per_producer
        .map(|p| seconds.clone().filter_map(|s| p.get(s)).sum::<u64>())
        .sum()
}

/// `pod_reschedule.toml` with `config` set for the whole cluster.
fn pod_reschedule_with(config: &str) -> Scenario {
    let text = common::shipped("scenarios/pod_reschedule.toml");
    let cluster = "controllers = 3\n";
    assert!(text.contains(cluster));
    scenario(&text.replacen(
        cluster,
        &format!("{cluster}[cluster.config]\n{config}\n"),
        1,
    ))
}

#[test]
fn a_pod_rescheduled_from_a_dead_node_loses_its_page_cache_under_the_defaults() {
    let defaults = scenario(&common::shipped("scenarios/pod_reschedule.toml"));
    let min_isr_2 = pod_reschedule_with("\"min.insync.replicas\" = 2");
    let flushed = pod_reschedule_with("\"log.flush.interval.messages\" = 1");
    for seed in [1, 2] {
        let lost = outcome(&defaults, seed);
        assert_eq!(
            broken(&lost),
            ["acked_writes_durable", "offsets_consistent"],
            "seed {seed}"
        );
        // The rescheduled broker is the last known leader and is elected
        // again from outside any ISR: the followers cut their logs to it.
        assert!(
            lost.history.events.iter().any(|e| matches!(
                e.what,
                What::PartitionChange {
                    unclean: true,
                    leader: Some(1),
                    ..
                }
            )),
            "seed {seed}: broker 1 elected as the last known leader"
        );
        let refused = outcome(&min_isr_2, seed);
        assert!(
            refused.violations.is_empty(),
            "seed {seed}: {:?}",
            refused.violations
        );
        // Between the ISR shrinking to broker 1 (its followers fenced) and
        // its power loss at 55 s, the defaults acknowledge what broker 1
        // alone holds; min.insync.replicas 2 acknowledges nothing.
        let alone = |o: &Outcome| acks_in(o, 50..55);
        assert!(alone(&lost) > 1000, "seed {seed}: {}", alone(&lost));
        assert_eq!(alone(&refused), 0, "seed {seed}");
        let kept = outcome(&flushed, seed);
        assert!(
            kept.violations.is_empty(),
            "seed {seed}: {:?}",
            kept.violations
        );
    }
}

#[test]
fn a_node_drain_stops_the_next_broker_before_the_last_one_caught_up_and_loses_nothing() {
    let drain = scenario(&common::shipped("scenarios/node_drain.toml"));
    for seed in [2, 4] {
        let o = outcome(&drain, seed);
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        assert_eq!(o.stats.records_acked, o.stats.records_sent, "seed {seed}");
        // broker(2) is drained at 26 s, 1 s after broker(1)'s pod came
        // back: some partition is left with an ISR of one broker, below
        // min.insync.replicas, until broker(1) catches up.
        let alone = o.history.events.iter().any(|e| {
            (26 * SECONDS..27 * SECONDS).contains(&e.at)
                && matches!(&e.what, What::PartitionChange { isr, .. } if isr.len() == 1)
        });
        assert!(alone, "seed {seed}: an ISR of one after the second drain");
        // Meanwhile acks=all writes to those partitions are refused and
        // retried: the producers' acknowledgements dip in that second.
        let (dip, steady) = (acks_in(&o, 26..27), acks_in(&o, 20..21));
        assert!(
            dip * 2 < steady,
            "seed {seed}: {dip} acks in second 26, {steady} in second 20"
        );
    }
}
