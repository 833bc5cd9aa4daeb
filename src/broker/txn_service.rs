//! `TxnCoordinatorService`: the transaction coordinator on its broker
//! (Kafka's `TransactionCoordinator` with its `TransactionStateManager` and
//! `TransactionMarkerChannelManager`, as `KafkaApis` drives them):
//! FindCoordinator for transactional ids from the metadata image, the
//! transactional requests handed to the sans-IO [`TransactionCoordinator`],
//! its state changes appended to `__transaction_state` through the
//! ReplicaManager as the partition's leader with acks=all, its markers sent
//! as WriteTxnMarkers to the leaders of the transaction's partitions, and
//! expired transactions aborted every
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
//!
//! A new leader of a `__transaction_state` partition answers
//! COORDINATOR_LOAD_IN_PROGRESS until its high watermark reaches the start
//! of its leader epoch (as the group coordinator here does), then loads the
//! partition's transactional ids under the leader epoch as coordinator
//! epoch, and sends again the markers of transactions it finds prepared.
//!
//! A broker whose scenario has no transactional producer has no
//! `__transaction_state` topic: the service then never arms a timer nor
//! sends a request, so transactions cost such runs nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim::MILLIS;

use super::config::BrokerConfig;
use super::group_service::coordinator_of;
use super::purgatory::ReplyTo;
use super::replica_manager::{reply, ReplicaEvent, ReplicaManager};
use super::BrokerTimer;
use crate::errors::Errors;
use crate::group::offsets_topic::{partition_for as offsets_partition_for, CONSUMER_OFFSETS};
use crate::log::{ControlRecordType, Record};
use crate::metadata::MetadataImage;
use crate::node::{Address, Deadline, Env, NetworkClient};
use crate::protocol::{
    AddPartitionsToTxnResult, AddPartitionsToTxnTransaction, Connection, KafkaRequest,
    KafkaResponse, TopicId, TopicIdPartition, Topics, TxnMarkerResult, END_TXN_VERSION_TV2,
};
use crate::txn::coordinator::{
    TransactionCoordinator, TxnCoordinatorConfig, TxnOutput, TxnResponse,
};
use crate::txn::log::{self as txn_log, partition_for, TRANSACTION_STATE_TOPIC};
use crate::txn::marker_channel::{MarkersOutcome, TxnMarkerChannelManager};
use crate::txn::TransactionVersion;

/// Kafka's broker `request.timeout.ms` default: how long a transaction
/// log append waits for the ISR, and a WriteTxnMarkers request for its answer.
pub const TXN_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Markers that could not be sent (no leader known, or the leader answered
/// an error) are tried again this long after (Kafka's `retry.backoff.ms`).
const MARKER_RETRY_BACKOFF_MS: u64 = 100;

/// Who waits for one of the coordinator's answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnReply {
    /// A client's request.
    Client(ReplyTo),
    /// One transaction of a partition leader's AddPartitionsToTxn v4+
    /// batch, answered together with the batch's others (Kafka's
    /// `addResultAndMaybeSendResponse`).
    Broker {
        /// The batch.
        batch: u64,
        /// The transaction's place in it.
        index: usize,
    },
}

/// An AddPartitionsToTxn v4+ batch whose transactions are not all answered.
#[derive(Debug)]
struct BrokerBatch {
    reply_to: ReplyTo,
    /// Per transaction of the request: its answer, once it came.
    results: Vec<Option<AddPartitionsToTxnResult>>,
    /// Per transaction: its id and partitions.
    asked: Vec<(String, Vec<TopicIdPartition>)>,
}

