//! The harness: builds a scenario's cluster in the kernel, drives the fault
//! timeline, settles, and checks what the run recorded.
//!
//! Controllers run the KRaft quorum and its metadata managers, brokers
//! register, heartbeat and replicate the metadata, and an admin client creates
//! the scenario's topics. They are checked for `single_leader_per_epoch`
//! (Raft leaders and partition leaders), `raft_log_consistent`,
//! `monotonic_high_watermark`, `monotonic_raft_epoch` and, after the settle
//! phase, `eventually_available`. Until their Kafka state machines land,
//! producers and consumers run the kernel's stand-in `Chatter`, checked for
//! the kernel's own promises (`link_fifo`, `fsync_durable`).

pub mod coverage;
pub mod explain;
pub mod faults;
mod final_state;
pub mod history;
mod liveness;
pub mod node;
pub mod swarm_mix;
pub mod topology;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use sim::{DiskConfig, Fault, Mutations, NetConfig, NodeId, Observed, Sim, SimConfig, MILLIS};
use std::collections::{BTreeMap, BTreeSet};

use crate::broker::config::BrokerConfig;
use crate::broker::{BrokerObs, BrokerServer};
use crate::check::groups::{GroupChecker, GroupStats, MemberOf};
use crate::check::{self, Violation};
use crate::client::consumer::{Consumer, ConsumerConfig, ConsumerMutations};
use crate::client::producer::{Producer, ProducerConfig, ProducerWorkload};
use crate::client::AdminClient;
use crate::controller::active::{ControlEvent, ControllerConfig};
use crate::controller::node::{QuorumController, QuorumObs};
use crate::controller::raft::RaftMutations;
use crate::controller::rpc::CreatableTopic;
use crate::group::offsets_topic::{
    CONSUMER_OFFSETS, OFFSETS_TOPIC_NUM_PARTITIONS, OFFSETS_TOPIC_REPLICATION_FACTOR,
};
use crate::metadata::MetadataImage;
use crate::report::groups::DescribedGroup;
use crate::scenario::{ConsumerSpec, Invariant, Scenario};
use faults::{Action, Executed};
use history::What;
use node::{ClusterNode, ClusterObs};
use topology::{Live, Role, Topology};

/// Bytes of each record value the workload writes.
const RECORD_VALUE_BYTES: usize = 100;

/// Options of one run beyond the scenario and seed.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Write every event as a JSON line here.
    pub trace: Option<PathBuf>,
    /// Deliberate bugs (tests that prove a checker fires).
    pub mutations: TestMutations,
    /// Test hook: panic in the middle of the run.
    pub inject_panic: bool,
    /// Swarm testing: the seed draws its own fault mix within `[swarm]`.
    pub swarm: bool,
}

/// Deliberate bugs, in the kernel and in the Kafka model, for tests that
/// prove a checker fires. Never set by a scenario file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestMutations {
    /// Kernel bugs.
    pub kernel: Mutations,
    /// Raft quorum bugs.
    pub raft: RaftMutations,
    /// Metadata replay: a leader change keeps the leader epoch.
    pub keep_leader_epoch: bool,
    /// Log recovery trusts the epoch checkpoint over the batches on disk.
    pub trust_epoch_checkpoint: bool,
    /// Consumer bugs.
    pub consumer: ConsumerMutations,
    /// Group coordinator bug: loading an offsets partition skips its committed offsets.
    pub forget_offsets_on_load: bool,
}

/// Counts of what the clients did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records producers sent.
    pub records_sent: u64,
    /// Records acknowledged to producers.
    pub records_acked: u64,
    /// Records consumers received.
    pub records_consumed: u64,
    /// Per producer (by index): acknowledgements received in each simulated second.
    pub acks_per_second: Vec<Vec<u64>>,
    /// Per consumer group: processing figures (duplicates and why).
    pub groups: Vec<GroupStats>,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The run's trace hash.
    pub trace_hash: String,
    /// Simulated time at the end.
    pub sim_time_ns: u64,
    /// Events processed.
    pub events: u64,
    /// Wall-clock milliseconds the run took (reporting only).
    pub wall_ms: u64,
    /// Client figures.
    pub stats: Stats,
    /// Faults as executed.
    pub faults: Vec<Executed>,
    /// Invariants that broke.
    pub violations: Vec<Violation>,
    /// Names of the invariants that were checked.
    pub checked: Vec<String>,
    /// Each controller at the end of the run.
    pub quorum: Vec<ControllerState>,
    /// The newest committed metadata at the end of the run.
    pub metadata: Option<MetadataImage>,
    /// What the active controllers did: fencing, unfencing, unclean elections.
    pub control_events: Vec<(u64, ControlEvent)>,
    /// Everything the controllers reported but committed entries: (time, node name, what).
    pub quorum_history: Vec<(u64, String, QuorumObs)>,
    /// Each consumer group at the end, as `kafka-consumer-groups.sh --describe` shows it.
    pub groups: Vec<DescribedGroup>,
    /// How often the run reached each protocol state of [`coverage::STATES`].
    pub coverage: BTreeMap<String, u64>,
    /// The fault mix this seed drew (`--swarm`).
    pub swarm: Option<swarm_mix::SwarmMix>,
}

