//! A transactional producer's `TransactionManager` (Kafka's
//! `org.apache.kafka.clients.producer.internals.TransactionManager`): the
//! transaction coordinator found with FindCoordinator (key type
//! TRANSACTION), the producer id and epoch from InitProducerId with the
//! `transactional.id`, each partition added with AddPartitionsToTxn before
//! its first batch of a transaction is sent, and the transaction ended
//! with EndTxn once every batch of it is answered.
//!
//! Under transactions v2 (KIP-890 part 2: the cluster's finalized
//! `transaction.version` is 2 or more, Kafka's `isTransactionV2Enabled`,
//! updated by `maybeUpdateTransactionV2Enabled` at `initTransactions` and
//! `beginTransaction`) no AddPartitionsToTxn is sent for data partitions:
//! a partition joins the transaction when its first batch is sent
//! (`maybeAddPartition`), and the leader adds it at the coordinator
//! (Produce v12). EndTxn (v5) bumps the epoch at the coordinator and
//! answers with it; the next transaction runs under it.
//!
//! Sans-IO: the producer asks [`TransactionManager::next_request`] what to
//! send to the coordinator, reports answers with `on_*`, and asks whether
//! a partition's batches may be drained ([`TransactionManager::may_send`]).
//! The application's side (the workload): `begin`, `records` sends, then
//! commit or abort; while the producer initializes or ends a transaction
//! the application is blocked in `initTransactions`/`commitTransaction`
//! and sends nothing.
//!
//! States and their Kafka names: UNINITIALIZED, INITIALIZING, READY,
//! IN_TRANSACTION, COMMITTING_TRANSACTION, ABORTING_TRANSACTION,
//! ABORTABLE_ERROR (the application aborts at once) and FATAL_ERROR (the
//! producer was fenced: the application closes it and starts a new
//! instance of the same `transactional.id`).

use std::collections::{BTreeMap, BTreeSet};

use crate::errors::Errors;
use crate::group::coordinator::CoordinatorRequest;
use crate::node::KafkaNodeId;
use crate::protocol::{
    CoordinatorType, KafkaRequest, TopicIdPartition, TopicPartition, END_TXN_VERSION_TV1,
    END_TXN_VERSION_TV2,
};

/// Kafka's `ADD_PARTITIONS_RETRY_BACKOFF_MS`: the backoff of the first
/// AddPartitionsToTxn of a transaction answered CONCURRENT_TRANSACTIONS
/// (the previous transaction is still completing; KAFKA-5482).
pub const ADD_PARTITIONS_RETRY_BACKOFF_MS: u64 = 20;

/// Kafka's `TransactionManager.State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnClientState {
    /// No producer id yet.
    Uninitialized,
    /// InitProducerId in progress.
    Initializing,
    /// Between transactions.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// commitTransaction called: waiting for the batches, then EndTxn.
    CommittingTransaction,
    /// abortTransaction called: waiting for the batches, then EndTxn.
    AbortingTransaction,
    /// A send of the transaction failed: it can only be aborted.
    AbortableError,
    /// Fenced: the producer cannot go on.
    FatalError,
}

impl TxnClientState {
    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            TxnClientState::Uninitialized => "UNINITIALIZED",
            TxnClientState::Initializing => "INITIALIZING",
            TxnClientState::Ready => "READY",
            TxnClientState::InTransaction => "IN_TRANSACTION",
            TxnClientState::CommittingTransaction => "COMMITTING_TRANSACTION",
            TxnClientState::AbortingTransaction => "ABORTING_TRANSACTION",
            TxnClientState::AbortableError => "ABORTABLE_ERROR",
            TxnClientState::FatalError => "FATAL_ERROR",
        }
    }
}

