//! `AddPartitionsToTxnManager`: how a partition leader asks transaction
//! coordinators about the transactions of the produces it is about to
//! append (KIP-890; Kafka's `kafka.server.AddPartitionsToTxnManager`, an
//! `InterBrokerSendThread`). Each transaction to check is queued for the
//! coordinator of its transactional id (the leader of its
//! `__transaction_state` partition in the metadata image); every
//! coordinator node has at most one AddPartitionsToTxn v4+ request in
//! flight, which carries every transaction queued for it meanwhile (at
//! most one entry per transactional id: a newer one replaces an older of
//! the same or a lower epoch, which is answered NETWORK_EXCEPTION or
//! INVALID_PRODUCER_EPOCH; an older one is answered INVALID_PRODUCER_EPOCH
//! at once). Under transactions v2 (Produce v12) the request adds the
//! partitions (`VerifyOnly` false); otherwise it only verifies them.
//!
//! Answers come back per transaction as the partitions that are not in
//! it, with Kafka's translations for the producer: PRODUCER_FENCED becomes
//! INVALID_PRODUCER_EPOCH, and TRANSACTION_ABORTABLE becomes
//! INVALID_TXN_STATE unless the produce's version knows it. A broken
//! connection or a timed-out request answers NETWORK_EXCEPTION; no
//! coordinator known answers COORDINATOR_NOT_AVAILABLE. A transaction the
//! coordinator answers CONCURRENT_TRANSACTIONS for (its previous one is
//! still completing) when the leader adds the partition (transactions v2,
//! not a verification) is asked about again after
//! `add.partitions.to.txn.retry.backoff.ms`, until
//! `add.partitions.to.txn.retry.backoff.max.ms` after it was first asked (Kafka
//! 4.0's `AddPartitionsToTxnConfig`, KAFKA-18654).

use std::collections::{BTreeMap, BTreeSet};

use sim::MILLIS;

use super::txn_service::TXN_REQUEST_TIMEOUT_MS;
use super::BrokerTimer;
use crate::errors::Errors;
use crate::metadata::MetadataImage;
use crate::node::{Address, Deadline, Env, NetworkClient};
use crate::protocol::{
    AddPartitionsToTxnResult, AddPartitionsToTxnTransaction, Connection, KafkaRequest,
    TopicIdPartition, PRODUCE_VERSION_TV2,
};
use crate::txn::log::{partition_for, TRANSACTION_STATE_TOPIC};

/// What a produce's version lets the leader do and answer (Kafka's
/// `TransactionSupportedOperation`, chosen in `KafkaApis.handleProduceRequest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionSupportedOperation {
    /// Produce before v11: TRANSACTION_ABORTABLE is unknown to the client.
    DefaultError,
    /// Produce v11: the client handles TRANSACTION_ABORTABLE.
    GenericErrorSupported,
    /// Produce v12 (transactions v2): the leader adds the partition to the
    /// transaction (KIP-890 part 2).
    AddPartition,
}

impl TransactionSupportedOperation {
    /// The operation a Produce of `version` asks for.
    pub fn of_produce_version(version: i16) -> Self {
        if version >= PRODUCE_VERSION_TV2 {
            Self::AddPartition
        } else if version > 10 {
            Self::GenericErrorSupported
        } else {
            Self::DefaultError
        }
    }
}

/// One transaction to check, for the produce waiting on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyRequest {
    /// The waiting produce (the ReplicaManager's number for it).
    pub waiter: u64,
    /// The transaction.
    pub transactional_id: String,
    /// The producer id of the produce's batches.
    pub producer_id: i64,
    /// Their epoch.
    pub producer_epoch: i16,
    /// The partitions whose first transactional append waits.
    pub partitions: Vec<TopicIdPartition>,
    /// What the produce's version lets the leader do.
    pub operation: TransactionSupportedOperation,
    /// When the leader first asked about this produce (ms): retries of
    /// CONCURRENT_TRANSACTIONS end `add.partitions.to.txn.retry.backoff.max.ms`
    /// after it.
    pub first_asked_ms: u64,
}

/// A verification's outcome for its produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The waiting produce.
    pub waiter: u64,
    /// The partitions that are not in the transaction, with why.
    pub errors: BTreeMap<TopicIdPartition, Errors>,
    /// The coordinator answered CONCURRENT_TRANSACTIONS and the backoff
    /// passed: the produce starts its verification again (new guards),
    /// as Kafka 4.x's ReplicaManager does.
    pub retry: bool,
}

