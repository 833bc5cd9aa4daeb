//! `ReplicaManager`: the partitions a broker hosts (Kafka's ReplicaManager).
//! The metadata image says which replica leads and which follow
//! ([`ReplicaManager::apply_delta`]). As leader it serves Produce (acks 0,
//! 1 and all: a produce waits in the purgatory until the high watermark
//! passes it) and Fetch from consumers and followers (an empty fetch waits
//! for data), moves the high watermark to the least log end offset of the
//! maximal ISR, and proposes ISR changes (shrink after
//! `replica.lag.time.max.ms`, expand once a follower reached the high
//! watermark and the leader epoch's start, KAFKA-7128). As follower it
//! fetches from its leader through the [`ReplicaFetcherManager`]. Its logs
//! belong to the [`LogManager`], its waiting requests to the
//! [`DelayedOperationPurgatory`], its ISR proposals to the
//! [`AlterPartitionManager`].

mod cleaning;
mod fetch;
mod isr_write;
mod retention;
mod verify;

pub use verify::PendingVerification;

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use sim::MILLIS;

use super::alter_partition::AlterPartitionManager;
use super::config::{BrokerConfig, Truncation};
use super::fetch_session::FetchSessionCache;
use super::fetcher_manager::{ReplicaFetcherManager, Replicas};
use super::hosted::Hosted;
use super::log_cleaner::LogCleaner;
use super::log_manager::LogManager;
use super::partition::{FollowerState, LeaderState, Partition, PendingIsr, Role};
use super::producer_state::{SequenceCheck, UnknownProducer};
use super::purgatory::{
    DelayedOperationPurgatory, DelayedProduce, PartitionOutcome, ProducePartitionStatus,
    ProduceWaiter, ReplyTo,
};
use super::{BrokerObs, BrokerTimer};
use crate::controller::rpc::{ControllerRequest, ControllerResponse, NO_BROKER_EPOCH};
use crate::errors::Errors;
use crate::group::offsets_topic::CONSUMER_OFFSETS;
use crate::log::{ControlRecordType, EndTransactionMarker, Record, RecordBatch};
use crate::metadata::{MetadataImage, Uuid};
use crate::node::{Address, DiskView, Env};
use crate::protocol::{
    FetchedPartition, IsolationLevel, KafkaMsg, KafkaResponse, ProduceData, ProduceResult, TopicId,
    TopicIdPartition, Topics, TpMap, TxnMarkerResult, WritableTxnMarker, EARLIEST_TIMESTAMP,
};
use crate::txn::log::TRANSACTION_STATE_TOPIC;

/// What the replica manager tells the broker's coordinators about their
/// internal partitions (`__consumer_offsets`, `__transaction_state`) and
/// their own appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaEvent {
    /// This broker became leader of an internal partition.
    BecameLeader(TopicIdPartition),
    /// This broker stopped leading an internal partition.
    StoppedLeading(TopicIdPartition),
    /// An internal partition's high watermark moved.
    HighWatermarkMoved(TopicIdPartition),
    /// A transaction marker of `producer_id` was written to an offsets
    /// partition and replicated: its transactional offset commits there
    /// complete.
    TxnCompleted {
        /// The offsets partition.
        tp: TopicIdPartition,
        /// The transactional producer.
        producer_id: i64,
        /// COMMIT (true) or ABORT.
        committed: bool,
    },
    /// A coordinator's append `id` to `tp` ended (None: committed).
    InternalAppendDone {
        /// The partition appended to.
        tp: TopicIdPartition,
        /// The append's id.
        id: u64,
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
}

impl ReplicaEvent {
    /// The internal partition it is about.
    pub fn tp(&self) -> TopicIdPartition {
        match self {
            ReplicaEvent::BecameLeader(tp)
            | ReplicaEvent::StoppedLeading(tp)
            | ReplicaEvent::HighWatermarkMoved(tp)
            | ReplicaEvent::TxnCompleted { tp, .. }
            | ReplicaEvent::InternalAppendDone { tp, .. } => *tp,
        }
    }
}

/// The broker's partitions and what serves them.
#[derive(Debug)]
pub struct ReplicaManager {
    me: u32,
    config: BrokerConfig,
    topics: Arc<Topics>,
    /// `__consumer_offsets` in the run's topic table.
    offsets_topic: Option<TopicId>,
    /// `__transaction_state` in the run's topic table.
    txn_topic: Option<TopicId>,
    partitions: Hosted,
    logs: LogManager,
    cleaner: LogCleaner,
    purgatory: DelayedOperationPurgatory,
    fetch_sessions: FetchSessionCache,
    fetchers: ReplicaFetcherManager,
    alter_partition: AlterPartitionManager,
    /// When the timer for the next run of Kafka 2.7's `send-alter-isr`
    /// task that has a request to send is set, if one is.
    alter_partition_timer_ms: Option<u64>,
    broker_epoch: Option<u64>,
    events: Vec<ReplicaEvent>,
    /// Produces waiting for their transaction verification (KIP-890).
    pending_verification: std::collections::BTreeMap<u64, PendingVerification>,
    /// The last verification guard or waiting produce number handed out.
    last_verification_id: u64,
    /// The brokers that may join an ISR, with their broker epochs, as the
    /// metadata last said (Kafka's `isReplicaIsrEligible`): the unfenced
    /// ones not in controlled shutdown (KIP-841, 3.3), or before 3.3
    /// every registered one.
    isr_eligible: Vec<(u32, u64)>,
    /// Topics the metadata had and has no more (DeleteTopics): requests
    /// for them are UNKNOWN_TOPIC_OR_PARTITION.
    deleted_topics: BTreeSet<TopicId>,
    /// Topics the metadata has.
    live_topics: BTreeSet<TopicId>,
    /// A controlled shutdown began (Kafka's `isInControlledShutdown`):
    /// followers out of the ISR or without a leader stop fetching.
    in_controlled_shutdown: bool,
    /// Kafka 2.6 (`pending_isr_state` off): requests waiting for the ISR
    /// write of one of their partitions (see [`isr_write`]).
    deferred: isr_write::DeferredQueue,
}

/// Whether `broker` fetching with `epoch` may join an ISR, by `eligible`
/// (the unfenced brokers with their epochs; with `check_epoch` false, as
/// before KIP-903, any epoch). Before KIP-841 (3.3) with neither check a
/// leader proposes any follower (Kafka 3.2's `canAddReplicaToIsr` has no
/// `isReplicaIsrEligible`).
fn isr_eligible(config: &BrokerConfig, eligible: &[(u32, u64)], broker: u32, epoch: u64) -> bool {
    let check_epoch = config.broker_epoch_in_alter_partition;
    if !config.fenced_replicas_kept_out_of_isr && !check_epoch {
        return true;
    }
    eligible
        .iter()
        .any(|&(b, e)| b == broker && (!check_epoch || e == epoch))
}

/// Runs a periodic task again after `interval_ms`; an interval of 0 runs
/// it once (Kafka's `KafkaScheduler.schedule` with a period of 0).
pub(super) fn every(env: &mut Env<'_>, interval_ms: u64, timer: BrokerTimer) {
    if interval_ms > 0 {
        env.set_timer_after(interval_ms.saturating_mul(MILLIS), timer);
    }
}

/// The rules of the broker's release for the first batch of a producer a
/// partition has no state for (`ProducerStateManager::check`).
struct UnknownProducerRules {
    /// KIP-360 (2.5).
    any_sequence: bool,
    /// KAFKA-18202 (4.1), under transactions v2.
    zero_in_tv2: bool,
    /// KAFKA-15591's fix (4.5).
    zero_on_empty_log: bool,
}

