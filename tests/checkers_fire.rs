//! Every checker is shown to fire: a deliberately broken kernel (a test-only
//! mutation) must be caught within a bounded number of seeds, and the same
//! scenarios pass on the real kernel.

use ksim::controller::raft::RaftMutations;
use ksim::harness::{run, RunOptions, TestMutations};
use sim::Mutations;

fn scenario(name: &str) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// First seed in 0..limit whose run, with a kernel bug, reports `invariant`.
fn first_failing_seed(file: &str, kernel: Mutations, invariant: &str, limit: u64) -> Option<u64> {
    let mutations = TestMutations {
        kernel,
        ..TestMutations::default()
    };
    first_failing_seed_with(file, mutations, invariant, limit)
}

/// First seed in 0..limit whose run reports `invariant`.
fn first_failing_seed_with(
    file: &str,
    mutations: TestMutations,
    invariant: &str,
    limit: u64,
) -> Option<u64> {
    let s = scenario(file);
    let options = RunOptions {
        mutations,
        ..RunOptions::default()
    };
    (0..limit).find(|&seed| {
        run(&s, seed, &options)
            .expect("runs")
            .violations
            .iter()
            .any(|v| v.invariant == invariant)
    })
}

#[test]
fn fsync_durable_fires_when_fsync_lies() {
    let broken = Mutations {
        fsync_lies: true,
        ..Mutations::default()
    };
    let seed = first_failing_seed("leader_power_loss.toml", broken, "fsync_durable", 20);
    assert!(
        seed.is_some(),
        "a lying fsync must be caught by a power loss"
    );
    // The honest kernel passes the same seeds.
    assert_eq!(
        first_failing_seed(
            "leader_power_loss.toml",
            Mutations::default(),
            "fsync_durable",
            20
        ),
        None
    );
}

#[test]
fn link_fifo_fires_when_links_reorder() {
    let broken = Mutations {
        reorder_links: true,
        ..Mutations::default()
    };
    let seed = first_failing_seed("broker_crash.toml", broken, "link_fifo", 20);
    assert!(seed.is_some(), "reordering links must be caught");
    assert_eq!(
        first_failing_seed("broker_crash.toml", Mutations::default(), "link_fifo", 20),
        None
    );
}

#[test]
fn swarm_runs_pass_on_the_real_kernel() {
    let s = scenario("swarm.toml");
    for seed in 0..10 {
        let out = run(&s, seed, &RunOptions::default()).expect("runs");
        assert!(!out.faults.is_empty(), "seed {seed}: swarm drew faults");
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
    }
}

#[test]
fn controller_failover_passes_on_the_real_quorum() {
    let s = scenario("controller_failover.toml");
    for seed in 0..20 {
        let out = run(&s, seed, &RunOptions::default()).expect("runs");
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
        let crashed: Vec<&str> = out
            .faults
            .iter()
            .filter(|f| f.kind == "crash")
            .map(|f| f.target.as_str())
            .collect();
        assert!(
            crashed.len() >= 2 && crashed.iter().all(|t| t.starts_with("controller-")),
            "seed {seed}: controller(active) resolved to a live leader each time: {crashed:?}"
        );
        // After settling the quorum has one leader that the others follow.
        let leaders: Vec<_> = out.quorum.iter().filter(|c| c.state == "Leader").collect();
        assert_eq!(leaders.len(), 1, "seed {seed}: {:?}", out.quorum);
        assert!(out.quorum.iter().all(|c| c.high_watermark > 0));
    }
}

#[test]
fn quorum_checkers_fire_on_a_broken_raft_in_a_scenario_run() {
    for (raft, invariant_hint) in [
        (
            RaftMutations {
                commit_on_minority: true,
                ..RaftMutations::default()
            },
            "commit_on_minority",
        ),
        (
            RaftMutations {
                vote_without_log_check: true,
                ..RaftMutations::default()
            },
            "vote_without_log_check",
        ),
    ] {
        let mutations = TestMutations {
            raft,
            ..TestMutations::default()
        };
        let s = scenario("controller_failover.toml");
        let options = RunOptions {
            mutations,
            ..RunOptions::default()
        };
        let caught = (0..100).find(|&seed| {
            run(&s, seed, &options)
                .expect("runs")
                .violations
                .iter()
                .any(|v| {
                    v.invariant == "raft_log_consistent"
                        || v.invariant == "monotonic_high_watermark"
                })
        });
        eprintln!("{invariant_hint}: first caught at seed {caught:?}");
        assert!(caught.is_some(), "{invariant_hint} not caught in 100 seeds");
    }
}
