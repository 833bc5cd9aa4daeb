//! The application loop on top of the consumer: poll, process, commit.
//!
//! - at-least-once: poll up to `max.poll.records`, process them (taking
//!   `processing_time`), then commitSync the positions after them — or,
//!   with `enable.auto.commit`, let the next poll commit them once
//!   `auto.commit.interval.ms` has passed (the previous poll's position).
//! - at-most-once: poll, commitSync the positions after the records, and
//!   process them only once that commit succeeded.

use super::{
    App, Closing, CommitPurpose, Consumer, ConsumerObs, ConsumerTimer, PolledRecord,
    PositionSource, Processing,
};
use crate::node::Env;

impl Consumer {
    /// One turn of the loop: a poll when the application is ready for one.
    pub(super) fn app_step(&mut self, env: &mut Env<'_>) {
        if let (Closing::Finishing { committed }, App::Idle) = (self.closing, &self.app) {
            if committed || !self.membership.is_stable() {
                self.leave_group(env);
                return;
            }
            // ConsumerCoordinator.close: maybeAutoCommitOffsetsSync first.
            self.closing = Closing::Finishing { committed: true };
            self.app = App::Committing {
                generation: self.membership.generation_id(),
                offsets: self.consumed_offsets(),
                records: None,
                in_flight: false,
                started_ms: env.now_ms(),
            };
        }
        // A commitSync waiting to be (re)sent.
        if let App::Committing {
            generation,
            offsets,
            in_flight: false,
            started_ms,
            ..
        } = &self.app
        {
            let (offsets, started_ms, generation) = (offsets.clone(), *started_ms, *generation);
            let now_ms = env.now_ms();
            if offsets.is_empty() {
                // Nothing to commit: done.
                if let App::Committing {
                    records: Some(records),
                    ..
                } = std::mem::take(&mut self.app)
                {
                    self.start_processing(env, records, false);
                }
            } else if self.membership.is_rebalancing()
                || self.membership.generation_id() != generation
                || now_ms.saturating_sub(started_ms) >= self.config.default_api_timeout_ms
            {
                // RebalanceInProgressException / TimeoutException from
                // commitSync: the poll's records stay uncommitted (and, under
                // at-most-once, unprocessed).
                self.app = App::Idle;
            } else if self.membership.is_stable()
                && self.send_commit(env, CommitPurpose::Sync, generation, offsets)
            {
                if let App::Committing { in_flight, .. } = &mut self.app {
                    *in_flight = true;
                }
            }
            return;
        }
        if self.config.processing == Processing::Pipeline {
            // Its pipeline polls.
            return;
        }
        // Processing takes no time: poll again at once while records are buffered.
        for _ in 0..64 {
            if !matches!(self.app, App::Idle) || !self.poll(env) {
                return;
            }
        }
    }

    /// poll(): the auto commit due, then up to `max.poll.records` buffered
    /// records. Returns whether it returned any.
    fn poll(&mut self, env: &mut Env<'_>) -> bool {
        let now_ms = env.now_ms();
        if self.config.enable_auto_commit && now_ms >= self.next_auto_commit_ms {
            self.next_auto_commit_ms = now_ms + self.config.auto_commit_interval_ms;
            if self.membership.is_stable() {
                let offsets: Vec<(u32, u64, i32)> = self
                    .owned
                    .iter()
                    .filter_map(|(&p, o)| Some((p, o.position?, o.last_epoch.unwrap_or(-1))))
                    .collect();
                let generation = self.membership.generation_id();
                self.send_commit(env, CommitPurpose::Auto, generation, offsets);
            }
        }
        let records = self.take_records(env);
        if records.is_empty() {
            return false;
        }
        self.polls += 1;
        match self.config.processing {
            Processing::AtLeastOnce => {
                let then_commit = !self.config.enable_auto_commit;
                self.start_processing(env, records, then_commit);
            }
            Processing::AtMostOnce | Processing::Pipeline => {
                let offsets = self.consumed_offsets();
                self.app = App::Committing {
                    generation: self.membership.generation_id(),
                    offsets,
                    records: Some(records),
                    in_flight: false,
                    started_ms: now_ms,
                };
                self.app_step(env);
            }
        }
        true
    }

    /// (partition, position, epoch) of every owned partition with a position.
    pub(super) fn consumed_offsets(&self) -> Vec<(u32, u64, i32)> {
        self.owned
            .iter()
            .filter_map(|(&p, o)| Some((p, o.position?, o.last_epoch.unwrap_or(-1))))
            .collect()
    }

