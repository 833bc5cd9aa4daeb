//! The ReplicaManager driven without a simulator: inputs in, effects out.
//! Each test builds broker 1's replica of `t-0` from a metadata image and
//! asserts what it sends, observes and writes.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use sim::MILLIS;

use super::config::BrokerConfig;
use super::purgatory::{FetchParams, ReplyTo};
use super::{BrokerObs, BrokerTimer, ReplicaManager};
use crate::controller::rpc::{ControllerRequest, ControllerResponse};
use crate::errors::Errors;
use crate::log::{Record, RecordBatch};
use crate::metadata::{MetadataImage, MetadataRecord, Uuid, NO_LEADER_CHANGE};
use crate::node::{Address, Effect, Observation, TestEnv};
use crate::protocol::{
    FetchMetadata, FetchPartition, FetchedPartition, IsolationLevel, KafkaMsg, KafkaResponse,
    Message, ProduceData, TopicIdPartition, Topics,
};

const TOPIC_ID: Uuid = Uuid(7);
const CLIENT: Address = Address::Client(0);

pub(super) fn topics() -> Arc<Topics> {
    Arc::new(Topics::new(["t".to_owned()]))
}

pub(super) fn tp() -> TopicIdPartition {
    topics().partition("t", 0).expect("t")
}

/// `t-0` with replicas 1, 2, 3 as the records leave it: created with
/// `leader` and `isr`, then each of `changes` applied.
pub(super) fn image(
    min_insync: u32,
    leader: u32,
    isr: &[u32],
    changes: &[(i32, Option<Vec<u32>>)],
) -> MetadataImage {
    let mut image = MetadataImage::default();
    // Brokers 1..=3, unfenced, with the epochs their fetches carry.
    let mut records: Vec<MetadataRecord> = (1..=3)
        .map(|id| MetadataRecord::RegisterBrokerRecord {
            broker_id: id,
            incarnation_id: crate::metadata::Uuid(u128::from(id)),
            broker_epoch: 50 + u64::from(id),
            fenced: false,
        })
        .collect();
    records.extend([
        MetadataRecord::TopicRecord {
            name: "t".to_owned(),
            topic_id: TOPIC_ID,
        },
        MetadataRecord::ConfigRecord {
            resource_name: "t".to_owned(),
            name: "min.insync.replicas".to_owned(),
            value: min_insync.to_string(),
        },
        MetadataRecord::PartitionRecord {
            partition_id: 0,
            topic_id: TOPIC_ID,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
            leader: leader as i32,
            leader_epoch: 0,
            partition_epoch: 0,
            eligible_leader_replicas: Vec::new(),
            last_known_elr: Vec::new(),
        },
    ]);
    for (leader, isr) in changes {
        records.push(MetadataRecord::PartitionChangeRecord {
            partition_id: 0,
            topic_id: TOPIC_ID,
            isr: isr.clone(),
            leader: *leader,
            leader_recovery_state: None,
            eligible_leader_replicas: None,
            last_known_elr: None,
        });
    }
    for (offset, r) in records.iter().enumerate() {
        image.apply(offset as u64, r);
    }
    image
}

/// Broker 1, registered, with `image` applied.
pub(super) fn broker(config: BrokerConfig, image: &MetadataImage) -> (ReplicaManager, TestEnv) {
    let mut t = TestEnv::new(1);
    let mut rm = ReplicaManager::boot(
        1,
        config,
        &topics(),
        &MetadataImage::default(),
        &mut t.env(),
        &BTreeMap::new(),
    );
    rm.set_broker_epoch(Some(100));
    rm.apply_delta(&mut t.env(), image);
    t.take();
    (rm, t)
}

fn records(n: usize) -> Rc<RecordBatch> {
    records_of((-1, -1, -1), n)
}

/// `n` records from producer (id, epoch, base sequence).
fn records_of(producer: (i64, i16, i32), n: usize) -> Rc<RecordBatch> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            key: None,
            value: Some(vec![i as u8; 8]),
            timestamp_ms: 0,
            headers: Vec::new(),
        })
        .collect();
    Rc::new(RecordBatch::of(0, -1, producer, &records))
}

pub(super) fn produce(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    correlation_id: u64,
    acks: i16,
    n: usize,
) {
    let data = ProduceData {
        tp: tp(),
        batch: records(n),
    };
    let to = ReplyTo {
        to: CLIENT,
        connection: crate::protocol::Connection::Producer,
        correlation_id,
    };
    rm.handle_produce(&mut t.env(), to, acks, 30_000, vec![data]);
}

/// `t-0` in a Fetch from `offset`, without leader epochs.
pub(super) fn fetch_partition(offset: u64) -> FetchPartition {
    FetchPartition {
        tp: tp(),
        current_leader_epoch: -1,
        fetch_offset: offset,
        last_fetched_epoch: None,
    }
}

/// Follower `replica` fetches `t-0` from `offset` (no waiting).
fn follower_fetch(rm: &mut ReplicaManager, t: &mut TestEnv, replica: u32, offset: u64) {
    let request = fetch_partition(offset);
    let to = ReplyTo {
        to: Address::Node(replica),
        connection: crate::protocol::Connection::ReplicaFetcher,
        correlation_id: 1,
    };
    rm.handle_fetch(
        &mut t.env(),
        to,
        FetchParams {
            replica: Some((replica, 50 + u64::from(replica))),
            max_wait_ms: 0,
            isolation_level: IsolationLevel::ReadUncommitted,
        },
        FetchMetadata::SESSIONLESS,
        vec![request],
        Vec::new(),
    );
}

pub(super) fn high_watermark(rm: &ReplicaManager) -> u64 {
    rm.partitions()[&tp()].log.high_watermark()
}

/// Produce responses sent to the client so far: (correlation id, error, base offset).
fn produce_responses(t: &TestEnv) -> Vec<(u64, Option<Errors>, i64)> {
    t.sent()
        .into_iter()
        .filter_map(|(to, msg)| match (to, msg) {
            (
                CLIENT,
                Message::Kafka(KafkaMsg::Response {
                    correlation_id,
                    response: KafkaResponse::Produce { partitions },
                    ..
                }),
            ) => Some((
                *correlation_id,
                partitions[0].error,
                partitions[0].base_offset,
            )),
            _ => None,
        })
        .collect()
}

/// The ISRs proposed to the controller.
fn proposals(rm: &mut ReplicaManager) -> Vec<Vec<u32>> {
    rm.take_alter_partitions(u64::MAX)
        .into_iter()
        .map(|(_, request)| match request {
            ControllerRequest::AlterPartition {
                new_isr_with_epochs,
                ..
            } => new_isr_with_epochs.iter().map(|(id, _)| *id).collect(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn the_high_watermark_is_the_least_log_end_of_the_isr_and_held_below_min_insync() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(2, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, 1, 5);
    assert_eq!(
        produce_responses(&t),
        vec![(1, None, 0)],
        "acks=1 answers at once"
    );
    assert_eq!(high_watermark(&rm), 0);
    follower_fetch(&mut rm, &mut t, 2, 5);
    assert_eq!(high_watermark(&rm), 0, "follower 3 has nothing yet");
    follower_fetch(&mut rm, &mut t, 3, 3);
    assert_eq!(
        high_watermark(&rm),
        3,
        "the least log end offset of the ISR"
    );
    follower_fetch(&mut rm, &mut t, 3, 5);
    assert_eq!(high_watermark(&rm), 5);
    let observed = t.observed();
    assert!(
        observed.contains(&&Observation::Broker(BrokerObs::HighWatermark {
            partition: tp(),
            high_watermark: 5
        }))
    );

    // An ISR of the leader alone, under min.insync.replicas 2: the high
    // watermark holds (KAFKA-15583) even though the leader has more.
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(2, 1, &[1], &[]));
    produce(&mut rm, &mut t, 1, 1, 4);
    assert_eq!(high_watermark(&rm), 0);
    // With min.insync.replicas 1, the leader alone moves it.
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1], &[]));
    produce(&mut rm, &mut t, 1, 1, 4);
    assert_eq!(high_watermark(&rm), 4);
}

#[test]
fn before_kafka_15583_the_leader_alone_moves_the_high_watermark_and_min_insync_is_as_set() {
    // 3.7 on: min.insync.replicas 4 on three replicas counts as 3.
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(4, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, -1, 2);
    assert!(
        produce_responses(&t).is_empty(),
        "appended, waits for the ISR"
    );
    follower_fetch(&mut rm, &mut t, 2, 2);
    follower_fetch(&mut rm, &mut t, 3, 2);
    assert_eq!(produce_responses(&t), vec![(1, None, 0)]);

    // 3.6: taken as set, so acks=all is refused.
    let old = BrokerConfig {
        hw_held_below_min_isr: false,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = broker(old, &image(4, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 2, -1, 2);
    assert_eq!(
        produce_responses(&t),
        vec![(2, Some(Errors::NotEnoughReplicas), -1)]
    );
    // 3.6: an ISR of the leader alone under min.insync.replicas 2 moves
    // the high watermark: acks=1 records become readable on one replica.
    let (mut rm, mut t) = broker(old, &image(2, 1, &[1], &[]));
    produce(&mut rm, &mut t, 3, 1, 4);
    assert_eq!(high_watermark(&rm), 4);
}

#[test]
fn acks_all_waits_for_the_high_watermark_and_refuses_a_small_isr() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(2, 1, &[1, 2], &[]));
    produce(&mut rm, &mut t, 7, -1, 3);
    assert!(produce_responses(&t).is_empty(), "waits for the ISR");
    follower_fetch(&mut rm, &mut t, 2, 3);
    assert_eq!(produce_responses(&t), vec![(7, None, 0)]);

    // Below min.insync.replicas the leader refuses before appending.
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(2, 1, &[1], &[]));
    produce(&mut rm, &mut t, 8, -1, 3);
    assert_eq!(
        produce_responses(&t),
        vec![(8, Some(Errors::NotEnoughReplicas), -1)]
    );
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 0);
}

