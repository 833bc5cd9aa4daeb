//! Records and v2 record batches (Kafka's `DefaultRecordBatch` and
//! `DefaultRecord`), held as their bytes.
//!
//! Batch layout, big-endian, as in Kafka's message format v2:
//!
//! ```text
//! baseOffset: i64             | not covered by the CRC
//! batchLength: i32            |   (bytes after this field)
//! partitionLeaderEpoch: i32   |
//! magic: i8 (= 2)             |
//! crc: u32                    CRC-32C of everything below
//! attributes: i16             (bits 0-2 codec, CreateTime; bit 4 transactional, bit 5 control)
//! lastOffsetDelta: i32
//! baseTimestamp: i64
//! maxTimestamp: i64
//! producerId: i64
//! producerEpoch: i16
//! baseSequence: i32
//! recordCount: i32
//! records
//! ```
//!
//! Each record is Kafka's `DefaultRecord`: length varint, attributes i8,
//! timestampDelta varlong, offsetDelta varint, key length varint (-1 = null)
//! and key, value length varint (-1 = null: a tombstone) and value, header
//! count varint (always 0).
//!
//! A producer's batch holds offset deltas 0, 1, 2, ...; the log cleaner
//! (compaction) rewrites a batch with the records it keeps, at their own
//! offsets, keeping the batch's base and last offsets (so its producer's
//! last sequence survives), or as an empty batch of the header alone
//! (Kafka's `MemoryRecords.filterTo`). A batch the cleaner found tombstones
//! or a transaction marker in carries their delete horizon in its base
//! timestamp ([`DELETE_HORIZON_FLAG`], KIP-534).
//!
//! A [`RecordBatch`] keeps its header's fields and its records section as a
//! shared [`Blob`]: the producer encodes each record once as it is appended
//! ([`BatchBuilder`]), and the same bytes travel to the leader, to every
//! follower's disk and to every consumer. The leader stamps the base offset
//! and its epoch into the header without touching the records (as Kafka,
//! these two fields lie outside the CRC, so a flipped bit in `baseOffset` or
//! `partitionLeaderEpoch` decodes fine; log recovery catches a bad
//! `baseOffset` as an offset gap).
//!
//! A compressed batch (gzip, snappy, lz4, zstd: see [`super::compression`])
//! carries its records section as the codec's stream, which is what its
//! size, CRC and encoding count; it also keeps the decompressed records, so
//! that reading them (a consumer, the checkers) decompresses nothing.

use std::fmt;
use std::hash::{Hash, Hasher};

use sim::Blob;

use super::codec::{put_varint, put_varlong, varint_len, varlong_len, Reader};
use super::compression::{decompress, Compression, CompressionType};
use super::headers::{Header, Headers};

/// `producerId` of a batch without an idempotent producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a batch without an idempotent producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a batch without an idempotent producer.
pub const NO_SEQUENCE: i32 = -1;
/// `partitionLeaderEpoch` of a batch no leader stamped.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// The only batch format modelled.
pub const MAGIC_V2: i8 = 2;
/// Batch attribute bit: its records belong to a transaction.
pub const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Batch attribute bit: it holds a control record, not data.
pub const CONTROL_FLAG: i16 = 0x20;
/// Batch attribute bit (KIP-534): the base timestamp is the delete
/// horizon of its tombstones and transaction marker, not a record's.
pub const DELETE_HORIZON_FLAG: i16 = 0x40;
/// `baseTimestamp` of an empty batch (Kafka's `RecordBatch.NO_TIMESTAMP`).
pub const NO_TIMESTAMP: u64 = u64::MAX;
/// Batch attribute bits of the codec ([`CompressionType::id`]).
pub const COMPRESSION_CODEC_MASK: i16 = 0x07;
/// `baseOffset` + `batchLength`: the bytes before the length-counted part.
pub const LOG_OVERHEAD: usize = 12;

/// The size in bytes of the batch whose first [`LOG_OVERHEAD`] bytes are
/// `prefix` (its base offset, then its length field); None when the length
/// is negative.
pub(super) fn batch_size_from_prefix(prefix: &[u8]) -> Option<usize> {
    let length = i32::from_be_bytes(prefix.get(8..LOG_OVERHEAD)?.try_into().ok()?);
    Some(LOG_OVERHEAD + usize::try_from(length).ok()?)
}
/// Size of a batch header (a batch without records), Kafka's `RECORD_BATCH_OVERHEAD`.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
/// The CRC covers the bytes from here to the end of the batch.
const ATTRIBUTES_OFFSET: usize = 21;

/// One record: key, value and its CreateTime timestamp.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// The key (None: a null key).
    pub key: Option<Vec<u8>>,
    /// The value (None: a null value, a tombstone).
    pub value: Option<Vec<u8>>,
    /// CreateTime, milliseconds.
    pub timestamp_ms: u64,
    /// Its headers.
    pub headers: Vec<Header>,
}

/// One record as read from a batch's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// Its offset relative to the batch's base offset.
    pub offset_delta: u32,
    /// CreateTime, milliseconds.
    pub timestamp_ms: u64,
    /// The key (None: a null key).
    pub key: Option<&'a [u8]>,
    /// The value (None: a null value, a tombstone).
    pub value: Option<&'a [u8]>,
    /// Its headers.
    pub headers: Headers<'a>,
}

impl RecordView<'_> {
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            timestamp_ms: self.timestamp_ms,
            headers: self.headers.to_owned(),
        }
    }
}

