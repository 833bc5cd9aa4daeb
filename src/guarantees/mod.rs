//! `ksim guarantees`: the guarantees table. A fixed grid of configs (acks,
//! min.insync.replicas, unclean leader election, flush policy, truncation
//! protocol, idempotence, transactions) under four fault families, each cell a plain
//! scenario file run for a seed budget; the report says, per cell, which
//! invariants broke, in how many seeds per 1000, after how many seeds the
//! first failure came, and the command that replays one example.

pub mod by_version;
pub mod grid;
mod markdown;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::Serialize;

pub use grid::{Acks, Cell, Config, Family, Filter, Flush, Idempotence, MinInsync, INVARIANTS};

use crate::config::KafkaVersion;
use crate::harness::RunOptions;
use crate::report::{replay_command, RunFlags, Verdict};
use crate::runner::run_seed;
use crate::scenario::Scenario;

/// Seeds per cell when `--seeds` is not given.
pub const DEFAULT_SEEDS: u64 = 50;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Seeds per cell: 0..seeds.
    pub seeds: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Only the cells passing this filter.
    pub only: Option<Filter>,
    /// Reports go to OUT/guarantees.{md,json}, cell scenarios to OUT/guarantees/.
    pub out: PathBuf,
    /// Test hook: these (cell name, seed) runs panic mid-run.
    pub inject_panic: Vec<(String, u64)>,
    /// `--versions`: instead of the config grid, these releases at their
    /// own defaults (reports go to OUT/guarantees-by-version.{md,json},
    /// cell scenarios to OUT/guarantees-by-version/).
    pub versions: Option<Vec<KafkaVersion>>,
}

impl Options {
    /// The reports' and the cells' folder's name: `guarantees`, or
    /// `guarantees-by-version` with `--versions`.
    pub fn stem(&self) -> &'static str {
        if self.versions.is_some() {
            "guarantees-by-version"
        } else {
            "guarantees"
        }
    }
}

/// The command that makes the report with these options (`--jobs` changes
/// nothing in it, so it is left out).
pub fn command(options: &Options) -> String {
    let mut c = format!("ksim guarantees --seeds {}", options.seeds);
    if let Some(versions) = &options.versions {
        let list: Vec<String> = versions.iter().map(ToString::to_string).collect();
        c.push_str(&format!(" --versions {}", list.join(",")));
    }
    if let Some(f) = &options.only {
        c.push_str(&format!(" --only {}", f.text()));
    }
    if options.out != Path::new("reports") {
        c.push_str(&format!(" --out {}", options.out.display()));
    }
    c
}

/// A config's settings, by Kafka's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigJson {
    /// The Kafka release (`--versions` rows; the grid's rows run the newest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka_version: Option<String>,
    /// Producer acks.
    pub acks: String,
    /// Broker min.insync.replicas.
    #[serde(rename = "min.insync.replicas")]
    pub min_insync_replicas: u32,
    /// Broker unclean.leader.election.enable.
    #[serde(rename = "unclean.leader.election.enable")]
    pub unclean_leader_election_enable: bool,
    /// Broker log.flush.interval.messages.
    #[serde(rename = "log.flush.interval.messages")]
    pub log_flush_interval_messages: i64,
    /// `[protocol] truncation`: leader-epoch (KIP-101) or high-watermark.
    pub truncation: String,
    /// Producer enable.idempotence.
    #[serde(rename = "enable.idempotence")]
    pub enable_idempotence: bool,
    /// Producer transactional.id (null: not transactional).
    #[serde(rename = "transactional.id")]
    pub transactional_id: Option<String>,
    /// Consumer isolation.level.
    #[serde(rename = "isolation.level")]
    pub isolation_level: String,
}

impl From<&Config> for ConfigJson {
    fn from(c: &Config) -> Self {
        Self {
            kafka_version: None,
            acks: c.acks.kafka().to_owned(),
            min_insync_replicas: c.min_insync.value(),
            unclean_leader_election_enable: c.unclean,
            log_flush_interval_messages: c.flush.interval_messages(),
            truncation: c.truncation.name().to_owned(),
            enable_idempotence: c.idempotence.enabled(),
            transactional_id: c.transactional_id().map(str::to_owned),
            isolation_level: c.isolation_level().to_owned(),
        }
    }
}

