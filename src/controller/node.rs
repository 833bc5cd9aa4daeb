//! A controller process: a `RaftClient` driven through the kernel, whose
//! outputs become sends, timers, disk writes and fsyncs, and on top of it
//! Kafka's QuorumController: every controller replays committed metadata
//! records into its image; the Raft leader, once everything before its epoch
//! is committed, claims leadership and serves brokers and admin clients
//! (answering after its records commit). As Kafka's active controller does
//! from 3.3 (KIP-835, `[protocol] metadata_noop_records`), the leader
//! appends a NoOpRecord every `metadata.max.idle.interval.ms` so the high
//! watermark keeps moving; the same timer checks broker sessions in every
//! release.

use sim::{Nanos, MILLIS};

use super::active::{ActiveController, ControlEvent, ControllerConfig};
use super::raft::{
    FetchFields, LogEntry, RaftClient, RaftMutations, RaftOutput, Record, METADATA_LOG_FILE,
    QUORUM_STATE_FILE,
};
use super::rpc::{ControllerMsg, ControllerRequest, ControllerResponse};
use crate::metadata::{MetadataImage, MetadataRecord};
use crate::node::{Address, DiskView, Env, Input, KafkaNodeId, Timer};
use crate::protocol::Message;

/// Kafka's `metadata.max.idle.interval.ms` default.
pub const METADATA_MAX_IDLE_INTERVAL_NS: Nanos = 500 * MILLIS;

/// A controller's own timer (the Raft client's are `Timer::Raft`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ControllerTimer {
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
    /// Its topic's id (a topic created again under a deleted one's name
    /// counts its leader epochs from 0 again).
    pub topic_id: crate::metadata::Uuid,
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

/// What a controller is set up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerSpec {
    /// Its Kafka node id.
    pub id: KafkaNodeId,
    /// The quorum's voters (Kafka node ids, sorted).
    pub voters: Vec<KafkaNodeId>,
    /// The controller configs.
    pub config: ControllerConfig,
    /// Test-only quorum bugs.
    pub mutations: RaftMutations,
    /// Test-only mutation: replaying a leader change does not bump the leader epoch.
    pub keep_leader_epoch: bool,
    /// `metadata.max.idle.interval.ms`: how often the leader appends a no-op record.
    pub noop_interval_ns: Nanos,
}

impl ControllerSpec {
    /// Controller `id` of `voters` with Kafka's defaults.
    pub fn new(id: KafkaNodeId, voters: Vec<KafkaNodeId>) -> Self {
        Self {
            id,
            voters,
            config: ControllerConfig::default(),
            mutations: RaftMutations::default(),
            keep_leader_epoch: false,
            noop_interval_ns: METADATA_MAX_IDLE_INTERVAL_NS,
        }
    }
}

/// A controller's answer waiting for the records it wrote (or those
/// proposed before it) to commit.
#[derive(Debug)]
struct PendingReply {
    /// Sent once the metadata log commits past this offset.
    offset: u64,
    to: Address,
    correlation_id: u64,
    response: ControllerResponse,
    /// The request's NOT_CONTROLLER answer, sent instead if the controller
    /// renounces first.
    refusal: ControllerResponse,
}

/// A KRaft controller process.
#[derive(Debug)]
pub struct QuorumController {
    id: KafkaNodeId,
    voters: Vec<KafkaNodeId>,
    config: ControllerConfig,
    keep_leader_epoch: bool,
    noop_interval_ns: Nanos,
    client: RaftClient,
    /// Committed entries below this were observed by this incarnation.
    observed_upto: u64,
    /// The offset of the last committed data record (Kafka's
    /// `lastCommittedOffset`: control batches are not handed to the
    /// controller before 3.6, KAFKA-15345).
    last_committed_data: Option<u64>,
    /// The committed records, replayed.
    committed: MetadataImage,
    /// Leadership is claimed once the high watermark reaches this offset.
    claim_at: Option<u64>,
    active: Option<ActiveController>,
    /// Responses waiting for their records to commit.
    replies: Vec<PendingReply>,
}