/// The broker's transaction coordinator and what it waits for.
#[derive(Debug)]
pub struct TxnCoordinatorService {
    coordinator: TransactionCoordinator<TxnReply>,
    /// AddPartitionsToTxn v4+ batches waiting for some of their answers.
    broker_batches: BTreeMap<u64, BrokerBatch>,
    next_batch: u64,
    markers: TxnMarkerChannelManager,
    /// WriteTxnMarkers requests in flight, by marker request id.
    network: NetworkClient<u64>,
    num_partitions: u32,
    /// `__transaction_state` in the run's topic table (None: no
    /// transactional producer in the run).
    txn_topic: Option<TopicId>,
    abort_interval_ms: u64,
    abort_check: Deadline,
    marker_retry: Deadline,
    /// Test-only bug: aborted transactions get COMMIT markers.
    commit_aborted: bool,
    /// Test-only bug: markers are never sent.
    drop_markers: bool,
    /// `__consumer_offsets` in the run's topic table, and
    /// `offsets.topic.num.partitions`: AddOffsetsToTxn adds a group's
    /// offsets partition to a transaction.
    offsets_topic: Option<TopicId>,
    offsets_partitions: u32,
    /// AddOffsetsToTxn requests waiting for their answer (the coordinator
    /// handles them as the AddPartitionsToTxn of the offsets partition).
    add_offsets: BTreeSet<ReplyTo>,
    /// KAFKA-9911 (2.7): a fenced producer epoch is PRODUCER_FENCED to
    /// clients; off (2.6), INVALID_PRODUCER_EPOCH.
    producer_fenced_error: bool,
}

