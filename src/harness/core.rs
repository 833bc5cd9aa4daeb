//! Liveness mode (`--liveness`, after TigerBeetle's VOPR): at the end of
//! the fault phase the seed draws a "core" of the cluster, a majority of
//! the controllers and enough brokers that every partition has an in-sync
//! replica in it and as many replicas as its `min.insync.replicas` (with
//! fewer, Kafka refuses acks=all writes and holds the high watermark: the
//! partition could never be available, by design). The settle phase heals the core only; every server
//! outside it is crashed, or stays crashed, for good. The core must then
//! converge as the whole cluster would (`eventually_available`, acked
//! writes readable, groups stable). A partition none of whose in-sync
//! replicas is in the core is unavailable by Kafka's design, and is
//! reported as such instead of as a violation.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sim::{Fault, NodeId, Sim};

use super::faults::Executed;
use super::node::ClusterNode;
use super::topology::{Role, Topology};
use crate::metadata::MetadataImage;
use crate::protocol::TopicPartition;

/// The core a liveness run kept, as reports show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LivenessReport {
    /// The nodes healed (`controller-1`, `broker-2`, ...).
    pub core: Vec<String>,
    /// Partitions none of whose in-sync replicas is in the core (when the
    /// core was drawn, or offline at the end with every in-sync replica
    /// outside it): unavailable by Kafka's design, not checked.
    pub unavailable: Vec<String>,
    /// End-state violations left out because of those partitions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exempted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The invariants whose verdict rests on the partitions' final logs or
/// availability: a partition unavailable by design has neither.
const END_STATE: &[&str] = &[
    "acked_writes_durable",
    "reads_committed_only",
    "no_poll_skip",
    "no_aborted_reads",
    "transactions_atomic",
    "exactly_once",
    "processed_at_least_once",
    "eventually_available",
];

/// Partitions the core cannot serve at the end: offline, with every
/// in-sync replica outside the core (Kafka elects no leader outside the
/// ISR unless unclean election is on).
pub fn offline_by_design(core: &Core, image: Option<&MetadataImage>) -> Vec<TopicPartition> {
    let Some(image) = image else {
        return Vec::new();
    };
    image
        .topics
        .iter()
        .flat_map(|(name, t)| {
            t.partitions
                .iter()
                .filter(|(_, r)| {
                    r.leader.is_none() && !r.isr.iter().any(|b| core.brokers.contains(b))
                })
                .map(move |(&p, _)| TopicPartition::new(name, p))
        })
        .collect()
}

/// Leaves out the violations of end-state invariants when a partition is
/// unavailable by design: what they judge (final logs, groups whose
/// coordinator partition is offline, transactions whose coordinator or
/// records are) no longer says anything about the core. Returns how many.
/// The report lists the partitions, so a reader sees why.
pub fn exempt(
    violations: &mut Vec<crate::check::Violation>,
    unavailable: &[TopicPartition],
) -> u64 {
    if unavailable.is_empty() {
        return 0;
    }
    let before = violations.len();
    violations.retain(|v| !END_STATE.contains(&v.invariant.as_str()));
    (before - violations.len()) as u64
}

/// The core the seed drew.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Core {
    /// Its servers.
    pub nodes: Vec<NodeId>,
    /// Its brokers' ids.
    pub brokers: Vec<u32>,
    /// Partitions with no in-sync replica in it.
    pub unavailable: Vec<TopicPartition>,
}