    /// Takes buffered records, partition by partition from a rotating start.
    pub(super) fn take_records(&mut self, env: &mut Env<'_>) -> Vec<(u32, u64, u64)> {
        let max = self.config.max_poll_records;
        let partitions: Vec<u32> = self.owned.keys().copied().collect();
        if partitions.is_empty() {
            return Vec::new();
        }
        let start = self.poll_cursor as usize % partitions.len();
        self.poll_cursor = self.poll_cursor.wrapping_add(1);
        // Sized for what is buffered, so neither list grows as it fills.
        let buffered: usize = self.owned.values().map(|o| o.buffer.len()).sum();
        let mut out = Vec::with_capacity(buffered.min(max));
        let mut polled = Vec::with_capacity(buffered.min(max));
        let mut skipped = Vec::new();
        for i in 0..partitions.len() {
            let p = partitions[(start + i) % partitions.len()];
            let Some(o) = self.owned.get_mut(&p) else {
                continue;
            };
            while out.len() < max {
                let Some((offset, id, epoch)) = o.buffer.pop_front() else {
                    break;
                };
                polled.push(PolledRecord {
                    partition: p,
                    offset,
                    id,
                    leader_epoch: epoch,
                    topic_id: o.topic_id,
                });
                o.position = Some(offset + 1);
                o.last_epoch = Some(epoch);
                out.push((p, offset, id));
                if o.buffer.is_empty() && o.next_fetch_offset > offset + 1 {
                    // Past the markers and aborted batches that followed.
                    o.position = Some(o.next_fetch_offset);
                    skipped.push((p, o.next_fetch_offset));
                }
            }
            if self.config.mutations.repeat_last_record {
                if let Some(&(_, offset, id)) = out.last().filter(|r| r.0 == p) {
                    o.buffer
                        .push_front((offset, id, o.last_epoch.unwrap_or(-1)));
                }
            }
        }
        if !polled.is_empty() {
            env.observe(ConsumerObs::Polled(polled));
        }
        for (partition, offset) in skipped {
            env.observe(ConsumerObs::Position {
                partition,
                offset,
                source: PositionSource::Skipped,
            });
        }
        out
    }

    /// Starts processing a poll's records.
    pub(super) fn start_processing(
        &mut self,
        env: &mut Env<'_>,
        records: Vec<(u32, u64, u64)>,
        then_commit: bool,
    ) {
        let seq = self.polls;
        let owners = self
            .owned
            .iter()
            .map(|(&p, o)| (p, o.incarnation))
            .collect();
        self.app = App::Processing {
            seq,
            records,
            owners,
            then_commit,
        };
        if self.config.processing_time_ns == 0 {
            self.on_processed(env, seq);
        } else {
            env.set_timer_after(
                self.config.processing_time_ns,
                ConsumerTimer::ProcessingDone(seq),
            );
        }
    }

    /// Processing of poll `seq` finished.
    pub(super) fn on_processed(&mut self, env: &mut Env<'_>, seq: u64) {
        let App::Processing {
            seq: current,
            records,
            owners,
            then_commit,
        } = std::mem::take(&mut self.app)
        else {
            return;
        };
        if current != seq {
            self.app = App::Processing {
                seq: current,
                records,
                owners,
                then_commit,
            };
            return;
        }
        // Only a partition still owned as when polled moves its processed
        // mark. A poll's records come a partition at a time: each run of
        // one partition's records moves its mark once.
        let mut rest = &records[..];
        while let Some(&(p, first, _)) = rest.first() {
            let run = rest.iter().take_while(|r| r.0 == p).count();
            let next = rest[..run].iter().fold(first, |m, r| m.max(r.1)) + 1;
            rest = &rest[run..];
            if let Some(o) = self
                .owned
                .get_mut(&p)
                .filter(|o| owners.get(&p) == Some(&o.incarnation))
            {
                o.processed = Some(o.processed.map_or(next, |x| x.max(next)));
            }
        }
        env.observe(ConsumerObs::Processed(records));
        if then_commit {
            let offsets: Vec<(u32, u64, i32)> = self
                .owned
                .iter()
                .filter_map(|(&p, o)| Some((p, o.processed?, o.last_epoch.unwrap_or(-1))))
                .collect();
            self.app = App::Committing {
                generation: self.membership.generation_id(),
                offsets,
                records: None,
                in_flight: false,
                started_ms: env.now_ms(),
            };
            self.app_step(env);
        }
    }
}
