//! Consumers' group membership against a real group coordinator, with
//! requests delivered at once: joins, assignment, a member leaving or going
//! silent, a coordinator failover, and a zombie fenced.

use std::collections::BTreeMap;

use super::membership::{Membership, MembershipConfig, MembershipOutput};
use crate::group::assignor::Assignor;
use crate::group::coordinator::{CoordinatorOutput, GroupCoordinator};
use crate::group::offsets_topic::partition_for;
use crate::log::Record;
use crate::protocol::TopicPartition;

const GROUP: &str = "billing";
const OFFSETS_PARTITIONS: u32 = 50;

/// Consumers, one coordinator broker (id 1), and the offsets partition's log.
struct World {
    now: u64,
    coordinator: GroupCoordinator<usize>,
    log: Vec<Record>,
    members: Vec<Option<Membership>>,
    partitions: BTreeMap<String, u32>,
    /// What each member was told, in order.
    told: Vec<Vec<MembershipOutput>>,
    next_id: u32,
}

impl World {
    fn new(members: usize, assignors: Vec<Assignor>) -> Self {
        let mut coordinator = GroupCoordinator::new(OFFSETS_PARTITIONS);
        coordinator.load(partition_for(GROUP, OFFSETS_PARTITIONS), &[], 0);
        let members = (0..members)
            .map(|i| {
                let mut config = MembershipConfig::new(GROUP, &format!("consumer-{i}"));
                config.assignors = assignors.clone();
                Some(Membership::new(config, vec!["orders".to_owned()]))
            })
            .collect::<Vec<_>>();
        Self {
            now: 0,
            coordinator,
            log: Vec::new(),
            told: vec![Vec::new(); members.len()],
            members,
            partitions: BTreeMap::from([("orders".to_owned(), 6)]),
            next_id: 0,
        }
    }

    /// Delivers member `i`'s outputs, and the coordinator's answers, until quiet.
    fn deliver(&mut self, i: usize, outputs: Vec<MembershipOutput>) {
        let mut queue: Vec<(usize, MembershipOutput)> =
            outputs.into_iter().map(|o| (i, o)).collect();
        while let Some((i, o)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            let mut replies = Vec::new();
            match o {
                MembershipOutput::FindCoordinator => {
                    let mut out = Vec::new();
                    if let Some(m) = self.members[i].as_mut() {
                        m.on_find_coordinator(self.now, Ok(1), &mut out);
                    }
                    queue.extend(out.into_iter().map(|o| (i, o)));
                    continue;
                }
                MembershipOutput::Send(_, request) => {
                    let next_id = &mut self.next_id;
                    let mut fresh = || {
                        *next_id += 1;
                        format!("uuid{next_id}")
                    };
                    self.coordinator
                        .handle(self.now, i, GROUP, request, &mut fresh, &mut replies);
                }
                other => {
                    self.told[i].push(other);
                    continue;
                }
            }
            queue.extend(self.coordinator_outputs(replies));
        }
    }

    /// Appends commit at once; replies go to their members.
    fn coordinator_outputs(
        &mut self,
        outputs: Vec<CoordinatorOutput<usize>>,
    ) -> Vec<(usize, MembershipOutput)> {
        let mut pending = outputs;
        let mut to_members = Vec::new();
        while let Some(o) = (!pending.is_empty()).then(|| pending.remove(0)) {
            match o {
                CoordinatorOutput::Append { id, records, .. } => {
                    self.log.extend(records);
                    self.coordinator
                        .on_append_done(self.now, id, None, &mut pending);
                }
                CoordinatorOutput::Reply(member, response) => {
                    let mut out = Vec::new();
                    if let Some(m) = self.members[member].as_mut() {
                        m.on_response(self.now, &self.partitions, response, &mut out);
                    }
                    to_members.extend(out.into_iter().map(|o| (member, o)));
                }
            }
        }
        to_members
    }

    /// Advances time to `until` in 100 ms steps, polling every live member
    /// and ticking the coordinator.
    fn run_until(&mut self, until: u64) {
        while self.now < until {
            self.now += 100;
            for i in 0..self.members.len() {
                let mut out = Vec::new();
                if let Some(m) = self.members[i].as_mut() {
                    m.poll(self.now, &mut out);
                }
                self.deliver(i, out);
            }
            let mut out = Vec::new();
            self.coordinator.on_tick(self.now, &mut out);
            let to_members = self.coordinator_outputs(out);
            for (i, o) in to_members {
                self.deliver(i, vec![o]);
            }
        }
    }

    /// Like `run_until`, but member `paused` is frozen (a GC pause or SIGSTOP).
    fn run_paused(&mut self, paused: usize, until: u64) {
        let frozen = self.members[paused].take();
        self.run_until(until);
        self.members[paused] = frozen;
    }

    /// Every live member's partitions.
    fn assignment(&self) -> BTreeMap<usize, Vec<TopicPartition>> {
        self.members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_ref().map(|m| (i, m.owned().to_vec())))
            .collect()
    }

    fn all_stable(&self) -> bool {
        self.members.iter().flatten().all(Membership::is_stable)
    }
}

fn covered_once(assignment: &BTreeMap<usize, Vec<TopicPartition>>, partitions: u32) {
    let mut all: Vec<&TopicPartition> = assignment.values().flatten().collect();
    all.sort();
    let expected: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new("orders", p))
        .collect();
    assert_eq!(all, expected.iter().collect::<Vec<_>>(), "{assignment:?}");
}

