//! The group checkers, over what consumers observed: `exclusive_assignment`
//! (per generation, a partition has one owner), `committed_offsets_monotonic`
//! (acknowledged commits never go back, and a committed offset fetched later
//! is never older than one acknowledged before), `monotonic_poll` (a
//! consumer's polls of a partition only move forward, save after a
//! rebalance or a seek), `no_poll_skip` (polls continue exactly where the
//! position was set: no offset is passed over), and the processing outcomes:
//! `processed_at_least_once` (every acknowledged record in the final log was
//! processed by the group) and `processed_at_most_once` (no record was
//! processed twice). Under at-least-once, records processed more than once
//! are counted, with why, as a statistic.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sim::Nanos;

use super::chunked32::Chunked32;
use super::data::{FinalLog, FinalState};
use super::Violation;
use crate::client::consumer::{ConsumerObs, PositionSource};
use crate::client::producer_of;
use crate::errors::Errors;
use crate::scenario::Processing;

/// Names of the group invariants, as reports print them.
pub const GROUP_INVARIANTS: [&str; 6] = [
    "monotonic_poll",
    "no_poll_skip",
    "exclusive_assignment",
    "committed_offsets_monotonic",
    "processed_at_least_once",
    "processed_at_most_once",
];

/// A consumer node's group, topic and processing mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberOf {
    /// The group id.
    pub group: String,
    /// The topic it reads.
    pub topic: String,
    /// How it processes.
    pub processing: Processing,
    /// `isolation.level = read_committed`.
    pub read_committed: bool,
}

/// Offsets a poll jumped over: a skip unless the final log holds nothing
/// there the consumer should have been given (transaction markers, and
/// under read_committed the records of transactions not committed).
#[derive(Clone, Debug)]
struct Gap {
    at: Nanos,
    node: u32,
    partition: u32,
    from: u64,
    to: u64,
    detail: String,
}

/// What a group's processing came to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStats {
    /// The group id.
    pub group: String,
    /// `at-least-once` or `at-most-once`.
    pub processing: String,
    /// Records processed (counting repeats).
    pub processed: u64,
    /// Distinct records processed more than once.
    pub duplicates: u64,
    /// Why, per cause: how many duplicated records.
    pub duplicate_causes: BTreeMap<String, u64>,
    /// Rebalances seen (distinct generations).
    pub generations: u64,
    /// Commits refused with ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID.
    pub fenced_commits: u64,
    /// Positions `auto.offset.reset` moved after OFFSET_OUT_OF_RANGE.
    #[serde(default)]
    pub offset_resets: u64,
    /// Acknowledged records retention removed before the group processed them.
    #[serde(default)]
    pub removed_by_retention: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct PollState {
    last: Option<u64>,
    expected: Option<u64>,
}

/// How a record processed more than once was processed first and second.
#[derive(Clone, Copy, Debug)]
struct Processings {
    first: (u32, Nanos),
    second: Option<(u32, Nanos)>,
}

/// How often each record was processed by a group, kept small per record:
/// per producer, by send sequence, which processing (a member's poll at a
/// moment) came first and whether there were more (2 bytes, see
/// [`ProcessedSet::record`] and [`Chunked32`]); the second processing only for records
/// processed more than once.
#[derive(Clone, Debug, Default)]
struct ProcessedSet {
    /// 0: never processed; else the first processing's index into
    /// `processings` plus 1, with [`AGAIN`] set once processed again.
    first: Vec<Chunked32>,
    /// Each processing: (node, when); consecutive records of one share it.
    processings: Vec<(u32, Nanos)>,
    /// Records processed more than once: their first processing (an index
    /// into `processings`) and their second.
    second: BTreeMap<u64, (u32, (u32, Nanos))>,
    /// Processings in all (counting repeats).
    total: u64,
}

/// The bit of [`ProcessedSet::first`] telling that a record was processed
/// more than once (below it: the first processing's index plus 1).
const AGAIN: u32 = 1 << 31;

impl ProcessedSet {
    /// Records that `node` processed the records `ids` (one poll's) at `at`.
    fn record(&mut self, ids: impl Iterator<Item = u64>, node: u32, at: Nanos) {
        // This processing's index (plus 1), once a record is first processed in it.
        let mut this: Option<u32> = None;
        for id in ids {
            let (producer, seq) = producer_of(id);
            let (p, s) = (producer as usize, seq as usize);
            if self.first.len() <= p {
                self.first.resize_with(p + 1, Chunked32::new);
            }
            self.total += 1;
            let processings = &mut self.processings;
            let first = self.first[p].claim_with(s, || {
                *this.get_or_insert_with(|| Self::processing(processings, node, at))
            });
            if first != 0 && first & AGAIN == 0 {
                self.second.insert(id, (first - 1, (node, at)));
                self.first[p].set(s, first | AGAIN);
            }
        }
    }

