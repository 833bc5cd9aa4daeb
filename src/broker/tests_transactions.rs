//! Transactions in a partition's producer state: open transactions hold
//! the last stable offset back, a marker completes them once the high
//! watermark passes it, aborted ones are indexed for read_committed
//! fetches — and all of it is rebuilt from the log.

use super::producer_state::{AbortedTxn, ProducerStateManager, UnknownProducer};
use crate::log::{BatchBuilder, ControlRecordType, EndTransactionMarker, RecordBatch};

fn data(producer_id: i64, base_offset: u64, records: usize, seq: i32) -> RecordBatch {
    let mut b = BatchBuilder::new();
    for i in 0..records {
        b.append(None, &[i as u8], 0);
    }
    let mut batch = b.build_transactional(producer_id, 0, seq);
    batch.base_offset = base_offset;
    batch
}

fn marker(producer_id: i64, offset: u64, control_type: ControlRecordType) -> RecordBatch {
    let marker = EndTransactionMarker {
        control_type,
        coordinator_epoch: 0,
    };
    let mut batch = RecordBatch::end_txn_marker(producer_id, 0, marker, 0);
    batch.base_offset = offset;
    batch
}

/// Producer 7 commits [0, 2], producer 8 writes outside a transaction at
/// 3, producer 9 aborts [4, 5].
fn history() -> Vec<RecordBatch> {
    vec![
        data(7, 0, 3, 0),
        {
            let mut b = BatchBuilder::new();
            b.append(None, b"plain", 0);
            let mut plain = b.build(8, 0, 0);
            plain.base_offset = 3;
            plain
        },
        data(9, 4, 2, 0),
        marker(7, 6, ControlRecordType::Commit),
        marker(9, 7, ControlRecordType::Abort),
    ]
}

#[test]
fn open_and_unreplicated_transactions_hold_the_first_unstable_offset() {
    let mut state = ProducerStateManager::default();
    let batches = history();
    for b in &batches[..3] {
        state.update(b);
    }
    assert_eq!(state.open_transaction(7), Some(0));
    assert_eq!(state.open_transaction(8), None, "not transactional");
    assert_eq!(state.open_transaction(9), Some(4));
    assert_eq!(state.first_unstable_offset(), Some(0));
    state.update(&batches[3]);
    assert_eq!(state.open_transaction(7), None, "committed");
    assert_eq!(
        state.first_unstable_offset(),
        Some(0),
        "a commit marker above the high watermark still holds it"
    );
    state.on_high_watermark_updated(6);
    assert_eq!(state.first_unstable_offset(), Some(0), "the marker is at 6");
    state.on_high_watermark_updated(7);
    assert_eq!(state.first_unstable_offset(), Some(4), "producer 9 is open");
    state.update(&batches[4]);
    state.on_high_watermark_updated(8);
    assert_eq!(state.first_unstable_offset(), None, "everything decided");
    // A commit does not enter the index; the abort does, stable after it.
    let aborted = AbortedTxn {
        producer_id: 9,
        first_offset: 4,
        last_offset: 7,
        last_stable_offset: 8,
    };
    assert_eq!(state.aborted_transactions(0, 10), [aborted]);
    assert_eq!(state.aborted_transactions(5, 6), [aborted], "overlaps");
    assert!(
        state.aborted_transactions(0, 4).is_empty(),
        "ends before it"
    );
    assert!(
        state.aborted_transactions(8, 10).is_empty(),
        "starts after it"
    );
    // The next transaction of producer 7 starts where its data does.
    state.update(&data(7, 8, 1, 3));
    assert_eq!(state.open_transaction(7), Some(8));
}

#[test]
fn an_abort_is_stable_up_to_another_producers_open_transaction() {
    let mut state = ProducerStateManager::default();
    state.update(&data(1, 0, 1, 0));
    state.update(&data(2, 1, 1, 0));
    state.update(&marker(1, 2, ControlRecordType::Abort));
    assert_eq!(
        state.aborted_transactions(0, 3),
        [AbortedTxn {
            producer_id: 1,
            first_offset: 0,
            last_offset: 2,
            last_stable_offset: 1,
        }],
        "producer 2's transaction from offset 1 is still open"
    );
}

#[test]
fn the_state_rebuilt_from_the_log_is_the_state_built_by_appends() {
    let mut live = ProducerStateManager::default();
    let mut rebuilt = ProducerStateManager::default();
    for b in &history() {
        live.update(b);
    }
    live.on_high_watermark_updated(7);
    // A restart or truncation: clear, then read the log again.
    rebuilt.update(&data(5, 0, 1, 0));
    rebuilt.clear();
    for b in &history() {
        rebuilt.update(b);
    }
    rebuilt.on_high_watermark_updated(7);
    assert_eq!(
        rebuilt.first_unstable_offset(),
        live.first_unstable_offset()
    );
    assert_eq!(rebuilt.first_unstable_offset(), Some(4));
    assert_eq!(
        rebuilt.aborted_transactions(0, u64::MAX),
        live.aborted_transactions(0, u64::MAX)
    );
    assert_eq!(rebuilt.open_transaction(5), None, "cleared");
}

#[test]
fn a_marker_keeps_no_sequence_and_a_producer_continues_its_sequence_after_it() {
    use super::producer_state::SequenceCheck;
    let mut state = ProducerStateManager::default();
    state.update(&data(7, 0, 3, 0));
    state.update(&marker(7, 3, ControlRecordType::Commit));
    assert_eq!(
        state.check(7, 0, 3, 3, UnknownProducer::AnySequence),
        SequenceCheck::Append,
        "the marker (sequence -1) does not break the producer's sequence"
    );
    assert_eq!(
        state.check(7, 0, 0, 2, UnknownProducer::AnySequence),
        SequenceCheck::Duplicate(0)
    );
}
