//! Kafka configuration: the known configs with Kafka's own names, kinds and
//! defaults (Kafka 3.x), the values a scenario sets, and their validation.
//!
//! Four scopes, as in Kafka: broker configs (`[cluster.config]`), topic configs
//! (`[[topics]].config`), producer configs and consumer configs. A name is
//! looked up in its scope only: `flush.messages` is a topic config, its broker
//! counterpart is `log.flush.interval.messages`.

mod defs_broker;
mod defs_client;
mod defs_topic;
pub mod reference;
mod suggest;
mod validate;
mod value;
pub mod versions;

pub use suggest::{did_you_mean, edit_distance};
pub use validate::{parse_value, validate, ConfigError, RawValue};
pub use value::{ConfigValue, KafkaConfigs};
pub use versions::KafkaVersion;

use std::fmt;

/// Where a config is set: Kafka's four config families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Broker (and controller) configs: `[cluster.config]`.
    Broker,
    /// Per-topic configs: `[[topics]].config`.
    Topic,
    /// Producer client configs: `[[producers]].config`.
    Producer,
    /// Consumer client configs: `[[consumers]].config`.
    Consumer,
    /// Kafka Streams configs of a pipeline: `[[pipelines]].config`.
    Streams,
}

impl Scope {
    /// The scope's name as messages use it ("broker", "topic", ...).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Broker => "broker",
            Scope::Topic => "topic",
            Scope::Producer => "producer",
            Scope::Consumer => "consumer",
            Scope::Streams => "streams",
        }
    }

    /// The known configs of this scope.
    pub fn defs(self) -> &'static [ConfigDef] {
        match self {
            Scope::Broker => defs_broker::BROKER,
            Scope::Topic => defs_topic::TOPIC,
            Scope::Producer => defs_client::PRODUCER,
            Scope::Consumer => defs_client::CONSUMER,
            Scope::Streams => defs_client::STREAMS,
        }
    }

    /// Real Kafka configs of this scope that ksim does not simulate, with
    /// what it does instead: refused, so that none is silently ignored.
    pub fn not_simulated(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Scope::Broker => defs_broker::BROKER_NOT_SIMULATED,
            Scope::Topic => defs_topic::TOPIC_NOT_SIMULATED,
            Scope::Producer => defs_client::PRODUCER_NOT_SIMULATED,
            Scope::Consumer => defs_client::CONSUMER_NOT_SIMULATED,
            Scope::Streams => &[],
        }
    }

    /// Real Kafka configs of this scope that a scenario cannot set, with why.
    pub fn unsupported(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Scope::Broker => defs_broker::BROKER_UNSUPPORTED,
            Scope::Topic => &[],
            Scope::Producer => defs_client::PRODUCER_UNSUPPORTED,
            Scope::Consumer => defs_client::CONSUMER_UNSUPPORTED,
            Scope::Streams => defs_client::STREAMS_UNSUPPORTED,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a config's value and its valid range, as Kafka's `ConfigDef` has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 32-bit integer (Kafka `INT`/`SHORT`) within `min..=max`.
    Int {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// A 64-bit integer (Kafka `LONG`) within `min..=max`.
    Long {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// Any string.
    Str,
    /// A comma-separated list of values from a fixed set.
    List(&'static [&'static str]),
    /// A number from 0 to 1 (Kafka `DOUBLE` with `between(0, 1)`), kept as
    /// written.
    Ratio,
}

impl Kind {
    /// What a valid value of this kind looks like, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Kind::Int { min, max } | Kind::Long { min, max } => {
                format!("an integer in {min}..={max}")
            }
            Kind::Bool => "true or false".to_owned(),
            Kind::Enum(values) => format!("one of {}", values.join(", ")),
            Kind::Str => "a string".to_owned(),
            Kind::List(values) => format!("a list of {}", values.join(", ")),
            Kind::Ratio => "a number from 0 to 1".to_owned(),
        }
    }
}

/// A config's default when the scenario does not set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default (Kafka's `null`): the getter returns `None` unless a fallback applies.
    Absent,
    /// An integer default.
    Int(i64),
    /// A boolean default.
    Bool(bool),
    /// A string (or enum) default.
    Str(&'static str),
    /// A list default.
    List(&'static [&'static str]),
}

