//! Fetch on the leader (Kafka's `ReplicaManager.fetchMessages` and
//! `DelayedFetch`): reading the partitions a fetch asks for, recording
//! follower positions, and answering in the terms of its fetch session.

use sim::MILLIS;

use super::{reply, ReplicaManager};
use crate::broker::config::Truncation;
use crate::broker::fetch_session::FetchContext;
use crate::broker::partition::Partition;
use crate::broker::purgatory::{DelayedFetch, FetchParams, ReplyTo};
use crate::errors::Errors;
use crate::node::Env;
use crate::protocol::{
    AbortedTransaction, FetchMetadata, FetchPartition, FetchedPartition, IsolationLevel,
    KafkaResponse, TopicIdPartition,
};

impl ReplicaManager {
    /// Fetch (Kafka's fetchMessages): followers read to the log end and
    /// report their position (which moves the high watermark and may grow
    /// the ISR); consumers read up to the high watermark. Both are checked
    /// against the leader epoch they believe current (KIP-320); a follower
    /// whose last fetched epoch is not in the leader's log gets the diverging
    /// epoch to truncate to. An empty fetch waits until data arrives or
    /// `max_wait_ms` passes.
    pub fn handle_fetch(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        params: FetchParams,
        session: FetchMetadata,
        partitions: Vec<FetchPartition>,
        forgotten: Vec<TopicIdPartition>,
    ) {
        let context = self
            .fetch_sessions
            .new_context(env.now(), session, &partitions, &forgotten);
        let partitions = match context {
            FetchContext::Error(error) => {
                let response = KafkaResponse::Fetch {
                    error: Some(error),
                    session_id: FetchMetadata::INVALID_SESSION_ID,
                    partitions: Vec::new(),
                };
                reply(env, reply_to, response);
                return;
            }
            FetchContext::Incremental { id } => self.fetch_sessions.session_partitions(id),
            FetchContext::Sessionless | FetchContext::Full => partitions,
        };
        let answers = self.read_fetch(env, params, &partitions, true);
        let has_data = answers
            .iter()
            .any(|a| a.error.is_some() || !a.batches.is_empty() || a.diverging_epoch.is_some());
        let delayed = DelayedFetch {
            reply_to,
            params,
            context,
            partitions,
            deadline: env.now() + params.max_wait_ms * MILLIS,
        };
        if has_data || params.max_wait_ms == 0 {
            self.send_fetch_response(env, &delayed, answers);
        } else {
            self.purgatory.add_fetch(env, delayed);
        }
    }

    /// Answers a fetch in its session's terms.
    fn send_fetch_response(
        &mut self,
        env: &mut Env<'_>,
        f: &DelayedFetch,
        answers: Vec<FetchedPartition>,
    ) {
        let (session_id, partitions) =
            self.fetch_sessions
                .respond(env.now(), f.context, &f.partitions, answers);
        let response = KafkaResponse::Fetch {
            error: None,
            session_id,
            partitions,
        };
        reply(env, f.reply_to, response);
    }

    /// Reads what a fetch asks for; with `update_fetch_state`, records
    /// follower positions too. As Kafka's `Partition.fetchRecords`, which
    /// updates a follower's fetch state only when the fetch arrives, not
    /// when a DelayedFetch completes (`readFromPurgatory = true`).
    fn read_fetch(
        &mut self,
        env: &mut Env<'_>,
        params: FetchParams,
        partitions: &[FetchPartition],
        update_fetch_state: bool,
    ) -> Vec<FetchedPartition> {
        let now_ms = env.now_ms();
        let recording = params.replica.filter(|_| update_fetch_state);
        let mut answers = Vec::with_capacity(partitions.len());
        let mut fetched = Vec::with_capacity(partitions.len());
        for req in partitions {
            let (answer, moved) = self.read_partition(params, recording.is_some(), req, now_ms);
            if recording.is_some() && answer.error.is_none() && answer.diverging_epoch.is_none() {
                fetched.push((req.tp, moved));
            }
            answers.push(answer);
        }
        // As Kafka's Partition.updateFollowerFetchState: the high watermark
        // is looked at when the follower's log end offset moved, the ISR
        // expansion with the fetching follower at every fetch.
        let Some((follower, _)) = recording else {
            return answers;
        };
        for (tp, moved) in fetched {
            if moved {
                self.maybe_advance_hw(env, &tp);
            }
            let candidate = self.partitions.get(&tp).and_then(|p| {
                if !p.can_expand_with(follower) {
                    return None;
                }
                let mut isr = p.leader_state()?.isr.clone();
                isr.push(follower);
                Some(isr)
            });
            if let Some(isr) = candidate {
                self.propose_isr(&tp, isr, now_ms);
            }
        }
        answers
    }

