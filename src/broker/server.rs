//! `BrokerServer`: one broker process and the managers it is made of
//! (Kafka's BrokerServer). Boot rebuilds it from its disk: the metadata log
//! it replicated (never fsynced, as Kafka observers do not flush) is read
//! back and fetched on from the quorum, every partition log is recovered.
//! The broker registers and heartbeats (BrokerLifecycleManager), replays
//! committed metadata into its image, and once the controller says it has
//! caught up, its ReplicaManager acts on the image; its group coordinator
//! and producer-id manager sit beside the ReplicaManager.
//!
//! A SIGTERM (the `shutdown` fault) runs Kafka's `BrokerServer.shutdown`
//! (`core/src/main/scala/kafka/server/BrokerServer.scala`): with
//! `controlled.shutdown.enable` the replica manager and the lifecycle
//! manager begin controlled shutdown and the broker keeps serving until
//! the controller answers `shouldShutDown`, or until the 5 minutes
//! `KafkaBroker.shutdown()` gives it run out; then it stops acting on
//! inputs (socket server, fetchers, scheduler, raft observer stopped),
//! flushes every log, writes its checkpoints and the clean shutdown marker,
//! and exits once all of that is durable.

use super::add_partitions_manager::{AddPartitionsToTxnManager, Verified, VerifyRequest};
use super::config::BrokerConfig;
use super::controller_channel::{ControllerChannel, ControllerPurpose};
use super::group_service::GroupCoordinatorService;
use super::lifecycle::{BrokerLifecycleManager, LifecycleEvent};
use super::producer_id_manager::ProducerIdManager;
use super::purgatory::{FetchParams, ReplyTo};
use super::replica_manager::{reply, ReplicaManager};
use super::socket_server::SocketServer;
use super::txn_service::TxnCoordinatorService;
use crate::controller::node::{leader_of, LeaderObs};
use crate::controller::raft::{MetadataObserver, RaftOutput, Record, METADATA_LOG_FILE};
use crate::controller::rpc::ControllerMsg;
use crate::errors::Errors;
use crate::group::coordinator::{CoordinatorRequest, CoordinatorResponse};
use crate::metadata::{MetadataImage, MetadataRecord, Uuid};
use crate::node::{Address, DiskView, Effect, Env, Input, KafkaNodeId, Timer};
use crate::protocol::{
    CoordinatorType, KafkaMsg, KafkaRequest, KafkaResponse, Message, PartitionMetadata, Topics,
};
use std::sync::Arc;

/// A broker's own timers (its KRaft observer's are `Timer::Raft`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum BrokerTimer {
    /// Registration or heartbeat is due.
    Lifecycle,
    /// Time to look for followers that fell out of sync.
    IsrCheck,
    /// Time to checkpoint high watermarks.
    HwCheckpoint,
    /// Time to checkpoint recovery points.
    RecoveryCheckpoint,
    /// Time to checkpoint log start offsets.
    LogStartOffsetCheckpoint,
    /// Time for the log manager's retention check.
    LogRetention,
    /// Segment files renamed `.deleted` are due for removal.
    DeleteFiles,
    /// A waiting produce or fetch may have reached its deadline.
    Purgatory,
    /// A fetcher's backoff ended (by leader broker id).
    FetcherRetry(u32),
    /// The group coordinator's session and rebalance deadlines.
    GroupTick,
    /// The transaction coordinator looks for transactions past their timeout.
    TxnAbortCheck,
    /// The transaction coordinator sends the markers it has queued.
    TxnMarkers,
    /// The AddPartitionsToTxnManager asks again about transactions the
    /// coordinator answered CONCURRENT_TRANSACTIONS.
    AddPartitionsRetry,
    /// The log cleaner looks for a compacted log to clean.
    LogCleaner,
    /// The 5 minutes a shutdown waits for the controller's `shouldShutDown`
    /// are over (last, so that the other variants keep their place in
    /// every trace hash).
    ShutdownTimeout,
    /// Kafka 2.7's `send-alter-isr` task runs with an ISR change to send
    /// (after the others, for the same reason).
    AlterPartitionPropagation,
}

