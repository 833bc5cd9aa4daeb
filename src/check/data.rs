//! The data checkers, over what clients observed and what the logs hold
//! after the settle phase: `acked_writes_durable`, `offsets_consistent`,
//! `no_duplicates`, `partition_order`, `reads_committed_only`,
//! `replicas_consistent` (Jepsen's lost-write, inconsistent-offsets,
//! duplicate, nonmonotonic-send and dirty-read anomalies in Kafka's terms).
//!
//! A run observes millions of records several times each, so the checker
//! keeps about 3 bytes per record: per producer, by send sequence, the
//! record's outcome (1 byte, and a chunk of them that settled to one
//! outcome as that one byte); per partition, by offset, the first record
//! seen there (3 bytes, see [`Chunked64`]). Acknowledgements are kept per
//! batch and consumer reads per poll, as offset ranges. What disagrees (an acknowledgement or a read of
//! another record than an offset first held) is an anomaly and is kept in
//! full. At the end the final logs are read one partition at a time.
//!
//! With retention, what every replica's log start offset has passed is
//! forgotten as it goes (see [`forget`]): the checker's memory follows the
//! records the logs still hold, not every record a run ever sent.

mod forget;

pub use forget::Forgotten;
use forget::Placements;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use sim::{Nanos, MILLIS};

use super::chunked::{Chunked, CHUNK_LEN};
use super::chunked64::Chunked64;
use super::push_sparingly;
use super::Violation;
use crate::client::consumer::ConsumerObs;
use crate::client::{for_each_record_id, producer_of, record_id_of, ProducerObs};
use crate::log::RecordBatch;
use crate::metadata::Uuid;
use crate::protocol::TopicPartition;

/// Names of the data invariants, as reports print them.
pub const DATA_INVARIANTS: [&str; 6] = [
    "acked_writes_durable",
    "offsets_consistent",
    "no_duplicates",
    "partition_order",
    "reads_committed_only",
    "replicas_consistent",
];

/// One partition's log after the settle phase.
#[derive(Clone, Debug, Default)]
pub struct FinalLog {
    /// The leader's batches below its high watermark (what a final read
    /// from the log start offset returns), shared with the log.
    pub leader: Vec<Rc<RecordBatch>>,
    /// The leader's log start offset: retention removed what lies below.
    pub log_start_offset: u64,
    /// The leader's high watermark.
    pub high_watermark: u64,
    /// Each other in-sync replica's batches (broker id, batches) below the
    /// leader's high watermark.
    pub replicas: Vec<(u32, Vec<Rc<RecordBatch>>)>,
    /// The topic is compacted: the cleaner may have removed records (their
    /// offsets read [`COMPACTED_ID`]), and each replica cleans on its own.
    pub compacted: bool,
    /// The leader's record ids by offset, decoded at the first lookup of
    /// one offset ([`FinalLog::id_at`]) and kept for the next ones.
    ids: OnceCell<Vec<u64>>,
    /// By offset: whether a read_committed consumer is given the record.
    committed: OnceCell<Vec<bool>>,
}

impl FinalLog {
    /// A partition's final logs: the leader's batches and high watermark,
    /// and each other in-sync replica's batches.
    pub fn new(
        leader: Vec<Rc<RecordBatch>>,
        log_start_offset: u64,
        high_watermark: u64,
        replicas: Vec<(u32, Vec<Rc<RecordBatch>>)>,
    ) -> Self {
        Self {
            leader,
            log_start_offset,
            high_watermark,
            replicas,
            compacted: false,
            ids: OnceCell::new(),
            committed: OnceCell::new(),
        }
    }

    /// The same log of a compacted topic.
    pub fn compacted(mut self) -> Self {
        self.compacted = true;
        self
    }

    /// By offset from the log start offset to the high watermark (index
    /// `i` is offset `start() + i`): whether a read_committed consumer is
    /// given the record there. Not given: transaction markers, records of
    /// aborted transactions, and those of transactions with no marker yet
    /// (still open).
    pub fn committed_view(&self) -> &[bool] {
        self.committed.get_or_init(|| {
            committed_view(
                &self.leader,
                self.log_start_offset,
                self.high_watermark,
                self.compacted,
            )
        })
    }

    /// The leader's record ids from the log start offset to the high
    /// watermark (index `i` is offset `start() + i`; stops at a gap, but
    /// in a compacted log an offset the cleaner emptied reads
    /// [`COMPACTED_ID`]). A checker walking every offset gets them decoded
    /// for it alone (unless a lookup kept them already) and drops them when
    /// done: the ids of every final log at once would be the largest
    /// memory a run holds, 8 bytes for every record the logs keep.
    ///
    /// A short log's ids are kept at the first walk all the same (at most
    /// [`KEEP_IDS_UP_TO`] offsets, 16 MiB): every checker walks them, and
    /// decoding them once instead of once per checker is worth that.
    pub fn ids(&self) -> Cow<'_, [u64]> {
        match self.ids.get() {
            Some(kept) => Cow::Borrowed(kept),
            None if self.high_watermark.saturating_sub(self.log_start_offset) <= KEEP_IDS_UP_TO => {
                Cow::Borrowed(self.kept_ids())
            }
            None => Cow::Owned(self.decode_ids()),
        }
    }

    /// [`FinalLog::ids`], decoded once and kept, for lookups of one offset.
    fn kept_ids(&self) -> &[u64] {
        self.ids.get_or_init(|| self.decode_ids())
    }

    fn decode_ids(&self) -> Vec<u64> {
        ids_of(
            &self.leader,
            self.log_start_offset,
            self.high_watermark,
            self.compacted,
        )
    }

    /// The first offset [`FinalLog::ids`] covers: the log start offset.
    pub fn start(&self) -> u64 {
        self.log_start_offset
    }

    /// The record id at `offset`, if the final log holds one there.
    pub fn id_at(&self, offset: u64) -> Option<u64> {
        let i = offset.checked_sub(self.log_start_offset)?;
        self.kept_ids().get(i as usize).copied()
    }

    /// Whether read_committed is given the record at `offset` (None where
    /// the final log holds none).
    pub fn committed_at(&self, offset: u64) -> Option<bool> {
        let i = offset.checked_sub(self.log_start_offset)?;
        self.committed_view().get(i as usize).copied()
    }

    /// `(offset, id)` of every record [`FinalLog::ids`] holds.
    pub fn offsets_and_ids(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let start = self.log_start_offset;
        let ids = self.ids();
        (0..ids.len()).map(move |i| (start + i as u64, ids[i]))
    }
}

/// The most offsets a final log may span for [`FinalLog::ids`] to keep
/// its ids once decoded (8 bytes each). `bench_throughput`'s partitions
/// (about a million offsets each) are kept: a tenth less CPU for 67 MB
/// more at its peak, which the final checks now reach after the disks
/// are dropped; a long run's (millions each) are decoded per checker.
const KEEP_IDS_UP_TO: u64 = 1 << 21;

/// A final log's record ids by offset, from `start`.
#[derive(Clone, Copy, Debug)]
struct LogView<'a> {
    start: u64,
    ids: &'a [u64],
}

impl LogView<'_> {
    fn get(&self, offset: u64) -> Option<u64> {
        let i = offset.checked_sub(self.start)?;
        self.ids.get(i as usize).copied()
    }

    fn end(&self) -> u64 {
        self.start + self.ids.len() as u64
    }
}

