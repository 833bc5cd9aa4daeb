//! `ksim blame`: where a failing seed's failure became (nearly) certain.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{load, out, outln, Format, Loaded, EXIT_USAGE};
use crate::blame::{blame, sparkline, Blame, BlameError, THRESHOLD};
use crate::harness::RunOptions;

/// Exit code when the simulator panicked.
const EXIT_PANIC: u8 = 3;

/// Arguments of `ksim blame`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML)
    scenario: PathBuf,
    /// The failing seed
    #[arg(long)]
    seed: u64,
    /// The invariant the futures must fail (default: the seed's first violation)
    #[arg(long, value_name = "NAME")]
    invariant: Option<String>,
    /// Grid points over the run where futures branch
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=1000))]
    points: u32,
    /// Futures per point (each reseeds every random stream from there on)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
    futures: u32,
    /// Worker threads (default: all cores); the answer is the same for every N
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// The seed failed with --swarm (its own fault mix)
    #[arg(long)]
    swarm: bool,
    /// The seed failed with --liveness: every future runs so too
    #[arg(long)]
    liveness: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write the seed's HTML report with the curve under its timeline (DIR/SCENARIO/blame-seed-N.html)
    #[arg(long)]
    html: bool,
    /// Where --html writes
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
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
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let text = args.format == Format::Text;
    if text {
        eprintln!(
            "blame {file} --seed {}: {} points x {} futures on {jobs} jobs",
            args.seed, args.points, args.futures
        );
    }
    let progress = |done: u64, total: u64| {
        if text && (done.is_multiple_of(50) || done == total) {
            eprintln!("  {done}/{total} futures");
        }
    };
    let found = blame(
        &scenario,
        args.seed,
        args.invariant.as_deref(),
        &options,
        (args.points, args.futures, jobs),
        &progress,
    );
    let b = match found {
        Ok(b) => b,
        Err(e @ BlameError::Panicked { .. }) => {
            eprintln!(
                "error: {e}; replay: {}",
                crate::report::replay_command(
                    &file,
                    args.seed,
                    super::shrink::flags(args.swarm, args.liveness)
                )
            );
            return EXIT_PANIC;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if args.html {
        match crate::runner::run_seed(&scenario, &file, args.seed, &options) {
            Ok(crate::runner::SeedRun {
                summary,
                outcome: Some(outcome),
            }) => {
                let end_ns = outcome
                    .sim_time_ns
                    .max(scenario.duration_ns + scenario.settle_ns)
                    .max(1);
                let points: Vec<(u64, f64)> = b
                    .points
                    .iter()
                    .map(|p| (p.t_ms * sim::MILLIS, p.p))
                    .collect();
                let caption = format!(
                    "P({} fails | the run's history up to t), {} futures a point, each reseeding every random stream from t on; the point of no return is where it reaches {THRESHOLD} and stays.",
                    b.invariant,
                    b.points.first().map_or(0, |p| p.futures)
                );
                let section = crate::report::html::blame_section(
                    &points,
                    end_ns,
                    b.point_of_no_return_ms.map(|ms| ms * sim::MILLIS),
                    &caption,
                );
                let page = crate::report::html::render_with(
                    &scenario, &file, &summary, &outcome, &section,
                );
                let path = args
                    .out
                    .join(&scenario.name)
                    .join(format!("blame-seed-{}.html", args.seed));
                match super::write_file(&path, &page) {
                    Ok(()) => eprintln!("wrote {}", path.display()),
                    Err(e) => eprintln!("warning: {e}"),
                }
            }
            _ => eprintln!("warning: the seed did not run again for its HTML report"),
        }
    }
    match args.format {
        Format::Text => out!("{}", table(&b)),
        Format::Json => match serde_json::to_string(&b) {
            Ok(json) => outln!("{json}"),
            Err(e) => eprintln!("error: cannot encode the answer: {e}"),
        },
    }
    0
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// The curve as a sparkline and a table, the point of no return and what
/// happened just before it.
pub fn table(b: &Blame) -> String {
    let mut w = String::new();
    let _ = writeln!(
        w,
        "blame {} seed {}: {} (detected at {})",
        b.scenario,
        b.seed,
        b.invariant,
        seconds(b.detected_ms)
    );
    let futures = b.points.first().map_or(0, |p| p.futures);
    let _ = writeln!(
        w,
        "P({} fails | the run's history up to t), {futures} futures a point:",
        b.invariant
    );
    let _ = writeln!(w, "  {}", sparkline(&b.points));
    let _ = writeln!(w, "  {:>10}  {:>5}  failed", "t", "p");
    for p in &b.points {
        let errors = if p.errors > 0 {
            format!(" ({} panicked)", p.errors)
        } else {
            String::new()
        };
        let _ = writeln!(
            w,
            "  {:>10}  {:>5.2}  {}/{}{errors}",
            seconds(p.t_ms),
            p.p,
            p.failed,
            p.futures
        );
    }
    match b.point_of_no_return_ms {
        Some(at) => {
            let _ = writeln!(
                w,
                "point of no return: {} (P >= {THRESHOLD} from there on)",
                seconds(at)
            );
            if !b.window.is_empty() {
                let _ = writeln!(w, "what happened just before it:");
                for e in &b.window {
                    let _ = writeln!(w, "  {:>10}  {}  {}", seconds(e.at_ms), e.node, e.event);
                }
            }
        }
        None => {
            let _ = writeln!(
                w,
                "no point of no return: the futures do not reach P >= {THRESHOLD} and stay (the failure depends on luck after the last point)"
            );
        }
    }
    w
}
