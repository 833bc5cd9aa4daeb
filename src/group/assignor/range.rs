//! `RangeAssignor`: each topic on its own, its partitions cut into contiguous
//! ranges over the topic's subscribers in `MemberInfo` order, the first
//! `partitions % subscribers` members taking one extra.
//!
//! Topics with the same subscribers and partition count land on the same
//! members partition by partition (co-partitioning) because every topic is
//! cut the same way; Kafka only does extra work for that when racks are
//! involved.

use crate::protocol::TopicPartition;

use super::{member_info_cmp, Group};

/// Range assignment, indexed like `group.members`.
pub(super) fn assign(group: &Group) -> Vec<Vec<TopicPartition>> {
    let mut assignment = vec![Vec::new(); group.members.len()];
    // Kafka walks partitionsPerTopic in its HashMap order, which decides the
    // order of topics within each member's list.
    for (topic, count) in &group.topics {
        let mut consumers: Vec<usize> = (0..group.members.len())
            .filter(|&i| group.members[i].subscribes(topic))
            .collect();
        if consumers.is_empty() {
            continue;
        }
        // A stable sort, like Collections.sort over the subscription map's order.
        consumers.sort_by(|&a, &b| member_info_cmp(&group.members[a], &group.members[b]));

        let n = consumers.len() as u32;
        let per_consumer = count / n;
        let mut extra_left = count % n;
        let mut next = 0u32;
        for consumer in consumers {
            if next == *count {
                break;
            }
            let quota = per_consumer + u32::from(extra_left > 0);
            let take = quota.min(count - next);
            if take == 0 {
                continue;
            }
            assignment[consumer].extend((next..next + take).map(|p| TopicPartition::new(topic, p)));
            if take > per_consumer {
                extra_left -= 1;
            }
            next += take;
        }
    }
    assignment
}
