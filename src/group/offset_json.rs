//! OffsetCommit keys and values as `serde_json` writes them, written
//! directly: a group coordinator writes one record per committed
//! partition, and going through serde cost several times the bytes.
//! Strings that JSON escapes (a quote, a backslash, a control character)
//! are left to `serde_json` (the functions return `None`), so the bytes are
//! always the same as `serde_json::to_vec` gives (a unit test compares
//! them).

use super::records::OffsetCommitValue;

/// Whether `s` goes into JSON unescaped (what `serde_json` escapes: `"`,
/// `\` and the control characters below 0x20).
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Appends `n` in decimal.
pub(crate) fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `n` in decimal, with its sign.
fn put_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

/// Appends `"s"` (`s` plain).
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// `GroupRecordKey::OffsetCommit { group, topic, partition }` as JSON.
pub(super) fn offset_commit_key(group: &str, topic: &str, partition: u32) -> Option<Vec<u8>> {
    if !plain(group) || !plain(topic) {
        return None;
    }
    let mut out = Vec::with_capacity(56 + group.len() + topic.len());
    out.extend_from_slice(br#"{"type":"OffsetCommit","group":"#);
    put_str(&mut out, group);
    out.extend_from_slice(br#","topic":"#);
    put_str(&mut out, topic);
    out.extend_from_slice(br#","partition":"#);
    put_u64(&mut out, u64::from(partition));
    out.push(b'}');
    Some(out)
}

/// An [`OffsetCommitValue`] as JSON.
pub(super) fn offset_commit_value(value: &OffsetCommitValue) -> Option<Vec<u8>> {
    if !plain(&value.metadata) {
        return None;
    }
    let mut out = Vec::with_capacity(96 + value.metadata.len());
    out.extend_from_slice(br#"{"offset":"#);
    put_u64(&mut out, value.offset);
    out.extend_from_slice(br#","leader_epoch":"#);
    put_i64(&mut out, i64::from(value.leader_epoch));
    out.extend_from_slice(br#","metadata":"#);
    put_str(&mut out, &value.metadata);
    out.extend_from_slice(br#","commit_timestamp_ms":"#);
    put_u64(&mut out, value.commit_timestamp_ms);
    out.push(b'}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::records::GroupRecordKey;

    #[test]
    fn keys_and_values_are_the_bytes_serde_json_writes() {
        for (group, topic, partition) in [
            ("billing", "orders", 0),
            ("g", "t", u32::MAX),
            ("grüppe", "tôpic.with-dots_1", 17),
            ("", "", 1),
        ] {
            let key = GroupRecordKey::OffsetCommit {
                group: group.to_owned(),
                topic: topic.to_owned(),
                partition,
            };
            assert_eq!(
                offset_commit_key(group, topic, partition),
                Some(serde_json::to_vec(&key).unwrap())
            );
        }
        for (offset, leader_epoch, metadata, ts) in [
            (0, -1, "", 0),
            (u64::MAX, i32::MIN, "meta data", u64::MAX),
            (12_345, i32::MAX, "ünï", 1_700_000_000_000),
        ] {
            let value = OffsetCommitValue {
                offset,
                leader_epoch,
                metadata: metadata.to_owned(),
                commit_timestamp_ms: ts,
            };
            assert_eq!(
                offset_commit_value(&value),
                Some(serde_json::to_vec(&value).unwrap())
            );
        }
    }

    #[test]
    fn strings_json_escapes_are_left_to_serde_json() {
        assert_eq!(offset_commit_key("a\"b", "t", 0), None);
        assert_eq!(offset_commit_key("g", "t\\", 0), None);
        let value = OffsetCommitValue {
            offset: 1,
            leader_epoch: 0,
            metadata: "line\n".to_owned(),
            commit_timestamp_ms: 2,
        };
        assert_eq!(offset_commit_value(&value), None);
    }
}
