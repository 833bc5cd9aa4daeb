//! `CooperativeStickyAssignor`: the sticky assignment, minus every partition
//! that would move from one member to another in this rebalance. The old
//! owner is told to revoke it; once it no longer claims it, the follow-up
//! rebalance hands it to its new owner.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::TopicPartition;

use super::sticky::{self, remove_first};
use super::Group;

/// Cooperative sticky assignment, indexed like `group.members`.
pub(super) fn assign(group: &Group) -> Vec<Vec<TopicPartition>> {
    let outcome = sticky::assign(group);
    let mut assignment = outcome.assignment;
    let transferring = outcome
        .transferring
        .unwrap_or_else(|| transferring_ownership(group, &assignment));
    for (tp, consumer) in &transferring {
        remove_first(&mut assignment[*consumer], tp);
    }
    assignment
}

/// Partitions assigned to a member that did not own them while some member
/// that did is losing them (Kafka's `computePartitionsTransferringOwnership`,
/// used after the general algorithm). Claims are taken as reported,
/// generations aside.
fn transferring_ownership(
    group: &Group,
    assignment: &[Vec<TopicPartition>],
) -> BTreeMap<TopicPartition, usize> {
    let mut added = BTreeMap::new();
    let mut revoked = BTreeSet::new();
    for (i, (member, assigned)) in group.members.iter().zip(assignment).enumerate() {
        let owned: BTreeSet<&TopicPartition> = member.owned.iter().collect();
        let assigned_set: BTreeSet<&TopicPartition> = assigned.iter().collect();
        for tp in assigned.iter().filter(|tp| !owned.contains(tp)) {
            added.insert(tp.clone(), i);
        }
        revoked.extend(
            member
                .owned
                .iter()
                .filter(|tp| !assigned_set.contains(tp))
                .cloned(),
        );
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}
