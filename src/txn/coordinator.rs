//! A broker's transaction coordinator (Kafka's `TransactionCoordinator`
//! with its `TransactionStateManager`): it owns the transactional ids of
//! the `__transaction_state` partitions this broker leads, loads them when
//! it becomes leader, answers NOT_COORDINATOR for the others, and runs each
//! transaction through its states, writing every transition to the log
//! (acks=all) before it takes effect.
//!
//! Sans-IO like the group coordinator: the host appends the record of a
//! [`TxnOutput::Append`] to the partition and reports the outcome through
//! [`TransactionCoordinator::on_append_done`]; it sends the markers of a
//! [`TxnOutput::WriteMarkers`] (Kafka's `TransactionMarkerChannelManager`)
//! and reports through [`TransactionCoordinator::on_markers_written`].
//!
//! As in Kafka, EndTxn is answered once PrepareCommit or PrepareAbort is
//! written; the markers follow, and until CompleteCommit or CompleteAbort
//! is written the next InitProducerId or AddPartitionsToTxn of that
//! transactional id is answered CONCURRENT_TRANSACTIONS. An InitProducerId
//! that finds a transaction open fences its producer (the epoch is bumped)
//! and aborts it, answering CONCURRENT_TRANSACTIONS so that the new
//! instance retries once the abort completed.

use std::collections::{BTreeMap, BTreeSet};

mod v2;

use super::log::partition_for;
use super::metadata::{TransactionMetadata, TransactionVersion, TxnError, TxnTransitMetadata};
use super::state::TransactionState;
use crate::errors::Errors;
use crate::log::{ControlRecordType, NO_PRODUCER_ID};
use crate::protocol::TopicIdPartition;

/// The coordinator's configs (Kafka's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnCoordinatorConfig {
    /// `transaction.state.log.num.partitions`.
    pub num_partitions: u32,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a
    /// producer may ask for.
    pub transaction_max_timeout_ms: u64,
    /// KAFKA-9666 (2.6): a fence whose write failed is remembered
    /// (`hasFailedEpochFence`: the next fence does not bump the epoch
    /// again), and the abort for a fence leaves no last epoch. Off (2.5):
    /// each fence bumps the epoch, and the fenced epoch is the last one.
    pub failed_epoch_fence_remembered: bool,
    /// KAFKA-9600 (2.6): a client's EndTxn needs the current producer
    /// epoch. Off (2.5): only an older one is refused.
    pub strict_end_txn_epoch: bool,
    /// KIP-360 (KAFKA-8710, 2.5.0): InitProducerId v3 carries the producer
    /// id and epoch of a producer bumping its epoch. Off (2.4.1,
    /// InitProducerId v0-2): the request has none, and `handleInitProducerId`
    /// takes none.
    pub transactional_epoch_bump: bool,
}

impl Default for TxnCoordinatorConfig {
    fn default() -> Self {
        Self {
            num_partitions: super::log::TRANSACTION_STATE_LOG_NUM_PARTITIONS,
            transaction_max_timeout_ms: 900_000,
            failed_epoch_fence_remembered: true,
            strict_end_txn_epoch: true,
            transactional_epoch_bump: true,
        }
    }
}

/// The coordinator's answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TxnResponse {
    /// InitProducerIdResponse.
    InitProducerId {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The producer id (-1 on error).
        producer_id: i64,
        /// Its epoch (-1 on error).
        producer_epoch: i16,
    },
    /// AddPartitionsToTxnResponse (one error for all its partitions).
    AddPartitionsToTxn {
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
    /// EndTxnResponse.
    EndTxn {
        /// Why it failed, if it did.
        error: Option<Errors>,
        /// The producer id to go on with (v5, transactions v2; else -1).
        producer_id: i64,
        /// Its epoch, bumped by the EndTxn (v5, transactions v2; else -1).
        producer_epoch: i16,
    },
}

