//! The parsed scenario: what to run, for how long, with which faults, and
//! which invariants to check.

use std::collections::BTreeMap;

use super::fault::FaultKind;
use super::invariant::Invariant;
use super::target::Target;
use super::units::Rate;
use crate::config::KafkaConfigs;

/// A validated scenario file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scenario {
    /// Short name, e.g. "broker_crash".
    pub name: String,
    /// What the scenario shows.
    pub description: String,
    /// Length of the fault phase, in simulated nanoseconds.
    pub duration_ns: u64,
    /// Length of the settle phase (everything healed and restarted).
    pub settle_ns: u64,
    /// Brokers, controllers and broker configs.
    pub cluster: Cluster,
    /// Topics created before the workload starts.
    pub topics: Vec<TopicSpec>,
    /// Producer workloads.
    pub producers: Vec<ProducerSpec>,
    /// Consumer workloads.
    pub consumers: Vec<ConsumerSpec>,
    /// Consume-transform-produce pipelines.
    pub pipelines: Vec<PipelineSpec>,
    /// Network latency.
    pub network: NetworkSpec,
    /// Disk timing.
    pub disk: DiskSpec,
    /// Selectable historical protocol behaviours.
    pub protocol: ProtocolSpec,
    /// Scripted faults, in file order.
    pub faults: Vec<FaultSpec>,
    /// Timed topic operations (`[[admin]]`), in time order.
    pub admin: Vec<AdminOpSpec>,
    /// Random faults drawn per seed.
    pub swarm: Option<SwarmSpec>,
    /// Invariants to check.
    pub check: CheckSpec,
    /// The known Kafka anomaly the scenario shows, if it shows one.
    pub anomaly: Option<AnomalySpec>,
}

/// A known Kafka anomaly a scenario shows (`[anomaly]`): the release it
/// pins breaks `breaks` on `seeds`, and the release (or behaviour) that
/// fixed it, the `[protocol]` keys `fixed`, does not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnomalySpec {
    /// The KIP or JIRA.
    pub reference: String,
    /// The invariants every seed that shows the anomaly breaks.
    pub breaks: Vec<Invariant>,
    /// Invariants such a seed may break too (the anomaly's consequences).
    pub may_also_break: Vec<Invariant>,
    /// Seeds that show it.
    pub seeds: Vec<u64>,
    /// The fix, as `[protocol]` keys: `key = value`, as the file writes them.
    pub fixed: Vec<String>,
    /// Whether this is the fixed variant of the scenario (those keys laid
    /// over its `[protocol]`).
    pub is_fixed_variant: bool,
}

/// The cluster's nodes and broker configs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cluster {
    /// Brokers, numbered 1..=brokers.
    pub brokers: u32,
    /// Dedicated KRaft controllers, numbered 1..=controllers.
    pub controllers: u32,
    /// Broker configs (`[cluster.config]`).
    pub config: KafkaConfigs,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopicSpec {
    /// Kafka topic name.
    pub name: String,
    /// Number of partitions (default: the broker's num.partitions).
    pub partitions: u32,
    /// Replicas per partition (default: the broker's default.replication.factor).
    pub replication_factor: u32,
    /// Topic configs.
    pub config: KafkaConfigs,
    /// Created by an `[[admin]]` create_topic at this time, not at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at_ns: Option<u64>,
}

/// `count` identical producers writing to one topic.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProducerSpec {
    /// The topic written to.
    pub topic: String,
    /// How many producers.
    pub count: u32,
    /// Send rate of each producer.
    pub rate: Rate,
    /// Distinct keys; 0 = null keys (sticky partitioner).
    pub keys: u64,
    /// Share of sends that are tombstones (a null value, deleting the key
    /// from a compacted topic), 0 to 1.
    #[serde(skip_serializing_if = "is_zero")]
    pub tombstones: f64,
    /// Producer configs.
    pub config: KafkaConfigs,
    /// With a `transactional.id`: how the application groups its sends
    /// into transactions (`transaction = { records = 20, abort = 0.1 }`).
    pub transaction: Option<TransactionSpec>,
}

impl ProducerSpec {
    /// Producer `n` of the entry's `transactional.id`: "ID-N" (each of the
    /// application's instances needs its own); None unless transactional.
    pub fn transactional_id(&self, n: u32) -> Option<String> {
        self.transaction.as_ref()?;
        let base = self.config.get_str("transactional.id")?;
        Some(format!("{base}-{n}"))
    }
}

/// A transactional producer's transactions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TransactionSpec {
    /// Sends per transaction: the application commits (or aborts) after this many.
    pub records: u64,
    /// Share of transactions the application aborts (0 to 1).
    pub abort: f64,
}

