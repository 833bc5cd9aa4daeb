//! The group coordinator of a broker: ownership by offsets partition, writes
//! answered once committed, and a failover that loads the log.

use super::classic::GROUP_INITIAL_REBALANCE_DELAY_MS;
use super::classic::{GroupResponse, GroupState, JoinGroup, SyncGroup};
use super::coordinator::{
    CoordinatorOutput, CoordinatorRequest, CoordinatorResponse, GroupCoordinator,
};
use super::offsets_topic::partition_for;
use crate::errors::Errors;
use std::rc::Rc;

use crate::log::{ControlRecordType, EndTransactionMarker, Record, RecordBatch};
use crate::protocol::TopicPartition;

const GROUP: &str = "billing";
const PARTITIONS: u32 = 50;

/// A coordinator with a log per offsets partition that its appends go to.
struct Broker {
    coordinator: GroupCoordinator<u32>,
    log: Vec<Record>,
    /// The same appends as batches (transactional ones as the producer's).
    batches: Vec<Rc<RecordBatch>>,
    out: Vec<CoordinatorOutput<u32>>,
    next_reply: u32,
    next_id: u32,
}

impl Broker {
    fn leading(records: &[Record]) -> Self {
        let mut coordinator = GroupCoordinator::new(PARTITIONS);
        coordinator.load(partition_for(GROUP, PARTITIONS), records, 0);
        Self {
            coordinator,
            log: records.to_vec(),
            batches: Vec::new(),
            out: Vec::new(),
            next_reply: 0,
            next_id: 0,
        }
    }

    fn send(&mut self, now: u64, request: CoordinatorRequest) -> u32 {
        self.next_reply += 1;
        let reply = self.next_reply;
        let next_id = &mut self.next_id;
        let mut fresh = || {
            *next_id += 1;
            format!("id{next_id}")
        };
        self.coordinator
            .handle(now, reply, GROUP, request, &mut fresh, &mut self.out);
        reply
    }

