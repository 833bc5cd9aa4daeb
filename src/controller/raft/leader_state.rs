//! `LeaderState`: the leader's view of its voters (Kafka's LeaderState):
//! each voter's durable end offset and when it last fetched, from which the
//! high watermark and the check-quorum verdict follow.

use std::collections::BTreeMap;

/// What the leader knows of one voter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaState {
    /// Entries below this are on the voter's disk (its fetch offset; the leader's fsynced end).
    pub end_offset: u64,
    /// When the voter last fetched in this epoch.
    pub last_fetch_ns: Option<u64>,
    /// When it last fetched from at or past the leader's durable end (caught up).
    pub last_caught_up_ns: Option<u64>,
}

/// The leader's state for one epoch.
#[derive(Clone, Debug)]
pub struct LeaderState {
    local_id: u32,
    epoch: u32,
    epoch_start_offset: u64,
    voters: BTreeMap<u32, ReplicaState>,
}

impl LeaderState {
    /// A leader of `epoch` whose LeaderChange entry goes at `epoch_start_offset`.
    pub fn new(local_id: u32, epoch: u32, epoch_start_offset: u64, voters: &[u32]) -> Self {
        assert!(voters.contains(&local_id), "the leader is a voter");
        Self {
            local_id,
            epoch,
            epoch_start_offset,
            voters: voters
                .iter()
                .map(|&v| (v, ReplicaState::default()))
                .collect(),
        }
    }

    /// The epoch led.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Offset of the epoch's first entry (its LeaderChange).
    pub fn epoch_start_offset(&self) -> u64 {
        self.epoch_start_offset
    }

    /// The voter's state.
    pub fn replica(&self, id: u32) -> ReplicaState {
        self.voters[&id]
    }

    /// The leader's own log is durable up to `end_offset`.
    pub fn update_local_end(&mut self, end_offset: u64) {
        let local = self
            .voters
            .get_mut(&self.local_id)
            .expect("leader is a voter");
        local.end_offset = local.end_offset.max(end_offset);
    }

    /// A valid Fetch from `id` at `fetch_offset` arrived.
    pub fn update_replica(&mut self, id: u32, fetch_offset: u64, now_ns: u64) {
        assert_ne!(id, self.local_id, "the leader does not fetch from itself");
        let leader_end = self.voters[&self.local_id].end_offset;
        let replica = self.voters.get_mut(&id).expect("fetches come from voters");
        // A voter that lost un-fsynced data may report less; it only counts what it has.
        replica.end_offset = fetch_offset;
        replica.last_fetch_ns = Some(now_ns);
        if fetch_offset >= leader_end {
            replica.last_caught_up_ns = Some(now_ns);
        }
    }

    /// The offset a majority of voters (the leader included) has, or with
    /// `minority` the leader's own (the commit_on_minority mutation).
    pub fn majority_end_offset(&self, minority: bool) -> u64 {
        let mut ends: Vec<u64> = self.voters.values().map(|r| r.end_offset).collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        if minority {
            return self.voters[&self.local_id].end_offset;
        }
        ends[self.voters.len() / 2]
    }

    /// The high watermark this leader may publish given `current`: the
    /// majority end offset, once it is past the epoch start (Kafka commits
    /// nothing before an entry of its own epoch is committed). Never lower.
    pub fn high_watermark(&self, current: u64, minority: bool) -> u64 {
        let majority = self.majority_end_offset(minority);
        if majority > self.epoch_start_offset && majority > current {
            majority
        } else {
            current
        }
    }

    /// True when a majority (the leader counts) fetched within `timeout_ns` of `now_ns`.
    pub fn majority_fetched_since(&self, now_ns: u64, timeout_ns: u64) -> bool {
        let recent = self
            .voters
            .iter()
            .filter(|&(&id, r)| {
                id == self.local_id
                    || r.last_fetch_ns
                        .is_some_and(|t| t.saturating_add(timeout_ns) >= now_ns)
            })
            .count();
        recent > self.voters.len() / 2
    }

    /// Voters other than the leader that have not fetched in this epoch yet.
    pub fn unacknowledged(&self) -> Vec<u32> {
        self.voters
            .iter()
            .filter(|&(&id, r)| id != self.local_id && r.last_fetch_ns.is_none())
            .map(|(&id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_watermark_needs_a_majority_past_the_epoch_start() {
        let mut leader = LeaderState::new(1, 4, 10, &[1, 2, 3]);
        leader.update_local_end(11);
        assert_eq!(leader.high_watermark(7, false), 7, "only the leader has 10");
        leader.update_replica(2, 10, 5);
        assert_eq!(
            leader.high_watermark(7, false),
            7,
            "a majority at the epoch start commits nothing of the new epoch"
        );
        leader.update_replica(3, 11, 6);
        assert_eq!(leader.high_watermark(7, false), 11);
        leader.update_replica(3, 9, 7);
        leader.update_replica(2, 9, 7);
        assert_eq!(leader.high_watermark(11, false), 11, "never lower");
        assert_eq!(
            leader.high_watermark(7, true),
            11,
            "the mutation counts itself"
        );
    }

    #[test]
    fn check_quorum_counts_the_leader_and_recent_fetchers() {
        let mut leader = LeaderState::new(2, 1, 0, &[1, 2, 3, 4, 5]);
        assert!(!leader.majority_fetched_since(100, 50));
        leader.update_replica(1, 0, 60);
        leader.update_replica(3, 0, 40);
        assert!(
            !leader.majority_fetched_since(100, 50),
            "3 fetched too long ago"
        );
        leader.update_replica(5, 0, 90);
        assert!(leader.majority_fetched_since(100, 50));
        assert_eq!(leader.unacknowledged(), vec![4]);
    }
}
