//! Builders and checks shared by the assignor tests, mirroring the helpers
//! of Kafka's assignor test classes.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::TopicPartition;

use super::{assign, Assignor, Subscription};

pub(super) type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// `"topic-3"` as a partition.
pub(super) fn tp(s: &str) -> TopicPartition {
    let (topic, p) = s.rsplit_once('-').expect("topic-partition");
    TopicPartition::new(topic, p.parse().expect("partition number"))
}

/// Partitions written `"t1-0, t1-3, t2-0"` (commas optional).
pub(super) fn tps(s: &str) -> Vec<TopicPartition> {
    s.split([',', ' '])
        .filter(|x| !x.is_empty())
        .map(tp)
        .collect()
}

/// Partition counts per topic.
pub(super) fn topics(counts: &[(&str, u32)]) -> BTreeMap<String, u32> {
    counts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

/// A member with no previous assignment.
pub(super) fn sub(topics: &[&str]) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        ..Subscription::default()
    }
}

/// A member that owned `owned` in `generation` (Kafka's `buildSubscriptionV2Above`).
pub(super) fn owning(topics: &[&str], owned: &str, generation: i32) -> Subscription {
    Subscription {
        owned: tps(owned),
        generation: Some(generation),
        ..sub(topics)
    }
}

/// A static member.
pub(super) fn with_instance(s: Subscription, instance: &str) -> Subscription {
    Subscription {
        instance_id: Some(instance.to_owned()),
        ..s
    }
}

/// Members by id.
pub(super) fn group(list: Vec<(&str, Subscription)>) -> BTreeMap<String, Subscription> {
    list.into_iter().map(|(id, s)| (id.to_owned(), s)).collect()
}

/// Asserts every member's exact partition list.
#[track_caller]
pub(super) fn assert_assignment(actual: &Assignment, expected: &[(&str, &str)]) {
    let expected: Assignment = expected
        .iter()
        .map(|(m, p)| ((*m).to_owned(), tps(p)))
        .collect();
    assert_eq!(actual, &expected);
}

/// The assignment turned into the members of a next generation: each
/// member now owns what it was given.
pub(super) fn next_generation(
    members: &BTreeMap<String, Subscription>,
    assignment: &Assignment,
    generation: i32,
) -> BTreeMap<String, Subscription> {
    members
        .iter()
        .map(|(id, s)| {
            let owned = assignment.get(id).cloned().unwrap_or_default();
            (
                id.clone(),
                Subscription {
                    owned,
                    generation: Some(generation),
                    ..s.clone()
                },
            )
        })
        .collect()
}

/// Kafka's `isFullyBalanced`: member loads differ by at most one.
pub(super) fn is_fully_balanced(assignment: &Assignment) -> bool {
    let sizes = assignment.values().map(Vec::len);
    let (min, max) = (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0));
    max - min <= 1
}

/// Kafka's `verifyValidityAndBalance`: members only get subscribed topics,
/// no partition twice, and a member two or more ahead of another shares no
/// topic with it that could move.
#[track_caller]
pub(super) fn verify_validity_and_balance(
    members: &BTreeMap<String, Subscription>,
    assignment: &Assignment,
) {
    assert_eq!(
        members.keys().collect::<Vec<_>>(),
        assignment.keys().collect::<Vec<_>>()
    );
    let consumers: Vec<&String> = assignment.keys().collect();
    for (i, c) in consumers.iter().enumerate() {
        let mine = &assignment[*c];
        for tp in mine {
            assert!(
                members[*c].topics.contains(&tp.topic),
                "{tp} assigned to {c}, which does not subscribe to it: {assignment:?}"
            );
        }
        for other in &consumers[i + 1..] {
            let theirs = &assignment[*other];
            let mine_set: BTreeSet<_> = mine.iter().collect();
            assert!(
                theirs.iter().all(|tp| !mine_set.contains(tp)),
                "{c} and {other} share partitions: {assignment:?}"
            );
            if mine.len().abs_diff(theirs.len()) <= 1 {
                continue;
            }
            let (more, less) = if mine.len() > theirs.len() {
                (mine, theirs)
            } else {
                (theirs, mine)
            };
            let less_topics: BTreeSet<&str> = less.iter().map(|tp| tp.topic.as_str()).collect();
            assert!(
                more.iter()
                    .all(|tp| !less_topics.contains(tp.topic.as_str())),
                "a partition could move from {c}/{other} for better balance: {assignment:?}"
            );
        }
    }
}

/// Kafka's `CooperativeStickyAssignorTest#verifyValidityAndBalance`: while
/// the assignment revokes anything, no revoked partition may be handed out in
/// the same rebalance, and the group rebalances again with what it now owns;
/// the assignment it settles on (within four follow-ups) must be valid and
/// balanced. Returns the settled members and assignment.
#[track_caller]
pub(super) fn settle_cooperative(
    partitions: &BTreeMap<String, u32>,
    mut members: BTreeMap<String, Subscription>,
    mut assignment: Assignment,
    generation: i32,
) -> (BTreeMap<String, Subscription>, Assignment) {
    let mut rebalances = 0;
    loop {
        let mut added = BTreeSet::new();
        let mut revoked = BTreeSet::new();
        for (id, assigned) in &assignment {
            let owned = &members[id].owned;
            revoked.extend(owned.iter().filter(|tp| !assigned.contains(tp)).cloned());
            added.extend(assigned.iter().filter(|tp| !owned.contains(tp)).cloned());
        }
        let both: Vec<_> = added.intersection(&revoked).collect();
        assert!(both.is_empty(), "revoked and reassigned at once: {both:?}");
        if revoked.is_empty() {
            break;
        }
        members = next_generation(&members, &assignment, generation);
        assignment = assign(Assignor::CooperativeSticky, partitions, &members);
        rebalances += 1;
        assert!(rebalances <= 4, "no settled assignment after 4 rebalances");
    }
    verify_validity_and_balance(&members, &assignment);
    (members, assignment)
}
