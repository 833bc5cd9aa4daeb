//! The simulated cluster's nodes, their names, and where fault targets point.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim::NodeId;

use crate::group::offsets_topic::{partition_for, CONSUMER_OFFSETS, OFFSETS_TOPIC_NUM_PARTITIONS};
use crate::metadata::MetadataImage;
use crate::protocol::Topics;
use crate::scenario::{Scenario, Target};
use crate::txn::log::{
    partition_for as txn_partition_for, TRANSACTION_STATE_LOG_NUM_PARTITIONS,
    TRANSACTION_STATE_TOPIC,
};

/// What a node is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A KRaft controller, numbered from 1.
    Controller(u32),
    /// A broker, numbered from 1 (its Kafka node id).
    Broker(u32),
    /// A producer client, numbered from 0 across all `[[producers]]`.
    Producer(u32),
    /// The admin client that creates the scenario's topics.
    Admin,
    /// A consumer client: its group and index within the group.
    Consumer {
        /// The consumer group.
        group: String,
        /// Index within the group, from 0.
        index: u32,
    },
    /// A consume-transform-produce pipeline member: its group and index.
    Pipeline {
        /// The pipeline's consumer group.
        group: String,
        /// Index within the group, from 0.
        index: u32,
    },
}

impl Role {
    /// The node's name in reports and traces (`broker-1`, `consumer-billing-0`).
    pub fn name(&self) -> String {
        match self {
            Role::Controller(n) => format!("controller-{n}"),
            Role::Broker(n) => format!("broker-{n}"),
            Role::Producer(n) => format!("producer-{n}"),
            Role::Admin => "admin".to_owned(),
            Role::Consumer { group, index } => format!("consumer-{group}-{index}"),
            Role::Pipeline { group, index } => format!("pipeline-{group}-{index}"),
        }
    }

    /// True for servers (controllers and brokers), the nodes swarm faults hit.
    pub fn is_server(&self) -> bool {
        matches!(self, Role::Controller(_) | Role::Broker(_))
    }
}

/// What fault targets need to know of the running cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// The controller that leads the quorum now, if one does.
    pub active_controller: Option<NodeId>,
    /// The newest committed metadata a controller holds (partition roles
    /// resolve against it; before any, against the preferred placement).
    pub metadata: Option<MetadataImage>,
}

/// Every node of a scenario, in the order they are added to the simulation:
/// controllers, brokers, the admin client, producers, consumers.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Roles by `NodeId` index.
    pub roles: Vec<Role>,
    /// The run's topics: the scenario's, then `__consumer_offsets`.
    pub topic_table: Arc<Topics>,
    brokers: u32,
    /// (topic, partitions, replication factor) in scenario order.
    topics: Vec<(String, u32, u32)>,
    /// `offsets.topic.num.partitions`.
    offsets_partitions: u32,
    /// `transaction.state.log.num.partitions`.
    txn_partitions: u32,
}

