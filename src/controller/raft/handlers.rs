//! The quorum RPC handlers of `RaftClient` (KafkaRaftClient's handleXxx).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::client::RaftClient;
use super::log::{LogEntry, OffsetAndEpoch};
use super::purgatory::ParkedFetch;
use super::quorum_state::EpochState;
use super::{FetchFields, RaftError, RaftMessage, RaftOutput, RaftTimerKind, NS_PER_MS};

/// A valid Fetch's answer: where the fetcher's log diverges, or entries.
pub(super) type FetchBody = (Option<OffsetAndEpoch>, Vec<LogEntry>);

impl RaftClient {
    /// A message from voter `from` arrived.
    pub fn on_message(
        &mut self,
        now_ns: u64,
        rng: &mut ChaCha8Rng,
        from: u32,
        msg: RaftMessage,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        assert!(self.voters.contains(&from), "messages come from voters");
        match msg {
            RaftMessage::VoteRequest {
                candidate_epoch,
                candidate_id,
                last_offset_epoch,
                last_offset,
                pre_vote,
            } => {
                assert_eq!(candidate_id, from, "candidates ask for themselves");
                let last = OffsetAndEpoch {
                    offset: last_offset,
                    epoch: last_offset_epoch,
                };
                self.handle_vote_request(rng, from, candidate_epoch, last, pre_vote.0, out);
            }
            RaftMessage::VoteResponse {
                epoch,
                leader_id,
                vote_granted,
            } => {
                if self.maybe_handle_higher_epoch(rng, epoch, leader_id, out) {
                    return;
                }
                if let EpochState::Prospective {
                    epoch: ours,
                    leader_id: known,
                    votes,
                    ..
                } = &mut self.state
                {
                    if *ours != epoch {
                        return;
                    }
                    // A voter names the leader of our epoch we did not know:
                    // follow it (KafkaRaftClient's maybeTransition).
                    if let (None, Some(leader)) = (*known, leader_id) {
                        if leader != self.id {
                            self.accept_leader(rng, epoch, leader, out);
                            return;
                        }
                    }
                    votes.record(from, vote_granted);
                    self.maybe_end_prospective(rng, out);
                    return;
                }
                // Unlike Kafka, a refused candidate does not back off before its
                // election timeout: without pre-vote (KIP-996) a lagging voter
                // retrying every backoff keeps deposing the quorum (seen in sweeps).
                if let EpochState::Candidate {
                    epoch: ours, votes, ..
                } = &mut self.state
                {
                    if *ours != epoch {
                        return;
                    }
                    votes.record(from, vote_granted);
                    self.maybe_become_leader(rng, out);
                }
            }
            RaftMessage::BeginQuorumEpoch {
                leader_epoch,
                leader_id,
            } => {
                assert_eq!(leader_id, from, "leaders announce themselves");
                if leader_epoch >= self.epoch() {
                    self.accept_leader(rng, leader_epoch, leader_id, out);
                }
            }
            RaftMessage::EndQuorumEpoch {
                leader_epoch,
                leader_id,
                preferred_successors,
            } => {
                if leader_epoch > self.epoch() {
                    let next = EpochState::Unattached {
                        epoch: leader_epoch,
                    };
                    self.transition(next, rng, out);
                } else if leader_epoch == self.epoch() && self.leader_id() == Some(leader_id) {
                    // Kafka shortens the wait by the voter's place among the successors.
                    let position = preferred_successors
                        .iter()
                        .position(|&v| v == self.id)
                        .unwrap_or(preferred_successors.len())
                        as u64;
                    let backoff_ns =
                        rng.random_range(0..self.config.election_backoff_max_ms.max(1) * NS_PER_MS);
                    let after_ns = backoff_ns * (position + 1) / (self.voters.len() as u64);
                    self.set_timer(RaftTimerKind::FetchTimeout, after_ns, out);
                }
            }
            RaftMessage::FetchRequest { replica_id, .. } => {
                assert_eq!(replica_id, from, "replicas fetch for themselves");
                let request = FetchFields::of(&msg).expect("a Fetch");
                self.handle_fetch_request(from, request, out);
            }
            RaftMessage::FetchResponse {
                epoch,
                leader_id,
                error,
                high_watermark,
                diverging_epoch,
                records,
            } => {
                if self.maybe_handle_higher_epoch(rng, epoch, leader_id, out)
                    || epoch < self.epoch()
                {
                    return;
                }
                if error.is_none() && !matches!(self.state, EpochState::Follower { .. }) {
                    // Only the leader of our epoch answers without error.
                    self.accept_leader(rng, epoch, from, out);
                    return;
                }
                self.handle_fetch_response(
                    from,
                    error,
                    high_watermark,
                    diverging_epoch,
                    records,
                    out,
                );
            }
        }
    }

