//! What `ksim describe` and `ksim dump-log` share: a scenario, a seed and a
//! moment of simulated time to stop the run at.

use std::path::PathBuf;

use super::{load, Loaded, EXIT_USAGE};
use crate::harness::{Run, RunOptions};
use crate::report::replay_command;
use crate::scenario::{format_duration, parse_duration};

/// Exit code of a simulator panic.
const EXIT_PANIC: u8 = 3;

/// The run and the moment to look at.
#[derive(Debug, clap::Args)]
pub struct MomentArgs {
    /// The scenario file (TOML)
    pub scenario: PathBuf,
    /// The seed of the run
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The moment of simulated time, e.g. 30s or 1500ms (default: the end of the run)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Swarm testing: the seed draws its own fault mix within the scenario's [swarm] bounds
    #[arg(long)]
    pub swarm: bool,
}

/// A run stopped at the moment asked for.
pub struct Moment {
    /// The scenario as loaded.
    pub loaded: Loaded,
    /// The run, advanced to `at_ns`.
    pub run: Run,
    /// The moment.
    pub at_ns: u64,
}

/// Loads the scenario and runs it up to `--at`; on an error prints it and
/// returns the exit code (2 usage, 3 a panic inside the simulation).
pub fn stop_at(args: &MomentArgs) -> Result<Moment, u8> {
    let loaded = load(&args.scenario)?;
    let scenario = &loaded.scenario;
    let end = scenario.duration_ns + scenario.settle_ns;
    let at_ns = match &args.at {
        None => end,
        Some(text) => match parse_duration(text) {
            Ok(ns) if ns <= end => ns,
            Ok(_) => {
                eprintln!(
                    "error: --at {text}: the run of {} ends at {} (duration {} + settle {}); valid: 0s to {}",
                    loaded.file,
                    format_duration(end),
                    format_duration(scenario.duration_ns),
                    format_duration(scenario.settle_ns),
                    format_duration(end)
                );
                return Err(EXIT_USAGE);
            }
            Err(e) => {
                eprintln!("error: --at: {e}");
                return Err(EXIT_USAGE);
            }
        },
    };
    if args.swarm && scenario.swarm.is_none() {
        eprintln!("error: {}: --swarm draws each seed's fault mix from the scenario's [swarm] table, and it has none", loaded.file);
        return Err(EXIT_USAGE);
    }
    let options = RunOptions {
        swarm: args.swarm,
        ..RunOptions::default()
    };
    let result = crate::runner::catching(|| {
        let mut run = Run::start(scenario, args.seed, &options)?;
        run.advance_to(at_ns);
        Ok::<Run, crate::harness::TraceError>(run)
    });
    match result {
        Ok(Ok(run)) => Ok(Moment { loaded, run, at_ns }),
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
        Err(message) => {
            eprintln!(
                "error: the simulator panicked in scenario {} with seed {}: {message}\nreplay: {}",
                scenario.name,
                args.seed,
                replay_command(
                    &loaded.file,
                    args.seed,
                    super::shrink::flags(args.swarm, false)
                )
            );
            Err(EXIT_PANIC)
        }
    }
}
