//! The fault timeline of a run: scripted faults, swarm draws, and the way
//! back from each (restart, resume, heal), resolved to nodes when they fire.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim::{poisson_arrivals, Fault, Nanos, NodeId, Partition, Streams, SECONDS};

use super::topology::{Live, Role, Topology};
use crate::scenario::{
    FaultKind, FaultSpec, Scenario, DEFAULT_LATENCY_DELAY_NS, DEFAULT_SLOW_DISK_FACTOR,
};

/// What to do at one point of the timeline.
#[derive(Clone, Debug)]
pub enum Action {
    /// A fault of the scenario file (targets resolved when it fires).
    Scripted(FaultSpec),
    /// Kernel faults already aimed at nodes (swarm draws and ways back).
    Direct {
        /// The kind as reports name it.
        kind: &'static str,
        /// What to apply.
        faults: Vec<Fault>,
        /// The nodes it concerns, for the report.
        nodes: Vec<NodeId>,
    },
    /// Consumers told to close cleanly (a poke, not a kernel fault).
    Close(Vec<NodeId>),
    /// Brokers sent SIGTERM: a controlled shutdown (a poke; the process
    /// exits on its own once it is done).
    Shutdown(Vec<NodeId>),
    /// Test hook: the run panics here (`RunOptions::inject_panic`).
    InjectedPanic,
    /// Test-only mutation: every node is poked in a `HashMap`'s iteration
    /// order, which differs from run to run (`TestMutations::hashmap_order`).
    HashMapOrder,
}

/// A fault as the run executed it, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// When it fired.
    pub at_ns: Nanos,
    /// Its kind (`crash`, `restart`, ...).
    pub kind: String,
    /// The nodes it hit (`broker-1`, or `broker-1,broker-2`; `network` for heal).
    pub target: String,
    /// What the kernel said it did.
    pub detail: String,
    /// The kernel faults applied (none for `close`, a poke).
    pub applied: Vec<Fault>,
    /// The nodes it concerns.
    pub nodes: Vec<NodeId>,
    /// Applied by the settle phase, not by the scenario or its swarm.
    pub settle: bool,
}

/// Pending actions ordered by (time, insertion order).
#[derive(Default)]
pub struct Timeline {
    actions: BTreeMap<(Nanos, u64), Action>,
    seq: u64,
}

impl Timeline {
    /// Adds an action at `at`.
    pub fn push(&mut self, at: Nanos, action: Action) {
        self.seq += 1;
        self.actions.insert((at, self.seq), action);
    }

    /// Takes the earliest action if it is due before `end`.
    pub fn pop_before(&mut self, end: Nanos) -> Option<(Nanos, Action)> {
        let (&(at, seq), _) = self.actions.first_key_value()?;
        if at >= end {
            return None;
        }
        self.actions.remove(&(at, seq)).map(|a| (at, a))
    }
}

/// Builds the timeline: the scenario's scripted faults and, with a `[swarm]`
/// table, faults drawn from the run's seed (each kind from its own stream).
///
/// `eligible`, when given, are the only nodes swarm faults hit (a swarm mix).
pub fn plan(
    scenario: &Scenario,
    topology: &Topology,
    streams: &Streams,
    eligible: Option<&[NodeId]>,
) -> Timeline {
    let mut timeline = Timeline::default();
    for spec in &scenario.faults {
        timeline.push(spec.at_ns, Action::Scripted(spec.clone()));
    }
    if let Some(swarm) = &scenario.swarm {
        let servers: Vec<NodeId> = match eligible {
            Some(nodes) => nodes.to_vec(),
            None => topology
                .ids()
                .filter(|id| topology.roles[id.index()].is_server())
                .collect(),
        };
        for (kind, &rate) in &swarm.rates_per_min {
            let mut rng = streams.stream(&format!("faults/swarm/{}", kind.name()));
            for at in poisson_arrivals(&mut rng, rate, 0, scenario.duration_ns) {
                if servers.is_empty() {
                    break;
                }
                let node = if *kind == FaultKind::Shutdown {
                    // A shutdown is a broker's: drawn among the brokers.
                    let brokers: Vec<NodeId> = servers
                        .iter()
                        .copied()
                        .filter(|id| matches!(topology.roles[id.index()], Role::Broker(_)))
                        .collect();
                    if brokers.is_empty() {
                        break;
                    }
                    brokers[rng.random_range(0..brokers.len())]
                } else {
                    servers[rng.random_range(0..servers.len())]
                };
                for (offset, action) in
                    swarm_fault(*kind, node, scenario.disk.torn_writes, &mut rng)
                {
                    timeline.push(at + offset, action);
                }
            }
        }
    }
    timeline
}

