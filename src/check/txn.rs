//! The transaction checkers, over how producers saw their transactions end,
//! what read_committed consumers read, and the final logs read as a
//! read_committed consumer would (markers applied):
//!
//! - `transactions_atomic`: every record of a transaction its producer saw
//!   committed is readable by read_committed at the end, and no record of a
//!   transaction it saw aborted is (no torn transactions).
//! - `no_aborted_reads`: a read_committed consumer never returns a record of
//!   an aborted transaction, nor one the final log holds in no committed
//!   transaction (Jepsen's G1a, aborted read).
//!
//! A transaction whose outcome the producer does not know (fenced after it
//! sent EndTxn(commit)) is held to neither rule.

use std::collections::BTreeMap;

use sim::Nanos;

use super::data::FinalState;
use super::Violation;
use crate::client::consumer::ConsumerObs;
use crate::client::{producer_of, ProducerObs, TxnOutcome};
use crate::protocol::TopicPartition;

/// Names of the transaction invariants, as reports print them.
pub const TXN_INVARIANTS: [&str; 2] = ["transactions_atomic", "no_aborted_reads"];

/// A read_committed consumer's read.
#[derive(Clone, Debug)]
struct Read {
    at: Nanos,
    node: u32,
    tp: TopicPartition,
    offset: u64,
    id: u64,
}

/// The transaction checker.
#[derive(Clone, Debug, Default)]
pub struct TxnChecker {
    names: Vec<String>,
    /// Per node: the topic its client works on.
    topics: Vec<String>,
    /// Per node: whether it is a read_committed consumer.
    read_committed: Vec<bool>,
    /// Per record id: its transaction (index into `txns`).
    txn_of: BTreeMap<u64, u32>,
    /// Per transaction: when it ended, its outcome and topic.
    txns: Vec<(Nanos, TxnOutcome, String)>,
    reads: Vec<Read>,
}

impl TxnChecker {
    /// A checker for nodes named `names`, each working on `topics[node]`;
    /// `read_committed[node]` marks the read_committed consumers.
    pub fn new(names: Vec<String>, topics: Vec<String>, read_committed: Vec<bool>) -> Self {
        Self {
            names,
            topics,
            read_committed,
            ..Self::default()
        }
    }

    /// A producer's observation.
    pub fn producer(&mut self, at: Nanos, node: u32, obs: &ProducerObs) {
        if let ProducerObs::TxnEnded { outcome, ids } = obs {
            let txn = self.txns.len() as u32;
            let topic = self.topics.get(node as usize).cloned().unwrap_or_default();
            self.txns.push((at, *outcome, topic));
            for &id in ids {
                self.txn_of.insert(id, txn);
            }
        }
    }

    /// A consumer's observation.
    pub fn consumer(&mut self, at: Nanos, node: u32, obs: &ConsumerObs) {
        if !self
            .read_committed
            .get(node as usize)
            .copied()
            .unwrap_or(false)
        {
            return;
        }
        if let ConsumerObs::Polled(records) = obs {
            let topic = &self.topics[node as usize];
            for r in records {
                self.reads.push(Read {
                    at,
                    node,
                    tp: TopicPartition::new(topic, r.partition),
                    offset: r.offset,
                    id: r.id,
                });
            }
        }
    }

    fn outcome(&self, id: u64) -> Option<(u32, TxnOutcome)> {
        let txn = *self.txn_of.get(&id)?;
        Some((txn, self.txns[txn as usize].1))
    }

