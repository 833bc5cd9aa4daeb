//! `ksim shrink`: the smallest fault schedule that still fails, as a
//! scenario file under `reports/shrunk/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{load, out, Loaded, EXIT_USAGE};
use crate::harness::RunOptions;
use crate::scenario::format_duration;
use crate::shrink::{shrink, ShrinkError, Shrunk, Size};

/// Exit code when the simulator panicked.
const EXIT_PANIC: u8 = 3;

/// Arguments of `ksim shrink`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML)
    scenario: PathBuf,
    /// The failing seed
    #[arg(long)]
    seed: u64,
    /// The invariant that must keep failing (default: the run's first violation)
    #[arg(long, value_name = "NAME")]
    invariant: Option<String>,
    /// Where the shrunk scenario is written (as DIR/shrunk/SCENARIO-SEED.toml)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// The seed failed with --swarm (its own fault mix)
    #[arg(long)]
    swarm: bool,
    /// The seed failed with --liveness (the settle phase heals only the
    /// core); every candidate runs so, and the shrunk file replays so
    #[arg(long)]
    liveness: bool,
    /// Candidates tried at once, each run on its own thread (default: all
    /// cores); the shrunk scenario is the same for every N
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Test hook: deliberate bugs, as for `ksim run`
    #[arg(long = "mutation", hide = true, value_delimiter = ',')]
    mutations: Vec<String>,
}

pub fn main(args: Args) -> u8 {
    let (Loaded { scenario, file, .. }, mutations) = match load(&args.scenario)
        .and_then(|l| Ok((l, super::mutations_or_exit(&args.mutations)?)))
    {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let options = RunOptions {
        mutations,
        swarm: args.swarm,
        liveness: args.liveness,
        ..RunOptions::default()
    };
    eprintln!("shrink {file} --seed {}", args.seed);
    let shrunk = match shrink(
        &scenario,
        args.seed,
        args.invariant.as_deref(),
        &options,
        args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        }),
        &mut |step| eprintln!("  {step}"),
    ) {
        Ok(s) => s,
        Err(e @ ShrinkError::Panicked { .. }) => {
            eprintln!(
                "error: {e}; replay: {}",
                crate::report::replay_command(&file, args.seed, flags(args.swarm, args.liveness))
            );
            return EXIT_PANIC;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let path = args
        .out
        .join("shrunk")
        .join(format!("{}-{}.toml", scenario.name, args.seed));
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, shrunk.scenario.to_toml()));
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_USAGE;
    }
    out!(
        "{}",
        table(&scenario.name, args.seed, &shrunk, &path, args.liveness)
    );
    0
}

/// The before/after table and the command that runs the shrunk file.
pub fn table(name: &str, seed: u64, s: &Shrunk, path: &std::path::Path, liveness: bool) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "shrunk {name} seed {seed}: {} still fails", s.invariant);
    let _ = writeln!(w, "  {:<12}{:>14}{:>14}", "", "before", "after");
    let faults = |z: &Size| {
        if z.swarm {
            format!("{} + swarm", z.faults)
        } else {
            z.faults.to_string()
        }
    };
    let rows = [
        ("faults", faults(&s.before), faults(&s.after)),
        (
            "duration",
            format_duration(s.before.duration_ns),
            format_duration(s.after.duration_ns),
        ),
        (
            "producers",
            s.before.producers.to_string(),
            s.after.producers.to_string(),
        ),
        (
            "records",
            s.before.records_sent.to_string(),
            s.after.records_sent.to_string(),
        ),
        (
            "partitions",
            s.before.partitions.to_string(),
            s.after.partitions.to_string(),
        ),
        (
            "consumers",
            s.before.consumers.to_string(),
            s.after.consumers.to_string(),
        ),
    ];
    for (label, a, b) in rows {
        let _ = writeln!(w, "  {label:<12}{a:>14}{b:>14}");
    }
    let _ = writeln!(w, "  {} simulator runs", s.runs);
    let _ = writeln!(w, "wrote {}", path.display());
    let _ = writeln!(
        w,
        "run it: {}",
        crate::report::replay_command(&path.display().to_string(), seed, flags(false, liveness))
    );
    w
}

/// The flags of a run that is the scenario as written (shrink, blame and
/// the moment commands take no `--fixed`).
pub(super) fn flags(swarm: bool, liveness: bool) -> crate::report::RunFlags {
    crate::report::RunFlags {
        swarm,
        liveness,
        fixed: false,
    }
}