#[test]
fn an_append_whose_isr_shrank_before_it_completed_is_not_enough_replicas_after_append() {
    // Every message is flushed: the produce also waits for its fsync.
    let mut config = BrokerConfig::default();
    config.log.flush_interval_messages = 1;
    let (mut rm, mut t) = broker(config, &image(2, 1, &[1, 2], &[]));
    produce(&mut rm, &mut t, 9, -1, 2);
    let fsync = t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Fsync { file, token } if file.ends_with(".log") => Some(*token),
            _ => None,
        })
        .expect("the append is flushed");
    follower_fetch(&mut rm, &mut t, 2, 2);
    assert_eq!(high_watermark(&rm), 2);
    assert!(
        produce_responses(&t).is_empty(),
        "its flush is not on disk yet"
    );
    // The ISR shrinks to the leader alone (committed by the controller).
    rm.apply_delta(
        &mut t.env(),
        &image(2, 1, &[1, 2], &[(NO_LEADER_CHANGE, Some(vec![1]))]),
    );
    rm.on_fsync(&mut t.env(), fsync);
    assert_eq!(
        produce_responses(&t),
        vec![(9, Some(Errors::NotEnoughReplicasAfterAppend), -1)]
    );
}

#[test]
fn the_isr_shrinks_after_replica_lag_time_max_ms() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    t.now = 20_000 * MILLIS;
    follower_fetch(&mut rm, &mut t, 3, 2);
    t.now = 29_000 * MILLIS;
    rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
    assert!(
        proposals(&mut rm).is_empty(),
        "within replica.lag.time.max.ms"
    );
    t.now = 31_000 * MILLIS;
    rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
    assert_eq!(
        proposals(&mut rm),
        vec![vec![1, 3]],
        "follower 2 never caught up"
    );
}

/// Broker 1 leading epoch 0 of `tp()` with ISR [1, 3]: 10 records
/// produced, follower 3 fetched up to 5, which is the high watermark.
fn leading_ten_with_follower_at_five(config: BrokerConfig) -> (ReplicaManager, TestEnv) {
    let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 3], &[]));
    produce(&mut rm, &mut t, 1, 1, 10);
    follower_fetch(&mut rm, &mut t, 3, 5);
    assert_eq!(high_watermark(&rm), 5);
    (rm, t)
}

#[test]
fn a_follower_joins_the_isr_only_at_the_high_watermark_and_the_epoch_start() {
    let (mut rm, mut t) = leading_ten_with_follower_at_five(BrokerConfig::default());
    // It is elected again (epoch 1): the epoch starts at its log end, 10.
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1, 3], &[(1, None)]));
    // Follower 2 at the high watermark but below the epoch start (KAFKA-7128).
    follower_fetch(&mut rm, &mut t, 2, 5);
    assert!(proposals(&mut rm).is_empty());
    follower_fetch(&mut rm, &mut t, 2, 10);
    assert_eq!(proposals(&mut rm), vec![vec![1, 3, 2]]);
    // Before KAFKA-7128 (2.0.0): at the high watermark it is proposed,
    // without the records 5..10 the ISR may hold committed (the leader's
    // high watermark catches up only with its followers' fetches).
    let before = BrokerConfig {
        isr_join_requires_epoch_start_offset: false,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = leading_ten_with_follower_at_five(before);
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1, 3], &[(1, None)]));
    follower_fetch(&mut rm, &mut t, 2, 5);
    assert_eq!(proposals(&mut rm), vec![vec![1, 3, 2]]);
}

#[test]
fn a_leader_elected_again_keeps_what_it_knew_of_its_followers_log_ends() {
    let (mut rm, mut t) = leading_ten_with_follower_at_five(BrokerConfig::default());
    follower_fetch(&mut rm, &mut t, 3, 10);
    follower_fetch(&mut rm, &mut t, 2, 4);
    // Elected again (epoch 1) without having stepped down: Kafka 3.8's
    // `makeLeader` resets its replicas with `isNewLeader` false, which
    // keeps their log end offsets.
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1, 3], &[(1, None)]));
    let p = &rm.partitions()[&tp()];
    let leader = p.leader_state().expect("leads");
    assert_eq!(p.leader_epoch, 1);
    assert_eq!(leader.followers[&3].log_end_offset, 10);
    assert_eq!(
        leader.followers[&2].log_end_offset, 4,
        "out of the ISR, kept"
    );
    // Silent past replica.lag.time.max.ms, follower 3 is still at the
    // leader's log end (KAFKA-7152), so it stays in the ISR; a new
    // leader, knowing no log end, would shrink it out.
    let lag = BrokerConfig::default().replica_lag_time_max_ms;
    assert!(p.shrink_candidates(lag * 3, lag).is_empty());
}

#[test]
fn the_latest_offset_is_not_available_while_the_high_watermark_lags_the_epoch_start() {
    use crate::protocol::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
    let (mut rm, mut t) = leading_ten_with_follower_at_five(BrokerConfig::default());
    let list = |rm: &ReplicaManager, timestamp| match rm.list_offsets(
        tp(),
        timestamp,
        -1,
        IsolationLevel::ReadUncommitted,
    ) {
        KafkaResponse::ListOffsets { error, offset, .. } => (error, offset),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(list(&rm, LATEST_TIMESTAMP), (None, 5));
    // Elected again (epoch 1): the epoch starts at 10, above the high
    // watermark 5, which the last leader may have exposed past (KIP-207).
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1, 3], &[(1, None)]));
    assert_eq!(
        list(&rm, LATEST_TIMESTAMP),
        (Some(Errors::OffsetNotAvailable), 0)
    );
    assert_eq!(list(&rm, EARLIEST_TIMESTAMP), (None, 0));
    follower_fetch(&mut rm, &mut t, 3, 10);
    assert_eq!(list(&rm, LATEST_TIMESTAMP), (None, 10));
}

#[test]
fn before_kip_903_a_follower_fetching_with_an_old_broker_epoch_may_join() {
    // Follower 2 is registered with epoch 52; its fetch carries 40, an
    // epoch of an earlier incarnation.
    let stale_fetch = |rm: &mut ReplicaManager, t: &mut TestEnv| {
        let to = ReplyTo {
            to: Address::Node(2),
            connection: crate::protocol::Connection::ReplicaFetcher,
            correlation_id: 1,
        };
        let params = FetchParams {
            replica: Some((2, 40)),
            max_wait_ms: 0,
            isolation_level: IsolationLevel::ReadUncommitted,
        };
        let fetch = vec![fetch_partition(0)];
        rm.handle_fetch(
            &mut t.env(),
            to,
            params,
            FetchMetadata::SESSIONLESS,
            fetch,
            Vec::new(),
        );
    };
    let created = image(1, 1, &[1, 3], &[]);
    // 3.5 on: not eligible (Kafka's isBrokerEpochIsrEligible).
    let (mut rm, mut t) = broker(BrokerConfig::default(), &created);
    stale_fetch(&mut rm, &mut t);
    assert!(proposals(&mut rm).is_empty());
    // 3.3 and 3.4: unfenced is enough, and the request carries no epochs.
    let before = BrokerConfig {
        broker_epoch_in_alter_partition: false,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = broker(before, &created);
    stale_fetch(&mut rm, &mut t);
    let sent = rm.take_alter_partitions(0);
    let ControllerRequest::AlterPartition {
        new_isr_with_epochs,
        ..
    } = &sent[0].1
    else {
        panic!("{sent:?}");
    };
    let none = crate::controller::rpc::NO_BROKER_EPOCH;
    assert_eq!(new_isr_with_epochs, &vec![(1, none), (3, none), (2, none)]);
}

#[test]
fn before_kip_841_a_fenced_follower_or_one_in_controlled_shutdown_may_join() {
    // Follower 2, caught up, is fenced (or in controlled shutdown) in the
    // metadata broker 1 leads `t-0` by, with ISR [1, 3].
    let with_broker_2 = |fenced, in_controlled_shutdown| {
        let mut image = image(1, 1, &[1, 3], &[]);
        let change = MetadataRecord::BrokerRegistrationChangeRecord {
            broker_id: 2,
            broker_epoch: 52,
            fenced,
            in_controlled_shutdown,
        };
        image.apply(image.offset + 1, &change);
        image
    };
    let kip_903_off = BrokerConfig {
        broker_epoch_in_alter_partition: false,
        ..BrokerConfig::default()
    };
    let before_3_3 = BrokerConfig {
        fenced_replicas_kept_out_of_isr: false,
        ..kip_903_off
    };
    for image in [
        with_broker_2(Some(true), None),
        with_broker_2(None, Some(true)),
    ] {
        // 3.3 on (3.3, 3.4 and 3.5+ alike): Kafka's isReplicaIsrEligible
        // keeps it out.
        for config in [BrokerConfig::default(), kip_903_off] {
            let (mut rm, mut t) = broker(config, &image);
            follower_fetch(&mut rm, &mut t, 2, 0);
            assert!(proposals(&mut rm).is_empty());
        }
        // 3.2: any caught-up follower is proposed.
        let (mut rm, mut t) = broker(before_3_3, &image);
        follower_fetch(&mut rm, &mut t, 2, 0);
        assert_eq!(proposals(&mut rm), vec![vec![1, 3, 2]]);
    }
}

#[test]
fn an_unanswered_isr_change_goes_again_unchanged_and_holds_back_the_next() {
    // Follower 2 catches up with broker 1's ISR [1, 3]: [1, 3, 2] is
    // proposed with the broker epoch 2's fetches carried (52).
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 3], &[]));
    follower_fetch(&mut rm, &mut t, 2, 0);
    let first = rm.take_alter_partitions(0);
    assert_eq!(first.len(), 1);
    // The controller does not answer: the same request goes again 50 ms
    // later (Kafka retries it until a response), not a fresh proposal.
    rm.on_alter_partition_lost(&tp(), 0);
    follower_fetch(&mut rm, &mut t, 3, 0);
    assert!(rm.take_alter_partitions(49).is_empty());
    assert_eq!(rm.take_alter_partitions(50), first);
    // A top-level error (NOT_CONTROLLER) leaves it in flight, to go again.
    let answer = |error, partition_error| ControllerResponse::AlterPartition {
        error,
        partition_error,
        topic_id: TOPIC_ID,
        partition_id: 0,
        leader_id: 1,
        leader_epoch: 0,
        isr: vec![1, 3, 2],
        partition_epoch: 1,
    };
    rm.on_alter_partition_response(
        &mut t.env(),
        &tp(),
        answer(Some(Errors::NotController), None),
    );
    assert_eq!(rm.take_alter_partitions(u64::MAX), first);
    // Answered: the ISR the controller committed is the leader's.
    rm.on_alter_partition_response(&mut t.env(), &tp(), answer(None, None));
    assert_eq!(
        rm.partitions()[&tp()].leader_state().unwrap().isr,
        vec![1, 3, 2]
    );
    assert!(rm.take_alter_partitions(u64::MAX).is_empty());
}

