//! Reads a scenario file into a [`Scenario`], checking every key and value.

use toml::de::{DeTable, DeValue};

use super::error::{ScenarioError, Src};
use super::invariant::Invariant;
use super::model::*;
use super::parse_admin::admin_ops;
use super::parse_anomaly::{anomaly, ProtocolKeys};
use super::parse_faults::faults;
use super::reader::{raw_value, Field, Res, Table, TOP_KEYS};
use super::target::is_valid_name;
use super::units::{parse_rate, rate_per_second, RATE_HINT};
use crate::config::{did_you_mean, find, KafkaConfigs, KafkaVersion, Scope};

/// Most brokers or controllers a cluster may have.
pub const MAX_NODES: u32 = 1000;
/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;
/// Most producers or consumers one entry may ask for.
pub const MAX_CLIENTS: u32 = 1000;
/// Most distinct keys a producer draws from (its partitioner keeps one hash
/// a key, and `key_order` one slot a key).
pub const MAX_KEYS: u64 = 10_000_000;
/// Highest swarm rate of one fault kind, per simulated minute.
pub const MAX_SWARM_RATE: f64 = 1000.0;

/// Parses and validates scenario `text`; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_variant(text, file, false)
}

/// Parses scenario `text` as its fixed variant: its `[protocol]` table with
/// the keys of `[anomaly.fixed]` laid over it, so the run is of the release
/// (or behaviour) that fixed the anomaly the scenario shows.
pub fn parse_fixed(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_variant(text, file, true)
}

fn parse_variant(text: &str, file: &str, fixed: bool) -> Result<Scenario, ScenarioError> {
    let src = Src { file, text };
    let doc = DeTable::parse(text).map_err(|e| src.syntax(&e))?;
    let root = Table {
        src,
        path: String::new(),
        span: doc.span(),
        map: doc.get_ref(),
    };
    root.check_keys(TOP_KEYS)?;
    let name_field = root.req("name", "\"broker_crash\"")?;
    let name = name_field.str("a string")?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(
            name_field.err("the name must be non-empty text on one line, e.g. \"broker_crash\"")
        );
    }
    let description = match root.get("description") {
        Some(f) => f.str("a string")?.to_owned(),
        None => String::new(),
    };
    let duration_ns = root.req("duration", "\"60s\"")?.positive_duration()?;
    let settle_ns = match root.get("settle") {
        Some(f) => f.duration()?,
        None => 30_000_000_000,
    };
    // The release first: its defaults apply to every config table.
    let protocol = protocol(&root, fixed)?;
    let v = protocol.kafka_version;
    let cluster = cluster(&root, v)?;
    let topics = topics(&root, &cluster, v)?;
    let producers = producers(&root, &topics, v)?;
    let consumers = consumers(&root, &topics, v)?;
    let pipelines = pipelines(&root, &topics, &consumers, v)?;
    let mut scenario = Scenario {
        name: name.to_owned(),
        description,
        duration_ns,
        settle_ns,
        cluster,
        topics,
        producers,
        consumers,
        pipelines,
        network: network(&root)?,
        disk: disk(&root)?,
        protocol,
        faults: Vec::new(),
        admin: Vec::new(),
        swarm: swarm(&root)?,
        check: check(&root)?,
        anomaly: None,
    };
    scenario.faults = faults(&root, &scenario)?;
    scenario.admin = admin_ops(&root, &scenario)?;
    scenario.anomaly = anomaly(&root, &scenario.check)?;
    if let Some(a) = &mut scenario.anomaly {
        // The fix's keys must make a valid release of their own.
        self::protocol(&root, true)?;
        a.is_fixed_variant = fixed;
    }
    Ok(scenario)
}

/// The table at `key`, if present.
fn section<'a, 'i>(root: &Table<'a, 'i>, key: &str) -> Res<Option<Table<'a, 'i>>> {
    root.get(key).map(|f| f.table()).transpose()
}

fn cluster(root: &Table, version: KafkaVersion) -> Res<Cluster> {
    let Some(t) = section(root, "cluster")? else {
        return Ok(Cluster {
            brokers: 3,
            controllers: 3,
            config: KafkaConfigs::for_version(Scope::Broker, version),
        });
    };
    t.check_keys(&["brokers", "controllers", "config"])?;
    let count = |key| t.get(key).map_or(Ok(3), |f| f.u32_in(1, MAX_NODES));
    Ok(Cluster {
        brokers: count("brokers")?,
        controllers: count("controllers")?,
        config: configs(t.get("config"), Scope::Broker, version)?,
    })
}

/// Every config of a `config` table, flattening unquoted dotted keys
/// (`linger.ms = 5` means `"linger.ms" = 5`).
fn flatten<'a, 'i>(table: &Table<'a, 'i>, prefix: &str, out: &mut Vec<(String, Field<'a, 'i>)>) {
    for f in table.fields() {
        let name = if prefix.is_empty() {
            f.name.clone()
        } else {
            format!("{prefix}.{}", f.name)
        };
        if let DeValue::Table(map) = f.value() {
            let nested = Table {
                src: f.src,
                path: f.path.clone(),
                span: f.node.span(),
                map,
            };
            flatten(&nested, &name, out);
        } else {
            out.push((name, f));
        }
    }
}