    /// The index (plus 1) in `processings` of the processing by `node` at
    /// `at`: the last one if it is that one, else a new one.
    fn processing(processings: &mut Vec<(u32, Nanos)>, node: u32, at: Nanos) -> u32 {
        if processings.last() != Some(&(node, at)) {
            super::push_sparingly(processings, (node, at));
        }
        let index = processings.len() - 1;
        assert!(index + 1 < AGAIN as usize, "2^31 processings in one group");
        index as u32 + 1
    }

    fn contains(&self, id: u64) -> bool {
        let (producer, seq) = producer_of(id);
        self.first
            .get(producer as usize)
            .and_then(|c| c.get(seq as usize))
            .is_some_and(|c| c > 0)
    }

    /// Forgets the processings of a chunk of `producer`'s send sequences
    /// (see `data::forget`); records processed twice stay in `second`.
    fn forget(&mut self, producer: u32, chunk: usize) {
        if let Some(f) = self.first.get_mut(producer as usize) {
            f.forget_chunk(chunk);
        }
    }

    /// Records processed more than once, by id: (id, how they were processed).
    fn repeated(&self) -> impl Iterator<Item = (u64, Processings)> + '_ {
        self.second.iter().map(|(&id, &(first, second))| {
            let p = Processings {
                first: self.processings[first as usize],
                second: Some(second),
            };
            (id, p)
        })
    }
}

/// A commit acknowledged: offset, when, by which node.
type Acked = (u64, Nanos, u32);

/// Collects consumer observations online; `finish` judges processing at the end.
#[derive(Clone, Debug, Default)]
pub struct GroupChecker {
    names: Vec<String>,
    /// Per node: its group (None for other nodes).
    members: Vec<Option<MemberOf>>,
    /// Invariants the scenario names explicitly (they apply to every group).
    explicit: BTreeSet<String>,
    /// Whether `monotonic_poll` or `no_poll_skip` is checked: else each
    /// polled record's position is not followed.
    polls_checked: bool,
    /// Whether `committed_offsets_monotonic` or `processed_at_least_once`
    /// is checked: else the commits sent and acknowledged are not logged.
    commits_logged: bool,
    owners: BTreeMap<(String, i32, u32), (u32, String)>,
    committed: BTreeMap<(String, u32), Acked>,
    /// Every acknowledged commit per (group, partition), in order.
    commit_log: BTreeMap<(String, u32), Vec<Acked>>,
    /// Every commit sent per (group, partition), in order.
    sent_log: BTreeMap<(String, u32), Vec<Acked>>,
    truncated: BTreeSet<(String, u32)>,
    polls: BTreeMap<(u32, u32), PollState>,
    /// Per group: how often each record was processed.
    processed: BTreeMap<String, ProcessedSet>,
    generations: BTreeMap<String, BTreeSet<i32>>,
    /// Per group: generations of its earlier incarnations (a deleted group
    /// comes back at generation 1).
    deleted_generations: BTreeMap<String, u64>,
    /// Per node: when its commits were fenced.
    fenced: BTreeMap<u32, Vec<Nanos>>,
    /// Per node: when it (re)started.
    started: BTreeMap<u32, Vec<Nanos>>,
    /// Per (group, partition): when its coordinator last expired its committed offset.
    expired: BTreeMap<(String, u32), Nanos>,
    /// Per (group, partition): every position `auto.offset.reset` chose for
    /// want of a committed offset, and when it was asked for.
    resets: BTreeMap<(String, u32), Vec<(u64, Nanos)>>,
    /// Jumps of polls, judged against the final log.
    gaps: Vec<Gap>,
    /// Per group: positions `auto.offset.reset` moved after OFFSET_OUT_OF_RANGE.
    offset_resets: BTreeMap<String, u64>,
    /// Per group: acknowledged records retention removed before the group
    /// processed them, among those the checkers already forgot.
    removed_earlier: BTreeMap<String, u64>,
    violations: Vec<Violation>,
}

impl GroupChecker {
    /// A checker for consumers `members` (by node index); `names` names the
    /// nodes; `explicit` lists the invariants the scenario's `[check]` names.
    pub fn new(
        names: Vec<String>,
        members: Vec<Option<MemberOf>>,
        explicit: BTreeSet<String>,
    ) -> Self {
        let named =
            |names: &[&str]| explicit.is_empty() || names.iter().any(|n| explicit.contains(*n));
        Self {
            polls_checked: named(&["monotonic_poll", "no_poll_skip"]),
            commits_logged: named(&["committed_offsets_monotonic", "processed_at_least_once"]),
            names,
            members,
            explicit,
            ..Self::default()
        }
    }

    /// Whether a processing invariant applies to a group in `mode`: a
    /// scenario whose `[check]` names invariants gets those (the report
    /// would drop any other's violations: the scan of every final log for
    /// unprocessed records is not made for nothing); otherwise the group's
    /// own guarantee.
    fn applies(&self, invariant: &str, mode: Processing) -> bool {
        if !self.explicit.is_empty() {
            return self.explicit.contains(invariant);
        }
        match invariant {
            "processed_at_least_once" => mode == Processing::AtLeastOnce,
            "processed_at_most_once" => mode == Processing::AtMostOnce,
            _ => true,
        }
    }

