//! Seed sweeps: independent seeds on worker threads, one run per seed, each
//! single-threaded; results are gathered by seed, so `--jobs 1` and
//! `--jobs N` give identical results.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::Serialize;

use crate::report::{replay_command, Summary, Verdict};

/// A half-open range of seeds, written `A..B` (or inclusive `A..=B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// Number of seeds.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// True when the range holds no seed.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl std::fmt::Display for SeedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid seed range {s:?}; valid: A..B (B excluded) or A..=B, e.g. 0..1000");
        let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
            (a, b, true)
        } else if let Some((a, b)) = s.split_once("..") {
            (a, b, false)
        } else {
            return Err(bad());
        };
        let start: u64 = a.trim().parse().map_err(|_| bad())?;
        let last: u64 = b.trim().parse().map_err(|_| bad())?;
        let end = if inclusive {
            last.checked_add(1).ok_or_else(bad)?
        } else {
            last
        };
        if end <= start {
            return Err(format!(
                "empty seed range {s:?}; the end must be above the start"
            ));
        }
        Ok(Self { start, end })
    }
}

/// One of N shards of a seed range, `K/N` with K from 1: the seeds whose
/// offset from the range's start is K-1 modulo N, so N machines running
/// shards 1/N..N/N cover the range once, with the same load each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 1.
    pub k: u64,
    /// How many shards.
    pub n: u64,
}

impl Shard {
    /// The seeds of `range` this shard runs.
    pub fn seeds(&self, range: SeedRange) -> Vec<u64> {
        (range.start..range.end)
            .filter(|s| (s - range.start) % self.n == self.k - 1)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid shard {s:?}; valid: K/N with 1 <= K <= N, e.g. 1/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Self { k, n })
    }
}

/// Runs `run_one` for every seed on `jobs` threads until `stop` is set (a
/// run in progress finishes); `on_done` sees each result as it finishes (in
/// completion order); the returned list is in seed order.
pub fn sweep<R, D>(
    seeds: &[u64],
    jobs: usize,
    stop: &AtomicBool,
    run_one: R,
    mut on_done: D,
) -> Vec<Summary>
where
    R: Fn(u64) -> Summary + Sync,
    D: FnMut(&Summary),
{
    let next = AtomicUsize::new(0);
    let jobs = jobs.clamp(1, seeds.len().clamp(1, 1024));
    let (tx, rx) = mpsc::channel::<Summary>();
    let mut results = BTreeMap::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, run_one) = (&next, &run_one);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                if tx.send(run_one(seed)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for summary in rx {
            on_done(&summary);
            results.insert(summary.seed, summary);
        }
    });
    results.into_values().collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A failing seed in the sweep report.
#[derive(Clone, Debug, Serialize)]
pub struct Failing {
    /// The seed.
    pub seed: u64,
    /// fail or error.
    pub verdict: Verdict,
    /// Invariants violated (empty for an error).
    pub invariants: Vec<String>,
    /// The first violation's detail, or the panic.
    pub detail: String,
    /// The command that replays it.
    pub replay: String,
}

/// How far a sweep got into one protocol state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reached {
    /// Seeds that reached it at least once.
    pub seeds: u64,
    /// Times it was reached, over all seeds.
    pub total: u64,
}

/// `explore.json`: the whole sweep.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreReport {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_file: String,
    /// The seed range.
    pub seeds: String,
    /// This sweep's shard of the range (`--shard K/N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Stopped early (Ctrl-C): only the finished seeds are here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Seeds of the range (or shard) with no result.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: u64,
    /// Runs made.
    pub runs: u64,
    /// Seeds that passed.
    pub pass: u64,
    /// Seeds that violated an invariant.
    pub fail: u64,
    /// Seeds whose run panicked.
    pub error: u64,
    /// Violations per invariant, over all seeds.
    pub violations_by_invariant: BTreeMap<String, u64>,
    /// Per protocol state: how many seeds reached it and how often in all.
    pub coverage: BTreeMap<String, Reached>,
    /// Seeds run a second time to check that the run is deterministic
    /// (`--recheck PERCENT`).
    pub rechecked: u64,
    /// Rechecked seeds whose second run gave another trace hash: bugs in
    /// the simulator itself.
    pub nondeterministic: Vec<crate::recheck::Nondeterministic>,
    /// Seeds of the range (or shard), in order, up to and including the
    /// first that violated an invariant (none failed: null).
    pub runs_to_first_failure: Option<u64>,
    /// Every failing seed with its replay command.
    pub failing: Vec<Failing>,
    /// Every seed's summary, in seed order.
    pub results: Vec<Summary>,
}

