//! Compaction of one log (Kafka's `Cleaner`, with the offsets
//! `LogCleanerManager` picks for it): for a log whose `cleanup.policy`
//! holds `compact`, every record with a later record of the same key in
//! the cleanable part of the log goes, and so do tombstones and
//! transaction markers once their delete horizon passed.
//!
//! What may be cleaned ([`UnifiedLog::to_clean`], Kafka's
//! `cleanableOffsets`): from the first dirty offset (the cleaner's
//! checkpoint, or the log start offset) up to the first uncleanable one:
//! the last stable offset (never past the high watermark or an open
//! transaction), the active segment's base offset, and the first segment
//! newer than `min.compaction.lag.ms`. A log is cleaned when its dirty
//! ratio (cleanable bytes over clean and cleanable bytes) exceeds
//! `min.cleanable.dirty.ratio`, or when a dirty segment is older than
//! `max.compaction.lag.ms`.
//!
//! A cleaning ([`UnifiedLog::clean`], Kafka's `doClean`): an offset map of
//! each key's latest offset in the dirty part, then every segment from the
//! start of the log to the end of that map is rewritten, in groups of up
//! to `segment.bytes`, keeping a record when it is the latest of its key
//! (or past the map) and, for a tombstone, while its batch's delete horizon
//! (set at the first cleaning that sees it: now + `delete.retention.ms`,
//! KIP-534) has not passed. Records of aborted transactions go; a marker
//! goes once no record of its transaction is left and its horizon passed.
//! The last batch of a producer still active stays, emptied if need be, so
//! that its sequence survives (Kafka's `RETAIN_EMPTY`). Records without a
//! key cannot be in a compacted log (the leader refuses them) and are
//! dropped.
//!
//! On disk, as Kafka's `replaceSegments`: each group is written to
//! `BASE.log.cleaned` and fsynced, renamed `BASE.log.swap`, the old
//! segments are renamed `.deleted` (removed after `file.delete.delay.ms`),
//! the swap file takes the name `BASE.log`, and the directory is flushed.
//! A crash at any point recovers (see [`super::recovery`]): a `.cleaned`
//! file is removed, a `.swap` file replaces the segments it covers.
//!
//! Cleaning takes no simulated time (Kafka's cleaner threads take real
//! time, throttled by `log.cleaner.io.max.bytes.per.second`).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::batch::{ControlRecordType, RecordBatch, RecordView};
use super::segment::{cleaned_file_name, swap_file_name, LogSegment};
use super::unified_log::UnifiedLog;
use crate::node::{Effect, FileName, FSYNC_NO_FLUSH};

/// What the producer state knows of a producer still active (Kafka's
/// `LastRecord`): its last data batch's last offset, if it has one, and
/// its epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastRecord {
    /// The last offset of its last data batch.
    pub last_data_offset: Option<u64>,
    /// Its epoch.
    pub producer_epoch: i16,
}

/// An aborted transaction in the log (an entry of Kafka's transaction
/// index): its producer and first offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbortedRange {
    /// Its first offset in this log.
    pub first_offset: u64,
    /// Its producer.
    pub producer_id: i64,
}

/// What of a log may be cleaned (Kafka's `LogToClean`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogToClean {
    /// Where the dirty part starts.
    pub first_dirty_offset: u64,
    /// The first offset that may not be cleaned: the base offset of the
    /// segment holding the uncleanable offset.
    pub first_uncleanable_offset: u64,
    /// Bytes of the segments below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of the segments from the first dirty to the first
    /// uncleanable offset.
    pub cleanable_bytes: u64,
    /// A dirty segment is older than `max.compaction.lag.ms`.
    pub needs_compaction_now: bool,
    /// The checkpointed first dirty offset was out of the log's range and
    /// is reset to the log start offset (Kafka's `forceUpdateCheckpoint`).
    pub reset_checkpoint: bool,
}

