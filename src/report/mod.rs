//! What a run reports: the JSON summary (a contract, docs/cli.md), the run
//! record that `ksim replay` reads back, and the text report.

pub mod describe;
pub mod dump_log;
pub mod export_logs;
pub mod groups;
pub mod html;
pub mod text;
pub mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::Violation;
use crate::harness::Outcome;

/// Did every invariant hold?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every invariant held.
    Pass,
    /// An invariant was violated.
    Fail,
    /// The simulator itself panicked.
    Error,
}

impl Verdict {
    /// The process exit code for this verdict (docs/cli.md: 0, 1, 3).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 3,
        }
    }

    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

/// Client figures of the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsJson {
    /// Records producers sent.
    pub records_sent: u64,
    /// Records acknowledged to producers.
    pub records_acked: u64,
    /// Records consumers received.
    pub records_consumed: u64,
    /// Acknowledged records retention removed (below the final log start offsets).
    #[serde(default)]
    pub records_removed_by_retention: u64,
    /// Acknowledged records the log cleaner removed (a later record of
    /// their key took over).
    #[serde(default)]
    pub records_removed_by_compaction: u64,
    /// Acknowledged records of topics an `[[admin]]` delete_topic deleted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records_removed_by_deletion: u64,
    /// Consumer positions `auto.offset.reset` moved after OFFSET_OUT_OF_RANGE.
    #[serde(default)]
    pub offset_resets: u64,
    /// Per consumer group: processing figures (duplicates and why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<crate::check::groups::GroupStats>,
}

/// One executed fault in the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultJson {
    /// When, in simulated ms.
    pub at_ms: u64,
    /// Kind (`crash`, ...).
    pub kind: String,
    /// Node(s) hit (`broker-1`).
    pub target: String,
}

