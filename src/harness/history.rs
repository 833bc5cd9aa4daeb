//! The run's protocol history: what happened to partitions and brokers, in
//! simulated-time order. Committed metadata (leaders, epochs, ISRs) is
//! replayed from the controllers' committed entries; brokers report their
//! elections, truncations and log recovery; the harness adds the faults and
//! what each broker's logs held when it went down. Causal explanations and
//! coverage counts read it.

use sim::Nanos;

use crate::controller::raft::{LogEntry, Record};
use crate::metadata::{LeaderRecoveryState, MetadataImage, MetadataRecord};
use crate::protocol::TopicIdPartition;

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// Committed metadata set a partition's leader and ISR.
    PartitionChange {
        /// The leader (None: offline).
        leader: Option<u32>,
        /// Its leader epoch.
        leader_epoch: i32,
        /// The ISR.
        isr: Vec<u32>,
        /// The eligible leader replicas (KIP-966; empty without ELR).
        elr: Vec<u32>,
        /// The leader came from outside the ISR (RECOVERING).
        unclean: bool,
        /// The partition was created.
        created: bool,
    },
    /// A broker became the partition's leader at its log end.
    BecameLeader {
        /// The leader epoch.
        leader_epoch: i32,
        /// Its log end offset then.
        log_end_offset: u64,
    },
    /// A follower cut its log.
    Truncated {
        /// The new log end offset.
        to_offset: u64,
        /// Records removed.
        records: u64,
    },
    /// Retention deleted the oldest segments of a broker's replica.
    SegmentsDeleted {
        /// How many segments went.
        segments: u32,
        /// The replica's log start offset after.
        log_start_offset: u64,
    },
    /// An `[[admin]]` operation on the partition's topic ended: what came of it.
    Admin(String),
    /// A broker booted and recovered the partition's log from its disk.
    Recovered {
        /// What the disk gave back.
        log_end_offset: u64,
        /// The boot found the clean shutdown marker: the log was loaded
        /// without recovery.
        clean: bool,
    },
    /// A crash or power loss hit a broker whose replica ended here.
    Down {
        /// `crash`, `power_loss` or `shutdown` (the broker stopped after
        /// flushing every log).
        fault: String,
        /// The replica's log end offset just before.
        log_end_offset: u64,
        /// Its high watermark then.
        high_watermark: u64,
    },
    /// A step of a broker's controlled shutdown or of its restart after
    /// one (SIGTERM, CONTROLLED_SHUTDOWN, shouldShutDown, the clean
    /// shutdown marker), in words.
    Shutdown(String),
    /// The controller fenced the broker (session expired).
    Fenced,
    /// The controller unfenced the broker.
    Unfenced,
    /// A consumer joined a generation of its group owning these partitions
    /// of its topic.
    Assigned {
        /// The group.
        group: String,
        /// The generation.
        generation: i32,
        /// The partitions it owns.
        partitions: Vec<u32>,
    },
    /// A fault the run executed.
    Fault {
        /// Its kind.
        kind: String,
        /// What the kernel said it did.
        detail: String,
        /// It hit a broker (so it concerns every partition).
        hit_broker: bool,
    },
    /// The log cleaner compacted a broker's replica.
    Cleaned {
        /// Records it removed.
        records_removed: u64,
        /// Where the dirty part starts now.
        first_dirty_offset: u64,
    },
    /// The group coordinator expired a group's committed offset of the
    /// partition (`offsets.retention.minutes`).
    OffsetsExpired {
        /// The group.
        group: String,
    },
    /// The group coordinator deleted an Empty group with no committed offset left.
    GroupDeleted {
        /// The group.
        group: String,
    },
    /// The broker deleted its replica of a deleted topic's partition.
    PartitionDeleted {
        /// The replica's log end offset then.
        log_end_offset: u64,
    },
}

/// One entry of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: Nanos,
    /// Where: a node name, or the partition for committed metadata.
    pub node: String,
    /// The partition it concerns, if one.
    pub partition: Option<String>,
    /// What.
    pub what: What,
}

fn brokers(ids: &[u32]) -> String {
    format!("[{}]", crate::check::id_list(ids))
}

