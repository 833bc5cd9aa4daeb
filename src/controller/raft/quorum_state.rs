//! The epoch states of Kafka's QuorumState, and the election state that is
//! persisted in the `quorum-state` file (epoch, votedId, leaderId).

use std::collections::BTreeSet;

use super::frame;
use super::leader_state::LeaderState;

/// What `quorum-state` records: enough to never vote twice in an epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElectionState {
    /// The epoch.
    pub epoch: u32,
    /// Whom this voter voted for in that epoch.
    pub voted_id: Option<u32>,
    /// The leader of that epoch, if known.
    pub leader_id: Option<u32>,
}

impl ElectionState {
    /// One framed record for the (append-only) `quorum-state` file.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(12);
        for word in [self.epoch, id_word(self.voted_id), id_word(self.leader_id)] {
            body.extend_from_slice(&word.to_le_bytes());
        }
        frame::encode(&body)
    }

    /// The newest whole record in the file, and the length of the valid prefix.
    pub fn recover(bytes: Option<&[u8]>) -> (Self, u64) {
        let mut state = Self::default();
        let mut valid = 0;
        for (at, body) in frame::decode(bytes.unwrap_or_default()) {
            if body.len() != 12 {
                break;
            }
            let word = |i: usize| u32::from_le_bytes(body[i * 4..i * 4 + 4].try_into().expect("4"));
            let next = Self {
                epoch: word(0),
                voted_id: (word(1) != 0).then_some(word(1)),
                leader_id: (word(2) != 0).then_some(word(2)),
            };
            if next.epoch < state.epoch {
                break;
            }
            state = next;
            valid = at as u64 + 8 + 12;
        }
        (state, valid)
    }
}

fn id_word(id: Option<u32>) -> u32 {
    let word = id.unwrap_or(0);
    assert!(id.is_none() || word != 0, "controller ids start at 1");
    word
}

/// The kind of an epoch state, for outputs and observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKind {
    /// Knows the epoch, not its leader, has not voted.
    Unattached,
    /// Voted for a candidate in this epoch.
    Voted,
    /// Asks for pre-votes before it stands for election (KIP-996).
    Prospective,
    /// Stands for election.
    Candidate,
    /// Leads the epoch.
    Leader,
    /// Follows the epoch's leader.
    Follower,
    /// Led the epoch and gave it up.
    Resigned,
}

/// The answers a Prospective voter or a Candidate has had to its
/// (pre-)VoteRequests (Kafka's `EpochElection`).
#[derive(Clone, Debug)]
pub struct Votes {
    /// Voters that granted (itself included).
    granted: BTreeSet<u32>,
    /// Voters that refused.
    rejected: BTreeSet<u32>,
}

impl Votes {
    /// Only `id`'s own vote, granted.
    pub fn own(id: u32) -> Self {
        Self {
            granted: BTreeSet::from([id]),
            rejected: BTreeSet::new(),
        }
    }

    /// `from` answered, granting or not.
    pub fn record(&mut self, from: u32, granted: bool) {
        if granted {
            self.granted.insert(from);
        } else {
            self.rejected.insert(from);
        }
    }

    /// A majority of `voters` voters granted.
    pub fn won(&self, voters: usize) -> bool {
        self.granted.len() > voters / 2
    }

    /// So many of `voters` voters refused that no majority can grant.
    pub fn lost(&self, voters: usize) -> bool {
        voters - self.rejected.len() <= voters / 2
    }
}

/// Where this voter stands in the current epoch (QuorumState's EpochState).
#[derive(Clone, Debug)]
pub enum EpochState {
    /// Knows the epoch, not its leader, has not voted.
    Unattached {
        /// The epoch.
        epoch: u32,
    },
    /// Voted for `voted_id` in `epoch`.
    Voted {
        /// The epoch.
        epoch: u32,
        /// The candidate it voted for.
        voted_id: u32,
    },
    /// Asks the voters whether they would vote for it in the next epoch
    /// (KIP-996's ProspectiveState): its fetch or election timeout expired,
    /// and it stays in its epoch, with the leader and vote it knew, until a
    /// majority grants it a pre-vote.
    Prospective {
        /// The epoch (not bumped).
        epoch: u32,
        /// The leader of the epoch it followed, if any.
        leader_id: Option<u32>,
        /// Whom it voted for in this epoch, if anyone.
        voted_id: Option<u32>,
        /// The pre-votes so far (its own granted).
        votes: Votes,
    },
    /// Stands for election (voted for itself).
    Candidate {
        /// The epoch.
        epoch: u32,
        /// The votes so far (its own granted).
        votes: Votes,
        /// Lost or timed out: waiting out the election backoff.
        backing_off: bool,
    },
    /// Leads the epoch.
    Leader(Box<LeaderState>),
    /// Follows `leader_id`.
    Follower {
        /// The epoch.
        epoch: u32,
        /// The leader.
        leader_id: u32,
        /// A Fetch is outstanding.
        fetch_in_flight: bool,
        /// Appended entries wait for this log fsync before the next Fetch.
        awaiting_fsync: Option<u64>,
        /// A Fetch of this epoch was answered without error (Kafka's
        /// `FollowerState.hasFetchedFromLeader`): from then on it refuses
        /// pre-votes (KIP-996).
        has_fetched_from_leader: bool,
    },
    /// Led the epoch and resigned; waits for the next election.
    Resigned {
        /// The epoch.
        epoch: u32,
    },
}

