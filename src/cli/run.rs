//! `ksim run`: one scenario, one seed.

use std::path::PathBuf;

use super::{
    load_variant, out, outln, record_path, write_file, write_json, Color, Format, Loaded,
    EXIT_USAGE,
};
use crate::harness::RunOptions;
use crate::report::{html, replay_command, text, RunRecord, Verdict};
use crate::runner::run_seed;

/// Arguments of `ksim run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML)
    scenario: PathBuf,
    /// The seed every random draw of the run derives from
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Where the run record is written (as DIR/SCENARIO/seed-N.json)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Write every simulated event as a JSON line to FILE
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Swarm testing: the seed draws its own fault mix within the scenario's [swarm] bounds
    #[arg(long)]
    swarm: bool,
    /// Liveness mode: the settle phase heals only a core the seed draws (a majority of the controllers, brokers holding an in-sync replica of every partition); the rest stays down for good, and the core must converge
    #[arg(long)]
    liveness: bool,
    /// Run the scenario's fixed variant: the keys of its [anomaly] fixed table laid over [protocol] (the release or behaviour that fixed the anomaly it shows)
    #[arg(long)]
    fixed: bool,
    /// Also write a self-contained HTML report with the run's timeline (DIR/SCENARIO/seed-N.html)
    #[arg(long)]
    html: bool,
    /// Colour in the text report: auto (on a terminal), always or never
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Test hook: panic in the middle of the run
    #[arg(long, hide = true)]
    inject_panic: bool,
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
    ) = match load_variant(&args.scenario, args.fixed)
        .and_then(|l| Ok((l, super::mutations_or_exit(&args.mutations)?)))
    {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let options = RunOptions {
        trace: args.trace.clone(),
        inject_panic: args.inject_panic,
        mutations,
        swarm: args.swarm,
        liveness: args.liveness,
    };
    if args.swarm && scenario.swarm.is_none() {
        eprintln!("error: {file}: --swarm draws each seed's fault mix from the scenario's [swarm] table, and it has none; add one, e.g. [swarm] crash = 2.0, partition = 1.0");
        return EXIT_USAGE;
    }
    let run = match run_seed(&scenario, &file, args.seed, &options) {
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
    let html = match (&run.outcome, args.html) {
        (Some(outcome), true) => {
            let page = html::render(&scenario, &file, &summary, outcome);
            let html_path = path.with_extension("html");
            Some(write_file(&html_path, &page).map(|()| html_path))
        }
        _ => None,
    };
    match args.format {
        Format::Json => match serde_json::to_string(&summary) {
            Ok(json) => outln!("{json}"),
            Err(e) => eprintln!("error: cannot encode the summary: {e}"),
        },
        Format::Text => {
            if let Some(outcome) = &run.outcome {
                let colored = args.color.enabled();
                out!(
                    "{}",
                    text::render(&scenario, &file, &summary, outcome, colored)
                );
                if written.is_ok() {
                    outln!("run record: {}", path.display());
                }
                if let Some(Ok(html_path)) = &html {
                    outln!("html report: {}", html_path.display());
                }
            }
        }
    }
    if let Err(e) = written {
        eprintln!("warning: {e}");
    }
    if let Some(Err(e)) = html {
        eprintln!("warning: {e}");
    }
    if summary.verdict == Verdict::Error {
        eprintln!(
            "error: the simulator panicked in scenario {} with seed {}: {}\nreplay: {}",
            scenario.name,
            args.seed,
            summary.error.as_deref().unwrap_or("unknown panic"),
            replay_command(&file, args.seed, summary.flags())
        );
    }
    summary.verdict.exit_code()
}