/// Broker 1 as a follower of broker 2 in leader epoch `epoch`, with `n`
/// records of epoch 0 in its log.
/// Broker 1 led `t-0` at epoch 0 and appended a batch of each of `sizes`
/// records; now broker 2 leads at epoch 1.
fn follower_with(sizes: &[usize]) -> (ReplicaManager, TestEnv) {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1], &[]));
    for (i, n) in sizes.iter().enumerate() {
        produce(&mut rm, &mut t, i as u64 + 1, 1, *n);
    }
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1], &[(2, Some(vec![2, 1]))]));
    (rm, t)
}

/// The fetch broker 1 sent to broker 2: its correlation id and offset.
fn sent_fetch(t: &TestEnv) -> (u64, u64) {
    let (correlation_id, partition) = last_fetch_to_leader(t);
    (correlation_id, partition.fetch_offset)
}

/// The correlation id and first partition of the last Fetch broker 1 sent
/// to broker 2.
fn last_fetch_to_leader(t: &TestEnv) -> (u64, crate::protocol::FetchPartition) {
    t.sent()
        .into_iter()
        .rev()
        .find_map(|(to, msg)| match (to, msg) {
            (
                Address::Node(2),
                Message::Kafka(KafkaMsg::Request {
                    correlation_id,
                    request: crate::protocol::KafkaRequest::Fetch { partitions, .. },
                    ..
                }),
            ) => Some((*correlation_id, partitions[0])),
            _ => None,
        })
        .expect("a fetch to the leader")
}

/// Broker 2 answers broker 1's fetch `correlation_id` (outside a fetch
/// session) with `partition`.
fn leader_answers(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    correlation_id: u64,
    partition: FetchedPartition,
) {
    rm.on_fetch_response(
        &mut t.env(),
        correlation_id,
        None,
        FetchMetadata::INVALID_SESSION_ID,
        vec![partition],
    );
}

fn answer(
    high_watermark: u64,
    diverging_epoch: Option<(i32, u64)>,
    batches: Vec<Rc<RecordBatch>>,
) -> FetchedPartition {
    FetchedPartition {
        tp: tp(),
        error: None,
        high_watermark,
        log_start_offset: 0,
        log_end_offset: 0,
        last_stable_offset: high_watermark,
        diverging_epoch,
        aborted_transactions: Vec::new(),
        batches,
        topic_id: crate::metadata::Uuid(0),
    }
}

#[test]
fn a_follower_truncates_to_where_its_log_parts_from_the_leaders() {
    let (mut rm, mut t) = follower_with(&[4, 2]);
    let (correlation_id, offset) = sent_fetch(&t);
    assert_eq!(offset, 6);
    // The leader's epoch 0 ended at offset 4 (a batch boundary, as epoch
    // ends are): the follower cuts its tail, the second batch.
    leader_answers(
        &mut rm,
        &mut t,
        correlation_id,
        answer(4, Some((0, 4)), Vec::new()),
    );
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 4);
    assert!(t
        .observed()
        .contains(&&Observation::Broker(BrokerObs::Truncated {
            partition: tp(),
            to_offset: 4,
            records: 2
        })));
    let (_, offset) = sent_fetch(&t);
    assert_eq!(offset, 4, "it fetches again from where it cut");
}

#[test]
fn a_followers_high_watermark_is_the_leaders_capped_by_its_own_log() {
    let (mut rm, mut t) = follower_with(&[2]);
    let (correlation_id, _) = sent_fetch(&t);
    let more = Rc::new(records(3).stamped(2, 1));
    leader_answers(&mut rm, &mut t, correlation_id, answer(9, None, vec![more]));
    let p = &rm.partitions()[&tp()];
    assert_eq!(p.log.log_end_offset(), 5);
    assert_eq!(p.log.high_watermark(), 5, "min(leader's 9, own log end 5)");
    let (correlation_id, offset) = sent_fetch(&t);
    assert_eq!(offset, 5);
    leader_answers(&mut rm, &mut t, correlation_id, answer(3, None, Vec::new()));
    assert_eq!(
        rm.partitions()[&tp()].log.high_watermark(),
        5,
        "a high watermark never goes back"
    );
}

#[test]
fn a_delayed_fetch_records_the_followers_state_when_it_arrives_not_when_it_completes() {
    // Kafka's DelayedFetch.onComplete reads with readFromPurgatory = true.
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 2], &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    follower_fetch(&mut rm, &mut t, 2, 2);
    t.now = 100 * MILLIS;
    let waiting = ReplyTo {
        to: Address::Node(2),
        connection: crate::protocol::Connection::ReplicaFetcher,
        correlation_id: 7,
    };
    let params = FetchParams {
        replica: Some((2, 52)),
        max_wait_ms: 500,
        isolation_level: IsolationLevel::ReadUncommitted,
    };
    let session = FetchMetadata::SESSIONLESS;
    rm.handle_fetch(
        &mut t.env(),
        waiting,
        params,
        session,
        vec![fetch_partition(2)],
        Vec::new(),
    );
    t.take();
    t.now = 300 * MILLIS;
    produce(&mut rm, &mut t, 2, 1, 1);
    let answered = t.sent().iter().any(|(to, _)| *to == Address::Node(2));
    assert!(answered, "the new record completes the waiting fetch");
    let p = &rm.partitions()[&tp()];
    let follower = &p.leader_state().expect("leads").followers[&2];
    assert_eq!(
        follower.last_fetch_ms(),
        100,
        "as it arrived, not at 300 ms"
    );
    assert_eq!(follower.log_end_offset, 2);
}

/// Follower 2 (broker epoch 52) fetches `partitions` in `session`
/// (correlation id 1), without waiting for data.
fn send_session_fetch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    session: FetchMetadata,
    partitions: Vec<FetchPartition>,
) {
    let to = ReplyTo {
        to: Address::Node(2),
        connection: crate::protocol::Connection::ReplicaFetcher,
        correlation_id: 1,
    };
    let params = FetchParams {
        replica: Some((2, 52)),
        max_wait_ms: 0,
        isolation_level: IsolationLevel::ReadUncommitted,
    };
    rm.handle_fetch(&mut t.env(), to, params, session, partitions, Vec::new());
}

/// Follower 2's fetch in session `session`, naming `partitions`: the
/// session id and the partitions of the answer.
fn session_fetch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    session: FetchMetadata,
    partitions: Vec<FetchPartition>,
) -> (u32, Vec<FetchedPartition>) {
    send_session_fetch(rm, t, session, partitions);
    let answer = t
        .sent()
        .into_iter()
        .rev()
        .find_map(|(to, msg)| match (to, msg) {
            (
                Address::Node(2),
                Message::Kafka(KafkaMsg::Response {
                    response:
                        KafkaResponse::Fetch {
                            session_id,
                            partitions,
                            ..
                        },
                    ..
                }),
            ) => Some((*session_id, partitions.clone())),
            _ => None,
        });
    t.take();
    answer.expect("answered")
}

