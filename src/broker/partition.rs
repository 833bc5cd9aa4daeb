//! `Partition`: one replica of a partition on a broker (Kafka's
//! `Partition`): its log, its producer state, and its role. As leader it
//! tracks its followers' log end offsets, moves the high watermark to the
//! least log end offset of the in-sync replicas, and proposes ISR changes;
//! as follower it only takes what its leader sends.

use std::ops::Index;
use std::rc::Rc;

use crate::log::{AppendError, LogConfig, RecordBatch, UnifiedLog};
use crate::metadata::{PartitionRegistration, Uuid};
use crate::node::Effect;
use crate::protocol::TopicIdPartition;

use super::producer_state::ProducerStateManager;

/// A follower as its leader sees it (Kafka's `Replica` state).
#[derive(Clone, Debug, Default)]
pub struct FollowerState {
    /// Its log end offset: the offset of its last fetch.
    pub log_end_offset: u64,
    /// Whether it fetched since this leader took over: before, Kafka's
    /// `logEndOffset` is unknown (`UNKNOWN_OFFSET`, -1, as a new leader's
    /// `resetReplicaState` leaves it) and equals no leader's log end
    /// offset, whatever `log_end_offset` says.
    log_end_offset_known: bool,
    /// When it was last caught up with the leader (see [`Self::last_caught_up_ms`]).
    last_caught_up_ms: u64,
    /// When it last fetched (see [`Self::last_fetch_ms`]), and the
    /// leader's log end offset then.
    last_fetch_ms: u64,
    last_fetch_leader_leo: u64,
    /// Its broker epoch, from its fetches (KIP-903).
    pub broker_epoch: u64,
    /// The high watermark its last fetch read (Kafka 2.5.1's
    /// `Replica.lastSentHighWatermark`, KIP-392): kept only under
    /// `follower_fetch_waits_for_data = false`, 0 otherwise.
    pub last_sent_hw: u64,
    /// Set while the partition idles in the follower's fetch session (see
    /// [`crate::broker::fetch_session`]): every fetch of that session
    /// since found it caught up, with nothing else to record, so its last
    /// fetch and last catch-up are the session's last fetch, which this
    /// clock holds, without the session visiting the partition.
    clock: Option<SessionClock>,
}

/// A fetch session's clock: the time (ms) of its last fetch, shared with
/// the follower states of the partitions idling in it.
pub type SessionClock = std::rc::Rc<std::cell::Cell<u64>>;

/// Two states are equal when they say the same (whichever clock they read).
impl PartialEq for FollowerState {
    fn eq(&self, other: &Self) -> bool {
        self.log_end_offset == other.log_end_offset
            && self.log_end_offset_known == other.log_end_offset_known
            && self.last_caught_up_ms() == other.last_caught_up_ms()
            && self.last_fetch_ms() == other.last_fetch_ms()
            && self.last_fetch_leader_leo == other.last_fetch_leader_leo
            && self.broker_epoch == other.broker_epoch
            && self.last_sent_hw == other.last_sent_hw
    }
}

impl Eq for FollowerState {}

/// Whether broker `id`, whose fetches carried/// Whether broker `id`, whose fetches carried broker epoch `epoch`, may
/// join an ISR (Kafka's `Partition.isReplicaIsrEligible`: registered,
/// unfenced, and the fetches' broker epoch is its registration's).
pub type Eligible<'a> = &'a dyn Fn(u32, u64) -> bool;

impl FollowerState {
    /// A follower taken as caught up at `now_ms` (a new leader's ISR members).
    pub fn caught_up_at(now_ms: u64) -> Self {
        Self {
            last_caught_up_ms: now_ms,
            ..Self::default()
        }
    }

    /// Its state when its leader takes a new epoch without having stepped
    /// down (Kafka 3.8's `Replica.resetReplicaState` with `isNewLeader`
    /// false, from 3.3): its log end offset and broker epoch kept (ksim
    /// keeps no follower log start); its last catch-up and last fetch now if it is
    /// `in_sync`, else never; the leader's log end offset at its last
    /// fetch the new epoch's start. Before 3.3 (`resetLastCaughtUpTime`)
    /// its last fetch was now either way, not modelled.
    pub fn re_elected(&self, in_sync: bool, now_ms: u64, epoch_start_offset: u64) -> Self {
        let at = if in_sync { now_ms } else { 0 };
        Self {
            last_caught_up_ms: at,
            last_fetch_ms: at,
            last_fetch_leader_leo: epoch_start_offset,
            clock: None,
            ..self.clone()
        }
    }

    /// When it was last caught up with the leader.
    pub fn last_caught_up_ms(&self) -> u64 {
        match &self.clock {
            Some(c) => self.last_caught_up_ms.max(c.get()),
            None => self.last_caught_up_ms,
        }
    }

    /// When it last fetched.
    pub fn last_fetch_ms(&self) -> u64 {
        match &self.clock {
            Some(c) => self.last_fetch_ms.max(c.get()),
            None => self.last_fetch_ms,
        }
    }