/// `count` consumers of one group reading one topic.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConsumerSpec {
    /// The topic subscribed to.
    pub topic: String,
    /// Consumer group id.
    pub group: String,
    /// How many members.
    pub count: u32,
    /// Consumer configs.
    pub config: KafkaConfigs,
    /// When the application commits: after processing a poll's records, or before.
    pub processing: Processing,
    /// How long processing one poll's records takes, simulated.
    pub processing_time_ns: u64,
}

pub use crate::client::consumer::Processing;

/// `count` members of a consume-transform-produce pipeline (a Kafka Streams
/// application): they read `input` in the consumer group `group` and write
/// one record to `output` per input record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PipelineSpec {
    /// The topic read.
    pub input: String,
    /// The topic written.
    pub output: String,
    /// The consumer group (Kafka Streams' `application.id`).
    pub group: String,
    /// How many members.
    pub count: u32,
    /// Kafka Streams configs (`processing.guarantee`, `commit.interval.ms`).
    pub config: KafkaConfigs,
}

impl PipelineSpec {
    /// `processing.guarantee`.
    pub fn guarantee(&self) -> ProcessingGuarantee {
        match self.config.get_str("processing.guarantee").as_deref() {
            Some("exactly_once_v2") => ProcessingGuarantee::ExactlyOnceV2,
            _ => ProcessingGuarantee::AtLeastOnce,
        }
    }

    /// `commit.interval.ms` (Kafka Streams: 100 under exactly_once_v2
    /// unless set).
    pub fn commit_interval_ms(&self) -> u64 {
        self.config
            .get_i64("commit.interval.ms")
            .map_or(self.guarantee().default_commit_interval_ms(), |v| {
                v.max(0) as u64
            })
    }

    /// Member `n`'s `transactional.id` under exactly_once_v2: "GROUP-N".
    pub fn transactional_id(&self, n: u32) -> Option<String> {
        (self.guarantee() == ProcessingGuarantee::ExactlyOnceV2)
            .then(|| format!("{}-{n}", self.group))
    }
}

pub use crate::client::pipeline::ProcessingGuarantee;

/// One-way network latency, sampled uniformly per message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkSpec {
    /// Smallest latency.
    pub latency_min_ns: u64,
    /// Largest latency.
    pub latency_max_ns: u64,
}

/// Disk timing and failure behaviour.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskSpec {
    /// Smallest fsync latency.
    pub fsync_latency_min_ns: u64,
    /// Largest fsync latency.
    pub fsync_latency_max_ns: u64,
    /// How often the OS writes back dirty pages.
    pub writeback_interval_ns: u64,
    /// Age at which a dirty page is written back.
    pub dirty_expire_ns: u64,
    /// Whether power loss may leave a torn prefix of the last unflushed write.
    pub torn_writes: bool,
}

