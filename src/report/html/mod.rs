//! The HTML report of a run (placeholder; being written).

use super::Summary;
use crate::harness::Outcome;
use crate::scenario::Scenario;

/// Renders the self-contained HTML report of one run.
pub fn render(scenario: &Scenario, file: &str, summary: &Summary, outcome: &Outcome) -> String {
    let _ = (scenario, file, outcome);
    format!("<!doctype html><title>{}</title>", summary.scenario)
}
