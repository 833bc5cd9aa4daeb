//! `AlterPartitionManager`: a partition leader's ISR changes on their way
//! to the controller (Kafka's `DefaultAlterPartitionManager`). A proposal
//! waits here until the broker sends it through its controller channel; a
//! partition has at most one, unsent or in flight, and it stays until the
//! controller answers it: a request that times out or loses its connection
//! is sent again as it was (Kafka lets AlterPartition "retry indefinitely
//! until a response is received"), so the ISR it proposes, and the broker
//! epochs of its members, may be old by the time it arrives — the race
//! KIP-903's broker epochs close (KAFKA-14139). The leader acts on the ISR
//! only once the controller's answer (or the metadata) commits it.
//!
//! Before Kafka 3.0 (KAFKA-12686) the broker's `makeLeader` and
//! `makeFollower` dropped the partition's request, sent or not
//! (`AlterIsrManager.clearPending`): see [`AlterPartitionManager::clear`].

use std::collections::{BTreeMap, BTreeSet};

use crate::controller::rpc::ControllerRequest;
use crate::protocol::TopicIdPartition;

/// How long a request that got no answer or a top-level error waits
/// before it goes again (Kafka schedules `send-alter-partition` 50 ms
/// later after an error; its controller channel reconnects after
/// `reconnect.backoff.ms`, 50).
pub const RETRY_BACKOFF_MS: u64 = 50;

/// The period of Kafka 2.7's `send-alter-isr` task (`AlterIsrManagerImpl.start`
/// schedules it every 50 ms from the broker's start): before
/// apache/kafka#9749 (2.8) an ISR change waited for its next run.
pub const PROPAGATION_INTERVAL_MS: u64 = 50;

/// ISR changes waiting to be sent or answered.
#[derive(Debug, Default)]
pub struct AlterPartitionManager {
    /// Kafka 2.7 (`[protocol] alter_partition_sent_at_once = false`): when
    /// the `send-alter-isr` task started; what is queued goes at its runs,
    /// every [`PROPAGATION_INTERVAL_MS`] from then. None: at once (2.8 on).
    periodic_from_ms: Option<u64>,
    /// Each with the moment it may go (a retry after a top-level error
    /// waits [`RETRY_BACKOFF_MS`]).
    unsent: BTreeMap<TopicIdPartition, (ControllerRequest, u64)>,
    in_flight: BTreeMap<TopicIdPartition, ControllerRequest>,
    /// Partitions whose in-flight request [`AlterPartitionManager::clear`]
    /// dropped: its answer is still to come.
    dropped_in_flight: BTreeSet<TopicIdPartition>,
    /// No request in `unsent` may go before this (a lower bound: the
    /// broker asks after every input, and most find nothing due).
    earliest_due_ms: u64,
}

impl AlterPartitionManager {
    /// A manager whose requests go only at the runs of a task started at
    /// `started_ms` (Kafka 2.7's `send-alter-isr`, every
    /// [`PROPAGATION_INTERVAL_MS`]).
    pub fn periodic(started_ms: u64) -> Self {
        Self {
            periodic_from_ms: Some(started_ms),
            ..Self::default()
        }
    }

    /// When a request due at `at_ms` goes: at once, or at the periodic
    /// task's first run at or after it.
    fn due_at(&self, at_ms: u64) -> u64 {
        let Some(start) = self.periodic_from_ms else {
            return at_ms;
        };
        let runs = at_ms
            .saturating_sub(start)
            .div_ceil(PROPAGATION_INTERVAL_MS)
            .max(1);
        start + runs * PROPAGATION_INTERVAL_MS
    }

    /// Queues an AlterPartition for `tp` at `now_ms`, unless one for it is
    /// still unsent or unanswered (Kafka's `submit` then fails the new one
    /// with OperationNotAttemptedException, and the leader proposes again
    /// later). Returns whether it was queued. It goes at once, or (Kafka
    /// 2.7) at the periodic task's next run.
    pub fn submit(
        &mut self,
        tp: TopicIdPartition,
        request: ControllerRequest,
        now_ms: u64,
    ) -> bool {
        if self.unsent.contains_key(&tp) || self.in_flight.contains_key(&tp) {
            return false;
        }
        let at = match self.periodic_from_ms {
            Some(_) => self.due_at(now_ms + 1),
            None => 0,
        };
        self.unsent.insert(tp, (request, at));
        self.earliest_due_ms = self.earliest_due_ms.min(at);
        true
    }

