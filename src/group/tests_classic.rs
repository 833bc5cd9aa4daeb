//! The classic group protocol driven by hand, request by request.

use super::classic::{
    ClassicGroup, GroupOutput, GroupResponse, GroupState, JoinGroup, SyncGroup,
    GROUP_INITIAL_REBALANCE_DELAY_MS, NEW_MEMBER_JOIN_TIMEOUT_MS,
};
use crate::errors::Errors;

const SESSION_MS: u64 = 45_000;
const REBALANCE_MS: u64 = 300_000;

/// A group with a counter for member ids and reply handles.
struct Harness {
    group: ClassicGroup<u32>,
    next_id: u32,
    next_reply: u32,
    out: Vec<GroupOutput<u32>>,
}

impl Harness {
    fn new() -> Self {
        Self {
            group: ClassicGroup::new("billing"),
            next_id: 0,
            next_reply: 0,
            out: Vec::new(),
        }
    }

    fn request(member_id: &str, instance: Option<&str>, assignor: &str) -> JoinGroup {
        JoinGroup {
            member_id: member_id.to_owned(),
            group_instance_id: instance.map(str::to_owned),
            client_id: "consumer".to_owned(),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: REBALANCE_MS,
            protocol_type: "consumer".to_owned(),
            protocols: vec![(assignor.to_owned(), member_id.as_bytes().to_vec())],
        }
    }

    /// Sends a JoinGroup; returns its reply handle.
    fn join(&mut self, now: u64, request: JoinGroup) -> u32 {
        self.next_reply += 1;
        let reply = self.next_reply;
        let next_id = &mut self.next_id;
        let mut fresh = || {
            *next_id += 1;
            format!("uuid{next_id}")
        };
        self.group
            .join(now, reply, request, &mut fresh, &mut self.out);
        reply
    }

    fn sync(
        &mut self,
        now: u64,
        generation: i32,
        member: &str,
        assignments: &[(&str, &str)],
    ) -> u32 {
        self.next_reply += 1;
        let reply = self.next_reply;
        let assignments = assignments
            .iter()
            .map(|(m, a)| ((*m).to_owned(), a.as_bytes().to_vec()))
            .collect();
        let request = SyncGroup {
            generation_id: generation,
            member_id: member.to_owned(),
            group_instance_id: None,
            assignments,
        };
        self.group.sync(now, reply, request, &mut self.out);
        reply
    }

    /// The response sent to `reply`, if any (taken out of the outputs).
    fn answer(&mut self, reply: u32) -> Option<GroupResponse> {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, GroupOutput::Reply(r, _) if *r == reply))?;
        match self.out.remove(i) {
            GroupOutput::Reply(_, response) => Some(response),
            GroupOutput::Store { .. } => None,
        }
    }

    /// Completes a pending store successfully.
    fn store_ok(&mut self, now: u64) {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, GroupOutput::Store { .. }))
            .expect("a store was asked for");
        if let GroupOutput::Store {
            generation_id,
            assignments,
        } = self.out.remove(i)
        {
            self.group
                .on_stored(now, generation_id, assignments, None, &mut self.out);
        }
    }

    /// A dynamic member joins: MEMBER_ID_REQUIRED, then a join with that id.
    /// Returns its member id and the reply handle of the second join.
    fn join_dynamic(&mut self, now: u64) -> (String, u32) {
        let first = self.join(now, Self::request("", None, "range"));
        let member_id = match self.answer(first) {
            Some(GroupResponse::JoinGroup {
                error: Some(Errors::MemberIdRequired),
                member_id,
                ..
            }) => member_id,
            other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
        };
        let second = self.join(now, Self::request(&member_id, None, "range"));
        (member_id, second)
    }

    /// `alive` heartbeats (generation 1) every 3 s from `from` until
    /// `until`, the group ticking after each: the time and members of the
    /// first tick that expired anyone (None: no one expired).
    fn heartbeat_until_expiry(
        &mut self,
        alive: &str,
        from: u64,
        until: u64,
    ) -> Option<(u64, Vec<String>)> {
        let mut now = from;
        while now < until {
            now += 3_000;
            assert!(matches!(
                self.group.heartbeat(now, 1, alive, None),
                None | Some(Errors::RebalanceInProgress)
            ));
            let expired = self.group.on_tick(now, &mut self.out);
            if !expired.is_empty() {
                return Some((now, expired));
            }
        }
        None
    }

    /// Two members through their first rebalance to Stable, generation 1.
    fn stable_pair(&mut self) -> (String, String) {
        let (a, ra) = self.join_dynamic(0);
        let (b, rb) = self.join_dynamic(100);
        assert!(
            self.answer(ra).is_none(),
            "the initial delay holds the join"
        );
        self.group
            .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS + 100, &mut self.out);
        let join_a = self.answer(ra).expect("join completes");
        let join_b = self.answer(rb).expect("join completes");
        let GroupResponse::JoinGroup {
            generation_id,
            leader,
            members,
            ..
        } = join_a
        else {
            panic!("{join_a:?}")
        };
        assert_eq!((generation_id, leader.as_str()), (1, a.as_str()));
        assert_eq!(members.len(), 2, "the leader sees every member");
        assert!(matches!(join_b, GroupResponse::JoinGroup { members, .. } if members.is_empty()));
        let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 200;
        let sb = self.sync(now, 1, &b, &[]);
        let sa = self.sync(now, 1, &a, &[(&a, "t-0"), (&b, "t-1")]);
        assert!(self.answer(sa).is_none(), "sync waits for the store");
        self.store_ok(now);
        assert_eq!(
            self.answer(sb),
            Some(GroupResponse::SyncGroup {
                error: None,
                assignment: b"t-1".to_vec()
            })
        );
        assert!(self.answer(sa).is_some());
        assert_eq!(self.group.state(), GroupState::Stable);
        (a, b)
    }
}

