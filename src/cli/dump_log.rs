//! `ksim dump-log`: one replica's log at a moment of a run.

use super::moment::{stop_at, MomentArgs};
use super::{load, out, EXIT_USAGE};
use crate::harness::topology::Role;
use crate::harness::Run;
use crate::protocol::TopicPartition;
use crate::report::dump_log::{dump, DumpRequest};
use crate::scenario::Scenario;

/// Arguments of `ksim dump-log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    moment: MomentArgs,
    /// The broker holding the replica (its Kafka node id)
    #[arg(long)]
    broker: u32,
    /// The partition, as TOPIC-N (e.g. orders-0)
    #[arg(long)]
    partition: String,
}

pub fn main(args: Args) -> u8 {
    // Check the broker and the partition before running anything.
    let loaded = match load(&args.moment.scenario) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let tp = match check_args(&loaded.scenario, args.broker, &args.partition) {
        Ok(tp) => tp,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
    };
    let moment = match stop_at(&args.moment) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let run = &moment.run;
    let prefix = format!("{}/", args.partition);
    let Some(disk) = run.broker_disk(args.broker) else {
        eprintln!("error: --broker {}: no such broker", args.broker);
        return EXIT_USAGE;
    };
    let has_files = disk.files().any(|f| f.starts_with(&prefix))
        || disk.durable_files().keys().any(|f| f.starts_with(&prefix));
    if !has_files {
        eprintln!("error: {}", no_replica(run, args.broker, &tp, moment.at_ns));
        return EXIT_USAGE;
    }
    let node = run.topology().id(&Role::Broker(args.broker));
    let process = run.broker_state(args.broker);
    let replica = run
        .broker(args.broker)
        .map(|b| b.replica_manager())
        .and_then(|rm| rm.partition(&tp));
    let faults = run
        .executed()
        .iter()
        .filter(|f| node.is_some_and(|n| f.nodes.contains(&n)))
        .map(|f| format!("{} at {}", f.kind, sim::format_nanos(f.at_ns)))
        .collect();
    let text = dump(&DumpRequest {
        file: &moment.loaded.file,
        seed: args.moment.seed,
        at_ns: moment.at_ns,
        broker: args.broker,
        process,
        partition: &args.partition,
        replica,
        disk,
        faults,
    });
    out!("{text}");
    0
}

/// Whether `--broker` names one of the scenario's brokers.
pub(super) fn check_broker(scenario: &Scenario, broker: u32) -> Result<(), String> {
    let brokers = scenario.cluster.brokers;
    if broker == 0 || broker > brokers {
        let ids: Vec<String> = (1..=brokers).map(|b| b.to_string()).collect();
        return Err(format!(
            "--broker {broker}: the scenario has {brokers} brokers; valid: {}",
            ids.join(", ")
        ));
    }
    Ok(())
}

/// The partition named, if the broker id and the partition are valid for the scenario.
fn check_args(scenario: &Scenario, broker: u32, partition: &str) -> Result<TopicPartition, String> {
    check_broker(scenario, broker)?;
    let valid: Vec<String> = scenario
        .topics
        .iter()
        .map(|t| match t.partitions {
            1 => format!("{}-0", t.name),
            n => format!("{}-0..{}-{}", t.name, t.name, n - 1),
        })
        .collect();
    let found = scenario.topics.iter().find_map(|t| {
        let index: u32 = partition
            .strip_prefix(t.name.as_str())?
            .strip_prefix('-')?
            .parse()
            .ok()?;
        (index < t.partitions).then(|| TopicPartition::new(&t.name, index))
    });
    found.ok_or_else(|| {
        format!(
            "--partition {partition}: not a partition of the scenario's topics (TOPIC-N); valid: {}",
            valid.join(", ")
        )
    })
}

/// Why the broker has no files for the partition.
fn no_replica(run: &Run, broker: u32, tp: &TopicPartition, at_ns: u64) -> String {
    let holders = run.metadata().and_then(|m| {
        m.partition(&tp.topic, tp.partition)
            .map(|p| p.replicas.clone())
    });
    let at = sim::format_nanos(at_ns);
    match holders {
        Some(replicas) => {
            let ids: Vec<String> = replicas.iter().map(u32::to_string).collect();
            let not = if replicas.contains(&broker) {
                "it is a replica per the metadata, but"
            } else {
                "it is not one of them, and"
            };
            format!(
                "--broker {broker} --partition {tp}: per the metadata at {at}, {tp} is on brokers {}; {not} broker {broker} has no files for it yet (try --broker {})",
                ids.join(", "),
                ids.join(" or --broker ")
            )
        }
        None => format!(
            "--broker {broker} --partition {tp}: at {at} the metadata has no {tp} yet (the topic is not created), so broker {broker} has no files for it yet; try a later --at"
        ),
    }
}
