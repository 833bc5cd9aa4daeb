//! A run's summary and record keep the first violations of each invariant
//! and count the rest: a run that loses a partition's records finds one
//! violation per record, and a sweep would hold and write them all.

use std::collections::BTreeMap;

use ksim::harness::RunOptions;
use ksim::report::VIOLATIONS_KEPT;
use ksim::runner::run_seed;
use ksim::scenario::parse;

#[test]
fn a_summary_keeps_the_first_violations_of_each_invariant_and_counts_the_rest() {
    let file = "scenarios/anomalies/kip903_stale_alter_partition.toml";
    let text = std::fs::read_to_string(file).expect("scenario");
    let scenario = parse(&text, file).unwrap_or_else(|e| panic!("{e}"));
    let run = run_seed(&scenario, file, 0, &RunOptions::default()).expect("runs");
    let outcome = run.outcome.expect("finished");
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    for v in &outcome.violations {
        *all.entry(v.invariant.clone()).or_default() += 1;
    }
    // Seed 0 loses thousands of acknowledged records: far more than kept.
    assert!(
        all["acked_writes_durable"] > 10 * VIOLATIONS_KEPT as u64,
        "{all:?}"
    );
    let summary = &run.summary;
    assert_eq!(summary.violation_counts(), all);
    for (invariant, &n) in &all {
        let kept: Vec<_> = summary
            .violations
            .iter()
            .filter(|v| &v.invariant == invariant)
            .collect();
        assert_eq!(
            kept.len() as u64,
            n.min(VIOLATIONS_KEPT as u64),
            "{invariant}"
        );
        let omitted = summary
            .violations_omitted
            .get(invariant)
            .copied()
            .unwrap_or(0);
        assert_eq!(
            omitted,
            n.saturating_sub(VIOLATIONS_KEPT as u64),
            "{invariant}"
        );
        // The first ones found, in order.
        let first: Vec<_> = outcome
            .violations
            .iter()
            .filter(|v| &v.invariant == invariant)
            .take(kept.len())
            .collect();
        for (k, f) in kept.iter().zip(&first) {
            assert_eq!((k.at_ms, k.detail.starts_with(&f.detail)), (f.at_ms, true));
        }
    }
    // The record round-trips with its counts.
    let json = serde_json::to_string(summary).expect("json");
    let back: ksim::report::Summary = serde_json::from_str(&json).expect("parses");
    assert_eq!(back.violation_counts(), all);
}