#[test]
fn an_idle_session_partition_records_each_fetch_time_as_a_full_read_would() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 2], &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    t.take();
    let full = FetchMetadata {
        session_id: FetchMetadata::INVALID_SESSION_ID,
        epoch: FetchMetadata::INITIAL_EPOCH,
    };
    let (id, _) = session_fetch(&mut rm, &mut t, full, vec![fetch_partition(2)]);
    assert_ne!(id, FetchMetadata::INVALID_SESSION_ID);
    let at = |epoch| FetchMetadata {
        session_id: id,
        epoch,
    };
    let follower = |rm: &ReplicaManager| {
        let p = &rm.partitions()[&tp()];
        let f = &p.leader_state().expect("leads").followers[&2];
        (f.last_fetch_ms(), f.last_caught_up_ms())
    };
    // The full fetch moved the high watermark after its answer: the next
    // one tells it.
    t.now = 50 * MILLIS;
    let (_, answers) = session_fetch(&mut rm, &mut t, at(1), Vec::new());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].high_watermark, 2);
    // Caught up: each incremental fetch answers nothing; from the second
    // on the partition idles, and the follower's times still move.
    for (epoch, ms) in [(2, 100), (3, 200), (4, 300)] {
        t.now = ms * MILLIS;
        let (_, answers) = session_fetch(&mut rm, &mut t, at(epoch), Vec::new());
        assert!(answers.is_empty(), "{answers:?}");
        assert_eq!(follower(&rm), (ms, ms));
    }
    // A new record wakes it: read in full, answered, and the follower,
    // behind now, was last caught up at its previous fetch.
    t.now = 350 * MILLIS;
    produce(&mut rm, &mut t, 2, 1, 1);
    t.take();
    t.now = 400 * MILLIS;
    let (_, answers) = session_fetch(&mut rm, &mut t, at(5), Vec::new());
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].batches.len(), 1);
    assert_eq!(follower(&rm), (400, 300));
    // Fetching on from the new end: caught up again.
    t.now = 500 * MILLIS;
    let (_, answers) = session_fetch(&mut rm, &mut t, at(6), vec![fetch_partition(3)]);
    assert!(answers.iter().all(|a| a.batches.is_empty()), "{answers:?}");
    assert_eq!(follower(&rm), (500, 500));
}

/// A zombie follower in a fetch session (KAFKA-9338): follower 2 opens a
/// session in leader epoch 0, broker 1 is elected again in epoch 1 and
/// appends, and the follower, still in epoch 0, fetches on in its session
/// naming `t-0` from offset 3 with epoch 0, then sends a full fetch alike.
/// The answers' partitions: the incremental fetch's, then the full one's.
fn zombie_session_fetches(
    fetch_session_leader_epoch: bool,
) -> (Vec<FetchedPartition>, Vec<FetchedPartition>) {
    let config = BrokerConfig {
        fetch_session_leader_epoch,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 2], &[]));
    produce(&mut rm, &mut t, 1, 1, 3);
    t.take();
    let in_epoch_0 = |offset| FetchPartition {
        current_leader_epoch: 0,
        ..fetch_partition(offset)
    };
    let full = FetchMetadata {
        session_id: FetchMetadata::INVALID_SESSION_ID,
        epoch: FetchMetadata::INITIAL_EPOCH,
    };
    let (id, answers) = session_fetch(&mut rm, &mut t, full, vec![in_epoch_0(0)]);
    assert_ne!(id, FetchMetadata::INVALID_SESSION_ID);
    assert_eq!((answers[0].error, answers[0].batches.len()), (None, 1));
    rm.apply_delta(
        &mut t.env(),
        &image(1, 1, &[1, 2], &[(1, Some(vec![1, 2]))]),
    );
    assert_eq!(rm.partitions()[&tp()].leader_epoch, 1);
    produce(&mut rm, &mut t, 2, 1, 2);
    t.take();
    let next = FetchMetadata {
        session_id: id,
        epoch: 1,
    };
    let (_, incremental) = session_fetch(&mut rm, &mut t, next, vec![in_epoch_0(3)]);
    let (_, full) = session_fetch(&mut rm, &mut t, full, vec![in_epoch_0(3)]);
    (incremental, full)
}

#[test]
fn from_kafka_9338_a_followers_incremental_fetch_is_fenced_by_its_sessions_leader_epoch() {
    let (incremental, full) = zombie_session_fetches(true);
    assert_eq!(incremental.len(), 1);
    assert_eq!(incremental[0].error, Some(Errors::FencedLeaderEpoch));
    assert!(incremental[0].batches.is_empty());
    assert_eq!(full[0].error, Some(Errors::FencedLeaderEpoch));
}

#[test]
fn before_kafka_9338_a_fetch_session_keeps_no_leader_epoch_and_only_a_full_fetch_is_fenced() {
    // 2.4.1: the session's `CachedPartition.reqData` has no epoch, so the
    // zombie's incremental fetch reads epoch 1's records.
    let (incremental, full) = zombie_session_fetches(false);
    assert_eq!(incremental.len(), 1);
    assert_eq!(incremental[0].error, None);
    assert_eq!(incremental[0].batches.len(), 1, "epoch 1's batch");
    assert_eq!(full[0].error, Some(Errors::FencedLeaderEpoch));
}

#[test]
fn a_deleted_topics_replica_leaves_and_its_log_directory_is_renamed_then_removed() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(2, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, -1, 3);
    assert!(produce_responses(&t).is_empty(), "waits for the ISR");
    let mut deleted = image(2, 1, &[1, 2, 3], &[]);
    deleted.apply(
        deleted.offset,
        &MetadataRecord::RemoveTopicRecord { topic_id: TOPIC_ID },
    );
    rm.apply_delta(&mut t.env(), &deleted);
    // What waited is answered; the replica is gone.
    assert_eq!(
        produce_responses(&t),
        vec![(1, Some(Errors::UnknownTopicOrPartition), -1)]
    );
    assert!(rm
        .partition(&crate::protocol::TopicPartition::new("t", 0))
        .is_none());
    assert!(t
        .observed()
        .contains(&&Observation::Broker(BrokerObs::PartitionDeleted {
            partition: tp(),
            log_end_offset: 3,
        })));
    let dir = format!("t-0.{:032x}-delete", TOPIC_ID.0);
    let renamed: Vec<String> = t
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Rename { from, to } => Some(format!("{from} -> {to}")),
            _ => None,
        })
        .collect();
    assert!(
        renamed.contains(&format!(
            "t-0/00000000000000000000.log -> {dir}/00000000000000000000.log"
        )),
        "{renamed:?}"
    );
    // Removed after log.segment.delete.delay.ms (60 s).
    t.take();
    t.now += 60_000 * MILLIS;
    rm.on_timer(&mut t.env(), BrokerTimer::DeleteFiles);
    let removed: Vec<String> = t
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Remove { file } => Some(file.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        removed.contains(&format!("{dir}/00000000000000000000.log")),
        "{removed:?}"
    );
    // A produce to the deleted topic: UNKNOWN_TOPIC_OR_PARTITION.
    t.take();
    produce(&mut rm, &mut t, 2, -1, 1);
    assert_eq!(
        produce_responses(&t),
        vec![(2, Some(Errors::UnknownTopicOrPartition), -1)]
    );
}

#[test]
fn a_replica_of_a_deleted_topic_gives_way_to_the_new_topic_of_its_name() {
    let (mut rm, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, -1, 3);
    // The broker was behind: one delta deletes t and creates it again.
    let new_id = Uuid(8);
    let mut recreated = image(1, 1, &[1, 2, 3], &[]);
    for record in [
        MetadataRecord::RemoveTopicRecord { topic_id: TOPIC_ID },
        MetadataRecord::TopicRecord {
            name: "t".to_owned(),
            topic_id: new_id,
        },
        MetadataRecord::PartitionRecord {
            partition_id: 0,
            topic_id: new_id,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            eligible_leader_replicas: Vec::new(),
            last_known_elr: Vec::new(),
        },
    ] {
        recreated.apply(recreated.offset, &record);
    }
    t.take();
    rm.apply_delta(&mut t.env(), &recreated);
    // The old replica went as a deleted topic's does...
    assert!(t
        .observed()
        .contains(&&Observation::Broker(BrokerObs::PartitionDeleted {
            partition: tp(),
            log_end_offset: 3,
        })));
    let old_dir = format!("t-0.{:032x}-delete", TOPIC_ID.0);
    assert!(t.effects.iter().any(|e| matches!(
        e,
        Effect::Rename { from, to } if from.to_string() == "t-0/partition.metadata"
            && to.to_string() == format!("{old_dir}/partition.metadata")
    )));
    // ...and the new topic's replica starts empty, its topic id written.
    let p = rm
        .partition(&crate::protocol::TopicPartition::new("t", 0))
        .expect("hosted");
    assert_eq!(p.log.log_end_offset(), 0);
    assert_eq!(p.topic_id, new_id);
    let written = t.effects.iter().find_map(|e| match e {
        Effect::Write { file, bytes, .. } if file.to_string() == "t-0/partition.metadata.tmp" => {
            Some(String::from_utf8(bytes.to_vec()).expect("text"))
        }
        _ => None,
    });
    assert_eq!(written, Some(format!("version: 0\ntopic_id: {new_id}\n")));
}

/// The current leader epoch of the last fetch broker 1 sent to broker 2.
fn sent_fetch_epoch(t: &TestEnv) -> i32 {
    last_fetch_to_leader(t).1.current_leader_epoch
}

