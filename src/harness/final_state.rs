//! What the logs hold after the settle phase: the final read of every
//! partition from its leader (records from the log start offset below the
//! high watermark, as a consumer reading from the start would get them) and
//! each in-sync replica's copy.

use std::rc::Rc;

use sim::Sim;

use super::node::ClusterNode;
use super::topology::{Role, Topology};
use crate::broker::BrokerServer;
use crate::broker::ReplyTo;
use crate::check::data::{FinalLog, FinalState};
use crate::group::coordinator::GroupCoordinator;
use crate::log::RecordBatch;
use crate::metadata::MetadataImage;
use crate::protocol::TopicPartition;
use crate::report::groups::{DescribedGroup, DescribedMember};

/// The running broker process with Kafka id `id`.
pub(super) fn broker<'a>(
    sim: &'a Sim<ClusterNode>,
    topology: &Topology,
    id: u32,
) -> Option<&'a BrokerServer> {
    match sim.node(topology.id(&Role::Broker(id))?) {
        Some(n) => n.broker(),
        _ => None,
    }
}

/// The batches of `tp` on broker `id` from its log start offset below
/// `upto` (shared with its log).
fn batches(
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    id: u32,
    tp: &TopicPartition,
    upto: u64,
) -> Option<Vec<Rc<RecordBatch>>> {
    let p = broker(sim, topology, id)?.replica_manager().partition(tp)?;
    Some(p.log.read_all(p.log.log_start_offset(), upto))
}

/// The final state of every partition with a running leader in `image`.
pub fn collect(sim: &Sim<ClusterNode>, topology: &Topology, image: &MetadataImage) -> FinalState {
    let mut state = FinalState::default();
    for (name, topic) in &image.topics {
        if name.starts_with("__") {
            continue;
        }
        state.topic_ids.insert(name.clone(), topic.id);
        for (&index, reg) in &topic.partitions {
            let tp = TopicPartition::new(name, index);
            let Some(leader) = reg.leader else {
                continue;
            };
            let Some((start, hw, compacted)) = broker(sim, topology, leader)
                .map(|b| b.replica_manager())
                .and_then(|r| r.partition(&tp))
                .filter(|p| p.is_leader())
                .map(|p| {
                    (
                        p.log.log_start_offset(),
                        p.log.high_watermark(),
                        p.log.config().compact,
                    )
                })
            else {
                continue;
            };
            let Some(leader_batches) = batches(sim, topology, leader, &tp, hw) else {
                continue;
            };
            let replicas = reg
                .isr
                .iter()
                .filter(|&&r| r != leader)
                .filter_map(|&r| Some((r, batches(sim, topology, r, &tp, hw)?)))
                .collect();
            let log = FinalLog::new(leader_batches, start, hw, replicas);
            let log = if compacted { log.compacted() } else { log };
            state.logs.insert(tp, log);
        }
    }
    state
}

/// The scenario's topics that an `[[admin]]` delete_topic deleted: gone
/// from the final metadata `image`.
pub fn deleted_topics(
    scenario: &crate::scenario::Scenario,
    image: &MetadataImage,
) -> std::collections::BTreeSet<String> {
    scenario
        .topics
        .iter()
        .filter(|t| scenario.deletes(&t.name) && !image.topics.contains_key(&t.name))
        .map(|t| t.name.clone())
        .collect()
}

/// Every consumer group of the run as `kafka-consumer-groups.sh --describe`
/// shows it at the end: members and assignments from the coordinator that
/// owns the group, committed offsets, and log end offsets (the high
/// watermarks of the final read).
pub fn groups(
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    names: &[String],
    end: &FinalState,
) -> Vec<DescribedGroup> {
    let coordinators: Vec<&GroupCoordinator<ReplyTo>> = topology
        .ids()
        .filter_map(|id| match sim.node(id) {
            Some(n) => n.broker().map(|b| b.group_coordinator().coordinator()),
            _ => None,
        })
        .collect();
    names
        .iter()
        .map(|name| {
            let owner = coordinators.iter().find(|c| c.owns(name));
            let mut described = DescribedGroup {
                group: name.clone(),
                ..DescribedGroup::default()
            };
            let Some(c) = owner else {
                return described;
            };
            described.state = Some(
                c.groups()
                    .get(name)
                    .map_or("Dead".to_owned(), |g| format!("{:?}", g.state())),
            );
            if let Some(g) = c.groups().get(name) {
                described.members = g
                    .members()
                    .values()
                    .map(|m| DescribedMember {
                        member_id: m.member_id.clone(),
                        host: format!("/{}", m.client_id),
                        client_id: m.client_id.clone(),
                        assignment: serde_json::from_slice::<Vec<(String, u32)>>(&m.assignment)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(t, p)| TopicPartition::new(&t, p))
                            .collect(),
                    })
                    .collect();
            }
            if let Some(committed) = c.committed(name) {
                described.committed = committed
                    .iter()
                    .map(|(tp, v)| (tp.clone(), v.offset))
                    .collect();
            }
            let tps: Vec<TopicPartition> = described
                .committed
                .keys()
                .cloned()
                .chain(described.members.iter().flat_map(|m| m.assignment.clone()))
                .collect();
            for tp in tps {
                if let Some(log) = end.logs.get(&tp) {
                    described.log_end.insert(tp, log.high_watermark);
                }
            }
            described
        })
        .collect()
}
