//! The broker's data-path configs, with Kafka's names and defaults.

use crate::config::KafkaConfigs;
use crate::log::LogConfig;

/// How a replica truncates when it follows a new leader (`[protocol] truncation`).
pub use crate::scenario::Truncation;

/// Data-path configs of a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms`.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms`.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.max.bytes`.
    pub replica_fetch_max_bytes: usize,
    /// `replica.fetch.backoff.ms`.
    pub replica_fetch_backoff_ms: u64,
    /// `replica.socket.timeout.ms`.
    pub replica_socket_timeout_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub hw_checkpoint_interval_ms: u64,
    /// `log.flush.offset.checkpoint.interval.ms`.
    pub recovery_checkpoint_interval_ms: u64,
    /// `min.insync.replicas` (the broker default; topics may override).
    pub min_insync_replicas: usize,
    /// How followers truncate (`[protocol] truncation`).
    pub truncation: Truncation,
    /// Log configs.
    pub log: LogConfig,
    /// `offsets.topic.num.partitions`.
    pub offsets_topic_num_partitions: u32,
    /// `offsets.commit.timeout.ms`.
    pub offsets_commit_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u64,
    /// Test-only bug: a coordinator loading a partition skips its committed offsets.
    pub forget_offsets_on_load: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_backoff_ms: 1000,
            replica_socket_timeout_ms: 30_000,
            hw_checkpoint_interval_ms: 5000,
            recovery_checkpoint_interval_ms: 60_000,
            min_insync_replicas: 1,
            truncation: Truncation::LeaderEpoch,
            log: LogConfig::default(),
            offsets_topic_num_partitions: 50,
            offsets_commit_timeout_ms: 5000,
            group_initial_rebalance_delay_ms: 3000,
            forget_offsets_on_load: false,
        }
    }
}

impl BrokerConfig {
    /// The configs of `[cluster.config]`.
    pub fn from_configs(configs: &KafkaConfigs, truncation: Truncation) -> Self {
        let d = Self::default();
        let int = |name: &str, default: u64| {
            configs
                .get_i64(name)
                .map_or(default, |v| u64::try_from(v).unwrap_or(default))
        };
        Self {
            replica_lag_time_max_ms: int("replica.lag.time.max.ms", d.replica_lag_time_max_ms),
            replica_fetch_wait_max_ms: int(
                "replica.fetch.wait.max.ms",
                d.replica_fetch_wait_max_ms,
            ),
            replica_fetch_max_bytes: int(
                "replica.fetch.max.bytes",
                d.replica_fetch_max_bytes as u64,
            ) as usize,
            replica_fetch_backoff_ms: int("replica.fetch.backoff.ms", d.replica_fetch_backoff_ms),
            replica_socket_timeout_ms: int(
                "replica.socket.timeout.ms",
                d.replica_socket_timeout_ms,
            ),
            hw_checkpoint_interval_ms: int(
                "replica.high.watermark.checkpoint.interval.ms",
                d.hw_checkpoint_interval_ms,
            ),
            recovery_checkpoint_interval_ms: int(
                "log.flush.offset.checkpoint.interval.ms",
                d.recovery_checkpoint_interval_ms,
            ),
            min_insync_replicas: int("min.insync.replicas", 1) as usize,
            truncation,
            log: LogConfig {
                segment_bytes: int("log.segment.bytes", d.log.segment_bytes),
                flush_interval_messages: int(
                    "log.flush.interval.messages",
                    d.log.flush_interval_messages,
                ),
                flush_interval_ms: int("log.flush.interval.ms", d.log.flush_interval_ms),
                trust_epoch_checkpoint: false,
            },
            offsets_topic_num_partitions: int(
                "offsets.topic.num.partitions",
                u64::from(d.offsets_topic_num_partitions),
            )
            .clamp(1, u64::from(u32::MAX)) as u32,
            offsets_commit_timeout_ms: int(
                "offsets.commit.timeout.ms",
                d.offsets_commit_timeout_ms,
            ),
            group_initial_rebalance_delay_ms: int(
                "group.initial.rebalance.delay.ms",
                d.group_initial_rebalance_delay_ms,
            ),
            forget_offsets_on_load: false,
        }
    }
}