    /// The violations, against the logs after the settle phase.
    pub fn finish(&self, at: Nanos, end: &FinalState) -> Vec<Violation> {
        let mut found = Vec::new();
        for r in &self.reads {
            let reader = &self.names[r.node as usize];
            let record = show(r.id);
            if let Some((txn, TxnOutcome::Aborted)) = self.outcome(r.id) {
                found.push(
                    Violation::new(
                        "no_aborted_reads",
                        r.at,
                        format!(
                            "{reader} (read_committed) read record {record} at {} offset {}, of a transaction its producer aborted (transaction {txn})",
                            r.tp, r.offset
                        ),
                    )
                    .about(r.tp.to_string(), Some(r.offset), None),
                );
                continue;
            }
            let log = end.logs.get(&r.tp);
            let hidden = log.is_some_and(|l| {
                l.id_at(r.offset) == Some(r.id) && l.committed_at(r.offset) == Some(false)
            });
            if hidden {
                found.push(
                    Violation::new(
                        "no_aborted_reads",
                        r.at,
                        format!(
                            "{reader} (read_committed) read record {record} at {} offset {}, which the final log holds in no committed transaction",
                            r.tp, r.offset
                        ),
                    )
                    .about(r.tp.to_string(), Some(r.offset), None),
                );
            }
        }
        found.extend(self.atomicity(at, end));
        found
    }

    /// `transactions_atomic`: all of a committed transaction readable, none
    /// of an aborted one.
    fn atomicity(&self, at: Nanos, end: &FinalState) -> Vec<Violation> {
        // Where each record is in the final logs, and whether read_committed sees it.
        let mut visible: BTreeMap<u64, (TopicPartition, u64, bool)> = BTreeMap::new();
        // Without transactional records there is nothing to place (and no
        // final log worth decoding).
        let logs = end.logs.iter().filter(|_| !self.txn_of.is_empty());
        for (tp, log) in logs {
            let committed = log.committed_view();
            for (i, &id) in log.ids().iter().enumerate() {
                if self.txn_of.contains_key(&id) {
                    let seen = committed.get(i) == Some(&true);
                    visible.entry(id).and_modify(|v| v.2 |= seen).or_insert((
                        tp.clone(),
                        log.start() + i as u64,
                        seen,
                    ));
                }
            }
        }
        let nothing_removed = end.logs.values().all(|l| l.start() == 0 && !l.compacted);
        let mut ids_of: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for (&id, &txn) in &self.txn_of {
            ids_of.entry(txn).or_default().push(id);
        }
        let mut found = Vec::new();
        for (txn, ids) in ids_of {
            let (ended_at, outcome, _) = &self.txns[txn as usize];
            let want = match outcome {
                TxnOutcome::Committed => true,
                TxnOutcome::Aborted => false,
                TxnOutcome::Unknown => continue,
            };
            // A record retention removed is not judged (it may have been
            // readable before).
            let wrong: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| visible.get(id).is_some_and(|v| v.2) != want)
                .filter(|id| nothing_removed || visible.contains_key(id))
                .collect();
            let Some(&first) = wrong.first() else {
                continue;
            };
            let (producer, _) = producer_of(first);
            let detail = if want {
                format!(
                    "producer {producer} saw transaction {txn} commit at {}, but {} of its {} records are not readable by read_committed at the end, the first {}{}",
                    sim::format_nanos(*ended_at),
                    wrong.len(),
                    ids.len(),
                    show(first),
                    place(visible.get(&first)),
                )
            } else {
                format!(
                    "producer {producer} saw transaction {txn} abort at {}, but {} of its {} records are readable by read_committed at the end, the first {}{}",
                    sim::format_nanos(*ended_at),
                    wrong.len(),
                    ids.len(),
                    show(first),
                    place(visible.get(&first)),
                )
            };
            let mut v = Violation::new("transactions_atomic", at, detail);
            if let Some((tp, offset, _)) = visible.get(&first) {
                v = v.about(tp.to_string(), Some(*offset), None);
            }
            found.push(v);
        }
        found
    }
}

fn show(id: u64) -> String {
    let (p, s) = producer_of(id);
    format!("p{p}-{s}")
}

fn place(at: Option<&(TopicPartition, u64, bool)>) -> String {
    match at {
        Some((tp, offset, _)) => format!(" (at {tp} offset {offset})"),
        None => " (in no final log)".to_owned(),
    }
}

#[cfg(test)]
#[path = "tests_txn.rs"]
mod tests;