/// What a coordinator request in flight is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnRequestKind {
    /// FindCoordinator.
    FindCoordinator,
    /// InitProducerId.
    InitProducerId,
    /// AddPartitionsToTxn of these partitions.
    AddPartitions(BTreeSet<TopicIdPartition>),
    /// EndTxn (commit: true).
    EndTxn(bool),
    /// AddOffsetsToTxn of the pending offsets' group.
    AddOffsets,
    /// FindCoordinator of the pending offsets' group.
    FindGroupCoordinator,
    /// TxnOffsetCommit to the group's coordinator.
    TxnOffsetCommit,
}

/// `sendOffsetsToTransaction(offsets, groupMetadata)`: a consumer's
/// positions to commit in the open transaction, with the consumer's group
/// metadata (KIP-447: the generation fences a zombie's commit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOffsets {
    /// The consumer group.
    pub group_id: String,
    /// The consumer's generation.
    pub generation_id: i32,
    /// Its member id.
    pub member_id: String,
    /// `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// Partition, offset, leader epoch of the last consumed record.
    pub offsets: Vec<(TopicPartition, u64, i32)>,
}

/// How an EndTxn ended, for the producer to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnEnd {
    /// The transaction committed.
    Committed,
    /// The transaction aborted.
    Aborted,
}

/// What an answer means for the producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnStep {
    /// Nothing more to do now.
    None,
    /// Ask again after `retry.backoff.ms`.
    Retry,
    /// Ask again after this many milliseconds.
    RetryAfterMs(u64),
    /// The producer id and epoch to send with (sequences start over).
    Initialized {
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
    },
    /// The transaction ended.
    Ended(TxnEnd),
    /// The transaction ended and the coordinator bumped the epoch (EndTxn
    /// v5, transactions v2): the next transaction sends with this producer
    /// id and epoch, sequences from 0.
    EndedWithEpoch {
        /// How it ended.
        end: TxnEnd,
        /// The producer id.
        producer_id: i64,
        /// The new epoch.
        producer_epoch: i16,
    },
    /// The producer was fenced (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH),
    /// or a coordinator that cannot bump its epoch answered
    /// UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_ID_MAPPING
    /// (`abortableErrorIfPossible`): FATAL_ERROR, the application closes
    /// it and starts a new instance.
    Fenced(Errors),
    /// Another fatal error, with no error code (Kafka's `KafkaException`
    /// of `maybeResolveSequences`): handled as `Fenced`.
    Fatal(&'static str),
}

/// A transactional producer's transaction state.
#[derive(Clone, Debug)]
pub struct TransactionManager {
    transactional_id: String,
    timeout_ms: u64,
    state: TxnClientState,
    coordinator: Option<KafkaNodeId>,
    producer_id: i64,
    producer_epoch: i16,
    /// Partitions added to the open transaction.
    partitions: BTreeSet<TopicIdPartition>,
    /// Partitions sent to in this transaction and not added yet.
    new_partitions: BTreeSet<TopicIdPartition>,
    in_flight: Option<TxnRequestKind>,
    /// The application flushes its sends, then commits (true) or aborts.
    ending: Option<bool>,
    /// A send failed in a way only a new epoch repairs (KIP-360): once the
    /// transaction is aborted, InitProducerId bumps the epoch (Kafka's
    /// `clientSideEpochBumpRequired`).
    epoch_bump_required: bool,
    /// Offsets sent to the open transaction and not committed to the
    /// group coordinator yet; `added` once AddOffsetsToTxn succeeded.
    offsets: Option<(TxnOffsets, bool)>,
    /// The coordinator of the pending offsets' group, when known.
    group_coordinator: Option<KafkaNodeId>,
    /// AddOffsetsToTxn joined the open transaction at the coordinator (it
    /// then ends with EndTxn even without a partition of records).
    txn_has_offsets: bool,
    /// The cluster's finalized `transaction.version`, as ApiVersions
    /// reports it.
    finalized_transaction_version: u8,
    /// Kafka's `isTransactionV2Enabled`.
    transaction_v2: bool,
    /// Kafka's `coordinatorSupportsBumpingEpoch`: the coordinator offers
    /// InitProducerId v3 (KIP-360, Kafka 2.5; `[protocol]
    /// transactional_epoch_bump`).
    coordinator_supports_bumping_epoch: bool,
    /// Kafka's `partitionsWithUnresolvedSequences`: a partition whose
    /// batch in retry expired, with the sequence after that batch's last.
    /// Kept only when the epoch cannot be bumped (see `epoch_bump.rs`).
    partitions_with_unresolved_sequences: BTreeMap<TopicIdPartition, i32>,
}

