//! `ReplicaManager`: the partitions a broker hosts (Kafka's ReplicaManager
//! and LogManager). At boot every log is recovered from the broker's disk;
//! the metadata image then says which replica leads and which follow. It
//! serves Produce (acks 0/1/all, delayed until the high watermark passes),
//! Fetch from consumers and followers (held while empty), Metadata,
//! InitProducerId and OffsetForLeaderEpoch, and proposes ISR changes to the
//! controller. The follower side is in `fetcher.rs`, the leader's fetch
//! handling in `leader_fetch.rs`.

use std::collections::{BTreeMap, BTreeSet};

use sim::{Ctx, NodeId};

use super::checkpoints::{self, HW_CHECKPOINT, RECOVERY_CHECKPOINT};
use super::config::{BrokerConfig, Truncation};
use super::group_host::ReplyTo;
use super::partition::{LeaderState, Partition, PendingIsr, Role};
use super::producer_state::ProducerStateManager;
use super::server::{BrokerHost, BrokerObs, BrokerTimer};
use crate::controller::node::controller_node;
use crate::controller::rpc::{ControllerMsg, ControllerRequest, ControllerResponse};
use crate::errors::Errors;
use crate::group::coordinator::GroupCoordinator;
use crate::log::{LogOutput, UnifiedLog};
use crate::metadata::MetadataImage;
use crate::protocol::{KafkaMsg, KafkaRequest, KafkaResponse, PartitionMetadata, TopicPartition};

/// Correlation ids of the data path's controller requests start here
/// (below are the lifecycle's).
pub const DATA_PATH_CORRELATION_BASE: u64 = 1 << 40;

/// What an fsync was for.
#[derive(Clone, Debug)]
pub(super) enum FsyncPurpose {
    /// Part of a log flush: when the group completes, the recovery point moves.
    Flush { group: u64 },
    /// A checkpoint's temp file is durable: rename it over the real one.
    Checkpoint { tmp: String, file: String },
}

/// A log flush whose fsyncs are in flight.
#[derive(Clone, Debug)]
pub(super) struct FlushGroup {
    pub tp: TopicPartition,
    pub upto: u64,
    pub tokens: usize,
}

/// A produce request waiting for its partitions to commit (Kafka's DelayedProduce).
#[derive(Clone, Debug)]
pub(super) struct DelayedProduce {
    pub from: NodeId,
    pub correlation_id: u64,
    pub acks: i16,
    /// Per partition: offset to reach, base offset, and the answer once known.
    pub parts: Vec<(TopicPartition, u64, i64, Option<Option<Errors>>)>,
    /// The group coordinator's own append (its id), answered to the
    /// coordinator instead of a client.
    pub internal: Option<u64>,
}

/// The broker's data path.
#[derive(Debug)]
pub struct ReplicaManager {
    pub(super) me: u32,
    pub(super) config: BrokerConfig,
    pub(super) partitions: BTreeMap<TopicPartition, Partition>,
    pub(super) delayed_produces: BTreeMap<u64, DelayedProduce>,
    pub(super) parked_fetches: BTreeMap<u64, super::leader_fetch::ParkedFetch>,
    pub(super) fetchers: BTreeMap<u32, super::fetcher::FetcherState>,
    pub(super) alter_in_flight: BTreeMap<u64, TopicPartition>,
    pub(super) fsyncs: BTreeMap<u64, FsyncPurpose>,
    pub(super) flushes: BTreeMap<u64, FlushGroup>,
    pub(super) next_id: u64,
    pub(super) broker_epoch: Option<u64>,
    pub(super) controller: Option<u32>,
    pub(super) voters: Vec<u32>,
    pub(super) producer_ids: Option<(i64, i64)>,
    pub(super) producer_ids_requested: bool,
    pub(super) producer_ids_requested_at: Option<u64>,
    pub(super) waiting_init: Vec<(NodeId, u64)>,
    /// Brokers' node ids, by broker id.
    pub(super) broker_nodes: BTreeMap<u32, NodeId>,
    /// The group coordinator of the offsets partitions this broker leads.
    pub(super) group: GroupCoordinator<ReplyTo>,
    /// Offsets partitions led but not loaded yet.
    pub(super) loading: BTreeSet<u32>,
    /// When the coordinator's next tick is due.
    pub(super) group_tick_at: Option<u64>,
}

