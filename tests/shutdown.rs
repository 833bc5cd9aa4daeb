//! The `shutdown` fault: Kafka's controlled shutdown (SIGTERM). The
//! controller moves the broker's leaderships and shrinks it out of every
//! ISR before the broker stops; the broker flushes every log and writes the
//! clean shutdown marker, so a power loss after it loses nothing and a
//! restart skips log recovery.

mod common;

use ksim::harness::history::What;
use ksim::harness::{run, Outcome, Process, Run, RunOptions};
use ksim::scenario::Scenario;
use sim::{MILLIS, SECONDS};

fn shipped(file: &str) -> Scenario {
    let text = common::shipped(&format!("scenarios/{file}"));
    ksim::scenario::parse(&text, file).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(text: &str) -> Scenario {
    ksim::scenario::parse(text, "s.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Partitions of `orders` that broker `id` leads, and those whose ISR holds it.
fn roles_of(r: &Run, id: u32) -> (Vec<u32>, Vec<u32>) {
    let image = r.metadata().expect("metadata");
    let topic = &image.topics["orders"];
    let leads = topic
        .partitions
        .iter()
        .filter(|(_, p)| p.leader == Some(id))
        .map(|(&i, _)| i)
        .collect();
    let in_isr = topic
        .partitions
        .iter()
        .filter(|(_, p)| p.isr.contains(&id))
        .map(|(&i, _)| i)
        .collect();
    (leads, in_isr)
}

/// The broker-level shutdown steps `node` went through, in words.
fn shutdown_steps(outcome: &Outcome, node: &str) -> Vec<String> {
    outcome
        .history
        .events
        .iter()
        .filter(|e| e.node == node)
        .filter_map(|e| match &e.what {
            What::Shutdown(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_controlled_shutdown_moves_leadership_before_the_broker_stops() {
    let scenario = shipped("rolling_update.toml");
    for seed in 0..2 {
        let mut r = Run::start(&scenario, seed, &RunOptions::default()).expect("starts");
        r.advance_to(10 * SECONDS);
        let (leads, in_isr) = roles_of(&r, 1);
        assert!(
            !leads.is_empty() && in_isr.len() == 6,
            "seed {seed}: before its SIGTERM broker 1 leads {leads:?} and is in the ISR of {in_isr:?}"
        );
        // Step through the shutdown: while broker 1 still runs, the
        // committed metadata must come to show it leading nothing and in
        // no ISR; only then may it stop.
        let mut moved_while_up = None;
        let mut t = 10 * SECONDS;
        while r.broker_state(1) == Process::Up || t == 10 * SECONDS {
            t += 5 * MILLIS;
            assert!(t < 20 * SECONDS, "seed {seed}: broker 1 never stopped");
            let was_up = r.broker_state(1) == Process::Up;
            r.advance_to(t);
            let (leads, in_isr) = roles_of(&r, 1);
            if was_up && leads.is_empty() && in_isr.is_empty() && moved_while_up.is_none() {
                moved_while_up = Some(t);
            }
        }
        let stopped_at = t;
        let moved = moved_while_up.unwrap_or_else(|| {
            panic!("seed {seed}: broker 1 stopped at {stopped_at} ns still leading or in an ISR")
        });
        assert!(moved < stopped_at, "seed {seed}");
        // It stopped by itself, well before its restart at 20 s, and
        // stays down until then.
        assert!(
            stopped_at < 15 * SECONDS,
            "seed {seed}: stopped at {stopped_at}"
        );
        r.advance_to(19 * SECONDS);
        assert_eq!(r.broker_state(1), Process::Down, "seed {seed}");
        let marker = r
            .broker_disk(1)
            .expect("disk")
            .read_durable(".kafka_cleanshutdown");
        assert!(
            marker.is_some_and(|m| m.starts_with(b"{\"version\":0,\"brokerEpoch\":")),
            "seed {seed}: the clean shutdown marker is durable on broker 1's disk"
        );
        let outcome = r.finish().expect("finishes");
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations.first()
        );
        let steps = shutdown_steps(&outcome, "broker-1");
        assert!(
            steps.iter().any(|s| s.contains("CONTROLLED_SHUTDOWN")),
            "seed {seed}: {steps:?}"
        );
        assert!(
            steps.iter().any(|s| s.contains("shouldShutDown")),
            "seed {seed}: {steps:?}"
        );
    }
}

#[test]
fn the_rolling_update_rolls_each_broker_only_once_every_isr_is_full() {
    let scenario = shipped("rolling_update.toml");
    let rolls: Vec<(u64, u32)> = scenario
        .faults
        .iter()
        .map(|f| {
            let id = match &f.target {
                Some(ksim::scenario::Target::Broker(id)) => *id,
                other => panic!("a broker target, not {other:?}"),
            };
            (f.at_ns, id)
        })
        .collect();
    assert_eq!(rolls.len(), 3);
    for seed in 0..3 {
        let mut r = Run::start(&scenario, seed, &RunOptions::default()).expect("starts");
        for &(at, id) in &rolls {
            r.advance_to(at);
            let image = r.metadata().expect("metadata");
            for (i, p) in &image.topics["orders"].partitions {
                assert_eq!(
                    p.isr.len(),
                    3,
                    "seed {seed}: orders-{i} has ISR {:?} when broker {id} is rolled",
                    p.isr
                );
            }
            assert_eq!(r.broker_state(id), Process::Up, "seed {seed}");
        }
        let outcome = r.finish().expect("finishes");
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations.first()
        );
    }
}

const RESTARTS: &str = r#"
name = "restarts"
duration = "40s"
settle = "20s"
[cluster]
brokers = 3
controllers = 1
[cluster.config]
"min.insync.replicas" = 2
[[topics]]
name = "orders"
partitions = 3
replication_factor = 3
[[producers]]
topic = "orders"
count = 1
rate = "500/s"
config = { acks = "all" }
[[faults]]
at = "10s"
kind = "shutdown"
target = "broker(1)"
restart_after = "5s"
[[faults]]
at = "25s"
kind = "crash"
target = "broker(2)"
restart_after = "5s"
"#;

/// A scenario's text up to its first scripted fault.
fn without_faults(text: &str) -> &str {
    &text[..text.find("[[faults]]").expect("faults")]
}

#[test]
fn a_restart_after_shutdown_skips_recovery_and_one_after_a_crash_recovers() {
    let scenario = parse(RESTARTS);
    for seed in 0..2 {
        let outcome = run(&scenario, seed, &RunOptions::default()).expect("runs");
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations.first()
        );
        let skipped = |node: &str| {
            shutdown_steps(&outcome, node)
                .iter()
                .any(|s| s.contains("found the clean shutdown marker"))
        };
        assert!(
            skipped("broker-1"),
            "seed {seed}: {:?}",
            shutdown_steps(&outcome, "broker-1")
        );
        assert!(
            !skipped("broker-2"),
            "seed {seed}: a crashed broker has no marker"
        );
        // The crashed broker recovered its logs after its restart at 30 s;
        // the shut down one loaded them without recovery at 15 s.
        let loads = |node: &str, from: u64| -> Vec<bool> {
            outcome
                .history
                .events
                .iter()
                .filter(|e| e.node == node && e.at >= from)
                .filter_map(|e| match e.what {
                    What::Recovered { clean, .. } => Some(clean),
                    _ => None,
                })
                .collect()
        };
        let crashed = loads("broker-2", 30 * SECONDS);
        assert!(
            !crashed.is_empty() && crashed.iter().all(|c| !c),
            "seed {seed}: broker-2 recovers after its crash: {crashed:?}"
        );
        let shut = loads("broker-1", 15 * SECONDS);
        assert!(
            !shut.is_empty() && shut.iter().all(|&c| c),
            "seed {seed}: broker-1 loads without recovery: {shut:?}"
        );
        // Broker 1 stopped on its own after flushing; its replicas went
        // down as a shutdown, not a crash.
        let down_by_shutdown = outcome.history.events.iter().any(|e| {
            e.node == "broker-1"
                && matches!(&e.what, What::Down { fault, .. } if fault == "shutdown")
        });
        assert!(down_by_shutdown, "seed {seed}");
    }
    // The marker is gone once the broker booted from it.
    let mut r = Run::start(&scenario, 0, &RunOptions::default()).expect("starts");
    r.advance_to(14 * SECONDS);
    assert_eq!(r.broker_state(1), Process::Down);
    let disk = |r: &Run| {
        r.broker_disk(1)
            .expect("disk")
            .read(".kafka_cleanshutdown")
            .is_some()
    };
    assert!(disk(&r), "written by the shutdown");
    r.advance_to(16 * SECONDS);
    assert_eq!(r.broker_state(1), Process::Up);
    assert!(!disk(&r), "removed by the boot that found it");
}

#[test]
fn a_power_loss_after_a_shutdown_loses_nothing_acknowledged_and_after_a_crash_it_does() {
    let text = common::shipped("scenarios/shutdown_power_loss.toml");
    let shutdown = parse(&text);
    for seed in 0..3 {
        let outcome = run(&shutdown, seed, &RunOptions::default()).expect("runs");
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations.first()
        );
        assert!(outcome.stats.records_acked > 10_000, "seed {seed}");
    }
    // The same with a crash instead: the power loss drops what the page
    // cache held, acknowledged writes with it.
    assert!(text.contains("kind = \"shutdown\""));
    let crash = parse(&text.replace("kind = \"shutdown\"", "kind = \"crash\""));
    let outcome = run(&crash, 0, &RunOptions::default()).expect("runs");
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.invariant == "acked_writes_durable"),
        "a crash before the power loss loses acknowledged writes"
    );
}

#[test]
fn without_controlled_shutdown_the_broker_stops_at_once_and_is_fenced_by_session_expiry() {
    // Broker 1 comes back only after its session (9 s) expired.
    let text = RESTARTS
        .replace(
            "\"min.insync.replicas\" = 2",
            "\"min.insync.replicas\" = 2\n\"controlled.shutdown.enable\" = false",
        )
        .replacen("restart_after = \"5s\"", "restart_after = \"12s\"", 1);
    let scenario = parse(&text);
    let mut r = Run::start(&scenario, 0, &RunOptions::default()).expect("starts");
    r.advance_to(10 * SECONDS);
    let (leads, _) = roles_of(&r, 1);
    assert!(!leads.is_empty());
    r.advance_to(10 * SECONDS + 500 * MILLIS);
    assert_eq!(r.broker_state(1), Process::Down, "stopped without waiting");
    let (leads_after, _) = roles_of(&r, 1);
    assert_eq!(leads_after, leads, "nobody moved its leaderships");
    let outcome = r.finish().expect("finishes");
    let steps = shutdown_steps(&outcome, "broker-1");
    assert!(
        !steps.iter().any(|s| s.contains("CONTROLLED_SHUTDOWN")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains("found the clean shutdown marker")),
        "still flushed and marked: {steps:?}"
    );
    let fenced = outcome.control_events.iter().any(|(at, e)| {
        (18 * SECONDS..21 * SECONDS).contains(at)
            && matches!(
                e,
                ksim::controller::active::ControlEvent::Fenced { broker: 1 }
            )
    });
    assert!(fenced, "the controller fenced it when its session expired");
}

#[test]
fn a_broker_cut_off_from_the_controllers_stops_after_five_minutes() {
    let text = r#"
name = "cut_off"
duration = "400s"
settle = "10s"
[cluster]
brokers = 3
controllers = 1
[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
[[faults]]
at = "10s"
kind = "partition"
groups = [["broker(1)"], ["controller(1)"]]
[[faults]]
at = "11s"
kind = "shutdown"
target = "broker(1)"
"#;
    let scenario = parse(text);
    let mut r = Run::start(&scenario, 0, &RunOptions::default()).expect("starts");
    r.advance_to(11 * SECONDS + 300 * SECONDS - 100 * MILLIS);
    assert_eq!(
        r.broker_state(1),
        Process::Up,
        "still waiting for shouldShutDown"
    );
    r.advance_to(11 * SECONDS + 300 * SECONDS + 500 * MILLIS);
    assert_eq!(r.broker_state(1), Process::Down, "gave up after 5 minutes");
    let outcome = r.finish().expect("finishes");
    let steps = shutdown_steps(&outcome, "broker-1");
    assert!(
        steps.iter().any(|s| s.contains("timed out waiting")),
        "{steps:?}"
    );
}

#[test]
fn a_shutdown_is_refused_on_a_controller_or_a_client() {
    let base = common::shipped("scenarios/rolling_update.toml");
    for target in [
        "controller(1)",
        "controller(active)",
        "producer(0)",
        "consumer(billing, 0)",
    ] {
        let text = base.replacen(
            "target = \"broker(1)\"",
            &format!("target = \"{target}\""),
            1,
        );
        let err = common::refused("shutdown", "refused", &text);
        assert!(
            err.contains("s.toml:") && err.contains("faults[0].target"),
            "{target}: {err}"
        );
        assert!(
            err.contains(&format!("{target} is not a broker")) && err.contains("valid: broker(N)"),
            "{target}: {err}"
        );
    }
    for target in [
        "leader(orders-0)",
        "followers(orders-1)",
        "random_broker",
        "all_brokers",
    ] {
        let text = base.replacen(
            "target = \"broker(1)\"",
            &format!("target = \"{target}\""),
            1,
        );
        ksim::scenario::parse(&text, "s.toml").unwrap_or_else(|e| panic!("{target}: {e}"));
    }
    // The ZooKeeper-only retry configs stay refused, with the reason.
    let text = base.replace(
        "\"min.insync.replicas\" = 2",
        "\"min.insync.replicas\" = 2\n\"controlled.shutdown.max.retries\" = 3",
    );
    let err = common::refused("shutdown", "retries", &text);
    assert!(err.contains("ZooKeeper mode only"), "{err}");
}

#[test]
fn swarm_shutdowns_hit_brokers_only() {
    // The restarts cluster with random shutdowns (6 a simulated minute)
    // instead of its scripted faults.
    let text = format!(
        "{}[swarm]\nshutdown = 6.0\n",
        without_faults(RESTARTS)
            .replace("duration = \"40s\"", "duration = \"60s\"")
            .replace("settle = \"20s\"", "settle = \"30s\"")
            .replace("controllers = 1", "controllers = 3")
    );
    let scenario = parse(&text);
    for seed in 0..2 {
        let outcome = run(&scenario, seed, &RunOptions::default()).expect("runs");
        let shutdowns: Vec<&str> = outcome
            .faults
            .iter()
            .filter(|f| f.kind == "shutdown")
            .map(|f| f.target.as_str())
            .collect();
        assert!(!shutdowns.is_empty(), "seed {seed}: shutdowns drawn");
        assert!(
            shutdowns.iter().all(|t| t.starts_with("broker-")),
            "seed {seed}: {shutdowns:?}"
        );
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}: {:?}",
            outcome.violations.first()
        );
    }
}

#[test]
fn a_broker_still_shutting_down_when_the_faults_end_is_restarted_by_the_settle_phase() {
    // The SIGTERM comes 10 ms before the fault phase ends: the controller's
    // shouldShutDown comes after it, so the broker would stop for good.
    let text = format!(
        "{}[[faults]]\nat = \"39.99s\"\nkind = \"shutdown\"\ntarget = \"leader(orders-0)\"\n",
        without_faults(RESTARTS)
    );
    let scenario = parse(&text);
    let outcome = run(&scenario, 0, &RunOptions::default()).expect("runs");
    assert!(
        outcome.violations.is_empty(),
        "{:?}",
        outcome.violations.first()
    );
    let shut = outcome
        .faults
        .iter()
        .find(|f| f.kind == "shutdown")
        .expect("the shutdown ran");
    let restarted = outcome
        .faults
        .iter()
        .any(|f| f.settle && f.kind == "restart" && f.target == shut.target);
    assert!(restarted, "the settle phase restarted {}", shut.target);
}
