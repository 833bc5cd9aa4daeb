//! `File`: the bytes of one file (or of a stretch of one, as an undo record
//! keeps it) as a sequence of extents, each a shared, immutable `Blob`.
//!
//! Appending stores the blob itself, so a batch written by a leader and by
//! every follower is held once in memory. Nothing here ever changes a blob's
//! bytes: a change in the middle splits extents into slices (which share the
//! blob's buffer when it is stored as written) and replaces whole extents,
//! so every other holder of a blob (another file, an undo record, another
//! node's disk) keeps seeing what it wrote.

use std::borrow::Cow;

use crate::blob::Blob;

/// Extents per entry of [`File::marks`].
const MARK_EVERY: usize = 16;

/// A file's bytes: non-empty extents (blobs) that tile `0..len` in order.
/// Where an extent starts follows from the lengths of those before it; the
/// file keeps it for one extent in [`MARK_EVERY`] (a log segment's file
/// holds an extent per batch, and a run millions of such extents).
#[derive(Clone, Debug, Default)]
pub(super) struct File {
    extents: Vec<Blob>,
    /// Where extent `i * MARK_EVERY` starts, for each such extent.
    marks: Vec<u64>,
    len: u64,
    /// Sum of the extents' `stored_len`, kept so that `Disk::stored_bytes`
    /// need not visit every extent.
    stored: u64,
}

impl File {
    /// The file holding exactly `blob`.
    pub(super) fn of(blob: Blob) -> Self {
        let mut file = Self::default();
        file.push(blob);
        file
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// True when it holds no byte.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory its extents hold.
    pub(super) fn stored_len(&self) -> u64 {
        self.stored
    }

    /// Its bytes: borrowed when one extent stored as written covers it.
    pub(super) fn bytes(&self) -> Cow<'_, [u8]> {
        match self.extents.as_slice() {
            [] => Cow::Borrowed(&[]),
            [only] => only.bytes(),
            many => {
                let mut bytes = Vec::with_capacity(self.len as usize);
                for e in many {
                    bytes.extend_from_slice(&e.bytes());
                }
                Cow::Owned(bytes)
            }
        }
    }

    /// Its extents, in order.
    pub(super) fn extents(&self) -> &[Blob] {
        &self.extents
    }

    /// A copy of its bytes.
    pub(super) fn to_vec(&self) -> Vec<u8> {
        self.bytes().into_owned()
    }

    /// Appends `blob` as one more extent, without copying it; or, when it
    /// continues the last extent's blob in the same buffer (a batch's
    /// records after its header, see [`Blob::prefixed`]), as part of it.
    pub(super) fn push(&mut self, blob: Blob) {
        if blob.is_empty() {
            return;
        }
        let len = blob.len() as u64;
        self.stored += blob.stored_len() as u64;
        if let Some(last) = self.extents.last_mut() {
            if let Some(joined) = last.join(&blob) {
                *last = joined;
                self.len += len;
                return;
            }
        }
        if self.extents.len() == self.extents.capacity() {
            // Half as much room more, not twice as much: a log segment's
            // file holds an extent per batch, and a run thousands of such
            // files (a quarter more copied the extents twice as often).
            let more = (self.extents.len() / 2).max(4);
            self.extents.reserve_exact(more);
        }
        if self.extents.len().is_multiple_of(MARK_EVERY) {
            self.marks.push(self.len);
        }
        self.extents.push(blob);
        self.len += len;
    }

    /// Room for extents (a test's view of what [`Self::shrink_to_fit`] gives back).
    #[cfg(test)]
    pub(super) fn extents_capacity(&self) -> usize {
        self.extents.capacity()
    }

    /// Gives back the room kept for more extents (a file no longer written:
    /// a log keeps dozens of rolled segments, each with an extent per batch).
    pub(super) fn shrink_to_fit(&mut self) {
        self.extents.shrink_to_fit();
        self.marks.shrink_to_fit();
    }

    /// Appends every extent of `other`.
    pub(super) fn extend(&mut self, other: File) {
        for e in other.extents {
            self.push(e);
        }
    }

