//! Tests of the partition log: batch format, CRC, epoch cache, segments,
//! recovery, truncation, flush policy and reads.

use std::collections::BTreeMap;
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::node::{Effect, FSYNC_UNTRACKED};

// ---------------------------------------------------------------- helpers

pub(super) const DIR: &str = "orders-0";

/// A disk as a map of file name to bytes; applies `Effect`s like the
/// simulated disk's page cache does, and counts fsyncs per file.
#[derive(Default)]
pub(super) struct Disk {
    pub(super) files: BTreeMap<String, Vec<u8>>,
    fsyncs: BTreeMap<String, usize>,
}

impl Disk {
    pub(super) fn apply(&mut self, out: &mut Vec<Effect>) {
        for o in out.drain(..) {
            match o {
                Effect::Write {
                    file,
                    offset,
                    bytes,
                } => {
                    let f = self.files.entry(file.to_string()).or_default();
                    let offset = offset as usize;
                    if f.len() < offset {
                        f.resize(offset, 0);
                    }
                    let overlap = (f.len() - offset).min(bytes.len());
                    let bytes = bytes.bytes();
                    f[offset..offset + overlap].copy_from_slice(&bytes[..overlap]);
                    f.extend_from_slice(&bytes[overlap..]);
                }
                Effect::Truncate { file, len } => {
                    if let Some(f) = self.files.get_mut(&*file) {
                        f.truncate(len as usize);
                    }
                }
                Effect::Remove { file } => {
                    self.files.remove(&*file);
                }
                Effect::Rename { from, to } => {
                    if let Some(f) = self.files.remove(&*from) {
                        self.files.insert(to.to_string(), f);
                    }
                }
                Effect::Fsync { file, .. } => {
                    *self.fsyncs.entry(file.to_string()).or_default() += 1
                }
                other => panic!("a log asks for no {other:?}"),
            }
        }
    }

    /// The same files, no fsyncs counted.
    fn copy(&self) -> Disk {
        Disk {
            files: self.files.clone(),
            fsyncs: BTreeMap::new(),
        }
    }

    /// Every file under `dir/`, as `UnifiedLog::recover` takes them: each
    /// in two extents split at its middle, so that recovery reads batches
    /// held in one extent (shared) and one that spans two (copied).
    fn files_of(&self, dir: &str) -> Vec<(String, FileBytes)> {
        let prefix = format!("{dir}/");
        self.files
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, bytes)| {
                let (a, b) = bytes.split_at(bytes.len() / 2);
                let extents = vec![sim::Blob::copy_of(a), sim::Blob::copy_of(b)];
                (name.clone(), FileBytes::new(extents))
            })
            .collect()
    }

    pub(super) fn recover(
        &mut self,
        config: LogConfig,
        recovery_point: u64,
    ) -> (UnifiedLog, Vec<Effect>) {
        let mut out = Vec::new();
        let log = UnifiedLog::recover(DIR, config, &self.files_of(DIR), recovery_point, &mut out);
        let outputs = out.clone();
        self.apply(&mut out);
        (log, outputs)
    }

    fn segment(&self, base: u64) -> &Vec<u8> {
        &self.files[&segment_file_name(DIR, base)]
    }

    fn segment_mut(&mut self, base: u64) -> &mut Vec<u8> {
        self.files
            .get_mut(&segment_file_name(DIR, base))
            .expect("segment file")
    }
}

fn rec(i: u64) -> Record {
    Record {
        key: (!i.is_multiple_of(3)).then(|| format!("k{i}").into_bytes()),
        value: Some(format!("value-{i}").into_bytes()),
        timestamp_ms: 1_000 + i,
        headers: Vec::new(),
    }
}

pub(super) fn records(from: u64, n: u64) -> Vec<Record> {
    (from..from + n).map(rec).collect()
}

/// A fresh log on a fresh disk.
pub(super) fn fresh(config: LogConfig) -> (UnifiedLog, Disk) {
    let mut disk = Disk::default();
    let (log, _) = disk.recover(config, 0);
    (log, disk)
}

/// Appends `n` records as leader in `epoch`, applying the outputs.
fn append(log: &mut UnifiedLog, disk: &mut Disk, n: u64, epoch: i32) -> Rc<RecordBatch> {
    let mut out = Vec::new();
    let leo = log.log_end_offset();
    let batch = log.append_records(records(leo, n), -1, -1, -1, epoch, 0, &mut out);
    disk.apply(&mut out);
    batch
}

/// The observable state of a log, for comparing a log with its recovery.
pub(super) fn state(log: &UnifiedLog) -> (Vec<RecordBatch>, u64, Vec<EpochEntry>, Vec<String>) {
    (
        log.batches().map(|b| (**b).clone()).collect(),
        log.log_end_offset(),
        log.epoch_cache().entries().to_vec(),
        log.segment_files().map(str::to_owned).collect(),
    )
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        ..LogConfig::default()
    }
}

/// The two writes of `batch` at byte `offset` of the first segment: its
/// header, then its records (the batch's own bytes).
/// A leader's appended batch as its segment writes it: header and
/// records in one write (see `write_batch`).
fn batch_writes(offset: u64, batch: &RecordBatch) -> [Effect; 1] {
    let file = "orders-0/00000000000000000000.log".to_owned();
    [Effect::Write {
        file: file.into(),
        offset,
        bytes: sim::Blob::raw(batch.encode()),
    }]
}

fn sample_records() -> Vec<Record> {
    vec![
        Record {
            key: Some(b"key".to_vec()),
            value: Some(b"value".to_vec()),
            timestamp_ms: 5_000,
            headers: Vec::new(),
        },
        Record {
            key: None,
            value: Some(Vec::new()),
            timestamp_ms: 4_000,
            headers: Vec::new(),
        },
        Record {
            key: Some(Vec::new()),
            value: Some(vec![0xAB; 300]),
            timestamp_ms: 6_000,
            headers: Vec::new(),
        },
    ]
}

fn sample_batch() -> RecordBatch {
    RecordBatch::of(42, 7, (1001, 3, 17), &sample_records())
}

/// The sample batch's header fields with other records.
fn sample_with(records: &[Record]) -> RecordBatch {
    RecordBatch::of(42, 7, (1001, 3, 17), records)
}

// ------------------------------------------------------------ batch format

#[test]
fn batch_round_trips_and_sizes_match() {
    let mut batches = vec![sample_batch()];
    batches.push(RecordBatch::of(
        0,
        NO_PARTITION_LEADER_EPOCH,
        (NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE),
        &records(0, 1),
    ));
    let many: Vec<Record> = (0..200)
        .map(|i| Record {
            key: Some(vec![i as u8; i]),
            value: Some(vec![!(i as u8); 2 * i]),
            timestamp_ms: if i % 2 == 0 {
                u64::MAX - i as u64
            } else {
                i as u64
            },
            headers: Vec::new(),
        })
        .collect();
    batches.push(RecordBatch::of(
        i64::MAX as u64 - 1000,
        i32::MAX,
        (i64::MAX, i16::MAX, i32::MAX),
        &many,
    ));
    for batch in batches {
        let bytes = batch.encode();
        assert_eq!(bytes.len(), batch.size_in_bytes());
        assert_eq!(bytes[16], 2, "magic");
        let crc = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
        assert_eq!(crc, crc32c(&bytes[21..]), "CRC-32C over attributes..end");
        let length = i32::from_be_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(length as usize, bytes.len() - LOG_OVERHEAD);
        assert_eq!(
            RecordBatch::decode(&bytes),
            Ok((batch.clone(), bytes.len()))
        );

        // Followed by more bytes, it takes only its own.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&sample_batch().encode());
        assert_eq!(
            RecordBatch::decode(&longer),
            Ok((batch.clone(), bytes.len()))
        );

        // Every strict prefix is a torn batch.
        for cut in 0..bytes.len() {
            assert_eq!(
                RecordBatch::decode(&bytes[..cut]),
                Err(BatchError::Truncated),
                "prefix {cut}"
            );
        }
    }
}