#[test]
fn before_kip_320_a_follower_fetches_without_its_leader_epoch_and_a_stale_leader_serves_it() {
    // Broker 1 follows broker 2 in leader epoch 1: from 2.1 its Fetch says so.
    let (_, t) = follower_with(&[4]);
    assert_eq!(sent_fetch_epoch(&t), 1);
    let before = BrokerConfig {
        leader_epoch_in_replica_fetch: false,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = broker(before, &image(1, 1, &[1], &[]));
    rm.apply_delta(&mut t.env(), &image(1, 1, &[1], &[(2, Some(vec![2, 1]))]));
    assert_eq!(
        sent_fetch_epoch(&t),
        -1,
        "Fetch v8 has no current leader epoch"
    );
    // A leader still in epoch 0 (it has not heard of epoch 1) fences a
    // fetch of epoch 1 (UNKNOWN_LEADER_EPOCH) and serves one without.
    let (mut leader, mut t) = broker(BrokerConfig::default(), &image(1, 1, &[1, 2], &[]));
    produce(&mut leader, &mut t, 1, 1, 3);
    let fetch = |leader: &mut ReplicaManager, t: &mut TestEnv, epoch: i32| {
        t.take();
        let request = FetchPartition {
            current_leader_epoch: epoch,
            ..fetch_partition(0)
        };
        let to = ReplyTo {
            to: Address::Node(2),
            connection: crate::protocol::Connection::ReplicaFetcher,
            correlation_id: 7,
        };
        let params = FetchParams {
            replica: Some((2, 52)),
            max_wait_ms: 0,
            isolation_level: IsolationLevel::ReadUncommitted,
        };
        leader.handle_fetch(
            &mut t.env(),
            to,
            params,
            FetchMetadata::SESSIONLESS,
            vec![request],
            Vec::new(),
        );
        t.sent()
            .into_iter()
            .find_map(|(_, msg)| match msg {
                Message::Kafka(KafkaMsg::Response {
                    response: KafkaResponse::Fetch { partitions, .. },
                    ..
                }) => Some((partitions[0].error, partitions[0].batches.len())),
                _ => None,
            })
            .expect("answered")
    };
    assert_eq!(
        fetch(&mut leader, &mut t, 1),
        (Some(Errors::UnknownLeaderEpoch), 0)
    );
    assert_eq!(fetch(&mut leader, &mut t, -1), (None, 1));
}

/// The diverging epoch a leader answers follower 2's fetch of `t-0` from
/// `offset` whose last fetched epoch is `last_epoch`.
fn diverging_answer(
    leader: &mut ReplicaManager,
    t: &mut TestEnv,
    offset: u64,
    last_epoch: i32,
) -> Option<(i32, u64)> {
    t.take();
    let request = FetchPartition {
        last_fetched_epoch: Some(last_epoch),
        ..fetch_partition(offset)
    };
    let to = ReplyTo {
        to: Address::Node(2),
        connection: crate::protocol::Connection::ReplicaFetcher,
        correlation_id: 7,
    };
    let params = FetchParams {
        replica: Some((2, 52)),
        max_wait_ms: 0,
        isolation_level: IsolationLevel::ReadUncommitted,
    };
    let session = FetchMetadata::SESSIONLESS;
    leader.handle_fetch(&mut t.env(), to, params, session, vec![request], Vec::new());
    t.sent()
        .into_iter()
        .find_map(|(_, msg)| match msg {
            Message::Kafka(KafkaMsg::Response {
                response: KafkaResponse::Fetch { partitions, .. },
                ..
            }) => Some(partitions[0].diverging_epoch),
            _ => None,
        })
        .expect("answered")
}

#[test]
fn before_kip_279_a_follower_truncates_to_the_end_offset_of_its_own_epoch_and_keeps_a_divergent_tail(
) {
    use super::config::Truncation;
    let pre_279 = BrokerConfig {
        truncation: Truncation::EpochEndOffset,
        ..BrokerConfig::default()
    };
    // The leader, broker 1: 6 records in epoch 0, then leader again in
    // epoch 2 (it never had epoch 1) with 2 more: epochs [0@0, 2@6].
    let leader_of = |config: BrokerConfig| {
        let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 2], &[]));
        produce(&mut rm, &mut t, 1, 1, 6);
        let again = image(1, 1, &[1, 2], &[(1, None), (1, None)]);
        rm.apply_delta(&mut t.env(), &again);
        produce(&mut rm, &mut t, 2, 1, 2);
        (rm, t)
    };
    // Follower 2 ends at 9 with epochs [0@0, 1@4]: it led epoch 1 for a
    // moment. KIP-279: the largest epoch both have is 0, which ends at 6
    // on the leader (the follower then cuts to its own end of epoch 0, 4).
    let (mut leader, mut t) = leader_of(BrokerConfig::default());
    assert_eq!(diverging_answer(&mut leader, &mut t, 9, 1), Some((0, 6)));
    // Before: the end offset of epoch 1 alone, the start of the leader's
    // next epoch, 6; a requested epoch older than the leader's first, or
    // newer than its last, is UNDEFINED_EPOCH_OFFSET.
    let (mut leader, mut t) = leader_of(pre_279);
    assert_eq!(diverging_answer(&mut leader, &mut t, 9, 1), Some((1, 6)));
    assert_eq!(diverging_answer(&mut leader, &mut t, 9, 3), Some((-1, 0)));
    assert_eq!(
        diverging_answer(&mut leader, &mut t, 8, 2),
        None,
        "caught up"
    );

    // The follower's side: broker 1 wrote 4 records in epoch 0 and 5 in
    // epoch 1, then follows broker 2 in epoch 2.
    let follower = |config: BrokerConfig| {
        let (mut rm, mut t) = broker(config, &image(1, 1, &[1], &[]));
        produce(&mut rm, &mut t, 1, 1, 4);
        rm.apply_delta(&mut t.env(), &image(1, 1, &[1], &[(1, None)]));
        // (Two batches: a log is cut at batch boundaries.)
        produce(&mut rm, &mut t, 2, 1, 2);
        produce(&mut rm, &mut t, 3, 1, 3);
        let follows = image(1, 1, &[1], &[(1, None), (2, Some(vec![2, 1]))]);
        rm.apply_delta(&mut t.env(), &follows);
        (rm, t)
    };
    let log_end = |rm: &ReplicaManager| rm.partitions()[&tp()].log.log_end_offset();
    // KIP-279: told (0, 6), it cuts to where its epoch 0 ended, 4.
    let (mut rm, mut t) = follower(BrokerConfig::default());
    let (correlation_id, offset) = sent_fetch(&t);
    assert_eq!(offset, 9);
    let answer_with = |d| vec![answer(0, Some(d), Vec::new())];
    let session = FetchMetadata::INVALID_SESSION_ID;
    rm.on_fetch_response(
        &mut t.env(),
        correlation_id,
        None,
        session,
        answer_with((0, 6)),
    );
    assert_eq!(log_end(&rm), 4);
    // Before: told 6, it cuts to 6, keeping offsets 4 and 5 of its epoch
    // 1, which the leader has as epoch 0's: the logs diverge.
    let (mut rm, mut t) = follower(pre_279);
    let (correlation_id, offset) = sent_fetch(&t);
    assert_eq!(offset, 9);
    assert_eq!(sent_fetch_last_epoch(&t), Some(1));
    rm.on_fetch_response(
        &mut t.env(),
        correlation_id,
        None,
        session,
        answer_with((1, 6)),
    );
    assert_eq!(log_end(&rm), 6);
    let epochs = rm.partitions()[&tp()].log.epoch_cache().entries().to_vec();
    assert_eq!(
        epochs
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect::<Vec<_>>(),
        vec![(0, 0), (1, 4)]
    );
    // It asked once: its next fetch carries no epoch.
    let (_, offset) = sent_fetch(&t);
    assert_eq!(offset, 6);
}

/// The last fetched epoch of the last fetch broker 1 sent to broker 2.
fn sent_fetch_last_epoch(t: &TestEnv) -> Option<i32> {
    last_fetch_to_leader(t).1.last_fetched_epoch
}

/// KAFKA-13790 (3.3): an ISR change in the same leader epoch keeps the
/// leader's epoch start offset; before 3.3 `makeLeader` ran again and it
/// became the log end offset, which a follower out of the ISR must then
/// reach (KAFKA-7128) besides the high watermark.
#[test]
fn before_kafka_13790_a_partition_update_restarts_the_leaders_epoch_start() {
    for kept in [true, false] {
        let config = BrokerConfig {
            leader_state_kept_on_partition_update: kept,
            ..BrokerConfig::default()
        };
        let (mut rm, mut t) = leading_ten_with_follower_at_five(config);
        // A partition update in the same leader epoch (the partition epoch moves).
        let updated = image(1, 1, &[1, 3], &[(NO_LEADER_CHANGE, Some(vec![1, 3]))]);
        rm.apply_delta(&mut t.env(), &updated);
        let start = rm.partitions()[&tp()]
            .leader_state()
            .expect("leads")
            .epoch_start_offset;
        assert_eq!(start, if kept { 0 } else { 10 }, "kept = {kept}");
        // Follower 2 at the high watermark: from 3.3 it joins, before it
        // must reach 10 first.
        follower_fetch(&mut rm, &mut t, 2, 5);
        let want: Vec<Vec<u32>> = if kept { vec![vec![1, 3, 2]] } else { vec![] };
        assert_eq!(proposals(&mut rm), want, "kept = {kept}");
    }
}