/// What a broker reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerObs {
    /// A new incarnation booted.
    Booted,
    /// It registered with this broker epoch.
    Registered(u64),
    /// The controller fenced or unfenced it.
    Fenced(bool),
    /// Its metadata image made it leader of a partition.
    Leader(LeaderObs),
    /// It became leader of a partition and starts this leader epoch at its log end.
    BecameLeader {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// The leader epoch.
        leader_epoch: i32,
        /// Its log end offset then.
        log_end_offset: u64,
    },
    /// As group coordinator it committed these offsets of `group` (their
    /// records reached the high watermark of `__consumer_offsets`).
    OffsetsCommitted {
        /// The group.
        group: String,
        /// Partition and committed offset.
        offsets: Vec<(crate::protocol::TopicPartition, u64)>,
    },
    /// As leader it advanced a partition's high watermark.
    HighWatermark {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// The new high watermark.
        high_watermark: u64,
    },
    /// At boot it recovered a partition's log from its disk.
    Recovered {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// The log end offset the disk gave back.
        log_end_offset: u64,
        /// Its log start offset (checkpointed, or its first segment's base).
        log_start_offset: u64,
    },
    /// Retention deleted segments of a partition it hosts.
    SegmentsDeleted {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// How many segments went.
        segments: u32,
        /// The log start offset after.
        log_start_offset: u64,
    },
    /// As follower it cut its log.
    Truncated {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// The new log end offset.
        to_offset: u64,
        /// Records removed.
        records: u64,
    },
    /// The log cleaner compacted a partition it hosts.
    LogCleaned {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// Records the cleaning removed.
        records_removed: u64,
        /// Where the dirty part starts now.
        first_dirty_offset: u64,
    },
    /// As group coordinator it expired these committed offsets of `group`
    /// (`offsets.retention.minutes`).
    OffsetsExpired {
        /// The group.
        group: String,
        /// The partitions whose offsets expired.
        partitions: Vec<crate::protocol::TopicPartition>,
    },
    /// As group coordinator it deleted an Empty group with no committed
    /// offset left.
    GroupDeleted {
        /// The group.
        group: String,
    },
    /// At boot it found the clean shutdown marker: it removed it and
    /// skipped log recovery.
    RecoverySkipped {
        /// Partition logs in its log directory.
        logs: usize,
        /// The broker epoch the marker names.
        broker_epoch: Option<i64>,
    },
    /// It got SIGTERM.
    ShutdownBegun {
        /// It asks the controller first (controlled shutdown).
        controlled: bool,
    },
    /// It stops serving and closes its logs: why now.
    Closing {
        /// The controller answered shouldShutDown, the wait timed out, or
        /// there was no controlled shutdown.
        reason: String,
    },
    /// Every log flushed, checkpoints and the clean shutdown marker
    /// durable: the process exits.
    Stopped {
        /// Per replica: partition, log end offset, high watermark.
        replicas: Vec<(crate::protocol::TopicIdPartition, u64, u64)>,
    },
    /// Its replica of a deleted topic's partition is gone: the log
    /// directory renamed `{topic}-{partition}.{id}-delete` and removed
    /// after `log.segment.delete.delay.ms`.
    PartitionDeleted {
        /// The partition.
        partition: crate::protocol::TopicIdPartition,
        /// Its log end offset then.
        log_end_offset: u64,
    },
}

/// What a broker is set up with.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerSpec {
    /// Its Kafka node id.
    pub id: KafkaNodeId,
    /// The controller quorum's voters (Kafka node ids, sorted).
    pub voters: Vec<KafkaNodeId>,
    /// Its configs.
    pub config: BrokerConfig,
    /// The run's topics.
    pub topics: Arc<Topics>,
    /// Test-only mutation: replaying a leader change does not bump the leader epoch.
    pub keep_leader_epoch: bool,
}

/// A broker process.
#[derive(Debug)]
pub struct BrokerServer {
    id: KafkaNodeId,
    voters: Vec<KafkaNodeId>,
    metadata: MetadataObserver,
    image: MetadataImage,
    lifecycle: BrokerLifecycleManager,
    channel: ControllerChannel,
    /// One request per connection at a time.
    sockets: SocketServer,
    replicas: ReplicaManager,
    producer_ids: ProducerIdManager,
    groups: GroupCoordinatorService,
    txns: TxnCoordinatorService,
    /// Asks transaction coordinators about the transactions of produces
    /// (KIP-890).
    add_partitions: AddPartitionsToTxnManager,
    /// `transaction.state.log.num.partitions`, to find a transactional
    /// id's coordinator.
    txn_partitions: u32,
    /// Set once the controller says this incarnation caught up (Kafka's
    /// BrokerServer waits for it before its replica manager acts on metadata).
    data_path_ready: bool,
    /// Where a SIGTERM has taken it.
    shutdown: ShutdownState,
    /// `controlled.shutdown.enable`.
    controlled_shutdown_enable: bool,
    /// KAFKA-13858 (3.3): metadata is applied in controlled shutdown.
    metadata_applied_in_controlled_shutdown: bool,
    /// Before KAFKA-13858: the metadata listener stopped when the
    /// controlled shutdown began (`metadataListener.beginShutdown()`), so
    /// no committed record reaches the image any more.
    metadata_listener_stopped: bool,
}

