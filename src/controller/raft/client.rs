//! `RaftClient`: one voter of the KRaft quorum (Kafka's KafkaRaftClient),
//! its epoch-state transitions, persistence and timers. The message handlers
//! are in `handlers.rs`.

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::leader_state::LeaderState;
use super::log::{LogEntry, RaftLog, Record};
use super::purgatory::{FetchPurgatory, ParkedFetch};
use super::quorum_state::{ElectionState, EpochState, Votes};
use super::{
    RaftConfig, RaftError, RaftMessage, RaftMutations, RaftOutput, RaftTimerKind,
    METADATA_LOG_FILE, NS_PER_MS, QUORUM_STATE_FILE, TIMER_KINDS,
};
use crate::protocol::NewFlag;

/// One voter of the quorum, as a sans-IO state machine.
#[derive(Debug)]
pub struct RaftClient {
    pub(super) id: u32,
    pub(super) voters: Vec<u32>,
    pub(super) config: RaftConfig,
    pub(super) mutations: RaftMutations,
    pub(super) state: EpochState,
    pub(super) log: RaftLog,
    pub(super) high_watermark: u64,
    /// Entries below this are fsynced.
    log_durable_end: u64,
    /// Log fsyncs in flight: (token, log end offset when issued).
    log_fsyncs: VecDeque<(u64, u64)>,
    /// The election state last written to `quorum-state`.
    persisted: ElectionState,
    quorum_state_len: u64,
    /// Bytes of each file past its valid prefix at recovery (cut in `start`).
    torn: [Option<u64>; 2],
    /// The newest `quorum-state` fsync in flight: sends wait for it.
    state_fsync: Option<u64>,
    /// `quorum-state` fsyncs in flight: (token, epoch written).
    state_fsyncs: Vec<(u64, u32)>,
    /// The newest epoch known to be on disk.
    durable_epoch: u32,
    held: Vec<(u32, RaftMessage)>,
    next_token: u64,
    /// The leader's parked Fetches (empty unless leading).
    pub(super) purgatory: FetchPurgatory,
    pub(super) timer_generations: [u64; TIMER_KINDS],
    /// The time of the input being handled (timers are set from it).
    pub(super) now_ns: u64,
}

impl RaftClient {
    /// Rebuilds voter `id` of `voters` from its two files only.
    pub fn recover(
        id: u32,
        voters: Vec<u32>,
        quorum_state_bytes: Option<&[u8]>,
        log_bytes: Option<&[u8]>,
    ) -> Self {
        assert!(voters.contains(&id), "a voter is one of the voters");
        assert!(
            voters.windows(2).all(|w| w[0] < w[1]),
            "voters are sorted ids"
        );
        let (persisted, quorum_state_len) = ElectionState::recover(quorum_state_bytes);
        let (log, log_len) = RaftLog::recover(log_bytes);
        let torn_after = |valid: u64, bytes: Option<&[u8]>| {
            (bytes.map_or(0, |b| b.len() as u64) > valid).then_some(valid)
        };
        let epoch = persisted.epoch;
        // As Kafka's QuorumState.initialize: a log from a newer epoch than the
        // election state wins, and a former leader comes back resigned (so it
        // neither votes again in its epoch nor reuses an (offset, epoch) it may have lost).
        let state = match (persisted.leader_id, persisted.voted_id) {
            _ if epoch < log.last_epoch() => EpochState::Unattached {
                epoch: log.last_epoch(),
            },
            (Some(leader), _) if leader == id => EpochState::Resigned { epoch },
            (Some(leader_id), _) => EpochState::new_follower(epoch, leader_id),
            (None, Some(voted)) if voted == id => EpochState::Candidate {
                epoch,
                votes: Votes::own(id),
                backing_off: false,
            },
            (None, Some(voted_id)) => EpochState::Voted { epoch, voted_id },
            (None, None) => EpochState::Unattached { epoch },
        };
        Self {
            id,
            voters,
            config: RaftConfig::default(),
            mutations: RaftMutations::default(),
            state,
            log,
            high_watermark: 0,
            log_durable_end: 0,
            log_fsyncs: VecDeque::new(),
            persisted,
            quorum_state_len,
            torn: [
                torn_after(quorum_state_len, quorum_state_bytes),
                torn_after(log_len, log_bytes),
            ],
            state_fsync: None,
            state_fsyncs: Vec::new(),
            durable_epoch: 0,
            held: Vec::new(),
            next_token: 0,
            purgatory: FetchPurgatory::default(),
            timer_generations: [0; TIMER_KINDS],
            now_ns: 0,
        }
    }

