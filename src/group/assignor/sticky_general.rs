//! Kafka's `GeneralAssignmentBuilder`, the sticky algorithm for members with
//! different subscriptions: keep valid owned partitions, give each
//! unassigned partition to the least loaded subscriber, then move partitions
//! from more loaded to less loaded members until no move improves balance,
//! keeping the result only if it beats the starting balance.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::TopicPartition;

use super::sticky::{remove_first, OwnedClaims};
use super::Group;
use crate::group::java::{cmp_str, PartitionHashSet};

/// General sticky assignment, indexed like `group.members`.
pub(super) fn assign(group: &Group, claims: OwnedClaims) -> Vec<Vec<TopicPartition>> {
    let mut builder = Builder::new(group, claims);
    builder.build();
    builder
        .current
        .into_iter()
        .zip(builder.fixed)
        .map(|(current, fixed)| current.or(fixed).unwrap_or_default())
        .collect()
}

struct Builder<'a> {
    group: &'a Group,
    max_generation: i32,
    /// Subscribers of each assignable topic, in member map order.
    topic_consumers: BTreeMap<&'a str, Vec<usize>>,
    /// Assignable topics each member subscribes to.
    consumer_topics: Vec<Vec<&'a str>>,
    /// Current partitions of each member still taking part in balancing;
    /// None once set aside as unable to take part.
    current: Vec<Option<Vec<TopicPartition>>>,
    /// Members set aside with their partitions.
    fixed: Vec<Option<Vec<TopicPartition>>>,
    /// `currentPartitionConsumer`: who holds each partition.
    owner: BTreeMap<TopicPartition, usize>,
    /// Every assignable partition, topics with fewer subscribers first.
    sorted_all: Vec<TopicPartition>,
    /// Kafka's `sortedCurrentSubscriptions` TreeSet: (partition count,
    /// member-id rank) for every member taking part.
    by_load: BTreeSet<(usize, usize)>,
    /// Member index by its rank in member-id order.
    by_rank: Vec<usize>,
    rank: Vec<usize>,
    revocation_required: bool,
    movements: Movements,
}

impl<'a> Builder<'a> {
    fn new(group: &'a Group, claims: OwnedClaims) -> Self {
        let members = &group.members;
        let mut topic_consumers: BTreeMap<&str, Vec<usize>> = group
            .topics
            .iter()
            .map(|(t, _)| (t.as_str(), Vec::new()))
            .collect();
        let mut consumer_topics = vec![Vec::new(); members.len()];
        for (i, member) in members.iter().enumerate() {
            for topic in &member.topics {
                if let Some(consumers) = topic_consumers.get_mut(topic.as_str()) {
                    consumers.push(i);
                    consumer_topics[i].push(topic.as_str());
                }
            }
        }

        let current: Vec<Option<Vec<TopicPartition>>> =
            claims.owned.into_iter().map(Some).collect();
        let mut owner = BTreeMap::new();
        for (i, partitions) in current.iter().enumerate() {
            for tp in partitions.iter().flatten() {
                owner.insert(tp.clone(), i);
            }
        }

        let mut topics: Vec<&(String, u32)> = group.topics.iter().collect();
        topics.sort_by(|a, b| {
            topic_consumers[a.0.as_str()]
                .len()
                .cmp(&topic_consumers[b.0.as_str()].len())
                .then_with(|| cmp_str(&a.0, &b.0))
        });
        let sorted_all = topics
            .into_iter()
            .flat_map(|(t, c)| (0..*c).map(move |p| TopicPartition::new(t, p)))
            .collect();

        let mut by_rank: Vec<usize> = (0..members.len()).collect();
        by_rank.sort_by(|&a, &b| cmp_str(&members[a].id, &members[b].id));
        let mut rank = vec![0; members.len()];
        for (r, &i) in by_rank.iter().enumerate() {
            rank[i] = r;
        }

        Builder {
            group,
            max_generation: claims.max_generation,
            topic_consumers,
            consumer_topics,
            fixed: vec![None; members.len()],
            current,
            owner,
            sorted_all,
            by_load: BTreeSet::new(),
            by_rank,
            rank,
            revocation_required: false,
            movements: Movements::default(),
        }
    }

    fn size(&self, i: usize) -> Option<usize> {
        self.current[i].as_ref().map(Vec::len)
    }

    fn build(&mut self) {
        let prev = self.previous_owners();
        let assigned = self.keep_owned();
        let unassigned: Vec<TopicPartition> = self
            .sorted_all
            .iter()
            .filter(|tp| !assigned.contains(*tp))
            .cloned()
            .collect();
        for i in 0..self.current.len() {
            self.enter(i);
        }
        self.balance(&prev, unassigned);
    }

