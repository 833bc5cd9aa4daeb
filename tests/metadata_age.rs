//! `metadata.max.age.ms`: producers and consumers refresh their metadata at
//! least that often (Kafka's `Metadata.timeToNextUpdate`), with no failure
//! to prompt them; with the default (5 minutes) a quiet run of 20 s asks
//! only at start. The trace counts the Metadata requests each client sent.

mod common;

use std::collections::BTreeMap;

use common::{ksim, scratch};

/// Per client: when (ms) its Metadata requests were delivered, in a run of
/// a quiet scenario whose clients have `config` added.
fn metadata_requests(test: &str, config: &str) -> BTreeMap<String, Vec<u64>> {
    let dir = scratch("metadata_age", test);
    let scenario = format!(
        r#"name = "metadata_age"
duration = "20s"
settle = "5s"

[cluster]
brokers = 3
controllers = 1

[[topics]]
name = "orders"
partitions = 2
replication_factor = 3

[[producers]]
topic = "orders"
count = 1
rate = "20/s"
keys = 5
config = {{ acks = "all"{config} }}

[[consumers]]
topic = "orders"
group = "billing"
count = 1
config = {{ "auto.offset.reset" = "earliest"{config} }}
"#
    );
    let file = dir.join("metadata_age.toml");
    std::fs::write(&file, scenario).expect("scenario written");
    let trace = dir.join("trace.jsonl");
    let out = ksim(
        &dir,
        &[
            "run",
            "metadata_age.toml",
            "--seed",
            "1",
            "--trace",
            trace.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let mut asked: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(&trace).expect("trace").lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let msg = e["msg"].as_str().unwrap_or("");
        if e["event"] != "deliver" || !msg.contains("request: Metadata {") {
            continue;
        }
        let from = e["from"].as_str().expect("from");
        if from.starts_with("producer") || from.starts_with("consumer") {
            let ms = e["t_ns"].as_u64().expect("t_ns") / 1_000_000;
            asked.entry(from.to_owned()).or_default().push(ms);
        }
    }
    asked
}

const CLIENTS: [&str; 2] = ["producer-0", "consumer-billing-0"];

#[test]
fn clients_refresh_metadata_every_max_age() {
    let asked = metadata_requests("every_2s", r#", "metadata.max.age.ms" = 2000"#);
    for client in CLIENTS {
        let times = &asked[client];
        // Refreshed about every 2 s through the 25 s run, and about a dozen
        // times: the next refresh is 2 s after the answer, which may wait
        // on its connection behind a fetch held up to fetch.max.wait.ms
        // (500 ms; a broker takes a connection's requests one at a time).
        assert!(times.len() >= 10, "{client} asked at {times:?}");
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] <= 2_600, "{client} asked at {times:?}");
        }
    }
}

#[test]
fn default_max_age_asks_only_at_start() {
    let asked = metadata_requests("default", "");
    for client in CLIENTS {
        let times = asked.get(client).expect("it asks once at start");
        assert!(
            times.iter().all(|&ms| ms < 5_000),
            "{client} asked again with a 5-minute max age: {times:?}"
        );
    }
}
