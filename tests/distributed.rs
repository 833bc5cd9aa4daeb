//! Distributed sweeps: `--shard K/N` splits a seed range so N machines cover
//! it once, `ksim explore merge` puts the shards back together (and refuses
//! results that disagree), and a sweep stopped by Ctrl-C keeps every result
//! it finished.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::ksim;

fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
        .display()
        .to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file")).expect("json")
}

#[test]
fn shards_cover_the_range_once_and_merge_into_the_unsharded_summary() {
    let dir = workdir("shards");
    let file = scenario("controller_failover.toml");
    let whole = ksim(
        &dir,
        &[
            "explore", &file, "--seeds", "0..24", "--jobs", "2", "--out", "whole",
        ],
    );
    assert_eq!(whole.status.code(), Some(0));
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = format!("machine{k}");
        let o = ksim(
            &dir,
            &[
                "explore",
                &file,
                "--seeds",
                "0..24",
                "--shard",
                &shard,
                "--jobs",
                "1",
                "--recheck",
                "50",
                "--out",
                &out,
            ],
        );
        assert_eq!(o.status.code(), Some(0));
        let report = json(
            &dir.join(&out)
                .join(format!("controller_failover/explore-{k}-of-3.json")),
        );
        assert_eq!(report["runs"], 8);
        assert_eq!(report["shard"], shard.as_str());
    }
    let merged = ksim(
        &dir,
        &[
            "explore", "merge", "machine1", "machine2", "machine3", "--out", "merged",
        ],
    );
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let a = json(&dir.join("whole/controller_failover/explore.json"));
    let b = json(&dir.join("merged/controller_failover/explore-merged.json"));
    // The same seeds with the same results: the trace hashes match the
    // unsharded sweep's seed by seed.
    let hashes = |v: &serde_json::Value| -> Vec<(u64, String)> {
        v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["seed"].as_u64().unwrap(),
                    r["trace_hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(hashes(&a).len(), 24);
    assert_eq!(hashes(&a), hashes(&b));
    // The shards' determinism rechecks add up in the merged summary.
    let shard_rechecks: u64 = (1..=3)
        .map(|k| {
            json(&dir.join(format!(
                "machine{k}/controller_failover/explore-{k}-of-3.json"
            )))["rechecked"]
                .as_u64()
                .expect("rechecked")
        })
        .sum();
    assert!(shard_rechecks > 0);
    assert_eq!(b["rechecked"].as_u64(), Some(shard_rechecks));
    assert_eq!(b["nondeterministic"], serde_json::json!([]));

    // A shard missing: the merge says how many seeds have no result (exit 2).
    let partial = ksim(
        &dir,
        &[
            "explore", "merge", "machine1", "machine3", "--out", "partial",
        ],
    );
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("8 seeds of 0..24 have no result"));

    // Two results of one seed that disagree: not deterministic (exit 3).
    let shard2 = dir.join("machine2/controller_failover/explore-2-of-3.jsonl");
    let text = std::fs::read_to_string(&shard2).expect("results");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut first: serde_json::Value = serde_json::from_str(&lines[1]).expect("a summary");
    first["trace_hash"] = "0000000000000000".into();
    lines[1] = first.to_string();
    let forged = dir.join("forged");
    std::fs::create_dir_all(&forged).expect("dir");
    std::fs::write(forged.join("explore-2-of-3.jsonl"), lines.join("\n")).expect("write");
    let diverged = ksim(
        &dir,
        &["explore", "merge", "machine2", "forged", "--out", "x"],
    );
    assert_eq!(diverged.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&diverged.stderr).contains("ran twice with different results"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_every_finished_result() {
    let dir = workdir("interrupt");
    let file = scenario("controller_failover.toml");
    let child = Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(&dir)
        .args(["explore", &file, "--seeds", "0..100000", "--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ksim starts");
    let results = dir.join("reports/controller_failover/explore.jsonl");
    // Wait for a few finished seeds (the header is the first line).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let lines = std::fs::read_to_string(&results).map_or(0, |t| t.lines().count());
        if lines >= 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no results written");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("ksim ends");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&dir.join("reports/controller_failover/explore.json"));
    assert_eq!(report["interrupted"], true);
    let runs = report["runs"].as_u64().expect("runs");
    assert!((3..100_000).contains(&runs));
    assert_eq!(report["missing"].as_u64(), Some(100_000 - runs));
    // Every finished seed is in the results file, one line each after the header.
    let lines = std::fs::read_to_string(&results)
        .expect("results")
        .lines()
        .count() as u64;
    assert_eq!(lines, runs + 1);
    // Merging it reports the seeds never run.
    let merged = ksim(&dir, &["explore", "merge", "reports"]);
    assert_eq!(merged.status.code(), Some(2));
}
