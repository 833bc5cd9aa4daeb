//! A consumer in a group (Kafka's KafkaConsumer with its ConsumerCoordinator
//! and Fetcher): it joins its group through [`Membership`], fetches the
//! committed offsets of the partitions it is assigned (OffsetFetch; without
//! one, `auto.offset.reset` by ListOffsets), fetches their records from the
//! leaders up to the high watermark, validates its position after a leader
//! change (KIP-320 OffsetForLeaderEpoch), and runs an application loop: poll
//! up to `max.poll.records`, process, commit — after processing
//! (`processing = "at-least-once"`) or before (`"at-most-once"`), with
//! `enable.auto.commit` committing the previous poll's position every
//! `auto.commit.interval.ms` at the next poll, as the Java client does.
//!
//! Everything it sees and does is reported as a [`ConsumerObs`]: the group
//! checkers read ownership per generation, positions, polls, processing and
//! commits from them.

mod app;
mod completed_fetch;
mod fetch;
mod group;
pub use completed_fetch::read_completed_fetch;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim::{Nanos, MILLIS};

use super::membership::{Membership, MembershipConfig};
use super::metadata_age::MetadataAge;
use crate::errors::Errors;
use crate::node::{Address, Env, Input, KafkaNodeId, NetworkClient, Timer};
use crate::protocol::{Connection, IsolationLevel, KafkaMsg, KafkaRequest, Message, TopicId};
use completed_fetch::Fetched;

/// The delivery guarantee a consumer application implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Processing {
    /// Process a poll's records, then commit (`"at-least-once"`, the default).
    AtLeastOnce,
    /// Commit a poll's offsets, then process (`"at-most-once"`).
    AtMostOnce,
    /// A consume-transform-produce pipeline member polls, and commits in
    /// its transaction or after its producer flushed: the consumer itself
    /// neither processes nor commits (`[[pipelines]]`).
    Pipeline,
}

impl Processing {
    /// The scenario file's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Processing::AtLeastOnce => "at-least-once",
            Processing::AtMostOnce => "at-most-once",
            Processing::Pipeline => "pipeline",
        }
    }
}

/// How often the consumer's loop runs when nothing else wakes it (the
/// `poll(Duration.ofMillis(100))` of a typical application).
const TICK_NS: Nanos = 100 * MILLIS;

/// Where a consumer without a committed offset starts (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start.
    Earliest,
    /// The high watermark.
    Latest,
    /// Fail.
    None,
}

/// Deliberate consumer bugs, for tests that prove the group checkers fire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConsumerMutations {
    /// Every position taken from a commit or a reset skips one record.
    pub skip_after_position: bool,
    /// Revoked partitions are kept and consumed on.
    pub ignore_revocation: bool,
    /// poll() hands out the last record again after every poll.
    pub repeat_last_record: bool,
    /// A read_committed consumer keeps the records of aborted transactions
    /// (it still reads only up to the last stable offset).
    pub keep_aborted_records: bool,
}

/// A consumer's configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`: the brokers' Kafka node ids.
    pub bootstrap_servers: Vec<KafkaNodeId>,
    /// The topic it subscribes to.
    pub topic: String,
    /// That topic's id in the run's topic table.
    pub topic_id: TopicId,
    /// Its group membership configs.
    pub membership: MembershipConfig,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait_ms: u64,
    /// `isolation.level`.
    pub isolation_level: IsolationLevel,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `metadata.max.age.ms`: metadata older than this is refreshed.
    pub metadata_max_age_ms: u64,
    /// `default.api.timeout.ms`: how long commitSync retries.
    pub default_api_timeout_ms: u64,
    /// Commit after processing, or before.
    pub processing: Processing,
    /// How long processing a poll's records takes.
    pub processing_time_ns: Nanos,
    /// KIP-320's consumer part (Kafka 2.3, `[protocol]
    /// consumer_leader_epoch_validation`): Fetch and ListOffsets carry the
    /// leader epoch of the consumer's metadata (a leader in another epoch
    /// fences them), and after a leader change the position is validated
    /// with OffsetsForLeaderEpoch. Off: no epoch (-1), no validation.
    pub leader_epoch_validation: bool,
    /// Test-only bugs.
    pub mutations: ConsumerMutations,
}

