//! `[protocol] transactional_epoch_bump` (KIP-360's client side,
//! KAFKA-8710, Kafka 2.5.0): the TransactionManager against a coordinator
//! with InitProducerId v3 (every modelled release) and without (2.4.1),
//! as 3.8.0's `TransactionManager` behaves with
//! `coordinatorSupportsBumpingEpoch` true and false.

use super::epoch_bump::UNACKED_MESSAGES_FATAL;
use super::*;
use crate::protocol::TopicId;

fn tp(p: u32) -> TopicIdPartition {
    TopicIdPartition::new(TopicId(0), p)
}

/// A manager whose coordinator (broker 2) can bump the epoch or not, with
/// producer id 7, epoch 0, in a transaction with partition 0 added.
fn in_transaction(bump: bool) -> TransactionManager {
    let mut m = TransactionManager::new("pay-0", 60_000);
    m.set_coordinator_supports_bumping_epoch(bump);
    m.init();
    m.next_request(false).expect("lookup");
    m.on_find_coordinator(None, 2);
    let (_, request) = m.next_request(false).expect("init");
    assert!(matches!(
        request,
        KafkaRequest::InitProducerId {
            producer_id_and_epoch: None,
            ..
        }
    ));
    m.on_init_producer_id(None, 7, 0);
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    assert_eq!(m.on_add_partitions(None), TxnStep::None);
    m
}

/// Aborts after an abortable error: the state the manager is in then.
fn abort(m: &mut TransactionManager) -> TxnClientState {
    assert_eq!(m.state(), TxnClientState::AbortableError);
    m.end(false);
    let (kind, _) = m.next_request(false).expect("abort");
    assert_eq!(kind, TxnRequestKind::EndTxn(false));
    assert_eq!(m.on_end_txn(None, -1, -1), TxnStep::Ended(TxnEnd::Aborted));
    m.state()
}

/// 3.8.0 `maybeTransitionToErrorState`: `if (canBumpEpoch() &&
/// !isCompleting()) epochBumpRequired = true`; `completeTransaction`
/// goes to INITIALIZING (InitProducerId v3 with the producer id and
/// epoch) or, without the bump, READY in the same epoch.
#[test]
fn without_the_bump_an_aborted_transaction_is_followed_by_one_in_the_same_epoch() {
    for bump in [true, false] {
        let mut m = in_transaction(bump);
        assert_eq!(m.need_to_trigger_epoch_bump_from_client(), bump);
        assert_eq!(
            m.on_send_failed(Errors::OutOfOrderSequenceNumber),
            TxnStep::None
        );
        if bump {
            assert_eq!(abort(&mut m), TxnClientState::Initializing);
            let (kind, request) = m.next_request(false).expect("bump");
            assert_eq!(kind, TxnRequestKind::InitProducerId);
            assert!(matches!(
                request,
                KafkaRequest::InitProducerId {
                    producer_id_and_epoch: Some((7, 0)),
                    ..
                }
            ));
            m.on_init_producer_id(None, 7, 1);
            assert_eq!(m.producer_id_and_epoch(), (7, 1));
        } else {
            assert_eq!(abort(&mut m), TxnClientState::Ready);
            assert_eq!(m.next_request(false), None, "no InitProducerId");
            m.begin();
            m.add_partition(tp(0));
            let (_, request) = m.next_request(true).expect("add");
            assert!(matches!(
                request,
                KafkaRequest::AddPartitionsToTxn {
                    producer_id: 7,
                    producer_epoch: 0,
                    ..
                }
            ));
            assert_eq!(m.producer_id_and_epoch(), (7, 0));
        }
    }
}

/// 3.8.0 `AddPartitionsToTxnHandler`, `AddOffsetsToTxnHandler`:
/// With the bump, `error` was abortable: nothing to do but abort, and the
/// abort asks for a new epoch; without, it was fatal.
fn abortable_or_fatal(m: &mut TransactionManager, step: TxnStep, error: Errors, bump: bool) {
    if bump {
        assert_eq!(step, TxnStep::None, "{error:?}");
        assert_eq!(abort(m), TxnClientState::Initializing);
    } else {
        assert_eq!(step, TxnStep::Fenced(error));
        assert_eq!(m.state(), TxnClientState::FatalError);
    }
}

/// UNKNOWN_PRODUCER_ID and INVALID_PRODUCER_ID_MAPPING go to
/// `abortableErrorIfPossible`: an abort and a bump if `canBumpEpoch()`,
/// else `fatalError`.
#[test]
fn without_the_bump_a_lost_producer_id_at_the_coordinator_is_fatal() {
    for error in [Errors::UnknownProducerId, Errors::InvalidProducerIdMapping] {
        for bump in [true, false] {
            // AddPartitionsToTxn.
            let mut m = in_transaction(bump);
            m.add_partition(tp(1));
            m.next_request(true).expect("add partition 1");
            let step = m.on_add_partitions(Some(error));
            abortable_or_fatal(&mut m, step, error, bump);
            // AddOffsetsToTxn.
            let mut m = in_transaction(bump);
            m.send_offsets(TxnOffsets {
                group_id: "etl".into(),
                generation_id: 1,
                member_id: "m-1".into(),
                group_instance_id: None,
                offsets: vec![(TopicPartition::new("payments", 0), 42, 3)],
            });
            let (kind, _) = m.next_request(true).expect("add offsets");
            assert_eq!(kind, TxnRequestKind::AddOffsets);
            let step = m.on_add_offsets(Some(error));
            abortable_or_fatal(&mut m, step, error, bump);
        }
    }
}

/// 3.8.0 `maybeResolveSequences`: a partition whose batch in retry
/// expired, once nothing of it is in flight, is resolved if its next
/// sequence follows the last acknowledged one; if not, "It is safe to
/// abort the transaction and continue" with the bump, "It isn't safe to
/// continue" (`transitionToFatalError`) without.
#[test]
fn without_the_bump_a_batch_that_can_no_longer_be_retried_is_fatal() {
    for bump in [true, false] {
        let mut m = in_transaction(bump);
        m.mark_sequence_unresolved(tp(0), 10);
        assert_eq!(m.on_send_failed(Errors::RequestTimedOut), TxnStep::None);
        assert_eq!(
            m.maybe_resolve_sequences(|_| None),
            TxnStep::None,
            "still in flight"
        );
        let step = m.maybe_resolve_sequences(|_| Some(false));
        if bump {
            // The expiry already aborts and bumps (on_send_failed).
            assert_eq!(step, TxnStep::None);
            assert_eq!(abort(&mut m), TxnClientState::Initializing);
        } else {
            assert_eq!(step, TxnStep::Fatal(UNACKED_MESSAGES_FATAL));
            assert_eq!(m.state(), TxnClientState::FatalError);
        }
        // An expired batch written after all (a later one was acknowledged).
        let mut m = in_transaction(bump);
        m.mark_sequence_unresolved(tp(0), 10);
        m.on_send_failed(Errors::RequestTimedOut);
        assert_eq!(m.maybe_resolve_sequences(|_| Some(true)), TxnStep::None);
        assert_eq!(m.maybe_resolve_sequences(|_| Some(false)), TxnStep::None);
        assert_eq!(m.state(), TxnClientState::AbortableError);
    }
}
