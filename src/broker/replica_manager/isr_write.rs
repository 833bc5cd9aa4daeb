//! Kafka 2.6's ISR write (before KIP-497, `[protocol] pending_isr_state =
//! false`): a partition leader wrote an ISR change to ZooKeeper itself,
//! synchronously, holding the partition's `leaderIsrUpdateLock` write lock
//! (2.6.3 `Partition.maybeShrinkIsr` and `maybeExpandIsr` ->
//! `shrinkIsr`/`expandIsr` -> `ZkPartitionStateStore.updateIsr` ->
//! `zkClient.conditionalUpdatePath`). What takes the read lock waited for
//! the write: `appendRecordsToLeader`, `readRecords` (consumer and follower
//! fetches, before `updateFollowerFetchState`), `maybeIncrementLeaderHW`,
//! and another ISR decision needs the write lock itself. The write's
//! outcome was the ISR at once (`maybeUpdateIsrAndVersion`: the new ISR
//! and zkVersion), or, on a version conflict, the old ISR kept ("Cached
//! zkVersion ... not equal to that in zookeeper, skip updating ISR").
//!
//! Under ksim's KRaft controller (which stands in for ZooKeeper) the
//! leader sends its AlterPartition and the partition is frozen until the
//! answer: its [`crate::broker::partition::LeaderState::pending`] is the
//! write in flight. Produces (after any transaction verification),
//! fetches whose partitions or fetch session include it, and
//! WriteTxnMarkers naming it are deferred, whole, and run in the order they
//! came once no partition of theirs is frozen, ahead of any later request
//! for one of their partitions; its high watermark holds. The answer sets
//! the ISR (or, an error, keeps the old one) with no pending state, and
//! the high watermark is looked at (2.6's `maybeShrinkIsr` calls
//! `maybeIncrementLeaderHW` right after the write). Not held: the
//! coordinators' own appends to their internal partitions (they append,
//! and their high watermark waits), ListOffsets and OffsetForLeaderEpoch
//! (they read the log start, the high watermark and the epoch cache, none
//! of which the write changes).

use std::collections::{BTreeMap, VecDeque};

use super::ReplicaManager;
use crate::broker::purgatory::{FetchParams, ProducePartitionStatus, ReplyTo};
use crate::node::Env;
use crate::protocol::{
    FetchMetadata, FetchPartition, ProduceData, TopicIdPartition, WritableTxnMarker,
};

/// A request that waits for an ISR write of one of its partitions.
#[derive(Debug)]
pub(super) enum Deferred {
    /// A client's produce, past its verification (`append_produce`'s arguments).
    Produce {
        reply_to: ReplyTo,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
        parts: Vec<ProducePartitionStatus>,
        guards: BTreeMap<TopicIdPartition, u64>,
    },
    /// A consumer's or follower's Fetch (`handle_fetch`'s arguments), and
    /// the partitions it reads (its session's too).
    Fetch {
        reply_to: ReplyTo,
        params: FetchParams,
        session: FetchMetadata,
        partitions: Vec<FetchPartition>,
        forgotten: Vec<TopicIdPartition>,
        reads: Vec<TopicIdPartition>,
    },
    /// WriteTxnMarkers.
    TxnMarkers {
        reply_to: ReplyTo,
        markers: Vec<WritableTxnMarker>,
    },
}

impl Deferred {
    /// The partitions it touches.
    fn partitions(&self) -> Vec<TopicIdPartition> {
        match self {
            Deferred::Produce { partitions, .. } => partitions.iter().map(|d| d.tp).collect(),
            Deferred::Fetch { reads, .. } => reads.clone(),
            Deferred::TxnMarkers { markers, .. } => markers
                .iter()
                .flat_map(|m| m.partitions.iter().copied())
                .collect(),
        }
    }
}

/// The requests waiting for ISR writes, in the order they came.
pub(super) type DeferredQueue = VecDeque<Deferred>;

impl ReplicaManager {
    /// Whether `tp`'s ISR write is in flight (Kafka 2.6): this broker leads
    /// it and waits for the answer to its AlterPartition.
    pub fn isr_write_in_flight(&self, tp: &TopicIdPartition) -> bool {
        !self.config.pending_isr_state
            && self
                .partitions
                .get(tp)
                .and_then(|p| p.leader_state())
                .is_some_and(|l| l.pending.is_some())
    }

    /// The requests waiting for an ISR write.
    pub fn deferred_requests(&self) -> usize {
        self.deferred.len()
    }

    /// Whether a request for `tps` must wait: one of them has its ISR
    /// write in flight, or an earlier request for one of them waits.
    fn must_wait(&self, tps: &[TopicIdPartition], earlier: &DeferredQueue) -> bool {
        tps.iter().any(|tp| self.isr_write_in_flight(tp))
            || earlier
                .iter()
                .any(|d| d.partitions().iter().any(|tp| tps.contains(tp)))
    }

    /// Defers a request for `tps` if it must wait (Kafka 2.6 only); gives
    /// it back otherwise.
    pub(super) fn defer_if_isr_write(
        &mut self,
        tps: &[TopicIdPartition],
        request: Deferred,
    ) -> Option<Deferred> {
        if self.config.pending_isr_state || !self.must_wait(tps, &self.deferred) {
            return Some(request);
        }
        self.deferred.push_back(request);
        None
    }

    /// The partitions a Fetch reads: those it names and, in an
    /// incremental fetch, its session's.
    pub(super) fn fetch_reads(
        &self,
        session: FetchMetadata,
        partitions: &[FetchPartition],
    ) -> Vec<TopicIdPartition> {
        let mut reads: Vec<TopicIdPartition> = partitions.iter().map(|p| p.tp).collect();
        if session.epoch != FetchMetadata::INITIAL_EPOCH
            && session.epoch != FetchMetadata::FINAL_EPOCH
        {
            reads.extend(
                self.fetch_sessions
                    .session_partitions(session.session_id)
                    .into_iter()
                    .map(|p| p.tp),
            );
        }
        reads
    }

    /// Runs, in order, the deferred requests none of whose partitions has
    /// an ISR write in flight (nor an earlier request still waiting).
    pub(super) fn resume_deferred(&mut self, env: &mut Env<'_>) {
        if self.deferred.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.deferred);
        let mut kept = DeferredQueue::new();
        for request in waiting {
            if self.must_wait(&request.partitions(), &kept) {
                kept.push_back(request);
                continue;
            }
            match request {
                Deferred::Produce {
                    reply_to,
                    acks,
                    timeout_ms,
                    partitions,
                    parts,
                    guards,
                } => {
                    self.append_produce(env, reply_to, acks, timeout_ms, partitions, parts, &guards)
                }
                Deferred::Fetch {
                    reply_to,
                    params,
                    session,
                    partitions,
                    forgotten,
                    ..
                } => self.handle_fetch(env, reply_to, params, session, partitions, forgotten),
                Deferred::TxnMarkers { reply_to, markers } => {
                    self.handle_write_txn_markers(env, reply_to, markers)
                }
            }
        }
        // A request run here finds the queue without the ones kept, and
        // runs only where they do not wait: nothing more joins it.
        kept.append(&mut self.deferred);
        self.deferred = kept;
    }
}
