//! KIP-890 part 1 at the partition leader (Kafka's
//! `ReplicaManager.handleProduceAppend` and
//! `maybeStartTransactionVerificationForPartitions`): before a producer's
//! first transactional append to a partition where it has no open
//! transaction, the leader makes a verification guard there
//! (`UnifiedLog.maybeStartTransactionVerification`) and asks the
//! transaction coordinator, through the broker's AddPartitionsToTxnManager,
//! whether the producer's transaction contains the partition (under
//! transactions v2, to add it). The produce waits meanwhile without
//! holding anything else up; once answered, the partitions that failed are
//! answered with the coordinator's error as Kafka translates it, and the
//! others are appended with their guards.

use std::collections::BTreeMap;

use super::super::add_partitions_manager::{TransactionSupportedOperation, VerifyRequest};
use super::super::purgatory::{PartitionOutcome, ProducePartitionStatus, ReplyTo};
use super::ReplicaManager;
use crate::errors::Errors;
use crate::node::Env;
use crate::protocol::{ProduceData, TopicIdPartition};

/// A produce waiting for its transaction verification.
#[derive(Clone, Debug)]
pub struct PendingVerification {
    reply_to: ReplyTo,
    version: i16,
    transactional_id: String,
    first_asked_ms: u64,
    acks: i16,
    timeout_ms: u64,
    partitions: Vec<ProduceData>,
    /// The guard made for each partition being verified.
    guards: BTreeMap<TopicIdPartition, u64>,
}

impl ReplicaManager {
    /// A client's Produce (Kafka's `handleProduceAppend`). Appended at
    /// once, unless verification is on, the produce carries a
    /// `transactional_id`, and some partition holds no open transaction of
    /// the batches' producer: then the produce waits, and the returned
    /// request is for the AddPartitionsToTxnManager, whose answer comes
    /// back through [`ReplicaManager::on_verified`].
    #[allow(clippy::too_many_arguments)]
    pub fn handle_produce_append(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        version: i16,
        transactional_id: Option<String>,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
    ) -> Option<VerifyRequest> {
        let now_ms = env.now_ms();
        self.start_verification(
            env,
            reply_to,
            version,
            transactional_id,
            acks,
            timeout_ms,
            partitions,
            now_ms,
        )
    }

