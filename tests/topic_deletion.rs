//! `[[admin]] op = "delete_topic"`: a topic deleted under live producers and
//! a consumer group. Every broker deletes its replicas (one that was down
//! does so once it caught up), the log directories are renamed `-delete`;
//! producers and consumers of the topic stop, the group ends with nothing of
//! it assigned; what was acknowledged to it is counted as removed by the
//! deletion, while the topic beside it keeps every guarantee. With
//! `delete.topic.enable = false` the controller refuses, and the topic stays
//! checked. A transactional producer's topic is refused as not simulated.

mod common;

use common::{ksim, refused, run_text, scratch, shipped, stderr};

const SCENARIO: &str = "scenarios/topic_deletion.toml";

fn scenario() -> String {
    shipped(SCENARIO)
}

/// Runs `text` with `seed` in a scratch folder: (exit code, JSON, text report).
fn run(test: &str, text: &str, seed: &str) -> (Option<i32>, serde_json::Value, String) {
    run_text("topic_deletion", test, text, seed)
}

#[test]
fn a_deleted_topic_goes_with_its_logs_and_the_topic_beside_it_keeps_its_guarantees() {
    for seed in ["1", "2"] {
        let (code, json, report) = run("deleted", &scenario(), seed);
        assert_eq!(code, Some(0), "{report}");
        assert!(
            report.contains("admin           delete_topic: orders deleted"),
            "{report}"
        );
        for broker in 1..=3 {
            for p in 0..3 {
                let line = format!("broker-{broker}        deleted its replica of orders-{p} (");
                assert!(report.contains(&line), "{line} in {report}");
            }
        }
        // Broker 2 was down at the deletion: it deletes its stale replicas
        // after catching up, at its restart's end.
        let stats = &json["stats"];
        let removed = stats["records_removed_by_deletion"]
            .as_u64()
            .expect("counted");
        assert!(removed > 5000, "{stats}");
        assert!(report.contains("acknowledged records went with their deleted topic"));
        // The group of the deleted topic is left with nothing assigned.
        let last = report
            .lines()
            .rfind(|l| l.contains("group shipping  generation"))
            .expect("a rebalance line");
        assert!(
            last.contains("consumer-shipping-0 []") && last.contains("consumer-shipping-1 []"),
            "{last}"
        );
        // payments is not in the deletion: every invariant was checked on it.
        assert!(report.contains("Topic: payments"), "{report}");
        assert!(!report.contains("Topic: orders"), "{report}");
    }
}

#[test]
fn the_deleted_logs_leave_the_disk_renamed_and_payments_stays() {
    let dir = scratch("topic_deletion", "export");
    let out = ksim(
        &dir,
        &[
            "export-logs",
            &format!("{}/{SCENARIO}", env!("CARGO_MANIFEST_DIR")),
            "--seed",
            "1",
            "--at",
            "30s",
            "--broker",
            "1",
            "--out",
            "logs",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let names: Vec<String> = std::fs::read_dir(dir.join("logs"))
        .expect("exported")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "payments-0"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("orders-0") && !n.ends_with("-delete")),
        "no live orders log: {names:?}"
    );
}

#[test]
fn without_delete_topic_enable_the_controller_refuses_and_the_topic_stays_checked() {
    let text = scenario().replace(
        "\"min.insync.replicas\" = 2",
        "\"min.insync.replicas\" = 2\n\"delete.topic.enable\" = false",
    );
    let (code, json, report) = run("disabled", &text, "1");
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("delete_topic of orders failed: TOPIC_DELETION_DISABLED"),
        "{report}"
    );
    assert!(!report.contains("deleted its replica"), "{report}");
    assert!(json["stats"].get("records_removed_by_deletion").is_none());
    assert!(report.contains("Topic: orders"), "{report}");
}

#[test]
fn deleting_a_transactional_producers_topic_is_refused_as_not_simulated() {
    let text = scenario().replace(
        "rate = \"500/s\"\nkeys = 100\nconfig = { acks = \"all\", \"enable.idempotence\" = true }",
        "rate = \"500/s\"\nkeys = 100\nconfig = { \"transactional.id\" = \"ship\" }\ntransaction = { records = 20, abort = 0.1 }",
    );
    assert!(text.contains("\"transactional.id\" = \"ship\""));
    let err = refused("topic_deletion", "txn", &text);
    assert!(
        err.contains(
            "deleting a topic that a transactional producer uses is not simulated by ksim yet"
        ),
        "{err}"
    );
    assert!(err.contains("s.toml"), "{err}");
}
