//! The join phase of a classic group: JoinGroup for new, known and static
//! members, the move to PreparingRebalance (with the initial delay of an
//! empty group), and the end of the phase that starts a generation.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    ClassicGroup, GroupOutput, GroupResponse, GroupState, JoinGroup, Member,
    NEW_MEMBER_JOIN_TIMEOUT_MS,
};
use crate::errors::Errors;

impl<R: Clone> ClassicGroup<R> {
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
            if self.pending_members.remove(&member_id).is_some() {
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
                    if !self.static_member_id_replaced_in_any_state
                        && self.state != GroupState::Stable
                    {
                        // Before KAFKA-8500 (trunk's KIP-345 code, 0f995ba6be1
                        // to #6899): outside Stable, `updateMemberAndRebalance`
                        // of the known static member: the new incarnation
                        // joins as the old member id (taking over the reply
                        // the old one may be waiting for), and nobody is
                        // fenced.
                        request.member_id = old_id.clone();
                        self.update_member(now_ms, &old_id, reply, request);
                        self.prepare_rebalance(now_ms, out);
                        self.maybe_complete_join(now_ms, out);
                        return;
                    }
                    // KIP-345: the new incarnation takes over the old member's
                    // place; anything the old id was waiting for is fenced.
                    let current_leader = self.leader_id.clone();
                    self.replace_static_member(&old_id, &new_id, out);
                    request.member_id = new_id.clone();
                    let same = self.members[&new_id].protocols == request.protocols;
                    // KAFKA-9801 (2.5.0's `updateStaticMemberAndRebalance`):
                    // in CompletingRebalance the leader may already hold the
                    // old member id for its assignment, so the group
                    // rebalances. Before (2.4.1's `doUnknownJoinGroup`, `case
                    // Stable | CompletingRebalance`) the member was answered
                    // at once there too, and the leader's assignment, made
                    // for the old id, left the new one empty.
                    let answered_at_once = match self.state {
                        GroupState::Stable => true,
                        GroupState::CompletingRebalance => {
                            !self.static_rejoin_rebalances_when_completing
                        }
                        _ => false,
                    };
                    if answered_at_once && same {
                        let response = if self.static_leader_rejoins_as_leader {
                            // KIP-814 (3.2): a leader is told so.
                            self.join_response(&new_id)
                        } else {
                            // Before 3.2: "always returning the old leader
                            // id so that the current leader won't assume
                            // itself as a leader" (3.1.0
                            // `updateStaticMemberAndRebalance`).
                            GroupResponse::JoinGroup {
                                error: None,
                                generation_id: self.generation_id,
                                protocol_name: self.protocol_name.clone(),
                                leader: current_leader.unwrap_or_default(),
                                member_id: new_id.clone(),
                                members: Vec::new(),
                            }
                        };
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
                let expires = now_ms + request.session_timeout_ms;
                self.pending_members.insert(new_id.clone(), expires);
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
        // 3.8's `ClassicGroup.replaceStaticMember` puts a new
        // `ClassicGroupMember` in its place, which is not new.
        member.is_new = false;
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
            // Kafka's `addMemberAndRebalance`: a new member cannot
            // heartbeat while its JoinGroup waits, so its heartbeat
            // expiration is the new-member join timeout, not its session
            // timeout.
            session_deadline_ms: now_ms + NEW_MEMBER_JOIN_TIMEOUT_MS,
            is_new: true,
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
            self.join_deadline_ms = Some((now_ms + self.initial_rebalance_delay_ms).min(cap));
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
        // Kafka's `updateMember` leaves the heartbeat expiration as it is:
        // a new member that joins again keeps its join timeout. A member
        // that is not new is kept alive by its wait for the join answer
        // whatever its deadline, and the join phase's completion gives it
        // a new session; ksim moves its deadline on here as well, which
        // nothing notices while it waits.
        if !m.is_new {
            m.session_deadline_ms = now_ms + m.session_timeout_ms;
        }
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
    pub(super) fn prepare_rebalance(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
        match self.state {
            GroupState::PreparingRebalance | GroupState::Dead => return,
            GroupState::CompletingRebalance => {
                // Members waiting for their assignment must rejoin.
                for m in self.members.values_mut() {
                    if let Some(r) = m.take_sync(now_ms) {
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
                Some(now_ms + self.initial_rebalance_delay_ms.min(rebalance_timeout));
        } else {
            self.initial_delay = false;
            self.join_deadline_ms = Some(now_ms + rebalance_timeout);
        }
        self.transition_to(GroupState::PreparingRebalance, now_ms);
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
    pub(super) fn maybe_complete_join(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
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
    pub(super) fn complete_join(&mut self, now_ms: u64, out: &mut Vec<GroupOutput<R>>) {
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
            self.transition_to(GroupState::Empty, now_ms);
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
        self.transition_to(GroupState::CompletingRebalance, now_ms);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let response = self.join_response(&id);
            let m = self.members.get_mut(&id).expect("listed");
            m.session_deadline_ms = if m.is_new && !self.new_member_heartbeat_expiration {
                // 2.4.1 (KAFKA-9752): rescheduled while still new, the
                // expiration completed at once; none until the member's
                // next heartbeat or SyncGroup answer.
                super::NO_SESSION_DEADLINE
            } else {
                now_ms + m.session_timeout_ms
            };
            m.is_new = false;
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
}
