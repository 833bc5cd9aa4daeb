//! Mutation fuzzing of the scenario parser: thousands of corrupted scenario
//! files must each give `Ok` or a located `Err`, never a panic.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Valid scenarios that use every section and fault kind.
const INLINE: &[&str] = &[
    r#"name = "every_fault"
description = "Every fault kind once."
duration = "30s"
settle = "10s"

[cluster]
brokers = 4
controllers = 1
[cluster.config]
"min.insync.replicas" = 2
"log.flush.interval.messages" = "1"
"offsets.topic.replication.factor" = 3

[[topics]]
name = "my-topic"
partitions = 2
replication_factor = 3
config = { "flush.ms" = 1000, "cleanup.policy" = "delete" }

[[topics]]
name = "audit.log"

[[producers]]
topic = "my-topic"
count = 3
rate = "10/250ms"
keys = 0
config = { acks = 1, "enable.idempotence" = "false", "max.in.flight.requests.per.connection" = 10 }

[[consumers]]
topic = "my-topic"
group = "g1"
count = 2
config = { "partition.assignment.strategy" = ["roundrobin"], "isolation.level" = "read_committed" }

[[consumers]]
topic = "audit.log"
group = "g1"

[network]
latency = { min = "100us", max = "2ms" }

[disk]
fsync_latency = "3ms"
writeback_interval = "1s"
dirty_expire = "5s"
torn_writes = true

[protocol]
truncation = "high-watermark"

[[faults]]
at = "1s"
kind = "crash"
target = "broker(4)"
restart_after = "2s"

[[faults]]
at = "2s"
kind = "power_loss"
target = "followers(my-topic-1)"
torn = true

[[faults]]
at = "3s"
kind = "restart"
target = "followers(my-topic-1)"

[[faults]]
at = "4s"
kind = "pause"
target = "consumer(g1, 2)"
resume_after = "1s"

[[faults]]
at = "5s"
kind = "resume"
target = "coordinator(g1)"

[[faults]]
at = "6s"
kind = "partition"
groups = [["controller(active)", "producer(2)"], ["random_broker"]]
one_way = true

[[faults]]
at = "7s"
kind = "heal"

[[faults]]
at = "8s"
kind = "slow_disk"
target = "controller(1)"
factor = 4
heal_after = "1s"

[[faults]]
at = "9s"
kind = "latency"
delay = "20ms"
heal_after = "1s"

[[faults]]
at = "10s"
kind = "corrupt"
target = "leader(audit.log-0)"

[swarm]
crash = 1
latency = 0.5

[check]
invariants = ["no_duplicates", "eventually_available"]
"#,
    r#"name = "minimal"
duration = "1m"
"#,
    r#"name = "dotted"
duration = "2m"
[cluster.config]
min.insync.replicas = 1
unclean.leader.election.enable = true
[[topics]]
name = "t"
partitions = 1
[[producers]]
topic = "t"
rate = 5
config.linger.ms = 10
config.acks = "0"
"#,
];

/// Replacement strings: values and keys that look valid in some place.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "broker(1)", "broker(0)", "broker(99)", "controller(active)", "controller(2)",
    "leader(orders-0)", "leader(orders-99)", "follower(my-topic-1)", "followers(orders-0)",
    "coordinator(billing)", "coordinator(nope)", "consumer(billing, 1)", "consumer(g1, 9)",
    "producer(0)", "producer(7)", "random_broker", "all_brokers", "crash", "restart", "power_loss",
    "pause", "resume", "partition", "heal", "slow_disk", "latency", "corrupt", "1ms", "0s", "999h",
    "1.5s", "10 sec", "1000/s", "0/s", "5/ms", "orders", "billing", "g1", "my-topic", "acks", "all",
    "-1", "2", "true", "earliest", "high-watermark", "leader-epoch", "", "é", "a b",
    "__consumer_offsets", "min.insync.replicas", "linger.ms", "no_duplicates",
    "acked_writes_durable", "range,sticky", "org.apache.kafka.clients.consumer.RangeAssignor",
];