    /// Kafka's `prevAssignment`: for partitions reported by members behind
    /// the newest generation, the most recent such owner. Ties go to the
    /// first member in map order.
    fn previous_owners(&self) -> BTreeMap<TopicPartition, (usize, i32)> {
        let mut prev: BTreeMap<TopicPartition, (usize, i32)> = BTreeMap::new();
        for (i, member) in self.group.members.iter().enumerate() {
            if member.generation >= self.max_generation {
                continue;
            }
            for tp in &member.owned {
                match prev.get(tp) {
                    Some(&(_, g)) if member.generation <= g => {}
                    _ => {
                        prev.insert(tp.clone(), (i, member.generation));
                    }
                }
            }
        }
        prev
    }

    /// Drops owned partitions of topics a member no longer subscribes to and
    /// returns the partitions kept.
    fn keep_owned(&mut self) -> BTreeSet<TopicPartition> {
        let mut assigned = BTreeSet::new();
        for (i, member) in self.group.members.iter().enumerate() {
            let Some(partitions) = self.current[i].as_mut() else {
                continue;
            };
            let before = partitions.len();
            // Kafka leaves `currentPartitionConsumer` pointing at the old
            // owner; reassigning the partition overwrites it.
            partitions.retain(|tp| member.subscribes(&tp.topic));
            if partitions.len() != before {
                self.revocation_required = true;
            }
            assigned.extend(partitions.iter().cloned());
        }
        assigned
    }

    fn enter(&mut self, i: usize) {
        if let Some(size) = self.size(i) {
            self.by_load.insert((size, self.rank[i]));
        }
    }

    fn leave(&mut self, i: usize) {
        if let Some(size) = self.size(i) {
            self.by_load.remove(&(size, self.rank[i]));
        }
    }