impl Event {
    /// The event in words; `offset` is the offset at stake, if one.
    pub fn text(&self, offset: Option<u64>) -> String {
        let part = self.partition.as_deref().unwrap_or("");
        match &self.what {
            What::Admin(text) => text.clone(),
            What::PartitionDeleted { log_end_offset } => {
                format!("deleted its replica of {part} (log end offset {log_end_offset}): the topic was deleted")
            }
            What::PartitionChange {
                leader,
                leader_epoch,
                isr,
                elr,
                unclean,
                created,
            } => {
                let leader = leader.map_or("none (offline)".to_owned(), |l| format!("broker {l}"));
                let elr = if elr.is_empty() {
                    String::new()
                } else {
                    format!(", ELR {}", brokers(elr))
                };
                let how = if offset.is_some() {
                    ""
                } else if *created {
                    "created: "
                } else if *unclean {
                    "unclean election: "
                } else {
                    ""
                };
                format!(
                    "{how}leader {leader}, leader epoch {leader_epoch}, ISR {}{elr}",
                    brokers(isr)
                )
            }
            What::BecameLeader {
                leader_epoch,
                log_end_offset,
            } => {
                let has = match offset {
                    Some(o) if *log_end_offset <= o => format!(" (without offset {o})"),
                    Some(o) => format!(" (holding offset {o})"),
                    None => String::new(),
                };
                format!("became leader of {part} in epoch {leader_epoch} at log end offset {log_end_offset}{has}")
            }
            What::Truncated { to_offset, records } => {
                let erased = match offset {
                    Some(o) if *to_offset <= o && o < to_offset + records => {
                        format!(", erasing offset {o}")
                    }
                    _ => String::new(),
                };
                format!(
                    "truncated {part} to offset {to_offset} ({records} records removed{erased})"
                )
            }
            What::SegmentsDeleted {
                segments,
                log_start_offset,
            } => {
                let removed = match offset {
                    Some(o) if o < *log_start_offset => format!(", removing offset {o}"),
                    _ => String::new(),
                };
                format!("deleted {segments} segment(s) of {part} by retention: log start offset {log_start_offset}{removed}")
            }
            What::Recovered {
                log_end_offset,
                clean,
            } => {
                let lost = match offset {
                    Some(o) if *log_end_offset <= o => {
                        format!(": offset {o} was not on its disk")
                    }
                    Some(o) => format!(": offset {o} was on its disk"),
                    None => String::new(),
                };
                if *clean {
                    return format!("restarted after a clean shutdown and loaded {part} from its disk without recovery: log end offset {log_end_offset}{lost}");
                }
                format!("restarted and recovered {part} from its disk to log end offset {log_end_offset}{lost}")
            }
            What::Down {
                fault,
                log_end_offset,
                high_watermark,
            } => {
                let cache = if fault == "power_loss" {
                    "; what was not yet flushed is only in the page cache, which the power loss drops"
                } else if fault == "shutdown" {
                    "; every log was flushed before it stopped"
                } else {
                    "; the page cache survives a crash"
                };
                format!("{fault}: its replica of {part} ended at offset {log_end_offset} (high watermark {high_watermark}){cache}")
            }
            What::Cleaned {
                records_removed,
                first_dirty_offset,
            } => {
                let removed = match offset {
                    Some(o) if o < *first_dirty_offset => {
                        format!(" (offset {o} was in the cleaned part)")
                    }
                    _ => String::new(),
                };
                format!("cleaned {part}: {records_removed} records removed by compaction, clean up to offset {first_dirty_offset}{removed}")
            }
            What::Shutdown(text) => text.clone(),
            What::Fenced => "fenced by the controller (session expired)".to_owned(),
            What::Unfenced => "unfenced by the controller".to_owned(),
            What::Assigned {
                group,
                generation,
                partitions,
            } => format!(
                "joined group {group} in generation {generation}, owning partitions [{}]",
                crate::check::id_list(partitions)
            ),
            What::Fault { kind, detail, .. } => format!("{kind}: {detail}"),
            What::GroupDeleted { group } => {
                format!("deleted group {group} (Empty, no committed offset left)")
            }
            What::OffsetsExpired { group } => format!(
                "expired group {group}'s committed offset of {part} (offsets.retention.minutes)"
            ),
        }
    }
}

/// The history of a run.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every event, in the order observed (sorted by time by [`History::finish`]).
    pub events: Vec<Event>,
    /// Per partition and leader broker: (when, high watermark) at each
    /// advance (16 bytes each: a long run's leaders advance millions of times).
    high_watermarks: std::collections::BTreeMap<(TopicIdPartition, u32), Vec<(Nanos, u64)>>,
    /// The partitions of `high_watermarks` by name (`topic-N`).
    high_watermark_names: std::collections::BTreeMap<String, TopicIdPartition>,
    image: MetadataImage,
    next_offset: u64,
}