/// What the coordinator asks of its broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOutput<R> {
    /// Send this response to the request behind `R`.
    Reply(R, TxnResponse),
    /// Write `transit` of `transactional_id` to its `__transaction_state`
    /// partition (acks=all), then call `on_append_done(id, …)`.
    Append {
        /// Passed back to `on_append_done`.
        id: u64,
        /// The `__transaction_state` partition.
        partition: u32,
        /// The transactional id.
        transactional_id: String,
        /// The state to write.
        transit: TxnTransitMetadata,
    },
    /// Send WriteTxnMarkers for these partitions to their leaders, then
    /// call `on_markers_written(transactional_id)` once every one is written.
    WriteMarkers {
        /// The transactional id.
        transactional_id: String,
        /// The producer.
        producer_id: i64,
        /// Its epoch as the markers carry it.
        producer_epoch: i16,
        /// COMMIT or ABORT.
        result: ControlRecordType,
        /// The transaction's partitions.
        partitions: BTreeSet<TopicIdPartition>,
        /// This coordinator's epoch for the partition.
        coordinator_epoch: i32,
    },
}

/// What a log write in flight is for: who to answer once it is written.
#[derive(Clone, Debug)]
enum PendingAppend<R> {
    InitProducerId(R),
    AddPartitions(R),
    /// PrepareCommit or PrepareAbort: answer (if a client asked), then
    /// send the markers.
    EndTxn(Option<R>),
    /// The abort of a fenced producer's transaction, for an InitProducerId
    /// that is answered CONCURRENT_TRANSACTIONS once it is written.
    FenceAbort(R),
    /// CompleteCommit or CompleteAbort: nobody waits.
    Complete,
}

/// One `__transaction_state` partition this broker leads.
#[derive(Clone, Debug)]
struct TxnPartition {
    coordinator_epoch: i32,
    txns: BTreeMap<String, TransactionMetadata>,
}

/// The transaction coordinator of one broker.
#[derive(Clone, Debug)]
pub struct TransactionCoordinator<R> {
    config: TxnCoordinatorConfig,
    /// The partitions it leads and has loaded.
    partitions: BTreeMap<u32, TxnPartition>,
    /// Partitions it leads and is still loading.
    loading: BTreeSet<u32>,
    /// Log writes in flight: id -> (transactional id, the transition, why).
    appends: BTreeMap<u64, (String, TxnTransitMetadata, PendingAppend<R>)>,
    next_append: u64,
    /// Transactions whose markers are written but whose completion's log
    /// append failed: retried after a backoff.
    retry_complete: BTreeSet<String>,
}

impl<R: Clone> TransactionCoordinator<R> {
    /// A coordinator leading nothing yet.
    pub fn new(config: TxnCoordinatorConfig) -> Self {
        Self {
            config,
            partitions: BTreeMap::new(),
            loading: BTreeSet::new(),
            appends: BTreeMap::new(),
            next_append: 0,
            retry_complete: BTreeSet::new(),
        }
    }

    /// The broker became leader of `partition` and is reading its log.
    pub fn start_loading(&mut self, partition: u32) {
        self.loading.insert(partition);
    }

    /// The partition's log is read (Kafka's `loadTransactionsForTxnTopicPartition`):
    /// its transactional ids are this coordinator's, under `coordinator_epoch`
    /// (the partition's leader epoch). A transaction found in PrepareCommit
    /// or PrepareAbort has its markers sent again.
    pub fn load(
        &mut self,
        partition: u32,
        coordinator_epoch: i32,
        loaded: BTreeMap<String, TxnTransitMetadata>,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        self.loading.remove(&partition);
        let mut txns = BTreeMap::new();
        for (id, state) in loaded {
            let mut m = TransactionMetadata::new(&id, state.producer_id, state.txn_timeout_ms, 0);
            m.current = state;
            if matches!(
                m.state(),
                TransactionState::PrepareCommit | TransactionState::PrepareAbort
            ) {
                out.push(markers_of(&m, coordinator_epoch));
            }
            txns.insert(id, m);
        }
        self.partitions.insert(
            partition,
            TxnPartition {
                coordinator_epoch,
                txns,
            },
        );
    }

    /// The broker no longer leads `partition`: its transactional ids are
    /// forgotten (their writes in flight answer NOT_COORDINATOR).
    pub fn unload(&mut self, partition: u32, out: &mut Vec<TxnOutput<R>>) {
        self.loading.remove(&partition);
        self.partitions.remove(&partition);
        let config = self.config;
        let gone: Vec<u64> = self
            .appends
            .iter()
            .filter(|(_, (id, ..))| partition_for(id, config.num_partitions) == partition)
            .map(|(&k, _)| k)
            .collect();
        for k in gone {
            if let Some((_, _, why)) = self.appends.remove(&k) {
                answer_failed(why, Errors::NotCoordinator, out);
            }
        }
    }

