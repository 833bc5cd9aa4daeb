//! `key_order`: a group consumes the records of one key from one producer
//! in the order the producer sent them, among those acknowledged. Kafka
//! promises order per partition only, and a key stays on one partition as
//! long as the topic's partition count does: adding partitions moves keys
//! (murmur2 modulo the new count), so a group may read a key's newer record
//! from its new partition before an older one still waiting in the old
//! partition; without idempotence, a retried batch may also land after a
//! later one in the same partition.
//!
//! Kept per record: its key and partition (from the send) and, per group,
//! the rank of its first consumption (records polled anywhere in the group
//! are ranked in the order the observations came). Judged over acknowledged
//! records that the group consumed, walking each producer's sends in
//! order: a chunk of sends as soon as retention removed all of its records
//! from every replica (see `data::forget`; it is then forgotten), the rest
//! at the end.

use std::collections::BTreeMap;

use super::chunked::{Chunked, CHUNK_LEN};
use super::chunked32::Chunked32;
use super::Violation;
use crate::client::{producer_of, record_id_of};
use sim::Nanos;

/// The invariant's contract name.
pub const KEY_ORDER: &str = "key_order";

/// At most this many violations are reported per group (the count says the rest).
const MAX_REPORTED: usize = 10;

/// No key recorded (null key, or never sent), in [`Sends::packed`].
const NO_KEY: u16 = 0;

/// A send whose key and partition are kept whole in [`Sends::wide`].
const WIDE: u16 = u16::MAX;

/// Distinct (key, partition) pairs a producer's [`Sends`] numbers.
const MAX_PAIRS: usize = WIDE as usize - 1;

/// Keys up to this many get a cache entry in [`Sends::by_key`].
const CACHED_KEYS: usize = 1 << 20;

/// One producer's keyed sends, by send sequence: each send's key and
/// partition as a 2-byte number of the pair (a producer sends a few
/// thousand keys, each to one partition as long as the partition count
/// stays), or kept whole on the side past [`MAX_PAIRS`] pairs.
#[derive(Clone, Debug)]
struct Sends {
    /// [`NO_KEY`], [`WIDE`], or a pair's number: its index in `pairs` + 1.
    packed: Chunked<u16>,
    /// (key, partition) by number - 1.
    pairs: Vec<(u32, u32)>,
    /// The number of each pair in `pairs`.
    numbers: BTreeMap<(u32, u32), u16>,
    /// By key: the number of the pair it was last sent with (0: none).
    by_key: Vec<u16>,
    /// (key, partition) of the sends marked [`WIDE`].
    wide: BTreeMap<usize, (u32, u32)>,
}

impl Default for Sends {
    fn default() -> Self {
        Self {
            packed: Chunked::new(NO_KEY),
            pairs: Vec::new(),
            numbers: BTreeMap::new(),
            by_key: Vec::new(),
            wide: BTreeMap::new(),
        }
    }
}

impl Sends {
    /// Send `seq` went to `partition` with `key`.
    fn set(&mut self, seq: usize, key: u32, partition: u32) {
        let number = self.number(key, partition);
        if !self.wide.is_empty() {
            self.wide.remove(&seq);
        }
        *self.packed.slot(seq) = number.unwrap_or(WIDE);
        if number.is_none() {
            self.wide.insert(seq, (key, partition));
        }
    }

    /// The number of the pair (`key`, `partition`), given one if new
    /// (None: no number left).
    fn number(&mut self, key: u32, partition: u32) -> Option<u16> {
        let pair = (key, partition);
        let k = key as usize;
        match self.by_key.get(k) {
            Some(&n) if n != NO_KEY && self.pairs[n as usize - 1] == pair => return Some(n),
            _ => {}
        }
        let n = match self.numbers.get(&pair) {
            Some(&n) => n,
            None if self.pairs.len() < MAX_PAIRS => {
                self.pairs.push(pair);
                let n = self.pairs.len() as u16;
                self.numbers.insert(pair, n);
                n
            }
            None => return None,
        };
        if k < CACHED_KEYS {
            if self.by_key.len() <= k {
                self.by_key.resize(k + 1, NO_KEY);
            }
            self.by_key[k] = n;
        }
        Some(n)
    }

