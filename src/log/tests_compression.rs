//! Compressed batches in the log: their format, recompression to the
//! topic's `compression.type`, and recovery from compressed bytes on disk.

use super::tests::{fresh, records, state, Disk};
use super::*;
use crate::node::Effect;

/// `n` records from offset `from` built into one batch compressed with `kind`.
fn batch_of(kind: CompressionType, from: u64, n: u64) -> RecordBatch {
    let mut builder = BatchBuilder::new().compressed(Compression::of(kind));
    for r in records(from, n) {
        builder.append_record(r.key.as_deref(), r.value.as_deref(), r.timestamp_ms);
    }
    builder.build(1001, 0, from as i32)
}

#[test]
fn compressed_batches_carry_their_codec_and_round_trip() {
    let plain = batch_of(CompressionType::None, 0, 200);
    for kind in CompressionType::ALL {
        let batch = batch_of(kind, 0, 200);
        assert_eq!(batch.compression_type(), kind);
        // The attributes' low bits are the codec id (Kafka's compressionType()).
        let bytes = batch.encode();
        assert_eq!(i16::from_be_bytes([bytes[21], bytes[22]]) & 0x7, kind.id());
        // The CRC covers the compressed section as written.
        assert_eq!(crc32c(&bytes[21..]), batch.crc());
        let (decoded, used) = RecordBatch::decode(&bytes).expect("decodes");
        assert_eq!(used, bytes.len());
        assert_eq!(decoded, batch);
        assert_eq!(
            decoded.encode(),
            bytes,
            "what decodes re-encodes to its bytes"
        );
        assert_eq!(
            decoded.records(),
            plain.records(),
            "{kind:?}: the same records"
        );
        assert_eq!(
            decoded.uncompressed_records_len(),
            plain.uncompressed_records_len()
        );
        if kind != CompressionType::None {
            assert!(
                batch.size_in_bytes() * 3 < plain.size_in_bytes() * 2,
                "{kind:?}: {} of {}",
                batch.size_in_bytes(),
                plain.size_in_bytes()
            );
            // The section is the codec's stream of the uncompressed records.
            let section = &bytes[RECORD_BATCH_OVERHEAD..];
            let records = decompress(kind, section).expect("the codec's stream");
            assert_eq!(records.len(), plain.uncompressed_records_len());
        }
    }
}

#[test]
fn a_compressed_batch_with_a_broken_stream_or_unknown_codec_is_corrupt() {
    let batch = batch_of(CompressionType::Zstd, 0, 50);
    let mut bytes = batch.encode();
    // Garble the stream, then fix the CRC so only the codec can tell.
    let mid = RECORD_BATCH_OVERHEAD + (bytes.len() - RECORD_BATCH_OVERHEAD) / 2;
    bytes[mid] ^= 0xFF;
    bytes[mid + 1] ^= 0x5A;
    let crc = crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(RecordBatch::decode(&bytes).err(), Some(BatchError::Corrupt));
    // Codec id 5 does not exist.
    let mut bytes = batch_of(CompressionType::None, 0, 5).encode();
    bytes[22] |= 0x5;
    let crc = crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(RecordBatch::decode(&bytes).err(), Some(BatchError::Corrupt));
}

#[test]
fn recompressed_keeps_the_header_and_records_under_a_new_codec() {
    let gzip = batch_of(CompressionType::Gzip, 10, 40);
    let lz4 = gzip.recompressed(Compression::of(CompressionType::Lz4));
    assert_eq!(lz4.compression_type(), CompressionType::Lz4);
    assert_eq!(lz4.records(), gzip.records());
    assert_eq!(
        (lz4.producer_id, lz4.producer_epoch, lz4.base_sequence),
        (gzip.producer_id, gzip.producer_epoch, gzip.base_sequence)
    );
    assert_ne!(lz4.crc(), gzip.crc());
    let (decoded, _) = RecordBatch::decode(&lz4.encode()).expect("decodes");
    assert_eq!(decoded, lz4);
    let plain = gzip.recompressed(Compression::NONE);
    assert_eq!(plain, batch_of(CompressionType::None, 10, 40));
}

fn with_compression(codec: Option<CompressionType>) -> LogConfig {
    LogConfig {
        compression: LogCompression {
            codec,
            ..LogCompression::default()
        },
        ..LogConfig::default()
    }
}

