//! Tests of scenario parsing: structure, defaults, and error messages with
//! their exact positions.

use super::*;
use crate::config::{ConfigValue, Scope};

/// A valid scenario; text appended to it starts on line 20.
pub(super) const BASE: &str = r#"name = "t"
duration = "60s"

[cluster]
brokers = 3

[[topics]]
name = "orders"
partitions = 3
replication_factor = 3

[[producers]]
topic = "orders"
rate = "100/s"

[[consumers]]
topic = "orders"
group = "billing"
count = 2
"#;

/// The error of `text` as displayed.
pub(super) fn err(text: &str) -> String {
    match parse(text, "s.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The error of BASE plus `extra`.
pub(super) fn err_with(extra: &str) -> String {
    err(&format!("{BASE}{extra}"))
}

pub(super) fn ok(text: &str) -> Scenario {
    match parse(text, "s.toml") {
        Ok(s) => s,
        Err(e) => panic!("{e}\n{text}"),
    }
}

#[test]
fn every_scenario_file_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = load(&path) {
                panic!("{e}");
            }
            n += 1;
        }
    }
    assert!(n >= 5, "only {n} scenario files in {}", dir.display());
}

/// The example scenario of docs/scenarios.md: its first `toml` block.
fn docs_example() -> String {
    let doc = include_str!("../../docs/scenarios.md");
    let start = doc
        .find("```toml\n")
        .expect("docs/scenarios.md has a toml example")
        + 8;
    let len = doc[start..].find("```").expect("the example block ends");
    doc[start..start + len].to_string()
}

#[test]
fn the_docs_example_parses() {
    let s = ok(&docs_example());
    assert_eq!(s.name, "broker_crash");
    assert_eq!(
        (s.duration_ns, s.settle_ns),
        (60_000_000_000, 30_000_000_000)
    );
    assert_eq!((s.cluster.brokers, s.cluster.controllers), (3, 3));
    assert_eq!(s.cluster.config.get_i64("min.insync.replicas"), Some(2));
    let t = &s.topics[0];
    assert_eq!(
        (t.name.as_str(), t.partitions, t.replication_factor),
        ("orders", 3, 3)
    );
    let p = &s.producers[0];
    assert_eq!((p.count, p.keys), (2, 100));
    assert_eq!(
        p.rate,
        Rate {
            records: 1000,
            per_ns: 1_000_000_000
        }
    );
    assert_eq!(p.config.get_str("acks").as_deref(), Some("all"));
    assert_eq!(p.config.get_i64("linger.ms"), Some(5));
    let c = &s.consumers[0];
    assert_eq!((c.group.as_str(), c.count), ("billing", 3));
    assert_eq!(c.config.get_bool("enable.auto.commit"), Some(false));
    assert_eq!(
        (s.network.latency_min_ns, s.network.latency_max_ns),
        (1_000_000, 5_000_000)
    );
    let f = &s.faults[0];
    assert_eq!((f.at_ns, f.kind), (10_000_000_000, FaultKind::Crash));
    let leader = Target::Leader {
        topic: "orders".into(),
        partition: 0,
    };
    assert_eq!(f.target, Some(leader));
    assert_eq!(f.restart_after_ns, Some(5_000_000_000));
    let swarm = s
        .swarm
        .as_ref()
        .map(|w| w.rates_per_min.clone())
        .unwrap_or_default();
    assert_eq!(swarm.get(&FaultKind::Crash), Some(&2.0));
    assert_eq!(swarm.get(&FaultKind::PowerLoss), Some(&0.5));
    assert_eq!(swarm.len(), 3);
    use Invariant::*;
    assert_eq!(
        s.check.invariants,
        vec![AckedWritesDurable, OffsetsConsistent, PartitionOrder]
    );
    assert!(serde_json::to_string(&s).is_ok_and(|j| j.contains("\"leader(orders-0)\"")));
}

