//! `__transaction_state`: where transaction coordinators keep each
//! transactional id's state (Kafka's `TransactionLog`), one record per
//! transition, keyed by transactional id, in a compacted topic; and which
//! partition of it, so which coordinator, a transactional id belongs to.
//! Keys and values are JSON here, as the group coordinator's records are,
//! so `dump-log` shows them readably; the field names are those of Kafka's
//! `TransactionLogKey` and `TransactionLogValue` schemas, with topic names
//! as Kafka writes them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::metadata::{TransactionVersion, TxnTransitMetadata};
use super::state::TransactionState;
use crate::group::offsets_topic::{java_string_hash, utils_abs};
use crate::log::Record;
use crate::protocol::{TopicPartition, Topics};

/// The internal topic holding transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// `transaction.state.log.num.partitions` default.
pub const TRANSACTION_STATE_LOG_NUM_PARTITIONS: u32 = 50;

/// `transaction.state.log.replication.factor` default (capped by the
/// broker count).
pub const TRANSACTION_STATE_LOG_REPLICATION_FACTOR: u32 = 3;

/// `transaction.state.log.min.isr` default.
pub const TRANSACTION_STATE_LOG_MIN_ISR: u32 = 2;

/// The `__transaction_state` partition of `transactional_id` (Kafka's
/// `TransactionStateManager.partitionFor`: `Utils.abs(hashCode) % partitions`).
pub fn partition_for(transactional_id: &str, partitions: u32) -> u32 {
    (utils_abs(java_string_hash(transactional_id)) as u32) % partitions.max(1)
}

/// TransactionLogKey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionLogKey {
    /// The `transactional.id`.
    pub transactional_id: String,
}

/// One topic's partitions in a TransactionLogValue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionsSchema {
    /// The topic.
    pub topic: String,
    /// Its partitions in the transaction.
    pub partition_ids: Vec<u32>,
}

/// TransactionLogValue (version 1, with the fields of KIP-890).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionLogValue {
    /// The producer id.
    pub producer_id: i64,
    /// The producer id before this transition.
    pub previous_producer_id: i64,
    /// The producer id the next transition moves to.
    pub next_producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub transaction_timeout_ms: u64,
    /// The state's id.
    pub transaction_status: u8,
    /// The partitions of the transaction.
    pub transaction_partitions: Vec<PartitionsSchema>,
    /// When the state last changed.
    pub transaction_last_update_timestamp_ms: i64,
    /// When the transaction started (-1: none).
    pub transaction_start_timestamp_ms: i64,
    /// The client's transaction version.
    pub client_transaction_version: u8,
}

/// The record of a transition of `transactional_id` to `transit`.
pub fn to_record(
    transactional_id: &str,
    transit: &TxnTransitMetadata,
    topics: &Topics,
    timestamp_ms: u64,
) -> Record {
    let key = TransactionLogKey {
        transactional_id: transactional_id.to_owned(),
    };
    let mut by_topic: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for &tp in &transit.topic_partitions {
        let named = topics.named(tp);
        by_topic
            .entry(named.topic)
            .or_default()
            .push(named.partition);
    }
    let value = TransactionLogValue {
        producer_id: transit.producer_id,
        previous_producer_id: transit.prev_producer_id,
        next_producer_id: transit.next_producer_id,
        producer_epoch: transit.producer_epoch,
        transaction_timeout_ms: transit.txn_timeout_ms,
        transaction_status: transit.state.id(),
        transaction_partitions: by_topic
            .into_iter()
            .map(|(topic, partition_ids)| PartitionsSchema {
                topic,
                partition_ids,
            })
            .collect(),
        transaction_last_update_timestamp_ms: transit.txn_last_update_timestamp,
        transaction_start_timestamp_ms: transit.txn_start_timestamp,
        client_transaction_version: transit.client_transaction_version.0,
    };
    Record {
        key: Some(serde_json::to_vec(&key).expect("keys encode")),
        value: Some(serde_json::to_vec(&value).expect("values encode")),
        timestamp_ms,
        headers: Vec::new(),
    }
}