impl ReplicaManager {
    /// Broker `me`; `broker_nodes` maps broker ids to simulation nodes.
    pub fn new(
        me: u32,
        config: BrokerConfig,
        voters: Vec<u32>,
        broker_nodes: BTreeMap<u32, NodeId>,
    ) -> Self {
        Self {
            me,
            config,
            partitions: BTreeMap::new(),
            delayed_produces: BTreeMap::new(),
            parked_fetches: BTreeMap::new(),
            fetchers: BTreeMap::new(),
            alter_in_flight: BTreeMap::new(),
            fsyncs: BTreeMap::new(),
            flushes: BTreeMap::new(),
            next_id: 0,
            broker_epoch: None,
            controller: None,
            voters,
            producer_ids: None,
            producer_ids_requested: false,
            producer_ids_requested_at: None,
            waiting_init: Vec::new(),
            broker_nodes,
            group: GroupCoordinator::new(config.offsets_topic_num_partitions)
                .with_initial_rebalance_delay_ms(config.group_initial_rebalance_delay_ms),
            loading: BTreeSet::new(),
            group_tick_at: None,
        }
    }

    /// The group coordinator.
    pub fn group_coordinator(&self) -> &GroupCoordinator<ReplyTo> {
        &self.group
    }

    /// The hosted partitions.
    pub fn partitions(&self) -> &BTreeMap<TopicPartition, Partition> {
        &self.partitions
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The broker registered (or re-registered) with this epoch.
    pub fn set_broker_epoch(&mut self, epoch: Option<u64>) {
        self.broker_epoch = epoch;
    }

    /// The active controller as the lifecycle knows it.
    pub fn set_controller(&mut self, controller: Option<u32>) {
        self.controller = controller;
    }

    /// Boot: recovers every log directory on the disk (Kafka's LogManager
    /// after an unclean shutdown) and starts the periodic tasks.
    pub fn start<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let disk = ctx.disk();
        let hws = checkpoints::decode(disk.read(HW_CHECKPOINT));
        let recovery_points = checkpoints::decode(disk.read(RECOVERY_CHECKPOINT));
        let mut dirs: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for file in disk.files() {
            if let Some((dir, _)) = file.split_once('/') {
                if checkpoints::parse_dir(dir).is_some() && !dir.starts_with("__cluster_metadata") {
                    let bytes = disk.read(file).unwrap_or_default().to_vec();
                    dirs.entry(dir.to_owned())
                        .or_default()
                        .push((file.to_owned(), bytes));
                }
            }
        }
        let mut outputs = Vec::new();
        for (dir, files) in dirs {
            let tp = checkpoints::parse_dir(&dir).expect("checked");
            let recovery_point = recovery_points.get(&tp).copied().unwrap_or(0);
            let mut out = Vec::new();
            let mut log =
                UnifiedLog::recover(&dir, self.config.log, &files, recovery_point, &mut out);
            let hw = hws.get(&tp).copied().unwrap_or(0);
            log.update_high_watermark(hw.min(log.log_end_offset()));
            ctx.observe(
                BrokerObs::Recovered {
                    partition: tp.to_string(),
                    log_end_offset: log.log_end_offset(),
                }
                .into(),
            );
            let mut producers = ProducerStateManager::default();
            for batch in log.batches() {
                producers.update(batch);
            }
            outputs.push((tp.clone(), out));
            self.partitions.insert(
                tp.clone(),
                Partition {
                    tp,
                    topic_id: crate::metadata::Uuid(0),
                    log,
                    producers,
                    me: self.me,
                    replicas: Vec::new(),
                    role: Role::Offline,
                    leader_epoch: -1,
                    partition_epoch: -1,
                    min_insync: self.config.min_insync_replicas,
                },
            );
        }
        for (tp, out) in outputs {
            self.apply_log(ctx, &tp, out);
        }
        let ms = sim::MILLIS;
        ctx.set_timer(
            self.config.replica_lag_time_max_ms / 2 * ms,
            BrokerTimer::IsrCheck.into(),
        );
        ctx.set_timer(
            self.config.hw_checkpoint_interval_ms * ms,
            BrokerTimer::HwCheckpoint.into(),
        );
        ctx.set_timer(
            self.config
                .recovery_checkpoint_interval_ms
                .saturating_mul(ms),
            BrokerTimer::RecoveryCheckpoint.into(),
        );
    }

