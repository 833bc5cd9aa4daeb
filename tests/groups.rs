//! Consumer groups end to end: the anomaly scenarios show what Kafka users
//! meet (a zombie's fenced commit, records an at-most-once consumer loses),
//! and every group checker is shown firing on a broken variant: a consumer
//! or coordinator with a deliberate bug, or a processing mode that does not
//! give the guarantee asked of it.

use ksim::client::consumer::ConsumerMutations;
use ksim::harness::{run, Outcome, RunOptions, TestMutations};

fn load(file: &str, edit: Option<(&str, &str)>) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut text = std::fs::read_to_string(&path).expect("scenario file");
    if let Some((from, to)) = edit {
        assert!(text.contains(from), "{file} has {from}");
        text = text.replace(from, to);
    }
    ksim::scenario::parse(&text, file).unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &ksim::scenario::Scenario, seed: u64, mutations: TestMutations) -> Outcome {
    let options = RunOptions {
        mutations,
        ..RunOptions::default()
    };
    run(s, seed, &options).expect("runs")
}

fn violated(o: &Outcome, invariant: &str) -> bool {
    o.violations.iter().any(|v| v.invariant == invariant)
}

/// The first seed below `budget` whose run violates `invariant`.
fn first(
    s: &ksim::scenario::Scenario,
    invariant: &str,
    budget: u64,
    mutations: TestMutations,
) -> Option<u64> {
    (0..budget).find(|&seed| violated(&outcome(s, seed, mutations), invariant))
}

#[test]
fn a_zombies_commit_is_fenced_and_its_reprocessing_counted_not_lost() {
    let s = load("zombie_consumer.toml", None);
    // Seeds whose pause lands while the member processes a poll (seeds 1
    // and 5 land between two polls, with a commit in flight: on waking the
    // member learns it was removed before it has anything to commit).
    for seed in [0, 2] {
        let o = outcome(&s, seed, TestMutations::default());
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        let g = &o.stats.groups[0];
        assert_eq!(g.group, "billing");
        assert!(g.fenced_commits >= 1, "seed {seed}: {g:?}");
        let fenced = g
            .duplicate_causes
            .iter()
            .find(|(cause, _)| cause.contains("fenced"))
            .map_or(0, |(_, n)| *n);
        assert!(fenced > 0, "seed {seed}: {g:?}");
        assert!(g.duplicates >= fenced);
        // The group moved on without the zombie and back with it.
        assert!(g.generations >= 2, "seed {seed}: {g:?}");
    }
}

#[test]
fn at_most_once_loses_records_on_a_crash_and_at_least_once_does_not() {
    let broken = load("at_most_once_crash.toml", None);
    let seed = first(
        &broken,
        "processed_at_least_once",
        5,
        TestMutations::default(),
    );
    assert!(
        seed.is_some(),
        "at-most-once must lose records to the crash"
    );
    let o = outcome(&broken, seed.unwrap(), TestMutations::default());
    assert!(
        !violated(&o, "processed_at_most_once"),
        "{:?}",
        o.violations
    );
    let detail = &o
        .violations
        .iter()
        .find(|v| v.invariant == "processed_at_least_once")
        .unwrap()
        .detail;
    assert!(detail.contains("committed offset"), "{detail}");

    let fixed = load(
        "at_most_once_crash.toml",
        Some((
            "processing = \"at-most-once\"",
            "processing = \"at-least-once\"",
        )),
    );
    for seed in 0..3 {
        let o = outcome(&fixed, seed, TestMutations::default());
        assert!(
            !violated(&o, "processed_at_least_once"),
            "seed {seed}: {:?}",
            o.violations
        );
    }
}

/// At-least-once processing does not give at-most-once: asked for it
/// explicitly, the zombie's reprocessing is a violation.
#[test]
fn processed_at_most_once_fires_when_asked_of_an_at_least_once_group() {
    let s = load(
        "zombie_consumer.toml",
        Some((
            "resume_after = \"20s\"",
            "resume_after = \"20s\"\n\n[check]\ninvariants = [\"processed_at_most_once\"]",
        )),
    );
    let o = outcome(&s, 0, TestMutations::default());
    assert!(violated(&o, "processed_at_most_once"), "{:?}", o.violations);
    assert!(o.checked.iter().any(|c| c == "processed_at_most_once"));
    assert!(!o.checked.iter().any(|c| c == "processed_at_least_once"));
}