    fn answer(&mut self, reply: u32) -> Option<CoordinatorResponse> {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, CoordinatorOutput::Reply(r, _) if *r == reply))?;
        match self.out.remove(i) {
            CoordinatorOutput::Reply(_, response) => Some(response),
            CoordinatorOutput::Append { .. } => None,
        }
    }

    /// Completes every pending append: written to the log, then committed
    /// (or failed with `error`, in which case nothing is written).
    fn complete_appends(&mut self, now: u64, error: Option<Errors>) -> usize {
        let mut n = 0;
        while let Some(i) = self
            .out
            .iter()
            .position(|o| matches!(o, CoordinatorOutput::Append { .. }))
        {
            let CoordinatorOutput::Append {
                id,
                partition,
                records,
                producer,
            } = self.out.remove(i)
            else {
                unreachable!()
            };
            assert_eq!(partition, partition_for(GROUP, PARTITIONS));
            if error.is_none() {
                let batch = match producer {
                    Some((pid, epoch)) => RecordBatch::transactional_of(pid, epoch, &records),
                    None => RecordBatch::of(0, 0, (-1, -1, -1), &records),
                };
                self.batches.push(Rc::new(batch));
                self.log.extend(records);
            }
            self.coordinator
                .on_append_done(now, id, error, &mut self.out);
            n += 1;
        }
        n
    }

    fn join(&mut self, now: u64, member_id: &str) -> u32 {
        self.send(
            now,
            CoordinatorRequest::JoinGroup(JoinGroup {
                member_id: member_id.to_owned(),
                group_instance_id: None,
                client_id: "consumer-billing-0".to_owned(),
                session_timeout_ms: 45_000,
                rebalance_timeout_ms: 300_000,
                protocol_type: "consumer".to_owned(),
                protocols: vec![("range".to_owned(), b"orders".to_vec())],
            }),
        )
    }

    /// One member through join and sync: returns its member id, generation 1.
    fn one_stable_member(&mut self) -> String {
        let r = self.join(0, "");
        let Some(CoordinatorResponse::Group(GroupResponse::JoinGroup { member_id, .. })) =
            self.answer(r)
        else {
            panic!("MEMBER_ID_REQUIRED")
        };
        let r = self.join(0, &member_id);
        self.coordinator
            .on_tick(GROUP_INITIAL_REBALANCE_DELAY_MS, &mut self.out);
        assert!(matches!(
            self.answer(r),
            Some(CoordinatorResponse::Group(GroupResponse::JoinGroup {
                error: None,
                generation_id: 1,
                ..
            }))
        ));
        let s = self.send(
            GROUP_INITIAL_REBALANCE_DELAY_MS,
            CoordinatorRequest::SyncGroup(SyncGroup {
                generation_id: 1,
                member_id: member_id.clone(),
                group_instance_id: None,
                assignments: vec![(member_id.clone(), b"orders-0".to_vec())],
            }),
        );
        assert!(
            self.answer(s).is_none(),
            "the sync waits for the metadata write"
        );
        assert_eq!(
            self.complete_appends(GROUP_INITIAL_REBALANCE_DELAY_MS, None),
            1
        );
        assert_eq!(
            self.answer(s),
            Some(CoordinatorResponse::Group(GroupResponse::SyncGroup {
                error: None,
                assignment: b"orders-0".to_vec()
            }))
        );
        member_id
    }

    fn commit(&mut self, now: u64, generation_id: i32, member_id: &str, offset: u64) -> u32 {
        self.send(
            now,
            CoordinatorRequest::OffsetCommit {
                generation_id,
                member_id: member_id.to_owned(),
                group_instance_id: None,
                offsets: vec![(TopicPartition::new("orders", 0), offset, 2)],
            },
        )
    }

    fn txn_commit(&mut self, now: u64, generation_id: i32, member_id: &str, offset: u64) -> u32 {
        self.send(
            now,
            CoordinatorRequest::TxnOffsetCommit {
                transactional_id: "etl-0".to_owned(),
                producer_id: 7,
                producer_epoch: 0,
                generation_id,
                member_id: member_id.to_owned(),
                group_instance_id: None,
                offsets: vec![(TopicPartition::new("orders", 0), offset, 2)],
            },
        )
    }

    /// The transaction's marker reaches the offsets partition.
    fn marker(&mut self, committed: bool) {
        let control_type = if committed {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        };
        let marker = EndTransactionMarker {
            control_type,
            coordinator_epoch: 0,
        };
        self.batches
            .push(Rc::new(RecordBatch::end_txn_marker(7, 0, marker, 0)));
        self.coordinator
            .complete_transaction(partition_for(GROUP, PARTITIONS), 7, committed);
    }

    fn fetch_stable(&mut self) -> CoordinatorResponse {
        let r = self.send(
            0,
            CoordinatorRequest::OffsetFetch {
                partitions: vec![TopicPartition::new("orders", 0)],
                require_stable: true,
            },
        );
        self.answer(r).expect("answered at once")
    }

    fn fetch(&mut self) -> Option<(u64, i32)> {
        let r = self.send(
            0,
            CoordinatorRequest::OffsetFetch {
                partitions: vec![TopicPartition::new("orders", 0)],
                require_stable: false,
            },
        );
        match self.answer(r) {
            Some(CoordinatorResponse::OffsetFetch {
                error: None,
                offsets,
            }) => offsets[0].1,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_broker_that_does_not_lead_the_groups_partition_answers_not_coordinator() {
    let mut b = Broker::leading(&[]);
    b.coordinator = GroupCoordinator::new(PARTITIONS);
    let r = b.join(0, "");
    assert!(matches!(
        b.answer(r),
        Some(CoordinatorResponse::Group(GroupResponse::JoinGroup {
            error: Some(Errors::NotCoordinator),
            ..
        }))
    ));
}

#[test]
fn a_commit_is_answered_once_written_and_then_fetched() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    let r = b.commit(5_000, 1, &member, 42);
    assert!(b.answer(r).is_none(), "not before the write commits");
    assert_eq!(b.fetch(), None);
    b.complete_appends(5_000, None);
    assert_eq!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit {
            results: vec![(TopicPartition::new("orders", 0), None)]
        })
    );
    assert_eq!(b.fetch(), Some((42, 2)));
}