    /// Sets the timing configs (before `start`).
    pub fn with_config(mut self, config: RaftConfig) -> Self {
        self.config = config;
        self
    }

    /// Turns on deliberate bugs (tests only).
    pub fn with_mutations(mut self, mutations: RaftMutations) -> Self {
        self.mutations = mutations;
        self
    }

    /// Boot: cuts torn tails, makes what was recovered durable before acting
    /// on it (it may have been only in the page cache), and sets the first timers.
    pub fn start(&mut self, now_ns: u64, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        self.now_ns = now_ns;
        if let Some(len) = self.torn[0].take() {
            out.push(RaftOutput::truncate(QUORUM_STATE_FILE, len));
        }
        if let Some(len) = self.torn[1].take() {
            out.push(RaftOutput::truncate(METADATA_LOG_FILE, len));
        }
        if self.quorum_state_len > 0 {
            let token = self.token(0);
            self.state_fsync = Some(token);
            self.state_fsyncs.push((token, self.persisted.epoch));
            out.push(RaftOutput::fsync(QUORUM_STATE_FILE, token));
        }
        if self.log.end_offset() > 0 {
            self.fsync_log(out);
        }
        let state = std::mem::replace(&mut self.state, EpochState::Unattached { epoch: 0 });
        let candidate = matches!(state, EpochState::Candidate { .. });
        self.transition(state, rng, out);
        if candidate {
            // Voted for itself before the crash: asks again in the same epoch.
            self.request_votes(rng, out);
        }
    }

