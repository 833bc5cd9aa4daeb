//! The active controller's volatile state (Kafka's QuorumController while it
//! leads): the metadata image including its own uncommitted records, the
//! records it has yet to propose, and Kafka's control managers —
//! [`ClusterControlManager`] (registrations, heartbeats, fencing),
//! [`ReplicationControlManager`] (topics, elections, AlterPartition) and
//! [`ProducerIdControlManager`] (producer id blocks). It is built when the
//! controller claims leadership, from the committed image, and dropped
//! when it renounces; nothing here survives a crash.

use rand_chacha::ChaCha8Rng;
use sim::{Nanos, MILLIS};

use super::cluster_control::{BrokerControlState, ClusterControlManager};
use super::producer_id_control::ProducerIdControlManager;
use super::replication_control::ReplicationControlManager;
use super::rpc::{ControllerRequest, ControllerResponse, NewFlag};
use crate::metadata::{MetadataImage, MetadataRecord};

/// The controller's configs, with Kafka's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`, in nanoseconds.
    pub session_timeout_ns: Nanos,
    /// The cluster's `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
    /// The quorum's timing (`controller.quorum.*`).
    pub raft: crate::controller::raft::RaftConfig,
    /// An ISR shrink bumps the leader epoch (metadata versions before 3.6;
    /// KAFKA-15021, `[protocol] leader_epoch_bump_on_isr_shrink`).
    pub leader_epoch_bump_on_isr_shrink: bool,
    /// KIP-841 (3.3, `[protocol] fenced_replicas_kept_out_of_isr`): a
    /// broker in controlled shutdown is registered so (metadata version
    /// 3.3-IV3), and AlterPartition refuses fenced members and those in
    /// controlled shutdown (INELIGIBLE_REPLICA).
    pub fenced_replicas_kept_out_of_isr: bool,
    /// KIP-835 (3.3, `[protocol] metadata_noop_records`): the active
    /// controller appends a NoOpRecord every `metadata.max.idle.interval.ms`.
    pub metadata_noop_records: bool,
    /// KAFKA-13959 (3.3, `[protocol] unfence_at_registration_offset`): a
    /// fenced broker is unfenced once its metadata offset reached its own
    /// RegisterBrokerRecord; off (before 3.3), once it reached the last
    /// committed offset (of a data record) this controller replayed.
    pub unfence_at_registration_offset: bool,
    /// `delete.topic.enable`: DeleteTopics is answered
    /// TOPIC_DELETION_DISABLED without it.
    pub delete_topic_enable: bool,
    /// Eligible leader replicas (KIP-966; `[protocol]
    /// eligible_leader_replicas`, `eligible.leader.replicas.version` 1).
    pub eligible_leader_replicas: bool,
    /// The cluster's `min.insync.replicas`, which the ELR is kept against.
    pub min_insync_replicas: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            session_timeout_ns: 9000 * MILLIS,
            unclean_leader_election: false,
            raft: crate::controller::raft::RaftConfig::default(),
            leader_epoch_bump_on_isr_shrink: false,
            fenced_replicas_kept_out_of_isr: true,
            metadata_noop_records: true,
            unfence_at_registration_offset: true,
            delete_topic_enable: true,
            eligible_leader_replicas: false,
            min_insync_replicas: 1,
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
    /// A broker that asked to shut down while leading partitions entered
    /// CONTROLLED_SHUTDOWN: its leaderships move and it leaves every ISR.
    ControlledShutdown {
        /// Kafka node id.
        broker: u32,
    },
    /// A broker that asked to shut down was granted it (SHUTDOWN_NOW:
    /// fenced, the answer says `shouldShutDown`).
    ShutdownNow {
        /// Kafka node id.
        broker: u32,
    },
    /// With eligible leader replicas, a new incarnation of a broker
    /// registered: its clean shutdown marker named the epoch of the
    /// registration it replaces (clean), or did not (an unclean shutdown:
    /// it leaves every ISR and ELR, KIP-966).
    ShutdownDetected {
        /// Kafka node id.
        broker: u32,
        /// The broker epoch of the registration it replaces.
        epoch: u64,
        /// The marker named that epoch.
        clean: bool,
    },
    /// A leader was elected from outside the ISR.
    UncleanElection {
        /// The partition, as `topic-N`.
        partition: String,
        /// The new leader.
        leader: u32,
    },
}