    /// Whether it leads `partition` (loaded or loading).
    pub fn owns_partition(&self, partition: u32) -> bool {
        self.partitions.contains_key(&partition) || self.loading.contains(&partition)
    }

    /// Whether it leads `partition` and has not loaded it yet.
    pub fn is_loading(&self, partition: u32) -> bool {
        self.loading.contains(&partition)
    }

    /// Whether it leads any partition.
    pub fn leads_any(&self) -> bool {
        !self.partitions.is_empty() || !self.loading.is_empty()
    }

    /// The metadata of `transactional_id`, or why this coordinator cannot
    /// serve it.
    fn metadata(&mut self, transactional_id: &str) -> Result<(&mut TxnPartition, u32), Errors> {
        let partition = partition_for(transactional_id, self.config.num_partitions);
        if self.loading.contains(&partition) {
            return Err(Errors::CoordinatorLoadInProgress);
        }
        match self.partitions.get_mut(&partition) {
            Some(p) => Ok((p, partition)),
            None => Err(Errors::NotCoordinator),
        }
    }

    /// Asks for `transit` of `transactional_id` to be written.
    fn append(
        &mut self,
        transactional_id: &str,
        transit: TxnTransitMetadata,
        why: PendingAppend<R>,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        self.next_append += 1;
        let id = self.next_append;
        out.push(TxnOutput::Append {
            id,
            partition: partition_for(transactional_id, self.config.num_partitions),
            transactional_id: transactional_id.to_owned(),
            transit: transit.clone(),
        });
        self.appends
            .insert(id, (transactional_id.to_owned(), transit, why));
    }

