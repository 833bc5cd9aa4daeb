//! What a consumer takes from one partition of a FetchResponse (Kafka's
//! `CompletedFetch`): the records from its position up to the high
//! watermark (read_uncommitted) or the last stable offset
//! (read_committed), without control batches (transaction markers) and,
//! under read_committed, without the batches of aborted transactions; and
//! the offset it fetches from next, past every batch it skipped.
//!
//! Aborted transactions are dropped as Kafka's `nextFetchedRecord` does:
//! the response lists each aborted transaction's producer and first
//! offset; a producer joins the aborted set once a batch at or past that
//! offset is reached, its transactional batches are skipped while it is
//! there, and its ABORT marker takes it out again.

use std::collections::BTreeSet;

use crate::client::for_each_record_id;
use crate::log::{ControlRecordType, RecordBatch};
use crate::protocol::{FetchedPartition, IsolationLevel};

/// A record a consumer takes: its offset, id and leader epoch.
pub type Fetched = (u64, u64, i32);

/// The records of `answer` from `position` on, and the next fetch offset.
pub fn read_completed_fetch(
    answer: &FetchedPartition,
    position: u64,
    isolation_level: IsolationLevel,
) -> (Vec<Fetched>, u64) {
    let committed = isolation_level == IsolationLevel::ReadCommitted;
    let limit = if committed {
        answer.last_stable_offset.min(answer.high_watermark)
    } else {
        answer.high_watermark
    };
    let mut aborted: Vec<_> = answer.aborted_transactions.clone();
    aborted.sort_by_key(|t| (t.first_offset, t.producer_id));
    let mut pending = aborted.into_iter().peekable();
    let mut aborted_producers = BTreeSet::new();
    // Room for every record of the answer: the list never grows.
    let total: usize = answer
        .batches
        .iter()
        .map(|b| b.record_count() as usize)
        .sum();
    let mut records = Vec::with_capacity(total);
    let mut next = position;
    for batch in &answer.batches {
        if batch.next_offset() <= next {
            continue;
        }
        if batch.base_offset >= limit {
            break;
        }
        if committed && batch.producer_id >= 0 {
            while let Some(t) = pending.next_if(|t| t.first_offset <= batch.last_offset()) {
                aborted_producers.insert(t.producer_id);
            }
            if is_abort_marker(batch) {
                aborted_producers.remove(&batch.producer_id);
            } else if batch.is_transactional() && aborted_producers.contains(&batch.producer_id) {
                next = batch.next_offset();
                continue;
            }
        }
        if batch.is_control() {
            next = batch.next_offset();
            continue;
        }
        let epoch = batch.partition_leader_epoch;
        for_each_record_id(batch, |offset_delta, id| {
            let at = batch.base_offset + u64::from(offset_delta);
            if at >= next && at < limit {
                records.push((at, id, epoch));
                next = at + 1;
            }
        });
        // The batch keeps its last offset when the cleaner removed its last
        // records: the next fetch starts past it (Kafka's `nextFetchedRecord`
        // takes `nextOffset` of the batch, so a consumer never fetches a
        // compacted batch again and again).
        if batch.next_offset() <= limit {
            next = next.max(batch.next_offset());
        }
    }
    (records, next)
}

