//! A controller process: a `RaftClient` driven through the kernel, whose
//! outputs become sends, timers, disk writes and fsyncs, and on top of it
//! Kafka's QuorumController: every controller replays committed metadata
//! records into its image; the Raft leader, once everything before its epoch
//! is committed, claims leadership and serves brokers and admin clients
//! (answering after its records commit). As Kafka's active controller does
//! (KIP-835), the leader appends a NoOpRecord every
//! `metadata.max.idle.interval.ms` so the high watermark keeps moving.

use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use super::active::{ActiveController, ControlEvent, ControllerConfig};
use super::raft::{
    LogEntry, RaftClient, RaftMessage, RaftMutations, RaftOutput, RaftTimer, Record,
    METADATA_LOG_FILE, QUORUM_STATE_FILE,
};
use super::rpc::{ControllerMsg, ControllerRequest};
use crate::metadata::{MetadataImage, MetadataRecord};

/// Kafka's `metadata.max.idle.interval.ms` default.
pub const METADATA_MAX_IDLE_INTERVAL_NS: Nanos = 500 * MILLIS;

/// Controllers are the first nodes of a simulation: controller N is node N-1.
pub fn controller_node(id: u32) -> NodeId {
    NodeId(id - 1)
}

/// A controller's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ControllerTimer {
    /// A timer of the Raft client.
    Raft(RaftTimer),
    /// Time for the leader to append a no-op record and check broker sessions.
    NoOp,
}

/// A partition's leadership as a node's metadata image has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderObs {
    /// `topic-N`.
    pub partition: String,
    /// The leader (None: offline).
    pub leader: Option<u32>,
    /// Its leader epoch.
    pub leader_epoch: i32,
}

/// What a controller reports for the checkers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumObs {
    /// A new incarnation booted from its disk.
    Booted,
    /// The voter moved to a new epoch state.
    Transition {
        /// Its epoch now.
        epoch: u32,
    },
    /// The voter became leader of `epoch`.
    BecameLeader {
        /// The epoch.
        epoch: u32,
    },
    /// An fsync confirmed the voter's election state of this epoch on disk.
    EpochDurable(u32),
    /// The voter's high watermark (entries below it are committed).
    HighWatermark(u64),
    /// An entry this voter knows to be committed.
    CommittedEntry(LogEntry),
    /// A committed record set a partition's leader.
    Leader(LeaderObs),
    /// The active controller changed the cluster.
    Control(ControlEvent),
}

/// Messages a standalone controller handles.
#[derive(Clone, Debug, Hash)]
pub enum QuorumMsg {
    /// Quorum traffic.
    Raft(RaftMessage),
    /// Requests and responses.
    Rpc(ControllerMsg),
}

impl From<RaftMessage> for QuorumMsg {
    fn from(m: RaftMessage) -> Self {
        QuorumMsg::Raft(m)
    }
}

impl From<ControllerMsg> for QuorumMsg {
    fn from(m: ControllerMsg) -> Self {
        QuorumMsg::Rpc(m)
    }
}

/// A KRaft controller process.
#[derive(Debug)]
pub struct QuorumController {
    id: u32,
    voters: Vec<u32>,
    mutations: RaftMutations,
    config: ControllerConfig,
    keep_leader_epoch: bool,
    noop_interval_ns: Nanos,
    client: Option<RaftClient>,
    /// Committed entries below this were observed by this incarnation.
    observed_upto: u64,
    /// The committed records, replayed.
    committed: MetadataImage,
    /// Leadership is claimed once the high watermark reaches this offset.
    claim_at: Option<u64>,
    active: Option<ActiveController>,
    /// Responses waiting for their records to commit: (offset, to, message).
    replies: Vec<(u64, NodeId, ControllerMsg)>,
}

impl QuorumController {
    /// Controller `id` of the quorum `voters`.
    pub fn new(id: u32, voters: Vec<u32>, mutations: RaftMutations) -> Self {
        Self {
            id,
            voters,
            mutations,
            config: ControllerConfig::default(),
            keep_leader_epoch: false,
            noop_interval_ns: METADATA_MAX_IDLE_INTERVAL_NS,
            client: None,
            observed_upto: 0,
            committed: MetadataImage::default(),
            claim_at: None,
            active: None,
            replies: Vec::new(),
        }
    }

    /// Sets the controller's configs.
    pub fn with_config(mut self, config: ControllerConfig) -> Self {
        self.config = config;
        self
    }

    /// Test-only mutation: replaying a leader change does not bump the leader epoch.
    pub fn with_keep_leader_epoch(mut self, on: bool) -> Self {
        self.keep_leader_epoch = on;
        self.committed.keep_leader_epoch = on;
        self
    }

    /// Sets how often the leader appends a no-op record.
    pub fn with_noop_interval(mut self, interval_ns: Nanos) -> Self {
        self.noop_interval_ns = interval_ns.max(1);
        self
    }

