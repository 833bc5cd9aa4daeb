//! The producer's record accumulator (Kafka's `RecordAccumulator` and
//! `ProducerBatch`), sans IO: records are appended to per-partition queues
//! of batches bounded by `batch.size`; a partition's first batch becomes
//! sendable when it is full, lingered `linger.ms`, or (a retry) backed off
//! `retry.backoff.ms`; drained batches are tracked in flight until their
//! final answer, and with `max.in.flight.requests.per.connection` = 1 their
//! partition is muted meanwhile (Kafka's `guaranteeMessageOrder`). With
//! idempotence, fresh batches get their base sequence when drained, retried
//! ones keep it and go back in sequence order.
//!
//! Sizes follow Kafka's v2 format exactly: an uncompressed batch is the
//! 61-byte batch header plus its records, each record
//! `DefaultRecord.sizeInBytes` (varint size + attributes + varlong timestamp
//! delta + varint offset delta + varint key length + key + varint value
//! length + value + varint header count; no headers). A batch's write limit
//! is `max(batch.size, 61 + the first record's upper-bound size)`, and the
//! first record always fits. A compressed batch's size is estimated as
//! Kafka's `MemoryRecordsBuilder.estimatedBytesWritten` does: the header
//! plus the uncompressed records times the estimated compression ratio
//! times 1.05; the estimate per topic starts at 1.0 and follows each
//! drained batch's actual ratio (Kafka's `CompressionRatioEstimator`: up
//! by at least 0.05 when a batch compressed worse, down by at most 0.005
//! when better).
//!
//! Everything is deterministic: ordered maps, no clock (times are passed in).

use std::collections::VecDeque;
use std::rc::Rc;

use crate::log::{BatchBuilder, Compression, CompressionType, RecordBatch};
use crate::protocol::{TopicId, TpMap};

mod ready_index;

use ready_index::{QueueSummary, ReadyIndex};

/// The bytes an open batch's buffer starts with (it grows to its
/// `write_limit` as records come).
const INITIAL_BATCH_BUFFER: usize = 2048;
/// Kafka's `MemoryRecordsBuilder.COMPRESSION_RATE_ESTIMATION_FACTOR`.
const COMPRESSION_RATE_ESTIMATION_FACTOR: f32 = 1.05;
/// Kafka's `CompressionRatioEstimator.COMPRESSION_RATIO_IMPROVING_STEP`.
const COMPRESSION_RATIO_IMPROVING_STEP: f32 = 0.005;
/// Kafka's `CompressionRatioEstimator.COMPRESSION_RATIO_DETERIORATE_STEP`.
const COMPRESSION_RATIO_DETERIORATE_STEP: f32 = 0.05;

/// Kafka's `DefaultRecordBatch.RECORD_BATCH_OVERHEAD`: the v2 batch header.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

/// Kafka's `DefaultRecord.MAX_RECORD_OVERHEAD`: the most a v2 record adds
/// to its key, value and headers (size, attributes, deltas at their widest).
pub const MAX_RECORD_OVERHEAD: usize = 21;

pub use crate::protocol::TopicIdPartition;

/// A record the application sends (its bytes are encoded into a batch at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingRecord<'a> {
    /// The workload's id of the record (opaque here).
    pub id: u64,
    /// Its key (`None`: null key).
    pub key: Option<&'a [u8]>,
    /// Its value (a tombstone's is null: this one is not written).
    pub value: &'a [u8],
    /// A tombstone: written with a null value and its id in the
    /// [`ID_HEADER`](super::ID_HEADER) header.
    pub tombstone: bool,
    /// Its create time.
    pub timestamp_ms: u64,
}

impl PendingRecord<'_> {
    /// `write` given its value and headers as they go on the wire: a
    /// tombstone's value is null and its id travels in a header.
    fn as_written<T>(&self, write: impl FnOnce(Option<&[u8]>, &[(&str, Option<&[u8]>)]) -> T) -> T {
        let id = self.id.to_be_bytes();
        if self.tombstone {
            write(None, &[(super::ID_HEADER, Some(&id[..]))])
        } else {
            write(Some(self.value), &[])
        }
    }

    /// Appends it to `builder`; returns the bytes it took.
    fn append_to(&self, builder: &mut BatchBuilder) -> usize {
        self.as_written(|value, headers| {
            builder.append_with_headers(self.key, value, headers, self.timestamp_ms)
        })
    }
}

/// A batch of records of one partition (Kafka's `ProducerBatch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerBatch {
    /// Unique within the accumulator: match responses to in-flight batches with it.
    pub id: u64,
    /// Its partition.
    pub tp: TopicIdPartition,
    /// Its records' ids, in append order.
    pub ids: Vec<u64>,
    /// Its records, encoded as they were appended (Kafka's MemoryRecordsBuilder).
    pub builder: BatchBuilder,
    /// The batch as sent: built when first drained, with its sequence, and
    /// sent again as it is on a retry.
    pub built: Option<Rc<RecordBatch>>,
    /// When it was created.
    pub created_ms: u64,
    /// How many times it was re-enqueued for a retry (0: first attempt).
    pub attempts: u32,
    /// Sequence of its first record (-1 until assigned at drain, idempotence only).
    pub base_sequence: i32,
    /// The producer id it was drained under (-1 until then).
    pub producer_id: i64,
    /// The producer epoch it was drained under (-1 until then).
    pub producer_epoch: i16,
    /// The creation time, then the time of the last re-enqueue: linger and
    /// retry backoff count from it (Kafka's `lastAttemptMs`).
    pub last_attempt_ms: u64,
    /// When its last record was appended (Kafka's `lastAppendTime`: a
    /// full batch expired by it before KIP-91).
    pub last_append_ms: u64,
    /// Estimated bytes: the batch header and the records (compressed: as
    /// estimated from the compression ratio, see the module docs).
    pub size_bytes: usize,
    /// The compression ratio estimated when it was created (`f32` bits).
    pub estimated_ratio_bits: u32,
    /// The most bytes it may grow to (its buffer's capacity in Kafka).
    pub write_limit: usize,
    /// Closed for appends (a record did not fit, or it was drained).
    pub closed: bool,
}

impl ProducerBatch {
    /// Kafka's `isFull`: closed, or holding records up to its write limit.
    pub fn is_full(&self) -> bool {
        self.closed || (!self.ids.is_empty() && self.size_bytes >= self.write_limit)
    }

    /// The batch to send (a transactional producer's carries the
    /// transactional attribute): built once with its producer id, epoch and
    /// sequence (again only when those changed, after a producer id reset).
    pub fn batch(&mut self, transactional: bool) -> Rc<RecordBatch> {
        let (pid, epoch, seq) = (self.producer_id, self.producer_epoch, self.base_sequence);
        match &self.built {
            Some(b) if (b.producer_id, b.producer_epoch, b.base_sequence) == (pid, epoch, seq) => {
                Rc::clone(b)
            }
            _ => {
                let b = if transactional {
                    self.builder.build_transactional(pid, epoch, seq)
                } else {
                    self.builder.build(pid, epoch, seq)
                };
                let b = Rc::new(b);
                self.built = Some(Rc::clone(&b));
                b
            }
        }
    }

    /// Kafka's `estimatedBytesWritten`: the header and the records,
    /// compressed ones at the estimated ratio.
    fn estimated_size(&self) -> usize {
        let records = self.builder.records_len();
        if self.builder.compression().kind == CompressionType::None {
            return RECORD_BATCH_OVERHEAD + records;
        }
        let ratio = f32::from_bits(self.estimated_ratio_bits);
        RECORD_BATCH_OVERHEAD
            + (records as f32 * ratio * COMPRESSION_RATE_ESTIMATION_FACTOR) as usize
    }

    /// Uncompressed record bytes that may still be appended before it is
    /// full (at least: the estimate grows by at most 1.05 times the ratio
    /// per byte).
    fn room_for_records(&self) -> usize {
        let room = self.write_limit.saturating_sub(self.size_bytes);
        if self.builder.compression().kind == CompressionType::None {
            return room;
        }
        let per_byte =
            f32::from_bits(self.estimated_ratio_bits) * COMPRESSION_RATE_ESTIMATION_FACTOR;
        if per_byte <= 1.0 {
            room
        } else {
            (room as f32 / per_byte) as usize
        }
    }

