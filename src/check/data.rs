//! The data checkers, over what clients observed and what the logs hold
//! after the settle phase: `acked_writes_durable`, `offsets_consistent`,
//! `no_duplicates`, `partition_order`, `reads_committed_only`,
//! `replicas_consistent` (Jepsen's lost-write, inconsistent-offsets,
//! duplicate, nonmonotonic-send and dirty-read anomalies in Kafka's terms).
//!
//! Partitions are numbered densely (topic index, partition) and what an
//! offset held is kept in a vector per partition: a run observes every record
//! several times, so the checker must cost little per observation.

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Acked { offset: Option<u64>, at: Nanos },
    Failed,
    Indeterminate,
}

/// Who saw what an offset held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Ack,
    Consumer(u32),
    FinalRead,
}

/// A partition, as (topic index, partition).
type Part = (u32, u32);

/// Collects client observations online; `finish` checks them against the final state.
#[derive(Debug, Default)]
pub struct DataChecker {
    topics: Vec<String>,
    /// Per producer, by send sequence (the record id's low bits): partition and outcome.
    sent: Vec<Vec<(Part, Outcome)>>,
    /// Per partition, by offset: the first record seen there and by whom.
    seen_at: BTreeMap<Part, Vec<Option<(u64, Source)>>>,
    consumed: Vec<(Nanos, u32, Part, u64, u64)>,
    violations: Vec<Violation>,
    names: Vec<String>,
    /// Acknowledgements received.
    pub acked: u64,
    /// Records consumed.
    pub consumed_count: u64,
    /// Records sent.
    pub sent_count: u64,
    /// Per producer: acknowledgements received in each simulated second.
    pub acks_per_second: Vec<Vec<u64>>,
}

fn show(id: u64) -> String {
    let (producer, seq) = producer_of(id);
    format!("p{producer}-{seq}")
}

impl DataChecker {
    /// A checker for a scenario's `topics`; `names` names the nodes.
    pub fn new(topics: Vec<String>, names: Vec<String>) -> Self {
        Self {
            topics,
            names,
            ..Self::default()
        }
    }

    fn sent_entry(&self, id: u64) -> Option<&(Part, Outcome)> {
        let (producer, seq) = producer_of(id);
        self.sent.get(producer as usize)?.get(seq as usize)
    }

    fn sent_mut(&mut self, id: u64) -> Option<&mut (Part, Outcome)> {
        let (producer, seq) = producer_of(id);
        self.sent.get_mut(producer as usize)?.get_mut(seq as usize)
    }

    fn part_name(&self, (t, p): Part) -> String {
        format!("{}-{p}", self.topics[t as usize])
    }

    fn part_of(&self, tp: &TopicPartition) -> Option<Part> {
        let t = self.topics.iter().position(|t| *t == tp.topic)?;
        Some((t as u32, tp.partition))
    }

    fn source_name(&self, s: Source) -> String {
        match s {
            Source::Ack => "its producer's ack".to_owned(),
            Source::Consumer(n) => self.names[n as usize].clone(),
            Source::FinalRead => "the final read".to_owned(),
        }
    }

    /// Whether record `id` was acknowledged to its producer.
    /// Whether an offset in `from..to` of `partition` (`topic-N`) held a
    /// record its producer had acknowledged.
    pub fn acked_between(&self, partition: &str, from: u64, to: u64) -> bool {
        let Some((topic, p)) = partition.rsplit_once('-') else {
            return false;
        };
        let (Some(t), Ok(p)) = (self.topics.iter().position(|x| x == topic), p.parse()) else {
            return false;
        };
        let Some(slots) = self.seen_at.get(&(t as u32, p)) else {
            return false;
        };
        let to = (to as usize).min(slots.len());
        let from = (from as usize).min(to);
        slots[from..to]
            .iter()
            .flatten()
            .any(|&(id, _)| self.is_acked(id))
    }

    pub fn is_acked(&self, id: u64) -> bool {
        self.sent_entry(id)
            .is_some_and(|(_, o)| matches!(o, Outcome::Acked { .. }))
    }

    /// Per producer: when it last had a record acknowledged.
    pub fn last_ack_per_producer(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        for (producer, sent) in self.sent.iter().enumerate() {
            for (_, outcome) in sent {
                if let Outcome::Acked { at, .. } = outcome {
                    let e = out.entry(producer as u32).or_insert(0);
                    *e = (*e).max(*at);
                }
            }
        }
        out
    }