    /// Whether it caught up with the leader within `lag_ms` of `now_ms`
    /// (the time half of Kafka's `ReplicaState.isCaughtUp`; never, before
    /// its first catch-up). The high watermark's wait for a replica out of
    /// the ISR asks this alone: a replica at the leader's log end offset,
    /// the other half, cannot hold the high watermark back.
    pub fn is_caught_up(&self, now_ms: u64, lag_ms: u64) -> bool {
        let last = self.last_caught_up_ms();
        last > 0 && now_ms.saturating_sub(last) <= lag_ms
    }

    /// Whether its log end offset, as the leader knows it, is
    /// `leader_end_offset` (the other half of Kafka's
    /// `ReplicaState.isCaughtUp`, `leaderEndOffset == logEndOffset`,
    /// KAFKA-7152, 2.1): false until it fetched from this leader.
    pub fn is_at_log_end(&self, leader_end_offset: u64) -> bool {
        self.log_end_offset_known && self.log_end_offset == leader_end_offset
    }

    /// Takes the times from the session clock, if it reads one, and stops
    /// reading it.
    fn settle(&mut self) {
        if let Some(c) = self.clock.take() {
            let t = c.get();
            self.last_caught_up_ms = self.last_caught_up_ms.max(t);
            self.last_fetch_ms = self.last_fetch_ms.max(t);
        }
    }
}

/// An AlterPartition in flight (Kafka's PendingExpandIsr / PendingShrinkIsr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingIsr {
    /// The ISR proposed.
    pub proposed: Vec<u32>,
    /// When it was sent.
    pub sent_ms: u64,
}

/// The followers a leader tracks, by broker id: a few, so kept in a
/// vector (a lookup is a short scan, not a tree search).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Followers(Vec<(u32, FollowerState)>);

impl Followers {
    /// The state of follower `id`.
    pub fn get(&self, id: &u32) -> Option<&FollowerState> {
        self.0.iter().find(|(r, _)| r == id).map(|(_, f)| f)
    }

    /// The state of follower `id`, mutably.
    pub fn get_mut(&mut self, id: &u32) -> Option<&mut FollowerState> {
        self.0.iter_mut().find(|(r, _)| r == id).map(|(_, f)| f)
    }

    /// The state of follower `id`, a default one added if it has none,
    /// and whether it was added.
    pub fn get_or_default(&mut self, id: u32) -> (&mut FollowerState, bool) {
        let (i, added) = match self.0.iter().position(|(r, _)| *r == id) {
            Some(i) => (i, false),
            None => {
                self.0.push((id, FollowerState::default()));
                (self.0.len() - 1, true)
            }
        };
        (&mut self.0[i].1, added)
    }

    /// Every follower with its state.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &FollowerState)> {
        self.0.iter().map(|(r, f)| (*r, f))
    }
}

impl Index<&u32> for Followers {
    type Output = FollowerState;

    fn index(&self, id: &u32) -> &FollowerState {
        self.get(id).expect("no such follower")
    }
}

impl FromIterator<(u32, FollowerState)> for Followers {
    fn from_iter<I: IntoIterator<Item = (u32, FollowerState)>>(iter: I) -> Self {
        let mut followers = Self::default();
        for (id, state) in iter {
            *followers.get_or_default(id).0 = state;
        }
        followers
    }
}

/// The leader's view of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderState {
    /// The committed ISR (from metadata or an AlterPartition response).
    pub isr: Vec<u32>,
    /// An ISR change awaiting the controller.
    pub pending: Option<PendingIsr>,
    /// Followers, by broker id.
    pub followers: Followers,
    /// The log end offset when this leader epoch began.
    pub epoch_start_offset: u64,
}

impl LeaderState {
    /// The ISR the high watermark must wait for: during an expansion the
    /// added replica already counts, during a shrink the removed one still does.
    pub fn maximal_isr(&self) -> impl Iterator<Item = u32> + '_ {
        let proposed = self.pending.as_ref().map_or(&[][..], |p| &p.proposed[..]);
        self.isr
            .iter()
            .copied()
            .chain(proposed.iter().copied().filter(|r| !self.isr.contains(r)))
    }
}

/// A replica's role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// It leads.
    Leader(Box<LeaderState>),
    /// It follows `leader`.
    Follower {
        /// The leader's broker id.
        leader: u32,
    },
    /// No leader, or this broker is not told to serve it.
    Offline,
}

