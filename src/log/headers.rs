//! Record headers (KIP-82) as the v2 record format holds them: after the
//! value, a header count varint, then per header a key length varint and
//! the key (UTF-8, never null), a value length varint (-1: null) and the
//! value. A record read from a batch keeps its headers as those bytes
//! ([`Headers`]), so a record rewritten (by the cleaner) carries them over
//! unchanged; an owned [`Record`](super::Record) holds them as [`Header`]s.

use super::codec::{put_varint, varint_len, Reader};

/// One header of an owned record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Its key.
    pub key: String,
    /// Its value (None: null).
    pub value: Option<Vec<u8>>,
}

/// A record's headers as its bytes hold them (already checked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    count: u32,
    bytes: &'a [u8],
}

impl<'a> Headers<'a> {
    /// No header.
    pub const NONE: Headers<'static> = Headers {
        count: 0,
        bytes: &[],
    };

    /// `count` headers encoded in `bytes`, unchecked: for bytes
    /// [`Headers::read`] accepted or [`encode`] wrote.
    pub(super) fn from_parts(count: u32, bytes: &'a [u8]) -> Self {
        Self { count, bytes }
    }

    /// How many there are.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Their encoded bytes (after the count).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Bytes they take in a record, count included.
    pub fn encoded_len(&self) -> usize {
        varint_len(self.count as i32) + self.bytes.len()
    }

    /// Every header: key and value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        let mut r = Reader::new(self.bytes);
        (0..self.count).map_while(move |_| read_one(&mut r))
    }

    /// The value of the first header named `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<Option<&'a [u8]>> {
        self.iter()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Owned copies.
    pub fn to_owned(&self) -> Vec<Header> {
        self.iter()
            .map(|(k, v)| Header {
                key: String::from_utf8_lossy(k).into_owned(),
                value: v.map(<[u8]>::to_vec),
            })
            .collect()
    }

    /// Reads a header count and the headers it announces, checking each
    /// (a negative count or key length is invalid, as Kafka's
    /// `DefaultRecord.readHeaders` has it).
    pub(super) fn read(r: &mut Reader<'a>) -> Option<Self> {
        let count = u32::try_from(r.varint()?).ok()?;
        let mut from = r.clone();
        for _ in 0..count {
            read_one(r)?;
        }
        let bytes = from.take(r.position() - from.position())?;
        Some(Self { count, bytes })
    }
}

fn read_one<'a>(r: &mut Reader<'a>) -> Option<(&'a [u8], Option<&'a [u8]>)> {
    let key_len = usize::try_from(r.varint()?).ok()?;
    let key = r.take(key_len)?;
    let value = match r.varint()? {
        -1 => None,
        n => Some(r.take(usize::try_from(n).ok()?)?),
    };
    Some((key, value))
}

/// Encodes `headers` (key, value) into `out` (without the count).
pub fn encode(headers: &[(&str, Option<&[u8]>)], out: &mut Vec<u8>) {
    for (key, value) in headers {
        put_varint(out, key.len() as i32);
        out.extend_from_slice(key.as_bytes());
        match value {
            Some(v) => {
                put_varint(out, v.len() as i32);
                out.extend_from_slice(v);
            }
            None => put_varint(out, -1),
        }
    }
}

/// Encodes owned headers into `out` (without the count).
pub fn encode_owned(headers: &[Header], out: &mut Vec<u8>) {
    let list: Vec<(&str, Option<&[u8]>)> = headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_deref()))
        .collect();
    encode(&list, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_their_bytes() {
        let list: [(&str, Option<&[u8]>); 3] = [
            ("ksim.id", Some(&[0, 0, 0, 1])),
            ("trace", None),
            ("", Some(b"")),
        ];
        let mut bytes = Vec::new();
        put_varint(&mut bytes, 3);
        encode(&list, &mut bytes);
        let mut r = Reader::new(&bytes);
        let headers = Headers::read(&mut r).expect("valid");
        assert_eq!(r.remaining(), 0);
        assert_eq!(headers.encoded_len(), bytes.len());
        let read: Vec<_> = headers.iter().collect();
        assert_eq!(read, list.map(|(k, v)| (k.as_bytes(), v)));
        assert_eq!(headers.get("trace"), Some(None));
        assert_eq!(headers.get("ksim.id"), Some(Some(&[0u8, 0, 0, 1][..])));
        assert_eq!(headers.get("absent"), None);
        let mut again = Vec::new();
        encode_owned(&headers.to_owned(), &mut again);
        assert_eq!(again, headers.bytes());
    }

    #[test]
    fn a_negative_count_or_key_length_or_a_short_header_is_refused() {
        for bad in [&[1u8][..], &[2, 1, b'k', 1], &[2, 2, b'k', 2]] {
            assert!(Headers::read(&mut Reader::new(bad)).is_none(), "{bad:?}");
        }
    }
}
