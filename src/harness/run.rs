//! One run in phases: [`Run::start`] builds the cluster, [`Run::advance_to`]
//! drives the fault timeline (and the settle phase once the fault phase is
//! over) up to a moment, and [`Run::finish`] runs the final checks. `ksim run`
//! goes to the end; `ksim describe --at` and `ksim dump-log --at` stop at a
//! moment and look at the cluster there. Stopping changes nothing: the
//! kernel processes the same events in the same order however the run is cut.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufWriter;
use std::time::Instant;

use rand_chacha::ChaCha8Rng;
use sim::{Fault, NodeId, Sim};

use super::cluster::{build, monitor_for};
use super::faults::{self, Action, Executed};
use super::history::{self, What};
use super::monitor::Monitor;
use super::node::ClusterNode;
use super::samples::Sampler;
use super::topology::{Role, Topology};
use super::{
    coverage, explain, final_state, live_state, liveness, newest_metadata, quorum_state, swarm_mix,
    Outcome, RunOptions, Stats, TraceError,
};
use crate::broker::BrokerServer;
use crate::check;
use crate::controller::node::QuorumController;
use crate::metadata::MetadataImage;
use crate::protocol::TopicPartition;
use crate::report::groups::DescribedGroup;
use crate::scenario::{Invariant, Scenario};

/// The version of the `--trace` format (docs/trace.md); it goes up when a
/// field is removed or changes meaning.
pub const TRACE_SCHEMA: u32 = 1;

/// A node's process at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    /// Running.
    Up,
    /// Frozen by a pause fault: its state is as of the pause.
    Paused,
    /// Not running (crashed or powered off); its disk remains.
    Down,
}

impl Process {
    /// `up`, `paused` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Process::Up => "up",
            Process::Paused => "paused",
            Process::Down => "down",
        }
    }
}

/// A run in progress.
pub struct Run {
    scenario: Scenario,
    topology: Topology,
    sim: Sim<ClusterNode>,
    monitor: Monitor,
    timeline: faults::Timeline,
    target_rng: ChaCha8Rng,
    executed: Vec<Executed>,
    sampler: Sampler,
    settled: bool,
    mix: Option<swarm_mix::SwarmMix>,
    group_checks: Vec<&'static str>,
    trace: Option<String>,
    started: Instant,
    /// Liveness mode (`RunOptions::liveness`).
    liveness: bool,
    /// The core the settle phase kept, in liveness mode.
    core: Option<super::core::Core>,
}

impl Run {
    /// Builds the scenario's cluster for `seed` and starts it (time 0).
    pub fn start(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Self, TraceError> {
        let started = Instant::now();
        let topology = Topology::of(scenario);
        let mix = if options.swarm {
            swarm_mix::SwarmMix::draw(scenario, &topology, seed)
        } else {
            None
        };
        let scenario = match &mix {
            Some(m) => m.apply(scenario),
            None => scenario.clone(),
        };
        // Memory layout only: the same bytes either way.
        sim::blob::compact_blobs(super::compact_blobs(&scenario));
        let mut sim = build(&scenario, &topology, seed, options);
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
            sim.trace_note(&serde_json::json!({
                "t_ns": 0,
                "event": "run",
                "schema": TRACE_SCHEMA,
                "scenario": scenario.name,
                "seed": seed,
                "swarm": mix.is_some(),
                "nodes": topology.roles.iter().map(Role::name).collect::<Vec<_>>(),
            }));
        }
        let (monitor, group_checks) = monitor_for(&scenario, &topology);
        sim.start();
        let eligible = mix.as_ref().map(swarm_mix::SwarmMix::eligible);
        let mut timeline = faults::plan(&scenario, &topology, sim.streams(), eligible);
        let target_rng = sim.streams().stream("faults/targets");
        if options.inject_panic {
            timeline.push(scenario.duration_ns / 2, Action::InjectedPanic);
        }
        if options.mutations.hashmap_order {
            timeline.push(scenario.duration_ns / 2, Action::HashMapOrder);
        }
        let sampler = Sampler::new(&scenario);
        Ok(Self {
            scenario,
            topology,
            sim,
            monitor,
            timeline,
            target_rng,
            executed: Vec::new(),
            sampler,
            settled: false,
            mix,
            group_checks,
            trace: options.trace.as_ref().map(|p| p.display().to_string()),
            started,
            liveness: options.liveness,
            core: None,
        })
    }

