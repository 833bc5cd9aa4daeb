//! Causal explanations: each violation (the first of its invariant and
//! partition) gets the chain of events that made it, read from the run's
//! history. For a lost write: the partition's leader, epoch and ISR when it
//! was acknowledged; what each replica held when a crash or power loss hit
//! it and what it recovered from its disk; the elections and truncations
//! that followed.

use std::collections::BTreeSet;

use sim::{Nanos, MILLIS};

use super::history::{Event, History, What};
use crate::check::{ChainEvent, Violation};

/// At most this many events per chain.
const CHAIN_MAX: usize = 16;

/// Fills in the chain of the first violation of each invariant and partition.
pub fn explain(violations: &mut [Violation], history: &History) {
    let mut done: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    for v in violations.iter_mut() {
        let key = (
            v.invariant.clone(),
            v.subject.as_ref().map(|s| s.partition.clone()),
        );
        if done.insert(key) {
            v.chain = chain(v, history);
        }
    }
}

fn link(e: &Event, offset: Option<u64>) -> ChainEvent {
    ChainEvent {
        at_ms: e.at / MILLIS,
        node: e.node.clone(),
        event: e.text(offset),
    }
}

/// Faults and fencing of brokers matter to every partition.
fn cluster_wide(e: &Event) -> bool {
    match &e.what {
        What::Fault {
            kind, hit_broker, ..
        } => *hit_broker || matches!(kind.as_str(), "partition" | "heal" | "latency"),
        What::Fenced | What::Unfenced => true,
        _ => false,
    }
}

/// Events that carry the story when there are too many: data moving or
/// going, leaders changing.
fn essential(e: &Event) -> bool {
    match &e.what {
        What::PartitionChange { created, .. } => !created,
        What::Fenced | What::Unfenced => false,
        What::Fault { kind, .. } => !matches!(kind.as_str(), "latency" | "slow_disk"),
        _ => true,
    }
}

fn chain(v: &Violation, history: &History) -> Vec<ChainEvent> {
    let at: Nanos = (v.at_ms + 1) * MILLIS;
    let Some(subject) = &v.subject else {
        // No partition: the faults that preceded it.
        let faults: Vec<&Event> = history
            .events
            .iter()
            .filter(|e| e.at < at && matches!(e.what, What::Fault { .. }))
            .collect();
        let from = faults.len().saturating_sub(CHAIN_MAX);
        return faults[from..].iter().map(|e| link(e, None)).collect();
    };
    let part = subject.partition.as_str();
    let group = crate::check::groups::GROUP_INVARIANTS.contains(&v.invariant.as_str());
    let mut out = Vec::new();
    if let Some(since) = subject.since_ns {
        if let Some(state) = history.state_at(part, since) {
            let then = Event {
                at: since,
                node: part.to_owned(),
                partition: Some(part.to_owned()),
                what: state.clone(),
            };
            let done = match v.invariant.as_str() {
                "reads_committed_only" => "read",
                "acked_writes_durable" => "acknowledged",
                "offsets_consistent" => "the first record acknowledged",
                _ => "seen",
            };
            let what = match subject.offset {
                Some(o) => format!("{done} at offset {o}"),
                None => done.to_owned(),
            };
            let hw = match state {
                What::PartitionChange {
                    leader: Some(l), ..
                } => history
                    .high_watermark_at(part, *l, since)
                    .map_or(String::new(), |hw| format!(", high watermark {hw}")),
                _ => String::new(),
            };
            out.push(ChainEvent {
                at_ms: since / MILLIS,
                node: part.to_owned(),
                event: format!("{what} with {}{hw}", then.text(Some(0))),
            });
        }
    }
    let mut events: Vec<&Event> = history
        .events
        .iter()
        .filter(|e| match subject.since_ns {
            // From the moment it was written or read to the end of the run.
            Some(t) => e.at > t,
            None => e.at < at,
        })
        .filter(|e| {
            e.partition.as_deref() == Some(part)
                || cluster_wide(e)
                // A group's story includes its consumers' crashes and closes.
                || (group && matches!(e.what, What::Fault { .. }))
        })
        .collect();
    if events.len() > CHAIN_MAX {
        events.retain(|e| essential(e));
    }
    let more = events.len().saturating_sub(CHAIN_MAX);
    let shown: &[&Event] = if subject.since_ns.is_some() {
        &events[..events.len() - more]
    } else {
        // Nothing marks the start: the events just before the detection.
        &events[more..]
    };
    // With no known start, an event may predate the record at that offset:
    // say nothing about the offset then.
    let offset = subject.since_ns.and(subject.offset);
    out.extend(shown.iter().map(|e| link(e, offset)));
    if more > 0 {
        out.push(ChainEvent {
            at_ms: v.at_ms,
            node: part.to_owned(),
            event: format!("... and {more} more events (see the trace)"),
        });
    }
    out
}
