//! The KRaft controller: the Raft quorum (KIP-595) and, on top of it, the
//! metadata managers of Kafka's QuorumController.

pub mod active;
mod cluster_control;
pub mod node;
mod producer_id_control;
pub mod raft;
mod replication_control;
pub mod rpc;
#[cfg(test)]
mod tests_control;
