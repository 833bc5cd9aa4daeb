//! KIP-890 at the coordinator: the verification a partition leader asks
//! for changes nothing and answers as Kafka's
//! `handleVerifyPartitionsInTransaction`; under transactions v2 every
//! EndTxn bumps the epoch (markers and answer carry the new one), a retry
//! (epoch one below) is told to wait while its transaction completes and
//! success once complete, and an EndTxn of a transaction that ended is
//! fenced however the next one stands.

use std::collections::{BTreeMap, BTreeSet};

use super::coordinator::{TransactionCoordinator, TxnCoordinatorConfig, TxnOutput, TxnResponse};
use super::state::TransactionState;
use crate::errors::Errors;
use crate::protocol::{TopicId, TopicIdPartition};

type Out = Vec<TxnOutput<u32>>;
const PID: i64 = 1001;

fn coordinator() -> TransactionCoordinator<u32> {
    let config = TxnCoordinatorConfig {
        num_partitions: 1,
        ..TxnCoordinatorConfig::default()
    };
    let mut c = TransactionCoordinator::new(config);
    c.load(0, 7, BTreeMap::new(), &mut Vec::new());
    c
}

fn tp(p: u32) -> TopicIdPartition {
    TopicIdPartition::new(TopicId(0), p)
}

fn tps(partitions: &[u32]) -> BTreeSet<TopicIdPartition> {
    partitions.iter().map(|&p| tp(p)).collect()
}

/// Completes every append in `out`, and every marker write that follows,
/// returning the replies seen on the way.
fn settle(
    c: &mut TransactionCoordinator<u32>,
    out: Out,
    now: i64,
    markers: bool,
) -> Vec<(u32, TxnResponse)> {
    let mut replies = Vec::new();
    let mut queue = out;
    while !queue.is_empty() {
        let mut next = Vec::new();
        for o in queue {
            match o {
                TxnOutput::Reply(r, response) => replies.push((r, response)),
                TxnOutput::Append { id, .. } => c.on_append_done(id, None, now, &mut next),
                TxnOutput::WriteMarkers {
                    transactional_id, ..
                } if markers => c.on_markers_written(&transactional_id, now, &mut next),
                TxnOutput::WriteMarkers { .. } => {}
            }
        }
        queue = next;
    }
    replies
}

fn init(c: &mut TransactionCoordinator<u32>) -> i16 {
    let mut out = Vec::new();
    let mut allocate = || Ok(PID);
    c.handle_init_producer_id(9, "pay-0", 60_000, None, 0, &mut allocate, &mut out);
    match settle(c, out, 0, true).pop() {
        Some((_, TxnResponse::InitProducerId { producer_epoch, .. })) => producer_epoch,
        other => panic!("{other:?}"),
    }
}

/// The partition leader's AddPartitionsToTxn (v4+, not verify-only).
fn add(c: &mut TransactionCoordinator<u32>, epoch: i16, parts: &[u32], now: i64) -> Option<Errors> {
    let mut out = Vec::new();
    c.handle_add_partitions_for_broker(1, "pay-0", PID, epoch, &tps(parts), now, &mut out);
    match settle(c, out, now, true).pop() {
        Some((_, TxnResponse::AddPartitionsToTxn { error })) => error,
        other => panic!("{other:?}"),
    }
}

fn end(
    c: &mut TransactionCoordinator<u32>,
    epoch: i16,
    commit: bool,
    markers: bool,
) -> TxnResponse {
    let mut out = Vec::new();
    let mut allocate = || Ok(PID + 1);
    c.handle_end_txn_v2(2, "pay-0", PID, epoch, commit, 5, &mut allocate, &mut out);
    settle(c, out, 5, markers).pop().expect("answered").1
}

fn state(c: &TransactionCoordinator<u32>) -> (TransactionState, i16) {
    let m = c.state_of("pay-0").expect("held");
    (m.state(), m.current.producer_epoch)
}

fn ended(epoch: i16) -> TxnResponse {
    TxnResponse::EndTxn {
        error: None,
        producer_id: PID,
        producer_epoch: epoch,
    }
}

