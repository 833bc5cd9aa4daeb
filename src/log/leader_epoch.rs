//! The leader epoch cache (Kafka's `LeaderEpochFileCache`): for each leader
//! epoch, the offset of its first record, and the text of its checkpoint
//! file (`leader-epoch-checkpoint`).
//!
//! Entries are ascending in both epoch and start offset. The file itself is
//! written by the log (see `checkpoint_file`); this type only holds the
//! entries and formats/parses the text.

/// Kafka's `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;

/// Version line of the checkpoint file (`LeaderEpochCheckpointFile.CURRENT_VERSION`).
const CHECKPOINT_VERSION: u32 = 0;

/// One epoch and the offset of its first record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// Offset of the first record written in it.
    pub start_offset: u64,
}

/// The epoch → start offset map of one replica's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeaderEpochFileCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochFileCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache built by assigning `entries` in order, as Kafka's constructor
    /// does with the entries it reads from the checkpoint.
    pub fn from_entries(entries: impl IntoIterator<Item = EpochEntry>) -> Self {
        let mut cache = Self::new();
        for e in entries {
            cache.assign(e.epoch, e.start_offset);
        }
        cache
    }

    /// The entries, to break on purpose in a test.
    #[cfg(test)]
    pub(super) fn entries_mut_for_test(&mut self) -> &mut Vec<EpochEntry> {
        &mut self.entries
    }

    /// The entries, ascending.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// True when no epoch is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records that `epoch` starts at `start_offset`; returns whether the
    /// cache changed (when the caller must rewrite the checkpoint).
    ///
    /// Kafka's semantics exactly: nothing happens when `epoch` is the latest
    /// epoch and `start_offset` is not below its start (an epoch's start is
    /// never moved up). Otherwise every entry at the end whose epoch is >=
    /// `epoch` or whose start offset is >= `start_offset` is dropped (so that
    /// both columns stay increasing) and the new entry is appended. So
    /// assigning an epoch *below* the latest is not ignored: it replaces the
    /// conflicting tail. A negative epoch is ignored (Kafka throws).
    pub fn assign(&mut self, epoch: i32, start_offset: u64) -> bool {
        if epoch < 0 {
            return false;
        }
        let needed = self
            .latest_entry()
            .is_none_or(|l| l.epoch != epoch || start_offset < l.start_offset);
        if !needed {
            return false;
        }
        while let Some(last) = self.entries.last() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                self.entries.pop();
            } else {
                break;
            }
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// The newest entry.
    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The oldest entry.
    pub fn earliest_entry(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// The newest epoch.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.latest_entry().map(|e| e.epoch)
    }

    /// The largest known epoch below `epoch` (Kafka's `previousEpoch(epoch)`).
    pub fn previous_epoch(&self, epoch: i32) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.epoch < epoch)
            .map(|e| e.epoch)
    }

    /// The entry of exactly `epoch`.
    pub fn epoch_entry(&self, epoch: i32) -> Option<EpochEntry> {
        self.entries.iter().copied().find(|e| e.epoch == epoch)
    }

    /// Kafka's `endOffsetFor`: the largest epoch <= `requested_epoch` and the
    /// offset where it ends. `None` stands for Kafka's
    /// `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`.
    ///
    /// - `requested_epoch` is [`UNDEFINED_EPOCH`]: None.
    /// - it is the latest epoch: `(latest, log_end_offset)`.
    /// - no known epoch is above it (including an empty cache): None.
    /// - no known epoch is at or below it: `(requested_epoch, start offset of
    ///   the first epoch)` (Kafka's actual code; its javadoc still says
    ///   undefined).
    /// - otherwise: `(largest epoch <= requested, start offset of the
    ///   smallest epoch > requested)`.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: u64) -> Option<(i32, u64)> {
        if requested_epoch == UNDEFINED_EPOCH {
            return None;
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return Some((requested_epoch, log_end_offset));
        }
        let higher = self.entries.iter().find(|e| e.epoch > requested_epoch)?;
        match self
            .entries
            .iter()
            .rev()
            .find(|e| e.epoch <= requested_epoch)
        {
            None => Some((requested_epoch, higher.start_offset)),
            Some(floor) => Some((floor.epoch, higher.start_offset)),
        }
    }

    /// Removes every entry starting at or after `end_offset` (Kafka's
    /// `truncateFromEnd`, used when the log is truncated to `end_offset`).
    /// Returns whether anything was removed.
    pub fn truncate_from_end(&mut self, end_offset: u64) -> bool {
        let before = self.entries.len();
        while self
            .entries
            .last()
            .is_some_and(|e| e.start_offset >= end_offset)
        {
            self.entries.pop();
        }
        self.entries.len() != before
    }

    /// Kafka's `truncateFromStart`: drops entries starting at or before
    /// `start_offset` and re-adds the last dropped epoch as starting at
    /// `start_offset` (so `truncate_from_start(6)` keeps an entry at 6).
    /// Returns whether the entries changed.
    pub fn truncate_from_start(&mut self, start_offset: u64) -> bool {
        let removed = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        if removed == 0 {
            return false;
        }
        let last_removed = self.entries[removed - 1];
        let replacement = EpochEntry {
            epoch: last_removed.epoch,
            start_offset,
        };
        let changed = removed > 1 || last_removed != replacement;
        self.entries.drain(..removed);
        self.entries.insert(0, replacement);
        changed
    }

    /// Epoch of the record at `offset` (Kafka's `epochForOffset`): the epoch
    /// of the last entry starting at or before it.
    pub fn epoch_for_offset(&self, offset: u64) -> Option<i32> {
        self.entries
            .iter()
            .take_while(|e| e.start_offset <= offset)
            .last()
            .map(|e| e.epoch)
    }

    /// The checkpoint file's text: `0\n{count}\n` then `{epoch} {offset}\n`
    /// per entry (Kafka's `LeaderEpochCheckpointFile`, version 0).
    pub fn encode_checkpoint(&self) -> Vec<u8> {
        let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        text.into_bytes()
    }

    /// Parses checkpoint text; None when it is not a well-formed version-0
    /// file (bad UTF-8, unknown version, wrong entry count, malformed or
    /// negative numbers, extra lines), where Kafka would throw.
    pub fn decode_checkpoint(bytes: &[u8]) -> Option<Vec<EpochEntry>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()?.parse::<u32>().ok()? != CHECKPOINT_VERSION {
            return None;
        }
        let count: usize = lines.next()?.parse().ok()?;
        let mut entries = Vec::new();
        for line in lines {
            let mut fields = line.split_whitespace();
            let (Some(epoch), Some(offset), None) = (fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let epoch: i32 = epoch.parse().ok()?;
            if epoch < 0 {
                return None;
            }
            entries.push(EpochEntry {
                epoch,
                start_offset: offset.parse().ok()?,
            });
            if entries.len() > count {
                return None;
            }
        }
        (entries.len() == count).then_some(entries)
    }
}
