//! The producer client (Kafka's KafkaProducer with its RecordAccumulator and
//! Sender): the workload's records are partitioned (murmur2 for keys, the
//! uniform sticky partitioner for null keys), batched by batch.size and
//! linger.ms, sent to partition leaders with at most
//! max.in.flight.requests.per.connection requests per broker, retried until
//! delivery.timeout.ms, and, with enable.idempotence, numbered per partition
//! under a producer id from InitProducerId. With a `transactional.id` it
//! sends in transactions through its TransactionManager
//! (`transaction_manager.rs`): each partition added before its first batch
//! of a transaction, batches marked transactional, the transaction ended
//! with EndTxn once they are answered, a fenced instance replaced by a new
//! one. Every send and its outcome is recorded for the checkers.

use std::collections::BTreeMap;

use rand::Rng;
use sim::{Nanos, MILLIS};

use super::accumulator::{
    batch_size_upper_bound, AccumulatorConfig, PendingRecord, ProducerBatch, RecordAccumulator,
    RECORD_BATCH_OVERHEAD,
};
use super::metadata_age::MetadataAge;
use super::partitioner::{
    murmur2, to_positive, PartitionerKind, RoundRobinPartitioner, StickyPartitionCache,
    StickyPartitioner,
};
use super::transaction_manager::{
    TransactionManager, TxnClientState, TxnEnd, TxnOffsets, TxnRequestKind, TxnStep,
};
use super::{set_record_id, ProducerObs, SentRecord, TxnOutcome};
use crate::errors::Errors;
use crate::group::coordinator::CoordinatorResponse;
use crate::log::{Compression, CompressionType};
use crate::metadata::Uuid;
use crate::node::{Address, Deadline, Env, Input, KafkaNodeId, NetworkClient, Timer};
use crate::protocol::{
    Connection, KafkaMsg, KafkaRequest, KafkaResponse, Message, PartitionMetadata, ProduceData,
    ProduceResult, TopicId, TopicIdPartition, PRODUCE_VERSION_TV1, PRODUCE_VERSION_TV2,
};

/// The producer's configs, with Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `acks`: 0, 1 or -1 (all).
    pub acks: i16,
    /// `linger.ms`.
    pub linger_ms: u64,
    /// `batch.size`.
    pub batch_size: usize,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `retries`.
    pub retries: u32,
    /// `delivery.timeout.ms`.
    pub delivery_timeout_ms: u64,
    /// KIP-91 (Kafka 2.1): `delivery.timeout.ms` bounds a send end to end.
    /// Off (`[protocol] delivery_timeout_bounds_sends = false`, Kafka 2.0
    /// and older): a queued batch expires by `request.timeout.ms` (Kafka
    /// 2.0's `ProducerBatch.maybeExpire`), and a failed send is retried
    /// while `retries` allows, however long it took.
    pub delivery_timeout_bounds_sends: bool,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `metadata.max.age.ms`: metadata older than this is refreshed (how a
    /// producer learns of partitions added to its topic).
    pub metadata_max_age_ms: u64,
    /// `enable.idempotence` (as Kafka 3.x resolves it).
    pub idempotence: bool,
    /// `compression.type` with its `compression.*.level`.
    pub compression: Compression,
    /// How records without a key are partitioned (the release's
    /// partitioner, `[protocol] partitioner`).
    pub partitioner: PartitionerKind,
}

/// What the producer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerWorkload {
    /// The topic.
    pub topic: String,
    /// That topic's id in the run's topic table.
    pub topic_id: TopicId,
    /// Records per period.
    pub records: u64,
    /// The period, in nanoseconds.
    pub per_ns: u64,
    /// Distinct keys (0: null keys).
    pub keys: u64,
    /// Bytes of each value.
    pub value_size: usize,
    /// Share of keyed sends that are tombstones (a null value, the record
    /// id in a `ksim.id` header), in parts per million.
    pub tombstones_ppm: u32,
    /// No new records from this time on.
    pub stop_at_ns: Nanos,
}

/// A transactional producer's workload: `transactional.id` set, and the
/// scenario's `transaction = { records, abort }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionWorkload {
    /// `transactional.id`.
    pub transactional_id: String,
    /// `transaction.timeout.ms`.
    pub transaction_timeout_ms: u64,
    /// Records sent per transaction before it is ended.
    pub records: u64,
    /// Share of transactions the application aborts, in parts per million.
    pub abort_ppm: u32,
    /// The cluster's finalized `transaction.version` feature, as the
    /// brokers' ApiVersions responses report it (2: KIP-890 part 2).
    pub finalized_transaction_version: u8,
    /// Whether the transaction coordinator's ApiVersions offer
    /// InitProducerId v3 (KIP-360, Kafka 2.5; `[protocol]
    /// transactional_epoch_bump`): Kafka's `coordinatorSupportsBumpingEpoch`.
    pub coordinator_supports_bumping_epoch: bool,
}

/// What a producer is set up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSpec {
    /// Its index (its records' ids start at `index << 40`).
    pub index: u32,
    /// Its configs.
    pub config: ProducerConfig,
    /// What it sends.
    pub workload: ProducerWorkload,
    /// `bootstrap.servers`: the brokers' Kafka node ids.
    pub brokers: Vec<KafkaNodeId>,
    /// Transactions, for a producer with a `transactional.id`.
    pub transaction: Option<TransactionWorkload>,
}

/// The producer's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ProducerTimer {
    /// Records are due, or a batch may be ready (linger, backoff, expiry).
    Wake,
    /// Refresh metadata.
    Metadata,
    /// The metadata may have reached `metadata.max.age.ms`.
    MetadataMaxAge,
}

/// What a request in flight was for.
#[derive(Clone, Debug)]
enum Pending {
    Metadata,
    InitProducerId,
    Produce(Vec<ProducerBatch>),
    Txn,
}

/// The record generator's clock: records are due at a steady rate from
/// boot, and each joins the accumulator at the first millisecond tick by
/// which it is due (what an application calling `send()` from a 1 ms
/// loop does), stamped with that tick.
#[derive(Clone, Copy, Debug)]
struct Workload {
    started_ns: Nanos,
    records: u64,
    per_ns: u64,
}

impl Workload {
    /// The tick at which record `i` (from 0, this incarnation) is generated.
    fn tick_of(&self, i: u64) -> Nanos {
        let per = self.per_ns.max(1);
        let rate = MILLIS.checked_mul(self.records.max(1));
        // In u64 arithmetic while nothing overflows (the same quotient,
        // without a 128-bit division), else in u128.
        let ticks = match ((i + 1).checked_mul(per), rate) {
            (Some(n), Some(rate)) => n.div_ceil(rate),
            _ => {
                let rate = u128::from(MILLIS) * u128::from(self.records.max(1));
                let ticks = (u128::from(i + 1) * u128::from(per)).div_ceil(rate);
                u64::try_from(ticks).unwrap_or(u64::MAX)
            }
        };
        self.started_ns.saturating_add(ticks.saturating_mul(MILLIS))
    }

    /// How many records are due by the last tick at or before `now`.
    fn due_by(&self, now: Nanos) -> u64 {
        let ticks = now.saturating_sub(self.started_ns) / MILLIS;
        let per = self.per_ns.max(1);
        // As in `tick_of`: u64 arithmetic unless it would overflow.
        match ticks
            .checked_mul(MILLIS)
            .and_then(|ns| ns.checked_mul(self.records))
        {
            Some(n) => n / per,
            None => {
                let due = u128::from(ticks) * u128::from(MILLIS) * u128::from(self.records)
                    / u128::from(per);
                u64::try_from(due).unwrap_or(u64::MAX)
            }
        }
    }
}