/// Selectable historical protocol behaviours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProtocolSpec {
    /// The Kafka release: its defaults, and each switch's own setting.
    pub kafka_version: KafkaVersion,
    /// How a follower truncates its log when it becomes a follower.
    pub truncation: Truncation,
    /// The cluster's finalized `transaction.version` feature: 1 (KIP-98
    /// transactions) or 2 (KIP-890 part 2, Kafka 4.0's default for new
    /// clusters: the epoch is bumped at every commit or abort, and the
    /// partition leader adds partitions to the transaction).
    pub transaction_version: u8,
    /// KAFKA-15583 (Kafka 3.7): a leader holds the high watermark while
    /// the ISR is below the effective min.insync.replicas (the topic's, at
    /// most the replica count). Off before 3.7: an ISR of the leader alone
    /// moves it, and min.insync.replicas is taken as it is.
    pub hw_held_below_min_isr: bool,
    /// Before Kafka 3.6 (KAFKA-15021) an ISR shrink bumps the leader epoch
    /// and the high watermark waits for every caught-up replica outside
    /// the ISR; from 3.6 the shrink keeps the leader epoch and the high
    /// watermark waits only for one that may join the ISR.
    pub leader_epoch_bump_on_isr_shrink: bool,
    /// KIP-903 (Kafka 3.5): a leader sends each new ISR member's broker
    /// epoch (from its fetches) in AlterPartition and proposes only a
    /// replica fetching with its registered epoch; the controller refuses
    /// a stale one (INELIGIBLE_REPLICA). Off (3.3, 3.4): only fenced
    /// replicas are refused (KIP-841).
    pub broker_epoch_in_alter_partition: bool,
    /// KIP-211 (Kafka 2.1): a group with members keeps its committed
    /// offsets however old, and an Empty group's expire a retention after
    /// it emptied. Off (before 2.1, KAFKA-4682): each offset expires
    /// `offsets.retention.minutes` after its commit, active group or not.
    pub offsets_kept_while_group_active: bool,
    /// How producers partition records without a key: round-robin (before
    /// Kafka 2.4), KIP-480's sticky partitioner (2.4 to 3.2), KIP-794's
    /// built-in uniform sticky partitioner (3.3 on).
    pub partitioner: PartitionerKind,
    /// KIP-841 (Kafka 3.3): fenced replicas and brokers in controlled
    /// shutdown are kept out of the ISR (the leader does not propose them,
    /// the controller refuses them, INELIGIBLE_REPLICA), and a broker in
    /// controlled shutdown is registered so (no partition elects it). Off
    /// (before 3.3): a leader proposes any caught-up follower and the
    /// controller takes it; a broker in controlled shutdown is only kept
    /// from leading by the election that moves its leaderships.
    pub fenced_replicas_kept_out_of_isr: bool,
    /// KIP-835 (Kafka 3.3, KAFKA-13883): the active controller appends a
    /// NoOpRecord to the metadata log every `metadata.max.idle.interval.ms`
    /// (500 ms). Off (before 3.3): the metadata log moves only with the
    /// cluster's changes.
    pub metadata_noop_records: bool,
    /// KAFKA-13959 (Kafka 3.3): the controller unfences a fenced broker
    /// once its metadata offset reached its own RegisterBrokerRecord. Off
    /// (before 3.3): once it reached the controller's last committed offset
    /// (of a data record; a busier metadata log may keep it behind).
    pub unfence_at_registration_offset: bool,
    /// KAFKA-13858 (Kafka 3.3): a KRaft broker in controlled shutdown keeps
    /// applying metadata, so the leaderships the controller moves away stop
    /// at once and its replicas out of an ISR stop fetching. Off (before
    /// 3.3): its metadata listener stops when the controlled shutdown
    /// begins, and it goes on as leader, with the image it had, until it
    /// stops.
    pub metadata_applied_in_controlled_shutdown: bool,
    /// KIP-814 (Kafka 3.2): a static member that rejoins a Stable group
    /// under a new member id, unchanged, and led it is told it leads (with
    /// the members). Off (before 3.2): the answer names its old member id
    /// as leader, with no members, so it takes itself for a follower.
    pub static_leader_rejoins_as_leader: bool,
    /// KAFKA-13790 (Kafka 3.3): a metadata update of a partition a broker
    /// leads, in the same leader epoch (an ISR change), keeps the epoch's
    /// start offset and the followers' states. Off (before 3.3): the
    /// leader's `makeLeader` runs again, the epoch start offset becomes
    /// its log end offset and the followers' states restart.
    pub leader_state_kept_on_partition_update: bool,
    /// KAFKA-13091 (Kafka 3.1): a partition leader advances its high
    /// watermark, and completes waiting produces, when an AlterPartition
    /// answer comes. Off (3.0): at its next metadata update, fetch or
    /// append.
    pub hw_incremented_after_alter_partition: bool,
    /// KAFKA-10101 (Kafka 2.8): log recovery leaves the recovery point
    /// where the checkpoint had it (at most the recovered log end offset),
    /// so the next flush fsyncs what recovery found only in the page cache.
    /// Off (2.7 and before): `recoverLog` moves it to the log end offset.
    pub recovery_point_held_after_recovery: bool,
    /// KAFKA-12686 (Kafka 3.0): a partition's AlterPartition (AlterIsr)
    /// waiting to be sent or answered stays queued when the broker becomes
    /// its leader or follower again. Off (2.8 and before): `makeLeader` and
    /// `makeFollower` drop it (`clearPending`), a new proposal waits for
    /// the dropped request's answer, and that answer, which the partition
    /// ignores, drops the new proposal too.
    pub alter_partition_kept_on_role_change: bool,
    /// KAFKA-7128 (Kafka 2.1, and 2.0.1): a follower out of the ISR joins
    /// it once its log end offset reached the high watermark and the start
    /// offset of the leader's current epoch. Off (before): the high
    /// watermark alone, which a new leader may not have advanced yet.
    pub isr_join_requires_epoch_start_offset: bool,
    /// KIP-320 (Kafka 2.1, KAFKA-7395): a follower's Fetch carries its
    /// current leader epoch, and a leader in another epoch answers
    /// FENCED_LEADER_EPOCH (the follower's is older) or
    /// UNKNOWN_LEADER_EPOCH (newer). Off (before 2.1): no epoch, and a
    /// stale leader serves it.
    pub leader_epoch_in_replica_fetch: bool,
    /// KAFKA-10554 (Kafka 2.8): a follower sends its last fetched epoch in
    /// every Fetch and truncates where the leader's diverging epoch says.
    /// Off (2.0 to 2.7): it compares its log with the leader's
    /// (OffsetsForLeaderEpoch) only after it follows a new leader epoch,
    /// until its truncation is complete, then fetches without an epoch.
    pub truncation_on_fetch: bool,
    /// apache/kafka#9749 (Kafka 2.8): a leader's ISR change goes to the
    /// controller at once. Off (2.7): Kafka's `send-alter-isr` task sends
    /// what is queued every 50 ms.
    pub alter_partition_sent_at_once: bool,
    /// KIP-497 (Kafka 2.7, KAFKA-8836): a partition leader's ISR change
    /// (AlterIsr) is pending (`PendingExpandIsr`, `PendingShrinkIsr`, whose
    /// maximal ISR holds the high watermark) while the partition goes on.
    /// Off (2.6 and before): the leader wrote the change to ZooKeeper
    /// itself under the partition's `leaderIsrUpdateLock`; ksim's leader
    /// sends its AlterPartition and the partition waits for the answer
    /// (produces, fetches and markers for it are deferred, the high
    /// watermark holds), then takes the new ISR at once.
    pub pending_isr_state: bool,
    /// KAFKA-9911 (Kafka 2.7): the transaction coordinator answers a
    /// fenced producer epoch (InitProducerId, AddPartitionsToTxn,
    /// AddOffsetsToTxn, EndTxn) PRODUCER_FENCED. Off (2.6 and before):
    /// INVALID_PRODUCER_EPOCH.
    pub producer_fenced_error: bool,
    /// KAFKA-9952 (Kafka 2.6): a leader answers a follower's fetch that
    /// finds no data only when data arrives (`replica.fetch.min.bytes`) or
    /// `replica.fetch.wait.max.ms` passes. Off (2.4, 2.5: KIP-392's
    /// immediate high watermark propagation): also at once when the
    /// partition's high watermark is above the one last sent to that
    /// follower, and a waiting follower fetch completes when it moves past
    /// it.
    pub follower_fetch_waits_for_data: bool,
    /// KAFKA-9666 (Kafka 2.6): the transaction coordinator remembers an
    /// epoch fence whose `__transaction_state` write failed and does not
    /// bump the epoch again; an abort for a fence leaves no last epoch.
    /// Off (2.5): each fence bumps the epoch again, and the abort keeps the
    /// fenced epoch as `lastProducerEpoch`.
    pub failed_epoch_fence_remembered: bool,
    /// KAFKA-9600 (Kafka 2.6): the transaction coordinator takes a client's
    /// EndTxn only with its current producer epoch. Off (2.5): it refuses
    /// an older epoch only (INVALID_PRODUCER_EPOCH) and takes a newer one.
    pub strict_end_txn_epoch: bool,
    /// KAFKA-9338 (Kafka 2.5.0): a leader's fetch session keeps each
    /// partition's current leader epoch, so a follower's incremental fetch
    /// is fenced by KIP-320 (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH) as a
    /// full one is. Off (2.4.1, `CachedPartition.reqData` with
    /// `Optional.empty()`): the partitions of a session, named in the fetch
    /// or not, are read without one, and only a full fetch is fenced.
    pub fetch_session_leader_epoch: bool,
    /// KAFKA-9801 (Kafka 2.5.0): a static member that rejoins with an
    /// unknown member id while the group is CompletingRebalance starts a
    /// rebalance. Off (2.4.1's `doUnknownJoinGroup`, `case Stable |
    /// CompletingRebalance`): it is answered at once, as in Stable, with
    /// the current generation and the old leader id; the leader's
    /// assignment, made for the old member id, gives the new one nothing
    /// until the next rebalance.
    pub static_rejoin_rebalances_when_completing: bool,
    /// KAFKA-9752 (Kafka 2.5.0): a member new when its join phase
    /// completed is expired a session timeout later unless it heartbeats.
    /// Off (2.4.1's `onCompleteJoin`): its heartbeat expiration,
    /// rescheduled while it was still new, completes at once, and it has
    /// none until its next heartbeat or SyncGroup answer.
    pub new_member_heartbeat_expiration: bool,
    /// KIP-360's client side (KAFKA-8710, Kafka 2.5.0): the transaction
    /// coordinator takes InitProducerId v3, so a transactional producer
    /// bumps its epoch itself after an abortable error. Off (2.4.1's
    /// `handleInitProducerId`, InitProducerId v0-2, no producer id or
    /// epoch): 3.8.0's producer (`coordinatorSupportsBumpingEpoch` false)
    /// aborts and goes on in the same epoch, and UNKNOWN_PRODUCER_ID or
    /// INVALID_PRODUCER_ID_MAPPING from its coordinator, or a batch it can
    /// no longer retry (`maybeResolveSequences`), are fatal. An idempotent
    /// producer's bump is local and unaffected.
    pub transactional_epoch_bump: bool,
    /// KIP-91 (Kafka 2.1): `delivery.timeout.ms` bounds a send end to end,
    /// retries included. Off (2.0 and older): a batch waiting in the
    /// producer's accumulator expires more than `request.timeout.ms` after
    /// its last append (if full), its creation plus `linger.ms`, or its last
    /// attempt plus `retry.backoff.ms` (if retried), and a failed send is
    /// retried as long as `retries` allows.
    pub delivery_timeout_bounds_sends: bool,
    /// KIP-320's consumer part (Kafka 2.3, KAFKA-7440 and KAFKA-7747): a
    /// consumer's Fetch and ListOffsets carry the leader epoch its
    /// metadata has, and after a leader change it validates its position
    /// with OffsetsForLeaderEpoch (truncation detection). Off (before
    /// 2.3): no epoch, no validation.
    pub consumer_leader_epoch_validation: bool,
    /// KIP-966 part 1 (on for new clusters from Kafka 4.1,
    /// `eligible.leader.replicas.version` 1): replicas that leave the ISR
    /// while it is below min.insync.replicas become eligible leader
    /// replicas, the ISR may empty, an ELR member may be elected when it
    /// is, and a broker that restarts without a clean shutdown marker
    /// naming its last broker epoch leaves every ISR and ELR.
    pub eligible_leader_replicas: bool,
    /// KIP-996 (Kafka 4.0): a KRaft voter whose fetch or election timeout
    /// expires becomes Prospective and asks for pre-votes in its epoch,
    /// bumping the epoch as a Candidate only once a majority grants them; a
    /// follower that has fetched from its leader refuses them. Off (3.x):
    /// the timeout makes it a Candidate of the next epoch, and a voter cut
    /// off from the quorum comes back with a higher epoch that deposes the
    /// leader.
    pub kraft_pre_vote: bool,
    /// KIP-1166 (Kafka 4.1): a KRaft replica sends the high watermark it
    /// knows in its Fetch; the leader holds a Fetch with nothing to return
    /// only while that is its own, and answers the held ones when its high
    /// watermark rises. Off (before 4.1): a held Fetch waits for new
    /// entries or 500 ms, so committed metadata reaches the brokers up to
    /// that much later.
    pub kraft_fetch_high_watermark: bool,
    /// KAFKA-8500 (Kafka 2.3.0, the first release with static membership):
    /// a static member that rejoins with an unknown member id is given a
    /// new member id and the old one is fenced (FENCED_INSTANCE_ID) in any
    /// group state. Off (trunk's KIP-345 code before the fix, never
    /// released): only in a Stable group; in a rebalancing group the new
    /// incarnation joins as the old member id, so two processes with one
    /// `group.instance.id` can both hold it.
    pub static_member_id_replaced_in_any_state: bool,
    /// KIP-360 (Kafka 2.5): a partition leader appends the first batch of
    /// a producer it has no state for at any sequence. Off (2.4): it
    /// answers UNKNOWN_PRODUCER_ID unless the batch is at sequence 0.
    pub unknown_producer_any_sequence: bool,
    /// KAFKA-18202 (Kafka 4.1): under transactions v2, a verified
    /// transactional batch of a producer the partition has no state for
    /// must start at sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER).
    pub unknown_producer_sequence_zero_in_tv2: bool,
    /// KAFKA-15591's fix (Kafka 4.5, newer than ksim models): a partition
    /// that never held a record takes only sequence 0 from a producer it
    /// has no state for (else OUT_OF_ORDER_SEQUENCE_NUMBER). Off in every
    /// modelled release: a producer's first batch overtaken by its next is
    /// lost.
    pub unknown_producer_sequence_zero_on_empty_log: bool,
}