fn configs(field: Option<Field>, scope: Scope, version: KafkaVersion) -> Res<KafkaConfigs> {
    let mut configs = KafkaConfigs::for_version(scope, version);
    let Some(field) = field else {
        return Ok(configs);
    };
    let table = field.table()?;
    let mut entries = Vec::new();
    flatten(&table, "", &mut entries);
    for (name, f) in &entries {
        let path = super::reader::child_path(&table.path, name);
        let located = |message: String, at_key: bool| {
            let span = if at_key { &f.key_span } else { &f.node.span() };
            f.src.err(span, &path, message)
        };
        configs
            .set(name, &raw_value(f.value()))
            .map_err(|e| located(e.message, find(scope, name).is_none()))?;
    }
    configs
        .check()
        .map_err(|e| match entries.iter().find(|(n, _)| *n == e.name) {
            Some((_, f)) => f.src.err(
                &f.node.span(),
                &super::reader::child_path(&table.path, &e.name),
                e.message,
            ),
            None => field.key_err(format!("{}: {}", e.name, e.message)),
        })?;
    Ok(configs)
}

const INTERNAL_TOPICS: [&str; 3] = [
    "__consumer_offsets",
    "__transaction_state",
    "__cluster_metadata",
];

fn topics(root: &Table, cluster: &Cluster, version: KafkaVersion) -> Res<Vec<TopicSpec>> {
    let mut topics: Vec<TopicSpec> = Vec::new();
    if let Some(field) = root.get("topics") {
        for t in field.tables("an array of tables, [[topics]]")? {
            t.check_keys(&["name", "partitions", "replication_factor", "config"])?;
            let (name, partitions, replication_factor) = topic_shape(&t, "name", cluster, &topics)?;
            topics.push(TopicSpec {
                name,
                partitions,
                replication_factor,
                config: configs(t.get("config"), Scope::Topic, version)?,
                created_at_ns: None,
            });
        }
    }
    // Topics an [[admin]] create_topic makes later, at the first create of
    // each name (their entries are checked in full with the other
    // operations; a create of a name that exists by then recreates it).
    if let Some(field) = root.get("admin") {
        let mut creates = Vec::new();
        for t in field.tables("an array of tables, [[admin]]")? {
            let is_create = t
                .get("op")
                .is_some_and(|f| f.str("an operation name").ok() == Some("create_topic"));
            if is_create {
                creates.push((t.req("at", "\"10s\"")?.duration()?, t));
            }
        }
        creates.sort_by_key(|&(at, _)| at);
        for (at_ns, t) in creates {
            let named = t.get("topic").and_then(|f| f.str("a topic name").ok());
            if named.is_some_and(|n| topics.iter().any(|o| o.name == n)) {
                continue;
            }
            let (name, partitions, replication_factor) =
                topic_shape(&t, "topic", cluster, &topics)?;
            topics.push(TopicSpec {
                name,
                partitions,
                replication_factor,
                config: KafkaConfigs::new(Scope::Topic),
                created_at_ns: Some(at_ns),
            });
        }
    }
    Ok(topics)
}

/// A new topic's name (at `key`), partitions and replication factor, the
/// latter two defaulting to the broker's `num.partitions` and
/// `default.replication.factor`; the name must not collide with `topics`.
pub(crate) fn topic_shape(
    t: &Table,
    key: &str,
    cluster: &Cluster,
    topics: &[TopicSpec],
) -> Res<(String, u32, u32)> {
    let name_f = t.req(key, "\"orders\"")?;
    let name = name_f.str("a topic name")?;
    if !is_valid_name(name) {
        return Err(name_f.err(format!("topic name {name:?} is illegal; valid: 1 to 249 ASCII letters, digits, '.', '_' and '-', not \".\" or \"..\"")));
    }
    if INTERNAL_TOPICS.contains(&name) {
        return Err(name_f.err(format!(
            "{name:?} is an internal Kafka topic; valid: a name of your own, e.g. \"orders\""
        )));
    }
    let folded = |n: &str| n.replace('.', "_");
    if let Some((i, other)) = topics
        .iter()
        .enumerate()
        .find(|(_, o)| folded(&o.name) == folded(name))
    {
        let why = if other.name != name {
            format!("topic {name:?} collides with topic {:?} of topics[{i}] (Kafka treats '.' and '_' alike in metric names)", other.name)
        } else {
            format!("topic {name:?} is already defined in topics[{i}]")
        };
        return Err(name_f.err(format!("{why}; valid: a unique name")));
    }
    let broker = &cluster.config;
    let partitions = match t.get("partitions") {
        Some(f) => f.u32_in(1, MAX_PARTITIONS)?,
        None => defaulted(t, "partitions", broker, "num.partitions", MAX_PARTITIONS)?,
    };
    let brokers = cluster.brokers;
    let replication_factor = match t.get("replication_factor") {
        Some(f) => {
            let rf = f.int_in(1, u64::from(u32::MAX))?;
            if rf > u64::from(brokers) {
                return Err(f.err(format!(
                    "{rf} is not valid; valid: 1..={brokers} (cluster.brokers = {brokers})"
                )));
            }
            rf as u32
        }
        None => defaulted(
            t,
            "replication_factor",
            broker,
            "default.replication.factor",
            brokers,
        )?,
    };
    Ok((name.to_owned(), partitions, replication_factor))
}

