//! Scenario files: one TOML file describes a cluster, its topics, the
//! workload, the faults to inject and the invariants to check (docs/scenarios.md).
//! Every error names the file, line, column and key path,
//! and says what would be valid.

mod error;
mod fault;
mod invariant;
mod model;
mod named;
mod parse;
mod parse_admin;
mod parse_anomaly;
mod parse_faults;
mod reader;
mod target;
mod units;
mod write;

pub use error::{line_col, ScenarioError};
pub use fault::FaultKind;
pub use invariant::Invariant;
pub use model::{
    AdminAction, AdminOpSpec, AnomalySpec, CheckSpec, Cluster, ConsumerSpec, DiskSpec, FaultSpec,
    NetworkSpec, PipelineSpec, Processing, ProcessingGuarantee, ProducerSpec, ProtocolSpec,
    Scenario, SwarmSpec, TopicSpec, TransactionSpec, Truncation, DEFAULT_LATENCY_DELAY_NS,
    DEFAULT_SLOW_DISK_FACTOR,
};
pub use parse::{parse, parse_fixed, MAX_CLIENTS, MAX_NODES, MAX_PARTITIONS, MAX_SWARM_RATE};
pub use target::{is_valid_name, Target, TARGET_SYNTAX};
pub use units::{
    format_duration, parse_duration, parse_rate, Rate, MAX_DURATION_NS, MAX_RECORDS_PER_SECOND,
};

/// Reads and parses the scenario file at `path`.
pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    load_with_text(path, false).map(|(scenario, _)| scenario)
}

/// Reads and parses the scenario file at `path`, keeping its text (run
/// records store it so a replay does not depend on the file); with `fixed`,
/// as its fixed variant ([`parse_fixed`]).
pub fn load_with_text(
    path: &std::path::Path,
    fixed: bool,
) -> Result<(Scenario, String), ScenarioError> {
    let file = path.display().to_string();
    let parse = if fixed { parse_fixed } else { parse };
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file).map(|scenario| (scenario, text)),
        Err(e) => Err(ScenarioError {
            file,
            line: 0,
            col: 0,
            key: String::new(),
            message: format!("cannot read the scenario file: {e}; give the path of a scenario TOML file, e.g. scenarios/broker_crash.toml"),
        }),
    }
}

#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_parse;
