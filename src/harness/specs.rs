//! The harness's one translation of a scenario into the model's own
//! configs: each broker's, controller's and client's settings from the
//! scenario's Kafka configs, with Kafka's defaults for what it leaves out.

use sim::MILLIS;

use crate::broker::config::{BrokerConfig, ControllerRequestTimeouts};
use crate::client::consumer::{ConsumerConfig, ConsumerMutations, OffsetReset};
use crate::client::membership::MembershipConfig;
use crate::client::pipeline::{PipelineSpec as PipelineConfig, ProcessingGuarantee};
use crate::client::producer::{
    ProducerConfig, ProducerSpec as ProducerClientSpec, ProducerWorkload, TransactionWorkload,
};
use crate::config::Scope;
use crate::config::{KafkaConfigs, KafkaVersion};
use crate::controller::active::ControllerConfig;
use crate::controller::raft::RaftConfig;
use crate::group::assignor::Assignor;
use crate::log::{Compression, CompressionType, LogCompression, LogConfig};
use crate::node::KafkaNodeId;
use crate::protocol::{IsolationLevel, Topics};
use crate::scenario::{ConsumerSpec, PipelineSpec, Processing, ProtocolSpec, Scenario};
use crate::txn::TransactionVersion;

/// A config as an unsigned number, or its default.
pub(super) fn unsigned(configs: &KafkaConfigs, name: &str, default: u64) -> u64 {
    configs
        .get_i64(name)
        .map_or(default, |v| u64::try_from(v).unwrap_or(default))
}

/// The quorum's timing from `[cluster.config]` (`controller.quorum.*`).
fn raft_config(configs: &KafkaConfigs, protocol: &ProtocolSpec) -> RaftConfig {
    let d = RaftConfig::default();
    let int = |name: &str, default: u64| unsigned(configs, name, default);
    RaftConfig {
        election_timeout_ms: int(
            "controller.quorum.election.timeout.ms",
            d.election_timeout_ms,
        )
        .max(1),
        fetch_timeout_ms: int("controller.quorum.fetch.timeout.ms", d.fetch_timeout_ms).max(1),
        election_backoff_max_ms: int(
            "controller.quorum.election.backoff.max.ms",
            d.election_backoff_max_ms,
        )
        .max(1),
        pre_vote: protocol.kraft_pre_vote,
        fetch_high_watermark: protocol.kraft_fetch_high_watermark,
        ..d
    }
}

/// `compression.type` and the codec levels of a broker's `[cluster.config]`.
fn log_compression(configs: &KafkaConfigs) -> LogCompression {
    let codec = configs
        .get_str("compression.type")
        .and_then(|name| LogCompression::codec_named(&name))
        .unwrap_or_default();
    with_levels(configs, codec)
}

/// `codec` with the levels `compression.gzip.level`, `compression.lz4.level`
/// and `compression.zstd.level` of `configs` (KIP-390; the same names on
/// brokers and producers).
fn with_levels(configs: &KafkaConfigs, codec: Option<CompressionType>) -> LogCompression {
    let d = LogCompression::default();
    let level = |name: &str, default: i32| {
        configs.get_i64(name).map_or(default, |v| {
            v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        })
    };
    LogCompression {
        codec,
        gzip_level: level("compression.gzip.level", d.gzip_level),
        lz4_level: level("compression.lz4.level", d.lz4_level),
        zstd_level: level("compression.zstd.level", d.zstd_level),
    }
}

/// A broker's request timeouts towards the controller, by channel:
/// heartbeats wait `broker.session.timeout.ms` / 2 from 3.3 (ksim's 3.3 is
/// 3.3.2, which has KAFKA-14392), the whole session timeout before.
fn controller_request_timeouts(scenario: &Scenario) -> ControllerRequestTimeouts {
    let configs = &scenario.cluster.config;
    let d = ControllerRequestTimeouts::default();
    let session_ms = unsigned(configs, "broker.session.timeout.ms", 9000);
    let heartbeat_retry_ms = if scenario.protocol.kafka_version.has(KafkaVersion::new(3, 3)) {
        session_ms / 2
    } else {
        session_ms
    };
    let socket_ms = unsigned(
        configs,
        "controller.socket.timeout.ms",
        d.controller_socket_ms,
    );
    ControllerRequestTimeouts {
        heartbeat_ms: heartbeat_retry_ms.min(socket_ms),
        controller_socket_ms: socket_ms,
    }
}

