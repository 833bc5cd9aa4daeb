//! `ksim guarantees`: the table's headline result (acks=1 loses acknowledged
//! writes to a leader crash, the strongest config does not), determinism,
//! replay commands that reproduce, a snapshot of the report, bad flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use ksim::guarantees::{self, Filter, Options, Report};
use ksim::harness::RunOptions;

/// Three crash cells sharing min.insync.replicas=2, unclean election off,
/// flush every message and KIP-101 truncation: acks=1 (idempotence off, the
/// only valid choice), and acks=all with idempotence on and off (none
/// transactional).
const CRASH_CELLS: &str = "misr=2,unclean=off,flush=every,trunc=epoch,txn=off,fault=crash";
/// Seeds 0..6: acks=1 loses an acknowledged write in seed 4.
const SEEDS: u64 = 6;

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("guarantees")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(out: &Path, only: &str, seeds: u64, jobs: usize) -> Report {
    let options = Options {
        seeds,
        jobs,
        only: Some(Filter::parse(only).expect("filter")),
        out: out.to_path_buf(),
        inject_panic: Vec::new(),
        versions: None,
    };
    guarantees::run(&options, &mut |_, _, _| {}).expect("the grid runs")
}

fn cell<'a>(report: &'a Report, name: &str) -> &'a guarantees::CellJson {
    report
        .cells
        .iter()
        .find(|c| c.cell == name)
        .unwrap_or_else(|| panic!("no cell {name}"))
}

fn violating(cell: &guarantees::CellJson, invariant: &str) -> u64 {
    cell.invariants
        .iter()
        .find(|i| i.invariant == invariant)
        .map_or(0, |i| i.violating_seeds)
}

/// The JSON without its wall-clock part.
fn json_without_timing(report: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("json");
    v.as_object_mut().expect("object").remove("timing");
    v
}

#[test]
fn acks_1_loses_acked_writes_to_a_leader_crash_and_the_strongest_config_does_not() {
    let out = scratch("headline");
    let report = run(&out, CRASH_CELLS, SEEDS, 2);
    assert_eq!(report.cells_run, 3);
    let weak = cell(
        &report,
        "acks-1_misr-2_unclean-off_flush-every_trunc-epoch_idem-off_crash",
    );
    let strong = cell(
        &report,
        "acks-all_misr-2_unclean-off_flush-every_trunc-epoch_idem-on_crash",
    );
    assert!(violating(weak, "acked_writes_durable") >= 1, "{weak:#?}");
    assert_eq!(strong.seeds_run, SEEDS);
    assert_eq!(strong.seeds_passed, SEEDS, "{strong:#?}");
    assert!(strong.violated().next().is_none() && strong.errors.is_none());
    // The cell files are plain scenarios the loader accepts.
    for c in &report.cells {
        ksim::scenario::load(Path::new(&c.scenario_file)).expect("the cell loads");
    }
    // Kafka refuses acks=1 with enable.idempotence=true: reported, not run.
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0]
        .reason
        .contains("Must set acks to all in order to use the idempotent producer"));
}

#[test]
fn the_report_is_the_same_on_every_run_whatever_the_jobs() {
    let a = run(&scratch("same"), CRASH_CELLS, SEEDS, 1);
    let b = run(&scratch("same"), CRASH_CELLS, SEEDS, 2);
    assert_eq!(a.markdown(), b.markdown());
    assert_eq!(json_without_timing(&a), json_without_timing(&b));
}

#[test]
fn every_replay_command_reproduces_its_violation() {
    let out = scratch("replay");
    let report = run(&out, CRASH_CELLS, SEEDS, 2);
    let mut replays = 0;
    for c in &report.cells {
        for i in c.violated() {
            let command = i.replay.as_deref().expect("a replay command");
            let args: Vec<&str> = command.split_whitespace().collect();
            let ["ksim", "run", file, "--seed", seed] = args[..] else {
                panic!("not a ksim run command: {command}");
            };
            let scenario = ksim::scenario::load(Path::new(file)).expect("the cell loads");
            let seed: u64 = seed.parse().expect("seed");
            assert_eq!(Some(seed), i.first_failing_seed);
            let run = ksim::runner::run_seed(&scenario, file, seed, &RunOptions::default())
                .expect("runs");
            assert!(
                run.summary
                    .violations
                    .iter()
                    .any(|v| v.invariant == i.invariant),
                "{command} does not violate {}",
                i.invariant
            );
            replays += 1;
        }
    }
    assert!(replays >= 2, "expected violations to replay");
}

