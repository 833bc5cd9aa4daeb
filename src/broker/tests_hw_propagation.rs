//! KIP-392's immediate high watermark propagation to followers, Kafka 2.4
//! and 2.5's (2.5.1), removed in 2.6 by KAFKA-9952
//! (`follower_fetch_waits_for_data`): the leader answers a follower's fetch
//! at once when a partition's high watermark is above the one it last sent
//! that follower (`ReplicaManager.readFromLocalLog`'s
//! `followerNeedsHwUpdate`), and completes a waiting one when it moves
//! above it (`DelayedFetch.tryComplete`, "Case H"), as it goes into the
//! purgatory too (`tryCompleteElseWatch`).

use sim::MILLIS;

use super::config::BrokerConfig;
use super::purgatory::{FetchParams, ReplyTo};
use super::tests_replica_manager::{broker, fetch_partition, high_watermark, image, produce};
use super::ReplicaManager;
use crate::node::{Address, TestEnv};
use crate::protocol::{FetchMetadata, IsolationLevel, KafkaMsg, KafkaResponse, Message};

/// Kafka 2.5's broker (`follower_fetch_waits_for_data = false`) or 2.6's.
fn config(kafka_2_5: bool) -> BrokerConfig {
    BrokerConfig {
        follower_fetch_waits_for_data: !kafka_2_5,
        ..BrokerConfig::default()
    }
}

/// Follower `replica` fetches `t-0` from `offset` (sessionless), waiting
/// up to 500 ms for data.
fn waiting_fetch(rm: &mut ReplicaManager, t: &mut TestEnv, replica: u32, offset: u64) {
    let to = ReplyTo {
        to: Address::Node(replica),
        correlation_id: u64::from(replica),
    };
    let params = FetchParams {
        replica: Some((replica, 50 + u64::from(replica))),
        max_wait_ms: 500,
        isolation_level: IsolationLevel::ReadUncommitted,
    };
    let (session, partitions) = (FetchMetadata::SESSIONLESS, vec![fetch_partition(offset)]);
    rm.handle_fetch(&mut t.env(), to, params, session, partitions, Vec::new());
}

/// The high watermarks answered to `replica` since the last `take`.
fn answered(t: &mut TestEnv, replica: u32) -> Vec<u64> {
    let hws = t
        .sent()
        .into_iter()
        .filter_map(|(to, msg)| match (to, msg) {
            (
                to,
                Message::Kafka(KafkaMsg::Response {
                    response: KafkaResponse::Fetch { partitions, .. },
                    ..
                }),
            ) if to == Address::Node(replica) => Some(partitions[0].high_watermark),
            _ => None,
        })
        .collect();
    t.take();
    hws
}

/// Broker 1 leads `t-0` (replicas 1, 2, 3; ISR `isr`) with 2 records
/// nobody fetched: the high watermark 0.
fn leading_two_records(kafka_2_5: bool, isr: &[u32]) -> (ReplicaManager, TestEnv) {
    let (mut rm, mut t) = broker(config(kafka_2_5), &image(1, 1, isr, &[]));
    produce(&mut rm, &mut t, 1, 1, 2);
    t.take();
    assert_eq!(high_watermark(&rm), 0);
    (rm, t)
}

/// A follower's fetch that finds no data but moves the high watermark
/// (its position completes the ISR's) is answered at once under 2.5.1,
/// with the new high watermark: it read 0 and was recorded as sent 0, and
/// `tryCompleteElseWatch`'s Case H finds 2. Under 2.6 it waits.
#[test]
fn before_kafka_9952_a_fetch_that_moves_the_high_watermark_is_answered_with_it_at_once() {
    for kafka_2_5 in [false, true] {
        let (mut rm, mut t) = leading_two_records(kafka_2_5, &[1, 2]);
        t.now = 10 * MILLIS;
        waiting_fetch(&mut rm, &mut t, 2, 2);
        assert_eq!(high_watermark(&rm), 2);
        let want: &[u64] = if kafka_2_5 { &[2] } else { &[] };
        assert_eq!(answered(&mut t, 2), want, "2.5: {kafka_2_5}");
    }
}

/// Case H in the purgatory: follower 2's fetch waits (follower 3 holds the
/// high watermark at 0); follower 3's fetch moves it to 2, which completes
/// follower 2's fetch under 2.5.1 (`Partition.tryCompleteDelayedRequests`
/// runs `DelayedFetch.tryComplete`). Under 2.6 it waits for data or its
/// 500 ms. A completed fetch records nothing (`onComplete` reads only), so
/// under 2.5.1 follower 2's next fetch, whose high watermark last sent is
/// still 0, is answered at once too (`followerNeedsHwUpdate`); the one
/// after waits.
#[test]
fn before_kafka_9952_a_waiting_follower_fetch_completes_when_the_high_watermark_moves() {
    for kafka_2_5 in [false, true] {
        let (mut rm, mut t) = leading_two_records(kafka_2_5, &[1, 2, 3]);
        t.now = 10 * MILLIS;
        waiting_fetch(&mut rm, &mut t, 2, 2);
        assert_eq!(high_watermark(&rm), 0, "follower 3 has nothing");
        assert_eq!(answered(&mut t, 2), [] as [u64; 0]);
        t.now = 20 * MILLIS;
        waiting_fetch(&mut rm, &mut t, 3, 2);
        assert_eq!(high_watermark(&rm), 2);
        let want: &[u64] = if kafka_2_5 { &[2] } else { &[] };
        assert_eq!(answered(&mut t, 2), want, "2.5: {kafka_2_5}");
        if !kafka_2_5 {
            continue;
        }
        // Follower 2 fetches again: answered at once (sent 0, now 2).
        t.now = 30 * MILLIS;
        waiting_fetch(&mut rm, &mut t, 2, 2);
        assert_eq!(answered(&mut t, 2), [2]);
        // Sent 2 now: the next fetch waits.
        t.now = 40 * MILLIS;
        waiting_fetch(&mut rm, &mut t, 2, 2);
        assert_eq!(answered(&mut t, 2), [] as [u64; 0]);
    }
}