#[test]
fn two_members_join_sync_and_become_stable_in_generation_1() {
    let mut h = Harness::new();
    h.stable_pair();
    assert_eq!(h.group.generation_id(), 1);
    assert_eq!(h.group.protocol_name(), Some("range"));
}

#[test]
fn heartbeats_check_member_and_generation_and_signal_a_rebalance() {
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let now = 10_000;
    assert_eq!(h.group.heartbeat(now, 1, &a, None), None);
    assert_eq!(
        h.group.heartbeat(now, 0, &a, None),
        Some(Errors::IllegalGeneration)
    );
    assert_eq!(
        h.group.heartbeat(now, 1, "nobody", None),
        Some(Errors::UnknownMemberId)
    );
    // b leaves: a is told to rejoin.
    assert_eq!(h.group.leave(now, &b, None, &mut h.out), None);
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        h.group.heartbeat(now, 1, &a, None),
        Some(Errors::RebalanceInProgress)
    );
    // a rejoins alone: the join completes at once in generation 2.
    let r = h.join(now, Harness::request(&a, None, "range"));
    assert!(matches!(
        h.answer(r),
        Some(GroupResponse::JoinGroup {
            error: None,
            generation_id: 2,
            ..
        })
    ));
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
}

#[test]
fn a_silent_member_is_removed_after_session_timeout_and_the_group_rebalances() {
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let t0 = GROUP_INITIAL_REBALANCE_DELAY_MS + 200;
    // a keeps heartbeating; b goes silent.
    let (now, expired) = h
        .heartbeat_until_expiry(&a, t0, t0 + SESSION_MS + 3_000)
        .expect("b expires");
    assert_eq!(expired, vec![b.clone()]);
    assert!(now >= t0 + SESSION_MS, "not before session.timeout.ms");
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert!(!h.group.members().contains_key(&b));
    // b's commit is refused: it is no longer a member.
    assert_eq!(
        h.group.validate_offset_commit(&b, None, 1),
        Err(Errors::UnknownMemberId)
    );
}

#[test]
fn offset_commits_are_validated_as_kafka_does() {
    let mut h = Harness::new();
    let (a, _b) = h.stable_pair();
    assert_eq!(h.group.validate_offset_commit(&a, None, 1), Ok(()));
    assert_eq!(
        h.group.validate_offset_commit(&a, None, 0),
        Err(Errors::IllegalGeneration)
    );
    assert_eq!(
        h.group.validate_offset_commit("zombie", None, 1),
        Err(Errors::UnknownMemberId)
    );
    assert_eq!(
        h.group.validate_offset_commit("", None, -1),
        Err(Errors::UnknownMemberId),
        "a simple commit is only for empty groups"
    );
    // a rejoins (new assignor): PreparingRebalance still takes its commits.
    let _ = h.join(10_000, Harness::request(&a, None, "range"));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.validate_offset_commit(&a, None, 1), Ok(()));
    // Once the join completes, commits wait for the assignment.
    h.group.on_tick(10_000 + REBALANCE_MS, &mut h.out);
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    assert_eq!(
        h.group.validate_offset_commit(&a, None, 2),
        Err(Errors::RebalanceInProgress)
    );
    let empty: ClassicGroup<u32> = ClassicGroup::new("other");
    assert_eq!(empty.validate_offset_commit("", None, -1), Ok(()));
}