pub use crate::broker::config::Truncation;
pub use crate::client::partitioner::PartitionerKind;
pub use crate::config::KafkaVersion;

impl ProtocolSpec {
    /// The switches set against the release: each as `name = value`, with
    /// the release's own setting.
    pub fn against_version(&self) -> Vec<String> {
        let v = self.kafka_version;
        let mut out = Vec::new();
        let mut against = |name: &str, set: String, own: String, reference: &str| {
            if set != own {
                out.push(format!(
                    "{name} = {set} (Kafka {v}'s own: {own}, {reference})"
                ));
            }
        };
        let truncation = |t: Truncation| format!("{:?}", t.name());
        against(
            "truncation",
            truncation(self.truncation),
            truncation(v.truncation()),
            "KIP-101",
        );
        against(
            "hw_held_below_min_isr",
            self.hw_held_below_min_isr.to_string(),
            v.hw_held_below_min_isr().to_string(),
            "KAFKA-15583",
        );
        against(
            "leader_epoch_bump_on_isr_shrink",
            self.leader_epoch_bump_on_isr_shrink.to_string(),
            v.leader_epoch_bump_on_isr_shrink().to_string(),
            "KAFKA-15021",
        );
        against(
            "broker_epoch_in_alter_partition",
            self.broker_epoch_in_alter_partition.to_string(),
            v.broker_epoch_in_alter_partition().to_string(),
            "KIP-903",
        );
        let partitioner = |p: PartitionerKind| format!("{:?}", p.name());
        against(
            "partitioner",
            partitioner(self.partitioner),
            partitioner(v.partitioner()),
            "KIP-480, KIP-794",
        );
        against(
            "offsets_kept_while_group_active",
            self.offsets_kept_while_group_active.to_string(),
            v.offsets_kept_while_group_active().to_string(),
            "KIP-211",
        );
        against(
            "fenced_replicas_kept_out_of_isr",
            self.fenced_replicas_kept_out_of_isr.to_string(),
            v.fenced_replicas_kept_out_of_isr().to_string(),
            "KIP-841",
        );
        against(
            "metadata_noop_records",
            self.metadata_noop_records.to_string(),
            v.metadata_noop_records().to_string(),
            "KIP-835",
        );
        against(
            "unfence_at_registration_offset",
            self.unfence_at_registration_offset.to_string(),
            v.unfence_at_registration_offset().to_string(),
            "KAFKA-13959",
        );
        against(
            "metadata_applied_in_controlled_shutdown",
            self.metadata_applied_in_controlled_shutdown.to_string(),
            v.metadata_applied_in_controlled_shutdown().to_string(),
            "KAFKA-13858",
        );
        against(
            "static_leader_rejoins_as_leader",
            self.static_leader_rejoins_as_leader.to_string(),
            v.static_leader_rejoins_as_leader().to_string(),
            "KIP-814",
        );
        against(
            "leader_state_kept_on_partition_update",
            self.leader_state_kept_on_partition_update.to_string(),
            v.leader_state_kept_on_partition_update().to_string(),
            "KAFKA-13790",
        );
        against(
            "hw_incremented_after_alter_partition",
            self.hw_incremented_after_alter_partition.to_string(),
            v.hw_incremented_after_alter_partition().to_string(),
            "KAFKA-13091",
        );
        against(
            "recovery_point_held_after_recovery",
            self.recovery_point_held_after_recovery.to_string(),
            v.recovery_point_held_after_recovery().to_string(),
            "KAFKA-10101",
        );
        against(
            "alter_partition_kept_on_role_change",
            self.alter_partition_kept_on_role_change.to_string(),
            v.alter_partition_kept_on_role_change().to_string(),
            "KAFKA-12686",
        );
        against(
            "isr_join_requires_epoch_start_offset",
            self.isr_join_requires_epoch_start_offset.to_string(),
            v.isr_join_requires_epoch_start_offset().to_string(),
            "KAFKA-7128",
        );
        against(
            "leader_epoch_in_replica_fetch",
            self.leader_epoch_in_replica_fetch.to_string(),
            v.leader_epoch_in_replica_fetch().to_string(),
            "KIP-320",
        );
        against(
            "truncation_on_fetch",
            self.truncation_on_fetch.to_string(),
            v.truncation_on_fetch().to_string(),
            "KAFKA-10554",
        );
        against(
            "alter_partition_sent_at_once",
            self.alter_partition_sent_at_once.to_string(),
            v.alter_partition_sent_at_once().to_string(),
            "apache/kafka#9749",
        );
        against(
            "pending_isr_state",
            self.pending_isr_state.to_string(),
            v.pending_isr_state().to_string(),
            "KIP-497",
        );
        against(
            "producer_fenced_error",
            self.producer_fenced_error.to_string(),
            v.producer_fenced_error().to_string(),
            "KAFKA-9911",
        );
        against(
            "follower_fetch_waits_for_data",
            self.follower_fetch_waits_for_data.to_string(),
            v.follower_fetch_waits_for_data().to_string(),
            "KAFKA-9952",
        );
        against(
            "failed_epoch_fence_remembered",
            self.failed_epoch_fence_remembered.to_string(),
            v.failed_epoch_fence_remembered().to_string(),
            "KAFKA-9666",
        );
        against(
            "strict_end_txn_epoch",
            self.strict_end_txn_epoch.to_string(),
            v.strict_end_txn_epoch().to_string(),
            "KAFKA-9600",
        );
        against(
            "fetch_session_leader_epoch",
            self.fetch_session_leader_epoch.to_string(),
            v.fetch_session_leader_epoch().to_string(),
            "KAFKA-9338",
        );
        against(
            "static_rejoin_rebalances_when_completing",
            self.static_rejoin_rebalances_when_completing.to_string(),
            v.static_rejoin_rebalances_when_completing().to_string(),
            "KAFKA-9801",
        );
        against(
            "new_member_heartbeat_expiration",
            self.new_member_heartbeat_expiration.to_string(),
            v.new_member_heartbeat_expiration().to_string(),
            "KAFKA-9752",
        );
        against(
            "transactional_epoch_bump",
            self.transactional_epoch_bump.to_string(),
            v.transactional_epoch_bump().to_string(),
            "KAFKA-8710",
        );
        against(
            "delivery_timeout_bounds_sends",
            self.delivery_timeout_bounds_sends.to_string(),
            v.delivery_timeout_bounds_sends().to_string(),
            "KIP-91",
        );
        against(
            "consumer_leader_epoch_validation",
            self.consumer_leader_epoch_validation.to_string(),
            v.consumer_leader_epoch_validation().to_string(),
            "KIP-320",
        );
        against(
            "eligible_leader_replicas",
            self.eligible_leader_replicas.to_string(),
            v.eligible_leader_replicas().to_string(),
            "KIP-966",
        );
        against(
            "kraft_pre_vote",
            self.kraft_pre_vote.to_string(),
            v.kraft_pre_vote().to_string(),
            "KIP-996",
        );
        against(
            "kraft_fetch_high_watermark",
            self.kraft_fetch_high_watermark.to_string(),
            v.kraft_fetch_high_watermark().to_string(),
            "KIP-1166",
        );
        against(
            "static_member_id_replaced_in_any_state",
            self.static_member_id_replaced_in_any_state.to_string(),
            v.static_member_id_replaced_in_any_state().to_string(),
            "KAFKA-8500",
        );
        against(
            "unknown_producer_any_sequence",
            self.unknown_producer_any_sequence.to_string(),
            v.unknown_producer_any_sequence().to_string(),
            "KIP-360",
        );
        against(
            "unknown_producer_sequence_zero_in_tv2",
            self.unknown_producer_sequence_zero_in_tv2.to_string(),
            v.unknown_producer_sequence_zero_in_tv2().to_string(),
            "KAFKA-18202",
        );
        against(
            "unknown_producer_sequence_zero_on_empty_log",
            self.unknown_producer_sequence_zero_on_empty_log.to_string(),
            v.unknown_producer_sequence_zero_on_empty_log().to_string(),
            "KAFKA-15591",
        );
        against(
            "transaction_version",
            self.transaction_version.to_string(),
            v.transaction_version().to_string(),
            "KIP-890 part 2",
        );
        out
    }
}