/// Encodes records one by one into a batch's records section (Kafka's
/// `MemoryRecordsBuilder`): each append writes the record's bytes once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchBuilder {
    records: Vec<u8>,
    count: u32,
    /// The newest record's offset delta.
    last_offset_delta: u32,
    base_timestamp: Option<u64>,
    max_timestamp: u64,
    /// The codec its batch is built with.
    compression: Compression,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for `bytes` of records.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            records: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// An empty builder with room for `records` (their keys, values and
    /// headers, and a few bytes each for their lengths and deltas).
    fn for_records(records: &[Record]) -> Self {
        let bytes = records
            .iter()
            .map(|r| {
                let headers: usize = r
                    .headers
                    .iter()
                    .map(|h| 8 + h.key.len() + h.value.as_ref().map_or(0, Vec::len))
                    .sum();
                24 + r.key.as_ref().map_or(0, Vec::len)
                    + r.value.as_ref().map_or(0, Vec::len)
                    + headers
            })
            .sum();
        Self::with_capacity(bytes)
    }

    /// The same builder building batches compressed with `compression`.
    pub fn compressed(self, compression: Compression) -> Self {
        Self {
            compression,
            ..self
        }
    }

    /// The codec its batch is built with.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Bytes of records appended so far, uncompressed.
    pub fn records_len(&self) -> usize {
        self.records.len()
    }

    /// Records appended so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes the batch would take with the records so far (header
    /// included), uncompressed.
    pub fn size_in_bytes(&self) -> usize {
        RECORD_BATCH_OVERHEAD + self.records.len()
    }

    /// Bytes `key` and `value` would add at `timestamp_ms` (Kafka's `DefaultRecord.sizeInBytes`).
    pub fn record_size(&self, key: Option<&[u8]>, value: &[u8], timestamp_ms: u64) -> usize {
        self.record_size_with(key, Some(value), &[], timestamp_ms)
    }

    /// [`BatchBuilder::record_size`] of a record whose value may be null,
    /// with `headers`.
    pub fn record_size_with(
        &self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        timestamp_ms: u64,
    ) -> usize {
        let base = self.base_timestamp.unwrap_or(timestamp_ms);
        let mut bytes = Vec::new();
        super::headers::encode(headers, &mut bytes);
        let body = record_body_len(
            key,
            value,
            timestamp_ms.wrapping_sub(base) as i64,
            self.count as i32,
            Headers::from_parts(headers.len() as u32, &bytes),
        );
        varint_len(body as i32) + body
    }

    /// Appends a record; returns the bytes it took.
    pub fn append(&mut self, key: Option<&[u8]>, value: &[u8], timestamp_ms: u64) -> usize {
        self.append_record(key, Some(value), timestamp_ms)
    }

    /// Appends a record whose value may be null (a tombstone); returns the
    /// bytes it took.
    pub fn append_record(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp_ms: u64,
    ) -> usize {
        let delta = self.count;
        self.append_at(delta, key, value, Headers::NONE, timestamp_ms)
    }

    /// Appends a record with `headers`; returns the bytes it took.
    pub fn append_with_headers(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        timestamp_ms: u64,
    ) -> usize {
        let mut bytes = Vec::new();
        super::headers::encode(headers, &mut bytes);
        let headers = Headers::from_parts(headers.len() as u32, &bytes);
        let delta = self.count;
        self.append_at(delta, key, value, headers, timestamp_ms)
    }

    /// Appends an owned record; returns the bytes it took.
    pub fn append_owned(&mut self, record: &Record) -> usize {
        let mut bytes = Vec::new();
        super::headers::encode_owned(&record.headers, &mut bytes);
        let headers = Headers::from_parts(record.headers.len() as u32, &bytes);
        let delta = self.count;
        let (key, value) = (record.key.as_deref(), record.value.as_deref());
        self.append_at(delta, key, value, headers, record.timestamp_ms)
    }

    /// [`BatchBuilder::append_with_headers`] if `fits` accepts the bytes
    /// the record would take ([`BatchBuilder::record_size_with`], worked
    /// out once for both); returns them, or None with nothing appended.
    pub fn append_if(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        timestamp_ms: u64,
        fits: impl FnOnce(usize) -> bool,
    ) -> Option<usize> {
        let mut bytes = Vec::new();
        super::headers::encode(headers, &mut bytes);
        let headers = Headers::from_parts(headers.len() as u32, &bytes);
        let base = self.base_timestamp.unwrap_or(timestamp_ms);
        let delta = timestamp_ms.wrapping_sub(base) as i64;
        let body = record_body_len(key, value, delta, self.count as i32, headers);
        if !fits(varint_len(body as i32) + body) {
            return None;
        }
        let offset_delta = self.count;
        Some(self.append_body(offset_delta, key, value, headers, timestamp_ms, body))
    }

    /// Appends a record at `offset_delta` (at or past every earlier one's:
    /// the cleaner keeps each record's offset); returns the bytes it took.
    fn append_at(
        &mut self,
        offset_delta: u32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Headers<'_>,
        timestamp_ms: u64,
    ) -> usize {
        let base = self.base_timestamp.unwrap_or(timestamp_ms);
        let delta = timestamp_ms.wrapping_sub(base) as i64;
        let body = record_body_len(key, value, delta, offset_delta as i32, headers);
        self.append_body(offset_delta, key, value, headers, timestamp_ms, body)
    }

    /// [`BatchBuilder::append_at`] given the record's `body` length.
    fn append_body(
        &mut self,
        offset_delta: u32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Headers<'_>,
        timestamp_ms: u64,
        body: usize,
    ) -> usize {
        let base = *self.base_timestamp.get_or_insert(timestamp_ms);
        let delta = timestamp_ms.wrapping_sub(base) as i64;
        let start = self.records.len();
        put_varint(&mut self.records, body as i32);
        self.records.push(0); // record attributes
        put_varlong(&mut self.records, delta);
        put_varint(&mut self.records, offset_delta as i32);
        match key {
            Some(k) => {
                put_varint(&mut self.records, k.len() as i32);
                self.records.extend_from_slice(k);
            }
            None => put_varint(&mut self.records, -1),
        }
        match value {
            Some(v) => {
                put_varint(&mut self.records, v.len() as i32);
                self.records.extend_from_slice(v);
            }
            None => put_varint(&mut self.records, -1),
        }
        put_varint(&mut self.records, headers.len() as i32);
        self.records.extend_from_slice(headers.bytes());
        self.count += 1;
        self.last_offset_delta = offset_delta;
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        self.records.len() - start
    }

    /// The batch of the records appended, with these producer fields; its
    /// base offset 0 and partition leader epoch unset (the leader stamps them).
    ///
    /// # Panics
    /// When no record was appended (Kafka never sends an empty batch).
    pub fn build(&self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> RecordBatch {
        self.build_with(0, producer_id, producer_epoch, base_sequence)
    }

    /// [`BatchBuilder::build`] for a transactional producer: the batch
    /// carries the transactional attribute (`isTransactional: true`).
    pub fn build_transactional(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> RecordBatch {
        self.build_with(
            TRANSACTIONAL_FLAG,
            producer_id,
            producer_epoch,
            base_sequence,
        )
    }

    fn build_with(
        &self,
        attributes: i16,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> RecordBatch {
        assert!(self.count > 0, "a batch holds at least one record");
        let compressed = (self.compression.kind != CompressionType::None)
            .then(|| self.compression.compress(&self.records));
        let mut batch = RecordBatch {
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            attributes: attributes | self.compression.kind.id(),
            producer_id,
            producer_epoch,
            base_sequence,
            last_offset_delta: self.last_offset_delta,
            count: self.count,
            base_timestamp: self.base_timestamp.unwrap_or(0),
            max_timestamp: self.max_timestamp,
            crc: 0,
            records: Blob::from_slice(&self.records),
            wire: None,
        };
        // The CRC from the bytes at hand, not from the blobs (which may
        // keep them compressed in memory).
        batch.crc = batch.compute_crc(compressed.as_deref().unwrap_or(&self.records));
        batch.wire = compressed.map(|c| Box::new(Blob::raw(c)));
        batch
    }
}

/// A v2 record batch: records from `base_offset` to its last offset (every
/// offset between, unless the log cleaner removed some).
pub struct RecordBatch {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Epoch of the leader that appended it (-1 = none).
    pub partition_leader_epoch: i32,
    /// The codec ([`COMPRESSION_CODEC_MASK`]), [`TRANSACTIONAL_FLAG`],
    /// [`CONTROL_FLAG`] and [`DELETE_HORIZON_FLAG`] (no other bit is modelled).
    attributes: i16,
    /// Idempotent producer id (-1 = none, [`NO_PRODUCER_ID`]).
    pub producer_id: i64,
    /// Producer epoch (-1 = none).
    pub producer_epoch: i16,
    /// Sequence of the first record (-1 = none, [`NO_SEQUENCE`]).
    pub base_sequence: i32,
    last_offset_delta: u32,
    /// Records it holds (`recordCount`): `last_offset_delta + 1` unless
    /// the cleaner removed some.
    count: u32,
    base_timestamp: u64,
    max_timestamp: u64,
    crc: u32,
    /// Every record's bytes, in offset order, uncompressed.
    records: Blob,
    /// A compressed batch's records section: the codec's stream of
    /// `records` (boxed: a batch takes 80 bytes, see `tests.rs`).
    wire: Option<Box<Blob>>,
}

impl Clone for RecordBatch {
    fn clone(&self) -> Self {
        Self {
            base_offset: self.base_offset,
            partition_leader_epoch: self.partition_leader_epoch,
            attributes: self.attributes,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            last_offset_delta: self.last_offset_delta,
            count: self.count,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            crc: self.crc,
            records: self.records.clone(),
            wire: self.wire.clone(),
        }
    }
}

/// Why bytes do not decode to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BatchError {
    /// Fewer bytes than the batch header says: a torn tail.
    #[error("record batch truncated")]
    Truncated,
    /// Bad length, magic, CRC or record contents.
    #[error("corrupt record batch")]
    Corrupt,
}

impl fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBatch")
            .field("base_offset", &self.base_offset)
            .field("partition_leader_epoch", &self.partition_leader_epoch)
            .field("producer_id", &self.producer_id)
            .field("producer_epoch", &self.producer_epoch)
            .field("base_sequence", &self.base_sequence)
            .field("records", &self.record_count())
            .field("compression", &self.compression_type())
            .field("crc", &self.crc)
            .finish()
    }
}

