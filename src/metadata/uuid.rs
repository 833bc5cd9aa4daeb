//! Kafka's `Uuid`: 128 random bits, shown as 22 characters of URL-safe base64.

use std::fmt;

use rand::Rng;

/// A topic id or broker incarnation id.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct Uuid(pub u128);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Uuid {
    /// A fresh id from `rng` (never the all-zero id, Kafka's `Uuid.ZERO_UUID`).
    pub fn random(rng: &mut impl Rng) -> Self {
        loop {
            let id: u128 = rng.random();
            if id != 0 {
                return Self(id);
            }
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if s.len() != 22 {
            return None;
        }
        let mut bits: u128 = 0;
        for (i, c) in s.bytes().enumerate() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u128;
            if i == 21 {
                // The last character carries the final 2 bits in its top bits.
                if v & 0xF != 0 {
                    return None;
                }
                bits = (bits << 2) | (v >> 4);
            } else {
                bits = (bits << 6) | v;
            }
        }
        Some(Self(bits))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 22];
        for (i, slot) in out.iter_mut().enumerate().take(21) {
            let shift = 128 - 6 * (i as u32 + 1);
            *slot = ALPHABET[((self.0 >> shift) & 0x3F) as usize];
        }
        out[21] = ALPHABET[((self.0 & 0x3) << 4) as usize];
        f.write_str(std::str::from_utf8(&out).expect("ASCII"))
    }
}

impl From<Uuid> for String {
    fn from(id: Uuid) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for Uuid {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("not a Kafka Uuid: {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn round_trips_through_its_base64_form() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100 {
            let id = Uuid::random(&mut rng);
            let s = id.to_string();
            assert_eq!(s.len(), 22);
            assert_eq!(Uuid::parse(&s), Some(id));
        }
        assert_eq!(Uuid(0).to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(Uuid(u128::MAX).to_string(), "_____________________w");
    }
}
