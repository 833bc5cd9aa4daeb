//! Typed access to the spanned TOML tree, with errors located at the key or
//! value they are about.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::{ScenarioError, Src};
use super::units::{parse_duration, DURATION_HINT};
use crate::config::{did_you_mean, RawValue};

/// The keys of the top-level table.
pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "duration",
    "settle",
    "cluster",
    "topics",
    "producers",
    "consumers",
    "pipelines",
    "network",
    "disk",
    "protocol",
    "faults",
    "admin",
    "swarm",
    "check",
    "anomaly",
];

/// Keys of the sections, for hints when one is written at the top level.
const SECTION_KEYS: &[(&str, &[&str])] = &[
    ("[cluster]", &["brokers", "controllers", "config"]),
    ("[[topics]]", &["partitions", "replication_factor"]),
    ("[[producers]] or [[consumers]]", &["topic", "count"]),
    ("[[producers]]", &["rate", "keys"]),
    ("[[consumers]]", &["group"]),
    ("[network]", &["latency"]),
    (
        "[disk]",
        &[
            "fsync_latency",
            "writeback_interval",
            "dirty_expire",
            "torn_writes",
        ],
    ),
    ("[protocol]", super::parse::PROTOCOL_KEYS),
    ("[[faults]]", super::parse_faults::FAULT_KEYS),
    ("[check]", &["invariants"]),
    ("[anomaly]", super::parse_anomaly::ANOMALY_KEYS),
];

/// A spanned TOML value.
pub(crate) type Node<'i> = Spanned<DeValue<'i>>;

/// Result of reading part of a scenario.
pub(crate) type Res<T> = Result<T, ScenarioError>;

/// `parent.key`, with the key quoted when it is not a bare TOML key.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// A value for messages: its type, and the value itself when it is short.
pub(crate) fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
        DeValue::String(_) => "a string".to_owned(),
        DeValue::Integer(i) => format!("integer {i}"),
        DeValue::Float(f) => format!("float {f}"),
        DeValue::Boolean(b) => format!("boolean {b}"),
        DeValue::Datetime(_) => "a datetime".to_owned(),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// A TOML integer as i128; `None` when it does not fit.
pub(crate) fn integer(value: &DeValue<'_>) -> Option<i128> {
    match value {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// A TOML value as a Kafka config value.
pub(crate) fn raw_value(value: &DeValue<'_>) -> RawValue {
    match value {
        DeValue::String(s) => RawValue::Str(s.to_string()),
        DeValue::Integer(i) => match integer(value) {
            Some(v) => RawValue::Int(v),
            None => RawValue::Str(i.to_string()),
        },
        DeValue::Float(f) => RawValue::Float(f.to_string()),
        DeValue::Boolean(b) => RawValue::Bool(*b),
        DeValue::Datetime(_) => RawValue::Other("a datetime"),
        DeValue::Array(a) => RawValue::Array(a.iter().map(|v| raw_value(v.get_ref())).collect()),
        DeValue::Table(_) => RawValue::Other("a table"),
    }
}

/// A TOML table of the scenario, at a key path.
pub(crate) struct Table<'a, 'i> {
    pub src: Src<'a>,
    pub path: String,
    pub span: Range<usize>,
    pub map: &'a DeTable<'i>,
}

/// One key of a table (or one element of an array) and its value.
pub(crate) struct Field<'a, 'i> {
    pub src: Src<'a>,
    pub name: String,
    pub path: String,
    pub key_span: Range<usize>,
    pub node: &'a Node<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    /// Errors on the first key (in file order) that is not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Res<()> {
        let mut unknown: Vec<_> = self
            .map
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.get_ref().as_ref()))
            .collect();
        unknown.sort_by_key(|(k, _)| k.span().start);
        let Some((key, _)) = unknown.first() else {
            return Ok(());
        };
        let name: &str = key.get_ref();
        let owner = SECTION_KEYS.iter().find(|(_, keys)| keys.contains(&name));
        let hint = match did_you_mean(name, allowed.iter().copied()) {
            Some(near) => format!("did you mean {near:?}? "),
            None if !self.path.is_empty() && TOP_KEYS.contains(&name) => {
                format!("{name} is a top-level key: put it before the first [table] header; ")
            }
            None if self.path.is_empty() => match owner {
                Some((section, _)) => format!("{name} belongs in {section}; "),
                None => String::new(),
            },
            None => String::new(),
        };
        let message = format!(
            "unknown key {name:?}; {hint}valid keys: {}",
            allowed.join(", ")
        );
        Err(self
            .src
            .err(&key.span(), &child_path(&self.path, name), message))
    }

    /// The field `key`, if present.
    pub fn get(&self, key: &str) -> Option<Field<'a, 'i>> {
        let (k, node) = self.map.get_key_value(key)?;
        Some(Field {
            src: self.src,
            name: key.to_owned(),
            path: child_path(&self.path, key),
            key_span: k.span(),
            node,
        })
    }

    /// The field `key`, or an error at the table that it is missing.
    pub fn req(&self, key: &str, example: &str) -> Res<Field<'a, 'i>> {
        self.get(key).ok_or_else(|| {
            let message = format!("missing required key {key:?}; e.g. {key} = {example}");
            self.src
                .err(&self.span, &child_path(&self.path, key), message)
        })
    }

    /// Every field, in file order.
    pub fn fields(&self) -> Vec<Field<'a, 'i>> {
        let mut fields: Vec<_> = self
            .map
            .iter()
            .map(|(k, node)| Field {
                src: self.src,
                name: k.get_ref().to_string(),
                path: child_path(&self.path, k.get_ref()),
                key_span: k.span(),
                node,
            })
            .collect();
        fields.sort_by_key(|f| f.key_span.start);
        fields
    }

    /// An error at the table itself.
    pub fn err(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        self.src
            .err(&self.span, &child_path(&self.path, key), message)
    }
}

