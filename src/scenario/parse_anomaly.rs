//! `[anomaly]`: the known Kafka anomaly a scenario shows, and the
//! `[protocol]` keys of the release (or behaviour) that fixed it. The fixed
//! variant of a scenario is the same file read with those keys laid over
//! its `[protocol]` table, so the release's defaults follow the fix too.

use super::invariant::Invariant;
use super::model::{AnomalySpec, CheckSpec};
use super::parse::PROTOCOL_KEYS;
use super::reader::{Field, Res, Table};

/// The keys of `[anomaly]`.
pub(super) const ANOMALY_KEYS: &[&str] =
    &["reference", "breaks", "may_also_break", "seeds", "fixed"];

/// Most seeds an `[anomaly]` table may list.
const MAX_ANOMALY_SEEDS: usize = 100;

/// The `[protocol]` keys a run reads: the scenario's own, and in its fixed
/// variant `[anomaly.fixed]` laid over them (a key in both takes the fix's
/// value).
pub(super) struct ProtocolKeys<'a, 'i> {
    tables: Vec<Table<'a, 'i>>,
}

impl<'a, 'i> ProtocolKeys<'a, 'i> {
    /// The tables of `root` a run of this variant reads, or None when it
    /// has neither.
    pub fn of(root: &Table<'a, 'i>, fixed: bool) -> Res<Option<Self>> {
        let mut tables = Vec::new();
        if let Some(f) = root.get("protocol") {
            tables.push(f.table()?);
        }
        if fixed {
            tables.push(fixed_table(root)?);
        }
        Ok((!tables.is_empty()).then_some(Self { tables }))
    }

    /// Errors on the first key of either table that is not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Res<()> {
        self.tables.iter().try_for_each(|t| t.check_keys(allowed))
    }

    /// The field `key`: the fix's, else the scenario's.
    pub fn get(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.tables.iter().rev().find_map(|t| t.get(key))
    }
}

/// `[anomaly.fixed]`, which a fixed variant needs.
fn fixed_table<'a, 'i>(root: &Table<'a, 'i>) -> Res<Table<'a, 'i>> {
    let Some(anomaly) = root.get("anomaly") else {
        return Err(root.err(
            "anomaly",
            "the fixed variant of a scenario needs an [anomaly] table saying what fixed it; \
             this scenario has none",
        ));
    };
    anomaly
        .table()?
        .req("fixed", "{ kafka_version = \"3.7\" }")?
        .table()
}

/// The `[anomaly]` table, checked against the scenario's invariants.
pub(super) fn anomaly(root: &Table, check: &CheckSpec) -> Res<Option<AnomalySpec>> {
    let Some(field) = root.get("anomaly") else {
        return Ok(None);
    };
    let t = field.table()?;
    t.check_keys(ANOMALY_KEYS)?;
    let reference = t.req("reference", "\"KAFKA-15583\"")?;
    let reference = reference.str("a KIP or JIRA, e.g. \"KIP-101\" or \"KAFKA-15583\"")?;
    let breaks_field = t.req("breaks", "[\"acked_writes_durable\"]")?;
    let breaks = invariants(&breaks_field, check, &[])?;
    if breaks.is_empty() {
        return Err(breaks_field.err("name at least one invariant the anomaly breaks"));
    }
    let may_also_break = match t.get("may_also_break") {
        Some(f) => invariants(&f, check, &breaks)?,
        None => Vec::new(),
    };
    let seeds_field = t.req("seeds", "[1, 4]")?;
    let mut seeds = Vec::new();
    for f in seeds_field.array("an array of seeds")? {
        let seed = f.int_in(0, u64::MAX)?;
        if seeds.contains(&seed) {
            return Err(f.err(format!(
                "seed {seed} is listed twice; valid: each seed once"
            )));
        }
        seeds.push(seed);
    }
    if seeds.is_empty() || seeds.len() > MAX_ANOMALY_SEEDS {
        return Err(seeds_field.err(format!(
            "list 1 to {MAX_ANOMALY_SEEDS} seeds that show the anomaly"
        )));
    }
    let fixed_field = t.req("fixed", "{ kafka_version = \"3.7\" }")?;
    let fixed_table = fixed_field.table()?;
    fixed_table.check_keys(PROTOCOL_KEYS)?;
    let fixed: Vec<String> = fixed_table
        .fields()
        .iter()
        .map(|f| format!("{} = {}", f.name, f.value_text()))
        .collect();
    if fixed.is_empty() {
        return Err(fixed_field.err(format!(
            "name the [protocol] keys of the release or behaviour that fixed the anomaly; \
             valid keys: {}",
            PROTOCOL_KEYS.join(", ")
        )));
    }
    Ok(Some(AnomalySpec {
        reference: reference.to_owned(),
        breaks,
        may_also_break,
        seeds,
        fixed,
        is_fixed_variant: false,
    }))
}

/// An array of invariant names, each checked by the scenario, none twice
/// and none of `taken`.
fn invariants(field: &Field, check: &CheckSpec, taken: &[Invariant]) -> Res<Vec<Invariant>> {
    let mut out = Vec::new();
    for f in field.array("an array of invariant names")? {
        let inv: Invariant = f
            .str("an invariant name")?
            .parse()
            .map_err(|m: String| f.err(m))?;
        if !check.invariants.contains(&inv) {
            return Err(f.err(format!(
                "{inv} is not checked by this scenario; valid: an invariant of [check] invariants"
            )));
        }
        if out.contains(&inv) || taken.contains(&inv) {
            return Err(f.err(format!("{inv} is listed twice; valid: each invariant once")));
        }
        out.push(inv);
    }
    Ok(out)
}
