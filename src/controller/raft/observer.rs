//! `MetadataObserver`: a broker replicating `__cluster_metadata-0` from the
//! quorum without voting (KafkaRaftClient in observer mode), as a sans-IO
//! state machine reusing [`RaftOutput`] and [`RaftTimer`].
//!
//! The observer keeps at most one Fetch in flight, to one voter. It learns
//! the epoch and its leader from the responses (a voter that is not the
//! leader names the leader it knows), so it needs no election state and
//! keeps no `quorum-state` file. As in Kafka, it never fsyncs its log: what
//! it loses in a crash it fetches again.
//!
//! Links carry no correlation ids, so a late answer to a timed-out fetch can
//! pass for the answer to the current one. Everything a response would change
//! is therefore checked against the log first: appended records must follow
//! the log end in order, a success must be of the epoch the fetch was sent
//! in, and a divergence may not cut below what the leader of the epoch has
//! already confirmed (its log only grows within its epoch). Anything else is
//! ignored and the fetch stays in flight.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::log::{LogEntry, OffsetAndEpoch, RaftLog};
use super::{
    RaftConfig, RaftError, RaftMessage, RaftOutput, RaftTimer, RaftTimerKind, METADATA_LOG_FILE,
    NS_PER_MS, TIMER_KINDS,
};

/// The Fetch in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlight {
    /// The voter it went to.
    to: u32,
    /// The epoch it was sent in.
    epoch: u32,
}

/// What a valid successful Fetch response asks for.
enum Apply {
    /// Truncate the log to this offset, then fetch again.
    Truncate(u64),
    /// Append the records (maybe none).
    Append,
}

/// A broker's replica of the metadata log: fetches from the quorum, never votes.
#[derive(Debug)]
pub struct MetadataObserver {
    id: u32,
    voters: Vec<u32>,
    config: RaftConfig,
    log: RaftLog,
    high_watermark: u64,
    /// The epoch it fetches in.
    epoch: u32,
    /// Its leader, if known.
    leader_id: Option<u32>,
    /// The leader of `epoch` confirmed that the log below this is a prefix of its own.
    confirmed_end: u64,
    /// The valid length of the log file at recovery, when a tail past it is to be cut.
    torn: Option<u64>,
    in_flight: Option<InFlight>,
    /// The voter the pending FetchRetry fetches from.
    retry_to: Option<u32>,
    timer_generations: [u64; TIMER_KINDS],
    /// The time of the input being handled (timers are set from it).
    now_ns: u64,
}

impl MetadataObserver {
    /// Rebuilds observer `id` (a broker's node id) of the quorum `voters`
    /// (controller ids, sorted) from its log file alone.
    pub fn recover(id: u32, voters: Vec<u32>, log_bytes: Option<&[u8]>) -> Self {
        assert!(!voters.is_empty(), "an observer fetches from voters");
        assert!(
            voters.windows(2).all(|w| w[0] < w[1]),
            "voters are sorted ids"
        );
        let (log, valid) = RaftLog::recover(log_bytes);
        let torn = (log_bytes.map_or(0, |b| b.len() as u64) > valid).then_some(valid);
        Self {
            id,
            voters,
            config: RaftConfig::default(),
            epoch: log.last_epoch(),
            log,
            high_watermark: 0,
            leader_id: None,
            confirmed_end: 0,
            torn,
            in_flight: None,
            retry_to: None,
            timer_generations: [0; TIMER_KINDS],
            now_ns: 0,
        }
    }

    /// Sets the timing configs (before `start`).
    pub fn with_config(mut self, config: RaftConfig) -> Self {
        self.config = config;
        self
    }

    /// Boot: cuts a torn or corrupt tail of the log file, then fetches from a random voter.
    pub fn start(&mut self, now_ns: u64, rng: &mut ChaCha8Rng, out: &mut Vec<RaftOutput>) {
        self.now_ns = now_ns;
        if let Some(len) = self.torn.take() {
            out.push(RaftOutput::truncate(METADATA_LOG_FILE, len));
        }
        if self.in_flight.is_none() {
            let to = self.random_voter(rng, None);
            self.send_fetch(to, out);
        }
    }