/// A producer process.
#[derive(Debug)]
pub struct Producer {
    index: u32,
    config: ProducerConfig,
    workload: ProducerWorkload,
    brokers: Vec<KafkaNodeId>,
    clock: Workload,
    accumulator: RecordAccumulator,
    sticky: StickyPartitioner,
    /// Before 2.4: the round-robin counter.
    round_robin: RoundRobinPartitioner,
    /// 2.4 to 3.2: KIP-480's sticky partition.
    sticky_cache: StickyPartitionCache,
    partitions: Vec<PartitionMetadata>,
    network: NetworkClient<Pending>,
    metadata_in_flight: bool,
    /// `metadata.max.age.ms`: when the next refresh is due.
    metadata_age: MetadataAge,
    init_in_flight: bool,
    init_not_before: Nanos,
    producer_id: i64,
    producer_epoch: i16,
    sequences: BTreeMap<TopicIdPartition, i32>,
    last_acked_sequence: BTreeMap<TopicIdPartition, i32>,
    generated: u64,
    seq_base: u64,
    wake: Deadline,
    /// Scratch space for the record being generated.
    key: Vec<u8>,
    value: Vec<u8>,
    /// The most bytes one generated record takes in a batch.
    record_max: usize,
    /// Per key number: its positive murmur2 hash (u32::MAX: not yet known).
    key_hashes: Vec<u32>,
    /// Per key number below [`KEY_NAMES_KEPT`]: its name, `key-{k}`
    /// (empty: not yet written); a key above is written into `key` each time.
    key_names: Vec<Vec<u8>>,
    /// Scratch space for the partitions ready to send.
    ready: Vec<TopicIdPartition>,
    /// `send_ready`'s batches by leader, kept for its allocation.
    per_broker: Vec<(u32, Vec<ProducerBatch>)>,
    /// Scratch for `schedule_wake`: by partition number, whether its
    /// leader has max.in.flight produce requests in flight.
    busy: Vec<bool>,
    /// A transactional producer's transactions.
    txn: Option<Transactions>,
    /// An application sends its records (a pipeline member), rather than
    /// the workload's generator.
    driven: bool,
    /// Records whose send failed for good or ended unknown, in all.
    send_failures: u64,
}

/// A transactional producer's state beside its TransactionManager: the
/// application's progress through the workload's transactions.
#[derive(Debug)]
struct Transactions {
    manager: TransactionManager,
    workload: TransactionWorkload,
    /// Records sent in the open transaction.
    ids: Vec<u64>,
    /// Whether EndTxn(commit) was sent for it (a fence then leaves its
    /// outcome unknown).
    commit_sent: bool,
    /// No coordinator request before this time (retry backoff).
    not_before: Nanos,
    /// Past the workload's end: its last transaction began.
    last_started: bool,
    /// How many transactions ended, and how the last one did (for an
    /// application that drives the producer).
    ended: u64,
    last_outcome: Option<TxnOutcome>,
}

impl Producer {
    /// Boots. A restarted producer is a new process: what it had not sent is
    /// gone with the old one, and its record numbers go on from 1000 per
    /// millisecond of boot time (above any rate's), so ids stay unique.
    pub fn boot(spec: &ProducerSpec, env: &mut Env<'_>) -> Self {
        let mut producer = Self::build(spec, env);
        producer.refresh_metadata(env);
        producer
    }

