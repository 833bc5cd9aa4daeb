//! Offset expiration (KIP-211, Kafka 2.1 on): every
//! `offsets.retention.check.interval.ms` each loaded offsets partition
//! expires the committed offsets that `offsets.retention.minutes` has
//! passed, and deletes the groups left empty with none (Kafka's
//! `GroupCoordinatorShard.cleanupGroupMetadata`,
//! `OffsetMetadataManager.cleanupExpiredOffsets` and
//! `ClassicGroup.offsetExpirationCondition`):
//!
//! - a classic group with members (any state but Empty) keeps its offsets
//!   however old their commits;
//! - an Empty group's offsets expire once the retention has passed since it
//!   became Empty (its `currentStateTimestamp`), whenever they were committed;
//! - offsets committed outside group management (no group, or a group with
//!   no protocol type) expire once the retention has passed since their commit;
//! - an offset with a transactional commit pending is kept, and so is a group
//!   with an open transaction.
//!
//! Expired offsets and deleted groups are written as tombstones and leave
//! the coordinator's state at once (as Kafka replays its own records); an
//! append that fails puts them back.
//!
//! Before KIP-211 every offset expired a retention after its commit, even
//! in an active group (KAFKA-4682; Kafka 2.0's
//! `GroupMetadata.removeExpiredOffsets` compares each offset's
//! `expireTimestamp`, its commit time plus the retention, with the clock):
//! `[protocol] offsets_kept_while_group_active = false`. What an expiry
//! costs a group is KAFKA-4682's skip: with no committed offset,
//! `auto.offset.reset` decides where it starts.

use super::{CoordinatorOutput, GroupCoordinator, PendingAppend};
use crate::group::classic::ClassicGroup;
use crate::group::messages::GroupState;
use crate::group::records::{GroupRecord, OffsetCommitValue};
use crate::protocol::TopicPartition;

/// `offsets.retention.minutes` (7 days), in ms.
pub const OFFSETS_RETENTION_MS: u64 = 10_080 * 60_000;
/// `offsets.retention.check.interval.ms`.
pub const OFFSETS_RETENTION_CHECK_INTERVAL_MS: u64 = 600_000;

/// What the cleanups of one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expiration {
    /// Per group, the partitions whose committed offsets expired.
    pub offsets: Vec<(String, Vec<TopicPartition>)>,
    /// The groups deleted.
    pub deleted_groups: Vec<String>,
}

/// What one cleanup took away, to put back if its tombstones are not written.
#[derive(Clone, Debug)]
pub(super) struct Expired<R> {
    /// Expired offsets: group, partition, the value they had.
    pub(super) offsets: Vec<(String, TopicPartition, OffsetCommitValue)>,
    /// Deleted groups.
    pub(super) groups: Vec<ClassicGroup<R>>,
}

impl<R: Clone> GroupCoordinator<R> {
    /// With `offsets.retention.minutes` (given in ms) and
    /// `offsets.retention.check.interval.ms`.
    pub fn with_offsets_retention(mut self, retention_ms: u64, check_interval_ms: u64) -> Self {
        self.offsets_retention_ms = retention_ms;
        self.retention_check_interval_ms = check_interval_ms.max(1);
        self
    }

    /// Whether an active group's offsets are kept however old (KIP-211,
    /// Kafka 2.1 on) or expire by commit time as before (KAFKA-4682).
    pub fn with_offsets_kept_while_group_active(mut self, kept: bool) -> Self {
        self.offsets_kept_while_group_active = kept;
        self
    }

    /// Offsets partition `partition` was loaded at `now_ms`: its first
    /// cleanup is one check interval later.
    pub(super) fn schedule_expiration(&mut self, partition: u32, now_ms: u64) {
        self.expiration_due
            .insert(partition, now_ms + self.retention_check_interval_ms);
        self.next_expiration = self.expiration_due.values().min().copied();
    }

    /// The earliest cleanup due.
    pub(super) fn next_expiration_ms(&self) -> Option<u64> {
        self.next_expiration
    }

    /// Offset expiration: runs the cleanups due at `now_ms`, appending
    /// their tombstones.
    pub fn expire_offsets(
        &mut self,
        now_ms: u64,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) -> Expiration {
        let due: Vec<u32> = self
            .expiration_due
            .iter()
            .filter(|&(_, &at)| at <= now_ms)
            .map(|(&p, _)| p)
            .collect();
        let mut report = Expiration::default();
        for partition in due {
            self.schedule_expiration(partition, now_ms);
            let mut names: Vec<String> = self
                .offsets
                .keys()
                .chain(self.groups.keys())
                .filter(|g| self.partition_of(g) == partition)
                .cloned()
                .collect();
            names.sort();
            names.dedup();
            let mut expired = Expired {
                offsets: Vec::new(),
                groups: Vec::new(),
            };
            for name in names {
                self.cleanup_group(&name, now_ms, &mut expired);
            }
            self.append_cleanup(partition, expired, now_ms, out, &mut report);
        }
        report
    }