/// One partition replica on this broker.
#[derive(Debug)]
pub struct Partition {
    /// Which partition.
    pub tp: TopicIdPartition,
    /// Its topic's id: from its `partition.metadata` at boot (`Uuid(0)`
    /// when that did not survive), then from the metadata.
    pub topic_id: Uuid,
    /// Its log.
    pub log: UnifiedLog,
    /// Idempotent producers' state.
    pub producers: ProducerStateManager,
    /// This broker's id.
    pub me: u32,
    /// The replica set, preferred leader first.
    pub replicas: Vec<u32>,
    /// Its role now.
    pub role: Role,
    /// The leader epoch this replica acts in.
    pub leader_epoch: i32,
    /// The partition epoch it knows.
    pub partition_epoch: i32,
    /// `min.insync.replicas` for the topic.
    pub min_insync: usize,
    /// KAFKA-15583 (Kafka 3.7, `[protocol] hw_held_below_min_isr`): the
    /// high watermark holds while the ISR is below the effective
    /// min.insync.replicas, which is at most the replica count.
    pub hw_held_below_min_isr: bool,
    /// The high watermark waits for every replica outside the ISR that
    /// caught up within `replica.lag.time.max.ms` (Kafka's
    /// `maybeIncrementLeaderHW` since 1.x); from 3.6 (KAFKA-15021's
    /// `shouldWaitForReplicaToJoinIsr`) only for one that may join the ISR
    /// (unfenced, fetching with its registered broker epoch), which this
    /// says.
    pub hw_wait_checks_isr_eligibility: bool,
    /// KAFKA-7128 (2.1): a follower joins the ISR only once its log end
    /// offset reached the start offset of this leader epoch too.
    pub isr_join_requires_epoch_start_offset: bool,
    /// As a follower under `truncation = "epoch-end-offset"` (KIP-101
    /// before KIP-279): it has yet to ask its leader for the end offset of
    /// its latest epoch (Kafka 1.1's fetcher state `isTruncatingLog`, set
    /// when it starts following and cleared by the first answer).
    pub epoch_truncation_pending: bool,
    /// The partition epoch of the last metadata update applied to it
    /// (-1: none yet): an update from the metadata log, whatever an
    /// AlterPartition answer already told.
    pub metadata_partition_epoch: i32,
    /// One past its last entry's position in the broker's journal of
    /// changed partitions (0: none; see [`crate::broker::hosted::Hosted`]).
    pub(crate) journal_mark: u64,
}

impl Partition {
    /// Whether this replica is known to be of a topic other than the one
    /// with id `topic_id` (an earlier topic of the same name).
    pub fn of_another_topic(&self, topic_id: Uuid) -> bool {
        self.topic_id != Uuid(0) && self.topic_id != topic_id
    }

    /// Whether applying `reg` (of topic `topic_id`, with these configs)
    /// again would change nothing: the registration this replica last took
    /// (same partition epoch: same leader, leader epoch, ISR and replicas)
    /// and the role it gave. A controlled shutdown is not judged here (it
    /// changes what a registration means for a follower).
    pub fn already_applied(
        &self,
        reg: &PartitionRegistration,
        topic_id: Uuid,
        min_insync: usize,
        log_config: LogConfig,
        me: u32,
    ) -> bool {
        let same = self.metadata_partition_epoch == reg.partition_epoch
            && self.leader_epoch == reg.leader_epoch
            && self.topic_id == topic_id
            && self.min_insync == min_insync
            && self.replicas == reg.replicas
            && self.log.config() == log_config;
        same && match (&self.role, reg.leader) {
            (Role::Leader(_), Some(l)) => l == me && self.partition_epoch >= reg.partition_epoch,
            (Role::Follower { leader }, Some(l)) => *leader == l && l != me,
            (Role::Offline, None) => true,
            _ => false,
        }
    }

    /// A replica of `tp` over `log`, not yet told its role.
    pub fn new(tp: TopicIdPartition, log: UnifiedLog, me: u32, min_insync: usize) -> Self {
        let mut producers = ProducerStateManager::default();
        for batch in log.batches() {
            producers.update(batch);
        }
        producers.on_high_watermark_updated(log.high_watermark());
        Self {
            tp,
            topic_id: Uuid(0),
            log,
            producers,
            me,
            replicas: Vec::new(),
            role: Role::Offline,
            leader_epoch: -1,
            partition_epoch: -1,
            min_insync,
            hw_held_below_min_isr: true,
            hw_wait_checks_isr_eligibility: true,
            isr_join_requires_epoch_start_offset: true,
            epoch_truncation_pending: false,
            metadata_partition_epoch: -1,
            journal_mark: 0,
        }
    }

    /// Kafka before 3.3 (KAFKA-13790) runs `makeLeader` again for a
    /// metadata update of a partition it leads in the same leader epoch
    /// (an ISR change): the epoch's start offset becomes the log end
    /// offset, and every follower's state restarts at `now_ms` as a new
    /// leader's does (`resetLastCaughtUpTime`: ISR members caught up now,
    /// the others never). A follower idling in a fetch session keeps
    /// reading its clock, which only moves on from `now_ms`.
    pub fn restart_leader_epoch_state(&mut self, now_ms: u64) {
        let leo = self.log.log_end_offset();
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        leader.epoch_start_offset = leo;
        let isr = leader.isr.clone();
        for (id, f) in &mut leader.followers.0 {
            f.last_caught_up_ms = if isr.contains(id) { now_ms } else { 0 };
            f.last_fetch_ms = now_ms;
            f.last_fetch_leader_leo = leo;
        }
    }

    /// The min.insync.replicas the leader's checks use (Kafka's
    /// `effectiveMinIsr`, 3.7): the topic's, but at most the replica count.
    /// Before 3.7 (`hw_held_below_min_isr` off) the topic's as it is.
    pub fn effective_min_isr(&self) -> usize {
        if self.hw_held_below_min_isr {
            self.min_insync.min(self.replicas.len().max(1))
        } else {
            self.min_insync
        }
    }