impl TransactionManager {
    /// The manager of `transactional_id` with `transaction.timeout.ms`.
    pub fn new(transactional_id: &str, timeout_ms: u64) -> Self {
        Self {
            transactional_id: transactional_id.to_owned(),
            timeout_ms,
            state: TxnClientState::Uninitialized,
            coordinator: None,
            producer_id: -1,
            producer_epoch: -1,
            partitions: BTreeSet::new(),
            new_partitions: BTreeSet::new(),
            in_flight: None,
            ending: None,
            epoch_bump_required: false,
            offsets: None,
            group_coordinator: None,
            txn_has_offsets: false,
            finalized_transaction_version: 0,
            transaction_v2: false,
            coordinator_supports_bumping_epoch: true,
            partitions_with_unresolved_sequences: BTreeMap::new(),
        }
    }

    /// `sendOffsetsToTransaction()`: commits `offsets` in the open
    /// transaction (AddOffsetsToTxn to the transaction coordinator, then
    /// TxnOffsetCommit to the group's coordinator, both before EndTxn).
    /// Replaces offsets not committed yet.
    pub fn send_offsets(&mut self, offsets: TxnOffsets) {
        if self.state != TxnClientState::InTransaction || offsets.offsets.is_empty() {
            return;
        }
        let added = self
            .offsets
            .as_ref()
            .is_some_and(|(o, added)| *added && o.group_id == offsets.group_id);
        self.offsets = Some((offsets, added));
    }

    /// Whether offsets sent to the transaction wait for their commit.
    pub fn offsets_pending(&self) -> bool {
        self.offsets.is_some()
    }

    /// The coordinator of the pending offsets' group, when known.
    pub fn group_coordinator(&self) -> Option<KafkaNodeId> {
        self.group_coordinator
    }

    /// The finalized `transaction.version` the brokers' ApiVersions
    /// responses report (Kafka's `FinalizedFeaturesInfo`); it takes effect
    /// at the next `initTransactions` or `beginTransaction`.
    pub fn set_finalized_transaction_version(&mut self, level: u8) {
        self.finalized_transaction_version = level;
        self.maybe_update_transaction_v2_enabled();
    }

    /// Kafka's `maybeUpdateTransactionV2Enabled`: transactions v2 when the
    /// finalized `transaction.version` is 2 or more.
    fn maybe_update_transaction_v2_enabled(&mut self) {
        self.transaction_v2 = self.finalized_transaction_version >= 2;
    }

    /// Kafka's `isTransactionV2Enabled`.
    pub fn is_transaction_v2_enabled(&self) -> bool {
        self.transaction_v2
    }

    /// Kafka's `needToTriggerEpochBumpFromClient`: after an abortable
    /// error the client bumps the epoch itself (InitProducerId after the
    /// abort) only without transactions v2, where the coordinator's EndTxn
    /// bumps it ("When TransactionV2 is enabled, epoch bumping is handled
    /// automatically by the server in EndTxn, so manual epoch bumping is
    /// not required"), and only if the coordinator supports the bump
    /// (InitProducerId v3+, KIP-360; `can_bump_epoch`).
    pub fn need_to_trigger_epoch_bump_from_client(&self) -> bool {
        self.can_bump_epoch() && !self.transaction_v2
    }

