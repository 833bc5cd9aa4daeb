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

use std::collections::{BTreeSet, VecDeque};

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
    KafkaRequest, KafkaResponse, TopicId, TopicIdPartition, Topics, TxnMarkerResult,
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

/// The broker's transaction coordinator and what it waits for.
#[derive(Debug)]
pub struct TxnCoordinatorService {
    coordinator: TransactionCoordinator<ReplyTo>,
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
}

impl TxnCoordinatorService {
    /// The coordinator of the broker's `__transaction_state` partitions.
    pub fn new(topics: &Topics, config: &BrokerConfig) -> Self {
        let num_partitions = config.transaction_state_log_num_partitions;
        Self {
            coordinator: TransactionCoordinator::new(TxnCoordinatorConfig {
                num_partitions,
                transaction_max_timeout_ms: config.transaction_max_timeout_ms,
            }),
            markers: TxnMarkerChannelManager::default(),
            network: NetworkClient::default(),
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
        }
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &TransactionCoordinator<ReplyTo> {
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
    /// AddPartitionsToTxn, AddOffsetsToTxn or EndTxn (others are not the coordinator's and
    /// are dropped). `allocate` hands out a new producer id (the broker's
    /// ProducerIdManager).
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
        match request {
            KafkaRequest::InitProducerId {
                transactional_id: Some(transactional_id),
                transaction_timeout_ms,
                producer_id_and_epoch,
            } => self.coordinator.handle_init_producer_id(
                reply_to,
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
                    reply_to,
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
                    reply_to,
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
                transactional_id,
                producer_id,
                producer_epoch,
                committed,
            } => self.coordinator.handle_end_txn(
                reply_to,
                &transactional_id,
                producer_id,
                producer_epoch,
                committed,
                now_ms,
                &mut out,
            ),
            _ => return,
        }
        self.apply(env, replicas, out);
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
        out: Vec<TxnOutput<ReplyTo>>,
    ) {
        let mut queue = VecDeque::from(out);
        let mut written = Vec::new();
        while let Some(o) = queue.pop_front() {
            match o {
                TxnOutput::Reply(to, response) => {
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
        TxnResponse::EndTxn { error } => KafkaResponse::EndTxn { error },
    }
}
