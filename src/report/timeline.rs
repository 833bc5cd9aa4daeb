//! The run's timeline for the text report: faults and the protocol events
//! they set off (elections with their epochs, ISR changes, offline
//! partitions, high-watermark stalls, truncations, log recovery, broker
//! registration and fencing, group rebalances), in simulated-time order.

use std::collections::BTreeMap;

use sim::{Nanos, SECONDS};

use crate::check::id_list;
use crate::controller::active::ControlEvent;
use crate::harness::history::What;
use crate::harness::samples::{PartitionSample, Samples};
use crate::harness::Outcome;

/// A high watermark that stands still this long while its leader's log is
/// ahead of it is a stall worth a line (acks=all produce requests wait).
pub const STALL_MIN_NS: Nanos = SECONDS;

/// What kind of event a line is (the report colours by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A fault the run injected, or the settle phase undoing one.
    Fault,
    /// Leadership: elections, offline partitions.
    Leadership,
    /// ISR changes.
    Isr,
    /// High-watermark stalls.
    Stall,
    /// Log truncation and recovery.
    Log,
    /// Broker registration and fencing.
    Broker,
    /// Consumer group rebalances.
    Group,
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// When.
    pub at: Nanos,
    /// Who: a node or a partition.
    pub who: String,
    /// What, in words.
    pub text: String,
    /// Its kind.
    pub kind: Kind,
}

/// The timeline of a finished run.
pub fn lines(outcome: &Outcome) -> Vec<Line> {
    let mut out = Vec::new();
    for f in &outcome.faults {
        out.push(Line {
            at: f.at_ns,
            who: f.target.clone(),
            text: format!("{}: {}", f.kind, f.detail),
            kind: Kind::Fault,
        });
    }
    for (at, event) in &outcome.control_events {
        let (who, text) = match event {
            ControlEvent::Registered { broker, epoch } => (
                broker,
                format!("registered with broker epoch {epoch} (fenced until caught up)"),
            ),
            ControlEvent::Fenced { broker } => (broker, "fenced (session expired)".to_owned()),
            ControlEvent::Unfenced { broker } => (broker, "unfenced (caught up)".to_owned()),
            ControlEvent::ControlledShutdown { broker } => (
                broker,
                "CONTROLLED_SHUTDOWN: asked to shut down (wantShutDown); its leaderships move and it leaves every ISR".to_owned(),
            ),
            ControlEvent::ShutdownNow { broker } => (
                broker,
                "SHUTDOWN_NOW: shutdown granted (shouldShutDown), fenced".to_owned(),
            ),
            ControlEvent::ShutdownDetected {
                broker,
                epoch,
                clean: true,
            } => (
                broker,
                format!("restarted after a clean shutdown (its marker names broker epoch {epoch})"),
            ),
            ControlEvent::ShutdownDetected {
                broker,
                epoch,
                clean: false,
            } => (
                broker,
                format!("restarted after an unclean shutdown (no clean shutdown marker naming broker epoch {epoch}): it leaves every ISR and ELR (KIP-966)"),
            ),
            // The committed partition change says it, with the epoch.
            ControlEvent::UncleanElection { .. } => continue,
        };
        out.push(Line {
            at: *at,
            who: format!("broker-{who}"),
            text,
            kind: Kind::Broker,
        });
    }
    partition_changes(outcome, &mut out);
    rebalances(outcome, &mut out);
    for e in &outcome.history.events {
        if let (What::Shutdown(text), None) = (&e.what, &e.partition) {
            // The broker's own steps (the controller's are control events).
            if !text.starts_with("the controller") {
                out.push(Line {
                    at: e.at,
                    who: e.node.clone(),
                    text: text.clone(),
                    kind: Kind::Broker,
                });
            }
            continue;
        }
        let Some(part) = e.partition.as_deref() else {
            continue;
        };
        let text = match &e.what {
            What::Truncated { to_offset, records } => {
                format!("truncated {part} to offset {to_offset} ({records} records removed)")
            }
            What::Recovered {
                log_end_offset,
                clean: false,
            } => format!("recovered {part} from its disk to log end offset {log_end_offset}"),
            What::Recovered {
                log_end_offset,
                clean: true,
            } => format!(
                "loaded {part} from its disk without recovery (clean shutdown): log end offset {log_end_offset}"
            ),
            What::SegmentsDeleted {
                segments,
                log_start_offset,
            } => format!(
                "deleted {segments} segment(s) of {part} by retention: log start offset {log_start_offset}"
            ),
            What::Cleaned {
                records_removed,
                first_dirty_offset,
            } => format!(
                "cleaned {part}: {records_removed} records removed by compaction, clean up to offset {first_dirty_offset}"
            ),
            What::Admin(text) => text.clone(),
            What::OffsetsExpired { .. } | What::PartitionDeleted { .. } => e.text(None),
            _ => continue,
        };
        out.push(Line {
            at: e.at,
            who: e.node.clone(),
            text,
            kind: Kind::Log,
        });
    }
    out.extend(stalls(&outcome.samples));
    // Faults first at one instant: they cause what follows them.
    out.sort_by_key(|l| (l.at, l.kind != Kind::Fault));
    out
}

