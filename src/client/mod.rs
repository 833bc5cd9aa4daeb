//! Kafka clients: the admin client that creates the scenario's topics, the
//! producer and the consumer, and the record ids the workload stamps on values.

pub mod accumulator;
pub mod admin;
pub mod consumer;
pub mod membership;
pub mod metadata_age;
pub mod partitioner;
pub mod pipeline;
pub mod producer;
pub mod transaction_manager;

pub use admin::{AdminClient, AdminObs, AdminTimer};

/// A record `send()` was called for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentRecord {
    /// The workload's record id.
    pub id: u64,
    /// Its partition of the producer's topic.
    pub partition: u32,
    /// Its key's number among the workload's keys (None: a null key).
    pub key: Option<u32>,
    /// A tombstone: a null value (its id in the [`ID_HEADER`] header).
    pub tombstone: bool,
}

impl SentRecord {
    /// Record `id`, sent to `partition` with a null key.
    pub fn unkeyed(id: u64, partition: u32) -> Self {
        Self {
            id,
            partition,
            key: None,
            tombstone: false,
        }
    }
}

/// What a producer reports: each record's send and how it ended, a batch
/// (or a generation step) at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProducerObs {
    /// `send()` was called for these records, in send order (the id
    /// carries the send sequence).
    Sent(Vec<SentRecord>),
    /// A batch was acknowledged: its records in offset order, the first at
    /// `base_offset` (None under acks=0).
    Acked {
        /// The partition.
        partition: u32,
        /// Offset of the first record.
        base_offset: Option<u64>,
        /// Record ids.
        ids: Vec<u64>,
        /// The topic id of the log they went to (`Uuid(0)`: not known,
        /// under acks=0), which tells the incarnations of a recreated
        /// topic apart.
        topic_id: crate::metadata::Uuid,
    },
    /// Definitely not written.
    Failed {
        /// Record ids.
        ids: Vec<u64>,
        /// Why.
        error: String,
    },
    /// Maybe written, maybe not (a timeout or a lost connection).
    Indeterminate {
        /// Record ids.
        ids: Vec<u64>,
        /// Why.
        reason: String,
    },
    /// A transaction ended as the producer saw it: its records.
    TxnEnded {
        /// Committed, aborted, or unknown (fenced after EndTxn(commit) was sent).
        outcome: TxnOutcome,
        /// Every record sent in it.
        ids: Vec<u64>,
    },
    /// The producer was fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH)
    /// or hit another fatal error (the error's name, or Kafka's message):
    /// the application starts a new instance of its transactional id.
    Fenced(String),
}

/// How a transaction ended, as its producer saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnOutcome {
    /// commitTransaction() returned.
    Committed,
    /// abortTransaction() returned, or the transaction was aborted when
    /// its producer was fenced before committing.
    Aborted,
    /// Fenced after EndTxn(commit) was sent: it may have committed.
    Unknown,
}

/// A record's value: its id in 8 big-endian bytes, padded to `size`.
pub fn record_value(id: u64, size: usize) -> Vec<u8> {
    let mut v = vec![0; size.max(8)];
    set_record_id(&mut v, id);
    v
}

/// Stamps `id` on a record value of at least 8 bytes (the rest is padding).
pub fn set_record_id(value: &mut [u8], id: u64) {
    value[..8].copy_from_slice(&id.to_be_bytes());
}

/// The header a tombstone carries its record id in (it has no value to
/// carry it), 8 bytes big-endian.
pub const ID_HEADER: &str = "ksim.id";

/// The id a record carries: in its value, or for a tombstone in its
/// [`ID_HEADER`] header (u64::MAX when it carries none).
pub fn record_id_in(record: &crate::log::RecordView<'_>) -> u64 {
    id_carried(record.value, &record.headers)
}

/// [`record_id_in`] of a record with this value and these headers.
pub fn id_carried(value: Option<&[u8]>, headers: &crate::log::Headers<'_>) -> u64 {
    match value {
        Some(_) => record_id(value),
        None => record_id(headers.get(ID_HEADER).flatten()),
    }
}

/// Calls `f` with the offset delta and [`record_id_in`] of every record of
/// `batch`, in offset order (decoding no more of them than that takes).
pub fn for_each_record_id(batch: &crate::log::RecordBatch, mut f: impl FnMut(u32, u64)) {
    batch.for_each_value(|offset_delta, value, headers| {
        f(offset_delta, id_carried(value, &headers));
    });
}

/// The id a value carries (u64::MAX for a value that carries none, and
/// for a null value).
pub fn record_id(value: Option<&[u8]>) -> u64 {
    value
        .and_then(|v| v.get(..8))
        .and_then(|b| b.try_into().ok())
        .map_or(u64::MAX, u64::from_be_bytes)
}

/// The id of the record producer `producer` sends `seq`-th.
pub fn record_id_of(producer: u32, seq: u64) -> u64 {
    u64::from(producer) << 40 | seq
}

/// (producer index, send sequence) of a record id.
pub fn producer_of(id: u64) -> (u32, u64) {
    ((id >> 40) as u32, id & ((1 << 40) - 1))
}
#[cfg(test)]
mod tests_accumulator_compression;
#[cfg(test)]
mod tests_membership;
#[cfg(test)]
mod tests_producer_epoch;
#[cfg(test)]
mod tests_producer_wakes;
