//! `ksim export-logs`: a broker's log directory at a moment of a run, as
//! Kafka lays it out, for Kafka's own tools.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::moment::{stop_at, MomentArgs};
use super::{load, outln, EXIT_USAGE};
use crate::report::export_logs::{export, ExportRequest};

/// Arguments of `ksim export-logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    moment: MomentArgs,
    /// The broker whose log directory is exported (its Kafka node id)
    #[arg(long)]
    broker: u32,
    /// The directory to write it to (created; must not hold files already)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Export what a power loss at that moment would leave (the fsynced
    /// bytes), not what the page cache holds
    #[arg(long)]
    durable: bool,
}

pub fn main(args: Args) -> u8 {
    let loaded = match load(&args.moment.scenario) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if let Err(message) = super::dump_log::check_broker(&loaded.scenario, args.broker) {
        eprintln!("error: {message}");
        return EXIT_USAGE;
    }
    if std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "error: --out {}: the directory holds files already; give an empty or new one",
            args.out.display()
        );
        return EXIT_USAGE;
    }
    let moment = match stop_at(&args.moment) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let run = &moment.run;
    let Some(disk) = run.broker_disk(args.broker) else {
        eprintln!("error: --broker {}: no such broker", args.broker);
        return EXIT_USAGE;
    };
    let files: BTreeMap<String, Vec<u8>> = if args.durable {
        disk.durable_files()
    } else {
        disk.files()
            .map(|f| {
                (
                    f.to_owned(),
                    disk.read(f).map(|b| b.into_owned()).unwrap_or_default(),
                )
            })
            .collect()
    };
    let topic_ids: BTreeMap<String, String> = run
        .metadata()
        .map(|m| {
            m.topics
                .iter()
                .map(|(name, t)| (name.clone(), t.id.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let (exported, skipped) = export(&ExportRequest {
        files: &files,
        topic_ids: &topic_ids,
    });
    for file in &exported {
        let path = args.out.join(&file.path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &file.bytes));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    let view = if args.durable {
        "what a power loss would leave"
    } else {
        "the page cache"
    };
    outln!(
        "exported broker {}'s log directory at {} ({view}): {} files to {}",
        args.broker,
        sim::format_nanos(moment.at_ns),
        exported.len(),
        args.out.display()
    );
    for s in skipped {
        outln!("  left out {s}");
    }
    0
}
