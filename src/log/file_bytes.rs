//! `FileBytes`: a file's contents as recovery reads them, kept as the
//! blobs the disk holds (one per write, as a rule one per batch) so that
//! a recovered segment shares its batches' records with the disk instead
//! of copying them.

use std::borrow::Cow;
use std::ops::Range;

use sim::Blob;

/// A file's bytes: its extents in order, which tile `0..len`.
#[derive(Clone, Debug, Default)]
pub struct FileBytes {
    extents: Vec<Blob>,
    /// Where each extent starts.
    starts: Vec<usize>,
    len: usize,
}

impl FileBytes {
    /// The file made of `extents`, in order (empty ones are dropped).
    pub fn new(extents: Vec<Blob>) -> Self {
        let mut file = Self::default();
        for extent in extents.into_iter().filter(|e| !e.is_empty()) {
            file.starts.push(file.len);
            file.len += extent.len();
            file.extents.push(extent);
        }
        file
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its bytes: borrowed when one extent stored as written holds them.
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self.extents.as_slice() {
            [] => Cow::Borrowed(&[]),
            [only] => only.bytes(),
            _ => Cow::Owned(self.copy(0..self.len)),
        }
    }

    /// A copy of the bytes in `range` (within the file).
    pub fn copy(&self, range: Range<usize>) -> Vec<u8> {
        let mut out = Vec::with_capacity(range.len());
        if range.is_empty() {
            return out;
        }
        let mut i = self.extent_at(range.start);
        while out.len() < range.len() {
            let extent = &self.extents[i];
            let from = (range.start + out.len()) - self.starts[i];
            let to = extent.len().min(from + range.len() - out.len());
            out.extend_from_slice(&extent.bytes()[from..to]);
            i += 1;
        }
        out
    }

    /// The extent that holds all of `range` (non-empty, within the file),
    /// with where `range` starts in it; None when `range` spans extents.
    pub fn within(&self, range: Range<usize>) -> Option<(&Blob, usize)> {
        let i = self.extent_at(range.start);
        let at = range.start - self.starts[i];
        let extent = &self.extents[i];
        (at + range.len() <= extent.len()).then_some((extent, at))
    }

    /// Index of the extent holding byte `offset` (< len).
    fn extent_at(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(vec![Blob::raw(bytes)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(parts: &[&[u8]]) -> FileBytes {
        FileBytes::new(parts.iter().map(|p| Blob::copy_of(p)).collect())
    }

    #[test]
    fn ranges_are_found_in_one_extent_or_copied_across_extents() {
        let f = file(&[b"abc", b"", b"defg", b"h"]);
        assert_eq!(f.len(), 8);
        assert_eq!(&*f.bytes(), b"abcdefgh");
        assert_eq!(f.copy(2..6), b"cdef".to_vec());
        assert_eq!(f.copy(0..8), b"abcdefgh".to_vec());
        assert_eq!(f.copy(7..8), b"h".to_vec());
        let (blob, at) = f.within(4..7).expect("in the second extent");
        assert_eq!((&*blob.bytes(), at), (&b"defg"[..], 1));
        assert!(f.within(2..4).is_none(), "spans two extents");
        assert!(f.within(3..8).is_none(), "spans two extents");
        assert_eq!(f.within(7..8).map(|(b, at)| (b.len(), at)), Some((1, 0)));
        assert!(f.copy(8..8).is_empty());
        let empty = FileBytes::new(Vec::new());
        assert!(empty.is_empty());
        assert!(empty.copy(0..0).is_empty());
        assert_eq!(&*empty.bytes(), b"");
        assert_eq!(&*FileBytes::from(b"xy".to_vec()).bytes(), b"xy");
    }
}
