//! One consumer group under the classic rebalance protocol, as Kafka's
//! group coordinator runs it (`ClassicGroup` and the classic handlers of
//! `GroupMetadataManager`): JoinGroup, SyncGroup, Heartbeat, LeaveGroup and
//! OffsetCommit validation, the states Empty, PreparingRebalance,
//! CompletingRebalance, Stable and Dead, generations, session and rebalance
//! timeouts, and static membership (KIP-345).
//!
//! Sans-IO: requests come in with an opaque reply handle `R`; responses,
//! deferred until the join or sync phase completes, come out as
//! [`GroupOutput`]s, as does the request to persist the group's metadata to
//! `__consumer_offsets` (the caller reports back through
//! [`ClassicGroup::on_stored`]). Time enters only as `now_ms` arguments.

use std::collections::{BTreeMap, BTreeSet};

use crate::errors::Errors;

/// `group.initial.rebalance.delay.ms` default: the first rebalance of an
/// empty group waits this long (extended up to the rebalance timeout) for
/// more members.
pub const GROUP_INITIAL_REBALANCE_DELAY_MS: u64 = 3_000;

/// The classic group states (Kafka's `ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum GroupState {
    /// No members (maybe committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment in SyncGroup.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Unloaded or deleted.
    Dead,
}

