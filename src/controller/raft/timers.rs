//! The timers of `RaftClient`: election timeout and backoff, the
//! follower's fetch timeout and retry, the leader's check-quorum, its
//! BeginQuorumEpoch retries and its fetch purgatory's expiry. A timer is
//! stale unless its generation is the newest of its kind; every transition
//! makes all pending timers stale.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::client::RaftClient;
use super::quorum_state::EpochState;
use super::{RaftMessage, RaftOutput, RaftTimer, RaftTimerKind, NS_PER_MS};

impl RaftClient {
    /// A timer fired.
    pub fn on_timer(
        &mut self,
        now_ns: u64,
        rng: &mut ChaCha8Rng,
        timer: RaftTimer,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        if self.timer_generations[timer.kind.index()] != timer.generation {
            return;
        }
        let epoch = self.epoch();
        match (timer.kind, &mut self.state) {
            (
                RaftTimerKind::ElectionTimeout,
                EpochState::Unattached { .. } | EpochState::Voted { .. },
            ) => self.on_election_due(rng, out),
            (RaftTimerKind::ElectionTimeout, EpochState::Resigned { .. }) => {
                if self.config.pre_vote {
                    // Kafka 4.0's resigned leader moves to Unattached in the
                    // next epoch when its election timeout expires, and from
                    // there (its timeout spent) straight to Prospective.
                    let next = EpochState::Unattached { epoch: epoch + 1 };
                    self.transition(next, rng, out);
                }
                self.on_election_due(rng, out);
            }
            (
                RaftTimerKind::ElectionTimeout,
                EpochState::Prospective {
                    leader_id,
                    voted_id,
                    ..
                },
            ) => {
                let (leader_id, voted_id) = (*leader_id, *voted_id);
                self.leave_prospective(epoch, leader_id, voted_id, rng, out);
            }
            (
                RaftTimerKind::ElectionTimeout,
                EpochState::Candidate {
                    backing_off: backing_off @ false,
                    ..
                },
            ) => {
                *backing_off = true;
                let backoff_ns =
                    rng.random_range(0..self.config.election_backoff_max_ms.max(1) * NS_PER_MS);
                self.set_timer(RaftTimerKind::ElectionBackoff, backoff_ns, out);
            }
            (RaftTimerKind::ElectionBackoff, EpochState::Candidate { .. })
            | (RaftTimerKind::FetchTimeout, EpochState::Follower { .. }) => {
                self.on_election_due(rng, out)
            }
            (
                RaftTimerKind::FetchRetry,
                EpochState::Follower {
                    fetch_in_flight: false,
                    ..
                },
            ) => self.send_fetch(out),
            (RaftTimerKind::CheckQuorum, EpochState::Leader(leader)) => {
                let timeout_ns = self.config.check_quorum_timeout_ns();
                if leader.majority_fetched_since(now_ns, timeout_ns) {
                    self.set_timer(RaftTimerKind::CheckQuorum, timeout_ns, out);
                } else {
                    self.resign(now_ns, rng, out);
                }
            }
            (RaftTimerKind::BeginQuorumEpochRetry, EpochState::Leader(leader)) => {
                for to in leader.unacknowledged() {
                    let msg = RaftMessage::BeginQuorumEpoch {
                        leader_epoch: epoch,
                        leader_id: self.id,
                    };
                    self.send(to, msg, out);
                }
                let retry_ns = self.config.retry_backoff_ms * NS_PER_MS * 2;
                self.set_timer(RaftTimerKind::BeginQuorumEpochRetry, retry_ns, out);
            }
            (RaftTimerKind::FetchPurgatory, EpochState::Leader(_)) => {
                // Their wait is up: answered with what there is (nothing
                // new, the current high watermark).
                let (due, next) = self.purgatory.expire(now_ns);
                if let Some(at) = next {
                    self.set_timer(RaftTimerKind::FetchPurgatory, at - now_ns, out);
                }
                self.answer_parked(due, None, out);
            }
            _ => {}
        }
    }

    /// The connection to `peer` broke: a follower retries its fetch.
    pub fn on_disconnect(&mut self, now_ns: u64, peer: u32, out: &mut Vec<RaftOutput>) {
        self.now_ns = now_ns;
        if let EpochState::Follower {
            leader_id,
            fetch_in_flight,
            ..
        } = &mut self.state
        {
            if *leader_id == peer && *fetch_in_flight {
                *fetch_in_flight = false;
                let retry_ns = self.config.retry_backoff_ms * NS_PER_MS;
                self.set_timer(RaftTimerKind::FetchRetry, retry_ns, out);
            }
        }
    }

    /// Sets a timer of `kind`; older ones of that kind go stale.
    pub(super) fn set_timer(
        &mut self,
        kind: RaftTimerKind,
        after_ns: u64,
        out: &mut Vec<RaftOutput>,
    ) {
        let generation = &mut self.timer_generations[kind.index()];
        *generation += 1;
        let timer = RaftTimer {
            kind,
            generation: *generation,
        };
        out.push(RaftOutput::timer(self.now_ns + after_ns, timer));
    }
}
