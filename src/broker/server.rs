//! `BrokerServer`: one broker process. Boot rebuilds it from its disk: the
//! metadata log it replicated (never fsynced, as Kafka observers do not
//! flush) is read back, then fetched on from the quorum leader.

use std::collections::BTreeMap;

use sim::{Ctx, Node, NodeId};

use super::lifecycle::{BrokerLifecycle, LifecycleEffect, REQUEST_TIMEOUT_NS};
use crate::controller::node::{controller_node, leader_of, LeaderObs};
use crate::controller::raft::{
    MetadataObserver, RaftMessage, RaftOutput, RaftTimer, Record, METADATA_LOG_FILE,
};
use crate::controller::rpc::ControllerMsg;
use crate::metadata::{MetadataImage, MetadataRecord, Uuid};
use crate::protocol::{KafkaMsg, KafkaResponse};

use super::config::BrokerConfig;
use super::replica_manager::{ReplicaManager, DATA_PATH_CORRELATION_BASE};

/// A broker's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum BrokerTimer {
    /// The metadata fetcher's.
    Raft(RaftTimer),
    /// Registration or heartbeat is due.
    Lifecycle,
    /// A controller request went unanswered.
    RequestTimeout(u64),
    /// Time to look for followers that fell out of sync.
    IsrCheck,
    /// Time to checkpoint high watermarks.
    HwCheckpoint,
    /// Time to checkpoint recovery points.
    RecoveryCheckpoint,
    /// A delayed produce reached its timeout.
    ProduceTimeout(u64),
    /// A held fetch reached its max wait.
    FetchTimeout(u64),
    /// A fetcher's backoff ended (by leader broker id).
    FetcherRetry(u32),
    /// A fetcher's request (leader, correlation id) went unanswered for
    /// `replica.socket.timeout.ms`.
    FetcherTimeout(u32, u64),
    /// Periodic retry of lost AlterPartition / AllocateProducerIds requests.
    AlterPartitionRetry,
    /// The group coordinator's session and rebalance deadlines.
    GroupTick,
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
        /// `topic-N`.
        partition: String,
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
        partition: crate::protocol::TopicPartition,
        /// The new high watermark.
        high_watermark: u64,
    },
    /// At boot it recovered a partition's log from its disk.
    Recovered {
        /// `topic-N`.
        partition: String,
        /// The log end offset the disk gave back.
        log_end_offset: u64,
    },
    /// As follower it cut its log.
    Truncated {
        /// `topic-N`.
        partition: String,
        /// The new log end offset.
        to_offset: u64,
        /// Records removed.
        records: u64,
    },
}

/// A broker process.
#[derive(Debug)]
pub struct BrokerServer {
    id: u32,
    voters: Vec<u32>,
    keep_leader_epoch: bool,
    fetcher: Option<MetadataObserver>,
    lifecycle: Option<BrokerLifecycle>,
    image: MetadataImage,
    config: BrokerConfig,
    broker_nodes: BTreeMap<u32, NodeId>,
    replicas: Option<ReplicaManager>,
    /// Set once the controller says this incarnation caught up (Kafka's
    /// BrokerServer waits for it before its replica manager acts on metadata).
    data_path_ready: bool,
}

impl BrokerServer {
    /// Broker `id` of a cluster whose controllers are `voters`;
    /// `broker_nodes` maps every broker id to its simulation node.
    pub fn new(
        id: u32,
        voters: Vec<u32>,
        config: BrokerConfig,
        broker_nodes: BTreeMap<u32, NodeId>,
    ) -> Self {
        Self {
            id,
            voters,
            keep_leader_epoch: false,
            fetcher: None,
            lifecycle: None,
            image: MetadataImage::default(),
            config,
            broker_nodes,
            replicas: None,
            data_path_ready: false,
        }
    }

    /// The data path (None before start).
    pub fn replica_manager(&self) -> Option<&ReplicaManager> {
        self.replicas.as_ref()
    }

    /// Test-only mutation: replaying a leader change does not bump the leader epoch.
    pub fn with_keep_leader_epoch(mut self, on: bool) -> Self {
        self.keep_leader_epoch = on;
        self.image.keep_leader_epoch = on;
        self
    }

    /// Its metadata image.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Its replica of the metadata log (an observer of the quorum), once started.
    pub fn metadata_observer(&self) -> Option<&MetadataObserver> {
        self.fetcher.as_ref()
    }

    /// Its registration state (None before start).
    pub fn lifecycle(&self) -> Option<&BrokerLifecycle> {
        self.lifecycle.as_ref()
    }

