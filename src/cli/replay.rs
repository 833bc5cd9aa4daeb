//! `ksim replay`: re-run a recorded run and verify its trace_hash.

use std::path::Path;

use super::{outln, EXIT_USAGE};
use crate::harness::RunOptions;
use crate::report::{replay_command, RunRecord, Verdict};
use crate::runner::run_seed;

pub fn main(path: &Path) -> u8 {
    let record: RunRecord = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot read run record {}: {e}; give a seed-N.json written by `ksim run` or `ksim explore`",
                path.display()
            );
            return EXIT_USAGE;
        }
    };
    let parse = if record.summary.fixed {
        crate::scenario::parse_fixed
    } else {
        crate::scenario::parse
    };
    let scenario = match parse(&record.scenario_text, &record.scenario_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the recorded scenario no longer parses: {e}");
            return EXIT_USAGE;
        }
    };
    let seed = record.summary.seed;
    let mutations = match super::parse_mutations(&record.mutations) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return EXIT_USAGE;
        }
    };
    let options = RunOptions {
        mutations,
        swarm: record.summary.swarm.is_some(),
        liveness: record.summary.liveness.is_some(),
        ..RunOptions::default()
    };
    let run = match run_seed(&scenario, &record.scenario_file, seed, &options) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let (was, now) = (&record.summary, &run.summary);
    if now.trace_hash != was.trace_hash || now.verdict != was.verdict {
        eprintln!(
            "error: replay DIVERGED for scenario {} seed {}: recorded trace_hash {} verdict {}, replay gave trace_hash {} verdict {}. The simulator is not deterministic for this input (or changed since the recording).\nreplay: {}",
            scenario.name,
            seed,
            display_hash(&was.trace_hash),
            was.verdict.as_str(),
            display_hash(&now.trace_hash),
            now.verdict.as_str(),
            replay_command(&record.scenario_file, seed, record.summary.flags())
        );
        return Verdict::Error.exit_code();
    }
    outln!(
        "replayed {} seed {}: trace_hash {} matches; verdict {}",
        scenario.name,
        seed,
        display_hash(&now.trace_hash),
        now.verdict.as_str()
    );
    for v in &now.violations {
        outln!("  {} at {}ms: {}", v.invariant, v.at_ms, v.detail);
    }
    if let Some(e) = &now.error {
        outln!("  panicked: {e}");
    }
    now.verdict.exit_code()
}

fn display_hash(hash: &str) -> &str {
    if hash.is_empty() {
        "(none: the run panicked)"
    } else {
        hash
    }
}