/// One scripted fault.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FaultSpec {
    /// When it fires (within the fault phase).
    pub at_ns: u64,
    /// What it does.
    pub kind: FaultKind,
    /// The node(s) it acts on; for partition, the node isolated from all others.
    pub target: Option<Target>,
    /// Partition: explicit sides; nodes in no group form one more side.
    pub groups: Vec<Vec<Target>>,
    /// Partition: drop only traffic from the first group to the others
    /// (latency: delay only that traffic).
    pub one_way: bool,
    /// Latency on links (groups): what is sent later on a link does not
    /// queue behind what the fault delayed, as after a request timeout a
    /// Kafka client closes the connection and sends on a new one while the
    /// old one's bytes may still reach the broker.
    pub overtake: bool,
    /// Crash/power_loss: restart this long after.
    pub restart_after_ns: Option<u64>,
    /// Pause: resume this long after.
    pub resume_after_ns: Option<u64>,
    /// Partition/slow_disk/latency: undo this long after.
    pub heal_after_ns: Option<u64>,
    /// slow_disk: fsync/writeback slowdown (10 when not given).
    pub factor: Option<u32>,
    /// latency: added one-way delay (100ms when not given).
    pub delay_ns: Option<u64>,
    /// power_loss: leave a torn prefix of the last unflushed write.
    pub torn: bool,
}

