//! Incremental fetch sessions (KIP-227), the leader's side: Kafka's
//! `FetchSessionCache` and `FetchContext`. A follower's first fetch is full
//! and opens a session holding what it fetches; later fetches name only the
//! partitions whose fetch position changed (and those to forget), and the
//! answer carries only partitions with records, an error or a high
//! watermark the follower has not been told. The leader reads every
//! partition of the session at every fetch, as Kafka's
//! `IncrementalFetchContext.foreachPartition` does, so follower positions and
//! ISR lag are tracked as before; but a follower's partition that its last
//! fetch found caught up and with nothing to answer or record but the
//! fetch's time is left idle until it changes (the broker's journal of
//! changed partitions, [`super::hosted::Hosted`]) or the follower names it
//! again: reading it would change nothing but that time, which its
//! follower state takes from the session's clock instead (see
//! [`super::partition::FollowerState`]). The follower likewise asks again
//! only about the partitions changed since its last fetch.
//!
//! Before 2.5.0 (`fetch_session_leader_epoch = false`, KAFKA-9338) a
//! session keeps no current leader epoch: 2.4.1's `CachedPartition.reqData`
//! is built with `Optional.empty()`, and `IncrementalFetchContext.foreachPartition`
//! hands every partition of the session (those the fetch names too) to the
//! read through it, so an incremental fetch is not fenced by KIP-320; a
//! full fetch reads its own request and is.
//!
//! Differences from Kafka: session ids count up from 1 instead of being
//! random; a session with new data is not moved to the end of the session
//! (Kafka rotates them for fairness under `replica.fetch.response.max.bytes`).

use std::collections::BTreeMap;

use sim::{Nanos, MILLIS};

use super::partition::SessionClock;
use crate::errors::Errors;
use crate::protocol::{FetchMetadata, FetchPartition, FetchedPartition, TopicIdPartition, TpMap};

/// Kafka's `max.incremental.fetch.session.cache.slots` (default).
pub const CACHE_SLOTS: usize = 1000;
/// Kafka's `min.incremental.fetch.session.eviction.ms` (default): a session
/// used more recently than this is not evicted for a new one.
pub const MIN_EVICTION_MS: u64 = 120_000;

/// What an answer told the fetcher of a partition's positions: the high
/// watermark and the log start offset (Kafka's session answers a
/// partition again when either moved).
pub type ToldPositions = (u64, u64);

/// One partition of a session: what the follower last asked, and the
/// positions it was last told (None: not told, or an error since).
#[derive(Clone, Debug)]
pub(crate) struct CachedPartition {
    pub(crate) request: FetchPartition,
    pub(crate) told: Option<ToldPositions>,
    /// A follower's last fetch of it found it caught up, answered nothing
    /// and recorded nothing but the fetch's time; nothing changed it since
    /// (see [`FetchSessionCache::wake`]), so the next fetch would do the
    /// same: it is not read, and the follower's state reads the session's
    /// clock for the time.
    pub(crate) idle: bool,
}

/// One follower's session.
#[derive(Clone, Debug)]
struct FetchSession {
    /// The epoch its next fetch must carry.
    epoch: i32,
    /// Its partitions, in partition order.
    partitions: Vec<CachedPartition>,
    last_used: Nanos,
    /// The time of its last follower fetch, for its idle partitions.
    clock: SessionClock,
    /// The position in the broker's journal of changed partitions up to
    /// which its idle partitions were woken.
    journal_at: u64,
    /// The follower's broker epoch at its last fetch.
    broker_epoch: Option<u64>,
    /// Each partition's place in `partitions`, for [`FetchSessionCache::wake`].
    places: TpMap<u32>,
}

impl FetchSession {
    /// Where `tp` is in `partitions` (Ok) or would go (Err). `places`
    /// answers first; it is a hint only, stale between a partition coming
    /// or going and [`Self::replace`], so its answer is checked.
    fn position(&self, tp: &TopicIdPartition) -> Result<usize, usize> {
        if let Some(&i) = self.places.get(tp) {
            if self
                .partitions
                .get(i as usize)
                .is_some_and(|c| c.request.tp == *tp)
            {
                return Ok(i as usize);
            }
        }
        self.partitions.binary_search_by(|c| c.request.tp.cmp(tp))
    }

