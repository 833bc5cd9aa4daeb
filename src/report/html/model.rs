//! What the timeline draws, worked out from the outcome before any drawing:
//! fault bands per node (a fault paired with the action that ends it), the
//! violations grouped per invariant and partition, and the node lanes.

use std::collections::{BTreeMap, BTreeSet};

use sim::{Fault, Nanos, MILLIS};

use crate::check::Violation;
use crate::harness::faults::Executed;
use crate::scenario::Scenario;

/// The lane of a fault on every node (a latency spike without a target).
pub const ALL_NODES: &str = "all nodes";

/// A fault drawn on one node's lane, from when it hit to what ended it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    /// The node's lane.
    pub node: String,
    /// The fault's kind (`crash`, `pause`, ...).
    pub kind: String,
    /// When it hit.
    pub start: Nanos,
    /// When it ended (the end of the run if nothing ended it).
    pub end: Nanos,
    /// What ended it: `restart at 36.500 s`, or why it is drawn to `end`.
    pub ended_by: String,
    /// What the kernel said it did.
    pub detail: String,
    /// Drawn as an instant (nothing to pair it with).
    pub instant: bool,
}

/// Which open fault an action ends, per node.
fn category(kind: &str) -> &'static str {
    match kind {
        // A shutdown's band runs from the SIGTERM (the broker serves on
        // during controlled shutdown, then stops) to its restart.
        "crash" | "power_loss" | "shutdown" => "down",
        "close" => "closed",
        "pause" => "pause",
        "partition" => "partition",
        "slow_disk" => "slow_disk",
        "latency" => "latency",
        _ => "instant",
    }
}