/// Equal batches have equal headers and records (the CRC follows from them).
impl PartialEq for RecordBatch {
    fn eq(&self, other: &Self) -> bool {
        self.header() == other.header() && self.wire_blob() == other.wire_blob()
    }
}

impl Eq for RecordBatch {}

/// A batch's hash for the simulation trace: what its CRC does not cover
/// (base offset, partition leader epoch, length) and the CRC, which stands
/// for the attributes, producer fields, timestamps and records' bytes
/// (hashing every record on every hop cost more than the rest of a run).
impl Hash for RecordBatch {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.base_offset);
        state.write_u64(u64::from(self.partition_leader_epoch as u32) << 32 | u64::from(self.crc));
        state.write_usize(self.size_in_bytes());
    }
}

impl RecordBatch {
    /// The batch of `records` (at least one) with the given header fields.
    pub fn of(
        base_offset: u64,
        partition_leader_epoch: i32,
        (producer_id, producer_epoch, base_sequence): (i64, i16, i32),
        records: &[Record],
    ) -> Self {
        let mut builder = BatchBuilder::for_records(records);
        for r in records {
            builder.append_owned(r);
        }
        let mut batch = builder.build(producer_id, producer_epoch, base_sequence);
        batch.base_offset = base_offset;
        batch.partition_leader_epoch = partition_leader_epoch;
        batch
    }