impl LogToClean {
    /// Kafka's `cleanableRatio`: cleanable bytes over all bytes counted.
    pub fn cleanable_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.cleanable_bytes;
        if total == 0 {
            0.0
        } else {
            self.cleanable_bytes as f64 / total as f64
        }
    }

    /// Whether the cleaner takes it (`grabFilthiestCompactedLog`): it holds
    /// bytes, and a segment is past the maximum compaction lag or the dirty
    /// ratio is above `min_ratio`.
    pub fn is_due(&self, min_ratio: f64) -> bool {
        self.clean_bytes + self.cleanable_bytes > 0
            && ((self.needs_compaction_now && self.cleanable_bytes > 0)
                || self.cleanable_ratio() > min_ratio)
    }
}

/// What one cleaning did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanOutcome {
    /// The new first dirty offset, for the cleaner's checkpoint.
    pub end_offset: u64,
    /// Records read and records removed.
    pub records_read: u64,
    /// Records the cleaning removed.
    pub records_removed: u64,
    /// Whole batches it removed.
    pub batches_removed: u64,
    /// Segment bytes before and after.
    pub bytes_before: u64,
    /// Segment bytes after.
    pub bytes_after: u64,
    /// Segments rewritten.
    pub segments_cleaned: u64,
}

/// Each key's latest offset in the dirty part (Kafka's `SkimpyOffsetMap`,
/// keyed by the key's bytes rather than their MD5, and never full).
#[derive(Debug, Default)]
struct OffsetMap {
    latest: BTreeMap<Vec<u8>, u64>,
    /// The largest offset the map covers (Kafka's `latestOffset`).
    latest_offset: Option<u64>,
}

impl OffsetMap {
    fn update_latest(&mut self, offset: u64) {
        self.latest_offset = Some(self.latest_offset.map_or(offset, |o| o.max(offset)));
    }

    /// Whether the record at `offset` with `key` is the latest of its key
    /// (or lies past the map).
    fn is_latest(&self, key: &[u8], offset: u64) -> bool {
        self.latest.get(key).is_none_or(|&latest| offset >= latest)
    }
}

/// The transactions the cleaner is inside of as it walks the log (Kafka's
/// `CleanedTransactionMetadata`).
#[derive(Debug, Default)]
struct TxnWalk {
    /// Aborted transactions not reached yet, by first offset.
    pending: BTreeSet<AbortedRange>,
    /// Producers inside an aborted transaction: whether a batch of it was seen.
    aborted: BTreeMap<i64, bool>,
    /// Producers inside a transaction that is not aborted.
    committed: BTreeSet<i64>,
}

impl TxnWalk {
    fn new(aborted: &[AbortedRange]) -> Self {
        Self {
            pending: aborted.iter().copied().collect(),
            ..Self::default()
        }
    }

    fn reach(&mut self, offset: u64) {
        while let Some(first) = self.pending.first().copied() {
            if first.first_offset > offset {
                break;
            }
            self.pending.pop_first();
            self.aborted.entry(first.producer_id).or_insert(false);
        }
    }

    /// A data batch: whether it belongs to an aborted transaction (and may go).
    fn on_batch(&mut self, batch: &RecordBatch) -> bool {
        self.reach(batch.last_offset());
        if !batch.is_transactional() {
            return false;
        }
        match self.aborted.get_mut(&batch.producer_id) {
            Some(seen) => {
                *seen = true;
                true
            }
            None => {
                self.committed.insert(batch.producer_id);
                false
            }
        }
    }

    /// A control batch: whether it may go (no record of its transaction is
    /// left before it).
    fn on_control(&mut self, batch: &RecordBatch) -> bool {
        self.reach(batch.last_offset());
        let Some(marker) = batch.end_txn_marker_of() else {
            // Emptied by an earlier cleaning: it may go.
            return true;
        };
        match marker.control_type {
            ControlRecordType::Abort => {
                // Kept while a batch of the transaction is still there.
                !self.aborted.remove(&batch.producer_id).unwrap_or(false)
            }
            ControlRecordType::Commit => !self.committed.remove(&batch.producer_id),
        }
    }
}

/// What the cleaner keeps of a batch (Kafka's `BatchRetention`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchRetention {
    Delete,
    DeleteEmpty,
    RetainEmpty,
}

