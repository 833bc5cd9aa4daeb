//! Transactions at a partition leader: WriteTxnMarkers appends the markers
//! a coordinator sends (fenced by producer and coordinator epoch), and a
//! read_committed consumer reads below the last stable offset, told the
//! aborted transactions, while a read_uncommitted one reads to the high
//! watermark.

use std::rc::Rc;

use super::config::BrokerConfig;
use super::purgatory::{FetchParams, ReplyTo};
use super::tests_replica_manager::{broker, fetch_partition, image, tp};
use super::ReplicaManager;
use crate::client::consumer::read_completed_fetch;
use crate::errors::Errors;
use crate::log::{BatchBuilder, ControlRecordType, RecordBatch};
use crate::node::{Address, Effect, TestEnv};
use crate::protocol::{
    AbortedTransaction, FetchMetadata, FetchedPartition, IsolationLevel, KafkaMsg, KafkaResponse,
    Message, ProduceData, ProduceResult, TxnMarkerResult, WritableTxnMarker,
};

/// Broker 1 leads `t-0` with ISR [1] (min.insync.replicas 1), so every
/// append moves the high watermark at once.
fn leader() -> (ReplicaManager, TestEnv) {
    // The leader's transaction bookkeeping alone: no coordinator to
    // verify with (KIP-890's verification has its own tests).
    let config = BrokerConfig {
        transaction_partition_verification_enable: false,
        ..BrokerConfig::default()
    };
    broker(config, &image(1, 1, &[1], &[]))
}

/// Producer `pid` sends `n` records, in a transaction or not.
fn produce(rm: &mut ReplicaManager, t: &mut TestEnv, pid: i64, n: u8, transactional: bool) {
    let mut b = BatchBuilder::new();
    for i in 0..n {
        b.append(None, &(pid as u64 * 100 + u64::from(i)).to_be_bytes(), 0);
    }
    let batch = if transactional {
        b.build_transactional(pid, 0, 0)
    } else {
        b.build(pid, 0, 0)
    };
    send(rm, t, batch);
}

/// A client's ProduceRequest of `batch` (acks=1).
fn send(rm: &mut ReplicaManager, t: &mut TestEnv, batch: RecordBatch) {
    let to = ReplyTo {
        to: Address::Client(9),
        connection: crate::protocol::Connection::Producer,
        correlation_id: 1,
    };
    let data = ProduceData {
        tp: tp(),
        batch: Rc::new(batch),
    };
    rm.handle_produce(&mut t.env(), to, 1, 30_000, vec![data]);
}

/// A consumer fetches `t-0` from `offset`.
fn fetch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    offset: u64,
    isolation_level: IsolationLevel,
    max_wait_ms: u64,
) {
    let params = FetchParams {
        replica: None,
        max_wait_ms,
        isolation_level,
    };
    let request = fetch_partition(offset);
    let to = ReplyTo {
        to: Address::Client(0),
        connection: crate::protocol::Connection::Producer,
        correlation_id: 2,
    };
    let session = FetchMetadata::SESSIONLESS;
    rm.handle_fetch(&mut t.env(), to, params, session, vec![request], Vec::new());
}

/// The fetch answers sent to the consumer since the last call.
fn answers(t: &mut TestEnv) -> Vec<FetchedPartition> {
    t.take()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send {
                to: Address::Client(0),
                msg:
                    Message::Kafka(KafkaMsg::Response {
                        response: KafkaResponse::Fetch { partitions, .. },
                        ..
                    }),
                ..
            } => Some(partitions),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The offsets of the batches answered.
fn batch_offsets(answer: &FetchedPartition) -> Vec<u64> {
    answer
        .batches
        .iter()
        .map(|b: &Rc<RecordBatch>| b.base_offset)
        .collect()
}

#[test]
fn read_committed_reads_below_the_last_stable_offset_only() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 5, 2, false); // 0-1
    produce(&mut rm, &mut t, 7, 3, true); // 2-4: producer 7's open transaction
    produce(&mut rm, &mut t, 6, 2, false); // 5-6
    t.take();
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadCommitted, 0);
    let committed = answers(&mut t);
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].high_watermark, 7);
    assert_eq!(
        committed[0].last_stable_offset, 2,
        "the open transaction's first offset"
    );
    assert_eq!(batch_offsets(&committed[0]), [0]);
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadUncommitted, 0);
    let uncommitted = answers(&mut t);
    assert_eq!(batch_offsets(&uncommitted[0]), [0, 2, 5]);
}

#[test]
fn the_latest_offset_of_a_read_committed_consumer_is_the_last_stable_offset() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 5, 2, false); // 0-1
    produce(&mut rm, &mut t, 7, 3, true); // 2-4: an open transaction
    let latest = |rm: &ReplicaManager, isolation| match rm.list_offsets(
        tp(),
        crate::protocol::LATEST_TIMESTAMP,
        -1,
        isolation,
    ) {
        KafkaResponse::ListOffsets {
            error: None,
            offset,
            ..
        } => offset,
        other => panic!("unexpected {other:?}"),
    };
    // Kafka's Partition.fetchOffsetForTimestamp: lastFetchableOffset.
    assert_eq!(latest(&rm, IsolationLevel::ReadCommitted), 2);
    assert_eq!(latest(&rm, IsolationLevel::ReadUncommitted), 5);
}

#[test]
fn a_read_committed_fetch_at_the_last_stable_offset_waits_for_it_to_move() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 7, 3, true); // 0-2: open
    t.take();
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadCommitted, 500);
    fetch(&mut rm, &mut t, 3, IsolationLevel::ReadUncommitted, 500);
    assert!(answers(&mut t).is_empty(), "both wait");
    produce(&mut rm, &mut t, 5, 1, false); // 3: past the high watermark, not the LSO
    let woken = answers(&mut t);
    assert_eq!(
        woken.len(),
        1,
        "only the read_uncommitted fetch is answered"
    );
    assert_eq!(batch_offsets(&woken[0]), [3]);
}

