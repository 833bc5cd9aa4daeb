//! `ksim export-logs`: the exported log directory is Kafka's layout with
//! the simulated disk's bytes. Every exported `.log` is decoded with an
//! independent implementation of Kafka's v2 batch format (the
//! `kafka-protocol` crate, compression included) and compared with ksim's
//! own view of the same replica's log at that moment.

mod common;

use std::path::Path;

use bytes::Bytes;
use common::{ksim, scratch, stderr, stdout};
use kafka_protocol::records::RecordBatchDecoder;
use ksim::harness::{Run, RunOptions};
use ksim::protocol::TopicPartition;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// (offset, value) of every record of every batch in `file`, decoded by
/// kafka-protocol, and the batches' CRC-checked count.
fn decode_independently(file: &Path) -> Vec<(i64, Option<Vec<u8>>)> {
    let mut buf = Bytes::from(std::fs::read(file).expect("exported"));
    let sets = RecordBatchDecoder::decode_all(&mut buf).expect("kafka-protocol decodes it");
    sets.into_iter()
        .flat_map(|set| set.records)
        .map(|r| (r.offset, r.value.map(|v| v.to_vec())))
        .collect()
}

#[test]
fn exported_segments_decode_independently_to_ksims_view() {
    let dir = scratch("export_logs", "compression");
    let scenario_file = root().join("scenarios/compression.toml");
    let out_dir = dir.join("broker-1");
    let out = ksim(
        &dir,
        &[
            "export-logs",
            scenario_file.to_str().expect("utf-8"),
            "--seed",
            "1",
            "--at",
            "30s",
            "--broker",
            "1",
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("exported broker 1's log directory at 30s"));
    // ksim's own view at the same moment.
    let text = std::fs::read_to_string(&scenario_file).expect("ships");
    let scenario = ksim::scenario::parse(&text, "compression.toml").expect("parses");
    let mut run = Run::start(&scenario, 1, &RunOptions::default()).expect("starts");
    run.advance_to(30 * sim::SECONDS);
    let broker = run.broker(1).expect("broker 1 runs");
    let mut compared = 0;
    for partition in ["orders-0", "orders-1", "events-0"] {
        let part_dir = out_dir.join(partition);
        assert!(
            part_dir.join("partition.metadata").exists(),
            "{partition}: partition.metadata"
        );
        assert!(part_dir.join("leader-epoch-checkpoint").exists());
        let (topic, index) = partition.rsplit_once('-').expect("TOPIC-N");
        let tp = TopicPartition::new(topic, index.parse().expect("N"));
        let log = &broker
            .replica_manager()
            .partition(&tp)
            .expect("broker 1 hosts it")
            .log;
        let mut theirs = Vec::new();
        for segment in log.segment_files() {
            let name = segment.rsplit('/').next().expect("file name");
            let file = part_dir.join(name);
            assert!(file.with_extension("index").exists(), "{name}: .index");
            assert!(
                file.with_extension("timeindex").exists(),
                "{name}: .timeindex"
            );
            theirs.extend(decode_independently(&file));
        }
        let mut ours = Vec::new();
        for batch in log.batches() {
            batch.for_each_record(|r| {
                ours.push((
                    (batch.base_offset + u64::from(r.offset_delta)) as i64,
                    r.value.map(<[u8]>::to_vec),
                ))
            });
        }
        assert!(ours.len() > 100, "{partition}: {} records", ours.len());
        assert_eq!(theirs.len(), ours.len(), "{partition}: record counts");
        assert!(theirs == ours, "{partition}: offsets and values differ");
        compared += ours.len();
    }
    assert!(compared > 1_000);
    // The high watermark checkpoint (every 5 s) is there as the disk
    // holds it; the recovery points are first written at 60 s.
    let bytes = std::fs::read(out_dir.join("replication-offset-checkpoint")).expect("written");
    assert!(bytes.starts_with(b"0\n"));
    assert!(!out_dir.join("recovery-point-offset-checkpoint").exists());
}

#[test]
fn the_durable_view_holds_at_most_what_the_page_cache_does() {
    let dir = scratch("export_logs", "durable");
    let scenario_file = root().join("scenarios/broker_crash.toml");
    let export = |name: &str, durable: bool| {
        let target = dir.join(name);
        let mut args = vec![
            "export-logs".to_owned(),
            scenario_file.to_str().expect("utf-8").to_owned(),
            "--seed".to_owned(),
            "3".to_owned(),
            "--at".to_owned(),
            "20s".to_owned(),
            "--broker".to_owned(),
            "2".to_owned(),
            "--out".to_owned(),
            target.to_str().expect("utf-8").to_owned(),
        ];
        if durable {
            args.push("--durable".to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ksim(&dir, &args);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        target.join("orders-0/00000000000000000000.log")
    };
    let cached = std::fs::read(export("cached", false)).expect("cached segment");
    let durable = std::fs::read(export("durable", true)).unwrap_or_default();
    assert!(
        durable.len() < cached.len(),
        "nothing is fsynced by default"
    );
    assert_eq!(cached[..durable.len()], durable[..]);
    // A second export to the same directory is refused.
    let again = ksim(
        &dir,
        &[
            "export-logs",
            scenario_file.to_str().expect("utf-8"),
            "--broker",
            "2",
            "--out",
            dir.join("cached").to_str().expect("utf-8"),
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("holds files already"));
}