#[test]
fn for_each_value_reads_what_for_each_record_does() {
    // Long keys and values (varints of two bytes and more), timestamps far
    // apart (ten-byte deltas), tombstones and headers.
    let records: Vec<Record> = (0..300)
        .map(|i| Record {
            key: (i % 4 != 0).then(|| vec![i as u8; i * 3]),
            value: (i % 5 != 0).then(|| vec![!(i as u8); 50 * i]),
            timestamp_ms: if i % 2 == 0 {
                u64::MAX - i as u64
            } else {
                i as u64
            },
            headers: (0..i % 3)
                .map(|h| Header {
                    key: format!("h{h}"),
                    value: (h != 1).then(|| vec![h as u8; 200]),
                })
                .collect(),
        })
        .collect();
    for batch in [sample_batch(), sample_with(&records)] {
        let mut full = Vec::new();
        batch.for_each_record(|r| {
            full.push((
                r.offset_delta,
                r.value.map(<[u8]>::to_vec),
                r.headers.to_owned(),
            ));
        });
        let mut light = Vec::new();
        batch.for_each_value(|offset_delta, value, headers| {
            light.push((offset_delta, value.map(<[u8]>::to_vec), headers.to_owned()));
        });
        assert_eq!(light, full);
    }
}

#[test]
fn empty_batch_header_size_matches_kafka() {
    let one = sample_with(&[Record {
        key: None,
        value: Some(Vec::new()),
        timestamp_ms: 0,
        headers: Vec::new(),
    }]);
    // Header 61 bytes + a minimal DefaultRecord: length(1) attributes(1)
    // timestampDelta(1) offsetDelta(1) keyLength(1) valueLength(1) headers(1).
    assert_eq!(one.size_in_bytes(), RECORD_BATCH_OVERHEAD + 7);
}

#[test]
fn non_canonical_varints_are_corrupt() {
    let batch = sample_with(&records(0, 1));
    let bytes = batch.encode();
    // Re-encode the trailing header count 0 as the two-byte varint 80 00,
    // fixing the record length, the batch length and the CRC.
    let mut long = bytes.clone();
    long.pop();
    long.extend_from_slice(&[0x80, 0x00]);
    long[61] += 2; // zig-zag record length + 1 (one byte either way)
    let length = i32::from_be_bytes(long[8..12].try_into().unwrap()) + 1;
    long[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c(&long[21..]);
    long[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(RecordBatch::decode(&long), Err(BatchError::Corrupt));
    // The same surgery without lengthening the varint decodes fine.
    let mut same = bytes.clone();
    let crc = crc32c(&same[21..]);
    same[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(RecordBatch::decode(&same), Ok((batch, bytes.len())));
}

#[test]
fn batch_accessors() {
    let b = sample_batch();
    assert_eq!(b.last_offset_delta(), 2);
    assert_eq!(b.last_offset(), 44);
    assert_eq!(b.next_offset(), 45);
    assert_eq!(b.record_count(), 3);
    assert_eq!(b.last_sequence(), 19);
    assert_eq!(b.max_timestamp(), 6_000);
    let none = b.with_producer(1001, 3, NO_SEQUENCE);
    assert_eq!(none.last_sequence(), NO_SEQUENCE);
    // Kafka's incrementSequence wraps to 0, not to negative numbers.
    let wrap = b.with_producer(1001, 3, i32::MAX - 1);
    assert_eq!(wrap.last_sequence(), 0);
    let at_max = b.with_producer(1001, 3, i32::MAX);
    assert_eq!(at_max.last_sequence(), 1);
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(5, 3), 8);
}

#[test]
fn single_bit_flips_are_caught() {
    let batch = sample_batch();
    let bytes = batch.encode();
    for byte in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[byte] ^= 1 << bit;
            let result = RecordBatch::decode(&flipped);
            match byte {
                // A negative baseOffset is rejected outright.
                0 if bit == 7 => assert_eq!(result, Err(BatchError::Corrupt)),
                // baseOffset and partitionLeaderEpoch are outside Kafka's
                // CRC: the batch decodes, with that field changed (log
                // recovery catches a bad baseOffset as an offset gap).
                0..8 | 12..16 => {
                    let (decoded, _) = result.expect("outside the CRC");
                    assert_ne!(decoded, batch);
                    assert_eq!(decoded.records(), batch.records());
                }
                // The length field: a shorter batch fails its CRC, a longer
                // one runs past the end.
                8..12 => assert!(result.is_err(), "length byte {byte} bit {bit}"),
                16 => assert_eq!(result, Err(BatchError::Corrupt), "magic bit {bit}"),
                _ => assert_eq!(result, Err(BatchError::Corrupt), "byte {byte} bit {bit}"),
            }
        }
    }
}

#[test]
fn decode_never_panics_on_random_or_mutated_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1057);
    let seeds: Vec<Vec<u8>> = vec![
        sample_batch().encode(),
        RecordBatch::of(0, 7, (1001, 3, 17), &records(0, 5)).encode(),
    ];
    let mut accepted = 0;
    for round in 0..60_000 {
        let mut input = seeds[round % seeds.len()].clone();
        match round % 6 {
            0 => {
                // Pure noise of random length.
                let len = rng.random_range(0..200);
                input = (0..len).map(|_| rng.random()).collect();
            }
            1 => {
                // A few random byte changes.
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..input.len());
                    input[i] = rng.random();
                }
            }
            2 => {
                // Mutate after the CRC, then fix the CRC: exercises the
                // record parser on garbage that passes the checksum.
                for _ in 0..rng.random_range(1..6) {
                    let i = rng.random_range(21..input.len());
                    input[i] = rng.random();
                }
                let crc = crc32c(&input[21..]);
                input[17..21].copy_from_slice(&crc.to_be_bytes());
            }
            3 => {
                // Random header fields (length, count, deltas) with a valid CRC.
                let field = [8usize, 23, 57][rng.random_range(0..3)];
                let value: i32 = match rng.random_range(0..3) {
                    0 => rng.random(),
                    1 => rng.random_range(-2..70),
                    _ => i32::MAX - rng.random_range(0..3),
                };
                input[field..field + 4].copy_from_slice(&value.to_be_bytes());
                let crc = crc32c(&input[21..]);
                input[17..21].copy_from_slice(&crc.to_be_bytes());
            }
            4 => {
                // Cut, extend or splice.
                let at = rng.random_range(0..=input.len());
                if rng.random() {
                    input.truncate(at);
                } else {
                    let extra: Vec<u8> =
                        (0..rng.random_range(1..40)).map(|_| rng.random()).collect();
                    input.splice(at..at, extra);
                }
            }
            _ => {
                // Overwrite a record-region varint with a long one, fix CRC.
                let i = rng.random_range(61..input.len());
                let n = rng.random_range(1..11).min(input.len() - i);
                for b in &mut input[i..i + n] {
                    *b = 0x80 | rng.random::<u8>();
                }
                let crc = crc32c(&input[21..]);
                input[17..21].copy_from_slice(&crc.to_be_bytes());
            }
        }
        if let Ok((batch, len)) = RecordBatch::decode(&input) {
            accepted += 1;
            assert!(len <= input.len());
            assert!(batch.record_count() > 0);
            // What decodes re-encodes to exactly the bytes it took.
            assert_eq!(batch.encode(), input[..len]);
        }
    }
    // Header-field mutations with fixed CRCs sometimes stay valid (e.g. a
    // baseOffset change); the fuzzing reached the accepting path.
    assert!(accepted > 0);
}