#[test]
fn the_leader_rejoining_a_stable_group_forces_a_rebalance_a_follower_does_not() {
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let r = h.join(10_000, Harness::request(&b, None, "range"));
    assert!(
        matches!(
            h.answer(r),
            Some(GroupResponse::JoinGroup {
                error: None,
                generation_id: 1,
                ..
            })
        ),
        "same metadata from a follower: current generation, no rebalance"
    );
    assert_eq!(h.group.state(), GroupState::Stable);
    let _ = h.join(10_000, Harness::request(&a, None, "range"));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_first_join_needs_a_member_id_and_a_made_up_id_is_unknown() {
    let mut h = Harness::new();
    let r = h.join(0, Harness::request("made-up", None, "range"));
    assert!(matches!(
        h.answer(r),
        Some(GroupResponse::JoinGroup {
            error: Some(Errors::UnknownMemberId),
            ..
        })
    ));
    let (_, _) = h.join_dynamic(0);
    // An assignor no member supports.
    let r = h.join(10, Harness::request("", None, "roundrobin"));
    assert!(matches!(
        h.answer(r),
        Some(GroupResponse::JoinGroup {
            error: Some(Errors::InconsistentGroupProtocol),
            ..
        })
    ));
}

/// A static member (`host-1`) that joined alone (without
/// MEMBER_ID_REQUIRED) and synced generation 1: its member id, and when
/// its sync was answered.
fn static_member_synced(h: &mut Harness) -> (String, u64) {
    let r = h.join(0, Harness::request("", Some("host-1"), "range"));
    h.group
        .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS, &mut h.out);
    let Some(GroupResponse::JoinGroup {
        member_id,
        generation_id: 1,
        ..
    }) = h.answer(r)
    else {
        panic!("static members join without MEMBER_ID_REQUIRED")
    };
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 10;
    let s = h.sync(now, 1, &member_id, &[(&member_id, "t-0,t-1")]);
    h.store_ok(now);
    assert!(h.answer(s).is_some());
    (member_id, now)
}

#[test]
fn a_static_member_restarting_takes_its_place_without_a_rebalance_and_fences_the_old_id() {
    let mut h = Harness::new();
    let (old, now) = static_member_synced(&mut h);
    // The process restarts: same group.instance.id, no member id.
    let r = h.join(now + 5_000, Harness::request("", Some("host-1"), "range"));
    let Some(GroupResponse::JoinGroup {
        member_id: new,
        generation_id: 1,
        error: None,
        ..
    }) = h.answer(r)
    else {
        panic!("the static member rejoins the current generation")
    };
    assert_ne!(new, old);
    assert_eq!(h.group.state(), GroupState::Stable);
    assert_eq!(
        h.group.heartbeat(now + 5_000, 1, &old, Some("host-1")),
        Some(Errors::FencedInstanceId)
    );
    assert_eq!(
        h.group.validate_offset_commit(&old, Some("host-1"), 1),
        Err(Errors::FencedInstanceId)
    );
    assert_eq!(
        h.group.heartbeat(now + 5_000, 1, &new, Some("host-1")),
        None
    );
}