    /// (key, partition) of send `seq`, if it had a key (and is not forgotten).
    fn get(&self, seq: usize) -> Option<(u32, u32)> {
        match self.packed.get(seq)? {
            NO_KEY => None,
            WIDE => Some(self.wide[&seq]),
            n => Some(self.pairs[n as usize - 1]),
        }
    }

    /// Forgets chunk number `chunk` (see [`Chunked::forget_chunk`]).
    fn forget_chunk(&mut self, chunk: usize) {
        self.packed.forget_chunk(chunk);
        let (from, to) = (chunk * CHUNK_LEN, (chunk + 1) * CHUNK_LEN);
        self.wide.retain(|&seq, _| !(from..to).contains(&seq));
    }
}

/// The `key_order` checker.
#[derive(Clone, Debug, Default)]
pub struct KeyOrderChecker {
    /// Per producer: its keyed sends.
    sent: Vec<Sends>,
    /// Per group: per producer, by send sequence, the rank of the record's
    /// first consumption in the group (0: not consumed).
    first: BTreeMap<String, Vec<Chunked32>>,
    /// Records consumed so far, over all groups (the next rank).
    consumed: u32,
    /// Per group: per producer, how far its sends were walked.
    walks: BTreeMap<String, Vec<Walk>>,
    /// Per group: violations found so far.
    found: BTreeMap<String, usize>,
    /// The violations reported so far (at most [`MAX_REPORTED`] per group).
    violations: Vec<Violation>,
}

/// How far one group's walk over one producer's sends got.
#[derive(Clone, Debug, Default)]
struct Walk {
    /// The next send sequence to judge.
    next: usize,
    /// By key: the latest-ranked consumption so far (rank 0: none yet),
    /// its record and partition. Keys are dense.
    last: Vec<(u32, u64, u32)>,
}

impl KeyOrderChecker {
    /// A producer sent record `id` with `key` (None: a null key) to `partition`.
    pub fn sent(&mut self, id: u64, partition: u32, key: Option<u32>) {
        let Some(key) = key else {
            return;
        };
        let (producer, seq) = producer_of(id);
        let p = producer as usize;
        if self.sent.len() <= p {
            self.sent.resize(p + 1, Sends::default());
        }
        self.sent[p].set(seq as usize, key, partition);
    }

    /// A member of `group` polled records `ids`, in this order.
    pub fn polled(&mut self, group: &str, ids: impl IntoIterator<Item = u64>) {
        let per_producer = match self.first.get_mut(group) {
            Some(v) => v,
            None => self.first.entry(group.to_owned()).or_default(),
        };
        for id in ids {
            let (producer, seq) = producer_of(id);
            let keyed = self
                .sent
                .get(producer as usize)
                .and_then(|c| c.get(seq as usize))
                .is_some();
            if !keyed {
                continue;
            }
            let p = producer as usize;
            if per_producer.len() <= p {
                per_producer.resize_with(p + 1, Chunked32::new);
            }
            let ranks = &mut per_producer[p];
            match ranks.get(seq as usize) {
                Some(0) | None => {
                    self.consumed = self.consumed.saturating_add(1);
                    ranks.set(seq as usize, self.consumed);
                }
                Some(_) => {}
            }
        }
    }

