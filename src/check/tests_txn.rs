//! The transaction checkers on hand-made histories and final logs.

use std::rc::Rc;

use super::*;
use crate::check::data::FinalLog;
use crate::client::consumer::PolledRecord;
use crate::client::record_value;
use crate::log::{BatchBuilder, ControlRecordType, EndTransactionMarker, RecordBatch};

/// Producer 0's records (ids 0, 1, ...) in transactional batches of one
/// record each at offsets 0.., with a marker after each transaction of
/// `txns` (COMMIT when true).
fn log(txns: &[(&[u64], bool)]) -> FinalState {
    let mut batches = Vec::new();
    let mut offset = 0;
    for (ids, commit) in txns {
        for &id in *ids {
            let mut builder = BatchBuilder::new();
            builder.append(None, &record_value(id, 8), 0);
            let b = builder.build_transactional(5, 0, 0);
            batches.push(Rc::new(b.stamped(offset, 0)));
            offset += 1;
        }
        let marker = EndTransactionMarker {
            control_type: if *commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            },
            coordinator_epoch: 0,
        };
        let m = RecordBatch::end_txn_marker(5, 0, marker, 0).stamped(offset, 0);
        batches.push(Rc::new(m));
        offset += 1;
    }
    FinalState {
        logs: [(
            TopicPartition::new("t", 0),
            FinalLog::new(batches, 0, offset, Vec::new()),
        )]
        .into_iter()
        .collect(),
        ..FinalState::default()
    }
}

/// Node 0 a producer, node 1 a read_committed consumer, of topic "t".
fn checker() -> TxnChecker {
    TxnChecker::new(
        vec!["producer-0".into(), "consumer-0".into()],
        vec!["t".into(), "t".into()],
        vec![false, true],
    )
}

fn ended(c: &mut TxnChecker, outcome: TxnOutcome, ids: &[u64]) {
    let obs = ProducerObs::TxnEnded {
        outcome,
        ids: ids.to_vec(),
    };
    c.producer(1, 0, &obs);
}

fn names(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.invariant.as_str()).collect()
}

#[test]
fn committed_and_aborted_transactions_as_the_log_holds_them_pass() {
    let mut c = checker();
    ended(&mut c, TxnOutcome::Committed, &[0, 1]);
    ended(&mut c, TxnOutcome::Aborted, &[2]);
    let polled = ConsumerObs::Polled(
        [(0, 0), (1, 1)]
            .map(|(offset, id)| PolledRecord {
                partition: 0,
                offset,
                id,
                leader_epoch: 0,
                topic_id: crate::metadata::Uuid(0),
            })
            .to_vec(),
    );
    c.consumer(2, 1, &polled);
    let end = log(&[(&[0, 1], true), (&[2], false)]);
    assert!(c.finish(10, &end).is_empty());
}

#[test]
fn a_torn_transaction_and_an_aborted_read_are_found() {
    let mut c = checker();
    ended(&mut c, TxnOutcome::Committed, &[0, 1]);
    ended(&mut c, TxnOutcome::Aborted, &[2]);
    // The log aborted the committed transaction and committed the aborted one.
    let end = log(&[(&[0, 1], false), (&[2], true)]);
    let found = c.finish(10, &end);
    assert_eq!(
        names(&found),
        ["transactions_atomic", "transactions_atomic"]
    );
    assert!(found[0].detail.contains("commit"), "{}", found[0].detail);
    assert!(found[1].detail.contains("abort"), "{}", found[1].detail);

    // A read_committed consumer returns the aborted record.
    let mut c = checker();
    ended(&mut c, TxnOutcome::Aborted, &[2]);
    let polled = ConsumerObs::Polled(vec![PolledRecord {
        partition: 0,
        offset: 3,
        id: 2,
        leader_epoch: 0,
        topic_id: crate::metadata::Uuid(0),
    }]);
    c.consumer(2, 1, &polled);
    let end = log(&[(&[0, 1], true), (&[2], false)]);
    assert_eq!(names(&c.finish(10, &end)), ["no_aborted_reads"]);
}

#[test]
fn an_unknown_outcome_is_held_to_nothing_and_read_uncommitted_reads_are_not_judged() {
    let mut c = checker();
    ended(&mut c, TxnOutcome::Unknown, &[0, 1]);
    let polled = ConsumerObs::Polled(vec![PolledRecord {
        partition: 0,
        offset: 0,
        id: 0,
        leader_epoch: 0,
        topic_id: crate::metadata::Uuid(0),
    }]);
    // Node 0 is not a read_committed consumer.
    c.consumer(2, 0, &polled);
    let end = log(&[(&[0, 1], false)]);
    assert!(c.finish(10, &end).is_empty());
}
