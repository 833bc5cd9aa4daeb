//! Length + CRC framing for the quorum's files, so recovery can cut a torn tail.
//!
//! A frame is `[body length: u32 LE][crc32c(body): u32 LE][body]`. Decoding
//! stops at the first frame that is short, empty or fails its CRC: that and
//! everything after it is a torn (or corrupt) tail.

const HEADER_BYTES: usize = 8;

/// CRC-32C (Castagnoli), as Kafka's record batches use.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// One frame around `body` (never empty).
pub(crate) fn encode(body: &[u8]) -> Vec<u8> {
    assert!(!body.is_empty(), "frames carry a body");
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The whole, valid frames at the start of `bytes`, each with its byte offset.
pub(crate) fn decode(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut frames = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER_BYTES {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let start = at + HEADER_BYTES;
        if len == 0 || bytes.len() - start < len {
            break;
        }
        let body = &bytes[start..start + len];
        if crc32c(body) != crc {
            break;
        }
        frames.push((at, body));
        at = start + len;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn decode_stops_at_a_torn_or_corrupt_frame() {
        let mut bytes = encode(b"one");
        bytes.extend(encode(b"two"));
        let whole = bytes.len();
        bytes.extend(&encode(b"three")[..9]);
        let frames = decode(&bytes);
        assert_eq!(frames, vec![(0, &b"one"[..]), (11, &b"two"[..])]);
        assert_eq!(whole, 22);
        bytes.truncate(whole);
        bytes[20] ^= 1;
        assert_eq!(decode(&bytes), vec![(0, &b"one"[..])]);
        assert!(decode(&[0u8; 16]).is_empty());
    }
}
