//! Kafka's offset checkpoint files (`replication-offset-checkpoint`,
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
//! `cleaner-offset-checkpoint`): version 0, a count, then one
//! `topic partition offset` line per partition.

use std::collections::BTreeMap;

use crate::protocol::{TopicIdPartition, Topics};

/// Where the broker keeps each partition's high watermark.
pub const HW_CHECKPOINT: &str = "replication-offset-checkpoint";
/// Where the broker keeps each partition's recovery point.
pub const RECOVERY_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// Where the broker keeps the log start offsets above their first segment.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Where the log cleaner keeps each compacted log's first dirty offset.
pub const CLEANER_CHECKPOINT: &str = "cleaner-offset-checkpoint";

/// The file's text (Kafka writes topic names).
pub fn encode(offsets: &BTreeMap<TopicIdPartition, u64>, topics: &Topics) -> Vec<u8> {
    let mut text = format!("0\n{}\n", offsets.len());
    for (tp, offset) in offsets {
        let topic = topics.name(tp.topic_id);
        text.push_str(&format!("{topic} {} {offset}\n", tp.partition));
    }
    text.into_bytes()
}

/// Reads a checkpoint; a torn or garbled file reads as empty (Kafka would
/// fail to start; the simulator treats it as lost).
pub fn decode(bytes: Option<&[u8]>, topics: &Topics) -> BTreeMap<TopicIdPartition, u64> {
    let parse = || -> Option<BTreeMap<TopicIdPartition, u64>> {
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
            if let Some(tp) = topics.partition(topic, partition) {
                out.insert(tp, offset);
            }
        }
        Some(out)
    };
    parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafka_format() {
        let topics = Topics::new(["my-topic".to_owned(), "orders".to_owned()]);
        let mut offsets = BTreeMap::new();
        offsets.insert(topics.partition("orders", 0).unwrap(), 42);
        offsets.insert(topics.partition("my-topic", 11).unwrap(), 7);
        let bytes = encode(&offsets, &topics);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "0\n2\nmy-topic 11 7\norders 0 42\n"
        );
        assert_eq!(decode(Some(&bytes), &topics), offsets);
        assert!(decode(Some(&bytes[..bytes.len() - 4]), &topics).is_empty());
    }
}
