//! One transactional id's state at its coordinator (Kafka's
//! `TransactionMetadata`). Every change is two steps, as in Kafka: a
//! `prepare_*` method checks the transition and returns the new state
//! (`TxnTransitMetadata`) with the transition pending, the coordinator
//! writes that state to `__transaction_state`, and once the write is
//! replicated `complete_transition_to` makes it current (or
//! `abort_transition` drops it when the write failed). Only one transition
//! is pending at a time; a request meeting one answers
//! CONCURRENT_TRANSACTIONS.

use std::collections::BTreeSet;

use super::state::TransactionState;
use crate::errors::Errors;
use crate::log::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
use crate::protocol::TopicIdPartition;

/// The `transaction.version` a client's transaction runs under (Kafka's
/// `TransactionVersion`): 2 is KIP-890 part 2, which bumps the producer
/// epoch at every EndTxn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransactionVersion(pub u8);

impl TransactionVersion {
    /// Whether every commit or abort bumps the producer epoch (TV2).
    pub fn supports_epoch_bump(self) -> bool {
        self.0 >= 2
    }
}

/// Why a transition cannot be prepared or completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnError {
    /// An answer for the client (PRODUCER_FENCED).
    Kafka(Errors),
    /// A transition Kafka never makes: a bug in the coordinator.
    IllegalState(String),
}