/// KAFKA-13091 (3.1): the leader advances its high watermark when the
/// AlterPartition answer commits an ISR shrink; 3.0 does not then (only
/// at its next metadata update, fetch or append).
#[test]
fn from_kafka_13091_the_high_watermark_moves_at_the_alter_partition_answer() {
    for at_answer in [true, false] {
        let config = BrokerConfig {
            hw_incremented_after_alter_partition: at_answer,
            ..BrokerConfig::default()
        };
        // Follower 3 then falls silent.
        let (mut rm, mut t) = leading_ten_with_follower_at_five(config);
        t.now = 31_000 * MILLIS;
        rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
        assert_eq!(proposals(&mut rm), vec![vec![1]]);
        let answer = ControllerResponse::AlterPartition {
            error: None,
            partition_error: None,
            topic_id: TOPIC_ID,
            partition_id: 0,
            leader_id: 1,
            leader_epoch: 0,
            isr: vec![1],
            partition_epoch: 1,
        };
        rm.on_alter_partition_response(&mut t.env(), &tp(), answer);
        assert_eq!(rm.partitions()[&tp()].leader_state().unwrap().isr, vec![1]);
        let want = if at_answer { 10 } else { 5 };
        assert_eq!(high_watermark(&rm), want, "at_answer = {at_answer}");
    }
}

/// KAFKA-12686 (3.0): an AlterPartition in flight stays when a partition
/// update makes the broker its leader again (`makeLeader`, before 3.3's
/// KAFKA-13790). Kafka 2.8's `makeLeader` dropped it (`clearPending`): the
/// next proposal waits for the dropped request's answer, which the
/// partition ignores and which drops that proposal too.
#[test]
fn before_kafka_12686_make_leader_drops_the_alter_partition_in_flight() {
    for kept in [true, false] {
        let config = BrokerConfig {
            alter_partition_kept_on_role_change: kept,
            leader_state_kept_on_partition_update: false,
            ..BrokerConfig::default()
        };
        // ISR [1, 3], 10 records; follower 2 catches up: [1, 3, 2] goes.
        let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 3], &[]));
        produce(&mut rm, &mut t, 1, 1, 10);
        follower_fetch(&mut rm, &mut t, 3, 10);
        follower_fetch(&mut rm, &mut t, 2, 10);
        assert_eq!(proposals(&mut rm), vec![vec![1, 3, 2]]);
        // A partition update in the same leader epoch (another change
        // committed first): makeLeader runs again.
        let updated = image(1, 1, &[1, 3], &[(NO_LEADER_CHANGE, Some(vec![1, 3]))]);
        rm.apply_delta(&mut t.env(), &updated);
        // Follower 2 fetches again: a new proposal.
        follower_fetch(&mut rm, &mut t, 2, 10);
        let none: Vec<Vec<u32>> = vec![];
        assert_eq!(proposals(&mut rm), none, "kept = {kept}: one at a time");
        // The first request's answer (stale: partition epoch 1 was taken).
        let answer = ControllerResponse::AlterPartition {
            error: None,
            partition_error: Some(Errors::InvalidUpdateVersion),
            topic_id: TOPIC_ID,
            partition_id: 0,
            leader_id: 1,
            leader_epoch: 0,
            isr: vec![1, 3],
            partition_epoch: 1,
        };
        rm.on_alter_partition_response(&mut t.env(), &tp(), answer);
        // From 3.0 the next fetch proposes again; in 2.8 the dropped
        // request's answer took the new proposal with it, and the leader
        // waits (pending) until its next makeLeader.
        follower_fetch(&mut rm, &mut t, 2, 10);
        let want: Vec<Vec<u32>> = if kept { vec![vec![1, 3, 2]] } else { vec![] };
        assert_eq!(proposals(&mut rm), want, "kept = {kept}");
        let isr = &rm.partitions()[&tp()].leader_state().unwrap().isr;
        assert_eq!(isr, &vec![1, 3]);
        // The next partition update: 2.8's makeLeader takes the ISR as
        // committed and drops what was queued, so follower 2 is proposed
        // again; from 3.0 the request sent above is still in flight.
        let again = image(
            1,
            1,
            &[1, 3],
            &[
                (NO_LEADER_CHANGE, Some(vec![1, 3])),
                (NO_LEADER_CHANGE, Some(vec![1, 3])),
            ],
        );
        rm.apply_delta(&mut t.env(), &again);
        follower_fetch(&mut rm, &mut t, 2, 10);
        let want: Vec<Vec<u32>> = if kept { vec![] } else { vec![vec![1, 3, 2]] };
        assert_eq!(proposals(&mut rm), want, "kept = {kept}, after the update");
    }
}

/// KAFKA-10554 (2.8): a follower sends its last fetched epoch in every
/// Fetch. Before (2.0 to 2.7) it asks where its epoch ends
/// (OffsetsForLeaderEpoch, carried by ksim's fetch) only after following a
/// new leader epoch, until its truncation is complete; then it fetches
/// without an epoch, and a leader's diverging answer can no longer reach it.
#[test]
fn before_kafka_10554_a_follower_checks_its_log_only_after_following_a_new_epoch() {
    let follower = |on_fetch: bool| {
        let config = BrokerConfig {
            truncation_on_fetch: on_fetch,
            ..BrokerConfig::default()
        };
        let (mut rm, mut t) = broker(config, &image(1, 1, &[1], &[]));
        for (i, n) in [4, 2].iter().enumerate() {
            produce(&mut rm, &mut t, i as u64 + 1, 1, *n);
        }
        rm.apply_delta(&mut t.env(), &image(1, 1, &[1], &[(2, Some(vec![2, 1]))]));
        (rm, t)
    };
    for on_fetch in [true, false] {
        let (mut rm, mut t) = follower(on_fetch);
        // Its first request asks about its latest epoch, 0, either way.
        assert_eq!(sent_fetch_last_epoch(&t), Some(0), "{on_fetch}");
        let (correlation_id, _) = sent_fetch(&t);
        leader_answers(
            &mut rm,
            &mut t,
            correlation_id,
            answer(4, Some((0, 4)), Vec::new()),
        );
        assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 4);
        // Truncated where both logs have epoch 0 end: complete. From 2.8
        // every fetch asks again; 2.7's fetches carry no epoch.
        let expected = if on_fetch { Some(0) } else { None };
        assert_eq!(sent_fetch_last_epoch(&t), expected, "{on_fetch}");
        let (correlation_id, offset) = sent_fetch(&t);
        assert_eq!(offset, 4);
        // Records answered: a 2.7 follower goes on without asking.
        leader_answers(
            &mut rm,
            &mut t,
            correlation_id,
            answer(5, None, vec![Rc::new(records(1).stamped(4, 1))]),
        );
        assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 5);
        let expected = if on_fetch { Some(1) } else { None };
        assert_eq!(sent_fetch_last_epoch(&t), expected, "{on_fetch}");
        // A new leader epoch: once the fetch in flight is answered (for the
        // old epoch: ignored), it asks again.
        let (correlation_id, _) = sent_fetch(&t);
        rm.apply_delta(
            &mut t.env(),
            &image(1, 1, &[1], &[(2, Some(vec![2, 1])), (2, None)]),
        );
        leader_answers(&mut rm, &mut t, correlation_id, answer(5, None, Vec::new()));
        assert_ne!(sent_fetch(&t).0, correlation_id);
        assert_eq!(sent_fetch_last_epoch(&t), Some(1), "{on_fetch}");
    }
    // A leader without an end offset for the epoch (its earliest epoch is
    // newer): Kafka 2.7 truncates to its initial fetch offset, the high
    // watermark (6 here: it led alone).
    let (mut rm, mut t) = follower(false);
    let (correlation_id, _) = sent_fetch(&t);
    leader_answers(
        &mut rm,
        &mut t,
        correlation_id,
        answer(6, Some((-1, 0)), Vec::new()),
    );
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 6);
    assert_eq!(sent_fetch_last_epoch(&t), None, "complete");
}

