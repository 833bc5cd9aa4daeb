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
//! order. A group's walk goes on while the run goes, over the sends whose
//! judgement can no longer change (acknowledged and consumed by the group:
//! a rank is its first consumption's, and an acknowledgement stands), and
//! stops at the first that is not; a chunk of sends every group walked
//! past is forgotten, so that the checker keeps what can still be
//! violated, not every record a run sent. A chunk that retention removed
//! from every replica is judged and forgotten then (see `data::forget`),
//! and the rest at the end.

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
    /// Per producer: the chunks below this one are forgotten, every
    /// group's walk having passed them.
    walked_chunks: Vec<usize>,
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
    /// A checker of `groups`, every group that may consume: a chunk of
    /// sends is forgotten while the run goes only once each of them walked
    /// past it.
    pub fn new(groups: impl IntoIterator<Item = String>) -> Self {
        let mut checker = Self::default();
        for group in groups {
            checker.first.entry(group).or_default();
        }
        checker
    }

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

    /// Judges, for every group at `at`, each producer's sends as far as
    /// their judgement can no longer change (each acknowledged and
    /// consumed by the group), then forgets the chunks every group walked
    /// past. `acked` says which records were acknowledged (an
    /// acknowledgement stands: a record acknowledged is never failed
    /// after).
    pub fn advance(&mut self, at: Nanos, acked: &dyn Fn(u64) -> bool) {
        for p in 0..self.sent.len() {
            self.walk_groups(at, p, usize::MAX, acked, true);
            let walked = self
                .first
                .keys()
                .map(|g| {
                    self.walks
                        .get(g)
                        .and_then(|w| w.get(p))
                        .map_or(0, |w| w.next)
                })
                .min()
                .unwrap_or(0);
            if self.walked_chunks.len() <= p {
                self.walked_chunks.resize(p + 1, 0);
            }
            while (self.walked_chunks[p] + 1) * CHUNK_LEN <= walked {
                let chunk = self.walked_chunks[p];
                self.forget_chunk(p, chunk);
                self.walked_chunks[p] += 1;
            }
        }
    }

    /// Forgets chunk `chunk` of producer `p`'s sends and of every group's ranks.
    fn forget_chunk(&mut self, p: usize, chunk: usize) {
        if let Some(sent) = self.sent.get_mut(p) {
            sent.forget_chunk(chunk);
        }
        for per_producer in self.first.values_mut() {
            if let Some(ranks) = per_producer.get_mut(p) {
                ranks.forget_chunk(chunk);
            }
        }
    }

    /// Judges the sends of `producer` below sequence `upto` for every
    /// group, at `at`; `acked` says which records were acknowledged.
    fn walk(&mut self, at: Nanos, producer: usize, upto: usize, acked: &dyn Fn(u64) -> bool) {
        self.walk_groups(at, producer, upto, acked, false);
    }

    /// [`Self::walk`]; with `settled_only`, each group's walk stops at the
    /// first send that is acknowledged or consumed not yet (the others
    /// are walked past: nothing is promised of them).
    fn walk_groups(
        &mut self,
        at: Nanos,
        producer: usize,
        upto: usize,
        acked: &dyn Fn(u64) -> bool,
        settled_only: bool,
    ) {
        let Some(sent) = self.sent.get(producer) else {
            return;
        };
        for (group, per_producer) in &self.first {
            let Some(ranks) = per_producer.get(producer) else {
                continue;
            };
            if !self.walks.contains_key(group) {
                self.walks.insert(group.clone(), Vec::new());
                self.found.insert(group.clone(), 0);
            }
            let walks = self.walks.get_mut(group).expect("inserted above");
            if walks.len() <= producer {
                walks.resize(producer + 1, Walk::default());
            }
            let walk = &mut walks[producer];
            let found = self.found.get_mut(group).expect("inserted with its walks");
            let from = walk.next;
            walk.next = walk.next.max(upto.min(ranks.len()));
            let p = producer;
            for (seq, rank) in (from..).zip(ranks.range(from, upto)) {
                let id = record_id_of(p as u32, seq as u64);
                let Some((key, partition)) = sent.get(seq) else {
                    continue;
                };
                if rank == 0 || !acked(id) {
                    if settled_only {
                        walk.next = seq;
                        break;
                    }
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
        self.forget_chunk(p, chunk);
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

    #[test]
    fn settled_sends_are_judged_while_the_run_goes_and_then_forgotten() {
        let mut c = KeyOrderChecker::new(["billing".to_owned()]);
        let n = CHUNK_LEN as u64 + 5;
        for seq in 0..n {
            c.sent(id(seq), 0, Some(7));
        }
        let all = |_: u64| true;
        // p1-1 read before p1-0: judged as soon as both are read.
        c.polled("billing", [1, 0].map(id));
        c.advance(3 * sim::MILLIS, &all);
        assert_eq!(c.violations.len(), 1, "{:?}", c.violations);
        assert_eq!(c.violations[0].at_ms, 3);
        assert_eq!(c.sent[1].get(0), Some((7, 0)), "p1-2 on is unread: kept");
        c.polled("billing", (2..n).map(id));
        c.advance(4 * sim::MILLIS, &all);
        assert_eq!(c.sent[1].get(0), None, "chunk 0 walked: forgotten");
        assert_eq!(c.first["billing"][1].get(1), Some(0));
        assert_eq!(c.sent[1].get(CHUNK_LEN + 1), Some((7, 0)), "chunk 1 kept");
        // Judged once: the end does not walk it again.
        let v = c.finish(9 * sim::MILLIS, &all);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].at_ms, 3);
    }

    #[test]
    fn an_unacknowledged_send_or_a_group_yet_to_read_holds_the_walk() {
        let groups = ["billing".to_owned(), "audit".to_owned()];
        let mut c = KeyOrderChecker::new(groups);
        let n = CHUNK_LEN as u64 + 5;
        for seq in 0..n {
            c.sent(id(seq), 0, Some(7));
        }
        c.polled("billing", [2, 1, 0].map(id));
        c.polled("billing", (3..n).map(id));
        // p1-0 not acknowledged yet: nothing after it is judged (it may be).
        let not_yet = |i: u64| i != id(0);
        c.advance(1, &not_yet);
        assert!(c.violations.is_empty(), "{:?}", c.violations);
        assert_eq!(c.walks["billing"][1].next, 0);
        let all = |_: u64| true;
        c.advance(2, &all);
        assert_eq!(c.violations.len(), 2, "{:?}", c.violations);
        // audit read nothing yet: chunk 0 is kept for it.
        assert_eq!(c.sent[1].get(0), Some((7, 0)));
        c.polled("audit", (0..n).map(id));
        c.advance(3, &all);
        assert_eq!(c.sent[1].get(0), None);
        assert_eq!(c.violations.len(), 2, "audit read in order");
    }
}
