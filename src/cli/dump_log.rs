//! `ksim dump-log`: one replica's log at a moment of a run.

use super::moment::{stop_at, MomentArgs};

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
    let moment = match stop_at(&args.moment) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let _ = (moment, args.broker, args.partition);
    0
}
