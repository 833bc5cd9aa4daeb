//! The `ksim` command line (a contract: docs/cli.md).
//!
//! Exit codes: 0 every invariant held; 1 an invariant was violated; 2 usage
//! or scenario error; 3 the simulator itself panicked.

mod blame;
mod check;
mod describe;
mod dump_log;
mod explore;
mod export_logs;
mod guarantees;
mod merge;
mod moment;
mod progress;
mod replay;
mod run;
mod shrink;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code of a usage or scenario error.
pub const EXIT_USAGE: u8 = 2;

/// ksim — a deterministic simulator of Apache Kafka.
///
/// Runs a whole Kafka cluster inside one thread on a virtual clock and one
/// seeded random source, injects crashes, power loss, partitions and pauses,
/// and checks durability and ordering invariants. Same scenario + same seed =
/// the same run, byte for byte.
#[derive(Debug, Parser)]
#[command(name = "ksim", version, term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people.
    Text,
    /// One JSON object on stdout.
    Json,
}

/// When the text report uses colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    /// Whether stdout gets colour.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario with one seed
    Run(run::Args),
    /// Sweep a range of seeds on worker threads and summarise the failures
    Explore(explore::Args),
    /// Re-run a recorded run and verify it reproduces the same trace_hash
    Replay {
        /// A run record written by `ksim run` or `ksim explore`
        run_json: PathBuf,
    },
    /// Shrink a failing seed to the smallest fault schedule that still fails, as a scenario file
    Shrink(shrink::Args),
    /// The point of no return of a failing seed: when its failure became (nearly) certain
    Blame(blame::Args),
    /// The cluster at a moment of a run, as kafka-topics.sh, kafka-consumer-groups.sh and kafka-metadata-quorum.sh describe it
    Describe(describe::Args),
    /// A replica's log segments at a moment of a run, as kafka-dump-log.sh prints them, with what is durable
    DumpLog(dump_log::Args),
    /// A broker's log directory at a moment of a run, written as Kafka lays it out, for kafka-dump-log.sh
    ExportLogs(export_logs::Args),
    /// Validate a scenario file without running it
    Check {
        /// The scenario file (TOML)
        scenario: PathBuf,
    },
    /// The guarantees table: Kafka configs under crashes, power loss and partitions
    Guarantees(guarantees::Args),
    /// Kafka's client-side arithmetic: key partitioning, group coordinators, assignors
    #[command(subcommand)]
    Tools(tools::Tool),
}

/// Parses the command line and runs the command; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let code = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Explore(args) => explore::main(args),
        Command::Replay { run_json } => replay::main(&run_json),
        Command::Shrink(args) => shrink::main(args),
        Command::Blame(args) => blame::main(args),
        Command::Describe(args) => describe::main(args),
        Command::DumpLog(args) => dump_log::main(args),
        Command::ExportLogs(args) => export_logs::main(args),
        Command::Check { scenario } => check::main(&scenario),
        Command::Guarantees(args) => guarantees::main(args),
        Command::Tools(tool) => tools::main(tool),
    };
    ExitCode::from(code)
}

/// A scenario ready to run: parsed, with its text and the name the user gave it.
struct Loaded {
    scenario: crate::scenario::Scenario,
    text: String,
    file: String,
}

/// Loads a scenario, printing a scenario error the way every command does.
fn load(path: &std::path::Path) -> Result<Loaded, u8> {
    load_variant(path, false)
}

/// Loads a scenario, or with `fixed` its fixed variant (`--fixed`).
fn load_variant(path: &std::path::Path, fixed: bool) -> Result<Loaded, u8> {
    match crate::scenario::load_with_text(path, fixed) {
        Ok((scenario, text)) => Ok(Loaded {
            scenario,
            text,
            file: path.display().to_string(),
        }),
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Writes `value` as pretty JSON to `path`, creating folders.
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), String> {
    let json = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    write_file(path, &(json + "\n"))
}

/// Writes `text` to `path`, creating folders.
fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Where a seed's run record goes.
fn record_path(out: &std::path::Path, scenario: &str, seed: u64) -> PathBuf {
    out.join(scenario).join(format!("seed-{seed}.json"))
}

/// Parses test-hook mutation names into the kernel's mutations; on a bad
/// name prints the error and returns the usage exit code.
fn mutations_or_exit(names: &[String]) -> Result<crate::harness::TestMutations, u8> {
    parse_mutations(names).map_err(|e| {
        eprintln!("error: --mutation: {e}");
        EXIT_USAGE
    })
}

/// Parses test-hook mutation names into the kernel's mutations.
pub fn parse_mutations(names: &[String]) -> Result<crate::harness::TestMutations, String> {
    let mut m = crate::harness::TestMutations::default();
    for name in names {
        match name.as_str() {
            "reorder-links" => m.kernel.reorder_links = true,
            "fsync-lies" => m.kernel.fsync_lies = true,
            "vote-without-log-check" => m.raft.vote_without_log_check = true,
            "commit-on-minority" => m.raft.commit_on_minority = true,
            "keep-leader-epoch" => m.keep_leader_epoch = true,
            "vote-twice" => m.raft.vote_twice = true,
            "trust-epoch-checkpoint" => m.trust_epoch_checkpoint = true,
            "hashmap-order" => m.hashmap_order = true,
            "unmuted-connections" => m.unmuted_connections = true,
            other => {
                return Err(format!(
                    "unknown mutation {other:?}; valid: reorder-links, fsync-lies, vote-without-log-check, commit-on-minority, vote-twice, keep-leader-epoch, trust-epoch-checkpoint, hashmap-order, unmuted-connections"
                ))
            }
        }
    }
    Ok(m)
}

/// Prints to stdout like `print!`, but a closed pipe (`ksim ... | head`) ends
/// the output quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `out!` with a newline, like `println!`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use {out, outln};