    fn get_mut(&mut self, tp: &TopicIdPartition) -> Option<&mut CachedPartition> {
        let i = self.position(tp).ok()?;
        Some(&mut self.partitions[i])
    }

    /// Takes each partition's place anew (after partitions came or went).
    fn replace(&mut self) {
        self.places = TpMap::new();
        for (i, c) in self.partitions.iter().enumerate() {
            self.places.insert(c.request.tp, i as u32);
        }
    }

    /// Sets what the follower asks of `request.tp`, adding it if new.
    fn ask(&mut self, request: &FetchPartition) {
        match self.position(&request.tp) {
            Ok(i) => {
                let c = &mut self.partitions[i];
                c.request = *request;
                c.idle = false;
            }
            Err(i) => self.partitions.insert(
                i,
                CachedPartition {
                    request: *request,
                    told: None,
                    idle: false,
                },
            ),
        }
    }
}

/// How one fetch is answered (Kafka's `FetchContext`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchContext {
    /// Outside any session: every partition asked is answered.
    Sessionless,
    /// A full fetch: every partition answered, and a session opened with them.
    Full,
    /// An incremental fetch in session `id`.
    Incremental {
        /// The session.
        id: u32,
    },
    /// The session is unknown or out of step: answered with this error alone.
    Error(Errors),
}

/// The leader's fetch sessions.
#[derive(Debug, Default)]
pub struct FetchSessionCache {
    sessions: BTreeMap<u32, FetchSession>,
    last_id: u32,
    /// Before 2.5.0 (KAFKA-9338): the session keeps no current leader
    /// epoch (see the module doc).
    drops_leader_epoch: bool,
}

/// What a session keeps of `request`: all of it, or (before KAFKA-9338)
/// all but its current leader epoch.
fn kept(request: &FetchPartition, drops_leader_epoch: bool) -> FetchPartition {
    if drops_leader_epoch {
        FetchPartition {
            current_leader_epoch: -1,
            ..*request
        }
    } else {
        *request
    }
}

impl FetchSessionCache {
    /// A cache whose sessions keep each partition's current leader epoch
    /// (`keep`, KAFKA-9338, 2.5.0 on) or, as in 2.4.1, none.
    pub fn keeping_leader_epoch(keep: bool) -> Self {
        Self {
            drops_leader_epoch: !keep,
            ..Self::default()
        }
    }

    /// The context of a fetch with `metadata` (Kafka's `FetchManager.newContext`):
    /// an incremental fetch updates its session with `partitions` and `forgotten`.
    pub fn new_context(
        &mut self,
        now: Nanos,
        metadata: FetchMetadata,
        partitions: &[FetchPartition],
        forgotten: &[TopicIdPartition],
    ) -> FetchContext {
        if metadata.epoch == FetchMetadata::FINAL_EPOCH {
            self.sessions.remove(&metadata.session_id);
            return FetchContext::Sessionless;
        }
        if metadata.epoch == FetchMetadata::INITIAL_EPOCH {
            // A full fetch closes the session it names, if any.
            self.sessions.remove(&metadata.session_id);
            return FetchContext::Full;
        }
        let Some(session) = self.sessions.get_mut(&metadata.session_id) else {
            return FetchContext::Error(Errors::FetchSessionIdNotFound);
        };
        if session.epoch != metadata.epoch {
            return FetchContext::Error(Errors::InvalidFetchSessionEpoch);
        }
        let before = session.partitions.len();
        for p in partitions {
            session.ask(&kept(p, self.drops_leader_epoch));
        }
        let mut moved = session.partitions.len() != before;
        for tp in forgotten {
            if let Ok(i) = session.position(tp) {
                session.partitions.remove(i);
                moved = true;
            }
        }
        if moved {
            session.replace();
        }
        session.epoch = FetchMetadata::next_epoch(metadata.epoch);
        session.last_used = now;
        FetchContext::Incremental {
            id: metadata.session_id,
        }
    }

    /// What an incremental fetch in session `id` reads: every partition of
    /// the session, as last asked.
    pub fn session_partitions(&self, id: u32) -> Vec<FetchPartition> {
        self.session_reads(id).map(|(r, _)| *r).collect()
    }

