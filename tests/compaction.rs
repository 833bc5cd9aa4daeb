//! Compaction end to end: the log cleaner compacts every replica of a
//! `cleanup.policy = compact` topic under faults, keeps each key's latest
//! acknowledged value (`compaction_keeps_latest`), counts what it removed,
//! and `kafka-dump-log` shows the cleaned batches; acks=1 loses latest
//! values, and the checker says so; a keyless record is refused.

mod common;

use std::path::Path;

use common::{ksim, scratch, stderr, stdout};
use ksim::harness::{run, Outcome, RunOptions};
use ksim::scenario::Scenario;

fn shipped() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/compaction.toml");
    std::fs::read_to_string(path).expect("ships")
}

fn parse(text: &str) -> Scenario {
    ksim::scenario::parse(text, "compaction.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    run(s, seed, &RunOptions::default()).expect("runs")
}

fn invariants(o: &Outcome) -> Vec<&str> {
    o.violations.iter().map(|v| v.invariant.as_str()).collect()
}

/// The shipped scenario with `from` replaced by `to` (each must be there).
fn variant(edits: &[(&str, &str)]) -> Scenario {
    let mut text = shipped();
    for (from, to) in edits {
        assert!(text.contains(from), "compaction.toml has {from}");
        text = text.replace(from, to);
    }
    parse(&text)
}

const ACKS_ALL: &str = r#"acks = "all", "enable.idempotence" = true"#;
const TOMBSTONES: &str = "tombstones = 0.1 ";
const NO_TOMBSTONES: &str = "tombstones = 0.0 ";

#[test]
fn every_key_keeps_its_latest_value_and_what_the_cleaner_removed_is_counted() {
    let scenario = parse(&shipped());
    for seed in [1, 2] {
        let a = outcome(&scenario, seed);
        assert!(a.violations.is_empty(), "seed {seed}: {:?}", a.violations);
        assert!(
            a.checked.iter().any(|c| c == "compaction_keeps_latest"),
            "{:?}",
            a.checked
        );
        let s = &a.stats;
        assert!(s.records_acked > 20_000, "seed {seed}: {s:?}");
        // 50 keys overwritten 400 times a second: nearly everything goes.
        assert!(
            s.records_removed_by_compaction > s.records_acked * 9 / 10,
            "seed {seed}: {s:?}"
        );
        let b = outcome(&scenario, seed);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed} repeats");
    }
    // Without the cleaner nothing is removed.
    let off = variant(&[(
        r#""log.cleaner.backoff.ms" = 1000"#,
        r#""log.cleaner.backoff.ms" = 1000
"log.cleaner.enable" = false"#,
    )]);
    let o = outcome(&off, 1);
    assert!(o.violations.is_empty(), "{:?}", o.violations);
    assert_eq!(o.stats.records_removed_by_compaction, 0);
}