    /// The producer id and epoch the manager holds.
    pub fn producer_id_and_epoch(&self) -> (i64, i16) {
        (self.producer_id, self.producer_epoch)
    }

    /// The `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    /// The state.
    pub fn state(&self) -> TxnClientState {
        self.state
    }

    /// The coordinator, when known.
    pub fn coordinator(&self) -> Option<KafkaNodeId> {
        self.coordinator
    }

    /// Whether the application may send records now (a transaction is open).
    pub fn in_transaction(&self) -> bool {
        self.state == TxnClientState::InTransaction
    }

    /// `initTransactions()`: from UNINITIALIZED (or after a fence, a new
    /// instance), the producer id is asked for.
    pub fn init(&mut self) {
        if matches!(
            self.state,
            TxnClientState::Uninitialized | TxnClientState::FatalError
        ) {
            self.state = TxnClientState::Initializing;
            self.partitions.clear();
            self.new_partitions.clear();
            self.maybe_update_transaction_v2_enabled();
        }
    }

    /// `beginTransaction()`.
    pub fn begin(&mut self) {
        if self.state == TxnClientState::Ready {
            self.state = TxnClientState::InTransaction;
            self.maybe_update_transaction_v2_enabled();
        }
    }

    /// `send()` to `tp` in the open transaction (Kafka's `maybeAddPartition`):
    /// under transactions v2 the partition is in the transaction at once
    /// (its leader adds it at the coordinator), else it waits for
    /// AddPartitionsToTxn.
    pub fn add_partition(&mut self, tp: TopicIdPartition) {
        if self.transaction_v2 {
            self.partitions.insert(tp);
        } else if !self.partitions.contains(&tp) {
            self.new_partitions.insert(tp);
        }
    }

    /// Whether batches of `tp` may be sent: only once it is in the
    /// transaction (Kafka's `isSendToPartitionAllowed`).
    pub fn may_send(&self, tp: &TopicIdPartition) -> bool {
        self.partitions.contains(tp)
    }

    /// The application ends its transaction: `flush()`, then
    /// `commitTransaction()` (commit) or `abortTransaction()`, so that an
    /// aborted transaction's records reach the log too. After a failed send
    /// it aborts at once (`abortTransaction()` without flushing: what is
    /// not sent is dropped).
    pub fn end(&mut self, commit: bool) {
        match self.state {
            TxnClientState::InTransaction => self.ending = Some(commit),
            TxnClientState::AbortableError => {
                // Partitions not added yet never joined the transaction:
                // their batches are dropped with it, and offsets not yet
                // committed with them.
                self.new_partitions.clear();
                self.offsets = None;
                self.state = TxnClientState::AbortingTransaction;
            }
            _ => {}
        }
    }

    /// Whether the application is flushing before it ends its transaction.
    pub fn ending(&self) -> bool {
        self.ending.is_some()
    }

    /// The flush is done: the application calls commit or abort.
    fn flushed(&mut self, batches_pending: bool) {
        if self.state != TxnClientState::InTransaction
            || batches_pending
            || !self.new_partitions.is_empty()
        {
            return;
        }
        if let Some(commit) = self.ending.take() {
            self.state = if commit {
                TxnClientState::CommittingTransaction
            } else {
                TxnClientState::AbortingTransaction
            };
        }
    }