impl UnifiedLog {
    /// What of this log may be cleaned at `now_ms` (Kafka's
    /// `cleanableOffsets` and `LogToClean`), from the cleaner's checkpoint
    /// (None: never cleaned), given the last stable offset.
    pub fn to_clean(
        &self,
        checkpoint: Option<u64>,
        last_stable_offset: u64,
        now_ms: u64,
    ) -> LogToClean {
        let start = self.log_start_offset;
        let leo = self.log_end_offset();
        let checkpointed = checkpoint.unwrap_or(start);
        let (first_dirty, reset) = if checkpointed < start || checkpointed > leo {
            (start, true)
        } else {
            (checkpointed, false)
        };
        let active_base = self.segments.last().map_or(0, LogSegment::base_offset);
        let mut uncleanable = last_stable_offset.min(active_base);
        let non_active = &self.segments[..self.segments.len() - 1];
        let dirty = self.floor_index(first_dirty);
        let lag = self.config.min_compaction_lag_ms;
        if lag > 0 {
            let horizon = now_ms.saturating_sub(lag);
            if let Some(s) = non_active[dirty.min(non_active.len())..]
                .iter()
                .find(|s| s.largest_timestamp().is_some_and(|t| t > horizon))
            {
                uncleanable = uncleanable.min(s.base_offset());
            }
        }
        let uncleanable = uncleanable.max(first_dirty);
        // calculateCleanableBytes: the segment holding the uncleanable offset.
        let first_uncleanable = non_active
            .get(self.floor_index(uncleanable))
            .filter(|s| s.base_offset() <= uncleanable)
            .map_or(active_base, LogSegment::base_offset);
        let bytes = |from: u64, to: u64| -> u64 {
            self.overlapping(from, to)
                .iter()
                .map(LogSegment::size)
                .sum()
        };
        let clean_bytes = if first_dirty == 0 {
            0
        } else {
            bytes(0, first_dirty)
        };
        let cleanable_bytes = bytes(first_dirty.min(first_uncleanable), first_uncleanable);
        // maxCompactionDelay: a dirty segment's first batch is too old.
        let max_lag = self.config.max_compaction_lag_ms;
        let needs_compaction_now = max_lag < i64::MAX as u64 && {
            let until = now_ms.saturating_sub(max_lag);
            non_active[dirty.min(non_active.len())..]
                .iter()
                .filter_map(|s| s.batches().first().map(|b| b.max_timestamp()))
                .filter(|&t| t > 0)
                .min()
                .is_some_and(|earliest| earliest < until)
        };
        LogToClean {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: first_uncleanable,
            clean_bytes,
            cleanable_bytes,
            needs_compaction_now,
            reset_checkpoint: reset,
        }
    }