/// One invariant in one cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InvariantJson {
    /// Its contract name.
    pub invariant: String,
    /// Seeds in which it was violated.
    pub violating_seeds: u64,
    /// The same per 1000 seeds.
    pub per_1000: f64,
    /// The first seed that violated it.
    pub first_failing_seed: Option<u64>,
    /// How many seeds ran up to and including that one.
    pub seeds_to_first_failure: Option<u64>,
    /// The command that replays the first failing seed.
    pub replay: Option<String>,
    /// That seed's first violation of it, as the checker said it.
    pub example: Option<String>,
}

/// Seeds whose run panicked in one cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorsJson {
    /// How many.
    pub seeds: u64,
    /// The same per 1000 seeds.
    pub per_1000: f64,
    /// The first one.
    pub first_seed: u64,
    /// The command that replays it.
    pub replay: String,
    /// Its panic.
    pub message: String,
}

/// One cell's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellJson {
    /// `acks-all_misr-2_..._crash`.
    pub cell: String,
    /// Its scenario file.
    pub scenario_file: String,
    /// The config (the row).
    pub config: ConfigJson,
    /// The fault family (the column).
    pub fault: String,
    /// Seeds run.
    pub seeds_run: u64,
    /// Seeds in which every invariant held.
    pub seeds_passed: u64,
    /// Every checked invariant, violated or not, in report order.
    pub invariants: Vec<InvariantJson>,
    /// Seeds whose run panicked (counted, never aborting the grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsJson>,
}

impl CellJson {
    /// The invariants violated in at least one seed.
    pub fn violated(&self) -> impl Iterator<Item = &InvariantJson> {
        self.invariants.iter().filter(|i| i.violating_seeds > 0)
    }
}

/// A config Kafka refuses, so none of its cells ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedJson {
    /// The config.
    pub config: ConfigJson,
    /// What the scenario loader said (Kafka's message).
    pub reason: String,
}

/// A fault family as the report describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FamilyJson {
    /// `crash`, `power-loss`, ...
    pub fault: String,
    /// What it does in each cell.
    pub description: String,
}

/// Wall-clock figures: the only part of the report that varies between runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    /// Worker threads.
    pub jobs: usize,
    /// Wall-clock milliseconds of the whole grid.
    pub wall_ms: u64,
    /// Seeds run per wall second.
    pub seeds_per_second: f64,
}

/// `guarantees.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The command that makes this report.
    pub command: String,
    /// Seeds per cell.
    pub seeds_per_cell: u64,
    /// The seed range of every cell.
    pub seeds: String,
    /// The `--only` filter, if any.
    pub only: Option<String>,
    /// `--versions`: the releases, the rows (empty for the config grid).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// What every cell's scenario shares.
    pub shape: String,
    /// What the transactional rows change (when any ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional: Option<String>,
    /// The fault families run.
    pub faults: Vec<FamilyJson>,
    /// The invariants checked (by some cell: the transactions' only where
    /// the producer is transactional).
    pub invariants: Vec<String>,
    /// Cells run.
    pub cells_run: u64,
    /// Seeds run over all cells.
    pub seeds_run: u64,
    /// Configs not run because Kafka rejects them.
    pub rejected: Vec<RejectedJson>,
    /// Every cell run, in table order (rows, then columns).
    pub cells: Vec<CellJson>,
    /// Wall-clock time (left out of the markdown).
    pub timing: Timing,
}

impl Report {
    /// `guarantees.md`.
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }
}

/// Where a cell's scenario file goes.
pub fn scenario_path(out: &Path, cell: &Cell) -> PathBuf {
    out.join("guarantees").join(format!("{}.toml", cell.name()))
}

/// A cell ready to run: its scenario as the loader read it from its file.
struct Ready {
    /// The cell's name (its file's stem).
    name: String,
    /// The row's settings.
    config: ConfigJson,
    /// The column.
    family: Family,
    /// The invariants it checks, in report order.
    invariants: Vec<&'static str>,
    scenario: Scenario,
    file: String,
}

/// The settings a by-version cell ran with: its release's defaults, as
/// the loader resolved them.
fn defaults_of(s: &Scenario) -> ConfigJson {
    let producer = &s.producers[0].config;
    let consumer = &s.consumers[0].config;
    let broker = &s.cluster.config;
    ConfigJson {
        kafka_version: Some(s.protocol.kafka_version.to_string()),
        acks: producer.get_str("acks").unwrap_or_default(),
        min_insync_replicas: broker.get_i64("min.insync.replicas").unwrap_or(1) as u32,
        unclean_leader_election_enable: broker
            .get_bool("unclean.leader.election.enable")
            .unwrap_or(false),
        log_flush_interval_messages: broker
            .get_i64("log.flush.interval.messages")
            .unwrap_or(grid::FLUSH_NEVER),
        truncation: s.protocol.truncation.name().to_owned(),
        enable_idempotence: producer.idempotence_enabled(),
        transactional_id: producer.get_str("transactional.id"),
        isolation_level: consumer.get_str("isolation.level").unwrap_or_default(),
    }
}