#[test]
fn a_failed_store_fails_the_sync_and_the_group_rebalances() {
    let mut h = Harness::new();
    let (a, rb) = h.join_dynamic(0);
    h.group
        .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS, &mut h.out);
    assert!(h.answer(rb).is_some());
    let s = h.sync(GROUP_INITIAL_REBALANCE_DELAY_MS, 1, &a, &[(&a, "t-0")]);
    let i = h
        .out
        .iter()
        .position(|o| matches!(o, GroupOutput::Store { .. }))
        .expect("store");
    let GroupOutput::Store {
        generation_id,
        assignments,
    } = h.out.remove(i)
    else {
        unreachable!()
    };
    h.group.on_stored(
        GROUP_INITIAL_REBALANCE_DELAY_MS,
        generation_id,
        assignments,
        Some(Errors::NotCoordinator),
        &mut h.out,
    );
    assert!(matches!(
        h.answer(s),
        Some(GroupResponse::SyncGroup {
            error: Some(Errors::NotCoordinator),
            ..
        })
    ));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_new_coordinator_loads_the_stored_generation_as_stable() {
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let assignments = h
        .group
        .members()
        .iter()
        .map(|(id, m)| (id.clone(), m.assignment.clone()))
        .collect();
    let value = h.group.metadata_value(&assignments, 9_000);
    assert_eq!(value.generation, 1);
    let loaded: ClassicGroup<u32> = ClassicGroup::from_metadata("billing", &value, 20_000);
    assert_eq!(loaded.state(), GroupState::Stable);
    assert_eq!(loaded.generation_id(), 1);
    assert_eq!(loaded.leader_id(), Some(a.as_str()));
    assert_eq!(loaded.members()[&b].assignment, b"t-1".to_vec());
    // Members carry on: the same generation commits and heartbeats.
    assert_eq!(loaded.validate_offset_commit(&b, None, 1), Ok(()));
    let mut loaded = loaded;
    assert_eq!(loaded.heartbeat(20_500, 1, &a, None), None);
    // A member that never finds the new coordinator expires.
    let mut out = Vec::new();
    let expired = loaded.on_tick(20_000 + SESSION_MS, &mut out);
    assert_eq!(expired, vec![b]);
}

#[test]
fn a_store_still_in_flight_from_an_older_generation_does_not_hold_back_the_next() {
    let mut h = Harness::new();
    let (a, ra) = h.join_dynamic(0);
    let t = GROUP_INITIAL_REBALANCE_DELAY_MS;
    h.group.on_tick(t, &mut h.out);
    assert!(h.answer(ra).is_some());
    let s1 = h.sync(t, 1, &a, &[(&a, "t-0")]);
    let take_store = |h: &mut Harness| {
        let i = h
            .out
            .iter()
            .position(|o| matches!(o, GroupOutput::Store { .. }))
            .expect("a store was asked for");
        match h.out.remove(i) {
            GroupOutput::Store {
                generation_id,
                assignments,
            } => (generation_id, assignments),
            GroupOutput::Reply(..) => unreachable!(),
        }
    };
    // Generation 1's append waits (say, on the offsets partition's ISR)
    // while a second member joins: the group rebalances under it.
    let (gen1, stored1) = take_store(&mut h);
    let (b, rb) = h.join_dynamic(t + 10);
    assert!(matches!(
        h.answer(s1),
        Some(GroupResponse::SyncGroup {
            error: Some(Errors::RebalanceInProgress),
            ..
        })
    ));
    let ra2 = h.join(t + 20, Harness::request(&a, None, "range"));
    assert!(h.answer(ra2).is_some() && h.answer(rb).is_some());
    assert_eq!(h.group.generation_id(), 2);
    let sb = h.sync(t + 30, 2, &b, &[]);
    let sa = h.sync(t + 30, 2, &a, &[(&a, "t-0"), (&b, "t-1")]);
    let (gen2, stored2) = take_store(&mut h);
    assert_eq!(
        (gen1, gen2),
        (1, 2),
        "the leader's sync stores generation 2"
    );
    // The old store ending changes nothing; the new one completes the sync.
    h.group.on_stored(t + 40, gen1, stored1, None, &mut h.out);
    assert!(h.answer(sa).is_none() && h.answer(sb).is_none());
    h.group.on_stored(t + 50, gen2, stored2, None, &mut h.out);
    assert_eq!(
        h.answer(sb),
        Some(GroupResponse::SyncGroup {
            error: None,
            assignment: b"t-1".to_vec()
        })
    );
    assert!(h.answer(sa).is_some());
    assert_eq!(h.group.state(), GroupState::Stable);
}

