//! The data checkers, over what clients observed and what the logs hold
//! after the settle phase: `acked_writes_durable`, `offsets_consistent`,
//! `no_duplicates`, `partition_order`, `reads_committed_only`,
//! `replicas_consistent` (Jepsen's lost-write, inconsistent-offsets,
//! duplicate, nonmonotonic-send and dirty-read anomalies in Kafka's terms).

use std::collections::BTreeMap;

use sim::Nanos;

use super::Violation;
use crate::client::consumer::ConsumerObs;
use crate::client::{producer_of, ProducerObs};
use crate::protocol::TopicPartition;

/// Names of the data invariants, as reports print them.
pub const DATA_INVARIANTS: [&str; 6] = [
    "acked_writes_durable",
    "offsets_consistent",
    "no_duplicates",
    "partition_order",
    "reads_committed_only",
    "replicas_consistent",
];

/// A record in a log: its offset, the workload id, the leader epoch of its batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Offset.
    pub offset: u64,
    /// Workload record id.
    pub id: u64,
    /// Leader epoch of its batch.
    pub leader_epoch: i32,
}

/// The logs after the settle phase.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// Per partition: the leader's records below its high watermark (what a
    /// final read from the start returns).
    pub committed: BTreeMap<TopicPartition, Vec<LogRecord>>,
    /// Per partition: each in-sync replica's records below the leader's high watermark.
    pub replicas: BTreeMap<TopicPartition, Vec<(u32, Vec<LogRecord>)>>,
}

/// How a record's produce call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Acked {
        tp: TopicPartition,
        offset: Option<u64>,
        at: Nanos,
    },
    Failed,
    Indeterminate,
}

/// Collects client observations online; `finish` checks them against the final state.
#[derive(Debug, Default)]
pub struct DataChecker {
    /// Per record id: partition, per-producer send sequence, outcome.
    sent: BTreeMap<u64, (TopicPartition, u64, Outcome)>,
    /// What a (partition, offset) was first seen to hold, and by whom.
    seen_at: BTreeMap<(TopicPartition, u64), (u64, String)>,
    consumed: Vec<(Nanos, String, TopicPartition, u64, u64)>,
    violations: Vec<Violation>,
    /// Acknowledgements received.
    pub acked: u64,
    /// Records consumed.
    pub consumed_count: u64,
    /// Records sent.
    pub sent_count: u64,
}

fn show(id: u64) -> String {
    let (producer, seq) = producer_of(id);
    format!("p{producer}-{seq}")
}

impl DataChecker {
    /// Per producer: when it last had a record acknowledged.
    pub fn last_ack_per_producer(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        for (id, (_, _, outcome)) in &self.sent {
            if let Outcome::Acked { at, .. } = outcome {
                let e = out.entry(producer_of(*id).0).or_insert(0);
                *e = (*e).max(*at);
            }
        }
        out
    }

    /// A producer's observation.
    pub fn producer(&mut self, at: Nanos, obs: &ProducerObs) {
        match obs {
            ProducerObs::Sent { id, tp, seq } => {
                self.sent_count += 1;
                self.sent.insert(*id, (tp.clone(), *seq, Outcome::Pending));
            }
            ProducerObs::Acked { id, offset } => {
                self.acked += 1;
                let Some(entry) = self.sent.get_mut(id) else {
                    return;
                };
                entry.2 = Outcome::Acked {
                    tp: entry.0.clone(),
                    offset: *offset,
                    at,
                };
                if let Some(offset) = offset {
                    let tp = entry.0.clone();
                    self.seen(at, &tp, *offset, *id, "its producer's ack");
                }
            }
            ProducerObs::Failed { id, .. } => {
                if let Some(entry) = self.sent.get_mut(id) {
                    entry.2 = Outcome::Failed;
                }
            }
            ProducerObs::Indeterminate { id, .. } => {
                if let Some(entry) = self.sent.get_mut(id) {
                    if entry.2 == Outcome::Pending {
                        entry.2 = Outcome::Indeterminate;
                    }
                }
            }
        }
    }

    /// A consumer's observation.
    pub fn consumer(&mut self, at: Nanos, consumer: &str, obs: &ConsumerObs) {
        if let ConsumerObs::Consumed { tp, offset, id, .. } = obs {
            self.consumed_count += 1;
            self.seen(at, tp, *offset, *id, consumer);
            self.consumed
                .push((at, consumer.to_owned(), tp.clone(), *offset, *id));
        }
    }

    /// `offsets_consistent`, online: one record per partition offset.
    fn seen(&mut self, at: Nanos, tp: &TopicPartition, offset: u64, id: u64, by: &str) {
        let key = (tp.clone(), offset);
        match self.seen_at.get(&key) {
            None => {
                self.seen_at.insert(key, (id, by.to_owned()));
            }
            Some((first, first_by)) if *first != id => {
                let detail = format!(
                    "{tp} offset {offset} held {} (seen by {first_by}) and then {} (seen by {by})",
                    show(*first),
                    show(id)
                );
                self.violations
                    .push(Violation::new("offsets_consistent", at, detail));
            }
            Some(_) => {}
        }
    }