impl DefaultValue {
    /// The default as a value, if there is one.
    pub fn to_value(self) -> Option<ConfigValue> {
        match self {
            DefaultValue::Absent => None,
            DefaultValue::Int(v) => Some(ConfigValue::Int(v)),
            DefaultValue::Bool(v) => Some(ConfigValue::Bool(v)),
            DefaultValue::Str(v) => Some(ConfigValue::Str(v.to_owned())),
            DefaultValue::List(v) => Some(ConfigValue::List(
                v.iter().map(|s| (*s).to_owned()).collect(),
            )),
        }
    }
}

/// One known Kafka config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDef {
    /// Kafka's name, verbatim.
    pub name: &'static str,
    /// The family it belongs to.
    pub scope: Scope,
    /// Value type and valid range.
    pub kind: Kind,
    /// Kafka's default.
    pub default: DefaultValue,
    /// One line of documentation.
    pub doc: &'static str,
    /// Accepted spellings and their normal form, e.g. `("-1", "all")` for acks.
    pub aliases: &'static [(&'static str, &'static str)],
    /// For a topic config: the broker config that supplies its default.
    pub broker_synonym: Option<&'static str>,
    /// When unset and without a default: a config of the same scope whose
    /// value, times the factor, is used instead (`log.retention.ms` falls
    /// back to `log.retention.minutes` * 60000).
    pub fallback: Option<(&'static str, i64)>,
}

const NO_DEF: ConfigDef = ConfigDef {
    name: "",
    scope: Scope::Broker,
    kind: Kind::Str,
    default: DefaultValue::Absent,
    doc: "",
    aliases: &[],
    broker_synonym: None,
    fallback: None,
};

