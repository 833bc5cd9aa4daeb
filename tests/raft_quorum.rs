//! The KRaft quorum under crashes, power losses and partitions: a small
//! `sim::Node` around `RaftClient`, three checkers over the observed
//! history, a progress check, and proof that each mutation is caught.

use std::sync::Arc;

use ksim::check::quorum;
use ksim::controller::node::{ControllerSpec, QuorumObs};
use ksim::controller::raft::{LogEntry, RaftMutations, Record};
use ksim::harness::address_book::AddressBook;
use ksim::harness::node::ClusterNode;
use ksim::node::{controller_id, Address, NodeSpec, Observation};
use rand::Rng;
use sim::{Fault, Nanos, NodeId, Partition, Sim, SimConfig, MILLIS, SECONDS};

const PROPOSE_EVERY_NS: Nanos = 100 * MILLIS;
const FAULTS_UNTIL_NS: Nanos = 20 * SECONDS;
const SETTLE_AT_NS: Nanos = 25 * SECONDS;
const END_NS: Nanos = 40 * SECONDS;

fn name(node: NodeId) -> String {
    format!("controller-{}", node.0 + 1)
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
    run_with(seed, voters, mutations, false)
}

/// A run whose voters ask for pre-votes (KIP-996) when `pre_vote`.
fn run_with(seed: u64, voters: u32, mutations: RaftMutations, pre_vote: bool) -> Outcome {
    let ids: Vec<u32> = (1..=voters).map(controller_id).collect();
    let book = Arc::new(AddressBook::new(ids.iter().map(|&id| Address::Node(id))));
    let mut sim = Sim::new(seed, SimConfig::default());
    for (i, &id) in ids.iter().enumerate() {
        let mut controller = ControllerSpec::new(id, ids.clone());
        controller.config.raft.pre_vote = pre_vote;
        let spec = NodeSpec::Controller(ControllerSpec {
            mutations,
            noop_interval_ns: PROPOSE_EVERY_NS,
            ..controller
        });
        let book = Arc::clone(&book);
        sim.add_node(format!("controller-{}", i + 1), move |ctx| {
            ClusterNode::boot(ctx, &spec, Arc::clone(&book))
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
    let history: Vec<quorum::Seen<'_>> = sim
        .history()
        .iter()
        .filter_map(|o| match &o.obs {
            Observation::Quorum(obs) => Some((o.at, o.node, obs)),
            _ => None,
        })
        .collect();
    let violations = quorum::check(&history, &name)
        .into_iter()
        .map(|v| format!("{}: {}", v.invariant, v.detail))
        .collect();
    Outcome {
        violations,
        hw_at_settle,
        hw_at_end: max_high_watermark(&sim),
        leader_at_end,
        trace_hash: sim.trace_hash(),
    }
}

/// The node whose client leads now, if any (the first found).
fn leader_of(sim: &Sim<ClusterNode>) -> Option<NodeId> {
    (0..sim.node_count() as u32).map(NodeId).find(|&n| {
        sim.node(n)
            .and_then(ClusterNode::controller)
            .is_some_and(|c| c.client().is_leader())
    })
}

fn max_high_watermark(sim: &Sim<ClusterNode>) -> u64 {
    sim.history()
        .iter()
        .filter_map(|o| match o.obs {
            Observation::Quorum(QuorumObs::HighWatermark(hw)) => Some(hw),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn assert_safe_and_live(voters: u32, seeds: std::ops::Range<u64>, pre_vote: bool) {
    for seed in seeds {
        let outcome = run_with(seed, voters, RaftMutations::default(), pre_vote);
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
    assert_safe_and_live(3, 0..50, false);
}

#[test]
fn five_voters_stay_safe_and_make_progress_under_faults() {
    assert_safe_and_live(5, 0..50, false);
}

#[test]
fn three_voters_with_pre_vote_stay_safe_and_make_progress_under_faults() {
    assert_safe_and_live(3, 0..50, true);
}

#[test]
fn five_voters_with_pre_vote_stay_safe_and_make_progress_under_faults() {
    assert_safe_and_live(5, 0..50, true);
}

#[test]
fn each_checker_fires_on_a_hand_made_history() {
    let entry = |epoch: u32, payload: &[u8]| {
        QuorumObs::CommittedEntry(LogEntry {
            offset: 0,
            epoch,
            record: Record::Data(payload.to_vec()),
        })
    };
    let (a, b) = (NodeId(0), NodeId(1));
    let observed = [
        (a, QuorumObs::BecameLeader { epoch: 2 }),
        (b, QuorumObs::BecameLeader { epoch: 2 }),
        (a, entry(2, b"x")),
        (b, entry(3, b"y")),
        (a, QuorumObs::HighWatermark(5)),
        (a, QuorumObs::HighWatermark(4)),
        (b, QuorumObs::HighWatermark(5)),
        (b, QuorumObs::Booted),
        (b, QuorumObs::HighWatermark(1)),
        (a, QuorumObs::Transition { epoch: 3 }),
        (a, QuorumObs::Transition { epoch: 2 }),
    ];
    let history: Vec<quorum::Seen<'_>> = observed
        .iter()
        .enumerate()
        .map(|(i, (node, obs))| (i as u64 * MILLIS, *node, obs))
        .collect();
    let found: Vec<String> = quorum::check(&history, &name)
        .into_iter()
        .map(|v| format!("{} at {}ms: {}", v.invariant, v.at_ms, v.detail))
        .collect();
    assert_eq!(
        found,
        vec![
            "single_leader_per_epoch at 1ms: epoch 2 has two leaders: controller-1 and controller-2",
            "raft_log_consistent at 3ms: committed offset 0 differs: epoch 2 on controller-1 but epoch 3 on controller-2",
            "monotonic_high_watermark at 5ms: controller-1 high watermark went back from 5 to 4",
            "monotonic_raft_epoch at 10ms: controller-1 epoch went back from 3 to 2",
        ],
        "a reboot starts the high watermark over, so controller-2 is fine"
    );
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
