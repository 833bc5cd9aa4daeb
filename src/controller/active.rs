//! The active controller's volatile state (Kafka's QuorumController while it
//! leads): the metadata image including its own uncommitted records, the
//! broker sessions, and the records it has yet to propose. It is built when
//! the controller claims leadership, from the committed image, and dropped
//! when it renounces; nothing here survives a crash.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use sim::{Nanos, MILLIS};

use super::rpc::{ControllerRequest, ControllerResponse};
use crate::metadata::{MetadataImage, MetadataRecord};

/// The controller's configs, with Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`, in nanoseconds.
    pub session_timeout_ns: Nanos,
    /// The cluster's `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            session_timeout_ns: 9000 * MILLIS,
            unclean_leader_election: false,
        }
    }
}

/// A state change the active controller made, for the checkers and the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlEvent {
    /// A broker was fenced after its session expired.
    Fenced {
        /// Kafka node id.
        broker: u32,
    },
    /// A new incarnation of a broker registered (its old registration, fenced or not, is gone).
    Registered {
        /// Kafka node id.
        broker: u32,
        /// Its new broker epoch.
        epoch: u64,
    },
    /// A broker was unfenced.
    Unfenced {
        /// Kafka node id.
        broker: u32,
    },
    /// A leader was elected from outside the ISR.
    UncleanElection {
        /// The partition, as `topic-N`.
        partition: String,
        /// The new leader.
        leader: u32,
    },
}

/// The active controller.
#[derive(Debug)]
pub struct ActiveController {
    pub(super) config: ControllerConfig,
    /// Committed image plus this controller's own records.
    pub(super) image: MetadataImage,
    /// The log offset the next record gets.
    pub(super) next_offset: u64,
    /// Last heartbeat (or registration) per broker.
    pub(super) last_contact: BTreeMap<u32, Nanos>,
    /// Records made but not yet handed to Raft.
    pub(super) records: Vec<(u64, MetadataRecord)>,
    /// State changes made, for observers.
    pub(super) events: Vec<ControlEvent>,
}

impl ActiveController {
    /// Claims leadership at `now` with the committed image; `next_offset` is the log end.
    pub fn claim(
        config: ControllerConfig,
        image: MetadataImage,
        next_offset: u64,
        now: Nanos,
    ) -> Self {
        // As Kafka's BrokerHeartbeatManager on a new active controller: every
        // registered broker starts with a fresh session.
        let last_contact = image.brokers.keys().map(|&b| (b, now)).collect();
        Self {
            config,
            image,
            next_offset,
            last_contact,
            records: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The image with this controller's own records applied.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Makes a record: it takes the next offset and applies to the image at once.
    pub(super) fn emit(&mut self, record: MetadataRecord) -> u64 {
        let offset = self.next_offset;
        self.next_offset += 1;
        self.image.apply(offset, &record);
        self.records.push((offset, record));
        offset
    }

    /// Takes the records made since the last call, in offset order.
    pub fn take_records(&mut self) -> Vec<(u64, MetadataRecord)> {
        std::mem::take(&mut self.records)
    }

    /// Takes the state changes made since the last call.
    pub fn take_events(&mut self) -> Vec<ControlEvent> {
        std::mem::take(&mut self.events)
    }

    /// Handles a request at `now`; records it made are in `take_records`.
    pub fn handle(
        &mut self,
        now: Nanos,
        rng: &mut ChaCha8Rng,
        request: &ControllerRequest,
    ) -> ControllerResponse {
        match request {
            ControllerRequest::BrokerRegistration {
                broker_id,
                incarnation_id,
            } => self.register_broker(now, *broker_id, *incarnation_id),
            ControllerRequest::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                current_metadata_offset,
                want_fence,
            } => self.broker_heartbeat(
                now,
                *broker_id,
                *broker_epoch,
                *current_metadata_offset,
                *want_fence,
            ),
            ControllerRequest::CreateTopics { topics } => self.create_topics(rng, topics),
            ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => self.allocate_producer_ids(*broker_id, *broker_epoch),
            ControllerRequest::AlterPartition {
                broker_id,
                broker_epoch,
                topic_id,
                partition_id,
                leader_epoch,
                new_isr_with_epochs,
                partition_epoch,
            } => self.alter_partition(
                *broker_id,
                *broker_epoch,
                *topic_id,
                *partition_id,
                *leader_epoch,
                new_isr_with_epochs,
                *partition_epoch,
            ),
        }
    }

    /// Periodic work: fences brokers whose session expired.
    pub fn tick(&mut self, now: Nanos) {
        let expired: Vec<u32> = self
            .image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter(|b| {
                self.last_contact
                    .get(&b.id)
                    .is_none_or(|&t| now.saturating_sub(t) >= self.config.session_timeout_ns)
            })
            .map(|b| b.id)
            .collect();
        for broker in expired {
            self.fence_broker(broker);
        }
    }
}
