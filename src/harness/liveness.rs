//! `eventually_available` for the data path, checked in every scenario:
//! after the faults heal and within `settle`, every producer has a record
//! acknowledged again and every consumer has read its partitions up to the
//! final high watermark (a consumer fenced with FENCED_INSTANCE_ID because
//! another running process took its `group.instance.id` over is not
//! stuck: it stopped as Kafka means it to). What is stuck is reported with its state: the
//! partition's leader, epoch and ISR, the group's members and what they own.

use std::collections::{BTreeMap, BTreeSet};

use sim::Sim;

use super::node::ClusterNode;
use super::topology::{Role, Topology};
use super::{consumer_spec, producer_setup};
use crate::check::{self, Violation};
use crate::client::consumer::OffsetReset;
use crate::errors::Errors;
use crate::metadata::MetadataImage;
use crate::protocol::TopicPartition;
use crate::report::groups::DescribedGroup;
use crate::scenario::Scenario;

/// What the run ended with, as the checks need it.
pub struct EndState<'a> {
    /// The newest committed metadata.
    pub metadata: Option<&'a MetadataImage>,
    /// The final logs.
    pub logs: &'a check::data::FinalState,
    /// The groups as `kafka-consumer-groups.sh --describe` sees them.
    pub groups: &'a [DescribedGroup],
    /// Per producer: when it last had a record acknowledged.
    pub last_ack: &'a BTreeMap<u32, u64>,
    /// Partitions unavailable by design (liveness mode: no in-sync replica
    /// in the core), not checked.
    pub unavailable: &'a [TopicPartition],
}

/// Whether broker `id`'s process leads `tp` as the metadata says it does.
fn leader_view(
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    id: u32,
    tp: &TopicPartition,
) -> String {
    let Some(node) = topology.id(&Role::Broker(id)) else {
        return String::new();
    };
    if !sim.is_up(node) {
        return format!(" (broker {id} is down)");
    }
    let Some(b) = sim.node(node).and_then(ClusterNode::broker) else {
        return String::new();
    };
    let Some(p) = b
        .replica_manager()
        .partition(tp)
        .filter(|p| p.leader_state().is_some())
    else {
        return format!(" (broker {id} does not lead it yet)");
    };
    let (lso, hw) = (p.last_stable_offset(), p.log.high_watermark());
    match p.producers.ongoing().first() {
        Some(&(first, pid, epoch)) if lso < hw => format!(
            " (last stable offset {lso} below high watermark {hw}: held by the open transaction of producer id {pid}, epoch {epoch}{}, from offset {first})",
            transactional_id_of(sim, topology, pid)
                .map_or(String::new(), |id| format!(", transactional.id {id:?}"))
        ),
        _ => String::new(),
    }
}

/// The transactional id whose producer id is `pid`, as a running
/// transaction coordinator holds it.
fn transactional_id_of(sim: &Sim<ClusterNode>, topology: &Topology, pid: i64) -> Option<String> {
    topology
        .ids()
        .filter(|&n| sim.is_up(n))
        .filter_map(|n| sim.node(n)?.broker())
        .find_map(|b| {
            b.txn_coordinator()
                .coordinator()
                .transactions()
                .find(|(_, m)| m.current.producer_id == pid)
                .map(|(id, _)| id.to_owned())
        })
}

/// A partition's state in words: leader, epoch, ISR, and the fenced replicas.
pub fn partition_state(
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    image: Option<&MetadataImage>,
    tp: &TopicPartition,
) -> String {
    let Some(p) = image
        .and_then(|i| i.topics.get(&tp.topic))
        .and_then(|t| t.partitions.get(&tp.partition))
    else {
        return format!("{tp}: not in the metadata");
    };
    let fenced: Vec<u32> = p
        .replicas
        .iter()
        .copied()
        .filter(|&b| !image.is_some_and(|i| i.is_unfenced(b)))
        .collect();
    let fenced = if fenced.is_empty() {
        String::new()
    } else {
        format!("; fenced or unregistered: {}", check::id_list(&fenced))
    };
    let leader = p.leader.map_or("none".to_owned(), |l| {
        format!("{l}{}", leader_view(sim, topology, l, tp))
    });
    format!(
        "{tp}: Leader {leader}, leader epoch {}, Replicas [{}], Isr [{}]{fenced}",
        p.leader_epoch,
        check::id_list(&p.replicas),
        check::id_list(&p.isr)
    )
}

/// A group's state in words: each member and what it owns.
fn group_state(group: Option<&DescribedGroup>) -> String {
    let Some(g) = group else {
        return "the coordinator has no such group".to_owned();
    };
    if g.members.is_empty() {
        return format!("group {} has no members", g.group);
    }
    let members: Vec<String> = g
        .members
        .iter()
        .map(|m| {
            let owns: Vec<String> = m.assignment.iter().map(ToString::to_string).collect();
            format!("{} owns [{}]", m.client_id, owns.join(", "))
        })
        .collect();
    format!("group {}: {}", g.group, members.join("; "))
}