    /// Whether it has a base sequence.
    pub fn has_sequence(&self) -> bool {
        self.base_sequence >= 0
    }

    /// Sequence of its last record (wrapping like Kafka's `incrementSequence`).
    pub fn last_sequence(&self) -> i32 {
        if self.has_sequence() {
            increment_sequence(self.base_sequence, self.ids.len() as i32 - 1)
        } else {
            -1
        }
    }
}

/// When Kafka 2.0's `ProducerBatch.maybeExpire` (before KIP-91) first
/// expires `batch`, queued: more than `request.timeout.ms` after its last
/// append if it is full (`is_full`: not its queue's last batch, or full),
/// after its creation plus `linger.ms`, or, once retried, after its last
/// attempt plus `retry.backoff.ms` (each "more than": a millisecond later).
fn expires_at_before_kip_91(
    batch: &ProducerBatch,
    is_full: bool,
    request_timeout_ms: u64,
    config: &AccumulatorConfig,
) -> u64 {
    let after = |from: u64| from.saturating_add(request_timeout_ms).saturating_add(1);
    if batch.attempts > 0 {
        return after(
            batch
                .last_attempt_ms
                .saturating_add(config.retry_backoff_ms),
        );
    }
    let created = after(batch.created_ms.saturating_add(config.linger_ms));
    if is_full {
        created.min(after(batch.last_append_ms))
    } else {
        created
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap to 0 after `i32::MAX`.
fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// The producer's batching configs, with Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccumulatorConfig {
    /// `batch.size` (16384).
    pub batch_size: usize,
    /// `linger.ms` (5 since Kafka 4.0, 0 before).
    pub linger_ms: u64,
    /// `max.in.flight.requests.per.connection` (5): at 1 a partition is
    /// muted while a batch of it is in flight.
    pub max_in_flight: usize,
    /// `delivery.timeout.ms` (120000).
    pub delivery_timeout_ms: u64,
    /// Before KIP-91 (Kafka 2.0 and older, `[protocol]
    /// delivery_timeout_bounds_sends = false`): `request.timeout.ms`, by
    /// which a queued batch expires (Kafka 2.0's
    /// `ProducerBatch.maybeExpire`); None: `delivery.timeout.ms` bounds it.
    pub request_timeout_expiry_ms: Option<u64>,
    /// `retry.backoff.ms` (100), fixed (no exponential growth, no jitter).
    pub retry_backoff_ms: u64,
    /// `enable.idempotence`.
    pub idempotence: bool,
    /// `compression.type` with its level.
    pub compression: Compression,
}

/// What an append did (Kafka's `RecordAppendResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The batch the record went to.
    pub batch_id: u64,
    /// Bytes the append added, the batch header included for a new batch
    /// (what Kafka feeds the sticky partitioner).
    pub appended_bytes: usize,
    /// The partition has a full batch (`deque.size() > 1 || batch.isFull()`).
    pub batch_is_full: bool,
    /// A new batch was started.
    pub new_batch_created: bool,
    /// The partition's last batch is full (Kafka's `allBatchesFull`, which
    /// enables the sticky partitioner's switch).
    pub all_batches_full: bool,
}

/// What the accumulator remembers of a batch in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlightBatch {
    base_sequence: i32,
    producer_id: i64,
    producer_epoch: i16,
}

