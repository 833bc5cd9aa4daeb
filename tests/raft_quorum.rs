//! The KRaft quorum under crashes, power losses and partitions: a small
//! `sim::Node` around `RaftClient`, three checkers over the observed
//! history, a progress check, and proof that each mutation is caught.

use std::collections::BTreeMap;

use ksim::controller::raft::{
    LogEntry, RaftClient, RaftMessage, RaftMutations, RaftOutput, RaftTimer, Record,
    METADATA_LOG_FILE, QUORUM_STATE_FILE,
};
use rand::Rng;
use sim::{Ctx, Fault, Nanos, Node, NodeId, Partition, Sim, SimConfig, MILLIS, SECONDS};

const PROPOSE_EVERY_NS: Nanos = 100 * MILLIS;
const FAULTS_UNTIL_NS: Nanos = 20 * SECONDS;
const SETTLE_AT_NS: Nanos = 25 * SECONDS;
const END_NS: Nanos = 40 * SECONDS;

#[derive(Clone, Debug, Hash)]
enum Timer {
    Raft(RaftTimer),
    Propose,
}

#[derive(Clone, Debug)]
enum Obs {
    Booted,
    Transition { epoch: u32 },
    BecameLeader { epoch: u32 },
    HighWatermark(u64),
    CommittedEntry(LogEntry),
}

/// A controller process: a `RaftClient` whose outputs become kernel calls.
struct Controller {
    id: u32,
    voters: Vec<u32>,
    mutations: RaftMutations,
    client: Option<RaftClient>,
    /// Committed entries below this were observed in this incarnation.
    observed_upto: u64,
    proposals: u64,
}

fn node_of(controller_id: u32) -> NodeId {
    NodeId(controller_id - 1)
}

impl Controller {
    fn client(&mut self) -> &mut RaftClient {
        self.client.as_mut().expect("started")
    }

    fn apply(&mut self, ctx: &mut Ctx<'_, Self>, out: Vec<RaftOutput>) {
        for output in out {
            match output {
                RaftOutput::Send { to, msg } => ctx.send(node_of(to), msg),
                RaftOutput::SetTimer { after_ns, timer } => {
                    ctx.set_timer(after_ns, Timer::Raft(timer));
                }
                RaftOutput::Write {
                    file,
                    offset,
                    bytes,
                } => ctx.disk_mut().write(file, offset, &bytes),
                RaftOutput::Truncate { file, len } => ctx.disk_mut().truncate(file, len),
                RaftOutput::Fsync { file, token } => ctx.fsync(file, token),
                RaftOutput::Committed { upto_offset } => {
                    ctx.observe(Obs::HighWatermark(upto_offset));
                    let client = self.client.as_ref().expect("started");
                    for offset in self.observed_upto..upto_offset {
                        let entry = client.log().entry(offset).expect("committed is in the log");
                        ctx.observe(Obs::CommittedEntry(entry.clone()));
                    }
                    self.observed_upto = self.observed_upto.max(upto_offset);
                }
                RaftOutput::Transition { epoch, .. } => ctx.observe(Obs::Transition { epoch }),
                RaftOutput::BecameLeader { epoch } => ctx.observe(Obs::BecameLeader { epoch }),
            }
        }
    }
}

impl Node for Controller {
    type Msg = RaftMessage;
    type Timer = Timer;
    type Obs = Obs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.observe(Obs::Booted);
        let disk = ctx.disk();
        let client = RaftClient::recover(
            self.id,
            self.voters.clone(),
            disk.read(QUORUM_STATE_FILE),
            disk.read(METADATA_LOG_FILE),
        )
        .with_mutations(self.mutations);
        self.client = Some(client);
        let mut out = Vec::new();
        self.client().start(ctx.rng(), &mut out);
        self.apply(ctx, out);
        ctx.set_timer(PROPOSE_EVERY_NS, Timer::Propose);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: RaftMessage) {
        let mut out = Vec::new();
        let now = ctx.now();
        let client = self.client.as_mut().expect("started");
        client.on_message(now, ctx.rng(), from.0 + 1, msg, &mut out);
        self.apply(ctx, out);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Timer) {
        let mut out = Vec::new();
        let now = ctx.now();
        match timer {
            Timer::Raft(timer) => {
                let client = self.client.as_mut().expect("started");
                client.on_timer(now, ctx.rng(), timer, &mut out);
            }
            Timer::Propose => {
                self.proposals += 1;
                let payload = format!("{}:{}", self.id, self.proposals).into_bytes();
                self.client().propose(payload, &mut out);
                ctx.set_timer(PROPOSE_EVERY_NS, Timer::Propose);
            }
        }
        self.apply(ctx, out);
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let mut out = Vec::new();
        self.client().on_disconnect(peer.0 + 1, &mut out);
        self.apply(ctx, out);
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        let mut out = Vec::new();
        self.client().on_fsync(token, &mut out);
        self.apply(ctx, out);
    }
}

