//! One segment of a log (Kafka's `LogSegment`): the file
//! `{dir}/{base_offset:020}.log` holding consecutive batches from
//! `base_offset` on, mirrored in memory.
//!
//! The index files (`.index`, `.timeindex`) are not written to the
//! simulated disk: the offset index lives in memory only, one entry per
//! batch (Kafka's has one per `index.interval.bytes`), rebuilt whenever the
//! segment is read back, as Kafka rebuilds a missing index. What the time
//! index gives Kafka's retention and rolling, the segment keeps itself: the
//! largest timestamp, and the first batch's (the roll clock of `segment.ms`).

use std::rc::Rc;

use sim::Blob;

use super::batch::{
    batch_size_from_prefix, BatchError, RecordBatch, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD,
};
use super::file_bytes::FileBytes;
use crate::node::{Effect, FileName};

/// Kafka's segment file name: the base offset as 20 zero-padded digits.
pub fn segment_file_name(dir: &str, base_offset: u64) -> String {
    format!("{dir}/{base_offset:020}.log")
}

/// The name a cleaned segment is written under before it is swapped in
/// (Kafka's `CleanedFileSuffix`).
pub fn cleaned_file_name(segment_file: &str) -> String {
    format!("{segment_file}.cleaned")
}

/// The name a cleaned segment takes while it replaces the old ones (Kafka's
/// `SwapFileSuffix`).
pub fn swap_file_name(segment_file: &str) -> String {
    format!("{segment_file}.swap")
}

/// The base offset of a segment file of `dir`, or None when `file` is not
/// one (wrong directory, suffix, or not exactly 20 digits).
pub fn parse_segment_file_name(dir: &str, file: &str) -> Option<u64> {
    parse_with_suffix(dir, file, ".log")
}

/// The base offset of a swap file of `dir` (`BASE.log.swap`), or None.
pub fn parse_swap_file_name(dir: &str, file: &str) -> Option<u64> {
    parse_with_suffix(dir, file, ".log.swap")
}

fn parse_with_suffix(dir: &str, file: &str, suffix: &str) -> Option<u64> {
    let name = file.strip_prefix(dir)?.strip_prefix('/')?;
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Why reading a segment's bytes stopped before their end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanStop {
    /// The last batch is cut short (a torn or lost write).
    Torn,
    /// A batch fails its length, magic, CRC or content checks.
    Corrupt,
    /// A valid batch does not start where the previous one ended (in a
    /// compacted log: starts below it).
    Gap {
        /// The offset the log continues at.
        expected: u64,
        /// The base offset found instead.
        found: u64,
    },
}

/// One segment file and its batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSegment {
    base_offset: u64,
    file: FileName,
    batches: Vec<Rc<RecordBatch>>,
    /// Kafka's offset index, one entry per batch rather than one per
    /// `index.interval.bytes`: each batch's next offset relative to
    /// `base_offset` (4 bytes, as the index's relative offsets) and its byte
    /// position in the file (an `int`, as a segment's size is in Kafka).
    /// Lookups search these dense arrays, not the batches behind their
    /// pointers.
    ends: Vec<u32>,
    positions: Vec<u32>,
    size: u64,
    /// The first batch's largest timestamp (Kafka's `rollingBasedTimestamp`).
    rolling_timestamp: Option<u64>,
    /// The largest record timestamp (Kafka's `maxTimestampSoFar`).
    max_timestamp: Option<u64>,
}

impl LogSegment {
    /// An empty segment starting at `base_offset`.
    pub(crate) fn new(dir: &str, base_offset: u64) -> Self {
        Self {
            base_offset,
            file: segment_file_name(dir, base_offset).into(),
            batches: Vec::new(),
            ends: Vec::new(),
            positions: Vec::new(),
            size: 0,
            rolling_timestamp: None,
            max_timestamp: None,
        }
    }

    /// Reads a segment file's bytes (Kafka's `LogSegment.recover`): batches
    /// from the start while they decode and continue the offsets from
    /// `base_offset`. Returns the segment holding the valid prefix, and why
    /// reading stopped early, if it did (the caller cuts the file to
    /// [`LogSegment::size`]). With `gaps` (a compacted log, whose cleaner
    /// removes whole batches), a batch may start past the previous one's end.
    ///
    /// A batch the file holds within one of its extents (as written: one
    /// write per batch) keeps its records in that extent's buffer.
    pub(crate) fn load(
        dir: &str,
        base_offset: u64,
        file: &FileBytes,
        gaps: bool,
    ) -> (Self, Option<ScanStop>) {
        let mut segment = Self::new(dir, base_offset);
        let mut pos = 0usize;
        while pos < file.len() {
            let decoded = match batch_extent(file, pos) {
                Some((blob, at)) => RecordBatch::decode_in(blob, at),
                None => RecordBatch::decode(&file.copy(pos..file.len())),
            };
            let (batch, len) = match decoded {
                Ok(decoded) => decoded,
                Err(BatchError::Truncated) => return (segment, Some(ScanStop::Torn)),
                Err(BatchError::Corrupt) => return (segment, Some(ScanStop::Corrupt)),
            };
            let expected = segment.next_offset();
            if !continues(expected, batch.base_offset, gaps) {
                let found = batch.base_offset;
                return (segment, Some(ScanStop::Gap { expected, found }));
            }
            pos += len;
            segment.push(Rc::new(batch), len as u64);
        }
        (segment, None)
    }

