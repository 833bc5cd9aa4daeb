//! Kafka releases as a setting: `[protocol] kafka_version = "X.Y"` picks a
//! release's defaults and protocol behaviours. ksim models a release only
//! when every behaviour it simulates is that release's own (or a switch a
//! scenario can set): today 3.3 to 4.1. An older release differs in a
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
    pub const NEWEST: KafkaVersion = KafkaVersion::new(4, 1);

    /// The releases ksim models, oldest first.
    pub const MODELLED: [KafkaVersion; 9] = [
        KafkaVersion::new(3, 3),
        KafkaVersion::new(3, 4),
        KafkaVersion::new(3, 5),
        KafkaVersion::new(3, 6),
        KafkaVersion::new(3, 7),
        KafkaVersion::new(3, 8),
        KafkaVersion::new(3, 9),
        KafkaVersion::new(4, 0),
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

    /// Whether a new cluster of this release keeps eligible leader replicas
    /// (KIP-966 part 1): `eligible.leader.replicas.version` 1 bootstraps
    /// from metadata version 4.1-IV0, 4.1's (4.0 has it as a preview,
    /// off unless enabled).
    pub fn eligible_leader_replicas(self) -> bool {
        self.has(KafkaVersion::new(4, 1))
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
/// older releases' (the config tables hold the newer one).
struct VersionDefault {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    before: DefaultValue,
}

/// Defaults that differ between the releases ksim models.
static DEFAULTS: &[VersionDefault] = &[
    // KIP-1030: linger.ms 0 -> 5 in 4.0.
    VersionDefault {
        scope: Scope::Producer,
        name: "linger.ms",
        since: KafkaVersion::new(4, 0),
        before: DefaultValue::Int(0),
    },
    // KIP-890 part 1: a 3.5 broker has no verification (and no config).
    VersionDefault {
        scope: Scope::Broker,
        name: "transaction.partition.verification.enable",
        since: KafkaVersion::new(3, 6),
        before: DefaultValue::Bool(false),
    },
];

/// A config that came in release `since`: an older release has no such
/// config, and a scenario of that release that sets it is refused.
struct ConfigSince {
    scope: Scope,
    name: &'static str,
    since: KafkaVersion,
    reference: &'static str,
}

/// Configs ksim simulates that the oldest releases it models lack.
static CONFIGS_SINCE: &[ConfigSince] = &[
    // KIP-890 part 1 (3.6.0 KafkaConfig).
    ConfigSince {
        scope: Scope::Broker,
        name: "transaction.partition.verification.enable",
        since: KafkaVersion::new(3, 6),
        reference: "KIP-890 part 1",
    },
    // KIP-390: compression levels (3.8.0 TopicConfig / ProducerConfig).
    ConfigSince {
        scope: Scope::Producer,
        name: "compression.gzip.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Producer,
        name: "compression.lz4.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Producer,
        name: "compression.zstd.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Topic,
        name: "compression.gzip.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Topic,
        name: "compression.lz4.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Topic,
        name: "compression.zstd.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Broker,
        name: "compression.gzip.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Broker,
        name: "compression.lz4.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    ConfigSince {
        scope: Scope::Broker,
        name: "compression.zstd.level",
        since: KafkaVersion::new(3, 8),
        reference: "KIP-390",
    },
    // KAFKA-18654: a partition leader retries adding a partition to a
    // transaction itself (4.0's AddPartitionsToTxnConfig).
    ConfigSince {
        scope: Scope::Broker,
        name: "add.partitions.to.txn.retry.backoff.ms",
        since: KafkaVersion::new(4, 0),
        reference: "KAFKA-18654",
    },
    ConfigSince {
        scope: Scope::Broker,
        name: "add.partitions.to.txn.retry.backoff.max.ms",
        since: KafkaVersion::new(4, 0),
        reference: "KAFKA-18654",
    },
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
    Behaviour {
        what: "eligible leader replicas (the ISR may empty; replicas that left it below min.insync.replicas may lead; an unclean restart leaves every ISR and ELR)",
        reference: "KIP-966",
        since: KafkaVersion::new(4, 1),
        switch: Some("eligible_leader_replicas"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_older_ones_name_what_they_lack() {
        assert_eq!(KafkaVersion::parse("3.8"), Ok(KafkaVersion::new(3, 8)));
        assert_eq!(KafkaVersion::parse("3.9.1"), Ok(KafkaVersion::new(3, 9)));
        assert_eq!(KafkaVersion::parse("4.0"), Ok(KafkaVersion::new(4, 0)));
        assert_eq!(KafkaVersion::parse("4.1"), Ok(KafkaVersion::NEWEST));
        assert_eq!(KafkaVersion::parse("4.1.1"), Ok(KafkaVersion::NEWEST));
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
            "KIP-966",
        ] {
            assert!(!old.contains(switched), "a switch covers {switched}: {old}");
        }
        let new = KafkaVersion::parse("4.2").unwrap_err();
        assert!(new.contains("newer than ksim models (4.1)"), "{new}");
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
        assert!(!KafkaVersion::new(4, 0).eligible_leader_replicas());
        assert!(KafkaVersion::NEWEST.eligible_leader_replicas());
    }
}