    /// Topics were deleted (Kafka's `GroupCoordinator.onPartitionsDeleted`,
    /// which the broker calls when the metadata removes a topic): every
    /// group of a loaded offsets partition loses its committed offsets of
    /// their partitions, written as tombstones.
    pub fn on_partitions_deleted(
        &mut self,
        topics: &[String],
        now_ms: u64,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) -> Expiration {
        let mut report = Expiration::default();
        // Commits of their partitions still being written are not applied.
        for (_, pending) in self.appends.values_mut() {
            if let PendingAppend::Commit {
                offsets, dropped, ..
            } = pending
            {
                let (gone, kept) = std::mem::take(offsets)
                    .into_iter()
                    .partition(|(tp, _)| topics.contains(&tp.topic));
                *offsets = kept;
                dropped.extend(gone.into_iter().map(|(tp, _)| tp));
            }
        }
        let loaded: Vec<u32> = self.expiration_due.keys().copied().collect();
        for partition in loaded {
            let mut expired = Expired {
                offsets: Vec::new(),
                groups: Vec::new(),
            };
            let names: Vec<String> = self
                .offsets
                .keys()
                .filter(|g| self.partition_of(g) == partition)
                .cloned()
                .collect();
            for name in names {
                let offsets = self.offsets.get_mut(&name).expect("listed");
                let gone: Vec<TopicPartition> = offsets
                    .keys()
                    .filter(|tp| topics.contains(&tp.topic))
                    .cloned()
                    .collect();
                for tp in gone {
                    let value = offsets.remove(&tp).expect("listed");
                    expired.offsets.push((name.clone(), tp, value));
                }
                if offsets.is_empty() {
                    self.offsets.remove(&name);
                }
            }
            self.append_cleanup(partition, expired, now_ms, out, &mut report);
        }
        report
    }

    /// Writes the tombstones of what a cleanup of `partition` took away,
    /// and reports it.
    fn append_cleanup(
        &mut self,
        partition: u32,
        expired: Expired<R>,
        now_ms: u64,
        out: &mut Vec<CoordinatorOutput<R>>,
        report: &mut Expiration,
    ) {
        let mut records = Vec::new();
        let mut by_group: Vec<(String, Vec<TopicPartition>)> = Vec::new();
        for (group, tp, _) in &expired.offsets {
            records
                .push(GroupRecord::OffsetCommit(group.clone(), tp.clone(), None).to_record(now_ms));
            match by_group.last_mut() {
                Some((g, tps)) if g == group => tps.push(tp.clone()),
                _ => by_group.push((group.clone(), vec![tp.clone()])),
            }
        }
        for group in &expired.groups {
            records
                .push(GroupRecord::GroupMetadata(group.group_id.clone(), None).to_record(now_ms));
        }
        if records.is_empty() {
            return;
        }
        report.offsets.extend(by_group);
        report
            .deleted_groups
            .extend(expired.groups.iter().map(|g| g.group_id.clone()));
        self.next_append += 1;
        let id = self.next_append;
        self.appends
            .insert(id, (partition, PendingAppend::Expire(expired)));
        out.push(CoordinatorOutput::Append {
            id,
            partition,
            records,
            producer: None,
        });
    }

    /// Expires what retention allows of `group`'s offsets, and deletes the
    /// group if it is Empty with no offset left.
    fn cleanup_group(&mut self, name: &str, now_ms: u64, expired: &mut Expired<R>) {
        let group = self.groups.get(name);
        // Where each offset's retention counts from, or None: never expires.
        let since_empty = match group {
            _ if !self.offsets_kept_while_group_active => Some(None),
            Some(g) if g.has_protocol_type() && g.state() == GroupState::Empty => {
                Some(g.state_since_ms())
            }
            Some(g) if g.has_protocol_type() => None,
            _ => Some(None),
        };
        let Some(since_empty) = since_empty else {
            return;
        };
        let retention_ms = self.offsets_retention_ms;
        let pending: Vec<&TopicPartition> = self
            .pending_txn
            .values()
            .filter_map(|groups| groups.get(name))
            .flat_map(|offsets| offsets.keys())
            .collect();
        let mut all_expired = true;
        if let Some(offsets) = self.offsets.get(name) {
            let mut gone = Vec::new();
            for (tp, value) in offsets {
                let base = since_empty.unwrap_or(value.commit_timestamp_ms);
                if now_ms.saturating_sub(base) >= retention_ms && !pending.contains(&tp) {
                    gone.push(tp.clone());
                } else {
                    all_expired = false;
                }
            }
            let offsets = self.offsets.get_mut(name).expect("present");
            for tp in gone {
                let value = offsets.remove(&tp).expect("listed");
                expired.offsets.push((name.to_owned(), tp, value));
            }
            if offsets.is_empty() {
                self.offsets.remove(name);
            }
        }
        let open_txn = self.pending_txn.values().any(|g| g.contains_key(name));
        if all_expired && !open_txn && group.is_some_and(|g| g.state() == GroupState::Empty) {
            expired
                .groups
                .push(self.groups.remove(name).expect("present"));
        }
    }

    /// The tombstones of a cleanup were not written: what it took away
    /// comes back, unless something newer took its place meanwhile.
    pub(super) fn restore(&mut self, expired: Expired<R>) {
        for (group, tp, value) in expired.offsets {
            self.offsets
                .entry(group)
                .or_default()
                .entry(tp)
                .or_insert(value);
        }
        for group in expired.groups {
            self.groups.entry(group.group_id.clone()).or_insert(group);
        }
    }
}
