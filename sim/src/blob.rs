//! `Blob`: immutable bytes shared by everything that holds them (a message
//! in flight, a log's batch, every disk that wrote them) and kept compactly
//! in memory. A blob holds its bytes as written, or zstd-compressed when
//! that saves a worthwhile share (runs of record values are mostly
//! padding); either way every reader sees exactly the bytes written.
//! Compression is a memory layout, never a behaviour: two blobs with the
//! same bytes are equal however they are stored.
//!
//! Compressing costs time at every write and read, and only pays off when
//! a run holds much data: a run that will not turns it off for its thread
//! with [`compact_blobs`] (a run never shares its blobs with another).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;

mod buf;

use buf::Buf;

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

/// zstd's level for blobs. Record batches' bytes (runs of ids, keys and
/// padding) take 0.09 of their size at level -1 (LZ4: 0.15, for about
/// half the time to compress and to read back); with the [`DICTIONARY`],
/// level 1 stores a tenth less than -1 in about the same time.
const ZSTD_LEVEL: i32 = 1;

thread_local! {
    /// This thread's zstd contexts, made once (each holds its tables).
    static ZSTD: RefCell<(zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)> =
        RefCell::new(zstd_contexts());
}

/// The zstd dictionary every blob is compressed with: 2 KiB trained
/// (`zstd --train --maxdict=2048`) on the records sections of 800 batches
/// of `bench_throughput` (seed 1, a partition's log 8 s in). A blob is a
/// frame of a few kilobytes, too small for zstd to pay for its own
/// entropy tables; the dictionary's fit Kafka records (varint headers,
/// `key-N` keys, ids and padding) and save about a sixth of a record
/// batch's stored bytes. It changes no byte any reader sees.
const DICTIONARY: &[u8] = include_bytes!("blob.dict");

fn zstd_contexts() -> (
    zstd::bulk::Compressor<'static>,
    zstd::bulk::Decompressor<'static>,
) {
    let mut compressor =
        zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, DICTIONARY).expect("a zstd context");
    // The blob keeps the length, and every frame is of the one dictionary:
    // a frame need not say either.
    compressor
        .include_contentsize(false)
        .expect("a zstd parameter");
    compressor.include_dictid(false).expect("a zstd parameter");
    let decompressor =
        zstd::bulk::Decompressor::with_dictionary(DICTIONARY).expect("a zstd context");
    (compressor, decompressor)
}

/// `bytes` as a zstd frame.
fn compress(bytes: &[u8]) -> Vec<u8> {
    ZSTD.with(|z| z.borrow_mut().0.compress(bytes))
        .expect("zstd compresses")
}

/// The `len` bytes a zstd frame holds.
fn decompress(frame: &[u8], len: usize) -> Vec<u8> {
    let bytes = ZSTD.with(|z| z.borrow_mut().1.decompress(frame, len));
    let bytes = bytes.expect("a blob decompresses");
    assert_eq!(bytes.len(), len, "a blob decompresses to its length");
    bytes
}

/// A [`Blob::start`] flag: a zstd frame at `stored[offset..]` (to its end)
/// of `len` bytes.
const FRAME: u32 = 1 << 31;

/// A [`Blob::start`] flag: `stored[..offset]` as written, then a zstd frame
/// at `stored[offset..]`, `len` bytes in all (see [`Blob::prefixed`]).
const JOINED: u32 = 1 << 30;

/// The offset bits of [`Blob::start`].
const OFFSET: u32 = JOINED - 1;

/// Immutable shared bytes, in 16 bytes (a file holds one per extent, and a
/// run tens of millions of extents): a shared buffer `stored`, a length, and
/// `start`: the offset in `stored` of bytes stored as written, or with
/// [`FRAME`] or [`JOINED`], where a zstd frame starts. A blob holds less
/// than 4 GiB, and starts within the first GiB of its buffer.
#[derive(Clone)]
pub struct Blob {
    stored: Buf,
    start: u32,
    len: u32,
}

/// A prefetch hint for the cache line at `at` (none off x86-64).
#[inline]
pub fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it reads nothing a program sees and
    // cannot fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// How a blob's bytes are stored (its `start`, decoded).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `stored[at..at + len]`.
    Raw(usize),
    /// A zstd frame at `stored[at..]`.
    Frame(usize),
    /// `stored[..at]`, then a zstd frame at `stored[at..]`.
    Joined(usize),
}

/// `len` as a blob length.
///
/// # Panics
/// At 4 GiB or more.
fn len32(len: usize) -> u32 {
    u32::try_from(len)
        .unwrap_or_else(|_| panic!("a blob of {len} bytes: blobs hold less than 4 GiB"))
}

/// `at` as the offset of a blob's bytes in its buffer.
///
/// # Panics
/// At 1 GiB or more.
fn offset32(at: usize) -> u32 {
    u32::try_from(at)
        .ok()
        .filter(|&a| a <= OFFSET)
        .unwrap_or_else(|| {
            panic!("a blob at byte {at} of its buffer: blobs start in its first GiB")
        })
}