    /// An observation of a producer writing to topic number `topic`.
    pub fn producer(&mut self, at: Nanos, topic: u32, obs: &ProducerObs) {
        match obs {
            ProducerObs::Sent { id, partition, seq } => {
                self.sent_count += 1;
                let (producer, id_seq) = producer_of(*id);
                debug_assert_eq!(id_seq, *seq, "a record id carries its send sequence");
                let producer = producer as usize;
                if self.sent.len() <= producer {
                    self.sent.resize(producer + 1, Vec::new());
                }
                let sent = &mut self.sent[producer];
                let i = *seq as usize;
                if sent.len() <= i {
                    sent.resize(i + 1, ((topic, *partition), Outcome::Pending));
                }
                sent[i] = ((topic, *partition), Outcome::Pending);
            }
            ProducerObs::Acked { id, offset } => {
                self.acked += 1;
                let producer = producer_of(*id).0 as usize;
                let second = (at / sim::SECONDS) as usize;
                if self.acks_per_second.len() <= producer {
                    self.acks_per_second.resize(producer + 1, Vec::new());
                }
                let per_second = &mut self.acks_per_second[producer];
                if per_second.len() <= second {
                    per_second.resize(second + 1, 0);
                }
                per_second[second] += 1;
                let Some(entry) = self.sent_mut(*id) else {
                    return;
                };
                entry.1 = Outcome::Acked {
                    offset: *offset,
                    at,
                };
                let part = entry.0;
                if let Some(offset) = offset {
                    self.seen(at, part, *offset, *id, Source::Ack);
                }
            }
            ProducerObs::Failed { id, .. } => {
                if let Some(entry) = self.sent_mut(*id) {
                    entry.1 = Outcome::Failed;
                }
            }
            ProducerObs::Indeterminate { id, .. } => {
                if let Some(entry) = self.sent_mut(*id) {
                    if entry.1 == Outcome::Pending {
                        entry.1 = Outcome::Indeterminate;
                    }
                }
            }
        }
    }

    /// An observation of consumer node `node` reading topic number `topic`.
    pub fn consumer(&mut self, at: Nanos, node: u32, topic: u32, obs: &ConsumerObs) {
        if let ConsumerObs::Consumed {
            partition,
            offset,
            id,
            ..
        } = obs
        {
            self.consumed_count += 1;
            let part = (topic, *partition);
            self.seen(at, part, *offset, *id, Source::Consumer(node));
            self.consumed.push((at, node, part, *offset, *id));
        }
    }

    /// `offsets_consistent`, online: one record per partition offset.
    fn seen(&mut self, at: Nanos, part: Part, offset: u64, id: u64, by: Source) {
        let slots = self.seen_at.entry(part).or_default();
        let i = offset as usize;
        if slots.len() <= i {
            slots.resize(i + 1, None);
        }
        match slots[i] {
            None => slots[i] = Some((id, by)),
            Some((first, first_by)) if first != id => {
                let detail = format!(
                    "{} offset {offset} held {} (seen by {}) and then {} (seen by {})",
                    self.part_name(part),
                    show(first),
                    self.source_name(first_by),
                    show(id),
                    self.source_name(by)
                );
                let name = self.part_name(part);
                // The story starts when the first record was acknowledged there.
                let since = match self.sent_entry(first) {
                    Some((_, Outcome::Acked { at, .. })) => Some(*at),
                    _ => None,
                };
                self.violations
                    .push(Violation::new("offsets_consistent", at, detail).about(
                        name,
                        Some(offset),
                        since,
                    ));
            }
            Some(_) => {}
        }
    }

    /// Checks everything against the logs at the end (`at`); `context`
    /// describes the faults that followed a write's acknowledgement.
    pub fn finish(
        mut self,
        at: Nanos,
        end: &FinalState,
        context: &dyn Fn(Nanos) -> String,
    ) -> Vec<Violation> {
        // Per partition: offset -> (id, leader epoch), dense from 0.
        let mut logs: BTreeMap<Part, Vec<(u64, i32)>> = BTreeMap::new();
        for (tp, records) in &end.committed {
            let Some(part) = self.part_of(tp) else {
                continue;
            };
            let log = logs.entry(part).or_default();
            for r in records {
                if log.len() as u64 == r.offset {
                    log.push((r.id, r.leader_epoch));
                }
                self.seen(at, part, r.offset, r.id, Source::FinalRead);
            }
        }
        self.lost_writes(at, &logs, context);
        self.order_and_duplicates(at, &logs);
        self.dirty_reads(&logs);
        self.replicas(at, end);
        self.violations
    }