    /// Members taking part, least loaded first (ties by member id).
    fn by_load_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_load.iter().map(|&(_, r)| self.by_rank[r])
    }

    /// The least loaded member taking part that subscribes to `topic`.
    fn least_loaded_subscriber(&self, topic: &str) -> Option<usize> {
        self.by_load_order().find(|&i| self.subscribes(i, topic))
    }

    fn subscribes(&self, i: usize, topic: &str) -> bool {
        self.consumer_topics[i].contains(&topic)
    }

    fn give(&mut self, tp: TopicPartition, i: usize) {
        self.leave(i);
        if let Some(list) = self.current[i].as_mut() {
            list.push(tp.clone());
        }
        self.owner.insert(tp, i);
        self.enter(i);
    }

    fn balance(
        &mut self,
        prev: &BTreeMap<TopicPartition, (usize, i32)>,
        unassigned: Vec<TopicPartition>,
    ) {
        let initializing = self.by_load.last().is_none_or(|&(size, _)| size == 0);

        for tp in &unassigned {
            if self.topic_consumers[tp.topic.as_str()].is_empty() {
                continue;
            }
            if let Some(i) = self.least_loaded_subscriber(&tp.topic) {
                self.give(tp.clone(), i);
            }
        }

        // Only partitions of topics with two or more subscribers can move.
        let movable = |tp: &TopicPartition| self.topic_consumers[tp.topic.as_str()].len() >= 2;
        let unassigned: Vec<TopicPartition> =
            unassigned.into_iter().filter(|tp| movable(tp)).collect();
        let sorted_all: Vec<TopicPartition> = self
            .sorted_all
            .iter()
            .filter(|tp| movable(tp))
            .cloned()
            .collect();

        for i in 0..self.current.len() {
            if !self.can_take_part(i) {
                self.leave(i);
                self.fixed[i] = self.current[i].take();
            }
        }

        let pre_balance = self.current.clone();
        let pre_owner = self.owner.clone();

        if !self.revocation_required {
            self.reassign_until_balanced(&unassigned, prev);
        }
        let reassigned = self.reassign_until_balanced(&sorted_all, prev);

        if !initializing
            && reassigned
            && balance_score(&self.current) >= balance_score(&pre_balance)
        {
            // Kafka leaves its TreeSet stale here; nothing reads it afterwards.
            self.current = pre_balance;
            self.owner = pre_owner;
        }
    }

    /// Total partitions of the topics a member subscribes to.
    fn max_size(&self, i: usize) -> usize {
        self.consumer_topics[i]
            .iter()
            .map(|t| self.group.partition_count(t).unwrap_or(0) as usize)
            .sum()
    }

    fn can_take_part(&self, i: usize) -> bool {
        let Some(partitions) = &self.current[i] else {
            return false;
        };
        partitions.len() < self.max_size(i)
            || partitions
                .iter()
                .any(|tp| self.topic_consumers[tp.topic.as_str()].len() >= 2)
    }

    /// Kafka's `performReassignments`: sweeps the partitions, moving any whose
    /// holder has two or more partitions more than another subscriber, until
    /// a sweep moves nothing. True when anything moved.
    fn reassign_until_balanced(
        &mut self,
        partitions: &[TopicPartition],
        prev: &BTreeMap<TopicPartition, (usize, i32)>,
    ) -> bool {
        let mut reassigned = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(&holder) = self.owner.get(tp) else {
                    continue;
                };
                let Some(holder_size) = self.size(holder) else {
                    continue;
                };
                // Back to its previous owner if that one is now two behind.
                // Kafka throws when that owner was set aside as fixed; it is
                // skipped here instead.
                if let Some(&(prev_owner, _)) = prev.get(tp) {
                    if self.size(prev_owner).is_some_and(|s| holder_size > s + 1) {
                        self.reassign(tp, prev_owner);
                        reassigned = true;
                        modified = true;
                        continue;
                    }
                }
                let lighter_exists = self.topic_consumers[tp.topic.as_str()]
                    .iter()
                    .any(|&other| self.size(other).is_some_and(|s| holder_size > s + 1));
                if lighter_exists {
                    if let Some(target) = self.least_loaded_subscriber(&tp.topic) {
                        self.reassign(tp, target);
                        reassigned = true;
                        modified = true;
                    }
                }
            }
            if !modified {
                return reassigned;
            }
        }
    }

    /// Kafka's `isBalanced`: loads differ by at most one, or no member could
    /// take a partition of its topics from one at least two ahead of it.
    fn is_balanced(&self) -> bool {
        let (Some(&(min, _)), Some(&(max, _))) = (self.by_load.first(), self.by_load.last()) else {
            return true;
        };
        if min + 1 >= max {
            return true;
        }
        for i in self.by_load_order() {
            let size = self.size(i).unwrap_or(0);
            if size == self.max_size(i) {
                continue;
            }
            for topic in &self.consumer_topics[i] {
                let count = self.group.partition_count(topic).unwrap_or(0);
                for p in 0..count {
                    let tp = TopicPartition::new(topic, p);
                    let Some(&other) = self.owner.get(&tp) else {
                        continue;
                    };
                    if other == i {
                        continue;
                    }
                    if self.size(other).is_some_and(|s| size + 1 < s) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Moves `tp` (or, to undo an earlier move, a partition of the same topic
    /// that went the opposite way) to `target`.
    fn reassign(&mut self, tp: &TopicPartition, target: usize) {
        let Some(&holder) = self.owner.get(tp) else {
            return;
        };
        let moved = self.movements.partition_to_move(tp, holder, target);
        let Some(&from) = self.owner.get(&moved) else {
            return;
        };
        self.leave(from);
        self.leave(target);
        self.movements.record(&moved, from, target);
        if let Some(list) = self.current[from].as_mut() {
            remove_first(list, &moved);
        }
        if let Some(list) = self.current[target].as_mut() {
            list.push(moved.clone());
        }
        self.owner.insert(moved, target);
        self.enter(target);
        self.enter(from);
    }
}

/// Sum over member pairs of the difference in partition counts.
fn balance_score(assignment: &[Option<Vec<TopicPartition>>]) -> usize {
    let mut sizes: Vec<usize> = assignment.iter().flatten().map(Vec::len).collect();
    sizes.sort_unstable();
    let n = sizes.len();
    sizes
        .iter()
        .enumerate()
        .map(|(k, &s)| s * k)
        .sum::<usize>()
        .saturating_sub(
            sizes
                .iter()
                .enumerate()
                .map(|(k, &s)| s * (n - 1 - k))
                .sum(),
        )
}

/// Kafka's `PartitionMovements`: net moves of this rebalance, so a partition
/// moving back undoes a move rather than shuffling a second partition.
#[derive(Default)]
struct Movements {
    /// Per topic, per (from, to) member pair, the partitions that moved so.
    by_topic: BTreeMap<String, BTreeMap<(usize, usize), PartitionHashSet>>,
    /// Per partition, its net move.
    by_partition: BTreeMap<TopicPartition, (usize, usize)>,
}

impl Movements {
    fn forget(&mut self, tp: &TopicPartition) -> Option<(usize, usize)> {
        let pair = self.by_partition.remove(tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(tp);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn remember(&mut self, tp: &TopicPartition, pair: (usize, usize)) {
        self.by_partition.insert(tp.clone(), pair);
        self.by_topic
            .entry(tp.topic.clone())
            .or_default()
            .entry(pair)
            .or_insert_with(PartitionHashSet::new)
            .insert(tp.clone());
    }

    fn record(&mut self, tp: &TopicPartition, from: usize, to: usize) {
        match self.forget(tp) {
            Some((origin, _)) if origin == to => {}
            Some((origin, _)) => self.remember(tp, (origin, to)),
            None => self.remember(tp, (from, to)),
        }
    }

    /// Kafka's `getTheActualPartitionToBeMoved`: if a partition of the same
    /// topic already moved from `to` towards `tp`'s origin, move that one back
    /// instead. Which one is the first its `HashSet` yields.
    fn partition_to_move(&self, tp: &TopicPartition, from: usize, to: usize) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let origin = self
            .by_partition
            .get(tp)
            .map_or(from, |&(origin, _)| origin);
        pairs
            .get(&(to, origin))
            .and_then(PartitionHashSet::first)
            .unwrap_or(tp)
            .clone()
    }
}