    /// Whether the ISR (not counting members an AlterPartition in flight
    /// adds) is below the effective min.insync.replicas (Kafka's
    /// `isUnderMinIsr`).
    pub fn is_under_min_isr(&self) -> bool {
        self.isr_size() < self.effective_min_isr()
    }

    /// Cuts the log to `offset` (a follower parting from its leader's log)
    /// and rebuilds the producer state from what is left; returns the
    /// records removed, if any were.
    pub fn truncate_to(&mut self, offset: u64, out: &mut Vec<Effect>) -> Option<u64> {
        if self.log.config().contracts {
            assert!(
                !self.is_leader(),
                "{:?}: a leader truncates its own log (to {offset})",
                self.tp
            );
        }
        let leo = self.log.log_end_offset();
        if !self.log.truncate_to(offset, out) {
            return None;
        }
        self.producers.clear();
        for batch in self.log.batches() {
            self.producers.update(batch);
        }
        self.producers
            .on_high_watermark_updated(self.log.high_watermark());
        Some(leo - self.log.log_end_offset())
    }

    /// Deletes the whole log and starts it afresh at `offset` (a follower
    /// whose log ends below its leader's log start offset; Kafka's
    /// `truncateFullyAndStartAt`), with an empty producer state. Returns
    /// the records removed.
    pub fn truncate_fully_and_start_at(&mut self, offset: u64, out: &mut Vec<Effect>) -> u64 {
        let records = self.log.log_end_offset() - self.log.log_start_offset();
        self.log.truncate_fully_and_start_at(offset, out);
        self.producers.clear();
        records
    }

    /// Moves the high watermark to `hw` (see [`UnifiedLog::update_high_watermark`])
    /// and lets the producer state know. Returns whether it moved.
    pub fn update_high_watermark(&mut self, hw: u64) -> bool {
        let moved = self.log.update_high_watermark(hw);
        if moved {
            self.producers
                .on_high_watermark_updated(self.log.high_watermark());
        }
        moved
    }

    /// The last stable offset (Kafka's `UnifiedLog.lastStableOffset`): the
    /// first offset of a transaction not yet decided and replicated, capped
    /// by the high watermark. A read_committed consumer reads below it.
    pub fn last_stable_offset(&self) -> u64 {
        let hw = self.log.high_watermark();
        self.producers
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// Appends a batch replicated from the leader (Kafka's
    /// `appendRecordsToFollowerOrFutureReplica`).
    pub fn append_as_follower(
        &mut self,
        batch: Rc<RecordBatch>,
        now_ms: u64,
        out: &mut Vec<Effect>,
    ) -> Result<(), AppendError> {
        self.log
            .append_as_follower(Rc::clone(&batch), now_ms, out)?;
        self.producers.update(&batch);
        Ok(())
    }

    /// The leader state, if leading.
    pub fn leader_state(&self) -> Option<&LeaderState> {
        match &self.role {
            Role::Leader(l) => Some(l),
            _ => None,
        }
    }

    /// The leader state, if leading.
    pub fn leader_state_mut(&mut self) -> Option<&mut LeaderState> {
        match &mut self.role {
            Role::Leader(l) => Some(l),
            _ => None,
        }
    }

    /// True while it leads.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// True while it follows `leader`.
    pub fn follows(&self, leader: u32) -> bool {
        matches!(self.role, Role::Follower { leader: l } if l == leader)
    }

    /// The committed ISR size (acks=all checks against min.insync.replicas).
    pub fn isr_size(&self) -> usize {
        self.leader_state().map_or(0, |l| l.isr.len())
    }

    /// Records a follower's fetch at `fetch_offset` (Kafka's
    /// `Replica.updateFetchStateOrThrow`). Returns whether the follower's
    /// log end offset moved: only then may the high watermark.
    #[inline]
    pub fn record_follower_fetch(
        &mut self,
        follower: u32,
        broker_epoch: u64,
        fetch_offset: u64,
        now_ms: u64,
    ) -> bool {
        let leader_leo = self.log.log_end_offset();
        let Role::Leader(leader) = &mut self.role else {
            return false;
        };
        let (f, added) = leader.followers.get_or_default(follower);
        f.settle();
        let moved = added || f.log_end_offset != fetch_offset;
        if fetch_offset >= leader_leo {
            f.last_caught_up_ms = f.last_caught_up_ms.max(now_ms);
        } else if fetch_offset >= f.last_fetch_leader_leo {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.last_fetch_ms);
        }
        f.log_end_offset = fetch_offset;
        f.log_end_offset_known = true;
        f.last_fetch_leader_leo = leader_leo;
        f.last_fetch_ms = now_ms;
        f.broker_epoch = broker_epoch;
        moved
    }