fn failed(e: Errors) -> TxnResponse {
    TxnResponse::EndTxn {
        error: Some(e),
        producer_id: -1,
        producer_epoch: -1,
    }
}

#[test]
fn verification_answers_per_partition_and_changes_nothing() {
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(
        c.handle_verify_partitions("pay-9", PID, e, &[tp(0)]),
        [(tp(0), Some(Errors::InvalidProducerIdMapping))],
        "an id the coordinator never saw"
    );
    assert_eq!(
        c.handle_verify_partitions("pay-0", PID, e, &[tp(0)]),
        [(tp(0), Some(Errors::TransactionAbortable))],
        "no transaction open: the partition is not in one"
    );
    assert_eq!(add(&mut c, e, &[0], 1), None);
    let before = c.state_of("pay-0").cloned();
    assert_eq!(
        c.handle_verify_partitions("pay-0", PID, e, &[tp(0), tp(1)]),
        [(tp(0), None), (tp(1), Some(Errors::TransactionAbortable))]
    );
    assert_eq!(
        c.handle_verify_partitions("pay-0", PID, e - 1, &[tp(0)]),
        [(tp(0), Some(Errors::ProducerFenced))],
        "an older epoch"
    );
    assert_eq!(
        c.handle_verify_partitions("pay-0", PID + 5, e, &[tp(0)]),
        [(tp(0), Some(Errors::InvalidProducerIdMapping))]
    );
    assert_eq!(
        c.state_of("pay-0").cloned(),
        before,
        "verifying writes nothing"
    );
    // While the transaction ends, its partitions are not verified.
    let mut out = Vec::new();
    let mut allocate = || Ok(PID + 1);
    c.handle_end_txn_v2(2, "pay-0", PID, e, true, 5, &mut allocate, &mut out);
    settle(&mut c, out, 5, false);
    assert_eq!(state(&c), (TransactionState::PrepareCommit, e + 1));
    assert_eq!(
        c.handle_verify_partitions("pay-0", PID, e + 1, &[tp(0)]),
        [(tp(0), Some(Errors::ConcurrentTransactions))]
    );
}

#[test]
fn every_end_txn_bumps_the_epoch_and_its_markers_carry_it() {
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(add(&mut c, e, &[0, 1], 1), None);
    let mut out = Vec::new();
    let mut allocate = || Ok(PID + 1);
    c.handle_end_txn_v2(2, "pay-0", PID, e, true, 5, &mut allocate, &mut out);
    let mut next = Vec::new();
    for o in &out {
        if let TxnOutput::Append { id, transit, .. } = o {
            assert_eq!(transit.producer_epoch, e + 1);
            assert_eq!(transit.last_producer_epoch, e);
            c.on_append_done(*id, None, 5, &mut next);
        }
    }
    let marker_epoch = next.iter().find_map(|o| match o {
        TxnOutput::WriteMarkers { producer_epoch, .. } => Some(*producer_epoch),
        _ => None,
    });
    assert_eq!(marker_epoch, Some(e + 1), "the markers fence the old epoch");
    assert!(next
        .iter()
        .any(|o| matches!(o, TxnOutput::Reply(2, r) if *r == ended(e + 1))));
    // The next transaction runs under the new epoch; the old one is fenced.
    settle(&mut c, next, 5, true);
    assert_eq!(state(&c), (TransactionState::CompleteCommit, e + 1));
    assert_eq!(add(&mut c, e, &[0], 6), Some(Errors::ProducerFenced));
    assert_eq!(add(&mut c, e + 1, &[0], 6), None);
    assert_eq!(end(&mut c, e + 1, false, true), ended(e + 2));
    assert_eq!(state(&c), (TransactionState::CompleteAbort, e + 2));
}

