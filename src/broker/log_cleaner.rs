//! `LogCleaner`: the broker's log cleaner thread and its
//! `LogCleanerManager` (Kafka's `kafka.log.LogCleaner`). Every
//! `log.cleaner.backoff.ms` while nothing is dirty enough, it takes the
//! filthiest compacted log (leader or follower: every replica cleans its
//! own), cleans it (see [`crate::log::UnifiedLog::clean`]) and looks
//! again; each log's first dirty offset is kept in
//! `cleaner-offset-checkpoint`, rewritten after every cleaning and read at
//! boot. With `log.cleaner.enable = false` compacted logs are never cleaned.

use std::collections::BTreeMap;

use sim::MILLIS;

use super::checkpoints::{self, CLEANER_CHECKPOINT};
use super::BrokerTimer;
use crate::log::{LogToClean, UnifiedLog};
use crate::node::{DiskView, Env};
use crate::protocol::{TopicIdPartition, Topics};

/// The cleaner's state: each compacted log's first dirty offset.
#[derive(Clone, Debug, Default)]
pub struct LogCleaner {
    enabled: bool,
    backoff_ms: u64,
    checkpoints: BTreeMap<TopicIdPartition, u64>,
}

impl LogCleaner {
    /// The cleaner of a booting broker: its checkpoints as `disk` holds
    /// them; the first look is at once, as the cleaner thread starts.
    pub fn boot(
        enabled: bool,
        backoff_ms: u64,
        topics: &Topics,
        env: &mut Env<'_>,
        disk: &dyn DiskView,
    ) -> Self {
        let checkpoints = checkpoints::decode(disk.read(CLEANER_CHECKPOINT).as_deref(), topics);
        if enabled {
            env.set_timer_after(MILLIS, BrokerTimer::LogCleaner);
        }
        Self {
            enabled,
            backoff_ms,
            checkpoints,
        }
    }

    /// Whether it runs.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// What of `log` may be cleaned now (Kafka's `cleanableOffsets`).
    pub fn to_clean(
        &self,
        tp: &TopicIdPartition,
        log: &UnifiedLog,
        last_stable_offset: u64,
        now_ms: u64,
    ) -> LogToClean {
        log.to_clean(
            self.checkpoints.get(tp).copied(),
            last_stable_offset,
            now_ms,
        )
    }

    /// A cleaning of `tp` ended at `end_offset` (Kafka's `doneCleaning`),
    /// or its checkpoint was out of range and starts again at the log
    /// start offset.
    pub fn done(&mut self, tp: TopicIdPartition, end_offset: u64) {
        self.checkpoints.insert(tp, end_offset);
    }

    /// A log was truncated to `offset`: a checkpoint past it comes down
    /// (Kafka's `maybeTruncateCheckpoint`).
    pub fn truncated(&mut self, tp: &TopicIdPartition, offset: u64) {
        if let Some(c) = self.checkpoints.get_mut(tp) {
            *c = (*c).min(offset);
        }
    }

    /// `tp`'s log was deleted: its checkpoint goes (Kafka's
    /// `updateCheckpoints` with the partition to remove).
    pub fn removed(&mut self, tp: &TopicIdPartition) {
        self.checkpoints.remove(tp);
    }

    /// The checkpoints, for `cleaner-offset-checkpoint`.
    pub fn checkpoints(&self) -> &BTreeMap<TopicIdPartition, u64> {
        &self.checkpoints
    }

    /// Sleeps `log.cleaner.backoff.ms`: nothing needs cleaning.
    pub fn back_off(&self, env: &mut Env<'_>) {
        env.set_timer_after(
            self.backoff_ms.max(1).saturating_mul(MILLIS),
            BrokerTimer::LogCleaner,
        );
    }
}