fn partition_of(record: &MetadataRecord) -> Option<(crate::metadata::Uuid, u32, bool)> {
    match record {
        MetadataRecord::PartitionRecord {
            topic_id,
            partition_id,
            ..
        } => Some((*topic_id, *partition_id, true)),
        MetadataRecord::PartitionChangeRecord {
            topic_id,
            partition_id,
            ..
        } => Some((*topic_id, *partition_id, false)),
        _ => None,
    }
}

impl History {
    /// A committed metadata entry, as a controller reports it (each entry is
    /// applied once, the first time any controller reports it).
    pub fn committed(&mut self, at: Nanos, entry: &LogEntry) {
        if entry.offset < self.next_offset {
            return;
        }
        self.next_offset = entry.offset + 1;
        let Record::Data(bytes) = &entry.record else {
            return;
        };
        let Some(record) = MetadataRecord::decode(bytes) else {
            return;
        };
        self.image.apply(entry.offset, &record);
        let Some((topic_id, index, created)) = partition_of(&record) else {
            return;
        };
        let Some(topic) = self.image.topic_by_id(topic_id) else {
            return;
        };
        // Internal topics (__consumer_offsets) are not the workload's story.
        if topic.name.starts_with("__") {
            return;
        }
        let Some(p) = topic.partitions.get(&index) else {
            return;
        };
        let partition = format!("{}-{index}", topic.name);
        let what = What::PartitionChange {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            isr: p.isr.clone(),
            elr: p.elr.clone(),
            unclean: p.leader_recovery_state == LeaderRecoveryState::Recovering,
            created,
        };
        // A change of something else (e.g. only the partition epoch) is not news.
        if self.state_at(&partition, Nanos::MAX) == Some(&what) {
            return;
        }
        self.events.push(Event {
            at,
            node: partition.clone(),
            partition: Some(partition),
            what,
        });
    }

    /// A leader advanced a high watermark.
    /// `name` shows the partition (`topic-N`); it is called once per
    /// partition and broker.
    pub fn high_watermark(
        &mut self,
        at: Nanos,
        broker: u32,
        partition: TopicIdPartition,
        name: impl FnOnce() -> String,
        hw: u64,
    ) {
        let names = &mut self.high_watermark_names;
        let advances = self
            .high_watermarks
            .entry((partition, broker))
            .or_insert_with(|| {
                names.insert(name(), partition);
                Vec::new()
            });
        crate::check::push_sparingly(advances, (at, hw));
    }

    /// The high watermark `broker` had reached for the partition at `at`.
    pub fn high_watermark_at(&self, partition: &str, broker: u32, at: Nanos) -> Option<u64> {
        let tp = self.high_watermark_names.get(partition)?;
        let all = self.high_watermarks.get(&(*tp, broker))?;
        let upto = all.partition_point(|e| e.0 <= at);
        upto.checked_sub(1).map(|last| all[last].1)
    }

    /// Adds an event.
    pub fn push(&mut self, at: Nanos, node: String, partition: Option<String>, what: What) {
        self.events.push(Event {
            at,
            node,
            partition,
            what,
        });
    }

    /// Orders the events by time (stable: same-time events keep their order).
    pub fn finish(&mut self) {
        // A fault comes before what it caused at the same instant.
        self.events
            .sort_by_key(|e| (e.at, !matches!(e.what, What::Fault { .. })));
    }

    /// The partition's committed state at `at`: the newest change at or before it.
    pub fn state_at(&self, partition: &str, at: Nanos) -> Option<&What> {
        self.events
            .iter()
            .rev()
            .filter(|e| e.at <= at && e.partition.as_deref() == Some(partition))
            .find(|e| matches!(e.what, What::PartitionChange { .. }))
            .map(|e| &e.what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicId;

    #[test]
    fn the_high_watermark_at_a_moment_is_that_brokers_last_advance_by_then() {
        let mut h = History::default();
        let tp = TopicIdPartition::new(TopicId(0), 0);
        let name = || "orders-0".to_owned();
        for (at, broker, hw) in [(10, 1, 5), (20, 2, 7), (30, 1, 9), (40, 2, 11)] {
            h.high_watermark(at, broker, tp, name, hw);
        }
        assert_eq!(h.high_watermark_at("orders-0", 1, 9), None, "before any");
        assert_eq!(h.high_watermark_at("orders-0", 1, 10), Some(5));
        assert_eq!(h.high_watermark_at("orders-0", 1, 35), Some(9));
        assert_eq!(h.high_watermark_at("orders-0", 2, 35), Some(7));
        assert_eq!(h.high_watermark_at("orders-0", 2, 99), Some(11));
        assert_eq!(
            h.high_watermark_at("orders-0", 3, 99),
            None,
            "no such leader"
        );
        assert_eq!(h.high_watermark_at("orders-1", 1, 99), None);
    }
}
