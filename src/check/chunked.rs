//! A vector of per-record facts that grows in fixed chunks: a checker
//! indexes it by send sequence or offset, and a run has millions of them.
//! Growing never copies what is there and leaves at most one chunk unused,
//! where a `Vec` would double (and hold old and new copies while it does).
//! A checker that knows it will never need the facts below an index again
//! (retention removed those records from every replica) forgets them a
//! chunk at a time: memory then follows what can still be violated, not
//! every record a run ever sent.

/// Elements per chunk.
const CHUNK: usize = 1 << 16;

/// Elements per chunk, for checkers that forget a chunk at a time.
pub const CHUNK_LEN: usize = CHUNK;

/// A boxed array of `N` copies of `x`, made on the heap (not on the
/// stack first): a chunk's arrays, whose exact length spares the checks
/// of indices within them.
pub(super) fn boxed_array<T: Copy, const N: usize>(x: T) -> Box<[T; N]> {
    vec![x; N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("N elements"))
}

/// A dense vector of `T` that grows by chunks of [`CHUNK`] elements; unset
/// and forgotten elements read as `fill`.
#[derive(Clone, Debug)]
pub struct Chunked<T: Copy> {
    /// A forgotten or compacted chunk is empty.
    chunks: Vec<Box<[T]>>,
    /// By chunk: the value every element of an empty chunk reads (`fill`
    /// past its end): what a compacted chunk held throughout.
    uniform: Vec<T>,
    fill: T,
    len: usize,
}

impl<T: Copy + PartialEq> Chunked<T> {
    /// An empty vector whose unset elements are `fill`.
    pub fn new(fill: T) -> Self {
        Self {
            chunks: Vec::new(),
            uniform: Vec::new(),
            fill,
            len: 0,
        }
    }

    /// One past the highest index set (or grown to).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was ever set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `i` (`fill` below `len` when never set or
    /// forgotten), or None past the end.
    pub fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.at(i))
    }

    fn at(&self, i: usize) -> T {
        let c = i / CHUNK;
        match self.chunks[c].get(i % CHUNK) {
            Some(&x) => x,
            None => self.empty_reads(c),
        }
    }

    /// What the elements of chunk `c` read while it is empty.
    fn empty_reads(&self, c: usize) -> T {
        self.uniform.get(c).copied().unwrap_or(self.fill)
    }

    /// The element at `i`, growing the vector (with `fill`) to hold it (a
    /// forgotten chunk written again comes back, filled; a compacted one
    /// comes back as it was).
    #[inline]
    pub fn slot(&mut self, i: usize) -> &mut T {
        let c = i / CHUNK;
        if self.chunks.get(c).is_none_or(|chunk| chunk.is_empty()) {
            self.make_chunk(c);
        }
        self.len = self.len.max(i + 1);
        &mut self.chunks[c][i % CHUNK]
    }

    /// The element at `i` (None past the end); unless it is `keep`, sets
    /// it to `x` first: [`Chunked::get`] then [`Chunked::slot`] with one
    /// lookup when the chunk is there.
    #[inline]
    pub fn replace_unless(&mut self, i: usize, keep: T, x: T) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let c = i / CHUNK;
        let was = match self.chunks[c].get_mut(i % CHUNK) {
            Some(slot) => {
                let was = *slot;
                if was != keep {
                    *slot = x;
                }
                return Some(was);
            }
            None => self.empty_reads(c),
        };
        if was != keep {
            *self.slot(i) = x;
        }
        Some(was)
    }

    /// Sets the elements `from..to` to `x`, growing the vector to hold
    /// them as [`Chunked::slot`] does: a chunk at a time.
    pub fn set_range(&mut self, from: usize, to: usize, x: T) {
        let mut i = from;
        while i < to {
            let c = i / CHUNK;
            let end = to.min((c + 1) * CHUNK);
            self.slot(i);
            self.len = self.len.max(end);
            self.chunks[c][i % CHUNK..=(end - 1) % CHUNK].fill(x);
            i = end;
        }
    }

    /// Makes chunk `c` (and those before it that were never made), once
    /// per 65,536 slots: kept out of [`Chunked::slot`], which the checkers
    /// call for every record.
    #[cold]
    #[inline(never)]
    fn make_chunk(&mut self, c: usize) {
        while self.chunks.len() <= c {
            self.chunks.push(vec![self.fill; CHUNK].into_boxed_slice());
        }
        if self.chunks[c].is_empty() {
            let was = self.empty_reads(c);
            self.chunks[c] = vec![was; CHUNK].into_boxed_slice();
            if let Some(u) = self.uniform.get_mut(c) {
                *u = self.fill;
            }
        }
    }

    /// Keeps chunk number `chunk` as one value when all its elements are
    /// equal (and it lies wholly below `len`): it reads the same, takes no
    /// memory, and comes back whole if written again.
    pub fn compact_chunk(&mut self, chunk: usize) {
        if (chunk + 1) * CHUNK > self.len {
            return;
        }
        let Some(&first) = self.chunks[chunk].first() else {
            return;
        };
        if self.chunks[chunk].iter().any(|&x| x != first) {
            return;
        }
        if self.uniform.len() <= chunk {
            self.uniform.resize(chunk + 1, self.fill);
        }
        self.uniform[chunk] = first;
        self.chunks[chunk] = Box::default();
    }

    /// The elements `from..to` (clamped to the length), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = T> + '_ {
        let to = to.min(self.len);
        (from.min(to)..to).map(|i| self.at(i))
    }

    /// Forgets chunk number `chunk` (elements `chunk * CHUNK_LEN` on): they
    /// read as `fill` from now on and take no memory.
    pub fn forget_chunk(&mut self, chunk: usize) {
        if let Some(c) = self.chunks.get_mut(chunk) {
            *c = Box::default();
        }
        if let Some(u) = self.uniform.get_mut(chunk) {
            *u = self.fill;
        }
    }

    /// Forgets every whole chunk below element `i`.
    pub fn forget_below(&mut self, i: usize) {
        for chunk in 0..(i / CHUNK).min(self.chunks.len()) {
            self.forget_chunk(chunk);
        }
    }

    /// Every element below `len`, in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.range(0, self.len)
    }
}

