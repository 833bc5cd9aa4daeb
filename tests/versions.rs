//! `[protocol] kafka_version`: a release's defaults and behaviours, the
//! switches set against it in the report, and the releases ksim refuses.

mod common;

use common::{ksim, scratch, stderr, stdout};
use ksim::harness::{run, Outcome, RunOptions};
use ksim::scenario::{parse, Scenario};

/// A shipped scenario's text.
fn shipped(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(path).expect("scenario file");
    without_race_switch(&text)
}

/// `text` without the `unknown_producer_any_sequence = false` shipped
/// scenarios set against KAFKA-15591's race (and its `[protocol]` table
/// when that was all it held): these tests run each release's own rule.
fn without_race_switch(text: &str) -> String {
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("unknown_producer_any_sequence = false"))
        .collect();
    let text = kept.join("\n") + "\n";
    text.replace("[protocol]\n\n", "")
}

/// Shipped scenario `name` (pinned to 4.0) as a Kafka `version` cluster
/// runs it: `settings` of the scenario taken out (so the release's own
/// apply), `switch` added to its `[protocol]` (empty: none).
fn shipped_on(name: &str, version: &str, settings: &[&str], switch: &str) -> Scenario {
    let mut text = shipped(name);
    let pinned = "kafka_version = \"4.0\"";
    assert!(text.contains(pinned), "{name} pins its release");
    text = text.replace(pinned, &format!("kafka_version = {version:?}\n{switch}"));
    for setting in settings {
        assert!(text.contains(setting), "{name} sets {setting}");
        text = text.replace(setting, "");
    }
    parse(&text, &format!("{name}.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `late_end_txn` as a Kafka `version` cluster runs it: its own
/// `transaction.version`.
fn late_end_txn_on(version: &str) -> Scenario {
    shipped_on("late_end_txn", version, &["transaction_version = 2"], "")
}

fn outcome(s: &Scenario, seed: u64) -> Outcome {
    run(s, seed, &RunOptions::default()).expect("runs")
}

#[test]
fn kafka_17754_is_in_3_9_and_gone_in_4_0() {
    // Seeds 14 and 30 are the ones `ksim explore` finds failing under 3.9 (2 of 0..40).
    let old = late_end_txn_on("3.9");
    assert_eq!(old.protocol.transaction_version, 1, "3.9's own");
    let new = late_end_txn_on("4.0");
    assert_eq!(new.protocol.transaction_version, 2, "4.0's own");
    for seed in [14, 30] {
        let broken = outcome(&old, seed);
        assert!(
            broken
                .violations
                .iter()
                .any(|v| v.invariant == "no_aborted_reads"),
            "seed {seed}: {:?}",
            broken.violations
        );
        assert_eq!(broken.kafka_version.to_string(), "3.9");
        assert!(broken.against_version.is_empty(), "nothing set against 3.9");
        let again = outcome(&old, seed);
        assert_eq!(broken.trace_hash, again.trace_hash, "seed {seed} replays");
        let fixed = outcome(&new, seed);
        assert!(
            fixed.violations.is_empty(),
            "seed {seed}: {:?}",
            fixed.violations
        );
    }
}

/// `under_min_isr_reads` under Kafka `version`, with `switch` added.
fn under_min_isr_reads_on(version: &str, switch: &str) -> Scenario {
    shipped_on("under_min_isr_reads", version, &[], switch)
}

#[test]
fn kafka_15583_is_missing_in_3_6_and_there_from_3_7() {
    let dirty = |s: &Scenario, seed: u64| {
        let o = outcome(s, seed);
        assert!(
            o.violations
                .iter()
                .all(|v| v.invariant == "reads_committed_only"),
            "seed {seed}: {:?}",
            o.violations
        );
        !o.violations.is_empty()
    };
    let old = under_min_isr_reads_on("3.6", "");
    assert!(!old.protocol.hw_held_below_min_isr, "3.6's own");
    let switched = under_min_isr_reads_on("4.0", "hw_held_below_min_isr = false");
    for release in ["3.7", "4.0"] {
        let new = under_min_isr_reads_on(release, "");
        assert!(new.protocol.hw_held_below_min_isr, "{release}'s own");
        for seed in [1, 2] {
            assert!(!dirty(&new, seed), "{release} seed {seed}");
        }
    }
    for seed in [1, 2] {
        assert!(
            dirty(&old, seed),
            "3.6 seed {seed}: consumers read lost records"
        );
        assert!(
            dirty(&switched, seed),
            "4.0 with the switch off, seed {seed}"
        );
    }
}

/// `hanging_transaction` as a Kafka `version` cluster runs it: its own
/// verification and transaction version.
fn hanging_transaction_on(version: &str) -> Scenario {
    let settings = [
        "transaction_version = 2",
        "\"transaction.partition.verification.enable\" = true",
    ];
    shipped_on("hanging_transaction", version, &settings, "")
}

#[test]
fn kip_890_verification_is_missing_in_3_5_and_there_from_3_6() {
    let old = hanging_transaction_on("3.5");
    assert_eq!(
        old.cluster
            .config
            .get_bool("transaction.partition.verification.enable"),
        Some(false),
        "3.5 has no verification"
    );
    assert!(old.protocol.leader_epoch_bump_on_isr_shrink, "3.5's own");
    let new = hanging_transaction_on("3.6");
    // Seeds 1 and 10 are the first two of 0..80 that hang under 3.5 (15 do).
    for seed in [1, 10] {
        let hung = outcome(&old, seed);
        assert!(
            hung.violations
                .iter()
                .any(|v| v.invariant == "eventually_available"),
            "seed {seed}: {:?}",
            hung.violations
        );
        let fixed = outcome(&new, seed);
        assert!(
            fixed.violations.is_empty(),
            "seed {seed}: {:?}",
            fixed.violations
        );
    }
    // 3.5 has no such config to set.
    let text = shipped("hanging_transaction")
        .replace("kafka_version = \"4.0\"", "kafka_version = \"3.5\"");
    let err = parse(&text, "hanging_transaction.toml")
        .expect_err("no such config in 3.5")
        .to_string();
    assert!(
        err.contains("is not a config of Kafka 3.5: it came in 3.6 (KIP-890 part 1)"),
        "{err}"
    );
}

#[test]
fn each_release_has_its_own_linger_default_and_a_set_value_wins() {
    let with = |version: &str, config: &str| {
        let text = shipped("network_partition").replace(
            "[[topics]]",
            &format!("[protocol]\nkafka_version = {version:?}\n\n[[topics]]"),
        );
        let producer = "config = { acks = \"all\" }";
        assert!(text.contains(producer));
        let text = text.replace(producer, &format!("config = {{ acks = \"all\"{config} }}"));
        let s = parse(&text, "network_partition.toml").unwrap_or_else(|e| panic!("{e}"));
        s.producers[0].config.get_i64("linger.ms")
    };
    assert_eq!(with("3.8", ""), Some(0), "before KIP-1030");
    assert_eq!(with("4.0", ""), Some(5), "KIP-1030");
    assert_eq!(with("3.8", ", \"linger.ms\" = 7"), Some(7));
}

#[test]
fn a_switch_set_against_the_release_is_reported() {
    let dir = scratch("versions", "switch_reported");
    let file = format!(
        "{}/scenarios/kip101_truncation.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = ksim(&dir, &["run", &file, "--seed", "1", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("json");
    assert_eq!(summary["kafka_version"], "4.0");
    assert_eq!(
        summary["against_version"],
        serde_json::json!([
            "truncation = \"high-watermark\" (Kafka 4.0's own: \"leader-epoch\", KIP-101)",
            "unknown_producer_any_sequence = false (Kafka 4.0's own: true, KIP-360)"
        ])
    );
    let text = stdout(&ksim(&dir, &["run", &file, "--seed", "1"]));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  kafka") || l.contains("against it:"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r#"
      kafka       4.0
                  against it: truncation = "high-watermark" (Kafka 4.0's own: "leader-epoch", KIP-101)
                  against it: unknown_producer_any_sequence = false (Kafka 4.0's own: true, KIP-360)
    "#);
}

#[test]
fn a_config_newer_than_the_release_is_refused() {
    let text = shipped("late_end_txn").replace(
        "\"transaction.partition.verification.enable\" = true",
        "\"transaction.partition.verification.enable\" = true\n\"add.partitions.to.txn.retry.backoff.max.ms\" = 50",
    );
    let on = |version: &str| {
        parse(
            &text.replace(
                "kafka_version = \"4.0\"",
                &format!("kafka_version = {version:?}"),
            ),
            "late_end_txn.toml",
        )
    };
    assert!(on("4.0").is_ok(), "4.0 has it");
    let err = on("3.9").expect_err("3.9 has no such config").to_string();
    assert!(
        err.contains("late_end_txn.toml:11:48: cluster.config.\"add.partitions.to.txn.retry.backoff.max.ms\": \"add.partitions.to.txn.retry.backoff.max.ms\" is not a config of Kafka 3.9: it came in 4.0 (KAFKA-18654)"),
        "{err}"
    );
}

#[test]
fn a_release_ksim_cannot_run_is_refused_naming_what_it_lacks() {
    let dir = scratch("versions", "refused");
    let text = shipped("late_end_txn");
    for (version, says) in [
        ("2.4", "Kafka 2.4 is not simulated by ksim yet: its changes to what ksim simulates are not all checked (`git log 2.4.0..2.5.0`)"),
        ("2.1.1", "Kafka 2.1 is not simulated by ksim yet: its changes to what ksim simulates are not all checked (`git log 2.1.0..2.5.0`)"),
        ("2.0", "Kafka 2.0 is not simulated by ksim yet: its changes to what ksim simulates are not all checked (`git log 2.0.0..2.5.0`)"),
        ("4.2", "Kafka 4.2 is newer than ksim models (4.1)"),
        ("four", "\"four\" is not a Kafka version"),
    ] {
        let file = dir.join(format!("v{version}.toml"));
        let pinned = text.replace("kafka_version = \"4.0\"", &format!("kafka_version = {version:?}"));
        std::fs::write(&file, pinned).expect("write");
        let o = ksim(&dir, &["run", file.to_str().expect("utf-8"), "--seed", "1"]);
        assert_eq!(o.status.code(), Some(2), "{version}");
        let err = stderr(&o);
        assert!(err.contains(":13:17: protocol.kafka_version: "), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(
            err.contains("valid: \"2.5\", \"2.6\", \"2.7\", \"2.8\", \"3.0\", \"3.1\", \"3.2\", \"3.3\", \"3.4\", \"3.5\", \"3.6\", \"3.7\", \"3.8\", \"3.9\", \"4.0\", \"4.1\""),
            "{err}"
        );
    }
}

#[test]
fn kip_903_is_off_in_3_3_and_3_4_and_a_switch_against_later_releases() {
    for (release, own) in [("3.3", false), ("3.4", false), ("3.5", true), ("4.0", true)] {
        let s = under_min_isr_reads_on(release, "");
        assert_eq!(
            s.protocol.broker_epoch_in_alter_partition, own,
            "{release}'s own"
        );
        assert!(s.protocol.against_version().is_empty(), "{release}");
    }
    let switched = under_min_isr_reads_on("4.0", "broker_epoch_in_alter_partition = false");
    assert!(!switched.protocol.broker_epoch_in_alter_partition);
    assert_eq!(
        switched.protocol.against_version(),
        vec!["broker_epoch_in_alter_partition = false (Kafka 4.0's own: true, KIP-903)"]
    );
    // A 3.4 run goes end to end, and replays.
    let old = under_min_isr_reads_on("3.4", "");
    let (a, b) = (outcome(&old, 1), outcome(&old, 1));
    assert_eq!(a.kafka_version.to_string(), "3.4");
    assert_eq!(a.trace_hash, b.trace_hash);
}

/// A keyless producer's topic under Kafka `version` with `switch` added to
/// its `[protocol]`.
fn keyless_text(version: &str, switch: &str) -> String {
    format!(
        r#"name = "keyless"
duration = "20s"
settle = "20s"

[protocol]
kafka_version = {version:?}
{switch}

[cluster]
brokers = 3
controllers = 1

[[topics]]
name = "orders"
partitions = 6
replication_factor = 3

[[producers]]
topic = "orders"
count = 1
rate = "500/s"
keys = 0

[[consumers]]
topic = "orders"
group = "audit"
count = 1
config = {{ "auto.offset.reset" = "earliest" }}
"#
    )
}

fn keyless_on(version: &str, switch: &str) -> Scenario {
    parse(&keyless_text(version, switch), "keyless.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn each_release_has_its_own_partitioner_and_a_switch_against_it_is_reported() {
    use ksim::client::partitioner::PartitionerKind;
    assert_eq!(
        keyless_on("3.3", "").protocol.partitioner,
        PartitionerKind::UniformSticky,
        "KIP-794"
    );
    let mut hashes = Vec::new();
    for (name, kind) in [
        ("uniform-sticky", PartitionerKind::UniformSticky),
        ("sticky", PartitionerKind::Sticky),
        ("round-robin", PartitionerKind::RoundRobin),
    ] {
        let s = keyless_on("4.0", &format!("partitioner = {name:?}"));
        assert_eq!(s.protocol.partitioner, kind);
        let o = outcome(&s, 1);
        assert!(o.violations.is_empty(), "{name}: {:?}", o.violations);
        assert!(
            o.stats.records_acked > 5000,
            "{name}: {:?}",
            o.stats.records_acked
        );
        if kind == PartitionerKind::UniformSticky {
            assert!(o.against_version.is_empty(), "4.0's own");
        } else {
            assert_eq!(
                o.against_version,
                vec![format!(
                    "partitioner = {name:?} (Kafka 4.0's own: \"uniform-sticky\", KIP-480, KIP-794)"
                )]
            );
        }
        hashes.push(o.trace_hash);
    }
    // The partitioner decides where every record goes: three runs apart.
    assert_ne!(hashes[0], hashes[1]);
    assert_ne!(hashes[1], hashes[2]);
    assert_ne!(hashes[0], hashes[2]);
    let err = parse(
        &keyless_text("4.0", "partitioner = \"default\""),
        "keyless.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"default\" is not valid; valid: \"round-robin\""),
        "{err}"
    );
}

/// Broker 3 loses the controllers (its heartbeats and metadata fetches
/// are held 30 s from 5 s to 25 s) but not the other brokers: it is fenced
/// and leaves every ISR, and goes on fetching from the leaders of
/// `orders`. Under Kafka `version` with `switch` added.
fn fenced_follower_on(version: &str, switch: &str) -> Scenario {
    let text = format!(
        r#"
name = "fenced_follower"
description = "A broker cut off from the controllers only keeps fetching."
duration = "40s"
settle = "20s"

[protocol]
kafka_version = {version:?}
{switch}

[cluster]
brokers = 3
controllers = 3

[[topics]]
name = "orders"
partitions = 3
replication_factor = 3

[[producers]]
topic = "orders"
count = 1
rate = "200/s"
config = {{ acks = "all" }}

[[faults]]
at = "5s"
kind = "latency"
groups = [["broker(3)"], ["controller(1)", "controller(2)", "controller(3)"]]
delay = "30s"
heal_after = "20s"
"#
    );
    parse(&text, "fenced_follower.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The ISRs committed with broker 3 in them while it was fenced.
fn isrs_with_fenced_3(o: &Outcome) -> Vec<String> {
    use ksim::controller::active::ControlEvent;
    use ksim::harness::history::What;
    let fenced = o
        .control_events
        .iter()
        .find(|(_, e)| *e == ControlEvent::Fenced { broker: 3 })
        .map(|(at, _)| *at)
        .expect("broker 3 is fenced");
    let unfenced = o
        .control_events
        .iter()
        .find(|(at, e)| *at > fenced && *e == ControlEvent::Unfenced { broker: 3 })
        .map_or(u64::MAX, |(at, _)| *at);
    o.history
        .events
        .iter()
        .filter(|e| e.at > fenced && e.at < unfenced)
        .filter_map(|e| match &e.what {
            What::PartitionChange { isr, .. } if isr.contains(&3) => {
                Some(format!("{} {isr:?}", e.node))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn kip_841_keeps_a_fenced_follower_out_of_the_isr_from_3_3() {
    for (release, own) in [("3.3", true), ("4.0", true)] {
        let s = fenced_follower_on(release, "");
        assert_eq!(s.protocol.fenced_replicas_kept_out_of_isr, own);
        let o = outcome(&s, 1);
        assert_eq!(isrs_with_fenced_3(&o), Vec::<String>::new(), "{release}");
    }
    // (From 3.6 a shrink keeps the leader epoch, so the fenced follower's
    // fetches, in the epoch its stale metadata has, are still served.)
    for release in ["3.6", "4.0"] {
        let s = fenced_follower_on(release, "fenced_replicas_kept_out_of_isr = false");
        assert_eq!(
            s.protocol.against_version(),
            vec![format!(
                "fenced_replicas_kept_out_of_isr = false (Kafka {release}'s own: true, KIP-841)"
            )]
        );
        // Before 3.3 its leaders propose it again as soon as it caught up,
        // and the controller takes it: fenced, in the ISR.
        let o = outcome(&s, 1);
        assert!(!isrs_with_fenced_3(&o).is_empty(), "{release}");
    }
}

#[test]
fn kafka_7128_is_a_switch_from_2_1() {
    let own = under_min_isr_reads_on("4.0", "");
    assert!(own.protocol.isr_join_requires_epoch_start_offset);
    assert!(ksim::harness::specs::broker_config(&own).isr_join_requires_epoch_start_offset);
    let s = under_min_isr_reads_on("4.0", "isr_join_requires_epoch_start_offset = false");
    assert_eq!(
        s.protocol.against_version(),
        vec!["isr_join_requires_epoch_start_offset = false (Kafka 4.0's own: true, KAFKA-7128)"]
    );
    // The leader's rule (`Partition::can_expand_with`, unit-tested in
    // `a_follower_joins_the_isr_only_at_the_high_watermark_and_the_epoch_start`)
    // takes it from the broker config.
    assert!(!ksim::harness::specs::broker_config(&s).isr_join_requires_epoch_start_offset);
}

#[test]
fn kip_320_is_two_switches_the_followers_from_2_1_and_the_consumers_from_2_3() {
    let own = under_min_isr_reads_on("3.6", "");
    assert!(own.protocol.leader_epoch_in_replica_fetch);
    assert!(own.protocol.consumer_leader_epoch_validation);
    let off = "leader_epoch_in_replica_fetch = false\nconsumer_leader_epoch_validation = false";
    let s = under_min_isr_reads_on("3.6", off);
    assert_eq!(
        s.protocol.against_version(),
        vec![
            "leader_epoch_in_replica_fetch = false (Kafka 3.6's own: true, KIP-320)",
            "consumer_leader_epoch_validation = false (Kafka 3.6's own: true, KIP-320)",
        ]
    );
    // The follower's side (its Fetch without an epoch, and a stale leader
    // serving it) is unit-tested in
    // `before_kip_320_a_follower_fetches_without_its_leader_epoch_and_a_stale_leader_serves_it`.
    assert!(!ksim::harness::specs::broker_config(&s).leader_epoch_in_replica_fetch);
    // The consumer's: under 3.6 the consumer of `under_min_isr_reads` read
    // records that vanished with the leader's page cache. From 2.3 it
    // validates its position after the leader change and moves back to
    // the new log end (truncation detected); before, its next fetch is
    // out of range and `auto.offset.reset` (latest) moves it.
    let old = under_min_isr_reads_on("3.6", "consumer_leader_epoch_validation = false");
    for seed in [9, 19] {
        let validated = outcome(&own, seed);
        assert_eq!(validated.stats.offset_resets, 0, "seed {seed}");
        let reset = outcome(&old, seed);
        assert!(reset.stats.offset_resets > 0, "seed {seed}");
    }
}

#[test]
fn kip_279_is_the_truncation_switchs_third_value() {
    use ksim::scenario::Truncation;
    let s = under_min_isr_reads_on("4.0", "truncation = \"epoch-end-offset\"");
    assert_eq!(s.protocol.truncation, Truncation::EpochEndOffset);
    assert_eq!(
        s.protocol.against_version(),
        vec!["truncation = \"epoch-end-offset\" (Kafka 4.0's own: \"leader-epoch\", KIP-101)"]
    );
    // The follower and leader of 0.11 to 1.1 (unit-tested in
    // `before_kip_279_a_follower_truncates_to_the_end_offset_of_its_own_epoch_and_keeps_a_divergent_tail`)
    // take it from the broker config; a run goes end to end and replays.
    assert_eq!(
        ksim::harness::specs::broker_config(&s).truncation,
        Truncation::EpochEndOffset
    );
    let (a, b) = (outcome(&s, 1), outcome(&s, 1));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(
        a.trace_hash,
        outcome(&under_min_isr_reads_on("4.0", ""), 1).trace_hash
    );
}
/// `last_replica_power_loss` as a Kafka `version` cluster runs it, with
/// `switch` in its `[protocol]`.
fn last_replica_power_loss_on(version: &str, switch: &str) -> Scenario {
    shipped_on("anomalies/last_replica_power_loss", version, &[], switch)
}

#[test]
fn kip_966_eligible_leader_replicas_keep_the_last_replica_standing_from_losing_acked_writes() {
    // Without ELR (4.0's own) the leader that lost power is the last ISR
    // member and is re-elected with its shorter log: acknowledged writes
    // go (every seed of 0..20 `ksim explore` tried). With ELR it restarts
    // uncleanly, leaves the ISR and the ELR, and the partition waits
    // offline for the follower in the ELR, which has them all.
    let old = last_replica_power_loss_on("4.0", "");
    assert!(!old.protocol.eligible_leader_replicas, "4.0's own");
    assert!(old.protocol.against_version().is_empty());
    let switched = last_replica_power_loss_on("4.0", "eligible_leader_replicas = true");
    assert!(switched.protocol.eligible_leader_replicas);
    assert_eq!(
        switched.protocol.against_version(),
        vec!["eligible_leader_replicas = true (Kafka 4.0's own: false, KIP-966)"]
    );
    let new = last_replica_power_loss_on("4.1", "");
    assert!(new.protocol.eligible_leader_replicas, "4.1's own");
    assert!(new.protocol.against_version().is_empty());
    let off = last_replica_power_loss_on("4.1", "eligible_leader_replicas = false");
    assert_eq!(
        off.protocol.against_version(),
        vec!["eligible_leader_replicas = false (Kafka 4.1's own: true, KIP-966)"]
    );
    assert!(!outcome(&off, 1).violations.is_empty(), "4.1 with ELR off");
    assert!(outcome(&new, 1).violations.is_empty(), "4.1");
    for seed in [1, 2] {
        let broken = outcome(&old, seed);
        assert!(
            broken
                .violations
                .iter()
                .any(|v| v.invariant == "acked_writes_durable"),
            "seed {seed}: {:?}",
            broken.violations
        );
        let kept = outcome(&switched, seed);
        assert!(
            kept.violations.is_empty(),
            "seed {seed}: {:?}",
            kept.violations
        );
        let text = kept
            .history
            .events
            .iter()
            .map(|e| e.text(None))
            .collect::<Vec<_>>();
        assert!(
            text.iter().any(|t| t.contains("ISR [], ELR [")),
            "seed {seed}: the ISR emptied into the ELR: {text:?}"
        );
        assert!(
            kept.control_events.iter().any(|(_, e)| matches!(
                e,
                ksim::controller::active::ControlEvent::ShutdownDetected { clean: false, .. }
            )),
            "seed {seed}: the restart was an unclean shutdown"
        );
    }
}

/// `rolling_update` (no pinned release) under Kafka `version` with
/// `switches` in its `[protocol]`.
fn rolling_update_on(version: &str, switches: &str) -> Scenario {
    let text = format!(
        "{}\n[protocol]\nkafka_version = {version:?}\n{switches}\n",
        shipped("rolling_update")
    );
    parse(&text, "rolling_update.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The NoOpRecords in the metadata log of the active controller.
fn noop_records(r: &ksim::harness::Run) -> usize {
    let id = r.active_controller().expect("an active controller");
    let log = r.controller(id).expect("controller").client().log();
    (0..log.end_offset())
        .filter_map(|o| log.entry(o))
        .filter(|e| match &e.record {
            ksim::controller::raft::Record::Data(bytes) => matches!(
                ksim::metadata::MetadataRecord::decode(bytes),
                Some(ksim::metadata::MetadataRecord::NoOpRecord)
            ),
            _ => false,
        })
        .count()
}

#[test]
fn kip_835_noop_records_come_in_3_3_and_brokers_unfence_without_them() {
    use ksim::harness::Run;
    for (switch, own) in [("", true), ("metadata_noop_records = false", false)] {
        let s = rolling_update_on("3.3", switch);
        assert_eq!(s.protocol.metadata_noop_records, own);
        let mut r = Run::start(&s, 1, &RunOptions::default()).expect("starts");
        r.advance_to(9 * sim::SECONDS);
        let noops = noop_records(&r);
        if own {
            // One every 500 ms of the active controller's.
            assert!(noops >= 10, "{noops} NoOpRecords in 9 s");
        } else {
            assert_eq!(noops, 0, "{switch}");
        }
        // Every broker was unfenced all the same (3.3's rule: its own
        // registration record).
        let image = r.metadata().expect("metadata");
        assert_eq!(image.brokers.len(), 3);
        assert!(image.brokers.values().all(|b| !b.fenced), "{switch}");
    }
}

#[test]
fn kafka_13858_a_broker_in_controlled_shutdown_applies_metadata_from_3_3_not_before() {
    use ksim::harness::{Process, Run};
    let leads = |image: &ksim::metadata::MetadataImage, id: u32| {
        image.topics["orders"]
            .partitions
            .values()
            .filter(|p| p.leader == Some(id))
            .count()
    };
    for (switch, own) in [
        ("", true),
        ("metadata_applied_in_controlled_shutdown = false", false),
    ] {
        let s = rolling_update_on("3.3", switch);
        assert_eq!(s.protocol.metadata_applied_in_controlled_shutdown, own);
        let mut r = Run::start(&s, 1, &RunOptions::default()).expect("starts");
        r.advance_to(10 * sim::SECONDS);
        let before = leads(&r.broker(1).expect("up").image().clone(), 1);
        assert!(before > 0, "broker 1 leads before its SIGTERM");
        // Step through its controlled shutdown: the committed metadata
        // comes to show it leading nothing while it is up; does its own
        // image follow?
        let (mut moved, mut followed) = (false, false);
        let mut t = 10 * sim::SECONDS;
        while r.broker_state(1) == Process::Up {
            let own_image = r.broker(1).expect("up").image();
            moved |= leads(&r.metadata().expect("metadata"), 1) == 0;
            followed |= leads(own_image, 1) == 0;
            if !own {
                assert_eq!(leads(own_image, 1), before, "its image stays as it was");
            }
            t += 5 * sim::MILLIS;
            assert!(t < 20 * sim::SECONDS, "broker 1 never stopped");
            r.advance_to(t);
        }
        assert!(
            moved,
            "{switch}: the controller moved its leaderships first"
        );
        assert_eq!(followed, own, "{switch}");
        let outcome = r.finish().expect("finishes");
        assert!(
            outcome
                .against_version
                .iter()
                .any(|a| a.contains("KAFKA-13858"))
                != own
        );
    }
}

/// Shipped scenario `name` (which pins no release) under Kafka `version`.
fn unpinned_on(name: &str, version: &str) -> Scenario {
    let text = shipped(name);
    assert!(!text.contains("kafka_version"), "{name} pins no release");
    let text = format!("{text}\n[protocol]\nkafka_version = {version:?}\n");
    parse(&text, &format!("{name}.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kafka_3_2_3_1_3_0_2_8_2_7_2_6_and_2_5_run_broker_crash_with_their_own_kraft_and_replay() {
    use ksim::harness::Run;
    // 2.8, 2.7, 2.6 and 2.5 run 3.0's KRaft control plane (the 3.x switches
    // as for 3.0) with their own data path: KAFKA-12686 off; under 2.7 also
    // KAFKA-10101, KAFKA-10554 and apache/kafka#9749; under 2.6 also
    // KIP-497 and KAFKA-9911; under 2.5 also KAFKA-9952, KAFKA-9666 and
    // KAFKA-9600.
    for version in ["3.2", "3.1", "3.0", "2.8", "2.7", "2.6", "2.5"] {
        let s = unpinned_on("broker_crash", version);
        let p = &s.protocol;
        assert!(!p.metadata_noop_records && !p.unfence_at_registration_offset);
        assert!(!p.metadata_applied_in_controlled_shutdown);
        assert!(!p.fenced_replicas_kept_out_of_isr);
        assert!(!p.leader_state_kept_on_partition_update);
        assert_eq!(p.static_leader_rejoins_as_leader, version == "3.2");
        let two = version.starts_with("2.");
        // 2.6 and 2.5 have no AlterIsrManager (KIP-497): their leaders wrote
        // their ISR at once, and `makeLeader` and the high watermark waited
        // for it.
        let kafka_2_6 = version == "2.6" || version == "2.5";
        assert_eq!(
            p.hw_incremented_after_alter_partition,
            (version != "3.0" && !two) || kafka_2_6
        );
        let at_least_2_8 = !["2.7", "2.6", "2.5"].contains(&version);
        let at_least_2_7 = version != "2.6" && version != "2.5";
        let at_least_2_6 = version != "2.5";
        assert_eq!(p.follower_fetch_waits_for_data, at_least_2_6, "KAFKA-9952");
        assert_eq!(p.failed_epoch_fence_remembered, at_least_2_6, "KAFKA-9666");
        assert_eq!(p.strict_end_txn_epoch, at_least_2_6, "KAFKA-9600");
        assert_eq!(p.pending_isr_state, at_least_2_7, "KIP-497 is 2.7.0's");
        assert_eq!(p.producer_fenced_error, at_least_2_7, "KAFKA-9911");
        assert_eq!(
            p.recovery_point_held_after_recovery, at_least_2_8,
            "KAFKA-10101 is 2.8.0's"
        );
        assert_eq!(p.truncation_on_fetch, at_least_2_8);
        assert_eq!(p.alter_partition_sent_at_once, at_least_2_8 || kafka_2_6);
        assert_eq!(p.alter_partition_kept_on_role_change, !two || kafka_2_6);
        assert_eq!(p.partitioner.name(), "sticky");
        for seed in [1, 2] {
            // The crashed leader comes back and is unfenced by 3.2's rule
            // (its metadata at the controller's last committed offset), on
            // a metadata log with no NoOpRecord.
            let mut r = Run::start(&s, seed, &RunOptions::default()).expect("starts");
            r.advance_to(r.end_ns());
            assert_eq!(noop_records(&r), 0, "{version} seed {seed}");
            let image = r.metadata().expect("metadata");
            assert!(
                image.brokers.values().all(|b| !b.fenced),
                "{version} seed {seed}: every broker unfenced at the end"
            );
            let first = r.finish().expect("finishes");
            assert_eq!(first.kafka_version.to_string(), version);
            assert!(
                first.against_version.is_empty(),
                "{:?}",
                first.against_version
            );
            assert!(
                first.violations.is_empty(),
                "{version} seed {seed}: {:?}",
                first.violations.first()
            );
            let again = outcome(&s, seed);
            assert_eq!(
                first.trace_hash, again.trace_hash,
                "{version} seed {seed} replays"
            );
        }
    }
}

/// `kip320_zombie_follower` (Kafka 1.1's follower) with Kafka 2.0's
/// instead, under 4.0: truncation by leader epoch (KIP-279), no epoch in
/// its Fetch (before KIP-320), and `truncation_on_fetch` as given.
fn zombie_2_0_follower(on_fetch: bool) -> Scenario {
    let text = shipped("anomalies/kip320_zombie_follower");
    let follower = "truncation = \"epoch-end-offset\"";
    assert!(text.contains(follower));
    let text = text.replace(
        follower,
        &format!("truncation = \"leader-epoch\"\ntruncation_on_fetch = {on_fetch}\n#"),
    );
    parse(&text, "kip320_zombie_follower.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kafka_10554_truncation_on_fetch_catches_a_zombie_follower_from_2_8() {
    // Before KAFKA-10554 (2.0 to 2.7) a follower compares its log with the
    // leader's only after following a new leader epoch. Without KIP-320 the
    // zombie of `kip320_zombie_follower`, its metadata stuck at epoch 0,
    // keeps fetching from broker-1, now leader of epoch 2, with no epoch
    // at all: broker-1 serves it, and the records broker-1 truncated stay
    // under the new ones. From 2.8 every fetch carries its last fetched
    // epoch, and broker-1's diverging-epoch answer truncates it.
    let asked = zombie_2_0_follower(false);
    assert!(asked
        .protocol
        .against_version()
        .contains(&"truncation_on_fetch = false (Kafka 4.0's own: true, KAFKA-10554)".to_owned()));
    assert!(!ksim::harness::specs::broker_config(&asked).truncation_on_fetch);
    let on_fetch = zombie_2_0_follower(true);
    for seed in [0, 1] {
        let broken = outcome(&asked, seed);
        assert!(
            broken
                .violations
                .iter()
                .any(|v| v.invariant == "replicas_consistent"),
            "seed {seed}: {:?}",
            broken.violations.first()
        );
        let fixed = outcome(&on_fetch, seed);
        assert!(
            fixed.violations.is_empty(),
            "seed {seed}: {:?}",
            fixed.violations.first()
        );
    }
}

#[test]
fn kafka_2_7_sends_isr_changes_at_the_send_alter_isr_tasks_runs() {
    // The same run under 2.8 and under 2.8 with 2.7's periodic AlterIsr
    // task: the ISR changes of `broker_crash` go out later, so the runs
    // differ, and each replays.
    let own = unpinned_on("broker_crash", "2.8");
    let text = format!(
        "{}\n[protocol]\nkafka_version = \"2.8\"\nalter_partition_sent_at_once = false\n",
        shipped("broker_crash")
    );
    let periodic = parse(&text, "broker_crash.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        periodic.protocol.against_version(),
        vec!["alter_partition_sent_at_once = false (Kafka 2.8's own: true, apache/kafka#9749)"]
    );
    let (a, b) = (outcome(&periodic, 1), outcome(&periodic, 1));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(a.violations.is_empty(), "{:?}", a.violations.first());
    assert_ne!(a.trace_hash, outcome(&own, 1).trace_hash);
}

/// A producer cut off from every broker for 50 s, under Kafka 2.8 with
/// `delivery_timeout_bounds_sends` as given.
fn producer_cut_off(bounded: bool) -> Scenario {
    let text = format!(
        r#"name = "producer_cut_off"
duration = "80s"
settle = "40s"
[cluster]
brokers = 3
controllers = 3
[protocol]
kafka_version = "2.8"
delivery_timeout_bounds_sends = {bounded}
[[topics]]
name = "orders"
partitions = 1
replication_factor = 3
[[producers]]
topic = "orders"
count = 1
rate = "100/s"
keys = 0
config = {{ acks = "all" }}
[[faults]]
at = "10s"
kind = "partition"
groups = [["producer(0)"]]
heal_after = "50s"
"#
    );
    parse(&text, "producer_cut_off.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kip_91_is_a_switch_queued_batches_expired_by_request_timeout_before_2_1() {
    // From 2.1 the queued batches wait up to delivery.timeout.ms (120 s),
    // longer than the cut: every record is acknowledged after the heal.
    // Before (2.0's `maybeExpire`) a queued batch expires 30 s
    // (request.timeout.ms) after its creation: what the producer queued in
    // the cut's first 20 s is failed.
    let bounded = producer_cut_off(true);
    assert!(bounded.protocol.against_version().is_empty());
    let unbounded = producer_cut_off(false);
    assert_eq!(
        unbounded.protocol.against_version(),
        vec!["delivery_timeout_bounds_sends = false (Kafka 2.8's own: true, KIP-91)"]
    );
    for seed in [1, 2] {
        let all = outcome(&bounded, seed);
        assert_eq!(
            all.stats.records_acked, all.stats.records_sent,
            "seed {seed}"
        );
        let some = outcome(&unbounded, seed);
        assert!(
            some.stats.records_acked + 1000 < some.stats.records_sent,
            "seed {seed}: {} of {}",
            some.stats.records_acked,
            some.stats.records_sent
        );
    }
}

/// `controller_rejoin` under Kafka `version`, with `switch` added.
fn controller_rejoin_on(version: &str, switch: &str) -> Scenario {
    // KAFKA-15591's race (seed 0 under 3.9) is not what this shows.
    let switch = format!("unknown_producer_any_sequence = false\n{switch}");
    shipped_on("controller_rejoin", version, &[], &switch)
}

/// KRaft leaders elected at or after `from_ns`: (time, controller, epoch).
fn elections_from(o: &Outcome, from_ns: u64) -> Vec<(u64, String, u32)> {
    o.quorum_history
        .iter()
        .filter_map(|(at, node, obs)| match obs {
            ksim::controller::node::QuorumObs::BecameLeader { epoch } if *at >= from_ns => {
                Some((*at, node.clone(), *epoch))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn kip_996_pre_vote_keeps_a_controller_back_from_a_partition_from_deposing_the_leader() {
    // controller(1) is cut off from 10 s to 30 s (on some seeds it is the
    // active controller: the others elect a new leader while it is away,
    // under either release).
    const HEAL_NS: u64 = 30_000_000_000;
    let new = controller_rejoin_on("4.0", "");
    assert!(new.protocol.kraft_pre_vote, "4.0's own");
    let old = controller_rejoin_on("3.9", "");
    assert!(!old.protocol.kraft_pre_vote, "3.9's own");
    let off = controller_rejoin_on("4.0", "kraft_pre_vote = false");
    assert_eq!(
        off.protocol.against_version(),
        vec![
            "kraft_pre_vote = false (Kafka 4.0's own: true, KIP-996)",
            "unknown_producer_any_sequence = false (Kafka 4.0's own: true, KIP-360)"
        ]
    );
    for seed in [0, 1, 2] {
        let calm = outcome(&new, seed);
        assert!(
            calm.violations.is_empty(),
            "seed {seed}: {:?}",
            calm.violations
        );
        assert_eq!(
            elections_from(&calm, HEAL_NS),
            vec![],
            "seed {seed}: with pre-vote the leader stays"
        );
        let leader_epoch = elections_from(&calm, 0).last().expect("a leader").2;
        assert!(
            calm.quorum.iter().all(|c| c.epoch == leader_epoch),
            "seed {seed}: every controller in the leader's epoch {leader_epoch}: {:?}",
            calm.quorum
        );
        for disrupted in [outcome(&old, seed), outcome(&off, seed)] {
            assert!(
                disrupted.violations.is_empty(),
                "seed {seed}: availability, not safety: {:?}",
                disrupted.violations
            );
            let after = elections_from(&disrupted, HEAL_NS);
            let before = elections_from(&disrupted, 0).len() - after.len();
            assert!(
                !after.is_empty(),
                "seed {seed}: without pre-vote the returning controller forces an election"
            );
            let epoch_at_heal = elections_from(&disrupted, 0)[before - 1].2;
            assert!(
                after.iter().all(|(_, _, e)| *e > epoch_at_heal + 1),
                "seed {seed}: elected above the epochs it bumped alone: {after:?} (leader's epoch at the heal {epoch_at_heal})"
            );
        }
    }
}

#[test]
fn kafka_14392_halves_the_heartbeat_request_timeout_from_3_3() {
    // BrokerServer's "heartbeat" channel retries after
    // broker.session.timeout.ms / 2 from 3.3.2 (ksim's 3.3), after the
    // whole session timeout before; AlterPartition and AllocateProducerIds
    // wait controller.socket.timeout.ms in every release.
    for (release, heartbeat_ms) in [("3.2", 9000), ("3.3", 4500), ("4.1", 4500)] {
        let timeouts = ksim::harness::specs::broker_config(&under_min_isr_reads_on(release, ""))
            .controller_request_timeouts;
        assert_eq!(timeouts.heartbeat_ms, heartbeat_ms, "{release}");
        assert_eq!(timeouts.controller_socket_ms, 30_000, "{release}");
    }
}

#[test]
fn kafka_2_6_is_modelled_its_leaders_freezing_a_partition_while_they_write_its_isr() {
    // `kafka_version = "2.6"` (and "2.6.3") parses, its switches set as
    // 2.6.3's: KIP-497 and KAFKA-9911 off.
    for version in ["2.6", "2.6.3"] {
        let s = unpinned_on("broker_crash", version);
        assert_eq!(s.protocol.kafka_version.to_string(), "2.6");
        assert!(!s.protocol.pending_isr_state);
        assert!(!s.protocol.producer_fenced_error);
        assert!(s.protocol.against_version().is_empty());
        let broker = ksim::harness::specs::broker_config(&s);
        assert!(!broker.pending_isr_state && !broker.producer_fenced_error);
    }
    // Under 2.7, each is a switch set against the release.
    let text = format!(
        "{}\n[protocol]\nkafka_version = \"2.7\"\npending_isr_state = false\nproducer_fenced_error = false\n",
        shipped("broker_crash")
    );
    let asked = parse(&text, "broker_crash.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        asked.protocol.against_version(),
        vec![
            "pending_isr_state = false (Kafka 2.7's own: true, KIP-497)",
            "producer_fenced_error = false (Kafka 2.7's own: true, KAFKA-9911)",
        ]
    );
    // 2.6 runs end to end (its leaders' ISR changes freeze their
    // partitions), takes another course than 2.7, and replays.
    broker_crash_runs_replays_and_differs("2.6", "2.7");
}

/// `broker_crash` under `version` passes seed 1, replays it, and takes
/// another course than under the next release `next`.
fn broker_crash_runs_replays_and_differs(version: &str, next: &str) {
    let s = unpinned_on("broker_crash", version);
    let (a, b) = (outcome(&s, 1), outcome(&s, 1));
    assert_eq!(a.kafka_version.to_string(), version);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(a.violations.is_empty(), "{:?}", a.violations.first());
    assert_ne!(
        a.trace_hash,
        outcome(&unpinned_on("broker_crash", next), 1).trace_hash
    );
}

#[test]
fn kafka_2_5_is_modelled_its_leaders_telling_followers_each_high_watermark_at_once() {
    // `kafka_version = "2.5"` (and "2.5.1") parses, its switches set as
    // 2.5.1's: KAFKA-9952, KAFKA-9666 and KAFKA-9600 off, and 2.6's off too.
    for version in ["2.5", "2.5.1"] {
        let s = unpinned_on("broker_crash", version);
        let p = &s.protocol;
        assert_eq!(p.kafka_version.to_string(), "2.5");
        assert!(!p.follower_fetch_waits_for_data);
        assert!(!p.failed_epoch_fence_remembered && !p.strict_end_txn_epoch);
        assert!(!p.pending_isr_state && !p.producer_fenced_error);
        assert!(p.against_version().is_empty());
        let broker = ksim::harness::specs::broker_config(&s);
        assert!(!broker.follower_fetch_waits_for_data);
        assert!(!broker.failed_epoch_fence_remembered && !broker.strict_end_txn_epoch);
        // Written back, the switches read the same.
        let again = parse(&s.to_toml(), "again.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.protocol, s.protocol);
    }
    // Under 2.6, each is a switch set against the release.
    let text = format!(
        "{}\n[protocol]\nkafka_version = \"2.6\"\nfollower_fetch_waits_for_data = false\nfailed_epoch_fence_remembered = false\nstrict_end_txn_epoch = false\n",
        shipped("broker_crash")
    );
    let asked = parse(&text, "broker_crash.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        asked.protocol.against_version(),
        vec![
            "follower_fetch_waits_for_data = false (Kafka 2.6's own: true, KAFKA-9952)",
            "failed_epoch_fence_remembered = false (Kafka 2.6's own: true, KAFKA-9666)",
            "strict_end_txn_epoch = false (Kafka 2.6's own: true, KAFKA-9600)",
        ]
    );
    let written = asked.to_toml();
    for line in [
        "follower_fetch_waits_for_data = false",
        "failed_epoch_fence_remembered = false",
        "strict_end_txn_epoch = false",
    ] {
        assert!(written.contains(line), "{line}");
    }
    // 2.5 runs end to end (its leaders answer a follower's fetch at once
    // while it has not been told the high watermark), takes another course
    // than 2.6, and replays.
    broker_crash_runs_replays_and_differs("2.5", "2.6");
}

#[test]
fn the_2_4_looks_kafka_9338_kafka_9801_and_kafka_9752_switches_are_every_modelled_releases_and_set_against_any(
) {
    // 2.5.0 brought all three (2.4.1 lacks them): every modelled release
    // has them on.
    for version in ["2.5", "2.6", "3.0", "3.8", "4.1"] {
        let s = unpinned_on("broker_crash", version);
        assert!(s.protocol.fetch_session_leader_epoch, "{version}");
        assert!(
            s.protocol.static_rejoin_rebalances_when_completing,
            "{version}"
        );
        assert!(s.protocol.new_member_heartbeat_expiration, "{version}");
        assert!(s.protocol.against_version().is_empty(), "{version}");
        let broker = ksim::harness::specs::broker_config(&s);
        assert!(
            broker.fetch_session_leader_epoch
                && broker.static_rejoin_rebalances_when_completing
                && broker.new_member_heartbeat_expiration
        );
    }
    // Off (2.4.1's behaviours) against any release: reported, carried to
    // the brokers, written back.
    for version in ["2.5", "4.1"] {
        let text = format!(
            "{}\n[protocol]\nkafka_version = {version:?}\nfetch_session_leader_epoch = false\nstatic_rejoin_rebalances_when_completing = false\nnew_member_heartbeat_expiration = false\n",
            shipped("broker_crash")
        );
        let asked = parse(&text, "broker_crash.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            asked.protocol.against_version(),
            vec![
                format!("fetch_session_leader_epoch = false (Kafka {version}'s own: true, KAFKA-9338)"),
                format!("static_rejoin_rebalances_when_completing = false (Kafka {version}'s own: true, KAFKA-9801)"),
                format!("new_member_heartbeat_expiration = false (Kafka {version}'s own: true, KAFKA-9752)"),
            ]
        );
        let broker = ksim::harness::specs::broker_config(&asked);
        assert!(!broker.fetch_session_leader_epoch);
        assert!(!broker.static_rejoin_rebalances_when_completing);
        assert!(!broker.new_member_heartbeat_expiration);
        let written = asked.to_toml();
        for line in [
            "fetch_session_leader_epoch = false",
            "static_rejoin_rebalances_when_completing = false",
            "new_member_heartbeat_expiration = false",
        ] {
            assert!(written.contains(line), "{line}");
        }
        let again = parse(&written, "again.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.protocol, asked.protocol);
    }
    // 2.4 stays refused: `a_release_ksim_cannot_run_is_refused_naming_what_it_lacks`.
}

/// `eos_pipeline` under Kafka 3.9 (transactions v1: the client bumps its
/// epoch itself), with `switch` added to its `[protocol]`.
fn eos_pipeline_on_3_9(switch: &str) -> Scenario {
    let text = format!(
        "{}\n[protocol]\nkafka_version = \"3.9\"\n{switch}",
        shipped("eos_pipeline")
    );
    parse(&text, "eos_pipeline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// A run of `s` with its trace: the outcome, how many InitProducerId
/// requests of `etl-0` carry a producer id and epoch (KIP-360's v3), and
/// the epochs its EndTxn requests name, with whether each commits.
fn etl_0_epochs(s: &Scenario, seed: u64, test: &str) -> (Outcome, usize, Vec<(i16, bool)>) {
    let trace = scratch("versions", test).join("trace.jsonl");
    let options = RunOptions {
        trace: Some(trace.clone()),
        ..RunOptions::default()
    };
    let o = run(s, seed, &options).expect("runs");
    let lines = std::fs::read_to_string(&trace).expect("trace");
    let bumps = lines
        .lines()
        .filter(|l| {
            l.contains(r#"transactional_id: Some(\"etl-0\")"#)
                && l.contains("producer_id_and_epoch: Some(")
        })
        .count();
    let mut ends: Vec<(i16, bool)> = lines
        .lines()
        .filter(|l| l.contains(r#"request: EndTxn { version: 4, transactional_id: \"etl-0\""#))
        .map(|l| {
            let after = l.split("producer_epoch: ").nth(1).expect("an epoch");
            let epoch = after.split(',').next().unwrap().parse().unwrap();
            (epoch, after.contains("committed: true"))
        })
        .collect();
    ends.dedup();
    (o, bumps, ends)
}

#[test]
fn the_2_4_looks_kafka_8710_switch_lets_a_transactional_producer_bump_its_epoch_itself() {
    // KIP-360's client side came with 2.5.0: every modelled release has it.
    for version in ["2.5", "3.0", "4.1"] {
        let s = unpinned_on("broker_crash", version);
        assert!(s.protocol.transactional_epoch_bump, "{version}");
        assert!(ksim::harness::specs::broker_config(&s).transactional_epoch_bump);
    }
    let own = eos_pipeline_on_3_9("");
    assert!(own.protocol.against_version().is_empty());
    let off = eos_pipeline_on_3_9("transactional_epoch_bump = false\n");
    let line = "transactional_epoch_bump = false (Kafka 3.9's own: true, KAFKA-8710)";
    assert_eq!(off.protocol.against_version(), vec![line]);
    assert!(!ksim::harness::specs::broker_config(&off).transactional_epoch_bump);
    let written = off.to_toml();
    assert!(written.contains("transactional_epoch_bump = false"));
    let again = parse(&written, "again.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.protocol, off.protocol);
    // Seed 12: pipeline member 0's TxnOffsetCommit is refused
    // ILLEGAL_GENERATION (a rebalance, KIP-447: an abortable error) and it
    // aborts in epoch 0. With the bump it then sends InitProducerId with
    // its producer id and epoch and commits in epoch 1; without (a 2.4.1
    // coordinator, InitProducerId v0-2) it goes on in epoch 0.
    let (with, bumps, ends) = etl_0_epochs(&own, 12, "kafka_8710_on");
    assert!(with.violations.is_empty(), "{:?}", with.violations);
    assert!(bumps > 0);
    assert_eq!(ends, [(0, true), (0, false), (1, true)]);
    let (without, bumps, ends) = etl_0_epochs(&off, 12, "kafka_8710_off");
    assert!(without.violations.is_empty(), "{:?}", without.violations);
    assert_eq!(without.against_version, vec![line]);
    assert_eq!(bumps, 0, "InitProducerId v0-2 carries neither");
    assert_eq!(ends, [(0, true), (0, false), (0, true)]);
}
