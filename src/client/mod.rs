//! Kafka clients: the admin client that creates the scenario's topics, the
//! producer and the consumer, and the record ids the workload stamps on values.

pub mod accumulator;
pub mod admin;
pub mod consumer;
pub mod membership;
pub mod partitioner;
pub mod producer;

pub use admin::{AdminClient, AdminObs, AdminTimer};

/// What a producer reports: each record's send and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProducerObs {
    /// `send()` was called; the record went to this partition.
    Sent {
        /// Record id.
        id: u64,
        /// Its partition (of the producer's topic).
        partition: u32,
        /// The producer's send order.
        seq: u64,
    },
    /// Acknowledged (offset None under acks=0).
    Acked {
        /// Record id.
        id: u64,
        /// Its offset.
        offset: Option<u64>,
    },
    /// Definitely not written.
    Failed {
        /// Record id.
        id: u64,
        /// Why.
        error: String,
    },
    /// Maybe written, maybe not (a timeout or a lost connection).
    Indeterminate {
        /// Record id.
        id: u64,
        /// Why.
        reason: String,
    },
}

/// A record's value: its id in 8 big-endian bytes, padded to `size`.
pub fn record_value(id: u64, size: usize) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.resize(size.max(8), 0);
    v
}

/// The id a value carries (u64::MAX for a value that carries none).
pub fn record_id(value: &[u8]) -> u64 {
    value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(u64::MAX, u64::from_be_bytes)
}

/// (producer index, send sequence) of a record id.
pub fn producer_of(id: u64) -> (u32, u64) {
    ((id >> 40) as u32, id & ((1 << 40) - 1))
}
#[cfg(test)]
mod tests_membership;
