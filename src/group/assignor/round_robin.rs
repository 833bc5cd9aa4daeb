//! `RoundRobinAssignor`: all partitions of all subscribed topics (topics in
//! name order) dealt out one at a time over the members in `MemberInfo`
//! order, skipping members not subscribed to the partition's topic.

use std::collections::BTreeSet;

use crate::protocol::TopicPartition;

use super::{member_info_cmp, Group};
use crate::group::java::cmp_str;

/// Round-robin assignment, indexed like `group.members`.
pub(super) fn assign(group: &Group) -> Vec<Vec<TopicPartition>> {
    let members = &group.members;
    let mut assignment = vec![Vec::new(); members.len()];
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| member_info_cmp(&members[a], &members[b]));

    let mut topics: Vec<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Kafka's TreeSet<String> orders by String#compareTo.
    topics.sort_by(|a, b| cmp_str(a, b));

    let mut cursor = 0usize;
    for topic in topics {
        let Some(count) = group.partition_count(topic) else {
            continue;
        };
        for p in 0..count {
            // Someone subscribes to every topic listed, so this ends.
            while !members[order[cursor]].subscribes(topic) {
                cursor = (cursor + 1) % order.len();
            }
            assignment[order[cursor]].push(TopicPartition::new(topic, p));
            cursor = (cursor + 1) % order.len();
        }
    }
    assignment
}