/// What one run found.
struct Outcome {
    violations: Vec<String>,
    /// The highest high watermark seen when faults healed, and at the end.
    hw_at_settle: u64,
    hw_at_end: u64,
    leader_at_end: bool,
    trace_hash: String,
}

fn run(seed: u64, voters: u32, mutations: RaftMutations) -> Outcome {
    let ids: Vec<u32> = (1..=voters).collect();
    let mut sim = Sim::new(seed, SimConfig::default());
    for &id in &ids {
        let voters = ids.clone();
        sim.add_node(format!("controller-{id}"), move |_| Controller {
            id,
            voters: voters.clone(),
            mutations,
            client: None,
            observed_upto: 0,
            proposals: 0,
        });
    }
    sim.start();
    let mut rng = sim.streams().stream("faults");
    let mut now = 0;
    loop {
        now += rng.random_range(500 * MILLIS..=2500 * MILLIS);
        if now >= FAULTS_UNTIL_NS {
            break;
        }
        sim.run_until(now);
        let node = NodeId(rng.random_range(0..voters));
        match rng.random_range(0..6) {
            5 => {
                // fsync 50x slower: more is in flight when power fails.
                sim.apply(Fault::SlowDisk { node, factor: 50 });
                let back = now + rng.random_range(SECONDS..=4 * SECONDS);
                sim.schedule(back, Fault::SlowDisk { node, factor: 1 });
            }
            0 => {
                sim.apply(Fault::Crash(node));
                let back = now + rng.random_range(300 * MILLIS..=3 * SECONDS);
                sim.schedule(back, Fault::Restart(node));
            }
            1 => {
                let torn = rng.random_bool(0.5);
                sim.apply(Fault::PowerLoss { node, torn });
                let back = now + rng.random_range(300 * MILLIS..=3 * SECONDS);
                sim.schedule(back, Fault::Restart(node));
            }
            kind => {
                let target = leader_of(&sim).unwrap_or(node);
                if kind == 2 {
                    // A zombie leader: frozen, then back with stale state.
                    sim.apply(Fault::Pause(target));
                    let back = now + rng.random_range(SECONDS..=4 * SECONDS);
                    sim.schedule(back, Fault::Resume(target));
                } else {
                    sim.apply(Fault::Partition(Partition::Isolate(target)));
                    let heal = now + rng.random_range(SECONDS..=4 * SECONDS);
                    sim.schedule(heal, Fault::Heal);
                }
            }
        }
    }
    sim.run_until(SETTLE_AT_NS);
    sim.apply(Fault::Heal);
    for n in (0..voters).map(NodeId) {
        if sim.is_paused(n) {
            sim.apply(Fault::Resume(n));
        }
        if !sim.is_up(n) {
            sim.apply(Fault::Restart(n));
        }
    }
    let hw_at_settle = max_high_watermark(&sim);
    sim.run_until(END_NS);
    let leader_at_end = leader_of(&sim).is_some();
    let history: Vec<(NodeId, Obs)> = sim
        .history()
        .iter()
        .map(|o| (o.node, o.obs.clone()))
        .collect();
    let mut violations = single_leader_per_epoch(&history);
    violations.extend(raft_log_consistent(&history));
    violations.extend(monotonic_high_watermark(&history));
    violations.extend(monotonic_epoch(&history));
    Outcome {
        violations,
        hw_at_settle,
        hw_at_end: max_high_watermark(&sim),
        leader_at_end,
        trace_hash: sim.trace_hash(),
    }
}

/// The node whose client leads now, if any (the first found).
fn leader_of(sim: &Sim<Controller>) -> Option<NodeId> {
    (0..sim.node_count() as u32).map(NodeId).find(|&n| {
        sim.node(n)
            .and_then(|c| c.client.as_ref())
            .is_some_and(RaftClient::is_leader)
    })
}

