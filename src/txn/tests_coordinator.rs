//! The transaction coordinator driven without a broker: every transition
//! waits for its log write, EndTxn is answered before the markers, a new
//! producer instance fences and aborts the old one's transaction, and an
//! expired transaction is aborted.

use std::collections::{BTreeMap, BTreeSet};

use super::coordinator::{TransactionCoordinator, TxnCoordinatorConfig, TxnOutput, TxnResponse};
use super::metadata::{TransactionVersion, TxnTransitMetadata};
use super::state::TransactionState;
use crate::errors::Errors;
use crate::log::ControlRecordType;
use crate::protocol::{TopicId, TopicIdPartition};

const TV1: TransactionVersion = TransactionVersion(1);
pub(super) const TIMEOUT: u64 = 60_000;

pub(super) type Out = Vec<TxnOutput<u32>>;

/// A coordinator of the single `__transaction_state` partition, loaded
/// empty under coordinator epoch 7.
fn coordinator() -> TransactionCoordinator<u32> {
    let config = TxnCoordinatorConfig {
        num_partitions: 1,
        ..TxnCoordinatorConfig::default()
    };
    let mut c = TransactionCoordinator::new(config);
    c.load(0, 7, BTreeMap::new(), &mut Vec::new());
    c
}

pub(super) fn tps(partitions: &[u32]) -> BTreeSet<TopicIdPartition> {
    partitions
        .iter()
        .map(|&p| TopicIdPartition::new(TopicId(0), p))
        .collect()
}

