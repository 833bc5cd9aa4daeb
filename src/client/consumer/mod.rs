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
mod fetch;
mod group;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use super::membership::{Membership, MembershipConfig};
use crate::errors::Errors;
use crate::group::assignor::Assignor;
use crate::protocol::{KafkaMsg, KafkaRequest};
use crate::scenario::{ConsumerSpec, Processing};

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
}

/// A consumer's configs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// The topic it subscribes to.
    pub topic: String,
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
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `default.api.timeout.ms`: how long commitSync retries.
    pub default_api_timeout_ms: u64,
    /// Commit after processing, or before.
    pub processing: Processing,
    /// How long processing a poll's records takes.
    pub processing_time_ns: Nanos,
    /// Test-only bugs.
    pub mutations: ConsumerMutations,
}

impl ConsumerConfig {
    /// The configs of a `[[consumers]]` entry for the member named `client_id`.
    pub fn from_spec(spec: &ConsumerSpec, client_id: &str) -> Self {
        let c = &spec.config;
        let int = |name: &str, d: u64| c.get_i64(name).map_or(d, |v| u64::try_from(v).unwrap_or(d));
        let mut membership = MembershipConfig::new(&spec.group, client_id);
        membership.group_instance_id = c.get_str("group.instance.id");
        membership.session_timeout_ms = int("session.timeout.ms", membership.session_timeout_ms);
        membership.heartbeat_interval_ms =
            int("heartbeat.interval.ms", membership.heartbeat_interval_ms);
        membership.max_poll_interval_ms =
            int("max.poll.interval.ms", membership.max_poll_interval_ms);
        membership.retry_backoff_ms = int("retry.backoff.ms", membership.retry_backoff_ms);
        if let Some(names) = c.get_list("partition.assignment.strategy") {
            let assignors: Vec<Assignor> = names
                .iter()
                .filter_map(|n| Assignor::from_name(n))
                .collect();
            if !assignors.is_empty() {
                membership.assignors = assignors;
            }
        }
        Self {
            topic: spec.topic.clone(),
            membership,
            enable_auto_commit: c.get_bool("enable.auto.commit").unwrap_or(true),
            auto_commit_interval_ms: int("auto.commit.interval.ms", 5000),
            auto_offset_reset: match c.get_str("auto.offset.reset").as_deref() {
                Some("earliest") => OffsetReset::Earliest,
                Some("none") => OffsetReset::None,
                _ => OffsetReset::Latest,
            },
            max_poll_records: int("max.poll.records", 500).max(1) as usize,
            fetch_max_wait_ms: int("fetch.max.wait.ms", 500),
            request_timeout_ms: int("request.timeout.ms", 30_000),
            retry_backoff_ms: int("retry.backoff.ms", 100),
            default_api_timeout_ms: int("default.api.timeout.ms", 60_000),
            processing: spec.processing,
            processing_time_ns: spec.processing_time_ns,
            mutations: ConsumerMutations::default(),
        }
    }
}

/// The consumer's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ConsumerTimer {
    /// Refresh metadata.
    Metadata,
    /// A request with this correlation id went unanswered.
    Timeout(u64),
    /// The application loop and the group membership's clock.
    Tick,
    /// Processing of poll number N finished.
    ProcessingDone(u64),
    /// close() ran out of time: leave without waiting longer.
    CloseTimeout,
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
    /// poll() returned this record.
    Consumed {
        /// The partition (of the consumer's topic).
        partition: u32,
        /// Its offset.
        offset: u64,
        /// The workload's record id.
        id: u64,
        /// The leader epoch of its batch.
        leader_epoch: i32,
    },
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

/// A buffered record: offset, id, leader epoch.
type Fetched = (u64, u64, i32);

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
}

