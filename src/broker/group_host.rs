//! The broker's group coordinator host (Kafka's GroupCoordinatorService on
//! its broker): FindCoordinator from the metadata image, group requests
//! handed to the [`GroupCoordinator`], its writes appended to
//! `__consumer_offsets` as the partition's leader with acks=all (answered
//! once the high watermark passes them, or failed after
//! `offsets.commit.timeout.ms`), and the coordinator's shards loaded and
//! unloaded as this broker gains and loses leadership of offsets partitions.
//!
//! A new leader of an offsets partition answers COORDINATOR_LOAD_IN_PROGRESS
//! until its high watermark reaches the start of its leader epoch (until
//! then its log may hold records the old leader never committed); it then
//! loads the groups and offsets the log holds.

use sim::{Ctx, NodeId};

use super::replica_manager::{reply, DelayedProduce, ReplicaManager};
use super::server::{BrokerHost, BrokerObs, BrokerTimer};
use crate::errors::Errors;
use crate::group::coordinator::{error_response, CoordinatorOutput, CoordinatorRequest};
use crate::group::offsets_topic::{partition_for, CONSUMER_OFFSETS};
use crate::group::records::GroupRecord;
use crate::log::Record;
use crate::metadata::{MetadataImage, Uuid};
use crate::protocol::{KafkaResponse, TopicPartition};

/// Who to answer: the client node and its correlation id.
pub type ReplyTo = (NodeId, u64);