/// A controller as the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerState {
    /// `controller-N`.
    pub name: String,
    /// Its epoch state (Leader, Follower, ...), or `down`.
    pub state: String,
    /// Its epoch.
    pub epoch: u32,
    /// The leader it knows of.
    pub leader: Option<u32>,
    /// Its high watermark.
    pub high_watermark: u64,
}

/// A run that could not start (its trace file could not be written).
#[derive(Debug, thiserror::Error)]
#[error("cannot write trace file {path}: {reason}")]
pub struct TraceError {
    /// The trace file.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// Runs `scenario` with `seed`. Panics inside the simulation propagate to the caller.
pub fn run(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Outcome, TraceError> {
    let started = Instant::now();
    let topology = Topology::of(scenario);
    let mix = if options.swarm {
        swarm_mix::SwarmMix::draw(scenario, &topology, seed)
    } else {
        None
    };
    let mixed;
    let scenario = match &mix {
        Some(m) => {
            mixed = m.apply(scenario);
            &mixed
        }
        None => scenario,
    };
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
    if let Some(path) = &options.trace {
        let trace_error = |e: std::io::Error| TraceError {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(trace_error)?;
        }
        let file = File::create(path).map_err(trace_error)?;
        sim.set_trace_sink(Box::new(BufWriter::new(file)));
    }
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
    let members = topology
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
    let group_checks: Vec<&str> = if scenario.consumers.is_empty() {
        Vec::new()
    } else {
        check::groups::GROUP_INVARIANTS
            .iter()
            .copied()
            .filter(|n| processing_checked(n))
            .collect()
    };
    let mut monitor = Monitor::new(names, topic_names.clone(), topic_of);
    monitor.broker_ids = topology
        .roles
        .iter()
        .map(|role| match role {
            Role::Broker(id) => *id,
            _ => 0,
        })
        .collect();
    monitor.groups = GroupChecker::new(monitor.names.clone(), members, explicit.clone());
    sim.start();

    let eligible = mix.as_ref().map(swarm_mix::SwarmMix::eligible);
    let mut timeline = faults::plan(scenario, &topology, sim.streams(), eligible);
    let mut target_rng = sim.streams().stream("faults/targets");
    let mut executed = Vec::new();
    if options.inject_panic {
        timeline.push(scenario.duration_ns / 2, Action::InjectedPanic);
    }
    while let Some((at, action)) = timeline.pop_before(scenario.duration_ns) {
        sim.run_until_observing(at, &mut |o| monitor.observe(o));
        let action = match action {
            Action::InjectedPanic => {
                panic!("injected panic (test hook) at {}", sim::format_nanos(at))
            }
            Action::Scripted(spec) => {
                let live = live_state(&sim, &topology);
                let (now, back) = faults::resolve(
                    &spec,
                    scenario.disk.torn_writes,
                    &topology,
                    &live,
                    &mut target_rng,
                );
                if let Some((delay, back)) = back {
                    timeline.push(at + delay, back);
                }
                now
            }
            direct => direct,
        };
        if let Action::Close(nodes) = &action {
            let details: Vec<String> = nodes.iter().map(|&n| close_consumer(&mut sim, n)).collect();
            executed.push(Executed {
                at_ns: at,
                kind: "close".to_owned(),
                target: faults::describe_target(nodes, "close", |n| sim.name(n).to_owned()),
                detail: details.join("; "),
                applied: Vec::new(),
                nodes: nodes.clone(),
                settle: false,
            });
        }
        if let Action::Direct {
            kind,
            faults,
            nodes,
        } = action
        {
            for f in &faults {
                record_down(&sim, &mut monitor.history, f);
            }
            let details: Vec<String> = faults.iter().map(|f| sim.apply(f.clone()).detail).collect();
            executed.push(Executed {
                at_ns: at,
                kind: kind.to_owned(),
                target: faults::describe_target(&nodes, kind, |n| sim.name(n).to_owned()),
                detail: details.join("; "),
                applied: faults,
                nodes,
                settle: false,
            });
        }
    }
    sim.run_until_observing(scenario.duration_ns, &mut |o| monitor.observe(o));
    settle(&mut sim, &topology, &mut executed);
    let end = scenario.duration_ns + scenario.settle_ns;
    sim.run_until_observing(end, &mut |o| monitor.observe(o));
    // A trace that could not be fully written is reported, not silently cut.
    sim.finish_trace().map_err(|reason| TraceError {
        path: options
            .trace
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        reason,
    })?;

    let Monitor {
        mut violations,
        quorum_history,
        control_events,
        data,
        groups,
        mut history,
        ..
    } = monitor;
    for f in &executed {
        history.push(
            f.at_ns,
            f.target.clone(),
            None,
            What::Fault {
                kind: f.kind.clone(),
                detail: f.detail.clone(),
            },
        );
    }
    history.finish();
    let metadata = newest_metadata(&sim, &topology);
    let last_ack = data.last_ack_per_producer();
    let end_state = metadata
        .as_ref()
        .map(|m| final_state::collect(&sim, &topology, m))
        .unwrap_or_default();
    let group_names: Vec<String> = scenario
        .consumers
        .iter()
        .map(|c| c.group.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let described_groups = final_state::groups(&sim, &topology, &group_names, &end_state);
    let (group_violations, group_stats) = groups.finish(end, &end_state, &|id| data.is_acked(id));
    violations.extend(group_violations);
    let stats = Stats {
        records_sent: data.sent_count,
        records_acked: data.acked,
        records_consumed: data.consumed_count,
        acks_per_second: data.acks_per_second.clone(),
        groups: group_stats,
    };
    let min_insync = |part: &str| {
        let topic = part.rsplit_once('-').map_or(part, |(t, _)| t);
        scenario
            .topics
            .iter()
            .find(|t| t.name == topic)
            .and_then(|t| t.config.get_i64("min.insync.replicas"))
            .or_else(|| scenario.cluster.config.get_i64("min.insync.replicas"))
            .unwrap_or(1) as u32
    };
    let acked_between = |part: &str, from: u64, to: u64| data.acked_between(part, from, to);
    let coverage = coverage::count(
        &history,
        &coverage::Inputs {
            min_insync: &min_insync,
            acked_between: &acked_between,
            generations: stats
                .groups
                .iter()
                .map(|g| g.generations.saturating_sub(1))
                .sum(),
            fenced_commits: stats.groups.iter().map(|g| g.fenced_commits).sum(),
        },
    );
    let context = |t: u64| faults_after(&executed, t);
    violations.extend(data.finish(end, &end_state, &context));
    violations.extend(liveness::data_available(
        scenario,
        &sim,
        &topology,
        &liveness::EndState {
            metadata: metadata.as_ref(),
            logs: &end_state,
            groups: &described_groups,
            last_ack: &last_ack,
        },
        end,
    ));
    let live = live_state(&sim, &topology);
    let topic_partitions: Vec<(String, u32)> = scenario
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions))
        .collect();
    violations.extend(check::control::eventually_available(
        end,
        live.active_controller.is_some(),
        metadata.as_ref(),
        scenario.cluster.brokers,
        &topic_partitions,
    ));
    violations.retain(|v| selected(scenario, &v.invariant));
    violations.sort_by_key(|v| v.at_ms);
    explain::explain(&mut violations, &history);
    let checked = check::data::DATA_INVARIANTS
        .iter()
        .chain(&group_checks)
        .chain(&check::quorum::QUORUM_INVARIANTS)
        .chain(&["eventually_available"])
        .filter(|name| selected(scenario, name))
        .map(|s| (*s).to_owned())
        .collect();
    Ok(Outcome {
        trace_hash: sim.trace_hash(),
        sim_time_ns: sim.now(),
        events: sim.events(),
        wall_ms: started.elapsed().as_millis() as u64,
        stats,
        faults: executed,
        violations,
        checked,
        quorum: quorum_state(&sim, &topology),
        metadata,
        control_events,
        quorum_history,
        groups: described_groups,
        coverage,
        swarm: mix,
    })
}

/// The online checkers, and what the report keeps of the observations.
struct Monitor {
    names: Vec<String>,
    /// Per node: the index of the topic a client works on.
    topic_of: Vec<u32>,
    quorum: check::quorum::QuorumChecker,
    leaders: check::control::LeaderChecker,
    data: check::data::DataChecker,
    groups: GroupChecker,
    violations: Vec<Violation>,
    quorum_history: Vec<(u64, String, QuorumObs)>,
    control_events: Vec<(u64, ControlEvent)>,
    history: history::History,
    /// Per node: its Kafka broker id (0 for other nodes).
    broker_ids: Vec<u32>,
}

impl Monitor {
    fn new(names: Vec<String>, topics: Vec<String>, topic_of: Vec<u32>) -> Self {
        Self {
            data: check::data::DataChecker::new(topics, names.clone()),
            groups: GroupChecker::default(),
            names,
            topic_of,
            quorum: Default::default(),
            leaders: Default::default(),
            violations: Vec::new(),
            quorum_history: Vec::new(),
            control_events: Vec::new(),
            history: history::History::default(),
            broker_ids: Vec::new(),
        }
    }