fn direct(kind: &'static str, fault: Fault, node: NodeId) -> Action {
    Action::Direct {
        kind,
        faults: vec![fault],
        nodes: vec![node],
    }
}

/// One random fault of `kind` on `node` and its way back, as (offset, action).
fn swarm_fault(
    kind: FaultKind,
    node: NodeId,
    torn: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<(Nanos, Action)> {
    let mut back = |min_s: u64, max_s: u64| rng.random_range(min_s * SECONDS..=max_s * SECONDS);
    match kind {
        FaultKind::Crash => vec![
            (0, direct("crash", Fault::Crash(node), node)),
            (back(1, 10), direct("restart", Fault::Restart(node), node)),
        ],
        FaultKind::PowerLoss => vec![
            (
                0,
                direct("power_loss", Fault::PowerLoss { node, torn }, node),
            ),
            (back(1, 10), direct("restart", Fault::Restart(node), node)),
        ],
        FaultKind::Pause => vec![
            (0, direct("pause", Fault::Pause(node), node)),
            (back(1, 10), direct("resume", Fault::Resume(node), node)),
        ],
        FaultKind::Partition => vec![
            (
                0,
                direct(
                    "partition",
                    Fault::Partition(Partition::Isolate(node)),
                    node,
                ),
            ),
            (back(1, 10), direct("heal", Fault::Heal, node)),
        ],
        FaultKind::SlowDisk => vec![
            (
                0,
                direct(
                    "slow_disk",
                    Fault::SlowDisk {
                        node,
                        factor: DEFAULT_SLOW_DISK_FACTOR,
                    },
                    node,
                ),
            ),
            (
                back(5, 20),
                direct("slow_disk", Fault::SlowDisk { node, factor: 1 }, node),
            ),
        ],
        FaultKind::Latency => vec![
            (
                0,
                direct(
                    "latency",
                    Fault::Latency {
                        node: Some(node),
                        delay_ns: DEFAULT_LATENCY_DELAY_NS,
                    },
                    node,
                ),
            ),
            (
                back(5, 20),
                direct(
                    "latency",
                    Fault::Latency {
                        node: Some(node),
                        delay_ns: 0,
                    },
                    node,
                ),
            ),
        ],
        FaultKind::Corrupt => vec![(0, direct("corrupt", Fault::Corrupt(node), node))],
        FaultKind::Shutdown => vec![
            (0, Action::Shutdown(vec![node])),
            (back(5, 20), direct("restart", Fault::Restart(node), node)),
        ],
        // Not drawn by swarm (the scenario parser rejects them as swarm keys).
        FaultKind::Restart | FaultKind::Resume | FaultKind::Heal | FaultKind::Close => Vec::new(),
    }
}

/// The undoing of a fault: after how long, its kind, and what to apply.
type WayBack = (Nanos, &'static str, Vec<Fault>);

/// Turns a scripted fault into kernel faults on the nodes its target names now,
/// plus its way back as (delay, action).
pub fn resolve(
    spec: &FaultSpec,
    torn_writes: bool,
    topology: &Topology,
    live: &Live,
    rng: &mut ChaCha8Rng,
) -> (Action, Option<(Nanos, Action)>) {
    let nodes = spec
        .target
        .as_ref()
        .map(|t| topology.resolve(t, live, rng))
        .unwrap_or_default();
    // Each group target is resolved once: `random_broker` must name the same
    // node in the partition and in the report.
    let groups: Vec<Vec<NodeId>> = spec
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .flat_map(|t| topology.resolve(t, live, rng))
                .collect()
        })
        .collect();
    let each = |f: &dyn Fn(NodeId) -> Fault| nodes.iter().map(|&n| f(n)).collect::<Vec<_>>();
    let kind: &'static str = spec.kind.name();
    let (faults, back): (Vec<Fault>, Option<WayBack>) = match spec.kind {
        FaultKind::Crash => (
            each(&Fault::Crash),
            spec.restart_after_ns
                .map(|d| (d, "restart", each(&Fault::Restart))),
        ),
        FaultKind::PowerLoss => (
            each(&|node| Fault::PowerLoss {
                node,
                torn: spec.torn || torn_writes,
            }),
            spec.restart_after_ns
                .map(|d| (d, "restart", each(&Fault::Restart))),
        ),
        FaultKind::Restart => (each(&Fault::Restart), None),
        FaultKind::Pause => (
            each(&Fault::Pause),
            spec.resume_after_ns
                .map(|d| (d, "resume", each(&Fault::Resume))),
        ),
        FaultKind::Resume => (each(&Fault::Resume), None),
        FaultKind::Partition => {
            let partition = if groups.is_empty() {
                match nodes.as_slice() {
                    [one] => Partition::Isolate(*one),
                    many => Partition::Split {
                        groups: vec![many.to_vec()],
                        one_way: spec.one_way,
                    },
                }
            } else {
                Partition::Split {
                    groups: groups.clone(),
                    one_way: spec.one_way,
                }
            };
            (
                vec![Fault::Partition(partition)],
                spec.heal_after_ns.map(|d| (d, "heal", vec![Fault::Heal])),
            )
        }
        FaultKind::Heal => (vec![Fault::Heal], None),
        FaultKind::SlowDisk => {
            let factor = spec.factor.unwrap_or(DEFAULT_SLOW_DISK_FACTOR);
            (
                each(&|node| Fault::SlowDisk { node, factor }),
                spec.heal_after_ns.map(|d| {
                    (
                        d,
                        "slow_disk",
                        each(&|node| Fault::SlowDisk { node, factor: 1 }),
                    )
                }),
            )
        }
        FaultKind::Latency => {
            let delay_ns = spec.delay_ns.unwrap_or(DEFAULT_LATENCY_DELAY_NS);
            let on = |delay_ns| -> Vec<Fault> {
                if !groups.is_empty() {
                    // The links from the first group to the other groups (and
                    // back, unless one_way).
                    let (first, rest) = groups.split_first().expect("not empty");
                    let mut faults = Vec::new();
                    for &a in first {
                        for &b in rest.iter().flatten() {
                            faults.push(Fault::LinkLatency {
                                from: a,
                                to: b,
                                delay_ns,
                                overtake: spec.overtake,
                            });
                            if !spec.one_way {
                                faults.push(Fault::LinkLatency {
                                    from: b,
                                    to: a,
                                    delay_ns,
                                    overtake: spec.overtake,
                                });
                            }
                        }
                    }
                    faults
                } else if spec.target.is_none() {
                    vec![Fault::Latency {
                        node: None,
                        delay_ns,
                    }]
                } else {
                    each(&|node| Fault::Latency {
                        node: Some(node),
                        delay_ns,
                    })
                }
            };
            (
                on(delay_ns),
                spec.heal_after_ns.map(|d| (d, "latency", on(0))),
            )
        }
        FaultKind::Corrupt => (each(&Fault::Corrupt), None),
        FaultKind::Close | FaultKind::Shutdown => {
            // A closed consumer's process is still up, and a broker may
            // still be shutting down: the restart is a Restart (the kernel
            // kills what runs and boots it from its disk).
            let back = spec.restart_after_ns.map(|d| {
                let restart = Action::Direct {
                    kind: "restart",
                    faults: each(&Fault::Restart),
                    nodes: nodes.clone(),
                };
                (d, restart)
            });
            if spec.kind == FaultKind::Shutdown {
                return (Action::Shutdown(nodes), back);
            }
            return (Action::Close(nodes), back);
        }
    };
    let group_nodes: Vec<NodeId> = if groups.is_empty() {
        nodes
    } else {
        groups.into_iter().flatten().collect()
    };
    let back = back.map(|(delay, kind, faults)| {
        (
            delay,
            Action::Direct {
                kind,
                faults,
                nodes: group_nodes.clone(),
            },
        )
    });
    (
        Action::Direct {
            kind,
            faults,
            nodes: group_nodes,
        },
        back,
    )
}

/// The report's name for what a fault hit.
pub fn describe_target(nodes: &[NodeId], kind: &str, name: impl Fn(NodeId) -> String) -> String {
    if nodes.is_empty() {
        return if kind == "latency" { "all" } else { "network" }.to_owned();
    }
    nodes.iter().map(|&n| name(n)).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_random_group_target_is_drawn_once_for_the_cut_and_the_report() {
        let text = "name = \"t\"\nduration = \"10s\"\n[cluster]\nbrokers = 5\n\
                    [[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[\"random_broker\"]]\n";
        let scenario = crate::scenario::parse(text, "t.toml").expect("valid");
        let topology = Topology::of(&scenario);
        for seed in 0..32 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (action, _) = resolve(
                &scenario.faults[0],
                false,
                &topology,
                &Live::default(),
                &mut rng,
            );
            let Action::Direct { faults, nodes, .. } = action else {
                panic!("a partition resolves to kernel faults")
            };
            assert_eq!(
                faults,
                vec![Fault::Partition(Partition::Split {
                    groups: vec![nodes.clone()],
                    one_way: false,
                })],
                "seed {seed}: the reported node is the one cut off"
            );
        }
    }
}
