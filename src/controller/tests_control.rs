//! The active controller's request handling, driven directly.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::MILLIS;

use super::active::{ActiveController, ControlEvent, ControllerConfig};
use super::rpc::{
    ControllerRequest, ControllerResponse, CreatableTopic, NewFlag, PreviousBrokerEpoch,
    NO_BROKER_EPOCH,
};
use crate::errors::Errors;
use crate::metadata::{
    LeaderRecoveryState, MetadataImage, PartitionRegistration as Registration, Uuid,
};

struct Fixture {
    active: ActiveController,
    rng: ChaCha8Rng,
    now: u64,
    epochs: Vec<u64>,
}

impl Fixture {
    /// Three registered, unfenced brokers and `orders` with 1 partition, RF 3.
    fn new(unclean: bool) -> Self {
        Self::with(ControllerConfig {
            unclean_leader_election: unclean,
            ..ControllerConfig::default()
        })
    }

    /// [`Fixture::new`] under `config`.
    fn with(config: ControllerConfig) -> Self {
        let mut f = Self {
            active: ActiveController::claim(config, MetadataImage::default(), 0, 0),
            rng: ChaCha8Rng::seed_from_u64(1),
            now: 0,
            epochs: vec![0],
        };
        for b in 1..=3 {
            let epoch = f.register(b, b as u128);
            f.epochs.push(epoch);
        }
        for b in 1..=3 {
            let offset = f.active.image().offset;
            let r = f.heartbeat(b, offset);
            assert!(
                matches!(
                    r,
                    ControllerResponse::BrokerHeartbeat {
                        is_fenced: false,
                        error: None,
                        ..
                    }
                ),
                "{r:?}"
            );
        }
        let r = f.handle(ControllerRequest::CreateTopics {
            topics: vec![CreatableTopic {
                name: "orders".into(),
                num_partitions: 1,
                replication_factor: 3,
                configs: vec![],
            }],
        });
        assert_eq!(
            r,
            ControllerResponse::CreateTopics {
                results: vec![("orders".into(), None)]
            }
        );
        f
    }

    fn handle(&mut self, request: ControllerRequest) -> ControllerResponse {
        self.active.handle(self.now, &mut self.rng, &request)
    }

    fn register(&mut self, broker_id: u32, incarnation: u128) -> u64 {
        self.register_after(broker_id, incarnation, -1)
    }

    /// Registers with the broker epoch a clean shutdown marker named (-1: none).
    fn register_after(&mut self, broker_id: u32, incarnation: u128, previous: i64) -> u64 {
        match self.handle(ControllerRequest::BrokerRegistration {
            broker_id,
            incarnation_id: Uuid(incarnation),
            previous_broker_epoch: PreviousBrokerEpoch(previous),
        }) {
            ControllerResponse::BrokerRegistration {
                error: None,
                broker_epoch,
            } => broker_epoch,
            other => panic!("registration failed: {other:?}"),
        }
    }

    fn heartbeat(&mut self, broker_id: u32, offset: u64) -> ControllerResponse {
        self.shutdown_heartbeat(broker_id, offset, false)
    }

    fn shutdown_heartbeat(
        &mut self,
        broker_id: u32,
        offset: u64,
        shut: bool,
    ) -> ControllerResponse {
        self.handle(ControllerRequest::BrokerHeartbeat {
            broker_id,
            broker_epoch: self.epochs[broker_id as usize],
            current_metadata_offset: offset,
            want_fence: false,
            want_shut_down: NewFlag(shut),
        })
    }

    fn partition(&self) -> crate::metadata::PartitionRegistration {
        self.active.image().partition("orders", 0).unwrap().clone()
    }

    fn topic_id(&self) -> Uuid {
        self.active.image().topics["orders"].id
    }

