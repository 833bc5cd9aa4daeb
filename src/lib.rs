//! ksim: a deterministic simulator of Apache Kafka.
//!
//! The kernel (`sim` crate) runs plain state machines on a virtual clock;
//! this crate holds the Kafka model, scenarios, checkers and the command line.

// A record batch keeps its header's shared bytes in a cell that is not
// thread-safe (a 128-byte allocation per batch, not 160; a long run holds
// millions of batches):
// `Arc<RecordBatch>` is then neither `Send` nor `Sync`, so the compiler
// keeps every batch on its run's thread, where a run lives whole (a sweep
// runs each seed on one thread). Shared ownership is still `Arc`'s.
#![allow(clippy::arc_with_non_send_sync)]

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