    /// The transactional batch of `records` (at least one) a coordinator
    /// writes for a producer's transaction (the group coordinator's
    /// TxnOffsetCommit: Kafka's `MemoryRecords.withTransactionalRecords`,
    /// no sequence).
    pub fn transactional_of(producer_id: i64, producer_epoch: i16, records: &[Record]) -> Self {
        let mut builder = BatchBuilder::for_records(records);
        for r in records {
            builder.append_owned(r);
        }
        builder.build_transactional(producer_id, producer_epoch, NO_SEQUENCE)
    }

    /// The control batch of one end transaction marker (Kafka's
    /// `MemoryRecords.withEndTransactionMarker`): transactional and control,
    /// no sequence, the marker's key and value as its one record.
    pub fn end_txn_marker(
        producer_id: i64,
        producer_epoch: i16,
        marker: EndTransactionMarker,
        timestamp_ms: u64,
    ) -> Self {
        let mut builder = BatchBuilder::new();
        builder.append(Some(&marker.key()), &marker.value(), timestamp_ms);
        builder.build_with(
            TRANSACTIONAL_FLAG | CONTROL_FLAG,
            producer_id,
            producer_epoch,
            NO_SEQUENCE,
        )
    }

    /// Whether its records belong to a transaction (`isTransactional`).
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// Whether it holds a control record (`isControl`).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// The end transaction marker a control batch holds.
    pub fn end_txn_marker_of(&self) -> Option<EndTransactionMarker> {
        if !self.is_control() {
            return None;
        }
        let mut marker = None;
        self.for_each_record(|r| {
            marker = marker.or_else(|| EndTransactionMarker::parse(r.key?, r.value?));
        });
        marker
    }

    /// The same batch at `base_offset` in `leader_epoch`: what the leader
    /// writes (its records are shared, not copied).
    pub fn stamped(&self, base_offset: u64, leader_epoch: i32) -> Self {
        let mut batch = Self {
            base_offset,
            partition_leader_epoch: leader_epoch,
            ..self.clone()
        };
        batch.join_header_and_records();
        batch
    }

    /// Makes its header and its records section as written one buffer (see
    /// [`Blob::prefixed`]): a log writes the two one after the other, and
    /// each file holding the batch (the leader's and every follower's)
    /// then keeps them as one extent, in one allocation.
    fn join_header_and_records(&mut self) {
        let header = self.header();
        // Its header and records as a batch's bytes are what `decode`
        // checks: a batch is made valid (built, or decoded and checked).
        let whole = Blob::prefixed_vouched(&header, self.wire_blob());
        let records = whole.slice(header.len()..whole.len());
        match &mut self.wire {
            Some(wire) => **wire = records,
            None => self.records = records,
        }
    }

    /// The same records under new producer fields (a producer that starts
    /// over with a new id renumbers its queued batches).
    pub fn with_producer(&self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        let mut batch = Self {
            producer_id,
            producer_epoch,
            base_sequence,
            ..self.clone()
        };
        batch.crc = batch.compute_crc(&self.wire_blob().bytes());
        batch
    }

    /// The same records compressed with `compression` (Kafka's
    /// `LogValidator` rebuilding a batch for a topic whose
    /// `compression.type` differs from the producer's codec): same header
    /// fields and attributes but the codec, a new CRC.
    pub fn recompressed(&self, compression: Compression) -> Self {
        let wire = (compression.kind != CompressionType::None)
            .then(|| Box::new(Blob::raw(compression.compress(&self.records.bytes()))));
        let mut batch = Self {
            attributes: (self.attributes & !COMPRESSION_CODEC_MASK) | compression.kind.id(),
            wire,
            ..self.clone()
        };
        batch.crc = batch.compute_crc(&batch.wire_blob().bytes());
        batch
    }

    /// Its codec (the attributes' low bits).
    pub fn compression_type(&self) -> CompressionType {
        CompressionType::from_id(self.attributes & COMPRESSION_CODEC_MASK)
            .expect("a batch is built or decoded with a known codec")
    }

    /// The records section as written: the codec's stream, or the records.
    fn wire_blob(&self) -> &Blob {
        self.wire.as_deref().unwrap_or(&self.records)
    }

    /// The header fields the CRC covers, from attributes to recordCount.
    fn crc_header(&self) -> [u8; RECORD_BATCH_OVERHEAD - ATTRIBUTES_OFFSET] {
        let mut h = [0u8; RECORD_BATCH_OVERHEAD - ATTRIBUTES_OFFSET];
        h[0..2].copy_from_slice(&self.attributes.to_be_bytes());
        h[2..6].copy_from_slice(&(self.last_offset_delta as i32).to_be_bytes());
        h[6..14].copy_from_slice(&(self.base_timestamp as i64).to_be_bytes());
        h[14..22].copy_from_slice(&(self.max_timestamp as i64).to_be_bytes());
        h[22..30].copy_from_slice(&self.producer_id.to_be_bytes());
        h[30..32].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[32..36].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[36..40].copy_from_slice(&(self.count as i32).to_be_bytes());
        h
    }

    fn compute_crc(&self, records: &[u8]) -> u32 {
        crc32c::crc32c_append(crc32c::crc32c(&self.crc_header()), records)
    }

