//! The harness: builds a scenario's cluster in the kernel, drives the fault
//! timeline, settles, and checks what the run recorded.
//!
//! Controllers run the KRaft quorum and its metadata managers, brokers
//! register, heartbeat, replicate the metadata and the topics' logs, an
//! admin client creates the scenario's topics, and producers and consumers
//! run the workload. [`run::Run`] drives one run in phases; [`monitor`]
//! checks every observation as it is made; the end of the run checks the
//! data, the groups and liveness.

pub mod address_book;
mod cluster;
pub mod core;
pub mod coverage;
pub mod explain;
pub mod faults;
mod final_state;
pub mod history;
mod liveness;
mod monitor;
pub mod node;
mod run;
pub mod samples;
pub mod specs;
pub mod swarm_mix;
pub mod topology;

use std::collections::BTreeMap;
use std::path::PathBuf;

use sim::{DiskConfig, Mutations, NetConfig, NodeId, Sim, SimConfig};

use crate::check::groups::GroupStats;
use crate::check::Violation;
use crate::client::admin::{AdminOp, AdminOpKind};
use crate::client::consumer::ConsumerMutations;
use crate::client::producer::{ProducerConfig, ProducerWorkload, TransactionWorkload};
use crate::controller::active::ControlEvent;
use crate::controller::node::{QuorumController, QuorumObs};
use crate::controller::raft::RaftMutations;
use crate::controller::rpc::CreatableTopic;
use crate::group::offsets_topic::{
    CONSUMER_OFFSETS, OFFSETS_TOPIC_NUM_PARTITIONS, OFFSETS_TOPIC_REPLICATION_FACTOR,
};
use crate::metadata::MetadataImage;
use crate::node::{controller_index, KafkaNode};
use crate::protocol::Topics;
use crate::report::groups::DescribedGroup;
use crate::scenario::{ConsumerSpec, Scenario};
use crate::txn::log::{
    TRANSACTION_STATE_LOG_MIN_ISR, TRANSACTION_STATE_LOG_NUM_PARTITIONS,
    TRANSACTION_STATE_LOG_REPLICATION_FACTOR, TRANSACTION_STATE_TOPIC,
};
use faults::Executed;
use node::ClusterNode;
pub use run::{Process, Run};
use topology::{Live, Role, Topology};

/// Bytes of each record value the workload writes.
const RECORD_VALUE_BYTES: usize = 100;

/// Record values a run may write before its blobs are kept compressed in
/// memory: below this the whole run fits easily as written, and
/// compressing would only cost time (a seventh of a `broker_crash` seed).
const COMPACT_BLOBS_FROM_BYTES: u64 = 256 << 20;

/// Whether a run of `scenario` should keep its blobs compressed: whether
/// its producers may write at least [`COMPACT_BLOBS_FROM_BYTES`] of values.
fn compact_blobs(scenario: &Scenario) -> bool {
    let sending_ns = scenario.duration_ns + scenario.settle_ns / 2;
    let values: u64 = scenario
        .producers
        .iter()
        .map(|p| {
            let records = u128::from(p.rate.records) * u128::from(sending_ns)
                / u128::from(p.rate.per_ns.max(1));
            let bytes = records * u128::from(p.count) * RECORD_VALUE_BYTES as u128;
            u64::try_from(bytes).unwrap_or(u64::MAX)
        })
        .fold(0, u64::saturating_add);
    values >= COMPACT_BLOBS_FROM_BYTES
}

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
    /// Liveness mode: the settle phase heals only a core the seed draws
    /// (see [`core`]).
    pub liveness: bool,
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
    /// SocketServer bug: a broker handles every request as it arrives, a
    /// connection's later request before an earlier one's response.
    pub unmuted_connections: bool,
    /// Transaction coordinator bug: aborted transactions get COMMIT markers.
    pub commit_aborted_transactions: bool,
    /// Transaction coordinator bug: markers are never sent (every
    /// transaction hangs in PrepareCommit or PrepareAbort).
    pub drop_txn_markers: bool,
    /// Broker bug: a fetch below the log start offset is served from the
    /// first record left instead of answered OFFSET_OUT_OF_RANGE (readers
    /// skip what retention removed without knowing).
    pub serve_below_log_start: bool,
    /// Harness bug: halfway through the run every node is poked in the
    /// iteration order of a std `HashMap` (randomly keyed per map), so the
    /// same seed runs differently: the nondeterminism `explore --recheck`
    /// must catch.
    pub hashmap_order: bool,
}