    /// The Raft client (None before start).
    pub fn client(&self) -> Option<&RaftClient> {
        self.client.as_ref()
    }

    /// The committed metadata this controller has replayed.
    pub fn committed_image(&self) -> &MetadataImage {
        &self.committed
    }

    /// True while this controller is the active controller.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    fn client_mut(&mut self) -> &mut RaftClient {
        self.client
            .as_mut()
            .expect("a controller handles inputs only after start")
    }

    /// Boot: recover the quorum state and the metadata log from disk.
    pub fn start<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        ctx.observe(QuorumObs::Booted.into());
        let disk = ctx.disk();
        let client = RaftClient::recover(
            self.id,
            self.voters.clone(),
            disk.read(QUORUM_STATE_FILE),
            disk.read(METADATA_LOG_FILE),
        )
        .with_mutations(self.mutations);
        self.client = Some(client);
        let mut out = Vec::new();
        self.client_mut().start(ctx.rng(), &mut out);
        self.apply(ctx, out);
        ctx.set_timer(self.noop_interval_ns, ControllerTimer::NoOp.into());
    }

    /// A message from node `from`: quorum traffic from voters, observer
    /// fetches and requests from brokers and clients.
    pub fn on_message<N: ControllerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        msg: QuorumMsg,
    ) {
        let voter = from.0 + 1;
        match msg {
            QuorumMsg::Raft(msg) if self.voters.contains(&voter) => {
                let mut out = Vec::new();
                let now = ctx.now();
                let client = self.client.as_mut().expect("started");
                client.on_message(now, ctx.rng(), voter, msg, &mut out);
                self.apply(ctx, out);
            }
            QuorumMsg::Raft(RaftMessage::FetchRequest {
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                ..
            }) => {
                let client = self.client.as_ref().expect("started");
                let response =
                    client.observer_fetch(current_leader_epoch, fetch_offset, last_fetched_epoch);
                ctx.send(from, response.into());
            }
            QuorumMsg::Raft(_) => {}
            QuorumMsg::Rpc(ControllerMsg::Request {
                correlation_id,
                request,
            }) => self.on_request(ctx, from, correlation_id, request),
            QuorumMsg::Rpc(ControllerMsg::Response { .. }) => {}
        }
    }

    fn on_request<N: ControllerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        request: ControllerRequest,
    ) {
        let hint = self.client.as_ref().and_then(RaftClient::leader_id);
        let Some(active) = self.active.as_mut() else {
            let response = ControllerMsg::Response {
                correlation_id,
                controller_hint: hint.filter(|&l| l != self.id),
                response: request.not_controller(),
            };
            ctx.send(from, response.into());
            return;
        };
        let now = ctx.now();
        let response = active.handle(now, ctx.rng(), &request);
        let reply = ControllerMsg::Response {
            correlation_id,
            controller_hint: Some(self.id),
            response,
        };
        match self.propose_records(ctx) {
            Some(last) => self.replies.push((last, from, reply)),
            None => ctx.send(from, reply.into()),
        }
    }

    /// Hands the active controller's new records to Raft; returns the last offset.
    fn propose_records<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>) -> Option<u64> {
        let active = self.active.as_mut()?;
        let records = active.take_records();
        for event in active.take_events() {
            ctx.observe(QuorumObs::Control(event).into());
        }
        let mut out = Vec::new();
        let mut last = None;
        let client = self.client.as_mut().expect("started");
        for (offset, record) in records {
            let at = client.propose(record.encode(), &mut out);
            assert_eq!(at, Some(offset), "the active controller leads");
            last = Some(offset);
        }
        self.apply(ctx, out);
        last
    }

    /// A controller timer fired.
    pub fn on_timer<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: ControllerTimer) {
        let mut out = Vec::new();
        let now = ctx.now();
        match timer {
            ControllerTimer::Raft(timer) => {
                let client = self.client.as_mut().expect("started");
                client.on_timer(now, ctx.rng(), timer, &mut out);
            }
            ControllerTimer::NoOp => {
                if let Some(active) = self.active.as_mut() {
                    active.tick(now);
                    active.emit(MetadataRecord::NoOpRecord);
                    self.propose_records(ctx);
                } else if self.client_mut().is_leader() {
                    let payload = MetadataRecord::NoOpRecord.encode();
                    self.client_mut().propose(payload, &mut out);
                }
                ctx.set_timer(self.noop_interval_ns, ControllerTimer::NoOp.into());
            }
        }
        self.apply(ctx, out);
    }

    /// The connection to node `peer` broke.
    pub fn on_disconnect<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        let voter = peer.0 + 1;
        if !self.voters.contains(&voter) {
            return;
        }
        let mut out = Vec::new();
        self.client_mut().on_disconnect(voter, &mut out);
        self.apply(ctx, out);
    }

    /// An fsync this controller asked for completed.
    pub fn on_fsync<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, token: u64) {
        let mut out = Vec::new();
        let before = self.client_mut().durable_epoch();
        self.client_mut().on_fsync(token, &mut out);
        let after = self.client_mut().durable_epoch();
        if after > before {
            ctx.observe(QuorumObs::EpochDurable(after).into());
        }
        self.apply(ctx, out);
    }

    fn apply<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, out: Vec<RaftOutput>) {
        for output in out {
            match output {
                RaftOutput::Send { to, msg } => ctx.send(controller_node(to), msg.into()),
                RaftOutput::SetTimer { after_ns, timer } => {
                    ctx.set_timer(after_ns, ControllerTimer::Raft(timer).into());
                }
                RaftOutput::Write {
                    file,
                    offset,
                    bytes,
                } => ctx.disk_mut().write(file, offset, &bytes),
                RaftOutput::Truncate { file, len } => ctx.disk_mut().truncate(file, len),
                RaftOutput::Fsync { file, token } => ctx.fsync(file, token),
                RaftOutput::Committed { upto_offset } => self.committed(ctx, upto_offset),
                RaftOutput::Transition { epoch, .. } => {
                    ctx.observe(QuorumObs::Transition { epoch }.into());
                    if !self.client.as_ref().is_some_and(RaftClient::is_leader) {
                        // Renounce: what was not committed is forgotten.
                        self.active = None;
                        self.claim_at = None;
                        self.replies.clear();
                    }
                }
                RaftOutput::BecameLeader { epoch } => {
                    ctx.observe(QuorumObs::BecameLeader { epoch }.into());
                    self.active = None;
                    self.replies.clear();
                    let client = self.client.as_ref().expect("started");
                    self.claim_at = Some(client.log().end_offset());
                }
            }
        }
    }

    fn committed<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, upto: u64) {
        ctx.observe(QuorumObs::HighWatermark(upto).into());
        let client = self.client.as_ref().expect("started");
        for offset in self.observed_upto..upto {
            let entry = client.log().entry(offset).expect("committed is in the log");
            if let Record::Data(bytes) = &entry.record {
                if let Some(record) = MetadataRecord::decode(bytes) {
                    let before = leader_of(&self.committed, &record);
                    self.committed.apply(offset, &record);
                    let after = leader_of(&self.committed, &record);
                    if let Some(obs) = after.filter(|a| Some(a) != before.as_ref()) {
                        ctx.observe(QuorumObs::Leader(obs).into());
                    }
                }
            }
            ctx.observe(QuorumObs::CommittedEntry(entry.clone()).into());
        }
        self.observed_upto = self.observed_upto.max(upto);
        // Replies whose records are committed go out.
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.replies)
            .into_iter()
            .partition(|r| r.0 < upto);
        self.replies = waiting;
        for (_, to, msg) in ready {
            ctx.send(to, msg.into());
        }
        if self.active.is_none() && self.claim_at.is_some_and(|at| upto >= at) {
            let client = self.client.as_ref().expect("started");
            let mut image = self.committed.clone();
            image.keep_leader_epoch = self.keep_leader_epoch;
            self.active = Some(ActiveController::claim(
                self.config,
                image,
                client.log().end_offset(),
                ctx.now(),
            ));
        }
    }
}

