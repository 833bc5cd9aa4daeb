//! The controller's RPCs from brokers and admin clients (Kafka request names):
//! BrokerRegistration, BrokerHeartbeat, CreateTopics and AlterPartition.

use crate::errors::Errors;
use crate::metadata::Uuid;

/// A broker epoch an AlterPartition does not carry (Kafka's -1: the
/// request predates KIP-903, and the controller skips the epoch check).
pub const NO_BROKER_EPOCH: u64 = u64::MAX;

pub use crate::protocol::NewFlag;

/// The broker epoch a registering broker's clean shutdown marker names
/// (BrokerRegistrationRequest v2+ `PreviousBrokerEpoch`, KIP-966; -1 when
/// there was no marker). It is not part of the trace hash: ksim's first
/// traces predate it, and every run keeps its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviousBrokerEpoch(pub i64);

impl Default for PreviousBrokerEpoch {
    fn default() -> Self {
        Self(-1)
    }
}

impl std::hash::Hash for PreviousBrokerEpoch {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CreatableTopic {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub num_partitions: u32,
    /// Replicas per partition.
    pub replication_factor: u32,
    /// Topic configs set explicitly (Kafka name, value).
    pub configs: Vec<(String, String)>,
}

/// A request to the active controller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerRequest {
    /// A broker process registers (BrokerRegistrationRequest).
    BrokerRegistration {
        /// Kafka node id.
        broker_id: u32,
        /// Random id of this process incarnation.
        incarnation_id: Uuid,
        /// The broker epoch its clean shutdown marker named.
        previous_broker_epoch: PreviousBrokerEpoch,
    },
    /// A registered broker is alive (BrokerHeartbeatRequest).
    BrokerHeartbeat {
        /// Kafka node id.
        broker_id: u32,
        /// Its broker epoch.
        broker_epoch: u64,
        /// Metadata records below this offset are in its image.
        current_metadata_offset: u64,
        /// The broker asks to be fenced.
        want_fence: bool,
        /// The broker is in PENDING_CONTROLLED_SHUTDOWN and asks to shut
        /// down (`WantShutDown`).
        want_shut_down: NewFlag,
    },
    /// Create topics (CreateTopicsRequest).
    CreateTopics {
        /// The topics.
        topics: Vec<CreatableTopic>,
    },
    /// A broker asks for a block of producer ids (AllocateProducerIdsRequest, KIP-730).
    AllocateProducerIds {
        /// Kafka node id.
        broker_id: u32,
        /// Its broker epoch.
        broker_epoch: u64,
    },
    /// A partition leader changes its ISR (AlterPartitionRequest v3, KIP-903).
    AlterPartition {
        /// The leader.
        broker_id: u32,
        /// The leader's broker epoch.
        broker_epoch: u64,
        /// The topic.
        topic_id: Uuid,
        /// The partition.
        partition_id: u32,
        /// The leader epoch the leader acts in.
        leader_epoch: i32,
        /// The proposed ISR with each member's broker epoch
        /// ([`NO_BROKER_EPOCH`] for none: AlterPartition v2, before KIP-903).
        new_isr_with_epochs: Vec<(u32, u64)>,
        /// The partition epoch the change is based on.
        partition_epoch: i32,
    },
    /// Add partitions to topics (CreatePartitionsRequest): per topic, its
    /// name and the partition count it is to have
    /// (last, so that the other variants keep their place in every trace
    /// hash).
    CreatePartitions {
        /// (topic, new total count).
        topics: Vec<(String, u32)>,
    },
    /// Delete topics by name (DeleteTopicsRequest).
    DeleteTopics {
        /// The topic names.
        names: Vec<String>,
    },
}