#[derive(Clone, Debug)]
struct Entry {
    request: VerifyRequest,
}

/// The broker's AddPartitionsToTxnManager.
#[derive(Debug)]
pub struct AddPartitionsToTxnManager {
    /// `add.partitions.to.txn.retry.backoff.ms`.
    retry_backoff_ms: u64,
    /// `add.partitions.to.txn.retry.backoff.max.ms`.
    max_timeout_ms: u64,
    /// Transactions to ask about again, with their coordinator, due at (ns).
    retries: Vec<(u64, u32, Entry)>,
    retry: Deadline,
    network: NetworkClient<u32>,
    /// Coordinator nodes with a request in flight.
    inflight_nodes: BTreeSet<u32>,
    /// Per coordinator node, the transactions to send next, by
    /// transactional id (Kafka's `nodesToTransactions`).
    queued: BTreeMap<u32, BTreeMap<String, Entry>>,
    /// Requests in flight: correlation id -> their transactions.
    sent: BTreeMap<u64, Vec<Entry>>,
}

impl AddPartitionsToTxnManager {
    /// A manager with Kafka's retry configs.
    pub fn new(retry_backoff_ms: u64, max_timeout_ms: u64) -> Self {
        Self {
            retry_backoff_ms,
            max_timeout_ms,
            retries: Vec::new(),
            retry: Deadline::default(),
            network: NetworkClient::new(Connection::AddPartitionsToTxn),
            inflight_nodes: BTreeSet::new(),
            queued: BTreeMap::new(),
            sent: BTreeMap::new(),
        }
    }

