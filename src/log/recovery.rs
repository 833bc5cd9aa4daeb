//! Rebuilding a log from its directory after a restart (Kafka's `LogLoader`
//! recovering after an unclean shutdown).
//!
//! Segments are read in base-offset order, from the first one on disk (the
//! log start offset after retention). The log ends at the first torn
//! batch, corrupt batch or offset gap (a segment not starting where the
//! previous one ended counts as a gap): that segment is cut there and every
//! later segment is removed. Unlike Kafka, which only re-reads segments
//! from the recovery point on (trusting fsynced ones), every segment is
//! read, as the in-memory log needs all batches; a cut below the recovery
//! point is flagged in the report.
//!
//! A compacted log may hold offset gaps (the cleaner removes whole
//! batches), so there only a batch or segment starting *below* the offset
//! reached ends the log. A cleaning cut short by a crash is finished or
//! undone as Kafka's `LogLoader` does: a `.cleaned` file is removed, and a
//! `.swap` file replaces every segment whose base offset lies in its range,
//! then takes its `.log` name.

use std::collections::BTreeMap;

use super::checkpoint_file::{leader_epoch_checkpoint_file, tmp_file, write_atomically};
use super::config::LogConfig;
use super::file_bytes::FileBytes;
use super::leader_epoch::LeaderEpochFileCache;
use super::segment::{
    continues, count_decodable_batches, parse_segment_file_name, parse_swap_file_name, LogSegment,
    ScanStop,
};
use super::unified_log::UnifiedLog;
use sim::Blob;

use crate::node::Effect;

/// Where recovery ended the log early, and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecoveryStop {
    /// The segment file where the valid log ends.
    pub file: String,
    /// Byte position in it where the valid log ends.
    pub position: u64,
    /// The log end offset after recovery.
    pub offset: u64,
    /// What was found there.
    pub reason: ScanStop,
    /// The cut lies below the recovery point: data that was fsynced is bad
    /// (media corruption); Kafka would not have re-read it at startup.
    pub below_recovery_point: bool,
}

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RecoveryReport {
    /// Segments kept.
    pub segments_loaded: usize,
    /// Batches kept.
    pub batches_loaded: u64,
    /// The log end offset after recovery.
    pub log_end_offset: u64,
    /// Where and why the log was cut, if it was.
    pub stop: Option<RecoveryStop>,
    /// Segment bytes discarded (cut tails and removed segments).
    pub bytes_cut: u64,
    /// Whole, valid batches among the discarded bytes (a torn or corrupt
    /// batch is not counted, nor anything after it in its segment).
    pub batches_cut: u64,
    /// Segment files removed.
    pub segments_removed: Vec<String>,
    /// The leader epoch checkpoint was rewritten (missing entries, stale
    /// entries past the log end, or an unreadable file).
    pub epoch_checkpoint_rewritten: bool,
}

