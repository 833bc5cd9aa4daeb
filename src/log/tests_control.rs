//! Transactional and control batches: the attribute bits, Kafka's end
//! transaction marker layout, and what decoding refuses.

use super::batch::{
    BatchBuilder, BatchError, ControlRecordType, EndTransactionMarker, RecordBatch, CONTROL_FLAG,
    NO_SEQUENCE, TRANSACTIONAL_FLAG,
};

const ATTRIBUTES: usize = 21;
const CRC: usize = 17;

/// Sets the attributes field of an encoded batch and fixes its CRC.
fn with_attributes(mut bytes: Vec<u8>, attributes: i16) -> Vec<u8> {
    bytes[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    refresh_crc(&mut bytes);
    bytes
}

fn refresh_crc(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[ATTRIBUTES..]);
    bytes[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

fn commit(coordinator_epoch: i32) -> EndTransactionMarker {
    EndTransactionMarker {
        control_type: ControlRecordType::Commit,
        coordinator_epoch,
    }
}

#[test]
fn an_end_txn_marker_batch_has_kafkas_layout_and_round_trips() {
    let batch = RecordBatch::end_txn_marker(4005, 16, commit(3), 1_596_728_578_172);
    let bytes = batch.encode();
    // Kafka's DumpLogSegments shows a marker batch as `size: 78`: the
    // 61-byte header and one 17-byte record (4-byte key, 6-byte value).
    assert_eq!(bytes.len(), 78);
    assert_eq!(
        i16::from_be_bytes([bytes[ATTRIBUTES], bytes[ATTRIBUTES + 1]]),
        TRANSACTIONAL_FLAG | CONTROL_FLAG
    );
    assert!(batch.is_transactional() && batch.is_control());
    assert_eq!(batch.base_sequence, NO_SEQUENCE);
    assert_eq!((batch.producer_id, batch.producer_epoch), (4005, 16));
    let record = &batch.records()[0];
    assert_eq!(
        record.key.as_deref(),
        Some(&[0u8, 0, 0, 1][..]),
        "version 0, COMMIT"
    );
    assert_eq!(
        record.value,
        Some(vec![0, 0, 0, 0, 0, 3]),
        "version 0, coordinator epoch 3"
    );
    let (decoded, len) = RecordBatch::decode(&bytes).unwrap();
    assert_eq!(len, 78);
    assert_eq!(decoded, batch);
    assert_eq!(decoded.end_txn_marker_of(), Some(commit(3)));
    let abort = EndTransactionMarker {
        control_type: ControlRecordType::Abort,
        coordinator_epoch: 0,
    };
    let aborted = RecordBatch::end_txn_marker(1, 0, abort, 5);
    assert_eq!(
        aborted.records()[0].key.as_deref(),
        Some(&[0u8, 0, 0, 0][..])
    );
    assert_eq!(
        RecordBatch::decode(&aborted.encode())
            .unwrap()
            .0
            .end_txn_marker_of(),
        Some(abort)
    );
}

#[test]
fn a_transactional_data_batch_carries_its_bit_under_the_crc() {
    let mut builder = BatchBuilder::new();
    builder.append(Some(b"k"), b"value", 10);
    let plain = builder.build(7, 0, 0);
    let txn = builder.build_transactional(7, 0, 0);
    assert!(txn.is_transactional() && !txn.is_control());
    assert!(!plain.is_transactional());
    assert_eq!(txn.end_txn_marker_of(), None, "data, not a marker");
    assert_ne!(
        txn.crc(),
        plain.crc(),
        "the attributes are covered by the CRC"
    );
    assert_ne!(txn, plain);
    let (decoded, _) = RecordBatch::decode(&txn.encode()).unwrap();
    assert_eq!(decoded, txn);
    assert!(decoded.is_transactional());
    // The bit flipped on disk without the CRC following is corruption.
    let mut flipped = plain.encode();
    flipped[ATTRIBUTES + 1] |= TRANSACTIONAL_FLAG as u8;
    assert_eq!(
        RecordBatch::decode(&flipped).err(),
        Some(BatchError::Corrupt)
    );
}

#[test]
fn attributes_the_model_cannot_hold_are_corrupt() {
    let mut builder = BatchBuilder::new();
    builder.append(None, b"v", 1);
    let data = builder.build(1, 0, 0).encode();
    // A codec (gzip = 1), LogAppendTime (bit 3), a control bit without the
    // transactional one, a control batch of data records.
    for attributes in [1, 0x08, CONTROL_FLAG, TRANSACTIONAL_FLAG | CONTROL_FLAG] {
        assert_eq!(
            RecordBatch::decode(&with_attributes(data.clone(), attributes)).err(),
            Some(BatchError::Corrupt),
            "attributes {attributes:#x}"
        );
    }
    // A control record of another type (LEADER_CHANGE is 2).
    let mut other = RecordBatch::end_txn_marker(1, 0, commit(0), 1).encode();
    // From the end: headers (1), value (6), value length (1), then the type.
    let key_type = other.len() - 1 - 6 - 1 - 2;
    assert_eq!(other[key_type..key_type + 2], [0, 1]);
    other[key_type + 1] = 2;
    refresh_crc(&mut other);
    assert_eq!(RecordBatch::decode(&other).err(), Some(BatchError::Corrupt));
    // A control batch of two markers.
    let mut two = BatchBuilder::new();
    two.append(Some(&commit(0).key()), &commit(0).value(), 1);
    two.append(Some(&commit(0).key()), &commit(0).value(), 1);
    let two = with_attributes(
        two.build(1, 0, -1).encode(),
        TRANSACTIONAL_FLAG | CONTROL_FLAG,
    );
    assert_eq!(RecordBatch::decode(&two).err(), Some(BatchError::Corrupt));
}

#[test]
fn a_marker_value_of_a_later_version_is_read_as_version_0() {
    // As Kafka's EndTransactionMarker.deserializeValue: a newer value
    // version parses its first fields; a negative one is corrupt.
    let key = commit(0).key();
    assert_eq!(
        EndTransactionMarker::parse(&key, &[0, 1, 0, 0, 0, 9, 0xff]),
        Some(commit(9))
    );
    assert_eq!(
        EndTransactionMarker::parse(&key, &[0xff, 0xff, 0, 0, 0, 9]),
        None
    );
    assert_eq!(
        EndTransactionMarker::parse(&key, &[0, 0, 0, 0, 0]),
        None,
        "short"
    );
    assert_eq!(
        EndTransactionMarker::parse(&[0, 1, 0, 1], &commit(0).value()),
        None
    );
}
