//! Big-endian fixed-width fields and Kafka's zig-zag varints, as used by the
//! v2 record batch format (`ByteUtils` in Kafka).
//!
//! Reading never panics: every accessor returns `None` when the input runs
//! out or a varint is malformed.

/// Appends a zig-zag varint (Kafka's `ByteUtils.writeVarint`).
pub(crate) fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_unsigned_varlong(out, u64::from(((value << 1) ^ (value >> 31)) as u32));
}

/// Appends a zig-zag varlong (Kafka's `ByteUtils.writeVarlong`).
pub(crate) fn put_varlong(out: &mut Vec<u8>, value: i64) {
    put_unsigned_varlong(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_unsigned_varlong(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encoded length of a zig-zag varint.
pub(crate) fn varint_len(value: i32) -> usize {
    unsigned_len(u64::from(((value << 1) ^ (value >> 31)) as u32))
}

/// Encoded length of a zig-zag varlong.
pub(crate) fn varlong_len(value: i64) -> usize {
    unsigned_len(((value << 1) ^ (value >> 63)) as u64)
}

fn unsigned_len(v: u64) -> usize {
    // ceil(bits / 7), at least 1, as (9 * bits + 64) / 64 (exact for 1 to
    // 64 bits): no division.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

/// A cursor over untrusted bytes.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.remaining() {
            return None;
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Some(slice)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn i8(&mut self) -> Option<i8> {
        self.array::<1>().map(i8::from_be_bytes)
    }

    pub(crate) fn i16(&mut self) -> Option<i16> {
        self.array::<2>().map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.array::<4>().map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array::<8>().map(i64::from_be_bytes)
    }

    /// A zig-zag varint of at most 5 bytes (longer is malformed, as in Kafka).
    pub(crate) fn varint(&mut self) -> Option<i32> {
        let raw = self.unsigned(5)?;
        let raw = u32::try_from(raw).ok()?;
        Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// A zig-zag varlong of at most 10 bytes.
    pub(crate) fn varlong(&mut self) -> Option<i64> {
        let raw = self.unsigned(10)?;
        Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn unsigned(&mut self, max_bytes: u32) -> Option<u64> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let byte = self.array::<1>()?[0];
            let shift = 7 * i;
            let bits = u64::from(byte & 0x7F);
            // Bits that would fall off the top make the varlong malformed.
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_lengths_are_seven_bits_a_byte() {
        assert_eq!(unsigned_len(0), 1);
        for bits in 1..=64u32 {
            let v = u64::MAX >> (64 - bits);
            assert_eq!(unsigned_len(v), bits.div_ceil(7) as usize, "{bits} bits");
            assert_eq!(unsigned_len(1 << (bits - 1)), bits.div_ceil(7) as usize);
        }
    }

    #[test]
    fn varints_round_trip_with_exact_lengths() {
        let ints = [0, 1, -1, 63, -64, 64, -65, 8191, 8192, i32::MAX, i32::MIN];
        for v in ints {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint(), Some(v));
            assert_eq!(r.remaining(), 0);
        }
        let longs = [0, 1, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN];
        for v in longs {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            assert_eq!(buf.len(), varlong_len(v), "{v}");
            let mut r = Reader::new(&buf);
            assert_eq!(r.varlong(), Some(v));
            assert_eq!(r.remaining(), 0);
        }
        // Kafka's examples: 0 -> 00, -1 -> 01, 1 -> 02, 300 -> d8 04.
        let mut buf = Vec::new();
        put_varint(&mut buf, 300);
        assert_eq!(buf, [0xD8, 0x04]);
    }

    #[test]
    fn malformed_varints_are_rejected() {
        assert_eq!(Reader::new(&[0x80; 5]).varint(), None);
        assert_eq!(Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).varint(), None);
        assert_eq!(Reader::new(&[0x80; 10]).varlong(), None);
        assert_eq!(Reader::new(&[0x80]).varint(), None);
        assert_eq!(Reader::new(&[]).varlong(), None);
    }
}
