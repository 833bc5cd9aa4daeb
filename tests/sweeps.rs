//! CI property checks: the must-pass scenarios pass a sweep of seeds
//! through `ksim explore`, exactly as a CI job would run it.

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

#[test]
fn control_plane_scenarios_pass_100_seeds_each() {
    for scenario in [
        "controller_failover",
        "controller_partition",
        "broker_fencing",
    ] {
        let (code, text) = explore(scenario, "0..100");
        assert_eq!(code, 0, "{scenario}:\n{text}");
        assert!(text.contains("pass      100"), "{scenario}:\n{text}");
    }
}

#[test]
fn data_path_scenarios_pass_100_seeds_each() {
    for scenario in [
        "broker_crash",
        "power_loss",
        "network_partition",
        "rolling_restart",
    ] {
        let (code, text) = explore(scenario, "0..100");
        assert_eq!(code, 0, "{scenario}:\n{text}");
        assert!(text.contains("pass      100"), "{scenario}:\n{text}");
    }
}

#[test]
fn group_scenarios_pass_100_seeds_each() {
    for scenario in ["consumer_crash", "coordinator_failover", "rebalance_storm"] {
        let (code, text) = explore(scenario, "0..100");
        assert_eq!(code, 0, "{scenario}:\n{text}");
        assert!(text.contains("pass      100"), "{scenario}:\n{text}");
    }
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
