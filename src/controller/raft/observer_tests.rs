//! Tests of `MetadataObserver` and of the leader's `observer_fetch`: three
//! voters and one observer on a small hand-driven network (fixed latency,
//! so links are FIFO; cut links drop messages silently).

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const OBSERVER: u32 = 100;
const VOTERS: [u32; 3] = [1, 2, 3];
const LATENCY_NS: u64 = NS_PER_MS;

fn config() -> RaftConfig {
    RaftConfig {
        fetch_max_entries: 3,
        ..RaftConfig::default()
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: u32,
        to: u32,
        msg: RaftMessage,
    },
    Timer {
        node: u32,
        timer: RaftTimer,
    },
    Fsync {
        node: u32,
        token: u64,
    },
}

/// Three voters and one observer, driven event by event in time order.
struct Cluster {
    now: u64,
    rng: ChaCha8Rng,
    voters: BTreeMap<u32, RaftClient>,
    observer: MetadataObserver,
    /// The observer's log file, as its Write/Truncate outputs left it.
    observer_file: Vec<u8>,
    /// Every output of the observer, in order.
    observer_out: Vec<RaftOutput>,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    /// Links (either direction) that drop every message.
    cut: BTreeSet<(u32, u32)>,
}

impl Cluster {
    fn new(seed: u64) -> Self {
        let mut cluster = Self {
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            voters: BTreeMap::new(),
            observer: MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), None)
                .with_config(config()),
            observer_file: Vec::new(),
            observer_out: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
        };
        for id in VOTERS {
            let mut client =
                RaftClient::recover(id, VOTERS.to_vec(), None, None).with_config(config());
            let mut out = Vec::new();
            client.start(0, &mut cluster.rng, &mut out);
            cluster.voters.insert(id, client);
            cluster.apply_voter(id, out);
        }
        let mut out = Vec::new();
        cluster.observer.start(0, &mut cluster.rng, &mut out);
        cluster.apply_observer(out);
        cluster
    }

    fn push(&mut self, after_ns: u64, event: Event) {
        self.push_at(self.now + after_ns, event);
    }

    fn push_at(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn is_cut(&self, a: u32, b: u32) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn cut_link(&mut self, a: u32, b: u32) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    fn isolate(&mut self, node: u32) {
        for other in VOTERS.into_iter().chain([OBSERVER]) {
            if other != node {
                self.cut_link(node, other);
            }
        }
    }

    fn apply_voter(&mut self, id: u32, out: Vec<RaftOutput>) {
        for o in out {
            match o.view() {
                View::Send { to, msg } => {
                    assert!(VOTERS.contains(&to) || to == OBSERVER);
                    let msg = msg.clone();
                    self.push(LATENCY_NS, Event::Deliver { from: id, to, msg });
                }
                View::SetTimer { at, timer } => self.push_at(at, Event::Timer { node: id, timer }),
                View::Fsync { token } => self.push(LATENCY_NS, Event::Fsync { node: id, token }),
                _ => {}
            }
        }
    }

    fn apply_observer(&mut self, out: Vec<RaftOutput>) {
        apply_to_file(&mut self.observer_file, &out);
        for o in &out {
            match o.view() {
                View::Send { to, msg } => {
                    assert!(VOTERS.contains(&to), "observers send to voters only");
                    assert!(
                        matches!(msg, RaftMessage::FetchRequest { replica_id, .. } if *replica_id == OBSERVER),
                        "{msg:?}"
                    );
                    let msg = msg.clone();
                    self.push(
                        LATENCY_NS,
                        Event::Deliver {
                            from: OBSERVER,
                            to,
                            msg,
                        },
                    );
                }
                View::SetTimer { at, timer } => self.push_at(
                    at,
                    Event::Timer {
                        node: OBSERVER,
                        timer,
                    },
                ),
                View::Fsync { .. } => panic!("observers never fsync"),
                _ => {}
            }
        }
        self.observer_out.extend(out);
    }

    /// Handles the next event; false when there is none.
    fn step(&mut self) -> bool {
        let Some(((at, _), event)) = self.queue.pop_first() else {
            return false;
        };
        self.now = at;
        let mut out = Vec::new();
        match event {
            Event::Deliver { from, to, msg } => {
                if self.is_cut(from, to) {
                    return true;
                }
                if from == OBSERVER {
                    let request = FetchFields::of(&msg).expect("observers only fetch");
                    let voter = self.voters.get_mut(&to).expect("voter");
                    voter.observer_fetch(at, OBSERVER, request, &mut out);
                    self.apply_voter(to, out);
                } else if to == OBSERVER {
                    self.observer
                        .on_message(at, &mut self.rng, from, msg, &mut out);
                    self.apply_observer(out);
                } else {
                    let client = self.voters.get_mut(&to).expect("voter");
                    client.on_message(at, &mut self.rng, from, msg, &mut out);
                    self.apply_voter(to, out);
                }
            }
            Event::Timer { node, timer } if node == OBSERVER => {
                self.observer.on_timer(at, &mut self.rng, timer, &mut out);
                self.apply_observer(out);
            }
            Event::Timer { node, timer } => {
                let client = self.voters.get_mut(&node).expect("voter");
                client.on_timer(at, &mut self.rng, timer, &mut out);
                self.apply_voter(node, out);
            }
            Event::Fsync { node, token } => {
                let client = self.voters.get_mut(&node).expect("voter");
                client.on_fsync(at, token, &mut out);
                self.apply_voter(node, out);
            }
        }
        true
    }

    /// Runs until `done` holds (checked after every event); panics after `limit_ns`.
    fn run_until(&mut self, limit_ns: u64, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = self.now + limit_ns;
        while !done(self) {
            assert!(self.now <= deadline && self.step(), "timed out: {what}");
        }
    }

    /// Runs for `ns` of simulated time.
    fn run_for(&mut self, ns: u64) {
        let until = self.now + ns;
        while self
            .queue
            .first_key_value()
            .is_some_and(|(&(at, _), _)| at <= until)
        {
            self.step();
        }
        self.now = until;
    }

    fn leader(&self) -> Option<u32> {
        self.voters
            .values()
            .filter(|c| c.is_leader())
            .max_by_key(|c| c.epoch())
            .map(|c| c.id())
    }

    fn voter(&self, id: u32) -> &RaftClient {
        &self.voters[&id]
    }

    /// The leader appends `n` data records.
    fn propose(&mut self, leader: u32, n: usize, tag: &str) {
        let mut out = Vec::new();
        for i in 0..n {
            let payload = format!("{tag}-{i}").into_bytes();
            let client = self.voters.get_mut(&leader).expect("voter");
            assert!(client.propose(payload, &mut out).is_some());
        }
        self.apply_voter(leader, out);
    }

    /// The leader's log is committed to its end, and the observer has all of it.
    fn observer_caught_up_with(&self, leader: u32) -> bool {
        let l = self.voter(leader);
        let end = l.log().end_offset();
        l.is_leader()
            && l.high_watermark() == end
            && self.observer.high_watermark() == end
            && self.observer.log().end_offset() == end
    }
}