#[test]
fn a_zombie_commit_is_fenced_without_a_write_and_a_failed_write_is_not_coordinator() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    let r = b.commit(5_000, 0, &member, 7);
    assert_eq!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit {
            results: vec![(
                TopicPartition::new("orders", 0),
                Some(Errors::IllegalGeneration)
            )]
        })
    );
    let r = b.commit(5_000, 1, "someone-else", 7);
    assert!(matches!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit { results }) if results[0].1 == Some(Errors::UnknownMemberId)
    ));
    assert_eq!(b.complete_appends(5_000, None), 0, "nothing was written");
    let r = b.commit(6_000, 1, &member, 9);
    b.complete_appends(6_000, Some(Errors::NotLeaderOrFollower));
    assert!(matches!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit { results }) if results[0].1 == Some(Errors::NotCoordinator)
    ));
    assert_eq!(b.fetch(), None);
}

#[test]
fn a_new_coordinator_loads_the_group_and_its_offsets_from_the_log() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    let r = b.commit(5_000, 1, &member, 42);
    b.complete_appends(5_000, None);
    assert!(b.answer(r).is_some());
    // Failover: another broker leads the partition and replays its log.
    let mut next = Broker::leading(&b.log);
    assert_eq!(next.fetch(), Some((42, 2)));
    let group = &next.coordinator.groups()[GROUP];
    assert_eq!(
        (group.state(), group.generation_id()),
        (GroupState::Stable, 1)
    );
    let r = next.send(
        6_000,
        CoordinatorRequest::Heartbeat {
            generation_id: 1,
            member_id: member.clone(),
            group_instance_id: None,
        },
    );
    assert_eq!(
        next.answer(r),
        Some(CoordinatorResponse::Group(GroupResponse::Heartbeat {
            error: None
        }))
    );
    // The old coordinator lost the partition: a waiting commit fails.
    let r = b.commit(7_000, 1, &member, 50);
    let partition = partition_for(GROUP, PARTITIONS);
    let mut out = Vec::new();
    b.coordinator.unload(partition, &mut out);
    b.out.extend(out);
    assert!(matches!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit { results }) if results[0].1 == Some(Errors::NotCoordinator)
    ));
    assert!(!b.coordinator.owns(GROUP));
}

#[test]
fn a_txn_offset_commit_is_pending_until_its_commit_marker_and_unstable_meanwhile() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    let r = b.commit(1_000, 1, &member, 10);
    b.complete_appends(1_000, None);
    assert!(b.answer(r).is_some());
    let r = b.txn_commit(2_000, 1, &member, 42);
    assert_eq!(b.complete_appends(2_000, None), 1);
    assert_eq!(
        b.answer(r),
        Some(CoordinatorResponse::TxnOffsetCommit {
            results: vec![(TopicPartition::new("orders", 0), None)]
        })
    );
    // Written, not committed: a read_uncommitted fetch sees the old offset,
    // a read_committed one is told to wait (KIP-447).
    assert_eq!(b.fetch(), Some((10, 2)));
    assert_eq!(
        b.fetch_stable(),
        CoordinatorResponse::OffsetFetch {
            error: Some(Errors::UnstableOffsetCommit),
            offsets: Vec::new()
        }
    );
    b.marker(true);
    assert_eq!(b.fetch(), Some((42, 2)));
    assert!(matches!(
        b.fetch_stable(),
        CoordinatorResponse::OffsetFetch { error: None, .. }
    ));
}