/// The one JSON object `ksim run --format json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The Kafka release simulated (`[protocol] kafka_version`; empty when
    /// the run panicked).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kafka_version: String,
    /// `[protocol]` switches the scenario set against that release, each
    /// with the release's own setting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub against_version: Vec<String>,
    /// pass, fail or error.
    pub verdict: Verdict,
    /// Hash of every event (16 hex digits); empty when the run panicked.
    pub trace_hash: String,
    /// Simulated time at the end, ms.
    pub sim_time_ms: u64,
    /// Events processed.
    pub events: u64,
    /// Wall-clock ms (the only field that varies between identical runs).
    pub wall_ms: u64,
    /// Client figures.
    pub stats: StatsJson,
    /// Faults as executed.
    pub faults: Vec<FaultJson>,
    /// Invariants that broke: the first [`VIOLATIONS_KEPT`] of each
    /// invariant, in the order found.
    pub violations: Vec<Violation>,
    /// Per invariant: violations found beyond the first
    /// [`VIOLATIONS_KEPT`], counted and left out (a run that loses a
    /// partition's records finds one per record: tens of thousands).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub violations_omitted: BTreeMap<String, u64>,
    /// How often the run reached each interesting protocol state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub coverage: BTreeMap<String, u64>,
    /// The fault mix the seed drew (`--swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::harness::swarm_mix::SwarmMix>,
    /// Liveness mode (`--liveness`): the core the settle phase kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<crate::harness::core::LivenessReport>,
    /// The run was the scenario's fixed variant (`--fixed`: its `[anomaly]
    /// fixed` keys laid over `[protocol]`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixed: bool,
    /// The panic, when the verdict is error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Summary {
    /// The flags that make this run again.
    pub fn flags(&self) -> RunFlags {
        RunFlags {
            swarm: self.swarm.is_some(),
            liveness: self.liveness.is_some(),
            fixed: self.fixed,
        }
    }

    /// The summary of a finished run of the scenario file `file`; every
    /// violation's detail ends with the command that replays it.
    pub fn of(scenario: &str, file: &str, seed: u64, outcome: &Outcome) -> Self {
        let verdict = if outcome.violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        // Per invariant: violations seen so far.
        let mut found: BTreeMap<&str, usize> = BTreeMap::new();
        let mut summary = Self {
            scenario: scenario.to_owned(),
            seed,
            kafka_version: outcome.kafka_version.to_string(),
            against_version: outcome.against_version.clone(),
            verdict,
            trace_hash: outcome.trace_hash.clone(),
            sim_time_ms: outcome.sim_time_ns / sim::MILLIS,
            events: outcome.events,
            wall_ms: outcome.wall_ms,
            stats: StatsJson {
                records_sent: outcome.stats.records_sent,
                records_acked: outcome.stats.records_acked,
                records_consumed: outcome.stats.records_consumed,
                records_removed_by_retention: outcome.stats.records_removed_by_retention,
                records_removed_by_compaction: outcome.stats.records_removed_by_compaction,
                records_removed_by_deletion: outcome.stats.records_removed_by_deletion,
                offset_resets: outcome.stats.offset_resets,
                groups: outcome.stats.groups.clone(),
            },
            faults: outcome
                .faults
                .iter()
                .map(|f| FaultJson {
                    at_ms: f.at_ns / sim::MILLIS,
                    kind: f.kind.clone(),
                    target: f.target.clone(),
                })
                .collect(),
            violations: outcome
                .violations
                .iter()
                .filter(|v| {
                    let n = found.entry(v.invariant.as_str()).or_insert(0);
                    *n += 1;
                    *n <= VIOLATIONS_KEPT
                })
                .map(|v| Violation {
                    detail: format!(
                        "{}; replay: {}",
                        v.detail,
                        replay_command(
                            file,
                            seed,
                            RunFlags {
                                swarm: outcome.swarm.is_some(),
                                liveness: outcome.liveness.is_some(),
                                fixed: outcome.fixed,
                            }
                        )
                    ),
                    subject: None,
                    ..v.clone()
                })
                .collect(),
            violations_omitted: BTreeMap::new(),
            coverage: outcome.coverage.clone(),
            swarm: outcome.swarm.clone(),
            liveness: outcome.liveness.clone(),
            fixed: outcome.fixed,
            error: None,
        };
        summary.violations_omitted = found
            .into_iter()
            .filter(|&(_, n)| n > VIOLATIONS_KEPT)
            .map(|(invariant, n)| (invariant.to_owned(), (n - VIOLATIONS_KEPT) as u64))
            .collect();
        summary
    }

    /// Violations per invariant, those left out included.
    pub fn violation_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = self.violations_omitted.clone();
        for v in &self.violations {
            *counts.entry(v.invariant.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The summary of a run that panicked.
    pub fn of_panic(scenario: &str, seed: u64, message: String) -> Self {
        Self {
            scenario: scenario.to_owned(),
            seed,
            kafka_version: String::new(),
            against_version: Vec::new(),
            verdict: Verdict::Error,
            trace_hash: String::new(),
            sim_time_ms: 0,
            events: 0,
            wall_ms: 0,
            stats: StatsJson::default(),
            faults: Vec::new(),
            violations: Vec::new(),
            violations_omitted: BTreeMap::new(),
            coverage: BTreeMap::new(),
            swarm: None,
            liveness: None,
            fixed: false,
            error: Some(message),
        }
    }
}

/// The violations of each invariant a run's summary (and its record)
/// keeps; the rest are counted in `violations_omitted`. The text report
/// shows the first ten; a sweep of a scenario that loses whole partitions
/// would otherwise hold and write every lost record's violation (26 MB a
/// seed for `anomalies/kip903_stale_alter_partition.toml`).
pub const VIOLATIONS_KEPT: usize = 100;

/// What `ksim run` stores for `ksim replay`: the summary plus the scenario itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's summary.
    #[serde(flatten)]
    pub summary: Summary,
    /// The scenario file as the user named it.
    pub scenario_file: String,
    /// The scenario's full text, so the record replays even if the file changes.
    pub scenario_text: String,
    /// Test-only kernel mutations the run used (replay applies them again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutations: Vec<String>,
}

/// How a run was made beyond its scenario file and seed: the flags of
/// `ksim run` that make it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// `--swarm`: the seed drew its own fault mix.
    pub swarm: bool,
    /// `--liveness`: the settle phase healed only a core.
    pub liveness: bool,
    /// `--fixed`: the scenario's fixed variant (`[anomaly] fixed`).
    pub fixed: bool,
}

/// The command that replays a seed.
pub fn replay_command(scenario_file: &str, seed: u64, flags: RunFlags) -> String {
    let swarm = if flags.swarm { " --swarm" } else { "" };
    let liveness = if flags.liveness { " --liveness" } else { "" };
    let fixed = if flags.fixed { " --fixed" } else { "" };
    format!("ksim run {scenario_file} --seed {seed}{swarm}{liveness}{fixed}")
}

/// For serde: a zero count is left out of the JSON.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