/// A topic setting taken from a broker config, as Kafka does when a topic is
/// created without it.
fn defaulted(t: &Table, key: &str, broker: &KafkaConfigs, config: &str, max: u32) -> Res<u32> {
    let v = broker.get_i64(config).unwrap_or(1);
    match u32::try_from(v) {
        Ok(v) if v >= 1 && v <= max => Ok(v),
        _ => Err(t.err(key, format!("not given, so it would be {config} = {v} from [cluster.config]; valid: {key} = 1..={max}"))),
    }
}

/// The topic named by `key`, which must be one of `topics`.
fn topic_ref(t: &Table, topics: &[TopicSpec]) -> Res<String> {
    topic_at(t, "topic", topics)
}

/// The topic named by the key `key` of `t`, which must be one of `topics`.
fn topic_at(t: &Table, key: &str, topics: &[TopicSpec]) -> Res<String> {
    let f = t.req(key, "\"orders\"")?;
    let name = f.str("a topic name")?;
    if topics.iter().any(|t| t.name == name) {
        return Ok(name.to_owned());
    }
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let message = match did_you_mean(name, names.iter().copied()) {
        _ if names.is_empty() => format!(
            "unknown topic {name:?}; no [[topics]] are defined: add one with name = {name:?}"
        ),
        Some(near) => format!(
            "unknown topic {name:?}; did you mean {near:?}? valid: {}",
            names.join(", ")
        ),
        None => format!(
            "unknown topic {name:?}; valid: a topic of [[topics]]: {}",
            names.join(", ")
        ),
    };
    Err(f.err(message))
}

fn count(t: &Table) -> Res<u32> {
    t.get("count").map_or(Ok(1), |f| f.u32_in(1, MAX_CLIENTS))
}

fn producers(root: &Table, topics: &[TopicSpec], version: KafkaVersion) -> Res<Vec<ProducerSpec>> {
    let Some(field) = root.get("producers") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in field.tables("an array of tables, [[producers]]")? {
        t.check_keys(&[
            "topic",
            "count",
            "rate",
            "keys",
            "tombstones",
            "config",
            "transaction",
        ])?;
        let topic = topic_ref(&t, topics)?;
        let rate_f = t.req("rate", "\"1000/s\"")?;
        let rate = match rate_f.value() {
            DeValue::String(s) => parse_rate(s),
            DeValue::Integer(_) => match super::reader::integer(rate_f.value()) {
                Some(n) => rate_per_second(n),
                None => Err(format!("rate is too large; valid: {RATE_HINT}")),
            },
            _ => return Err(rate_f.expected(&format!("a rate: {RATE_HINT}"))),
        }
        .map_err(|m| rate_f.err(m))?;
        let keys = t.get("keys").map_or(Ok(0), |f| f.int_in(0, MAX_KEYS))?;
        let tombstones = match t.get("tombstones") {
            None => 0.0,
            Some(f) => {
                let share = f.number_in(0.0, 1.0, "a share from 0 to 1, e.g. 0.1")?;
                if share > 0.0 && keys == 0 {
                    return Err(f.err(
                        "tombstones need keys = N: a tombstone (a null value) deletes its key, and a compacted topic refuses a record without one",
                    ));
                }
                share
            }
        };
        out.push(ProducerSpec {
            topic,
            count: count(&t)?,
            rate,
            keys,
            tombstones,
            config: configs(t.get("config"), Scope::Producer, version)?,
            transaction: transaction(&t)?,
        });
    }
    Ok(out)
}

/// A producer's `transaction = { records, abort }`: given exactly when its
/// config sets `transactional.id` (a transactional producer sends in
/// transactions; only one does).
fn transaction(t: &Table) -> Res<Option<TransactionSpec>> {
    let transactional = t
        .get("config")
        .and_then(|c| c.table().ok())
        .and_then(|c| c.get("transactional.id"));
    let Some(field) = t.get("transaction") else {
        return match transactional {
            Some(id) => Err(id.err(
                "a producer with a transactional.id needs transaction = { records = N, abort = R } (sends per transaction, share aborted)",
            )),
            None => Ok(None),
        };
    };
    if transactional.is_none() {
        return Err(field.err(
            "transaction needs config = { \"transactional.id\" = \"...\" }: only a transactional producer sends in transactions",
        ));
    }
    let spec = field.table()?;
    spec.check_keys(&["records", "abort"])?;
    let records = spec.req("records", "20")?.int_in(1, 1_000_000)?;
    let abort = spec.get("abort").map_or(Ok(0.0), |f| {
        f.number_in(0.0, 1.0, "a share from 0 to 1, e.g. 0.1")
    })?;
    Ok(Some(TransactionSpec { records, abort }))
}

