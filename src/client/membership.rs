//! A consumer's side of the classic group protocol (Kafka's
//! ConsumerCoordinator over AbstractCoordinator): find the coordinator, join
//! (MEMBER_ID_REQUIRED, then again with the id), compute the assignment when
//! elected leader, sync, heartbeat every `heartbeat.interval.ms`, and react
//! to the coordinator's errors as the Java client does: rejoin on
//! REBALANCE_IN_PROGRESS, reset the generation on ILLEGAL_GENERATION and
//! the member id too on UNKNOWN_MEMBER_ID (its partitions are lost), and
//! look for the coordinator again on NOT_COORDINATOR or
//! COORDINATOR_NOT_AVAILABLE. FENCED_INSTANCE_ID is fatal.
//!
//! Sans-IO: requests and what the application sees come out as
//! [`MembershipOutput`]s; time enters as `now_ms`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::Errors;
use crate::group::assignor::{assign, Assignor, Subscription};
use crate::group::classic::{GroupResponse, JoinGroup, SyncGroup};
use crate::group::coordinator::{CoordinatorRequest, CoordinatorResponse};
use crate::protocol::TopicPartition;

/// The consumer's group configs, with Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id` (static membership, KIP-345).
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms` (45000).
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (3000).
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms` (300000): the rebalance timeout.
    pub max_poll_interval_ms: u64,
    /// `partition.assignment.strategy`, by preference (Kafka 3.x: range, cooperative-sticky).
    pub assignors: Vec<Assignor>,
    /// `retry.backoff.ms` (100).
    pub retry_backoff_ms: u64,
}

impl MembershipConfig {
    /// Kafka's defaults for `group_id` and `client_id`.
    pub fn new(group_id: &str, client_id: &str) -> Self {
        Self {
            group_id: group_id.to_owned(),
            group_instance_id: None,
            client_id: client_id.to_owned(),
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            retry_backoff_ms: 100,
        }
    }
}

/// The subscription a member sends in JoinGroup (ConsumerProtocolSubscription).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WireSubscription {
    topics: Vec<String>,
    owned: Vec<(String, u32)>,
    generation: i32,
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Any broker (FindCoordinator).
    AnyBroker,
    /// The group's coordinator.
    Coordinator(u32),
}

/// What membership asks of the consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipOutput {
    /// Send FindCoordinator for the group to any broker.
    FindCoordinator,
    /// Send this request to the coordinator broker.
    Send(u32, CoordinatorRequest),
    /// The member now owns these partitions in this generation (it should
    /// fetch their committed offsets and start consuming).
    Assigned {
        /// Generation.
        generation_id: i32,
        /// Newly owned.
        added: Vec<TopicPartition>,
    },
    /// The member gives these up (onPartitionsRevoked: commit first if it can).
    Revoked(Vec<TopicPartition>),
    /// The member lost these without a chance to commit (onPartitionsLost).
    Lost(Vec<TopicPartition>),
    /// Fenced for good (FENCED_INSTANCE_ID): the consumer must stop.
    Fatal(Errors),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No coordinator known.
    FindingCoordinator,
    /// Ready to (re)join.
    Unjoined,
    /// JoinGroup in flight.
    Joining,
    /// SyncGroup in flight.
    Syncing,
    /// Has its assignment; heartbeating.
    Stable,
    /// Fenced for good.
    Fatal,
}

/// A consumer's group membership.
#[derive(Clone, Debug)]
pub struct Membership {
    config: MembershipConfig,
    topics: Vec<String>,
    coordinator: Option<u32>,
    phase: Phase,
    member_id: String,
    generation_id: i32,
    owned: Vec<TopicPartition>,
    /// When the next heartbeat is due (Stable only).
    next_heartbeat_ms: u64,
    heartbeat_in_flight: bool,
    /// Back off until then before the next attempt.
    retry_at_ms: u64,
    /// The coordinator was lost mid-rebalance: rejoin once it is found.
    rejoin_after_find: bool,
    /// An eager rejoin gives every partition up first (onJoinPrepare).
    revoke_before_join: bool,
    /// The application is at a poll boundary with no revocation commit in
    /// flight: a JoinGroup may go (KafkaConsumer rejoins inside poll(),
    /// after onJoinPrepare's commit completed).
    join_ready: bool,
    /// As group leader: the partitions per topic its assignment was made
    /// with (Kafka's `assignmentSnapshot`; None when another member led).
    assignment_snapshot: Option<BTreeMap<String, u32>>,
}