/// The brokers' configs from `[cluster.config]` and `[protocol]`.
pub fn broker_config(scenario: &Scenario) -> BrokerConfig {
    let configs = &scenario.cluster.config;
    let d = BrokerConfig::default();
    let int = |name: &str, default: u64| unsigned(configs, name, default);
    let policy = |name: &str| {
        configs
            .get_list("log.cleanup.policy")
            .is_some_and(|p| p.iter().any(|v| v == name))
    };
    BrokerConfig {
        log_cleaner_enable: configs
            .get_bool("log.cleaner.enable")
            .unwrap_or(d.log_cleaner_enable),
        controlled_shutdown_enable: configs
            .get_bool("controlled.shutdown.enable")
            .unwrap_or(d.controlled_shutdown_enable),
        metadata_applied_in_controlled_shutdown: scenario
            .protocol
            .metadata_applied_in_controlled_shutdown,
        log_cleaner_backoff_ms: int("log.cleaner.backoff.ms", d.log_cleaner_backoff_ms),
        replica_lag_time_max_ms: int("replica.lag.time.max.ms", d.replica_lag_time_max_ms),
        replica_fetch_wait_max_ms: int("replica.fetch.wait.max.ms", d.replica_fetch_wait_max_ms),
        replica_fetch_max_bytes: int("replica.fetch.max.bytes", d.replica_fetch_max_bytes as u64)
            as usize,
        replica_fetch_backoff_ms: int("replica.fetch.backoff.ms", d.replica_fetch_backoff_ms),
        replica_socket_timeout_ms: int("replica.socket.timeout.ms", d.replica_socket_timeout_ms),
        controller_request_timeouts: controller_request_timeouts(scenario),
        hw_checkpoint_interval_ms: int(
            "replica.high.watermark.checkpoint.interval.ms",
            d.hw_checkpoint_interval_ms,
        ),
        recovery_checkpoint_interval_ms: int(
            "log.flush.offset.checkpoint.interval.ms",
            d.recovery_checkpoint_interval_ms,
        ),
        retention_check_interval_ms: int(
            "log.retention.check.interval.ms",
            d.retention_check_interval_ms,
        )
        .max(1),
        log_start_offset_checkpoint_interval_ms: int(
            "log.flush.start.offset.checkpoint.interval.ms",
            d.log_start_offset_checkpoint_interval_ms,
        ),
        min_insync_replicas: int("min.insync.replicas", 1) as usize,
        truncation: scenario.protocol.truncation,
        hw_held_below_min_isr: scenario.protocol.hw_held_below_min_isr,
        hw_wait_checks_isr_eligibility: !scenario.protocol.leader_epoch_bump_on_isr_shrink,
        broker_epoch_in_alter_partition: scenario.protocol.broker_epoch_in_alter_partition,
        offsets_kept_while_group_active: scenario.protocol.offsets_kept_while_group_active,
        static_leader_rejoins_as_leader: scenario.protocol.static_leader_rejoins_as_leader,
        static_member_id_replaced_in_any_state: scenario
            .protocol
            .static_member_id_replaced_in_any_state,
        fenced_replicas_kept_out_of_isr: scenario.protocol.fenced_replicas_kept_out_of_isr,
        isr_join_requires_epoch_start_offset: scenario
            .protocol
            .isr_join_requires_epoch_start_offset,
        leader_epoch_in_replica_fetch: scenario.protocol.leader_epoch_in_replica_fetch,
        truncation_on_fetch: scenario.protocol.truncation_on_fetch,
        alter_partition_sent_at_once: scenario.protocol.alter_partition_sent_at_once,
        pending_isr_state: scenario.protocol.pending_isr_state,
        producer_fenced_error: scenario.protocol.producer_fenced_error,
        follower_fetch_waits_for_data: scenario.protocol.follower_fetch_waits_for_data,
        failed_epoch_fence_remembered: scenario.protocol.failed_epoch_fence_remembered,
        strict_end_txn_epoch: scenario.protocol.strict_end_txn_epoch,
        fetch_session_leader_epoch: scenario.protocol.fetch_session_leader_epoch,
        static_rejoin_rebalances_when_completing: scenario
            .protocol
            .static_rejoin_rebalances_when_completing,
        new_member_heartbeat_expiration: scenario.protocol.new_member_heartbeat_expiration,
        transactional_epoch_bump: scenario.protocol.transactional_epoch_bump,
        unknown_producer_any_sequence: scenario.protocol.unknown_producer_any_sequence,
        unknown_producer_sequence_zero_in_tv2: scenario
            .protocol
            .unknown_producer_sequence_zero_in_tv2,
        unknown_producer_sequence_zero_on_empty_log: scenario
            .protocol
            .unknown_producer_sequence_zero_on_empty_log,
        leader_state_kept_on_partition_update: scenario
            .protocol
            .leader_state_kept_on_partition_update,
        hw_incremented_after_alter_partition: scenario
            .protocol
            .hw_incremented_after_alter_partition,
        alter_partition_kept_on_role_change: scenario.protocol.alter_partition_kept_on_role_change,
        log: LogConfig {
            segment_bytes: int("log.segment.bytes", d.log.segment_bytes),
            flush_interval_messages: int(
                "log.flush.interval.messages",
                d.log.flush_interval_messages,
            ),
            flush_interval_ms: int("log.flush.interval.ms", d.log.flush_interval_ms),
            compression: log_compression(configs),
            segment_ms: int("log.roll.ms", d.log.segment_ms).max(1),
            retention_ms: configs
                .get_i64("log.retention.ms")
                .unwrap_or(d.log.retention_ms),
            retention_bytes: configs
                .get_i64("log.retention.bytes")
                .unwrap_or(d.log.retention_bytes),
            file_delete_delay_ms: int("log.segment.delete.delay.ms", d.log.file_delete_delay_ms),
            delete_policy: policy("delete"),
            compact: policy("compact"),
            min_cleanable_ratio: configs
                .get_f64("log.cleaner.min.cleanable.ratio")
                .unwrap_or(d.log.min_cleanable_ratio),
            min_compaction_lag_ms: int(
                "log.cleaner.min.compaction.lag.ms",
                d.log.min_compaction_lag_ms,
            ),
            max_compaction_lag_ms: int(
                "log.cleaner.max.compaction.lag.ms",
                d.log.max_compaction_lag_ms,
            ),
            delete_retention_ms: int("log.cleaner.delete.retention.ms", d.log.delete_retention_ms),
            recovery_point_held_after_recovery: scenario
                .protocol
                .recovery_point_held_after_recovery,
            trust_epoch_checkpoint: false,
            contracts: true,
        },
        offsets_topic_num_partitions: int(
            "offsets.topic.num.partitions",
            u64::from(d.offsets_topic_num_partitions),
        )
        .clamp(1, u64::from(u32::MAX)) as u32,
        offsets_commit_timeout_ms: int("offsets.commit.timeout.ms", d.offsets_commit_timeout_ms),
        group_initial_rebalance_delay_ms: int(
            "group.initial.rebalance.delay.ms",
            d.group_initial_rebalance_delay_ms,
        ),
        offsets_retention_ms: int("offsets.retention.minutes", d.offsets_retention_ms / 60_000)
            .saturating_mul(60_000),
        offsets_retention_check_interval_ms: int(
            "offsets.retention.check.interval.ms",
            d.offsets_retention_check_interval_ms,
        ),
        forget_offsets_on_load: false,
        unmuted_connections: false,
        commit_aborted_transactions: false,
        drop_txn_markers: false,
        serve_below_log_start: false,
        transaction_state_log_num_partitions: int(
            "transaction.state.log.num.partitions",
            u64::from(d.transaction_state_log_num_partitions),
        )
        .clamp(1, u64::from(u32::MAX)) as u32,
        transaction_max_timeout_ms: int("transaction.max.timeout.ms", d.transaction_max_timeout_ms),
        transaction_abort_timed_out_transaction_cleanup_interval_ms: int(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            d.transaction_abort_timed_out_transaction_cleanup_interval_ms,
        ),
        transaction_partition_verification_enable: configs
            .get_bool("transaction.partition.verification.enable")
            .unwrap_or(d.transaction_partition_verification_enable),
        transaction_version: TransactionVersion(scenario.protocol.transaction_version),
        add_partitions_to_txn_retry_backoff_ms: int(
            "add.partitions.to.txn.retry.backoff.ms",
            d.add_partitions_to_txn_retry_backoff_ms,
        ),
        add_partitions_to_txn_max_timeout_ms: int(
            "add.partitions.to.txn.retry.backoff.max.ms",
            d.add_partitions_to_txn_max_timeout_ms,
        ),
        raft: raft_config(configs, &scenario.protocol),
    }
}

