//! Coverage: how often a run reached the protocol states that matter, so a
//! sweep shows what it exercised and what it never reached.

use std::collections::BTreeMap;

use super::history::{Event, History, What};

/// Every counted state, with what it means (in report order).
pub const STATES: [(&str, &str); 10] = [
    (
        "leader_elections",
        "a partition got a new leader epoch with a leader",
    ),
    (
        "unclean_elections",
        "a leader was elected from outside the ISR",
    ),
    (
        "offline_partitions",
        "a partition was left without a leader",
    ),
    (
        "isr_shrunk_to_1",
        "a partition's ISR shrank to its leader alone",
    ),
    (
        "isr_below_min_insync",
        "the ISR fell below min.insync.replicas (acks=all writes refused with NOT_ENOUGH_REPLICAS)",
    ),
    ("truncations", "a replica cut its log"),
    (
        "fenced_brokers",
        "the controller fenced a broker (session expired)",
    ),
    (
        "rebalances",
        "a consumer group rebalanced after its first join",
    ),
    (
        "fenced_zombie_commits",
        "a commit from a stale generation was fenced",
    ),
    (
        "power_losses_dropping_acked_data",
        "a power loss dropped acknowledged records from a replica's page cache",
    ),
];

/// Inputs beyond the history.
pub struct Inputs<'a> {
    /// min.insync.replicas of a partition (`topic-N`).
    pub min_insync: &'a dyn Fn(&str) -> u32,
    /// Whether any offset in `from..to` of the partition held an acknowledged record.
    pub acked_between: &'a dyn Fn(&str, u64, u64) -> bool,
    /// Generations of every group after its first, summed.
    pub generations: u64,
    /// Fenced commits of every group, summed.
    pub fenced_commits: u64,
}

/// Counts the states the run reached.
pub fn count(history: &History, inputs: &Inputs<'_>) -> BTreeMap<String, u64> {
    let mut n: BTreeMap<String, u64> = STATES.iter().map(|(k, _)| ((*k).to_owned(), 0)).collect();
    let mut bump = |k: &str| *n.get_mut(k).expect("a known state") += 1;
    // Per partition: (leader, leader epoch, ISR size) before each change.
    let mut last: BTreeMap<&str, (Option<u32>, i32, usize)> = BTreeMap::new();
    for (i, e) in history.events.iter().enumerate() {
        let Some(part) = e.partition.as_deref() else {
            if e.what == What::Fenced {
                bump("fenced_brokers");
            }
            continue;
        };
        match &e.what {
            What::PartitionChange {
                leader,
                leader_epoch,
                isr,
                unclean,
                created,
                ..
            } => {
                let before = last.insert(part, (*leader, *leader_epoch, isr.len()));
                if *created {
                    continue;
                }
                let (was_leader, was_epoch, was_isr) = before.unwrap_or((None, -1, 0));
                if leader.is_some() && *leader_epoch > was_epoch {
                    bump("leader_elections");
                    if *unclean {
                        bump("unclean_elections");
                    }
                }
                if leader.is_none() && was_leader.is_some() {
                    bump("offline_partitions");
                }
                if isr.len() == 1 && was_isr > 1 {
                    bump("isr_shrunk_to_1");
                }
                let min = (inputs.min_insync)(part) as usize;
                if isr.len() < min && was_isr >= min {
                    bump("isr_below_min_insync");
                }
            }
            What::Truncated { .. } => bump("truncations"),
            What::Down {
                fault,
                log_end_offset,
                ..
            } if fault == "power_loss" => {
                let recovered = recovered_after(&history.events[i + 1..], e);
                if recovered.is_some_and(|r| {
                    r < *log_end_offset && (inputs.acked_between)(part, r, *log_end_offset)
                }) {
                    bump("power_losses_dropping_acked_data");
                }
            }
            _ => {}
        }
    }
    *n.get_mut("rebalances").expect("known") = inputs.generations;
    *n.get_mut("fenced_zombie_commits").expect("known") = inputs.fenced_commits;
    n
}

/// What the same broker recovered of the same partition after going down.
fn recovered_after(later: &[Event], down: &Event) -> Option<u64> {
    later.iter().find_map(|e| match e.what {
        What::Recovered { log_end_offset, .. }
            if e.node == down.node && e.partition == down.partition =>
        {
            Some(log_end_offset)
        }
        _ => None,
    })
}