/// The offsets of `from..to` whose slot may not hold what the final log
/// holds there (see [`DataChecker::final_read`]): those in `differs`, and
/// those at or past the log's `end`, in order.
fn suspects(differs: &[u64], from: u64, to: u64, end: u64) -> impl Iterator<Item = u64> + '_ {
    let lo = differs.partition_point(|&o| o < from);
    let hi = differs.partition_point(|&o| o < to).max(lo);
    differs[lo..hi].iter().copied().chain(from.max(end)..to)
}

/// The logs after the settle phase.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Per partition with a running leader.
    pub logs: BTreeMap<TopicPartition, FinalLog>,
    /// Topics an `[[admin]]` delete_topic deleted: their logs went with
    /// them, so nothing acknowledged to them is owed.
    pub deleted_topics: BTreeSet<String>,
    /// The topic id of every topic the final metadata has: a record
    /// acknowledged to another topic of the same name went with that
    /// deleted topic.
    pub topic_ids: BTreeMap<String, Uuid>,
}

/// The batches of `batches` from the one holding `start` on, each with
/// the first of its offsets at or above `start`, while they follow on
/// from each other (with `gaps`, a compacted log's: whatever the gap).
fn contiguous_from(
    batches: &[Rc<RecordBatch>],
    start: u64,
    gaps: bool,
) -> impl Iterator<Item = &Rc<RecordBatch>> + '_ {
    let mut next = start;
    batches
        .iter()
        .enumerate()
        .skip_while(move |(_, b)| b.next_offset() <= start)
        .take_while(move |(_, b)| {
            let follows = gaps || b.base_offset <= next;
            next = b.next_offset();
            follows
        })
        .map(|(i, b)| {
            // Each batch and its records are allocations of their own,
            // long out of cache when a final log is read: asked for a few
            // batches ahead, they are there when reached.
            if let Some(ahead) = batches.get(i + 8) {
                sim::blob::prefetch(Rc::as_ptr(ahead));
            }
            if let Some(ahead) = batches.get(i + 4) {
                ahead.records_blob().prefetch();
            }
            b
        })
}

/// (id, epoch) of every record in `batches` from `start` below `upto`.
fn records_of(batches: &[Rc<RecordBatch>], start: u64, upto: u64) -> Vec<(u64, i32)> {
    let mut out = Vec::with_capacity(upto.saturating_sub(start) as usize);
    for batch in contiguous_from(batches, start, false) {
        for_each_record_id(batch, |offset_delta, id| {
            let offset = batch.base_offset + u64::from(offset_delta);
            if start <= offset && offset < upto {
                out.push((id, batch.partition_leader_epoch));
            }
        });
    }
    out
}

/// The record ids of `batches` from `start` below `upto`; with `gaps`
/// (a compacted log), every offset without a record reads [`COMPACTED_ID`].
fn ids_of(batches: &[Rc<RecordBatch>], start: u64, upto: u64, gaps: bool) -> Vec<u64> {
    // One id per offset at most: the largest vector a run makes, never doubled.
    let mut out = Vec::with_capacity(upto.saturating_sub(start) as usize);
    for batch in contiguous_from(batches, start, gaps) {
        if batch.base_offset >= upto {
            break;
        }
        for_each_record_id(batch, |offset_delta, id| {
            let offset = batch.base_offset + u64::from(offset_delta);
            if start <= offset && offset < upto {
                let at = (offset - start) as usize;
                if out.len() < at {
                    out.resize(at, COMPACTED_ID);
                }
                out.push(id);
            }
        });
        if gaps {
            let end = (batch.next_offset().min(upto) - start) as usize;
            if out.len() < end {
                out.resize(end, COMPACTED_ID);
            }
        }
    }
    out
}

/// The id of an offset the log cleaner emptied (in [`FinalLog::ids`]).
pub const COMPACTED_ID: u64 = u64::MAX - 1;

/// See [`FinalLog::committed_view`].
fn committed_view(batches: &[Rc<RecordBatch>], start: u64, upto: u64, gaps: bool) -> Vec<bool> {
    let mut visible: Vec<bool> = Vec::new();
    // Per producer id: the offsets of its open transaction (from `start`).
    let mut open: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for batch in contiguous_from(batches, start, gaps) {
        if batch.base_offset >= upto {
            break;
        }
        let first = batch.base_offset.max(start);
        let end = batch.next_offset().min(upto);
        let range = visible.len()..(end.max(first) - start) as usize;
        if batch.is_control() {
            let commit = batch
                .end_txn_marker_of()
                .is_some_and(|m| m.control_type == crate::log::ControlRecordType::Commit);
            for i in open.remove(&batch.producer_id).unwrap_or_default() {
                visible[i] = commit;
            }
            visible.extend(range.map(|_| false));
        } else if batch.is_transactional() {
            open.entry(batch.producer_id)
                .or_default()
                .extend(range.clone());
            visible.extend(range.map(|_| false));
        } else {
            visible.extend(range.map(|_| true));
        }
        if end < batch.next_offset() {
            break;
        }
    }
    visible
}

/// The leader epoch of the batch holding `offset`.
fn epoch_at(batches: &[Rc<RecordBatch>], offset: u64) -> Option<i32> {
    let i = batches
        .partition_point(|b| b.base_offset <= offset)
        .checked_sub(1)?;
    let b = &batches[i];
    (offset < b.next_offset()).then_some(b.partition_leader_epoch)
}

const PENDING: u8 = 1;
const ACKED: u8 = 2;
const FAILED: u8 = 3;
const INDETERMINATE: u8 = 4;
/// An empty id slot.
const NO_ID: u64 = u64::MAX;

/// Offsets `base..base + len` acknowledged together, at `ms`.
#[derive(Clone, Copy, Debug)]
struct AckRun {
    base: u64,
    len: u32,
    ms: u32,
}

/// Offsets `from..to` read by consumer node `node` in one poll, at `ms`
/// (only reads that agreed with what each offset first held).
#[derive(Clone, Copy, Debug)]
struct ReadRun {
    from: u64,
    to: u64,
    node: u32,
    ms: u32,
}

/// One partition: by offset, the first record seen there; and, by batch
/// and by poll, where acknowledgements and reads fell.
#[derive(Clone, Debug)]
struct Slots {
    id: Chunked64,
    acks: Vec<AckRun>,
    reads: Vec<ReadRun>,
    /// Per broker hosting a replica: its log start offset, as it last said.
    starts: Vec<(u32, u64)>,
    /// Offsets below this are forgotten: every replica's log start passed them.
    forgot: u64,
}

impl Default for Slots {
    fn default() -> Self {
        Self {
            id: Chunked64::new(NO_ID),
            acks: Vec::new(),
            reads: Vec::new(),
            starts: Vec::new(),
            forgot: 0,
        }
    }
}

impl Slots {
    fn id(&self, offset: u64) -> u64 {
        self.id.get(offset as usize).unwrap_or(NO_ID)
    }

    fn ack_covering(&self, offset: u64) -> Option<&AckRun> {
        self.acks
            .iter()
            .find(|r| (r.base..r.base + u64::from(r.len)).contains(&offset))
    }

    fn first_read(&self, offset: u64) -> Option<&ReadRun> {
        self.reads.iter().find(|r| (r.from..r.to).contains(&offset))
    }
}

/// A record acknowledged where another had been seen first, or with no
/// offset (acks=0): kept in full, it is an anomaly or rare.
#[derive(Clone, Copy, Debug)]
struct AckElsewhere {
    part: u32,
    offset: Option<u64>,
    id: u64,
    ms: u32,
}

