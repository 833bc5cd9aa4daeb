//! Kafka's offset checkpoint files (`replication-offset-checkpoint`,
//! `recovery-point-offset-checkpoint`): version 0, a count, then one
//! `topic partition offset` line per partition.

use std::collections::BTreeMap;

use crate::protocol::TopicPartition;

/// Where the broker keeps each partition's high watermark.
pub const HW_CHECKPOINT: &str = "replication-offset-checkpoint";
/// Where the broker keeps each partition's recovery point.
pub const RECOVERY_CHECKPOINT: &str = "recovery-point-offset-checkpoint";

/// The file's text.
pub fn encode(offsets: &BTreeMap<TopicPartition, u64>) -> Vec<u8> {
    let mut text = format!("0\n{}\n", offsets.len());
    for (tp, offset) in offsets {
        text.push_str(&format!("{} {} {offset}\n", tp.topic, tp.partition));
    }
    text.into_bytes()
}

/// Reads a checkpoint; a torn or garbled file reads as empty (Kafka would
/// fail to start; the simulator treats it as lost).
pub fn decode(bytes: Option<&[u8]>) -> BTreeMap<TopicPartition, u64> {
    let parse = || -> Option<BTreeMap<TopicPartition, u64>> {
        let text = std::str::from_utf8(bytes?).ok()?;
        let mut lines = text.lines();
        if lines.next()? != "0" {
            return None;
        }
        let count: usize = lines.next()?.parse().ok()?;
        let mut out = BTreeMap::new();
        for _ in 0..count {
            let mut parts = lines.next()?.split(' ');
            let topic = parts.next()?;
            let partition = parts.next()?.parse().ok()?;
            let offset = parts.next()?.parse().ok()?;
            out.insert(TopicPartition::new(topic, partition), offset);
        }
        Some(out)
    };
    parse().unwrap_or_default()
}

/// The partition a log directory (`topic-N`) holds.
pub fn parse_dir(dir: &str) -> Option<TopicPartition> {
    TopicPartition::parse(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafka_format() {
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("orders", 0), 42);
        offsets.insert(TopicPartition::new("my-topic", 11), 7);
        let bytes = encode(&offsets);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "0\n2\nmy-topic 11 7\norders 0 42\n"
        );
        assert_eq!(decode(Some(&bytes)), offsets);
        assert!(decode(Some(&bytes[..bytes.len() - 4])).is_empty());
        assert_eq!(
            parse_dir("my-topic-11"),
            Some(TopicPartition::new("my-topic", 11))
        );
    }
}