/// Whether a record of `batch` has no key (a compacted topic refuses it).
fn has_keyless_record(batch: &RecordBatch) -> bool {
    let mut keyless = false;
    batch.for_each_record(|r| keyless |= r.key.is_none());
    keyless
}

/// Sends a data-path response.
pub(super) fn reply(env: &mut Env<'_>, to: ReplyTo, response: KafkaResponse) {
    env.send(
        to.to,
        KafkaMsg::Response {
            connection: to.connection,
            correlation_id: to.correlation_id,
            response,
        },
    );
}

impl ReplicaManager {
    /// Boots broker `me`'s replicas: every log on `disk` is recovered
    /// (Kafka's LogManager after an unclean shutdown), offline until the
    /// metadata says what they are, and the periodic tasks start.
    pub fn boot(
        me: u32,
        config: BrokerConfig,
        topics: &Arc<Topics>,
        local_metadata: &MetadataImage,
        env: &mut Env<'_>,
        disk: &dyn DiskView,
    ) -> Self {
        let mut logs = LogManager::new(config.log, Arc::clone(topics));
        let partitions = logs
            .load_logs(env, disk, local_metadata)
            .into_iter()
            .map(|l| {
                let mut p = Partition::new(l.tp, l.log, me, config.min_insync_replicas);
                p.topic_id = l.topic_id.unwrap_or(Uuid(0));
                (l.tp, p)
            })
            .collect();
        env.set_timer_after(
            config.replica_lag_time_max_ms / 2 * MILLIS,
            BrokerTimer::IsrCheck,
        );
        env.set_timer_after(
            config.hw_checkpoint_interval_ms * MILLIS,
            BrokerTimer::HwCheckpoint,
        );
        env.set_timer_after(
            config
                .recovery_checkpoint_interval_ms
                .saturating_mul(MILLIS),
            BrokerTimer::RecoveryCheckpoint,
        );
        let cleaner = LogCleaner::boot(
            config.log_cleaner_enable,
            config.log_cleaner_backoff_ms,
            topics,
            env,
            disk,
        );
        let manager = Self {
            me,
            config,
            topics: Arc::clone(topics),
            cleaner,
            offsets_topic: topics.id(CONSUMER_OFFSETS),
            txn_topic: topics.id(TRANSACTION_STATE_TOPIC),
            partitions,
            logs,
            purgatory: DelayedOperationPurgatory::default(),
            fetch_sessions: FetchSessionCache::keeping_leader_epoch(
                config.fetch_session_leader_epoch,
            ),
            fetchers: ReplicaFetcherManager::new(me, config),
            // Kafka 2.6 has no AlterIsrManager: its leader writes at once.
            alter_partition: if config.alter_partition_sent_at_once || !config.pending_isr_state {
                AlterPartitionManager::default()
            } else {
                AlterPartitionManager::periodic(env.now_ms())
            },
            alter_partition_timer_ms: None,
            broker_epoch: None,
            events: Vec::new(),
            pending_verification: std::collections::BTreeMap::new(),
            last_verification_id: 0,
            isr_eligible: Vec::new(),
            deleted_topics: BTreeSet::new(),
            live_topics: BTreeSet::new(),
            in_controlled_shutdown: false,
            deferred: isr_write::DeferredQueue::new(),
        };
        manager.start_log_tasks(env);
        manager
    }

    /// Whether `tp` is a coordinator's partition (the coordinator hears of it).
    fn is_internal(&self, tp: &TopicIdPartition) -> bool {
        Some(tp.topic_id) == self.offsets_topic || Some(tp.topic_id) == self.txn_topic
    }

    /// The run's topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The hosted partition `tp`, by name (for views of the broker).
    pub fn partition(&self, tp: &crate::protocol::TopicPartition) -> Option<&Partition> {
        self.partitions.get(&self.topics.by_name(tp)?)
    }

    /// The hosted partitions.
    pub fn partitions(&self) -> &TpMap<Partition> {
        &self.partitions
    }

    /// The broker registered (or re-registered) with this epoch.
    pub fn set_broker_epoch(&mut self, epoch: Option<u64>) {
        self.broker_epoch = epoch;
    }

    /// What happened to offsets partitions and internal appends since last asked.
    pub fn take_events(&mut self) -> Vec<ReplicaEvent> {
        std::mem::take(&mut self.events)
    }

    /// ISR changes to send to the controller now.
    pub fn take_alter_partitions(
        &mut self,
        now_ms: u64,
    ) -> Vec<(TopicIdPartition, ControllerRequest)> {
        match self.broker_epoch {
            Some(epoch) => self.alter_partition.take_unsent(now_ms, epoch),
            None => Vec::new(),
        }
    }

    /// Before apache/kafka#9749 (2.7): wakes the broker at the run of the
    /// `send-alter-isr` task that sends the next ISR change waiting.
    pub fn schedule_alter_partitions(&mut self, env: &mut Env<'_>) {
        if !self.alter_partition.is_periodic() {
            return;
        }
        let now_ms = env.now_ms();
        let Some(due) = self.alter_partition.next_due_ms().filter(|&d| d > now_ms) else {
            return;
        };
        if self
            .alter_partition_timer_ms
            .is_some_and(|t| t > now_ms && t <= due)
        {
            return;
        }
        self.alter_partition_timer_ms = Some(due);
        env.set_timer(due * MILLIS, BrokerTimer::AlterPartitionPropagation);
    }

    fn replicas(&mut self) -> (&mut ReplicaFetcherManager, Replicas<'_>) {
        (
            &mut self.fetchers,
            Replicas {
                partitions: &mut self.partitions,
                logs: &mut self.logs,
                cleaner: &mut self.cleaner,
                broker_epoch: self.broker_epoch,
            },
        )
    }

    /// Carries out a partition's log effects.
    fn apply_log(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        out: Vec<crate::node::Effect>,
    ) {
        if let Some(p) = self.partitions.get_mut(tp) {
            self.logs.apply(env, tp, &mut p.log, out);
        }
    }

    /// A timer of the data path fired.
    pub fn on_timer(&mut self, env: &mut Env<'_>, timer: BrokerTimer) {
        match timer {
            BrokerTimer::IsrCheck => {
                self.maybe_shrink_isrs(env);
                env.set_timer_after(
                    self.config.replica_lag_time_max_ms / 2 * MILLIS,
                    BrokerTimer::IsrCheck,
                );
            }
            BrokerTimer::HwCheckpoint => {
                self.checkpoint_high_watermarks(env);
                every(
                    env,
                    self.config.hw_checkpoint_interval_ms,
                    BrokerTimer::HwCheckpoint,
                );
            }
            BrokerTimer::RecoveryCheckpoint => {
                self.checkpoint_recovery_points(env);
                every(
                    env,
                    self.config.recovery_checkpoint_interval_ms,
                    BrokerTimer::RecoveryCheckpoint,
                );
            }
            BrokerTimer::LogRetention => self.on_retention_check(env),
            BrokerTimer::LogCleaner => self.on_cleaner_tick(env),
            BrokerTimer::LogStartOffsetCheckpoint => self.on_log_start_offset_checkpoint(env),
            BrokerTimer::DeleteFiles => self.logs.on_delete_timer(env),
            BrokerTimer::Purgatory => {
                let (produces, fetches) = self.purgatory.expire(env);
                for d in produces {
                    self.respond_produce(env, d);
                }
                for f in fetches {
                    self.answer_fetch(env, f);
                }
            }
            BrokerTimer::FetcherRetry(leader) => {
                let (fetchers, replicas) = self.replicas();
                fetchers.on_retry(env, leader, replicas);
            }
            BrokerTimer::AlterPartitionPropagation => {
                // The periodic task's run: the server sends what is due.
                self.alter_partition_timer_ms = None;
            }
            BrokerTimer::Lifecycle
            | BrokerTimer::GroupTick
            | BrokerTimer::TxnAbortCheck
            | BrokerTimer::TxnMarkers
            | BrokerTimer::AddPartitionsRetry
            | BrokerTimer::ShutdownTimeout => {}
        }
    }