/// A `__transaction_state` record read back: its transactional id and
/// state (None: a tombstone, the id expired). None for a record that is
/// not one, or names a topic the cluster does not have.
pub fn from_record(
    record: &Record,
    topics: &Topics,
) -> Option<(String, Option<TxnTransitMetadata>)> {
    let key: TransactionLogKey = serde_json::from_slice(record.key.as_deref()?).ok()?;
    let Some(value) = &record.value else {
        return Some((key.transactional_id, None));
    };
    let value: TransactionLogValue = serde_json::from_slice(value).ok()?;
    let mut topic_partitions = BTreeSet::new();
    for t in &value.transaction_partitions {
        for &p in &t.partition_ids {
            topic_partitions.insert(topics.by_name(&TopicPartition::new(&t.topic, p))?);
        }
    }
    let transit = TxnTransitMetadata {
        producer_id: value.producer_id,
        prev_producer_id: value.previous_producer_id,
        next_producer_id: value.next_producer_id,
        producer_epoch: value.producer_epoch,
        // Not written: the epoch a retrying client last saw is not kept
        // across coordinators.
        last_producer_epoch: crate::log::NO_PRODUCER_EPOCH,
        txn_timeout_ms: value.transaction_timeout_ms,
        state: TransactionState::from_id(value.transaction_status)?,
        topic_partitions,
        txn_start_timestamp: value.transaction_start_timestamp_ms,
        txn_last_update_timestamp: value.transaction_last_update_timestamp_ms,
        client_transaction_version: TransactionVersion(value.client_transaction_version),
    };
    Some((key.transactional_id, Some(transit)))
}

/// What a coordinator knows after replaying one `__transaction_state`
/// partition (Kafka's `loadTransactionMetadata`): each transactional id's
/// latest state; a tombstone removes it.
pub fn load<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    topics: &Topics,
) -> BTreeMap<String, TxnTransitMetadata> {
    let mut loaded = BTreeMap::new();
    for record in records {
        match from_record(record, topics) {
            Some((id, Some(state))) => {
                loaded.insert(id, state);
            }
            Some((id, None)) => {
                loaded.remove(&id);
            }
            None => {}
        }
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TransactionMetadata;

    fn topics() -> Topics {
        Topics::new(["payments".to_owned(), "ledger".to_owned()])
    }

    fn ongoing() -> TxnTransitMetadata {
        let t = topics();
        let mut m = TransactionMetadata::new("pay-0", 4000, 60_000, 5);
        let init = m.prepare_increment_producer_epoch(60_000, None, 5).unwrap();
        m.complete_transition_to(init).unwrap();
        let added: BTreeSet<_> = [("payments", 1), ("payments", 0), ("ledger", 2)]
            .into_iter()
            .map(|(topic, p)| t.partition(topic, p).unwrap())
            .collect();
        m.prepare_add_partitions(&added, 9, TransactionVersion(2))
            .unwrap()
    }

    #[test]
    fn a_transition_round_trips_through_its_record() {
        let t = topics();
        let transit = ongoing();
        let record = to_record("pay-0", &transit, &t, 9);
        let value: serde_json::Value =
            serde_json::from_slice(record.value.as_deref().unwrap()).unwrap();
        assert_eq!(value["transaction_status"], 1, "Ongoing");
        assert_eq!(
            value["transaction_partitions"],
            serde_json::json!([
                {"topic": "ledger", "partition_ids": [2]},
                {"topic": "payments", "partition_ids": [0, 1]}
            ])
        );
        let (id, back) = from_record(&record, &t).unwrap();
        let mut expected = transit;
        expected.last_producer_epoch = -1;
        assert_eq!((id.as_str(), back), ("pay-0", Some(expected)));
    }

    #[test]
    fn loading_keeps_each_ids_latest_state_and_drops_tombstoned_ids() {
        let t = topics();
        let first = ongoing();
        let mut later = first.clone();
        later.state = TransactionState::PrepareCommit;
        let tombstone = Record {
            key: Some(br#"{"transactional_id":"gone"}"#.to_vec()),
            value: None,
            timestamp_ms: 0,
            headers: Vec::new(),
        };
        let records = [
            to_record("pay-0", &first, &t, 1),
            to_record("gone", &first, &t, 1),
            to_record("pay-0", &later, &t, 2),
            tombstone,
        ];
        let loaded = load(&records, &t);
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["pay-0"]);
        assert_eq!(loaded["pay-0"].state, TransactionState::PrepareCommit);
    }

    #[test]
    fn transactional_ids_map_to_partitions_as_kafka_hashes_them() {
        assert_eq!(
            partition_for("pay-0", 50),
            (utils_abs(java_string_hash("pay-0")) % 50) as u32
        );
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        assert_eq!(partition_for("x", 1), 0);
    }
}