#[test]
fn a_panicking_seed_is_counted_with_its_replay_and_the_grid_goes_on() {
    let out = scratch("panic");
    let name = "acks-all_misr-2_unclean-off_flush-every_trunc-epoch_idem-on_power-loss";
    let options = Options {
        seeds: 2,
        jobs: 2,
        only: Some(
            Filter::parse(
                "acks=all,misr=2,unclean=off,flush=every,trunc=epoch,idem=on,fault=power-loss",
            )
            .expect("filter"),
        ),
        out: out.clone(),
        inject_panic: vec![(name.to_owned(), 1)],
        versions: None,
    };
    let report = guarantees::run(&options, &mut |_, _, _| {}).expect("runs");
    let c = cell(&report, name);
    let errors = c.errors.as_ref().expect("the panic is counted");
    assert_eq!((errors.seeds, errors.first_seed), (1, 1));
    assert!(errors.replay.ends_with(&format!("{name}.toml --seed 1")));
    assert!(report.markdown().contains("error (panic) 500 (2)"));
}

/// The transactional column: the twin of an idempotent config with a
/// transactional producer and a read_committed consumer checks
/// `transactions_atomic` and `no_aborted_reads` too; under power loss with
/// pre-KIP-101 truncation a committed transaction loses records (seed 17
/// of 0..18), and the replay command reproduces it.
#[test]
fn transactional_rows_check_what_transactions_guarantee() {
    let out = scratch("transactional");
    let report = run(
        &out,
        "acks=all,misr=2,unclean=off,flush=every,trunc=hw,idem=on,fault=power-loss",
        // The transactional twin first breaks transactions_atomic at seed 87.
        90,
        2,
    );
    assert_eq!(report.cells_run, 2, "the config and its transactional twin");
    let plain = cell(
        &report,
        "acks-all_misr-2_unclean-off_flush-every_trunc-hw_idem-on_power-loss",
    );
    let txn = cell(
        &report,
        "acks-all_misr-2_unclean-off_flush-every_trunc-hw_idem-on_txn-on_power-loss",
    );
    let names = |c: &guarantees::CellJson| -> Vec<String> {
        c.invariants.iter().map(|i| i.invariant.clone()).collect()
    };
    assert!(!names(plain).contains(&"transactions_atomic".to_owned()));
    assert_eq!(
        names(txn)[names(txn).len() - 2..],
        ["transactions_atomic", "no_aborted_reads"]
    );
    assert_eq!(plain.config.transactional_id, None);
    assert_eq!(plain.config.isolation_level, "read_uncommitted");
    assert_eq!(txn.config.transactional_id.as_deref(), Some("orders-tx"));
    assert_eq!(txn.config.isolation_level, "read_committed");
    assert!(violating(txn, "transactions_atomic") >= 1, "{txn:#?}");
    let atomic = txn
        .invariants
        .iter()
        .find(|i| i.invariant == "transactions_atomic")
        .expect("checked");
    let command = atomic.replay.as_deref().expect("a replay");
    let args: Vec<&str> = command.split_whitespace().collect();
    let ["ksim", "run", file, "--seed", seed] = args[..] else {
        panic!("not a ksim run command: {command}");
    };
    let scenario = ksim::scenario::load(Path::new(file)).expect("the cell loads");
    assert_eq!(scenario.transactional_ids(), ["orders-tx-0"]);
    let run = ksim::runner::run_seed(
        &scenario,
        file,
        seed.parse().expect("seed"),
        &RunOptions::default(),
    )
    .expect("runs");
    assert!(
        run.summary
            .violations
            .iter()
            .any(|v| v.invariant == "transactions_atomic"),
        "{command} does not violate transactions_atomic"
    );
    let md = report.markdown();
    assert!(
        md.contains("| transactional.id | isolation.level |"),
        "{md}"
    );
    assert!(md.contains("| orders-tx | read_committed |"), "{md}");
    assert!(md.contains("| null | read_uncommitted |"), "{md}");
    assert!(
        md.contains("Rows with `transactional.id = orders-tx`"),
        "{md}"
    );
    assert!(md.contains("| `transactions_atomic` (of 1) |"), "{md}");
}

#[test]
fn the_report_of_a_small_subset() {
    let out = scratch("snapshot");
    let report = run(
        &out,
        "acks=1,misr=2,unclean=off,flush=every,trunc=epoch",
        2,
        2,
    );
    let md = report.markdown().replace(&out.display().to_string(), "OUT");
    insta::assert_snapshot!("guarantees_md_subset", md);
}