    /// One partition of a fetch, and whether the fetching follower's log
    /// end offset moved (recorded only with `update_fetch_state`).
    fn read_partition(
        &mut self,
        params: FetchParams,
        update_fetch_state: bool,
        req: &FetchPartition,
        now_ms: u64,
    ) -> (FetchedPartition, bool) {
        let replica = params.replica;
        let mut answer = FetchedPartition {
            tp: req.tp,
            error: None,
            high_watermark: 0,
            log_end_offset: 0,
            last_stable_offset: 0,
            diverging_epoch: None,
            aborted_transactions: Vec::new(),
            batches: Vec::new(),
        };
        let Some(p) = self.partitions.get_mut(&req.tp).filter(|p| p.is_leader()) else {
            answer.error = Some(Errors::NotLeaderOrFollower);
            return (answer, false);
        };
        if req.current_leader_epoch >= 0 {
            if req.current_leader_epoch < p.leader_epoch {
                answer.error = Some(Errors::FencedLeaderEpoch);
                return (answer, false);
            }
            if req.current_leader_epoch > p.leader_epoch {
                answer.error = Some(Errors::UnknownLeaderEpoch);
                return (answer, false);
            }
        }
        answer.high_watermark = p.log.high_watermark();
        answer.log_end_offset = p.log.log_end_offset();
        answer.last_stable_offset = p.last_stable_offset();
        if let (Some(last_epoch), Some(_)) = (req.last_fetched_epoch, replica) {
            if self.config.truncation == Truncation::LeaderEpoch {
                let end = p.log.end_offset_for_epoch(last_epoch).unwrap_or((-1, 0));
                if end.0 < last_epoch || end.1 < req.fetch_offset {
                    answer.diverging_epoch = Some(end);
                    return (answer, false);
                }
            }
        }
        let max_offset = fetch_upper_bound(p, params);
        if req.fetch_offset > p.log.log_end_offset() {
            answer.error = Some(Errors::OffsetOutOfRange);
            return (answer, false);
        }
        let mut moved = false;
        if let Some((follower, broker_epoch)) = replica.filter(|_| update_fetch_state) {
            if p.replicas.contains(&follower) {
                moved = p.record_follower_fetch(follower, broker_epoch, req.fetch_offset, now_ms);
            }
        }
        answer.batches = p.log.read(
            req.fetch_offset,
            max_offset,
            self.config.replica_fetch_max_bytes,
        );
        if params.isolation_level == IsolationLevel::ReadCommitted {
            // Kafka's collectAbortedTransactions: those overlapping the data read.
            if let Some(last) = answer.batches.last() {
                let upper = last.next_offset();
                answer.aborted_transactions = p
                    .producers
                    .aborted_transactions(req.fetch_offset, upper)
                    .into_iter()
                    .map(|t| AbortedTransaction {
                        producer_id: t.producer_id,
                        first_offset: t.first_offset,
                    })
                    .collect();
            }
        }
        (answer, moved)
    }

    /// New data or a higher high watermark on `tp`: waiting fetches that
    /// can now return something are answered.
    pub(super) fn complete_fetches_on(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        for id in self.purgatory.fetches_watching(tp) {
            let ready = self.purgatory.fetch(id).is_some_and(|f| {
                f.partitions.iter().any(|r| {
                    &r.tp == tp
                        && self
                            .partitions
                            .get(tp)
                            .is_some_and(|p| fetch_upper_bound(p, f.params) > r.fetch_offset)
                })
            });
            if ready {
                if let Some(f) = self.purgatory.take_fetch(id) {
                    self.answer_fetch(env, f);
                }
            }
        }
    }

    /// Leadership of `tp` changed: waiting fetches naming it are answered now.
    pub(super) fn answer_fetches_on(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        for id in self.purgatory.fetches_watching(tp) {
            if let Some(f) = self.purgatory.take_fetch(id) {
                self.answer_fetch(env, f);
            }
        }
    }

    pub(super) fn answer_fetch(&mut self, env: &mut Env<'_>, f: DelayedFetch) {
        let answers = self.read_fetch(env, f.params, &f.partitions, false);
        self.send_fetch_response(env, &f, answers);
    }
}

/// The offset a fetch reads below (Kafka's `FetchIsolation`): a follower
/// to the log end, a read_committed consumer to the last stable offset,
/// any other consumer to the high watermark.
fn fetch_upper_bound(p: &Partition, params: FetchParams) -> u64 {
    match (params.replica, params.isolation_level) {
        (Some(_), _) => p.log.log_end_offset(),
        (None, IsolationLevel::ReadCommitted) => p.last_stable_offset(),
        (None, IsolationLevel::ReadUncommitted) => p.log.high_watermark(),
    }
}
