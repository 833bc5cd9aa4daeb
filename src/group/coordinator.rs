//! A broker's group coordinator (Kafka's GroupCoordinatorService with its
//! GroupMetadataManager and OffsetMetadataManager, one shard per
//! `__consumer_offsets` partition): it owns the groups of the offsets
//! partitions this broker leads, loads them from the partition's log when it
//! becomes leader, answers NOT_COORDINATOR for the others, and writes group
//! metadata and committed offsets to the log, answering only once the write
//! is committed.
//!
//! Sans-IO like [`ClassicGroup`]: the host appends the records of an
//! [`CoordinatorOutput::Append`] to the partition as its leader and reports
//! the outcome through [`GroupCoordinator::on_append_done`].
//!
//! Transactional offset commits (TxnOffsetCommit, KIP-98 and KIP-447) are
//! written to the log in the producer's transaction and kept pending per
//! producer id (Kafka's `pendingTransactionalOffsetCommits`) until the
//! transaction's marker in the offsets partition completes them
//! ([`GroupCoordinator::complete_transaction`]): a COMMIT makes them the
//! group's committed offsets, an ABORT drops them. An OffsetFetch that
//! requires stable offsets (a read_committed consumer) is answered
//! UNSTABLE_OFFSET_COMMIT while a partition has a pending one.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

mod expiry;

pub use expiry::{Expiration, OFFSETS_RETENTION_CHECK_INTERVAL_MS, OFFSETS_RETENTION_MS};

use super::classic::{ClassicGroup, GroupOutput, GroupResponse, JoinGroup, SyncGroup};
use super::offsets_topic::partition_for;
use super::records::{GroupRecord, LoadedGroups, OffsetCommitValue};
use crate::errors::Errors;
use crate::log::{ControlRecordType, Record, RecordBatch};
use crate::protocol::TopicPartition;

/// A request to the coordinator of `group`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CoordinatorRequest {
    /// JoinGroup.
    JoinGroup(JoinGroup),
    /// SyncGroup.
    SyncGroup(SyncGroup),
    /// Heartbeat.
    Heartbeat {
        /// Generation.
        generation_id: i32,
        /// Member id.
        member_id: String,
        /// `group.instance.id`.
        group_instance_id: Option<String>,
    },
    /// LeaveGroup.
    LeaveGroup {
        /// Member id.
        member_id: String,
        /// `group.instance.id`.
        group_instance_id: Option<String>,
    },
    /// OffsetCommit: next offsets to consume, with the leader epoch of the
    /// last consumed record.
    OffsetCommit {
        /// Generation (-1 for a consumer outside group management).
        generation_id: i32,
        /// Member id.
        member_id: String,
        /// `group.instance.id`.
        group_instance_id: Option<String>,
        /// Partition, offset, leader epoch.
        offsets: Vec<(TopicPartition, u64, i32)>,
    },
    /// OffsetFetch of these partitions.
    OffsetFetch {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// KIP-447 `RequireStable` (set by read_committed consumers): no
        /// answer while a transactional commit of them is pending.
        require_stable: bool,
    },
    /// TxnOffsetCommit (`sendOffsetsToTransaction`): offsets committed in
    /// the producer's transaction, fenced by the consumer's generation.
    TxnOffsetCommit {
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// The producer id.
        producer_id: i64,
        /// Its epoch.
        producer_epoch: i16,
        /// The consumer's generation (-1: no group metadata).
        generation_id: i32,
        /// The consumer's member id.
        member_id: String,
        /// `group.instance.id`.
        group_instance_id: Option<String>,
        /// Partition, offset, leader epoch.
        offsets: Vec<(TopicPartition, u64, i32)>,
    },
}

/// The coordinator's answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CoordinatorResponse {
    /// JoinGroup, SyncGroup, Heartbeat or LeaveGroup.
    Group(GroupResponse),
    /// OffsetCommitResponse: per partition, the error if it failed.
    OffsetCommit {
        /// Per partition.
        results: Vec<(TopicPartition, Option<Errors>)>,
    },
    /// TxnOffsetCommitResponse: per partition, the error if it failed.
    TxnOffsetCommit {
        /// Per partition.
        results: Vec<(TopicPartition, Option<Errors>)>,
    },
    /// OffsetFetchResponse: per partition, the committed offset and its leader epoch.
    OffsetFetch {
        /// A group-level error.
        error: Option<Errors>,
        /// Per partition (None: nothing committed).
        offsets: Vec<(TopicPartition, Option<(u64, i32)>)>,
    },
}

