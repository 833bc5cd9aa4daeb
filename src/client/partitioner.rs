//! The producer's partitioner. Records with a key go to
//! `toPositive(murmur2(key)) % partitions` in every release. Records without
//! one, per release (`[protocol] partitioner`, [`PartitionerKind`]):
//!
//! - before 2.4, round-robin (`DefaultPartitioner`'s per-topic counter,
//!   [`RoundRobinPartitioner`]);
//! - 2.4 to 3.2, sticky (KIP-480's `StickyPartitionCache`,
//!   [`StickyPartitionCache`]): one partition until a record needs a new
//!   batch there;
//! - from 3.3, the built-in partitioner (`BuiltInPartitioner`, KIP-794,
//!   [`StickyPartitioner`]): one partition until `batch.size` bytes were
//!   produced to it, then one chosen uniformly at random. Adaptive
//!   partitioning (`partitioner.adaptive.partitioning.enable`, which weighs
//!   the choice by queue sizes) is not modelled: this is its uniform mode.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How the producer partitions records without a key (`[protocol]
/// partitioner`); each release's own is [`crate::config::KafkaVersion::partitioner`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum PartitionerKind {
    /// Kafka before 2.4: `DefaultPartitioner` gives each record the next
    /// partition of a per-topic counter.
    RoundRobin,
    /// Kafka 2.4 to 3.2 (KIP-480): `DefaultPartitioner`'s
    /// `StickyPartitionCache`, a new partition when a record needs a new batch.
    Sticky,
    /// Kafka 3.3 on (KIP-794): `BuiltInPartitioner`, a new partition after
    /// `batch.size` bytes.
    #[default]
    UniformSticky,
}

impl PartitionerKind {
    /// Every kind, oldest first.
    pub const ALL: [PartitionerKind; 3] = [Self::RoundRobin, Self::Sticky, Self::UniformSticky];

    /// The `[protocol] partitioner` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::Sticky => "sticky",
            Self::UniformSticky => "uniform-sticky",
        }
    }

    /// The kind a `[protocol] partitioner` value names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Kafka's `DefaultPartitioner` before 2.4 for records without a key, of ONE
/// topic: a counter that starts at a random int (`new Random().nextInt()`,
/// at the topic's first record) and goes up by one per record, in Java's
/// wrapping `int`; the record goes to `toPositive(counter) % n` of the
/// partitions with a leader (ksim lists them by partition number), or of
/// all partitions when none has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundRobinPartitioner {
    /// The counter's next value, once drawn.
    next: Option<i32>,
}

impl RoundRobinPartitioner {
    /// No record partitioned yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The partition of the next keyless record (`DefaultPartitioner.partition`
    /// with `nextValue`). `available` lists the partitions with a leader.
    pub fn partition(
        &mut self,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        assert!(
            num_partitions > 0,
            "RoundRobinPartitioner: a topic has at least one partition"
        );
        let value = *self.next.get_or_insert_with(|| rng.random::<i32>());
        self.next = Some(value.wrapping_add(1));
        let positive = to_positive(value) as u32;
        if available.is_empty() {
            positive % num_partitions
        } else {
            available[positive as usize % available.len()]
        }
    }
}

/// KIP-480's `StickyPartitionCache` (Kafka 2.4 to 3.2, `DefaultPartitioner`
/// for records without a key), of ONE topic: records go to the sticky
/// partition; when a record would need a new batch there (the partition has
/// no batch open, or the record does not fit in its last one:
/// `RecordAccumulator.append` with `abortOnNewBatch`), `KafkaProducer`
/// calls `onNewBatch`, which picks another partition at random among those
/// with a leader (never the same one when two or more have a leader), and
/// the record goes there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickyPartitionCache {
    current: Option<u32>,
}

impl StickyPartitionCache {
    /// No sticky partition yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current sticky partition, if one was chosen.
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// `StickyPartitionCache.partition`: the sticky partition, chosen now if
    /// there is none yet.
    pub fn partition(
        &mut self,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        match self.current {
            Some(p) if p < num_partitions => p,
            _ => self.next_partition(num_partitions, available, rng, None),
        }
    }

    /// `onNewBatch` (`nextPartition(topic, cluster, prevPartition)`): a
    /// record for `prev` needs a new batch; if `prev` is the sticky
    /// partition, another is chosen. Returns the sticky partition.
    pub fn on_new_batch(
        &mut self,
        prev: u32,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        match self.current {
            Some(p) if p != prev && p < num_partitions => p,
            _ => self.next_partition(num_partitions, available, rng, self.current),
        }
    }