    /// A batch of the transaction failed for good (Kafka's
    /// `maybeTransitionToErrorState`): PRODUCER_FENCED is fatal (the
    /// producer was fenced); anything else, INVALID_PRODUCER_EPOCH
    /// included (KIP-588), leaves only an abort (`transitionToAbortableError`).
    /// Without transactions v2 the client then also bumps its epoch after
    /// the abort, unless the error came while the transaction was already
    /// ending (`needToTriggerEpochBumpFromClient() && !isCompleting()`), so
    /// that nothing of the aborted transaction still in flight can be
    /// appended under the epoch the next transaction uses.
    pub fn on_send_failed(&mut self, error: Errors) -> TxnStep {
        if error == Errors::ProducerFenced {
            return self.fence(error);
        }
        let completing = matches!(
            self.state,
            TxnClientState::CommittingTransaction | TxnClientState::AbortingTransaction
        );
        if self.need_to_trigger_epoch_bump_from_client() && !completing {
            self.epoch_bump_required = true;
        }
        match self.state {
            TxnClientState::InTransaction => {
                self.ending = None;
                self.state = TxnClientState::AbortableError;
            }
            TxnClientState::CommittingTransaction => {
                self.new_partitions.clear();
                self.offsets = None;
                self.state = TxnClientState::AbortingTransaction
            }
            _ => {}
        }
        TxnStep::None
    }

    fn fence(&mut self, error: Errors) -> TxnStep {
        self.transition_to_fatal_error();
        TxnStep::Fenced(error)
    }

    /// Kafka's `transitionToFatalError`: what the producer holds of its
    /// transaction is dropped.
    fn transition_to_fatal_error(&mut self) {
        self.state = TxnClientState::FatalError;
        self.ending = None;
        // The application's next instance starts without the old id, and
        // owes no epoch bump (a new TransactionManager).
        self.producer_id = -1;
        self.producer_epoch = -1;
        self.epoch_bump_required = false;
        self.in_flight = None;
        self.partitions.clear();
        self.new_partitions.clear();
        self.offsets = None;
        self.txn_has_offsets = false;
        self.partitions_with_unresolved_sequences.clear();
    }

    /// The request to send to the coordinator now, if any (one at a time;
    /// EndTxn only once no batch of the transaction is unanswered:
    /// `batches_pending`). The coordinator is looked up first.
    pub fn next_request(
        &mut self,
        batches_pending: bool,
    ) -> Option<(TxnRequestKind, KafkaRequest)> {
        if self.in_flight.is_some() {
            return None;
        }
        self.flushed(batches_pending);
        let wanted = match self.state {
            TxnClientState::Initializing => TxnRequestKind::InitProducerId,
            TxnClientState::InTransaction | TxnClientState::CommittingTransaction
                if !self.new_partitions.is_empty() =>
            {
                TxnRequestKind::AddPartitions(self.new_partitions.clone())
            }
            TxnClientState::InTransaction | TxnClientState::CommittingTransaction
                if self.offsets.is_some() =>
            {
                return self.next_offsets_request();
            }
            TxnClientState::CommittingTransaction | TxnClientState::AbortingTransaction
                if !batches_pending =>
            {
                TxnRequestKind::EndTxn(self.state == TxnClientState::CommittingTransaction)
            }
            _ => return None,
        };
        let (kind, request) = match (self.coordinator, wanted) {
            (None, _) => (
                TxnRequestKind::FindCoordinator,
                KafkaRequest::FindCoordinator {
                    key_type: CoordinatorType::Transaction,
                    key: self.transactional_id.clone(),
                },
            ),
            (Some(_), TxnRequestKind::InitProducerId) => (
                TxnRequestKind::InitProducerId,
                KafkaRequest::InitProducerId {
                    transactional_id: Some(self.transactional_id.clone()),
                    transaction_timeout_ms: self.timeout_ms,
                    // Only InitProducerId v3+ (KIP-360) carries them.
                    producer_id_and_epoch: (self.producer_id >= 0 && self.can_bump_epoch())
                        .then_some((self.producer_id, self.producer_epoch)),
                },
            ),
            (Some(_), TxnRequestKind::AddPartitions(partitions)) => (
                TxnRequestKind::AddPartitions(partitions.clone()),
                KafkaRequest::AddPartitionsToTxn {
                    transactional_id: self.transactional_id.clone(),
                    producer_id: self.producer_id,
                    producer_epoch: self.producer_epoch,
                    partitions: partitions.into_iter().collect(),
                },
            ),
            (Some(_), TxnRequestKind::EndTxn(commit)) => {
                if self.partitions.is_empty() && !self.txn_has_offsets {
                    // Nothing was sent in it: the transaction never started
                    // at the coordinator, and ends without EndTxn.
                    return None;
                }
                (
                    TxnRequestKind::EndTxn(commit),
                    KafkaRequest::EndTxn {
                        version: if self.transaction_v2 {
                            END_TXN_VERSION_TV2
                        } else {
                            END_TXN_VERSION_TV1
                        },
                        transactional_id: self.transactional_id.clone(),
                        producer_id: self.producer_id,
                        producer_epoch: self.producer_epoch,
                        committed: commit,
                    },
                )
            }
            (Some(_), _) => return None,
        };
        self.in_flight = Some(kind.clone());
        Some((kind, request))
    }