    /// Kafka 2.5.1's KIP-392 check as a follower's fetch reads this
    /// partition (`ReplicaManager.readFromLocalLog`'s
    /// `followerNeedsHwUpdate`: the high watermark above the one last sent
    /// the follower), then the high watermark read recorded as sent
    /// (`updateFollowerFetchState`'s `lastSentHighwatermark`). Whether it
    /// was above.
    pub fn note_hw_sent(&mut self, follower: u32) -> bool {
        let hw = self.log.high_watermark();
        let Some(f) = self
            .leader_state_mut()
            .and_then(|l| l.followers.get_mut(&follower))
        else {
            return false;
        };
        let above = f.last_sent_hw < hw;
        f.last_sent_hw = hw;
        above
    }

    /// Whether the high watermark is above the one last sent `follower`
    /// (2.5.1 `DelayedFetch.tryComplete`, "Case H").
    pub fn hw_unsent_to(&self, follower: u32) -> bool {
        self.leader_state()
            .and_then(|l| l.followers.get(&follower))
            .is_some_and(|f| f.last_sent_hw < self.log.high_watermark())
    }

    /// `follower`'s fetches of this partition idle in the fetch session
    /// with `clock` from now on: its last fetch and last catch-up are that
    /// session's last fetch until it fetches this partition again (see
    /// [`FollowerState`]).
    pub fn idle_in(&mut self, follower: u32, clock: &SessionClock) {
        if let Some(f) = self
            .leader_state_mut()
            .and_then(|l| l.followers.get_mut(&follower))
        {
            f.clock = Some(std::rc::Rc::clone(clock));
        }
    }

    /// The high watermark the ISR allows now (Kafka's
    /// `maybeIncrementLeaderHW`): the least log end offset over the maximal
    /// ISR and over the replicas out of it that are caught up (within
    /// `lag_ms` of `now_ms`) and `eligible` to join it, which the high
    /// watermark waits for (KAFKA-15021, 3.6). From 3.7 (KAFKA-15583) it
    /// holds while the ISR is below the effective min.insync.replicas;
    /// before, it moves with an ISR of the leader alone. None when it
    /// would not move.
    pub fn next_high_watermark(
        &self,
        now_ms: u64,
        lag_ms: u64,
        eligible: Eligible<'_>,
    ) -> Option<u64> {
        let leader = self.leader_state()?;
        if self.hw_held_below_min_isr && self.is_under_min_isr() {
            return None;
        }
        let leo = self.log.log_end_offset();
        let end_of = |r: u32| {
            if r == self.me {
                leo
            } else {
                leader.followers.get(&r).map_or(0, |f| f.log_end_offset)
            }
        };
        // The maximal ISR: the ISR and any replica an AlterPartition in
        // flight adds (counted once), without building it.
        let added = leader
            .pending
            .iter()
            .flat_map(|p| p.proposed.iter())
            .filter(|r| !leader.isr.contains(r));
        let mut least: Option<u64> = None;
        for &r in leader.isr.iter().chain(added.clone()) {
            let end = end_of(r);
            least = Some(least.map_or(end, |l| l.min(end)));
        }
        // A caught-up replica outside the ISR holds it too: from 3.6 only
        // one about to join (Kafka's shouldWaitForReplicaToJoinIsr), before
        // any (`isCaughtUp || maximalIsr.contains`).
        for (r, f) in leader.followers.iter() {
            let member = leader.isr.contains(&r) || added.clone().any(|&a| a == r);
            if !member
                && self.replicas.contains(&r)
                && f.is_caught_up(now_ms, lag_ms)
                && (!self.hw_wait_checks_isr_eligibility || eligible(r, f.broker_epoch))
            {
                let end = f.log_end_offset;
                least = Some(least.map_or(end, |l| l.min(end)));
            }
        }
        let hw = least.unwrap_or(leo);
        (hw > self.log.high_watermark()).then_some(hw)
    }

    /// Asserts what a leader's high watermark move must satisfy (Kafka's
    /// `maybeIncrementLeaderHW`): it rises from `before`, the ISR is not
    /// below the effective min.insync.replicas (from 3.7), and no member's log end
    /// offset, as the leader knows it, is below it. A follower's log may
    /// later fall below it (a power loss); that is what the checkers judge.
    pub fn assert_high_watermark_contract(&self, before: u64) {
        let hw = self.log.high_watermark();
        let Some(leader) = self.leader_state() else {
            panic!("{:?}: a high watermark advanced by a non-leader", self.tp);
        };
        assert!(
            hw > before,
            "{:?}: the high watermark went from {before} to {hw}",
            self.tp
        );
        assert!(
            !(self.hw_held_below_min_isr && self.is_under_min_isr()),
            "{:?}: the high watermark moved to {hw} with the ISR {:?} below min.insync.replicas {}",
            self.tp,
            leader.isr,
            self.effective_min_isr()
        );
        for r in leader.maximal_isr() {
            let end = if r == self.me {
                self.log.log_end_offset()
            } else {
                leader.followers.get(&r).map_or(0, |f| f.log_end_offset)
            };
            assert!(
                hw <= end,
                "{:?}: high watermark {hw} past ISR member {r}'s log end offset {end}",
                self.tp
            );
        }
    }