/// Elections, ISR and ELR changes and offline partitions from the
/// committed metadata.
fn partition_changes(outcome: &Outcome, out: &mut Vec<Line>) {
    type Seen = (Option<u32>, i32, Vec<u32>, Vec<u32>);
    let mut last: BTreeMap<&str, Seen> = BTreeMap::new();
    for e in &outcome.history.events {
        let What::PartitionChange {
            leader,
            leader_epoch,
            isr,
            elr,
            unclean,
            created,
        } = &e.what
        else {
            continue;
        };
        let Some(part) = e.partition.as_deref() else {
            continue;
        };
        let elr_text = if elr.is_empty() {
            String::new()
        } else {
            format!(", ELR [{}]", id_list(elr))
        };
        let isr_text = format!("ISR [{}]{elr_text}", id_list(isr));
        let before = last.insert(part, (*leader, *leader_epoch, isr.clone(), elr.clone()));
        let (text, kind) = match (before, leader) {
            (_, _) if *created => (
                format!(
                    "created: leader broker {}, leader epoch {leader_epoch}, {isr_text}",
                    leader.map_or("none".to_owned(), |l| l.to_string())
                ),
                Kind::Leadership,
            ),
            (_, None) => (
                format!("offline: no leader (leader epoch {leader_epoch}, {isr_text})"),
                Kind::Leadership,
            ),
            (Some((old, old_epoch, _, old_elr)), Some(l))
                if old != Some(*l) || old_epoch != *leader_epoch =>
            {
                let how = if *unclean {
                    "unclean election (from outside the ISR): "
                } else if old_elr.contains(l) {
                    "election (from the ELR, KIP-966): "
                } else {
                    "election: "
                };
                (
                    format!("{how}broker {l} leads in leader epoch {leader_epoch}, {isr_text}"),
                    Kind::Leadership,
                )
            }
            (Some((_, _, old_isr, old_elr)), Some(_)) if old_isr == *isr && old_elr != *elr => {
                (format!("ELR now [{}]", id_list(elr)), Kind::Isr)
            }
            (Some((_, _, old_isr, _)), Some(_)) if old_isr == *isr => (
                format!(
                    "LeaderRecoveryState {}",
                    if *unclean { "RECOVERING" } else { "RECOVERED" }
                ),
                Kind::Leadership,
            ),
            (Some((_, _, old_isr, _)), Some(_)) => {
                let verb = if isr.len() < old_isr.len() {
                    "shrank"
                } else if isr.len() > old_isr.len() {
                    "expanded"
                } else {
                    "changed"
                };
                (
                    format!("ISR {verb} to [{}]{elr_text}", id_list(isr)),
                    Kind::Isr,
                )
            }
            (None, Some(l)) => (
                format!("broker {l} leads in leader epoch {leader_epoch}, {isr_text}"),
                Kind::Leadership,
            ),
        };
        out.push(Line {
            at: e.at,
            who: part.to_owned(),
            text,
            kind,
        });
    }
}

/// One line per group generation: who owns what, at the first member's join.
fn rebalances(outcome: &Outcome, out: &mut Vec<Line>) {
    // Keyed by incarnation too: a deleted group starts again at generation 1.
    let mut generations: BTreeMap<(&str, u32, i32), (Nanos, Vec<String>)> = BTreeMap::new();
    let mut incarnation: BTreeMap<&str, u32> = BTreeMap::new();
    for e in &outcome.history.events {
        let (group, generation, partitions) = match &e.what {
            What::Assigned {
                group,
                generation,
                partitions,
            } => (group, generation, partitions),
            What::GroupDeleted { group } => {
                *incarnation.entry(group.as_str()).or_default() += 1;
                out.push(Line {
                    at: e.at,
                    who: format!("group {group}"),
                    text: format!("deleted by {} (Empty, no committed offset left)", e.node),
                    kind: Kind::Group,
                });
                continue;
            }
            _ => continue,
        };
        let nth = incarnation.get(group.as_str()).copied().unwrap_or(0);
        let entry = generations
            .entry((group.as_str(), nth, *generation))
            .or_insert_with(|| (e.at, Vec::new()));
        entry
            .1
            .push(format!("{} [{}]", e.node, id_list(partitions)));
    }
    for ((group, _, generation), (at, members)) in generations {
        out.push(Line {
            at,
            who: format!("group {group}"),
            text: format!("generation {generation}: {}", members.join(", ")),
            kind: Kind::Group,
        });
    }
}