#[test]
fn an_aborted_transactions_offsets_are_dropped() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    b.txn_commit(2_000, 1, &member, 42);
    b.complete_appends(2_000, None);
    b.marker(false);
    assert_eq!(b.fetch(), None);
    assert!(!b.coordinator.has_pending_txn_offsets(GROUP));
}

#[test]
fn a_txn_offset_commit_of_an_old_generation_is_fenced_kip_447() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    let r = b.txn_commit(2_000, 0, &member, 42);
    assert_eq!(
        b.answer(r),
        Some(CoordinatorResponse::TxnOffsetCommit {
            results: vec![(
                TopicPartition::new("orders", 0),
                Some(Errors::IllegalGeneration)
            )]
        })
    );
    let r = b.txn_commit(2_000, 1, "zombie", 42);
    assert!(matches!(
        b.answer(r),
        Some(CoordinatorResponse::TxnOffsetCommit { results }) if results[0].1 == Some(Errors::UnknownMemberId)
    ));
    assert_eq!(b.complete_appends(2_000, None), 0, "nothing written");
}

#[test]
fn loading_applies_committed_transactions_at_their_marker_and_keeps_open_ones_pending() {
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    b.txn_commit(2_000, 1, &member, 42);
    b.complete_appends(2_000, None);
    b.marker(true);
    b.txn_commit(3_000, 1, &member, 50);
    b.complete_appends(3_000, None);
    // A new leader loads the log: 42 committed, 50 still open.
    let mut loaded = GroupCoordinator::<u32>::new(PARTITIONS);
    loaded.load_batches(partition_for(GROUP, PARTITIONS), &b.batches, 4_000);
    assert_eq!(
        loaded
            .committed(GROUP)
            .and_then(|c| c.get(&TopicPartition::new("orders", 0)))
            .map(|v| v.offset),
        Some(42)
    );
    assert!(loaded.has_pending_txn_offsets(GROUP));
    // Aborted after all: the load drops it with its marker.
    b.marker(false);
    let mut loaded = GroupCoordinator::<u32>::new(PARTITIONS);
    loaded.load_batches(partition_for(GROUP, PARTITIONS), &b.batches, 5_000);
    assert!(!loaded.has_pending_txn_offsets(GROUP));
    assert_eq!(
        loaded
            .committed(GROUP)
            .and_then(|c| c.get(&TopicPartition::new("orders", 0)))
            .map(|v| v.offset),
        Some(42)
    );
}

/// Offset expiration (KIP-211) with `offsets.retention.minutes` = 1 and a
/// check every 5 s.
mod expiration {
    use super::*;
    use crate::group::records::GroupRecord;

    const RETENTION_MS: u64 = 60_000;
    const CHECK_MS: u64 = 5_000;

    fn broker(log: &[Record]) -> Broker {
        let mut b = Broker::leading(&[]);
        b.coordinator =
            GroupCoordinator::new(PARTITIONS).with_offsets_retention(RETENTION_MS, CHECK_MS);
        b.coordinator.load(partition_for(GROUP, PARTITIONS), log, 0);
        b.log = log.to_vec();
        b
    }

    /// Runs the coordinator's timers due up to `now`, as the broker would,
    /// with `member` (if one) heartbeating every second.
    fn tick_to(b: &mut Broker, now: u64, member: Option<&str>) {
        let mut t = b.coordinator.next_deadline_ms().unwrap_or(now);
        while t <= now {
            if let Some(member_id) = member {
                let r = b.send(
                    t,
                    CoordinatorRequest::Heartbeat {
                        generation_id: 1,
                        member_id: member_id.to_owned(),
                        group_instance_id: None,
                    },
                );
                b.answer(r);
            }
            b.coordinator.on_tick(t, &mut b.out);
            b.coordinator.expire_offsets(t, &mut b.out);
            let next = b.coordinator.next_deadline_ms().unwrap_or(u64::MAX);
            t = if member.is_some() {
                next.min(t + 1_000)
            } else {
                next
            };
        }
    }