/// Bare keys that appear in scenario files, to swap for one another.
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "name", "description", "duration", "settle", "cluster", "brokers", "controllers", "config",
    "topics", "partitions", "replication_factor", "producers", "consumers", "topic", "count",
    "rate", "keys", "group", "network", "latency", "min", "max", "disk", "fsync_latency",
    "torn_writes", "protocol", "truncation", "faults", "at", "kind", "target", "groups", "one_way",
    "restart_after", "resume_after", "heal_after", "factor", "delay", "torn", "swarm", "check",
    "invariants", "crash", "nope",
];

#[rustfmt::skip]
const NUMBERS: &[&str] = &[
    "0", "-1", "1", "2", "99999999999999999999", "1e400", "\"x\"", "4294967296",
    "-9223372036854775808", "9223372036854775807", "nan", "inf", "1.5", "0x10", "true", "[]", "{}",
];

const BYTES: &[u8] = b"[]{}=,.#\n\"'0123456789-_ \tabcxyz\\()";

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Byte ranges of `text` where `pred` holds for every byte, maximal runs.
fn runs(text: &str, pred: impl Fn(u8) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if pred(bytes[i]) {
            let start = i;
            while i < bytes.len() && pred(bytes[i]) {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

/// Quoted strings `"..."` (without escapes) as byte ranges of their contents.
fn strings(text: &str) -> Vec<(usize, usize)> {
    let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
    quotes
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0] + 1, c[1]))
        .collect()
}