/// A producer that has records acknowledged again may still be stuck on one
/// partition (KAFKA-15591: a first batch refused
/// OUT_OF_ORDER_SEQUENCE_NUMBER until `delivery.timeout.ms`, and any batch
/// retried meanwhile waiting behind it): records it created before the
/// faults healed still wait in its accumulator at the end.
fn stuck_partitions(
    scenario: &Scenario,
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    state: &EndState<'_>,
    (index, topic): (u32, &str),
) -> Vec<String> {
    let Some(producer) = topology
        .ids()
        .find(|&id| matches!(topology.roles[id.index()], Role::Producer(i) if i == index))
        .and_then(|id| sim.node(id))
        .and_then(ClusterNode::producer)
    else {
        return Vec::new();
    };
    let healed_ms = scenario.duration_ns / sim::MILLIS;
    producer
        .waiting_since()
        .filter(|&(_, since_ms, _)| since_ms < healed_ms)
        .map(|(tp, since_ms, records)| (TopicPartition::new(topic, tp.partition), since_ms, records))
        .filter(|(tp, ..)| !state.unavailable.contains(tp))
        .map(|(tp, since_ms, records)| {
            format!(
                "producer-{index} still holds {records} records of {tp}, the oldest created at {:.3}s ({})",
                since_ms as f64 / 1000.0,
                partition_state(sim, topology, state.metadata, &tp)
            )
        })
        .collect()
}

/// The check, at `end`.
pub fn data_available(
    scenario: &Scenario,
    sim: &Sim<ClusterNode>,
    topology: &Topology,
    state: &EndState<'_>,
    end: u64,
) -> Vec<Violation> {
    let mut problems = Vec::new();
    // A deleted topic has no partitions left to be available.
    let deleted = |topic: &str| state.logs.deleted_topics.contains(topic);
    let partitions_of = |topic: &str| -> Vec<TopicPartition> {
        if deleted(topic) {
            return Vec::new();
        }
        let count = scenario
            .topics
            .iter()
            .find(|t| t.name == topic)
            .map_or(0, |t| scenario.final_partitions(t));
        (0..count).map(|p| TopicPartition::new(topic, p)).collect()
    };
    for index in 0..scenario.producer_count() {
        let topic = producer_setup(scenario, &topology.topic_table, index)
            .1
            .topic;
        if deleted(&topic) {
            continue;
        }
        if state
            .last_ack
            .get(&index)
            .is_none_or(|&t| t < scenario.duration_ns)
        {
            let parts: Vec<String> = partitions_of(&topic)
                .iter()
                .map(|tp| partition_state(sim, topology, state.metadata, tp))
                .collect();
            problems.push(format!(
                "producer-{index} had nothing acknowledged after the faults healed ({})",
                parts.join("; ")
            ));
        } else {
            problems.extend(stuck_partitions(
                scenario,
                sim,
                topology,
                state,
                (index, &topic),
            ));
        }
    }
    // Per group: its topic and the partitions some running member owns.
    let mut owned: BTreeMap<&str, (&str, BTreeSet<u32>)> = BTreeMap::new();
    let described = |group: &str| state.groups.iter().find(|g| g.group == group);
    // The group.instance.ids running consumers hold: a process fenced
    // (FENCED_INSTANCE_ID) because another one took its instance id over
    // stopped as Kafka means it to (KIP-345); the holder reads for it.
    let instance_of =
        |c: &crate::client::consumer::Consumer| c.config().membership.group_instance_id.clone();
    let held: BTreeSet<(String, String)> = topology
        .ids()
        .filter_map(|id| sim.node(id).and_then(ClusterNode::consumer))
        .filter(|c| !c.is_stopped())
        .filter_map(|c| Some((c.config().membership.group_id.clone(), instance_of(c)?)))
        .collect();
    for id in topology.ids() {
        let Some(c) = sim.node(id).and_then(ClusterNode::consumer) else {
            continue;
        };
        let (group, topic) = match &topology.roles[id.index()] {
            Role::Consumer { group, index } => {
                (group, &consumer_spec(scenario, group, *index).topic)
            }
            Role::Pipeline { group, .. } => {
                (group, &super::cluster::pipeline_of(scenario, group).input)
            }
            _ => continue,
        };
        let entry = owned
            .entry(group.as_str())
            .or_insert_with(|| (topic.as_str(), BTreeSet::new()));
        if !c.is_stopped() {
            entry.1.extend(c.positions().keys());
        }
        if let Some(error) = c.fatal_error() {
            let taken_over = error == Errors::FencedInstanceId
                && instance_of(c).is_some_and(|i| held.contains(&(group.clone(), i)));
            if taken_over {
                continue;
            }
            let why = match (error, c.config().auto_offset_reset) {
                (Errors::OffsetOutOfRange, OffsetReset::None) => {
                    " (auto.offset.reset = none: its position was out of range or it had none)"
                }
                _ => "",
            };
            problems.push(format!(
                "{} stopped for good on {}{why}: the application got the error",
                sim.name(id),
                error.name()
            ));
            continue;
        }
        for (partition, position) in c.positions() {
            let tp = TopicPartition::new(topic, partition);
            if state.unavailable.contains(&tp) {
                continue;
            }
            let hw = state.logs.logs.get(&tp).map_or(0, |l| l.high_watermark);
            if position < hw {
                problems.push(format!(
                    "{} read {tp} only up to offset {position} of {hw} ({}; {})",
                    sim.name(id),
                    partition_state(sim, topology, state.metadata, &tp),
                    group_state(described(group))
                ));
            }
        }
    }
    for (group, (topic, partitions)) in owned {
        let unowned: Vec<TopicPartition> = partitions_of(topic)
            .into_iter()
            .filter(|tp| !partitions.contains(&tp.partition))
            .collect();
        if !unowned.is_empty() {
            let names: Vec<String> = unowned.iter().map(ToString::to_string).collect();
            problems.push(format!(
                "group {group} ended with no member reading {} ({})",
                names.join(", "),
                group_state(described(group))
            ));
        }
    }
    problems
        .into_iter()
        .map(|p| {
            Violation::new(
                "eventually_available",
                end,
                format!("after the settle phase: {p}"),
            )
        })
        .collect()
}
