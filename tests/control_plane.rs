//! The KRaft control plane in scenario runs: what controller_partition and
//! broker_fencing promise, seed by seed, beyond the invariants.

use ksim::controller::active::ControlEvent;
use ksim::controller::node::QuorumObs;
use ksim::harness::{run, Outcome, RunOptions};
use sim::SECONDS;

fn outcome(file: &str, seed: u64) -> Outcome {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let s = ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    run(&s, seed, &RunOptions::default()).expect("runs")
}

/// High watermarks a controller reported in [from, to).
fn high_watermarks(out: &Outcome, node: &str, from: u64, to: u64) -> Vec<u64> {
    out.quorum_history
        .iter()
        .filter(|(at, n, _)| n == node && (from..to).contains(at))
        .filter_map(|(_, _, obs)| match obs {
            QuorumObs::HighWatermark(hw) => Some(*hw),
            _ => None,
        })
        .collect()
}

#[test]
fn an_isolated_active_controller_commits_nothing_and_the_majority_elects_anew() {
    for seed in 0..10 {
        let out = outcome("controller_partition.toml", seed);
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
        let cut = out
            .faults
            .iter()
            .find(|f| f.kind == "partition")
            .expect("the active controller was cut off");
        assert_eq!(cut.at_ns, 10 * SECONDS);
        let old = cut.target.clone();
        assert!(old.starts_with("controller-"), "seed {seed}: {old}");
        let heal = 25 * SECONDS;
        // The old leader's epoch when it was cut off.
        let old_epoch = out
            .quorum_history
            .iter()
            .filter(|(at, n, _)| *at < cut.at_ns && *n == old)
            .filter_map(|(_, _, obs)| match obs {
                QuorumObs::BecameLeader { epoch } => Some(*epoch),
                _ => None,
            })
            .next_back()
            .expect("it led before the cut");
        // Alone, it never advances its high watermark.
        assert_eq!(
            high_watermarks(&out, &old, cut.at_ns, heal),
            Vec::<u64>::new(),
            "seed {seed}: the minority side committed"
        );
        // The majority elects a leader in a higher epoch and commits on.
        let elected = out
            .quorum_history
            .iter()
            .find_map(|(at, n, obs)| match obs {
                QuorumObs::BecameLeader { epoch }
                    if (cut.at_ns..heal).contains(at) && *n != old && *epoch > old_epoch =>
                {
                    Some(n.clone())
                }
                _ => None,
            });
        let new = elected.unwrap_or_else(|| panic!("seed {seed}: no new leader while cut off"));
        assert!(
            !high_watermarks(&out, &new, cut.at_ns, heal).is_empty(),
            "seed {seed}: the new leader {new} committed nothing"
        );
        // At the end one leader leads, and every controller has its epoch.
        let leaders: Vec<_> = out.quorum.iter().filter(|c| c.state == "Leader").collect();
        assert_eq!(leaders.len(), 1, "seed {seed}: {:?}", out.quorum);
        assert!(out.quorum.iter().all(|c| c.epoch == leaders[0].epoch));
    }
}

#[test]
fn a_broker_cut_off_is_fenced_its_partitions_move_and_it_returns() {
    for seed in 0..10 {
        let out = outcome("broker_fencing.toml", seed);
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}",
            out.violations
        );
        let at = |e: &ControlEvent| {
            out.control_events
                .iter()
                .find(|(_, x)| x == e)
                .map(|(t, _)| *t)
        };
        let fenced = at(&ControlEvent::Fenced { broker: 1 })
            .unwrap_or_else(|| panic!("seed {seed}: broker 1 never fenced"));
        // Cut at 10 s: fenced once broker.session.timeout.ms (9 s) passed
        // since its last heartbeat (sent every 2 s).
        assert!(
            (17 * SECONDS..=20 * SECONDS).contains(&fenced),
            "seed {seed}: fenced at {fenced}"
        );
        // Every partition it led got a new leader in a higher leader epoch.
        let mut led_before = std::collections::BTreeMap::new();
        let mut moved = std::collections::BTreeSet::new();
        for (t, _, obs) in &out.quorum_history {
            if let QuorumObs::Leader(l) = obs {
                if *t < fenced {
                    if l.leader == Some(1) {
                        led_before.insert(l.partition.clone(), l.leader_epoch);
                    } else {
                        led_before.remove(&l.partition);
                    }
                } else if *t < 30 * SECONDS {
                    let before = led_before.get(&l.partition);
                    if before.is_some_and(|&e| l.leader_epoch > e && l.leader != Some(1)) {
                        moved.insert(l.partition.clone());
                    }
                }
            }
        }
        assert!(!led_before.is_empty(), "seed {seed}: broker 1 led nothing");
        assert_eq!(
            moved,
            led_before.keys().cloned().collect(),
            "seed {seed}: partitions of the fenced broker did not all move"
        );
        // Healed at 30 s: it heartbeats again and is unfenced.
        let unfenced = out
            .control_events
            .iter()
            .find(|(t, e)| *t > fenced && *e == ControlEvent::Unfenced { broker: 1 })
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("seed {seed}: broker 1 never unfenced"));
        assert!(
            unfenced >= 30 * SECONDS,
            "seed {seed}: unfenced at {unfenced}"
        );
        let image = out.metadata.as_ref().expect("metadata");
        assert!(image.is_unfenced(1), "seed {seed}");
    }
}

/// `controller.quorum.fetch.timeout.ms` is simulated: the voters of a
/// crashed leader start an election only after it, so a longer timeout
/// leaves the quorum leaderless for longer.
#[test]
fn the_quorum_fetch_timeout_decides_when_a_crashed_leader_is_replaced() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/controller_failover.toml"
    );
    let text = std::fs::read_to_string(path).expect("scenario");
    let leaderless_ns = |timeout_ms: Option<u32>| {
        let text = match timeout_ms {
            Some(ms) => text.replacen(
                "controllers = 3\n",
                &format!("controllers = 3\nconfig = {{ \"controller.quorum.fetch.timeout.ms\" = {ms} }}\n"),
                1,
            ),
            None => text.clone(),
        };
        let s = ksim::scenario::parse(&text, "controller_failover.toml").expect("parses");
        let out = run(&s, 1, &RunOptions::default()).expect("runs");
        // The first crash of the active controller is at 5 s.
        out.quorum_history
            .iter()
            .find(|(at, _, o)| *at >= 5 * SECONDS && matches!(o, QuorumObs::BecameLeader { .. }))
            .map(|(at, _, _)| at - 5 * SECONDS)
            .expect("a new leader")
    };
    let default = leaderless_ns(None);
    let long = leaderless_ns(Some(3500));
    // A voter's timer runs from its last fetch answer, a little before
    // the crash: the gap is the timeout less that.
    assert!(
        default >= SECONDS * 3 / 2,
        "about the default 2 s: {default}"
    );
    assert!(long >= 3 * SECONDS, "about 3.5 s: {long}");
    assert!(long - default >= SECONDS, "{long} vs {default}");
}