    /// The request timer fired: fetches past `replica.socket.timeout.ms`.
    pub fn on_request_timeout(&mut self, env: &mut Env<'_>) {
        self.fetchers.expire(env);
    }

    /// The connection to `peer` broke: a fetch in flight to it is lost.
    pub fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        self.fetchers.on_disconnect(env, peer);
    }

    /// Whether `correlation_id` is one of this broker's follower fetches.
    pub fn is_fetch_response(&self, correlation_id: u64) -> bool {
        self.fetchers.is_own(correlation_id)
    }

    /// A leader answered one of this broker's fetches.
    pub fn on_fetch_response(
        &mut self,
        env: &mut Env<'_>,
        correlation_id: u64,
        error: Option<Errors>,
        session_id: u32,
        answers: Vec<FetchedPartition>,
    ) {
        let (fetchers, replicas) = self.replicas();
        fetchers.on_response(env, correlation_id, (error, session_id), answers, replicas);
    }

    /// An fsync completed: a finished flush moves its log's recovery point
    /// and lets what waited on it go on.
    pub fn on_fsync(&mut self, env: &mut Env<'_>, token: u64) {
        let Some((tp, upto)) = self.logs.on_fsync(env, token) else {
            return;
        };
        if let Some(p) = self.partitions.get_mut(&tp) {
            p.log.on_flushed(upto);
        }
        self.try_complete_produces(env, Some(&tp));
        let (fetchers, replicas) = self.replicas();
        fetchers.after_flush(env, &tp, replicas);
    }

    /// A controlled shutdown began (Kafka's `ReplicaManager.beginControlledShutdown`).
    pub fn begin_controlled_shutdown(&mut self) {
        self.in_controlled_shutdown = true;
    }

    /// The shutdown proper (Kafka's `ReplicaManager.shutdown` then
    /// `LogManager.shutdown`): no more fetches or timers are acted on (the
    /// broker drops every input but fsync completions), every log is
    /// flushed up to its log end offset, and the high watermarks are
    /// checkpointed.
    pub fn begin_close(&mut self, env: &mut Env<'_>) {
        self.logs.begin_close();
        let now_ms = env.now_ms();
        let tps: Vec<TopicIdPartition> = self.partitions.iter().map(|(tp, _)| *tp).collect();
        for tp in tps {
            let p = self.partitions.get_mut_unnoted(&tp).expect("listed");
            let mut out = self.logs.scratch();
            p.log.flush(now_ms, &mut out);
            self.logs.apply(env, &tp, &mut p.log, out);
        }
        self.checkpoint_high_watermarks(env);
    }

    /// Writes `replication-offset-checkpoint`: every partition's high watermark.
    fn checkpoint_high_watermarks(&mut self, env: &mut Env<'_>) {
        let hws = self
            .partitions
            .iter()
            .map(|(tp, p)| (*tp, p.log.high_watermark()))
            .collect();
        self.logs.checkpoint_high_watermarks(env, &hws);
    }

    /// Writes `recovery-point-offset-checkpoint`: every log's recovery point.
    fn checkpoint_recovery_points(&mut self, env: &mut Env<'_>) {
        let points = self
            .partitions
            .iter()
            .map(|(tp, p)| (*tp, p.log.recovery_point()))
            .collect();
        self.logs.checkpoint_recovery_points(env, &points);
    }

    /// Writes `log-start-offset-checkpoint`: the logs whose start offset is
    /// above their first segment (Kafka checkpoints only those; the others'
    /// start is their first segment's base offset).
    pub(super) fn checkpoint_log_start_offsets(&mut self, env: &mut Env<'_>) {
        let offsets = self
            .partitions
            .iter()
            .filter(|(_, p)| p.log.log_start_offset() > p.log.segments()[0].base_offset())
            .map(|(tp, p)| (*tp, p.log.log_start_offset()))
            .collect();
        self.logs.checkpoint_log_start_offsets(env, &offsets);
    }

    /// An fsync completed while closing: a finished flush moves its log's
    /// recovery point; nothing else goes on.
    pub fn on_close_fsync(&mut self, env: &mut Env<'_>, token: u64) {
        if let Some((tp, upto)) = self.logs.on_fsync(env, token) {
            if let Some(p) = self.partitions.get_mut_unnoted(&tp) {
                p.log.on_flushed(upto);
            }
        }
    }

    /// Whether a log flush is still in flight.
    pub fn logs_flushing(&self) -> bool {
        self.logs.any_flushing()
    }

    /// Every log flushed: the recovery points and log start offsets are
    /// checkpointed (Kafka's `checkpointRecoveryOffsetsInDir` and
    /// `checkpointLogStartOffsetsInDir` in `LogManager.shutdown`).
    pub fn write_close_checkpoints(&mut self, env: &mut Env<'_>) {
        self.checkpoint_recovery_points(env);
        self.checkpoint_log_start_offsets(env);
    }

    /// Whether a checkpoint written while closing is not durable yet.
    pub fn checkpoints_pending(&self) -> bool {
        self.logs.checkpoints_pending()
    }

    /// Writes the clean shutdown marker (see [`LogManager::write_clean_shutdown_file`]).
    pub fn write_clean_shutdown_file(&mut self, env: &mut Env<'_>, broker_epoch: i64) {
        self.logs.write_clean_shutdown_file(env, broker_epoch);
    }

    /// Whether the clean shutdown marker is durable.
    pub fn clean_shutdown_written(&self) -> bool {
        self.logs.clean_shutdown_written()
    }

    /// Reconciles every hosted or assigned partition with the metadata image
    /// (Kafka's ReplicaManager.applyDelta): creates logs for new replicas,
    /// makes leaders and followers, takes offline what this broker no longer
    /// serves.
    pub fn apply_delta(&mut self, env: &mut Env<'_>, image: &MetadataImage) {
        let now_ms = env.now_ms();
        let kip_841 = self.config.fenced_replicas_kept_out_of_isr;
        self.isr_eligible = image
            .brokers
            .values()
            .filter(|b| !kip_841 || (!b.fenced && !b.in_controlled_shutdown))
            .map(|b| (b.id, b.epoch))
            .collect();
        let mut seen = Vec::new();
        let live: BTreeSet<TopicId> = image
            .topics
            .keys()
            .filter_map(|name| self.topics.id(name))
            .collect();
        self.deleted_topics
            .extend(self.live_topics.difference(&live).copied());
        // A topic created again under a deleted one's name is live again.
        self.deleted_topics.retain(|t| !live.contains(t));
        self.live_topics = live;
        for (name, topic) in &image.topics {
            let Some(topic_id) = self.topics.id(name) else {
                continue;
            };
            let min_insync = topic
                .configs
                .get("min.insync.replicas")
                .and_then(|v| v.parse().ok())
                .unwrap_or(self.config.min_insync_replicas);
            let log_config = self.logs.topic_config(&topic.configs);
            for (&index, reg) in &topic.partitions {
                if !reg.replicas.contains(&self.me) {
                    continue;
                }
                let tp = TopicIdPartition::new(topic_id, index);
                seen.push(tp);
                let applied = self.partitions.get(&tp).is_some_and(|p| {
                    !self.in_controlled_shutdown
                        && p.already_applied(reg, topic.id, min_insync, log_config, self.me)
                });
                if applied {
                    continue;
                }
                if self
                    .partitions
                    .get(&tp)
                    .is_some_and(|p| p.of_another_topic(topic.id))
                {
                    // A replica of an earlier topic of this name, deleted
                    // while this broker was behind: it goes as a deleted
                    // topic's does (Kafka: stopPartitions with deletion for
                    // the delta's deleted topic ids, or a stray log at
                    // startup) before the new topic's replica is made.
                    self.delete_partition(env, &tp);
                }
                if !self.partitions.contains_key(&tp) {
                    let log = self.logs.create_log(env, &tp, log_config, topic.id);
                    let p = Partition::new(tp, log, self.me, min_insync);
                    self.partitions.insert(tp, p);
                }
                let p = self.partitions.get_mut(&tp).expect("inserted above");
                if p.log.config() != log_config {
                    // A log recovered at boot, before the metadata said its topic's configs.
                    p.log.set_config(log_config);
                }
                p.topic_id = topic.id;
                p.replicas.clone_from(&reg.replicas);
                p.min_insync = min_insync;
                // The release's high watermark rules, set with the topic's configs
                // before the replica takes a role.
                p.hw_held_below_min_isr = self.config.hw_held_below_min_isr;
                p.hw_wait_checks_isr_eligibility = self.config.hw_wait_checks_isr_eligibility;
                p.isr_join_requires_epoch_start_offset =
                    self.config.isr_join_requires_epoch_start_offset;
                let same_epoch = p.leader_epoch == reg.leader_epoch;
                let updated =
                    std::mem::replace(&mut p.metadata_partition_epoch, reg.partition_epoch)
                        != reg.partition_epoch;
                match reg.leader {
                    Some(l) if l == self.me => {
                        if !(same_epoch && p.is_leader()) {
                            let isr = reg.isr.clone();
                            let epochs = (reg.leader_epoch, reg.partition_epoch);
                            self.make_leader(env, &tp, epochs, isr, now_ms);
                        } else {
                            let newer = reg.partition_epoch > p.partition_epoch;
                            if newer {
                                // Same leader epoch, newer ISR (an AlterPartition committed).
                                p.partition_epoch = reg.partition_epoch;
                                if let Some(leader) = p.leader_state_mut() {
                                    leader.isr = reg.isr.clone();
                                    leader.pending = None;
                                }
                            }
                            let restart =
                                updated && !self.config.leader_state_kept_on_partition_update;
                            if restart {
                                // Before 3.3 (KAFKA-13790): makeLeader again.
                                p.restart_leader_epoch_state(now_ms);
                                self.clear_alter_partition_on_role_change(&tp);
                            }
                            if newer || restart {
                                self.maybe_advance_hw(env, &tp);
                            }
                        }
                    }
                    Some(_) if self.in_controlled_shutdown && !reg.isr.contains(&self.me) => {
                        // Kafka's applyLocalFollowersDelta during controlled
                        // shutdown: a replica out of the ISR stops fetching.
                        if !matches!(p.role, Role::Offline) || !same_epoch {
                            let epochs = (reg.leader_epoch, reg.partition_epoch);
                            self.step_down(env, &tp, Role::Offline, epochs);
                        }
                    }
                    Some(l) => {
                        let follows = matches!(p.role, Role::Follower { leader } if leader == l);
                        if !(same_epoch && follows) {
                            let epochs = (reg.leader_epoch, reg.partition_epoch);
                            self.make_follower(env, &tp, l, epochs);
                        }
                    }
                    None => {
                        if !matches!(p.role, Role::Offline) || !same_epoch {
                            let epochs = (reg.leader_epoch, reg.partition_epoch);
                            // Kafka's makeFollower, with no leader to follow.
                            self.clear_alter_partition_on_role_change(&tp);
                            self.step_down(env, &tp, Role::Offline, epochs);
                        }
                    }
                }
            }
        }
        seen.sort_unstable();
        // What the image has no more: a deleted topic's replicas are
        // deleted (Kafka's `stopPartitions` with deletion, first in
        // `applyDelta`), and so is a replica of an earlier topic of the
        // same name that the topic now there does not place here (Kafka
        // finds it stray by its topic id); any other goes offline.
        let gone: Vec<(TopicIdPartition, bool)> = self
            .partitions
            .iter()
            .filter(|(tp, _)| seen.binary_search(tp).is_err())
            .map(|(tp, p)| {
                let deleted = image
                    .topics
                    .get(self.topics.name(tp.topic_id))
                    .is_none_or(|t| p.of_another_topic(t.id));
                (*tp, deleted, p)
            })
            .filter(|(_, deleted, p)| *deleted || !matches!(p.role, Role::Offline))
            .map(|(tp, deleted, _)| (tp, deleted))
            .collect();
        for (tp, deleted) in gone {
            if deleted {
                self.delete_partition(env, &tp);
            } else {
                self.take_offline(env, &tp);
            }
        }
        // Kafka 2.6: a role change or a newer ISR ended an ISR write.
        self.resume_deferred(env);
    }

    /// Why a request for `tp` finds no leader here (Kafka's
    /// `getPartitionOrError`): the topic is gone, or this broker does not
    /// lead it.
    pub(super) fn not_leader_error(&self, tp: &TopicIdPartition) -> Errors {
        if self.deleted_topics.contains(&tp.topic_id) {
            Errors::UnknownTopicOrPartition
        } else {
            Errors::NotLeaderOrFollower
        }
    }

    /// Takes this broker's replica of `tp` offline in its current epochs.
    fn take_offline(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        let p = &self.partitions[tp];
        let epochs = (p.leader_epoch, p.partition_epoch);
        self.step_down(env, tp, Role::Offline, epochs);
    }

    /// Deletes this broker's replica of `tp`, whose topic was deleted: it
    /// goes offline (what waited on it is answered), leaves the broker,
    /// and its log is deleted.
    fn delete_partition(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        self.take_offline(env, tp);
        let Some(p) = self.partitions.remove(tp) else {
            return;
        };
        self.cleaner.removed(tp);
        self.fetchers.roles_changed();
        self.logs.delete_log(env, &p.log, p.topic_id);
        env.observe(BrokerObs::PartitionDeleted {
            partition: *tp,
            log_end_offset: p.log.log_end_offset(),
        });
    }

    fn make_leader(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        (leader_epoch, partition_epoch): (i32, i32),
        isr: Vec<u32>,
        now_ms: u64,
    ) {
        self.clear_alter_partition_on_role_change(tp);
        let p = self.partitions.get_mut(tp).expect("hosted");
        let leo = p.log.log_end_offset();
        let mut out = Vec::new();
        p.log.assign_epoch_start_offset(leader_epoch, leo, &mut out);
        // Kafka's `makeLeader` resets each follower's state; a new leader
        // knows none of their log end offsets, a leader taking a new epoch
        // keeps them (`resetReplicaState`'s `isNewLeader`) and, in 2.5.1,
        // `lastSentHighWatermark` (0 from 2.6, which keeps none).
        let me = self.me;
        let followers = match p.leader_state() {
            None => isr
                .iter()
                .filter(|&&r| r != me)
                .map(|&r| (r, FollowerState::caught_up_at(now_ms)))
                .collect(),
            Some(old) => {
                let kept = |r: u32| old.followers.get(&r).cloned().unwrap_or_default();
                let in_isr = isr
                    .iter()
                    .filter(|&&r| r != me)
                    .map(|&r| (r, kept(r).re_elected(true, now_ms, leo)));
                let out_of_isr = old
                    .followers
                    .iter()
                    .filter(|(r, _)| !isr.contains(r))
                    .map(|(r, f)| (r, f.re_elected(false, now_ms, leo)));
                in_isr.chain(out_of_isr).collect()
            }
        };
        p.role = Role::Leader(Box::new(LeaderState {
            isr,
            pending: None,
            followers,
            epoch_start_offset: leo,
        }));
        p.leader_epoch = leader_epoch;
        p.partition_epoch = partition_epoch;
        self.fetchers.roles_changed();
        env.observe(BrokerObs::BecameLeader {
            partition: *tp,
            leader_epoch,
            log_end_offset: leo,
        });
        self.apply_log(env, tp, out);
        self.answer_fetches_on(env, tp);
        if self.is_internal(tp) {
            self.events.push(ReplicaEvent::BecameLeader(*tp));
        }
        self.maybe_advance_hw(env, tp);
    }

    fn make_follower(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        leader: u32,
        epochs: (i32, i32),
    ) {
        self.clear_alter_partition_on_role_change(tp);
        self.step_down(env, tp, Role::Follower { leader }, epochs);
        let asks = match self.config.truncation {
            // Kafka 0.11 to 1.1: the fetcher asks for its latest epoch's
            // end offset once, then fetches.
            Truncation::EpochEndOffset => true,
            // Kafka 2.0 to 2.7 (before KAFKA-10554): it asks
            // (OffsetsForLeaderEpoch) until its truncation is complete.
            Truncation::LeaderEpoch => !self.config.truncation_on_fetch,
            Truncation::HighWatermark => false,
        };
        if asks {
            let p = self.partitions.get_mut(tp).expect("hosted");
            p.epoch_truncation_pending = true;
        }
        if self.config.truncation == Truncation::HighWatermark {
            // Before KIP-101 a new follower cut its log to its own high
            // watermark, which may be behind what the ISR had committed.
            let p = self.partitions.get_mut(tp).expect("hosted");
            let hw = p.log.high_watermark();
            let mut out = Vec::new();
            self.cleaner.truncated(tp, hw);
            if let Some(records) = p.truncate_to(hw, &mut out) {
                env.observe(BrokerObs::Truncated {
                    partition: *tp,
                    to_offset: hw,
                    records,
                });
            }
            self.apply_log(env, tp, out);
        }
        let (fetchers, replicas) = self.replicas();
        fetchers.start_following(env, leader, replicas);
    }

    /// Kafka 2.8's `makeLeader` and `makeFollower` drop the partition's
    /// AlterIsr, sent or not (`clearPending`, removed by KAFKA-12686 in
    /// 3.0), and take the ISR as committed (`CommittedIsr`): no change is
    /// pending. From 3.0 the request stays queued.
    /// Kafka 2.6 has no AlterIsrManager: its `makeLeader` and
    /// `makeFollower` wait for the ISR write in flight (the write lock), so
    /// the request is kept.
    fn clear_alter_partition_on_role_change(&mut self, tp: &TopicIdPartition) {
        if !self.config.alter_partition_kept_on_role_change && self.config.pending_isr_state {
            self.alter_partition.clear(tp);
            if let Some(leader) = self
                .partitions
                .get_mut(tp)
                .and_then(|p| p.leader_state_mut())
            {
                leader.pending = None;
            }
        }
    }

    /// Leaves leadership (or following) of `tp` for `role`: what waited on
    /// the old role is answered, and the new epochs are taken.
    fn step_down(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        role: Role,
        (leader_epoch, partition_epoch): (i32, i32),
    ) {
        let error = self.not_leader_error(tp);
        self.purgatory.fail_pending(tp, error);
        self.try_complete_produces(env, Some(tp));
        self.answer_fetches_on(env, tp);
        let p = self.partitions.get_mut(tp).expect("hosted");
        let was_leader = p.is_leader();
        p.role = role;
        p.leader_epoch = leader_epoch;
        p.partition_epoch = partition_epoch;
        self.fetchers.roles_changed();
        if was_leader && self.is_internal(tp) {
            self.events.push(ReplicaEvent::StoppedLeading(*tp));
        }
    }

    /// Raises the leader's high watermark as far as the ISR allows, and
    /// completes what waited for it.
    fn maybe_advance_hw(&mut self, env: &mut Env<'_>, tp: &TopicIdPartition) {
        if self.isr_write_in_flight(tp) {
            // Kafka 2.6: `maybeIncrementLeaderHW` waits for the write lock.
            return;
        }
        let Some(p) = self.partitions.get_mut(tp) else {
            return;
        };
        let (config, eligible) = (&self.config, &self.isr_eligible);
        let eligible = |b: u32, e: u64| isr_eligible(config, eligible, b, e);
        let lag_ms = self.config.replica_lag_time_max_ms;
        let Some(hw) = p.next_high_watermark(env.now_ms(), lag_ms, &eligible) else {
            return;
        };
        let before = p.log.high_watermark();
        p.update_high_watermark(hw);
        if p.log.config().contracts {
            p.assert_high_watermark_contract(before);
        }
        if self.is_internal(tp) {
            self.events.push(ReplicaEvent::HighWatermarkMoved(*tp));
        } else {
            env.observe(BrokerObs::HighWatermark {
                partition: *tp,
                high_watermark: hw,
            });
        }
        self.try_complete_produces(env, Some(tp));
        self.complete_fetches_on(env, tp);
    }

    /// Proposes ISR shrinks for followers that fell behind.
    fn maybe_shrink_isrs(&mut self, env: &mut Env<'_>) {
        let now_ms = env.now_ms();
        let lag = self.config.replica_lag_time_max_ms;
        let shrinks: Vec<(TopicIdPartition, Vec<u32>)> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| {
                let out = p.shrink_candidates(now_ms, lag);
                let leader = p.leader_state()?;
                (!out.is_empty()).then(|| {
                    let isr = leader
                        .isr
                        .iter()
                        .copied()
                        .filter(|r| !out.contains(r))
                        .collect();
                    (*tp, isr)
                })
            })
            .collect();
        for (tp, isr) in shrinks {
            self.propose_isr(&tp, isr, now_ms);
        }
    }

    /// Proposes `isr` for `tp` to the controller (AlterPartition with each
    /// member's broker epoch, KIP-903).
    fn propose_isr(&mut self, tp: &TopicIdPartition, isr: Vec<u32>, now_ms: u64) {
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
                let e = if !self.config.broker_epoch_in_alter_partition {
                    // AlterPartition v2 (before KIP-903): no member epochs.
                    NO_BROKER_EPOCH
                } else if r == self.me {
                    broker_epoch
                } else {
                    leader.followers.get(&r).map_or(0, |f| f.broker_epoch)
                };
                (r, e)
            })
            .collect();
        let request = ControllerRequest::AlterPartition {
            broker_id: self.me,
            broker_epoch,
            topic_id: p.topic_id,
            partition_id: tp.partition,
            leader_epoch: p.leader_epoch,
            new_isr_with_epochs: epochs,
            partition_epoch: p.partition_epoch,
        };
        // An earlier proposal still unanswered: this one is not made.
        if self.alter_partition.submit(*tp, request, now_ms) {
            leader.pending = Some(PendingIsr {
                proposed: isr,
                sent_ms: now_ms,
            });
        }
    }

    /// The controller answered an AlterPartition for `tp`.
    pub fn on_alter_partition_response(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        response: ControllerResponse,
    ) {
        if let ControllerResponse::AlterPartition { error: Some(_), .. } = response {
            // A top-level error (STALE_BROKER_EPOCH, NOT_CONTROLLER): the
            // same request goes again, and the change stays in flight.
            let at = env.now_ms() + super::alter_partition::RETRY_BACKOFF_MS;
            self.alter_partition.retry(tp, at);
            return;
        }
        if self.alter_partition.answered(tp) {
            // Kafka 2.8 (before KAFKA-12686): the answer to a request
            // `makeLeader` or `makeFollower` dropped; the partition's state
            // is not the one it proposed, so it ignores the answer.
            return;
        }
        let ControllerResponse::AlterPartition {
            error,
            partition_error,
            leader_epoch,
            isr,
            partition_epoch,
            ..
        } = response
        else {
            return;
        };
        let Some(p) = self.partitions.get_mut(tp) else {
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
        if !self.config.pending_isr_state {
            // Kafka 2.6: the write returned; the ISR is the new one (or,
            // refused, the old one) at once, the high watermark is looked
            // at (`maybeShrinkIsr`'s `maybeIncrementLeaderHW`), and what
            // waited on the partition goes on.
            self.maybe_advance_hw(env, tp);
            self.try_complete_produces(env, Some(tp));
            self.resume_deferred(env);
            return;
        }
        if !self.config.hw_incremented_after_alter_partition {
            // Kafka 3.0 (before KAFKA-13091): nothing more at the answer;
            // the high watermark moves at the next metadata update, fetch
            // or append.
            return;
        }
        self.maybe_advance_hw(env, tp);
        self.try_complete_produces(env, Some(tp));
    }

    /// An AlterPartition for `tp` got no answer (timed out, or its
    /// connection broke): the same request goes again after the retry
    /// backoff, and the change stays in flight (Kafka's controller channel
    /// keeps it until a response comes, reconnecting after a backoff).
    pub fn on_alter_partition_lost(&mut self, tp: &TopicIdPartition, now_ms: u64) {
        let at = now_ms + super::alter_partition::RETRY_BACKOFF_MS;
        self.alter_partition.retry(tp, at);
    }

    /// Produce (Kafka's appendRecords): acks=0 and acks=1 answer after the
    /// local append; acks=all checks the ISR against min.insync.replicas
    /// (NOT_ENOUGH_REPLICAS), appends, and answers once the high watermark
    /// passes the batch (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank
    /// below the minimum meanwhile, REQUEST_TIMED_OUT after the request's
    /// timeout, NOT_LEADER_OR_FOLLOWER if leadership moved). A batch that a
    /// log flush covers (`log.flush.interval.*`) is answered only once the
    /// flush is on disk, as Kafka flushes inside the append.
    pub fn handle_produce(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
    ) {
        let no_guards = std::collections::BTreeMap::new();
        self.append_produce(
            env,
            reply_to,
            acks,
            timeout_ms,
            partitions,
            Vec::new(),
            &no_guards,
        );
    }

    /// Kafka's `appendRecords` of a client's produce: `parts` holds the
    /// partitions already failed (their verification), `guards` the
    /// verification guard of each partition whose producer's transaction
    /// was verified. With `transaction.partition.verification.enable`, a
    /// transactional batch whose producer has no open transaction in the
    /// partition is appended only with the guard its verification left
    /// there (Kafka's `analyzeAndValidateProducerState`), else refused
    /// INVALID_TXN_STATE ("Record was not part of an ongoing transaction").
    #[allow(clippy::too_many_arguments)]
    fn append_produce(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
        parts: Vec<ProducePartitionStatus>,
        guards: &std::collections::BTreeMap<TopicIdPartition, u64>,
    ) {
        let (partitions, mut parts) = if self.config.pending_isr_state {
            (partitions, parts)
        } else {
            // Kafka 2.6: `appendRecordsToLeader` waits for an ISR write in
            // flight.
            let tps: Vec<TopicIdPartition> = partitions.iter().map(|d| d.tp).collect();
            let request = isr_write::Deferred::Produce {
                reply_to,
                acks,
                timeout_ms,
                partitions,
                parts,
                guards: guards.clone(),
            };
            match self.defer_if_isr_write(&tps, request) {
                Some(isr_write::Deferred::Produce {
                    partitions, parts, ..
                }) => (partitions, parts),
                _ => return,
            }
        };
        let now_ms = env.now_ms();
        let failed = |tp: TopicIdPartition, producer_id: i64, e: Errors| ProducePartitionStatus {
            tp,
            producer_id,
            required_offset: 0,
            base_offset: -1,
            outcome: PartitionOutcome::Done(Some(e)),
        };
        let verification = self.config.transaction_partition_verification_enable;
        let unknown_rules = UnknownProducerRules {
            any_sequence: self.config.unknown_producer_any_sequence,
            zero_in_tv2: self.config.unknown_producer_sequence_zero_in_tv2
                && self.config.transaction_version.0 >= 2,
            zero_on_empty_log: self.config.unknown_producer_sequence_zero_on_empty_log,
        };
        parts.reserve(partitions.len());
        for data in partitions {
            let tp = data.tp;
            let batch = &data.batch;
            let pid = batch.producer_id;
            let not_leader = self.not_leader_error(&tp);
            let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
                parts.push(failed(tp, pid, not_leader));
                continue;
            };
            if acks == -1 && p.is_under_min_isr() {
                parts.push(failed(tp, pid, Errors::NotEnoughReplicas));
                continue;
            }
            if batch.is_control() {
                // Kafka's LogValidator: "Clients are not allowed to write
                // control records".
                parts.push(failed(tp, pid, Errors::InvalidRecord));
                continue;
            }
            if p.log.config().compact && has_keyless_record(batch) {
                // Kafka's LogValidator.validateKey: "Compacted topic cannot
                // accept message without key".
                parts.push(failed(tp, pid, Errors::InvalidRecord));
                continue;
            }
            // Kafka's `UnifiedLog.analyzeAndValidateProducerState`: a
            // duplicate is answered first; then a transactional batch that
            // opens a transaction here must be verified; then its
            // sequence is checked.
            let verifying = verification
                && batch.is_transactional()
                && !p
                    .producers
                    .has_ongoing_transaction(pid, batch.producer_epoch);
            let unverified = verifying
                .then(|| {
                    p.producers
                        .check_verified(pid, batch.base_sequence, guards.get(&tp).copied())
                        .err()
                })
                .flatten();
            let unknown = if !unknown_rules.any_sequence {
                UnknownProducer::UnknownUnlessAtZero
            } else if (unknown_rules.zero_on_empty_log && p.log.log_end_offset() == 0)
                || (unknown_rules.zero_in_tv2 && verifying && unverified.is_none())
            {
                UnknownProducer::OutOfOrderUnlessAtZero
            } else {
                UnknownProducer::AnySequence
            };
            let check = p.producers.check(
                batch.producer_id,
                batch.producer_epoch,
                batch.base_sequence,
                batch.last_sequence(),
                unknown,
            );
            let unverified = unverified.filter(|_| !matches!(check, SequenceCheck::Duplicate(_)));
            if let Some(e) = unverified {
                parts.push(failed(tp, pid, e));
                continue;
            }
            match check {
                SequenceCheck::Reject(e) => parts.push(failed(tp, pid, e)),
                SequenceCheck::Duplicate(offset) => parts.push(ProducePartitionStatus {
                    tp,
                    producer_id: pid,
                    required_offset: offset + batch.record_count(),
                    base_offset: offset as i64,
                    outcome: PartitionOutcome::Pending,
                }),
                SequenceCheck::Append => {
                    let mut out = self.logs.scratch();
                    let epoch = p.leader_epoch;
                    let batch = p.log.append_as_leader(batch, epoch, now_ms, &mut out);
                    p.producers.update(&batch);
                    parts.push(ProducePartitionStatus {
                        tp,
                        producer_id: pid,
                        required_offset: batch.next_offset(),
                        base_offset: batch.base_offset as i64,
                        outcome: PartitionOutcome::Pending,
                    });
                    self.apply_log(env, &tp, out);
                    self.complete_fetches_on(env, &tp);
                    self.maybe_advance_hw(env, &tp);
                }
            }
        }
        if acks == 0 {
            return;
        }
        let delayed = DelayedProduce {
            waiter: ProduceWaiter::Client(reply_to),
            acks,
            parts,
            deadline: env.now() + timeout_ms * MILLIS,
        };
        let id = self.purgatory.add_produce(env, delayed);
        self.try_complete(env, id);
    }

    /// WriteTxnMarkers (Kafka's `handleWriteTxnMarkersRequest`): appends
    /// each transaction's COMMIT or ABORT marker to every partition it
    /// names that this broker leads, with acks=all, and answers once every
    /// marker is replicated or failed. A marker is refused with
    /// INVALID_PRODUCER_EPOCH when the producer has a newer epoch in the
    /// partition, and with TRANSACTION_COORDINATOR_FENCED when a newer
    /// coordinator already wrote a marker for it there.
    pub fn handle_write_txn_markers(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        markers: Vec<WritableTxnMarker>,
    ) {
        let markers = if self.config.pending_isr_state {
            markers
        } else {
            // Kafka 2.6: the markers' appends wait for an ISR write in flight.
            let tps: Vec<TopicIdPartition> = markers
                .iter()
                .flat_map(|m| m.partitions.iter().copied())
                .collect();
            let request = isr_write::Deferred::TxnMarkers { reply_to, markers };
            match self.defer_if_isr_write(&tps, request) {
                Some(isr_write::Deferred::TxnMarkers { markers, .. }) => markers,
                _ => return,
            }
        };
        let now_ms = env.now_ms();
        let mut parts = Vec::new();
        for m in &markers {
            for &tp in &m.partitions {
                let mut status = ProducePartitionStatus {
                    tp,
                    producer_id: m.producer_id,
                    required_offset: 0,
                    base_offset: -1,
                    outcome: PartitionOutcome::Pending,
                };
                let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
                    status.outcome = PartitionOutcome::Done(Some(Errors::NotLeaderOrFollower));
                    parts.push(status);
                    continue;
                };
                let refused = if p.is_under_min_isr() {
                    Err(Errors::NotEnoughReplicas)
                } else {
                    p.producers
                        .check_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch)
                };
                if let Err(e) = refused {
                    status.outcome = PartitionOutcome::Done(Some(e));
                    parts.push(status);
                    continue;
                }
                let marker = EndTransactionMarker {
                    control_type: m.result,
                    coordinator_epoch: m.coordinator_epoch,
                };
                let written =
                    RecordBatch::end_txn_marker(m.producer_id, m.producer_epoch, marker, now_ms);
                let mut out = self.logs.scratch();
                let epoch = p.leader_epoch;
                let batch = p.log.append_as_leader(&written, epoch, now_ms, &mut out);
                p.producers.update(&batch);
                status.required_offset = batch.next_offset();
                status.base_offset = batch.base_offset as i64;
                parts.push(status);
                self.apply_log(env, &tp, out);
                self.complete_fetches_on(env, &tp);
                self.maybe_advance_hw(env, &tp);
            }
        }
        let delayed = DelayedProduce {
            waiter: ProduceWaiter::TxnMarkers(
                reply_to,
                markers.iter().map(|m| (m.producer_id, m.result)).collect(),
            ),
            acks: -1,
            parts,
            deadline: env.now() + WRITE_TXN_MARKERS_TIMEOUT_MS * MILLIS,
        };
        let id = self.purgatory.add_produce(env, delayed);
        self.try_complete(env, id);
    }

    /// Appends the group coordinator's records to `tp` (an offsets
    /// partition) as its leader with acks=all; the outcome comes back as
    /// [`ReplicaEvent::InternalAppendDone`]. Returns the error when the
    /// append cannot start.
    pub fn append_internal(
        &mut self,
        env: &mut Env<'_>,
        id: u64,
        tp: &TopicIdPartition,
        records: Vec<Record>,
        timeout_ms: u64,
    ) -> Option<Errors> {
        self.append_internal_batch(env, id, tp, records, None, timeout_ms)
    }

    /// [`ReplicaManager::append_internal`] of a batch that is part of the
    /// transaction of `producer` (id, epoch) when one is given: the group
    /// coordinator's TxnOffsetCommit records, which the partition's
    /// producer state then holds open until the transaction's marker.
    pub fn append_internal_batch(
        &mut self,
        env: &mut Env<'_>,
        id: u64,
        tp: &TopicIdPartition,
        records: Vec<Record>,
        producer: Option<(i64, i16)>,
        timeout_ms: u64,
    ) -> Option<Errors> {
        let now_ms = env.now_ms();
        let p = match self.partitions.get_mut(tp).filter(|p| p.is_leader()) {
            Some(p) => p,
            None => return Some(Errors::NotLeaderOrFollower),
        };
        if p.is_under_min_isr() {
            return Some(Errors::NotEnoughReplicas);
        }
        let mut out = Vec::new();
        let epoch = p.leader_epoch;
        let written = match producer {
            Some((producer_id, producer_epoch)) => {
                if let Err(e) = p.producers.check_epoch(producer_id, producer_epoch) {
                    return Some(e);
                }
                RecordBatch::transactional_of(producer_id, producer_epoch, &records)
            }
            None => RecordBatch::of(0, epoch, (-1, -1, -1), &records),
        };
        let batch = p.log.append_as_leader(&written, epoch, now_ms, &mut out);
        if producer.is_some() {
            p.producers.update(&batch);
        }
        self.apply_log(env, tp, out);
        let delayed = DelayedProduce {
            waiter: ProduceWaiter::Internal(id),
            acks: -1,
            parts: vec![ProducePartitionStatus {
                tp: *tp,
                producer_id: -1,
                required_offset: batch.next_offset(),
                base_offset: batch.base_offset as i64,
                outcome: PartitionOutcome::Pending,
            }],
            deadline: env.now() + timeout_ms * MILLIS,
        };
        self.purgatory.add_produce(env, delayed);
        self.complete_fetches_on(env, tp);
        self.maybe_advance_hw(env, tp);
        self.try_complete_produces(env, Some(tp));
        None
    }

    /// Completes the waiting produces whose partitions are all answered
    /// (those watching `tp`, or all).
    fn try_complete_produces(&mut self, env: &mut Env<'_>, tp: Option<&TopicIdPartition>) {
        let (mut after, upto) = (0, self.purgatory.last_id());
        while let Some(id) = self.purgatory.next_produce_watching(tp, after, upto) {
            self.try_complete(env, id);
            after = id;
        }
    }

    /// Checks a waiting produce's pending partitions and answers it once all are done.
    fn try_complete(&mut self, env: &mut Env<'_>, id: u64) {
        let Some(d) = self.purgatory.produce_mut(id) else {
            return;
        };
        let acks = d.acks;
        for part in &mut d.parts {
            if part.outcome != PartitionOutcome::Pending {
                continue;
            }
            let Some(p) = self.partitions.get(&part.tp).filter(|p| p.is_leader()) else {
                let error = if self.deleted_topics.contains(&part.tp.topic_id) {
                    Errors::UnknownTopicOrPartition
                } else {
                    Errors::NotLeaderOrFollower
                };
                part.outcome = PartitionOutcome::Done(Some(error));
                continue;
            };
            let required = part.required_offset;
            // A flush this append started must be on disk first.
            let flushed =
                p.log.recovery_point() >= required || !self.logs.flush_pending(&part.tp, required);
            if !flushed {
                continue;
            }
            if acks == 1 {
                part.outcome = PartitionOutcome::Done(None);
            } else if p.log.high_watermark() >= required {
                // Kafka 2.6 has no maximal ISR: its ISR (`inSyncReplicaIds`).
                let maximal = match p.leader_state() {
                    Some(l) if self.config.pending_isr_state => l.maximal_isr().count(),
                    Some(l) => l.isr.len(),
                    None => 0,
                };
                part.outcome = PartitionOutcome::Done(if maximal < p.effective_min_isr() {
                    Some(Errors::NotEnoughReplicasAfterAppend)
                } else {
                    None
                });
            }
        }
        if d.is_done() {
            if let Some(d) = self.purgatory.take_produce(id) {
                self.respond_produce(env, d);
            }
        }
    }

    fn respond_produce(&mut self, env: &mut Env<'_>, d: DelayedProduce) {
        let error_of = |o: PartitionOutcome| match o {
            PartitionOutcome::Done(e) => e,
            PartitionOutcome::Pending => Some(Errors::RequestTimedOut),
        };
        match d.waiter {
            ProduceWaiter::Internal(id) => {
                let error = d.parts.iter().find_map(|p| error_of(p.outcome));
                let tp = d.parts[0].tp;
                self.events
                    .push(ReplicaEvent::InternalAppendDone { tp, id, error });
            }
            ProduceWaiter::TxnMarkers(to, results) => {
                // The group coordinator completes the transactional offset
                // commits of a producer once its marker in their offsets
                // partition is written (Kafka's onTransactionCompleted).
                for p in &d.parts {
                    let result = results.iter().find(|(pid, _)| *pid == p.producer_id);
                    if let (None, Some(&(producer_id, result))) = (error_of(p.outcome), result) {
                        if Some(p.tp.topic_id) == self.offsets_topic {
                            self.events.push(ReplicaEvent::TxnCompleted {
                                tp: p.tp,
                                producer_id,
                                committed: result == ControlRecordType::Commit,
                            });
                        }
                    }
                }
                let results = d
                    .parts
                    .into_iter()
                    .map(|p| TxnMarkerResult {
                        producer_id: p.producer_id,
                        tp: p.tp,
                        error: error_of(p.outcome),
                    })
                    .collect();
                reply(env, to, KafkaResponse::WriteTxnMarkers { results });
            }
            ProduceWaiter::Client(to) => {
                let hosted = &self.partitions;
                let partitions = d
                    .parts
                    .into_iter()
                    .map(|p| {
                        let error = error_of(p.outcome);
                        // Still the log appended to: a replaced one failed
                        // what waited on it when it stepped down.
                        let topic_id = match (error, hosted.get(&p.tp)) {
                            (None, Some(hosted)) => hosted.topic_id,
                            _ => Uuid(0),
                        };
                        ProduceResult {
                            tp: p.tp,
                            error,
                            base_offset: if error.is_some() { -1 } else { p.base_offset },
                            topic_id,
                        }
                    })
                    .collect();
                reply(env, to, KafkaResponse::Produce { partitions });
            }
        }
    }

    /// ListOffsets on the leader: earliest is the log start, latest the
    /// high watermark (what a consumer may read up to).
    pub fn list_offsets(
        &self,
        tp: TopicIdPartition,
        timestamp: i64,
        current_leader_epoch: i32,
        isolation_level: IsolationLevel,
    ) -> KafkaResponse {
        let error = |e| KafkaResponse::ListOffsets {
            tp,
            error: Some(e),
            offset: 0,
        };
        let Some(p) = self.partitions.get(&tp).filter(|p| p.is_leader()) else {
            return error(self.not_leader_error(&tp));
        };
        if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
            return error(Errors::FencedLeaderEpoch);
        }
        if current_leader_epoch > p.leader_epoch {
            return error(Errors::UnknownLeaderEpoch);
        }
        // Kafka's Partition.fetchOffsetForTimestamp: the earliest offset is
        // the log start; the latest is the last fetchable offset (the last
        // stable offset for read_committed, KIP-98), but not while the high
        // watermark lags the start of the leader's epoch, where a new
        // leader's high watermark may still be behind what the last leader
        // exposed: OFFSET_NOT_AVAILABLE, retriable (KIP-207, 2.2).
        let offset = if timestamp == EARLIEST_TIMESTAMP {
            p.log.log_start_offset()
        } else {
            let hw = p.log.high_watermark();
            if p.leader_state().is_some_and(|l| l.epoch_start_offset > hw) {
                return error(Errors::OffsetNotAvailable);
            }
            match isolation_level {
                IsolationLevel::ReadCommitted => p.last_stable_offset(),
                IsolationLevel::ReadUncommitted => hw,
            }
        };
        KafkaResponse::ListOffsets {
            tp,
            error: None,
            offset,
        }
    }

    /// OffsetForLeaderEpoch on the leader (a consumer validating its
    /// position after a leader change, KIP-320).
    pub fn offset_for_leader_epoch(
        &self,
        tp: TopicIdPartition,
        current_leader_epoch: i32,
        leader_epoch: i32,
    ) -> KafkaResponse {
        let answer = |error, leader_epoch, end_offset| KafkaResponse::OffsetForLeaderEpoch {
            tp,
            error,
            leader_epoch,
            end_offset,
        };
        match self.partitions.get(&tp) {
            Some(p)
                if p.is_leader()
                    && (current_leader_epoch < 0 || current_leader_epoch == p.leader_epoch) =>
            {
                let (epoch, end) = p.log.end_offset_for_epoch(leader_epoch).unwrap_or((-1, 0));
                answer(None, epoch, end)
            }
            Some(p) if p.is_leader() && current_leader_epoch < p.leader_epoch => {
                answer(Some(Errors::FencedLeaderEpoch), -1, 0)
            }
            Some(p) if p.is_leader() => answer(Some(Errors::UnknownLeaderEpoch), -1, 0),
            _ => answer(Some(self.not_leader_error(&tp)), -1, 0),
        }
    }

    /// Whether this broker leads `tp` and its high watermark reached the
    /// start of its leader epoch: what the log holds below it is committed
    /// (a new coordinator loads from here).
    pub fn committed_since_epoch_start(&self, tp: &TopicIdPartition) -> bool {
        self.partitions.get(tp).is_some_and(|p| {
            p.leader_state()
                .is_some_and(|l| p.log.high_watermark() >= l.epoch_start_offset)
        })
    }

    /// The leader epoch of `tp` while this broker leads it (a transaction
    /// coordinator's epoch).
    pub fn leader_epoch(&self, tp: &TopicIdPartition) -> Option<i32> {
        self.partitions
            .get(tp)
            .filter(|p| p.is_leader())
            .map(|p| p.leader_epoch)
    }

    /// The batches of `tp`'s log (the coordinator loads its groups from them).
    pub fn batches(&self, tp: &TopicIdPartition) -> Vec<Rc<RecordBatch>> {
        self.partitions
            .get(tp)
            .map(|p| p.log.batches().cloned().collect())
            .unwrap_or_default()
    }
}

/// How long a WriteTxnMarkers append waits for the ISR: Kafka's broker
/// `request.timeout.ms` default, which `handleWriteTxnMarkersRequest`
/// gives its appends.
const WRITE_TXN_MARKERS_TIMEOUT_MS: u64 = 30_000;