impl QuorumController {
    /// Boots: recovers the quorum state and the metadata log from disk.
    pub fn boot(spec: &ControllerSpec, env: &mut Env<'_>, disk: &dyn DiskView) -> Self {
        env.observe(QuorumObs::Booted);
        let client = RaftClient::recover(
            spec.id,
            spec.voters.clone(),
            disk.read(QUORUM_STATE_FILE).as_deref(),
            disk.read(METADATA_LOG_FILE).as_deref(),
        )
        .with_mutations(spec.mutations)
        .with_config(spec.config.raft);
        let mut committed = MetadataImage::default();
        committed.keep_leader_epoch = spec.keep_leader_epoch;
        let mut controller = Self {
            id: spec.id,
            voters: spec.voters.clone(),
            config: spec.config,
            keep_leader_epoch: spec.keep_leader_epoch,
            noop_interval_ns: spec.noop_interval_ns.max(1),
            client,
            observed_upto: 0,
            last_committed_data: None,
            committed,
            claim_at: None,
            active: None,
            replies: Vec::new(),
        };
        let mut out = Vec::new();
        let now = env.now();
        controller.client.start(now, env.rng(), &mut out);
        controller.apply(env, out);
        env.set_timer_after(controller.noop_interval_ns, ControllerTimer::NoOp);
        controller
    }

    /// The Raft client.
    pub fn client(&self) -> &RaftClient {
        &self.client
    }

    /// The committed metadata this controller has replayed.
    pub fn committed_image(&self) -> &MetadataImage {
        &self.committed
    }