/// The records the active controller's managers make: each takes the next
/// log offset and applies at once to the image, which therefore holds the
/// committed metadata plus this controller's own uncommitted records (what
/// Kafka's managers keep in their timeline data structures).
#[derive(Debug)]
pub struct MetadataRecords {
    /// Committed image plus this controller's own records.
    pub(super) image: MetadataImage,
    /// The log offset the next record gets.
    pub(super) next_offset: u64,
    /// Records made but not yet handed to Raft.
    records: Vec<(u64, MetadataRecord)>,
    /// State changes made, for observers.
    events: Vec<ControlEvent>,
}

impl MetadataRecords {
    /// Makes a record: it takes the next offset and applies to the image at once.
    pub(super) fn emit(&mut self, record: MetadataRecord) -> u64 {
        let offset = self.next_offset;
        self.next_offset += 1;
        self.image.apply(offset, &record);
        self.records.push((offset, record));
        offset
    }

    /// Tells observers of a state change.
    pub(super) fn event(&mut self, event: ControlEvent) {
        self.events.push(event);
    }
}

/// The active controller (Kafka's QuorumController while it leads): the
/// records its managers make, and the managers, each owning its state.
#[derive(Debug)]
pub struct ActiveController {
    /// Kafka's `lastCommittedOffset`: the offset of the last committed
    /// data record (None: none yet, Kafka's -1).
    last_committed_offset: Option<u64>,
    log: MetadataRecords,
    cluster: ClusterControlManager,
    replication: ReplicationControlManager,
    producer_ids: ProducerIdControlManager,
}

impl ActiveController {
    /// Claims leadership at `now` with the committed image; `next_offset` is the log end.
    pub fn claim(
        config: ControllerConfig,
        image: MetadataImage,
        next_offset: u64,
        now: Nanos,
    ) -> Self {
        Self {
            last_committed_offset: None,
            cluster: ClusterControlManager::new(
                config.session_timeout_ns,
                &image,
                now,
                config.fenced_replicas_kept_out_of_isr,
            )
            .with_unfence_at_registration_offset(config.unfence_at_registration_offset),
            replication: ReplicationControlManager::new(
                config.unclean_leader_election,
                config.leader_epoch_bump_on_isr_shrink,
                config.delete_topic_enable,
            )
            .with_fenced_replicas_kept_out_of_isr(config.fenced_replicas_kept_out_of_isr)
            .with_eligible_leader_replicas(
                config.eligible_leader_replicas,
                config.min_insync_replicas,
            ),
            producer_ids: ProducerIdControlManager::new(&image),
            log: MetadataRecords {
                image,
                next_offset,
                records: Vec::new(),
                events: Vec::new(),
            },
        }
    }

    /// The image with this controller's own records applied.
    pub fn image(&self) -> &MetadataImage {
        &self.log.image
    }

    /// Records commit up to the data record at `offset` (Kafka's
    /// `lastCommittedOffset`, set in `handleCommit`).
    pub fn set_last_committed_offset(&mut self, offset: Option<u64>) {
        self.last_committed_offset = offset;
    }

    /// Makes a record of the controller's own (a NoOpRecord).
    pub(super) fn emit(&mut self, record: MetadataRecord) -> u64 {
        self.log.emit(record)
    }

    /// Takes the records made since the last call, in offset order.
    pub fn take_records(&mut self) -> Vec<(u64, MetadataRecord)> {
        std::mem::take(&mut self.log.records)
    }

    /// Takes the state changes made since the last call.
    pub fn take_events(&mut self) -> Vec<ControlEvent> {
        std::mem::take(&mut self.log.events)
    }