#[test]
fn a_retry_waits_while_its_transaction_completes_then_succeeds() {
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(add(&mut c, e, &[0], 1), None);
    assert_eq!(end(&mut c, e, true, false), ended(e + 1));
    assert_eq!(state(&c), (TransactionState::PrepareCommit, e + 1));
    // The client did not hear the answer and sends EndTxn again with its epoch.
    assert_eq!(
        end(&mut c, e, true, false),
        failed(Errors::ConcurrentTransactions)
    );
    assert_eq!(
        end(&mut c, e, false, false),
        failed(Errors::InvalidTxnState)
    );
    let mut out = Vec::new();
    c.on_markers_written("pay-0", 6, &mut out);
    settle(&mut c, out, 6, true);
    assert_eq!(state(&c), (TransactionState::CompleteCommit, e + 1));
    assert_eq!(
        end(&mut c, e, true, true),
        ended(e + 1),
        "the retry succeeds"
    );
    assert_eq!(
        end(&mut c, e, false, true),
        failed(Errors::InvalidTxnState),
        "but the commit is not an abort"
    );
    assert_eq!(
        state(&c),
        (TransactionState::CompleteCommit, e + 1),
        "nothing changed"
    );
}

#[test]
fn a_late_end_txn_of_an_ended_transaction_is_fenced_not_applied_to_the_next() {
    // KAFKA-17754: the first EndTxn arrives after its retry ended the
    // transaction and the next one began.
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(add(&mut c, e, &[0], 1), None);
    assert_eq!(end(&mut c, e, true, true), ended(e + 1));
    assert_eq!(add(&mut c, e + 1, &[1], 7), None);
    assert_eq!(state(&c), (TransactionState::Ongoing, e + 1));
    assert_eq!(end(&mut c, e, true, true), failed(Errors::ProducerFenced));
    assert_eq!(end(&mut c, e, false, true), failed(Errors::ProducerFenced));
    assert_eq!(
        state(&c),
        (TransactionState::Ongoing, e + 1),
        "the next one is untouched"
    );
    // Two epochs back is fenced in a completed state too.
    assert_eq!(end(&mut c, e + 1, false, true), ended(e + 2));
    assert_eq!(end(&mut c, e, false, true), failed(Errors::ProducerFenced));
}

#[test]
fn an_abort_with_nothing_added_bumps_the_epoch_and_a_commit_is_invalid() {
    // Kafka's table: Empty and the completed states accept an abort with the
    // current epoch (the client cannot know whether its partitions were
    // added), never a commit.
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(state(&c), (TransactionState::Empty, e));
    assert_eq!(end(&mut c, e, true, true), failed(Errors::InvalidTxnState));
    assert_eq!(
        end(&mut c, e - 1, false, true),
        failed(Errors::ProducerFenced)
    );
    assert_eq!(end(&mut c, e, false, true), ended(e + 1));
    assert_eq!(state(&c), (TransactionState::CompleteAbort, e + 1));
    assert_eq!(
        end(&mut c, e + 1, false, true),
        ended(e + 2),
        "again: a new abort"
    );
    assert_eq!(
        end(&mut c, e + 2, true, true),
        failed(Errors::InvalidTxnState)
    );
}

#[test]
fn the_epoch_running_out_moves_the_id_to_a_new_producer_id() {
    let mut c = coordinator();
    let e = init(&mut c);
    assert_eq!(add(&mut c, e, &[0], 1), None);
    // Run the epoch up to the last one a client may hold.
    let mut epoch = e;
    while epoch < i16::MAX - 1 {
        assert_eq!(end(&mut c, epoch, false, true), ended(epoch + 1));
        epoch += 1;
    }
    assert_eq!(add(&mut c, epoch, &[0], 2), None);
    let answer = end(&mut c, epoch, true, true);
    assert_eq!(
        answer,
        TxnResponse::EndTxn {
            error: None,
            producer_id: PID + 1,
            producer_epoch: 0
        }
    );
    let m = c.state_of("pay-0").expect("held");
    assert_eq!(
        (m.current.producer_id, m.current.producer_epoch),
        (PID + 1, 0)
    );
    assert_eq!(m.state(), TransactionState::CompleteCommit);
}
