//! Kafka 3.8's client-side consumer partition assignors (`range`,
//! `roundrobin`, `sticky`, `cooperative-sticky`) as pure functions of the
//! group leader's view of a JoinGroup: partition counts and subscriptions in,
//! every member's partitions out, in the order the Java client produces them.
//!
//! Rack awareness is not modelled: no member reports a rack, which is the
//! configuration under which Kafka takes its non-rack-aware code paths.
//!
//! Input is normalised the way the real client sees it before the assignor
//! runs (see [`Group`]): only subscribed topics with at least one partition
//! reach the assignor, and members and topics are visited in the iteration
//! order of the `java.util.HashMap`s the client builds, which is where Kafka's
//! tie-breaks come from.

mod cooperative;

mod range;
mod round_robin;
mod sticky;
mod sticky_general;

#[cfg(test)]
mod tests_cooperative;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_range;
#[cfg(test)]
mod tests_round_robin;
#[cfg(test)]
mod tests_sticky;
#[cfg(test)]
mod tests_sticky_general;
#[cfg(test)]
mod tests_support;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::group::java;
use crate::protocol::TopicPartition;

/// One member's subscription as the group leader sees it in JoinGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Topics the member subscribes to.
    pub topics: Vec<String>,
    /// `group.instance.id` (static membership).
    pub instance_id: Option<String>,
    /// Partitions it owned before this rebalance.
    pub owned: Vec<TopicPartition>,
    /// Generation of `owned`.
    pub generation: Option<i32>,
}

/// One of Kafka's built-in consumer partition assignors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignor {
    /// `org.apache.kafka.clients.consumer.RangeAssignor`.
    Range,
    /// `org.apache.kafka.clients.consumer.RoundRobinAssignor`.
    RoundRobin,
    /// `org.apache.kafka.clients.consumer.StickyAssignor`.
    Sticky,
    /// `org.apache.kafka.clients.consumer.CooperativeStickyAssignor`.
    CooperativeSticky,
}

impl Assignor {
    /// Every assignor, in Kafka's documentation order.
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::Sticky,
        Assignor::CooperativeSticky,
    ];

    /// Kafka's name: "range", "roundrobin", "sticky", "cooperative-sticky".
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// From Kafka's name (as in partition.assignment.strategy short names); None when unknown.
    ///
    /// The fully qualified class names that `partition.assignment.strategy`
    /// takes are accepted too.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name || a.class_name() == name)
    }

    /// True for cooperative-sticky (the COOPERATIVE rebalance protocol).
    pub fn is_cooperative(self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }

    /// The Java class implementing it.
    pub fn class_name(self) -> &'static str {
        match self {
            Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Assignor::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Assignor::CooperativeSticky => {
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            }
        }
    }
}

/// The assignment for every member (member id -> its partitions in the order
/// the assignor produces them). Every member of `members` has an entry (maybe empty).
pub fn assign(
    assignor: Assignor,
    partitions_per_topic: &BTreeMap<String, u32>,
    members: &BTreeMap<String, Subscription>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let group = Group::new(partitions_per_topic, members);
    let by_index = match assignor {
        Assignor::Range => range::assign(&group),
        Assignor::RoundRobin => round_robin::assign(&group),
        Assignor::Sticky => sticky::assign(&group).assignment,
        Assignor::CooperativeSticky => cooperative::assign(&group),
    };
    group
        .members
        .iter()
        .zip(by_index)
        .map(|(m, partitions)| (m.id.clone(), partitions))
        .collect()
}

/// Generation Kafka uses for "none known" (`DEFAULT_GENERATION`).
pub(crate) const DEFAULT_GENERATION: i32 = -1;

/// A member as the assignors see it.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    /// Subscribed topics, first occurrence of each (the client sends a set).
    pub(crate) topics: Vec<String>,
    /// Owned partitions exactly as reported.
    pub(crate) owned: Vec<TopicPartition>,
    /// Generation of `owned`; absent and negative values read as
    /// [`DEFAULT_GENERATION`], as `Subscription#generationId` does.
    pub(crate) generation: i32,
}

