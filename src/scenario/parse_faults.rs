//! Reads `[[faults]]`: when, what, on which target, and the way back.

use super::fault::FaultKind;
use super::model::*;
use super::reader::{Field, Res, Table};
use super::target::{Target, TARGET_SYNTAX};
use super::units::format_duration;
use crate::config::did_you_mean;

/// The keys of a `[[faults]]` entry.
pub(super) const FAULT_KEYS: &[&str] = &[
    "at",
    "kind",
    "target",
    "groups",
    "one_way",
    "overtake",
    "restart_after",
    "resume_after",
    "heal_after",
    "factor",
    "delay",
    "torn",
];

/// The key that schedules the way back from a fault of `kind`, if any.
fn way_back(kind: FaultKind) -> Option<&'static str> {
    match kind {
        FaultKind::Crash | FaultKind::PowerLoss | FaultKind::Close | FaultKind::Shutdown => {
            Some("restart_after")
        }
        FaultKind::Pause => Some("resume_after"),
        FaultKind::Partition | FaultKind::SlowDisk | FaultKind::Latency => Some("heal_after"),
        _ => None,
    }
}

/// The scripted faults of `root`, checked against the rest of `scenario`.
pub(crate) fn faults(root: &Table, scenario: &Scenario) -> Res<Vec<FaultSpec>> {
    let Some(field) = root.get("faults") else {
        return Ok(Vec::new());
    };
    field
        .tables("an array of tables, [[faults]]")?
        .iter()
        .map(|t| fault(t, scenario))
        .collect()
}

/// An entry's `at`: a time within the fault phase.
pub(super) fn at_in_fault_phase(t: &Table, s: &Scenario) -> Res<u64> {
    let at_f = t.req("at", "\"10s\"")?;
    let at_ns = at_f.duration()?;
    if at_ns >= s.duration_ns {
        return Err(at_f.err(format!(
            "{} is not within the fault phase; valid: from \"0s\" to below duration \"{}\"",
            format_duration(at_ns),
            format_duration(s.duration_ns)
        )));
    }
    Ok(at_ns)
}

fn fault(t: &Table, s: &Scenario) -> Res<FaultSpec> {
    t.check_keys(FAULT_KEYS)?;
    let kind_f = t.req("kind", "\"crash\"")?;
    let kind: FaultKind = kind_f
        .str("a fault kind")?
        .parse()
        .map_err(|m: String| kind_f.err(m))?;
    let at_ns = at_in_fault_phase(t, s)?;
    for f in t.fields() {
        let kinds = FaultKind::kinds_for_key(&f.name);
        let heal_target = kind == FaultKind::Heal && f.name == "target";
        if kinds.contains(&kind) && !heal_target {
            continue;
        }
        if heal_target {
            return Err(f.key_err("heal restores every cut link and takes no target; remove it, or use heal_after on the partition"));
        }
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let mut message = format!(
            "{} applies to {} only, not to {kind}",
            f.name,
            names.join(", ")
        );
        match way_back(kind) {
            Some(key) if kinds.first().copied().and_then(way_back) == Some(f.name.as_str()) => {
                message.push_str(&format!("; {kind} takes {key}"));
            }
            _ => {}
        }
        return Err(f.key_err(message));
    }
    let target = match t.get("target") {
        Some(f) => Some(target(&f, s, kind)?),
        None => None,
    };
    let groups = match t.get("groups") {
        Some(f) => groups(&f, s)?,
        None => Vec::new(),
    };
    if kind == FaultKind::Partition {
        match (&target, t.get("groups")) {
            (Some(_), Some(g)) => {
                return Err(g.key_err("give either target (isolate it from every other node) or groups (explicit sides), not both"));
            }
            (None, None) => {
                return Err(t.err("target", format!("partition needs a target to isolate or groups to split, e.g. target = \"leader(orders-0)\" or groups = [[\"broker(1)\"], [\"broker(2)\", \"broker(3)\"]]; valid targets: {TARGET_SYNTAX}")));
            }
            _ => {}
        }
    } else if let (FaultKind::Latency, Some(_), Some(g)) = (kind, &target, t.get("groups")) {
        return Err(g.key_err(
            "give either target (its every link) or groups (the links between them), not both",
        ));
    } else if target.is_none() && kind.needs_target() {
        return Err(t.err(
            "target",
            format!("{kind} needs a target, e.g. target = \"broker(1)\"; valid: {TARGET_SYNTAX}"),
        ));
    }
    let duration = |key: &str| t.get(key).map(|f| f.positive_duration()).transpose();
    let flag = |key: &str| t.get(key).map_or(Ok(false), |f| f.bool());
    let factor = match t.get("factor") {
        Some(f) => Some(f.u32_in(2, 1000)?),
        None => (kind == FaultKind::SlowDisk).then_some(DEFAULT_SLOW_DISK_FACTOR),
    };
    let delay_ns = match duration("delay")? {
        Some(d) => Some(d),
        None => (kind == FaultKind::Latency).then_some(DEFAULT_LATENCY_DELAY_NS),
    };
    Ok(FaultSpec {
        at_ns,
        kind,
        target,
        groups,
        one_way: flag("one_way")?,
        overtake: flag("overtake")?,
        restart_after_ns: duration("restart_after")?,
        resume_after_ns: duration("resume_after")?,
        heal_after_ns: duration("heal_after")?,
        factor,
        delay_ns,
        torn: flag("torn")?,
    })
}

