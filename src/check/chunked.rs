//! A vector of per-record facts that grows in fixed chunks: a checker
//! indexes it by send sequence or offset, and a run has millions of them.
//! Growing never copies what is there and leaves at most one chunk unused,
//! where a `Vec` would double (and hold old and new copies while it does).

/// Elements per chunk.
const CHUNK: usize = 1 << 16;

/// A dense vector of `T` that grows by chunks of [`CHUNK`] elements; unset
/// elements read as `fill`.
#[derive(Clone, Debug)]
pub struct Chunked<T: Copy> {
    chunks: Vec<Box<[T]>>,
    fill: T,
    len: usize,
}

impl<T: Copy + PartialEq> Chunked<T> {
    /// An empty vector whose unset elements are `fill`.
    pub fn new(fill: T) -> Self {
        Self {
            chunks: Vec::new(),
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

    /// The element at `i` (`fill` below `len` when never set), or None past the end.
    pub fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.chunks[i / CHUNK][i % CHUNK])
    }

    /// The element at `i`, growing the vector (with `fill`) to hold it.
    pub fn slot(&mut self, i: usize) -> &mut T {
        while self.chunks.len() <= i / CHUNK {
            self.chunks.push(vec![self.fill; CHUNK].into_boxed_slice());
        }
        self.len = self.len.max(i + 1);
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// The elements `from..to` (clamped to the length), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = T> + '_ {
        let to = to.min(self.len);
        (from.min(to)..to).map(|i| self.chunks[i / CHUNK][i % CHUNK])
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
    }
}