    /// Carries out a log's disk effects; fsyncs become one flush group.
    pub(super) fn apply_log<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        out: Vec<LogOutput>,
    ) {
        let mut fsync_files = Vec::new();
        for o in out {
            let flush = o.is_log_flush();
            match o {
                LogOutput::Write {
                    file,
                    offset,
                    bytes,
                } => ctx.disk_mut().write(&file, offset, &bytes),
                LogOutput::Truncate { file, len } => ctx.disk_mut().truncate(&file, len),
                LogOutput::Remove { file } => ctx.disk_mut().remove(&file),
                LogOutput::Rename { from, to } => ctx.disk_mut().rename(&from, &to),
                LogOutput::Fsync { file } if flush => fsync_files.push(file),
                LogOutput::Fsync { file } => {
                    // A checkpoint file's fsync: nothing waits on it.
                    let token = self.next_id();
                    ctx.fsync(&file, token);
                }
            }
        }
        if fsync_files.is_empty() {
            return;
        }
        let upto = self
            .partitions
            .get(tp)
            .map_or(0, |p| p.log.log_end_offset());
        let group = self.next_id();
        self.flushes.insert(
            group,
            FlushGroup {
                tp: tp.clone(),
                upto,
                tokens: fsync_files.len(),
            },
        );
        for file in fsync_files {
            let token = self.next_id();
            self.fsyncs.insert(token, FsyncPurpose::Flush { group });
            ctx.fsync(&file, token);
        }
    }

    /// An fsync completed.
    pub fn on_fsync<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, token: u64) {
        match self.fsyncs.remove(&token) {
            Some(FsyncPurpose::Flush { group }) => {
                let done = self.flushes.get_mut(&group).is_some_and(|g| {
                    g.tokens -= 1;
                    g.tokens == 0
                });
                if done {
                    let g = self.flushes.remove(&group).expect("present");
                    if let Some(p) = self.partitions.get_mut(&g.tp) {
                        p.log.on_flushed(g.upto);
                    }
                    self.try_complete_produces(ctx, Some(&g.tp));
                    self.fetch_after_flush(ctx, &g.tp);
                }
            }
            Some(FsyncPurpose::Checkpoint { tmp, file }) => {
                ctx.disk_mut().rename(&tmp, &file);
                // Kafka flushes the parent directory after the move
                // (Utils.atomicMoveWithFallback): the rename is durable.
                let token = self.next_id();
                ctx.fsync(&file, token);
            }
            None => {}
        }
    }

    /// Writes a checkpoint file as Kafka does: temp file, fsync, rename,
    /// flush of the directory.
    fn write_checkpoint<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        file: &str,
        offsets: &BTreeMap<TopicPartition, u64>,
    ) {
        let tmp = format!("{file}.tmp");
        ctx.disk_mut().remove(&tmp);
        ctx.disk_mut().write(&tmp, 0, &checkpoints::encode(offsets));
        let token = self.next_id();
        self.fsyncs.insert(
            token,
            FsyncPurpose::Checkpoint {
                tmp: tmp.clone(),
                file: file.to_owned(),
            },
        );
        ctx.fsync(&tmp, token);
    }

    /// A timer of the data path fired.
    pub fn on_timer<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: BrokerTimer) {
        let now_ms = ctx.now() / sim::MILLIS;
        match timer {
            BrokerTimer::IsrCheck => {
                self.maybe_shrink_isrs(ctx, now_ms);
                ctx.set_timer(
                    self.config.replica_lag_time_max_ms / 2 * sim::MILLIS,
                    BrokerTimer::IsrCheck.into(),
                );
            }
            BrokerTimer::HwCheckpoint => {
                let hws = self
                    .partitions
                    .iter()
                    .map(|(tp, p)| (tp.clone(), p.log.high_watermark()))
                    .collect();
                self.write_checkpoint(ctx, HW_CHECKPOINT, &hws);
                ctx.set_timer(
                    self.config.hw_checkpoint_interval_ms * sim::MILLIS,
                    BrokerTimer::HwCheckpoint.into(),
                );
            }
            BrokerTimer::RecoveryCheckpoint => {
                let points = self
                    .partitions
                    .iter()
                    .map(|(tp, p)| (tp.clone(), p.log.recovery_point()))
                    .collect();
                self.write_checkpoint(ctx, RECOVERY_CHECKPOINT, &points);
                ctx.set_timer(
                    self.config
                        .recovery_checkpoint_interval_ms
                        .saturating_mul(sim::MILLIS),
                    BrokerTimer::RecoveryCheckpoint.into(),
                );
            }
            BrokerTimer::ProduceTimeout(id) => {
                if let Some(mut d) = self.delayed_produces.remove(&id) {
                    for part in &mut d.parts {
                        if part.3.is_none() {
                            part.3 = Some(Some(Errors::RequestTimedOut));
                        }
                    }
                    self.respond_produce(ctx, d);
                }
            }
            BrokerTimer::FetchTimeout(id) => self.expire_parked_fetch(ctx, id),
            BrokerTimer::FetcherRetry(leader) => self.on_fetcher_retry(ctx, leader),
            BrokerTimer::FetcherTimeout(leader, correlation_id) => {
                self.on_fetcher_timeout(ctx, leader, correlation_id)
            }
            BrokerTimer::AlterPartitionRetry => self.retry_alter_partitions(ctx, now_ms),
            BrokerTimer::GroupTick => self.on_group_tick(ctx),
            BrokerTimer::Raft(_) | BrokerTimer::Lifecycle | BrokerTimer::RequestTimeout(_) => {}
        }
    }

    /// Reconciles every hosted or assigned partition with the metadata image
    /// (Kafka's ReplicaManager.applyDelta): creates logs for new replicas,
    /// makes leaders and followers, drops what this broker no longer hosts.
    pub fn on_metadata<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, image: &MetadataImage) {
        let now_ms = ctx.now() / sim::MILLIS;
        let mut seen = BTreeSet::new();
        for (name, topic) in &image.topics {
            let min_insync = topic
                .configs
                .get("min.insync.replicas")
                .and_then(|v| v.parse().ok())
                .unwrap_or(self.config.min_insync_replicas);
            for (&index, reg) in &topic.partitions {
                if !reg.replicas.contains(&self.me) {
                    continue;
                }
                let tp = TopicPartition::new(name, index);
                seen.insert(tp.clone());
                if !self.partitions.contains_key(&tp) {
                    let log = UnifiedLog::recover(
                        &tp.to_string(),
                        self.config.log,
                        &[],
                        0,
                        &mut Vec::new(),
                    );
                    self.partitions.insert(
                        tp.clone(),
                        Partition {
                            tp: tp.clone(),
                            topic_id: topic.id,
                            log,
                            producers: ProducerStateManager::default(),
                            me: self.me,
                            replicas: reg.replicas.clone(),
                            role: Role::Offline,
                            leader_epoch: -1,
                            partition_epoch: -1,
                            min_insync,
                        },
                    );
                }
                let p = self.partitions.get_mut(&tp).expect("inserted");
                p.topic_id = topic.id;
                p.replicas = reg.replicas.clone();
                p.min_insync = min_insync;
                let same_epoch = p.leader_epoch == reg.leader_epoch;
                match reg.leader {
                    Some(l) if l == self.me => {
                        if !(same_epoch && p.is_leader()) {
                            self.make_leader(
                                ctx,
                                &tp,
                                reg.leader_epoch,
                                reg.partition_epoch,
                                reg.isr.clone(),
                                now_ms,
                            );
                        } else if reg.partition_epoch > p.partition_epoch {
                            // Same leader epoch, newer ISR (an AlterPartition committed).
                            p.partition_epoch = reg.partition_epoch;
                            if let Some(leader) = p.leader_state_mut() {
                                leader.isr = reg.isr.clone();
                                leader.pending = None;
                            }
                            self.maybe_advance_hw(ctx, &tp);
                        }
                    }
                    Some(l) => {
                        let follows = matches!(p.role, Role::Follower { leader } if leader == l);
                        if !(same_epoch && follows) {
                            self.make_follower(ctx, &tp, l, reg.leader_epoch, reg.partition_epoch);
                        }
                    }
                    None => {
                        if !matches!(p.role, Role::Offline) || !same_epoch {
                            self.make_offline(ctx, &tp, reg.leader_epoch, reg.partition_epoch);
                        }
                    }
                }
            }
        }
        let gone: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !seen.contains(*tp))
            .cloned()
            .collect();
        for tp in gone {
            if !matches!(self.partitions[&tp].role, Role::Offline) {
                let (e, pe) = (
                    self.partitions[&tp].leader_epoch,
                    self.partitions[&tp].partition_epoch,
                );
                self.make_offline(ctx, &tp, e, pe);
            }
        }
    }

    fn make_leader<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<u32>,
        now_ms: u64,
    ) {
        let p = self.partitions.get_mut(tp).expect("hosted");
        let leo = p.log.log_end_offset();
        let mut out = Vec::new();
        p.log.assign_epoch_start_offset(leader_epoch, leo, &mut out);
        let followers = isr
            .iter()
            .filter(|&&r| r != self.me)
            .map(|&r| {
                let mut f = super::partition::FollowerState::default();
                f.last_caught_up_ms = now_ms;
                (r, f)
            })
            .collect();
        p.role = Role::Leader(Box::new(LeaderState {
            isr,
            pending: None,
            followers,
            epoch_start_offset: leo,
        }));
        p.leader_epoch = leader_epoch;
        p.partition_epoch = partition_epoch;
        ctx.observe(
            BrokerObs::BecameLeader {
                partition: tp.to_string(),
                leader_epoch,
                log_end_offset: leo,
            }
            .into(),
        );
        self.apply_log(ctx, tp, out);
        self.fail_parked_for(ctx, tp);
        self.coordinator_on_leader(tp);
        self.maybe_advance_hw(ctx, tp);
        self.maybe_load_offsets(ctx, tp);
    }

    fn make_follower<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        leader: u32,
        leader_epoch: i32,
        partition_epoch: i32,
    ) {
        self.step_down(
            ctx,
            tp,
            Role::Follower { leader },
            leader_epoch,
            partition_epoch,
        );
        let p = self.partitions.get_mut(tp).expect("hosted");
        if self.config.truncation == Truncation::HighWatermark {
            // Before KIP-101 a new follower cut its log to its own high
            // watermark, which may be behind what the ISR had committed.
            let hw = p.log.high_watermark();
            let mut out = Vec::new();
            let leo = p.log.log_end_offset();
            if hw < leo && p.log.truncate_to(hw, &mut out) {
                rebuild_producer_state(p);
                ctx.observe(
                    BrokerObs::Truncated {
                        partition: tp.to_string(),
                        to_offset: hw,
                        records: leo - hw,
                    }
                    .into(),
                );
            }
            self.apply_log(ctx, tp, out);
        }
        self.start_following(ctx, leader);
    }

    fn make_offline<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        leader_epoch: i32,
        partition_epoch: i32,
    ) {
        self.step_down(ctx, tp, Role::Offline, leader_epoch, partition_epoch);
    }

    /// Leaves leadership (or following) of `tp` for `role`: what waited on
    /// the old role is answered, and the new epochs are taken.
    fn step_down<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        role: Role,
        leader_epoch: i32,
        partition_epoch: i32,
    ) {
        self.fail_delayed_for(ctx, tp);
        self.fail_parked_for(ctx, tp);
        let p = self.partitions.get_mut(tp).expect("hosted");
        let was_leader = p.is_leader();
        p.role = role;
        p.leader_epoch = leader_epoch;
        p.partition_epoch = partition_epoch;
        if was_leader {
            self.coordinator_on_step_down(ctx, tp);
        }
    }

    /// Raises the leader's high watermark as far as the ISR allows, and
    /// completes what waited for it.
    pub(super) fn maybe_advance_hw<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        let Some(p) = self.partitions.get_mut(tp) else {
            return;
        };
        if let Some(hw) = p.next_high_watermark() {
            p.log.update_high_watermark(hw);
            if !tp.topic.starts_with("__") {
                ctx.observe(
                    BrokerObs::HighWatermark {
                        partition: tp.clone(),
                        high_watermark: hw,
                    }
                    .into(),
                );
            }
            self.try_complete_produces(ctx, Some(tp));
            self.complete_parked_for(ctx, tp);
            self.maybe_load_offsets(ctx, tp);
        }
    }

    /// Proposes ISR shrinks for followers that fell behind.
    fn maybe_shrink_isrs<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, now_ms: u64) {
        let lag = self.config.replica_lag_time_max_ms;
        let shrinks: Vec<(TopicPartition, Vec<u32>)> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| {
                let out = p.shrink_candidates(now_ms, lag);
                (!out.is_empty()).then(|| {
                    let isr = p
                        .leader_state()
                        .expect("leads")
                        .isr
                        .iter()
                        .copied()
                        .filter(|r| !out.contains(r))
                        .collect();
                    (tp.clone(), isr)
                })
            })
            .collect();
        for (tp, isr) in shrinks {
            self.propose_isr(ctx, &tp, isr, now_ms);
        }
    }

    /// Sends an AlterPartition for `tp` proposing `isr`.
    pub(super) fn propose_isr<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
        isr: Vec<u32>,
        now_ms: u64,
    ) {
        let Some(broker_epoch) = self.broker_epoch else {
            return;
        };
        let Some(p) = self.partitions.get_mut(tp) else {
            return;
        };
        let Role::Leader(leader) = &mut p.role else {
            return;
        };
        let epochs: Vec<(u32, u64)> = isr
            .iter()
            .map(|&r| {
                let e = if r == self.me {
                    broker_epoch
                } else {
                    leader.followers.get(&r).map_or(0, |f| f.broker_epoch)
                };
                (r, e)
            })
            .collect();
        leader.pending = Some(PendingIsr {
            proposed: isr,
            sent_ms: now_ms,
        });
        let request = ControllerRequest::AlterPartition {
            broker_id: self.me,
            broker_epoch,
            topic_id: p.topic_id,
            partition_id: tp.partition,
            leader_epoch: p.leader_epoch,
            new_isr_with_epochs: epochs,
            partition_epoch: p.partition_epoch,
        };
        let correlation_id = DATA_PATH_CORRELATION_BASE + self.next_id();
        self.alter_in_flight.insert(correlation_id, tp.clone());
        self.send_to_controller(ctx, correlation_id, request);
    }

    pub(super) fn send_to_controller<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        correlation_id: u64,
        request: ControllerRequest,
    ) {
        let to = self.controller.unwrap_or(self.voters[0]);
        ctx.send(
            controller_node(to),
            ControllerMsg::Request {
                correlation_id,
                request,
            }
            .into(),
        );
    }

    /// AlterPartitions (and a producer-id block request) whose answer never
    /// came are dropped, to be proposed again.
    fn retry_alter_partitions<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, now_ms: u64) {
        if self.producer_ids_requested
            && self
                .producer_ids_requested_at
                .is_some_and(|t| now_ms.saturating_sub(t) > 2000)
        {
            self.producer_ids_requested = false;
            if let Some((from, corr)) = self.waiting_init.pop() {
                self.init_producer_id(ctx, from, corr);
            }
        }
        for p in self.partitions.values_mut() {
            if let Some(l) = p.leader_state_mut() {
                if l.pending
                    .as_ref()
                    .is_some_and(|x| now_ms.saturating_sub(x.sent_ms) > 5000)
                {
                    l.pending = None;
                }
            }
        }
    }

    /// A controller answered a data-path request.
    pub fn on_controller_response<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        correlation_id: u64,
        response: ControllerResponse,
    ) {
        match response {
            ControllerResponse::AlterPartition {
                error,
                partition_error,
                leader_epoch,
                isr,
                partition_epoch,
                ..
            } => {
                let Some(tp) = self.alter_in_flight.remove(&correlation_id) else {
                    return;
                };
                let Some(p) = self.partitions.get_mut(&tp) else {
                    return;
                };
                let my_epoch = p.leader_epoch;
                if let Some(leader) = p.leader_state_mut() {
                    leader.pending = None;
                    if error.is_none() && partition_error.is_none() && leader_epoch == my_epoch {
                        leader.isr = isr;
                        p.partition_epoch = partition_epoch;
                    }
                }
                self.maybe_advance_hw(ctx, &tp);
                self.try_complete_produces(ctx, Some(&tp));
            }
            ControllerResponse::AllocateProducerIds {
                error,
                producer_id_start,
                producer_id_len,
            } => {
                self.producer_ids_requested = false;
                if error.is_none() {
                    self.producer_ids =
                        Some((producer_id_start, producer_id_start + producer_id_len));
                }
                for (from, corr) in std::mem::take(&mut self.waiting_init) {
                    self.init_producer_id(ctx, from, corr);
                }
            }
            _ => {}
        }
    }

    /// A request from a client or another broker.
    pub fn on_request<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        request: KafkaRequest,
        image: &MetadataImage,
    ) {
        match request {
            KafkaRequest::Produce {
                acks,
                timeout_ms,
                partitions,
            } => self.handle_produce(ctx, from, correlation_id, acks, timeout_ms, partitions),
            KafkaRequest::Fetch {
                replica,
                max_wait_ms,
                partitions,
            } => self.handle_fetch(ctx, from, correlation_id, replica, max_wait_ms, partitions),
            KafkaRequest::Metadata { topics } => {
                let topics = topics
                    .iter()
                    .filter_map(|name| {
                        let t = image.topics.get(name)?;
                        let parts = t
                            .partitions
                            .iter()
                            .map(|(&partition, p)| PartitionMetadata {
                                partition,
                                leader: p.leader,
                                leader_epoch: p.leader_epoch,
                            })
                            .collect();
                        Some((name.clone(), parts))
                    })
                    .collect();
                reply(
                    ctx,
                    from,
                    correlation_id,
                    KafkaResponse::Metadata { topics },
                );
            }
            KafkaRequest::InitProducerId => self.init_producer_id(ctx, from, correlation_id),
            KafkaRequest::FindCoordinator { key } => {
                self.handle_find_coordinator(ctx, from, correlation_id, &key, image)
            }
            KafkaRequest::Group { group_id, request } => {
                self.handle_group(ctx, from, correlation_id, &group_id, request)
            }
            KafkaRequest::ListOffsets {
                tp,
                timestamp,
                current_leader_epoch,
            } => {
                let response = self.list_offsets(tp, timestamp, current_leader_epoch);
                reply(ctx, from, correlation_id, response);
            }
            KafkaRequest::OffsetForLeaderEpoch {
                tp,
                current_leader_epoch,
                leader_epoch,
            } => {
                let response = match self.partitions.get(&tp) {
                    Some(p)
                        if p.is_leader()
                            && (current_leader_epoch < 0
                                || current_leader_epoch == p.leader_epoch) =>
                    {
                        let (epoch, end) =
                            p.log.end_offset_for_epoch(leader_epoch).unwrap_or((-1, 0));
                        KafkaResponse::OffsetForLeaderEpoch {
                            tp,
                            error: None,
                            leader_epoch: epoch,
                            end_offset: end,
                        }
                    }
                    Some(p) if p.is_leader() && current_leader_epoch < p.leader_epoch => {
                        KafkaResponse::OffsetForLeaderEpoch {
                            tp,
                            error: Some(Errors::FencedLeaderEpoch),
                            leader_epoch: -1,
                            end_offset: 0,
                        }
                    }
                    Some(p) if p.is_leader() => KafkaResponse::OffsetForLeaderEpoch {
                        tp,
                        error: Some(Errors::UnknownLeaderEpoch),
                        leader_epoch: -1,
                        end_offset: 0,
                    },
                    _ => KafkaResponse::OffsetForLeaderEpoch {
                        tp,
                        error: Some(Errors::NotLeaderOrFollower),
                        leader_epoch: -1,
                        end_offset: 0,
                    },
                };
                reply(ctx, from, correlation_id, response);
            }
        }
    }

    /// InitProducerId: the next id of this broker's block (one more
    /// AllocateProducerIds when it runs out).
    fn init_producer_id<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
    ) {
        match self.producer_ids {
            Some((next, end)) if next < end => {
                self.producer_ids = Some((next + 1, end));
                let response = KafkaResponse::InitProducerId {
                    error: None,
                    producer_id: next,
                    producer_epoch: 0,
                };
                reply(ctx, from, correlation_id, response);
            }
            _ => {
                self.waiting_init.push((from, correlation_id));
                let Some(broker_epoch) = self.broker_epoch else {
                    let response = KafkaResponse::InitProducerId {
                        error: Some(Errors::CoordinatorNotAvailable),
                        producer_id: -1,
                        producer_epoch: -1,
                    };
                    self.waiting_init.pop();
                    reply(ctx, from, correlation_id, response);
                    return;
                };
                if !self.producer_ids_requested {
                    self.producer_ids_requested = true;
                    self.producer_ids_requested_at = Some(ctx.now() / sim::MILLIS);
                    let correlation = DATA_PATH_CORRELATION_BASE + self.next_id();
                    let request = ControllerRequest::AllocateProducerIds {
                        broker_id: self.me,
                        broker_epoch,
                    };
                    self.send_to_controller(ctx, correlation, request);
                }
            }
        }
    }
}

