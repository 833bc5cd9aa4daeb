//! The leader's fetch purgatory (KafkaRaftClient's `fetchPurgatory`): a
//! valid Fetch with nothing to return (no entries past its offset, no
//! divergence) waits at the leader for up to [`MAX_FETCH_WAIT_MS`]. It is
//! answered when the log grows past its offset, when (KIP-1166, Kafka 4.1)
//! the high watermark rises past the one its replica sent, when the leader
//! steps down, or else when its wait is up.

use super::{FetchFields, NS_PER_MS};

/// How long the leader holds a Fetch with nothing to return
/// (KafkaRaftClient's `MAX_FETCH_WAIT_MS`; not a config).
pub const MAX_FETCH_WAIT_MS: u64 = 500;

/// A Fetch the leader holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ParkedFetch {
    /// The fetching replica (a voter, or an observer: a broker).
    pub replica: u32,
    /// What it asked.
    pub request: FetchFields,
}

/// The parked Fetches, oldest first (every one waits the same time, so
/// this is also the order they expire in).
#[derive(Clone, Debug, Default)]
pub(super) struct FetchPurgatory {
    /// Each with the time its wait is up.
    parked: Vec<(u64, ParkedFetch)>,
    /// The firing time of the pending `FetchPurgatory` timer, if one is set.
    armed_ns: Option<u64>,
}

impl FetchPurgatory {
    /// Parks `fetch` in place of an older Fetch of the same replica, which
    /// gave that one up (a broken connection, a new epoch state): Kafka
    /// would answer both, and the replica would drop the late answer.
    /// Returns the time a timer must be set for, when none is pending.
    pub fn park(&mut self, now_ns: u64, fetch: ParkedFetch) -> Option<u64> {
        self.parked.retain(|(_, p)| p.replica != fetch.replica);
        self.parked
            .push((now_ns + MAX_FETCH_WAIT_MS * NS_PER_MS, fetch));
        self.arm()
    }

    /// Takes out, in order, the parked Fetches `ready` holds for.
    pub fn take(&mut self, mut ready: impl FnMut(&ParkedFetch) -> bool) -> Vec<ParkedFetch> {
        self.take_where(|_, p| ready(p))
    }

    /// The timer fired at `now_ns`: the Fetches whose wait is up, and the
    /// time to set the timer again for, if any remain.
    pub fn expire(&mut self, now_ns: u64) -> (Vec<ParkedFetch>, Option<u64>) {
        self.armed_ns = None;
        let due = self.take_where(|expires_ns, _| expires_ns <= now_ns);
        (due, self.arm())
    }

    /// Every parked Fetch (the leader steps down); the pending timer goes
    /// stale with the transition.
    pub fn take_all(&mut self) -> Vec<ParkedFetch> {
        self.armed_ns = None;
        self.take_where(|_, _| true)
    }

    /// Takes out, in order, the parked Fetches `ready` holds for, given
    /// when each one's wait is up.
    fn take_where(&mut self, mut ready: impl FnMut(u64, &ParkedFetch) -> bool) -> Vec<ParkedFetch> {
        if !self.parked.iter().any(|&(at, ref p)| ready(at, p)) {
            return Vec::new();
        }
        let (done, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|&(at, ref p)| ready(at, p));
        self.parked = kept;
        done.into_iter().map(|(_, p)| p).collect()
    }

    /// Number of parked Fetches.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.parked.len()
    }

    fn arm(&mut self) -> Option<u64> {
        let first = self.parked.first()?.0;
        if self.armed_ns.is_some_and(|armed| armed <= first) {
            return None;
        }
        self.armed_ns = Some(first);
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(replica: u32, fetch_offset: u64) -> ParkedFetch {
        ParkedFetch {
            replica,
            request: FetchFields {
                current_leader_epoch: 1,
                fetch_offset,
                last_fetched_epoch: 1,
                high_watermark: None,
            },
        }
    }

    #[test]
    fn one_timer_covers_the_parked_fetches_in_order_of_their_wait() {
        let wait = MAX_FETCH_WAIT_MS * NS_PER_MS;
        let mut purgatory = FetchPurgatory::default();
        assert_eq!(purgatory.park(0, fetch(1, 5)), Some(wait));
        assert_eq!(
            purgatory.park(10, fetch(2, 5)),
            None,
            "the first's timer is earlier"
        );
        // A replica fetching again replaces its parked Fetch.
        assert_eq!(purgatory.park(20, fetch(1, 6)), None);
        assert_eq!(purgatory.len(), 2);
        let (due, next) = purgatory.expire(wait);
        assert!(due.is_empty(), "replica 1's Fetch was replaced: {due:?}");
        assert_eq!(next, Some(10 + wait));
        let (due, next) = purgatory.expire(10 + wait);
        assert_eq!(due, vec![fetch(2, 5)]);
        assert_eq!(next, Some(20 + wait));
        let taken = purgatory.take(|p| p.request.fetch_offset < 7);
        assert_eq!(taken.len(), 1);
        assert_eq!(purgatory.len(), 0);
        assert_eq!(purgatory.expire(20 + wait), (Vec::new(), None));
    }
}
