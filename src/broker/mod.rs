//! The broker: its control plane (it replicates the metadata log as a KRaft
//! observer, registers with the active controller and heartbeats, as Kafka's
//! BrokerLifecycleManager) and its data path (ReplicaManager: partition logs,
//! produce, fetch, replication, ISR changes), driven by its metadata image.

pub mod checkpoints;
pub mod config;
mod fetcher;
mod group_host;
mod leader_fetch;
mod lifecycle;
pub mod partition;
mod produce;
pub mod producer_state;
mod replica_manager;
mod server;

pub use group_host::ReplyTo;
pub use lifecycle::{BrokerLifecycle, LifecycleEffect};
pub use replica_manager::ReplicaManager;
pub use server::{BrokerHost, BrokerMsg, BrokerObs, BrokerServer, BrokerTimer};