    /// [`Self::session_partitions`], each with the high watermark the
    /// session last told the fetcher of it (as [`Self::told`]).
    pub fn session_reads(
        &self,
        id: u32,
    ) -> impl Iterator<Item = (&FetchPartition, Option<ToldPositions>)> + '_ {
        let cached = self.sessions.get(&id).map_or(&[][..], |s| &s.partitions);
        cached.iter().map(|c| (&c.request, c.told))
    }

    /// The high watermark of `tp` that the answer to a fetch in `context`
    /// need not repeat: the one its session last told the fetcher (None
    /// outside an incremental fetch, or when not told). A partition with no
    /// records, no error and no diverging epoch at that high watermark is
    /// left out of the answer by [`Self::respond`], so it need not be built.
    #[cfg(test)]
    pub fn told(&self, context: FetchContext, tp: &TopicIdPartition) -> Option<ToldPositions> {
        self.told_in(context).of(tp)
    }

    /// [`Self::told`] for many partitions of one fetch: the session is
    /// looked up once, and partitions asked in session order are found
    /// without a search.
    pub fn told_in(&self, context: FetchContext) -> Told<'_> {
        let cached = match context {
            FetchContext::Incremental { id } => self.sessions.get(&id).map(|s| &s.partitions[..]),
            _ => None,
        };
        Told {
            cached: cached.unwrap_or(&[]),
            next: 0,
        }
    }

    /// The answer to a fetch in `context` (Kafka's
    /// `updateAndGenerateResponseData`): the session id it is in and the
    /// partitions to send. A full fetch opens its session here, with
    /// `asked` and the high watermarks answered.
    pub fn respond(
        &mut self,
        now: Nanos,
        context: FetchContext,
        asked: &[FetchPartition],
        answers: Vec<FetchedPartition>,
    ) -> (u32, Vec<FetchedPartition>) {
        match context {
            FetchContext::Sessionless | FetchContext::Error(_) => {
                (FetchMetadata::INVALID_SESSION_ID, answers)
            }
            FetchContext::Full => {
                let Some(id) = self.make_room(now) else {
                    return (FetchMetadata::INVALID_SESSION_ID, answers);
                };
                let mut session = FetchSession {
                    epoch: 1,
                    partitions: Vec::with_capacity(asked.len()),
                    last_used: now,
                    clock: SessionClock::new(std::cell::Cell::new(now / MILLIS)),
                    journal_at: 0,
                    broker_epoch: None,
                    places: TpMap::new(),
                };
                for (request, answer) in asked.iter().zip(&answers) {
                    session.ask(&kept(request, self.drops_leader_epoch));
                    if let Some(cached) = session.get_mut(&request.tp) {
                        cached.told = told(answer);
                    }
                }
                session.replace();
                self.sessions.insert(id, session);
                (id, answers)
            }
            FetchContext::Incremental { id } => {
                let Some(session) = self.sessions.get_mut(&id) else {
                    return (id, answers);
                };
                let answers = answers
                    .into_iter()
                    .filter(|a| {
                        let Some(cached) = session.get_mut(&a.tp) else {
                            return true;
                        };
                        let must = !a.batches.is_empty()
                            || a.error.is_some()
                            || a.diverging_epoch.is_some()
                            || cached.told != told(a);
                        cached.told = told(a);
                        must
                    })
                    .collect();
                (id, answers)
            }
        }
    }

    /// Before a follower's incremental fetch in session `id` is read: its
    /// partitions `changed` since its last fetch (None: any may have) are
    /// woken, all of them if the follower's broker epoch changed; the
    /// journal was read up to `journal_end`. Returns the session's
    /// partitions, to read those not idle, and its clock.
    pub(crate) fn wake(
        &mut self,
        id: u32,
        changed: Option<&[TopicIdPartition]>,
        journal_end: u64,
        broker_epoch: u64,
    ) -> Option<(&mut [CachedPartition], &SessionClock)> {
        let session = self.sessions.get_mut(&id)?;
        match changed {
            Some(changed) if session.broker_epoch == Some(broker_epoch) => {
                for tp in changed {
                    if let Some(&i) = session.places.get(tp) {
                        session.partitions[i as usize].idle = false;
                    }
                }
            }
            _ => {
                for c in &mut session.partitions {
                    c.idle = false;
                }
            }
        }
        session.journal_at = journal_end;
        session.broker_epoch = Some(broker_epoch);
        Some((&mut session.partitions, &session.clock))
    }

    /// The journal position session `id` was woken up to (see [`Self::wake`]).
    pub(crate) fn journal_at(&self, id: u32) -> u64 {
        self.sessions.get(&id).map_or(0, |s| s.journal_at)
    }

    /// A free session id, evicting the least recently used session when
    /// every slot is taken and it is older than the eviction age (None: no
    /// room, the fetch stays sessionless).
    fn make_room(&mut self, now: Nanos) -> Option<u32> {
        if self.sessions.len() >= CACHE_SLOTS {
            let (&oldest, session) = self
                .sessions
                .iter()
                .min_by_key(|(id, s)| (s.last_used, **id))?;
            if now.saturating_sub(session.last_used) < MIN_EVICTION_MS * MILLIS {
                return None;
            }
            self.sessions.remove(&oldest);
        }
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        Some(self.last_id)
    }
}

