//! `compaction_keeps_latest`: after the settle phase, reading a compacted
//! partition from its start gives, for every key, its latest acknowledged
//! record or a later record of the key. Kafka's log cleaner only removes a
//! record once a later record of its key is in the cleaned part of the
//! log; a key that ends up without its latest acknowledged value lost an
//! acknowledged write (an unclean election, acks=1 failover or a power
//! loss), which compaction can hide from `acked_writes_durable` (a record
//! the cleaner could have removed is not judged lost there).
//!
//! A key whose latest acknowledged record is a tombstone (a null value) may
//! be gone altogether, tombstone included, but only as Kafka's cleaner
//! removes a tombstone: once every earlier record of the key is gone, and
//! no sooner than `delete.retention.ms` after it was written (its delete
//! horizon is set at the first cleaning that sees it). A tombstone removed
//! while an older record of its key stays brings the key back to life.
//!
//! Kept: per compacted partition and key, its acknowledged record with the
//! highest offset; per record sent to a compacted topic and not yet
//! acknowledged or failed, its key. A key whose latest record belongs to
//! a transaction the producer saw abort is not judged (the cleaner removes
//! aborted records, and the key's earlier record may be gone too).

use std::collections::BTreeMap;

use sim::{Nanos, MILLIS};

use super::data::FinalState;
use super::Violation;
use crate::client::{producer_of, ProducerObs, TxnOutcome};
use crate::protocol::TopicPartition;

/// The invariant's contract name.
pub const COMPACTION_KEEPS_LATEST: &str = "compaction_keeps_latest";

/// A key's acknowledged record with the highest offset.
#[derive(Clone, Copy, Debug)]
struct Latest {
    offset: u64,
    id: u64,
    acked_at: Nanos,
    tombstone: bool,
}

/// A topic as the checker needs it.
#[derive(Clone, Debug, Default)]
pub struct CompactedTopic {
    /// Its name.
    pub name: String,
    /// Whether its `cleanup.policy` holds `compact`.
    pub compacted: bool,
    /// Its effective `delete.retention.ms`.
    pub delete_retention_ms: u64,
}

/// The `compaction_keeps_latest` checker.
#[derive(Clone, Debug, Default)]
pub struct CompactionChecker {
    /// By topic index.
    topics: Vec<CompactedTopic>,
    /// Records sent to a compacted topic, not yet settled: their key, and
    /// whether each is a tombstone.
    pending: BTreeMap<u64, (u32, bool)>,
    /// By (topic, partition, key): the latest acknowledged record.
    latest: BTreeMap<(u32, u32, u32), Latest>,
}

/// The key number of a workload key (`key-N`).
fn key_number(key: &[u8]) -> Option<u32> {
    std::str::from_utf8(key.strip_prefix(b"key-")?)
        .ok()?
        .parse()
        .ok()
}

fn show(id: u64) -> String {
    let (producer, seq) = producer_of(id);
    format!("p{producer}-{seq}")
}

impl CompactionChecker {
    /// A checker of `topics` (by the monitor's topic index).
    pub fn new(topics: Vec<CompactedTopic>) -> Self {
        Self {
            topics,
            ..Self::default()
        }
    }

    /// Whether any topic is compacted (else nothing is kept).
    pub fn applies(&self) -> bool {
        self.topics.iter().any(|t| t.compacted)
    }

    /// A producer of topic `topic` observed `obs` at `at`.
    pub fn producer(&mut self, at: Nanos, topic: u32, obs: &ProducerObs) {
        if !self.topics.get(topic as usize).is_some_and(|t| t.compacted) {
            return;
        }
        match obs {
            ProducerObs::Sent(records) => {
                for r in records {
                    if let Some(key) = r.key {
                        self.pending.insert(r.id, (key, r.tombstone));
                    }
                }
            }
            ProducerObs::Acked {
                partition,
                base_offset,
                ids,
                ..
            } => {
                for (i, id) in ids.iter().enumerate() {
                    let Some((key, tombstone)) = self.pending.remove(id) else {
                        continue;
                    };
                    // acks=0: where it went is not known.
                    let Some(base) = base_offset else {
                        continue;
                    };
                    let offset = base + i as u64;
                    let entry = self
                        .latest
                        .entry((topic, *partition, key))
                        .or_insert(Latest {
                            offset,
                            id: *id,
                            acked_at: at,
                            tombstone,
                        });
                    if offset >= entry.offset {
                        *entry = Latest {
                            offset,
                            id: *id,
                            acked_at: at,
                            tombstone,
                        };
                    }
                }
            }
            ProducerObs::Failed { ids, .. } => {
                for id in ids {
                    self.pending.remove(id);
                }
            }
            ProducerObs::TxnEnded {
                outcome: TxnOutcome::Aborted | TxnOutcome::Unknown,
                ids,
            } => {
                let ids: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
                self.latest.retain(|_, l| !ids.contains(&l.id));
            }
            _ => {}
        }
    }

