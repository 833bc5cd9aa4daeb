//! Batches as the log cleaner leaves them (Kafka's `MemoryRecords.filterTo`):
//! records removed between the base and last offsets, tombstones (null
//! values), empty batches kept for a producer's sequence, and the delete
//! horizon in the base timestamp (KIP-534). Each round-trips through
//! Kafka's bytes, and an independent decoder (the kafka-protocol crate)
//! reads the same offsets and values.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use super::*;

/// Ten records at offsets 100..110 with keys `k{i % 3}`, the one at 107
/// a tombstone, in a batch of producer 7 from sequence 40.
fn ten(kind: CompressionType) -> RecordBatch {
    let mut builder = BatchBuilder::new().compressed(Compression::of(kind));
    for i in 0..10u64 {
        let key = format!("k{}", i % 3);
        let value = format!("value-{i}");
        let value = (i != 7).then_some(value.as_bytes());
        builder.append_record(Some(key.as_bytes()), value, 1_000 + i);
    }
    let mut batch = builder.build(7, 0, 40);
    batch.base_offset = 100;
    batch.partition_leader_epoch = 3;
    batch
}

/// The batch's records as (offset, value).
fn offsets_and_values(batch: &RecordBatch) -> Vec<(u64, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    batch.for_each_record(|r| {
        out.push((
            batch.base_offset + u64::from(r.offset_delta),
            r.value.map(<[u8]>::to_vec),
        ))
    });
    out
}

/// What kafka-protocol decodes from `bytes`: (offset, value) per record.
fn independently(bytes: Vec<u8>) -> Vec<(i64, Option<Vec<u8>>)> {
    let mut buf = Bytes::from(bytes);
    let sets = RecordBatchDecoder::decode_all(&mut buf).expect("kafka-protocol decodes it");
    sets.into_iter()
        .flat_map(|set| set.records)
        .map(|r| (r.offset, r.value.map(|v| v.to_vec())))
        .collect()
}

/// Keeps the records of `batch` at `offsets`.
fn keep(batch: &RecordBatch, offsets: &[u64], horizon: Option<u64>) -> RecordBatch {
    let mut records = Vec::new();
    batch.for_each_record(|r| {
        if offsets.contains(&(batch.base_offset + u64::from(r.offset_delta))) {
            let headers = (r.headers.len(), r.headers.bytes().to_vec());
            records.push((r.offset_delta, r.to_record(), headers));
        }
    });
    let views: Vec<RecordView<'_>> = records
        .iter()
        .map(|(delta, r, (count, bytes))| RecordView {
            offset_delta: *delta,
            timestamp_ms: r.timestamp_ms,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: crate::log::headers::Headers::from_parts(*count, bytes),
        })
        .collect();
    batch.retained(&views, horizon)
}

#[test]
fn a_tombstone_is_a_null_value_on_the_wire() {
    let batch = ten(CompressionType::None);
    let values = offsets_and_values(&batch);
    assert_eq!(values[7], (107, None), "the tombstone");
    assert_eq!(values[6].1.as_deref(), Some(&b"value-6"[..]));
    let bytes = batch.encode();
    let (decoded, _) = RecordBatch::decode(&bytes).expect("decodes");
    assert_eq!(decoded.encode(), bytes);
    let theirs = independently(bytes);
    assert_eq!(theirs[7], (107, None), "kafka-protocol reads a null value");
    assert_eq!(theirs[0], (100, Some(b"value-0".to_vec())));
}

#[test]
fn a_retained_batch_keeps_its_offsets_producer_and_last_sequence() {
    for kind in CompressionType::ALL {
        let batch = ten(kind);
        let cleaned = keep(&batch, &[101, 104, 107, 108], None);
        assert_eq!(cleaned.base_offset, 100);
        assert_eq!(cleaned.last_offset(), 109, "the last offset stays");
        assert_eq!(cleaned.next_offset(), 110);
        assert_eq!(cleaned.record_count(), 4);
        assert!(cleaned.is_compacted());
        assert_eq!(cleaned.last_sequence(), 49, "40 + last offset delta 9");
        assert_eq!(cleaned.producer_id, 7);
        assert_eq!(cleaned.partition_leader_epoch, 3);
        assert_eq!(cleaned.compression_type(), kind);
        assert_eq!(cleaned.delete_horizon_ms(), None);
        let kept: Vec<u64> = offsets_and_values(&cleaned).iter().map(|r| r.0).collect();
        assert_eq!(kept, [101, 104, 107, 108], "{kind:?}");
        let bytes = cleaned.encode();
        let (decoded, used) = RecordBatch::decode(&bytes).expect("a cleaned batch decodes");
        assert_eq!(used, bytes.len());
        assert_eq!(decoded, cleaned);
        assert_eq!(decoded.encode(), bytes, "{kind:?}: re-encodes to its bytes");
        // kafka-protocol 0.15 reads raw snappy blocks, not the snappy-java
        // stream Kafka writes (and ksim with it).
        if kind != CompressionType::Snappy {
            let theirs: Vec<i64> = independently(bytes).iter().map(|r| r.0).collect();
            assert_eq!(
                theirs,
                [101, 104, 107, 108],
                "{kind:?}: kafka-protocol agrees"
            );
        }
    }
}

