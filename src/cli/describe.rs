//! `ksim describe`: the cluster at a moment of a run, in the layouts of
//! Kafka's own tools.

use super::moment::{stop_at, MomentArgs};
use super::out;
use crate::report::describe;

/// Which view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// Topics and partitions: `kafka-topics.sh --describe`, then each replica's log
    Topics,
    /// Consumer groups: `kafka-consumer-groups.sh --describe`
    Groups,
    /// The KRaft quorum: `kafka-metadata-quorum.sh describe --status` and `--replication`
    Quorum,
    /// Transactional ids: `kafka-transactions.sh describe`, from each coordinator
    Transactions,
}

/// Arguments of `ksim describe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    moment: MomentArgs,
    /// What to describe
    #[arg(value_enum)]
    view: View,
}

pub fn main(args: Args) -> u8 {
    let moment = match stop_at(&args.moment) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let text = match args.view {
        View::Topics => describe::topics(&moment.run),
        View::Groups => describe::groups(&moment.run),
        View::Quorum => describe::quorum(&moment.run),
        View::Transactions => describe::transactions(&moment.run),
    };
    out!(
        "{}",
        describe::heading(&moment.loaded.file, args.moment.seed, moment.at_ns)
    );
    out!("{text}");
    0
}
