//! The delayed-operation purgatory (Kafka's DelayedOperationPurgatory with
//! its DelayedProduce and DelayedFetch): requests that cannot be answered
//! yet wait here, watched by their partitions, until the ReplicaManager
//! completes them or their timeout passes. One timer covers every deadline.

use sim::Nanos;

use super::fetch_session::FetchContext;
use super::BrokerTimer;
use crate::errors::Errors;
use crate::log::ControlRecordType;
use crate::node::{Address, Deadline, Env};
use crate::protocol::{Connection, FetchPartition, IsolationLevel, TopicIdPartition};

/// Who a response goes to: the requester, its connection and its
/// correlation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyTo {
    /// The requester.
    pub to: Address,
    /// The connection the request came on.
    pub connection: Connection,
    /// Its correlation id.
    pub correlation_id: u64,
}

/// Who waits for a produce: a client, a transaction coordinator, or the
/// broker's own group coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProduceWaiter {
    /// A client's ProduceRequest.
    Client(ReplyTo),
    /// A transaction coordinator's WriteTxnMarkersRequest, with each
    /// producer's transaction result.
    TxnMarkers(ReplyTo, Vec<(i64, ControlRecordType)>),
    /// The group coordinator's append with this id.
    Internal(u64),
}

/// How one partition of a produce ended, once it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionOutcome {
    /// Still waiting (for the high watermark, or a flush).
    Pending,
    /// Answered: written (None) or failed with this error.
    Done(Option<Errors>),
}

/// One partition of a delayed produce (Kafka's ProducePartitionStatus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducePartitionStatus {
    /// The partition.
    pub tp: TopicIdPartition,
    /// The producer of the batch or marker (-1: none).
    pub producer_id: i64,
    /// The offset after the appended records: done once the high watermark (acks=all) or
    /// the flush (a flushing log) reaches it.
    pub required_offset: u64,
    /// The first appended record's offset (-1 on error).
    pub base_offset: i64,
    /// How it ended.
    pub outcome: PartitionOutcome,
}

/// A produce waiting for its partitions (Kafka's DelayedProduce).
#[derive(Clone, Debug)]
pub struct DelayedProduce {
    /// Who to answer.
    pub waiter: ProduceWaiter,
    /// 1 or -1 (all).
    pub acks: i16,
    /// Per partition.
    pub parts: Vec<ProducePartitionStatus>,
    /// When it times out (REQUEST_TIMED_OUT).
    pub deadline: Nanos,
}

impl DelayedProduce {
    /// Whether every partition is answered.
    pub fn is_done(&self) -> bool {
        self.parts
            .iter()
            .all(|p| p.outcome != PartitionOutcome::Pending)
    }

    /// Whether it waits on `tp`.
    pub fn watches(&self, tp: &TopicIdPartition) -> bool {
        self.parts.iter().any(|p| &p.tp == tp)
    }
}

/// A fetch held at the leader until there is something to return or its
/// max wait passes (Kafka's DelayedFetch).
#[derive(Clone, Debug)]
pub struct DelayedFetch {
    /// Who to answer.
    pub reply_to: ReplyTo,
    /// Who fetches, and what it may see.
    pub params: FetchParams,
    /// Its fetch session's terms.
    pub context: FetchContext,
    /// What it reads (an incremental fetch: its whole session).
    pub partitions: Vec<FetchPartition>,
    /// When it is answered anyway (`max_wait_ms`).
    pub deadline: Nanos,
}

/// Who fetches and what it may see (Kafka's `FetchParams`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchParams {
    /// The follower's broker id and broker epoch (None: a consumer).
    pub replica: Option<(u32, u64)>,
    /// How long the leader may hold an empty fetch.
    pub max_wait_ms: u64,
    /// read_committed or read_uncommitted (a consumer's `isolation.level`).
    pub isolation_level: IsolationLevel,
}

impl DelayedFetch {
    /// Whether it waits on `tp`.
    pub fn watches(&self, tp: &TopicIdPartition) -> bool {
        self.partitions.iter().any(|p| &p.tp == tp)
    }
}

/// Waiting operations by id, ascending: ids only grow, so an operation
/// parked goes at the end, and one completed is found by binary search
/// among the few waiting (a map's node allocation and rebalancing cost
/// more on every produce).
struct ById<T>(Vec<(u64, T)>);

impl<T> Default for ById<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for ById<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(id, op)| (id, op)))
            .finish()
    }
}

impl<T> ById<T> {
    /// Parks `op` under `id`, above every id parked before.
    fn push(&mut self, id: u64, op: T) {
        debug_assert!(self.0.last().is_none_or(|&(last, _)| last < id));
        self.0.push((id, op));
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.0.binary_search_by_key(&id, |&(i, _)| i).ok()
    }

    fn get(&self, id: u64) -> Option<&T> {
        self.position(id).map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        self.position(id).map(|i| &mut self.0[i].1)
    }

    fn remove(&mut self, id: u64) -> Option<T> {
        self.position(id).map(|i| self.0.remove(i).1)
    }

