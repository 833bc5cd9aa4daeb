//! `ksim shrink`: each must-fail scenario of the data path (their failures
//! drawn by a swarm or scripted on roles such as `leader(orders-0)`) shrinks
//! to a plain scenario of at most 4 scripted faults on named nodes, and the
//! file written fails the same invariant at the same seed.

use std::path::Path;

mod common;

use ksim::harness::{run, RunOptions};
use ksim::shrink::shrink;

fn load(file: &str) -> ksim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    ksim::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The first seed at which `scenario` violates an invariant.
fn first_failing_seed(scenario: &ksim::scenario::Scenario, options: &RunOptions) -> u64 {
    (0..60)
        .find(|&seed| {
            !run(scenario, seed, options)
                .expect("runs")
                .violations
                .is_empty()
        })
        .expect("a must-fail scenario fails within 60 seeds")
}

/// Shrinks `file` at its first failing seed and checks the result as the issue asks.
fn shrinks_to_a_plain_failing_scenario(file: &str) {
    shrinks_seed_to_a_plain_failing_scenario(file, None);
}

/// Shrinks `file` at `seed` (else its first failing seed) and checks the
/// result as the issue asks.
fn shrinks_seed_to_a_plain_failing_scenario(file: &str, seed: Option<u64>) {
    let scenario = load(file);
    let options = RunOptions::default();
    let seed = seed.unwrap_or_else(|| first_failing_seed(&scenario, &options));
    let shrunk = shrink(&scenario, seed, None, &options, 1, &mut |_| {})
        .unwrap_or_else(|e| panic!("{file} seed {seed}: {e}"));
    assert!(
        shrunk.after.faults <= 4,
        "{file}: {} faults",
        shrunk.after.faults
    );
    assert!(!shrunk.after.swarm && shrunk.scenario.swarm.is_none());
    assert!(shrunk.after.duration_ns <= shrunk.before.duration_ns);
    // Written out and read back, it is the same scenario, and it fails the
    // same invariant with no fault drawn at run time.
    let text = shrunk.scenario.to_toml();
    let again = ksim::scenario::parse(&text, "shrunk.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, shrunk.scenario);
    for f in &again.faults {
        use ksim::scenario::Target;
        let named = |t: &Target| {
            matches!(
                t,
                Target::Broker(_)
                    | Target::Controller(_)
                    | Target::Producer(_)
                    | Target::AllBrokers
                    | Target::Consumer { .. }
            )
        };
        assert!(
            f.target.iter().chain(f.groups.iter().flatten()).all(named),
            "{f:?}"
        );
    }
    let outcome = run(&again, seed, &options).expect("runs");
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.invariant == shrunk.invariant),
        "{file}: the shrunk scenario must still violate {}: {:?}",
        shrunk.invariant,
        outcome.violations
    );
}

/// `ksim shrink --jobs N` tries N candidates at once, yet keeps what trying
/// them one at a time keeps: the same scenario, steps and run count.
#[test]
fn the_shrunk_scenario_does_not_depend_on_the_jobs() {
    let scenario = load("acks1_leader_crash.toml");
    let options = RunOptions::default();
    let seed = first_failing_seed(&scenario, &options);
    let shrunk = |jobs: usize| {
        let mut steps = Vec::new();
        let s = shrink(&scenario, seed, None, &options, jobs, &mut |step| {
            steps.push(step.to_owned())
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        (s.scenario.to_toml(), s.runs, s.after, steps)
    };
    let one = shrunk(1);
    assert!(one.3.len() > 1, "it shrank in steps: {:?}", one.3);
    assert_eq!(shrunk(3), one);
}

#[test]
fn acks1_leader_crash_shrinks() {
    shrinks_to_a_plain_failing_scenario("acks1_leader_crash.toml");
}

#[test]
fn unclean_election_shrinks() {
    shrinks_to_a_plain_failing_scenario("unclean_election.toml");
}

#[test]
fn kip101_truncation_shrinks_from_its_swarm() {
    // Its first failing seed, 2, needs five of its swarm's faults (a
    // shrink keeps them all); seed 35, the next, shrinks to two.
    shrinks_seed_to_a_plain_failing_scenario("kip101_truncation.toml", Some(35));
}

#[test]
fn producer_retries_shrinks_from_its_swarm() {
    shrinks_to_a_plain_failing_scenario("producer_retries.toml");
}

#[test]
fn correlated_power_loss_shrinks() {
    shrinks_to_a_plain_failing_scenario("correlated_power_loss.toml");
}

#[test]
fn the_command_writes_the_file_and_prints_before_after_and_how_to_run_it() {
    let dir = common::scratch("shrink", "shrink_cli");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/producer_retries.toml");
    let out = common::ksim(
        &dir,
        &["shrink", scenario.to_str().expect("utf-8"), "--seed", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    insta::assert_snapshot!("shrink_table", text);
    let file = dir.join("reports/shrunk/producer_retries-0.toml");
    assert!(file.exists());
    // The command it prints runs the file and fails (exit 1).
    let run = common::ksim(
        &dir,
        &[
            "run",
            "reports/shrunk/producer_retries-0.toml",
            "--seed",
            "0",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    // A passing seed has nothing to shrink: a usage error, exit 2.
    let pass = common::ksim(
        &dir,
        &[
            "shrink",
            "reports/shrunk/producer_retries-0.toml",
            "--seed",
            "0",
            "--invariant",
            "acked_writes_durable",
        ],
    );
    assert_eq!(pass.status.code(), Some(2));
    assert!(common::stderr(&pass).contains("does not violate acked_writes_durable"));
}

#[test]
fn a_swarm_seed_shrinks_with_its_drawn_latency_kept() {
    let scenario = load("kip101_truncation.toml");
    let options = RunOptions {
        swarm: true,
        ..RunOptions::default()
    };
    let seed = first_failing_seed(&scenario, &options);
    let mix = run(&scenario, seed, &options)
        .expect("runs")
        .swarm
        .expect("a mix");
    let shrunk = shrink(&scenario, seed, None, &options, 1, &mut |_| {}).expect("shrinks");
    assert!(shrunk.after.faults <= 4 && shrunk.scenario.swarm.is_none());
    let net = &shrunk.scenario.network;
    assert_eq!(
        (
            ksim::scenario::format_duration(net.latency_min_ns),
            ksim::scenario::format_duration(net.latency_max_ns)
        ),
        (mix.latency_min, mix.latency_max)
    );
    // Plain: it fails without --swarm.
    let outcome = run(&shrunk.scenario, seed, &RunOptions::default()).expect("runs");
    assert!(outcome
        .violations
        .iter()
        .any(|v| v.invariant == shrunk.invariant));
}

#[test]
fn a_liveness_seed_shrinks_and_replays_in_liveness_mode() {
    // kip101_truncation seed 26 fails only in liveness mode: without the
    // flag there is nothing to shrink.
    let dir = common::scratch("shrink", "shrink_liveness");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/kip101_truncation.toml");
    let shrink = |liveness: bool| {
        let mut args = vec!["shrink", scenario.to_str().expect("utf-8"), "--seed", "26"];
        if liveness {
            args.push("--liveness");
        }
        common::ksim(&dir, &args)
    };
    assert_eq!(shrink(false).status.code(), Some(2));
    let out = shrink(true);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(
        text.contains(
            "run it: ksim run reports/shrunk/kip101_truncation-26.toml --seed 26 --liveness"
        ),
        "{text}"
    );
    let run = common::ksim(
        &dir,
        &[
            "run",
            "reports/shrunk/kip101_truncation-26.toml",
            "--seed",
            "26",
            "--liveness",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
}
