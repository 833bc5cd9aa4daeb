//! Same scenario + same seed = the same run; different seeds = different runs.

use std::path::Path;

use ksim::harness::{run, RunOptions};

fn scenarios() -> Vec<(String, ksim::scenario::Scenario)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = [root.clone(), root.join("anomalies")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).expect("scenarios/ and scenarios/anomalies/ exist"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "the shipped scenarios are all here: {files:?}"
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.display().to_string();
            let mut scenario = ksim::scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            // A benchmark moves millions of records; a few seconds of it
            // show its determinism as well as a minute does.
            if scenario.name.starts_with("bench_") {
                scenario.duration_ns = 3 * sim::SECONDS;
                scenario.settle_ns = 2 * sim::SECONDS;
            }
            (name, scenario)
        })
        .collect()
}

#[test]
fn every_scenario_twice_per_seed_gives_the_same_trace_hash() {
    let options = RunOptions::default();
    for (file, scenario) in scenarios() {
        let mut hashes = Vec::new();
        for seed in 0..3 {
            let a = run(&scenario, seed, &options).expect("runs");
            let b = run(&scenario, seed, &options).expect("runs");
            assert_eq!(a.trace_hash, b.trace_hash, "{file} seed {seed}");
            assert_eq!(a.events, b.events, "{file} seed {seed}");
            assert_eq!(a.faults, b.faults, "{file} seed {seed}");
            assert_eq!(a.violations, b.violations, "{file} seed {seed}");
            assert!(a.events > 1000, "{file}: a real run, {} events", a.events);
            hashes.push(a.trace_hash);
        }
        hashes.sort();
        hashes.dedup();
        assert_eq!(
            hashes.len(),
            3,
            "{file}: different seeds give different runs"
        );
    }
}

#[test]
fn scripted_faults_fire_at_their_times_and_the_run_settles() {
    let (_, scenario) = scenarios()
        .into_iter()
        .find(|(f, _)| f.ends_with("broker_crash.toml"))
        .expect("broker_crash.toml ships");
    let out = run(&scenario, 42, &RunOptions::default()).expect("runs");
    assert_eq!(out.sim_time_ns, scenario.duration_ns + scenario.settle_ns);
    // The scripted crash of leader(orders-0) at 10 s (swarm faults come too).
    let crash = out
        .faults
        .iter()
        .find(|f| f.at_ns == 10 * sim::SECONDS && f.kind == "crash")
        .expect("the scripted crash fired at 10s");
    assert_eq!(crash.target, "broker-1", "preferred leader of orders-0");
    assert!(out
        .faults
        .iter()
        .any(|f| f.kind == "restart" && f.at_ns == 15 * sim::SECONDS && f.target == crash.target));
    assert!(out.violations.is_empty(), "{:?}", out.violations);
}