/// How long `KafkaBroker.shutdown()` lets a controlled shutdown wait for
/// the controller (`shutdown(Duration.ofMinutes(5))`).
pub const CONTROLLED_SHUTDOWN_TIMEOUT_NS: sim::Nanos = 300 * sim::SECONDS;

/// Where a SIGTERM has taken a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShutdownState {
    /// Running.
    Running,
    /// Controlled shutdown: serving on until `shouldShutDown`.
    PendingControlled,
    /// Stopped serving; logs are being flushed.
    Flushing,
    /// Logs flushed; checkpoints being written.
    Checkpointing,
    /// Checkpoints durable; the clean shutdown marker being written.
    Marking,
    /// Exited.
    Stopped,
}

/// The metadata of the local metadata log, every entry replayed as the
/// broker's image replays committed ones: Kafka loads each log with its
/// topic's configs from the image it catches up to first, starting from
/// this local copy.
fn local_image(log: &crate::controller::raft::RaftLog) -> MetadataImage {
    let mut image = MetadataImage::default();
    for entry in log.entries_from(0, usize::MAX) {
        if let Record::Data(bytes) = &entry.record {
            if let Some(record) = MetadataRecord::decode(bytes) {
                image.apply(entry.offset, &record);
            }
        }
    }
    image
}

impl BrokerServer {
    /// Boots broker `spec.id` from `disk`.
    pub fn boot(spec: &BrokerSpec, env: &mut Env<'_>, disk: &dyn DiskView) -> Self {
        env.observe(BrokerObs::Booted);
        let metadata = MetadataObserver::recover(
            spec.id,
            spec.voters.clone(),
            disk.read(METADATA_LOG_FILE).as_deref(),
        )
        .with_config(spec.config.raft);
        let incarnation = Uuid::random(env.rng());
        let local = local_image(metadata.log());
        let previous_broker_epoch =
            super::log_manager::read_broker_epoch_from_clean_shutdown_file(disk);
        let replicas = ReplicaManager::boot(spec.id, spec.config, &spec.topics, &local, env, disk);
        let config = spec.config;
        let mut image = MetadataImage::default();
        image.keep_leader_epoch = spec.keep_leader_epoch;
        let mut broker = Self {
            id: spec.id,
            voters: spec.voters.clone(),
            metadata,
            image,
            lifecycle: BrokerLifecycleManager::new(spec.id, incarnation, previous_broker_epoch),
            channel: ControllerChannel::new(
                spec.voters.clone(),
                config.controller_request_timeouts,
            ),
            sockets: SocketServer::new(config.unmuted_connections),
            replicas,
            producer_ids: ProducerIdManager::default(),
            groups: GroupCoordinatorService::new(&spec.topics, &config),
            txns: TxnCoordinatorService::new(&spec.topics, &config),
            add_partitions: AddPartitionsToTxnManager::new(
                config.add_partitions_to_txn_retry_backoff_ms,
                config.add_partitions_to_txn_max_timeout_ms,
            ),
            txn_partitions: config.transaction_state_log_num_partitions,
            data_path_ready: false,
            shutdown: ShutdownState::Running,
            controlled_shutdown_enable: config.controlled_shutdown_enable,
            metadata_applied_in_controlled_shutdown: config.metadata_applied_in_controlled_shutdown,
            metadata_listener_stopped: false,
        };
        let mut out = Vec::new();
        let now = env.now();
        broker.metadata.start(now, env.rng(), &mut out);
        broker.apply_raft(env, out);
        broker.lifecycle_due(env);
        broker
    }

    /// Its Kafka node id.
    pub fn id(&self) -> KafkaNodeId {
        self.id
    }

    /// The data path.
    pub fn replica_manager(&self) -> &ReplicaManager {
        &self.replicas
    }

    /// The group coordinator.
    pub fn group_coordinator(&self) -> &GroupCoordinatorService {
        &self.groups
    }

    /// The transaction coordinator.
    pub fn txn_coordinator(&self) -> &TxnCoordinatorService {
        &self.txns
    }

    /// Its metadata image.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Its replica of the metadata log (an observer of the quorum).
    pub fn metadata_observer(&self) -> &MetadataObserver {
        &self.metadata
    }

