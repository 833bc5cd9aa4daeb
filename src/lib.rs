//! ksim: a deterministic simulator of Apache Kafka.

pub mod config;
pub mod scenario;
