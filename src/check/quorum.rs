//! Checks of the KRaft quorum over what the controllers reported:
//! `single_leader_per_epoch`, `raft_log_consistent`,
//! `monotonic_high_watermark`, and `monotonic_raft_epoch`.

use std::collections::BTreeMap;

use sim::{Nanos, NodeId};

use super::Violation;
use crate::controller::node::QuorumObs;

/// Names of the quorum invariants, as reports print them.
pub const QUORUM_INVARIANTS: [&str; 4] = [
    "single_leader_per_epoch",
    "raft_log_consistent",
    "monotonic_high_watermark",
    "monotonic_raft_epoch",
];

/// One controller observation: when, who, what.
pub type Seen<'a> = (Nanos, NodeId, &'a QuorumObs);

/// Runs every quorum check over `history` (in time order).
pub fn check(history: &[Seen<'_>], name: &dyn Fn(NodeId) -> String) -> Vec<Violation> {
    let mut violations = single_leader_per_epoch(history, name);
    violations.extend(raft_log_consistent(history, name));
    violations.extend(monotonic_per_incarnation(
        history,
        name,
        "monotonic_high_watermark",
        "high watermark",
        |o| match o {
            QuorumObs::HighWatermark(hw) => Some(*hw),
            _ => None,
        },
    ));
    violations.extend(epoch_never_below_durable(history, name));
    violations.extend(monotonic_per_incarnation(
        history,
        name,
        "monotonic_raft_epoch",
        "epoch",
        |o| match o {
            QuorumObs::Transition { epoch } => Some(u64::from(*epoch)),
            _ => None,
        },
    ));
    violations.sort_by_key(|v| v.at_ms);
    violations
}

/// At most one voter becomes leader of each epoch.
pub fn single_leader_per_epoch(
    history: &[Seen<'_>],
    name: &dyn Fn(NodeId) -> String,
) -> Vec<Violation> {
    let mut leaders: BTreeMap<u32, NodeId> = BTreeMap::new();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        if let QuorumObs::BecameLeader { epoch } = obs {
            let first = *leaders.entry(*epoch).or_insert(node);
            if first != node {
                violations.push(Violation::new(
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
    }
    violations
}

/// Every voter commits the same entry at each offset.
pub fn raft_log_consistent(
    history: &[Seen<'_>],
    name: &dyn Fn(NodeId) -> String,
) -> Vec<Violation> {
    let mut committed = BTreeMap::new();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        if let QuorumObs::CommittedEntry(entry) = obs {
            let (first_node, first) = *committed.entry(entry.offset).or_insert((node, entry));
            if first != entry {
                violations.push(Violation::new(
                    "raft_log_consistent",
                    at,
                    format!(
                        "committed offset {} differs: epoch {} on {} but epoch {} on {}",
                        entry.offset,
                        first.epoch,
                        name(first_node),
                        entry.epoch,
                        name(node)
                    ),
                ));
            }
        }
    }
    violations
}

/// Across restarts, a voter never runs in an epoch older than one its
/// election state was fsynced in (else it could vote twice in an epoch).
fn epoch_never_below_durable(
    history: &[Seen<'_>],
    name: &dyn Fn(NodeId) -> String,
) -> Vec<Violation> {
    let mut durable: BTreeMap<NodeId, u32> = BTreeMap::new();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        match obs {
            QuorumObs::EpochDurable(epoch) => {
                let d = durable.entry(node).or_default();
                *d = (*d).max(*epoch);
            }
            QuorumObs::Transition { epoch } => {
                let d = durable.get(&node).copied().unwrap_or(0);
                if *epoch < d {
                    violations.push(Violation::new(
                        "monotonic_raft_epoch",
                        at,
                        format!(
                            "{} runs in epoch {epoch} after epoch {d} was fsynced to its quorum-state",
                            name(node)
                        ),
                    ));
                    // Report once per loss, not on every later transition.
                    durable.insert(node, *epoch);
                }
            }
            _ => {}
        }
    }
    violations
}

/// Per controller and process incarnation, a reported value never decreases.
fn monotonic_per_incarnation(
    history: &[Seen<'_>],
    name: &dyn Fn(NodeId) -> String,
    invariant: &str,
    what: &str,
    value: impl Fn(&QuorumObs) -> Option<u64>,
) -> Vec<Violation> {
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        if let QuorumObs::Booted = obs {
            last.remove(&node);
        } else if let Some(v) = value(obs) {
            let previous = last.insert(node, v).unwrap_or(0);
            if v < previous {
                violations.push(Violation::new(
                    invariant,
                    at,
                    format!("{} {what} went back from {previous} to {v}", name(node)),
                ));
            }
        }
    }
    violations
}
