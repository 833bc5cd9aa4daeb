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
    runs: u32,
    /// Records sent by the last failing candidate.
    records_sent: u64,
}

impl Oracle<'_> {
    /// Does `s` still violate the invariant at the seed?
    fn fails(&mut self, s: &Scenario) -> bool {
        self.runs += 1;
        let Ok(run) = run_seed(s, "shrink", self.seed, self.options) else {
            return false;
        };
        let Some(outcome) = run.outcome else {
            return false;
        };
        let fails = outcome
            .violations
            .iter()
            .any(|v| v.invariant == self.invariant);
        if fails {
            self.records_sent = outcome.stats.records_sent;
        }
        fails
    }

    /// Keeps `candidate` in `best` if it still fails.
    fn try_keep(&mut self, best: &mut Scenario, candidate: Scenario) -> bool {
        if candidate == *best || !self.fails(&candidate) {
            return false;
        }
        *best = candidate;
        true
    }
}

/// Shrinks `scenario` at `seed` against `invariant` (default: the first one
/// the run violates). `progress` hears of each kept step.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    invariant: Option<&str>,
    options: &RunOptions,
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
            let mut candidate = best.clone();
            let end = (i + chunk).min(candidate.faults.len());
            candidate.faults.drain(i..end);
            if oracle.try_keep(best, candidate) {
                removed = true;
                progress(&format!("dropped faults: {} left", best.faults.len()));
            } else {
                i += chunk;
            }
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
    for unit in [SECOND, SECOND / 10, SECOND / 1000] {
        let round = |ns: u64| (ns + unit / 2) / unit * unit;
        let mut candidate = best.clone();
        for f in &mut candidate.faults {
            f.at_ns = round(f.at_ns).min(candidate.duration_ns - 1);
            if let Some(d) = schedule::way_back(f) {
                schedule::set_way_back(f, round(d).max(unit));
            }
        }
        if oracle.try_keep(best, candidate) {
            progress(&format!("fault times rounded to {}", format_duration(unit)));
            return;
        }
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
    while best.producers.len() > 1 && !targets_producers(best) {
        let mut candidate = best.clone();
        candidate.producers.pop();
        if !oracle.try_keep(best, candidate) {
            break;
        }
        progress("dropped a [[producers]] entry");
    }
    for i in 0..best.producers.len() {
        while best.producers[i].count > 1 && !targets_producers(best) {
            let mut candidate = best.clone();
            candidate.producers[i].count = (candidate.producers[i].count / 2).max(1);
            if !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!("producers: {}", best.producers[i].count));
        }
        // Halve the rate down to 10 records per second.
        loop {
            let rate = best.producers[i].rate;
            let per_second = rate.records * SECOND / rate.per_ns.max(1);
            if per_second <= 10 {
                break;
            }
            let mut candidate = best.clone();
            candidate.producers[i].rate.records = (rate.records / 2).max(1);
            if !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!("producer rate halved to {}/s", per_second / 2));
        }
    }
    for i in 0..best.consumers.len() {
        while best.consumers[i].count > 1 {
            let mut candidate = best.clone();
            candidate.consumers[i].count -= 1;
            if targets_missing_consumer(&candidate) || !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!(
                "group {}: {} consumers",
                best.consumers[i].group, best.consumers[i].count
            ));
        }
    }
    for i in 0..best.topics.len() {
        while best.topics[i].partitions > 1 {
            let mut candidate = best.clone();
            candidate.topics[i].partitions = (candidate.topics[i].partitions / 2).max(1);
            if !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!(
                "topic {}: {} partitions",
                best.topics[i].name, best.topics[i].partitions
            ));
        }
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
        while let Some(delay) = schedule::way_back(&best.faults[i]) {
            let shorter = delay / 2 / (SECOND / 10) * (SECOND / 10);
            if shorter < SECOND / 2 {
                break;
            }
            let mut candidate = best.clone();
            schedule::set_way_back(&mut candidate.faults[i], shorter);
            if !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!(
                "{} at {}: way back after {}",
                best.faults[i].kind,
                format_duration(best.faults[i].at_ns),
                format_duration(shorter)
            ));
        }
    }
}

/// Move each fault later, halfway to the next one (or to the end of the
/// fault phase), while it fails: the story starts from a steadier cluster.
fn move_later(oracle: &mut Oracle<'_>, best: &mut Scenario, progress: &mut dyn FnMut(&str)) {
    for i in (0..best.faults.len()).rev() {
        for _ in 0..3 {
            let f = &best.faults[i];
            let limit = best
                .faults
                .get(i + 1)
                .map_or(best.duration_ns, |next| next.at_ns);
            let end = f.at_ns + schedule::way_back(f).unwrap_or(0);
            // Only as far as keeps the fault and its way back in the phase.
            let room = limit.saturating_sub(end.max(f.at_ns + 1));
            let step = room / 2 / (SECOND / 10) * (SECOND / 10);
            if step == 0 || f.kind == FaultKind::Heal {
                break;
            }
            let mut candidate = best.clone();
            candidate.faults[i].at_ns += step;
            if !oracle.try_keep(best, candidate) {
                break;
            }
            progress(&format!(
                "{} moved to {}",
                best.faults[i].kind,
                format_duration(best.faults[i].at_ns)
            ));
        }
    }
}
