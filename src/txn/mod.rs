//! Transactions at their coordinator (Kafka's transaction-coordinator
//! module): the states of a transaction and the transitions between them,
//! and the `__transaction_state` records that keep them.

pub mod coordinator;
pub mod log;
pub mod marker_channel;
pub mod metadata;
pub mod state;
#[cfg(test)]
mod tests_coordinator;
#[cfg(test)]
mod tests_kafka_2_4;
#[cfg(test)]
mod tests_kafka_2_5;
#[cfg(test)]
mod tests_kip890;
#[cfg(test)]
mod tests_metadata;

pub use metadata::{TransactionMetadata, TransactionVersion, TxnError, TxnTransitMetadata};
pub use state::TransactionState;