/// KIP-814 (3.2): a static leader that restarts and rejoins the Stable
/// group is told it leads, with the members; before 3.2 the answer names
/// its old member id as leader and carries no members, so it does not
/// take itself for the leader (Kafka 3.1's `updateStaticMemberAndRebalance`).
#[test]
fn a_static_leader_rejoining_is_told_it_leads_from_3_2_and_given_its_old_id_before() {
    for rejoins_as_leader in [true, false] {
        let mut h = Harness::new();
        h.group.static_leader_rejoins_as_leader = rejoins_as_leader;
        let (old, now) = static_member_synced(&mut h);
        let r = h.join(now + 5_000, Harness::request("", Some("host-1"), "range"));
        let Some(GroupResponse::JoinGroup {
            member_id: new,
            leader,
            members,
            error: None,
            ..
        }) = h.answer(r)
        else {
            panic!("rejoined")
        };
        assert_eq!(h.group.state(), GroupState::Stable);
        if rejoins_as_leader {
            assert_eq!(leader, new);
            assert_eq!(members.len(), 1);
        } else {
            assert_eq!(leader, old, "the old member id");
            assert!(members.is_empty());
        }
    }
}

/// Two processes with one `group.instance.id` join a new group during its
/// initial delay (KAFKA-8500): the second one's JoinGroup with no member id
/// arrives while the group is PreparingRebalance. Returns the two reply
/// handles and the first one's member id as the group holds it.
fn duplicate_static_joins(h: &mut Harness, replaced_in_any_state: bool) -> (u32, u32) {
    h.group.static_member_id_replaced_in_any_state = replaced_in_any_state;
    let first = h.join(0, Harness::request("", Some("host-1"), "range"));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    let second = h.join(100, Harness::request("", Some("host-1"), "range"));
    h.group
        .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS + 100, &mut h.out);
    (first, second)
}

#[test]
fn a_static_member_rejoining_a_rebalancing_group_fences_the_old_id_from_2_3() {
    let mut h = Harness::new();
    let (first, second) = duplicate_static_joins(&mut h, true);
    assert_eq!(
        h.answer(first),
        Some(GroupResponse::JoinGroup {
            error: Some(Errors::FencedInstanceId),
            generation_id: -1,
            protocol_name: None,
            leader: String::new(),
            member_id: "consumer-uuid1".to_owned(),
            members: Vec::new(),
        }),
        "the first process is fenced at once"
    );
    let member_id = joined_generation_1(h.answer(second));
    assert_eq!(member_id, "consumer-uuid2", "under a new member id");
    assert_eq!(
        h.group.heartbeat(
            GROUP_INITIAL_REBALANCE_DELAY_MS + 200,
            1,
            "consumer-uuid1",
            Some("host-1")
        ),
        Some(Errors::FencedInstanceId)
    );
}

/// The member id a JoinGroup answer without error gave for generation 1.
fn joined_generation_1(answer: Option<GroupResponse>) -> String {
    let Some(GroupResponse::JoinGroup {
        member_id,
        generation_id: 1,
        error: None,
        ..
    }) = answer
    else {
        panic!("the process joins generation 1: {answer:?}")
    };
    member_id
}

#[test]
fn before_kafka_8500_the_second_process_joins_as_the_first_ones_member_id() {
    let mut h = Harness::new();
    let (first, second) = duplicate_static_joins(&mut h, false);
    assert_eq!(h.answer(first), None, "its reply was taken over: no answer");
    let member_id = joined_generation_1(h.answer(second));
    assert_eq!(member_id, "consumer-uuid1", "the first process's member id");
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 200;
    let s = h.sync(now, 1, &member_id, &[(&member_id, "t-0,t-1")]);
    h.store_ok(now);
    assert!(h.answer(s).is_some());
    // Both processes hold the one member id: nothing tells them apart, and
    // neither is fenced.
    assert_eq!(
        h.group.heartbeat(now, 1, "consumer-uuid1", Some("host-1")),
        None
    );
    assert_eq!(
        h.group
            .validate_offset_commit("consumer-uuid1", Some("host-1"), 1),
        Ok(())
    );
}

/// Two static members (`host-1`, the leader, and `host-2`) join a new
/// group: generation 1 is CompletingRebalance, nobody has synced, and
/// `host-2` restarts (KAFKA-9801): its JoinGroup with no member id. Returns
/// the leader's member id, host-2's old one, and the restarted one's reply.
fn static_rejoin_while_completing(h: &mut Harness, rebalances: bool) -> (String, String, u32) {
    h.group.static_rejoin_rebalances_when_completing = rebalances;
    let r1 = h.join(0, Harness::request("", Some("host-1"), "range"));
    let r2 = h.join(100, Harness::request("", Some("host-2"), "range"));
    h.group
        .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS + 100, &mut h.out);
    let leader = joined_generation_1(h.answer(r1));
    let old = joined_generation_1(h.answer(r2));
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 200;
    let r = h.join(now, Harness::request("", Some("host-2"), "range"));
    (leader, old, r)
}

