//! Compression end to end: producers compress with every codec, a topic
//! recompresses to its own `compression.type`, acknowledged writes survive
//! crashes whatever the codec, and `ksim dump-log` shows each batch's
//! `compresscodec` and compressed size.

mod common;

use std::path::Path;

use common::{ksim, scratch, stderr, stdout};
use ksim::harness::{run, RunOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_text() -> String {
    std::fs::read_to_string(root().join("scenarios/compression.toml")).expect("ships")
}

fn dump(dir: &Path, file: &str, partition: &str) -> String {
    let out = ksim(
        dir,
        &[
            "dump-log",
            file,
            "--seed",
            "1",
            "--at",
            "30s",
            "--broker",
            "1",
            "--partition",
            partition,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    stdout(&out)
}

/// (codec, size) of every batch line of a dump.
fn batches(dump: &str) -> Vec<(String, u64)> {
    dump.lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .map(|l| {
            let field = |name: &str| {
                let at = l.find(name).expect("field") + name.len();
                l[at..].split(' ').next().expect("value").to_owned()
            };
            (
                field("compresscodec: "),
                field(" size: ").parse().expect("size"),
            )
        })
        .collect()
}

#[test]
fn acked_writes_survive_crashes_whatever_the_codec_and_runs_repeat() {
    let scenario = ksim::scenario::parse(&scenario_text(), "compression.toml").expect("parses");
    let options = RunOptions::default();
    for seed in 0..2 {
        let a = run(&scenario, seed, &options).expect("runs");
        let b = run(&scenario, seed, &options).expect("runs");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert!(a.violations.is_empty(), "seed {seed}: {:?}", a.violations);
        assert!(
            a.stats.records_acked > 50_000,
            "seed {seed}: {}",
            a.stats.records_acked
        );
    }
}

#[test]
fn dump_log_shows_the_producers_codecs_and_the_topics_recompression() {
    let dir = scratch("compression", "codecs");
    std::fs::write(dir.join("compression.toml"), scenario_text()).expect("write");
    // orders keeps what its producers sent: gzip and zstd batches.
    let orders = batches(&dump(&dir, "compression.toml", "orders-0"));
    let codecs: std::collections::BTreeSet<&str> = orders.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codecs, ["gzip", "zstd"].into());
    // events is lz4 (its compression.type), though its producer sent snappy.
    let text = dump(&dir, "compression.toml", "events-0");
    let events = batches(&text);
    assert!(events.len() > 100);
    assert!(events.iter().all(|(c, _)| c == "lz4"), "{events:?}");
    let head: Vec<&str> = text.lines().take(10).collect();
    insta::assert_snapshot!("events_lz4", head.join("\n"));
    // The same workload uncompressed: the batches are several times larger.
    let plain = scenario_text()
        .replace(r#", "compression.type" = "gzip""#, "")
        .replace(
            r#", "compression.type" = "zstd", "compression.zstd.level" = 6"#,
            "",
        );
    assert!(!plain.contains(r#"= "gzip""#) && !plain.contains(r#"= "zstd""#));
    std::fs::write(dir.join("plain.toml"), plain).expect("write");
    let plain = batches(&dump(&dir, "plain.toml", "orders-0"));
    assert!(plain.iter().all(|(c, _)| c == "none"));
    let per_record = |b: &[(String, u64)], text_records: usize| {
        b.iter().map(|(_, s)| s).sum::<u64>() as f64 / text_records as f64
    };
    let orders_text = dump(&dir, "compression.toml", "orders-0");
    let plain_text = dump(&dir, "plain.toml", "orders-0");
    let records = |t: &str| t.lines().filter(|l| l.starts_with("| offset: ")).count();
    let compressed = per_record(&orders, records(&orders_text));
    let uncompressed = per_record(&plain, records(&plain_text));
    assert!(
        compressed * 3.0 < uncompressed,
        "{compressed:.1} bytes per record compressed, {uncompressed:.1} not"
    );
}

#[test]
fn a_gzip_level_kafka_refuses_is_a_scenario_error() {
    let dir = scratch("compression", "level");
    let text = scenario_text().replace(
        r#""compression.type" = "gzip" }"#,
        r#""compression.type" = "gzip", "compression.gzip.level" = 0 }"#,
    );
    std::fs::write(dir.join("bad.toml"), text).expect("write");
    let out = ksim(&dir, &["check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("compression.gzip.level"), "{err}");
    assert!(err.contains("1..9, or -1"), "{err}");
}
