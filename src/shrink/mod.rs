//! `ksim shrink`: from a failing seed to the smallest scenario that still
//! fails the same invariant. The faults the run executed become an explicit
//! schedule on named nodes (no swarm draws, no targets resolved at run
//! time), which is then minimised by re-running the simulator at each step
//! (delta debugging): drop faults, shorten their ways back, move them later,
//! shorten the fault phase, and shrink the workload (producers, their rate,
//! consumers, partitions). A candidate is kept only when the same seed still
//! violates the same invariant.

pub mod schedule;

use crate::harness::topology::Topology;
use crate::harness::RunOptions;
use crate::runner::run_seed;
use crate::scenario::{format_duration, FaultKind, Scenario, Target};

/// How big a scenario is, for the before/after table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Size {
    /// Scripted faults (a fault with its way back counts once).
    pub faults: usize,
    /// Whether a `[swarm]` table draws more.
    pub swarm: bool,
    /// The fault phase.
    pub duration_ns: u64,
    /// Producers over all entries.
    pub producers: u32,
    /// Records the producers sent in the run.
    pub records_sent: u64,
    /// Partitions over all topics.
    pub partitions: u32,
    /// Consumers over all entries.
    pub consumers: u32,
}

impl Size {
    fn of(s: &Scenario, records_sent: u64) -> Self {
        Self {
            faults: s.faults.len(),
            swarm: s.swarm.is_some(),
            duration_ns: s.duration_ns,
            producers: s.producers.iter().map(|p| p.count).sum(),
            records_sent,
            partitions: s.topics.iter().map(|t| t.partitions).sum(),
            consumers: s.consumers.iter().map(|c| c.count).sum(),
        }
    }
}

/// What a shrink found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The invariant that still fails.
    pub invariant: String,
    /// The original run's size.
    pub before: Size,
    /// The shrunk scenario's size.
    pub after: Size,
    /// The shrunk scenario (scripted faults only).
    pub scenario: Scenario,
    /// Simulator runs it took.
    pub runs: u32,
}

/// Why nothing was shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The seed passes.
    #[error("seed {seed} of {scenario} violates no invariant: nothing to shrink")]
    Passes {
        /// Scenario name.
        scenario: String,
        /// The seed.
        seed: u64,
    },
    /// The seed fails, but not the invariant asked for.
    #[error("seed {seed} of {scenario} does not violate {invariant}; it violates {violated}")]
    OtherInvariant {
        /// Scenario name.
        scenario: String,
        /// The seed.
        seed: u64,
        /// Asked for.
        invariant: String,
        /// What it violates.
        violated: String,
    },
    /// The simulator panicked.
    #[error("seed {seed} panicked: {message}")]
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic.
        message: String,
    },
    /// The faults as an explicit schedule no longer fail.
    #[error("the faults seed {seed} executed, scripted on the nodes they hit, no longer violate {invariant}; the failure depends on how they were drawn")]
    NotReproduced {
        /// The seed.
        seed: u64,
        /// The invariant.
        invariant: String,
    },
}

/// Runs shrinking candidates and counts the runs.
struct Oracle<'a> {
    seed: u64,
    invariant: String,
    options: &'a RunOptions,
    /// Candidates run at once.
    jobs: usize,
    runs: u32,
    /// Records sent by the last failing candidate.
    records_sent: u64,
}

