//! The transaction coordinator of Kafka 2.5 (2.5.1) against 2.6's: an
//! epoch fence whose write failed (KAFKA-9666,
//! `failed_epoch_fence_remembered`) and a client's EndTxn with a newer
//! epoch (KAFKA-9600, `strict_end_txn_epoch`).

use std::collections::BTreeMap;

use super::coordinator::{TransactionCoordinator, TxnCoordinatorConfig, TxnResponse};
use super::state::TransactionState;
use super::tests_coordinator::{
    add_written, appends, end, init, ok_init, replies, state, written, Out, TIMEOUT,
};
use crate::errors::Errors;

/// The coordinator of the single `__transaction_state` partition, loaded
/// empty, with 2.6's switches (`true`) or 2.5's (`false`).
fn coordinator(kafka_2_6: bool) -> TransactionCoordinator<u32> {
    let mut c = TransactionCoordinator::new(TxnCoordinatorConfig {
        num_partitions: 1,
        failed_epoch_fence_remembered: kafka_2_6,
        strict_end_txn_epoch: kafka_2_6,
        ..TxnCoordinatorConfig::default()
    });
    c.load(0, 7, BTreeMap::new(), &mut Vec::new());
    c
}

/// An InitProducerId of "pay-0" (request `r`), `expected` its KIP-360
/// producer id and epoch; what it asks to write.
fn init_with(
    c: &mut TransactionCoordinator<u32>,
    r: u32,
    expected: Option<(i64, i16)>,
    now: i64,
) -> Out {
    let mut out = Vec::new();
    let mut allocate = || Ok(2000);
    c.handle_init_producer_id(r, "pay-0", TIMEOUT, expected, now, &mut allocate, &mut out);
    out
}

/// The producer epoch of the one append `out` asks for.
fn appended_epoch(out: &Out) -> i16 {
    let a = appends(out);
    assert_eq!(a.len(), 1, "{out:?}");
    a[0].1.producer_epoch
}

/// KAFKA-9666 (2.6.0, 1f3f227b59a): a fence whose PrepareAbort write failed
/// is remembered (`hasFailedEpochFence`, set by `endTransaction` for an
/// `isEpochFence`) and the next fence keeps its epoch, never handed out.
/// 2.5.1's `prepareFenceProducerEpoch` bumps again at every retry.
#[test]
fn before_kafka_9666_each_retried_fence_bumps_the_epoch_again() {
    for kafka_2_6 in [true, false] {
        let mut c = coordinator(kafka_2_6);
        assert_eq!(init(&mut c, 0, 0), ok_init(0));
        add_written(&mut c, 0, &[0], 10);
        // A new instance fences epoch 0; the abort's write fails
        // (__transaction_state below min.insync.replicas).
        let out = init_with(&mut c, 5, None, 20);
        assert_eq!(appended_epoch(&out), 1);
        let (id, _) = appends(&out)[0].clone();
        let mut failed = Vec::new();
        c.on_append_done(id, Some(Errors::NotEnoughReplicas), 21, &mut failed);
        assert_eq!(
            replies(&failed),
            [(
                5,
                TxnResponse::InitProducerId {
                    error: Some(Errors::CoordinatorNotAvailable),
                    producer_id: -1,
                    producer_epoch: -1,
                }
            )]
        );
        assert_eq!(state(&c), (TransactionState::Ongoing, 1));
        // Its retry fences again.
        let again = init_with(&mut c, 5, None, 30);
        let want = if kafka_2_6 { 1 } else { 2 };
        assert_eq!(appended_epoch(&again), want, "2.6: {kafka_2_6}");
        // Written, the abort completes at that epoch, and the retry after
        // it gets the next one.
        written(&mut c, again, 31);
        let mut out = Vec::new();
        c.on_markers_written("pay-0", 40, &mut out);
        written(&mut c, out, 40);
        assert_eq!(state(&c), (TransactionState::CompleteAbort, want));
        assert_eq!(init(&mut c, 5, 50), ok_init(want + 1));
    }
}

