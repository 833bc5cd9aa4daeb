//! Faults the kernel can inject, and random fault arrivals for swarm runs.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::net::Partition;
use crate::node::NodeId;
use crate::time::Nanos;

/// One fault, aimed at concrete nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The process dies; its page cache survives (the OS keeps it).
    Crash(NodeId),
    /// A fresh process boots from the node's disk (a running one is killed first).
    Restart(NodeId),
    /// The machine loses power: the process dies and non-durable data is gone.
    PowerLoss {
        /// The machine.
        node: NodeId,
        /// Leave a torn prefix of the oldest unflushed write.
        torn: bool,
    },
    /// The process freezes (GC pause, SIGSTOP): inputs queue up, timers wait.
    Pause(NodeId),
    /// A paused process runs again and handles what queued up.
    Resume(NodeId),
    /// Links are cut.
    Partition(Partition),
    /// Every link is restored.
    Heal,
    /// fsync and writeback on the node's disk get `factor` times slower (1 = healthy).
    SlowDisk {
        /// The node.
        node: NodeId,
        /// Slowdown factor.
        factor: u32,
    },
    /// Extra one-way delay to and from a node, or every node (0 = none).
    Latency {
        /// The node, or None for every node.
        node: Option<NodeId>,
        /// Added delay.
        delay_ns: Nanos,
    },
    /// Extra one-way delay on the link from one node to another (0 = none).
    LinkLatency {
        /// The sender.
        from: NodeId,
        /// The receiver.
        to: NodeId,
        /// Added delay.
        delay_ns: Nanos,
        /// Later messages on the link do not queue behind the delayed ones
        /// (they go on a new connection).
        overtake: bool,
    },
    /// One bit of one durable byte on the node's disk flips.
    Corrupt(NodeId),
    /// The TCP connection between two nodes resets.
    Reset(NodeId, NodeId),
}

impl Fault {
    /// The fault's kind as reports name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::PowerLoss { .. } => "power_loss",
            Fault::Pause(_) => "pause",
            Fault::Resume(_) => "resume",
            Fault::Partition(_) => "partition",
            Fault::Heal => "heal",
            Fault::SlowDisk { .. } => "slow_disk",
            Fault::Latency { .. } | Fault::LinkLatency { .. } => "latency",
            Fault::Corrupt(_) => "corrupt",
            Fault::Reset(..) => "reset",
        }
    }
}

/// What applying a fault did, for the run's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultEffect {
    /// One line saying what happened (e.g. "dropped 3 unflushed writes").
    pub detail: String,
    /// False when the fault changed nothing (crash of a node already down, ...).
    pub took_effect: bool,
}

/// Times of a Poisson process with `rate_per_min` arrivals per simulated
/// minute, in `[start, end)`, drawn from `rng`.
pub fn poisson_arrivals(
    rng: &mut ChaCha8Rng,
    rate_per_min: f64,
    start: Nanos,
    end: Nanos,
) -> Vec<Nanos> {
    let mut times = Vec::new();
    if rate_per_min.is_nan() || rate_per_min <= 0.0 || !rate_per_min.is_finite() {
        return times;
    }
    let mean_gap_ns = 60e9 / rate_per_min;
    let mut t = start as f64;
    loop {
        // Inverse-CDF of the exponential distribution; 1-u is in (0, 1].
        let u: f64 = rng.random();
        t += -(1.0 - u).ln() * mean_gap_ns;
        if t >= end as f64 {
            return times;
        }
        times.push(t as Nanos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn poisson_rate_matches_on_average() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let minute = 60_000_000_000u64;
        let n = poisson_arrivals(&mut rng, 2.0, 0, 1000 * minute).len();
        assert!(
            (1800..2200).contains(&n),
            "expected ~2000 arrivals, got {n}"
        );
    }

    #[test]
    fn poisson_times_are_sorted_and_inside_the_window() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let times = poisson_arrivals(&mut rng, 30.0, 5, 60_000_000_000);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times.iter().all(|&t| (5..60_000_000_000).contains(&t)));
        assert!(poisson_arrivals(&mut rng, 0.0, 0, 1 << 40).is_empty());
        assert!(poisson_arrivals(&mut rng, f64::NAN, 0, 1 << 40).is_empty());
    }
}