    /// Checks one observation as soon as it is made.
    fn observe(&mut self, o: &Observed<ClusterObs>) {
        let names = &self.names;
        let name = |n: NodeId| names[n.index()].clone();
        let out = &mut self.violations;
        match &o.obs {
            ClusterObs::Producer(obs) => {
                let topic = self.topic_of[o.node.index()];
                self.data.producer(o.at, topic, obs)
            }
            ClusterObs::Consumer(obs) => {
                let topic = self.topic_of[o.node.index()];
                self.data.consumer(o.at, o.node.0, topic, obs);
                self.groups.observe(o.at, o.node.0, obs);
            }
            ClusterObs::Quorum(obs) => {
                match obs {
                    QuorumObs::Leader(l) => self.leaders.observe(o.at, o.node, l, &name, out),
                    QuorumObs::Control(event) => {
                        let broker = match event {
                            ControlEvent::Fenced { broker } => Some((broker, What::Fenced)),
                            ControlEvent::Unfenced { broker } => Some((broker, What::Unfenced)),
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
                    BrokerObs::Recovered {
                        partition,
                        log_end_offset,
                    } => (
                        partition,
                        What::Recovered {
                            log_end_offset: *log_end_offset,
                        },
                    ),
                    BrokerObs::HighWatermark {
                        partition,
                        high_watermark,
                    } => {
                        let broker = self.broker_ids[o.node.index()];
                        self.history.high_watermark(
                            o.at,
                            broker,
                            partition.to_string(),
                            *high_watermark,
                        );
                        return;
                    }
                    _ => return,
                };
                if !partition.starts_with("__") {
                    self.history
                        .push(o.at, name(o.node), Some(partition.clone()), what);
                }
            }
            ClusterObs::Admin(_) => {}
        }
    }
}

/// Producer `index`'s configs and workload: records from the start until
/// halfway through the settle phase, so the final read sees what was acked.
fn producer_setup(scenario: &Scenario, index: u32) -> (ProducerConfig, ProducerWorkload) {
    let mut first = 0;
    for spec in &scenario.producers {
        if index < first + spec.count {
            let workload = ProducerWorkload {
                topic: spec.topic.clone(),
                records: spec.rate.records,
                per_ns: spec.rate.per_ns,
                keys: spec.keys,
                value_size: RECORD_VALUE_BYTES,
                stop_at_ns: scenario.duration_ns + scenario.settle_ns / 2,
            };
            return (ProducerConfig::from_configs(&spec.config), workload);
        }
        first += spec.count;
    }
    unreachable!("producer {index} is in the topology")
}

/// The `[[consumers]]` entry of member `index` of `group` (members are
/// numbered across the group's entries).
fn consumer_spec<'a>(scenario: &'a Scenario, group: &str, index: u32) -> &'a ConsumerSpec {
    let mut first = 0;
    for spec in scenario.consumers.iter().filter(|c| c.group == group) {
        if index < first + spec.count {
            return spec;
        }
        first += spec.count;
    }
    unreachable!("consumer {group} {index} is in the topology")
}

/// The faults executed from `t` on (the first few), for violation details:
/// what happened to an acknowledged write after it was acknowledged.
fn faults_after(executed: &[Executed], t: u64) -> String {
    const SHOWN: usize = 4;
    let after: Vec<String> = executed
        .iter()
        .filter(|f| f.at_ns >= t)
        .map(|f| format!("{} {} at {}", f.kind, f.target, sim::format_nanos(f.at_ns)))
        .collect();
    if after.is_empty() {
        return "no fault followed it".to_owned();
    }
    let more = after.len().saturating_sub(SHOWN);
    let shown = after[..after.len().min(SHOWN)].join(", ");
    if more > 0 {
        format!("faults since: {shown} and {more} more")
    } else {
        format!("faults since: {shown}")
    }
}

/// True when the scenario checks `invariant` (its `[check]` list, default
/// all; `eventually_available` and names outside the contract list, the
/// kernel's own, always apply).
fn selected(scenario: &Scenario, invariant: &str) -> bool {
    // Liveness is checked in every scenario, whatever its list.
    if invariant == "eventually_available" {
        return true;
    }
    let chosen = &scenario.check.invariants;
    match invariant.parse::<Invariant>() {
        Ok(i) => chosen.is_empty() || chosen.contains(&i),
        Err(_) => true,
    }
}

/// The controllers' configs from the scenario's broker configs.
fn controller_config(scenario: &Scenario) -> ControllerConfig {
    let config = &scenario.cluster.config;
    let defaults = ControllerConfig::default();
    ControllerConfig {
        session_timeout_ns: config
            .get_i64("broker.session.timeout.ms")
            .map_or(defaults.session_timeout_ns, |ms| ms.max(1) as u64 * MILLIS),
        unclean_leader_election: config
            .get_bool("unclean.leader.election.enable")
            .unwrap_or(defaults.unclean_leader_election),
    }
}

/// The scenario's topics as CreateTopics carries them (explicit configs
/// only), and `__consumer_offsets` when it has consumers (Kafka creates it
/// on the first FindCoordinator: offsets.topic.num.partitions partitions,
/// offsets.topic.replication.factor replicas capped by the broker count here,
/// compacted).
fn creatable_topics(scenario: &Scenario) -> Vec<CreatableTopic> {
    let config = &scenario.cluster.config;
    let offsets = (!scenario.consumers.is_empty()).then(|| CreatableTopic {
        name: CONSUMER_OFFSETS.to_owned(),
        num_partitions: config
            .get_i64("offsets.topic.num.partitions")
            .map_or(OFFSETS_TOPIC_NUM_PARTITIONS, |n| n.clamp(1, 10_000) as u32),
        replication_factor: config
            .get_i64("offsets.topic.replication.factor")
            .map_or(OFFSETS_TOPIC_REPLICATION_FACTOR, |n| n.max(1) as u32)
            .min(scenario.cluster.brokers),
        configs: vec![("cleanup.policy".to_owned(), "compact".to_owned())],
    });
    scenario
        .topics
        .iter()
        .map(|t| CreatableTopic {
            name: t.name.clone(),
            num_partitions: t.partitions,
            replication_factor: t.replication_factor,
            configs: t
                .config
                .values()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .chain(offsets)
        .collect()
}

/// The committed image of the running controller that has committed most.
fn newest_metadata(sim: &Sim<ClusterNode>, topology: &Topology) -> Option<MetadataImage> {
    topology
        .ids()
        .filter_map(|id| controller(sim, id))
        .map(QuorumController::committed_image)
        .max_by_key(|image| image.offset)
        .filter(|image| image.offset > 0)
        .cloned()
}

fn controller(sim: &Sim<ClusterNode>, id: NodeId) -> Option<&QuorumController> {
    match sim.node(id) {
        Some(ClusterNode::Controller(c)) => Some(c),
        _ => None,
    }
}

/// What fault targets need to know of the cluster now.
fn live_state(sim: &Sim<ClusterNode>, topology: &Topology) -> Live {
    // The running leader with the highest epoch (a paused old leader may
    // still believe it leads).
    let active_controller = topology
        .ids()
        .filter_map(|id| {
            let client = controller(sim, id)?.client()?;
            client.is_leader().then_some((client.epoch(), id))
        })
        .max()
        .map(|(_, id)| id);
    Live {
        active_controller,
        metadata: newest_metadata(sim, topology),
    }
}

/// Each controller's state at the end of the run.
fn quorum_state(sim: &Sim<ClusterNode>, topology: &Topology) -> Vec<ControllerState> {
    topology
        .ids()
        .filter(|id| matches!(topology.roles[id.index()], Role::Controller(_)))
        .map(|id| {
            let name = sim.name(id).to_owned();
            match controller(sim, id).and_then(QuorumController::client) {
                Some(client) => ControllerState {
                    name,
                    state: format!("{:?}", client.state().kind()),
                    epoch: client.epoch(),
                    leader: client.leader_id(),
                    high_watermark: client.high_watermark(),
                },
                None => ControllerState {
                    name,
                    state: "down".to_owned(),
                    epoch: 0,
                    leader: None,
                    high_watermark: 0,
                },
            }
        })
        .collect()
}

fn sim_config(scenario: &Scenario) -> SimConfig {
    let net = &scenario.network;
    let disk = &scenario.disk;
    SimConfig {
        net: NetConfig {
            latency_min_ns: net.latency_min_ns,
            latency_max_ns: net.latency_max_ns,
            fifo: true,
        },
        disk: DiskConfig {
            fsync_latency_min_ns: disk.fsync_latency_min_ns,
            fsync_latency_max_ns: disk.fsync_latency_max_ns,
            writeback_interval_ns: disk.writeback_interval_ns,
            dirty_expire_ns: disk.dirty_expire_ns,
        },
    }
}

/// Start of the settle phase: links healed, disks and latency normal, paused
/// nodes resumed, crashed nodes restarted. What changed is recorded.
fn settle(sim: &mut Sim<ClusterNode>, topology: &Topology, executed: &mut Vec<Executed>) {
    let at = sim.now();
    let mut record = |sim: &mut Sim<ClusterNode>, kind: &str, target: String, fault: Fault| {
        let effect = sim.apply(fault.clone());
        if effect.took_effect {
            executed.push(Executed {
                at_ns: at,
                kind: kind.to_owned(),
                target,
                detail: format!("settle: {}", effect.detail),
                applied: vec![fault],
                nodes: Vec::new(),
                settle: true,
            });
        }
    };
    record(sim, "heal", "network".into(), Fault::Heal);
    sim.apply(Fault::Latency {
        node: None,
        delay_ns: 0,
    });
    for node in topology.ids() {
        sim.apply(Fault::SlowDisk { node, factor: 1 });
        let name = sim.name(node).to_owned();
        if sim.is_paused(node) {
            record(sim, "resume", name.clone(), Fault::Resume(node));
        }
        let closed = matches!(sim.node(node), Some(ClusterNode::Consumer(c)) if c.is_closed());
        if !sim.is_up(node) || closed {
            record(sim, "restart", name, Fault::Restart(node));
        }
    }
}

/// Before a crash or power loss of a broker: what each of its replicas held.
fn record_down(sim: &Sim<ClusterNode>, history: &mut history::History, fault: &Fault) {
    let (node, kind) = match fault {
        Fault::Crash(node) => (*node, "crash"),
        Fault::PowerLoss { node, .. } => (*node, "power_loss"),
        _ => return,
    };
    if !sim.is_up(node) {
        return;
    }
    let Some(ClusterNode::Broker(b)) = sim.node(node) else {
        return;
    };
    let Some(rm) = b.replica_manager() else {
        return;
    };
    for (tp, p) in rm.partitions() {
        if tp.topic.starts_with("__") {
            continue;
        }
        history.push(
            sim.now(),
            sim.name(node).to_owned(),
            Some(tp.to_string()),
            What::Down {
                fault: kind.to_owned(),
                log_end_offset: p.log.log_end_offset(),
                high_watermark: p.log.high_watermark(),
            },
        );
    }
}

/// Tells a consumer to close (KafkaConsumer.close()); says what happened.
fn close_consumer(sim: &mut Sim<ClusterNode>, node: NodeId) -> String {
    let name = sim.name(node).to_owned();
    let poked = sim.poke(node, |n, ctx| {
        if let ClusterNode::Consumer(c) = n {
            c.close(ctx);
        }
    });
    if poked {
        format!("{name} closes: a last commit with enable.auto.commit, then LeaveGroup")
    } else {
        format!("{name} is not running; nothing to close")
    }
}
