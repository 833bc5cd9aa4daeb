//! Properties over seeded random groups: every assignor hands each
//! partition of a subscribed topic to exactly one subscriber (the
//! cooperative one at most one, and exactly one once settled), nobody gets a
//! topic it does not subscribe to, and the sticky assignors balance.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::protocol::TopicPartition;

use super::tests_support::*;
use super::{assign, Assignor, Subscription};

struct Case {
    partitions: BTreeMap<String, u32>,
    members: BTreeMap<String, Subscription>,
    uniform: bool,
    /// Members only claim partitions of topics they subscribe to.
    consistent: bool,
}

impl Case {
    fn max_generation(&self) -> i32 {
        self.members
            .values()
            .filter_map(|s| s.generation)
            .max()
            .unwrap_or(-1)
    }
}

/// A random group. Subscriptions are never empty: Kafka 3.8 may give a
/// member with an empty subscription partitions (see
/// `empty_subscription_met_first_still_counts_as_equal`).
fn random_case(rng: &mut ChaCha8Rng) -> Case {
    let topic_count = rng.random_range(1..=5);
    let partitions: BTreeMap<String, u32> = (0..topic_count)
        .map(|t| {
            (
                format!("topic-{}", rng.random_range(0..1000) * 10 + t),
                rng.random_range(0..12),
            )
        })
        .collect();
    let names: Vec<&String> = partitions.keys().collect();
    let uniform = rng.random_bool(0.5);
    let member_count = rng.random_range(1..=9);
    let mut members = BTreeMap::new();
    for m in 0..member_count {
        let mut topics: Vec<String> = if uniform {
            names.iter().map(|t| (*t).clone()).collect()
        } else {
            names
                .iter()
                .filter(|_| rng.random_bool(0.5))
                .map(|t| (*t).clone())
                .collect()
        };
        if topics.is_empty() {
            topics.push(names[rng.random_range(0..names.len())].clone());
        }
        if rng.random_bool(0.1) {
            topics.push("not-a-topic".into());
        }
        let instance_id = rng
            .random_bool(0.3)
            .then(|| format!("instance-{}", rng.random_range(0..100)));
        let id = format!("consumer-{}-{m}", rng.random_range(0..1_000_000));
        members.insert(
            id,
            Subscription {
                topics,
                instance_id,
                ..Subscription::default()
            },
        );
    }
    // Previous ownership: random, possibly conflicting, claims; when
    // consistent, only by subscribers.
    let consistent = rng.random_bool(0.8);
    if rng.random_bool(0.7) {
        let ids: Vec<String> = members.keys().cloned().collect();
        for (topic, &n) in &partitions {
            let claimants: Vec<&String> = ids
                .iter()
                .filter(|id| !consistent || members[*id].topics.contains(topic))
                .collect();
            if claimants.is_empty() {
                continue;
            }
            for p in 0..n {
                for _ in 0..rng.random_range(0..=2) {
                    let owner = claimants[rng.random_range(0..claimants.len())].clone();
                    members
                        .get_mut(&owner)
                        .unwrap()
                        .owned
                        .push(TopicPartition::new(topic, p));
                }
            }
        }
        for s in members.values_mut() {
            s.generation = match rng.random_range(0..4) {
                0 => None,
                g => Some(g),
            };
        }
    }
    let uniform = uniform
        && members
            .values()
            .all(|s| !s.topics.iter().any(|t| t == "not-a-topic"));
    Case {
        partitions,
        members,
        uniform,
        consistent,
    }
}