/// The controllers' configs from the scenario's broker configs.
pub fn controller_config(scenario: &Scenario) -> ControllerConfig {
    let config = &scenario.cluster.config;
    let defaults = ControllerConfig::default();
    ControllerConfig {
        session_timeout_ns: config
            .get_i64("broker.session.timeout.ms")
            .map_or(defaults.session_timeout_ns, |ms| ms.max(1) as u64 * MILLIS),
        unclean_leader_election: config
            .get_bool("unclean.leader.election.enable")
            .unwrap_or(defaults.unclean_leader_election),
        raft: raft_config(config, &scenario.protocol),
        leader_epoch_bump_on_isr_shrink: scenario.protocol.leader_epoch_bump_on_isr_shrink,
        fenced_replicas_kept_out_of_isr: scenario.protocol.fenced_replicas_kept_out_of_isr,
        metadata_noop_records: scenario.protocol.metadata_noop_records,
        unfence_at_registration_offset: scenario.protocol.unfence_at_registration_offset,
        delete_topic_enable: config
            .get_bool("delete.topic.enable")
            .unwrap_or(defaults.delete_topic_enable),
        eligible_leader_replicas: scenario.protocol.eligible_leader_replicas,
        min_insync_replicas: config
            .get_i64("min.insync.replicas")
            .map_or(defaults.min_insync_replicas, |n| n.max(1) as usize),
    }
}

