//! Retention (Kafka's `UnifiedLog.deleteOldSegments`): whole segments are
//! deleted from the start of the log when they are past `retention.ms`,
//! while the log is larger than `retention.bytes`, or when they lie below
//! the log start offset; never a segment holding an offset at or above the
//! high watermark. The log start offset moves to the first segment kept,
//! the leader epoch cache drops what lies below it, and each deleted
//! segment's file is renamed `.deleted`, to be removed by the host after
//! `file.delete.delay.ms` (Kafka's asynchronous delete).

use super::segment::LogSegment;
use super::unified_log::UnifiedLog;
use crate::node::{Effect, FileName};

/// Why segments were deleted (Kafka's `SegmentDeletionReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeletionReason {
    /// Below the log start offset (a follower's, learned from its leader).
    StartOffsetBreach,
    /// The log was larger than `retention.bytes`.
    RetentionSizeBreach,
    /// Older than `retention.ms`.
    RetentionMsBreach,
}

/// What one retention pass did to a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Segments deleted, by reason, in the order they went.
    pub deleted: Vec<(DeletionReason, u64)>,
    /// The log start offset before the pass.
    pub start_before: u64,
    /// The log start offset after it.
    pub start_after: u64,
}

impl RetentionOutcome {
    /// Whether any segment was deleted.
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty()
    }
}

/// The name a deleted segment's file is renamed to.
pub fn deleted_file_name(file: &str) -> String {
    format!("{file}.deleted")
}

impl UnifiedLog {
    /// One retention pass at `now_ms` (Kafka's `deleteOldSegments`): the
    /// segments below the log start offset, then (with `cleanup.policy`
    /// delete) those over `retention.bytes`, then those past
    /// `retention.ms`.
    pub fn delete_old_segments(&mut self, now_ms: u64, out: &mut Vec<Effect>) -> RetentionOutcome {
        let mut outcome = RetentionOutcome {
            start_before: self.log_start_offset,
            ..RetentionOutcome::default()
        };
        let start = self.log_start_offset;
        self.delete_while(
            DeletionReason::StartOffsetBreach,
            now_ms,
            |_, next| next.is_some_and(|n| n.base_offset() <= start),
            out,
            &mut outcome,
        );
        if self.config.delete_policy {
            let size: u64 = self.segments.iter().map(LogSegment::size).sum();
            let limit = self.config.retention_bytes;
            if limit >= 0 && size >= limit as u64 {
                let mut over = size - limit as u64;
                self.delete_while(
                    DeletionReason::RetentionSizeBreach,
                    now_ms,
                    |s, _| {
                        let go = over >= s.size();
                        if go {
                            over -= s.size();
                        }
                        go
                    },
                    out,
                    &mut outcome,
                );
            }
            let retention = self.config.retention_ms;
            if retention >= 0 {
                self.delete_while(
                    DeletionReason::RetentionMsBreach,
                    now_ms,
                    |s, _| {
                        s.largest_timestamp()
                            .is_some_and(|t| now_ms.saturating_sub(t) > retention as u64)
                    },
                    out,
                    &mut outcome,
                );
            }
        }
        outcome.start_after = self.log_start_offset;
        outcome
    }

    /// Kafka's `deletableSegments` then `deleteSegments`: segments from the
    /// oldest while `predicate(segment, next)` holds and the high watermark
    /// covers them, never an empty last segment; when every segment goes,
    /// a new active one is rolled first.
    /// Renames `segment`'s file `.deleted` (Kafka's asynchronous delete),
    /// for the host to remove after `file.delete.delay.ms` (see
    /// [`UnifiedLog::take_deleted_files`]); returns the new name.
    pub(super) fn rename_deleted(
        &mut self,
        segment: &LogSegment,
        out: &mut Vec<Effect>,
    ) -> FileName {
        let deleted: FileName = deleted_file_name(segment.file()).into();
        out.push(Effect::Rename {
            from: segment.file().to_owned().into(),
            to: deleted.clone(),
        });
        self.deleted_files.push(deleted.clone());
        deleted
    }

    fn delete_while(
        &mut self,
        reason: DeletionReason,
        now_ms: u64,
        mut predicate: impl FnMut(&LogSegment, Option<&LogSegment>) -> bool,
        out: &mut Vec<Effect>,
        outcome: &mut RetentionOutcome,
    ) {
        let leo = self.log_end_offset();
        let mut count = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1);
            let upper = next.map_or(leo, LogSegment::base_offset);
            let last_and_empty = next.is_none() && segment.size() == 0;
            if self.high_watermark >= upper && !last_and_empty && predicate(segment, next) {
                count += 1;
            } else {
                break;
            }
        }
        if count == 0 {
            return;
        }
        if count == self.segments.len() {
            self.roll(now_ms, out);
        }
        let start = self.segments[count].base_offset();
        self.maybe_increment_log_start_offset(start, out);
        let gone: Vec<LogSegment> = self.segments.drain(..count).collect();
        for segment in gone {
            self.rename_deleted(&segment, out);
            outcome.deleted.push((reason, segment.base_offset()));
        }
        if self.config.contracts {
            self.assert_contracts();
        }
    }

    /// Raises the log start offset to `offset` (at most the high watermark;
    /// Kafka's `maybeIncrementLogStartOffset`): the epoch cache drops what
    /// lies below it. Returns whether it moved.
    pub fn maybe_increment_log_start_offset(&mut self, offset: u64, out: &mut Vec<Effect>) -> bool {
        let offset = offset.min(self.high_watermark);
        if offset <= self.log_start_offset {
            return false;
        }
        self.log_start_offset = offset;
        if self.epoch_cache.truncate_from_start(offset) {
            self.write_epoch_checkpoint(out);
        }
        true
    }

    /// Deletes every segment and starts an empty log at `offset` (Kafka's
    /// `truncateFullyAndStartAt`: a follower whose log ends below its
    /// leader's log start offset). The old segments' files are renamed
    /// `.deleted` like retention's.
    pub fn truncate_fully_and_start_at(&mut self, offset: u64, out: &mut Vec<Effect>) {
        for segment in self.segments.drain(..) {
            let deleted: FileName = deleted_file_name(segment.file()).into();
            out.push(Effect::Rename {
                from: segment.file().to_owned().into(),
                to: deleted.clone(),
            });
            self.deleted_files.push(deleted);
        }
        let segment = LogSegment::new(&self.dir, offset);
        out.push(Effect::Write {
            file: segment.file().to_owned().into(),
            offset: 0,
            bytes: sim::Blob::empty(),
        });
        self.segments.push(segment);
        self.sync_end();
        self.log_start_offset = offset;
        self.high_watermark = offset;
        self.recovery_point = offset;
        self.flush_requested = offset;
        if self.epoch_cache.truncate_from_end(0) {
            self.write_epoch_checkpoint(out);
        }
        if self.config.contracts {
            self.assert_contracts();
        }
    }

    /// The files renamed `.deleted` since last asked, for the host to
    /// remove after `file.delete.delay.ms`.
    pub fn take_deleted_files(&mut self) -> Vec<FileName> {
        std::mem::take(&mut self.deleted_files)
    }
}