    /// InitProducerId with a transactional id (Kafka's `handleInitProducerId`).
    /// `allocate` hands out a new producer id (the broker's ProducerIdManager).
    /// Without `transactional_epoch_bump` (2.4.1: InitProducerId v0-2, whose
    /// `handleInitProducerId(transactionalId, transactionTimeoutMs,
    /// responseCallback)` has no `expectedProducerIdAndEpoch`) `expected`
    /// is not read: a 2.4.1 broker never gets it.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_init_producer_id(
        &mut self,
        reply: R,
        transactional_id: &str,
        txn_timeout_ms: u64,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        allocate: &mut dyn FnMut() -> Result<i64, Errors>,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        let fail = |e: Errors| TxnResponse::InitProducerId {
            error: Some(e),
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
        };
        let expected = expected.filter(|_| self.config.transactional_epoch_bump);
        let decided = if transactional_id.is_empty() {
            Err(Errors::InvalidRequest)
        } else if txn_timeout_ms == 0 || txn_timeout_ms > self.config.transaction_max_timeout_ms {
            Err(Errors::InvalidTransactionTimeout)
        } else {
            self.prepare_init(transactional_id, txn_timeout_ms, expected, now_ms, allocate)
        };
        match decided {
            Ok((transit, fenced)) => {
                let why = if fenced {
                    PendingAppend::FenceAbort(reply)
                } else {
                    PendingAppend::InitProducerId(reply)
                };
                self.append(transactional_id, transit, why, out);
            }
            Err(e) => out.push(TxnOutput::Reply(reply, fail(e))),
        }
    }

    /// The transition an InitProducerId makes, and whether it is the abort
    /// of a fenced producer's open transaction.
    fn prepare_init(
        &mut self,
        transactional_id: &str,
        txn_timeout_ms: u64,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        allocate: &mut dyn FnMut() -> Result<i64, Errors>,
    ) -> Result<(TxnTransitMetadata, bool), Errors> {
        let remembered = self.config.failed_epoch_fence_remembered;
        let (p, _) = self.metadata(transactional_id)?;
        if !p.txns.contains_key(transactional_id) {
            let pid = allocate()?;
            let m = TransactionMetadata::new(transactional_id, pid, txn_timeout_ms, now_ms);
            p.txns.insert(transactional_id.to_owned(), m);
        }
        let m = p.txns.get_mut(transactional_id).expect("inserted above");
        if m.pending_transition_in_progress() {
            return Err(Errors::ConcurrentTransactions);
        }
        if let Some((pid, epoch)) = expected {
            // Kafka's isValidProducerId: the current producer id, or the
            // previous one when its epoch ran out (the id was rotated).
            let rotated = pid == m.current.prev_producer_id && epoch >= i16::MAX - 1;
            if pid != m.current.producer_id && !rotated {
                return Err(Errors::ProducerFenced);
            }
        }
        use TransactionState::*;
        let prepared = match m.state() {
            PrepareAbort | PrepareCommit => return Err(Errors::ConcurrentTransactions),
            Empty | CompleteAbort | CompleteCommit if m.is_producer_epoch_exhausted() => {
                let pid = allocate()?;
                m.prepare_producer_id_rotation(pid, txn_timeout_ms, now_ms, expected.is_some())
            }
            Empty | CompleteAbort | CompleteCommit => {
                m.prepare_increment_producer_epoch(txn_timeout_ms, expected.map(|(_, e)| e), now_ms)
            }
            Ongoing => {
                // Fence the open transaction's producer and abort it; the
                // new instance hears CONCURRENT_TRANSACTIONS and retries.
                return fence_and_abort(m, now_ms, remembered).map(|t| (t, true));
            }
            Dead | PrepareEpochFence => Err(TxnError::IllegalState(format!(
                "InitProducerId in state {}",
                m.state().name()
            ))),
        };
        settle(prepared).map(|t| (t, false))
    }

    /// AddPartitionsToTxn (Kafka's `handleAddPartitionsToTransaction`).
    #[allow(clippy::too_many_arguments)]
    pub fn handle_add_partitions(
        &mut self,
        reply: R,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &BTreeSet<TopicIdPartition>,
        version: TransactionVersion,
        now_ms: i64,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        use TransactionState::*;
        let decided = self
            .checked(transactional_id, producer_id, producer_epoch, false)
            .and_then(|m| {
                if m.pending_transition_in_progress()
                    || matches!(m.state(), PrepareCommit | PrepareAbort)
                {
                    Err(Errors::ConcurrentTransactions)
                } else if m.state() == Ongoing && partitions.is_subset(&m.current.topic_partitions)
                {
                    Ok(None)
                } else {
                    settle(m.prepare_add_partitions(partitions, now_ms, version)).map(Some)
                }
            });
        let answer = |error| TxnResponse::AddPartitionsToTxn { error };
        self.conclude(
            reply,
            transactional_id,
            decided,
            answer,
            PendingAppend::AddPartitions,
            out,
        );
    }

    /// EndTxn (Kafka's `handleEndTransaction`, transactions v1 checks).
    /// From 2.6 (KAFKA-9600, `strict_end_txn_epoch`) the epoch must be the
    /// coordinator's; 2.5.1's `handleEndTransaction` refuses only an older
    /// one (`producerEpoch < txnMetadata.producerEpoch`) and takes a newer
    /// one, the transaction going on under the coordinator's epoch.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_end_txn(
        &mut self,
        reply: R,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        use TransactionState::*;
        let newer_taken = !self.config.strict_end_txn_epoch;
        let decided = self
            .checked(transactional_id, producer_id, producer_epoch, newer_taken)
            .and_then(|m| {
                if m.pending_transition_in_progress() {
                    return Err(Errors::ConcurrentTransactions);
                }
                match (m.state(), commit) {
                    (Ongoing, _) => {
                        let to = if commit { PrepareCommit } else { PrepareAbort };
                        let version = m.current.client_transaction_version;
                        let prepared =
                            m.prepare_abort_or_commit(to, version, NO_PRODUCER_ID, now_ms, false);
                        settle(prepared).map(Some)
                    }
                    // A retry of an EndTxn that completed.
                    (CompleteCommit, true) | (CompleteAbort, false) => Ok(None),
                    (PrepareCommit, true) | (PrepareAbort, false) => {
                        Err(Errors::ConcurrentTransactions)
                    }
                    _ => Err(Errors::InvalidTxnState),
                }
            });
        let answer = |error| TxnResponse::EndTxn {
            error,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
        };
        let why = |reply| PendingAppend::EndTxn(Some(reply));
        self.conclude(reply, transactional_id, decided, answer, why, out);
    }

    /// Ends a request: a transition to write (answered once written, as
    /// `why` says), an answer without one (None), or an error.
    fn conclude(
        &mut self,
        reply: R,
        transactional_id: &str,
        decided: Result<Option<TxnTransitMetadata>, Errors>,
        answer: impl Fn(Option<Errors>) -> TxnResponse,
        why: impl FnOnce(R) -> PendingAppend<R>,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        match decided {
            Ok(Some(transit)) => self.append(transactional_id, transit, why(reply), out),
            Ok(None) => out.push(TxnOutput::Reply(reply, answer(None))),
            Err(e) => out.push(TxnOutput::Reply(reply, answer(Some(e)))),
        }
    }

    /// The metadata of a transactional id a producer names, checked against
    /// the producer id and epoch it sends (an epoch newer than the
    /// coordinator's taken if `newer_taken`: 2.5's EndTxn).
    fn checked(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        newer_taken: bool,
    ) -> Result<&mut TransactionMetadata, Errors> {
        let (p, _) = self.metadata(transactional_id)?;
        let m = p
            .txns
            .get_mut(transactional_id)
            .ok_or(Errors::InvalidProducerIdMapping)?;
        if m.current.producer_id != producer_id {
            return Err(Errors::InvalidProducerIdMapping);
        }
        let fenced = if newer_taken {
            producer_epoch < m.current.producer_epoch
        } else {
            producer_epoch != m.current.producer_epoch
        };
        if fenced {
            return Err(Errors::ProducerFenced);
        }
        Ok(m)
    }

    /// Ongoing transactions older than their `transaction.timeout.ms`
    /// (Kafka's `abortTimedOutTransactions`): each producer is fenced and
    /// its transaction aborted.
    pub fn abort_timed_out(&mut self, now_ms: i64, out: &mut Vec<TxnOutput<R>>) {
        let mut expired = Vec::new();
        for p in self.partitions.values() {
            for (id, m) in &p.txns {
                let deadline = m.current.txn_start_timestamp + m.current.txn_timeout_ms as i64;
                if m.state() == TransactionState::Ongoing
                    && !m.pending_transition_in_progress()
                    && deadline < now_ms
                {
                    expired.push(id.clone());
                }
            }
        }
        let remembered = self.config.failed_epoch_fence_remembered;
        for id in expired {
            let Ok((p, _)) = self.metadata(&id) else {
                continue;
            };
            let Some(m) = p.txns.get_mut(&id) else {
                continue;
            };
            let abort = fence_and_abort(m, now_ms, remembered);
            if let Ok(transit) = abort {
                self.append(&id, transit, PendingAppend::EndTxn(None), out);
            }
        }
    }

    /// The write `id` finished: `error` None when it is replicated.
    pub fn on_append_done(
        &mut self,
        id: u64,
        error: Option<Errors>,
        now_ms: i64,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        let Some((txn_id, transit, why)) = self.appends.remove(&id) else {
            return;
        };
        let remembered = self.config.failed_epoch_fence_remembered;
        let Ok((p, _)) = self.metadata(&txn_id) else {
            answer_failed(why, Errors::NotCoordinator, out);
            return;
        };
        let coordinator_epoch = p.coordinator_epoch;
        let Some(m) = p.txns.get_mut(&txn_id) else {
            answer_failed(why, Errors::NotCoordinator, out);
            return;
        };
        if let Some(e) = error {
            // Kafka answers a failed write with NOT_COORDINATOR (or the
            // write's own error) and leaves the state as it was.
            m.abort_transition();
            let fence = matches!(
                why,
                PendingAppend::FenceAbort(_) | PendingAppend::EndTxn(None)
            );
            if fence && remembered {
                // KAFKA-9666 (2.6.0 `TransactionCoordinator.endTransaction`,
                // `isEpochFence`): the fence's bumped epoch was never handed
                // out, so the next fence keeps it. 2.5.1 remembers nothing
                // and bumps again at each InitProducerId retry.
                m.has_failed_epoch_fence = true;
            }
            if matches!(why, PendingAppend::Complete) && e != Errors::NotLeaderOrFollower {
                // The markers are written: Kafka's TransactionMarkerChannelManager
                // retries the completion's log append (txnLogAppendRetryQueue)
                // until it succeeds or the coordinator moves.
                self.retry_complete.insert(txn_id);
                return;
            }
            let e = match e {
                Errors::NotEnoughReplicas
                | Errors::NotEnoughReplicasAfterAppend
                | Errors::RequestTimedOut => Errors::CoordinatorNotAvailable,
                Errors::NotLeaderOrFollower => Errors::NotCoordinator,
                other => other,
            };
            answer_failed(why, e, out);
            return;
        }
        if let Err(TxnError::IllegalState(why)) = m.complete_transition_to(transit) {
            panic!("transaction coordinator: {why}");
        }
        match why {
            PendingAppend::InitProducerId(reply) => out.push(TxnOutput::Reply(
                reply,
                TxnResponse::InitProducerId {
                    error: None,
                    producer_id: m.current.producer_id,
                    producer_epoch: m.current.producer_epoch,
                },
            )),
            PendingAppend::AddPartitions(reply) => out.push(TxnOutput::Reply(
                reply,
                TxnResponse::AddPartitionsToTxn { error: None },
            )),
            PendingAppend::EndTxn(_) | PendingAppend::FenceAbort(_) => {
                match why {
                    PendingAppend::EndTxn(Some(reply)) => {
                        out.push(TxnOutput::Reply(reply, end_txn_written(m)));
                    }
                    PendingAppend::FenceAbort(reply) => out.push(TxnOutput::Reply(
                        reply,
                        TxnResponse::InitProducerId {
                            error: Some(Errors::ConcurrentTransactions),
                            producer_id: NO_PRODUCER_ID,
                            producer_epoch: -1,
                        },
                    )),
                    _ => {}
                }
                if m.current.topic_partitions.is_empty() {
                    // Nothing to mark: complete at once.
                    self.complete(&txn_id, now_ms, out);
                } else {
                    out.push(markers_of(m, coordinator_epoch));
                }
            }
            PendingAppend::Complete => {}
        }
    }

    /// Whether a completion's log append waits to be retried.
    pub fn has_completions_to_retry(&self) -> bool {
        !self.retry_complete.is_empty()
    }

    /// Retries the log appends of completions that failed (after the
    /// service's backoff).
    pub fn retry_completions(&mut self, now_ms: i64, out: &mut Vec<TxnOutput<R>>) {
        for txn_id in std::mem::take(&mut self.retry_complete) {
            self.complete(&txn_id, now_ms, out);
        }
    }

    /// Every marker of `transactional_id`'s transaction is written (Kafka's
    /// `TransactionMarkerChannelManager` completing its entry): the
    /// transaction completes.
    pub fn on_markers_written(
        &mut self,
        transactional_id: &str,
        now_ms: i64,
        out: &mut Vec<TxnOutput<R>>,
    ) {
        self.complete(transactional_id, now_ms, out);
    }

    fn complete(&mut self, transactional_id: &str, now_ms: i64, out: &mut Vec<TxnOutput<R>>) {
        let Ok((p, _)) = self.metadata(transactional_id) else {
            return;
        };
        let Some(m) = p.txns.get_mut(transactional_id) else {
            return;
        };
        if !matches!(
            m.state(),
            TransactionState::PrepareCommit | TransactionState::PrepareAbort
        ) || m.pending_transition_in_progress()
        {
            return;
        }
        match m.prepare_complete(now_ms) {
            Ok(transit) => self.append(transactional_id, transit, PendingAppend::Complete, out),
            Err(TxnError::Kafka(_)) => {}
            Err(TxnError::IllegalState(why)) => panic!("transaction coordinator: {why}"),
        }
    }

    /// Every transactional id this coordinator holds, with its state.
    pub fn transactions(&self) -> impl Iterator<Item = (&str, &TransactionMetadata)> + '_ {
        self.partitions
            .values()
            .flat_map(|p| p.txns.iter().map(|(id, m)| (id.as_str(), m)))
    }

    /// The state of `transactional_id`, if this coordinator holds it.
    pub fn state_of(&self, transactional_id: &str) -> Option<&TransactionMetadata> {
        let partition = partition_for(transactional_id, self.config.num_partitions);
        self.partitions.get(&partition)?.txns.get(transactional_id)
    }
}

