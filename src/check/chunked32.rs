//! [`Chunked32`]: a [`Chunked`](super::chunked::Chunked) vector of `u32`
//! facts (0: unset) in 2 bytes per element rather than 4, for facts that
//! are handed out in increasing order as a run goes (the rank of a
//! record's first consumption, the index of its first processing). The
//! records of a small block of send sequences are consumed and processed
//! at about the same moment, so their values lie close together: each
//! element keeps its distance from its block's base (the first value
//! written in the block) in 2 bytes; a value too far from it, or below
//! it, is kept whole, on the side.

use std::collections::BTreeMap;

use super::chunked::{boxed_array, CHUNK_LEN};

/// Elements per block (one base each).
const BLOCK: usize = 64;

/// A low half telling that the element is kept whole in `wide`.
const ESCAPE: u16 = u16::MAX;

/// The largest distance from a block's base kept in 2 bytes (stored plus
/// 1: 0 is an unset element).
const MAX_DELTA: u32 = ESCAPE as u32 - 2;

/// A block whose base is not set yet.
const NO_BASE: u32 = u32::MAX;

/// Blocks per chunk.
const BLOCKS: usize = CHUNK_LEN / BLOCK;

/// One chunk of [`CHUNK_LEN`] elements, made at its first write. The
/// arrays are of the chunk's exact length, so an index within the chunk
/// needs no bounds check.
#[derive(Clone, Debug)]
struct Chunk {
    /// 0: unset; [`ESCAPE`]: kept in `wide`; else the distance from the
    /// block's base, plus 1.
    low: Box<[u16; CHUNK_LEN]>,
    /// Per block: its base, or [`NO_BASE`] (never a base itself: a value
    /// of `u32::MAX` is kept whole).
    base: Box<[u32; BLOCKS]>,
    /// Elements kept whole, by index in the chunk.
    wide: BTreeMap<u16, u32>,
}

impl Chunk {
    /// A chunk of unset elements.
    fn fresh() -> Self {
        Self {
            low: boxed_array(0),
            base: boxed_array(NO_BASE),
            wide: BTreeMap::new(),
        }
    }

    #[inline]
    fn get(&self, j: usize) -> u32 {
        match self.low[j] {
            0 => 0,
            ESCAPE => self.wide_at(j),
            d => self.base[j / BLOCK] + u32::from(d) - 1,
        }
    }

    /// An element kept whole (rare: too far from its block's base).
    #[cold]
    #[inline(never)]
    fn wide_at(&self, j: usize) -> u32 {
        self.wide[&(j as u16)]
    }

    #[inline(always)]
    fn set(&mut self, j: usize, value: u32) {
        if self.low[j] == ESCAPE {
            self.wide.remove(&(j as u16));
        }
        if value == 0 {
            self.low[j] = 0;
            return;
        }
        let base = &mut self.base[j / BLOCK];
        if *base == NO_BASE && value != NO_BASE {
            *base = value;
        }
        let delta = value.checked_sub(*base).filter(|_| *base != NO_BASE);
        match delta.filter(|&d| d <= MAX_DELTA) {
            Some(d) => self.low[j] = d as u16 + 1,
            None => self.set_wide(j, value),
        }
    }

    /// Keeps element `j` whole (rare).
    #[cold]
    #[inline(never)]
    fn set_wide(&mut self, j: usize, value: u32) {
        self.low[j] = ESCAPE;
        self.wide.insert(j as u16, value);
    }
}

/// A dense vector of `u32` that grows (and forgets) by chunks as
/// [`Chunked`](super::chunked::Chunked) does; unset and forgotten elements
/// read as 0.
#[derive(Clone, Debug, Default)]
pub struct Chunked32 {
    /// By chunk number: None until written, and once forgotten.
    chunks: Vec<Option<Chunk>>,
    len: usize,
}

