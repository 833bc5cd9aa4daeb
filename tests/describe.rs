//! `ksim describe`: the cluster at a moment, in the layouts of Kafka's tools.
//! The views must show that moment (a leader crashed at 10 s is down at
//! 12 s, and replaced once the controller fences it), agree with the run's
//! own final report, and say what is valid when asked for a bad moment.

mod common;

use std::path::Path;
use std::process::Output;

/// `ksim ARGS` in the repository (describe writes nothing).
fn ksim(args: &[&str]) -> Output {
    common::ksim(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn describe(at: &str, view: &str) -> String {
    let out = ksim(&[
        "describe",
        "scenarios/broker_crash.toml",
        "--seed",
        "42",
        "--at",
        at,
        view,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `Topic: orders Partition: 0` line of a topics view.
fn partition_0(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("Topic: orders\tPartition: 0\t"))
        .unwrap_or_else(|| panic!("no partition 0 line in\n{text}"))
        .to_owned()
}

#[test]
fn topics_follow_the_crash_of_the_leader() {
    // broker_crash seed 42: broker 1 leads orders-0, crashes at 10 s and
    // restarts at 15 s; the controller fences it at 18.5 s and elects broker 2.
    let before = describe("9s", "topics");
    assert!(partition_0(&before).contains("Leader: 1\t"), "{before}");
    let down = describe("12s", "topics");
    assert!(
        down.lines()
            .any(|l| l.starts_with("orders-0 ") && l.contains(" 1 ") && l.contains("down")),
        "broker 1's replica of orders-0 is down at 12s:\n{down}"
    );
    let after = describe("20s", "topics");
    assert!(partition_0(&after).contains("Leader: 2\t"), "{after}");
    assert!(partition_0(&after).contains("Isr: 2,3"), "{after}");
    insta::assert_snapshot!("describe_topics_20s", after);
}

#[test]
fn topics_at_the_end_are_the_run_reports_topics() {
    let end = describe("90s", "topics");
    let run = ksim(&[
        "run",
        "scenarios/broker_crash.toml",
        "--seed",
        "42",
        "--out",
        env!("CARGO_TARGET_TMPDIR"),
    ]);
    let report = String::from_utf8_lossy(&run.stdout).into_owned();
    let kafka_topics: Vec<&str> = end.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert!(kafka_topics.len() >= 4, "{end}");
    for line in kafka_topics {
        assert!(
            report.contains(line),
            "{line:?} not in the run's report:\n{report}"
        );
    }
}

#[test]
fn groups_and_quorum_views() {
    let groups = describe("30s", "groups");
    let header = "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG";
    assert!(
        groups.lines().nth(1).unwrap_or("").starts_with(header),
        "{groups}"
    );
    assert_eq!(
        groups.lines().filter(|l| l.starts_with("billing ")).count(),
        3,
        "{groups}"
    );
    let quorum = describe("30s", "quorum");
    for key in [
        "LeaderId:",
        "LeaderEpoch:",
        "HighWatermark:",
        "MaxFollowerLag:",
        "CurrentVoters:          [3001, 3002, 3003]",
    ] {
        assert!(quorum.contains(key), "{key} missing:\n{quorum}");
    }
    let leaders = quorum.lines().filter(|l| l.ends_with("  Leader")).count();
    assert_eq!(leaders, 1, "{quorum}");
    assert_eq!(
        quorum.lines().filter(|l| l.ends_with("Observer")).count(),
        3,
        "{quorum}"
    );
    insta::assert_snapshot!("describe_quorum_30s", quorum);
}

#[test]
fn same_moment_same_view() {
    assert_eq!(describe("33s", "topics"), describe("33s", "topics"));
}

#[test]
fn bad_moments_say_what_is_valid() {
    let out = ksim(&[
        "describe",
        "scenarios/broker_crash.toml",
        "--at",
        "2h",
        "topics",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("valid: 0s to 90s"), "{err}");
    let out = ksim(&[
        "describe",
        "scenarios/broker_crash.toml",
        "--at",
        "soon",
        "topics",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid duration"));
    let out = ksim(&["describe", "scenarios/broker_crash.toml", "brokers"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("topics, groups, quorum"));
}

#[test]
fn transactions_show_a_zombies_transaction_open_then_aborted_by_its_coordinator() {
    let view = |at: &str| {
        let out = ksim(&[
            "describe",
            "scenarios/zombie_producer.toml",
            "--seed",
            "0",
            "--at",
            at,
            "transactions",
        ]);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let row = |text: &str, id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no {id} in\n{text}"))
            .to_owned()
    };
    // producer-0 (pay-0) pauses at 10 s mid-transaction; its timeout is 10 s
    // and the coordinator checks every 10 s: by 25 s it has aborted it and
    // bumped the epoch (under transactions v2, the scenario's default, every
    // EndTxn bumps it too: the epoch is compared, not named).
    let epoch = |row: &str| -> i16 {
        row.split_whitespace()
            .nth(3)
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("an epoch in {row}"))
    };
    let paused = view("15s");
    let open = row(&paused, "pay-0");
    assert!(open.contains(" Ongoing "), "{paused}");
    let aborted = view("25s");
    let pay0 = row(&aborted, "pay-0");
    assert!(pay0.contains(" CompleteAbort "), "{aborted}");
    assert!(
        epoch(&pay0) > epoch(&open),
        "epoch bumped: {open} -> {pay0}"
    );
    assert!(aborted.starts_with(
        "# scenarios/zombie_producer.toml --seed 0 at 25s\nCoordinatorId  TransactionalId"
    ));
    insta::assert_snapshot!("describe_transactions_15s", paused);
}