    /// Judges the sends of `producer` below sequence `upto` for every
    /// group, at `at`; `acked` says which records were acknowledged.
    fn walk(&mut self, at: Nanos, producer: usize, upto: usize, acked: &dyn Fn(u64) -> bool) {
        let Some(sent) = self.sent.get(producer) else {
            return;
        };
        for (group, per_producer) in &self.first {
            let Some(ranks) = per_producer.get(producer) else {
                continue;
            };
            let walks = self.walks.entry(group.clone()).or_default();
            if walks.len() <= producer {
                walks.resize(producer + 1, Walk::default());
            }
            let walk = &mut walks[producer];
            let found = self.found.entry(group.clone()).or_default();
            let from = walk.next;
            walk.next = walk.next.max(upto.min(ranks.len()));
            let p = producer;
            for (seq, rank) in (from..).zip(ranks.range(from, upto)) {
                let id = record_id_of(p as u32, seq as u64);
                let Some((key, partition)) = sent.get(seq) else {
                    continue;
                };
                if rank == 0 || !acked(id) {
                    continue;
                }
                let k = key as usize;
                if walk.last.len() <= k {
                    walk.last.resize(k + 1, (0, 0, 0));
                }
                match walk.last[k] {
                    (earlier_rank, earlier, earlier_partition) if rank < earlier_rank => {
                        *found += 1;
                        if *found <= MAX_REPORTED {
                            self.violations.push(Violation::new(
                                KEY_ORDER,
                                at,
                                format!(
                                    "group {group} consumed key {key} of producer {p} out of \
                                     send order: p{p}-{seq} (partition {partition}) before \
                                     p{p}-{earlier_seq} (partition {earlier_partition}), \
                                     which was sent and acknowledged first",
                                    earlier_seq = producer_of(earlier).1,
                                ),
                            ));
                        }
                    }
                    _ => walk.last[k] = (rank, id, partition),
                }
            }
        }
    }

    /// Judges and forgets chunk `chunk` of `producer`'s sends (every record
    /// in it is settled: see `data::forget`), at `at`.
    pub fn forget(&mut self, at: Nanos, producer: u32, chunk: usize, acked: &dyn Fn(u64) -> bool) {
        let p = producer as usize;
        self.walk(at, p, (chunk + 1) * CHUNK_LEN, acked);
        if let Some(sent) = self.sent.get_mut(p) {
            sent.forget_chunk(chunk);
        }
        for per_producer in self.first.values_mut() {
            if let Some(ranks) = per_producer.get_mut(p) {
                ranks.forget_chunk(chunk);
            }
        }
    }