    /// When the earliest request waiting goes (the periodic task's run
    /// that sends it, Kafka 2.7), if one waits.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.unsent
            .iter()
            .filter(|(tp, _)| !self.dropped_in_flight.contains(tp))
            .map(|(_, (_, at))| *at)
            .min()
    }

    /// Whether requests go only at the periodic task's runs (Kafka 2.7).
    pub fn is_periodic(&self) -> bool {
        self.periodic_from_ms.is_some()
    }

    /// The proposals due by `now_ms`, in partition order, each with the
    /// sender's current broker epoch (Kafka reads it at every send); they
    /// count as in flight from here.
    pub fn take_unsent(
        &mut self,
        now_ms: u64,
        broker_epoch: u64,
    ) -> Vec<(TopicIdPartition, ControllerRequest)> {
        if self.unsent.is_empty() || now_ms < self.earliest_due_ms {
            return Vec::new();
        }
        let due: Vec<TopicIdPartition> = self
            .unsent
            .iter()
            .filter(|(tp, (_, at))| *at <= now_ms && !self.dropped_in_flight.contains(tp))
            .map(|(tp, _)| *tp)
            .collect();
        let sent = due
            .into_iter()
            .filter_map(|tp| self.unsent.remove(&tp).map(|(r, _)| (tp, r)))
            .map(|(tp, mut request)| {
                if let ControllerRequest::AlterPartition {
                    broker_epoch: sent, ..
                } = &mut request
                {
                    *sent = broker_epoch;
                }
                self.in_flight.insert(tp, request.clone());
                (tp, request)
            })
            .collect();
        self.earliest_due_ms = self
            .unsent
            .values()
            .map(|&(_, at)| at)
            .min()
            .unwrap_or(u64::MAX);
        sent
    }

    /// The controller answered the request for `tp`: it is done. Returns
    /// whether it was one [`AlterPartitionManager::clear`] dropped: then
    /// the answer also drops whatever was queued for `tp` since (Kafka
    /// 2.8's response handler removes the partition's entry, whichever
    /// request put it there), and the partition is not to act on it.
    pub fn answered(&mut self, tp: &TopicIdPartition) -> bool {
        if self.dropped_in_flight.remove(tp) {
            self.unsent.remove(tp);
            return true;
        }
        self.in_flight.remove(tp);
        false
    }

    /// Kafka 2.8's `clearPending` (before KAFKA-12686), called by
    /// `makeLeader` and `makeFollower`: drops `tp`'s request, unsent or in
    /// flight. A dropped request in flight still gets its answer, and until
    /// then no other request for `tp` goes (2.8 sends one AlterIsr at a
    /// time, and an answer or a top-level error comes first).
    pub fn clear(&mut self, tp: &TopicIdPartition) {
        self.unsent.remove(tp);
        if self.in_flight.remove(tp).is_some() {
            self.dropped_in_flight.insert(*tp);
        }
    }

    /// The request for `tp` got no answer (a timeout, a broken
    /// connection) or a top-level error: it goes out again as it was, from
    /// `not_before_ms` on.
    pub fn retry(&mut self, tp: &TopicIdPartition, not_before_ms: u64) {
        if self.dropped_in_flight.remove(tp) {
            // A dropped request is not sent again; what was queued since goes.
            return;
        }
        if let Some(request) = self.in_flight.remove(tp) {
            let at = self.due_at(not_before_ms);
            self.unsent.insert(*tp, (request, at));
            self.earliest_due_ms = self.earliest_due_ms.min(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Uuid;

    fn request(isr: &[(u32, u64)]) -> ControllerRequest {
        ControllerRequest::AlterPartition {
            broker_id: 1,
            broker_epoch: 51,
            topic_id: Uuid(7),
            partition_id: 0,
            leader_epoch: 0,
            new_isr_with_epochs: isr.to_vec(),
            partition_epoch: 0,
        }
    }

    fn sent(m: &mut AlterPartitionManager, now_ms: u64, epoch: u64) -> Vec<ControllerRequest> {
        m.take_unsent(now_ms, epoch)
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn a_request_without_an_answer_goes_again_as_it_was_and_blocks_newer_ones() {
        let tp = TopicIdPartition::new(crate::protocol::TopicId(0), 0);
        let mut m = AlterPartitionManager::default();
        let first = request(&[(1, 51), (2, 52)]);
        assert!(m.submit(tp, first.clone(), 0));
        assert!(!m.submit(tp, request(&[(1, 51)]), 0), "one per partition");
        assert_eq!(sent(&mut m, 0, 51), vec![first.clone()]);
        assert!(!m.submit(tp, request(&[(1, 51)]), 0), "still unanswered");
        // Lost: the same ISR, with the broker epochs it was made with, goes
        // again after the backoff, under the sender's epoch of that moment.
        m.retry(&tp, 50);
        assert!(sent(&mut m, 49, 51).is_empty(), "not before the backoff");
        let again = sent(&mut m, 50, 60);
        let ControllerRequest::AlterPartition {
            broker_epoch,
            new_isr_with_epochs,
            ..
        } = &again[0]
        else {
            panic!("{again:?}");
        };
        assert_eq!(
            (*broker_epoch, &new_isr_with_epochs[..]),
            (60, &[(1, 51), (2, 52)][..])
        );
        // Answered: a new proposal may go.
        m.answered(&tp);
        assert!(m.submit(tp, request(&[(1, 51)]), 0));
    }

    #[test]
    fn kafka_2_7_sends_at_the_periodic_tasks_runs() {
        // The task started at 1000 ms runs at 1050, 1100, ...
        let tp = TopicIdPartition::new(crate::protocol::TopicId(0), 0);
        let mut m = AlterPartitionManager::periodic(1000);
        assert!(m.is_periodic());
        let first = request(&[(1, 51)]);
        assert!(m.submit(tp, first.clone(), 1010));
        assert_eq!(m.next_due_ms(), Some(1050));
        assert!(sent(&mut m, 1049, 51).is_empty(), "waits for the run");
        assert_eq!(sent(&mut m, 1050, 51), vec![first.clone()]);
        assert_eq!(m.next_due_ms(), None);
        // Lost at 1070: due again at 1150, the first run after the backoff
        // (1120).
        m.retry(&tp, 1120);
        assert_eq!(m.next_due_ms(), Some(1150));
        assert!(sent(&mut m, 1149, 51).is_empty());
        assert_eq!(sent(&mut m, 1150, 51), vec![first]);
        m.answered(&tp);
        // A change made at a run waits for the next one.
        assert!(m.submit(tp, request(&[(1, 51)]), 1200));
        assert_eq!(m.next_due_ms(), Some(1250));
        // 2.8 on: at once.
        let mut at_once = AlterPartitionManager::default();
        assert!(at_once.submit(tp, request(&[(1, 51)]), 1010));
        assert_eq!(at_once.next_due_ms(), Some(0));
    }
}
