//! The transaction state machine at the coordinator: each transition is
//! prepared, then completed once written, as Kafka's TransactionMetadata.

use std::collections::BTreeSet;

use super::metadata::{TransactionMetadata, TransactionVersion, TxnError};
use super::state::TransactionState::*;
use crate::errors::Errors;
use crate::protocol::{TopicId, TopicIdPartition};

const TV1: TransactionVersion = TransactionVersion(1);
const TV2: TransactionVersion = TransactionVersion(2);

fn tps(partitions: &[u32]) -> BTreeSet<TopicIdPartition> {
    partitions
        .iter()
        .map(|&p| TopicIdPartition::new(TopicId(0), p))
        .collect()
}

/// `pay-0` initialized: producer id 5 at epoch 0, Empty.
fn initialized() -> TransactionMetadata {
    let mut m = TransactionMetadata::new("pay-0", 5, 60_000, 0);
    let t = m.prepare_increment_producer_epoch(60_000, None, 0).unwrap();
    m.complete_transition_to(t).unwrap();
    m
}

/// Prepares and completes a transition.
fn step(
    m: &mut TransactionMetadata,
    prepare: impl FnOnce(
        &mut TransactionMetadata,
    ) -> Result<super::metadata::TxnTransitMetadata, TxnError>,
) {
    let t = prepare(m).expect("prepared");
    m.complete_transition_to(t).expect("completed");
}

#[test]
fn a_transaction_runs_from_empty_through_ongoing_to_complete_commit() {
    let mut m = initialized();
    assert_eq!((m.state(), m.current.producer_epoch), (Empty, 0));
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[0]), 10, TV1));
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[1]), 20, TV1));
    assert_eq!(m.state(), Ongoing);
    assert_eq!(m.current.topic_partitions, tps(&[0, 1]));
    assert_eq!(
        m.current.txn_start_timestamp, 10,
        "started by the first add"
    );
    step(&mut m, |m| {
        m.prepare_abort_or_commit(PrepareCommit, TV1, -1, 30, false)
    });
    assert_eq!((m.state(), m.current.producer_epoch), (PrepareCommit, 0));
    step(&mut m, |m| m.prepare_complete(40));
    assert_eq!(m.state(), CompleteCommit);
    assert!(m.current.topic_partitions.is_empty());
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[2]), 50, TV1));
    assert_eq!(m.current.txn_start_timestamp, 50, "the next transaction");
}

#[test]
fn one_transition_at_a_time_and_a_failed_write_changes_nothing() {
    let mut m = initialized();
    let t = m.prepare_add_partitions(&tps(&[0]), 10, TV1).unwrap();
    assert!(m.pending_transition_in_progress());
    let second = m.prepare_add_partitions(&tps(&[1]), 11, TV1);
    assert!(matches!(second, Err(TxnError::IllegalState(_))));
    m.abort_transition();
    assert_eq!(m.state(), Empty);
    assert!(!m.pending_transition_in_progress());
    assert!(
        m.complete_transition_to(t).is_err(),
        "nothing pending: the old transition cannot complete"
    );
}

#[test]
fn commit_is_prepared_only_for_an_open_transaction() {
    let mut m = initialized();
    let r = m.prepare_abort_or_commit(PrepareCommit, TV1, -1, 10, false);
    assert!(matches!(r, Err(TxnError::IllegalState(_))));
    assert!(
        !m.pending_transition_in_progress(),
        "a refused prepare leaves nothing pending"
    );
}

#[test]
fn transactions_v2_bump_the_epoch_at_every_end_txn() {
    let mut m = initialized();
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[0]), 10, TV2));
    step(&mut m, |m| {
        m.prepare_abort_or_commit(PrepareCommit, TV2, -1, 20, false)
    });
    assert_eq!(
        m.current.producer_epoch, 1,
        "a late request at epoch 0 is fenced"
    );
    assert_eq!(m.current.last_producer_epoch, 0);
    step(&mut m, |m| m.prepare_complete(30));
    assert_eq!((m.state(), m.current.producer_epoch), (CompleteCommit, 1));
    // TV1 keeps the epoch.
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[0]), 40, TV1));
    step(&mut m, |m| {
        m.prepare_abort_or_commit(PrepareAbort, TV1, -1, 50, false)
    });
    assert_eq!(m.current.producer_epoch, 1);
}

#[test]
fn transactions_v2_let_a_client_abort_without_a_transaction() {
    let mut m = initialized();
    step(&mut m, |m| {
        m.prepare_abort_or_commit(PrepareAbort, TV2, -1, 10, true)
    });
    assert_eq!(
        (m.state(), m.current.txn_start_timestamp),
        (PrepareAbort, 10)
    );
    step(&mut m, |m| m.prepare_complete(20));
    assert_eq!(m.state(), CompleteAbort);
}

#[test]
fn init_producer_id_bumps_the_epoch_and_fences_a_stale_instance() {
    let mut m = initialized();
    // A new instance (no expected epoch): bumped, no last epoch.
    step(&mut m, |m| {
        m.prepare_increment_producer_epoch(60_000, None, 10)
    });
    assert_eq!(
        (m.current.producer_epoch, m.current.last_producer_epoch),
        (1, -1)
    );
    // The instance at epoch 1 recovers from an error (KIP-360): bumped again.
    step(&mut m, |m| {
        m.prepare_increment_producer_epoch(60_000, Some(1), 20)
    });
    assert_eq!(
        (m.current.producer_epoch, m.current.last_producer_epoch),
        (2, 1)
    );
    // Its retry of that call, still expecting 1, gets epoch 2 again.
    step(&mut m, |m| {
        m.prepare_increment_producer_epoch(60_000, Some(1), 30)
    });
    assert_eq!(m.current.producer_epoch, 2);
    // An instance holding epoch 0 was fenced long ago.
    let stale = m.prepare_increment_producer_epoch(60_000, Some(0), 40);
    assert_eq!(stale, Err(TxnError::Kafka(Errors::ProducerFenced)));
}

#[test]
fn an_epoch_fence_whose_write_failed_is_not_bumped_twice() {
    let mut m = initialized();
    step(&mut m, |m| m.prepare_add_partitions(&tps(&[0]), 10, TV1));
    let fence = m.prepare_fence_producer_epoch().unwrap();
    assert_eq!((fence.state, fence.producer_epoch), (PrepareEpochFence, 1));
    m.abort_transition();
    let again = m.prepare_fence_producer_epoch().unwrap();
    assert_eq!(
        again.producer_epoch, 0,
        "the failed fence's epoch was never handed out"
    );
}

#[test]
fn an_exhausted_epoch_rotates_the_producer_id() {
    let mut m = initialized();
    m.current.producer_epoch = i16::MAX - 1;
    assert!(m.is_producer_epoch_exhausted());
    assert!(m
        .prepare_increment_producer_epoch(60_000, None, 10)
        .is_err());
    step(&mut m, |m| {
        m.prepare_producer_id_rotation(9, 60_000, 10, false)
    });
    assert_eq!((m.current.producer_id, m.current.producer_epoch), (9, 0));
    assert_eq!(m.current.prev_producer_id, 5);
}

#[test]
fn a_transition_that_does_not_follow_from_the_current_state_is_refused() {
    let mut m = initialized();
    let mut t = m.prepare_add_partitions(&tps(&[0]), 10, TV1).unwrap();
    t.producer_epoch = 3; // not the producer's epoch
    assert!(matches!(
        m.complete_transition_to(t),
        Err(TxnError::IllegalState(_))
    ));
    assert_eq!(m.state(), Empty, "the current state stays");
}