    /// The producer as it boots, before it sends anything.
    fn build(spec: &ProducerSpec, env: &mut Env<'_>) -> Self {
        let config = spec.config;
        let accumulator = RecordAccumulator::new(AccumulatorConfig {
            batch_size: config.batch_size,
            linger_ms: config.linger_ms,
            max_in_flight: config.max_in_flight,
            delivery_timeout_ms: config.delivery_timeout_ms,
            request_timeout_expiry_ms: (!config.delivery_timeout_bounds_sends)
                .then_some(config.request_timeout_ms),
            retry_backoff_ms: config.retry_backoff_ms,
            idempotence: config.idempotence,
            compression: config.compression,
        });
        Self {
            index: spec.index,
            config,
            workload: spec.workload.clone(),
            brokers: spec.brokers.clone(),
            clock: Workload {
                started_ns: env.now(),
                records: spec.workload.records,
                per_ns: spec.workload.per_ns,
            },
            accumulator,
            sticky: StickyPartitioner::new(),
            round_robin: RoundRobinPartitioner::new(),
            sticky_cache: StickyPartitionCache::new(),
            partitions: Vec::new(),
            network: NetworkClient::new(Connection::Producer),
            metadata_in_flight: false,
            metadata_age: MetadataAge::default(),
            init_in_flight: false,
            init_not_before: 0,
            producer_id: -1,
            producer_epoch: -1,
            sequences: BTreeMap::new(),
            last_acked_sequence: BTreeMap::new(),
            generated: 0,
            seq_base: env.now() / MILLIS * 1000,
            wake: Deadline::default(),
            key: Vec::new(),
            value: vec![0; spec.workload.value_size.max(8)],
            record_max: record_max(&spec.workload),
            key_hashes: Vec::new(),
            key_names: Vec::new(),
            ready: Vec::new(),
            per_broker: Vec::new(),
            busy: Vec::new(),
            txn: spec.transaction.clone().map(|workload| {
                let mut manager = TransactionManager::new(
                    &workload.transactional_id,
                    workload.transaction_timeout_ms,
                );
                manager.set_finalized_transaction_version(workload.finalized_transaction_version);
                manager.set_coordinator_supports_bumping_epoch(
                    workload.coordinator_supports_bumping_epoch,
                );
                manager.init();
                Transactions {
                    manager,
                    workload,
                    ids: Vec::new(),
                    commit_sent: false,
                    not_before: 0,
                    last_started: false,
                    ended: 0,
                    last_outcome: None,
                }
            }),
            driven: false,
            send_failures: 0,
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        if self.txn.is_none() {
            // The application sent the records due by now before this input
            // came (no wake is set for records whose batches cannot be sent
            // before an input: see `schedule_wake`).
            self.generate(env);
        }
        match input {
            Input::Message {
                msg:
                    Message::Kafka(KafkaMsg::Response {
                        correlation_id,
                        response,
                        ..
                    }),
                ..
            } => {
                if let Some(flight) = self.network.complete(correlation_id) {
                    self.on_response(env, flight.to, flight.purpose, response);
                }
            }
            Input::Timer(Timer::Producer(ProducerTimer::Wake)) => {
                let due = self.wake.fire(env.now());
                if due {
                    self.step(env);
                }
            }
            Input::Timer(Timer::Producer(ProducerTimer::Metadata)) => self.refresh_metadata(env),
            Input::Timer(Timer::Producer(ProducerTimer::MetadataMaxAge)) => {
                let max_age = self.config.metadata_max_age_ms;
                if self
                    .metadata_age
                    .fired(env, max_age, ProducerTimer::MetadataMaxAge)
                {
                    self.refresh_metadata(env);
                }
            }
            Input::Timer(Timer::RequestTimeout) => {
                let expired = self.network.expire(env);
                for (_, flight) in expired {
                    self.on_lost(env, flight.purpose, Errors::RequestTimedOut);
                }
                self.step(env);
            }
            Input::Disconnected(peer) => self.on_disconnect(env, peer),
            _ => {}
        }
    }

    fn random_broker(&self, env: &mut Env<'_>) -> KafkaNodeId {
        self.brokers[env.rng().random_range(0..self.brokers.len())]
    }

    fn refresh_metadata(&mut self, env: &mut Env<'_>) {
        if self.metadata_in_flight {
            return;
        }
        let broker = self.random_broker(env);
        let request = KafkaRequest::Metadata {
            topics: vec![self.workload.topic.clone()],
        };
        self.network.send(
            env,
            Address::Node(broker),
            request,
            self.config.request_timeout_ms * MILLIS,
            Pending::Metadata,
        );
        self.metadata_in_flight = true;
    }

    fn init_producer_id(&mut self, env: &mut Env<'_>) {
        if self.init_in_flight || env.now() < self.init_not_before {
            return;
        }
        let broker = self.random_broker(env);
        self.network.send(
            env,
            Address::Node(broker),
            KafkaRequest::InitProducerId {
                transactional_id: None,
                transaction_timeout_ms: i32::MAX as u64,
                producer_id_and_epoch: None,
            },
            self.config.request_timeout_ms * MILLIS,
            Pending::InitProducerId,
        );
        self.init_in_flight = true;
    }

    /// Generates the records due by now, sends what is ready, and sets the
    /// wake-up for the next moment something can become ready.
    fn step(&mut self, env: &mut Env<'_>) {
        self.generate(env);
        self.send_ready(env);
        self.schedule_wake(env);
    }

    /// Generates the records due by now, each at its own tick (the workload's rate).
    fn generate(&mut self, env: &mut Env<'_>) {
        if self.partitions.is_empty() || self.driven {
            return;
        }
        let due = self.clock.due_by(env.now());
        let n = self.partitions.len() as u32;
        let keyed = self.workload.keys > 0;
        // The sticky partitioner's choice: partitions with a leader.
        let available: Vec<u32> = if keyed {
            Vec::new()
        } else {
            self.partitions
                .iter()
                .filter(|p| p.leader.is_some())
                .map(|p| p.partition)
                .collect()
        };
        let mut due = due;
        if let Some(t) = &mut self.txn {
            if t.manager.state() == TxnClientState::AbortableError {
                // The application's send failed: it aborts.
                t.manager.end(false);
            }
            if env.now() >= self.workload.stop_at_ns && !t.manager.in_transaction() {
                // Past the workload's end, however far behind its
                // transactions left it, the application runs one last
                // transaction with records due before the end, then stops.
                if t.last_started || t.manager.state() != TxnClientState::Ready {
                    return;
                }
                t.last_started = true;
            }
            t.manager.begin();
            if !t.manager.in_transaction() {
                // The application is blocked in initTransactions or in
                // ending a transaction: nothing is sent meanwhile.
                return;
            }
            let room = t.workload.records.saturating_sub(t.ids.len() as u64);
            due = due.min(self.generated + room);
        }
        let mut sent = Vec::with_capacity(due.saturating_sub(self.generated).min(1024) as usize);
        while self.generated < due {
            let tick = self.clock.tick_of(self.generated);
            if tick >= self.workload.stop_at_ns {
                break;
            }
            let seq = self.seq_base + self.generated;
            self.generated += 1;
            let id = super::record_id_of(self.index, seq);
            let mut key = None;
            let mut key_index = None;
            let partition = if keyed {
                let k = env.rng().random_range(0..self.workload.keys);
                key = Some(k as u32);
                let i = k as usize;
                key_index = Some(i);
                if i < KEY_NAMES_KEPT {
                    if self.key_names.len() <= i {
                        self.key_names.resize(i + 1, Vec::new());
                    }
                    if self.key_names[i].is_empty() {
                        write_key(&mut self.key_names[i], k);
                    }
                } else {
                    write_key(&mut self.key, k);
                }
                // murmur2 of each key once per incarnation, as Kafka's
                // partitioner would compute it every time.
                if self.key_hashes.len() <= i {
                    self.key_hashes.resize(i + 1, u32::MAX);
                }
                if self.key_hashes[i] == u32::MAX {
                    let name = key_name(&self.key_names, &self.key, i);
                    self.key_hashes[i] = to_positive(murmur2(name)) as u32;
                }
                self.key_hashes[i] % n
            } else {
                match self.config.partitioner {
                    PartitionerKind::UniformSticky => {
                        self.sticky.partition(n, &available, env.rng())
                    }
                    PartitionerKind::Sticky => {
                        self.sticky_cache.partition(n, &available, env.rng())
                    }
                    PartitionerKind::RoundRobin => {
                        self.round_robin.partition(n, &available, env.rng())
                    }
                }
            };
            // Only a producer that sends tombstones draws for them.
            let tombstone = key.is_some()
                && self.workload.tombstones_ppm > 0
                && env.rng().random_range(0..1_000_000) < self.workload.tombstones_ppm;
            set_record_id(&mut self.value, id);
            if !keyed && self.config.partitioner == PartitionerKind::UniformSticky {
                let len = self.value.len();
                self.sticky
                    .on_append(len, self.config.batch_size, n, &available, env.rng());
            }
            let tick_ms = tick / MILLIS;
            let record = PendingRecord {
                id,
                key: key_index.map(|i| key_name(&self.key_names, &self.key, i)),
                value: &self.value,
                tombstone,
                timestamp_ms: tick_ms,
            };
            let mut tp = TopicIdPartition::new(self.workload.topic_id, partition);
            if !keyed && self.config.partitioner == PartitionerKind::Sticky {
                // KafkaProducer.doSend (2.4 to 3.2): a record that needs a
                // new batch on the sticky partition moves the partitioner
                // on, and goes to the new sticky partition.
                if let Err(record) = self.accumulator.try_append_existing(tp, record, tick_ms) {
                    let p = self
                        .sticky_cache
                        .on_new_batch(partition, n, &available, env.rng());
                    tp = TopicIdPartition::new(self.workload.topic_id, p);
                    self.accumulator.append(tp, record, tick_ms);
                }
            } else {
                self.accumulator.append(tp, record, tick_ms);
            }
            sent.push(SentRecord {
                id,
                partition: tp.partition,
                key,
                tombstone,
            });
            if let Some(t) = &mut self.txn {
                t.manager.add_partition(tp);
                t.ids.push(id);
            }
        }
        if !sent.is_empty() {
            env.observe(ProducerObs::Sent(sent));
        }
        if let Some(t) = &mut self.txn {
            // The application ends its transaction after its `records`
            // sends, or with its last send when the workload stops.
            let stopped = self.clock.tick_of(self.generated) >= self.workload.stop_at_ns;
            let done = t.ids.len() as u64 >= t.workload.records || (stopped && !t.ids.is_empty());
            if done && !t.manager.ending() {
                let abort = env.rng().random_range(0..1_000_000) < t.workload.abort_ppm;
                t.manager.end(!abort);
            }
        }
    }

    /// The next moment the producer must look again: a batch's linger,
    /// backoff or delivery timeout runs out, the next record's batch may
    /// linger out, or enough records come to fill a batch.
    ///
    /// Without transactions, a partition whose leader has
    /// max.in.flight.requests.per.connection produce requests in flight
    /// can send nothing before an answer (or a timeout) comes, and every
    /// input catches the records due up first (see `handle`): only the
    /// other partitions' batches need a wake to fill or linger out.
    fn schedule_wake(&mut self, env: &mut Env<'_>) {
        let now_ms = env.now() / MILLIS;
        let mut busy = std::mem::take(&mut self.busy);
        self.busy_partitions(&mut busy);
        let sendable =
            |tp: TopicIdPartition| !busy.get(tp.partition as usize).copied().unwrap_or(false);
        let (ready_ms, expiry_ms) = self.accumulator.next_ready_and_expiry_ms(now_ms, sendable);
        let mut next = expiry_ms.map(|ms| ms * MILLIS);
        let mut consider = |at: Nanos| next = Some(next.map_or(at, |n: Nanos| n.min(at)));
        if let Some(ms) = ready_ms {
            consider(ms * MILLIS);
        }
        // An application blocked in initTransactions or in ending a
        // transaction sends nothing until an answer wakes it.
        let blocked = self.txn.as_ref().is_some_and(|t| {
            !matches!(
                t.manager.state(),
                TxnClientState::Ready | TxnClientState::InTransaction
            ) || t.ids.len() as u64 >= t.workload.records
                || env.now() >= self.workload.stop_at_ns
        });
        if !self.partitions.is_empty() && !blocked && !self.driven {
            let next_tick = self.clock.tick_of(self.generated);
            let topic_id = self.workload.topic_id;
            let open = self
                .partitions
                .iter()
                .map(|p| TopicIdPartition::new(topic_id, p.partition))
                .filter(|&tp| sendable(tp));
            if next_tick < self.workload.stop_at_ns {
                // A record due later starts a batch that lingers from its
                // tick (where no batch is open yet).
                if open.clone().any(|tp| !self.accumulator.has_open_batch(&tp)) {
                    consider(next_tick + self.config.linger_ms * MILLIS);
                }
                // No batch can fill before this many more records come.
                if let Some(room) = self.accumulator.least_room(open) {
                    let fits = (room / self.record_max.max(1)) as u64;
                    consider(self.clock.tick_of(self.generated + fits));
                }
            }
        }
        self.busy = busy;
        // A send that failed for good left only an abort: the application
        // calls abortTransaction() at once.
        if self
            .txn
            .as_ref()
            .is_some_and(|t| t.manager.state() == TxnClientState::AbortableError)
        {
            consider(env.now());
        }
        // A request in flight brings an input (its answer, a broken
        // connection or its timeout) by its deadline, and every input
        // steps the producer: a wake no sooner is not needed (a delivery
        // timeout two minutes out would sit in the timer queue).
        let answered_by = self.network.next_deadline();
        if let Some(at) = next.filter(|&at| answered_by.is_none_or(|d| at < d)) {
            let at = at.max(env.now() + 1);
            self.wake.arm(env, at, ProducerTimer::Wake);
        }
    }

    /// Fills `busy` (by partition number) with whether the partition's
    /// leader has max.in.flight.requests.per.connection produce requests
    /// in flight; all false under transactions (their sends also wait on
    /// the transaction's own requests: every partition keeps its wakes).
    fn busy_partitions(&self, busy: &mut Vec<bool>) {
        busy.clear();
        if self.txn.is_some() {
            return;
        }
        let mut counts: Vec<(KafkaNodeId, usize)> = Vec::new();
        for (_, flight) in self.network.in_flight() {
            if let (Address::Node(node), Pending::Produce(_)) = (flight.to, &flight.purpose) {
                match counts.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((node, 1)),
                }
            }
        }
        for p in &self.partitions {
            let Some(leader) = p.leader else { continue };
            let full = counts
                .iter()
                .any(|&(n, c)| n == leader && c >= self.config.max_in_flight);
            if full {
                let i = p.partition as usize;
                if busy.len() <= i {
                    busy.resize(i + 1, false);
                }
                busy[i] = true;
            }
        }
    }