#[test]
fn three_consumers_join_and_split_six_partitions_with_range() {
    let mut w = World::new(3, vec![Assignor::Range]);
    w.run_until(5_000);
    assert!(w.all_stable());
    let a = w.assignment();
    covered_once(&a, 6);
    assert!(a.values().all(|p| p.len() == 2), "{a:?}");
    assert!(w.members.iter().flatten().all(|m| m.generation_id() == 1));
}

#[test]
fn a_crashed_consumer_is_expired_and_its_partitions_move() {
    let mut w = World::new(3, vec![Assignor::Range]);
    w.run_until(5_000);
    w.members[2] = None; // crashed: no LeaveGroup, no heartbeats
    w.run_until(5_000 + 45_000 + 10_000);
    assert!(w.all_stable());
    let a = w.assignment();
    covered_once(&a, 6);
    assert!(w.members.iter().flatten().all(|m| m.generation_id() == 2));
}

#[test]
fn a_clean_leave_rebalances_at_once() {
    let mut w = World::new(2, vec![Assignor::Range]);
    w.run_until(5_000);
    let mut out = Vec::new();
    w.members[1].as_mut().unwrap().leave(&mut out);
    w.members[1] = None;
    w.deliver(1, out);
    w.run_until(7_000);
    let a = w.assignment();
    assert_eq!(a[&0].len(), 6, "{a:?}");
}

#[test]
fn cooperative_sticky_revokes_then_assigns_in_a_second_rebalance() {
    let mut w = World::new(2, vec![Assignor::CooperativeSticky]);
    w.run_until(5_000);
    covered_once(&w.assignment(), 6);
    // A third member joins later: partitions move without anyone losing all.
    let mut config = MembershipConfig::new(GROUP, "consumer-2");
    config.assignors = vec![Assignor::CooperativeSticky];
    w.members
        .push(Some(Membership::new(config, vec!["orders".to_owned()])));
    w.told.push(Vec::new());
    w.run_until(20_000);
    assert!(w.all_stable());
    let a = w.assignment();
    covered_once(&a, 6);
    assert!(a.values().all(|p| p.len() == 2), "{a:?}");
    // Two rebalances after the first: join of the third, then the one that
    // hands over what was revoked.
    assert!(w.members.iter().flatten().all(|m| m.generation_id() == 3));
    let revoked: usize = w.told[..2]
        .iter()
        .flatten()
        .map(|o| match o {
            MembershipOutput::Revoked(r) => r.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(revoked, 2, "exactly the two partitions that moved");
    // The first members revoked only what moved, never everything.
    for i in 0..2 {
        for o in &w.told[i] {
            if let MembershipOutput::Revoked(r) = o {
                assert!(r.len() < 3, "member {i} revoked {r:?}");
            }
        }
    }
}

#[test]
fn members_carry_on_with_a_new_coordinator_that_loaded_the_log() {
    let mut w = World::new(2, vec![Assignor::Range]);
    w.run_until(5_000);
    let before = w.assignment();
    // Failover: a new coordinator loads the offsets partition's log.
    let mut next = GroupCoordinator::new(OFFSETS_PARTITIONS);
    next.load(partition_for(GROUP, OFFSETS_PARTITIONS), &w.log, w.now);
    w.coordinator = next;
    for m in w.members.iter_mut().flatten() {
        m.on_coordinator_lost(w.now);
    }
    w.run_until(20_000);
    assert!(w.all_stable());
    assert_eq!(w.assignment(), before, "no rebalance needed");
    assert!(w.members.iter().flatten().all(|m| m.generation_id() == 1));
}

#[test]
fn a_zombie_resumes_learns_it_was_expired_loses_its_partitions_and_rejoins() {
    let mut w = World::new(2, vec![Assignor::Range]);
    w.run_until(5_000);
    let zombie_generation = w.members[1].as_ref().unwrap().generation_id();
    w.run_paused(1, 5_000 + 50_000);
    assert_eq!(w.assignment()[&0].len(), 6, "the live member took over");
    // The zombie's next heartbeat is refused: its partitions are lost, not
    // revoked (it may not commit them), and it joins as a new member.
    w.run_until(5_000 + 70_000);
    assert!(w.told[1]
        .iter()
        .any(|o| matches!(o, MembershipOutput::Lost(p) if p.len() == 3)));
    assert!(w.all_stable());
    covered_once(&w.assignment(), 6);
    assert!(w.members[1].as_ref().unwrap().generation_id() > zombie_generation + 1);
}

#[test]
fn the_leader_rejoins_when_partitions_are_added_and_they_get_assigned() {
    let mut w = World::new(3, vec![Assignor::Range]);
    w.run_until(5_000);
    covered_once(&w.assignment(), 6);
    // Metadata now shows 8 partitions. A member that did not lead the
    // assignment holds no snapshot and does not rejoin.
    w.partitions.insert("orders".to_owned(), 8);
    let partitions = w.partitions.clone();
    for m in w.members.iter_mut().flatten() {
        m.check_metadata_of("orders", 8);
    }
    let rejoining: Vec<bool> = w
        .members
        .iter()
        .flatten()
        .map(Membership::is_rebalancing)
        .collect();
    assert_eq!(
        rejoining.iter().filter(|&&r| r).count(),
        1,
        "only the leader compares: {rejoining:?}"
    );
    w.run_until(15_000);
    assert!(w.all_stable());
    covered_once(&w.assignment(), 8);
    assert!(w.members.iter().flatten().all(|m| m.generation_id() == 2));
    // Nothing changed since: no further rebalance.
    for m in w.members.iter_mut().flatten() {
        m.check_metadata(&partitions);
        m.check_metadata_of("orders", 8);
    }
    assert!(w.all_stable());
}