/// A target string that names something the scenario has.
fn target(f: &Field, s: &Scenario, kind: FaultKind) -> Res<Target> {
    let text = f.str(&format!("a target: {TARGET_SYNTAX}"))?;
    let target: Target = text.parse().map_err(|m: String| f.err(m))?;
    check_exists(&target, s).map_err(|m| f.err(m))?;
    if kind.needs_disk() && target.is_client() {
        return Err(f.err(format!("{kind} acts on a disk and {target} is a client without one; valid: a broker or controller target, e.g. broker(1), leader(orders-0), controller(active), all_brokers")));
    }
    if kind == FaultKind::Shutdown && !target.is_broker() {
        return Err(f.err(format!("shutdown is a broker's controlled shutdown (SIGTERM: BrokerServer.shutdown) and {target} is not a broker; a controller's shutdown (Raft resignation) and a client's close are not modelled as shutdown: use crash for a controller, close for a consumer; valid: broker(N), leader(TOPIC-P), follower(TOPIC-P), followers(TOPIC-P), coordinator(GROUP), txn_coordinator(TRANSACTIONAL_ID), random_broker, all_brokers")));
    }
    if kind == FaultKind::Close && !matches!(target, Target::Consumer { .. }) {
        return Err(f.err(format!("close shuts a consumer down cleanly (a last commit, then LeaveGroup) and {target} is not a consumer; valid: consumer(GROUP, N), e.g. consumer(billing, 0)")));
    }
    Ok(target)
}

/// Partition sides: `[["broker(1)"], ["broker(2)", "broker(3)"]]`.
fn groups(f: &Field, s: &Scenario) -> Res<Vec<Vec<Target>>> {
    let example = "e.g. groups = [[\"broker(1)\"], [\"broker(2)\", \"broker(3)\"]]";
    let sides = f.array(&format!("an array of arrays of targets, {example}"))?;
    if sides.is_empty() {
        return Err(f.err(format!(
            "groups is empty; valid: at least one group of targets, {example}"
        )));
    }
    let mut out = Vec::new();
    for side in sides {
        let members = side.array(&format!("an array of targets, {example}"))?;
        if members.is_empty() {
            return Err(side.err(format!(
                "a group is empty; valid: one or more targets, {example}"
            )));
        }
        out.push(
            members
                .iter()
                .map(|m| target(m, s, FaultKind::Partition))
                .collect::<Res<Vec<_>>>()?,
        );
    }
    Ok(out)
}

fn range_text(form: impl Fn(u64) -> String, count: u64) -> String {
    match count {
        1 => form(0),
        _ => format!("{}..{}", form(0), form(count - 1)),
    }
}