/// The consumer's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ConsumerTimer {
    /// Refresh metadata.
    Metadata,
    /// The application loop and the group membership's clock.
    Tick,
    /// Processing of poll number N finished.
    ProcessingDone(u64),
    /// close() ran out of time: leave without waiting longer.
    CloseTimeout,
    /// The metadata may have reached `metadata.max.age.ms` (last, so that
    /// the other variants keep their place in every trace hash).
    MetadataMaxAge,
}

/// How long close() waits for its last commit (KafkaConsumer's
/// DEFAULT_CLOSE_TIMEOUT_MS).
const CLOSE_TIMEOUT_NS: Nanos = 30_000 * MILLIS;

/// Where a close() is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Closing {
    /// Not asked to close.
    #[default]
    Open,
    /// Finishing the poll in hand and its last commit.
    Finishing {
        /// The auto commit of the position has been made (or needs none).
        committed: bool,
    },
    /// It left its group and does nothing more.
    Closed,
}

/// How a consumer came to read a partition from an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PositionSource {
    /// The group's committed offset, from an OffsetFetch sent at this time.
    Committed {
        /// When the OffsetFetch was sent.
        requested_at: Nanos,
    },
    /// No committed offset (OffsetFetch sent at this time): `auto.offset.reset`.
    Reset {
        /// When the OffsetFetch that found none was sent.
        requested_at: Nanos,
    },
    /// The log was truncated below its position (KIP-320).
    Truncation,
    /// A fetch at `from` got OFFSET_OUT_OF_RANGE (retention removed it, or
    /// the log ends before it): `auto.offset.reset` moved the position.
    OutOfRange {
        /// The position that was out of range.
        from: u64,
    },
    /// The fetched batches up to here held nothing for the application:
    /// transaction markers, and under read_committed the records of aborted
    /// transactions (Kafka's CompletedFetch skips them).
    Skipped,
}

/// A record poll() returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolledRecord {
    /// The partition (of the consumer's topic).
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
    /// The workload's record id.
    pub id: u64,
    /// The leader epoch of its batch.
    pub leader_epoch: i32,
    /// The topic id of the log it was read from (which incarnation of a
    /// recreated topic).
    pub topic_id: crate::metadata::Uuid,
}

/// What a consumer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerObs {
    /// A new incarnation started (a restart after a crash starts over).
    Started,
    /// After a rebalance: every partition this member owns in `generation`.
    Assigned {
        /// The group generation.
        generation: i32,
        /// The member id.
        member_id: String,
        /// Partitions of the consumer's topic.
        partitions: Vec<u32>,
    },
    /// It gave these partitions up: revoked (after a chance to commit) or lost.
    Released {
        /// Partitions.
        partitions: Vec<u32>,
        /// Lost without a commit (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID).
        lost: bool,
    },
    /// It reads `partition` from `offset` on.
    Position {
        /// The partition.
        partition: u32,
        /// The offset.
        offset: u64,
        /// Why there.
        source: PositionSource,
    },
    /// poll() returned these records, in the order it returned them.
    Polled(Vec<PolledRecord>),
    /// The application finished processing a poll's records: (partition, offset, id).
    Processed(Vec<(u32, u64, u64)>),
    /// An OffsetCommit was sent.
    CommitSent {
        /// The generation it carries.
        generation: i32,
        /// (partition, offset) to commit.
        offsets: Vec<(u32, u64)>,
    },
    /// An OffsetCommit ended.
    Committed {
        /// The generation it carried.
        generation: i32,
        /// (partition, offset) committed.
        offsets: Vec<(u32, u64)>,
        /// Why it failed, if it did.
        error: Option<Errors>,
    },
    /// The new leader's log ends before what it had consumed.
    TruncationDetected {
        /// The partition.
        partition: u32,
        /// Its position before.
        position: u64,
        /// Where the new leader's epoch ends (its new position).
        end_offset: u64,
    },
    /// Fenced for good (FENCED_INSTANCE_ID) or no offset to start from: it stops.
    Fatal(Errors),
    /// close() finished: it left its group (LeaveGroup sent if it was a member).
    Closed,
}