/// A consumer read that disagreed with what the offset first held.
#[derive(Clone, Copy, Debug)]
struct StrayRead {
    at: Nanos,
    node: u32,
    part: u32,
    offset: u64,
    id: u64,
}

/// Who saw a record first at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SeenBy {
    Ack,
    Consumer(u32),
    FinalRead,
}

/// One producer's records met so far in a walk of a final log, for
/// `no_duplicates` and `partition_order`.
#[derive(Clone, Debug, Default)]
struct InLog {
    /// One bit per send sequence: met yet.
    bits: Vec<u64>,
    /// (sequence, offset) of the latest record met whose outcome the
    /// checker knows.
    last: Option<(u64, u64)>,
}

impl InLog {
    /// Meets sequence `seq`: whether for the first time.
    #[inline]
    fn meet(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        let first = self.bits[word] & (1 << bit) == 0;
        self.bits[word] |= 1 << bit;
        first
    }
}

/// Collects client observations online; `finish` checks them against the final state.
#[derive(Debug, Default)]
pub struct DataChecker {
    topics: Vec<String>,
    names: Vec<String>,
    /// Dense partition index, by topic index and partition.
    parts: Vec<Vec<u32>>,
    part_keys: Vec<(u32, u32)>,
    /// Per producer, by send sequence: the record's outcome.
    outcome: Vec<Chunked<u8>>,
    /// Per producer: when it last had a record acknowledged (ms).
    last_ack_ms: Vec<Option<u32>>,
    slots: Vec<Slots>,
    elsewhere: Vec<AckElsewhere>,
    stray_reads: Vec<StrayRead>,
    violations: Vec<Violation>,
    /// Topics that pipelines write: their records carry the ids of the
    /// inputs they were made from, in the pipeline's order, so no
    /// producer's send order or uniqueness applies to them
    /// (`exactly_once` judges them).
    derived: Vec<String>,
    /// Acknowledgements received.
    pub acked: u64,
    /// Records consumed.
    pub consumed_count: u64,
    /// Records sent.
    pub sent_count: u64,
    /// Per producer: acknowledgements received in each simulated second.
    pub acks_per_second: Vec<Vec<u64>>,
    /// Per topic: its replication factor (0: never forget its records).
    replication: Vec<u32>,
    /// Per producer, by chunk of send sequences: what keeps the chunk's
    /// per-record state needed (see [`forget`]).
    seq_chunks: Vec<Vec<forget::SeqChunk>>,
    /// Per producer: how many of its chunks (from the first) are forgotten.
    retired: Vec<usize>,
    /// Acknowledged records forgotten once retention removed them.
    removed_acked: u64,
    /// Per checked topic: the topic id of its log (`Uuid(0)` until an
    /// observation names one). Each incarnation of a recreated topic is
    /// checked as a topic of its own, after the scenario's topics.
    topic_ids: Vec<Uuid>,
    /// Per checked topic: the scenario topic it is an incarnation of.
    origin: Vec<u32>,
    /// Per scenario topic: the checked topic of its newest incarnation.
    latest: Vec<u32>,
}

fn show(id: u64) -> String {
    let (producer, seq) = producer_of(id);
    format!("p{producer}-{seq}")
}

fn ms(at: Nanos) -> u32 {
    u32::try_from(at / MILLIS).unwrap_or(u32::MAX)
}

fn at_ms(ms: u32) -> Nanos {
    u64::from(ms) * MILLIS
}

impl DataChecker {
    /// A checker for a scenario's `topics`; `names` names the nodes.
    pub fn new(topics: Vec<String>, names: Vec<String>) -> Self {
        let n = topics.len() as u32;
        Self {
            parts: vec![Vec::new(); topics.len()],
            topics,
            names,
            topic_ids: vec![Uuid(0); n as usize],
            origin: (0..n).collect(),
            latest: (0..n).collect(),
            ..Self::default()
        }
    }

    /// The checked topic of scenario topic `topic` whose log has topic id
    /// `id`: the scenario's own entry for the first id seen, a new one for
    /// each later incarnation (a topic deleted and created again). An
    /// unknown id (`Uuid(0)`: an acks=0 send) goes to the newest.
    fn incarnation(&mut self, topic: u32, id: Uuid) -> u32 {
        let t = topic as usize;
        if t >= self.latest.len() || id == Uuid(0) {
            return self.latest.get(t).copied().unwrap_or(topic);
        }
        if self.topic_ids[t] == id {
            return topic;
        }
        if self.topic_ids[t] == Uuid(0) {
            self.topic_ids[t] = id;
            return topic;
        }
        let known = (self.latest.len()..self.topics.len())
            .find(|&i| self.origin[i] == topic && self.topic_ids[i] == id);
        if let Some(i) = known {
            return i as u32;
        }
        let i = self.topics.len() as u32;
        self.topics.push(self.topics[t].clone());
        self.topic_ids.push(id);
        self.origin.push(topic);
        self.parts.push(Vec::new());
        self.latest[t] = i;
        i
    }

    /// Whether checked topic `t` is an incarnation of its name other than
    /// the one the final metadata has (so it was deleted).
    fn stale_incarnation(&self, t: usize, end: &FinalState) -> bool {
        let id = self.topic_ids.get(t).copied().unwrap_or(Uuid(0));
        id != Uuid(0)
            && end
                .topic_ids
                .get(&self.topics[t])
                .is_some_and(|&current| current != id)
    }

    /// The checked topic holding the final log of topic `name`: the
    /// incarnation the final metadata has.
    fn final_topic(&self, name: &str, end: &FinalState) -> Option<usize> {
        (0..self.topics.len())
            .rev()
            .find(|&t| self.topics[t] == name && !self.stale_incarnation(t, end))
    }

    fn part(&mut self, topic: u32, partition: u32) -> u32 {
        let (t, p) = (topic as usize, partition as usize);
        if self.parts.len() <= t {
            self.parts.resize(t + 1, Vec::new());
        }
        if let Some(&part) = self.parts[t].get(p).filter(|&&x| x != u32::MAX) {
            return part;
        }
        let part = self.part_keys.len() as u32;
        if self.parts[t].len() <= p {
            self.parts[t].resize(p + 1, u32::MAX);
        }
        self.parts[t][p] = part;
        self.part_keys.push((topic, partition));
        self.slots.push(Slots::default());
        part
    }

    fn part_name(&self, part: u32) -> String {
        let (t, p) = self.part_keys[part as usize];
        format!("{}-{p}", self.topics[t as usize])
    }

    fn part_of(&self, tp: &TopicPartition, end: &FinalState) -> Option<u32> {
        let t = self.final_topic(&tp.topic, end)?;
        let part = *self.parts.get(t)?.get(tp.partition as usize)?;
        (part != u32::MAX).then_some(part)
    }

    fn outcome(&self, id: u64) -> Option<u8> {
        let (producer, seq) = producer_of(id);
        let o = self.outcome.get(producer as usize)?.get(seq as usize)?;
        (o != 0).then_some(o)
    }

    fn set_outcome(&mut self, id: u64, outcome: u8) {
        let (producer, seq) = producer_of(id);
        let Some(current) = self.outcome(id) else {
            return;
        };
        if outcome != INDETERMINATE || current == PENDING {
            *self.outcome[producer as usize].slot(seq as usize) = outcome;
        }
    }

