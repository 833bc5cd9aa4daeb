//! The faults a run executed, as scripted faults on named nodes: swarm draws
//! and targets such as `leader(orders-0)` or `random_broker` become the
//! nodes they hit, and each fault's way back (the restart after a crash,
//! the heal after a partition) becomes its `restart_after` / `heal_after`.

use sim::{Fault, Nanos, NodeId, Partition};

use crate::harness::faults::Executed;
use crate::harness::topology::{Role, Topology};
use crate::scenario::{FaultKind, FaultSpec, Target};

/// The scenario target that names node `id`.
fn target_of(topology: &Topology, id: NodeId) -> Option<Target> {
    match topology.roles.get(id.index())? {
        Role::Controller(n) => Some(Target::Controller(*n)),
        Role::Broker(n) => Some(Target::Broker(*n)),
        Role::Producer(n) => Some(Target::Producer(*n)),
        Role::Consumer { group, index } | Role::Pipeline { group, index } => {
            Some(Target::Consumer {
                group: group.clone(),
                index: *index,
            })
        }
        Role::Admin => None,
    }
}

fn spec(at_ns: Nanos, kind: FaultKind, target: Option<Target>) -> FaultSpec {
    FaultSpec {
        at_ns,
        kind,
        target,
        groups: Vec::new(),
        one_way: false,
        overtake: false,
        restart_after_ns: None,
        resume_after_ns: None,
        heal_after_ns: None,
        factor: None,
        delay_ns: None,
        torn: false,
    }
}

/// What one kernel fault is, as a scenario fault kind and its settings.
fn shape(fault: &Fault) -> Option<(FaultKind, Option<NodeId>)> {
    Some(match *fault {
        Fault::Crash(n) => (FaultKind::Crash, Some(n)),
        Fault::Restart(n) => (FaultKind::Restart, Some(n)),
        Fault::PowerLoss { node, .. } => (FaultKind::PowerLoss, Some(node)),
        Fault::Pause(n) => (FaultKind::Pause, Some(n)),
        Fault::Resume(n) => (FaultKind::Resume, Some(n)),
        Fault::Partition(_) => (FaultKind::Partition, None),
        Fault::Heal => (FaultKind::Heal, None),
        Fault::SlowDisk { node, .. } => (FaultKind::SlowDisk, Some(node)),
        Fault::Latency { node, .. } => (FaultKind::Latency, node),
        Fault::Corrupt(n) => (FaultKind::Corrupt, Some(n)),
        // A link's latency has no single-target scenario form here.
        Fault::Reset(..) | Fault::LinkLatency { .. } => return None,
    })
}

/// Is `back` the way back from `fault` (same node)?
fn undoes(fault: &Fault, back: &Fault) -> bool {
    match (fault, back) {
        (Fault::Crash(a) | Fault::PowerLoss { node: a, .. }, Fault::Restart(b)) => a == b,
        (Fault::Pause(a), Fault::Resume(b)) => a == b,
        (Fault::Partition(_), Fault::Heal) => true,
        (
            Fault::SlowDisk { node: a, factor },
            Fault::SlowDisk {
                node: b,
                factor: healthy,
            },
        ) => a == b && *factor > 1 && *healthy == 1,
        (
            Fault::Latency {
                node: a,
                delay_ns: d,
            },
            Fault::Latency {
                node: b,
                delay_ns: 0,
            },
        ) => a == b && *d > 0,
        _ => false,
    }
}

/// One executed step: a kernel fault on its nodes, or a consumer's close.
#[derive(Clone, Debug)]
enum Step {
    Kernel(Fault),
    Close(NodeId),
}