/// A request in flight.
#[derive(Clone, Debug)]
enum InFlight {
    Metadata,
    Fetch(Vec<(u32, u64)>),
    Validate(u32),
    ListOffsets(u32, Nanos),
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
    brokers: BTreeMap<u32, NodeId>,
    membership: Membership,
    partition_count: Option<u32>,
    leaders: BTreeMap<u32, (u32, i32)>,
    /// Partitions whose leader failed a request: no fetch until metadata comes back.
    stale_leaders: BTreeSet<u32>,
    owned: BTreeMap<u32, Owned>,
    correlation: u64,
    in_flight: BTreeMap<u64, (u32, InFlight)>,
    fetching: BTreeSet<u32>,
    metadata_in_flight: bool,
    find_in_flight: bool,
    app: App,
    polls: u64,
    incarnations: u64,
    poll_cursor: u32,
    next_auto_commit_ms: u64,
    stopped: bool,
    closing: Closing,
    /// Revocation commits in flight: the JoinGroup waits for them.
    revoke_commits: u32,
}

impl Consumer {
    /// A consumer with `config`; `brokers` maps broker ids to nodes.
    pub fn new(config: ConsumerConfig, brokers: BTreeMap<u32, NodeId>) -> Self {
        let membership = Membership::new(config.membership.clone(), vec![config.topic.clone()]);
        Self {
            config,
            brokers,
            membership,
            partition_count: None,
            leaders: BTreeMap::new(),
            stale_leaders: BTreeSet::new(),
            owned: BTreeMap::new(),
            correlation: 0,
            in_flight: BTreeMap::new(),
            fetching: BTreeSet::new(),
            metadata_in_flight: false,
            find_in_flight: false,
            app: App::Idle,
            polls: 0,
            incarnations: 0,
            poll_cursor: 0,
            next_auto_commit_ms: 0,
            stopped: false,
            closing: Closing::Open,
            revoke_commits: 0,
        }
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

    /// Whether close() finished: it left its group and does nothing more.
    pub fn is_closed(&self) -> bool {
        self.closing == Closing::Closed
    }

    /// KafkaConsumer.close(): the poll in hand is processed (and committed
    /// as its mode commits), then with `enable.auto.commit` the position is
    /// committed (commitSync), every owned partition is revoked, LeaveGroup
    /// is sent, and the consumer stops. After 30 s it leaves whatever is
    /// still pending.
    pub fn close<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.stopped || self.closing != Closing::Open {
            return;
        }
        self.closing = Closing::Finishing {
            committed: !self.config.enable_auto_commit,
        };
        ctx.set_timer(CLOSE_TIMEOUT_NS, ConsumerTimer::CloseTimeout.into());
        self.step(ctx);
    }

