//! The grid of `ksim guarantees`: the configs (acks, min.insync.replicas,
//! unclean election, flush policy, truncation protocol, idempotence,
//! transactions), the fault families, and the scenario file of each
//! (config, family) cell.

use std::fmt::Write;

use crate::config::KafkaVersion;
use crate::scenario::Truncation;

/// `log.flush.interval.messages` when the log is never flushed by count:
/// Kafka's default, Long.MAX_VALUE.
pub const FLUSH_NEVER: i64 = i64::MAX;

/// The producer's `acks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Acks {
    /// `acks = "all"`: the leader waits for the in-sync replicas.
    All,
    /// `acks = "1"`: the leader alone.
    One,
}

impl Acks {
    /// As Kafka writes it.
    pub fn kafka(self) -> &'static str {
        match self {
            Acks::All => "all",
            Acks::One => "1",
        }
    }
}

/// When a broker fsyncs a partition's log (`log.flush.interval.messages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flush {
    /// 1: every message is on disk before it is acknowledged.
    EveryMessage,
    /// Long.MAX_VALUE, Kafka's default: the OS writes pages back when it likes.
    Never,
}

impl Flush {
    /// The value of `log.flush.interval.messages`.
    pub fn interval_messages(self) -> i64 {
        match self {
            Flush::EveryMessage => 1,
            Flush::Never => FLUSH_NEVER,
        }
    }

    /// The word in cell names and filters.
    pub fn word(self) -> &'static str {
        match self {
            Flush::EveryMessage => "every",
            Flush::Never => "never",
        }
    }
}

/// One broker and producer configuration of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    /// Producer `acks`.
    pub acks: Acks,
    /// Broker `min.insync.replicas`, 2 or 1 (sorted: 2 first).
    pub min_insync: MinInsync,
    /// Broker `unclean.leader.election.enable`.
    pub unclean: bool,
    /// Broker `log.flush.interval.messages`.
    pub flush: Flush,
    /// `[protocol] truncation`.
    pub truncation: Truncation,
    /// Producer `enable.idempotence` (sorted: true first).
    pub idempotence: Idempotence,
    /// A transactional producer (`transactional.id` set, [`TRANSACTIONAL_ID`])
    /// and a read_committed consumer (`isolation.level`); only with
    /// acks=all and enable.idempotence=true, as Kafka requires.
    pub transactional: bool,
}

/// `min.insync.replicas`, ordered 2 before 1 (stronger first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MinInsync {
    /// 2.
    Two,
    /// 1, Kafka's default.
    One,
}

impl MinInsync {
    /// The number.
    pub fn value(self) -> u32 {
        match self {
            MinInsync::Two => 2,
            MinInsync::One => 1,
        }
    }
}

/// `enable.idempotence`, ordered on before off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Idempotence {
    /// true, Kafka 3.x's default.
    On,
    /// false.
    Off,
}