fn splice(text: &str, (start, end): (usize, usize), with: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(with.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn mutate(rng: &mut ChaCha8Rng, text: &str) -> String {
    let len = text.len();
    let at = if len == 0 {
        0
    } else {
        rng.random_range(0..len)
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let line = rng.random_range(0..lines.len());
    match rng.random_range(0..11) {
        0 => splice(text, (at, (at + 1).min(len)), ""),
        1 => {
            let b = BYTES[rng.random_range(0..BYTES.len())];
            splice(text, (at, at), &(b as char).to_string())
        }
        2 => {
            let b = BYTES[rng.random_range(0..BYTES.len())];
            splice(text, (at, (at + 1).min(len)), &(b as char).to_string())
        }
        3 => {
            let mut l = lines.clone();
            l.insert(line, lines[line]);
            l.join("\n")
        }
        4 => {
            let mut l = lines.clone();
            let other = rng.random_range(0..lines.len());
            l.swap(line, other);
            l.join("\n")
        }
        5 => {
            let mut l = lines.clone();
            l.remove(line);
            l.join("\n")
        }
        6 => {
            let numbers = runs(text, |b| b.is_ascii_digit());
            match numbers.get(rng.random_range(0..numbers.len().max(1))) {
                Some(&r) => splice(text, r, pick(rng, NUMBERS)),
                None => text.to_owned(),
            }
        }
        7 => {
            let s = strings(text);
            match s.get(rng.random_range(0..s.len().max(1))) {
                Some(&r) => splice(text, r, pick(rng, WORDS)),
                None => text.to_owned(),
            }
        }
        8 => {
            let words = runs(text, |b| b.is_ascii_lowercase() || b == b'_');
            let keys: Vec<_> = words
                .into_iter()
                .filter(|&(s, e)| KEYS.contains(&&text[s..e]))
                .collect();
            match keys.get(rng.random_range(0..keys.len().max(1))) {
                Some(&r) => splice(text, r, pick(rng, KEYS)),
                None => text.to_owned(),
            }
        }
        9 => String::from_utf8_lossy(&text.as_bytes()[..at]).into_owned(),
        _ => {
            let extra = [
                "\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"broker(1)\"\n",
                "\n[swarm]\npause = 2\n",
                "\nx = 1\n",
                "\n[check]\ninvariants = [\"monotonic_poll\"]\n",
            ];
            splice(text, (at, at), pick(rng, &extra))
        }
    }
}

/// `line:col` of an error must point into `text`.
fn check_error(text: &str, file: &str, e: &ksim::scenario::ScenarioError) {
    let shown = e.to_string();
    let prefix = format!("{file}:{}:{}: ", e.line, e.col);
    assert!(
        shown.starts_with(&prefix),
        "{shown:?} does not start with {prefix:?}"
    );
    assert!(!e.message.is_empty(), "empty message: {shown}");
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} of {} in {shown}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    assert!(
        e.col >= 1 && e.col <= width + 1,
        "col {} of width {width} in {shown}",
        e.col
    );
}

/// What an `Ok` scenario promises.
fn check_ok(s: &ksim::scenario::Scenario) {
    assert!(s.duration_ns > 0 && !s.name.is_empty());
    assert!(s.cluster.brokers >= 1 && s.cluster.controllers >= 1);
    for t in &s.topics {
        assert!(
            t.partitions >= 1
                && t.replication_factor >= 1
                && t.replication_factor <= s.cluster.brokers
        );
    }
    for p in &s.producers {
        assert!(
            p.count >= 1
                && p.rate.records >= 1
                && p.rate.per_ns >= 1
                && s.topic(&p.topic).is_some()
        );
    }
    for f in &s.faults {
        assert!(f.at_ns < s.duration_ns);
        for t in f.target.iter().chain(f.groups.iter().flatten()) {
            assert_eq!(
                t.to_string().parse::<ksim::scenario::Target>().as_ref(),
                Ok(t)
            );
        }
    }
    assert!(s.network.latency_min_ns <= s.network.latency_max_ns);
    assert!(serde_json::to_string(s).is_ok());
    let written = s.to_toml();
    match ksim::scenario::parse(&written, "written.toml") {
        Ok(again) => assert_eq!(&again, s, "{written}"),
        Err(e) => panic!("to_toml wrote an invalid scenario: {e}\n{written}"),
    }
}

#[test]
fn mutated_scenarios_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seeds: Vec<(String, String)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| {
            Some((
                format!("scenarios/{}", p.file_name()?.to_str()?),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 5,
        "scenario files missing from {}",
        dir.display()
    );
    for (i, text) in INLINE.iter().enumerate() {
        seeds.push((format!("inline-{i}.toml"), (*text).to_owned()));
    }
    for (file, text) in &seeds {
        if let Err(e) = ksim::scenario::parse(text, file) {
            panic!("seed scenario does not parse: {e}");
        }
    }

    // KSIM_FUZZ_CASES / KSIM_FUZZ_SEED run a longer or different sweep locally.
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(env("KSIM_FUZZ_SEED", 0x6b73_696d));
    let (mut oks, mut errs) = (0u64, 0u64);
    let show = std::env::var_os("KSIM_FUZZ_SHOW").is_some(); // print every error
    let per_seed = env("KSIM_FUZZ_CASES", 20_000) as usize / seeds.len();
    for (file, original) in &seeds {
        for _ in 0..per_seed {
            let mut text = original.clone();
            for _ in 0..rng.random_range(1..=3) {
                text = mutate(&mut rng, &text);
            }
            let result = std::panic::catch_unwind(|| ksim::scenario::parse(&text, file));
            match result {
                Ok(Ok(s)) => {
                    check_ok(&s);
                    oks += 1;
                }
                Ok(Err(e)) => {
                    check_error(&text, file, &e);
                    if show {
                        eprintln!("{e}");
                    }
                    errs += 1;
                }
                Err(_) => panic!("parse panicked on this input of {file}:\n{text}"),
            }
        }
    }
    eprintln!("{oks} mutated scenarios parsed, {errs} rejected");
    assert!(oks + errs >= 5000);
    assert!(
        oks > 100 && errs > 1000,
        "poor mix: {oks} ok, {errs} errors"
    );
}
