//! Kafka's partition log as a sans-IO state machine over a simulated disk.
//!
//! Models apache/kafka's `storage` module: [`UnifiedLog`] (one partition
//! replica's log: segments, high watermark, recovery point, flush policy,
//! recovery after a crash), [`LogSegment`] (one `{base_offset:020}.log`
//! file), [`LeaderEpochFileCache`] (epoch → start offset, persisted as
//! `leader-epoch-checkpoint`) and v2 [`RecordBatch`]es with their CRC-32C.
//!
//! Nothing here touches a disk or a clock. Every disk effect is pushed as an
//! [`Effect`](crate::node::Effect) for the host to apply in order; fsync completions come back
//! through [`UnifiedLog::on_flushed`], time through `now_ms` arguments, and
//! a restart rebuilds the log from the disk's bytes with
//! [`UnifiedLog::recover`].
//!
//! Choices where this model differs from Kafka:
//! - recovery re-reads every segment, not only those from the recovery
//!   point on (the in-memory log needs every batch); a cut below the
//!   recovery point is flagged in the [`RecoveryReport`];
//! - batches must have contiguous offsets; a gap ends the log at recovery;
//! - `truncate_to` an offset inside a batch drops that whole batch and the
//!   log ends at its base offset (Kafka cuts the same bytes but sets the log
//!   end offset to the requested offset);
//! - `flush.ms` is checked on appends and [`UnifiedLog::maybe_flush`], not by
//!   a scheduler; the flush clock starts at the first append;
//! - `decode` rejects what this model cannot hold (record headers,
//!   non-canonical varints, control batches other than end transaction
//!   markers) as corrupt;
//! - a batch larger than `segment.bytes` gets a segment of its own (Kafka
//!   rejects it with `RecordBatchTooLargeException`).
//!
//! Batches may be compressed ([`Compression`]: gzip, snappy, lz4, zstd
//! through the real codecs). Segments roll by `segment.bytes` and
//! `segment.ms` (without jitter); retention ([`UnifiedLog::delete_old_segments`])
//! deletes whole segments by `retention.ms` and `retention.bytes`, moves the
//! log start offset and renames the files `.deleted` for the host to remove
//! after `file.delete.delay.ms`.
//!
//! Not modelled: record headers, offset/time/transaction indexes (the
//! segment keeps what they give), producer state snapshots, compaction,
//! remote storage.

mod batch;
mod checkpoint_file;
mod cleaner;
mod codec;
mod compression;
mod config;
mod file_bytes;
mod headers;
mod leader_epoch;
mod recovery;
mod retention;
mod segment;
mod unified_log;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_compression;
#[cfg(test)]
mod tests_control;
#[cfg(test)]
mod tests_retention;

pub use ::crc32c::crc32c;
pub use batch::{
    increment_sequence, BatchBuilder, BatchError, ControlRecordType, EndTransactionMarker, Record,
    RecordBatch, RecordView, COMPRESSION_CODEC_MASK, CONTROL_FLAG, DELETE_HORIZON_FLAG,
    LOG_OVERHEAD, MAGIC_V2, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
    NO_SEQUENCE, NO_TIMESTAMP, RECORD_BATCH_OVERHEAD, TRANSACTIONAL_FLAG,
};
pub use checkpoint_file::{leader_epoch_checkpoint_file, write_atomically};
pub use cleaner::{AbortedRange, CleanOutcome, LastRecord, LogToClean};
pub use compression::{decompress, Compression, CompressionType};
pub use config::{LogCompression, LogConfig};
pub use file_bytes::FileBytes;
pub use headers::{Header, Headers};
pub use leader_epoch::{EpochEntry, LeaderEpochFileCache, UNDEFINED_EPOCH};
pub use recovery::{RecoveryReport, RecoveryStop};
pub use retention::{deleted_file_name, DeletionReason, RetentionOutcome};
pub use segment::{parse_segment_file_name, segment_file_name, LogSegment, ScanStop};
pub use unified_log::{AppendError, UnifiedLog};
#[cfg(test)]
mod tests_cleaned_batches;
#[cfg(test)]
mod tests_cleaner;