#[test]
fn defaults() {
    let s = ok("name = \"x\"\nduration = \"1s\"\n[[topics]]\nname = \"t\"\n");
    assert_eq!(s.settle_ns, 30_000_000_000);
    assert_eq!((s.cluster.brokers, s.cluster.controllers), (3, 3));
    // Kafka's num.partitions and default.replication.factor.
    assert_eq!(
        (s.topics[0].partitions, s.topics[0].replication_factor),
        (1, 1)
    );
    assert_eq!(s.disk.fsync_latency_min_ns, 1_000_000);
    assert_eq!(s.disk.fsync_latency_max_ns, 10_000_000);
    assert_eq!(s.disk.writeback_interval_ns, 5_000_000_000);
    assert_eq!(s.disk.dirty_expire_ns, 30_000_000_000);
    assert!(!s.disk.torn_writes);
    assert_eq!(s.protocol.truncation, Truncation::LeaderEpoch);
    assert_eq!(s.check.invariants, Invariant::ALL.to_vec());
    assert_eq!(s.swarm, None);
    assert!(s.faults.is_empty() && s.producers.is_empty() && s.description.is_empty());

    let s = ok(&format!(
        "{BASE}[network]\nlatency = \"2ms\"\n[protocol]\ntruncation = \"high-watermark\"\n"
    ));
    assert_eq!(
        (s.network.latency_min_ns, s.network.latency_max_ns),
        (2_000_000, 2_000_000)
    );
    assert_eq!(s.protocol.truncation, Truncation::HighWatermark);
    assert_eq!((s.producers[0].count, s.producers[0].keys), (1, 0));
    assert_eq!(s.consumers[0].count, 2);
    let s = ok("name = \"x\"\nduration = \"1s\"\n[cluster.config]\n\"num.partitions\" = 4\n\"default.replication.factor\" = 2\n[[topics]]\nname = \"t\"\n");
    assert_eq!(
        (s.topics[0].partitions, s.topics[0].replication_factor),
        (4, 2)
    );
}

#[test]
fn syntax_errors_have_no_key() {
    assert_eq!(
        err("name = \"x\"\nduration = \n"),
        "s.toml:2:12: invalid TOML: string values must be quoted, expected literal string"
    );
    assert_eq!(
        err("name = \"x\"\nname = \"y\"\n"),
        "s.toml:2:1: invalid TOML: duplicate key name; valid: each key once per table"
    );
}

#[test]
fn required_keys() {
    assert_eq!(
        err("duration = \"1s\""),
        "s.toml:1:1: name: missing required key \"name\"; e.g. name = \"broker_crash\""
    );
    assert_eq!(
        err("name = \"x\""),
        "s.toml:1:1: duration: missing required key \"duration\"; e.g. duration = \"60s\""
    );
    assert_eq!(
        err_with("[[topics]]\npartitions = 1\n"),
        "s.toml:20:1: topics[1].name: missing required key \"name\"; e.g. name = \"orders\""
    );
    assert_eq!(
        err_with("[[faults]]\nkind = \"crash\"\ntarget = \"broker(1)\"\n"),
        "s.toml:20:1: faults[0].at: missing required key \"at\"; e.g. at = \"10s\""
    );
    assert_eq!(
        err_with("[[faults]]\nat = \"1s\"\n"),
        "s.toml:20:1: faults[0].kind: missing required key \"kind\"; e.g. kind = \"crash\""
    );
    assert!(err_with("[[producers]]\ntopic = \"orders\"\n")
        .contains("producers[1].rate: missing required key \"rate\""));
}

#[test]
fn unknown_keys_list_the_valid_ones() {
    assert_eq!(
        err_with("[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntraget = \"broker(1)\"\n"),
        "s.toml:23:1: faults[0].traget: unknown key \"traget\"; did you mean \"target\"? valid keys: at, kind, target, groups, one_way, overtake, restart_after, resume_after, heal_after, factor, delay, torn"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\n[cluster]\nbrokers = 3\nnodes = 4\n"),
        "s.toml:5:1: cluster.nodes: unknown key \"nodes\"; valid keys: brokers, controllers, config"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\nsetle = \"1s\"\n"),
        "s.toml:3:1: setle: unknown key \"setle\"; did you mean \"settle\"? valid keys: name, description, duration, settle, cluster, topics, producers, consumers, pipelines, network, disk, protocol, faults, admin, swarm, check, anomaly"
    );
    assert_eq!(
        err_with("[network]\nlatency = { min = \"1ms\", mx = \"2ms\" }\n"),
        "s.toml:21:26: network.latency.mx: unknown key \"mx\"; valid keys: min, max"
    );
    assert_eq!(
        err_with("[disk]\nduration = \"1s\"\n"),
        "s.toml:21:1: disk.duration: unknown key \"duration\"; duration is a top-level key: put it before the first [table] header; valid keys: fsync_latency, writeback_interval, dirty_expire, torn_writes"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\nbrokers = 3\n"),
        "s.toml:3:1: brokers: unknown key \"brokers\"; brokers belongs in [cluster]; valid keys: name, description, duration, settle, cluster, topics, producers, consumers, pipelines, network, disk, protocol, faults, admin, swarm, check, anomaly"
    );
    assert!(err_with("[swarm]\nrestart = 1\n").starts_with("s.toml:21:1: swarm.restart: unknown key \"restart\"; valid keys: crash, power_loss, pause, partition, slow_disk, latency, corrupt"));
}