fn ksim(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ksim"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ksim runs")
}

#[test]
fn the_command_writes_the_report_and_exits_0_with_violations() {
    let dir = scratch("cli");
    let out = ksim(
        &dir,
        &[
            "guarantees",
            "--seeds",
            "3",
            "--jobs",
            "2",
            "--only",
            "acks=1,misr=2,unclean=off,flush=every,trunc=epoch,fault=crash",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 cells x 3 seeds = 3 runs"), "{stdout}");
    let md = std::fs::read_to_string(dir.join("reports/guarantees.md")).expect("md");
    assert!(md.contains("acked_writes_durable"));
    assert!(md.contains(
        "`ksim run reports/guarantees/acks-1_misr-2_unclean-off_flush-every_trunc-epoch_idem-off_crash.toml --seed 2`"
    ));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reports/guarantees.json")).expect("json"),
    )
    .expect("valid json");
    assert_eq!(json["cells"][0]["config"]["acks"], "1");
    assert!(dir
        .join("reports/guarantees/acks-1_misr-2_unclean-off_flush-every_trunc-epoch_idem-off_crash.toml")
        .exists());
}

#[test]
fn bad_flags_exit_2_and_say_what_is_valid() {
    let dir = scratch("bad_flags");
    let cases: [(&[&str], &str); 8] = [
        (
            &["--only", "acks=2"],
            "--only: acks=2 is not valid; valid values of acks: 1, all",
        ),
        (
            &["--versions", "3.6,2.0"],
            "--versions: Kafka 2.0 is not simulated by ksim yet",
        ),
        (&["--versions", "3.6,3.6.1"], "3.6 is listed twice"),
        (
            &["--versions", "3.6", "--only", "acks=1"],
            "give one of the two",
        ),
        (&["--only", "colour=red"], "--only: unknown key \"colour\""),
        (&["--only", "acks"], "is not KEY=VALUE"),
        (&["--seeds", "0"], "--seeds 0"),
        (&["--jobs", "0"], "--jobs 0"),
    ];
    for (args, message) in cases {
        let mut all = vec!["guarantees"];
        all.extend_from_slice(args);
        let out = ksim(&dir, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let out = ksim(&dir, &["guarantees", "--seeds", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !dir.join("reports").exists(),
        "nothing is written on bad flags"
    );
}

#[test]
fn versions_run_each_release_at_its_own_defaults() {
    let out = scratch("versions");
    let options = Options {
        seeds: 2,
        jobs: 2,
        only: None,
        out: out.clone(),
        inject_panic: Vec::new(),
        versions: Some(vec![
            ksim::config::KafkaVersion::new(3, 6),
            ksim::config::KafkaVersion::NEWEST,
        ]),
    };
    let report = guarantees::run(&options, &mut |_, _, _| {}).expect("runs");
    let newest = ksim::config::KafkaVersion::NEWEST.to_string();
    assert_eq!(report.versions, ["3.6".to_owned(), newest.clone()]);
    assert_eq!(
        report.cells_run, 8,
        "two releases under four fault families"
    );
    assert_eq!(
        report.command,
        format!(
            "ksim guarantees --seeds 2 --versions 3.6,{newest} --out {}",
            out.display()
        )
    );
    let first = &report.cells[0];
    assert_eq!(first.cell, "kafka-3.6_crash");
    assert_eq!(first.config.kafka_version.as_deref(), Some("3.6"));
    assert_eq!(first.config.acks, "all", "3.6's default");
    assert!(first.config.enable_idempotence, "3.6's default");
    assert_eq!(first.config.min_insync_replicas, 1, "Kafka's default");
    assert_eq!(report.cells[4].config.kafka_version, Some(newest));
    let cell_file = out.join("guarantees-by-version/kafka-3.6_crash.toml");
    let text = std::fs::read_to_string(&cell_file).expect("the cell's scenario is written");
    assert!(text.contains("kafka_version = \"3.6\""), "{text}");
    assert!(!text.contains("acks"), "no producer config is set: {text}");
    let md = report.markdown();
    assert!(md.starts_with("# What each Kafka release guarantees out of the box"));
    assert!(md.contains("| Kafka | acks |"), "{md}");
    assert!(md.contains("## Releases that broke each invariant"), "{md}");
    let md = md.replace(&out.display().to_string(), "OUT");
    insta::assert_snapshot!("versions_report", md);
}
