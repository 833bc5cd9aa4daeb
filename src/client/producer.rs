//! The producer client (Kafka's KafkaProducer with its RecordAccumulator and
//! Sender): the workload's records are partitioned (murmur2 for keys, the
//! uniform sticky partitioner for null keys), batched by batch.size and
//! linger.ms, sent to partition leaders with at most
//! max.in.flight.requests.per.connection requests per broker, retried until
//! delivery.timeout.ms, and, with enable.idempotence, numbered per partition
//! under a producer id from InitProducerId. Every send and its outcome is
//! recorded for the checkers.

use std::collections::BTreeMap;

use rand::Rng;
use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use super::accumulator::{AccumulatorConfig, PendingRecord, ProducerBatch, RecordAccumulator};
use super::partitioner::{partition_for_key, StickyPartitioner};
use super::{record_value, ProducerObs};
use crate::config::KafkaConfigs;
use crate::errors::Errors;
use crate::log::Record;
use crate::protocol::{
    broker_at, KafkaMsg, KafkaRequest, KafkaResponse, PartitionMetadata, ProduceData,
    ProduceResult, TopicPartition,
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
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `enable.idempotence` (as Kafka 3.x resolves it).
    pub idempotence: bool,
}

impl ProducerConfig {
    /// The configs of a `[[producers]]` entry.
    pub fn from_configs(c: &KafkaConfigs) -> Self {
        let int = |name: &str, d: u64| c.get_i64(name).map_or(d, |v| u64::try_from(v).unwrap_or(d));
        let acks = match c.get_str("acks").as_deref() {
            Some("0") => 0,
            Some("1") => 1,
            _ => -1,
        };
        Self {
            acks,
            linger_ms: int("linger.ms", 0),
            batch_size: int("batch.size", 16384) as usize,
            max_in_flight: int("max.in.flight.requests.per.connection", 5).max(1) as usize,
            retries: int("retries", i32::MAX as u64).min(u32::MAX as u64) as u32,
            delivery_timeout_ms: int("delivery.timeout.ms", 120_000),
            request_timeout_ms: int("request.timeout.ms", 30_000),
            retry_backoff_ms: int("retry.backoff.ms", 100),
            idempotence: c.idempotence_enabled(),
        }
    }
}

/// What the producer sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerWorkload {
    /// The topic.
    pub topic: String,
    /// Records per period.
    pub records: u64,
    /// The period, in nanoseconds.
    pub per_ns: u64,
    /// Distinct keys (0: null keys).
    pub keys: u64,
    /// Bytes of each value.
    pub value_size: usize,
    /// No new records from this time on.
    pub stop_at_ns: Nanos,
}

/// The producer's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ProducerTimer {
    /// Generate the records due.
    Generate,
    /// A batch may be ready (linger, backoff).
    Send,
    /// Refresh metadata.
    Metadata,
    /// A request with this correlation id went unanswered.
    Timeout(u64),
}

#[derive(Debug)]
struct InFlight {
    broker: u32,
    batches: Vec<ProducerBatch>,
}

/// The tick of the record generator.
const GENERATE_TICK_NS: Nanos = MILLIS;

/// A producer process.
#[derive(Debug)]
pub struct Producer {
    index: u32,
    config: ProducerConfig,
    workload: ProducerWorkload,
    brokers: BTreeMap<u32, NodeId>,
    accumulator: RecordAccumulator,
    sticky: StickyPartitioner,
    partitions: Vec<PartitionMetadata>,
    metadata_in_flight: Option<u64>,
    producer_id: i64,
    producer_epoch: i16,
    init_in_flight: Option<u64>,
    init_not_before: Nanos,
    sequences: BTreeMap<TopicPartition, i32>,
    last_acked_sequence: BTreeMap<TopicPartition, i32>,
    in_flight: BTreeMap<u64, InFlight>,
    other_in_flight: BTreeMap<u64, u32>,
    correlation: u64,
    generated: u64,
    seq_base: u64,
    started_ns: Nanos,
    send_timer_at: Option<Nanos>,
}

