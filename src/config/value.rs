//! The configs a scenario sets, normalised, with getters that fall back to
//! Kafka's defaults.

use std::collections::BTreeMap;
use std::fmt;

use super::validate::{check_combinations, lookup, parse_value, ConfigError, RawValue};
use super::{find, KafkaVersion, Scope};

/// A config value, normalised to its config's kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// An `INT` or `LONG` config.
    Int(i64),
    /// A `BOOLEAN` config.
    Bool(bool),
    /// A `STRING` config (enums in their normal spelling, e.g. acks "all").
    Str(String),
    /// A `LIST` config.
    List(Vec<String>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Int(v) => write!(f, "{v}"),
            ConfigValue::Bool(v) => write!(f, "{v}"),
            ConfigValue::Str(v) => f.write_str(v),
            ConfigValue::List(v) => f.write_str(&v.join(",")),
        }
    }
}

/// The Kafka configs of one scope that a scenario set, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfigs {
    scope: Scope,
    /// The Kafka release whose defaults apply.
    version: KafkaVersion,
    values: BTreeMap<String, ConfigValue>,
}

impl serde::Serialize for KafkaConfigs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(s)
    }
}

/// The prefixes of a pipeline's client configs, as Kafka Streams takes them.
const STREAMS_CLIENT_PREFIXES: [(&str, Scope); 2] = [
    ("consumer.", Scope::Consumer),
    ("producer.", Scope::Producer),
];

/// Client configs a pipeline's `processing.guarantee` decides (Kafka
/// Streams' non-configurable client configs).
const STREAMS_CONTROLLED: [(&str, &str); 4] = [
    (
        "consumer.enable.auto.commit",
        "Kafka Streams commits itself and turns auto commit off",
    ),
    (
        "consumer.isolation.level",
        "set by processing.guarantee (read_committed under exactly_once_v2)",
    ),
    (
        "producer.transactional.id",
        "set by processing.guarantee (member N of group G uses \"G-N\" under exactly_once_v2)",
    ),
    (
        "producer.enable.idempotence",
        "set by processing.guarantee (Kafka Streams' producers are idempotent)",
    ),
];

impl KafkaConfigs {
    /// No configs set: every getter returns Kafka's default.
    pub fn new(scope: Scope) -> Self {
        KafkaConfigs {
            scope,
            version: KafkaVersion::NEWEST,
            values: BTreeMap::new(),
        }
    }

    /// No configs set, under release `version`'s defaults.
    pub fn for_version(scope: Scope, version: KafkaVersion) -> Self {
        KafkaConfigs {
            version,
            ..Self::new(scope)
        }
    }

    /// The Kafka release whose defaults apply.
    pub fn version(&self) -> KafkaVersion {
        self.version
    }

    /// Which family these configs belong to.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// What the scenario set, normalised (defaults not included).
    pub fn values(&self) -> &BTreeMap<String, ConfigValue> {
        &self.values
    }

    /// Validates and sets one config, as written in the scenario. A
    /// pipeline's Kafka Streams configs may set its clients' configs as
    /// Kafka Streams does, prefixed `consumer.` or `producer.`.
    pub fn set(&mut self, name: &str, raw: &RawValue) -> Result<(), ConfigError> {
        if self.scope == Scope::Streams {
            for (prefix, scope) in STREAMS_CLIENT_PREFIXES {
                if let Some(inner) = name.strip_prefix(prefix) {
                    if let Some((_, why)) = STREAMS_CONTROLLED.iter().find(|(n, _)| *n == name) {
                        let message = format!("streams config {name:?} cannot be set: {why}");
                        return Err(ConfigError {
                            name: name.to_owned(),
                            message,
                        });
                    }
                    let def = lookup(scope, inner)?;
                    self.check_release_has(scope, def.name)?;
                    let value = parse_value(def, raw)?;
                    self.check_release_has_value(scope, def.name, &value)?;
                    self.values.insert(format!("{prefix}{}", def.name), value);
                    return Ok(());
                }
            }
        }
        let def = lookup(self.scope, name)?;
        self.check_release_has(self.scope, def.name)?;
        let value = parse_value(def, raw)?;
        self.check_release_has_value(self.scope, def.name, &value)?;
        self.values.insert(def.name.to_owned(), value);
        Ok(())
    }

