//! `ksim run`: one scenario, one seed.

use std::path::PathBuf;

use super::{load, record_path, write_json, Format, EXIT_USAGE};
use crate::harness::RunOptions;
use crate::report::{replay_command, text, RunRecord, Verdict};
use crate::runner::run_seed;

/// Arguments of `ksim run`.
pub struct Args {
    pub scenario: PathBuf,
    pub seed: u64,
    pub format: Format,
    pub out: PathBuf,
    pub trace: Option<PathBuf>,
    pub inject_panic: bool,
    pub mutations: Vec<String>,
}

pub fn main(args: Args) -> u8 {
    let (scenario, scenario_text) = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let file = args.scenario.display().to_string();
    let mutations = match super::parse_mutations(&args.mutations) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: --mutation: {e}");
            return EXIT_USAGE;
        }
    };
    let options = RunOptions {
        trace: args.trace.clone(),
        inject_panic: args.inject_panic,
        mutations,
    };
    let run = match run_seed(&scenario, args.seed, &options) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let summary = run.summary;
    let record = RunRecord {
        summary: summary.clone(),
        scenario_file: file.clone(),
        scenario_text,
        mutations: args.mutations.clone(),
    };
    let path = record_path(&args.out, &scenario.name, args.seed);
    let written = write_json(&path, &record);
    match args.format {
        Format::Json => match serde_json::to_string(&summary) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: cannot encode the summary: {e}"),
        },
        Format::Text => {
            if let Some(outcome) = &run.outcome {
                print!("{}", text::render(&scenario, &file, &summary, outcome));
                if written.is_ok() {
                    println!("run record: {}", path.display());
                }
            }
        }
    }
    if let Err(e) = written {
        eprintln!("warning: {e}");
    }
    if summary.verdict == Verdict::Error {
        eprintln!(
            "error: the simulator panicked in scenario {} with seed {}: {}\nreplay: {}",
            scenario.name,
            args.seed,
            summary.error.as_deref().unwrap_or("unknown panic"),
            replay_command(&file, args.seed)
        );
    }
    summary.verdict.exit_code()
}