impl EpochState {
    /// A follower of `leader_id` in `epoch` that has not fetched yet.
    pub fn new_follower(epoch: u32, leader_id: u32) -> Self {
        Self::Follower {
            epoch,
            leader_id,
            fetch_in_flight: false,
            awaiting_fsync: None,
            has_fetched_from_leader: false,
        }
    }

    /// The epoch.
    pub fn epoch(&self) -> u32 {
        match self {
            Self::Unattached { epoch }
            | Self::Voted { epoch, .. }
            | Self::Prospective { epoch, .. }
            | Self::Candidate { epoch, .. }
            | Self::Follower { epoch, .. }
            | Self::Resigned { epoch } => *epoch,
            Self::Leader(leader) => leader.epoch(),
        }
    }

    /// The kind of state.
    pub fn kind(&self) -> StateKind {
        match self {
            Self::Unattached { .. } => StateKind::Unattached,
            Self::Voted { .. } => StateKind::Voted,
            Self::Prospective { .. } => StateKind::Prospective,
            Self::Candidate { .. } => StateKind::Candidate,
            Self::Leader(_) => StateKind::Leader,
            Self::Follower { .. } => StateKind::Follower,
            Self::Resigned { .. } => StateKind::Resigned,
        }
    }

    /// The leader of the epoch, if known (`local_id` for Leader and Resigned).
    pub fn leader_id(&self, local_id: u32) -> Option<u32> {
        match self {
            Self::Leader(_) | Self::Resigned { .. } => Some(local_id),
            Self::Follower { leader_id, .. } => Some(*leader_id),
            Self::Prospective { leader_id, .. } => *leader_id,
            _ => None,
        }
    }

    /// What must be durable before this state acts.
    pub fn election(&self, local_id: u32) -> ElectionState {
        let voted_id = match self {
            Self::Voted { voted_id, .. } => Some(*voted_id),
            Self::Prospective { voted_id, .. } => *voted_id,
            Self::Candidate { .. } | Self::Leader(_) | Self::Resigned { .. } => Some(local_id),
            Self::Unattached { .. } | Self::Follower { .. } => None,
        };
        ElectionState {
            epoch: self.epoch(),
            voted_id,
            leader_id: self.leader_id(local_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_whole_record_wins_and_a_torn_one_is_cut() {
        let a = ElectionState {
            epoch: 3,
            voted_id: Some(2),
            leader_id: None,
        };
        let b = ElectionState {
            epoch: 3,
            voted_id: Some(2),
            leader_id: Some(2),
        };
        let mut file = a.encode();
        file.extend(b.encode());
        let whole = file.len() as u64;
        file.extend(&ElectionState::default().encode()[..7]);
        assert_eq!(ElectionState::recover(Some(&file)), (b, whole));
        assert_eq!(
            ElectionState::recover(Some(&file[..30])),
            (a, 20),
            "a torn second record leaves the first"
        );
        assert_eq!(ElectionState::recover(None), (ElectionState::default(), 0));
    }

    #[test]
    fn an_election_is_won_by_a_majority_and_lost_once_none_can_grant() {
        let mut three = Votes::own(1);
        assert!(!three.won(3) && !three.lost(3));
        three.record(2, false);
        assert!(!three.won(3) && !three.lost(3), "voter 3 may still grant");
        three.record(3, true);
        assert!(three.won(3));
        let mut four = Votes::own(1);
        four.record(2, true);
        assert!(!four.won(4), "2 of 4 is no majority");
        four.record(3, false);
        assert!(!four.lost(4));
        four.record(4, false);
        assert!(four.lost(4), "at most 2 of 4 can grant");
    }
}
