//! One partition replica's log (Kafka's `UnifiedLog` over `LocalLog`):
//! segments, leader epoch cache, high watermark, recovery point and flush
//! policy. Sans-IO: every disk effect is pushed to an `out` vector of
//! [`Effect`]s for the host to carry out in order.

use std::fmt;
use std::rc::Rc;

use super::batch::RecordBatch;
use super::checkpoint_file::{leader_epoch_checkpoint_file, write_atomically};
use super::config::LogConfig;
use super::leader_epoch::LeaderEpochFileCache;
use super::recovery::RecoveryReport;
use super::segment::{continues, LogSegment};
use crate::node::{Effect, FileName, FSYNC_UNTRACKED};

/// Why a follower append was refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AppendError {
    /// The batch does not start at the log end offset.
    #[error("batch starts at offset {found}, log end offset is {expected}")]
    UnexpectedOffset {
        /// The log end offset.
        expected: u64,
        /// The batch's base offset.
        found: u64,
    },
}

/// A partition replica's log in directory `dir` (e.g. `orders-0`).
///
/// Invariants: at least one segment; segments are contiguous (each starts
/// where the previous ends); the log start offset lies between the first
/// segment's base offset and the log end offset (a follower may learn a
/// start above its first segment before retention deletes it); the
/// high watermark lies between the log start and end offsets, and the
/// recovery point is at most the log end offset.
#[derive(Clone)]
pub struct UnifiedLog {
    pub(super) dir: String,
    pub(super) config: LogConfig,
    pub(super) segments: Vec<LogSegment>,
    /// The active segment's next offset, kept beside the high watermark:
    /// every fetch of every partition reads it (see [`UnifiedLog::sync_end`]).
    pub(super) log_end_offset: u64,
    /// The first offset a reader may fetch (Kafka's `logStartOffset`).
    pub(super) log_start_offset: u64,
    /// Segment files renamed `.deleted`, for the host to remove after
    /// `file.delete.delay.ms` (see [`UnifiedLog::take_deleted_files`]).
    pub(super) deleted_files: Vec<FileName>,
    pub(super) epoch_cache: LeaderEpochFileCache,
    pub(super) high_watermark: u64,
    pub(super) recovery_point: u64,
    /// Highest offset below which segment fsyncs have been issued (a flush
    /// under way covers up to here).
    pub(super) flush_requested: u64,
    /// When the last flush was issued (None: before the first append).
    pub(super) last_flush_ms: Option<u64>,
    pub(super) recovery: RecoveryReport,
}

impl fmt::Debug for UnifiedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnifiedLog")
            .field("dir", &self.dir)
            .field("log_start_offset", &self.log_start_offset)
            .field("log_end_offset", &self.log_end_offset())
            .field("high_watermark", &self.high_watermark)
            .field("recovery_point", &self.recovery_point)
            .field("segments", &self.segments.len())
            .field("epochs", &self.epoch_cache.entries())
            .finish()
    }
}

impl UnifiedLog {
    /// Its directory.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Its configs.
    pub fn config(&self) -> LogConfig {
        self.config
    }

    /// Takes the topic's configs as they change (Kafka's
    /// `UnifiedLog.updateConfig`); they apply from the next append on.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The first offset a reader may fetch: raised by retention (segments
    /// deleted) and, on a follower, by its leader's.
    pub fn log_start_offset(&self) -> u64 {
        self.log_start_offset
    }

    /// The offset the next record gets.
    pub fn log_end_offset(&self) -> u64 {
        self.log_end_offset
    }

    /// Takes the log end offset from the active segment again: after
    /// every change to the segments' batches.
    pub(super) fn sync_end(&mut self) {
        self.log_end_offset = self.active().next_offset();
    }

    /// The high watermark.
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// Raises the high watermark to `hw`, clamped to the log end offset;
    /// returns whether it moved. It never goes down here (only
    /// [`UnifiedLog::truncate_to`] lowers it), like Kafka's
    /// `maybeUpdateHighWatermark`.
    pub fn update_high_watermark(&mut self, hw: u64) -> bool {
        let hw = hw.min(self.log_end_offset());
        if hw > self.high_watermark {
            self.high_watermark = hw;
            true
        } else {
            false
        }
    }

    /// Offset below which everything is known durable (fsynced).
    pub fn recovery_point(&self) -> u64 {
        self.recovery_point
    }