impl Idempotence {
    /// The boolean.
    pub fn enabled(self) -> bool {
        self == Idempotence::On
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn truncation_word(t: Truncation) -> &'static str {
    match t {
        Truncation::LeaderEpoch => "epoch",
        Truncation::HighWatermark => "hw",
        Truncation::EpochEndOffset => "epoch-end",
    }
}

impl Config {
    /// Every config of the grid, strongest settings first.
    pub fn all() -> Vec<Config> {
        let mut all = Vec::new();
        for acks in [Acks::All, Acks::One] {
            for min_insync in [MinInsync::Two, MinInsync::One] {
                for unclean in [false, true] {
                    for flush in [Flush::EveryMessage, Flush::Never] {
                        for truncation in [Truncation::LeaderEpoch, Truncation::HighWatermark] {
                            for idempotence in [Idempotence::On, Idempotence::Off] {
                                // The transactional twin right after its
                                // idempotent row (Kafka refuses a
                                // transactional.id with any other acks or
                                // idempotence, so there is no other).
                                let can_be_transactional =
                                    acks == Acks::All && idempotence == Idempotence::On;
                                for transactional in [false, true] {
                                    if transactional && !can_be_transactional {
                                        continue;
                                    }
                                    all.push(Config {
                                        acks,
                                        min_insync,
                                        unclean,
                                        flush,
                                        truncation,
                                        idempotence,
                                        transactional,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// `acks-all_misr-2_unclean-off_flush-every_trunc-epoch_idem-on`, and
    /// `..._idem-on_txn-on` for the transactional twin.
    pub fn name(&self) -> String {
        format!(
            "acks-{}_misr-{}_unclean-{}_flush-{}_trunc-{}_idem-{}{}",
            self.acks.kafka(),
            self.min_insync.value(),
            on_off(self.unclean),
            self.flush.word(),
            truncation_word(self.truncation),
            on_off(self.idempotence.enabled()),
            if self.transactional { "_txn-on" } else { "" }
        )
    }

    /// The producer's `transactional.id` (None: Kafka's default, null).
    pub fn transactional_id(&self) -> Option<&'static str> {
        self.transactional.then_some(TRANSACTIONAL_ID)
    }

    /// The consumer's `isolation.level`.
    pub fn isolation_level(&self) -> &'static str {
        if self.transactional {
            "read_committed"
        } else {
            "read_uncommitted"
        }
    }

    /// The invariants its cells check: [`INVARIANTS`], and with a
    /// transactional producer `transactions_atomic` and `no_aborted_reads`.
    pub fn invariants(&self) -> Vec<&'static str> {
        let mut all = INVARIANTS.to_vec();
        if self.transactional {
            all.extend(crate::check::txn::TXN_INVARIANTS);
        }
        all
    }

    /// Kafka 3.x's defaults (acks=all, min.insync.replicas=1, unclean
    /// election off, no flush by count, KIP-101 truncation, idempotence on).
    pub fn is_kafka_default(&self) -> bool {
        *self
            == Config {
                acks: Acks::All,
                min_insync: MinInsync::One,
                unclean: false,
                flush: Flush::Never,
                truncation: Truncation::LeaderEpoch,
                idempotence: Idempotence::On,
                transactional: false,
            }
    }

    /// The value of a filter key (`acks`, `misr`, ...) for this config.
    fn value_of(&self, key: Key) -> String {
        match key {
            Key::Acks => self.acks.kafka().to_owned(),
            Key::Misr => self.min_insync.value().to_string(),
            Key::Unclean => on_off(self.unclean).to_owned(),
            Key::Flush => self.flush.word().to_owned(),
            Key::Trunc => truncation_word(self.truncation).to_owned(),
            Key::Idem => on_off(self.idempotence.enabled()).to_owned(),
            Key::Txn => on_off(self.transactional).to_owned(),
            Key::Fault => String::new(),
        }
    }
}

/// A fault family: the column of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Process crashes (the page cache survives).
    Crash,
    /// One server at a time loses power (unflushed data is lost).
    PowerLoss,
    /// Every broker loses power at once.
    CorrelatedPowerLoss,
    /// Network partitions.
    Partition,
}

impl Family {
    /// Every family, in column order.
    pub const ALL: [Family; 4] = [
        Family::Crash,
        Family::PowerLoss,
        Family::CorrelatedPowerLoss,
        Family::Partition,
    ];

    /// The word in cell names and filters.
    pub fn word(self) -> &'static str {
        match self {
            Family::Crash => "crash",
            Family::PowerLoss => "power-loss",
            Family::CorrelatedPowerLoss => "correlated-power-loss",
            Family::Partition => "partition",
        }
    }

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Family::Crash => "crash",
            Family::PowerLoss => "power loss",
            Family::CorrelatedPowerLoss => "correlated power loss",
            Family::Partition => "network partition",
        }
    }

    /// What the family does, one sentence (the report and the scenario description).
    pub fn describe(self) -> String {
        let swarm = |what: &str| {
            format!(
                "{SWARM_RATE} more {what} per simulated minute are drawn per seed (times and targets: any broker or controller), each lasting 1 to 10 s"
            )
        };
        match self {
            Family::Crash => format!(
                "the leader of orders-0 crashes at {LEADER_FAULT_AT} and restarts {RESTART_AFTER} later (its page cache survives); {}",
                swarm("crashes")
            ),
            Family::PowerLoss => format!(
                "the leader of orders-0 loses power at {LEADER_FAULT_AT} and restarts {RESTART_AFTER} later (what it had not written back to disk is gone); {}",
                swarm("power losses")
            ),
            Family::CorrelatedPowerLoss => format!(
                "every broker loses power at the same moment, {CORRELATED_AT} in, as a whole rack would, and restarts {RESTART_AFTER} later; nothing else fails"
            ),
            Family::Partition => format!(
                "the leader of orders-0 and the producer are cut off from everyone else at {PARTITION_AT} for {PARTITION_HEAL_AFTER} (the producer still reaches the old leader, and nothing else, so the old leader is a zombie); {SWARM_RATE} latency spikes per simulated minute are drawn per seed (100 ms added to every link of one broker or controller for 5 to 20 s); no partitions are drawn per seed, since healing one heals every link"
            ),
        }
    }

    /// The `[[faults]]` and `[swarm]` tables of the family.
    pub(super) fn faults_toml(self) -> String {
        let swarm = |kind: &str| format!("\n[swarm]\n{kind} = {SWARM_RATE:.1}\n");
        match self {
            Family::Crash => format!(
                "[[faults]]\nat = \"{LEADER_FAULT_AT}\"\nkind = \"crash\"\ntarget = \"leader(orders-0)\"\nrestart_after = \"{RESTART_AFTER}\"\n{}",
                swarm("crash")
            ),
            Family::PowerLoss => format!(
                "[[faults]]\nat = \"{LEADER_FAULT_AT}\"\nkind = \"power_loss\"\ntarget = \"leader(orders-0)\"\nrestart_after = \"{RESTART_AFTER}\"\n{}",
                swarm("power_loss")
            ),
            Family::CorrelatedPowerLoss => format!(
                "[[faults]]\nat = \"{CORRELATED_AT}\"\nkind = \"power_loss\"\ntarget = \"all_brokers\"\nrestart_after = \"{RESTART_AFTER}\"\n"
            ),
            Family::Partition => format!(
                "[[faults]]\nat = \"{PARTITION_AT}\"\nkind = \"partition\"\ngroups = [[\"leader(orders-0)\", \"producer(0)\"]]\nheal_after = \"{PARTITION_HEAL_AFTER}\"\n{}",
                swarm("latency")
            ),
        }
    }
}

/// The fault phase of every cell.
pub const DURATION: &str = "20s";
/// The settle phase of every cell.
pub const SETTLE: &str = "30s";
/// The producer's rate.
pub const RATE: &str = "100/s";
/// `replica.lag.time.max.ms` of every cell (Kafka's default is 30000).
pub const REPLICA_LAG_MS: u64 = 5000;
/// When the scripted leader crash or power loss fires.
pub const LEADER_FAULT_AT: &str = "6s";
/// When every broker loses power (correlated power loss).
pub const CORRELATED_AT: &str = "10s";
/// How long a scripted crash or power loss lasts.
pub const RESTART_AFTER: &str = "5s";
/// When the leader and the producer are cut off.
pub const PARTITION_AT: &str = "5s";
/// How long they stay cut off (longer than broker.session.timeout.ms, 9 s).
pub const PARTITION_HEAL_AFTER: &str = "12s";
/// Swarm faults of the cell's kind per simulated minute.
pub const SWARM_RATE: f64 = 12.0;
/// The `transactional.id` of a transactional row's producer (the scenario
/// gives producer 0 `orders-tx-0`).
pub const TRANSACTIONAL_ID: &str = "orders-tx";
/// Sends per transaction of a transactional row's producer.
pub const TXN_RECORDS: u64 = 10;
/// The share of its transactions the application aborts.
pub const TXN_ABORT: f64 = 0.1;

/// The invariants every cell checks, in report order: the data
/// invariants, then liveness.
pub const INVARIANTS: [&str; crate::check::data::DATA_INVARIANTS.len() + 1] = {
    let data = crate::check::data::DATA_INVARIANTS;
    let mut all = ["eventually_available"; crate::check::data::DATA_INVARIANTS.len() + 1];
    let mut i = 0;
    while i < data.len() {
        all[i] = data[i];
        i += 1;
    }
    all
};

/// What the transactional rows change, for the report's introduction.
pub fn shape_transactional() -> String {
    format!(
        "Rows with `transactional.id = {TRANSACTIONAL_ID}` (only with acks=all and enable.idempotence=true: Kafka refuses a transactional.id otherwise) run a transactional producer that sends {TXN_RECORDS} records per transaction, then commits (`commitTransaction()`), or aborts a share of {TXN_ABORT} of its transactions (and any whose send failed), and a consumer with `isolation.level = read_committed`; they set `transaction.state.log.num.partitions = 1` (default 50) to keep `__transaction_state` small and also check `transactions_atomic` and `no_aborted_reads`."
    )
}

/// What every generated cell sets against its release: 2.4.1's rule for
/// a producer a partition has no state for, as the shipped scenarios do,
/// so that KAFKA-15591's race at topic creation stays out of the cells.
pub const RACE_OUT: &str = "unknown_producer_any_sequence = false";

/// The shape every cell shares, for the report's introduction.
pub fn shape() -> String {
    format!(
        "Kafka {version} (`[protocol] kafka_version`); 3 brokers and 3 KRaft controllers; topic `orders` with 1 partition and replication factor 3; \
one producer at {RATE} (null keys; `retries`, `delivery.timeout.ms` and `linger.ms` at Kafka's defaults); \
one consumer group (`audit`, one member, `auto.offset.reset = earliest`, auto commit); \
a {DURATION} fault phase, then {SETTLE} to settle (every fault healed, every node restarted) and a final read of the log. \
Every cell sets `replica.lag.time.max.ms = {REPLICA_LAG_MS}` (Kafka's default is 30000) so that a follower that falls behind leaves the ISR within the short cell, \
and `offsets.topic.num.partitions = 1` (default 50) to keep `__consumer_offsets` small; every other config is at Kafka {version}'s default. \
Every cell sets `[protocol] {RACE_OUT}` (Kafka 2.4.1's rule for a producer a partition has no state for), which keeps KAFKA-15591's race at topic creation, no fault family's, out of the cells \
(`scenarios/anomalies/kafka_15591_first_batch_overtaken.toml` shows it).",
        version = KafkaVersion::NEWEST
    )
}

/// One cell: a config under a fault family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// The row.
    pub config: Config,
    /// The column.
    pub family: Family,
}

impl Cell {
    /// `acks-all_misr-2_..._idem-on_crash`: the scenario file's stem.
    pub fn name(&self) -> String {
        format!("{}_{}", self.config.name(), self.family.word())
    }

    /// The scenario name (`guarantees_` + the cell name, `-` as `_`).
    pub fn scenario_name(&self) -> String {
        format!("guarantees_{}", self.name().replace('-', "_"))
    }

    /// The cell's scenario file.
    pub fn scenario_toml(&self) -> String {
        let c = &self.config;
        let mut w = String::new();
        let transactional = match c.transactional_id() {
            Some(id) => format!(
                " transactional.id={id} ({TXN_RECORDS} records per transaction, a share of {TXN_ABORT} aborted) isolation.level={}",
                c.isolation_level()
            ),
            None => String::new(),
        };
        let description = format!(
            "ksim guarantees cell: acks={} min.insync.replicas={} unclean.leader.election.enable={} log.flush.interval.messages={} truncation={} enable.idempotence={}{transactional}, under {}: {}.",
            c.acks.kafka(),
            c.min_insync.value(),
            c.unclean,
            c.flush.interval_messages(),
            c.truncation.name(),
            c.idempotence.enabled(),
            self.family.title(),
            self.family.describe()
        );
        write_head(
            &mut w,
            "ksim guarantees",
            "reports/guarantees.md",
            &self.scenario_name(),
            &description,
        );
        let _ = writeln!(w, "\"min.insync.replicas\" = {}", c.min_insync.value());
        let _ = writeln!(w, "\"unclean.leader.election.enable\" = {}", c.unclean);
        let _ = writeln!(
            w,
            "\"log.flush.interval.messages\" = {}",
            c.flush.interval_messages()
        );
        let _ = writeln!(w, "\"replica.lag.time.max.ms\" = {REPLICA_LAG_MS}");
        if c.transactional {
            let _ = writeln!(w, "\"offsets.topic.num.partitions\" = 1");
            let _ = writeln!(w, "\"transaction.state.log.num.partitions\" = 1\n");
        } else {
            let _ = writeln!(w, "\"offsets.topic.num.partitions\" = 1\n");
        }
        let _ = writeln!(
            w,
            "[protocol]\nkafka_version = \"{}\"\ntruncation = \"{}\"\n{RACE_OUT}\n",
            KafkaVersion::NEWEST,
            c.truncation.name()
        );
        let _ = writeln!(
            w,
            "[[topics]]\nname = \"orders\"\npartitions = 1\nreplication_factor = 3\n"
        );
        let (transactional_id, transaction, isolation) = match c.transactional_id() {
            Some(id) => (
                format!(", \"transactional.id\" = \"{id}\""),
                format!("transaction = {{ records = {TXN_RECORDS}, abort = {TXN_ABORT} }}\n"),
                format!(", \"isolation.level\" = \"{}\"", c.isolation_level()),
            ),
            None => Default::default(),
        };
        let _ = writeln!(
            w,
            "[[producers]]\ntopic = \"orders\"\ncount = 1\nrate = \"{RATE}\"\nkeys = 0\n{transaction}config = {{ acks = \"{}\", \"enable.idempotence\" = {}{transactional_id} }}\n",
            c.acks.kafka(),
            c.idempotence.enabled()
        );
        let _ = writeln!(
            w,
            "[[consumers]]\ntopic = \"orders\"\ngroup = \"audit\"\ncount = 1\nconfig = {{ \"auto.offset.reset\" = \"earliest\"{isolation} }}\n"
        );
        w.push_str(&self.family.faults_toml());
        let names: Vec<String> = c.invariants().iter().map(|i| format!("\"{i}\"")).collect();
        let _ = writeln!(w, "\n[check]\ninvariants = [{}]", names.join(", "));
        w
    }
}

/// `text` broken into lines of at most `width` characters at spaces.
/// The start of a cell's scenario file, the same in every table: who
/// generated it, its name and description, the phases, and the cluster up
/// to its `[cluster.config]` header.
pub(super) fn write_head(
    w: &mut String,
    command: &str,
    report: &str,
    name: &str,
    description: &str,
) {
    let _ = writeln!(w, "# Generated by `{command}`; see {report}.");
    let _ = writeln!(w, "name = \"{name}\"");
    let _ = writeln!(w, "description = \"\"\"\n{}\"\"\"", wrap(description, 76));
    let _ = writeln!(w, "duration = \"{DURATION}\"\nsettle = \"{SETTLE}\"\n");
    let _ = writeln!(
        w,
        "[cluster]\nbrokers = 3\ncontrollers = 3\n[cluster.config]"
    );
}

pub(super) fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// A filter key of `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Acks,
    Misr,
    Unclean,
    Flush,
    Trunc,
    Idem,
    Txn,
    Fault,
}

impl Key {
    const ALL: [(Key, &'static str, &'static [&'static str]); 8] = [
        (Key::Acks, "acks", &["1", "all"]),
        (Key::Misr, "misr", &["1", "2"]),
        (Key::Unclean, "unclean", &["off", "on"]),
        (Key::Flush, "flush", &["every", "never"]),
        (Key::Trunc, "trunc", &["epoch", "hw"]),
        (Key::Idem, "idem", &["on", "off"]),
        (Key::Txn, "txn", &["off", "on"]),
        (
            Key::Fault,
            "fault",
            &["crash", "power-loss", "correlated-power-loss", "partition"],
        ),
    ];
}

/// Kafka's names and other spellings users may write for a key or a value.
fn canonical_key(key: &str) -> &str {
    match key {
        "min.insync.replicas" => "misr",
        "unclean.leader.election.enable" => "unclean",
        "log.flush.interval.messages" => "flush",
        "truncation" => "trunc",
        "enable.idempotence" | "idempotence" => "idem",
        "transactional.id" | "transactional" | "transactions" => "txn",
        "family" => "fault",
        k => k,
    }
}

fn canonical_value(key: Key, value: &str) -> String {
    let v = value.trim();
    match (key, v) {
        (Key::Acks, "-1") => "all".to_owned(),
        (Key::Unclean | Key::Idem | Key::Txn, "true") => "on".to_owned(),
        (Key::Unclean | Key::Idem | Key::Txn, "false") => "off".to_owned(),
        (Key::Flush, "1") => "every".to_owned(),
        (Key::Flush, "9223372036854775807") => "never".to_owned(),
        (Key::Trunc, "leader-epoch" | "new") => "epoch".to_owned(),
        (Key::Trunc, "high-watermark" | "old") => "hw".to_owned(),
        (Key::Fault, "power_loss") => "power-loss".to_owned(),
        (Key::Fault, "correlated_power_loss") => "correlated-power-loss".to_owned(),
        _ => v.to_owned(),
    }
}

/// `--only`: `key=value` terms separated by commas; a cell is run when, for
/// every key named, its value is one of those given (`fault=crash,fault=partition`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    terms: Vec<(Key, String)>,
    text: String,
}

impl Filter {
    /// Parses `acks=1,fault=crash`; the error names what would be valid.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let keys: Vec<&str> = Key::ALL.iter().map(|(_, n, _)| *n).collect();
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let Some((key, value)) = term.split_once('=') else {
                return Err(format!(
                    "{term:?} is not KEY=VALUE; valid keys: {}",
                    keys.join(", ")
                ));
            };
            let key = canonical_key(key.trim());
            let Some(&(k, _, values)) = Key::ALL.iter().find(|(_, n, _)| *n == key) else {
                return Err(format!(
                    "unknown key {key:?} in {term:?}; valid keys: {}",
                    keys.join(", ")
                ));
            };
            let value = canonical_value(k, value);
            if !values.contains(&value.as_str()) {
                return Err(format!(
                    "{key}={value} is not valid; valid values of {key}: {}",
                    values.join(", ")
                ));
            }
            terms.push((k, value));
        }
        if terms.is_empty() {
            return Err(format!(
                "empty filter; valid: KEY=VALUE terms separated by commas, keys {}, e.g. acks=1,fault=crash",
                keys.join(", ")
            ));
        }
        Ok(Filter {
            terms,
            text: text.to_owned(),
        })
    }

