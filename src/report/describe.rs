//! `ksim describe`: the cluster at a moment, as Kafka's tools show it.

use std::fmt::Write;

use sim::format_nanos;

use crate::harness::Run;

/// The line that says which run and moment a view shows.
pub fn heading(file: &str, seed: u64, at_ns: u64) -> String {
    format!("# {file} --seed {seed} at {}\n", format_nanos(at_ns))
}

/// `kafka-topics.sh --describe` of the newest committed metadata.
pub fn topics(run: &Run) -> String {
    match run.metadata() {
        Some(image) => super::text::describe_topics(&image),
        None => "no metadata committed yet\n".to_owned(),
    }
}

/// `kafka-consumer-groups.sh --describe` of every group.
pub fn groups(run: &Run) -> String {
    let mut out = String::new();
    let groups = run.groups();
    if groups.is_empty() {
        let _ = writeln!(out, "the scenario has no consumer groups");
    }
    for g in &groups {
        let _ = writeln!(out);
        let _ = write!(out, "{}", super::groups::describe_group(g));
    }
    out
}

/// `kafka-metadata-quorum.sh describe --status` and `--replication`.
pub fn quorum(run: &Run) -> String {
    let mut out = String::new();
    for c in run.quorum() {
        let _ = writeln!(out, "{} {} epoch {}", c.name, c.state, c.epoch);
    }
    out
}
