//! The per-log configs this model honours.

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
    /// Test-only mutation: recovery trusts the leader-epoch checkpoint even
    /// where the batches on disk contradict it.
    pub trust_epoch_checkpoint: bool,
    /// Assert the log's invariants as it changes (see
    /// [`super::UnifiedLog::assert_contracts`]); off only under a test
    /// mutation, which may break them on purpose.
    pub contracts: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            flush_interval_messages: i64::MAX as u64,
            flush_interval_ms: i64::MAX as u64,
            trust_epoch_checkpoint: false,
            contracts: true,
        }
    }
}
