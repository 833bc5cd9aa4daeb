//! The log cleaner's work on the hosted logs (Kafka's `CleanerThread`
//! `doWork`: grab the filthiest compacted log, clean it, look again; sleep
//! `log.cleaner.backoff.ms` once none is dirty enough).

use super::ReplicaManager;
use crate::broker::BrokerObs;
use crate::log::LogToClean;
use crate::node::Env;
use crate::protocol::TopicIdPartition;

impl ReplicaManager {
    /// The cleaner thread's turn: cleans every log that is due, filthiest
    /// first, then backs off.
    pub(super) fn on_cleaner_tick(&mut self, env: &mut Env<'_>) {
        if !self.cleaner.enabled() {
            return;
        }
        let now_ms = env.now_ms();
        // Each cleaning leaves its log with nothing dirty: one pass over the
        // logs, filthiest first, cleans each due log once.
        let mut due: Vec<(TopicIdPartition, LogToClean)> = Vec::new();
        let mut reset = Vec::new();
        for (tp, p) in self.partitions.iter() {
            let config = p.log.config();
            if !config.compact {
                continue;
            }
            let to_clean = self
                .cleaner
                .to_clean(tp, &p.log, p.last_stable_offset(), now_ms);
            if to_clean.reset_checkpoint {
                reset.push((*tp, to_clean.first_dirty_offset));
            }
            if to_clean.is_due(config.min_cleanable_ratio) {
                due.push((*tp, to_clean));
            }
        }
        for (tp, offset) in reset {
            self.cleaner.done(tp, offset);
        }
        // Filthiest first; equal ratios in partition order. A cleaning
        // changes only its own log: the others' ranges still hold.
        due.sort_by(|a, b| {
            let ratio = |d: &LogToClean| d.cleanable_ratio();
            ratio(&b.1).total_cmp(&ratio(&a.1)).then(a.0.cmp(&b.0))
        });
        let cleaned = !due.is_empty();
        for (tp, to_clean) in due {
            let Some(p) = self.partitions.get_mut(&tp) else {
                continue;
            };
            let aborted = p.producers.aborted_ranges();
            let active = p.producers.last_records();
            let mut out = self.logs.scratch();
            let outcome = p.log.clean(&to_clean, now_ms, &aborted, &active, &mut out);
            self.logs.apply(env, &tp, &mut p.log, out);
            self.cleaner.done(tp, outcome.end_offset);
            if !self.is_internal(&tp) {
                env.observe(BrokerObs::LogCleaned {
                    partition: tp,
                    records_removed: outcome.records_removed,
                    first_dirty_offset: outcome.end_offset,
                });
            }
        }
        if cleaned {
            let offsets = self.cleaner.checkpoints().clone();
            self.logs.checkpoint_cleaner_offsets(env, &offsets);
        }
        self.cleaner.back_off(env);
    }
}