/// A prepared transition, or the error to answer (an illegal transition
/// is a bug in the coordinator: the run stops with it).
fn settle(prepared: Result<TxnTransitMetadata, TxnError>) -> Result<TxnTransitMetadata, Errors> {
    match prepared {
        Ok(t) => Ok(t),
        Err(TxnError::Kafka(e)) => Err(e),
        Err(TxnError::IllegalState(why)) => panic!("transaction coordinator: {why}"),
    }
}

/// Fences `m`'s producer (its epoch bumped, as Kafka's
/// `prepareFenceProducerEpoch`, applied at once as Kafka's endTransaction
/// does for a fence) and prepares the abort of its open transaction. The
/// last epoch is NO_PRODUCER_EPOCH from 2.6 (KAFKA-9666, `remembered`);
/// 2.5.1's `handleEndTransaction` set `lastProducerEpoch` to the fenced
/// epoch, so an InitProducerId carrying it (KIP-360) is taken as the
/// retry of one that succeeded and answered the current epoch.
fn fence_and_abort(
    m: &mut TransactionMetadata,
    now_ms: i64,
    remembered: bool,
) -> Result<TxnTransitMetadata, Errors> {
    let fenced_epoch = m.current.producer_epoch;
    let fence = settle(m.prepare_fence_producer_epoch())?;
    m.pending_state = None;
    m.current.producer_epoch = fence.producer_epoch;
    m.current.last_producer_epoch = if remembered {
        crate::log::NO_PRODUCER_EPOCH
    } else {
        fenced_epoch
    };
    let version = m.current.client_transaction_version;
    settle(m.prepare_abort_or_commit(
        TransactionState::PrepareAbort,
        version,
        NO_PRODUCER_ID,
        now_ms,
        false,
    ))
}