    /// Checks everything against the logs at the end (`at`); `context`
    /// describes the faults before a time, for the details.
    pub fn finish(
        mut self,
        at: Nanos,
        end: &FinalState,
        context: &dyn Fn(Nanos) -> String,
    ) -> Vec<Violation> {
        let mut by_offset: BTreeMap<&TopicPartition, BTreeMap<u64, &LogRecord>> = BTreeMap::new();
        for (tp, records) in &end.committed {
            let map = by_offset.entry(tp).or_default();
            for r in records {
                map.insert(r.offset, r);
                self.seen(at, tp, r.offset, r.id, "the final read");
            }
        }
        // acked_writes_durable: every acknowledged write is at its offset.
        for (id, (tp, _, outcome)) in &self.sent {
            let Outcome::Acked {
                offset,
                at: acked_at,
                ..
            } = outcome
            else {
                continue;
            };
            let log = by_offset.get(tp);
            let found = match offset {
                Some(o) => log.and_then(|m| m.get(o)).is_some_and(|r| r.id == *id),
                None => log.is_some_and(|m| m.values().any(|r| r.id == *id)),
            };
            if !found {
                let what = match offset.and_then(|o| log.and_then(|m| m.get(&o))) {
                    Some(r) => format!(
                        "offset {} now holds {} (leader epoch {})",
                        r.offset,
                        show(r.id),
                        r.leader_epoch
                    ),
                    None => format!(
                        "the log of {tp} ends at offset {}",
                        log.and_then(|m| m.keys().next_back()).map_or(0, |o| o + 1)
                    ),
                };
                let at_offset = offset.map_or(String::new(), |o| format!(" at offset {o}"));
                self.violations.push(Violation::new(
                    "acked_writes_durable",
                    at,
                    format!(
                        "record {} acknowledged{at_offset} of {tp} at {} is lost: {what}; {}",
                        show(*id),
                        sim::format_nanos(*acked_at),
                        context(*acked_at)
                    ),
                ));
            }
        }
        // no_duplicates and partition_order, per partition in offset order.
        for (tp, records) in &end.committed {
            let mut first_at: BTreeMap<u64, u64> = BTreeMap::new();
            let mut last_seq: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
            for r in records {
                if let Some(&offset) = first_at.get(&r.id) {
                    self.violations.push(Violation::new(
                        "no_duplicates",
                        at,
                        format!(
                            "record {} is in {tp} twice: at offsets {offset} and {}",
                            show(r.id),
                            r.offset
                        ),
                    ));
                    continue;
                }
                first_at.insert(r.id, r.offset);
                let (producer, _) = producer_of(r.id);
                let Some(&(_, seq, _)) = self.sent.get(&r.id) else {
                    continue;
                };
                if let Some(&(prev_seq, prev_offset, prev_id)) = last_seq.get(&producer) {
                    if seq < prev_seq {
                        self.violations.push(Violation::new(
                            "partition_order",
                            at,
                            format!(
                                "producer {producer} sent {} before {}, but {tp} holds them the other way round (offsets {prev_offset} and {})",
                                show(r.id),
                                show(prev_id),
                                r.offset
                            ),
                        ));
                    }
                }
                last_seq.insert(producer, (seq, r.offset, r.id));
            }
        }
        // reads_committed_only: what consumers saw is still there.
        for (seen_at, consumer, tp, offset, id) in &self.consumed {
            let there = by_offset
                .get(tp)
                .and_then(|m| m.get(offset))
                .is_some_and(|r| r.id == *id);
            if !there {
                self.violations.push(Violation::new(
                    "reads_committed_only",
                    *seen_at,
                    format!(
                        "{consumer} read {} at {tp} offset {offset}, which the final log does not hold",
                        show(*id)
                    ),
                ));
            }
        }
        // replicas_consistent: in-sync replicas agree below the high watermark.
        for (tp, replicas) in &end.replicas {
            let Some(leader) = end.committed.get(tp) else {
                continue;
            };
            for (broker, records) in replicas {
                let diff = leader
                    .iter()
                    .zip(records.iter().chain(std::iter::repeat(&LogRecord {
                        offset: u64::MAX,
                        id: u64::MAX,
                        leader_epoch: -1,
                    })))
                    .find(|(a, b)| a.offset != b.offset || a.id != b.id);
                if let Some((a, b)) = diff {
                    let what = if b.offset == u64::MAX {
                        "its log ends there".to_owned()
                    } else {
                        format!("it holds {}", show(b.id))
                    };
                    self.violations.push(Violation::new(
                        "replicas_consistent",
                        at,
                        format!(
                            "in-sync replica broker {broker} of {tp} differs from the leader below the high watermark: offset {} is {} on the leader, {what}",
                            a.offset,
                            show(a.id)
                        ),
                    ));
                }
            }
        }
        self.violations
    }
}