/// The by-version cells, written and loaded.
fn version_cells(options: &Options, versions: &[KafkaVersion]) -> Result<Vec<Ready>, String> {
    let dir = options.out.join(options.stem());
    let mut ready = Vec::new();
    for cell in by_version::cells(versions) {
        let path = dir.join(format!("{}.toml", cell.name()));
        std::fs::write(&path, cell.scenario_toml())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let scenario = crate::scenario::load(&path).map_err(|e| e.to_string())?;
        ready.push(Ready {
            name: cell.name(),
            config: defaults_of(&scenario),
            family: cell.family,
            invariants: INVARIANTS.to_vec(),
            scenario,
            file: path.display().to_string(),
        });
    }
    Ok(ready)
}

/// One seed's result, reduced to what the report needs.
struct SeedResult {
    /// Per violated invariant: its first violation's detail.
    violated: BTreeMap<String, String>,
    /// The panic, if the run panicked.
    error: Option<String>,
}

/// Writes every selected cell's scenario file, runs each for `options.seeds`
/// seeds on `options.jobs` threads, and summarises. `progress` sees (seeds
/// done, seeds in all, seeds failing) as runs finish. Errors are I/O or
/// scenario errors (a cell the loader refuses other than Kafka's own rejection).
pub fn run(options: &Options, progress: &mut dyn FnMut(u64, u64, u64)) -> Result<Report, String> {
    let started = Instant::now();
    let cells = match options.versions {
        Some(_) => Vec::new(),
        None => grid::cells(options.only.as_ref()),
    };
    let dir = options.out.join(options.stem());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut ready = match &options.versions {
        Some(versions) => version_cells(options, versions)?,
        None => Vec::new(),
    };
    let mut rejected: BTreeMap<Config, String> = BTreeMap::new();
    for cell in cells {
        let text = cell.scenario_toml();
        let path = scenario_path(&options.out, &cell);
        let kafka_rejects =
            cell.config.acks == Acks::One && cell.config.idempotence == Idempotence::On;
        if kafka_rejects {
            // Not written: the loader refuses it, as Kafka refuses the config.
            let reason = match crate::scenario::parse(&text, &path.display().to_string()) {
                Err(e) => e.message,
                Ok(_) => {
                    return Err(format!(
                        "{}: expected the loader to refuse acks=1 with enable.idempotence=true",
                        cell.name()
                    ))
                }
            };
            rejected.insert(cell.config, reason);
            continue;
        }
        std::fs::write(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let scenario = crate::scenario::load(&path).map_err(|e| e.to_string())?;
        ready.push(Ready {
            name: cell.name(),
            config: (&cell.config).into(),
            family: cell.family,
            invariants: cell.config.invariants(),
            scenario,
            file: path.display().to_string(),
        });
    }
    let seeds = options.seeds;
    let total = ready.len() as u64 * seeds;
    let results = run_all(&ready, seeds, options, total, progress);
    let cells: Vec<CellJson> = ready
        .iter()
        .zip(results.chunks(seeds.max(1) as usize))
        .map(|(r, seeds_of)| summarise(r, seeds_of))
        .collect();
    let wall_ms = started.elapsed().as_millis() as u64;
    let mut families: Vec<Family> = ready.iter().map(|r| r.family).collect();
    families.sort();
    families.dedup();
    let transactional = ready.iter().any(|r| r.config.transactional_id.is_some());
    let mut invariants: Vec<String> = INVARIANTS.iter().map(|s| (*s).to_owned()).collect();
    if transactional {
        invariants.extend(crate::check::txn::TXN_INVARIANTS.map(str::to_owned));
    }
    Ok(Report {
        command: command(options),
        seeds_per_cell: seeds,
        seeds: format!("0..{seeds}"),
        only: options.only.as_ref().map(|f| f.text().to_owned()),
        versions: options
            .versions
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect(),
        shape: match options.versions {
            Some(_) => by_version::shape(),
            None => grid::shape(),
        },
        transactional: transactional.then(grid::shape_transactional),
        faults: families
            .iter()
            .map(|f| FamilyJson {
                fault: f.word().to_owned(),
                description: f.describe(),
            })
            .collect(),
        invariants,
        cells_run: cells.len() as u64,
        seeds_run: total,
        rejected: rejected
            .iter()
            .map(|(c, reason)| RejectedJson {
                config: c.into(),
                reason: reason.clone(),
            })
            .collect(),
        cells,
        timing: Timing {
            jobs: options.jobs,
            wall_ms,
            seeds_per_second: round1(total as f64 * 1000.0 / wall_ms.max(1) as f64),
        },
    })
}

/// Runs every (cell, seed) on worker threads; results in (cell, seed) order.
fn run_all(
    ready: &[Ready],
    seeds: u64,
    options: &Options,
    total: u64,
    progress: &mut dyn FnMut(u64, u64, u64),
) -> Vec<SeedResult> {
    let next = AtomicUsize::new(0);
    let jobs = options.jobs.clamp(1, (total as usize).clamp(1, 1024));
    let (tx, rx) = mpsc::channel::<(usize, SeedResult)>();
    let mut results: Vec<Option<SeedResult>> = (0..total).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job as u64 >= total {
                    break;
                }
                let r = &ready[job / seeds as usize];
                let seed = job as u64 % seeds;
                if tx.send((job, run_one(r, seed, options))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let (mut done, mut failing) = (0, 0);
        for (job, result) in rx {
            done += 1;
            if result.error.is_some() || !result.violated.is_empty() {
                failing += 1;
            }
            results[job] = Some(result);
            progress(done, total, failing);
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or(SeedResult {
                violated: BTreeMap::new(),
                error: Some("the worker running this seed stopped".to_owned()),
            })
        })
        .collect()
}

/// One seed of one cell, its panic caught.
fn run_one(r: &Ready, seed: u64, options: &Options) -> SeedResult {
    let run_options = RunOptions {
        inject_panic: options
            .inject_panic
            .iter()
            .any(|(c, s)| *c == r.name && *s == seed),
        ..RunOptions::default()
    };
    match run_seed(&r.scenario, &r.file, seed, &run_options) {
        Ok(run) => {
            let mut violated = BTreeMap::new();
            for v in &run.summary.violations {
                violated
                    .entry(v.invariant.clone())
                    .or_insert_with(|| v.detail.clone());
            }
            SeedResult {
                violated,
                error: match run.summary.verdict {
                    Verdict::Error => Some(run.summary.error.unwrap_or_default()),
                    _ => None,
                },
            }
        }
        Err(e) => SeedResult {
            violated: BTreeMap::new(),
            error: Some(e.to_string()),
        },
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn per_1000(count: u64, seeds: u64) -> f64 {
    round1(count as f64 * 1000.0 / seeds.max(1) as f64)
}

/// One cell's seeds (seed i at index i) as the report shows them.
fn summarise(r: &Ready, results: &[SeedResult]) -> CellJson {
    let seeds = results.len() as u64;
    let replay = |seed: u64| replay_command(&r.file, seed, RunFlags::default());
    let invariants = r
        .invariants
        .iter()
        .map(|&name| {
            let failing: Vec<(u64, &String)> = results
                .iter()
                .enumerate()
                .filter_map(|(seed, s)| s.violated.get(name).map(|d| (seed as u64, d)))
                .collect();
            let first = failing.first();
            InvariantJson {
                invariant: name.to_owned(),
                violating_seeds: failing.len() as u64,
                per_1000: per_1000(failing.len() as u64, seeds),
                first_failing_seed: first.map(|f| f.0),
                seeds_to_first_failure: first.map(|f| f.0 + 1),
                replay: first.map(|f| replay(f.0)),
                example: first.map(|f| f.1.clone()),
            }
        })
        .collect();
    let errors: Vec<(u64, &String)> = results
        .iter()
        .enumerate()
        .filter_map(|(seed, s)| s.error.as_ref().map(|e| (seed as u64, e)))
        .collect();
    let errors = errors.first().map(|&(seed, message)| ErrorsJson {
        seeds: errors.len() as u64,
        per_1000: per_1000(errors.len() as u64, seeds),
        first_seed: seed,
        replay: replay(seed),
        message: message.clone(),
    });
    CellJson {
        cell: r.name.clone(),
        scenario_file: r.file.clone(),
        config: r.config.clone(),
        fault: r.family.word().to_owned(),
        seeds_run: seeds,
        seeds_passed: results
            .iter()
            .filter(|s| s.error.is_none() && s.violated.is_empty())
            .count() as u64,
        invariants,
        errors,
    }
}