/// The positions a partition's answer told the fetcher (None after an error).
fn told(answer: &FetchedPartition) -> Option<ToldPositions> {
    answer
        .error
        .is_none()
        .then_some((answer.high_watermark, answer.log_start_offset))
}

/// The follower's side (Kafka's `FetchSessionHandler`): its session with
/// one leader and what that session holds.
#[derive(Clone, Debug)]
pub struct FetchSessionHandler {
    next: FetchMetadata,
    /// The partitions as the leader's session holds them, in partition order.
    session: Vec<FetchPartition>,
    /// Each partition's place in `session` (taken anew at each
    /// [`Self::build`], which alone changes which partitions it holds).
    places: TpMap<u32>,
}

impl Default for FetchSessionHandler {
    fn default() -> Self {
        Self {
            next: FetchMetadata {
                session_id: FetchMetadata::INVALID_SESSION_ID,
                epoch: FetchMetadata::INITIAL_EPOCH,
            },
            session: Vec::new(),
            places: TpMap::new(),
        }
    }
}

/// A fetch the handler built: its session fields, the partitions to name
/// and the ones to forget.
#[derive(Clone, Debug)]
pub struct BuiltFetch {
    /// Session id and epoch.
    pub metadata: FetchMetadata,
    /// The partitions to send.
    pub partitions: Vec<FetchPartition>,
    /// The partitions the session drops.
    pub forgotten: Vec<TopicIdPartition>,
}

impl FetchSessionHandler {
    /// The next fetch for `wanted` (every partition followed from the
    /// leader, in partition order): all of them when the fetch is full,
    /// else the changed ones. One walk of `wanted` beside the session,
    /// which is in that order too. The session takes `wanted`'s partitions;
    /// `wanted` is left with the old ones' room.
    pub fn build(&mut self, wanted: &mut Vec<FetchPartition>) -> BuiltFetch {
        debug_assert!(wanted.windows(2).all(|w| w[0].tp < w[1].tp));
        let metadata = self.next;
        let full = metadata.epoch == FetchMetadata::INITIAL_EPOCH;
        let mut partitions = Vec::new();
        let mut forgotten = Vec::new();
        let mut held = self.session.iter().peekable();
        for p in wanted.iter() {
            while let Some(gone) = held.next_if(|h| h.tp < p.tp) {
                forgotten.push(gone.tp);
            }
            let same = held.next_if(|h| h.tp == p.tp).is_some_and(|h| h == p);
            if full || !same {
                partitions.push(*p);
            }
        }
        forgotten.extend(held.map(|h| h.tp));
        let same_partitions = self.session.len() == wanted.len()
            && self
                .session
                .iter()
                .zip(wanted.iter())
                .all(|(a, b)| a.tp == b.tp);
        std::mem::swap(&mut self.session, wanted);
        if !same_partitions {
            self.places = TpMap::new();
            for (i, p) in self.session.iter().enumerate() {
                self.places.insert(p.tp, i as u32);
            }
        }
        BuiltFetch {
            metadata,
            partitions,
            // A full fetch opens a new session: nothing to forget.
            forgotten: if full { Vec::new() } else { forgotten },
        }
    }