    /// Record `seq` of `producer` is acknowledged: its outcome before, if
    /// the checker knows the record (it is [`ACKED`] now).
    #[inline]
    fn acknowledge(&mut self, producer: usize, seq: usize) -> Option<u8> {
        let outcomes = self.outcome.get_mut(producer)?;
        outcomes.replace_unless(seq, 0, ACKED).filter(|&o| o != 0)
    }

    /// Who saw the record at `offset` of `part` first, and when (ms).
    fn seen_first(&self, part: u32, offset: u64) -> SeenBy {
        let slots = &self.slots[part as usize];
        let ack = slots.ack_covering(offset);
        let read = slots.first_read(offset);
        match (ack, read) {
            (Some(a), Some(r)) if r.ms < a.ms => SeenBy::Consumer(r.node),
            (Some(_), _) => SeenBy::Ack,
            (None, Some(r)) => SeenBy::Consumer(r.node),
            (None, None) => SeenBy::FinalRead,
        }
    }

    fn source_name(&self, by: SeenBy) -> String {
        match by {
            SeenBy::Ack => "its producer's ack".to_owned(),
            SeenBy::FinalRead => "the final read".to_owned(),
            SeenBy::Consumer(n) => self.names[n as usize].clone(),
        }
    }

    /// Whether record `id` was acknowledged to its producer.
    pub fn is_acked(&self, id: u64) -> bool {
        self.outcome(id) == Some(ACKED)
    }

    /// Whether an offset in `from..to` of `tp` held a record its producer
    /// had acknowledged.
    /// (Of a recreated topic: its newest incarnation.)
    pub fn acked_between(&self, tp: &TopicPartition, from: u64, to: u64) -> bool {
        let Some(t) = self.topics.iter().position(|t| *t == tp.topic) else {
            return false;
        };
        let t = self.latest.get(t).copied().unwrap_or(t as u32) as usize;
        let Some(&part) = self.parts.get(t).and_then(|p| p.get(tp.partition as usize)) else {
            return false;
        };
        if part == u32::MAX {
            return false;
        }
        self.slots[part as usize]
            .id
            .range(from as usize, to as usize)
            .any(|id| id != NO_ID && self.is_acked(id))
    }

    /// Per producer: when it last had a record acknowledged.
    pub fn last_ack_per_producer(&self) -> BTreeMap<u32, u64> {
        self.last_ack_ms
            .iter()
            .enumerate()
            .filter_map(|(p, ms)| ms.map(|ms| (p as u32, at_ms(ms))))
            .collect()
    }

    /// Counts `n` acknowledgements of `producer` in `second`; `known`:
    /// one of them was of a record the checker knows, acknowledged at `ms`.
    fn count_acks(&mut self, (producer, n, known): (usize, u64, bool), second: usize, ms: u32) {
        if self.acks_per_second.len() <= producer {
            self.acks_per_second.resize(producer + 1, Vec::new());
            self.last_ack_ms.resize(producer + 1, None);
        }
        let per_second = &mut self.acks_per_second[producer];
        if per_second.len() <= second {
            per_second.resize(second + 1, 0);
        }
        per_second[second] += n;
        if known {
            let last = &mut self.last_ack_ms[producer];
            *last = Some(last.map_or(ms, |l| l.max(ms)));
        }
    }

    /// An observation of a producer writing to topic number `topic`.
    pub fn producer(&mut self, at: Nanos, topic: u32, obs: &ProducerObs) {
        match obs {
            ProducerObs::Sent(records) => {
                self.sent_count += records.len() as u64;
                // A send's records are its producer's next sequences:
                // they are marked a run at a time.
                let mut rest = &records[..];
                while let Some(first) = rest.first() {
                    let (producer, seq) = producer_of(first.id);
                    let room = CHUNK_LEN - seq as usize % CHUNK_LEN;
                    let n = rest
                        .iter()
                        .take(room)
                        .zip(seq..)
                        .take_while(|(r, s)| producer_of(r.id) == (producer, *s))
                        .count();
                    self.sent_run(producer as usize, seq as usize, n);
                    rest = &rest[n..];
                }
            }
            ProducerObs::Acked {
                partition,
                base_offset,
                ids,
                topic_id,
            } => {
                self.acked += ids.len() as u64;
                let second = (at / sim::SECONDS) as usize;
                let topic = self.incarnation(topic, *topic_id);
                let part = self.part(topic, *partition);
                let mut run: Option<AckRun> = None;
                let mut placements = Placements::default();
                // A batch's records are one producer's: its figures are
                // counted once per run of ids of one producer.
                let mut counted: Option<(usize, u64, bool)> = None;
                for (i, &id) in ids.iter().enumerate() {
                    let (producer, seq) = producer_of(id);
                    let producer = producer as usize;
                    match &mut counted {
                        Some((p, n, _)) if *p == producer => *n += 1,
                        _ => {
                            if let Some(done) = counted.take() {
                                self.count_acks(done, second, ms(at));
                            }
                            counted = Some((producer, 1, false));
                        }
                    }
                    // `set_outcome(id, ACKED)`, the outcome looked up once.
                    let Some(before) = self.acknowledge(producer, seq as usize) else {
                        continue;
                    };
                    if let Some((_, _, known)) = &mut counted {
                        *known = true;
                    }
                    let offset = base_offset.map(|b| b + i as u64);
                    if let Some(o) = offset.filter(|&o| o < self.slots[part as usize].forgot) {
                        // Retention already removed it from every replica.
                        self.removed_acked += 1;
                        if before != ACKED {
                            placements.add(self, id, part, o);
                        }
                        continue;
                    }
                    let placed = match offset {
                        Some(offset) => self.seen(at, part, offset, id, SeenBy::Ack),
                        None => false,
                    };
                    match offset {
                        Some(o) if placed && before != ACKED => placements.add(self, id, part, o),
                        _ => {}
                    }
                    if !placed {
                        self.elsewhere.push(AckElsewhere {
                            part,
                            offset,
                            id,
                            ms: ms(at),
                        });
                        continue;
                    }
                    let offset = offset.unwrap_or_default();
                    match &mut run {
                        Some(r) if r.base + u64::from(r.len) == offset => r.len += 1,
                        _ => {
                            if let Some(r) = run.take() {
                                push_sparingly(&mut self.slots[part as usize].acks, r);
                            }
                            run = Some(AckRun {
                                base: offset,
                                len: 1,
                                ms: ms(at),
                            });
                        }
                    }
                }
                if let Some(r) = run {
                    push_sparingly(&mut self.slots[part as usize].acks, r);
                }
                placements.flush(self);
                if let Some(done) = counted {
                    self.count_acks(done, second, ms(at));
                }
            }
            ProducerObs::Failed { ids, .. } => {
                for &id in ids {
                    self.set_outcome(id, FAILED);
                }
            }
            ProducerObs::Indeterminate { ids, .. } => {
                for &id in ids {
                    self.set_outcome(id, INDETERMINATE);
                }
            }
            // Transactions are the transaction checker's: at the log
            // level a transactional record is acknowledged as any other.
            ProducerObs::TxnEnded { .. } | ProducerObs::Fenced(_) => {}
        }
    }

