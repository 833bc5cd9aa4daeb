//! The broker. So far its control plane: it replicates the metadata log as a
//! KRaft observer, registers with the active controller and heartbeats
//! (Kafka's BrokerLifecycleManager), and acts on its metadata image.

mod lifecycle;
mod server;

pub use lifecycle::{BrokerLifecycle, LifecycleEffect};
pub use server::{BrokerHost, BrokerMsg, BrokerObs, BrokerServer, BrokerTimer};