    fn tombstones(b: &Broker) -> Vec<GroupRecord> {
        b.log
            .iter()
            .filter_map(GroupRecord::from_record)
            .filter(|r| {
                matches!(
                    r,
                    GroupRecord::OffsetCommit(_, _, None) | GroupRecord::GroupMetadata(_, None)
                )
            })
            .collect()
    }

    fn leave(b: &mut Broker, now: u64, member_id: &str) {
        let r = b.send(
            now,
            CoordinatorRequest::LeaveGroup {
                member_id: member_id.to_owned(),
                group_instance_id: None,
            },
        );
        b.answer(r);
        // The join phase of no member ends at the coordinator's next tick.
        b.coordinator.on_tick(now, &mut b.out);
        b.complete_appends(now, None);
        assert_eq!(b.coordinator.groups()[GROUP].state(), GroupState::Empty);
    }

    #[test]
    fn an_active_groups_offsets_never_expire_however_old_their_commit() {
        // KAFKA-4682 before KIP-211: offsets expired by commit time even
        // while their group was consuming.
        let mut b = broker(&[]);
        let member = b.one_stable_member();
        b.commit(5_000, 1, &member, 42);
        b.complete_appends(5_000, None);
        tick_to(&mut b, 10 * RETENTION_MS, Some(&member));
        assert_eq!(b.coordinator.groups()[GROUP].state(), GroupState::Stable);
        assert_eq!(b.fetch(), Some((42, 2)));
        assert!(tombstones(&b).is_empty());
    }

    #[test]
    fn before_kip_211_an_active_groups_offsets_expire_a_retention_after_their_commit() {
        let mut b = broker(&[]);
        b.coordinator = GroupCoordinator::new(PARTITIONS)
            .with_offsets_retention(RETENTION_MS, CHECK_MS)
            .with_offsets_kept_while_group_active(false);
        b.coordinator.load(partition_for(GROUP, PARTITIONS), &[], 0);
        let member = b.one_stable_member();
        b.commit(5_000, 1, &member, 42);
        b.complete_appends(5_000, None);
        tick_to(&mut b, 5_000 + RETENTION_MS - 1, Some(&member));
        assert_eq!(b.fetch(), Some((42, 2)), "kept while the retention runs");
        tick_to(&mut b, 5_000 + RETENTION_MS + CHECK_MS, Some(&member));
        assert_eq!(b.coordinator.groups()[GROUP].state(), GroupState::Stable);
        assert_eq!(b.fetch(), None, "expired under a consuming group");
        b.complete_appends(5_000 + RETENTION_MS + CHECK_MS, None);
        assert_eq!(
            tombstones(&b),
            vec![GroupRecord::OffsetCommit(
                GROUP.into(),
                TopicPartition::new("orders", 0),
                None
            )],
            "the group itself stays"
        );
    }

    #[test]
    fn an_empty_groups_offsets_expire_a_retention_after_it_emptied_and_the_group_goes() {
        let mut b = broker(&[]);
        let member = b.one_stable_member();
        b.commit(5_000, 1, &member, 42);
        b.complete_appends(5_000, None);
        let emptied = 100_000;
        leave(&mut b, emptied, &member);
        // Committed long before: the retention counts from when it emptied.
        tick_to(&mut b, emptied + RETENTION_MS - 1, None);
        b.complete_appends(emptied + RETENTION_MS - 1, None);
        assert_eq!(b.fetch(), Some((42, 2)), "kept while the retention runs");
        tick_to(&mut b, emptied + RETENTION_MS + CHECK_MS, None);
        b.complete_appends(emptied + RETENTION_MS + CHECK_MS, None);
        assert_eq!(b.fetch(), None);
        assert!(!b.coordinator.groups().contains_key(GROUP), "group deleted");
        assert_eq!(
            tombstones(&b),
            vec![
                GroupRecord::OffsetCommit(GROUP.into(), TopicPartition::new("orders", 0), None),
                GroupRecord::GroupMetadata(GROUP.into(), None),
            ]
        );
        // A new coordinator loading the log finds neither.
        let reloaded = broker(&b.log);
        assert!(reloaded.coordinator.committed(GROUP).is_none());
        assert!(!reloaded.coordinator.groups().contains_key(GROUP));
    }

