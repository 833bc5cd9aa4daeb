//! `ksim explore`: a seed sweep.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use super::{load, out, outln, record_path, write_json, Format, Loaded};
use crate::explore::{sweep, ExploreReport, SeedRange};
use crate::harness::RunOptions;
use crate::report::{RunRecord, Summary, Verdict};
use crate::runner::run_seed;

/// Arguments of `ksim explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML)
    scenario: PathBuf,
    /// Seeds to run: A..B (B excluded) or A..=B
    #[arg(long, value_name = "A..B")]
    seeds: SeedRange,
    /// Worker threads (each run stays single-threaded); default: all cores
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Where explore.json and failing runs are written (under DIR/SCENARIO/)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Test hook: these seeds panic mid-run
    #[arg(long, hide = true, value_delimiter = ',')]
    inject_panic_seeds: Vec<u64>,
    /// Test hook: deliberate bugs (reorder-links, fsync-lies, vote-without-log-check, commit-on-minority, vote-twice, keep-leader-epoch, trust-epoch-checkpoint)
    #[arg(long = "mutation", hide = true, value_delimiter = ',')]
    mutations: Vec<String>,
}

pub fn main(args: Args) -> u8 {
    let (
        Loaded {
            scenario,
            text: scenario_text,
            file,
        },
        mutations,
    ) = match load(&args.scenario).and_then(|l| Ok((l, super::mutations_or_exit(&args.mutations)?)))
    {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let started = Instant::now();
    let run_one = |seed: u64| -> Summary {
        let options = RunOptions {
            inject_panic: args.inject_panic_seeds.contains(&seed),
            mutations,
            ..RunOptions::default()
        };
        match run_seed(&scenario, &file, seed, &options) {
            Ok(run) => run.summary,
            Err(e) => Summary::of_panic(&scenario.name, seed, e.to_string()),
        }
    };
    let total = args.seeds.len();
    let mut done = 0u64;
    let progress = std::io::stderr().is_terminal() && args.format == Format::Text;
    // Failing seeds are announced as they finish, up to a bound; the summary lists all.
    const ANNOUNCE_MAX: u64 = 10;
    let mut failed = 0u64;
    let results = sweep(args.seeds, jobs, run_one, |s| {
        done += 1;
        if s.verdict != Verdict::Pass {
            failed += 1;
            if failed <= ANNOUNCE_MAX {
                eprintln!("seed {} {}", s.seed, s.verdict.as_str());
            } else if failed == ANNOUNCE_MAX + 1 {
                eprintln!("(more failing seeds: see the summary)");
            }
        }
        if progress {
            eprint!("\r{done}/{total} seeds");
        }
    });
    if progress {
        eprintln!();
    }
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
    let report = ExploreReport::new(&scenario.name, &file, args.seeds, results);
    let path = args.out.join(&scenario.name).join("explore.json");
    let written = write_json(&path, &report);
    match args.format {
        Format::Text => {
            out!("{}", report.table(jobs, wall_ms));
            if written.is_ok() {
                outln!("\nwrote {}", path.display());
            }
        }
        Format::Json => match serde_json::to_string(&report) {
            Ok(json) => outln!("{json}"),
            Err(e) => eprintln!("error: cannot encode the report: {e}"),
        },
    }
    if let Err(e) = written {
        eprintln!("warning: {e}");
    }
    report.exit_code()
}
