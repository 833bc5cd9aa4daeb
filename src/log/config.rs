//! The per-log configs this model honours.

use super::{Compression, CompressionType};

/// A log's `compression.type` (Kafka's `BrokerCompressionType`) with the
/// levels of `compression.gzip.level`, `compression.lz4.level` and
/// `compression.zstd.level` (KIP-390).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogCompression {
    /// The codec batches are stored with; None for `producer` (the
    /// default: each batch as its producer compressed it). `uncompressed`
    /// is [`CompressionType::None`].
    pub codec: Option<CompressionType>,
    /// `compression.gzip.level` (-1).
    pub gzip_level: i32,
    /// `compression.lz4.level` (9).
    pub lz4_level: i32,
    /// `compression.zstd.level` (3).
    pub zstd_level: i32,
}

impl Default for LogCompression {
    fn default() -> Self {
        Self {
            codec: None,
            gzip_level: CompressionType::Gzip.default_level(),
            lz4_level: CompressionType::Lz4.default_level(),
            zstd_level: CompressionType::Zstd.default_level(),
        }
    }
}

impl LogCompression {
    /// A broker or topic `compression.type` value: Some(None) for
    /// `producer`, Some(Some(codec)) for a codec (`uncompressed` is the
    /// codec none); None for a name Kafka does not have there.
    pub fn codec_named(name: &str) -> Option<Option<CompressionType>> {
        match name {
            "producer" => Some(None),
            "uncompressed" => Some(Some(CompressionType::None)),
            "none" => None,
            other => CompressionType::from_name(other).map(Some),
        }
    }

    /// These settings under a topic's overrides (`compression.type`,
    /// `compression.*.level` as the topic set them; unset ones keep the
    /// broker's).
    pub fn with_overrides(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(codec) = get("compression.type").and_then(|v| Self::codec_named(&v)) {
            self.codec = codec;
        }
        let level = |name: &str, current: i32| {
            get(name)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(current)
        };
        self.gzip_level = level("compression.gzip.level", self.gzip_level);
        self.lz4_level = level("compression.lz4.level", self.lz4_level);
        self.zstd_level = level("compression.zstd.level", self.zstd_level);
        self
    }
    /// The compression batches are stored with, None for `producer`.
    pub fn target(&self) -> Option<Compression> {
        let kind = self.codec?;
        let level = match kind {
            CompressionType::Gzip => self.gzip_level,
            CompressionType::Lz4 => self.lz4_level,
            CompressionType::Zstd => self.zstd_level,
            CompressionType::None | CompressionType::Snappy => 0,
        };
        Some(Compression { kind, level })
    }
}

/// Kafka's log configs that shape the on-disk log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogConfig {
    /// `log.segment.bytes` (`segment.bytes`): roll a new segment when the
    /// active one would grow past this. Default 1 GiB.
    pub segment_bytes: u64,
    /// `log.flush.interval.messages` (`flush.messages`): fsync once this many
    /// messages are unflushed. Default `i64::MAX` (never: the OS writes back).
    pub flush_interval_messages: u64,
    /// `log.flush.interval.ms` (`flush.ms`): fsync when the last flush is
    /// this old. Default `i64::MAX` (never).
    pub flush_interval_ms: u64,
    /// `compression.type` and the codecs' levels.
    pub compression: LogCompression,
    /// `log.roll.ms` (`segment.ms`): roll a new segment when an append's
    /// largest timestamp is this far past the first batch of the active
    /// segment. Default 7 days.
    pub segment_ms: u64,
    /// `log.retention.ms` (`retention.ms`): segments whose largest
    /// timestamp is older than this are deleted; negative keeps them
    /// forever. Default 7 days.
    pub retention_ms: i64,
    /// `log.retention.bytes` (`retention.bytes`): the oldest segments go
    /// while the log is larger than this; negative (the default, -1): no
    /// size limit.
    pub retention_bytes: i64,
    /// `log.segment.delete.delay.ms` (`file.delete.delay.ms`): how long a
    /// deleted segment's file stays, renamed `.deleted`, before it is
    /// removed. Default 60000.
    pub file_delete_delay_ms: u64,
    /// `cleanup.policy` holds `delete`: time and size retention apply (the
    /// default). Segments below the log start offset go either way.
    pub delete_policy: bool,
    /// `cleanup.policy` holds `compact`: the log cleaner compacts the log
    /// (see [`super::cleaner`]), and it may hold offset gaps.
    pub compact: bool,
    /// `log.cleaner.min.cleanable.ratio` (`min.cleanable.dirty.ratio`): the
    /// dirty share of the log above which the cleaner takes it. Default 0.5.
    pub min_cleanable_ratio: f64,
    /// `log.cleaner.min.compaction.lag.ms` (`min.compaction.lag.ms`): a
    /// record stays uncompacted at least this long. Default 0.
    pub min_compaction_lag_ms: u64,
    /// `log.cleaner.max.compaction.lag.ms` (`max.compaction.lag.ms`): a
    /// record is compacted within about this long (and the active segment
    /// rolls by it). Default Long.MAX_VALUE.
    pub max_compaction_lag_ms: u64,
    /// `log.cleaner.delete.retention.ms` (`delete.retention.ms`): how long
    /// a tombstone (and a transaction marker) stays after the cleaner first
    /// saw it. Default 86400000 (1 day).
    pub delete_retention_ms: u64,
    /// KAFKA-10101 (2.8): recovery leaves the recovery point where the
    /// checkpoint had it (at most the recovered log end offset), so the
    /// next flush fsyncs what the recovery read from the page cache. Off
    /// (`[protocol] recovery_point_held_after_recovery = false`), as in 2.7
    /// and before, `recoverLog` moves it to the recovered log end offset.
    pub recovery_point_held_after_recovery: bool,
    /// Test-only mutation: recovery trusts the leader-epoch checkpoint even
    /// where the batches on disk contradict it.
    pub trust_epoch_checkpoint: bool,
    /// Assert the log's invariants as it changes (see
    /// [`super::UnifiedLog::assert_contracts`]); off only under a test
    /// mutation, which may break them on purpose.
    pub contracts: bool,
}