fn max_high_watermark(sim: &Sim<Controller>) -> u64 {
    sim.history()
        .iter()
        .filter_map(|o| match o.obs {
            Obs::HighWatermark(hw) => Some(hw),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// At most one voter becomes leader of each epoch.
fn single_leader_per_epoch(history: &[(NodeId, Obs)]) -> Vec<String> {
    let mut leaders: BTreeMap<u32, NodeId> = BTreeMap::new();
    let mut violations = Vec::new();
    for (node, obs) in history {
        if let Obs::BecameLeader { epoch } = obs {
            let first = *leaders.entry(*epoch).or_insert(*node);
            if first != *node {
                violations.push(format!(
                    "single_leader_per_epoch: epoch {epoch} led by {first:?} and {node:?}"
                ));
            }
        }
    }
    violations
}

/// Every voter commits the same entry at each offset.
fn raft_log_consistent(history: &[(NodeId, Obs)]) -> Vec<String> {
    let mut committed: BTreeMap<u64, (NodeId, &LogEntry)> = BTreeMap::new();
    let mut violations = Vec::new();
    for (node, obs) in history {
        if let Obs::CommittedEntry(entry) = obs {
            let (first_node, first) = *committed.entry(entry.offset).or_insert((*node, entry));
            if first != entry {
                violations.push(format!(
                    "raft_log_consistent: offset {} is {first:?} on {first_node:?} but {entry:?} on {node:?}",
                    entry.offset
                ));
            }
        }
    }
    violations
}

/// Per voter and incarnation, a value never decreases.
fn monotonic_per_incarnation(
    history: &[(NodeId, Obs)],
    name: &str,
    value: impl Fn(&Obs) -> Option<u64>,
) -> Vec<String> {
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut violations = Vec::new();
    for (node, obs) in history {
        if let Obs::Booted = obs {
            last.remove(node);
        } else if let Some(v) = value(obs) {
            let prev = last.insert(*node, v).unwrap_or(0);
            if v < prev {
                violations.push(format!("{name}: {node:?} went from {prev} to {v}"));
            }
        }
    }
    violations
}

fn monotonic_high_watermark(history: &[(NodeId, Obs)]) -> Vec<String> {
    monotonic_per_incarnation(history, "monotonic_high_watermark", |o| match o {
        Obs::HighWatermark(hw) => Some(*hw),
        _ => None,
    })
}

fn monotonic_epoch(history: &[(NodeId, Obs)]) -> Vec<String> {
    monotonic_per_incarnation(history, "monotonic_epoch", |o| match o {
        Obs::Transition { epoch } => Some(u64::from(*epoch)),
        _ => None,
    })
}

fn assert_safe_and_live(voters: u32, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let outcome = run(seed, voters, RaftMutations::default());
        assert!(
            outcome.violations.is_empty(),
            "seed {seed}, {voters} voters: {:?}",
            outcome.violations
        );
        assert!(
            outcome.leader_at_end,
            "seed {seed}, {voters} voters: no leader after healing"
        );
        // 15 s of healed cluster at one proposal per 100 ms: well over 50 commits.
        assert!(
            outcome.hw_at_end >= outcome.hw_at_settle + 50,
            "seed {seed}, {voters} voters: too little committed after healing ({} -> {})",
            outcome.hw_at_settle,
            outcome.hw_at_end
        );
    }
}

#[test]
fn three_voters_stay_safe_and_make_progress_under_faults() {
    assert_safe_and_live(3, 0..50);
}

#[test]
fn five_voters_stay_safe_and_make_progress_under_faults() {
    assert_safe_and_live(5, 0..50);
}

#[test]
fn each_checker_fires_on_a_hand_made_history() {
    let entry = |epoch: u32, payload: &[u8]| {
        Obs::CommittedEntry(LogEntry {
            offset: 0,
            epoch,
            record: Record::Data(payload.to_vec()),
        })
    };
    let (a, b) = (NodeId(0), NodeId(1));
    let history = vec![
        (a, Obs::BecameLeader { epoch: 2 }),
        (b, Obs::BecameLeader { epoch: 2 }),
        (a, entry(2, b"x")),
        (b, entry(2, b"y")),
        (a, Obs::HighWatermark(5)),
        (a, Obs::HighWatermark(4)),
        (b, Obs::HighWatermark(5)),
        (b, Obs::Booted),
        (b, Obs::HighWatermark(1)),
        (a, Obs::Transition { epoch: 3 }),
        (a, Obs::Transition { epoch: 2 }),
    ];
    assert_eq!(single_leader_per_epoch(&history).len(), 1);
    assert_eq!(raft_log_consistent(&history).len(), 1);
    assert_eq!(
        monotonic_high_watermark(&history),
        vec!["monotonic_high_watermark: NodeId(0) went from 5 to 4".to_owned()],
        "a reboot starts the high watermark over"
    );
    assert_eq!(monotonic_epoch(&history).len(), 1);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    for seed in [3, 17] {
        let first = run(seed, 3, RaftMutations::default());
        let second = run(seed, 3, RaftMutations::default());
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.hw_at_end, second.hw_at_end, "seed {seed}");
    }
    assert_ne!(
        run(1, 3, RaftMutations::default()).trace_hash,
        run(2, 3, RaftMutations::default()).trace_hash
    );
}

/// The first seed below `budget` on which a checker fires, and what it said.
fn first_detection(mutations: RaftMutations, budget: u64) -> Option<(u64, String)> {
    (0..budget).find_map(|seed| {
        let outcome = run(seed, 3, mutations);
        outcome.violations.first().map(|v| (seed, v.clone()))
    })
}

#[test]
fn vote_without_log_check_is_caught() {
    let mutations = RaftMutations {
        vote_without_log_check: true,
        ..RaftMutations::default()
    };
    let found = first_detection(mutations, 300);
    eprintln!("vote_without_log_check: {found:?}");
    assert!(found.is_some(), "no checker fired in 300 seeds");
}

#[test]
fn commit_on_minority_is_caught() {
    let mutations = RaftMutations {
        commit_on_minority: true,
        ..RaftMutations::default()
    };
    let found = first_detection(mutations, 300);
    eprintln!("commit_on_minority: {found:?}");
    assert!(found.is_some(), "no checker fired in 300 seeds");
}
