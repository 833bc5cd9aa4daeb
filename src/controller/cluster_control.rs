//! Broker membership on the active controller (Kafka's ClusterControlManager
//! and BrokerHeartbeatManager): registrations, heartbeats, fencing. The
//! registrations are in the metadata image; the heartbeat sessions are this
//! manager's own state.
//!
//! A heartbeat moves its broker between Kafka's `BrokerControlState`s as
//! `BrokerHeartbeatManager.calculateNextBrokerState` does
//! (`metadata/src/main/java/org/apache/kafka/controller/BrokerHeartbeatManager.java`),
//! including controlled shutdown: CONTROLLED_SHUTDOWN while the broker
//! leads a partition, SHUTDOWN_NOW (`shouldShutDown`) once it leads nothing
//! and its `controlledShutdownOffset` is at most the lowest metadata offset
//! of the active brokers.

use std::collections::BTreeMap;

use sim::Nanos;

use super::active::{ControlEvent, MetadataRecords};
use super::rpc::{ControllerResponse, NewFlag};
use crate::errors::Errors;
use crate::metadata::{MetadataImage, MetadataRecord, Uuid};

/// Where a broker's heartbeat takes it (Kafka's `BrokerControlState`,
/// `metadata/.../controller/BrokerControlState.java`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerControlState {
    /// Fenced: it leads nothing and joins no ISR.
    Fenced,
    /// Unfenced: it may lead and be in ISRs.
    Unfenced,
    /// CONTROLLED_SHUTDOWN: it asked to shut down while leading
    /// partitions; they move away and it leaves every ISR.
    ControlledShutdown,
    /// SHUTDOWN_NOW: fenced, and the answer says `shouldShutDown`.
    ShutdownNow,
}

/// A broker's heartbeat session on this controller (Kafka's
/// `BrokerHeartbeatManager.BrokerHeartbeatState`).
#[derive(Clone, Copy, Debug)]
struct HeartbeatState {
    /// Last heartbeat (or registration).
    last_contact: Nanos,
    /// The metadata offset its last heartbeat gave (records below it are
    /// in its image); None before its first heartbeat here (Kafka's -1).
    metadata_offset: Option<u64>,
    /// Set when it entered controlled shutdown: the offset of the last
    /// record of that change (Kafka's `controlledShutdownOffset`); it may
    /// stop once every active broker's metadata is past it.
    controlled_shutdown_offset: Option<u64>,
    /// Its shutdown was granted (SHUTDOWN_NOW): the session is over, so a
    /// new incarnation may register at once. (Kafka's `hasValidSession` is
    /// false for every fenced broker; ksim ends the session of a fenced
    /// broker only here, as every run without a shutdown did before.)
    shut_down: bool,
}

impl HeartbeatState {
    fn new(now: Nanos) -> Self {
        Self {
            last_contact: now,
            metadata_offset: None,
            controlled_shutdown_offset: None,
            shut_down: false,
        }
    }
}

/// Kafka's ClusterControlManager with its BrokerHeartbeatManager.
#[derive(Debug)]
pub struct ClusterControlManager {
    /// `broker.session.timeout.ms`, in nanoseconds.
    session_timeout_ns: Nanos,
    /// Heartbeat session per broker.
    sessions: BTreeMap<u32, HeartbeatState>,
    /// Whether a broker entering controlled shutdown is registered so
    /// (KIP-841's `InControlledShutdown`, metadata version 3.3-IV3's
    /// `isInControlledShutdownStateSupported`); before 3.3 it is not, and
    /// stays an active broker until fenced.
    in_controlled_shutdown_state: bool,
    /// KAFKA-13959 (3.3): a fenced broker is unfenced (and caught up) once
    /// its metadata offset reached its own RegisterBrokerRecord; before
    /// 3.3, once it reached the controller's last committed offset.
    unfence_at_registration_offset: bool,
}