/// EndTxn's answer once its PrepareCommit or PrepareAbort is written:
/// under transactions v2 the producer id and the epoch it bumped (EndTxn
/// v5), else none (Kafka's `responseCallback(Errors.NONE,
/// txnMetadata.producerId, txnMetadata.producerEpoch)` and its TV1
/// counterpart with `NO_PRODUCER_ID`).
///
/// When the bump ran the epoch out, the answer is the producer id the
/// completion moves to, at epoch 0 (Kafka 4.x answers with
/// `newPreSendMetadata`, the `prepareComplete` transition).
fn end_txn_written(m: &TransactionMetadata) -> TxnResponse {
    let tv2 = m.current.client_transaction_version.supports_epoch_bump();
    let (producer_id, producer_epoch) = if !tv2 {
        (NO_PRODUCER_ID, -1)
    } else if m.current.next_producer_id != NO_PRODUCER_ID {
        (m.current.next_producer_id, 0)
    } else {
        (m.current.producer_id, m.current.producer_epoch)
    };
    TxnResponse::EndTxn {
        error: None,
        producer_id,
        producer_epoch,
    }
}

/// The markers of `m`'s prepared commit or abort.
fn markers_of<R>(m: &TransactionMetadata, coordinator_epoch: i32) -> TxnOutput<R> {
    TxnOutput::WriteMarkers {
        transactional_id: m.transactional_id.clone(),
        producer_id: m.current.producer_id,
        producer_epoch: m.current.producer_epoch,
        result: if m.state() == TransactionState::PrepareCommit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        },
        partitions: m.current.topic_partitions.clone(),
        coordinator_epoch,
    }
}

/// Answers whoever waited on a write that failed with `e`.
fn answer_failed<R>(why: PendingAppend<R>, e: Errors, out: &mut Vec<TxnOutput<R>>) {
    let response = match why {
        PendingAppend::InitProducerId(_) | PendingAppend::FenceAbort(_) => {
            TxnResponse::InitProducerId {
                error: Some(e),
                producer_id: NO_PRODUCER_ID,
                producer_epoch: -1,
            }
        }
        PendingAppend::AddPartitions(_) => TxnResponse::AddPartitionsToTxn { error: Some(e) },
        PendingAppend::EndTxn(_) => TxnResponse::EndTxn {
            error: Some(e),
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
        },
        PendingAppend::Complete => return,
    };
    let reply = match why {
        PendingAppend::InitProducerId(r)
        | PendingAppend::AddPartitions(r)
        | PendingAppend::FenceAbort(r) => r,
        PendingAppend::EndTxn(Some(r)) => r,
        PendingAppend::EndTxn(None) | PendingAppend::Complete => return,
    };
    out.push(TxnOutput::Reply(reply, response));
}