/// The state a prepared transition leads to (Kafka's `TxnTransitMetadata`):
/// what the coordinator writes to `__transaction_state`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxnTransitMetadata {
    /// The producer id.
    pub producer_id: i64,
    /// The producer id before this transition.
    pub prev_producer_id: i64,
    /// The producer id the next transition moves to (TV2 epoch overflow).
    pub next_producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The epoch the client last saw, for retries of InitProducerId.
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms` of the producer.
    pub txn_timeout_ms: u64,
    /// The state.
    pub state: TransactionState,
    /// The partitions of the transaction.
    pub topic_partitions: BTreeSet<TopicIdPartition>,
    /// When the transaction started (-1: none).
    pub txn_start_timestamp: i64,
    /// When the state last changed.
    pub txn_last_update_timestamp: i64,
    /// The client's transaction version.
    pub client_transaction_version: TransactionVersion,
}

impl TxnTransitMetadata {
    /// Empty, with no transaction: what InitProducerId leaves.
    fn reset_to_empty(&mut self, txn_timeout_ms: u64, now_ms: i64) {
        self.state = TransactionState::Empty;
        self.txn_timeout_ms = txn_timeout_ms;
        self.topic_partitions.clear();
        self.txn_start_timestamp = -1;
        self.txn_last_update_timestamp = now_ms;
    }
}

/// One transactional id's current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionMetadata {
    /// The `transactional.id`.
    pub transactional_id: String,
    /// Current state, as last written.
    pub current: TxnTransitMetadata,
    /// The state a transition in progress leads to.
    pub pending_state: Option<TransactionState>,
    /// An epoch fence was prepared and its write failed: the next fence
    /// does not bump the epoch again.
    pub has_failed_epoch_fence: bool,
}

impl TransactionMetadata {
    /// A transactional id first seen, with `producer_id` allocated for it.
    pub fn new(transactional_id: &str, producer_id: i64, txn_timeout_ms: u64, now_ms: i64) -> Self {
        Self {
            transactional_id: transactional_id.to_owned(),
            current: TxnTransitMetadata {
                producer_id,
                prev_producer_id: NO_PRODUCER_ID,
                next_producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                last_producer_epoch: NO_PRODUCER_EPOCH,
                txn_timeout_ms,
                state: TransactionState::Empty,
                topic_partitions: BTreeSet::new(),
                txn_start_timestamp: -1,
                txn_last_update_timestamp: now_ms,
                client_transaction_version: TransactionVersion(0),
            },
            pending_state: None,
            has_failed_epoch_fence: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> TransactionState {
        self.current.state
    }

    /// Whether a transition is waiting for its log write.
    pub fn pending_transition_in_progress(&self) -> bool {
        self.pending_state.is_some()
    }

    /// Whether the producer epoch cannot grow any more: the coordinator
    /// keeps `i16::MAX` to fence with, so a client never gets it.
    pub fn is_producer_epoch_exhausted(&self) -> bool {
        self.current.producer_epoch >= i16::MAX - 1
    }

    /// The open transaction is aborted because another instance of the
    /// producer arrived: the epoch is bumped to fence the old one (Kafka's
    /// `prepareFenceProducerEpoch`).
    pub fn prepare_fence_producer_epoch(&mut self) -> Result<TxnTransitMetadata, TxnError> {
        let mut next = self.current.clone();
        next.state = TransactionState::PrepareEpochFence;
        if !self.has_failed_epoch_fence && next.producer_epoch != i16::MAX {
            next.producer_epoch += 1;
        }
        self.prepare_transition_to(next)
    }

    /// InitProducerId for an existing producer id (Kafka's
    /// `prepareIncrementProducerEpoch`): the epoch is bumped, fencing any
    /// older instance. `expected_epoch` is the epoch a producer recovering
    /// from an error still holds (KIP-360): a retry of a call that
    /// succeeded gets the current epoch again; an epoch that is neither the
    /// current nor the last one is PRODUCER_FENCED.
    pub fn prepare_increment_producer_epoch(
        &mut self,
        txn_timeout_ms: u64,
        expected_epoch: Option<i16>,
        now_ms: i64,
    ) -> Result<TxnTransitMetadata, TxnError> {
        if self.is_producer_epoch_exhausted() {
            return Err(TxnError::IllegalState(format!(
                "no producer epoch left for producer id {}",
                self.current.producer_id
            )));
        }
        let mut next = self.current.clone();
        let epoch = self.current.producer_epoch;
        match expected_epoch {
            None => {
                next.producer_epoch = epoch + 1;
                next.last_producer_epoch = NO_PRODUCER_EPOCH;
            }
            Some(e) if epoch == NO_PRODUCER_EPOCH || e == epoch => {
                next.producer_epoch = epoch + 1;
                next.last_producer_epoch = epoch;
            }
            Some(e) if e == self.current.last_producer_epoch => {}
            Some(_) => return Err(TxnError::Kafka(Errors::ProducerFenced)),
        }
        next.reset_to_empty(txn_timeout_ms, now_ms);
        self.prepare_transition_to(next)
    }

    /// InitProducerId when the epoch is exhausted: a new producer id at
    /// epoch 0 (Kafka's `prepareProducerIdRotation`).
    pub fn prepare_producer_id_rotation(
        &mut self,
        new_producer_id: i64,
        txn_timeout_ms: u64,
        now_ms: i64,
        record_last_epoch: bool,
    ) -> Result<TxnTransitMetadata, TxnError> {
        use TransactionState::*;
        if matches!(self.state(), Ongoing | PrepareAbort | PrepareCommit) {
            return Err(TxnError::IllegalState(
                "a producer id is rotated while a transaction is pending".to_owned(),
            ));
        }
        let mut next = self.current.clone();
        next.producer_id = new_producer_id;
        next.producer_epoch = 0;
        next.last_producer_epoch = if record_last_epoch {
            self.current.producer_epoch
        } else {
            NO_PRODUCER_EPOCH
        };
        next.reset_to_empty(txn_timeout_ms, now_ms);
        self.prepare_transition_to(next)
    }

    /// AddPartitionsToTxn or AddOffsetsToTxn (Kafka's
    /// `prepareAddPartitions`): the transaction is open with `added` too;
    /// it starts now unless it was open already.
    pub fn prepare_add_partitions(
        &mut self,
        added: &BTreeSet<TopicIdPartition>,
        now_ms: i64,
        version: TransactionVersion,
    ) -> Result<TxnTransitMetadata, TxnError> {
        use TransactionState::*;
        let mut next = self.current.clone();
        if matches!(self.state(), Empty | CompleteAbort | CompleteCommit) {
            next.txn_start_timestamp = now_ms;
        }
        next.state = Ongoing;
        next.topic_partitions.extend(added.iter().copied());
        next.txn_last_update_timestamp = now_ms;
        next.client_transaction_version = version;
        self.prepare_transition_to(next)
    }

    /// EndTxn, a timeout or a fence (Kafka's `prepareAbortOrCommit`): to
    /// PrepareCommit or PrepareAbort. Under TV2 the epoch is bumped here,
    /// so a late request of the transaction that ends is fenced.
    pub fn prepare_abort_or_commit(
        &mut self,
        to: TransactionState,
        version: TransactionVersion,
        next_producer_id: i64,
        now_ms: i64,
        no_partition_added: bool,
    ) -> Result<TxnTransitMetadata, TxnError> {
        let mut next = self.current.clone();
        next.state = to;
        if version.supports_epoch_bump() {
            let epoch = self.current.producer_epoch;
            if !(epoch == i16::MAX && to == TransactionState::PrepareAbort) {
                next.producer_epoch = epoch + 1;
            }
            next.last_producer_epoch = epoch;
        }
        if no_partition_added {
            next.txn_start_timestamp = now_ms;
        }
        next.next_producer_id = next_producer_id;
        next.txn_last_update_timestamp = now_ms;
        next.client_transaction_version = version;
        self.prepare_transition_to(next)
    }

    /// Every marker is written (Kafka's `prepareComplete`): to
    /// CompleteCommit or CompleteAbort, the partitions forgotten.
    pub fn prepare_complete(&mut self, now_ms: i64) -> Result<TxnTransitMetadata, TxnError> {
        self.has_failed_epoch_fence = false;
        let mut next = self.current.clone();
        next.state = if self.state() == TransactionState::PrepareCommit {
            TransactionState::CompleteCommit
        } else {
            TransactionState::CompleteAbort
        };
        if self
            .current
            .client_transaction_version
            .supports_epoch_bump()
            && self.current.next_producer_id != NO_PRODUCER_ID
        {
            next.producer_id = self.current.next_producer_id;
            next.producer_epoch = 0;
        }
        next.next_producer_id = NO_PRODUCER_ID;
        next.topic_partitions.clear();
        next.txn_last_update_timestamp = now_ms;
        self.prepare_transition_to(next)
    }

    /// The transactional id expired (Kafka's `prepareDead`).
    pub fn prepare_dead(&mut self) -> Result<TxnTransitMetadata, TxnError> {
        let mut next = self.current.clone();
        next.state = TransactionState::Dead;
        next.topic_partitions.clear();
        self.prepare_transition_to(next)
    }

    fn prepare_transition_to(
        &mut self,
        mut next: TxnTransitMetadata,
    ) -> Result<TxnTransitMetadata, TxnError> {
        if let Some(pending) = self.pending_state {
            return Err(TxnError::IllegalState(format!(
                "{}: transition to {} while {} is pending",
                self.transactional_id,
                next.state.name(),
                pending.name()
            )));
        }
        if next.producer_id < 0 {
            return Err(TxnError::IllegalState(format!(
                "illegal producer id {}",
                next.producer_id
            )));
        }
        if next.state != TransactionState::Dead && next.producer_epoch < 0 {
            return Err(TxnError::IllegalState(format!(
                "illegal producer epoch {}",
                next.producer_epoch
            )));
        }
        if !next.state.may_follow(self.state()) {
            return Err(TxnError::IllegalState(format!(
                "{}: {} may not follow {}",
                self.transactional_id,
                next.state.name(),
                self.state().name()
            )));
        }
        next.prev_producer_id = self.current.producer_id;
        self.pending_state = Some(next.state);
        Ok(next)
    }

    /// The pending transition's write failed: nothing changes, and a
    /// failed fence is remembered (Kafka's TransactionStateManager on a
    /// failed append).
    pub fn abort_transition(&mut self) {
        if self.pending_state == Some(TransactionState::PrepareEpochFence) {
            self.has_failed_epoch_fence = true;
        }
        self.pending_state = None;
    }

    /// The pending transition's write is replicated: `next` becomes the
    /// current state (Kafka's `completeTransitionTo`), after the checks
    /// Kafka makes that it follows from the current one.
    pub fn complete_transition_to(&mut self, next: TxnTransitMetadata) -> Result<(), TxnError> {
        use TransactionState::*;
        let fail = |why: &str| {
            Err(TxnError::IllegalState(format!(
                "{}: transition from {} to {} {why}",
                self.transactional_id,
                self.state().name(),
                next.state.name()
            )))
        };
        if self.pending_state != Some(next.state) {
            return fail("was not the one pending");
        }
        let cur = &self.current;
        let ok = match next.state {
            Empty => {
                (cur.producer_epoch == next.producer_epoch || self.valid_epoch_bump(&next))
                    && next.topic_partitions.is_empty()
                    && next.txn_start_timestamp == -1
            }
            Ongoing => {
                self.valid_producer_epoch(&next)
                    && next.topic_partitions.is_superset(&cur.topic_partitions)
                    && cur.txn_timeout_ms == next.txn_timeout_ms
            }
            PrepareAbort | PrepareCommit => {
                let empty_abort = next.state == PrepareAbort
                    && next.client_transaction_version.supports_epoch_bump()
                    && matches!(cur.state, Empty | CompleteCommit | CompleteAbort);
                self.valid_producer_epoch(&next)
                    && cur.topic_partitions == next.topic_partitions
                    && cur.txn_timeout_ms == next.txn_timeout_ms
                    && (cur.txn_start_timestamp == next.txn_start_timestamp || empty_abort)
            }
            CompleteAbort | CompleteCommit => {
                self.valid_producer_epoch(&next)
                    && cur.txn_timeout_ms == next.txn_timeout_ms
                    && next.txn_start_timestamp != -1
            }
            PrepareEpochFence | Dead => false,
        };
        if !ok {
            return fail("does not follow from the current state");
        }
        self.current = next;
        self.pending_state = None;
        Ok(())
    }

    /// Whether `next` keeps the producer id and epoch it should (Kafka's
    /// `validProducerEpoch`, with TV2's bump at EndTxn and its producer id
    /// rotation at completion).
    fn valid_producer_epoch(&self, next: &TxnTransitMetadata) -> bool {
        use TransactionState::*;
        let cur = &self.current;
        let tv2 = next.client_transaction_version.supports_epoch_bump();
        if tv2 && matches!(next.state, CompleteCommit | CompleteAbort) && next.producer_epoch == 0 {
            return next.last_producer_epoch == cur.last_producer_epoch
                && next.prev_producer_id == cur.producer_id;
        }
        if tv2 && matches!(next.state, PrepareCommit | PrepareAbort) {
            return next.last_producer_epoch == cur.producer_epoch
                && next.producer_id == cur.producer_id;
        }
        next.producer_epoch == cur.producer_epoch && next.producer_id == cur.producer_id
    }

    /// Whether `next` bumps the epoch by one, or starts a new producer id.
    fn valid_epoch_bump(&self, next: &TxnTransitMetadata) -> bool {
        next.producer_epoch == self.current.producer_epoch.wrapping_add(1)
            || (next.producer_epoch == 0 && next.producer_id != self.current.producer_id)
    }
}
