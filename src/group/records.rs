//! What group coordinators write to `__consumer_offsets`, and how a new
//! coordinator loads it back: Kafka's OffsetCommit and GroupMetadata records
//! (keyed by group, and by group + topic + partition), with tombstones, in a
//! compacted topic. Keys and values are JSON here, so `dump-log` shows them
//! readably; the field names are those of Kafka's record schemas.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::log::Record;
use crate::protocol::TopicPartition;

/// The key of a `__consumer_offsets` record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum GroupRecordKey {
    /// OffsetCommitKey: one partition's committed offset.
    OffsetCommit {
        /// Group id.
        group: String,
        /// Topic.
        topic: String,
        /// Partition.
        partition: u32,
    },
    /// GroupMetadataKey: a group's generation and members.
    GroupMetadata {
        /// Group id.
        group: String,
    },
}

/// OffsetCommitValue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitValue {
    /// The next offset to consume.
    pub offset: u64,
    /// Leader epoch of the last consumed record (KIP-320), -1 if unknown.
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: String,
    /// When it was committed.
    pub commit_timestamp_ms: u64,
}

/// One member in GroupMetadataValue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadata {
    /// Member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `max.poll.interval.ms`.
    pub rebalance_timeout_ms: u64,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// Its subscription for the chosen protocol.
    pub subscription: Vec<u8>,
    /// Its assignment.
    pub assignment: Vec<u8>,
}

/// GroupMetadataValue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadataValue {
    /// "consumer".
    pub protocol_type: String,
    /// The generation.
    pub generation: i32,
    /// The chosen assignor.
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// When the group entered its state.
    pub current_state_timestamp_ms: u64,
    /// The members with their assignments.
    pub members: Vec<MemberMetadata>,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRecord {
    /// A committed offset (None: a tombstone).
    OffsetCommit(String, TopicPartition, Option<OffsetCommitValue>),
    /// A group's metadata (None: a tombstone, the group was deleted).
    GroupMetadata(String, Option<GroupMetadataValue>),
}

/// The record of `group`'s commit of `value` (None: a tombstone) for `tp`,
/// as [`GroupRecord::to_record`] writes it, from borrowed parts.
pub fn offset_commit_record(
    group: &str,
    tp: &TopicPartition,
    value: Option<&OffsetCommitValue>,
    timestamp_ms: u64,
) -> Record {
    direct_offset_commit(group, tp, value, timestamp_ms).unwrap_or_else(|| {
        GroupRecord::OffsetCommit(group.to_owned(), tp.clone(), value.cloned())
            .to_record(timestamp_ms)
    })
}

/// The common offset commit record, without serde (the same bytes); None
/// where a string needs JSON escapes (serde writes those).
fn direct_offset_commit(
    group: &str,
    tp: &TopicPartition,
    value: Option<&OffsetCommitValue>,
    timestamp_ms: u64,
) -> Option<Record> {
    let key = super::offset_json::offset_commit_key(group, &tp.topic, tp.partition)?;
    let value = match value {
        Some(v) => Some(super::offset_json::offset_commit_value(v)?),
        None => None,
    };
    Some(Record {
        key: Some(key),
        value,
        timestamp_ms,
        headers: Vec::new(),
    })
}

impl GroupRecord {
    /// As a log record (a null value is a tombstone).
    pub fn to_record(&self, timestamp_ms: u64) -> Record {
        if let GroupRecord::OffsetCommit(group, tp, value) = self {
            if let Some(record) = direct_offset_commit(group, tp, value.as_ref(), timestamp_ms) {
                return record;
            }
        }
        let (key, value) = match self {
            GroupRecord::OffsetCommit(group, tp, value) => (
                GroupRecordKey::OffsetCommit {
                    group: group.clone(),
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                },
                value.as_ref().map(serde_json::to_vec),
            ),
            GroupRecord::GroupMetadata(group, value) => (
                GroupRecordKey::GroupMetadata {
                    group: group.clone(),
                },
                value.as_ref().map(serde_json::to_vec),
            ),
        };
        Record {
            key: Some(serde_json::to_vec(&key).expect("keys encode")),
            value: value.map(|v| v.expect("values encode")),
            timestamp_ms,
            headers: Vec::new(),
        }
    }

    /// From a log record; None for a record that is not a group record.
    pub fn from_record(record: &Record) -> Option<Self> {
        let key: GroupRecordKey = serde_json::from_slice(record.key.as_deref()?).ok()?;
        Some(match key {
            GroupRecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                let value = match &record.value {
                    None => None,
                    Some(v) => Some(serde_json::from_slice(v).ok()?),
                };
                GroupRecord::OffsetCommit(group, TopicPartition::new(&topic, partition), value)
            }
            GroupRecordKey::GroupMetadata { group } => {
                let value = match &record.value {
                    None => None,
                    Some(v) => Some(serde_json::from_slice(v).ok()?),
                };
                GroupRecord::GroupMetadata(group, value)
            }
        })
    }

    /// The group it belongs to.
    pub fn group(&self) -> &str {
        match self {
            GroupRecord::OffsetCommit(g, ..) | GroupRecord::GroupMetadata(g, _) => g,
        }
    }
}