fn apply_to_file(file: &mut Vec<u8>, out: &[RaftOutput]) {
    for o in out {
        match o.view() {
            View::Write {
                file: name,
                offset,
                bytes,
            } => {
                assert_eq!(name, METADATA_LOG_FILE);
                let end = offset as usize + bytes.len();
                if file.len() < end {
                    file.resize(end, 0);
                }
                file[offset as usize..end].copy_from_slice(&bytes);
            }
            View::Truncate { file: name, len } => {
                assert_eq!(name, METADATA_LOG_FILE);
                file.truncate(len as usize);
            }
            _ => {}
        }
    }
}

fn entries(log: &RaftLog) -> Vec<LogEntry> {
    log.entries_from(0, usize::MAX).to_vec()
}

fn committed(out: &[RaftOutput]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Committed { upto_offset } => Some(*upto_offset),
            _ => None,
        })
        .collect()
}

fn sends(out: &[RaftOutput]) -> Vec<(u32, RaftMessage)> {
    out.iter()
        .filter_map(|o| match o.view() {
            View::Send { to, msg } => Some((to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn timer(out: &[RaftOutput], kind: RaftTimerKind) -> Option<RaftTimer> {
    out.iter().rev().find_map(|o| match o.view() {
        View::SetTimer { timer, .. } if timer.kind == kind => Some(timer),
        _ => None,
    })
}

fn fetch_request(epoch: u32, fetch_offset: u64, last_fetched_epoch: u32) -> RaftMessage {
    fetch_request_knowing(epoch, fetch_offset, last_fetched_epoch, 0)
}

/// The observer's Fetch when it knows high watermark `hw` (KIP-1166).
fn fetch_request_knowing(epoch: u32, fetch_offset: u64, last_epoch: u32, hw: u64) -> RaftMessage {
    RaftMessage::FetchRequest {
        replica_id: OBSERVER,
        current_leader_epoch: epoch,
        fetch_offset,
        last_fetched_epoch: last_epoch,
        high_watermark: Some(hw),
    }
}

/// What `voter` answers at once to an observer's Fetch with these fields
/// (None: it parked it).
fn observer_fetch(
    voter: &mut RaftClient,
    epoch: u32,
    fetch_offset: u64,
    last_fetched_epoch: u32,
    high_watermark: Option<u64>,
) -> Option<RaftMessage> {
    let request = FetchFields {
        current_leader_epoch: epoch,
        fetch_offset,
        last_fetched_epoch,
        high_watermark,
    };
    let mut out = Vec::new();
    voter.observer_fetch(0, OBSERVER, request, &mut out);
    let mut sent = sends(&out);
    assert!(sent.len() <= 1, "{sent:?}");
    sent.pop().map(|(to, msg)| {
        assert_eq!(to, OBSERVER);
        msg
    })
}

fn error_response(epoch: u32, leader_id: Option<u32>, error: RaftError) -> RaftMessage {
    RaftMessage::FetchResponse {
        epoch,
        leader_id,
        error: Some(error),
        high_watermark: 0,
        diverging_epoch: None,
        records: Vec::new(),
    }
}

fn data(offset: u64, epoch: u32) -> LogEntry {
    LogEntry {
        offset,
        epoch,
        record: Record::Data(vec![offset as u8, epoch as u8]),
    }
}

fn success(epoch: u32, leader_id: u32, high_watermark: u64, records: Vec<LogEntry>) -> RaftMessage {
    RaftMessage::FetchResponse {
        epoch,
        leader_id: Some(leader_id),
        error: None,
        high_watermark,
        diverging_epoch: None,
        records,
    }
}

/// A started observer (no log) and the voter its first fetch went to.
fn started_observer(seed: u64) -> (MetadataObserver, ChaCha8Rng, u32, Vec<RaftOutput>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), None);
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, fetch_request(0, 0, 0));
    (observer, rng, sent[0].0, out)
}

#[test]
fn the_observer_catches_up_with_the_committed_log_and_never_fsyncs() {
    let mut cluster = Cluster::new(1);
    cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
    let leader = cluster.leader().expect("leader");
    // More than one fetch's worth (fetch_max_entries is 3).
    cluster.propose(leader, 10, "a");
    cluster.run_until(20_000 * NS_PER_MS, "catch-up", |c| {
        c.observer_caught_up_with(leader)
    });
    let l = cluster.voter(leader);
    assert_eq!(l.log().end_offset(), 11, "LeaderChange and 10 records");
    assert_eq!(entries(cluster.observer.log()), entries(l.log()));
    assert_eq!(cluster.observer.leader_id(), Some(leader));
    assert_eq!(cluster.observer.epoch(), l.epoch());
    // Its high watermark only rose, to the leader's.
    let marks = committed(&cluster.observer_out);
    assert!(marks.windows(2).all(|w| w[0] < w[1]), "{marks:?}");
    assert_eq!(marks.last(), Some(&11));
    // It took several fetches, each at most fetch_max_entries records.
    let fetches = sends(&cluster.observer_out).len();
    assert!(fetches >= 4, "{fetches} fetches");
    // The file it wrote holds exactly that log.
    let (recovered, valid) = RaftLog::recover(Some(&cluster.observer_file));
    assert_eq!(valid, cluster.observer_file.len() as u64);
    assert_eq!(entries(&recovered), entries(l.log()));
}

#[test]
fn observers_never_count_towards_the_high_watermark() {
    let mut cluster = Cluster::new(2);
    cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
    let leader = cluster.leader().expect("leader");
    cluster.run_until(20_000 * NS_PER_MS, "LeaderChange committed", |c| {
        c.observer_caught_up_with(leader)
    });
    let hw = cluster.voter(leader).high_watermark();
    // The followers are cut off: only the observer fetches the new records.
    for v in VOTERS {
        if v != leader {
            cluster.cut_link(leader, v);
        }
    }
    cluster.propose(leader, 2, "b");
    cluster.run_until(1_000 * NS_PER_MS, "the observer has them", |c| {
        c.observer.log().end_offset() == hw + 2
    });
    cluster.run_for(200 * NS_PER_MS);
    assert_eq!(cluster.voter(leader).high_watermark(), hw, "no majority");
    assert_eq!(cluster.observer.high_watermark(), hw);
    let l = cluster.voters.get_mut(&leader).expect("leader");
    assert!(l.is_leader());
    let epoch = l.epoch();
    // A fetch at the leader's end from an observer that knows an older high
    // watermark: answered at once (KIP-1166), and nothing moves.
    let response = observer_fetch(l, epoch, hw + 2, epoch, Some(hw - 1));
    assert_eq!(response, Some(success(epoch, leader, hw, Vec::new())));
    assert_eq!(l.high_watermark(), hw);
    // One that knows it: parked, and still nothing moves.
    assert_eq!(observer_fetch(l, epoch, hw + 2, epoch, Some(hw)), None);
    assert_eq!(l.high_watermark(), hw);
}

#[test]
fn observer_fetch_validates_like_a_voter_fetch() {
    // Voter 1 leads epoch 2 over entries of epochs 1, 1, 2 (the LeaderChange).
    let mut log = RaftLog::default();
    let mut file = Vec::new();
    for (i, epoch) in [1, 1].into_iter().enumerate() {
        file.extend(log.append(data(i as u64, epoch)).1);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut leader =
        RaftClient::recover(1, VOTERS.to_vec(), None, Some(&file)).with_config(RaftConfig {
            fetch_max_entries: 2,
            ..RaftConfig::default()
        });
    let mut out = Vec::new();
    leader.start(0, &mut rng, &mut out);
    leader.become_candidate(2, &mut rng, &mut out);
    let grant = RaftMessage::VoteResponse {
        epoch: 2,
        leader_id: None,
        vote_granted: true,
    };
    leader.on_message(0, &mut rng, 2, grant, &mut out);
    assert!(leader.is_leader());
    assert_eq!(leader.log().end_offset(), 3);
    // Voter 2 has the LeaderChange too: committed to 3.
    let tokens: Vec<u64> = out
        .iter()
        .filter_map(|o| match o.view() {
            View::Fsync { token } => Some(token),
            _ => None,
        })
        .collect();
    for token in tokens {
        leader.on_fsync(0, token, &mut Vec::new());
    }
    let voter_fetch = RaftMessage::FetchRequest {
        replica_id: 2,
        current_leader_epoch: 2,
        fetch_offset: 3,
        last_fetched_epoch: 2,
        high_watermark: Some(0),
    };
    leader.on_message(0, &mut rng, 2, voter_fetch, &mut Vec::new());
    assert_eq!(leader.high_watermark(), 3);
    // Errors carry the epoch and leader, and no high watermark.
    assert_eq!(
        observer_fetch(&mut leader, 1, 0, 0, None),
        Some(error_response(2, Some(1), RaftError::FencedLeaderEpoch))
    );
    assert_eq!(
        observer_fetch(&mut leader, 3, 0, 0, None),
        Some(error_response(2, Some(1), RaftError::UnknownLeaderEpoch))
    );
    // At most fetch_max_entries records, and the leader's high watermark.
    assert_eq!(
        observer_fetch(&mut leader, 2, 0, 0, None),
        Some(success(2, 1, 3, vec![data(0, 1), data(1, 1)]))
    );
    // An observer with an epoch-1 entry at offset 2 diverges at the end of epoch 1.
    let Some(RaftMessage::FetchResponse {
        error,
        diverging_epoch,
        records,
        ..
    }) = observer_fetch(&mut leader, 2, 3, 1, None)
    else {
        panic!("a fetch response");
    };
    assert_eq!(error, None);
    assert_eq!(
        diverging_epoch,
        Some(OffsetAndEpoch {
            offset: 2,
            epoch: 1
        })
    );
    assert!(records.is_empty());
    // The leader's tracking did not move: only a voter's fetch counts.
    let EpochState::Leader(state) = leader.state() else {
        panic!("leader");
    };
    assert_eq!(state.replica(2).last_fetch_ns, Some(0));
    assert_eq!(state.replica(3).last_fetch_ns, None);
    assert_eq!(state.replica(3).end_offset, 0);
    // A voter that is not the leader names the leader it knows.
    let follower_state = ElectionState {
        epoch: 2,
        voted_id: None,
        leader_id: Some(1),
    }
    .encode();
    let mut follower = RaftClient::recover(3, VOTERS.to_vec(), Some(&follower_state), None);
    assert_eq!(
        observer_fetch(&mut follower, 2, 0, 0, None),
        Some(error_response(2, Some(1), RaftError::NotLeaderOrFollower))
    );
}

#[test]
fn the_observer_follows_a_new_leader_after_a_failover() {
    let mut cluster = Cluster::new(4);
    cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
    let old = cluster.leader().expect("leader");
    cluster.propose(old, 4, "a");
    cluster.run_until(20_000 * NS_PER_MS, "catch-up", |c| {
        c.observer_caught_up_with(old)
    });
    let old_epoch = cluster.observer.epoch();
    cluster.isolate(old);
    cluster.run_until(20_000 * NS_PER_MS, "a new leader", |c| {
        c.leader().is_some_and(|l| l != old)
    });
    let new = cluster.leader().expect("leader");
    cluster.propose(new, 5, "b");
    cluster.run_until(20_000 * NS_PER_MS, "the observer follows", |c| {
        c.observer_caught_up_with(new)
    });
    let l = cluster.voter(new);
    assert!(l.epoch() > old_epoch);
    assert_eq!(cluster.observer.epoch(), l.epoch());
    assert_eq!(cluster.observer.leader_id(), Some(new));
    assert_eq!(entries(cluster.observer.log()), entries(l.log()));
    assert_eq!(cluster.observer.high_watermark(), l.log().end_offset());
}

#[test]
fn error_hints_lead_the_observer_to_the_leader() {
    let (mut observer, mut rng, first, _) = started_observer(5);
    let other = VOTERS.into_iter().find(|&v| v != first).expect("voter");
    let third = VOTERS
        .into_iter()
        .find(|&v| v != first && v != other)
        .expect("voter");
    // A newer epoch with its leader: fetch from that leader at once, in that epoch.
    let mut out = Vec::new();
    let fenced = error_response(4, Some(other), RaftError::FencedLeaderEpoch);
    observer.on_message(0, &mut rng, first, fenced, &mut out);
    assert_eq!((observer.epoch(), observer.leader_id()), (4, Some(other)));
    assert_eq!(sends(&out), vec![(other, fetch_request(4, 0, 0))]);
    assert!(timer(&out, RaftTimerKind::FetchTimeout).is_some());
    // That voter no longer leads and names a newer leader: follow at once.
    let mut out = Vec::new();
    let moved = error_response(4, Some(third), RaftError::NotLeaderOrFollower);
    observer.on_message(0, &mut rng, other, moved, &mut out);
    assert_eq!(sends(&out), vec![(third, fetch_request(4, 0, 0))]);
    assert_eq!(observer.leader_id(), Some(third));
    // It names itself but cannot serve (it resigned): back off, then another voter.
    let mut out = Vec::new();
    let resigned = error_response(4, Some(third), RaftError::NotLeaderOrFollower);
    observer.on_message(0, &mut rng, third, resigned, &mut out);
    assert!(sends(&out).is_empty());
    let retry = timer(&out, RaftTimerKind::FetchRetry).expect("backoff");
    assert!(matches!(
        out.last(),
        Some(o) if matches!(o.view(), View::SetTimer { at, .. } if at == 100 * NS_PER_MS)
    ));
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, retry, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].0, third);
    assert_eq!(sent[0].1, fetch_request(4, 0, 0));
    // A voter of an older epoch names an old leader: no hint from it.
    let mut out = Vec::new();
    let stale = error_response(3, Some(first), RaftError::UnknownLeaderEpoch);
    observer.on_message(0, &mut rng, sent[0].0, stale, &mut out);
    assert!(sends(&out).is_empty());
    assert!(timer(&out, RaftTimerKind::FetchRetry).is_some());
    assert_eq!((observer.epoch(), observer.leader_id()), (4, Some(third)));
}

#[test]
fn a_deposed_leaders_uncommitted_entry_is_truncated_via_diverging_epoch() {
    let mut cluster = Cluster::new(6);
    cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
    let old = cluster.leader().expect("leader");
    cluster.propose(old, 2, "a");
    cluster.run_until(20_000 * NS_PER_MS, "catch-up", |c| {
        c.observer_caught_up_with(old)
    });
    let committed_end = cluster.observer.log().end_offset();
    let old_epoch = cluster.voter(old).epoch();
    // The old leader loses its voters but not the observer, and appends one more.
    for v in VOTERS {
        if v != old {
            cluster.cut_link(old, v);
        }
    }
    cluster.propose(old, 1, "lost");
    cluster.run_until(1_000 * NS_PER_MS, "the observer has it", |c| {
        c.observer.log().end_offset() == committed_end + 1
    });
    let lost = cluster
        .observer
        .log()
        .entry(committed_end)
        .expect("entry")
        .clone();
    assert_eq!(lost.epoch, old_epoch);
    assert_eq!(cluster.observer.high_watermark(), committed_end);
    let truncates_before = cluster
        .observer_out
        .iter()
        .filter(|o| matches!(o.view(), View::Truncate { .. }))
        .count();
    cluster.run_until(20_000 * NS_PER_MS, "a new leader", |c| {
        c.leader().is_some_and(|l| l != old)
    });
    let new = cluster.leader().expect("leader");
    cluster.propose(new, 3, "b");
    cluster.run_until(20_000 * NS_PER_MS, "the observer follows", |c| {
        c.observer_caught_up_with(new)
    });
    let l = cluster.voter(new);
    assert_eq!(entries(cluster.observer.log()), entries(l.log()));
    assert!(!entries(cluster.observer.log()).contains(&lost));
    assert_eq!(cluster.observer.leader_id(), Some(new));
    let truncations: Vec<u64> = cluster
        .observer_out
        .iter()
        .filter_map(|o| match o.view() {
            View::Truncate { len, .. } => Some(len),
            _ => None,
        })
        .collect();
    assert_eq!(truncations.len(), truncates_before + 1, "{truncations:?}");
    // The cut left the committed prefix in the file, and what followed rebuilt the new log.
    let (recovered, valid) = RaftLog::recover(Some(&cluster.observer_file));
    assert_eq!(valid, cluster.observer_file.len() as u64);
    assert_eq!(entries(&recovered), entries(l.log()));
    // The high watermark never went back below what was committed.
    assert!(committed(&cluster.observer_out)
        .windows(2)
        .all(|w| w[0] < w[1]));
}

#[test]
fn recovery_rebuilds_the_log_and_cuts_a_torn_tail() {
    let mut cluster = Cluster::new(7);
    cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
    let leader = cluster.leader().expect("leader");
    cluster.propose(leader, 5, "a");
    cluster.run_until(20_000 * NS_PER_MS, "catch-up", |c| {
        c.observer_caught_up_with(leader)
    });
    let file = cluster.observer_file.clone();
    let want = entries(cluster.observer.log());
    assert_eq!(want.len(), 6);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    // Whole file: the same log, nothing to cut, the first fetch from its end.
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), Some(&file));
    assert_eq!(entries(observer.log()), want);
    assert_eq!(observer.high_watermark(), 0, "learnt again from the leader");
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    assert!(!out
        .iter()
        .any(|o| matches!(o.view(), View::Truncate { .. })));
    let epoch = want.last().expect("entries").epoch;
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert!(VOTERS.contains(&sent[0].0));
    assert_eq!(sent[0].1, fetch_request(epoch, 6, epoch));
    // A torn last frame: the log ends before it, and start cuts the file there.
    let mut torn = file.clone();
    torn.truncate(file.len() - 3);
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), Some(&torn));
    assert_eq!(entries(observer.log()), want[..5]);
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    let valid = observer.log().bytes_len();
    assert_eq!(out[0], RaftOutput::truncate(METADATA_LOG_FILE, valid));
    assert_eq!(sends(&out)[0].1, fetch_request(epoch, 5, epoch));
    let mut cut = torn.clone();
    apply_to_file(&mut cut, &out);
    assert_eq!(cut, file[..valid as usize]);
    // A corrupt byte in the third entry: everything from it on is cut.
    let mut corrupt = file.clone();
    let third = {
        let mut prefix = RaftLog::default();
        for e in &want[..2] {
            prefix.append(e.clone());
        }
        prefix.bytes_len()
    };
    corrupt[third as usize + 9] ^= 0x40;
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), Some(&corrupt));
    assert_eq!(entries(observer.log()), want[..2]);
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    assert_eq!(out[0], RaftOutput::truncate(METADATA_LOG_FILE, third));
    // An empty disk: nothing to cut.
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), None);
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    assert!(matches!(out[0].view(), View::Send { .. }));
}

