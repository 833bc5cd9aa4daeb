//! Invariant checkers: they read what the run recorded and report violations.

pub mod chunked;
pub mod chunked32;
pub mod chunked64;
pub mod compaction;
pub mod control;
pub mod data;
pub mod groups;
pub mod kernel;
pub mod key_order;
pub mod pipeline;
pub mod quorum;
pub mod txn;

use serde::{Deserialize, Serialize};
use sim::Nanos;

/// One broken invariant, found at a point of simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The invariant's contract name (docs/scenarios.md), e.g. `acked_writes_durable`.
    pub invariant: String,
    /// When it was detected, in simulated milliseconds.
    pub at_ms: u64,
    /// What broke, in one sentence naming nodes, offsets and times.
    pub detail: String,
    /// The chain of events that made it, read from the run's own record
    /// (on the first violation of each invariant and partition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ChainEvent>,
    /// What it is about, for the explanation (not part of the record).
    #[serde(skip)]
    pub subject: Option<Subject>,
}

/// Pushes `x`, growing a full `v` by a quarter rather than doubling it:
/// a partition's acknowledgement and read runs, and a group's
/// processings, number millions in a long run.
pub(crate) fn push_sparingly<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len() / 4 + 16);
    }
    v.push(x);
}

/// Broker ids as Kafka's tools print them in a list: `1, 2, 3`.
pub fn id_list(ids: &[u32]) -> String {
    ids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One link of a violation's causal chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEvent {
    /// Simulated milliseconds.
    pub at_ms: u64,
    /// The node it happened on (`broker-2`), or the partition for a
    /// committed metadata change.
    pub node: String,
    /// What happened, in words.
    pub event: String,
}

/// The partition (and offset, and the moment from which events matter) a
/// violation is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `topic-N`.
    pub partition: String,
    /// The offset at stake, if one.
    pub offset: Option<u64>,
    /// Events from here on explain it (e.g. the acknowledgement).
    pub since_ns: Option<Nanos>,
}

impl Violation {
    /// A violation of `invariant` detected at `at_ns`.
    pub fn new(invariant: &str, at_ns: Nanos, detail: String) -> Self {
        Self {
            invariant: invariant.to_owned(),
            at_ms: at_ns / sim::MILLIS,
            detail,
            chain: Vec::new(),
            subject: None,
        }
    }

    /// The same violation, about `partition` (and `offset`, from `since_ns`).
    pub fn about(
        mut self,
        partition: String,
        offset: Option<u64>,
        since_ns: Option<Nanos>,
    ) -> Self {
        self.subject = Some(Subject {
            partition,
            offset,
            since_ns,
        });
        self
    }
}
