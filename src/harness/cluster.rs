//! The scenario's cluster in the kernel: a node per controller, broker,
//! producer and consumer plus the admin client, and the online checkers
//! that watch them.

use std::collections::BTreeSet;
use std::sync::Arc;

use sim::Sim;

use super::address_book::AddressBook;
use super::monitor::Monitor;
use super::node::ClusterNode;
use super::topology::{Role, Topology};
use super::{
    admin_ops, consumer_spec, creatable_topics, producer_setup, sim_config, specs, RunOptions,
};
use crate::broker::BrokerSpec;
use crate::check;
use crate::check::groups::{GroupChecker, MemberOf};
use crate::check::txn::TxnChecker;
use crate::client::admin::AdminSpec;
use crate::client::producer::ProducerSpec;
use crate::controller::node::ControllerSpec;
use crate::node::{controller_id, NodeSpec};
use crate::scenario::{Invariant, PipelineSpec, Processing, ProcessingGuarantee, Scenario};

/// The scenario's cluster in a kernel, not yet started.
pub(super) fn build(
    scenario: &Scenario,
    topology: &Topology,
    seed: u64,
    options: &RunOptions,
) -> Sim<ClusterNode> {
    let mut sim: Sim<ClusterNode> = Sim::new(seed, sim_config(scenario));
    let book = Arc::new(AddressBook::of(topology));
    for (role, spec) in topology
        .roles
        .iter()
        .zip(node_specs(scenario, topology, options))
    {
        let book = Arc::clone(&book);
        sim.add_node(role.name(), move |ctx| {
            ClusterNode::boot(ctx, &spec, Arc::clone(&book))
        });
    }
    sim.set_mutations(options.mutations.kernel);
    sim
}