    /// Handles a request at `now`; records it made are in `take_records`.
    /// Where one manager's change moves another's state (a fenced broker's
    /// partitions), this is where they meet, as in Kafka's QuorumController.
    pub fn handle(
        &mut self,
        now: Nanos,
        rng: &mut ChaCha8Rng,
        request: &ControllerRequest,
    ) -> ControllerResponse {
        let log = &mut self.log;
        match request {
            ControllerRequest::BrokerRegistration {
                broker_id,
                incarnation_id,
                previous_broker_epoch,
            } => {
                let replication = &mut self.replication;
                let elr = replication.eligible_leader_replicas();
                let (response, replaced_unfenced) = self.cluster.register_broker(
                    log,
                    now,
                    *broker_id,
                    *incarnation_id,
                    previous_broker_epoch.0,
                    &mut |log, clean| {
                        // With eligible leader replicas a shutdown detected
                        // here moves the broker's partitions first (Kafka's
                        // `handleBrokerShutdown`).
                        if elr {
                            if let Some(old) = log.image.brokers.get(broker_id) {
                                let epoch = old.epoch;
                                log.event(ControlEvent::ShutdownDetected {
                                    broker: *broker_id,
                                    epoch,
                                    clean,
                                });
                            }
                            replication.handle_broker_shutdown(log, *broker_id, clean);
                        }
                    },
                );
                if replaced_unfenced && !elr {
                    // The old registration led partitions: they move as on fencing.
                    self.replication.handle_broker_fenced(log, *broker_id);
                }
                response
            }
            ControllerRequest::BrokerHeartbeat {
                broker_id,
                broker_epoch,
                current_metadata_offset,
                want_fence,
                want_shut_down,
            } => {
                let (response, change) = self.cluster.broker_heartbeat(
                    log,
                    now,
                    *broker_id,
                    *broker_epoch,
                    *current_metadata_offset,
                    self.last_committed_offset,
                    *want_fence,
                    want_shut_down.0,
                );
                match change {
                    Some(BrokerControlState::Fenced | BrokerControlState::ShutdownNow) => {
                        self.replication.handle_broker_fenced(log, *broker_id)
                    }
                    Some(BrokerControlState::Unfenced) => {
                        self.replication.handle_broker_unfenced(log)
                    }
                    Some(BrokerControlState::ControlledShutdown) => self
                        .replication
                        .handle_broker_in_controlled_shutdown(log, *broker_id),
                    None => {}
                }
                if let ControllerResponse::BrokerHeartbeat {
                    in_controlled_shutdown: NewFlag(true),
                    ..
                } = response
                {
                    // Kafka's `processBatchEndOffset`: the offset of the
                    // last record this heartbeat made.
                    let end = log.next_offset.saturating_sub(1);
                    self.cluster
                        .maybe_update_controlled_shutdown_offset(*broker_id, end);
                }
                let is_fenced = !log.image.is_unfenced(*broker_id);
                match response {
                    ControllerResponse::BrokerHeartbeat {
                        error,
                        is_caught_up,
                        in_controlled_shutdown,
                        should_shut_down,
                        ..
                    } => ControllerResponse::BrokerHeartbeat {
                        error,
                        is_caught_up,
                        is_fenced: error.is_some() || is_fenced,
                        in_controlled_shutdown,
                        should_shut_down,
                    },
                    other => other,
                }
            }
            ControllerRequest::CreateTopics { topics } => {
                self.replication.create_topics(log, rng, topics)
            }
            ControllerRequest::CreatePartitions { topics } => {
                self.replication.create_partitions(log, topics)
            }
            ControllerRequest::DeleteTopics { names } => self.replication.delete_topics(log, names),
            ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => self
                .producer_ids
                .allocate_producer_ids(log, *broker_id, *broker_epoch),
            ControllerRequest::AlterPartition {
                broker_id,
                broker_epoch,
                topic_id,
                partition_id,
                leader_epoch,
                new_isr_with_epochs,
                partition_epoch,
            } => self.replication.alter_partition(
                log,
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
        for broker in self.cluster.expired_sessions(&self.log.image, now) {
            if self.cluster.fence_broker(&mut self.log, broker) {
                self.replication.handle_broker_fenced(&mut self.log, broker);
            }
        }
    }
}