/// What the coordinator asks of its broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinatorOutput<R> {
    /// Send this response to the request behind `R`.
    Reply(R, CoordinatorResponse),
    /// Append these records (acks=all) to `__consumer_offsets-partition` as
    /// its leader, then call `on_append_done(id, …)`.
    Append {
        /// Passed back to `on_append_done`.
        id: u64,
        /// The offsets partition.
        partition: u32,
        /// The records.
        records: Vec<Record>,
        /// The transaction (producer id, epoch) they are written in, for a
        /// TxnOffsetCommit.
        producer: Option<(i64, i16)>,
    },
}

/// What an append in flight was for.
#[derive(Clone, Debug)]
enum PendingAppend<R> {
    /// A generation's metadata.
    Group {
        group: String,
        generation_id: i32,
        assignments: BTreeMap<String, Vec<u8>>,
    },
    /// An OffsetCommit to answer.
    Commit {
        reply: R,
        group: String,
        offsets: Vec<(TopicPartition, OffsetCommitValue)>,
        /// Partitions of topics deleted while it was written: answered,
        /// not applied (Kafka's `removeOffsets` drops pending commits too;
        /// the tombstones written after it win on a reload).
        dropped: Vec<TopicPartition>,
    },
    /// A TxnOffsetCommit to answer: its offsets become pending once written.
    TxnCommit {
        reply: R,
        group: String,
        producer_id: i64,
        offsets: Vec<(TopicPartition, OffsetCommitValue)>,
    },
    /// Tombstones of expired offsets and deleted groups.
    Expire(expiry::Expired<R>),
}

/// Offsets committed in transactions not completed yet: producer id ->
/// group -> partition -> offset.
type PendingTxnOffsets =
    BTreeMap<i64, BTreeMap<String, BTreeMap<TopicPartition, OffsetCommitValue>>>;

/// The coordinator of one broker.
#[derive(Clone, Debug)]
pub struct GroupCoordinator<R> {
    /// `offsets.topic.num.partitions`.
    num_partitions: u32,
    /// Offsets partitions this broker leads and has loaded.
    owned: BTreeSet<u32>,
    groups: BTreeMap<String, ClassicGroup<R>>,
    offsets: BTreeMap<String, BTreeMap<TopicPartition, OffsetCommitValue>>,
    /// Transactional offset commits waiting for their transaction's marker.
    pending_txn: PendingTxnOffsets,
    appends: BTreeMap<u64, (u32, PendingAppend<R>)>,
    next_append: u64,
    /// What every group it creates or loads is set up with.
    group_settings: GroupSettings,
    /// `offsets.retention.minutes`, in ms.
    offsets_retention_ms: u64,
    /// `offsets.retention.check.interval.ms`.
    retention_check_interval_ms: u64,
    /// KIP-211 (Kafka 2.1): an active group's offsets never expire, and an
    /// Empty group's expire a retention after it emptied. Off (before
    /// 2.1, KAFKA-4682): every offset expires a retention after its commit.
    offsets_kept_while_group_active: bool,
    /// Per loaded offsets partition: when its next offset cleanup is due.
    expiration_due: BTreeMap<u32, u64>,
    /// The earliest of `expiration_due` (asked at every tick scheduling,
    /// changed only by a cleanup, a load or an unload).
    next_expiration: Option<u64>,
}

/// The group config and release behaviours each classic group is built with.
#[derive(Clone, Copy, Debug)]
struct GroupSettings {
    /// `group.initial.rebalance.delay.ms`.
    initial_rebalance_delay_ms: u64,
    /// KIP-814 (Kafka 3.2): a static leader rejoining a Stable group is
    /// told it leads.
    static_leader_rejoins_as_leader: bool,
    /// KAFKA-8500 (Kafka 2.3.0): a static member rejoining with an unknown
    /// member id takes a new one in any group state.
    static_member_id_replaced_in_any_state: bool,
    /// KAFKA-9801 (Kafka 2.5.0): a static member rejoining with an unknown
    /// member id while the group is CompletingRebalance starts a rebalance.
    static_rejoin_rebalances_when_completing: bool,
    /// KAFKA-9752 (Kafka 2.5.0): a member new when its join phase completed
    /// is expired a session timeout later unless it heartbeats.
    new_member_heartbeat_expiration: bool,
}