#[test]
fn type_errors() {
    assert_eq!(
        err("name = 5\nduration = \"1s\"\n"),
        "s.toml:1:8: name: expected a string, found integer 5"
    );
    assert_eq!(
        err("name = \"x\"\nduration = 60\n"),
        "s.toml:2:12: duration: durations are strings with a unit; found integer 60; valid: a number with a unit ns|us|ms|s|m|h, e.g. \"250ms\""
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"10 sec\"\n"),
        "s.toml:2:12: duration: invalid duration \"10 sec\"; valid: a number with a unit ns|us|ms|s|m|h, e.g. \"250ms\""
    );
    assert_eq!(err("name = \"x\"\nduration = \"0s\"\n"), "s.toml:2:12: duration: a zero duration is not valid; valid: a duration above 0, e.g. \"5s\"");
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\ncluster = 3\n"),
        "s.toml:3:11: cluster: expected a table, found integer 3"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\ntopics = \"orders\"\n"),
        "s.toml:3:10: topics: expected an array of tables, [[topics]], found string \"orders\""
    );
    assert_eq!(
        err_with("[disk]\ntorn_writes = \"yes\"\n"),
        "s.toml:21:15: disk.torn_writes: expected true or false, found string \"yes\""
    );
    assert_eq!(
        err_with("[protocol]\ntruncation = \"epoch\"\n"),
        "s.toml:21:14: protocol.truncation: \"epoch\" is not valid; valid: \"leader-epoch\" (KIP-101 with KIP-279, Kafka >= 2.0), \"epoch-end-offset\" (KIP-101 alone, Kafka 0.11 to 1.1), \"high-watermark\" (Kafka < 0.11)"
    );
}

#[test]
fn counts_and_sizes() {
    let top = "name = \"x\"\nduration = \"1s\"\n";
    assert_eq!(
        err(&format!("{top}[cluster]\nbrokers = 0\n")),
        "s.toml:4:11: cluster.brokers: 0 is not valid; valid: 1..=1000"
    );
    assert_eq!(
        err(&format!("{top}[cluster]\ncontrollers = -1\n")),
        "s.toml:4:15: cluster.controllers: -1 is not valid; valid: 1..=1000"
    );
    assert_eq!(
        err(&format!("{top}[cluster]\nbrokers = 2\n[[topics]]\nname = \"o\"\nreplication_factor = 3\n")),
        "s.toml:7:22: topics[0].replication_factor: 3 is not valid; valid: 1..=2 (cluster.brokers = 2)"
    );
    assert_eq!(
        err(&format!("{top}[[topics]]\nname = \"o\"\npartitions = 0\n")),
        "s.toml:5:14: topics[0].partitions: 0 is not valid; valid: 1..=10000"
    );
    assert_eq!(
        err(&format!("{top}[cluster]\nbrokers = 1\n[cluster.config]\n\"default.replication.factor\" = 3\n[[topics]]\nname = \"o\"\n")),
        "s.toml:7:1: topics[0].replication_factor: not given, so it would be default.replication.factor = 3 from [cluster.config]; valid: replication_factor = 1..=1"
    );
    assert_eq!(
        err_with("[[consumers]]\ntopic = \"orders\"\ngroup = \"g\"\ncount = 0\n"),
        "s.toml:23:9: consumers[1].count: 0 is not valid; valid: 1..=1000"
    );
    assert_eq!(
        err_with("[[producers]]\ntopic = \"orders\"\nrate = \"1/s\"\nkeys = -5\n"),
        "s.toml:23:8: producers[1].keys: -5 is not valid; valid: 0..=10000000"
    );
}