    /// Boot.
    pub fn start<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        ctx.observe(BrokerObs::Booted.into());
        let fetcher = MetadataObserver::recover(
            self.id,
            self.voters.clone(),
            ctx.disk().read(METADATA_LOG_FILE),
        );
        self.fetcher = Some(fetcher);
        let incarnation = Uuid::random(ctx.rng());
        self.lifecycle = Some(BrokerLifecycle::new(
            self.id,
            incarnation,
            self.voters.clone(),
        ));
        let mut replicas = ReplicaManager::new(
            self.id,
            self.config,
            self.voters.clone(),
            self.broker_nodes.clone(),
        );
        replicas.start(ctx);
        self.replicas = Some(replicas);
        ctx.set_timer(1000 * sim::MILLIS, BrokerTimer::AlterPartitionRetry.into());
        let mut out = Vec::new();
        self.fetcher_mut().start(ctx.rng(), &mut out);
        self.apply_raft(ctx, out);
        self.lifecycle_due(ctx);
    }

    fn fetcher_mut(&mut self) -> &mut MetadataObserver {
        self.fetcher.as_mut().expect("started")
    }

    /// A message from node `from`.
    pub fn on_message<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        msg: BrokerMsg,
    ) {
        match msg {
            BrokerMsg::Raft(msg) => {
                let mut out = Vec::new();
                let now = ctx.now();
                let fetcher = self.fetcher.as_mut().expect("started");
                fetcher.on_message(now, ctx.rng(), from.0 + 1, msg, &mut out);
                self.apply_raft(ctx, out);
            }
            BrokerMsg::Rpc(ControllerMsg::Response {
                correlation_id,
                response,
                ..
            }) if correlation_id >= DATA_PATH_CORRELATION_BASE => {
                let replicas = self.replicas.as_mut().expect("started");
                replicas.on_controller_response(ctx, correlation_id, response);
            }
            BrokerMsg::Kafka(KafkaMsg::Request {
                correlation_id,
                request,
            }) => {
                // Until it has caught up, a broker knows no topics (Kafka does
                // not even open its client listener before then).
                let empty = MetadataImage::default();
                let image = if self.data_path_ready {
                    &self.image
                } else {
                    &empty
                };
                let replicas = self.replicas.as_mut().expect("started");
                replicas.on_request(ctx, from, correlation_id, request, image);
            }
            BrokerMsg::Kafka(KafkaMsg::Response {
                correlation_id,
                response: KafkaResponse::Fetch { partitions },
            }) => {
                let replicas = self.replicas.as_mut().expect("started");
                replicas.on_fetch_response(ctx, from, correlation_id, partitions);
            }
            BrokerMsg::Kafka(KafkaMsg::Response { .. }) => {}
            BrokerMsg::Rpc(ControllerMsg::Response {
                correlation_id,
                controller_hint,
                response,
            }) => {
                let mut effects = Vec::new();
                let lifecycle = self.lifecycle.as_mut().expect("started");
                lifecycle.on_response(correlation_id, controller_hint, response, &mut effects);
                self.apply_lifecycle(ctx, effects);
            }
            BrokerMsg::Rpc(ControllerMsg::Request { .. }) => {}
        }
    }

    /// A timer fired.
    pub fn on_timer<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: BrokerTimer) {
        match timer {
            BrokerTimer::Raft(timer) => {
                let mut out = Vec::new();
                let fetcher = self.fetcher.as_mut().expect("started");
                fetcher.on_timer(ctx.rng(), timer, &mut out);
                self.apply_raft(ctx, out);
            }
            BrokerTimer::Lifecycle => self.lifecycle_due(ctx),
            BrokerTimer::RequestTimeout(correlation_id) => {
                let mut effects = Vec::new();
                let lifecycle = self.lifecycle.as_mut().expect("started");
                lifecycle.on_timeout(correlation_id, &mut effects);
                self.apply_lifecycle(ctx, effects);
            }
            BrokerTimer::AlterPartitionRetry => {
                let replicas = self.replicas.as_mut().expect("started");
                replicas.on_timer(ctx, BrokerTimer::AlterPartitionRetry);
                ctx.set_timer(1000 * sim::MILLIS, BrokerTimer::AlterPartitionRetry.into());
            }
            other => {
                let replicas = self.replicas.as_mut().expect("started");
                replicas.on_timer(ctx, other);
            }
        }
    }

    /// An fsync this broker asked for completed.
    pub fn on_fsync<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, token: u64) {
        if let Some(replicas) = self.replicas.as_mut() {
            replicas.on_fsync(ctx, token);
        }
    }

    /// The connection to node `peer` broke.
    pub fn on_disconnect<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        if let Some(replicas) = self.replicas.as_mut() {
            replicas.on_disconnect(ctx, peer);
        }
        let controller = peer.0 + 1;
        if !self.voters.contains(&controller) {
            return;
        }
        let mut out = Vec::new();
        self.fetcher_mut()
            .on_disconnect(ctx.rng(), controller, &mut out);
        self.apply_raft(ctx, out);
        let mut effects = Vec::new();
        let lifecycle = self.lifecycle.as_mut().expect("started");
        lifecycle.on_disconnect(controller, &mut effects);
        self.apply_lifecycle(ctx, effects);
    }

    fn sync_controller(&mut self) {
        let controller = self
            .lifecycle
            .as_ref()
            .and_then(BrokerLifecycle::controller)
            .or_else(|| self.fetcher.as_ref().and_then(MetadataObserver::leader_id));
        if let Some(r) = self.replicas.as_mut() {
            r.set_controller(controller);
        }
    }

    fn lifecycle_due<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        self.sync_controller();
        let hint = self.fetcher.as_ref().and_then(MetadataObserver::leader_id);
        let offset = self.image.offset;
        let mut effects = Vec::new();
        let lifecycle = self.lifecycle.as_mut().expect("started");
        lifecycle.on_due(ctx.rng(), hint, offset, &mut effects);
        self.apply_lifecycle(ctx, effects);
    }

    fn apply_lifecycle<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        effects: Vec<LifecycleEffect>,
    ) {
        for effect in effects {
            match effect {
                LifecycleEffect::Send {
                    to,
                    correlation_id,
                    request,
                } => {
                    let msg = ControllerMsg::Request {
                        correlation_id,
                        request,
                    };
                    ctx.send(controller_node(to), msg.into());
                    ctx.set_timer(
                        REQUEST_TIMEOUT_NS,
                        BrokerTimer::RequestTimeout(correlation_id).into(),
                    );
                }
                LifecycleEffect::ScheduleNext(after) => {
                    ctx.set_timer(after, BrokerTimer::Lifecycle.into());
                }
                LifecycleEffect::Registered(epoch) => {
                    ctx.observe(BrokerObs::Registered(epoch).into());
                    if let Some(r) = self.replicas.as_mut() {
                        r.set_broker_epoch(Some(epoch));
                    }
                }
                LifecycleEffect::CaughtUp => {
                    self.data_path_ready = true;
                    if let Some(replicas) = self.replicas.as_mut() {
                        replicas.on_metadata(ctx, &self.image);
                    }
                }
                LifecycleEffect::FencingChanged { fenced } => {
                    ctx.observe(BrokerObs::Fenced(fenced).into())
                }
            }
        }
    }

    fn apply_raft<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, out: Vec<RaftOutput>) {
        for output in out {
            match output {
                RaftOutput::Send { to, msg } => ctx.send(controller_node(to), msg.into()),
                RaftOutput::SetTimer { after_ns, timer } => {
                    ctx.set_timer(after_ns, BrokerTimer::Raft(timer).into());
                }
                RaftOutput::Write {
                    file,
                    offset,
                    bytes,
                } => ctx.disk_mut().write(file, offset, &bytes),
                RaftOutput::Truncate { file, len } => ctx.disk_mut().truncate(file, len),
                RaftOutput::Fsync { file, token } => ctx.fsync(file, token),
                RaftOutput::Committed { upto_offset } => self.replay(ctx, upto_offset),
                RaftOutput::Transition { .. } | RaftOutput::BecameLeader { .. } => {}
            }
        }
    }

    /// Applies committed metadata records below `upto` to the image, then
    /// lets the data path act on what changed.
    fn replay<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, upto: u64) {
        let before = self.image.offset;
        self.replay_records(ctx, upto);
        if self.image.offset > before {
            self.sync_controller();
            if let (true, Some(replicas)) = (self.data_path_ready, self.replicas.as_mut()) {
                replicas.on_metadata(ctx, &self.image);
            }
        }
    }

    fn replay_records<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, upto: u64) {
        let fetcher = self.fetcher.as_ref().expect("started");
        for offset in self.image.offset..upto {
            let Some(entry) = fetcher.log().entry(offset) else {
                break;
            };
            let Record::Data(bytes) = &entry.record else {
                self.image.offset = offset + 1;
                continue;
            };
            let Some(record) = MetadataRecord::decode(bytes) else {
                self.image.offset = offset + 1;
                continue;
            };
            let before = leader_of(&self.image, &record);
            self.image.apply(offset, &record);
            if let Some(after) = leader_of(&self.image, &record) {
                if after.leader == Some(self.id) && Some(&after) != before.as_ref() {
                    ctx.observe(BrokerObs::Leader(after).into());
                }
            }
        }
    }
}

/// Messages a broker handles.
#[derive(Clone, Debug, Hash)]
pub enum BrokerMsg {
    /// Metadata fetch responses.
    Raft(RaftMessage),
    /// Controller responses.
    Rpc(ControllerMsg),
    /// Data-path requests and responses.
    Kafka(KafkaMsg),
}

/// A node type that can host a broker.
pub trait BrokerHost:
    Node<
    Msg: From<RaftMessage> + From<ControllerMsg> + From<KafkaMsg>,
    Timer: From<BrokerTimer>,
    Obs: From<BrokerObs>,
>
{
}

impl<N> BrokerHost for N where
    N: Node<
        Msg: From<RaftMessage> + From<ControllerMsg> + From<KafkaMsg>,
        Timer: From<BrokerTimer>,
        Obs: From<BrokerObs>,
    >
{
}
