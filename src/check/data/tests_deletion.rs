//! A deleted topic's records went with it: counted, not lost — while a loss
//! on a topic still there is found in the same run.

use std::rc::Rc;

use super::tests::{batches, lost, sent_records};
use super::*;

fn acked_to(c: &mut DataChecker, topic: u32, base_offset: u64, ids: Vec<u64>) {
    let obs = ProducerObs::Acked {
        partition: 0,
        base_offset: Some(base_offset),
        ids,
        topic_id: crate::metadata::Uuid(0),
    };
    c.producer(1, topic, &obs);
}

#[test]
fn a_deleted_topics_acknowledged_records_are_counted_removed_but_a_loss_elsewhere_is_found() {
    let mut c = DataChecker::new(vec!["orders".into(), "payments".into()], vec!["c".into()]);
    // Producer 0 writes orders (ids 0..3), producer 1 payments (ids 1 << 40 ..).
    let orders: Vec<u64> = (0..3).collect();
    let payments: Vec<u64> = (0..3).map(|s| 1 << 40 | s).collect();
    c.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
    let sent: Vec<(u64, u32)> = payments.iter().map(|&id| (id, 0)).collect();
    c.producer(0, 1, &sent_records(&sent));
    acked_to(&mut c, 0, 0, orders);
    acked_to(&mut c, 1, 0, payments.clone());
    // The end: orders is deleted (no log); payments lost its last record.
    let mut end = FinalState::default();
    let kept: Vec<Rc<RecordBatch>> = batches(&payments[..2]);
    end.logs.insert(
        TopicPartition::new("payments", 0),
        FinalLog::new(kept, 0, 2, Vec::new()),
    );
    end.deleted_topics.insert("orders".into());
    assert_eq!(c.removed_by_deletion(&end), 3);
    let found = c.finish(9, &end, &|_| String::new());
    let lost = lost(&found);
    assert_eq!(lost.len(), 1, "{found:?}");
    assert!(lost[0].contains("of payments-0"), "{}", lost[0]);
    // Without the deletion the orders records are lost as well.
    let mut c2 = DataChecker::new(vec!["orders".into()], vec!["c".into()]);
    c2.producer(0, 0, &sent_records(&[(0, 0), (1, 0), (2, 0)]));
    acked_to(&mut c2, 0, 0, (0..3).collect());
    let found = c2.finish(9, &FinalState::default(), &|_| String::new());
    assert_eq!(super::tests::lost(&found).len(), 3, "{found:?}");
}

fn acked_in(c: &mut DataChecker, id: crate::metadata::Uuid, ids: Vec<u64>) {
    let obs = ProducerObs::Acked {
        partition: 0,
        base_offset: Some(0),
        ids,
        topic_id: id,
    };
    c.producer(1, 0, &obs);
}

/// Records acknowledged at offsets 0..3 of a topic, then (ids 3..6) at
/// offsets 0..3 of the topic created again under its name, tagged with
/// `first` and `second`; the final log is the second's.
fn recreated(first: u128, second: u128) -> (DataChecker, FinalState) {
    use crate::metadata::Uuid;
    let mut c = DataChecker::new(vec!["orders".into()], vec!["c".into()]);
    let sent: Vec<(u64, u32)> = (0..6).map(|id| (id, 0)).collect();
    c.producer(0, 0, &sent_records(&sent));
    acked_in(&mut c, Uuid(first), (0..3).collect());
    acked_in(&mut c, Uuid(second), (3..6).collect());
    let mut end = FinalState::default();
    end.logs.insert(
        TopicPartition::new("orders", 0),
        FinalLog::new(batches(&[3, 4, 5]), 0, 3, Vec::new()),
    );
    end.topic_ids.insert("orders".into(), Uuid(second));
    (c, end)
}

#[test]
fn a_recreated_topic_is_checked_apart_from_the_deleted_one_by_its_topic_id() {
    let (c, end) = recreated(1, 2);
    assert_eq!(c.removed_by_deletion(&end), 3);
    let found = c.finish(9, &end, &|_| String::new());
    assert!(found.is_empty(), "{found:?}");
    // Told apart by nothing (one topic id), the same offsets held other
    // records and the first three are lost.
    let (c, end) = recreated(2, 2);
    let found = c.finish(9, &end, &|_| String::new());
    assert!(
        found.iter().any(|v| v.invariant == "offsets_consistent"),
        "{found:?}"
    );
    assert_eq!(lost(&found).len(), 3, "{found:?}");
}
