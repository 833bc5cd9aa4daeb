//! The scenario's cluster in the kernel: a node per controller, broker,
//! producer and consumer plus the admin client, and the online checkers
//! that watch them.

use std::collections::{BTreeMap, BTreeSet};

use sim::{NodeId, Sim};

use super::monitor::Monitor;
use super::node::ClusterNode;
use super::topology::{Role, Topology};
use super::{
    consumer_spec, controller_config, creatable_topics, producer_setup, sim_config, RunOptions,
};
use crate::broker::config::BrokerConfig;
use crate::broker::BrokerServer;
use crate::check;
use crate::check::groups::{GroupChecker, MemberOf};
use crate::client::consumer::{Consumer, ConsumerConfig};
use crate::client::producer::Producer;
use crate::client::AdminClient;
use crate::controller::node::QuorumController;
use crate::scenario::{Invariant, Scenario};

/// The scenario's cluster in a kernel, not yet started.
pub(super) fn build(
    scenario: &Scenario,
    topology: &Topology,
    seed: u64,
    options: &RunOptions,
) -> Sim<ClusterNode> {
    let mut sim: Sim<ClusterNode> = Sim::new(seed, sim_config(scenario));
    let voters: Vec<u32> = (1..=scenario.cluster.controllers).collect();
    let controller_config = controller_config(scenario);
    let mut broker_config =
        BrokerConfig::from_configs(&scenario.cluster.config, scenario.protocol.truncation);
    broker_config.log.trust_epoch_checkpoint = options.mutations.trust_epoch_checkpoint;
    broker_config.forget_offsets_on_load = options.mutations.forget_offsets_on_load;
    let broker_nodes: BTreeMap<u32, NodeId> = (1..=scenario.cluster.brokers)
        .filter_map(|b| Some((b, topology.id(&Role::Broker(b))?)))
        .collect();
    let topics = creatable_topics(scenario);
    let mutations = options.mutations;
    for role in &topology.roles {
        let voters = voters.clone();
        match *role {
            Role::Controller(id) => {
                sim.add_node(role.name(), move |_| {
                    let controller = QuorumController::new(id, voters.clone(), mutations.raft)
                        .with_config(controller_config)
                        .with_keep_leader_epoch(mutations.keep_leader_epoch);
                    ClusterNode::Controller(Box::new(controller))
                });
            }
            Role::Broker(id) => {
                let broker_nodes = broker_nodes.clone();
                sim.add_node(role.name(), move |_| {
                    let broker =
                        BrokerServer::new(id, voters.clone(), broker_config, broker_nodes.clone())
                            .with_keep_leader_epoch(mutations.keep_leader_epoch);
                    ClusterNode::Broker(Box::new(broker))
                });
            }
            Role::Admin => {
                let topics = topics.clone();
                sim.add_node(role.name(), move |_| {
                    ClusterNode::Admin(AdminClient::new(voters.clone(), topics.clone()))
                });
            }
            Role::Producer(index) => {
                let (config, workload) = producer_setup(scenario, index);
                let broker_nodes = broker_nodes.clone();
                sim.add_node(role.name(), move |_| {
                    let producer =
                        Producer::new(index, config, workload.clone(), broker_nodes.clone());
                    ClusterNode::Producer(Box::new(producer))
                });
            }
            Role::Consumer { ref group, index } => {
                let mut config =
                    ConsumerConfig::from_spec(consumer_spec(scenario, group, index), &role.name());
                config.mutations = mutations.consumer;
                let broker_nodes = broker_nodes.clone();
                sim.add_node(role.name(), move |_| {
                    let consumer = Consumer::new(config.clone(), broker_nodes.clone());
                    ClusterNode::Consumer(Box::new(consumer))
                });
            }
        }
    }
    sim.set_mutations(options.mutations.kernel);
    sim
}

/// The online checkers for the scenario, and the group invariants it checks.
pub(super) fn monitor_for(
    scenario: &Scenario,
    topology: &Topology,
) -> (Monitor, Vec<&'static str>) {
    let names: Vec<String> = topology.roles.iter().map(Role::name).collect();
    let topic_names: Vec<String> = scenario.topics.iter().map(|t| t.name.clone()).collect();
    let topic_index = |name: &str| topic_names.iter().position(|t| t == name).unwrap_or(0) as u32;
    let topic_of: Vec<u32> = topology
        .roles
        .iter()
        .map(|role| match role {
            Role::Producer(i) => topic_index(&producer_setup(scenario, *i).1.topic),
            Role::Consumer { group, index } => {
                topic_index(&consumer_spec(scenario, group, *index).topic)
            }
            _ => 0,
        })
        .collect();
    let members: Vec<Option<MemberOf>> = topology
        .roles
        .iter()
        .map(|role| match role {
            Role::Consumer { group, index } => {
                let spec = consumer_spec(scenario, group, *index);
                Some(MemberOf {
                    group: group.clone(),
                    topic: spec.topic.clone(),
                    processing: spec.processing,
                })
            }
            _ => None,
        })
        .collect();
    // A `[check]` list that names invariants (not the default, all of them)
    // asks for them whatever the groups' processing modes.
    let explicit: BTreeSet<String> = if scenario.check.invariants.len() == Invariant::ALL.len() {
        BTreeSet::new()
    } else {
        scenario
            .check
            .invariants
            .iter()
            .map(|i| i.name().to_owned())
            .collect()
    };
    let modes: BTreeSet<&str> = scenario
        .consumers
        .iter()
        .map(|c| c.processing.name())
        .collect();
    let processing_checked = |name: &str| match name {
        "processed_at_least_once" => modes.contains("at-least-once") || explicit.contains(name),
        "processed_at_most_once" => modes.contains("at-most-once") || explicit.contains(name),
        _ => true,
    };
    let group_checks: Vec<&'static str> = if scenario.consumers.is_empty() {
        Vec::new()
    } else {
        check::groups::GROUP_INVARIANTS
            .iter()
            .copied()
            .filter(|n| processing_checked(n))
            .collect()
    };
    let mut monitor = Monitor::new(names, topic_names, topic_of);
    monitor.broker_ids = topology
        .roles
        .iter()
        .map(|role| match role {
            Role::Broker(id) => *id,
            _ => 0,
        })
        .collect();
    monitor.group_of = members
        .iter()
        .map(|m| m.as_ref().map(|m| m.group.clone()))
        .collect();
    monitor.groups = GroupChecker::new(monitor.names.clone(), members, explicit);
    (monitor, group_checks)
}