    /// The 61-byte header as Kafka writes it.
    pub fn header(&self) -> [u8; RECORD_BATCH_OVERHEAD] {
        let mut h = [0u8; RECORD_BATCH_OVERHEAD];
        h[0..8].copy_from_slice(&(self.base_offset as i64).to_be_bytes());
        let length = (self.size_in_bytes() - LOG_OVERHEAD) as i32;
        h[8..12].copy_from_slice(&length.to_be_bytes());
        h[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[MAGIC_OFFSET] = MAGIC_V2 as u8;
        h[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&self.crc.to_be_bytes());
        h[ATTRIBUTES_OFFSET..].copy_from_slice(&self.crc_header());
        h
    }

    /// The header as bytes to write: shared with the records section when
    /// they are one buffer (a leader's batch, see
    /// [`RecordBatch::stamped`]: the leader and every follower then write
    /// one copy), else a copy of its own.
    pub fn header_blob(&self) -> Blob {
        let header = self.header();
        self.wire_blob()
            .preceding(RECORD_BATCH_OVERHEAD)
            .filter(|h| *h.bytes() == header[..])
            .unwrap_or_else(|| Blob::copy_of(&header))
    }

    /// The records section as written, compressed or not (shared bytes).
    pub fn records_blob(&self) -> &Blob {
        self.wire_blob()
    }

    /// Bytes of its records uncompressed (the records section of an
    /// uncompressed batch).
    pub fn uncompressed_records_len(&self) -> usize {
        self.records.len()
    }

    /// The stored CRC-32C.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Offset of the last record relative to `base_offset`.
    pub fn last_offset_delta(&self) -> u32 {
        self.last_offset_delta
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// The offset after the last record.
    pub fn next_offset(&self) -> u64 {
        self.last_offset() + 1
    }

    /// Number of records (`recordCount`): one per offset it covers unless
    /// the cleaner removed some; 0 for an empty batch it kept for its
    /// producer's sequence.
    pub fn record_count(&self) -> u64 {
        u64::from(self.count)
    }

    /// The delete horizon of its tombstones and transaction marker, set by
    /// the cleaner (Kafka's `deleteHorizonMs`, KIP-534).
    pub fn delete_horizon_ms(&self) -> Option<u64> {
        (self.attributes & DELETE_HORIZON_FLAG != 0).then_some(self.base_timestamp)
    }

    /// Whether some offset it covers holds no record (the cleaner removed it).
    pub fn is_compacted(&self) -> bool {
        self.count != self.last_offset_delta + 1
    }

    /// The batch of the records the cleaner keeps of it (Kafka's
    /// `buildRetainedRecordsInto`): the same base offset, last offset,
    /// producer fields, flags and codec (at its default level), the kept
    /// records at their own offsets; with `delete_horizon_ms`, that in
    /// place of the base timestamp. `keep` holds at least one record.
    pub fn retained(&self, keep: &[RecordView<'_>], delete_horizon_ms: Option<u64>) -> Self {
        assert!(!keep.is_empty(), "a retained batch keeps a record");
        let kind = self.compression_type();
        let mut builder = BatchBuilder::new().compressed(Compression {
            kind,
            level: kind.default_level(),
        });
        builder.base_timestamp = delete_horizon_ms;
        for r in keep {
            builder.append_at(r.offset_delta, r.key, r.value, r.headers, r.timestamp_ms);
        }
        builder.last_offset_delta = self.last_offset_delta;
        let flags = self.attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG);
        let horizon = if delete_horizon_ms.is_some() {
            DELETE_HORIZON_FLAG
        } else {
            0
        };
        let mut batch = builder.build_with(
            flags | horizon,
            self.producer_id,
            self.producer_epoch,
            self.base_sequence,
        );
        batch.base_offset = self.base_offset;
        batch.partition_leader_epoch = self.partition_leader_epoch;
        batch
    }

    /// Its header alone, holding no record (Kafka's `writeEmptyHeader`): what
    /// the cleaner keeps of the last batch of a producer still active, for
    /// its sequence and epoch. Uncompressed, base timestamp
    /// [`NO_TIMESTAMP`], the same offsets, producer fields, transactional
    /// and control flags and largest timestamp.
    pub fn emptied(&self) -> Self {
        let mut batch = Self {
            attributes: self.attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG),
            count: 0,
            base_timestamp: NO_TIMESTAMP,
            records: Blob::empty(),
            wire: None,
            ..self.clone()
        };
        batch.crc = batch.compute_crc(&[]);
        batch
    }

    /// Sequence of the last record: `base_sequence + count - 1`, wrapping past
    /// `i32::MAX` to 0 as Kafka's `DefaultRecordBatch.incrementSequence`
    /// does; [`NO_SEQUENCE`] when the batch has none.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta as i32)
    }

    /// Largest record timestamp.
    pub fn max_timestamp(&self) -> u64 {
        self.max_timestamp
    }

    /// Length of [`RecordBatch::encode`]'s output.
    pub fn size_in_bytes(&self) -> usize {
        RECORD_BATCH_OVERHEAD + self.wire_blob().len()
    }