/// A producer's configs from its `[[producers]]` entry, with the run's
/// partitioner for records without a key (`[protocol] partitioner`).
pub fn producer_config(c: &KafkaConfigs, protocol: &ProtocolSpec) -> ProducerConfig {
    let int = |name: &str, d: u64| unsigned(c, name, d);
    let acks = match c.producer_acks().as_str() {
        "0" => 0,
        "1" => 1,
        _ => -1,
    };
    ProducerConfig {
        acks,
        linger_ms: int("linger.ms", 0),
        batch_size: int("batch.size", 16384) as usize,
        max_in_flight: u64::try_from(c.producer_max_in_flight())
            .unwrap_or(5)
            .max(1) as usize,
        retries: u64::try_from(c.producer_retries())
            .unwrap_or(i32::MAX as u64)
            .min(u32::MAX as u64) as u32,
        delivery_timeout_ms: int("delivery.timeout.ms", 120_000),
        delivery_timeout_bounds_sends: protocol.delivery_timeout_bounds_sends,
        request_timeout_ms: int("request.timeout.ms", 30_000),
        retry_backoff_ms: int("retry.backoff.ms", 100),
        metadata_max_age_ms: int("metadata.max.age.ms", 300_000),
        idempotence: c.idempotence_enabled(),
        compression: producer_compression(c),
        partitioner: protocol.partitioner,
    }
}

