//! A classic group as `__consumer_offsets` stores it: the GroupMetadata
//! value written when a generation's assignment is decided, and the group
//! rebuilt from that value when a new coordinator loads the partition
//! (Kafka loads a group with members as Stable and restarts every member's
//! session timer; the members find the new coordinator and carry on).

use std::collections::BTreeMap;

use super::{ClassicGroup, GroupState, Member};
use crate::group::records::{GroupMetadataValue, MemberMetadata};

impl<R: Clone> ClassicGroup<R> {
    /// The GroupMetadata value of the current generation with `assignments`.
    pub fn metadata_value(
        &self,
        assignments: &BTreeMap<String, Vec<u8>>,
        now_ms: u64,
    ) -> GroupMetadataValue {
        let protocol = self.protocol_name.clone();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: protocol.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: now_ms,
            members: self
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_ref()
                        .and_then(|p| m.protocols.iter().find(|(n, _)| n == p))
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default(),
                    assignment: assignments.get(&m.member_id).cloned().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// The group as loaded from its stored metadata at `now_ms`.
    pub fn from_metadata(group_id: &str, value: &GroupMetadataValue, now_ms: u64) -> Self {
        let mut group = Self::new(group_id);
        group.generation_id = value.generation;
        group.protocol_type = Some(value.protocol_type.clone());
        group.protocol_name = value.protocol.clone();
        group.leader_id = value.leader.clone();
        let protocol = value.protocol.clone().unwrap_or_default();
        for m in &value.members {
            if let Some(instance) = &m.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            group.members.insert(
                m.member_id.clone(),
                Member {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: vec![(protocol.clone(), m.subscription.clone())],
                    assignment: m.assignment.clone(),
                    awaiting_join: None,
                    awaiting_sync: None,
                    session_deadline_ms: now_ms + m.session_timeout_ms,
                    is_new: false,
                },
            );
        }
        group.pending_members = BTreeMap::new();
        group.state_since_ms = Some(value.current_state_timestamp_ms);
        group.state = if group.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        group
    }
}