/// Does the target name something that exists in the scenario?
pub(crate) fn check_exists(target: &Target, s: &Scenario) -> Result<(), String> {
    let brokers = s.cluster.brokers;
    let controllers = s.cluster.controllers;
    match target {
        Target::Broker(n) if *n < 1 || *n > brokers => Err(format!(
            "{target} does not exist; valid: {} (cluster.brokers = {brokers})",
            range_text(|i| format!("broker({})", i + 1), u64::from(brokers))
        )),
        Target::Controller(n) if *n < 1 || *n > controllers => Err(format!(
            "{target} does not exist; valid: {} or controller(active) (cluster.controllers = {controllers})",
            range_text(|i| format!("controller({})", i + 1), u64::from(controllers))
        )),
        Target::Leader { topic, partition }
        | Target::Follower { topic, partition }
        | Target::Followers { topic, partition } => {
            let names: Vec<&str> = s.topics.iter().map(|t| t.name.as_str()).collect();
            let Some(spec) = s.topic(topic) else {
                let hint = match did_you_mean(topic, names.iter().copied()) {
                    Some(near) => format!("did you mean {near:?}? "),
                    None => String::new(),
                };
                return Err(format!("{target}: unknown topic {topic:?}; {hint}valid: a topic of [[topics]]: {}", names.join(", ")));
            };
            if *partition >= spec.partitions {
                let form = |i| format!("{}({topic}-{i})", target.name());
                return Err(format!(
                    "{target} does not exist; valid: {} (topic {topic:?} has {} partitions)",
                    range_text(form, u64::from(spec.partitions)),
                    spec.partitions
                ));
            }
            if !matches!(target, Target::Leader { .. }) && spec.replication_factor < 2 {
                return Err(format!("{target} has no followers: topic {topic:?} has replication_factor {}; valid: leader({topic}-{partition}), or replication_factor >= 2", spec.replication_factor));
            }
            Ok(())
        }
        Target::Coordinator(group) | Target::Consumer { group, .. } if s.group_size(group) == 0 => {
            let mut groups: Vec<&str> = s.consumers.iter().map(|c| c.group.as_str()).collect();
            groups.dedup();
            groups.extend(s.pipelines.iter().map(|p| p.group.as_str()));
            let message =
                format!("{target}: no [[consumers]] or [[pipelines]] entry has group {group:?}");
            if groups.is_empty() {
                return Err(format!("{message}; add a [[consumers]] entry with group = {group:?}"));
            }
            let hint = match did_you_mean(group, groups.iter().copied()) {
                Some(near) => format!("did you mean {near:?}? "),
                None => String::new(),
            };
            Err(format!("{message}; {hint}valid groups: {}", groups.join(", ")))
        }
        Target::TxnCoordinator(id) if !s.transactional_ids().iter().any(|t| t == id) => {
            let ids = s.transactional_ids();
            let message = format!("{target}: no transactional producer has transactional.id {id:?}");
            if ids.is_empty() {
                return Err(format!("{message}; set \"transactional.id\" in a [[producers]] entry's config (producer N of it uses \"ID-N\")"));
            }
            let hint = match did_you_mean(id, ids.iter().map(String::as_str)) {
                Some(near) => format!("did you mean {near:?}? "),
                None => String::new(),
            };
            Err(format!("{message}; {hint}valid: {}", ids.join(", ")))
        }
        Target::Consumer { group, index } if *index >= s.group_size(group) => {
            let size = s.group_size(group);
            Err(format!(
                "{target} does not exist; valid: {} (group {group:?} has {size} consumers)",
                range_text(|i| format!("consumer({group}, {i})"), u64::from(size))
            ))
        }
        Target::Producer(n) if *n >= s.producer_count() => match s.producer_count() {
            0 => Err(format!("{target} does not exist: the scenario has no [[producers]]")),
            count => Err(format!(
                "{target} does not exist; valid: {} ({count} producers over all [[producers]] entries)",
                range_text(|i| format!("producer({i})"), u64::from(count))
            )),
        },
        _ => Ok(()),
    }
}