impl LogConfig {
    /// The config of a topic's logs: these (the broker's) under the topic's
    /// overrides (`segment.bytes`, `segment.ms`, `flush.messages`,
    /// `flush.ms`, `retention.ms`, `retention.bytes`,
    /// `file.delete.delay.ms`, `cleanup.policy`, `min.cleanable.dirty.ratio`,
    /// `min.compaction.lag.ms`, `max.compaction.lag.ms`,
    /// `delete.retention.ms`, `compression.type`,
    /// `compression.*.level`), as Kafka's `LogConfig` merges a topic's
    /// configs over the broker defaults.
    pub fn with_overrides(self, get: impl Fn(&str) -> Option<String>) -> Self {
        let number = |name: &str, current: u64| {
            get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(current)
        };
        let signed = |name: &str, current: i64| {
            get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(current)
        };
        let policy = |name: &str, current: bool| {
            get("cleanup.policy").map_or(current, |v| v.split(',').any(|p| p.trim() == name))
        };
        let ratio = get("min.cleanable.dirty.ratio")
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(self.min_cleanable_ratio);
        Self {
            segment_bytes: number("segment.bytes", self.segment_bytes),
            segment_ms: number("segment.ms", self.segment_ms),
            flush_interval_messages: number("flush.messages", self.flush_interval_messages),
            flush_interval_ms: number("flush.ms", self.flush_interval_ms),
            retention_ms: signed("retention.ms", self.retention_ms),
            retention_bytes: signed("retention.bytes", self.retention_bytes),
            file_delete_delay_ms: number("file.delete.delay.ms", self.file_delete_delay_ms),
            delete_policy: policy("delete", self.delete_policy),
            compact: policy("compact", self.compact),
            min_cleanable_ratio: ratio,
            min_compaction_lag_ms: number("min.compaction.lag.ms", self.min_compaction_lag_ms),
            max_compaction_lag_ms: number("max.compaction.lag.ms", self.max_compaction_lag_ms),
            delete_retention_ms: number("delete.retention.ms", self.delete_retention_ms),
            compression: self.compression.with_overrides(&get),
            ..self
        }
    }
}

impl LogConfig {
    /// The age at which the active segment rolls (Kafka's
    /// `LogConfig.maxSegmentMs`): `segment.ms`, or `max.compaction.lag.ms`
    /// when that is sooner on a compacted log.
    pub fn max_segment_ms(&self) -> u64 {
        if self.compact && self.max_compaction_lag_ms > 0 {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            flush_interval_messages: i64::MAX as u64,
            flush_interval_ms: i64::MAX as u64,
            compression: LogCompression::default(),
            segment_ms: 7 * 24 * 3_600_000,
            retention_ms: 7 * 24 * 3_600_000,
            retention_bytes: -1,
            file_delete_delay_ms: 60_000,
            delete_policy: true,
            compact: false,
            min_cleanable_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX as u64,
            delete_retention_ms: 86_400_000,
            recovery_point_held_after_recovery: true,
            trust_epoch_checkpoint: false,
            contracts: true,
        }
    }
}
