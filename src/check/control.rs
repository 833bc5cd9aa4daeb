//! Checks of the control plane: at most one partition leader per leader
//! epoch (part of `single_leader_per_epoch`), and `eventually_available` for
//! the metadata (after the settle phase the quorum has an active controller,
//! every broker is registered and unfenced, and every partition has a leader).

use std::collections::BTreeMap;

use sim::{Nanos, NodeId};

use super::Violation;
use crate::controller::node::LeaderObs;
use crate::metadata::{MetadataImage, Uuid};

/// One leadership observation: when, who saw it, what.
pub type Seen<'a> = (Nanos, NodeId, &'a LeaderObs);

/// No two nodes' metadata ever name different leaders for one partition and
/// leader epoch; checked online, one observation at a time.
#[derive(Debug, Default)]
pub struct LeaderChecker {
    leaders: BTreeMap<(String, Uuid, i32), (NodeId, Option<u32>)>,
}

impl LeaderChecker {
    /// Takes one observation; what broke goes into `out`.
    pub fn observe(
        &mut self,
        at: Nanos,
        node: NodeId,
        obs: &LeaderObs,
        name: &dyn Fn(NodeId) -> String,
        out: &mut Vec<Violation>,
    ) {
        let key = (obs.partition.clone(), obs.topic_id, obs.leader_epoch);
        let (first_node, first) = *self.leaders.entry(key).or_insert((node, obs.leader));
        if first != obs.leader {
            let show = |l: Option<u32>| l.map_or("none".to_owned(), |l| format!("broker {l}"));
            out.push(Violation::new(
                "single_leader_per_epoch",
                at,
                format!(
                    "{} has two leaders in leader epoch {}: {} (seen by {}) and {} (seen by {})",
                    obs.partition,
                    obs.leader_epoch,
                    show(first),
                    name(first_node),
                    show(obs.leader),
                    name(node)
                ),
            ));
        }
    }
}

/// Runs the partition-leader check over a recorded history.
pub fn partition_leader_per_epoch(
    history: &[Seen<'_>],
    name: &dyn Fn(NodeId) -> String,
) -> Vec<Violation> {
    let mut checker = LeaderChecker::default();
    let mut violations = Vec::new();
    for &(at, node, obs) in history {
        checker.observe(at, node, obs, name, &mut violations);
    }
    violations
}

/// The control plane recovered by the end of the run: `metadata` is the
/// newest committed image (None: no controller has one).
pub fn eventually_available(
    at: Nanos,
    active_controller: bool,
    metadata: Option<&MetadataImage>,
    brokers: &[u32],
    topics: &[(String, u32)],
    unavailable: &[crate::protocol::TopicPartition],
) -> Vec<Violation> {
    let mut problems = Vec::new();
    if !active_controller {
        problems.push("no active controller".to_owned());
    }
    let empty = MetadataImage::default();
    let image = metadata.unwrap_or(&empty);
    let not_unfenced: Vec<String> = brokers
        .iter()
        .copied()
        .filter(|&b| !image.is_unfenced(b))
        .map(|b| b.to_string())
        .collect();
    if !not_unfenced.is_empty() {
        problems.push(format!(
            "brokers not registered and unfenced: {}",
            not_unfenced.join(", ")
        ));
    }
    for (topic, partitions) in topics {
        match image.topics.get(topic) {
            None => problems.push(format!("topic {topic} was never created")),
            Some(t) => {
                let offline: Vec<String> = (0..*partitions)
                    .filter(|&p| {
                        !unavailable.contains(&crate::protocol::TopicPartition::new(topic, p))
                    })
                    .filter_map(|p| match t.partitions.get(&p) {
                        None => Some(format!("{topic}-{p} (not in the metadata)")),
                        Some(r) if r.leader.is_none() => Some(format!(
                            "{topic}-{p} (leader epoch {}, Replicas [{}], Isr [{}])",
                            r.leader_epoch,
                            super::id_list(&r.replicas),
                            super::id_list(&r.isr)
                        )),
                        Some(_) => None,
                    })
                    .collect();
                if !offline.is_empty() {
                    problems.push(format!(
                        "partitions without a leader: {}",
                        offline.join(", ")
                    ));
                }
            }
        }
    }
    problems
        .into_iter()
        .map(|p| {
            Violation::new(
                "eventually_available",
                at,
                format!("after the settle phase: {p}"),
            )
        })
        .collect()
}
