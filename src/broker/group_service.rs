//! `GroupCoordinatorService`: the group coordinator on its broker (Kafka's
//! GroupCoordinatorService): FindCoordinator from the metadata image, group
//! requests handed to the [`GroupCoordinator`], its writes appended to
//! `__consumer_offsets` through the ReplicaManager as the partition's
//! leader with acks=all (answered once the high watermark passes them, or
//! failed after `offsets.commit.timeout.ms`), and the coordinator's shards
//! loaded and unloaded as the broker gains and loses leadership of offsets
//! partitions.
//!
//! A new leader of an offsets partition answers COORDINATOR_LOAD_IN_PROGRESS
//! until its high watermark reaches the start of its leader epoch (until
//! then its log may hold records the old leader never committed); it then
//! loads the groups and offsets the log holds.

use std::collections::{BTreeSet, VecDeque};

use sim::MILLIS;

use super::config::BrokerConfig;
use super::purgatory::ReplyTo;
use super::replica_manager::{reply, ReplicaEvent, ReplicaManager};
use super::{BrokerObs, BrokerTimer};
use crate::errors::Errors;
use crate::group::coordinator::{
    error_response, CoordinatorOutput, CoordinatorRequest, GroupCoordinator,
};
use crate::group::offsets_topic::{partition_for, CONSUMER_OFFSETS};
use crate::group::records::GroupRecord;
use crate::log::Record;
use crate::metadata::{MetadataImage, Uuid};
use crate::node::{Deadline, Env};
use crate::protocol::{KafkaResponse, TopicId, TopicIdPartition, Topics};

/// FindCoordinatorResponse naming the leader of `partition` of the
/// internal topic `topic` in `image` (COORDINATOR_NOT_AVAILABLE without one):
/// the group and the transaction coordinators are found the same way.
pub(super) fn coordinator_of(image: &MetadataImage, topic: &str, partition: u32) -> KafkaResponse {
    match image.partition(topic, partition).and_then(|p| p.leader) {
        Some(l) => KafkaResponse::FindCoordinator {
            error: None,
            node_id: l as i32,
        },
        None => KafkaResponse::FindCoordinator {
            error: Some(Errors::CoordinatorNotAvailable),
            node_id: -1,
        },
    }
}

/// The broker's group coordinator and what it waits for.
#[derive(Debug)]
pub struct GroupCoordinatorService {
    coordinator: GroupCoordinator<ReplyTo>,
    num_partitions: u32,
    /// `__consumer_offsets` in the run's topic table.
    offsets_topic: Option<TopicId>,
    /// Offsets partitions led but not loaded yet.
    loading: BTreeSet<u32>,
    tick: Deadline,
    /// `offsets.commit.timeout.ms`: how long an append waits for the ISR.
    commit_timeout_ms: u64,
    /// Test-only bug: loading a partition skips its committed offsets.
    forget_offsets_on_load: bool,
}

