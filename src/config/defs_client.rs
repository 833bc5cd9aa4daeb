//! Producer and consumer client configs, with Kafka 3.x names and defaults.

use super::ConfigDef as D;
use super::Scope::Consumer as C;
use super::Scope::Producer as P;
use super::Scope::Streams as S;

const I: i64 = i32::MAX as i64;

/// The producer configs a scenario may set in `[[producers]].config`.
#[rustfmt::skip]
pub(crate) static PRODUCER: &[D] = &[
    D::one_of(P, "acks", &["all", "-1", "0", "1"], "all", "Acknowledgements the leader waits for: 0 none, 1 the leader, all the in-sync replicas.").aliases(&[("-1", "all")]),
    D::boolean(P, "enable.idempotence", true, "Producer id and sequence numbers, so retries write each record exactly once."),
    D::long(P, "linger.ms", 0, Some(5), "How long a batch waits for more records before it is sent (0 before Kafka 4.0, KIP-1030)."),
    D::int(P, "batch.size", 0, Some(16384), "Largest batch per partition, in bytes."),
    D::one_of(P, "compression.type", &["none", "gzip", "snappy", "lz4", "zstd"], "none", "Compression of the batches the producer sends."),
    D::int(P, "compression.gzip.level", -1, Some(-1), "gzip level: 1..9, or -1 for zlib's default (6). Kafka 3.8+ (KIP-390).").max(9),
    D::int(P, "compression.lz4.level", 1, Some(9), "lz4 level (9, the default: the fast compressor; any other: LZ4 HC). Kafka 3.8+ (KIP-390).").max(17),
    D::int(P, "compression.zstd.level", -131072, Some(3), "zstd level. Kafka 3.8+ (KIP-390).").max(22),
    D::int(P, "max.in.flight.requests.per.connection", 1, Some(5), "Unacknowledged requests per broker connection."),
    D::int(P, "retries", 0, Some(I), "Times a failed send is retried (within delivery.timeout.ms)."),
    D::int(P, "delivery.timeout.ms", 0, Some(120000), "Upper bound on the time from send() to success or failure."),
    D::int(P, "request.timeout.ms", 0, Some(30000), "How long the producer waits for a response to a request."),
    D::long(P, "retry.backoff.ms", 0, Some(100), "Pause before a failed request is retried."),
    D::long(P, "metadata.max.age.ms", 0, Some(300000), "Metadata is refreshed at least this often, so new partitions are seen."),
    D::string(P, "transactional.id", None, "Makes the producer transactional; producer N of the entry uses \"ID-N\". Needs transaction = { records, abort }."),
    D::int(P, "transaction.timeout.ms", 1, Some(60000), "Longest a transaction may stay open before the coordinator aborts it."),
];

/// The consumer configs a scenario may set in `[[consumers]].config`.
#[rustfmt::skip]
pub(crate) static CONSUMER: &[D] = &[
    D::boolean(C, "enable.auto.commit", true, "Commit the polled offsets in the background every auto.commit.interval.ms."),
    D::int(C, "auto.commit.interval.ms", 0, Some(5000), "How often offsets are auto-committed."),
    D::one_of(C, "auto.offset.reset", &["latest", "earliest", "none"], "latest", "Where to start without a committed offset (or with one out of range)."),
    D::int(C, "session.timeout.ms", 0, Some(45000), "A member without a heartbeat for this long is removed from the group."),
    D::int(C, "heartbeat.interval.ms", 0, Some(3000), "How often the member heartbeats to the group coordinator."),
    D::int(C, "max.poll.interval.ms", 1, Some(300000), "Longest time between polls before the member leaves the group."),
    D::int(C, "max.poll.records", 1, Some(500), "Most records one poll() returns."),
    D::int(C, "fetch.max.wait.ms", 0, Some(500), "Longest a fetch waits at the broker for fetch.min.bytes."),
    D::one_of(C, "isolation.level", &["read_uncommitted", "read_committed"], "read_uncommitted", "Whether records of open or aborted transactions are returned."),
    D::list(C, "partition.assignment.strategy", &["range", "roundrobin", "sticky", "cooperative-sticky"], &["range", "cooperative-sticky"], "Assignors the member supports, preferred first.").aliases(&[
        ("org.apache.kafka.clients.consumer.RangeAssignor", "range"),
        ("org.apache.kafka.clients.consumer.RoundRobinAssignor", "roundrobin"),
        ("org.apache.kafka.clients.consumer.StickyAssignor", "sticky"),
        ("org.apache.kafka.clients.consumer.CooperativeStickyAssignor", "cooperative-sticky"),
    ]),
    D::string(C, "group.instance.id", None, "Static membership: a restart within session.timeout.ms keeps the assignment."),
    D::int(C, "request.timeout.ms", 0, Some(30000), "How long the consumer waits for a response to a request (a JoinGroup, which the coordinator may hold for the whole rebalance: at least max.poll.interval.ms + 5000)."),
    D::int(C, "default.api.timeout.ms", 0, Some(60000), "Timeout of blocking consumer calls such as commitSync()."),
    D::long(C, "retry.backoff.ms", 0, Some(100), "Pause before a failed request is retried."),
    D::long(C, "metadata.max.age.ms", 0, Some(300000), "Metadata is refreshed at least this often; a group leader that sees a partition count change rejoins."),
];

