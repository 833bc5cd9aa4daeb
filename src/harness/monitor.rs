//! The online checkers: every observation is checked as soon as it is
//! made, and what the report needs of it is kept (the protocol history, the
//! controllers' events).

use std::sync::Arc;

use sim::{NodeId, Observed};

use super::history::{self, What};
use crate::broker::BrokerObs;
use crate::check::groups::GroupChecker;
use crate::check::{self, Violation};
use crate::client::admin::AdminObs;
use crate::client::consumer::ConsumerObs;
use crate::client::ProducerObs;
use crate::controller::active::ControlEvent;
use crate::controller::node::QuorumObs;
use crate::node::Observation as ClusterObs;
use crate::protocol::{TopicIdPartition, Topics};

/// The online checkers, and what the report keeps of the observations.
pub(super) struct Monitor {
    pub(super) names: Vec<String>,
    /// Per broker: when it last booted with a clean shutdown marker.
    clean_boot: std::collections::BTreeMap<NodeId, sim::Nanos>,
    /// The run's topics, to name partitions.
    pub(super) topics: Arc<Topics>,
    /// Per node: the index of the topic a client works on.
    pub(super) topic_of: Vec<u32>,
    /// The scenario's topic names, by topic index.
    topic_names: Vec<String>,
    pub(super) quorum: check::quorum::QuorumChecker,
    pub(super) leaders: check::control::LeaderChecker,
    pub(super) data: check::data::DataChecker,
    pub(super) groups: GroupChecker,
    pub(super) txn: check::txn::TxnChecker,
    pub(super) key_order: check::key_order::KeyOrderChecker,
    /// Whether `key_order` is checked (it keeps per-record state).
    pub(super) key_order_checked: bool,
    pub(super) compaction: check::compaction::CompactionChecker,
    pub(super) violations: Vec<Violation>,
    pub(super) quorum_history: Vec<(u64, String, QuorumObs)>,
    pub(super) control_events: Vec<(u64, ControlEvent)>,
    pub(super) history: history::History,
    /// Per node: its Kafka broker id (0 for other nodes).
    pub(super) broker_ids: Vec<u32>,
    /// Per node: the consumer group of a consumer.
    pub(super) group_of: Vec<Option<String>>,
    /// Per node: whether it is a pipeline member (its producer's records
    /// carry its inputs' ids: `exactly_once` judges them, not the data and
    /// transaction checkers of the workload's own records).
    pub(super) pipeline: Vec<bool>,
}

impl Monitor {
    /// Broker `broker`'s replica of `tp` starts at `offset` now: when that
    /// lets the checkers forget records retention removed from every
    /// replica, they do (see `check::data::forget`).
    fn log_start(&mut self, at: sim::Nanos, tp: TopicIdPartition, broker: u32, offset: u64) {
        let name = self.topics.name(tp.topic_id);
        let Some(topic) = self.topic_names.iter().position(|t| t == name) else {
            return;
        };
        let Some(forgotten) = self
            .data
            .log_start(topic as u32, tp.partition, broker, offset)
        else {
            return;
        };
        if self.key_order_checked {
            for &(producer, chunk) in &forgotten.chunks {
                let data = &self.data;
                self.key_order
                    .forget(at, producer, chunk, &|id| data.is_acked(id));
            }
        }
        self.groups.forget(
            &self.topic_names[topic],
            &forgotten.removed,
            &forgotten.chunks,
        );
        self.data.forget(&forgotten.chunks);
    }

    pub(super) fn new(
        names: Vec<String>,
        topics: Vec<String>,
        topic_of: Vec<u32>,
        table: Arc<Topics>,
    ) -> Self {
        Self {
            topics: table,
            data: check::data::DataChecker::new(topics.clone(), names.clone()),
            topic_names: topics,
            groups: GroupChecker::default(),
            txn: check::txn::TxnChecker::default(),
            key_order: check::key_order::KeyOrderChecker::default(),
            key_order_checked: false,
            compaction: check::compaction::CompactionChecker::default(),
            names,
            topic_of,
            quorum: Default::default(),
            leaders: Default::default(),
            violations: Vec::new(),
            quorum_history: Vec::new(),
            control_events: Vec::new(),
            history: history::History::default(),
            clean_boot: std::collections::BTreeMap::new(),
            broker_ids: Vec::new(),
            group_of: Vec::new(),
            pipeline: Vec::new(),
        }
    }

