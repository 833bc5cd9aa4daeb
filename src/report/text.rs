//! The plain-text report of `ksim run`.

use std::fmt::Write;

use sim::format_nanos;

use super::{replay_command, Summary, Verdict};
use crate::harness::Outcome;
use crate::scenario::Scenario;

/// Renders the text report of one run.
pub fn render(scenario: &Scenario, file: &str, summary: &Summary, outcome: &Outcome) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "ksim run {} --seed {}", scenario.name, summary.seed);
    if !scenario.description.is_empty() {
        let _ = writeln!(w, "  {}", scenario.description.trim());
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
    let _ = writeln!(
        w,
        "              brokers and clients are kernel stand-ins ({} messages delivered) until Kafka's data path lands",
        outcome.stats.messages
    );
    let _ = writeln!(w, "  checked     {}", outcome.checked.join(", "));
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
    if !outcome.quorum.is_empty() {
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
        let _ = writeln!(w);
    }
    if summary.violations.is_empty() {
        let _ = writeln!(w, "violations: none");
    } else {
        let _ = writeln!(w, "violations");
        for v in &summary.violations {
            let _ = writeln!(
                w,
                "  {} at {}: {}",
                v.invariant,
                format_nanos(v.at_ms * sim::MILLIS),
                v.detail
            );
        }
    }
    if summary.verdict != Verdict::Pass {
        let _ = writeln!(w, "\nreplay: {}", replay_command(file, summary.seed));
    }
    out
}