impl ConfigDef {
    /// An `INT` config with a range and a default.
    pub(crate) const fn int(
        scope: Scope,
        name: &'static str,
        min: i64,
        default: Option<i64>,
        doc: &'static str,
    ) -> Self {
        let default = match default {
            Some(v) => DefaultValue::Int(v),
            None => DefaultValue::Absent,
        };
        let max = i32::MAX as i64;
        let kind = Kind::Int { min, max };
        ConfigDef {
            name,
            scope,
            kind,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// A `LONG` config with a lower bound and a default.
    pub(crate) const fn long(
        scope: Scope,
        name: &'static str,
        min: i64,
        default: Option<i64>,
        doc: &'static str,
    ) -> Self {
        let default = match default {
            Some(v) => DefaultValue::Int(v),
            None => DefaultValue::Absent,
        };
        let kind = Kind::Long { min, max: i64::MAX };
        ConfigDef {
            name,
            scope,
            kind,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// A `BOOLEAN` config.
    pub(crate) const fn boolean(
        scope: Scope,
        name: &'static str,
        default: bool,
        doc: &'static str,
    ) -> Self {
        let default = DefaultValue::Bool(default);
        ConfigDef {
            name,
            scope,
            kind: Kind::Bool,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// A `STRING` config restricted to `values`.
    pub(crate) const fn one_of(
        scope: Scope,
        name: &'static str,
        values: &'static [&'static str],
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        let default = DefaultValue::Str(default);
        let kind = Kind::Enum(values);
        ConfigDef {
            name,
            scope,
            kind,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// A free `STRING` config.
    pub(crate) const fn string(
        scope: Scope,
        name: &'static str,
        default: Option<&'static str>,
        doc: &'static str,
    ) -> Self {
        let default = match default {
            Some(v) => DefaultValue::Str(v),
            None => DefaultValue::Absent,
        };
        ConfigDef {
            name,
            scope,
            kind: Kind::Str,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// A `DOUBLE` config from 0 to 1, with its default as Kafka writes it.
    pub(crate) const fn ratio(
        scope: Scope,
        name: &'static str,
        default: &'static str,
        doc: &'static str,
    ) -> Self {
        ConfigDef {
            name,
            scope,
            kind: Kind::Ratio,
            default: DefaultValue::Str(default),
            doc,
            ..NO_DEF
        }
    }

    /// A `LIST` config whose items come from `values`.
    pub(crate) const fn list(
        scope: Scope,
        name: &'static str,
        values: &'static [&'static str],
        default: &'static [&'static str],
        doc: &'static str,
    ) -> Self {
        let default = DefaultValue::List(default);
        let kind = Kind::List(values);
        ConfigDef {
            name,
            scope,
            kind,
            default,
            doc,
            ..NO_DEF
        }
    }

    /// The same config with accepted alternative spellings.
    pub(crate) const fn aliases(self, aliases: &'static [(&'static str, &'static str)]) -> Self {
        ConfigDef { aliases, ..self }
    }

    /// The same topic config with the broker config that supplies its default.
    pub(crate) const fn synonym(self, broker: &'static str) -> Self {
        ConfigDef {
            broker_synonym: Some(broker),
            ..self
        }
    }

    /// The same config with a fallback used when unset (value times `factor`).
    pub(crate) const fn fallback(self, name: &'static str, factor: i64) -> Self {
        ConfigDef {
            fallback: Some((name, factor)),
            ..self
        }
    }

    /// The same config with an upper bound.
    pub(crate) const fn max(self, max: i64) -> Self {
        let kind = match self.kind {
            Kind::Int { min, .. } => Kind::Int { min, max },
            Kind::Long { min, .. } => Kind::Long { min, max },
            other => other,
        };
        ConfigDef { kind, ..self }
    }
}

/// The definition of `name` in `scope`, if Kafka has such a config there.
pub fn find(scope: Scope, name: &str) -> Option<&'static ConfigDef> {
    scope.defs().iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_a_scope() {
        for scope in [
            Scope::Broker,
            Scope::Topic,
            Scope::Producer,
            Scope::Consumer,
            Scope::Streams,
        ] {
            let defs = scope.defs();
            for (i, d) in defs.iter().enumerate() {
                assert_eq!(d.scope, scope, "{} is in the wrong table", d.name);
                assert!(
                    defs.iter().skip(i + 1).all(|e| e.name != d.name),
                    "{} twice in {scope}",
                    d.name
                );
                assert!(!d.doc.is_empty(), "{} lacks a doc", d.name);
            }
        }
    }

    #[test]
    fn defaults_are_valid_values_of_their_kind() {
        for scope in [
            Scope::Broker,
            Scope::Topic,
            Scope::Producer,
            Scope::Consumer,
        ] {
            for d in scope.defs() {
                let Some(default) = d.default.to_value() else {
                    continue;
                };
                let raw = match &default {
                    ConfigValue::Int(v) => RawValue::Int(i128::from(*v)),
                    ConfigValue::Bool(v) => RawValue::Bool(*v),
                    ConfigValue::Str(s) => RawValue::Str(s.clone()),
                    ConfigValue::List(l) => {
                        RawValue::Array(l.iter().map(|s| RawValue::Str(s.clone())).collect())
                    }
                };
                assert_eq!(parse_value(d, &raw), Ok(default), "{}", d.name);
            }
        }
    }

    #[test]
    fn synonyms_and_fallbacks_exist() {
        for d in Scope::Topic.defs() {
            if let Some(b) = d.broker_synonym {
                assert!(find(Scope::Broker, b).is_some(), "{} -> {b}", d.name);
            }
        }
        for scope in [
            Scope::Broker,
            Scope::Topic,
            Scope::Producer,
            Scope::Consumer,
        ] {
            for d in scope.defs() {
                if let Some((f, _)) = d.fallback {
                    assert!(find(scope, f).is_some(), "{} -> {f}", d.name);
                }
            }
        }
    }

    #[test]
    fn kafka_defaults_spot_check() {
        let get = |scope, name| find(scope, name).map(|d| d.default);
        assert_eq!(
            get(Scope::Broker, "min.insync.replicas"),
            Some(DefaultValue::Int(1))
        );
        assert_eq!(
            get(Scope::Broker, "log.flush.interval.ms"),
            Some(DefaultValue::Absent)
        );
        assert_eq!(get(Scope::Producer, "acks"), Some(DefaultValue::Str("all")));
        assert_eq!(
            get(Scope::Producer, "enable.idempotence"),
            Some(DefaultValue::Bool(true))
        );
        assert_eq!(
            get(Scope::Consumer, "session.timeout.ms"),
            Some(DefaultValue::Int(45000))
        );
        assert_eq!(
            get(Scope::Topic, "flush.messages"),
            Some(DefaultValue::Int(i64::MAX))
        );
    }
}
