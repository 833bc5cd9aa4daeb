//! Consume-transform-produce pipelines end to end: exactly_once_v2 members
//! commit their consumer offsets in their producer's transactions
//! (AddOffsetsToTxn, TxnOffsetCommit fenced by generation, KIP-447) and
//! every input has exactly one committed output under leader crashes, a
//! transaction coordinator crash and a zombie member; at_least_once, as
//! Kafka documents, writes some outputs twice; `exactly_once` is shown
//! firing on both ways of breaking it (an input twice, an input lost).

use ksim::client::consumer::ConsumerMutations;
use ksim::harness::{run, Outcome, RunOptions, TestMutations};
use ksim::scenario::Scenario;

fn scenario(edits: &[(&str, &str)]) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/eos_pipeline.toml");
    let mut text = std::fs::read_to_string(&path).expect("scenario file");
    for (from, to) in edits {
        assert!(text.contains(from), "the scenario has {from}");
        text = text.replace(from, to);
    }
    ksim::scenario::parse(&text, "eos_pipeline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The scenario with `processing.guarantee = "at_least_once"` (its
/// transaction coordinator fault aimed at the group coordinator instead:
/// an at_least_once member has no transactional id).
fn at_least_once() -> Scenario {
    scenario(&[
        ("\"exactly_once_v2\"", "\"at_least_once\""),
        ("txn_coordinator(etl-0)", "coordinator(etl)"),
    ])
}

fn outcome(s: &Scenario, seed: u64, mutations: TestMutations) -> Outcome {
    let options = RunOptions {
        mutations,
        ..RunOptions::default()
    };
    run(s, seed, &options).expect("runs")
}

fn fired<'a>(o: &'a Outcome, invariant: &str) -> Vec<&'a str> {
    o.violations
        .iter()
        .filter(|v| v.invariant == invariant)
        .map(|v| v.detail.as_str())
        .collect()
}

#[test]
fn exactly_once_v2_writes_one_committed_output_per_input_through_crashes_and_a_zombie() {
    let s = scenario(&[]);
    for seed in [1, 6] {
        let o = outcome(&s, seed, TestMutations::default());
        assert!(o.violations.is_empty(), "seed {seed}: {:?}", o.violations);
        for name in ["exactly_once", "transactions_atomic", "no_aborted_reads"] {
            assert!(o.checked.iter().any(|c| c == name), "{name} is checked");
        }
        // The zombie's pause outlived its session (in these seeds no
        // coordinator failover restarted its session): the group rebalanced.
        let etl = o
            .stats
            .groups
            .iter()
            .find(|g| g.group == "etl")
            .expect("etl");
        assert!(etl.generations >= 2, "seed {seed}: {etl:?}");
        assert!(o.stats.records_acked > 20_000, "seed {seed}: {:?}", o.stats);
        let again = outcome(&s, seed, TestMutations::default());
        assert_eq!(o.trace_hash, again.trace_hash, "seed {seed} replays");
    }
}

#[test]
fn at_least_once_writes_some_outputs_twice_as_kafka_documents() {
    let s = at_least_once();
    let o = outcome(&s, 1, TestMutations::default());
    let found = fired(&o, "exactly_once");
    assert_eq!(found.len(), 1, "{:?}", o.violations);
    assert!(
        found[0].contains("pipeline etl (at_least_once):")
            && found[0].contains("have more than one committed output in ledger"),
        "{}",
        found[0]
    );
    // Nothing is lost: every input has at least one output.
    assert!(!found[0].contains("no committed output"), "{}", found[0]);
}

#[test]
fn an_exactly_once_pipeline_that_skips_a_record_after_each_commit_loses_inputs() {
    let s = scenario(&[]);
    let skip = TestMutations {
        consumer: ConsumerMutations {
            skip_after_position: true,
            ..ConsumerMutations::default()
        },
        ..TestMutations::default()
    };
    let o = outcome(&s, 0, skip);
    let found = fired(&o, "exactly_once");
    assert!(
        found
            .iter()
            .any(|d| d.contains("have no committed output in ledger")),
        "{:?}",
        o.violations
    );
}

#[test]
fn a_pipeline_must_name_existing_topics_and_a_group_of_its_own() {
    let base = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/eos_pipeline.toml"),
    )
    .expect("scenario file");
    let err = |from: &str, to: &str| {
        let text = base.replace(from, to);
        assert_ne!(text, base, "{from} is in the scenario");
        ksim::scenario::parse(&text, "p.toml")
            .expect_err("refused")
            .to_string()
    };
    insta::assert_snapshot!(
        "pipeline_unknown_input",
        err("input = \"payments\"", "input = \"paymnts\"")
    );
    insta::assert_snapshot!(
        "pipeline_output_is_input",
        err("output = \"ledger\"", "output = \"payments\"")
    );
    insta::assert_snapshot!(
        "pipeline_removed_guarantee",
        err("\"exactly_once_v2\"", "\"exactly_once\"")
    );
    insta::assert_snapshot!(
        "pipeline_application_id",
        err(
            "\"commit.interval.ms\" = 100",
            "\"application.id\" = \"etl\""
        )
    );
    insta::assert_snapshot!(
        "pipeline_auto_commit",
        err(
            "\"commit.interval.ms\" = 100",
            "\"consumer.enable.auto.commit\" = true"
        )
    );
    insta::assert_snapshot!(
        "pipeline_unknown_consumer_config",
        err(
            "\"commit.interval.ms\" = 100",
            "\"consumer.sesion.timeout.ms\" = 10000"
        )
    );
    insta::assert_snapshot!(
        "pipeline_acks_1_under_eos",
        err("\"commit.interval.ms\" = 100", "\"producer.acks\" = \"1\"")
    );
    let text = format!("{base}\n[[consumers]]\ntopic = \"ledger\"\ngroup = \"etl\"\n");
    let message = ksim::scenario::parse(&text, "p.toml")
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("group \"etl\" is already used"),
        "{message}"
    );
}

#[test]
fn a_pipelines_client_configs_are_kafka_streams_prefixed_ones() {
    use ksim::harness::specs::pipeline_config;
    let s = scenario(&[(
        "\"commit.interval.ms\" = 100",
        "\"commit.interval.ms\" = 250, \"consumer.session.timeout.ms\" = 10000, \"producer.linger.ms\" = 5",
    )]);
    let p = &s.pipelines[0];
    assert_eq!(p.commit_interval_ms(), 250);
    let topics = ksim::protocol::Topics::new(["payments".to_owned(), "ledger".to_owned()]);
    let config = pipeline_config(
        p,
        &s.protocol,
        1,
        &topics,
        "pipeline-etl-1",
        vec![1, 2, 3],
        Default::default(),
    );
    assert_eq!(config.consumer.membership.session_timeout_ms, 10_000);
    assert_eq!(config.producer.config.linger_ms, 5);
    // Kafka Streams' overrides where nothing is set.
    assert_eq!(config.consumer.max_poll_records, 1000);
    assert_eq!(
        config
            .producer
            .transaction
            .as_ref()
            .map(|t| (t.transactional_id.as_str(), t.transaction_timeout_ms)),
        Some(("etl-1", 10_000))
    );
}