    #[test]
    fn a_commit_outside_group_management_expires_a_retention_after_it() {
        let mut b = broker(&[]);
        b.commit(1_000, -1, "", 7);
        b.complete_appends(1_000, None);
        tick_to(&mut b, 1_000 + RETENTION_MS - 1, None);
        assert_eq!(b.fetch(), Some((7, 2)));
        tick_to(&mut b, 1_000 + RETENTION_MS + CHECK_MS, None);
        assert_eq!(b.fetch(), None);
    }

    #[test]
    fn expired_offsets_come_back_when_their_tombstones_are_not_written() {
        let mut b = broker(&[]);
        b.commit(1_000, -1, "", 7);
        b.complete_appends(1_000, None);
        tick_to(&mut b, 1_000 + RETENTION_MS + CHECK_MS, None);
        assert_eq!(
            b.fetch(),
            None,
            "gone at once, as Kafka replays its records"
        );
        b.complete_appends(
            1_000 + RETENTION_MS + CHECK_MS,
            Some(Errors::NotEnoughReplicas),
        );
        assert_eq!(b.fetch(), Some((7, 2)));
    }

    #[test]
    fn an_offset_with_a_transactional_commit_pending_is_kept() {
        let mut b = broker(&[]);
        let member = b.one_stable_member();
        b.commit(5_000, 1, &member, 42);
        b.complete_appends(5_000, None);
        b.txn_commit(6_000, 1, &member, 50);
        b.complete_appends(6_000, None);
        leave(&mut b, 10_000, &member);
        tick_to(&mut b, 10 * RETENTION_MS, None);
        assert_eq!(b.fetch(), Some((42, 2)));
        assert!(b.coordinator.groups().contains_key(GROUP));
        b.marker(true);
        tick_to(&mut b, 20 * RETENTION_MS, None);
        assert_eq!(b.fetch(), None, "expired once the transaction is done");
    }
}

#[test]
fn a_deleted_topics_committed_offsets_do_not_come_back() {
    let deleted = ["orders".to_owned()];
    let mut b = Broker::leading(&[]);
    let member = b.one_stable_member();
    // A commit still being written at the deletion is answered, not applied.
    let r = b.commit(5_000, 1, &member, 42);
    b.coordinator
        .on_partitions_deleted(&deleted, 5_000, &mut b.out);
    b.complete_appends(5_000, None);
    assert_eq!(
        b.answer(r),
        Some(CoordinatorResponse::OffsetCommit {
            results: vec![(TopicPartition::new("orders", 0), None)]
        })
    );
    assert_eq!(b.fetch(), None);
    // Tombstones in the log that timed out waiting for the high watermark
    // stand: the offset stays deleted.
    let r = b.commit(6_000, 1, &member, 50);
    b.complete_appends(6_000, None);
    b.answer(r);
    assert_eq!(b.fetch(), Some((50, 2)));
    b.coordinator
        .on_partitions_deleted(&deleted, 7_000, &mut b.out);
    assert_eq!(b.complete_appends(12_000, Some(Errors::RequestTimedOut)), 1);
    assert_eq!(b.fetch(), None);
    // Tombstones the log refused leave the offset as it was.
    let r = b.commit(13_000, 1, &member, 60);
    b.complete_appends(13_000, None);
    b.answer(r);
    b.coordinator
        .on_partitions_deleted(&deleted, 14_000, &mut b.out);
    assert_eq!(
        b.complete_appends(14_000, Some(Errors::NotEnoughReplicas)),
        1
    );
    assert_eq!(b.fetch(), Some((60, 2)));
}
