//! Fetch on the leader (Kafka's `ReplicaManager.fetchMessages` and
//! `DelayedFetch`): reading the partitions a fetch asks for, recording
//! follower positions, and answering in the terms of its fetch session.
//!
//! An incremental fetch reads every partition of its session, as Kafka's
//! `IncrementalFetchContext.foreachPartition` does, so every follower
//! position is recorded; the answer of a partition the session leaves out
//! (no records, no error, a high watermark and log start offset already
//! told) is not built.
//!
//! Before 2.6 (`follower_fetch_waits_for_data = false`, KIP-392's immediate
//! high watermark propagation, removed by KAFKA-9952) the leader keeps the
//! high watermark each follower's fetch read (2.5.1
//! `Replica.lastSentHighWatermark`), answers a follower's fetch at once when
//! a partition's high watermark was above it (`fetchMessages`'
//! `anyPartitionsNeedHwUpdate`), and completes a waiting one when a high
//! watermark moves above it (`DelayedFetch.tryComplete`, "Case H"), also
//! as it goes into the purgatory (`tryCompleteElseWatch`), where the
//! fetch's own position may just have moved the high watermark.

use sim::MILLIS;

use super::{reply, ReplicaManager};
use crate::broker::config::{BrokerConfig, Truncation};
use crate::broker::fetch_session::{CachedPartition, FetchContext};
use crate::broker::hosted::Hosted;
use crate::broker::partition::{Partition, SessionClock};
use crate::broker::purgatory::{DelayedFetch, FetchParams, ReplyTo};
use crate::errors::Errors;
use crate::node::Env;
use crate::protocol::{
    AbortedTransaction, FetchMetadata, FetchPartition, FetchedPartition, IsolationLevel,
    KafkaResponse, TopicIdPartition,
};