    /// Checks one observation as soon as it is made.
    pub(super) fn observe(&mut self, o: &Observed<ClusterObs>) {
        if let ClusterObs::Broker(
            BrokerObs::SegmentsDeleted {
                partition,
                log_start_offset,
                ..
            }
            | BrokerObs::Recovered {
                partition,
                log_start_offset,
                ..
            },
        ) = &o.obs
        {
            let broker = self.broker_ids[o.node.index()];
            self.log_start(o.at, *partition, broker, *log_start_offset);
        }
        let names = &self.names;
        let name = |n: NodeId| names[n.index()].clone();
        let out = &mut self.violations;
        match &o.obs {
            ClusterObs::Producer(_) if self.pipeline.get(o.node.index()) == Some(&true) => {}
            ClusterObs::Producer(obs) => {
                let topic = self.topic_of[o.node.index()];
                self.data.producer(o.at, topic, obs);
                self.txn.producer(o.at, o.node.0, obs);
                self.compaction.producer(o.at, topic, obs);
                if self.key_order_checked {
                    match obs {
                        ProducerObs::Sent(records) => {
                            for r in records {
                                self.key_order.sent(r.id, r.partition, r.key);
                            }
                        }
                        ProducerObs::Acked { .. } => {
                            let data = &self.data;
                            self.key_order.advance(o.at, &|id| data.is_acked(id));
                        }
                        _ => {}
                    }
                }
            }
            ClusterObs::Consumer(obs) => {
                let topic = self.topic_of[o.node.index()];
                self.data.consumer(o.at, o.node.0, topic, obs);
                self.groups.observe(o.at, o.node.0, obs);
                self.txn.consumer(o.at, o.node.0, obs);
                if let (ConsumerObs::Polled(records), Some(group), true) =
                    (obs, &self.group_of[o.node.index()], self.key_order_checked)
                {
                    self.key_order.polled(group, records.iter().map(|r| r.id));
                    let data = &self.data;
                    self.key_order.advance(o.at, &|id| data.is_acked(id));
                }
                if let ConsumerObs::Assigned {
                    generation,
                    partitions,
                    ..
                } = obs
                {
                    let group = self.group_of[o.node.index()].clone().unwrap_or_default();
                    let what = What::Assigned {
                        group,
                        generation: *generation,
                        partitions: partitions.clone(),
                    };
                    self.history.push(o.at, name(o.node), None, what);
                }
            }
            ClusterObs::Quorum(obs) => {
                match obs {
                    QuorumObs::Leader(l) => self.leaders.observe(o.at, o.node, l, &name, out),
                    QuorumObs::Control(event) => {
                        let broker = match event {
                            ControlEvent::Fenced { broker } => Some((broker, What::Fenced)),
                            ControlEvent::Unfenced { broker } => Some((broker, What::Unfenced)),
                            ControlEvent::ControlledShutdown { broker } => Some((
                                broker,
                                What::Shutdown("the controller has it in CONTROLLED_SHUTDOWN: its leaderships move and it leaves every ISR".to_owned()),
                            )),
                            ControlEvent::ShutdownNow { broker } => Some((
                                broker,
                                What::Shutdown("the controller granted the shutdown (SHUTDOWN_NOW, shouldShutDown) and fenced it".to_owned()),
                            )),
                            _ => None,
                        };
                        if let Some((b, what)) = broker {
                            self.history.push(o.at, format!("broker-{b}"), None, what);
                        }
                        self.control_events.push((o.at, event.clone()))
                    }
                    QuorumObs::CommittedEntry(entry) => {
                        self.history.committed(o.at, entry);
                        self.quorum.observe(o.at, o.node, obs, &name, out)
                    }
                    _ => self.quorum.observe(o.at, o.node, obs, &name, out),
                }
                if !matches!(obs, QuorumObs::CommittedEntry(_)) {
                    self.quorum_history.push((o.at, name(o.node), obs.clone()));
                }
            }
            ClusterObs::Broker(BrokerObs::Leader(l)) => {
                self.leaders.observe(o.at, o.node, l, &name, out)
            }
            ClusterObs::Broker(BrokerObs::OffsetsCommitted { group, offsets }) => self
                .groups
                .coordinator_commit(o.at, o.node.0, group, offsets),
            ClusterObs::Broker(BrokerObs::ShutdownBegun { controlled }) => {
                let text = if *controlled {
                    "SIGTERM: controlled shutdown begins (PENDING_CONTROLLED_SHUTDOWN, heartbeats with wantShutDown)"
                } else {
                    "SIGTERM: shutting down without asking the controller (controlled.shutdown.enable = false)"
                };
                self.history
                    .push(o.at, name(o.node), None, What::Shutdown(text.to_owned()));
            }
            ClusterObs::Broker(BrokerObs::Closing { reason }) => {
                let text = format!("stops serving and flushes every log: {reason}");
                self.history
                    .push(o.at, name(o.node), None, What::Shutdown(text));
            }
            ClusterObs::Broker(BrokerObs::RecoverySkipped { logs, broker_epoch }) => {
                self.clean_boot.insert(o.node, o.at);
                let epoch = broker_epoch.map_or(String::new(), |e| format!(" (broker epoch {e})"));
                let text = format!("found the clean shutdown marker{epoch}: removed it, log recovery skipped for {logs} logs");
                self.history
                    .push(o.at, name(o.node), None, What::Shutdown(text));
            }
            ClusterObs::Broker(BrokerObs::Stopped { replicas }) => {
                self.history.push(
                    o.at,
                    name(o.node),
                    None,
                    What::Shutdown(
                        "stopped: every log flushed, checkpoints and the clean shutdown marker durable"
                            .to_owned(),
                    ),
                );
                for (tp, leo, hw) in replicas {
                    if self.topics.name(tp.topic_id).starts_with("__") {
                        continue;
                    }
                    let what = What::Down {
                        fault: "shutdown".to_owned(),
                        log_end_offset: *leo,
                        high_watermark: *hw,
                    };
                    self.history
                        .push(o.at, name(o.node), Some(self.topics.show(*tp)), what);
                }
            }
            ClusterObs::Broker(BrokerObs::GroupDeleted { group }) => {
                self.groups.group_deleted(group);
                let what = What::GroupDeleted {
                    group: group.clone(),
                };
                self.history.push(o.at, name(o.node), None, what);
            }
            ClusterObs::Broker(BrokerObs::OffsetsExpired { group, partitions }) => {
                for tp in partitions {
                    self.groups.offsets_expired(o.at, group, tp.partition);
                    let what = What::OffsetsExpired {
                        group: group.clone(),
                    };
                    self.history
                        .push(o.at, name(o.node), Some(tp.to_string()), what);
                }
            }
            ClusterObs::Broker(obs) => {
                let (partition, what) = match obs {
                    BrokerObs::BecameLeader {
                        partition,
                        leader_epoch,
                        log_end_offset,
                    } => (
                        partition,
                        What::BecameLeader {
                            leader_epoch: *leader_epoch,
                            log_end_offset: *log_end_offset,
                        },
                    ),
                    BrokerObs::Truncated {
                        partition,
                        to_offset,
                        records,
                    } => (
                        partition,
                        What::Truncated {
                            to_offset: *to_offset,
                            records: *records,
                        },
                    ),
                    BrokerObs::SegmentsDeleted {
                        partition,
                        segments,
                        log_start_offset,
                    } => (
                        partition,
                        What::SegmentsDeleted {
                            segments: *segments,
                            log_start_offset: *log_start_offset,
                        },
                    ),
                    BrokerObs::Recovered {
                        partition,
                        log_end_offset,
                        ..
                    } => (
                        partition,
                        What::Recovered {
                            log_end_offset: *log_end_offset,
                            clean: self.clean_boot.get(&o.node) == Some(&o.at),
                        },
                    ),
                    BrokerObs::PartitionDeleted {
                        partition,
                        log_end_offset,
                    } => (
                        partition,
                        What::PartitionDeleted {
                            log_end_offset: *log_end_offset,
                        },
                    ),
                    BrokerObs::LogCleaned {
                        partition,
                        records_removed,
                        first_dirty_offset,
                    } => (
                        partition,
                        What::Cleaned {
                            records_removed: *records_removed,
                            first_dirty_offset: *first_dirty_offset,
                        },
                    ),
                    BrokerObs::HighWatermark {
                        partition,
                        high_watermark,
                    } => {
                        let broker = self.broker_ids[o.node.index()];
                        let topics = &self.topics;
                        self.history.high_watermark(
                            o.at,
                            broker,
                            *partition,
                            || topics.show(*partition),
                            *high_watermark,
                        );
                        return;
                    }
                    _ => return,
                };
                if !self.topics.name(partition.topic_id).starts_with("__") {
                    let partition = self.topics.show(*partition);
                    self.history.push(o.at, name(o.node), Some(partition), what);
                }
            }
            ClusterObs::Admin(obs) => {
                let (topic, text) = match obs {
                    AdminObs::PartitionsCreated { topic, partitions } => (
                        topic,
                        format!("create_partitions: {topic} now has {partitions} partitions"),
                    ),
                    AdminObs::CreatePartitionsFailed { topic, error } => (
                        topic,
                        format!("create_partitions of {topic} failed: {error}"),
                    ),
                    AdminObs::TopicDeleted(topic) => {
                        (topic, format!("delete_topic: {topic} deleted"))
                    }
                    AdminObs::DeleteTopicFailed { topic, error } => {
                        (topic, format!("delete_topic of {topic} failed: {error}"))
                    }
                    AdminObs::TopicCreated {
                        topic,
                        partitions,
                        replication_factor,
                    } => {
                        self.groups.topic_created(topic);
                        (
                            topic,
                            format!("create_topic: {topic} created with {partitions} partitions, replication factor {replication_factor}"),
                        )
                    }
                    AdminObs::CreateTopicFailed { topic, error } => {
                        (topic, format!("create_topic of {topic} failed: {error}"))
                    }
                    AdminObs::Created(_) | AdminObs::Failed(..) => return,
                };
                let what = What::Admin(text);
                self.history
                    .push(o.at, name(o.node), Some(topic.clone()), what);
            }
        }
    }
}
