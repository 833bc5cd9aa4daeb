//! The log cleaner on one log: what compaction keeps (each key's latest
//! record, tombstones until their delete horizon, the last batch of an
//! active producer, committed transactions), what it removes, which part
//! of the log it may touch, and that a cleaning cut short by a crash
//! recovers from the disk to the log before or after it.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::tests::{state, Disk};
use super::*;
use crate::node::Effect;

/// A compacted log with small segments (about four 1-record batches each).
fn compacted() -> LogConfig {
    LogConfig {
        segment_bytes: 300,
        compact: true,
        delete_policy: false,
        delete_retention_ms: 5_000,
        ..LogConfig::default()
    }
}

fn fresh_compacted() -> (UnifiedLog, Disk) {
    super::tests::fresh(compacted())
}

/// A one-record batch of `key` (None value: a tombstone) from producer
/// `pid` (-1: none) at `ts`.
fn one(key: &str, value: Option<&str>, pid: i64, seq: i32, ts: u64) -> RecordBatch {
    let mut builder = BatchBuilder::new();
    builder.append_record(Some(key.as_bytes()), value.map(str::as_bytes), ts);
    builder.build(pid, if pid >= 0 { 0 } else { -1 }, seq)
}

fn append(log: &mut UnifiedLog, disk: &mut Disk, batch: &RecordBatch, now: u64) -> Rc<RecordBatch> {
    let mut out = Vec::new();
    let b = log.append_as_leader(batch, 1, now, &mut out);
    disk.apply(&mut out);
    let leo = log.log_end_offset();
    log.update_high_watermark(leo);
    b
}

/// Producer 9's end transaction marker of `control_type`, at 1_001.
fn end_txn(log: &mut UnifiedLog, disk: &mut Disk, control_type: ControlRecordType) {
    let marker = EndTransactionMarker {
        control_type,
        coordinator_epoch: 0,
    };
    let batch = RecordBatch::end_txn_marker(9, 0, marker, 1_001);
    append(log, disk, &batch, 1_001);
}

/// Every record as (offset, key, value).
fn contents(log: &UnifiedLog) -> Vec<(u64, String, Option<String>)> {
    let mut out = Vec::new();
    for batch in log.batches() {
        batch.for_each_record(|r| {
            out.push((
                batch.base_offset + u64::from(r.offset_delta),
                String::from_utf8_lossy(r.key.unwrap_or_default()).into_owned(),
                r.value.map(|v| String::from_utf8_lossy(v).into_owned()),
            ))
        });
    }
    out
}

/// Cleans once at `now` from `checkpoint`; applies the effects.
fn clean(
    log: &mut UnifiedLog,
    disk: &mut Disk,
    checkpoint: Option<u64>,
    now: u64,
    aborted: &[AbortedRange],
    active: &BTreeMap<i64, LastRecord>,
) -> CleanOutcome {
    let to_clean = log.to_clean(checkpoint, log.high_watermark(), now);
    let mut out = Vec::new();
    let outcome = log.clean(&to_clean, now, aborted, active, &mut out);
    disk.apply(&mut out);
    outcome
}

/// 24 values of keys k0..k3 (value i at offset i), then one more record
/// so the last segment is active.
fn keyed(log: &mut UnifiedLog, disk: &mut Disk) {
    for i in 0..24u64 {
        let key = format!("k{}", i % 4);
        append(
            log,
            disk,
            &one(&key, Some(&format!("v{i}")), -1, -1, 1_000 + i),
            1_000 + i,
        );
    }
}

