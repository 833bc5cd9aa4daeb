//! `ControllerChannel`: how a broker reaches the active controller (Kafka's
//! NodeToControllerChannelManager). Registration and heartbeats,
//! AlterPartition and AllocateProducerIds go through it; it sends to the
//! controller the last answer or the metadata log named, else to a voter,
//! and sends a request again when it got no answer within its channel's
//! request timeout.
//!
//! Kafka runs one channel manager per purpose, each with its own request
//! timeout, the smaller of `controller.socket.timeout.ms` (30 s) and the
//! channel's retry timeout (`NodeToControllerRequestThread`; `BrokerServer`
//! and `AlterPartitionManager` of 3.4.0 and trunk): "heartbeat"
//! (`broker.session.timeout.ms` / 2 from 3.3.2, KAFKA-14392; before,
//! `broker.session.timeout.ms`), "alter-partition" (Long.MaxValue) and
//! "forwarding", which carries AllocateProducerIds (60 s). A timed-out
//! request goes again (`handleResponse` requeues a disconnected one first).

use rand::Rng;
use sim::{Nanos, MILLIS};

use super::config::ControllerRequestTimeouts;
use crate::controller::rpc::ControllerRequest;
use crate::node::{Address, Env, InFlight, KafkaNodeId, NetworkClient};
use crate::protocol::{Connection, TopicIdPartition};

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
    timeouts: ControllerRequestTimeouts,
}

impl ControllerChannel {
    /// A channel to the quorum `voters`.
    pub fn new(voters: Vec<KafkaNodeId>, timeouts: ControllerRequestTimeouts) -> Self {
        Self {
            voters,
            controller: None,
            network: NetworkClient::new(Connection::Controller),
            timeouts,
        }
    }

    /// How long a request for `purpose` waits for its answer.
    fn request_timeout(&self, purpose: &ControllerPurpose) -> Nanos {
        let ms = match purpose {
            ControllerPurpose::Lifecycle => self.timeouts.heartbeat_ms,
            ControllerPurpose::AlterPartition(_) | ControllerPurpose::AllocateProducerIds => {
                self.timeouts.controller_socket_ms
            }
        };
        ms.max(1).saturating_mul(MILLIS)
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
        let timeout = self.request_timeout(&purpose);
        self.network
            .send(env, Address::Node(to), request, timeout, purpose)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::TestEnv;

    fn heartbeat() -> ControllerRequest {
        ControllerRequest::BrokerHeartbeat {
            broker_id: 1,
            broker_epoch: 7,
            current_metadata_offset: 0,
            want_fence: false,
            want_shut_down: crate::controller::rpc::NewFlag(false),
        }
    }

    fn allocate() -> ControllerRequest {
        ControllerRequest::AllocateProducerIds {
            broker_id: 1,
            broker_epoch: 7,
        }
    }

    /// What times out at `at_ms` of requests sent at time 0.
    fn expired_at(channel: &mut ControllerChannel, t: &mut TestEnv, at_ms: u64) -> Vec<String> {
        t.now = at_ms * MILLIS;
        channel
            .expire(&mut t.env())
            .iter()
            .map(|p| format!("{p:?}"))
            .collect()
    }

    #[test]
    fn each_channel_times_its_requests_out_after_its_own_request_timeout() {
        let timeouts = ControllerRequestTimeouts {
            heartbeat_ms: 4500,
            controller_socket_ms: 30_000,
        };
        let mut channel = ControllerChannel::new(vec![3001], timeouts);
        channel.set_controller(Some(3001));
        let mut t = TestEnv::new(1);
        channel.send(&mut t.env(), heartbeat(), ControllerPurpose::Lifecycle);
        channel.send(
            &mut t.env(),
            allocate(),
            ControllerPurpose::AllocateProducerIds,
        );
        // The heartbeat channel gives up after broker.session.timeout.ms / 2
        // (KAFKA-14392); the others wait controller.socket.timeout.ms.
        assert!(expired_at(&mut channel, &mut t, 4499).is_empty());
        assert_eq!(expired_at(&mut channel, &mut t, 4500), vec!["Lifecycle"]);
        assert!(expired_at(&mut channel, &mut t, 29_999).is_empty());
        assert!(channel.is_in_flight(&ControllerPurpose::AllocateProducerIds));
        assert_eq!(
            expired_at(&mut channel, &mut t, 30_000),
            vec!["AllocateProducerIds"]
        );
    }
}
