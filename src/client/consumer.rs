//! A consumer with a fixed assignment (groups come with the group
//! coordinator): it fetches its partitions from their leaders up to the high
//! watermark, validates its position with OffsetForLeaderEpoch after a leader
//! change (KIP-320) and reports a log truncation when the new leader's log
//! ends before it, and records every record it sees.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use crate::protocol::{
    broker_at, FetchPartition, FetchedPartition, KafkaMsg, KafkaRequest, KafkaResponse,
    PartitionMetadata, TopicPartition,
};

use super::record_id;

/// `fetch.max.wait.ms` default.
const FETCH_MAX_WAIT_MS: u64 = 500;
/// `retry.backoff.ms` default.
const RETRY_BACKOFF_NS: Nanos = 100 * MILLIS;
/// `request.timeout.ms` default.
const REQUEST_TIMEOUT_NS: Nanos = 30_000 * MILLIS;

/// The consumer's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ConsumerTimer {
    /// Refresh metadata.
    Metadata,
    /// A request with this correlation id went unanswered.
    Timeout(u64),
}

/// What a consumer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerObs {
    /// It was assigned these partitions.
    Assigned(Vec<TopicPartition>),
    /// It received a record.
    Consumed {
        /// The partition (of the consumer's topic).
        partition: u32,
        /// Its offset.
        offset: u64,
        /// The workload's record id.
        id: u64,
        /// The leader epoch of its batch.
        leader_epoch: i32,
    },
    /// The new leader's log ends before what it had consumed.
    TruncationDetected {
        /// The partition.
        tp: TopicPartition,
        /// Its position before.
        position: u64,
        /// Where the new leader's epoch ends (its new position).
        end_offset: u64,
    },
}

#[derive(Clone, Debug, Default)]
struct PartitionState {
    leader: Option<(u32, i32)>,
    position: u64,
    last_epoch: Option<i32>,
    validating: bool,
}

/// A consumer of one topic with a range assignment by its index in its group.
#[derive(Debug)]
pub struct Consumer {
    topic: String,
    index: u32,
    group_size: u32,
    brokers: BTreeMap<u32, NodeId>,
    partitions: BTreeMap<u32, PartitionState>,
    assigned: bool,
    correlation: u64,
    /// Requests in flight: correlation id -> broker.
    in_flight: BTreeMap<u64, u32>,
    fetching: BTreeSet<u32>,
    metadata_in_flight: Option<u64>,
}

impl Consumer {
    /// Consumer `index` of `group_size` in its group, reading `topic`.
    pub fn new(topic: String, index: u32, group_size: u32, brokers: BTreeMap<u32, NodeId>) -> Self {
        Self {
            topic,
            index,
            group_size: group_size.max(1),
            brokers,
            partitions: BTreeMap::new(),
            assigned: false,
            correlation: 0,
            in_flight: BTreeMap::new(),
            fetching: BTreeSet::new(),
            metadata_in_flight: None,
        }
    }

    /// Positions of its partitions (next offset to read).
    pub fn positions(&self) -> BTreeMap<TopicPartition, u64> {
        self.partitions
            .iter()
            .map(|(&p, s)| (TopicPartition::new(&self.topic, p), s.position))
            .collect()
    }