impl Oracle<'_> {
    /// Does `s` still violate the invariant at the seed, and how many
    /// records did it send?
    fn judge(&self, s: &Scenario) -> (bool, u64) {
        let Ok(run) = run_seed(s, "shrink", self.seed, self.options) else {
            return (false, 0);
        };
        let Some(outcome) = run.outcome else {
            return (false, 0);
        };
        let fails = outcome
            .violations
            .iter()
            .any(|v| v.invariant == self.invariant);
        (fails, outcome.stats.records_sent)
    }

    /// Does `s` still fail? (One run, counted.)
    fn fails(&mut self, s: &Scenario) -> bool {
        self.runs += 1;
        let (fails, sent) = self.judge(s);
        if fails {
            self.records_sent = sent;
        }
        fails
    }

    /// The first of `candidates`, in order, whose failing is `want`
    /// (a candidate equal to `same` counts as passing without a run). Up
    /// to `jobs` candidates run at once, but the answer, the runs counted
    /// and the records kept are those of trying them one at a time, so
    /// they do not depend on `jobs`.
    fn scan(
        &mut self,
        same: Option<&Scenario>,
        candidates: &[Scenario],
        want: bool,
    ) -> Option<usize> {
        let mut sent = Vec::with_capacity(candidates.len());
        let mut i = 0;
        while i < candidates.len() {
            let batch = &candidates[i..(i + self.jobs.max(1)).min(candidates.len())];
            let judge = |c: &Scenario| (same != Some(c)).then(|| self.judge(c));
            let results: Vec<Option<(bool, u64)>> = if batch.len() == 1 {
                vec![judge(&batch[0])]
            } else {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = batch
                        .iter()
                        .map(|c| scope.spawn(move || judge(c)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(Some((false, 0))))
                        .collect()
                })
            };
            for (k, result) in results.into_iter().enumerate() {
                let fails = match result {
                    None => false,
                    Some((fails, records)) => {
                        self.runs += 1;
                        sent.push((i + k, records));
                        fails
                    }
                };
                if fails == want {
                    // The records of the last candidate kept: this one
                    // when looking for a failure, the one before it when
                    // looking for the end of a chain of failures.
                    let kept = if want {
                        Some(i + k)
                    } else {
                        (i + k).checked_sub(1)
                    };
                    if let Some(&(_, r)) = kept.and_then(|j| sent.iter().find(|(n, _)| *n == j)) {
                        self.records_sent = r;
                    }
                    return Some(i + k);
                }
            }
            i += batch.len();
        }
        if !want {
            if let Some(&(_, r)) = sent.last() {
                self.records_sent = r;
            }
        }
        None
    }

    /// Keeps `candidate` in `best` if it still fails.
    fn try_keep(&mut self, best: &mut Scenario, candidate: Scenario) -> bool {
        if candidate == *best || !self.fails(&candidate) {
            return false;
        }
        *best = candidate;
        true
    }

    /// Keeps the first of `candidates` (each a change of `best`) that
    /// still fails; its index.
    fn keep_first(&mut self, best: &mut Scenario, candidates: Vec<Scenario>) -> Option<usize> {
        let i = self.scan(Some(best), &candidates, true)?;
        *best = candidates.into_iter().nth(i).expect("scanned");
        Some(i)
    }

    /// Follows a chain of changes from `best` (`next` makes the next
    /// step from the last, None ends it; at most `max` steps) while each
    /// step still fails, keeping the last that does; `kept` hears of each
    /// kept step in order.
    fn keep_chain(
        &mut self,
        best: &mut Scenario,
        max: usize,
        mut next: impl FnMut(&Scenario) -> Option<Scenario>,
        mut kept: impl FnMut(&Scenario),
    ) {
        let mut chain: Vec<Scenario> = Vec::new();
        while chain.len() < max {
            let last = chain.last().unwrap_or(best);
            match next(last) {
                Some(c) if c != *last => chain.push(c),
                _ => break,
            }
        }
        let passing = self.scan(None, &chain, false).unwrap_or(chain.len());
        for step in &chain[..passing] {
            kept(step);
        }
        if passing > 0 {
            *best = chain.swap_remove(passing - 1);
        }
    }
}

/// Shrinks `scenario` at `seed` against `invariant` (default: the first one
/// the run violates). `progress` hears of each kept step.
///
/// `jobs` candidates run at once; the result (the scenario, and the runs
/// it reports) is the same for every `jobs`.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    invariant: Option<&str>,
    options: &RunOptions,
    jobs: usize,
    progress: &mut dyn FnMut(&str),
) -> Result<Shrunk, ShrinkError> {
    let first = run_seed(scenario, "shrink", seed, options).map_err(|e| ShrinkError::Panicked {
        seed,
        message: e.to_string(),
    })?;
    let Some(outcome) = first.outcome else {
        return Err(ShrinkError::Panicked {
            seed,
            message: first.summary.error.unwrap_or_default(),
        });
    };
    let Some(violated) = outcome.violations.first() else {
        return Err(ShrinkError::Passes {
            scenario: scenario.name.clone(),
            seed,
        });
    };
    let invariant = match invariant {
        Some(name) if outcome.violations.iter().any(|v| v.invariant == name) => name.to_owned(),
        Some(name) => {
            return Err(ShrinkError::OtherInvariant {
                scenario: scenario.name.clone(),
                seed,
                invariant: name.to_owned(),
                violated: violated.invariant.clone(),
            })
        }
        None => violated.invariant.clone(),
    };
    let before = Size::of(scenario, outcome.stats.records_sent);
    let topology = Topology::of(scenario);
    // A --swarm seed's drawn latency stays; its faults become the schedule.
    let mut best = match &outcome.swarm {
        Some(mix) => mix.apply(scenario),
        None => scenario.clone(),
    };
    best.swarm = None;
    let plain = RunOptions {
        swarm: false,
        ..options.clone()
    };
    let options = &plain;
    best.faults = schedule::merge_all_brokers(
        schedule::explicit(&outcome.faults, &topology),
        scenario.cluster.brokers,
    );
    let mut oracle = Oracle {
        seed,
        invariant: invariant.clone(),
        options,
        jobs,
        runs: 1,
        records_sent: outcome.stats.records_sent,
    };
    if !oracle.fails(&best) {
        return Err(ShrinkError::NotReproduced { seed, invariant });
    }
    progress(&format!(
        "{} executed faults scripted on the nodes they hit: still violates {invariant}",
        best.faults.len()
    ));
    drop_faults(&mut oracle, &mut best, progress);
    round_times(&mut oracle, &mut best, progress);
    shorten_run(&mut oracle, &mut best, progress);
    shrink_workload(&mut oracle, &mut best, progress);
    shorten_ways_back(&mut oracle, &mut best, progress);
    move_later(&mut oracle, &mut best, progress);
    best.name = format!("{}_shrunk", scenario.name);
    best.description = format!(
        "Shrunk by `ksim shrink` from {} seed {seed}: the smallest fault schedule found that still violates {invariant} (run it with --seed {seed}). {}",
        scenario.name,
        scenario.description.trim()
    );
    // The kept candidate's figures are those of its last failing run.
    let after = Size::of(&best, oracle.records_sent);
    Ok(Shrunk {
        invariant,
        before,
        after,
        scenario: best,
        runs: oracle.runs,
    })
}