    fn violation(&mut self, invariant: &str, at: Nanos, detail: String) {
        self.violations.push(Violation::new(invariant, at, detail));
    }

    /// Retention removed the acknowledged records `ids` of `topic` from
    /// every replica, and the checkers forget the send-sequence `chunks`
    /// (see `data::forget`): each group reading `topic` counts those it had
    /// not processed, then forgets the chunks.
    pub fn forget(&mut self, topic: &str, ids: &[u64], chunks: &[(u32, usize)]) {
        let groups: BTreeSet<&str> = self
            .members
            .iter()
            .flatten()
            .filter(|m| m.topic == topic)
            .map(|m| m.group.as_str())
            .collect();
        for group in groups {
            let unprocessed = match self.processed.get(group) {
                Some(seen) => ids.iter().filter(|&&id| !seen.contains(id)).count(),
                None => ids.len(),
            };
            *self.removed_earlier.entry(group.to_owned()).or_default() += unprocessed as u64;
        }
        for seen in self.processed.values_mut() {
            for &(p, c) in chunks {
                seen.forget(p, c);
            }
        }
    }

    /// An observation of consumer node `node`.
    pub fn observe(&mut self, at: Nanos, node: u32, obs: &ConsumerObs) {
        if !matches!(self.members.get(node as usize), Some(Some(_))) {
            return;
        }
        // The hot paths (every record a poll returns, every record processed)
        // allocate nothing.
        if let ConsumerObs::Polled(records) = obs {
            if !self.polls_checked {
                return;
            }
            // A poll's records come a partition at a time: its poll state
            // is looked up once per run of them.
            let mut records = records.iter().peekable();
            while let Some(first) = records.next() {
                let partition = first.partition;
                let key = (node, partition);
                let mut state = self.polls.get(&key).copied().unwrap_or_default();
                self.consumed(at, node, partition, &mut state, first.offset);
                while let Some(r) = records.next_if(|r| r.partition == partition) {
                    self.consumed(at, node, partition, &mut state, r.offset);
                }
                self.polls.insert(key, state);
            }
            return;
        }
        if let ConsumerObs::Processed(records) = obs {
            let Some(Some(member)) = self.members.get(node as usize) else {
                return;
            };
            if !self.processed.contains_key(&member.group) {
                self.processed
                    .insert(member.group.clone(), ProcessedSet::default());
            }
            let seen = self.processed.get_mut(&member.group).expect("inserted");
            seen.record(records.iter().map(|&(_, _, id)| id), node, at);
            return;
        }
        // Commits, every few polls, log under the member's group alone:
        // nothing of the member is copied for them.
        let commits = match obs {
            ConsumerObs::CommitSent { offsets, .. } => Some((&mut self.sent_log, offsets)),
            ConsumerObs::Committed {
                offsets,
                error: None,
                ..
            } => Some((&mut self.commit_log, offsets)),
            _ => None,
        };
        if let Some((log, offsets)) = commits {
            if !self.commits_logged {
                return;
            }
            if let Some(Some(member)) = self.members.get(node as usize) {
                for &(p, offset) in offsets {
                    log.entry((member.group.clone(), p))
                        .or_default()
                        .push((offset, at, node));
                }
            }
            return;
        }
        let Some(Some(member)) = self.members.get(node as usize).cloned() else {
            return;
        };
        let name = self.names[node as usize].clone();
        let tp = |p: u32| format!("{}-{p}", member.topic);
        let group = member.group.clone();
        match obs {
            ConsumerObs::Started => self.started.entry(node).or_default().push(at),
            ConsumerObs::Assigned {
                generation,
                member_id,
                partitions,
            } => {
                self.generations
                    .entry(group.clone())
                    .or_default()
                    .insert(*generation);
                for &p in partitions {
                    let key = (group.clone(), *generation, p);
                    match self.owners.get(&key) {
                        Some((other, other_id)) if other_id != member_id => {
                            let detail = format!(
                                "{} is owned twice in generation {generation} of group {group}: by {} (member {other_id}) and by {name} (member {member_id})",
                                tp(p),
                                self.names[*other as usize],
                            );
                            self.violation("exclusive_assignment", at, detail);
                        }
                        Some(_) => {}
                        None => {
                            self.owners.insert(key, (node, member_id.clone()));
                        }
                    }
                }
            }
            ConsumerObs::Released { .. }
            | ConsumerObs::Fatal(_)
            | ConsumerObs::Closed
            | ConsumerObs::Polled(_)
            | ConsumerObs::Processed(_) => {}
            ConsumerObs::CommitSent { .. } => {}
            ConsumerObs::Position {
                partition,
                offset: next,
                source: PositionSource::Skipped,
            } => {
                // Past markers or aborted records: polls go on from there.
                if let Some(state) = self.polls.get_mut(&(node, *partition)) {
                    state.expected = Some(*next);
                }
            }
            ConsumerObs::Position {
                partition,
                offset,
                source,
            } => {
                self.polls.insert(
                    (node, *partition),
                    PollState {
                        last: None,
                        expected: Some(*offset),
                    },
                );
                if let PositionSource::Reset { requested_at } = source {
                    self.resets
                        .entry((group.clone(), *partition))
                        .or_default()
                        .push((*offset, *requested_at));
                }
                let (found, requested_at) = match source {
                    PositionSource::Committed { requested_at } => (Some(*offset), *requested_at),
                    PositionSource::Reset { requested_at } => (None, *requested_at),
                    PositionSource::OutOfRange { from } => {
                        *self.offset_resets.entry(group.clone()).or_default() += 1;
                        if offset < from {
                            // auto.offset.reset moved the group back (a log
                            // ending before its position): its commits may too.
                            self.truncated.insert((group, *partition));
                        }
                        return;
                    }
                    PositionSource::Truncation | PositionSource::Skipped => return,
                };
                let key = (group.clone(), *partition);
                let before = self.commit_log.get(&key).and_then(|log| {
                    log.iter()
                        .filter(|(_, acked_at, _)| *acked_at < requested_at)
                        .max_by_key(|(o, ..)| *o)
                        .copied()
                });
                let Some((newest, acked_at, by)) = before else {
                    return;
                };
                if found.is_none_or(|f| f < newest) && !self.truncated.contains(&key) {
                    let fetched = match found {
                        Some(f) => format!("fetched committed offset {f}"),
                        None => match self.expired.get(&key) {
                            Some(&when) if when <= requested_at => format!(
                                "found no committed offset (the coordinator expired it at {}: offsets.retention.minutes)",
                                sim::format_nanos(when)
                            ),
                            _ => "found no committed offset".to_owned(),
                        },
                    };
                    let detail = format!(
                        "{name} {fetched} of {} for group {group} at {}, but offset {newest} had been committed (acknowledged to {} at {})",
                        tp(*partition),
                        sim::format_nanos(requested_at),
                        self.names[by as usize],
                        sim::format_nanos(acked_at),
                    );
                    self.violation("committed_offsets_monotonic", at, detail);
                }
            }
            ConsumerObs::Committed { error, .. } => match error {
                None => {}
                Some(
                    Errors::IllegalGeneration | Errors::UnknownMemberId | Errors::FencedInstanceId,
                ) => {
                    self.fenced.entry(node).or_default().push(at);
                }
                Some(_) => {}
            },
            ConsumerObs::TruncationDetected { partition, .. } => {
                self.truncated.insert((group, *partition));
            }
        }
    }

