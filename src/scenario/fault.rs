//! Fault kinds and the rules of which fault keys apply to which kind.

use super::named::named;

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Kill the process; its page cache survives (the OS still flushes it).
    Crash,
    /// Start a crashed node again.
    Restart,
    /// Cut the power: everything not yet fsynced is lost.
    PowerLoss,
    /// Freeze the process (a zombie leader, a long GC pause).
    Pause,
    /// Unfreeze a paused process.
    Resume,
    /// Cut network links.
    Partition,
    /// Restore every cut link.
    Heal,
    /// Make fsync and writeback slower.
    SlowDisk,
    /// Add one-way delay to network links.
    Latency,
    /// Flip a bit in a durable range of a disk.
    Corrupt,
    /// A consumer closes cleanly (KafkaConsumer.close()): it finishes the
    /// poll in hand, commits its position with `enable.auto.commit`, sends
    /// LeaveGroup and stops.
    Close,
    /// A broker gets SIGTERM (Kafka's controlled shutdown): it asks the
    /// controller to move its leaderships, flushes every log, writes the
    /// clean shutdown marker and stops.
    Shutdown,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 12] = [
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::PowerLoss,
        FaultKind::Pause,
        FaultKind::Resume,
        FaultKind::Partition,
        FaultKind::Heal,
        FaultKind::SlowDisk,
        FaultKind::Latency,
        FaultKind::Corrupt,
        FaultKind::Close,
        FaultKind::Shutdown,
    ];

    /// The kinds a `[swarm]` table may draw.
    pub const SWARM: [FaultKind; 8] = [
        FaultKind::Crash,
        FaultKind::PowerLoss,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::SlowDisk,
        FaultKind::Latency,
        FaultKind::Corrupt,
        FaultKind::Shutdown,
    ];

    /// The name used in scenario files, e.g. "power_loss".
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::PowerLoss => "power_loss",
            FaultKind::Pause => "pause",
            FaultKind::Resume => "resume",
            FaultKind::Partition => "partition",
            FaultKind::Heal => "heal",
            FaultKind::SlowDisk => "slow_disk",
            FaultKind::Latency => "latency",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Close => "close",
            FaultKind::Shutdown => "shutdown",
        }
    }

    /// Must a fault of this kind name a `target`? (partition: a target or groups)
    pub fn needs_target(self) -> bool {
        !matches!(
            self,
            FaultKind::Partition | FaultKind::Heal | FaultKind::Latency
        )
    }

    /// Does this kind act on a node's disk (so clients cannot be its target)?
    pub fn needs_disk(self) -> bool {
        matches!(
            self,
            FaultKind::PowerLoss | FaultKind::SlowDisk | FaultKind::Corrupt
        )
    }

    /// The kinds an optional fault key applies to.
    pub fn kinds_for_key(key: &str) -> &'static [FaultKind] {
        match key {
            "restart_after" => &[
                FaultKind::Crash,
                FaultKind::PowerLoss,
                FaultKind::Close,
                FaultKind::Shutdown,
            ],
            "resume_after" => &[FaultKind::Pause],
            "heal_after" => &[
                FaultKind::Partition,
                FaultKind::SlowDisk,
                FaultKind::Latency,
            ],
            "factor" => &[FaultKind::SlowDisk],
            "delay" => &[FaultKind::Latency],
            "torn" => &[FaultKind::PowerLoss],
            "groups" | "one_way" => &[FaultKind::Partition, FaultKind::Latency],
            "overtake" => &[FaultKind::Latency],
            _ => &FaultKind::ALL,
        }
    }
}

named!(FaultKind, "fault kind");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>(), Ok(k));
        }
        assert_eq!(
            "powerloss".parse::<FaultKind>(),
            Err("unknown fault kind \"powerloss\"; did you mean \"power_loss\"? valid: crash, restart, power_loss, pause, resume, partition, heal, slow_disk, latency, corrupt, close, shutdown".into())
        );
    }
}
