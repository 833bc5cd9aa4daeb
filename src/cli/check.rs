//! `ksim check`: validate a scenario file only.

use std::path::Path;

use super::{load, outln};

/// "1 topic", "3 topics".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn main(path: &Path) -> u8 {
    let s = match load(path) {
        Ok(loaded) => loaded.scenario,
        Err(code) => return code,
    };
    let sum = |counts: &mut dyn Iterator<Item = u32>| counts.map(|c| c as usize).sum::<usize>();
    let producers = sum(&mut s.producers.iter().map(|p| p.count));
    let consumers = sum(&mut s.consumers.iter().map(|c| c.count));
    let partitions = sum(&mut s.topics.iter().map(|t| t.partitions));
    let parts = [
        count(s.cluster.brokers as usize, "broker"),
        count(s.cluster.controllers as usize, "controller"),
        format!(
            "{} ({})",
            count(s.topics.len(), "topic"),
            count(partitions, "partition")
        ),
        count(producers, "producer"),
        count(consumers, "consumer"),
        format!(
            "{}{}",
            count(s.faults.len(), "scripted fault"),
            if s.swarm.is_some() { " + swarm" } else { "" }
        ),
    ];
    outln!(
        "{}: ok: scenario {}: {}; {} then {} to settle",
        path.display(),
        s.name,
        parts.join(", "),
        sim::format_nanos(s.duration_ns),
        sim::format_nanos(s.settle_ns),
    );
    0
}
