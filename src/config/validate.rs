//! Validation of config names and values, with messages that say what is valid.

use super::suggest::did_you_mean;
use super::value::{ConfigValue, KafkaConfigs};
use super::{find, ConfigDef, KafkaVersion, Kind, Scope};

/// A config value as written in the scenario, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// A TOML integer (wide enough to report values beyond `i64`).
    Int(i128),
    /// A TOML float, as written.
    Float(String),
    /// A TOML boolean.
    Bool(bool),
    /// A TOML string, as in a properties file ("1", "true", "all").
    Str(String),
    /// A TOML array.
    Array(Vec<RawValue>),
    /// Any other TOML value (table, datetime), by its type name.
    Other(&'static str),
}

impl RawValue {
    /// The value as it would be written, for messages: strings quoted.
    fn shown(&self) -> String {
        match self {
            RawValue::Int(v) => v.to_string(),
            RawValue::Float(v) => v.clone(),
            RawValue::Bool(v) => v.to_string(),
            RawValue::Str(v) => format!("{v:?}"),
            RawValue::Array(_) => "an array".to_owned(),
            RawValue::Other(what) => (*what).to_owned(),
        }
    }
}

/// An invalid config name or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The config the error is about.
    pub name: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

fn error(name: &str, message: String) -> ConfigError {
    ConfigError {
        name: name.to_owned(),
        message,
    }
}

impl Scope {
    /// Where configs of this scope are set in a scenario file.
    pub fn table(self) -> &'static str {
        match self {
            Scope::Broker => "[cluster.config]",
            Scope::Topic => "[[topics]] config",
            Scope::Producer => "[[producers]] config",
            Scope::Consumer => "[[consumers]] config",
            Scope::Streams => "[[pipelines]] config",
        }
    }
}

/// The definition of `name` in `scope`, or an error that suggests the right name.
pub(crate) fn lookup(scope: Scope, name: &str) -> Result<&'static ConfigDef, ConfigError> {
    if let Some(def) = find(scope, name) {
        return Ok(def);
    }
    if let Some((_, why)) = scope.unsupported().iter().find(|(n, _)| *n == name) {
        let message = format!("{scope} config {name:?} cannot be set in ksim: {why}");
        return Err(error(name, message));
    }
    if let Some((_, instead)) = scope.not_simulated().iter().find(|(n, _)| *n == name) {
        let message =
            format!("{scope} config {name:?} is not simulated by ksim: {instead}; leave it out");
        return Err(error(name, message));
    }
    let mut message = format!("unknown {scope} config {name:?}");
    // The topic/broker counterpart, e.g. flush.messages <-> log.flush.interval.messages.
    let counterpart = match scope {
        Scope::Topic => Scope::Topic
            .defs()
            .iter()
            .find(|d| d.broker_synonym == Some(name) && d.name != name)
            .map(|d| d.name),
        Scope::Broker => find(Scope::Topic, name).and_then(|d| d.broker_synonym),
        _ => None,
    };
    let names = scope.defs().iter().map(|d| d.name);
    if let Some(near) = counterpart.or_else(|| did_you_mean(name, names)) {
        message.push_str(&format!("; did you mean {near:?}?"));
    } else if let Some(other) = [
        Scope::Broker,
        Scope::Topic,
        Scope::Producer,
        Scope::Consumer,
        Scope::Streams,
    ]
    .into_iter()
    .find(|s| *s != scope && find(*s, name).is_some())
    {
        message.push_str(&format!(
            "; {name:?} is a {other} config: set it in {}",
            other.table()
        ));
    } else {
        message.push_str(&format!(
            "; see the {scope} configs of Kafka 3.x, e.g. {:?}",
            scope.defs().first().map(|d| d.name).unwrap_or_default()
        ));
    }
    Err(error(name, message))
}

/// Validates one config of `scope` as written and returns its normal form.
pub fn validate(scope: Scope, name: &str, raw: &RawValue) -> Result<ConfigValue, ConfigError> {
    parse_value(lookup(scope, name)?, raw)
}