    /// Whether `follower`, out of the ISR, has caught up (Kafka's
    /// `Partition.maybeExpandIsr` for the replica that just fetched): its
    /// log end offset is at least the high watermark and the start of this
    /// leader epoch (KAFKA-7128, 2.1; before, the high watermark alone:
    /// a new leader's may still be below what the last leader committed,
    /// so a follower that has not fetched that yet could join and be
    /// elected without it), it is `eligible`, and no ISR change is in
    /// flight.
    pub fn can_expand_with(&self, follower: u32, eligible: Eligible<'_>) -> bool {
        let Some(leader) = self.leader_state() else {
            return false;
        };
        if leader.pending.is_some() || leader.isr.contains(&follower) {
            return false;
        }
        let hw = self.log.high_watermark();
        self.replicas.contains(&follower)
            && leader.followers.get(&follower).is_some_and(|f| {
                f.log_end_offset >= hw
                    && (!self.isr_join_requires_epoch_start_offset
                        || f.log_end_offset >= leader.epoch_start_offset)
                    && eligible(follower, f.broker_epoch)
            })
    }

    /// ISR members (not the leader) out of sync (Kafka's
    /// `Partition.getOutOfSyncReplicas`, none while an ISR change is in
    /// flight): a follower is out of sync unless its log end offset is the
    /// leader's (KAFKA-7152, 2.1: a follower that stopped fetching at the
    /// log end of a partition that takes no writes stays) or it caught up
    /// within `lag_ms` of `now_ms` (`ReplicaState.isCaughtUp`).
    pub fn shrink_candidates(&self, now_ms: u64, lag_ms: u64) -> Vec<u32> {
        let Some(leader) = self.leader_state() else {
            return Vec::new();
        };
        if leader.pending.is_some() {
            return Vec::new();
        }
        let leader_end_offset = self.log.log_end_offset();
        leader
            .isr
            .iter()
            .copied()
            .filter(|&r| r != self.me)
            .filter(|r| {
                let follower = leader.followers.get(r);
                if follower.is_some_and(|f| f.is_at_log_end(leader_end_offset)) {
                    return false;
                }
                let caught_up = follower.map_or(0, FollowerState::last_caught_up_ms);
                now_ms.saturating_sub(caught_up) > lag_ms
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, Record};

    /// Every broker may join an ISR.
    const ANY: Eligible<'static> = &|_, _| true;

    fn leader(isr: &[u32], min_insync: usize, records: usize) -> Partition {
        let mut log = UnifiedLog::recover("t-0", LogConfig::default(), &[], 0, &mut Vec::new());
        for i in 0..records {
            let r = Record {
                key: None,
                value: Some(vec![i as u8]),
                timestamp_ms: 0,
                headers: Vec::new(),
            };
            log.append_records(vec![r], -1, -1, -1, 0, 0, &mut Vec::new());
        }
        Partition {
            tp: TopicIdPartition::new(crate::protocol::TopicId(0), 0),
            topic_id: Uuid(1),
            log,
            producers: ProducerStateManager::default(),
            me: 1,
            replicas: vec![1, 2, 3],
            role: Role::Leader(Box::new(LeaderState {
                isr: isr.to_vec(),
                pending: None,
                followers: Followers::default(),
                epoch_start_offset: 0,
            })),
            leader_epoch: 0,
            partition_epoch: 0,
            min_insync,
            hw_held_below_min_isr: true,
            hw_wait_checks_isr_eligibility: true,
            isr_join_requires_epoch_start_offset: true,
            epoch_truncation_pending: false,
            metadata_partition_epoch: -1,
            journal_mark: 0,
        }
    }

    #[test]
    fn the_high_watermark_is_the_least_isr_log_end_and_waits_for_min_insync() {
        let mut p = leader(&[1, 2, 3], 2, 10);
        assert_eq!(
            p.next_high_watermark(100, 30_000, ANY),
            None,
            "followers have fetched nothing"
        );
        p.record_follower_fetch(2, 5, 7, 100);
        p.record_follower_fetch(3, 5, 4, 100);
        assert_eq!(p.next_high_watermark(100, 30_000, ANY), Some(4));
        // An ISR below min.insync.replicas holds the high watermark.
        let mut alone = leader(&[1], 2, 10);
        assert_eq!(alone.next_high_watermark(100, 30_000, ANY), None);
        alone.min_insync = 1;
        assert_eq!(alone.next_high_watermark(100, 30_000, ANY), Some(10));
        // Before KAFKA-15583 (3.6) the leader alone moves it under any
        // min.insync.replicas.
        alone.min_insync = 2;
        alone.hw_held_below_min_isr = false;
        assert_eq!(alone.next_high_watermark(100, 30_000, ANY), Some(10));
    }

    #[test]
    fn a_caught_up_replica_about_to_join_holds_the_high_watermark() {
        // KAFKA-15021 (3.6): replica 3, out of the ISR, caught up within
        // replica.lag.time.max.ms and eligible: the leader waits for it.
        let mut p = leader(&[1, 2], 2, 10);
        p.record_follower_fetch(3, 6, 6, 1000);
        p.record_follower_fetch(2, 5, 10, 1000);
        assert_eq!(
            p.next_high_watermark(1000, 30_000, ANY),
            Some(10),
            "3 has never caught up: not waited for"
        );
        // 3 reaches the leader's log end; the leader appends two more and
        // 2 fetches them.
        p.record_follower_fetch(3, 6, 10, 2000);
        let r = Record {
            key: None,
            value: Some(vec![0]),
            timestamp_ms: 0,
            headers: Vec::new(),
        };
        p.log
            .append_records(vec![r.clone(), r], -1, -1, -1, 0, 0, &mut Vec::new());
        p.record_follower_fetch(2, 5, 12, 2500);
        assert!(p.leader_state().unwrap().followers[&3].is_caught_up(2500, 30_000));
        assert_eq!(p.next_high_watermark(2500, 30_000, ANY), Some(10));
        // Not once it is fenced or fetched with a stale broker epoch,
        let fenced: Eligible<'_> = &|b, _| b != 3;
        assert_eq!(p.next_high_watermark(2500, 30_000, fenced), Some(12));
        let stale: Eligible<'_> = &|b, e| b != 3 || e == 7;
        assert_eq!(p.next_high_watermark(2500, 30_000, stale), Some(12));
        // nor after replica.lag.time.max.ms without catching up again.
        assert_eq!(p.next_high_watermark(40_000, 30_000, ANY), Some(12));
        // Before 3.6 it waited for any caught-up replica, fenced or not,
        p.hw_wait_checks_isr_eligibility = false;
        assert_eq!(p.next_high_watermark(2500, 30_000, fenced), Some(10));
        assert_eq!(p.next_high_watermark(2500, 30_000, stale), Some(10));
        // and for none that lagged longer than replica.lag.time.max.ms.
        assert_eq!(p.next_high_watermark(40_000, 30_000, ANY), Some(12));
    }

    #[test]
    fn min_insync_counts_at_most_the_replicas_from_kafka_15583_on() {
        let mut p = leader(&[1, 2, 3], 4, 10);
        assert_eq!(p.effective_min_isr(), 3, "3.7's effectiveMinIsr");
        assert!(!p.is_under_min_isr());
        p.hw_held_below_min_isr = false;
        assert_eq!(p.effective_min_isr(), 4, "3.6 takes the topic's as set");
        assert!(p.is_under_min_isr());
    }

    #[test]
    fn a_pending_isr_expansion_does_not_lift_the_hold() {
        // Kafka's isUnderMinIsr counts the ISR, not the maximal ISR.
        let mut p = leader(&[1], 2, 10);
        p.record_follower_fetch(2, 5, 10, 100);
        if let Role::Leader(l) = &mut p.role {
            l.pending = Some(PendingIsr {
                proposed: vec![1, 2],
                sent_ms: 100,
            });
        }
        assert_eq!(p.next_high_watermark(100, 30_000, ANY), None);
    }

    #[test]
    fn a_high_watermark_moved_by_the_isr_keeps_the_contract() {
        let mut p = leader(&[1, 2, 3], 2, 10);
        p.record_follower_fetch(2, 5, 7, 100);
        p.record_follower_fetch(3, 5, 6, 100);
        let hw = p.next_high_watermark(100, 30_000, ANY).unwrap();
        p.log.update_high_watermark(hw);
        p.assert_high_watermark_contract(0);
    }

    #[test]
    #[should_panic(expected = "past ISR member 3's log end offset 4")]
    fn a_high_watermark_past_an_isr_members_log_end_breaks_the_contract() {
        let mut p = leader(&[1, 2, 3], 2, 10);
        p.record_follower_fetch(2, 5, 7, 100);
        p.record_follower_fetch(3, 5, 4, 100);
        p.log.update_high_watermark(7);
        p.assert_high_watermark_contract(0);
    }

    #[test]
    #[should_panic(expected = "below min.insync.replicas 2")]
    fn a_high_watermark_moved_below_min_insync_breaks_the_contract() {
        let mut p = leader(&[1], 2, 10);
        p.log.update_high_watermark(10);
        p.assert_high_watermark_contract(0);
    }

    #[test]
    #[should_panic(expected = "a leader truncates its own log")]
    fn a_leader_truncating_breaks_the_contract() {
        let mut p = leader(&[1, 2, 3], 2, 10);
        p.truncate_to(5, &mut Vec::new());
    }

    #[test]
    fn the_last_stable_offset_waits_for_open_and_unreplicated_transactions() {
        use crate::log::{BatchBuilder, ControlRecordType, EndTransactionMarker};
        let mut p = leader(&[1, 2, 3], 2, 2);
        p.update_high_watermark(2);
        assert_eq!(
            p.last_stable_offset(),
            2,
            "no transaction: the high watermark"
        );
        let mut b = BatchBuilder::new();
        b.append(None, b"t", 0);
        let txn = p
            .log
            .append_as_leader(&b.build_transactional(7, 0, 0), 0, 0, &mut Vec::new());
        p.producers.update(&txn);
        p.update_high_watermark(3);
        assert_eq!(
            p.last_stable_offset(),
            2,
            "the open transaction from offset 2"
        );
        let commit = EndTransactionMarker {
            control_type: ControlRecordType::Commit,
            coordinator_epoch: 0,
        };
        let marker = RecordBatch::end_txn_marker(7, 0, commit, 0);
        let marker = p.log.append_as_leader(&marker, 0, 0, &mut Vec::new());
        p.producers.update(&marker);
        assert_eq!(p.log.log_end_offset(), 4);
        assert_eq!(
            p.last_stable_offset(),
            2,
            "committed, marker not replicated"
        );
        p.update_high_watermark(4);
        assert_eq!(p.last_stable_offset(), 4, "decided and replicated");
        // A restarted replica rebuilds the same from its log.
        let rebuilt = Partition::new(p.tp, p.log.clone(), 2, 2);
        assert_eq!(rebuilt.last_stable_offset(), 4);
    }

    #[test]
    fn a_follower_batch_that_does_not_append_leaves_the_producer_state_alone() {
        use crate::log::BatchBuilder;
        let mut p = leader(&[1, 2, 3], 2, 2);
        p.role = Role::Follower { leader: 2 };
        let mut b = BatchBuilder::new();
        b.append(None, b"t", 0);
        let mut gap = b.build_transactional(7, 0, 0);
        gap.base_offset = 5;
        assert!(p
            .append_as_follower(Rc::new(gap), 0, &mut Vec::new())
            .is_err());
        assert_eq!(p.producers.open_transaction(7), None);
    }

    #[test]
    fn a_caught_up_follower_is_proposed_and_a_lagging_one_dropped() {
        let mut p = leader(&[1, 2], 1, 10);
        p.log.update_high_watermark(8);
        p.record_follower_fetch(3, 42, 7, 1000);
        assert!(!p.can_expand_with(3, ANY), "below the high watermark");
        p.record_follower_fetch(3, 42, 8, 1100);
        assert!(p.can_expand_with(3, ANY));
        assert!(!p.can_expand_with(2, ANY), "already in the ISR");
        // Fenced, or fetching with another broker epoch (KIP-903): not
        // eligible (Kafka's isReplicaIsrEligible).
        assert!(!p.can_expand_with(3, &|_, _| false));
        assert!(!p.can_expand_with(3, &|b, e| b == 3 && e == 43));
        let epoch = p.leader_state().unwrap().followers[&3].broker_epoch;
        assert_eq!(
            epoch, 42,
            "the epoch its fetches carried goes into AlterPartition"
        );
        // Follower 2 never caught up: after replica.lag.time.max.ms it goes.
        assert_eq!(p.shrink_candidates(20_000, 30_000), Vec::<u32>::new());
        assert_eq!(p.shrink_candidates(40_000, 30_000), vec![2]);
        // Caught up to the leader's log end: it stays.
        p.record_follower_fetch(2, 5, 10, 39_000);
        assert_eq!(p.shrink_candidates(40_000, 30_000), Vec::<u32>::new());
    }

    #[test]
    fn a_follower_at_the_leaders_log_end_stays_in_the_isr_however_long_it_is_silent() {
        // KAFKA-7152 (2.1; 3.8's `ReplicaState.isCaughtUp`:
        // `leaderEndOffset == logEndOffset || currentTimeMs -
        // lastCaughtUpTimeMs <= replicaMaxLagMs`). Follower 2 fetched up to
        // the leader's log end offset, 10, and then stopped; follower 3
        // stopped at 7.
        let mut p = leader(&[1, 2, 3], 1, 10);
        p.record_follower_fetch(2, 5, 10, 1_000);
        p.record_follower_fetch(3, 5, 7, 1_000);
        assert_eq!(p.shrink_candidates(20_000, 30_000), Vec::<u32>::new());
        assert_eq!(
            p.shrink_candidates(100_000, 30_000),
            vec![3],
            "silent for more than replica.lag.time.max.ms, 2 stays: no write it lacks"
        );
        // The next append leaves follower 2 behind, and its last catch-up is
        // long past: it goes.
        let r = crate::log::Record {
            key: None,
            value: Some(vec![10]),
            timestamp_ms: 0,
            headers: Vec::new(),
        };
        p.log
            .append_records(vec![r], -1, -1, -1, 0, 0, &mut Vec::new());
        assert_eq!(p.shrink_candidates(100_000, 30_000), vec![2, 3]);
    }

    #[test]
    fn a_follower_that_has_not_fetched_from_a_new_leader_is_not_at_its_log_end() {
        // A new leader of an empty log: its ISR follower 2 has not fetched
        // from it, so its log end offset is unknown (Kafka's
        // `resetReplicaState`: UNKNOWN_OFFSET, -1), not the leader's 0.
        let mut p = leader(&[1, 2], 1, 0);
        if let Role::Leader(l) = &mut p.role {
            l.followers = [(2, FollowerState::caught_up_at(1_000))]
                .into_iter()
                .collect();
        }
        assert_eq!(p.shrink_candidates(31_000, 30_000), Vec::<u32>::new());
        assert_eq!(p.shrink_candidates(31_001, 30_000), vec![2]);
        // Once it fetched at 0, it is at the log end.
        p.record_follower_fetch(2, 5, 0, 1_000);
        assert_eq!(p.shrink_candidates(100_000, 30_000), Vec::<u32>::new());
    }
}
