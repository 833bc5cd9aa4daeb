//! The TransactionManager's steps, driven without a producer.

use super::*;
use crate::protocol::TopicId;

fn tp(p: u32) -> TopicIdPartition {
    TopicIdPartition::new(TopicId(0), p)
}

/// A manager that found its coordinator (broker 2) and got producer id 7.
fn ready() -> TransactionManager {
    let mut m = TransactionManager::new("pay-0", 60_000);
    m.init();
    let (kind, request) = m.next_request(false).expect("lookup");
    assert_eq!(kind, TxnRequestKind::FindCoordinator);
    assert_eq!(
        request,
        KafkaRequest::FindCoordinator {
            key_type: CoordinatorType::Transaction,
            key: "pay-0".into()
        }
    );
    assert_eq!(m.on_find_coordinator(None, 2), TxnStep::None);
    let (kind, request) = m.next_request(false).expect("init");
    assert_eq!(kind, TxnRequestKind::InitProducerId);
    assert_eq!(
        request,
        KafkaRequest::InitProducerId {
            transactional_id: Some("pay-0".into()),
            transaction_timeout_ms: 60_000,
            producer_id_and_epoch: None,
        }
    );
    assert_eq!(
        m.on_init_producer_id(None, 7, 0),
        TxnStep::Initialized {
            producer_id: 7,
            producer_epoch: 0
        }
    );
    assert_eq!(m.state(), TxnClientState::Ready);
    m
}

#[test]
fn a_transaction_adds_its_partitions_before_sending_and_ends_once_its_batches_are_answered() {
    let mut m = ready();
    m.begin();
    assert!(m.in_transaction());
    m.add_partition(tp(1));
    m.add_partition(tp(0));
    assert!(!m.may_send(&tp(0)), "not in the transaction yet");
    let (kind, _) = m.next_request(true).expect("add");
    assert_eq!(kind, TxnRequestKind::AddPartitions([tp(0), tp(1)].into()));
    assert_eq!(m.next_request(true), None, "one request at a time");
    assert_eq!(m.on_add_partitions(None), TxnStep::None);
    assert!(m.may_send(&tp(0)) && m.may_send(&tp(1)));
    // The application flushes, then commits: EndTxn waits for the batches.
    m.end(true);
    assert!(m.ending());
    assert_eq!(m.next_request(true), None, "batches still unanswered");
    let (kind, request) = m.next_request(false).expect("end");
    assert_eq!(kind, TxnRequestKind::EndTxn(true));
    assert_eq!(
        request,
        KafkaRequest::EndTxn {
            version: crate::protocol::END_TXN_VERSION_TV1,
            transactional_id: "pay-0".into(),
            producer_id: 7,
            producer_epoch: 0,
            committed: true
        }
    );
    assert_eq!(m.state(), TxnClientState::CommittingTransaction);
    assert_eq!(
        m.on_end_txn(None, -1, -1),
        TxnStep::Ended(TxnEnd::Committed)
    );
    assert_eq!(m.state(), TxnClientState::Ready);
    assert!(!m.may_send(&tp(0)), "the next transaction adds them again");
}

#[test]
fn the_first_add_of_a_transaction_retries_soon_while_the_previous_one_completes() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    assert_eq!(
        m.on_add_partitions(Some(Errors::ConcurrentTransactions)),
        TxnStep::RetryAfterMs(ADD_PARTITIONS_RETRY_BACKOFF_MS)
    );
    m.next_request(true).expect("add again");
    m.on_add_partitions(None);
    m.add_partition(tp(1));
    m.next_request(true).expect("add a second partition");
    assert_eq!(
        m.on_add_partitions(Some(Errors::ConcurrentTransactions)),
        TxnStep::Retry,
        "later adds back off as usual"
    );
}

#[test]
fn a_coordinator_that_moved_is_looked_up_again() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    assert_eq!(
        m.on_add_partitions(Some(Errors::NotCoordinator)),
        TxnStep::Retry
    );
    let (kind, _) = m.next_request(true).expect("lookup");
    assert_eq!(kind, TxnRequestKind::FindCoordinator);
}

#[test]
fn a_failed_send_leaves_only_an_abort_which_drops_what_was_not_added() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    m.on_add_partitions(None);
    m.add_partition(tp(1));
    assert_eq!(m.on_send_failed(Errors::RequestTimedOut), TxnStep::None);
    assert_eq!(m.state(), TxnClientState::AbortableError);
    m.end(false);
    assert_eq!(m.state(), TxnClientState::AbortingTransaction);
    let (kind, _) = m.next_request(false).expect("abort");
    assert_eq!(kind, TxnRequestKind::EndTxn(false), "no add of partition 1");
    assert_eq!(m.on_end_txn(None, -1, -1), TxnStep::Ended(TxnEnd::Aborted));
}

