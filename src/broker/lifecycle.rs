//! `BrokerLifecycleManager`: registration and heartbeats to the active
//! controller, as Kafka's BrokerLifecycleManager. One request in flight at a
//! time; a request unanswered within the heartbeat channel's request
//! timeout (`broker.session.timeout.ms` / 2, see `controller_channel`) is
//! sent again at once.
//!
//! Controlled shutdown (Kafka's `beginControlledShutdown`,
//! `core/src/main/scala/kafka/server/BrokerLifecycleManager.scala`): a
//! RUNNING broker enters PENDING_CONTROLLED_SHUTDOWN and heartbeats at once
//! with `wantShutDown`; until the controller answers `shouldShutDown` it
//! heartbeats again 50 ms after the first answer, then every heartbeat
//! interval. A broker that is not RUNNING yet (still fenced since it
//! started) skips controlled shutdown. SHUTTING_DOWN sends nothing more.

use sim::{Nanos, MILLIS};

use super::controller_channel::{ControllerChannel, ControllerPurpose};
use super::BrokerTimer;
use crate::controller::rpc::{ControllerRequest, ControllerResponse, NewFlag, PreviousBrokerEpoch};
use crate::errors::Errors;
use crate::metadata::Uuid;
use crate::node::Env;

/// `broker.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL_NS: Nanos = 2000 * MILLIS;
/// Wait before retrying a refused request.
pub const RETRY_BACKOFF_NS: Nanos = 100 * MILLIS;
/// Wait before retrying a registration another incarnation still holds.
pub const REGISTRATION_RETRY_NS: Nanos = 500 * MILLIS;
/// The heartbeat after the first answer in PENDING_CONTROLLED_SHUTDOWN
/// (Kafka schedules it 50 ms later, to finish a quick shutdown sooner).
pub const FIRST_SHUTDOWN_HEARTBEAT_NS: Nanos = 50 * MILLIS;

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
    /// In PENDING_CONTROLLED_SHUTDOWN, the controller answered
    /// `shouldShutDown`: the broker is SHUTTING_DOWN (Kafka completes
    /// `controlledShutdownFuture`).
    ShouldShutDown,
}

/// Registration and heartbeat state of one broker process.
#[derive(Debug)]
pub struct BrokerLifecycleManager {
    broker_id: u32,
    incarnation_id: Uuid,
    /// The broker epoch of the clean shutdown marker found at boot (-1:
    /// none), sent in every registration of this incarnation.
    previous_broker_epoch: i64,
    broker_epoch: Option<u64>,
    caught_up: bool,
    fenced: bool,
    controller: Option<u32>,
    /// Unfenced once since it started (Kafka's RUNNING state).
    running: bool,
    /// PENDING_CONTROLLED_SHUTDOWN: heartbeats say `wantShutDown`.
    pending_controlled_shutdown: bool,
    /// An answer came in PENDING_CONTROLLED_SHUTDOWN.
    got_controlled_shutdown_response: bool,
    /// SHUTTING_DOWN: nothing more is sent.
    shutting_down: bool,
}

impl BrokerLifecycleManager {
    /// A new process incarnation of `broker_id`, whose clean shutdown
    /// marker named `previous_broker_epoch` (-1: it found none).
    pub fn new(broker_id: u32, incarnation_id: Uuid, previous_broker_epoch: i64) -> Self {
        Self {
            broker_id,
            incarnation_id,
            previous_broker_epoch,
            broker_epoch: None,
            caught_up: false,
            fenced: true,
            controller: None,
            running: false,
            pending_controlled_shutdown: false,
            got_controlled_shutdown_response: false,
            shutting_down: false,
        }
    }

    /// Kafka's `beginControlledShutdown`: a RUNNING broker enters
    /// PENDING_CONTROLLED_SHUTDOWN and heartbeats at once; returns false
    /// (and shuts down) when it is not RUNNING, as Kafka skips controlled
    /// shutdown then.
    pub fn begin_controlled_shutdown(&mut self, env: &mut Env<'_>) -> bool {
        if !self.running || self.shutting_down {
            self.begin_shutdown();
            return false;
        }
        if !self.pending_controlled_shutdown {
            self.pending_controlled_shutdown = true;
            env.set_timer_after(0, BrokerTimer::Lifecycle);
        }
        true
    }

    /// Kafka's `beginShutdown`: SHUTTING_DOWN, nothing more is sent.
    pub fn begin_shutdown(&mut self) {
        self.shutting_down = true;
    }

    /// In PENDING_CONTROLLED_SHUTDOWN.
    pub fn in_controlled_shutdown(&self) -> bool {
        self.pending_controlled_shutdown && !self.shutting_down
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
        if self.shutting_down || channel.is_in_flight(&ControllerPurpose::Lifecycle) {
            return;
        }
        let request = match self.broker_epoch {
            None => ControllerRequest::BrokerRegistration {
                broker_id: self.broker_id,
                incarnation_id: self.incarnation_id,
                previous_broker_epoch: PreviousBrokerEpoch(self.previous_broker_epoch),
            },
            Some(broker_epoch) => ControllerRequest::BrokerHeartbeat {
                broker_id: self.broker_id,
                broker_epoch,
                current_metadata_offset: metadata_offset,
                want_fence: false,
                want_shut_down: NewFlag(self.pending_controlled_shutdown),
            },
        };
        channel.send(env, request, ControllerPurpose::Lifecycle);
    }

    /// The request in flight got no answer: after a timeout it goes again at
    /// once (to another controller), after a broken connection after a backoff.
    pub fn on_lost(&mut self, env: &mut Env<'_>, timed_out: bool) {
        self.controller = None;
        if self.shutting_down {
            return;
        }
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
        if self.shutting_down {
            return events;
        }
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
                should_shut_down,
                ..
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
                if !is_fenced && self.caught_up {
                    self.running = true;
                }
                if self.pending_controlled_shutdown {
                    if should_shut_down.0 {
                        self.begin_shutdown();
                        events.push(LifecycleEvent::ShouldShutDown);
                        return events;
                    }
                    if !std::mem::replace(&mut self.got_controlled_shutdown_response, true) {
                        FIRST_SHUTDOWN_HEARTBEAT_NS
                    } else {
                        HEARTBEAT_INTERVAL_NS
                    }
                } else {
                    HEARTBEAT_INTERVAL_NS
                }
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