    /// The next request of `sendOffsetsToTransaction`: AddOffsetsToTxn to
    /// the transaction coordinator, then TxnOffsetCommit to the group's.
    fn next_offsets_request(&mut self) -> Option<(TxnRequestKind, KafkaRequest)> {
        let (offsets, added) = self.offsets.as_ref()?;
        let (kind, request) = if self.coordinator.is_none() {
            (
                TxnRequestKind::FindCoordinator,
                KafkaRequest::FindCoordinator {
                    key_type: CoordinatorType::Transaction,
                    key: self.transactional_id.clone(),
                },
            )
        } else if !added {
            (
                TxnRequestKind::AddOffsets,
                KafkaRequest::AddOffsetsToTxn {
                    transactional_id: self.transactional_id.clone(),
                    producer_id: self.producer_id,
                    producer_epoch: self.producer_epoch,
                    group_id: offsets.group_id.clone(),
                },
            )
        } else if self.group_coordinator.is_none() {
            (
                TxnRequestKind::FindGroupCoordinator,
                KafkaRequest::FindCoordinator {
                    key_type: CoordinatorType::Group,
                    key: offsets.group_id.clone(),
                },
            )
        } else {
            (
                TxnRequestKind::TxnOffsetCommit,
                KafkaRequest::Group {
                    group_id: offsets.group_id.clone(),
                    request: Box::new(CoordinatorRequest::TxnOffsetCommit {
                        transactional_id: self.transactional_id.clone(),
                        producer_id: self.producer_id,
                        producer_epoch: self.producer_epoch,
                        generation_id: offsets.generation_id,
                        member_id: offsets.member_id.clone(),
                        group_instance_id: offsets.group_instance_id.clone(),
                        offsets: offsets.offsets.clone(),
                    }),
                },
            )
        };
        self.in_flight = Some(kind.clone());
        Some((kind, request))
    }

    /// AddOffsetsToTxn answered (Kafka's `AddOffsetsToTxnHandler`).
    pub fn on_add_offsets(&mut self, error: Option<Errors>) -> TxnStep {
        if self.in_flight.take() != Some(TxnRequestKind::AddOffsets) {
            return TxnStep::None;
        }
        match error {
            None => {
                if let Some((_, added)) = &mut self.offsets {
                    *added = true;
                }
                self.txn_has_offsets = true;
                TxnStep::None
            }
            Some(e) if self.coordinator_moved(e) => TxnStep::Retry,
            Some(Errors::ConcurrentTransactions | Errors::CoordinatorLoadInProgress) => {
                TxnStep::Retry
            }
            Some(e @ (Errors::ProducerFenced | Errors::InvalidProducerEpoch)) => self.fence(e),
            Some(e) if self.fatal_without_epoch_bump(e) => self.fence(e),
            Some(e) => self.on_send_failed(e),
        }
    }