fn consumers(root: &Table, topics: &[TopicSpec], version: KafkaVersion) -> Res<Vec<ConsumerSpec>> {
    let Some(field) = root.get("consumers") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in field.tables("an array of tables, [[consumers]]")? {
        t.check_keys(&[
            "topic",
            "group",
            "count",
            "config",
            "processing",
            "processing_time",
        ])?;
        let topic = topic_ref(&t, topics)?;
        let group_f = t.req("group", "\"billing\"")?;
        let group = group_f.str("a group id")?;
        if !is_valid_name(group) {
            return Err(group_f.err(format!("group {group:?} is not valid; valid: 1 to 249 ASCII letters, digits, '.', '_' and '-'")));
        }
        out.push(ConsumerSpec {
            topic,
            group: group.to_owned(),
            count: count(&t)?,
            config: configs(t.get("config"), Scope::Consumer, version)?,
            processing: match t.get("processing") {
                None => Processing::AtLeastOnce,
                Some(f) => match f.str("a string")? {
                    "at-least-once" => Processing::AtLeastOnce,
                    "at-most-once" => Processing::AtMostOnce,
                    other => {
                        return Err(f.err(format!(
                            "processing {other:?} is not known; valid: \"at-least-once\" (process, then commit) or \"at-most-once\" (commit, then process)"
                        )))
                    }
                },
            },
            processing_time_ns: t.get("processing_time").map_or(Ok(0), |f| f.duration())?,
        });
    }
    Ok(out)
}