#[test]
fn the_delete_horizon_takes_the_base_timestamp_and_keeps_record_times() {
    let batch = ten(CompressionType::Lz4);
    let cleaned = keep(&batch, &[105, 107], Some(90_000));
    assert_eq!(cleaned.delete_horizon_ms(), Some(90_000));
    let bytes = cleaned.encode();
    assert_ne!(
        i16::from_be_bytes([bytes[21], bytes[22]]) & DELETE_HORIZON_FLAG,
        0,
        "attribute bit 6"
    );
    assert_eq!(
        i64::from_be_bytes(bytes[27..35].try_into().unwrap()),
        90_000
    );
    let (decoded, _) = RecordBatch::decode(&bytes).expect("decodes");
    let times: Vec<u64> = decoded.records().iter().map(|r| r.timestamp_ms).collect();
    assert_eq!(times, [1_005, 1_007], "record timestamps are the records'");
    assert_eq!(decoded.max_timestamp(), 1_007);
    // A later cleaning keeps the horizon it was given.
    let again = keep(&decoded, &[107], decoded.delete_horizon_ms());
    assert_eq!(again.delete_horizon_ms(), Some(90_000));
}

#[test]
fn an_emptied_batch_is_a_header_with_the_same_offsets_and_sequence() {
    let batch = ten(CompressionType::Gzip);
    let empty = batch.emptied();
    assert_eq!(empty.record_count(), 0);
    assert_eq!((empty.base_offset, empty.last_offset()), (100, 109));
    assert_eq!(empty.last_sequence(), 49);
    assert_eq!(empty.compression_type(), CompressionType::None);
    assert_eq!(empty.max_timestamp(), batch.max_timestamp());
    let bytes = empty.encode();
    assert_eq!(bytes.len(), RECORD_BATCH_OVERHEAD);
    let (decoded, _) = RecordBatch::decode(&bytes).expect("an empty batch decodes");
    assert_eq!(decoded, empty);
    assert!(offsets_and_values(&decoded).is_empty());
    assert!(independently(bytes).is_empty(), "kafka-protocol: no record");
}

#[test]
fn batches_the_cleaner_cannot_write_do_not_decode() {
    let cleaned = keep(&ten(CompressionType::None), &[101, 104], None);
    let bytes = cleaned.encode();
    let reseal = |mut b: Vec<u8>| {
        let crc = crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    };
    // More records than offsets.
    let mut more = bytes.clone();
    more[23..27].copy_from_slice(&0i32.to_be_bytes());
    assert!(RecordBatch::decode(&reseal(more)).is_err());
    // An empty batch with a base timestamp.
    let mut empty = ten(CompressionType::None).emptied().encode();
    empty[27..35].copy_from_slice(&5i64.to_be_bytes());
    assert!(RecordBatch::decode(&reseal(empty)).is_err());
    // A control batch missing offsets (its marker is kept whole or not at all).
    let marker = EndTransactionMarker {
        control_type: ControlRecordType::Commit,
        coordinator_epoch: 0,
    };
    let mut control = RecordBatch::end_txn_marker(7, 0, marker, 5).encode();
    control[23..27].copy_from_slice(&1i32.to_be_bytes());
    assert!(RecordBatch::decode(&reseal(control)).is_err());
}

#[test]
fn headers_are_on_the_wire_as_kafka_reads_them_and_survive_cleaning() {
    // (A null header value, -1 as Kafka's DefaultRecord writes it, is left
    // out: kafka-protocol 0.15 reads only -2 as null.)
    let mut builder = BatchBuilder::new();
    builder.append(Some(b"key-1"), b"value", 1_000);
    let id = 42u64.to_be_bytes();
    builder.append_with_headers(
        Some(b"key-1"),
        None,
        &[("ksim.id", Some(&id[..])), ("x", Some(b"y"))],
        1_001,
    );
    let mut batch = builder.build(7, 0, 0);
    batch.base_offset = 10;
    let bytes = batch.encode();
    let (decoded, _) = RecordBatch::decode(&bytes).expect("decodes");
    assert_eq!(decoded.encode(), bytes);
    let mut buf = Bytes::from(bytes);
    let theirs = RecordBatchDecoder::decode_all(&mut buf).expect("kafka-protocol decodes it");
    let record = &theirs[0].records[1];
    assert_eq!(record.value, None);
    let theirs_headers: Vec<(String, Option<Vec<u8>>)> = record
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_ref().map(|v| v.to_vec())))
        .collect();
    assert!(theirs_headers.contains(&("ksim.id".to_owned(), Some(id.to_vec()))));
    assert!(theirs_headers.contains(&("x".to_owned(), Some(b"y".to_vec()))));
    // The cleaner keeps the tombstone with its headers, byte for byte.
    let kept = keep(&batch, &[11], None);
    let mut headers = Vec::new();
    kept.for_each_record(|r| headers.push(r.headers.to_owned()));
    assert_eq!(headers[0][0].key, "ksim.id");
    assert_eq!(headers[0][0].value.as_deref(), Some(&id[..]));
    assert_eq!(headers[0][1].value.as_deref(), Some(&b"y"[..]));
}