/// A producer's `compression.type` with the level its codec's
/// `compression.*.level` sets (KIP-390).
fn producer_compression(c: &KafkaConfigs) -> Compression {
    let kind = c
        .get_str("compression.type")
        .and_then(|name| CompressionType::from_name(&name))
        .unwrap_or_default();
    with_levels(c, Some(kind))
        .target()
        .unwrap_or(Compression::NONE)
}

/// The configs of a consumer of a `[[consumers]]` entry, the member named `client_id`.
pub fn consumer_config(
    spec: &ConsumerSpec,
    topics: &Topics,
    client_id: &str,
    bootstrap_servers: Vec<KafkaNodeId>,
    mutations: ConsumerMutations,
) -> ConsumerConfig {
    let c = &spec.config;
    let int = |name: &str, d: u64| unsigned(c, name, d);
    let mut membership = MembershipConfig::new(&spec.group, client_id);
    membership.group_instance_id = c.get_str("group.instance.id");
    membership.session_timeout_ms = int("session.timeout.ms", membership.session_timeout_ms);
    membership.heartbeat_interval_ms =
        int("heartbeat.interval.ms", membership.heartbeat_interval_ms);
    membership.max_poll_interval_ms = int("max.poll.interval.ms", membership.max_poll_interval_ms);
    membership.retry_backoff_ms = int("retry.backoff.ms", membership.retry_backoff_ms);
    if let Some(names) = c.get_list("partition.assignment.strategy") {
        let assignors: Vec<Assignor> = names
            .iter()
            .filter_map(|n| Assignor::from_name(n))
            .collect();
        if !assignors.is_empty() {
            membership.assignors = assignors;
        }
    }
    ConsumerConfig {
        bootstrap_servers,
        topic: spec.topic.clone(),
        topic_id: topics
            .id(&spec.topic)
            .expect("the scenario's topics are in the run's table"),
        membership,
        enable_auto_commit: c.get_bool("enable.auto.commit").unwrap_or(true),
        auto_commit_interval_ms: int("auto.commit.interval.ms", 5000),
        auto_offset_reset: match c.get_str("auto.offset.reset").as_deref() {
            Some("earliest") => OffsetReset::Earliest,
            Some("none") => OffsetReset::None,
            _ => OffsetReset::Latest,
        },
        max_poll_records: int("max.poll.records", 500).max(1) as usize,
        fetch_max_wait_ms: int("fetch.max.wait.ms", 500),
        isolation_level: match c.get_str("isolation.level").as_deref() {
            Some("read_committed") => IsolationLevel::ReadCommitted,
            _ => IsolationLevel::ReadUncommitted,
        },
        request_timeout_ms: int("request.timeout.ms", 30_000),
        retry_backoff_ms: int("retry.backoff.ms", 100),
        metadata_max_age_ms: int("metadata.max.age.ms", 300_000),
        default_api_timeout_ms: int("default.api.timeout.ms", 60_000),
        processing: spec.processing,
        processing_time_ns: spec.processing_time_ns,
        leader_epoch_validation: true,
        mutations,
    }
}

/// Kafka Streams' `transaction.timeout.ms` under exactly_once_v2
/// (`StreamsConfig.PRODUCER_EOS_OVERRIDES`: "Reduce the transaction
/// timeout for quicker pending offset expiration on broker side").
pub const STREAMS_EOS_TRANSACTION_TIMEOUT_MS: u64 = 10_000;