    /// `producer` sent `n` records from sequence `seq` on, all in the
    /// chunk of `seq`.
    fn sent_run(&mut self, producer: usize, seq: usize, n: usize) {
        if self.outcome.len() <= producer {
            self.outcome.resize(producer + 1, Chunked::new(0));
        }
        self.outcome[producer].set_range(seq, seq + n, PENDING);
        self.sent_to_chunk(producer, seq, n as u32);
        if seq.is_multiple_of(CHUNK_LEN) && seq >= 2 * CHUNK_LEN {
            // Two chunks back, the sends are settled as a rule:
            // all acknowledged, one byte for the whole chunk.
            self.outcome[producer].compact_chunk(seq / CHUNK_LEN - 2);
        }
    }

    /// An observation of consumer node `node` reading topic number `topic`.
    pub fn consumer(&mut self, at: Nanos, node: u32, topic: u32, obs: &ConsumerObs) {
        let ConsumerObs::Polled(records) = obs else {
            return;
        };
        let ms = ms(at);
        // A poll's records come a partition at a time: the checked
        // partition is looked up once per run of them (the same topic id
        // and partition as the record before give the same answer).
        let mut last: Option<(Uuid, u32, u32)> = None;
        for r in records {
            self.consumed_count += 1;
            let part = match last {
                Some((id, p, part)) if id == r.topic_id && p == r.partition => part,
                _ => {
                    let t = self.incarnation(topic, r.topic_id);
                    let part = self.part(t, r.partition);
                    last = Some((r.topic_id, r.partition, part));
                    part
                }
            };
            if r.offset < self.slots[part as usize].forgot {
                // Nothing left to compare it with (see `forget`).
                continue;
            }
            if self.seen(at, part, r.offset, r.id, SeenBy::Consumer(node)) {
                let reads = &mut self.slots[part as usize].reads;
                match reads.last_mut() {
                    Some(last) if last.node == node && last.ms == ms && last.to == r.offset => {
                        last.to += 1;
                    }
                    _ => push_sparingly(
                        reads,
                        ReadRun {
                            from: r.offset,
                            to: r.offset + 1,
                            node,
                            ms,
                        },
                    ),
                }
            } else {
                self.stray_reads.push(StrayRead {
                    at,
                    node,
                    part,
                    offset: r.offset,
                    id: r.id,
                });
            }
        }
    }

    /// `offsets_consistent`, online: one record per partition offset.
    /// Returns whether `id` is what the offset first held.
    /// Inlined: it runs for every record acknowledged, read and finally
    /// held; a record seen elsewhere first goes to [`Self::seen_elsewhere`].
    #[inline(always)]
    fn seen(&mut self, at: Nanos, part: u32, offset: u64, id: u64, by: SeenBy) -> bool {
        let slots = &mut self.slots[part as usize];
        if offset < slots.forgot {
            return true;
        }
        let first = slots.id.get(offset as usize).unwrap_or(NO_ID);
        if first == NO_ID {
            slots.id.set(offset as usize, id);
            return true;
        }
        if first == id {
            return true;
        }
        self.seen_elsewhere(at, part, offset, first, id, by);
        false
    }

    /// `offsets_consistent` broken: `offset` of `part` held `first`, and
    /// now `id` (seen by `by`).
    #[cold]
    #[inline(never)]
    fn seen_elsewhere(
        &mut self,
        at: Nanos,
        part: u32,
        offset: u64,
        first: u64,
        id: u64,
        by: SeenBy,
    ) {
        let name = self.part_name(part);
        let detail = format!(
            "{name} offset {offset} held {} (seen by {}) and then {} (seen by {})",
            show(first),
            self.source_name(self.seen_first(part, offset)),
            show(id),
            self.source_name(by)
        );
        // The story starts when the first record was acknowledged there.
        let since = self.slots[part as usize]
            .ack_covering(offset)
            .map(|r| at_ms(r.ms));
        self.violations
            .push(Violation::new("offsets_consistent", at, detail).about(
                name,
                Some(offset),
                since,
            ));
    }

    /// Marks `topic` as written by pipelines (see `derived`).
    pub fn derived_topic(&mut self, topic: &str) {
        self.derived.push(topic.to_owned());
    }

    /// Checks everything against the logs at the end (`at`); `context`
    /// describes the faults that followed a write's acknowledgement.
    pub fn finish(
        mut self,
        at: Nanos,
        end: &FinalState,
        context: &dyn Fn(Nanos) -> String,
    ) -> Vec<Violation> {
        // One partition at a time: its final log as record ids by offset.
        let mut finals: BTreeMap<u32, &FinalLog> = BTreeMap::new();
        let mut derived = BTreeSet::new();
        for (tp, log) in &end.logs {
            if let Some(t) = self.final_topic(&tp.topic, end) {
                let part = self.part(t as u32, tp.partition);
                finals.insert(part, log);
                if self.derived.contains(&tp.topic) {
                    derived.insert(part);
                }
            }
        }
        let mut lost = Vec::new();
        let mut order = Vec::new();
        let mut dirty = Vec::new();
        for part in 0..self.slots.len() as u32 {
            if self.deleted(part, end) {
                continue;
            }
            let log = finals.get(&part).copied();
            let ids = log.map_or(Cow::Borrowed(&[][..]), FinalLog::ids);
            let ids = &ids[..];
            let start = log.map_or(0, FinalLog::start);
            let view = LogView { start, ids };
            let differs = self.final_read(at, part, view);
            self.lost_writes(at, part, view, &differs, log, context, &mut lost);
            if !derived.contains(&part) {
                self.order_and_duplicates(at, part, view, &mut order);
            }
            self.dirty_reads(part, view, &differs, &mut dirty);
        }
        lost.sort_by_key(|(id, _)| *id);
        self.violations.extend(lost.into_iter().map(|(_, v)| v));
        self.violations.extend(order);
        dirty.sort_by_key(|(key, _)| *key);
        self.violations.extend(dirty.into_iter().map(|(_, v)| v));
        self.replicas(at, end);
        self.violations
    }

    /// `offsets_consistent` on `part` against its final log: the final
    /// read sees every record the log holds from where the checker still
    /// remembers offsets (`forgot`; an offset the cleaner emptied is not
    /// seen). Returns the offsets where what was seen first is not what
    /// the log holds, in order: at every other offset of the log from
    /// there (the cleaner's aside), the slot holds the log's record. The
    /// log is compared with the slots a chunk at a time; only where they
    /// differ is an offset looked at alone.
    fn final_read(&mut self, at: Nanos, part: u32, view: LogView<'_>) -> Vec<u64> {
        let mut differs = Vec::new();
        let from = self.slots[part as usize].forgot.max(view.start);
        let mut i = usize::try_from(from - view.start).unwrap_or(usize::MAX);
        while i < view.ids.len() {
            let first = view.start as usize + i;
            let slots = &self.slots[part as usize];
            let Some(d) = slots.id.first_difference(first, &view.ids[i..]) else {
                break;
            };
            i += d;
            let (offset, id) = (view.start + i as u64, view.ids[i]);
            if id != COMPACTED_ID && !self.seen(at, part, offset, id, SeenBy::FinalRead) {
                differs.push(offset);
            }
            i += 1;
        }
        differs
    }

    /// Per partition whose final log starts above offset 0: the
    /// acknowledged records below its log start offset, which retention
    /// removed (they are not checked as lost).
    pub fn removed_by_retention(&self, end: &FinalState) -> BTreeMap<TopicPartition, Vec<u64>> {
        let mut out = BTreeMap::new();
        for (tp, log) in end.logs.iter().filter(|(_, l)| l.start() > 0) {
            let Some(part) = self.part_of(tp, end) else {
                continue;
            };
            let slots = &self.slots[part as usize];
            let ids: Vec<u64> = slots
                .acks
                .iter()
                .flat_map(|run| run.base..(run.base + u64::from(run.len)).min(log.start()))
                .map(|offset| slots.id(offset))
                .collect();
            out.insert(tp.clone(), ids);
        }
        out
    }

