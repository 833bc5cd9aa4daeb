//! `BrokerLifecycleManager`: registration and heartbeats to the active
//! controller, as Kafka's BrokerLifecycleManager. One request in flight at a
//! time; a request unanswered for `controller.quorum.request.timeout.ms` is
//! sent to another controller.

use sim::{Nanos, MILLIS};

use super::controller_channel::{ControllerChannel, ControllerPurpose};
use super::BrokerTimer;
use crate::controller::rpc::{ControllerRequest, ControllerResponse};
use crate::errors::Errors;
use crate::metadata::Uuid;
use crate::node::Env;

/// `broker.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL_NS: Nanos = 2000 * MILLIS;
/// Wait before retrying a refused request.
pub const RETRY_BACKOFF_NS: Nanos = 100 * MILLIS;
/// Wait before retrying a registration another incarnation still holds.
pub const REGISTRATION_RETRY_NS: Nanos = 500 * MILLIS;

/// What the controller's answers mean for the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleEvent {
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
pub struct BrokerLifecycleManager {
    broker_id: u32,
    incarnation_id: Uuid,
    broker_epoch: Option<u64>,
    caught_up: bool,
    fenced: bool,
    controller: Option<u32>,
}

impl BrokerLifecycleManager {
    /// A new process incarnation of `broker_id`.
    pub fn new(broker_id: u32, incarnation_id: Uuid) -> Self {
        Self {
            broker_id,
            incarnation_id,
            broker_epoch: None,
            caught_up: false,
            fenced: true,
            controller: None,
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

    /// Time to send what is due (registration or heartbeat), unless a
    /// request is in flight.
    pub fn on_due(
        &mut self,
        env: &mut Env<'_>,
        channel: &mut ControllerChannel,
        metadata_offset: u64,
    ) {
        if channel.is_in_flight(&ControllerPurpose::Lifecycle) {
            return;
        }
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
        channel.send(env, request, ControllerPurpose::Lifecycle);
    }

    /// The request in flight got no answer: after a timeout it goes again at
    /// once (to another controller), after a broken connection after a backoff.
    pub fn on_lost(&mut self, env: &mut Env<'_>, timed_out: bool) {
        self.controller = None;
        let after = if timed_out { 0 } else { RETRY_BACKOFF_NS };
        env.set_timer_after(after, BrokerTimer::Lifecycle);
    }

    /// A controller answered; returns what the answer means.
    pub fn on_response(
        &mut self,
        env: &mut Env<'_>,
        controller_hint: Option<u32>,
        response: ControllerResponse,
    ) -> Vec<LifecycleEvent> {
        let mut events = Vec::new();
        let next = match response {
            ControllerResponse::BrokerRegistration {
                error: None,
                broker_epoch,
            } => {
                self.controller = controller_hint;
                self.broker_epoch = Some(broker_epoch);
                events.push(LifecycleEvent::Registered(broker_epoch));
                0
            }
            ControllerResponse::BrokerHeartbeat {
                error: None,
                is_fenced,
                is_caught_up,
            } => {
                self.controller = controller_hint;
                if is_caught_up && !self.caught_up {
                    self.caught_up = true;
                    events.push(LifecycleEvent::CaughtUp);
                }
                if is_fenced != self.fenced {
                    self.fenced = is_fenced;
                    events.push(LifecycleEvent::FencingChanged { fenced: is_fenced });
                }
                HEARTBEAT_INTERVAL_NS
            }
            ControllerResponse::BrokerRegistration { error: Some(e), .. }
            | ControllerResponse::BrokerHeartbeat { error: Some(e), .. } => match e {
                Errors::NotController => {
                    self.controller = controller_hint;
                    RETRY_BACKOFF_NS
                }
                Errors::StaleBrokerEpoch | Errors::BrokerIdNotRegistered => {
                    // The registration this process holds is gone: register again.
                    self.broker_epoch = None;
                    if !self.fenced {
                        self.fenced = true;
                        events.push(LifecycleEvent::FencingChanged { fenced: true });
                    }
                    RETRY_BACKOFF_NS
                }
                _ => REGISTRATION_RETRY_NS,
            },
            _ => RETRY_BACKOFF_NS,
        };
        env.set_timer_after(next, BrokerTimer::Lifecycle);
        events
    }
}
