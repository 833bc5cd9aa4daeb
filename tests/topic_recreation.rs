//! A topic deleted and created again under the same name (`[[admin]]`
//! delete_topic, then create_topic): the new topic has a new topic id, its
//! offsets start at 0 again, and every checker tells the two apart: what was
//! acknowledged to the deleted topic went with it, what was acknowledged to
//! the new one must be there and be processed. A broker that comes back
//! with the deleted topic's logs deletes them. When the group's coordinator
//! was down at the deletion, the group resumes the new topic at the deleted
//! topic's committed offsets and skips records (a Kafka hazard ksim shows).

mod common;

use common::{refused, run_text, shipped};

const SCENARIO: &str = "scenarios/topic_recreation.toml";
const STALE: &str = "scenarios/topic_recreation_stale_offsets.toml";

fn run(test: &str, text: &str, seed: &str) -> (Option<i32>, serde_json::Value, String) {
    run_text("topic_recreation", test, text, seed)
}

/// The timeline lines of `report` that contain `what`.
fn lines<'a>(report: &'a str, what: &str) -> Vec<&'a str> {
    report.lines().filter(|l| l.contains(what)).collect()
}

#[test]
fn a_recreated_topic_is_checked_apart_from_the_deleted_one() {
    for seed in ["1", "2"] {
        let (code, json, report) = run("recreated", &shipped(SCENARIO), seed);
        assert_eq!(code, Some(0), "{report}");
        // Created twice: at the start and by the operation.
        assert_eq!(
            lines(&report, "orders-0        created: ").len(),
            2,
            "{report}"
        );
        assert!(
            report.contains("admin           create_topic: orders created with 3 partitions"),
            "{report}"
        );
        let stats = &json["stats"];
        let removed = stats["records_removed_by_deletion"]
            .as_u64()
            .expect("counted");
        let acked = stats["records_acked"].as_u64().expect("counted");
        // Both topics took records: the deleted one's went with it, the
        // new one's (after 30 s of 50) are checked and were all processed.
        assert!(removed > 5000, "{stats}");
        assert!(acked > removed + 20_000, "{stats}");
        let processed = stats["groups"][0]["processed"].as_u64().expect("counted");
        assert!(processed >= acked - removed, "{stats}");
        // Every invariant held on the new topic, offsets from 0 again.
        assert_eq!(json["verdict"], "pass", "{report}");
        assert!(report.contains("Topic: orders"), "{report}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let (_, first, _) = run("twice_a", &shipped(SCENARIO), "3");
    let (_, second, _) = run("twice_b", &shipped(SCENARIO), "3");
    assert_eq!(first["trace_hash"], second["trace_hash"]);
    assert!(first["trace_hash"].is_string());
}

#[test]
fn a_broker_down_across_both_deletes_the_old_logs_and_a_stale_coordinator_skips_records() {
    // Seed 0: broker 1 held the group's coordinator.
    let (code, json, report) = run("stale", &shipped(STALE), "0");
    assert_eq!(code, Some(1), "{report}");
    let violated: Vec<&str> = json["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["invariant"].as_str())
        .collect();
    assert!(!violated.is_empty());
    assert!(
        violated.iter().all(|&v| v == "processed_at_least_once"),
        "{violated:?}"
    );
    assert!(
        report.contains("past it at") && report.contains("no member processed it"),
        "{report}"
    );
    // The new topic has 2 replicas (broker 1 was fenced); broker 1 comes
    // back at 37 s with the deleted topic's logs and deletes them.
    assert!(
        report.contains("create_topic: orders created with 3 partitions, replication factor 2"),
        "{report}"
    );
    let deleted = lines(&report, "broker-1        deleted its replica of orders-");
    assert_eq!(deleted.len(), 3, "{report}");
    for line in deleted {
        let at: f64 = line
            .split_whitespace()
            .next()
            .and_then(|t| t.trim_end_matches('s').parse().ok())
            .expect("a time");
        assert!(at > 37.0, "{line}");
    }
}

#[test]
fn recreating_is_refused_where_ksim_cannot_follow_it() {
    let text = shipped(SCENARIO).replace(
        "replication_factor = 3\n\n[[producers]]",
        "replication_factor = 3\nconfig = { \"retention.ms\" = 600000 }\n\n[[producers]]",
    );
    let err = refused("topic_recreation", "configs", &text);
    assert!(
        err.contains(
            "recreating orders, a topic with configs in [[topics]], is not simulated by ksim yet"
        ),
        "{err}"
    );
    // Creating it while it exists is what Kafka refuses.
    let text = shipped(SCENARIO).replace("at = \"30s\"", "at = \"10s\"");
    let err = refused("topic_recreation", "exists", &text);
    assert!(
        err.contains("orders exists at 10s (Kafka answers TOPIC_ALREADY_EXISTS)"),
        "{err}"
    );
}