    /// Boot: a restarted consumer starts over from the beginning.
    pub fn start<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        self.refresh_metadata(ctx);
    }

    fn send<N: ConsumerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        broker: u32,
        request: KafkaRequest,
    ) -> u64 {
        self.correlation += 1;
        let correlation_id = self.correlation;
        self.in_flight.insert(correlation_id, broker);
        let node = self.brokers[&broker];
        ctx.send(
            node,
            KafkaMsg::Request {
                correlation_id,
                request,
            }
            .into(),
        );
        ctx.set_timer(
            REQUEST_TIMEOUT_NS,
            ConsumerTimer::Timeout(correlation_id).into(),
        );
        correlation_id
    }

    fn refresh_metadata<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.metadata_in_flight.is_some() {
            return;
        }
        let ids: Vec<u32> = self.brokers.keys().copied().collect();
        let broker = ids[ctx.rng().random_range(0..ids.len())];
        let request = KafkaRequest::Metadata {
            topics: vec![self.topic.clone()],
        };
        self.metadata_in_flight = Some(self.send(ctx, broker, request));
    }

    /// Kafka's RangeAssignor for one topic: consecutive partitions, the first
    /// `n % c` consumers one more.
    fn assign(&self, count: u32) -> Vec<u32> {
        let (c, i) = (self.group_size, self.index);
        let per = count / c;
        let extra = count % c;
        let start = i * per + i.min(extra);
        let len = per + u32::from(i < extra);
        (start..start + len).collect()
    }

    /// A broker answered.
    pub fn on_message<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, msg: KafkaMsg) {
        let KafkaMsg::Response {
            correlation_id,
            response,
        } = msg
        else {
            return;
        };
        let Some(broker) = self.in_flight.remove(&correlation_id) else {
            return;
        };
        match response {
            KafkaResponse::Metadata { topics } => {
                self.metadata_in_flight = None;
                let parts = topics
                    .into_iter()
                    .find(|(t, _)| *t == self.topic)
                    .map(|(_, p)| p);
                match parts {
                    Some(parts) if !parts.is_empty() => self.on_metadata(ctx, parts),
                    _ => {
                        ctx.set_timer(RETRY_BACKOFF_NS, ConsumerTimer::Metadata.into());
                    }
                }
            }
            KafkaResponse::Fetch { partitions } => {
                self.fetching.remove(&broker);
                self.on_fetch(ctx, broker, partitions);
            }
            KafkaResponse::OffsetForLeaderEpoch {
                tp,
                error,
                end_offset,
                ..
            } => {
                let Some(state) = self.partitions.get_mut(&tp.partition) else {
                    return;
                };
                state.validating = false;
                if error.is_some() {
                    ctx.set_timer(RETRY_BACKOFF_NS, ConsumerTimer::Metadata.into());
                    return;
                }
                if end_offset < state.position {
                    ctx.observe(
                        ConsumerObs::TruncationDetected {
                            tp: tp.clone(),
                            position: state.position,
                            end_offset,
                        }
                        .into(),
                    );
                    state.position = end_offset;
                }
                self.fetch_all(ctx);
            }
            _ => {}
        }
    }

    fn on_metadata<N: ConsumerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        parts: Vec<PartitionMetadata>,
    ) {
        if !self.assigned {
            self.assigned = true;
            let mine = self.assign(parts.len() as u32);
            let tps = mine
                .iter()
                .map(|&p| TopicPartition::new(&self.topic, p))
                .collect();
            ctx.observe(ConsumerObs::Assigned(tps).into());
            for p in mine {
                self.partitions.insert(p, PartitionState::default());
            }
        }
        let mut validate = Vec::new();
        for pm in parts {
            let Some(state) = self.partitions.get_mut(&pm.partition) else {
                continue;
            };
            let new = pm.leader.map(|l| (l, pm.leader_epoch));
            let epoch_moved = match (state.leader, new) {
                (Some((_, old)), Some((_, now))) => now > old,
                (None, Some(_)) => true,
                _ => false,
            };
            if epoch_moved || state.leader.is_none() {
                state.leader = new;
            }
            if let (true, Some(last), Some((l, e))) = (epoch_moved, state.last_epoch, new) {
                state.validating = true;
                validate.push((pm.partition, l, e, last));
            }
        }
        for (partition, leader, epoch, last) in validate {
            let request = KafkaRequest::OffsetForLeaderEpoch {
                tp: TopicPartition::new(&self.topic, partition),
                current_leader_epoch: epoch,
                leader_epoch: last,
            };
            self.send(ctx, leader, request);
        }
        self.fetch_all(ctx);
    }

    /// Sends a Fetch to every leader of an assigned partition without one in flight.
    fn fetch_all<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let mut by_leader: BTreeMap<u32, Vec<FetchPartition>> = BTreeMap::new();
        for (&p, s) in &self.partitions {
            if let (Some((leader, epoch)), false) = (s.leader, s.validating) {
                by_leader.entry(leader).or_default().push(FetchPartition {
                    tp: TopicPartition::new(&self.topic, p),
                    current_leader_epoch: epoch,
                    fetch_offset: s.position,
                    last_fetched_epoch: None,
                });
            }
        }
        for (leader, partitions) in by_leader {
            if self.fetching.insert(leader) {
                let request = KafkaRequest::Fetch {
                    replica: None,
                    max_wait_ms: FETCH_MAX_WAIT_MS,
                    partitions,
                };
                self.send(ctx, leader, request);
            }
        }
    }

    fn on_fetch<N: ConsumerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        broker: u32,
        answers: Vec<FetchedPartition>,
    ) {
        let mut refresh = false;
        for answer in answers {
            let Some(state) = self.partitions.get_mut(&answer.tp.partition) else {
                continue;
            };
            if state.leader.map(|(l, _)| l) != Some(broker) || state.validating {
                continue;
            }
            if answer.error.is_some() {
                refresh = true;
                continue;
            }
            for batch in &answer.batches {
                for (i, record) in batch.records.iter().enumerate() {
                    let offset = batch.base_offset + i as u64;
                    if offset < state.position || offset >= answer.high_watermark {
                        continue;
                    }
                    ctx.observe(
                        ConsumerObs::Consumed {
                            partition: answer.tp.partition,
                            offset,
                            id: record_id(&record.value),
                            leader_epoch: batch.partition_leader_epoch,
                        }
                        .into(),
                    );
                    state.position = offset + 1;
                    state.last_epoch = Some(batch.partition_leader_epoch);
                }
            }
        }
        if refresh {
            ctx.set_timer(RETRY_BACKOFF_NS, ConsumerTimer::Metadata.into());
        }
        self.fetch_all(ctx);
    }

    /// A timer fired.
    pub fn on_timer<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: ConsumerTimer) {
        match timer {
            ConsumerTimer::Metadata => self.refresh_metadata(ctx),
            ConsumerTimer::Timeout(c) => {
                if let Some(broker) = self.in_flight.remove(&c) {
                    self.fetching.remove(&broker);
                    if self.metadata_in_flight == Some(c) {
                        self.metadata_in_flight = None;
                    }
                    for s in self.partitions.values_mut() {
                        s.validating = false;
                    }
                    self.refresh_metadata(ctx);
                }
            }
        }
    }

    /// A connection broke: what was in flight to that broker is lost.
    pub fn on_disconnect<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        let Some(broker) = broker_at(&self.brokers, peer) else {
            return;
        };
        let lost: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, &b)| b == broker)
            .map(|(&c, _)| c)
            .collect();
        for c in lost {
            self.in_flight.remove(&c);
            if self.metadata_in_flight == Some(c) {
                self.metadata_in_flight = None;
            }
        }
        self.fetching.remove(&broker);
        for s in self.partitions.values_mut() {
            if s.leader.map(|(l, _)| l) == Some(broker) {
                s.validating = false;
            }
        }
        ctx.set_timer(RETRY_BACKOFF_NS, ConsumerTimer::Metadata.into());
    }
}

/// A node type that can host a consumer.
pub trait ConsumerHost:
    Node<Msg: From<KafkaMsg>, Timer: From<ConsumerTimer>, Obs: From<ConsumerObs>>
{
}

impl<N> ConsumerHost for N where
    N: Node<Msg: From<KafkaMsg>, Timer: From<ConsumerTimer>, Obs: From<ConsumerObs>>
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_gives_the_first_consumers_one_more() {
        let c = |i, n| Consumer::new("t".into(), i, n, BTreeMap::new()).assign(7);
        assert_eq!(c(0, 3), vec![0, 1, 2]);
        assert_eq!(c(1, 3), vec![3, 4]);
        assert_eq!(c(2, 3), vec![5, 6]);
        assert_eq!(c(3, 8), vec![3]);
        assert_eq!(c(7, 8), Vec::<u32>::new());
    }
}
