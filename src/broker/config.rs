//! The broker's data-path configs, with Kafka's names and defaults.

use crate::log::LogConfig;
use crate::txn::TransactionVersion;

/// How a follower truncates when it follows a new leader (`[protocol] truncation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Truncation {
    /// KIP-101 with KIP-279 (Kafka >= 2.0): to where the follower's log
    /// and the leader's last agree, by the largest epoch both have.
    #[serde(rename = "leader-epoch")]
    LeaderEpoch,
    /// Pre-KIP-101 Kafka: truncate to the local high watermark.
    #[serde(rename = "high-watermark")]
    HighWatermark,
    /// KIP-101 before KIP-279 (Kafka 0.11 to 1.1): once, on following a
    /// new leader, to the leader's end offset for the follower's latest
    /// epoch (OffsetsForLeaderEpoch v0: the start offset of the leader's
    /// first epoch above it, its log end offset if that epoch is its
    /// latest), or to the follower's high watermark when the leader has
    /// no such offset (UNDEFINED_EPOCH_OFFSET). A follower whose latest
    /// epoch the leader never had keeps the records of that epoch below
    /// the offset: the logs diverge.
    #[serde(rename = "epoch-end-offset")]
    EpochEndOffset,
}

impl Truncation {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Truncation::LeaderEpoch => "leader-epoch",
            Truncation::HighWatermark => "high-watermark",
            Truncation::EpochEndOffset => "epoch-end-offset",
        }
    }
}

/// Kafka's `log.initial.task.delay.ms` default: when the log manager's
/// retention check first runs after a broker starts.
pub const LOG_INITIAL_TASK_DELAY_MS: u64 = 30_000;

/// How long a broker's requests to the controller wait for an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerRequestTimeouts {
    /// The "heartbeat" channel (registration and heartbeats): its retry
    /// timeout is `broker.session.timeout.ms` / 2 from 3.3.2 (KAFKA-14392),
    /// `broker.session.timeout.ms` before.
    pub heartbeat_ms: u64,
    /// The "alter-partition" channel (retry timeout Long.MaxValue) and the
    /// "forwarding" channel AllocateProducerIds goes by (60 s):
    /// `controller.socket.timeout.ms`.
    pub controller_socket_ms: u64,
}

impl Default for ControllerRequestTimeouts {
    fn default() -> Self {
        Self {
            heartbeat_ms: 4500,
            controller_socket_ms: 30_000,
        }
    }
}

