//! Getting a transaction's markers written (Kafka's
//! `TransactionMarkerChannelManager` and its
//! `TransactionMarkerRequestCompletionHandler`): the markers of every
//! prepared commit or abort wait in a queue until their partition has a
//! known leader, go to each leader in one WriteTxnMarkers request with
//! every marker queued for it, and come back to the queue when the leader
//! moved, lacked replicas, timed out or the connection broke. A transaction
//! is done once each of its partitions answered without error; a partition
//! answering INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED means
//! a newer coordinator or producer took over, and this coordinator stops
//! sending that transaction's markers and never completes it.
//!
//! Sans-IO: the host sends each [`MarkerRequest`] of [`drain`] and reports
//! its answer with [`on_response`] or its loss with [`on_failure`].
//!
//! [`drain`]: TxnMarkerChannelManager::drain
//! [`on_response`]: TxnMarkerChannelManager::on_response
//! [`on_failure`]: TxnMarkerChannelManager::on_failure

use std::collections::{BTreeMap, BTreeSet};

use crate::errors::Errors;
use crate::log::ControlRecordType;
use crate::node::KafkaNodeId;
use crate::protocol::{TopicIdPartition, TxnMarkerResult, WritableTxnMarker};

/// One transaction whose markers are being written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingTxn {
    producer_id: i64,
    producer_epoch: i16,
    result: ControlRecordType,
    coordinator_epoch: i32,
    /// Partitions whose marker is not written yet.
    remaining: BTreeSet<TopicIdPartition>,
}

/// A WriteTxnMarkers request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerRequest {
    /// Passed back to `on_response` or `on_failure`.
    pub id: u64,
    /// The leader it goes to.
    pub broker: KafkaNodeId,
    /// One entry per transaction.
    pub markers: Vec<WritableTxnMarker>,
}

/// How a transaction's markers ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkersOutcome {
    /// Every marker is written: the coordinator completes the transaction.
    Written(String),
    /// A newer coordinator or producer epoch fenced them: nothing more.
    Fenced(String),
}

/// The markers a coordinator has yet to get written.
#[derive(Clone, Debug, Default)]
pub struct TxnMarkerChannelManager {
    txns: BTreeMap<String, PendingTxn>,
    /// Markers waiting to be sent: (transactional id, partition).
    queued: BTreeSet<(String, TopicIdPartition)>,
    /// Requests in flight: what each carries.
    in_flight: BTreeMap<u64, Vec<(String, TopicIdPartition)>>,
    next_request: u64,
}

impl TxnMarkerChannelManager {
    /// Queues the markers of a prepared commit or abort (Kafka's
    /// `addTxnMarkersToSend`); a transaction with no partitions is written
    /// at once.
    pub fn add_markers(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        result: ControlRecordType,
        partitions: &BTreeSet<TopicIdPartition>,
        coordinator_epoch: i32,
    ) -> Option<MarkersOutcome> {
        if partitions.is_empty() {
            return Some(MarkersOutcome::Written(transactional_id.to_owned()));
        }
        self.remove_txn(transactional_id);
        for &tp in partitions {
            self.queued.insert((transactional_id.to_owned(), tp));
        }
        self.txns.insert(
            transactional_id.to_owned(),
            PendingTxn {
                producer_id,
                producer_epoch,
                result,
                coordinator_epoch,
                remaining: partitions.clone(),
            },
        );
        None
    }

    /// Forgets a transaction (its coordinator partition moved away).
    pub fn remove_txn(&mut self, transactional_id: &str) {
        self.txns.remove(transactional_id);
        self.queued.retain(|(id, _)| id != transactional_id);
    }

    /// Forgets the transactions of a `__transaction_state` partition this
    /// coordinator no longer leads (Kafka's `removeMarkersForTxnTopicPartition`).
    pub fn remove_markers_for_txn_topic_partition(&mut self, partition: u32, partitions: u32) {
        let gone: Vec<String> = self
            .txns
            .keys()
            .filter(|id| super::log::partition_for(id, partitions) == partition)
            .cloned()
            .collect();
        for id in gone {
            self.remove_txn(&id);
        }
    }