#[test]
fn from_kafka_9801_a_static_member_rejoining_a_completing_group_starts_a_rebalance() {
    let mut h = Harness::new();
    let (leader, old, r) = static_rejoin_while_completing(&mut h, true);
    assert_eq!(h.answer(r), None, "it waits for the new generation");
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 300;
    assert_eq!(
        h.group.heartbeat(now, 1, &old, Some("host-2")),
        Some(Errors::FencedInstanceId)
    );
    // The leader rejoins: generation 2 names the new member id.
    let rl = h.join(now, Harness::request(&leader, Some("host-1"), "range"));
    let Some(GroupResponse::JoinGroup {
        generation_id: 2,
        members,
        ..
    }) = h.answer(rl)
    else {
        panic!("the leader joins generation 2")
    };
    let Some(GroupResponse::JoinGroup {
        generation_id: 2,
        member_id: new,
        ..
    }) = h.answer(r)
    else {
        panic!("the restarted member joins generation 2")
    };
    assert!(members.iter().any(|m| m.0 == new), "{members:?}");
    assert!(!members.iter().any(|m| m.0 == old));
}

#[test]
fn before_kafka_9801_a_static_member_rejoining_a_completing_group_is_answered_and_left_unassigned()
{
    let mut h = Harness::new();
    let (leader, old, r) = static_rejoin_while_completing(&mut h, false);
    // 2.4.1's `case Stable | CompletingRebalance`: at once, generation 1,
    // the old leader id and no members; no rebalance.
    let Some(GroupResponse::JoinGroup {
        error: None,
        generation_id: 1,
        leader: told_leader,
        member_id: new,
        members,
        ..
    }) = h.answer(r)
    else {
        panic!("answered at once in generation 1")
    };
    assert_eq!(told_leader, leader);
    assert!(members.is_empty());
    assert_ne!(new, old);
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    // The leader assigns for the member ids it was given, the old one's
    // among them: the new member id is given nothing.
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 300;
    let sn = h.sync(now, 1, &new, &[]);
    let sl = h.sync(now, 1, &leader, &[(&leader, "t-0"), (&old, "t-1")]);
    h.store_ok(now);
    assert_eq!(
        h.answer(sn),
        Some(GroupResponse::SyncGroup {
            error: None,
            assignment: Vec::new()
        })
    );
    assert_eq!(
        h.answer(sl),
        Some(GroupResponse::SyncGroup {
            error: None,
            assignment: b"t-0".to_vec()
        })
    );
    assert_eq!(h.group.state(), GroupState::Stable);
    assert_eq!(h.group.generation_id(), 1);
}

#[test]
fn a_pending_member_that_never_joins_is_dropped_after_its_session_timeout() {
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let t0 = GROUP_INITIAL_REBALANCE_DELAY_MS + 300;
    // A third consumer is handed a member id and never comes back with it.
    let first = h.join(t0, Harness::request("", None, "range"));
    assert!(matches!(
        h.answer(first),
        Some(GroupResponse::JoinGroup {
            error: Some(Errors::MemberIdRequired),
            ..
        })
    ));
    // The leader rejoins (a rebalance) and so does the other member: the
    // join phase still waits for the pending one.
    let ra = h.join(t0 + 10, Harness::request(&a, None, "range"));
    let rb = h.join(t0 + 20, Harness::request(&b, None, "range"));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    assert_eq!(h.group.next_deadline_ms(), Some(t0 + SESSION_MS));
    h.group.on_tick(t0 + SESSION_MS - 1, &mut h.out);
    assert!(h.answer(ra).is_none(), "the pending member is waited for");
    // Kafka's addPendingMemberExpiration: gone after its session timeout,
    // and the join phase completes without it (not at the rebalance
    // timeout, minutes later).
    h.group.on_tick(t0 + SESSION_MS, &mut h.out);
    assert!(h.answer(ra).is_some() && h.answer(rb).is_some());
    assert_eq!(h.group.state(), GroupState::CompletingRebalance);
    assert_eq!(h.group.members().len(), 2);
}

