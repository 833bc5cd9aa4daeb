//! `ksim blame`: the point of no return of a failing seed.

mod common;

use std::path::Path;

use common::{ksim, stderr, stdout};
use ksim::harness::RunOptions;

/// acks1_leader_crash seed 1 as `ksim shrink` leaves it: one crash of the
/// leader at 12.7 s, restarted 600 ms later; offsets_consistent fails.
const SHRUNK: &str = "tests/fixtures/acks1_leader_crash_shrunk_seed1.toml";

fn shrunk() -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SHRUNK);
    let text = std::fs::read_to_string(&path).expect("fixture");
    ksim::scenario::parse(&text, SHRUNK).expect("parses")
}

#[test]
fn the_point_of_no_return_lies_between_the_first_fault_and_the_detection() {
    let scenario = shrunk();
    // Seed 7 of the shrunk scenario: in seed 1 the crash, scripted in
    // every future, makes all four futures from 11.5 s fail already.
    let b = ksim::blame::blame(
        &scenario,
        7,
        None,
        &RunOptions::default(),
        (8, 4, 2),
        &|_, _| {},
    )
    .expect("seed 7 fails");
    assert_eq!(b.invariant, "offsets_consistent");
    assert_eq!(b.points.len(), 8);
    assert!(b.points.iter().all(|p| p.futures == 4));
    let first_fault_ms = scenario
        .faults
        .iter()
        .map(|f| f.at_ns)
        .min()
        .expect("a fault")
        / 1_000_000;
    let at = b
        .point_of_no_return_ms
        .expect("the failure becomes certain");
    assert!(
        first_fault_ms <= at && at <= b.detected_ms,
        "the point of no return {at} ms lies between the crash at {first_fault_ms} ms and the detection at {} ms: {:?}",
        b.detected_ms,
        b.points
    );
    // From there on every future fails; before the crash, some do not.
    assert!(b.points.iter().filter(|p| p.t_ms >= at).all(|p| p.p >= 0.9));
    assert!(
        b.points
            .iter()
            .any(|p| p.t_ms < first_fault_ms && p.p < 1.0),
        "before the crash the failure is not certain: {:?}",
        b.points
    );
    // The window before it holds the crash.
    assert!(
        b.window.iter().any(|e| e.event.contains("crash")),
        "{:?}",
        b.window
    );
}

#[test]
fn the_answer_does_not_depend_on_the_jobs() {
    let scenario = shrunk();
    let run = |jobs| {
        ksim::blame::blame(
            &scenario,
            1,
            None,
            &RunOptions::default(),
            (3, 2, jobs),
            &|_, _| {},
        )
        .expect("fails")
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn a_passing_seed_has_nothing_to_blame_exit_2() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = ksim(
        root,
        &[
            "blame",
            "scenarios/broker_crash.toml",
            "--seed",
            "42",
            "--points",
            "2",
            "--futures",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("passes: there is no failure to blame"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn the_json_gives_the_curve_and_the_point() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = ksim(
        root,
        &[
            "blame",
            SHRUNK,
            "--seed",
            "1",
            "--points",
            "4",
            "--futures",
            "2",
            "--jobs",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let points = json["points"].as_array().expect("points");
    assert_eq!(points.len(), 4);
    for p in points {
        assert!(
            p["t_ms"].is_u64() && p["p"].is_f64() && p["futures"] == 2,
            "{p}"
        );
    }
    assert!(json.get("point_of_no_return_ms").is_some());
    assert_eq!(json["invariant"], "offsets_consistent");
}

#[test]
fn the_text_shows_the_curve_the_point_and_the_window() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = ksim(
        root,
        &[
            "blame",
            SHRUNK,
            "--seed",
            "1",
            "--points",
            "6",
            "--futures",
            "3",
            "--jobs",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("point of no return: "), "{text}");
    insta::assert_snapshot!("blame_text", text);
}

#[test]
fn html_puts_the_curve_under_the_timeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("blame_html");
    let _ = std::fs::remove_dir_all(&dir);
    let out = ksim(
        root,
        &[
            "blame",
            SHRUNK,
            "--seed",
            "1",
            "--points",
            "4",
            "--futures",
            "2",
            "--jobs",
            "2",
            "--html",
            "--out",
            dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = std::fs::read_to_string(dir.join("acks1_leader_crash_shrunk/blame-seed-1.html"))
        .expect("the page is written");
    let timeline = page.find("class=\"figure\"").expect("the timeline");
    let curve = page.find("<svg class=\"blame\"").expect("the curve");
    assert!(timeline < curve, "the curve comes under the timeline");
    assert!(
        page.matches("<circle cx=").count() >= 4,
        "one dot per point"
    );
    assert!(page.contains("point of no return"));
}

#[test]
fn a_liveness_seed_is_blamed_with_its_futures_in_liveness_mode() {
    // kip101_truncation seed 26 fails only in liveness mode.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let blame = |liveness: bool| {
        let mut args = vec![
            "blame",
            "scenarios/kip101_truncation.toml",
            "--seed",
            "26",
            "--points",
            "3",
            "--futures",
            "2",
            "--jobs",
            "2",
            "--format",
            "json",
        ];
        if liveness {
            args.push("--liveness");
        }
        ksim(root, &args)
    };
    let out = blame(true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(json["invariant"], "offsets_consistent");
    assert_eq!(json["points"].as_array().map(Vec::len), Some(3));
    let plain = blame(false);
    assert_eq!(plain.status.code(), Some(2));
    assert!(stderr(&plain).contains("passes"), "{}", stderr(&plain));
}