/// What each node of the topology is, in the model's terms.
fn node_specs(scenario: &Scenario, topology: &Topology, options: &RunOptions) -> Vec<NodeSpec> {
    let mutations = options.mutations;
    let voters: Vec<u32> = (1..=scenario.cluster.controllers)
        .map(controller_id)
        .collect();
    let brokers: Vec<u32> = (1..=scenario.cluster.brokers).collect();
    let mut broker_config = specs::broker_config(scenario);
    broker_config.log.trust_epoch_checkpoint = mutations.trust_epoch_checkpoint;
    // A mutated model may break the log's and partitions' contracts on
    // purpose; the checkers are what must catch it then.
    broker_config.log.contracts = !mutations.any();
    broker_config.forget_offsets_on_load = mutations.forget_offsets_on_load;
    broker_config.unmuted_connections = mutations.unmuted_connections;
    broker_config.commit_aborted_transactions = mutations.commit_aborted_transactions;
    broker_config.drop_txn_markers = mutations.drop_txn_markers;
    broker_config.serve_below_log_start = mutations.serve_below_log_start;
    topology
        .roles
        .iter()
        .map(|role| match *role {
            Role::Controller(index) => NodeSpec::Controller(ControllerSpec {
                config: specs::controller_config(scenario),
                mutations: mutations.raft,
                keep_leader_epoch: mutations.keep_leader_epoch,
                ..ControllerSpec::new(controller_id(index), voters.clone())
            }),
            Role::Broker(id) => NodeSpec::Broker(BrokerSpec {
                id,
                voters: voters.clone(),
                config: broker_config,
                topics: Arc::clone(&topology.topic_table),
                keep_leader_epoch: mutations.keep_leader_epoch,
            }),
            Role::Admin => NodeSpec::Admin(AdminSpec {
                voters: voters.clone(),
                topics: creatable_topics(scenario),
                ops: admin_ops(scenario),
            }),
            Role::Producer(index) => {
                let (config, workload, transaction) =
                    producer_setup(scenario, &topology.topic_table, index);
                NodeSpec::Producer(ProducerSpec {
                    index,
                    config,
                    workload,
                    brokers: brokers.clone(),
                    transaction,
                })
            }
            Role::Consumer { ref group, index } => {
                let mut config = specs::consumer_config(
                    consumer_spec(scenario, group, index),
                    &topology.topic_table,
                    &role.name(),
                    brokers.clone(),
                    mutations.consumer,
                );
                config.leader_epoch_validation = scenario.protocol.consumer_leader_epoch_validation;
                NodeSpec::Consumer(config)
            }
            Role::Pipeline { ref group, index } => {
                let mut config = specs::pipeline_config(
                    pipeline_of(scenario, group),
                    &scenario.protocol,
                    index,
                    &topology.topic_table,
                    &role.name(),
                    brokers.clone(),
                    mutations.consumer,
                );
                config.consumer.leader_epoch_validation =
                    scenario.protocol.consumer_leader_epoch_validation;
                NodeSpec::Pipeline(Box::new(config))
            }
        })
        .collect()
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
            Role::Producer(i) => {
                topic_index(&producer_setup(scenario, &topology.topic_table, *i).1.topic)
            }
            Role::Consumer { group, index } => {
                topic_index(&consumer_spec(scenario, group, *index).topic)
            }
            Role::Pipeline { group, .. } => topic_index(&pipeline_of(scenario, group).input),
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
                    read_committed: spec.config.get_str("isolation.level").as_deref()
                        == Some("read_committed"),
                })
            }
            Role::Pipeline { group, .. } => {
                let spec = pipeline_of(scenario, group);
                Some(MemberOf {
                    group: group.clone(),
                    topic: spec.input.clone(),
                    processing: Processing::Pipeline,
                    read_committed: spec.guarantee() == ProcessingGuarantee::ExactlyOnceV2,
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
    let group_checks: Vec<&'static str> =
        if scenario.consumers.is_empty() && scenario.pipelines.is_empty() {
            Vec::new()
        } else {
            check::groups::GROUP_INVARIANTS
                .iter()
                .copied()
                .filter(|n| processing_checked(n))
                .collect()
        };
    let client_topics = topic_of
        .iter()
        .map(|&t| topic_names.get(t as usize).cloned().unwrap_or_default())
        .collect();
    let mut monitor = Monitor::new(
        names,
        topic_names,
        topic_of,
        Arc::clone(&topology.topic_table),
    );
    monitor.compaction = check::compaction::CompactionChecker::new(
        scenario
            .topics
            .iter()
            .map(|t| check::compaction::CompactedTopic {
                name: t.name.clone(),
                compacted: super::is_compacted(scenario, t),
                delete_retention_ms: t
                    .config
                    .effective_i64("delete.retention.ms", &scenario.cluster.config)
                    .map_or(0, |ms| ms.max(0) as u64),
            })
            .collect(),
    );
    monitor.broker_ids = topology
        .roles
        .iter()
        .map(|role| match role {
            Role::Broker(id) => *id,
            _ => 0,
        })
        .collect();
    monitor.data.set_replication_factors(
        scenario
            .topics
            .iter()
            // A recreated topic's records are never forgotten: retention
            // of one incarnation says nothing of another's.
            .map(|t| {
                if scenario.recreates(&t.name) {
                    0
                } else {
                    t.replication_factor
                }
            })
            .collect(),
    );
    for pipeline in &scenario.pipelines {
        monitor.data.derived_topic(&pipeline.output);
    }
    monitor.pipeline = topology
        .roles
        .iter()
        .map(|role| matches!(role, Role::Pipeline { .. }))
        .collect();
    monitor.group_of = members
        .iter()
        .map(|m| m.as_ref().map(|m| m.group.clone()))
        .collect();
    let read_committed = members
        .iter()
        .map(|m| m.as_ref().is_some_and(|m| m.read_committed))
        .collect();
    monitor.txn = TxnChecker::new(monitor.names.clone(), client_topics, read_committed);
    monitor.groups = GroupChecker::new(monitor.names.clone(), members, explicit);
    // key_order keeps per-record state: only when it judges something.
    monitor.key_order_checked = super::run::key_order_applies(scenario)
        && super::run::selected(scenario, check::key_order::KEY_ORDER);
    monitor.key_order =
        check::key_order::KeyOrderChecker::new(monitor.group_of.iter().flatten().cloned());
    (monitor, group_checks)
}

/// The `[[pipelines]]` entry of `group`.
pub(super) fn pipeline_of<'a>(scenario: &'a Scenario, group: &str) -> &'a PipelineSpec {
    scenario
        .pipelines
        .iter()
        .find(|p| p.group == group)
        .expect("the topology's pipeline groups are the scenario's")
}
