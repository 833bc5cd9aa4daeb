//! The records of `__cluster_metadata`, with Kafka's record and field names.
//! They travel in the Raft log as JSON (the simulated disk holds the bytes).

use serde::{Deserialize, Serialize};

use super::Uuid;

/// `LeaderConstants.NO_LEADER`: the partition has no leader.
pub const NO_LEADER: i32 = -1;
/// `LeaderConstants.NO_LEADER_CHANGE`: a PartitionChangeRecord leaves the leader as it is.
pub const NO_LEADER_CHANGE: i32 = -2;

/// Whether a leader elected uncleanly has finished recovering (KIP-704).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum LeaderRecoveryState {
    /// The leader was elected from the ISR.
    #[default]
    #[serde(rename = "RECOVERED")]
    Recovered,
    /// The leader was elected uncleanly, from outside the ISR.
    #[serde(rename = "RECOVERING")]
    Recovering,
}

/// One metadata record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum MetadataRecord {
    /// A broker registered: its epoch is the record's offset.
    RegisterBrokerRecord {
        /// Kafka node id.
        broker_id: u32,
        /// Random id of this process incarnation.
        incarnation_id: Uuid,
        /// The broker epoch.
        broker_epoch: u64,
        /// Registrations start fenced.
        fenced: bool,
    },
    /// A broker was fenced or unfenced, or entered controlled shutdown.
    BrokerRegistrationChangeRecord {
        /// Kafka node id.
        broker_id: u32,
        /// The registration this change applies to.
        broker_epoch: u64,
        /// The new fencing state (None: unchanged, Kafka's `NONE`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fenced: Option<bool>,
        /// Some(true): the broker entered controlled shutdown (Kafka's
        /// `InControlledShutdown` = IN_CONTROLLED_SHUTDOWN; None: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_controlled_shutdown: Option<bool>,
    },
    /// A topic was created.
    TopicRecord {
        /// Topic name.
        name: String,
        /// Topic id.
        topic_id: Uuid,
    },
    /// A topic config was set (Kafka's ConfigRecord, resource type TOPIC).
    ConfigRecord {
        /// The topic.
        resource_name: String,
        /// Kafka config name.
        name: String,
        /// Its value, as Kafka's properties hold it.
        value: String,
    },
    /// A partition was created.
    PartitionRecord {
        /// Partition index.
        partition_id: u32,
        /// Its topic.
        topic_id: Uuid,
        /// Replica broker ids, preferred leader first.
        replicas: Vec<u32>,
        /// In-sync replicas.
        isr: Vec<u32>,
        /// Leader broker id, or NO_LEADER.
        leader: i32,
        /// Leader epoch.
        leader_epoch: i32,
        /// Partition epoch.
        partition_epoch: i32,
        /// Eligible leader replicas (KIP-966): replicas that left the ISR
        /// while it was below min.insync.replicas and still hold every
        /// committed record (`EligibleLeaderReplicas`; empty, and not
        /// written, without ELR).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        eligible_leader_replicas: Vec<u32>,
        /// The last known ELR (KIP-966 `LastKnownElr`; as Kafka 4.1 uses
        /// it, the last known leader of a partition whose ISR and ELR
        /// emptied).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        last_known_elr: Vec<u32>,
    },
    /// A partition's leader or ISR changed.
    PartitionChangeRecord {
        /// Partition index.
        partition_id: u32,
        /// Its topic.
        topic_id: Uuid,
        /// The new ISR, if it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isr: Option<Vec<u32>>,
        /// The new leader, NO_LEADER, or NO_LEADER_CHANGE.
        leader: i32,
        /// Set when an unclean election made the leader RECOVERING.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        leader_recovery_state: Option<LeaderRecoveryState>,
        /// The new ELR, if it changed (KIP-966 `EligibleLeaderReplicas`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eligible_leader_replicas: Option<Vec<u32>>,
        /// The new last known ELR, if it changed (KIP-966 `LastKnownElr`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_known_elr: Option<Vec<u32>>,
    },
    /// A block of producer ids was handed to a broker (KIP-730).
    ProducerIdsRecord {
        /// The broker it went to.
        broker_id: u32,
        /// That broker's epoch.
        broker_epoch: u64,
        /// The first id not yet handed out.
        next_producer_id: i64,
    },
    /// The active controller's heartbeat into the log (KIP-835).
    NoOpRecord,
    /// A topic was deleted (DeleteTopics): its partitions and configs go
    /// with it.
    RemoveTopicRecord {
        /// The topic's id.
        topic_id: Uuid,
    },
}

impl MetadataRecord {
    /// The record as stored in a log entry.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("records serialize")
    }

    /// A record read back from a log entry (None for bytes that are not one).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_kafka_names() {
        let record = MetadataRecord::PartitionChangeRecord {
            partition_id: 2,
            topic_id: Uuid(42),
            isr: Some(vec![1, 3]),
            leader: 3,
            leader_recovery_state: Some(LeaderRecoveryState::Recovering),
            eligible_leader_replicas: None,
            last_known_elr: None,
        };
        let bytes = record.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"type":"PartitionChangeRecord","partitionId":2"#),
            "{text}"
        );
        assert!(
            text.contains(r#""leaderRecoveryState":"RECOVERING""#),
            "{text}"
        );
        assert_eq!(MetadataRecord::decode(&bytes), Some(record));
        assert_eq!(MetadataRecord::decode(b"NoOpRecord 1:2"), None);
    }
}
