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

use std::collections::BTreeMap;

use crate::errors::Errors;

mod join;
mod stored;

pub use crate::group::messages::{GroupOutput, GroupResponse, GroupState, JoinGroup, SyncGroup};

/// `group.initial.rebalance.delay.ms` default: the first rebalance of an
/// empty group waits this long (extended up to the rebalance timeout) for
/// more members.
pub const GROUP_INITIAL_REBALANCE_DELAY_MS: u64 = 3_000;

/// How long a new member may wait for its first JoinGroup answer before it
/// is expired (Kafka's `GroupCoordinator.NewMemberJoinTimeoutMs`, 3.8's
/// `classicGroupNewMemberJoinTimeoutMs`; KAFKA-7610, 2.1.1): 5 minutes.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// A member's session deadline when it has no heartbeat expiration at all
/// (2.4.1's KAFKA-9752, see `ClassicGroup::new_member_heartbeat_expiration`).
const NO_SESSION_DEADLINE: u64 = u64::MAX;

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
    /// When its session expires unless it heartbeats (Kafka's heartbeat
    /// expiration; for a new member, [`NEW_MEMBER_JOIN_TIMEOUT_MS`] after
    /// it joined).
    session_deadline_ms: u64,
    /// Added by a JoinGroup and not yet answered by a completed join phase
    /// (Kafka's `isNew`, KAFKA-7610): its heartbeat expiration removes it
    /// even while it waits for its JoinGroup answer.
    is_new: bool,
}

/// One classic group.
#[derive(Clone, Debug)]
pub struct ClassicGroup<R> {
    /// The group id.
    pub group_id: String,
    state: GroupState,
    /// When it entered its state (Kafka's `currentStateTimestamp`; None for
    /// a group created by a commit and never transitioned).
    state_since_ms: Option<u64>,
    generation_id: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader_id: Option<String>,
    members: BTreeMap<String, Member<R>>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined, with
    /// when each expires: its JoinGroup's session timeout after it was
    /// handed out (Kafka's `addPendingMemberExpiration`).
    pending_members: BTreeMap<String, u64>,
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
    /// `group.initial.rebalance.delay.ms`.
    pub(crate) initial_rebalance_delay_ms: u64,
    /// KIP-814 (Kafka 3.2): a static leader that rejoins a Stable group
    /// under a new member id is told it leads (with the members); before,
    /// the answer named the old member id as leader, and no members.
    pub(crate) static_leader_rejoins_as_leader: bool,
    /// KAFKA-8500 (Kafka 2.3.0): a static member that rejoins with an
    /// unknown member id gets a new member id, and the old one is fenced
    /// (FENCED_INSTANCE_ID), in any state of the group; before (trunk's
    /// KIP-345 code of April to June 2019, never released), only in a
    /// Stable group: otherwise the new incarnation joined as the old member
    /// id, which both incarnations then held.
    pub(crate) static_member_id_replaced_in_any_state: bool,
    /// KAFKA-9801 (Kafka 2.5.0): a static member that rejoins with an
    /// unknown member id while the group is CompletingRebalance starts a
    /// rebalance; before (2.4.1) it was answered at once, as in Stable.
    pub(crate) static_rejoin_rebalances_when_completing: bool,
    /// KAFKA-9752 (Kafka 2.5.0): a member new when its join phase
    /// completed is expired a session timeout later unless it heartbeats;
    /// before (2.4.1), its expiration, rescheduled while it was still new,
    /// completed at once, and it had none until its next heartbeat or
    /// SyncGroup answer ([`NO_SESSION_DEADLINE`]).
    pub(crate) new_member_heartbeat_expiration: bool,
}

