//! Broker (and KRaft controller) configs, with Kafka 3.x names and defaults.

use super::ConfigDef as D;
use super::Scope::Broker as B;

const L: i64 = i64::MAX;

/// The broker configs a scenario may set in `[cluster.config]`.
#[rustfmt::skip]
pub(crate) static BROKER: &[D] = &[
    // Replication and durability.
    D::int(B, "min.insync.replicas", 1, Some(1), "Replicas that must acknowledge an acks=all write, or the producer gets NOT_ENOUGH_REPLICAS."),
    D::boolean(B, "unclean.leader.election.enable", false, "Allow an out-of-sync replica to become leader as a last resort, at the risk of data loss."),
    D::boolean(B, "controlled.shutdown.enable", true, "A shutdown fault (SIGTERM) first asks the controller to move the broker's leaderships and shrink it out of every ISR (heartbeats with wantShutDown until shouldShutDown, at most 5 minutes); false: it flushes and stops at once."),
    D::boolean(B, "delete.topic.enable", true, "Let DeleteTopics ([[admin]] op = \"delete_topic\") delete topics; without it the controller answers TOPIC_DELETION_DISABLED."),
    D::int(B, "default.replication.factor", 1, Some(1), "Replication factor of automatically created topics."),
    D::int(B, "num.partitions", 1, Some(1), "Partitions of automatically created topics."),
    D::long(B, "replica.lag.time.max.ms", 0, Some(30000), "A follower that has not caught up for this long is removed from the ISR."),
    D::int(B, "replica.fetch.wait.max.ms", 0, Some(500), "Longest a follower's fetch request waits at the leader for data."),
    D::int(B, "replica.fetch.max.bytes", 0, Some(1048576), "Bytes a follower fetches per partition per request."),
    D::int(B, "replica.fetch.backoff.ms", 0, Some(1000), "Pause of a follower fetcher after a fetch error."),
    D::int(B, "replica.socket.timeout.ms", 0, Some(30000), "Network request timeout of the follower fetchers."),
    D::long(B, "replica.high.watermark.checkpoint.interval.ms", 0, Some(5000), "How often the high watermark is saved to disk."),
    // The log: flushing, segments, retention.
    D::long(B, "log.flush.interval.messages", 1, Some(L), "Messages appended to a partition before its log is fsynced."),
    D::long(B, "log.flush.interval.ms", 0, None, "Longest a message stays unflushed; unset = log.flush.scheduler.interval.ms.").fallback("log.flush.scheduler.interval.ms", 1),
    D::long(B, "log.flush.scheduler.interval.ms", 0, Some(L), "How often the log flusher checks whether a log needs an fsync."),
    D::int(B, "log.flush.offset.checkpoint.interval.ms", 0, Some(60000), "How often the last flushed offset is saved to disk."),
    D::int(B, "log.segment.bytes", 14, Some(1073741824), "Size of a log segment file."),
    D::long(B, "log.roll.ms", 1, None, "Roll a new segment when an append's timestamp is this far past the active segment's first; unset = log.roll.hours.").fallback("log.roll.hours", 3_600_000),
    D::int(B, "log.roll.hours", 1, Some(168), "log.roll.ms in hours."),
    D::long(B, "log.retention.ms", -1, None, "Delete segments whose newest record is older than this (-1: never); unset = log.retention.minutes.").fallback("log.retention.minutes", 60_000),
    D::int(B, "log.retention.minutes", -1, None, "log.retention.ms in minutes; unset = log.retention.hours.").fallback("log.retention.hours", 60),
    D::int(B, "log.retention.hours", -1, Some(168), "log.retention.ms in hours."),
    D::long(B, "log.retention.bytes", i64::MIN, Some(-1), "Delete the oldest segments while a partition's log is larger than this (negative: no limit)."),
    D::long(B, "log.retention.check.interval.ms", 1, Some(300000), "How often the log manager looks for segments to delete (first 30000 ms after start, Kafka's log.initial.task.delay.ms)."),
    D::long(B, "log.segment.delete.delay.ms", 0, Some(60000), "How long a deleted segment's file stays, renamed .deleted, before it is removed."),
    D::int(B, "log.flush.start.offset.checkpoint.interval.ms", 0, Some(60000), "How often log start offsets are saved to disk (log-start-offset-checkpoint)."),
    D::list(B, "log.cleanup.policy", &["delete", "compact"], &["delete"], "Default cleanup.policy of topics: delete (retention) and/or compact (the log cleaner)."),
    // The log cleaner (compaction).
    D::boolean(B, "log.cleaner.enable", true, "Run the log cleaner: without it compacted topics are never compacted."),
    D::long(B, "log.cleaner.backoff.ms", 0, Some(15000), "How long the log cleaner sleeps when no log needs cleaning."),
    D::ratio(B, "log.cleaner.min.cleanable.ratio", "0.5", "Default min.cleanable.dirty.ratio of topics."),
    D::long(B, "log.cleaner.min.compaction.lag.ms", 0, Some(0), "Default min.compaction.lag.ms of topics."),
    D::long(B, "log.cleaner.max.compaction.lag.ms", 1, Some(L), "Default max.compaction.lag.ms of topics."),
    D::long(B, "log.cleaner.delete.retention.ms", 0, Some(86400000), "Default delete.retention.ms of topics."),
    D::one_of(B, "compression.type", &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"], "producer", "Codec batches are stored with; producer keeps each producer's."),
    D::int(B, "compression.gzip.level", -1, Some(-1), "gzip level when compression.type is gzip: 1..9, or -1 (6).").max(9),
    D::int(B, "compression.lz4.level", 1, Some(9), "lz4 level when compression.type is lz4.").max(17),
    D::int(B, "compression.zstd.level", -131072, Some(3), "zstd level when compression.type is zstd.").max(22),
    // KRaft: broker registration and the controller quorum.
    D::int(B, "broker.session.timeout.ms", 0, Some(9000), "A broker without a heartbeat for this long is fenced by the controller."),
    D::int(B, "controller.socket.timeout.ms", 1, Some(30000), "How long a broker's AlterPartition or AllocateProducerIds waits for the controller's answer before it goes again."),
    D::int(B, "controller.quorum.election.timeout.ms", 1, Some(1000), "Base of a candidate's randomised election timeout (timeout + a random share of it)."),
    D::int(B, "controller.quorum.fetch.timeout.ms", 1, Some(2000), "A voter that hears nothing from its leader this long starts an election; the leader resigns after 1.5 times it without a majority fetching (check quorum)."),
    D::int(B, "controller.quorum.election.backoff.max.ms", 1, Some(1000), "Longest backoff of a candidate that lost an election before it tries again."),
    // Group coordinator and the offsets topic.
    D::int(B, "offsets.topic.num.partitions", 1, Some(50), "Partitions of __consumer_offsets."),
    D::int(B, "offsets.topic.segment.bytes", 1, Some(104857600), "segment.bytes of __consumer_offsets (compacted: only rolled segments are cleaned)."),
    D::int(B, "offsets.topic.replication.factor", 1, Some(3), "Replication factor of __consumer_offsets.").max(i16::MAX as i64),
    D::int(B, "offsets.commit.timeout.ms", 1, Some(5000), "How long an offset commit waits for all replicas of __consumer_offsets."),
    D::int(B, "offsets.retention.minutes", 1, Some(10080), "How long a group's committed offsets outlive it: once its last member left (or, outside group management, once committed), KIP-211."),
    D::long(B, "offsets.retention.check.interval.ms", 1, Some(600000), "How often each offsets partition expires committed offsets."),
    D::int(B, "group.initial.rebalance.delay.ms", 0, Some(3000), "How long the coordinator waits for more members before the first rebalance of a group."),
    // Transaction coordinator and the transaction state topic.
    D::int(B, "transaction.state.log.num.partitions", 1, Some(50), "Partitions of __transaction_state."),
    D::int(B, "transaction.state.log.segment.bytes", 1, Some(104857600), "segment.bytes of __transaction_state (compacted: only rolled segments are cleaned)."),
    D::int(B, "transaction.state.log.replication.factor", 1, Some(3), "Replication factor of __transaction_state (capped by the broker count).").max(i16::MAX as i64),
    D::int(B, "transaction.state.log.min.isr", 1, Some(2), "min.insync.replicas of __transaction_state."),
    D::int(B, "transaction.max.timeout.ms", 1, Some(900000), "Longest transaction.timeout.ms a producer may ask for."),
    D::int(B, "transaction.abort.timed.out.transaction.cleanup.interval.ms", 1, Some(10000), "How often the coordinator aborts transactions open longer than their timeout."),
    D::int(B, "add.partitions.to.txn.retry.backoff.ms", 1, Some(20), "Backoff of a partition leader asking the transaction coordinator again after CONCURRENT_TRANSACTIONS (Kafka 4.0+, KAFKA-18654)."),
    D::int(B, "add.partitions.to.txn.retry.backoff.max.ms", 0, Some(100), "How long a partition leader keeps asking the transaction coordinator about a produce's transaction before answering (Kafka 4.0+, KAFKA-18654)."),
    D::boolean(B, "transaction.partition.verification.enable", true, "A partition leader asks the transaction coordinator whether a producer's transaction contains the partition before its first transactional append there (KIP-890 part 1, Kafka 3.6+)."),
];

/// Broker configs Kafka has that a scenario cannot set.
#[rustfmt::skip]
pub(crate) static BROKER_UNSUPPORTED: &[(&str, &str)] = &[
    ("node.id", "node ids are assigned by ksim from [cluster] brokers and controllers"),
    ("broker.id", "node ids are assigned by ksim from [cluster] brokers and controllers"),
    ("process.roles", "set by ksim: brokers and dedicated controllers come from [cluster]"),
    ("controller.quorum.voters", "set by ksim from [cluster] controllers"),
    ("controller.quorum.bootstrap.servers", "set by ksim from [cluster] controllers"),
    ("listeners", "the simulated network has no listeners to configure"),
    ("advertised.listeners", "the simulated network has no listeners to configure"),
    ("log.dirs", "each node has one simulated disk; see [disk]"),
    ("log.dir", "each node has one simulated disk; see [disk]"),
];

/// Real broker configs ksim does not simulate, with what it does instead.
/// A scenario that sets one is refused, so that no setting is silently ignored.
#[rustfmt::skip]
pub(crate) static BROKER_NOT_SIMULATED: &[(&str, &str)] = &[
    ("log.initial.task.delay.ms", "the log manager's first retention check runs 30000 ms after a broker starts (Kafka's default); its checkpoints start one interval after"),
    ("log.roll.jitter.ms", "segments roll without jitter (Kafka's default, 0)"),
    ("log.roll.jitter.hours", "segments roll without jitter (Kafka's default, 0)"),
    ("replica.fetch.min.bytes", "a follower's fetch is answered as soon as any byte is there (Kafka's default, 1)"),
    ("num.replica.fetchers", "each broker runs one fetcher per leader (Kafka's default, 1)"),
    ("auto.leader.rebalance.enable", "preferred leader election is not modelled: leadership moves only when a leader fails"),
    ("leader.imbalance.check.interval.seconds", "preferred leader election is not modelled"),
    ("leader.imbalance.per.broker.percentage", "preferred leader election is not modelled"),
    ("controlled.shutdown.max.retries", "ZooKeeper mode only (KafkaServer's ControlledShutdown request); a KRaft broker asks by heartbeat until the controller answers shouldShutDown, for at most 5 minutes"),
    ("controlled.shutdown.retry.backoff.ms", "ZooKeeper mode only (KafkaServer's ControlledShutdown request); a KRaft broker heartbeats every broker.heartbeat.interval.ms while it waits"),
    ("log.cleaner.threads", "one log cleaner thread per broker (Kafka's default, 1)"),
    ("log.cleaner.dedupe.buffer.size", "the cleaner's offset map holds every key of a cleaning (Kafka's 128 MiB map holds millions)"),
    ("log.cleaner.io.buffer.size", "cleaning takes no simulated time"),
    ("log.cleaner.io.buffer.load.factor", "the cleaner's offset map holds every key of a cleaning"),
    ("log.cleaner.io.max.bytes.per.second", "cleaning takes no simulated time"),
    ("log.message.timestamp.type", "records carry their CreateTime"),
    ("message.max.bytes", "batch sizes are not checked against a limit (ksim's batches stay far below Kafka's 1048588)"),
    ("auto.create.topics.enable", "topics are created by [[topics]]; clients never create them"),
    ("broker.heartbeat.interval.ms", "brokers heartbeat every 2000 ms (Kafka's default)"),
    ("controller.quorum.request.timeout.ms", "quorum requests are not timed out on their own; the fetch timeout decides"),
    ("controller.quorum.retry.backoff.ms", "the quorum retries after 100 ms"),
    ("controller.quorum.append.linger.ms", "the quorum leader appends records at once"),
    ("group.min.session.timeout.ms", "a member's session.timeout.ms is not checked against the broker's range"),
    ("group.max.session.timeout.ms", "a member's session.timeout.ms is not checked against the broker's range"),
    ("group.max.size", "groups are not limited in size"),
];