    /// Whether the next fetch is full (it opens a new session).
    pub fn next_is_full(&self) -> bool {
        self.next.epoch == FetchMetadata::INITIAL_EPOCH
    }

    /// The next incremental fetch when only `changed` (partitions in
    /// partition order, as the fetcher asks for them now) may differ from
    /// what the session holds, and the session holds every partition
    /// wanted: what [`Self::build`] gives for them all, without the walk.
    /// A changed partition the session does not hold is left out.
    pub fn build_changed(&mut self, changed: &[FetchPartition]) -> BuiltFetch {
        debug_assert!(!self.next_is_full());
        let mut partitions = Vec::new();
        for p in changed {
            if let Some(i) = self.place(&p.tp) {
                if self.session[i] != *p {
                    self.session[i] = *p;
                    partitions.push(*p);
                }
            }
        }
        BuiltFetch {
            metadata: self.next,
            partitions,
            forgotten: Vec::new(),
        }
    }

    /// What the leader's session holds for `tp` (as the last fetch left it).
    pub fn sent(&self, tp: &TopicIdPartition) -> Option<&FetchPartition> {
        Some(&self.session[self.place(tp)?])
    }

    /// Where the session holds `tp`.
    fn place(&self, tp: &TopicIdPartition) -> Option<usize> {
        let i = *self.places.get(tp)? as usize;
        debug_assert_eq!(self.session[i].tp, *tp, "places follow the session");
        Some(i)
    }

    /// The answer came back: false when it was a session error (the next
    /// fetch is full, and the answer holds nothing).
    pub fn handle_response(&mut self, error: Option<Errors>, session_id: u32) -> bool {
        match error {
            None => {
                self.next = if self.next.epoch == FetchMetadata::INITIAL_EPOCH {
                    if session_id == FetchMetadata::INVALID_SESSION_ID {
                        // No session to be had: full fetches, each one.
                        Self::default().next
                    } else {
                        FetchMetadata {
                            session_id,
                            epoch: 1,
                        }
                    }
                } else {
                    FetchMetadata {
                        session_id: self.next.session_id,
                        epoch: FetchMetadata::next_epoch(self.next.epoch),
                    }
                };
                true
            }
            Some(Errors::FetchSessionIdNotFound) => {
                self.next = Self::default().next;
                false
            }
            Some(_) => {
                self.handle_error();
                false
            }
        }
    }

    /// The fetch failed (a broken connection, a timeout): the next one is
    /// full, closing the session it had.
    pub fn handle_error(&mut self) {
        self.next.epoch = FetchMetadata::INITIAL_EPOCH;
    }
}

/// See [`FetchSessionCache::told_in`].
pub struct Told<'a> {
    cached: &'a [CachedPartition],
    next: usize,
}

