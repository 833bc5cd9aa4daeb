//! `RaftLog`: the replicated `__cluster_metadata-0` log of one voter, with
//! its leader-epoch cache (the start offset of every epoch in the log).

use super::frame;

/// An (end) offset and the epoch it belongs to, as in Kafka's `OffsetAndEpoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OffsetAndEpoch {
    /// The offset.
    pub offset: u64,
    /// The epoch.
    pub epoch: u32,
}

/// What an entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// Control record a new leader appends at the start of its epoch.
    LeaderChange {
        /// The new leader.
        leader_id: u32,
    },
    /// Opaque metadata bytes proposed by the leader.
    Data(Vec<u8>),
}

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogEntry {
    /// Its offset.
    pub offset: u64,
    /// The epoch of the leader that appended it.
    pub epoch: u32,
    /// Its content.
    pub record: Record,
}

const KIND_LEADER_CHANGE: u8 = 0;
const KIND_DATA: u8 = 1;

impl LogEntry {
    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&self.offset.to_le_bytes());
        body.extend_from_slice(&self.epoch.to_le_bytes());
        match &self.record {
            Record::LeaderChange { leader_id } => {
                body.push(KIND_LEADER_CHANGE);
                body.extend_from_slice(&leader_id.to_le_bytes());
            }
            Record::Data(payload) => {
                body.push(KIND_DATA);
                body.extend_from_slice(payload);
            }
        }
        frame::encode(&body)
    }

    fn decode(body: &[u8]) -> Option<Self> {
        if body.len() < 13 {
            return None;
        }
        let offset = u64::from_le_bytes(body[..8].try_into().ok()?);
        let epoch = u32::from_le_bytes(body[8..12].try_into().ok()?);
        let record = match body[12] {
            KIND_LEADER_CHANGE if body.len() == 17 => Record::LeaderChange {
                leader_id: u32::from_le_bytes(body[13..17].try_into().ok()?),
            },
            KIND_DATA => Record::Data(body[13..].to_vec()),
            _ => return None,
        };
        Some(Self {
            offset,
            epoch,
            record,
        })
    }
}

/// The log: entries from offset 0, their byte positions in the file, and the epoch cache.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    entries: Vec<LogEntry>,
    /// Byte position of each entry in the file.
    positions: Vec<u64>,
    bytes_len: u64,
    /// (epoch, start offset) for every epoch in the log, ascending.
    epochs: Vec<(u32, u64)>,
}

impl RaftLog {
    /// Rebuilds the log from its file. Returns the log and the length of the
    /// valid prefix (a torn or corrupt tail, or an entry out of sequence, ends it).
    pub fn recover(bytes: Option<&[u8]>) -> (Self, u64) {
        let mut log = Self::default();
        for (at, body) in frame::decode(bytes.unwrap_or_default()) {
            let Some(entry) = LogEntry::decode(body) else {
                break;
            };
            if entry.offset != log.end_offset() || entry.epoch < log.last_epoch() {
                break;
            }
            assert_eq!(at as u64, log.bytes_len, "frames are contiguous");
            log.append(entry);
        }
        let valid = log.bytes_len;
        (log, valid)
    }

