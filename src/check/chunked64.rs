//! [`Chunked64`]: a vector of `u64` facts (record ids, by offset) that
//! grows and forgets by chunks of [`CHUNK_LEN`] elements as
//! [`Chunked`](super::chunked::Chunked) does, in 3 bytes per element
//! rather than 8. A record id is its producer and send sequence
//! (`producer << 40 | seq`), and a stretch of [`CHUNK_LEN`] offsets of one
//! partition holds the records a few producers sent in a few seconds: all
//! but the low 16 bits of its ids take a handful of values. Each element
//! keeps its low 16 bits and a 1-byte index into its chunk's table of the
//! high parts met there; past [`MAX_HIGHS`] distinct high parts in a chunk
//! an element is kept whole, on the side.

use std::collections::BTreeMap;

use super::chunked::{boxed_array, CHUNK_LEN};

/// Bits of an element kept in its low part.
const LOW_BITS: u32 = 16;

/// Distinct high parts kept in a chunk's table (index [`WIDE`] marks an
/// element kept whole).
const MAX_HIGHS: usize = u8::MAX as usize;

/// The high-part index of an element kept whole in `wide`.
const WIDE: u8 = u8::MAX;

/// One chunk of [`CHUNK_LEN`] elements, made at its first write. The
/// arrays are of the chunk's exact length, so an index within the chunk
/// needs no bounds check.
#[derive(Clone, Debug)]
struct Chunk {
    /// The low 16 bits of each element.
    low: Box<[u16; CHUNK_LEN]>,
    /// Each element's index into `highs` (or [`WIDE`]).
    high: Box<[u8; CHUNK_LEN]>,
    /// The high parts met in the chunk, by index: `highs[0]` is `fill`'s
    /// (what a fresh chunk's elements hold), then one per distinct high
    /// part written, `n_highs` in all.
    highs: Box<[u64; 256]>,
    n_highs: usize,
    /// The index last found or added: a run of writes meets one high
    /// part after another.
    last: u8,
}

impl Chunk {
    /// A chunk whose elements all read `fill`.
    fn new(fill: u64) -> Self {
        let mut highs = boxed_array(0);
        highs[0] = fill >> LOW_BITS;
        Self {
            low: boxed_array(fill as u16),
            high: boxed_array(0),
            highs,
            n_highs: 1,
            last: 0,
        }
    }

    /// The index of high part `part` in the table, added if new ([`WIDE`]
    /// when the table is full).
    #[inline]
    fn high_index(&mut self, part: u64) -> u8 {
        if self.highs[usize::from(self.last)] == part {
            return self.last;
        }
        let high = match self.highs[..self.n_highs].iter().position(|&h| h == part) {
            Some(h) => h as u8,
            None if self.n_highs < MAX_HIGHS => {
                self.highs[self.n_highs] = part;
                self.n_highs += 1;
                (self.n_highs - 1) as u8
            }
            None => return WIDE,
        };
        self.last = high;
        high
    }

    /// Element `j` of the chunk, if it is not kept whole.
    #[inline]
    fn narrow(&self, j: usize) -> Option<u64> {
        let high = self.high[j];
        (high != WIDE).then(|| self.highs[usize::from(high)] << LOW_BITS | u64::from(self.low[j]))
    }
}

/// A dense vector of `u64` that grows (and forgets) by chunks; unset and
/// forgotten elements read as `fill`.
#[derive(Clone, Debug)]
pub struct Chunked64 {
    /// By chunk number: None until written, and once forgotten.
    chunks: Vec<Option<Chunk>>,
    /// Elements whose high part found no room in their chunk's table.
    wide: BTreeMap<usize, u64>,
    fill: u64,
    /// One past the highest index set.
    len: usize,
}

impl Chunked64 {
    /// An empty vector whose unset elements are `fill`.
    pub fn new(fill: u64) -> Self {
        Self {
            chunks: Vec::new(),
            wide: BTreeMap::new(),
            fill,
            len: 0,
        }
    }