    /// Whether `part` is of a topic deleted by the end.
    fn deleted(&self, part: u32, end: &FinalState) -> bool {
        let (t, _) = self.part_keys[part as usize];
        end.deleted_topics.contains(&self.topics[t as usize])
            || self.stale_incarnation(t as usize, end)
    }

    /// Acknowledged records of the topics deleted by the end (they went
    /// with their topic's logs; they are not checked as lost).
    pub fn removed_by_deletion(&self, end: &FinalState) -> u64 {
        let parts = (0..self.slots.len() as u32).filter(|&part| self.deleted(part, end));
        parts
            .map(|part| {
                let runs = &self.slots[part as usize].acks;
                let placed: u64 = runs.iter().map(|run| u64::from(run.len)).sum();
                let elsewhere = self.elsewhere.iter().filter(|e| e.part == part).count();
                placed + elsewhere as u64
            })
            .sum()
    }

    /// Acknowledged records whose offset a compacted final log holds no
    /// record at: the cleaner removed them.
    pub fn removed_by_compaction(&self, end: &FinalState) -> u64 {
        let mut removed = 0;
        for (tp, log) in end.logs.iter().filter(|(_, l)| l.compacted) {
            let Some(part) = self.part_of(tp, end) else {
                continue;
            };
            for run in &self.slots[part as usize].acks {
                removed += (run.base..run.base + u64::from(run.len))
                    .filter(|&o| log.id_at(o) == Some(COMPACTED_ID))
                    .count() as u64;
            }
        }
        removed
    }

    /// `acked_writes_durable` on `part`: every acknowledged write is at its
    /// offset (an acks=0 one anywhere in the log). A write below the final
    /// log start offset is retention's to remove, not lost (an acks=0 one
    /// not found is not judged once retention removed anything).
    /// `differs`: the offsets [`DataChecker::final_read`] found holding
    /// another record than the checker saw first. Found: (record id,
    /// violation).
    #[allow(clippy::too_many_arguments)]
    fn lost_writes(
        &self,
        at: Nanos,
        part: u32,
        log_ids: LogView<'_>,
        differs: &[u64],
        log: Option<&FinalLog>,
        context: &dyn Fn(Nanos) -> String,
        found: &mut Vec<(u64, Violation)>,
    ) {
        let slots = &self.slots[part as usize];
        let mut anywhere: Option<BTreeSet<u64>> = None;
        let LogView { start, ids } = log_ids;
        let compacted = log.is_some_and(|l| l.compacted);
        let mut check = |id: u64, offset: Option<u64>, acked_ms: u32| {
            let there = match offset {
                Some(o) if o < start => return,
                // The cleaner removed it (compaction_keeps_latest judges
                // whether it could).
                Some(o) if log_ids.get(o) == Some(COMPACTED_ID) => return,
                Some(o) => log_ids.get(o) == Some(id),
                None if start > 0 || compacted => return,
                None => anywhere
                    .get_or_insert_with(|| ids.iter().copied().collect())
                    .contains(&id),
            };
            if there {
                return;
            }
            let acked_at = at_ms(acked_ms);
            let name = self.part_name(part);
            let what = match offset.and_then(|o| log_ids.get(o).map(|r| (o, r))) {
                Some((o, r)) => format!(
                    "offset {o} now holds {} (leader epoch {})",
                    show(r),
                    log.and_then(|l| epoch_at(&l.leader, o)).unwrap_or(-1)
                ),
                None => format!("the log of {name} ends at offset {}", log_ids.end()),
            };
            let at_offset = offset.map_or(String::new(), |o| format!(" at offset {o}"));
            let v = Violation::new(
                "acked_writes_durable",
                at,
                format!(
                    "record {} acknowledged{at_offset} of {name} at {} is lost: {what}; {}",
                    show(id),
                    sim::format_nanos(acked_at),
                    context(acked_at)
                ),
            )
            .about(name, offset, Some(acked_at));
            found.push((id, v));
        };
        // A run covers only acknowledgements that placed their record: the
        // slot holds the acknowledged record. Only where the final read
        // found another, or none, can it be lost.
        for run in &slots.acks {
            let to = run.base + u64::from(run.len);
            for offset in suspects(differs, run.base, to, log_ids.end()) {
                check(slots.id(offset), Some(offset), run.ms);
            }
        }
        for e in self.elsewhere.iter().filter(|e| e.part == part) {
            check(e.id, e.offset, e.ms);
        }
    }

    /// `no_duplicates` and `partition_order` on `part`, in offset order.
    fn order_and_duplicates(
        &self,
        at: Nanos,
        part: u32,
        view: LogView<'_>,
        found: &mut Vec<Violation>,
    ) {
        // Per producer: its records met in the log so far.
        let mut producers: Vec<InLog> = Vec::new();
        let log = view.ids;
        for (i, &id) in log.iter().enumerate() {
            let offset = view.start + i as u64;
            if id == NO_ID || id == COMPACTED_ID {
                // A transaction marker (a control record, no producer's), or
                // an offset the cleaner emptied.
                continue;
            }
            let (producer, seq) = producer_of(id);
            if producers.len() <= producer as usize {
                producers.resize_with(producer as usize + 1, InLog::default);
            }
            let mine = &mut producers[producer as usize];
            if !mine.meet(seq) {
                let first = log
                    .iter()
                    .position(|&r| r == id)
                    .map_or(offset, |i| view.start + i as u64);
                found.push(
                    Violation::new(
                        "no_duplicates",
                        at,
                        format!(
                            "record {} is in {} twice: at offsets {first} and {offset}",
                            show(id),
                            self.part_name(part)
                        ),
                    )
                    .about(self.part_name(part), Some(offset), None),
                );
                continue;
            }
            if self.outcome(id).is_none() {
                continue;
            }
            if let Some((prev_seq, prev_offset)) = mine.last {
                if seq < prev_seq {
                    let prev_id = record_id_of(producer, prev_seq);
                    found.push(
                        Violation::new(
                            "partition_order",
                            at,
                            format!(
                                "producer {producer} sent {} before {}, but {} holds them the other way round (offsets {prev_offset} and {offset})",
                                show(id),
                                show(prev_id),
                                self.part_name(part)
                            ),
                        )
                        .about(self.part_name(part), Some(offset), None),
                    );
                }
            }
            mine.last = Some((seq, offset));
        }
    }