#[test]
fn each_keys_latest_record_stays_and_older_ones_go() {
    let (mut log, mut disk) = fresh_compacted();
    keyed(&mut log, &mut disk);
    assert!(log.segments().len() > 3, "rolled: {}", log.segments().len());
    let before = log.log_end_offset();
    let to_clean = log.to_clean(None, log.high_watermark(), 2_000);
    assert!(to_clean.is_due(0.5), "{to_clean:?}");
    assert_eq!(to_clean.first_dirty_offset, 0);
    let active_base = log.segments().last().unwrap().base_offset();
    assert_eq!(to_clean.first_uncleanable_offset, active_base);
    let outcome = clean(&mut log, &mut disk, None, 2_000, &[], &BTreeMap::new());
    assert_eq!(
        outcome.end_offset, active_base,
        "the new first dirty offset"
    );
    assert_eq!(log.log_end_offset(), before, "the log end offset stays");
    let kept = contents(&log);
    // Below the active segment, one record per key: its latest there (the
    // active segment is not in the offset map).
    let cleaned: Vec<_> = kept.iter().filter(|r| r.0 < active_base).collect();
    let mut latest: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..active_base {
        latest.insert(format!("k{}", i % 4), i);
    }
    assert_eq!(cleaned.len(), 4, "{cleaned:?}");
    for (offset, key, value) in &cleaned {
        assert_eq!(latest[key], *offset, "{key} at {offset} is its latest");
        assert_eq!(value.as_deref(), Some(format!("v{offset}").as_str()));
    }
    assert!(outcome.records_removed > 10, "{outcome:?}");
    assert!(outcome.bytes_after < outcome.bytes_before);
    // Nothing at or past the active segment changed.
    let tail: Vec<u64> = kept
        .iter()
        .filter(|r| r.0 >= active_base)
        .map(|r| r.0)
        .collect();
    assert_eq!(tail, (active_base..before).collect::<Vec<_>>());
    // A second look finds nothing dirty.
    let again = log.to_clean(Some(outcome.end_offset), log.high_watermark(), 2_000);
    assert_eq!(again.cleanable_bytes, 0);
    assert!(!again.is_due(0.5));
    // The disk holds the cleaned log: recovery gives it back.
    let (recovered, _) = disk.recover(compacted(), 0);
    assert_eq!(state(&recovered), state(&log));
    assert!(
        disk.files
            .keys()
            .all(|f| !f.ends_with(".cleaned") && !f.ends_with(".swap")),
        "{:?}",
        disk.files.keys()
    );
    let deleted: Vec<_> = log.take_deleted_files();
    assert!(!deleted.is_empty(), "old segments renamed .deleted");
}

#[test]
fn the_cleaner_never_passes_the_high_watermark_or_the_active_segment() {
    let (mut log, mut disk) = fresh_compacted();
    keyed(&mut log, &mut disk);
    let second = log.segments()[1].base_offset();
    // Last stable offset inside the second segment: only the first is cleanable.
    let to_clean = log.to_clean(None, second + 1, 2_000);
    assert_eq!(to_clean.first_uncleanable_offset, second);
    let mut out = Vec::new();
    let outcome = log.clean(&to_clean, 2_000, &[], &BTreeMap::new(), &mut out);
    assert_eq!(outcome.end_offset, second);
    assert_eq!(outcome.segments_cleaned, 1);
    // min.compaction.lag.ms keeps segments with newer records dirty.
    let (mut lagged, mut disk) = super::tests::fresh(LogConfig {
        min_compaction_lag_ms: 1_000,
        ..compacted()
    });
    keyed(&mut lagged, &mut disk);
    let newest_first = lagged.segments()[2].base_offset();
    // At 2_009 the records from 1_009 on are too young.
    let to_clean = lagged.to_clean(None, lagged.high_watermark(), 2_009);
    assert!(
        to_clean.first_uncleanable_offset <= newest_first,
        "{to_clean:?}"
    );
    assert!(to_clean.first_uncleanable_offset > 0);
}

#[test]
fn the_dirty_ratio_and_the_maximum_lag_decide_when_to_clean() {
    let (mut log, mut disk) = fresh_compacted();
    keyed(&mut log, &mut disk);
    let first = clean(&mut log, &mut disk, None, 2_000, &[], &BTreeMap::new());
    // A little more: dirty, but below the ratio.
    for i in 24..30u64 {
        append(
            &mut log,
            &mut disk,
            &one("k9", Some("x"), -1, -1, 1_000 + i),
            1_000 + i,
        );
    }
    let to_clean = log.to_clean(Some(first.end_offset), log.high_watermark(), 2_000);
    assert!(to_clean.cleanable_bytes > 0);
    let ratio = to_clean.cleanable_ratio();
    assert!(ratio > 0.0 && ratio < 0.9, "{ratio}");
    assert!(!to_clean.is_due(0.9));
    assert!(to_clean.is_due(ratio - 0.01));
    // max.compaction.lag.ms: a dirty segment older than it is due anyway.
    log.set_config(LogConfig {
        max_compaction_lag_ms: 500,
        ..compacted()
    });
    let late = log.to_clean(Some(first.end_offset), log.high_watermark(), 2_000);
    assert!(late.needs_compaction_now);
    assert!(late.is_due(0.9));
    let early = log.to_clean(Some(first.end_offset), log.high_watermark(), 1_100);
    assert!(!early.needs_compaction_now);
}

