//! One seed, start to finish, with panics caught and reported with their seed.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::harness::{self, Outcome, RunOptions, TraceError};
use crate::report::Summary;
use crate::scenario::Scenario;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that records the panic's message
/// and location for the reporting thread instead of printing it, so a sweep's
/// output stays readable. Panics outside a caught run print as usual.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let caught = CATCHING.with(Cell::get);
            if caught {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let message = payload_text(info.payload());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                default(info);
            }
        }));
    });
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// The result of one seed: its summary, and the full outcome unless it panicked.
pub struct SeedRun {
    /// The JSON summary (verdict error with the panic message if it panicked).
    pub summary: Summary,
    /// The run's full outcome (None when it panicked).
    pub outcome: Option<Outcome>,
}

/// Runs `f`, catching a panic inside it: `Err` with the panic's message and location.
pub fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_hook();
    CATCHING.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(false));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| payload_text(payload.as_ref()))
    })
}

/// Runs one seed, catching a panic inside the simulation as verdict `error`.
pub fn run_seed(
    scenario: &Scenario,
    file: &str,
    seed: u64,
    options: &RunOptions,
) -> Result<SeedRun, TraceError> {
    match catching(|| harness::run(scenario, seed, options)) {
        Ok(Ok(outcome)) => Ok(SeedRun {
            summary: Summary::of(&scenario.name, file, seed, &outcome),
            outcome: Some(outcome),
        }),
        Ok(Err(e)) => Err(e),
        Err(message) => {
            let mut summary = Summary::of_panic(&scenario.name, seed, message);
            if options.swarm {
                let topology = crate::harness::topology::Topology::of(scenario);
                summary.swarm =
                    crate::harness::swarm_mix::SwarmMix::draw(scenario, &topology, seed);
            }
            Ok(SeedRun {
                summary,
                outcome: None,
            })
        }
    }
}