    /// One past the highest index set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was ever set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `i`, or None past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        (i < self.len).then(|| self.at(i))
    }

    /// The element at `i` (`fill` past the end).
    #[inline]
    fn at(&self, i: usize) -> u64 {
        match self.chunks.get(i / CHUNK_LEN) {
            Some(Some(chunk)) => chunk
                .narrow(i % CHUNK_LEN)
                .unwrap_or_else(|| self.wide_at(i)),
            _ => self.fill,
        }
    }

    /// An element kept whole (rare: past [`MAX_HIGHS`] high parts in its chunk).
    #[cold]
    #[inline(never)]
    fn wide_at(&self, i: usize) -> u64 {
        self.wide[&i]
    }

    /// Sets the element at `i` to `value`, growing the vector (with
    /// `fill`) to hold it.
    #[inline(always)]
    pub fn set(&mut self, i: usize, value: u64) {
        let c = i / CHUNK_LEN;
        if !matches!(self.chunks.get(c), Some(Some(_))) {
            self.make_chunk(c);
        }
        let Some(Some(chunk)) = self.chunks.get_mut(c) else {
            unreachable!("chunk {c} made")
        };
        let high = chunk.high_index(value >> LOW_BITS);
        let j = i % CHUNK_LEN;
        chunk.low[j] = value as u16;
        let was = std::mem::replace(&mut chunk.high[j], high);
        self.len = self.len.max(i + 1);
        if high == WIDE || was == WIDE {
            self.set_wide(i, value, high);
        }
    }

    /// Makes chunk `c` (and grows the list of chunks to it), once per
    /// [`CHUNK_LEN`] elements: kept out of [`Chunked64::set`].
    #[cold]
    #[inline(never)]
    fn make_chunk(&mut self, c: usize) {
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        self.chunks[c] = Some(Chunk::new(self.fill));
    }

    /// Keeps `wide` in step with element `i` (rare).
    #[cold]
    #[inline(never)]
    fn set_wide(&mut self, i: usize, value: u64, high: u8) {
        if high == WIDE {
            self.wide.insert(i, value);
        } else {
            self.wide.remove(&i);
        }
    }

    /// The elements `from..to` (clamped to the length), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = u64> + '_ {
        let to = to.min(self.len);
        (from.min(to)..to).map(|i| self.at(i))
    }

    /// The first `k` at which the element at `from + k` (`fill` past the
    /// end) is not `expected[k]`, if any: a comparison of a run of
    /// elements a chunk at a time.
    pub fn first_difference(&self, from: usize, expected: &[u64]) -> Option<usize> {
        let mut k = 0;
        while k < expected.len() {
            let i = from + k;
            let j = i % CHUNK_LEN;
            let n = (CHUNK_LEN - j).min(expected.len() - k);
            let here = &expected[k..k + n];
            let base = i - j;
            let found = match self.chunks.get(i / CHUNK_LEN) {
                Some(Some(chunk)) => here.iter().zip(j..).position(|(&e, j)| {
                    chunk.narrow(j).unwrap_or_else(|| self.wide_at(base + j)) != e
                }),
                _ => here.iter().position(|&e| e != self.fill),
            };
            if let Some(d) = found {
                return Some(k + d);
            }
            k += n;
        }
        None
    }

    /// Forgets every whole chunk below element `i`: they read as `fill`
    /// from now on and take no memory.
    pub fn forget_below(&mut self, i: usize) {
        let whole = i / CHUNK_LEN;
        for chunk in self.chunks.iter_mut().take(whole) {
            *chunk = None;
        }
        self.wide = self.wide.split_off(&(whole * CHUNK_LEN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets element `i` of both `c` and the reference `v`.
    fn set(c: &mut Chunked64, v: &mut Vec<u64>, i: usize, x: u64) {
        c.set(i, x);
        if v.len() <= i {
            v.resize(i + 1, u64::MAX);
        }
        v[i] = x;
    }

    #[test]
    fn behaves_like_a_vec_of_u64_even_with_many_high_halves() {
        let mut c = Chunked64::new(u64::MAX);
        let mut v = Vec::new();
        // 300 producers: more high parts than a chunk's table holds.
        for i in 0..3 * CHUNK_LEN / 2 {
            let producer = (i * 7 % 300) as u64;
            set(&mut c, &mut v, i, producer << 40 | i as u64);
        }
        // Overwrites: a wide element made narrow, a narrow one wide, fill.
        let wide_at = *c.wide.keys().next().expect("an element kept whole");
        set(&mut c, &mut v, wide_at, 3);
        set(&mut c, &mut v, 0, 299 << 40);
        set(&mut c, &mut v, 2 * CHUNK_LEN + 1, u64::MAX);
        assert_eq!(c.len(), v.len());
        assert!(c.range(0, usize::MAX).eq(v.iter().copied()));
        assert!(c
            .range(5, CHUNK_LEN + 9)
            .eq(v[5..CHUNK_LEN + 9].iter().copied()));
        for i in [0, wide_at, CHUNK_LEN, 2 * CHUNK_LEN, 2 * CHUNK_LEN + 1] {
            assert_eq!(c.get(i), Some(v[i]), "element {i}");
        }
        assert_eq!(c.get(v.len()), None);
        // Compared a run at a time, from anywhere, past the end too.
        assert_eq!(c.first_difference(0, &v), None);
        assert_eq!(c.first_difference(5, &v[5..CHUNK_LEN + 9]), None);
        let mut longer = v[3..].to_vec();
        longer.extend([u64::MAX; 3]);
        assert_eq!(c.first_difference(3, &longer), None, "fill past the end");
        longer.push(7);
        assert_eq!(c.first_difference(3, &longer), Some(longer.len() - 1));
        let wide = *c.wide.keys().next().expect("an element kept whole");
        let mut changed = v.clone();
        changed[wide] ^= 1 << 50;
        assert_eq!(c.first_difference(0, &changed), Some(wide));
        let later = wide + CHUNK_LEN / 2;
        changed[later] += 1;
        let from = wide + 1;
        assert_eq!(
            c.first_difference(from, &changed[from..]),
            Some(later - from)
        );
    }

    #[test]
    fn forgotten_chunks_read_as_fill_and_drop_their_wide_elements() {
        let mut c = Chunked64::new(u64::MAX);
        for i in 0..2 * CHUNK_LEN {
            c.set(i, (i as u64 % 400) << 32 | 5);
        }
        assert!(!c.wide.is_empty());
        c.forget_below(CHUNK_LEN + 3);
        assert_eq!(c.get(CHUNK_LEN - 1), Some(u64::MAX));
        let last = 2 * CHUNK_LEN - 1;
        assert_eq!(c.get(last), Some((last as u64 % 400) << 32 | 5));
        assert!(c.wide.keys().all(|&i| i >= CHUNK_LEN));
        assert_eq!(c.len(), 2 * CHUNK_LEN);
    }
}