    fn alter(
        &mut self,
        broker: u32,
        leader_epoch: i32,
        isr: &[u32],
        partition_epoch: i32,
    ) -> ControllerResponse {
        let new_isr_with_epochs = isr.iter().map(|&b| (b, self.epochs[b as usize])).collect();
        self.handle(ControllerRequest::AlterPartition {
            broker_id: broker,
            broker_epoch: self.epochs[broker as usize],
            topic_id: self.topic_id(),
            partition_id: 0,
            leader_epoch,
            new_isr_with_epochs,
            partition_epoch,
        })
    }
}

fn partition_error(r: &ControllerResponse) -> (Option<Errors>, Option<Errors>) {
    match r {
        ControllerResponse::AlterPartition {
            error,
            partition_error,
            ..
        } => (*error, *partition_error),
        other => panic!("not an AlterPartition response: {other:?}"),
    }
}

#[test]
fn broker_epochs_are_registration_offsets_and_brokers_start_fenced() {
    let mut f = Fixture::new(false);
    assert_eq!(&f.epochs[1..], &[0, 1, 2]);
    let p = f.partition();
    assert_eq!(
        (p.replicas.clone(), p.isr.clone(), p.leader),
        (vec![1, 2, 3], vec![1, 2, 3], Some(1))
    );
    // A broker whose metadata has not reached its registration stays fenced.
    let epoch = f.register(4, 4);
    f.epochs.push(epoch);
    let r = f.heartbeat(4, epoch);
    assert!(
        matches!(
            r,
            ControllerResponse::BrokerHeartbeat {
                is_caught_up: false,
                is_fenced: true,
                ..
            }
        ),
        "{r:?}"
    );
    let r = f.heartbeat(4, epoch + 1);
    assert!(
        matches!(
            r,
            ControllerResponse::BrokerHeartbeat {
                is_caught_up: true,
                is_fenced: false,
                ..
            }
        ),
        "{r:?}"
    );
}