    /// This observer's id (the broker's node id).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The replicated log.
    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// Entries below this are committed.
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// The leader of `epoch()`, if known.
    pub fn leader_id(&self) -> Option<u32> {
        self.leader_id
    }

    /// The epoch it fetches in: the newest heard of, or an older one whose
    /// leader answered while the newer one had none known.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The voter the Fetch in flight went to, if one is.
    pub fn fetch_target(&self) -> Option<u32> {
        self.in_flight.map(|f| f.to)
    }

    /// A message from node `from` arrived; only Fetch responses matter.
    pub fn on_message(
        &mut self,
        now_ns: u64,
        rng: &mut ChaCha8Rng,
        from: u32,
        msg: RaftMessage,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        let RaftMessage::FetchResponse {
            epoch,
            leader_id,
            error,
            high_watermark,
            diverging_epoch,
            records,
        } = msg
        else {
            return;
        };
        let Some(request) = self.in_flight else {
            return;
        };
        if request.to != from {
            return;
        }
        let apply = match error {
            Some(_) => None,
            None => match self.check_success(request, epoch, diverging_epoch, &records) {
                Some(apply) => Some(apply),
                // Not an answer to this fetch (or nonsense): keep waiting for it.
                None => return,
            },
        };
        self.in_flight = None;
        let hint = leader_id.filter(|l| self.voters.contains(l));
        let epoch_rose = epoch > self.epoch;
        // A voter that lost touch with the quorum may stand for election in
        // epoch after epoch; an observer that heard of such an epoch (without
        // a leader) would be refused by the real leader (UnknownLeaderEpoch)
        // until the quorum catches up, and forever while the candidate is
        // cut off from the other voters. So, knowing no leader, it takes a
        // leader naming itself in an older epoch at its word.
        let leader_of_older = epoch < self.epoch
            && self.leader_id.is_none()
            && error == Some(RaftError::UnknownLeaderEpoch)
            && hint == Some(from);
        if epoch_rose || leader_of_older {
            self.epoch = epoch;
            self.leader_id = hint;
            self.confirmed_end = 0;
        } else if epoch == self.epoch && hint.is_some() {
            self.leader_id = hint;
        }
        let Some(apply) = apply else {
            match hint {
                // Follow a leader it names, when that is news: another voter,
                // or the responder itself in an epoch new to us. A responder
                // of an older epoch knows less than we do: no hint from it
                // (but for the case above).
                Some(leader)
                    if epoch == self.epoch && (leader != from || epoch_rose || leader_of_older) =>
                {
                    self.send_fetch(leader, out);
                }
                _ => {
                    let to = self.random_voter(rng, Some(from));
                    self.retry_after(self.config.retry_backoff_ms * NS_PER_MS, to, out);
                }
            }
            return;
        };
        self.leader_id = Some(from);
        match apply {
            Apply::Truncate(offset) => {
                let len = self.log.truncate_to(offset);
                self.high_watermark = self.high_watermark.min(self.log.end_offset());
                out.push(RaftOutput::truncate(METADATA_LOG_FILE, len));
                self.send_fetch(from, out);
            }
            Apply::Append => {
                for entry in records {
                    let (offset, bytes) = self.log.append(entry);
                    out.push(RaftOutput::write(METADATA_LOG_FILE, offset, bytes));
                }
                self.confirmed_end = self.log.end_offset();
                let hw = high_watermark.min(self.log.end_offset());
                if hw > self.high_watermark {
                    self.high_watermark = hw;
                    out.push(RaftOutput::Committed { upto_offset: hw });
                }
                // The next Fetch goes at once: an empty answer comes when
                // the leader held the Fetch as long as it had nothing to say.
                self.send_fetch(from, out);
            }
        }
    }

    /// A timer fired (stale ones, of an older generation, are ignored).
    pub fn on_timer(
        &mut self,
        now_ns: u64,
        rng: &mut ChaCha8Rng,
        timer: RaftTimer,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        if self.timer_generations[timer.kind.index()] != timer.generation {
            return;
        }
        match timer.kind {
            RaftTimerKind::FetchTimeout => {
                if let Some(request) = self.in_flight.take() {
                    let to = self.random_voter(rng, Some(request.to));
                    self.send_fetch(to, out);
                }
            }
            RaftTimerKind::FetchRetry if self.in_flight.is_none() => {
                if let Some(to) = self.retry_to.take() {
                    self.send_fetch(to, out);
                }
            }
            _ => {}
        }
    }

