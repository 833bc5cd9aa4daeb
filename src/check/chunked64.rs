//! [`Chunked64`]: a [`Chunked`] vector of `u64` facts (record ids, by
//! offset) in 3 bytes per element rather than 8. A record id is its
//! producer and send sequence (`producer << 40 | seq`), and a stretch of
//! [`CHUNK_LEN`] offsets of one partition holds the records a few
//! producers sent in a few seconds: all but the low 16 bits of its ids
//! take a handful of values. Each element keeps its low 16 bits and a
//! 1-byte index into its chunk's table of the high parts met there; past
//! [`MAX_HIGHS`] distinct high parts in a chunk an element is kept whole,
//! on the side.

use std::collections::BTreeMap;

use super::chunked::{Chunked, CHUNK_LEN};

/// Bits of an element kept in its low part.
const LOW_BITS: u32 = 16;

/// Distinct high parts kept in a chunk's table (index [`WIDE`] marks an
/// element kept whole).
const MAX_HIGHS: usize = u8::MAX as usize;

/// The high-part index of an element kept whole in `wide`.
const WIDE: u8 = u8::MAX;

/// A dense vector of `u64` that grows (and forgets) by chunks as
/// [`Chunked`] does; unset and forgotten elements read as `fill`.
#[derive(Clone, Debug)]
pub struct Chunked64 {
    low: Chunked<u16>,
    /// Index into the chunk's `highs` (or [`WIDE`]); 0 is `fill`'s high part.
    high: Chunked<u8>,
    /// Per chunk: the high parts met there (empty: none yet, or forgotten;
    /// reads as `[fill's]`).
    highs: Vec<Vec<u64>>,
    /// Elements whose high part found no room in their chunk's table.
    wide: BTreeMap<usize, u64>,
    fill: u64,
}

impl Chunked64 {
    /// An empty vector whose unset elements are `fill`.
    pub fn new(fill: u64) -> Self {
        Self {
            low: Chunked::new(fill as u16),
            high: Chunked::new(0),
            highs: Vec::new(),
            wide: BTreeMap::new(),
            fill,
        }
    }

    /// One past the highest index set.
    pub fn len(&self) -> usize {
        self.low.len()
    }

    /// Whether nothing was ever set.
    pub fn is_empty(&self) -> bool {
        self.low.is_empty()
    }

    /// The element at `i`, or None past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        let low = self.low.get(i)?;
        let high = self.high.get(i)?;
        Some(self.join(i, high, low))
    }

    #[inline]
    fn join(&self, i: usize, high: u8, low: u16) -> u64 {
        if high == WIDE {
            return self.wide_at(i);
        }
        let part = match self.highs.get(i / CHUNK_LEN) {
            Some(table) if !table.is_empty() => table[high as usize],
            _ => self.fill >> LOW_BITS,
        };
        part << LOW_BITS | u64::from(low)
    }

    /// An element kept whole (rare: past [`MAX_HIGHS`] high parts in its chunk).
    #[cold]
    #[inline(never)]
    fn wide_at(&self, i: usize) -> u64 {
        self.wide[&i]
    }

    /// Sets the element at `i` to `value`, growing the vector (with
    /// `fill`) to hold it.
    pub fn set(&mut self, i: usize, value: u64) {
        let c = i / CHUNK_LEN;
        if self.highs.len() <= c {
            self.highs.resize_with(c + 1, Vec::new);
        }
        let table = &mut self.highs[c];
        if table.is_empty() {
            table.push(self.fill >> LOW_BITS);
        }
        let part = value >> LOW_BITS;
        let high = match table.iter().position(|&h| h == part) {
            Some(h) => h as u8,
            None if table.len() < MAX_HIGHS => {
                table.push(part);
                (table.len() - 1) as u8
            }
            None => WIDE,
        };
        *self.low.slot(i) = value as u16;
        let was = std::mem::replace(self.high.slot(i), high);
        if high == WIDE {
            self.wide.insert(i, value);
        } else if was == WIDE {
            self.wide.remove(&i);
        }
    }

    /// The elements `from..to` (clamped to the length), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = u64> + '_ {
        (from..)
            .zip(self.high.range(from, to).zip(self.low.range(from, to)))
            .map(|(i, (high, low))| self.join(i, high, low))
    }

    /// Forgets every whole chunk below element `i` (see
    /// [`Chunked::forget_below`]).
    pub fn forget_below(&mut self, i: usize) {
        self.low.forget_below(i);
        self.high.forget_below(i);
        let whole = i / CHUNK_LEN;
        for table in self.highs.iter_mut().take(whole) {
            *table = Vec::new();
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
        let wide_at = (0..).find(|&i| c.high.get(i) == Some(WIDE)).unwrap();
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
