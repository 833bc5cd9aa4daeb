//! `ksim guarantees --versions 3.3,3.7,4.0`: each Kafka release at its own
//! defaults (no config set but the cells' shared shape) under the four
//! fault families: what each release guarantees out of the box.

use std::fmt::Write;

use super::grid::{
    write_head, Family, DURATION, INVARIANTS, RACE_OUT, RATE, REPLICA_LAG_MS, SETTLE,
};
use crate::config::KafkaVersion;

/// One cell of the by-version table: a release under a fault family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionCell {
    /// The row.
    pub version: KafkaVersion,
    /// The column.
    pub family: Family,
}

impl VersionCell {
    /// `kafka-3.7_crash`: the scenario file's stem.
    pub fn name(&self) -> String {
        format!("kafka-{}_{}", self.version, self.family.word())
    }

    /// The scenario name (`guarantees_` + the cell name, `-` and `.` as `_`).
    pub fn scenario_name(&self) -> String {
        format!("guarantees_{}", self.name().replace(['-', '.'], "_"))
    }

    /// The cell's scenario file: the grid's shape, every config the
    /// release's default.
    pub fn scenario_toml(&self) -> String {
        let mut w = String::new();
        let description = format!(
            "ksim guarantees --versions cell: Kafka {} with its own defaults, under {}: {}.",
            self.version,
            self.family.title(),
            self.family.describe()
        );
        write_head(
            &mut w,
            "ksim guarantees --versions",
            "reports/guarantees-by-version.md",
            &self.scenario_name(),
            &description,
        );
        let _ = writeln!(w, "\"replica.lag.time.max.ms\" = {REPLICA_LAG_MS}");
        let _ = writeln!(w, "\"offsets.topic.num.partitions\" = 1\n");
        let _ = writeln!(
            w,
            "[protocol]\nkafka_version = \"{}\"\n{RACE_OUT}\n",
            self.version
        );
        let _ = writeln!(
            w,
            "[[topics]]\nname = \"orders\"\npartitions = 1\nreplication_factor = 3\n"
        );
        let _ = writeln!(
            w,
            "[[producers]]\ntopic = \"orders\"\ncount = 1\nrate = \"{RATE}\"\nkeys = 0\n"
        );
        let _ = writeln!(
            w,
            "[[consumers]]\ntopic = \"orders\"\ngroup = \"audit\"\ncount = 1\nconfig = {{ \"auto.offset.reset\" = \"earliest\" }}\n"
        );
        w.push_str(&self.family.faults_toml());
        let names: Vec<String> = INVARIANTS.iter().map(|i| format!("\"{i}\"")).collect();
        let _ = writeln!(w, "\n[check]\ninvariants = [{}]", names.join(", "));
        w
    }
}

/// Every cell of `versions`, rows in the order given.
pub fn cells(versions: &[KafkaVersion]) -> Vec<VersionCell> {
    versions
        .iter()
        .flat_map(|&version| {
            Family::ALL
                .iter()
                .map(move |&family| VersionCell { version, family })
        })
        .collect()
}

/// The shape every by-version cell shares, for the report's introduction.
pub fn shape() -> String {
    format!(
        "3 brokers and 3 KRaft controllers (KRaft is the control plane of every release ksim models); topic `orders` with 1 partition and replication factor 3; \
one producer at {RATE} (null keys); one consumer group (`audit`, one member, `auto.offset.reset = earliest`, auto commit); \
a {DURATION} fault phase, then {SETTLE} to settle (every fault healed, every node restarted) and a final read of the log. \
Every cell sets `replica.lag.time.max.ms = {REPLICA_LAG_MS}` so that a follower that falls behind leaves the ISR within the short cell, \
and `offsets.topic.num.partitions = 1` to keep `__consumer_offsets` small; every other config, producer and consumer configs included, is at the release's own default, and so is every protocol behaviour (docs/versions.md) but one: \
`{RACE_OUT}` (2.4.1's rule), which keeps KAFKA-15591's race at topic creation, no fault family's, out of the cells \
(`scenarios/anomalies/kafka_15591_first_batch_overtaken.toml` shows it)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_cell_sets_no_config_the_release_defaults() {
        let cell = VersionCell {
            version: KafkaVersion::new(3, 6),
            family: Family::Crash,
        };
        assert_eq!(cell.name(), "kafka-3.6_crash");
        let text = cell.scenario_toml();
        let s = crate::scenario::parse(&text, "cell.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "guarantees_kafka_3_6_crash");
        assert_eq!(s.protocol.kafka_version, KafkaVersion::new(3, 6));
        assert!(!s.protocol.hw_held_below_min_isr, "3.6's own");
        let producer = &s.producers[0].config;
        for name in ["acks", "enable.idempotence", "linger.ms"] {
            assert!(!producer.is_set(name), "{name} is the release's default");
        }
        assert_eq!(producer.get_i64("linger.ms"), Some(0), "3.6's default");
        assert!(!s.cluster.config.is_set("min.insync.replicas"));
        assert_eq!(
            cells(&[KafkaVersion::new(3, 6), KafkaVersion::NEWEST]).len(),
            8
        );
    }
}