/// One timed topic operation (`[[admin]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdminOpSpec {
    /// When the admin client sends it (within the fault phase).
    pub at_ns: u64,
    /// What it does.
    pub op: AdminAction,
}

/// What an `[[admin]]` entry does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum AdminAction {
    /// `op = "create_partitions"`: `topic` grows to `partitions`
    /// (`kafka-topics.sh --alter --partitions`).
    CreatePartitions {
        /// A topic of `[[topics]]`.
        topic: String,
        /// Its new partition count (more than it has by then).
        partitions: u32,
    },
    /// `op = "delete_topic"`: `topic` is deleted with its logs
    /// (`kafka-topics.sh --delete`).
    DeleteTopic {
        /// A topic of `[[topics]]`, not deleted by then.
        topic: String,
    },
    /// `op = "create_topic"`: `topic` is created (`kafka-topics.sh
    /// --create`): for the first time (its [`TopicSpec`] has
    /// `created_at_ns` set), or again after a delete_topic (a new
    /// incarnation, with a new topic id).
    CreateTopic {
        /// The new topic.
        topic: String,
        /// Its partition count.
        partitions: u32,
        /// Its replication factor.
        replication_factor: u32,
    },
}

/// Default slowdown of a slow_disk fault.
pub const DEFAULT_SLOW_DISK_FACTOR: u32 = 10;
/// Default added delay of a latency fault.
pub const DEFAULT_LATENCY_DELAY_NS: u64 = 100_000_000;