impl<T: Copy + PartialEq + Default> Default for Chunked<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec_filled_on_growth() {
        let mut c = Chunked::new(7u32);
        let mut v: Vec<u32> = Vec::new();
        for (i, x) in [
            (3, 1),
            (0, 2),
            (CHUNK + 5, 3),
            (3 * CHUNK - 1, 4),
            (CHUNK, 5),
        ] {
            *c.slot(i) = x;
            if v.len() <= i {
                v.resize(i + 1, 7);
            }
            v[i] = x;
        }
        assert_eq!(c.len(), v.len());
        assert!(c.iter().eq(v.iter().copied()));
        assert!(c.range(2, CHUNK + 6).eq(v[2..CHUNK + 6].iter().copied()));
        assert_eq!(c.get(v.len()), None);
        assert_eq!(c.get(CHUNK + 5), Some(3));
        assert_eq!(c.range(v.len() - 1, v.len() + 10).count(), 1);
        // Replaced unless it is the value kept.
        assert_eq!(c.replace_unless(v.len(), 7, 1), None);
        assert_eq!(c.replace_unless(4, 7, 1), Some(7));
        assert_eq!(c.replace_unless(3, 7, 8), Some(1));
        v[3] = 8;
        assert_eq!(c.get(3), Some(8));
        // A range across chunks, past the end.
        c.set_range(CHUNK - 2, 3 * CHUNK + 1, 6);
        v.resize(3 * CHUNK + 1, 7);
        v[CHUNK - 2..].fill(6);
        assert_eq!(c.len(), v.len());
        assert!(c.iter().eq(v.iter().copied()));
    }

    #[test]
    fn forgotten_chunks_read_as_fill_and_come_back_when_written() {
        let mut c = Chunked::new(0u8);
        for i in 0..3 * CHUNK {
            *c.slot(i) = 1;
        }
        c.forget_below(2 * CHUNK + 3);
        assert_eq!(c.get(0), Some(0));
        assert_eq!(c.get(2 * CHUNK - 1), Some(0));
        assert_eq!(c.get(2 * CHUNK), Some(1), "a partial chunk stays");
        assert_eq!(c.len(), 3 * CHUNK);
        assert_eq!(c.iter().filter(|&x| x == 1).count(), CHUNK);
        *c.slot(5) = 9;
        assert_eq!((c.get(5), c.get(6)), (Some(9), Some(0)));
    }

    #[test]
    fn a_replacement_in_a_compacted_or_forgotten_chunk() {
        let mut c = Chunked::new(0u8);
        c.set_range(0, CHUNK + 1, 2);
        c.compact_chunk(0);
        assert_eq!(c.replace_unless(6, 0, 5), Some(2));
        assert_eq!((c.get(5), c.get(6)), (Some(2), Some(5)), "back whole");
        c.forget_chunk(0);
        assert_eq!(c.replace_unless(6, 0, 5), Some(0), "kept: not made");
        assert!(c.chunks[0].is_empty());
    }

    #[test]
    fn a_compacted_chunk_reads_the_same_and_comes_back_whole() {
        let mut c = Chunked::new(0u8);
        for i in 0..2 * CHUNK + 5 {
            *c.slot(i) = 2;
        }
        *c.slot(CHUNK + 1) = 3;
        for chunk in 0..3 {
            c.compact_chunk(chunk);
        }
        assert!(c.chunks[0].is_empty(), "all 2s");
        assert!(!c.chunks[1].is_empty(), "not all equal");
        assert!(!c.chunks[2].is_empty(), "not wholly below len");
        assert_eq!(c.iter().filter(|&x| x == 2).count(), 2 * CHUNK + 4);
        *c.slot(7) = 4;
        assert_eq!((c.get(6), c.get(7), c.get(8)), (Some(2), Some(4), Some(2)));
        c.compact_chunk(0);
        c.forget_chunk(0);
        assert_eq!(c.get(7), Some(0), "forgotten: fill");
        *c.slot(9) = 1;
        assert_eq!((c.get(8), c.get(9)), (Some(0), Some(1)));
    }
}
