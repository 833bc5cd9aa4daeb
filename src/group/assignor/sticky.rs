//! `AbstractStickyAssignor` (behind `StickyAssignor` and
//! `CooperativeStickyAssignor`): validation of previously owned partitions,
//! then the constrained algorithm when every member subscribes to the same
//! topics, else the general one (`sticky_general`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::protocol::TopicPartition;

use super::{sticky_general, Group, DEFAULT_GENERATION};
use crate::group::java::cmp_str;

/// What a sticky assignment produced.
pub(super) struct StickyOutcome {
    /// Partitions per member, indexed like `group.members`.
    pub(super) assignment: Vec<Vec<TopicPartition>>,
    /// Partitions given to a member other than their previous owner, with
    /// the new owner (member index). Only the constrained algorithm tracks
    /// this; None after the general one, as in Kafka, which then leaves it to
    /// the cooperative assignor to work out.
    pub(super) transferring: Option<BTreeMap<TopicPartition, usize>>,
}

/// Each member's claims on previously owned partitions after resolving
/// conflicts (Kafka's `allSubscriptionsEqual`).
pub(super) struct OwnedClaims {
    /// Whether every member subscribes to the same topics.
    pub(super) all_subscriptions_equal: bool,
    /// Still-valid owned partitions per member, in reported order.
    pub(super) owned: Vec<Vec<TopicPartition>>,
    /// Partitions claimed by two members of the same generation: nobody keeps them.
    pub(super) multiply_claimed: BTreeSet<TopicPartition>,
    /// Highest generation any member reported.
    pub(super) max_generation: i32,
}

/// Sticky assignment (eager `StickyAssignor`).
pub(super) fn assign(group: &Group) -> StickyOutcome {
    let claims = owned_claims(group);
    if claims.all_subscriptions_equal {
        constrained_assign(group, claims)
    } else {
        StickyOutcome {
            assignment: sticky_general::assign(group, claims),
            transferring: None,
        }
    }
}

/// Walks members in map order, keeping each member's owned partitions of
/// assignable topics unless another member claims them: the higher generation
/// keeps a partition claimed in two generations; two claims in the same
/// generation void it for both.
///
/// Owned partitions beyond a topic's partition count are dropped here. Kafka
/// keeps them and may then hand out a partition that does not exist, or the
/// same partition twice (its unassigned-partition scan assumes none).
pub(super) fn owned_claims(group: &Group) -> OwnedClaims {
    let members = &group.members;
    let mut all_equal = true;
    // Kafka fills its reference set from the first member with a non-empty
    // subscription, so empty subscriptions met before it do not count as different.
    let mut reference: BTreeSet<&str> = BTreeSet::new();
    let mut max_generation = DEFAULT_GENERATION;
    let mut owned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
    let mut claimed_by: BTreeMap<&TopicPartition, usize> = BTreeMap::new();
    let mut multiply_claimed = BTreeSet::new();

    for (i, member) in members.iter().enumerate() {
        if reference.is_empty() {
            reference.extend(member.topics.iter().map(String::as_str));
        } else if all_equal
            && !(member.topics.len() == reference.len()
                && member.topics.iter().all(|t| reference.contains(t.as_str())))
        {
            all_equal = false;
        }
        let generation = member.generation;
        max_generation = max_generation.max(generation);

        for tp in member.owned.iter().filter(|tp| group.has_partition(tp)) {
            let Some(&other) = claimed_by.get(tp) else {
                owned[i].push(tp.clone());
                claimed_by.insert(tp, i);
                continue;
            };
            let other_generation = members[other].generation;
            if generation == other_generation {
                multiply_claimed.insert(tp.clone());
                remove_first(&mut owned[other], tp);
                claimed_by.insert(tp, i);
            } else if generation > other_generation {
                owned[i].push(tp.clone());
                remove_first(&mut owned[other], tp);
                claimed_by.insert(tp, i);
            }
        }
    }
    OwnedClaims {
        all_subscriptions_equal: all_equal,
        owned,
        multiply_claimed,
        max_generation,
    }
}

