//! Tests of time-based rolling (`segment.ms`), retention (`retention.ms`,
//! `retention.bytes`, the log start offset), `.deleted` files, and the log
//! start offset across recovery and a follower's fresh start.

use super::tests::{fresh, Disk, DIR};
use super::*;
use crate::node::Effect;

/// Appends `n` records stamped `ts` in one batch as leader of `epoch`.
fn append_at(log: &mut UnifiedLog, disk: &mut Disk, n: u64, ts: u64, epoch: i32) {
    let records = (0..n)
        .map(|i| Record {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(vec![b'v'; 50]),
            timestamp_ms: ts,
            headers: Vec::new(),
        })
        .collect();
    let mut out = Vec::new();
    log.append_records(records, -1, -1, -1, epoch, ts, &mut out);
    disk.apply(&mut out);
}

fn timed(segment_ms: u64, retention_ms: i64) -> LogConfig {
    LogConfig {
        segment_ms,
        retention_ms,
        ..LogConfig::default()
    }
}

/// Segments of 10 records each, every 1000 ms, rolled by `segment.ms`
/// 2500: records at 0, 1000, 2000 share a segment, 3000 starts the next.
fn rolled_log() -> (UnifiedLog, Disk) {
    let (mut log, mut disk) = fresh(timed(2_500, 10_000));
    for i in 0..9 {
        append_at(&mut log, &mut disk, 10, i * 1_000, i as i32 / 3);
    }
    (log, disk)
}

#[test]
fn segment_ms_rolls_when_a_batch_is_that_far_past_the_first() {
    let (log, _) = rolled_log();
    let bases: Vec<u64> = log.segments().iter().map(LogSegment::base_offset).collect();
    assert_eq!(bases, [0, 30, 60]);
    assert_eq!(log.segments()[0].largest_timestamp(), Some(2_000));
    // Without segment.ms every batch stays in one segment.
    let (mut plain, mut disk) = fresh(LogConfig::default());
    for i in 0..9 {
        append_at(&mut plain, &mut disk, 10, i * 1_000, 0);
    }
    assert_eq!(plain.segments().len(), 1);
}

#[test]
fn retention_ms_deletes_whole_old_segments_below_the_high_watermark() {
    let (mut log, mut disk) = rolled_log();
    let mut out = Vec::new();
    // Nothing is past the high watermark (0): nothing may go.
    assert!(log.delete_old_segments(100_000, &mut out).is_empty());
    log.update_high_watermark(90);
    // At 12_500 the first segment (newest record 2000) is 10_500 old.
    let outcome = log.delete_old_segments(12_500, &mut out);
    disk.apply(&mut out);
    assert_eq!(
        outcome.deleted,
        [(DeletionReason::RetentionMsBreach, 0)],
        "only the first segment is older than retention.ms"
    );
    assert_eq!((outcome.start_before, outcome.start_after), (0, 30));
    assert_eq!(log.log_start_offset(), 30);
    let renamed = format!("{}.deleted", segment_file_name(DIR, 0));
    assert!(disk.files.contains_key(&renamed));
    assert!(!disk.files.contains_key(&segment_file_name(DIR, 0)));
    assert_eq!(log.take_deleted_files(), [renamed.as_str().into()]);
    assert!(log.take_deleted_files().is_empty());
    // The epoch cache starts at the new log start offset.
    assert_eq!(
        log.epoch_cache().entries()[0],
        EpochEntry {
            epoch: 1,
            start_offset: 30
        }
    );
    // Reads below it find nothing of the deleted segment.
    assert_eq!(log.read(30, 90, usize::MAX)[0].base_offset, 30);
}