    fn produce_in_flight(&self, to: Address) -> usize {
        self.network
            .in_flight()
            .filter(|(_, f)| f.to == to && matches!(f.purpose, Pending::Produce(_)))
            .count()
    }

    /// Sends every ready batch whose leader is known and has room in flight.
    fn send_ready(&mut self, env: &mut Env<'_>) {
        let now_ms = env.now_ms();
        for batch in self.accumulator.expire(now_ms) {
            self.expire_batch(env, &batch);
            if let Some(t) = &mut self.txn {
                if batch.attempts > 0 && batch.has_sequence() {
                    // Kafka's Sender: an expired batch `inRetry()`.
                    t.manager
                        .mark_sequence_unresolved(batch.tp, batch.last_sequence().wrapping_add(1));
                }
                let step = t.manager.on_send_failed(Errors::RequestTimedOut);
                self.on_txn_step(env, step);
            }
        }
        self.maybe_resolve_sequences(env);
        if self.txn.is_some() {
            self.send_txn_request(env);
            if self.producer_id < 0 {
                return;
            }
        } else if self.config.idempotence && self.producer_id < 0 {
            self.init_producer_id(env);
            return;
        }
        let mut ready = std::mem::take(&mut self.ready);
        self.accumulator.ready_into(now_ms, &mut ready);
        // By leader (a few brokers: a short scan finds one's batches).
        let mut per_broker = std::mem::take(&mut self.per_broker);
        let mut missing_leader = false;
        for &tp in &ready {
            if self.txn.as_ref().is_some_and(|t| !t.manager.may_send(&tp)) {
                continue;
            }
            let Some(leader) = self
                .partitions
                .iter()
                .find(|p| p.partition == tp.partition)
                .and_then(|p| p.leader)
            else {
                missing_leader = true;
                continue;
            };
            if self.produce_in_flight(Address::Node(leader)) >= self.config.max_in_flight {
                continue;
            }
            let sequences = &mut self.sequences;
            let idempotent = self.config.idempotence;
            let mut next_sequence = |tp: &TopicIdPartition, records: u32| -> i32 {
                if !idempotent {
                    return -1;
                }
                let s = sequences.entry(*tp).or_insert(0);
                let base = *s;
                *s = s.wrapping_add(records as i32);
                base
            };
            if let Some(batch) = self.accumulator.drain(&tp, now_ms, &mut next_sequence) {
                match per_broker.iter_mut().find(|(b, _)| *b == leader) {
                    Some((_, batches)) => batches.push(batch),
                    None => per_broker.push((leader, vec![batch])),
                }
            }
        }
        self.ready = ready;
        // One request per leader, in broker id order.
        per_broker.sort_unstable_by_key(|&(broker, _)| broker);
        let transactional = self.txn.is_some();
        for (broker, mut batches) in per_broker.drain(..) {
            let compressed = self.config.compression.kind != CompressionType::None;
            let mut partitions = Vec::with_capacity(batches.len());
            for b in &mut batches {
                let batch = b.batch(transactional);
                if compressed {
                    // Kafka's ProducerBatch.close(): the estimate follows
                    // the batch's actual compression ratio.
                    let observed = batch.size_in_bytes() as f32 / b.builder.records_len() as f32;
                    self.accumulator
                        .update_compression_ratio(b.tp.topic_id, observed);
                }
                partitions.push(ProduceData { tp: b.tp, batch });
            }
            // Produce v12 under transactions v2: the leader adds the
            // partition to the transaction.
            let version = match &self.txn {
                Some(t) if t.manager.is_transaction_v2_enabled() => PRODUCE_VERSION_TV2,
                _ => PRODUCE_VERSION_TV1,
            };
            let request = KafkaRequest::Produce {
                version,
                transactional_id: self
                    .txn
                    .as_ref()
                    .map(|t| t.workload.transactional_id.clone()),
                acks: self.config.acks,
                timeout_ms: self.config.request_timeout_ms,
                partitions,
            };
            if self.config.acks == 0 {
                // Nothing will answer: the records count as sent.
                env.send(
                    Address::Node(broker),
                    KafkaMsg::Request {
                        connection: Connection::Producer,
                        correlation_id: 0,
                        request,
                    },
                );
                for b in batches {
                    self.accumulator.complete(&b.tp, b.id);
                    env.observe(ProducerObs::Acked {
                        partition: b.tp.partition,
                        base_offset: None,
                        ids: b.ids,
                        topic_id: Uuid(0),
                    });
                }
            } else {
                self.network.send(
                    env,
                    Address::Node(broker),
                    request,
                    self.config.request_timeout_ms * MILLIS,
                    Pending::Produce(batches),
                );
            }
        }
        self.per_broker = per_broker;
        if missing_leader {
            self.refresh_metadata(env);
        }
    }