    /// The coordinator answered CONCURRENT_TRANSACTIONS for produce
    /// `waiter` and the backoff passed: its verification starts over, with
    /// new guards (Kafka 4.x retries the whole verification).
    pub fn restart_verification(
        &mut self,
        env: &mut Env<'_>,
        waiter: u64,
    ) -> Option<VerifyRequest> {
        let p = self.pending_verification.remove(&waiter)?;
        self.start_verification(
            env,
            p.reply_to,
            p.version,
            Some(p.transactional_id),
            p.acks,
            p.timeout_ms,
            p.partitions,
            p.first_asked_ms,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn start_verification(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        version: i16,
        transactional_id: Option<String>,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
        first_asked_ms: u64,
    ) -> Option<VerifyRequest> {
        let mut producer = None;
        let mut to_verify = Vec::new();
        for data in &partitions {
            let b = &data.batch;
            if !b.is_transactional() || b.producer_id < 0 {
                continue;
            }
            if producer.is_some_and(|p| p != (b.producer_id, b.producer_epoch)) {
                // "Transactional records contained more than one producer ID"
                let errors = partitions
                    .iter()
                    .map(|d| (d.tp, Errors::InvalidProducerIdMapping))
                    .collect();
                self.answer_failed(env, reply_to, acks, timeout_ms, errors);
                return None;
            }
            producer = Some((b.producer_id, b.producer_epoch));
            to_verify.push((data.tp, b.base_sequence));
        }
        // Kafka skips the coordinator when verification is off, except
        // that a transactions v2 produce relies on the leader to add its
        // partitions.
        let operation = TransactionSupportedOperation::of_produce_version(version);
        let Some(transactional_id) = transactional_id.filter(|_| {
            self.config.transaction_partition_verification_enable
                || operation == TransactionSupportedOperation::AddPartition
        }) else {
            self.handle_produce(env, reply_to, acks, timeout_ms, partitions);
            return None;
        };
        let Some((producer_id, producer_epoch)) = producer else {
            self.handle_produce(env, reply_to, acks, timeout_ms, partitions);
            return None;
        };
        // Kafka's `maybeStartTransactionVerificationForPartition`: a guard
        // where the producer has no open transaction; a partition this
        // broker does not lead is left to the append to refuse.
        let mut guards = BTreeMap::new();
        for (tp, sequence) in to_verify {
            let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
                continue;
            };
            if p.producers
                .has_ongoing_transaction(producer_id, producer_epoch)
            {
                continue;
            }
            self.last_verification_id += 1;
            let guard = p.producers.maybe_create_verification_state_entry(
                producer_id,
                sequence,
                producer_epoch,
                self.last_verification_id,
            );
            guards.insert(tp, guard);
        }
        if guards.is_empty() {
            self.handle_produce(env, reply_to, acks, timeout_ms, partitions);
            return None;
        }
        self.last_verification_id += 1;
        let waiter = self.last_verification_id;
        let request = VerifyRequest {
            waiter,
            transactional_id: transactional_id.clone(),
            first_asked_ms,
            producer_id,
            producer_epoch,
            partitions: guards.keys().copied().collect(),
            operation,
        };
        self.pending_verification.insert(
            waiter,
            PendingVerification {
                reply_to,
                version,
                transactional_id,
                first_asked_ms,
                acks,
                timeout_ms,
                partitions,
                guards,
            },
        );
        Some(request)
    }

    /// The coordinator answered the verification of produce `waiter`
    /// (Kafka's `postVerificationCallback`): the partitions in `errors`
    /// are answered with it, coordinator errors an older client might not
    /// retry becoming NOT_ENOUGH_REPLICAS, and the rest are appended.
    pub fn on_verified(
        &mut self,
        env: &mut Env<'_>,
        waiter: u64,
        errors: BTreeMap<TopicIdPartition, Errors>,
    ) {
        let Some(pending) = self.pending_verification.remove(&waiter) else {
            return;
        };
        let mut failed = Vec::new();
        let mut rest = Vec::new();
        for data in pending.partitions {
            match errors.get(&data.tp) {
                Some(&e) => failed.push(ProducePartitionStatus {
                    tp: data.tp,
                    producer_id: data.batch.producer_id,
                    required_offset: 0,
                    base_offset: -1,
                    outcome: PartitionOutcome::Done(Some(produce_error(e))),
                }),
                None => rest.push(data),
            }
        }
        self.append_produce(
            env,
            pending.reply_to,
            pending.acks,
            pending.timeout_ms,
            rest,
            failed,
            &pending.guards,
        );
    }

    /// Answers a produce whose every partition failed before any append.
    fn answer_failed(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        acks: i16,
        timeout_ms: u64,
        errors: Vec<(TopicIdPartition, Errors)>,
    ) {
        let failed = errors
            .into_iter()
            .map(|(tp, e)| ProducePartitionStatus {
                tp,
                producer_id: -1,
                required_offset: 0,
                base_offset: -1,
                outcome: PartitionOutcome::Done(Some(e)),
            })
            .collect();
        let none = BTreeMap::new();
        self.append_produce(env, reply_to, acks, timeout_ms, Vec::new(), failed, &none);
    }

    /// Produces waiting for a verification (for the reports and tests).
    pub fn verifications_pending(&self) -> usize {
        self.pending_verification.len()
    }
}

/// A coordinator's error as a ProduceResponse carries it (Kafka's
/// `postVerificationCallback`): "Transaction verification can fail with a
/// retriable error that older clients may not retry correctly. Translate
/// these to an error which will cause such clients to retry the produce
/// request. We pick `NOT_ENOUGH_REPLICAS` because it does not trigger a
/// metadata refresh."
fn produce_error(e: Errors) -> Errors {
    match e {
        Errors::ConcurrentTransactions
        | Errors::NetworkException
        | Errors::CoordinatorLoadInProgress
        | Errors::CoordinatorNotAvailable
        | Errors::NotCoordinator => Errors::NotEnoughReplicas,
        other => other,
    }
}