    /// `monotonic_poll` and `no_poll_skip` for one polled record, from
    /// and to `state`, the partition's poll state.
    #[inline]
    fn consumed(
        &mut self,
        at: Nanos,
        node: u32,
        partition: u32,
        state: &mut PollState,
        offset: u64,
    ) {
        let PollState { last, expected } = *state;
        state.last = Some(offset);
        state.expected = Some(offset + 1);
        if last.is_some_and(|l| offset <= l) || expected.is_some_and(|e| offset > e) {
            self.poll_out_of_order(at, node, partition, offset, last, expected);
        }
    }

    /// [`Self::consumed`]'s reports: a poll went back (`last`) or skipped
    /// ahead of its position (`expected`).
    #[cold]
    #[inline(never)]
    fn poll_out_of_order(
        &mut self,
        at: Nanos,
        node: u32,
        partition: u32,
        offset: u64,
        last: Option<u64>,
        expected: Option<u64>,
    ) {
        let describe = |this: &Self| {
            let topic = this.members[node as usize]
                .as_ref()
                .map_or("", |m| m.topic.as_str());
            (
                this.names[node as usize].clone(),
                format!("{topic}-{partition}"),
            )
        };
        if let Some(last) = last.filter(|&l| offset <= l) {
            let (name, tp) = describe(self);
            let detail = format!(
                "{name} polled {tp} offset {offset} after offset {last}, with no rebalance or seek between"
            );
            self.violation("monotonic_poll", at, detail);
        } else if let Some(expected) = expected.filter(|&e| offset > e) {
            let (name, tp) = describe(self);
            let detail = format!(
                "{name} polled {tp} offset {offset} where its position was {expected}: offsets {expected}..{} were skipped",
                offset - 1
            );
            self.gaps.push(Gap {
                at,
                node,
                partition,
                from: expected,
                to: offset,
                detail,
            });
        }
    }

    /// Where `group` began reading `partition`: with no committed offset
    /// yet, `auto.offset.reset` chose its first position, and what the log
    /// held below it was never the group's to process (`latest` starts a
    /// new group at the log end). Positions reset later, after the group
    /// had committed (its offsets expired, say), skip what they pass over.
    fn group_start(&self, group: &str, partition: u32) -> u64 {
        let key = (group.to_owned(), partition);
        let Some(&(offset, at)) = self.resets.get(&key).and_then(|r| r.first()) else {
            return 0;
        };
        let committed_before = self
            .commit_log
            .get(&key)
            .is_some_and(|log| log.iter().any(|&(_, acked_at, _)| acked_at < at));
        if committed_before {
            0
        } else {
            offset
        }
    }