    /// A message from a newer epoch: moves to it (following its leader if
    /// named). Returns true when the message was for that transition only.
    fn maybe_handle_higher_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        epoch: u32,
        leader_id: Option<u32>,
        out: &mut Vec<RaftOutput>,
    ) -> bool {
        if epoch <= self.epoch() {
            return false;
        }
        match leader_id {
            Some(leader) if leader != self.id => self.accept_leader(rng, epoch, leader, out),
            _ => self.transition(EpochState::Unattached { epoch }, rng, out),
        }
        true
    }

    /// `leader_id` leads `epoch` (>= ours): follow it.
    fn accept_leader(
        &mut self,
        rng: &mut ChaCha8Rng,
        epoch: u32,
        leader_id: u32,
        out: &mut Vec<RaftOutput>,
    ) {
        assert!(epoch >= self.epoch());
        if epoch == self.epoch() {
            let known = self.leader_id();
            assert!(
                known.is_none() || known == Some(leader_id) || self.mutations.any(),
                "two leaders in epoch {epoch}: {known:?} and {leader_id}"
            );
            if known.is_some() {
                return;
            }
        }
        let follower = EpochState::new_follower(epoch, leader_id);
        self.transition(follower, rng, out);
    }

    /// KafkaRaftClient's handleVoteRequest: a request of a newer epoch moves
    /// this voter to it (pre-vote or not); a vote is granted once per epoch
    /// to a candidate whose log is at least as up to date, by a voter that
    /// knows no leader of the epoch. A pre-vote (KIP-996) casts nothing: it
    /// is granted to an up-to-date log by every state but the Leader and a
    /// Follower that has fetched from its leader (the states' `canGrantVote`
    /// with `isPreVote`).
    fn handle_vote_request(
        &mut self,
        rng: &mut ChaCha8Rng,
        candidate: u32,
        candidate_epoch: u32,
        candidate_last: OffsetAndEpoch,
        pre_vote: bool,
        out: &mut Vec<RaftOutput>,
    ) {
        if candidate_epoch > self.epoch() {
            let next = EpochState::Unattached {
                epoch: candidate_epoch,
            };
            self.transition(next, rng, out);
        }
        let ours = OffsetAndEpoch {
            offset: self.log.end_offset(),
            epoch: self.log.last_epoch(),
        };
        let log_ok = (candidate_last.epoch, candidate_last.offset) >= (ours.epoch, ours.offset)
            || self.mutations.vote_without_log_check;
        let vote_granted = candidate_epoch == self.epoch()
            && if pre_vote {
                match self.state {
                    EpochState::Leader(_) => false,
                    EpochState::Follower {
                        has_fetched_from_leader,
                        ..
                    } => !has_fetched_from_leader && log_ok,
                    _ => log_ok,
                }
            } else {
                match self.state {
                    EpochState::Unattached { .. } => log_ok,
                    EpochState::Voted { voted_id, .. } => {
                        voted_id == candidate || self.mutations.vote_twice
                    }
                    EpochState::Prospective {
                        leader_id: None,
                        voted_id,
                        ..
                    } => voted_id.map_or(log_ok, |v| v == candidate),
                    _ => false,
                }
            };
        if vote_granted && !pre_vote {
            match &self.state {
                EpochState::Unattached { .. } => {
                    let voted = EpochState::Voted {
                        epoch: candidate_epoch,
                        voted_id: candidate,
                    };
                    // The vote is written and fsynced before the response leaves (held by `send`).
                    self.transition(voted, rng, out);
                }
                EpochState::Prospective {
                    voted_id: None,
                    votes,
                    ..
                } => {
                    // QuorumState's prospectiveAddVotedState: still Prospective,
                    // with the vote (durable before the response leaves).
                    let voted = EpochState::Prospective {
                        epoch: candidate_epoch,
                        leader_id: None,
                        voted_id: Some(candidate),
                        votes: votes.clone(),
                    };
                    self.transition(voted, rng, out);
                }
                _ => {}
            }
        }
        let msg = RaftMessage::VoteResponse {
            epoch: self.epoch(),
            leader_id: self.leader_id(),
            vote_granted,
        };
        self.send(candidate, msg, out);
    }

    fn handle_fetch_request(
        &mut self,
        replica: u32,
        request: FetchFields,
        out: &mut Vec<RaftOutput>,
    ) {
        let (error, response) = self.fetch_answer(None, &request);
        if error.is_none() {
            let EpochState::Leader(leader) = &mut self.state else {
                unreachable!("a Fetch without an error is served by the leader");
            };
            if response.0.is_none() {
                leader.update_replica(replica, request.fetch_offset, self.now_ns);
                self.maybe_advance_high_watermark(out);
            }
        }
        if self.maybe_park(replica, error, &response, request, out) {
            return;
        }
        let msg = self.fetch_response(error, response);
        self.send(replica, msg, out);
    }

    /// A Fetch from an observer (a broker replicating the metadata log
    /// without voting), as KafkaRaftClient serves a replica id outside the
    /// voter set: validated, served and parked as a voter's fetch, but the
    /// observer is not tracked in `LeaderState` and never counts towards the
    /// high watermark.
    pub fn observer_fetch(
        &mut self,
        now_ns: u64,
        observer: u32,
        request: FetchFields,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        let (error, body) = self.fetch_answer(None, &request);
        if self.maybe_park(observer, error, &body, request, out) {
            return;
        }
        out.push(RaftOutput::send(observer, self.fetch_response(error, body)));
    }

    /// Parks a valid Fetch with nothing to return (KafkaRaftClient's
    /// handleFetchRequest): no error, no divergence, no entries, and (with
    /// KIP-1166) a replica that already knows the high watermark.
    fn maybe_park(
        &mut self,
        replica: u32,
        error: Option<RaftError>,
        (diverging, records): &FetchBody,
        request: FetchFields,
        out: &mut Vec<RaftOutput>,
    ) -> bool {
        let knows_hw = request
            .high_watermark
            .is_none_or(|known| known >= self.high_watermark);
        if error.is_some() || diverging.is_some() || !records.is_empty() || !knows_hw {
            return false;
        }
        let parked = ParkedFetch { replica, request };
        if let Some(at) = self.purgatory.park(self.now_ns, parked) {
            self.set_timer(RaftTimerKind::FetchPurgatory, at - self.now_ns, out);
        }
        true
    }

    /// What a Fetch asking `request` is answered now: `error` if given,
    /// else the error `fetch_error` finds, else its body (a divergence or
    /// entries).
    pub(super) fn fetch_answer(
        &self,
        error: Option<RaftError>,
        request: &FetchFields,
    ) -> (Option<RaftError>, FetchBody) {
        let error = error.or_else(|| self.fetch_error(request.current_leader_epoch));
        let body = match error {
            Some(_) => (None, Vec::new()),
            None => self.fetch_body(request.fetch_offset, request.last_fetched_epoch),
        };
        (error, body)
    }

    /// Why a Fetch in `epoch` fails here, if it does.
    fn fetch_error(&self, epoch: u32) -> Option<RaftError> {
        let ours = self.epoch();
        if epoch < ours {
            Some(RaftError::FencedLeaderEpoch)
        } else if epoch > ours {
            Some(RaftError::UnknownLeaderEpoch)
        } else if !self.is_leader() {
            Some(RaftError::NotLeaderOrFollower)
        } else {
            None
        }
    }

    /// A valid Fetch's answer: where the fetcher's log diverges, or else up
    /// to `fetch_max_entries` entries from `fetch_offset`.
    fn fetch_body(&self, fetch_offset: u64, last_fetched_epoch: u32) -> FetchBody {
        let diverging = self.log.diverging_epoch(fetch_offset, last_fetched_epoch);
        let records = if diverging.is_none() {
            let max = self.config.fetch_max_entries;
            self.log.entries_from(fetch_offset, max).to_vec()
        } else {
            Vec::new()
        };
        (diverging, records)
    }

    pub(super) fn fetch_response(
        &self,
        error: Option<RaftError>,
        (diverging_epoch, records): FetchBody,
    ) -> RaftMessage {
        RaftMessage::FetchResponse {
            epoch: self.epoch(),
            leader_id: self.leader_id(),
            error,
            high_watermark: if error.is_none() {
                self.high_watermark
            } else {
                0
            },
            diverging_epoch,
            records,
        }
    }

    fn handle_fetch_response(
        &mut self,
        from: u32,
        error: Option<RaftError>,
        high_watermark: u64,
        diverging_epoch: Option<OffsetAndEpoch>,
        records: Vec<LogEntry>,
        out: &mut Vec<RaftOutput>,
    ) {
        // Entries that do not start at our log end answer an earlier Fetch
        // (the leader held one while we sent another): Kafka matches an
        // answer to its request by correlation id and drops this one; we
        // keep waiting for ours.
        let end = self.log.end_offset();
        if records.first().is_some_and(|first| first.offset != end) {
            return;
        }
        let EpochState::Follower {
            leader_id,
            fetch_in_flight,
            has_fetched_from_leader,
            ..
        } = &mut self.state
        else {
            return;
        };
        if *leader_id != from || !*fetch_in_flight {
            return;
        }
        *fetch_in_flight = false;
        if error.is_none() {
            *has_fetched_from_leader = true;
        }
        if error.is_some() {
            let retry_ns = self.config.retry_backoff_ms * NS_PER_MS;
            self.set_timer(RaftTimerKind::FetchRetry, retry_ns, out);
            return;
        }
        self.set_timer(
            RaftTimerKind::FetchTimeout,
            self.config.fetch_timeout_ms * NS_PER_MS,
            out,
        );
        if let Some(diverging) = diverging_epoch {
            assert!(
                records.is_empty(),
                "a diverging response carries no records"
            );
            let local = self.log.end_offset_for_epoch(diverging.epoch);
            self.truncate_log(diverging.offset.min(local.offset), out);
            self.send_fetch(out);
            return;
        }
        if records.is_empty() {
            // The leader held the Fetch as long as it had nothing to say:
            // the next one goes at once.
            self.advance_high_watermark(high_watermark.min(self.log.end_offset()), out);
            self.send_fetch(out);
            return;
        }
        for entry in records {
            let (at, bytes) = self.log.append(entry);
            self.write_log(at, bytes, out);
        }
        self.advance_high_watermark(high_watermark.min(self.log.end_offset()), out);
        let token = self.fsync_log(out);
        if let EpochState::Follower { awaiting_fsync, .. } = &mut self.state {
            *awaiting_fsync = Some(token);
        }
    }
}