/// The executed faults (the settle phase's excluded) as scripted faults,
/// in time order, each paired with its way back when the run executed one.
pub fn explicit(executed: &[Executed], topology: &Topology) -> Vec<FaultSpec> {
    let steps: Vec<(Nanos, Step)> = executed
        .iter()
        .filter(|e| !e.settle)
        .flat_map(|e| {
            let at = e.at_ns;
            let steps: Vec<(Nanos, Step)> = if e.kind == "close" {
                e.nodes.iter().map(|&n| (at, Step::Close(n))).collect()
            } else {
                e.applied
                    .iter()
                    .map(|f| (at, Step::Kernel(f.clone())))
                    .collect()
            };
            steps
        })
        .collect();
    let mut used = vec![false; steps.len()];
    let mut out = Vec::new();
    for i in 0..steps.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let (at, step) = &steps[i];
        // The first later step that undoes this one.
        let back = |undo: &dyn Fn(&Step) -> bool, used: &mut Vec<bool>| -> Option<Nanos> {
            let j = (i + 1..steps.len()).find(|&j| !used[j] && undo(&steps[j].1))?;
            used[j] = true;
            Some(steps[j].0 - at)
        };
        let mut s = match step {
            Step::Close(n) => {
                let mut s = spec(*at, FaultKind::Close, target_of(topology, *n));
                let n = *n;
                s.restart_after_ns = back(
                    &|x| matches!(x, Step::Kernel(Fault::Restart(m)) if *m == n),
                    &mut used,
                );
                s
            }
            Step::Kernel(fault) => {
                let Some((kind, node)) = shape(fault) else {
                    continue;
                };
                let mut s = spec(*at, kind, node.and_then(|n| target_of(topology, n)));
                let delay = back(
                    &|x| matches!(x, Step::Kernel(b) if undoes(fault, b)),
                    &mut used,
                );
                match fault {
                    Fault::Crash(_) => s.restart_after_ns = delay,
                    Fault::PowerLoss { torn, .. } => {
                        s.restart_after_ns = delay;
                        s.torn = *torn;
                    }
                    Fault::Pause(_) => s.resume_after_ns = delay,
                    Fault::Partition(p) => {
                        s.heal_after_ns = delay;
                        match p {
                            Partition::Isolate(n) => s.target = target_of(topology, *n),
                            Partition::Split { groups, one_way } => {
                                s.groups = groups
                                    .iter()
                                    .map(|g| {
                                        g.iter().filter_map(|&n| target_of(topology, n)).collect()
                                    })
                                    .collect();
                                s.one_way = *one_way;
                            }
                            // Scenario files cannot write a bridge.
                            Partition::Bridge { .. } => continue,
                        }
                    }
                    Fault::SlowDisk { factor, .. } => {
                        s.heal_after_ns = delay;
                        s.factor = Some(*factor);
                    }
                    Fault::Latency { delay_ns, .. } => {
                        s.heal_after_ns = delay;
                        s.delay_ns = Some(*delay_ns);
                    }
                    _ => {}
                }
                s
            }
        };
        // A way back of zero (the same instant) is no fault at all.
        if [s.restart_after_ns, s.resume_after_ns, s.heal_after_ns].contains(&Some(0)) {
            continue;
        }
        if s.kind.needs_target() && s.target.is_none() && s.groups.is_empty() {
            continue;
        }
        s.at_ns = *at;
        if s.kind == FaultKind::Partition
            && (s.groups.iter().any(Vec::is_empty) || (s.groups.is_empty() && s.target.is_none()))
        {
            continue;
        }
        out.push(s);
    }
    out
}

/// The delay of a fault's way back, if it has one.
pub fn way_back(s: &FaultSpec) -> Option<Nanos> {
    s.restart_after_ns.or(s.resume_after_ns).or(s.heal_after_ns)
}

/// Sets the delay of a fault's way back.
pub fn set_way_back(s: &mut FaultSpec, delay: Nanos) {
    for slot in [
        &mut s.restart_after_ns,
        &mut s.resume_after_ns,
        &mut s.heal_after_ns,
    ] {
        if slot.is_some() {
            *slot = Some(delay);
        }
    }
}

/// Merges faults that hit every broker at once with the same settings (a
/// correlated failure) into one fault on `all_brokers`.
pub fn merge_all_brokers(faults: Vec<FaultSpec>, brokers: u32) -> Vec<FaultSpec> {
    let mut out: Vec<FaultSpec> = Vec::new();
    let mut i = 0;
    while i < faults.len() {
        let first = &faults[i];
        let same = |s: &FaultSpec| {
            let mut a = s.clone();
            let mut b = first.clone();
            a.target = None;
            b.target = None;
            a == b
        };
        let run: Vec<&FaultSpec> = faults[i..].iter().take_while(|s| same(s)).collect();
        let mut hit: Vec<u32> = run
            .iter()
            .filter_map(|s| match s.target {
                Some(Target::Broker(n)) => Some(n),
                _ => None,
            })
            .collect();
        hit.sort_unstable();
        hit.dedup();
        if brokers > 1 && run.len() == brokers as usize && hit.len() == brokers as usize {
            let mut merged = first.clone();
            merged.target = Some(Target::AllBrokers);
            out.push(merged);
            i += run.len();
        } else {
            out.push(first.clone());
            i += 1;
        }
    }
    out
}