    /// Index of the extent holding byte `pos` and where it starts (or
    /// `extents.len()` and `len` past the end).
    fn extent_at(&self, pos: u64) -> (usize, u64) {
        if pos >= self.len {
            return (self.extents.len(), self.len);
        }
        let mark = self.marks.partition_point(|&at| at <= pos) - 1;
        let mut at = self.marks[mark];
        for (i, e) in self.extents.iter().enumerate().skip(mark * MARK_EVERY) {
            let end = at + e.len() as u64;
            if pos < end {
                return (i, at);
            }
            at = end;
        }
        unreachable!("byte {pos} lies below the file's length {}", self.len)
    }

    /// Cuts the file to `len` bytes (if longer) and returns what followed.
    /// Costs a binary search plus the extents cut (a compressed one cut in
    /// two is re-encoded), whatever the file's size.
    pub(super) fn cut(&mut self, len: u64) -> File {
        let mut tail = File::default();
        if len >= self.len {
            return tail;
        }
        let (i, mut at) = self.extent_at(len);
        let removed = self.extents.split_off(i);
        self.marks.truncate(i.div_ceil(MARK_EVERY));
        self.len = at;
        self.stored -= removed.iter().map(|e| e.stored_len() as u64).sum::<u64>();
        for e in removed {
            let end = at + e.len() as u64;
            if at < len {
                let keep = (len - at) as usize;
                self.push(e.slice(0..keep));
                tail.push(e.slice(keep..e.len()));
            } else {
                tail.push(e);
            }
            at = end;
        }
        tail
    }

    /// The bytes `from..to` (within the file) as extents, sharing its blobs.
    pub(super) fn range(&self, from: u64, to: u64) -> File {
        let mut part = File::default();
        let (i, mut at) = self.extent_at(from);
        for e in &self.extents[i..] {
            if at >= to {
                break;
            }
            let e_end = at + e.len() as u64;
            let start = from.saturating_sub(at) as usize;
            let end = (to.min(e_end) - at) as usize;
            if start == 0 && end == e.len() {
                part.push(e.clone());
            } else {
                part.push(e.slice(start..end));
            }
            at = e_end;
        }
        part
    }

    /// Writes `data` at `offset`, filling any gap past the end with zeros,
    /// and returns the bytes it overwrote. An append only pushes extents;
    /// any other write re-lays the extents after `offset`.
    /// Writes `blob` at `offset`, as [`File::write`] does, without
    /// wrapping it in a file of its own first when it lands at the end.
    pub(super) fn write_blob(&mut self, offset: u64, blob: Blob) -> File {
        if offset == self.len {
            self.push(blob);
            return File::default();
        }
        self.write(offset, File::of(blob))
    }

    pub(super) fn write(&mut self, offset: u64, data: File) -> File {
        if offset > self.len {
            self.push(Blob::new(vec![0; (offset - self.len) as usize]));
        }
        if offset == self.len {
            self.extend(data);
            return File::default();
        }
        if data.is_empty() {
            return File::default();
        }
        let mut overwritten = self.cut(offset);
        let after = overwritten.cut(data.len());
        self.extend(data);
        self.extend(after);
        overwritten
    }

    /// Flips `bit` of byte `pos` by replacing the extent holding it with a
    /// changed copy: the blob may be shared, so it is never changed itself.
    pub(super) fn flip(&mut self, pos: u64, bit: u8) {
        let (i, at) = self.extent_at(pos);
        let e = &mut self.extents[i];
        let mut bytes = e.to_vec();
        bytes[(pos - at) as usize] ^= bit;
        let copy = Blob::new(bytes);
        self.stored = self.stored - e.stored_len() as u64 + copy.stored_len() as u64;
        *e = copy;
    }
}