    /// This voter's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        self.state.epoch()
    }

    /// The current epoch state.
    pub fn state(&self) -> &EpochState {
        &self.state
    }

    /// The leader of the current epoch, if known.
    pub fn leader_id(&self) -> Option<u32> {
        self.state.leader_id(self.id)
    }

    /// True while this voter leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.state, EpochState::Leader(_))
    }

    /// Entries below this are committed.
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// The log.
    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// The leader appends `payload`; returns its offset (None when not leading).
    pub fn propose(&mut self, payload: Vec<u8>, out: &mut Vec<RaftOutput>) -> Option<u64> {
        self.propose_batch(vec![payload], out)
            .map(|offsets| offsets.start)
    }

    /// The leader appends `payloads` as one batch (the records of one
    /// controller operation, which KafkaRaftClient appends atomically):
    /// the Fetches it holds are answered once all are in the log, never
    /// with a part of them. Returns their offsets (None when not leading).
    pub fn propose_batch(
        &mut self,
        payloads: Vec<Vec<u8>>,
        out: &mut Vec<RaftOutput>,
    ) -> Option<std::ops::Range<u64>> {
        let epoch = match &self.state {
            EpochState::Leader(leader) => leader.epoch(),
            _ => return None,
        };
        let start = self.log.end_offset();
        for payload in payloads {
            self.append_as_leader(epoch, Record::Data(payload), out);
        }
        self.complete_grown_fetches(out);
        Some(start..self.log.end_offset())
    }

    /// Graceful resignation: the leader steps down and tells the voters.
    pub fn resign(&mut self, now_ns: u64, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        self.now_ns = now_ns;
        if let EpochState::Leader(leader) = &self.state {
            let epoch = leader.epoch();
            let successors: Vec<u32> = self
                .voters
                .iter()
                .copied()
                .filter(|&v| v != self.id)
                .collect();
            self.transition(EpochState::Resigned { epoch }, rng, out);
            for &to in &successors {
                let msg = RaftMessage::EndQuorumEpoch {
                    leader_epoch: epoch,
                    leader_id: self.id,
                    preferred_successors: successors.clone(),
                };
                self.send(to, msg, out);
            }
        }
    }

    /// The fsync issued with `token` completed.
    pub fn on_fsync(&mut self, now_ns: u64, token: u64, out: &mut Vec<RaftOutput>) {
        self.now_ns = now_ns;
        if token & 1 == 0 {
            // A completed fsync covers every write issued before it.
            for &(t, epoch) in &self.state_fsyncs {
                if t <= token {
                    self.durable_epoch = self.durable_epoch.max(epoch);
                }
            }
            self.state_fsyncs.retain(|&(t, _)| t > token);
            if self.state_fsync == Some(token) {
                self.state_fsync = None;
                for (to, msg) in std::mem::take(&mut self.held) {
                    out.push(RaftOutput::send(to, msg));
                }
            }
            return;
        }
        // A later fsync of the file covers everything written before it was issued.
        while self.log_fsyncs.front().is_some_and(|&(t, _)| t <= token) {
            let (_, end) = self.log_fsyncs.pop_front().expect("checked");
            self.log_durable_end = self.log_durable_end.max(end);
        }
        assert!(self.log_durable_end <= self.log.end_offset());
        let durable = self.log_durable_end;
        match &mut self.state {
            EpochState::Leader(leader) => {
                leader.update_local_end(durable);
                self.maybe_advance_high_watermark(out);
            }
            EpochState::Follower {
                awaiting_fsync: Some(waiting),
                ..
            } if *waiting <= token => self.send_fetch(out),
            _ => {}
        }
    }

    /// Moves to `next` (epochs never go back), persists what must be durable
    /// and sets the new state's timers; timers of the old state go stale.
    pub(super) fn transition(
        &mut self,
        next: EpochState,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<RaftOutput>,
    ) {
        assert!(next.epoch() >= self.state.epoch(), "epochs never go back");
        self.state = next;
        for generation in &mut self.timer_generations {
            *generation += 1;
        }
        let election = self.state.election(self.id);
        if election != self.persisted {
            assert!(
                election.epoch > self.persisted.epoch
                    || self.persisted.voted_id.is_none()
                    || self.persisted.voted_id == election.voted_id
                    || election.voted_id.is_none(),
                "one vote per epoch: {:?} then {election:?}",
                self.persisted
            );
            self.persist(election, out);
        }
        // A leader stepping down answers its parked Fetches at once, so that
        // they are sent again to the new leader (KafkaRaftClient completes
        // its fetch purgatory with NOT_LEADER_OR_FOLLOWER on resigning and
        // on becoming a follower).
        let parked = self.purgatory.take_all();
        self.answer_parked(parked, Some(RaftError::NotLeaderOrFollower), out);
        let epoch = self.state.epoch();
        out.push(RaftOutput::Transition {
            epoch,
            state: self.state.kind(),
            leader_id: self.leader_id(),
        });
        match &self.state {
            EpochState::Unattached { .. }
            | EpochState::Voted { .. }
            | EpochState::Prospective { .. }
            | EpochState::Candidate { .. }
            | EpochState::Resigned { .. } => {
                let timeout_ns = self.config.election_timeout_ms * NS_PER_MS;
                let after_ns = timeout_ns + rng.random_range(0..timeout_ns.max(1));
                self.set_timer(RaftTimerKind::ElectionTimeout, after_ns, out);
            }
            EpochState::Follower { .. } => {
                self.set_timer(
                    RaftTimerKind::FetchTimeout,
                    self.config.fetch_timeout_ms * NS_PER_MS,
                    out,
                );
                self.send_fetch(out);
            }
            EpochState::Leader(_) => {
                out.push(RaftOutput::BecameLeader { epoch });
                self.set_timer(
                    RaftTimerKind::CheckQuorum,
                    self.config.check_quorum_timeout_ns(),
                    out,
                );
                let retry_ns = self.config.retry_backoff_ms * NS_PER_MS * 2;
                self.set_timer(RaftTimerKind::BeginQuorumEpochRetry, retry_ns, out);
                self.append_as_leader(epoch, Record::LeaderChange { leader_id: self.id }, out);
                for to in self.voters.clone() {
                    if to != self.id {
                        let msg = RaftMessage::BeginQuorumEpoch {
                            leader_epoch: epoch,
                            leader_id: self.id,
                        };
                        self.send(to, msg, out);
                    }
                }
            }
        }
    }

    /// Stands for election in `epoch`, voting for itself.
    pub(super) fn become_candidate(
        &mut self,
        epoch: u32,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<RaftOutput>,
    ) {
        let candidate = EpochState::Candidate {
            epoch,
            votes: Votes::own(self.id),
            backing_off: false,
        };
        self.transition(candidate, rng, out);
        self.request_votes(rng, out);
    }

    /// Sends VoteRequests (and wins at once when alone).
    pub(super) fn request_votes(&mut self, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        self.send_vote_requests(NewFlag(false), out);
        self.maybe_become_leader(rng, out);
    }

    /// A VoteRequest of this epoch to every other voter.
    fn send_vote_requests(&mut self, pre_vote: NewFlag, out: &mut Vec<RaftOutput>) {
        let epoch = self.epoch();
        for to in self.voters.clone() {
            if to != self.id {
                let msg = RaftMessage::VoteRequest {
                    candidate_epoch: epoch,
                    candidate_id: self.id,
                    last_offset_epoch: self.log.last_epoch(),
                    last_offset: self.log.end_offset(),
                    pre_vote,
                };
                self.send(to, msg, out);
            }
        }
    }

    /// A fetch or election timeout expired: with pre-vote (KIP-996) this
    /// voter becomes Prospective in its epoch, keeping the leader and the
    /// vote it knew, and asks for pre-votes (QuorumState's
    /// `transitionToProspective`, a transition nothing persists); without,
    /// a Candidate of the next epoch.
    pub(super) fn on_election_due(&mut self, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        if !self.config.pre_vote {
            self.become_candidate(self.epoch() + 1, rng, out);
            return;
        }
        let (epoch, voted_id) = (self.epoch(), self.state.election(self.id).voted_id);
        let prospective = EpochState::Prospective {
            epoch,
            leader_id: self.leader_id(),
            voted_id,
            votes: Votes::own(self.id),
        };
        self.transition(prospective, rng, out);
        self.send_vote_requests(NewFlag(true), out);
        self.maybe_end_prospective(rng, out);
    }

    /// A Prospective voter with a majority of pre-votes becomes a Candidate
    /// of the next epoch; one that can no longer get them goes back to
    /// following the leader it knew, or to waiting unattached (with its
    /// vote, if it cast one) for the next election timeout.
    pub(super) fn maybe_end_prospective(
        &mut self,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<RaftOutput>,
    ) {
        let EpochState::Prospective {
            epoch,
            leader_id,
            voted_id,
            votes,
        } = &self.state
        else {
            return;
        };
        if votes.won(self.voters.len()) {
            self.become_candidate(epoch + 1, rng, out);
        } else if votes.lost(self.voters.len()) {
            let (epoch, leader_id, voted_id) = (*epoch, *leader_id, *voted_id);
            self.leave_prospective(epoch, leader_id, voted_id, rng, out);
        }
    }

    /// Prospective lost or timed out: back to Follower of the leader it
    /// knew, else Unattached (Voted, if it voted in the epoch).
    pub(super) fn leave_prospective(
        &mut self,
        epoch: u32,
        leader_id: Option<u32>,
        voted_id: Option<u32>,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<RaftOutput>,
    ) {
        let next = match (leader_id, voted_id) {
            (Some(leader_id), _) => EpochState::new_follower(epoch, leader_id),
            (None, Some(voted_id)) => EpochState::Voted { epoch, voted_id },
            (None, None) => EpochState::Unattached { epoch },
        };
        self.transition(next, rng, out);
    }

    /// A candidate with a majority of grants becomes leader.
    pub(super) fn maybe_become_leader(&mut self, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        if let EpochState::Candidate { epoch, votes, .. } = &self.state {
            if votes.won(self.voters.len()) {
                let leader = LeaderState::new(self.id, *epoch, self.log.end_offset(), &self.voters);
                self.transition(EpochState::Leader(Box::new(leader)), rng, out);
            }
        }
    }

    fn append_as_leader(&mut self, epoch: u32, record: Record, out: &mut Vec<RaftOutput>) -> u64 {
        let offset = self.log.end_offset();
        let (at, bytes) = self.log.append(LogEntry {
            offset,
            epoch,
            record,
        });
        self.write_log(at, bytes, out);
        self.fsync_log(out);
        offset
    }

    /// Answers the parked Fetches the log has grown past (KafkaRaftClient's
    /// flushLeaderLog, after a batch is appended).
    fn complete_grown_fetches(&mut self, out: &mut Vec<RaftOutput>) {
        let end = self.log.end_offset();
        let grown = self.purgatory.take(|p| p.request.fetch_offset < end);
        self.answer_parked(grown, None, out);
    }

    /// Answers `parked` Fetches now: with `error`, or as a Fetch arriving
    /// now would be (a voter's fetch time is updated again, as
    /// KafkaRaftClient's tryCompleteFetchRequest does).
    pub(super) fn answer_parked(
        &mut self,
        parked: Vec<ParkedFetch>,
        error: Option<RaftError>,
        out: &mut Vec<RaftOutput>,
    ) {
        for p in parked {
            // Voters and observers (brokers) have node ids of their own.
            let voter = self.voters.contains(&p.replica);
            let (error, body) = self.fetch_answer(error, &p.request);
            if let (EpochState::Leader(leader), None, true) = (&mut self.state, body.0, voter) {
                leader.update_replica(p.replica, p.request.fetch_offset, self.now_ns);
            }
            let msg = self.fetch_response(error, body);
            if voter {
                self.send(p.replica, msg, out);
            } else {
                out.push(RaftOutput::send(p.replica, msg));
            }
        }
    }

    pub(super) fn write_log(&mut self, offset: u64, bytes: Vec<u8>, out: &mut Vec<RaftOutput>) {
        out.push(RaftOutput::write(METADATA_LOG_FILE, offset, bytes));
    }

    /// Issues a log fsync; returns its token.
    pub(super) fn fsync_log(&mut self, out: &mut Vec<RaftOutput>) -> u64 {
        let token = self.token(1);
        self.log_fsyncs.push_back((token, self.log.end_offset()));
        out.push(RaftOutput::fsync(METADATA_LOG_FILE, token));
        token
    }

    /// Cuts the log at `offset` (never below the high watermark).
    pub(super) fn truncate_log(&mut self, offset: u64, out: &mut Vec<RaftOutput>) {
        assert!(
            offset >= self.high_watermark || self.mutations.any(),
            "truncation to {offset} below the high watermark {}",
            self.high_watermark
        );
        let len = self.log.truncate_to(offset);
        let end = self.log.end_offset();
        self.log_durable_end = self.log_durable_end.min(end);
        for (_, issued_end) in &mut self.log_fsyncs {
            *issued_end = (*issued_end).min(end);
        }
        // Only reachable under a mutation: committed entries were cut.
        self.high_watermark = self.high_watermark.min(end);
        out.push(RaftOutput::truncate(METADATA_LOG_FILE, len));
    }

    /// The leader recomputes its high watermark.
    pub(super) fn maybe_advance_high_watermark(&mut self, out: &mut Vec<RaftOutput>) {
        if let EpochState::Leader(leader) = &self.state {
            let hw = leader.high_watermark(self.high_watermark, self.mutations.commit_on_minority);
            self.advance_high_watermark(hw, out);
        }
    }

    /// Raises the high watermark to `hw` (never lowers it).
    pub(super) fn advance_high_watermark(&mut self, hw: u64, out: &mut Vec<RaftOutput>) {
        assert!(
            hw <= self.log.end_offset(),
            "the high watermark is inside the log"
        );
        if hw > self.high_watermark {
            self.high_watermark = hw;
            out.push(RaftOutput::Committed { upto_offset: hw });
            // KIP-1166: the leader answers the parked Fetches of replicas
            // that sent an older high watermark.
            let behind = self
                .purgatory
                .take(|p| p.request.high_watermark.is_some_and(|known| known < hw));
            self.answer_parked(behind, None, out);
        }
    }

    /// Sends a Fetch to the leader (once the log is durable to its end).
    pub(super) fn send_fetch(&mut self, out: &mut Vec<RaftOutput>) {
        let durable = self.log_durable_end == self.log.end_offset();
        let pending_fsync = self.log_fsyncs.back().map(|&(t, _)| t);
        let (epoch, fetch_offset, last_fetched_epoch) =
            (self.epoch(), self.log.end_offset(), self.log.last_epoch());
        let EpochState::Follower {
            leader_id,
            fetch_in_flight,
            awaiting_fsync,
            ..
        } = &mut self.state
        else {
            return;
        };
        if !durable {
            // The leader counts the fetch offset as on our disk: wait for it to be.
            assert!(
                pending_fsync.is_some(),
                "every append is followed by an fsync"
            );
            *awaiting_fsync = pending_fsync;
            return;
        }
        *awaiting_fsync = None;
        *fetch_in_flight = true;
        let to = *leader_id;
        let msg = RaftMessage::FetchRequest {
            replica_id: self.id,
            current_leader_epoch: epoch,
            fetch_offset,
            last_fetched_epoch,
            high_watermark: self
                .config
                .fetch_high_watermark
                .then_some(self.high_watermark),
        };
        self.send(to, msg, out);
    }

    /// Sends now, or after the pending `quorum-state` fsync.
    pub(super) fn send(&mut self, to: u32, msg: RaftMessage, out: &mut Vec<RaftOutput>) {
        assert!(
            to != self.id && self.voters.contains(&to),
            "sends go to other voters"
        );
        if self.state_fsync.is_some() {
            self.held.push((to, msg));
        } else {
            out.push(RaftOutput::send(to, msg));
        }
    }

    fn persist(&mut self, election: ElectionState, out: &mut Vec<RaftOutput>) {
        let bytes = election.encode();
        let offset = self.quorum_state_len;
        self.quorum_state_len += bytes.len() as u64;
        self.persisted = election;
        out.push(RaftOutput::write(QUORUM_STATE_FILE, offset, bytes));
        let token = self.token(0);
        self.state_fsync = Some(token);
        self.state_fsyncs.push((token, election.epoch));
        out.push(RaftOutput::fsync(QUORUM_STATE_FILE, token));
    }

    /// The newest epoch whose election state an fsync has confirmed on disk.
    pub fn durable_epoch(&self) -> u32 {
        self.durable_epoch
    }

    /// A fresh fsync token: even for `quorum-state`, odd for the log.
    fn token(&mut self, file_bit: u64) -> u64 {
        self.next_token += 1;
        self.next_token << 1 | file_bit
    }
}
