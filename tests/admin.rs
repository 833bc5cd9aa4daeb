//! `[[admin]]` operations and `key_order`: partitions added to a keyed
//! topic while a group lags make the group read some keys out of send order
//! (`partition_increase` fails `key_order` and nothing else), and the same
//! run without the operation keeps every key in order; the new partitions
//! exist, get records and are consumed. Bad `[[admin]]` entries are refused
//! with the file, key and line.

mod common;

use common::{refused_admin, run_text, shipped};

const SCENARIO: &str = "scenarios/partition_increase.toml";

/// Runs `text` (a scenario) with `seed` in a scratch folder; (exit code, JSON).
fn run(test: &str, text: &str, seed: &str) -> (Option<i32>, serde_json::Value, String) {
    run_text("admin", test, text, seed)
}

fn invariants(json: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = json["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["invariant"].as_str().expect("invariant").to_owned())
        .collect();
    names.dedup();
    names
}

fn scenario() -> String {
    shipped(SCENARIO)
}

#[test]
fn adding_partitions_under_a_lagging_group_breaks_key_order_only() {
    for seed in ["1", "2"] {
        let (code, json, report) = run("increase", &scenario(), seed);
        assert_eq!(code, Some(1), "{report}");
        assert_eq!(invariants(&json), vec!["key_order"], "{report}");
        assert!(
            report.contains("admin               create_partitions: orders now has 4 partitions"),
            "{report}"
        );
        assert!(report.contains("orders-3            created:"), "{report}");
        let stats = &json["stats"];
        assert_eq!(stats["records_sent"], stats["records_acked"], "{stats}");
        assert_eq!(stats["records_acked"], stats["records_consumed"], "{stats}");
        // Both new partitions took records and the group reads them.
        let detail = json["violations"][0]["detail"].as_str().expect("detail");
        assert!(
            detail.contains("(partition 2)") || detail.contains("(partition 3)"),
            "{detail}"
        );
    }
}

#[test]
fn without_the_operation_every_key_stays_in_order() {
    let text = scenario();
    let start = text.find("[[admin]]").expect("an [[admin]] entry");
    let end = start + text[start..].find("\n\n").expect("entry ends");
    let without = format!("{}{}", &text[..start], &text[end + 2..]);
    let (code, json, report) = run("no_increase", &without, "1");
    assert_eq!(code, Some(0), "{report}");
    assert!(invariants(&json).is_empty(), "{report}");
    assert!(!report.contains("create_partitions"), "{report}");
    assert!(
        report.contains("key_order"),
        "key_order is checked: {report}"
    );
}

/// `text` with its `[[admin]]` entry replaced by `entry`: the error ksim gives.
fn refused(test: &str, entry: &str) -> String {
    refused_admin("admin", test, &scenario(), entry)
}

#[test]
fn bad_admin_entries_are_refused_with_their_key_and_line() {
    let err = refused(
        "not_more",
        "[[admin]]\nat = \"10s\"\nop = \"create_partitions\"\ntopic = \"orders\"\npartitions = 2",
    );
    assert!(err.contains("s.toml"), "{err}");
    assert!(err.contains("partitions"), "{err}");
    assert!(
        err.contains("must be more than the 2 partitions orders has by then"),
        "{err}"
    );
    let err = refused(
        "create_existing",
        "[[admin]]\nat = \"10s\"\nop = \"create_topic\"\ntopic = \"orders\"",
    );
    assert!(
        err.contains(
            "orders exists at 10s (Kafka answers TOPIC_ALREADY_EXISTS); valid: a create_topic after its delete_topic"
        ),
        "{err}"
    );
    let err = refused(
        "unknown_op",
        "[[admin]]\nat = \"10s\"\nop = \"alter_configs\"\ntopic = \"orders\"",
    );
    assert!(
        err.contains(
            "unknown operation \"alter_configs\"; valid: create_partitions, create_topic, delete_topic"
        ),
        "{err}"
    );
    let err = refused(
        "delete_partitions",
        "[[admin]]\nat = \"10s\"\nop = \"delete_topic\"\ntopic = \"orders\"\npartitions = 2",
    );
    assert!(
        err.contains("delete_topic takes only topic; remove partitions"),
        "{err}"
    );
    let err = refused(
        "delete_twice",
        "[[admin]]\nat = \"10s\"\nop = \"delete_topic\"\ntopic = \"orders\"\n\n[[admin]]\nat = \"12s\"\nop = \"create_partitions\"\ntopic = \"orders\"\npartitions = 8",
    );
    assert!(
        err.contains("orders is deleted by then (Kafka answers UNKNOWN_TOPIC_OR_PARTITION)"),
        "{err}"
    );
    let err = refused(
        "unknown_topic",
        "[[admin]]\nat = \"10s\"\nop = \"create_partitions\"\ntopic = \"payments\"\npartitions = 8",
    );
    assert!(
        err.contains("no topic \"payments\" in [[topics]]; valid: orders"),
        "{err}"
    );
    let err = refused(
        "late",
        "[[admin]]\nat = \"45s\"\nop = \"create_partitions\"\ntopic = \"orders\"\npartitions = 8",
    );
    assert!(err.contains("not within the fault phase"), "{err}");
    let err = refused(
        "typo",
        "[[admin]]\nat = \"10s\"\nop = \"create_partition\"\ntopic = \"orders\"\npartitions = 8",
    );
    assert!(err.contains("did you mean \"create_partitions\""), "{err}");
}
