//! The invariants a run checks; their names are a contract (docs/scenarios.md).

use super::named::named;

/// One checked property of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// An acknowledged acks=all write with min.insync.replicas met is readable at the end.
    AckedWritesDurable,
    /// Never two different records observed at one partition/offset.
    OffsetsConsistent,
    /// No record is written twice (with idempotence).
    NoDuplicates,
    /// A producer's records appear in one partition in send order.
    PartitionOrder,
    /// A consumer never goes backwards without a rebalance or seek.
    MonotonicPoll,
    /// A group never skips offsets between its committed position and what it consumes.
    NoPollSkip,
    /// No consumer sees a record that is later truncated away.
    ReadsCommittedOnly,
    /// In-sync replicas agree on the log up to the high watermark.
    ReplicasConsistent,
    /// At most one leader per partition and leader epoch.
    SingleLeaderPerEpoch,
    /// Committed metadata is identical on all controllers.
    RaftLogConsistent,
    /// A partition's high watermark never moves backwards.
    MonotonicHighWatermark,
    /// Per generation, each partition has at most one owner.
    ExclusiveAssignment,
    /// A group's committed offsets never move backwards.
    CommittedOffsetsMonotonic,
    /// Every acknowledged record is processed by the group at least once by the end.
    ProcessedAtLeastOnce,
    /// No record is processed twice by the group.
    ProcessedAtMostOnce,
    /// After faults heal, producers succeed again and consumers catch up within `settle`.
    EventuallyAvailable,
    /// Every acknowledged input record of a pipeline has exactly one output record in the committed output.
    ExactlyOnce,
    /// All of a committed transaction is readable by read_committed, none of an aborted one.
    TransactionsAtomic,
    /// A read_committed consumer never returns a record of an aborted or open transaction.
    NoAbortedReads,
    /// A group consumes one producer's records of a key in send order (acknowledged ones).
    KeyOrder,
    /// Reading a compacted partition from its start gives every key's latest
    /// acknowledged record, or a later record of the key.
    CompactionKeepsLatest,
}

impl Invariant {
    /// Every invariant, in the order docs/scenarios.md lists them.
    pub const ALL: [Invariant; 21] = [
        Invariant::AckedWritesDurable,
        Invariant::OffsetsConsistent,
        Invariant::NoDuplicates,
        Invariant::PartitionOrder,
        Invariant::MonotonicPoll,
        Invariant::NoPollSkip,
        Invariant::ReadsCommittedOnly,
        Invariant::ReplicasConsistent,
        Invariant::SingleLeaderPerEpoch,
        Invariant::RaftLogConsistent,
        Invariant::MonotonicHighWatermark,
        Invariant::ExclusiveAssignment,
        Invariant::CommittedOffsetsMonotonic,
        Invariant::ProcessedAtLeastOnce,
        Invariant::ProcessedAtMostOnce,
        Invariant::EventuallyAvailable,
        Invariant::ExactlyOnce,
        Invariant::TransactionsAtomic,
        Invariant::NoAbortedReads,
        Invariant::KeyOrder,
        Invariant::CompactionKeepsLatest,
    ];

    /// The contract name, e.g. "acked_writes_durable".
    pub fn name(self) -> &'static str {
        match self {
            Invariant::AckedWritesDurable => "acked_writes_durable",
            Invariant::OffsetsConsistent => "offsets_consistent",
            Invariant::NoDuplicates => "no_duplicates",
            Invariant::PartitionOrder => "partition_order",
            Invariant::MonotonicPoll => "monotonic_poll",
            Invariant::NoPollSkip => "no_poll_skip",
            Invariant::ReadsCommittedOnly => "reads_committed_only",
            Invariant::ReplicasConsistent => "replicas_consistent",
            Invariant::SingleLeaderPerEpoch => "single_leader_per_epoch",
            Invariant::RaftLogConsistent => "raft_log_consistent",
            Invariant::MonotonicHighWatermark => "monotonic_high_watermark",
            Invariant::ExclusiveAssignment => "exclusive_assignment",
            Invariant::CommittedOffsetsMonotonic => "committed_offsets_monotonic",
            Invariant::ProcessedAtLeastOnce => "processed_at_least_once",
            Invariant::ProcessedAtMostOnce => "processed_at_most_once",
            Invariant::EventuallyAvailable => "eventually_available",
            Invariant::ExactlyOnce => "exactly_once",
            Invariant::TransactionsAtomic => "transactions_atomic",
            Invariant::NoAbortedReads => "no_aborted_reads",
            Invariant::KeyOrder => "key_order",
            Invariant::CompactionKeepsLatest => "compaction_keeps_latest",
        }
    }
}

named!(Invariant, "invariant");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for i in Invariant::ALL {
            assert_eq!(i.name().parse::<Invariant>(), Ok(i));
            assert_eq!(i.to_string(), i.name());
        }
    }

    #[test]
    fn unknown_names_are_explained() {
        let err = "acked_write_durable".parse::<Invariant>().unwrap_err();
        assert!(
            err.starts_with(r#"unknown invariant "acked_write_durable"; did you mean "acked_writes_durable"? valid: acked_writes_durable, offsets_consistent,"#),
            "{err}"
        );
    }
}