/// Delta debugging over the fault list: remove chunks, halving the chunk
/// size down to single faults, while the failure stays.
fn drop_faults(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    let mut chunk = best.faults.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        let mut removed = false;
        while i < best.faults.len() {
            // The candidates from i on, as if each were not kept.
            let starts: Vec<usize> = (i..best.faults.len()).step_by(chunk).collect();
            let candidates = starts
                .iter()
                .map(|&at| {
                    let mut candidate = best.clone();
                    let end = (at + chunk).min(candidate.faults.len());
                    candidate.faults.drain(at..end);
                    candidate
                })
                .collect();
            let Some(k) = oracle.keep_first(best, candidates) else {
                break;
            };
            removed = true;
            i = starts[k];
            progress(&format!("dropped faults: {} left", best.faults.len()));
        }
        if chunk == 1 && !removed {
            break;
        }
        chunk = (chunk / 2).max(1);
    }
}

/// Round every fault's time and way back to whole seconds, else to 100ms,
/// else to milliseconds (swarm draws are in nanoseconds), while it fails.
fn round_times(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    let units = [SECOND, SECOND / 10, SECOND / 1000];
    let candidates = units
        .iter()
        .map(|&unit| {
            let round = |ns: u64| (ns + unit / 2) / unit * unit;
            let mut candidate = best.clone();
            for f in &mut candidate.faults {
                f.at_ns = round(f.at_ns).min(candidate.duration_ns - 1);
                if let Some(d) = schedule::way_back(f) {
                    schedule::set_way_back(f, round(d).max(unit));
                }
            }
            candidate
        })
        .collect();
    if let Some(k) = oracle.keep_first(best, candidates) {
        progress(&format!(
            "fault times rounded to {}",
            format_duration(units[k])
        ));
    }
}

/// The end of the last fault's way back, or its time.
fn last_fault_end(s: &Scenario) -> u64 {
    s.faults
        .iter()
        .map(|f| f.at_ns + schedule::way_back(f).unwrap_or(0))
        .max()
        .unwrap_or(0)
}

const SECOND: u64 = 1_000_000_000;

/// A shorter fault phase: just past the last fault's way back, else halfway.
fn shorten_run(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    let floor = (last_fault_end(best) / SECOND + 1) * SECOND;
    let latest_at = best.faults.iter().map(|f| f.at_ns).max().unwrap_or(0);
    // A fault must fire within the fault phase.
    let floor = floor.max(latest_at + 1);
    let mut low = floor;
    while low < best.duration_ns {
        let mut candidate = best.clone();
        candidate.duration_ns = low;
        if oracle.try_keep(best, candidate) {
            progress(&format!(
                "fault phase shortened to {}",
                format_duration(best.duration_ns)
            ));
            break;
        }
        // Halfway between what failed and what is known to fail.
        let mid = (low + best.duration_ns) / 2 / SECOND * SECOND;
        if mid <= low || mid >= best.duration_ns {
            break;
        }
        low = mid;
    }
}