    /// The batch in Kafka's v2 format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_in_bytes());
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.wire_blob().bytes());
        out
    }

    /// Calls `f` with every record, in offset order.
    pub fn for_each_record(&self, mut f: impl FnMut(RecordView<'_>)) {
        // The records were checked when the batch was built or decoded: read
        // them without checking again.
        let bytes = self.records.bytes();
        let mut pos = 0;
        for _ in 0..self.count {
            f(read_checked_record(&bytes, &mut pos, self.base_timestamp));
        }
    }

    /// Calls `f` with every record's offset delta, value (None: a
    /// tombstone) and headers, in offset order: [`Self::for_each_record`]
    /// without decoding keys and timestamps, for readers of record ids.
    pub fn for_each_value(&self, mut f: impl FnMut(u32, Option<&[u8]>, Headers<'_>)) {
        let bytes = self.records.bytes();
        let bytes: &[u8] = &bytes;
        let mut pos = 0;
        for _ in 0..self.count {
            let len = checked_zigzag(bytes, &mut pos) as usize;
            let end = pos + len;
            pos += 1; // attributes
            skip_checked_varint(bytes, &mut pos); // timestamp delta
            let offset_delta = checked_zigzag(bytes, &mut pos) as u32;
            let key_len = checked_zigzag(bytes, &mut pos);
            pos += key_len.max(0) as usize;
            let value = match checked_zigzag(bytes, &mut pos) {
                -1 => None,
                n => {
                    let value = &bytes[pos..pos + n as usize];
                    pos += n as usize;
                    Some(value)
                }
            };
            let count = checked_zigzag(bytes, &mut pos) as u32;
            f(
                offset_delta,
                value,
                Headers::from_parts(count, &bytes[pos..end]),
            );
            pos = end;
        }
    }

    /// Owned copies of the records.
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.record_count() as usize);
        self.for_each_record(|r| out.push(r.to_record()));
        out
    }

    /// Decodes the batch at the start of `bytes`; returns it and the number of
    /// bytes it took. Never panics, whatever the input.
    ///
    /// [`BatchError::Truncated`]: `bytes` end before the batch does (including
    /// an input shorter than the 12-byte offset+length prefix, or empty).
    /// [`BatchError::Corrupt`]: a length below the header size, a magic other
    /// than 2, a CRC mismatch, a codec Kafka does not have or a stream that
    /// does not decompress, or contents this model cannot hold (empty
    /// batches, control batches other than one end transaction
    /// marker, offset deltas that are not 0, 1, 2, ..., varints longer
    /// than needed).
    /// What decodes re-encodes to exactly the bytes it took.
    pub fn decode(bytes: &[u8]) -> Result<(RecordBatch, usize), BatchError> {
        Self::decode_shared(bytes, None)
    }

    /// [`RecordBatch::decode`] of the batch at byte `at` of `blob`: an
    /// uncompressed batch's records share the blob's buffer, not a copy.
    pub fn decode_in(blob: &Blob, at: usize) -> Result<(RecordBatch, usize), BatchError> {
        if at == 0 && blob.vouched_whole() {
            if let Some(decoded) = Self::decode_vouched(blob) {
                debug_assert_eq!(
                    Ok(&decoded),
                    Self::decode_shared(&blob.bytes(), Some((blob, 0))).as_ref(),
                    "a vouched batch decodes as its bytes do"
                );
                return Ok(decoded);
            }
        }
        let bytes = blob.bytes();
        Self::decode_shared(&bytes[at..], Some((blob, at)))
    }

    /// The batch whose bytes `blob` is, whole, as [`Blob::prefixed_vouched`]
    /// made them from a batch ([`RecordBatch::stamped`]): its header fields
    /// read, its CRC and records not checked again (a blob's bytes never
    /// change, and a corrupted extent is a copy, not vouched). None for a
    /// compressed batch, which the full decode reads.
    fn decode_vouched(blob: &Blob) -> Option<(RecordBatch, usize)> {
        let bytes = blob.bytes();
        let mut r = Reader::new(&bytes);
        let base_offset = r.i64()?;
        // The batch length, partition leader epoch and magic.
        r.take(CRC_OFFSET - std::mem::size_of::<i64>())?;
        let crc = r.i32()? as u32;
        let fields = HeaderFields::read(&mut r)?;
        if fields.attributes & COMPRESSION_CODEC_MASK != 0 {
            return None;
        }
        let records = blob.slice(RECORD_BATCH_OVERHEAD..blob.len());
        let batch = fields.batch(&bytes, base_offset, crc, records, None)?;
        Some((batch, blob.len()))
    }

    /// [`RecordBatch::decode`] of `bytes`, which are those of `shared` (a
    /// blob and where in it they start), if given.
    fn decode_shared(
        bytes: &[u8],
        shared: Option<(&Blob, usize)>,
    ) -> Result<(RecordBatch, usize), BatchError> {
        let mut r = Reader::new(bytes);
        let (Some(base_offset), Some(batch_length)) = (r.i64(), r.i32()) else {
            return Err(BatchError::Truncated);
        };
        if batch_length < (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32 {
            return Err(BatchError::Corrupt);
        }
        let total = LOG_OVERHEAD + batch_length as usize;
        if bytes.len() < total {
            return Err(BatchError::Truncated);
        }
        let batch = &bytes[..total];
        if batch[MAGIC_OFFSET] as i8 != MAGIC_V2 {
            return Err(BatchError::Corrupt);
        }
        let stored_crc = u32::from_be_bytes([
            batch[CRC_OFFSET],
            batch[CRC_OFFSET + 1],
            batch[CRC_OFFSET + 2],
            batch[CRC_OFFSET + 3],
        ]);
        if crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]) != stored_crc {
            return Err(BatchError::Corrupt);
        }
        let decoded =
            decode_checked(batch, base_offset, stored_crc, shared).ok_or(BatchError::Corrupt)?;
        Ok((decoded, total))
    }
}

/// The type of a control record (Kafka's `ControlRecordType`); only the
/// two end transaction markers are modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The transaction aborted (type id 0).
    Abort,
    /// The transaction committed (type id 1).
    Commit,
}

