//! Producer id blocks on the active controller (Kafka's
//! ProducerIdControlManager): AllocateProducerIds hands each broker's
//! ProducerIdManager the next block.

use super::active::MetadataRecords;
use super::rpc::ControllerResponse;
use crate::errors::Errors;
use crate::metadata::{MetadataImage, MetadataRecord};

/// Producer ids per AllocateProducerIds block (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// Kafka's ProducerIdControlManager: the next block to hand out.
#[derive(Debug)]
pub struct ProducerIdControlManager {
    /// The first id of the next block (Kafka's `nextProducerBlock`).
    next_producer_id: i64,
}

impl ProducerIdControlManager {
    /// Where the committed `image` left the producer ids.
    pub fn new(image: &MetadataImage) -> Self {
        Self {
            next_producer_id: image.next_producer_id,
        }
    }

    /// AllocateProducerIds: the next block of `PRODUCER_ID_BLOCK_SIZE` ids,
    /// for a broker with its current broker epoch (else STALE_BROKER_EPOCH).
    pub fn allocate_producer_ids(
        &mut self,
        log: &mut MetadataRecords,
        broker_id: u32,
        broker_epoch: u64,
    ) -> ControllerResponse {
        if log.image.brokers.get(&broker_id).map(|b| b.epoch) != Some(broker_epoch) {
            return ControllerResponse::AllocateProducerIds {
                error: Some(Errors::StaleBrokerEpoch),
                producer_id_start: -1,
                producer_id_len: 0,
            };
        }
        let start = self.next_producer_id;
        self.next_producer_id = start + PRODUCER_ID_BLOCK_SIZE;
        log.emit(MetadataRecord::ProducerIdsRecord {
            broker_id,
            broker_epoch,
            next_producer_id: self.next_producer_id,
        });
        ControllerResponse::AllocateProducerIds {
            error: None,
            producer_id_start: start,
            producer_id_len: PRODUCER_ID_BLOCK_SIZE,
        }
    }
}