    /// The log end offset: the offset the next entry gets.
    pub fn end_offset(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Epoch of the last entry (0 for an empty log).
    pub fn last_epoch(&self) -> u32 {
        self.entries.last().map_or(0, |e| e.epoch)
    }

    /// Bytes the log takes in its file.
    pub fn bytes_len(&self) -> u64 {
        self.bytes_len
    }

    /// The entry at `offset`.
    pub fn entry(&self, offset: u64) -> Option<&LogEntry> {
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// Up to `max` entries from `offset` on.
    pub fn entries_from(&self, offset: u64, max: usize) -> &[LogEntry] {
        let start = (offset as usize).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Appends `entry` at the end; returns the file offset and framed bytes to write there.
    pub fn append(&mut self, entry: LogEntry) -> (u64, Vec<u8>) {
        assert_eq!(
            entry.offset,
            self.end_offset(),
            "entries are appended in order"
        );
        assert!(entry.epoch >= self.last_epoch(), "epochs never go back");
        if entry.epoch > self.last_epoch() || self.epochs.is_empty() {
            self.epochs.push((entry.epoch, entry.offset));
        }
        let bytes = entry.encode();
        let at = self.bytes_len;
        self.positions.push(at);
        self.bytes_len += bytes.len() as u64;
        self.entries.push(entry);
        (at, bytes)
    }

    /// Removes every entry at `offset` and above; returns the new file length.
    pub fn truncate_to(&mut self, offset: u64) -> u64 {
        let keep = (offset as usize).min(self.entries.len());
        if keep < self.entries.len() {
            self.bytes_len = self.positions[keep];
            self.entries.truncate(keep);
            self.positions.truncate(keep);
        }
        self.epochs.retain(|&(_, start)| start < keep as u64);
        self.bytes_len
    }

    /// The largest epoch <= `epoch` in the log and its end offset (the start
    /// of the next epoch, or the log end); (0, 0) when there is none.
    pub fn end_offset_for_epoch(&self, epoch: u32) -> OffsetAndEpoch {
        let idx = self.epochs.partition_point(|&(e, _)| e <= epoch);
        if idx == 0 {
            return OffsetAndEpoch {
                offset: 0,
                epoch: 0,
            };
        }
        let offset = self
            .epochs
            .get(idx)
            .map_or(self.end_offset(), |&(_, start)| start);
        OffsetAndEpoch {
            offset,
            epoch: self.epochs[idx - 1].0,
        }
    }

    /// Checks a follower's (fetch_offset, last_fetched_epoch) against this log,
    /// as Kafka's `validateOffsetAndEpoch`: None when the follower's log is a
    /// prefix of this one, else where it must truncate to.
    pub fn diverging_epoch(
        &self,
        fetch_offset: u64,
        last_fetched_epoch: u32,
    ) -> Option<OffsetAndEpoch> {
        let end = self.end_offset_for_epoch(last_fetched_epoch);
        (end.epoch != last_fetched_epoch || end.offset < fetch_offset).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(offset: u64, epoch: u32) -> LogEntry {
        LogEntry {
            offset,
            epoch,
            record: Record::Data(vec![offset as u8; 3]),
        }
    }

    fn log_of(epochs: &[u32]) -> (RaftLog, Vec<u8>) {
        let mut log = RaftLog::default();
        let mut file = Vec::new();
        for (i, &e) in epochs.iter().enumerate() {
            let (at, bytes) = log.append(data(i as u64, e));
            assert_eq!(at, file.len() as u64);
            file.extend(bytes);
        }
        (log, file)
    }

    #[test]
    fn end_offset_for_epoch_uses_the_largest_epoch_not_above() {
        let (log, _) = log_of(&[1, 1, 3, 3, 3, 5]);
        let at = |offset, epoch| OffsetAndEpoch { offset, epoch };
        assert_eq!(log.end_offset_for_epoch(0), at(0, 0));
        assert_eq!(log.end_offset_for_epoch(1), at(2, 1));
        assert_eq!(log.end_offset_for_epoch(2), at(2, 1));
        assert_eq!(log.end_offset_for_epoch(4), at(5, 3));
        assert_eq!(log.end_offset_for_epoch(9), at(6, 5));
    }

    #[test]
    fn diverging_epoch_follows_validate_offset_and_epoch() {
        let (log, _) = log_of(&[1, 1, 3, 3]);
        assert_eq!(log.diverging_epoch(0, 0), None);
        assert_eq!(log.diverging_epoch(2, 1), None);
        assert_eq!(log.diverging_epoch(4, 3), None);
        // The follower has epoch 2, which this log never had: back to the end of epoch 1.
        assert_eq!(
            log.diverging_epoch(3, 2),
            Some(OffsetAndEpoch {
                offset: 2,
                epoch: 1
            })
        );
        // The follower has more of epoch 1 than this log.
        assert_eq!(
            log.diverging_epoch(3, 1),
            Some(OffsetAndEpoch {
                offset: 2,
                epoch: 1
            })
        );
    }

    #[test]
    fn recovery_cuts_a_torn_tail_and_truncation_restores_the_epoch_cache() {
        let (log, mut file) = log_of(&[1, 2, 2]);
        let whole = file.len();
        let (mut longer, extra) = log_of(&[1, 2, 2, 2]);
        file.extend(&extra[whole..whole + 5]);
        let (recovered, valid) = RaftLog::recover(Some(&file));
        assert_eq!(valid, whole as u64);
        assert_eq!(recovered.end_offset(), 3);
        assert_eq!(recovered.entries_from(0, 10), log.entries_from(0, 10));
        let len = longer.truncate_to(1);
        assert_eq!(len, longer.bytes_len());
        assert_eq!(longer.end_offset(), 1);
        assert_eq!(longer.last_epoch(), 1);
        assert_eq!(
            longer.end_offset_for_epoch(2),
            OffsetAndEpoch {
                offset: 1,
                epoch: 1
            }
        );
        assert_eq!(RaftLog::recover(None).1, 0);
    }
}
