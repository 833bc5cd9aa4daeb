//! A consume-transform-produce pipeline member (what a Kafka Streams
//! thread, a Flink Kafka job or a hand-written EOS loop does): a consumer
//! in the pipeline's group reads the input topic, and for every input
//! record a producer writes one output record carrying the input's record
//! id to the output topic.
//!
//! - `exactly_once_v2` (Kafka Streams' EOS v2, KIP-447): one transactional
//!   producer per member; the records of a transaction are the outputs of
//!   what it polled since the last commit; every `commit.interval.ms` the
//!   member sends its consumer's positions to the transaction
//!   (`sendOffsetsToTransaction` with the consumer's group metadata) and
//!   commits it. Its consumer reads read_committed. A transaction that
//!   aborts — a failed send, a TxnOffsetCommit fenced by a newer
//!   generation (a zombie), partitions revoked or lost — takes its outputs
//!   with it, and the member starts over from the committed offsets, as
//!   Streams closes its tasks dirty and revives them.
//! - `at_least_once`: an idempotent producer; every `commit.interval.ms`
//!   the member flushes its producer, then commits the consumer's positions
//!   (commitSync). A crash between the two processes records again:
//!   duplicates, as Kafka documents.
//!
//! The consumer and the producer are the member's two clients, each with
//! its own network client; they number their requests in one sequence, so
//! an answer goes to the client whose request it answers.

use super::consumer::{Consumer, ConsumerConfig};
use super::producer::{Producer, ProducerSpec};
use super::transaction_manager::{TxnClientState, TxnOffsets};
use super::TxnOutcome;
use crate::node::{Env, Input, Timer};
use crate::protocol::{KafkaMsg, Message, TopicPartition};

/// Kafka Streams' `processing.guarantee`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ProcessingGuarantee {
    /// `exactly_once_v2`.
    ExactlyOnceV2,
    /// `at_least_once`.
    AtLeastOnce,
}

impl ProcessingGuarantee {
    /// Kafka's word for it.
    pub fn name(self) -> &'static str {
        match self {
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
        }
    }

    /// Kafka Streams' `commit.interval.ms` default for the guarantee.
    pub fn default_commit_interval_ms(self) -> u64 {
        match self {
            ProcessingGuarantee::ExactlyOnceV2 => 100,
            ProcessingGuarantee::AtLeastOnce => 30_000,
        }
    }
}

/// What a pipeline member is set up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineSpec {
    /// Its consumer of the input topic (read_committed under EOS).
    pub consumer: ConsumerConfig,
    /// Its producer of the output topic (transactional under EOS).
    pub producer: ProducerSpec,
    /// `processing.guarantee`.
    pub guarantee: ProcessingGuarantee,
    /// `commit.interval.ms`.
    pub commit_interval_ms: u64,
}

/// Where the member's loop is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Polling and producing.
    Processing,
    /// EOS: the transaction is being committed or aborted.
    Ending,
    /// at_least_once: waiting for the producer's flush, then commitSync of
    /// these positions.
    Flushing(Vec<(u32, u64, i32)>),
    /// at_least_once: commitSync in progress.
    Committing,
}

/// A pipeline member process.
#[derive(Debug)]
pub struct Pipeline {
    consumer: Consumer,
    producer: Producer,
    guarantee: ProcessingGuarantee,
    commit_interval_ms: u64,
    next_commit_ms: u64,
    phase: Phase,
    /// Input records turned into outputs since the last commit.
    uncommitted: u64,
    /// The consumer's releases and the producer's ended transactions and
    /// failed sends already acted on.
    seen_releases: u64,
    seen_txns: u64,
    seen_failures: u64,
    /// close() was asked: the member commits what it has, then leaves.
    closing: bool,
}