impl ReplicaManager {
    /// FindCoordinator: the leader of the group's `__consumer_offsets`
    /// partition in the metadata image.
    pub(super) fn handle_find_coordinator<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        key: &str,
        image: &MetadataImage,
    ) {
        let partition = partition_for(key, self.config.offsets_topic_num_partitions);
        let leader = image
            .partition(CONSUMER_OFFSETS, partition)
            .and_then(|p| p.leader);
        let response = match leader {
            Some(l) => KafkaResponse::FindCoordinator {
                error: None,
                node_id: l as i32,
            },
            None => KafkaResponse::FindCoordinator {
                error: Some(Errors::CoordinatorNotAvailable),
                node_id: -1,
            },
        };
        reply(ctx, from, correlation_id, response);
    }

    /// A JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit or OffsetFetch.
    pub(super) fn handle_group<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        group_id: &str,
        request: CoordinatorRequest,
    ) {
        let partition = self.group.partition_of(group_id);
        if self.loading.contains(&partition) {
            let response = error_response(&request, Errors::CoordinatorLoadInProgress);
            reply(ctx, from, correlation_id, KafkaResponse::Group(response));
            return;
        }
        let now_ms = ctx.now() / sim::MILLIS;
        let mut out = Vec::new();
        let rng = ctx.rng();
        let mut fresh_id = || Uuid::random(&mut *rng).to_string();
        self.group.handle(
            now_ms,
            (from, correlation_id),
            group_id,
            request,
            &mut fresh_id,
            &mut out,
        );
        self.apply_coordinator(ctx, out);
    }

    /// Carries out what the coordinator asked for.
    pub(super) fn apply_coordinator<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        out: Vec<CoordinatorOutput<ReplyTo>>,
    ) {
        let mut queue = std::collections::VecDeque::from(out);
        while let Some(o) = queue.pop_front() {
            match o {
                CoordinatorOutput::Reply((to, correlation_id), response) => {
                    reply(ctx, to, correlation_id, KafkaResponse::Group(response));
                }
                CoordinatorOutput::Append {
                    id,
                    partition,
                    records,
                } => {
                    if let Some(error) = self.append_internal(ctx, id, partition, records) {
                        let now_ms = ctx.now() / sim::MILLIS;
                        let mut more = Vec::new();
                        self.group
                            .on_append_done(now_ms, id, Some(error), &mut more);
                        queue.extend(more);
                    }
                }
            }
        }
        self.schedule_group_tick(ctx);
    }

    /// Appends the coordinator's records to `__consumer_offsets-partition`
    /// with acks=all; returns the error when the append cannot start.
    fn append_internal<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        id: u64,
        partition: u32,
        records: Vec<Record>,
    ) -> Option<Errors> {
        let now_ms = ctx.now() / sim::MILLIS;
        let tp = TopicPartition::new(CONSUMER_OFFSETS, partition);
        let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
            return Some(Errors::NotLeaderOrFollower);
        };
        if p.isr_size() < p.min_insync {
            return Some(Errors::NotEnoughReplicas);
        }
        let mut log_out = Vec::new();
        let epoch = p.leader_epoch;
        let batch = p
            .log
            .append_as_leader(records, -1, -1, -1, epoch, now_ms, &mut log_out);
        let required = batch.next_offset();
        let base = batch.base_offset as i64;
        self.apply_log(ctx, &tp, log_out);
        let delayed_id = self.next_id();
        let me = ctx.me();
        self.delayed_produces.insert(
            delayed_id,
            DelayedProduce {
                from: me,
                correlation_id: 0,
                acks: -1,
                parts: vec![(tp.clone(), required, base, None)],
                internal: Some(id),
            },
        );
        ctx.set_timer(
            self.config.offsets_commit_timeout_ms * sim::MILLIS,
            BrokerTimer::ProduceTimeout(delayed_id).into(),
        );
        self.complete_parked_for(ctx, &tp);
        self.maybe_advance_hw(ctx, &tp);
        self.try_complete_produces(ctx, Some(&tp));
        None
    }

    /// An internal append finished (committed, or failed with `error`).
    pub(super) fn on_internal_append_done<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        id: u64,
        error: Option<Errors>,
    ) {
        if error.is_none() {
            if let Some((group, offsets)) = self.group.pending_commit(id) {
                let obs = BrokerObs::OffsetsCommitted {
                    group: group.to_owned(),
                    offsets,
                };
                ctx.observe(obs.into());
            }
        }
        let now_ms = ctx.now() / sim::MILLIS;
        let mut out = Vec::new();
        self.group.on_append_done(now_ms, id, error, &mut out);
        self.apply_coordinator(ctx, out);
    }

    /// This broker became leader of `tp`: an offsets partition starts loading.
    pub(super) fn coordinator_on_leader(&mut self, tp: &TopicPartition) {
        if tp.topic == CONSUMER_OFFSETS {
            self.loading.insert(tp.partition);
        }
    }

    /// This broker stopped leading `tp`: an offsets partition's groups unload.
    pub(super) fn coordinator_on_step_down<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        if tp.topic != CONSUMER_OFFSETS {
            return;
        }
        self.loading.remove(&tp.partition);
        let mut out = Vec::new();
        self.group.unload(tp.partition, &mut out);
        self.apply_coordinator(ctx, out);
    }

    /// The high watermark of `tp` moved: a loading offsets partition whose
    /// high watermark reached its epoch start loads its groups.
    pub(super) fn maybe_load_offsets<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        if tp.topic != CONSUMER_OFFSETS || !self.loading.contains(&tp.partition) {
            return;
        }
        let Some(p) = self.partitions.get(tp) else {
            return;
        };
        let Some(leader) = p.leader_state() else {
            return;
        };
        if p.log.high_watermark() < leader.epoch_start_offset {
            return;
        }
        self.loading.remove(&tp.partition);
        let now_ms = ctx.now() / sim::MILLIS;
        let forget = self.config.forget_offsets_on_load;
        let records: Vec<&Record> = p
            .log
            .batches()
            .flat_map(|b| b.records.iter())
            .filter(|r| {
                !(forget
                    && matches!(
                        GroupRecord::from_record(r),
                        Some(GroupRecord::OffsetCommit(..))
                    ))
            })
            .collect();
        self.group.load(tp.partition, records, now_ms);
        self.schedule_group_tick(ctx);
    }

    /// Makes sure a tick fires at the coordinator's next deadline.
    fn schedule_group_tick<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let Some(deadline) = self.group.next_deadline_ms() else {
            return;
        };
        if self.group_tick_at.is_some_and(|t| t <= deadline) {
            return;
        }
        let now_ms = ctx.now() / sim::MILLIS;
        self.group_tick_at = Some(deadline);
        ctx.set_timer(
            deadline.saturating_sub(now_ms).max(1) * sim::MILLIS,
            BrokerTimer::GroupTick.into(),
        );
    }

    /// The coordinator's timer: session and rebalance timeouts.
    pub(super) fn on_group_tick<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let now_ms = ctx.now() / sim::MILLIS;
        if self.group_tick_at.is_none_or(|t| t > now_ms) {
            return;
        }
        self.group_tick_at = None;
        let mut out = Vec::new();
        self.group.on_tick(now_ms, &mut out);
        self.apply_coordinator(ctx, out);
    }
}