/// The appends asked for, with their ids.
pub(super) fn appends(out: &Out) -> Vec<(u64, TxnTransitMetadata)> {
    out.iter()
        .filter_map(|o| match o {
            TxnOutput::Append { id, transit, .. } => Some((*id, transit.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn replies(out: &Out) -> Vec<(u32, TxnResponse)> {
    out.iter()
        .filter_map(|o| match o {
            TxnOutput::Reply(r, response) => Some((*r, response.clone())),
            _ => None,
        })
        .collect()
}

/// Completes every append in `out` (replicated), returning what followed.
pub(super) fn written(c: &mut TransactionCoordinator<u32>, out: Out, now: i64) -> Out {
    let mut next = Vec::new();
    for (id, _) in appends(&out) {
        c.on_append_done(id, None, now, &mut next);
    }
    next
}

/// InitProducerId of "pay-0" from request `r`, written; the reply.
pub(super) fn init(c: &mut TransactionCoordinator<u32>, r: u32, now: i64) -> TxnResponse {
    let mut out = Vec::new();
    let mut next_pid = 1000;
    let mut allocate = || {
        next_pid += 1;
        Ok(next_pid)
    };
    c.handle_init_producer_id(r, "pay-0", TIMEOUT, None, now, &mut allocate, &mut out);
    let mut all = replies(&out);
    all.extend(replies(&written(c, out, now)));
    all.pop().expect("answered").1
}

fn add(c: &mut TransactionCoordinator<u32>, epoch: i16, parts: &[u32], now: i64) -> Out {
    let mut out = Vec::new();
    c.handle_add_partitions(1, "pay-0", 1001, epoch, &tps(parts), TV1, now, &mut out);
    out
}

pub(super) fn end(c: &mut TransactionCoordinator<u32>, epoch: i16, commit: bool, now: i64) -> Out {
    let mut out = Vec::new();
    c.handle_end_txn(2, "pay-0", 1001, epoch, commit, now, &mut out);
    out
}

/// AddPartitionsToTxn, written.
pub(super) fn add_written(
    c: &mut TransactionCoordinator<u32>,
    epoch: i16,
    parts: &[u32],
    now: i64,
) -> Out {
    let out = add(c, epoch, parts, now);
    written(c, out, now)
}

/// EndTxn, written.
fn end_written(c: &mut TransactionCoordinator<u32>, epoch: i16, commit: bool, now: i64) -> Out {
    let out = end(c, epoch, commit, now);
    written(c, out, now)
}

pub(super) fn state(c: &TransactionCoordinator<u32>) -> (TransactionState, i16) {
    let m = c.state_of("pay-0").expect("held");
    (m.state(), m.current.producer_epoch)
}

pub(super) fn ok_init(epoch: i16) -> TxnResponse {
    TxnResponse::InitProducerId {
        error: None,
        producer_id: 1001,
        producer_epoch: epoch,
    }
}

#[test]
fn a_commit_is_answered_once_prepared_and_completes_after_its_markers() {
    let mut c = coordinator();
    assert_eq!(init(&mut c, 0, 0), ok_init(0));
    let out = add(&mut c, 0, &[0, 1], 10);
    assert!(replies(&out).is_empty(), "answered only once written");
    let after = written(&mut c, out, 10);
    assert_eq!(
        replies(&after),
        [(1, TxnResponse::AddPartitionsToTxn { error: None })]
    );
    let out = end(&mut c, 0, true, 20);
    let after = written(&mut c, out, 20);
    assert_eq!(
        replies(&after),
        [(
            2,
            TxnResponse::EndTxn {
                error: None,
                producer_id: -1,
                producer_epoch: -1
            }
        )]
    );
    let markers = after.iter().find_map(|o| match o {
        TxnOutput::WriteMarkers {
            result,
            partitions,
            coordinator_epoch,
            producer_epoch,
            ..
        } => Some((
            *result,
            partitions.clone(),
            *coordinator_epoch,
            *producer_epoch,
        )),
        _ => None,
    });
    assert_eq!(
        markers,
        Some((ControlRecordType::Commit, tps(&[0, 1]), 7, 0))
    );
    assert_eq!(state(&c), (TransactionState::PrepareCommit, 0));
    // The next transaction waits for the markers.
    let early = add(&mut c, 0, &[2], 25);
    assert_eq!(
        replies(&early),
        [(
            1,
            TxnResponse::AddPartitionsToTxn {
                error: Some(Errors::ConcurrentTransactions)
            }
        )]
    );
    let mut out = Vec::new();
    c.on_markers_written("pay-0", 30, &mut out);
    assert_eq!(appends(&out)[0].1.state, TransactionState::CompleteCommit);
    written(&mut c, out, 30);
    assert_eq!(state(&c), (TransactionState::CompleteCommit, 0));
    let next = add_written(&mut c, 0, &[2], 40);
    assert_eq!(
        replies(&next),
        [(1, TxnResponse::AddPartitionsToTxn { error: None })]
    );
}

#[test]
fn a_new_instance_fences_the_old_and_aborts_its_open_transaction() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    add_written(&mut c, 0, &[0], 10);
    // A second instance of "pay-0" starts.
    assert_eq!(
        init(&mut c, 5, 20),
        TxnResponse::InitProducerId {
            error: Some(Errors::ConcurrentTransactions),
            producer_id: -1,
            producer_epoch: -1,
        },
        "retry once the old transaction is aborted"
    );
    assert_eq!(state(&c), (TransactionState::PrepareAbort, 1));
    // The old instance's commit is fenced.
    let late = end(&mut c, 0, true, 21);
    assert_eq!(
        replies(&late),
        [(
            2,
            TxnResponse::EndTxn {
                error: Some(Errors::ProducerFenced),
                producer_id: -1,
                producer_epoch: -1
            }
        )]
    );
    let mut out = Vec::new();
    c.on_markers_written("pay-0", 30, &mut out);
    written(&mut c, out, 30);
    assert_eq!(state(&c), (TransactionState::CompleteAbort, 1));
    assert_eq!(
        init(&mut c, 5, 40),
        ok_init(2),
        "the retry gets the next epoch"
    );
}

#[test]
fn an_expired_transaction_is_aborted_with_its_producer_fenced() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    add_written(&mut c, 0, &[0], 1_000);
    let mut out = Vec::new();
    c.abort_timed_out(1_000 + TIMEOUT as i64, &mut out);
    assert!(out.is_empty(), "not past transaction.timeout.ms yet");
    c.abort_timed_out(1_001 + TIMEOUT as i64, &mut out);
    let prepared = appends(&out);
    assert_eq!(prepared.len(), 1);
    assert_eq!(
        (prepared[0].1.state, prepared[0].1.producer_epoch),
        (TransactionState::PrepareAbort, 1)
    );
    let after = written(&mut c, out, 62_000);
    assert!(replies(&after).is_empty(), "nobody asked");
    assert!(after.iter().any(|o| matches!(
        o,
        TxnOutput::WriteMarkers {
            result: ControlRecordType::Abort,
            producer_epoch: 1,
            ..
        }
    )));
}

#[test]
fn requests_are_refused_as_kafka_refuses_them() {
    let mut c = coordinator();
    let mut out = Vec::new();
    let mut none = || Err(Errors::CoordinatorLoadInProgress);
    c.handle_init_producer_id(0, "pay-0", 900_001, None, 0, &mut none, &mut out);
    assert_eq!(
        replies(&out)[0].1,
        TxnResponse::InitProducerId {
            error: Some(Errors::InvalidTransactionTimeout),
            producer_id: -1,
            producer_epoch: -1,
        }
    );
    let unknown = add(&mut c, 0, &[0], 0);
    assert_eq!(
        replies(&unknown),
        [(
            1,
            TxnResponse::AddPartitionsToTxn {
                error: Some(Errors::InvalidProducerIdMapping)
            }
        )]
    );
    init(&mut c, 0, 0);
    assert_eq!(
        replies(&end(&mut c, 0, true, 1)),
        [(
            2,
            TxnResponse::EndTxn {
                error: Some(Errors::InvalidTxnState),
                producer_id: -1,
                producer_epoch: -1
            }
        )],
        "nothing to commit"
    );
    // Not this broker's partition any more.
    c.unload(0, &mut Vec::new());
    assert_eq!(
        replies(&add(&mut c, 0, &[0], 2)),
        [(
            1,
            TxnResponse::AddPartitionsToTxn {
                error: Some(Errors::NotCoordinator)
            }
        )]
    );
    c.start_loading(0);
    assert_eq!(
        replies(&add(&mut c, 0, &[0], 3)),
        [(
            1,
            TxnResponse::AddPartitionsToTxn {
                error: Some(Errors::CoordinatorLoadInProgress)
            }
        )]
    );
}

#[test]
fn a_failed_write_answers_the_error_and_changes_nothing() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    let out = add(&mut c, 0, &[0], 10);
    let (id, _) = appends(&out)[0].clone();
    let mut after = Vec::new();
    c.on_append_done(id, Some(Errors::NotEnoughReplicas), 10, &mut after);
    assert_eq!(
        replies(&after),
        [(
            1,
            TxnResponse::AddPartitionsToTxn {
                error: Some(Errors::CoordinatorNotAvailable)
            }
        )]
    );
    assert_eq!(state(&c), (TransactionState::Empty, 0));
    let retried = add_written(&mut c, 0, &[0], 11);
    assert_eq!(
        replies(&retried),
        [(1, TxnResponse::AddPartitionsToTxn { error: None })]
    );
}

#[test]
fn a_new_coordinator_sends_the_markers_of_a_prepared_transaction_again() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    add_written(&mut c, 0, &[0, 3], 10);
    end_written(&mut c, 0, false, 20);
    let prepared = c.state_of("pay-0").expect("held").current.clone();
    assert_eq!(prepared.state, TransactionState::PrepareAbort);
    // Broker failover: another coordinator loads the partition at epoch 8.
    let mut other = TransactionCoordinator::<u32>::new(TxnCoordinatorConfig {
        num_partitions: 1,
        ..TxnCoordinatorConfig::default()
    });
    let mut out = Vec::new();
    other.load(
        0,
        8,
        BTreeMap::from([("pay-0".to_owned(), prepared)]),
        &mut out,
    );
    assert!(matches!(
        &out[..],
        [TxnOutput::WriteMarkers {
            result: ControlRecordType::Abort,
            coordinator_epoch: 8,
            ..
        }]
    ));
}

#[test]
fn a_producer_recovering_with_an_unknown_producer_id_is_fenced() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    let mut out = Vec::new();
    let mut none = || Err(Errors::CoordinatorLoadInProgress);
    c.handle_init_producer_id(3, "pay-0", TIMEOUT, Some((999, 0)), 1, &mut none, &mut out);
    assert_eq!(
        replies(&out),
        [(
            3,
            TxnResponse::InitProducerId {
                error: Some(Errors::ProducerFenced),
                producer_id: -1,
                producer_epoch: -1,
            }
        )]
    );
    let mut out = Vec::new();
    c.handle_init_producer_id(3, "pay-0", TIMEOUT, Some((1001, 0)), 2, &mut none, &mut out);
    let after = written(&mut c, out, 2);
    assert_eq!(replies(&after), [(3, ok_init(1))], "its own id: bumped");
}

#[test]
fn a_completion_whose_log_append_fails_is_retried_until_written() {
    let mut c = coordinator();
    init(&mut c, 0, 0);
    add_written(&mut c, 0, &[0], 10);
    end_written(&mut c, 0, true, 20);
    let mut out = Vec::new();
    c.on_markers_written("pay-0", 30, &mut out);
    let (id, transit) = appends(&out).remove(0);
    assert_eq!(transit.state, TransactionState::CompleteCommit);
    // __transaction_state's ISR fell below its min.insync.replicas.
    let mut next = Vec::new();
    c.on_append_done(id, Some(Errors::NotEnoughReplicas), 31, &mut next);
    assert!(next.is_empty(), "nobody waits on a completion");
    assert_eq!(state(&c), (TransactionState::PrepareCommit, 0));
    assert!(c.has_completions_to_retry());
    let mut retried = Vec::new();
    c.retry_completions(131, &mut retried);
    assert!(!c.has_completions_to_retry());
    assert_eq!(
        appends(&retried)[0].1.state,
        TransactionState::CompleteCommit
    );
    written(&mut c, retried, 132);
    assert_eq!(state(&c), (TransactionState::CompleteCommit, 0));
}