fn consumer_bug(m: ConsumerMutations) -> TestMutations {
    TestMutations {
        consumer: m,
        ..TestMutations::default()
    }
}

#[test]
fn exclusive_assignment_fires_when_a_consumer_keeps_revoked_partitions() {
    let s = load("consumer_crash.toml", None);
    let bug = consumer_bug(ConsumerMutations {
        ignore_revocation: true,
        ..ConsumerMutations::default()
    });
    assert!(first(&s, "exclusive_assignment", 3, bug).is_some());
    assert!(!violated(
        &outcome(&s, 0, TestMutations::default()),
        "exclusive_assignment"
    ));
}

#[test]
fn no_poll_skip_fires_when_a_consumer_skips_past_its_position() {
    let s = load("consumer_crash.toml", None);
    let bug = consumer_bug(ConsumerMutations {
        skip_after_position: true,
        ..ConsumerMutations::default()
    });
    let o = outcome(&s, 0, bug);
    assert!(violated(&o, "no_poll_skip"), "{:?}", o.violations);
    // Every skipped record is one no member processed.
    assert!(
        violated(&o, "processed_at_least_once"),
        "{:?}",
        o.violations
    );
}

#[test]
fn monotonic_poll_fires_when_a_consumer_polls_a_record_again() {
    let s = load("consumer_crash.toml", None);
    let bug = consumer_bug(ConsumerMutations {
        repeat_last_record: true,
        ..ConsumerMutations::default()
    });
    let o = outcome(&s, 0, bug);
    assert!(violated(&o, "monotonic_poll"), "{:?}", o.violations);
}

#[test]
fn committed_offsets_survive_coordinator_failover_and_the_checker_sees_them_lost() {
    let s = load("coordinator_failover.toml", None);
    let o = outcome(&s, 0, TestMutations::default());
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let crashed = o
        .faults
        .iter()
        .find(|f| f.kind == "crash" && f.target.starts_with("broker-"))
        .expect("the coordinator's broker crashed");
    assert_eq!(crashed.at_ns, 22 * sim::SECONDS);
    // At the end the group has committed every partition up to the log end.
    let g = &o.groups[0];
    assert_eq!(g.committed.len(), 6, "{g:?}");
    for (tp, offset) in &g.committed {
        assert_eq!(Some(offset), g.log_end.get(tp), "{tp}");
    }
    // A coordinator that forgets the committed offsets when it loads the
    // partition hands out older positions.
    let forgetful = TestMutations {
        forget_offsets_on_load: true,
        ..TestMutations::default()
    };
    let seed = first(&s, "committed_offsets_monotonic", 3, forgetful);
    assert!(seed.is_some(), "a forgetful coordinator must be caught");
}

/// Two auto-committing members; one leaves at 12 s by `kind` and stays away
/// until the settle phase restarts it at 20 s. Sessions last 45 s.
fn leave_scenario(kind: &str) -> ksim::scenario::Scenario {
    let text = format!(
        r#"name = "leave"
duration = "20s"
settle = "45s"
[cluster]
brokers = 3
controllers = 3
[cluster.config]
"offsets.topic.num.partitions" = 3
[[topics]]
name = "orders"
partitions = 4
replication_factor = 3
[[producers]]
topic = "orders"
rate = "200/s"
keys = 50
config = {{ acks = "all" }}
[[consumers]]
topic = "orders"
group = "billing"
count = 2
processing = "at-least-once"
processing_time = "5ms"
config = {{ "enable.auto.commit" = true, "auto.commit.interval.ms" = 5000, "auto.offset.reset" = "earliest" }}
[[faults]]
at = "12s"
kind = "{kind}"
target = "consumer(billing, 1)"
"#
    );
    ksim::scenario::parse(&text, "leave.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_closed_consumer_leaves_at_once_with_its_position_committed() {
    for seed in 0..2 {
        let closed = outcome(&leave_scenario("close"), seed, TestMutations::default());
        assert!(
            closed.violations.is_empty(),
            "seed {seed}: {:?}",
            closed.violations
        );
        assert!(closed.faults.iter().any(|f| f.kind == "close"));
        let g = &closed.stats.groups[0];
        // LeaveGroup rebalances at once (the survivor takes every partition
        // from the committed position: nothing is processed twice), and the
        // settle phase's restart joins again: three generations.
        assert_eq!(g.duplicates, 0, "seed {seed}: {g:?}");
        assert!(g.generations >= 3, "seed {seed}: {g:?}");
        // A crash sends no LeaveGroup: its partitions wait for its 45 s
        // session to expire (at about 57 s; the restart's join waits for it
        // too), so there is one rebalance fewer, and
        // what it had processed since its last auto commit is processed again.
        let crashed = outcome(&leave_scenario("crash"), seed, TestMutations::default());
        let c = &crashed.stats.groups[0];
        assert!(c.generations < g.generations, "seed {seed}: {c:?} vs {g:?}");
        assert!(c.duplicates > 0, "seed {seed}: {c:?}");
    }
}

#[test]
fn without_transactions_read_committed_consumers_read_what_read_uncommitted_ones_read() {
    // No producer is transactional, so the last stable offset is the high
    // watermark: the two isolation levels must give the same run.
    let from = "\"max.poll.records\" = 100 }";
    let uncommitted = load("zombie_consumer.toml", None);
    let committed = load(
        "zombie_consumer.toml",
        Some((
            from,
            "\"max.poll.records\" = 100, \"isolation.level\" = \"read_committed\" }",
        )),
    );
    let a = outcome(&uncommitted, 0, TestMutations::default());
    let b = outcome(&committed, 0, TestMutations::default());
    assert_eq!(a.events, b.events);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.violations.len(), b.violations.len());
    assert!(b.stats.records_consumed > 0);
}