impl Pipeline {
    /// Boots: a restarted member is a new process (its transactional id
    /// fences the old one's producer).
    pub fn boot(spec: &PipelineSpec, env: &mut Env<'_>) -> Self {
        let consumer = Consumer::boot(&spec.consumer, env);
        let producer = Producer::boot_driven(&spec.producer, env, consumer.last_correlation_id());
        Self {
            consumer,
            producer,
            guarantee: spec.guarantee,
            commit_interval_ms: spec.commit_interval_ms,
            next_commit_ms: env.now_ms() + spec.commit_interval_ms,
            phase: Phase::Processing,
            uncommitted: 0,
            seen_releases: 0,
            seen_txns: 0,
            seen_failures: 0,
            closing: false,
        }
    }

    /// Its consumer.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Handles one input: answers and timers go to the client they belong
    /// to, then the member's loop runs.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        match &input {
            Input::Message {
                msg: Message::Kafka(KafkaMsg::Response { correlation_id, .. }),
                ..
            } => {
                debug_assert!(
                    !(self.consumer.awaits(*correlation_id)
                        && self.producer.awaits(*correlation_id)),
                    "one correlation sequence for both clients"
                );
                if self.consumer.awaits(*correlation_id) {
                    self.hand_consumer(env, input);
                } else if self.producer.awaits(*correlation_id) {
                    self.hand_producer(env, input);
                }
            }
            Input::Timer(Timer::Consumer(_)) => self.hand_consumer(env, input),
            Input::Timer(Timer::Producer(_)) => self.hand_producer(env, input),
            Input::Timer(Timer::RequestTimeout) | Input::Disconnected(_) => {
                self.hand_consumer(env, input.clone());
                self.hand_producer(env, input);
            }
            Input::Close => self.closing = true,
            _ => return,
        }
        self.step(env);
    }

    fn hand_consumer(&mut self, env: &mut Env<'_>, input: Input) {
        self.consumer
            .number_after(self.producer.last_correlation_id());
        self.consumer.handle(env, input);
    }

    fn hand_producer(&mut self, env: &mut Env<'_>, input: Input) {
        self.producer
            .number_after(self.consumer.last_correlation_id());
        self.producer.handle(env, input);
    }

    /// The member's loop.
    fn step(&mut self, env: &mut Env<'_>) {
        if self.consumer.is_stopped() {
            return;
        }
        match self.guarantee {
            ProcessingGuarantee::ExactlyOnceV2 => self.step_exactly_once(env),
            ProcessingGuarantee::AtLeastOnce => self.step_at_least_once(env),
        }
        if self.closing && self.phase == Phase::Processing && self.uncommitted == 0 {
            self.hand_consumer(env, Input::Close);
        }
    }

    /// Starts over from the committed offsets.
    fn rewind(&mut self, env: &mut Env<'_>) {
        self.uncommitted = 0;
        self.consumer
            .number_after(self.producer.last_correlation_id());
        self.consumer.rewind(env);
    }

    fn step_exactly_once(&mut self, env: &mut Env<'_>) {
        let (ended, outcome) = self.producer.txn_ended();
        if ended != self.seen_txns {
            self.seen_txns = ended;
            self.phase = Phase::Processing;
            self.next_commit_ms = env.now_ms() + self.commit_interval_ms;
            if outcome == Some(TxnOutcome::Committed) {
                self.uncommitted = 0;
            } else {
                // Aborted, or fenced (a newer instance of its
                // transactional id): its outputs are gone, its inputs are
                // processed again from the committed offsets.
                self.rewind(env);
            }
        }
        let releases = self.consumer.releases();
        let state = self.producer.txn_state();
        if releases != self.seen_releases {
            // Partitions revoked or lost: the transaction holding their
            // outputs cannot commit their offsets any more.
            self.seen_releases = releases;
            if self.uncommitted > 0 && self.phase == Phase::Processing {
                self.abort(env);
                return;
            }
            self.rewind(env);
        }
        if state == Some(TxnClientState::AbortableError) {
            // A send or a TxnOffsetCommit failed (a zombie's commit fenced
            // by its generation): the transaction can only abort, even
            // while the member was committing it.
            self.abort(env);
            return;
        }
        if self.phase != Phase::Processing {
            return;
        }
        if state == Some(TxnClientState::Ready) {
            self.producer.begin_transaction();
        }
        if !self.closing {
            self.process(env);
        }
        let due = env.now_ms() >= self.next_commit_ms || self.closing;
        if due && self.uncommitted > 0 {
            self.commit_transaction(env);
        }
    }

    fn abort(&mut self, env: &mut Env<'_>) {
        self.phase = Phase::Ending;
        self.producer
            .number_after(self.consumer.last_correlation_id());
        self.producer.end_transaction(env, false);
    }

    /// sendOffsetsToTransaction with the consumer's group metadata, then
    /// commitTransaction.
    fn commit_transaction(&mut self, env: &mut Env<'_>) {
        let membership = self.consumer.membership();
        let config = self.consumer.config();
        let offsets = TxnOffsets {
            group_id: config.membership.group_id.clone(),
            generation_id: membership.generation_id(),
            member_id: membership.member_id().to_owned(),
            group_instance_id: config.membership.group_instance_id.clone(),
            offsets: self
                .consumer
                .positions_to_commit()
                .into_iter()
                .map(|(p, offset, epoch)| (TopicPartition::new(&config.topic, p), offset, epoch))
                .collect(),
        };
        self.producer
            .number_after(self.consumer.last_correlation_id());
        self.producer.send_offsets_to_transaction(offsets);
        self.phase = Phase::Ending;
        self.producer.end_transaction(env, true);
    }

    /// Polls and writes one output per input record, while the producer
    /// can take them.
    fn process(&mut self, env: &mut Env<'_>) {
        if !self.producer.ready() || !self.consumer.membership().is_stable() {
            return;
        }
        let records = self.consumer.poll_records(env);
        if records.is_empty() {
            return;
        }
        self.producer
            .number_after(self.consumer.last_correlation_id());
        for &(_, _, id) in &records {
            let sent = self.producer.send_record(env, id);
            debug_assert!(sent, "a ready producer takes every record");
        }
        self.uncommitted += records.len() as u64;
        self.producer.wake_now(env);
    }

    fn step_at_least_once(&mut self, env: &mut Env<'_>) {
        let failures = self.producer.send_failures();
        let releases = self.consumer.releases();
        if failures != self.seen_failures || releases != self.seen_releases {
            // A send failed (the task fails and is revived from its last
            // commit) or partitions moved: process from the committed offsets.
            self.seen_failures = failures;
            self.seen_releases = releases;
            self.phase = Phase::Processing;
            self.rewind(env);
        }
        match std::mem::replace(&mut self.phase, Phase::Processing) {
            Phase::Flushing(offsets) => {
                if self.producer.unflushed() {
                    self.phase = Phase::Flushing(offsets);
                } else {
                    self.consumer
                        .number_after(self.producer.last_correlation_id());
                    if self.consumer.commit_sync(env, offsets) {
                        self.phase = Phase::Committing;
                    }
                }
                return;
            }
            Phase::Committing => {
                if self.consumer.committing() {
                    self.phase = Phase::Committing;
                } else {
                    self.uncommitted = 0;
                    self.next_commit_ms = env.now_ms() + self.commit_interval_ms;
                }
                return;
            }
            Phase::Processing | Phase::Ending => {}
        }
        if !self.closing {
            self.process(env);
        }
        let due = env.now_ms() >= self.next_commit_ms || self.closing;
        if due && self.uncommitted > 0 {
            self.phase = Phase::Flushing(self.consumer.positions_to_commit());
            self.step_at_least_once(env);
        } else if due {
            self.next_commit_ms = env.now_ms() + self.commit_interval_ms;
        }
    }
}