#[test]
fn a_tombstone_stays_until_its_delete_horizon_passes() {
    let (mut log, mut disk) = fresh_compacted();
    append(
        &mut log,
        &mut disk,
        &one("gone", Some("v"), -1, -1, 1_000),
        1_000,
    );
    append(
        &mut log,
        &mut disk,
        &one("gone", None, -1, -1, 1_001),
        1_001,
    );
    keyed(&mut log, &mut disk);
    let none = BTreeMap::new();
    let first = clean(&mut log, &mut disk, None, 10_000, &[], &none);
    let tombstone = |log: &UnifiedLog| contents(log).iter().any(|r| r.1 == "gone" && r.2.is_none());
    assert!(tombstone(&log), "kept at the first cleaning");
    assert!(
        !contents(&log)
            .iter()
            .any(|r| r.1 == "gone" && r.2.is_some()),
        "its value goes"
    );
    let batch = log.batch_containing(1).expect("the tombstone's batch");
    assert_eq!(
        batch.delete_horizon_ms(),
        Some(15_000),
        "now + delete.retention.ms"
    );
    // A cleaning before the horizon keeps it (recleaning from the start).
    clean(&mut log, &mut disk, None, 14_999, &[], &none);
    assert!(tombstone(&log));
    assert_eq!(
        log.batch_containing(1).unwrap().delete_horizon_ms(),
        Some(15_000)
    );
    clean(&mut log, &mut disk, None, 15_000, &[], &none);
    assert!(!tombstone(&log), "gone once the horizon passed");
    assert!(first.end_offset > 1);
    let (recovered, _) = disk.recover(compacted(), 0);
    assert_eq!(state(&recovered), state(&log));
}

#[test]
fn the_last_batch_of_an_active_producer_stays_empty() {
    let (mut log, mut disk) = fresh_compacted();
    append(
        &mut log,
        &mut disk,
        &one("k0", Some("old"), 7, 0, 1_000),
        1_000,
    );
    let last = append(
        &mut log,
        &mut disk,
        &one("k0", Some("mid"), 7, 1, 1_001),
        1_001,
    );
    keyed(&mut log, &mut disk);
    let active = BTreeMap::from([(
        7,
        LastRecord {
            last_data_offset: Some(last.last_offset()),
            producer_epoch: 0,
        },
    )]);
    clean(&mut log, &mut disk, None, 2_000, &[], &active);
    assert!(log.batch_containing(0).is_none(), "its first batch is gone");
    let kept = log.batch_containing(1).expect("its last batch stays");
    assert_eq!(kept.record_count(), 0, "emptied: k0 has later records");
    assert_eq!((kept.producer_id, kept.last_sequence()), (7, 1));
    // Without it active, the batch goes too.
    let (mut log, mut disk) = fresh_compacted();
    append(
        &mut log,
        &mut disk,
        &one("k0", Some("old"), 7, 0, 1_000),
        1_000,
    );
    append(
        &mut log,
        &mut disk,
        &one("k0", Some("mid"), 7, 1, 1_001),
        1_001,
    );
    keyed(&mut log, &mut disk);
    clean(&mut log, &mut disk, None, 2_000, &[], &BTreeMap::new());
    assert!(log.batch_containing(1).is_none());
}

#[test]
fn an_aborted_transaction_goes_and_its_marker_after_the_horizon() {
    let (mut log, mut disk) = fresh_compacted();
    let mut builder = BatchBuilder::new();
    builder.append(Some(b"paid"), b"aborted", 1_000);
    let txn = builder.build_transactional(9, 0, 0);
    let data = append(&mut log, &mut disk, &txn, 1_000);
    end_txn(&mut log, &mut disk, ControlRecordType::Abort);
    keyed(&mut log, &mut disk);
    let aborted = [AbortedRange {
        first_offset: data.base_offset,
        producer_id: 9,
    }];
    let none = BTreeMap::new();
    clean(&mut log, &mut disk, None, 10_000, &aborted, &none);
    assert!(log.batch_containing(0).is_none(), "the aborted records go");
    let kept = log.batch_containing(1).expect("the marker stays");
    assert!(kept.is_control());
    assert_eq!(
        kept.delete_horizon_ms(),
        None,
        "a cleaning that removed records of its transaction keeps it as it is"
    );
    // The next cleaning finds no record of it: its horizon starts.
    clean(&mut log, &mut disk, None, 10_000, &aborted, &none);
    let kept = log
        .batch_containing(1)
        .expect("the marker stays until its horizon");
    assert_eq!(kept.delete_horizon_ms(), Some(15_000));
    clean(&mut log, &mut disk, None, 14_999, &aborted, &none);
    assert!(log.batch_containing(1).is_some());
    clean(&mut log, &mut disk, None, 15_000, &aborted, &none);
    assert!(
        log.batch_containing(1).is_none(),
        "and goes after its horizon"
    );
    // A committed transaction's records stay as any others.
    let (mut log, mut disk) = fresh_compacted();
    append(&mut log, &mut disk, &txn, 1_000);
    end_txn(&mut log, &mut disk, ControlRecordType::Commit);
    keyed(&mut log, &mut disk);
    clean(&mut log, &mut disk, None, 10_000, &[], &none);
    let paid: Vec<_> = contents(&log)
        .into_iter()
        .filter(|r| r.1 == "paid")
        .collect();
    assert_eq!(paid.len(), 1, "the committed record stays");
}