impl ExploreReport {
    /// Summarises a sweep's results.
    pub fn new(scenario: &str, file: &str, seeds: SeedRange, results: Vec<Summary>) -> Self {
        let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count() as u64;
        let mut violations_by_invariant = BTreeMap::new();
        for (invariant, n) in results.iter().flat_map(Summary::violation_counts) {
            *violations_by_invariant.entry(invariant).or_insert(0) += n;
        }
        let mut coverage: BTreeMap<String, Reached> = crate::harness::coverage::STATES
            .iter()
            .map(|(k, _)| ((*k).to_owned(), Reached::default()))
            .collect();
        for (state, &n) in results.iter().flat_map(|r| &r.coverage) {
            let c = coverage.entry(state.clone()).or_default();
            c.seeds += u64::from(n > 0);
            c.total += n;
        }
        let failing = results
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .map(|r| {
                let mut invariants: Vec<String> =
                    r.violations.iter().map(|v| v.invariant.clone()).collect();
                invariants.dedup();
                Failing {
                    seed: r.seed,
                    verdict: r.verdict,
                    invariants,
                    detail: r
                        .violations
                        .first()
                        .map(|v| v.detail.clone())
                        .or_else(|| r.error.clone())
                        .unwrap_or_default(),
                    replay: replay_command(file, r.seed, r.flags()),
                }
            })
            .collect();
        Self {
            scenario: scenario.to_owned(),
            scenario_file: file.to_owned(),
            seeds: seeds.to_string(),
            shard: None,
            interrupted: false,
            missing: 0,
            runs: results.len() as u64,
            pass: count(Verdict::Pass),
            fail: count(Verdict::Fail),
            error: count(Verdict::Error),
            violations_by_invariant,
            coverage,
            rechecked: 0,
            nondeterministic: Vec::new(),
            runs_to_first_failure: None,
            failing,
            results,
        }
    }

