//! Records and v2 record batches (Kafka's `DefaultRecordBatch` and
//! `DefaultRecord`), with their byte encoding.
//!
//! Batch layout, big-endian, as in Kafka's message format v2:
//!
//! ```text
//! baseOffset: i64             | not covered by the CRC
//! batchLength: i32            |   (bytes after this field)
//! partitionLeaderEpoch: i32   |
//! magic: i8 (= 2)             |
//! crc: u32                    CRC-32C of everything below
//! attributes: i16             (0: no compression, CreateTime, not transactional, not control)
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
//! and key, value length varint and value, header count varint (always 0).
//!
//! As in Kafka, `baseOffset`, `batchLength`, `partitionLeaderEpoch` and
//! `magic` lie outside the CRC (the leader stamps the epoch without
//! recomputing it), so a flipped bit in `baseOffset` or
//! `partitionLeaderEpoch` decodes fine; log recovery catches a bad
//! `baseOffset` as an offset gap.

use super::codec::{put_varint, put_varlong, varint_len, varlong_len, Reader};
use super::crc32c::crc32c;

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
/// `baseOffset` + `batchLength`: the bytes before the length-counted part.
pub const LOG_OVERHEAD: usize = 12;
/// Size of a batch header (a batch without records), Kafka's `RECORD_BATCH_OVERHEAD`.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
/// The CRC covers the bytes from here to the end of the batch.
const ATTRIBUTES_OFFSET: usize = 21;

/// One record: key, value and its CreateTime timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The key (None: a null key).
    pub key: Option<Vec<u8>>,
    /// The value.
    pub value: Vec<u8>,
    /// CreateTime, milliseconds.
    pub timestamp_ms: u64,
}

/// A record's hash for the simulation trace: its key, its value's length
/// and first eight bytes (where the workload stamps the record id) and its
/// timestamp. Hashing every value byte of every batch on every hop cost
/// more than the rest of a run; the id pins which record moved.
impl std::hash::Hash for Record {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.value.len().hash(state);
        self.value[..self.value.len().min(8)].hash(state);
        self.timestamp_ms.hash(state);
    }
}

/// A v2 record batch: records with consecutive offsets from `base_offset`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordBatch {
    /// Offset of the first record.
    pub base_offset: u64,
    /// Epoch of the leader that appended it (-1 = none).
    pub partition_leader_epoch: i32,
    /// Idempotent producer id (-1 = none, [`NO_PRODUCER_ID`]).
    pub producer_id: i64,
    /// Producer epoch (-1 = none).
    pub producer_epoch: i16,
    /// Sequence of the first record (-1 = none, [`NO_SEQUENCE`]).
    pub base_sequence: i32,
    /// The records; never empty.
    pub records: Vec<Record>,
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

