//! `ksim explore merge DIR...`: the results of several sweeps of one
//! scenario (the shards of a range run on several machines, or a sweep cut
//! short and resumed) as one summary.

use std::path::{Path, PathBuf};

use super::explore::ResultsHeader;
use super::{Format, EXIT_USAGE};
use crate::explore::{ExploreReport, SeedRange};
use crate::report::Summary;

/// Exit code when two results of one seed disagree (determinism is broken).
const EXIT_DIVERGED: u8 = 3;

/// Arguments of `ksim explore merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folders (searched for explore*.jsonl results files) or results files
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Where the merged summary is written (as DIR/SCENARIO/explore-merged.json)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Every `explore*.jsonl` under `path` (or `path` itself), sorted.
fn results_files(path: &Path, depth: u32, found: &mut Vec<PathBuf>) {
    if path.is_file() {
        found.push(path.to_owned());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() && depth > 0 {
            results_files(&p, depth - 1, found);
        } else if name.starts_with("explore") && name.ends_with(".jsonl") {
            found.push(p);
        }
    }
}

/// The rechecks a sweep's summary (`explore*.json`) reports: how many
/// seeds were run twice, and those that ran differently.
fn rechecks(path: &Path) -> Option<(u64, Vec<crate::recheck::Nondeterministic>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let rechecked = value.get("rechecked")?.as_u64()?;
    let nondeterministic = serde_json::from_value(value.get("nondeterministic")?.clone()).ok()?;
    Some((rechecked, nondeterministic))
}

/// One results file: its header and its summaries.
fn read(path: &Path) -> Result<(ResultsHeader, Vec<Summary>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: ResultsHeader = lines
        .next()
        .ok_or_else(|| format!("{}: empty results file", path.display()))
        .and_then(|l| {
            serde_json::from_str(l)
                .map_err(|e| format!("{}:1: not a results header: {e}", path.display()))
        })?;
    let mut summaries = Vec::new();
    for (i, line) in lines.enumerate() {
        match serde_json::from_str::<Summary>(line) {
            Ok(s) => summaries.push(s),
            // A line cut short by a killed sweep: the rest is still good.
            Err(_) if i + 2 == text.lines().filter(|l| !l.trim().is_empty()).count() => {
                eprintln!(
                    "warning: {}: the last line is incomplete and is skipped",
                    path.display()
                );
            }
            Err(e) => return Err(format!("{}:{}: {e}", path.display(), i + 2)),
        }
    }
    Ok((header, summaries))
}

pub fn main(args: Args) -> u8 {
    let mut files = Vec::new();
    for d in &args.dirs {
        results_files(d, 3, &mut files);
    }
    if files.is_empty() {
        eprintln!("error: no explore*.jsonl results files under {:?}; a sweep (ksim explore) writes them to DIR/SCENARIO/", args.dirs);
        return EXIT_USAGE;
    }
    let mut header: Option<ResultsHeader> = None;
    let mut by_seed: std::collections::BTreeMap<u64, Summary> = Default::default();
    for f in &files {
        let (h, summaries) = match read(f) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        };
        if let Some(first) = &header {
            if first.scenario != h.scenario || first.seeds != h.seeds {
                eprintln!(
                    "error: {} holds {} seeds {}, but the first file holds {} seeds {}; merge the results of one sweep at a time",
                    f.display(),
                    h.scenario,
                    h.seeds,
                    first.scenario,
                    first.seeds
                );
                return EXIT_USAGE;
            }
        } else {
            header = Some(h);
        }
        for s in summaries {
            if let Some(other) = by_seed.get(&s.seed) {
                if other.trace_hash != s.trace_hash || other.verdict != s.verdict {
                    eprintln!(
                        "error: seed {} ran twice with different results (trace_hash {} vs {}): the runs are not deterministic across these machines",
                        s.seed, other.trace_hash, s.trace_hash
                    );
                    return EXIT_DIVERGED;
                }
            }
            by_seed.insert(s.seed, s);
        }
    }
    let header = header.expect("at least one file was read");
    let Ok(range) = header.seeds.parse::<SeedRange>() else {
        eprintln!("error: bad seed range {:?} in the results", header.seeds);
        return EXIT_USAGE;
    };
    let results: Vec<Summary> = by_seed
        .into_values()
        .filter(|s| (range.start..range.end).contains(&s.seed))
        .collect();
    let mut report = ExploreReport::new(&header.scenario, &header.scenario_file, range, results);
    report.missing = range.len() - report.runs;
    // Each sweep's determinism rechecks, from the summary it wrote beside
    // its results (an interrupted sweep wrote none).
    for f in &files {
        let Some((rechecked, nondeterministic)) = rechecks(&f.with_extension("json")) else {
            continue;
        };
        report.rechecked += rechecked;
        report.nondeterministic.extend(nondeterministic);
    }
    report.nondeterministic.sort_by_key(|n| n.seed);
    let path = args.out.join(&header.scenario).join("explore-merged.json");
    let table = report.table_with(&format!(
        "{} runs from {} results files",
        report.runs,
        files.len()
    ));
    super::explore::write_and_print(&report, &path, args.format, &table);
    match report.exit_code() {
        0 if report.missing > 0 => {
            eprintln!(
                "error: {} seeds of {} have no result: a shard is missing or was interrupted",
                report.missing, header.seeds
            );
            EXIT_USAGE
        }
        code => code,
    }
}
