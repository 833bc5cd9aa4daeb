//! KRaft quorum (KIP-595) as a sans-IO state machine, after Kafka's `raft/`
//! module: [`RaftClient`] (KafkaRaftClient), the epoch states of QuorumState
//! ([`EpochState`]), the leader's view of its voters ([`LeaderState`]) and
//! the replicated log of `__cluster_metadata-0` ([`RaftLog`]).
//!
//! The client never touches the kernel: every input is a method call carrying
//! the current time (and a random stream where it draws), and every output is
//! a [`RaftOutput`]: an [`Effect`] for the host to carry out (send, set a
//! timer, write, fsync) or an event of the quorum (committed, transition).

mod client;
mod frame;
mod handlers;
mod leader_state;
mod log;
mod observer;
#[cfg(test)]
mod observer_tests;
mod purgatory;
mod quorum_state;
#[cfg(test)]
mod tests;
mod timers;

pub use client::RaftClient;
pub use leader_state::LeaderState;
pub use log::{LogEntry, OffsetAndEpoch, RaftLog, Record};
pub use observer::MetadataObserver;
pub use purgatory::MAX_FETCH_WAIT_MS;
pub use quorum_state::{ElectionState, EpochState, StateKind, Votes};

use crate::node::{Address, Effect, Timer};
use crate::protocol::{Message, NewFlag};

/// The file holding the durable election state (epoch, votedId, leaderId).
pub const QUORUM_STATE_FILE: &str = "quorum-state";
/// The file holding the replicated metadata log.
pub const METADATA_LOG_FILE: &str = "__cluster_metadata-0/00000000000000000000.log";

const NS_PER_MS: u64 = 1_000_000;