/// Member `index` of a `[[pipelines]]` entry, named `client_id`: its
/// consumer and producer with Kafka Streams' client overrides
/// (`StreamsConfig`: the consumer reads from the earliest offset, polls up
/// to 1000 records, never auto-commits, and reads read_committed under
/// exactly_once_v2; the producer lingers 100 ms, and under exactly_once_v2
/// is transactional with `transactional.id` GROUP-N, idempotent, with
/// `delivery.timeout.ms` Integer.MAX_VALUE and `transaction.timeout.ms`
/// 10000). `protocol` gives the cluster's finalized `transaction.version`
/// (as the producer learns it from ApiVersions) and the partitioner.
pub fn pipeline_config(
    spec: &PipelineSpec,
    protocol: &ProtocolSpec,
    index: u32,
    topics: &Topics,
    client_id: &str,
    bootstrap_servers: Vec<KafkaNodeId>,
    mutations: ConsumerMutations,
) -> PipelineConfig {
    let guarantee = spec.guarantee();
    let eos = guarantee == ProcessingGuarantee::ExactlyOnceV2;
    // Kafka Streams takes its clients' configs prefixed `consumer.` and
    // `producer.`; what they set wins over Kafka Streams' overrides.
    let consumer_configs = spec.config.prefixed("consumer.", Scope::Consumer);
    let producer_configs = spec.config.prefixed("producer.", Scope::Producer);
    let consumer_spec = ConsumerSpec {
        topic: spec.input.clone(),
        group: spec.group.clone(),
        count: spec.count,
        config: consumer_configs.clone(),
        processing: Processing::Pipeline,
        processing_time_ns: 0,
    };
    let mut consumer = consumer_config(
        &consumer_spec,
        topics,
        client_id,
        bootstrap_servers.clone(),
        mutations,
    );
    consumer.enable_auto_commit = false;
    if !consumer_configs.is_set("auto.offset.reset") {
        consumer.auto_offset_reset = OffsetReset::Earliest;
    }
    if !consumer_configs.is_set("max.poll.records") {
        consumer.max_poll_records = 1000;
    }
    if eos {
        consumer.isolation_level = IsolationLevel::ReadCommitted;
    }
    let transaction_version = protocol.transaction_version;
    let mut config = producer_config(&producer_configs, protocol);
    if !producer_configs.is_set("linger.ms") {
        config.linger_ms = 100;
    }
    if eos && !producer_configs.is_set("delivery.timeout.ms") {
        config.delivery_timeout_ms = i32::MAX as u64;
    }
    let producer = ProducerClientSpec {
        index,
        config,
        workload: ProducerWorkload {
            topic: spec.output.clone(),
            topic_id: topics
                .id(&spec.output)
                .expect("the scenario's topics are in the run's table"),
            records: 0,
            per_ns: 1,
            keys: 0,
            value_size: 100,
            tombstones_ppm: 0,
            stop_at_ns: 0,
        },
        brokers: bootstrap_servers,
        transaction: spec
            .transactional_id(index)
            .map(|transactional_id| TransactionWorkload {
                transactional_id,
                transaction_timeout_ms: if producer_configs.is_set("transaction.timeout.ms") {
                    unsigned(&producer_configs, "transaction.timeout.ms", 60_000)
                } else {
                    STREAMS_EOS_TRANSACTION_TIMEOUT_MS
                },
                records: u64::MAX,
                abort_ppm: 0,
                finalized_transaction_version: transaction_version,
                coordinator_supports_bumping_epoch: protocol.transactional_epoch_bump,
            }),
    };
    PipelineConfig {
        consumer,
        producer,
        guarantee,
        commit_interval_ms: spec.commit_interval_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    /// The consumer config of the first `[[consumers]]` entry of a scenario
    /// whose consumers set `config`.
    fn consumer_with(config: &str) -> ConsumerConfig {
        let text = format!(
            "name = \"c\"\nduration = \"1s\"\n[cluster]\nbrokers = 1\n\
             [[topics]]\nname = \"t\"\n[[consumers]]\ntopic = \"t\"\ngroup = \"g\"\n\
             config = {config}\n"
        );
        let scenario = parse(&text, "c.toml").expect("it parses");
        let topics = Topics::new(["t".to_owned()]);
        let spec = &scenario.consumers[0];
        consumer_config(spec, &topics, "c", Vec::new(), ConsumerMutations::default())
    }

    #[test]
    fn isolation_level_reaches_the_consumer() {
        let committed = consumer_with("{ \"isolation.level\" = \"read_committed\" }");
        assert_eq!(committed.isolation_level, IsolationLevel::ReadCommitted);
        let default = consumer_with("{}");
        assert_eq!(default.isolation_level, IsolationLevel::ReadUncommitted);
    }
}