    /// `reads_committed_only` on `part`: what consumers saw is still there
    /// (`differs`: as for [`DataChecker::lost_writes`]).
    /// Found: ((ms, stray, part, offset or stray index), violation).
    #[allow(clippy::type_complexity)]
    fn dirty_reads(
        &self,
        part: u32,
        log: LogView<'_>,
        differs: &[u64],
        found: &mut Vec<((u64, u8, u32, u64), Violation)>,
    ) {
        let dirty = |at: Nanos, node: u32, offset: u64, id: u64| {
            Violation::new(
                "reads_committed_only",
                at,
                format!(
                    "{} read {} at {} offset {offset}, which the final log does not hold",
                    self.names[node as usize],
                    show(id),
                    self.part_name(part)
                ),
            )
            .about(self.part_name(part), Some(offset), Some(at))
        };
        let slots = &self.slots[part as usize];
        // Each offset once, with its first reader. Only where the final
        // read found another record, or none, can a read be dirty.
        let mut reported = BTreeSet::new();
        for run in &slots.reads {
            for offset in suspects(differs, run.from.max(slots.forgot), run.to, log.end()) {
                let id = slots.id(offset);
                let held = log.get(offset);
                if offset >= log.start
                    && held != Some(id)
                    && held != Some(COMPACTED_ID)
                    && reported.insert(offset)
                {
                    let v = dirty(at_ms(run.ms), run.node, offset, id);
                    found.push(((v.at_ms, 0, part, offset), v));
                }
            }
        }
        for (i, r) in self.stray_reads.iter().enumerate() {
            let kept = r.offset >= log.start.max(slots.forgot);
            let held = log.get(r.offset);
            if r.part == part && kept && held != Some(r.id) && held != Some(COMPACTED_ID) {
                let v = dirty(r.at, r.node, r.offset, r.id);
                found.push(((v.at_ms, 1, 0, i as u64), v));
            }
        }
    }

    /// `replicas_consistent`: in-sync replicas agree below the high watermark.
    fn replicas(&mut self, at: Nanos, end: &FinalState) {
        for (tp, log) in &end.logs {
            let mut leader: Option<(u64, Vec<(u64, i32)>)> = None;
            for (broker, batches) in &log.replicas {
                if same_batches(&log.leader, batches) {
                    continue;
                }
                if log.compacted {
                    // Each replica's cleaner removes records on its own
                    // schedule: where both hold a record, it is the same.
                    if let Some(v) = differing_record(tp, *broker, &log.leader, batches, at) {
                        self.violations.push(v);
                    }
                    continue;
                }
                // From where both still hold records (retention may have
                // deleted more on one of them).
                let start = batches
                    .first()
                    .map_or(log.log_start_offset, |b| b.base_offset)
                    .max(log.log_start_offset);
                let hw = log.high_watermark;
                let leader = match leader.take() {
                    Some((s, r)) if s == start => leader.insert((s, r)),
                    _ => leader.insert((start, records_of(&log.leader, start, hw))),
                };
                let leader = &leader.1;
                let records = records_of(batches, start, hw);
                let diff = leader
                    .iter()
                    .enumerate()
                    .find(|(i, a)| records.get(*i).is_none_or(|b| a.0 != b.0));
                if let Some((i, a)) = diff {
                    let what = match records.get(i) {
                        None => "its log ends there".to_owned(),
                        Some(b) => format!("it holds {}", show(b.0)),
                    };
                    self.violations.push(
                        Violation::new(
                            "replicas_consistent",
                            at,
                            format!(
                                "in-sync replica broker {broker} of {tp} differs from the leader below the high watermark: offset {} is {} on the leader, {what}",
                                start + i as u64,
                                show(a.0)
                            ),
                        )
                        .about(tp.to_string(), Some(start + i as u64), None),
                    );
                }
            }
        }
    }
}

/// `replicas_consistent` on a compacted partition: the first offset where
/// the leader and in-sync replica `broker` both hold a record but not the
/// same one.
fn differing_record(
    tp: &TopicPartition,
    broker: u32,
    leader: &[Rc<RecordBatch>],
    replica: &[Rc<RecordBatch>],
    at: Nanos,
) -> Option<Violation> {
    let by_offset = |batches: &[Rc<RecordBatch>]| {
        let mut out = BTreeMap::new();
        for b in batches {
            for_each_record_id(b, |offset_delta, id| {
                out.insert(b.base_offset + u64::from(offset_delta), id);
            });
        }
        out
    };
    let ours = by_offset(replica);
    let (offset, theirs, mine) = by_offset(leader)
        .into_iter()
        .find_map(|(o, id)| ours.get(&o).filter(|&&m| m != id).map(|&m| (o, id, m)))?;
    Some(
        Violation::new(
            "replicas_consistent",
            at,
            format!(
                "in-sync replica broker {broker} of {tp} differs from the leader below the high watermark: offset {offset} is {} on the leader, it holds {}",
                show(theirs),
                show(mine)
            ),
        )
        .about(tp.to_string(), Some(offset), None),
    )
}

/// Whether two lists of batches hold the same records: the same headers
/// (CRCs included) and the same bytes (shared, most of the time).
fn same_batches(a: &[Rc<RecordBatch>], b: &[Rc<RecordBatch>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            Rc::ptr_eq(x, y) || (x.header() == y.header() && x.records_blob() == y.records_blob())
        })
}