#[test]
fn a_new_member_still_waiting_for_its_join_answer_is_expired_after_five_minutes() {
    // KAFKA-7610 (2.1.1). 3.8's `addMemberThenRebalanceOrCompleteJoin`
    // marks the member new and arms its heartbeat expiration at
    // `classicGroupNewMemberJoinTimeoutMs` (5 minutes); `updateMember`
    // leaves it; `ClassicGroupMember.hasSatisfiedHeartbeat` is false for a
    // new member although it awaits its join answer; the expiration
    // (`removeMemberAndUpdateClassicGroup`) answers its JoinGroup
    // UNKNOWN_MEMBER_ID and removes it. The join phase's completion
    // clears `isNew`.
    let mut h = Harness::new();
    let (a, b) = h.stable_pair();
    let t0 = 10_000;
    // c, with max.poll.interval.ms of 10 minutes, joins: the join phase
    // may last that long.
    let mut request = Harness::request("", None, "range");
    request.rebalance_timeout_ms = 2 * NEW_MEMBER_JOIN_TIMEOUT_MS;
    let first = h.join(t0, request.clone());
    let Some(GroupResponse::JoinGroup { member_id: c, .. }) = h.answer(first) else {
        panic!("MEMBER_ID_REQUIRED")
    };
    request.member_id = c.clone();
    let _ = h.join(t0, request.clone());
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    // a rejoins at once; b keeps heartbeating but does not rejoin, so the
    // join phase waits for it. c sends its JoinGroup again.
    let ra = h.join(t0, Harness::request(&a, None, "range"));
    let mut rc = None;
    let mut now = t0;
    while now < t0 + NEW_MEMBER_JOIN_TIMEOUT_MS {
        now += 3_000;
        if now == t0 + 99_000 {
            rc = Some(h.join(now, request.clone()));
        }
        assert_eq!(
            h.group.heartbeat(now, 1, &b, None),
            Some(Errors::RebalanceInProgress)
        );
        let expired = h.group.on_tick(now, &mut h.out);
        if now < t0 + NEW_MEMBER_JOIN_TIMEOUT_MS {
            assert!(
                expired.is_empty(),
                "{expired:?} expired at {now}: a new member's timeout is 5 minutes \
                 from its first join, whatever its session timeout or a second join"
            );
        } else {
            assert_eq!(expired, vec![c.clone()], "c is expired at 5 minutes");
        }
    }
    // UNKNOWN_MEMBER_ID, with Kafka's empty member id (JoinGroupRequest's
    // UNKNOWN_MEMBER_ID) and no generation.
    let answer = h.answer(rc.expect("c joined again"));
    assert!(
        matches!(
            &answer,
            Some(GroupResponse::JoinGroup {
                error: Some(Errors::UnknownMemberId),
                generation_id: -1,
                member_id,
                members,
                ..
            }) if member_id.is_empty() && members.is_empty()
        ),
        "{answer:?}"
    );
    assert!(!h.group.members().contains_key(&c));
    // a, new until its first join phase completed, waits for its join
    // answer past its session timeout and past 5 minutes: kept alive.
    assert!(h.group.members().contains_key(&a));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
    // b rejoins: generation 2 has a and b, and the join phase ends without c.
    let rb = h.join(now, Harness::request(&b, None, "range"));
    for r in [ra, rb] {
        assert!(matches!(
            h.answer(r),
            Some(GroupResponse::JoinGroup {
                error: None,
                generation_id: 2,
                ..
            })
        ));
    }
    assert_eq!(h.group.members().len(), 2);
}