// ------------------------------------------------------- leader epoch cache

fn cache_of(entries: &[(i32, u64)]) -> LeaderEpochFileCache {
    let mut cache = LeaderEpochFileCache::new();
    for &(epoch, offset) in entries {
        cache.assign(epoch, offset);
    }
    cache
}

fn entries(cache: &LeaderEpochFileCache) -> Vec<(i32, u64)> {
    cache
        .entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

#[test]
fn end_offset_for_matches_kafka() {
    // (assignments, requested epoch, log end offset, expected), after
    // Kafka's LeaderEpochFileCacheTest.
    #[allow(clippy::type_complexity)]
    let cases: &[(&[(i32, u64)], i32, u64, Option<(i32, u64)>)] = &[
        // shouldAddEpochAndMessageOffsetToCache
        (&[(2, 10)], 2, 11, Some((2, 11))),
        // shouldReturnLogEndOffsetIfLatestEpochRequested
        (&[(2, 11), (2, 12)], 2, 14, Some((2, 14))),
        // shouldReturnUndefinedOffsetIfUndefinedEpochRequested
        (&[(2, 11), (3, 12)], UNDEFINED_EPOCH, 0, None),
        // shouldReturnUnsupportedIfNoEpochRecorded
        (&[], 0, 0, None),
        (&[], UNDEFINED_EPOCH, 73, None),
        // shouldReturnFirstEpochIfRequestedEpochLessThanFirstEpoch
        (&[(5, 11), (6, 12), (7, 13)], 4, 0, Some((4, 11))),
        // shouldTruncateIfMatchingEpochButEarlierStartingOffset
        (&[(5, 11), (6, 12), (7, 13), (7, 12)], 5, 0, Some((5, 12))),
        (&[(5, 11), (6, 12), (7, 13), (7, 12)], 6, 0, Some((5, 12))),
        // shouldGetFirstOffsetOfSubsequentEpochWhenOffsetRequestedForPreviousEpoch
        (
            &[(1, 11), (1, 12), (2, 13), (2, 14), (3, 15), (3, 16)],
            2,
            17,
            Some((2, 15)),
        ),
        // shouldReturnNextAvailableEpochIfThereIsNoExactEpochForTheOneRequested
        (&[(0, 10), (2, 13), (4, 17)], 1, 0, Some((0, 13))),
        (&[(0, 10), (2, 13), (4, 17)], 2, 0, Some((2, 17))),
        (&[(0, 10), (2, 13), (4, 17)], 3, 0, Some((2, 17))),
        // shouldReturnInvalidOffsetIfEpochIsRequestedWhichIsNotCurrentlyTracked
        (&[(2, 100)], 3, 100, None),
        // shouldSupportEpochsThatDoNotStartFromZero
        (&[(2, 6)], 2, 7, Some((2, 7))),
        // shouldEnforceMonotonicallyIncreasingEpochs
        (&[(1, 5), (2, 6), (1, 7)], 1, 8, Some((1, 8))),
        (&[(1, 5), (2, 6), (1, 7)], 2, 8, None),
        // shouldIncreaseAndTrackEpochsAsLeadersChangeManyTimes
        (&[(0, 0), (1, 0)], 1, 0, Some((1, 0))),
        (&[(0, 0), (1, 0)], 0, 0, Some((0, 0))),
        (&[(0, 0), (1, 0), (2, 5)], 1, 10, Some((1, 5))),
        (&[(0, 0), (1, 0), (2, 5)], 0, 10, Some((0, 0))),
        // shouldIncreaseAndTrackEpochsAsFollowerReceivesManyMessages
        (
            &[(0, 0), (0, 1), (0, 2), (1, 3), (1, 4), (2, 6)],
            0,
            9,
            Some((0, 3)),
        ),
        (
            &[(0, 0), (0, 1), (0, 2), (1, 3), (1, 4), (2, 6)],
            1,
            9,
            Some((1, 6)),
        ),
        (
            &[(0, 0), (0, 1), (0, 2), (1, 3), (1, 4), (2, 6)],
            2,
            9,
            Some((2, 9)),
        ),
    ];
    for (assignments, requested, leo, expected) in cases {
        let cache = cache_of(assignments);
        assert_eq!(
            cache.end_offset_for(*requested, *leo),
            *expected,
            "{assignments:?} endOffsetFor({requested}, {leo})"
        );
    }
}

#[test]
fn assign_follows_kafka() {
    // Not overwritten once assigned.
    assert_eq!(entries(&cache_of(&[(2, 9), (2, 10)])), [(2, 9)]);
    // Same epoch, earlier offset: replaced.
    assert_eq!(entries(&cache_of(&[(2, 9), (2, 5)])), [(2, 5)]);
    // Monotonic start offsets: the new epoch at the same offset replaces.
    assert_eq!(entries(&cache_of(&[(2, 9), (3, 9)])), [(3, 9)]);
    assert_eq!(entries(&cache_of(&[(2, 6), (3, 5)])), [(3, 5)]);
    // A lower epoch replaces the conflicting tail.
    assert_eq!(entries(&cache_of(&[(1, 5), (2, 6), (1, 7)])), [(1, 7)]);
    assert_eq!(
        entries(&cache_of(&[(1, 0), (3, 10), (2, 20)])),
        [(1, 0), (2, 20)]
    );
    // Negative epochs are ignored.
    assert_eq!(entries(&cache_of(&[(-1, 0), (1, 3)])), [(1, 3)]);
    let mut cache = cache_of(&[(1, 0)]);
    assert!(!cache.assign(1, 4));
    assert!(cache.assign(2, 4));
    assert_eq!(cache.latest_epoch(), Some(2));
    assert_eq!(cache.previous_epoch(2), Some(1));
    assert_eq!(cache.previous_epoch(1), None);
}

#[test]
fn truncations_and_epoch_for_offset() {
    let base = [(2, 6), (3, 8), (4, 11)];
    let truncated_end = |offset| {
        let mut c = cache_of(&base);
        c.truncate_from_end(offset);
        entries(&c)
    };
    assert_eq!(truncated_end(8), [(2, 6)]);
    assert_eq!(truncated_end(9), [(2, 6), (3, 8)]);
    assert_eq!(truncated_end(12), base);
    assert_eq!(truncated_end(0), []);
    let truncated_start = |offset| {
        let mut c = cache_of(&base);
        c.truncate_from_start(offset);
        entries(&c)
    };
    assert_eq!(truncated_start(8), [(3, 8), (4, 11)]);
    assert_eq!(truncated_start(1), base);
    assert_eq!(truncated_start(6), base);
    assert_eq!(truncated_start(11), [(4, 11)]);
    assert_eq!(truncated_start(9), [(3, 9), (4, 11)]);
    assert_eq!(truncated_start(15), [(4, 15)]);

    let c = cache_of(&base);
    assert_eq!(c.epoch_for_offset(5), None);
    assert_eq!(c.epoch_for_offset(6), Some(2));
    assert_eq!(c.epoch_for_offset(10), Some(3));
    assert_eq!(c.epoch_for_offset(11), Some(4));
    assert_eq!(c.epoch_for_offset(1_000), Some(4));
}

#[test]
fn checkpoint_text_round_trips_and_rejects_garbage() {
    let cache = cache_of(&[(1, 0), (3, 10), (4, 25)]);
    let text = cache.encode_checkpoint();
    assert_eq!(text, b"0\n3\n1 0\n3 10\n4 25\n");
    let decoded = LeaderEpochFileCache::decode_checkpoint(&text).unwrap();
    assert_eq!(LeaderEpochFileCache::from_entries(decoded), cache);
    assert_eq!(
        LeaderEpochFileCache::decode_checkpoint(b"0\n0\n"),
        Some(Vec::new())
    );
    for garbage in [
        &b""[..],
        b"0\n",
        b"1\n1\n1 0\n",
        b"0\n2\n1 0\n",
        b"0\n1\n1 0\n2 5\n",
        b"0\n1\n1\n",
        b"0\n1\n1 0 7\n",
        b"0\n1\n-1 0\n",
        b"0\n1\n1 -4\n",
        b"0\nx\n",
        b"0\n1\n\xff 0\n",
    ] {
        assert_eq!(
            LeaderEpochFileCache::decode_checkpoint(garbage),
            None,
            "{:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..5_000 {
        let mut bytes = text.clone();
        let i = rng.random_range(0..bytes.len());
        bytes[i] = rng.random();
        let _ = LeaderEpochFileCache::decode_checkpoint(&bytes);
    }
}

// ---------------------------------------------------------------- the log

#[test]
fn appends_assign_offsets_epochs_and_write_checkpoint() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.dir(), DIR);
    assert!(disk.files.contains_key("orders-0/00000000000000000000.log"));

    let mut out = Vec::new();
    let b = log.append_records(records(0, 3), 9, 0, 0, 1, 0, &mut out);
    assert_eq!(
        (b.base_offset, b.partition_leader_epoch, b.producer_id),
        (0, 1, 9)
    );
    // New epoch: checkpoint written through a fsynced tmp file, then the batch.
    let checkpoint = leader_epoch_checkpoint_file(DIR);
    let tmp = format!("{checkpoint}.tmp");
    assert_eq!(
        out[..4],
        [
            Effect::Write {
                file: tmp.clone().into(),
                offset: 0,
                bytes: b"0\n1\n1 0\n".to_vec().into()
            },
            Effect::Fsync {
                file: tmp.clone().into(),
                token: FSYNC_UNTRACKED,
            },
            Effect::Rename {
                from: tmp.clone().into(),
                to: checkpoint.clone().into()
            },
            Effect::Fsync {
                file: checkpoint.clone().into(),
                token: FSYNC_UNTRACKED,
            },
        ]
    );
    assert_eq!(out[4..], batch_writes(0, &b));
    assert_eq!(out.len(), 5);
    assert!(out.iter().all(|o| !o.is_segment_fsync()));
    disk.apply(&mut out);

    // Same epoch: no checkpoint write; the batch goes at the file's end.
    let b2 = log.append_records(records(3, 2), -1, -1, -1, 1, 0, &mut out);
    assert_eq!(b2.base_offset, 3);
    assert_eq!(out, batch_writes(b.size_in_bytes() as u64, &b2));
    disk.apply(&mut out);
    assert_eq!(log.log_end_offset(), 5);

    // A new leader records its epoch at the log end before writing.
    assert!(log.assign_epoch_start_offset(4, 5, &mut out));
    assert!(!log.assign_epoch_start_offset(4, 5, &mut out));
    disk.apply(&mut out);
    assert_eq!(disk.files[&checkpoint], b"0\n2\n1 0\n4 5\n");
    assert!(!disk.files.contains_key(&tmp));
    assert_eq!(log.latest_epoch(), Some(4));
    assert_eq!(log.end_offset_for_epoch(1), Some((1, 5)));
    assert_eq!(log.end_offset_for_epoch(4), Some((4, 5)));
    assert_eq!(log.batch_containing(4).map(|b| b.base_offset), Some(3));
    assert_eq!(log.batch_containing(5), None);
}

