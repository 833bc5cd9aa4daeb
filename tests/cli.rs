//! The command line as users and CI script against it: help, errors, exit
//! codes, the JSON summary's shape, explore and replay.

mod common;

use std::path::{Path, PathBuf};

use common::{ksim, stderr, stdout};

/// A scratch folder for one test, holding a copy of scenarios/.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for sub in ["", "anomalies"] {
        std::fs::create_dir_all(dir.join("scenarios").join(sub)).expect("scratch dir");
        for entry in std::fs::read_dir(root.join(sub)).expect("scenarios/") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let name = path.file_name().expect("name");
                std::fs::copy(&path, dir.join("scenarios").join(sub).join(name)).expect("copy");
            }
        }
    }
    dir
}

#[test]
fn help_lists_the_commands() {
    let out = ksim(Path::new("."), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", stdout(&out));
}

#[test]
fn run_help_names_every_flag() {
    let out = ksim(Path::new("."), &["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("run_help", stdout(&out));
}

#[test]
fn usage_error_exits_2() {
    let out = ksim(Path::new("."), &["run"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ksim(Path::new("."), &["explore", "x.toml", "--seeds", "5..1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the end must be above the start"));
}

#[test]
fn scenario_error_names_file_key_and_line_and_exits_2() {
    let dir = workdir("scenario_error");
    std::fs::write(
        dir.join("bad.toml"),
        "name = \"bad\"\nduration = \"10s\"\n\n[cluster]\nbrokers = 3\n\n[[topics]]\nname = \"orders\"\npartitions = 3\nreplication_factor = 4\n",
    )
    .expect("write");
    for command in ["check", "run"] {
        let out = ksim(&dir, &[command, "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(stdout(&out).is_empty());
        insta::assert_snapshot!("scenario_error", stderr(&out));
    }
}

#[test]
fn a_real_kafka_config_ksim_does_not_simulate_is_refused_with_exit_2() {
    let dir = workdir("not_simulated");
    let head = "name = \"ns\"\nduration = \"10s\"\n\n[cluster]\nbrokers = 3\n\n[[topics]]\nname = \"orders\"\npartitions = 3\nreplication_factor = 3\n\n[[consumers]]\ntopic = \"orders\"\ngroup = \"g\"\n";
    std::fs::write(
        dir.join("ns.toml"),
        format!("{head}config = {{ \"fetch.min.bytes\" = 1024 }}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.join("unknown.toml"),
        format!("{head}config = {{ \"fetch.min.byte\" = 1024 }}\n"),
    )
    .expect("write");
    let out = ksim(&dir, &["check", "ns.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let refused = stderr(&out);
    assert!(
        refused.contains("ns.toml:15:12"),
        "names the file and line: {refused}"
    );
    assert!(refused.contains("is not simulated by ksim"), "{refused}");
    insta::assert_snapshot!("config_not_simulated", refused);
    // A name Kafka does not have is told apart: unknown, with a suggestion.
    let out = ksim(&dir, &["check", "unknown.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let unknown = stderr(&out);
    assert!(unknown.contains("unknown consumer config"), "{unknown}");
    assert!(!unknown.contains("not simulated"), "{unknown}");
}

#[test]
fn check_accepts_every_shipped_scenario() {
    let dir = workdir("check_all");
    let files = ["", "anomalies/"].into_iter().flat_map(|sub| {
        std::fs::read_dir(dir.join("scenarios").join(sub))
            .expect("dir")
            .map(move |e| (sub, e.expect("entry").path()))
    });
    for (sub, path) in files.filter(|(_, p)| p.is_file()) {
        let rel = format!(
            "scenarios/{sub}{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let out = ksim(&dir, &["check", &rel]);
        assert_eq!(out.status.code(), Some(0), "{rel}: {}", stderr(&out));
        assert!(stdout(&out).starts_with(&format!("{rel}: ok")));
        if rel.ends_with("broker_crash.toml") {
            insta::assert_snapshot!("check_ok", stdout(&out));
        }
    }
}

#[test]
fn json_summary_has_the_contract_shape() {
    let dir = workdir("json_shape");
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "42",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON object on one line");
    // Keys in the contract's order (the snapshot below sorts them).
    let order = [
        "\"scenario\":",
        "\"seed\":",
        "\"verdict\":",
        "\"trace_hash\":",
        "\"sim_time_ms\":",
        "\"events\":",
        "\"wall_ms\":",
        "\"stats\":",
        "\"faults\":",
        "\"violations\":",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} missing")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {text}"
    );
    assert!(text.contains(r#""stats":{"records_sent":"#));
    assert!(text.contains(r#"{"at_ms":10000,"kind":"crash","target":"broker-1"}"#));
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let hash = json["trace_hash"].as_str().expect("trace_hash");
    assert!(hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()));
    insta::assert_json_snapshot!("run_summary", json, {
        ".wall_ms" => "[wall_ms]",
        ".trace_hash" => "[trace_hash]",
        ".events" => "[events]",
    });
    // The run record lands where replay expects it and replays identically.
    let record = dir.join("reports/broker_crash/seed-42.json");
    assert!(record.exists());
    let out = ksim(&dir, &["replay", "reports/broker_crash/seed-42.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("trace_hash {hash} matches")));
}

/// The text report with the figures that change with every code change
/// (trace hash, event count, wall time) masked.
fn stable_text(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("  events") {
                "  events      [events] in [wall] ms wall".to_owned()
            } else if l.starts_with("  trace_hash") {
                "  trace_hash  [trace_hash]".to_owned()
            } else if l.contains("messages delivered") {
                "              brokers and clients are kernel stand-ins ([n] messages delivered) until Kafka's data path lands".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn text_report_of_the_main_job() {
    let dir = workdir("text_report");
    let out = ksim(
        &dir,
        &["run", "scenarios/broker_crash.toml", "--seed", "42"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("run_text", stable_text(&stdout(&out)));
}

/// The control plane as `ksim run` shows it: fencing and elections in the
/// timeline, the quorum, broker registrations and `kafka-topics.sh --describe`.
#[test]
fn text_report_of_broker_fencing() {
    let dir = workdir("text_fencing");
    let out = ksim(
        &dir,
        &["run", "scenarios/broker_fencing.toml", "--seed", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("broker-1") && l.contains("fenced (session expired)")),
        "{text}"
    );
    insta::assert_snapshot!("run_text_broker_fencing", stable_text(&text));
}

#[test]
fn replay_detects_a_diverging_trace() {
    let dir = workdir("replay_diverges");
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "3",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let path = dir.join("reports/broker_crash/seed-3.json");
    let record = std::fs::read_to_string(&path).expect("record");
    let mut json: serde_json::Value = serde_json::from_str(&record).expect("json");
    json["trace_hash"] = serde_json::Value::String("0000000000000000".into());
    std::fs::write(&path, json.to_string()).expect("write");
    let out = ksim(&dir, &["replay", "reports/broker_crash/seed-3.json"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("replay DIVERGED"));
    assert!(stderr(&out)
        .trim_end()
        .ends_with("ksim run scenarios/broker_crash.toml --seed 3"));
}

#[test]
fn violation_exits_1_and_ends_with_the_replay_command() {
    let dir = workdir("violation");
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/controller_partition.toml",
            "--seed",
            "1",
            "--mutation",
            "commit-on-minority",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("verdict     FAIL"));
    assert!(text.contains("raft_log_consistent at "));
    assert!(text.contains("replay: ksim run scenarios/controller_partition.toml --seed 1"));
    // The record keeps the mutation, so replay reproduces the failure.
    let out = ksim(
        &dir,
        &["replay", "reports/controller_partition/seed-1.json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn panic_in_a_run_exits_3_with_seed_and_replay_command() {
    let dir = workdir("panic_run");
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "9",
            "--inject-panic",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("panicked in scenario broker_crash with seed 9"),
        "{err}"
    );
    assert!(err.contains("injected panic (test hook) at 30s"), "{err}");
    assert!(err
        .trim_end()
        .ends_with("replay: ksim run scenarios/broker_crash.toml --seed 9"));
}

#[test]
fn explore_survives_a_panicking_seed_and_is_the_same_for_any_jobs() {
    let dir = workdir("explore");
    let mut reports = Vec::new();
    for jobs in ["1", "2"] {
        let out = ksim(
            &dir,
            &[
                "explore",
                "scenarios/swarm.toml",
                "--seeds",
                "0..8",
                "--jobs",
                jobs,
                "--out",
                &format!("out-{jobs}"),
                "--inject-panic-seeds",
                "5",
            ],
        );
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let text = stdout(&out);
        // Seed 2 fails: a power loss of the last replica standing, which
        // Kafka 4.1 elects again as the last known leader (KIP-966).
        assert!(text.contains("  pass        6"), "{text}");
        assert!(text.contains("  fail        1"), "{text}");
        assert!(text.contains("  error       1"), "{text}");
        assert!(text.contains("seed 5      error  injected panic"), "{text}");
        assert!(
            text.contains("replay: ksim run scenarios/swarm.toml --seed 5"),
            "{text}"
        );
        let json = std::fs::read_to_string(dir.join(format!("out-{jobs}/swarm/explore.json")))
            .expect("explore.json written");
        let mut json: serde_json::Value = serde_json::from_str(&json).expect("json");
        for r in json["results"].as_array_mut().expect("results") {
            r["wall_ms"] = 0.into();
        }
        assert_eq!(json["runs"], 8);
        reports.push(json);
        let table: String = text
            .lines()
            .map(|l| {
                if l.contains(" jobs, ") {
                    "explore swarm seeds 0..8 (8 runs on [jobs] jobs, [wall] ms wall)".to_owned()
                } else if let Some(at) = l.find(" at src/") {
                    format!("{} at [panic location]", &l[..at])
                } else {
                    l.replace(&format!("out-{jobs}/"), "[out]/")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!("explore_table", table);
    }
    assert_eq!(reports[0], reports[1], "--jobs 1 and --jobs 2 agree");
}

#[test]
fn trace_file_has_one_json_line_per_event() {
    let dir = workdir("trace");
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "4",
            "--format",
            "json",
            "--trace",
            "trace/run.jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let trace = std::fs::read_to_string(dir.join("trace/run.jsonl")).expect("trace written");
    let mut kinds = std::collections::BTreeSet::new();
    let mut last_t = 0;
    for line in trace.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let t = event["t_ns"].as_u64().expect("t_ns");
        assert!(t >= last_t, "events in time order");
        last_t = t;
        kinds.insert(event["event"].as_str().expect("event").to_owned());
    }
    // One line per event, between the `run` and `end` lines (docs/trace.md).
    assert_eq!(
        trace.lines().count() as u64,
        summary["events"].as_u64().unwrap() + 2
    );
    for kind in ["deliver", "timer", "fault", "fsync_done", "disconnected"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    // Tracing does not change the run.
    let out = ksim(
        &dir,
        &[
            "run",
            "scenarios/broker_crash.toml",
            "--seed",
            "4",
            "--format",
            "json",
        ],
    );
    let plain: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(plain["trace_hash"], summary["trace_hash"]);
}

/// `ksim tools`: the key's partition and the group's coordinator partition,
/// as Kafka's Java client computes them, in text (just the number, for
/// scripts) and JSON (with the hash it came from).
#[test]
fn tools_print_the_partition_of_a_key_and_of_a_group() {
    let dir = Path::new(".");
    let text = ksim(
        dir,
        &["tools", "partition", "--key", "hello", "--partitions", "12"],
    );
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(stdout(&text), "9\n");
    let json = ksim(
        dir,
        &[
            "tools",
            "partition",
            "--key",
            "hello",
            "--partitions",
            "12",
            "--format",
            "json",
        ],
    );
    let coordinator = ksim(
        dir,
        &[
            "tools",
            "coordinator",
            "--group",
            "polygenelubricants",
            "--format",
            "json",
        ],
    );
    assert_eq!(coordinator.status.code(), Some(0));
    let bad = ksim(
        dir,
        &["tools", "partition", "--key", "k", "--partitions", "0"],
    );
    assert_eq!(bad.status.code(), Some(2));
    insta::assert_snapshot!(
        "tools_json",
        format!("{}{}", stdout(&json), stdout(&coordinator))
    );
}

/// `ksim tools assign` on Kafka's testTwoConsumersTwoTopicsSixPartitions
/// (RangeAssignorTest and RoundRobinAssignorTest): the expected lists are
/// the ones Kafka's tests assert.
#[test]
fn tools_assign_gives_kafkas_assignments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = "tests/fixtures/assign_two_consumers_two_topics.json";
    let run = |assignor: &str| {
        let out = ksim(
            root,
            &["tools", "assign", "--assignor", assignor, "--input", input],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        json
    };
    let range = run("range");
    assert_eq!(
        range["assignment"]["consumer1"],
        serde_json::json!(["topic1-0", "topic1-1", "topic2-0", "topic2-1"])
    );
    assert_eq!(
        range["assignment"]["consumer2"],
        serde_json::json!(["topic1-2", "topic2-2"])
    );
    let round_robin = run("roundrobin");
    assert_eq!(
        round_robin["assignment"]["consumer1"],
        serde_json::json!(["topic1-0", "topic1-2", "topic2-1"])
    );
    assert_eq!(
        round_robin["assignment"]["consumer2"],
        serde_json::json!(["topic1-1", "topic2-0", "topic2-2"])
    );
    let all: Vec<String> = ["range", "roundrobin", "sticky", "cooperative-sticky"]
        .iter()
        .map(|a| format!("{a}: {}", run(a)))
        .collect();
    insta::assert_snapshot!("tools_assign", all.join("\n"));
    let bad = ksim(
        root,
        &["tools", "assign", "--assignor", "nope", "--input", input],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("valid: range, roundrobin, sticky, cooperative-sticky"));
}

/// Colour only where asked: piped output is plain, `--color always` paints
/// the verdict, the headings and the timeline, and says nothing else.
#[test]
fn colour_on_request_plain_when_piped() {
    let dir = workdir("colour");
    let args = ["run", "scenarios/broker_fencing.toml", "--seed", "3"];
    let plain = stdout(&ksim(&dir, &args));
    assert!(
        !plain.contains('\x1b'),
        "piped output has escapes:\n{plain}"
    );
    let colored = stdout(&ksim(&dir, &[&args[..], &["--color", "always"]].concat()));
    assert!(colored.contains("\x1b[1;32mPASS\x1b[0m"), "{colored}");
    assert!(colored.contains("\x1b[1mtimeline\x1b[0m"), "{colored}");
    let stripped = strip_ansi(&colored);
    assert_eq!(stable_text(&stripped), stable_text(&plain));
}

/// `text` without ANSI colour sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