#[test]
fn a_member_kept_alive_by_its_wait_for_the_assignment_gets_a_new_session_with_it() {
    // 3.8's `propagateAssignment` reschedules the heartbeat expiration of
    // every member whose SyncGroup it answers: a member whose session ran
    // out while the leader's SyncGroup was late (`hasSatisfiedHeartbeat`
    // kept it) is not expired once answered. Meanwhile nothing is due for
    // it: the coordinator's next look is the leader's deadline, not a
    // deadline already past.
    let mut h = Harness::new();
    let (a, ra) = h.join_dynamic(0);
    let (b, rb) = h.join_dynamic(100);
    let t1 = GROUP_INITIAL_REBALANCE_DELAY_MS + 100;
    h.group.on_tick(t1, &mut h.out);
    assert!(h.answer(ra).is_some() && h.answer(rb).is_some());
    let sb = h.sync(t1 + 100, 1, &b, &[]);
    // The leader heartbeats but sends its SyncGroup two sessions late.
    let late = t1 + 2 * SESSION_MS;
    let mut now = t1;
    while now + 10_000 < late {
        now += 10_000;
        assert_eq!(h.group.heartbeat(now, 1, &a, None), None);
        assert_eq!(
            h.group.next_deadline_ms(),
            Some(now + SESSION_MS),
            "at {now}: only the leader's deadline is due, not b's past one"
        );
        assert!(h.group.on_tick(now, &mut h.out).is_empty());
    }
    let sa = h.sync(late, 1, &a, &[(&a, "t-0"), (&b, "t-1")]);
    h.store_ok(late);
    assert!(h.answer(sa).is_some());
    assert_eq!(
        h.answer(sb),
        Some(GroupResponse::SyncGroup {
            error: None,
            assignment: b"t-1".to_vec()
        })
    );
    assert!(
        h.group.on_tick(late + 1, &mut h.out).is_empty(),
        "b's answer gave it a new session"
    );
    assert_eq!(h.group.state(), GroupState::Stable);
    assert_eq!(h.group.next_deadline_ms(), Some(late + SESSION_MS));
}

/// Two members join a new group; when the join phase completes, `b` (new
/// until then) dies before its SyncGroup. The leader `a` syncs, the group
/// goes Stable, and `a` heartbeats every 3 s for ten session timeouts.
/// Returns when `b` was expired (None: never) and the group at the end.
fn new_member_dies_before_its_sync(expiration: bool) -> (Option<u64>, Harness, String) {
    let mut h = Harness::new();
    h.group.new_member_heartbeat_expiration = expiration;
    let (a, ra) = h.join_dynamic(0);
    let (b, rb) = h.join_dynamic(100);
    let completed = GROUP_INITIAL_REBALANCE_DELAY_MS + 100;
    h.group.on_tick(completed, &mut h.out);
    assert!(
        h.answer(ra).is_some() && h.answer(rb).is_some(),
        "both join generation 1"
    );
    let sa = h.sync(completed + 100, 1, &a, &[(&a, "t-0"), (&b, "t-1")]);
    h.store_ok(completed + 100);
    assert!(h.answer(sa).is_some());
    assert_eq!(h.group.state(), GroupState::Stable);
    match h.heartbeat_until_expiry(&a, completed + 100, completed + 10 * SESSION_MS) {
        Some((now, expired)) => {
            assert_eq!(expired, vec![b.clone()]);
            (Some(now - completed), h, b)
        }
        None => (None, h, b),
    }
}

#[test]
fn from_kafka_9752_a_member_dead_after_its_first_join_is_expired_after_its_session_timeout() {
    let (expired_after, h, b) = new_member_dies_before_its_sync(true);
    let after = expired_after.expect("b is expired");
    assert!(
        (SESSION_MS..SESSION_MS + 3_000).contains(&after),
        "a session timeout after the join completed: {after} ms"
    );
    assert!(!h.group.members().contains_key(&b));
    assert_eq!(h.group.state(), GroupState::PreparingRebalance);
}

#[test]
fn before_kafka_9752_a_member_dead_after_its_first_join_stays_in_the_group() {
    let (expired_after, mut h, b) = new_member_dies_before_its_sync(false);
    assert_eq!(expired_after, None, "2.4.1: no heartbeat expiration for b");
    assert!(h.group.members().contains_key(&b), "b keeps its partition");
    assert_eq!(h.group.state(), GroupState::Stable);
    // A heartbeat from b (had it lived) schedules its expiration again.
    let now = GROUP_INITIAL_REBALANCE_DELAY_MS + 100 + 10 * SESSION_MS + 1_000;
    assert_eq!(h.group.heartbeat(now, 1, &b, None), None);
    let early = h.group.on_tick(now + SESSION_MS - 1, &mut h.out);
    assert!(!early.contains(&b), "not before its session timeout");
    let expired = h.group.on_tick(now + SESSION_MS, &mut h.out);
    assert!(expired.contains(&b), "{expired:?}");
}