/// KAFKA-9666's other part: 2.6.0's `endTransaction` leaves no last epoch
/// when it aborts for a fence (NO_PRODUCER_EPOCH); 2.5.1's
/// `handleEndTransaction` keeps the fenced epoch as `lastProducerEpoch`, so
/// an InitProducerId carrying it (KIP-360) is taken by
/// `prepareIncrementProducerEpoch` as the retry of one that succeeded and
/// answered the current epoch, where 2.6 fences it.
#[test]
fn before_kafka_9666_the_fenced_epoch_is_the_last_epoch_after_the_abort() {
    for kafka_2_6 in [true, false] {
        let mut c = coordinator(kafka_2_6);
        init(&mut c, 0, 0);
        add_written(&mut c, 0, &[0], 10);
        let fence = init_with(&mut c, 5, None, 20);
        written(&mut c, fence, 20);
        let mut out = Vec::new();
        c.on_markers_written("pay-0", 30, &mut out);
        written(&mut c, out, 30);
        assert_eq!(state(&c), (TransactionState::CompleteAbort, 1));
        let last = c
            .state_of("pay-0")
            .expect("held")
            .current
            .last_producer_epoch;
        assert_eq!(last, if kafka_2_6 { -1 } else { 0 });
        // The fenced instance (epoch 0) asks to go on (KIP-360).
        let out = init_with(&mut c, 6, Some((1001, 0)), 40);
        let answers = if kafka_2_6 {
            assert!(appends(&out).is_empty());
            replies(&out)
        } else {
            assert_eq!(appended_epoch(&out), 1, "not bumped: a retry");
            replies(&written(&mut c, out, 40))
        };
        let fenced = TxnResponse::InitProducerId {
            error: Some(Errors::ProducerFenced),
            producer_id: -1,
            producer_epoch: -1,
        };
        assert_eq!(
            answers,
            [(6, if kafka_2_6 { fenced } else { ok_init(1) })],
            "2.6: {kafka_2_6}"
        );
    }
}

/// KAFKA-9600 (2.6.0, 88bc0fdf822): a client's EndTxn needs the
/// coordinator's epoch (`isFromClient && producerEpoch !=
/// txnMetadata.producerEpoch`). 2.5.1's `handleEndTransaction` refuses only
/// an older one and takes a newer one: the transaction is prepared at the
/// coordinator's epoch.
#[test]
fn before_kafka_9600_an_end_txn_with_a_newer_epoch_is_taken() {
    for kafka_2_6 in [true, false] {
        let mut c = coordinator(kafka_2_6);
        init(&mut c, 0, 0);
        assert_eq!(init(&mut c, 0, 1), ok_init(1));
        add_written(&mut c, 1, &[0], 10);
        let fenced = TxnResponse::EndTxn {
            error: Some(Errors::ProducerFenced),
            producer_id: -1,
            producer_epoch: -1,
        };
        // Older: refused by both.
        let older = end(&mut c, 0, true, 20);
        assert_eq!(replies(&older), [(2, fenced.clone())]);
        // Newer: refused by 2.6, taken by 2.5.
        let newer = end(&mut c, 2, true, 21);
        if kafka_2_6 {
            assert_eq!(replies(&newer), [(2, fenced)]);
            assert_eq!(state(&c), (TransactionState::Ongoing, 1));
        } else {
            assert_eq!(appended_epoch(&newer), 1, "the coordinator's epoch");
            let answered = written(&mut c, newer, 22);
            assert_eq!(
                replies(&answered),
                [(
                    2,
                    TxnResponse::EndTxn {
                        error: None,
                        producer_id: -1,
                        producer_epoch: -1,
                    }
                )]
            );
            assert_eq!(state(&c), (TransactionState::PrepareCommit, 1));
        }
    }
}
