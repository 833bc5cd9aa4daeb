//! The accumulator's index of its non-empty partition queues: per queue,
//! what a scan for ready partitions, the next ready time and the next
//! expiry needs of it, so that a scan reads a few words per partition
//! instead of each queue's first batch and its batches in flight.
//!
//! Invariant (checked against a rescan in debug builds, see
//! `RecordAccumulator::index_agrees`): the index holds exactly one
//! [`QueueSummary`] per partition whose queue has a batch, in partition
//! order, equal to what `RecordAccumulator::summary_of` computes from the
//! queue and the partition's batches in flight now. The accumulator keeps
//! it so by refreshing a partition's entry after every change to that
//! partition's queue or batches in flight, and every entry after a change
//! of producer id or epoch or of queued sequences.

use crate::protocol::TopicIdPartition;

/// What a scan needs of one non-empty queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QueueSummary {
    pub(super) tp: TopicIdPartition,
    /// Creation time of its first batch (its delivery timeout counts from it).
    pub(super) front_created_ms: u64,
    /// When its first batch becomes sendable (0: at once); `None` while the
    /// partition is stalled (muted, or its first batch held back by
    /// batches in flight), which only an answer ends.
    pub(super) ready_at: Option<u64>,
}

/// The summaries of the non-empty queues, in partition order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ReadyIndex {
    entries: Vec<QueueSummary>,
}

impl ReadyIndex {
    /// Sets `tp`'s summary (`None`: its queue is empty).
    pub(super) fn set(&mut self, tp: TopicIdPartition, summary: Option<QueueSummary>) {
        let at = self.entries.binary_search_by(|e| e.tp.cmp(&tp));
        match (at, summary) {
            (Ok(i), Some(s)) => self.entries[i] = s,
            (Ok(i), None) => {
                self.entries.remove(i);
            }
            (Err(i), Some(s)) => self.entries.insert(i, s),
            (Err(_), None) => {}
        }
    }

    /// Replaces every summary (`entries` in partition order).
    pub(super) fn replace(&mut self, entries: Vec<QueueSummary>) {
        self.entries = entries;
    }

    /// Every summary, in partition order.
    pub(super) fn entries(&self) -> &[QueueSummary] {
        &self.entries
    }

    /// Whether some queue's first batch reached `timeout_ms` since its
    /// creation at `now_ms` (as `RecordAccumulator::expire` decides).
    pub(super) fn any_expired(&self, now_ms: u64, timeout_ms: u64) -> bool {
        self.entries
            .iter()
            .any(|e| now_ms.saturating_sub(e.front_created_ms) >= timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicId;

    fn summary(p: u32, created: u64) -> QueueSummary {
        QueueSummary {
            tp: TopicIdPartition::new(TopicId(1), p),
            front_created_ms: created,
            ready_at: Some(created),
        }
    }

    #[test]
    fn entries_stay_in_partition_order_one_per_partition() {
        let mut index = ReadyIndex::default();
        let tp = |p| TopicIdPartition::new(TopicId(1), p);
        index.set(tp(2), Some(summary(2, 5)));
        index.set(tp(0), Some(summary(0, 7)));
        index.set(tp(1), None);
        index.set(tp(2), Some(summary(2, 9)));
        assert_eq!(index.entries(), &[summary(0, 7), summary(2, 9)]);
        assert!(!index.any_expired(100, 100));
        assert!(index.any_expired(107, 100));
        index.set(tp(0), None);
        assert_eq!(index.entries(), &[summary(2, 9)]);
    }
}