#[test]
fn an_expired_session_fences_the_broker_and_moves_its_leadership() {
    let mut f = Fixture::new(false);
    f.now = 8000 * MILLIS;
    for b in [2, 3] {
        let offset = f.active.image().offset;
        f.heartbeat(b, offset);
    }
    f.active.tick(f.now);
    assert!(f.active.image().is_unfenced(1), "not yet: 8 s < 9 s");
    f.now = 9000 * MILLIS;
    f.active.tick(f.now);
    assert!(!f.active.image().is_unfenced(1));
    let p = f.partition();
    assert_eq!(
        (p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch),
        (Some(2), vec![2, 3], 1, 1)
    );
    let events = f.active.take_events();
    assert_eq!(
        events.last(),
        Some(&ControlEvent::Fenced { broker: 1 }),
        "{events:?}"
    );
    // A heartbeat from the old registration's epoch still works (same incarnation),
    // and once caught up the broker is unfenced; leadership stays with 2.
    let offset = f.active.image().offset;
    let r = f.heartbeat(1, offset);
    assert!(
        matches!(
            r,
            ControllerResponse::BrokerHeartbeat {
                is_fenced: false,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(f.partition().leader, Some(2));
}

#[test]
fn a_restarted_incarnation_waits_for_the_old_session_to_expire() {
    let mut f = Fixture::new(false);
    let r = f.handle(ControllerRequest::BrokerRegistration {
        broker_id: 1,
        incarnation_id: Uuid(99),
        previous_broker_epoch: PreviousBrokerEpoch(-1),
    });
    assert_eq!(
        r,
        ControllerResponse::BrokerRegistration {
            error: Some(Errors::DuplicateBrokerRegistration),
            broker_epoch: 0
        }
    );
    f.now = 10_000 * MILLIS;
    let epoch = f.register(1, 99);
    assert!(epoch > f.epochs[1]);
    // The old epoch is stale now.
    let r = f.heartbeat(1, 100);
    assert!(
        matches!(
            r,
            ControllerResponse::BrokerHeartbeat {
                error: Some(Errors::StaleBrokerEpoch),
                ..
            }
        ),
        "{r:?}"
    );
    assert!(
        !f.active.image().is_unfenced(1),
        "a new registration starts fenced"
    );
    assert_ne!(f.partition().leader, Some(1), "its leadership moved off");
}

#[test]
fn without_an_isr_candidate_the_partition_goes_offline_unless_unclean_is_enabled() {
    for unclean in [false, true] {
        let mut f = Fixture::new(unclean);
        // Shrink the ISR to the leader alone.
        let p = f.partition();
        let r = f.alter(1, p.leader_epoch, &[1], p.partition_epoch);
        assert_eq!(partition_error(&r), (None, None));
        assert_eq!(f.partition().isr, vec![1]);
        // Fence the leader: 2 and 3 keep heartbeating.
        f.now = 9000 * MILLIS;
        for b in [2, 3] {
            let offset = f.active.image().offset;
            f.heartbeat(b, offset);
        }
        f.active.tick(f.now);
        let p = f.partition();
        if unclean {
            assert_eq!((p.leader, p.isr.clone()), (Some(2), vec![2]));
            assert_eq!(p.leader_recovery_state, LeaderRecoveryState::Recovering);
            let events = f.active.take_events();
            assert!(
                events.contains(&ControlEvent::UncleanElection {
                    partition: "orders-0".into(),
                    leader: 2
                }),
                "{events:?}"
            );
        } else {
            assert_eq!(
                (p.leader, p.isr.clone()),
                (None, vec![1]),
                "the last ISR member stays"
            );
        }
    }
}

/// The leader shrinks `orders-0`'s ISR to [1, 2]: the partition before
/// and after.
fn shrink_to_1_2(f: &mut Fixture) -> (Registration, Registration) {
    let p = f.partition();
    let r = f.alter(1, p.leader_epoch, &[1, 2], p.partition_epoch);
    assert_eq!(partition_error(&r), (None, None));
    let after = f.partition();
    assert_eq!(after.isr, vec![1, 2]);
    (p, after)
}

#[test]
fn an_alter_partition_without_member_epochs_skips_their_check() {
    // AlterPartition v2 (before KIP-903) carries no member epochs (-1):
    // the controller checks only that members are registered and unfenced.
    let mut f = Fixture::with(ControllerConfig::default());
    let (_, after) = shrink_to_1_2(&mut f);
    let request = |epoch_of_3| ControllerRequest::AlterPartition {
        broker_id: 1,
        broker_epoch: f.epochs[1],
        topic_id: f.topic_id(),
        partition_id: 0,
        leader_epoch: after.leader_epoch,
        new_isr_with_epochs: vec![(1, f.epochs[1]), (2, f.epochs[2]), (3, epoch_of_3)],
        partition_epoch: after.partition_epoch,
    };
    let (stale, none) = (request(f.epochs[3] + 100), request(NO_BROKER_EPOCH));
    let r = f.handle(stale);
    assert_eq!(partition_error(&r), (None, Some(Errors::IneligibleReplica)));
    let r = f.handle(none);
    assert_eq!(partition_error(&r), (None, None));
    assert_eq!(f.partition().isr, vec![1, 2, 3]);
}

#[test]
fn alter_partition_is_checked_against_every_epoch() {
    // Before 3.6 (the fixture's metadata version), a shrink bumps the
    // leader epoch too, and an AlterPartition of the old one is fenced.
    let mut f = Fixture::with(ControllerConfig {
        leader_epoch_bump_on_isr_shrink: true,
        ..ControllerConfig::default()
    });
    // Shrink: accepted, the leader epoch and partition epoch move.
    let (p, after) = shrink_to_1_2(&mut f);
    assert_eq!((after.leader_epoch, after.partition_epoch), (1, 1));
    // The same request again: its partition epoch is old.
    let r = f.alter(1, after.leader_epoch, &[1], p.partition_epoch);
    assert_eq!(
        partition_error(&r),
        (None, Some(Errors::InvalidUpdateVersion))
    );
    // An old leader epoch.
    let r = f.alter(1, p.leader_epoch, &[1], after.partition_epoch);
    assert_eq!(partition_error(&r), (None, Some(Errors::FencedLeaderEpoch)));
    // Not the leader.
    let r = f.alter(2, after.leader_epoch, &[2], after.partition_epoch);
    assert_eq!(partition_error(&r), (None, Some(Errors::InvalidRequest)));
    // The leader's own broker epoch is stale.
    let mut stale = f.epochs.clone();
    stale[1] += 100;
    std::mem::swap(&mut f.epochs, &mut stale);
    let r = f.alter(1, after.leader_epoch, &[1], after.partition_epoch);
    assert_eq!(partition_error(&r), (Some(Errors::StaleBrokerEpoch), None));
    std::mem::swap(&mut f.epochs, &mut stale);
    // Expanding with a replica whose broker epoch the leader saw is old (KIP-903).
    f.epochs[3] += 100;
    let r = f.alter(1, after.leader_epoch, &[1, 2, 3], after.partition_epoch);
    assert_eq!(partition_error(&r), (None, Some(Errors::IneligibleReplica)));
    f.epochs[3] -= 100;
    // With the right epoch the expansion goes through; it bumps only the partition epoch.
    let r = f.alter(1, after.leader_epoch, &[1, 2, 3], after.partition_epoch);
    assert_eq!(partition_error(&r), (None, None));
    let grown = f.partition();
    assert_eq!(
        (grown.isr.clone(), grown.leader_epoch, grown.partition_epoch),
        (vec![1, 2, 3], 1, 2)
    );
}

#[test]
fn from_3_6_an_isr_shrink_keeps_the_leader_epoch() {
    // KAFKA-15021: only the partition epoch moves, from AlterPartition and
    // from fencing alike.
    let mut f = Fixture::new(false);
    let (_, after) = shrink_to_1_2(&mut f);
    assert_eq!((after.leader_epoch, after.partition_epoch), (0, 1));
    // The leader goes on with the same leader epoch.
    let r = f.alter(1, after.leader_epoch, &[1], after.partition_epoch);
    assert_eq!(partition_error(&r), (None, None));
    assert_eq!(f.partition().leader_epoch, 0);
}

#[test]
fn topics_need_enough_unfenced_brokers_and_exist_once() {
    let mut f = Fixture::new(false);
    let create = |name: &str, rf| ControllerRequest::CreateTopics {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: 2,
            replication_factor: rf,
            configs: vec![],
        }],
    };
    let r = f.handle(create("orders", 3));
    assert_eq!(
        r,
        ControllerResponse::CreateTopics {
            results: vec![("orders".into(), Some(Errors::TopicAlreadyExists))]
        }
    );
    let r = f.handle(create("wide", 4));
    assert_eq!(
        r,
        ControllerResponse::CreateTopics {
            results: vec![("wide".into(), Some(Errors::InvalidReplicationFactor))]
        }
    );
    let r = f.handle(create("second", 2));
    assert_eq!(
        r,
        ControllerResponse::CreateTopics {
            results: vec![("second".into(), None)]
        }
    );
    // The second topic starts one broker further round the ring.
    let image = f.active.image();
    assert_eq!(image.partition("second", 0).unwrap().replicas, vec![2, 3]);
    assert_eq!(image.partition("second", 1).unwrap().replicas, vec![3, 1]);
    // Every record made has consecutive offsets.
    let records = f.active.take_records();
    assert!(records.windows(2).all(|w| w[1].0 == w[0].0 + 1));
}

#[test]
fn create_partitions_grows_a_topic_with_its_replication_factor() {
    let mut f = Fixture::new(false);
    let grow = |name: &str, count| ControllerRequest::CreatePartitions {
        topics: vec![(String::from(name), count)],
    };
    // "orders" has 1 partition of 3 replicas.
    let r = f.handle(grow("orders", 1));
    assert_eq!(
        r,
        ControllerResponse::CreatePartitions {
            results: vec![("orders".into(), Some(Errors::InvalidPartitions))]
        },
        "not an increase"
    );
    let r = f.handle(grow("payments", 4));
    assert_eq!(
        r,
        ControllerResponse::CreatePartitions {
            results: vec![("payments".into(), Some(Errors::UnknownTopicOrPartition))]
        }
    );
    let r = f.handle(grow("orders", 3));
    assert_eq!(
        r,
        ControllerResponse::CreatePartitions {
            results: vec![("orders".into(), None)]
        }
    );
    let image = f.active.image();
    for p in 1..3 {
        let part = image.partition("orders", p).expect("created");
        assert_eq!(part.replicas.len(), 3, "the topic's replication factor");
        assert_eq!(part.isr, part.replicas, "every replica in sync");
        assert_eq!(part.leader, Some(part.replicas[0]), "the first leads");
        assert_eq!(part.leader_epoch, 0);
    }
    // Round the ring from the partition's index.
    assert_eq!(image.partition("orders", 1).unwrap().replicas[0], 2);
    assert_eq!(image.partition("orders", 2).unwrap().replicas[0], 3);
    assert!(image.partition("orders", 3).is_none());
}

#[test]
fn delete_topics_removes_a_topic_with_its_partitions_and_configs() {
    let mut f = Fixture::new(false);
    let delete = |name: &str| ControllerRequest::DeleteTopics {
        names: vec![String::from(name)],
    };
    let id = f.active.image().topics["orders"].id;
    let r = f.handle(delete("payments"));
    assert_eq!(
        r,
        ControllerResponse::DeleteTopics {
            results: vec![("payments".into(), Some(Errors::UnknownTopicOrPartition))]
        }
    );
    let r = f.handle(delete("orders"));
    assert_eq!(
        r,
        ControllerResponse::DeleteTopics {
            results: vec![("orders".into(), None)]
        }
    );
    let image = f.active.image();
    assert!(!image.topics.contains_key("orders"));
    assert!(image.topic_by_id(id).is_none());
    assert!(image.partition("orders", 0).is_none());
    assert_eq!(
        f.active.take_records().last().map(|(_, r)| r.clone()),
        Some(crate::metadata::MetadataRecord::RemoveTopicRecord { topic_id: id })
    );
    // Deleted once: a second deletion finds nothing.
    let r = f.handle(delete("orders"));
    assert_eq!(
        r,
        ControllerResponse::DeleteTopics {
            results: vec![("orders".into(), Some(Errors::UnknownTopicOrPartition))]
        }
    );
}

#[test]
fn without_delete_topic_enable_deletion_is_disabled() {
    let mut f = Fixture::with(ControllerConfig {
        delete_topic_enable: false,
        ..ControllerConfig::default()
    });
    let r = f.handle(ControllerRequest::DeleteTopics {
        names: vec!["orders".into()],
    });
    assert_eq!(
        r,
        ControllerResponse::DeleteTopics {
            results: vec![("orders".into(), Some(Errors::TopicDeletionDisabled))]
        }
    );
    assert!(f.active.image().topics.contains_key("orders"));
}

/// `(in_controlled_shutdown, should_shut_down, is_fenced)` of a heartbeat answer.
fn shutdown_flags(r: &ControllerResponse) -> (bool, bool, bool) {
    match r {
        ControllerResponse::BrokerHeartbeat {
            error: None,
            in_controlled_shutdown,
            should_shut_down,
            is_fenced,
            ..
        } => (in_controlled_shutdown.0, should_shut_down.0, *is_fenced),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_leader_asking_to_shut_down_is_moved_out_then_granted_once_the_others_caught_up() {
    let mut f = Fixture::new(false);
    assert_eq!(f.partition().leader, Some(1));
    let offset = f.active.image().offset;
    // CONTROLLED_SHUTDOWN: leadership moves to another ISR member, the
    // broker leaves the ISR, and it may not shut down yet.
    let r = f.shutdown_heartbeat(1, offset, true);
    assert_eq!(shutdown_flags(&r), (true, false, false));
    let p = f.partition();
    assert_eq!(p.leader, Some(2));
    assert_eq!(p.isr, vec![2, 3]);
    assert!(f.active.image().brokers[&1].in_controlled_shutdown);
    assert!(!f.active.image().is_active(1));
    let events = f.active.take_events();
    assert!(
        events.contains(&ControlEvent::ControlledShutdown { broker: 1 }),
        "{events:?}"
    );
    // Still CONTROLLED_SHUTDOWN until the active brokers' metadata has
    // passed the records that moved its leaderships.
    let r = f.shutdown_heartbeat(1, offset, true);
    assert_eq!(shutdown_flags(&r), (true, false, false));
    let now = f.active.image().offset;
    f.heartbeat(2, now);
    let r = f.shutdown_heartbeat(1, offset, true);
    assert_eq!(
        shutdown_flags(&r),
        (true, false, false),
        "broker 3 is behind"
    );
    f.heartbeat(3, now);
    let r = f.shutdown_heartbeat(1, offset, true);
    assert_eq!(
        shutdown_flags(&r),
        (false, true, true),
        "SHUTDOWN_NOW: granted, fenced"
    );
    assert!(!f.active.image().is_unfenced(1));
    let events = f.active.take_events();
    assert!(
        events.contains(&ControlEvent::ShutdownNow { broker: 1 }),
        "{events:?}"
    );
    // Its session is over: a new incarnation registers at once.
    let epoch = f.register(1, 99);
    assert!(epoch > f.epochs[1]);
}

#[test]
fn a_broker_leading_nothing_is_granted_its_shutdown_at_once() {
    let mut f = Fixture::new(false);
    assert_ne!(f.partition().leader, Some(3));
    let offset = f.active.image().offset;
    let r = f.shutdown_heartbeat(3, offset, true);
    assert_eq!(shutdown_flags(&r), (false, true, true));
    // Fenced, it left the ISR as a fenced broker does.
    assert_eq!(f.partition().isr, vec![1, 2]);
}

#[test]
fn an_isr_member_in_controlled_shutdown_cannot_rejoin_an_isr() {
    let mut f = Fixture::new(false);
    let offset = f.active.image().offset;
    f.shutdown_heartbeat(1, offset, true);
    let p = f.partition();
    let mut isr = p.isr.clone();
    isr.push(1);
    let r = f.alter(2, p.leader_epoch, &isr, p.partition_epoch);
    assert_eq!(partition_error(&r), (None, Some(Errors::IneligibleReplica)));
}

#[test]
fn before_kip_841_a_fenced_member_or_one_in_controlled_shutdown_is_taken_into_the_isr() {
    let before_3_3 = ControllerConfig {
        fenced_replicas_kept_out_of_isr: false,
        ..ControllerConfig::default()
    };
    // Controlled shutdown of leader 1: its leadership moves and it leaves
    // the ISR as from 3.3, but its registration does not say so (no
    // InControlledShutdown before metadata version 3.3-IV3), and leader 2
    // may take it back (Kafka 3.2's AlterPartition has no eligibility
    // check; 3.3 refuses it, `an_isr_member_in_controlled_shutdown_cannot_rejoin_an_isr`).
    let mut f = Fixture::with(before_3_3);
    let offset = f.active.image().offset;
    let r = f.shutdown_heartbeat(1, offset, true);
    assert_eq!(shutdown_flags(&r), (true, false, false));
    let p = f.partition();
    assert_eq!((p.leader, p.isr.clone()), (Some(2), vec![2, 3]));
    assert!(!f.active.image().brokers[&1].in_controlled_shutdown);
    assert!(f.active.image().is_active(1), "3.2's unfenced is active");
    let r = f.alter(2, p.leader_epoch, &[2, 3, 1], p.partition_epoch);
    assert_eq!(partition_error(&r), (None, None));
    assert_eq!(f.partition().isr, vec![2, 3, 1]);
    // A fenced broker (its session expired) too; from 3.3 it is refused.
    for (config, refused) in [
        (before_3_3, None),
        (ControllerConfig::default(), Some(Errors::IneligibleReplica)),
    ] {
        let mut f = Fixture::with(config);
        f.now = 9000 * MILLIS;
        for b in [1, 2] {
            let offset = f.active.image().offset;
            f.heartbeat(b, offset);
        }
        f.active.tick(f.now);
        assert!(!f.active.image().is_unfenced(3));
        let p = f.partition();
        assert_eq!(p.isr, vec![1, 2]);
        let r = f.alter(1, p.leader_epoch, &[1, 2, 3], p.partition_epoch);
        assert_eq!(partition_error(&r), (None, refused));
    }
}

/// KIP-966 with min.insync.replicas 2: the followers are fenced (the last
/// to go joins the ELR), then the leader (the ISR empties, it joins the ELR
/// and is the last known leader). Returns the fixture, the leader and the
/// follower in the ELR.
fn elr_last_replica_standing() -> (Fixture, u32, u32) {
    let mut f = Fixture::with(ControllerConfig {
        eligible_leader_replicas: true,
        min_insync_replicas: 2,
        ..ControllerConfig::default()
    });
    let leader = f.partition().leader.unwrap();
    let offset = f.active.image().offset;
    f.now = 5_000 * MILLIS;
    f.heartbeat(leader, offset);
    f.now = 10_000 * MILLIS;
    f.heartbeat(leader, offset);
    f.active.tick(f.now);
    let p = f.partition();
    assert_eq!(p.isr, vec![leader], "{p:?}");
    assert_eq!(p.elr.len(), 1, "the follower fenced last joins: {p:?}");
    let in_elr = p.elr[0];
    assert_ne!(in_elr, leader);
    // The leader goes silent too.
    f.now = 20_000 * MILLIS;
    f.active.tick(f.now);
    let p = f.partition();
    assert_eq!(p.leader, None);
    assert!(p.isr.is_empty(), "{p:?}");
    let mut elr = vec![leader, in_elr];
    elr.sort_by_key(|b| p.replicas.iter().position(|r| r == b));
    assert_eq!(p.elr, elr);
    assert_eq!(p.last_known_elr, vec![leader]);
    (f, leader, in_elr)
}

#[test]
fn elr_an_unclean_restart_leaves_the_elr_and_the_partition_waits_for_an_elr_member() {
    let (mut f, leader, in_elr) = elr_last_replica_standing();
    f.active.take_events();
    // The leader restarts without a clean shutdown marker (PreviousBrokerEpoch -1).
    let old = f.epochs[leader as usize];
    let epoch = f.register_after(leader, 77, -1);
    f.epochs[leader as usize] = epoch;
    assert!(f
        .active
        .take_events()
        .contains(&ControlEvent::ShutdownDetected {
            broker: leader,
            epoch: old,
            clean: false,
        }));
    let p = f.partition();
    assert_eq!(p.elr, vec![in_elr], "it left the ELR: {p:?}");
    // Unfenced, it is in neither ISR nor ELR: the partition stays offline.
    let offset = f.active.image().offset;
    f.heartbeat(leader, offset);
    assert!(f.active.image().is_unfenced(leader));
    assert_eq!(f.partition().leader, None);
    // The ELR member comes back and is elected, cleanly, ISR itself.
    let offset = f.active.image().offset;
    f.heartbeat(in_elr, offset);
    let p = f.partition();
    assert_eq!(p.leader, Some(in_elr));
    assert_eq!(p.isr, vec![in_elr]);
    assert!(p.elr.is_empty() && p.last_known_elr.is_empty(), "{p:?}");
    assert_eq!(p.leader_recovery_state, LeaderRecoveryState::Recovered);
}

#[test]
fn elr_a_clean_restart_keeps_its_elr_membership_and_is_elected() {
    let (mut f, leader, in_elr) = elr_last_replica_standing();
    let old = f.epochs[leader as usize];
    let epoch = f.register_after(leader, 77, old as i64);
    f.epochs[leader as usize] = epoch;
    assert!(f
        .active
        .take_events()
        .contains(&ControlEvent::ShutdownDetected {
            broker: leader,
            epoch: old,
            clean: true,
        }));
    assert_eq!(f.partition().elr.len(), 2);
    let offset = f.active.image().offset;
    f.heartbeat(leader, offset);
    let p = f.partition();
    assert_eq!(p.leader, Some(leader), "elected from the ELR: {p:?}");
    assert_eq!(p.isr, vec![leader]);
    assert_eq!(p.elr, vec![in_elr]);
}

#[test]
fn without_elr_the_last_isr_member_stays_and_is_reelected_after_an_unclean_restart() {
    let mut f = Fixture::with(ControllerConfig {
        min_insync_replicas: 2,
        ..ControllerConfig::default()
    });
    let leader = f.partition().leader.unwrap();
    let offset = f.active.image().offset;
    f.now = 10_000 * MILLIS;
    f.heartbeat(leader, offset);
    f.active.tick(f.now);
    f.now = 20_000 * MILLIS;
    f.active.tick(f.now);
    assert_eq!(f.partition().isr, vec![leader]);
    let epoch = f.register_after(leader, 77, -1);
    f.epochs[leader as usize] = epoch;
    let offset = f.active.image().offset;
    f.heartbeat(leader, offset);
    let p = f.partition();
    assert_eq!(p.leader, Some(leader), "3.x's last replica standing: {p:?}");
    assert!(p.elr.is_empty());
}

/// KAFKA-13959 (3.3): a fenced broker is caught up, and unfenced, once its
/// metadata reached its own RegisterBrokerRecord; before 3.3 once it
/// reached the controller's last committed offset (Kafka 3.2's
/// `calculateNextBrokerState`), which records committed after its
/// registration keep ahead of it.
#[test]
fn a_fenced_broker_is_unfenced_at_its_registration_from_3_3_at_the_last_committed_offset_before() {
    let caught_up_and_fenced = |r: &ControllerResponse| match r {
        ControllerResponse::BrokerHeartbeat {
            is_caught_up,
            is_fenced,
            error: None,
            ..
        } => (*is_caught_up, *is_fenced),
        other => panic!("{other:?}"),
    };
    for unfence_at_registration_offset in [true, false] {
        let mut f = Fixture::with(ControllerConfig {
            unfence_at_registration_offset,
            ..ControllerConfig::default()
        });
        let epoch = f.register(4, 4);
        f.epochs.push(epoch);
        // Records committed after the registration: the topic's, made
        // after it here, and the others' up to now.
        f.handle(ControllerRequest::CreateTopics {
            topics: vec![CreatableTopic {
                name: "later".into(),
                num_partitions: 1,
                replication_factor: 3,
                configs: vec![],
            }],
        });
        let last = f.active.image().offset - 1;
        assert!(last > epoch);
        f.active.set_last_committed_offset(Some(last));
        // Its metadata holds its registration, not the later records.
        let r = f.heartbeat(4, epoch + 1);
        let want = if unfence_at_registration_offset {
            (true, false)
        } else {
            (false, true)
        };
        assert_eq!(
            caught_up_and_fenced(&r),
            want,
            "unfence_at_registration_offset = {unfence_at_registration_offset}"
        );
        if !unfence_at_registration_offset {
            // One record short of the last committed one: still fenced.
            let r = f.heartbeat(4, last);
            assert_eq!(caught_up_and_fenced(&r), (false, true));
            let r = f.heartbeat(4, last + 1);
            assert_eq!(caught_up_and_fenced(&r), (true, false));
        }
    }
}
