//! `ksim blame`: the point of no return of a failing seed (after
//! Antithesis's "when did the bug become inevitable"). At each time `t` of
//! a grid over the run, the seed is replayed exactly up to `t`, then every
//! random stream is reseeded with a suffix and the run goes on to its end;
//! the share of such futures that fail the same invariant estimates
//! P(failure | the history up to t). Where that estimate reaches 0.9 and
//! stays is the point of no return: what happened just before it made the
//! failure (nearly) certain.

use serde::Serialize;

use crate::check::ChainEvent;
use crate::harness::{Outcome, Run, RunOptions};
use crate::runner::{catching, run_seed};
use crate::scenario::Scenario;

/// How sure the futures must be, from a point on.
pub const THRESHOLD: f64 = 0.9;

/// One point of the curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Where the history stops and the futures branch, in simulated ms.
    pub t_ms: u64,
    /// The share of futures that failed the invariant.
    pub p: f64,
    /// Futures run.
    pub futures: u32,
    /// Of them, those that failed the invariant.
    pub failed: u32,
    /// Of them, those that panicked (counted as not failing it).
    #[serde(skip_serializing_if = "is_zero")]
    pub errors: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The whole answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Blame {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The invariant the futures must fail.
    pub invariant: String,
    /// When the seed's own run detected it.
    pub detected_ms: u64,
    /// The curve, in time order.
    pub points: Vec<Point>,
    /// The first point from which every point is at least [`THRESHOLD`].
    pub point_of_no_return_ms: Option<u64>,
    /// What happened in the seed's own run in the grid step before the
    /// point of no return: its faults and the violation's causal chain.
    pub window: Vec<ChainEvent>,
}

/// Why there is nothing to blame.
#[derive(Debug, thiserror::Error)]
pub enum BlameError {
    /// The seed passes.
    #[error("{scenario} seed {seed} passes: there is no failure to blame; pick a failing seed (ksim explore finds them)")]
    Passes {
        /// Scenario name.
        scenario: String,
        /// The seed.
        seed: u64,
    },
    /// The seed does not violate the invariant asked for.
    #[error("{scenario} seed {seed} does not violate {invariant} (it violates {violated})")]
    OtherInvariant {
        /// Scenario name.
        scenario: String,
        /// The seed.
        seed: u64,
        /// Asked for.
        invariant: String,
        /// What it violates first.
        violated: String,
    },
    /// The seed's own run panicked.
    #[error("seed {seed} panicked: {message}")]
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic.
        message: String,
    },
}

/// The grid: `points` times from 0 to just before the end, evenly spaced.
fn grid(end_ns: u64, points: u32) -> Vec<u64> {
    let n = u64::from(points.max(1));
    (0..n).map(|i| end_ns / n * i).collect()
}

/// One future: the seed's history up to `t`, then `suffix`'s randomness.
/// Some(true) when it fails `invariant`, None when it panicked.
fn future(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
    t: u64,
    suffix: u64,
    invariant: &str,
) -> Option<bool> {
    catching(|| {
        let mut run = Run::start(scenario, seed, options).ok()?;
        run.advance_to(t);
        run.reseed(suffix);
        let outcome = run.finish().ok()?;
        Some(outcome.violations.iter().any(|v| v.invariant == invariant))
    })
    .ok()
    .flatten()
}

