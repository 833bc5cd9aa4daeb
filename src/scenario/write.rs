//! Writes a [`Scenario`] back as a scenario file (e.g. for `ksim shrink`);
//! parsing the output gives the same scenario.

use std::fmt::Write;

use super::invariant::Invariant;
use super::model::Scenario;
use super::units::format_duration as d;
use crate::config::{ConfigValue, KafkaConfigs};

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A `config = { ... }` line of Kafka configs, keys quoted; nothing when empty.
fn configs(c: &KafkaConfigs) -> String {
    if c.values().is_empty() {
        return String::new();
    }
    let items: Vec<String> = c
        .values()
        .iter()
        .map(|(name, value)| {
            let v = match value {
                ConfigValue::Int(v) => v.to_string(),
                ConfigValue::Bool(v) => v.to_string(),
                ConfigValue::Str(v) => q(v),
                ConfigValue::List(v) => q(&v.join(",")),
            };
            format!("{} = {v}", q(name))
        })
        .collect();
    format!("config = {{ {} }}\n", items.join(", "))
}

impl Scenario {
    /// The scenario as a scenario file, every value explicit except empty
    /// configs and the default (all) invariants.
    pub fn to_toml(&self) -> String {
        let mut w = String::new();
        // Writing to a String cannot fail.
        let _ = self.write(&mut w);
        w
    }