#[test]
fn a_transaction_that_sent_nothing_ends_without_end_txn() {
    let mut m = ready();
    m.begin();
    m.end(false);
    assert_eq!(m.end_empty(false), Some(TxnEnd::Aborted));
    assert_eq!(m.state(), TxnClientState::Ready);
}

#[test]
fn a_fenced_producer_starts_over_as_a_new_instance() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    assert_eq!(
        m.on_add_partitions(Some(Errors::ProducerFenced)),
        TxnStep::Fenced(Errors::ProducerFenced)
    );
    assert_eq!(m.state(), TxnClientState::FatalError);
    m.init();
    let (kind, request) = m.next_request(false).expect("init");
    assert_eq!(kind, TxnRequestKind::InitProducerId);
    assert!(matches!(
        request,
        KafkaRequest::InitProducerId {
            producer_id_and_epoch: None,
            ..
        }
    ));
}

#[test]
fn a_lost_sequence_aborts_the_transaction_then_bumps_the_epoch_of_the_same_id() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    m.on_add_partitions(None);
    m.on_send_failed(Errors::OutOfOrderSequenceNumber);
    m.end(false);
    m.next_request(false).expect("abort");
    assert_eq!(m.on_end_txn(None, -1, -1), TxnStep::Ended(TxnEnd::Aborted));
    assert_eq!(m.state(), TxnClientState::Initializing);
    let (kind, request) = m.next_request(false).expect("bump");
    assert_eq!(kind, TxnRequestKind::InitProducerId);
    assert_eq!(
        request,
        KafkaRequest::InitProducerId {
            transactional_id: Some("pay-0".into()),
            transaction_timeout_ms: 60_000,
            producer_id_and_epoch: Some((7, 0)),
        }
    );
    assert_eq!(
        m.on_init_producer_id(None, 7, 1),
        TxnStep::Initialized {
            producer_id: 7,
            producer_epoch: 1
        }
    );
    assert_eq!(m.state(), TxnClientState::Ready);
}

fn offsets(generation_id: i32) -> TxnOffsets {
    TxnOffsets {
        group_id: "etl".into(),
        generation_id,
        member_id: "m-1".into(),
        group_instance_id: None,
        offsets: vec![(TopicPartition::new("payments", 0), 42, 3)],
    }
}

#[test]
fn offsets_sent_to_a_transaction_are_added_then_committed_to_the_group_coordinator_before_end_txn()
{
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    m.on_add_partitions(None);
    m.send_offsets(offsets(4));
    m.end(true);
    let (kind, request) = m.next_request(false).expect("add offsets");
    assert_eq!(kind, TxnRequestKind::AddOffsets);
    assert_eq!(
        request,
        KafkaRequest::AddOffsetsToTxn {
            transactional_id: "pay-0".into(),
            producer_id: 7,
            producer_epoch: 0,
            group_id: "etl".into()
        }
    );
    assert_eq!(m.on_add_offsets(None), TxnStep::None);
    let (kind, request) = m.next_request(false).expect("find the group's coordinator");
    assert_eq!(kind, TxnRequestKind::FindGroupCoordinator);
    assert_eq!(
        request,
        KafkaRequest::FindCoordinator {
            key_type: CoordinatorType::Group,
            key: "etl".into()
        }
    );
    assert_eq!(m.on_find_coordinator(None, 3), TxnStep::None);
    assert_eq!(m.group_coordinator(), Some(3));
    assert_eq!(m.coordinator(), Some(2), "the transaction's is kept");
    let (kind, request) = m.next_request(false).expect("commit offsets");
    assert_eq!(kind, TxnRequestKind::TxnOffsetCommit);
    let KafkaRequest::Group { group_id, request } = request else {
        panic!("{request:?}")
    };
    assert_eq!(group_id, "etl");
    assert!(matches!(
        *request,
        CoordinatorRequest::TxnOffsetCommit {
            producer_id: 7,
            generation_id: 4,
            ..
        }
    ));
    // The group coordinator moved: looked up again, the commit retried.
    assert_eq!(
        m.on_txn_offset_commit(Some(Errors::NotCoordinator)),
        TxnStep::Retry
    );
    let (kind, _) = m.next_request(false).expect("lookup");
    assert_eq!(kind, TxnRequestKind::FindGroupCoordinator);
    m.on_find_coordinator(None, 1);
    m.next_request(false).expect("commit offsets again");
    assert_eq!(m.on_txn_offset_commit(None), TxnStep::None);
    let (kind, _) = m.next_request(false).expect("end");
    assert_eq!(kind, TxnRequestKind::EndTxn(true));
}