    /// The violations, judged at `end` over the records `acked` says were
    /// acknowledged: per group, producer and key, walking the sends in
    /// order, a record first consumed before an earlier-sent one was.
    pub fn finish(mut self, end: Nanos, acked: &dyn Fn(u64) -> bool) -> Vec<Violation> {
        for p in 0..self.sent.len() {
            self.walk(end, p, usize::MAX, acked);
        }
        let mut out = self.violations;
        for (group, &found) in &self.found {
            if found > MAX_REPORTED {
                out.push(Violation::new(
                    KEY_ORDER,
                    end,
                    format!(
                        "group {group} consumed {} more records out of their key's send order",
                        found - MAX_REPORTED
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record `seq` of producer 1 (ids carry the producer above bit 40).
    fn id(seq: u64) -> u64 {
        1 << 40 | seq
    }

    #[test]
    fn sends_read_back_as_set_numbered_or_kept_whole() {
        let mut sends = Sends::default();
        // More distinct pairs than numbers: the last ones are kept whole.
        let pair = |seq: usize| {
            let seq = seq as u32;
            (
                seq % 70_000,
                seq % 3
                    + if seq.is_multiple_of(11) {
                        u32::MAX - 3
                    } else {
                        0
                    },
            )
        };
        let n = 2 * CHUNK_LEN + 5;
        for seq in 0..n {
            let (key, partition) = pair(seq);
            sends.set(seq, key, partition);
        }
        for seq in 0..n {
            assert_eq!(sends.get(seq), Some(pair(seq)), "send {seq}");
        }
        assert_eq!(sends.pairs.len(), MAX_PAIRS);
        assert!(!sends.wide.is_empty());
        // Sent again with a numbered pair: off the side.
        let wide = *sends.wide.keys().next().unwrap();
        sends.set(wide, pair(0).0, pair(0).1);
        assert_eq!(sends.get(wide), Some(pair(0)));
        assert!(!sends.wide.contains_key(&wide));
        assert_eq!(sends.get(n), None, "past the end");
        sends.forget_chunk(1);
        assert_eq!(sends.get(CHUNK_LEN + 7), None, "forgotten");
        assert_eq!(sends.get(7), Some(pair(7)));
        let chunk_1 = CHUNK_LEN..2 * CHUNK_LEN;
        assert!(sends.wide.keys().all(|seq| !chunk_1.contains(seq)));
    }

    #[test]
    fn a_key_read_in_send_order_passes_and_out_of_order_fails() {
        let mut c = KeyOrderChecker::default();
        // Key 7 goes to partition 0, then (after partitions were added) to 3.
        c.sent(id(0), 0, Some(7));
        c.sent(id(1), 0, Some(7));
        c.sent(id(2), 3, Some(7));
        c.sent(id(3), 1, Some(8));
        c.sent(id(4), 1, None);
        // The group reads partition 3 before it gets to the rest of partition 0.
        c.polled("billing", [0, 3, 4].map(id));
        c.polled("billing", [2, 1].map(id));
        let all = |_: u64| true;
        let v = c.clone().finish(0, &all);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail
                .contains("key 7 of producer 1 out of send order: p1-2 (partition 3) before p1-1 (partition 0)"),
            "{}",
            v[0].detail
        );
        // Had p0-2 never been acknowledged, nothing would be promised of it.
        let not_two = |i: u64| i != id(2);
        assert!(c.clone().finish(0, &not_two).is_empty());
        // Another group reading in order is fine, and a record read twice
        // counts at its first read.
        c.polled("audit", [0, 1, 0, 2, 3].map(id));
        let v = c.finish(0, &all);
        assert!(
            v.iter().all(|v| v.detail.contains("group billing")),
            "{v:?}"
        );
    }

    #[test]
    fn a_forgotten_chunk_is_judged_then_and_its_keys_carry_over() {
        let mut c = KeyOrderChecker::default();
        let far = CHUNK_LEN as u64 + 3;
        // Key 7: seq 0 and seq 1 in chunk 0, seq `far` in chunk 1.
        c.sent(id(0), 0, Some(7));
        c.sent(id(1), 0, Some(7));
        c.sent(id(far), 0, Some(7));
        c.polled("billing", [1, 0].map(id));
        let all = |_: u64| true;
        c.forget(5 * sim::MILLIS, 1, 0, &all);
        // Forgotten: the chunk's keys and ranks are gone.
        assert_eq!(c.sent[1].get(0), None);
        assert_eq!(c.first["billing"][1].get(1), Some(0));
        // `far`, read after chunk 0's records, is in order.
        let mut late = c.clone();
        late.polled("billing", [id(far)]);
        let v = late.finish(9 * sim::MILLIS, &all);
        assert_eq!(v.len(), 1, "only chunk 0's: {v:?}");
        assert_eq!(v[0].at_ms, 5, "judged when forgotten");
        assert!(
            v[0].detail.contains("p1-1 (partition 0) before p1-0"),
            "{}",
            v[0].detail
        );
        let mut early = KeyOrderChecker::default();
        early.sent(id(0), 0, Some(7));
        early.sent(id(far), 0, Some(7));
        early.polled("billing", [far, 0].map(id));
        early.forget(5, 1, 0, &all);
        // Judged at the end against seq 0's rank, kept from chunk 0's walk.
        let v = early.finish(9, &all);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].detail
                .contains(&format!("p1-{far} (partition 0) before p1-0")),
            "{}",
            v[0].detail
        );
    }
}
