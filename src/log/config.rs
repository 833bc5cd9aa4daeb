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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// `file.delete.delay.ms`, `cleanup.policy`, `compression.type`,
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
        let delete_policy = get("cleanup.policy").map_or(self.delete_policy, |v| {
            v.split(',').any(|p| p.trim() == "delete")
        });
        Self {
            segment_bytes: number("segment.bytes", self.segment_bytes),
            segment_ms: number("segment.ms", self.segment_ms),
            flush_interval_messages: number("flush.messages", self.flush_interval_messages),
            flush_interval_ms: number("flush.ms", self.flush_interval_ms),
            retention_ms: signed("retention.ms", self.retention_ms),
            retention_bytes: signed("retention.bytes", self.retention_bytes),
            file_delete_delay_ms: number("file.delete.delay.ms", self.file_delete_delay_ms),
            delete_policy,
            compression: self.compression.with_overrides(&get),
            ..self
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
            trust_epoch_checkpoint: false,
            contracts: true,
        }
    }
}