impl Producer {
    /// Producer `index` (its records' ids start at `index << 40`).
    pub fn new(
        index: u32,
        config: ProducerConfig,
        workload: ProducerWorkload,
        brokers: BTreeMap<u32, NodeId>,
    ) -> Self {
        let accumulator = RecordAccumulator::new(AccumulatorConfig {
            batch_size: config.batch_size,
            linger_ms: config.linger_ms,
            max_in_flight: config.max_in_flight,
            delivery_timeout_ms: config.delivery_timeout_ms,
            retry_backoff_ms: config.retry_backoff_ms,
            idempotence: config.idempotence,
        });
        Self {
            index,
            config,
            workload,
            brokers,
            accumulator,
            sticky: StickyPartitioner::new(),
            partitions: Vec::new(),
            metadata_in_flight: None,
            producer_id: -1,
            producer_epoch: -1,
            init_in_flight: None,
            init_not_before: 0,
            sequences: BTreeMap::new(),
            last_acked_sequence: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            other_in_flight: BTreeMap::new(),
            correlation: 0,
            generated: 0,
            seq_base: 0,
            started_ns: 0,
            send_timer_at: None,
        }
    }

    /// Boot. A restarted producer is a new process: what it had not sent is
    /// gone with the old one, and its record numbers go on from
    /// 1000 per millisecond of boot time (above any rate's), so ids stay unique.
    pub fn start<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        self.started_ns = ctx.now();
        self.seq_base = ctx.now() / MILLIS * 1000;
        self.refresh_metadata(ctx);
        ctx.set_timer(GENERATE_TICK_NS, ProducerTimer::Generate.into());
    }

    fn now_ms<N: ProducerHost>(ctx: &Ctx<'_, N>) -> u64 {
        ctx.now() / MILLIS
    }

    fn random_broker<N: ProducerHost>(&self, ctx: &mut Ctx<'_, N>) -> u32 {
        let ids: Vec<u32> = self.brokers.keys().copied().collect();
        ids[ctx.rng().random_range(0..ids.len())]
    }

    fn request<N: ProducerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        broker: u32,
        request: KafkaRequest,
    ) -> u64 {
        self.correlation += 1;
        let correlation_id = self.correlation;
        ctx.send(
            self.brokers[&broker],
            KafkaMsg::Request {
                correlation_id,
                request,
            }
            .into(),
        );
        ctx.set_timer(
            self.config.request_timeout_ms * MILLIS,
            ProducerTimer::Timeout(correlation_id).into(),
        );
        correlation_id
    }

    fn refresh_metadata<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.metadata_in_flight.is_some() {
            return;
        }
        let broker = self.random_broker(ctx);
        let request = KafkaRequest::Metadata {
            topics: vec![self.workload.topic.clone()],
        };
        let c = self.request(ctx, broker, request);
        self.other_in_flight.insert(c, broker);
        self.metadata_in_flight = Some(c);
    }

    fn init_producer_id<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.init_in_flight.is_some() || ctx.now() < self.init_not_before {
            return;
        }
        let broker = self.random_broker(ctx);
        let c = self.request(ctx, broker, KafkaRequest::InitProducerId);
        self.other_in_flight.insert(c, broker);
        self.init_in_flight = Some(c);
    }

    /// Generates the records due by now (the workload's rate).
    fn generate<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let now = ctx.now();
        if now >= self.workload.stop_at_ns || self.partitions.is_empty() {
            return;
        }
        let elapsed = u128::from(now - self.started_ns);
        let due = (elapsed * u128::from(self.workload.records)
            / u128::from(self.workload.per_ns.max(1))) as u64;
        let now_ms = now / MILLIS;
        let n = self.partitions.len() as u32;
        let available: Vec<u32> = self
            .partitions
            .iter()
            .filter(|p| p.leader.is_some())
            .map(|p| p.partition)
            .collect();
        while self.generated < due {
            let seq = self.seq_base + self.generated;
            self.generated += 1;
            let id = (u64::from(self.index) << 40) | seq;
            let key = (self.workload.keys > 0).then(|| {
                let k = ctx.rng().random_range(0..self.workload.keys);
                format!("key-{k}").into_bytes()
            });
            let partition = match &key {
                Some(k) => partition_for_key(k, n),
                None => self.sticky.partition(n, &available, ctx.rng()),
            };
            let value = record_value(id, self.workload.value_size);
            if key.is_none() {
                self.sticky.on_append(
                    value.len(),
                    self.config.batch_size,
                    n,
                    &available,
                    ctx.rng(),
                );
            }
            let tp = TopicPartition::new(&self.workload.topic, partition);
            ctx.observe(ProducerObs::Sent { id, partition, seq }.into());
            self.accumulator.append(
                tp,
                PendingRecord {
                    id,
                    key,
                    value,
                    timestamp_ms: now_ms,
                },
                now_ms,
            );
        }
    }

    /// Sends every ready batch whose leader is known and has room in flight.
    fn send_ready<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let now_ms = Self::now_ms(ctx);
        for batch in self.accumulator.expire(now_ms) {
            self.expire_batch(ctx, &batch);
        }
        if self.config.idempotence && self.producer_id < 0 {
            self.init_producer_id(ctx);
            return;
        }
        let (ready, next) = self.accumulator.ready(now_ms);
        let mut per_broker: BTreeMap<u32, Vec<ProducerBatch>> = BTreeMap::new();
        let mut missing_leader = false;
        for tp in ready {
            let Some(leader) = self
                .partitions
                .iter()
                .find(|p| p.partition == tp.partition)
                .and_then(|p| p.leader)
            else {
                missing_leader = true;
                continue;
            };
            let in_flight = self
                .in_flight
                .values()
                .filter(|f| f.broker == leader)
                .count();
            if in_flight >= self.config.max_in_flight {
                continue;
            }
            let sequences = &mut self.sequences;
            let idempotent = self.config.idempotence;
            let mut next_sequence = |tp: &TopicPartition, records: u32| -> i32 {
                if !idempotent {
                    return -1;
                }
                let s = sequences.entry(tp.clone()).or_insert(0);
                let base = *s;
                *s = s.wrapping_add(records as i32);
                base
            };
            if let Some(batch) = self.accumulator.drain(&tp, now_ms, &mut next_sequence) {
                per_broker.entry(leader).or_default().push(batch);
            }
        }
        for (broker, batches) in per_broker {
            let partitions = batches
                .iter()
                .map(|b| ProduceData {
                    tp: b.tp.clone(),
                    records: b
                        .records
                        .iter()
                        .map(|r| Record {
                            key: r.key.clone(),
                            value: r.value.clone(),
                            timestamp_ms: r.timestamp_ms,
                        })
                        .collect(),
                    producer_id: if self.config.idempotence {
                        self.producer_id
                    } else {
                        -1
                    },
                    producer_epoch: if self.config.idempotence {
                        self.producer_epoch
                    } else {
                        -1
                    },
                    base_sequence: b.base_sequence,
                })
                .collect();
            let request = KafkaRequest::Produce {
                acks: self.config.acks,
                timeout_ms: self.config.request_timeout_ms,
                partitions,
            };
            let c = self.request(ctx, broker, request);
            if self.config.acks == 0 {
                // Nothing will answer: the records count as sent.
                for b in &batches {
                    for r in &b.records {
                        ctx.observe(
                            ProducerObs::Acked {
                                id: r.id,
                                offset: None,
                            }
                            .into(),
                        );
                    }
                    self.accumulator.complete(&b.tp, b.id);
                }
            } else {
                self.in_flight.insert(c, InFlight { broker, batches });
            }
        }
        if missing_leader {
            self.refresh_metadata(ctx);
        }
        let next = match (next, self.accumulator.next_expiry_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at_ms) = next {
            let at = (at_ms * MILLIS).max(ctx.now() + 1);
            if self.send_timer_at.is_none_or(|t| t > at || t <= ctx.now()) {
                self.send_timer_at = Some(at);
                ctx.set_timer(at - ctx.now(), ProducerTimer::Send.into());
            }
        }
    }

    /// A batch expired (delivery.timeout.ms): never sent, it definitely
    /// failed; sent before, its records may or may not be in the log.
    fn expire_batch<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>, batch: &ProducerBatch) {
        let why = "delivery.timeout.ms expired".to_owned();
        for r in &batch.records {
            let obs = if batch.attempts == 0 {
                ProducerObs::Failed {
                    id: r.id,
                    error: why.clone(),
                }
            } else {
                ProducerObs::Indeterminate {
                    id: r.id,
                    reason: why.clone(),
                }
            };
            ctx.observe(obs.into());
        }
    }

    /// A broker answered.
    pub fn on_message<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>, msg: KafkaMsg) {
        let KafkaMsg::Response {
            correlation_id,
            response,
        } = msg
        else {
            return;
        };
        match response {
            KafkaResponse::Metadata { topics } => {
                if self.other_in_flight.remove(&correlation_id).is_none() {
                    return;
                }
                self.metadata_in_flight = None;
                match topics.into_iter().find(|(t, _)| *t == self.workload.topic) {
                    Some((_, parts)) if !parts.is_empty() => self.partitions = parts,
                    _ => {
                        ctx.set_timer(
                            self.config.retry_backoff_ms * MILLIS,
                            ProducerTimer::Metadata.into(),
                        );
                    }
                }
                self.send_ready(ctx);
            }
            KafkaResponse::InitProducerId {
                error,
                producer_id,
                producer_epoch,
            } => {
                if self.other_in_flight.remove(&correlation_id).is_none() {
                    return;
                }
                self.init_in_flight = None;
                if error.is_none() {
                    self.producer_id = producer_id;
                    self.producer_epoch = producer_epoch;
                    self.accumulator
                        .set_producer_id_and_epoch(producer_id, producer_epoch);
                    self.sequences.clear();
                    self.last_acked_sequence.clear();
                    self.send_ready(ctx);
                } else {
                    let backoff = self.config.retry_backoff_ms * MILLIS;
                    self.init_not_before = ctx.now() + backoff;
                    ctx.set_timer(backoff, ProducerTimer::Send.into());
                }
            }
            KafkaResponse::Produce { partitions } => {
                let Some(flight) = self.in_flight.remove(&correlation_id) else {
                    return;
                };
                self.on_produce(ctx, flight, partitions);
            }
            _ => {}
        }
    }

    fn on_produce<N: ProducerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        flight: InFlight,
        results: Vec<ProduceResult>,
    ) {
        let now_ms = Self::now_ms(ctx);
        let mut refresh = false;
        for batch in flight.batches {
            let result = results.iter().find(|r| r.tp == batch.tp);
            let error = result.map_or(Some(Errors::NetworkException), |r| r.error);
            match error {
                None => {
                    let base = result.map_or(-1, |r| r.base_offset);
                    for (i, r) in batch.records.iter().enumerate() {
                        let offset = u64::try_from(base).ok().map(|b| b + i as u64);
                        ctx.observe(ProducerObs::Acked { id: r.id, offset }.into());
                    }
                    if batch.base_sequence >= 0 {
                        let last = batch
                            .base_sequence
                            .wrapping_add(batch.records.len() as i32 - 1);
                        self.last_acked_sequence.insert(batch.tp.clone(), last);
                    }
                    self.accumulator.complete(&batch.tp, batch.id);
                }
                Some(e) => {
                    refresh |= matches!(
                        e,
                        Errors::NotLeaderOrFollower
                            | Errors::FencedLeaderEpoch
                            | Errors::UnknownLeaderEpoch
                            | Errors::NetworkException
                    );
                    self.retry_or_fail(ctx, batch, e, now_ms);
                }
            }
        }
        if refresh {
            self.refresh_metadata(ctx);
        }
        self.send_ready(ctx);
    }

    /// Retries a failed batch if Kafka would, else ends its records.
    fn retry_or_fail<N: ProducerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        batch: ProducerBatch,
        error: Errors,
        now_ms: u64,
    ) {
        let expired = now_ms.saturating_sub(batch.created_ms) >= self.config.delivery_timeout_ms;
        let out_of_retries = batch.attempts > self.config.retries;
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
            Errors::InvalidProducerEpoch | Errors::InvalidRequest => false,
            _ => true,
        };
        if retriable && !expired && !out_of_retries {
            self.accumulator.reenqueue(batch, now_ms);
            return;
        }
        self.accumulator.complete(&batch.tp, batch.id);
        for r in &batch.records {
            ctx.observe(
                ProducerObs::Indeterminate {
                    id: r.id,
                    reason: error.name().to_owned(),
                }
                .into(),
            );
        }
        if matches!(
            error,
            Errors::OutOfOrderSequenceNumber
                | Errors::InvalidProducerEpoch
                | Errors::UnknownProducerId
        ) {
            // KIP-360: start over with a new producer id and fresh sequences.
            self.producer_id = -1;
            self.accumulator.reset_sequences();
            self.init_producer_id(ctx);
        }
    }

    /// A timer fired.
    pub fn on_timer<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: ProducerTimer) {
        match timer {
            ProducerTimer::Generate => {
                self.generate(ctx);
                self.send_ready(ctx);
                if ctx.now() < self.workload.stop_at_ns {
                    ctx.set_timer(GENERATE_TICK_NS, ProducerTimer::Generate.into());
                }
            }
            ProducerTimer::Send => {
                self.send_timer_at = None;
                self.send_ready(ctx);
            }
            ProducerTimer::Metadata => self.refresh_metadata(ctx),
            ProducerTimer::Timeout(c) => {
                if let Some(flight) = self.in_flight.remove(&c) {
                    let now_ms = Self::now_ms(ctx);
                    for batch in flight.batches {
                        self.retry_or_fail(ctx, batch, Errors::RequestTimedOut, now_ms);
                    }
                    self.refresh_metadata(ctx);
                    self.send_ready(ctx);
                } else if self.other_in_flight.remove(&c).is_some() {
                    if self.metadata_in_flight == Some(c) {
                        self.metadata_in_flight = None;
                        self.refresh_metadata(ctx);
                    }
                    if self.init_in_flight == Some(c) {
                        self.init_in_flight = None;
                        self.send_ready(ctx);
                    }
                }
            }
        }
    }

    /// A connection broke: requests in flight to that broker fail with
    /// NETWORK_EXCEPTION (their outcome is unknown) and are retried.
    pub fn on_disconnect<N: ProducerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        let Some(broker) = broker_at(&self.brokers, peer) else {
            return;
        };
        let now_ms = Self::now_ms(ctx);
        let lost: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.broker == broker)
            .map(|(&c, _)| c)
            .collect();
        for c in lost {
            let flight = self.in_flight.remove(&c).expect("listed");
            for batch in flight.batches {
                self.retry_or_fail(ctx, batch, Errors::NetworkException, now_ms);
            }
        }
        let other: Vec<u64> = self
            .other_in_flight
            .iter()
            .filter(|(_, &b)| b == broker)
            .map(|(&c, _)| c)
            .collect();
        for c in other {
            self.other_in_flight.remove(&c);
            if self.metadata_in_flight == Some(c) {
                self.metadata_in_flight = None;
            }
            if self.init_in_flight == Some(c) {
                self.init_in_flight = None;
            }
        }
        self.refresh_metadata(ctx);
        ctx.set_timer(
            self.config.retry_backoff_ms * MILLIS,
            ProducerTimer::Send.into(),
        );
    }
}

/// A node type that can host a producer.
pub trait ProducerHost:
    Node<Msg: From<KafkaMsg>, Timer: From<ProducerTimer>, Obs: From<ProducerObs>>
{
}

impl<N> ProducerHost for N where
    N: Node<Msg: From<KafkaMsg>, Timer: From<ProducerTimer>, Obs: From<ProducerObs>>
{
}