#[test]
fn follower_appends_check_offsets_and_learn_epochs() {
    let (mut leader, mut leader_disk) = fresh(LogConfig::default());
    append(&mut leader, &mut leader_disk, 2, 1);
    append(&mut leader, &mut leader_disk, 3, 2);
    let (mut follower, mut disk) = fresh(LogConfig::default());
    let mut out = Vec::new();
    let batches = leader.read(0, leader.log_end_offset(), usize::MAX);
    assert_eq!(batches.len(), 2);
    assert_eq!(
        follower.append_as_follower(Rc::clone(&batches[1]), 0, &mut out),
        Err(AppendError::UnexpectedOffset {
            expected: 0,
            found: 2
        })
    );
    assert!(out.is_empty());
    for b in &batches {
        follower
            .append_as_follower(Rc::clone(b), 0, &mut out)
            .unwrap();
    }
    disk.apply(&mut out);
    assert_eq!(state(&follower).0, state(&leader).0);
    assert_eq!(follower.epoch_cache(), leader.epoch_cache());
    // Shared, not copied.
    assert!(Rc::ptr_eq(
        &follower.batches().next().unwrap().clone(),
        &batches[0]
    ));
    // The follower's disk holds the same bytes as the leader's.
    assert_eq!(disk.segment(0), leader_disk.segment(0));
}

#[test]
fn recovery_from_written_bytes_gives_the_same_log() {
    let (mut log, mut disk) = fresh(small_segments());
    for i in 0..30u64 {
        append(&mut log, &mut disk, 1 + i % 4, 1 + (i / 7) as i32);
    }
    let mut out = Vec::new();
    assert!(log.truncate_to(50, &mut out));
    disk.apply(&mut out);
    for _ in 0..5 {
        append(&mut log, &mut disk, 2, 9);
    }
    assert!(log.segments().len() > 3);
    let (recovered, repairs) = disk.recover(small_segments(), 0);
    assert_eq!(repairs, []);
    assert_eq!(state(&recovered), state(&log));
    let report = recovered.recovery_report();
    assert_eq!(report.stop, None);
    assert_eq!((report.bytes_cut, report.batches_cut), (0, 0));
    assert_eq!(report.batches_loaded, log.batches().count() as u64);
    assert_eq!(report.segments_loaded, log.segments().len());
    assert!(!report.epoch_checkpoint_rewritten);
    for (a, b) in recovered.segments().iter().zip(log.segments()) {
        assert_eq!((a.base_offset(), a.size()), (b.base_offset(), b.size()));
        assert_eq!(disk.files[a.file()].len() as u64, a.size());
    }
}

#[test]
fn recovery_point_and_high_watermark_after_recovery() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 5, 1);
    let (mut recovered, _) = disk.recover(LogConfig::default(), 100);
    assert_eq!(recovered.recovery_point(), 5, "clamped to the log end");
    assert_eq!(recovered.high_watermark(), 0);
    assert!(recovered.update_high_watermark(3));
    assert!(!recovered.update_high_watermark(2), "never lowered here");
    assert!(recovered.update_high_watermark(99));
    assert_eq!(recovered.high_watermark(), 5, "clamped to the log end");
    let (recovered, _) = disk.recover(LogConfig::default(), 2);
    assert_eq!(recovered.recovery_point(), 2);
}

