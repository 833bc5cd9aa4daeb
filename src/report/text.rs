//! The plain-text report of `ksim run`.

use std::fmt::Write;

use sim::format_nanos;

use super::{replay_command, Summary, Verdict};
use crate::controller::active::ControlEvent;
use crate::harness::Outcome;
use crate::metadata::{LeaderRecoveryState, MetadataImage};
use crate::scenario::Scenario;

/// Violations of one invariant the text report lists before summing up the rest.
const VIOLATIONS_SHOWN: usize = 10;

/// Renders the text report of one run.
pub fn render(
    scenario: &Scenario,
    file: &str,
    summary: &Summary,
    outcome: &Outcome,
    colored: bool,
) -> String {
    let _ = colored;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "ksim run {} --seed {}", scenario.name, summary.seed);
    for line in scenario.description.trim().lines() {
        let _ = writeln!(w, "  {line}");
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "  verdict     {}",
        summary.verdict.as_str().to_uppercase()
    );
    let _ = writeln!(w, "  trace_hash  {}", summary.trace_hash);
    let _ = writeln!(
        w,
        "  sim time    {} ({} of faults, then {} to settle)",
        format_nanos(outcome.sim_time_ns),
        format_nanos(scenario.duration_ns),
        format_nanos(scenario.settle_ns)
    );
    let _ = writeln!(
        w,
        "  events      {} in {} ms wall",
        summary.events, summary.wall_ms
    );
    let producers: u32 = scenario.producers.iter().map(|p| p.count).sum();
    let consumers: u32 = scenario.consumers.iter().map(|c| c.count).sum();
    let _ = writeln!(
        w,
        "  cluster     {} controllers (KRaft quorum), {} brokers, {producers} producers, {consumers} consumers",
        scenario.cluster.controllers, scenario.cluster.brokers
    );
    if let Some(mix) = &summary.swarm {
        let _ = writeln!(w, "  swarm mix   {}", mix.describe());
    }
    let _ = writeln!(
        w,
        "  records     {} sent, {} acknowledged, {} consumed",
        outcome.stats.records_sent, outcome.stats.records_acked, outcome.stats.records_consumed
    );
    let _ = writeln!(w, "  checked     {}", outcome.checked.join(", "));
    let reached: Vec<String> = crate::harness::coverage::STATES
        .iter()
        .filter_map(|(state, _)| {
            let n = outcome.coverage.get(*state).copied().unwrap_or(0);
            (n > 0).then(|| format!("{state} {n}"))
        })
        .collect();
    if !reached.is_empty() {
        let _ = writeln!(w, "  reached     {}", reached.join(", "));
    }
    let _ = writeln!(w);
    if outcome.faults.is_empty() {
        let _ = writeln!(w, "faults: none");
    } else {
        let _ = writeln!(w, "faults");
        for f in &outcome.faults {
            let _ = writeln!(
                w,
                "  {:>9}  {:<10}  {:<22}  {}",
                format_nanos(f.at_ns),
                f.kind,
                f.target,
                f.detail
            );
        }
    }
    let _ = writeln!(w);
    if summary.violations.is_empty() {
        let _ = writeln!(w, "violations: none");
    } else {
        let _ = writeln!(w, "violations");
        // The first few of each invariant; the JSON record keeps them all.
        let mut shown: std::collections::BTreeMap<&str, usize> = Default::default();
        for v in &summary.violations {
            let n = shown.entry(v.invariant.as_str()).or_default();
            *n += 1;
            if *n <= VIOLATIONS_SHOWN {
                let _ = writeln!(
                    w,
                    "  {} at {}: {}",
                    v.invariant,
                    format_nanos(v.at_ms * sim::MILLIS),
                    v.detail
                );
                if !v.chain.is_empty() {
                    let _ = writeln!(w, "    how it came about:");
                }
                for c in &v.chain {
                    let _ = writeln!(
                        w,
                        "    {:>9}  {:<10}  {}",
                        format_nanos(c.at_ms * sim::MILLIS),
                        c.node,
                        c.event
                    );
                }
            }
        }
        for (invariant, n) in shown {
            if n > VIOLATIONS_SHOWN {
                let _ = writeln!(
                    w,
                    "  ... and {} more {invariant} violations (all in the run record)",
                    n - VIOLATIONS_SHOWN
                );
            }
        }
    }
    render_control(w, outcome);
    if !outcome.quorum.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "quorum");
        for c in &outcome.quorum {
            let leader = c
                .leader
                .map_or_else(|| "none".to_owned(), |l| format!("controller-{l}"));
            let _ = writeln!(
                w,
                "  {:<14}  {:<10}  epoch {:<4}  leader {:<12}  high watermark {}",
                c.name, c.state, c.epoch, leader, c.high_watermark
            );
        }
    }
    render_metadata(w, outcome);
    render_groups(w, outcome);
    if summary.verdict != Verdict::Pass {
        let _ = writeln!(
            w,
            "replay: {}",
            replay_command(file, summary.seed, summary.swarm.is_some())
        );
    }
    out
}

