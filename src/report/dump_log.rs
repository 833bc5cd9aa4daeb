//! `ksim dump-log`: one replica's log files at a moment, in the layout of
//! `kafka-dump-log.sh --deep-iteration --print-data-log` (Kafka's
//! `DumpLogSegments`), read from the broker's simulated disk as the tool
//! reads a live broker's files: the page-cache view.
//!
//! What Kafka's tool cannot show is added, on lines starting with `#` and
//! in a trailing `durability:` field of each batch line: whether the batch's
//! bytes are already durable (a power loss now would leave them) or only in
//! the page cache.

use std::collections::BTreeMap;
use std::fmt::Write;

use sim::{format_nanos, Disk};

use crate::broker::checkpoints::{HW_CHECKPOINT, RECOVERY_CHECKPOINT};
use crate::broker::partition::{Partition, Role};
use crate::harness::Process;
use crate::log::{
    crc32c, increment_sequence, leader_epoch_checkpoint_file, parse_segment_file_name,
    CompressionType, RecordBatch, COMPRESSION_CODEC_MASK, DELETE_HORIZON_FLAG, LOG_OVERHEAD,
    NO_SEQUENCE,
};

/// The process as the dump's header says it.
fn describe(process: Process) -> &'static str {
    match process {
        Process::Up => "up",
        Process::Paused => "paused (frozen; its state is as of the pause)",
        Process::Down => "down (crashed or powered off; its disk remains)",
    }
}

/// What to dump.
pub struct DumpRequest<'a> {
    /// The scenario file as the user named it.
    pub file: &'a str,
    /// The seed.
    pub seed: u64,
    /// The moment.
    pub at_ns: u64,
    /// The broker's Kafka id.
    pub broker: u32,
    /// Its process state.
    pub process: Process,
    /// The partition (`topic-N`), also the name of its log directory.
    pub partition: &'a str,
    /// The replica as the broker process holds it (None when the process is down
    /// or does not host the partition).
    pub replica: Option<&'a Partition>,
    /// The broker's disk.
    pub disk: &'a Disk,
    /// The faults that hit the broker so far (`power_loss at 10s`), oldest first.
    pub faults: Vec<String>,
}

/// Whether bytes the process sees would survive a power loss now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The durable copy has the same bytes.
    OnDisk,
    /// Only the first `kept` bytes are durable.
    Partial {
        /// Durable bytes from the start.
        kept: usize,
    },
    /// A power loss would drop them (or bring back other bytes).
    PageCacheOnly,
}

impl Durability {
    /// As printed at the end of a batch line.
    pub fn label(self) -> String {
        match self {
            Durability::OnDisk => "on-disk".to_owned(),
            Durability::Partial { kept } => format!("partially-on-disk ({kept} bytes)"),
            Durability::PageCacheOnly => "page-cache-only".to_owned(),
        }
    }
}

/// Whether `cached[start..end]` is in the durable copy of the file.
pub fn durability_of(
    cached: &[u8],
    durable: Option<&[u8]>,
    start: usize,
    end: usize,
) -> Durability {
    let Some(durable) = durable else {
        return Durability::PageCacheOnly;
    };
    let want = &cached[start..end];
    if durable.len() >= end {
        if &durable[start..end] == want {
            return Durability::OnDisk;
        }
        return Durability::PageCacheOnly;
    }
    if durable.len() > start && durable[start..] == want[..durable.len() - start] {
        return Durability::Partial {
            kept: durable.len() - start,
        };
    }
    Durability::PageCacheOnly
}

/// A v2 batch header as stored, read without checking the CRC.
struct Header {
    base_offset: i64,
    batch_length: i32,
    partition_leader_epoch: i32,
    magic: i8,
    crc: u32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    count: i32,
}

/// Bytes of a batch header up to and including `recordCount`.
const HEADER_LEN: usize = 61;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

fn be<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

