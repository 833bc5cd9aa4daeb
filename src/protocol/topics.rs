//! Topic partitions. The data path (logs, replication, produce and fetch)
//! names a partition by [`TopicIdPartition`]: a dense [`TopicId`], the
//! topic's index in the run's topic table ([`Topics`]), and the partition
//! number — cheap to compare, copy and index by. Names are for the edges:
//! the group protocol (subscriptions, assignments, committed offsets, as
//! Kafka's classic group protocol carries topic names), log directories and
//! checkpoint files on disk, and what reports print ([`TopicPartition`]).

use std::fmt;

/// A topic of the run: its index in the run's topic table. (The metadata
/// log gives each topic a UUID as well, `TopicRecord.topicId`; ksim's data
/// path keys partitions by this dense id instead.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicId(pub u32);

/// A partition by topic id (Kafka's `TopicIdPartition`), ordered by
/// topic id, then partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicIdPartition {
    /// The topic.
    pub topic_id: TopicId,
    /// The partition index.
    pub partition: u32,
}

/// One word per partition (every message of the data path names some,
/// and the trace hashes every message).
impl std::hash::Hash for TopicIdPartition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.word());
    }
}

/// As the fields compare in order, by one comparison of a word (the
/// sessions, purgatories and maps of the data path search by partition).
impl Ord for TopicIdPartition {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.word().cmp(&other.word())
    }
}

impl PartialOrd for TopicIdPartition {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TopicIdPartition {
    /// Partition `partition` of `topic_id`.
    pub fn new(topic_id: TopicId, partition: u32) -> Self {
        Self {
            topic_id,
            partition,
        }
    }

    /// The topic id in the high half, the partition in the low half.
    #[inline]
    fn word(&self) -> u64 {
        u64::from(self.topic_id.0) << 32 | u64::from(self.partition)
    }
}

/// A partition by topic name, shown as `topic-N` (Kafka's `TopicPartition`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: u32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: &str, partition: u32) -> Self {
        Self {
            topic: topic.to_owned(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The run's topics: every topic a process may meet (the scenario's and
/// the internal ones), fixed for the run, so that every process agrees on
/// their ids without exchanging names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topics {
    names: Vec<String>,
}

impl Topics {
    /// A table of `names`, numbered in order.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let mut topics = Self::default();
        for name in names {
            if topics.id(&name).is_none() {
                topics.names.push(name);
            }
        }
        topics
    }

    /// The id of topic `name`, if the run has it.
    pub fn id(&self, name: &str) -> Option<TopicId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| TopicId(i as u32))
    }

    /// The name of topic `id`.
    ///
    /// # Panics
    /// When `id` is not of this run (ids come only from this table).
    pub fn name(&self, id: TopicId) -> &str {
        &self.names[id.0 as usize]
    }

    /// Partition `partition` of topic `name`, if the run has it.
    pub fn partition(&self, name: &str, partition: u32) -> Option<TopicIdPartition> {
        Some(TopicIdPartition::new(self.id(name)?, partition))
    }

    /// The partition by name.
    pub fn named(&self, tp: TopicIdPartition) -> TopicPartition {
        TopicPartition::new(self.name(tp.topic_id), tp.partition)
    }

    /// The partition by id, if the run has its topic.
    pub fn by_name(&self, tp: &TopicPartition) -> Option<TopicIdPartition> {
        self.partition(&tp.topic, tp.partition)
    }

    /// `topic-N`, as Kafka names a partition (and its log directory).
    pub fn show(&self, tp: TopicIdPartition) -> String {
        format!("{}-{}", self.name(tp.topic_id), tp.partition)
    }

    /// The partition `topic-N` names (a log directory), if the run has it.
    pub fn parse(&self, text: &str) -> Option<TopicIdPartition> {
        let (topic, partition) = text.rsplit_once('-')?;
        self.partition(topic, partition.parse().ok()?)
    }

    /// Every topic, in id order.
    pub fn ids(&self) -> impl Iterator<Item = TopicId> + '_ {
        (0..self.names.len()).map(|i| TopicId(i as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        let topics = Topics::new([
            "orders".to_owned(),
            "my-topic".to_owned(),
            "orders".to_owned(),
        ]);
        let tp = topics.parse("my-topic-11").expect("known");
        assert_eq!(tp, TopicIdPartition::new(TopicId(1), 11));
        assert_eq!(topics.show(tp), "my-topic-11");
        assert_eq!(topics.named(tp), TopicPartition::new("my-topic", 11));
        assert_eq!(topics.by_name(&topics.named(tp)), Some(tp));
        assert_eq!(topics.parse("other-0"), None);
        assert_eq!(topics.parse("orders"), None);
        assert_eq!(topics.ids().count(), 2);
    }

    #[test]
    fn partitions_order_by_topic_id_then_partition() {
        let values = [0, 1, 7, u32::MAX - 1, u32::MAX];
        let all: Vec<(u32, u32)> = values
            .iter()
            .flat_map(|&t| values.iter().map(move |&p| (t, p)))
            .collect();
        for &(t1, p1) in &all {
            for &(t2, p2) in &all {
                let a = TopicIdPartition::new(TopicId(t1), p1);
                let b = TopicIdPartition::new(TopicId(t2), p2);
                assert_eq!(a.cmp(&b), (t1, p1).cmp(&(t2, p2)), "{a:?} {b:?}");
                assert_eq!(a.partial_cmp(&b), Some(a.cmp(&b)));
            }
        }
    }
}