/// Random faults: a rate per simulated minute for each kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SwarmSpec {
    /// Expected faults per simulated minute, by kind.
    pub rates_per_min: BTreeMap<FaultKind, f64>,
}

/// Which invariants to check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckSpec {
    /// In the order given (default: all).
    pub invariants: Vec<Invariant>,
}

impl Scenario {
    /// The partitions `topic` has once every `[[admin]]` operation ran (its
    /// `[[topics]]` count when none grows it).
    pub fn final_partitions(&self, topic: &TopicSpec) -> u32 {
        self.admin
            .iter()
            .map(|a| match &a.op {
                AdminAction::CreatePartitions {
                    topic: t,
                    partitions,
                }
                | AdminAction::CreateTopic {
                    topic: t,
                    partitions,
                    ..
                } if *t == topic.name => *partitions,
                AdminAction::CreatePartitions { .. }
                | AdminAction::DeleteTopic { .. }
                | AdminAction::CreateTopic { .. } => 0,
            })
            .fold(topic.partitions, u32::max)
    }

    /// Whether an `[[admin]]` operation deletes `topic`.
    pub fn deletes(&self, topic: &str) -> bool {
        self.admin
            .iter()
            .any(|a| matches!(&a.op, AdminAction::DeleteTopic { topic: t } if t == topic))
    }