impl UnifiedLog {
    /// Rebuilds the log of `dir` from `files` (every file under `dir/`:
    /// name and current bytes). Pushes the repairs to `out`: removal of a
    /// stray checkpoint `.tmp`, the cut of the segment where the valid log
    /// ends, removal of every later segment, creation of an empty first
    /// segment when there is none, and a checkpoint rewrite when the epoch
    /// cache differs from it.
    ///
    /// The epoch cache is the checkpoint's entries, truncated from the end
    /// at the recovered log end offset, then extended with the epoch of each
    /// recovered batch that is newer than the latest cached one (as Kafka's
    /// `LogSegment.recover` does). The recovery point becomes
    /// `min(recovery_point, log end offset)` (the log end offset without
    /// KAFKA-10101, `LogConfig::recovery_point_held_after_recovery`), the
    /// high watermark 0 (the host restores it from its checkpoint).
    pub fn recover(
        dir: &str,
        config: LogConfig,
        files: &[(String, FileBytes)],
        recovery_point: u64,
        out: &mut Vec<Effect>,
    ) -> UnifiedLog {
        let checkpoint_path = leader_epoch_checkpoint_file(dir);
        let checkpoint_tmp = tmp_file(&checkpoint_path);
        let mut segment_files: BTreeMap<u64, (&str, &FileBytes)> = BTreeMap::new();
        let mut swaps: Vec<(u64, &str, &FileBytes)> = Vec::new();
        let mut checkpoint: Option<&FileBytes> = None;
        for (name, bytes) in files {
            if let Some(base) = parse_segment_file_name(dir, name) {
                segment_files.insert(base, (name, bytes));
            } else if let Some(base) = parse_swap_file_name(dir, name) {
                swaps.push((base, name, bytes));
            } else if *name == checkpoint_path {
                checkpoint = Some(bytes);
            } else if *name == checkpoint_tmp
                || name.ends_with(".deleted")
                || name.ends_with(".cleaned")
            {
                // A checkpoint's temp file, a segment retention or the
                // cleaner deleted whose file was not removed yet, or a
                // cleaning that had not reached its swap (Kafka's LogLoader
                // removes them all at startup).
                out.push(Effect::Remove {
                    file: name.clone().into(),
                });
            }
        }
        // A swap file replaces the segments it covers, then takes the
        // segment name of its base offset.
        let segment_names: BTreeMap<u64, String> = swaps
            .iter()
            .map(|&(base, _, _)| (base, super::segment::segment_file_name(dir, base)))
            .collect();
        for (base, name, bytes) in swaps {
            let (swapped, _) = LogSegment::load(dir, base, bytes, true);
            let end = swapped.next_offset().max(base + 1);
            let covered: Vec<u64> = segment_files.range(base..end).map(|(&b, _)| b).collect();
            for b in covered {
                if let Some((old, _)) = segment_files.remove(&b) {
                    if b != base {
                        out.push(Effect::Remove {
                            file: old.to_owned().into(),
                        });
                    }
                }
            }
            let target = &segment_names[&base];
            out.push(Effect::Rename {
                from: name.to_owned().into(),
                to: target.clone().into(),
            });
            segment_files.insert(base, (target.as_str(), bytes));
        }

        let mut report = RecoveryReport::default();
        let mut segments: Vec<LogSegment> = Vec::new();
        let first_base = segment_files.keys().next().copied().unwrap_or(0);
        let mut expected = first_base;
        for (base, (name, bytes)) in segment_files {
            if report.stop.is_some() {
                remove_segment(name, bytes, &mut report, out);
                continue;
            }
            if !continues(expected, base, config.compact) {
                report.stop = Some(RecoveryStop {
                    file: name.to_owned(),
                    position: 0,
                    offset: expected,
                    reason: ScanStop::Gap {
                        expected,
                        found: base,
                    },
                    below_recovery_point: expected < recovery_point,
                });
                remove_segment(name, bytes, &mut report, out);
                continue;
            }
            let (segment, stop) = LogSegment::load(dir, base, bytes, config.compact);
            expected = segment.next_offset();
            if let Some(reason) = stop {
                let valid = segment.size();
                let tail = bytes.copy(valid as usize..bytes.len());
                report.bytes_cut += tail.len() as u64;
                report.batches_cut += count_decodable_batches(&tail);
                report.stop = Some(RecoveryStop {
                    file: name.to_owned(),
                    position: valid,
                    offset: expected,
                    reason,
                    below_recovery_point: expected < recovery_point,
                });
                out.push(Effect::Truncate {
                    file: name.to_owned().into(),
                    len: valid,
                });
            }
            segments.push(segment);
        }
        if segments.is_empty() {
            let segment = LogSegment::new(dir, 0);
            out.push(Effect::Write {
                file: segment.file().to_owned().into(),
                offset: 0,
                bytes: Blob::empty(),
            });
            segments.push(segment);
        }
        let log_end_offset = expected;

        let stored = checkpoint.map(|c| LeaderEpochFileCache::decode_checkpoint(&c.bytes()));
        let mut epoch_cache = match &stored {
            Some(Some(entries)) => LeaderEpochFileCache::from_entries(entries.iter().copied()),
            _ => LeaderEpochFileCache::new(),
        };
        epoch_cache.truncate_from_end(log_end_offset);
        // The checkpoint is fsynced, the log data is not: after a power loss
        // the checkpoint may name an epoch start whose batch on disk is still
        // an older epoch's (a truncation and the appends after it were lost).
        // Such entries, and every later one, are dropped and rebuilt from the
        // batches, or the replica would keep a record its leader never had.
        // In a compacted log the batch an epoch started with may be gone:
        // there only an older epoch at or past its start contradicts it.
        let disagrees = epoch_cache.entries().iter().find(|e| {
            segments
                .iter()
                .flat_map(|s| s.batches())
                .find(|b| b.next_offset() > e.start_offset)
                .is_some_and(|b| {
                    if config.compact {
                        b.partition_leader_epoch < e.epoch
                    } else {
                        b.base_offset != e.start_offset || b.partition_leader_epoch != e.epoch
                    }
                })
        });
        if let (false, Some(first_bad)) = (
            config.trust_epoch_checkpoint,
            disagrees.map(|e| e.start_offset),
        ) {
            epoch_cache.truncate_from_end(first_bad);
        }
        for batch in segments.iter().flat_map(|s| s.batches()) {
            let epoch = batch.partition_leader_epoch;
            if epoch >= 0
                && epoch_cache
                    .latest_epoch()
                    .is_none_or(|latest| epoch > latest)
            {
                epoch_cache.assign(epoch, batch.base_offset);
            }
        }
        let rewrite = match &stored {
            None => !epoch_cache.is_empty(),
            Some(None) => true,
            Some(Some(entries)) => entries.as_slice() != epoch_cache.entries(),
        };
        if rewrite {
            write_atomically(&checkpoint_path, epoch_cache.encode_checkpoint(), out);
        }

        report.segments_loaded = segments.len();
        report.batches_loaded = segments.iter().map(|s| s.batches().len() as u64).sum();
        report.log_end_offset = log_end_offset;
        report.epoch_checkpoint_rewritten = rewrite;
        let recovery_point = if config.recovery_point_held_after_recovery {
            recovery_point.min(log_end_offset)
        } else {
            // Kafka 2.7 and before (KAFKA-10101): `recoverLog` ends with
            // the recovery point at the log end offset, clean shutdown or
            // not, so what it read from the page cache is not fsynced by
            // the next flush.
            log_end_offset
        };
        let log_start_offset = segments[0].base_offset();
        let log = UnifiedLog {
            dir: dir.to_owned(),
            config,
            segments,
            log_end_offset,
            log_start_offset,
            deleted_files: Vec::new(),
            epoch_cache,
            high_watermark: log_start_offset,
            recovery_point,
            flush_requested: recovery_point,
            last_flush_ms: None,
            recovery: report,
        };
        if config.contracts {
            log.assert_contracts();
        }
        log
    }
}

impl UnifiedLog {
    /// Takes the log start offset of `log-start-offset-checkpoint` after
    /// recovery: the larger of it and the first segment's base offset,
    /// at most the log end offset (Kafka's `LogLoader`); the epoch cache
    /// drops what lies below it and the high watermark is at least it.
    pub fn restore_log_start_offset(&mut self, checkpointed: u64, out: &mut Vec<Effect>) {
        let start = checkpointed
            .max(self.segments[0].base_offset())
            .min(self.log_end_offset());
        self.high_watermark = self.high_watermark.max(start);
        self.maybe_increment_log_start_offset(start, out);
    }
}

fn remove_segment(
    name: &str,
    bytes: &FileBytes,
    report: &mut RecoveryReport,
    out: &mut Vec<Effect>,
) {
    report.bytes_cut += bytes.len() as u64;
    report.batches_cut += count_decodable_batches(&bytes.bytes());
    report.segments_removed.push(name.to_owned());
    out.push(Effect::Remove {
        file: name.to_owned().into(),
    });
}