#[cfg(test)]
mod tests_deletion;
#[cfg(test)]
mod tests_forget;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::consumer::PolledRecord;
    use crate::client::{record_value, SentRecord};
    use crate::log::Record;

    /// Sends of (id, partition), unkeyed.
    pub(super) fn sent_records(sent: &[(u64, u32)]) -> ProducerObs {
        ProducerObs::Sent(
            sent.iter()
                .map(|&(id, partition)| SentRecord::unkeyed(id, partition))
                .collect(),
        )
    }

    pub(super) fn checker() -> DataChecker {
        DataChecker::new(vec!["t".into()], vec!["consumer-0".into()])
    }

    /// A log of one record per batch with these ids, from offset 0.
    pub(super) fn batches(ids: &[u64]) -> Vec<Rc<RecordBatch>> {
        ids.iter()
            .enumerate()
            .map(|(i, &id)| {
                let r = Record {
                    key: None,
                    value: Some(record_value(id, 8)),
                    timestamp_ms: 0,
                    headers: Vec::new(),
                };
                Rc::new(RecordBatch::of(i as u64, 0, (-1, -1, -1), &[r]))
            })
            .collect()
    }

    fn end(leader: &[u64], follower: Option<&[u64]>) -> FinalState {
        let mut state = FinalState::default();
        state.logs.insert(
            TopicPartition::new("t", 0),
            FinalLog::new(
                batches(leader),
                0,
                leader.len() as u64,
                follower.map(|f| vec![(2, batches(f))]).unwrap_or_default(),
            ),
        );
        state
    }

    fn names(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.invariant.as_str()).collect()
    }

    /// The details of the `acked_writes_durable` violations in `found`.
    pub(super) fn lost(found: &[Violation]) -> Vec<&str> {
        found
            .iter()
            .filter(|v| v.invariant == "acked_writes_durable")
            .map(|v| v.detail.as_str())
            .collect()
    }

    pub(super) fn acked(c: &mut DataChecker, at: Nanos, base_offset: u64, ids: Vec<u64>) {
        let obs = ProducerObs::Acked {
            partition: 0,
            base_offset: Some(base_offset),
            ids,
            topic_id: crate::metadata::Uuid(0),
        };
        c.producer(at, 0, &obs);
    }

    pub(super) fn polled(c: &mut DataChecker, at: Nanos, offset: u64, id: u64) {
        let obs = ConsumerObs::Polled(vec![PolledRecord {
            partition: 0,
            offset,
            id,
            leader_epoch: 0,
            topic_id: crate::metadata::Uuid(0),
        }]);
        c.consumer(at, 0, 0, &obs);
    }

    #[test]
    fn a_lost_ack_a_duplicate_a_reorder_a_dirty_read_and_a_diverged_replica_are_each_found() {
        let mut c = checker();
        c.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
        acked(&mut c, 1, 0, vec![0]);
        acked(&mut c, 1, 1, vec![2]);
        polled(&mut c, 2, 1, 2);
        // The final log: 1 before 0 (reorder), 1 twice, record 2 gone from offset 1.
        let found = c.finish(9, &end(&[1, 0, 1], Some(&[1, 0, 2])), &|_| String::new());
        let found = names(&found);
        for invariant in DATA_INVARIANTS {
            assert!(found.contains(&invariant), "{invariant} not in {found:?}");
        }
    }

    #[test]
    fn what_retention_removed_is_counted_not_lost_but_a_loss_above_it_is() {
        let mut c = checker();
        let ids: Vec<u64> = (0..6).collect();
        let sent: Vec<(u64, u32)> = ids.iter().map(|&i| (i, 0)).collect();
        c.producer(0, 0, &sent_records(&sent));
        acked(&mut c, 1, 0, ids.clone());
        polled(&mut c, 2, 0, 0);
        // The final log starts at 3 (retention removed 0..3) and holds 3..6,
        // except that offset 4 now holds another record.
        let kept: Vec<Rc<RecordBatch>> = batches(&[9, 9, 9, 3, 99, 5]).split_off(3);
        let mut end = FinalState::default();
        end.logs.insert(
            TopicPartition::new("t", 0),
            FinalLog::new(kept, 3, 6, Vec::new()),
        );
        let removed = c.removed_by_retention(&end);
        assert_eq!(removed[&TopicPartition::new("t", 0)], [0, 1, 2]);
        let found = c.finish(9, &end, &|_| String::new());
        let lost = lost(&found);
        assert_eq!(lost.len(), 1, "{found:?}");
        assert!(lost[0].contains("at offset 4"), "{}", lost[0]);
        // The read of offset 0 (removed since) is not judged a dirty read.
        assert!(
            !found.iter().any(|v| v.invariant == "reads_committed_only"),
            "{found:?}"
        );
    }

    #[test]
    fn a_clean_history_passes() {
        let mut c = checker();
        c.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
        acked(&mut c, 1, 0, vec![0, 1, 2]);
        for seq in 0..3 {
            polled(&mut c, 2, seq, seq);
        }
        assert!(c.acked_between(&TopicPartition::new("t", 0), 1, 2));
        assert!(!c.acked_between(&TopicPartition::new("t", 0), 3, 9));
        assert_eq!(
            c.last_ack_per_producer()[&0],
            0,
            "acknowledged at 1 ns: 0 ms"
        );
        let found = c.finish(9, &end(&[0, 1, 2], Some(&[0, 1, 2])), &|_| String::new());
        assert_eq!(found, Vec::new());
    }

    #[test]
    fn a_compacted_log_is_judged_on_what_its_cleaner_could_remove() {
        // Offsets 0..3 acknowledged and read; the leader's cleaner removed
        // offset 1 (a gap), a replica's removed offset 0.
        let three_acked = || {
            let mut c = checker();
            c.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
            acked(&mut c, 1, 0, vec![0, 1, 2]);
            c
        };
        let mut c = three_acked();
        for seq in 0..3 {
            polled(&mut c, 2, seq, seq);
        }
        let all = batches(&[0, 1, 2]);
        let leader = vec![Rc::clone(&all[0]), Rc::clone(&all[2])];
        let replica = vec![Rc::clone(&all[1]), Rc::clone(&all[2])];
        let log = FinalLog::new(leader.clone(), 0, 3, vec![(2, replica)]).compacted();
        assert_eq!(log.ids()[1], COMPACTED_ID);
        let mut state = FinalState::default();
        state.logs.insert(TopicPartition::new("t", 0), log);
        assert_eq!(c.removed_by_compaction(&state), 1);
        let found = c.finish(9, &state, &|_| String::new());
        assert_eq!(
            found,
            Vec::new(),
            "removed, not lost; replicas agree where both hold"
        );
        // A replica holding another record at an offset both hold differs.
        let c = three_acked();
        let other = batches(&[9, 7, 2]);
        let log = FinalLog::new(leader.clone(), 0, 3, vec![(2, other)]).compacted();
        let mut state = FinalState::default();
        state.logs.insert(TopicPartition::new("t", 0), log);
        let found = c.finish(9, &state, &|_| String::new());
        assert_eq!(names(&found), ["replicas_consistent"], "{found:?}");
        // The same gap in a log that is not compacted is a lost write.
        let c = three_acked();
        let mut state = FinalState::default();
        state.logs.insert(
            TopicPartition::new("t", 0),
            FinalLog::new(leader, 0, 3, Vec::new()),
        );
        let found = c.finish(9, &state, &|_| String::new());
        assert!(names(&found).contains(&"acked_writes_durable"), "{found:?}");
    }

    #[test]
    fn a_read_of_what_the_final_log_no_longer_holds_is_dirty_even_second_hand() {
        let mut c = checker();
        c.producer(0, 0, &sent_records(&[(0, 0), (1, 0)]));
        // The consumer reads record 0 at offset 0, then record 1 there
        // (offsets_consistent), and the final log holds record 1.
        polled(&mut c, 1, 0, 0);
        polled(&mut c, 2, 0, 1);
        let found = c.finish(9, &end(&[1], None), &|_| String::new());
        let found = names(&found);
        assert!(found.contains(&"offsets_consistent"), "{found:?}");
        assert_eq!(
            found
                .iter()
                .filter(|n| **n == "reads_committed_only")
                .count(),
            1,
            "the read of record 0 only: {found:?}"
        );
    }

    #[test]
    fn a_write_acknowledged_at_an_offset_another_ack_took_over_is_lost() {
        let mut c = checker();
        c.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
        acked(&mut c, 1, 0, vec![0, 1]);
        // After a truncation offset 1 is given to record 2, acknowledged too.
        acked(&mut c, 2 * MILLIS, 1, vec![2]);
        let found = c.finish(9, &end(&[0, 2], Some(&[0, 2])), &|_| String::new());
        let lost = lost(&found);
        assert_eq!(lost.len(), 1, "{found:?}");
        assert!(
            lost[0].starts_with("record p0-1 acknowledged at offset 1"),
            "{lost:?}"
        );
        let inconsistent = found
            .iter()
            .find(|v| v.invariant == "offsets_consistent")
            .expect("two records acknowledged at offset 1");
        assert!(
            inconsistent
                .detail
                .contains("held p0-1 (seen by its producer's ack) and then p0-2"),
            "{}",
            inconsistent.detail
        );
    }

    #[test]
    fn the_first_reader_is_named_and_an_acks_0_write_may_be_anywhere() {
        let mut c = checker();
        c.producer(0, 0, &sent_records(&[(0, 0), (1, 0)]));
        polled(&mut c, MILLIS, 0, 0);
        acked(&mut c, 2 * MILLIS, 0, vec![0]);
        c.producer(
            3 * MILLIS,
            0,
            &ProducerObs::Acked {
                partition: 0,
                base_offset: None,
                ids: vec![1],
                topic_id: crate::metadata::Uuid(0),
            },
        );
        // Offset 0 now holds record 1: record 0 is lost, record 1 (acks=0) is there.
        let found = c.finish(9, &end(&[1], None), &|_| String::new());
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains("held p0-0 (seen by consumer-0)")),
            "{details:?}"
        );
        assert_eq!(
            found
                .iter()
                .filter(|v| v.invariant == "acked_writes_durable")
                .count(),
            1,
            "{details:?}"
        );
    }
}