/// One owned partition.
#[derive(Clone, Debug, Default)]
struct Owned {
    /// Next offset poll() returns (None until known).
    position: Option<u64>,
    /// The offset after the last processed record.
    processed: Option<u64>,
    /// Epoch of the last consumed record.
    last_epoch: Option<i32>,
    /// Records fetched from `position` on, not yet polled.
    buffer: VecDeque<Fetched>,
    /// Where the fetch that filled the buffer ended: past its last record,
    /// or past the markers and aborted batches after it (0: nothing fetched).
    next_fetch_offset: u64,
    /// A Fetch including it is in flight.
    fetching: bool,
    /// OffsetForLeaderEpoch in flight.
    validating: bool,
    /// OffsetFetch or ListOffsets in flight.
    resolving: bool,
    /// No new OffsetFetch before then (after a failed one), ms.
    retry_at_ms: u64,
    /// Which assignment of the partition to this consumer this is.
    incarnation: u64,
    /// The topic id of the log the buffered records came from.
    topic_id: crate::metadata::Uuid,
}

impl Owned {
    /// Drops what was fetched and not yet polled (the position moved).
    fn drop_fetched(&mut self) {
        self.buffer.clear();
        self.next_fetch_offset = 0;
    }
}

/// A request in flight.
#[derive(Clone, Debug)]
enum InFlight {
    Metadata,
    Fetch(Vec<(u32, u64)>),
    Validate(u32),
    ListOffsets(u32, PositionSource),
    FindCoordinator,
    Membership,
    Commit(Commit),
    OffsetFetch {
        requested_at: Nanos,
        partitions: Vec<u32>,
    },
}

/// Why a commit was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CommitPurpose {
    /// `enable.auto.commit`, asynchronous, never retried.
    Auto,
    /// commitSync by the application.
    Sync,
    /// Before giving partitions up.
    Revoke,
}

/// A commit in flight.
#[derive(Clone, Debug)]
struct Commit {
    purpose: CommitPurpose,
    generation: i32,
    offsets: Vec<(u32, u64, i32)>,
}

/// The application loop's state.
#[derive(Clone, Debug, Default)]
enum App {
    /// Ready to poll.
    #[default]
    Idle,
    /// Processing poll `seq`'s records.
    Processing {
        seq: u64,
        records: Vec<(u32, u64, u64)>,
        /// Each partition's incarnation when polled.
        owners: BTreeMap<u32, u64>,
        then_commit: bool,
    },
    /// commitSync in progress; at-most-once processes `records` after it.
    Committing {
        generation: i32,
        offsets: Vec<(u32, u64, i32)>,
        records: Option<Vec<(u32, u64, u64)>>,
        in_flight: bool,
        started_ms: u64,
    },
}

/// A consumer of one topic in a group.
#[derive(Debug)]
pub struct Consumer {
    config: ConsumerConfig,
    brokers: Vec<KafkaNodeId>,
    membership: Membership,
    partition_count: Option<u32>,
    leaders: BTreeMap<u32, (u32, i32)>,
    /// Partitions whose leader failed a request: no fetch until metadata comes back.
    stale_leaders: BTreeSet<u32>,
    owned: BTreeMap<u32, Owned>,
    network: NetworkClient<InFlight>,
    fetching: BTreeSet<u32>,
    metadata_in_flight: bool,
    /// `metadata.max.age.ms`: when the next refresh is due.
    metadata_age: MetadataAge,
    find_in_flight: bool,
    app: App,
    polls: u64,
    incarnations: u64,
    poll_cursor: u32,
    next_auto_commit_ms: u64,
    stopped: bool,
    /// The error it stopped on, when one stopped it.
    fatal: Option<Errors>,
    closing: Closing,
    /// Revocation commits in flight: the JoinGroup waits for them.
    revoke_commits: u32,
    /// How many times it gave partitions up (revoked or lost).
    releases: u64,
}