/// A coordinator (epoch `coordinator_epoch`) writes producer `pid`'s
/// marker to `t-0`; returns the answer.
fn write_marker(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    pid: i64,
    producer_epoch: i16,
    result: ControlRecordType,
    coordinator_epoch: i32,
) -> Vec<TxnMarkerResult> {
    let to = ReplyTo {
        to: Address::Node(3),
        connection: crate::protocol::Connection::TransactionMarker,
        correlation_id: 5,
    };
    let marker = WritableTxnMarker {
        producer_id: pid,
        producer_epoch,
        result,
        partitions: vec![tp()],
        coordinator_epoch,
    };
    rm.handle_write_txn_markers(&mut t.env(), to, vec![marker]);
    t.take()
        .into_iter()
        .find_map(|e| match e {
            Effect::Send {
                to: Address::Node(3),
                msg:
                    Message::Kafka(KafkaMsg::Response {
                        response: KafkaResponse::WriteTxnMarkers { results },
                        ..
                    }),
                ..
            } => Some(results),
            _ => None,
        })
        .expect("answered at once: the ISR is the leader alone")
}

fn errors(results: &[TxnMarkerResult]) -> Vec<Option<Errors>> {
    results.iter().map(|r| r.error).collect()
}

/// What a read_committed consumer polls from `t-0`, from offset 0.
fn committed_ids(rm: &mut ReplicaManager, t: &mut TestEnv) -> (Vec<u64>, FetchedPartition) {
    fetch(rm, t, 0, IsolationLevel::ReadCommitted, 0);
    let answer = answers(t).pop().expect("answered");
    let (records, _) = read_completed_fetch(&answer, 0, IsolationLevel::ReadCommitted);
    (records.iter().map(|r| r.1).collect(), answer)
}

#[test]
fn a_commit_marker_makes_the_transaction_readable() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 7, 2, true); // 0-1
    t.take();
    let (before, _) = committed_ids(&mut rm, &mut t);
    assert!(before.is_empty(), "open: the last stable offset is 0");
    let results = write_marker(&mut rm, &mut t, 7, 0, ControlRecordType::Commit, 3);
    assert_eq!(errors(&results), [None]);
    assert_eq!(results[0].producer_id, 7);
    let (after, answer) = committed_ids(&mut rm, &mut t);
    assert_eq!(after, [700, 701]);
    assert_eq!((answer.high_watermark, answer.last_stable_offset), (3, 3));
    assert!(answer.aborted_transactions.is_empty());
    let marker = &answer.batches[1];
    assert!(marker.is_control() && marker.base_offset == 2);
}

#[test]
fn an_aborted_transaction_is_listed_and_its_records_dropped() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 6, 1, false); // 0
    produce(&mut rm, &mut t, 7, 2, true); // 1-2
    let results = write_marker(&mut rm, &mut t, 7, 0, ControlRecordType::Abort, 3); // 3
    assert_eq!(errors(&results), [None]);
    produce(&mut rm, &mut t, 8, 1, false); // 4
    t.take();
    let (ids, answer) = committed_ids(&mut rm, &mut t);
    assert_eq!(
        answer.aborted_transactions,
        [AbortedTransaction {
            producer_id: 7,
            first_offset: 1
        }]
    );
    assert_eq!(ids, [600, 800], "producer 7's records are dropped");
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadUncommitted, 0);
    let uncommitted = answers(&mut t).pop().expect("answered");
    assert!(
        uncommitted.aborted_transactions.is_empty(),
        "only read_committed fetches are told"
    );
}

#[test]
fn markers_from_a_fenced_coordinator_or_producer_epoch_are_refused() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 7, 1, true);
    let first = write_marker(&mut rm, &mut t, 7, 0, ControlRecordType::Commit, 3);
    assert_eq!(errors(&first), [None]);
    let stale = write_marker(&mut rm, &mut t, 7, 0, ControlRecordType::Abort, 2);
    assert_eq!(errors(&stale), [Some(Errors::TransactionCoordinatorFenced)]);
    // The producer's next transaction, under a bumped epoch.
    let mut b = BatchBuilder::new();
    b.append(None, &[1], 0);
    send(&mut rm, &mut t, b.build_transactional(7, 1, 0));
    let old_epoch = write_marker(&mut rm, &mut t, 7, 0, ControlRecordType::Abort, 3);
    assert_eq!(errors(&old_epoch), [Some(Errors::InvalidProducerEpoch)]);
    let current = write_marker(&mut rm, &mut t, 7, 1, ControlRecordType::Abort, 3);
    assert_eq!(errors(&current), [None]);
}

#[test]
fn a_client_may_not_write_a_control_batch() {
    let (mut rm, mut t) = leader();
    let marker = crate::log::EndTransactionMarker {
        control_type: ControlRecordType::Commit,
        coordinator_epoch: 0,
    };
    send(
        &mut rm,
        &mut t,
        RecordBatch::end_txn_marker(7, 0, marker, 0),
    );
    let refused = t.take().into_iter().find_map(|e| match e {
        Effect::Send {
            msg:
                Message::Kafka(KafkaMsg::Response {
                    response: KafkaResponse::Produce { partitions },
                    ..
                }),
            ..
        } => Some(partitions),
        _ => None,
    });
    let expected = ProduceResult {
        tp: tp(),
        error: Some(Errors::InvalidRecord),
        base_offset: -1,
        topic_id: crate::metadata::Uuid(0),
    };
    assert_eq!(refused, Some(vec![expected]));
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 0);
}