/// `[[pipelines]]`: consume-transform-produce members reading `input` and
/// writing `output`, in a group of their own.
fn pipelines(
    root: &Table,
    topics: &[TopicSpec],
    consumers: &[ConsumerSpec],
    version: KafkaVersion,
) -> Res<Vec<PipelineSpec>> {
    let Some(field) = root.get("pipelines") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PipelineSpec> = Vec::new();
    for t in field.tables("an array of tables, [[pipelines]]")? {
        t.check_keys(&["input", "output", "group", "count", "config"])?;
        let input = topic_at(&t, "input", topics)?;
        let output = topic_at(&t, "output", topics)?;
        if input == output {
            let f = t.req("output", "\"ledger\"")?;
            return Err(f.err(format!(
                "a pipeline cannot write the topic it reads ({input:?}); valid: another topic of [[topics]]"
            )));
        }
        let group_f = t.req("group", "\"etl\"")?;
        let group = group_f.str("a group id")?;
        if !is_valid_name(group) {
            return Err(group_f.err(format!("group {group:?} is not valid; valid: 1 to 249 ASCII letters, digits, '.', '_' and '-'")));
        }
        if consumers.iter().any(|c| c.group == group) || out.iter().any(|p| p.group == group) {
            return Err(group_f.err(format!(
                "group {group:?} is already used by another [[consumers]] or [[pipelines]] entry; valid: a group of its own (a pipeline's group is its application.id)"
            )));
        }
        let spec = PipelineSpec {
            input,
            output,
            group: group.to_owned(),
            count: count(&t)?,
            config: configs(t.get("config"), Scope::Streams, version)?,
        };
        for (prefix, scope) in [
            ("consumer.", Scope::Consumer),
            ("producer.", Scope::Producer),
        ] {
            if let Err(e) = spec.config.prefixed(prefix, scope).check() {
                let f = t.req("config", "{}")?;
                return Err(f.err(format!("\"{prefix}{}\": {}", e.name, e.message)));
            }
        }
        let producer = spec.config.prefixed("producer.", Scope::Producer);
        if spec.guarantee() == ProcessingGuarantee::ExactlyOnceV2 && !producer.idempotence_enabled()
        {
            // Kafka Streams' producer is transactional under
            // exactly_once_v2: Kafka's ProducerConfig refuses that without
            // idempotence (acks other than all turns it off).
            let f = t.req("config", "{}")?;
            return Err(f.err(
                "\"producer.acks\" must be \"all\" under exactly_once_v2: Cannot set a transactional.id without also enabling idempotence.".to_owned(),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

/// A `{ min, max }` duration range (or one duration for both).
fn range(f: Option<Field>, default: (u64, u64)) -> Res<(u64, u64)> {
    let Some(f) = f else {
        return Ok(default);
    };
    if let DeValue::String(_) = f.value() {
        let d = f.duration()?;
        return Ok((d, d));
    }
    let t = f.table()?;
    t.check_keys(&["min", "max"])?;
    let min = t.get("min").map_or(Ok(default.0), |f| f.duration())?;
    let max = t.get("max").map_or(Ok(default.1), |f| f.duration())?;
    if min > max {
        use super::units::format_duration as d;
        let message = format!("min {} is above max {}; valid: min <= max", d(min), d(max));
        return Err(match t.get("max").or_else(|| t.get("min")) {
            Some(f) => f.err(message),
            None => t.err("", message),
        });
    }
    Ok((min, max))
}

fn network(root: &Table) -> Res<NetworkSpec> {
    let (min, max) = match section(root, "network")? {
        Some(t) => {
            t.check_keys(&["latency"])?;
            range(t.get("latency"), (1_000_000, 5_000_000))?
        }
        None => (1_000_000, 5_000_000),
    };
    Ok(NetworkSpec {
        latency_min_ns: min,
        latency_max_ns: max,
    })
}

fn disk(root: &Table) -> Res<DiskSpec> {
    let mut disk = DiskSpec {
        fsync_latency_min_ns: 1_000_000,
        fsync_latency_max_ns: 10_000_000,
        writeback_interval_ns: 5_000_000_000,
        dirty_expire_ns: 30_000_000_000,
        torn_writes: false,
    };
    let Some(t) = section(root, "disk")? else {
        return Ok(disk);
    };
    t.check_keys(&[
        "fsync_latency",
        "writeback_interval",
        "dirty_expire",
        "torn_writes",
    ])?;
    (disk.fsync_latency_min_ns, disk.fsync_latency_max_ns) = range(
        t.get("fsync_latency"),
        (disk.fsync_latency_min_ns, disk.fsync_latency_max_ns),
    )?;
    if let Some(f) = t.get("writeback_interval") {
        disk.writeback_interval_ns = f.positive_duration()?;
    }
    if let Some(f) = t.get("dirty_expire") {
        disk.dirty_expire_ns = f.duration()?;
    }
    if let Some(f) = t.get("torn_writes") {
        disk.torn_writes = f.bool()?;
    }
    Ok(disk)
}

/// The keys of `[protocol]`: the release and its switches.
pub(super) const PROTOCOL_KEYS: &[&str] = &[
    "kafka_version",
    "truncation",
    "transaction_version",
    "hw_held_below_min_isr",
    "leader_epoch_bump_on_isr_shrink",
    "broker_epoch_in_alter_partition",
    "offsets_kept_while_group_active",
    "partitioner",
    "fenced_replicas_kept_out_of_isr",
    "metadata_noop_records",
    "unfence_at_registration_offset",
    "metadata_applied_in_controlled_shutdown",
    "static_leader_rejoins_as_leader",
    "leader_state_kept_on_partition_update",
    "hw_incremented_after_alter_partition",
    "recovery_point_held_after_recovery",
    "alter_partition_kept_on_role_change",
    "isr_join_requires_epoch_start_offset",
    "leader_epoch_in_replica_fetch",
    "truncation_on_fetch",
    "alter_partition_sent_at_once",
    "pending_isr_state",
    "producer_fenced_error",
    "follower_fetch_waits_for_data",
    "failed_epoch_fence_remembered",
    "strict_end_txn_epoch",
    "fetch_session_leader_epoch",
    "static_rejoin_rebalances_when_completing",
    "new_member_heartbeat_expiration",
    "transactional_epoch_bump",
    "delivery_timeout_bounds_sends",
    "consumer_leader_epoch_validation",
    "eligible_leader_replicas",
    "kraft_pre_vote",
    "kraft_fetch_high_watermark",
    "static_member_id_replaced_in_any_state",
    "unknown_producer_any_sequence",
    "unknown_producer_sequence_zero_in_tv2",
    "unknown_producer_sequence_zero_on_empty_log",
];

fn protocol(root: &Table, fixed: bool) -> Res<ProtocolSpec> {
    let mut kafka_version = KafkaVersion::NEWEST;
    let mut truncation = None;
    let mut transaction_version = None;
    let mut hw_held_below_min_isr = None;
    let mut leader_epoch_bump_on_isr_shrink = None;
    let mut broker_epoch_in_alter_partition = None;
    let mut offsets_kept_while_group_active = None;
    let mut partitioner = None;
    let mut fenced_replicas_kept_out_of_isr = None;
    let mut metadata_noop_records = None;
    let mut unfence_at_registration_offset = None;
    let mut metadata_applied_in_controlled_shutdown = None;
    let mut static_leader_rejoins_as_leader = None;
    let mut leader_state_kept_on_partition_update = None;
    let mut hw_incremented_after_alter_partition = None;
    let mut recovery_point_held_after_recovery = None;
    let mut alter_partition_kept_on_role_change = None;
    let mut isr_join_requires_epoch_start_offset = None;
    let mut leader_epoch_in_replica_fetch = None;
    let mut truncation_on_fetch = None;
    let mut alter_partition_sent_at_once = None;
    let mut pending_isr_state = None;
    let mut producer_fenced_error = None;
    let mut follower_fetch_waits_for_data = None;
    let mut failed_epoch_fence_remembered = None;
    let mut strict_end_txn_epoch = None;
    let mut fetch_session_leader_epoch = None;
    let mut static_rejoin_rebalances_when_completing = None;
    let mut new_member_heartbeat_expiration = None;
    let mut transactional_epoch_bump = None;
    let mut delivery_timeout_bounds_sends = None;
    let mut consumer_leader_epoch_validation = None;
    let mut eligible_leader_replicas = None;
    let mut kraft_pre_vote = None;
    let mut kraft_fetch_high_watermark = None;
    let mut static_member_id_replaced_in_any_state = None;
    let mut unknown_producer_any_sequence = None;
    let mut unknown_producer_sequence_zero_in_tv2 = None;
    let mut unknown_producer_sequence_zero_on_empty_log = None;
    if let Some(t) = ProtocolKeys::of(root, fixed)? {
        t.check_keys(PROTOCOL_KEYS)?;
        if let Some(f) = t.get("kafka_version") {
            let text = f.str("a string, e.g. \"3.8\"")?;
            kafka_version = KafkaVersion::parse(text).map_err(|e| f.err(e))?;
        }
        if let Some(f) = t.get("transaction_version") {
            let valid = "valid: 1 (KIP-98 transactions), 2 (KIP-890 part 2, Kafka >= 4.0: an epoch bump at every commit or abort)";
            transaction_version = Some(match super::reader::integer(f.value()) {
                Some(1) => 1,
                Some(2) => 2,
                Some(other) => return Err(f.err(format!("{other} is not valid; {valid}"))),
                None => return Err(f.expected(&format!("1 or 2; {valid}"))),
            });
        }
        if let Some(f) = t.get("hw_held_below_min_isr") {
            hw_held_below_min_isr = Some(f.bool()?);
        }
        if let Some(f) = t.get("leader_epoch_bump_on_isr_shrink") {
            leader_epoch_bump_on_isr_shrink = Some(f.bool()?);
        }
        if let Some(f) = t.get("broker_epoch_in_alter_partition") {
            broker_epoch_in_alter_partition = Some(f.bool()?);
        }
        if let Some(f) = t.get("offsets_kept_while_group_active") {
            offsets_kept_while_group_active = Some(f.bool()?);
        }
        if let Some(f) = t.get("partitioner") {
            let name = f.str("a string")?;
            partitioner = Some(PartitionerKind::from_name(name).ok_or_else(|| {
                f.err(format!("{name:?} is not valid; valid: \"round-robin\" (Kafka < 2.4), \"sticky\" (KIP-480, Kafka 2.4 to 3.2), \"uniform-sticky\" (KIP-794, Kafka >= 3.3)"))
            })?);
        }
        if let Some(f) = t.get("fenced_replicas_kept_out_of_isr") {
            fenced_replicas_kept_out_of_isr = Some(f.bool()?);
        }
        if let Some(f) = t.get("metadata_noop_records") {
            metadata_noop_records = Some(f.bool()?);
        }
        if let Some(f) = t.get("unfence_at_registration_offset") {
            unfence_at_registration_offset = Some(f.bool()?);
        }
        if let Some(f) = t.get("metadata_applied_in_controlled_shutdown") {
            metadata_applied_in_controlled_shutdown = Some(f.bool()?);
        }
        if let Some(f) = t.get("static_leader_rejoins_as_leader") {
            static_leader_rejoins_as_leader = Some(f.bool()?);
        }
        if let Some(f) = t.get("leader_state_kept_on_partition_update") {
            leader_state_kept_on_partition_update = Some(f.bool()?);
        }
        if let Some(f) = t.get("hw_incremented_after_alter_partition") {
            hw_incremented_after_alter_partition = Some(f.bool()?);
        }
        if let Some(f) = t.get("recovery_point_held_after_recovery") {
            recovery_point_held_after_recovery = Some(f.bool()?);
        }
        if let Some(f) = t.get("alter_partition_kept_on_role_change") {
            alter_partition_kept_on_role_change = Some(f.bool()?);
        }
        if let Some(f) = t.get("isr_join_requires_epoch_start_offset") {
            isr_join_requires_epoch_start_offset = Some(f.bool()?);
        }
        if let Some(f) = t.get("leader_epoch_in_replica_fetch") {
            leader_epoch_in_replica_fetch = Some(f.bool()?);
        }
        if let Some(f) = t.get("truncation_on_fetch") {
            truncation_on_fetch = Some(f.bool()?);
        }
        if let Some(f) = t.get("alter_partition_sent_at_once") {
            alter_partition_sent_at_once = Some(f.bool()?);
        }
        if let Some(f) = t.get("pending_isr_state") {
            pending_isr_state = Some(f.bool()?);
        }
        if let Some(f) = t.get("producer_fenced_error") {
            producer_fenced_error = Some(f.bool()?);
        }
        if let Some(f) = t.get("follower_fetch_waits_for_data") {
            follower_fetch_waits_for_data = Some(f.bool()?);
        }
        if let Some(f) = t.get("failed_epoch_fence_remembered") {
            failed_epoch_fence_remembered = Some(f.bool()?);
        }
        if let Some(f) = t.get("strict_end_txn_epoch") {
            strict_end_txn_epoch = Some(f.bool()?);
        }
        if let Some(f) = t.get("fetch_session_leader_epoch") {
            fetch_session_leader_epoch = Some(f.bool()?);
        }
        if let Some(f) = t.get("static_rejoin_rebalances_when_completing") {
            static_rejoin_rebalances_when_completing = Some(f.bool()?);
        }
        if let Some(f) = t.get("new_member_heartbeat_expiration") {
            new_member_heartbeat_expiration = Some(f.bool()?);
        }
        if let Some(f) = t.get("transactional_epoch_bump") {
            transactional_epoch_bump = Some(f.bool()?);
        }
        if let Some(f) = t.get("delivery_timeout_bounds_sends") {
            delivery_timeout_bounds_sends = Some(f.bool()?);
        }
        if let Some(f) = t.get("consumer_leader_epoch_validation") {
            consumer_leader_epoch_validation = Some(f.bool()?);
        }
        if let Some(f) = t.get("eligible_leader_replicas") {
            eligible_leader_replicas = Some(f.bool()?);
        }
        if let Some(f) = t.get("kraft_pre_vote") {
            kraft_pre_vote = Some(f.bool()?);
        }
        if let Some(f) = t.get("kraft_fetch_high_watermark") {
            kraft_fetch_high_watermark = Some(f.bool()?);
        }
        if let Some(f) = t.get("static_member_id_replaced_in_any_state") {
            static_member_id_replaced_in_any_state = Some(f.bool()?);
        }
        if let Some(f) = t.get("unknown_producer_any_sequence") {
            unknown_producer_any_sequence = Some(f.bool()?);
        }
        if let Some(f) = t.get("unknown_producer_sequence_zero_in_tv2") {
            unknown_producer_sequence_zero_in_tv2 = Some(f.bool()?);
        }
        if let Some(f) = t.get("unknown_producer_sequence_zero_on_empty_log") {
            unknown_producer_sequence_zero_on_empty_log = Some(f.bool()?);
        }
        if let Some(f) = t.get("truncation") {
            truncation = Some(match f.str("a string")? {
                "leader-epoch" => Truncation::LeaderEpoch,
                "epoch-end-offset" => Truncation::EpochEndOffset,
                "high-watermark" => Truncation::HighWatermark,
                other => return Err(f.err(format!("{other:?} is not valid; valid: \"leader-epoch\" (KIP-101 with KIP-279, Kafka >= 2.0), \"epoch-end-offset\" (KIP-101 alone, Kafka 0.11 to 1.1), \"high-watermark\" (Kafka < 0.11)"))),
            });
        }
    }
    Ok(ProtocolSpec {
        kafka_version,
        truncation: truncation.unwrap_or_else(|| kafka_version.truncation()),
        transaction_version: transaction_version
            .unwrap_or_else(|| kafka_version.transaction_version()),
        hw_held_below_min_isr: hw_held_below_min_isr
            .unwrap_or_else(|| kafka_version.hw_held_below_min_isr()),
        leader_epoch_bump_on_isr_shrink: leader_epoch_bump_on_isr_shrink
            .unwrap_or_else(|| kafka_version.leader_epoch_bump_on_isr_shrink()),
        broker_epoch_in_alter_partition: broker_epoch_in_alter_partition
            .unwrap_or_else(|| kafka_version.broker_epoch_in_alter_partition()),
        offsets_kept_while_group_active: offsets_kept_while_group_active
            .unwrap_or_else(|| kafka_version.offsets_kept_while_group_active()),
        partitioner: partitioner.unwrap_or_else(|| kafka_version.partitioner()),
        fenced_replicas_kept_out_of_isr: fenced_replicas_kept_out_of_isr
            .unwrap_or_else(|| kafka_version.fenced_replicas_kept_out_of_isr()),
        metadata_noop_records: metadata_noop_records
            .unwrap_or_else(|| kafka_version.metadata_noop_records()),
        unfence_at_registration_offset: unfence_at_registration_offset
            .unwrap_or_else(|| kafka_version.unfence_at_registration_offset()),
        metadata_applied_in_controlled_shutdown: metadata_applied_in_controlled_shutdown
            .unwrap_or_else(|| kafka_version.metadata_applied_in_controlled_shutdown()),
        static_leader_rejoins_as_leader: static_leader_rejoins_as_leader
            .unwrap_or_else(|| kafka_version.static_leader_rejoins_as_leader()),
        leader_state_kept_on_partition_update: leader_state_kept_on_partition_update
            .unwrap_or_else(|| kafka_version.leader_state_kept_on_partition_update()),
        hw_incremented_after_alter_partition: hw_incremented_after_alter_partition
            .unwrap_or_else(|| kafka_version.hw_incremented_after_alter_partition()),
        recovery_point_held_after_recovery: recovery_point_held_after_recovery
            .unwrap_or_else(|| kafka_version.recovery_point_held_after_recovery()),
        alter_partition_kept_on_role_change: alter_partition_kept_on_role_change
            .unwrap_or_else(|| kafka_version.alter_partition_kept_on_role_change()),
        isr_join_requires_epoch_start_offset: isr_join_requires_epoch_start_offset
            .unwrap_or_else(|| kafka_version.isr_join_requires_epoch_start_offset()),
        leader_epoch_in_replica_fetch: leader_epoch_in_replica_fetch
            .unwrap_or_else(|| kafka_version.leader_epoch_in_replica_fetch()),
        truncation_on_fetch: truncation_on_fetch
            .unwrap_or_else(|| kafka_version.truncation_on_fetch()),
        alter_partition_sent_at_once: alter_partition_sent_at_once
            .unwrap_or_else(|| kafka_version.alter_partition_sent_at_once()),
        pending_isr_state: pending_isr_state.unwrap_or_else(|| kafka_version.pending_isr_state()),
        producer_fenced_error: producer_fenced_error
            .unwrap_or_else(|| kafka_version.producer_fenced_error()),
        follower_fetch_waits_for_data: follower_fetch_waits_for_data
            .unwrap_or_else(|| kafka_version.follower_fetch_waits_for_data()),
        failed_epoch_fence_remembered: failed_epoch_fence_remembered
            .unwrap_or_else(|| kafka_version.failed_epoch_fence_remembered()),
        strict_end_txn_epoch: strict_end_txn_epoch
            .unwrap_or_else(|| kafka_version.strict_end_txn_epoch()),
        fetch_session_leader_epoch: fetch_session_leader_epoch
            .unwrap_or_else(|| kafka_version.fetch_session_leader_epoch()),
        static_rejoin_rebalances_when_completing: static_rejoin_rebalances_when_completing
            .unwrap_or_else(|| kafka_version.static_rejoin_rebalances_when_completing()),
        new_member_heartbeat_expiration: new_member_heartbeat_expiration
            .unwrap_or_else(|| kafka_version.new_member_heartbeat_expiration()),
        transactional_epoch_bump: transactional_epoch_bump
            .unwrap_or_else(|| kafka_version.transactional_epoch_bump()),
        delivery_timeout_bounds_sends: delivery_timeout_bounds_sends
            .unwrap_or_else(|| kafka_version.delivery_timeout_bounds_sends()),
        consumer_leader_epoch_validation: consumer_leader_epoch_validation
            .unwrap_or_else(|| kafka_version.consumer_leader_epoch_validation()),
        eligible_leader_replicas: eligible_leader_replicas
            .unwrap_or_else(|| kafka_version.eligible_leader_replicas()),
        kraft_pre_vote: kraft_pre_vote.unwrap_or_else(|| kafka_version.kraft_pre_vote()),
        kraft_fetch_high_watermark: kraft_fetch_high_watermark
            .unwrap_or_else(|| kafka_version.kraft_fetch_high_watermark()),
        static_member_id_replaced_in_any_state: static_member_id_replaced_in_any_state
            .unwrap_or_else(|| kafka_version.static_member_id_replaced_in_any_state()),
        unknown_producer_any_sequence: unknown_producer_any_sequence
            .unwrap_or_else(|| kafka_version.unknown_producer_any_sequence()),
        unknown_producer_sequence_zero_in_tv2: unknown_producer_sequence_zero_in_tv2
            .unwrap_or_else(|| kafka_version.unknown_producer_sequence_zero_in_tv2()),
        unknown_producer_sequence_zero_on_empty_log: unknown_producer_sequence_zero_on_empty_log
            .unwrap_or_else(|| kafka_version.unknown_producer_sequence_zero_on_empty_log()),
    })
}

fn swarm(root: &Table) -> Res<Option<SwarmSpec>> {
    let Some(t) = section(root, "swarm")? else {
        return Ok(None);
    };
    let names = super::fault::FaultKind::SWARM.map(|k| k.name());
    t.check_keys(&names)?;
    let mut rates_per_min = std::collections::BTreeMap::new();
    for kind in super::fault::FaultKind::SWARM {
        if let Some(f) = t.get(kind.name()) {
            let valid = format!("faults per simulated minute, a number in 0..={MAX_SWARM_RATE}");
            rates_per_min.insert(kind, f.number_in(0.0, MAX_SWARM_RATE, &valid)?);
        }
    }
    Ok(Some(SwarmSpec { rates_per_min }))
}

fn check(root: &Table) -> Res<CheckSpec> {
    let Some(t) = section(root, "check")? else {
        return Ok(CheckSpec {
            invariants: Invariant::ALL.to_vec(),
        });
    };
    t.check_keys(&["invariants"])?;
    let Some(field) = t.get("invariants") else {
        return Ok(CheckSpec {
            invariants: Invariant::ALL.to_vec(),
        });
    };
    let mut invariants = Vec::new();
    for f in field.array("an array of invariant names")? {
        let inv: Invariant = f
            .str("an invariant name")?
            .parse()
            .map_err(|m: String| f.err(m))?;
        if invariants.contains(&inv) {
            return Err(f.err(format!("{inv} is listed twice; valid: each invariant once")));
        }
        invariants.push(inv);
    }
    Ok(CheckSpec { invariants })
}