    /// The group's FindCoordinator answered.
    pub fn on_find_group_coordinator(&mut self, error: Option<Errors>, node_id: i32) -> TxnStep {
        self.in_flight = None;
        match (error, u32::try_from(node_id)) {
            (None, Ok(node)) => {
                self.group_coordinator = Some(node);
                TxnStep::None
            }
            _ => TxnStep::Retry,
        }
    }

    /// TxnOffsetCommit answered (Kafka's `TxnOffsetCommitHandler`): a
    /// zombie of an old generation cannot commit (CommitFailedException,
    /// an abortable error).
    pub fn on_txn_offset_commit(&mut self, error: Option<Errors>) -> TxnStep {
        if self.in_flight.take() != Some(TxnRequestKind::TxnOffsetCommit) {
            return TxnStep::None;
        }
        match error {
            None => {
                self.offsets = None;
                TxnStep::None
            }
            Some(Errors::NotCoordinator | Errors::CoordinatorNotAvailable) => {
                self.group_coordinator = None;
                TxnStep::Retry
            }
            Some(
                Errors::CoordinatorLoadInProgress
                | Errors::UnknownTopicOrPartition
                | Errors::RequestTimedOut,
            ) => TxnStep::Retry,
            Some(e @ (Errors::ProducerFenced | Errors::InvalidProducerEpoch)) => self.fence(e),
            Some(e) => {
                self.offsets = None;
                self.on_send_failed(e)
            }
        }
    }

    /// A transaction with nothing sent in it ends at once (no EndTxn):
    /// how it ended, if it did.
    pub fn end_empty(&mut self, batches_pending: bool) -> Option<TxnEnd> {
        if self.in_flight.is_none() {
            self.flushed(batches_pending);
        }
        let ending = matches!(
            self.state,
            TxnClientState::CommittingTransaction | TxnClientState::AbortingTransaction
        );
        if !ending
            || batches_pending
            || self.in_flight.is_some()
            || !self.partitions.is_empty()
            || self.txn_has_offsets
            || (self.offsets.is_some() && self.state == TxnClientState::CommittingTransaction)
        {
            return None;
        }
        let end = if self.state == TxnClientState::CommittingTransaction {
            TxnEnd::Committed
        } else {
            TxnEnd::Aborted
        };
        self.completed();
        Some(end)
    }

    /// The transaction ended: the next can begin, or first the epoch is
    /// bumped (InitProducerId with the current id and epoch).
    fn completed(&mut self) {
        self.offsets = None;
        self.txn_has_offsets = false;
        self.state = if std::mem::take(&mut self.epoch_bump_required) {
            TxnClientState::Initializing
        } else {
            TxnClientState::Ready
        };
    }

    /// The request in flight got no answer (timeout, broken connection):
    /// the coordinator is looked up again and the request retried.
    pub fn on_lost(&mut self) -> TxnStep {
        match self.in_flight.take() {
            Some(TxnRequestKind::FindGroupCoordinator | TxnRequestKind::TxnOffsetCommit) => {
                self.group_coordinator = None
            }
            _ => self.coordinator = None,
        }
        TxnStep::Retry
    }

    /// FindCoordinator answered.
    pub fn on_find_coordinator(&mut self, error: Option<Errors>, node_id: i32) -> TxnStep {
        if self.in_flight == Some(TxnRequestKind::FindGroupCoordinator) {
            return self.on_find_group_coordinator(error, node_id);
        }
        self.in_flight = None;
        match (error, u32::try_from(node_id)) {
            (None, Ok(node)) => {
                self.coordinator = Some(node);
                TxnStep::None
            }
            _ => TxnStep::Retry,
        }
    }

    /// Errors after which the coordinator is looked up again.
    fn coordinator_moved(&mut self, error: Errors) -> bool {
        let moved = matches!(
            error,
            Errors::NotCoordinator | Errors::CoordinatorNotAvailable
        );
        if moved {
            self.coordinator = None;
        }
        moved
    }