/// `List#remove(Object)`: drops the first occurrence, if any.
pub(super) fn remove_first(list: &mut Vec<TopicPartition>, tp: &TopicPartition) {
    if let Some(pos) = list.iter().position(|p| p == tp) {
        list.remove(pos);
    }
}

/// Kafka's `ConstrainedAssignmentBuilder`: members keep up to their quota of
/// owned partitions (`maxQuota` for the first ones met in map order while
/// such slots remain, else `minQuota`), then the rest are dealt round-robin to
/// members under `minQuota`, then to members at `minQuota` that may still
/// take one more.
fn constrained_assign(group: &Group, claims: OwnedClaims) -> StickyOutcome {
    let members = &group.members;
    let n = members.len();
    let total: usize = group.topics.iter().map(|(_, c)| *c as usize).sum();
    if n == 0 {
        return StickyOutcome {
            assignment: Vec::new(),
            transferring: Some(BTreeMap::new()),
        };
    }
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let expected_over_min = total % n;
    let mut current_over_min = 0usize;

    let mut assignment: Vec<Vec<TopicPartition>> = vec![Vec::new(); n];
    let mut maybe_revoked: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    let mut under_min: Vec<usize> = Vec::new();
    let mut at_min: VecDeque<usize> = VecDeque::new();
    let mut assigned: BTreeSet<TopicPartition> = BTreeSet::new();
    let multiply_claimed = &claims.multiply_claimed;

    for (i, owned) in claims.owned.into_iter().enumerate() {
        let mut owned = owned;
        owned.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then_with(|| cmp_str(&a.topic, &b.topic))
        });
        owned.retain(|tp| !multiply_claimed.contains(tp));

        let keep = if owned.len() < min_quota {
            under_min.push(i);
            owned.len()
        } else if owned.len() >= max_quota && current_over_min < expected_over_min {
            current_over_min += 1;
            if current_over_min == expected_over_min {
                at_min.clear();
            }
            max_quota
        } else {
            if current_over_min < expected_over_min {
                at_min.push_back(i);
            }
            min_quota
        };
        for tp in owned.drain(keep..) {
            maybe_revoked.insert(tp, i);
        }
        assigned.extend(owned.iter().cloned());
        assignment[i] = owned;
    }

    let mut topics: Vec<&(String, u32)> = group.topics.iter().collect();
    topics.sort_by(|a, b| cmp_str(&a.0, &b.0));
    let unassigned: Vec<TopicPartition> = topics
        .into_iter()
        .flat_map(|(t, c)| (0..*c).map(move |p| TopicPartition::new(t, p)))
        .filter(|tp| !assigned.contains(tp))
        .collect();

    under_min.sort_by(|&a, &b| cmp_str(&members[a].id, &members[b].id));
    at_min
        .make_contiguous()
        .sort_by(|&a, &b| cmp_str(&members[a].id, &members[b].id));

    let mut transferring = BTreeMap::new();
    // Position of Kafka's iterator over `under_min`: the next member it yields.
    let mut cursor = 0usize;
    for tp in unassigned {
        let (consumer, from_under) = if cursor < under_min.len() {
            cursor += 1;
            (under_min[cursor - 1], true)
        } else if under_min.is_empty() {
            // Kafka throws when both lists are empty, which the quotas rule
            // out; leave the partition unassigned rather than fail.
            let Some(c) = at_min.pop_front() else {
                break;
            };
            (c, false)
        } else {
            cursor = 1;
            (under_min[0], true)
        };

        assignment[consumer].push(tp.clone());
        let revoked_elsewhere = maybe_revoked
            .get(&tp)
            .is_some_and(|&owner| owner != consumer);
        if revoked_elsewhere || multiply_claimed.contains(&tp) {
            transferring.insert(tp, consumer);
        }

        // Kafka also counts members reaching maxQuota here, but only to
        // verify the result afterwards.
        if assignment[consumer].len() == min_quota && from_under {
            cursor -= 1;
            under_min.remove(cursor);
            at_min.push_back(consumer);
        }
    }

    StickyOutcome {
        assignment,
        transferring: Some(transferring),
    }
}
