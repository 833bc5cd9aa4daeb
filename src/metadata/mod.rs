//! Cluster metadata as KRaft keeps it: typed records in `__cluster_metadata`
//! ([`MetadataRecord`]), the image they build ([`MetadataImage`]), leader
//! election ([`PartitionChangeBuilder`]) and replica placement.

mod image;
mod partition_change;
mod placement;
mod records;
mod uuid;

pub use image::{BrokerRegistration, MetadataImage, PartitionRegistration, TopicImage};
pub use partition_change::{Election, ElectionResult, PartitionChangeBuilder};
pub use placement::place_replicas;
pub use records::{LeaderRecoveryState, MetadataRecord, NO_LEADER, NO_LEADER_CHANGE};
pub use uuid::Uuid;
