//! KIP-890 at the transaction coordinator: the verification a partition
//! leader asks for before a producer's first transactional append to a
//! partition (part 1, Kafka's `handleVerifyPartitionsInTransaction`), and
//! EndTxn under transactions v2 (part 2, Kafka 4.x's `endTransaction`),
//! which bumps the producer epoch at every commit or abort so that a late
//! request of a transaction that ended is fenced.
//!
//! Read from apache/kafka `core/src/main/scala/kafka/coordinator/transaction/TransactionCoordinator.scala`
//! (`handleVerifyPartitionsInTransaction`, `endTransaction`,
//! `endTransactionWithTV1`) and `TransactionMetadata.prepareAbortOrCommit`.

use std::collections::BTreeSet;

use super::{PendingAppend, TransactionCoordinator, TxnResponse};
use crate::errors::Errors;
use crate::log::NO_PRODUCER_ID;
use crate::protocol::TopicIdPartition;
use crate::txn::metadata::TransactionVersion;
use crate::txn::state::TransactionState;
use crate::txn::TxnTransitMetadata;

/// What a transactions v2 EndTxn decided before any log write.
enum Decided {
    /// Write this transition, answer once it is written.
    Write(TxnTransitMetadata),
    /// Answer at once with this error (None: a retry of an EndTxn that
    /// completed, answered with the current producer id and epoch).
    Answer(Option<Errors>),
}