    /// The first id above `after` whose op satisfies `pred`.
    fn next_after(&self, after: u64, pred: impl Fn(&T) -> bool) -> Option<u64> {
        let from = self.0.partition_point(|&(id, _)| id <= after);
        self.0[from..]
            .iter()
            .find(|(_, op)| pred(op))
            .map(|&(id, _)| id)
    }

    fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.0.iter().map(|(_, op)| op)
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.0.iter_mut().map(|(_, op)| op)
    }

    /// Removes those `expired` says, in id order.
    fn take_if(&mut self, mut expired: impl FnMut(&T) -> bool) -> Vec<T> {
        self.0
            .extract_if(.., |(_, op)| expired(op))
            .map(|(_, op)| op)
            .collect()
    }
}

/// The broker's waiting produces and fetches.
#[derive(Debug, Default)]
pub struct DelayedOperationPurgatory {
    produces: ById<DelayedProduce>,
    fetches: ById<DelayedFetch>,
    next_id: u64,
    timer: Deadline,
}

impl DelayedOperationPurgatory {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Parks a produce until it completes or times out.
    pub fn add_produce(&mut self, env: &mut Env<'_>, op: DelayedProduce) -> u64 {
        self.timer.arm(env, op.deadline, BrokerTimer::Purgatory);
        let id = self.id();
        self.produces.push(id, op);
        id
    }

    /// Parks a fetch until there is data or its max wait passes.
    pub fn add_fetch(&mut self, env: &mut Env<'_>, op: DelayedFetch) -> u64 {
        self.timer.arm(env, op.deadline, BrokerTimer::Purgatory);
        let id = self.id();
        self.fetches.push(id, op);
        id
    }

    /// The id the next operation parked will be above: with
    /// [`Self::next_produce_watching`] and [`Self::next_fetch_watching`], a
    /// walk over the operations waiting now, without listing them first.
    pub fn last_id(&self) -> u64 {
        self.next_id
    }

    /// The first produce after id `after`, up to id `upto`, waiting on `tp`
    /// (any when None): produces in arrival order, one call at a time, while
    /// the caller completes them.
    pub fn next_produce_watching(
        &self,
        tp: Option<&TopicIdPartition>,
        after: u64,
        upto: u64,
    ) -> Option<u64> {
        self.produces
            .next_after(after, |d| tp.is_none_or(|tp| d.watches(tp)))
            .filter(|&id| id <= upto)
    }

    /// The first fetch after id `after`, up to id `upto`, waiting on `tp`
    /// (see [`Self::next_produce_watching`]).
    pub fn next_fetch_watching(&self, tp: &TopicIdPartition, after: u64, upto: u64) -> Option<u64> {
        self.fetches
            .next_after(after, |f| f.watches(tp))
            .filter(|&id| id <= upto)
    }

    /// A waiting produce, to complete it.
    pub fn produce_mut(&mut self, id: u64) -> Option<&mut DelayedProduce> {
        self.produces.get_mut(id)
    }

    /// Removes a produce (to answer it).
    pub fn take_produce(&mut self, id: u64) -> Option<DelayedProduce> {
        self.produces.remove(id)
    }

    /// A waiting fetch.
    pub fn fetch(&self, id: u64) -> Option<&DelayedFetch> {
        self.fetches.get(id)
    }

    /// Removes a fetch (to answer it).
    pub fn take_fetch(&mut self, id: u64) -> Option<DelayedFetch> {
        self.fetches.remove(id)
    }

    /// Every waiting produce, each partition failed with `error` where still
    /// pending: a produce whose partition moved on.
    pub fn fail_pending(&mut self, tp: &TopicIdPartition, error: Errors) {
        for d in self.produces.values_mut() {
            for part in &mut d.parts {
                if &part.tp == tp && part.outcome == PartitionOutcome::Pending {
                    part.outcome = PartitionOutcome::Done(Some(error));
                }
            }
        }
    }

    /// The purgatory timer fired: the produces and fetches past their
    /// deadline (produces with their pending partitions timed out), and the
    /// timer set again for the next deadline.
    pub fn expire(&mut self, env: &mut Env<'_>) -> (Vec<DelayedProduce>, Vec<DelayedFetch>) {
        if !self.timer.fire(env.now()) {
            return (Vec::new(), Vec::new());
        }
        let now = env.now();
        let mut expired_produces = self.produces.take_if(|d| d.deadline <= now);
        for d in &mut expired_produces {
            for part in &mut d.parts {
                if part.outcome == PartitionOutcome::Pending {
                    part.outcome = PartitionOutcome::Done(Some(Errors::RequestTimedOut));
                }
            }
        }
        let expired_fetches = self.fetches.take_if(|f| f.deadline <= now);
        let next = self
            .produces
            .values()
            .map(|d| d.deadline)
            .chain(self.fetches.values().map(|f| f.deadline))
            .min();
        if let Some(at) = next {
            self.timer.arm(env, at, BrokerTimer::Purgatory);
        }
        (expired_produces, expired_fetches)
    }
}