/// Bytes of a varint (zigzag) encoding of `v` (Kafka's `ByteUtils.sizeOfVarint`).
fn size_of_varint(v: i32) -> usize {
    size_of_unsigned_varint(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// Bytes of a varlong (zigzag) encoding of `v` (Kafka's `ByteUtils.sizeOfVarlong`).
fn size_of_varlong(v: i64) -> usize {
    size_of_unsigned_varint(((v << 1) ^ (v >> 63)) as u64)
}

fn size_of_unsigned_varint(mut v: u64) -> usize {
    let mut bytes = 1;
    while v >= 0x80 {
        v >>= 7;
        bytes += 1;
    }
    bytes
}

/// Bytes of a length-prefixed field (`-1` for null).
fn size_of_field(len: Option<usize>) -> usize {
    match len {
        None => size_of_varint(-1),
        Some(n) => size_of_varint(n as i32) + n,
    }
}

/// Kafka's `DefaultRecord.sizeInBytes` for a record without headers.
pub fn record_size_in_bytes(
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<&[u8]>,
    value: &[u8],
) -> usize {
    let body = 1 // attributes
        + size_of_varint(offset_delta)
        + size_of_varlong(timestamp_delta)
        + size_of_field(key.map(<[u8]>::len))
        + size_of_field(Some(value.len()))
        + 1; // header count: 0
    body + size_of_varint(body as i32)
}

/// Kafka's `DefaultRecordBatch.estimateBatchSizeUpperBound` for one record
/// without headers: what a batch needs at most to hold it.
pub fn batch_size_upper_bound(key: Option<&[u8]>, value: &[u8]) -> usize {
    RECORD_BATCH_OVERHEAD
        + MAX_RECORD_OVERHEAD
        + size_of_field(key.map(<[u8]>::len))
        + size_of_field(Some(value.len()))
        + 1
}

/// The accumulator of one producer.
#[derive(Clone, Debug)]
pub struct RecordAccumulator {
    config: AccumulatorConfig,
    /// Queued batches per partition, first to send first.
    batches: TpMap<VecDeque<ProducerBatch>>,
    /// Batches drained and not yet answered, per partition, by batch id
    /// (a few: a short vector in id order).
    in_flight: TpMap<Vec<(u64, InFlightBatch)>>,
    /// What the scans need of each non-empty queue (see [`ReadyIndex`]:
    /// refreshed at every change to a queue or its batches in flight).
    index: ReadyIndex,
    next_batch_id: u64,
    producer_id: i64,
    producer_epoch: i16,
    /// Per topic: the estimated compression ratio of the producer's codec
    /// (Kafka's `CompressionRatioEstimator`, `f32` bits).
    compression_ratios: Vec<(TopicId, u32)>,
}

impl RecordAccumulator {
    /// An empty accumulator.
    pub fn new(config: AccumulatorConfig) -> Self {
        Self {
            config,
            batches: TpMap::new(),
            in_flight: TpMap::new(),
            index: ReadyIndex::default(),
            next_batch_id: 0,
            producer_id: -1,
            producer_epoch: -1,
            compression_ratios: Vec::new(),
        }
    }

    /// The estimated compression ratio of `topic` (1.0 until a batch of it
    /// was drained: Kafka's `CompressionType.rate`).
    pub fn compression_ratio(&self, topic: TopicId) -> f32 {
        self.compression_ratios
            .iter()
            .find(|(t, _)| *t == topic)
            .map_or(1.0, |(_, bits)| f32::from_bits(*bits))
    }

    /// A drained batch of `topic` compressed to `observed` (its bytes over
    /// its uncompressed records' bytes): the estimate moves toward it
    /// (Kafka's `CompressionRatioEstimator.updateEstimation`).
    pub fn update_compression_ratio(&mut self, topic: TopicId, observed: f32) {
        let current = self.compression_ratio(topic);
        let next = if observed > current {
            (current + COMPRESSION_RATIO_DETERIORATE_STEP).max(observed)
        } else if observed < current {
            (current - COMPRESSION_RATIO_IMPROVING_STEP).max(observed)
        } else {
            current
        };
        match self
            .compression_ratios
            .iter_mut()
            .find(|(t, _)| *t == topic)
        {
            Some(entry) => entry.1 = next.to_bits(),
            None => self.compression_ratios.push((topic, next.to_bits())),
        }
    }

    /// Its configs.
    pub fn config(&self) -> &AccumulatorConfig {
        &self.config
    }

    /// The producer id and epoch stamped on fresh batches when drained
    /// (idempotence). New batches of a partition are held back while
    /// batches drained under another id or epoch are in flight (Kafka's
    /// `hasStaleProducerIdAndEpoch`).
    pub fn set_producer_id_and_epoch(&mut self, producer_id: i64, producer_epoch: i16) {
        if (self.producer_id, self.producer_epoch) != (producer_id, producer_epoch) {
            self.producer_id = producer_id;
            self.producer_epoch = producer_epoch;
            self.refresh_all();
        }
    }

    /// `tp`'s summary for the index, from its queue and batches in flight.
    fn summary_of(&self, tp: &TopicIdPartition) -> Option<QueueSummary> {
        let dq = self.batches.get(tp)?;
        let first = dq.front()?;
        let ready_at = (!self.stalled(tp, first)).then(|| self.ready_at(first, dq.len() > 1));
        Some(QueueSummary {
            tp: *tp,
            front_created_ms: first.created_ms,
            ready_at,
        })
    }

    /// Brings `tp`'s entry of the index up to date.
    fn refresh(&mut self, tp: &TopicIdPartition) {
        let summary = self.summary_of(tp);
        self.index.set(*tp, summary);
    }

    /// Brings every entry of the index up to date.
    fn refresh_all(&mut self) {
        let entries = self
            .batches
            .keys()
            .filter_map(|tp| self.summary_of(tp))
            .collect();
        self.index.replace(entries);
    }

    /// Whether the index holds what a rescan of the queues computes.
    fn index_agrees(&self) -> bool {
        let rescan: Vec<QueueSummary> = self
            .batches
            .keys()
            .filter_map(|tp| self.summary_of(tp))
            .collect();
        rescan == self.index.entries()
    }

    /// Kafka's `RecordAccumulator.append` with `abortOnNewBatch` (2.4 to
    /// 3.2, for KIP-480's sticky partitioner): appends the record to the
    /// partition's last batch if it fits there; else (no batch open, or the
    /// record does not fit, which closes that batch) gives it back.
    pub fn try_append_existing<'a>(
        &mut self,
        tp: TopicIdPartition,
        record: PendingRecord<'a>,
        now_ms: u64,
    ) -> Result<AppendResult, PendingRecord<'a>> {
        let dq = self.batches.get_or_default(tp);
        let batches = dq.len();
        let Some(last) = dq.back_mut() else {
            return Err(record);
        };
        match try_append(last, record) {
            Ok(appended_bytes) => {
                last.last_append_ms = now_ms;
                let batch_id = last.id;
                let last_full = last.is_full();
                // Only a first batch that is also the last and just
                // filled up changes the queue's summary (it is sendable
                // at once, without lingering).
                if batches == 1 && last_full {
                    self.refresh(&tp);
                }
                Ok(AppendResult {
                    batch_id,
                    appended_bytes,
                    batch_is_full: batches > 1 || last_full,
                    new_batch_created: false,
                    all_batches_full: last_full,
                })
            }
            Err(r) => {
                // Kafka's closeForRecordAppends: later records go to a new batch.
                last.closed = true;
                if batches == 1 {
                    self.refresh(&tp);
                }
                Err(r)
            }
        }
    }

    /// Appends a record to `tp`'s last batch if it has room, else to a new
    /// batch (a record larger than `batch.size` gets a batch of its own).
    pub fn append(
        &mut self,
        tp: TopicIdPartition,
        mut record: PendingRecord<'_>,
        now_ms: u64,
    ) -> AppendResult {
        let estimated_ratio_bits = match self.config.compression.kind {
            CompressionType::None => 1.0f32.to_bits(),
            _ => self.compression_ratio(tp.topic_id).to_bits(),
        };
        match self.try_append_existing(tp, record, now_ms) {
            Ok(result) => return result,
            Err(r) => record = r,
        }
        let dq = self.batches.get_or_default(tp);
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        let write_limit = self
            .config
            .batch_size
            .max(batch_size_upper_bound(record.key, record.value));
        // Kafka allocates a batch.size buffer for a new batch; its limit
        // is `write_limit`. The buffer starts at what a few records need
        // and grows (most batches close far below batch.size: a buffer of
        // batch.size each kept 16 KiB of memory per open batch).
        let capacity = (write_limit - RECORD_BATCH_OVERHEAD).min(INITIAL_BATCH_BUFFER);
        let mut builder = BatchBuilder::with_capacity(capacity).compressed(self.config.compression);
        record.append_to(&mut builder);
        // Room for a few ids from the start (a one-id vector would grow
        // at the second record).
        let mut ids = Vec::with_capacity(8);
        ids.push(record.id);
        let mut batch = ProducerBatch {
            id,
            tp,
            ids,
            builder,
            built: None,
            created_ms: now_ms,
            attempts: 0,
            base_sequence: -1,
            producer_id: -1,
            producer_epoch: -1,
            last_attempt_ms: now_ms,
            last_append_ms: now_ms,
            size_bytes: 0,
            estimated_ratio_bits,
            write_limit,
            closed: false,
        };
        batch.size_bytes = batch.estimated_size();
        let size = batch.size_bytes;
        let full = batch.is_full();
        dq.push_back(batch);
        let batches = dq.len();
        // A third batch or later changes nothing of the queue's summary
        // (its first batch was already sendable without lingering).
        if batches <= 2 {
            self.refresh(&tp);
        }
        AppendResult {
            batch_id: id,
            appended_bytes: size,
            batch_is_full: batches > 1 || full,
            new_batch_created: true,
            all_batches_full: full,
        }
    }

    /// Whether `tp`'s last batch is full (or it has none): Kafka's
    /// `allBatchesFull`.
    pub fn all_batches_full(&self, tp: &TopicIdPartition) -> bool {
        self.batches
            .get(tp)
            .and_then(VecDeque::back)
            .is_none_or(ProducerBatch::is_full)
    }

    /// Partitions whose first batch can be drained now, and the earliest
    /// time (ms) a batch not sendable yet becomes so (linger or backoff
    /// running out); muted partitions and retries waiting for earlier
    /// sequences count for neither: their turn comes with an answer.
    pub fn ready(&self, now_ms: u64) -> (Vec<TopicIdPartition>, Option<u64>) {
        let mut ready = Vec::new();
        let next = self.ready_into(now_ms, &mut ready);
        (ready, next)
    }

    /// [`Self::ready`] into `ready` (emptied first: a caller keeps one
    /// list for every call).
    pub fn ready_into(&self, now_ms: u64, ready: &mut Vec<TopicIdPartition>) -> Option<u64> {
        ready.clear();
        self.scan_ready(now_ms, |tp| ready.push(tp)).0
    }

    /// The second half of [`Self::ready`] alone: the earliest time (ms) a
    /// batch not sendable at `now_ms` becomes so.
    pub fn next_ready_ms(&self, now_ms: u64) -> Option<u64> {
        self.scan_ready(now_ms, |_| {}).0
    }

    /// [`Self::next_ready_ms`] over the partitions `counted` keeps, and
    /// [`Self::next_expiry_ms`] over all, in one pass over the queues:
    /// (next ready, next expiry).
    pub fn next_ready_and_expiry_ms(
        &self,
        now_ms: u64,
        counted: impl Fn(TopicIdPartition) -> bool,
    ) -> (Option<u64>, Option<u64>) {
        let (ready, expiry) = self.scan(now_ms, counted, |_| {});
        match self.config.request_timeout_expiry_ms {
            None => (ready, expiry),
            Some(_) => (ready, self.next_expiry_ms()),
        }
    }

    /// [`Self::ready`]: each ready partition goes to `on_ready`; returns
    /// the next ready time and [`Self::next_expiry_ms`].
    fn scan_ready(
        &self,
        now_ms: u64,
        on_ready: impl FnMut(TopicIdPartition),
    ) -> (Option<u64>, Option<u64>) {
        self.scan(now_ms, |_| true, on_ready)
    }

    /// [`Self::scan_ready`] over the partitions `counted` keeps (for the
    /// ready ones and the next ready time; the expiry counts every one).
    fn scan(
        &self,
        now_ms: u64,
        counted: impl Fn(TopicIdPartition) -> bool,
        mut on_ready: impl FnMut(TopicIdPartition),
    ) -> (Option<u64>, Option<u64>) {
        debug_assert!(self.index_agrees(), "the ready index is stale");
        let mut next: Option<u64> = None;
        let mut expiry: Option<u64> = None;
        for summary in self.index.entries() {
            let expires = summary
                .front_created_ms
                .saturating_add(self.config.delivery_timeout_ms);
            expiry = Some(expiry.map_or(expires, |e| e.min(expires)));
            let Some(ready_at) = summary.ready_at.filter(|_| counted(summary.tp)) else {
                continue;
            };
            if ready_at <= now_ms {
                on_ready(summary.tp);
            } else {
                next = Some(next.map_or(ready_at, |n| n.min(ready_at)));
            }
        }
        (next, expiry)
    }

    /// Whether `tp` is muted (see [`Self::is_muted`]) or its `first` batch
    /// held back (see [`Self::held_back_by`]), looking `tp`'s batches in
    /// flight up once.
    fn stalled(&self, tp: &TopicIdPartition, first: &ProducerBatch) -> bool {
        let Some(flying) = self.in_flight.get(tp) else {
            return false;
        };
        (self.config.max_in_flight <= 1 && !flying.is_empty())
            || (self.config.idempotence && self.held_back_by(flying, first))
    }

    /// When `first` (the first batch of its partition) becomes sendable:
    /// a retry once backed off; a fresh batch once full or lingered.
    fn ready_at(&self, first: &ProducerBatch, more_batches: bool) -> u64 {
        if first.attempts > 0 {
            first
                .last_attempt_ms
                .saturating_add(self.config.retry_backoff_ms)
        } else if more_batches || first.is_full() {
            0
        } else {
            first.last_attempt_ms.saturating_add(self.config.linger_ms)
        }
    }

    /// Whether a retry is backing off (Kafka's `shouldBackoff`).
    fn backing_off(&self, batch: &ProducerBatch, now_ms: u64) -> bool {
        batch.attempts > 0
            && now_ms
                < batch
                    .last_attempt_ms
                    .saturating_add(self.config.retry_backoff_ms)
    }

    /// Kafka's `shouldStopDrainBatchesForPartition` (idempotence): a retried
    /// batch waits until every in-flight batch with a lower sequence is
    /// answered, and a fresh batch waits while batches drained under an
    /// older producer id or epoch are in flight (`flying`: the partition's
    /// batches in flight).
    fn held_back_by(&self, flying: &[(u64, InFlightBatch)], first: &ProducerBatch) -> bool {
        if first.has_sequence() {
            flying
                .iter()
                .any(|(_, b)| b.base_sequence >= 0 && b.base_sequence < first.base_sequence)
        } else {
            flying.iter().any(|(_, b)| {
                (b.producer_id, b.producer_epoch) != (self.producer_id, self.producer_epoch)
            })
        }
    }

    /// Takes `tp`'s first batch if it is ready (see `ready`) and tracks it
    /// in flight. With idempotence a fresh batch gets its base sequence from
    /// `next_sequence(tp, records)` (the caller's per-partition counter,
    /// which it advances) and the current producer id and epoch; a retried
    /// batch keeps its sequence.
    pub fn drain(
        &mut self,
        tp: &TopicIdPartition,
        now_ms: u64,
        next_sequence: &mut dyn FnMut(&TopicIdPartition, u32) -> i32,
    ) -> Option<ProducerBatch> {
        let dq = self.batches.get(tp)?;
        let first = dq.front()?;
        if self.ready_at(first, dq.len() > 1) > now_ms {
            return None;
        }
        self.drain_sendable(tp, now_ms, next_sequence)
    }

    /// Like `drain` without waiting for the batch to fill or linger: Kafka
    /// drains every partition of a leader once one of them is ready
    /// (`drainBatchesForOneNode`). Muting, retry backoff and sequence order
    /// still hold.
    pub fn drain_sendable(
        &mut self,
        tp: &TopicIdPartition,
        now_ms: u64,
        next_sequence: &mut dyn FnMut(&TopicIdPartition, u32) -> i32,
    ) -> Option<ProducerBatch> {
        let first = self.batches.get(tp)?.front()?;
        if self.backing_off(first, now_ms) || self.stalled(tp, first) {
            return None;
        }
        let mut batch = self.batches.get_mut(tp)?.pop_front()?;
        if self.config.idempotence && !batch.has_sequence() {
            batch.base_sequence = next_sequence(tp, batch.ids.len() as u32);
            batch.producer_id = self.producer_id;
            batch.producer_epoch = self.producer_epoch;
        }
        batch.closed = true;
        let flying = InFlightBatch {
            base_sequence: batch.base_sequence,
            producer_id: batch.producer_id,
            producer_epoch: batch.producer_epoch,
        };
        let tracked = self.in_flight.get_or_default(*tp);
        match tracked.binary_search_by_key(&batch.id, |(id, _)| *id) {
            Ok(i) => tracked[i].1 = flying,
            Err(i) => tracked.insert(i, (batch.id, flying)),
        }
        self.refresh(tp);
        Some(batch)
    }

    /// Batches of `tp` in flight.
    pub fn in_flight(&self, tp: &TopicIdPartition) -> usize {
        self.in_flight.get(tp).map_or(0, Vec::len)
    }

    /// All batches in flight.
    pub fn in_flight_total(&self) -> usize {
        self.in_flight.values().map(Vec::len).sum()
    }

    /// Whether `tp` is muted: `max.in.flight.requests.per.connection` is 1
    /// and a batch of it is in flight.
    pub fn is_muted(&self, tp: &TopicIdPartition) -> bool {
        self.config.max_in_flight <= 1 && self.in_flight(tp) > 0
    }

    /// A batch in flight got its final answer (success or final failure):
    /// it is no longer tracked and its partition unmuted. Unknown ids are
    /// ignored.
    pub fn complete(&mut self, tp: &TopicIdPartition, batch_id: u64) {
        if let Some(flying) = self.in_flight.get_mut(tp) {
            if let Ok(i) = flying.binary_search_by_key(&batch_id, |(id, _)| *id) {
                flying.remove(i);
            }
            if flying.is_empty() {
                self.in_flight.remove(tp);
            }
            self.refresh(tp);
        }
    }

    /// A batch in flight failed retriably: it is no longer in flight, and
    /// goes back to the front of its partition's queue with one more
    /// attempt, backing off from `now_ms`. With idempotence it is placed in
    /// base sequence order among the queued retries (Kafka's
    /// `insertInSequenceOrder`).
    pub fn reenqueue(&mut self, mut batch: ProducerBatch, now_ms: u64) {
        self.take_back(&mut batch, now_ms);
        let dq = self.batches.get_or_default(batch.tp);
        let at = if self.config.idempotence && batch.has_sequence() {
            dq.iter()
                .take_while(|b| b.has_sequence() && b.base_sequence < batch.base_sequence)
                .count()
        } else {
            0
        };
        let tp = batch.tp;
        dq.insert(at, batch);
        self.refresh(&tp);
    }

    /// A batch in flight comes back for another attempt, backing off from `now_ms`.
    fn take_back(&mut self, batch: &mut ProducerBatch, now_ms: u64) {
        self.complete(&batch.tp, batch.id);
        batch.attempts += 1;
        batch.last_attempt_ms = batch.last_attempt_ms.max(now_ms);
        batch.closed = true;
    }

    /// Puts back a batch drained under a producer id or epoch the producer
    /// no longer has (KIP-360: it started a fresh sequence space): it gets
    /// a new sequence when drained again, before every batch created after
    /// it (Kafka rewrites the sequences of such batches in order,
    /// `TxnPartitionMap.startSequencesAtBeginning`).
    pub fn reenqueue_fresh(&mut self, mut batch: ProducerBatch, now_ms: u64) {
        self.take_back(&mut batch, now_ms);
        batch.base_sequence = -1;
        batch.producer_id = -1;
        batch.producer_epoch = -1;
        let dq = self.batches.get_or_default(batch.tp);
        let at = dq
            .iter()
            .take_while(|b| b.has_sequence() || b.id < batch.id)
            .count();
        let tp = batch.tp;
        dq.insert(at, batch);
        self.refresh(&tp);
    }

    /// Removes and returns the queued batches (not those in flight) that
    /// reached `delivery.timeout.ms` since their creation, from the front
    /// of each partition's queue, in order (Kafka's `expiredBatches`).
    pub fn expire(&mut self, now_ms: u64) -> Vec<ProducerBatch> {
        if let Some(request_timeout_ms) = self.config.request_timeout_expiry_ms {
            return self.expire_before_kip_91(now_ms, request_timeout_ms);
        }
        let timeout = self.config.delivery_timeout_ms;
        let mut expired = Vec::new();
        if !self.index.any_expired(now_ms, timeout) {
            return expired;
        }
        for dq in self.batches.values_mut() {
            while dq
                .front()
                .is_some_and(|b| now_ms.saturating_sub(b.created_ms) >= timeout)
            {
                expired.extend(dq.pop_front());
            }
        }
        self.refresh_all();
        expired
    }

    /// Kafka 2.0's `RecordAccumulator.expiredBatches` (before KIP-91):
    /// from the front of each partition's queue, unless the partition is
    /// muted (`max.in.flight.requests.per.connection` 1 and a batch in
    /// flight), the batches that `ProducerBatch.maybeExpire` expires, up to
    /// the first that it does not.
    fn expire_before_kip_91(&mut self, now_ms: u64, request_timeout_ms: u64) -> Vec<ProducerBatch> {
        let mut expired = Vec::new();
        let muted: Vec<TopicIdPartition> = self
            .batches
            .keys()
            .filter(|tp| self.is_muted_for_expiry(tp))
            .copied()
            .collect();
        for (tp, dq) in self.batches.iter_mut() {
            if muted.contains(tp) {
                continue;
            }
            while let Some(front) = dq.front() {
                let is_full = dq.len() > 1 || front.is_full();
                if expires_at_before_kip_91(front, is_full, request_timeout_ms, &self.config)
                    > now_ms
                {
                    break;
                }
                expired.extend(dq.pop_front());
            }
        }
        if !expired.is_empty() {
            self.refresh_all();
        }
        expired
    }

    /// Kafka 2.0's `isMuted` as `expiredBatches` asks it: with
    /// `max.in.flight.requests.per.connection` 1, a partition with a batch
    /// in flight.
    fn is_muted_for_expiry(&self, tp: &TopicIdPartition) -> bool {
        self.config.max_in_flight <= 1 && self.in_flight.get(tp).is_some_and(|f| !f.is_empty())
    }

    /// When the next queued batch expires, if any (Kafka's `nextExpiryTimeMs`,
    /// which the Sender adds to its poll timeout; before KIP-91, when the
    /// first batch of a partition not muted expires).
    pub fn next_expiry_ms(&self) -> Option<u64> {
        if let Some(request_timeout_ms) = self.config.request_timeout_expiry_ms {
            return self
                .batches
                .iter()
                .filter(|(tp, _)| !self.is_muted_for_expiry(tp))
                .filter_map(|(_, dq)| {
                    let front = dq.front()?;
                    let is_full = dq.len() > 1 || front.is_full();
                    Some(expires_at_before_kip_91(
                        front,
                        is_full,
                        request_timeout_ms,
                        &self.config,
                    ))
                })
                .min();
        }
        self.batches
            .values()
            .filter_map(VecDeque::front)
            .map(|b| b.created_ms.saturating_add(self.config.delivery_timeout_ms))
            .min()
    }

    /// The producer id was reset (KIP-360): queued batches lose their
    /// sequences and producer id, to be numbered afresh when drained.
    pub fn reset_sequences(&mut self) {
        for b in self.batches.values_mut().flat_map(|dq| dq.iter_mut()) {
            b.base_sequence = -1;
            b.producer_id = -1;
            b.producer_epoch = -1;
        }
        self.refresh_all();
    }

    /// The batches queued for `tp`, first to send first.
    pub fn queued(&self, tp: &TopicIdPartition) -> impl Iterator<Item = &ProducerBatch> {
        self.batches.get(tp).into_iter().flatten()
    }

    /// The fewest bytes an append to one of `partitions` can take before a
    /// batch of it is full: what is left under the write limit of each
    /// partition's open batch, or a fresh batch's room when it has none
    /// (None for no partitions).
    pub fn least_room(
        &self,
        partitions: impl IntoIterator<Item = TopicIdPartition>,
    ) -> Option<usize> {
        let fresh = self.config.batch_size.saturating_sub(RECORD_BATCH_OVERHEAD);
        let mut least: Option<usize> = None;
        for tp in partitions {
            let room = match self.batches.get(&tp).and_then(VecDeque::back) {
                Some(b) if b.is_full() => return Some(0),
                Some(b) => b.room_for_records(),
                None => fresh,
            };
            least = Some(least.map_or(room, |l| l.min(room)));
        }
        least
    }

    /// Whether `tp`'s last batch is open: there, and not full.
    pub fn has_open_batch(&self, tp: &TopicIdPartition) -> bool {
        self.batches
            .get(tp)
            .and_then(VecDeque::back)
            .is_some_and(|b| !b.is_full())
    }

    /// Per partition with batches queued: when its oldest queued batch was
    /// created (ms) and how many records are queued.
    pub fn queued_since(&self) -> impl Iterator<Item = (TopicIdPartition, u64, usize)> + '_ {
        self.batches.iter().filter_map(|(tp, dq)| {
            let oldest = dq.iter().map(|b| b.created_ms).min()?;
            Some((*tp, oldest, dq.iter().map(|b| b.ids.len()).sum()))
        })
    }

    /// Whether any batch is queued (Kafka's `hasUndrained`).
    pub fn has_undrained(&self) -> bool {
        self.batches.values().any(|dq| !dq.is_empty())
    }

    /// Removes and returns the queued batches without a sequence, keeping
    /// those in retry (Kafka's `abortUndrainedBatches` for a transactional
    /// producer: `!batch.hasSequence()`).
    pub fn drain_unsequenced(&mut self) -> Vec<ProducerBatch> {
        let mut aborted = Vec::new();
        for dq in self.batches.values_mut() {
            let (kept, dropped): (VecDeque<_>, VecDeque<_>) =
                dq.drain(..).partition(ProducerBatch::has_sequence);
            *dq = kept;
            aborted.extend(dropped);
        }
        self.refresh_all();
        aborted
    }

    /// Removes and returns every queued batch (the producer is closing or
    /// its process died).
    pub fn drain_all(&mut self) -> Vec<ProducerBatch> {
        self.index = ReadyIndex::default();
        std::mem::take(&mut self.batches)
            .into_values()
            .flatten()
            .collect()
    }
}

