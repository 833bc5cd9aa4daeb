//! Forgetting what retention removed from every replica (see `forget`).

use std::rc::Rc;

use super::tests::{acked, batches, checker, lost, polled, sent_records};
use super::*;
use crate::check::chunked::CHUNK_LEN;

#[test]
fn records_every_replica_passed_are_counted_removed_and_forgotten_but_a_loss_above_is_found() {
    let mut c = checker();
    c.set_replication_factors(vec![2]);
    let n = 2 * CHUNK_LEN as u64 + 10;
    let sent: Vec<(u64, u32)> = (0..n).map(|id| (id, 0)).collect();
    c.producer(0, 0, &sent_records(&sent));
    for base in (0..n).step_by(1000) {
        acked(&mut c, 1, base, (base..(base + 1000).min(n)).collect());
    }
    for offset in 0..n {
        polled(&mut c, 2, offset, offset);
    }
    let floor = CHUNK_LEN as u64 + 5;
    // One replica's log start is not enough: the other still serves the records.
    assert_eq!(c.log_start(0, 0, 1, floor + 2), None);
    let forgotten = c.log_start(0, 0, 2, floor).expect("both replicas passed");
    assert_eq!(forgotten.removed, (0..floor).collect::<Vec<_>>());
    // Chunk 0 of the producer's sends lies wholly below the floor; chunk 1
    // has records above it.
    assert_eq!(forgotten.chunks, [(0, 0)]);
    assert_eq!(c.log_start(0, 0, 2, floor), None, "the floor did not move");
    assert!(c.is_acked(0));
    c.forget(&forgotten.chunks);
    assert!(!c.is_acked(0) && c.is_acked(CHUNK_LEN as u64));
    assert_eq!(c.removed_earlier(), floor);
    // A read below the floor has nothing left to be compared with.
    polled(&mut c, 3, 3, 777);
    // The final log starts at the floor; offset floor + 1 lost its record.
    let mut ids: Vec<u64> = (0..n).collect();
    ids[floor as usize + 1] = 999_999;
    let kept: Vec<Rc<RecordBatch>> = batches(&ids).split_off(floor as usize);
    let mut end = FinalState::default();
    end.logs.insert(
        TopicPartition::new("t", 0),
        FinalLog::new(kept, floor, n, Vec::new()),
    );
    assert!(c.removed_by_retention(&end)[&TopicPartition::new("t", 0)].is_empty());
    let found = c.finish(9, &end, &|_| String::new());
    let lost = lost(&found);
    assert_eq!(lost.len(), 1, "{found:?}");
    assert!(
        lost[0].contains(&format!("at offset {}", floor + 1)),
        "{}",
        lost[0]
    );
    let offsets: Vec<_> = found
        .iter()
        .filter(|v| v.invariant == "offsets_consistent")
        .collect();
    assert_eq!(offsets.len(), 1, "only the replaced record: {found:?}");
}