    /// The retry backoff ended: the transactions due are queued again (as
    /// `addTxnData` queues any); returns the outcomes known at once.
    pub fn on_retry(&mut self, env: &mut Env<'_>) -> Vec<Verified> {
        let mut done = Vec::new();
        if !self.retry.fire(env.now()) {
            return done;
        }
        let now = env.now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(at, ..)| *at <= now);
        self.retries = later;
        for (_, _, entry) in due {
            done.push(Verified {
                waiter: entry.request.waiter,
                errors: BTreeMap::new(),
                retry: true,
            });
        }
        if let Some(next) = self.retries.iter().map(|(at, ..)| *at).min() {
            self.retry.arm(env, next, BrokerTimer::AddPartitionsRetry);
        }
        self.send_ready(env);
        done
    }

    /// Kafka's `addTxnData`: at most one entry per transactional id and
    /// coordinator; of two, the older epoch is answered
    /// INVALID_PRODUCER_EPOCH, and of the same epoch the one queued first
    /// NETWORK_EXCEPTION (the client is retrying).
    fn add_txn_data(&mut self, node: u32, entry: Entry, done: &mut Vec<Verified>) {
        let queue = self.queued.entry(node).or_default();
        if let Some(existing) = queue.get(&entry.request.transactional_id) {
            let old = &existing.request;
            if old.producer_epoch <= entry.request.producer_epoch {
                let error = if old.producer_epoch < entry.request.producer_epoch {
                    Errors::InvalidProducerEpoch
                } else {
                    Errors::NetworkException
                };
                done.push(all(old, error));
            } else {
                done.push(all(&entry.request, Errors::InvalidProducerEpoch));
                return;
            }
        }
        queue.insert(entry.request.transactional_id.clone(), entry);
    }

    /// Whether nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.sent.is_empty()
    }

    /// Queues `request` for its coordinator (Kafka's `verifyTransaction`
    /// and `addTxnData`) and sends what can go; returns the outcomes known
    /// at once.
    pub fn verify_transaction(
        &mut self,
        env: &mut Env<'_>,
        image: &MetadataImage,
        num_txn_partitions: u32,
        request: VerifyRequest,
    ) -> Vec<Verified> {
        let mut done = Vec::new();
        let partition = partition_for(&request.transactional_id, num_txn_partitions);
        let coordinator = image
            .partition(TRANSACTION_STATE_TOPIC, partition)
            .and_then(|p| p.leader)
            .filter(|&l| image.is_unfenced(l));
        let Some(node) = coordinator else {
            done.push(all(&request, Errors::CoordinatorNotAvailable));
            return done;
        };
        self.add_txn_data(node, Entry { request }, &mut done);
        self.send_ready(env);
        done
    }

    /// Sends one request to every coordinator with queued transactions and
    /// none in flight (Kafka's `generateRequests`).
    pub fn send_ready(&mut self, env: &mut Env<'_>) {
        let ready: Vec<u32> = self
            .queued
            .keys()
            .copied()
            .filter(|n| !self.inflight_nodes.contains(n))
            .collect();
        for node in ready {
            let Some(entries) = self.queued.remove(&node) else {
                continue;
            };
            let entries: Vec<Entry> = entries.into_values().collect();
            let transactions = entries
                .iter()
                .map(|e| AddPartitionsToTxnTransaction {
                    transactional_id: e.request.transactional_id.clone(),
                    producer_id: e.request.producer_id,
                    producer_epoch: e.request.producer_epoch,
                    verify_only: e.request.operation != TransactionSupportedOperation::AddPartition,
                    partitions: e.request.partitions.clone(),
                })
                .collect();
            let correlation_id = self.network.send(
                env,
                Address::Node(node),
                KafkaRequest::AddPartitionsToTxnForBroker { transactions },
                TXN_REQUEST_TIMEOUT_MS * MILLIS,
                node,
            );
            self.inflight_nodes.insert(node);
            self.sent.insert(correlation_id, entries);
        }
    }

    /// A coordinator answered (Kafka's `AddPartitionsToTxnHandler.onComplete`).
    pub fn on_response(
        &mut self,
        env: &mut Env<'_>,
        correlation_id: u64,
        error: Option<Errors>,
        results: &[AddPartitionsToTxnResult],
    ) -> Vec<Verified> {
        let Some(flight) = self.network.complete(correlation_id) else {
            return Vec::new();
        };
        self.inflight_nodes.remove(&flight.purpose);
        let entries = self.sent.remove(&correlation_id).unwrap_or_default();
        let now_ms = env.now_ms();
        let done = match error {
            Some(e) => entries.iter().map(|e2| all(&e2.request, e)).collect(),
            None => entries
                .iter()
                .filter(|e| {
                    // Kafka 4.0 (KAFKA-18654): an add-partition (not a
                    // verification) answered CONCURRENT_TRANSACTIONS is
                    // asked about again while the max timeout allows.
                    let adds = e.request.operation == TransactionSupportedOperation::AddPartition;
                    let concurrent = adds
                        && results.iter().any(|r| {
                            r.transactional_id == e.request.transactional_id
                                && r.partitions
                                    .iter()
                                    .any(|(_, err)| *err == Some(Errors::ConcurrentTransactions))
                        });
                    let elapsed = now_ms.saturating_sub(e.request.first_asked_ms);
                    let retry = concurrent && elapsed + self.retry_backoff_ms < self.max_timeout_ms;
                    if retry {
                        let at = env.now() + self.retry_backoff_ms * MILLIS;
                        self.retries.push((at, flight.purpose, (*e).clone()));
                        self.retry.arm(env, at, BrokerTimer::AddPartitionsRetry);
                    }
                    !retry
                })
                .map(|e| {
                    let result = results
                        .iter()
                        .find(|r| r.transactional_id == e.request.transactional_id);
                    let errors = match result {
                        Some(r) => r
                            .partitions
                            .iter()
                            .filter_map(|&(tp, err)| {
                                err.map(|err| (tp, for_producer(err, e.request.operation)))
                            })
                            .collect(),
                        None => all(&e.request, Errors::NetworkException).errors,
                    };
                    Verified {
                        waiter: e.request.waiter,
                        errors,
                        retry: false,
                    }
                })
                .collect(),
        };
        self.send_ready(env);
        done
    }

    /// Requests past their deadline fail with NETWORK_EXCEPTION.
    pub fn on_request_timeout(&mut self, env: &mut Env<'_>) -> Vec<Verified> {
        let expired = self.network.expire(env);
        let done = self.fail(expired.into_iter().map(|(c, f)| (c, f.purpose)));
        self.send_ready(env);
        done
    }

    /// The connection to `peer` broke: its requests fail with NETWORK_EXCEPTION.
    pub fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) -> Vec<Verified> {
        let lost = self.network.disconnected(peer);
        let done = self.fail(lost.into_iter().map(|(c, f)| (c, f.purpose)));
        self.send_ready(env);
        done
    }

    fn fail(&mut self, lost: impl Iterator<Item = (u64, u32)>) -> Vec<Verified> {
        let mut done = Vec::new();
        for (correlation_id, node) in lost {
            self.inflight_nodes.remove(&node);
            for e in self.sent.remove(&correlation_id).unwrap_or_default() {
                done.push(all(&e.request, Errors::NetworkException));
            }
        }
        done
    }
}