    /// Kafka's `maybeResolveSequences` (Sender.runOnce, before any
    /// transactional request): a partition whose batch in retry expired is
    /// resolved once none of its batches is in flight or in retry.
    fn maybe_resolve_sequences(&mut self, env: &mut Env<'_>) {
        let Some(t) = &mut self.txn else {
            return;
        };
        let (accumulator, sequences, acked) = (
            &self.accumulator,
            &self.sequences,
            &self.last_acked_sequence,
        );
        let step = t.manager.maybe_resolve_sequences(|tp| {
            if accumulator.in_flight(tp) > 0 || accumulator.queued(tp).any(|b| b.has_sequence()) {
                return None;
            }
            let next = sequences.get(tp).copied().unwrap_or(0);
            let last_acked = acked.get(tp).copied().unwrap_or(-1);
            Some(next.wrapping_sub(last_acked) == 1)
        });
        self.on_txn_step(env, step);
    }

    /// A batch expired (delivery.timeout.ms): never sent, it definitely
    /// failed; sent before, its records may or may not be in the log.
    fn expire_batch(&mut self, env: &mut Env<'_>, batch: &ProducerBatch) {
        let why = if self.config.delivery_timeout_bounds_sends {
            "delivery.timeout.ms expired"
        } else {
            "request.timeout.ms expired in the accumulator"
        }
        .to_owned();
        let ids = batch.ids.clone();
        self.send_failures += ids.len() as u64;
        if batch.attempts == 0 {
            env.observe(ProducerObs::Failed { ids, error: why });
        } else {
            env.observe(ProducerObs::Indeterminate { ids, reason: why });
        }
    }

    /// A broker answered a request.
    fn on_response(
        &mut self,
        env: &mut Env<'_>,
        _from: Address,
        pending: Pending,
        response: KafkaResponse,
    ) {
        match (pending, response) {
            (Pending::Metadata, KafkaResponse::Metadata { topics }) => {
                self.metadata_in_flight = false;
                match topics.into_iter().find(|(t, _)| *t == self.workload.topic) {
                    Some((_, parts)) if !parts.is_empty() => {
                        self.partitions = parts;
                        let max_age = self.config.metadata_max_age_ms;
                        self.metadata_age
                            .refreshed(env, max_age, ProducerTimer::MetadataMaxAge);
                    }
                    None if !self.partitions.is_empty() => {
                        // The metadata has the topic no more: it was
                        // deleted (a broker not caught up with the metadata
                        // yet names it without partitions instead).
                        // The application blocks in send() waiting for its
                        // metadata (Kafka's waitOnMetadata asks again after
                        // each backoff); queued batches have no leader and
                        // expire after delivery.timeout.ms unless the topic
                        // is created again first (then they go to it: a
                        // Produce names its topic, not the topic's id).
                        self.partitions.clear();
                        env.set_timer_after(
                            self.config.retry_backoff_ms * MILLIS,
                            ProducerTimer::Metadata,
                        );
                    }
                    _ => env.set_timer_after(
                        self.config.retry_backoff_ms * MILLIS,
                        ProducerTimer::Metadata,
                    ),
                }
            }
            (
                Pending::InitProducerId,
                KafkaResponse::InitProducerId {
                    error,
                    producer_id,
                    producer_epoch,
                },
            ) => {
                self.init_in_flight = false;
                if error.is_none() {
                    self.take_producer_id(producer_id, producer_epoch);
                } else {
                    let backoff = self.config.retry_backoff_ms * MILLIS;
                    self.init_not_before = env.now() + backoff;
                    self.wake.arm(env, env.now() + backoff, ProducerTimer::Wake);
                }
            }
            (Pending::Produce(batches), KafkaResponse::Produce { partitions }) => {
                self.on_produce(env, batches, partitions);
            }
            (Pending::Txn, response) => self.on_txn_response(env, response),
            (pending, _) => self.on_lost(env, pending, Errors::NetworkException),
        }
        self.step(env);
    }

    fn on_produce(
        &mut self,
        env: &mut Env<'_>,
        batches: Vec<ProducerBatch>,
        results: Vec<ProduceResult>,
    ) {
        let now_ms = env.now_ms();
        let mut refresh = false;
        for batch in batches {
            let result = results.iter().find(|r| r.tp == batch.tp);
            let error = result.map_or(Some(Errors::NetworkException), |r| r.error);
            match error {
                None => {
                    let base = result.map_or(-1, |r| r.base_offset);
                    if batch.base_sequence >= 0 {
                        let last = batch.base_sequence.wrapping_add(batch.ids.len() as i32 - 1);
                        self.last_acked_sequence.insert(batch.tp, last);
                    }
                    self.accumulator.complete(&batch.tp, batch.id);
                    env.observe(ProducerObs::Acked {
                        partition: batch.tp.partition,
                        base_offset: u64::try_from(base).ok(),
                        ids: batch.ids,
                        topic_id: result.map_or(Uuid(0), |r| r.topic_id),
                    });
                }
                Some(e) => {
                    refresh |= matches!(
                        e,
                        Errors::NotLeaderOrFollower
                            | Errors::FencedLeaderEpoch
                            | Errors::UnknownLeaderEpoch
                            | Errors::NetworkException
                            | Errors::UnknownTopicOrPartition
                    );
                    self.retry_or_fail(env, batch, e, now_ms);
                }
            }
        }
        if refresh {
            self.refresh_metadata(env);
        }
    }

    /// A request got no answer (timeout or broken connection).
    fn on_lost(&mut self, env: &mut Env<'_>, pending: Pending, error: Errors) {
        match pending {
            Pending::Metadata => {
                self.metadata_in_flight = false;
                self.refresh_metadata(env);
            }
            Pending::InitProducerId => self.init_in_flight = false,
            Pending::Produce(batches) => {
                let now_ms = env.now_ms();
                for batch in batches {
                    self.retry_or_fail(env, batch, error, now_ms);
                }
                self.refresh_metadata(env);
            }
            Pending::Txn => self.on_txn_lost(env),
        }
    }

