//! The few JVM behaviours Kafka's assignors lean on for tie-breaks:
//! `String#hashCode`, `String#compareTo`, `TopicPartition#hashCode` and the
//! iteration order of a default-constructed `java.util.HashMap`/`HashSet`.
//!
//! Kafka iterates hash maps keyed by member id or topic in a few places where
//! the order decides the outcome (which members keep `maxQuota` partitions in
//! the constrained sticky assignment, the order of topics in a range
//! assignment, which partition a sticky reassignment picks). Reproducing the
//! JDK's bucket order makes those outcomes match the real client instead of an
//! arbitrary stand-in order.

use std::cmp::Ordering;

use crate::protocol::TopicPartition;

/// `HashMap`'s initial table size for `new HashMap<>()`.
const INITIAL_CAPACITY: usize = 16;
/// Table size below which an overfull bin resizes the table instead of
/// turning into a red-black tree (`MIN_TREEIFY_CAPACITY`).
const MIN_TREEIFY_CAPACITY: usize = 64;
/// Nodes a bin holds before one more triggers `treeifyBin`.
const TREEIFY_BIN_NODES: usize = 8;

/// `java.lang.String#hashCode`: a polynomial over the UTF-16 code units.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `org.apache.kafka.common.TopicPartition#hashCode`.
pub(crate) fn partition_hash(tp: &TopicPartition) -> i32 {
    // Java's int partition: values past i32::MAX wrap as they would on the wire.
    let partition = tp.partition as i32;
    31i32
        .wrapping_mul(31i32.wrapping_add(partition))
        .wrapping_add(string_hash(&tp.topic))
}

/// `java.lang.String#compareTo`: lexicographic over UTF-16 code units, which
/// differs from Rust's byte order for characters beyond the BMP.
pub(crate) fn cmp_str(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `HashMap.hash`: folds the high half into the low half before masking.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

fn bucket(hash: i32, capacity: usize) -> usize {
    spread(hash) as usize & (capacity - 1)
}

/// Table size of a default-constructed `HashMap` after inserting distinct
/// keys with these hashes in order: doubling past a 0.75 load factor, and
/// doubling while small when one bin grows past eight nodes.
fn capacity_after(hashes: &[i32]) -> usize {
    let mut capacity = INITIAL_CAPACITY;
    let mut bins = vec![0usize; capacity];
    let rebin = |capacity: usize, inserted: &[i32]| {
        let mut bins = vec![0usize; capacity];
        for &h in inserted {
            bins[bucket(h, capacity)] += 1;
        }
        bins
    };
    for (i, &h) in hashes.iter().enumerate() {
        let b = bucket(h, capacity);
        let before = bins[b];
        bins[b] += 1;
        if before >= TREEIFY_BIN_NODES && capacity < MIN_TREEIFY_CAPACITY {
            capacity *= 2;
            bins = rebin(capacity, &hashes[..=i]);
        }
        if i + 1 > capacity / 4 * 3 {
            capacity *= 2;
            bins = rebin(capacity, &hashes[..=i]);
        }
    }
    capacity
}

/// Iteration order of a default-constructed `java.util.HashMap` (or
/// `HashSet`) into which distinct keys with these hashes were put in order:
/// the indices of `hashes`, bucket by bucket, insertion order within a bucket
/// (resizes split bins without reordering them).
///
/// Not modelled: bins turned into trees (nine or more keys sharing one bucket
/// of a table of 64 or more), where the JDK's order differs.
pub(crate) fn hash_order(hashes: &[i32]) -> Vec<usize> {
    let capacity = capacity_after(hashes);
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| (bucket(hashes[i], capacity), i));
    order
}

/// A `java.util.HashSet<TopicPartition>` reduced to what the sticky assignor
/// asks of it: membership and "the first element its iterator returns".
#[derive(Clone, Debug)]
pub(crate) struct PartitionHashSet {
    capacity: usize,
    /// Elements with their insertion stamp, which orders a bucket.
    entries: Vec<(TopicPartition, u64)>,
    next_stamp: u64,
}

impl PartitionHashSet {
    /// An empty set as `new HashSet<>()` makes it.
    pub(crate) fn new() -> Self {
        Self {
            capacity: INITIAL_CAPACITY,
            entries: Vec::new(),
            next_stamp: 0,
        }
    }

    /// Adds `tp` (a no-op when present), growing the table as the JDK would.
    pub(crate) fn insert(&mut self, tp: TopicPartition) {
        if self.entries.iter().any(|(e, _)| *e == tp) {
            return;
        }
        let hash = partition_hash(&tp);
        let b = bucket(hash, self.capacity);
        let before = self
            .entries
            .iter()
            .filter(|(e, _)| bucket(partition_hash(e), self.capacity) == b)
            .count();
        self.entries.push((tp, self.next_stamp));
        self.next_stamp += 1;
        if before >= TREEIFY_BIN_NODES && self.capacity < MIN_TREEIFY_CAPACITY {
            self.capacity *= 2;
        }
        if self.entries.len() > self.capacity / 4 * 3 {
            self.capacity *= 2;
        }
    }

    /// Removes `tp`; the table never shrinks.
    pub(crate) fn remove(&mut self, tp: &TopicPartition) {
        self.entries.retain(|(e, _)| e != tp);
    }

    /// True when the set holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What `iterator().next()` returns: lowest bucket, then oldest in it.
    pub(crate) fn first(&self) -> Option<&TopicPartition> {
        self.entries
            .iter()
            .min_by_key(|(e, stamp)| (bucket(partition_hash(e), self.capacity), *stamp))
            .map(|(e, _)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_the_jdk() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        // Values computed by the JDK.
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash("consumer1"), -421_004_549);
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn partition_hash_matches_kafka() {
        let tp = TopicPartition::new("topic", 0);
        assert_eq!(partition_hash(&tp), 31 * 31 + string_hash("topic"));
    }

    #[test]
    fn utf16_order_differs_from_utf8_beyond_the_bmp() {
        // U+FF21 sorts after U+1F600 in UTF-16 (0xFF21 > 0xD83D) but before it in UTF-8.
        assert_eq!(cmp_str("\u{FF21}", "\u{1F600}"), Ordering::Greater);
        assert_eq!(cmp_str("a", "b"), Ordering::Less);
    }

    #[test]
    fn hash_order_walks_buckets_then_insertion() {
        // 1 and 17 share bucket 1 of a 16-slot table; 0 comes first.
        assert_eq!(hash_order(&[17, 1, 0]), vec![2, 0, 1]);
        // Thirteen keys grow the table to 32 slots, separating 1 and 17.
        let mut hashes: Vec<i32> = vec![17, 1];
        hashes.extend(100..111);
        let order = hash_order(&hashes);
        assert!(order.iter().position(|&i| i == 1) < order.iter().position(|&i| i == 0));
    }

    #[test]
    fn partition_set_first_is_lowest_bucket() {
        let mut set = PartitionHashSet::new();
        let a = TopicPartition::new("t", 0);
        let b = TopicPartition::new("t", 1);
        set.insert(a.clone());
        set.insert(b.clone());
        let first = [&a, &b]
            .into_iter()
            .min_by_key(|tp| bucket(partition_hash(tp), 16))
            .unwrap();
        assert_eq!(set.first(), Some(first));
        set.remove(first);
        assert_ne!(set.first(), Some(first));
    }
}