impl Member {
    pub(crate) fn subscribes(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

/// The leader's input after the normalisation the Java client performs.
///
/// - `members` is in the iteration order of the leader's
///   `HashMap<String, Subscription>`, which Kafka's assignors walk. The JDK
///   orders it by bucket of the member id's hash; within one bucket by
///   insertion, i.e. the order of the JoinGroup response, which is not an
///   input here: member id order stands in for it.
/// - `topics` is `partitionsPerTopic` as `AbstractPartitionAssignor` builds
///   it: subscribed topics with at least one partition, in that map's
///   iteration order (a `HashMap` filled from a `HashSet` of all subscribed
///   topics). Unsubscribed and unknown topics contribute nothing.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub(crate) members: Vec<Member>,
    pub(crate) topics: Vec<(String, u32)>,
    counts: BTreeMap<String, u32>,
}

impl Group {
    pub(crate) fn new(
        partitions_per_topic: &BTreeMap<String, u32>,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> Self {
        let by_id: Vec<Member> = subscriptions
            .iter()
            .map(|(id, s)| {
                let mut seen = BTreeSet::new();
                Member {
                    id: id.clone(),
                    instance_id: s.instance_id.clone(),
                    topics: s
                        .topics
                        .iter()
                        .filter(|t| seen.insert(t.as_str()))
                        .cloned()
                        .collect(),
                    owned: s.owned.clone(),
                    generation: s
                        .generation
                        .filter(|g| *g >= 0)
                        .unwrap_or(DEFAULT_GENERATION),
                }
            })
            .collect();
        let member_hashes: Vec<i32> = by_id.iter().map(|m| java::string_hash(&m.id)).collect();
        let mut slots: Vec<Option<Member>> = by_id.into_iter().map(Some).collect();
        let members: Vec<Member> = java::hash_order(&member_hashes)
            .into_iter()
            .filter_map(|i| slots[i].take())
            .collect();

        let mut seen = BTreeSet::new();
        let subscribed: Vec<&str> = members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .filter(|t| seen.insert(*t))
            .collect();
        let subscribed = reorder_like_hash_set(subscribed);
        let with_partitions: Vec<&str> = subscribed
            .into_iter()
            .filter(|t| partitions_per_topic.get(*t).is_some_and(|&n| n > 0))
            .collect();
        let topics: Vec<(String, u32)> = reorder_like_hash_set(with_partitions)
            .into_iter()
            .map(|t| (t.to_owned(), partitions_per_topic[t]))
            .collect();
        let counts = topics.iter().cloned().collect();
        Group {
            members,
            topics,
            counts,
        }
    }

    /// Partition count of a topic in `partitionsPerTopic`, None when absent.
    pub(crate) fn partition_count(&self, topic: &str) -> Option<u32> {
        self.counts.get(topic).copied()
    }

    /// True when `tp` names an existing partition of an assignable topic.
    pub(crate) fn has_partition(&self, tp: &TopicPartition) -> bool {
        self.partition_count(&tp.topic)
            .is_some_and(|n| tp.partition < n)
    }
}

/// Distinct strings in the iteration order of a `HashSet` they were added to in order.
fn reorder_like_hash_set(items: Vec<&str>) -> Vec<&str> {
    let hashes: Vec<i32> = items.iter().map(|t| java::string_hash(t)).collect();
    java::hash_order(&hashes)
        .into_iter()
        .map(|i| items[i])
        .collect()
}

/// `AbstractPartitionAssignor.MemberInfo#compareTo`: static members first by
/// `group.instance.id`, then dynamic members by member id.
pub(crate) fn member_info_cmp(a: &Member, b: &Member) -> Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => java::cmp_str(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java::cmp_str(&a.id, &b.id),
    }
}