impl TestMutations {
    /// Whether any mutation is on.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
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
    /// Acknowledged records retention removed (below the final log start offsets).
    pub records_removed_by_retention: u64,
    /// Acknowledged records the log cleaner removed (a later record of
    /// their key took over).
    pub records_removed_by_compaction: u64,
    /// Acknowledged records of topics an `[[admin]]` delete_topic deleted.
    pub records_removed_by_deletion: u64,
    /// Consumer positions `auto.offset.reset` moved after OFFSET_OUT_OF_RANGE.
    pub offset_resets: u64,
    /// Per producer (by index): acknowledgements received in each simulated second.
    pub acks_per_second: Vec<Vec<u64>>,
    /// Per consumer group: processing figures (duplicates and why).
    pub groups: Vec<GroupStats>,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The Kafka release the run simulated.
    pub kafka_version: crate::config::KafkaVersion,
    /// The run was the scenario's fixed variant (`[anomaly] fixed`).
    pub fixed: bool,
    /// `[protocol]` switches set against that release (see
    /// `ProtocolSpec::against_version`).
    pub against_version: Vec<String>,
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
    /// Liveness mode: the core the settle phase kept.
    pub liveness: Option<core::LivenessReport>,
    /// The protocol history: faults, elections, ISR changes, truncations, rebalances.
    pub history: history::History,
    /// The replicas, sampled at a fixed interval.
    pub samples: samples::Samples,
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
    let mut run = Run::start(scenario, seed, options)?;
    run.advance_to(run.end_ns());
    run.finish()
}

/// Producer `index`'s configs and workload: records from the start until
/// halfway through the settle phase, so the final read sees what was acked.
fn producer_setup(
    scenario: &Scenario,
    topics: &Topics,
    index: u32,
) -> (
    ProducerConfig,
    ProducerWorkload,
    Option<TransactionWorkload>,
) {
    let mut first = 0;
    for spec in &scenario.producers {
        if index < first + spec.count {
            let transaction = spec.transaction.as_ref().map(|t| TransactionWorkload {
                transactional_id: spec.transactional_id(index - first).unwrap_or_default(),
                transaction_timeout_ms: specs::unsigned(
                    &spec.config,
                    "transaction.timeout.ms",
                    60_000,
                ),
                records: t.records,
                abort_ppm: (t.abort * 1_000_000.0).round() as u32,
                finalized_transaction_version: scenario.protocol.transaction_version,
                coordinator_supports_bumping_epoch: scenario.protocol.transactional_epoch_bump,
            });
            let workload = ProducerWorkload {
                topic: spec.topic.clone(),
                topic_id: topics
                    .id(&spec.topic)
                    .expect("the scenario's topics are in the run's table"),
                records: spec.rate.records,
                per_ns: spec.rate.per_ns,
                keys: spec.keys,
                value_size: RECORD_VALUE_BYTES,
                tombstones_ppm: (spec.tombstones * 1_000_000.0).round() as u32,
                stop_at_ns: scenario.duration_ns + scenario.settle_ns / 2,
            };
            let config = specs::producer_config(&spec.config, &scenario.protocol);
            return (config, workload, transaction);
        }
        first += spec.count;
    }
    unreachable!("producer {index} is in the topology")
}

/// Whether `topic`'s effective `cleanup.policy` holds `compact` (its own,
/// else the brokers' `log.cleanup.policy`).
fn is_compacted(scenario: &Scenario, topic: &crate::scenario::TopicSpec) -> bool {
    matches!(
        topic.config.effective("cleanup.policy", &scenario.cluster.config),
        Some(crate::config::ConfigValue::List(p)) if p.iter().any(|v| v == "compact")
    )
}

