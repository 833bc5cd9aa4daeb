//! `ControllerChannel`: how a broker reaches the active controller (Kafka's
//! NodeToControllerChannelManager). Registration and heartbeats,
//! AlterPartition and AllocateProducerIds go through it; it sends to the
//! controller the last answer or the metadata log named, else to a voter,
//! and gives a request up after `controller.quorum.request.timeout.ms`.

use rand::Rng;
use sim::{Nanos, MILLIS};

use crate::controller::rpc::ControllerRequest;
use crate::node::{Address, Env, InFlight, KafkaNodeId, NetworkClient};
use crate::protocol::TopicIdPartition;

/// `controller.quorum.request.timeout.ms` default.
pub const REQUEST_TIMEOUT_NS: Nanos = 2000 * MILLIS;

/// What a controller request was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerPurpose {
    /// BrokerRegistration or BrokerHeartbeat.
    Lifecycle,
    /// An ISR change of this partition.
    AlterPartition(TopicIdPartition),
    /// A block of producer ids.
    AllocateProducerIds,
}

/// The broker's requests to the controller quorum.
#[derive(Debug)]
pub struct ControllerChannel {
    voters: Vec<KafkaNodeId>,
    controller: Option<KafkaNodeId>,
    network: NetworkClient<ControllerPurpose>,
}

impl ControllerChannel {
    /// A channel to the quorum `voters`.
    pub fn new(voters: Vec<KafkaNodeId>) -> Self {
        Self {
            voters,
            controller: None,
            network: NetworkClient::default(),
        }
    }

    /// The active controller as last learned (None: unknown).
    pub fn controller(&self) -> Option<KafkaNodeId> {
        self.controller
    }

    /// Learns who the active controller is (or forgets it).
    pub fn set_controller(&mut self, controller: Option<KafkaNodeId>) {
        self.controller = controller;
    }

    /// Sends `request` to the active controller, or to a random voter while
    /// none is known.
    pub fn send(
        &mut self,
        env: &mut Env<'_>,
        request: ControllerRequest,
        purpose: ControllerPurpose,
    ) -> u64 {
        let to = match self.controller {
            Some(c) => c,
            None => self.voters[env.rng().random_range(0..self.voters.len())],
        };
        self.send_to(env, to, request, purpose)
    }

    /// Sends `request` to controller `to`.
    pub fn send_to(
        &mut self,
        env: &mut Env<'_>,
        to: KafkaNodeId,
        request: ControllerRequest,
        purpose: ControllerPurpose,
    ) -> u64 {
        self.network
            .send(env, Address::Node(to), request, REQUEST_TIMEOUT_NS, purpose)
    }

    /// A controller answered `correlation_id`.
    pub fn complete(&mut self, correlation_id: u64) -> Option<InFlight<ControllerPurpose>> {
        self.network.complete(correlation_id)
    }

    /// The request timer fired: requests past their timeout.
    pub fn expire(&mut self, env: &mut Env<'_>) -> Vec<ControllerPurpose> {
        self.network
            .expire(env)
            .into_iter()
            .map(|(_, f)| f.purpose)
            .collect()
    }

    /// The connection to `peer` broke: its requests are lost.
    pub fn disconnected(&mut self, peer: Address) -> Vec<ControllerPurpose> {
        self.network
            .disconnected(peer)
            .into_iter()
            .map(|(_, f)| f.purpose)
            .collect()
    }

    /// Whether a request for `purpose` is in flight.
    pub fn is_in_flight(&self, purpose: &ControllerPurpose) -> bool {
        self.network.in_flight().any(|(_, f)| &f.purpose == purpose)
    }
}