impl GroupSettings {
    /// `g` set up with these settings.
    fn applied<R>(self, mut g: ClassicGroup<R>) -> ClassicGroup<R> {
        g.initial_rebalance_delay_ms = self.initial_rebalance_delay_ms;
        g.static_leader_rejoins_as_leader = self.static_leader_rejoins_as_leader;
        g.static_member_id_replaced_in_any_state = self.static_member_id_replaced_in_any_state;
        g.static_rejoin_rebalances_when_completing = self.static_rejoin_rebalances_when_completing;
        g.new_member_heartbeat_expiration = self.new_member_heartbeat_expiration;
        g
    }
}

impl<R: Clone> GroupCoordinator<R> {
    /// A coordinator for an offsets topic of `num_partitions` partitions.
    pub fn new(num_partitions: u32) -> Self {
        Self {
            num_partitions: num_partitions.max(1),
            owned: BTreeSet::new(),
            groups: BTreeMap::new(),
            offsets: BTreeMap::new(),
            pending_txn: BTreeMap::new(),
            appends: BTreeMap::new(),
            next_append: 0,
            group_settings: GroupSettings {
                initial_rebalance_delay_ms: super::classic::GROUP_INITIAL_REBALANCE_DELAY_MS,
                static_leader_rejoins_as_leader: true,
                static_member_id_replaced_in_any_state: true,
                static_rejoin_rebalances_when_completing: true,
                new_member_heartbeat_expiration: true,
            },
            offsets_retention_ms: OFFSETS_RETENTION_MS,
            retention_check_interval_ms: OFFSETS_RETENTION_CHECK_INTERVAL_MS,
            offsets_kept_while_group_active: true,
            expiration_due: BTreeMap::new(),
            next_expiration: None,
        }
    }

    /// With `group.initial.rebalance.delay.ms` = `ms`.
    pub fn with_initial_rebalance_delay_ms(mut self, ms: u64) -> Self {
        self.group_settings.initial_rebalance_delay_ms = ms;
        self
    }

    /// Whether a static leader rejoining a Stable group under a new member
    /// id is told it leads (KIP-814, Kafka 3.2 on) or, as before, given
    /// the old member id as leader and no members.
    pub fn with_static_leader_rejoins_as_leader(mut self, on: bool) -> Self {
        self.group_settings.static_leader_rejoins_as_leader = on;
        self
    }

    /// Whether a static member rejoining with an unknown member id is given
    /// a new member id (the old one fenced) in any group state (KAFKA-8500,
    /// Kafka 2.3.0 on) or, as on trunk before it, only in a Stable group.
    pub fn with_static_member_id_replaced_in_any_state(mut self, on: bool) -> Self {
        self.group_settings.static_member_id_replaced_in_any_state = on;
        self
    }

    /// Whether a static member rejoining with an unknown member id while
    /// the group is CompletingRebalance starts a rebalance (KAFKA-9801,
    /// Kafka 2.5.0 on) or, as in 2.4.1, is answered at once as in Stable.
    pub fn with_static_rejoin_rebalances_when_completing(mut self, on: bool) -> Self {
        self.group_settings.static_rejoin_rebalances_when_completing = on;
        self
    }

    /// Whether a member new when its join phase completed is expired a
    /// session timeout later unless it heartbeats (KAFKA-9752, Kafka 2.5.0
    /// on) or, as in 2.4.1, has no heartbeat expiration until its next
    /// heartbeat or SyncGroup answer.
    pub fn with_new_member_heartbeat_expiration(mut self, on: bool) -> Self {
        self.group_settings.new_member_heartbeat_expiration = on;
        self
    }

    /// The offsets partition of `group`.
    pub fn partition_of(&self, group: &str) -> u32 {
        partition_for(group, self.num_partitions)
    }

    /// Whether this coordinator owns `group` now.
    pub fn owns(&self, group: &str) -> bool {
        self.owned.contains(&self.partition_of(group))
    }

    /// Whether it has loaded offsets partition `partition` (and leads it).
    pub fn owns_partition(&self, partition: u32) -> bool {
        self.owned.contains(&partition)
    }

