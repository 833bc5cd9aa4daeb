//! `ksim export-logs`: a broker's log directory as Kafka lays it out, for
//! Kafka's own tools (`kafka-dump-log.sh`). Every partition directory
//! (`TOPIC-P/`) with its segment files byte for byte as the simulated disk
//! holds them (the page-cache view, or what a power loss would leave), the
//! `leader-epoch-checkpoint`, `partition.metadata` (the topic id), and the
//! broker's checkpoint files; beside them what Kafka keeps that ksim's disk
//! does not: each segment's offset and time index (`.index`, `.timeindex`,
//! built from the segment as Kafka's `LogSegment.append` builds them,
//! trimmed as at a roll).

use std::collections::BTreeMap;

use crate::log::{parse_segment_file_name, RecordBatch};

/// Kafka's `log.index.interval.bytes` default: an index entry at most this
/// many bytes of batches apart.
pub const INDEX_INTERVAL_BYTES: usize = 4096;

/// The broker's checkpoint files, exported as they are.
const CHECKPOINTS: [&str; 3] = [
    "replication-offset-checkpoint",
    "recovery-point-offset-checkpoint",
    "log-start-offset-checkpoint",
];

/// One file of the exported directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedFile {
    /// Its path under the directory.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What to export: the disk's files (name, bytes) and the topic ids by
/// topic name.
pub struct ExportRequest<'a> {
    /// Every file of the view exported (page cache or durable).
    pub files: &'a BTreeMap<String, Vec<u8>>,
    /// Topic id (as Kafka prints it) per topic name: the directories of
    /// these topics are exported.
    pub topic_ids: &'a BTreeMap<String, String>,
}

/// The exported directory, in path order, and the files left out (with why).
pub fn export(req: &ExportRequest<'_>) -> (Vec<ExportedFile>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (name, bytes) in req.files {
        let dir_topic = name
            .split_once('/')
            .and_then(|(dir, _)| Some((dir, dir.rsplit_once('-')?.0)));
        match dir_topic {
            Some((dir, topic)) if req.topic_ids.contains_key(topic) => {
                out.push(ExportedFile {
                    path: name.clone(),
                    bytes: bytes.clone(),
                });
                if let Some(base) = parse_segment_file_name(dir, name) {
                    let (index, time_index) = indexes(base, bytes);
                    let stem = name.trim_end_matches(".log");
                    out.push(ExportedFile {
                        path: format!("{stem}.index"),
                        bytes: index,
                    });
                    out.push(ExportedFile {
                        path: format!("{stem}.timeindex"),
                        bytes: time_index,
                    });
                }
            }
            _ if CHECKPOINTS.contains(&name.as_str()) => out.push(ExportedFile {
                path: name.clone(),
                bytes: bytes.clone(),
            }),
            _ => skipped.push(format!(
                "{name}: not in Kafka's format (the KRaft metadata log and quorum state are ksim's own)"
            )),
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    (out, skipped)
}

/// The offset index and the time index of a segment starting at `base`
/// (Kafka's `LogSegment.append`: before a batch, when more than
/// `log.index.interval.bytes` were appended since the last entry, the
/// offset index gets (the batch's last offset - base, its position) and
/// the time index (the largest timestamp so far, the offset holding it -
/// base) when that timestamp is newer than its last entry's). Reading stops
/// at the first batch that does not decode, as recovery does.
pub fn indexes(base: u64, segment: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut index = Vec::new();
    let mut time_index = Vec::new();
    let mut since_last = 0usize;
    let mut max_ts: Option<(u64, u64)> = None;
    let mut last_indexed_ts: Option<u64> = None;
    let mut position = 0usize;
    while position < segment.len() {
        let Ok((batch, len)) = RecordBatch::decode(&segment[position..]) else {
            break;
        };
        let ts = batch.max_timestamp();
        if max_ts.is_none_or(|(t, _)| ts > t) {
            max_ts = Some((ts, batch.last_offset()));
        }
        if since_last > INDEX_INTERVAL_BYTES {
            let relative = (batch.last_offset() - base) as u32;
            index.extend_from_slice(&relative.to_be_bytes());
            index.extend_from_slice(&(position as u32).to_be_bytes());
            if let Some((t, offset)) = max_ts {
                if last_indexed_ts.is_none_or(|l| t > l) {
                    time_index.extend_from_slice(&(t as i64).to_be_bytes());
                    time_index.extend_from_slice(&((offset - base) as u32).to_be_bytes());
                    last_indexed_ts = Some(t);
                }
            }
            since_last = 0;
        }
        since_last += len;
        position += len;
    }
    (index, time_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Record;

    fn segment(batches: u64, records: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        for b in 0..batches {
            let recs: Vec<Record> = (0..records)
                .map(|i| Record {
                    key: None,
                    value: Some(vec![7; 100]),
                    timestamp_ms: 1_000 + b * 10 + i,
                    headers: Vec::new(),
                })
                .collect();
            bytes.extend(RecordBatch::of(100 + b * records, 0, (-1, -1, -1), &recs).encode());
        }
        bytes
    }

    #[test]
    fn indexes_take_an_entry_past_every_index_interval() {
        // 10 records of 100 bytes: batches of a little over 1 KiB.
        let bytes = segment(20, 10);
        let (index, time_index) = indexes(100, &bytes);
        let batch = bytes.len() / 20;
        assert!(batch > 1_000 && batch < 1_300, "{batch}");
        // An entry before the batch that follows more than 4096 bytes.
        let every = INDEX_INTERVAL_BYTES / batch + 1;
        assert_eq!(index.len() / 8, (20 - 1) / every);
        let first_relative = u32::from_be_bytes(index[..4].try_into().unwrap());
        let first_position = u32::from_be_bytes(index[4..8].try_into().unwrap());
        assert_eq!(first_position as usize, every * batch);
        assert_eq!(first_relative as usize, every * 10 + 9);
        assert_eq!(time_index.len() / 12, index.len() / 8);
        let ts = i64::from_be_bytes(time_index[..8].try_into().unwrap());
        assert_eq!(ts, 1_000 + every as i64 * 10 + 9);
    }

    #[test]
    fn the_directory_has_kafkas_files_and_leaves_out_ksims_own() {
        let mut files = BTreeMap::new();
        files.insert(
            "orders-0/00000000000000000000.log".to_owned(),
            segment(2, 3),
        );
        files.insert(
            "orders-0/leader-epoch-checkpoint".to_owned(),
            b"0\n0\n".to_vec(),
        );
        files.insert(
            "replication-offset-checkpoint".to_owned(),
            b"0\n0\n".to_vec(),
        );
        files.insert(
            "orders-0/partition.metadata".to_owned(),
            b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n".to_vec(),
        );
        files.insert("__cluster_metadata-0/log".to_owned(), vec![1, 2, 3]);
        let ids = [("orders".to_owned(), "AAAAAAAAAAAAAAAAAAAAAQ".to_owned())].into();
        let (out, skipped) = export(&ExportRequest {
            files: &files,
            topic_ids: &ids,
        });
        let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "orders-0/00000000000000000000.index",
                "orders-0/00000000000000000000.log",
                "orders-0/00000000000000000000.timeindex",
                "orders-0/leader-epoch-checkpoint",
                "orders-0/partition.metadata",
                "replication-offset-checkpoint",
            ]
        );
        assert_eq!(skipped.len(), 1);
        let metadata = &out[4].bytes;
        assert_eq!(metadata, b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n");
        assert_eq!(out[1].bytes, files["orders-0/00000000000000000000.log"]);
    }
}
