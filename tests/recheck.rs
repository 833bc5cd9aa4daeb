//! `ksim explore --recheck`: a sample of a sweep's seeds runs twice, and a
//! simulator that is not deterministic is caught (exit 3) with where two
//! runs part.

mod common;

use std::path::Path;

use common::{ksim, stdout};

fn explore(dir: &Path, recheck: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/transactions.toml");
    let out_dir = dir.join("reports");
    let mut args = vec![
        "explore",
        scenario.to_str().expect("utf-8"),
        "--seeds",
        "0..3",
        "--jobs",
        "2",
        "--recheck",
        recheck,
        "--format",
        "json",
        "--out",
        out_dir.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = ksim(dir, &args);
    let json = serde_json::from_str(stdout(&out).trim()).expect("explore prints its JSON");
    (out.status.code(), json)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn a_deterministic_simulator_passes_its_rechecks() {
    let (code, json) = explore(&scratch("recheck_ok"), "100", &[]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["rechecked"], 3, "every seed at --recheck 100");
    assert_eq!(json["nondeterministic"], serde_json::json!([]));
}

#[test]
fn a_planted_hashmap_order_is_caught_with_where_runs_part() {
    let dir = scratch("recheck_planted");
    let (code, json) = explore(&dir, "100", &["--mutation", "hashmap-order"]);
    assert_eq!(code, Some(3), "nondeterminism is exit 3: {json}");
    let found = json["nondeterministic"].as_array().expect("a list");
    assert!(!found.is_empty(), "the planted bug is caught: {json}");
    for n in found {
        assert_ne!(n["trace_hash"], n["recheck_trace_hash"]);
        // The planted bug pokes every node halfway (10 s) in a HashMap's
        // order: two more runs part at one of those pokes, at 10 s.
        let d = &n["divergence"];
        assert!(d["event"].as_u64().expect("an event") > 1, "{n}");
        for side in ["first", "second"] {
            let line = d[side].as_str().expect("both traces have the event");
            assert!(line.contains("\"event\":\"poke\""), "{line}");
            assert!(line.contains("\"t_ns\":10000000000"), "{line}");
        }
        for trace in n["traces"].as_array().expect("two traces") {
            assert!(Path::new(trace.as_str().expect("a path")).exists());
        }
    }
}

#[test]
fn recheck_zero_runs_nothing_twice() {
    let (code, json) = explore(
        &scratch("recheck_off"),
        "0",
        &["--mutation", "hashmap-order"],
    );
    assert_eq!(
        code,
        Some(0),
        "without rechecks nothing is compared: {json}"
    );
    assert_eq!(json["rechecked"], 0);
}

#[test]
fn a_sweep_counts_the_runs_to_its_first_failure() {
    let dir = scratch("first_failure");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/acks1_leader_crash.toml");
    let out = ksim(
        &dir,
        &[
            "explore",
            scenario.to_str().expect("utf-8"),
            "--seeds",
            "0..4",
            "--jobs",
            "2",
            "--recheck",
            "0",
            "--format",
            "json",
            "--out",
            dir.to_str().expect("utf-8"),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let first = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .position(|r| r["verdict"] == "fail")
        .expect("acks=1 loses acked writes in some seed of four");
    assert_eq!(json["runs_to_first_failure"], first as u64 + 1);
    // A sweep with no failure has none.
    let (_, json) = explore(&scratch("first_failure_none"), "0", &[]);
    assert!(json["runs_to_first_failure"].is_null());
}
