//! The broker (Kafka's BrokerServer) and the managers it is made of: its
//! control plane (it replicates the metadata log as a KRaft observer,
//! registers with the active controller and heartbeats through its
//! BrokerLifecycleManager), its ReplicaManager (partition logs through the
//! LogManager, produce, fetch, the high watermark, ISR changes through the
//! AlterPartitionManager, waiting requests in the purgatory, follower
//! fetching through the ReplicaFetcherManager), and beside it the group
//! coordinator and the producer-id manager.

pub mod add_partitions_manager;
mod alter_partition;
pub mod checkpoints;
pub mod config;
mod controller_channel;
mod fetch_session;
mod fetcher_manager;
mod group_service;
mod hosted;
mod lifecycle;
mod log_cleaner;
mod log_manager;
pub mod partition;
mod producer_id_manager;
pub mod producer_state;
mod purgatory;
mod replica_manager;
mod server;
mod socket_server;
#[cfg(test)]
mod tests_hw_propagation;
#[cfg(test)]
mod tests_replica_manager;
#[cfg(test)]
mod tests_transactions;
#[cfg(test)]
mod tests_txn_leader;
mod txn_service;

pub use group_service::GroupCoordinatorService;
pub use lifecycle::{BrokerLifecycleManager, LifecycleEvent};
pub use purgatory::ReplyTo;
pub use replica_manager::{ReplicaEvent, ReplicaManager};
pub use server::{BrokerObs, BrokerServer, BrokerSpec, BrokerTimer};