impl Header {
    /// The header at the start of `bytes`, if the whole header is there.
    fn parse(bytes: &[u8]) -> Option<Header> {
        if bytes.len() < HEADER_LEN {
            return None;
        }
        Some(Header {
            base_offset: i64::from_be_bytes(be(bytes, 0)),
            batch_length: i32::from_be_bytes(be(bytes, 8)),
            partition_leader_epoch: i32::from_be_bytes(be(bytes, 12)),
            magic: bytes[16] as i8,
            crc: u32::from_be_bytes(be(bytes, CRC_OFFSET)),
            attributes: i16::from_be_bytes(be(bytes, ATTRIBUTES_OFFSET)),
            last_offset_delta: i32::from_be_bytes(be(bytes, 23)),
            base_timestamp: i64::from_be_bytes(be(bytes, 27)),
            max_timestamp: i64::from_be_bytes(be(bytes, 35)),
            producer_id: i64::from_be_bytes(be(bytes, 43)),
            producer_epoch: i16::from_be_bytes(be(bytes, 51)),
            base_sequence: i32::from_be_bytes(be(bytes, 53)),
            count: i32::from_be_bytes(be(bytes, 57)),
        })
    }

    fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            NO_SEQUENCE
        } else {
            increment_sequence(self.base_sequence, self.last_offset_delta.max(0))
        }
    }

    fn codec(&self) -> &'static str {
        CompressionType::from_id(self.attributes & COMPRESSION_CODEC_MASK)
            .map_or("unknown", CompressionType::name)
    }
}

/// Figures of one file or of the whole replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Batches printed.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Batches whose bytes are all durable.
    pub durable_batches: u64,
    /// Records in those.
    pub durable_records: u64,
    /// Batches a power loss now would drop (wholly or partly).
    pub volatile_batches: u64,
    /// Records in those.
    pub volatile_records: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.batches += other.batches;
        self.records += other.records;
        self.bytes += other.bytes;
        self.durable_batches += other.durable_batches;
        self.durable_records += other.durable_records;
        self.volatile_batches += other.volatile_batches;
        self.volatile_records += other.volatile_records;
    }
}

/// One segment file in Kafka's layout, with the ksim durability marks.
/// `name` is the file's path on the disk, `cached` its bytes as the process
/// sees them and `durable` what a power loss would leave.
pub fn dump_segment(
    out: &mut String,
    name: &str,
    start_offset: u64,
    cached: &[u8],
    durable: Option<&[u8]>,
) -> Tally {
    let mut tally = Tally::default();
    let _ = writeln!(out, "Dumping {name}");
    let _ = writeln!(out, "Log starting offset: {start_offset}");
    let mut position = 0usize;
    while let Some(header) = Header::parse(&cached[position..]) {
        // Kafka's LogInputStream: a length too small for a batch header or
        // a batch that runs past the end ends the valid part of the file.
        if header.magic != 2 || header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            break;
        }
        let size = LOG_OVERHEAD + header.batch_length as usize;
        if cached.len() - position < size {
            break;
        }
        let bytes = &cached[position..position + size];
        let valid = crc32c(&bytes[ATTRIBUTES_OFFSET..]) == header.crc;
        let batch = if valid {
            RecordBatch::decode(bytes).ok().map(|(b, _)| b)
        } else {
            // The records of a batch whose CRC fails, as far as they parse.
            let mut fixed = bytes.to_vec();
            let crc = crc32c(&fixed[ATTRIBUTES_OFFSET..]);
            fixed[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
            RecordBatch::decode(&fixed).ok().map(|(b, _)| b)
        };
        let durability = durability_of(cached, durable, position, position + size);
        let count = u64::try_from(header.count.max(0)).unwrap_or(0);
        tally.batches += 1;
        tally.records += count;
        tally.bytes += size as u64;
        match durability {
            Durability::OnDisk => {
                tally.durable_batches += 1;
                tally.durable_records += count;
            }
            _ => {
                tally.volatile_batches += 1;
                tally.volatile_records += count;
            }
        }
        let _ = writeln!(
            out,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {} position: {position} CreateTime: {} size: {size} magic: {} compresscodec: {} crc: {} isvalid: {valid} durability: {}",
            header.base_offset,
            header.base_offset + i64::from(header.last_offset_delta),
            header.count,
            header.base_sequence,
            header.last_sequence(),
            header.producer_id,
            header.producer_epoch,
            header.partition_leader_epoch,
            header.attributes & 0x10 != 0,
            header.attributes & 0x20 != 0,
            delete_horizon(&header),
            header.max_timestamp,
            header.magic,
            header.codec(),
            header.crc,
            durability.label()
        );
        match &batch {
            Some(b) => dump_records(out, b),
            None => {
                let _ = writeln!(out, "# ksim: the records of this batch do not parse");
            }
        }
        position += size;
    }
    if position != cached.len() {
        let file_name = name.rsplit('/').next().unwrap_or(name);
        let _ = writeln!(
            out,
            "Found {} invalid bytes at the end of {file_name}",
            cached.len() - position
        );
    }
    tally
}

