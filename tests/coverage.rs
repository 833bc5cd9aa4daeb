//! Coverage: each run counts the protocol states it reached, and a sweep
//! reports how many seeds reached each one, naming those it never reached.

use std::path::Path;

use ksim::explore::{ExploreReport, SeedRange};
use ksim::harness::{run, RunOptions};
use ksim::report::Summary;

fn load(file: &str) -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn reached(o: &ksim::harness::Outcome, state: &str) -> u64 {
    *o.coverage
        .get(state)
        .unwrap_or_else(|| panic!("{state} is not counted"))
}

#[test]
fn a_power_loss_that_drops_acked_data_is_counted_and_fsync_per_message_prevents_it() {
    let scenario = load("anomalies/last_replica_power_loss.toml");
    let o = run(&scenario, 0, &RunOptions::default()).expect("runs");
    assert!(reached(&o, "power_losses_dropping_acked_data") >= 1);
    assert!(reached(&o, "offline_partitions") >= 1);
    assert!(reached(&o, "fenced_brokers") >= 1);
    // With every message flushed, the same power loss drops nothing acked.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/anomalies/last_replica_power_loss.toml"),
    )
    .expect("reads");
    let flushed = text.replacen(
        "[cluster.config]",
        "[cluster.config]\n\"log.flush.interval.messages\" = 1",
        1,
    );
    assert_ne!(flushed, text, "the scenario has a [cluster.config] table");
    let scenario =
        ksim::scenario::parse(&flushed, "flushed.toml").unwrap_or_else(|e| panic!("{e}"));
    let o = run(&scenario, 0, &RunOptions::default()).expect("runs");
    assert_eq!(reached(&o, "power_losses_dropping_acked_data"), 0);
}

#[test]
fn elections_and_zombie_commits_are_counted_where_they_happen() {
    let o = run(&load("unclean_election.toml"), 0, &RunOptions::default()).expect("runs");
    assert!(reached(&o, "unclean_elections") >= 1);
    assert!(reached(&o, "leader_elections") >= reached(&o, "unclean_elections"));
    let o = run(&load("zombie_consumer.toml"), 0, &RunOptions::default()).expect("runs");
    assert!(reached(&o, "fenced_zombie_commits") >= 1);
    assert!(reached(&o, "rebalances") >= 1);
    // No broker fault in that scenario: no election after the topic's creation.
    assert_eq!(reached(&o, "leader_elections"), 0);
    assert_eq!(reached(&o, "truncations"), 0);
}

#[test]
fn a_sweep_counts_seeds_per_state_and_names_what_it_never_reached() {
    let scenario = load("unclean_election.toml");
    let results: Vec<Summary> = (0..3)
        .map(|seed| {
            let o = run(&scenario, seed, &RunOptions::default()).expect("runs");
            Summary::of(&scenario.name, "s.toml", seed, &o)
        })
        .collect();
    let total: u64 = results
        .iter()
        .map(|r| r.coverage["unclean_elections"])
        .sum();
    let report = ExploreReport::new(
        &scenario.name,
        "s.toml",
        "0..3".parse::<SeedRange>().expect("range"),
        results,
    );
    let c = report.coverage["unclean_elections"];
    assert_eq!((c.seeds, c.total), (3, total));
    assert_eq!(report.coverage["fenced_zombie_commits"].seeds, 0);
    let table = report.table_with("test");
    assert!(
        table.contains("coverage (seeds that reached each state, of 3)"),
        "{table}"
    );
    assert!(
        table.contains("fenced_zombie_commits                   0  never reached"),
        "{table}"
    );
}