/// Three members with 45 s sessions. Member 0 stalls at 20 s (a pause of
/// 50 s); member 1 crashes at 21 s and rejoins 1 s later as a new member,
/// which starts a rebalance. The coordinator holds the JoinGroups of the
/// members that rejoined until member 0's session expires (about 65 s),
/// longer than `request.timeout.ms` (30 s).
fn held_join_scenario() -> ksim::scenario::Scenario {
    let text = r#"name = "held_join"
duration = "70s"
settle = "20s"
[cluster]
brokers = 3
controllers = 3
[[topics]]
name = "orders"
partitions = 3
replication_factor = 3
[[producers]]
topic = "orders"
rate = "50/s"
keys = 10
config = { acks = "all" }
[[consumers]]
topic = "orders"
group = "billing"
count = 3
config = { "enable.auto.commit" = false, "auto.offset.reset" = "earliest" }
[[faults]]
at = "20s"
kind = "pause"
target = "consumer(billing, 0)"
resume_after = "50s"
[[faults]]
at = "21s"
kind = "crash"
target = "consumer(billing, 1)"
restart_after = "1s"
"#;
    ksim::scenario::parse(text, "held_join.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_join_group_the_coordinator_holds_is_awaited_for_the_rebalance_timeout() {
    // Kafka's AbstractCoordinator.sendJoinGroupRequest waits
    // max(request.timeout.ms, rebalance timeout + 5 s) for the answer: the
    // coordinator may hold a JoinGroup for the whole rebalance.
    let s = held_join_scenario();
    let trace = std::env::temp_dir().join(format!("ksim-held-join-{}.jsonl", std::process::id()));
    let options = RunOptions {
        trace: Some(trace.clone()),
        ..RunOptions::default()
    };
    let o = run(&s, 1, &options).expect("runs");
    let text = std::fs::read_to_string(&trace).expect("trace written");
    let _ = std::fs::remove_file(&trace);
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    // (time in seconds, request or response) of consumer-billing-2's JoinGroups.
    let mut joins: Vec<(f64, bool)> = Vec::new();
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if e["event"] != "deliver" || !e["msg"].as_str().unwrap_or("").contains("JoinGroup") {
            continue;
        }
        let at = e["t_ns"].as_u64().expect("t_ns") as f64 / 1e9;
        if e["from"] == "consumer-billing-2" {
            joins.push((at, true));
        } else if e["to"] == "consumer-billing-2" {
            joins.push((at, false));
        }
    }
    // The rebalance member 1's return starts: member 2 joins once and is
    // answered when member 0's session expires, over 30 s later.
    let held: Vec<&(f64, bool)> = joins
        .iter()
        .filter(|(at, _)| (22.0..68.0).contains(at))
        .collect();
    assert_eq!(held.len(), 2, "one JoinGroup and its answer: {joins:?}");
    let (sent, answered) = (held[0], held[1]);
    assert!(sent.1 && !answered.1, "{joins:?}");
    assert!(
        answered.0 - sent.0 > 30.0,
        "held {} s: {joins:?}",
        answered.0 - sent.0
    );
}