/// Every partition of a subscribed topic, exactly once when `exact`, else
/// at most once; and only to subscribers.
#[track_caller]
fn check_ownership(case: &Case, assignment: &Assignment, exact: bool) {
    assert_eq!(
        assignment.keys().collect::<Vec<_>>(),
        case.members.keys().collect::<Vec<_>>()
    );
    let mut seen = BTreeSet::new();
    for (id, tps) in assignment {
        for tp in tps {
            if !case.members[id].topics.contains(&tp.topic) {
                // Kafka 3.8 hands a partition back to a previous owner from an
                // older generation without checking it still subscribes.
                let member = &case.members[id];
                let stale = member.generation.unwrap_or(-1) < case.max_generation();
                assert!(stale && member.owned.contains(tp), "{id} got {tp}");
                assert!(!case.consistent, "{id} got {tp}");
            }
            assert!(
                tp.partition < case.partitions[&tp.topic],
                "{tp} does not exist"
            );
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    if exact {
        let subscribed: BTreeSet<&String> = case.members.values().flat_map(|s| &s.topics).collect();
        for (topic, &n) in &case.partitions {
            if subscribed.contains(topic) {
                for p in 0..n {
                    assert!(
                        seen.contains(&TopicPartition::new(topic, p)),
                        "{topic}-{p} unassigned"
                    );
                }
            }
        }
    }
}

#[test]
fn random_groups_keep_assignment_invariants() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED_A551);
    for round in 0..400 {
        let case = random_case(&mut rng);
        for assignor in Assignor::ALL {
            let a = assign(assignor, &case.partitions, &case.members);
            let cooperative = assignor.is_cooperative();
            check_ownership(&case, &a, !cooperative);
            match assignor {
                Assignor::Sticky if case.consistent => {
                    verify_validity_and_balance(&case.members, &a);
                    if case.uniform {
                        assert!(is_fully_balanced(&a), "round {round}: {a:?}");
                    }
                }
                Assignor::CooperativeSticky if case.consistent => {
                    let (members, settled) =
                        settle_cooperative(&case.partitions, case.members.clone(), a, 10);
                    let settled_case = Case { members, ..case };
                    check_ownership(&settled_case, &settled, true);
                    if settled_case.uniform {
                        assert!(is_fully_balanced(&settled), "round {round}: {settled:?}");
                    }
                    break;
                }
                _ => {}
            }
        }
    }
}

/// Repeated rebalances with members joining and leaving: the sticky
/// assignors stay balanced and keep what members had where balance allows.
#[test]
fn random_membership_changes_stay_balanced_and_sticky() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xC0FFEE);
    let partitions = topics(&[("orders", 12), ("payments", 7), ("audit", 5)]);
    let all = ["orders", "payments", "audit"];
    for assignor in [Assignor::Sticky, Assignor::CooperativeSticky] {
        let mut members = group(vec![("m0", sub(&all)), ("m1", sub(&all))]);
        let mut assignment = assign(assignor, &partitions, &members);
        for generation in 1..60 {
            if assignor.is_cooperative() {
                (members, assignment) =
                    settle_cooperative(&partitions, members, assignment, generation);
            }
            verify_validity_and_balance(&members, &assignment);
            assert!(
                is_fully_balanced(&assignment),
                "{assignor:?} {assignment:?}"
            );
            members = next_generation(&members, &assignment, generation);
            if members.len() > 1 && rng.random_bool(0.4) {
                let ids: Vec<String> = members.keys().cloned().collect();
                members.remove(&ids[rng.random_range(0..ids.len())]);
            } else {
                members.insert(format!("m{}", rng.random_range(2..1000)), sub(&all));
            }
            let before = assignment.clone();
            assignment = assign(assignor, &partitions, &members);
            // Survivors lose partitions only down to the new quota.
            let total: usize = partitions.values().map(|&n| n as usize).sum();
            let max_quota = total.div_ceil(members.len());
            for (id, tps) in &assignment {
                if let Some(had) = before.get(id) {
                    let kept = had.iter().filter(|tp| tps.contains(tp)).count();
                    assert!(
                        kept >= had.len().min(total / members.len()),
                        "{id} lost too much"
                    );
                    assert!(kept <= max_quota);
                }
            }
        }
    }
}

#[test]
fn assignor_names_match_kafka() {
    for assignor in Assignor::ALL {
        assert_eq!(Assignor::from_name(assignor.name()), Some(assignor));
        assert_eq!(Assignor::from_name(assignor.class_name()), Some(assignor));
    }
    assert_eq!(
        Assignor::from_name("cooperative-sticky"),
        Some(Assignor::CooperativeSticky)
    );
    assert_eq!(Assignor::from_name("round-robin"), None);
    assert!(Assignor::CooperativeSticky.is_cooperative());
    assert!(!Assignor::Sticky.is_cooperative());
}

/// Odd input: no members, members of unknown topics only, zero partitions.
#[test]
fn odd_input_does_not_panic() {
    let none = BTreeMap::new();
    for assignor in Assignor::ALL {
        assert!(assign(assignor, &topics(&[("t", 3)]), &none).is_empty());
        let members = group(vec![("a", sub(&["ghost"])), ("b", sub(&["t"]))]);
        let a = assign(assignor, &topics(&[("t", 0), ("u", 2)]), &members);
        assert_assignment(&a, &[("a", ""), ("b", "")]);
        let members = group(vec![
            ("a", owning(&["t"], "t-7 t-0 t-0", 3)),
            ("b", owning(&["t"], "t-0", 3)),
        ]);
        let a = assign(assignor, &topics(&[("t", 2)]), &members);
        assert!(a.values().flatten().all(|tp| tp.partition < 2));
    }
}
