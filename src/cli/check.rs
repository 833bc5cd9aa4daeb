//! `ksim check`: validate a scenario file only.

use std::path::Path;

use super::{load, outln};

pub fn main(path: &Path) -> u8 {
    let (s, _) = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let producers: u32 = s.producers.iter().map(|p| p.count).sum();
    let consumers: u32 = s.consumers.iter().map(|c| c.count).sum();
    let partitions: u32 = s.topics.iter().map(|t| t.partitions).sum();
    outln!(
        "{}: ok: scenario {}: {} brokers, {} controllers, {} topics ({partitions} partitions), {producers} producers, {consumers} consumers, {} scripted faults{}, {} then {} to settle",
        path.display(),
        s.name,
        s.cluster.brokers,
        s.cluster.controllers,
        s.topics.len(),
        s.faults.len(),
        if s.swarm.is_some() { " + swarm" } else { "" },
        sim::format_nanos(s.duration_ns),
        sim::format_nanos(s.settle_ns),
    );
    0
}
