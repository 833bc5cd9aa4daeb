//! The log manager's periodic tasks that touch every hosted log: the
//! retention check (Kafka's `kafka-log-retention`, every
//! `log.retention.check.interval.ms` after `log.initial.task.delay.ms`) and
//! the log start offset checkpoint (`kafka-log-start-offset-checkpoint`,
//! every `log.flush.start.offset.checkpoint.interval.ms`).

use sim::MILLIS;

use super::ReplicaManager;
use crate::broker::config::LOG_INITIAL_TASK_DELAY_MS;
use crate::broker::{BrokerObs, BrokerTimer};
use crate::node::Env;
use crate::protocol::TopicIdPartition;

impl ReplicaManager {
    /// Starts the retention check and the log start offset checkpoint.
    pub(super) fn start_log_tasks(&self, env: &mut Env<'_>) {
        env.set_timer_after(
            LOG_INITIAL_TASK_DELAY_MS * MILLIS,
            BrokerTimer::LogRetention,
        );
        env.set_timer_after(
            self.config
                .log_start_offset_checkpoint_interval_ms
                .saturating_mul(MILLIS),
            BrokerTimer::LogStartOffsetCheckpoint,
        );
    }

    /// Kafka's `cleanupLogs`: every hosted log, leader or follower, deletes
    /// the segments its retention configs let go; their files are removed
    /// after `file.delete.delay.ms`.
    pub(super) fn on_retention_check(&mut self, env: &mut Env<'_>) {
        let now_ms = env.now_ms();
        let tps: Vec<TopicIdPartition> = self.partitions.keys().copied().collect();
        for tp in tps {
            let Some(p) = self.partitions.get_mut(&tp) else {
                continue;
            };
            let mut out = self.logs.scratch();
            let outcome = p.log.delete_old_segments(now_ms, &mut out);
            let start = p.log.log_start_offset();
            self.logs.apply(env, &tp, &mut p.log, out);
            if !outcome.is_empty() && !self.is_internal(&tp) {
                env.observe(BrokerObs::SegmentsDeleted {
                    partition: tp,
                    segments: outcome.deleted.len() as u32,
                    log_start_offset: start,
                });
            }
        }
        env.set_timer_after(
            self.config
                .retention_check_interval_ms
                .saturating_mul(MILLIS),
            BrokerTimer::LogRetention,
        );
    }

    /// The periodic `log-start-offset-checkpoint` write.
    pub(super) fn on_log_start_offset_checkpoint(&mut self, env: &mut Env<'_>) {
        self.checkpoint_log_start_offsets(env);
        super::every(
            env,
            self.config.log_start_offset_checkpoint_interval_ms,
            BrokerTimer::LogStartOffsetCheckpoint,
        );
    }
}