impl Chunked32 {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// One past the highest index set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was ever set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `i` (0 below `len` when never set or forgotten), or
    /// None past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u32> {
        (i < self.len).then(|| self.at(i))
    }

    #[inline]
    fn at(&self, i: usize) -> u32 {
        match &self.chunks[i / CHUNK_LEN] {
            Some(chunk) => chunk.get(i % CHUNK_LEN),
            None => 0,
        }
    }

    /// The chunk holding element `i`, made if need be, the vector grown
    /// to hold `i`.
    #[inline]
    fn chunk_of(&mut self, i: usize) -> &mut Chunk {
        let c = i / CHUNK_LEN;
        if !matches!(self.chunks.get(c), Some(Some(_))) {
            self.make_chunk(c);
        }
        self.len = self.len.max(i + 1);
        let Some(Some(chunk)) = self.chunks.get_mut(c) else {
            unreachable!("chunk {c} made")
        };
        chunk
    }

    /// Makes chunk `c` (and grows the list of chunks to it), once per
    /// [`CHUNK_LEN`] elements: kept out of the hot paths.
    #[cold]
    #[inline(never)]
    fn make_chunk(&mut self, c: usize) {
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        self.chunks[c] = Some(Chunk::fresh());
    }

    /// Sets the element at `i`, growing the vector (with 0) to hold it (a
    /// forgotten chunk written again comes back, filled with 0).
    pub fn set(&mut self, i: usize, value: u32) {
        self.chunk_of(i).set(i % CHUNK_LEN, value);
    }

    /// The element at `i`; when it is unset (0), sets it to `value()` (a
    /// value above 0) first, and returns 0: [`Chunked32::get`] then
    /// [`Chunked32::set`] with one lookup of the chunk.
    #[inline]
    pub fn claim_with(&mut self, i: usize, value: impl FnOnce() -> u32) -> u32 {
        let chunk = self.chunk_of(i);
        let j = i % CHUNK_LEN;
        match chunk.get(j) {
            0 => {
                chunk.set(j, value());
                0
            }
            was => was,
        }
    }

    /// The elements `from..to` (clamped to the length), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = u32> + '_ {
        let to = to.min(self.len);
        (from.min(to)..to).map(|i| self.at(i))
    }

    /// Forgets chunk number `chunk` (elements `chunk * CHUNK_LEN` on): they
    /// read as 0 from now on and take no memory.
    pub fn forget_chunk(&mut self, chunk: usize) {
        if let Some(c) = self.chunks.get_mut(chunk) {
            *c = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_of_u32_whatever_the_values() {
        let mut c = Chunked32::new();
        let mut v: Vec<u32> = Vec::new();
        let mut set = |c: &mut Chunked32, i: usize, x: u32| {
            c.set(i, x);
            if v.len() <= i {
                v.resize(i + 1, 0);
            }
            v[i] = x;
        };
        // Increasing values, close within a block, then far ones, smaller
        // ones, the largest, overwrites and unsets.
        for i in 0..3 * CHUNK_LEN / 2 {
            set(&mut c, i, 1000 + (i as u32) / 3);
        }
        set(&mut c, 7, 5);
        set(&mut c, 8, 1000 + 2 + MAX_DELTA + 1);
        set(&mut c, 9, u32::MAX);
        set(&mut c, 10, 1 << 31 | 1003);
        set(&mut c, 7, 0);
        set(&mut c, 8, 1002);
        set(&mut c, 2 * CHUNK_LEN + 5, u32::MAX);
        set(&mut c, 2 * CHUNK_LEN + 6, 3);
        assert_eq!(c.len(), v.len());
        assert!(c.range(0, usize::MAX).eq(v.iter().copied()));
        assert!(c
            .range(5, CHUNK_LEN + 9)
            .eq(v[5..CHUNK_LEN + 9].iter().copied()));
        assert_eq!(c.get(v.len()), None);
        assert_eq!(c.get(CHUNK_LEN * 2), Some(0), "never set: 0");
        assert_eq!(
            c.chunks[0].as_ref().map(|c| c.wide.len()),
            Some(2),
            "only the far ones kept whole"
        );
    }

    #[test]
    fn forgotten_chunks_read_as_0_and_come_back_when_written() {
        let mut c = Chunked32::new();
        for i in 0..2 * CHUNK_LEN {
            c.set(i, 1 + i as u32);
        }
        c.set(5, u32::MAX);
        c.forget_chunk(0);
        assert_eq!(c.get(5), Some(0));
        assert_eq!(c.get(CHUNK_LEN), Some(1 + CHUNK_LEN as u32));
        assert_eq!(c.len(), 2 * CHUNK_LEN);
        c.set(6, 9);
        assert_eq!((c.get(5), c.get(6)), (Some(0), Some(9)));
    }

    #[test]
    fn a_claim_sets_only_what_is_unset() {
        let mut c = Chunked32::new();
        assert_eq!(c.claim_with(CHUNK_LEN + 3, || 7), 0);
        assert_eq!(c.claim_with(CHUNK_LEN + 3, || unreachable!()), 7);
        assert_eq!(c.claim_with(2, || u32::MAX), 0, "kept whole");
        assert_eq!(c.claim_with(2, || unreachable!()), u32::MAX);
        assert_eq!((c.len(), c.get(3)), (CHUNK_LEN + 4, Some(0)));
    }
}