    fn next_partition(
        &mut self,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
        old: Option<u32>,
    ) -> u32 {
        assert!(
            num_partitions > 0,
            "StickyPartitionCache: a topic has at least one partition"
        );
        let p = match available {
            [] => rng.random_range(0..num_partitions),
            [only] => *only,
            _ => loop {
                let p = available[rng.random_range(0..available.len())];
                if Some(p) != old {
                    break p;
                }
            },
        };
        self.current = Some(p);
        p
    }
}

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`, in
/// Java's signed, wrapping `int` arithmetic (`>>>` is a logical shift, done
/// here on `u32`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java's `seed ^ length` with an `int` length.
    let mut h = SEED ^ (data.len() as u32);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let mut k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // The tail, with the fallthrough of Java's switch (3 → 2 → 1).
    let tail = words.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, so
/// `i32::MIN` maps to 0).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// Kafka's `BuiltInPartitioner.partitionForKey`: the partition of a record
/// with this serialized key among `num_partitions` (all of them, whether
/// they have a leader or not). Panics when `num_partitions` is 0 (Java
/// throws `ArithmeticException`).
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    assert!(
        num_partitions > 0,
        "partition_for_key: a topic has at least one partition"
    );
    // to_positive's result is non-negative, so the cast is lossless.
    (to_positive(murmur2(key)) as u32) % num_partitions
}

/// The uniform sticky partitioner of ONE topic (Kafka keeps one
/// `BuiltInPartitioner` per topic) for records without a key.
///
/// Use: `partition` gives the partition of the next keyless record; after
/// appending it, report the bytes the append added to the batch with
/// `on_append` (or `on_append_switch`, Kafka's full form). Once at least
/// `batch.size` bytes went to the sticky partition, the next partition is
/// drawn uniformly at random from the partitions with a leader (from all
/// partitions when none has one). As in Kafka's `BuiltInPartitioner` with
/// adaptive partitioning off, the draw may give the same partition again
/// (with probability 1/n): only the old `DefaultPartitioner`'s
/// `StickyPartitionCache` (KIP-480) avoided it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickyPartitioner {
    /// The sticky partition, once chosen.
    current: Option<u32>,
    /// Bytes produced to it since it was chosen.
    produced_bytes: usize,
    /// How many times a partition was chosen (the first choice included).
    switches: u64,
}

impl StickyPartitioner {
    /// No sticky partition yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current sticky partition, if one was chosen.
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// Bytes produced to the current sticky partition.
    pub fn produced_bytes(&self) -> usize {
        self.produced_bytes
    }

    /// How many times a partition was chosen, the first choice included.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The partition for the next keyless record (Kafka's
    /// `peekCurrentPartitionInfo`): the sticky one, or one chosen now at
    /// random if there is none yet (or it is beyond `num_partitions`, which
    /// Kafka never sees since partitions are never removed).
    /// `available` lists the partitions that have a leader; it may be empty.
    pub fn partition(
        &mut self,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        match self.current {
            Some(p) if p < num_partitions => p,
            _ => self.switch(num_partitions, available, rng),
        }
    }

    /// A keyless record added `appended_bytes` to the sticky partition's
    /// batch (Kafka's `updatePartitionInfo` with switching enabled): once
    /// `batch_size` bytes were produced to it, the next record goes to a new
    /// random partition.
    pub fn on_append(
        &mut self,
        appended_bytes: usize,
        batch_size: usize,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) {
        self.on_append_switch(
            appended_bytes,
            batch_size,
            true,
            num_partitions,
            available,
            rng,
        );
    }

    /// Kafka's `updatePartitionInfo` in full: the accumulator enables the
    /// switch only when the partition's last batch is full
    /// (`allBatchesFull`, see `AppendResult::all_batches_full`), so that a
    /// switch does not leave a small batch behind; past twice `batch_size`
    /// bytes it switches regardless.
    pub fn on_append_switch(
        &mut self,
        appended_bytes: usize,
        batch_size: usize,
        enable_switch: bool,
        num_partitions: u32,
        available: &[u32],
        rng: &mut ChaCha8Rng,
    ) {
        if self.current.is_none() {
            // The caller did not use `partition` for this record.
            return;
        }
        // Kafka rejects a stickyBatchSize below 1.
        let sticky_batch_size = batch_size.max(1);
        self.produced_bytes = self.produced_bytes.saturating_add(appended_bytes);
        if (self.produced_bytes >= sticky_batch_size && enable_switch)
            || self.produced_bytes >= sticky_batch_size.saturating_mul(2)
        {
            self.switch(num_partitions, available, rng);
        }
    }

    /// Kafka's `nextPartition` without load stats: a uniformly random
    /// partition among the available ones, else among all.
    fn switch(&mut self, num_partitions: u32, available: &[u32], rng: &mut ChaCha8Rng) -> u32 {
        assert!(
            num_partitions > 0,
            "StickyPartitioner: a topic has at least one partition"
        );
        let p = if available.is_empty() {
            rng.random_range(0..num_partitions)
        } else {
            available[rng.random_range(0..available.len())]
        };
        self.current = Some(p);
        self.produced_bytes = 0;
        self.switches += 1;
        p
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::SeedableRng;

    use super::*;

    /// Kafka's `UtilsTest.testMurmur2`
    /// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    #[test]
    fn murmur2_matches_kafka_utils_test() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for &(data, want) in cases {
            assert_eq!(
                murmur2(data),
                want,
                "murmur2({:?})",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// librdkafka's `unittest_murmur2` (src/rdmurmur2.c), checked there
    /// against Java's output: every tail length 0..=3 and the empty key.
    #[test]
    fn murmur2_matches_librdkafka_vectors() {
        let short: &[u8] = b"1234";
        let long: &[u8] = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: &[(&[u8], u32)] = &[
            (b"kafka", 0xd067_cf64),
            (b"giberish123456789", 0x8f55_2b0c),
            (short, 0x9fc9_7b14),
            (&short[1..], 0xe7c0_09ca),
            (&short[2..], 0x8739_30da),
            (&short[3..], 0x5a4b_5ca1),
            (long, 0x7842_4f1c),
            (&long[1..], 0x4a62_b377),
            (&long[2..], 0xe0e4_e09e),
            (&long[3..], 0x62b8_b43f),
            (b"", 0x106e_08d9),
        ];
        for &(data, want) in cases {
            assert_eq!(
                murmur2(data),
                want as i32,
                "murmur2({:?})",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
    }

    /// toPositive(murmur2(key)) % n on the vectors above:
    /// "21": -973932308 & 0x7fffffff = 1173551340;
    /// "foobar": -790332482 → 1357151166; "abc": 479470107 stays;
    /// "kafka": 0xd067cf64 → 0x5067cf64 = 1348980580.
    #[test]
    fn partition_for_key_is_to_positive_murmur2_mod_n() {
        assert_eq!(partition_for_key(b"21", 1), 0);
        assert_eq!(partition_for_key(b"21", 3), 1_173_551_340 % 3);
        assert_eq!(partition_for_key(b"21", 3), 0);
        assert_eq!(partition_for_key(b"21", 7), 3);
        assert_eq!(partition_for_key(b"foobar", 10), 6);
        assert_eq!(partition_for_key(b"foobar", 7), 1_357_151_166 % 7);
        assert_eq!(partition_for_key(b"abc", 10), 7);
        assert_eq!(partition_for_key(b"abc", 6), 479_470_107 % 6);
        assert_eq!(partition_for_key(b"kafka", 12), 1_348_980_580 % 12);
        assert_eq!(partition_for_key(b"kafka", 100), 80);
        // Negative hashes are not abs()'d: abs would give 973932308 % 7 = 0.
        assert_ne!(partition_for_key(b"21", 7), 973_932_308 % 7);
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// Appends `record` bytes per keyless record; returns each record's partition.
    fn run(
        seed: u64,
        records: usize,
        record: usize,
        batch_size: usize,
        n: u32,
        available: &[u32],
    ) -> Vec<u32> {
        let mut r = rng(seed);
        let mut s = StickyPartitioner::new();
        (0..records)
            .map(|_| {
                let p = s.partition(n, available, &mut r);
                s.on_append(record, batch_size, n, available, &mut r);
                p
            })
            .collect()
    }

    #[test]
    fn sticks_until_batch_size_bytes_then_switches() {
        let mut r = rng(7);
        let mut s = StickyPartitioner::new();
        assert_eq!(s.current(), None);
        let first = s.partition(8, &[], &mut r);
        assert_eq!(s.current(), Some(first));
        // 100-byte records, batch.size 1000: records 1..=9 stay, the 10th
        // reaches 1000 bytes and the 11th goes to a newly drawn partition.
        for i in 1..=10 {
            assert_eq!(s.partition(8, &[], &mut r), first);
            s.on_append(100, 1000, 8, &[], &mut r);
            if i < 10 {
                assert_eq!(s.produced_bytes(), i * 100);
                assert_eq!(s.switches(), 1);
            }
        }
        assert_eq!(s.switches(), 2, "switched after batch.size bytes");
        assert_eq!(s.produced_bytes(), 0);
        // Runs of exactly 10 records per draw.
        let parts = run(3, 10_000, 100, 1000, 8, &[]);
        for chunk in parts.chunks(10) {
            assert!(chunk.iter().all(|&p| p == chunk[0]), "{chunk:?}");
        }
    }

    #[test]
    fn switch_disabled_until_twice_batch_size() {
        let mut r = rng(1);
        let mut s = StickyPartitioner::new();
        s.partition(4, &[], &mut r);
        s.on_append_switch(1500, 1000, false, 4, &[], &mut r);
        assert_eq!(s.switches(), 1, "not full: no switch before 2 x batch.size");
        s.on_append_switch(499, 1000, false, 4, &[], &mut r);
        assert_eq!(s.switches(), 1);
        s.on_append_switch(1, 1000, false, 4, &[], &mut r);
        assert_eq!(s.switches(), 2, "2 x batch.size forces the switch");
        s.on_append_switch(1000, 1000, true, 4, &[], &mut r);
        assert_eq!(s.switches(), 3);
    }

    #[test]
    fn spreads_uniformly_over_partitions() {
        // One record per draw: 6000 draws over 6 partitions.
        let parts = run(11, 6000, 10, 10, 6, &[]);
        let mut counts = BTreeMap::new();
        for p in parts {
            *counts.entry(p).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6, "{counts:?}");
        for (&p, &c) in &counts {
            assert!((800..1200).contains(&c), "partition {p}: {c} of 6000");
        }
    }

    #[test]
    fn only_available_partitions_are_chosen() {
        let parts = run(5, 3000, 10, 10, 8, &[1, 4, 6]);
        let seen: std::collections::BTreeSet<u32> = parts.into_iter().collect();
        assert_eq!(seen, [1, 4, 6].into_iter().collect());
        // One partition available: always it.
        assert!(run(5, 100, 10, 10, 8, &[3]).iter().all(|&p| p == 3));
    }

    #[test]
    fn deterministic_per_seed() {
        let a = run(42, 2000, 100, 1000, 12, &[]);
        assert_eq!(a, run(42, 2000, 100, 1000, 12, &[]));
        assert_ne!(a, run(43, 2000, 100, 1000, 12, &[]));
    }

    #[test]
    fn round_robin_goes_through_the_available_partitions_in_turn() {
        let mut r = rng(5);
        let mut rr = RoundRobinPartitioner::new();
        let first = rr.partition(4, &[], &mut r);
        let next: Vec<u32> = (0..8).map(|_| rr.partition(4, &[], &mut r)).collect();
        let expected: Vec<u32> = (1..=8).map(|i| (first + i) % 4).collect();
        assert_eq!(next, expected, "one partition per record, in turn");
        // Only partitions with a leader, in turn, when some have one.
        let available = [0, 2, 5];
        let parts: Vec<u32> = (0..6)
            .map(|_| rr.partition(6, &available, &mut r))
            .collect();
        for w in parts.windows(2) {
            let (a, b) = (
                available.iter().position(|&p| p == w[0]).unwrap(),
                available.iter().position(|&p| p == w[1]).unwrap(),
            );
            assert_eq!((a + 1) % 3, b, "{parts:?}");
        }
        // Java's int counter wraps; toPositive(Integer.MIN_VALUE) is 0.
        let mut wrap = RoundRobinPartitioner {
            next: Some(i32::MAX),
        };
        assert_eq!(wrap.partition(10, &[], &mut r), (i32::MAX % 10) as u32);
        assert_eq!(wrap.partition(10, &[], &mut r), 0);
        assert_eq!(wrap.partition(10, &[], &mut r), 1);
    }

    #[test]
    fn kip_480_sticky_cache_moves_only_on_a_new_batch_of_its_partition() {
        let mut r = rng(9);
        let mut c = StickyPartitionCache::new();
        let available = [0, 1, 2, 3];
        let p = c.partition(4, &available, &mut r);
        for _ in 0..50 {
            assert_eq!(c.partition(4, &available, &mut r), p, "sticky");
        }
        // A new batch on another partition (a keyed record's) does not move it.
        let other = (p + 1) % 4;
        assert_eq!(c.on_new_batch(other, 4, &available, &mut r), p);
        // A new batch on the sticky partition moves it, never to itself
        // while two or more partitions have a leader.
        let mut prev = p;
        for _ in 0..200 {
            let next = c.on_new_batch(prev, 4, &available, &mut r);
            assert_ne!(next, prev);
            assert_eq!(c.current(), Some(next));
            prev = next;
        }
        // One partition with a leader: that one, again.
        assert_eq!(c.on_new_batch(prev, 4, &[2], &mut r), 2);
        assert_eq!(c.on_new_batch(2, 4, &[2], &mut r), 2);
        // None with a leader: any partition.
        let any = c.on_new_batch(2, 4, &[], &mut r);
        assert!(any < 4);
    }

    #[test]
    fn partitioner_names_round_trip() {
        for k in PartitionerKind::ALL {
            assert_eq!(PartitionerKind::from_name(k.name()), Some(k));
        }
        assert_eq!(PartitionerKind::from_name("default"), None);
        assert_eq!(PartitionerKind::default(), PartitionerKind::UniformSticky);
    }
}
