//! The KRaft controller: the Raft quorum (KIP-595) and, on top of it, the
//! metadata managers of Kafka's QuorumController.

pub mod node;
pub mod raft;