#[test]
fn topics_and_groups() {
    assert_eq!(
        err_with("[[topics]]\nname = \"orders\"\n"),
        "s.toml:21:8: topics[1].name: topic \"orders\" is already defined in topics[0]; valid: a unique name"
    );
    assert!(
        err_with("[[topics]]\nname = \"a.b\"\n[[topics]]\nname = \"a_b\"\n")
            .contains("topics[2].name: topic \"a_b\" collides with topic \"a.b\" of topics[1]")
    );
    assert!(err_with("[[topics]]\nname = \"my topic\"\n").contains(
        "topics[1].name: topic name \"my topic\" is illegal; valid: 1 to 249 ASCII letters"
    ));
    assert!(err_with("[[topics]]\nname = \"__consumer_offsets\"\n")
        .contains("is an internal Kafka topic"));
    assert_eq!(
        err_with("[[producers]]\ntopic = \"ordres\"\nrate = 5\n"),
        "s.toml:21:9: producers[1].topic: unknown topic \"ordres\"; did you mean \"orders\"? valid: orders"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\n[[consumers]]\ntopic = \"t\"\ngroup = \"g\"\n"),
        "s.toml:4:9: consumers[0].topic: unknown topic \"t\"; no [[topics]] are defined: add one with name = \"t\""
    );
    assert!(
        err_with("[[consumers]]\ntopic = \"orders\"\ngroup = \"\"\n")
            .contains("consumers[1].group: group \"\" is not valid")
    );
}

#[test]
fn rates() {
    let s = ok(&format!(
        "{BASE}[[producers]]\ntopic = \"orders\"\nrate = 250\n"
    ));
    assert_eq!(
        s.producers[1].rate,
        Rate {
            records: 250,
            per_ns: 1_000_000_000
        }
    );
    assert_eq!(
        err_with("[[producers]]\ntopic = \"orders\"\nrate = \"fast\"\n"),
        "s.toml:22:8: producers[1].rate: invalid rate \"fast\"; valid: records per period such as \"1000/s\", \"60/m\", \"5/ms\" or \"10/250ms\", or a number of records per second"
    );
    assert!(err_with("[[producers]]\ntopic = \"orders\"\nrate = 0\n")
        .contains("producers[1].rate: rate 0 sends no records"));
    assert!(err_with("[[producers]]\ntopic = \"orders\"\nrate = 1.5\n")
        .contains("expected a rate: records per period"));
}

#[test]
fn kafka_configs() {
    assert_eq!(
        err_with("[[producers]]\ntopic = \"orders\"\nrate = 1\nconfig = { acks = \"2\" }\n"),
        "s.toml:23:19: producers[1].config.acks: \"2\" is not valid; valid: all, -1, 0, 1"
    );
    assert_eq!(
        err_with("[[producers]]\ntopic = \"orders\"\nrate = 1\nconfig = { \"lingr.ms\" = 5 }\n"),
        "s.toml:23:12: producers[1].config.\"lingr.ms\": unknown producer config \"lingr.ms\"; did you mean \"linger.ms\"?"
    );
    assert_eq!(
        err("name = \"x\"\nduration = \"1s\"\n[cluster.config]\n\"min.insync.replicas\" = 0\n"),
        "s.toml:4:25: cluster.config.\"min.insync.replicas\": 0 is below the minimum 1"
    );
    assert_eq!(
        err_with("[[producers]]\ntopic = \"orders\"\nrate = 1\nconfig = { \"enable.idempotence\" = true, acks = 1 }\n"),
        "s.toml:23:48: producers[1].config.acks: Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence. (acks is \"1\"; valid with enable.idempotence = true: \"all\" or -1)"
    );
    assert!(err_with("[[topics]]\nname = \"t\"\nconfig = { \"log.flush.interval.messages\" = 1 }\n")
        .contains("topics[1].config.\"log.flush.interval.messages\": unknown topic config \"log.flush.interval.messages\"; did you mean \"flush.messages\"?"));
    // Unquoted dotted keys nest tables in TOML; they mean the same config.
    let s = ok("name = \"x\"\nduration = \"1s\"\n[cluster.config]\nmin.insync.replicas = 2\nunclean.leader.election.enable = \"true\"\n");
    assert_eq!(s.cluster.config.get_i64("min.insync.replicas"), Some(2));
    assert_eq!(
        s.cluster
            .config
            .values()
            .get("unclean.leader.election.enable"),
        Some(&ConfigValue::Bool(true))
    );
    assert_eq!(s.cluster.config.scope(), Scope::Broker);
    let s = ok(&format!("{BASE}[[producers]]\ntopic = \"orders\"\nrate = 1\nconfig = {{ acks = -1, \"linger.ms\" = \"5\" }}\n"));
    assert_eq!(
        s.producers[1].config.get_str("acks").as_deref(),
        Some("all")
    );
    assert_eq!(s.producers[1].config.get_i64("linger.ms"), Some(5));
    assert!(err_with("[[consumers]]\ntopic = \"orders\"\ngroup = \"g\"\nconfig = { \"session.timeout.ms\" = 2000 }\n")
        .contains("consumers[1].config.\"session.timeout.ms\": Heartbeat must be set lower than the session timeout"));
}

