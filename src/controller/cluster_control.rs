//! Broker membership on the active controller (Kafka's ClusterControlManager
//! and BrokerHeartbeatManager): registrations, heartbeats, fencing. The
//! registrations are in the metadata image; the heartbeat sessions are this
//! manager's own state.

use std::collections::BTreeMap;

use sim::Nanos;

use super::active::{ControlEvent, MetadataRecords};
use super::rpc::ControllerResponse;
use crate::errors::Errors;
use crate::metadata::{MetadataImage, MetadataRecord, Uuid};

/// A broker's fencing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fencing {
    /// It was fenced: its partitions must move.
    Fenced,
    /// It was unfenced: leaderless partitions may elect it.
    Unfenced,
}

/// Kafka's ClusterControlManager with its BrokerHeartbeatManager.
#[derive(Debug)]
pub struct ClusterControlManager {
    /// `broker.session.timeout.ms`, in nanoseconds.
    session_timeout_ns: Nanos,
    /// Last heartbeat (or registration) per broker.
    last_contact: BTreeMap<u32, Nanos>,
}

impl ClusterControlManager {
    /// As Kafka's BrokerHeartbeatManager on a new active controller: every
    /// registered broker of `image` starts with a fresh session at `now`.
    pub fn new(session_timeout_ns: Nanos, image: &MetadataImage, now: Nanos) -> Self {
        Self {
            session_timeout_ns,
            last_contact: image.brokers.keys().map(|&b| (b, now)).collect(),
        }
    }

    fn has_valid_session(&self, broker: u32, now: Nanos) -> bool {
        self.last_contact
            .get(&broker)
            .is_some_and(|&t| now.saturating_sub(t) < self.session_timeout_ns)
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
    pub fn register_broker(
        &mut self,
        log: &mut MetadataRecords,
        now: Nanos,
        broker_id: u32,
        incarnation_id: Uuid,
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
        self.last_contact.insert(broker_id, now);
        let response = ControllerResponse::BrokerRegistration {
            error: None,
            broker_epoch,
        };
        (response, existing.is_some_and(|old| !old.fenced))
    }

    /// BrokerHeartbeat: renews the session; unfences a broker whose metadata
    /// has caught up with its own registration, fences one that asks. The
    /// response's `is_fenced` is as before any change; the caller fills it in.
    pub fn broker_heartbeat(
        &mut self,
        log: &mut MetadataRecords,
        now: Nanos,
        broker_id: u32,
        broker_epoch: u64,
        current_metadata_offset: u64,
        want_fence: bool,
    ) -> (ControllerResponse, Option<Fencing>) {
        let refused = |error| ControllerResponse::BrokerHeartbeat {
            error: Some(error),
            is_caught_up: false,
            is_fenced: true,
        };
        let Some(registration) = log.image.brokers.get(&broker_id).cloned() else {
            return (refused(Errors::BrokerIdNotRegistered), None);
        };
        if registration.epoch != broker_epoch {
            return (refused(Errors::StaleBrokerEpoch), None);
        }
        self.last_contact.insert(broker_id, now);
        // Caught up: its image holds the record that registered it.
        let is_caught_up = current_metadata_offset > registration.epoch;
        let change = if registration.fenced && is_caught_up && !want_fence {
            log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
                broker_id,
                broker_epoch,
                fenced: false,
            });
            log.event(ControlEvent::Unfenced { broker: broker_id });
            Some(Fencing::Unfenced)
        } else if !registration.fenced && want_fence {
            self.fence_broker(log, broker_id).then_some(Fencing::Fenced)
        } else {
            None
        };
        let response = ControllerResponse::BrokerHeartbeat {
            error: None,
            is_caught_up,
            is_fenced: registration.fenced,
        };
        (response, change)
    }

    /// Fences `broker` (its session expired, or it asked); false when it is
    /// not registered.
    pub fn fence_broker(&mut self, log: &mut MetadataRecords, broker: u32) -> bool {
        let Some(epoch) = log.image.brokers.get(&broker).map(|b| b.epoch) else {
            return false;
        };
        log.emit(MetadataRecord::BrokerRegistrationChangeRecord {
            broker_id: broker,
            broker_epoch: epoch,
            fenced: true,
        });
        log.event(ControlEvent::Fenced { broker });
        true
    }
}