/// The quorum's timing configs, with Kafka's names and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// `controller.quorum.election.timeout.ms`: base of the randomised election timeout.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms`: a follower that hears nothing from
    /// its leader this long starts an election.
    pub fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms`: most a candidate waits after losing.
    pub election_backoff_max_ms: u64,
    /// `controller.quorum.retry.backoff.ms`: wait before a failed request is retried.
    pub retry_backoff_ms: u64,
    /// KIP-1166 (Kafka 4.1): a replica sends the high watermark it knows in
    /// its Fetch; the leader parks a Fetch with nothing to return only while
    /// that is its own, and answers the parked ones when its high watermark
    /// rises. Off (before 4.1): a parked Fetch waits for new entries or
    /// `MAX_FETCH_WAIT_MS`, so a committed change reaches the other replicas
    /// up to that much later.
    pub fetch_high_watermark: bool,
    /// Most entries one Fetch response carries.
    pub fetch_max_entries: usize,
    /// KIP-996 (Kafka 4.0): a voter whose fetch or election timeout expires
    /// becomes Prospective and asks for pre-votes (VoteRequest with
    /// PreVote) in its epoch before it bumps the epoch as a Candidate; a
    /// Follower that has fetched from its leader refuses pre-votes. Off
    /// (3.x): the timeout makes it a Candidate of the next epoch at once.
    pub pre_vote: bool,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            election_timeout_ms: 1000,
            fetch_timeout_ms: 2000,
            election_backoff_max_ms: 1000,
            retry_backoff_ms: 100,
            fetch_high_watermark: true,
            fetch_max_entries: 64,
            pre_vote: false,
        }
    }
}

impl RaftConfig {
    /// Kafka's check-quorum timeout: fetch timeout times CHECK_QUORUM_TIMEOUT_FACTOR (1.5).
    pub fn check_quorum_timeout_ns(&self) -> u64 {
        self.fetch_timeout_ms * NS_PER_MS * 3 / 2
    }
}

/// Deliberate bugs, for tests that prove a checker fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaftMutations {
    /// Grant votes without checking that the candidate's log is up to date.
    pub vote_without_log_check: bool,
    /// The leader advances the high watermark on its own copy alone.
    pub commit_on_minority: bool,
    /// A voter that already voted in an epoch grants its vote again to another candidate.
    pub vote_twice: bool,
}

impl RaftMutations {
    /// True when any mutation is on: contracts the mutation breaks are not asserted.
    pub fn any(&self) -> bool {
        self.vote_without_log_check || self.commit_on_minority || self.vote_twice
    }
}

/// Errors in responses, with Kafka's error code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RaftError {
    /// The request's epoch is older than the receiver's (FENCED_LEADER_EPOCH).
    FencedLeaderEpoch,
    /// The request's epoch is newer than the receiver's (UNKNOWN_LEADER_EPOCH).
    UnknownLeaderEpoch,
    /// The receiver is not the leader (NOT_LEADER_OR_FOLLOWER).
    NotLeaderOrFollower,
}

/// The quorum's RPCs (KIP-595).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaftMessage {
    /// A candidate asks for a vote (or, with PreVote, a prospective voter
    /// for a pre-vote).
    VoteRequest {
        /// The epoch the candidate stands in (a prospective voter's
        /// current epoch, not bumped, for a pre-vote).
        candidate_epoch: u32,
        /// The candidate.
        candidate_id: u32,
        /// Epoch of the candidate's last log entry.
        last_offset_epoch: u32,
        /// The candidate's log end offset.
        last_offset: u64,
        /// KIP-996's PreVote: the candidate asks, in its current epoch,
        /// whether the receiver would vote for it; no vote is cast and
        /// nobody's state changes.
        pre_vote: NewFlag,
    },
    /// The answer to a vote request.
    VoteResponse {
        /// The responder's epoch.
        epoch: u32,
        /// The leader of that epoch, if known.
        leader_id: Option<u32>,
        /// Whether the vote was granted.
        vote_granted: bool,
    },
    /// A new leader announces itself.
    BeginQuorumEpoch {
        /// The leader's epoch.
        leader_epoch: u32,
        /// The leader.
        leader_id: u32,
    },
    /// A leader resigns; voters may start an election at once.
    EndQuorumEpoch {
        /// The resigning leader's epoch.
        leader_epoch: u32,
        /// The resigning leader.
        leader_id: u32,
        /// Voters in the order they should try to succeed.
        preferred_successors: Vec<u32>,
    },
    /// A follower pulls the log.
    FetchRequest {
        /// The follower.
        replica_id: u32,
        /// The epoch the follower believes current.
        current_leader_epoch: u32,
        /// The follower's log end offset (durable).
        fetch_offset: u64,
        /// Epoch of the follower's last log entry.
        last_fetched_epoch: u32,
        /// The high watermark the follower knows (KIP-1166's HighWatermark,
        /// Kafka 4.1; None before, when the field is not sent).
        high_watermark: Option<u64>,
    },
    /// The leader's answer: entries, or where the logs diverge.
    FetchResponse {
        /// The responder's epoch.
        epoch: u32,
        /// The leader of that epoch, if known.
        leader_id: Option<u32>,
        /// Why the fetch failed, if it did.
        error: Option<RaftError>,
        /// The leader's high watermark.
        high_watermark: u64,
        /// Set when the follower must truncate to this end offset first.
        diverging_epoch: Option<OffsetAndEpoch>,
        /// Entries from `fetch_offset` on.
        records: Vec<LogEntry>,
    },
}

/// The fields of a [`RaftMessage::FetchRequest`] a leader acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchFields {
    /// The epoch the fetcher believes current.
    pub current_leader_epoch: u32,
    /// The fetcher's log end offset.
    pub fetch_offset: u64,
    /// Epoch of the fetcher's last log entry.
    pub last_fetched_epoch: u32,
    /// The high watermark the fetcher knows (KIP-1166), if it sent one.
    pub high_watermark: Option<u64>,
}

impl FetchFields {
    /// The fields of `msg`, when it is a Fetch.
    pub fn of(msg: &RaftMessage) -> Option<Self> {
        match *msg {
            RaftMessage::FetchRequest {
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                high_watermark,
                ..
            } => Some(Self {
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                high_watermark,
            }),
            _ => None,
        }
    }
}

/// What kind of timer fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RaftTimerKind {
    /// An unattached voter, a prospective voter, a candidate or a resigned
    /// leader waited long enough.
    ElectionTimeout,
    /// A losing candidate's backoff before the next election.
    ElectionBackoff,
    /// A follower heard nothing from its leader for the fetch timeout.
    FetchTimeout,
    /// A follower's next fetch is due.
    FetchRetry,
    /// The leader checks that a majority still fetches from it.
    CheckQuorum,
    /// The leader re-announces itself to voters that have not fetched yet.
    BeginQuorumEpochRetry,
    /// The leader's oldest parked Fetch is due (`MAX_FETCH_WAIT_MS`).
    FetchPurgatory,
}

const TIMER_KINDS: usize = 7;

impl RaftTimerKind {
    fn index(self) -> usize {
        self as usize
    }
}

/// A timer; it is stale (ignored) unless its generation is the newest of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RaftTimer {
    /// What it is for.
    pub kind: RaftTimerKind,
    /// Which setting of that kind this is.
    pub generation: u64,
}

/// What the client asks of its host, in order: an I/O effect (a send, a
/// timer, a disk write, truncate or fsync, in the model's one [`Effect`]
/// vocabulary) or an event of the quorum the host acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftOutput {
    /// Carry this out.
    Io(Effect),
    /// The high watermark advanced: entries below `upto_offset` are committed.
    Committed {
        /// The new high watermark (exclusive).
        upto_offset: u64,
    },
    /// The state machine moved to a new epoch state.
    Transition {
        /// Epoch of the new state.
        epoch: u32,
        /// The new state.
        state: StateKind,
        /// Leader of that epoch, if known.
        leader_id: Option<u32>,
    },
    /// This voter won the election of `epoch`.
    BecameLeader {
        /// The epoch it leads.
        epoch: u32,
    },
}

impl RaftOutput {
    fn send(to: u32, msg: RaftMessage) -> Self {
        RaftOutput::Io(Effect::Send {
            to: Address::Node(to),
            msg: Message::Raft(msg),
        })
    }

    fn timer(at: u64, timer: RaftTimer) -> Self {
        RaftOutput::Io(Effect::SetTimer {
            at,
            timer: Timer::Raft(timer),
        })
    }

    fn write(file: &str, offset: u64, bytes: Vec<u8>) -> Self {
        RaftOutput::Io(Effect::Write {
            file: file.to_owned().into(),
            offset,
            bytes: sim::Blob::raw(bytes),
        })
    }

    fn truncate(file: &str, len: u64) -> Self {
        RaftOutput::Io(Effect::Truncate {
            file: file.to_owned().into(),
            len,
        })
    }

    fn fsync(file: &str, token: u64) -> Self {
        RaftOutput::Io(Effect::Fsync {
            file: file.to_owned().into(),
            token,
        })
    }
}

/// A test's view of one output: the effect's fields in the raft's own terms.
#[cfg(test)]
#[derive(Debug)]
pub(crate) enum View<'a> {
    /// A message to voter `to`.
    Send { to: u32, msg: &'a RaftMessage },
    /// A timer at time `at`.
    SetTimer { at: u64, timer: RaftTimer },
    /// A write.
    Write {
        file: &'a str,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// A truncation.
    Truncate { file: &'a str, len: u64 },
    /// An fsync.
    Fsync { token: u64 },
    /// An event.
    Event,
}

#[cfg(test)]
impl RaftOutput {
    /// What a test looks at.
    pub(crate) fn view(&self) -> View<'_> {
        match self {
            RaftOutput::Io(Effect::Send {
                to: Address::Node(to),
                msg: Message::Raft(msg),
            }) => View::Send { to: *to, msg },
            RaftOutput::Io(Effect::SetTimer {
                at,
                timer: Timer::Raft(timer),
            }) => View::SetTimer {
                at: *at,
                timer: *timer,
            },
            RaftOutput::Io(Effect::Write {
                file,
                offset,
                bytes,
            }) => View::Write {
                file,
                offset: *offset,
                bytes: bytes.to_vec(),
            },
            RaftOutput::Io(Effect::Truncate { file, len }) => View::Truncate { file, len: *len },
            RaftOutput::Io(Effect::Fsync { token, .. }) => View::Fsync { token: *token },
            RaftOutput::Io(other) => panic!("the raft client never asks for {other:?}"),
            _ => View::Event,
        }
    }
}