    /// Branches another future from here (`ksim blame`): every random
    /// stream is reseeded with `suffix` (the network, the nodes, the disks,
    /// how fault targets resolve); the faults already planned stay, as
    /// the seed drew them.
    pub fn reseed(&mut self, suffix: u64) {
        self.sim.reseed(suffix);
        self.target_rng = self.sim.streams().stream("faults/targets");
    }

    /// When the run ends: the fault phase, then the settle phase.
    pub fn end_ns(&self) -> u64 {
        self.scenario.duration_ns + self.scenario.settle_ns
    }

    /// The scenario as run (with the seed's swarm mix applied).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The simulation, to look at.
    pub fn sim(&self) -> &Sim<ClusterNode> {
        &self.sim
    }

    /// Which node is what.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Runs up to `t` (at most the end): the scripted and swarm faults due
    /// before it, and the settle phase once `t` is past the fault phase.
    pub fn advance_to(&mut self, t: u64) {
        let t = t.min(self.end_ns());
        let duration = self.scenario.duration_ns;
        let upto = t.min(duration);
        while let Some((at, action)) = self.timeline.pop_before(upto) {
            self.run_until(at);
            self.execute(at, action);
        }
        self.run_until(upto);
        if !self.settled && (t > duration || t >= self.end_ns()) {
            self.settled = true;
            if self.liveness {
                let image = newest_metadata(&self.sim, &self.topology);
                let mut rng = self.sim.streams().stream("liveness/core");
                let default_min_isr = self
                    .scenario
                    .cluster
                    .config
                    .get_i64("min.insync.replicas")
                    .unwrap_or(1) as usize;
                let to_create: Vec<(String, u32)> = super::creatable_topics(&self.scenario)
                    .into_iter()
                    .map(|t| (t.name, t.replication_factor))
                    .collect();
                let core = super::core::choose(
                    &self.topology,
                    image.as_ref(),
                    default_min_isr,
                    &to_create,
                    &mut rng,
                );
                super::core::settle(&mut self.sim, &self.topology, &core, &mut self.executed);
                self.core = Some(core);
            } else {
                settle(&mut self.sim, &self.topology, &mut self.executed);
            }
        }
        self.run_until(t);
    }

    /// Processes events up to `t`, sampling the replicas on the way.
    fn run_until(&mut self, t: u64) {
        let monitor = &mut self.monitor;
        while let Some(at) = self.sampler.next_before(t) {
            self.sim
                .run_until_observing(at, &mut |o| monitor.observe(o));
            self.sampler.sample(at, &self.sim, &self.topology);
        }
        self.sim.run_until_observing(t, &mut |o| monitor.observe(o));
    }