#[test]
fn stale_timers_are_ignored() {
    let (mut observer, mut rng, first, out) = started_observer(9);
    let timeout1 = timer(&out, RaftTimerKind::FetchTimeout).expect("fetch timeout");
    // The fetch times out: another voter, drawn at random.
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, timeout1, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    let second = sent[0].0;
    assert_ne!(second, first);
    assert_eq!(observer.fetch_target(), Some(second));
    let timeout2 = timer(&out, RaftTimerKind::FetchTimeout).expect("re-armed");
    assert!(timeout2.generation > timeout1.generation);
    // The first timeout again: stale, though a fetch is in flight.
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, timeout1, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(observer.fetch_target(), Some(second));
    // The first voter answers late: not the target, ignored.
    let mut out = Vec::new();
    observer.on_message(
        0,
        &mut rng,
        first,
        success(1, first, 0, vec![data(0, 1)]),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(observer.log().end_offset(), 0);
    // An empty answer (the leader held the Fetch as long as it had nothing
    // to say): the next fetch goes at once, with no timer of its own.
    let mut out = Vec::new();
    observer.on_message(
        0,
        &mut rng,
        second,
        success(0, second, 0, Vec::new()),
        &mut out,
    );
    assert_eq!(sends(&out), vec![(second, fetch_request(0, 0, 0))]);
    assert_eq!(timer(&out, RaftTimerKind::FetchRetry), None);
    let timeout3 = timer(&out, RaftTimerKind::FetchTimeout).expect("re-armed");
    // An error: a retry, to another voter, after the backoff.
    let mut out = Vec::new();
    let error = error_response(0, None, RaftError::NotLeaderOrFollower);
    observer.on_message(0, &mut rng, second, error.clone(), &mut out);
    assert!(sends(&out).is_empty());
    let retry1 = timer(&out, RaftTimerKind::FetchRetry).expect("retry backoff");
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, retry1, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    let third = sent[0].0;
    assert_ne!(third, second, "another voter after an error");
    let timeout4 = timer(&out, RaftTimerKind::FetchTimeout).expect("re-armed");
    // It errs too: a new retry; the old one is stale, though a retry is pending.
    let mut out = Vec::new();
    observer.on_message(0, &mut rng, third, error, &mut out);
    let retry2 = timer(&out, RaftTimerKind::FetchRetry).expect("retry backoff");
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, retry1, &mut out);
    assert!(out.is_empty(), "{out:?}");
    // The old timeouts are stale too, and the current one finds nothing in flight.
    for stale in [timeout2, timeout3, timeout4] {
        observer.on_timer(0, &mut rng, stale, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    observer.on_timer(0, &mut rng, retry2, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].0, third, "another voter after an error");
}

#[test]
fn a_disconnect_retries_elsewhere_after_the_backoff() {
    let (mut observer, mut rng, first, _) = started_observer(10);
    let other = VOTERS.into_iter().find(|&v| v != first).expect("voter");
    let mut out = Vec::new();
    observer.on_disconnect(0, &mut rng, other, &mut out);
    assert!(out.is_empty(), "no fetch in flight to it");
    observer.on_disconnect(0, &mut rng, first, &mut out);
    assert!(sends(&out).is_empty());
    assert_eq!(observer.fetch_target(), None);
    let retry = timer(&out, RaftTimerKind::FetchRetry).expect("retry");
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0].view(), View::SetTimer { at, .. } if at == 100 * NS_PER_MS));
    // The answer to the lost fetch, if it came anyway, is ignored.
    let mut late = Vec::new();
    observer.on_message(
        0,
        &mut rng,
        first,
        success(0, first, 0, vec![data(0, 1)]),
        &mut late,
    );
    assert!(late.is_empty());
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, retry, &mut out);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].0, first);
}