/// `deleteHorizonMs` as Kafka prints it (a Java `OptionalLong`): the
/// base timestamp of a batch with the delete horizon attribute (KIP-534).
fn delete_horizon(header: &Header) -> String {
    if header.attributes & DELETE_HORIZON_FLAG != 0 {
        format!("OptionalLong[{}]", header.base_timestamp)
    } else {
        "OptionalLong.empty".to_owned()
    }
}

/// The record lines of a batch (`--deep-iteration --print-data-log`).
fn dump_records(out: &mut String, batch: &RecordBatch) {
    let mut records = Vec::new();
    batch.for_each_record(|r| records.push((r.offset_delta, r.to_record())));
    for (delta, r) in records {
        // Kafka's `DefaultRecord.sequence`: the batch's base sequence plus
        // the record's offset delta.
        let sequence = if batch.base_sequence == NO_SEQUENCE {
            NO_SEQUENCE
        } else {
            increment_sequence(batch.base_sequence, delta as i32)
        };
        let key_size = r.key.as_ref().map_or(-1, |k| k.len() as i64);
        let value_size = r.value.as_ref().map_or(-1, |v| v.len() as i64);
        let _ = write!(
            out,
            "| offset: {} CreateTime: {} keySize: {key_size} valueSize: {value_size} sequence: {sequence} headerKeys: [{}]",
            batch.base_offset + u64::from(delta),
            r.timestamp_ms,
            r.headers.iter().map(|h| h.key.as_str()).collect::<Vec<_>>().join(","),
        );
        // As Kafka's DumpLogSegments: a control record shows its marker,
        // not its key and payload.
        if let Some(marker) = batch.end_txn_marker_of() {
            let _ = writeln!(
                out,
                " endTxnMarker: {} coordinatorEpoch: {}",
                marker.control_type.name(),
                marker.coordinator_epoch
            );
            continue;
        }
        if let Some(k) = &r.key {
            let _ = write!(out, " key: {}", String::from_utf8_lossy(k));
        }
        // A null value (a tombstone) prints no payload, as Kafka's parser
        // gives none.
        // A workload tombstone carries its record id in a header.
        let id = r.headers.iter().find(|h| h.key == crate::client::ID_HEADER);
        match (&r.value, id.and_then(|h| h.value.as_deref())) {
            (Some(v), _) => {
                let _ = writeln!(out, " payload: {}", payload(v));
            }
            (None, Some(id)) if id.len() == 8 => {
                let id = crate::client::record_id(Some(id));
                let (producer, seq) = crate::client::producer_of(id);
                let _ = writeln!(out, " tombstone: record producer-{producer}#{seq}");
            }
            (None, _) => out.push('\n'),
        }
    }
}

/// A value as ksim prints it: the workload's record id (its first eight
/// bytes; the rest is zero padding), or the leading bytes in hex for a
/// value that is not a workload record.
pub fn payload(value: &[u8]) -> String {
    if value.len() >= 8 && value[8..].iter().all(|&b| b == 0) {
        let id = crate::client::record_id(Some(value));
        let (producer, seq) = crate::client::producer_of(id);
        return format!("record producer-{producer}#{seq}");
    }
    let shown: String = value.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if value.len() > 16 { "..." } else { "" };
    format!("0x{shown}{more}")
}

/// Marks a whole small file on-disk or page-cache-only.
fn file_durability(cached: &[u8], durable: Option<&[u8]>) -> &'static str {
    if durable == Some(cached) {
        "on-disk"
    } else {
        "page-cache-only"
    }
}

/// The `topic partition offset` line of a broker-wide checkpoint for `tp`.
fn checkpoint_line(bytes: &[u8], tp: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .find(|line| {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(topic), Some(partition), Some(_)) => format!("{topic}-{partition}") == tp,
                _ => false,
            }
        })
        .map(str::to_owned)
}