impl ClusterControlManager {
    /// As Kafka's BrokerHeartbeatManager on a new active controller: every
    /// registered broker of `image` starts with a fresh session at `now`;
    /// `in_controlled_shutdown_state`: a broker in controlled shutdown is
    /// registered so (KIP-841, 3.3).
    pub fn new(
        session_timeout_ns: Nanos,
        image: &MetadataImage,
        now: Nanos,
        in_controlled_shutdown_state: bool,
    ) -> Self {
        Self {
            session_timeout_ns,
            in_controlled_shutdown_state,
            unfence_at_registration_offset: true,
            sessions: image
                .brokers
                .keys()
                .map(|&b| (b, HeartbeatState::new(now)))
                .collect(),
        }
    }

    /// KAFKA-13959 (3.3) on or off: off, a broker is caught up once its
    /// metadata reached the controller's last committed offset (Kafka
    /// 3.2's `calculateNextBrokerState`).
    pub fn with_unfence_at_registration_offset(mut self, on: bool) -> Self {
        self.unfence_at_registration_offset = on;
        self
    }

    fn has_valid_session(&self, broker: u32, now: Nanos) -> bool {
        self.sessions.get(&broker).is_some_and(|s| {
            !s.shut_down && now.saturating_sub(s.last_contact) < self.session_timeout_ns
        })
    }

    /// Unfenced brokers whose session expired by `now`.
    pub fn expired_sessions(&self, image: &MetadataImage, now: Nanos) -> Vec<u32> {
        image
            .brokers
            .values()
            .filter(|b| !b.fenced && !self.has_valid_session(b.id, now))
            .map(|b| b.id)
            .collect()
    }

    /// BrokerRegistration: a new registration record, fenced, whose offset is
    /// the broker epoch. Another incarnation with a live session is refused
    /// (DUPLICATE_BROKER_REGISTRATION) until its session expires. Also says
    /// whether it replaced an unfenced registration (whose partitions must
    /// move as on fencing).
    ///
    /// A new incarnation replacing a registration is a shutdown detected
    /// (Kafka's `registerBroker`): clean when the registration carries the
    /// broker epoch of the one it replaces (`PreviousBrokerEpoch`, from the
    /// clean shutdown marker; KIP-966), else unclean. `on_shutdown` makes
    /// that shutdown's records before the registration record, as Kafka's
    /// `BrokerShutdownHandler` does.
    #[allow(clippy::too_many_arguments)]
    pub fn register_broker(
        &mut self,
        log: &mut MetadataRecords,
        now: Nanos,
        broker_id: u32,
        incarnation_id: Uuid,
        previous_broker_epoch: i64,
        on_shutdown: &mut dyn FnMut(&mut MetadataRecords, bool),
    ) -> (ControllerResponse, bool) {
        let existing = log.image.brokers.get(&broker_id).cloned();
        if let Some(old) = &existing {
            if old.incarnation_id != incarnation_id && self.has_valid_session(broker_id, now) {
                let refused = ControllerResponse::BrokerRegistration {
                    error: Some(Errors::DuplicateBrokerRegistration),
                    broker_epoch: 0,
                };
                return (refused, false);
            }
            if old.incarnation_id != incarnation_id {
                let clean = i64::try_from(old.epoch).is_ok_and(|e| e == previous_broker_epoch);
                on_shutdown(log, clean);
            }
        }
        let broker_epoch = log.next_offset;
        log.emit(MetadataRecord::RegisterBrokerRecord {
            broker_id,
            incarnation_id,
            broker_epoch,
            fenced: true,
        });
        log.event(ControlEvent::Registered {
            broker: broker_id,
            epoch: broker_epoch,
        });
        self.sessions.insert(broker_id, HeartbeatState::new(now));
        let response = ControllerResponse::BrokerRegistration {
            error: None,
            broker_epoch,
        };
        (response, existing.is_some_and(|old| !old.fenced))
    }

