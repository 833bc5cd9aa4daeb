//! The classic group protocol's messages (JoinGroup, SyncGroup and their
//! responses), the group states, and what a group asks of its host.

use std::collections::BTreeMap;

use crate::errors::Errors;

/// The classic group states (Kafka's `ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum GroupState {
    /// No members (maybe committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment in SyncGroup.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Unloaded or deleted.
    Dead,
}

impl GroupState {
    /// Kafka's name, as `kafka-consumer-groups.sh --describe --state` prints it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JoinGroup {
    /// Empty on the first join.
    pub member_id: String,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms` for consumers.
    pub rebalance_timeout_ms: u64,
    /// "consumer".
    pub protocol_type: String,
    /// Assignor names with the member's subscription metadata, by preference.
    pub protocols: Vec<(String, Vec<u8>)>,
}

/// A SyncGroup request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncGroup {
    /// The generation the member joined.
    pub generation_id: i32,
    /// Its member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// From the leader: member id -> assignment; empty from followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A group's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupResponse {
    /// JoinGroupResponse.
    JoinGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The new generation.
        generation_id: i32,
        /// The chosen assignor.
        protocol_name: Option<String>,
        /// The leader's member id.
        leader: String,
        /// The member's id (new on MEMBER_ID_REQUIRED).
        member_id: String,
        /// For the leader only: every member with its metadata for the chosen protocol.
        members: Vec<(String, Option<String>, Vec<u8>)>,
    },
    /// SyncGroupResponse.
    SyncGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The member's assignment.
        assignment: Vec<u8>,
    },
    /// HeartbeatResponse.
    Heartbeat {
        /// REBALANCE_IN_PROGRESS tells the member to rejoin.
        error: Option<Errors>,
    },
    /// LeaveGroupResponse.
    LeaveGroup {
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
}

/// What the group asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutput<R> {
    /// Send this response to the request behind `R`.
    Reply(R, GroupResponse),
    /// Append the group's metadata (generation, leader, members and their
    /// assignments) to `__consumer_offsets`, then call `on_stored`.
    Store {
        /// The generation being stored.
        generation_id: i32,
        /// Member id -> assignment.
        assignments: BTreeMap<String, Vec<u8>>,
    },
}