impl Topology {
    /// The nodes a scenario asks for.
    pub fn of(scenario: &Scenario) -> Self {
        let mut roles = Vec::new();
        roles.extend((1..=scenario.cluster.controllers).map(Role::Controller));
        roles.extend((1..=scenario.cluster.brokers).map(Role::Broker));
        roles.push(Role::Admin);
        let producers: u32 = scenario.producers.iter().map(|p| p.count).sum();
        roles.extend((0..producers).map(Role::Producer));
        let mut per_group: Vec<(String, u32)> = Vec::new();
        for consumer in &scenario.consumers {
            let next = match per_group.iter_mut().find(|(g, _)| *g == consumer.group) {
                Some((_, n)) => n,
                None => {
                    per_group.push((consumer.group.clone(), 0));
                    &mut per_group.last_mut().expect("just pushed").1
                }
            };
            for _ in 0..consumer.count {
                roles.push(Role::Consumer {
                    group: consumer.group.clone(),
                    index: *next,
                });
                *next += 1;
            }
        }
        for pipeline in &scenario.pipelines {
            roles.extend((0..pipeline.count).map(|index| Role::Pipeline {
                group: pipeline.group.clone(),
                index,
            }));
        }
        let topics = scenario
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions, t.replication_factor))
            .collect();
        let offsets_partitions = scenario
            .cluster
            .config
            .get_i64("offsets.topic.num.partitions")
            .map_or(OFFSETS_TOPIC_NUM_PARTITIONS, |n| {
                n.clamp(1, i64::from(u32::MAX)) as u32
            });
        let topic_table = Arc::new(Topics::new(
            scenario
                .topics
                .iter()
                .map(|t| t.name.clone())
                .chain([CONSUMER_OFFSETS.to_owned()])
                .chain(
                    super::has_transactions(scenario).then(|| TRANSACTION_STATE_TOPIC.to_owned()),
                ),
        ));
        Self {
            roles,
            topic_table,
            brokers: scenario.cluster.brokers,
            topics,
            offsets_partitions,
            txn_partitions: scenario
                .cluster
                .config
                .get_i64("transaction.state.log.num.partitions")
                .map_or(TRANSACTION_STATE_LOG_NUM_PARTITIONS, |n| {
                    n.clamp(1, i64::from(u32::MAX)) as u32
                }),
        }
    }

    /// The node with this role.
    pub fn id(&self, role: &Role) -> Option<NodeId> {
        self.roles
            .iter()
            .position(|r| r == role)
            .map(|i| NodeId(i as u32))
    }

    /// Every node id.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.roles.len() as u32).map(NodeId)
    }

    /// The broker ids, in order.
    pub fn brokers(&self) -> Vec<NodeId> {
        (1..=self.brokers)
            .filter_map(|b| self.id(&Role::Broker(b)))
            .collect()
    }

    /// The replicas (broker numbers) of a partition, preferred leader first.
    ///
    /// Round-robin placement: topic `t` (in scenario order; `__consumer_offsets`
    /// after the scenario's topics) starts at broker `t % brokers`, and replica
    /// `j` of partition `p` sits on the next broker round the ring.
    pub fn replicas(&self, topic: &str, partition: u32) -> Vec<u32> {
        let (index, rf) = match self.topics.iter().position(|(name, ..)| name == topic) {
            Some(i) => (i as u32, self.topics[i].2),
            None => (self.topics.len() as u32, self.brokers.min(3)),
        };
        (0..rf)
            .map(|j| (index + partition + j) % self.brokers.max(1) + 1)
            .collect()
    }

    /// Replicas of a partition and its leader, as the live metadata has them
    /// (the preferred placement and preferred leader before it exists).
    fn roles_of(&self, live: &Live, topic: &str, partition: u32) -> (Vec<u32>, Option<u32>) {
        match live
            .metadata
            .as_ref()
            .and_then(|m| m.partition(topic, partition))
        {
            Some(p) => (p.replicas.clone(), p.leader),
            None => {
                let replicas = self.replicas(topic, partition);
                let leader = replicas.first().copied();
                (replicas, leader)
            }
        }
    }

    /// Resolves a fault target to nodes, as it stands now.
    ///
    /// `controller(active)` is the quorum's leader now (nothing while there is
    /// none). `leader(T-P)` is the partition's leader in the live metadata
    /// (nothing while it has none), `follower` the first other replica in
    /// replica order, `followers` all of them; `coordinator(G)` is the leader
    /// of G's `__consumer_offsets` partition, `txn_coordinator(ID)` the
    /// leader of ID's `__transaction_state` partition.
    pub fn resolve(&self, target: &Target, live: &Live, rng: &mut ChaCha8Rng) -> Vec<NodeId> {
        let brokers = |numbers: &[u32]| -> Vec<NodeId> {
            numbers
                .iter()
                .filter_map(|&b| self.id(&Role::Broker(b)))
                .collect()
        };
        match target {
            Target::Broker(n) => brokers(&[*n]),
            Target::Controller(n) => self.id(&Role::Controller(*n)).into_iter().collect(),
            Target::ActiveController => live.active_controller.into_iter().collect(),
            Target::Leader { topic, partition } => {
                let (_, leader) = self.roles_of(live, topic, *partition);
                brokers(leader.as_slice())
            }
            Target::Follower { topic, partition } => {
                let (replicas, leader) = self.roles_of(live, topic, *partition);
                let first = replicas.into_iter().find(|&r| Some(r) != leader);
                brokers(first.as_slice())
            }
            Target::Followers { topic, partition } => {
                let (replicas, leader) = self.roles_of(live, topic, *partition);
                let rest: Vec<u32> = replicas
                    .into_iter()
                    .filter(|&r| Some(r) != leader)
                    .collect();
                brokers(&rest)
            }
            Target::Coordinator(group) => {
                let partition = partition_for(group, self.offsets_partitions);
                let (_, leader) = self.roles_of(live, CONSUMER_OFFSETS, partition);
                brokers(leader.as_slice())
            }
            Target::TxnCoordinator(id) => {
                let partition = txn_partition_for(id, self.txn_partitions);
                let (_, leader) = self.roles_of(live, TRANSACTION_STATE_TOPIC, partition);
                brokers(leader.as_slice())
            }
            Target::RandomBroker => {
                let all = self.brokers();
                if all.is_empty() {
                    return all;
                }
                vec![all[rng.random_range(0..all.len())]]
            }
            Target::AllBrokers => self.brokers(),
            Target::Producer(n) => self.id(&Role::Producer(*n)).into_iter().collect(),
            // A pipeline member is a consumer of its group too.
            Target::Consumer { group, index } => self
                .id(&Role::Consumer {
                    group: group.clone(),
                    index: *index,
                })
                .or_else(|| {
                    self.id(&Role::Pipeline {
                        group: group.clone(),
                        index: *index,
                    })
                })
                .into_iter()
                .collect(),
        }
    }
}