    /// Retries a failed batch if Kafka would, else ends its records.
    fn retry_or_fail(
        &mut self,
        env: &mut Env<'_>,
        batch: ProducerBatch,
        error: Errors,
        now_ms: u64,
    ) {
        // Before KIP-91 (2.0's `Sender.canRetry`) only `retries` bounds it.
        let expired = self.config.delivery_timeout_bounds_sends
            && now_ms.saturating_sub(batch.created_ms) >= self.config.delivery_timeout_ms;
        let out_of_retries = batch.attempts > self.config.retries;
        let txn_without_bump = self
            .txn
            .as_ref()
            .is_some_and(|t| !t.manager.can_bump_epoch());
        let retriable = match error {
            Errors::OutOfOrderSequenceNumber | Errors::UnknownProducerId => {
                // Retriable when an earlier batch of the partition is being
                // retried (Kafka's TransactionManager.canRetry): this one is
                // not the next sequence the broker expects.
                let expected = self
                    .last_acked_sequence
                    .get(&batch.tp)
                    .map_or(0, |s| s.wrapping_add(1));
                batch.base_sequence != expected
            }
            // Not a RetriableException in Kafka.
            Errors::InvalidProducerEpoch
            | Errors::InvalidRequest
            | Errors::InvalidTxnState
            | Errors::TransactionAbortable
            | Errors::ProducerFenced
            | Errors::InvalidRecord
            | Errors::InvalidProducerIdMapping => false,
            _ => true,
        };
        let idempotent_only = self.config.idempotence && self.txn.is_none();
        if idempotent_only && !expired && !out_of_retries {
            let stale = (batch.producer_id, batch.producer_epoch)
                != (self.producer_id, self.producer_epoch);
            let gap = matches!(
                error,
                Errors::OutOfOrderSequenceNumber | Errors::UnknownProducerId
            );
            if stale && batch.producer_id >= 0 && (retriable || gap) {
                // Drained before the producer started a fresh sequence
                // space: sent again in the new one.
                self.accumulator.reenqueue_fresh(batch, now_ms);
                return;
            }
            if !retriable && gap {
                // The broker lost the sequences before this batch (an
                // unclean election, a power loss). Kafka's idempotent
                // producer retries it under an epoch it bumps itself, its
                // sequences started over (KIP-360, TransactionManager.canRetry
                // and requestEpochBumpForPartition).
                self.bump_idempotent_epoch(env);
                self.accumulator.reenqueue_fresh(batch, now_ms);
                return;
            }
        }
        if retriable && !expired && !out_of_retries {
            self.accumulator.reenqueue(batch, now_ms);
            return;
        }
        let tp = batch.tp;
        self.accumulator.complete(&tp, batch.id);
        self.send_failures += batch.ids.len() as u64;
        env.observe(ProducerObs::Indeterminate {
            ids: batch.ids,
            reason: error.name().to_owned(),
        });
        if let Some(t) = &mut self.txn {
            if txn_without_bump && error == Errors::UnknownProducerId {
                // Kafka's handleFailedBatch, resetSequenceForPartition: the
                // broker has no state for the producer, and takes sequence
                // 0 in the same epoch (with the bump every partition starts
                // over under the new epoch).
                self.sequences.remove(&tp);
                self.last_acked_sequence.remove(&tp);
            }
            // In a transaction a failed send leaves only an abort (or,
            // fenced, a new instance).
            let step = t.manager.on_send_failed(error);
            self.on_txn_step(env, step);
            return;
        }
        if matches!(
            error,
            Errors::OutOfOrderSequenceNumber
                | Errors::InvalidProducerEpoch
                | Errors::UnknownProducerId
        ) {
            // Kafka's handleFailedBatch: an idempotent producer's failed
            // batch leaves a gap in the partition's sequences, which an
            // epoch bump closes (for UNKNOWN_PRODUCER_ID Kafka starts only
            // that partition over under the same epoch, which the broker
            // without its state takes alike; ksim bumps for it too).
            self.bump_idempotent_epoch(env);
        }
    }

    /// KIP-360 for an idempotent producer (Kafka's
    /// `TransactionManager.bumpIdempotentProducerEpoch`): the producer
    /// bumps its epoch itself, with no request, and every partition's
    /// sequence starts over at 0 under it (queued batches get theirs when
    /// drained; a partition with batches in flight under the old epoch
    /// waits for them, `maybeUpdateProducerIdAndEpoch`). At the epoch's
    /// maximum the id is dropped and a new one asked for
    /// (`resetIdempotentProducerId`, then InitProducerId).
    fn bump_idempotent_epoch(&mut self, env: &mut Env<'_>) {
        if self.producer_id < 0 {
            return;
        }
        self.accumulator.reset_sequences();
        if self.producer_epoch == i16::MAX {
            self.producer_id = -1;
            self.init_producer_id(env);
        } else {
            self.take_producer_id(self.producer_id, self.producer_epoch + 1);
        }
    }

    /// A connection broke: requests in flight to that broker fail with
    /// NETWORK_EXCEPTION (their outcome is unknown) and are retried.
    fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        for (_, flight) in self.network.disconnected(peer) {
            match flight.purpose {
                Pending::Produce(batches) => {
                    let now_ms = env.now_ms();
                    for batch in batches {
                        self.retry_or_fail(env, batch, Errors::NetworkException, now_ms);
                    }
                }
                Pending::Metadata => self.metadata_in_flight = false,
                Pending::InitProducerId => self.init_in_flight = false,
                Pending::Txn => self.on_txn_lost(env),
            }
        }
        self.refresh_metadata(env);
        let backoff = self.config.retry_backoff_ms * MILLIS;
        self.wake.arm(env, env.now() + backoff, ProducerTimer::Wake);
    }
}

impl Producer {
    /// The transaction's next step: the unsent batches of an aborting
    /// transaction dropped (Kafka's `abortUndrainedBatches`), a transaction
    /// that sent nothing ended, or the next request to the coordinator.
    fn send_txn_request(&mut self, env: &mut Env<'_>) {
        let broker = self.random_broker(env);
        let Some(t) = &mut self.txn else {
            return;
        };
        if t.manager.state() == TxnClientState::AbortingTransaction {
            // Kafka's abortUndrainedBatches keeps a transactional batch
            // with a sequence (in retry) until answered or expired. With
            // the epoch bump ksim drops it too: every sequence starts over.
            let aborted = if t.manager.can_bump_epoch() {
                self.accumulator.drain_all()
            } else {
                self.accumulator.drain_unsequenced()
            };
            for batch in aborted {
                env.observe(ProducerObs::Failed {
                    ids: batch.ids,
                    error: "TransactionAbortedException".to_owned(),
                });
            }
        }
        let pending = self.accumulator.has_undrained() || self.accumulator.in_flight_total() > 0;
        if let Some(end) = t.manager.end_empty(pending) {
            self.on_txn_step(env, TxnStep::Ended(end));
            // An epoch bump (InitProducerId) may follow at once.
            let Some(t) = &mut self.txn else {
                return;
            };
            if t.manager.state() != TxnClientState::Initializing {
                return;
            }
        }
        let Some(t) = &mut self.txn else {
            return;
        };
        if env.now() < t.not_before {
            self.wake.arm(env, t.not_before, ProducerTimer::Wake);
            return;
        }
        let Some((kind, request)) = t.manager.next_request(pending) else {
            return;
        };
        let to = match kind {
            TxnRequestKind::FindCoordinator | TxnRequestKind::FindGroupCoordinator => broker,
            TxnRequestKind::TxnOffsetCommit => t.manager.group_coordinator().unwrap_or(broker),
            _ => t.manager.coordinator().unwrap_or(broker),
        };
        if kind == TxnRequestKind::EndTxn(true) {
            t.commit_sent = true;
        }
        self.network.send(
            env,
            Address::Node(to),
            request,
            self.config.request_timeout_ms * MILLIS,
            Pending::Txn,
        );
    }