/// Fewer producers, a lower rate, fewer consumers and partitions.
fn shrink_workload(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    // Producer entries beyond the first, then counts down to 1.
    oracle.keep_chain(
        best,
        usize::MAX,
        |s| {
            (s.producers.len() > 1 && !targets_producers(s)).then(|| {
                let mut c = s.clone();
                c.producers.pop();
                c
            })
        },
        |_| progress("dropped a [[producers]] entry"),
    );
    for i in 0..best.producers.len() {
        oracle.keep_chain(
            best,
            usize::MAX,
            |s| {
                (s.producers[i].count > 1 && !targets_producers(s)).then(|| {
                    let mut c = s.clone();
                    c.producers[i].count = (c.producers[i].count / 2).max(1);
                    c
                })
            },
            |s| progress(&format!("producers: {}", s.producers[i].count)),
        );
        // Halve the rate down to 10 records per second.
        let per_second = |s: &Scenario| {
            let rate = s.producers[i].rate;
            rate.records * SECOND / rate.per_ns.max(1)
        };
        oracle.keep_chain(
            best,
            usize::MAX,
            |s| {
                (per_second(s) > 10).then(|| {
                    let mut c = s.clone();
                    c.producers[i].rate.records = (c.producers[i].rate.records / 2).max(1);
                    c
                })
            },
            |s| progress(&format!("producer rate halved to {}/s", per_second(s))),
        );
    }
    for i in 0..best.consumers.len() {
        oracle.keep_chain(
            best,
            usize::MAX,
            |s| {
                let mut c = s.clone();
                c.consumers[i].count = c.consumers[i].count.checked_sub(1).filter(|&n| n >= 1)?;
                (!targets_missing_consumer(&c)).then_some(c)
            },
            |s| {
                progress(&format!(
                    "group {}: {} consumers",
                    s.consumers[i].group, s.consumers[i].count
                ))
            },
        );
    }
    for i in 0..best.topics.len() {
        oracle.keep_chain(
            best,
            usize::MAX,
            |s| {
                (s.topics[i].partitions > 1).then(|| {
                    let mut c = s.clone();
                    c.topics[i].partitions = (c.topics[i].partitions / 2).max(1);
                    c
                })
            },
            |s| {
                progress(&format!(
                    "topic {}: {} partitions",
                    s.topics[i].name, s.topics[i].partitions
                ))
            },
        );
    }
}

/// Does any fault name a producer (so their numbering must stay)?
fn targets_producers(s: &Scenario) -> bool {
    s.faults.iter().any(|f| {
        f.target
            .iter()
            .chain(f.groups.iter().flatten())
            .any(|t| matches!(t, Target::Producer(_)))
    })
}

/// Does any fault name a consumer the scenario no longer has?
fn targets_missing_consumer(s: &Scenario) -> bool {
    s.faults.iter().any(|f| {
        f.target.iter().chain(f.groups.iter().flatten()).any(|t| {
            let Target::Consumer { group, index } = t else {
                return false;
            };
            let count: u32 = s
                .consumers
                .iter()
                .filter(|c| c.group == *group)
                .map(|c| c.count)
                .sum();
            *index >= count
        })
    })
}

/// Halve each fault's way back (restart, resume, heal) while it fails.
fn shorten_ways_back(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    for i in 0..best.faults.len() {
        let shorter = |s: &Scenario| {
            let delay = schedule::way_back(&s.faults[i])?;
            let shorter = delay / 2 / (SECOND / 10) * (SECOND / 10);
            (shorter >= SECOND / 2).then_some(shorter)
        };
        oracle.keep_chain(
            best,
            usize::MAX,
            |s| {
                let d = shorter(s)?;
                let mut c = s.clone();
                schedule::set_way_back(&mut c.faults[i], d);
                Some(c)
            },
            |s| {
                progress(&format!(
                    "{} at {}: way back after {}",
                    s.faults[i].kind,
                    format_duration(s.faults[i].at_ns),
                    format_duration(schedule::way_back(&s.faults[i]).unwrap_or(0))
                ))
            },
        );
    }
}

/// Move each fault later, halfway to the next one (or to the end of the
/// fault phase), while it fails: the story starts from a steadier cluster.
fn move_later(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    for i in (0..best.faults.len()).rev() {
        oracle.keep_chain(
            best,
            3,
            |s| {
                let f = &s.faults[i];
                let limit = s.faults.get(i + 1).map_or(s.duration_ns, |next| next.at_ns);
                let end = f.at_ns + schedule::way_back(f).unwrap_or(0);
                // Only as far as keeps the fault and its way back in the phase.
                let room = limit.saturating_sub(end.max(f.at_ns + 1));
                let step = room / 2 / (SECOND / 10) * (SECOND / 10);
                if step == 0 || f.kind == FaultKind::Heal {
                    return None;
                }
                let mut c = s.clone();
                c.faults[i].at_ns += step;
                Some(c)
            },
            |s| {
                progress(&format!(
                    "{} moved to {}",
                    s.faults[i].kind,
                    format_duration(s.faults[i].at_ns)
                ))
            },
        );
    }
}
