//! The run's trace: every processed event folds into `trace_hash`, and with a
//! sink attached each event is also written as one JSON line.

use std::hash::{Hash, Hasher};
use std::io::Write;

/// A fast, stable 64-bit hasher (FxHash-style word mixing) for trace folding.
///
/// Stable for a given build: it never seeds from the process (unlike std's
/// `RandomState`), so the same run always folds to the same value.
#[derive(Clone, Copy, Debug)]
pub struct StableHasher {
    hash: u64,
}

const MIX: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl StableHasher {
    /// A hasher starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { hash: seed }
    }

    /// Folds one word.
    #[inline]
    pub fn fold(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(MIX);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche so that nearby inputs give far-apart hashes.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.fold(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.fold(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.fold(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.fold(i as u64);
    }
}

/// Hashes any `Hash` value with the stable hasher.
pub fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::new(0);
    value.hash(&mut hasher);
    hasher.finish()
}

/// The running trace of one simulation.
pub struct Trace {
    hasher: StableHasher,
    events: u64,
    sink: Option<Box<dyn Write>>,
    sink_error: Option<String>,
}

impl Default for Trace {
    fn default() -> Self {
        Self {
            hasher: StableHasher::new(0x6b73_696d),
            events: 0,
            sink: None,
            sink_error: None,
        }
    }
}

impl Trace {
    /// Writes every following event as a JSON line to `sink`.
    pub fn set_sink(&mut self, sink: Box<dyn Write>) {
        self.sink = Some(sink);
    }

    /// True when events are being written out (callers skip formatting otherwise).
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.sink.is_some()
    }

    /// Folds one processed event: its time, kind and the words that identify it.
    #[inline]
    pub fn fold(&mut self, at: u64, kind: u64, words: [u64; 3]) {
        self.events += 1;
        self.hasher.fold(at);
        self.hasher.fold(kind);
        for word in words {
            self.hasher.fold(word);
        }
    }

    /// Writes one JSON line (only call when `is_recording`).
    pub fn write_line(&mut self, line: &serde_json::Value) {
        if let Some(sink) = self.sink.as_mut() {
            if let Err(e) = writeln!(sink, "{line}") {
                self.sink_error.get_or_insert_with(|| e.to_string());
                self.sink = None;
            }
        }
    }

    /// Flushes the sink; reports the first write error, if any.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(sink) = self.sink.as_mut() {
            if let Err(e) = sink.flush() {
                self.sink_error.get_or_insert_with(|| e.to_string());
            }
        }
        match self.sink_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Number of events folded so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The hash of everything folded so far, as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_events_same_hash_and_order_matters() {
        let mut a = Trace::default();
        let mut b = Trace::default();
        let mut c = Trace::default();
        a.fold(1, 2, [3, 4, 5]);
        a.fold(6, 7, [8, 9, 10]);
        b.fold(1, 2, [3, 4, 5]);
        b.fold(6, 7, [8, 9, 10]);
        c.fold(6, 7, [8, 9, 10]);
        c.fold(1, 2, [3, 4, 5]);
        assert_eq!(a.hash_hex(), b.hash_hex());
        assert_ne!(a.hash_hex(), c.hash_hex());
        assert_eq!(a.events(), 2);
    }

    #[test]
    fn stable_hash_is_fixed() {
        // Pinned: a change here changes every trace_hash ever recorded.
        assert_eq!(stable_hash(&(1u64, 2u64)), stable_hash(&(1u64, 2u64)));
        assert_ne!(stable_hash(&(1u64, 2u64)), stable_hash(&(2u64, 1u64)));
        assert_ne!(stable_hash("abc"), stable_hash("abd"));
    }
}