/// Whether `batch` is a transaction's ABORT marker.
fn is_abort_marker(batch: &RecordBatch) -> bool {
    batch
        .end_txn_marker_of()
        .is_some_and(|m| m.control_type == ControlRecordType::Abort)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::log::{BatchBuilder, EndTransactionMarker};
    use crate::protocol::{AbortedTransaction, TopicId, TopicIdPartition};

    /// A builder holding records whose values carry ids `first..first + n`.
    fn builder(first: u64, n: u64) -> BatchBuilder {
        let mut b = BatchBuilder::new();
        for id in first..first + n {
            b.append(None, &id.to_be_bytes(), 0);
        }
        b
    }

    fn plain(offset: u64, first_id: u64, n: u64) -> Rc<RecordBatch> {
        let mut batch = builder(first_id, n).build(-1, -1, -1);
        batch.base_offset = offset;
        Rc::new(batch)
    }

    fn transactional(offset: u64, pid: i64, first_id: u64, n: u64) -> Rc<RecordBatch> {
        let mut batch = builder(first_id, n).build_transactional(pid, 0, 0);
        batch.base_offset = offset;
        Rc::new(batch)
    }

    fn marker(offset: u64, pid: i64, control_type: ControlRecordType) -> Rc<RecordBatch> {
        let m = EndTransactionMarker {
            control_type,
            coordinator_epoch: 0,
        };
        let mut batch = RecordBatch::end_txn_marker(pid, 0, m, 0);
        batch.base_offset = offset;
        Rc::new(batch)
    }

    fn answer(batches: Vec<Rc<RecordBatch>>, hw: u64, lso: u64) -> FetchedPartition {
        FetchedPartition {
            tp: TopicIdPartition::new(TopicId(0), 0),
            error: None,
            high_watermark: hw,
            log_start_offset: 0,
            log_end_offset: hw,
            last_stable_offset: lso,
            diverging_epoch: None,
            aborted_transactions: Vec::new(),
            batches,
            topic_id: crate::metadata::Uuid(0),
        }
    }

    fn ids(records: &[Fetched]) -> Vec<u64> {
        records.iter().map(|r| r.1).collect()
    }

    /// Offsets 0-1 plain, 2-3 producer 7's transaction (aborted at 4),
    /// 5-6 producer 8's transaction (committed at 7), 8 plain.
    fn log() -> Vec<Rc<RecordBatch>> {
        vec![
            plain(0, 100, 2),
            transactional(2, 7, 200, 2),
            marker(4, 7, ControlRecordType::Abort),
            transactional(5, 8, 300, 2),
            marker(7, 8, ControlRecordType::Commit),
            plain(8, 400, 1),
        ]
    }

    #[test]
    fn read_committed_drops_aborted_transactions_and_markers() {
        let mut a = answer(log(), 9, 9);
        a.aborted_transactions = vec![AbortedTransaction {
            producer_id: 7,
            first_offset: 2,
        }];
        let (records, next) = read_completed_fetch(&a, 0, IsolationLevel::ReadCommitted);
        assert_eq!(ids(&records), [100, 101, 300, 301, 400]);
        assert_eq!(next, 9);
    }

    #[test]
    fn read_uncommitted_returns_every_data_record_but_no_marker() {
        let a = answer(log(), 9, 9);
        let (records, next) = read_completed_fetch(&a, 0, IsolationLevel::ReadUncommitted);
        assert_eq!(ids(&records), [100, 101, 200, 201, 300, 301, 400]);
        assert_eq!(
            records.iter().map(|r| r.0).collect::<Vec<_>>(),
            [0, 1, 2, 3, 5, 6, 8],
            "offsets 4 and 7 are markers"
        );
        assert_eq!(next, 9);
    }

    #[test]
    fn a_fetch_of_only_skipped_batches_still_moves_the_position() {
        let mut a = answer(log(), 9, 9);
        a.aborted_transactions = vec![AbortedTransaction {
            producer_id: 7,
            first_offset: 2,
        }];
        let (records, next) = read_completed_fetch(&a, 2, IsolationLevel::ReadCommitted);
        assert_eq!(ids(&records), [300, 301, 400]);
        let tail = answer(log()[1..3].to_vec(), 9, 9);
        let mut tail = tail;
        tail.aborted_transactions = a.aborted_transactions.clone();
        let (records, next_tail) = read_completed_fetch(&tail, 2, IsolationLevel::ReadCommitted);
        assert!(records.is_empty());
        assert_eq!((next, next_tail), (9, 5), "past the abort marker");
    }

    #[test]
    fn read_committed_stops_at_the_last_stable_offset() {
        // Producer 8's transaction is still open: the LSO is its first offset.
        let batches = log()[..4].to_vec();
        let a = answer(batches, 7, 5);
        let (records, next) = read_completed_fetch(&a, 0, IsolationLevel::ReadCommitted);
        assert_eq!(ids(&records), [100, 101, 200, 201], "no abort listed: kept");
        assert_eq!(next, 5);
    }

    #[test]
    fn a_producer_is_aborted_only_from_its_transactions_first_offset() {
        // Producer 7 committed a transaction at 2-3 and aborted the next at 5-6.
        let batches = vec![
            transactional(2, 7, 200, 2),
            marker(4, 7, ControlRecordType::Commit),
            transactional(5, 7, 300, 2),
            marker(7, 7, ControlRecordType::Abort),
        ];
        let mut a = answer(batches, 8, 8);
        a.aborted_transactions = vec![AbortedTransaction {
            producer_id: 7,
            first_offset: 5,
        }];
        let (records, next) = read_completed_fetch(&a, 2, IsolationLevel::ReadCommitted);
        assert_eq!(ids(&records), [200, 201]);
        assert_eq!(next, 8);
    }
}
