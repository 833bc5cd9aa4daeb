//! The plain-text report of `ksim run`.

use std::fmt::Write;

use sim::format_nanos;

use super::timeline::Kind;
use super::{replay_command, Summary, Verdict};
use crate::harness::Outcome;
use crate::metadata::{LeaderRecoveryState, MetadataImage};
use crate::scenario::Scenario;

/// ANSI colour for the terminal, or nothing (piped, `--color never`, NO_COLOR).
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A section heading.
    fn heading(self, text: &str) -> String {
        self.wrap("1", text)
    }

    /// The verdict.
    fn verdict(self, verdict: Verdict) -> String {
        let text = verdict.as_str().to_uppercase();
        match verdict {
            Verdict::Pass => self.wrap("1;32", &text),
            Verdict::Fail | Verdict::Error => self.wrap("1;31", &text),
        }
    }

    /// A violated invariant.
    fn violation(self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    /// Something less important (causal chains).
    fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// A timeline line by its kind.
    fn kind(self, kind: Kind, text: &str) -> String {
        let code = match kind {
            Kind::Fault => "33",
            Kind::Leadership => "36",
            Kind::Isr => "34",
            Kind::Stall => "35",
            Kind::Log => "31",
            Kind::Broker => "34",
            Kind::Group => "32",
        };
        self.wrap(code, text)
    }
}

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
    let paint = Paint { on: colored };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "ksim run {} --seed {}", scenario.name, summary.seed);
    for line in scenario.description.trim().lines() {
        let _ = writeln!(w, "  {line}");
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "  verdict     {}", paint.verdict(summary.verdict));
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
    let members: u32 = scenario.pipelines.iter().map(|p| p.count).sum();
    // Pipeline members only where there are some: other runs print as before.
    let pipelines = if members > 0 {
        format!(", {members} pipeline members")
    } else {
        String::new()
    };
    let _ = writeln!(
        w,
        "  cluster     {} controllers (KRaft quorum), {} brokers, {producers} producers, {consumers} consumers{pipelines}",
        scenario.cluster.controllers, scenario.cluster.brokers
    );
    let _ = writeln!(w, "  kafka       {}", summary.kafka_version);
    for switch in &summary.against_version {
        let _ = writeln!(w, "              against it: {switch}");
    }
    if let Some(a) = &scenario.anomaly {
        let breaks: Vec<&str> = a.breaks.iter().map(|i| i.name()).collect();
        let fix = a.fixed.join(", ");
        if a.is_fixed_variant {
            let _ = writeln!(
                w,
                "  anomaly     {}: the fixed variant ({fix}), where {} must hold",
                a.reference,
                breaks.join(", ")
            );
        } else {
            let _ = writeln!(
                w,
                "  anomaly     {}: breaks {} before the fix ({fix}; run it with --fixed)",
                a.reference,
                breaks.join(", ")
            );
        }
    }
    if let Some(l) = &summary.liveness {
        let _ = writeln!(
            w,
            "  liveness    core {} (the rest down for good)",
            l.core.join(", ")
        );
        if !l.unavailable.is_empty() {
            let _ = writeln!(
                w,
                "              unavailable by design (no in-sync replica in the core): {}",
                l.unavailable.join(", ")
            );
        }
    }
    if let Some(mix) = &summary.swarm {
        let _ = writeln!(w, "  swarm mix   {}", mix.describe());
    }
    let _ = writeln!(
        w,
        "  records     {} sent, {} acknowledged, {} consumed",
        outcome.stats.records_sent, outcome.stats.records_acked, outcome.stats.records_consumed
    );
    let s = &outcome.stats;
    if s.records_removed_by_retention > 0 || s.offset_resets > 0 {
        let _ = writeln!(
            w,
            "  retention   {} acknowledged records removed by retention; {} consumer positions reset after OFFSET_OUT_OF_RANGE",
            s.records_removed_by_retention, s.offset_resets
        );
    }
    if s.records_removed_by_deletion > 0 {
        let _ = writeln!(
            w,
            "  deletion    {} acknowledged records went with their deleted topic",
            s.records_removed_by_deletion
        );
    }
    if s.records_removed_by_compaction > 0 {
        let _ = writeln!(
            w,
            "  compaction  {} acknowledged records removed by the log cleaner (a later record of their key took over)",
            s.records_removed_by_compaction
        );
    }
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
    render_timeline(w, outcome, paint);
    let _ = writeln!(w);
    if summary.violations.is_empty() {
        let _ = writeln!(w, "{}: none", paint.heading("violations"));
    } else {
        let _ = writeln!(w, "{}", paint.heading("violations"));
        // The first few of each invariant; the JSON record keeps more.
        let mut shown: std::collections::BTreeMap<&str, usize> = Default::default();
        for v in &summary.violations {
            let n = shown.entry(v.invariant.as_str()).or_default();
            *n += 1;
            if *n <= VIOLATIONS_SHOWN {
                let _ = writeln!(
                    w,
                    "  {} at {}: {}",
                    paint.violation(&v.invariant),
                    format_nanos(v.at_ms * sim::MILLIS),
                    v.detail
                );
                if !v.chain.is_empty() {
                    let _ = writeln!(w, "    how it came about:");
                }
                for c in &v.chain {
                    let line = format!(
                        "    {:>9}  {:<10}  {}",
                        format_nanos(c.at_ms * sim::MILLIS),
                        c.node,
                        c.event
                    );
                    let _ = writeln!(w, "{}", paint.dim(&line));
                }
            }
        }
        for (invariant, n) in shown {
            let omitted = summary
                .violations_omitted
                .get(invariant)
                .copied()
                .unwrap_or(0);
            if n > VIOLATIONS_SHOWN && omitted == 0 {
                let _ = writeln!(
                    w,
                    "  ... and {} more {invariant} violations (all in the run record)",
                    n - VIOLATIONS_SHOWN
                );
            } else if n > VIOLATIONS_SHOWN {
                let _ = writeln!(
                    w,
                    "  ... and {} more {invariant} violations (the run record keeps the first {n})",
                    (n - VIOLATIONS_SHOWN) as u64 + omitted
                );
            }
        }
    }
    if !outcome.quorum.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(w, "{}", paint.heading("quorum"));
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
            replay_command(file, summary.seed, summary.flags())
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
            if s.removed_by_retention > 0 || s.offset_resets > 0 {
                let _ = writeln!(
                    w,
                    "  {} acknowledged records removed by retention before the group processed them; {} positions reset by auto.offset.reset",
                    s.removed_by_retention, s.offset_resets
                );
            }
        }
        let _ = write!(w, "{}", crate::report::groups::describe_group(g));
    }
}

