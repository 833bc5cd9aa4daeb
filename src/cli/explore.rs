//! `ksim explore`: a seed sweep, optionally one shard of it, written as it
//! goes; `ksim explore merge` puts shards back together.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::progress::Progress;
use super::{
    load_variant, merge, out, outln, record_path, write_file, write_json, Format, Loaded,
    EXIT_USAGE,
};
use crate::explore::{sweep, ExploreReport, SeedRange, Shard};
use crate::harness::RunOptions;
use crate::report::{html, RunRecord, Summary, Verdict};
use crate::runner::run_seed;

/// Exit code of a sweep stopped by Ctrl-C before any failure was found.
const EXIT_INTERRUPTED: u8 = 130;

/// Arguments of `ksim explore`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    sweep: SweepArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Merge the results of sweeps (the shards of one range) into one summary
    Merge(merge::Args),
}

/// Arguments of a sweep.
#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// The scenario file (TOML)
    #[arg(required = true)]
    scenario: Option<PathBuf>,
    /// Seeds to run: A..B (B excluded) or A..=B
    #[arg(long, value_name = "A..B", required = true)]
    seeds: Option<SeedRange>,
    /// Run only shard K of N of the range (K from 1): seeds whose offset in the range is K-1 mod N
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Worker threads (each run stays single-threaded); default: all cores
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Where results and failing runs are written (under DIR/SCENARIO/)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Swarm testing: each seed draws its own fault mix within the scenario's [swarm] bounds
    #[arg(long)]
    swarm: bool,
    /// Liveness mode: each seed's settle phase heals only a core it draws; the rest stays down for good (see ksim run --help)
    #[arg(long)]
    liveness: bool,
    /// Sweep the scenario's fixed variant: the keys of its [anomaly] fixed table laid over [protocol] (see ksim run --help)
    #[arg(long)]
    fixed: bool,
    /// Also write a self-contained HTML report with the run's timeline for each failing seed (DIR/SCENARIO/seed-N.html)
    #[arg(long)]
    html: bool,
    /// Run this share of the seeds (0 to 100, chosen by a fixed hash of the seed) a second time on a fresh worker and compare trace hashes; a difference is exit 3
    #[arg(long, value_name = "PERCENT", default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=100))]
    recheck: u8,
    /// Test hook: these seeds panic mid-run
    #[arg(long, hide = true, value_delimiter = ',')]
    inject_panic_seeds: Vec<u64>,
    /// Test hook: after this many finished seeds the sweep stops as on Ctrl-C
    #[arg(long, hide = true)]
    interrupt_after: Option<u64>,
    /// Test hook: deliberate bugs (reorder-links, fsync-lies, vote-without-log-check, commit-on-minority, vote-twice, keep-leader-epoch, trust-epoch-checkpoint)
    #[arg(long = "mutation", hide = true, value_delimiter = ',')]
    mutations: Vec<String>,
}

/// Writes a sweep's summary to `path` and prints it: `table` as text, or
/// the summary as JSON.
pub fn write_and_print(report: &ExploreReport, path: &Path, format: Format, table: &str) {
    let written = write_json(path, report);
    match format {
        Format::Text => {
            out!("{table}");
            if written.is_ok() {
                outln!("\nwrote {}", path.display());
            }
        }
        Format::Json => match serde_json::to_string(report) {
            Ok(json) => outln!("{json}"),
            Err(e) => eprintln!("error: cannot encode the report: {e}"),
        },
    }
    if let Err(e) = written {
        eprintln!("warning: {e}");
    }
}

pub fn main(args: Args) -> u8 {
    match args.command {
        Some(Sub::Merge(m)) => merge::main(m),
        None => sweep_main(args.sweep),
    }
}

/// The first line of a results file: what the lines after it are results of.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ResultsHeader {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file as given.
    pub scenario_file: String,
    /// The seed range.
    pub seeds: String,
    /// The shard of it, if any.
    pub shard: Option<String>,
}

/// Where a sweep's results go: `explore` or `explore-K-of-N`, plus extension.
fn results_stem(shard: Option<Shard>) -> String {
    match shard {
        Some(s) => format!("explore-{}-of-{}", s.k, s.n),
        None => "explore".to_owned(),
    }
}