    /// Whether markers are waiting to be sent.
    pub fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// The requests to send now: every queued marker whose partition has a
    /// leader, one request per leader. Markers without one stay queued.
    pub fn drain(
        &mut self,
        leader_of: &dyn Fn(&TopicIdPartition) -> Option<KafkaNodeId>,
    ) -> Vec<MarkerRequest> {
        let mut by_broker: BTreeMap<KafkaNodeId, Vec<(String, TopicIdPartition)>> = BTreeMap::new();
        let queued = std::mem::take(&mut self.queued);
        for (id, tp) in queued {
            match leader_of(&tp) {
                Some(broker) => by_broker.entry(broker).or_default().push((id, tp)),
                None => {
                    self.queued.insert((id, tp));
                }
            }
        }
        let mut requests = Vec::new();
        for (broker, entries) in by_broker {
            let mut markers: BTreeMap<&str, WritableTxnMarker> = BTreeMap::new();
            for (id, tp) in &entries {
                let Some(txn) = self.txns.get(id) else {
                    continue;
                };
                markers
                    .entry(id)
                    .or_insert_with(|| WritableTxnMarker {
                        producer_id: txn.producer_id,
                        producer_epoch: txn.producer_epoch,
                        result: txn.result,
                        partitions: Vec::new(),
                        coordinator_epoch: txn.coordinator_epoch,
                    })
                    .partitions
                    .push(*tp);
            }
            self.next_request += 1;
            requests.push(MarkerRequest {
                id: self.next_request,
                broker,
                markers: markers.into_values().collect(),
            });
            self.in_flight.insert(self.next_request, entries);
        }
        requests
    }

    /// The answer to request `id`.
    pub fn on_response(&mut self, id: u64, results: &[TxnMarkerResult]) -> Vec<MarkersOutcome> {
        let Some(entries) = self.in_flight.remove(&id) else {
            return Vec::new();
        };
        let mut outcomes = Vec::new();
        for (txn_id, tp) in entries {
            let Some(txn) = self.txns.get_mut(&txn_id) else {
                continue;
            };
            let error = results
                .iter()
                .find(|r| r.tp == tp && r.producer_id == txn.producer_id)
                .map_or(Some(Errors::NetworkException), |r| r.error);
            match error {
                None => {
                    txn.remaining.remove(&tp);
                    if txn.remaining.is_empty() {
                        self.txns.remove(&txn_id);
                        outcomes.push(MarkersOutcome::Written(txn_id));
                    }
                }
                Some(Errors::InvalidProducerEpoch | Errors::TransactionCoordinatorFenced) => {
                    self.remove_txn(&txn_id);
                    outcomes.push(MarkersOutcome::Fenced(txn_id));
                }
                // NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
                // REQUEST_TIMED_OUT, UNKNOWN_TOPIC_OR_PARTITION and the rest:
                // sent again to whoever leads then.
                Some(_) => {
                    self.queued.insert((txn_id, tp));
                }
            }
        }
        outcomes
    }