    /// Carries out one action of the fault timeline at `at`.
    fn execute(&mut self, at: u64, action: Action) {
        let sim = &mut self.sim;
        let action = match action {
            Action::InjectedPanic => {
                panic!("injected panic (test hook) at {}", sim::format_nanos(at))
            }
            Action::HashMapOrder => {
                // The planted bug: an order that depends on the map's
                // random keys, not on the seed.
                let nodes: std::collections::HashMap<usize, ()> =
                    (0..self.topology.roles.len()).map(|i| (i, ())).collect();
                for &i in nodes.keys() {
                    sim.poke(sim::NodeId(i as u32), |_, _| {});
                }
                return;
            }
            Action::Scripted(spec) => {
                let live = live_state(sim, &self.topology);
                let (now, back) = faults::resolve(
                    &spec,
                    self.scenario.disk.torn_writes,
                    &self.topology,
                    &live,
                    &mut self.target_rng,
                );
                if let Some((delay, back)) = back {
                    self.timeline.push(at + delay, back);
                }
                now
            }
            direct => direct,
        };
        if let Action::Shutdown(nodes) = &action {
            let details: Vec<String> = nodes.iter().map(|&n| shutdown_broker(sim, n)).collect();
            self.executed.push(Executed {
                at_ns: at,
                kind: "shutdown".to_owned(),
                target: faults::describe_target(nodes, "shutdown", |n| sim.name(n).to_owned()),
                detail: details.join("; "),
                applied: Vec::new(),
                nodes: nodes.clone(),
                settle: false,
            });
        }
        if let Action::Close(nodes) = &action {
            let details: Vec<String> = nodes.iter().map(|&n| close_consumer(sim, n)).collect();
            self.executed.push(Executed {
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
                record_down(sim, &mut self.monitor.history, f);
            }
            let details: Vec<String> = faults.iter().map(|f| sim.apply(f.clone()).detail).collect();
            self.executed.push(Executed {
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

    /// The faults executed so far.
    pub fn executed(&self) -> &[Executed] {
        &self.executed
    }

    /// The newest committed metadata now.
    pub fn metadata(&self) -> Option<MetadataImage> {
        newest_metadata(&self.sim, &self.topology)
    }

    /// The scenario's consumer groups now, as `kafka-consumer-groups.sh --describe` shows them.
    pub fn groups(&self) -> Vec<DescribedGroup> {
        let end_state = self
            .metadata()
            .map(|m| final_state::collect(&self.sim, &self.topology, &m))
            .unwrap_or_default();
        final_state::groups(
            &self.sim,
            &self.topology,
            &group_names(&self.scenario),
            &end_state,
        )
    }

    /// Each controller now.
    pub fn quorum(&self) -> Vec<super::ControllerState> {
        quorum_state(&self.sim, &self.topology)
    }

    /// The broker process with Kafka id `id`, when it runs.
    pub fn broker(&self, id: u32) -> Option<&BrokerServer> {
        final_state::broker(&self.sim, &self.topology, id)
    }

    /// Broker `id`'s process now.
    pub fn broker_state(&self, id: u32) -> Process {
        match self.topology.id(&Role::Broker(id)) {
            Some(node) if self.sim.is_paused(node) => Process::Paused,
            Some(node) if self.sim.is_up(node) => Process::Up,
            _ => Process::Down,
        }
    }

    /// The controller process with id `id`, when it runs.
    pub fn controller(&self, id: u32) -> Option<&QuorumController> {
        super::controller(&self.sim, self.topology.id(&Role::Controller(id))?)
    }

    /// The active controller now: the running Raft leader with the highest epoch.
    pub fn active_controller(&self) -> Option<u32> {
        let node = super::active_controller(&self.sim, &self.topology)?;
        match self.topology.roles[node.index()] {
            Role::Controller(id) => Some(id),
            _ => None,
        }
    }

    /// The disk of broker `id`: it outlives the process, so a crashed
    /// broker's disk is still here (page cache included, unless the power went).
    pub fn broker_disk(&self, id: u32) -> Option<&sim::Disk> {
        Some(self.sim.disk(self.topology.id(&Role::Broker(id))?))
    }

    /// The protocol history so far (in the order observed).
    pub fn history(&self) -> &history::History {
        &self.monitor.history
    }

    /// Runs the final checks on a run advanced to its end.
    pub fn finish(mut self) -> Result<Outcome, TraceError> {
        let end = self.end_ns();
        self.advance_to(end);
        let Run {
            scenario,
            topology,
            mut sim,
            monitor,
            executed,
            sampler,
            mix,
            group_checks,
            trace,
            started,
            core,
            ..
        } = self;
        sim.trace_note(&serde_json::json!({
            "t_ns": sim.now(),
            "event": "end",
            "events": sim.events(),
            "trace_hash": sim.trace_hash(),
        }));
        // A trace that could not be fully written is reported, not silently cut.
        sim.finish_trace().map_err(|reason| TraceError {
            path: trace.unwrap_or_default(),
            reason,
        })?;
        // Nothing after the run reads a disk: the final state is the
        // processes' (see `Sim::discard_disks`).
        sim.discard_disks();
        let scenario = &scenario;
        let Monitor {
            mut violations,
            quorum_history,
            control_events,
            data,
            groups,
            txn,
            key_order,
            compaction,
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
                    hit_broker: f
                        .nodes
                        .iter()
                        .any(|n| matches!(topology.roles[n.index()], Role::Broker(_))),
                },
            );
        }
        history.finish();
        let metadata = newest_metadata(&sim, &topology);
        let last_ack = data.last_ack_per_producer();
        let mut end_state = metadata
            .as_ref()
            .map(|m| final_state::collect(&sim, &topology, m))
            .unwrap_or_default();
        if let Some(m) = &metadata {
            end_state.deleted_topics = final_state::deleted_topics(scenario, m);
        }
        let described_groups =
            final_state::groups(&sim, &topology, &group_names(scenario), &end_state);
        let removed = data.removed_by_retention(&end_state);
        let (group_violations, group_stats) =
            groups.finish(end, &end_state, &|id| data.is_acked(id), &removed);
        violations.extend(group_violations);
        violations.extend(key_order.finish(end, &|id| data.is_acked(id)));
        let stats = Stats {
            records_sent: data.sent_count,
            records_acked: data.acked,
            records_consumed: data.consumed_count,
            records_removed_by_retention: data.removed_earlier()
                + removed.values().map(|ids| ids.len() as u64).sum::<u64>(),
            records_removed_by_compaction: data.removed_by_compaction(&end_state),
            records_removed_by_deletion: data.removed_by_deletion(&end_state),
            offset_resets: group_stats.iter().map(|g| g.offset_resets).sum(),
            acks_per_second: data.acks_per_second.clone(),
            groups: group_stats,
        };
        // The history names partitions as reports print them; these are the
        // same labels, made from the scenario's topics.
        let labels: BTreeMap<String, TopicPartition> = scenario
            .topics
            .iter()
            .flat_map(|t| {
                (0..scenario.final_partitions(t)).map(|p| TopicPartition::new(&t.name, p))
            })
            .map(|tp| (tp.to_string(), tp))
            .collect();
        let min_insync = |part: &str| labels.get(part).map_or(1, |tp| min_insync(scenario, tp));
        let acked_between = |part: &str, from: u64, to: u64| {
            labels
                .get(part)
                .is_some_and(|tp| data.acked_between(tp, from, to))
        };
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
        let compaction_checked =
            compaction.applies() && selected(scenario, check::compaction::COMPACTION_KEEPS_LATEST);
        if compaction_checked {
            violations.extend(compaction.finish(end, &end_state, &context));
        }
        violations.extend(data.finish(end, &end_state, &context));
        violations.extend(txn.finish(end, &end_state));
        let pipelines = checked_pipelines(scenario);
        violations.extend(check::pipeline::exactly_once(end, &pipelines, &end_state));
        violations.extend(liveness::data_available(
            scenario,
            &sim,
            &topology,
            &liveness::EndState {
                metadata: metadata.as_ref(),
                logs: &end_state,
                groups: &described_groups,
                last_ack: &last_ack,
                unavailable: core.as_ref().map_or(&[][..], |c| &c.unavailable[..]),
            },
            end,
        ));
        let live = live_state(&sim, &topology);
        let topic_partitions: Vec<(String, u32)> = scenario
            .topics
            .iter()
            .filter(|t| !end_state.deleted_topics.contains(&t.name))
            .map(|t| (t.name.clone(), scenario.final_partitions(t)))
            .collect();
        let expected_brokers: Vec<u32> = match &core {
            Some(c) => c.brokers.clone(),
            None => (1..=scenario.cluster.brokers).collect(),
        };
        violations.extend(check::control::eventually_available(
            end,
            live.active_controller.is_some(),
            metadata.as_ref(),
            &expected_brokers,
            &topic_partitions,
            core.as_ref().map_or(&[][..], |c| &c.unavailable[..]),
        ));
        // Liveness mode: partitions unavailable by Kafka's design are
        // reported, and what rests on their final state is not a bug.
        let mut core = core;
        let mut exempted = 0;
        if let Some(c) = &mut core {
            for tp in super::core::offline_by_design(c, metadata.as_ref()) {
                if !c.unavailable.contains(&tp) {
                    c.unavailable.push(tp);
                }
            }
            exempted = super::core::exempt(&mut violations, &c.unavailable);
        }
        violations.retain(|v| selected(scenario, &v.invariant));
        violations.sort_by_key(|v| v.at_ms);
        explain::explain(&mut violations, &history);
        let checked = check::data::DATA_INVARIANTS
            .iter()
            .chain(&group_checks)
            .chain(&check::quorum::QUORUM_INVARIANTS)
            .chain(&["eventually_available"])
            .chain(if pipelines.is_empty() {
                &[]
            } else {
                &check::pipeline::PIPELINE_INVARIANTS[..]
            })
            .chain(if super::has_transactions(scenario) {
                &check::txn::TXN_INVARIANTS[..]
            } else {
                &[]
            })
            .chain(if key_order_applies(scenario) {
                &[check::key_order::KEY_ORDER][..]
            } else {
                &[]
            })
            .chain(if compaction_checked {
                &[check::compaction::COMPACTION_KEEPS_LATEST][..]
            } else {
                &[]
            })
            .filter(|name| selected(scenario, name))
            .map(|s| (*s).to_owned())
            .collect();
        Ok(Outcome {
            kafka_version: scenario.protocol.kafka_version,
            fixed: scenario
                .anomaly
                .as_ref()
                .is_some_and(|a| a.is_fixed_variant),
            against_version: scenario.protocol.against_version(),
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
            liveness: core.as_ref().map(|c| c.report(&sim, exempted)),
            history,
            samples: sampler.finish(),
        })
    }
}

/// The scenario's consumer group names, sorted.
fn group_names(scenario: &Scenario) -> Vec<String> {
    scenario
        .consumers
        .iter()
        .map(|c| c.group.clone())
        .chain(scenario.pipelines.iter().map(|p| p.group.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// `min.insync.replicas` of the partition `tp`.
fn min_insync(scenario: &Scenario, tp: &TopicPartition) -> u32 {
    scenario
        .topics
        .iter()
        .find(|t| t.name == tp.topic)
        .and_then(|t| t.config.get_i64("min.insync.replicas"))
        .or_else(|| scenario.cluster.config.get_i64("min.insync.replicas"))
        .unwrap_or(1) as u32
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
pub(super) fn selected(scenario: &Scenario, invariant: &str) -> bool {
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
        let closed = sim
            .node(node)
            .and_then(ClusterNode::consumer)
            .is_some_and(|c| c.is_closed());
        // A broker still shutting down would stop for good: it is
        // restarted (killed and booted, as an orchestrator would).
        let shutting_down = sim
            .node(node)
            .and_then(ClusterNode::broker)
            .is_some_and(|b| b.is_shutting_down());
        if !sim.is_up(node) || closed || shutting_down {
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
    let Some(b) = sim.node(node).and_then(ClusterNode::broker) else {
        return;
    };
    let rm = b.replica_manager();
    for (tp, p) in rm.partitions().iter() {
        if rm.topics().name(tp.topic_id).starts_with("__") {
            continue;
        }
        history.push(
            sim.now(),
            sim.name(node).to_owned(),
            Some(rm.topics().show(*tp)),
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
    let closed = signal(sim, node, |n| n.consumer().is_some(), ClusterNode::close);
    match closed {
        Ok(name) => {
            format!("{name} closes: a last commit with enable.auto.commit, then LeaveGroup")
        }
        Err(name) => format!("{name} is not running; nothing to close"),
    }
}

/// Sends a broker SIGTERM (its controlled shutdown); says what happened.
fn shutdown_broker(sim: &mut Sim<ClusterNode>, node: NodeId) -> String {
    let stopped = signal(sim, node, |n| n.broker().is_some(), ClusterNode::shutdown);
    match stopped {
        Ok(name) => format!("{name} got SIGTERM: controlled shutdown, then a flush of every log and the clean shutdown marker"),
        Err(name) => format!("{name} is not running; nothing to shut down"),
    }
}

/// Runs `act` on `node` if it is up and `is` (its role) holds: Ok with its
/// name if the node took it, else Err with its name.
fn signal(
    sim: &mut Sim<ClusterNode>,
    node: NodeId,
    is: impl Fn(&ClusterNode) -> bool,
    act: impl FnOnce(&mut ClusterNode, &mut sim::Ctx<'_, ClusterNode>),
) -> Result<String, String> {
    let name = sim.name(node).to_owned();
    let poked = sim.poke(node, |n, ctx| {
        if is(n) {
            act(n, ctx);
        }
    });
    if poked {
        Ok(name)
    } else {
        Err(name)
    }
}

/// Whether `key_order` has something to judge: a producer with keys whose
/// topic a group reads.
pub(super) fn key_order_applies(scenario: &Scenario) -> bool {
    scenario.producers.iter().any(|p| {
        p.keys > 0
            && (scenario.consumers.iter().any(|c| c.topic == p.topic)
                || scenario.pipelines.iter().any(|x| x.input == p.topic))
    })
}

/// The scenario's pipelines as `exactly_once` checks them.
fn checked_pipelines(scenario: &Scenario) -> Vec<check::pipeline::CheckedPipeline> {
    let partitions = |topic: &str| {
        scenario
            .topic(topic)
            .map_or(0, |t| scenario.final_partitions(t))
    };
    scenario
        .pipelines
        .iter()
        .map(|p| check::pipeline::CheckedPipeline {
            group: p.group.clone(),
            guarantee: p.guarantee().name().to_owned(),
            input: (p.input.clone(), partitions(&p.input)),
            output: (p.output.clone(), partitions(&p.output)),
        })
        .collect()
}