    /// The end of close(): revoke everything, LeaveGroup, stop.
    fn leave_group<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        self.app = App::Idle;
        let owned: Vec<u32> = self.owned.keys().copied().collect();
        if !owned.is_empty() {
            self.owned.clear();
            ctx.observe(
                ConsumerObs::Released {
                    partitions: owned,
                    lost: false,
                }
                .into(),
            );
        }
        let mut out = Vec::new();
        self.membership.leave(&mut out);
        for o in out {
            if let super::membership::MembershipOutput::Send(broker, request) = o {
                let request = KafkaRequest::Group {
                    group_id: self.config.membership.group_id.clone(),
                    request,
                };
                self.send(ctx, broker, request, InFlight::Membership);
            }
        }
        self.closing = Closing::Closed;
        self.stopped = true;
        ctx.observe(ConsumerObs::Closed.into());
    }

    /// Its group membership.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Boot: a restarted consumer starts over as a new member.
    pub fn start<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        ctx.observe(ConsumerObs::Started.into());
        self.next_auto_commit_ms = ctx.now() / MILLIS + self.config.auto_commit_interval_ms;
        self.refresh_metadata(ctx);
        ctx.set_timer(TICK_NS, ConsumerTimer::Tick.into());
    }

    fn now_ms<N: ConsumerHost>(ctx: &Ctx<'_, N>) -> u64 {
        ctx.now() / MILLIS
    }

    fn send<N: ConsumerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        broker: u32,
        request: KafkaRequest,
        what: InFlight,
    ) -> u64 {
        self.correlation += 1;
        let correlation_id = self.correlation;
        self.in_flight.insert(correlation_id, (broker, what));
        if let Some(&node) = self.brokers.get(&broker) {
            ctx.send(
                node,
                KafkaMsg::Request {
                    correlation_id,
                    request,
                }
                .into(),
            );
        }
        ctx.set_timer(
            self.config.request_timeout_ms * MILLIS,
            ConsumerTimer::Timeout(correlation_id).into(),
        );
        correlation_id
    }

    /// A broker answered.
    pub fn on_message<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, msg: KafkaMsg) {
        let KafkaMsg::Response {
            correlation_id,
            response,
        } = msg
        else {
            return;
        };
        let Some((broker, what)) = self.in_flight.remove(&correlation_id) else {
            return;
        };
        if self.stopped {
            return;
        }
        match what {
            InFlight::Metadata
            | InFlight::Fetch(_)
            | InFlight::Validate(_)
            | InFlight::ListOffsets(..) => self.on_data_response(ctx, broker, what, response),
            InFlight::FindCoordinator
            | InFlight::Membership
            | InFlight::Commit(_)
            | InFlight::OffsetFetch { .. } => self.on_group_response(ctx, what, response),
        }
        self.step(ctx);
    }

    /// A timer fired.
    pub fn on_timer<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: ConsumerTimer) {
        if self.stopped {
            return;
        }
        match timer {
            ConsumerTimer::Metadata => self.refresh_metadata(ctx),
            ConsumerTimer::Timeout(c) => {
                if let Some((broker, what)) = self.in_flight.remove(&c) {
                    self.on_lost(ctx, broker, what);
                }
            }
            ConsumerTimer::Tick => {
                ctx.set_timer(TICK_NS, ConsumerTimer::Tick.into());
            }
            ConsumerTimer::ProcessingDone(seq) => self.on_processed(ctx, seq),
            ConsumerTimer::CloseTimeout => {
                if self.closing != Closing::Open {
                    self.leave_group(ctx);
                    return;
                }
            }
        }
        self.step(ctx);
    }

    /// A connection broke: what was in flight to that broker is lost.
    pub fn on_disconnect<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        let Some(broker) = crate::protocol::broker_at(&self.brokers, peer) else {
            return;
        };
        let lost: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, (b, _))| *b == broker)
            .map(|(&c, _)| c)
            .collect();
        for c in lost {
            if let Some((b, what)) = self.in_flight.remove(&c) {
                self.on_lost(ctx, b, what);
            }
        }
        if self.membership.coordinator() == Some(broker) {
            self.membership.on_coordinator_lost(Self::now_ms(ctx));
        }
        if !self.stopped {
            self.step(ctx);
        }
    }

    /// A request got no answer (timeout or broken connection).
    fn on_lost<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>, broker: u32, what: InFlight) {
        let now_ms = Self::now_ms(ctx);
        match what {
            InFlight::Metadata => {
                self.metadata_in_flight = false;
                ctx.set_timer(
                    self.config.retry_backoff_ms * MILLIS,
                    ConsumerTimer::Metadata.into(),
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
                self.refresh_metadata(ctx);
            }
            InFlight::Validate(p) | InFlight::ListOffsets(p, _) => {
                if let Some(o) = self.owned.get_mut(&p) {
                    o.validating = false;
                    o.resolving = false;
                    o.retry_at_ms = now_ms + self.config.retry_backoff_ms;
                }
                self.refresh_metadata(ctx);
            }
            InFlight::FindCoordinator => self.find_in_flight = false,
            InFlight::Membership => self.membership.on_coordinator_lost(now_ms),
            InFlight::Commit(commit) => {
                self.membership.on_coordinator_lost(now_ms);
                self.on_commit_done(ctx, commit, Some(Errors::RequestTimedOut));
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
    fn step<N: ConsumerHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.stopped {
            return;
        }
        self.drive_membership(ctx);
        self.resolve_positions(ctx);
        self.app_step(ctx);
        self.fetch_all(ctx);
    }
}

/// A node type that can host a consumer.
pub trait ConsumerHost:
    Node<Msg: From<KafkaMsg>, Timer: From<ConsumerTimer>, Obs: From<ConsumerObs>>
{
}

impl<N> ConsumerHost for N where
    N: Node<Msg: From<KafkaMsg>, Timer: From<ConsumerTimer>, Obs: From<ConsumerObs>>
{
}