/// Kafka's `ProducerBatch.tryAppend`: the bytes added, or the record back
/// when it does not fit.
fn try_append<'a>(
    batch: &mut ProducerBatch,
    record: PendingRecord<'a>,
) -> Result<usize, PendingRecord<'a>> {
    if batch.is_full() {
        return Err(record);
    }
    let first = batch.ids.is_empty();
    let (size_bytes, write_limit) = (batch.size_bytes, batch.write_limit);
    let fits = |size: usize| first || size_bytes + size <= write_limit;
    let appended = record.as_written(|value, headers| {
        batch
            .builder
            .append_if(record.key, value, headers, record.timestamp_ms, fits)
    });
    if appended.is_none() {
        return Err(record);
    }
    batch.ids.push(record.id);
    let before = batch.size_bytes;
    batch.size_bytes = batch.estimated_size();
    Ok(batch.size_bytes - before)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config() -> AccumulatorConfig {
        AccumulatorConfig {
            batch_size: 1000,
            linger_ms: 5,
            max_in_flight: 5,
            delivery_timeout_ms: 120_000,
            request_timeout_expiry_ms: None,
            retry_backoff_ms: 100,
            idempotence: false,
            compression: crate::log::Compression::NONE,
        }
    }

    fn tp(p: u32) -> TopicIdPartition {
        TopicIdPartition::new(crate::protocol::TopicId(0), p)
    }

    /// A keyless record with a 100-byte value: 109 bytes in a batch
    /// (while its offset delta is below 64).
    fn rec(id: u64, now_ms: u64) -> PendingRecord<'static> {
        PendingRecord {
            id,
            key: None,
            tombstone: false,
            value: &[b'x'; 100],
            timestamp_ms: now_ms,
        }
    }

    /// A `next_sequence` that counts per partition and logs its calls.
    fn counter() -> (
        BTreeMap<TopicIdPartition, i32>,
        Vec<(TopicIdPartition, u32)>,
    ) {
        (BTreeMap::new(), Vec::new())
    }

    fn drain_with(
        acc: &mut RecordAccumulator,
        tp: &TopicIdPartition,
        now_ms: u64,
        seqs: &mut (
            BTreeMap<TopicIdPartition, i32>,
            Vec<(TopicIdPartition, u32)>,
        ),
    ) -> Option<ProducerBatch> {
        let (next, calls) = seqs;
        let mut f = |tp: &TopicIdPartition, n: u32| {
            calls.push((*tp, n));
            let s = next.entry(*tp).or_insert(0);
            let base = *s;
            *s += n as i32;
            base
        };
        acc.drain(tp, now_ms, &mut f)
    }

    fn no_sequence(_: &TopicIdPartition, _: u32) -> i32 {
        panic!("no sequence expected")
    }

    /// KIP-480's `abortOnNewBatch`: a record goes into the partition's open
    /// batch if it fits; with no batch open, or once it does not fit (which
    /// closes the batch), it is given back for the partitioner to move on.
    #[test]
    fn try_append_existing_refuses_what_needs_a_new_batch() {
        let mut acc = RecordAccumulator::new(config());
        assert!(
            acc.try_append_existing(tp(0), rec(1, 0), 0).is_err(),
            "no batch open"
        );
        let first = acc.append(tp(0), rec(1, 0), 0);
        assert!(first.new_batch_created);
        let mut appended = 1;
        loop {
            match acc.try_append_existing(tp(0), rec(appended + 1, 0), 0) {
                Ok(r) => {
                    assert_eq!(r.batch_id, first.batch_id);
                    assert!(!r.new_batch_created);
                    appended += 1;
                }
                Err(back) => {
                    assert_eq!(back.id, appended + 1, "the record comes back");
                    break;
                }
            }
        }
        // batch.size 1000, 109-byte records after the 61-byte batch header: 8 fit.
        assert_eq!(appended, 8);
        assert!(acc.all_batches_full(&tp(0)), "closed for appends");
        assert!(
            acc.try_append_existing(tp(1), rec(99, 0), 0).is_err(),
            "another partition has none"
        );
        let next = acc.append(tp(0), rec(50, 0), 0);
        assert!(next.new_batch_created && next.batch_id != first.batch_id);
    }

    #[test]
    fn record_sizes_follow_the_v2_format() {
        // attributes 1 + offset delta 1 + timestamp delta 1 + null key 1 +
        // value length 2 + 100 + header count 1 = 107, plus its varint 2.
        assert_eq!(record_size_in_bytes(0, 0, None, &[0; 100]), 109);
        // 1 + 1 + 1 + (1 + 1) + (1 + 1) + 1 = 8, plus 1.
        assert_eq!(record_size_in_bytes(0, 0, Some(b"k"), b"v"), 9);
        // Offset delta 64 zigzags to 128: two bytes; timestamp delta -1 to 1.
        assert_eq!(record_size_in_bytes(64, -1, Some(b"k"), b"v"), 10);
        assert_eq!(record_size_in_bytes(63, 64, Some(b"k"), b"v"), 10);
        // A value of 63 bytes has a 1-byte length, 64 a 2-byte one (zigzag
        // 128); either way the body (69, 71) needs a 2-byte size varint.
        assert_eq!(record_size_in_bytes(0, 0, None, &[0; 63]), 71);
        assert_eq!(record_size_in_bytes(0, 0, None, &[0; 64]), 73);
        // A 10-byte value: body 4 + 1 + 10 + 1 = 16, 17 in all.
        assert_eq!(record_size_in_bytes(0, 0, None, &[0; 10]), 17);
        // A 10000-byte value: length varint 3 (zigzag 20000), body 10008,
        // size varint 3 (zigzag 20016).
        assert_eq!(record_size_in_bytes(0, 0, None, &[0; 10_000]), 10_011);
        // Printed by Kafka's own DefaultRecord.sizeInBytes and
        // estimateBatchSizeUpperBound (no headers), wide deltas included.
        let key = vec![0; 16_384];
        let value = vec![0; 8191];
        assert_eq!(record_size_in_bytes(8192, -65, None, &value), 8204);
        assert_eq!(batch_size_upper_bound(None, &value), 8277);
        assert_eq!(
            record_size_in_bytes(100_000, 1 << 40, Some(&key), &[0; 100]),
            16_503
        );
        assert_eq!(batch_size_upper_bound(Some(&key), &[0; 100]), 16_572);
        assert_eq!(
            record_size_in_bytes(64, -100_000, Some(&[]), &[0; 2_000_000]),
            2_000_016
        );
        assert_eq!(
            batch_size_upper_bound(None, &[0; 100]),
            61 + 21 + 1 + 2 + 100 + 1
        );
    }

    #[test]
    fn batches_by_size() {
        let mut acc = RecordAccumulator::new(config());
        let mut results = Vec::new();
        for i in 0..20 {
            results.push(acc.append(tp(0), rec(i, 0), 0));
        }
        // 61 + 8 x 109 = 933 <= 1000 < 1042: eight records a batch.
        let sizes: Vec<(usize, usize, bool)> = acc
            .queued(&tp(0))
            .map(|b| (b.ids.len(), b.size_bytes, b.closed))
            .collect();
        assert_eq!(sizes, vec![(8, 933, true), (8, 933, true), (4, 497, false)]);
        let ids: Vec<u64> = acc
            .queued(&tp(0))
            .flat_map(|b| b.ids.iter().copied())
            .collect();
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
        assert_eq!(results[0].appended_bytes, 170);
        assert!(results[0].new_batch_created);
        assert_eq!(results[1].appended_bytes, 109);
        assert!(!results[1].new_batch_created && !results[1].batch_is_full);
        assert!(results[8].new_batch_created && results[8].batch_is_full);
        assert!(!results[8].all_batches_full);
        assert_ne!(results[7].batch_id, results[8].batch_id);
        // Other partitions batch apart.
        acc.append(tp(1), rec(99, 0), 0);
        assert_eq!(acc.queued(&tp(1)).count(), 1);
    }

    #[test]
    fn a_full_batch_is_marked_so() {
        // 61 + 109 = 170: a batch.size of 279 is filled by exactly two records.
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            batch_size: 279,
            ..config()
        });
        acc.append(tp(0), rec(0, 0), 0);
        let r = acc.append(tp(0), rec(1, 0), 0);
        assert!(r.all_batches_full && r.batch_is_full && !r.new_batch_created);
        assert!(acc.all_batches_full(&tp(0)));
        let (ready, _) = acc.ready(0);
        assert_eq!(ready, vec![tp(0)], "full: no linger");
        let r = acc.append(tp(0), rec(2, 0), 0);
        assert!(r.new_batch_created && !r.all_batches_full && r.batch_is_full);
    }

    #[test]
    fn an_oversized_record_gets_its_own_batch() {
        let mut acc = RecordAccumulator::new(config());
        acc.append(tp(0), rec(0, 0), 0);
        let big = PendingRecord {
            id: 1,
            key: None,
            tombstone: false,
            value: &[0; 2000],
            timestamp_ms: 0,
        };
        assert!(acc.append(tp(0), big, 0).new_batch_created);
        assert!(acc.append(tp(0), rec(2, 0), 0).new_batch_created);
        let shape: Vec<(usize, usize)> = acc
            .queued(&tp(0))
            .map(|b| (b.ids.len(), b.write_limit))
            .collect();
        // The big batch's buffer is the record's upper bound: 61 + 21 + 1 + 2 + 2000 + 1.
        assert_eq!(shape, vec![(1, 1000), (1, 2086), (1, 1000)]);
    }

    #[test]
    fn linger_and_next_ready_time() {
        let mut acc = RecordAccumulator::new(config());
        acc.append(tp(0), rec(0, 10), 10);
        acc.append(tp(1), rec(1, 12), 12);
        // Appending later does not restart the linger.
        acc.append(tp(0), rec(2, 14), 14);
        assert_eq!(acc.ready(10), (vec![], Some(15)));
        assert_eq!(acc.ready(14), (vec![], Some(15)));
        assert_eq!(acc.next_ready_ms(15), Some(17));
        assert_eq!(acc.ready(15), (vec![tp(0)], Some(17)));
        assert_eq!(acc.ready(17), (vec![tp(0), tp(1)], None));
        // Not ready, not drained.
        let mut seqs = counter();
        assert!(drain_with(&mut acc, &tp(1), 16, &mut seqs).is_none());
        assert!(drain_with(&mut acc, &tp(1), 17, &mut seqs).is_some());
        // linger.ms 0: ready at once.
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            ..config()
        });
        acc.append(tp(0), rec(0, 10), 10);
        assert_eq!(acc.ready(10), (vec![tp(0)], None));
        assert_eq!(acc.ready(3), (vec![], Some(10)));
    }

    #[test]
    fn drain_sendable_skips_linger_only() {
        let mut acc = RecordAccumulator::new(config());
        acc.append(tp(0), rec(0, 0), 0);
        let mut seqs = counter();
        assert!(drain_with(&mut acc, &tp(0), 1, &mut seqs).is_none());
        let b = acc
            .drain_sendable(&tp(0), 1, &mut no_sequence)
            .expect("sendable");
        assert!(b.closed);
        assert_eq!(acc.in_flight(&tp(0)), 1);
        // Backoff still holds.
        acc.reenqueue(b, 2);
        assert!(acc.drain_sendable(&tp(0), 101, &mut no_sequence).is_none());
        assert!(acc.drain_sendable(&tp(0), 102, &mut no_sequence).is_some());
    }

    #[test]
    fn max_in_flight_one_mutes_the_partition() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            max_in_flight: 1,
            linger_ms: 0,
            ..config()
        });
        for i in 0..20 {
            acc.append(tp(0), rec(i, 0), 0);
        }
        acc.append(tp(1), rec(20, 0), 0);
        let mut seqs = counter();
        let first = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        assert!(acc.is_muted(&tp(0)));
        assert_eq!(acc.in_flight(&tp(0)), 1);
        // Muted: neither ready nor drainable, and no wake-up time for it.
        assert_eq!(acc.ready(0), (vec![tp(1)], None));
        assert!(drain_with(&mut acc, &tp(0), 0, &mut seqs).is_none());
        assert!(acc.drain_sendable(&tp(0), 0, &mut no_sequence).is_none());
        // Other partitions are not muted.
        assert!(drain_with(&mut acc, &tp(1), 0, &mut seqs).is_some());
        acc.complete(&tp(0), first.id);
        assert!(!acc.is_muted(&tp(0)));
        assert_eq!(acc.ready(0).0, vec![tp(0)]);
        let second = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        assert_eq!(second.ids[0], 8);
        // A retriable failure unmutes too (the batch is back in the queue).
        acc.reenqueue(second, 0);
        assert!(!acc.is_muted(&tp(0)));

        // With 5 in flight allowed, two batches of a partition fly at once.
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            ..config()
        });
        for i in 0..20 {
            acc.append(tp(0), rec(i, 0), 0);
        }
        assert!(drain_with(&mut acc, &tp(0), 0, &mut seqs).is_some());
        assert!(drain_with(&mut acc, &tp(0), 0, &mut seqs).is_some());
        assert_eq!(acc.in_flight(&tp(0)), 2);
        assert_eq!(acc.in_flight_total(), 2);
        assert!(!acc.is_muted(&tp(0)));
    }

    #[test]
    fn retries_back_off() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            ..config()
        });
        acc.append(tp(0), rec(0, 0), 0);
        let mut seqs = counter();
        let b = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        let id = b.id;
        acc.reenqueue(b, 50);
        assert_eq!(acc.in_flight(&tp(0)), 0);
        let queued = acc.queued(&tp(0)).next().unwrap();
        assert_eq!((queued.attempts, queued.last_attempt_ms), (1, 50));
        assert_eq!(acc.ready(100), (vec![], Some(150)));
        assert!(drain_with(&mut acc, &tp(0), 149, &mut seqs).is_none());
        assert_eq!(acc.ready(150), (vec![tp(0)], None));
        let b = drain_with(&mut acc, &tp(0), 150, &mut seqs).unwrap();
        assert_eq!(b.id, id);
        // Records appended meanwhile went to a new batch behind it.
        acc.reenqueue(b, 200);
        acc.append(tp(0), rec(1, 200), 200);
        let shape: Vec<(u64, u32)> = acc.queued(&tp(0)).map(|b| (b.id, b.attempts)).collect();
        assert_eq!(shape, vec![(id, 2), (id + 1, 0)]);
        // The fresh batch behind the retry waits for it.
        assert_eq!(acc.ready(299), (vec![], Some(300)));
    }

    fn idempotent() -> RecordAccumulator {
        // batch.size 170: one 100-byte record per batch.
        RecordAccumulator::new(AccumulatorConfig {
            batch_size: 170,
            linger_ms: 0,
            idempotence: true,
            ..config()
        })
    }

    #[test]
    fn sequences_only_for_new_batches() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            idempotence: true,
            ..config()
        });
        acc.set_producer_id_and_epoch(7, 0);
        for i in 0..10 {
            acc.append(tp(0), rec(i, 0), 0);
        }
        let mut seqs = counter();
        let a = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        let b = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        assert_eq!((a.base_sequence, a.ids.len()), (0, 8));
        assert_eq!((b.base_sequence, b.ids.len()), (8, 2));
        assert_eq!((a.producer_id, a.producer_epoch), (7, 0));
        assert_eq!(a.last_sequence(), 7);
        assert_eq!(seqs.1, vec![(tp(0), 8), (tp(0), 2)]);
        acc.reenqueue(b, 0);
        acc.reenqueue(a, 0);
        let a = drain_with(&mut acc, &tp(0), 100, &mut seqs).unwrap();
        acc.complete(&tp(0), a.id);
        let b = drain_with(&mut acc, &tp(0), 100, &mut seqs).unwrap();
        assert_eq!((a.base_sequence, b.base_sequence), (0, 8));
        assert_eq!(seqs.1.len(), 2, "retries keep their sequences");

        // Without idempotence nothing is numbered.
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            ..config()
        });
        acc.append(tp(0), rec(0, 0), 0);
        let b = acc.drain(&tp(0), 0, &mut no_sequence).unwrap();
        assert_eq!(b.base_sequence, -1);
    }

    #[test]
    fn reenqueue_keeps_sequence_order() {
        let mut acc = idempotent();
        for i in 0..4 {
            acc.append(tp(0), rec(i, 0), 0);
        }
        let mut seqs = counter();
        let drained: Vec<ProducerBatch> = (0..3)
            .map(|_| drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap())
            .collect();
        assert_eq!(
            drained.iter().map(|b| b.base_sequence).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        let mut it = drained.into_iter();
        let (b0, b1, b2) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        // Answers come back out of order.
        acc.reenqueue(b2, 10);
        acc.reenqueue(b0, 10);
        acc.reenqueue(b1, 10);
        let order: Vec<i32> = acc.queued(&tp(0)).map(|b| b.base_sequence).collect();
        assert_eq!(
            order,
            vec![0, 1, 2, -1],
            "retries in sequence order, the fresh batch last"
        );
        let recs: Vec<u64> = acc.queued(&tp(0)).map(|b| b.ids[0]).collect();
        assert_eq!(recs, vec![0, 1, 2, 3]);
    }

    #[test]
    fn retry_waits_for_lower_sequences_in_flight() {
        let mut acc = idempotent();
        for i in 0..3 {
            acc.append(tp(0), rec(i, 0), 0);
        }
        let mut seqs = counter();
        let b0 = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        let b1 = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        // Sequence 1 failed while 0 is still in flight: it must not overtake it.
        acc.reenqueue(b1, 0);
        assert_eq!(acc.ready(100), (vec![], None));
        assert!(drain_with(&mut acc, &tp(0), 100, &mut seqs).is_none());
        assert!(acc.drain_sendable(&tp(0), 100, &mut no_sequence).is_none());
        acc.complete(&tp(0), b0.id);
        assert_eq!(acc.ready(100).0, vec![tp(0)]);
        assert_eq!(
            drain_with(&mut acc, &tp(0), 100, &mut seqs)
                .unwrap()
                .base_sequence,
            1
        );
    }

    #[test]
    fn fresh_batches_wait_for_a_stale_epoch() {
        let mut acc = idempotent();
        acc.set_producer_id_and_epoch(1, 0);
        acc.append(tp(0), rec(0, 0), 0);
        acc.append(tp(0), rec(1, 0), 0);
        let mut seqs = counter();
        let old = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        acc.set_producer_id_and_epoch(2, 0);
        assert!(drain_with(&mut acc, &tp(0), 0, &mut seqs).is_none());
        acc.complete(&tp(0), old.id);
        let new = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        assert_eq!((new.producer_id, new.base_sequence), (2, 1));
    }

    #[test]
    fn reset_sequences_renumbers_queued_batches() {
        let mut acc = idempotent();
        acc.set_producer_id_and_epoch(1, 0);
        acc.append(tp(0), rec(0, 0), 0);
        let mut seqs = counter();
        let b = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        acc.reenqueue(b, 0);
        acc.reset_sequences();
        let q = acc.queued(&tp(0)).next().unwrap();
        assert_eq!(
            (q.base_sequence, q.producer_id, q.producer_epoch),
            (-1, -1, -1)
        );
        acc.set_producer_id_and_epoch(2, 0);
        let mut fresh = counter();
        let b = drain_with(&mut acc, &tp(0), 100, &mut fresh).unwrap();
        assert_eq!((b.base_sequence, b.producer_id, b.attempts), (0, 2, 1));
        assert_eq!(fresh.1.len(), 1);
    }

    #[test]
    fn the_next_ready_time_counts_only_the_partitions_asked_for_and_the_expiry_all() {
        // linger.ms 5: tp 0's batch lingers out at 5, tp 1's at 8.
        let mut acc = RecordAccumulator::new(config());
        acc.append(tp(0), rec(0, 0), 0);
        acc.append(tp(1), rec(1, 3), 3);
        let all = acc.next_ready_and_expiry_ms(0, |_| true);
        assert_eq!(all, (Some(5), Some(120_000)));
        let without_0 = acc.next_ready_and_expiry_ms(0, |tp| tp.partition != 0);
        assert_eq!(without_0, (Some(8), Some(120_000)), "tp 0 still expires");
        assert_eq!(
            acc.next_ready_and_expiry_ms(0, |_| false),
            (None, Some(120_000))
        );
        // Room: the open batches' (tp 2 has none: a fresh batch's), none
        // for no partitions.
        let open = acc.least_room([tp(0)]).expect("a partition");
        assert!(open < acc.least_room([tp(2)]).expect("a partition"));
        assert_eq!(acc.least_room([tp(0), tp(2)]), Some(open));
        assert_eq!(acc.least_room([]), None);
        assert!(acc.has_open_batch(&tp(0)) && !acc.has_open_batch(&tp(2)));
    }

    #[test]
    fn expiry_by_delivery_timeout() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            delivery_timeout_ms: 100,
            request_timeout_expiry_ms: None,
            linger_ms: 0,
            ..config()
        });
        acc.append(tp(0), rec(0, 0), 0);
        acc.append(tp(1), rec(1, 0), 0);
        acc.append(tp(0), vec_rec(2, 50), 50);
        acc.append(tp(2), rec(3, 60), 60);
        let mut seqs = counter();
        // In flight: the caller's to time out, not the accumulator's.
        let flying = drain_with(&mut acc, &tp(1), 0, &mut seqs).unwrap();
        assert_eq!(acc.next_expiry_ms(), Some(100));
        // One pass gives both the next ready time and the next expiry.
        assert_eq!(
            acc.next_ready_and_expiry_ms(0, |_| true),
            (acc.next_ready_ms(0), acc.next_expiry_ms())
        );
        assert!(acc.expire(99).is_empty());
        let e: Vec<u64> = acc
            .expire(100)
            .iter()
            .flat_map(|b| b.ids.iter().copied())
            .collect();
        assert_eq!(e, vec![0]);
        assert_eq!(acc.in_flight(&tp(1)), 1);
        assert_eq!(acc.next_expiry_ms(), Some(150));
        let e: Vec<u64> = acc
            .expire(1000)
            .iter()
            .flat_map(|b| b.ids.iter().copied())
            .collect();
        assert_eq!(e, vec![2, 3]);
        assert!(!acc.has_undrained());
        assert_eq!(acc.next_expiry_ms(), None);
        // A re-enqueued batch expires from its creation, not its last attempt.
        acc.reenqueue(flying, 1000);
        assert_eq!(acc.expire(1000).len(), 1);
    }

    /// Kafka 2.0's `ProducerBatch.maybeExpire` (before KIP-91): a queued
    /// batch expires more than `request.timeout.ms` after its creation plus
    /// `linger.ms`, after its last append if it is full (not its queue's
    /// last batch), or after its last attempt plus `retry.backoff.ms` if it
    /// is a retry; a partition's queue expires from the front, up to the
    /// first batch that has not; a muted partition's do not expire.
    #[test]
    fn before_kip_91_a_queued_batch_expires_by_request_timeout() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            request_timeout_expiry_ms: Some(100),
            linger_ms: 5,
            ..config()
        });
        let ids = |batches: Vec<ProducerBatch>| -> Vec<u64> {
            batches.iter().flat_map(|b| b.ids.iter().copied()).collect()
        };
        // tp 0: one lingering batch, expiring after 0 + 5 + 100.
        acc.append(tp(0), rec(0, 0), 0);
        // tp 1: a batch appended to at 3, then one the next record needs:
        // the first, full, expires after 3 + 100; the last after 4 + 5 + 100.
        acc.append(tp(1), rec(1, 0), 0);
        acc.append(tp(1), rec(2, 3), 3);
        acc.append(tp(1), vec_rec(3, 4), 4);
        assert_eq!(acc.queued(&tp(1)).count(), 2);
        assert_eq!(acc.next_expiry_ms(), Some(104));
        assert_eq!(acc.next_ready_and_expiry_ms(0, |_| true).1, Some(104));
        assert!(acc.expire(103).is_empty());
        assert_eq!(ids(acc.expire(104)), vec![1, 2]);
        assert_eq!(acc.next_expiry_ms(), Some(106));
        assert_eq!(ids(acc.expire(106)), vec![0]);
        assert!(acc.expire(109).is_empty());
        assert_eq!(ids(acc.expire(110)), vec![3]);
        // A retry: after its last attempt (250) plus the backoff (100).
        acc.append(tp(2), rec(4, 200), 200);
        let mut seqs = counter();
        let flying = drain_with(&mut acc, &tp(2), 205, &mut seqs).unwrap();
        acc.reenqueue(flying, 250);
        assert_eq!(acc.next_expiry_ms(), Some(451));
        assert!(acc.expire(450).is_empty());
        assert_eq!(ids(acc.expire(451)), vec![4]);
        // With max.in.flight.requests.per.connection 1, a partition with a
        // batch in flight is muted: its queue does not expire.
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            request_timeout_expiry_ms: Some(100),
            max_in_flight: 1,
            ..config()
        });
        acc.append(tp(0), vec_rec(5, 0), 0);
        acc.append(tp(0), vec_rec(6, 0), 0);
        let mut seqs = counter();
        let _flying = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        assert_eq!(acc.next_expiry_ms(), None);
        assert!(acc.expire(10_000).is_empty());
    }

    /// A record in a batch of its own (too big to share one).
    fn vec_rec(id: u64, now_ms: u64) -> PendingRecord<'static> {
        PendingRecord {
            value: &[0; 900],
            ..rec(id, now_ms)
        }
    }

    #[test]
    fn batch_ids_are_unique_and_complete_ignores_unknown_ids() {
        let mut acc = RecordAccumulator::new(AccumulatorConfig {
            linger_ms: 0,
            ..config()
        });
        acc.append(tp(0), rec(0, 0), 0);
        acc.append(tp(1), rec(1, 0), 0);
        let mut seqs = counter();
        let a = drain_with(&mut acc, &tp(0), 0, &mut seqs).unwrap();
        let b = drain_with(&mut acc, &tp(1), 0, &mut seqs).unwrap();
        assert_ne!(a.id, b.id);
        acc.complete(&tp(0), b.id);
        acc.complete(&tp(2), a.id);
        assert_eq!(acc.in_flight_total(), 2);
        acc.complete(&tp(0), a.id);
        assert_eq!(acc.in_flight_total(), 1);
    }
}
