//! A controller process: a `RaftClient` driven through the kernel, whose
//! outputs become sends, timers, disk writes and fsyncs. As Kafka's active
//! controller does (KIP-835), the leader appends a no-op record every
//! `metadata.max.idle.interval.ms` so the quorum's high watermark keeps moving.

use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use super::raft::{
    LogEntry, RaftClient, RaftMessage, RaftMutations, RaftOutput, RaftTimer, METADATA_LOG_FILE,
    QUORUM_STATE_FILE,
};

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
    /// Time for the leader to append a no-op record.
    NoOp,
}

/// What a controller reports for the quorum checkers.
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
    /// The voter's high watermark (entries below it are committed).
    HighWatermark(u64),
    /// An entry this voter knows to be committed.
    CommittedEntry(LogEntry),
}

/// A KRaft controller process.
#[derive(Debug)]
pub struct QuorumController {
    id: u32,
    voters: Vec<u32>,
    mutations: RaftMutations,
    noop_interval_ns: Nanos,
    client: Option<RaftClient>,
    /// Committed entries below this were observed by this incarnation.
    observed_upto: u64,
    noops: u64,
}

impl QuorumController {
    /// Controller `id` of the quorum `voters`.
    pub fn new(id: u32, voters: Vec<u32>, mutations: RaftMutations) -> Self {
        Self {
            id,
            voters,
            mutations,
            noop_interval_ns: METADATA_MAX_IDLE_INTERVAL_NS,
            client: None,
            observed_upto: 0,
            noops: 0,
        }
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

    /// A Raft message from controller `from`.
    pub fn on_message<N: ControllerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: u32,
        msg: RaftMessage,
    ) {
        let mut out = Vec::new();
        let now = ctx.now();
        let client = self.client.as_mut().expect("started");
        client.on_message(now, ctx.rng(), from, msg, &mut out);
        self.apply(ctx, out);
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
                if self.client_mut().is_leader() {
                    self.noops += 1;
                    let payload = format!("NoOpRecord {}:{}", self.id, self.noops).into_bytes();
                    self.client_mut().propose(payload, &mut out);
                }
                ctx.set_timer(self.noop_interval_ns, ControllerTimer::NoOp.into());
            }
        }
        self.apply(ctx, out);
    }

    /// The connection to controller `peer` broke.
    pub fn on_disconnect<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: u32) {
        if !self.voters.contains(&peer) {
            return;
        }
        let mut out = Vec::new();
        self.client_mut().on_disconnect(peer, &mut out);
        self.apply(ctx, out);
    }

    /// An fsync this controller asked for completed.
    pub fn on_fsync<N: ControllerHost>(&mut self, ctx: &mut Ctx<'_, N>, token: u64) {
        let mut out = Vec::new();
        self.client_mut().on_fsync(token, &mut out);
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
                RaftOutput::Committed { upto_offset } => {
                    ctx.observe(QuorumObs::HighWatermark(upto_offset).into());
                    let client = self.client.as_ref().expect("started");
                    for offset in self.observed_upto..upto_offset {
                        let entry = client.log().entry(offset).expect("committed is in the log");
                        ctx.observe(QuorumObs::CommittedEntry(entry.clone()).into());
                    }
                    self.observed_upto = self.observed_upto.max(upto_offset);
                }
                RaftOutput::Transition { epoch, .. } => {
                    ctx.observe(QuorumObs::Transition { epoch }.into())
                }
                RaftOutput::BecameLeader { epoch } => {
                    ctx.observe(QuorumObs::BecameLeader { epoch }.into())
                }
            }
        }
    }
}

/// A node type that can host a controller: its messages, timers and
/// observations can carry the controller's.
pub trait ControllerHost:
    Node<Msg: From<RaftMessage>, Timer: From<ControllerTimer>, Obs: From<QuorumObs>>
{
}

impl<N> ControllerHost for N where
    N: Node<Msg: From<RaftMessage>, Timer: From<ControllerTimer>, Obs: From<QuorumObs>>
{
}

impl Node for QuorumController {
    type Msg = RaftMessage;
    type Timer = ControllerTimer;
    type Obs = QuorumObs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        QuorumController::start(self, ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: RaftMessage) {
        QuorumController::on_message(self, ctx, from.0 + 1, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ControllerTimer) {
        QuorumController::on_timer(self, ctx, timer);
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        QuorumController::on_disconnect(self, ctx, peer.0 + 1);
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        QuorumController::on_fsync(self, ctx, token);
    }
}
