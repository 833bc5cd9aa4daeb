//! Kafka's error codes, by Kafka's names (`org.apache.kafka.common.protocol.Errors`).

use std::fmt;

/// An error code a Kafka response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Errors {
    /// The request's leader epoch is older than the partition's.
    FencedLeaderEpoch,
    /// The request's broker epoch is not the broker's current one.
    StaleBrokerEpoch,
    /// The receiver is not the active controller.
    NotController,
    /// The request's partition epoch is not the partition's current one.
    InvalidUpdateVersion,
    /// A proposed ISR member is fenced or has a stale broker epoch (KIP-903).
    IneligibleReplica,
    /// No such topic or partition.
    UnknownTopicOrPartition,
    /// The request is malformed or comes from the wrong broker.
    InvalidRequest,
    /// Another incarnation of the broker still holds a live session.
    DuplicateBrokerRegistration,
    /// The broker id has no registration.
    BrokerIdNotRegistered,
    /// Fewer unfenced brokers than the replication factor.
    InvalidReplicationFactor,
    /// The topic exists already.
    TopicAlreadyExists,
    /// The receiver does not lead the partition.
    NotLeaderOrFollower,
    /// The request's leader epoch is newer than the receiver's.
    UnknownLeaderEpoch,
    /// acks=all and the ISR is below min.insync.replicas at append.
    NotEnoughReplicas,
    /// acks=all and the ISR shrank below min.insync.replicas before the batch committed.
    NotEnoughReplicasAfterAppend,
    /// The leader did not get the acks in time.
    RequestTimedOut,
    /// The batch's sequence is not the next one for its producer.
    OutOfOrderSequenceNumber,
    /// The producer's epoch is older than the one the broker knows.
    InvalidProducerEpoch,
    /// The broker does not know the producer id.
    UnknownProducerId,
    /// The broker is not available (a client-side view of a broken connection).
    NetworkException,
    /// The fetch offset is outside the log.
    OffsetOutOfRange,
    /// ListOffsets for the latest offset while the leader's high watermark
    /// is below the start offset of its epoch (KIP-207): retriable.
    OffsetNotAvailable,
    /// An incremental fetch named a fetch session the leader does not hold (KIP-227).
    FetchSessionIdNotFound,
    /// An incremental fetch's session epoch is not the one the leader expects (KIP-227).
    InvalidFetchSessionEpoch,
    /// The broker cannot hand out producer ids yet, or the group is Dead.
    CoordinatorNotAvailable,
    /// The receiver is not the group's coordinator.
    NotCoordinator,
    /// The coordinator is still loading the group from `__consumer_offsets`.
    CoordinatorLoadInProgress,
    /// The request's generation is not the group's current one.
    IllegalGeneration,
    /// The member id is not in the group.
    UnknownMemberId,
    /// The group is rebalancing: rejoin.
    RebalanceInProgress,
    /// A first JoinGroup: rejoin with the member id the coordinator gave.
    MemberIdRequired,
    /// Another member id now holds this group.instance.id (KIP-345).
    FencedInstanceId,
    /// The member's protocol type or assignors do not match the group's.
    InconsistentGroupProtocol,
    /// The batch is not one a client may write (a control batch).
    InvalidRecord,
    /// A transaction marker from a coordinator older than the one that
    /// last wrote for the producer here.
    TransactionCoordinatorFenced,
    /// A newer instance of the transactional producer holds its id.
    ProducerFenced,
    /// The transactional id's previous transaction is still completing: retry.
    ConcurrentTransactions,
    /// The producer id is not the one the transactional id holds.
    InvalidProducerIdMapping,
    /// The request does not fit the transaction's state (commit after abort).
    InvalidTxnState,
    /// `transaction.timeout.ms` above `transaction.max.timeout.ms`, or not positive.
    InvalidTransactionTimeout,
    /// Offsets of the partition are committed in a transaction that has
    /// not completed yet (KIP-447): an OffsetFetch that requires stable
    /// offsets retries.
    UnstableOffsetCommit,
    /// The transaction cannot go on but can be aborted (KIP-890: a
    /// partition the coordinator does not have in the transaction).
    TransactionAbortable,
    /// A CreatePartitions count that is not an increase of the topic's.
    InvalidPartitions,
    /// DeleteTopics on a cluster with `delete.topic.enable` false.
    TopicDeletionDisabled,
}

impl Errors {
    /// Kafka's name for the error, e.g. `FENCED_LEADER_EPOCH`.
    pub fn name(self) -> &'static str {
        match self {
            Errors::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            Errors::StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            Errors::NotController => "NOT_CONTROLLER",
            Errors::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            Errors::IneligibleReplica => "INELIGIBLE_REPLICA",
            Errors::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            Errors::InvalidRequest => "INVALID_REQUEST",
            Errors::DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
            Errors::BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            Errors::InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            Errors::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            Errors::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            Errors::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            Errors::FetchSessionIdNotFound => "FETCH_SESSION_ID_NOT_FOUND",
            Errors::InvalidFetchSessionEpoch => "INVALID_FETCH_SESSION_EPOCH",
            Errors::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            Errors::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            Errors::RequestTimedOut => "REQUEST_TIMED_OUT",
            Errors::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            Errors::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            Errors::UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            Errors::OffsetNotAvailable => "OFFSET_NOT_AVAILABLE",
            Errors::NetworkException => "NETWORK_EXCEPTION",
            Errors::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            Errors::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            Errors::NotCoordinator => "NOT_COORDINATOR",
            Errors::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            Errors::IllegalGeneration => "ILLEGAL_GENERATION",
            Errors::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            Errors::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            Errors::MemberIdRequired => "MEMBER_ID_REQUIRED",
            Errors::FencedInstanceId => "FENCED_INSTANCE_ID",
            Errors::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            Errors::InvalidRecord => "INVALID_RECORD",
            Errors::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            Errors::ProducerFenced => "PRODUCER_FENCED",
            Errors::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            Errors::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            Errors::InvalidTxnState => "INVALID_TXN_STATE",
            Errors::InvalidTransactionTimeout => "INVALID_TRANSACTION_TIMEOUT",
            Errors::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            Errors::TransactionAbortable => "TRANSACTION_ABORTABLE",
            Errors::InvalidPartitions => "INVALID_PARTITIONS",
            Errors::TopicDeletionDisabled => "TOPIC_DELETION_DISABLED",
        }
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