#[test]
fn deleting_every_segment_rolls_a_new_active_one_first() {
    let (mut log, mut disk) = rolled_log();
    log.update_high_watermark(90);
    let mut out = Vec::new();
    let outcome = log.delete_old_segments(1_000_000, &mut out);
    disk.apply(&mut out);
    assert_eq!(outcome.deleted.len(), 3);
    assert_eq!(log.log_start_offset(), 90);
    assert_eq!(log.log_end_offset(), 90);
    assert_eq!(
        log.segment_files().collect::<Vec<_>>(),
        [segment_file_name(DIR, 90)]
    );
    // An empty last segment is never deleted.
    assert!(log.delete_old_segments(2_000_000, &mut out).is_empty());
}

#[test]
fn retention_bytes_deletes_the_oldest_while_the_log_is_too_large() {
    let (mut log, _) = rolled_log();
    log.update_high_watermark(90);
    let sizes: Vec<u64> = log.segments().iter().map(LogSegment::size).collect();
    let total: u64 = sizes.iter().sum();
    // Over by half the first segment: nothing goes (Kafka deletes a
    // segment only when the log stays at least retention.bytes without it).
    log.set_config(LogConfig {
        retention_bytes: (total - sizes[0] / 2) as i64,
        retention_ms: -1,
        ..log.config()
    });
    assert!(log.delete_old_segments(0, &mut Vec::new()).is_empty());
    // Over by the first segment: it goes, no more.
    log.set_config(LogConfig {
        retention_bytes: (total - sizes[0]) as i64,
        retention_ms: -1,
        ..log.config()
    });
    let outcome = log.delete_old_segments(0, &mut Vec::new());
    assert_eq!(outcome.deleted, [(DeletionReason::RetentionSizeBreach, 0)]);
    // With cleanup.policy compact (no delete), size and time do nothing.
    let (mut compacted, _) = rolled_log();
    compacted.update_high_watermark(90);
    compacted.set_config(LogConfig {
        retention_bytes: 0,
        delete_policy: false,
        ..compacted.config()
    });
    assert!(compacted
        .delete_old_segments(1_000_000, &mut Vec::new())
        .is_empty());
}

#[test]
fn recovery_keeps_the_checkpointed_start_and_removes_deleted_files() {
    let (mut log, mut disk) = rolled_log();
    log.update_high_watermark(90);
    let mut out = Vec::new();
    log.delete_old_segments(12_500, &mut out);
    // A follower learned a start at the third segment.
    log.maybe_increment_log_start_offset(60, &mut out);
    disk.apply(&mut out);
    let (mut recovered, repairs) = disk.recover(log.config(), 0);
    assert!(repairs.contains(&Effect::Remove {
        file: format!("{}.deleted", segment_file_name(DIR, 0)).into()
    }));
    assert_eq!(recovered.log_start_offset(), 30, "the first segment's base");
    let mut out = Vec::new();
    recovered.restore_log_start_offset(60, &mut out);
    assert_eq!(recovered.log_start_offset(), 60);
    assert!(recovered.high_watermark() >= 60);
    // The next retention pass deletes the segment below it.
    let outcome = recovered.delete_old_segments(0, &mut out);
    assert_eq!(outcome.deleted, [(DeletionReason::StartOffsetBreach, 30)]);
    assert!(recovered.delete_old_segments(0, &mut out).is_empty());
}

#[test]
fn a_follower_far_behind_starts_afresh_at_the_leaders_start() {
    let (mut log, mut disk) = rolled_log();
    let mut out = Vec::new();
    log.truncate_fully_and_start_at(500, &mut out);
    disk.apply(&mut out);
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.high_watermark()
        ),
        (500, 500, 500)
    );
    assert!(log.epoch_cache().is_empty());
    assert_eq!(log.take_deleted_files().len(), 3);
    assert_eq!(
        log.segment_files().collect::<Vec<_>>(),
        [segment_file_name(DIR, 500)]
    );
    // Truncating below the first segment starts afresh too.
    let (mut recovered, _) = disk.recover(log.config(), 0);
    assert_eq!(recovered.log_start_offset(), 500);
    assert!(recovered.truncate_to(10, &mut out));
    assert_eq!(
        (recovered.log_start_offset(), recovered.log_end_offset()),
        (10, 10)
    );
}
