//! Swarm testing (`--swarm`): each seed draws its own fault mix within the
//! scenario's `[swarm]` bounds; the draw is part of the seed, so a run, its
//! record and its replay reproduce it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use ksim::harness::{run, RunOptions};

fn load(file: &str) -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn swarm() -> RunOptions {
    RunOptions {
        swarm: true,
        ..RunOptions::default()
    }
}

#[test]
fn each_seed_draws_its_own_mix_within_the_bounds_and_only_that_mix_runs() {
    let scenario = load("swarm.toml");
    let bounds = scenario.swarm.clone().expect("a [swarm] table");
    let servers: BTreeSet<String> = (1..=3)
        .flat_map(|n| [format!("broker-{n}"), format!("controller-{n}")])
        .collect();
    let mut mixes = BTreeSet::new();
    for seed in 0..12 {
        let o = run(&scenario, seed, &swarm()).expect("runs");
        let mix = o.swarm.clone().expect("a drawn mix");
        assert!(!mix.rates_per_min.is_empty(), "seed {seed}: no kind on");
        for (kind, rate) in &mix.rates_per_min {
            let bound = bounds
                .rates_per_min
                .iter()
                .find(|(k, _)| k.name() == kind)
                .map(|(_, r)| *r)
                .unwrap_or_else(|| panic!("seed {seed}: {kind} is not in [swarm]"));
            assert!(
                *rate > 0.0 && *rate <= bound,
                "seed {seed}: {kind} {rate} > {bound}"
            );
        }
        let nodes: BTreeSet<String> = mix.nodes.iter().cloned().collect();
        assert!(
            !nodes.is_empty() && nodes.is_subset(&servers),
            "seed {seed}: {nodes:?}"
        );
        // Every fault the swarm drew is of a kind on, on an eligible node.
        for f in o.faults.iter().filter(|f| !f.settle) {
            let base = match f.kind.as_str() {
                "restart" => "crash|power_loss",
                "resume" => "pause",
                "heal" => "partition",
                k => k,
            };
            assert!(
                base.split('|').any(|k| mix.rates_per_min.contains_key(k)),
                "seed {seed}: {} not in the mix {mix:?}",
                f.kind
            );
            if f.kind != "heal" && f.kind != "partition" {
                assert!(
                    nodes.contains(&f.target),
                    "seed {seed}: {} hit {}",
                    f.kind,
                    f.target
                );
            }
        }
        // Same seed, same mix, same run.
        let again = run(&scenario, seed, &swarm()).expect("runs");
        assert_eq!(again.swarm, o.swarm);
        assert_eq!(again.trace_hash, o.trace_hash);
        mixes.insert(format!(
            "{:?}",
            mix.rates_per_min.keys().collect::<Vec<_>>()
        ));
    }
    assert!(mixes.len() >= 4, "seeds draw different mixes: {mixes:?}");
    // Without --swarm the table's full mix runs on every server.
    assert!(run(&scenario, 0, &RunOptions::default())
        .expect("runs")
        .swarm
        .is_none());
}

#[test]
fn the_run_record_stores_the_mix_and_replay_reproduces_it() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("swarm_cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm.toml");
    let ksim = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ksim"))
            .current_dir(&dir)
            .args(args)
            .output()
            .expect("ksim runs")
    };
    let file = file.to_str().expect("utf-8");
    let out = ksim(&["run", file, "--seed", "3", "--swarm", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(summary["swarm"]["rates_per_min"].is_object(), "{summary}");
    let text = ksim(&["run", file, "--seed", "3", "--swarm"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("  swarm mix   "));
    let record = dir.join("reports/swarm/seed-3.json");
    let replay = ksim(&["replay", record.to_str().expect("utf-8")]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(String::from_utf8_lossy(&replay.stdout).contains("matches"));
    // A scenario with no [swarm] table has nothing to draw from.
    let none = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/acks1_leader_crash.toml");
    let refused = ksim(&["run", none.to_str().expect("utf-8"), "--swarm"]);
    assert_eq!(refused.status.code(), Some(2));
}