    /// Request `id` got no answer (a broken connection, a timeout): its
    /// markers are sent again.
    pub fn on_failure(&mut self, id: u64) {
        for (txn_id, tp) in self.in_flight.remove(&id).unwrap_or_default() {
            if self.txns.contains_key(&txn_id) {
                self.queued.insert((txn_id, tp));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicId;

    fn tp(p: u32) -> TopicIdPartition {
        TopicIdPartition::new(TopicId(0), p)
    }

    fn tps(ps: &[u32]) -> BTreeSet<TopicIdPartition> {
        ps.iter().map(|&p| tp(p)).collect()
    }

    /// Partition p is led by broker p % 2 + 1; partition 9 has no leader.
    fn leader_of(tp: &TopicIdPartition) -> Option<KafkaNodeId> {
        (tp.partition != 9).then_some(tp.partition % 2 + 1)
    }

    fn ok(pid: i64, p: u32) -> TxnMarkerResult {
        TxnMarkerResult {
            producer_id: pid,
            tp: tp(p),
            error: None,
        }
    }

    fn commit(m: &mut TxnMarkerChannelManager, id: &str, pid: i64, ps: &[u32]) {
        let none = m.add_markers(id, pid, 0, ControlRecordType::Commit, &tps(ps), 4);
        assert_eq!(none, None);
    }

    #[test]
    fn markers_go_to_each_leader_in_one_request_and_complete_the_transaction() {
        let mut m = TxnMarkerChannelManager::default();
        commit(&mut m, "a", 10, &[0, 1, 2]);
        commit(&mut m, "b", 11, &[2]);
        let requests = m.drain(&leader_of);
        let brokers: Vec<_> = requests.iter().map(|r| r.broker).collect();
        assert_eq!(brokers, [1, 2]);
        let to_1 = &requests[0].markers;
        assert_eq!(to_1.len(), 2, "one entry per transaction");
        assert_eq!(to_1[0].partitions, [tp(0), tp(2)]);
        assert_eq!((to_1[0].producer_id, to_1[0].coordinator_epoch), (10, 4));
        let done_1 = m.on_response(requests[0].id, &[ok(10, 0), ok(10, 2), ok(11, 2)]);
        assert_eq!(done_1, [MarkersOutcome::Written("b".to_owned())]);
        let done_2 = m.on_response(requests[1].id, &[ok(10, 1)]);
        assert_eq!(done_2, [MarkersOutcome::Written("a".to_owned())]);
        assert!(!m.has_queued());
    }

    #[test]
    fn a_moved_leader_or_a_lost_request_sends_the_marker_again() {
        let mut m = TxnMarkerChannelManager::default();
        commit(&mut m, "a", 10, &[0, 1]);
        let requests = m.drain(&leader_of);
        let moved = TxnMarkerResult {
            error: Some(Errors::NotLeaderOrFollower),
            ..ok(10, 0)
        };
        assert!(m.on_response(requests[0].id, &[moved]).is_empty());
        m.on_failure(requests[1].id);
        let again = m.drain(&leader_of);
        assert_eq!(again.len(), 2, "both markers are sent again");
        assert!(m.on_response(again[0].id, &[ok(10, 0)]).is_empty());
        assert_eq!(
            m.on_response(again[1].id, &[ok(10, 1)]),
            [MarkersOutcome::Written("a".to_owned())]
        );
    }

    #[test]
    fn a_partition_without_a_leader_waits_in_the_queue() {
        let mut m = TxnMarkerChannelManager::default();
        commit(&mut m, "a", 10, &[9]);
        assert!(m.drain(&leader_of).is_empty());
        assert!(m.has_queued());
        let led = |_: &TopicIdPartition| Some(3);
        let requests = m.drain(&led);
        assert_eq!(requests[0].broker, 3);
    }

    #[test]
    fn a_fenced_coordinator_stops_and_never_completes() {
        let mut m = TxnMarkerChannelManager::default();
        commit(&mut m, "a", 10, &[0, 2]);
        let requests = m.drain(&leader_of);
        let fenced = TxnMarkerResult {
            error: Some(Errors::TransactionCoordinatorFenced),
            ..ok(10, 0)
        };
        assert_eq!(
            m.on_response(requests[0].id, &[fenced, ok(10, 2)]),
            [MarkersOutcome::Fenced("a".to_owned())]
        );
        assert!(!m.has_queued());
        assert!(m.drain(&leader_of).is_empty());
    }

    #[test]
    fn a_transaction_without_partitions_is_written_at_once() {
        let mut m = TxnMarkerChannelManager::default();
        let done = m.add_markers("a", 10, 0, ControlRecordType::Abort, &BTreeSet::new(), 4);
        assert_eq!(done, Some(MarkersOutcome::Written("a".to_owned())));
    }
}
