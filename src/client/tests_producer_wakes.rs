//! When the producer wakes, driven without a simulator: a producer whose
//! leaders all have `max.in.flight.requests.per.connection` requests in
//! flight sets no wake (Kafka's Sender sleeps until an answer comes), and
//! the records the application sent meanwhile are generated, each at its
//! own tick, when the next input comes.

use super::producer::{Producer, ProducerSpec, ProducerTimer};
use crate::metadata::Uuid;
use crate::node::{Address, Effect, Input, TestEnv, Timer};
use crate::protocol::{
    KafkaMsg, KafkaRequest, KafkaResponse, Message, PartitionMetadata, ProduceResult, TopicId,
    TopicIdPartition,
};
use sim::MILLIS;

const BROKER: u32 = 1;

/// An idempotent producer of 1000 records/s to one partition, `linger.ms`
/// 5, at most `max_in_flight` requests in flight per broker.
fn spec(max_in_flight: usize) -> ProducerSpec {
    let mut spec = super::tests_producer_epoch::spec();
    spec.config.linger_ms = 5;
    spec.config.max_in_flight = max_in_flight;
    spec.workload.per_ns = MILLIS;
    spec
}

fn answer(p: &mut Producer, t: &mut TestEnv, correlation_id: u64, response: KafkaResponse) {
    let msg = Message::Kafka(KafkaMsg::Response {
        connection: crate::protocol::Connection::Producer,
        correlation_id,
        response,
    });
    p.handle(
        &mut t.env(),
        Input::Message {
            from: Address::Node(BROKER),
            msg,
        },
    );
}

/// The requests among `effects`, with their correlation ids.
fn requests(effects: &[Effect]) -> Vec<(u64, &KafkaRequest)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                msg:
                    Message::Kafka(KafkaMsg::Request {
                        correlation_id,
                        request,
                        ..
                    }),
                ..
            } => Some((*correlation_id, request)),
            _ => None,
        })
        .collect()
}

/// The times of the producer wakes set among `effects`.
fn wakes(effects: &[Effect]) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer {
                at,
                timer: Timer::Producer(ProducerTimer::Wake),
            } => Some(*at),
            _ => None,
        })
        .collect()
}

/// A producer past its metadata and InitProducerId, and the effects of
/// its first wake at 10 ms, which sends the records due by then.
fn producing(max_in_flight: usize) -> (Producer, TestEnv, Vec<Effect>) {
    let mut t = TestEnv::new(1);
    let mut p = Producer::boot(&spec(max_in_flight), &mut t.env());
    let effects = t.take();
    let (c, _) = requests(&effects)[0];
    let leader = PartitionMetadata {
        partition: 0,
        leader: Some(BROKER),
        leader_epoch: 0,
    };
    let topics = vec![("orders".to_owned(), vec![leader])];
    answer(&mut p, &mut t, c, KafkaResponse::Metadata { topics });
    let effects = t.take();
    let (c, _) = requests(&effects)[0];
    let id = KafkaResponse::InitProducerId {
        error: None,
        producer_id: 5,
        producer_epoch: 0,
    };
    answer(&mut p, &mut t, c, id);
    t.take();
    t.now = 10 * MILLIS;
    p.handle(
        &mut t.env(),
        Input::Timer(Timer::Producer(ProducerTimer::Wake)),
    );
    let effects = t.take();
    (p, t, effects)
}

/// The record count and the timestamps of the first Produce's batch.
fn batch_of(effects: &[Effect]) -> (u64, Vec<u64>) {
    let produce = requests(effects)
        .into_iter()
        .find_map(|(_, r)| match r {
            KafkaRequest::Produce { partitions, .. } => Some(partitions[0].batch.clone()),
            _ => None,
        })
        .expect("a ProduceRequest");
    let stamps = produce.records().iter().map(|r| r.timestamp_ms).collect();
    (produce.record_count(), stamps)
}

#[test]
fn a_producer_whose_leader_has_max_in_flight_requests_sets_no_wake_until_an_answer() {
    let (mut p, mut t, effects) = producing(1);
    // The records of 1 to 10 ms go out; the one connection is then full.
    let (count, _) = batch_of(&effects);
    assert_eq!(count, 10);
    assert_eq!(
        wakes(&effects),
        Vec::<u64>::new(),
        "nothing can be sent before the answer: no wake (not even the delivery timeout's, the request's own timeout comes first)"
    );
    let (c, _) = requests(&effects)[0];

    // The answer comes 50 ms later. The records due meanwhile are generated
    // first, each at its own tick, and go out in the next request.
    t.now = 60 * MILLIS;
    let ok = ProduceResult {
        tp: TopicIdPartition::new(TopicId(0), 0),
        error: None,
        base_offset: 0,
        topic_id: Uuid(0),
    };
    answer(
        &mut p,
        &mut t,
        c,
        KafkaResponse::Produce {
            partitions: vec![ok],
        },
    );
    let effects = t.take();
    let (count, stamps) = batch_of(&effects);
    assert_eq!(count, 50, "the records of 11 to 60 ms");
    assert_eq!(stamps, (11..=60).collect::<Vec<u64>>());
}

#[test]
fn a_producer_with_room_in_flight_wakes_for_its_next_batch() {
    let (_, _, effects) = producing(5);
    let (count, _) = batch_of(&effects);
    assert_eq!(count, 10);
    // The next record (11 ms) starts a batch that lingers out at 16 ms.
    assert_eq!(wakes(&effects), vec![16 * MILLIS]);
}