    /// The groups it owns.
    pub fn groups(&self) -> &BTreeMap<String, ClassicGroup<R>> {
        &self.groups
    }

    /// The committed offsets of `group`.
    pub fn committed(&self, group: &str) -> Option<&BTreeMap<TopicPartition, OffsetCommitValue>> {
        self.offsets.get(group)
    }

    /// This broker became leader of offsets partition `partition`, whose log
    /// holds `batches`: load its groups and offsets. A transaction's offset
    /// commits take effect where its COMMIT marker stands in the log, an
    /// aborted one's never, and those of transactions still open are
    /// loaded as pending.
    pub fn load_batches(&mut self, partition: u32, batches: &[Rc<RecordBatch>], now_ms: u64) {
        let mut ordered: Vec<Record> = Vec::new();
        let mut open: BTreeMap<i64, Vec<Record>> = BTreeMap::new();
        for batch in batches {
            if let Some(marker) = batch.end_txn_marker_of() {
                let records = open.remove(&batch.producer_id).unwrap_or_default();
                if marker.control_type == ControlRecordType::Commit {
                    ordered.extend(records);
                }
            } else if batch.is_transactional() {
                open.entry(batch.producer_id)
                    .or_default()
                    .extend(batch.records());
            } else {
                ordered.extend(batch.records());
            }
        }
        self.load(partition, &ordered, now_ms);
        for (producer_id, records) in open {
            for record in &records {
                if let Some(GroupRecord::OffsetCommit(group, tp, Some(value))) =
                    GroupRecord::from_record(record)
                {
                    if self.partition_of(&group) == partition {
                        self.pending_txn
                            .entry(producer_id)
                            .or_default()
                            .entry(group)
                            .or_default()
                            .insert(tp, value);
                    }
                }
            }
        }
    }