    /// InitProducerId answered.
    pub fn on_init_producer_id(
        &mut self,
        error: Option<Errors>,
        producer_id: i64,
        producer_epoch: i16,
    ) -> TxnStep {
        self.in_flight = None;
        match error {
            None => {
                self.producer_id = producer_id;
                self.producer_epoch = producer_epoch;
                self.state = TxnClientState::Ready;
                TxnStep::Initialized {
                    producer_id,
                    producer_epoch,
                }
            }
            Some(e) if self.coordinator_moved(e) => TxnStep::Retry,
            Some(Errors::ConcurrentTransactions | Errors::CoordinatorLoadInProgress) => {
                TxnStep::Retry
            }
            Some(e) => self.fence(e),
        }
    }

    /// AddPartitionsToTxn answered.
    pub fn on_add_partitions(&mut self, error: Option<Errors>) -> TxnStep {
        let Some(TxnRequestKind::AddPartitions(added)) = self.in_flight.take() else {
            return TxnStep::None;
        };
        match error {
            None => {
                for tp in added {
                    self.new_partitions.remove(&tp);
                    self.partitions.insert(tp);
                }
                TxnStep::None
            }
            Some(e) if self.coordinator_moved(e) => TxnStep::Retry,
            Some(Errors::ConcurrentTransactions) if self.partitions.is_empty() => {
                TxnStep::RetryAfterMs(ADD_PARTITIONS_RETRY_BACKOFF_MS)
            }
            Some(Errors::ConcurrentTransactions | Errors::CoordinatorLoadInProgress) => {
                TxnStep::Retry
            }
            Some(e @ (Errors::ProducerFenced | Errors::InvalidProducerEpoch)) => self.fence(e),
            Some(e) if self.fatal_without_epoch_bump(e) => self.fence(e),
            Some(_) => {
                // INVALID_TXN_STATE and the rest: the transaction can only abort.
                self.new_partitions.clear();
                self.on_send_failed(Errors::InvalidTxnState);
                TxnStep::None
            }
        }
    }

    /// EndTxn answered (Kafka's `EndTxnHandler`): under transactions v2
    /// the answer carries the producer id and the epoch the coordinator
    /// bumped, which the next transaction uses. UNKNOWN_PRODUCER_ID and
    /// INVALID_PRODUCER_ID_MAPPING are fatal here whether or not the
    /// coordinator can bump the epoch: with the bump Kafka's
    /// `abortableErrorIfPossible` aborts and bumps instead, which ksim does
    /// not model yet (without it, fatal is Kafka's answer too).
    pub fn on_end_txn(
        &mut self,
        error: Option<Errors>,
        producer_id: i64,
        producer_epoch: i16,
    ) -> TxnStep {
        let Some(TxnRequestKind::EndTxn(commit)) = self.in_flight.take() else {
            return TxnStep::None;
        };
        match error {
            None => {
                self.completed();
                self.partitions.clear();
                self.new_partitions.clear();
                let end = if commit {
                    TxnEnd::Committed
                } else {
                    TxnEnd::Aborted
                };
                if self.transaction_v2 && producer_id >= 0 && producer_epoch >= 0 {
                    self.producer_id = producer_id;
                    self.producer_epoch = producer_epoch;
                    return TxnStep::EndedWithEpoch {
                        end,
                        producer_id,
                        producer_epoch,
                    };
                }
                TxnStep::Ended(end)
            }
            Some(e) if self.coordinator_moved(e) => TxnStep::Retry,
            Some(Errors::ConcurrentTransactions | Errors::CoordinatorLoadInProgress) => {
                TxnStep::Retry
            }
            Some(e) => self.fence(e),
        }
    }
}

mod epoch_bump;

#[cfg(test)]
#[path = "tests_transaction_manager.rs"]
mod tests;

#[cfg(test)]
#[path = "tests_transactional_epoch_bump.rs"]
mod tests_transactional_epoch_bump;