/// The active controller's answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerResponse {
    /// BrokerRegistrationResponse.
    BrokerRegistration {
        /// Why it failed.
        error: Option<Errors>,
        /// The new broker epoch.
        broker_epoch: u64,
    },
    /// BrokerHeartbeatResponse.
    BrokerHeartbeat {
        /// Why it failed.
        error: Option<Errors>,
        /// The broker's metadata has reached its registration.
        is_caught_up: bool,
        /// The broker is fenced.
        is_fenced: bool,
        /// The controller has it in CONTROLLED_SHUTDOWN (`InControlledShutdown`).
        in_controlled_shutdown: NewFlag,
        /// The broker may stop now (`ShouldShutDown`).
        should_shut_down: NewFlag,
    },
    /// CreateTopicsResponse.
    CreateTopics {
        /// Per topic: name and error.
        results: Vec<(String, Option<Errors>)>,
    },
    /// AllocateProducerIdsResponse.
    AllocateProducerIds {
        /// Why it failed.
        error: Option<Errors>,
        /// First id of the block.
        producer_id_start: i64,
        /// How many ids.
        producer_id_len: i64,
    },
    /// AlterPartitionResponse.
    AlterPartition {
        /// A request-level error (STALE_BROKER_EPOCH, NOT_CONTROLLER).
        error: Option<Errors>,
        /// The partition-level error.
        partition_error: Option<Errors>,
        /// The partition.
        topic_id: Uuid,
        /// The partition.
        partition_id: u32,
        /// The partition's leader now (-1 for none).
        leader_id: i32,
        /// Its leader epoch now.
        leader_epoch: i32,
        /// Its ISR now.
        isr: Vec<u32>,
        /// Its partition epoch now.
        partition_epoch: i32,
    },
    /// CreatePartitionsResponse.
    CreatePartitions {
        /// Per topic: name and error.
        results: Vec<(String, Option<Errors>)>,
    },
    /// DeleteTopicsResponse.
    DeleteTopics {
        /// Per topic: name and error.
        results: Vec<(String, Option<Errors>)>,
    },
}

/// What brokers and clients exchange with controllers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerMsg {
    /// A request, with the sender's correlation id.
    Request {
        /// Echoed in the response.
        correlation_id: u64,
        /// The request.
        request: ControllerRequest,
    },
    /// A response.
    Response {
        /// The request's correlation id.
        correlation_id: u64,
        /// The active controller as the responder knows it (for NOT_CONTROLLER).
        controller_hint: Option<u32>,
        /// The response.
        response: ControllerResponse,
    },
}

impl ControllerRequest {
    /// The response a non-active controller gives: NOT_CONTROLLER.
    pub fn not_controller(&self) -> ControllerResponse {
        self.error_response(Errors::NotController)
    }

    /// A response carrying `error` only.
    pub fn error_response(&self, error: Errors) -> ControllerResponse {
        match self {
            ControllerRequest::BrokerRegistration { .. } => {
                ControllerResponse::BrokerRegistration {
                    error: Some(error),
                    broker_epoch: 0,
                }
            }
            ControllerRequest::BrokerHeartbeat { .. } => ControllerResponse::BrokerHeartbeat {
                error: Some(error),
                is_caught_up: false,
                is_fenced: true,
                in_controlled_shutdown: NewFlag(false),
                should_shut_down: NewFlag(false),
            },
            ControllerRequest::AllocateProducerIds { .. } => {
                ControllerResponse::AllocateProducerIds {
                    error: Some(error),
                    producer_id_start: -1,
                    producer_id_len: 0,
                }
            }
            ControllerRequest::CreateTopics { topics } => ControllerResponse::CreateTopics {
                results: topics
                    .iter()
                    .map(|t| (t.name.clone(), Some(error)))
                    .collect(),
            },
            ControllerRequest::CreatePartitions { topics } => {
                ControllerResponse::CreatePartitions {
                    results: topics
                        .iter()
                        .map(|(name, _)| (name.clone(), Some(error)))
                        .collect(),
                }
            }
            ControllerRequest::DeleteTopics { names } => ControllerResponse::DeleteTopics {
                results: names.iter().map(|n| (n.clone(), Some(error))).collect(),
            },
            ControllerRequest::AlterPartition {
                topic_id,
                partition_id,
                ..
            } => ControllerResponse::AlterPartition {
                error: Some(error),
                partition_error: None,
                topic_id: *topic_id,
                partition_id: *partition_id,
                leader_id: -1,
                leader_epoch: -1,
                isr: Vec::new(),
                partition_epoch: -1,
            },
        }
    }
}