    /// The exit code: 3 if any run panicked or a recheck found the
    /// simulator nondeterministic, else 1 if any failed, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.error > 0 || !self.nondeterministic.is_empty() {
            3
        } else if self.fail > 0 {
            1
        } else {
            0
        }
    }

    /// The summary table printed at the end of a sweep.
    pub fn table(&self, jobs: usize, wall_ms: u64) -> String {
        self.table_with(&format!(
            "{} runs on {jobs} jobs, {wall_ms} ms wall",
            self.runs
        ))
    }

    /// The summary table, `how` saying how the runs were made.
    pub fn table_with(&self, how: &str) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let w = &mut out;
        let shard = self
            .shard
            .as_ref()
            .map(|k| format!(" shard {k}"))
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "explore {} seeds {}{shard} ({how})",
            self.scenario, self.seeds
        );
        if self.interrupted {
            let _ = writeln!(w, "  interrupted: {} seeds not run", self.missing);
        } else if self.missing > 0 {
            let _ = writeln!(w, "  missing {:>6} (seeds with no result)", self.missing);
        }
        let _ = writeln!(w, "  pass   {:>6}", self.pass);
        let _ = writeln!(w, "  fail   {:>6}", self.fail);
        let _ = writeln!(w, "  error  {:>6}", self.error);
        for (invariant, n) in &self.violations_by_invariant {
            let _ = writeln!(w, "  {invariant:<28} violated {n} times");
        }
        let ran = self.runs - self.error;
        if ran > 0 {
            let _ = writeln!(w, "\ncoverage (seeds that reached each state, of {ran})");
            for (state, meaning) in crate::harness::coverage::STATES {
                let c = self.coverage.get(state).copied().unwrap_or_default();
                let how = if c.seeds == 0 {
                    format!("never reached: {meaning}")
                } else {
                    format!("{} times in all", c.total)
                };
                let _ = writeln!(w, "  {state:<34} {:>6}  {how}", c.seeds);
            }
        }
        if self.rechecked > 0 {
            let _ = writeln!(
                w,
                "  rechecked {:>3} seeds for determinism: {}",
                self.rechecked,
                match self.nondeterministic.len() {
                    0 => "every trace hash the same".to_owned(),
                    n => format!("{n} NONDETERMINISTIC"),
                }
            );
        }
        for n in &self.nondeterministic {
            let _ = writeln!(
                w,
                "\nnondeterministic: seed {} ran with trace hash {}, then {}",
                n.seed, n.trace_hash, n.recheck_trace_hash
            );
            match &n.divergence {
                Some(d) => {
                    let _ = writeln!(w, "  two more runs part at event {}:", d.event);
                    let _ = writeln!(w, "    a: {}", d.first.as_deref().unwrap_or("(trace ends)"));
                    let _ = writeln!(
                        w,
                        "    b: {}",
                        d.second.as_deref().unwrap_or("(trace ends)")
                    );
                }
                None => {
                    let _ = writeln!(w, "  two more runs did not part");
                }
            }
            let _ = writeln!(w, "  traces: {} {}", n.traces[0], n.traces[1]);
        }
        if !self.failing.is_empty() {
            let _ = writeln!(w, "\nfailing seeds");
            for f in &self.failing {
                let what = if f.invariants.is_empty() {
                    f.detail.clone()
                } else {
                    format!("{}: {}", f.invariants.join(","), f.detail)
                };
                let _ = writeln!(w, "  seed {:<6} {:<5}  {what}", f.seed, f.verdict.as_str());
                let _ = writeln!(w, "    replay: {}", f.replay);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_parse_with_exclusive_and_inclusive_ends() {
        assert_eq!("0..10".parse::<SeedRange>().unwrap().len(), 10);
        assert_eq!("5..=5".parse::<SeedRange>().unwrap().len(), 1);
        assert!("10..10".parse::<SeedRange>().is_err());
        assert!("a..b".parse::<SeedRange>().is_err());
        assert!("7".parse::<SeedRange>().is_err());
        assert!(format!("0..={}", u64::MAX).parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards_cover_a_range_once_with_even_shares() {
        let range: SeedRange = "10..1010".parse().unwrap();
        let mut all: Vec<u64> = (1..=3)
            .flat_map(|k| Shard { k, n: 3 }.seeds(range))
            .collect();
        assert_eq!(Shard { k: 1, n: 3 }.seeds(range).len(), 334);
        assert_eq!(Shard { k: 3, n: 3 }.seeds(range).len(), 333);
        all.sort_unstable();
        assert_eq!(all, (10..1010).collect::<Vec<_>>());
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { k: 2, n: 4 }));
        for bad in ["0/4", "5/4", "1/0", "1", "a/b"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stopped_sweep_runs_no_more_seeds() {
        let all: Vec<u64> = (0..100).collect();
        let stop = AtomicBool::new(false);
        let run_one = |seed: u64| {
            if seed == 9 {
                stop.store(true, Ordering::Relaxed);
            }
            fake(seed)
        };
        let done = sweep(&all, 1, &stop, run_one, |_| {});
        assert_eq!(done.len(), 10);
    }

    fn fake(seed: u64) -> Summary {
        let mut s = Summary::of_panic("t", seed, String::new());
        s.verdict = if seed.is_multiple_of(3) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        s.error = None;
        s
    }

    #[test]
    fn sweep_results_are_in_seed_order_whatever_the_jobs() {
        let seeds: SeedRange = "0..50".parse().unwrap();
        let all: Vec<u64> = (0..50).collect();
        let go = AtomicBool::new(false);
        let one = sweep(&all, 1, &go, fake, |_| {});
        let four = sweep(&all, 4, &go, fake, |_| {});
        assert_eq!(one, four);
        assert_eq!(
            one.iter().map(|s| s.seed).collect::<Vec<_>>(),
            (0..50).collect::<Vec<_>>()
        );
        let report = ExploreReport::new("t", "t.toml", seeds, one);
        assert_eq!((report.pass, report.fail, report.error), (33, 17, 0));
        assert_eq!(report.exit_code(), 1);
    }
}
