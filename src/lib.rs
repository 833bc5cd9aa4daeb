//! ksim: a deterministic simulator of Apache Kafka.
//!
//! The kernel (`sim` crate) runs plain state machines on a virtual clock;
//! this crate holds the Kafka model, scenarios, checkers and the command line.

pub mod blame;
pub mod broker;
pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod controller;
pub mod errors;
pub mod explore;
pub mod group;
pub mod guarantees;
pub mod harness;
pub mod log;
pub mod metadata;
pub mod node;
pub mod protocol;
pub mod recheck;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod txn;
