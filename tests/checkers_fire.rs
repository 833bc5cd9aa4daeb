//! Every checker is shown to fire: a deliberately broken kernel (a test-only
//! mutation) must be caught within a bounded number of seeds, and the same
//! scenarios pass on the real kernel.

use ksim::harness::{run, RunOptions};
use sim::Mutations;

fn scenario(name: &str) -> ksim::scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// First seed in 0..limit whose run reports `invariant`.
fn first_failing_seed(
    file: &str,
    mutations: Mutations,
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