/// A stretch where a partition's leader held its high watermark still while
/// its log end offset was ahead of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// First sample of it.
    pub start: Nanos,
    /// The sample that ended it (or the last one).
    pub end: Nanos,
    /// The leader's broker.
    pub leader: u32,
    /// Its leader epoch.
    pub leader_epoch: i32,
    /// The high watermark it held.
    pub high_watermark: u64,
    /// The leader's log end offset when it began.
    pub log_end_offset: u64,
}

/// The stalls of at least [`STALL_MIN_NS`] in one partition's samples.
pub fn stall_spans(all: &[PartitionSample]) -> Vec<Stall> {
    let mut out = Vec::new();
    let mut open: Option<Stall> = None;
    let mut close = |open: &mut Option<Stall>, end: Nanos| {
        if let Some(mut stall) = open.take() {
            if end - stall.start >= STALL_MIN_NS {
                stall.end = end;
                out.push(stall);
            }
        }
    };
    for s in all {
        let leader = s
            .replicas
            .iter()
            .filter(|r| r.leader && !r.paused)
            .max_by_key(|r| r.leader_epoch);
        let behind = leader.filter(|l| l.log_end_offset > l.high_watermark);
        match (behind, &open) {
            (Some(l), Some(o))
                if l.broker == o.leader
                    && l.leader_epoch == o.leader_epoch
                    && l.high_watermark == o.high_watermark => {}
            (Some(l), _) => {
                close(&mut open, s.at);
                open = Some(Stall {
                    start: s.at,
                    end: s.at,
                    leader: l.broker,
                    leader_epoch: l.leader_epoch,
                    high_watermark: l.high_watermark,
                    log_end_offset: l.log_end_offset,
                });
            }
            (None, _) => close(&mut open, s.at),
        }
    }
    if let Some(last) = all.last() {
        close(&mut open, last.at);
    }
    out
}

impl Stall {
    /// The stall in words.
    pub fn text(&self) -> String {
        format!(
            "high watermark stalled at {} for {} (leader broker {} in leader epoch {}, log end offset {}): acks=all writes wait for the ISR",
            self.high_watermark,
            sim::format_nanos(self.end - self.start),
            self.leader,
            self.leader_epoch,
            self.log_end_offset
        )
    }
}

/// The high-watermark stalls of every partition, as timeline lines.
pub fn stalls(samples: &Samples) -> Vec<Line> {
    samples
        .partitions
        .iter()
        .flat_map(|(part, all)| {
            stall_spans(all).into_iter().map(move |stall| Line {
                at: stall.start,
                who: part.clone(),
                text: stall.text(),
                kind: Kind::Stall,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::samples::ReplicaSample;

    fn leader(hw: u64, leo: u64) -> ReplicaSample {
        ReplicaSample {
            broker: 1,
            paused: false,
            leader: true,
            leader_epoch: 0,
            log_end_offset: leo,
            high_watermark: hw,
            last_stable_offset: hw,
            recovery_point: 0,
        }
    }

    /// Samples every 100 ms of one partition whose leader has these (hw, leo).
    fn samples(points: &[(u64, u64)]) -> Samples {
        let all = points
            .iter()
            .enumerate()
            .map(|(i, &(hw, leo))| PartitionSample {
                at: i as u64 * 100 * sim::MILLIS,
                replicas: vec![leader(hw, leo)],
            })
            .collect();
        Samples {
            interval_ns: 100 * sim::MILLIS,
            partitions: BTreeMap::from([("orders-0".to_owned(), all)]),
        }
    }

    #[test]
    fn a_high_watermark_held_while_the_log_grows_is_a_stall() {
        let mut points = vec![(5, 5), (10, 10)];
        points.extend((0..15).map(|i| (10, 12 + i)));
        points.push((40, 40));
        let lines = stalls(&samples(&points));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].at, 200 * sim::MILLIS);
        assert!(
            lines[0]
                .text
                .starts_with("high watermark stalled at 10 for 1.500s"),
            "{}",
            lines[0].text
        );
    }

    #[test]
    fn no_stall_when_it_keeps_up_or_nothing_is_waiting() {
        let moving: Vec<(u64, u64)> = (0..30).map(|i| (i * 10, i * 10 + 3)).collect();
        assert!(stalls(&samples(&moving)).is_empty());
        let idle: Vec<(u64, u64)> = (0..30).map(|_| (10, 10)).collect();
        assert!(stalls(&samples(&idle)).is_empty());
        let short: Vec<(u64, u64)> = (0..8).map(|i| (10, 11 + i)).collect();
        assert!(stalls(&samples(&short)).is_empty(), "0.7 s is not a stall");
    }
}