impl ControlRecordType {
    /// Its type id in a control record's key.
    pub fn type_id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
        }
    }

    /// Its name as Kafka prints it (`endTxnMarker: COMMIT`).
    pub fn name(self) -> &'static str {
        match self {
            ControlRecordType::Abort => "ABORT",
            ControlRecordType::Commit => "COMMIT",
        }
    }
}

/// The control record that ends a transaction in a partition (Kafka's
/// `EndTransactionMarker`). Key: version (int16, 0) and control type
/// (int16); value: version (int16, 0) and the coordinator epoch (int32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EndTransactionMarker {
    /// COMMIT or ABORT.
    pub control_type: ControlRecordType,
    /// The epoch of the transaction coordinator that wrote it.
    pub coordinator_epoch: i32,
}

/// Version of the control record key and of the marker value written.
const END_TXN_MARKER_VERSION: i16 = 0;

impl EndTransactionMarker {
    /// The control record key: version, then type id.
    pub fn key(&self) -> [u8; 4] {
        let mut key = [0u8; 4];
        key[..2].copy_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
        key[2..].copy_from_slice(&self.control_type.type_id().to_be_bytes());
        key
    }

    /// The record value: version, then coordinator epoch.
    pub fn value(&self) -> [u8; 6] {
        let mut value = [0u8; 6];
        value[..2].copy_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
        value[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        value
    }

    /// Reads a marker from a control record's key and value, as Kafka's
    /// `EndTransactionMarker.deserialize` does: a key of 4 bytes with a
    /// version of 0 and type ABORT or COMMIT, a value of at least 6 bytes
    /// with a version not below 0 (a later version is read as version 0).
    pub fn parse(key: &[u8], value: &[u8]) -> Option<Self> {
        let version = i16::from_be_bytes(key.get(..2)?.try_into().ok()?);
        let type_id = i16::from_be_bytes(key.get(2..4)?.try_into().ok()?);
        if key.len() != 4 || version != 0 {
            return None;
        }
        let control_type = match type_id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            _ => return None,
        };
        let value_version = i16::from_be_bytes(value.get(..2)?.try_into().ok()?);
        let coordinator_epoch = i32::from_be_bytes(value.get(2..6)?.try_into().ok()?);
        if value_version < 0 {
            return None;
        }
        Some(Self {
            control_type,
            coordinator_epoch,
        })
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap from
/// `i32::MAX` to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Length of a record after its length varint.
fn record_body_len(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    timestamp_delta: i64,
    offset_delta: i32,
    headers: Headers<'_>,
) -> usize {
    let field = |bytes: Option<&[u8]>| match bytes {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => varint_len(-1),
    };
    1 + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + field(key)
        + field(value)
        + headers.encoded_len()
}

/// Parses a batch whose length, magic and CRC were checked: every record
/// must decode canonically (shortest varints), so it re-encodes to the
/// bytes it came from.
fn decode_checked(
    batch: &[u8],
    base_offset: i64,
    crc: u32,
    shared: Option<(&Blob, usize)>,
) -> Option<RecordBatch> {
    let mut r = Reader::new(batch);
    r.take(ATTRIBUTES_OFFSET)?;
    let fields = HeaderFields::read(&mut r)?;
    let HeaderFields {
        attributes,
        last_offset_delta,
        base_ts,
        max_ts,
        count,
        ..
    } = fields;
    let modelled = [0, TRANSACTIONAL_FLAG, TRANSACTIONAL_FLAG | CONTROL_FLAG];
    let codec = CompressionType::from_id(attributes & COMPRESSION_CODEC_MASK)?;
    let flags = attributes & !(COMPRESSION_CODEC_MASK | DELETE_HORIZON_FLAG);
    let horizon = attributes & DELETE_HORIZON_FLAG != 0;
    if base_offset < 0
        || !modelled.contains(&flags)
        || count < 0
        || last_offset_delta < 0
        || count > last_offset_delta.saturating_add(1)
    {
        return None;
    }
    if count == 0 {
        // An empty batch, as the cleaner writes one (`writeEmptyHeader`):
        // uncompressed, no base timestamp, no delete horizon.
        if codec != CompressionType::None
            || horizon
            || base_ts != NO_TIMESTAMP
            || batch.len() != RECORD_BATCH_OVERHEAD
        {
            return None;
        }
    }
    let section = &batch[RECORD_BATCH_OVERHEAD..];
    let (decompressed, wire) = match codec {
        CompressionType::None => (None, None),
        codec => (
            Some(decompress(codec, section)?),
            Some(Box::new(Blob::copy_of(section))),
        ),
    };
    let records = decompressed.as_deref().unwrap_or(section);
    let mut rr = Reader::new(records);
    let mut seen_max = 0;
    let mut first_ts = None;
    // Offset deltas rise and end at or below the last one (the cleaner
    // leaves out records, never reorders them).
    let mut next_delta = 0;
    for _ in 0..count {
        let record = read_record(&mut rr, base_ts, next_delta, last_offset_delta)?;
        next_delta = (record.offset_delta as i32).saturating_add(1);
        seen_max = u64::max(seen_max, record.timestamp_ms);
        first_ts.get_or_insert(record.timestamp_ms);
    }
    // The base timestamp is the first record's (Kafka's builder), or the
    // delete horizon the cleaner set.
    let base_ok = horizon || count == 0 || first_ts == Some(base_ts);
    if rr.remaining() != 0 || (count > 0 && seen_max != max_ts) || !base_ok {
        return None;
    }
    if count > 0 && i64::from(count) != i64::from(last_offset_delta) + 1 && !compactable(attributes)
    {
        return None;
    }
    if attributes & CONTROL_FLAG != 0 && count > 0 {
        // The only control batch modelled: one end transaction marker (or
        // none, once the cleaner emptied it).
        let mut rr = Reader::new(records);
        let marker = read_record(&mut rr, base_ts, 0, last_offset_delta)?;
        let parsed = marker.key.zip(marker.value);
        if count != 1
            || parsed
                .and_then(|(k, v)| EndTransactionMarker::parse(k, v))
                .is_none()
        {
            return None;
        }
    }
    let records = match shared {
        Some((blob, at)) if decompressed.is_none() => {
            blob.slice(at + RECORD_BATCH_OVERHEAD..at + batch.len())
        }
        _ => Blob::from_slice(records),
    };
    fields.batch(batch, base_offset, crc, records, wire)
}

/// A batch header's fields from its attributes to its record count, in
/// Kafka's order.
#[derive(Clone, Copy)]
struct HeaderFields {
    attributes: i16,
    last_offset_delta: i32,
    base_ts: u64,
    max_ts: u64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: i32,
}

impl HeaderFields {
    /// The fields at `r`, which is at the attributes.
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(Self {
            attributes: r.i16()?,
            last_offset_delta: r.i32()?,
            base_ts: r.i64()? as u64,
            max_ts: r.i64()? as u64,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            base_sequence: r.i32()?,
            count: r.i32()?,
        })
    }

    /// The batch of these fields whose `header` bytes give its partition
    /// leader epoch, with these records.
    fn batch(
        self,
        header: &[u8],
        base_offset: i64,
        crc: u32,
        records: Blob,
        wire: Option<Box<Blob>>,
    ) -> Option<RecordBatch> {
        Some(RecordBatch {
            base_offset: base_offset as u64,
            partition_leader_epoch: i32::from_be_bytes(header.get(12..16)?.try_into().ok()?),
            attributes: self.attributes,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            last_offset_delta: self.last_offset_delta as u32,
            count: self.count as u32,
            base_timestamp: self.base_ts,
            max_timestamp: self.max_ts,
            crc,
            records,
            wire,
        })
    }
}

/// An unsigned LEB128 varint at `*pos` of bytes known to hold one.
#[inline]
fn checked_unsigned(bytes: &[u8], pos: &mut usize) -> u64 {
    // Most are one byte (lengths and deltas below 64), the rest mostly two
    // (a record's length and its value's).
    let first = bytes[*pos];
    if first < 0x80 {
        *pos += 1;
        return u64::from(first);
    }
    let second = bytes[*pos + 1];
    if second < 0x80 {
        *pos += 2;
        return u64::from(first & 0x7F) | u64::from(second) << 7;
    }
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*pos];
        *pos += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Moves `*pos` past the varint there, in bytes known to hold one.
#[inline]
fn skip_checked_varint(bytes: &[u8], pos: &mut usize) {
    while bytes[*pos] >= 0x80 {
        *pos += 1;
    }
    *pos += 1;
}

#[inline]
fn checked_zigzag(bytes: &[u8], pos: &mut usize) -> i64 {
    let raw = checked_unsigned(bytes, pos);
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// The record at `*pos` of a records section already checked by
/// [`read_record`]; moves `*pos` past it.
fn read_checked_record<'a>(bytes: &'a [u8], pos: &mut usize, base_ts: u64) -> RecordView<'a> {
    let len = checked_zigzag(bytes, pos) as usize;
    let end = *pos + len;
    *pos += 1; // attributes
    let delta = checked_zigzag(bytes, pos);
    let offset_delta = checked_zigzag(bytes, pos) as u32;
    let field = |pos: &mut usize| match checked_zigzag(bytes, pos) {
        -1 => None,
        n => {
            let field = &bytes[*pos..*pos + n as usize];
            *pos += n as usize;
            Some(field)
        }
    };
    let key = field(pos);
    let value = field(pos);
    let count = checked_zigzag(bytes, pos) as u32;
    let headers = Headers::from_parts(count, &bytes[*pos..end]);
    *pos = end;
    RecordView {
        offset_delta,
        timestamp_ms: base_ts.wrapping_add(delta as u64),
        key,
        value,
        headers,
    }
}