    /// Refuses a value of config `name` of `scope` that came after the release.
    fn check_release_has_value(
        &self,
        scope: Scope,
        name: &str,
        value: &ConfigValue,
    ) -> Result<(), ConfigError> {
        match self.version.lacks_value(scope, name, value) {
            Some(message) => Err(ConfigError {
                name: name.to_owned(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// Refuses config `name` of `scope` when the release lacks it.
    fn check_release_has(&self, scope: Scope, name: &str) -> Result<(), ConfigError> {
        match self.version.lacks_config(scope, name) {
            Some(message) => Err(ConfigError {
                name: name.to_owned(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// The configs set under `prefix` (a pipeline's `consumer.` or
    /// `producer.` configs), as configs of `scope`.
    pub fn prefixed(&self, prefix: &str, scope: Scope) -> KafkaConfigs {
        KafkaConfigs {
            scope,
            version: self.version,
            values: self
                .values
                .iter()
                .filter_map(|(name, v)| Some((name.strip_prefix(prefix)?.to_owned(), v.clone())))
                .collect(),
        }
    }

    /// Checks combinations Kafka rejects at startup, e.g. explicit
    /// `enable.idempotence = true` with `acks = 1`.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_combinations(self)
    }

    /// Did the scenario set this config?
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value: what the scenario set, else Kafka's default, else the
    /// fallback config's value; `None` for an unknown name or a Kafka `null`.
    pub fn get(&self, name: &str) -> Option<ConfigValue> {
        self.get_depth(name, 0)
    }

    fn get_depth(&self, name: &str, depth: u32) -> Option<ConfigValue> {
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        let def = find(self.scope, name)?;
        if let Some(v) = self.version.default_for(self.scope, def.name) {
            return Some(v);
        }
        if let Some(v) = def.default.to_value() {
            return Some(v);
        }
        let (fallback, factor) = def.fallback?;
        if depth > 8 {
            return None;
        }
        match self.get_depth(fallback, depth + 1)? {
            ConfigValue::Int(v) => Some(ConfigValue::Int(v.saturating_mul(factor))),
            other => Some(other),
        }
    }

    /// An integer config's value (set or default).
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            ConfigValue::Int(v) => Some(v),
            _ => None,
        }
    }

    /// A `DOUBLE` config's value (set or default).
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            ConfigValue::Str(v) => v.parse().ok(),
            ConfigValue::Int(v) => Some(v as f64),
            _ => None,
        }
    }

    /// A boolean config's value (set or default).
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            ConfigValue::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// A string or enum config's value (set or default), e.g. acks -> "all".
    pub fn get_str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            ConfigValue::Str(v) => Some(v),
            _ => None,
        }
    }

    /// A list config's value (set or default).
    pub fn get_list(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            ConfigValue::List(v) => Some(v),
            _ => None,
        }
    }

    /// A topic config's effective value: set on the topic, else its broker
    /// synonym's value in `broker` (set or default), as Kafka resolves it.
    pub fn effective(&self, name: &str, broker: &KafkaConfigs) -> Option<ConfigValue> {
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        let synonym = find(self.scope, name).and_then(|d| d.broker_synonym);
        match synonym.and_then(|b| broker.get(b)) {
            Some(v) => Some(v),
            None => self.get(name),
        }
    }

    /// A topic integer config's effective value (see [`KafkaConfigs::effective`]).
    pub fn effective_i64(&self, name: &str, broker: &KafkaConfigs) -> Option<i64> {
        match self.effective(name, broker)? {
            ConfigValue::Int(v) => Some(v),
            _ => None,
        }
    }

    /// A topic boolean config's effective value (see [`KafkaConfigs::effective`]).
    pub fn effective_bool(&self, name: &str, broker: &KafkaConfigs) -> Option<bool> {
        match self.effective(name, broker)? {
            ConfigValue::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Producer: is idempotence on? Kafka 3.x turns it off silently when it
    /// was not set explicitly and acks, retries or max.in.flight conflict.
    pub fn idempotence_enabled(&self) -> bool {
        if let Some(ConfigValue::Bool(v)) = self.values.get("enable.idempotence") {
            return *v;
        }
        if !self.version.has(KafkaVersion::new(3, 0)) {
            // Before 3.0 (default false) a transactional.id turns it on
            // (0.11 to 2.8 KafkaProducer; ProducerConfig.idempotenceEnabled).
            return self.is_set("transactional.id");
        }
        self.get_bool("enable.idempotence").unwrap_or(false)
            && self.get_str("acks").as_deref() == Some("all")
            && self
                .get_i64("max.in.flight.requests.per.connection")
                .is_some_and(|n| n <= 5)
            && self.get_i64("retries").is_some_and(|n| n > 0)
    }

    /// Producer: `acks` as the producer resolves it. Before 3.0 an
    /// idempotent producer whose acks is not set takes all
    /// (`KafkaProducer.configureAcks`, 0.11 to 2.8); from 3.0 that is the
    /// default.
    pub fn producer_acks(&self) -> String {
        if !self.is_set("acks")
            && !self.version.has(KafkaVersion::new(3, 0))
            && self.idempotence_enabled()
        {
            return "all".to_owned();
        }
        self.get_str("acks").unwrap_or_else(|| "all".to_owned())
    }

    /// Producer: `retries` as the producer resolves it. Before 2.1 (default
    /// 0) an idempotent producer whose retries is not set takes
    /// Integer.MAX_VALUE (`KafkaProducer.configureRetries`); from 2.1 that
    /// is the default.
    pub fn producer_retries(&self) -> i64 {
        if !self.is_set("retries") && self.idempotence_enabled() {
            return i64::from(i32::MAX);
        }
        self.get_i64("retries").unwrap_or(i64::from(i32::MAX))
    }

    /// Producer: `max.in.flight.requests.per.connection` as the producer
    /// resolves it. In 0.11 an idempotent producer whose setting is not set
    /// takes 1 (`KafkaProducer.configureInflightRequests`; up to 5 from
    /// 1.0, KAFKA-5494).
    pub fn producer_max_in_flight(&self) -> i64 {
        if !self.is_set("max.in.flight.requests.per.connection")
            && !self.version.has(KafkaVersion::new(1, 0))
            && self.idempotence_enabled()
        {
            return 1;
        }
        self.get_i64("max.in.flight.requests.per.connection")
            .unwrap_or(5)
    }

    /// Producer: delivery.timeout.ms as Kafka uses it; when not set, Kafka
    /// raises it to at least linger.ms + request.timeout.ms.
    pub fn delivery_timeout_ms(&self) -> i64 {
        let set = self.get_i64("delivery.timeout.ms").unwrap_or(120_000);
        if self.is_set("delivery.timeout.ms") {
            return set;
        }
        set.max(self.linger_plus_request_timeout())
    }

    pub(crate) fn linger_plus_request_timeout(&self) -> i64 {
        let linger = self.get_i64("linger.ms").unwrap_or(0);
        let request = self.get_i64("request.timeout.ms").unwrap_or(30_000);
        linger.saturating_add(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scope: Scope, pairs: &[(&str, RawValue)]) -> KafkaConfigs {
        let mut c = KafkaConfigs::new(scope);
        for (name, raw) in pairs {
            if let Err(e) = c.set(name, raw) {
                panic!("{e}");
            }
        }
        c
    }

    #[test]
    fn getters_fall_back_to_kafka_defaults() {
        let p = set(Scope::Producer, &[("linger.ms", RawValue::Str("5".into()))]);
        assert_eq!(p.get_i64("linger.ms"), Some(5));
        assert_eq!(p.get_i64("batch.size"), Some(16384));
        assert_eq!(p.get_str("acks").as_deref(), Some("all"));
        assert_eq!(p.get_bool("enable.idempotence"), Some(true));
        assert_eq!(p.get_i64("no.such.config"), None);
        assert_eq!(p.get_bool("linger.ms"), None);
        let c = KafkaConfigs::new(Scope::Consumer);
        assert_eq!(
            c.get_list("partition.assignment.strategy"),
            Some(vec!["range".to_owned(), "cooperative-sticky".to_owned()])
        );
        assert_eq!(c.get_str("group.instance.id"), None);
    }

    fn set_in(
        version: (u8, u8),
        scope: Scope,
        pairs: &[(&str, RawValue)],
    ) -> Result<KafkaConfigs, String> {
        let mut c = KafkaConfigs::for_version(scope, KafkaVersion::new(version.0, version.1));
        for (name, raw) in pairs {
            c.set(name, raw).map_err(|e| e.to_string())?;
        }
        c.check().map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// Before 3.0 idempotence is off unless set or a transactional.id turns
    /// it on, and then acks and retries not set are overridden (0.11:
    /// max.in.flight 1); from 3.0 the defaults are the idempotent ones.
    #[test]
    fn the_producer_resolves_idempotence_per_release() {
        let on = || ("enable.idempotence", RawValue::Bool(true));
        let txn = || ("transactional.id", RawValue::Str("t".into()));
        let p = set_in((2, 8), Scope::Producer, &[]).unwrap();
        assert!(!p.idempotence_enabled());
        assert_eq!(
            (p.producer_acks().as_str(), p.producer_retries()),
            ("1", i64::from(i32::MAX))
        );
        let p = set_in((2, 0), Scope::Producer, &[]).unwrap();
        assert_eq!((p.producer_acks().as_str(), p.producer_retries()), ("1", 0));
        for version in [(0, 11), (2, 0), (2, 8)] {
            for pairs in [&[on()][..], &[txn()][..]] {
                let p = set_in(version, Scope::Producer, pairs).unwrap();
                assert!(p.idempotence_enabled(), "{version:?} {pairs:?}");
                assert_eq!(p.producer_acks(), "all");
                assert_eq!(p.producer_retries(), i64::from(i32::MAX));
            }
            let acks1 = set_in(
                version,
                Scope::Producer,
                &[txn(), ("acks", RawValue::Str("1".into()))],
            );
            assert!(acks1.unwrap_err().contains("Must set acks to all"));
            let off = set_in(
                version,
                Scope::Producer,
                &[txn(), ("enable.idempotence", RawValue::Bool(false))],
            );
            assert!(off.unwrap_err().contains("Cannot set a transactional.id"));
        }
        let p = set_in((0, 11), Scope::Producer, &[on()]).unwrap();
        assert_eq!(p.producer_max_in_flight(), 1);
        let five = set_in(
            (0, 11),
            Scope::Producer,
            &[
                on(),
                ("max.in.flight.requests.per.connection", RawValue::Int(5)),
            ],
        );
        assert!(five
            .unwrap_err()
            .contains("to 1 in order to use the idempotent producer"));
        let p = set_in((1, 0), Scope::Producer, &[on()]).unwrap();
        assert_eq!(p.producer_max_in_flight(), 5);
        // 3.0 on: idempotent by default, and acks = 1 turns it off.
        let p = set_in((3, 0), Scope::Producer, &[]).unwrap();
        assert!(p.idempotence_enabled());
        assert_eq!(p.producer_acks(), "all");
        let p = set_in(
            (3, 3),
            Scope::Producer,
            &[("acks", RawValue::Str("1".into()))],
        )
        .unwrap();
        assert!(!p.idempotence_enabled());
        // Configs and values a release lacks are refused.
        let e = set_in((0, 10), Scope::Producer, &[on()]).unwrap_err();
        assert!(e.contains("it came in 0.11 (KIP-98)"), "{e}");
        let e = set_in(
            (2, 0),
            Scope::Producer,
            &[("compression.type", RawValue::Str("zstd".into()))],
        )
        .unwrap_err();
        assert!(e.contains("it came in 2.1 (KIP-110)"), "{e}");
    }

    #[test]
    fn acks_minus_one_is_all() {
        let p = set(Scope::Producer, &[("acks", RawValue::Int(-1))]);
        assert_eq!(
            p.values().get("acks"),
            Some(&ConfigValue::Str("all".into()))
        );
        let p = set(Scope::Producer, &[("acks", RawValue::Str("-1".into()))]);
        assert_eq!(p.get_str("acks").as_deref(), Some("all"));
        let p = set(Scope::Producer, &[("acks", RawValue::Int(1))]);
        assert_eq!(p.get_str("acks").as_deref(), Some("1"));
    }

    #[test]
    fn broker_fallbacks() {
        let b = KafkaConfigs::new(Scope::Broker);
        assert_eq!(b.get_i64("log.flush.interval.ms"), Some(i64::MAX));
        let b = set(
            Scope::Broker,
            &[("log.flush.scheduler.interval.ms", RawValue::Int(10))],
        );
        assert_eq!(b.get_i64("log.flush.interval.ms"), Some(10));
    }

    #[test]
    fn topic_configs_default_to_the_broker_synonym() {
        let broker = set(
            Scope::Broker,
            &[
                ("min.insync.replicas", RawValue::Int(2)),
                ("log.flush.interval.messages", RawValue::Int(1)),
            ],
        );
        let topic = set(Scope::Topic, &[("min.insync.replicas", RawValue::Int(3))]);
        assert_eq!(topic.effective_i64("min.insync.replicas", &broker), Some(3));
        assert_eq!(topic.effective_i64("flush.messages", &broker), Some(1));
        assert_eq!(topic.effective_i64("flush.ms", &broker), Some(i64::MAX));

        assert_eq!(
            topic.effective_bool("unclean.leader.election.enable", &broker),
            Some(false)
        );
    }

    #[test]
    fn idempotence_is_disabled_implicitly_by_conflicting_configs() {
        assert!(KafkaConfigs::new(Scope::Producer).idempotence_enabled());
        let p = set(Scope::Producer, &[("acks", RawValue::Int(1))]);
        assert!(!p.idempotence_enabled());
        let p = set(
            Scope::Producer,
            &[("enable.idempotence", RawValue::Bool(false))],
        );
        assert!(!p.idempotence_enabled());
    }

    #[test]
    fn delivery_timeout_is_raised_when_not_set() {
        let p = set(
            Scope::Producer,
            &[("request.timeout.ms", RawValue::Int(200_000))],
        );
        // linger.ms (5, Kafka 4.0's default) + request.timeout.ms.
        assert_eq!(p.delivery_timeout_ms(), 200_005);
        assert_eq!(
            KafkaConfigs::new(Scope::Producer).delivery_timeout_ms(),
            120_000
        );
    }
}