/// Every partition of `request` failed with `error`.
fn all(request: &VerifyRequest, error: Errors) -> Verified {
    Verified {
        waiter: request.waiter,
        errors: request.partitions.iter().map(|&tp| (tp, error)).collect(),
        retry: false,
    }
}

/// A coordinator's per-partition error as the producer is told it:
/// "Producers expect to handle INVALID_PRODUCER_EPOCH in this scenario",
/// and TRANSACTION_ABORTABLE only to a produce version that knows it
/// ("For backward compatibility with clients").
fn for_producer(error: Errors, operation: TransactionSupportedOperation) -> Errors {
    match error {
        Errors::ProducerFenced => Errors::InvalidProducerEpoch,
        Errors::TransactionAbortable
            if operation != TransactionSupportedOperation::GenericErrorSupported =>
        {
            Errors::InvalidTxnState
        }
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{MetadataRecord, Uuid};
    use crate::node::TestEnv;
    use crate::protocol::{KafkaMsg, Message, TopicId};

    /// An image whose every `__transaction_state` partition is led by
    /// unfenced broker 2.
    fn image() -> MetadataImage {
        let mut image = MetadataImage::default();
        let id = Uuid(7);
        let mut records = vec![
            MetadataRecord::RegisterBrokerRecord {
                broker_id: 2,
                incarnation_id: Uuid(1),
                broker_epoch: 5,
                fenced: false,
            },
            MetadataRecord::TopicRecord {
                name: TRANSACTION_STATE_TOPIC.to_owned(),
                topic_id: id,
            },
        ];
        for p in 0..4 {
            records.push(MetadataRecord::PartitionRecord {
                partition_id: p,
                topic_id: id,
                replicas: vec![2],
                isr: vec![2],
                leader: 2,
                leader_epoch: 0,
                partition_epoch: 0,
                eligible_leader_replicas: Vec::new(),
                last_known_elr: Vec::new(),
            });
        }
        for (offset, r) in records.iter().enumerate() {
            image.apply(offset as u64, r);
        }
        image
    }

    fn request(operation: TransactionSupportedOperation) -> VerifyRequest {
        VerifyRequest {
            waiter: 9,
            transactional_id: "pay".to_owned(),
            producer_id: 4,
            producer_epoch: 0,
            partitions: vec![TopicIdPartition::new(TopicId(0), 0)],
            operation,
            first_asked_ms: 0,
        }
    }

    /// Asks about `operation`'s transaction and answers the request
    /// CONCURRENT_TRANSACTIONS: the outcomes known then.
    fn answered_concurrent(operation: TransactionSupportedOperation) -> (Vec<Verified>, TestEnv) {
        let mut m = AddPartitionsToTxnManager::new(20, 100);
        let mut t = TestEnv::new(1);
        let request = request(operation);
        let tp = request.partitions[0];
        assert!(m
            .verify_transaction(&mut t.env(), &image(), 4, request)
            .is_empty());
        let correlation_id = match t.sent().as_slice() {
            [(Address::Node(2), Message::Kafka(KafkaMsg::Request { correlation_id, .. }))] => {
                *correlation_id
            }
            other => panic!("{other:?}"),
        };
        t.take();
        let results = [AddPartitionsToTxnResult {
            transactional_id: "pay".to_owned(),
            partitions: vec![(tp, Some(Errors::ConcurrentTransactions))],
        }];
        let done = m.on_response(&mut t.env(), correlation_id, None, &results);
        (done, t)
    }

    #[test]
    fn only_an_add_partition_is_retried_on_concurrent_transactions() {
        // Kafka 4.0 (KAFKA-18654): the leader asks again itself.
        let (done, mut t) = answered_concurrent(TransactionSupportedOperation::AddPartition);
        assert!(done.is_empty(), "{done:?}");
        assert!(
            t.take()
                .iter()
                .any(|e| matches!(e, crate::node::Effect::SetTimer { .. })),
            "the retry backoff is armed"
        );
        // A verification (transactions v1) goes back to the producer,
        // which retries the produce.
        let (done, _) = answered_concurrent(TransactionSupportedOperation::DefaultError);
        assert_eq!(done.len(), 1);
        assert!(!done[0].retry);
        assert_eq!(
            done[0].errors.values().collect::<Vec<_>>(),
            vec![&Errors::ConcurrentTransactions]
        );
    }
}