impl<R: Clone> TransactionCoordinator<R> {
    /// AddPartitionsToTxn v4+ with VerifyOnly (Kafka's
    /// `handleVerifyPartitionsInTransaction`): whether `partitions` are in
    /// the open transaction of `producer_id` at `producer_epoch`, without
    /// changing anything. Per partition: None when it is in the
    /// transaction, TRANSACTION_ABORTABLE when it is not; the whole
    /// transaction answers INVALID_PRODUCER_ID_MAPPING (unknown id or
    /// another producer id), PRODUCER_FENCED (another epoch),
    /// CONCURRENT_TRANSACTIONS (the transaction is ending), or
    /// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS. A pending transition
    /// is not looked at: partitions count once their addition is written,
    /// and the leader checks its verification guard again at the append.
    pub fn handle_verify_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicIdPartition],
    ) -> Vec<(TopicIdPartition, Option<Errors>)> {
        let all = |e: Errors| partitions.iter().map(|&tp| (tp, Some(e))).collect();
        if transactional_id.is_empty() {
            return all(Errors::InvalidRequest);
        }
        let m = match self.metadata(transactional_id) {
            Ok((p, _)) => match p.txns.get(transactional_id) {
                Some(m) => m,
                None => return all(Errors::InvalidProducerIdMapping),
            },
            Err(e) => return all(e),
        };
        use TransactionState::*;
        if m.current.producer_id != producer_id {
            return all(Errors::InvalidProducerIdMapping);
        }
        if m.current.producer_epoch != producer_epoch {
            return all(Errors::ProducerFenced);
        }
        if matches!(m.state(), PrepareCommit | PrepareAbort) {
            return all(Errors::ConcurrentTransactions);
        }
        partitions
            .iter()
            .map(|tp| {
                let error = (!m.current.topic_partitions.contains(tp))
                    .then_some(Errors::TransactionAbortable);
                (*tp, error)
            })
            .collect()
    }

    /// AddPartitionsToTxn v4+ without VerifyOnly, from a partition leader
    /// whose producer sent a Produce v12 (KIP-890 part 2: the leader adds
    /// the partition): Kafka's `handleAddPartitionsToTransaction` with the
    /// transactions v2 the request's version implies
    /// (`transactionVersionForAddPartitionsToTxn`).
    #[allow(clippy::too_many_arguments)]
    pub fn handle_add_partitions_for_broker(
        &mut self,
        reply: R,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &BTreeSet<TopicIdPartition>,
        now_ms: i64,
        out: &mut Vec<super::TxnOutput<R>>,
    ) {
        self.handle_add_partitions(
            reply,
            transactional_id,
            producer_id,
            producer_epoch,
            partitions,
            TransactionVersion(2),
            now_ms,
            out,
        );
    }

    /// EndTxn v5 (Kafka 4.x's `endTransaction` when the client's
    /// transaction version supports the epoch bump). Every commit or abort
    /// bumps the producer epoch (`prepareAbortOrCommit`), and the markers
    /// carry the new epoch, so a Produce or an EndTxn of the transaction
    /// that ended is fenced. An EndTxn whose epoch is one below the
    /// current one is a retry of one that was written: while its
    /// transaction still completes it is answered CONCURRENT_TRANSACTIONS,
    /// once complete with success and the current producer id and epoch;
    /// the same epoch in a completed state starts an abort of its own
    /// (the client may not know whether its partitions were added). Kafka's
    /// table:
    ///
    /// | state          | abort, retry | abort, current | commit, retry | commit, current |
    /// |----------------|--------------|----------------|---------------|-----------------|
    /// | Empty          | PF           | EB             | PF            | ITS             |
    /// | CompleteAbort  | NONE         | EB             | ITS           | ITS             |
    /// | CompleteCommit | ITS          | EB             | NONE          | ITS             |
    ///
    /// (PF = PRODUCER_FENCED, ITS = INVALID_TXN_STATE, EB = a new abort
    /// with an epoch bump.) When the epoch runs out, the commit or abort
    /// moves the transactional id to a new producer id (`allocate`).
    #[allow(clippy::too_many_arguments)]
    pub fn handle_end_txn_v2(
        &mut self,
        reply: R,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
        allocate: &mut dyn FnMut() -> Result<i64, Errors>,
        out: &mut Vec<super::TxnOutput<R>>,
    ) {
        let mut current = (NO_PRODUCER_ID, -1);
        let decided = if transactional_id.is_empty() {
            Ok(Decided::Answer(Some(Errors::InvalidRequest)))
        } else {
            self.decide_end_txn_v2(
                transactional_id,
                producer_id,
                producer_epoch,
                commit,
                now_ms,
                allocate,
                &mut current,
            )
        };
        let answer = |error: Option<Errors>| {
            let (producer_id, producer_epoch) = match error {
                None => current,
                Some(_) => (NO_PRODUCER_ID, -1),
            };
            TxnResponse::EndTxn {
                error,
                producer_id,
                producer_epoch,
            }
        };
        match decided {
            Ok(Decided::Write(transit)) => self.append(
                transactional_id,
                transit,
                PendingAppend::EndTxn(Some(reply)),
                out,
            ),
            Ok(Decided::Answer(error)) => out.push(super::TxnOutput::Reply(reply, answer(error))),
            Err(e) => out.push(super::TxnOutput::Reply(reply, answer(Some(e)))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_end_txn_v2(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
        allocate: &mut dyn FnMut() -> Result<i64, Errors>,
        current: &mut (i64, i16),
    ) -> Result<Decided, Errors> {
        use TransactionState::*;
        let (p, _) = self.metadata(transactional_id)?;
        let m = p
            .txns
            .get_mut(transactional_id)
            .ok_or(Errors::InvalidProducerIdMapping)?;
        *current = (m.current.producer_id, m.current.producer_epoch);
        // An epoch fence of a timed-out transaction is written at once here
        // (see `fence_and_abort`), so none is ever pending for a client.
        let is_epoch_fence = m.pending_state == Some(PrepareEpochFence);
        let cur_epoch = m.current.producer_epoch;
        let retry_on_overflow = !is_epoch_fence
            && m.current.prev_producer_id == producer_id
            && producer_epoch == i16::MAX - 1
            && cur_epoch == 0;
        let retry_on_epoch_bump =
            !is_epoch_fence && i32::from(cur_epoch) == i32::from(producer_epoch) + 1;
        let valid_epoch = if is_epoch_fence {
            producer_epoch == cur_epoch
        } else {
            match m.state() {
                Ongoing | Empty | Dead | PrepareEpochFence => producer_epoch == cur_epoch,
                PrepareCommit | PrepareAbort => retry_on_epoch_bump,
                CompleteCommit | CompleteAbort => {
                    retry_on_epoch_bump || retry_on_overflow || producer_epoch == cur_epoch
                }
            }
        };
        let is_retry = retry_on_epoch_bump || retry_on_overflow;
        if m.current.producer_id != producer_id && !retry_on_overflow {
            return Err(Errors::InvalidProducerIdMapping);
        }
        if !valid_epoch {
            return Err(Errors::ProducerFenced);
        }
        if m.pending_transition_in_progress() && !is_epoch_fence {
            return Err(Errors::ConcurrentTransactions);
        }
        let state = m.state();
        // Kafka's generateTxnTransitMetadataForTxnCompletion.
        let mut complete = |to: TransactionState, no_partition_added: bool| {
            let next_producer_id = if m.is_producer_epoch_exhausted() {
                allocate()?
            } else {
                NO_PRODUCER_ID
            };
            let prepared = m.prepare_abort_or_commit(
                to,
                TransactionVersion(2),
                next_producer_id,
                now_ms,
                no_partition_added,
            );
            super::settle(prepared).map(Decided::Write)
        };
        let invalid = Ok(Decided::Answer(Some(Errors::InvalidTxnState)));
        match (state, commit) {
            (Ongoing, _) => complete(if commit { PrepareCommit } else { PrepareAbort }, false),
            (CompleteCommit, true) if is_retry => Ok(Decided::Answer(None)),
            (CompleteCommit, true) => invalid,
            (CompleteCommit, false) if is_retry => invalid,
            (CompleteCommit, false) => complete(PrepareAbort, true),
            (CompleteAbort, false) if is_retry => Ok(Decided::Answer(None)),
            (CompleteAbort, false) => complete(PrepareAbort, true),
            (CompleteAbort, true) => invalid,
            (PrepareCommit, true) | (PrepareAbort, false) => {
                Ok(Decided::Answer(Some(Errors::ConcurrentTransactions)))
            }
            (PrepareCommit, false) | (PrepareAbort, true) => invalid,
            (Empty, false) => complete(PrepareAbort, true),
            (Empty, true) => invalid,
            (Dead | PrepareEpochFence, _) => panic!(
                "transaction coordinator: {transactional_id} found in state {}, which it never moves to",
                state.name()
            ),
        }
    }
}