impl GroupCoordinatorService {
    /// The coordinator of an offsets topic of `num_partitions` partitions.
    pub fn new(topics: &Topics, config: &BrokerConfig) -> Self {
        let num_partitions = config.offsets_topic_num_partitions;
        Self {
            coordinator: GroupCoordinator::new(num_partitions)
                .with_initial_rebalance_delay_ms(config.group_initial_rebalance_delay_ms)
                .with_offsets_retention(
                    config.offsets_retention_ms,
                    config.offsets_retention_check_interval_ms,
                )
                .with_offsets_kept_while_group_active(config.offsets_kept_while_group_active)
                .with_static_leader_rejoins_as_leader(config.static_leader_rejoins_as_leader)
                .with_static_member_id_replaced_in_any_state(
                    config.static_member_id_replaced_in_any_state,
                )
                .with_static_rejoin_rebalances_when_completing(
                    config.static_rejoin_rebalances_when_completing,
                )
                .with_new_member_heartbeat_expiration(config.new_member_heartbeat_expiration),
            num_partitions,
            offsets_topic: topics.id(CONSUMER_OFFSETS),
            loading: BTreeSet::new(),
            tick: Deadline::default(),
            commit_timeout_ms: config.offsets_commit_timeout_ms,
            forget_offsets_on_load: config.forget_offsets_on_load,
        }
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &GroupCoordinator<ReplyTo> {
        &self.coordinator
    }

    /// FindCoordinator: the leader of the group's `__consumer_offsets`
    /// partition in the metadata image.
    pub fn find_coordinator(
        &self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        key: &str,
        image: &MetadataImage,
    ) {
        let partition = partition_for(key, self.num_partitions);
        let response = coordinator_of(image, CONSUMER_OFFSETS, partition);
        reply(env, reply_to, response);
    }

    /// A JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit or OffsetFetch.
    pub fn handle(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        reply_to: ReplyTo,
        group_id: &str,
        request: CoordinatorRequest,
    ) {
        let partition = self.coordinator.partition_of(group_id);
        if self.loading.contains(&partition) {
            let response = error_response(&request, Errors::CoordinatorLoadInProgress);
            reply(env, reply_to, KafkaResponse::Group(Box::new(response)));
            return;
        }
        let now_ms = env.now_ms();
        let mut out = Vec::new();
        let rng = env.rng();
        let mut fresh_id = || Uuid::random(&mut *rng).to_string();
        self.coordinator
            .handle(now_ms, reply_to, group_id, request, &mut fresh_id, &mut out);
        self.apply(env, replicas, out);
    }

    /// The metadata removed `topics`: the groups' committed offsets of
    /// their partitions are deleted (Kafka's `onPartitionsDeleted`).
    pub fn on_topics_deleted(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        topics: &[String],
    ) {
        let mut out = Vec::new();
        self.coordinator
            .on_partitions_deleted(topics, env.now_ms(), &mut out);
        self.apply(env, replicas, out);
    }

    /// The coordinator's timer: session and rebalance timeouts, and offset
    /// expiration.
    pub fn on_tick(&mut self, env: &mut Env<'_>, replicas: &mut ReplicaManager) {
        if !self.tick.fire(env.now()) {
            return;
        }
        let mut out = Vec::new();
        self.coordinator.on_tick(env.now_ms(), &mut out);
        let expiration = self.coordinator.expire_offsets(env.now_ms(), &mut out);
        for (group, partitions) in expiration.offsets {
            env.observe(BrokerObs::OffsetsExpired { group, partitions });
        }
        for group in expiration.deleted_groups {
            env.observe(BrokerObs::GroupDeleted { group });
        }
        self.apply(env, replicas, out);
    }

    /// Whether `tp` is one of its offsets partitions.
    pub fn owns_topic(&self, tp: &TopicIdPartition) -> bool {
        Some(tp.topic_id) == self.offsets_topic
    }

    /// Acts on what the replica manager reports about an offsets partition
    /// or the coordinator's appends.
    pub fn on_replica_event(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        event: ReplicaEvent,
    ) {
        match event {
            ReplicaEvent::BecameLeader(tp) => {
                // A new leader epoch of a partition this coordinator
                // already loaded (the ISR changed under the same
                // leader) changes nothing: as Kafka's coordinator,
                // it keeps its state rather than reload the log.
                if !self.coordinator.owns_partition(tp.partition) {
                    self.loading.insert(tp.partition);
                    self.maybe_load(env, replicas, &tp);
                }
            }
            ReplicaEvent::HighWatermarkMoved(tp) => self.maybe_load(env, replicas, &tp),
            ReplicaEvent::StoppedLeading(tp) => {
                self.loading.remove(&tp.partition);
                let mut out = Vec::new();
                self.coordinator.unload(tp.partition, &mut out);
                self.apply(env, replicas, out);
            }
            ReplicaEvent::TxnCompleted {
                tp,
                producer_id,
                committed,
            } => {
                let done =
                    self.coordinator
                        .complete_transaction(tp.partition, producer_id, committed);
                for (group, offsets) in done {
                    env.observe(BrokerObs::OffsetsCommitted { group, offsets });
                }
            }
            ReplicaEvent::InternalAppendDone { id, error, .. } => {
                if error.is_none() {
                    if let Some((group, offsets)) = self.coordinator.pending_commit(id) {
                        env.observe(BrokerObs::OffsetsCommitted {
                            group: group.to_owned(),
                            offsets,
                        });
                    }
                }
                let mut out = Vec::new();
                self.coordinator
                    .on_append_done(env.now_ms(), id, error, &mut out);
                self.apply(env, replicas, out);
            }
        }
    }

    /// A loading offsets partition whose high watermark reached its epoch
    /// start loads its groups.
    fn maybe_load(&mut self, env: &mut Env<'_>, replicas: &ReplicaManager, tp: &TopicIdPartition) {
        if !self.loading.contains(&tp.partition) || !replicas.committed_since_epoch_start(tp) {
            return;
        }
        self.loading.remove(&tp.partition);
        let batches = replicas.batches(tp);
        if self.forget_offsets_on_load {
            let records: Vec<Record> = batches
                .iter()
                .flat_map(|b| b.records())
                .filter(|r| {
                    !matches!(
                        GroupRecord::from_record(r),
                        Some(GroupRecord::OffsetCommit(..))
                    )
                })
                .collect();
            self.coordinator.load(tp.partition, &records, env.now_ms());
        } else {
            self.coordinator
                .load_batches(tp.partition, &batches, env.now_ms());
        }
        self.schedule_tick(env);
    }

    /// Carries out what the coordinator asked for: replies, and appends to
    /// its offsets partitions (an append that cannot start fails at once).
    fn apply(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        out: Vec<CoordinatorOutput<ReplyTo>>,
    ) {
        let mut queue = VecDeque::from(out);
        while let Some(o) = queue.pop_front() {
            match o {
                CoordinatorOutput::Reply(to, response) => {
                    reply(env, to, KafkaResponse::Group(Box::new(response)));
                }
                CoordinatorOutput::Append {
                    id,
                    partition,
                    records,
                    producer,
                } => {
                    let appended = match self.offsets_topic {
                        Some(topic) => {
                            let tp = TopicIdPartition::new(topic, partition);
                            let timeout = self.commit_timeout_ms;
                            replicas.append_internal_batch(env, id, &tp, records, producer, timeout)
                        }
                        None => Some(Errors::UnknownTopicOrPartition),
                    };
                    if let Some(error) = appended {
                        let mut more = Vec::new();
                        self.coordinator
                            .on_append_done(env.now_ms(), id, Some(error), &mut more);
                        queue.extend(more);
                    }
                }
            }
        }
        self.schedule_tick(env);
    }

    /// Makes sure the tick fires at the coordinator's next deadline.
    fn schedule_tick(&mut self, env: &mut Env<'_>) {
        if let Some(deadline_ms) = self.coordinator.next_deadline_ms() {
            let at = (deadline_ms * MILLIS).max(env.now() + MILLIS);
            self.tick.arm(env, at, BrokerTimer::GroupTick);
        }
    }
}
