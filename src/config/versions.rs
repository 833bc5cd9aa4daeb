//! Kafka releases as a setting: `[protocol] kafka_version = "X.Y"` picks a
//! release's defaults and protocol behaviours. ksim models a release only
//! when every behaviour it simulates is that release's own (or a switch a
//! scenario can set): today 3.3 to 4.0. An older release differs in a
//! behaviour ksim cannot switch yet, and is refused with that behaviour
//! named. `docs/versions.md` cites where each boundary is in apache/kafka.

use std::fmt;

use super::{ConfigValue, DefaultValue, Scope};

/// A Kafka release line, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaVersion {
    /// The major version.
    pub major: u8,
    /// The minor version.
    pub minor: u8,
}

impl KafkaVersion {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }

    /// The newest release ksim models: the default.
    pub const NEWEST: KafkaVersion = KafkaVersion::new(4, 0);

    /// The releases ksim models, oldest first.
    pub const MODELLED: [KafkaVersion; 8] = [
        KafkaVersion::new(3, 3),
        KafkaVersion::new(3, 4),
        KafkaVersion::new(3, 5),
        KafkaVersion::new(3, 6),
        KafkaVersion::new(3, 7),
        KafkaVersion::new(3, 8),
        KafkaVersion::new(3, 9),
        KafkaVersion::NEWEST,
    ];

    /// Whether this release has what came in `since`.
    pub fn has(self, since: KafkaVersion) -> bool {
        self >= since
    }

    /// The release `text` names ("3.8", or "3.8.1": patch releases share
    /// their line's defaults and behaviours), or why ksim cannot run it.
    pub fn parse(text: &str) -> Result<KafkaVersion, String> {
        let valid = format!(
            "valid: {} (a patch release such as \"3.8.1\" is its line's)",
            Self::MODELLED.map(|v| format!("\"{v}\"")).join(", ")
        );
        let mut parts = text.split('.');
        let number = |p: Option<&str>| p.and_then(|p| p.parse::<u8>().ok());
        let (Some(major), Some(minor)) = (number(parts.next()), number(parts.next())) else {
            return Err(format!("{text:?} is not a Kafka version; {valid}"));
        };
        if parts.clone().count() > 1 || parts.next().is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(format!("{text:?} is not a Kafka version; {valid}"));
        }
        let version = KafkaVersion::new(major, minor);
        if Self::MODELLED.contains(&version) {
            return Ok(version);
        }
        if version > Self::NEWEST {
            return Err(format!(
                "Kafka {version} is newer than ksim models ({}); {valid}",
                Self::NEWEST
            ));
        }
        let missing = BEHAVIOURS
            .iter()
            .filter(|b| b.switch.is_none() && !version.has(b.since))
            .map(|b| format!("{} ({}, {})", b.what, b.reference, b.since))
            .collect::<Vec<_>>()
            .join("; ");
        Err(format!(
            "Kafka {version} is not simulated by ksim yet: it lacks {missing}, which ksim \
             cannot switch off yet; {valid}"
        ))
    }

    /// Whether an ISR shrink bumps the leader epoch in this release (and
    /// the high watermark does not wait for a replica about to join the
    /// ISR): before 3.6 (KAFKA-15021).
    pub fn leader_epoch_bump_on_isr_shrink(self) -> bool {
        !self.has(KafkaVersion::new(3, 6))
    }

    /// Whether this release's AlterPartition carries each new ISR member's
    /// broker epoch, checked by leader and controller (KIP-903, 3.5).
    pub fn broker_epoch_in_alter_partition(self) -> bool {
        self.has(KafkaVersion::new(3, 5))
    }

    /// Whether this release's leaders hold the high watermark while the
    /// ISR is below min.insync.replicas (KAFKA-15583, 3.7).
    pub fn hw_held_below_min_isr(self) -> bool {
        self.has(KafkaVersion::new(3, 7))
    }

    /// This release's `transaction.version` for a new cluster: 2 from 4.0
    /// (KIP-890 part 2), 1 before.
    pub fn transaction_version(self) -> u8 {
        if self.has(KafkaVersion::new(4, 0)) {
            2
        } else {
            1
        }
    }

    /// This release's default for config `name` of `scope`, where it is not
    /// the newest release's (the config tables hold those).
    pub fn default_for(self, scope: Scope, name: &str) -> Option<ConfigValue> {
        DEFAULTS
            .iter()
            .find(|d| d.scope == scope && d.name == name && !self.has(d.since))
            .and_then(|d| d.before.to_value())
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl serde::Serialize for KafkaVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Default for KafkaVersion {
    fn default() -> Self {
        Self::NEWEST
    }
}

/// A config whose default changed in release `since`: `before` is the
/// older releases' (the config tables hold the newest one). A default that
/// changed more than once has one row per change, oldest `since` first:
/// a release takes the `before` of the first row it predates.
struct VersionDefault {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    before: DefaultValue,
    /// KIP or JIRA of the change (its `docs/versions.md` row names it).
    reference: &'static str,
}

const fn changed(
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    before: DefaultValue,
    reference: &'static str,
) -> VersionDefault {
    VersionDefault {
        scope,
        name,
        since,
        before,
        reference,
    }
}

const fn v(major: u8, minor: u8) -> KafkaVersion {
    KafkaVersion::new(major, minor)
}

/// Defaults of the configs ksim simulates that differ between Kafka 0.10.2
/// and 4.0, each checked in apache/kafka at the release tags (see
/// `docs/versions.md`). A config a release lacks (`CONFIGS_SINCE`) but
/// that ksim's model always uses has a row here too, with what that
/// release does without it.
#[rustfmt::skip]
static DEFAULTS: &[VersionDefault] = &[
    // Producer.
    // KIP-679 (KAFKA-10619): acks 1 -> all and enable.idempotence false ->
    // true in 3.0. 3.0.0 and 3.1.0 did not apply the idempotence default
    // (KAFKA-13598, fixed in 3.0.1, 3.1.1, 3.2.0): a line is its latest
    // patch release, so 3.0 and 3.1 have it on. Before 0.11 there is no
    // idempotence (KIP-98): off.
    changed(Scope::Producer, "acks", v(3, 0), DefaultValue::Str("1"), "KIP-679"),
    changed(Scope::Producer, "enable.idempotence", v(3, 0), DefaultValue::Bool(false), "KIP-679"),
    // KIP-91 (KAFKA-5886): retries 0 -> Integer.MAX_VALUE in 2.1, bounded
    // by the new delivery.timeout.ms. Before 2.1 nothing bounds a send end
    // to end: Integer.MAX_VALUE, as Kafka Streams sets it for no bound.
    changed(Scope::Producer, "retries", v(2, 1), DefaultValue::Int(0), "KIP-91"),
    changed(Scope::Producer, "delivery.timeout.ms", v(2, 1), DefaultValue::Int(i32::MAX as i64), "KIP-91"),
    // KIP-1030: linger.ms 0 -> 5 in 4.0.
    changed(Scope::Producer, "linger.ms", v(4, 0), DefaultValue::Int(0), "KIP-1030"),
    // Consumer.
    // KIP-266 (KAFKA-7050): request.timeout.ms 305000 -> 30000 in 2.0; 2.0
    // brought default.api.timeout.ms, before which commitSync() blocks until
    // it succeeds (Long.MAX_VALUE).
    changed(Scope::Consumer, "request.timeout.ms", v(2, 0), DefaultValue::Int(305_000), "KIP-266"),
    changed(Scope::Consumer, "default.api.timeout.ms", v(2, 0), DefaultValue::Int(i64::MAX), "KIP-266"),
    // KIP-735 (KAFKA-12874): session.timeout.ms 10000 -> 45000 in 3.0.
    changed(Scope::Consumer, "session.timeout.ms", v(3, 0), DefaultValue::Int(10_000), "KIP-735"),
    // KIP-726 (KAFKA-13023): [RangeAssignor] -> [RangeAssignor,
    // CooperativeStickyAssignor] in 3.0.
    changed(Scope::Consumer, "partition.assignment.strategy", v(3, 0), DefaultValue::List(&["range"]), "KIP-726"),
    // Broker and topic.
    // KIP-106 (KAFKA-4623): unclean.leader.election.enable true -> false in 0.11.
    changed(Scope::Broker, "unclean.leader.election.enable", v(0, 11), DefaultValue::Bool(true), "KIP-106"),
    changed(Scope::Topic, "unclean.leader.election.enable", v(0, 11), DefaultValue::Bool(true), "KIP-106"),
    // KIP-134: group.initial.rebalance.delay.ms came in 0.11 (3000); before,
    // the first rebalance of a group is not delayed.
    changed(Scope::Broker, "group.initial.rebalance.delay.ms", v(0, 11), DefaultValue::Int(0), "KIP-134"),
    // KAFKA-5384: delete.topic.enable false -> true in 1.0.
    changed(Scope::Broker, "delete.topic.enable", v(1, 0), DefaultValue::Bool(false), "KAFKA-5384"),
    // KIP-186 (KAFKA-3806): offsets.retention.minutes 1 day -> 7 days in 2.0.
    changed(Scope::Broker, "offsets.retention.minutes", v(2, 0), DefaultValue::Int(1440), "KIP-186"),
    // KIP-537 (KAFKA-9102): replica.lag.time.max.ms 10000 -> 30000 in 2.5.
    changed(Scope::Broker, "replica.lag.time.max.ms", v(2, 5), DefaultValue::Int(10_000), "KIP-537"),
    // KAFKA-9417: the transaction coordinator's timed-out transaction
    // check every 60 s -> 10 s in 2.5 (TransactionStateManager).
    changed(Scope::Broker, "transaction.abort.timed.out.transaction.cleanup.interval.ms", v(2, 5), DefaultValue::Int(60_000), "KAFKA-9417"),
    // KIP-890 part 1: a 3.5 broker has no verification (and no config).
    changed(Scope::Broker, "transaction.partition.verification.enable", v(3, 6), DefaultValue::Bool(false), "KIP-890 part 1"),
];

/// A config that came in release `since`: an older release has no such
/// config, and a scenario of that release that sets it is refused.
struct ConfigSince {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    reference: &'static str,
}

const fn came(
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    reference: &'static str,
) -> ConfigSince {
    ConfigSince {
        scope,
        name,
        since,
        reference,
    }
}

/// The configs ksim simulates that came after Kafka 0.10.2, each with the
/// release whose config classes first define it.
#[rustfmt::skip]
static CONFIGS_SINCE: &[ConfigSince] = &[
    // KIP-98 (0.11.0.0 ProducerConfig, ConsumerConfig, KafkaConfig):
    // idempotence and transactions. Without them (0.10.2) the producer is
    // not idempotent (enable.idempotence's 0.10.2 default is false) and
    // no scenario can be transactional.
    came(Scope::Producer, "enable.idempotence", v(0, 11), "KIP-98"),
    came(Scope::Producer, "transactional.id", v(0, 11), "KIP-98"),
    came(Scope::Producer, "transaction.timeout.ms", v(0, 11), "KIP-98"),
    came(Scope::Consumer, "isolation.level", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.num.partitions", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.segment.bytes", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.replication.factor", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.state.log.min.isr", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.max.timeout.ms", v(0, 11), "KIP-98"),
    came(Scope::Broker, "transaction.abort.timed.out.transaction.cleanup.interval.ms", v(0, 11), "KIP-98"),
    // KIP-134 (0.11.0.0 KafkaConfig): 0.10.2 does not delay a group's
    // first rebalance (DEFAULTS gives it 0).
    came(Scope::Broker, "group.initial.rebalance.delay.ms", v(0, 11), "KIP-134"),
    // KIP-107 (0.11.0.0 KafkaConfig): log start offsets checkpointed.
    came(Scope::Broker, "log.flush.start.offset.checkpoint.interval.ms", v(0, 11), "KIP-107"),
    // KIP-266 (2.0.0 ConsumerConfig).
    came(Scope::Consumer, "default.api.timeout.ms", v(2, 0), "KIP-266"),
    // KIP-91 (2.1.0 ProducerConfig).
    came(Scope::Producer, "delivery.timeout.ms", v(2, 1), "KIP-91"),
    // KIP-345 (2.3.0 ConsumerConfig): static membership.
    came(Scope::Consumer, "group.instance.id", v(2, 3), "KIP-345"),
    // KIP-354 (2.3.0 KafkaConfig, TopicConfig).
    came(Scope::Broker, "log.cleaner.max.compaction.lag.ms", v(2, 3), "KIP-354"),
    came(Scope::Topic, "max.compaction.lag.ms", v(2, 3), "KIP-354"),
    // KRaft (2.8.0 RaftConfig, KafkaConfig; early access until 3.3,
    // KIP-833): before 2.8 brokers have no KRaft configs.
    came(Scope::Broker, "broker.session.timeout.ms", v(2, 8), "KIP-631"),
    came(Scope::Broker, "controller.quorum.election.timeout.ms", v(2, 8), "KIP-595"),
    came(Scope::Broker, "controller.quorum.fetch.timeout.ms", v(2, 8), "KIP-595"),
    came(Scope::Broker, "controller.quorum.election.backoff.max.ms", v(2, 8), "KIP-595"),
    // KIP-890 part 1 (3.6.0 KafkaConfig).
    came(Scope::Broker, "transaction.partition.verification.enable", v(3, 6), "KIP-890 part 1"),
    // KIP-390: compression levels (3.8.0 TopicConfig / ProducerConfig).
    came(Scope::Producer, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Producer, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Producer, "compression.zstd.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Topic, "compression.zstd.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.gzip.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.lz4.level", v(3, 8), "KIP-390"),
    came(Scope::Broker, "compression.zstd.level", v(3, 8), "KIP-390"),
    // KAFKA-18654: a partition leader retries adding a partition to a
    // transaction itself (4.0's AddPartitionsToTxnConfig).
    came(Scope::Broker, "add.partitions.to.txn.retry.backoff.ms", v(4, 0), "KAFKA-18654"),
    came(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms", v(4, 0), "KAFKA-18654"),
];

/// A value of a config that came in release `since` (a codec, an
/// assignor, a processing guarantee): a scenario of an older release that
/// sets it is refused.
struct ValueSince {
    scope: Scope,
    name: &'static str,
    value: &'static str,
    since: KafkaVersion,
    reference: &'static str,
}

const fn value_came(
    scope: Scope,
    name: &'static str,
    value: &'static str,
    since: KafkaVersion,
    reference: &'static str,
) -> ValueSince {
    ValueSince {
        scope,
        name,
        value,
        since,
        reference,
    }
}

/// Config values (as ksim names them) that came after Kafka 0.10.2.
#[rustfmt::skip]
static VALUES_SINCE: &[ValueSince] = &[
    // KIP-110: zstd (2.1.0 CompressionType).
    value_came(Scope::Producer, "compression.type", "zstd", v(2, 1), "KIP-110"),
    value_came(Scope::Topic, "compression.type", "zstd", v(2, 1), "KIP-110"),
    value_came(Scope::Broker, "compression.type", "zstd", v(2, 1), "KIP-110"),
    // KIP-54: StickyAssignor (0.11.0.0); KIP-429: CooperativeStickyAssignor (2.4.0).
    value_came(Scope::Consumer, "partition.assignment.strategy", "sticky", v(0, 11), "KIP-54"),
    value_came(Scope::Consumer, "partition.assignment.strategy", "cooperative-sticky", v(2, 4), "KIP-429"),
    // KIP-732: exactly_once_v2 (3.0.0 StreamsConfig; 2.6 to 2.8 called it
    // exactly_once_beta, KIP-447).
    value_came(Scope::Streams, "processing.guarantee", "exactly_once_v2", v(3, 0), "KIP-732"),
];

impl KafkaVersion {
    /// Why config `name` of `scope` cannot be set under this release: it
    /// came in a later one. None when this release has it.
    pub fn lacks_config(self, scope: Scope, name: &str) -> Option<String> {
        CONFIGS_SINCE
            .iter()
            .find(|c| c.scope == scope && c.name == name && !self.has(c.since))
            .map(|c| {
                format!(
                    "{name:?} is not a config of Kafka {self}: it came in {} ({})",
                    c.since, c.reference
                )
            })
    }

    /// Why `value` of config `name` of `scope` cannot be set under this
    /// release (for a list, any of its items): it came in a later one.
    pub fn lacks_value(self, scope: Scope, name: &str, value: &ConfigValue) -> Option<String> {
        let items: Vec<&str> = match value {
            ConfigValue::Str(s) => vec![s.as_str()],
            ConfigValue::List(l) => l.iter().map(String::as_str).collect(),
            ConfigValue::Int(_) | ConfigValue::Bool(_) => return None,
        };
        VALUES_SINCE
            .iter()
            .find(|c| {
                c.scope == scope
                    && c.name == name
                    && items.contains(&c.value)
                    && !self.has(c.since)
            })
            .map(|c| {
                format!(
                    "{name} = {:?} is not in Kafka {self}: it came in {} ({})",
                    c.value, c.since, c.reference
                )
            })
    }
}

/// A protocol behaviour that changed in a release.
pub struct Behaviour {
    /// What the release brought.
    pub what: &'static str,
    /// KIP or JIRA.
    pub reference: &'static str,
    /// The release it came in.
    pub since: KafkaVersion,
    /// The `[protocol]` switch that sets it against the release, if any.
    pub switch: Option<&'static str>,
}

/// The behaviours whose releases bound what ksim models (each a row of
/// `docs/versions.md`). One without a switch that a release lacks makes
/// that release one ksim cannot run yet.
pub static BEHAVIOURS: &[Behaviour] = &[
    Behaviour {
        what: "follower truncation by leader epoch",
        reference: "KIP-101",
        since: KafkaVersion::new(0, 11),
        switch: Some("truncation"),
    },
    Behaviour {
        what: "the high watermark held while the ISR is below min.insync.replicas",
        reference: "KAFKA-15583",
        since: KafkaVersion::new(3, 7),
        switch: Some("hw_held_below_min_isr"),
    },
    Behaviour {
        what: "transaction partition verification (transaction.partition.verification.enable)",
        reference: "KIP-890 part 1",
        since: KafkaVersion::new(3, 6),
        switch: Some("transaction.partition.verification.enable"),
    },
    Behaviour {
        what: "the broker epoch in AlterPartition (a replica restarted since its fetch cannot join the ISR)",
        reference: "KIP-903",
        since: KafkaVersion::new(3, 5),
        switch: Some("broker_epoch_in_alter_partition"),
    },
    Behaviour {
        what: "fenced replicas kept out of the ISR (the controller refuses them in AlterPartition, INELIGIBLE_REPLICA)",
        reference: "KIP-841",
        since: KafkaVersion::new(3, 3),
        switch: None,
    },
    Behaviour {
        what: "an ISR shrink keeping the leader epoch, the high watermark waiting for a caught-up replica about to join the ISR",
        reference: "KAFKA-15021",
        since: KafkaVersion::new(3, 6),
        switch: Some("leader_epoch_bump_on_isr_shrink"),
    },
    Behaviour {
        what: "transactions v2: an epoch bump at every commit or abort",
        reference: "KIP-890 part 2",
        since: KafkaVersion::new(4, 0),
        switch: Some("transaction_version"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_older_ones_name_what_they_lack() {
        assert_eq!(KafkaVersion::parse("3.8"), Ok(KafkaVersion::new(3, 8)));
        assert_eq!(KafkaVersion::parse("3.9.1"), Ok(KafkaVersion::new(3, 9)));
        assert_eq!(KafkaVersion::parse("4.0"), Ok(KafkaVersion::NEWEST));
        assert_eq!(KafkaVersion::parse("3.6.2"), Ok(KafkaVersion::new(3, 6)));
        assert_eq!(KafkaVersion::parse("3.5"), Ok(KafkaVersion::new(3, 5)));
        assert_eq!(KafkaVersion::parse("3.3.2"), Ok(KafkaVersion::new(3, 3)));
        let old = KafkaVersion::parse("3.2").unwrap_err();
        assert!(old.contains("KIP-841, 3.3"), "{old}");
        for switched in [
            "KIP-101",
            "KAFKA-15583",
            "KAFKA-15021",
            "KIP-890 part 1",
            "KIP-903",
        ] {
            assert!(!old.contains(switched), "a switch covers {switched}: {old}");
        }
        let new = KafkaVersion::parse("4.1").unwrap_err();
        assert!(new.contains("newer than ksim models (4.0)"), "{new}");
        for bad in ["four", "3", "3.x", "3.8.1.2", "3.8.x"] {
            let e = KafkaVersion::parse(bad).unwrap_err();
            assert!(e.contains("is not a Kafka version"), "{bad}: {e}");
        }
    }

    #[test]
    fn docs_versions_has_a_row_for_every_behaviour_and_config_and_names_the_releases() {
        let docs = include_str!("../../docs/versions.md");
        let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("| ")).collect();
        let row_with = |words: &[&str]| rows.iter().any(|r| words.iter().all(|w| r.contains(w)));
        for b in BEHAVIOURS {
            let mut words = vec![b.reference];
            if let Some(switch) = b.switch {
                words.push(switch);
            }
            assert!(
                row_with(&words),
                "docs/versions.md has no row naming {words:?}"
            );
        }
        for c in CONFIGS_SINCE {
            assert!(
                row_with(&[c.reference, c.name]),
                "docs/versions.md has no row naming {} and {}",
                c.reference,
                c.name
            );
        }
        let listed = KafkaVersion::MODELLED.map(|v| v.to_string());
        let (last, rest) = listed.split_last().expect("releases");
        let releases = format!("**{} and {last}**", rest.join(", "));
        assert!(
            docs.replace('\n', " ").contains(&releases),
            "docs/versions.md does not say {releases}"
        );
    }

    #[test]
    fn configs_a_release_lacks_are_named() {
        let v39 = KafkaVersion::new(3, 9);
        let lacks = v39.lacks_config(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms");
        assert_eq!(
            lacks.as_deref(),
            Some("\"add.partitions.to.txn.retry.backoff.max.ms\" is not a config of Kafka 3.9: it came in 4.0 (KAFKA-18654)")
        );
        assert!(KafkaVersion::NEWEST
            .lacks_config(Scope::Broker, "add.partitions.to.txn.retry.backoff.max.ms")
            .is_none());
        assert!(KafkaVersion::new(3, 7)
            .lacks_config(Scope::Producer, "compression.zstd.level")
            .is_some());
        assert!(v39
            .lacks_config(Scope::Producer, "compression.zstd.level")
            .is_none());
    }

    #[test]
    fn each_release_has_its_own_defaults() {
        let linger = |v| KafkaVersion::default_for(v, Scope::Producer, "linger.ms");
        assert_eq!(linger(KafkaVersion::new(3, 9)), Some(ConfigValue::Int(0)));
        assert_eq!(linger(KafkaVersion::NEWEST), None, "the table's 5");
        assert_eq!(KafkaVersion::new(3, 9).transaction_version(), 1);
        let verification = |v| {
            KafkaVersion::default_for(
                v,
                Scope::Broker,
                "transaction.partition.verification.enable",
            )
        };
        assert_eq!(
            verification(KafkaVersion::new(3, 5)),
            Some(ConfigValue::Bool(false))
        );
        assert_eq!(
            verification(KafkaVersion::new(3, 6)),
            None,
            "the table's true"
        );
        assert!(KafkaVersion::new(3, 5).leader_epoch_bump_on_isr_shrink());
        assert!(!KafkaVersion::new(3, 6).leader_epoch_bump_on_isr_shrink());
        assert_eq!(KafkaVersion::NEWEST.transaction_version(), 2);
    }
}