    /// This broker became leader of offsets partition `partition`, whose log
    /// holds `records` (none of them transactional): load its groups and
    /// offsets.
    pub fn load<'a>(
        &mut self,
        partition: u32,
        records: impl IntoIterator<Item = &'a Record>,
        now_ms: u64,
    ) {
        let loaded = LoadedGroups::load(records);
        for (group, value) in &loaded.groups {
            if self.partition_of(group) == partition {
                let g = ClassicGroup::from_metadata(group, value, now_ms);
                self.groups
                    .insert(group.clone(), self.group_settings.applied(g));
            }
        }
        for (group, offsets) in loaded.offsets {
            if self.partition_of(&group) == partition {
                self.offsets.insert(group, offsets);
            }
        }
        self.owned.insert(partition);
        self.schedule_expiration(partition, now_ms);
    }

    /// This broker no longer leads offsets partition `partition`: its groups
    /// go, and everything waiting on them is told NOT_COORDINATOR.
    pub fn unload(&mut self, partition: u32, out: &mut Vec<CoordinatorOutput<R>>) {
        if !self.owned.remove(&partition) {
            return;
        }
        self.expiration_due.remove(&partition);
        self.next_expiration = self.expiration_due.values().min().copied();
        let names: Vec<String> = self
            .groups
            .keys()
            .filter(|g| self.partition_of(g) == partition)
            .cloned()
            .collect();
        for name in names {
            if let Some(mut group) = self.groups.remove(&name) {
                let mut group_out = Vec::new();
                group.unload(&mut group_out);
                for o in group_out {
                    if let GroupOutput::Reply(r, response) = o {
                        out.push(CoordinatorOutput::Reply(
                            r,
                            CoordinatorResponse::Group(response),
                        ));
                    }
                }
            }
            self.offsets.remove(&name);
        }
        let num_partitions = self.num_partitions;
        for groups in self.pending_txn.values_mut() {
            groups.retain(|g, _| partition_for(g, num_partitions) != partition);
        }
        self.pending_txn.retain(|_, groups| !groups.is_empty());
        let failed: Vec<u64> = self
            .appends
            .iter()
            .filter(|(_, (p, _))| *p == partition)
            .map(|(&id, _)| id)
            .collect();
        for id in failed {
            match self.appends.remove(&id) {
                Some((_, PendingAppend::Commit { reply, offsets, .. })) => {
                    out.push(CoordinatorOutput::Reply(
                        reply,
                        commit_error(
                            offsets.into_iter().map(|(tp, _)| tp),
                            Errors::NotCoordinator,
                        ),
                    ))
                }
                Some((_, PendingAppend::TxnCommit { reply, offsets, .. })) => {
                    out.push(CoordinatorOutput::Reply(
                        reply,
                        txn_commit_error(
                            offsets.into_iter().map(|(tp, _)| tp),
                            Errors::NotCoordinator,
                        ),
                    ))
                }
                _ => {}
            }
        }
    }

    /// A request for `group`.
    pub fn handle(
        &mut self,
        now_ms: u64,
        reply: R,
        group_id: &str,
        request: CoordinatorRequest,
        fresh_id: &mut dyn FnMut() -> String,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) {
        if !self.owns(group_id) {
            out.push(CoordinatorOutput::Reply(
                reply,
                error_response(&request, Errors::NotCoordinator),
            ));
            return;
        }
        let mut group_out = Vec::new();
        match request {
            CoordinatorRequest::JoinGroup(join) => {
                let settings = self.group_settings;
                let group = self
                    .groups
                    .entry(group_id.to_owned())
                    .or_insert_with(|| settings.applied(ClassicGroup::new(group_id)));
                group.join(now_ms, reply, join, fresh_id, &mut group_out);
            }
            CoordinatorRequest::SyncGroup(sync) => match self.groups.get_mut(group_id) {
                Some(group) => group.sync(now_ms, reply, sync, &mut group_out),
                None => group_out.push(GroupOutput::Reply(
                    reply,
                    GroupResponse::SyncGroup {
                        error: Some(Errors::UnknownMemberId),
                        assignment: Vec::new(),
                    },
                )),
            },
            CoordinatorRequest::Heartbeat {
                generation_id,
                member_id,
                group_instance_id,
            } => {
                let error = match self.groups.get_mut(group_id) {
                    Some(group) => group.heartbeat(
                        now_ms,
                        generation_id,
                        &member_id,
                        group_instance_id.as_deref(),
                    ),
                    None => Some(Errors::UnknownMemberId),
                };
                group_out.push(GroupOutput::Reply(
                    reply,
                    GroupResponse::Heartbeat { error },
                ));
            }
            CoordinatorRequest::LeaveGroup {
                member_id,
                group_instance_id,
            } => {
                let error = match self.groups.get_mut(group_id) {
                    Some(group) => group.leave(
                        now_ms,
                        &member_id,
                        group_instance_id.as_deref(),
                        &mut group_out,
                    ),
                    None => Some(Errors::UnknownMemberId),
                };
                group_out.push(GroupOutput::Reply(
                    reply,
                    GroupResponse::LeaveGroup { error },
                ));
            }
            CoordinatorRequest::OffsetCommit {
                generation_id,
                member_id,
                group_instance_id,
                offsets,
            } => {
                let valid = self.validate_commit(
                    group_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    generation_id,
                    false,
                );
                match valid {
                    Err(e) => out.push(CoordinatorOutput::Reply(
                        reply,
                        commit_error(offsets.into_iter().map(|(tp, ..)| tp), e),
                    )),
                    Ok(()) => {
                        let values = offset_values(offsets, now_ms);
                        let records = offset_records(group_id, &values, now_ms);
                        self.append(
                            group_id,
                            records,
                            PendingAppend::Commit {
                                reply,
                                group: group_id.to_owned(),
                                offsets: values,
                                dropped: Vec::new(),
                            },
                            out,
                        );
                    }
                }
            }
            CoordinatorRequest::TxnOffsetCommit {
                transactional_id: _,
                producer_id,
                producer_epoch,
                generation_id,
                member_id,
                group_instance_id,
                offsets,
            } => {
                let valid = self.validate_commit(
                    group_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    generation_id,
                    true,
                );
                match valid {
                    Err(e) => out.push(CoordinatorOutput::Reply(
                        reply,
                        txn_commit_error(offsets.into_iter().map(|(tp, ..)| tp), e),
                    )),
                    Ok(()) => {
                        let values = offset_values(offsets, now_ms);
                        let records = offset_records(group_id, &values, now_ms);
                        self.append_in(
                            group_id,
                            records,
                            Some((producer_id, producer_epoch)),
                            PendingAppend::TxnCommit {
                                reply,
                                group: group_id.to_owned(),
                                producer_id,
                                offsets: values,
                            },
                            out,
                        );
                    }
                }
            }
            CoordinatorRequest::OffsetFetch {
                partitions,
                require_stable,
            } => {
                let unstable = require_stable
                    && self.pending_txn.values().any(|groups| {
                        groups
                            .get(group_id)
                            .is_some_and(|p| partitions.iter().any(|tp| p.contains_key(tp)))
                    });
                if unstable {
                    // Kafka answers the partition UNSTABLE_OFFSET_COMMIT and
                    // the consumer raises it for the whole fetch, then retries.
                    out.push(CoordinatorOutput::Reply(
                        reply,
                        CoordinatorResponse::OffsetFetch {
                            error: Some(Errors::UnstableOffsetCommit),
                            offsets: Vec::new(),
                        },
                    ));
                    return;
                }
                let committed = self.offsets.get(group_id);
                let offsets = partitions
                    .into_iter()
                    .map(|tp| {
                        let found = committed
                            .and_then(|c| c.get(&tp))
                            .map(|v| (v.offset, v.leader_epoch));
                        (tp, found)
                    })
                    .collect();
                out.push(CoordinatorOutput::Reply(
                    reply,
                    CoordinatorResponse::OffsetFetch {
                        error: None,
                        offsets,
                    },
                ));
            }
        }
        self.forward_with_stores(now_ms, group_id, group_out, out);
    }

    /// An OffsetCommit's (or, `transactional`, a TxnOffsetCommit's)
    /// member and generation check against `group_id`.
    fn validate_commit(
        &self,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        transactional: bool,
    ) -> Result<(), Errors> {
        match self.groups.get(group_id) {
            Some(group) if transactional => {
                group.validate_txn_offset_commit(member_id, group_instance_id, generation_id)
            }
            Some(group) => {
                group.validate_offset_commit(member_id, group_instance_id, generation_id)
            }
            // Kafka: committing for a group that does not exist is for
            // consumers outside group management only (generation -1).
            None if generation_id < 0 => Ok(()),
            None => Err(Errors::IllegalGeneration),
        }
    }

    fn append(
        &mut self,
        group_id: &str,
        records: Vec<Record>,
        pending: PendingAppend<R>,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) {
        self.append_in(group_id, records, None, pending, out);
    }

    /// An append of `records`, in `producer`'s transaction when one is given.
    fn append_in(
        &mut self,
        group_id: &str,
        records: Vec<Record>,
        producer: Option<(i64, i16)>,
        pending: PendingAppend<R>,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) {
        self.next_append += 1;
        let id = self.next_append;
        let partition = self.partition_of(group_id);
        self.appends.insert(id, (partition, pending));
        out.push(CoordinatorOutput::Append {
            id,
            partition,
            records,
            producer,
        });
    }

    /// The marker of `producer_id`'s transaction was written to offsets
    /// partition `partition`: its pending offset commits of the groups
    /// there become committed (COMMIT) or are dropped (ABORT). Returns, per
    /// group, the offsets that became committed.
    pub fn complete_transaction(
        &mut self,
        partition: u32,
        producer_id: i64,
        committed: bool,
    ) -> Vec<(String, Vec<(TopicPartition, u64)>)> {
        let Some(groups) = self.pending_txn.get_mut(&producer_id) else {
            return Vec::new();
        };
        let num_partitions = self.num_partitions;
        let here: Vec<String> = groups
            .keys()
            .filter(|g| partition_for(g, num_partitions) == partition)
            .cloned()
            .collect();
        let mut done = Vec::new();
        for group in here {
            let Some(offsets) = groups.remove(&group) else {
                continue;
            };
            if !committed {
                continue;
            }
            let list = offsets
                .iter()
                .map(|(tp, v)| (tp.clone(), v.offset))
                .collect();
            self.offsets
                .entry(group.clone())
                .or_default()
                .extend(offsets);
            done.push((group, list));
        }
        if groups.is_empty() {
            self.pending_txn.remove(&producer_id);
        }
        done
    }

    /// Whether `group` has offsets committed in a transaction not completed yet.
    pub fn has_pending_txn_offsets(&self, group: &str) -> bool {
        self.pending_txn.values().any(|g| g.contains_key(group))
    }

    /// Turns a group's outputs into the coordinator's: replies pass through,
    /// stores become appends of the group's metadata.
    fn forward_with_stores(
        &mut self,
        now_ms: u64,
        group_id: &str,
        group_out: Vec<GroupOutput<R>>,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) {
        for o in group_out {
            match o {
                GroupOutput::Reply(r, response) => out.push(CoordinatorOutput::Reply(
                    r,
                    CoordinatorResponse::Group(response),
                )),
                GroupOutput::Store {
                    generation_id,
                    assignments,
                } => {
                    let Some(group) = self.groups.get(group_id) else {
                        continue;
                    };
                    let value = group.metadata_value(&assignments, now_ms);
                    let record = GroupRecord::GroupMetadata(group_id.to_owned(), Some(value))
                        .to_record(now_ms);
                    self.append(
                        group_id,
                        vec![record],
                        PendingAppend::Group {
                            group: group_id.to_owned(),
                            generation_id,
                            assignments,
                        },
                        out,
                    );
                }
            }
        }
    }

    /// The group and offsets of the OffsetCommit append `id`, if it is one in flight.
    pub fn pending_commit(&self, id: u64) -> Option<(&str, Vec<(TopicPartition, u64)>)> {
        match self.appends.get(&id) {
            Some((_, PendingAppend::Commit { group, offsets, .. })) => Some((
                group.as_str(),
                offsets
                    .iter()
                    .map(|(tp, v)| (tp.clone(), v.offset))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// The append `id` committed (`error` None) or failed.
    pub fn on_append_done(
        &mut self,
        now_ms: u64,
        id: u64,
        error: Option<Errors>,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) {
        let Some((_, pending)) = self.appends.remove(&id) else {
            return;
        };
        // Whether the records are in the log (a wait for the high
        // watermark that timed out), whatever the clients are told.
        let written = matches!(
            error,
            None | Some(Errors::RequestTimedOut | Errors::NotEnoughReplicasAfterAppend)
        );
        let error = error.map(normalize);
        match pending {
            PendingAppend::Group {
                group,
                generation_id,
                assignments,
            } => {
                let mut group_out = Vec::new();
                if let Some(g) = self.groups.get_mut(&group) {
                    g.on_stored(now_ms, generation_id, assignments, error, &mut group_out);
                }
                self.forward_with_stores(now_ms, &group, group_out, out);
            }
            PendingAppend::Commit {
                reply,
                group,
                offsets,
                dropped,
            } => match error {
                Some(e) => out.push(CoordinatorOutput::Reply(
                    reply,
                    commit_error(offsets.into_iter().map(|(tp, _)| tp).chain(dropped), e),
                )),
                None => {
                    let committed = self.offsets.entry(group).or_default();
                    let results = offsets
                        .into_iter()
                        .map(|(tp, value)| {
                            committed.insert(tp.clone(), value);
                            (tp, None)
                        })
                        .chain(dropped.into_iter().map(|tp| (tp, None)))
                        .collect();
                    out.push(CoordinatorOutput::Reply(
                        reply,
                        CoordinatorResponse::OffsetCommit { results },
                    ));
                }
            },
            PendingAppend::TxnCommit {
                reply,
                group,
                producer_id,
                offsets,
            } => match error {
                Some(e) => out.push(CoordinatorOutput::Reply(
                    reply,
                    txn_commit_error(offsets.into_iter().map(|(tp, _)| tp), e),
                )),
                None => {
                    let pending = self
                        .pending_txn
                        .entry(producer_id)
                        .or_default()
                        .entry(group)
                        .or_default();
                    let results = offsets
                        .into_iter()
                        .map(|(tp, value)| {
                            pending.insert(tp.clone(), value);
                            (tp, None)
                        })
                        .collect();
                    out.push(CoordinatorOutput::Reply(
                        reply,
                        CoordinatorResponse::TxnOffsetCommit { results },
                    ));
                }
            },
            PendingAppend::Expire(expired) => {
                // Tombstones the log refused leave the offsets as they were
                // (Kafka's runtime reverts the shard's state when an append
                // fails); tombstones written that timed out waiting for the
                // high watermark stand, as the log holds them.
                if !written {
                    self.restore(expired);
                }
            }
        }
    }

    /// The earliest time `on_tick` has something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.groups
            .values()
            .filter_map(ClassicGroup::next_deadline_ms)
            .chain(self.next_expiration_ms())
            .min()
    }

    /// Session and rebalance timeouts. Returns (group, member) of every
    /// session that expired.
    pub fn on_tick(
        &mut self,
        now_ms: u64,
        out: &mut Vec<CoordinatorOutput<R>>,
    ) -> Vec<(String, String)> {
        let mut expired = Vec::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            let mut group_out = Vec::new();
            if let Some(g) = self.groups.get_mut(&name) {
                if g.next_deadline_ms().is_some_and(|d| d <= now_ms) {
                    for member in g.on_tick(now_ms, &mut group_out) {
                        expired.push((name.clone(), member));
                    }
                }
            }
            self.forward_with_stores(now_ms, &name, group_out, out);
        }
        expired
    }
}

/// The log's errors as group clients understand them (Kafka's
/// GroupCoordinatorService.normalizeException).
fn normalize(error: Errors) -> Errors {
    match error {
        Errors::NotLeaderOrFollower | Errors::CoordinatorLoadInProgress => Errors::NotCoordinator,
        Errors::UnknownTopicOrPartition
        | Errors::NotEnoughReplicas
        | Errors::NotEnoughReplicasAfterAppend
        | Errors::RequestTimedOut => Errors::CoordinatorNotAvailable,
        other => other,
    }
}

fn commit_error(
    partitions: impl Iterator<Item = TopicPartition>,
    error: Errors,
) -> CoordinatorResponse {
    CoordinatorResponse::OffsetCommit {
        results: partitions.map(|tp| (tp, Some(error))).collect(),
    }
}

fn txn_commit_error(
    partitions: impl Iterator<Item = TopicPartition>,
    error: Errors,
) -> CoordinatorResponse {
    CoordinatorResponse::TxnOffsetCommit {
        results: partitions.map(|tp| (tp, Some(error))).collect(),
    }
}

/// The values an OffsetCommit or TxnOffsetCommit writes.
fn offset_values(
    offsets: Vec<(TopicPartition, u64, i32)>,
    now_ms: u64,
) -> Vec<(TopicPartition, OffsetCommitValue)> {
    offsets
        .into_iter()
        .map(|(tp, offset, leader_epoch)| {
            let value = OffsetCommitValue {
                offset,
                leader_epoch,
                metadata: String::new(),
                commit_timestamp_ms: now_ms,
            };
            (tp, value)
        })
        .collect()
}

/// The offset commit records of `values` for `group`.
fn offset_records(
    group: &str,
    values: &[(TopicPartition, OffsetCommitValue)],
    now_ms: u64,
) -> Vec<Record> {
    values
        .iter()
        .map(|(tp, v)| super::records::offset_commit_record(group, tp, Some(v), now_ms))
        .collect()
}

/// `error` in the shape of the request's response.
pub fn error_response(request: &CoordinatorRequest, error: Errors) -> CoordinatorResponse {
    let e = Some(error);
    match request {
        CoordinatorRequest::JoinGroup(j) => CoordinatorResponse::Group(GroupResponse::JoinGroup {
            error: e,
            generation_id: -1,
            protocol_name: None,
            leader: String::new(),
            member_id: j.member_id.clone(),
            members: Vec::new(),
        }),
        CoordinatorRequest::SyncGroup(_) => CoordinatorResponse::Group(GroupResponse::SyncGroup {
            error: e,
            assignment: Vec::new(),
        }),
        CoordinatorRequest::Heartbeat { .. } => {
            CoordinatorResponse::Group(GroupResponse::Heartbeat { error: e })
        }
        CoordinatorRequest::LeaveGroup { .. } => {
            CoordinatorResponse::Group(GroupResponse::LeaveGroup { error: e })
        }
        CoordinatorRequest::OffsetCommit { offsets, .. } => {
            commit_error(offsets.iter().map(|(tp, ..)| tp.clone()), error)
        }
        CoordinatorRequest::TxnOffsetCommit { offsets, .. } => {
            txn_commit_error(offsets.iter().map(|(tp, ..)| tp.clone()), error)
        }
        CoordinatorRequest::OffsetFetch { .. } => CoordinatorResponse::OffsetFetch {
            error: e,
            offsets: Vec::new(),
        },
    }
}
