//! `[[admin]] op = "create_topic"`: producers and a group that start before
//! their topic exists wait for it, then run once an operator creates it;
//! every acknowledged record is checked as in any topic. Bad create_topic
//! entries are refused with their key and line.

mod common;

use common::{refused, refused_admin, run_text, shipped};

const SCENARIO: &str = "scenarios/topic_creation.toml";

fn scenario() -> String {
    shipped(SCENARIO)
}

fn run(test: &str, text: &str, seed: &str) -> (Option<i32>, serde_json::Value, String) {
    run_text("topic_creation", test, text, seed)
}

/// The timeline's time (seconds) on the first line containing `what`.
fn first_at(report: &str, what: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("{what} in {report}"));
    let at = line.split_whitespace().next().expect("a time");
    at.trim_end_matches('s').parse().expect("seconds")
}

#[test]
fn clients_wait_for_a_topic_an_operator_creates_then_every_record_is_checked() {
    for seed in ["1", "2"] {
        let (code, json, report) = run("created", &scenario(), seed);
        assert_eq!(code, Some(0), "{report}");
        let created = first_at(
            &report,
            "create_topic: invoices created with 3 partitions, replication factor 3",
        );
        assert!((10.0..11.0).contains(&created), "{report}");
        // Nothing of invoices before the operation: its partitions and the
        // group's first generation come after it.
        assert!(first_at(&report, "invoices-0        created:") >= 10.0);
        assert!(first_at(&report, "group accounting  generation 1") > created);
        let stats = &json["stats"];
        assert!(
            stats["records_acked"].as_u64().expect("acked") > 10_000,
            "{stats}"
        );
        assert_eq!(stats["records_acked"], stats["records_consumed"], "{stats}");
        assert!(report.contains("Topic: invoices"), "{report}");
    }
}

#[test]
fn without_the_operation_the_clients_name_an_unknown_topic_and_are_refused() {
    let text = scenario();
    let start = text.find("[[admin]]").expect("an [[admin]] entry");
    let end = start + text[start..].find("\n\n").expect("entry ends");
    let without = format!("{}{}", &text[..start], &text[end + 2..]);
    // The clients name a topic nothing creates: refused before running.
    let err = refused("topic_creation", "missing", &without);
    assert!(err.contains("unknown topic \"invoices\""), "{err}");
}

#[test]
fn a_creation_the_controller_refuses_is_reported_and_the_topic_never_comes() {
    // Broker 2 crashes at 5 s and is fenced when the operation comes at
    // 20 s: three replicas cannot be placed over two unfenced brokers.
    let text = scenario()
        .replace(
            "at = \"20s\"\nkind = \"crash\"\ntarget = \"broker(2)\"\nrestart_after = \"10s\"",
            "at = \"5s\"\nkind = \"crash\"\ntarget = \"broker(2)\"\nrestart_after = \"30s\"",
        )
        .replace(
            "at = \"10s\"\nop = \"create_topic\"",
            "at = \"20s\"\nop = \"create_topic\"",
        );
    assert!(text.contains("restart_after = \"30s\"") && text.contains("at = \"20s\"\nop"));
    let (code, json, report) = run("refused", &text, "1");
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("create_topic of invoices failed: INVALID_REPLICATION_FACTOR"),
        "{report}"
    );
    let details: Vec<&str> = json["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["detail"].as_str())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("topic invoices was never created")),
        "{details:?}"
    );
    assert_eq!(json["stats"]["records_acked"], 0);
}

/// The scenario with its `[[admin]]` entry replaced by `entry`: the error.
fn refused_entry(test: &str, entry: &str) -> String {
    refused_admin("topic_creation", test, &scenario(), entry)
}

#[test]
fn bad_create_topic_entries_are_refused_with_their_key_and_line() {
    let create = "[[admin]]\nat = \"10s\"\nop = \"create_topic\"\ntopic = \"invoices\"\npartitions = 3\nreplication_factor = 3";
    let err = refused_entry(
        "twice",
        &format!("{create}\n\n{}", create.replace("10s", "12s")),
    );
    assert!(err.contains("s.toml"), "{err}");
    assert!(
        err.contains("invoices exists at 12s (Kafka answers TOPIC_ALREADY_EXISTS)"),
        "{err}"
    );
    let err = refused_entry(
        "rf",
        &create.replace("replication_factor = 3", "replication_factor = 4"),
    );
    assert!(err.contains("valid: 1..=3 (cluster.brokers = 3)"), "{err}");
    let err = refused_entry("late", &create.replace("10s", "45s"));
    assert!(err.contains("not within the fault phase"), "{err}");
    let err = refused_entry(
        "grow_before",
        &format!(
            "{create}\n\n[[admin]]\nat = \"5s\"\nop = \"create_partitions\"\ntopic = \"invoices\"\npartitions = 6"
        ),
    );
    assert!(
        err.contains("invoices is created only at 10s by a create_topic"),
        "{err}"
    );
    let err = refused_entry(
        "internal",
        &create.replace("topic = \"invoices\"", "topic = \"__consumer_offsets\""),
    );
    assert!(err.contains("is an internal Kafka topic"), "{err}");
}