#[test]
fn acks_1_loses_latest_values_that_acks_all_keeps() {
    // One record per key at most (100000 keys): a lost write is a key's
    // latest, and no later one replaces it. The leader of profiles-1 loses
    // power; with acks=1 what it acknowledged and had not yet replicated is
    // gone (seeds 0 and 2 of 0..10, where explore finds it). No
    // tombstones: what a follower's absence does to them is the next test.
    let edits = [
        ("keys = 50", "keys = 100000"),
        (
            r#"target = "follower(profiles-1)""#,
            r#"target = "leader(profiles-1)""#,
        ),
        (TOMBSTONES, NO_TOMBSTONES),
    ];
    let all = variant(&edits);
    let mut one_edits = edits.to_vec();
    one_edits.push((ACKS_ALL, r#"acks = "1", "enable.idempotence" = false"#));
    let one = variant(&one_edits);
    for seed in [0, 2] {
        let kept = outcome(&all, seed);
        assert!(
            kept.violations.is_empty(),
            "acks=all, seed {seed}: {:?}",
            kept.violations
        );
        let lost = outcome(&one, seed);
        let found = invariants(&lost);
        assert!(
            found.contains(&"compaction_keeps_latest"),
            "seed {seed}: {found:?}"
        );
        let v = lost
            .violations
            .iter()
            .find(|v| v.invariant == "compaction_keeps_latest")
            .unwrap();
        assert!(
            v.detail.contains("its latest acknowledged record") && v.detail.contains("is gone"),
            "{}",
            v.detail
        );
    }
}

#[test]
fn an_unclean_election_loses_latest_values_a_clean_one_keeps() {
    // min.insync.replicas=1: the followers of profiles-0 are cut off and
    // drop out of the ISR, the leader goes on alone, then crashes. With
    // unclean.leader.election.enable an out-of-sync follower takes over and
    // keys lose their latest values; without, the partition waits.
    let base = [
        (
            r#""min.insync.replicas" = 2"#,
            "\"min.insync.replicas\" = 1\n\"replica.lag.time.max.ms\" = 5000",
        ),
        ("keys = 50", "keys = 100000"),
        (
            r#"at = "8s"
kind = "power_loss"
target = "follower(profiles-1)"
restart_after = "4s""#,
            r#"at = "10s"
kind = "partition"
groups = [["followers(profiles-0)"]]
heal_after = "30s""#,
        ),
        (
            r#"target = "leader(profiles-0)"
restart_after = "5s""#,
            r#"target = "leader(profiles-0)"
restart_after = "25s""#,
        ),
        ("partition = 1.0", "partition = 0.0"),
    ];
    let clean = variant(&base);
    let mut unclean_edits = base.to_vec();
    unclean_edits.push((
        "\"replica.lag.time.max.ms\" = 5000",
        "\"replica.lag.time.max.ms\" = 5000\n\"unclean.leader.election.enable\" = true",
    ));
    let unclean = variant(&unclean_edits);
    let seed = 1;
    let kept = outcome(&clean, seed);
    assert!(kept.violations.is_empty(), "{:?}", kept.violations);
    let lost = outcome(&unclean, seed);
    assert!(
        invariants(&lost).contains(&"compaction_keeps_latest"),
        "{:?}",
        invariants(&lost)
    );
}

#[test]
fn the_groups_offsets_topic_is_compacted_too() {
    use ksim::harness::Run;
    use ksim::protocol::TopicPartition;
    let scenario = parse(&shipped());
    let mut run = Run::start(&scenario, 1, &RunOptions::default()).expect("starts");
    run.advance_to(50 * sim::SECONDS);
    // Some replica of some __consumer_offsets partition holds a batch the
    // cleaner rewrote (fewer records than offsets) or removed (a gap).
    let mut cleaned = 0;
    for broker in 1..=3 {
        let Some(b) = run.broker(broker) else {
            continue;
        };
        for p in 0..10 {
            let tp = TopicPartition::new("__consumer_offsets", p);
            let Some(partition) = b.replica_manager().partition(&tp) else {
                continue;
            };
            let batches: Vec<_> = partition.log.batches().collect();
            let rewritten = batches.iter().any(|b| b.is_compacted());
            let gap = batches
                .windows(2)
                .any(|w| w[1].base_offset > w[0].next_offset());
            if rewritten || gap {
                cleaned += 1;
            }
        }
    }
    assert!(cleaned > 0, "no __consumer_offsets replica was compacted");
    // Each broker keeps where its cleaner got to, as Kafka does.
    let disk = run.broker_disk(2).expect("broker 2's disk");
    let checkpoint = disk.read("cleaner-offset-checkpoint").expect("written");
    let text = String::from_utf8_lossy(&checkpoint).into_owned();
    assert!(text.starts_with("0\n"), "{text}");
    assert!(text.contains("profiles 0 "), "{text}");
}

#[test]
fn a_record_without_a_key_is_refused_by_a_compacted_topic() {
    // Kafka's LogValidator: "Compacted topic cannot accept message without key".
    let keyless = variant(&[("keys = 50", "keys = 0"), (TOMBSTONES, NO_TOMBSTONES)]);
    let o = outcome(&keyless, 1);
    assert!(o.stats.records_sent > 1_000);
    assert_eq!(o.stats.records_acked, 0, "{:?}", o.stats);
}

#[test]
fn dump_log_shows_batches_the_cleaner_rewrote() {
    let dir = scratch("compaction", "dump_log");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/compaction.toml");
    let out = ksim(
        &dir,
        &[
            "dump-log",
            path.to_str().unwrap(),
            "--seed",
            "1",
            "--at",
            "20s",
            "--broker",
            "2",
            "--partition",
            "profiles-0",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // A cleaned batch keeps its offsets but holds fewer records, as
    // kafka-dump-log.sh prints it: count below lastOffset - baseOffset + 1.
    let field = |line: &str, name: &str| -> u64 {
        let at = line.find(name).unwrap() + name.len();
        line[at..].split(' ').next().unwrap().parse().unwrap()
    };
    let batches: Vec<(u64, u64, u64)> = text
        .lines()
        .filter(|l| l.starts_with("baseOffset:"))
        .map(|l| {
            (
                field(l, "baseOffset: "),
                field(l, "lastOffset: "),
                field(l, "count: "),
            )
        })
        .collect();
    assert!(batches.len() > 10, "{text}");
    // Offsets rise, with gaps where the cleaner removed whole batches.
    assert!(batches.windows(2).all(|w| w[0].1 < w[1].0), "{batches:?}");
    assert!(
        batches.windows(2).any(|w| w[1].0 > w[0].1 + 1),
        "{batches:?}"
    );
    let first = batches[0];
    assert!(
        first.0 > 0,
        "the cleaner removed the first records: {first:?}"
    );
}

#[test]
fn compaction_configs_are_checked_and_the_cleaners_io_refused() {
    let dir = scratch("compaction", "configs");
    let write = |name: &str, text: &str| {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        file
    };
    let bad_ratio = write(
        "ratio.toml",
        &shipped().replace(
            r#""min.cleanable.dirty.ratio" = 0.01"#,
            r#""min.cleanable.dirty.ratio" = 1.5"#,
        ),
    );
    let out = ksim(&dir, &["run", bad_ratio.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("min.cleanable.dirty.ratio") && stderr(&out).contains("0..1"),
        "{}",
        stderr(&out)
    );
    let threads = write(
        "threads.toml",
        &shipped().replace(
            r#""log.cleaner.backoff.ms" = 1000"#,
            r#""log.cleaner.threads" = 2"#,
        ),
    );
    let out = ksim(&dir, &["run", threads.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("log.cleaner.threads")
            && stderr(&out).contains("not simulated by ksim"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn deleted_keys_leave_the_log_with_their_tombstones() {
    use ksim::harness::Run;
    use ksim::protocol::TopicPartition;
    // 1000 keys, each written about 30 times, a tenth of the writes
    // tombstones. A key whose last write was one, outside the active
    // segment (never cleaned, as Kafka's), and whose tombstone outlived
    // delete.retention.ms (100 ms) at a cleaning is gone from the leaders'
    // logs altogether.
    let scenario = variant(&[("keys = 50", "keys = 1000")]);
    let mut run = Run::start(&scenario, 1, &RunOptions::default()).expect("starts");
    run.advance_to(90 * sim::SECONDS);
    let (mut keys, mut tombstones) = (std::collections::BTreeSet::new(), 0);
    for p in 0..3 {
        let tp = TopicPartition::new("profiles", p);
        let leader = (1..=3)
            .filter_map(|b| run.broker(b))
            .find(|b| {
                b.replica_manager()
                    .partition(&tp)
                    .is_some_and(|p| p.is_leader())
            })
            .expect("a leader");
        let log = &leader.replica_manager().partition(&tp).expect("led").log;
        for batch in log.batches() {
            batch.for_each_record(|r| {
                keys.insert(r.key.map(<[u8]>::to_vec));
                if r.value.is_none() {
                    tombstones += 1;
                    assert!(
                        r.headers.get("ksim.id").is_some(),
                        "its id travels in a header"
                    );
                }
            });
        }
    }
    assert!(tombstones > 0, "recent tombstones are kept");
    assert!(
        keys.len() < 980,
        "{} keys left: none was deleted for good",
        keys.len()
    );
    let outcome = run.finish().expect("finishes");
    assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
}

#[test]
fn tombstones_need_keys() {
    let err = ksim::scenario::parse(&shipped().replace("keys = 50\n", ""), "c.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("c.toml:") && err.contains("tombstones need keys = N"),
        "{err}"
    );
}

#[test]
fn a_replica_away_longer_than_delete_retention_brings_a_deleted_key_back() {
    // Kafka's own caveat on delete.retention.ms: a tombstone is kept that
    // long for whoever reads the log from its start, a lagging replica
    // included. Here 100 ms (as the tutorials set it): the leader of
    // profiles-1 loses power holding an old value of a key (one write per
    // key at most, 100000 keys); while it is away the new leader cleans
    // the key's later tombstone away; back, it fetches past it and keeps the
    // old value: the deleted key is back. With Kafka's default of a day the
    // tombstone waits for it, and the key stays deleted.
    let edits = [
        ("keys = 50", "keys = 100000"),
        (
            r#"target = "follower(profiles-1)""#,
            r#"target = "leader(profiles-1)""#,
        ),
    ];
    let seed = 3;
    let back = outcome(&variant(&edits), seed);
    // One violation per key that came back.
    assert!(!back.violations.is_empty());
    assert!(
        invariants(&back)
            .iter()
            .all(|&i| i == "compaction_keeps_latest"),
        "{:?}",
        back.violations
    );
    assert!(
        back.violations
            .iter()
            .all(|v| v.detail.contains("latest acknowledged tombstone")
                && v.detail.contains("the deleted key is back")),
        "{:?}",
        back.violations
    );
    let mut day = edits.to_vec();
    day.push((
        r#""delete.retention.ms" = 100"#,
        r#""delete.retention.ms" = 86400000"#,
    ));
    let kept = outcome(&variant(&day), seed);
    assert!(kept.violations.is_empty(), "{:?}", kept.violations);
}
