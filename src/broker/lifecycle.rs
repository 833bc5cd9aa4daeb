//! `BrokerLifecycle`: registration and heartbeats to the active controller,
//! as Kafka's BrokerLifecycleManager. One request in flight at a time; a
//! request unanswered for `controller.quorum.request.timeout.ms` is sent to
//! another controller.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim::{Nanos, MILLIS};

use crate::controller::rpc::{ControllerRequest, ControllerResponse};
use crate::errors::Errors;
use crate::metadata::Uuid;

/// `broker.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL_NS: Nanos = 2000 * MILLIS;
/// `controller.quorum.request.timeout.ms` default.
pub const REQUEST_TIMEOUT_NS: Nanos = 2000 * MILLIS;
/// Wait before retrying a refused request.
pub const RETRY_BACKOFF_NS: Nanos = 100 * MILLIS;
/// Wait before retrying a registration another incarnation still holds.
pub const REGISTRATION_RETRY_NS: Nanos = 500 * MILLIS;

/// What the lifecycle asks its host to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleEffect {
    /// Send a request to controller `to`, and arm the request timeout.
    Send {
        /// Controller id.
        to: u32,
        /// Correlation id.
        correlation_id: u64,
        /// The request.
        request: ControllerRequest,
    },
    /// Call `on_due` after this long.
    ScheduleNext(Nanos),
    /// The broker registered with this epoch.
    Registered(u64),
    /// The controller says this incarnation's metadata has caught up with
    /// its registration: the broker may start acting on its image.
    CaughtUp,
    /// The controller's view of the broker's fencing changed.
    FencingChanged {
        /// Fenced now?
        fenced: bool,
    },
}

/// Registration and heartbeat state of one broker process.
#[derive(Debug)]
pub struct BrokerLifecycle {
    broker_id: u32,
    incarnation_id: Uuid,
    voters: Vec<u32>,
    broker_epoch: Option<u64>,
    caught_up: bool,
    fenced: bool,
    controller: Option<u32>,
    next_correlation: u64,
    /// (correlation id, controller) of the request in flight.
    in_flight: Option<(u64, u32)>,
}

impl BrokerLifecycle {
    /// A new process incarnation of `broker_id`.
    pub fn new(broker_id: u32, incarnation_id: Uuid, voters: Vec<u32>) -> Self {
        Self {
            broker_id,
            incarnation_id,
            voters,
            broker_epoch: None,
            caught_up: false,
            fenced: true,
            controller: None,
            next_correlation: 0,
            in_flight: None,
        }
    }

    /// The broker epoch, once registered.
    pub fn broker_epoch(&self) -> Option<u64> {
        self.broker_epoch
    }

    /// The incarnation id.
    pub fn incarnation_id(&self) -> Uuid {
        self.incarnation_id
    }

    /// The active controller, as the last answer named it.
    pub fn controller(&self) -> Option<u32> {
        self.controller
    }

    /// Fenced, as the controller last said.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Time to send what is due (registration or heartbeat). `leader_hint`
    /// is the quorum leader the metadata fetcher knows of.
    pub fn on_due(
        &mut self,
        rng: &mut ChaCha8Rng,
        leader_hint: Option<u32>,
        metadata_offset: u64,
        out: &mut Vec<LifecycleEffect>,
    ) {
        if self.in_flight.is_some() {
            return;
        }
        let to = self
            .controller
            .or(leader_hint)
            .unwrap_or_else(|| self.voters[rng.random_range(0..self.voters.len())]);
        let request = match self.broker_epoch {
            None => ControllerRequest::BrokerRegistration {
                broker_id: self.broker_id,
                incarnation_id: self.incarnation_id,
            },
            Some(broker_epoch) => ControllerRequest::BrokerHeartbeat {
                broker_id: self.broker_id,
                broker_epoch,
                current_metadata_offset: metadata_offset,
                want_fence: false,
            },
        };
        self.next_correlation += 1;
        self.in_flight = Some((self.next_correlation, to));
        out.push(LifecycleEffect::Send {
            to,
            correlation_id: self.next_correlation,
            request,
        });
    }

    /// The request `correlation_id` timed out.
    pub fn on_timeout(&mut self, correlation_id: u64, out: &mut Vec<LifecycleEffect>) {
        if self.in_flight.map(|(c, _)| c) == Some(correlation_id) {
            self.in_flight = None;
            self.controller = None;
            out.push(LifecycleEffect::ScheduleNext(0));
        }
    }

    /// The connection to controller `peer` broke.
    pub fn on_disconnect(&mut self, peer: u32, out: &mut Vec<LifecycleEffect>) {
        if self.in_flight.map(|(_, to)| to) == Some(peer) {
            self.in_flight = None;
            self.controller = None;
            out.push(LifecycleEffect::ScheduleNext(RETRY_BACKOFF_NS));
        }
    }

    /// A controller answered.
    pub fn on_response(
        &mut self,
        correlation_id: u64,
        controller_hint: Option<u32>,
        response: ControllerResponse,
        out: &mut Vec<LifecycleEffect>,
    ) {
        if self.in_flight.map(|(c, _)| c) != Some(correlation_id) {
            return;
        }
        self.in_flight = None;
        match response {
            ControllerResponse::BrokerRegistration {
                error: None,
                broker_epoch,
            } => {
                self.controller = controller_hint;
                self.broker_epoch = Some(broker_epoch);
                out.push(LifecycleEffect::Registered(broker_epoch));
                out.push(LifecycleEffect::ScheduleNext(0));
            }
            ControllerResponse::BrokerHeartbeat {
                error: None,
                is_fenced,
                is_caught_up,
            } => {
                self.controller = controller_hint;
                if is_caught_up && !self.caught_up {
                    self.caught_up = true;
                    out.push(LifecycleEffect::CaughtUp);
                }
                if is_fenced != self.fenced {
                    self.fenced = is_fenced;
                    out.push(LifecycleEffect::FencingChanged { fenced: is_fenced });
                }
                out.push(LifecycleEffect::ScheduleNext(HEARTBEAT_INTERVAL_NS));
            }
            ControllerResponse::BrokerRegistration { error: Some(e), .. }
            | ControllerResponse::BrokerHeartbeat { error: Some(e), .. } => match e {
                Errors::NotController => {
                    self.controller = controller_hint;
                    out.push(LifecycleEffect::ScheduleNext(RETRY_BACKOFF_NS));
                }
                Errors::StaleBrokerEpoch | Errors::BrokerIdNotRegistered => {
                    // The registration this process holds is gone: register again.
                    self.broker_epoch = None;
                    if !self.fenced {
                        self.fenced = true;
                        out.push(LifecycleEffect::FencingChanged { fenced: true });
                    }
                    out.push(LifecycleEffect::ScheduleNext(RETRY_BACKOFF_NS));
                }
                _ => out.push(LifecycleEffect::ScheduleNext(REGISTRATION_RETRY_NS)),
            },
            _ => out.push(LifecycleEffect::ScheduleNext(RETRY_BACKOFF_NS)),
        }
    }
}