#[test]
fn a_zombies_txn_offset_commit_fenced_by_generation_leaves_only_an_abort_kip_447() {
    let mut m = ready();
    m.begin();
    m.send_offsets(offsets(1));
    m.end(true);
    m.next_request(false).expect("add offsets");
    m.on_add_offsets(None);
    m.next_request(false).expect("find");
    m.on_find_coordinator(None, 3);
    m.next_request(false).expect("commit offsets");
    assert_eq!(
        m.on_txn_offset_commit(Some(Errors::IllegalGeneration)),
        TxnStep::None
    );
    assert_eq!(
        m.state(),
        TxnClientState::AbortingTransaction,
        "commitTransaction turns into an abort"
    );
    let (kind, _) = m.next_request(false).expect("abort");
    assert_eq!(
        kind,
        TxnRequestKind::EndTxn(false),
        "the offsets partition joined the transaction: it ends with EndTxn"
    );
    assert_eq!(m.on_end_txn(None, -1, -1), TxnStep::Ended(TxnEnd::Aborted));
    assert!(!m.offsets_pending());
}

/// Ends the open transaction with EndTxn once nothing is pending.
fn end_request(m: &mut TransactionManager, commit: bool) -> KafkaRequest {
    m.end(commit);
    let (kind, request) = m.next_request(false).expect("end");
    assert_eq!(kind, TxnRequestKind::EndTxn(commit));
    request
}

#[test]
fn under_transactions_v2_partitions_join_at_once_and_end_txn_bumps_the_epoch() {
    let mut m = ready();
    m.set_finalized_transaction_version(2);
    m.begin();
    assert!(m.is_transaction_v2_enabled());
    m.add_partition(tp(0));
    assert!(m.may_send(&tp(0)), "the leader adds it (Produce v12)");
    assert_eq!(m.next_request(true), None, "no AddPartitionsToTxn");
    match end_request(&mut m, true) {
        KafkaRequest::EndTxn { version, .. } => {
            assert_eq!(version, crate::protocol::END_TXN_VERSION_TV2)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        m.on_end_txn(None, 7, 1),
        TxnStep::EndedWithEpoch {
            end: TxnEnd::Committed,
            producer_id: 7,
            producer_epoch: 1
        }
    );
    assert_eq!(
        m.producer_id_and_epoch(),
        (7, 1),
        "the next one runs under it"
    );
    assert_eq!(m.state(), TxnClientState::Ready);
}

#[test]
fn an_abortable_error_bumps_the_epoch_from_the_client_only_without_transactions_v2() {
    for (level, bump) in [(1, true), (2, false)] {
        let mut m = ready();
        m.set_finalized_transaction_version(level);
        m.begin();
        m.add_partition(tp(0));
        if level == 1 {
            m.next_request(false).expect("add");
            assert_eq!(m.on_add_partitions(None), TxnStep::None);
        }
        // A late or refused batch (KIP-588: INVALID_PRODUCER_EPOCH aborts).
        assert_eq!(
            m.on_send_failed(Errors::InvalidProducerEpoch),
            TxnStep::None
        );
        assert_eq!(m.state(), TxnClientState::AbortableError);
        assert_eq!(m.need_to_trigger_epoch_bump_from_client(), bump);
        end_request(&mut m, false);
        let step = m.on_end_txn(None, if bump { -1 } else { 7 }, if bump { -1 } else { 1 });
        let next = if bump {
            TxnClientState::Initializing
        } else {
            TxnClientState::Ready
        };
        assert_eq!(m.state(), next, "level {level}: {step:?}");
    }
}

#[test]
fn a_fenced_producers_new_instance_owes_no_epoch_bump() {
    let mut m = ready();
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    m.on_add_partitions(None);
    // A zombie's batch refused (KIP-588: abortable, then a bump), and its
    // abort fenced: the application starts a new instance.
    m.on_send_failed(Errors::InvalidProducerEpoch);
    end_request(&mut m, false);
    assert_eq!(
        m.on_end_txn(Some(Errors::ProducerFenced), -1, -1),
        TxnStep::Fenced(Errors::ProducerFenced)
    );
    m.init();
    m.next_request(false).expect("init");
    m.on_init_producer_id(None, 7, 2);
    m.begin();
    m.add_partition(tp(0));
    m.next_request(true).expect("add");
    m.on_add_partitions(None);
    end_request(&mut m, true);
    assert_eq!(
        m.on_end_txn(None, -1, -1),
        TxnStep::Ended(TxnEnd::Committed)
    );
    assert_eq!(
        m.state(),
        TxnClientState::Ready,
        "a new TransactionManager: no epochBumpRequired"
    );
}