impl ReplicaManager {
    /// ListOffsets on the leader: earliest is the log start, latest the
    /// high watermark (what a consumer may read up to).
    fn list_offsets(
        &self,
        tp: TopicPartition,
        timestamp: i64,
        current_leader_epoch: i32,
    ) -> KafkaResponse {
        let error = |e| KafkaResponse::ListOffsets {
            tp: tp.clone(),
            error: Some(e),
            offset: 0,
        };
        let Some(p) = self.partitions.get(&tp).filter(|p| p.is_leader()) else {
            return error(Errors::NotLeaderOrFollower);
        };
        if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
            return error(Errors::FencedLeaderEpoch);
        }
        if current_leader_epoch > p.leader_epoch {
            return error(Errors::UnknownLeaderEpoch);
        }
        let offset = if timestamp == crate::protocol::EARLIEST_TIMESTAMP {
            p.log.log_start_offset()
        } else {
            p.log.high_watermark()
        };
        KafkaResponse::ListOffsets {
            tp,
            error: None,
            offset,
        }
    }
}

/// Rebuilds a partition's producer state from its log (after truncation).
pub(super) fn rebuild_producer_state(p: &mut Partition) {
    p.producers.clear();
    for batch in p.log.batches() {
        p.producers.update(batch);
    }
}

/// Sends a data-path response.
pub(super) fn reply<N: BrokerHost>(
    ctx: &mut Ctx<'_, N>,
    to: NodeId,
    correlation_id: u64,
    response: KafkaResponse,
) {
    ctx.send(
        to,
        KafkaMsg::Response {
            correlation_id,
            response,
        }
        .into(),
    );
}