    /// Whether an `[[admin]]` create_topic makes `topic` again after a
    /// delete_topic (so it has more than one incarnation).
    pub fn recreates(&self, topic: &str) -> bool {
        let creates = self
            .admin
            .iter()
            .filter(|a| matches!(&a.op, AdminAction::CreateTopic { topic: t, .. } if t == topic))
            .count();
        let declared = self
            .topics
            .iter()
            .any(|t| t.name == topic && t.created_at_ns.is_none());
        creates + usize::from(declared) > 1
    }

    /// Total producers over every `[[producers]]` entry.
    pub fn producer_count(&self) -> u32 {
        self.producers
            .iter()
            .fold(0u32, |n, p| n.saturating_add(p.count))
    }

    /// The transactional ids of the transactional producers (producer N of
    /// an entry with `transactional.id` ID uses "ID-N") and of the
    /// exactly_once_v2 pipeline members (member N of group G uses "G-N").
    pub fn transactional_ids(&self) -> Vec<String> {
        let producers = self
            .producers
            .iter()
            .flat_map(|p| (0..p.count).filter_map(|n| p.transactional_id(n)));
        let pipelines = self
            .pipelines
            .iter()
            .flat_map(|p| (0..p.count).filter_map(|n| p.transactional_id(n)));
        producers.chain(pipelines).collect()
    }

    /// Members of `group` over every `[[consumers]]` entry (or its
    /// `[[pipelines]]` entry: a pipeline's members are its group's consumers).
    pub fn group_size(&self, group: &str) -> u32 {
        let consumers = self
            .consumers
            .iter()
            .filter(|c| c.group == group)
            .fold(0u32, |n, c| n.saturating_add(c.count));
        let pipelines = self
            .pipelines
            .iter()
            .filter(|p| p.group == group)
            .fold(0u32, |n, p| n.saturating_add(p.count));
        consumers.saturating_add(pipelines)
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicSpec> {
        self.topics.iter().find(|t| t.name == name)
    }
}

fn is_zero(share: &f64) -> bool {
    *share == 0.0
}