    /// Offset of the first batch it may hold.
    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    /// Its file name.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Bytes in its file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its batches, in offset order.
    pub fn batches(&self) -> &[Rc<RecordBatch>] {
        &self.batches
    }

    /// True when it holds no batch.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The offset after its last batch (`base_offset` when empty).
    pub fn next_offset(&self) -> u64 {
        self.batches
            .last()
            .map_or(self.base_offset, |b| b.next_offset())
    }

    /// Index of the first batch whose last offset is >= `offset`: the batch
    /// containing `offset`, or the next one (Kafka's `translateOffset`,
    /// over the segment's index of relative end offsets).
    pub fn find(&self, offset: u64) -> Option<usize> {
        let i = match offset.checked_sub(self.base_offset) {
            None => 0,
            Some(relative) => match u32::try_from(relative) {
                Ok(relative) => first_end_above(&self.ends, relative),
                Err(_) => self.ends.len(),
            },
        };
        (i < self.ends.len()).then_some(i)
    }

    /// Kafka's `largestTimestamp`: the largest record timestamp (None for
    /// an empty segment, for which Kafka takes the file's last-modified
    /// time; here an empty segment is always the active one, which
    /// retention never deletes).
    pub fn largest_timestamp(&self) -> Option<u64> {
        self.max_timestamp
    }

    /// Kafka's `timeWaitedForRoll`: how far `timestamp` (an append's
    /// largest) is past the first batch's timestamp; 0 when empty.
    pub fn time_waited_for_roll(&self, timestamp: u64) -> u64 {
        self.rolling_timestamp
            .map_or(0, |first| timestamp.saturating_sub(first))
    }

    /// Records it holds (the offsets its batches cover).
    pub fn offsets(&self) -> u64 {
        self.next_offset()
            - self
                .batches
                .first()
                .map_or(self.base_offset, |b| b.base_offset)
    }

    /// Byte position of batch `index` in the file.
    pub fn position(&self, index: usize) -> u64 {
        self.positions
            .get(index)
            .map_or(self.size, |&position| u64::from(position))
    }

    /// The offset after batch `index` (its last offset + 1), from the
    /// index: no look at the batch itself.
    pub fn batch_next_offset(&self, index: usize) -> u64 {
        self.base_offset + u64::from(self.ends[index])
    }

    /// Encoded size of batch `index` (0 when there is none).
    pub fn batch_size(&self, index: usize) -> u64 {
        if index >= self.positions.len() {
            return 0;
        }
        self.position(index + 1) - self.position(index)
    }

    /// Gives back the room its lists kept for appends (a segment rolled
    /// away from takes none: a log keeps dozens of them, each with one
    /// entry per batch).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.batches.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.positions.shrink_to_fit();
    }

    /// Adds a batch the cleaner kept to a cleaned segment (written to disk
    /// by the cleaner as a whole).
    pub(crate) fn push_cleaned(&mut self, batch: Rc<RecordBatch>) {
        let size = batch.size_in_bytes() as u64;
        self.push(batch, size);
    }

    fn push(&mut self, batch: Rc<RecordBatch>, size: u64) {
        let ts = batch.max_timestamp();
        self.rolling_timestamp.get_or_insert(ts);
        self.max_timestamp = Some(self.max_timestamp.map_or(ts, |m| m.max(ts)));
        let position = u32::try_from(self.size).expect("a segment holds less than 4 GiB");
        let end = batch
            .next_offset()
            .checked_sub(self.base_offset)
            .and_then(|end| u32::try_from(end).ok())
            .expect("a segment's batches lie less than 2^32 offsets past its base offset");
        debug_assert_eq!(
            size,
            batch.size_in_bytes() as u64,
            "a batch's size is its bytes'"
        );
        self.ends.push(end);
        self.positions.push(position);
        self.size += size;
        self.batches.push(batch);
    }

    /// Appends `batch` at the end of the file.
    pub(crate) fn append(&mut self, batch: Rc<RecordBatch>, out: &mut Vec<Effect>) {
        let size = batch.size_in_bytes() as u64;
        write_batch(&self.file, self.size, &batch, out);
        self.push(batch, size);
    }

    /// Writes every batch to `file` (created empty first): a cleaned
    /// segment, written whole under its temporary name.
    pub(crate) fn write_to(&self, file: &FileName, out: &mut Vec<Effect>) {
        out.push(Effect::Write {
            file: file.clone(),
            offset: 0,
            bytes: sim::Blob::empty(),
        });
        let mut position = 0;
        for batch in &self.batches {
            write_batch(file, position, batch, out);
            position += batch.size_in_bytes() as u64;
        }
    }

    /// Removes the batch containing `offset` and every later one (Kafka's
    /// `LogSegment.truncateTo`: it cuts at the position of the first batch
    /// whose last offset is >= `offset`). Returns the bytes cut.
    pub(crate) fn truncate_to(&mut self, offset: u64, out: &mut Vec<Effect>) -> u64 {
        let Some(index) = self.find(offset) else {
            return 0;
        };
        let position = self.position(index);
        let cut = self.size - position;
        self.batches.truncate(index);
        self.ends.truncate(index);
        self.positions.truncate(index);
        self.size = position;
        self.max_timestamp = self.batches.iter().map(|b| b.max_timestamp()).max();
        if self.batches.is_empty() {
            self.rolling_timestamp = None;
        }
        out.push(Effect::Truncate {
            file: self.file.clone(),
            len: position,
        });
        cut
    }
}

