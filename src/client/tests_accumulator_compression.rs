//! The accumulator with a compressing producer: batch sizes estimated from
//! the compression ratio, and the ratio's estimate following the batches
//! drained (Kafka's `MemoryRecordsBuilder.estimatedBytesWritten` and
//! `CompressionRatioEstimator`).

use super::accumulator::{
    AccumulatorConfig, PendingRecord, RecordAccumulator, RECORD_BATCH_OVERHEAD,
};
use crate::log::{Compression, CompressionType};
use crate::protocol::{TopicId, TopicIdPartition};

fn config(compression: Compression) -> AccumulatorConfig {
    AccumulatorConfig {
        batch_size: 16384,
        linger_ms: 1000,
        max_in_flight: 5,
        delivery_timeout_ms: 120_000,
        request_timeout_expiry_ms: None,
        retry_backoff_ms: 100,
        idempotence: false,
        compression,
    }
}

const TP: TopicIdPartition = TopicIdPartition {
    topic_id: TopicId(0),
    partition: 0,
};

/// Appends records of 100 zero bytes until the partition's first batch
/// closes; returns how many it took.
fn fill_one_batch(acc: &mut RecordAccumulator, first_id: u64) -> u64 {
    let value = [0u8; 100];
    let mut id = first_id;
    loop {
        let result = acc.append(
            TP,
            PendingRecord {
                id,
                key: None,
                tombstone: false,
                value: &value,
                timestamp_ms: 0,
            },
            0,
        );
        id += 1;
        if result.new_batch_created && id - 1 > first_id {
            // This record opened the next batch: the first holds the rest.
            return id - 1 - first_id;
        }
    }
}

fn drain_and_build(acc: &mut RecordAccumulator) -> f32 {
    let mut no_sequence = |_: &TopicIdPartition, _: u32| -1;
    let mut batch = acc.drain(&TP, 0, &mut no_sequence).expect("a full batch");
    let built = batch.batch(false);
    let observed = built.size_in_bytes() as f32 / batch.builder.records_len() as f32;
    acc.update_compression_ratio(TP.topic_id, observed);
    observed
}

#[test]
fn uncompressed_batches_fill_to_batch_size() {
    let mut acc = RecordAccumulator::new(config(Compression::NONE));
    // Records of 100 bytes take 109 bytes, 110 from offset delta 64 on:
    // 64 * 109 + 84 * 110 = 16216 fit in 16384 - 61, one more does not.
    assert_eq!(fill_one_batch(&mut acc, 0), 148);
}

#[test]
fn compressed_batches_are_estimated_at_1_05_times_the_ratio() {
    let mut acc = RecordAccumulator::new(config(Compression::of(CompressionType::Gzip)));
    assert_eq!(acc.compression_ratio(TP.topic_id), 1.0);
    // At the first estimate (1.0) each record counts 1.05 times: after 141
    // records (64 * 109 + 77 * 110 = 15446 bytes) the estimate is
    // 61 + 16218 = 16279, and a record of 110 more bytes has no room
    // (Kafka's hasRoomFor adds the record uncompressed): 7 fewer than
    // uncompressed.
    let first = fill_one_batch(&mut acc, 0);
    assert_eq!(first, 141);
    let queued = acc.queued(&TP).next().expect("the first batch");
    let records = queued.builder.records_len();
    assert_eq!(
        queued.size_bytes,
        RECORD_BATCH_OVERHEAD + (records as f32 * 1.0 * 1.05) as usize
    );
    // Zeros compress far better than the estimate: each drained batch moves
    // it down by 0.005 (COMPRESSION_RATIO_IMPROVING_STEP), no further.
    let observed = drain_and_build(&mut acc);
    assert!(observed < 0.1, "zeros compress: {observed}");
    assert_eq!(acc.compression_ratio(TP.topic_id), 1.0 - 0.005);
    // The open batch (created at 1.0) fills up behind it and is drained.
    fill_one_batch(&mut acc, 1_000);
    drain_and_build(&mut acc);
    let after_two = acc.compression_ratio(TP.topic_id);
    assert!((after_two - 0.99).abs() < 1e-6, "{after_two}");
    // New batches are created at the lower estimate, so they hold more records.
    // (The open batch was created after the first drain, at 0.995.)
    fill_one_batch(&mut acc, 1_000_000);
    let more = acc.queued(&TP).next().expect("full").ids.len() as u64;
    assert_eq!(more, first + 1, "142 records at 0.995 * 1.05 per byte");
}

#[test]
fn a_worse_ratio_raises_the_estimate_at_once() {
    let mut acc = RecordAccumulator::new(config(Compression::of(CompressionType::Zstd)));
    acc.update_compression_ratio(TP.topic_id, 0.2);
    // Better by 0.8: down 0.005 only.
    assert_eq!(acc.compression_ratio(TP.topic_id), 0.995);
    for _ in 0..500 {
        acc.update_compression_ratio(TP.topic_id, 0.2);
    }
    assert_eq!(
        acc.compression_ratio(TP.topic_id),
        0.2,
        "never below the observed ratio"
    );
    // Worse: up by at least 0.05 (COMPRESSION_RATIO_DETERIORATE_STEP) ...
    acc.update_compression_ratio(TP.topic_id, 0.21);
    assert!((acc.compression_ratio(TP.topic_id) - 0.25).abs() < 1e-6);
    // ... or to the observed ratio when that is further.
    acc.update_compression_ratio(TP.topic_id, 0.9);
    assert_eq!(acc.compression_ratio(TP.topic_id), 0.9);
    // Other topics keep their own estimate.
    assert_eq!(acc.compression_ratio(TopicId(7)), 1.0);
}

#[test]
fn built_batches_are_compressed_with_the_producers_codec() {
    for kind in CompressionType::ALL {
        let mut acc = RecordAccumulator::new(config(Compression::of(kind)));
        fill_one_batch(&mut acc, 0);
        let mut no_sequence = |_: &TopicIdPartition, _: u32| -1;
        let mut batch = acc.drain(&TP, 0, &mut no_sequence).expect("full");
        let built = batch.batch(false);
        assert_eq!(built.compression_type(), kind);
        assert_eq!(built.record_count(), batch.ids.len() as u64);
    }
}