/// KAFKA-10101 (2.8): recovery keeps the checkpointed recovery point, so a
/// flush after it fsyncs what it recovered; Kafka 2.7 moved the recovery
/// point to the log end offset, and the flush fsyncs nothing.
#[test]
fn before_kafka_10101_recovery_moves_the_recovery_point_to_the_log_end() {
    for held in [true, false] {
        let (mut log, mut disk) = fresh(LogConfig::default());
        append(&mut log, &mut disk, 5, 1);
        let config = LogConfig {
            recovery_point_held_after_recovery: held,
            ..LogConfig::default()
        };
        let (mut recovered, _) = disk.recover(config, 2);
        assert_eq!(recovered.recovery_point(), if held { 2 } else { 5 });
        let mut out = Vec::new();
        recovered.flush(0, &mut out);
        let fsyncs = out.iter().filter(|e| e.is_segment_fsync()).count();
        assert_eq!(fsyncs, usize::from(held), "held = {held}");
    }
}

#[test]
fn torn_tail_is_cut() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 2, 1);
    append(&mut log, &mut disk, 3, 1);
    let last = append(&mut log, &mut disk, 4, 2);
    let full = disk.segment(0).len();
    let valid = full - last.size_in_bytes();
    for cut in [valid + 1, valid + 11, valid + 12, valid + 60, full - 1] {
        let mut torn = disk.copy();
        torn.segment_mut(0).truncate(cut);
        let (recovered, repairs) = torn.recover(LogConfig::default(), 0);
        assert_eq!(recovered.log_end_offset(), 5, "cut at {cut}");
        assert_eq!(
            repairs[0],
            Effect::Truncate {
                file: segment_file_name(DIR, 0).into(),
                len: valid as u64
            }
        );
        let report = recovered.recovery_report();
        let stop = report.stop.clone().unwrap();
        assert_eq!(stop.reason, ScanStop::Torn);
        assert_eq!((stop.position, stop.offset), (valid as u64, 5));
        assert!(!stop.below_recovery_point);
        assert_eq!(
            (report.bytes_cut, report.batches_cut),
            ((cut - valid) as u64, 0)
        );
        // The epoch of the lost batch leaves the cache and the checkpoint.
        assert_eq!(entries(recovered.epoch_cache()), [(1, 0)]);
        assert!(report.epoch_checkpoint_rewritten);
        assert_eq!(
            torn.files[&leader_epoch_checkpoint_file(DIR)],
            b"0\n1\n1 0\n"
        );
        assert_eq!(torn.segment(0).len(), valid);
        // Recovering the repaired disk changes nothing.
        let (again, repairs) = torn.recover(LogConfig::default(), 0);
        assert_eq!(repairs, []);
        assert_eq!(state(&again), state(&recovered));
    }
    // A zero-filled tail (a write past the end that never landed) is corrupt.
    let mut zeros = disk.copy();
    zeros.segment_mut(0).extend_from_slice(&[0; 100]);
    let (recovered, _) = zeros.recover(LogConfig::default(), 0);
    assert_eq!(recovered.log_end_offset(), 9);
    assert_eq!(
        recovered.recovery_report().stop.as_ref().map(|s| s.reason),
        Some(ScanStop::Corrupt)
    );
}

/// A log of 12 batches of 2 records (offsets 0..24) over several segments,
/// epoch 1 for the first half, 2 for the second.
fn multi_segment_log() -> (UnifiedLog, Disk) {
    let (mut log, mut disk) = fresh(small_segments());
    for i in 0..12 {
        append(&mut log, &mut disk, 2, 1 + i / 6);
    }
    (log, disk)
}

#[test]
fn segments_roll_with_kafka_names() {
    let (log, disk) = multi_segment_log();
    let files: Vec<&str> = log.segment_files().collect();
    assert!(files.len() >= 3, "{files:?}");
    assert_eq!(files[0], "orders-0/00000000000000000000.log");
    let mut expected_base = 0;
    for segment in log.segments() {
        assert_eq!(segment.base_offset(), expected_base);
        assert_eq!(segment.file(), format!("orders-0/{expected_base:020}.log"));
        assert_eq!(
            parse_segment_file_name(DIR, segment.file()),
            Some(expected_base)
        );
        assert!(segment.size() <= 400);
        assert!(!segment.is_empty());
        assert_eq!(disk.files[segment.file()].len() as u64, segment.size());
        expected_base = segment.next_offset();
    }
    assert_eq!(expected_base, 24);
    // Only segment files and the checkpoint are on disk.
    assert_eq!(disk.files.len(), files.len() + 1);
    assert_eq!(
        parse_segment_file_name(DIR, "orders-0/0000000000000000000.log"),
        None
    );
    assert_eq!(
        parse_segment_file_name(DIR, "orders-1/00000000000000000000.log"),
        None
    );
    assert_eq!(
        parse_segment_file_name(DIR, "orders-0/0000000000000000000x.log"),
        None
    );
    assert_eq!(
        parse_segment_file_name(DIR, "orders-0/00000000000000000000.index"),
        None
    );

    // A batch larger than a segment gets a segment of its own.
    let (mut log, mut disk) = fresh(LogConfig {
        segment_bytes: 100,
        ..LogConfig::default()
    });
    append(&mut log, &mut disk, 10, 0);
    append(&mut log, &mut disk, 10, 0);
    assert_eq!(log.segments().len(), 2);
    let (recovered, _) = disk.recover(log.config(), 0);
    assert_eq!(state(&recovered), state(&log));
}

#[test]
fn corrupt_middle_batch_cuts_the_log_and_removes_later_segments() {
    let (log, disk) = multi_segment_log();
    let second = &log.segments()[1];
    let victim_index = 1;
    let victim = &second.batches()[victim_index];
    let victim_pos = second.position(victim_index) as usize;
    let later_batches: u64 = log.segments()[2..]
        .iter()
        .map(|s| s.batches().len() as u64)
        .sum();
    let later_files: Vec<String> = log.segments()[2..]
        .iter()
        .map(|s| s.file().to_owned())
        .collect();
    let later_bytes: u64 = log.segments()[2..].iter().map(|s| s.size()).sum();

    let mut bad = disk.copy();
    // Flip one bit in a record value of the victim batch.
    bad.segment_mut(second.base_offset())[victim_pos + 70] ^= 0x10;
    let (recovered, repairs) = bad.recover(small_segments(), 0);
    assert_eq!(recovered.log_end_offset(), victim.base_offset);
    assert_eq!(recovered.segments().len(), 2);
    let mut expected = vec![Effect::Truncate {
        file: second.file().to_owned().into(),
        len: victim_pos as u64,
    }];
    expected.extend(later_files.iter().map(|f| Effect::Remove {
        file: f.clone().into(),
    }));
    assert_eq!(repairs[..expected.len()], expected[..]);
    let report = recovered.recovery_report();
    assert_eq!(report.segments_removed, later_files);
    assert_eq!(
        report.bytes_cut,
        second.size() - victim_pos as u64 + later_bytes
    );
    assert_eq!(report.batches_cut, later_batches);
    assert_eq!(report.stop.as_ref().unwrap().reason, ScanStop::Corrupt);
    for f in &later_files {
        assert!(!bad.files.contains_key(f));
    }
    // Epochs of the removed data are gone (epoch 2 started at offset 12).
    let expected_epochs: Vec<(i32, u64)> = if victim.base_offset > 12 {
        vec![(1, 0), (2, 12)]
    } else {
        vec![(1, 0)]
    };
    assert_eq!(entries(recovered.epoch_cache()), expected_epochs);

    // Below the recovery point, the cut is flagged.
    let mut bad2 = disk.copy();
    bad2.segment_mut(second.base_offset())[victim_pos + 70] ^= 0x10;
    let (recovered, _) = bad2.recover(small_segments(), 24);
    assert!(
        recovered
            .recovery_report()
            .stop
            .as_ref()
            .unwrap()
            .below_recovery_point
    );
    assert_eq!(recovered.recovery_point(), victim.base_offset);
}