/// The names a fault's target string lists.
fn targets(target: &str) -> Vec<String> {
    match target {
        "all" => vec![ALL_NODES.to_owned()],
        t => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// Does a slow-disk or latency action undo the fault (factor 1, no delay)?
fn is_undo(f: &Executed) -> bool {
    !f.applied.is_empty()
        && f.applied.iter().all(|a| match a {
            Fault::SlowDisk { factor, .. } => *factor <= 1,
            Fault::Latency { delay_ns, .. } => *delay_ns == 0,
            _ => false,
        })
}

/// Seconds with millisecond precision: `36.500 s`.
pub fn secs(ns: Nanos) -> String {
    let ms = ns / MILLIS;
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

struct Open {
    kind: String,
    start: Nanos,
    detail: String,
}

/// Pairs each fault with the action that ends it: a crash or power loss with
/// the node's restart, a pause with its resume, a partition with the next
/// heal, a slow disk or latency spike with its undoing or the settle phase.
/// A fault nothing ended is drawn to `end_ns`.
pub fn fault_bands(faults: &[Executed], duration_ns: Nanos, end_ns: Nanos) -> Vec<Band> {
    let mut open: BTreeMap<(String, &'static str), Open> = BTreeMap::new();
    let mut bands = Vec::new();
    let close = |bands: &mut Vec<Band>, key: (String, &'static str), o: Open, at, by: String| {
        bands.push(Band {
            node: key.0,
            kind: o.kind,
            start: o.start,
            end: at,
            ended_by: by,
            detail: o.detail,
            instant: false,
        });
    };
    for f in faults {
        let names = targets(&f.target);
        let by = format!(
            "{}{} at {}",
            if f.settle { "settle phase: " } else { "" },
            f.kind,
            secs(f.at_ns)
        );
        let cat = category(&f.kind);
        let mut ended: Vec<(String, &'static str)> = Vec::new();
        let mut opens = false;
        match f.kind.as_str() {
            "restart" => {
                for n in &names {
                    ended.push((n.clone(), "down"));
                    ended.push((n.clone(), "closed"));
                }
            }
            "resume" => ended.extend(names.iter().map(|n| (n.clone(), "pause"))),
            // A heal restores every link.
            "heal" => ended.extend(open.keys().filter(|k| k.1 == "partition").cloned()),
            "slow_disk" | "latency" if is_undo(f) => {
                ended.extend(names.iter().map(|n| (n.clone(), cat)));
            }
            _ => opens = true,
        }
        let mut closed_any = false;
        for key in ended {
            if let Some(o) = open.remove(&key) {
                closed_any = true;
                close(&mut bands, key, o, f.at_ns, by.clone());
            }
        }
        if opens && cat != "instant" {
            for n in names {
                // A fault on a node already hit the same way extends nothing.
                open.entry((n, cat)).or_insert_with(|| Open {
                    kind: f.kind.clone(),
                    start: f.at_ns,
                    detail: f.detail.clone(),
                });
            }
        } else if (opens || (f.kind == "restart" && !closed_any)) && !f.settle {
            // Corruption, a restart of a running node: an instant.
            for n in names.into_iter().filter(|n| n != "network") {
                bands.push(Band {
                    node: n,
                    kind: f.kind.clone(),
                    start: f.at_ns,
                    end: f.at_ns,
                    ended_by: "an instant".to_owned(),
                    detail: f.detail.clone(),
                    instant: true,
                });
            }
        }
    }
    for (key, o) in open {
        let (end, by) = if matches!(key.1, "slow_disk" | "latency") && o.start < duration_ns {
            (duration_ns, "the settle phase".to_owned())
        } else {
            (end_ns, "never ended".to_owned())
        };
        close(&mut bands, key, o, end, by);
    }
    bands.sort_by(|a, b| (a.start, &a.node, &a.kind).cmp(&(b.start, &b.node, &b.kind)));
    bands
}

/// Every partition of the scenario's topics, `topic-N`, in topic order.
pub fn partitions(scenario: &Scenario) -> Vec<String> {
    scenario
        .topics
        .iter()
        .flat_map(|t| (0..scenario.final_partitions(t)).map(move |p| format!("{}-{p}", t.name)))
        .collect()
}

/// The partitions transactional producers write to (every partition of
/// their topics): their lanes draw the leader's last stable offset (LSO)
/// beside its high watermark.
pub fn transactional_partitions(scenario: &Scenario) -> BTreeSet<String> {
    let topics: BTreeSet<&str> = scenario
        .producers
        .iter()
        .filter(|p| p.transaction.is_some())
        .map(|p| p.topic.as_str())
        .collect();
    scenario
        .topics
        .iter()
        .filter(|t| topics.contains(t.name.as_str()))
        .flat_map(|t| (0..scenario.final_partitions(t)).map(move |p| format!("{}-{p}", t.name)))
        .collect()
}

/// The partition a violation is about: its subject, else the first
/// partition its detail or chain names.
pub fn partition_of(v: &Violation, partitions: &BTreeSet<&str>) -> Option<String> {
    if let Some(s) = &v.subject {
        if partitions.contains(s.partition.as_str()) {
            return Some(s.partition.clone());
        }
    }
    let named = |text: &str| -> Option<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .map(|w| w.trim_end_matches('.'))
            .find(|w| partitions.contains(w))
            .map(str::to_owned)
    };
    named(&v.detail).or_else(|| v.chain.iter().find_map(|c| named(&c.node)))
}

/// The violations of one invariant on one partition (or on none).
#[derive(Clone, Debug)]
pub struct Group<'a> {
    /// The invariant.
    pub invariant: &'a str,
    /// The partition, if the violations concern one.
    pub partition: Option<String>,
    /// The first detected (with its causal chain, when one was found).
    pub first: &'a Violation,
    /// When the first was detected.
    pub at_ms: u64,
    /// How many.
    pub count: usize,
}

/// Most groups shown (each a marker and a chain); the run record has them all.
pub const GROUPS_MAX: usize = 60;

/// The violations grouped per (invariant, partition), in order of first
/// detection; the shown violation is the first that carries a chain.
pub fn groups<'a>(violations: &'a [Violation], partitions: &[String]) -> Vec<Group<'a>> {
    let known: BTreeSet<&str> = partitions.iter().map(String::as_str).collect();
    let mut by: BTreeMap<(&str, Option<String>), Group<'a>> = BTreeMap::new();
    for v in violations {
        let partition = partition_of(v, &known);
        let g = by
            .entry((v.invariant.as_str(), partition.clone()))
            .or_insert(Group {
                invariant: &v.invariant,
                partition,
                first: v,
                at_ms: v.at_ms,
                count: 0,
            });
        g.count += 1;
        if v.at_ms < g.at_ms {
            g.at_ms = v.at_ms;
        }
        if g.first.chain.is_empty() && !v.chain.is_empty() {
            g.first = v;
        }
    }
    let mut all: Vec<Group<'a>> = by.into_values().collect();
    all.sort_by(|a, b| {
        (a.at_ms, a.invariant, &a.partition).cmp(&(b.at_ms, b.invariant, &b.partition))
    });
    all
}

/// The node lanes: every broker and controller, then (sorted) any other
/// node a fault hit or a shown chain names.
pub fn node_lanes(scenario: &Scenario, bands: &[Band], chain_nodes: &[&str]) -> Vec<String> {
    let mut lanes: Vec<String> = (1..=scenario.cluster.brokers)
        .map(|b| format!("broker-{b}"))
        .chain((1..=scenario.cluster.controllers).map(|c| format!("controller-{c}")))
        .collect();
    let partitions: BTreeSet<String> = partitions(scenario).into_iter().collect();
    let others: BTreeSet<&str> = bands
        .iter()
        .map(|b| b.node.as_str())
        .chain(chain_nodes.iter().flat_map(|n| n.split(',')))
        .filter(|n| !lanes.iter().any(|l| l == n) && !partitions.contains(*n))
        .collect();
    lanes.extend(others.into_iter().map(str::to_owned));
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executed(at_s: u64, kind: &str, target: &str, applied: Vec<Fault>) -> Executed {
        Executed {
            at_ns: at_s * sim::SECONDS,
            kind: kind.to_owned(),
            target: target.to_owned(),
            detail: format!("{kind} {target}"),
            applied,
            nodes: Vec::new(),
            settle: false,
        }
    }

    #[test]
    fn faults_pair_with_what_ends_them() {
        let n = sim::NodeId(0);
        let faults = vec![
            executed(1, "crash", "broker-1", vec![]),
            executed(2, "partition", "broker-2,producer-0", vec![]),
            executed(3, "restart", "broker-1", vec![]),
            executed(
                4,
                "slow_disk",
                "broker-3",
                vec![Fault::SlowDisk {
                    node: n,
                    factor: 10,
                }],
            ),
            executed(5, "heal", "network", vec![]),
            executed(6, "pause", "controller-1", vec![]),
            executed(7, "corrupt", "broker-1", vec![]),
        ];
        let bands = fault_bands(&faults, 20 * sim::SECONDS, 30 * sim::SECONDS);
        let got: Vec<String> = bands
            .iter()
            .map(|b| {
                format!(
                    "{} {} {}..{}",
                    b.node,
                    b.kind,
                    b.start / MILLIS,
                    b.end / MILLIS
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "broker-1 crash 1000..3000",
                "broker-2 partition 2000..5000",
                "producer-0 partition 2000..5000",
                "broker-3 slow_disk 4000..20000",
                "controller-1 pause 6000..30000",
                "broker-1 corrupt 7000..7000",
            ]
        );
    }

    #[test]
    fn a_violation_names_its_partition() {
        let known: BTreeSet<&str> = ["orders-1", "orders-10"].into_iter().collect();
        let v = Violation::new("x", 0, "orders-10 offset 3 lost.".to_owned());
        assert_eq!(partition_of(&v, &known).as_deref(), Some("orders-10"));
        let v = Violation::new("x", 0, "group g lost orders-1.".to_owned());
        assert_eq!(partition_of(&v, &known).as_deref(), Some("orders-1"));
        let v = Violation::new("x", 0, "nothing".to_owned());
        assert_eq!(partition_of(&v, &known), None);
    }
}