impl Consumer {
    /// Boots: a restarted consumer starts over as a new member.
    pub fn boot(config: &ConsumerConfig, env: &mut Env<'_>) -> Self {
        let membership = Membership::new(config.membership.clone(), vec![config.topic.clone()]);
        let mut consumer = Self {
            config: config.clone(),
            brokers: config.bootstrap_servers.clone(),
            membership,
            partition_count: None,
            leaders: BTreeMap::new(),
            stale_leaders: BTreeSet::new(),
            owned: BTreeMap::new(),
            network: NetworkClient::new(Connection::Consumer),
            fetching: BTreeSet::new(),
            metadata_in_flight: false,
            metadata_age: MetadataAge::default(),
            find_in_flight: false,
            app: App::Idle,
            polls: 0,
            incarnations: 0,
            poll_cursor: 0,
            next_auto_commit_ms: 0,
            stopped: false,
            fatal: None,
            closing: Closing::Open,
            revoke_commits: 0,
            releases: 0,
        };
        env.observe(ConsumerObs::Started);
        consumer.next_auto_commit_ms = env.now_ms() + consumer.config.auto_commit_interval_ms;
        consumer.refresh_metadata(env);
        env.set_timer_after(TICK_NS, ConsumerTimer::Tick);
        consumer
    }

    /// The partitions it owns with their positions (next offset to read).
    pub fn positions(&self) -> BTreeMap<u32, u64> {
        self.owned
            .iter()
            .map(|(&p, o)| (p, o.position.unwrap_or(0)))
            .collect()
    }

    /// Whether it stopped for good.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The error that stopped it for good, if one did.
    pub fn fatal_error(&self) -> Option<Errors> {
        self.fatal
    }

    /// The application got `error` and stops.
    pub(super) fn stop_on(&mut self, env: &mut Env<'_>, error: Errors) {
        self.stopped = true;
        self.fatal = Some(error);
        env.observe(ConsumerObs::Fatal(error));
    }

    /// Whether close() finished: it left its group and does nothing more.
    pub fn is_closed(&self) -> bool {
        self.closing == Closing::Closed
    }

    /// KafkaConsumer.close(): the poll in hand is processed (and committed
    /// as its mode commits), then with `enable.auto.commit` the position is
    /// committed (commitSync), every owned partition is revoked, LeaveGroup
    /// is sent, and the consumer stops. After 30 s it leaves whatever is
    /// still pending.
    fn close(&mut self, env: &mut Env<'_>) {
        if self.stopped || self.closing != Closing::Open {
            return;
        }
        self.closing = Closing::Finishing {
            committed: !self.config.enable_auto_commit,
        };
        env.set_timer_after(CLOSE_TIMEOUT_NS, ConsumerTimer::CloseTimeout);
        self.step(env);
    }

    /// The end of close(): revoke everything, LeaveGroup, stop.
    fn leave_group(&mut self, env: &mut Env<'_>) {
        self.app = App::Idle;
        let owned: Vec<u32> = self.owned.keys().copied().collect();
        if !owned.is_empty() {
            self.owned.clear();
            env.observe(ConsumerObs::Released {
                partitions: owned,
                lost: false,
            });
        }
        let mut out = Vec::new();
        self.membership.leave(&mut out);
        for o in out {
            if let super::membership::MembershipOutput::Send(broker, request) = o {
                let request = KafkaRequest::Group {
                    group_id: self.config.membership.group_id.clone(),
                    request: Box::new(request),
                };
                self.send(env, broker, request, InFlight::Membership);
            }
        }
        self.closing = Closing::Closed;
        self.stopped = true;
        env.observe(ConsumerObs::Closed);
    }

    /// Its group membership.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Its configs.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// How many times it gave partitions up (revoked or lost).
    pub fn releases(&self) -> u64 {
        self.releases
    }

    /// Whether the request `correlation_id` is this consumer's, in flight.
    pub fn awaits(&self, correlation_id: u64) -> bool {
        self.network.awaits(correlation_id)
    }