    fn write(&self, w: &mut String) -> std::fmt::Result {
        writeln!(w, "name = {}", q(&self.name))?;
        writeln!(w, "description = {}", q(&self.description))?;
        writeln!(w, "duration = \"{}\"", d(self.duration_ns))?;
        writeln!(w, "settle = \"{}\"", d(self.settle_ns))?;
        let c = &self.cluster;
        writeln!(
            w,
            "\n[cluster]\nbrokers = {}\ncontrollers = {}",
            c.brokers, c.controllers
        )?;
        w.push_str(&configs(&c.config));
        for t in self.topics.iter().filter(|t| t.created_at_ns.is_none()) {
            writeln!(
                w,
                "\n[[topics]]\nname = {}\npartitions = {}",
                q(&t.name),
                t.partitions
            )?;
            writeln!(w, "replication_factor = {}", t.replication_factor)?;
            w.push_str(&configs(&t.config));
        }
        for p in &self.producers {
            writeln!(
                w,
                "\n[[producers]]\ntopic = {}\ncount = {}",
                q(&p.topic),
                p.count
            )?;
            writeln!(w, "rate = \"{}\"\nkeys = {}", p.rate, p.keys)?;
            if p.tombstones > 0.0 {
                writeln!(w, "tombstones = {}", toml::Value::Float(p.tombstones))?;
            }
            if let Some(txn) = &p.transaction {
                writeln!(
                    w,
                    "transaction = {{ records = {}, abort = {} }}",
                    txn.records,
                    toml::Value::Float(txn.abort)
                )?;
            }
            w.push_str(&configs(&p.config));
        }
        for c in &self.consumers {
            writeln!(
                w,
                "\n[[consumers]]\ntopic = {}\ngroup = {}",
                q(&c.topic),
                q(&c.group)
            )?;
            writeln!(w, "count = {}", c.count)?;
            writeln!(
                w,
                "processing = {}\nprocessing_time = \"{}\"",
                q(c.processing.name()),
                d(c.processing_time_ns)
            )?;
            w.push_str(&configs(&c.config));
        }
        for p in &self.pipelines {
            writeln!(
                w,
                "\n[[pipelines]]\ninput = {}\noutput = {}\ngroup = {}\ncount = {}",
                q(&p.input),
                q(&p.output),
                q(&p.group),
                p.count
            )?;
            w.push_str(&configs(&p.config));
        }
        let n = &self.network;
        writeln!(w, "\n[network]")?;
        let (min, max) = (d(n.latency_min_ns), d(n.latency_max_ns));
        writeln!(w, "latency = {{ min = \"{min}\", max = \"{max}\" }}")?;
        let k = &self.disk;
        writeln!(w, "\n[disk]")?;
        let (min, max) = (d(k.fsync_latency_min_ns), d(k.fsync_latency_max_ns));
        writeln!(w, "fsync_latency = {{ min = \"{min}\", max = \"{max}\" }}")?;
        writeln!(w, "writeback_interval = \"{}\"", d(k.writeback_interval_ns))?;
        writeln!(w, "dirty_expire = \"{}\"", d(k.dirty_expire_ns))?;
        writeln!(w, "torn_writes = {}", k.torn_writes)?;
        // One line a key, so that a new switch adds a line.
        let p = &self.protocol;
        writeln!(w, "\n[protocol]\nkafka_version = \"{}\"", p.kafka_version)?;
        writeln!(w, "truncation = \"{}\"", p.truncation.name())?;
        writeln!(w, "transaction_version = {}", p.transaction_version)?;
        writeln!(w, "hw_held_below_min_isr = {}", p.hw_held_below_min_isr)?;
        writeln!(
            w,
            "leader_epoch_bump_on_isr_shrink = {}",
            p.leader_epoch_bump_on_isr_shrink
        )?;
        writeln!(
            w,
            "broker_epoch_in_alter_partition = {}",
            p.broker_epoch_in_alter_partition
        )?;
        writeln!(
            w,
            "offsets_kept_while_group_active = {}",
            p.offsets_kept_while_group_active
        )?;
        writeln!(w, "partitioner = \"{}\"", p.partitioner.name())?;
        writeln!(
            w,
            "fenced_replicas_kept_out_of_isr = {}",
            p.fenced_replicas_kept_out_of_isr
        )?;
        writeln!(w, "metadata_noop_records = {}", p.metadata_noop_records)?;
        writeln!(
            w,
            "unfence_at_registration_offset = {}",
            p.unfence_at_registration_offset
        )?;
        writeln!(
            w,
            "metadata_applied_in_controlled_shutdown = {}",
            p.metadata_applied_in_controlled_shutdown
        )?;
        writeln!(
            w,
            "static_leader_rejoins_as_leader = {}",
            p.static_leader_rejoins_as_leader
        )?;
        writeln!(
            w,
            "leader_state_kept_on_partition_update = {}",
            p.leader_state_kept_on_partition_update
        )?;
        writeln!(
            w,
            "hw_incremented_after_alter_partition = {}",
            p.hw_incremented_after_alter_partition
        )?;
        writeln!(
            w,
            "recovery_point_held_after_recovery = {}",
            p.recovery_point_held_after_recovery
        )?;
        writeln!(
            w,
            "alter_partition_kept_on_role_change = {}",
            p.alter_partition_kept_on_role_change
        )?;
        writeln!(
            w,
            "isr_join_requires_epoch_start_offset = {}",
            p.isr_join_requires_epoch_start_offset
        )?;
        writeln!(
            w,
            "leader_epoch_in_replica_fetch = {}",
            p.leader_epoch_in_replica_fetch
        )?;
        writeln!(w, "truncation_on_fetch = {}", p.truncation_on_fetch)?;
        writeln!(
            w,
            "alter_partition_sent_at_once = {}",
            p.alter_partition_sent_at_once
        )?;
        writeln!(w, "pending_isr_state = {}", p.pending_isr_state)?;
        writeln!(w, "producer_fenced_error = {}", p.producer_fenced_error)?;
        writeln!(
            w,
            "follower_fetch_waits_for_data = {}",
            p.follower_fetch_waits_for_data
        )?;
        writeln!(
            w,
            "failed_epoch_fence_remembered = {}",
            p.failed_epoch_fence_remembered
        )?;
        writeln!(w, "strict_end_txn_epoch = {}", p.strict_end_txn_epoch)?;
        writeln!(
            w,
            "fetch_session_leader_epoch = {}",
            p.fetch_session_leader_epoch
        )?;
        writeln!(
            w,
            "static_rejoin_rebalances_when_completing = {}",
            p.static_rejoin_rebalances_when_completing
        )?;
        writeln!(
            w,
            "new_member_heartbeat_expiration = {}",
            p.new_member_heartbeat_expiration
        )?;
        writeln!(
            w,
            "transactional_epoch_bump = {}",
            p.transactional_epoch_bump
        )?;
        writeln!(
            w,
            "delivery_timeout_bounds_sends = {}",
            p.delivery_timeout_bounds_sends
        )?;
        writeln!(
            w,
            "consumer_leader_epoch_validation = {}",
            p.consumer_leader_epoch_validation
        )?;
        writeln!(
            w,
            "eligible_leader_replicas = {}",
            p.eligible_leader_replicas
        )?;
        writeln!(w, "kraft_pre_vote = {}", p.kraft_pre_vote)?;
        writeln!(
            w,
            "kraft_fetch_high_watermark = {}",
            p.kraft_fetch_high_watermark
        )?;
        writeln!(
            w,
            "static_member_id_replaced_in_any_state = {}",
            p.static_member_id_replaced_in_any_state
        )?;
        writeln!(
            w,
            "unknown_producer_any_sequence = {}",
            p.unknown_producer_any_sequence
        )?;
        writeln!(
            w,
            "unknown_producer_sequence_zero_in_tv2 = {}",
            p.unknown_producer_sequence_zero_in_tv2
        )?;
        write!(
            w,
            "unknown_producer_sequence_zero_on_empty_log = {}",
            p.unknown_producer_sequence_zero_on_empty_log
        )?;
        for a in &self.admin {
            match &a.op {
                super::model::AdminAction::CreatePartitions { topic, partitions } => writeln!(
                    w,
                    "\n[[admin]]\nat = \"{}\"\nop = \"create_partitions\"\ntopic = {}\npartitions = {partitions}",
                    d(a.at_ns),
                    q(topic)
                )?,
                super::model::AdminAction::CreateTopic {
                    topic,
                    partitions,
                    replication_factor,
                } => writeln!(
                    w,
                    "\n[[admin]]\nat = \"{}\"\nop = \"create_topic\"\ntopic = {}\npartitions = {}\nreplication_factor = {}",
                    d(a.at_ns),
                    q(topic),
                    partitions,
                    replication_factor
                )?,
                super::model::AdminAction::DeleteTopic { topic } => writeln!(
                    w,
                    "\n[[admin]]\nat = \"{}\"\nop = \"delete_topic\"\ntopic = {}",
                    d(a.at_ns),
                    q(topic)
                )?,
            }
        }
        for f in &self.faults {
            writeln!(
                w,
                "\n[[faults]]\nat = \"{}\"\nkind = \"{}\"",
                d(f.at_ns),
                f.kind
            )?;
            if let Some(t) = &f.target {
                writeln!(w, "target = {}", q(&t.to_string()))?;
            }
            if !f.groups.is_empty() {
                let groups: Vec<String> = f
                    .groups
                    .iter()
                    .map(|g| {
                        let g: Vec<String> = g.iter().map(|t| q(&t.to_string())).collect();
                        format!("[{}]", g.join(", "))
                    })
                    .collect();
                writeln!(w, "groups = [{}]", groups.join(", "))?;
            }
            let durations = [
                ("restart_after", f.restart_after_ns),
                ("resume_after", f.resume_after_ns),
                ("heal_after", f.heal_after_ns),
                ("delay", f.delay_ns),
            ];
            for (key, ns) in durations {
                if let Some(ns) = ns {
                    writeln!(w, "{key} = \"{}\"", d(ns))?;
                }
            }
            if let Some(factor) = f.factor {
                writeln!(w, "factor = {factor}")?;
            }
            if f.one_way {
                writeln!(w, "one_way = true")?;
            }
            if f.overtake {
                writeln!(w, "overtake = true")?;
            }
            if f.torn {
                writeln!(w, "torn = true")?;
            }
        }
        if let Some(swarm) = &self.swarm {
            writeln!(w, "\n[swarm]")?;
            for (kind, rate) in &swarm.rates_per_min {
                writeln!(w, "{kind} = {}", toml::Value::Float(*rate))?;
            }
        }
        if self.check.invariants == Invariant::ALL {
            return Ok(()); // the default
        }
        let names: Vec<String> = self.check.invariants.iter().map(|i| q(i.name())).collect();
        writeln!(w, "\n[check]\ninvariants = [{}]", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    #[test]
    fn every_scenario_file_round_trips() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(s) = parse(&text, "a.toml") else {
                panic!("{} does not parse", entry.path().display());
            };
            let written = s.to_toml();
            match parse(&written, "b.toml") {
                Ok(again) => assert_eq!(again, s, "{written}"),
                Err(e) => panic!("{e}\n{written}"),
            }
        }
    }
}
