//! Kafka releases as a setting: `[protocol] kafka_version = "X.Y"` picks a
//! release's defaults and protocol behaviours. ksim models a release only
//! when every behaviour it simulates is that release's own (or a switch a
//! scenario can set): today 2.5 to 2.8 and 3.0 to 4.1 (there is no 2.9). An
//! older release is refused, naming a behaviour ksim cannot switch yet, or
//! saying its changes are not all checked. `docs/versions.md` cites where each boundary is in
//! apache/kafka.

use std::fmt;

use super::{ConfigValue, DefaultValue, Scope};
use crate::client::partitioner::PartitionerKind;

/// A Kafka release line, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaVersion {
    /// The major version.
    pub major: u8,
    /// The minor version.
    pub minor: u8,
}

impl KafkaVersion {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }

    /// The newest release ksim models: the default.
    pub const NEWEST: KafkaVersion = KafkaVersion::new(4, 1);

    /// The releases ksim models, oldest first, back to 2.5: what ksim
    /// simulates that changed in `git log 2.5.0..3.3.0` of the broker's
    /// data path, the log, the coordinators and the clients is a switch
    /// (3.3's KIP-841, KIP-835, KAFKA-13959, KAFKA-13858, KAFKA-13790;
    /// 3.2's KIP-814; 3.1's KAFKA-13091; 3.0's KAFKA-12686; 2.8's
    /// KAFKA-10101, KAFKA-10554, apache/kafka#9749; 2.7's KIP-497,
    /// KAFKA-9911; 2.6's KAFKA-9952, KAFKA-9666, KAFKA-9600),
    /// a default, or not observable in ksim (`docs/versions.md` rows).
    /// ksim's control plane is KRaft in every release: 3.0's (the oldest
    /// KRaft it models, with the 3.x switches set as for 3.0) under 2.8,
    /// whose own KRaft was early access without what ksim's controller does
    /// (KAFKA-12620, KAFKA-12471, KIP-746), and under 2.7, 2.6 and 2.5,
    /// which had ZooKeeper only (2.6's and 2.5's leaders wrote their ISR
    /// changes to it themselves, KIP-497's row); early access up to 3.3
    /// (KIP-833). Below 2.5 `git log 2.4.0..2.5.0` is not checked (the
    /// parse refusal says so). The switches for older 2.x behaviours
    /// (KIP-91, KAFKA-7128, KIP-320, KIP-279, KIP-211, KIP-480) are set
    /// against a modelled release.
    pub const MODELLED: [KafkaVersion; 16] = [
        KafkaVersion::new(2, 5),
        KafkaVersion::new(2, 6),
        KafkaVersion::new(2, 7),
        KafkaVersion::new(2, 8),
        KafkaVersion::new(3, 0),
        KafkaVersion::new(3, 1),
        KafkaVersion::new(3, 2),
        KafkaVersion::new(3, 3),
        KafkaVersion::new(3, 4),
        KafkaVersion::new(3, 5),
        KafkaVersion::new(3, 6),
        KafkaVersion::new(3, 7),
        KafkaVersion::new(3, 8),
        KafkaVersion::new(3, 9),
        KafkaVersion::new(4, 0),
        KafkaVersion::NEWEST,
    ];

    /// Whether this release has what came in `since`.
    pub fn has(self, since: KafkaVersion) -> bool {
        self >= since
    }

    /// The release `text` names ("3.8", or "3.8.1": patch releases share
    /// their line's defaults and behaviours), or why ksim cannot run it.
    pub fn parse(text: &str) -> Result<KafkaVersion, String> {
        let valid = format!(
            "valid: {} (a patch release such as \"3.8.1\" is its line's)",
            Self::MODELLED.map(|v| format!("\"{v}\"")).join(", ")
        );
        let mut parts = text.split('.');
        let number = |p: Option<&str>| p.and_then(|p| p.parse::<u8>().ok());
        let (Some(major), Some(minor)) = (number(parts.next()), number(parts.next())) else {
            return Err(format!("{text:?} is not a Kafka version; {valid}"));
        };
        if parts.clone().count() > 1 || parts.next().is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(format!("{text:?} is not a Kafka version; {valid}"));
        }
        let version = KafkaVersion::new(major, minor);
        if Self::MODELLED.contains(&version) {
            return Ok(version);
        }
        if version > Self::NEWEST {
            return Err(format!(
                "Kafka {version} is newer than ksim models ({}); {valid}",
                Self::NEWEST
            ));
        }
        let missing = BEHAVIOURS
            .iter()
            .filter(|b| b.switch.is_none() && !version.has(b.since))
            .map(|b| format!("{} ({}, {})", b.what, b.reference, b.since))
            .collect::<Vec<_>>()
            .join("; ");
        if missing.is_empty() {
            let oldest = Self::MODELLED[0];
            return Err(format!(
                "Kafka {version} is not simulated by ksim yet: its changes to what ksim \
                 simulates are not all checked (`git log {version}.0..{oldest}.0`); {valid}"
            ));
        }
        Err(format!(
            "Kafka {version} is not simulated by ksim yet: it lacks {missing}, which ksim \
             cannot switch off yet; {valid}"
        ))
    }

    /// Whether an ISR shrink bumps the leader epoch in this release (and
    /// the high watermark waits for every caught-up replica outside the
    /// ISR, whether it may join or not): before 3.6 (KAFKA-15021).
    pub fn leader_epoch_bump_on_isr_shrink(self) -> bool {
        !self.has(KafkaVersion::new(3, 6))
    }

    /// Whether this release's AlterPartition carries each new ISR member's
    /// broker epoch, checked by leader and controller (KIP-903, 3.5).
    pub fn broker_epoch_in_alter_partition(self) -> bool {
        self.has(KafkaVersion::new(3, 5))
    }

    /// Whether this release keeps an active group's committed offsets
    /// however old (KIP-211, 2.1).
    pub fn offsets_kept_while_group_active(self) -> bool {
        self.has(KafkaVersion::new(2, 1))
    }

    /// Whether this release keeps fenced replicas, and brokers in
    /// controlled shutdown, out of the ISR: the leader does not propose
    /// them, the controller refuses them (INELIGIBLE_REPLICA), and a broker
    /// in controlled shutdown is registered so and led by no partition
    /// (KIP-841, 3.3).
    pub fn fenced_replicas_kept_out_of_isr(self) -> bool {
        self.has(KafkaVersion::new(3, 3))
    }

    /// Whether this release's active controller appends a NoOpRecord to
    /// the metadata log every `metadata.max.idle.interval.ms` (KIP-835,
    /// KAFKA-13883, 3.3).
    pub fn metadata_noop_records(self) -> bool {
        self.has(KafkaVersion::new(3, 3))
    }

    /// Whether this release's controller unfences a broker once its
    /// metadata offset reached its own RegisterBrokerRecord's (KAFKA-13959,
    /// 3.3); before, once it reached the controller's last committed
    /// offset.
    pub fn unfence_at_registration_offset(self) -> bool {
        self.has(KafkaVersion::new(3, 3))
    }

    /// Whether this release's KRaft broker keeps applying metadata in
    /// controlled shutdown (KAFKA-13858, 3.3); before, its metadata
    /// listener stopped when the controlled shutdown began.
    pub fn metadata_applied_in_controlled_shutdown(self) -> bool {
        self.has(KafkaVersion::new(3, 3))
    }

    /// Whether this release's group coordinator tells a static leader that
    /// rejoins a Stable group (under a new member id) that it leads
    /// (KIP-814, KAFKA-13435, 3.2); before, it named the old member id.
    pub fn static_leader_rejoins_as_leader(self) -> bool {
        self.has(KafkaVersion::new(3, 2))
    }

    /// Whether a metadata update of a partition a broker leads, in the
    /// same leader epoch, keeps the epoch's start offset and the
    /// followers' states (KAFKA-13790, 3.3); before, `makeLeader` ran
    /// again and restarted them.
    pub fn leader_state_kept_on_partition_update(self) -> bool {
        self.has(KafkaVersion::new(3, 3))
    }

    /// Whether this release's partition leader advances its high watermark
    /// (and completes waiting requests) when an AlterPartition answer
    /// comes (KAFKA-13091, 3.1; not in 3.0.2). Before KIP-497 (2.6) it
    /// did when its own ISR write returned (`maybeShrinkIsr`).
    pub fn hw_incremented_after_alter_partition(self) -> bool {
        self.has(KafkaVersion::new(3, 1)) || !self.pending_isr_state()
    }

    /// Whether this release's log recovery leaves the recovery point where
    /// the checkpoint had it (KAFKA-10101: 2.8.0, cherry-picked to the 2.8
    /// branch before its release; 3.0 on trunk); before, `recoverLog` moved
    /// it to the recovered log end offset.
    pub fn recovery_point_held_after_recovery(self) -> bool {
        self.has(KafkaVersion::new(2, 8))
    }

    /// Whether a partition's AlterPartition (AlterIsr) waiting to be sent
    /// or answered stays queued when the broker takes its role again
    /// (KAFKA-12686, 3.0); before, `makeLeader` and `makeFollower` cleared
    /// it (`AlterIsrManager.clearPending`). Before KIP-497 (2.6) there is
    /// no AlterIsrManager: `makeLeader` waited for the ISR write.
    pub fn alter_partition_kept_on_role_change(self) -> bool {
        self.has(KafkaVersion::new(3, 0)) || !self.pending_isr_state()
    }

    /// Whether a follower out of the ISR joins it only once its log end
    /// offset reached the start offset of the leader's current epoch as
    /// well as the high watermark (KAFKA-7128: 2.1, backported to 2.0.1).
    pub fn isr_join_requires_epoch_start_offset(self) -> bool {
        self.has(KafkaVersion::new(2, 1))
    }

    /// Whether this release's followers send their current leader epoch
    /// in Fetch, which the leader fences (FENCED_LEADER_EPOCH,
    /// UNKNOWN_LEADER_EPOCH): KIP-320's replication part (KAFKA-7395, 2.1).
    pub fn leader_epoch_in_replica_fetch(self) -> bool {
        self.has(KafkaVersion::new(2, 1))
    }

    /// Whether this release's followers send their last fetched epoch in
    /// every Fetch and truncate where the leader's answer says their logs
    /// diverge (KAFKA-10554, 2.8); before, they compare logs
    /// (OffsetsForLeaderEpoch) only after following a new leader epoch.
    pub fn truncation_on_fetch(self) -> bool {
        self.has(KafkaVersion::new(2, 8))
    }

    /// Whether this release's partition leader sends an ISR change to the
    /// controller at once (apache/kafka#9749, 2.8); before, the
    /// `send-alter-isr` task sends what is queued every 50 ms (2.7 alone:
    /// before KIP-497, 2.6, the leader wrote its ISR at once).
    pub fn alter_partition_sent_at_once(self) -> bool {
        self.has(KafkaVersion::new(2, 8)) || !self.pending_isr_state()
    }

    /// Whether this release's partition leader keeps a pending ISR state
    /// while its ISR change (AlterIsr) is on its way to the controller,
    /// and goes on meanwhile (KIP-497, KAFKA-8836, 2.7); before, the
    /// leader wrote the change to ZooKeeper itself under the partition's
    /// `leaderIsrUpdateLock`, and the partition waited for the write.
    pub fn pending_isr_state(self) -> bool {
        self.has(KafkaVersion::new(2, 7))
    }

    /// Whether this release's transaction coordinator answers a fenced
    /// producer epoch PRODUCER_FENCED (KAFKA-9911, 2.7); before, with
    /// INVALID_PRODUCER_EPOCH.
    pub fn producer_fenced_error(self) -> bool {
        self.has(KafkaVersion::new(2, 7))
    }

    /// Whether this release's leader answers a follower's fetch only when
    /// it has data (`replica.fetch.min.bytes`) or `replica.fetch.wait.max.ms`
    /// passed (KAFKA-9952, 2.6); before (2.4, 2.5: KIP-392's immediate high
    /// watermark propagation), also at once when the high watermark is
    /// above the one last sent to that follower.
    pub fn follower_fetch_waits_for_data(self) -> bool {
        self.has(KafkaVersion::new(2, 6))
    }

    /// Whether this release's transaction coordinator remembers an epoch
    /// fence whose `__transaction_state` write failed and does not bump the
    /// epoch again, and forgets the fenced epoch (`lastProducerEpoch`
    /// NO_PRODUCER_EPOCH) when it aborts for a fence (KAFKA-9666, 2.6);
    /// before, every fence bumps the epoch and the abort keeps the fenced
    /// epoch as the last one.
    pub fn failed_epoch_fence_remembered(self) -> bool {
        self.has(KafkaVersion::new(2, 6))
    }

    /// Whether this release's transaction coordinator takes a client's
    /// EndTxn only with its current producer epoch (KAFKA-9600, 2.6);
    /// before, it refuses only an older epoch and takes a newer one.
    pub fn strict_end_txn_epoch(self) -> bool {
        self.has(KafkaVersion::new(2, 6))
    }

    /// Whether this release's fetch session keeps each partition's current
    /// leader epoch (KAFKA-9338, 2.5.0), so a follower's incremental fetch
    /// is fenced by KIP-320 as a full one is; before (2.4.1's
    /// `CachedPartition.reqData`, `Optional.empty()`), the partitions of a
    /// session are read without one.
    pub fn fetch_session_leader_epoch(self) -> bool {
        self.has(KafkaVersion::new(2, 5))
    }

    /// Whether this release's group coordinator rebalances when a known
    /// static member rejoins with an unknown member id while the group is
    /// CompletingRebalance (KAFKA-9801, 2.5.0's
    /// `updateStaticMemberAndRebalance`); before (2.4.1's
    /// `doUnknownJoinGroup`, `case Stable | CompletingRebalance`), it is
    /// answered at once as in Stable.
    pub fn static_rejoin_rebalances_when_completing(self) -> bool {
        self.has(KafkaVersion::new(2, 5))
    }

    /// Whether this release's group coordinator gives a member that was
    /// new when its join phase completed a heartbeat expiration a session
    /// timeout on (KAFKA-9752, 2.5.0's `hasSatisfiedHeartbeat`); before
    /// (2.4.1's `onCompleteJoin` rescheduled it while the member was still
    /// `isNew`, and `shouldKeepAlive` completed it at once), such a member
    /// has none until its next heartbeat or SyncGroup answer.
    pub fn new_member_heartbeat_expiration(self) -> bool {
        self.has(KafkaVersion::new(2, 5))
    }

    /// Whether this release's transaction coordinator takes InitProducerId
    /// v3 (KIP-360, KAFKA-8710, 2.5.0), with the producer id and epoch of a
    /// producer bumping its epoch itself after an abortable error; before
    /// (2.4.1's `handleInitProducerId`, InitProducerId v0-2), 3.8.0's
    /// transactional producer cannot bump it (`coordinatorSupportsBumpingEpoch`
    /// false): it aborts and goes on in the same epoch, and
    /// UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_ID_MAPPING from its
    /// coordinator, or a batch it can no longer retry, are fatal.
    pub fn transactional_epoch_bump(self) -> bool {
        self.has(KafkaVersion::new(2, 5))
    }

    /// Whether this release's partition leaders append the first batch of
    /// a producer they have no state for at any sequence (KIP-360,
    /// KAFKA-8710, 2.5.0: "possibly because all producer records have been
    /// deleted due to retention"); 2.4.1 answers UNKNOWN_PRODUCER_ID unless
    /// it is at sequence 0. Its cost is KAFKA-15591: on a partition that
    /// never held a record, a producer's first batch overtaken by its next
    /// is lost.
    pub fn unknown_producer_any_sequence(self) -> bool {
        self.has(KafkaVersion::new(2, 5))
    }

    /// Whether this release's leaders take only sequence 0 as a verified
    /// transactions-v2 batch's first from a producer the partition has no
    /// state for (KAFKA-18202, apache/kafka #19902, 4.1).
    pub fn unknown_producer_sequence_zero_in_tv2(self) -> bool {
        self.has(KafkaVersion::new(4, 1))
    }

    /// Whether this release's leaders take only sequence 0 from a producer
    /// they have no state for on a partition that never held a record
    /// (KAFKA-15591's fix, apache/kafka #23234, 4.5: newer than every
    /// release ksim models, so a switch only).
    pub fn unknown_producer_sequence_zero_on_empty_log(self) -> bool {
        self.has(KafkaVersion::new(4, 5))
    }

    /// Whether `delivery.timeout.ms` bounds this release's sends end to end
    /// (KIP-91, 2.1); before, a queued batch expires by `request.timeout.ms`
    /// and `retries` alone bounds the retries.
    pub fn delivery_timeout_bounds_sends(self) -> bool {
        self.has(KafkaVersion::new(2, 1))
    }

    /// Whether this release's consumers send their leader epoch in Fetch
    /// and ListOffsets and validate their position with
    /// OffsetsForLeaderEpoch after a leader change: KIP-320's consumer
    /// part (KAFKA-7440, KAFKA-7747, 2.3).
    pub fn consumer_leader_epoch_validation(self) -> bool {
        self.has(KafkaVersion::new(2, 3))
    }

    /// How this release's followers truncate: by leader epoch with
    /// KIP-279 from 2.0, by the leader's end offset for their latest epoch
    /// (KIP-101 alone) from 0.11, to their high watermark before.
    pub fn truncation(self) -> crate::broker::config::Truncation {
        use crate::broker::config::Truncation;
        if self.has(KafkaVersion::new(2, 0)) {
            Truncation::LeaderEpoch
        } else if self.has(KafkaVersion::new(0, 11)) {
            Truncation::EpochEndOffset
        } else {
            Truncation::HighWatermark
        }
    }

    /// Whether this release's leaders hold the high watermark while the
    /// ISR is below min.insync.replicas (KAFKA-15583, 3.7).
    pub fn hw_held_below_min_isr(self) -> bool {
        self.has(KafkaVersion::new(3, 7))
    }

    /// This release's partitioner for records without a key: round-robin
    /// before 2.4, KIP-480's sticky partitioner from 2.4, KIP-794's
    /// built-in (uniform sticky) partitioner from 3.3.
    pub fn partitioner(self) -> PartitionerKind {
        if self.has(KafkaVersion::new(3, 3)) {
            PartitionerKind::UniformSticky
        } else if self.has(KafkaVersion::new(2, 4)) {
            PartitionerKind::Sticky
        } else {
            PartitionerKind::RoundRobin
        }
    }

    /// Whether a new cluster of this release keeps eligible leader replicas
    /// (KIP-966 part 1): `eligible.leader.replicas.version` 1 bootstraps
    /// from metadata version 4.1-IV0, 4.1's (4.0 has it as a preview,
    /// off unless enabled).
    pub fn eligible_leader_replicas(self) -> bool {
        self.has(KafkaVersion::new(4, 1))
    }

    /// Whether this release's group coordinator gives a static member that
    /// rejoins with an unknown member id a new one (fencing the old) in any
    /// group state (KAFKA-8500, in 2.3.0, the first release with static
    /// membership: no release had the trunk code before it).
    pub fn static_member_id_replaced_in_any_state(self) -> bool {
        self.has(KafkaVersion::new(2, 3))
    }

    /// Whether this release's KRaft voters ask for pre-votes before they
    /// stand for election, and refuse them while they fetch from a leader
    /// (KIP-996, 4.0).
    pub fn kraft_pre_vote(self) -> bool {
        self.has(KafkaVersion::new(4, 0))
    }

    /// Whether this release's KRaft replicas send the high watermark they
    /// know in their Fetch, and its leader answers held Fetches when the
    /// high watermark rises (KIP-1166, KAFKA-14145, 4.1).
    pub fn kraft_fetch_high_watermark(self) -> bool {
        self.has(KafkaVersion::new(4, 1))
    }

    /// This release's `transaction.version` for a new cluster: 2 from 4.0
    /// (KIP-890 part 2), 1 before.
    pub fn transaction_version(self) -> u8 {
        if self.has(KafkaVersion::new(4, 0)) {
            2
        } else {
            1
        }
    }

    /// This release's default for config `name` of `scope`, where it is not
    /// the newest release's (the config tables hold those).
    pub fn default_for(self, scope: Scope, name: &str) -> Option<ConfigValue> {
        DEFAULTS
            .iter()
            .find(|d| d.scope == scope && d.name == name && !self.has(d.since))
            .and_then(|d| d.before.to_value())
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl serde::Serialize for KafkaVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Default for KafkaVersion {
    fn default() -> Self {
        Self::NEWEST
    }
}

/// A config whose default changed in release `since`: `before` is the
/// older releases' (the config tables hold the newest one). A default that
/// changed more than once has one row per change, oldest `since` first:
/// a release takes the `before` of the first row it predates.
struct VersionDefault {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    before: DefaultValue,
    /// KIP or JIRA of the change (its `docs/versions.md` row names it;
    /// the docs test reads it).
    #[cfg_attr(not(test), allow(dead_code))]
    reference: &'static str,
}

const fn changed(
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    before: DefaultValue,
    reference: &'static str,
) -> VersionDefault {
    VersionDefault {
        scope,
        name,
        since,
        before,
        reference,
    }
}

const fn v(major: u8, minor: u8) -> KafkaVersion {
    KafkaVersion::new(major, minor)
}

/// Defaults of the configs ksim simulates that differ between Kafka 0.10.2
/// and 4.0, each checked in apache/kafka at the release tags (see
/// `docs/versions.md`). A config a release lacks (`CONFIGS_SINCE`) but
/// that ksim's model always uses has a row here too, with what that
/// release does without it.
#[rustfmt::skip]
static DEFAULTS: &[VersionDefault] = &[
    // Producer.
    // KIP-679 (KAFKA-10619): acks 1 -> all and enable.idempotence false ->
    // true in 3.0. 3.0.0 and 3.1.0 did not apply the idempotence default
    // (KAFKA-13598, fixed in 3.0.1, 3.1.1, 3.2.0): a line is its latest
    // patch release, so 3.0 and 3.1 have it on. Before 0.11 there is no
    // idempotence (KIP-98): off.
    changed(Scope::Producer, "acks", v(3, 0), DefaultValue::Str("1"), "KIP-679"),
    changed(Scope::Producer, "enable.idempotence", v(3, 0), DefaultValue::Bool(false), "KIP-679"),
    // KIP-91 (KAFKA-5886): retries 0 -> Integer.MAX_VALUE in 2.1, bounded
    // by the new delivery.timeout.ms. Before 2.1 nothing bounds a send end
    // to end: Integer.MAX_VALUE, as Kafka Streams sets it for no bound.
    changed(Scope::Producer, "retries", v(2, 1), DefaultValue::Int(0), "KIP-91"),
    changed(Scope::Producer, "delivery.timeout.ms", v(2, 1), DefaultValue::Int(i32::MAX as i64), "KIP-91"),
    // KIP-1030: linger.ms 0 -> 5 in 4.0.
    changed(Scope::Producer, "linger.ms", v(4, 0), DefaultValue::Int(0), "KIP-1030"),
    // Consumer.
    // KIP-266 (KAFKA-7050): request.timeout.ms 305000 -> 30000 in 2.0; 2.0
    // brought default.api.timeout.ms, before which commitSync() blocks until
    // it succeeds (Long.MAX_VALUE).
    changed(Scope::Consumer, "request.timeout.ms", v(2, 0), DefaultValue::Int(305_000), "KIP-266"),
    changed(Scope::Consumer, "default.api.timeout.ms", v(2, 0), DefaultValue::Int(i64::MAX), "KIP-266"),
    // KIP-735 (KAFKA-12874): session.timeout.ms 10000 -> 45000 in 3.0.
    changed(Scope::Consumer, "session.timeout.ms", v(3, 0), DefaultValue::Int(10_000), "KIP-735"),
    // KIP-726 (KAFKA-13023): [RangeAssignor] -> [RangeAssignor,
    // CooperativeStickyAssignor] in 3.0.
    changed(Scope::Consumer, "partition.assignment.strategy", v(3, 0), DefaultValue::List(&["range"]), "KIP-726"),
    // Broker and topic.
    // KIP-106 (KAFKA-4623): unclean.leader.election.enable true -> false in 0.11.
    changed(Scope::Broker, "unclean.leader.election.enable", v(0, 11), DefaultValue::Bool(true), "KIP-106"),
    changed(Scope::Topic, "unclean.leader.election.enable", v(0, 11), DefaultValue::Bool(true), "KIP-106"),
    // KIP-134: group.initial.rebalance.delay.ms came in 0.11 (3000); before,
    // the first rebalance of a group is not delayed.
    changed(Scope::Broker, "group.initial.rebalance.delay.ms", v(0, 11), DefaultValue::Int(0), "KIP-134"),
    // KAFKA-5384: delete.topic.enable false -> true in 1.0.
    changed(Scope::Broker, "delete.topic.enable", v(1, 0), DefaultValue::Bool(false), "KAFKA-5384"),
    // KIP-186 (KAFKA-3806): offsets.retention.minutes 1 day -> 7 days in 2.0.
    changed(Scope::Broker, "offsets.retention.minutes", v(2, 0), DefaultValue::Int(1440), "KIP-186"),
    // KIP-537 (KAFKA-9102): replica.lag.time.max.ms 10000 -> 30000 in 2.5.
    changed(Scope::Broker, "replica.lag.time.max.ms", v(2, 5), DefaultValue::Int(10_000), "KIP-537"),
    // KAFKA-9417: the transaction coordinator's timed-out transaction
    // check every 60 s -> 10 s in 2.5 (TransactionStateManager).
    changed(Scope::Broker, "transaction.abort.timed.out.transaction.cleanup.interval.ms", v(2, 5), DefaultValue::Int(60_000), "KAFKA-9417"),
    // KIP-890 part 1: a 3.5 broker has no verification (and no config).
    changed(Scope::Broker, "transaction.partition.verification.enable", v(3, 6), DefaultValue::Bool(false), "KIP-890 part 1"),
];

/// A config that came in release `since`: an older release has no such
/// config, and a scenario of that release that sets it is refused.
struct ConfigSince {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    reference: &'static str,
}

const fn came(
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    reference: &'static str,
) -> ConfigSince {
    ConfigSince {
        scope,
        name,
        since,
        reference,
    }
}

/// The configs ksim simulates that came after Kafka 0.10.2, each with the
/// release whose config classes first define it.
#[rustfmt::skip]
static CONFIGS_SINCE: &[ConfigSince] = &[
    // KIP-98 (0.11.0.0 ProducerConfig, ConsumerConfig, KafkaConfig):
    // idempotence and transactions. Without them (0.10.2) the producer is
    // not idempotent (enable.idempotence's 0.10.2 default is false) and
    // no scenario can be transactional.
    came(Scope::Producer, "enable.idempotence", v(0, 11), "KIP-98"),
    came(Scope::Producer, "transactional.id", v(0, 11), "KIP-98"),
    came(Scope::Producer, "transaction.timeout.ms", v(0, 11), "KIP-98"),
    came(Scope::Consumer, "isolation.level", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.num.partitions", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.segment.bytes", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.replication.factor", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.min.isr", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.max.timeout.ms", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.abort.timed.out.transaction.cleanup.interval.ms", v(0, 11), "KIP-98"),
    // KIP-134 (0.11.0.0 KafkaConfig): 0.10.2 does not delay a group's
    // first rebalance (DEFAULTS gives it 0).
    came(Scope::Broker, "group.initial.rebalance.delay.ms", v(0, 11), "KIP-134"),
    // KIP-107 (0.11.0.0 KafkaConfig): log start offsets checkpointed.
    came(Scope::Broker, "log.flush.start.offset.checkpoint.interval.ms", v(0, 11), "KIP-107"),
    // KIP-266 (2.0.0 ConsumerConfig).
    came(Scope::Consumer, "default.api.timeout.ms", v(2, 0), "KIP-266"),
    // KIP-91 (2.1.0 ProducerConfig).
    came(Scope::Producer, "delivery.timeout.ms", v(2, 1), "KIP-91"),
    // KIP-345 (2.3.0 ConsumerConfig): static membership.
    came(Scope::Consumer, "group.instance.id", v(2, 3), "KIP-345"),
    // KIP-354 (2.3.0 KafkaConfig, TopicConfig).
    came(Scope::Broker, "log.cleaner.max.compaction.lag.ms", v(2, 3), "KIP-354"),
    came(Scope::Topic, "max.compaction.lag.ms", v(2, 3), "KIP-354"),
    // KRaft (2.8.0 RaftConfig, KafkaConfig; early access until 3.3,
    // KIP-833): before 2.8 brokers have no KRaft configs.
    came(Scope::Broker, "broker.session.timeout.ms", v(2, 8), "KIP-631"),
    came(Scope::Broker, "controller.quorum.election.timeout.ms", v(2, 8), "KIP-595"),
    came(Scope::Broker, "controller.quorum.fetch.timeout.ms", v(2, 8), "KIP-595"),
    came(Scope::Broker, "controller.quorum.election.backoff.max.ms", v(2, 8), "KIP-595"),
    // KIP-890 part 1 (3.6.0 KafkaConfig).
    came(Scope::Broker, "transaction.partition.verification.enable", v(3, 6), "KIP-890 part 1"),
    // KIP-390: compression levels (3.8.0 TopicConfig / ProducerConfig).
    came(Scope::Producer, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Producer, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Producer, "compression.zstd.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.zstd.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.zstd.level", v(3, 8), "KIP-390"),
    // KAFKA-18654: a partition leader retries adding a partition to a
    // transaction itself (4.0's AddPartitionsToTxnConfig).
    came(Scope::Broker, "add.partitions.to.txn.retry.backoff.ms", v(4, 0), "KAFKA-18654"),
    came(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms", v(4, 0), "KAFKA-18654"),
];

/// A value of a config that came in release `since` (a codec, an
/// assignor, a processing guarantee): a scenario of an older release that
/// sets it is refused.
struct ValueSince {
    scope: Scope,
    name: &'static str,
    value: &'static str,
    since: KafkaVersion,
    reference: &'static str,
}

const fn value_came(
    scope: Scope,
    name: &'static str,
    value: &'static str,
    since: KafkaVersion,
    reference: &'static str,
) -> ValueSince {
    ValueSince {
        scope,
        name,
        value,
        since,
        reference,
    }
}

/// Config values (as ksim names them) that came after Kafka 0.10.2.
#[rustfmt::skip]
static VALUES_SINCE: &[ValueSince] = &[
    // KIP-110: zstd (2.1.0 CompressionType).
    value_came(Scope::Producer, "compression.type", "zstd", v(2, 1), "KIP-110"),
    value_came(Scope::Topic, "compression.type", "zstd", v(2, 1), "KIP-110"),
    value_came(Scope::Broker, "compression.type", "zstd", v(2, 1), "KIP-110"),
    // KIP-54: StickyAssignor (0.11.0.0); KIP-429: CooperativeStickyAssignor (2.4.0).
    value_came(Scope::Consumer, "partition.assignment.strategy", "sticky", v(0, 11), "KIP-54"),
    value_came(Scope::Consumer, "partition.assignment.strategy", "cooperative-sticky", v(2, 4), "KIP-429"),
    // KIP-732: exactly_once_v2 (3.0.0 StreamsConfig; 2.6 to 2.8 called it
    // exactly_once_beta, KIP-447).
    value_came(Scope::Streams, "processing.guarantee", "exactly_once_v2", v(3, 0), "KIP-732"),
];

impl KafkaVersion {
    /// Why config `name` of `scope` cannot be set under this release: it
    /// came in a later one. None when this release has it.
    pub fn lacks_config(self, scope: Scope, name: &str) -> Option<String> {
        CONFIGS_SINCE
            .iter()
            .find(|c| c.scope == scope && c.name == name && !self.has(c.since))
            .map(|c| {
                format!(
                    "{name:?} is not a config of Kafka {self}: it came in {} ({})",
                    c.since, c.reference
                )
            })
    }

    /// Why `value` of config `name` of `scope` cannot be set under this
    /// release (for a list, any of its items): it came in a later one.
    pub fn lacks_value(self, scope: Scope, name: &str, value: &ConfigValue) -> Option<String> {
        let items: Vec<&str> = match value {
            ConfigValue::Str(s) => vec![s.as_str()],
            ConfigValue::List(l) => l.iter().map(String::as_str).collect(),
            ConfigValue::Int(_) | ConfigValue::Bool(_) => return None,
        };
        VALUES_SINCE
            .iter()
            .find(|c| {
                c.scope == scope && c.name == name && items.contains(&c.value) && !self.has(c.since)
            })
            .map(|c| {
                format!(
                    "{name} = {:?} is not in Kafka {self}: it came in {} ({})",
                    c.value, c.since, c.reference
                )
            })
    }
}

/// A protocol behaviour that changed in a release.
pub struct Behaviour {
    /// What the release brought.
    pub what: &'static str,
    /// KIP or JIRA.
    pub reference: &'static str,
    /// The release it came in.
    pub since: KafkaVersion,
    /// The `[protocol]` switch that sets it against the release, if any.
    pub switch: Option<&'static str>,
}

/// The behaviours whose releases bound what ksim models (each a row of
/// `docs/versions.md`). One without a switch that a release lacks makes
/// that release one ksim cannot run yet.
pub static BEHAVIOURS: &[Behaviour] = &[
    Behaviour {
        what: "follower truncation by leader epoch",
        reference: "KIP-101",
        since: KafkaVersion::new(0, 11),
        switch: Some("truncation"),
    },
    Behaviour {
        what: "OffsetsForLeaderEpoch answering the leader epoch with the end offset, the follower truncating to the largest epoch both logs have",
        reference: "KIP-279",
        since: KafkaVersion::new(2, 0),
        switch: Some("truncation"),
    },
    Behaviour {
        what: "the follower's current leader epoch in Fetch, fenced by the leader (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH)",
        reference: "KIP-320 (KAFKA-7395)",
        since: KafkaVersion::new(2, 1),
        switch: Some("leader_epoch_in_replica_fetch"),
    },
    Behaviour {
        what: "the consumer's leader epoch in Fetch and ListOffsets, and its position validated with OffsetsForLeaderEpoch after a leader change",
        reference: "KIP-320 (KAFKA-7440, KAFKA-7747)",
        since: KafkaVersion::new(2, 3),
        switch: Some("consumer_leader_epoch_validation"),
    },
    Behaviour {
        what: "a follower joining the ISR only at the current leader epoch's start offset",
        reference: "KAFKA-7128",
        since: KafkaVersion::new(2, 1),
        switch: Some("isr_join_requires_epoch_start_offset"),
    },
    Behaviour {
        what: "the high watermark held while the ISR is below min.insync.replicas",
        reference: "KAFKA-15583",
        since: KafkaVersion::new(3, 7),
        switch: Some("hw_held_below_min_isr"),
    },
    Behaviour {
        what: "transaction partition verification (transaction.partition.verification.enable)",
        reference: "KIP-890 part 1",
        since: KafkaVersion::new(3, 6),
        switch: Some("transaction.partition.verification.enable"),
    },
    Behaviour {
        what: "the broker epoch in AlterPartition (a replica restarted since its fetch cannot join the ISR)",
        reference: "KIP-903",
        since: KafkaVersion::new(3, 5),
        switch: Some("broker_epoch_in_alter_partition"),
    },
    Behaviour {
        what: "fenced replicas kept out of the ISR (the controller refuses them in AlterPartition, INELIGIBLE_REPLICA)",
        reference: "KIP-841",
        since: KafkaVersion::new(3, 3),
        switch: Some("fenced_replicas_kept_out_of_isr"),
    },
    // What else ksim simulates that changed in 3.3 (`git log 3.2.0..3.3.0`
    // of the controller and the broker's data path): KRaft changes, each a
    // switch.
    Behaviour {
        what: "the active controller's NoOpRecord every metadata.max.idle.interval.ms",
        reference: "KIP-835",
        since: KafkaVersion::new(3, 3),
        switch: Some("metadata_noop_records"),
    },
    Behaviour {
        what: "a fenced broker unfenced once its metadata reached its own registration (before: the controller's last committed offset)",
        reference: "KAFKA-13959",
        since: KafkaVersion::new(3, 3),
        switch: Some("unfence_at_registration_offset"),
    },
    Behaviour {
        what: "a broker in controlled shutdown applying the metadata that moves its leaderships (before: its metadata listener stopped, its leaderships stayed active until it stopped)",
        reference: "KAFKA-13858",
        since: KafkaVersion::new(3, 3),
        switch: Some("metadata_applied_in_controlled_shutdown"),
    },
    Behaviour {
        what: "a partition update in the same leader epoch keeping the leader's epoch start offset and follower states (before: makeLeader again, restarting them: a follower out of the ISR must reach the log end offset of the last ISR change, the ISR members' lag clocks restart)",
        reference: "KAFKA-13790",
        since: KafkaVersion::new(3, 3),
        switch: Some("leader_state_kept_on_partition_update"),
    },
    // `git log 3.0.0..3.2.0`.
    Behaviour {
        what: "a static leader rejoining a Stable group told it leads (before: the old member id named as leader, so it does not watch the metadata for the group)",
        reference: "KIP-814",
        since: KafkaVersion::new(3, 2),
        switch: Some("static_leader_rejoins_as_leader"),
    },
    Behaviour {
        what: "the partition leader's high watermark advanced when an AlterPartition (AlterIsr) answer comes (before: at its next metadata update, fetch or append)",
        reference: "KAFKA-13091",
        since: KafkaVersion::new(3, 1),
        switch: Some("hw_incremented_after_alter_partition"),
    },
    // `git log 2.8.0..3.0.0` (KAFKA-10101 is there as trunk's commit, but
    // 2.8.0 has it: cherry-picked before the release).
    Behaviour {
        what: "log recovery leaving the recovery point where the checkpoint had it (before: moved to the recovered log end offset, so a flush does not fsync what recovery read from the page cache)",
        reference: "KAFKA-10101",
        since: KafkaVersion::new(2, 8),
        switch: Some("recovery_point_held_after_recovery"),
    },
    // `git log 2.7.0..2.8.0` (2.7 is 2.7.2).
    Behaviour {
        what: "a follower's last fetched epoch in every Fetch, truncated where the leader's answer names the diverging epoch (before: OffsetsForLeaderEpoch only after following a new leader epoch)",
        reference: "KAFKA-10554",
        since: KafkaVersion::new(2, 8),
        switch: Some("truncation_on_fetch"),
    },
    Behaviour {
        what: "an ISR change sent to the controller at once (before: by a task every 50 ms)",
        reference: "apache/kafka#9749",
        since: KafkaVersion::new(2, 8),
        switch: Some("alter_partition_sent_at_once"),
    },
    // `git log 2.6.0..2.7.0` (2.6 is 2.6.3).
    Behaviour {
        what: "a pending ISR state while the leader's AlterIsr is in flight, the partition going on meanwhile (before: the leader wrote the ISR to ZooKeeper itself, and the partition waited for the write)",
        reference: "KIP-497",
        since: KafkaVersion::new(2, 7),
        switch: Some("pending_isr_state"),
    },
    Behaviour {
        what: "the transaction coordinator's PRODUCER_FENCED for a fenced producer epoch (before: INVALID_PRODUCER_EPOCH)",
        reference: "KAFKA-9911",
        since: KafkaVersion::new(2, 7),
        switch: Some("producer_fenced_error"),
    },
    // `git log 2.4.0..2.5.0` (the 2.4 look; 2.4 itself is still refused).
    Behaviour {
        what: "a fetch session keeping each partition's current leader epoch, so a follower's incremental fetch is fenced (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH) as a full one is (before: a session's partitions read without one)",
        reference: "KAFKA-9338",
        since: KafkaVersion::new(2, 5),
        switch: Some("fetch_session_leader_epoch"),
    },
    Behaviour {
        what: "a static member rejoining with an unknown member id while the group is CompletingRebalance starting a rebalance (before: answered at once, as in Stable, with the old leader id; the leader's assignment, made for the old member id, left the new one empty)",
        reference: "KAFKA-9801",
        since: KafkaVersion::new(2, 5),
        switch: Some("static_rejoin_rebalances_when_completing"),
    },
    Behaviour {
        what: "a member new when its join phase completed expired a session timeout later unless it heartbeats (before: its heartbeat expiration, rescheduled while it was still new, completed at once, so a member that died between its JoinGroup answer and its SyncGroup stayed in the group, its partitions assigned to it, until a rebalance removed it)",
        reference: "KAFKA-9752",
        since: KafkaVersion::new(2, 5),
        switch: Some("new_member_heartbeat_expiration"),
    },
    Behaviour {
        what: "a transactional producer bumping its epoch itself after an abortable error (InitProducerId v3 with its producer id and epoch, KIP-360) (before: InitProducerId v0-2; it aborts and goes on in the same epoch, and UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_ID_MAPPING from its coordinator, or a batch it can no longer retry, are fatal)",
        reference: "KAFKA-8710",
        since: KafkaVersion::new(2, 5),
        switch: Some("transactional_epoch_bump"),
    },
    // `git log 2.5.0..2.6.0` (2.5 is 2.5.1).
    Behaviour {
        what: "a follower's fetch answered only on data or after replica.fetch.wait.max.ms (before: KIP-392's immediate high watermark propagation, at once when the high watermark is above the one last sent to the follower)",
        reference: "KAFKA-9952",
        since: KafkaVersion::new(2, 6),
        switch: Some("follower_fetch_waits_for_data"),
    },
    Behaviour {
        what: "an epoch fence whose transaction log write failed remembered, the epoch not bumped again, and the fenced epoch not kept as the last one (before: every fence bumps the epoch, and lastProducerEpoch is the fenced epoch)",
        reference: "KAFKA-9666",
        since: KafkaVersion::new(2, 6),
        switch: Some("failed_epoch_fence_remembered"),
    },
    Behaviour {
        what: "a client's EndTxn taken only with the coordinator's producer epoch (before: refused only with an older one, INVALID_PRODUCER_EPOCH, a newer one taken)",
        reference: "KAFKA-9600",
        since: KafkaVersion::new(2, 6),
        switch: Some("strict_end_txn_epoch"),
    },
    Behaviour {
        what: "an AlterPartition (AlterIsr) in flight kept when the broker takes the partition's role again (before: makeLeader and makeFollower dropped it, and its answer dropped the next proposal)",
        reference: "KAFKA-12686",
        since: KafkaVersion::new(3, 0),
        switch: Some("alter_partition_kept_on_role_change"),
    },
    Behaviour {
        what: "an ISR shrink keeping the leader epoch, the high watermark waiting for a caught-up replica about to join the ISR",
        reference: "KAFKA-15021",
        since: KafkaVersion::new(3, 6),
        switch: Some("leader_epoch_bump_on_isr_shrink"),
    },
    Behaviour {
        what: "an active group's committed offsets kept however old (they expire only once the group is empty)",
        reference: "KIP-211",
        since: KafkaVersion::new(2, 1),
        switch: Some("offsets_kept_while_group_active"),
    },
    Behaviour {
        what: "the sticky partitioner for records without a key (before: round-robin per record)",
        reference: "KIP-480",
        since: KafkaVersion::new(2, 4),
        switch: Some("partitioner"),
    },
    Behaviour {
        what: "the built-in partitioner: a new sticky partition after batch.size bytes (before: at each new batch)",
        reference: "KIP-794",
        since: KafkaVersion::new(3, 3),
        switch: Some("partitioner"),
    },
    Behaviour {
        what: "delivery.timeout.ms bounds a send end to end (before: a batch expires in the accumulator after request.timeout.ms, and a send is retried `retries` times)",
        reference: "KIP-91",
        since: KafkaVersion::new(2, 1),
        switch: Some("delivery_timeout_bounds_sends"),
    },
    Behaviour {
        what: "transactions v2: an epoch bump at every commit or abort",
        reference: "KIP-890 part 2",
        since: KafkaVersion::new(4, 0),
        switch: Some("transaction_version"),
    },
    Behaviour {
        what: "a static member rejoining with an unknown member id given a new one, the old fenced, in any group state (before, on trunk only: in a Stable group only; in a rebalancing one it joined as the old member id)",
        reference: "KAFKA-8500",
        since: KafkaVersion::new(2, 3),
        switch: Some("static_member_id_replaced_in_any_state"),
    },
    Behaviour {
        what: "KRaft pre-vote (a voter whose timeout expires is Prospective until a majority grants it a pre-vote; a follower that fetched from its leader refuses them)",
        reference: "KIP-996",
        since: KafkaVersion::new(4, 0),
        switch: Some("kraft_pre_vote"),
    },
    Behaviour {
        what: "KRaft replicas sending the high watermark they know in their Fetch, the leader answering held Fetches when its high watermark rises (before: a held Fetch waits for new entries or 500 ms, so committed metadata reaches the brokers up to 500 ms later)",
        reference: "KIP-1166",
        since: KafkaVersion::new(4, 1),
        switch: Some("kraft_fetch_high_watermark"),
    },
    Behaviour {
        what: "a partition leader appending the first batch of a producer it has no state for at any sequence (before: UNKNOWN_PRODUCER_ID unless at sequence 0)",
        reference: "KIP-360 (KAFKA-8710)",
        since: KafkaVersion::new(2, 5),
        switch: Some("unknown_producer_any_sequence"),
    },
    Behaviour {
        what: "a verified transactions-v2 batch of a producer the partition has no state for taken only at sequence 0",
        reference: "KAFKA-18202",
        since: KafkaVersion::new(4, 1),
        switch: Some("unknown_producer_sequence_zero_in_tv2"),
    },
    Behaviour {
        what: "a partition that never held a record taking only sequence 0 from a producer it has no state for",
        reference: "KAFKA-15591",
        since: KafkaVersion::new(4, 5),
        switch: Some("unknown_producer_sequence_zero_on_empty_log"),
    },
    Behaviour {
        what: "eligible leader replicas (the ISR may empty; replicas that left it below min.insync.replicas may lead; an unclean restart leaves every ISR and ELR)",
        reference: "KIP-966",
        since: KafkaVersion::new(4, 1),
        switch: Some("eligible_leader_replicas"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_older_ones_name_what_they_lack() {
        assert_eq!(KafkaVersion::parse("3.8"), Ok(KafkaVersion::new(3, 8)));
        assert_eq!(KafkaVersion::parse("3.9.1"), Ok(KafkaVersion::new(3, 9)));
        assert_eq!(KafkaVersion::parse("4.0"), Ok(KafkaVersion::new(4, 0)));
        assert_eq!(KafkaVersion::parse("4.1"), Ok(KafkaVersion::NEWEST));
        assert_eq!(KafkaVersion::parse("4.1.1"), Ok(KafkaVersion::NEWEST));
        assert_eq!(KafkaVersion::parse("3.6.2"), Ok(KafkaVersion::new(3, 6)));
        assert_eq!(KafkaVersion::parse("3.5"), Ok(KafkaVersion::new(3, 5)));
        assert_eq!(KafkaVersion::parse("3.3.2"), Ok(KafkaVersion::new(3, 3)));
        assert_eq!(KafkaVersion::parse("3.2"), Ok(KafkaVersion::new(3, 2)));
        assert_eq!(KafkaVersion::parse("3.1.2"), Ok(KafkaVersion::new(3, 1)));
        assert_eq!(KafkaVersion::parse("3.0.2"), Ok(KafkaVersion::new(3, 0)));
        assert_eq!(
            KafkaVersion::MODELLED[0],
            KafkaVersion::new(2, 5),
            "the oldest"
        );
        assert_eq!(KafkaVersion::parse("2.8"), Ok(KafkaVersion::new(2, 8)));
        assert_eq!(KafkaVersion::parse("2.8.2"), Ok(KafkaVersion::new(2, 8)));
        assert_eq!(KafkaVersion::parse("2.7"), Ok(KafkaVersion::new(2, 7)));
        assert_eq!(KafkaVersion::parse("2.7.2"), Ok(KafkaVersion::new(2, 7)));
        assert_eq!(KafkaVersion::parse("2.6"), Ok(KafkaVersion::new(2, 6)));
        assert_eq!(KafkaVersion::parse("2.6.3"), Ok(KafkaVersion::new(2, 6)));
        assert_eq!(KafkaVersion::parse("2.5"), Ok(KafkaVersion::new(2, 5)));
        assert_eq!(KafkaVersion::parse("2.5.1"), Ok(KafkaVersion::new(2, 5)));
        for unchecked in ["2.4", "2.1.1"] {
            let old = KafkaVersion::parse(unchecked).unwrap_err();
            assert!(old.contains("not all checked"), "{old}");
        }
        let old = KafkaVersion::parse("2.4").unwrap_err();
        assert!(old.contains("(`git log 2.4.0..2.5.0`)"), "{old}");
        let old = KafkaVersion::parse("2.3").unwrap_err();
        assert!(old.contains("(`git log 2.3.0..2.5.0`)"), "{old}");
        let old = KafkaVersion::parse("2.0").unwrap_err();
        assert!(old.contains("(`git log 2.0.0..2.5.0`)"), "{old}");
        for switched in [
            "KAFKA-9338",
            "KAFKA-9801",
            "KAFKA-8710",
            "KAFKA-9952",
            "KAFKA-9666",
            "KAFKA-9600",
            "KIP-497",
            "KAFKA-9911",
            "KAFKA-13091",
            "KAFKA-10101",
            "KAFKA-10554",
            "apache/kafka#9749",
            "KAFKA-12686",
            "KIP-814",
            "KIP-835",
            "KAFKA-13959",
            "KAFKA-13858",
            "KIP-841",
            "KAFKA-7128",
            "KIP-320",
            "KIP-279",
            "KIP-101",
            "KAFKA-15583",
            "KAFKA-15021",
            "KIP-890 part 1",
            "KIP-903",
            "KIP-966",
            "KIP-91",
        ] {
            assert!(!old.contains(switched), "a switch covers {switched}: {old}");
        }
        let new = KafkaVersion::parse("4.2").unwrap_err();
        assert!(new.contains("newer than ksim models (4.1)"), "{new}");
        for bad in ["four", "3", "3.x", "3.8.1.2", "3.8.x"] {
            let e = KafkaVersion::parse(bad).unwrap_err();
            assert!(e.contains("is not a Kafka version"), "{bad}: {e}");
        }
    }

    #[test]
    fn docs_versions_has_a_row_for_every_behaviour_and_config_and_names_the_releases() {
        let docs = include_str!("../../docs/versions.md");
        let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("| ")).collect();
        let row_with = |words: &[&str]| rows.iter().any(|r| words.iter().all(|w| r.contains(w)));
        for b in BEHAVIOURS {
            let mut words = vec![b.reference];
            if let Some(switch) = b.switch {
                words.push(switch);
            }
            assert!(
                row_with(&words),
                "docs/versions.md has no row naming {words:?}"
            );
        }
        for c in CONFIGS_SINCE {
            assert!(
                row_with(&[c.reference, c.name]),
                "docs/versions.md has no row naming {} and {}",
                c.reference,
                c.name
            );
        }
        for d in DEFAULTS {
            assert!(
                row_with(&[d.reference, d.name]),
                "docs/versions.md has no row naming {} and {}",
                d.reference,
                d.name
            );
        }
        for c in VALUES_SINCE {
            assert!(
                row_with(&[c.reference, c.name, c.value]),
                "docs/versions.md has no row naming {}, {} and {}",
                c.reference,
                c.name,
                c.value
            );
        }
        let listed = KafkaVersion::MODELLED.map(|v| v.to_string());
        let (last, rest) = listed.split_last().expect("releases");
        let releases = format!("**{} and {last}**", rest.join(", "));
        assert!(
            docs.replace('\n', " ").contains(&releases),
            "docs/versions.md does not say {releases}"
        );
    }

    #[test]
    fn configs_a_release_lacks_are_named() {
        let v39 = KafkaVersion::new(3, 9);
        let lacks = v39.lacks_config(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms");
        assert_eq!(
            lacks.as_deref(),
            Some("\"add.partitions.to.txn.retry.backoff.max.ms\" is not a config of Kafka 3.9: it came in 4.0 (KAFKA-18654)")
        );
        assert!(KafkaVersion::NEWEST
            .lacks_config(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms")
            .is_none());
        assert!(KafkaVersion::new(3, 7)
            .lacks_config(Scope::Producer, "compression.zstd.level")
            .is_some());
        assert!(v39
            .lacks_config(Scope::Producer, "compression.zstd.level")
            .is_none());
    }

    fn int(v: i64) -> Option<ConfigValue> {
        Some(ConfigValue::Int(v))
    }

    fn boolean(v: bool) -> Option<ConfigValue> {
        Some(ConfigValue::Bool(v))
    }

    fn string(v: &str) -> Option<ConfigValue> {
        Some(ConfigValue::Str(v.to_owned()))
    }

    /// Each changed default, at releases either side of each change (None:
    /// the config tables' newest default).
    #[test]
    fn each_release_has_its_own_defaults_back_to_0_10_2() {
        use Scope::{Broker as B, Consumer as C, Producer as P, Topic as T};
        let range = Some(ConfigValue::List(vec!["range".to_owned()]));
        #[rustfmt::skip]
        type AtReleases<'a> = &'a [((u8, u8), Option<ConfigValue>)];
        let cases: &[(Scope, &str, AtReleases)] = &[
            (
                P,
                "acks",
                &[
                    ((0, 10), string("1")),
                    ((2, 8), string("1")),
                    ((3, 0), None),
                    ((3, 3), None),
                ],
            ),
            (
                P,
                "enable.idempotence",
                &[
                    ((0, 10), boolean(false)),
                    ((0, 11), boolean(false)),
                    ((2, 8), boolean(false)),
                    ((3, 0), None),
                    ((3, 1), None),
                ],
            ),
            (
                P,
                "retries",
                &[
                    ((0, 10), int(0)),
                    ((2, 0), int(0)),
                    ((2, 1), None),
                    ((3, 0), None),
                ],
            ),
            (
                P,
                "delivery.timeout.ms",
                &[
                    ((1, 1), int(i32::MAX as i64)),
                    ((2, 0), int(i32::MAX as i64)),
                    ((2, 1), None),
                ],
            ),
            (
                P,
                "linger.ms",
                &[((0, 10), int(0)), ((3, 9), int(0)), ((4, 0), None)],
            ),
            (
                P,
                "max.in.flight.requests.per.connection",
                &[((0, 10), None), ((2, 8), None)],
            ),
            (
                C,
                "session.timeout.ms",
                &[
                    ((0, 10), int(10_000)),
                    ((2, 8), int(10_000)),
                    ((3, 0), None),
                    ((3, 3), None),
                ],
            ),
            (
                C,
                "partition.assignment.strategy",
                &[
                    ((0, 10), range.clone()),
                    ((2, 4), range.clone()),
                    ((2, 8), range),
                    ((3, 0), None),
                ],
            ),
            (
                C,
                "request.timeout.ms",
                &[
                    ((0, 10), int(305_000)),
                    ((1, 1), int(305_000)),
                    ((2, 0), None),
                    ((2, 1), None),
                ],
            ),
            (
                C,
                "default.api.timeout.ms",
                &[((1, 1), int(i64::MAX)), ((2, 0), None)],
            ),
            (
                B,
                "unclean.leader.election.enable",
                &[((0, 10), boolean(true)), ((0, 11), None), ((1, 0), None)],
            ),
            (
                T,
                "unclean.leader.election.enable",
                &[((0, 10), boolean(true)), ((0, 11), None)],
            ),
            (
                B,
                "group.initial.rebalance.delay.ms",
                &[((0, 10), int(0)), ((0, 11), None)],
            ),
            (
                B,
                "delete.topic.enable",
                &[
                    ((0, 10), boolean(false)),
                    ((0, 11), boolean(false)),
                    ((1, 0), None),
                    ((1, 1), None),
                ],
            ),
            (
                B,
                "offsets.retention.minutes",
                &[
                    ((0, 10), int(1440)),
                    ((1, 1), int(1440)),
                    ((2, 0), None),
                    ((2, 1), None),
                ],
            ),
            (
                B,
                "replica.lag.time.max.ms",
                &[
                    ((0, 10), int(10_000)),
                    ((2, 4), int(10_000)),
                    ((2, 5), None),
                    ((2, 6), None),
                ],
            ),
            (
                B,
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                &[
                    ((0, 11), int(60_000)),
                    ((2, 4), int(60_000)),
                    ((2, 5), None),
                ],
            ),
            (
                B,
                "transaction.partition.verification.enable",
                &[((3, 5), boolean(false)), ((3, 6), None)],
            ),
            (B, "min.insync.replicas", &[((0, 10), None), ((2, 8), None)]),
        ];
        for (scope, name, expected) in cases {
            for ((major, minor), want) in expected.iter() {
                let v = KafkaVersion::new(*major, *minor);
                assert_eq!(
                    &v.default_for(*scope, name),
                    want,
                    "{scope:?} {name} in {v}"
                );
            }
        }
    }

    /// A default that changed more than once has one row per change,
    /// oldest first, each for a config ksim simulates; a row's older value
    /// differs from the next one's.
    #[test]
    fn the_defaults_table_is_in_release_order_and_of_simulated_configs() {
        for (i, d) in DEFAULTS.iter().enumerate() {
            let def = super::super::find(d.scope, d.name)
                .unwrap_or_else(|| panic!("{} is not a config ksim simulates", d.name));
            let later = DEFAULTS[i + 1..]
                .iter()
                .find(|e| e.scope == d.scope && e.name == d.name);
            let newer = later.map_or(def.default, |e| e.before);
            assert_ne!(d.before, newer, "{} did not change in {}", d.name, d.since);
            if let Some(e) = later {
                assert!(e.since > d.since, "{}: rows out of order", d.name);
            }
        }
        for c in CONFIGS_SINCE {
            assert!(
                super::super::find(c.scope, c.name).is_some(),
                "{} is not a config ksim simulates",
                c.name
            );
        }
    }

    /// The releases that lack a config (or a value) refuse it, those that
    /// have it take it.
    #[test]
    fn configs_and_values_since_their_release() {
        use Scope::{Broker as B, Consumer as C, Producer as P, Streams as S, Topic as T};
        #[rustfmt::skip]
        type Release = (u8, u8);
        let configs: &[(Scope, &str, Release, Release)] = &[
            (P, "enable.idempotence", (0, 10), (0, 11)),
            (P, "transactional.id", (0, 10), (0, 11)),
            (C, "isolation.level", (0, 10), (0, 11)),
            (B, "transaction.state.log.min.isr", (0, 10), (0, 11)),
            (B, "group.initial.rebalance.delay.ms", (0, 10), (0, 11)),
            (C, "default.api.timeout.ms", (1, 1), (2, 0)),
            (P, "delivery.timeout.ms", (2, 0), (2, 1)),
            (C, "group.instance.id", (2, 2), (2, 3)),
            (T, "max.compaction.lag.ms", (2, 2), (2, 3)),
            (B, "broker.session.timeout.ms", (2, 7), (2, 8)),
            (B, "controller.quorum.fetch.timeout.ms", (2, 7), (2, 8)),
        ];
        for &(scope, name, lacks, has) in configs {
            let (lacks, has) = (
                KafkaVersion::new(lacks.0, lacks.1),
                KafkaVersion::new(has.0, has.1),
            );
            assert!(
                lacks.lacks_config(scope, name).is_some(),
                "{name} in {lacks}"
            );
            assert!(has.lacks_config(scope, name).is_none(), "{name} in {has}");
            assert!(KafkaVersion::NEWEST.lacks_config(scope, name).is_none());
        }
        let list = |v: &[&str]| ConfigValue::List(v.iter().map(|s| (*s).to_owned()).collect());
        let coop = list(&["range", "cooperative-sticky"]);
        assert_eq!(
            KafkaVersion::new(2, 3).lacks_value(C, "partition.assignment.strategy", &coop).as_deref(),
            Some("partition.assignment.strategy = \"cooperative-sticky\" is not in Kafka 2.3: it came in 2.4 (KIP-429)")
        );
        assert!(KafkaVersion::new(2, 4)
            .lacks_value(C, "partition.assignment.strategy", &coop)
            .is_none());
        let sticky = list(&["sticky"]);
        assert!(KafkaVersion::new(0, 10)
            .lacks_value(C, "partition.assignment.strategy", &sticky)
            .is_some());
        assert!(KafkaVersion::new(0, 11)
            .lacks_value(C, "partition.assignment.strategy", &sticky)
            .is_none());
        let zstd = ConfigValue::Str("zstd".to_owned());
        for scope in [P, T, B] {
            assert!(KafkaVersion::new(2, 0)
                .lacks_value(scope, "compression.type", &zstd)
                .is_some());
            assert!(KafkaVersion::new(2, 1)
                .lacks_value(scope, "compression.type", &zstd)
                .is_none());
        }
        let lz4 = ConfigValue::Str("lz4".to_owned());
        assert!(KafkaVersion::new(0, 10)
            .lacks_value(P, "compression.type", &lz4)
            .is_none());
        let eos = ConfigValue::Str("exactly_once_v2".to_owned());
        assert!(KafkaVersion::new(2, 8)
            .lacks_value(S, "processing.guarantee", &eos)
            .is_some());
        assert!(KafkaVersion::new(3, 0)
            .lacks_value(S, "processing.guarantee", &eos)
            .is_none());
    }

    #[test]
    fn each_release_has_its_own_partitioner() {
        let p = |major, minor| KafkaVersion::new(major, minor).partitioner();
        assert_eq!(p(0, 10), PartitionerKind::RoundRobin);
        assert_eq!(p(2, 3), PartitionerKind::RoundRobin);
        assert_eq!(p(2, 4), PartitionerKind::Sticky);
        assert_eq!(p(3, 2), PartitionerKind::Sticky);
        assert_eq!(p(3, 3), PartitionerKind::UniformSticky);
        assert_eq!(
            KafkaVersion::NEWEST.partitioner(),
            PartitionerKind::UniformSticky
        );
    }

    #[test]
    fn each_release_has_its_own_defaults() {
        let linger = |v| KafkaVersion::default_for(v, Scope::Producer, "linger.ms");
        assert_eq!(linger(KafkaVersion::new(3, 9)), Some(ConfigValue::Int(0)));
        assert_eq!(linger(KafkaVersion::NEWEST), None, "the table's 5");
        assert_eq!(KafkaVersion::new(3, 9).transaction_version(), 1);
        let verification = |v| {
            KafkaVersion::default_for(
                v,
                Scope::Broker,
                "transaction.partition.verification.enable",
            )
        };
        assert_eq!(
            verification(KafkaVersion::new(3, 5)),
            Some(ConfigValue::Bool(false))
        );
        assert_eq!(
            verification(KafkaVersion::new(3, 6)),
            None,
            "the table's true"
        );
        assert!(KafkaVersion::new(3, 5).leader_epoch_bump_on_isr_shrink());
        assert!(!KafkaVersion::new(3, 6).leader_epoch_bump_on_isr_shrink());
        assert_eq!(KafkaVersion::NEWEST.transaction_version(), 2);
        assert!(KafkaVersion::new(3, 0).static_member_id_replaced_in_any_state());
        assert!(!KafkaVersion::new(2, 2).static_member_id_replaced_in_any_state());
        assert!(!KafkaVersion::new(3, 9).kraft_pre_vote());
        assert!(!KafkaVersion::new(3, 0).kraft_pre_vote());
        assert!(KafkaVersion::new(4, 0).kraft_pre_vote());
        assert!(KafkaVersion::NEWEST.kraft_pre_vote());
        assert!(!KafkaVersion::new(4, 0).kraft_fetch_high_watermark());
        assert!(KafkaVersion::new(4, 1).kraft_fetch_high_watermark());
        for v in KafkaVersion::MODELLED {
            assert!(v.unknown_producer_any_sequence(), "KIP-360 in {v}");
            assert!(
                !v.unknown_producer_sequence_zero_on_empty_log(),
                "KAFKA-15591 unfixed in {v}"
            );
        }
        assert!(!KafkaVersion::new(2, 4).unknown_producer_any_sequence());
        assert!(!KafkaVersion::new(4, 0).unknown_producer_sequence_zero_in_tv2());
        assert!(KafkaVersion::NEWEST.unknown_producer_sequence_zero_in_tv2());
        assert!(!KafkaVersion::new(2, 0).delivery_timeout_bounds_sends());
        assert!(KafkaVersion::new(2, 1).delivery_timeout_bounds_sends());
        assert!(!KafkaVersion::new(2, 7).truncation_on_fetch());
        assert!(KafkaVersion::new(2, 8).truncation_on_fetch());
        assert!(!KafkaVersion::new(2, 7).alter_partition_sent_at_once());
        assert!(KafkaVersion::new(2, 8).alter_partition_sent_at_once());
        assert!(!KafkaVersion::new(2, 6).pending_isr_state());
        // 2.6 has no AlterIsrManager: it writes at once, keeps the write
        // across a role change and looks at the high watermark after it.
        let v26 = KafkaVersion::new(2, 6);
        assert!(v26.alter_partition_sent_at_once());
        assert!(v26.alter_partition_kept_on_role_change());
        assert!(v26.hw_incremented_after_alter_partition());
        assert!(!KafkaVersion::new(2, 7).hw_incremented_after_alter_partition());
        assert!(KafkaVersion::new(2, 7).pending_isr_state());
        assert!(!KafkaVersion::new(2, 6).producer_fenced_error());
        assert!(KafkaVersion::new(2, 7).producer_fenced_error());
        let (v25, v26) = (KafkaVersion::new(2, 5), KafkaVersion::new(2, 6));
        assert!(!v25.follower_fetch_waits_for_data());
        assert!(v26.follower_fetch_waits_for_data());
        assert!(!v25.failed_epoch_fence_remembered());
        assert!(v26.failed_epoch_fence_remembered());
        assert!(!v25.strict_end_txn_epoch());
        assert!(v26.strict_end_txn_epoch());
        // The 2.4 look's switches: every modelled release has them.
        for v in KafkaVersion::MODELLED {
            assert!(v.fetch_session_leader_epoch(), "{v}");
            assert!(v.static_rejoin_rebalances_when_completing(), "{v}");
            assert!(v.new_member_heartbeat_expiration(), "{v}");
            assert!(v.transactional_epoch_bump(), "{v}");
        }
        let v24 = KafkaVersion::new(2, 4);
        assert!(!v24.fetch_session_leader_epoch());
        assert!(!v24.static_rejoin_rebalances_when_completing());
        assert!(!v24.new_member_heartbeat_expiration());
        assert!(!v24.transactional_epoch_bump());
        assert!(!KafkaVersion::new(4, 0).eligible_leader_replicas());
        assert!(KafkaVersion::NEWEST.eligible_leader_replicas());
    }
}