impl Membership {
    /// A consumer of `topics` in the group of `config`.
    pub fn new(config: MembershipConfig, topics: Vec<String>) -> Self {
        Self {
            config,
            topics,
            coordinator: None,
            phase: Phase::FindingCoordinator,
            member_id: String::new(),
            generation_id: -1,
            owned: Vec::new(),
            next_heartbeat_ms: 0,
            heartbeat_in_flight: false,
            retry_at_ms: 0,
            rejoin_after_find: false,
            revoke_before_join: false,
            join_ready: true,
            assignment_snapshot: None,
        }
    }

    /// Member id (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Generation of the current assignment (-1 when none).
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// The partitions it owns.
    pub fn owned(&self) -> &[TopicPartition] {
        &self.owned
    }

    /// The coordinator it talks to.
    pub fn coordinator(&self) -> Option<u32> {
        self.coordinator
    }

    /// Whether a rebalance is under way (joining or syncing).
    pub fn is_rebalancing(&self) -> bool {
        matches!(
            self.phase,
            Phase::Unjoined | Phase::Joining | Phase::Syncing
        )
    }

    /// Whether it has a current assignment.
    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable
    }

    /// Whether a JoinGroup may be sent now (see `join_ready`); true unless
    /// the consumer says otherwise.
    pub fn set_join_ready(&mut self, ready: bool) {
        self.join_ready = ready;
    }

    /// Drives timers: find the coordinator, join, heartbeat. Call whenever
    /// something changes and at least every `heartbeat.interval.ms`.
    pub fn poll(&mut self, now_ms: u64, out: &mut Vec<MembershipOutput>) {
        if now_ms < self.retry_at_ms {
            return;
        }
        match self.phase {
            Phase::FindingCoordinator => {
                self.retry_at_ms = now_ms + self.config.retry_backoff_ms;
                out.push(MembershipOutput::FindCoordinator);
            }
            Phase::Unjoined => self.prepare_join(out),
            Phase::Stable if !self.heartbeat_in_flight && now_ms >= self.next_heartbeat_ms => {
                if let Some(c) = self.coordinator {
                    self.heartbeat_in_flight = true;
                    self.next_heartbeat_ms = now_ms + self.config.heartbeat_interval_ms;
                    out.push(MembershipOutput::Send(
                        c,
                        CoordinatorRequest::Heartbeat {
                            generation_id: self.generation_id,
                            member_id: self.member_id.clone(),
                            group_instance_id: self.config.group_instance_id.clone(),
                        },
                    ));
                }
            }
            _ => {}
        }
    }

    /// The FindCoordinator answer: the coordinator's broker id, or an error.
    pub fn on_find_coordinator(
        &mut self,
        now_ms: u64,
        coordinator: Result<u32, Errors>,
        out: &mut Vec<MembershipOutput>,
    ) {
        if self.phase != Phase::FindingCoordinator {
            return;
        }
        match coordinator {
            Ok(broker) => {
                self.coordinator = Some(broker);
                let rejoin = std::mem::take(&mut self.rejoin_after_find);
                self.phase = if rejoin || (self.owned.is_empty() && self.generation_id < 0) {
                    Phase::Unjoined
                } else {
                    // It had an assignment: heartbeat the new coordinator,
                    // which loaded the group, instead of rejoining.
                    Phase::Stable
                };
                self.retry_at_ms = 0;
                self.next_heartbeat_ms = now_ms;
                self.poll(now_ms, out);
            }
            Err(_) => self.retry_at_ms = now_ms + self.config.retry_backoff_ms,
        }
    }

    /// The connection to the coordinator broke or a request to it timed out.
    pub fn on_coordinator_lost(&mut self, now_ms: u64) {
        if self.phase == Phase::Fatal {
            return;
        }
        // A JoinGroup or SyncGroup in flight dies with the connection: the
        // member rejoins once it finds the coordinator (AbstractCoordinator).
        if matches!(
            self.phase,
            Phase::Unjoined | Phase::Joining | Phase::Syncing
        ) {
            self.rejoin_after_find = true;
        }
        self.coordinator = None;
        self.heartbeat_in_flight = false;
        self.phase = Phase::FindingCoordinator;
        self.retry_at_ms = now_ms + self.config.retry_backoff_ms;
    }

    /// The metadata now shows `partitions` per topic: a stable leader
    /// whose assignment saw other counts rejoins, so that partitions added
    /// to a topic get assigned (Kafka's `ConsumerCoordinator.rejoinNeededOrPending`:
    /// only the leader, which holds the assignment snapshot, compares).
    pub fn check_metadata(&mut self, partitions: &BTreeMap<String, u32>) {
        let changed = self
            .assignment_snapshot
            .as_ref()
            .is_some_and(|s| s != partitions);
        self.rejoin_if_changed(changed);
    }

    /// [`Self::check_metadata`] with `{topic: count}`, without building
    /// the map (a consumer of one topic checks at every step).
    pub fn check_metadata_of(&mut self, topic: &str, count: u32) {
        let changed = self
            .assignment_snapshot
            .as_ref()
            .is_some_and(|s| s.len() != 1 || s.get(topic) != Some(&count));
        self.rejoin_if_changed(changed);
    }

    fn rejoin_if_changed(&mut self, changed: bool) {
        if changed && self.phase == Phase::Stable {
            self.rejoin();
        }
    }

    /// onJoinPrepare, then JoinGroup: an eager member first revokes what it
    /// owns (the consumer commits and holds the join until that commit ends).
    fn prepare_join(&mut self, out: &mut Vec<MembershipOutput>) {
        if !self.join_ready {
            return;
        }
        self.assignment_snapshot = None;
        if std::mem::take(&mut self.revoke_before_join) && !self.owned.is_empty() {
            out.push(MembershipOutput::Revoked(std::mem::take(&mut self.owned)));
            return;
        }
        self.send_join(out);
    }

    fn send_join(&mut self, out: &mut Vec<MembershipOutput>) {
        let Some(c) = self.coordinator else {
            self.phase = Phase::FindingCoordinator;
            return;
        };
        let subscription = WireSubscription {
            topics: self.topics.clone(),
            owned: self
                .owned
                .iter()
                .map(|tp| (tp.topic.clone(), tp.partition))
                .collect(),
            generation: self.generation_id,
        };
        let metadata = serde_json::to_vec(&subscription).expect("subscriptions encode");
        let protocols = self
            .config
            .assignors
            .iter()
            .map(|a| (a.name().to_owned(), metadata.clone()))
            .collect();
        self.phase = Phase::Joining;
        out.push(MembershipOutput::Send(
            c,
            CoordinatorRequest::JoinGroup(JoinGroup {
                member_id: self.member_id.clone(),
                group_instance_id: self.config.group_instance_id.clone(),
                client_id: self.config.client_id.clone(),
                session_timeout_ms: self.config.session_timeout_ms,
                rebalance_timeout_ms: self.config.max_poll_interval_ms,
                protocol_type: "consumer".to_owned(),
                protocols,
            }),
        ));
    }

    /// Whether the chosen protocol revokes only what moves (cooperative).
    fn cooperative(&self) -> bool {
        self.config
            .assignors
            .first()
            .is_some_and(|a| a.is_cooperative())
            && self.config.assignors.iter().all(|a| a.is_cooperative())
    }

    /// Starts a rebalance from Stable: the eager protocol gives up every
    /// partition before rejoining; the cooperative one keeps them.
    fn rejoin(&mut self) {
        self.revoke_before_join = !self.cooperative() && !self.owned.is_empty();
        self.heartbeat_in_flight = false;
        self.phase = Phase::Unjoined;
        // The JoinGroup goes at the next poll(), once the consumer says
        // whether it is at a poll boundary with no revocation commit pending.
    }

    /// The partitions are gone without a commit: reset to a fresh member.
    fn lose(&mut self, reset_member_id: bool, out: &mut Vec<MembershipOutput>) {
        if !self.owned.is_empty() {
            out.push(MembershipOutput::Lost(std::mem::take(&mut self.owned)));
        }
        self.revoke_before_join = false;
        self.generation_id = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        self.heartbeat_in_flight = false;
        self.phase = Phase::Unjoined;
        self.send_join(out);
    }

    /// Errors every group response may carry.
    fn on_error(&mut self, now_ms: u64, error: Errors, out: &mut Vec<MembershipOutput>) {
        match error {
            Errors::NotCoordinator
            | Errors::CoordinatorNotAvailable
            | Errors::CoordinatorLoadInProgress => self.on_coordinator_lost(now_ms),
            Errors::RebalanceInProgress => self.rejoin(),
            Errors::IllegalGeneration => self.lose(false, out),
            Errors::UnknownMemberId => self.lose(true, out),
            Errors::FencedInstanceId => {
                self.phase = Phase::Fatal;
                out.push(MembershipOutput::Fatal(error));
            }
            _ => {
                self.phase = Phase::Unjoined;
                self.retry_at_ms = now_ms + self.config.retry_backoff_ms;
            }
        }
    }

    /// A response from the coordinator.
    pub fn on_response(
        &mut self,
        now_ms: u64,
        partitions_per_topic: &BTreeMap<String, u32>,
        response: CoordinatorResponse,
        out: &mut Vec<MembershipOutput>,
    ) {
        let CoordinatorResponse::Group(response) = response else {
            return;
        };
        match response {
            GroupResponse::JoinGroup {
                error,
                generation_id,
                protocol_name,
                leader,
                member_id,
                members,
            } => {
                if self.phase != Phase::Joining {
                    return;
                }
                match error {
                    Some(Errors::MemberIdRequired) => {
                        self.member_id = member_id;
                        self.phase = Phase::Unjoined;
                        self.send_join(out);
                    }
                    Some(e) => self.on_error(now_ms, e, out),
                    None => {
                        self.member_id = member_id;
                        self.generation_id = generation_id;
                        let assignments = if leader == self.member_id {
                            let assignor = protocol_name
                                .as_deref()
                                .and_then(Assignor::from_name)
                                .unwrap_or(Assignor::Range);
                            self.assignment_snapshot = Some(partitions_per_topic.clone());
                            leader_assignment(assignor, partitions_per_topic, &members)
                        } else {
                            Vec::new()
                        };
                        self.phase = Phase::Syncing;
                        if let Some(c) = self.coordinator {
                            out.push(MembershipOutput::Send(
                                c,
                                CoordinatorRequest::SyncGroup(SyncGroup {
                                    generation_id,
                                    member_id: self.member_id.clone(),
                                    group_instance_id: self.config.group_instance_id.clone(),
                                    assignments,
                                }),
                            ));
                        }
                    }
                }
            }
            GroupResponse::SyncGroup { error, assignment } => {
                if self.phase != Phase::Syncing {
                    return;
                }
                match error {
                    Some(e) => self.on_error(now_ms, e, out),
                    None => self.on_assignment(now_ms, &assignment, out),
                }
            }
            GroupResponse::Heartbeat { error } => {
                self.heartbeat_in_flight = false;
                if self.phase != Phase::Stable {
                    return;
                }
                if let Some(e) = error {
                    self.on_error(now_ms, e, out);
                }
            }
            GroupResponse::LeaveGroup { .. } => {}
        }
    }

    fn on_assignment(&mut self, now_ms: u64, assignment: &[u8], out: &mut Vec<MembershipOutput>) {
        let new: Vec<TopicPartition> = serde_json::from_slice::<Vec<(String, u32)>>(assignment)
            .unwrap_or_default()
            .into_iter()
            .map(|(t, p)| TopicPartition::new(&t, p))
            .collect();
        let revoked: Vec<TopicPartition> = self
            .owned
            .iter()
            .filter(|tp| !new.contains(tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = new
            .iter()
            .filter(|tp| !self.owned.contains(tp))
            .cloned()
            .collect();
        if !revoked.is_empty() {
            out.push(MembershipOutput::Revoked(revoked.clone()));
        }
        self.owned = new;
        self.phase = Phase::Stable;
        self.next_heartbeat_ms = now_ms + self.config.heartbeat_interval_ms;
        out.push(MembershipOutput::Assigned {
            generation_id: self.generation_id,
            added,
        });
        // Cooperative: what was revoked must be assigned elsewhere in a
        // second rebalance, which this member starts (KIP-429).
        if self.cooperative() && !revoked.is_empty() {
            self.rejoin();
        }
    }

    /// An OffsetCommit or OffsetFetch failed with `error`: the generation or
    /// member is gone (rejoin, partitions lost), a rebalance is on (rejoin),
    /// or the coordinator moved (find it again), as the Java client reacts.
    pub fn on_offsets_error(
        &mut self,
        now_ms: u64,
        error: Errors,
        out: &mut Vec<MembershipOutput>,
    ) {
        match error {
            Errors::NotCoordinator
            | Errors::CoordinatorNotAvailable
            | Errors::CoordinatorLoadInProgress
                if self.phase != Phase::FindingCoordinator =>
            {
                self.on_coordinator_lost(now_ms)
            }
            Errors::IllegalGeneration
            | Errors::UnknownMemberId
            | Errors::RebalanceInProgress
            | Errors::FencedInstanceId
                if self.phase == Phase::Stable =>
            {
                self.on_error(now_ms, error, out)
            }
            _ => {}
        }
    }

    /// LeaveGroup on a clean shutdown (dynamic members only; a static member
    /// keeps its place until its session times out).
    pub fn leave(&mut self, out: &mut Vec<MembershipOutput>) {
        if let (Some(c), None, false) = (
            self.coordinator,
            &self.config.group_instance_id,
            self.member_id.is_empty(),
        ) {
            out.push(MembershipOutput::Send(
                c,
                CoordinatorRequest::LeaveGroup {
                    member_id: self.member_id.clone(),
                    group_instance_id: None,
                },
            ));
        }
    }
}

/// The leader's assignment: every member's subscription decoded, the
/// assignor run, each member's partitions encoded.
fn leader_assignment(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &[(String, Option<String>, Vec<u8>)],
) -> Vec<(String, Vec<u8>)> {
    let subscriptions: BTreeMap<String, Subscription> = members
        .iter()
        .map(|(id, instance, metadata)| {
            let wire: WireSubscription =
                serde_json::from_slice(metadata).unwrap_or(WireSubscription {
                    topics: Vec::new(),
                    owned: Vec::new(),
                    generation: -1,
                });
            let subscription = Subscription {
                topics: wire.topics,
                instance_id: instance.clone(),
                owned: wire
                    .owned
                    .iter()
                    .map(|(t, p)| TopicPartition::new(t, *p))
                    .collect(),
                generation: (wire.generation >= 0).then_some(wire.generation),
            };
            (id.clone(), subscription)
        })
        .collect();
    assign(assignor, partitions_per_topic, &subscriptions)
        .into_iter()
        .map(|(id, tps)| {
            let wire: Vec<(String, u32)> =
                tps.into_iter().map(|tp| (tp.topic, tp.partition)).collect();
            (id, serde_json::to_vec(&wire).expect("assignments encode"))
        })
        .collect()
}
