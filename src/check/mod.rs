//! Invariant checkers: they read what the run recorded and report violations.

pub mod control;
pub mod data;
pub mod groups;
pub mod kernel;
pub mod quorum;

use serde::{Deserialize, Serialize};
use sim::Nanos;

/// One broken invariant, found at a point of simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The invariant's contract name (DESIGN.md), e.g. `acked_writes_durable`.
    pub invariant: String,
    /// When it was detected, in simulated milliseconds.
    pub at_ms: u64,
    /// What broke, in one sentence naming nodes, offsets and times.
    pub detail: String,
}

impl Violation {
    /// A violation of `invariant` detected at `at_ns`.
    pub fn new(invariant: &str, at_ns: Nanos, detail: String) -> Self {
        Self {
            invariant: invariant.to_owned(),
            at_ms: at_ns / sim::MILLIS,
            detail,
        }
    }
}