    /// The coordinator (or a broker, for FindCoordinator) answered.
    fn on_txn_response(&mut self, env: &mut Env<'_>, response: KafkaResponse) {
        let Some(t) = &mut self.txn else {
            return;
        };
        let step = match response {
            KafkaResponse::FindCoordinator { error, node_id } => {
                t.manager.on_find_coordinator(error, node_id)
            }
            KafkaResponse::InitProducerId {
                error,
                producer_id,
                producer_epoch,
            } => t
                .manager
                .on_init_producer_id(error, producer_id, producer_epoch),
            KafkaResponse::AddPartitionsToTxn { error } => t.manager.on_add_partitions(error),
            KafkaResponse::AddOffsetsToTxn { error } => t.manager.on_add_offsets(error),
            KafkaResponse::Group(response) => match *response {
                CoordinatorResponse::TxnOffsetCommit { results } => {
                    let error = results.iter().find_map(|(_, e)| *e);
                    t.manager.on_txn_offset_commit(error)
                }
                _ => t.manager.on_lost(),
            },
            KafkaResponse::EndTxn {
                error,
                producer_id,
                producer_epoch,
            } => t.manager.on_end_txn(error, producer_id, producer_epoch),
            _ => t.manager.on_lost(),
        };
        self.on_txn_step(env, step);
    }

    /// A coordinator request got no answer.
    fn on_txn_lost(&mut self, env: &mut Env<'_>) {
        if let Some(t) = &mut self.txn {
            let step = t.manager.on_lost();
            self.on_txn_step(env, step);
        }
    }

    /// Carries out what the TransactionManager decided.
    fn on_txn_step(&mut self, env: &mut Env<'_>, step: TxnStep) {
        let backoff = self.config.retry_backoff_ms * MILLIS;
        let Some(t) = &mut self.txn else {
            return;
        };
        match step {
            TxnStep::None => {}
            TxnStep::Retry => {
                t.not_before = env.now() + backoff;
                self.wake.arm(env, t.not_before, ProducerTimer::Wake);
            }
            TxnStep::RetryAfterMs(ms) => {
                t.not_before = env.now() + ms.min(self.config.retry_backoff_ms) * MILLIS;
                self.wake.arm(env, t.not_before, ProducerTimer::Wake);
            }
            TxnStep::Initialized {
                producer_id,
                producer_epoch,
            } => {
                self.take_producer_id(producer_id, producer_epoch);
            }
            TxnStep::EndedWithEpoch {
                end,
                producer_id,
                producer_epoch,
            } => {
                // EndTxn v5: the coordinator bumped the epoch; the next
                // transaction's sequences start over under it.
                self.take_producer_id(producer_id, producer_epoch);
                self.on_txn_step(env, TxnStep::Ended(end));
            }
            TxnStep::Ended(end) => {
                if !t.manager.can_bump_epoch() {
                    // The same epoch goes on: each partition's next
                    // sequence follows its last acknowledged one, as
                    // Kafka's adjustSequencesDueToFailedBatch leaves it
                    // after a batch refused for good (every batch of the
                    // transaction is answered by now).
                    let acked = &self.last_acked_sequence;
                    self.sequences.retain(|tp, next| match acked.get(tp) {
                        Some(last) => {
                            *next = last.wrapping_add(1);
                            true
                        }
                        None => false,
                    });
                }
                let outcome = match end {
                    TxnEnd::Committed => TxnOutcome::Committed,
                    TxnEnd::Aborted => TxnOutcome::Aborted,
                };
                t.commit_sent = false;
                t.ended += 1;
                t.last_outcome = Some(outcome);
                let ids = std::mem::take(&mut t.ids);
                env.observe(ProducerObs::TxnEnded { outcome, ids });
            }
            TxnStep::Fatal(why) => self.on_txn_fatal(env, why.to_owned()),
            TxnStep::Fenced(error) => self.on_txn_fatal(env, error.name().to_owned()),
        }
    }

    /// FATAL_ERROR (fenced, or another fatal error: `why`): the
    /// application closes the producer and starts a new instance of the
    /// same transactional.id: what the old one had in flight is abandoned.
    fn on_txn_fatal(&mut self, env: &mut Env<'_>, why: String) {
        let backoff = self.config.retry_backoff_ms * MILLIS;
        let Some(t) = &mut self.txn else {
            return;
        };
        let outcome = if t.commit_sent {
            TxnOutcome::Unknown
        } else {
            TxnOutcome::Aborted
        };
        t.commit_sent = false;
        t.ended += 1;
        t.last_outcome = Some(outcome);
        let ids = std::mem::take(&mut t.ids);
        if !ids.is_empty() {
            env.observe(ProducerObs::TxnEnded { outcome, ids });
        }
        env.observe(ProducerObs::Fenced(why));
        t.manager.init();
        t.not_before = env.now() + backoff;
        self.network
            .abandon(|p| matches!(p, Pending::Produce(_) | Pending::Txn));
        self.accumulator = RecordAccumulator::new(*self.accumulator.config());
        self.producer_id = -1;
        self.producer_epoch = -1;
        self.sequences.clear();
        self.last_acked_sequence.clear();
        self.wake.arm(env, env.now() + backoff, ProducerTimer::Wake);
    }
}

/// The producer as an application drives it (a consume-transform-produce
/// pipeline member): it sends the records it is given, and with a
/// `transactional.id` begins, commits and aborts transactions and sends
/// consumer offsets to them when told, as `KafkaProducer`'s API does.
impl Producer {
    /// Boots a producer whose records come from an application, which
    /// used correlation ids up to `last_correlation_id` already (its
    /// consumer's).
    pub fn boot_driven(spec: &ProducerSpec, env: &mut Env<'_>, last_correlation_id: u64) -> Self {
        let mut producer = Self::build(spec, env);
        producer.driven = true;
        producer.network.number_after(last_correlation_id);
        producer.refresh_metadata(env);
        producer
    }

    /// A new producer id and epoch (InitProducerId, or the epoch an EndTxn
    /// v5 bumped): every partition's sequence starts over under it.
    fn take_producer_id(&mut self, producer_id: i64, producer_epoch: i16) {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.accumulator
            .set_producer_id_and_epoch(producer_id, producer_epoch);
        self.sequences.clear();
        self.last_acked_sequence.clear();
    }

