//! `--liveness`: the settle phase heals only a core the seed draws (a
//! majority of the controllers, brokers serving every partition); the rest
//! stays down for good, and the core must converge.

mod common;

use std::path::Path;

use common::{ksim, stdout};
use ksim::harness::{run, RunOptions, TestMutations};

fn scenario(file: &str) -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("scenario");
    ksim::scenario::parse(&text, file).expect("parses")
}

fn liveness() -> RunOptions {
    RunOptions {
        liveness: true,
        ..RunOptions::default()
    }
}

#[test]
fn the_core_is_a_controller_majority_and_the_rest_goes_down_for_good() {
    let s = scenario("transactions.toml");
    for seed in [1, 2] {
        let o = run(&s, seed, &liveness()).expect("runs");
        let core = o
            .liveness
            .as_ref()
            .expect("a liveness run reports its core");
        let controllers = core
            .core
            .iter()
            .filter(|n| n.starts_with("controller-"))
            .count();
        assert_eq!(controllers, 2, "a majority of 3: {:?}", core.core);
        let brokers: Vec<&String> = core
            .core
            .iter()
            .filter(|n| n.starts_with("broker-"))
            .collect();
        // payments has min.insync.replicas 2: fewer core brokers could
        // never take an acks=all write.
        assert!(brokers.len() >= 2, "{:?}", core.core);
        // Every server outside the core went down at the end of the fault
        // phase and never came back.
        let settle_ns = s.duration_ns;
        for server in [
            "controller-1",
            "controller-2",
            "controller-3",
            "broker-1",
            "broker-2",
            "broker-3",
        ] {
            let later: Vec<&str> = o
                .faults
                .iter()
                .filter(|f| f.at_ns >= settle_ns && f.target == server)
                .map(|f| f.kind.as_str())
                .collect();
            if core.core.iter().any(|n| n == server) {
                assert!(
                    !later.contains(&"crash"),
                    "{server} is in the core: {later:?}"
                );
            } else {
                assert!(
                    !later.contains(&"restart"),
                    "{server} is outside the core: {later:?}"
                );
            }
        }
        // The same seed draws the same core and runs the same.
        let again = run(&s, seed, &liveness()).expect("runs");
        assert_eq!(again.trace_hash, o.trace_hash);
        assert_eq!(again.liveness, o.liveness);
    }
}

#[test]
fn the_core_converges_or_the_checks_say_so() {
    let s = scenario("broker_crash.toml");
    let o = run(&s, 3, &liveness()).expect("runs");
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    let core = o.liveness.expect("core");
    assert!(core.unavailable.is_empty(), "{:?}", core.unavailable);
    // A coordinator that never writes its markers leaves transactions
    // hanging: the core does not converge, and the end checks fire.
    let t = scenario("transactions.toml");
    let broken = RunOptions {
        mutations: TestMutations {
            drop_txn_markers: true,
            ..TestMutations::default()
        },
        ..liveness()
    };
    let seed = (0..20)
        .find(|&seed| {
            run(&t, seed, &liveness())
                .expect("runs")
                .liveness
                .is_some_and(|l| l.unavailable.is_empty())
        })
        .expect("a seed whose core serves every partition");
    let o = run(&t, seed, &broken).expect("runs");
    assert!(
        o.violations
            .iter()
            .any(|v| v.invariant == "eventually_available"),
        "seed {seed}: {:?}",
        o.violations
            .iter()
            .map(|v| &v.invariant)
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_run_json_and_the_replay_command_carry_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("liveness_json");
    let out = ksim(
        root,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "3",
            "--liveness",
            "--format",
            "json",
            "--out",
            dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let core = json["liveness"]["core"].as_array().expect("liveness.core");
    assert!(core
        .iter()
        .any(|n| n.as_str().is_some_and(|n| n.starts_with("broker-"))));
    // ksim replay re-runs it in liveness mode: the same trace hash.
    let record = dir.join("broker_crash").join("seed-3.json");
    let out = ksim(root, &["replay", record.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("matches"));
}