    /// True while this controller is the active controller.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Handles one input: quorum traffic from voters, observer fetches and
    /// requests from brokers and clients, timers and fsyncs.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        let now = env.now();
        match input {
            Input::Message { from, msg } => self.on_message(env, from, msg),
            Input::Timer(Timer::Raft(timer)) => {
                let mut out = Vec::new();
                self.client.on_timer(now, env.rng(), timer, &mut out);
                self.apply(env, out);
            }
            Input::Timer(Timer::Controller(ControllerTimer::NoOp)) => {
                let mut out = Vec::new();
                // Before KIP-835 (3.3, `metadata_noop_records` off) the
                // timer only checks broker sessions.
                let noop = self.config.metadata_noop_records;
                if let Some(active) = self.active.as_mut() {
                    active.tick(now);
                    if noop {
                        active.emit(MetadataRecord::NoOpRecord);
                    }
                    self.propose_records(env);
                } else if noop && self.client.is_leader() {
                    let payload = MetadataRecord::NoOpRecord.encode();
                    self.client.propose(payload, &mut out);
                }
                env.set_timer_after(self.noop_interval_ns, ControllerTimer::NoOp);
                self.apply(env, out);
            }
            Input::Disconnected(Address::Node(peer)) if self.voters.contains(&peer) => {
                let mut out = Vec::new();
                self.client.on_disconnect(now, peer, &mut out);
                self.apply(env, out);
            }
            Input::Fsynced(token) => {
                let mut out = Vec::new();
                let before = self.client.durable_epoch();
                self.client.on_fsync(now, token, &mut out);
                let after = self.client.durable_epoch();
                if after > before {
                    env.observe(QuorumObs::EpochDurable(after));
                }
                self.apply(env, out);
            }
            _ => {}
        }
    }

    fn on_message(&mut self, env: &mut Env<'_>, from: Address, msg: Message) {
        match msg {
            Message::Raft(msg) => match from {
                Address::Node(voter) if self.voters.contains(&voter) => {
                    let mut out = Vec::new();
                    let now = env.now();
                    self.client.on_message(now, env.rng(), voter, msg, &mut out);
                    self.apply(env, out);
                }
                Address::Node(observer) => {
                    if let Some(request) = FetchFields::of(&msg) {
                        let mut out = Vec::new();
                        let now = env.now();
                        self.client.observer_fetch(now, observer, request, &mut out);
                        self.apply(env, out);
                    }
                }
                Address::Client(_) => {}
            },
            Message::Controller(ControllerMsg::Request {
                correlation_id,
                request,
            }) => self.on_request(env, from, correlation_id, request),
            Message::Controller(ControllerMsg::Response { .. }) | Message::Kafka(_) => {}
        }
    }

    fn on_request(
        &mut self,
        env: &mut Env<'_>,
        from: Address,
        correlation_id: u64,
        request: ControllerRequest,
    ) {
        let hint = self.client.leader_id();
        let Some(active) = self.active.as_mut() else {
            let response = ControllerMsg::Response {
                correlation_id,
                controller_hint: hint.filter(|&l| l != self.id),
                response: request.not_controller(),
            };
            env.send(from, response);
            return;
        };
        let now = env.now();
        let response = active.handle(now, env.rng(), &request);
        // An operation that wrote records is answered once they commit; one
        // that wrote none read the active controller's in-memory state,
        // which may hold uncommitted records: as Kafka's QuorumController,
        // it is answered once everything proposed before it has committed.
        let wait_for = self.propose_records(env).or_else(|| {
            let end = self.client.log().end_offset();
            (end > self.client.high_watermark()).then(|| end - 1)
        });
        match wait_for {
            Some(offset) => self.replies.push(PendingReply {
                offset,
                to: from,
                correlation_id,
                response,
                refusal: request.not_controller(),
            }),
            None => env.send(
                from,
                ControllerMsg::Response {
                    correlation_id,
                    controller_hint: Some(self.id),
                    response,
                },
            ),
        }
    }

    /// Hands the active controller's new records to Raft; returns the last offset.
    fn propose_records(&mut self, env: &mut Env<'_>) -> Option<u64> {
        let active = self.active.as_mut()?;
        let records = active.take_records();
        for event in active.take_events() {
            env.observe(QuorumObs::Control(event));
        }
        let mut out = Vec::new();
        let last = records.last().map(|&(offset, _)| offset);
        if let (Some(&(first, _)), Some(last)) = (records.first(), last) {
            // One operation's records go in one batch.
            let payloads = records.iter().map(|(_, record)| record.encode()).collect();
            let at = self.client.propose_batch(payloads, &mut out);
            assert_eq!(at, Some(first..last + 1), "the active controller leads");
        }
        self.apply(env, out);
        last
    }

    /// Carries out the Raft client's effects and acts on its events.
    fn apply(&mut self, env: &mut Env<'_>, out: Vec<RaftOutput>) {
        for output in out {
            match output {
                RaftOutput::Io(effect) => env.push(effect),
                RaftOutput::Committed { upto_offset } => self.committed(env, upto_offset),
                RaftOutput::Transition { epoch, .. } => {
                    env.observe(QuorumObs::Transition { epoch });
                    if !self.client.is_leader() {
                        // Renounce: what was not committed is forgotten.
                        self.active = None;
                        self.claim_at = None;
                        self.refuse_pending_replies(env);
                    }
                }
                RaftOutput::BecameLeader { epoch } => {
                    env.observe(QuorumObs::BecameLeader { epoch });
                    self.active = None;
                    self.refuse_pending_replies(env);
                    self.claim_at = Some(self.client.log().end_offset());
                }
            }
        }
    }

    /// Answers every request waiting for its records to commit with
    /// NOT_CONTROLLER, naming the new leader if known (Kafka's
    /// `QuorumController.renounce` fails its purgatory's deferred events
    /// with a NotControllerException, so the broker sends them again to the
    /// new active controller at once).
    fn refuse_pending_replies(&mut self, env: &mut Env<'_>) {
        let hint = self.client.leader_id().filter(|&l| l != self.id);
        for pending in std::mem::take(&mut self.replies) {
            let refusal = ControllerMsg::Response {
                correlation_id: pending.correlation_id,
                controller_hint: hint,
                response: pending.refusal,
            };
            env.send(pending.to, refusal);
        }
    }

    fn committed(&mut self, env: &mut Env<'_>, upto: u64) {
        env.observe(QuorumObs::HighWatermark(upto));
        for offset in self.observed_upto..upto {
            let entry = self
                .client
                .log()
                .entry(offset)
                .expect("committed is in the log");
            if let Record::Data(bytes) = &entry.record {
                self.last_committed_data = Some(offset);
                if let Some(record) = MetadataRecord::decode(bytes) {
                    let before = leader_of(&self.committed, &record);
                    self.committed.apply(offset, &record);
                    let after = leader_of(&self.committed, &record);
                    if let Some(obs) = after.filter(|a| Some(a) != before.as_ref()) {
                        env.observe(QuorumObs::Leader(obs));
                    }
                }
            }
            env.observe(QuorumObs::CommittedEntry(entry.clone()));
        }
        self.observed_upto = self.observed_upto.max(upto);
        if let Some(active) = self.active.as_mut() {
            active.set_last_committed_offset(self.last_committed_data);
        }
        // Replies whose records are committed go out.
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.replies)
            .into_iter()
            .partition(|r| r.offset < upto);
        self.replies = waiting;
        for pending in ready {
            let reply = ControllerMsg::Response {
                correlation_id: pending.correlation_id,
                controller_hint: Some(self.id),
                response: pending.response,
            };
            env.send(pending.to, reply);
        }
        if self.active.is_none() && self.claim_at.is_some_and(|at| upto >= at) {
            let mut image = self.committed.clone();
            image.keep_leader_epoch = self.keep_leader_epoch;
            let mut active = ActiveController::claim(
                self.config,
                image,
                self.client.log().end_offset(),
                env.now(),
            );
            active.set_last_committed_offset(self.last_committed_data);
            self.active = Some(active);
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
        topic_id,
    })
}