    /// Index of the segment holding `offset` (the last one starting at or
    /// below it; 0 when it lies below the first).
    fn floor_index(&self, offset: u64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1)
    }

    /// The segments holding offsets in `[from, to)` (Kafka's
    /// `logSegments(from, to)`: from the one holding `from` to the last
    /// starting below `to`).
    fn overlapping(&self, from: u64, to: u64) -> &[LogSegment] {
        if from >= to {
            return &[];
        }
        let first = self.floor_index(from);
        let end = self.segments.partition_point(|s| s.base_offset() < to);
        &self.segments[first..end.max(first)]
    }

    /// Cleans the log (Kafka's `doClean`) at `now_ms`: `aborted` are the
    /// log's aborted transactions, `active` the producers still active.
    /// Pushes the disk effects to `out`; the old segments' files are renamed
    /// `.deleted` (see [`UnifiedLog::take_deleted_files`]).
    pub fn clean(
        &mut self,
        to_clean: &LogToClean,
        now_ms: u64,
        aborted: &[AbortedRange],
        active: &BTreeMap<i64, LastRecord>,
        out: &mut Vec<Effect>,
    ) -> CleanOutcome {
        let map = self.build_offset_map(
            to_clean.first_dirty_offset,
            to_clean.first_uncleanable_offset,
            aborted,
        );
        let Some(latest) = map.latest_offset else {
            return CleanOutcome {
                end_offset: to_clean.first_dirty_offset,
                ..CleanOutcome::default()
            };
        };
        let end_offset = latest + 1;
        let mut outcome = CleanOutcome {
            end_offset,
            ..CleanOutcome::default()
        };
        // groupSegmentsBySize over the segments below the end of the map.
        let count = self
            .segments
            .partition_point(|s| s.base_offset() < end_offset);
        let count = count.min(self.segments.len() - 1);
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < count {
            let (first, mut size) = (i, self.segments[i].size());
            i += 1;
            while i < count && size + self.segments[i].size() <= self.config.segment_bytes {
                size += self.segments[i].size();
                i += 1;
            }
            groups.push((first, i));
        }
        let mut walk = TxnWalk::new(aborted);
        let delete_retention_ms = self.config.delete_retention_ms;
        let mut cleaned_groups = Vec::new();
        for &(first, end) in &groups {
            let base = self.segments[first].base_offset();
            let mut cleaned = LogSegment::new(&self.dir, base);
            for segment in &self.segments[first..end] {
                outcome.bytes_before += segment.size();
                for batch in segment.batches() {
                    let kept =
                        clean_batch(batch, &map, &mut walk, active, now_ms, delete_retention_ms);
                    outcome.records_read += batch.record_count();
                    let kept_count = kept.as_ref().map_or(0, |b| b.record_count());
                    outcome.records_removed += batch.record_count() - kept_count;
                    match kept {
                        Some(b) => cleaned.push_cleaned(b),
                        None => outcome.batches_removed += 1,
                    }
                }
            }
            outcome.bytes_after += cleaned.size();
            outcome.segments_cleaned += (end - first) as u64;
            cleaned_groups.push((first, end, cleaned));
        }
        // Swap the groups in, in offset order; each group becomes one
        // segment, so the later groups' indexes move down.
        let mut removed = 0;
        for (first, end, cleaned) in cleaned_groups {
            let at = first - removed;
            let old: Vec<LogSegment> = self.segments.splice(at..end - removed, [cleaned]).collect();
            removed += old.len() - 1;
            self.replace_segments(at, old, out);
        }
        if self.config.contracts {
            self.assert_contracts();
        }
        outcome
    }

    /// Kafka's `buildOffsetMap` over `[start, end)`.
    fn build_offset_map(&self, start: u64, end: u64, aborted: &[AbortedRange]) -> OffsetMap {
        let mut map = OffsetMap::default();
        let dirty = self.overlapping(start, end);
        let mut walk = TxnWalk::new(aborted);
        for (i, segment) in dirty.iter().enumerate() {
            let next_start = dirty.get(i + 1).map_or(end, LogSegment::base_offset);
            for batch in segment.batches() {
                if batch.next_offset() <= start {
                    continue;
                }
                if batch.is_control() {
                    walk.on_control(batch);
                } else if !walk.on_batch(batch) {
                    batch.for_each_record(|r| {
                        let offset = batch.base_offset + u64::from(r.offset_delta);
                        if let Some(key) = r.key.filter(|_| offset >= start) {
                            match map.latest.get_mut(key) {
                                Some(latest) => *latest = offset,
                                None => {
                                    map.latest.insert(key.to_vec(), offset);
                                }
                            }
                        }
                    });
                }
                if batch.last_offset() >= start {
                    map.update_latest(batch.last_offset());
                }
            }
            // Past an offset gap, the map covers up to the next segment.
            if let Some(last) = next_start.checked_sub(1) {
                map.update_latest(last);
            }
        }
        map
    }

    /// Swaps `self.segments[at]` (already in place) in for `old` on disk,
    /// as Kafka's `replaceSegments`.
    fn replace_segments(&mut self, at: usize, old: Vec<LogSegment>, out: &mut Vec<Effect>) {
        let cleaned = &self.segments[at];
        let file: FileName = cleaned.file().to_owned().into();
        let tmp: FileName = cleaned_file_name(cleaned.file()).into();
        let swap: FileName = swap_file_name(cleaned.file()).into();
        cleaned.write_to(&tmp, out);
        // The cleaned segment is flushed before the swap.
        out.push(Effect::Fsync {
            file: tmp.clone(),
            token: FSYNC_NO_FLUSH,
        });
        out.push(Effect::Rename {
            from: tmp,
            to: swap.clone(),
        });
        let deleted: Vec<FileName> = old
            .iter()
            .map(|segment| self.rename_deleted(segment, out))
            .collect();
        out.push(Effect::Rename {
            from: swap,
            to: file.clone(),
        });
        // Utils.flushDir: every rename of the swap is durable.
        out.push(Effect::Fsync {
            file,
            token: FSYNC_NO_FLUSH,
        });
        for file in deleted {
            out.push(Effect::Fsync {
                file,
                token: FSYNC_NO_FLUSH,
            });
        }
    }
}