impl<R: Clone> ClassicGroup<R> {
    /// A new, empty group.
    pub fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_owned(),
            state: GroupState::Empty,
            state_since_ms: None,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            join_deadline_ms: None,
            initial_delay: false,
            join_started_ms: 0,
            storing: None,
            initial_rebalance_delay_ms: GROUP_INITIAL_REBALANCE_DELAY_MS,
            static_leader_rejoins_as_leader: true,
            static_member_id_replaced_in_any_state: true,
            static_rejoin_rebalances_when_completing: true,
            new_member_heartbeat_expiration: true,
        }
    }

    /// Its state.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// When it entered its current state, if known.
    pub fn state_since_ms(&self) -> Option<u64> {
        self.state_since_ms
    }

    /// Whether it stores a protocol type (a group of members; a group only
    /// committed to, by consumers outside group management, has none).
    pub fn has_protocol_type(&self) -> bool {
        self.protocol_type.is_some()
    }

    /// Enters `state` at `now_ms`.
    fn transition_to(&mut self, state: GroupState, now_ms: u64) {
        self.state = state;
        self.state_since_ms = Some(now_ms);
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
                // A store of an older generation may still be in flight (its
                // append waits on the offsets partition's ISR): this
                // generation's assignment is stored regardless, as Kafka's
                // handleSyncGroup does; each store's callback checks its own
                // generation.
                if is_leader && self.storing != Some(self.generation_id) {
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
                    if let Some(r) = m.take_sync(now_ms) {
                        out.push(GroupOutput::Reply(
                            r,
                            GroupResponse::SyncGroup {
                                error: None,
                                assignment: m.assignment.clone(),
                            },
                        ));
                    }
                }
                self.transition_to(GroupState::Stable, now_ms);
            }
            Some(e) => {
                for m in self.members.values_mut() {
                    m.assignment.clear();
                    if let Some(r) = m.take_sync(now_ms) {
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
        if self.pending_members.remove(member_id).is_some() {
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
                // Kafka's `removeMemberAndUpdateGroup` (2.5.0) and
                // `removeMemberAndUpdateClassicGroup` (3.8.0) answer with
                // `UNKNOWN_MEMBER_ID`, the empty member id.
                out.push(GroupOutput::Reply(
                    r,
                    GroupResponse::JoinGroup {
                        error: Some(Errors::UnknownMemberId),
                        generation_id: -1,
                        protocol_name: None,
                        leader: String::new(),
                        member_id: String::new(),
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
        self.validate_commit(member_id, group_instance_id, generation_id, false)
    }

    /// TxnOffsetCommit's validation (KIP-447: a transactional commit is
    /// fenced by the consumer's generation like any commit). As Kafka's
    /// `validateOffsetCommit(…, isTransactional = true)`: a commit without
    /// a member (old clients) passes, and a rebalance in progress does not
    /// refuse it (the transaction's offsets become visible only with its
    /// commit marker).
    pub fn validate_txn_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Errors> {
        self.validate_commit(member_id, group_instance_id, generation_id, true)
    }

    fn validate_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        transactional: bool,
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
        } else if !transactional && self.state != GroupState::Empty {
            return Err(Errors::UnknownMemberId);
        }
        if !transactional && self.state == GroupState::CompletingRebalance {
            return Err(Errors::RebalanceInProgress);
        }
        Ok(())
    }

    /// The earliest time `on_tick` has something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        // A member its wait for an answer keeps alive has nothing due at
        // its deadline: the answer, sent by a group operation after which
        // the coordinator looks again, moves its deadline on.
        let sessions = self
            .members
            .values()
            .filter(|m| {
                !m.has_satisfied_heartbeat() && m.session_deadline_ms != NO_SESSION_DEADLINE
            })
            .map(|m| m.session_deadline_ms)
            .chain(self.pending_members.values().copied())
            .min();
        match (sessions, self.join_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires sessions and ends a join phase whose time is up. Returns the
    /// members whose sessions expired.
    pub fn on_tick(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) -> Vec<String> {
        let mut expired = Vec::new();
        // A pending member that never joined with its id is dropped after
        // its session timeout (Kafka's `removePendingMemberAndUpdateGroup`:
        // a join phase waiting for it may then complete).
        let before = self.pending_members.len();
        self.pending_members
            .retain(|_, deadline| *deadline > now_ms);
        if self.pending_members.len() < before && self.state != GroupState::Dead {
            self.maybe_complete_join(now_ms, out);
        }
        if self.join_deadline_ms.is_some_and(|d| d <= now_ms) {
            self.complete_join(now_ms, out);
        }
        let due: Vec<String> = self
            .members
            .values()
            .filter(|m| m.session_deadline_ms <= now_ms && !m.has_satisfied_heartbeat())
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

    /// Whether its expired heartbeat deadline spares it (Kafka's
    /// `hasSatisfiedHeartbeat`, 3.8's `ClassicGroupMember`): a member
    /// waiting for a join or sync answer is kept alive (the rebalance
    /// timeout covers it), but not a new one, which the expiration then
    /// removes with UNKNOWN_MEMBER_ID for its JoinGroup (KAFKA-7610, 2.1.1;
    /// before, 2.0.1's `shouldKeepMemberAlive` kept it however long the
    /// join phase lasted).
    fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }

    /// Takes its SyncGroup to answer now: the answer reschedules its
    /// heartbeat expiration a session timeout on (Kafka's
    /// `propagateAssignment`, whatever the answer's error: "if any
    /// member's session expired while we were still awaiting either the
    /// leader sync group or the append future, its expiration will be
    /// ignored").
    fn take_sync(&mut self, now_ms: u64) -> Option<R> {
        let reply = self.awaiting_sync.take()?;
        self.session_deadline_ms = now_ms + self.session_timeout_ms;
        Some(reply)
    }
}