#[test]
fn appends_write_without_fsync_and_answers_out_of_order_are_ignored() {
    let (mut observer, mut rng, first, _) = started_observer(11);
    // Records that do not start at the log end are no answer to this fetch.
    let mut out = Vec::new();
    observer.on_message(
        0,
        &mut rng,
        first,
        success(0, first, 1, vec![data(1, 1)]),
        &mut out,
    );
    assert!(out.is_empty());
    // A success of an epoch the fetch was not sent in: ignored as well.
    observer.on_message(
        0,
        &mut rng,
        first,
        success(2, first, 1, vec![data(0, 2)]),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(observer.fetch_target(), Some(first));
    // The real answer: written, not fsynced; the high watermark is capped at the log end.
    observer.on_message(
        0,
        &mut rng,
        first,
        success(0, first, 9, vec![data(0, 0), data(1, 0)]),
        &mut out,
    );
    assert!(!out.iter().any(|o| matches!(o.view(), View::Fsync { .. })));
    let writes = out
        .iter()
        .filter(|o| matches!(o.view(), View::Write { .. }))
        .count();
    assert_eq!(writes, 2);
    assert_eq!(committed(&out), vec![2]);
    assert_eq!(observer.high_watermark(), 2);
    assert_eq!(
        sends(&out),
        vec![(first, fetch_request_knowing(0, 2, 0, 2))]
    );
}

#[test]
fn a_divergence_below_what_the_leader_confirmed_is_stale() {
    let (mut observer, mut rng, first, _) = started_observer(12);
    let mut out = Vec::new();
    let hello = error_response(3, Some(first), RaftError::FencedLeaderEpoch);
    observer.on_message(0, &mut rng, first, hello, &mut out);
    let records = vec![data(0, 1), data(1, 2), data(2, 3)];
    observer.on_message(0, &mut rng, first, success(3, first, 1, records), &mut out);
    assert_eq!(observer.log().end_offset(), 3);
    assert_eq!(
        sends(&out).last(),
        Some(&(first, fetch_request_knowing(3, 3, 3, 1)))
    );
    // A late divergence (from before the leader confirmed offsets 0..3): ignored.
    let diverging = |offset, epoch| RaftMessage::FetchResponse {
        epoch: 3,
        leader_id: Some(first),
        error: None,
        high_watermark: 1,
        diverging_epoch: Some(OffsetAndEpoch { offset, epoch }),
        records: Vec::new(),
    };
    let mut out = Vec::new();
    observer.on_message(0, &mut rng, first, diverging(1, 1), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(observer.log().end_offset(), 3);
    // In a new epoch, the new leader's divergence is followed (down to the end of epoch 1).
    let mut out = Vec::new();
    let newer = error_response(4, Some(first), RaftError::FencedLeaderEpoch);
    observer.on_message(0, &mut rng, first, newer, &mut out);
    assert_eq!(
        sends(&out),
        vec![(first, fetch_request_knowing(4, 3, 3, 1))]
    );
    let mut out = Vec::new();
    let response = RaftMessage::FetchResponse {
        epoch: 4,
        leader_id: Some(first),
        error: None,
        high_watermark: 1,
        diverging_epoch: Some(OffsetAndEpoch {
            offset: 5,
            epoch: 1,
        }),
        records: Vec::new(),
    };
    observer.on_message(0, &mut rng, first, response, &mut out);
    let len = observer.log().bytes_len();
    assert_eq!(observer.log().end_offset(), 1);
    assert_eq!(out[0], RaftOutput::truncate(METADATA_LOG_FILE, len));
    assert_eq!(
        sends(&out),
        vec![(first, fetch_request_knowing(4, 1, 1, 1))]
    );
    assert_eq!(observer.high_watermark(), 1);
}

#[test]
fn any_message_sequence_is_survived_and_only_voters_are_sent_to() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut input = ChaCha8Rng::seed_from_u64(14);
    let mut observer = MetadataObserver::recover(OBSERVER, VOTERS.to_vec(), None);
    let mut out = Vec::new();
    observer.start(0, &mut rng, &mut out);
    let errors = [
        None,
        Some(RaftError::FencedLeaderEpoch),
        Some(RaftError::UnknownLeaderEpoch),
        Some(RaftError::NotLeaderOrFollower),
    ];
    let kinds = [RaftTimerKind::FetchTimeout, RaftTimerKind::FetchRetry];
    let mut taken = 0;
    for _ in 0..20_000 {
        let seen = out.len();
        let from = input.random_range(0..6u32);
        let end = observer.log().end_offset();
        let epoch = (observer.epoch() + input.random_range(0..3u32)).saturating_sub(1);
        match input.random_range(0..10u32) {
            0 => {
                // A current or a stale timer.
                let kind = kinds[input.random_range(0..2usize)];
                let mut timer = timer(&out, kind).unwrap_or(RaftTimer {
                    kind,
                    generation: 0,
                });
                timer.generation = timer.generation.saturating_sub(input.random_range(0..2u64));
                observer.on_timer(0, &mut rng, timer, &mut out);
            }
            1 => observer.on_disconnect(0, &mut rng, from, &mut out),
            2 => {
                let msg = RaftMessage::BeginQuorumEpoch {
                    leader_epoch: epoch,
                    leader_id: from,
                };
                observer.on_message(0, &mut rng, from, msg, &mut out);
            }
            _ => {
                let start = end.saturating_sub(input.random_range(0..3u64));
                let records = (0..input.random_range(0..4u64))
                    .map(|i| data(start + i, epoch.saturating_sub(input.random_range(0..2u32))))
                    .collect();
                let diverging_epoch = (input.random_range(0..5u32) == 0).then(|| OffsetAndEpoch {
                    offset: input.random_range(0..end + 2),
                    epoch: input.random_range(0..epoch + 2),
                });
                let msg = RaftMessage::FetchResponse {
                    epoch,
                    leader_id: Some(input.random_range(0..6u32)),
                    error: errors[input.random_range(0..4usize)],
                    high_watermark: input.random_range(0..end + 3),
                    diverging_epoch,
                    records,
                };
                observer.on_message(0, &mut rng, from, msg, &mut out);
            }
        }
        assert!(observer.high_watermark() <= observer.log().end_offset());
        taken = taken.max(observer.log().end_offset());
        if out.len() == seen && observer.fetch_target().is_none() {
            // Idle: wake it with its newest timers, as the caller would.
            for kind in kinds {
                if let Some(timer) = timer(&out, kind) {
                    observer.on_timer(0, &mut rng, timer, &mut out);
                }
            }
        }
    }
    for (to, msg) in sends(&out) {
        assert!(VOTERS.contains(&to));
        assert!(matches!(
            msg,
            RaftMessage::FetchRequest {
                replica_id: OBSERVER,
                ..
            }
        ));
    }
    assert!(taken > 3, "some fuzzed records were taken: {taken}");
    let mut file = Vec::new();
    apply_to_file(&mut file, &out);
    let (recovered, _) = RaftLog::recover(Some(&file));
    assert_eq!(entries(&recovered), entries(observer.log()));
}

#[test]
fn runs_are_deterministic() {
    let run = |seed| {
        let mut cluster = Cluster::new(seed);
        cluster.run_until(20_000 * NS_PER_MS, "a leader", |c| c.leader().is_some());
        let leader = cluster.leader().expect("leader");
        cluster.isolate(leader);
        cluster.run_for(10_000 * NS_PER_MS);
        cluster.observer_out
    };
    assert_eq!(run(15), run(15));
}

#[test]
fn a_leader_of_an_older_epoch_is_taken_while_the_newer_one_has_none() {
    let (mut observer, mut rng, first, _) = started_observer(16);
    let other = VOTERS.into_iter().find(|&v| v != first).expect("voter");
    // A cut-off candidate of epoch 7: the observer hears of an epoch with no leader.
    let mut out = Vec::new();
    let candidate = error_response(7, None, RaftError::FencedLeaderEpoch);
    observer.on_message(0, &mut rng, first, candidate, &mut out);
    assert_eq!((observer.epoch(), observer.leader_id()), (7, None));
    let retry = timer(&out, RaftTimerKind::FetchRetry).expect("backoff");
    let mut out = Vec::new();
    observer.on_timer(0, &mut rng, retry, &mut out);
    let to = sends(&out)[0].0;
    assert_ne!(to, first);
    // The quorum's leader of epoch 5 refuses epoch 7 but names itself: fetch from it, in 5.
    let mut out = Vec::new();
    let leader = error_response(5, Some(to), RaftError::UnknownLeaderEpoch);
    observer.on_message(0, &mut rng, to, leader, &mut out);
    assert_eq!((observer.epoch(), observer.leader_id()), (5, Some(to)));
    assert_eq!(sends(&out), vec![(to, fetch_request(5, 0, 0))]);
    let mut out = Vec::new();
    observer.on_message(
        0,
        &mut rng,
        to,
        success(5, to, 1, vec![data(0, 5)]),
        &mut out,
    );
    assert_eq!(observer.log().end_offset(), 1);
    assert_eq!(observer.high_watermark(), 1);
    // Knowing a leader, an older epoch's self-named leader is no hint.
    let mut out = Vec::new();
    let newer = error_response(6, Some(other), RaftError::FencedLeaderEpoch);
    observer.on_message(0, &mut rng, to, newer, &mut out);
    assert_eq!(
        sends(&out),
        vec![(other, fetch_request_knowing(6, 1, 5, 1))]
    );
    let mut out = Vec::new();
    let older = error_response(5, Some(other), RaftError::UnknownLeaderEpoch);
    observer.on_message(0, &mut rng, other, older, &mut out);
    assert!(sends(&out).is_empty());
    assert_eq!((observer.epoch(), observer.leader_id()), (6, Some(other)));
}
