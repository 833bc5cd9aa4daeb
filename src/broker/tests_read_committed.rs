//! Fetch with `isolation.level`: a read_committed consumer reads below the
//! last stable offset and waits while an open transaction holds it back; a
//! read_uncommitted one reads to the high watermark.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::BrokerConfig;
use super::purgatory::{FetchParams, ReplyTo};
use super::ReplicaManager;
use crate::log::{BatchBuilder, RecordBatch};
use crate::metadata::{MetadataImage, MetadataRecord, Uuid};
use crate::node::{Address, Effect, TestEnv};
use crate::protocol::{
    FetchMetadata, FetchPartition, FetchedPartition, IsolationLevel, KafkaMsg, KafkaResponse,
    Message, ProduceData, TopicIdPartition, Topics,
};

const TOPIC_ID: Uuid = Uuid(7);

fn topics() -> Arc<Topics> {
    Arc::new(Topics::new(["t".to_owned()]))
}

fn tp() -> TopicIdPartition {
    topics().partition("t", 0).expect("t")
}

/// Broker 1 leads `t-0` alone (ISR [1], min.insync.replicas 1), so every
/// append moves the high watermark at once.
fn leader() -> (ReplicaManager, TestEnv) {
    let mut image = MetadataImage::default();
    let records = [
        MetadataRecord::TopicRecord {
            name: "t".to_owned(),
            topic_id: TOPIC_ID,
        },
        MetadataRecord::PartitionRecord {
            partition_id: 0,
            topic_id: TOPIC_ID,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        },
    ];
    for (offset, r) in records.iter().enumerate() {
        image.apply(offset as u64, r);
    }
    let mut t = TestEnv::new(1);
    let config = BrokerConfig::default();
    let mut rm = ReplicaManager::boot(1, config, &topics(), &mut t.env(), &BTreeMap::new());
    rm.set_broker_epoch(Some(100));
    rm.apply_delta(&mut t.env(), &image);
    t.take();
    (rm, t)
}

/// Producer `pid` sends `n` records, in a transaction or not.
fn produce(rm: &mut ReplicaManager, t: &mut TestEnv, pid: i64, n: u8, transactional: bool) {
    let mut b = BatchBuilder::new();
    for i in 0..n {
        b.append(None, &[i], 0);
    }
    let batch = if transactional {
        b.build_transactional(pid, 0, 0)
    } else {
        b.build(pid, 0, 0)
    };
    let to = ReplyTo {
        to: Address::Client(9),
        correlation_id: 1,
    };
    let data = ProduceData {
        tp: tp(),
        batch: Arc::new(batch),
    };
    rm.handle_produce(&mut t.env(), to, 1, 30_000, vec![data]);
}

/// A consumer fetches `t-0` from `offset`.
fn fetch(
    rm: &mut ReplicaManager,
    t: &mut TestEnv,
    offset: u64,
    isolation_level: IsolationLevel,
    max_wait_ms: u64,
) {
    let params = FetchParams {
        replica: None,
        max_wait_ms,
        isolation_level,
    };
    let request = FetchPartition {
        tp: tp(),
        current_leader_epoch: -1,
        fetch_offset: offset,
        last_fetched_epoch: None,
    };
    let to = ReplyTo {
        to: Address::Client(0),
        correlation_id: 2,
    };
    let session = FetchMetadata::SESSIONLESS;
    rm.handle_fetch(&mut t.env(), to, params, session, vec![request], Vec::new());
}

/// The fetch answers sent to the consumer since the last call.
fn answers(t: &mut TestEnv) -> Vec<FetchedPartition> {
    t.take()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Send {
                to: Address::Client(0),
                msg:
                    Message::Kafka(KafkaMsg::Response {
                        response: KafkaResponse::Fetch { partitions, .. },
                        ..
                    }),
                ..
            } => Some(partitions),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The offsets of the batches answered.
fn batch_offsets(answer: &FetchedPartition) -> Vec<u64> {
    answer
        .batches
        .iter()
        .map(|b: &Arc<RecordBatch>| b.base_offset)
        .collect()
}

#[test]
fn read_committed_reads_below_the_last_stable_offset_only() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 5, 2, false); // 0-1
    produce(&mut rm, &mut t, 7, 3, true); // 2-4: producer 7's open transaction
    produce(&mut rm, &mut t, 6, 2, false); // 5-6
    t.take();
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadCommitted, 0);
    let committed = answers(&mut t);
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].high_watermark, 7);
    assert_eq!(
        committed[0].last_stable_offset, 2,
        "the open transaction's first offset"
    );
    assert_eq!(batch_offsets(&committed[0]), [0]);
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadUncommitted, 0);
    let uncommitted = answers(&mut t);
    assert_eq!(batch_offsets(&uncommitted[0]), [0, 2, 5]);
}

#[test]
fn a_read_committed_fetch_at_the_last_stable_offset_waits_for_it_to_move() {
    let (mut rm, mut t) = leader();
    produce(&mut rm, &mut t, 7, 3, true); // 0-2: open
    t.take();
    fetch(&mut rm, &mut t, 0, IsolationLevel::ReadCommitted, 500);
    fetch(&mut rm, &mut t, 3, IsolationLevel::ReadUncommitted, 500);
    assert!(answers(&mut t).is_empty(), "both wait");
    produce(&mut rm, &mut t, 5, 1, false); // 3: past the high watermark, not the LSO
    let woken = answers(&mut t);
    assert_eq!(
        woken.len(),
        1,
        "only the read_uncommitted fetch is answered"
    );
    assert_eq!(batch_offsets(&woken[0]), [3]);
}