    /// `acked_writes_durable`: every acknowledged write is at its offset.
    fn lost_writes(
        &mut self,
        at: Nanos,
        logs: &BTreeMap<Part, Vec<(u64, i32)>>,
        context: &dyn Fn(Nanos) -> String,
    ) {
        let empty = Vec::new();
        let mut found = Vec::new();
        let sent = self.sent.iter().enumerate().flat_map(|(producer, sent)| {
            sent.iter()
                .enumerate()
                .map(move |(seq, &entry)| ((producer as u64) << 40 | seq as u64, entry))
        });
        for (id, (part, outcome)) in sent {
            let Outcome::Acked {
                offset,
                at: acked_at,
            } = outcome
            else {
                continue;
            };
            let log = logs.get(&part).unwrap_or(&empty);
            let there = match offset {
                Some(o) => log.get(o as usize).is_some_and(|r| r.0 == id),
                None => log.iter().any(|r| r.0 == id),
            };
            if !there {
                let what = match offset.and_then(|o| log.get(o as usize).map(|r| (o, r))) {
                    Some((o, r)) => {
                        format!("offset {o} now holds {} (leader epoch {})", show(r.0), r.1)
                    }
                    None => format!(
                        "the log of {} ends at offset {}",
                        self.part_name(part),
                        log.len()
                    ),
                };
                let at_offset = offset.map_or(String::new(), |o| format!(" at offset {o}"));
                found.push(
                    Violation::new(
                        "acked_writes_durable",
                        at,
                        format!(
                            "record {} acknowledged{at_offset} of {} at {} is lost: {what}; {}",
                            show(id),
                            self.part_name(part),
                            sim::format_nanos(acked_at),
                            context(acked_at)
                        ),
                    )
                    .about(self.part_name(part), offset, Some(acked_at)),
                );
            }
        }
        self.violations.extend(found);
    }

    /// `no_duplicates` and `partition_order`, per partition in offset order.
    fn order_and_duplicates(&mut self, at: Nanos, logs: &BTreeMap<Part, Vec<(u64, i32)>>) {
        let mut found = Vec::new();
        for (&part, log) in logs {
            let mut first_at: BTreeMap<u64, usize> = BTreeMap::new();
            let mut last: BTreeMap<u32, (u64, usize, u64)> = BTreeMap::new();
            for (offset, &(id, _)) in log.iter().enumerate() {
                if let Some(&first) = first_at.get(&id) {
                    found.push(
                        Violation::new(
                            "no_duplicates",
                            at,
                            format!(
                                "record {} is in {} twice: at offsets {first} and {offset}",
                                show(id),
                                self.part_name(part)
                            ),
                        )
                        .about(
                            self.part_name(part),
                            Some(offset as u64),
                            None,
                        ),
                    );
                    continue;
                }
                first_at.insert(id, offset);
                if self.sent_entry(id).is_none() {
                    continue;
                }
                let seq = producer_of(id).1;
                let (producer, _) = producer_of(id);
                if let Some(&(prev_seq, prev_offset, prev_id)) = last.get(&producer) {
                    if seq < prev_seq {
                        found.push(
                            Violation::new(
                                "partition_order",
                                at,
                                format!(
                                    "producer {producer} sent {} before {}, but {} holds them the other way round (offsets {prev_offset} and {offset})",
                                    show(id),
                                    show(prev_id),
                                    self.part_name(part)
                                ),
                            )
                            .about(self.part_name(part), Some(offset as u64), None),
                        );
                    }
                }
                last.insert(producer, (seq, offset, id));
            }
        }
        self.violations.extend(found);
    }

    /// `reads_committed_only`: what consumers saw is still there.
    fn dirty_reads(&mut self, logs: &BTreeMap<Part, Vec<(u64, i32)>>) {
        let mut found = Vec::new();
        for &(seen_at, node, part, offset, id) in &self.consumed {
            let there = logs
                .get(&part)
                .and_then(|l| l.get(offset as usize))
                .is_some_and(|r| r.0 == id);
            if !there {
                found.push(
                    Violation::new(
                        "reads_committed_only",
                        seen_at,
                        format!(
                            "{} read {} at {} offset {offset}, which the final log does not hold",
                            self.names[node as usize],
                            show(id),
                            self.part_name(part)
                        ),
                    )
                    .about(self.part_name(part), Some(offset), Some(seen_at)),
                );
            }
        }
        self.violations.extend(found);
    }

