//! The idempotent producer's own epoch bump (KIP-360, Kafka 3.8.0's
//! `TransactionManager.bumpIdempotentProducerEpoch`), driven without a
//! simulator: a gap in a partition's sequences is closed by a bump the
//! producer makes itself, with no InitProducerId.

use super::partitioner::PartitionerKind;
use super::producer::{Producer, ProducerConfig, ProducerSpec, ProducerTimer, ProducerWorkload};
use crate::errors::Errors;
use crate::log::Compression;
use crate::metadata::Uuid;
use crate::node::{Address, Input, TestEnv, Timer};
use crate::protocol::{
    KafkaMsg, KafkaRequest, KafkaResponse, Message, PartitionMetadata, ProduceResult, TopicId,
    TopicIdPartition,
};

const BROKER: u32 = 1;

pub(super) fn spec() -> ProducerSpec {
    ProducerSpec {
        index: 0,
        config: ProducerConfig {
            acks: -1,
            linger_ms: 0,
            batch_size: 16384,
            max_in_flight: 5,
            retries: i32::MAX as u32,
            delivery_timeout_ms: 120_000,
            delivery_timeout_bounds_sends: true,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            idempotence: true,
            compression: Compression::NONE,
            partitioner: PartitionerKind::UniformSticky,
        },
        workload: ProducerWorkload {
            topic: "orders".to_owned(),
            topic_id: TopicId(0),
            records: 1,
            per_ns: 1_000_000_000,
            keys: 0,
            value_size: 10,
            tombstones_ppm: 0,
            stop_at_ns: 60_000_000_000,
        },
        brokers: vec![BROKER],
        transaction: None,
    }
}

/// The requests sent since the last call, with their correlation ids.
fn requests(t: &mut TestEnv) -> Vec<(u64, KafkaRequest)> {
    t.take()
        .into_iter()
        .filter_map(|e| match e {
            crate::node::Effect::Send {
                msg:
                    Message::Kafka(KafkaMsg::Request {
                        correlation_id,
                        request,
                        ..
                    }),
                ..
            } => Some((correlation_id, request)),
            _ => None,
        })
        .collect()
}

fn answer(p: &mut Producer, t: &mut TestEnv, correlation_id: u64, response: KafkaResponse) {
    let msg = Message::Kafka(KafkaMsg::Response {
        connection: crate::protocol::Connection::Producer,
        correlation_id,
        response,
    });
    let from = Address::Node(BROKER);
    p.handle(&mut t.env(), Input::Message { from, msg });
}

/// A batch's (producer id, epoch, base sequence).
type Numbered = (i64, i16, i32);

/// Every Produce's batches among `sent` (by correlation id), and whether
/// an InitProducerId is among them.
fn produces(sent: &[(u64, KafkaRequest)]) -> (Vec<(u64, Numbered)>, bool) {
    let mut out = Vec::new();
    let mut init = false;
    for (c, r) in sent {
        match r {
            KafkaRequest::Produce { partitions, .. } => {
                for d in partitions {
                    let b = &d.batch;
                    out.push((*c, (b.producer_id, b.producer_epoch, b.base_sequence)));
                }
            }
            KafkaRequest::InitProducerId { .. } => init = true,
            _ => {}
        }
    }
    (out, init)
}

#[test]
fn a_sequence_gap_bumps_the_epoch_without_a_request_and_the_batch_starts_over_at_0() {
    let mut t = TestEnv::new(1);
    let mut p = Producer::boot(&spec(), &mut t.env());
    let tp = TopicIdPartition::new(TopicId(0), 0);
    // Metadata: one partition led by the broker; then the producer id.
    let sent = requests(&mut t);
    let (c, _) = sent
        .iter()
        .find(|(_, r)| matches!(r, KafkaRequest::Metadata { .. }))
        .expect("a MetadataRequest at boot");
    let leader = PartitionMetadata {
        partition: 0,
        leader: Some(BROKER),
        leader_epoch: 0,
    };
    let topics = vec![("orders".to_owned(), vec![leader])];
    answer(&mut p, &mut t, *c, KafkaResponse::Metadata { topics });
    let sent = requests(&mut t);
    let (c, _) = sent
        .iter()
        .find(|(_, r)| matches!(r, KafkaRequest::InitProducerId { .. }))
        .expect("an InitProducerId once the metadata is in");
    let id = KafkaResponse::InitProducerId {
        error: None,
        producer_id: 5,
        producer_epoch: 0,
    };
    answer(&mut p, &mut t, *c, id);
    requests(&mut t);

    // A record is due: its batch goes under (5, 0) at sequence 0.
    t.now = 2_000_000_000;
    p.handle(
        &mut t.env(),
        Input::Timer(Timer::Producer(ProducerTimer::Wake)),
    );
    let (sent, _) = produces(&requests(&mut t));
    let &(c, first) = sent.first().expect("a ProduceRequest");
    assert_eq!((first.0, first.1), (5, 0));
    let first_seq = first.2;

    // The broker lost the producer's earlier sequences: this batch, the
    // next the producer expects to be acknowledged, is out of order.
    let oosn = ProduceResult {
        tp,
        error: Some(Errors::OutOfOrderSequenceNumber),
        base_offset: -1,
        topic_id: Uuid(0),
    };
    let response = KafkaResponse::Produce {
        partitions: vec![oosn],
    };
    answer(&mut p, &mut t, c, response);
    t.now += 200_000_000;
    p.handle(
        &mut t.env(),
        Input::Timer(Timer::Producer(ProducerTimer::Wake)),
    );
    let (sent, init) = produces(&requests(&mut t));
    assert!(
        !init,
        "an idempotent producer bumps its epoch itself (no InitProducerId)"
    );
    let &(_, retry) = sent.first().expect("the batch sent again");
    assert_eq!(
        retry,
        (5, 1, 0),
        "the same producer id, the next epoch, sequences from 0 (the first try had {first_seq})"
    );
}