impl Told<'_> {
    /// The high watermark the session last told the fetcher of `tp`, as
    /// [`FetchSessionCache::told`] gives it.
    pub fn of(&mut self, tp: &TopicIdPartition) -> Option<ToldPositions> {
        if let Some(c) = self.cached.get(self.next).filter(|c| c.request.tp == *tp) {
            self.next += 1;
            return c.told;
        }
        let i = self
            .cached
            .binary_search_by(|c| c.request.tp.cmp(tp))
            .ok()?;
        self.next = i + 1;
        self.cached[i].told
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicId;

    fn tp(p: u32) -> TopicIdPartition {
        TopicIdPartition::new(TopicId(0), p)
    }

    fn ask(p: u32, offset: u64) -> FetchPartition {
        FetchPartition {
            tp: tp(p),
            current_leader_epoch: 1,
            fetch_offset: offset,
            last_fetched_epoch: Some(1),
        }
    }

    fn answer(p: u32, high_watermark: u64) -> FetchedPartition {
        FetchedPartition {
            tp: tp(p),
            error: None,
            high_watermark,
            log_start_offset: 0,
            log_end_offset: high_watermark,
            last_stable_offset: high_watermark,
            diverging_epoch: None,
            aborted_transactions: Vec::new(),
            batches: Vec::new(),
            topic_id: crate::metadata::Uuid(0),
        }
    }

    fn fresh() -> (FetchSessionCache, FetchSessionHandler) {
        (FetchSessionCache::default(), FetchSessionHandler::default())
    }

    /// The leader's context for the fetch the follower built, at `now`.
    fn context(cache: &mut FetchSessionCache, now: Nanos, built: &BuiltFetch) -> FetchContext {
        cache.new_context(now, built.metadata, &built.partitions, &built.forgotten)
    }

    /// Opens a session over partitions 0 and 1 (both at offset 0, HW 5).
    fn open(cache: &mut FetchSessionCache, handler: &mut FetchSessionHandler) -> u32 {
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0)]);
        assert_eq!(built.metadata.epoch, FetchMetadata::INITIAL_EPOCH);
        let ctx = context(cache, 0, &built);
        assert_eq!(ctx, FetchContext::Full);
        let (id, sent) = cache.respond(0, ctx, &built.partitions, vec![answer(0, 5), answer(1, 5)]);
        assert_ne!(id, FetchMetadata::INVALID_SESSION_ID);
        assert_eq!(sent.len(), 2, "a full fetch answers every partition");
        assert!(handler.handle_response(None, id));
        id
    }

    #[test]
    fn a_full_fetch_opens_a_session_and_the_next_fetch_names_only_what_changed() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        // Partition 1 moved on; partition 0 did not.
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 3)]);
        assert_eq!(
            built.metadata,
            FetchMetadata {
                session_id: id,
                epoch: 1
            }
        );
        assert_eq!(built.partitions, vec![ask(1, 3)]);
        assert!(built.forgotten.is_empty());
        let ctx = context(&mut cache, 1, &built);
        assert_eq!(ctx, FetchContext::Incremental { id });
        // The leader reads the whole session, as last asked.
        assert_eq!(cache.session_partitions(id), vec![ask(0, 0), ask(1, 3)]);
        // Neither has news: the answer is empty.
        let (_, sent) = cache.respond(1, ctx, &[], vec![answer(0, 5), answer(1, 5)]);
        assert!(sent.is_empty(), "{sent:?}");
    }

    #[test]
    fn an_incremental_answer_carries_a_partition_whose_high_watermark_moved() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0)]);
        let ctx = context(&mut cache, 1, &built);
        let (_, sent) = cache.respond(1, ctx, &[], vec![answer(0, 5), answer(1, 7)]);
        assert_eq!(sent, vec![answer(1, 7)]);
        // Told once, not again.
        handler.handle_response(None, id);
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0)]);
        let ctx = context(&mut cache, 2, &built);
        let (_, sent) = cache.respond(2, ctx, &[], vec![answer(0, 5), answer(1, 7)]);
        assert!(sent.is_empty(), "{sent:?}");
    }

    #[test]
    fn only_an_incremental_fetch_knows_what_its_session_told() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0), ask(2, 0)]);
        let ctx = context(&mut cache, 1, &built);
        assert_eq!(cache.told(ctx, &tp(0)), Some((5, 0)));
        assert_eq!(cache.told(ctx, &tp(2)), None, "new: not told yet");
        assert_eq!(cache.told(FetchContext::Full, &tp(0)), None);
        let reads: Vec<_> = cache.session_reads(id).map(|(r, hw)| (r.tp, hw)).collect();
        assert_eq!(
            reads,
            vec![(tp(0), Some((5, 0))), (tp(1), Some((5, 0))), (tp(2), None)]
        );
    }

    #[test]
    fn a_partition_no_longer_followed_is_forgotten_by_the_session() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        let built = handler.build(&mut vec![ask(0, 0)]);
        assert_eq!(built.forgotten, vec![tp(1)]);
        assert!(handler.sent(&tp(1)).is_none());
        context(&mut cache, 1, &built);
        assert_eq!(cache.session_partitions(id), vec![ask(0, 0)]);
    }

    #[test]
    fn an_incremental_build_names_new_and_changed_partitions_and_forgets_the_rest() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        let built = handler.build(&mut vec![ask(1, 0), ask(3, 0)]);
        assert_eq!(built.partitions, vec![ask(3, 0)]);
        assert_eq!(built.forgotten, vec![tp(0)]);
        assert!(handler.handle_response(None, id));
        let built = handler.build(&mut vec![ask(1, 2), ask(2, 0)]);
        assert_eq!(built.partitions, vec![ask(1, 2), ask(2, 0)]);
        assert_eq!(built.forgotten, vec![tp(3)]);
        assert_eq!(handler.sent(&tp(1)), Some(&ask(1, 2)));
        assert_eq!(handler.sent(&tp(3)), None);
    }

    #[test]
    fn an_out_of_step_epoch_is_refused_and_the_follower_falls_back_to_a_full_fetch() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        let stale = FetchMetadata {
            session_id: id,
            epoch: 7,
        };
        let ctx = cache.new_context(1, stale, &[], &[]);
        assert_eq!(ctx, FetchContext::Error(Errors::InvalidFetchSessionEpoch));
        assert!(!handler.handle_response(Some(Errors::InvalidFetchSessionEpoch), id));
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0)]);
        assert_eq!(built.metadata.epoch, FetchMetadata::INITIAL_EPOCH);
        assert_eq!(built.partitions.len(), 2, "the retry is full");
    }

    #[test]
    fn an_unknown_session_is_refused_and_the_next_fetch_opens_a_new_one() {
        let mut cache = FetchSessionCache::default();
        let ctx = cache.new_context(
            0,
            FetchMetadata {
                session_id: 42,
                epoch: 3,
            },
            &[],
            &[],
        );
        assert_eq!(ctx, FetchContext::Error(Errors::FetchSessionIdNotFound));
        let mut handler = FetchSessionHandler::default();
        handler.build(&mut vec![ask(0, 0)]);
        assert!(!handler.handle_response(Some(Errors::FetchSessionIdNotFound), 0));
        let built = handler.build(&mut vec![ask(0, 0)]);
        assert_eq!(
            built.metadata,
            FetchMetadata {
                session_id: FetchMetadata::INVALID_SESSION_ID,
                epoch: FetchMetadata::INITIAL_EPOCH
            }
        );
    }

    #[test]
    fn a_broken_connection_makes_the_next_fetch_full_in_a_new_session() {
        let (mut cache, mut handler) = fresh();
        let id = open(&mut cache, &mut handler);
        handler.handle_error();
        let built = handler.build(&mut vec![ask(0, 0), ask(1, 0)]);
        assert_eq!(built.partitions.len(), 2);
        let ctx = context(&mut cache, 5, &built);
        assert_eq!(ctx, FetchContext::Full);
        let (new_id, _) =
            cache.respond(5, ctx, &built.partitions, vec![answer(0, 5), answer(1, 5)]);
        assert_ne!(new_id, id);
        assert!(
            cache.session_partitions(id).is_empty(),
            "the old session is closed"
        );
    }

    #[test]
    fn sessionless_fetches_answer_everything_and_open_nothing() {
        let mut cache = FetchSessionCache::default();
        let ctx = cache.new_context(0, FetchMetadata::SESSIONLESS, &[ask(0, 0)], &[]);
        assert_eq!(ctx, FetchContext::Sessionless);
        let (id, sent) = cache.respond(0, ctx, &[ask(0, 0)], vec![answer(0, 5)]);
        assert_eq!((id, sent.len()), (FetchMetadata::INVALID_SESSION_ID, 1));
        assert!(cache.sessions.is_empty());
    }

    #[test]
    fn a_full_cache_evicts_only_sessions_idle_past_the_eviction_age() {
        let mut cache = FetchSessionCache::default();
        let full = FetchMetadata {
            session_id: 0,
            epoch: FetchMetadata::INITIAL_EPOCH,
        };
        for _ in 0..CACHE_SLOTS {
            let (id, _) = cache.respond(0, FetchContext::Full, &[], Vec::new());
            assert_ne!(id, FetchMetadata::INVALID_SESSION_ID);
        }
        let ctx = cache.new_context(MILLIS, full, &[], &[]);
        let (id, _) = cache.respond(MILLIS, ctx, &[], Vec::new());
        assert_eq!(
            id,
            FetchMetadata::INVALID_SESSION_ID,
            "every session is young"
        );
        let later = MIN_EVICTION_MS * MILLIS;
        let (id, _) = cache.respond(later, FetchContext::Full, &[], Vec::new());
        assert_ne!(id, FetchMetadata::INVALID_SESSION_ID);
        assert!(
            !cache.sessions.contains_key(&1),
            "the least recently used went"
        );
        assert_eq!(cache.sessions.len(), CACHE_SLOTS);
    }
}