    /// The newest leader epoch in the epoch cache.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epoch_cache.latest_epoch()
    }

    /// Kafka's `endOffsetForEpoch`: see [`LeaderEpochFileCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, u64)> {
        self.epoch_cache
            .end_offset_for(epoch, self.log_end_offset())
    }

    /// The leader epoch cache.
    pub fn epoch_cache(&self) -> &LeaderEpochFileCache {
        &self.epoch_cache
    }

    /// Every batch, in offset order.
    pub fn batches(&self) -> impl Iterator<Item = &Rc<RecordBatch>> + '_ {
        self.segments.iter().flat_map(|s| s.batches().iter())
    }

    /// The batch holding `offset`.
    pub fn batch_containing(&self, offset: u64) -> Option<&Rc<RecordBatch>> {
        let si = self
            .segments
            .partition_point(|s| s.base_offset() <= offset)
            .checked_sub(1)?;
        let segment = &self.segments[si];
        let batch = &segment.batches()[segment.find(offset)?];
        (batch.base_offset <= offset).then_some(batch)
    }

    /// The segments, in offset order (the last is the active one).
    pub fn segments(&self) -> &[LogSegment] {
        &self.segments
    }

    /// The segment file names, in offset order.
    pub fn segment_files(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments.iter().map(|s| s.file())
    }

    /// What the recovery that built this log found.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Messages above both the recovery point and any flush under way.
    pub fn unflushed_messages(&self) -> u64 {
        self.log_end_offset()
            .saturating_sub(self.recovery_point.max(self.flush_requested))
    }

    fn active(&self) -> &LogSegment {
        self.segments.last().expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut LogSegment {
        self.segments
            .last_mut()
            .expect("a log always has a segment")
    }

    /// Appends `batch` (a producer's: its records shared, not copied) at
    /// the log end offset, stamped with `leader_epoch` (Kafka's
    /// `appendAsLeader`). Rolls a segment first when needed, records the
    /// epoch's start offset when it is new (rewriting the checkpoint), writes
    /// the batch and applies the flush policy. A data batch whose codec is
    /// not the log's `compression.type` is recompressed first (Kafka's
    /// `LogValidator`: a target codec other than the source's rebuilds the
    /// batch; control batches are never recompressed).
    pub fn append_as_leader(
        &mut self,
        batch: &RecordBatch,
        leader_epoch: i32,
        now_ms: u64,
        out: &mut Vec<Effect>,
    ) -> Rc<RecordBatch> {
        let target = self
            .config
            .compression
            .target()
            .filter(|c| !batch.is_control() && c.kind != batch.compression_type());
        let batch = match target {
            Some(c) => batch
                .recompressed(c)
                .stamped(self.log_end_offset(), leader_epoch),
            None => batch.stamped(self.log_end_offset(), leader_epoch),
        };
        let batch = Rc::new(batch);
        self.append(Rc::clone(&batch), now_ms, out);
        batch
    }

    /// Appends `records` as one batch of the given producer fields, as
    /// [`UnifiedLog::append_as_leader`] does with a producer's batch.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_records(
        &mut self,
        records: Vec<super::batch::Record>,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        leader_epoch: i32,
        now_ms: u64,
        out: &mut Vec<Effect>,
    ) -> Rc<RecordBatch> {
        let batch = RecordBatch::of(
            0,
            leader_epoch,
            (producer_id, producer_epoch, base_sequence),
            &records,
        );
        self.append_as_leader(&batch, leader_epoch, now_ms, out)
    }

    /// Appends a batch replicated from the leader (Kafka's
    /// `appendAsFollower`); it must start at the log end offset, or past it
    /// in a compacted log (whose leader's cleaner removed whole batches).
    /// The epoch cache learns the batch's leader epoch.
    pub fn append_as_follower(
        &mut self,
        batch: Rc<RecordBatch>,
        now_ms: u64,
        out: &mut Vec<Effect>,
    ) -> Result<(), AppendError> {
        let expected = self.log_end_offset();
        if !continues(expected, batch.base_offset, self.config.compact) {
            return Err(AppendError::UnexpectedOffset {
                expected,
                found: batch.base_offset,
            });
        }
        self.append(batch, now_ms, out);
        Ok(())
    }

    fn append(&mut self, batch: Rc<RecordBatch>, now_ms: u64, out: &mut Vec<Effect>) {
        // Kafka starts the flush clock when the log is created; this model
        // has no clock then and starts it at the first append.
        self.last_flush_ms.get_or_insert(now_ms);
        self.maybe_roll(
            batch.size_in_bytes() as u64,
            batch.max_timestamp(),
            now_ms,
            out,
        );
        self.assign_epoch_start_offset(batch.partition_leader_epoch, batch.base_offset, out);
        self.active_mut().append(batch, out);
        self.sync_end();
        self.maybe_flush(now_ms, out);
        if self.config.contracts {
            self.assert_tail_contracts();
        }
    }

    /// Rolls a new segment at the log end offset when `size` more bytes would
    /// take the active segment past `segment_bytes`, or when the batch's
    /// largest `timestamp` is more than `segment_ms` past the active
    /// segment's first batch (Kafka's `LogSegment.shouldRoll`, without
    /// jitter; an empty segment is never rolled, so a batch larger than
    /// `segment_bytes` gets a segment of its own).
    fn maybe_roll(&mut self, size: u64, timestamp: u64, now_ms: u64, out: &mut Vec<Effect>) {
        let active = self.active();
        if active.size() == 0 {
            return;
        }
        let full = active.size().saturating_add(size) > self.config.segment_bytes;
        let old = active.time_waited_for_roll(timestamp) > self.config.max_segment_ms();
        if full || old {
            self.roll(now_ms, out);
        }
    }

    /// Starts a new active segment at the log end offset (Kafka's `roll`);
    /// like Kafka, it flushes everything below the new segment.
    pub(super) fn roll(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        let base = self.log_end_offset();
        self.flush_upto(base, now_ms, out);
        if let Some(done) = self.segments.last_mut() {
            done.shrink_to_fit();
        }
        let segment = LogSegment::new(&self.dir, base);
        self.segments.push(segment);
    }

    /// Records that `epoch` starts at `start_offset` in the epoch cache
    /// (Kafka's `assignEpochStartOffset`, called by a new leader with its
    /// log end offset, and for every appended batch); when the cache
    /// changes, rewrites the checkpoint. Returns whether it changed.
    pub fn assign_epoch_start_offset(
        &mut self,
        epoch: i32,
        start_offset: u64,
        out: &mut Vec<Effect>,
    ) -> bool {
        let changed = self.epoch_cache.assign(epoch, start_offset);
        if changed {
            self.write_epoch_checkpoint(out);
        }
        changed
    }

    pub(super) fn write_epoch_checkpoint(&self, out: &mut Vec<Effect>) {
        write_atomically(
            &leader_epoch_checkpoint_file(&self.dir),
            self.epoch_cache.encode_checkpoint(),
            out,
        );
    }

    /// True when the flush policy asks for a flush now: some messages are
    /// unflushed and either `flush_interval_messages` of them are, or the
    /// last flush is `flush_interval_ms` old.
    pub fn flush_due(&self, now_ms: u64) -> bool {
        let unflushed = self.unflushed_messages();
        unflushed > 0
            && (unflushed >= self.config.flush_interval_messages
                || self
                    .last_flush_ms
                    .is_some_and(|t| now_ms.saturating_sub(t) >= self.config.flush_interval_ms))
    }

    /// Flushes when [`UnifiedLog::flush_due`]; returns the offset the flush
    /// covers, if one was issued. Appends call it; a host with a timer may
    /// too (Kafka checks `flush.ms` from a scheduler).
    pub fn maybe_flush(&mut self, now_ms: u64, out: &mut Vec<Effect>) -> Option<u64> {
        self.flush_due(now_ms).then(|| self.flush(now_ms, out))
    }

    /// Fsyncs every segment holding offsets between the recovery point and
    /// the log end offset (Kafka's `flush`); returns the offset it covers
    /// (the log end offset). Once every fsync completed, the host reports
    /// [`UnifiedLog::on_flushed`] with it.
    pub fn flush(&mut self, now_ms: u64, out: &mut Vec<Effect>) -> u64 {
        let leo = self.log_end_offset();
        self.flush_upto(leo, now_ms, out)
    }

    /// Fsyncs the segments holding offsets in `[recovery_point, upto)`
    /// (Kafka's `flushUptoOffsetExclusive`).
    fn flush_upto(&mut self, upto: u64, now_ms: u64, out: &mut Vec<Effect>) -> u64 {
        if upto <= self.recovery_point {
            return upto;
        }
        let leo = self.log_end_offset();
        for (i, segment) in self.segments.iter().enumerate() {
            let end = self
                .segments
                .get(i + 1)
                .map_or(leo, |next| next.base_offset());
            if segment.base_offset() < upto && end > self.recovery_point {
                out.push(Effect::Fsync {
                    file: segment.file().to_owned().into(),
                    token: FSYNC_UNTRACKED,
                });
            }
        }
        self.flush_requested = self.flush_requested.max(upto);
        self.last_flush_ms = Some(now_ms);
        upto
    }

    /// The fsyncs of a flush covering offsets below `upto` completed: moves
    /// the recovery point up to `upto`, but never past the log end offset
    /// nor past what issued segment fsyncs cover (so a host that reports
    /// the log end offset after fsyncs of the epoch checkpoint only, or
    /// after the roll flush that covers less, cannot overstate
    /// durability). Returns whether it moved.
    pub fn on_flushed(&mut self, upto: u64) -> bool {
        let upto = upto.min(self.flush_requested).min(self.log_end_offset());
        if upto > self.recovery_point {
            self.recovery_point = upto;
            true
        } else {
            false
        }
    }

    /// Whole batches holding offsets from `from_offset` on and ending before
    /// `max_offset` (exclusive: the high watermark for consumers, the log
    /// end offset for followers), up to `max_bytes` of them but at least one
    /// when any qualifies. The first batch may start before `from_offset`.
    /// Like Kafka's `LocalLog.read`, one read stays within one segment.
    pub fn read(
        &self,
        from_offset: u64,
        max_offset: u64,
        max_bytes: usize,
    ) -> Vec<Rc<RecordBatch>> {
        let max_offset = max_offset.min(self.log_end_offset());
        if from_offset >= max_offset {
            return Vec::new();
        }
        let first = self
            .segments
            .partition_point(|s| s.base_offset() <= from_offset)
            .saturating_sub(1);
        let Some((segment, start)) = self.segments[first..]
            .iter()
            .find_map(|s| s.find(from_offset).map(|i| (s, i)))
        else {
            return Vec::new();
        };
        let mut bytes = 0u64;
        let mut end = start;
        for i in start..segment.batches().len() {
            if segment.batch_next_offset(i) > max_offset {
                break;
            }
            let size = segment.batch_size(i);
            if end > start && bytes + size > max_bytes as u64 {
                break;
            }
            bytes += size;
            end = i + 1;
        }
        // Counted first, so the answer is allocated once.
        segment.batches()[start..end].to_vec()
    }

    /// Every batch holding offsets from `from_offset` below `max_offset`,
    /// across segments (a whole-log read, as a consumer reading from
    /// `from_offset` to the end would get them over many fetches).
    pub fn read_all(&self, from_offset: u64, max_offset: u64) -> Vec<Rc<RecordBatch>> {
        let wanted = || {
            self.batches()
                .skip_while(move |b| b.next_offset() <= from_offset)
                .take_while(move |b| b.base_offset < max_offset && b.next_offset() <= max_offset)
        };
        // Counted first: a final read of a long run's log is millions of
        // batches, allocated once rather than doubled into.
        let mut out = Vec::with_capacity(wanted().count());
        out.extend(wanted().cloned());
        out
    }

    /// Removes every record at and above `offset` (Kafka's `truncateTo`).
    /// Truncation happens at batch boundaries: when `offset` falls inside a
    /// batch, that whole batch goes too and the log ends at its base offset.
    /// Segments starting above that are removed, the last kept one is cut,
    /// epochs starting at or above it leave the cache (the checkpoint is
    /// rewritten), and the high watermark and recovery point come down to
    /// it. Returns false (and does nothing) when `offset` is not below the
    /// log end offset.
    pub fn truncate_to(&mut self, offset: u64, out: &mut Vec<Effect>) -> bool {
        if offset >= self.log_end_offset() {
            // As Kafka: the epoch cache is cut anyway, for an epoch this
            // replica started as leader without appending anything to it.
            let leo = self.log_end_offset();
            if self.epoch_cache.truncate_from_end(leo) {
                self.write_epoch_checkpoint(out);
            }
            return false;
        }
        let target = self
            .batch_containing(offset)
            .map_or(offset, |b| b.base_offset);
        if target < self.segments[0].base_offset() {
            // Kafka's truncateTo below the first segment: start afresh there.
            self.truncate_fully_and_start_at(target, out);
            return true;
        }
        while self.segments.len() > 1 && self.active().base_offset() > target {
            if let Some(segment) = self.segments.pop() {
                out.push(Effect::Remove {
                    file: segment.file().to_owned().into(),
                });
            }
        }
        self.active_mut().truncate_to(target, out);
        self.sync_end();
        // The log now ends at `target`, or below it in a compacted log whose
        // cleaner had emptied the offsets before it: everything that
        // depends on the end comes down to where the log really ends.
        let end = self.log_end_offset();
        self.log_start_offset = self.log_start_offset.min(end);
        if self.epoch_cache.truncate_from_end(end) {
            self.write_epoch_checkpoint(out);
        }
        self.high_watermark = self.high_watermark.min(end);
        self.recovery_point = self.recovery_point.min(end);
        self.flush_requested = self.flush_requested.min(end);
        if self.config.contracts {
            self.assert_contracts();
        }
        true
    }

    /// Asserts the log's invariants, every segment and epoch: at least one
    /// segment; segments contiguous from the log start offset; the high
    /// watermark and the recovery point at most the log end offset; the
    /// epoch cache's epochs rising, their start offsets not falling and
    /// none past the log end offset. A violation is a bug in the model
    /// (the run stops with its seed, exit 3).
    pub fn assert_contracts(&self) {
        assert!(
            !self.segments.is_empty(),
            "{}: a log without segments",
            self.dir
        );
        let mut expected = self.segments[0].base_offset();
        assert!(
            expected <= self.log_start_offset && self.log_start_offset <= self.log_end_offset(),
            "{}: log start offset {} outside [{expected}, {}]",
            self.dir,
            self.log_start_offset,
            self.log_end_offset()
        );
        assert_eq!(
            self.log_end_offset,
            self.active().next_offset(),
            "{}: the log end offset kept is not the active segment's end",
            self.dir
        );
        for s in &self.segments {
            assert!(
                continues(expected, s.base_offset(), self.config.compact),
                "{}: segments are not contiguous (one starts at {}, the previous ends at {expected})",
                self.dir,
                s.base_offset()
            );
            expected = s.next_offset();
        }
        for pair in self.epoch_cache.entries().windows(2) {
            assert!(
                pair[0].epoch < pair[1].epoch && pair[0].start_offset <= pair[1].start_offset,
                "{}: epoch cache out of order: {:?} then {:?}",
                self.dir,
                pair[0],
                pair[1]
            );
        }
        self.assert_tail_contracts();
    }

    /// The invariants an append can break, checked in constant time: the
    /// high watermark, the recovery point and the newest epoch's start
    /// offset at most the log end offset, and the active segment starting
    /// where the one before it ends.
    fn assert_tail_contracts(&self) {
        let leo = self.log_end_offset();
        assert_eq!(
            leo,
            self.active().next_offset(),
            "{}: the log end offset kept is not the active segment's end",
            self.dir
        );
        assert!(
            self.log_start_offset <= self.high_watermark,
            "{}: high watermark {} below the log start offset {}",
            self.dir,
            self.high_watermark,
            self.log_start_offset
        );
        assert!(
            self.high_watermark <= leo,
            "{}: high watermark {} past the log end offset {leo}",
            self.dir,
            self.high_watermark
        );
        assert!(
            self.recovery_point <= leo,
            "{}: recovery point {} past the log end offset {leo}",
            self.dir,
            self.recovery_point
        );
        if let Some(e) = self.epoch_cache.latest_entry() {
            assert!(
                e.start_offset <= leo,
                "{}: epoch {} starts at {} past the log end offset {leo}",
                self.dir,
                e.epoch,
                e.start_offset
            );
        }
        if let [.., before, active] = self.segments.as_slice() {
            assert!(
                continues(
                    before.next_offset(),
                    active.base_offset(),
                    self.config.compact
                ),
                "{}: the active segment does not start where the previous one ends",
                self.dir
            );
        }
    }
}