    /// As the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `cell` passes the filter (an empty filter passes everything).
    pub fn matches(&self, cell: &Cell) -> bool {
        let mut by_key: std::collections::BTreeMap<Key, Vec<&str>> = Default::default();
        for (k, v) in &self.terms {
            by_key.entry(*k).or_default().push(v);
        }
        by_key.iter().all(|(&k, values)| {
            let actual = match k {
                Key::Fault => cell.family.word().to_owned(),
                _ => cell.config.value_of(k),
            };
            values.contains(&actual.as_str())
        })
    }
}

/// Every cell of the grid (valid or not) passing `filter`, rows then columns.
pub fn cells(filter: Option<&Filter>) -> Vec<Cell> {
    let mut cells = Vec::new();
    for config in Config::all() {
        for family in Family::ALL {
            let cell = Cell { config, family };
            if filter.is_none_or(|f| f.matches(&cell)) {
                cells.push(cell);
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_80_configs_and_320_cells_with_distinct_names() {
        // 64 combinations of the six settings, and a transactional twin of
        // each of the 16 with acks=all and enable.idempotence=true.
        assert_eq!(Config::all().len(), 80);
        let all = cells(None);
        assert_eq!(all.len(), 320);
        let names: std::collections::BTreeSet<String> = all.iter().map(Cell::name).collect();
        assert_eq!(names.len(), 320);
        for (i, c) in Config::all().iter().enumerate() {
            if c.transactional {
                let twin = Config::all()[i - 1];
                assert_eq!(
                    Config {
                        transactional: true,
                        ..twin
                    },
                    *c,
                    "after its twin"
                );
                assert_eq!((c.acks, c.idempotence), (Acks::All, Idempotence::On));
                assert_eq!(c.name(), format!("{}_txn-on", twin.name()));
            }
        }
        assert!(all
            .iter()
            .all(|c| crate::scenario::is_valid_name(&c.scenario_name())));
        assert_eq!(
            Config::all()
                .iter()
                .filter(|c| c.is_kafka_default())
                .count(),
            1
        );
    }

    #[test]
    fn filters_select_by_kafka_names_or_short_ones() {
        let f = Filter::parse("acks=1,fault=crash").unwrap();
        assert_eq!(cells(Some(&f)).len(), 32);
        let f = Filter::parse("acks=-1,min.insync.replicas=2,fault=crash,fault=partition").unwrap();
        assert_eq!(cells(Some(&f)).len(), 48);
        let f = Filter::parse("txn=on").unwrap();
        assert_eq!(cells(Some(&f)).len(), 64);
        assert!(cells(Some(&f)).iter().all(|c| c.config.transactional));
        let f = Filter::parse("transactional.id=false,acks=all,fault=crash").unwrap();
        assert_eq!(cells(Some(&f)).len(), 32);
        let f = Filter::parse("enable.idempotence=false,truncation=leader-epoch").unwrap();
        assert_eq!(cells(Some(&f)).len(), 64);
        for bad in ["acks=2", "color=red", "acks", ""] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Filter::parse("acks=2").unwrap_err(),
            "acks=2 is not valid; valid values of acks: 1, all"
        );
    }

    #[test]
    fn valid_cells_parse_with_the_scenario_loader() {
        for cell in cells(None) {
            let text = cell.scenario_toml();
            let parsed = crate::scenario::parse(&text, "cell.toml");
            let kafka_rejects =
                cell.config.acks == Acks::One && cell.config.idempotence == Idempotence::On;
            assert_eq!(parsed.is_err(), kafka_rejects, "{}\n{text}", cell.name());
            let Ok(scenario) = parsed else { continue };
            let checks: Vec<&str> = scenario.check.invariants.iter().map(|i| i.name()).collect();
            let consumer = scenario.consumers[0].config.get_str("isolation.level");
            if cell.config.transactional {
                assert_eq!(scenario.transactional_ids(), ["orders-tx-0"]);
                assert_eq!(consumer.as_deref(), Some("read_committed"));
                assert!(checks.ends_with(&["transactions_atomic", "no_aborted_reads"]));
            } else {
                assert!(scenario.transactional_ids().is_empty());
                assert_eq!(consumer.as_deref(), Some("read_uncommitted"));
                assert_eq!(checks, INVARIANTS);
            }
        }
    }
}