/// Each group's processing figures and its `kafka-consumer-groups.sh --describe` view.
fn render_groups(w: &mut String, outcome: &Outcome) {
    for g in &outcome.groups {
        let _ = writeln!(w);
        if let Some(s) = outcome.stats.groups.iter().find(|s| s.group == g.group) {
            let plural =
                |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
            let _ = writeln!(
                w,
                "group {} ({}): {}, {} processed, {} processed more than once, {} fenced",
                s.group,
                s.processing,
                plural(s.generations, "generation", "generations"),
                plural(s.processed, "record", "records"),
                s.duplicates,
                plural(s.fenced_commits, "commit", "commits"),
            );
            for (cause, n) in &s.duplicate_causes {
                let _ = writeln!(w, "  {n} duplicated because {cause}");
            }
        }
        let _ = write!(w, "{}", crate::report::groups::describe_group(g));
    }
}

/// What the active controllers did to brokers and partitions.
fn render_control(w: &mut String, outcome: &Outcome) {
    let _ = writeln!(w);
    if outcome.control_events.is_empty() {
        let _ = writeln!(w, "controller events: none");
        return;
    }
    let _ = writeln!(w, "controller events");
    for (at, event) in &outcome.control_events {
        let what = match event {
            ControlEvent::Fenced { broker } => format!("fenced broker {broker} (session expired)"),
            ControlEvent::Registered { broker, epoch } => {
                format!(
                    "registered broker {broker} with broker epoch {epoch} (fenced until caught up)"
                )
            }
            ControlEvent::Unfenced { broker } => format!("unfenced broker {broker} (caught up)"),
            ControlEvent::UncleanElection { partition, leader } => {
                format!("unclean election: broker {leader} leads {partition} from outside the ISR")
            }
        };
        let _ = writeln!(w, "  {:>9}  {what}", format_nanos(*at));
    }
}

/// Brokers as registered, then topics in the layout of `kafka-topics.sh --describe`.
fn render_metadata(w: &mut String, outcome: &Outcome) {
    let _ = writeln!(w);
    let Some(image) = &outcome.metadata else {
        let _ = writeln!(w, "metadata: nothing committed");
        return;
    };
    let _ = writeln!(w, "brokers (metadata offset {})", image.offset);
    for b in image.brokers.values() {
        let state = if b.fenced { "fenced" } else { "unfenced" };
        let _ = writeln!(w, "  broker-{:<4}  epoch {:<6}  {state}", b.id, b.epoch);
    }
    let _ = writeln!(w);
    let _ = write!(w, "{}", describe_topics(image));
}

/// `kafka-topics.sh --describe --exclude-internal` for the topics of
/// `image` (internal topics get one line each).
pub fn describe_topics(image: &MetadataImage) -> String {
    let mut out = String::new();
    let join = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    if image.topics.is_empty() {
        let _ = writeln!(out, "topics: none");
    }
    for topic in image.topics.values() {
        if topic.name.starts_with("__") {
            let leaderless = topic
                .partitions
                .values()
                .filter(|p| p.leader.is_none())
                .count();
            let _ = writeln!(
                out,
                "Topic: {} (internal, not shown)\tPartitionCount: {}\tOfflinePartitions: {leaderless}",
                topic.name,
                topic.partitions.len(),
            );
            continue;
        }
        let rf = topic
            .partitions
            .values()
            .next()
            .map_or(0, |p| p.replicas.len());
        let configs: Vec<String> = topic
            .configs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
            topic.name,
            topic.id,
            topic.partitions.len(),
            rf,
            configs.join(",")
        );
        for (index, p) in &topic.partitions {
            let leader = p
                .leader
                .map_or_else(|| "none".to_owned(), |l| l.to_string());
            let recovering = match p.leader_recovery_state {
                LeaderRecoveryState::Recovering => "\tLeaderRecoveryState: RECOVERING",
                LeaderRecoveryState::Recovered => "",
            };
            let _ = writeln!(
                out,
                "\tTopic: {}\tPartition: {index}\tLeader: {leader}\tReplicas: {}\tIsr: {}{recovering}",
                topic.name,
                join(&p.replicas),
                join(&p.isr)
            );
        }
    }
    out
}
