//! `ProducerIdManager`: InitProducerId on a broker (Kafka's
//! RPCProducerIdManager): ids come from blocks the active controller
//! allocates (AllocateProducerIds, KIP-730); a request that finds the block
//! used up waits for the next one.

use super::controller_channel::{ControllerChannel, ControllerPurpose};
use super::purgatory::ReplyTo;
use super::replica_manager::reply;
use crate::controller::rpc::{ControllerRequest, ControllerResponse};
use crate::errors::Errors;
use crate::node::Env;
use crate::protocol::KafkaResponse;

/// The broker's producer ids.
#[derive(Debug, Default)]
pub struct ProducerIdManager {
    /// The current block: next id and end (exclusive).
    block: Option<(i64, i64)>,
    /// InitProducerIds waiting for a block.
    waiting: Vec<ReplyTo>,
}

impl ProducerIdManager {
    /// InitProducerId (no transactional id): the next id of the block, or
    /// wait for a new block. A broker not yet registered answers
    /// COORDINATOR_NOT_AVAILABLE.
    pub fn init_producer_id(
        &mut self,
        env: &mut Env<'_>,
        channel: &mut ControllerChannel,
        broker: (u32, Option<u64>),
        reply_to: ReplyTo,
    ) {
        if let Some((next, end)) = self.block.filter(|(next, end)| next < end) {
            self.block = Some((next + 1, end));
            let response = KafkaResponse::InitProducerId {
                error: None,
                producer_id: next,
                producer_epoch: 0,
            };
            reply(env, reply_to, response);
            return;
        }
        let (broker_id, Some(broker_epoch)) = broker else {
            let response = KafkaResponse::InitProducerId {
                error: Some(Errors::CoordinatorNotAvailable),
                producer_id: -1,
                producer_epoch: -1,
            };
            reply(env, reply_to, response);
            return;
        };
        self.waiting.push(reply_to);
        if !channel.is_in_flight(&ControllerPurpose::AllocateProducerIds) {
            let request = ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
            };
            channel.send(env, request, ControllerPurpose::AllocateProducerIds);
        }
    }

    /// A producer id for the transaction coordinator: the next of the
    /// block, None when it is used up (Kafka's
    /// `RPCProducerIdManager.generateProducerId` then answers
    /// COORDINATOR_LOAD_IN_PROGRESS and asks for the next block:
    /// [`ProducerIdManager::request_block`]).
    pub fn claim_next(&mut self) -> Option<i64> {
        let (next, end) = self.block.filter(|(next, end)| next < end)?;
        self.block = Some((next + 1, end));
        Some(next)
    }

    /// Asks the controller for a new block, unless it is being asked.
    pub fn request_block(
        &mut self,
        env: &mut Env<'_>,
        channel: &mut ControllerChannel,
        broker: (u32, Option<u64>),
    ) {
        if let (broker_id, Some(broker_epoch)) = broker {
            if !channel.is_in_flight(&ControllerPurpose::AllocateProducerIds) {
                let request = ControllerRequest::AllocateProducerIds {
                    broker_id,
                    broker_epoch,
                };
                channel.send(env, request, ControllerPurpose::AllocateProducerIds);
            }
        }
    }

    /// The controller answered (or the request was lost: `response` None):
    /// the waiting requests are served from the new block or ask again.
    pub fn on_block(
        &mut self,
        env: &mut Env<'_>,
        channel: &mut ControllerChannel,
        broker: (u32, Option<u64>),
        response: Option<ControllerResponse>,
    ) {
        if let Some(ControllerResponse::AllocateProducerIds {
            error: None,
            producer_id_start,
            producer_id_len,
        }) = response
        {
            self.block = Some((producer_id_start, producer_id_start + producer_id_len));
        }
        for reply_to in std::mem::take(&mut self.waiting) {
            self.init_producer_id(env, channel, broker, reply_to);
        }
    }
}