/// A partition a follower fetched cleanly (no error, no diverging epoch)
/// that may matter once every partition is read: whether its log end
/// offset moved (the high watermark may follow), else it is out of the
/// ISR with no change in flight (it may join).
type FollowerFetch = (TopicIdPartition, bool);

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
        let (partitions, forgotten) = if self.config.pending_isr_state {
            (partitions, forgotten)
        } else {
            // Kafka 2.6: `readRecords` waits for an ISR write in flight.
            let reads = self.fetch_reads(session, &partitions);
            let request = super::isr_write::Deferred::Fetch {
                reply_to,
                params,
                session,
                partitions,
                forgotten,
                reads: reads.clone(),
            };
            match self.defer_if_isr_write(&reads, request) {
                Some(super::isr_write::Deferred::Fetch {
                    partitions,
                    forgotten,
                    ..
                }) => (partitions, forgotten),
                _ => return,
            }
        };
        let context = self
            .fetch_sessions
            .new_context(env.now(), session, &partitions, &forgotten);
        let now_ms = env.now_ms();
        let reader = Reader {
            config: &self.config,
            deleted_topics: &self.deleted_topics,
            params,
            update_fetch_state: true,
            now_ms,
            hw_unsent: std::cell::Cell::new(false),
        };
        let (answers, fetched) = match context {
            FetchContext::Error(error) => {
                let response = KafkaResponse::Fetch {
                    error: Some(error),
                    session_id: FetchMetadata::INVALID_SESSION_ID,
                    partitions: Vec::new(),
                };
                reply(env, reply_to, response);
                return;
            }
            FetchContext::Incremental { id } => match params.replica {
                Some((_, broker_epoch)) => {
                    // A follower's: only the partitions not idle are read.
                    let at = self.fetch_sessions.journal_at(id);
                    let end = self.partitions.journal_end();
                    let changed = self.partitions.changed_since(at);
                    match self.fetch_sessions.wake(id, changed, end, broker_epoch) {
                        Some((cached, clock)) => {
                            let read = reader.read_session(&mut self.partitions, cached, clock);
                            clock.set(now_ms);
                            read
                        }
                        None => (Vec::new(), Vec::new()),
                    }
                }
                None => {
                    let reads = self.fetch_sessions.session_reads(id);
                    reader.read(&mut self.partitions, reads)
                }
            },
            FetchContext::Sessionless | FetchContext::Full => {
                let reads = partitions.iter().map(|r| (r, None));
                reader.read(&mut self.partitions, reads)
            }
        };
        // Kafka 2.5.1's `anyPartitionsNeedHwUpdate` (never set from 2.6).
        let hw_unsent = reader.hw_unsent.get();
        if let Some((follower, _)) = params.replica {
            self.update_follower_fetch_state(env, follower, fetched, now_ms);
        }
        let has_data = answers
            .iter()
            .any(|a| a.error.is_some() || !a.batches.is_empty() || a.diverging_epoch.is_some());
        if has_data || params.max_wait_ms == 0 || hw_unsent {
            self.send_fetch_response(env, reply_to, context, &partitions, answers);
            return;
        }
        let partitions = match context {
            FetchContext::Incremental { id } => self.fetch_sessions.session_partitions(id),
            _ => partitions,
        };
        let delayed = DelayedFetch {
            reply_to,
            params,
            context,
            partitions,
            deadline: env.now() + params.max_wait_ms * MILLIS,
        };
        if self.hw_unsent_in(&delayed) {
            // 2.5.1 `tryCompleteElseWatch`: Case H holds already (this
            // fetch's position moved the high watermark past what it read),
            // so it completes at once, read again.
            self.answer_fetch(env, delayed);
            return;
        }
        self.purgatory.add_fetch(env, delayed);
    }

    /// Before 2.6 (`follower_fetch_waits_for_data = false`): whether a
    /// follower's fetch reads a partition whose high watermark is above the
    /// one last sent that follower (2.5.1 `DelayedFetch.tryComplete`, "Case
    /// H"). Never from 2.6 (KAFKA-9952), nor for a consumer's fetch.
    fn hw_unsent_in(&self, f: &DelayedFetch) -> bool {
        f.partitions.iter().any(|r| {
            self.partitions
                .get(&r.tp)
                .is_some_and(|p| self.hw_unsent(p, f.params))
        })
    }

    /// Case H on `p` for a fetch with `params`: a follower's (never a
    /// consumer's), before 2.6, whose high watermark on `p` is above the
    /// one last sent it.
    fn hw_unsent(&self, p: &Partition, params: FetchParams) -> bool {
        !self.config.follower_fetch_waits_for_data
            && params
                .replica
                .is_some_and(|(follower, _)| p.hw_unsent_to(follower))
    }

    /// Answers a fetch in its session's terms (`asked`: what a full fetch
    /// opens its session with).
    fn send_fetch_response(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        context: FetchContext,
        asked: &[FetchPartition],
        answers: Vec<FetchedPartition>,
    ) {
        let (session_id, partitions) =
            self.fetch_sessions
                .respond(env.now(), context, asked, answers);
        let response = KafkaResponse::Fetch {
            error: None,
            session_id,
            partitions,
        };
        reply(env, reply_to, response);
    }

    /// After a follower's fetch is read (Kafka's
    /// `Partition.updateFollowerFetchState`): the high watermark is looked
    /// at where the follower's log end offset moved, the ISR expansion with
    /// the fetching follower wherever it could join.
    fn update_follower_fetch_state(
        &mut self,
        env: &mut Env<'_>,
        follower: u32,
        fetched: Vec<FollowerFetch>,
        now_ms: u64,
    ) {
        for (tp, moved) in fetched {
            if moved {
                self.maybe_advance_hw(env, &tp);
            }
            let (config, eligible) = (&self.config, &self.isr_eligible);
            let eligible = |b: u32, e: u64| super::isr_eligible(config, eligible, b, e);
            let candidate = self.partitions.get(&tp).and_then(|p| {
                if !p.can_expand_with(follower, &eligible) {
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
    }

    /// New data or a higher high watermark on `tp`: waiting fetches that
    /// can now return something are answered (before 2.6, also a
    /// follower's whose high watermark on `tp` is above the one last sent
    /// it: "Case H", see the module doc).
    pub(super) fn complete_fetches_on(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        let (mut after, upto) = (0, self.purgatory.last_id());
        while let Some(id) = self.purgatory.next_fetch_watching(tp, after, upto) {
            after = id;
            let ready = self.purgatory.fetch(id).is_some_and(|f| {
                f.partitions.iter().any(|r| {
                    &r.tp == tp
                        && self.partitions.get(tp).is_some_and(|p| {
                            fetch_upper_bound(p, f.params) > r.fetch_offset
                                || self.hw_unsent(p, f.params)
                        })
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
        let (mut after, upto) = (0, self.purgatory.last_id());
        while let Some(id) = self.purgatory.next_fetch_watching(tp, after, upto) {
            after = id;
            if let Some(f) = self.purgatory.take_fetch(id) {
                self.answer_fetch(env, f);
            }
        }
    }

    /// Answers a fetch from the purgatory. As Kafka's
    /// `Partition.fetchRecords` with `readFromPurgatory = true`, it does
    /// not record follower positions again.
    pub(super) fn answer_fetch(&mut self, env: &mut Env<'_>, f: DelayedFetch) {
        let reader = Reader {
            config: &self.config,
            deleted_topics: &self.deleted_topics,
            params: f.params,
            update_fetch_state: false,
            now_ms: env.now_ms(),
            hw_unsent: std::cell::Cell::new(false),
        };
        let mut told = self.fetch_sessions.told_in(f.context);
        let reads = f.partitions.iter().map(|r| (r, told.of(&r.tp)));
        let (answers, _) = reader.read(&mut self.partitions, reads);
        self.send_fetch_response(env, f.reply_to, f.context, &f.partitions, answers);
    }
}

/// How a fetch reads its partitions.
struct Reader<'a> {
    config: &'a BrokerConfig,
    /// Topics deleted since the broker booted.
    deleted_topics: &'a std::collections::BTreeSet<crate::protocol::TopicId>,
    params: FetchParams,
    /// Whether follower positions are recorded (on arrival, not from the purgatory).
    update_fetch_state: bool,
    now_ms: u64,
    /// Before 2.6: set when a partition recorded now had a high watermark
    /// above the one last sent the follower (2.5.1 `followerNeedsHwUpdate`).
    hw_unsent: std::cell::Cell<bool>,
}

impl Reader<'_> {
    /// Reads `reads`, each a partition with the high watermark its answer
    /// need not repeat: the answers to send, and the follower fetches to
    /// follow up on.
    fn read<'r>(
        &self,
        hosted: &mut Hosted,
        reads: impl Iterator<
            Item = (
                &'r FetchPartition,
                Option<crate::broker::fetch_session::ToldPositions>,
            ),
        >,
    ) -> (Vec<FetchedPartition>, Vec<FollowerFetch>) {
        let mut answers = Vec::with_capacity(reads.size_hint().0.max(4));
        let mut fetched = Vec::new();
        for (req, told) in reads {
            if let Some(moved) = self.read_partition(hosted, req, told, &mut answers) {
                fetched.push((req.tp, moved));
            }
        }
        (answers, fetched)
    }

    /// [`Self::read`] for a follower's incremental fetch: the session's
    /// partitions that are not idle, each made idle when this fetch finds
    /// it caught up and records nothing but its time (it then reads the
    /// session's `clock`).
    fn read_session(
        &self,
        hosted: &mut Hosted,
        cached: &mut [CachedPartition],
        clock: &SessionClock,
    ) -> (Vec<FetchedPartition>, Vec<FollowerFetch>) {
        let mut answers = Vec::new();
        let mut fetched = Vec::new();
        let Some((follower, _)) = self.params.replica.filter(|_| self.update_fetch_state) else {
            return (answers, fetched);
        };
        for c in cached.iter_mut().filter(|c| !c.idle) {
            let before = answers.len();
            match self.read_partition(hosted, &c.request, c.told, &mut answers) {
                Some(moved) => fetched.push((c.request.tp, moved)),
                None if answers.len() == before => {
                    if let Some(p) = hosted
                        .get_mut_unnoted(&c.request.tp)
                        .filter(|p| holds(&p.replicas, follower))
                    {
                        p.idle_in(follower, clock);
                        c.idle = true;
                    }
                }
                None => {}
            }
        }
        (answers, fetched)
    }

    /// One partition of a fetch: its answer goes to `answers` unless it
    /// has no records, no error, no diverging epoch and the high watermark
    /// `told`. For a follower's clean fetch recorded now: whether its log
    /// end offset moved, when it moved or the follower may join the ISR.
    fn read_partition(
        &self,
        hosted: &mut Hosted,
        req: &FetchPartition,
        told: Option<crate::broker::fetch_session::ToldPositions>,
        answers: &mut Vec<FetchedPartition>,
    ) -> Option<bool> {
        let params = self.params;
        let replica = params.replica;
        let Some(p) = hosted.get_mut_unnoted(&req.tp).filter(|p| p.is_leader()) else {
            let error = if self.deleted_topics.contains(&req.tp.topic_id) {
                Errors::UnknownTopicOrPartition
            } else {
                Errors::NotLeaderOrFollower
            };
            answers.push(failed(req.tp, error));
            return None;
        };
        if req.current_leader_epoch >= 0 {
            if req.current_leader_epoch < p.leader_epoch {
                answers.push(failed(req.tp, Errors::FencedLeaderEpoch));
                return None;
            }
            if req.current_leader_epoch > p.leader_epoch {
                answers.push(failed(req.tp, Errors::UnknownLeaderEpoch));
                return None;
            }
        }
        if let (Some(last_epoch), Some(_)) = (req.last_fetched_epoch, replica) {
            if self.config.truncation == Truncation::LeaderEpoch {
                let end = p.log.end_offset_for_epoch(last_epoch).unwrap_or((-1, 0));
                if end.0 < last_epoch || end.1 < req.fetch_offset {
                    let mut answer = positions(p, req.tp);
                    answer.diverging_epoch = Some(end);
                    answers.push(answer);
                    return None;
                }
            }
            if self.config.truncation == Truncation::EpochEndOffset {
                // OffsetsForLeaderEpoch v0 (Kafka 0.11 to 1.1,
                // `LeaderEpochFileCache.endOffsetFor`): the end offset of
                // the requested epoch alone, without the epoch it belongs
                // to: the start of the first epoch above it (the log end
                // if it is the latest), UNDEFINED_EPOCH_OFFSET if the
                // leader has none above it or it is older than the first.
                let first = p.log.epoch_cache().earliest_entry().map(|e| e.epoch);
                let end = p
                    .log
                    .end_offset_for_epoch(last_epoch)
                    .filter(|_| first.is_some_and(|f| f <= last_epoch))
                    .map(|(_, end)| end);
                if end.is_none_or(|end| end < req.fetch_offset) {
                    let mut answer = positions(p, req.tp);
                    answer.diverging_epoch = Some(end.map_or((-1, 0), |end| (last_epoch, end)));
                    answers.push(answer);
                    return None;
                }
            }
        }
        let max_offset = fetch_upper_bound(p, params);
        let log_end_offset = p.log.log_end_offset();
        let below_start = req.fetch_offset < p.log.log_start_offset()
            && !(self.config.serve_below_log_start && replica.is_none());
        if req.fetch_offset > log_end_offset || below_start {
            let mut answer = positions(p, req.tp);
            answer.error = Some(Errors::OffsetOutOfRange);
            answers.push(answer);
            return None;
        }
        let mut follow_up = None;
        if let Some((follower, broker_epoch)) = replica.filter(|_| self.update_fetch_state) {
            if holds(&p.replicas, follower) {
                let moved =
                    p.record_follower_fetch(follower, broker_epoch, req.fetch_offset, self.now_ms);
                if !self.config.follower_fetch_waits_for_data && p.note_hw_sent(follower) {
                    self.hw_unsent.set(true);
                }
                // Nothing in this fetch's follow-up changes an ISR or ends
                // a change in flight: a member, or a partition with a
                // change in flight, cannot grow with the follower.
                let may_join = p
                    .leader_state()
                    .is_some_and(|l| l.pending.is_none() && !holds(&l.isr, follower));
                if moved || may_join {
                    follow_up = Some(moved);
                }
            }
        }
        // Nothing to read (as `UnifiedLog::read` would find, without the call).
        let nothing = req.fetch_offset >= max_offset.min(log_end_offset);
        if nothing && told == Some((p.log.high_watermark(), p.log.log_start_offset())) {
            return follow_up;
        }
        let batches = if nothing {
            Vec::new()
        } else {
            p.log.read(
                req.fetch_offset,
                max_offset,
                self.config.replica_fetch_max_bytes,
            )
        };
        let mut answer = positions(p, req.tp);
        if params.isolation_level == IsolationLevel::ReadCommitted {
            // Kafka's collectAbortedTransactions: those overlapping the data read.
            if let Some(last) = batches.last() {
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
        answer.batches = batches;
        answers.push(answer);
        follow_up
    }
}

/// Whether `ids` holds `id`: a scan the compiler inlines, where
/// `<[u32]>::contains` is a call (this runs for every partition a
/// follower fetches).
#[allow(clippy::manual_contains)]
fn holds(ids: &[u32], id: u32) -> bool {
    ids.iter().any(|&r| r == id)
}

/// The answer of a partition that failed with `error`.
fn failed(tp: TopicIdPartition, error: Errors) -> FetchedPartition {
    FetchedPartition {
        tp,
        error: Some(error),
        high_watermark: 0,
        log_start_offset: 0,
        log_end_offset: 0,
        last_stable_offset: 0,
        diverging_epoch: None,
        aborted_transactions: Vec::new(),
        batches: Vec::new(),
        topic_id: crate::metadata::Uuid(0),
    }
}

/// The answer of `p` with its offsets and nothing else.
fn positions(p: &Partition, tp: TopicIdPartition) -> FetchedPartition {
    FetchedPartition {
        tp,
        error: None,
        high_watermark: p.log.high_watermark(),
        log_start_offset: p.log.log_start_offset(),
        log_end_offset: p.log.log_end_offset(),
        last_stable_offset: p.last_stable_offset(),
        diverging_epoch: None,
        aborted_transactions: Vec::new(),
        batches: Vec::new(),
        topic_id: p.topic_id,
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