    /// Per partition with records waiting in the accumulator (never sent,
    /// or back for a retry): when its oldest waiting batch was created
    /// (ms) and how many records wait.
    pub fn waiting_since(&self) -> impl Iterator<Item = (TopicIdPartition, u64, usize)> + '_ {
        self.accumulator.queued_since()
    }

    /// Records whose send failed or ended unknown, in all (a callback's
    /// exception, for the application).
    pub fn send_failures(&self) -> u64 {
        self.send_failures
    }

    /// Whether the request `correlation_id` is this producer's, in flight.
    pub fn awaits(&self, correlation_id: u64) -> bool {
        self.network.awaits(correlation_id)
    }

    /// The last correlation id it used.
    pub fn last_correlation_id(&self) -> u64 {
        self.network.last_correlation_id()
    }

    /// Numbers its next requests after `last`.
    pub fn number_after(&mut self, last: u64) {
        self.network.number_after(last);
    }

    /// Whether `send()` may be called now: the topic's partitions are
    /// known, and a transactional producer has a transaction open.
    pub fn ready(&self) -> bool {
        !self.partitions.is_empty()
            && (self.producer_id >= 0 || !self.config.idempotence)
            && self
                .txn
                .as_ref()
                .is_none_or(|t| t.manager.in_transaction() && !t.manager.ending())
    }

    /// The transaction manager's state (None: not transactional).
    pub fn txn_state(&self) -> Option<TxnClientState> {
        self.txn.as_ref().map(|t| t.manager.state())
    }

    /// How many transactions ended, and how the last did.
    pub fn txn_ended(&self) -> (u64, Option<TxnOutcome>) {
        self.txn
            .as_ref()
            .map_or((0, None), |t| (t.ended, t.last_outcome))
    }

    /// Whether records sent are still unanswered (what `flush()` waits for).
    pub fn unflushed(&self) -> bool {
        self.accumulator.has_undrained() || self.accumulator.in_flight_total() > 0
    }

    /// `beginTransaction()`.
    pub fn begin_transaction(&mut self) {
        if let Some(t) = &mut self.txn {
            t.manager.begin();
        }
    }

    /// `send()` of one record carrying `id` (null key: the sticky
    /// partitioner picks its partition). Returns whether it was sent.
    pub fn send_record(&mut self, env: &mut Env<'_>, id: u64) -> bool {
        if !self.ready() {
            return false;
        }
        let n = self.partitions.len() as u32;
        let available: Vec<u32> = self
            .partitions
            .iter()
            .filter(|p| p.leader.is_some())
            .map(|p| p.partition)
            .collect();
        let partition = match self.config.partitioner {
            PartitionerKind::UniformSticky => self.sticky.partition(n, &available, env.rng()),
            PartitionerKind::Sticky => self.sticky_cache.partition(n, &available, env.rng()),
            PartitionerKind::RoundRobin => self.round_robin.partition(n, &available, env.rng()),
        };
        set_record_id(&mut self.value, id);
        if self.config.partitioner == PartitionerKind::UniformSticky {
            let len = self.value.len();
            self.sticky
                .on_append(len, self.config.batch_size, n, &available, env.rng());
        }
        let mut tp = TopicIdPartition::new(self.workload.topic_id, partition);
        let now_ms = env.now_ms();
        let record = PendingRecord {
            id,
            key: None,
            value: &self.value,
            tombstone: false,
            timestamp_ms: now_ms,
        };
        if self.config.partitioner == PartitionerKind::Sticky {
            // KafkaProducer.doSend (2.4 to 3.2), as in `generate`.
            if let Err(record) = self.accumulator.try_append_existing(tp, record, now_ms) {
                let p = self
                    .sticky_cache
                    .on_new_batch(partition, n, &available, env.rng());
                tp = TopicIdPartition::new(self.workload.topic_id, p);
                self.accumulator.append(tp, record, now_ms);
            }
        } else {
            self.accumulator.append(tp, record, now_ms);
        }
        let partition = tp.partition;
        if let Some(t) = &mut self.txn {
            t.manager.add_partition(tp);
            t.ids.push(id);
        }
        env.observe(ProducerObs::Sent(vec![SentRecord::unkeyed(id, partition)]));
        true
    }

    /// `sendOffsetsToTransaction()`.
    pub fn send_offsets_to_transaction(&mut self, offsets: TxnOffsets) {
        if let Some(t) = &mut self.txn {
            t.manager.send_offsets(offsets);
        }
    }

    /// `commitTransaction()` (commit) or `abortTransaction()`: the
    /// application is blocked until it ends. A transaction in error can
    /// only abort.
    pub fn end_transaction(&mut self, env: &mut Env<'_>, commit: bool) {
        if let Some(t) = &mut self.txn {
            if t.manager.state() == TxnClientState::AbortableError {
                t.manager.end(false);
            } else {
                t.manager.end(commit);
            }
        }
        self.wake_now(env);
    }

    /// Sends what is ready now and sets the next wake-up.
    pub fn wake_now(&mut self, env: &mut Env<'_>) {
        self.step(env);
    }
}

/// The most bytes one record of `workload` takes in a batch: the longest
/// key it draws and its value.
fn record_max(workload: &ProducerWorkload) -> usize {
    let key = (workload.keys > 0)
        .then(|| format!("key-{}", workload.keys.saturating_sub(1)).into_bytes());
    let value = vec![0; workload.value_size.max(8)];
    batch_size_upper_bound(key.as_deref(), &value) - RECORD_BATCH_OVERHEAD
}

/// How many key numbers from 0 a producer keeps the names of (a few
/// bytes each), instead of writing one at every record.
const KEY_NAMES_KEPT: usize = 4096;

/// The name of key number `i`: kept in `names` (below [`KEY_NAMES_KEPT`],
/// written there first), else just written into `scratch`.
fn key_name<'a>(names: &'a [Vec<u8>], scratch: &'a [u8], i: usize) -> &'a [u8] {
    match names.get(i) {
        Some(name) if !name.is_empty() => name,
        _ => scratch,
    }
}

/// Writes key number `k`, `key-{k}`, into `buf`.
fn write_key(buf: &mut Vec<u8>, k: u64) {
    buf.clear();
    buf.extend_from_slice(b"key-");
    crate::group::offset_json::put_u64(buf, k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::partitioner::partition_for_key;

    #[test]
    fn keys_are_written_and_partitioned_as_kafka_would_with_their_formatted_names() {
        let mut buf = Vec::new();
        for k in [0u64, 7, 10, 999, 123_456, u64::MAX] {
            write_key(&mut buf, k);
            assert_eq!(buf, format!("key-{k}").into_bytes());
            let cached = to_positive(murmur2(&buf)) as u32;
            for n in [1, 3, 50] {
                assert_eq!(cached % n, partition_for_key(&buf, n));
            }
        }
    }

    /// The workload clock in u64 arithmetic gives what the exact 128-bit
    /// formulas give, near overflow too.
    #[test]
    fn kept_key_names_are_the_names_written_each_time() {
        let mut names = vec![Vec::new(); 3];
        write_key(&mut names[2], 2);
        let mut scratch = Vec::new();
        write_key(&mut scratch, KEY_NAMES_KEPT as u64);
        assert_eq!(key_name(&names, &scratch, 2), b"key-2");
        let above = format!("key-{KEY_NAMES_KEPT}");
        assert_eq!(key_name(&names, &scratch, KEY_NAMES_KEPT), above.as_bytes());
    }

    #[test]
    fn the_workload_clock_computes_as_in_128_bits() {
        let rates = [
            (1, 1),
            (1000, 1_000_000_000),
            (7, 3),
            (u64::MAX / 5, 1),
            (3, u64::MAX),
        ];
        for (records, per_ns) in rates {
            let clock = Workload {
                started_ns: 5 * MILLIS,
                records,
                per_ns,
            };
            for i in [0, 1, 999, 1_000_000, u64::MAX / 1_000_000, u64::MAX - 1] {
                let per = u128::from(per_ns.max(1));
                let rate = u128::from(MILLIS) * u128::from(records.max(1));
                let ticks = (u128::from(i + 1) * per).div_ceil(rate);
                let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
                let want = clock
                    .started_ns
                    .saturating_add(ticks.saturating_mul(MILLIS));
                assert_eq!(clock.tick_of(i), want, "tick_of({i}), {records}/{per_ns}");
            }
            for now in [0, 5 * MILLIS, 7 * MILLIS + 3, 1 << 40, u64::MAX] {
                let ticks = now.saturating_sub(clock.started_ns) / MILLIS;
                let due = u128::from(ticks) * u128::from(MILLIS) * u128::from(records)
                    / u128::from(per_ns.max(1));
                let want = u64::try_from(due).unwrap_or(u64::MAX);
                assert_eq!(clock.due_by(now), want, "due_by({now}), {records}/{per_ns}");
            }
        }
    }
}
