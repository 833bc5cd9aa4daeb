//! CI property checks: the must-pass scenarios pass a sweep of seeds
//! through `ksim explore`, exactly as a CI job would run it. The debug build
//! that `cargo test` makes sweeps a small budget of seeds per scenario; the
//! full sweeps of 100 seeds are the ignored tests, for a release build:
//! `cargo test --release --test sweeps -- --ignored`.

use std::process::Command;

fn explore(scenario: &str, seeds: &str) -> (i32, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out_dir =
        std::env::temp_dir().join(format!("ksim-sweep-{}-{scenario}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(root)
        .args([
            "explore",
            &format!("scenarios/{scenario}.toml"),
            "--seeds",
            seeds,
            "--jobs",
            "2",
        ])
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("ksim runs");
    let _ = std::fs::remove_dir_all(&out_dir);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().unwrap_or(-1), text)
}

const CONTROL_PLANE: [&str; 4] = [
    "controller_failover",
    "controller_partition",
    "controller_rejoin",
    "broker_fencing",
];
const DATA_PATH: [&str; 4] = [
    "broker_crash",
    "power_loss",
    "network_partition",
    "rolling_restart",
];
const GROUPS: [&str; 3] = ["consumer_crash", "coordinator_failover", "rebalance_storm"];

/// Every seed of `seeds` (`A..B`) passes each scenario.
fn all_pass(scenarios: &[&str], seeds: std::ops::Range<u64>) {
    let runs = seeds.end - seeds.start;
    for scenario in scenarios {
        let (code, text) = explore(scenario, &format!("{}..{}", seeds.start, seeds.end));
        assert_eq!(code, 0, "{scenario}:\n{text}");
        assert!(
            text.contains(&format!("pass   {runs:>6}")),
            "{scenario}:\n{text}"
        );
    }
}

#[test]
fn control_plane_scenarios_pass_a_sweep() {
    all_pass(&CONTROL_PLANE, 0..20);
}

#[test]
fn data_path_scenarios_pass_a_sweep() {
    all_pass(&DATA_PATH, 0..6);
}

#[test]
fn group_scenarios_pass_a_sweep() {
    all_pass(&GROUPS, 0..6);
}

#[test]
#[ignore = "100 seeds per scenario: run in a release build"]
fn control_plane_scenarios_pass_100_seeds_each() {
    all_pass(&CONTROL_PLANE, 0..100);
}

#[test]
#[ignore = "100 seeds per scenario: run in a release build"]
fn data_path_scenarios_pass_100_seeds_each() {
    all_pass(&DATA_PATH, 0..100);
}

#[test]
#[ignore = "100 seeds per scenario: run in a release build"]
fn group_scenarios_pass_100_seeds_each() {
    all_pass(&GROUPS, 0..100);
}

#[test]
fn a_broken_quorum_fails_the_sweep_with_exit_1() {
    let output = Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "explore",
            "scenarios/controller_partition.toml",
            "--seeds",
            "0..5",
            "--jobs",
            "2",
        ])
        .args(["--mutation", "commit-on-minority", "--out"])
        .arg(std::env::temp_dir().join(format!("ksim-sweep-broken-{}", std::process::id())))
        .output()
        .expect("ksim runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("raft_log_consistent"), "{text}");
}