#[test]
fn offset_gaps_end_the_log() {
    let (log, disk) = multi_segment_log();
    // A missing middle segment: later segments are removed.
    let mut gap = disk.copy();
    let middle = log.segments()[1].file().to_owned();
    gap.files.remove(&middle);
    let (recovered, repairs) = gap.recover(small_segments(), 0);
    assert_eq!(recovered.log_end_offset(), log.segments()[1].base_offset());
    assert_eq!(recovered.segments().len(), 1);
    assert!(repairs.iter().all(|o| matches!(o, Effect::Remove { .. })
        || o.file()
            .is_some_and(|f| f.starts_with("orders-0/leader-epoch-checkpoint"))));
    let stop = recovered.recovery_report().stop.clone().unwrap();
    assert!(matches!(stop.reason, ScanStop::Gap { .. }));

    // A flipped bit in a baseOffset (outside the CRC) shows as a gap.
    let mut bad = disk.copy();
    let first = &log.segments()[0];
    let pos = first.position(2) as usize;
    bad.segment_mut(0)[pos + 7] ^= 0x40;
    let (recovered, _) = bad.recover(small_segments(), 0);
    assert_eq!(recovered.log_end_offset(), first.batches()[2].base_offset);
    assert_eq!(
        recovered.recovery_report().stop.as_ref().unwrap().reason,
        ScanStop::Gap {
            expected: 4,
            found: 4 ^ 0x40
        }
    );
    assert_eq!(
        recovered.recovery_report().segments_removed.len(),
        log.segments().len() - 1
    );

    // No first segment (retention deleted it): the log starts at the next
    // segment's base offset and keeps every later record, as Kafka's
    // LogLoader reads whatever segments the directory holds.
    let mut headless = disk.copy();
    headless.files.remove(&segment_file_name(DIR, 0));
    let (recovered, _) = headless.recover(small_segments(), 0);
    let second = log.segments()[1].base_offset();
    assert_eq!(recovered.log_start_offset(), second);
    assert_eq!(recovered.segments()[0].base_offset(), second);
    assert_eq!(recovered.log_end_offset(), log.log_end_offset());
    assert!(recovered.recovery_report().stop.is_none());
    assert!(recovered
        .epoch_cache()
        .entries()
        .iter()
        .all(|e| e.start_offset >= second));
}

#[test]
fn recovery_rebuilds_a_lost_or_garbled_checkpoint() {
    let (log, disk) = multi_segment_log();
    let checkpoint = leader_epoch_checkpoint_file(DIR);
    for garbage in [
        None,
        Some(b"garbage".to_vec()),
        Some(b"0\n1\n1 0\n".to_vec()),
    ] {
        let mut d = disk.copy();
        match garbage {
            None => {
                d.files.remove(&checkpoint);
            }
            Some(bytes) => {
                d.files.insert(checkpoint.clone(), bytes);
            }
        }
        d.files
            .insert(format!("{checkpoint}.tmp"), b"0\n9".to_vec());
        let (recovered, repairs) = d.recover(small_segments(), 0);
        assert_eq!(
            repairs[0],
            Effect::Remove {
                file: format!("{checkpoint}.tmp").into()
            }
        );
        assert_eq!(recovered.epoch_cache(), log.epoch_cache());
        assert!(recovered.recovery_report().epoch_checkpoint_rewritten);
        assert_eq!(d.files[&checkpoint], log.epoch_cache().encode_checkpoint());
        assert!(!d.files.contains_key(&format!("{checkpoint}.tmp")));
    }
    // Stale entries past the recovered end are dropped.
    let mut d = disk.copy();
    d.files
        .insert(checkpoint.clone(), b"0\n3\n1 0\n2 12\n7 500\n".to_vec());
    let (recovered, _) = d.recover(small_segments(), 0);
    assert_eq!(entries(recovered.epoch_cache()), [(1, 0), (2, 12)]);
}

#[test]
fn truncate_to_removes_bytes_segments_and_epochs() {
    let (mut log, mut disk) = multi_segment_log();
    let mut out = Vec::new();
    log.update_high_watermark(24);
    log.flush(0, &mut out);
    disk.apply(&mut out);
    log.on_flushed(24);
    assert_eq!(log.recovery_point(), 24);
    append(&mut log, &mut disk, 2, 3);
    assert_eq!(entries(log.epoch_cache()), [(1, 0), (2, 12), (3, 24)]);

    // Offset 11 lies inside the batch 10..12: truncation keeps 0..10.
    assert!(log.truncate_to(11, &mut out));
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.high_watermark(), 10);
    assert_eq!(log.recovery_point(), 10);
    assert_eq!(entries(log.epoch_cache()), [(1, 0)]);
    let removed: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            Effect::Remove { file } => Some(file.to_string()),
            _ => None,
        })
        .collect();
    assert!(!removed.is_empty());
    assert!(out.iter().any(|o| matches!(o, Effect::Truncate { .. })));
    assert!(out.iter().any(|o| matches!(
        o,
        Effect::Rename { to, .. } if *to == leader_epoch_checkpoint_file(DIR).into()
    )));
    disk.apply(&mut out);
    for f in removed {
        assert!(!disk.files.contains_key(&f));
    }
    assert_eq!(
        disk.files[&leader_epoch_checkpoint_file(DIR)],
        b"0\n1\n1 0\n"
    );
    let active = log.segments().last().unwrap();
    assert_eq!(disk.files[active.file()].len() as u64, active.size());
    assert_eq!(log.batches().last().unwrap().next_offset(), 10);

    // Truncating at or past the end does nothing.
    assert!(!log.truncate_to(10, &mut out));
    assert!(!log.truncate_to(99, &mut out));
    assert!(out.is_empty());

    // Appends continue from there, and the disk recovers to the same log.
    append(&mut log, &mut disk, 3, 4);
    assert_eq!(entries(log.epoch_cache()), [(1, 0), (4, 10)]);
    let (recovered, repairs) = disk.recover(small_segments(), log.recovery_point());
    assert_eq!(repairs, []);
    assert_eq!(state(&recovered), state(&log));

    // Truncating to a segment's base offset keeps that segment, empty.
    let (mut log, mut disk) = multi_segment_log();
    let base = log.segments()[1].base_offset();
    let segments_before = log.segments().len();
    assert!(log.truncate_to(base, &mut out));
    disk.apply(&mut out);
    assert_eq!(log.segments().len(), 2);
    assert!(log.segments()[1].is_empty());
    assert_eq!(disk.segment(base).len(), 0);
    assert!(segments_before > 2);
    let (recovered, repairs) = disk.recover(small_segments(), 0);
    assert_eq!(repairs, []);
    assert_eq!(state(&recovered), state(&log));
    // Truncating to 0 empties the log.
    assert!(log.truncate_to(0, &mut out));
    assert_eq!(log.log_end_offset(), 0);
    assert!(log.epoch_cache().is_empty());
    assert_eq!(log.segments().len(), 1);
}