/// Appends each finished seed's summary as a JSON line, flushed at once, so
/// an interrupted or killed sweep keeps every finished result.
struct ResultsFile {
    writer: Option<BufWriter<File>>,
}

impl ResultsFile {
    fn create(path: &Path, header: &ResultsHeader) -> Self {
        let open = || -> std::io::Result<BufWriter<File>> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut w = BufWriter::new(File::create(path)?);
            serde_json::to_writer(&mut w, header)?;
            w.write_all(b"\n")?;
            w.flush()?;
            Ok(w)
        };
        match open() {
            Ok(w) => Self { writer: Some(w) },
            Err(e) => {
                eprintln!("warning: cannot write {}: {e}", path.display());
                Self { writer: None }
            }
        }
    }

    fn push(&mut self, summary: &Summary) {
        if let Some(w) = &mut self.writer {
            let ok = serde_json::to_writer(&mut *w, summary).is_ok()
                && w.write_all(b"\n").is_ok()
                && w.flush().is_ok();
            if !ok {
                eprintln!("warning: cannot append to the results file");
                self.writer = None;
            }
        }
    }
}

fn sweep_main(args: SweepArgs) -> u8 {
    let (Some(scenario_path), Some(range)) = (&args.scenario, args.seeds) else {
        eprintln!("error: explore needs SCENARIO and --seeds A..B");
        return EXIT_USAGE;
    };
    let (
        Loaded {
            scenario,
            text: scenario_text,
            file,
        },
        mutations,
    ) = match load_variant(scenario_path, args.fixed)
        .and_then(|l| Ok((l, super::mutations_or_exit(&args.mutations)?)))
    {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    if args.swarm && scenario.swarm.is_none() {
        eprintln!("error: {file}: --swarm draws each seed's fault mix from the scenario's [swarm] table, and it has none; add one, e.g. [swarm] crash = 2.0, partition = 1.0");
        return EXIT_USAGE;
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let seeds: Vec<u64> = match args.shard {
        Some(shard) => shard.seeds(range),
        None => (range.start..range.end).collect(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second Ctrl-C ends the process at once; finished results are on disk.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            eprintln!("\ninterrupted: finishing the runs in progress (Ctrl-C again to quit now)");
        });
    }
    let dir = args.out.join(&scenario.name);
    let stem = results_stem(args.shard);
    let mut results_file = ResultsFile::create(
        &dir.join(format!("{stem}.jsonl")),
        &ResultsHeader {
            scenario: scenario.name.clone(),
            scenario_file: file.clone(),
            seeds: range.to_string(),
            shard: args.shard.map(|s| s.to_string()),
        },
    );
    let started = Instant::now();
    let run_one = |seed: u64| -> Summary {
        let options = RunOptions {
            inject_panic: args.inject_panic_seeds.contains(&seed),
            mutations,
            swarm: args.swarm,
            liveness: args.liveness,
            ..RunOptions::default()
        };
        match run_seed(&scenario, &file, seed, &options) {
            Ok(run) => {
                if let (true, Some(outcome)) = (
                    args.html && run.summary.verdict != Verdict::Pass,
                    &run.outcome,
                ) {
                    let page = html::render(&scenario, &file, &run.summary, outcome);
                    let path = record_path(&args.out, &scenario.name, seed).with_extension("html");
                    if let Err(e) = write_file(&path, &page) {
                        eprintln!("warning: {e}");
                    }
                }
                run.summary
            }
            Err(e) => Summary::of_panic(&scenario.name, seed, e.to_string()),
        }
    };
    let total = seeds.len() as u64;
    let mut progress = Progress::new(total, args.format == Format::Text);
    // Failing seeds are announced as they finish, up to a bound; the summary lists all.
    const ANNOUNCE_MAX: u64 = 10;
    let mut failed = 0u64;
    let mut done = 0u64;
    let mut on_done = |s: &Summary| {
        done += 1;
        results_file.push(s);
        if s.verdict != Verdict::Pass {
            failed += 1;
            if failed <= ANNOUNCE_MAX {
                progress.println(&format!("seed {} {}", s.seed, s.verdict.as_str()));
            } else if failed == ANNOUNCE_MAX + 1 {
                progress.println("(more failing seeds: see the summary)");
            }
        }
        progress.update(done, failed);
        if args.interrupt_after == Some(done) {
            stop.store(true, Ordering::SeqCst);
        }
    };
    let results = sweep(&seeds, jobs, &stop, run_one, &mut on_done);
    // Determinism rechecks: a sample of the finished seeds again, each on
    // a worker thread that did not run it (the sweep's threads are gone).
    let again: Vec<u64> = results
        .iter()
        .map(|r| r.seed)
        .filter(|&s| crate::recheck::sampled(s, args.recheck))
        .collect();
    let rechecks = if again.is_empty() || stop.load(Ordering::SeqCst) {
        Vec::new()
    } else {
        progress.println(&format!("rechecking {} seeds for determinism", again.len()));
        sweep(&again, jobs, &stop, run_one, |_| {})
    };
    progress.finish();
    let mut nondeterministic = Vec::new();
    for second in &rechecks {
        let Some(first) = results.iter().find(|r| r.seed == second.seed) else {
            continue;
        };
        if first.trace_hash == second.trace_hash && first.verdict == second.verdict {
            continue;
        }
        eprintln!(
            "seed {}: the simulator is nondeterministic (trace hash {} then {}); writing two more traces",
            second.seed, first.trace_hash, second.trace_hash
        );
        let paths = crate::recheck::trace_paths(&dir, second.seed);
        for path in &paths {
            let options = RunOptions {
                trace: Some(path.clone()),
                inject_panic: args.inject_panic_seeds.contains(&second.seed),
                mutations,
                swarm: args.swarm,
                liveness: args.liveness,
            };
            if let Err(e) = run_seed(&scenario, &file, second.seed, &options) {
                eprintln!("warning: {e}");
            }
        }
        let divergence =
            crate::recheck::first_difference(&paths[0], &paths[1]).unwrap_or_else(|e| {
                eprintln!("warning: cannot compare the traces: {e}");
                None
            });
        nondeterministic.push(crate::recheck::Nondeterministic {
            seed: second.seed,
            trace_hash: first.trace_hash.clone(),
            recheck_trace_hash: second.trace_hash.clone(),
            traces: paths.map(|p| p.display().to_string()),
            divergence,
        });
    }
    let interrupted = stop.load(Ordering::SeqCst);
    let wall_ms = started.elapsed().as_millis() as u64;
    for failing in results.iter().filter(|r| r.verdict != Verdict::Pass) {
        let record = RunRecord {
            summary: failing.clone(),
            scenario_file: file.clone(),
            scenario_text: scenario_text.clone(),
            mutations: args.mutations.clone(),
        };
        if let Err(e) = write_json(
            &record_path(&args.out, &scenario.name, failing.seed),
            &record,
        ) {
            eprintln!("warning: {e}");
        }
    }
    let mut report = ExploreReport::new(&scenario.name, &file, range, results);
    report.shard = args.shard.map(|s| s.to_string());
    report.interrupted = interrupted;
    report.missing = total - report.runs;
    report.rechecked = rechecks.len() as u64;
    report.runs_to_first_failure = seeds
        .iter()
        .position(|seed| {
            report
                .results
                .iter()
                .any(|r| r.seed == *seed && r.verdict == Verdict::Fail)
        })
        .map(|i| i as u64 + 1);
    report.nondeterministic = nondeterministic;
    let path = dir.join(format!("{stem}.json"));
    let table = report.table(jobs, wall_ms);
    write_and_print(&report, &path, args.format, &table);
    let failing = report.fail;
    if args.html && args.format == Format::Text && failing > 0 {
        outln!(
            "html reports of the {failing} failing seed{}: {}",
            if failing == 1 { "" } else { "s" },
            dir.join("seed-N.html").display()
        );
    }
    match report.exit_code() {
        0 if interrupted => EXIT_INTERRUPTED,
        code => code,
    }
}