    /// Checks every key's latest acknowledged record against the final logs.
    pub fn finish(
        self,
        at: Nanos,
        end: &FinalState,
        context: &dyn Fn(Nanos) -> String,
    ) -> Vec<Violation> {
        let mut found = Vec::new();
        // Per partition: each key's lowest and highest offset in the final log.
        let mut held: BTreeMap<(u32, u32), BTreeMap<u32, (u64, u64)>> = BTreeMap::new();
        for (&(topic, partition, key), latest) in &self.latest {
            let topic_spec = &self.topics[topic as usize];
            let tp = TopicPartition::new(&topic_spec.name, partition);
            let Some(log) = end.logs.get(&tp) else {
                continue;
            };
            if latest.offset < log.start() || log.id_at(latest.offset) == Some(latest.id) {
                continue;
            }
            let keys = held.entry((topic, partition)).or_insert_with(|| {
                let mut keys = BTreeMap::new();
                for batch in &log.leader {
                    batch.for_each_record(|r| {
                        let offset = batch.base_offset + u64::from(r.offset_delta);
                        if let Some(k) = r.key.and_then(key_number) {
                            if offset >= log.start() && offset < log.high_watermark {
                                let span = keys.entry(k).or_insert((offset, offset));
                                span.1 = offset;
                            }
                        }
                    });
                }
                keys
            });
            let span = keys.get(&key).copied();
            if span.is_some_and(|(_, newest)| newest > latest.offset) {
                continue;
            }
            let removable_from = latest.acked_at + topic_spec.delete_retention_ms * MILLIS;
            let problem = match span {
                // A tombstone goes once nothing older of its key is left,
                // a delete.retention.ms after it was written at the soonest.
                None if latest.tombstone && at >= removable_from => continue,
                None if latest.tombstone => format!(
                    "the tombstone is gone before delete.retention.ms ({} ms) passed: a consumer reading {tp} from its start until {} must see it",
                    topic_spec.delete_retention_ms,
                    sim::format_nanos(removable_from)
                ),
                Some((oldest, _)) if latest.tombstone => format!(
                    "the tombstone is gone while the key's record at offset {oldest} stays: the deleted key is back"
                ),
                Some((_, newest)) => format!(
                    "it is gone and no later record of the key took its place: its newest record there is at offset {newest}"
                ),
                None => "it is gone and no later record of the key took its place: the log holds no record of the key".to_owned(),
            };
            let what = if latest.tombstone {
                "tombstone"
            } else {
                "record"
            };
            found.push(
                Violation::new(
                    COMPACTION_KEEPS_LATEST,
                    at,
                    format!(
                        "key key-{key} of {tp}: its latest acknowledged {what} {} at offset {} (acknowledged at {}): {problem}; {}",
                        show(latest.id),
                        latest.offset,
                        sim::format_nanos(latest.acked_at),
                        context(latest.acked_at)
                    ),
                )
                .about(tp.to_string(), Some(latest.offset), Some(latest.acked_at)),
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::check::data::FinalLog;
    use crate::client::{record_id_of, record_value, SentRecord};
    use crate::log::{BatchBuilder, RecordBatch};

    /// A final log holding `records` (offset, key, id), one batch each.
    fn log(records: &[(u64, u32, u64)], hw: u64) -> FinalLog {
        let batches = records
            .iter()
            .map(|&(offset, key, id)| {
                let mut b = BatchBuilder::new();
                b.append(
                    Some(format!("key-{key}").as_bytes()),
                    &record_value(id, 8),
                    0,
                );
                let mut batch: RecordBatch = b.build(-1, -1, -1);
                batch.base_offset = offset;
                Rc::new(batch)
            })
            .collect();
        FinalLog::new(batches, 0, hw, Vec::new()).compacted()
    }

    /// Topic "t" with a `delete.retention.ms` of 1000.
    fn topic(compacted: bool) -> CompactedTopic {
        CompactedTopic {
            name: "t".into(),
            compacted,
            delete_retention_ms: 1_000,
        }
    }

    fn acked(c: &mut CompactionChecker, key: u32, seq: u64, offset: u64) -> u64 {
        sent_and_acked(c, key, seq, offset, false, 2)
    }

    /// Record `seq` of key `key`, acknowledged at `acked_at` at `offset`.
    fn sent_and_acked(
        c: &mut CompactionChecker,
        key: u32,
        seq: u64,
        offset: u64,
        tombstone: bool,
        acked_at: Nanos,
    ) -> u64 {
        let id = record_id_of(0, seq);
        c.producer(
            1,
            0,
            &ProducerObs::Sent(vec![SentRecord {
                id,
                partition: 0,
                key: Some(key),
                tombstone,
            }]),
        );
        c.producer(
            acked_at,
            0,
            &ProducerObs::Acked {
                partition: 0,
                base_offset: Some(offset),
                ids: vec![id],
                topic_id: crate::metadata::Uuid(0),
            },
        );
        id
    }

    fn end(log: FinalLog) -> FinalState {
        let mut state = FinalState::default();
        state.logs.insert(TopicPartition::new("t", 0), log);
        state
    }

    #[test]
    fn the_latest_record_of_each_key_or_a_later_one_passes() {
        let mut c = CompactionChecker::new(vec![topic(true)]);
        acked(&mut c, 1, 0, 0);
        let b = acked(&mut c, 1, 1, 1);
        let x = acked(&mut c, 2, 2, 2);
        // Key 1's latest (offset 1) is there; key 2's is replaced by a later
        // record of key 2 nobody saw acknowledged.
        let state = end(log(&[(1, 1, b), (3, 2, record_id_of(0, 9))], 4));
        assert!(c.clone().finish(5, &state, &|_| String::new()).is_empty());
        assert_ne!(x, 0);
    }

    #[test]
    fn a_key_left_with_an_older_record_or_none_fails() {
        let mut c = CompactionChecker::new(vec![topic(true)]);
        let a = acked(&mut c, 1, 0, 0);
        acked(&mut c, 1, 1, 1);
        acked(&mut c, 2, 2, 2);
        // Offset 1 (key 1's latest) and key 2 are gone; only key 1's older record stays.
        let state = end(log(&[(0, 1, a)], 3));
        let found = c.finish(5, &state, &|_| "ctx".into());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].detail.contains("key key-1 of t-0"),
            "{}",
            found[0].detail
        );
        assert!(found[0]
            .detail
            .contains("its newest record there is at offset 0"));
        assert!(found[1]
            .detail
            .contains("the log holds no record of the key"));
    }

    #[test]
    fn an_uncompacted_topic_and_an_aborted_record_are_not_judged() {
        let mut plain = CompactionChecker::new(vec![topic(false)]);
        acked(&mut plain, 1, 0, 0);
        assert!(!plain.applies());
        assert!(plain
            .finish(5, &end(log(&[], 1)), &|_| String::new())
            .is_empty());
        let mut c = CompactionChecker::new(vec![topic(true)]);
        let id = acked(&mut c, 1, 0, 0);
        c.producer(
            3,
            0,
            &ProducerObs::TxnEnded {
                outcome: TxnOutcome::Aborted,
                ids: vec![id],
            },
        );
        assert!(c
            .finish(5, &end(log(&[], 1)), &|_| String::new())
            .is_empty());
    }

    #[test]
    fn a_tombstoned_key_may_vanish_but_only_as_the_cleaner_removes_tombstones() {
        let mut c = CompactionChecker::new(vec![topic(true)]);
        let older = acked(&mut c, 1, 0, 0);
        sent_and_acked(&mut c, 1, 1, 1, true, 10 * MILLIS);
        let retention = (10 + 1_000) * MILLIS;
        let fine = |c: &CompactionChecker, state: &FinalState, at: Nanos| {
            c.clone().finish(at, state, &|_| String::new())
        };
        // Key and tombstone gone after delete.retention.ms: as Kafka.
        assert!(fine(&c, &end(log(&[], 2)), retention).is_empty());
        // Gone sooner: a consumer reading from the start may miss the delete.
        let early = fine(&c, &end(log(&[], 2)), retention - 1);
        assert_eq!(early.len(), 1, "{early:?}");
        assert!(
            early[0].detail.contains("latest acknowledged tombstone")
                && early[0]
                    .detail
                    .contains("before delete.retention.ms (1000 ms)"),
            "{}",
            early[0].detail
        );
        // The tombstone gone, the key's older record left: it is back.
        let back = fine(&c, &end(log(&[(0, 1, older)], 2)), retention);
        assert_eq!(back.len(), 1, "{back:?}");
        assert!(
            back[0].detail.contains("the deleted key is back"),
            "{}",
            back[0].detail
        );
    }
}
