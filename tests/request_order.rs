//! A broker takes one request per connection at a time (Kafka's
//! SocketServer), so a producer's produce responses from one broker leave
//! in the order of its requests and arrive so on the FIFO link; the
//! `unmuted_connections` mutation, a broker answering each request as it
//! comes, breaks that order.

use std::collections::BTreeMap;

use ksim::harness::{run, RunOptions, TestMutations};

/// Produce responses delivered in `broker_crash` seed 42, and how many
/// arrived below a correlation id already answered on their connection;
/// with the run's trace hash.
fn produce_response_order(mutations: TestMutations, name: &str) -> (usize, usize, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/broker_crash.toml");
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let s = ksim::scenario::parse(&text, "broker_crash.toml").unwrap_or_else(|e| panic!("{e}"));
    let trace = std::env::temp_dir().join(format!(
        "ksim-request-order-{name}-{}.jsonl",
        std::process::id()
    ));
    let options = RunOptions {
        trace: Some(trace.clone()),
        mutations,
        ..RunOptions::default()
    };
    let o = run(&s, 42, &options).expect("runs");
    let lines = std::fs::read_to_string(&trace).expect("trace");
    let _ = std::fs::remove_file(&trace);
    let mut highest: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let (mut total, mut out_of_order) = (0, 0);
    for line in lines.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("json line");
        let Some(msg) = event["msg"].as_str() else {
            continue;
        };
        let Some(rest) = msg.strip_prefix("Kafka(Response { connection: ") else {
            continue;
        };
        let (connection, rest) = rest.split_once(", correlation_id: ").expect("fields");
        let (id, rest) = rest.split_once(',').expect("correlation id");
        if !rest.starts_with(" response: Produce") || event["event"] != "deliver" {
            continue;
        }
        let id: u64 = id.parse().expect("a number");
        let key = (
            event["from"].as_str().expect("from").to_owned(),
            event["to"].as_str().expect("to").to_owned(),
            connection.to_owned(),
        );
        total += 1;
        let seen = highest.entry(key).or_insert(0);
        if id < *seen {
            out_of_order += 1;
        }
        *seen = (*seen).max(id);
    }
    (total, out_of_order, o.trace_hash)
}

#[test]
fn a_connections_produce_responses_come_in_request_order_and_not_without_muting() {
    let (total, out_of_order, hash) = produce_response_order(TestMutations::default(), "muted");
    assert!(total > 10_000, "{total} produce responses");
    assert_eq!(out_of_order, 0);
    let (_, _, again) = produce_response_order(TestMutations::default(), "again");
    assert_eq!(hash, again, "seed 42 replays");
    let unmuted = TestMutations {
        unmuted_connections: true,
        ..TestMutations::default()
    };
    let (total, out_of_order, _) = produce_response_order(unmuted, "unmuted");
    assert!(total > 10_000);
    assert!(
        out_of_order > 100,
        "{out_of_order} of {total} out of request order"
    );
}