/// What a coordinator knows after replaying one `__consumer_offsets`
/// partition: the latest metadata and committed offsets per group (a later
/// record for a key replaces an earlier one; a tombstone removes it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedGroups {
    /// Group id -> its latest metadata.
    pub groups: BTreeMap<String, GroupMetadataValue>,
    /// Group id -> partition -> committed offset.
    pub offsets: BTreeMap<String, BTreeMap<TopicPartition, OffsetCommitValue>>,
}

impl LoadedGroups {
    /// Applies the next record in log order.
    pub fn apply(&mut self, record: GroupRecord) {
        match record {
            GroupRecord::OffsetCommit(group, tp, Some(value)) => {
                self.offsets.entry(group).or_default().insert(tp, value);
            }
            GroupRecord::OffsetCommit(group, tp, None) => {
                if let Some(offsets) = self.offsets.get_mut(&group) {
                    offsets.remove(&tp);
                    if offsets.is_empty() {
                        self.offsets.remove(&group);
                    }
                }
            }
            GroupRecord::GroupMetadata(group, Some(value)) => {
                self.groups.insert(group, value);
            }
            GroupRecord::GroupMetadata(group, None) => {
                self.groups.remove(&group);
            }
        }
    }

    /// Replays log records in order (records that are not group records are skipped).
    pub fn load<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut loaded = Self::default();
        for record in records {
            if let Some(r) = GroupRecord::from_record(record) {
                loaded.apply(r);
            }
        }
        loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, p: u32, offset: u64) -> GroupRecord {
        GroupRecord::OffsetCommit(
            group.to_owned(),
            TopicPartition::new("orders", p),
            Some(OffsetCommitValue {
                offset,
                leader_epoch: 3,
                metadata: String::new(),
                commit_timestamp_ms: 1_000 + offset,
            }),
        )
    }

    fn metadata(generation: i32) -> GroupRecord {
        GroupRecord::GroupMetadata(
            "billing".into(),
            Some(GroupMetadataValue {
                protocol_type: "consumer".into(),
                generation,
                protocol: Some("range".into()),
                leader: Some("c-1".into()),
                current_state_timestamp_ms: 5,
                members: vec![MemberMetadata {
                    member_id: "c-1".into(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    rebalance_timeout_ms: 300_000,
                    session_timeout_ms: 45_000,
                    subscription: b"orders".to_vec(),
                    assignment: b"orders-0".to_vec(),
                }],
            }),
        )
    }

    #[test]
    fn records_round_trip_through_log_records() {
        for r in [
            commit("billing", 2, 17),
            metadata(4),
            GroupRecord::OffsetCommit("g".into(), TopicPartition::new("t", 0), None),
            GroupRecord::GroupMetadata("g".into(), None),
        ] {
            let record = r.to_record(9);
            assert_eq!(GroupRecord::from_record(&record), Some(r));
        }
    }

    #[test]
    fn replay_keeps_the_latest_value_per_key_and_honours_tombstones() {
        let log: Vec<Record> = [
            commit("billing", 0, 5),
            commit("billing", 1, 7),
            metadata(1),
            commit("billing", 0, 9),
            metadata(2),
            GroupRecord::OffsetCommit("billing".into(), TopicPartition::new("orders", 1), None),
            commit("audit", 0, 3),
        ]
        .iter()
        .map(|r| r.to_record(0))
        .collect();
        let loaded = LoadedGroups::load(&log);
        assert_eq!(loaded.groups["billing"].generation, 2);
        let billing = &loaded.offsets["billing"];
        assert_eq!(billing.len(), 1, "the tombstone removed orders-1");
        assert_eq!(billing[&TopicPartition::new("orders", 0)].offset, 9);
        assert_eq!(
            loaded.offsets["audit"][&TopicPartition::new("orders", 0)].offset,
            3
        );
    }

    #[test]
    fn a_record_that_is_not_a_group_record_is_skipped() {
        let other = Record {
            key: Some(b"not json".to_vec()),
            value: Some(b"x".to_vec()),
            timestamp_ms: 0,
            headers: Vec::new(),
        };
        assert_eq!(GroupRecord::from_record(&other), None);
        assert_eq!(LoadedGroups::load([&other]), LoadedGroups::default());
    }
}
