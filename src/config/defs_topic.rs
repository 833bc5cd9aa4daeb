//! Topic configs (`[[topics]].config`), with Kafka 3.x names and defaults.
//!
//! A topic config that is not set takes its broker synonym's value
//! (`flush.messages` <- `log.flush.interval.messages`), as in Kafka.

use super::ConfigDef as D;
use super::Scope::Topic as T;

const L: i64 = i64::MAX;

/// The topic configs a scenario may set.
#[rustfmt::skip]
pub(crate) static TOPIC: &[D] = &[
    D::int(T, "min.insync.replicas", 1, Some(1), "Replicas that must acknowledge an acks=all write to this topic.").synonym("min.insync.replicas"),
    D::boolean(T, "unclean.leader.election.enable", false, "Allow an out-of-sync replica of this topic to become leader.").synonym("unclean.leader.election.enable"),
    D::long(T, "flush.messages", 1, Some(L), "Messages appended before the partition's log is fsynced.").synonym("log.flush.interval.messages"),
    D::long(T, "flush.ms", 0, Some(L), "Longest a message stays unflushed.").synonym("log.flush.interval.ms"),
    D::int(T, "segment.bytes", 14, Some(1073741824), "Size of a log segment file.").synonym("log.segment.bytes"),
    D::long(T, "segment.ms", 1, Some(604800000), "Roll a new segment when an append's timestamp is this far past the active segment's first.").synonym("log.roll.ms"),
    D::long(T, "retention.ms", -1, Some(604800000), "Delete segments whose newest record is older than this (-1: never).").synonym("log.retention.ms"),
    D::long(T, "retention.bytes", i64::MIN, Some(-1), "Delete the oldest segments while a partition's log is larger than this (negative: no limit).").synonym("log.retention.bytes"),
    D::long(T, "file.delete.delay.ms", 0, Some(60000), "How long a deleted segment's file stays, renamed .deleted, before it is removed.").synonym("log.segment.delete.delay.ms"),
    D::one_of(T, "compression.type", &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"], "producer", "Codec the partition's batches are stored with; producer keeps each producer's.").synonym("compression.type"),
    D::int(T, "compression.gzip.level", -1, Some(-1), "gzip level when compression.type is gzip: 1..9, or -1 (6).").max(9).synonym("compression.gzip.level"),
    D::int(T, "compression.lz4.level", 1, Some(9), "lz4 level when compression.type is lz4.").max(17).synonym("compression.lz4.level"),
    D::int(T, "compression.zstd.level", -131072, Some(3), "zstd level when compression.type is zstd.").max(22).synonym("compression.zstd.level"),
    D::list(T, "cleanup.policy", &["delete", "compact"], &["delete"], "What happens to old segments: delete (retention) and/or compact (the log cleaner keeps each key's latest record).").synonym("log.cleanup.policy"),
    D::ratio(T, "min.cleanable.dirty.ratio", "0.5", "The log cleaner takes a compacted log once this share of it is dirty (not yet cleaned).").synonym("log.cleaner.min.cleanable.ratio"),
    D::long(T, "min.compaction.lag.ms", 0, Some(0), "A record stays uncompacted at least this long.").synonym("log.cleaner.min.compaction.lag.ms"),
    D::long(T, "max.compaction.lag.ms", 1, Some(L), "A dirty segment older than this is cleaned whatever the dirty ratio (and the active segment rolls by then).").synonym("log.cleaner.max.compaction.lag.ms"),
    D::long(T, "delete.retention.ms", 0, Some(86400000), "How long a tombstone (and a transaction marker) stays after the cleaner first sees it.").synonym("log.cleaner.delete.retention.ms"),
];

/// Real topic configs ksim does not simulate, with what it does instead.
/// A scenario that sets one is refused, so that no setting is silently ignored.
#[rustfmt::skip]
pub(crate) static TOPIC_NOT_SIMULATED: &[(&str, &str)] = &[
    ("segment.jitter.ms", "segments roll without jitter (Kafka's default, 0)"),
    ("max.message.bytes", "batch sizes are not checked against a limit"),
    ("message.timestamp.type", "records carry their CreateTime"),
];