#[test]
fn a_cleaning_cut_short_recovers_to_the_log_before_or_after_it() {
    let (mut log, mut disk) = fresh_compacted();
    keyed(&mut log, &mut disk);
    let before = state(&log);
    let mut cleaned = log.clone();
    let to_clean = cleaned.to_clean(None, cleaned.high_watermark(), 2_000);
    let mut out = Vec::new();
    cleaned.clean(&to_clean, 2_000, &[], &BTreeMap::new(), &mut out);
    let after = state(&cleaned);
    assert_ne!(before, after);
    let held: BTreeSet<_> = contents(&log).into_iter().collect();
    let kept: BTreeSet<_> = contents(&cleaned).into_iter().collect();
    // The disk after each prefix of the cleaning's effects.
    let renames = out
        .iter()
        .filter(|e| matches!(e, Effect::Rename { .. }))
        .count();
    assert!(renames > 2, "{out:?}");
    let mut seen_swap = false;
    for cut in 0..=out.len() {
        let mut crashed = Disk::default();
        crashed.files = disk.files.clone();
        let mut prefix = out[..cut].to_vec();
        crashed.apply(&mut prefix);
        seen_swap |= crashed.files.keys().any(|f| f.ends_with(".swap"));
        let (recovered, _) = crashed.recover(compacted(), 0);
        // Each group of segments is swapped in whole: every record the
        // cleaning keeps is there, and nothing the log did not hold.
        let got: BTreeSet<_> = contents(&recovered).into_iter().collect();
        assert!(
            got.is_superset(&kept) && got.is_subset(&held),
            "after {cut} of {} effects: {got:?}",
            out.len(),
        );
        assert_eq!(recovered.log_end_offset(), before.1, "the log end offset");
        assert!(
            crashed
                .files
                .keys()
                .all(|f| !f.ends_with(".cleaned") && !f.ends_with(".swap")),
            "recovery finishes or drops the swap"
        );
    }
    assert!(seen_swap, "some prefix stops at the swap");
}

#[test]
fn a_follower_of_a_compacted_log_appends_past_a_gap() {
    let (mut log, _) = fresh_compacted();
    let mut batch = one("k", Some("v"), -1, -1, 1);
    batch.base_offset = 5;
    batch.partition_leader_epoch = 1;
    let mut out = Vec::new();
    log.append_as_follower(Rc::new(batch.clone()), 1, &mut out)
        .expect("a compacted log takes a batch past its end");
    assert_eq!(log.log_end_offset(), 6);
    let (mut plain, _) = super::tests::fresh(LogConfig::default());
    assert!(plain
        .append_as_follower(Rc::new(batch), 1, &mut out)
        .is_err());
}

#[test]
fn a_truncation_into_an_emptied_stretch_ends_the_log_where_its_records_do() {
    let (mut log, mut disk) = fresh_compacted();
    keyed(&mut log, &mut disk);
    clean(&mut log, &mut disk, None, 2_000, &[], &BTreeMap::new());
    // Offsets 12..16 were emptied (k0..k3 came again at 16..20); the active
    // segment holds 20.. . A truncation to 14 (a diverging follower's)
    // leaves the log ending after the last record below it.
    let kept: Vec<u64> = contents(&log)
        .iter()
        .map(|r| r.0)
        .filter(|&o| o < 14)
        .collect();
    assert!(kept.iter().all(|&o| o < 12), "{kept:?}");
    let mut out = Vec::new();
    assert!(log.truncate_to(14, &mut out));
    let end = log.log_end_offset();
    assert!(
        end <= 14 && end >= kept.last().map_or(0, |o| o + 1),
        "end {end}, kept {kept:?}"
    );
    assert!(
        log.high_watermark() <= end,
        "the high watermark comes down with it"
    );
    assert!(log.recovery_point() <= end);
    log.assert_contracts();
    disk.apply(&mut out);
    // The follower then takes its leader's next batch, past the gap.
    let mut next = one("k9", Some("v"), -1, -1, 5_000);
    next.base_offset = 14;
    next.partition_leader_epoch = 2;
    log.append_as_follower(Rc::new(next), 5_000, &mut out)
        .expect("a batch past the end of a compacted log");
    assert_eq!(log.log_end_offset(), 15);
}