impl TxnCoordinatorService {
    /// The coordinator of the broker's `__transaction_state` partitions.
    pub fn new(topics: &Topics, config: &BrokerConfig) -> Self {
        let num_partitions = config.transaction_state_log_num_partitions;
        Self {
            coordinator: TransactionCoordinator::new(TxnCoordinatorConfig {
                num_partitions,
                transaction_max_timeout_ms: config.transaction_max_timeout_ms,
                failed_epoch_fence_remembered: config.failed_epoch_fence_remembered,
                strict_end_txn_epoch: config.strict_end_txn_epoch,
                transactional_epoch_bump: config.transactional_epoch_bump,
            }),
            broker_batches: BTreeMap::new(),
            next_batch: 0,
            markers: TxnMarkerChannelManager::default(),
            network: NetworkClient::new(Connection::TransactionMarker),
            num_partitions,
            txn_topic: topics.id(TRANSACTION_STATE_TOPIC),
            abort_interval_ms: config.transaction_abort_timed_out_transaction_cleanup_interval_ms,
            abort_check: Deadline::default(),
            marker_retry: Deadline::default(),
            commit_aborted: config.commit_aborted_transactions,
            drop_markers: config.drop_txn_markers,
            offsets_topic: topics.id(CONSUMER_OFFSETS),
            offsets_partitions: config.offsets_topic_num_partitions,
            add_offsets: BTreeSet::new(),
            producer_fenced_error: config.producer_fenced_error,
        }
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &TransactionCoordinator<TxnReply> {
        &self.coordinator
    }

    /// Whether `tp` is a `__transaction_state` partition.
    pub fn owns_topic(&self, tp: &TopicIdPartition) -> bool {
        Some(tp.topic_id) == self.txn_topic
    }

    /// FindCoordinator for a transactional id: the leader of its
    /// `__transaction_state` partition in the metadata image.
    pub fn find_coordinator(
        &self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        key: &str,
        image: &MetadataImage,
    ) {
        let partition = partition_for(key, self.num_partitions);
        let response = coordinator_of(image, TRANSACTION_STATE_TOPIC, partition);
        reply(env, reply_to, response);
    }

    /// A transactional request: InitProducerId with a transactional id,
    /// AddPartitionsToTxn (a client's, or a partition leader's v4+ batch),
    /// AddOffsetsToTxn or EndTxn (v5: transactions v2) (others are not the
    /// coordinator's and are dropped). `allocate` hands out a new producer
    /// id (the broker's ProducerIdManager).
    pub fn handle(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        reply_to: ReplyTo,
        request: KafkaRequest,
        allocate: &mut dyn FnMut() -> Result<i64, Errors>,
    ) {
        let now_ms = env.now_ms() as i64;
        let mut out = Vec::new();
        let client = TxnReply::Client(reply_to);
        match request {
            KafkaRequest::InitProducerId {
                transactional_id: Some(transactional_id),
                transaction_timeout_ms,
                producer_id_and_epoch,
            } => self.coordinator.handle_init_producer_id(
                client,
                &transactional_id,
                transaction_timeout_ms,
                producer_id_and_epoch,
                now_ms,
                allocate,
                &mut out,
            ),
            KafkaRequest::AddPartitionsToTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
            } => {
                let partitions = partitions.into_iter().collect();
                self.coordinator.handle_add_partitions(
                    client,
                    &transactional_id,
                    producer_id,
                    producer_epoch,
                    &partitions,
                    TransactionVersion(1),
                    now_ms,
                    &mut out,
                );
            }
            KafkaRequest::AddOffsetsToTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                group_id,
            } => {
                // Kafka's handleAddOffsetsToTxnRequest: the group's offsets
                // partition joins the transaction like any other partition,
                // so that the markers reach the group coordinator.
                let Some(topic) = self.offsets_topic else {
                    let error = Some(Errors::UnknownTopicOrPartition);
                    reply(env, reply_to, KafkaResponse::AddOffsetsToTxn { error });
                    return;
                };
                let partition = offsets_partition_for(&group_id, self.offsets_partitions);
                let partitions = [TopicIdPartition::new(topic, partition)].into();
                self.add_offsets.insert(reply_to);
                self.coordinator.handle_add_partitions(
                    client,
                    &transactional_id,
                    producer_id,
                    producer_epoch,
                    &partitions,
                    TransactionVersion(1),
                    now_ms,
                    &mut out,
                );
            }
            KafkaRequest::EndTxn {
                version,
                transactional_id,
                producer_id,
                producer_epoch,
                committed,
            } if version >= END_TXN_VERSION_TV2 => self.coordinator.handle_end_txn_v2(
                client,
                &transactional_id,
                producer_id,
                producer_epoch,
                committed,
                now_ms,
                allocate,
                &mut out,
            ),
            KafkaRequest::EndTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                committed,
                ..
            } => self.coordinator.handle_end_txn(
                client,
                &transactional_id,
                producer_id,
                producer_epoch,
                committed,
                now_ms,
                &mut out,
            ),
            KafkaRequest::AddPartitionsToTxnForBroker { transactions } => {
                self.handle_broker_batch(env, reply_to, transactions, now_ms, &mut out)
            }
            _ => return,
        }
        self.apply(env, replicas, out);
    }

    /// A partition leader's AddPartitionsToTxn v4+ (Kafka's
    /// `handleAddPartitionsToTxnRequest` for versions 4 and up): each
    /// transaction verified (`verify_only`, answered at once) or its
    /// partitions added (answered once written); the response goes when
    /// every transaction has its answer.
    fn handle_broker_batch(
        &mut self,
        env: &mut Env<'_>,
        reply_to: ReplyTo,
        transactions: Vec<AddPartitionsToTxnTransaction>,
        now_ms: i64,
        out: &mut Vec<TxnOutput<TxnReply>>,
    ) {
        self.next_batch += 1;
        let batch = self.next_batch;
        self.broker_batches.insert(
            batch,
            BrokerBatch {
                reply_to,
                results: vec![None; transactions.len()],
                asked: transactions
                    .iter()
                    .map(|t| (t.transactional_id.clone(), t.partitions.clone()))
                    .collect(),
            },
        );
        for (index, t) in transactions.into_iter().enumerate() {
            let reply = TxnReply::Broker { batch, index };
            if t.verify_only {
                let partitions = self.coordinator.handle_verify_partitions(
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    &t.partitions,
                );
                self.record_broker_answer(batch, index, partitions);
            } else {
                let partitions = t.partitions.iter().copied().collect();
                self.coordinator.handle_add_partitions_for_broker(
                    reply,
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    &partitions,
                    now_ms,
                    out,
                );
            }
        }
        self.maybe_finish_batch(env, batch);
    }

    /// The coordinator answered the addition of one transaction of a
    /// broker batch (Kafka's `errorResponseForTransaction`: one error for
    /// all its partitions); the batch's response goes once all are answered.
    fn on_broker_answer(
        &mut self,
        env: &mut Env<'_>,
        batch: u64,
        index: usize,
        response: TxnResponse,
    ) {
        let TxnResponse::AddPartitionsToTxn { error } = response else {
            return;
        };
        let Some((_, asked)) = self
            .broker_batches
            .get(&batch)
            .and_then(|b| b.asked.get(index))
        else {
            return;
        };
        let partitions = asked.iter().map(|&tp| (tp, error)).collect();
        self.record_broker_answer(batch, index, partitions);
        self.maybe_finish_batch(env, batch);
    }

    fn record_broker_answer(
        &mut self,
        batch: u64,
        index: usize,
        partitions: Vec<(TopicIdPartition, Option<Errors>)>,
    ) {
        let Some(b) = self.broker_batches.get_mut(&batch) else {
            return;
        };
        let Some((transactional_id, _)) = b.asked.get(index) else {
            return;
        };
        b.results[index] = Some(AddPartitionsToTxnResult {
            transactional_id: transactional_id.clone(),
            partitions,
        });
    }

    /// Sends the batch's response if every transaction of it is answered.
    fn maybe_finish_batch(&mut self, env: &mut Env<'_>, batch: u64) {
        let Some(b) = self.broker_batches.get(&batch) else {
            return;
        };
        if b.results.iter().all(Option::is_some) {
            let b = self.broker_batches.remove(&batch).expect("looked up above");
            let results = b.results.into_iter().flatten().collect();
            reply(
                env,
                b.reply_to,
                KafkaResponse::AddPartitionsToTxnForBroker {
                    error: None,
                    results,
                },
            );
        }
    }

    /// Acts on what the replica manager reports about a `__transaction_state`
    /// partition or the coordinator's appends.
    pub fn on_replica_event(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        event: ReplicaEvent,
    ) {
        match event {
            ReplicaEvent::BecameLeader(tp) => {
                if !self.coordinator.owns_partition(tp.partition) {
                    self.coordinator.start_loading(tp.partition);
                    self.maybe_load(env, replicas, &tp);
                }
            }
            ReplicaEvent::HighWatermarkMoved(tp) => self.maybe_load(env, replicas, &tp),
            ReplicaEvent::StoppedLeading(tp) => {
                let mut out = Vec::new();
                self.coordinator.unload(tp.partition, &mut out);
                self.markers
                    .remove_markers_for_txn_topic_partition(tp.partition, self.num_partitions);
                self.apply(env, replicas, out);
            }
            ReplicaEvent::InternalAppendDone { id, error, .. } => {
                let mut out = Vec::new();
                self.coordinator
                    .on_append_done(id, error, env.now_ms() as i64, &mut out);
                self.apply(env, replicas, out);
            }
            // Markers reaching offsets partitions are the group coordinator's.
            ReplicaEvent::TxnCompleted { .. } => {}
        }
    }

    /// A loading partition whose high watermark reached its epoch start
    /// loads its transactional ids.
    fn maybe_load(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        tp: &TopicIdPartition,
    ) {
        if !self.coordinator.is_loading(tp.partition) || !replicas.committed_since_epoch_start(tp) {
            return;
        }
        let Some(coordinator_epoch) = replicas.leader_epoch(tp) else {
            return;
        };
        let batches = replicas.batches(tp);
        let records: Vec<Record> = batches.iter().flat_map(|b| b.records()).collect();
        let loaded = txn_log::load(&records, replicas.topics());
        let mut out = Vec::new();
        self.coordinator
            .load(tp.partition, coordinator_epoch, loaded, &mut out);
        self.apply(env, replicas, out);
        let at = env.now() + self.abort_interval_ms * MILLIS;
        if self.abort_check.armed().is_none() {
            self.abort_check.arm(env, at, BrokerTimer::TxnAbortCheck);
        }
    }

    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms` passed:
    /// transactions open longer than their timeout are aborted.
    pub fn on_abort_check(&mut self, env: &mut Env<'_>, replicas: &mut ReplicaManager) {
        if !self.abort_check.fire(env.now()) {
            return;
        }
        let mut out = Vec::new();
        self.coordinator
            .abort_timed_out(env.now_ms() as i64, &mut out);
        self.apply(env, replicas, out);
        if self.coordinator.leads_any() {
            let at = env.now() + self.abort_interval_ms * MILLIS;
            self.abort_check.arm(env, at, BrokerTimer::TxnAbortCheck);
        }
    }

    /// The marker retry backoff ended: queued markers go to their leaders.
    pub fn on_marker_retry(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        image: &MetadataImage,
    ) {
        if self.marker_retry.fire(env.now()) {
            // Completions whose log append failed are written again.
            let mut out = Vec::new();
            self.coordinator
                .retry_completions(env.now_ms() as i64, &mut out);
            self.apply(env, replicas, out);
            self.send_markers(env, image, replicas.topics());
        }
    }

    /// A WriteTxnMarkers answer.
    pub fn on_markers_response(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        correlation_id: u64,
        results: &[TxnMarkerResult],
    ) {
        let Some(flight) = self.network.complete(correlation_id) else {
            return;
        };
        let outcomes = self.markers.on_response(flight.purpose, results);
        self.on_outcomes(env, replicas, outcomes);
        self.schedule_marker_retry(env);
    }

    /// WriteTxnMarkers requests unanswered in time are sent again.
    pub fn on_request_timeout(&mut self, env: &mut Env<'_>) {
        for (_, flight) in self.network.expire(env) {
            self.markers.on_failure(flight.purpose);
        }
        self.schedule_marker_retry(env);
    }

    /// The connection to `peer` broke: its marker requests are sent again.
    pub fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        for (_, flight) in self.network.disconnected(peer) {
            self.markers.on_failure(flight.purpose);
        }
        self.schedule_marker_retry(env);
    }

    fn on_outcomes(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        outcomes: Vec<MarkersOutcome>,
    ) {
        for outcome in outcomes {
            if let MarkersOutcome::Written(id) = outcome {
                let mut out = Vec::new();
                self.coordinator
                    .on_markers_written(&id, env.now_ms() as i64, &mut out);
                self.apply(env, replicas, out);
            }
        }
    }

    /// Carries out what the coordinator asked for: replies, appends to its
    /// partitions (an append that cannot start fails at once), markers.
    fn apply(
        &mut self,
        env: &mut Env<'_>,
        replicas: &mut ReplicaManager,
        out: Vec<TxnOutput<TxnReply>>,
    ) {
        let mut queue = VecDeque::from(out);
        let mut written = Vec::new();
        while let Some(o) = queue.pop_front() {
            match o {
                TxnOutput::Reply(TxnReply::Client(to), response) => {
                    let response = if self.producer_fenced_error {
                        response
                    } else {
                        before_kafka_9911(response)
                    };
                    let response = match response {
                        TxnResponse::AddPartitionsToTxn { error }
                            if self.add_offsets.remove(&to) =>
                        {
                            KafkaResponse::AddOffsetsToTxn { error }
                        }
                        other => to_kafka(other),
                    };
                    reply(env, to, response)
                }
                TxnOutput::Reply(TxnReply::Broker { batch, index }, response) => {
                    self.on_broker_answer(env, batch, index, response)
                }
                TxnOutput::Append {
                    id,
                    partition,
                    transactional_id,
                    transit,
                } => {
                    let appended = match self.txn_topic {
                        Some(topic) => {
                            let tp = TopicIdPartition::new(topic, partition);
                            let record = txn_log::to_record(
                                &transactional_id,
                                &transit,
                                replicas.topics(),
                                env.now_ms(),
                            );
                            replicas.append_internal(
                                env,
                                id,
                                &tp,
                                vec![record],
                                TXN_REQUEST_TIMEOUT_MS,
                            )
                        }
                        None => Some(Errors::UnknownTopicOrPartition),
                    };
                    if let Some(error) = appended {
                        let mut more = Vec::new();
                        self.coordinator.on_append_done(
                            id,
                            Some(error),
                            env.now_ms() as i64,
                            &mut more,
                        );
                        queue.extend(more);
                    }
                }
                TxnOutput::WriteMarkers {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    result,
                    partitions,
                    coordinator_epoch,
                } if !self.drop_markers => {
                    let result = if self.commit_aborted {
                        ControlRecordType::Commit
                    } else {
                        result
                    };
                    let done = self.markers.add_markers(
                        &transactional_id,
                        producer_id,
                        producer_epoch,
                        result,
                        &partitions,
                        coordinator_epoch,
                    );
                    if let Some(MarkersOutcome::Written(id)) = done {
                        written.push(id);
                    }
                    // Sent from the marker timer, at once: sending needs
                    // the metadata image, which the broker hands only to it.
                    self.marker_retry
                        .arm(env, env.now(), BrokerTimer::TxnMarkers);
                }
                TxnOutput::WriteMarkers { .. } => {}
            }
            for id in std::mem::take(&mut written) {
                let mut more = Vec::new();
                self.coordinator
                    .on_markers_written(&id, env.now_ms() as i64, &mut more);
                queue.extend(more);
            }
        }
        self.schedule_marker_retry(env);
    }

    /// Sends every queued marker whose partition has a leader.
    fn send_markers(&mut self, env: &mut Env<'_>, image: &MetadataImage, topics: &Topics) {
        let leader_of = |tp: &TopicIdPartition| {
            let named = topics.named(*tp);
            image.partition(&named.topic, named.partition)?.leader
        };
        for request in self.markers.drain(&leader_of) {
            self.network.send(
                env,
                Address::Node(request.broker),
                KafkaRequest::WriteTxnMarkers {
                    markers: request.markers,
                },
                TXN_REQUEST_TIMEOUT_MS * MILLIS,
                request.id,
            );
        }
        self.schedule_marker_retry(env);
    }

    /// Markers still queued are tried again after the backoff.
    fn schedule_marker_retry(&mut self, env: &mut Env<'_>) {
        let pending = self.markers.has_queued() || self.coordinator.has_completions_to_retry();
        if pending && self.marker_retry.armed().is_none() {
            let at = env.now() + MARKER_RETRY_BACKOFF_MS * MILLIS;
            self.marker_retry.arm(env, at, BrokerTimer::TxnMarkers);
        }
    }
}

/// Kafka 2.6's answer (before KAFKA-9911): its coordinator had no
/// PRODUCER_FENCED and answered a fenced producer epoch
/// INVALID_PRODUCER_EPOCH (2.6.3 `TransactionCoordinator`,
/// `TransactionMetadata.prepareIncrementProducerEpoch`).
fn before_kafka_9911(response: TxnResponse) -> TxnResponse {
    let old = |e: Option<Errors>| match e {
        Some(Errors::ProducerFenced) => Some(Errors::InvalidProducerEpoch),
        other => other,
    };
    match response {
        TxnResponse::InitProducerId {
            error,
            producer_id,
            producer_epoch,
        } => TxnResponse::InitProducerId {
            error: old(error),
            producer_id,
            producer_epoch,
        },
        TxnResponse::AddPartitionsToTxn { error } => {
            TxnResponse::AddPartitionsToTxn { error: old(error) }
        }
        TxnResponse::EndTxn {
            error,
            producer_id,
            producer_epoch,
        } => TxnResponse::EndTxn {
            error: old(error),
            producer_id,
            producer_epoch,
        },
    }
}

/// The Kafka response of a coordinator answer.
fn to_kafka(response: TxnResponse) -> KafkaResponse {
    match response {
        TxnResponse::InitProducerId {
            error,
            producer_id,
            producer_epoch,
        } => KafkaResponse::InitProducerId {
            error,
            producer_id,
            producer_epoch,
        },
        TxnResponse::AddPartitionsToTxn { error } => KafkaResponse::AddPartitionsToTxn { error },
        TxnResponse::EndTxn {
            error,
            producer_id,
            producer_epoch,
        } => KafkaResponse::EndTxn {
            error,
            producer_id,
            producer_epoch,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KAFKA-9911 (2.7): PRODUCER_FENCED to a fenced producer; 2.6's
    /// coordinator answered INVALID_PRODUCER_EPOCH, and every other answer
    /// is the same.
    #[test]
    fn before_kafka_9911_a_fenced_producer_is_answered_invalid_producer_epoch() {
        let fenced = Some(Errors::ProducerFenced);
        let old = Some(Errors::InvalidProducerEpoch);
        let end = |error| TxnResponse::EndTxn {
            error,
            producer_id: 3,
            producer_epoch: 4,
        };
        assert_eq!(before_kafka_9911(end(fenced)), end(old));
        let init = |error| TxnResponse::InitProducerId {
            error,
            producer_id: -1,
            producer_epoch: -1,
        };
        assert_eq!(before_kafka_9911(init(fenced)), init(old));
        let add = |error| TxnResponse::AddPartitionsToTxn { error };
        assert_eq!(before_kafka_9911(add(fenced)), add(old));
        let busy = Some(Errors::ConcurrentTransactions);
        assert_eq!(before_kafka_9911(add(busy)), add(busy));
        assert_eq!(before_kafka_9911(end(None)), end(None));
    }
}