/// The leadership of the partition `record` touches, as `image` has it.
pub fn leader_of(image: &MetadataImage, record: &MetadataRecord) -> Option<LeaderObs> {
    let (topic_id, partition_id) = match record {
        MetadataRecord::PartitionRecord {
            topic_id,
            partition_id,
            ..
        }
        | MetadataRecord::PartitionChangeRecord {
            topic_id,
            partition_id,
            ..
        } => (*topic_id, *partition_id),
        _ => return None,
    };
    let topic = image.topic_by_id(topic_id)?;
    let p = topic.partitions.get(&partition_id)?;
    Some(LeaderObs {
        partition: format!("{}-{partition_id}", topic.name),
        leader: p.leader,
        leader_epoch: p.leader_epoch,
    })
}

/// A node type that can host a controller: its messages, timers and
/// observations can carry the controller's.
pub trait ControllerHost:
    Node<
    Msg: From<RaftMessage> + From<ControllerMsg>,
    Timer: From<ControllerTimer>,
    Obs: From<QuorumObs>,
>
{
}

impl<N> ControllerHost for N where
    N: Node<
        Msg: From<RaftMessage> + From<ControllerMsg>,
        Timer: From<ControllerTimer>,
        Obs: From<QuorumObs>,
    >
{
}

impl Node for QuorumController {
    type Msg = QuorumMsg;
    type Timer = ControllerTimer;
    type Obs = QuorumObs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        QuorumController::start(self, ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: QuorumMsg) {
        QuorumController::on_message(self, ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ControllerTimer) {
        QuorumController::on_timer(self, ctx, timer);
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        QuorumController::on_disconnect(self, ctx, peer);
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        QuorumController::on_fsync(self, ctx, token);
    }
}