/// Blames seed `seed` of `scenario` for `invariant` (default: its first
/// violation): `points` grid points, `futures` futures each, on `jobs`
/// threads. The answer does not depend on `jobs`.
pub fn blame(
    scenario: &Scenario,
    seed: u64,
    invariant: Option<&str>,
    options: &RunOptions,
    (points, futures, jobs): (u32, u32, usize),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Blame, BlameError> {
    let own = run_seed(scenario, "blame", seed, options).map_err(|e| BlameError::Panicked {
        seed,
        message: e.to_string(),
    })?;
    let Some(outcome) = own.outcome else {
        return Err(BlameError::Panicked {
            seed,
            message: own.summary.error.unwrap_or_default(),
        });
    };
    let Some(first) = outcome.violations.first() else {
        return Err(BlameError::Passes {
            scenario: scenario.name.clone(),
            seed,
        });
    };
    let violation = match invariant {
        None => first,
        Some(name) => outcome
            .violations
            .iter()
            .find(|v| v.invariant == name)
            .ok_or_else(|| BlameError::OtherInvariant {
                scenario: scenario.name.clone(),
                seed,
                invariant: name.to_owned(),
                violated: first.invariant.clone(),
            })?,
    };
    let invariant = violation.invariant.clone();
    let end_ns = outcome.sim_time_ns;
    let times = grid(end_ns, points);
    let work: Vec<(usize, u32)> = (0..times.len())
        .flat_map(|i| (0..futures).map(move |k| (i, k)))
        .collect();
    let results = run_all(&work, jobs, progress, |&(i, k)| {
        let suffix = ((i as u64) << 32) | u64::from(k) | (1 << 63);
        future(scenario, seed, options, times[i], suffix, &invariant)
    });
    let points: Vec<Point> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let mine = work.iter().zip(&results).filter(|((j, _), _)| *j == i);
            let (mut failed, mut errors, mut n) = (0, 0, 0);
            for (_, r) in mine {
                n += 1;
                match r {
                    Some(true) => failed += 1,
                    Some(false) => {}
                    None => errors += 1,
                }
            }
            Point {
                t_ms: t / sim::MILLIS,
                p: if n == 0 {
                    0.0
                } else {
                    f64::from(failed) / f64::from(n)
                },
                futures: n,
                failed,
                errors,
            }
        })
        .collect();
    let point_of_no_return_ms = point_of_no_return(&points);
    let window = match point_of_no_return_ms {
        Some(at) => window(
            &outcome,
            violation,
            at,
            end_ns / u64::from(points.len().max(1) as u32) / sim::MILLIS,
        ),
        None => Vec::new(),
    };
    Ok(Blame {
        scenario: scenario.name.clone(),
        seed,
        invariant,
        detected_ms: violation.at_ms,
        points,
        point_of_no_return_ms,
        window,
    })
}

/// The first point from which every point is at least [`THRESHOLD`].
pub fn point_of_no_return(points: &[Point]) -> Option<u64> {
    let mut first = None;
    for p in points {
        if p.p >= THRESHOLD {
            first.get_or_insert(p.t_ms);
        } else {
            first = None;
        }
    }
    first
}

/// The seed's own events in the grid step before `at_ms` (`step_ms`
/// long): the faults it executed and the violation's causal chain; when
/// that step holds none, the last fault before it.
fn window(
    outcome: &Outcome,
    violation: &crate::check::Violation,
    at_ms: u64,
    step_ms: u64,
) -> Vec<ChainEvent> {
    let from = at_ms.saturating_sub(step_ms);
    // The chain names the faults it involves; the others are added.
    let chain = &violation.chain;
    let faults = outcome
        .faults
        .iter()
        .filter(|f| !f.settle)
        .map(|f| ChainEvent {
            at_ms: f.at_ns / sim::MILLIS,
            node: f.target.clone(),
            event: format!("{}: {}", f.kind, f.detail),
        })
        .filter(|f| !chain.iter().any(|c| c.at_ms == f.at_ms && c.node == f.node));
    let mut all: Vec<ChainEvent> = faults.chain(chain.iter().cloned()).collect();
    all.sort_by_key(|e| e.at_ms);
    all.dedup();
    let inside: Vec<ChainEvent> = all
        .iter()
        .filter(|e| e.at_ms >= from && e.at_ms <= at_ms)
        .cloned()
        .collect();
    if !inside.is_empty() {
        return inside;
    }
    all.into_iter()
        .rev()
        .find(|e| e.at_ms <= at_ms)
        .into_iter()
        .collect()
}

/// Runs `f` on every item on `jobs` threads; the results in item order.
fn run_all<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    break;
                };
                let r = f(item);
                if let Ok(mut s) = slots.lock() {
                    s[i] = Some(r);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(n as u64, items.len() as u64);
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// A one-line sparkline of the curve.
pub fn sparkline(points: &[Point]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    points
        .iter()
        .map(|p| BARS[((p.p * 7.0).round() as usize).min(7)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(t_ms: u64, p: f64) -> Point {
        Point {
            t_ms,
            p,
            futures: 10,
            failed: (p * 10.0) as u32,
            errors: 0,
        }
    }

    #[test]
    fn the_point_of_no_return_is_where_the_curve_reaches_the_threshold_and_stays() {
        let curve = [
            pt(0, 0.1),
            pt(10, 0.95),
            pt(20, 0.5),
            pt(30, 0.9),
            pt(40, 1.0),
        ];
        assert_eq!(point_of_no_return(&curve), Some(30));
        assert_eq!(point_of_no_return(&[pt(0, 0.1), pt(10, 0.2)]), None);
        assert_eq!(point_of_no_return(&[pt(0, 1.0)]), Some(0));
        assert_eq!(sparkline(&curve), "▂█▅▇█");
    }

    #[test]
    fn the_grid_starts_at_zero_and_stays_before_the_end() {
        assert_eq!(grid(100, 4), vec![0, 25, 50, 75]);
    }
}