#[test]
fn flush_policy_by_messages() {
    let every = LogConfig {
        flush_interval_messages: 1,
        ..LogConfig::default()
    };
    let (mut log, mut disk) = fresh(every);
    for i in 0..10 {
        let mut out = Vec::new();
        log.append_records(records(i, 1), -1, -1, -1, 0, 0, &mut out);
        assert!(
            out.iter().any(|o| *o
                == Effect::Fsync {
                    file: segment_file_name(DIR, 0).into(),
                    token: FSYNC_UNTRACKED,
                }),
            "append {i}: {out:?}"
        );
        disk.apply(&mut out);
        log.on_flushed(log.log_end_offset());
        assert_eq!(log.recovery_point(), i + 1);
    }

    // Kafka's defaults never flush (outside segment rolls).
    let (mut log, _) = fresh(LogConfig::default());
    for i in 0..100 {
        let mut out = Vec::new();
        log.append_records(records(i, 3), -1, -1, -1, 0, i * 1_000_000, &mut out);
        assert!(out.iter().all(|o| !o.is_segment_fsync()), "{out:?}");
        assert!(!out.iter().any(|o| *o
            == Effect::Fsync {
                file: segment_file_name(DIR, 0).into(),
                token: FSYNC_UNTRACKED,
            }));
    }
    assert_eq!(log.recovery_point(), 0);
    assert_eq!(log.unflushed_messages(), 300);

    // Every 5 messages: counted from the last issued flush.
    let (mut log, _) = fresh(LogConfig {
        flush_interval_messages: 5,
        ..LogConfig::default()
    });
    let mut flushed_at = Vec::new();
    for i in 0..12 {
        let mut out = Vec::new();
        log.append_records(records(i * 2, 2), -1, -1, -1, 0, 0, &mut out);
        if out.iter().any(Effect::is_segment_fsync) {
            flushed_at.push(log.log_end_offset());
        }
    }
    assert_eq!(flushed_at, [6, 12, 18, 24]);
    // Completions move the recovery point, never past what was flushed.
    assert!(log.on_flushed(u64::MAX));
    assert_eq!(log.recovery_point(), 24);
}

#[test]
fn flush_policy_by_time() {
    let (mut log, _) = fresh(LogConfig {
        flush_interval_ms: 1_000,
        ..LogConfig::default()
    });
    let mut flushes = Vec::new();
    for now in [0u64, 400, 999, 1_000, 1_500, 2_100, 2_200] {
        let mut out = Vec::new();
        let leo = log.log_end_offset();
        log.append_records(records(leo, 1), -1, -1, -1, 0, now, &mut out);
        if out.iter().any(Effect::is_segment_fsync) {
            flushes.push(now);
        }
    }
    assert_eq!(flushes, [1_000, 2_100]);
    assert!(!log.flush_due(2_200));
    assert!(log.flush_due(3_100));
    let mut out = Vec::new();
    assert_eq!(log.maybe_flush(3_100, &mut out), Some(7));
    assert_eq!(log.maybe_flush(3_100, &mut out), None);
}

#[test]
fn flush_covers_unflushed_segments_and_recovery_point_is_guarded() {
    let (mut log, disk) = multi_segment_log();
    // Rolls flushed the old segments even with the default flush configs.
    assert!(disk.fsyncs.contains_key(&segment_file_name(DIR, 0)));
    let active = log.segments().last().unwrap().file().to_owned();
    assert!(!disk.fsyncs.contains_key(&active));
    // A host reporting the log end offset after a roll flush only gets the
    // recovery point to the active segment's base.
    log.on_flushed(log.log_end_offset());
    let active_base = log.segments().last().unwrap().base_offset();
    assert_eq!(log.recovery_point(), active_base);

    let mut out = Vec::new();
    assert_eq!(log.flush(0, &mut out), 24);
    assert_eq!(
        out,
        [Effect::Fsync {
            file: active.clone().into(),
            token: FSYNC_UNTRACKED,
        }]
    );
    // Nothing new: a second flush issues nothing.
    log.on_flushed(24);
    let mut out = Vec::new();
    log.flush(0, &mut out);
    assert_eq!(out, []);

    // An fsync of the epoch checkpoint alone does not count as a flush.
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 3, 1);
    assert!(!log.on_flushed(3));
    assert_eq!(log.recovery_point(), 0);
    // A flush under way is cut back by a truncation.
    let mut out = Vec::new();
    log.flush(0, &mut out);
    log.truncate_to(0, &mut out);
    append(&mut log, &mut disk, 2, 2);
    assert!(!log.on_flushed(3));
    assert_eq!(log.recovery_point(), 0);
}

#[test]
fn read_returns_whole_batches_below_max_offset() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    // Batches: 0..3, 3..5, 5..9, 9..10
    for n in [3, 2, 4, 1] {
        append(&mut log, &mut disk, n, 0);
    }
    let bases = |v: Vec<Rc<RecordBatch>>| v.iter().map(|b| b.base_offset).collect::<Vec<_>>();
    assert_eq!(bases(log.read(0, 10, usize::MAX)), [0, 3, 5, 9]);
    // The first batch may start before from_offset.
    assert_eq!(bases(log.read(4, 10, usize::MAX)), [3, 5, 9]);
    assert_eq!(bases(log.read(6, 10, usize::MAX)), [5, 9]);
    // max_offset is exclusive and a batch reaching it is left out.
    assert_eq!(bases(log.read(0, 5, usize::MAX)), [0, 3]);
    assert_eq!(bases(log.read(0, 7, usize::MAX)), [0, 3]);
    assert_eq!(bases(log.read(0, 9, usize::MAX)), [0, 3, 5]);
    assert_eq!(bases(log.read(5, 5, usize::MAX)), Vec::<u64>::new());
    assert_eq!(bases(log.read(6, 7, usize::MAX)), Vec::<u64>::new());
    assert_eq!(bases(log.read(10, 10, usize::MAX)), Vec::<u64>::new());
    assert_eq!(bases(log.read(10, 99, usize::MAX)), Vec::<u64>::new());
    // max_offset beyond the end is clamped.
    assert_eq!(bases(log.read(9, 99, usize::MAX)), [9]);
    // max_bytes: at least one batch, then whole batches that fit.
    let sizes: Vec<usize> = log.batches().map(|b| b.size_in_bytes()).collect();
    assert_eq!(bases(log.read(0, 10, 0)), [0]);
    assert_eq!(bases(log.read(0, 10, sizes[0] + sizes[1] - 1)), [0]);
    assert_eq!(bases(log.read(0, 10, sizes[0] + sizes[1])), [0, 3]);
    assert_eq!(bases(log.read(3, 10, 1)), [3]);

    // A read stays within one segment, like Kafka's.
    let (log, _) = multi_segment_log();
    let first = &log.segments()[0];
    let got = log.read(0, 24, usize::MAX);
    assert_eq!(got.len(), first.batches().len());
    let second = &log.segments()[1];
    let got = log.read(first.next_offset(), 24, usize::MAX);
    assert_eq!(got[0].base_offset, second.base_offset());
    assert_eq!(got.len(), second.batches().len());
}