/// Whether a batch with these attributes may hold fewer records than
/// offsets: any but a control batch (whose one marker the cleaner keeps
/// whole or removes with the batch's records).
fn compactable(attributes: i16) -> bool {
    attributes & CONTROL_FLAG == 0
}

/// Reads a record (its length varint first) whose offset delta lies in
/// `from..=last`; None unless it is exactly a canonical `DefaultRecord`.
fn read_record<'a>(
    r: &mut Reader<'a>,
    base_ts: u64,
    from: i32,
    last: i32,
) -> Option<RecordView<'a>> {
    let at = r.position();
    let len = r.varint()?;
    if r.position() - at != varint_len(len) {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    let start = r.position();
    if r.i8()? != 0 {
        return None;
    }
    let delta = r.varlong()?;
    let timestamp_ms = base_ts.wrapping_add(delta as u64);
    let index = r.varint()?;
    if index < from || index > last {
        return None;
    }
    let key = match r.varint()? {
        -1 => None,
        n => Some(r.take(usize::try_from(n).ok()?)?),
    };
    let value = match r.varint()? {
        -1 => None,
        n => Some(r.take(usize::try_from(n).ok()?)?),
    };
    let headers = Headers::read(r)?;
    if r.position() - start != len {
        return None;
    }
    // Only canonical encodings (shortest varints) are accepted.
    if record_body_len(key, value, delta, index, headers) != len {
        return None;
    }
    Some(RecordView {
        offset_delta: index as u32,
        timestamp_ms,
        key,
        value,
        headers,
    })
}