#[test]
fn latency_ranges() {
    assert_eq!(
        err_with("[network]\nlatency = { min = \"10ms\" }\n"),
        "s.toml:21:19: network.latency.min: min 10ms is above max 5ms; valid: min <= max"
    );
    let s = ok(&format!("{BASE}[disk]\nfsync_latency = {{ min = \"0s\", max = \"2ms\" }}\ndirty_expire = \"0s\"\ntorn_writes = true\n"));
    assert_eq!(
        (s.disk.fsync_latency_min_ns, s.disk.fsync_latency_max_ns),
        (0, 2_000_000)
    );
    assert_eq!(s.disk.dirty_expire_ns, 0);
    assert!(s.disk.torn_writes);
    assert!(err_with("[disk]\nwriteback_interval = \"0ms\"\n")
        .contains("disk.writeback_interval: a zero duration is not valid"));
}

#[test]
fn swarm_and_check() {
    assert_eq!(
        err_with("[swarm]\ncrash = -1\n"),
        "s.toml:21:9: swarm.crash: integer -1 is not valid; valid: faults per simulated minute, a number in 0..=1000"
    );
    assert!(err_with("[swarm]\ncrash = 1e400\n").contains("swarm.crash: float 1e400 is not valid"));
    assert!(err_with("[swarm]\ncrash = nan\n").contains("swarm.crash: float nan is not valid"));
    let s = ok(&format!("{BASE}[swarm]\ncrash = 3\ncorrupt = 0.25\n"));
    let rates = s.swarm.map(|w| w.rates_per_min).unwrap_or_default();
    assert_eq!(
        rates.into_iter().collect::<Vec<_>>(),
        vec![(FaultKind::Crash, 3.0), (FaultKind::Corrupt, 0.25)]
    );
    assert!(err_with("[check]\ninvariants = [\"no_duplicate\"]\n")
        .starts_with("s.toml:21:15: check.invariants[0]: unknown invariant \"no_duplicate\"; did you mean \"no_duplicates\"? valid: acked_writes_durable,"));
    assert_eq!(
        err_with("[check]\ninvariants = [\"no_duplicates\", \"no_duplicates\"]\n"),
        "s.toml:21:32: check.invariants[1]: no_duplicates is listed twice; valid: each invariant once"
    );
    assert_eq!(
        ok(&format!("{BASE}[check]\ninvariants = []\n"))
            .check
            .invariants,
        vec![]
    );
}

#[test]
fn odd_but_valid_files() {
    let s = ok("\u{feff}name = \"x\"\r\nduration = \"1s\"\r\n[cluster]\r\nbrokers = 1\r\n");
    assert_eq!(s.cluster.brokers, 1);
    assert_eq!(
        err("name = \"x\"\r\nduration = \"1s\"\r\n[cluster]\r\nbrokers = 0\r\n"),
        "s.toml:4:11: cluster.brokers: 0 is not valid; valid: 1..=1000"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}1{}", "{a=".repeat(5000), "}".repeat(5000));
    let e = err(&format!(
        "name = \"x\"\nduration = \"1s\"\n[cluster]\nconfig = {deep}\n"
    ));
    assert!(e.starts_with("s.toml:4:"), "{e}");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let e = err(&format!(
        "name = \"x\"\nduration = \"1s\"\n[check]\ninvariants = {deep}\n"
    ));
    assert!(e.starts_with("s.toml:4:"), "{e}");
}

#[test]
fn load_errors_name_the_file() {
    let e = load(std::path::Path::new("/no/such/file.toml")).map(|_| ());
    let e = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        e.starts_with("/no/such/file.toml: cannot read the scenario file: "),
        "{e}"
    );
}

#[test]
fn keys_are_bounded() {
    let base = r#"name = "k"
duration = "10s"
[[topics]]
name = "orders"
partitions = 1
replication_factor = 1
[cluster]
brokers = 1
controllers = 1
[[producers]]
topic = "orders"
count = 1
rate = "10/s"
"#;
    assert!(crate::scenario::parse(&format!("{base}keys = 10000000\n"), "s.toml").is_ok());
    let err = crate::scenario::parse(&format!("{base}keys = 10000001\n"), "s.toml")
        .expect_err("too many keys")
        .to_string();
    assert!(err.contains("keys") && err.contains("10000000"), "{err}");
}