impl GroupState {
    /// Kafka's name, as `kafka-consumer-groups.sh --describe --state` prints it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JoinGroup {
    /// Empty on the first join.
    pub member_id: String,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms` for consumers.
    pub rebalance_timeout_ms: u64,
    /// "consumer".
    pub protocol_type: String,
    /// Assignor names with the member's subscription metadata, by preference.
    pub protocols: Vec<(String, Vec<u8>)>,
}

/// A SyncGroup request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncGroup {
    /// The generation the member joined.
    pub generation_id: i32,
    /// Its member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// From the leader: member id -> assignment; empty from followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A group's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupResponse {
    /// JoinGroupResponse.
    JoinGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The new generation.
        generation_id: i32,
        /// The chosen assignor.
        protocol_name: Option<String>,
        /// The leader's member id.
        leader: String,
        /// The member's id (new on MEMBER_ID_REQUIRED).
        member_id: String,
        /// For the leader only: every member with its metadata for the chosen protocol.
        members: Vec<(String, Option<String>, Vec<u8>)>,
    },
    /// SyncGroupResponse.
    SyncGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The member's assignment.
        assignment: Vec<u8>,
    },
    /// HeartbeatResponse.
    Heartbeat {
        /// REBALANCE_IN_PROGRESS tells the member to rejoin.
        error: Option<Errors>,
    },
    /// LeaveGroupResponse.
    LeaveGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
}

/// What the group asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutput<R> {
    /// Send this response to the request behind `R`.
    Reply(R, GroupResponse),
    /// Append the group's metadata (generation, leader, members and their
    /// assignments) to `__consumer_offsets`, then call `on_stored`.
    Store {
        /// The generation being stored.
        generation_id: i32,
        /// Member id -> assignment.
        assignments: BTreeMap<String, Vec<u8>>,
    },
}

/// A member of the group.
#[derive(Clone, Debug)]
pub struct Member<R> {
    /// Its id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Vec<u8>)>,
    /// Its current assignment (opaque, as the leader encoded it).
    pub assignment: Vec<u8>,
    awaiting_join: Option<R>,
    awaiting_sync: Option<R>,
    /// When its session expires unless it heartbeats.
    session_deadline_ms: u64,
}

/// One classic group.
#[derive(Clone, Debug)]
pub struct ClassicGroup<R> {
    /// The group id.
    pub group_id: String,
    state: GroupState,
    generation_id: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader_id: Option<String>,
    members: BTreeMap<String, Member<R>>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending_members: BTreeSet<String>,
    /// group.instance.id -> member id.
    static_members: BTreeMap<String, String>,
    /// When the join phase ends even if members are missing.
    join_deadline_ms: Option<u64>,
    /// Whether the join phase is the delayed first one of an empty group.
    initial_delay: bool,
    /// When the join phase began.
    join_started_ms: u64,
    /// A store of this generation is in flight.
    storing: Option<i32>,
}

impl<R: Clone> ClassicGroup<R> {
    /// A new, empty group.
    pub fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_owned(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            pending_members: BTreeSet::new(),
            static_members: BTreeMap::new(),
            join_deadline_ms: None,
            initial_delay: false,
            join_started_ms: 0,
            storing: None,
        }
    }

    /// Its state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// Its generation.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// The chosen assignor, once a generation has one.
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// The leader's member id.
    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    /// Its members, by member id.
    pub fn members(&self) -> &BTreeMap<String, Member<R>> {
        &self.members
    }

    /// JoinGroup. `fresh_id` makes a new member id suffix (a UUID from the
    /// host's seeded stream; Kafka uses `client.id-UUID`).
    pub fn join(
        &mut self,
        now_ms: u64,
        reply: R,
        request: JoinGroup,
        fresh_id: &mut dyn FnMut() -> String,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        let error = |error: Errors, member_id: String| GroupResponse::JoinGroup {
            error: Some(error),
            generation_id: -1,
            protocol_name: None,
            leader: String::new(),
            member_id,
            members: Vec::new(),
        };
        if self.state == GroupState::Dead {
            out.push(GroupOutput::Reply(
                reply,
                error(Errors::CoordinatorNotAvailable, request.member_id),
            ));
            return;
        }
        if !self.supports(&request.protocol_type, &request.protocols) {
            out.push(GroupOutput::Reply(
                reply,
                error(Errors::InconsistentGroupProtocol, request.member_id),
            ));
            return;
        }
        if request.member_id.is_empty() {
            self.join_unknown(now_ms, reply, request, fresh_id, out);
            return;
        }
        // A static member whose instance id is now held by another member id is fenced.
        if let Some(instance) = &request.group_instance_id {
            if let Some(holder) = self.static_members.get(instance) {
                if *holder != request.member_id {
                    out.push(GroupOutput::Reply(
                        reply,
                        error(Errors::FencedInstanceId, request.member_id),
                    ));
                    return;
                }
            }
        }
        let member_id = request.member_id.clone();
        if !self.members.contains_key(&member_id) {
            if self.pending_members.remove(&member_id) {
                self.add_member(now_ms, reply, request, out);
            } else {
                out.push(GroupOutput::Reply(
                    reply,
                    error(Errors::UnknownMemberId, member_id),
                ));
            }
            return;
        }
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member(now_ms, &member_id, reply, request);
                self.maybe_complete_join(now_ms, out);
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let same = self.members[&member_id].protocols == request.protocols;
                let is_leader = self.leader_id.as_deref() == Some(member_id.as_str());
                if same && !(self.state == GroupState::Stable && is_leader) {
                    // Nothing changed: answer with the current generation.
                    let response = self.join_response(&member_id);
                    self.heartbeat_seen(now_ms, &member_id);
                    out.push(GroupOutput::Reply(reply, response));
                } else {
                    self.update_member(now_ms, &member_id, reply, request);
                    self.prepare_rebalance(now_ms, out);
                    self.maybe_complete_join(now_ms, out);
                }
            }
            GroupState::Empty | GroupState::Dead => {
                out.push(GroupOutput::Reply(
                    reply,
                    error(Errors::UnknownMemberId, member_id),
                ));
            }
        }
    }

    fn join_unknown(
        &mut self,
        now_ms: u64,
        reply: R,
        mut request: JoinGroup,
        fresh_id: &mut dyn FnMut() -> String,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        let new_id = format!("{}-{}", request.client_id, fresh_id());
        match request.group_instance_id.clone() {
            Some(instance) => {
                if let Some(old_id) = self.static_members.get(&instance).cloned() {
                    // KIP-345: the new incarnation takes over the old member's
                    // place; anything the old id was waiting for is fenced.
                    self.replace_static_member(&old_id, &new_id, out);
                    request.member_id = new_id.clone();
                    let same = self.members[&new_id].protocols == request.protocols;
                    if self.state == GroupState::Stable && same {
                        let response = self.join_response(&new_id);
                        self.heartbeat_seen(now_ms, &new_id);
                        out.push(GroupOutput::Reply(reply, response));
                    } else {
                        self.update_member(now_ms, &new_id, reply, request);
                        self.prepare_rebalance(now_ms, out);
                        self.maybe_complete_join(now_ms, out);
                    }
                } else {
                    request.member_id = new_id;
                    self.add_member(now_ms, reply, request, out);
                }
            }
            None => {
                // KIP-394: a dynamic member first learns its id, then rejoins with it.
                self.pending_members.insert(new_id.clone());
                out.push(GroupOutput::Reply(
                    reply,
                    GroupResponse::JoinGroup {
                        error: Some(Errors::MemberIdRequired),
                        generation_id: -1,
                        protocol_name: None,
                        leader: String::new(),
                        member_id: new_id,
                        members: Vec::new(),
                    },
                ));
            }
        }
    }

    fn replace_static_member(&mut self, old_id: &str, new_id: &str, out: &mut Vec<GroupOutput<R>>) {
        let Some(mut member) = self.members.remove(old_id) else {
            return;
        };
        let fenced = |reply: R, join: bool| {
            let response = if join {
                GroupResponse::JoinGroup {
                    error: Some(Errors::FencedInstanceId),
                    generation_id: -1,
                    protocol_name: None,
                    leader: String::new(),
                    member_id: old_id.to_owned(),
                    members: Vec::new(),
                }
            } else {
                GroupResponse::SyncGroup {
                    error: Some(Errors::FencedInstanceId),
                    assignment: Vec::new(),
                }
            };
            GroupOutput::Reply(reply, response)
        };
        if let Some(r) = member.awaiting_join.take() {
            out.push(fenced(r, true));
        }
        if let Some(r) = member.awaiting_sync.take() {
            out.push(fenced(r, false));
        }
        member.member_id = new_id.to_owned();
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), new_id.to_owned());
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.to_owned());
        }
        self.members.insert(new_id.to_owned(), member);
    }

    fn add_member(
        &mut self,
        now_ms: u64,
        reply: R,
        request: JoinGroup,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        let member = Member {
            member_id: request.member_id.clone(),
            group_instance_id: request.group_instance_id.clone(),
            client_id: request.client_id,
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocols: request.protocols,
            assignment: Vec::new(),
            awaiting_join: Some(reply),
            awaiting_sync: None,
            session_deadline_ms: now_ms + request.session_timeout_ms,
        };
        if let Some(instance) = &request.group_instance_id {
            self.static_members
                .insert(instance.clone(), request.member_id.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(request.member_id.clone());
        }
        self.members.insert(request.member_id, member);
        if self.state == GroupState::PreparingRebalance && self.initial_delay {
            // Kafka's InitialDelayedJoin: each new member extends the wait by
            // the initial delay, up to the rebalance timeout in all.
            let cap = self.join_started_ms + self.rebalance_timeout_ms();
            self.join_deadline_ms = Some((now_ms + GROUP_INITIAL_REBALANCE_DELAY_MS).min(cap));
        }
        self.prepare_rebalance(now_ms, out);
        self.maybe_complete_join(now_ms, out);
    }

    fn update_member(&mut self, now_ms: u64, member_id: &str, reply: R, request: JoinGroup) {
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        m.protocols = request.protocols;
        m.session_timeout_ms = request.session_timeout_ms;
        m.rebalance_timeout_ms = request.rebalance_timeout_ms;
        m.awaiting_join = Some(reply);
        m.session_deadline_ms = now_ms + m.session_timeout_ms;
    }

    /// Whether a member with these protocols can join (Kafka's `supportsProtocols`).
    fn supports(&self, protocol_type: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| self.members.values().all(|m| m.supports(name)))
    }

    /// Moves to PreparingRebalance (from Empty, CompletingRebalance or Stable).
    fn prepare_rebalance(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
        match self.state {
            GroupState::PreparingRebalance | GroupState::Dead => return,
            GroupState::CompletingRebalance => {
                // Members waiting for their assignment must rejoin.
                for m in self.members.values_mut() {
                    if let Some(r) = m.awaiting_sync.take() {
                        out.push(GroupOutput::Reply(
                            r,
                            GroupResponse::SyncGroup {
                                error: Some(Errors::RebalanceInProgress),
                                assignment: Vec::new(),
                            },
                        ));
                    }
                }
            }
            GroupState::Empty | GroupState::Stable => {}
        }
        let rebalance_timeout = self.rebalance_timeout_ms();
        self.join_started_ms = now_ms;
        if self.state == GroupState::Empty {
            self.initial_delay = true;
            self.join_deadline_ms =
                Some(now_ms + GROUP_INITIAL_REBALANCE_DELAY_MS.min(rebalance_timeout));
        } else {
            self.initial_delay = false;
            self.join_deadline_ms = Some(now_ms + rebalance_timeout);
        }
        self.state = GroupState::PreparingRebalance;
    }

    fn rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Ends the join phase early when every member has rejoined (not during
    /// the initial delay, which waits for more members on purpose).
    fn maybe_complete_join(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
        if self.state == GroupState::PreparingRebalance
            && !self.initial_delay
            && self.pending_members.is_empty()
            && self.members.values().all(|m| m.awaiting_join.is_some())
        {
            self.complete_join(now_ms, out);
        }
    }

    /// The join phase is over: members that did not rejoin are removed, a new
    /// generation starts, and every joined member gets its JoinGroup response.
    fn complete_join(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in missing {
            // Static members keep their place across a missed rebalance.
            if self.members[&id].group_instance_id.is_none() {
                self.remove_member(&id);
            }
        }
        self.pending_members.clear();
        self.join_deadline_ms = None;
        self.initial_delay = false;
        self.generation_id += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            out.push(GroupOutput::Store {
                generation_id: self.generation_id,
                assignments: BTreeMap::new(),
            });
            return;
        }
        if self
            .leader_id
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.protocol_name = Some(self.select_protocol());
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let response = self.join_response(&id);
            let m = self.members.get_mut(&id).expect("listed");
            m.session_deadline_ms = now_ms + m.session_timeout_ms;
            if let Some(r) = m.awaiting_join.take() {
                out.push(GroupOutput::Reply(r, response));
            }
        }
    }

    /// The assignor every member supports with the most first-choice votes
    /// (Kafka's `selectProtocol`: each member votes for its first supported
    /// candidate; ties go to the smallest name here, where Kafka's HashMap
    /// order decides).
    fn select_protocol(&self) -> String {
        let candidates: BTreeSet<&str> = self
            .members
            .values()
            .flat_map(|m| m.protocols.iter().map(|(n, _)| n.as_str()))
            .filter(|n| self.members.values().all(|m| m.supports(n)))
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((name, _)) = m
                .protocols
                .iter()
                .find(|(n, _)| candidates.contains(n.as_str()))
            {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max().unwrap_or(0);
        votes
            .into_iter()
            .find(|&(_, v)| v == best)
            .map(|(n, _)| n.to_owned())
            .unwrap_or_default()
    }

    fn join_response(&self, member_id: &str) -> GroupResponse {
        let leader = self.leader_id.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| {
                    let metadata = protocol
                        .as_ref()
                        .and_then(|p| m.protocols.iter().find(|(n, _)| n == p))
                        .map(|(_, md)| md.clone())
                        .unwrap_or_default();
                    (m.member_id.clone(), m.group_instance_id.clone(), metadata)
                })
                .collect()
        } else {
            Vec::new()
        };
        GroupResponse::JoinGroup {
            error: None,
            generation_id: self.generation_id,
            protocol_name: protocol,
            leader,
            member_id: member_id.to_owned(),
            members,
        }
    }

    fn remove_member(&mut self, member_id: &str) {
        if let Some(m) = self.members.remove(member_id) {
            if let Some(instance) = m.group_instance_id {
                self.static_members.remove(&instance);
            }
        }
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
    }

    fn heartbeat_seen(&mut self, now_ms: u64, member_id: &str) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.session_deadline_ms = now_ms + m.session_timeout_ms;
        }
    }

    /// Checks a member id and, for static members, that the instance id is
    /// still held by that member id (Kafka's `validateMember`).
    fn validate_member(&self, member_id: &str, instance: Option<&str>) -> Result<(), Errors> {
        if let Some(instance) = instance {
            match self.static_members.get(instance) {
                None => return Err(Errors::UnknownMemberId),
                Some(holder) if holder != member_id => return Err(Errors::FencedInstanceId),
                Some(_) => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(Errors::UnknownMemberId)
        }
    }

    /// SyncGroup.
    pub fn sync(
        &mut self,
        now_ms: u64,
        reply: R,
        request: SyncGroup,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        let SyncGroup {
            generation_id,
            member_id,
            group_instance_id,
            assignments,
        } = request;
        let (member_id, group_instance_id) = (member_id.as_str(), group_instance_id.as_deref());
        let fail = |error| GroupResponse::SyncGroup {
            error: Some(error),
            assignment: Vec::new(),
        };
        if self.state == GroupState::Dead {
            out.push(GroupOutput::Reply(
                reply,
                fail(Errors::CoordinatorNotAvailable),
            ));
            return;
        }
        if let Err(e) = self.validate_member(member_id, group_instance_id) {
            out.push(GroupOutput::Reply(reply, fail(e)));
            return;
        }
        if generation_id != self.generation_id {
            out.push(GroupOutput::Reply(reply, fail(Errors::IllegalGeneration)));
            return;
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                out.push(GroupOutput::Reply(reply, fail(Errors::UnknownMemberId)));
            }
            GroupState::PreparingRebalance => {
                out.push(GroupOutput::Reply(reply, fail(Errors::RebalanceInProgress)));
            }
            GroupState::CompletingRebalance => {
                self.heartbeat_seen(now_ms, member_id);
                if let Some(m) = self.members.get_mut(member_id) {
                    m.awaiting_sync = Some(reply);
                }
                let is_leader = self.leader_id.as_deref() == Some(member_id);
                if is_leader && self.storing.is_none() {
                    let mut by_member: BTreeMap<String, Vec<u8>> = self
                        .members
                        .keys()
                        .map(|id| (id.clone(), Vec::new()))
                        .collect();
                    for (id, a) in assignments {
                        if let Some(slot) = by_member.get_mut(&id) {
                            *slot = a;
                        }
                    }
                    self.storing = Some(self.generation_id);
                    out.push(GroupOutput::Store {
                        generation_id: self.generation_id,
                        assignments: by_member,
                    });
                }
            }
            GroupState::Stable => {
                self.heartbeat_seen(now_ms, member_id);
                let assignment = self.members[member_id].assignment.clone();
                out.push(GroupOutput::Reply(
                    reply,
                    GroupResponse::SyncGroup {
                        error: None,
                        assignment,
                    },
                ));
            }
        }
    }

    /// The group metadata of `generation_id` was appended (`error` None) or
    /// could not be. On success the assignments take effect and the group is
    /// Stable; on failure every member waiting for its assignment gets the
    /// error and the group rebalances.
    pub fn on_stored(
        &mut self,
        now_ms: u64,
        generation_id: i32,
        assignments: BTreeMap<String, Vec<u8>>,
        error: Option<Errors>,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        if self.storing != Some(generation_id) {
            return;
        }
        self.storing = None;
        if self.state != GroupState::CompletingRebalance || generation_id != self.generation_id {
            return;
        }
        match error {
            None => {
                for (id, m) in &mut self.members {
                    m.assignment = assignments.get(id).cloned().unwrap_or_default();
                    if let Some(r) = m.awaiting_sync.take() {
                        out.push(GroupOutput::Reply(
                            r,
                            GroupResponse::SyncGroup {
                                error: None,
                                assignment: m.assignment.clone(),
                            },
                        ));
                    }
                }
                self.state = GroupState::Stable;
            }
            Some(e) => {
                for m in self.members.values_mut() {
                    m.assignment.clear();
                    if let Some(r) = m.awaiting_sync.take() {
                        out.push(GroupOutput::Reply(
                            r,
                            GroupResponse::SyncGroup {
                                error: Some(e),
                                assignment: Vec::new(),
                            },
                        ));
                    }
                }
                self.prepare_rebalance(now_ms, out);
            }
        }
    }

    /// Heartbeat.
    pub fn heartbeat(
        &mut self,
        now_ms: u64,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Option<Errors> {
        match self.state {
            GroupState::Dead => return Some(Errors::CoordinatorNotAvailable),
            GroupState::Empty => return Some(Errors::UnknownMemberId),
            _ => {}
        }
        if let Err(e) = self.validate_member(member_id, group_instance_id) {
            return Some(e);
        }
        if generation_id != self.generation_id {
            return Some(Errors::IllegalGeneration);
        }
        self.heartbeat_seen(now_ms, member_id);
        match self.state {
            GroupState::PreparingRebalance => Some(Errors::RebalanceInProgress),
            _ => None,
        }
    }

    /// LeaveGroup of one member.
    pub fn leave(
        &mut self,
        now_ms: u64,
        member_id: &str,
        group_instance_id: Option<&str>,
        out: &mut Vec<GroupOutput<R>>,
    ) -> Option<Errors> {
        if self.state == GroupState::Dead {
            return Some(Errors::CoordinatorNotAvailable);
        }
        if self.pending_members.remove(member_id) {
            return None;
        }
        if let Err(e) = self.validate_member(member_id, group_instance_id) {
            return Some(e);
        }
        self.remove_member_and_rebalance(now_ms, member_id, out);
        None
    }

    fn remove_member_and_rebalance(
        &mut self,
        now_ms: u64,
        member_id: &str,
        out: &mut Vec<GroupOutput<R>>,
    ) {
        if let Some(m) = self.members.get_mut(member_id) {
            if let Some(r) = m.awaiting_join.take() {
                out.push(GroupOutput::Reply(
                    r,
                    GroupResponse::JoinGroup {
                        error: Some(Errors::UnknownMemberId),
                        generation_id: -1,
                        protocol_name: None,
                        leader: String::new(),
                        member_id: member_id.to_owned(),
                        members: Vec::new(),
                    },
                ));
            }
        }
        self.remove_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now_ms, out);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now_ms, out),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// OffsetCommit validation for a classic group (Kafka's
    /// `ClassicGroup.validateOffsetCommit`): Ok means the commit may be
    /// written. Commits are accepted in PreparingRebalance from members of
    /// the current generation (so they can commit before rejoining).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Errors> {
        if self.state == GroupState::Dead {
            return Err(Errors::CoordinatorNotAvailable);
        }
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_member(member_id, group_instance_id)?;
            if generation_id != self.generation_id {
                return Err(Errors::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            return Err(Errors::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(Errors::RebalanceInProgress);
        }
        Ok(())
    }

    /// The earliest time `on_tick` has something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let sessions = self.members.values().map(|m| m.session_deadline_ms).min();
        match (sessions, self.join_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires sessions and ends a join phase whose time is up. Returns the
    /// members whose sessions expired.
    pub fn on_tick(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) -> Vec<String> {
        let mut expired = Vec::new();
        if self.join_deadline_ms.is_some_and(|d| d <= now_ms) {
            self.complete_join(now_ms, out);
        }
        let due: Vec<String> = self
            .members
            .values()
            // A member waiting for a join or sync response is kept alive
            // (Kafka's shouldKeepAlive); the rebalance timeout covers it.
            .filter(|m| {
                m.session_deadline_ms <= now_ms
                    && m.awaiting_join.is_none()
                    && m.awaiting_sync.is_none()
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in due {
            if self.state == GroupState::Dead {
                break;
            }
            self.remove_member_and_rebalance(now_ms, &id, out);
            expired.push(id);
        }
        expired
    }

    /// The coordinator lost the group (its `__consumer_offsets` partition
    /// moved): everyone waiting is told NOT_COORDINATOR and the group is Dead.
    pub fn unload(&mut self, out: &mut Vec<GroupOutput<R>>) {
        for m in self.members.values_mut() {
            if let Some(r) = m.awaiting_join.take() {
                out.push(GroupOutput::Reply(
                    r,
                    GroupResponse::JoinGroup {
                        error: Some(Errors::NotCoordinator),
                        generation_id: -1,
                        protocol_name: None,
                        leader: String::new(),
                        member_id: m.member_id.clone(),
                        members: Vec::new(),
                    },
                ));
            }
            if let Some(r) = m.awaiting_sync.take() {
                out.push(GroupOutput::Reply(
                    r,
                    GroupResponse::SyncGroup {
                        error: Some(Errors::NotCoordinator),
                        assignment: Vec::new(),
                    },
                ));
            }
        }
        self.state = GroupState::Dead;
    }
}

impl<R> Member<R> {
    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }
}