/// The extent of `file` holding the whole batch at `pos`, and where in it
/// the batch starts; None when the batch's header or its bytes span
/// extents, or the file ends first (then the caller decodes a copy, which
/// tells a torn batch from a corrupt one).
fn batch_extent(file: &FileBytes, pos: usize) -> Option<(&Blob, usize)> {
    let (blob, at) = file.within(pos..pos + LOG_OVERHEAD)?;
    let total = batch_size_from_prefix(&blob.bytes()[at..at + LOG_OVERHEAD])?;
    (at + total <= blob.len()).then_some((blob, at))
}

/// The first index of `ends` (ascending) whose value is above `relative`
/// (`ends.len()` when none is). Followers and consumers read near a log's
/// end, so the search gallops back from the end (1, 2, 4, ... entries)
/// before it bisects: a few cache lines of a long segment's index rather
/// than one per halving.
fn first_end_above(ends: &[u32], relative: u32) -> usize {
    let mut hi = ends.len();
    let mut step = 1;
    let lo = loop {
        if step > hi {
            break 0;
        }
        let probe = hi - step;
        if ends[probe] <= relative {
            break probe + 1;
        }
        hi = probe;
        step *= 2;
    };
    lo + ends[lo..hi].partition_point(|&end| end <= relative)
}

/// Whether a batch or segment starting at `base` may follow a log ending
/// at `end`: right there, or past it where offsets may have gaps (`gaps`:
/// a compacted log, whose cleaner removes whole batches).
pub(crate) fn continues(end: u64, base: u64, gaps: bool) -> bool {
    base == end || (gaps && base > end)
}

/// Writes `batch` at `position` of `file` in one write, as Kafka's
/// `FileRecords.append` does: its header and its records as one shared
/// buffer (a leader's batch and every copy of it, see
/// [`RecordBatch::stamped`]); a batch whose header is not in its records'
/// buffer is written as its header, then its records (no copy of them).
fn write_batch(file: &FileName, position: u64, batch: &RecordBatch, out: &mut Vec<Effect>) {
    let header = batch.header_blob();
    match header.join(batch.records_blob()) {
        Some(whole) => out.push(Effect::Write {
            file: file.clone(),
            offset: position,
            bytes: whole,
        }),
        None => {
            out.push(Effect::Write {
                file: file.clone(),
                offset: position,
                bytes: header,
            });
            out.push(Effect::Write {
                file: file.clone(),
                offset: position + RECORD_BATCH_OVERHEAD as u64,
                bytes: batch.records_blob().clone(),
            });
        }
    }
}

/// Number of batches that decode one after another from the start of
/// `bytes` (contiguity not checked): how many whole batches discarded bytes
/// held, for recovery reports.
pub(crate) fn count_decodable_batches(bytes: &[u8]) -> u64 {
    let mut pos = 0;
    let mut count = 0;
    while let Ok((_, len)) = RecordBatch::decode(&bytes[pos..]) {
        pos += len;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::first_end_above;

    #[test]
    fn galloping_search_agrees_with_bisection() {
        for len in 0..40u32 {
            // Ascending ends with gaps, as a compacted segment's may have.
            let ends: Vec<u32> = (0..len).map(|i| 3 * i + 1 + i % 2).collect();
            for relative in 0..(3 * len + 4) {
                let expected = ends.partition_point(|&end| end <= relative);
                assert_eq!(
                    first_end_above(&ends, relative),
                    expected,
                    "{relative} in {ends:?}"
                );
            }
        }
    }
}