#[test]
fn random_histories_recover_to_the_same_log() {
    // Random appends, truncations and rolls; after each step the disk holds
    // exactly the log.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for _ in 0..20 {
        let config = LogConfig {
            segment_bytes: rng.random_range(80..600),
            flush_interval_messages: rng.random_range(1..20),
            ..LogConfig::default()
        };
        let (mut log, mut disk) = fresh(config);
        let mut epoch = 0;
        for step in 0..60 {
            let mut out = Vec::new();
            match rng.random_range(0..10) {
                0 if log.log_end_offset() > 0 => {
                    let to = rng.random_range(0..log.log_end_offset());
                    log.truncate_to(to, &mut out);
                }
                1 => epoch += 1,
                _ => {
                    let leo = log.log_end_offset();
                    let n = rng.random_range(1..5);
                    log.append_records(records(leo, n), 5, 0, leo as i32, epoch, step, &mut out);
                }
            }
            disk.apply(&mut out);
            if rng.random_bool(0.3) {
                log.on_flushed(log.log_end_offset());
            }
            let (recovered, repairs) = disk.recover(config, log.recovery_point());
            assert_eq!(repairs, []);
            assert_eq!(state(&recovered), state(&log));
        }
    }
}

/// After a power loss the fsynced epoch checkpoint can be ahead of the data:
/// it names epoch 1 from offset 2, but the batch at 2 on disk is still epoch
/// 0's (the truncation and the epoch-1 appends were lost). Recovery must
/// trust the batches, or the replica keeps a record its leader never had.
#[test]
fn recovery_drops_checkpoint_epochs_the_batches_contradict() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 2, 0);
    append(&mut log, &mut disk, 2, 0);
    let checkpoint = leader_epoch_checkpoint_file(DIR);
    disk.files.insert(checkpoint, b"0\n2\n0 0\n1 2\n".to_vec());
    let (recovered, _) = disk.recover(LogConfig::default(), 0);
    assert_eq!(recovered.log_end_offset(), 4);
    assert_eq!(
        recovered.epoch_cache().entries(),
        &[EpochEntry {
            epoch: 0,
            start_offset: 0
        }]
    );
    assert_eq!(recovered.latest_epoch(), Some(0));
}

// ---------------------------------------------------------------- contracts

#[test]
fn a_sound_log_keeps_its_contracts_through_rolls_and_truncation() {
    let (mut log, mut disk) = fresh(small_segments());
    for epoch in 0..4 {
        append(&mut log, &mut disk, 3, epoch);
    }
    assert!(log.segments().len() > 1);
    log.assert_contracts();
    let mut out = Vec::new();
    log.truncate_to(4, &mut out);
    log.assert_contracts();
}

#[test]
#[should_panic(expected = "high watermark 99 past the log end offset 4")]
fn a_high_watermark_past_the_log_end_breaks_the_contract() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 3, 0);
    log.high_watermark = 99;
    append(&mut log, &mut disk, 1, 0);
}

#[test]
#[should_panic(expected = "the log end offset kept is not the active segment's end")]
fn a_stale_log_end_offset_breaks_the_contract() {
    let (mut log, mut disk) = fresh(LogConfig::default());
    append(&mut log, &mut disk, 3, 0);
    log.log_end_offset -= 1;
    log.assert_contracts();
}

#[test]
#[should_panic(expected = "segments are not contiguous")]
fn a_gap_between_segments_breaks_the_contract() {
    let (mut log, mut disk) = fresh(small_segments());
    for _ in 0..4 {
        append(&mut log, &mut disk, 3, 0);
    }
    let gap = LogSegment::new(DIR, log.log_end_offset() + 5);
    log.segments.insert(1, gap);
    log.assert_contracts();
}

#[test]
#[should_panic(expected = "epoch cache out of order")]
fn epochs_going_back_break_the_contract() {
    let (mut log, _) = fresh(LogConfig::default());
    log.epoch_cache = LeaderEpochFileCache::default();
    log.epoch_cache.entries_mut_for_test().extend([
        EpochEntry {
            epoch: 3,
            start_offset: 0,
        },
        EpochEntry {
            epoch: 2,
            start_offset: 0,
        },
    ]);
    log.assert_contracts();
}

#[test]
fn a_mutated_log_asserts_nothing() {
    let config = LogConfig {
        contracts: false,
        ..LogConfig::default()
    };
    let (mut log, mut disk) = fresh(config);
    append(&mut log, &mut disk, 3, 0);
    log.high_watermark = 99;
    append(&mut log, &mut disk, 1, 0);
    assert_eq!(log.high_watermark(), 99);
}

#[test]
fn a_stamped_batch_writes_its_header_from_the_records_buffer() {
    let batch = sample_batch();
    assert_eq!(&*batch.header_blob().bytes(), &batch.header()[..]);
    // The leader's copy at its offset and epoch: header and records are
    // one buffer, and every write of the header shares it.
    let stamped = batch.stamped(40, 7);
    let header = stamped.header_blob();
    assert_eq!(&*header.bytes(), &stamped.header()[..]);
    assert_ne!(stamped.header(), batch.header());
    assert!(
        header.join(stamped.records_blob()).is_some(),
        "the header precedes the records in their buffer"
    );
    assert!(batch.header_blob().join(batch.records_blob()).is_none());
}

#[test]
fn a_stamped_batch_decodes_from_its_own_buffer_unchecked_and_a_changed_copy_is_checked() {
    let stamped = sample_batch().stamped(40, 7);
    let whole = stamped
        .header_blob()
        .join(stamped.records_blob())
        .expect("one buffer");
    assert!(whole.vouched_whole(), "the leader's copy is vouched for");
    let (decoded, len) = RecordBatch::decode_in(&whole, 0).expect("decodes");
    assert_eq!((decoded, len), (stamped.clone(), whole.len()));
    // What a disk's corruption leaves: a copy with one bit flipped in a
    // record, which the full decode checks (and the CRC refuses).
    let mut bytes = whole.to_vec();
    bytes[RECORD_BATCH_OVERHEAD + 5] ^= 0x10;
    let copy = sim::Blob::copy_of(&bytes);
    assert!(!copy.vouched_whole());
    assert!(matches!(
        RecordBatch::decode_in(&copy, 0),
        Err(BatchError::Corrupt)
    ));
    // A batch built by a producer (not yet stamped) is not vouched for.
    let built = sample_batch();
    assert!(!built.records_blob().vouched_whole());
}

#[test]
fn a_segment_writes_a_stamped_batch_in_one_write_and_another_in_two() {
    let writes = |batch: RecordBatch| {
        let mut segment = LogSegment::new(DIR, batch.base_offset);
        let mut out = Vec::new();
        segment.append(Rc::new(batch.clone()), &mut out);
        let mut bytes = Vec::new();
        for effect in &out {
            let Effect::Write {
                offset, bytes: b, ..
            } = effect
            else {
                panic!("a segment append only writes: {effect:?}");
            };
            assert_eq!(*offset, bytes.len() as u64, "written one after another");
            bytes.extend_from_slice(&b.bytes());
        }
        assert_eq!(bytes, batch.encode(), "the batch as Kafka lays it out");
        out.len()
    };
    // As Kafka's FileRecords.append: one write of header and records.
    assert_eq!(writes(sample_batch().stamped(40, 7)), 1);
    // A header not in its records' buffer: two writes, no copy of records.
    assert_eq!(writes(sample_batch()), 2);
}

#[test]
fn a_batch_takes_at_most_80_bytes() {
    // With its reference counts, 96: one allocation of mimalloc's 96-byte
    // class per batch, which the leader and every follower share.
    assert!(std::mem::size_of::<RecordBatch>() <= 80);
}