/// apache/kafka#9749 (2.8): an ISR change goes to the controller at once.
/// Before (2.7) the `send-alter-isr` task, every 50 ms from the broker's
/// start, sends what is queued, and the broker sets a timer for its run.
#[test]
fn before_kafka_2_8_an_isr_change_waits_for_the_send_alter_isr_task() {
    let shrink = |config: BrokerConfig| {
        let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 2, 3], &[]));
        produce(&mut rm, &mut t, 1, 1, 2);
        t.now = 20_000 * MILLIS;
        follower_fetch(&mut rm, &mut t, 3, 2);
        t.now = 31_010 * MILLIS;
        rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
        (rm, t)
    };
    let (mut rm, _) = shrink(BrokerConfig::default());
    assert_eq!(rm.take_alter_partitions(31_010).len(), 1, "at once");
    let (mut rm, mut t) = shrink(BrokerConfig {
        alter_partition_sent_at_once: false,
        ..BrokerConfig::default()
    });
    assert!(rm.take_alter_partitions(31_010).is_empty());
    t.take();
    rm.schedule_alter_partitions(&mut t.env());
    let timers: Vec<(u64, crate::node::Timer)> = t
        .take()
        .into_iter()
        .filter_map(|e| match e {
            crate::node::Effect::SetTimer { at, timer } => Some((at, timer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        timers,
        vec![(
            31_050 * MILLIS,
            BrokerTimer::AlterPartitionPropagation.into()
        )]
    );
    // Asked again before the run, it sets no second timer.
    rm.schedule_alter_partitions(&mut t.env());
    assert!(t.take().is_empty());
    assert!(rm.take_alter_partitions(31_049).is_empty());
    assert_eq!(proposals(&mut rm), vec![vec![1, 3]]);
}

#[test]
fn a_follower_that_finds_no_end_for_the_leaders_epoch_truncates_to_the_leaders_end_offset() {
    // The follower's log is all epoch 0. An answer naming epoch 5 finds
    // no end offset in its cache (Kafka's `LeaderEpochFileCache.endOffsetFor`:
    // no epoch above 5 and 5 is not its latest, UNDEFINED_EPOCH_OFFSET):
    // `getOffsetTruncationState` then takes the leader's end offset, at
    // most its own log end, not the start of the log.
    let (mut rm, mut t) = follower_with(&[4, 2]);
    assert_eq!(rm.partitions()[&tp()].log.end_offset_for_epoch(5), None);
    let (correlation_id, offset) = sent_fetch(&t);
    assert_eq!(offset, 6);
    leader_answers(
        &mut rm,
        &mut t,
        correlation_id,
        answer(0, Some((5, 4)), Vec::new()),
    );
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 4);
    let (_, offset) = sent_fetch(&t);
    assert_eq!(offset, 4, "it fetches again from where it cut");
}

/// The controller's answer to broker 1's AlterPartition for `t-0` in
/// leader epoch 0: the ISR committed at partition epoch 1, or refused.
fn alter_partition_answer(isr: &[u32], refused: Option<Errors>) -> ControllerResponse {
    ControllerResponse::AlterPartition {
        error: None,
        partition_error: refused,
        topic_id: TOPIC_ID,
        partition_id: 0,
        leader_id: 1,
        leader_epoch: 0,
        isr: if refused.is_some() {
            Vec::new()
        } else {
            isr.to_vec()
        },
        partition_epoch: if refused.is_some() { -1 } else { 1 },
    }
}

/// Kafka 2.6's broker: ISR changes written with the partition frozen
/// (`pending_isr_state = false`, before KIP-497).
fn kafka_2_6() -> BrokerConfig {
    BrokerConfig {
        pending_isr_state: false,
        ..BrokerConfig::default()
    }
}

/// Broker 1 leads `t-0` (ISR 1, 2, 3, min.insync.replicas 1) with 2
/// records that follower 3 has and follower 2 never fetched (the high
/// watermark 0); at 31.01 s the ISR check proposes shrinking it to 1, 3.
fn shrinking(config: BrokerConfig) -> (ReplicaManager, TestEnv) {
    let (mut rm, mut t) = broker(config, &image(1, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    t.now = 20_000 * MILLIS;
    follower_fetch(&mut rm, &mut t, 3, 2);
    assert_eq!(high_watermark(&rm), 0, "follower 2 has nothing");
    t.now = 31_010 * MILLIS;
    rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
    assert_eq!(proposals(&mut rm), vec![vec![1, 3]]);
    t.take();
    (rm, t)
}

/// KIP-497 (KAFKA-8836, 2.7): a leader's ISR change is pending while the
/// partition goes on. Before (2.6, `pending_isr_state = false`) the leader
/// wrote it to ZooKeeper under the partition's `leaderIsrUpdateLock`: a
/// produce for the partition is not appended, and a follower's fetch not
/// read, until the write (ksim: the AlterPartition's answer) returns; then
/// the ISR is the new one at once, the high watermark moves with it, and
/// the waiting requests run in the order they came.
#[test]
fn before_kip_497_a_produce_waits_for_the_isr_write_and_the_hw_moves_at_its_answer() {
    // Kafka 2.7's AlterIsrManager switches, which do not apply to 2.6.
    let kafka_2_6 = BrokerConfig {
        pending_isr_state: false,
        hw_incremented_after_alter_partition: false,
        alter_partition_sent_at_once: false,
        alter_partition_kept_on_role_change: false,
        ..BrokerConfig::default()
    };
    let (mut rm, mut t) = shrinking(kafka_2_6);
    assert!(rm.isr_write_in_flight(&tp()));
    produce(&mut rm, &mut t, 2, 1, 3);
    follower_fetch(&mut rm, &mut t, 3, 2);
    assert!(produce_responses(&t).is_empty(), "not appended");
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 2);
    assert_eq!(rm.deferred_requests(), 2, "the produce and the fetch wait");
    assert!(t.sent().is_empty(), "the fetch is not answered either");
    // A later request for the partition waits behind them.
    produce(&mut rm, &mut t, 3, 1, 1);
    assert_eq!(rm.deferred_requests(), 3);
    // The write returns: the ISR is 1, 3 at once and the high watermark
    // moves to follower 3's log end, 2; then the produces append, in order,
    // and the fetch from 2 finds them.
    rm.on_alter_partition_response(&mut t.env(), &tp(), alter_partition_answer(&[1, 3], None));
    let leader = rm.partitions()[&tp()].leader_state().unwrap();
    assert_eq!(leader.isr, vec![1, 3]);
    assert_eq!(leader.pending, None);
    assert!(!rm.isr_write_in_flight(&tp()));
    assert_eq!(rm.deferred_requests(), 0);
    assert_eq!(produce_responses(&t), vec![(2, None, 2), (3, None, 5)]);
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 6);
    assert!(t
        .observed()
        .contains(&&Observation::Broker(BrokerObs::HighWatermark {
            partition: tp(),
            high_watermark: 2
        })));
    assert_eq!(high_watermark(&rm), 2, "follower 3 fetched from 2");

    // 2.7 (`pending_isr_state` on, the high watermark at the next fetch or
    // append, KAFKA-13091): the produce is appended while the shrink is
    // pending, and the maximal ISR, 1, 2, 3, holds the high watermark.
    let kafka_2_7 = BrokerConfig {
        pending_isr_state: true,
        ..kafka_2_6
    };
    let (mut rm, mut t) = shrinking(kafka_2_7);
    assert!(!rm.isr_write_in_flight(&tp()));
    produce(&mut rm, &mut t, 2, 1, 3);
    assert_eq!(produce_responses(&t), vec![(2, None, 2)]);
    follower_fetch(&mut rm, &mut t, 3, 5);
    assert_eq!(high_watermark(&rm), 0, "follower 2 still counts");
    assert_eq!(rm.deferred_requests(), 0);
    rm.on_alter_partition_response(&mut t.env(), &tp(), alter_partition_answer(&[1, 3], None));
    assert_eq!(
        rm.partitions()[&tp()].leader_state().unwrap().isr,
        vec![1, 3]
    );
    assert_eq!(high_watermark(&rm), 0, "not at the answer before 3.1");
}

/// Kafka 2.6 (`pending_isr_state = false`): a coordinator's
/// WriteTxnMarkers for a partition whose ISR write is in flight waits, and
/// its marker is appended once the write returns.
#[test]
fn before_kip_497_write_txn_markers_wait_for_the_isr_write() {
    let (mut rm, mut t) = shrinking(kafka_2_6());
    let to = ReplyTo {
        to: CLIENT,
        connection: crate::protocol::Connection::Producer,
        correlation_id: 9,
    };
    let marker = crate::protocol::WritableTxnMarker {
        producer_id: 42,
        producer_epoch: 0,
        result: crate::log::ControlRecordType::Commit,
        partitions: vec![tp()],
        coordinator_epoch: 0,
    };
    rm.handle_write_txn_markers(&mut t.env(), to, vec![marker]);
    assert_eq!(rm.deferred_requests(), 1, "the markers wait");
    assert_eq!(
        rm.partitions()[&tp()].log.log_end_offset(),
        2,
        "no marker yet"
    );
    rm.on_alter_partition_response(&mut t.env(), &tp(), alter_partition_answer(&[1, 3], None));
    assert_eq!(rm.deferred_requests(), 0);
    assert_eq!(
        rm.partitions()[&tp()].log.log_end_offset(),
        3,
        "the marker is appended after the write"
    );
}

/// Kafka 2.6's ISR write refused (a version conflict: "Cached zkVersion
/// ... not equal to that in zookeeper, skip updating ISR"; ksim's
/// controller answers the AlterPartition with a partition error): the
/// leader keeps its old ISR, and what waited goes on.
#[test]
fn before_kip_497_a_refused_isr_write_keeps_the_old_isr_and_releases_the_partition() {
    let (mut rm, mut t) = shrinking(kafka_2_6());
    produce(&mut rm, &mut t, 2, -1, 1);
    assert_eq!(rm.deferred_requests(), 1);
    // A top-level error: the same request goes again, still frozen.
    let mut retry = alter_partition_answer(&[1, 3], None);
    if let ControllerResponse::AlterPartition { error, .. } = &mut retry {
        *error = Some(Errors::NotController);
    }
    rm.on_alter_partition_response(&mut t.env(), &tp(), retry);
    assert!(rm.isr_write_in_flight(&tp()));
    assert_eq!(proposals(&mut rm), vec![vec![1, 3]]);
    assert_eq!(rm.deferred_requests(), 1);
    let refused = alter_partition_answer(&[], Some(Errors::InvalidUpdateVersion));
    rm.on_alter_partition_response(&mut t.env(), &tp(), refused);
    let leader = rm.partitions()[&tp()].leader_state().unwrap();
    assert_eq!(leader.isr, vec![1, 2, 3], "the old ISR");
    assert_eq!(leader.pending, None);
    assert_eq!(rm.deferred_requests(), 0);
    assert_eq!(rm.partitions()[&tp()].log.log_end_offset(), 3, "appended");
    assert!(
        produce_responses(&t).is_empty(),
        "acks=all waits for follower 2"
    );
    assert_eq!(high_watermark(&rm), 0);
}

/// Kafka 2.6: a follower's incremental fetch that names no partition
/// still reads its session's (Kafka's `IncrementalFetchContext`), so it
/// waits for the ISR write of one of them, and is answered after it.
#[test]
fn before_kip_497_an_incremental_fetch_waits_for_its_sessions_isr_write() {
    let (mut rm, mut t) = broker(kafka_2_6(), &image(1, 1, &[1, 2, 3], &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    t.now = 20_000 * MILLIS;
    let full = FetchMetadata {
        session_id: FetchMetadata::INVALID_SESSION_ID,
        epoch: FetchMetadata::INITIAL_EPOCH,
    };
    let (id, _) = session_fetch(&mut rm, &mut t, full, vec![fetch_partition(2)]);
    // Follower 3 never fetched: the ISR shrinks to 1, 2.
    t.now = 31_010 * MILLIS;
    rm.on_timer(&mut t.env(), BrokerTimer::IsrCheck);
    assert_eq!(proposals(&mut rm), vec![vec![1, 2]]);
    assert!(rm.isr_write_in_flight(&tp()));
    t.take();
    let next = FetchMetadata {
        session_id: id,
        epoch: 1,
    };
    send_session_fetch(&mut rm, &mut t, next, Vec::new());
    assert_eq!(rm.deferred_requests(), 1);
    assert!(
        t.sent().is_empty(),
        "not answered while the write is in flight"
    );
    rm.on_alter_partition_response(&mut t.env(), &tp(), alter_partition_answer(&[1, 2], None));
    assert_eq!(rm.deferred_requests(), 0);
    let answered: Vec<u64> = t
        .sent()
        .into_iter()
        .filter_map(|(to, msg)| match (to, msg) {
            (
                Address::Node(2),
                Message::Kafka(KafkaMsg::Response {
                    correlation_id,
                    response: KafkaResponse::Fetch { error: None, .. },
                    ..
                }),
            ) => Some(*correlation_id),
            _ => None,
        })
        .collect();
    assert_eq!(answered, vec![1]);
    assert_eq!(high_watermark(&rm), 2, "the ISR 1, 2 at once");
}

#[test]
fn a_leader_takes_a_producer_it_has_no_state_for_at_any_sequence_from_kip_360() {
    for any_sequence in [true, false] {
        let config = BrokerConfig {
            unknown_producer_any_sequence: any_sequence,
            ..BrokerConfig::default()
        };
        let (mut rm, mut t) = broker(config, &image(2, 1, &[1, 2, 3], &[]));
        produce_batch(&mut rm, &mut t, 1, records_of((7, 0, 140), 3));
        let expected = if any_sequence {
            (1, None, 0)
        } else {
            (1, Some(Errors::UnknownProducerId), -1)
        };
        assert_eq!(produce_responses(&t), vec![expected], "{any_sequence}");
    }
}

/// Where a producer's request `correlation_id` is answered.
fn producer_reply(correlation_id: u64) -> ReplyTo {
    ReplyTo {
        to: CLIENT,
        connection: crate::protocol::Connection::Producer,
        correlation_id,
    }
}

/// A produce (acks=1) of `batch` to `tp()` with correlation id `correlation_id`.
fn produce_batch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    correlation_id: u64,
    batch: Rc<RecordBatch>,
) {
    let data = ProduceData { tp: tp(), batch };
    rm.handle_produce(
        &mut t.env(),
        producer_reply(correlation_id),
        1,
        30_000,
        vec![data],
    );
}

#[test]
fn under_kafka_15591s_fix_a_partition_that_never_held_a_record_takes_only_sequence_0() {
    for fixed in [false, true] {
        let config = BrokerConfig {
            unknown_producer_sequence_zero_on_empty_log: fixed,
            ..BrokerConfig::default()
        };
        let (mut rm, mut t) = broker(config, &image(2, 1, &[1, 2, 3], &[]));
        // Producer 7's second batch overtook its first.
        produce_batch(&mut rm, &mut t, 1, records_of((7, 0, 140), 3));
        let log_end = rm.partitions()[&tp()].log.log_end_offset();
        if fixed {
            assert_eq!(
                produce_responses(&t),
                vec![(1, Some(Errors::OutOfOrderSequenceNumber), -1)]
            );
            assert_eq!(log_end, 0, "nothing appended");
        } else {
            assert_eq!(produce_responses(&t), vec![(1, None, 0)], "2.5 to 4.4");
            assert_eq!(log_end, 3);
        }
        t.take();
        // Producer 8 writes the partition's first record; a producer with
        // no state is taken at any sequence again, fix or not.
        produce_batch(&mut rm, &mut t, 2, records_of((8, 0, 0), 1));
        produce_batch(&mut rm, &mut t, 3, records_of((9, 0, 140), 2));
        let errors: Vec<Option<Errors>> = produce_responses(&t).iter().map(|r| r.1).collect();
        assert_eq!(errors, vec![None, None], "{fixed}");
    }
}

#[test]
fn under_kafka_18202_a_verified_transactions_v2_batch_of_an_unknown_producer_starts_at_0() {
    use crate::protocol::PRODUCE_VERSION_TV2;
    let txn_batch = |seq: i32| {
        let mut builder = crate::log::BatchBuilder::new();
        builder.append(None, &[1; 8], 0);
        Rc::new(builder.build_transactional(7, 0, seq))
    };
    for rule in [false, true] {
        let config = BrokerConfig {
            unknown_producer_sequence_zero_in_tv2: rule,
            ..BrokerConfig::default()
        };
        let (mut rm, mut t) = broker(config, &image(2, 1, &[1, 2, 3], &[]));
        let data = ProduceData {
            tp: tp(),
            batch: txn_batch(5),
        };
        let request = rm
            .handle_produce_append(
                &mut t.env(),
                producer_reply(1),
                PRODUCE_VERSION_TV2,
                Some("pay-0".to_owned()),
                1,
                30_000,
                vec![data],
            )
            .expect("the transaction is verified first");
        rm.on_verified(&mut t.env(), request.waiter, BTreeMap::new());
        let expected = if rule {
            (1, Some(Errors::OutOfOrderSequenceNumber), -1)
        } else {
            (1, None, 0)
        };
        assert_eq!(produce_responses(&t), vec![expected], "{rule}");
    }
}

/// A metadata update that leaves a replica's registration as it took it
/// changes nothing (Kafka's `applyDelta` sees only the partitions a delta
/// changed); one that moves its leader or its partition epoch is applied,
/// and a replica whose role no longer matches its registration is not
/// taken as up to date.
#[test]
fn an_unchanged_registration_is_skipped_and_a_changed_one_applied() {
    use super::partition::Role;
    let leading = image(1, 1, &[1, 2, 3], &[]);
    let (mut rm, mut t) = broker(BrokerConfig::default(), &leading);
    let reg = |image: &MetadataImage| image.topics["t"].partitions[&0].clone();
    let p = &rm.partitions()[&tp()];
    let config = p.log.config();
    assert!(p.already_applied(&reg(&leading), TOPIC_ID, 1, config, 1));
    rm.apply_delta(&mut t.env(), &leading);
    assert!(t.take().is_empty());
    assert!(rm.partitions()[&tp()].is_leader());
    // Broker 2 leads (leader epoch 1): broker 1 follows it.
    let moved = image(1, 1, &[1, 2, 3], &[(2, None)]);
    let p = &rm.partitions()[&tp()];
    assert!(!p.already_applied(&reg(&moved), TOPIC_ID, 1, config, 1));
    rm.apply_delta(&mut t.env(), &moved);
    let p = &rm.partitions()[&tp()];
    assert!(matches!(p.role, Role::Follower { leader: 2 }));
    assert!(p.already_applied(&reg(&moved), TOPIC_ID, 1, config, 1));
    // The old registration, or other configs, are not this one.
    assert!(!p.already_applied(&reg(&leading), TOPIC_ID, 1, config, 1));
    assert!(!p.already_applied(&reg(&moved), TOPIC_ID, 2, config, 1));
    // An ISR change alone (same leader epoch, newer partition epoch).
    let shrunk = image(
        1,
        1,
        &[1, 2, 3],
        &[(2, None), (NO_LEADER_CHANGE, Some(vec![2, 3]))],
    );
    assert!(!p.already_applied(&reg(&shrunk), TOPIC_ID, 1, config, 1));
    rm.apply_delta(&mut t.env(), &shrunk);
    // Broker 1 leads again, in leader epoch 2.
    let back = image(
        1,
        1,
        &[1, 2, 3],
        &[
            (2, None),
            (NO_LEADER_CHANGE, Some(vec![2, 3])),
            (1, Some(vec![1, 2, 3])),
        ],
    );
    rm.apply_delta(&mut t.env(), &back);
    let p = &rm.partitions()[&tp()];
    assert!(p.is_leader());
    assert_eq!(p.leader_epoch, 2);
    assert!(p.already_applied(&reg(&back), TOPIC_ID, 1, config, 1));
}
