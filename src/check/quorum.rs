//! Checks of the KRaft quorum over what the controllers reported:
//! `single_leader_per_epoch`, `raft_log_consistent`,
//! `monotonic_high_watermark`, and `monotonic_raft_epoch`.

use std::collections::BTreeMap;

use sim::{Nanos, NodeId};

use super::Violation;
use crate::controller::node::QuorumObs;
use crate::controller::raft::LogEntry;

/// Names of the quorum invariants, as reports print them.
pub const QUORUM_INVARIANTS: [&str; 4] = [
    "single_leader_per_epoch",
    "raft_log_consistent",
    "monotonic_high_watermark",
    "monotonic_raft_epoch",
];

/// One controller observation: when, who, what.
pub type Seen<'a> = (Nanos, NodeId, &'a QuorumObs);

/// Runs every quorum check over a recorded `history` (in time order).
pub fn check(history: &[Seen<'_>], name: &dyn Fn(NodeId) -> String) -> Vec<Violation> {
    let mut checker = QuorumChecker::default();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        checker.observe(at, node, obs, name, &mut violations);
    }
    violations
}

/// Checks the quorum online, one controller observation at a time.
#[derive(Debug, Default)]
pub struct QuorumChecker {
    /// The leader of each epoch.
    leaders: BTreeMap<u32, NodeId>,
    /// The first committed entry seen at each offset, and who committed it.
    committed: BTreeMap<u64, (NodeId, LogEntry)>,
    /// Per controller incarnation: the last high watermark and epoch.
    high_watermark: BTreeMap<NodeId, u64>,
    epoch: BTreeMap<NodeId, u64>,
    /// Per controller, across restarts: the newest epoch fsynced to quorum-state.
    durable: BTreeMap<NodeId, u32>,
}

impl QuorumChecker {
    /// Takes one observation; what broke goes into `out`.
    pub fn observe(
        &mut self,
        at: Nanos,
        node: NodeId,
        obs: &QuorumObs,
        name: &dyn Fn(NodeId) -> String,
        out: &mut Vec<Violation>,
    ) {
        match obs {
            QuorumObs::Booted => {
                self.high_watermark.remove(&node);
                self.epoch.remove(&node);
            }
            QuorumObs::BecameLeader { epoch } => {
                let first = *self.leaders.entry(*epoch).or_insert(node);
                if first != node {
                    out.push(Violation::new(
                        "single_leader_per_epoch",
                        at,
                        format!(
                            "epoch {epoch} has two leaders: {} and {}",
                            name(first),
                            name(node)
                        ),
                    ));
                }
            }
            QuorumObs::CommittedEntry(entry) => {
                let (first_node, first) = self
                    .committed
                    .entry(entry.offset)
                    .or_insert_with(|| (node, entry.clone()));
                if first != entry {
                    out.push(Violation::new(
                        "raft_log_consistent",
                        at,
                        format!(
                            "committed offset {} differs: epoch {} on {} but epoch {} on {}",
                            entry.offset,
                            first.epoch,
                            name(*first_node),
                            entry.epoch,
                            name(node)
                        ),
                    ));
                }
            }
            QuorumObs::HighWatermark(hw) => {
                monotonic(
                    &mut self.high_watermark,
                    at,
                    node,
                    *hw,
                    name,
                    "monotonic_high_watermark",
                    "high watermark",
                    out,
                );
            }
            QuorumObs::EpochDurable(epoch) => {
                let d = self.durable.entry(node).or_default();
                *d = (*d).max(*epoch);
            }
            QuorumObs::Transition { epoch } => {
                let d = self.durable.get(&node).copied().unwrap_or(0);
                if *epoch < d {
                    out.push(Violation::new(
                        "monotonic_raft_epoch",
                        at,
                        format!(
                            "{} runs in epoch {epoch} after epoch {d} was fsynced to its quorum-state",
                            name(node)
                        ),
                    ));
                    // Report once per loss, not on every later transition.
                    self.durable.insert(node, *epoch);
                }
                monotonic(
                    &mut self.epoch,
                    at,
                    node,
                    u64::from(*epoch),
                    name,
                    "monotonic_raft_epoch",
                    "epoch",
                    out,
                );
            }
            QuorumObs::Leader(_) | QuorumObs::Control(_) => {}
        }
    }
}

/// Per controller and process incarnation, a reported value never decreases.
#[allow(clippy::too_many_arguments)]
fn monotonic(
    last: &mut BTreeMap<NodeId, u64>,
    at: Nanos,
    node: NodeId,
    value: u64,
    name: &dyn Fn(NodeId) -> String,
    invariant: &str,
    what: &str,
    out: &mut Vec<Violation>,
) {
    let previous = last.insert(node, value).unwrap_or(0);
    if value < previous {
        out.push(Violation::new(
            invariant,
            at,
            format!("{} {what} went back from {previous} to {value}", name(node)),
        ));
    }
}