    /// The coordinator deleted `group` (Empty, with no committed offset
    /// left): a group of that name starts again at generation 1, so the
    /// generations seen so far were another group's.
    pub fn group_deleted(&mut self, group: &str) {
        let gone = self.generations.remove(group).map_or(0, |g| g.len() as u64);
        *self
            .deleted_generations
            .entry(group.to_owned())
            .or_default() += gone;
        self.owners.retain(|(g, ..), _| g != group);
    }

    /// `topic` was created (again, after a delete_topic: a new topic of
    /// the same name, its offsets starting over at 0). The offset facts
    /// of the groups that read it (commits, resets, positions, skipped
    /// ranges) were about the deleted topic's logs, so they start over;
    /// what each group processed stays (record ids are unique across
    /// topics).
    pub fn topic_created(&mut self, topic: &str) {
        let mut groups = BTreeSet::new();
        let mut nodes = BTreeSet::new();
        for (node, m) in self.members.iter().enumerate() {
            if let Some(m) = m.as_ref().filter(|m| m.topic == topic) {
                groups.insert(m.group.clone());
                nodes.insert(node as u32);
            }
        }
        let of_group = |(g, _): &(String, u32)| !groups.contains(g);
        self.committed.retain(|k, _| of_group(k));
        self.commit_log.retain(|k, _| of_group(k));
        self.sent_log.retain(|k, _| of_group(k));
        self.truncated.retain(of_group);
        self.expired.retain(|k, _| of_group(k));
        self.resets.retain(|k, _| of_group(k));
        self.polls.retain(|(n, _), _| !nodes.contains(n));
        self.gaps.retain(|g| !nodes.contains(&g.node));
    }

    /// The coordinator of `group` expired its committed offset of `partition`.
    pub fn offsets_expired(&mut self, at: Nanos, group: &str, partition: u32) {
        self.expired.insert((group.to_owned(), partition), at);
    }

    /// A coordinator (node `node`) committed `offsets` of `group`: in the
    /// order coordinators apply commits, a partition's committed offset
    /// never goes back (save after a log truncation a consumer saw).
    pub fn coordinator_commit(
        &mut self,
        at: Nanos,
        node: u32,
        group: &str,
        offsets: &[(crate::protocol::TopicPartition, u64)],
    ) {
        for (tp, offset) in offsets {
            let key = (group.to_owned(), tp.partition);
            if let Some(&(prev, prev_at, by)) = self.committed.get(&key) {
                if *offset < prev && !self.truncated.contains(&key) {
                    let detail = format!(
                        "group {group}'s committed offset of {tp} went back from {prev} (committed by {} at {}) to {offset} (committed by {} at {})",
                        self.names[by as usize],
                        sim::format_nanos(prev_at),
                        self.names[node as usize],
                        sim::format_nanos(at),
                    );
                    self.violation("committed_offsets_monotonic", at, detail);
                }
            }
            self.committed.insert(key, (*offset, at, node));
        }
    }