impl RecordBatch {
    /// Offset of the last record relative to `base_offset`.
    pub fn last_offset_delta(&self) -> u32 {
        self.records.len().saturating_sub(1) as u32
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta())
    }

    /// The offset after the last record.
    pub fn next_offset(&self) -> u64 {
        self.last_offset() + 1
    }

    /// Number of records.
    pub fn record_count(&self) -> u64 {
        self.records.len() as u64
    }

    /// Sequence of the last record: `base_sequence + count - 1`, wrapping past
    /// `i32::MAX` to 0 as Kafka's `DefaultRecordBatch.incrementSequence`
    /// does; [`NO_SEQUENCE`] when the batch has none.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta() as i32)
    }

    /// Largest record timestamp (0 for a batch without records).
    pub fn max_timestamp(&self) -> u64 {
        self.records
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(0)
    }

    /// Timestamp of the first record, from which record deltas count.
    fn base_timestamp(&self) -> u64 {
        self.records.first().map_or(0, |r| r.timestamp_ms)
    }

    /// Length of [`RecordBatch::encode`]'s output, without encoding.
    pub fn size_in_bytes(&self) -> usize {
        let base_ts = self.base_timestamp();
        RECORD_BATCH_OVERHEAD
            + self
                .records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let body = record_body_len(r, base_ts, i as i32);
                    varint_len(body as i32) + body
                })
                .sum::<usize>()
    }

    /// The batch in Kafka's v2 format.
    pub fn encode(&self) -> Vec<u8> {
        let size = self.size_in_bytes();
        let mut out = Vec::with_capacity(size);
        let base_ts = self.base_timestamp();
        out.extend_from_slice(&(self.base_offset as i64).to_be_bytes());
        out.extend_from_slice(&((size - LOG_OVERHEAD) as i32).to_be_bytes());
        out.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out.push(MAGIC_V2 as u8);
        out.extend_from_slice(&[0; 4]); // CRC, filled in below
        out.extend_from_slice(&0i16.to_be_bytes()); // attributes
        out.extend_from_slice(&(self.last_offset_delta() as i32).to_be_bytes());
        out.extend_from_slice(&(base_ts as i64).to_be_bytes());
        out.extend_from_slice(&(self.max_timestamp() as i64).to_be_bytes());
        out.extend_from_slice(&self.producer_id.to_be_bytes());
        out.extend_from_slice(&self.producer_epoch.to_be_bytes());
        out.extend_from_slice(&self.base_sequence.to_be_bytes());
        out.extend_from_slice(&(self.records.len() as i32).to_be_bytes());
        for (i, r) in self.records.iter().enumerate() {
            let body = record_body_len(r, base_ts, i as i32);
            put_varint(&mut out, body as i32);
            out.push(0); // record attributes
            put_varlong(&mut out, r.timestamp_ms.wrapping_sub(base_ts) as i64);
            put_varint(&mut out, i as i32);
            match &r.key {
                Some(k) => {
                    put_varint(&mut out, k.len() as i32);
                    out.extend_from_slice(k);
                }
                None => put_varint(&mut out, -1),
            }
            put_varint(&mut out, r.value.len() as i32);
            out.extend_from_slice(&r.value);
            put_varint(&mut out, 0); // headers
        }
        debug_assert_eq!(out.len(), size);
        let crc = crc32c(&out[ATTRIBUTES_OFFSET..]);
        out[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes the batch at the start of `bytes`; returns it and the number of
    /// bytes it took. Never panics, whatever the input.
    ///
    /// [`BatchError::Truncated`]: `bytes` end before the batch does (including
    /// an input shorter than the 12-byte offset+length prefix, or empty).
    /// [`BatchError::Corrupt`]: a length below the header size, a magic other
    /// than 2, a CRC mismatch, or contents this model cannot hold (compressed,
    /// transactional or control batches, null values, headers, empty batches,
    /// offset deltas that are not 0, 1, 2, ..., varints longer than needed).
    /// What decodes re-encodes to exactly the bytes it took.
    pub fn decode(bytes: &[u8]) -> Result<(RecordBatch, usize), BatchError> {
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
        if crc32c(&batch[ATTRIBUTES_OFFSET..]) != stored_crc {
            return Err(BatchError::Corrupt);
        }
        let decoded = decode_checked(batch, base_offset).ok_or(BatchError::Corrupt)?;
        Ok((decoded, total))
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
fn record_body_len(r: &Record, base_ts: u64, offset_delta: i32) -> usize {
    let key = match &r.key {
        Some(k) => varint_len(k.len() as i32) + k.len(),
        None => varint_len(-1),
    };
    1 + varlong_len(r.timestamp_ms.wrapping_sub(base_ts) as i64)
        + varint_len(offset_delta)
        + key
        + varint_len(r.value.len() as i32)
        + r.value.len()
        + varint_len(0)
}

/// Parses a batch whose length, magic and CRC were checked.
fn decode_checked(batch: &[u8], base_offset: i64) -> Option<RecordBatch> {
    let mut r = Reader::new(batch);
    r.take(ATTRIBUTES_OFFSET)?;
    let attributes = r.i16()?;
    let last_offset_delta = r.i32()?;
    let base_ts = r.i64()? as u64;
    let max_ts = r.i64()? as u64;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let base_sequence = r.i32()?;
    let count = r.i32()?;
    if base_offset < 0 || attributes != 0 || count < 1 || last_offset_delta != count - 1 {
        return None;
    }
    // Every record takes at least 7 bytes: never trust `count` for allocation.
    let mut records = Vec::with_capacity((count as usize).min(r.remaining() / 7));
    for i in 0..count {
        let len = r.varint()?;
        let len = usize::try_from(len).ok()?;
        let start = r.position();
        records.push(decode_record(&mut r, base_ts, i)?);
        if r.position() - start != len {
            return None;
        }
    }
    if r.remaining() != 0 {
        return None;
    }
    let decoded = RecordBatch {
        base_offset: base_offset as u64,
        partition_leader_epoch: i32::from_be_bytes(batch[12..16].try_into().ok()?),
        producer_id,
        producer_epoch,
        base_sequence,
        records,
    };
    // Only canonical encodings (shortest varints) are accepted, so a batch
    // re-encodes to exactly the bytes it came from.
    let canonical = decoded.size_in_bytes() == batch.len();
    (canonical && decoded.max_timestamp() == max_ts && decoded.base_timestamp() == base_ts)
        .then_some(decoded)
}

fn decode_record(r: &mut Reader<'_>, base_ts: u64, index: i32) -> Option<Record> {
    if r.i8()? != 0 {
        return None;
    }
    let timestamp_ms = base_ts.wrapping_add(r.varlong()? as u64);
    if r.varint()? != index {
        return None;
    }
    let key = match r.varint()? {
        -1 => None,
        n => {
            let key_len = usize::try_from(n).ok()?;
            Some(r.take(key_len)?.to_vec())
        }
    };
    let value_len = usize::try_from(r.varint()?).ok()?;
    let value = r.take(value_len)?.to_vec();
    if r.varint()? != 0 {
        return None;
    }
    Some(Record {
        key,
        value,
        timestamp_ms,
    })
}