impl Blob {
    /// The bytes, compressed in memory when that saves at least a fifth.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self::compressed(&bytes).unwrap_or_else(|| Self::raw(bytes))
    }

    /// [`Blob::new`] of a copy of `bytes`: copied once, into the shared
    /// buffer itself (no vector first).
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self::compressed(bytes).unwrap_or_else(|| Self::copy_of(bytes))
    }

    /// `bytes` compressed, when this thread compresses blobs and that
    /// saves at least a fifth.
    fn compressed(bytes: &[u8]) -> Option<Self> {
        if bytes.len() >= COMPRESS_FROM && COMPACT.with(Cell::get) {
            let block = compress(bytes);
            if block.len() * 5 <= bytes.len() * 4 {
                return Some(Blob {
                    stored: Buf::copy_of(&block),
                    start: FRAME,
                    len: len32(bytes.len()),
                });
            }
        }
        None
    }

    /// The bytes as they are, never compressed (small or short-lived data).
    pub fn raw(bytes: Vec<u8>) -> Self {
        let len = len32(bytes.len());
        Blob {
            stored: Buf::copy_of(&bytes),
            start: 0,
            len,
        }
    }

    /// A copy of `bytes`, never compressed, in one allocation (a batch
    /// header written beside its shared records).
    pub fn copy_of(bytes: &[u8]) -> Self {
        Blob {
            stored: Buf::copy_of(bytes),
            start: 0,
            len: len32(bytes.len()),
        }
    }

    /// An empty blob.
    pub fn empty() -> Self {
        Self::raw(Vec::new())
    }

    /// Its length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when it holds no byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn kind(&self) -> Kind {
        let at = (self.start & OFFSET) as usize;
        if self.start & FRAME != 0 {
            Kind::Frame(at)
        } else if self.start & JOINED != 0 {
            Kind::Joined(at)
        } else {
            Kind::Raw(at)
        }
    }

    /// Asks the CPU to bring the start of its bytes into cache: a hint
    /// for a loop over many blobs (each its own allocation) to issue
    /// before it reaches them. Changes nothing a program can observe.
    #[inline]
    pub fn prefetch(&self) {
        prefetch(
            self.stored
                .as_ptr()
                .wrapping_add((self.start & OFFSET) as usize),
        );
    }

    /// Its bytes (borrowed when stored as written).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self.kind() {
            Kind::Raw(at) => Cow::Borrowed(&self.stored[at..at + self.len()]),
            Kind::Frame(at) => Cow::Owned(decompress(&self.stored[at..], self.len())),
            Kind::Joined(at) => {
                let mut bytes = Vec::with_capacity(self.len());
                bytes.extend_from_slice(&self.stored[..at]);
                bytes.extend(decompress(&self.stored[at..], self.len() - at));
                Cow::Owned(bytes)
            }
        }
    }

    /// `prefix` then `body`'s bytes in one buffer: `prefix` as written and
    /// a compressed `body` as it is stored (its frame copied, not
    /// recompressed). Its slices `..prefix.len()` and `prefix.len()..`
    /// share that buffer, and a file appending both keeps one extent (see
    /// [`Blob::join`]): a batch's header and records, written by the leader
    /// and every follower.
    pub fn prefixed(prefix: &[u8], body: &Blob) -> Blob {
        let at = prefix.len();
        match body.kind() {
            Kind::Frame(frame) => Blob {
                stored: Buf::concat(prefix, &body.stored[frame..]),
                start: JOINED | offset32(at),
                len: len32(at + body.len()),
            },
            Kind::Raw(_) => Blob {
                stored: Buf::concat(prefix, &body.bytes()),
                start: 0,
                len: len32(at + body.len()),
            },
            Kind::Joined(_) => {
                let mut bytes = Vec::with_capacity(at + body.len());
                bytes.extend_from_slice(prefix);
                bytes.extend_from_slice(&body.bytes());
                Blob::new(bytes)
            }
        }
    }

    /// [`Blob::prefixed`], with its buffer vouched for by the caller when
    /// the bytes are stored as written: its bytes, whole, are what the
    /// caller's own check of them would accept (a unit of data it built,
    /// or read and checked). See [`Blob::vouched_whole`].
    pub fn prefixed_vouched(prefix: &[u8], body: &Blob) -> Blob {
        let mut blob = Self::prefixed(prefix, body);
        if blob.whole_as_written() {
            blob.stored.vouch();
        }
        blob
    }

    /// Whether this blob is the whole of a buffer its maker vouched for
    /// ([`Blob::prefixed_vouched`]), stored as written: a slice of it, or
    /// a copy (a corrupted extent is a copy), is not.
    pub fn vouched_whole(&self) -> bool {
        self.whole_as_written() && self.stored.vouched()
    }

    /// Whether this blob is all of its buffer, stored as written.
    fn whole_as_written(&self) -> bool {
        matches!(self.kind(), Kind::Raw(0)) && self.len() == self.stored.len()
    }

    /// `self` then `next` as one blob, without a copy, when they are
    /// adjacent parts of one buffer (the two slices of a
    /// [`Blob::prefixed`], or of a buffer stored as written).
    pub fn join(&self, next: &Blob) -> Option<Blob> {
        if !self.stored.same(&next.stored) {
            return None;
        }
        let start = match (self.kind(), next.kind()) {
            (Kind::Raw(at), Kind::Raw(n)) if at + self.len() == n => self.start,
            (Kind::Raw(0), Kind::Frame(at)) if self.len() == at => JOINED | offset32(at),
            _ => return None,
        };
        Some(Blob {
            stored: self.stored.clone(),
            start,
            len: len32(self.len() + next.len()),
        })
    }

    /// The `len` bytes its buffer holds before it, shared, when it starts
    /// exactly `len` bytes in (a batch's header before its records, see
    /// [`Blob::prefixed`]). Bytes before a blob are always stored as
    /// written.
    pub fn preceding(&self, len: usize) -> Option<Blob> {
        let (Kind::Raw(at) | Kind::Frame(at)) = self.kind() else {
            return None;
        };
        (at == len).then(|| Blob {
            stored: self.stored.clone(),
            start: 0,
            len: len32(len),
        })
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
        let start = match self.kind() {
            Kind::Raw(at) => offset32(at + range.start),
            // The prefix of a joined blob is stored as written.
            Kind::Joined(at) if range.end <= at => offset32(range.start),
            Kind::Joined(at) if range.start == at && range.end == self.len() => {
                FRAME | offset32(at)
            }
            _ => return Blob::new(self.bytes()[range].to_vec()),
        };
        Blob {
            stored: self.stored.clone(),
            start,
            len: len32(range.len()),
        }
    }

    /// Bytes of memory it holds (its share of a raw buffer, or its block).
    pub fn stored_len(&self) -> usize {
        match self.kind() {
            Kind::Raw(_) => self.len(),
            Kind::Frame(at) => self.stored.len() - at,
            Kind::Joined(_) => self.stored.len(),
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
        Blob::from_slice(bytes)
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        let shared =
            self.stored.same(&other.stored) && self.start == other.start && self.len == other.len;
        shared || (self.len == other.len && self.bytes() == other.bytes())
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
        match self.kind() {
            Kind::Raw(_) => write!(f, "Blob({} bytes)", self.len),
            _ => write!(f, "Blob({} bytes, {} stored)", self.len, self.stored_len()),
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

    #[test]
    fn only_the_whole_of_a_vouched_buffer_stored_as_written_is_vouched() {
        let body = Blob::raw(padded(300));
        let whole = Blob::prefixed_vouched(b"header", &body);
        assert!(whole.vouched_whole());
        assert!(whole.clone().vouched_whole(), "a clone shares the buffer");
        let (h, b) = (whole.slice(0..6), whole.slice(6..whole.len()));
        assert!(!h.vouched_whole() && !b.vouched_whole(), "a part is not");
        assert!(h.join(&b).expect("rejoined").vouched_whole());
        assert!(
            !whole.slice(0..whole.len() - 1).vouched_whole(),
            "a torn prefix is not"
        );
        assert!(
            !Blob::copy_of(&whole.to_vec()).vouched_whole(),
            "a copy is not"
        );
        assert!(!Blob::prefixed(b"header", &body).vouched_whole());
        assert_eq!(whole.to_vec(), Blob::prefixed(b"header", &body).to_vec());
        // A compressed body is not stored as written: nothing is vouched.
        let frame = Blob::new(padded(10_000));
        assert!(!Blob::prefixed_vouched(b"header", &frame).vouched_whole());
    }

    #[test]
    fn a_prefixed_blob_is_one_buffer_whose_two_parts_join_back() {
        let head = b"header";
        for body in [Blob::new(padded(10_000)), Blob::raw(padded(300))] {
            let whole = Blob::prefixed(head, &body);
            let mut bytes = head.to_vec();
            bytes.extend_from_slice(&body.bytes());
            assert_eq!(whole.to_vec(), bytes);
            let (h, b) = (whole.slice(0..6), whole.slice(6..whole.len()));
            assert_eq!((h.to_vec(), b.clone()), (head.to_vec(), body.clone()));
            assert_eq!(h.stored_len() + b.stored_len(), whole.stored_len());
            let joined = h.join(&b).expect("adjacent parts of one buffer");
            assert!(joined.stored.same(&whole.stored));
            assert_eq!(joined.to_vec(), bytes);
            assert_eq!(joined.stored_len(), whole.stored_len());
            assert_eq!(whole.slice(2..4).to_vec(), b"ad");
            assert_eq!(whole.slice(3..300).to_vec(), bytes[3..300]);
            assert!(b.join(&h).is_none(), "not in this order");
            assert!(h.join(&body).is_none(), "not of one buffer");
        }
    }

    #[test]
    fn a_blob_takes_16_bytes() {
        assert_eq!(std::mem::size_of::<Blob>(), 16);
    }
}