impl<'a, 'i> Field<'a, 'i> {
    /// The value as the file writes it.
    pub fn value_text(&self) -> &'a str {
        self.src.text.get(self.node.span()).unwrap_or("").trim()
    }

    /// The value.
    pub fn value(&self) -> &'a DeValue<'i> {
        self.node.get_ref()
    }

    /// An error at the value.
    pub fn err(&self, message: impl Into<String>) -> ScenarioError {
        self.src.err(&self.node.span(), &self.path, message)
    }

    /// An error at the key.
    pub fn key_err(&self, message: impl Into<String>) -> ScenarioError {
        self.src.err(&self.key_span, &self.path, message)
    }

    /// "expected X, found Y".
    pub fn expected(&self, what: &str) -> ScenarioError {
        self.err(format!("expected {what}, found {}", describe(self.value())))
    }

    /// A string.
    pub fn str(&self, what: &str) -> Res<&'a str> {
        match self.value() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.expected(what)),
        }
    }

    /// A boolean.
    pub fn bool(&self) -> Res<bool> {
        match self.value() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.expected("true or false")),
        }
    }

    /// An integer within `min..=max`.
    pub fn int_in(&self, min: u64, max: u64) -> Res<u64> {
        let valid = format!("an integer in {min}..={max}");
        let Some(v) = integer(self.value()) else {
            return Err(self.expected(&valid));
        };
        if v < i128::from(min) || v > i128::from(max) {
            return Err(self.err(format!("{v} is not valid; valid: {min}..={max}")));
        }
        u64::try_from(v).map_err(|_| self.expected(&valid))
    }

    /// An integer within `min..=max` that fits a u32.
    pub fn u32_in(&self, min: u32, max: u32) -> Res<u32> {
        let v = self.int_in(u64::from(min), u64::from(max))?;
        u32::try_from(v).map_err(|_| self.err(format!("{v} is not valid; valid: {min}..={max}")))
    }

    /// A finite number (integer or float) of at least `min` and at most `max`.
    pub fn number_in(&self, min: f64, max: f64, what: &str) -> Res<f64> {
        let v = match self.value() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(_) => integer(self.value()).map(|v| v as f64),
            _ => return Err(self.expected(what)),
        };
        match v {
            Some(v) if v.is_finite() && v >= min && v <= max => Ok(v),
            _ => Err(self.err(format!(
                "{} is not valid; valid: {what}",
                describe(self.value())
            ))),
        }
    }

    /// A duration string such as "10s", in nanoseconds.
    pub fn duration(&self) -> Res<u64> {
        match self.value() {
            DeValue::String(s) => parse_duration(s).map_err(|m| self.err(m)),
            DeValue::Integer(_) | DeValue::Float(_) => Err(self.err(format!(
                "durations are strings with a unit; found {}; valid: {DURATION_HINT}",
                describe(self.value())
            ))),
            _ => Err(self.expected(&format!("a duration, {DURATION_HINT}"))),
        }
    }

    /// A duration above zero.
    pub fn positive_duration(&self) -> Res<u64> {
        match self.duration()? {
            0 => {
                Err(self
                    .err("a zero duration is not valid; valid: a duration above 0, e.g. \"5s\""))
            }
            ns => Ok(ns),
        }
    }

    /// A table (`[x]` or `{ ... }`).
    pub fn table(&self) -> Res<Table<'a, 'i>> {
        match self.value() {
            DeValue::Table(map) => Ok(Table {
                src: self.src,
                path: self.path.clone(),
                span: self.node.span(),
                map,
            }),
            _ => Err(self.expected("a table")),
        }
    }

    /// An array's elements, each with the path `key[i]`.
    pub fn array(&self, what: &str) -> Res<Vec<Field<'a, 'i>>> {
        match self.value() {
            DeValue::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    src: self.src,
                    name: i.to_string(),
                    path: format!("{}[{i}]", self.path),
                    key_span: node.span(),
                    node,
                })
                .collect()),
            _ => Err(self.expected(what)),
        }
    }

    /// An array of tables (`[[x]]`), each with the path `key[i]`.
    pub fn tables(&self, what: &str) -> Res<Vec<Table<'a, 'i>>> {
        self.array(what)?.iter().map(Field::table).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_dotted_keys() {
        assert_eq!(child_path("", "name"), "name");
        assert_eq!(child_path("topics[0]", "config"), "topics[0].config");
        assert_eq!(
            child_path("a.config", "linger.ms"),
            "a.config.\"linger.ms\""
        );
        assert_eq!(child_path("a", ""), "a.\"\"");
    }
}
