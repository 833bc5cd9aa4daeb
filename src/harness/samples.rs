//! Each replica of the workload's partitions, sampled at a fixed interval of
//! simulated time: whether its broker runs, its log end offset, high
//! watermark, last stable offset, recovery point and leader epoch. The
//! HTML timeline draws them (the last stable offset where producers are
//! transactional), and the text report finds high-watermark stalls in
//! them. Sampling only reads: the run is the same with or without it.

use std::collections::BTreeMap;

use sim::{Nanos, Sim, MILLIS};

use super::node::ClusterNode;
use super::topology::{Role, Topology};
use crate::scenario::Scenario;

/// Samples a run takes at most (the interval grows with the run).
const SAMPLES_MAX: u64 = 1000;
/// The shortest interval between samples.
const INTERVAL_MIN_NS: Nanos = 100 * MILLIS;

/// One replica at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaSample {
    /// Its broker.
    pub broker: u32,
    /// The broker process is paused (frozen).
    pub paused: bool,
    /// It believes it leads.
    pub leader: bool,
    /// The leader epoch it acts in.
    pub leader_epoch: i32,
    /// Its log end offset.
    pub log_end_offset: u64,
    /// Its high watermark.
    pub high_watermark: u64,
    /// Its last stable offset (Kafka's `lastStableOffset`: below it every
    /// transaction is decided; meaningful on the leader, where a
    /// read_committed fetch reads up to it); at most the high watermark.
    pub last_stable_offset: u64,
    /// Its recovery point: below it, everything was fsynced.
    pub recovery_point: u64,
}

/// Every running replica of one partition at one moment (a broker that is
/// down has no entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionSample {
    /// When.
    pub at: Nanos,
    /// The replicas of running brokers, by broker id.
    pub replicas: Vec<ReplicaSample>,
}

/// What a run sampled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Samples {
    /// Time between samples.
    pub interval_ns: Nanos,
    /// Per partition (`orders-0`): the samples in time order.
    pub partitions: BTreeMap<String, Vec<PartitionSample>>,
}

/// Takes the samples as the run goes.
#[derive(Debug)]
pub struct Sampler {
    next_ns: Nanos,
    samples: Samples,
}

impl Sampler {
    /// A sampler for a run of `scenario`: every 100 ms, or at most 1000
    /// samples over the whole run.
    pub fn new(scenario: &Scenario) -> Self {
        let end = scenario.duration_ns + scenario.settle_ns;
        let interval = (end / SAMPLES_MAX).div_ceil(INTERVAL_MIN_NS).max(1) * INTERVAL_MIN_NS;
        let partitions = scenario
            .topics
            .iter()
            .flat_map(|t| {
                (0..scenario.final_partitions(t))
                    .map(move |p| (format!("{}-{p}", t.name), Vec::new()))
            })
            .collect();
        Self {
            next_ns: 0,
            samples: Samples {
                interval_ns: interval,
                partitions,
            },
        }
    }

    /// The next sample time, when it is at or before `t`.
    pub fn next_before(&self, t: Nanos) -> Option<Nanos> {
        (self.next_ns <= t).then_some(self.next_ns)
    }

    /// Samples every replica now (the kernel has processed everything up to `at`).
    pub fn sample(&mut self, at: Nanos, sim: &Sim<ClusterNode>, topology: &Topology) {
        self.next_ns = at + self.samples.interval_ns;
        let mut now: BTreeMap<String, Vec<ReplicaSample>> = BTreeMap::new();
        for id in topology.ids() {
            let Role::Broker(broker) = topology.roles[id.index()] else {
                continue;
            };
            let Some(b) = sim.node(id).and_then(ClusterNode::broker) else {
                continue;
            };
            let rm = b.replica_manager();
            for (tp, p) in rm.partitions().iter() {
                if rm.topics().name(tp.topic_id).starts_with("__") {
                    continue;
                }
                let sample = ReplicaSample {
                    broker,
                    paused: sim.is_paused(id),
                    leader: p.is_leader(),
                    leader_epoch: p.leader_epoch,
                    log_end_offset: p.log.log_end_offset(),
                    high_watermark: p.log.high_watermark(),
                    last_stable_offset: p.last_stable_offset(),
                    recovery_point: p.log.recovery_point(),
                };
                now.entry(rm.topics().show(*tp)).or_default().push(sample);
            }
        }
        for (key, all) in &mut self.samples.partitions {
            let replicas = now.remove(key).unwrap_or_default();
            all.push(PartitionSample { at, replicas });
        }
    }

    /// The samples taken.
    pub fn finish(self) -> Samples {
        self.samples
    }
}
