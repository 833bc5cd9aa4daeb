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
use crate::protocol::{
    FetchMetadata, FetchPartition, IsolationLevel, KafkaMsg, KafkaResponse, Message,
};

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
    let partitions = vec![fetch_partition(offset)];
    waiting_session_fetch(rm, t, replica, FetchMetadata::SESSIONLESS, partitions);
}

/// Follower `replica`'s fetch in `session`, naming `partitions`, waiting up
/// to 500 ms for data.
fn waiting_session_fetch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    replica: u32,
    session: FetchMetadata,
    partitions: Vec<FetchPartition>,
) {
    let to = ReplyTo {
        to: Address::Node(replica),
        connection: crate::protocol::Connection::ReplicaFetcher,
        correlation_id: u64::from(replica),
    };
    let params = FetchParams {
        replica: Some((replica, 50 + u64::from(replica))),
        max_wait_ms: 500,
        isolation_level: IsolationLevel::ReadUncommitted,
    };
    rm.handle_fetch(&mut t.env(), to, params, session, partitions, Vec::new());
}

/// The answers to `replica` since the last `take`: session id and the
/// partitions' high watermarks.
fn session_answers(t: &mut TestEnv, replica: u32) -> Vec<(u32, Vec<u64>)> {
    let answers = t
        .sent()
        .into_iter()
        .filter_map(|(to, msg)| match (to, msg) {
            (
                to,
                Message::Kafka(KafkaMsg::Response {
                    response:
                        KafkaResponse::Fetch {
                            session_id,
                            partitions,
                            ..
                        },
                    ..
                }),
            ) if to == Address::Node(replica) => Some((
                *session_id,
                partitions.iter().map(|p| p.high_watermark).collect(),
            )),
            _ => None,
        })
        .collect();
    t.take();
    answers
}

/// The high watermarks answered to `replica` since the last `take`.
fn answered(t: &mut TestEnv, replica: u32) -> Vec<u64> {
    session_answers(t, replica)
        .into_iter()
        .map(|(_, hws)| hws[0])
        .collect()
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

/// The same in an incremental fetch session (2.5.1's `FetchSession`
/// reads every partition of the session, so `followerNeedsHwUpdate` is
/// looked at for each): the full fetch that moves the high watermark is
/// answered at once with it; the next, incremental, is answered at once
/// too, with nothing (the session told the high watermark already), and
/// the one after waits, its partition idle; a high watermark move wakes
/// it and completes it.
#[test]
fn before_kafka_9952_a_session_fetch_is_answered_at_once_while_the_high_watermark_is_unsent() {
    let (mut rm, mut t) = leading_two_records(true, &[1, 2, 3]);
    // Follower 3 has both records; follower 2 has none yet.
    waiting_fetch(&mut rm, &mut t, 3, 2);
    t.take();
    t.now = 10 * MILLIS;
    let full = FetchMetadata {
        session_id: FetchMetadata::INVALID_SESSION_ID,
        epoch: FetchMetadata::INITIAL_EPOCH,
    };
    waiting_session_fetch(&mut rm, &mut t, 2, full, vec![fetch_partition(2)]);
    let answers = session_answers(&mut t, 2);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (id, hws) = answers[0].clone();
    assert_eq!(hws, [2]);
    let at = |epoch| FetchMetadata {
        session_id: id,
        epoch,
    };
    t.now = 20 * MILLIS;
    waiting_session_fetch(&mut rm, &mut t, 2, at(1), Vec::new());
    assert_eq!(session_answers(&mut t, 2), [(id, Vec::new())]);
    t.now = 30 * MILLIS;
    waiting_session_fetch(&mut rm, &mut t, 2, at(2), Vec::new());
    assert_eq!(session_answers(&mut t, 2), []);
    // A record: follower 2's waiting fetch is answered with it (high
    // watermark 2); follower 3 fetches past it; follower 2's fetch from 3
    // moves the high watermark to 3 and is answered at once with it.
    produce(&mut rm, &mut t, 2, 1, 1);
    assert_eq!(session_answers(&mut t, 2), [(id, vec![2])]);
    waiting_fetch(&mut rm, &mut t, 3, 3);
    t.take();
    waiting_fetch(&mut rm, &mut t, 3, 3);
    t.take();
    t.now = 40 * MILLIS;
    waiting_session_fetch(&mut rm, &mut t, 2, at(3), vec![fetch_partition(3)]);
    assert_eq!(high_watermark(&rm), 3);
    assert_eq!(session_answers(&mut t, 2), [(id, vec![3])]);
}