    /// The connection to `peer` broke: a fetch in flight to it is lost.
    pub fn on_disconnect(
        &mut self,
        now_ns: u64,
        rng: &mut ChaCha8Rng,
        peer: u32,
        out: &mut Vec<RaftOutput>,
    ) {
        self.now_ns = now_ns;
        if self.in_flight.is_some_and(|f| f.to == peer) {
            self.in_flight = None;
            let to = self.random_voter(rng, Some(peer));
            self.retry_after(self.config.retry_backoff_ms * NS_PER_MS, to, out);
        }
    }

    /// What a successful response to `request` asks for, or None when it
    /// cannot be the answer to it (or could not be applied to this log).
    fn check_success(
        &self,
        request: InFlight,
        epoch: u32,
        diverging_epoch: Option<OffsetAndEpoch>,
        records: &[LogEntry],
    ) -> Option<Apply> {
        // Only the leader of the request's epoch answers without error.
        if epoch != request.epoch {
            return None;
        }
        if let Some(diverging) = diverging_epoch {
            let local = self.log.end_offset_for_epoch(diverging.epoch);
            let offset = diverging.offset.min(local.offset);
            let valid = records.is_empty()
                && offset < self.log.end_offset()
                && offset >= self.confirmed_end;
            return valid.then_some(Apply::Truncate(offset));
        }
        let (mut next, mut last_epoch) = (self.log.end_offset(), self.log.last_epoch());
        for entry in records {
            if entry.offset != next || entry.epoch < last_epoch || entry.epoch > epoch {
                return None;
            }
            next += 1;
            last_epoch = entry.epoch;
        }
        Some(Apply::Append)
    }

    /// A voter drawn with `rng`, other than `avoid` when there is another.
    fn random_voter(&self, rng: &mut ChaCha8Rng, avoid: Option<u32>) -> u32 {
        let others: Vec<u32> = self
            .voters
            .iter()
            .copied()
            .filter(|&v| Some(v) != avoid)
            .collect();
        let choices = if others.is_empty() {
            &self.voters
        } else {
            &others
        };
        choices[rng.random_range(0..choices.len())]
    }

    /// Sends a Fetch from the log end to voter `to` and arms its timeout.
    fn send_fetch(&mut self, to: u32, out: &mut Vec<RaftOutput>) {
        debug_assert!(self.voters.contains(&to), "fetches go to voters");
        self.in_flight = Some(InFlight {
            to,
            epoch: self.epoch,
        });
        // A FetchRetry still pending is superseded.
        self.retry_to = None;
        self.timer_generations[RaftTimerKind::FetchRetry.index()] += 1;
        out.push(RaftOutput::send(
            to,
            RaftMessage::FetchRequest {
                replica_id: self.id,
                current_leader_epoch: self.epoch,
                fetch_offset: self.log.end_offset(),
                last_fetched_epoch: self.log.last_epoch(),
                high_watermark: self
                    .config
                    .fetch_high_watermark
                    .then_some(self.high_watermark),
            },
        ));
        let timeout_ns = self.config.fetch_timeout_ms * NS_PER_MS;
        self.set_timer(RaftTimerKind::FetchTimeout, timeout_ns, out);
    }

    /// Fetches from `to` after `after_ns`.
    fn retry_after(&mut self, after_ns: u64, to: u32, out: &mut Vec<RaftOutput>) {
        self.retry_to = Some(to);
        self.set_timer(RaftTimerKind::FetchRetry, after_ns, out);
    }

    /// Sets a timer of `kind`; older ones of that kind go stale.
    fn set_timer(&mut self, kind: RaftTimerKind, after_ns: u64, out: &mut Vec<RaftOutput>) {
        let generation = &mut self.timer_generations[kind.index()];
        *generation += 1;
        let timer = RaftTimer {
            kind,
            generation: *generation,
        };
        out.push(RaftOutput::timer(self.now_ns + after_ns, timer));
    }
}