fn shuffled<T>(mut v: Vec<T>, rng: &mut ChaCha8Rng) -> Vec<T> {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

/// Draws the core: a random majority of the controllers, and the brokers
/// of a random order up to the first prefix that holds, of every partition
/// the metadata `image` has, an in-sync replica and `min.insync.replicas`
/// replicas (the topic's, else `default_min_isr`); all brokers without an
/// image.
/// A topic the admin has not created yet needs as many brokers as its
/// replication factor (`to_create`: name and replication factor).
pub fn choose(
    topology: &Topology,
    image: Option<&MetadataImage>,
    default_min_isr: usize,
    to_create: &[(String, u32)],
    rng: &mut ChaCha8Rng,
) -> Core {
    let controllers: Vec<NodeId> = topology
        .ids()
        .filter(|id| matches!(topology.roles[id.index()], Role::Controller(_)))
        .collect();
    let majority = controllers.len() / 2 + 1;
    let mut nodes: Vec<NodeId> = shuffled(controllers, rng)
        .into_iter()
        .take(majority)
        .collect();
    let brokers: Vec<u32> = topology
        .ids()
        .filter_map(|id| match topology.roles[id.index()] {
            Role::Broker(b) => Some(b),
            _ => None,
        })
        .collect();
    let order = shuffled(brokers.clone(), rng);
    // Per partition: its ISR, its replicas and how many must be in sync.
    type Need = (TopicPartition, Vec<u32>, Vec<u32>, usize);
    let needs: Vec<Need> = image
        .map(|i| {
            i.topics
                .iter()
                .flat_map(|(name, t)| {
                    let min_isr = t
                        .configs
                        .get("min.insync.replicas")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(default_min_isr);
                    t.partitions.iter().map(move |(&p, r)| {
                        let need = min_isr.min(r.replicas.len()).max(1);
                        // An in-sync replica that is fenced (a restarted
                        // broker not caught up yet) is about to leave the
                        // ISR: the core needs one that is not, if any is.
                        let live: Vec<u32> = r
                            .isr
                            .iter()
                            .copied()
                            .filter(|&b| i.is_unfenced(b))
                            .collect();
                        let isr = if live.is_empty() { r.isr.clone() } else { live };
                        (TopicPartition::new(name, p), isr, r.replicas.clone(), need)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let served = |core: &[u32], (_, isr, replicas, need): &Need| {
        isr.iter().any(|r| core.contains(r))
            && replicas.iter().filter(|r| core.contains(r)).count() >= *need
    };
    let mut core_brokers: Vec<u32> = Vec::new();
    if image.is_none() {
        core_brokers = order;
    } else {
        let uncreated = to_create
            .iter()
            .filter(|(name, _)| image.is_some_and(|i| !i.topics.contains_key(name)))
            .map(|&(_, rf)| rf as usize)
            .max()
            .unwrap_or(0);
        for b in order {
            let covered = needs
                .iter()
                .all(|n| n.1.is_empty() || served(&core_brokers, n));
            if covered && !core_brokers.is_empty() && core_brokers.len() >= uncreated {
                break;
            }
            core_brokers.push(b);
        }
    }
    core_brokers.sort_unstable();
    let unavailable = needs
        .iter()
        .filter(|n| !served(&core_brokers, n))
        .map(|n| n.0.clone())
        .collect();
    nodes.extend(
        core_brokers
            .iter()
            .filter_map(|&b| topology.id(&Role::Broker(b))),
    );
    nodes.sort_unstable();
    Core {
        nodes,
        brokers: core_brokers,
        unavailable,
    }
}

/// The settle phase of a liveness run: the network heals, the core and
/// the clients recover as in a plain run, every server outside the core
/// goes down (or stays down) for good.
pub fn settle(
    sim: &mut Sim<ClusterNode>,
    topology: &Topology,
    core: &Core,
    executed: &mut Vec<Executed>,
) {
    let at = sim.now();
    let mut record =
        |sim: &mut Sim<ClusterNode>, kind: &str, target: String, fault: Fault, why: &str| {
            let effect = sim.apply(fault.clone());
            if effect.took_effect {
                executed.push(Executed {
                    at_ns: at,
                    kind: kind.to_owned(),
                    target,
                    detail: format!("{why}: {}", effect.detail),
                    applied: vec![fault],
                    nodes: Vec::new(),
                    settle: true,
                });
            }
        };
    record(sim, "heal", "network".into(), Fault::Heal, "settle");
    sim.apply(Fault::Latency {
        node: None,
        delay_ns: 0,
    });
    for node in topology.ids() {
        sim.apply(Fault::SlowDisk { node, factor: 1 });
        let name = sim.name(node).to_owned();
        let server = topology.roles[node.index()].is_server();
        if server && !core.nodes.contains(&node) {
            if sim.is_up(node) {
                record(
                    sim,
                    "crash",
                    name,
                    Fault::Crash(node),
                    "liveness: outside the core, down for good",
                );
            }
            continue;
        }
        if sim.is_paused(node) {
            record(sim, "resume", name.clone(), Fault::Resume(node), "settle");
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
            record(sim, "restart", name, Fault::Restart(node), "settle");
        }
    }
}

impl Core {
    /// The report of this core.
    pub fn report(&self, sim: &Sim<ClusterNode>, exempted: u64) -> LivenessReport {
        LivenessReport {
            core: self.nodes.iter().map(|&n| sim.name(n).to_owned()).collect(),
            unavailable: self.unavailable.iter().map(ToString::to_string).collect(),
            exempted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_state_violations_are_exempted_only_when_a_partition_is_unavailable() {
        let v = |inv: &str, detail: &str| crate::check::Violation::new(inv, 0, detail.to_owned());
        let mut all = vec![
            v(
                "acked_writes_durable",
                "record p0-1 acknowledged at offset 3 of orders-1 is lost",
            ),
            v(
                "acked_writes_durable",
                "record p0-2 acknowledged at offset 3 of orders-2 is lost",
            ),
            v("single_leader_per_epoch", "orders-1 had two leaders"),
            v(
                "transactions_atomic",
                "20 of its 20 records are not readable, the first p0-0 (in no final log)",
            ),
        ];
        let mut kept = all.clone();
        assert_eq!(
            exempt(&mut kept, &[]),
            0,
            "nothing unavailable: every check holds"
        );
        assert_eq!(kept, all);
        let n = exempt(&mut all, &[TopicPartition::new("orders", 1)]);
        assert_eq!(n, 3);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].invariant, "single_leader_per_epoch");
    }
}