    /// Judges processing against the final logs at `at`; `acked` says
    /// whether a record id was acknowledged to its producer. Returns the
    /// violations found, online and now, and each group's figures.
    /// `removed` gives, per partition, the acknowledged records retention
    /// removed (below the final log start offset).
    pub fn finish(
        mut self,
        at: Nanos,
        end: &FinalState,
        acked: &dyn Fn(u64) -> bool,
        removed: &BTreeMap<crate::protocol::TopicPartition, Vec<u64>>,
    ) -> (Vec<Violation>, Vec<GroupStats>) {
        let mut groups: BTreeMap<String, MemberOf> = BTreeMap::new();
        for m in self.members.iter().flatten() {
            groups.entry(m.group.clone()).or_insert_with(|| m.clone());
        }
        for gap in std::mem::take(&mut self.gaps) {
            let Some(member) = self.members[gap.node as usize].as_ref() else {
                continue;
            };
            if end.deleted_topics.contains(&member.topic) {
                // The topic and its logs are gone: nothing to judge the gap by.
                continue;
            }
            let tp = crate::protocol::TopicPartition::new(&member.topic, gap.partition);
            let skipped_nothing = end.logs.get(&tp).is_some_and(|log| {
                (gap.from..gap.to).all(|o| {
                    matches!(
                        log.id_at(o),
                        Some(u64::MAX | crate::check::data::COMPACTED_ID)
                    ) || (member.read_committed && log.committed_at(o) == Some(false))
                })
            });
            if !skipped_nothing {
                self.violation("no_poll_skip", gap.at, gap.detail);
            }
        }
        let mut stats = Vec::new();
        let empty = ProcessedSet::default();
        for (group, member) in &groups {
            let seen = self.processed.get(group).unwrap_or(&empty);
            if self.applies("processed_at_least_once", member.processing) {
                for tp in end.logs.keys().filter(|tp| tp.topic == member.topic) {
                    // A read_committed group is never given what no
                    // transaction committed.
                    let hidden = |offset: u64| {
                        member.read_committed
                            && end
                                .logs
                                .get(tp)
                                .is_some_and(|l| l.committed_at(offset) != Some(true))
                    };
                    let start = self.group_start(group, tp.partition);
                    let missing: Vec<(u64, u64)> = end
                        .logs
                        .get(tp)
                        .into_iter()
                        .flat_map(FinalLog::offsets_and_ids)
                        // Most records were processed: asked first, that
                        // settles most without the acknowledgement lookup.
                        .filter(|&(o, id)| {
                            o >= start && !seen.contains(id) && acked(id) && !hidden(o)
                        })
                        .collect();
                    let Some(&(first_offset, first_id)) = missing.first() else {
                        continue;
                    };
                    let (producer, seq) = producer_of(first_id);
                    // Why: the group started after it (auto.offset.reset), or
                    // the first commit that passed it: who sent it, when.
                    let key = (group.clone(), tp.partition);
                    let reset = self
                        .resets
                        .get(&key)
                        .into_iter()
                        .flatten()
                        .find(|&&(r, _)| r > first_offset);
                    let cover = self
                        .sent_log
                        .get(&(group.clone(), tp.partition))
                        .and_then(|log| log.iter().find(|(o, ..)| *o > first_offset))
                        .map(|&(o, t, by)| {
                            format!(
                                "; {} committed offset {o} past it at {}, and no member processed it",
                                self.names[by as usize],
                                sim::format_nanos(t)
                            )
                        })
                        .unwrap_or_default();
                    let cover = match reset {
                        Some(&(r, asked)) => {
                            let why = match self.expired.get(&key) {
                                Some(&when) if when <= asked => format!(
                                    "its committed offset expired at {}",
                                    sim::format_nanos(when)
                                ),
                                _ => "found no committed offset".to_owned(),
                            };
                            format!("; auto.offset.reset moved the group to offset {r} of {tp} at {} ({why}){cover}", sim::format_nanos(asked))
                        }
                        None => cover,
                    };
                    let detail = format!(
                        "group {group} ({}) never processed {} acknowledged record(s) of {tp}, the first at offset {} (p{producer}-{seq}){cover}",
                        member.processing.name(),
                        missing.len(),
                        first_offset,
                    );
                    self.violations.push(
                        Violation::new("processed_at_least_once", at, detail).about(
                            tp.to_string(),
                            Some(first_offset),
                            None,
                        ),
                    );
                }
            }
            let mut s = GroupStats {
                group: group.clone(),
                processing: member.processing.name().to_owned(),
                generations: self.generations.get(group).map_or(0, |g| g.len() as u64)
                    + self.deleted_generations.get(group).copied().unwrap_or(0),
                ..GroupStats::default()
            };
            let mut twice = Vec::new();
            s.processed = seen.total;
            s.offset_resets = self.offset_resets.get(group).copied().unwrap_or(0);
            s.removed_by_retention = self.removed_earlier.get(group).copied().unwrap_or(0)
                + removed
                    .iter()
                    .filter(|(tp, _)| tp.topic == member.topic)
                    .flat_map(|(_, ids)| ids)
                    .filter(|&&id| !seen.contains(id))
                    .count() as u64;
            for (id, p) in seen.repeated() {
                s.duplicates += 1;
                let cause = self.cause(&p);
                *s.duplicate_causes.entry(cause.to_owned()).or_default() += 1;
                twice.push((id, p.first.0, p.first.1, cause));
            }
            s.fenced_commits = self
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| m.as_ref().is_some_and(|m| &m.group == group))
                .map(|(n, _)| self.fenced.get(&(n as u32)).map_or(0, |f| f.len() as u64))
                .sum();
            if self.applies("processed_at_most_once", member.processing) {
                if let Some(&(id, node, first_at, cause)) = twice.first() {
                    let (producer, seq) = producer_of(id);
                    let detail = format!(
                        "group {group} ({}) processed {} record(s) more than once, the first p{producer}-{seq} (first processed by {} at {}; {cause})",
                        member.processing.name(),
                        twice.len(),
                        self.names[node as usize],
                        sim::format_nanos(first_at),
                    );
                    self.violations
                        .push(Violation::new("processed_at_most_once", at, detail));
                }
            }
            stats.push(s);
        }
        (self.violations, stats)
    }

    /// Why a record was processed twice: a processor's commit after it was
    /// fenced, or the first processor crashed, or else the partition moved.
    fn cause(&self, p: &Processings) -> &'static str {
        let after = |times: Option<&Vec<Nanos>>, at: Nanos| {
            times.is_some_and(|t| t.iter().any(|&x| x >= at))
        };
        let (first, first_at) = p.first;
        let fenced = after(self.fenced.get(&first), first_at)
            || p.second
                .is_some_and(|(n, at)| after(self.fenced.get(&n), at));
        if fenced {
            "a zombie's commit was fenced (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID): the member had been removed from the group"
        } else if after(self.started.get(&first), first_at) {
            "the consumer crashed before committing it"
        } else {
            "its partition moved to another member before the commit"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::data::FinalLog;
    use crate::client::consumer::PolledRecord;
    use crate::client::record_value;
    use crate::log::{ControlRecordType, EndTransactionMarker, Record, RecordBatch};
    use crate::protocol::TopicPartition;
    use std::rc::Rc;

    fn checker(processing: Processing) -> GroupChecker {
        let member = Some(MemberOf {
            group: "g".into(),
            topic: "t".into(),
            processing,
            read_committed: false,
        });
        GroupChecker::new(
            vec!["c0".into(), "c1".into(), "broker-1".into()],
            vec![member.clone(), member, None],
            BTreeSet::new(),
        )
    }

    /// A poll of the record at `offset` of partition 0 (its id the offset).
    fn polled(offset: u64) -> ConsumerObs {
        ConsumerObs::Polled(vec![PolledRecord {
            partition: 0,
            offset,
            id: offset,
            leader_epoch: 0,
            topic_id: crate::metadata::Uuid(0),
        }])
    }

    fn fired(c: &GroupChecker, invariant: &str) -> bool {
        c.violations.iter().any(|v| v.invariant == invariant)
    }

    fn assigned(generation: i32, member: &str, partitions: Vec<u32>) -> ConsumerObs {
        ConsumerObs::Assigned {
            generation,
            member_id: member.into(),
            partitions,
        }
    }

    #[test]
    fn two_owners_in_one_generation_break_exclusive_assignment() {
        let mut c = checker(Processing::AtLeastOnce);
        c.observe(1, 0, &assigned(1, "m0", vec![0, 1]));
        c.observe(2, 1, &assigned(2, "m1", vec![0]));
        assert!(!fired(&c, "exclusive_assignment"), "different generations");
        c.observe(3, 1, &assigned(1, "m1", vec![1]));
        assert!(fired(&c, "exclusive_assignment"));
    }

    #[test]
    fn polls_and_commits_are_followed_only_for_the_invariants_checked() {
        let member = Some(MemberOf {
            group: "g".into(),
            topic: "t".into(),
            processing: Processing::AtLeastOnce,
            read_committed: false,
        });
        let with = |explicit: &[&str]| {
            GroupChecker::new(
                vec!["c0".into()],
                vec![member.clone()],
                explicit.iter().map(|s| s.to_string()).collect(),
            )
        };
        let commit = ConsumerObs::CommitSent {
            generation: 1,
            offsets: vec![(0, 4)],
        };
        let feed = |c: &mut GroupChecker| {
            c.observe(1, 0, &polled(5));
            c.observe(2, 0, &polled(5));
            c.observe(3, 0, &commit);
        };
        // A scenario naming only data invariants: nothing per poll or commit kept.
        let mut data_only = with(&["acked_writes_durable"]);
        feed(&mut data_only);
        assert!(data_only.polls.is_empty() && data_only.sent_log.is_empty());
        assert!(data_only.violations.is_empty());
        // Naming monotonic_poll follows the polls (and flags the repeat).
        let mut polls = with(&["monotonic_poll"]);
        feed(&mut polls);
        assert!(fired(&polls, "monotonic_poll"));
        assert!(polls.sent_log.is_empty());
        // processed_at_least_once needs the commits (they explain a miss).
        let mut commits = with(&["processed_at_least_once"]);
        feed(&mut commits);
        assert!(commits.polls.is_empty() && !commits.sent_log.is_empty());
        // Naming nothing checks everything.
        let mut all = with(&[]);
        feed(&mut all);
        assert!(fired(&all, "monotonic_poll") && !all.sent_log.is_empty());
    }

    #[test]
    fn polls_must_continue_from_the_position_without_going_back() {
        let mut c = checker(Processing::AtLeastOnce);
        let position = |offset| ConsumerObs::Position {
            partition: 0,
            offset,
            source: PositionSource::Committed { requested_at: 0 },
        };
        c.observe(1, 0, &position(5));
        c.observe(2, 0, &polled(5));
        c.observe(3, 0, &polled(6));
        assert!(c.violations.is_empty());
        c.observe(4, 0, &polled(9));
        c.observe(5, 0, &polled(9));
        assert!(fired(&c, "monotonic_poll"));
        // A new position (a rebalance or seek) may go back.
        let before = c.violations.len();
        c.observe(6, 0, &position(2));
        c.observe(7, 0, &polled(2));
        assert_eq!(c.violations.len(), before);
        // The jump from 7 to 9 is judged against the final log: records
        // at 7 and 8 were skipped; transaction markers there were not.
        let skipped = |markers: bool| {
            let mut batches = Vec::new();
            for offset in 0..10u64 {
                let batch = if markers && (7..9).contains(&offset) {
                    let marker = EndTransactionMarker {
                        control_type: ControlRecordType::Commit,
                        coordinator_epoch: 0,
                    };
                    RecordBatch::end_txn_marker(1, 0, marker, 0)
                } else {
                    let value = record_value(offset, 8);
                    let record = Record {
                        key: None,
                        value: Some(value),
                        timestamp_ms: 0,
                        headers: Vec::new(),
                    };
                    RecordBatch::of(0, 0, (-1, -1, -1), &[record])
                };
                batches.push(Rc::new(batch.stamped(offset, 0)));
            }
            let log = FinalLog::new(batches, 0, 10, Vec::new());
            let end = FinalState {
                logs: [(TopicPartition::new("t", 0), log)].into_iter().collect(),
                ..FinalState::default()
            };
            let (violations, _) = c.clone().finish(10, &end, &|_| true, &BTreeMap::new());
            violations.iter().any(|v| v.invariant == "no_poll_skip")
        };
        assert!(skipped(false));
        assert!(!skipped(true));
    }

    #[test]
    fn committed_offsets_never_go_back_nor_are_fetched_older() {
        let mut c = checker(Processing::AtLeastOnce);
        let tp = TopicPartition::new("t", 0);
        c.coordinator_commit(1, 2, "g", &[(tp.clone(), 10)]);
        c.coordinator_commit(2, 2, "g", &[(tp.clone(), 12)]);
        assert!(c.violations.is_empty());
        c.coordinator_commit(3, 2, "g", &[(tp, 11)]);
        assert!(fired(&c, "committed_offsets_monotonic"));

        let mut c = checker(Processing::AtLeastOnce);
        let acked = ConsumerObs::Committed {
            generation: 1,
            offsets: vec![(0, 20)],
            error: None,
        };
        c.observe(10, 0, &acked);
        let fetched = |offset, requested_at| ConsumerObs::Position {
            partition: 0,
            offset,
            source: PositionSource::Committed { requested_at },
        };
        c.observe(12, 1, &fetched(15, 5));
        assert!(
            c.violations.is_empty(),
            "asked before the commit was acknowledged"
        );
        c.observe(30, 1, &fetched(15, 20));
        assert!(fired(&c, "committed_offsets_monotonic"));
    }

    #[test]
    fn processing_outcomes_and_the_duplicate_statistic() {
        let end = |ids: &[u64]| {
            let records: Vec<Record> = ids
                .iter()
                .map(|&id| Record {
                    key: None,
                    value: Some(record_value(id, 8)),
                    timestamp_ms: 0,
                    headers: Vec::new(),
                })
                .collect();
            let log = FinalLog::new(
                vec![Rc::new(RecordBatch::of(0, 0, (-1, -1, -1), &records))],
                0,
                ids.len() as u64,
                Vec::new(),
            );
            FinalState {
                logs: [(TopicPartition::new("t", 0), log)].into_iter().collect(),
                ..FinalState::default()
            }
        };
        let ids = [1, 2, 3];
        let processed = |records: &[u64]| {
            ConsumerObs::Processed(records.iter().map(|&id| (0, 0, id)).collect())
        };

        // At-least-once: one record never processed is a violation; one
        // processed twice (by a member that then restarted) is a statistic.
        let mut c = checker(Processing::AtLeastOnce);
        c.observe(1, 0, &processed(&ids[..2]));
        c.observe(2, 0, &ConsumerObs::Started);
        c.observe(3, 1, &processed(&ids[1..2]));
        let (violations, stats) = c.finish(10, &end(&ids), &|_| true, &BTreeMap::new());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].invariant, "processed_at_least_once");
        assert_eq!(stats[0].duplicates, 1);
        assert_eq!(
            stats[0].duplicate_causes.keys().collect::<Vec<_>>(),
            vec!["the consumer crashed before committing it"]
        );

        // At-most-once: a record processed twice is a violation, one never
        // processed is not (unless asked for).
        let mut c = checker(Processing::AtMostOnce);
        c.observe(1, 0, &processed(&ids[..2]));
        c.observe(3, 1, &processed(&ids[1..2]));
        let (violations, _) = c.finish(10, &end(&ids), &|_| true, &BTreeMap::new());
        let names: Vec<&str> = violations.iter().map(|v| v.invariant.as_str()).collect();
        assert_eq!(names, vec!["processed_at_most_once"]);
    }

    #[test]
    fn forgetting_counts_what_no_member_processed_and_keeps_the_duplicates() {
        let processed = |records: &[u64]| {
            ConsumerObs::Processed(records.iter().map(|&id| (0, 0, id)).collect())
        };
        let mut c = checker(Processing::AtLeastOnce);
        c.observe(1, 0, &processed(&[1, 2]));
        c.observe(2, 0, &ConsumerObs::Started);
        c.observe(3, 1, &processed(&[2]));
        // Retention removed 1, 2 and 3 of topic t; chunk 0 of producer 0 goes.
        c.forget("t", &[1, 2, 3], &[(0, 0)]);
        c.forget("other", &[4], &[]);
        let seen = &c.processed["g"];
        assert!(!seen.contains(1), "forgotten");
        let (violations, stats) = c.finish(10, &FinalState::default(), &|_| true, &BTreeMap::new());
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(
            stats[0].removed_by_retention, 1,
            "record 3 was never processed"
        );
        assert_eq!(
            stats[0].duplicates, 1,
            "record 2, processed twice, is still counted"
        );
        assert_eq!(
            stats[0].duplicate_causes.keys().collect::<Vec<_>>(),
            vec!["the consumer crashed before committing it"]
        );
    }
}
