//! `Blob`: immutable bytes shared by everything that holds them (a message
//! in flight, a log's batch, every disk that wrote them) and kept compactly
//! in memory. A blob holds its bytes as written, or LZ4-compressed when
//! that saves a worthwhile share (runs of record values are mostly
//! padding); either way every reader sees exactly the bytes written.
//! Compression is a memory layout, never a behaviour: two blobs with the
//! same bytes are equal however they are stored.
//!
//! Compressing costs time at every write and read, and only pays off when
//! a run holds much data: a run that will not turns it off for its thread
//! with [`compact_blobs`] (a run never shares its blobs with another).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

/// Blobs shorter than this are never compressed.
const COMPRESS_FROM: usize = 512;

thread_local! {
    /// Whether `Blob::new` on this thread may compress.
    static COMPACT: Cell<bool> = const { Cell::new(true) };
}

/// Sets whether [`Blob::new`] on this thread may compress (the default),
/// returning the previous setting. Changes no byte any reader sees.
pub fn compact_blobs(compact: bool) -> bool {
    COMPACT.with(|c| c.replace(compact))
}

#[derive(Clone)]
enum Repr {
    /// `bytes[range]`, shared.
    Raw {
        bytes: Arc<[u8]>,
        range: Range<usize>,
    },
    /// LZ4 block of `len` bytes.
    Lz4 { block: Arc<[u8]>, len: usize },
}

/// Immutable shared bytes.
#[derive(Clone)]
pub struct Blob(Repr);

impl Blob {
    /// The bytes, compressed in memory when that saves at least a fifth.
    pub fn new(bytes: Vec<u8>) -> Self {
        if bytes.len() >= COMPRESS_FROM && COMPACT.with(Cell::get) {
            let block = lz4_flex::block::compress(&bytes);
            if block.len() * 5 <= bytes.len() * 4 {
                return Blob(Repr::Lz4 {
                    block: block.into(),
                    len: bytes.len(),
                });
            }
        }
        Self::raw(bytes)
    }

    /// The bytes as they are, never compressed (small or short-lived data).
    pub fn raw(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        Blob(Repr::Raw {
            bytes: bytes.into(),
            range: 0..len,
        })
    }

    /// A copy of `bytes`, never compressed, in one allocation (a batch
    /// header written beside its shared records).
    pub fn copy_of(bytes: &[u8]) -> Self {
        Blob(Repr::Raw {
            bytes: Arc::from(bytes),
            range: 0..bytes.len(),
        })
    }

    /// An empty blob.
    pub fn empty() -> Self {
        Self::raw(Vec::new())
    }

    /// Its length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Raw { range, .. } => range.len(),
            Repr::Lz4 { len, .. } => *len,
        }
    }

    /// True when it holds no byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its bytes (borrowed when stored as written).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match &self.0 {
            Repr::Raw { bytes, range } => Cow::Borrowed(&bytes[range.clone()]),
            Repr::Lz4 { block, len } => {
                Cow::Owned(lz4_flex::block::decompress(block, *len).expect("a blob decompresses"))
            }
        }
    }

    /// A copy of its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().into_owned()
    }

    /// The bytes in `range` (shared, not copied, when stored as written).
    ///
    /// # Panics
    /// When `range` is not within the blob.
    pub fn slice(&self, range: Range<usize>) -> Blob {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "slice {range:?} of a blob of {} bytes",
            self.len()
        );
        match &self.0 {
            Repr::Raw { bytes, range: own } => Blob(Repr::Raw {
                bytes: Arc::clone(bytes),
                range: own.start + range.start..own.start + range.end,
            }),
            Repr::Lz4 { .. } => Blob::new(self.bytes()[range].to_vec()),
        }
    }

    /// Bytes of memory it holds (its share of a raw buffer, or its block).
    pub fn stored_len(&self) -> usize {
        match &self.0 {
            Repr::Raw { range, .. } => range.len(),
            Repr::Lz4 { block, .. } => block.len(),
        }
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob::new(bytes)
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Blob::new(bytes.to_vec())
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        let shared = match (&self.0, &other.0) {
            (
                Repr::Raw {
                    bytes: a,
                    range: ra,
                },
                Repr::Raw {
                    bytes: b,
                    range: rb,
                },
            ) => Arc::ptr_eq(a, b) && ra == rb,
            (Repr::Lz4 { block: a, .. }, Repr::Lz4 { block: b, .. }) => Arc::ptr_eq(a, b),
            _ => false,
        };
        shared || (self.len() == other.len() && self.bytes() == other.bytes())
    }
}

impl Eq for Blob {}

impl Hash for Blob {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Raw { .. } => write!(f, "Blob({} bytes)", self.len()),
            Repr::Lz4 { block, .. } => {
                write!(f, "Blob({} bytes, {} stored)", self.len(), block.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| if i % 100 < 8 { (i / 100) as u8 } else { 0 })
            .collect()
    }

    #[test]
    fn compressible_bytes_are_stored_small_and_read_back_exactly() {
        let bytes = padded(10_000);
        let blob = Blob::new(bytes.clone());
        assert_eq!(blob.len(), 10_000);
        assert!(blob.stored_len() < 2_000, "{blob:?}");
        assert_eq!(blob.to_vec(), bytes);
        assert_eq!(blob.slice(150..4321).to_vec(), bytes[150..4321]);
        assert_eq!(blob, Blob::raw(bytes), "equal by content");
    }

    #[test]
    fn a_thread_that_turned_compaction_off_stores_blobs_as_written() {
        let bytes = padded(10_000);
        let was = compact_blobs(false);
        let blob = Blob::new(bytes.clone());
        compact_blobs(was);
        assert!(was, "compaction is on by default");
        assert_eq!(blob.stored_len(), 10_000);
        assert_eq!(blob, Blob::new(bytes), "equal to its compressed twin");
    }

    #[test]
    fn small_or_incompressible_bytes_stay_as_written_and_slice_without_copy() {
        let small = Blob::new(padded(100));
        assert_eq!(small.stored_len(), 100);
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let noise: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
        let blob = Blob::new(noise.clone());
        assert_eq!(blob.stored_len(), noise.len());
        let part = blob.slice(10..20);
        assert_eq!(part.len(), 10);
        assert_eq!(part.bytes().as_ref(), &noise[10..20]);
        assert!(matches!(part.bytes(), Cow::Borrowed(_)));
        assert!(Blob::empty().is_empty());
    }
}