/// Whether any producer is transactional, or any pipeline exactly-once
/// (then `__transaction_state` exists).
fn has_transactions(scenario: &Scenario) -> bool {
    scenario.producers.iter().any(|p| p.transaction.is_some())
        || scenario
            .pipelines
            .iter()
            .any(|p| p.guarantee() == crate::scenario::ProcessingGuarantee::ExactlyOnceV2)
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

/// The scenario's `[[admin]]` operations, as the admin client runs them.
fn admin_ops(scenario: &Scenario) -> Vec<AdminOp> {
    scenario
        .admin
        .iter()
        .map(|a| AdminOp {
            at: a.at_ns,
            kind: match &a.op {
                crate::scenario::AdminAction::CreatePartitions { topic, partitions } => {
                    AdminOpKind::CreatePartitions {
                        topic: topic.clone(),
                        partitions: *partitions,
                    }
                }
                crate::scenario::AdminAction::DeleteTopic { topic } => AdminOpKind::DeleteTopic {
                    topic: topic.clone(),
                },
                crate::scenario::AdminAction::CreateTopic {
                    topic,
                    partitions,
                    replication_factor,
                } => {
                    let spec = scenario.topics.iter().find(|t| t.name == *topic);
                    let mut created = creatable(spec.expect("parsed with its topic"));
                    created.num_partitions = *partitions;
                    created.replication_factor = *replication_factor;
                    AdminOpKind::CreateTopic(created)
                }
            },
        })
        .collect()
}

/// The scenario's topics as CreateTopics carries them (explicit configs
/// only), and `__consumer_offsets` when it has consumers (Kafka creates it
/// on the first FindCoordinator: offsets.topic.num.partitions partitions,
/// offsets.topic.replication.factor replicas capped by the broker count here,
/// compacted).
fn creatable_topics(scenario: &Scenario) -> Vec<CreatableTopic> {
    let config = &scenario.cluster.config;
    let offsets = (!scenario.consumers.is_empty() || !scenario.pipelines.is_empty()).then(|| {
        CreatableTopic {
            name: CONSUMER_OFFSETS.to_owned(),
            num_partitions: config
                .get_i64("offsets.topic.num.partitions")
                .map_or(OFFSETS_TOPIC_NUM_PARTITIONS, |n| n.clamp(1, 10_000) as u32),
            replication_factor: config
                .get_i64("offsets.topic.replication.factor")
                .map_or(OFFSETS_TOPIC_REPLICATION_FACTOR, |n| n.max(1) as u32)
                .min(scenario.cluster.brokers),
            configs: vec![
                ("cleanup.policy".to_owned(), "compact".to_owned()),
                (
                    "segment.bytes".to_owned(),
                    config
                        .get_i64("offsets.topic.segment.bytes")
                        .unwrap_or(104_857_600)
                        .to_string(),
                ),
            ],
        }
    });
    // Kafka creates __transaction_state on the first FindCoordinator of a
    // transactional id: transaction.state.log.num.partitions partitions,
    // transaction.state.log.replication.factor replicas (capped here by the
    // broker count) and min.insync.replicas transaction.state.log.min.isr
    // (capped here by the replication factor), compacted.
    let transactions = has_transactions(scenario).then(|| {
        let replication_factor = config
            .get_i64("transaction.state.log.replication.factor")
            .map_or(TRANSACTION_STATE_LOG_REPLICATION_FACTOR, |n| {
                n.max(1) as u32
            })
            .min(scenario.cluster.brokers);
        let min_isr = config
            .get_i64("transaction.state.log.min.isr")
            .map_or(TRANSACTION_STATE_LOG_MIN_ISR, |n| n.max(1) as u32)
            .min(replication_factor);
        CreatableTopic {
            name: TRANSACTION_STATE_TOPIC.to_owned(),
            num_partitions: config
                .get_i64("transaction.state.log.num.partitions")
                .map_or(TRANSACTION_STATE_LOG_NUM_PARTITIONS, |n| {
                    n.clamp(1, 10_000) as u32
                }),
            replication_factor,
            configs: vec![
                ("cleanup.policy".to_owned(), "compact".to_owned()),
                ("min.insync.replicas".to_owned(), min_isr.to_string()),
                (
                    "segment.bytes".to_owned(),
                    config
                        .get_i64("transaction.state.log.segment.bytes")
                        .unwrap_or(104_857_600)
                        .to_string(),
                ),
            ],
        }
    });
    scenario
        .topics
        .iter()
        .filter(|t| t.created_at_ns.is_none())
        .map(creatable)
        .chain(offsets)
        .chain(transactions)
        .collect()
}

/// A scenario topic as CreateTopics carries it (explicit configs only).
fn creatable(t: &crate::scenario::TopicSpec) -> CreatableTopic {
    CreatableTopic {
        name: t.name.clone(),
        num_partitions: t.partitions,
        replication_factor: t.replication_factor,
        configs: t
            .config
            .values()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
    }
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
    match sim.node(id)?.process() {
        KafkaNode::Controller(c) => Some(c),
        _ => None,
    }
}

/// The active controller: the running Raft leader with the highest epoch
/// (a paused old leader may still believe it leads).
fn active_controller(sim: &Sim<ClusterNode>, topology: &Topology) -> Option<NodeId> {
    topology
        .ids()
        .filter_map(|id| {
            let client = controller(sim, id)?.client();
            client.is_leader().then_some((client.epoch(), id))
        })
        .max()
        .map(|(_, id)| id)
}

/// What fault targets need to know of the cluster now.
fn live_state(sim: &Sim<ClusterNode>, topology: &Topology) -> Live {
    Live {
        active_controller: active_controller(sim, topology),
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
            match controller(sim, id).map(QuorumController::client) {
                Some(client) => ControllerState {
                    name,
                    state: format!("{:?}", client.state().kind()),
                    epoch: client.epoch(),
                    leader: client.leader_id().map(controller_index),
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

#[cfg(test)]
mod tests {
    use super::compact_blobs;
    use crate::scenario::load;

    #[test]
    fn only_runs_writing_hundreds_of_megabytes_keep_blobs_compressed() {
        let small = load("scenarios/broker_crash.toml".as_ref()).expect("it loads");
        let large = load("scenarios/bench_throughput.toml".as_ref()).expect("it loads");
        assert!(!compact_blobs(&small), "150k records of 100 bytes");
        assert!(compact_blobs(&large), "12.5M records of 100 bytes");
    }
}
