//! `ksim guarantees`: the guarantees table (`reports/guarantees.md`).

use std::path::PathBuf;

use super::progress::Progress;
use super::{outln, write_json, EXIT_USAGE};
use crate::config::KafkaVersion;
use crate::guarantees::{self, Filter, Options, DEFAULT_SEEDS};

/// Arguments of `ksim guarantees`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seeds per cell: each cell runs seeds 0..N
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEEDS)]
    seeds: u64,
    /// Worker threads (each run stays single-threaded); default: all cores
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Only the cells matching KEY=VALUE terms, comma-separated, e.g. acks=1,fault=crash: acks=1|all, misr=1|2, unclean=off|on, flush=every|never, trunc=epoch|hw, idem=on|off, txn=off|on (a transactional producer and a read_committed consumer), fault=crash|power-loss|correlated-power-loss|partition (a key given twice matches either value)
    #[arg(long, value_name = "FILTER")]
    only: Option<String>,
    /// Instead of the config grid: these Kafka releases, comma-separated (e.g. 3.3,3.6,4.0), each with every config at its own default, under the four fault families; writes guarantees-by-version.md and .json
    #[arg(long, value_name = "RELEASES", value_delimiter = ',')]
    versions: Option<Vec<String>>,
    /// Where guarantees.md, guarantees.json and the cells' scenario files (guarantees/) are written
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Test hook: these runs panic mid-run, as CELL:SEED
    #[arg(long, hide = true, value_delimiter = ',')]
    inject_panic: Vec<String>,
}

pub fn main(args: Args) -> u8 {
    if args.seeds == 0 {
        eprintln!("error: --seeds 0: each cell needs at least one seed; valid: a number from 1, e.g. --seeds {DEFAULT_SEEDS}");
        return EXIT_USAGE;
    }
    if args.jobs == Some(0) {
        eprintln!("error: --jobs 0: valid: a number of worker threads from 1");
        return EXIT_USAGE;
    }
    let only = match args.only.as_deref().map(Filter::parse).transpose() {
        Ok(only) => only,
        Err(e) => {
            eprintln!("error: --only: {e}");
            return EXIT_USAGE;
        }
    };
    let versions = match &args.versions {
        None => None,
        Some(_) if args.only.is_some() => {
            eprintln!("error: --only filters the config grid; with --versions every release runs at its own defaults under the four fault families: give one of the two");
            return EXIT_USAGE;
        }
        Some(list) => {
            let mut versions = Vec::new();
            for text in list {
                match KafkaVersion::parse(text.trim()) {
                    Ok(v) if versions.contains(&v) => {
                        eprintln!(
                            "error: --versions: {v} is listed twice; valid: each release once"
                        );
                        return EXIT_USAGE;
                    }
                    Ok(v) => versions.push(v),
                    Err(e) => {
                        eprintln!("error: --versions: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
            Some(versions)
        }
    };
    let mut inject_panic = Vec::new();
    for spec in &args.inject_panic {
        match spec
            .rsplit_once(':')
            .and_then(|(c, s)| Some((c, s.parse().ok()?)))
        {
            Some((cell, seed)) => inject_panic.push((cell.to_owned(), seed)),
            None => {
                eprintln!("error: --inject-panic {spec:?}: valid: CELL:SEED");
                return EXIT_USAGE;
            }
        }
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let options = Options {
        seeds: args.seeds,
        jobs,
        only,
        out: args.out.clone(),
        inject_panic,
        versions,
    };
    let mut progress: Option<Progress> = None;
    let report = guarantees::run(&options, &mut |done, total, failing| {
        progress
            .get_or_insert_with(|| Progress::new(total, true))
            .update(done, failing);
    });
    if let Some(p) = &mut progress {
        p.finish();
    }
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let md = args.out.join(format!("{}.md", options.stem()));
    let json = args.out.join(format!("{}.json", options.stem()));
    let written = std::fs::write(&md, report.markdown())
        .map_err(|e| format!("cannot write {}: {e}", md.display()))
        .and_then(|()| write_json(&json, &report));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    let failing = report
        .cells
        .iter()
        .filter(|c| c.errors.is_some() || c.violated().next().is_some())
        .count();
    outln!(
        "guarantees: {} cells x {} seeds = {} runs on {} jobs in {:.1} s ({} seeds/s); {} cells violated an invariant",
        report.cells_run,
        report.seeds_per_cell,
        report.seeds_run,
        report.timing.jobs,
        report.timing.wall_ms as f64 / 1000.0,
        report.timing.seeds_per_second,
        failing
    );
    outln!("wrote {} and {}", md.display(), json.display());
    0
}