/// Producer configs Kafka has that a scenario cannot set.
#[rustfmt::skip]
pub(crate) static PRODUCER_UNSUPPORTED: &[(&str, &str)] = &[
    ("bootstrap.servers", "set by ksim: clients know every broker of [cluster]"),
    ("key.serializer", "ksim's workload sends its own keys and values"),
    ("value.serializer", "ksim's workload sends its own keys and values"),
    ("partitioner.class", "ksim models each release's default partitioner only ([protocol] partitioner)"),
    ("interceptor.classes", "plug-in classes cannot be loaded into the simulation"),
];

/// Consumer configs Kafka has that a scenario cannot set.
#[rustfmt::skip]
pub(crate) static CONSUMER_UNSUPPORTED: &[(&str, &str)] = &[
    ("group.id", "set by the group key of [[consumers]]"),
    ("bootstrap.servers", "set by ksim: clients know every broker of [cluster]"),
    ("key.deserializer", "ksim's workload reads its own keys and values"),
    ("value.deserializer", "ksim's workload reads its own keys and values"),
    ("group.protocol", "ksim models the classic group protocol only"),
    ("interceptor.classes", "plug-in classes cannot be loaded into the simulation"),
];

/// The Kafka Streams configs a pipeline may set in `[[pipelines]].config`
/// (Kafka 4.x `StreamsConfig`; `exactly_once` and `exactly_once_beta` were
/// removed in 4.0).
#[rustfmt::skip]
pub(crate) static STREAMS: &[D] = &[
    D::one_of(S, "processing.guarantee", &["at_least_once", "exactly_once_v2"], "at_least_once", "at_least_once: flush the output, then commit the input offsets; exactly_once_v2: output and offsets in one transaction (KIP-447)."),
    D::long(S, "commit.interval.ms", 0, Some(30000), "How often a member commits (100 under exactly_once_v2 when not set)."),
];

/// Kafka Streams configs a pipeline cannot set.
#[rustfmt::skip]
pub(crate) static STREAMS_UNSUPPORTED: &[(&str, &str)] = &[
    ("application.id", "set by the group key of [[pipelines]] (the consumer group and the transactional id prefix)"),
    ("bootstrap.servers", "set by ksim: clients know every broker of [cluster]"),
    ("num.stream.threads", "set by the count key of [[pipelines]]: one member per thread"),
    ("default.key.serde", "ksim's pipelines read and write their own keys and values"),
    ("default.value.serde", "ksim's pipelines read and write their own keys and values"),
];

/// Real producer configs ksim does not simulate, with what it does instead.
/// A scenario that sets one is refused, so that no setting is silently ignored.
#[rustfmt::skip]
pub(crate) static PRODUCER_NOT_SIMULATED: &[(&str, &str)] = &[
    ("client.id", "clients are named by ksim (producer-N), and nothing in ksim reads the name"),
    ("buffer.memory", "send() never blocks on buffer space: the workload's records always fit"),
    ("retry.backoff.max.ms", "retries back off by retry.backoff.ms, without exponential growth"),
    ("max.block.ms", "a send() waiting for its topic's metadata waits until the topic exists; it is not failed after max.block.ms"),
    ("max.request.size", "produce requests are not checked against a limit"),
    ("partitioner.ignore.keys", "keyed records go by murmur2 of the key, unkeyed ones by the release's partitioner ([protocol] partitioner)"),
    ("partitioner.adaptive.partitioning.enable", "the built-in partitioner (Kafka 3.3+) picks uniformly among partitions with a leader"),
    ("partitioner.availability.timeout.ms", "the partitioners skip only partitions without a leader"),
    ("metadata.max.idle.ms", "clients keep the metadata of their topic"),
    ("reconnect.backoff.ms", "a client reconnects with its next request"),
    ("reconnect.backoff.max.ms", "a client reconnects with its next request"),
    ("connections.max.idle.ms", "connections are never closed for idleness"),
];

/// Real consumer configs ksim does not simulate, with what it does instead.
/// A scenario that sets one is refused, so that no setting is silently ignored.
#[rustfmt::skip]
pub(crate) static CONSUMER_NOT_SIMULATED: &[(&str, &str)] = &[
    ("client.id", "clients are named by ksim (consumer-GROUP-N), and nothing in ksim reads the name"),
    ("fetch.min.bytes", "a fetch is answered as soon as any byte is there (Kafka's default, 1)"),
    ("fetch.max.bytes", "fetches are limited per partition only"),
    ("max.partition.fetch.bytes", "a fetch reads up to 1048576 bytes per partition (Kafka's default)"),
    ("retry.backoff.max.ms", "retries back off by retry.backoff.ms, without exponential growth"),
    ("check.crcs", "consumers always verify batch CRCs (Kafka's default)"),
    ("allow.auto.create.topics", "topics are created by [[topics]]; clients never create them"),
    ("exclude.internal.topics", "consumers subscribe to one named topic, never by pattern"),
    ("reconnect.backoff.ms", "a client reconnects with its next request"),
    ("reconnect.backoff.max.ms", "a client reconnects with its next request"),
    ("connections.max.idle.ms", "connections are never closed for idleness"),
];