    /// The last correlation id it used.
    pub fn last_correlation_id(&self) -> u64 {
        self.network.last_correlation_id()
    }

    /// Numbers its next requests after `last` (see [`NetworkClient::number_after`]).
    pub fn number_after(&mut self, last: u64) {
        self.network.number_after(last);
    }

    /// A pipeline's poll(): up to `max.poll.records` buffered records.
    pub fn poll_records(&mut self, env: &mut Env<'_>) -> Vec<(u32, u64, u64)> {
        if self.stopped || self.closing != Closing::Open {
            return Vec::new();
        }
        let records = self.take_records(env);
        if !records.is_empty() {
            self.polls += 1;
        }
        records
    }

    /// (partition, position, epoch of the last record) of every owned
    /// partition with a position: what a commit of the consumed records sends.
    pub fn positions_to_commit(&self) -> Vec<(u32, u64, i32)> {
        self.consumed_offsets()
    }

    /// Every owned partition goes back to its committed offset (what it
    /// consumed since is processed again): a pipeline whose transaction
    /// aborted, or whose output failed, starts over from its last commit.
    pub fn rewind(&mut self, env: &mut Env<'_>) {
        for o in self.owned.values_mut() {
            o.position = None;
            o.processed = None;
            o.drop_fetched();
        }
        self.step(env);
    }

    /// commitSync of `offsets` in the current generation, for a pipeline
    /// (false when a commit is in progress or there is nothing to commit).
    pub fn commit_sync(&mut self, env: &mut Env<'_>, offsets: Vec<(u32, u64, i32)>) -> bool {
        if !matches!(self.app, App::Idle) || offsets.is_empty() || !self.membership.is_stable() {
            return false;
        }
        self.app = App::Committing {
            generation: self.membership.generation_id(),
            offsets,
            records: None,
            in_flight: false,
            started_ms: env.now_ms(),
        };
        self.step(env);
        true
    }

    /// Whether a commitSync is in progress.
    pub fn committing(&self) -> bool {
        matches!(self.app, App::Committing { .. })
    }

    fn send(
        &mut self,
        env: &mut Env<'_>,
        broker: KafkaNodeId,
        request: KafkaRequest,
        what: InFlight,
    ) -> u64 {
        let timeout = request_timeout_ms(self.config.request_timeout_ms, &request) * MILLIS;
        // Group requests go to the coordinator on a connection of their own.
        let connection = if matches!(request, KafkaRequest::Group { .. }) {
            Connection::GroupCoordinator
        } else {
            Connection::Consumer
        };
        self.network.send_via(
            env,
            connection,
            Address::Node(broker),
            request,
            timeout,
            what,
        )
    }