    /// `replicas_consistent`: in-sync replicas agree below the high watermark.
    fn replicas(&mut self, at: Nanos, end: &FinalState) {
        for (tp, replicas) in &end.replicas {
            let Some(leader) = end.committed.get(tp) else {
                continue;
            };
            for (broker, records) in replicas {
                let diff = leader.iter().enumerate().find(|(i, a)| {
                    records
                        .get(*i)
                        .is_none_or(|b| a.offset != b.offset || a.id != b.id)
                });
                if let Some((i, a)) = diff {
                    let what = match records.get(i) {
                        None => "its log ends there".to_owned(),
                        Some(b) => format!("it holds {}", show(b.id)),
                    };
                    self.violations.push(
                        Violation::new(
                            "replicas_consistent",
                            at,
                            format!(
                                "in-sync replica broker {broker} of {tp} differs from the leader below the high watermark: offset {} is {} on the leader, {what}",
                                a.offset,
                                show(a.id)
                            ),
                        )
                        .about(tp.to_string(), Some(a.offset), None),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> u64 {
        seq
    }

    fn checker() -> DataChecker {
        DataChecker::new(vec!["t".into()], vec!["consumer-0".into()])
    }

    fn log(ids: &[u64]) -> Vec<LogRecord> {
        ids.iter()
            .enumerate()
            .map(|(i, &id)| LogRecord {
                offset: i as u64,
                id,
                leader_epoch: 0,
            })
            .collect()
    }

    fn end(leader: &[u64], follower: Option<&[u64]>) -> FinalState {
        let tp = TopicPartition::new("t", 0);
        let mut state = FinalState::default();
        state.committed.insert(tp.clone(), log(leader));
        if let Some(f) = follower {
            state.replicas.insert(tp, vec![(2, log(f))]);
        }
        state
    }

    fn names(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.invariant.as_str()).collect()
    }

    #[test]
    fn a_lost_ack_a_duplicate_a_reorder_a_dirty_read_and_a_diverged_replica_are_each_found() {
        let mut c = checker();
        for seq in 0..3 {
            c.producer(
                0,
                0,
                &ProducerObs::Sent {
                    id: id(seq),
                    partition: 0,
                    seq,
                },
            );
        }
        c.producer(
            1,
            0,
            &ProducerObs::Acked {
                id: 0,
                offset: Some(0),
            },
        );
        c.producer(
            1,
            0,
            &ProducerObs::Acked {
                id: 2,
                offset: Some(1),
            },
        );
        c.consumer(
            2,
            0,
            0,
            &ConsumerObs::Consumed {
                partition: 0,
                offset: 1,
                id: 2,
                leader_epoch: 0,
            },
        );
        // The final log: 1 before 0 (reorder), 1 twice, record 2 gone from offset 1.
        let found = c.finish(9, &end(&[1, 0, 1], Some(&[1, 0, 2])), &|_| String::new());
        let found = names(&found);
        for invariant in [
            "acked_writes_durable",
            "offsets_consistent",
            "no_duplicates",
            "partition_order",
            "reads_committed_only",
            "replicas_consistent",
        ] {
            assert!(found.contains(&invariant), "{invariant} not in {found:?}");
        }
    }

    #[test]
    fn a_clean_history_passes() {
        let mut c = checker();
        for seq in 0..3 {
            c.producer(
                0,
                0,
                &ProducerObs::Sent {
                    id: id(seq),
                    partition: 0,
                    seq,
                },
            );
            c.producer(
                1,
                0,
                &ProducerObs::Acked {
                    id: seq,
                    offset: Some(seq),
                },
            );
            c.consumer(
                2,
                0,
                0,
                &ConsumerObs::Consumed {
                    partition: 0,
                    offset: seq,
                    id: seq,
                    leader_epoch: 0,
                },
            );
        }
        let found = c.finish(9, &end(&[0, 1, 2], Some(&[0, 1, 2])), &|_| String::new());
        assert_eq!(found, Vec::new());
    }
}