    /// BrokerHeartbeat (Kafka's `ReplicationControlManager.processBrokerHeartbeat`
    /// with `BrokerHeartbeatManager.calculateNextBrokerState`): renews the
    /// session and moves the broker to its next state. A fenced broker is
    /// unfenced once its metadata has caught up with its own registration;
    /// an unfenced one that asks to shut down enters CONTROLLED_SHUTDOWN
    /// while it leads a partition, else SHUTDOWN_NOW; in CONTROLLED_SHUTDOWN
    /// it stays until it leads nothing and every active broker's metadata
    /// has passed the records that moved its leaderships, then SHUTDOWN_NOW.
    /// Makes the registration records of the change (the caller moves the
    /// partitions) and returns the response (its `is_fenced` as before any
    /// change; the caller fills it in) with the next state when it changed.
    #[allow(clippy::too_many_arguments)]
    pub fn broker_heartbeat(
        &mut self,
        log: &mut MetadataRecords,
        now: Nanos,
        broker_id: u32,
        broker_epoch: u64,
        current_metadata_offset: u64,
        last_committed_offset: Option<u64>,
        want_fence: bool,
        want_shut_down: bool,
    ) -> (ControllerResponse, Option<BrokerControlState>) {
        let refused = |error| ControllerResponse::BrokerHeartbeat {
            error: Some(error),
            is_caught_up: false,
            is_fenced: true,
            in_controlled_shutdown: NewFlag(false),
            should_shut_down: NewFlag(false),
        };
        let Some(registration) = log.image.brokers.get(&broker_id).cloned() else {
            return (refused(Errors::BrokerIdNotRegistered), None);
        };
        if registration.epoch != broker_epoch {
            return (refused(Errors::StaleBrokerEpoch), None);
        }
        let session = *self
            .sessions
            .entry(broker_id)
            .or_insert_with(|| HeartbeatState::new(now));
        // Caught up: its image holds the record that registered it
        // (KAFKA-13959, 3.3: `currentMetadataOffset >=
        // registerBrokerRecordOffset`); before 3.3, every record this
        // controller has seen committed (`currentMetadataOffset >=
        // lastCommittedOffset`, both the offset of the last data record:
        // neither the broker's listener nor the controller's sees control
        // batches). ksim's metadata offset is the next one to apply.
        let is_caught_up = if self.unfence_at_registration_offset {
            current_metadata_offset > registration.epoch
        } else {
            last_committed_offset.is_none_or(|c| current_metadata_offset > c)
        };
        let current = if session.controlled_shutdown_offset.is_some() {
            BrokerControlState::ControlledShutdown
        } else if registration.fenced {
            BrokerControlState::Fenced
        } else {
            BrokerControlState::Unfenced
        };
        let has_leaderships = || {
            log.image
                .topics
                .values()
                .any(|t| t.partitions.values().any(|p| p.leader == Some(broker_id)))
        };
        let next = match current {
            BrokerControlState::Fenced if want_shut_down => BrokerControlState::ShutdownNow,
            BrokerControlState::Fenced if !want_fence && is_caught_up => {
                BrokerControlState::Unfenced
            }
            BrokerControlState::Fenced => BrokerControlState::Fenced,
            BrokerControlState::Unfenced if want_fence && want_shut_down => {
                BrokerControlState::ShutdownNow
            }
            BrokerControlState::Unfenced if want_fence => BrokerControlState::Fenced,
            BrokerControlState::Unfenced if want_shut_down && has_leaderships() => {
                BrokerControlState::ControlledShutdown
            }
            BrokerControlState::Unfenced if want_shut_down => BrokerControlState::ShutdownNow,
            BrokerControlState::Unfenced => BrokerControlState::Unfenced,
            BrokerControlState::ControlledShutdown if has_leaderships() => {
                BrokerControlState::ControlledShutdown
            }
            BrokerControlState::ControlledShutdown => {
                let cs_offset = session.controlled_shutdown_offset.unwrap_or(0);
                if cs_offset < self.lowest_active_offset(&log.image) {
                    BrokerControlState::ShutdownNow
                } else {
                    BrokerControlState::ControlledShutdown
                }
            }
            BrokerControlState::ShutdownNow => BrokerControlState::ShutdownNow,
        };
        let change = (next != current).then_some(next);
        match change {
            Some(BrokerControlState::Unfenced) => {
                log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
                    broker_id,
                    broker_epoch,
                    fenced: Some(false),
                    in_controlled_shutdown: None,
                });
                log.event(ControlEvent::Unfenced { broker: broker_id });
            }
            Some(BrokerControlState::Fenced) => {
                self.fence_broker(log, broker_id);
            }
            Some(BrokerControlState::ControlledShutdown) => {
                // Kafka's `handleBrokerInControlledShutdown`: the
                // registration says so (once), then the caller moves
                // leaderships and shrinks ISRs.
                if self.in_controlled_shutdown_state && !registration.in_controlled_shutdown {
                    log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
                        broker_id,
                        broker_epoch,
                        fenced: None,
                        in_controlled_shutdown: Some(true),
                    });
                }
                log.event(ControlEvent::ControlledShutdown { broker: broker_id });
            }
            Some(BrokerControlState::ShutdownNow) => {
                // Granted: fenced as Kafka's `handleBrokerFenced` does
                // (nothing to write for a broker already fenced).
                if !registration.fenced {
                    log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
                        broker_id,
                        broker_epoch,
                        fenced: Some(true),
                        in_controlled_shutdown: None,
                    });
                }
                log.event(ControlEvent::ShutdownNow { broker: broker_id });
            }
            None => {}
        }
        // Kafka's `touch`: the session and metadata offset are renewed; a
        // fenced broker leaves controlled shutdown.
        let fenced = matches!(
            next,
            BrokerControlState::Fenced | BrokerControlState::ShutdownNow
        );
        if let Some(s) = self.sessions.get_mut(&broker_id) {
            s.last_contact = now;
            s.metadata_offset = Some(current_metadata_offset);
            if fenced {
                s.controlled_shutdown_offset = None;
            }
            if next == BrokerControlState::ShutdownNow {
                s.shut_down = true;
            }
        }
        let response = ControllerResponse::BrokerHeartbeat {
            error: None,
            is_caught_up,
            is_fenced: registration.fenced,
            in_controlled_shutdown: NewFlag(next == BrokerControlState::ControlledShutdown),
            should_shut_down: NewFlag(next == BrokerControlState::ShutdownNow),
        };
        (response, change)
    }

    /// The broker is in CONTROLLED_SHUTDOWN after a heartbeat whose records
    /// end at `offset`: it becomes its controlled shutdown offset unless it
    /// has one (Kafka's `maybeUpdateControlledShutdownOffset`, called from
    /// `processBatchEndOffset`).
    pub fn maybe_update_controlled_shutdown_offset(&mut self, broker: u32, offset: u64) {
        if let Some(s) = self.sessions.get_mut(&broker) {
            s.controlled_shutdown_offset.get_or_insert(offset);
        }
    }

    /// The lowest metadata offset of the active brokers (unfenced, not
    /// shutting down), as their heartbeats gave it; u64::MAX when there is
    /// none (Kafka's `lowestActiveOffset`).
    fn lowest_active_offset(&self, image: &MetadataImage) -> u64 {
        image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let s = self.sessions.get(&b.id);
                match s {
                    Some(s) if s.controlled_shutdown_offset.is_some() => None,
                    Some(s) => Some(s.metadata_offset.unwrap_or(0)),
                    None => Some(0),
                }
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Fences `broker` (its session expired, or it asked); false when it is
    /// not registered.
    pub fn fence_broker(&mut self, log: &mut MetadataRecords, broker: u32) -> bool {
        let Some(epoch) = log.image.brokers.get(&broker).map(|b| b.epoch) else {
            return false;
        };
        if let Some(s) = self.sessions.get_mut(&broker) {
            s.controlled_shutdown_offset = None;
        }
        log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
            broker_id: broker,
            broker_epoch: epoch,
            fenced: Some(true),
            in_controlled_shutdown: None,
        });
        log.event(ControlEvent::Fenced { broker });
        true
    }
}