/// Timeline lines the report shows before pointing to the HTML report.
const TIMELINE_SHOWN: usize = 80;

/// Faults and the protocol events they set off, in time order.
fn render_timeline(w: &mut String, outcome: &Outcome, paint: Paint) {
    let lines = super::timeline::lines(outcome);
    if lines.is_empty() {
        let _ = writeln!(w, "{}: nothing happened", paint.heading("timeline"));
        return;
    }
    let _ = writeln!(w, "{}", paint.heading("timeline"));
    let who_width = lines
        .iter()
        .take(TIMELINE_SHOWN)
        .map(|l| l.who.len())
        .max()
        .unwrap_or(0)
        .min(24);
    for l in lines.iter().take(TIMELINE_SHOWN) {
        let text = format!("{:<who_width$}  {}", l.who, l.text);
        let _ = writeln!(
            w,
            "  {:>9}  {}",
            format_nanos(l.at),
            paint.kind(l.kind, &text)
        );
    }
    if lines.len() > TIMELINE_SHOWN {
        let _ = writeln!(
            w,
            "  ... and {} more events (all of them in the HTML report: ksim run ... --html)",
            lines.len() - TIMELINE_SHOWN
        );
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
            // KIP-966's fields (DescribeTopicPartitions), shown when the
            // partition has any.
            let elr = if p.elr.is_empty() && p.last_known_elr.is_empty() {
                String::new()
            } else {
                format!(
                    "\tElr: {}\tLastKnownElr: {}",
                    join(&p.elr),
                    join(&p.last_known_elr)
                )
            };
            let _ = writeln!(
                out,
                "\tTopic: {}\tPartition: {index}\tLeader: {leader}\tReplicas: {}\tIsr: {}{elr}{recovering}",
                topic.name,
                join(&p.replicas),
                join(&p.isr)
            );
        }
    }
    out
}