/// The whole dump.
pub fn dump(req: &DumpRequest<'_>) -> String {
    let durable_files: BTreeMap<String, Vec<u8>> = req.disk.durable_files();
    let prefix = format!("{}/", req.partition);
    let mut segments: Vec<(u64, &str)> = req
        .disk
        .files()
        .filter_map(|f| parse_segment_file_name(req.partition, f).map(|base| (base, f)))
        .collect();
    segments.sort();

    let mut body = String::new();
    let mut total = Tally::default();
    for (base, name) in &segments {
        let cached = req.disk.read(name).unwrap_or_default();
        let durable = durable_files.get(*name).map(Vec::as_slice);
        let t = dump_segment(&mut body, name, *base, &cached, durable);
        let durable_len = durable.map_or("absent".to_owned(), |d| format!("{} bytes", d.len()));
        let _ = writeln!(
            body,
            "# ksim: {name}: {} batches, {} records, {} bytes in the page cache; {} batches ({} records) on disk, {} batches ({} records) page-cache-only; durable copy: {durable_len}",
            t.batches, t.records, cached.len(), t.durable_batches, t.durable_records, t.volatile_batches, t.volatile_records
        );
        total.add(&t);
    }
    if segments.is_empty() {
        let _ = writeln!(body, "# ksim: no segment files in {prefix}");
    }
    for name in durable_files.keys() {
        if name.starts_with(&prefix) && req.disk.read(name).is_none() {
            let _ = writeln!(
                body,
                "# ksim: {name} is gone from the page cache but not from the disk: a power loss now would bring it back"
            );
        }
    }

    // Checkpoints.
    let epoch_file = leader_epoch_checkpoint_file(req.partition);
    if let Some(cached) = req.disk.read(&epoch_file) {
        let durable = durable_files.get(&epoch_file).map(Vec::as_slice);
        let _ = writeln!(
            body,
            "# ksim: {epoch_file} ({}):",
            file_durability(&cached, durable)
        );
        for line in String::from_utf8_lossy(&cached).lines() {
            let _ = writeln!(body, "#   {line}");
        }
        if durable != Some(&*cached) {
            match durable {
                Some(d) => {
                    let lines: Vec<String> = String::from_utf8_lossy(d)
                        .lines()
                        .map(str::to_owned)
                        .collect();
                    let _ = writeln!(body, "#   durable copy: {}", lines.join(" | "));
                }
                None => {
                    let _ = writeln!(body, "#   durable copy: absent");
                }
            }
        }
    }
    for file in [HW_CHECKPOINT, RECOVERY_CHECKPOINT] {
        let Some(cached) = req.disk.read(file) else {
            continue;
        };
        let durable = durable_files.get(file).map(Vec::as_slice);
        let line = checkpoint_line(&cached, req.partition)
            .unwrap_or_else(|| format!("no line for {}", req.partition));
        let _ = write!(
            body,
            "# ksim: {file} ({}): {line}",
            file_durability(&cached, durable)
        );
        if durable != Some(&*cached) {
            let old = durable.map_or("absent".to_owned(), |d| {
                checkpoint_line(d, req.partition)
                    .unwrap_or_else(|| format!("no line for {}", req.partition))
            });
            let _ = write!(body, " (durable copy: {old})");
        }
        let _ = writeln!(body);
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# ksim dump-log {} --seed {} --at {} --broker {} --partition {}",
        req.file,
        req.seed,
        format_nanos(req.at_ns),
        req.broker,
        req.partition
    );
    let _ = writeln!(
        out,
        "# broker {}: process {}",
        req.broker,
        describe(req.process)
    );
    if !req.faults.is_empty() {
        let _ = writeln!(
            out,
            "# faults on broker {} so far: {}",
            req.broker,
            req.faults.join(", ")
        );
    }
    match req.replica {
        Some(p) => {
            let role = match &p.role {
                Role::Leader(_) => "leader".to_owned(),
                Role::Follower { leader } => format!("follower of broker {leader}"),
                Role::Offline => "offline".to_owned(),
            };
            let _ = writeln!(
                out,
                "# replica {}: {role}, leader epoch {}, log start offset {}, log end offset {}, high watermark {}, recovery point {}",
                req.partition,
                p.leader_epoch,
                p.log.log_start_offset(),
                p.log.log_end_offset(),
                p.log.high_watermark(),
                p.log.recovery_point()
            );
        }
        None if req.process == Process::Down => {
            let _ = writeln!(
                out,
                "# replica {}: no process to ask; its files follow",
                req.partition
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# replica {}: the broker does not host it now; its files follow",
                req.partition
            );
        }
    }
    let _ = writeln!(
        out,
        "# durability (ksim, not in Kafka's output): {} of {} batches ({} of {} records) are page-cache-only (a power loss now would drop them)",
        total.volatile_batches, total.batches, total.volatile_records, total.records
    );
    let _ = writeln!(
        out,
        "# payload: the workload's record id (producer and send number); the value's other bytes are zeros"
    );
    out.push_str(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Record;

    fn batch(base: u64, n: usize) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                key: (i % 2 == 0).then(|| b"key-1".to_vec()),
                value: Some(crate::client::record_value(
                    (1 << 40) | (base + i as u64),
                    20,
                )),
                timestamp_ms: 1000 + i as u64,
                headers: Vec::new(),
            })
            .collect();
        RecordBatch::of(base, 1, (7, 0, base as i32), &records).encode()
    }

    #[test]
    fn kafka_layout_durability_and_invalid_tail() {
        let mut file = batch(0, 2);
        let first = file.len();
        file.extend(batch(2, 1));
        let whole = file.len();
        file.extend(&batch(3, 1)[..20]);
        let durable = file[..first + 5].to_vec();
        let mut out = String::new();
        let t = dump_segment(&mut out, "orders-0/x.log", 0, &file, Some(&durable));
        assert_eq!(t.batches, 2);
        assert_eq!(t.durable_batches, 1);
        assert_eq!(t.volatile_records, 1);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].starts_with("baseOffset: 0 lastOffset: 1 count: 2 baseSequence: 0 lastSequence: 1 producerId: 7 producerEpoch: 0 partitionLeaderEpoch: 1 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1001"));
        assert!(
            lines[2].ends_with("isvalid: true durability: on-disk"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "| offset: 0 CreateTime: 1000 keySize: 5 valueSize: 20 sequence: 0 headerKeys: [] key: key-1 payload: record producer-1#0"
        );
        assert!(lines[4].contains("keySize: -1") && !lines[4].contains("key:"));
        assert!(lines[5].ends_with("durability: partially-on-disk (5 bytes)"));
        assert_eq!(
            lines.last().copied(),
            Some(format!("Found {} invalid bytes at the end of x.log", 20).as_str())
        );
        assert_eq!(whole + 20, file.len());
    }

    #[test]
    fn a_control_batch_prints_its_end_txn_marker_as_kafka_does() {
        use crate::log::{ControlRecordType, EndTransactionMarker};
        let mut builder = crate::log::BatchBuilder::new();
        builder.append(None, &crate::client::record_value(1 << 40, 20), 1000);
        let mut data = builder.build_transactional(4005, 16, 0);
        data.base_offset = 0;
        let marker = EndTransactionMarker {
            control_type: ControlRecordType::Commit,
            coordinator_epoch: 3,
        };
        let mut control = RecordBatch::end_txn_marker(4005, 16, marker, 1001);
        control.base_offset = 1;
        let mut file = data.encode();
        file.extend(control.encode());
        let mut out = String::new();
        let t = dump_segment(&mut out, "orders-0/x.log", 0, &file, None);
        assert_eq!(t.batches, 2);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].contains("producerId: 4005 producerEpoch: 16 partitionLeaderEpoch: -1 isTransactional: true isControl: false"), "{}", lines[2]);
        assert!(
            lines[3].ends_with("payload: record producer-1#0"),
            "{}",
            lines[3]
        );
        assert!(lines[4].starts_with("baseOffset: 1 lastOffset: 1 count: 1 baseSequence: -1 lastSequence: -1 producerId: 4005 producerEpoch: 16 partitionLeaderEpoch: -1 isTransactional: true isControl: true"), "{}", lines[4]);
        assert!(lines[4].contains(" size: 78 "), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "| offset: 1 CreateTime: 1001 keySize: 4 valueSize: 6 sequence: -1 headerKeys: [] endTxnMarker: COMMIT coordinatorEpoch: 3"
        );
    }

    #[test]
    fn a_bad_crc_still_prints_with_isvalid_false() {
        let mut file = batch(0, 2);
        let last = file.len() - 3;
        file[last] ^= 1;
        let mut out = String::new();
        let t = dump_segment(&mut out, "orders-0/x.log", 0, &file, None);
        assert_eq!(t.batches, 1);
        assert!(out.contains("isvalid: false durability: page-cache-only"));
        assert!(!out.contains("invalid bytes"));
    }
}