/// Checks `raw` against `def` and returns it normalised to the config's
/// kind.
pub fn parse_value(def: &ConfigDef, raw: &RawValue) -> Result<ConfigValue, ConfigError> {
    let value = parse_kind(def, raw)?;
    if def.name == "compression.gzip.level" && value == ConfigValue::Int(0) {
        // Kafka's validator: [1,...,9] or -1.
        return Err(error(
            def.name,
            "0 is not valid; valid: 1..9, or -1".to_owned(),
        ));
    }
    Ok(value)
}

/// Checks `raw` against `def`'s kind and range.
fn parse_kind(def: &ConfigDef, raw: &RawValue) -> Result<ConfigValue, ConfigError> {
    let name = def.name;
    let invalid = |raw: &RawValue| {
        error(
            name,
            format!(
                "{} is not valid; valid: {}",
                raw.shown(),
                def.kind.describe()
            ),
        )
    };
    match def.kind {
        Kind::Int { min, max } | Kind::Long { min, max } => {
            let v: i128 = match raw {
                RawValue::Int(v) => *v,
                RawValue::Str(s) => s.trim().parse().map_err(|_| invalid(raw))?,
                _ => return Err(invalid(raw)),
            };
            if v < i128::from(min) {
                return Err(error(name, format!("{v} is below the minimum {min}")));
            }
            if v > i128::from(max) {
                return Err(error(name, format!("{v} is above the maximum {max}")));
            }
            i64::try_from(v)
                .map(ConfigValue::Int)
                .map_err(|_| invalid(raw))
        }
        Kind::Ratio => {
            let text = match raw {
                RawValue::Float(s) | RawValue::Str(s) => s.trim().to_owned(),
                RawValue::Int(v) => v.to_string(),
                _ => return Err(invalid(raw)),
            };
            match text.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Ok(ConfigValue::Str(text)),
                Ok(v) => Err(error(name, format!("{v} is not in 0..1"))),
                Err(_) => Err(invalid(raw)),
            }
        }
        Kind::Bool => match raw {
            RawValue::Bool(v) => Ok(ConfigValue::Bool(*v)),
            RawValue::Str(s) if s.trim().eq_ignore_ascii_case("true") => {
                Ok(ConfigValue::Bool(true))
            }
            RawValue::Str(s) if s.trim().eq_ignore_ascii_case("false") => {
                Ok(ConfigValue::Bool(false))
            }
            _ => Err(invalid(raw)),
        },
        Kind::Str => match raw {
            RawValue::Str(s) => Ok(ConfigValue::Str(s.clone())),
            RawValue::Int(v) => Ok(ConfigValue::Str(v.to_string())),
            RawValue::Bool(v) => Ok(ConfigValue::Str(v.to_string())),
            RawValue::Float(v) => Ok(ConfigValue::Str(v.clone())),
            _ => Err(invalid(raw)),
        },
        Kind::Enum(values) => {
            let text = match raw {
                RawValue::Str(s) => s.trim().to_owned(),
                RawValue::Int(v) => v.to_string(),
                _ => return Err(invalid(raw)),
            };
            match normalise(def, values, &text) {
                Some(v) => Ok(ConfigValue::Str(v)),
                None => Err(error(
                    name,
                    format!(
                        "{} is not valid; valid: {}{}",
                        raw.shown(),
                        values.join(", "),
                        hint(&text, values)
                    ),
                )),
            }
        }
        Kind::List(values) => {
            let items: Vec<String> = match raw {
                RawValue::Str(s) => s.split(',').map(|i| i.trim().to_owned()).collect(),
                RawValue::Array(a) => a
                    .iter()
                    .map(|i| match i {
                        RawValue::Str(s) => Ok(s.trim().to_owned()),
                        other => Err(invalid(other)),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(invalid(raw)),
            };
            if items.iter().all(|i| i.is_empty()) {
                return Err(error(
                    name,
                    format!("the list is empty; valid: {}", def.kind.describe()),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter().filter(|i| !i.is_empty()) {
                match normalise(def, values, item) {
                    Some(v) => out.push(v),
                    None => {
                        return Err(error(
                            name,
                            format!(
                                "{item:?} is not valid in the list; valid: {}{}",
                                values.join(", "),
                                hint(item, values)
                            ),
                        ))
                    }
                }
            }
            Ok(ConfigValue::List(out))
        }
    }
}

/// The normal spelling of `text` among `values` and the def's aliases.
fn normalise(def: &ConfigDef, values: &[&str], text: &str) -> Option<String> {
    if let Some((_, to)) = def.aliases.iter().find(|(from, _)| *from == text) {
        return Some((*to).to_owned());
    }
    values.iter().find(|v| **v == text).map(|v| (*v).to_owned())
}

fn hint(text: &str, values: &[&'static str]) -> String {
    match did_you_mean(text, values.iter().copied()) {
        Some(near) => format!("; did you mean {near:?}?"),
        None => String::new(),
    }
}

/// Checks combinations Kafka rejects when a client or broker starts.
pub(crate) fn check_combinations(c: &KafkaConfigs) -> Result<(), ConfigError> {
    match c.scope() {
        Scope::Producer => check_producer(c),
        Scope::Consumer => check_consumer(c),
        Scope::Broker | Scope::Topic | Scope::Streams => Ok(()),
    }
}

fn check_producer(c: &KafkaConfigs) -> Result<(), ConfigError> {
    if c.is_set("transactional.id") && !c.idempotence_enabled() {
        // Kafka's ProducerConfig: idempotence explicitly off, or turned
        // off by acks other than all, refuses a transactional.id.
        let key = if c.is_set("enable.idempotence") {
            "enable.idempotence"
        } else {
            "acks"
        };
        return Err(error(
            key,
            "Cannot set a transactional.id without also enabling idempotence. (valid with a transactional.id: enable.idempotence = true and acks = \"all\")".to_owned(),
        ));
    }
    // Before 3.0 an idempotence a transactional.id turned on is checked as
    // an explicit one (KafkaProducer.configureAcks and configureRetries).
    let before_3_0 = !c.version().has(KafkaVersion::new(3, 0));
    if c.values().get("enable.idempotence") == Some(&ConfigValue::Bool(true))
        || (before_3_0 && c.idempotence_enabled())
    {
        let acks = c.producer_acks();
        if acks != "all" {
            return Err(error(
                "acks",
                format!("Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence. (acks is {acks:?}; valid with enable.idempotence = true: \"all\" or -1)"),
            ));
        }
        let in_flight = c.producer_max_in_flight();
        if in_flight != 1 && !c.version().has(KafkaVersion::new(1, 0)) {
            // 0.11's KafkaProducer.configureInflightRequests (KAFKA-5494
            // allowed up to 5 in 1.0).
            return Err(error(
                "max.in.flight.requests.per.connection",
                format!("Must set max.in.flight.requests.per.connection to 1 in order to use the idempotent producer. Otherwise we cannot guarantee idempotence. (it is {in_flight}; Kafka 0.11)"),
            ));
        }
        if in_flight > 5 {
            return Err(error(
                "max.in.flight.requests.per.connection",
                format!("Must set max.in.flight.requests.per.connection to at most 5 to use the idempotent producer. (it is {in_flight})"),
            ));
        }
        if c.producer_retries() == 0 {
            return Err(error(
                "retries",
                "Must set retries to non-zero when using the idempotent producer.".to_owned(),
            ));
        }
    }
    if c.is_set("delivery.timeout.ms") {
        let delivery = c.get_i64("delivery.timeout.ms").unwrap_or(0);
        let floor = c.linger_plus_request_timeout();
        if delivery < floor {
            return Err(error(
                "delivery.timeout.ms",
                format!("delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms ({delivery} < {floor}); valid: at least {floor}"),
            ));
        }
    }
    Ok(())
}

fn check_consumer(c: &KafkaConfigs) -> Result<(), ConfigError> {
    let heartbeat = c.get_i64("heartbeat.interval.ms").unwrap_or(3000);
    let session = c.get_i64("session.timeout.ms").unwrap_or(45000);
    if heartbeat >= session {
        let name = if c.is_set("heartbeat.interval.ms") {
            "heartbeat.interval.ms"
        } else {
            "session.timeout.ms"
        };
        return Err(error(
            name,
            format!("Heartbeat must be set lower than the session timeout (heartbeat.interval.ms {heartbeat} >= session.timeout.ms {session}); valid: heartbeat.interval.ms below session.timeout.ms, typically a third of it"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scope: Scope, name: &str, raw: RawValue) -> Result<ConfigValue, String> {
        let mut c = KafkaConfigs::new(scope);
        c.set(name, &raw).map_err(|e| e.to_string())?;
        Ok(c.values()
            .get(name)
            .cloned()
            .unwrap_or(ConfigValue::Bool(false)))
    }

    fn s(v: &str) -> RawValue {
        RawValue::Str(v.to_owned())
    }

    #[test]
    fn values_may_be_written_as_in_a_properties_file() {
        assert_eq!(
            set(Scope::Producer, "linger.ms", s(" 5 ")),
            Ok(ConfigValue::Int(5))
        );
        assert_eq!(
            set(Scope::Consumer, "enable.auto.commit", s("FALSE")),
            Ok(ConfigValue::Bool(false))
        );
        assert_eq!(
            set(Scope::Producer, "acks", s("1")),
            Ok(ConfigValue::Str("1".into()))
        );
        assert_eq!(
            set(Scope::Producer, "transactional.id", RawValue::Int(7)),
            Ok(ConfigValue::Str("7".into()))
        );
    }

    #[test]
    fn invalid_values_say_what_is_valid() {
        assert_eq!(
            set(Scope::Producer, "acks", s("2")),
            Err(r#"acks: "2" is not valid; valid: all, -1, 0, 1"#.into())
        );
        assert_eq!(
            set(Scope::Producer, "acks", RawValue::Int(2)),
            Err("acks: 2 is not valid; valid: all, -1, 0, 1".into())
        );
        assert_eq!(
            set(Scope::Broker, "min.insync.replicas", RawValue::Int(0)),
            Err("min.insync.replicas: 0 is below the minimum 1".into())
        );
        assert_eq!(
            set(Scope::Topic, "segment.bytes", RawValue::Int(1 << 40)),
            Err("segment.bytes: 1099511627776 is above the maximum 2147483647".into())
        );
        assert_eq!(
            set(Scope::Producer, "linger.ms", s("soon")),
            Err(format!(
                "linger.ms: \"soon\" is not valid; valid: an integer in 0..={}",
                i64::MAX
            ))
        );
        assert_eq!(
            set(Scope::Producer, "enable.idempotence", RawValue::Int(1)),
            Err("enable.idempotence: 1 is not valid; valid: true or false".into())
        );
        assert_eq!(
            set(Scope::Consumer, "auto.offset.reset", s("earlist")),
            Err(r#"auto.offset.reset: "earlist" is not valid; valid: latest, earliest, none; did you mean "earliest"?"#.into())
        );
        assert_eq!(
            set(
                Scope::Producer,
                "batch.size",
                RawValue::Float("1e400".into())
            ),
            Err("batch.size: 1e400 is not valid; valid: an integer in 0..=2147483647".into())
        );
    }

    #[test]
    fn unknown_names_get_suggestions() {
        assert_eq!(
            set(Scope::Producer, "lingr.ms", RawValue::Int(5)),
            Err(
                r#"lingr.ms: unknown producer config "lingr.ms"; did you mean "linger.ms"?"#.into()
            )
        );
        assert_eq!(
            set(Scope::Topic, "log.flush.interval.messages", RawValue::Int(1)),
            Err(r#"log.flush.interval.messages: unknown topic config "log.flush.interval.messages"; did you mean "flush.messages"?"#.into())
        );
        assert_eq!(
            set(Scope::Broker, "acks", s("all")),
            Err(r#"acks: unknown broker config "acks"; "acks" is a producer config: set it in [[producers]] config"#.into())
        );
        assert_eq!(
            set(Scope::Consumer, "group.id", s("g")),
            Err(r#"group.id: consumer config "group.id" cannot be set in ksim: set by the group key of [[consumers]]"#.into())
        );
    }

    #[test]
    fn lists_accept_strings_arrays_and_class_names() {
        let expect = Ok(ConfigValue::List(vec![
            "roundrobin".into(),
            "cooperative-sticky".into(),
        ]));
        let name = "partition.assignment.strategy";
        assert_eq!(
            set(Scope::Consumer, name, s("roundrobin, cooperative-sticky")),
            expect
        );
        let class = s("org.apache.kafka.clients.consumer.RoundRobinAssignor,org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        assert_eq!(set(Scope::Consumer, name, class), expect);
        let arr = RawValue::Array(vec![s("roundrobin"), s("cooperative-sticky")]);
        assert_eq!(set(Scope::Consumer, name, arr), expect);
        assert_eq!(
            set(Scope::Topic, "cleanup.policy", s("delete")),
            Ok(ConfigValue::List(vec!["delete".into()]))
        );
        assert_eq!(
            set(Scope::Topic, "cleanup.policy", s("delete,compact")),
            Ok(ConfigValue::List(vec!["delete".into(), "compact".into()]))
        );
        assert_eq!(
            set(Scope::Topic, "cleanup.policy", s("delete,compakt")),
            Err(r#"cleanup.policy: "compakt" is not valid in the list; valid: delete, compact; did you mean "compact"?"#.into())
        );
        assert_eq!(
            set(Scope::Topic, "cleanup.policy", s(" , ")),
            Err("cleanup.policy: the list is empty; valid: a list of delete, compact".into())
        );
    }

    #[test]
    fn kafka_rejects_these_combinations() {
        let check = |pairs: &[(&str, RawValue)]| {
            let mut c = KafkaConfigs::new(Scope::Producer);
            for (n, v) in pairs {
                c.set(n, v).map_err(|e| e.to_string())?;
            }
            check_combinations(&c).map_err(|e| e.name)
        };
        let on = ("enable.idempotence", RawValue::Bool(true));
        assert_eq!(
            check(&[on.clone(), ("acks", RawValue::Int(1))]),
            Err("acks".into())
        );
        assert_eq!(check(&[("acks", RawValue::Int(1))]), Ok(()));
        let mif = ("max.in.flight.requests.per.connection", RawValue::Int(6));
        assert_eq!(check(&[on.clone(), mif.clone()]), Err(mif.0.into()));
        assert_eq!(check(&[mif]), Ok(()));
        assert_eq!(
            check(&[on, ("retries", RawValue::Int(0))]),
            Err("retries".into())
        );
        let dt = ("delivery.timeout.ms", RawValue::Int(1000));
        assert_eq!(check(&[dt]), Err("delivery.timeout.ms".into()));

        let mut c = KafkaConfigs::new(Scope::Consumer);
        assert_eq!(c.set("session.timeout.ms", &RawValue::Int(3000)), Ok(()));
        let err = check_combinations(&c).map_err(|e| e.to_string());
        assert_eq!(err, Err("session.timeout.ms: Heartbeat must be set lower than the session timeout (heartbeat.interval.ms 3000 >= session.timeout.ms 3000); valid: heartbeat.interval.ms below session.timeout.ms, typically a third of it".into()));
    }

    #[test]
    fn real_configs_ksim_does_not_simulate_are_refused_as_such() {
        let e = set(
            Scope::Broker,
            "controller.quorum.append.linger.ms",
            RawValue::Int(5),
        );
        assert_eq!(
            e,
            Err(r#"controller.quorum.append.linger.ms: broker config "controller.quorum.append.linger.ms" is not simulated by ksim: the quorum leader appends records at once; leave it out"#.into())
        );
        let e = set(Scope::Consumer, "fetch.min.bytes", RawValue::Int(1024)).unwrap_err();
        assert!(e.contains("is not simulated by ksim"), "{e}");
        assert!(!e.contains("unknown"), "a real config is not unknown: {e}");
        // A name Kafka does not have is still unknown.
        let e = set(Scope::Consumer, "fetch.min.byte", RawValue::Int(1)).unwrap_err();
        assert!(e.contains("unknown consumer config"), "{e}");
        // No name is both accepted and refused, and every scope refuses its own.
        for scope in [
            Scope::Broker,
            Scope::Topic,
            Scope::Producer,
            Scope::Consumer,
        ] {
            for (name, _) in scope.not_simulated() {
                assert!(
                    find(scope, name).is_none(),
                    "{name} is accepted and refused"
                );
                let e = set(scope, name, RawValue::Int(1)).unwrap_err();
                assert!(e.contains("is not simulated by ksim"), "{e}");
            }
        }
    }
}