fn append_batch(log: &mut UnifiedLog, disk: &mut Disk, batch: &RecordBatch) -> RecordBatch {
    let mut out: Vec<Effect> = Vec::new();
    let written = log.append_as_leader(batch, 1, 0, &mut out);
    disk.apply(&mut out);
    (*written).clone()
}

#[test]
fn the_log_stores_batches_in_its_compression_type() {
    // producer (the default): each batch as its producer compressed it.
    let (mut log, mut disk) = fresh(with_compression(None));
    for kind in CompressionType::ALL {
        let from = log.log_end_offset();
        let written = append_batch(&mut log, &mut disk, &batch_of(kind, from, 20));
        assert_eq!(written.compression_type(), kind);
    }
    // A topic with compression.type = zstd recompresses what is not zstd
    // (Kafka's LogValidator), and keeps zstd batches as they came.
    let (mut log, mut disk) = fresh(with_compression(Some(CompressionType::Zstd)));
    for kind in CompressionType::ALL {
        let from = log.log_end_offset();
        let sent = batch_of(kind, from, 20);
        let written = append_batch(&mut log, &mut disk, &sent);
        assert_eq!(
            written.compression_type(),
            CompressionType::Zstd,
            "{kind:?}"
        );
        assert_eq!(written.records(), sent.records());
        if kind == CompressionType::Zstd {
            assert_eq!(written.crc(), sent.crc(), "kept as it came");
        }
    }
    // Control batches are never recompressed.
    let marker = RecordBatch::end_txn_marker(
        1001,
        0,
        EndTransactionMarker {
            control_type: ControlRecordType::Commit,
            coordinator_epoch: 0,
        },
        5,
    );
    let written = append_batch(&mut log, &mut disk, &marker);
    assert_eq!(written.compression_type(), CompressionType::None);
    // uncompressed decompresses everything.
    let (mut log, mut disk) = fresh(with_compression(Some(CompressionType::None)));
    let written = append_batch(
        &mut log,
        &mut disk,
        &batch_of(CompressionType::Snappy, 0, 20),
    );
    assert_eq!(written.compression_type(), CompressionType::None);
}

#[test]
fn a_log_of_compressed_batches_recovers_from_its_bytes() {
    let (mut log, mut disk) = fresh(LogConfig {
        segment_bytes: 600,
        ..LogConfig::default()
    });
    for (i, kind) in CompressionType::ALL
        .into_iter()
        .cycle()
        .take(15)
        .enumerate()
    {
        let from = log.log_end_offset();
        append_batch(&mut log, &mut disk, &batch_of(kind, from, 5 + i as u64));
    }
    assert!(log.segments().len() > 1);
    let (recovered, repairs) = disk.recover(LogConfig::default(), 0);
    assert_eq!(repairs, []);
    assert_eq!(state(&recovered), state(&log));
    let codecs: Vec<CompressionType> = recovered.batches().map(|b| b.compression_type()).collect();
    assert_eq!(codecs[..5], CompressionType::ALL);
}

#[test]
fn topic_overrides_take_over_the_broker_configs() {
    let broker = LogConfig {
        flush_interval_messages: 1000,
        compression: LogCompression {
            codec: Some(CompressionType::Gzip),
            gzip_level: 4,
            ..LogCompression::default()
        },
        ..LogConfig::default()
    };
    let topic = [
        ("flush.messages", "1"),
        ("segment.bytes", "4096"),
        ("compression.type", "lz4"),
        ("compression.lz4.level", "12"),
    ];
    let get = |name: &str| {
        topic
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let merged = broker.with_overrides(get);
    assert_eq!(merged.flush_interval_messages, 1);
    assert_eq!(merged.segment_bytes, 4096);
    assert_eq!(merged.flush_interval_ms, broker.flush_interval_ms);
    assert_eq!(
        merged.compression.target(),
        Some(Compression {
            kind: CompressionType::Lz4,
            level: 12
        })
    );
    // Unset: the broker's, level included.
    let merged = broker.with_overrides(|_| None);
    assert_eq!(merged, broker);
    assert_eq!(
        merged.compression.target(),
        Some(Compression {
            kind: CompressionType::Gzip,
            level: 4
        })
    );
    let producer =
        broker.with_overrides(|n| (n == "compression.type").then(|| "producer".to_owned()));
    assert_eq!(producer.compression.target(), None);
}
