//! Who is on the other end of a message: a Kafka server, by its `node.id`
//! (unique across brokers and controllers, as in Kafka), or a client.

use std::fmt;

/// A Kafka node id (`node.id`): brokers and controllers share one id space.
pub type KafkaNodeId = u32;

/// Kafka node ids of controllers start above this (Kafka's own test
/// clusters number controllers from 3000, `TestKitNodes`); brokers are
/// 1..=brokers.
pub const CONTROLLER_ID_BASE: KafkaNodeId = 3000;

/// The Kafka node id of the scenario's controller number `index` (from 1).
pub fn controller_id(index: u32) -> KafkaNodeId {
    CONTROLLER_ID_BASE + index
}

/// The scenario's number (from 1) of the controller with Kafka node id `id`.
pub fn controller_index(id: KafkaNodeId) -> u32 {
    id.saturating_sub(CONTROLLER_ID_BASE)
}

/// The address of a message's sender or receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// A broker or controller, by Kafka node id.
    Node(KafkaNodeId),
    /// A client (admin, producer, consumer), by its index in the run.
    Client(u32),
}

impl Address {
    /// The Kafka node id, when this is a server.
    pub fn node(self) -> Option<KafkaNodeId> {
        match self {
            Address::Node(id) => Some(id),
            Address::Client(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Node(id) => write!(f, "node {id}"),
            Address::Client(id) => write!(f, "client {id}"),
        }
    }
}