    /// Whether it got SIGTERM (it exits on its own once done).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown != ShutdownState::Running
    }

    /// Its registration state.
    pub fn lifecycle(&self) -> &BrokerLifecycleManager {
        &self.lifecycle
    }

    /// Handles one input, then lets its managers act on what it changed;
    /// a connection whose response went out meanwhile has its next request
    /// handled (as many rounds as that takes).
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        let mut mark = env.mark();
        self.handle_input(env, input);
        loop {
            let sockets = &self.sockets;
            env.retain_since(mark, |effect| {
                response_to(effect).is_none_or(|reply_to| sockets.awaits(&reply_to))
            });
            let sockets = &mut self.sockets;
            let next: Vec<(ReplyTo, KafkaRequest)> = env
                .effects_since(mark)
                .iter()
                .filter_map(response_to)
                .filter_map(|reply_to| sockets.response_sent(reply_to))
                .collect();
            if next.is_empty() || !self.is_serving() {
                return;
            }
            mark = env.mark();
            for (reply_to, request) in next {
                self.serve(env, reply_to, request);
            }
            self.after_input(env);
        }
    }

    /// Whether it still takes requests (not closing after a SIGTERM).
    fn is_serving(&self) -> bool {
        matches!(
            self.shutdown,
            ShutdownState::Running | ShutdownState::PendingControlled
        )
    }

    /// Handles a request its connection let through, and the ones after
    /// it on that connection that get no response (an acks=0 produce
    /// unmutes its connection at once).
    fn serve(&mut self, env: &mut Env<'_>, reply_to: ReplyTo, request: KafkaRequest) {
        let mut next = Some((reply_to, request));
        while let Some((reply_to, request)) = next.take() {
            let no_response = matches!(request, KafkaRequest::Produce { acks: 0, .. });
            self.on_request(env, reply_to, request);
            if no_response {
                next = self.sockets.response_sent(reply_to);
            }
        }
    }

    fn handle_input(&mut self, env: &mut Env<'_>, input: Input) {
        if !self.is_serving() {
            // Closing: only the fsyncs of the shutdown matter.
            if let Input::Fsynced(token) = input {
                self.replicas.on_close_fsync(env, token);
                self.advance_close(env);
            }
            return;
        }
        match input {
            Input::Shutdown => self.begin_shutdown(env),
            Input::Timer(Timer::Broker(BrokerTimer::ShutdownTimeout)) => {
                if self.shutdown == ShutdownState::PendingControlled {
                    self.close(
                        env,
                        "timed out waiting for the controller to approve controlled shutdown (5 minutes)",
                    );
                    return;
                }
            }
            Input::Message { from, msg } => self.on_message(env, from, msg),
            Input::Timer(Timer::Raft(timer)) => {
                let mut out = Vec::new();
                let now = env.now();
                self.metadata.on_timer(now, env.rng(), timer, &mut out);
                self.apply_raft(env, out);
            }
            Input::Timer(Timer::Broker(BrokerTimer::Lifecycle)) => self.lifecycle_due(env),
            Input::Timer(Timer::Broker(BrokerTimer::GroupTick)) => {
                self.groups.on_tick(env, &mut self.replicas)
            }
            Input::Timer(Timer::Broker(BrokerTimer::TxnAbortCheck)) => {
                self.txns.on_abort_check(env, &mut self.replicas)
            }
            Input::Timer(Timer::Broker(BrokerTimer::TxnMarkers)) => {
                self.txns
                    .on_marker_retry(env, &mut self.replicas, &self.image)
            }
            Input::Timer(Timer::Broker(BrokerTimer::AddPartitionsRetry)) => {
                let done = self.add_partitions.on_retry(env);
                self.on_verified(env, done);
            }
            Input::Timer(Timer::Broker(timer)) => self.replicas.on_timer(env, timer),
            Input::Timer(Timer::RequestTimeout) => {
                for purpose in self.channel.expire(env) {
                    self.on_controller_lost(env, purpose, true);
                }
                self.replicas.on_request_timeout(env);
                self.txns.on_request_timeout(env);
                let done = self.add_partitions.on_request_timeout(env);
                self.on_verified(env, done);
            }
            Input::Disconnected(peer) => self.on_disconnect(env, peer),
            Input::Fsynced(token) => self.replicas.on_fsync(env, token),
            Input::Timer(_) | Input::Close => {}
        }
        self.after_input(env);
    }

    /// Lets its managers act on what an input changed.
    fn after_input(&mut self, env: &mut Env<'_>) {
        if !self.is_serving() {
            return;
        }
        self.on_replica_events(env);
        self.sync_controller();
        for (tp, request) in self.replicas.take_alter_partitions(env.now_ms()) {
            self.channel
                .send(env, request, ControllerPurpose::AlterPartition(tp));
        }
        self.replicas.schedule_alter_partitions(env);
    }

    /// Hands what the replica manager reports about internal partitions to
    /// the coordinator owning each, until nothing more happens.
    fn on_replica_events(&mut self, env: &mut Env<'_>) {
        loop {
            let events = self.replicas.take_events();
            if events.is_empty() {
                return;
            }
            for event in events {
                let tp = event.tp();
                if self.groups.owns_topic(&tp) {
                    self.groups.on_replica_event(env, &mut self.replicas, event);
                } else if self.txns.owns_topic(&tp) {
                    self.txns.on_replica_event(env, &mut self.replicas, event);
                }
            }
        }
    }

    fn on_message(&mut self, env: &mut Env<'_>, from: Address, msg: Message) {
        match msg {
            Message::Raft(msg) => {
                let Some(voter) = from.node() else {
                    return;
                };
                let mut out = Vec::new();
                let now = env.now();
                self.metadata
                    .on_message(now, env.rng(), voter, msg, &mut out);
                self.apply_raft(env, out);
            }
            Message::Controller(ControllerMsg::Response {
                correlation_id,
                controller_hint,
                response,
            }) => {
                let Some(flight) = self.channel.complete(correlation_id) else {
                    return;
                };
                match flight.purpose {
                    ControllerPurpose::Lifecycle => {
                        let events = self.lifecycle.on_response(env, controller_hint, response);
                        self.on_lifecycle(env, events);
                    }
                    ControllerPurpose::AlterPartition(tp) => {
                        self.replicas
                            .on_alter_partition_response(env, &tp, response);
                    }
                    ControllerPurpose::AllocateProducerIds => {
                        let broker = (self.id, self.lifecycle.broker_epoch());
                        self.producer_ids
                            .on_block(env, &mut self.channel, broker, Some(response));
                    }
                }
            }
            Message::Kafka(KafkaMsg::Request {
                connection,
                correlation_id,
                request,
            }) => {
                let reply_to = ReplyTo {
                    to: from,
                    connection,
                    correlation_id,
                };
                if let Some((reply_to, request)) = self.sockets.receive(reply_to, request) {
                    self.serve(env, reply_to, request);
                }
            }
            Message::Kafka(KafkaMsg::Response {
                correlation_id,
                response:
                    KafkaResponse::Fetch {
                        error,
                        session_id,
                        partitions,
                    },
                ..
            }) => {
                self.replicas
                    .on_fetch_response(env, correlation_id, error, session_id, partitions)
            }
            Message::Kafka(KafkaMsg::Response {
                correlation_id,
                response: KafkaResponse::WriteTxnMarkers { results },
                ..
            }) => self
                .txns
                .on_markers_response(env, &mut self.replicas, correlation_id, &results),
            Message::Kafka(KafkaMsg::Response {
                correlation_id,
                response: KafkaResponse::AddPartitionsToTxnForBroker { error, results },
                ..
            }) => {
                let done = self
                    .add_partitions
                    .on_response(env, correlation_id, error, &results);
                self.on_verified(env, done);
            }
            Message::Kafka(KafkaMsg::Closed { connection }) => {
                self.sockets.closed(from, connection)
            }
            Message::Kafka(KafkaMsg::Response { .. })
            | Message::Controller(ControllerMsg::Request { .. }) => {}
        }
    }

    /// A client or broker request.
    fn on_request(&mut self, env: &mut Env<'_>, reply_to: ReplyTo, request: KafkaRequest) {
        match request {
            KafkaRequest::Produce {
                version,
                transactional_id,
                acks,
                timeout_ms,
                partitions,
            } => {
                let verify = self.replicas.handle_produce_append(
                    env,
                    reply_to,
                    version,
                    transactional_id,
                    acks,
                    timeout_ms,
                    partitions,
                );
                if let Some(request) = verify {
                    self.verify_transaction(env, request);
                }
            }
            KafkaRequest::Fetch {
                replica,
                max_wait_ms,
                isolation_level,
                session,
                partitions,
                forgotten,
            } => self.replicas.handle_fetch(
                env,
                reply_to,
                FetchParams {
                    replica,
                    max_wait_ms,
                    isolation_level,
                },
                session,
                partitions,
                forgotten,
            ),
            KafkaRequest::WriteTxnMarkers { markers } => {
                self.replicas
                    .handle_write_txn_markers(env, reply_to, markers);
            }
            KafkaRequest::Metadata { topics } => {
                let response = self.metadata_response(&topics);
                reply(env, reply_to, response);
            }
            KafkaRequest::InitProducerId {
                transactional_id: None,
                ..
            } => {
                let broker = (self.id, self.lifecycle.broker_epoch());
                self.producer_ids
                    .init_producer_id(env, &mut self.channel, broker, reply_to);
            }
            request @ (KafkaRequest::InitProducerId { .. }
            | KafkaRequest::AddPartitionsToTxn { .. }
            | KafkaRequest::AddOffsetsToTxn { .. }
            | KafkaRequest::AddPartitionsToTxnForBroker { .. }
            | KafkaRequest::EndTxn { .. }) => self.on_txn_request(env, reply_to, request),
            KafkaRequest::FindCoordinator { key_type, key } => {
                let image = self.served_image();
                match key_type {
                    CoordinatorType::Group => {
                        self.groups.find_coordinator(env, reply_to, &key, &image)
                    }
                    CoordinatorType::Transaction => {
                        self.txns.find_coordinator(env, reply_to, &key, &image)
                    }
                }
            }
            KafkaRequest::Group { group_id, request } => {
                let Some(request) = self.unknown_topics_answered(env, reply_to, *request) else {
                    return;
                };
                self.groups
                    .handle(env, &mut self.replicas, reply_to, &group_id, request)
            }
            KafkaRequest::ListOffsets {
                tp,
                timestamp,
                current_leader_epoch,
                isolation_level,
            } => {
                let response = self.replicas.list_offsets(
                    tp,
                    timestamp,
                    current_leader_epoch,
                    isolation_level,
                );
                reply(env, reply_to, response);
            }
            KafkaRequest::OffsetForLeaderEpoch {
                tp,
                current_leader_epoch,
                leader_epoch,
            } => {
                let response =
                    self.replicas
                        .offset_for_leader_epoch(tp, current_leader_epoch, leader_epoch);
                reply(env, reply_to, response);
            }
        }
    }

    /// A request to the transaction coordinator; new producer ids come
    /// from the broker's ProducerIdManager.
    fn on_txn_request(&mut self, env: &mut Env<'_>, reply_to: ReplyTo, request: KafkaRequest) {
        // The coordinator takes an id synchronously (Kafka's
        // `generateProducerId`); a used-up block is answered
        // COORDINATOR_LOAD_IN_PROGRESS and a new one asked for after.
        let producer_ids = &mut self.producer_ids;
        let mut exhausted = false;
        let mut allocate = || {
            producer_ids.claim_next().ok_or_else(|| {
                exhausted = true;
                Errors::CoordinatorLoadInProgress
            })
        };
        self.txns
            .handle(env, &mut self.replicas, reply_to, request, &mut allocate);
        if exhausted {
            let broker = (self.id, self.lifecycle.broker_epoch());
            self.producer_ids
                .request_block(env, &mut self.channel, broker);
        }
    }

    /// Hands a produce's transaction to the AddPartitionsToTxnManager.
    fn verify_transaction(&mut self, env: &mut Env<'_>, request: VerifyRequest) {
        let done =
            self.add_partitions
                .verify_transaction(env, &self.image, self.txn_partitions, request);
        self.on_verified(env, done);
    }

    /// Verifications answered: their produces go on.
    fn on_verified(&mut self, env: &mut Env<'_>, done: Vec<Verified>) {
        for v in done {
            if v.retry {
                if let Some(request) = self.replicas.restart_verification(env, v.waiter) {
                    self.verify_transaction(env, request);
                }
            } else {
                self.replicas.on_verified(env, v.waiter, v.errors);
            }
        }
    }

    /// The image clients see: until it has caught up, a broker knows no
    /// topics (Kafka does not even open its client listener before then).
    fn served_image(&self) -> std::borrow::Cow<'_, MetadataImage> {
        if self.data_path_ready {
            std::borrow::Cow::Borrowed(&self.image)
        } else {
            std::borrow::Cow::Owned(MetadataImage::default())
        }
    }

    /// KafkaApis' check of an OffsetCommit before the coordinator sees it:
    /// partitions of a topic the metadata does not have are answered
    /// UNKNOWN_TOPIC_OR_PARTITION (a deleted topic's offsets are not
    /// committed again); the rest go on (None: nothing left, answered).
    fn unknown_topics_answered(
        &self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        request: CoordinatorRequest,
    ) -> Option<CoordinatorRequest> {
        let CoordinatorRequest::OffsetCommit {
            generation_id,
            member_id,
            group_instance_id,
            offsets,
        } = request
        else {
            return Some(request);
        };
        let known = |tp: &crate::protocol::TopicPartition| {
            !self.data_path_ready || self.image.partition(&tp.topic, tp.partition).is_some()
        };
        if offsets.iter().all(|(tp, ..)| known(tp)) {
            return Some(CoordinatorRequest::OffsetCommit {
                generation_id,
                member_id,
                group_instance_id,
                offsets,
            });
        }
        let (offsets, unknown): (Vec<_>, Vec<_>) =
            offsets.into_iter().partition(|(tp, ..)| known(tp));
        if offsets.is_empty() {
            let results = unknown
                .into_iter()
                .map(|(tp, ..)| (tp, Some(Errors::UnknownTopicOrPartition)))
                .collect();
            let response = CoordinatorResponse::OffsetCommit { results };
            reply(env, reply_to, KafkaResponse::Group(Box::new(response)));
            return None;
        }
        Some(CoordinatorRequest::OffsetCommit {
            generation_id,
            member_id,
            group_instance_id,
            offsets,
        })
    }

    /// MetadataResponse for `topics` (missing topics are left out).
    fn metadata_response(&self, topics: &[String]) -> KafkaResponse {
        if !self.data_path_ready {
            // Not caught up with the metadata yet (Kafka serves no request
            // before its first metadata publish): every topic asked for is
            // named without partitions, so that no client takes it for
            // deleted; clients ask again after their backoff.
            let topics = topics.iter().map(|t| (t.clone(), Vec::new())).collect();
            return KafkaResponse::Metadata { topics };
        }
        let image = self.served_image();
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
        KafkaResponse::Metadata { topics }
    }

    /// The connection to `peer` broke.
    fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        self.sockets.disconnected(peer);
        self.replicas.on_disconnect(env, peer);
        self.txns.on_disconnect(env, peer);
        let done = self.add_partitions.on_disconnect(env, peer);
        self.on_verified(env, done);
        for purpose in self.channel.disconnected(peer) {
            self.on_controller_lost(env, purpose, false);
        }
        if let Some(voter) = peer.node().filter(|v| self.voters.contains(v)) {
            let mut out = Vec::new();
            let now = env.now();
            self.metadata.on_disconnect(now, env.rng(), voter, &mut out);
            self.apply_raft(env, out);
        }
    }

    /// A controller request got no answer (a timeout or a broken connection).
    fn on_controller_lost(
        &mut self,
        env: &mut Env<'_>,
        purpose: ControllerPurpose,
        timed_out: bool,
    ) {
        match purpose {
            ControllerPurpose::Lifecycle => self.lifecycle.on_lost(env, timed_out),
            ControllerPurpose::AlterPartition(tp) => {
                self.replicas.on_alter_partition_lost(&tp, env.now_ms())
            }
            ControllerPurpose::AllocateProducerIds => {
                let broker = (self.id, self.lifecycle.broker_epoch());
                self.producer_ids
                    .on_block(env, &mut self.channel, broker, None);
            }
        }
    }

    /// The controller requests go to the active controller the lifecycle
    /// last heard of, else to the quorum leader the metadata log names.
    fn sync_controller(&mut self) {
        let controller = self.lifecycle.controller().or(self.metadata.leader_id());
        self.channel.set_controller(controller);
    }

    fn lifecycle_due(&mut self, env: &mut Env<'_>) {
        self.sync_controller();
        let offset = self.image.offset;
        self.lifecycle.on_due(env, &mut self.channel, offset);
    }

    fn on_lifecycle(&mut self, env: &mut Env<'_>, events: Vec<LifecycleEvent>) {
        for event in events {
            match event {
                LifecycleEvent::Registered(epoch) => {
                    env.observe(BrokerObs::Registered(epoch));
                    self.replicas.set_broker_epoch(Some(epoch));
                }
                LifecycleEvent::CaughtUp => {
                    self.data_path_ready = true;
                    self.replicas.apply_delta(env, &self.image);
                }
                LifecycleEvent::FencingChanged { fenced } => {
                    env.observe(BrokerObs::Fenced(fenced));
                }
                LifecycleEvent::ShouldShutDown => {
                    self.close(env, "the controller answered shouldShutDown");
                }
            }
        }
    }

    /// SIGTERM (Kafka's `BrokerServer.shutdown`): with
    /// `controlled.shutdown.enable` the replica manager and the lifecycle
    /// manager begin controlled shutdown, and the broker serves on until
    /// the controller says `shouldShutDown` or 5 minutes pass; a broker not
    /// RUNNING yet, or one without controlled shutdown, closes at once.
    fn begin_shutdown(&mut self, env: &mut Env<'_>) {
        if self.shutdown != ShutdownState::Running {
            return;
        }
        let controlled = self.controlled_shutdown_enable;
        env.observe(BrokerObs::ShutdownBegun { controlled });
        if controlled {
            if self.metadata_applied_in_controlled_shutdown {
                // Kafka 3.3 on (KAFKA-13858): the replica manager learns
                // of the controlled shutdown, and the metadata listener
                // goes on until the shutdown proper.
                self.replicas.begin_controlled_shutdown();
            } else {
                // Kafka before 3.3: "Shut down the broker metadata
                // listener, so that we don't get added to any more ISRs"
                // (3.2.0 `BrokerServer.shutdown`), before asking the
                // controller: the image stays as it is, leaderships too.
                self.metadata_listener_stopped = true;
            }
            if self.lifecycle.begin_controlled_shutdown(env) {
                self.shutdown = ShutdownState::PendingControlled;
                env.set_timer_after(CONTROLLED_SHUTDOWN_TIMEOUT_NS, BrokerTimer::ShutdownTimeout);
                return;
            }
            self.close(env, "not RUNNING yet: controlled shutdown skipped");
        } else {
            self.close(env, "controlled.shutdown.enable is false");
        }
    }

    /// The shutdown proper: the lifecycle manager stops heartbeating, no
    /// input but fsync completions is acted on any more (socket server,
    /// fetchers, scheduler and metadata observer stopped), every log is
    /// flushed and the high watermarks checkpointed.
    fn close(&mut self, env: &mut Env<'_>, reason: &str) {
        self.lifecycle.begin_shutdown();
        env.observe(BrokerObs::Closing {
            reason: reason.to_owned(),
        });
        self.shutdown = ShutdownState::Flushing;
        self.replicas.begin_close(env);
        self.advance_close(env);
    }

    /// Moves the shutdown on as far as what is durable allows: once every
    /// log is flushed, the recovery points and log start offsets are
    /// checkpointed; once those are durable, the clean shutdown marker is
    /// written (with the broker epoch, -1 when not registered); once it is
    /// durable, the process exits.
    fn advance_close(&mut self, env: &mut Env<'_>) {
        if self.shutdown == ShutdownState::Flushing && !self.replicas.logs_flushing() {
            self.replicas.write_close_checkpoints(env);
            self.shutdown = ShutdownState::Checkpointing;
        }
        if self.shutdown == ShutdownState::Checkpointing && !self.replicas.checkpoints_pending() {
            let epoch = self
                .lifecycle
                .broker_epoch()
                .map_or(-1, |e| i64::try_from(e).unwrap_or(i64::MAX));
            self.replicas.write_clean_shutdown_file(env, epoch);
            self.shutdown = ShutdownState::Marking;
        }
        if self.shutdown == ShutdownState::Marking && self.replicas.clean_shutdown_written() {
            let replicas = self
                .replicas
                .partitions()
                .iter()
                .map(|(tp, p)| (*tp, p.log.log_end_offset(), p.log.high_watermark()))
                .collect();
            env.observe(BrokerObs::Stopped { replicas });
            self.shutdown = ShutdownState::Stopped;
            env.push(crate::node::Effect::Exit);
        }
    }

    /// Carries out the metadata observer's effects and replays what it committed.
    fn apply_raft(&mut self, env: &mut Env<'_>, out: Vec<RaftOutput>) {
        for output in out {
            match output {
                RaftOutput::Io(effect) => env.push(effect),
                RaftOutput::Committed { upto_offset } => self.replay(env, upto_offset),
                RaftOutput::Transition { .. } | RaftOutput::BecameLeader { .. } => {}
            }
        }
    }

    /// Applies committed metadata records below `upto` to the image, then
    /// lets the data path act on what changed.
    fn replay(&mut self, env: &mut Env<'_>, upto: u64) {
        if self.metadata_listener_stopped {
            return;
        }
        let before = self.image.offset;
        let mut deleted_topics = Vec::new();
        for offset in self.image.offset..upto {
            let Some(entry) = self.metadata.log().entry(offset) else {
                break;
            };
            let record = match &entry.record {
                Record::Data(bytes) => MetadataRecord::decode(bytes),
                _ => None,
            };
            let Some(record) = record else {
                self.image.offset = offset + 1;
                continue;
            };
            let was: Option<LeaderObs> = leader_of(&self.image, &record);
            if let MetadataRecord::RemoveTopicRecord { topic_id } = &record {
                if let Some(t) = self.image.topic_by_id(*topic_id) {
                    deleted_topics.push(t.name.clone());
                }
            }
            self.image.apply(offset, &record);
            if let Some(now) = leader_of(&self.image, &record) {
                if now.leader == Some(self.id) && Some(&now) != was.as_ref() {
                    env.observe(BrokerObs::Leader(now));
                }
            }
        }
        if self.image.offset > before && self.data_path_ready {
            self.replicas.apply_delta(env, &self.image);
            if !deleted_topics.is_empty() {
                self.groups
                    .on_topics_deleted(env, &mut self.replicas, &deleted_topics);
            }
        }
    }
}

/// Whom `effect` answers, if it sends a Kafka response.
fn response_to(effect: &Effect) -> Option<ReplyTo> {
    match effect {
        Effect::Send {
            to,
            msg:
                Message::Kafka(KafkaMsg::Response {
                    connection,
                    correlation_id,
                    ..
                }),
        } => Some(ReplyTo {
            to: *to,
            connection: *connection,
            correlation_id: *correlation_id,
        }),
        _ => None,
    }
}