    /// Handles one input.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        if self.stopped {
            return;
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
                let Some(flight) = self.network.complete(correlation_id) else {
                    return;
                };
                let broker = flight.to.node().unwrap_or(0);
                match flight.purpose {
                    what @ (InFlight::Metadata
                    | InFlight::Fetch(_)
                    | InFlight::Validate(_)
                    | InFlight::ListOffsets(..)) => {
                        self.on_data_response(env, broker, what, response)
                    }
                    what @ (InFlight::FindCoordinator
                    | InFlight::Membership
                    | InFlight::Commit(_)
                    | InFlight::OffsetFetch { .. }) => self.on_group_response(env, what, response),
                }
            }
            Input::Timer(Timer::RequestTimeout) => {
                for (_, flight) in self.network.expire(env) {
                    let broker = flight.to.node().unwrap_or(0);
                    self.on_lost(env, broker, flight.purpose);
                }
            }
            Input::Timer(Timer::Consumer(timer)) => match timer {
                ConsumerTimer::Metadata => self.refresh_metadata(env),
                ConsumerTimer::MetadataMaxAge => {
                    let max_age = self.config.metadata_max_age_ms;
                    if self
                        .metadata_age
                        .fired(env, max_age, ConsumerTimer::MetadataMaxAge)
                    {
                        self.refresh_metadata(env);
                    }
                }
                ConsumerTimer::Tick => env.set_timer_after(TICK_NS, ConsumerTimer::Tick),
                ConsumerTimer::ProcessingDone(seq) => self.on_processed(env, seq),
                ConsumerTimer::CloseTimeout => {
                    if self.closing != Closing::Open {
                        self.leave_group(env);
                        return;
                    }
                }
            },
            Input::Disconnected(peer) => self.on_disconnect(env, peer),
            Input::Close => {
                self.close(env);
                return;
            }
            _ => return,
        }
        self.step(env);
    }

    /// A connection broke: what was in flight to that broker is lost.
    fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        let Some(broker) = peer.node() else {
            return;
        };
        for (_, flight) in self.network.disconnected(peer) {
            self.on_lost(env, broker, flight.purpose);
        }
        if self.membership.coordinator() == Some(broker) {
            self.membership.on_coordinator_lost(env.now_ms());
        }
    }

    /// A request got no answer (timeout or broken connection).
    fn on_lost(&mut self, env: &mut Env<'_>, broker: u32, what: InFlight) {
        let now_ms = env.now_ms();
        match what {
            InFlight::Metadata => {
                self.metadata_in_flight = false;
                env.set_timer_after(
                    self.config.retry_backoff_ms * MILLIS,
                    ConsumerTimer::Metadata,
                );
            }
            InFlight::Fetch(parts) => {
                self.fetching.remove(&broker);
                for (p, _) in parts {
                    if let Some(o) = self.owned.get_mut(&p) {
                        o.fetching = false;
                    }
                    self.stale_leaders.insert(p);
                }
                self.refresh_metadata(env);
            }
            InFlight::Validate(p) | InFlight::ListOffsets(p, _) => {
                if let Some(o) = self.owned.get_mut(&p) {
                    o.validating = false;
                    o.resolving = false;
                    o.retry_at_ms = now_ms + self.config.retry_backoff_ms;
                }
                self.refresh_metadata(env);
            }
            InFlight::FindCoordinator => self.find_in_flight = false,
            InFlight::Membership => self.membership.on_coordinator_lost(now_ms),
            InFlight::Commit(commit) => {
                self.membership.on_coordinator_lost(now_ms);
                self.on_commit_done(env, commit, Some(Errors::RequestTimedOut));
            }
            InFlight::OffsetFetch { partitions, .. } => {
                self.membership.on_coordinator_lost(now_ms);
                for p in partitions {
                    if let Some(o) = self.owned.get_mut(&p) {
                        o.resolving = false;
                        o.retry_at_ms = now_ms + self.config.retry_backoff_ms;
                    }
                }
            }
        }
    }

    /// Runs everything that can make progress now.
    fn step(&mut self, env: &mut Env<'_>) {
        if self.stopped {
            return;
        }
        self.drive_membership(env);
        self.resolve_positions(env);
        self.app_step(env);
        self.fetch_all(env);
    }
}

/// Kafka's `AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE`: what a JoinGroup
/// waits beyond the rebalance timeout before the client gives up on it.
pub const JOIN_GROUP_TIMEOUT_LAPSE_MS: u64 = 5000;

/// How long the consumer waits for the answer to `request`: `request.timeout.ms`,
/// but for a JoinGroup, which the coordinator may hold for the whole
/// rebalance, the rebalance timeout (`max.poll.interval.ms`) plus
/// [`JOIN_GROUP_TIMEOUT_LAPSE_MS`] if that is longer (Kafka's
/// `AbstractCoordinator.sendJoinGroupRequest`).
pub fn request_timeout_ms(request_timeout_ms: u64, request: &KafkaRequest) -> u64 {
    match request {
        KafkaRequest::Group { request, .. } => match request.as_ref() {
            crate::group::coordinator::CoordinatorRequest::JoinGroup(join) => request_timeout_ms
                .max(
                    join.rebalance_timeout_ms
                        .saturating_add(JOIN_GROUP_TIMEOUT_LAPSE_MS),
                ),
            _ => request_timeout_ms,
        },
        _ => request_timeout_ms,
    }
}