/// The reference the tests hold a file against: `data` written at
/// `offset` of a plain byte vector (zeros fill a gap).
#[cfg(test)]
pub(crate) fn write_at(bytes: &mut Vec<u8>, offset: usize, data: &[u8]) {
    if bytes.len() < offset {
        bytes.resize(offset, 0);
    }
    let overlap = (bytes.len() - offset).min(data.len());
    bytes[offset..offset + overlap].copy_from_slice(&data[..overlap]);
    bytes.extend_from_slice(&data[overlap..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn check_invariants(f: &File) {
        let mut at = 0;
        let mut marks = Vec::new();
        for (i, e) in f.extents.iter().enumerate() {
            assert!(!e.is_empty(), "no empty extent");
            if i.is_multiple_of(MARK_EVERY) {
                marks.push(at);
            }
            at += e.len() as u64;
        }
        assert_eq!(at, f.len);
        assert_eq!(f.marks, marks, "where every 16th extent starts");
        let stored: usize = f.extents.iter().map(|e| e.stored_len()).sum();
        assert_eq!(f.stored, stored as u64);
    }

    /// Random writes, cuts and range reads against a plain byte vector.
    #[test]
    fn extents_behave_like_a_byte_vector() {
        for seed in 0..200 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut file = File::default();
            let mut model: Vec<u8> = Vec::new();
            for _ in 0..60 {
                match r.random_range(0..4) {
                    0 | 1 => {
                        let len = r.random_range(0..1200);
                        let data: Vec<u8> = if r.random_bool(0.5) {
                            (0..len).map(|_| r.random()).collect()
                        } else {
                            (0..len).map(|i| u8::from(i % 97 == 0)).collect()
                        };
                        let offset = r.random_range(0..=model.len() + 600);
                        let blob = Blob::new(data.clone());
                        let old = model.clone();
                        let overwritten = file.write(offset as u64, File::of(blob));
                        write_at(&mut model, offset, &data);
                        let end = (offset + data.len()).min(old.len());
                        let expect = old.get(offset..end).unwrap_or_default();
                        assert_eq!(overwritten.to_vec(), expect, "seed {seed}");
                        check_invariants(&overwritten);
                    }
                    2 => {
                        let len = r.random_range(0..=model.len() + 10);
                        let tail = file.cut(len as u64);
                        let expect = model.get(len..).unwrap_or_default().to_vec();
                        model.truncate(len);
                        assert_eq!(tail.to_vec(), expect, "seed {seed}");
                        check_invariants(&tail);
                    }
                    _ => {
                        let from = r.random_range(0..=model.len());
                        let to = r.random_range(from..=model.len());
                        let part = file.range(from as u64, to as u64);
                        assert_eq!(part.to_vec(), model[from..to], "seed {seed}");
                        check_invariants(&part);
                    }
                }
                check_invariants(&file);
                assert_eq!(file.to_vec(), model, "seed {seed}");
            }
        }
    }

    #[test]
    fn many_extents_are_found_by_their_marks() {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        let mut file = File::default();
        let mut model: Vec<u8> = Vec::new();
        for round in 0..400 {
            // Mostly small appends (an extent each), then cuts, reads and flips.
            let data: Vec<u8> = (0..r.random_range(1..40)).map(|_| r.random()).collect();
            file.write(model.len() as u64, File::of(Blob::raw(data.clone())));
            model.extend_from_slice(&data);
            match round % 7 {
                0 => {
                    // Now and then far back, mostly the last few extents.
                    let back = if round % 70 == 0 { model.len() } else { 60 };
                    let len = r.random_range(model.len().saturating_sub(back)..=model.len());
                    let tail = file.cut(len as u64);
                    assert_eq!(tail.to_vec(), model[len..]);
                    model.truncate(len);
                }
                1 if !model.is_empty() => {
                    let pos = r.random_range(0..model.len());
                    file.flip(pos as u64, 4);
                    model[pos] ^= 4;
                }
                _ => {
                    let from = r.random_range(0..=model.len());
                    let to = r.random_range(from..=model.len());
                    assert_eq!(file.range(from as u64, to as u64).to_vec(), model[from..to]);
                }
            }
            check_invariants(&file);
            assert_eq!(file.to_vec(), model, "round {round}");
        }
        assert!(
            file.extents.len() > 4 * MARK_EVERY,
            "{}",
            file.extents.len()
        );
    }

    #[test]
    fn an_append_shares_the_blob_and_a_flip_replaces_only_its_extent() {
        let blob = Blob::raw(vec![5u8; 100]);
        let mut file = File::of(Blob::raw(b"head".to_vec()));
        file.write(4, File::of(blob.clone()));
        assert_eq!(file.extents.len(), 2);
        assert_eq!(file.stored_len(), 104);
        file.flip(50, 1);
        assert_eq!(
            blob.to_vec(),
            vec![5u8; 100],
            "the shared blob is unchanged"
        );
        let bytes = file.to_vec();
        assert_eq!(bytes[50], 4);
        assert_eq!(
            bytes.iter().filter(|&&b| b != 5).count(),
            5,
            "head + the flip"
        );
        check_invariants(&file);
    }
}