/// What the cleaner keeps of `batch` (Kafka's `cleanInto` filter and
/// `MemoryRecords.filterTo`): None when the whole batch goes.
fn clean_batch(
    batch: &Rc<RecordBatch>,
    map: &OffsetMap,
    walk: &mut TxnWalk,
    active: &BTreeMap<i64, LastRecord>,
    now_ms: u64,
    delete_retention_ms: u64,
) -> Option<Rc<RecordBatch>> {
    let can_discard = if batch.is_control() {
        walk.on_control(batch)
    } else {
        walk.on_batch(batch)
    };
    let horizon_passed = batch.delete_horizon_ms().is_some_and(|h| h <= now_ms);
    let discard_records = if batch.is_control() {
        can_discard && horizon_passed
    } else {
        can_discard
    };
    let last_of_producer = batch.producer_id >= 0
        && active
            .get(&batch.producer_id)
            .is_some_and(|last| match last.last_data_offset {
                Some(offset) => batch.last_offset() == offset,
                None => batch.is_control() && batch.producer_epoch == last.producer_epoch,
            });
    let retention = if last_of_producer {
        BatchRetention::RetainEmpty
    } else if discard_records {
        BatchRetention::Delete
    } else {
        BatchRetention::DeleteEmpty
    };
    if retention == BatchRetention::Delete {
        return None;
    }
    let marker_for_empty_txn = can_discard && batch.is_control();
    let retain_deletes = batch.delete_horizon_ms().is_none_or(|h| now_ms < h);
    // shouldRetainRecord, per record.
    let past_map = |offset: u64| map.latest_offset.is_some_and(|latest| offset > latest);
    let mut records = Vec::with_capacity(batch.record_count() as usize);
    batch.for_each_record(|r| {
        let headers = (r.headers.len(), r.headers.bytes().to_vec());
        records.push((r.offset_delta, r.to_record(), headers));
    });
    let mut kept: Vec<RecordView<'_>> = Vec::new();
    let mut all = true;
    let mut tombstones = false;
    for (delta, r, (header_count, header_bytes)) in &records {
        let offset = batch.base_offset + u64::from(*delta);
        let keep = !discard_records
            && (batch.is_control()
                || past_map(offset)
                // A record without a key is invalid in a compacted log.
                || r.key.as_deref().is_some_and(|key| {
                    map.is_latest(key, offset) && (r.value.is_some() || retain_deletes)
                }));
        if keep {
            tombstones |= r.value.is_none();
            kept.push(RecordView {
                offset_delta: *delta,
                timestamp_ms: r.timestamp_ms,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                headers: super::headers::Headers::from_parts(*header_count, header_bytes),
            });
        } else {
            all = false;
        }
    }
    if kept.is_empty() {
        return (retention == BatchRetention::RetainEmpty).then(|| {
            if batch.record_count() == 0 {
                Rc::clone(batch)
            } else {
                Rc::new(batch.emptied())
            }
        });
    }
    let set_horizon = (tombstones || marker_for_empty_txn) && batch.delete_horizon_ms().is_none();
    if all && !set_horizon {
        return Some(Rc::clone(batch));
    }
    let horizon = if set_horizon {
        Some(now_ms.saturating_add(delete_retention_ms))
    } else {
        batch.delete_horizon_ms()
    };
    Some(Rc::new(batch.retained(&kept, horizon)))
}