/// Data-path configs of a broker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms`.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms`.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.max.bytes`.
    pub replica_fetch_max_bytes: usize,
    /// `replica.fetch.backoff.ms`.
    pub replica_fetch_backoff_ms: u64,
    /// `replica.socket.timeout.ms`.
    pub replica_socket_timeout_ms: u64,
    /// How long a request to the controller waits for its answer before it
    /// goes again, per channel (Kafka's NodeToControllerChannelManager: the
    /// smaller of `controller.socket.timeout.ms` and the channel's retry
    /// timeout).
    pub controller_request_timeouts: ControllerRequestTimeouts,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub hw_checkpoint_interval_ms: u64,
    /// `log.flush.offset.checkpoint.interval.ms`.
    pub recovery_checkpoint_interval_ms: u64,
    /// `log.retention.check.interval.ms`: how often retention runs (first
    /// [`LOG_INITIAL_TASK_DELAY_MS`] after start).
    pub retention_check_interval_ms: u64,
    /// `log.cleaner.enable`: the log cleaner compacts compacted topics.
    pub log_cleaner_enable: bool,
    /// `controlled.shutdown.enable`: a SIGTERM asks the controller to move
    /// the broker's leaderships first (BrokerServer.shutdown).
    pub controlled_shutdown_enable: bool,
    /// KAFKA-13858 (3.3): in controlled shutdown the broker keeps applying
    /// metadata (its leaderships moved away stop at once); off with
    /// `[protocol] metadata_applied_in_controlled_shutdown = false`, as
    /// before 3.3: its metadata listener stops when the controlled shutdown
    /// begins, and its image stays as it was until it stops.
    pub metadata_applied_in_controlled_shutdown: bool,
    /// `log.cleaner.backoff.ms`: the cleaner's sleep when nothing is dirty.
    pub log_cleaner_backoff_ms: u64,
    /// `log.flush.start.offset.checkpoint.interval.ms`.
    pub log_start_offset_checkpoint_interval_ms: u64,
    /// `min.insync.replicas` (the broker default; topics may override).
    pub min_insync_replicas: usize,
    /// How followers truncate (`[protocol] truncation`).
    pub truncation: Truncation,
    /// KAFKA-15583 (3.7): leaders hold the high watermark while the ISR is
    /// below the effective min.insync.replicas (`[protocol]
    /// hw_held_below_min_isr`).
    pub hw_held_below_min_isr: bool,
    /// KAFKA-15021 (3.6): the high watermark waits for a caught-up replica
    /// outside the ISR only if it may join the ISR (off with `[protocol]
    /// leader_epoch_bump_on_isr_shrink`, as before 3.6: it waits for any
    /// caught-up replica).
    pub hw_wait_checks_isr_eligibility: bool,
    /// KIP-903 (3.5): a new ISR member must fetch with its registered
    /// broker epoch, which AlterPartition carries to the controller (off
    /// with `[protocol] broker_epoch_in_alter_partition = false`, as in
    /// 3.3 and 3.4: only fenced replicas are kept out, KIP-841).
    pub broker_epoch_in_alter_partition: bool,
    /// KIP-211 (2.1): an active group's committed offsets never expire
    /// (off with `[protocol] offsets_kept_while_group_active = false`, as
    /// before 2.1: each expires `offsets.retention.minutes` after its commit).
    pub offsets_kept_while_group_active: bool,
    /// KIP-814 (3.2): a static leader rejoining a Stable group is told it
    /// leads (off with `[protocol] static_leader_rejoins_as_leader =
    /// false`, as before 3.2: it is given the old member id as leader).
    pub static_leader_rejoins_as_leader: bool,
    /// KAFKA-8500 (2.3.0): a static member rejoining with an unknown member
    /// id gets a new one, the old fenced, whatever the group's state (off
    /// with `[protocol] static_member_id_replaced_in_any_state = false`: in
    /// a rebalancing group it joins as the old member id).
    pub static_member_id_replaced_in_any_state: bool,
    /// KIP-841 (3.3): a leader proposes only unfenced followers not in
    /// controlled shutdown for the ISR (Kafka's `isReplicaIsrEligible`);
    /// off with `[protocol] fenced_replicas_kept_out_of_isr = false`, as
    /// before 3.3: any caught-up follower.
    pub fenced_replicas_kept_out_of_isr: bool,
    /// KAFKA-7128 (2.1): a follower joins the ISR once it reached the
    /// high watermark and the leader epoch's start offset; off (`[protocol]
    /// isr_join_requires_epoch_start_offset = false`), the high watermark.
    pub isr_join_requires_epoch_start_offset: bool,
    /// KAFKA-13790 (3.3): a metadata update of a partition this broker
    /// leads, in the same leader epoch, keeps the epoch's start offset and
    /// the followers' states; off (`[protocol]
    /// leader_state_kept_on_partition_update = false`), as before 3.3, it
    /// restarts them as a new leader's (`makeLeader` again).
    pub leader_state_kept_on_partition_update: bool,
    /// KAFKA-13091 (3.1): the leader advances its high watermark (and
    /// completes waiting produces) when an AlterPartition answer comes;
    /// off (`[protocol] hw_incremented_after_alter_partition = false`), as
    /// in 3.0, at its next metadata update, fetch or append.
    pub hw_incremented_after_alter_partition: bool,
    /// KAFKA-12686 (3.0): an AlterPartition waiting to be sent or answered
    /// stays queued when the broker takes the partition's role again; off
    /// (`[protocol] alter_partition_kept_on_role_change = false`), as in
    /// 2.8, `makeLeader` and `makeFollower` drop it (`clearPending`).
    pub alter_partition_kept_on_role_change: bool,
    /// KIP-320 (2.1): a follower's Fetch carries its current leader epoch
    /// (the leader fences another); off (`[protocol]
    /// leader_epoch_in_replica_fetch = false`), -1, which no leader checks.
    pub leader_epoch_in_replica_fetch: bool,
    /// KAFKA-10554 (2.8): a follower sends its last fetched epoch in every
    /// Fetch and truncates where the leader's answer says the logs
    /// diverge; off (`[protocol] truncation_on_fetch = false`), as in 2.7
    /// and before, it checks its log against the leader's only after it
    /// follows a new leader epoch (OffsetsForLeaderEpoch), until the
    /// truncation is complete, and then fetches without an epoch.
    pub truncation_on_fetch: bool,
    /// apache/kafka#9749 (2.8, no JIRA): an ISR change goes
    /// to the controller at once; off (`[protocol]
    /// alter_partition_sent_at_once = false`), as in 2.7, a task every
    /// [`super::alter_partition::PROPAGATION_INTERVAL_MS`] since the broker
    /// started sends what is queued.
    pub alter_partition_sent_at_once: bool,
    /// KIP-497 (2.7, KAFKA-8836): a leader's ISR change is pending
    /// (`PendingExpandIsr`, `PendingShrinkIsr`) while the partition goes
    /// on. Off (`[protocol] pending_isr_state = false`), as in 2.6: the
    /// leader wrote the ISR to ZooKeeper itself holding the partition's
    /// `leaderIsrUpdateLock`, so the partition waits for the
    /// AlterPartition's answer (appends, fetches and markers for it are
    /// deferred, its high watermark holds) and then takes the new ISR at
    /// once. The AlterIsrManager switches (`alter_partition_sent_at_once`,
    /// `alter_partition_kept_on_role_change`,
    /// `hw_incremented_after_alter_partition`) do not apply then: the
    /// write starts at once, a role change waits for it, and the high
    /// watermark is looked at when it returns.
    pub pending_isr_state: bool,
    /// KAFKA-9911 (2.7): the transaction coordinator answers a fenced
    /// producer epoch PRODUCER_FENCED. Off (`[protocol]
    /// producer_fenced_error = false`), as in 2.6, it answered
    /// INVALID_PRODUCER_EPOCH (the code 2.6's clients took as fenced).
    pub producer_fenced_error: bool,
    /// KAFKA-9952 (2.6): a follower's fetch that finds no data waits for
    /// data or `replica.fetch.wait.max.ms`. Off (`[protocol]
    /// follower_fetch_waits_for_data = false`), as in 2.4 and 2.5 (KIP-392's
    /// immediate high watermark propagation): the leader also answers it at
    /// once when the partition's high watermark is above the one it last
    /// sent that follower (2.5.1 `ReplicaManager.readFromLocalLog`'s
    /// `followerNeedsHwUpdate`), and a waiting one completes when the high
    /// watermark moves past it (`DelayedFetch.tryComplete`, "Case H").
    pub follower_fetch_waits_for_data: bool,
    /// KAFKA-9666 (2.6): the transaction coordinator remembers a fence
    /// whose write failed (`hasFailedEpochFence`) and forgets the fenced
    /// epoch. Off (`failed_epoch_fence_remembered = false`), as in 2.5.
    pub failed_epoch_fence_remembered: bool,
    /// KAFKA-9600 (2.6): a client's EndTxn needs the coordinator's epoch.
    /// Off (`strict_end_txn_epoch = false`), as in 2.5: only an older one
    /// is refused.
    pub strict_end_txn_epoch: bool,
    /// KAFKA-9338 (2.5.0): the fetch session keeps each partition's
    /// current leader epoch, so a follower's incremental fetch is fenced
    /// (KIP-320) as a full one is. Off (`[protocol]
    /// fetch_session_leader_epoch = false`), as in 2.4.1: the session's
    /// partitions are read without one (`CachedPartition.reqData`).
    pub fetch_session_leader_epoch: bool,
    /// KAFKA-9801 (2.5.0): a static member rejoining with an unknown member
    /// id while the group is CompletingRebalance starts a rebalance. Off
    /// (`static_rejoin_rebalances_when_completing = false`), as in 2.4.1:
    /// answered at once, as in Stable.
    pub static_rejoin_rebalances_when_completing: bool,
    /// KAFKA-9752 (2.5.0): a member new when its join phase completed is
    /// expired a session timeout later unless it heartbeats. Off
    /// (`new_member_heartbeat_expiration = false`), as in 2.4.1: it has no
    /// heartbeat expiration until its next heartbeat or SyncGroup answer.
    pub new_member_heartbeat_expiration: bool,
    /// KIP-360 (KAFKA-8710, 2.5.0): the transaction coordinator takes
    /// InitProducerId v3, with the producer id and epoch of a producer
    /// bumping its epoch. Off (`transactional_epoch_bump = false`), as in
    /// 2.4.1: InitProducerId v0-2, with neither.
    pub transactional_epoch_bump: bool,
    /// KIP-360's leader side (KAFKA-8710, 2.5.0): a partition leader
    /// appends an idempotent batch of a producer it has no state for at
    /// any sequence, and answers OUT_OF_ORDER_SEQUENCE_NUMBER to one of
    /// the current epoch whose last sequence it lost unless at 0. Off
    /// (`[protocol] unknown_producer_any_sequence = false`): 2.4.1's
    /// UNKNOWN_PRODUCER_ID to both. On, a producer's first batch that lost
    /// the startup race to its next one is lost (KAFKA-15591).
    pub unknown_producer_any_sequence: bool,
    /// KAFKA-18202 (4.1): under transactions v2 a verified transactional
    /// batch of a producer the partition has no state for must start at
    /// sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER
    /// (`[protocol] unknown_producer_sequence_zero_in_tv2`).
    pub unknown_producer_sequence_zero_in_tv2: bool,
    /// KAFKA-15591's fix (apache/kafka #23234, Kafka 4.5): a partition that
    /// never held a record takes only sequence 0 from a producer it has no
    /// state for, else OUT_OF_ORDER_SEQUENCE_NUMBER
    /// (`[protocol] unknown_producer_sequence_zero_on_empty_log`).
    pub unknown_producer_sequence_zero_on_empty_log: bool,
    /// Log configs.
    pub log: LogConfig,
    /// `offsets.topic.num.partitions`.
    pub offsets_topic_num_partitions: u32,
    /// `offsets.commit.timeout.ms`.
    pub offsets_commit_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay_ms: u64,
    /// `offsets.retention.minutes`, in ms.
    pub offsets_retention_ms: u64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
    /// Test-only bug: a coordinator loading a partition skips its committed offsets.
    pub forget_offsets_on_load: bool,
    /// Test mutation: the SocketServer mutes no connection.
    pub unmuted_connections: bool,
    /// Test-only bug: the transaction coordinator writes COMMIT markers for
    /// the transactions it aborts.
    pub commit_aborted_transactions: bool,
    /// Test-only bug: the transaction coordinator never sends its markers.
    pub drop_txn_markers: bool,
    /// Test-only mutation: a fetch below the log start offset is served
    /// from the first record left, not answered OFFSET_OUT_OF_RANGE.
    pub serve_below_log_start: bool,
    /// `transaction.state.log.num.partitions`.
    pub transaction_state_log_num_partitions: u32,
    /// `transaction.max.timeout.ms`.
    pub transaction_max_timeout_ms: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    pub transaction_abort_timed_out_transaction_cleanup_interval_ms: u64,
    /// `transaction.partition.verification.enable` (KIP-890 part 1): a
    /// leader verifies with the transaction coordinator before a
    /// producer's first transactional append to a partition.
    pub transaction_partition_verification_enable: bool,
    /// `add.partitions.to.txn.retry.backoff.ms` (Kafka 4.x): how long a
    /// leader waits before asking again about a transaction the
    /// coordinator answered CONCURRENT_TRANSACTIONS.
    pub add_partitions_to_txn_retry_backoff_ms: u64,
    /// `add.partitions.to.txn.retry.backoff.max.ms`: how long it keeps asking.
    pub add_partitions_to_txn_max_timeout_ms: u64,
    /// The cluster's finalized `transaction.version` feature
    /// (`[protocol] transaction_version`): 2 is KIP-890 part 2.
    pub transaction_version: TransactionVersion,
    /// The metadata quorum's timing, as the broker's observer of it uses
    /// it (`controller.quorum.*`).
    pub raft: crate::controller::raft::RaftConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_backoff_ms: 1000,
            replica_socket_timeout_ms: 30_000,
            controller_request_timeouts: ControllerRequestTimeouts::default(),
            hw_checkpoint_interval_ms: 5000,
            recovery_checkpoint_interval_ms: 60_000,
            retention_check_interval_ms: 300_000,
            log_cleaner_enable: true,
            controlled_shutdown_enable: true,
            metadata_applied_in_controlled_shutdown: true,
            log_cleaner_backoff_ms: 15_000,
            log_start_offset_checkpoint_interval_ms: 60_000,
            min_insync_replicas: 1,
            truncation: Truncation::LeaderEpoch,
            hw_held_below_min_isr: true,
            hw_wait_checks_isr_eligibility: true,
            broker_epoch_in_alter_partition: true,
            offsets_kept_while_group_active: true,
            static_leader_rejoins_as_leader: true,
            static_member_id_replaced_in_any_state: true,
            fenced_replicas_kept_out_of_isr: true,
            isr_join_requires_epoch_start_offset: true,
            leader_state_kept_on_partition_update: true,
            hw_incremented_after_alter_partition: true,
            alter_partition_kept_on_role_change: true,
            leader_epoch_in_replica_fetch: true,
            truncation_on_fetch: true,
            alter_partition_sent_at_once: true,
            pending_isr_state: true,
            producer_fenced_error: true,
            follower_fetch_waits_for_data: true,
            failed_epoch_fence_remembered: true,
            strict_end_txn_epoch: true,
            fetch_session_leader_epoch: true,
            static_rejoin_rebalances_when_completing: true,
            new_member_heartbeat_expiration: true,
            transactional_epoch_bump: true,
            unknown_producer_any_sequence: true,
            unknown_producer_sequence_zero_in_tv2: true,
            unknown_producer_sequence_zero_on_empty_log: false,
            log: LogConfig::default(),
            offsets_topic_num_partitions: 50,
            offsets_commit_timeout_ms: 5000,
            group_initial_rebalance_delay_ms: 3000,
            offsets_retention_ms: crate::group::coordinator::OFFSETS_RETENTION_MS,
            offsets_retention_check_interval_ms:
                crate::group::coordinator::OFFSETS_RETENTION_CHECK_INTERVAL_MS,
            forget_offsets_on_load: false,
            unmuted_connections: false,
            commit_aborted_transactions: false,
            drop_txn_markers: false,
            serve_below_log_start: false,
            transaction_state_log_num_partitions: 50,
            transaction_max_timeout_ms: 900_000,
            transaction_abort_timed_out_transaction_cleanup_interval_ms: 10_000,
            transaction_partition_verification_enable: true,
            add_partitions_to_txn_retry_backoff_ms: 20,
            add_partitions_to_txn_max_timeout_ms: 100,
            transaction_version: TransactionVersion(2),
            raft: crate::controller::raft::RaftConfig::default(),
        }
    }
}
