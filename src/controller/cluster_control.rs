//! Broker membership on the active controller (Kafka's ClusterControlManager
//! and BrokerHeartbeatManager): registration, heartbeats, fencing.

use sim::Nanos;

use super::active::{ActiveController, ControlEvent};
use super::rpc::ControllerResponse;
use crate::errors::Errors;
use crate::metadata::{MetadataRecord, Uuid};

/// Producer ids per AllocateProducerIds block (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

impl ActiveController {
    fn has_valid_session(&self, broker: u32, now: Nanos) -> bool {
        self.last_contact
            .get(&broker)
            .is_some_and(|&t| now.saturating_sub(t) < self.config.session_timeout_ns)
    }

    /// BrokerRegistration: a new registration record, fenced, whose offset is
    /// the broker epoch. Another incarnation with a live session is refused
    /// (DUPLICATE_BROKER_REGISTRATION) until its session expires.
    pub(super) fn register_broker(
        &mut self,
        now: Nanos,
        broker_id: u32,
        incarnation_id: Uuid,
    ) -> ControllerResponse {
        let existing = self.image.brokers.get(&broker_id).cloned();
        if let Some(old) = &existing {
            if old.incarnation_id != incarnation_id && self.has_valid_session(broker_id, now) {
                return ControllerResponse::BrokerRegistration {
                    error: Some(Errors::DuplicateBrokerRegistration),
                    broker_epoch: 0,
                };
            }
        }
        let broker_epoch = self.next_offset;
        self.emit(MetadataRecord::RegisterBrokerRecord {
            broker_id,
            incarnation_id,
            broker_epoch,
            fenced: true,
        });
        self.events.push(ControlEvent::Registered {
            broker: broker_id,
            epoch: broker_epoch,
        });
        if existing.is_some_and(|old| !old.fenced) {
            // The old registration led partitions: they move as on fencing.
            self.move_leadership_off(broker_id);
        }
        self.last_contact.insert(broker_id, now);
        ControllerResponse::BrokerRegistration {
            error: None,
            broker_epoch,
        }
    }

    /// BrokerHeartbeat: renews the session; unfences a broker whose metadata
    /// has caught up with its own registration.
    pub(super) fn broker_heartbeat(
        &mut self,
        now: Nanos,
        broker_id: u32,
        broker_epoch: u64,
        current_metadata_offset: u64,
        want_fence: bool,
    ) -> ControllerResponse {
        let Some(registration) = self.image.brokers.get(&broker_id).cloned() else {
            return ControllerResponse::BrokerHeartbeat {
                error: Some(Errors::BrokerIdNotRegistered),
                is_caught_up: false,
                is_fenced: true,
            };
        };
        if registration.epoch != broker_epoch {
            return ControllerResponse::BrokerHeartbeat {
                error: Some(Errors::StaleBrokerEpoch),
                is_caught_up: false,
                is_fenced: true,
            };
        }
        self.last_contact.insert(broker_id, now);
        // Caught up: its image holds the record that registered it.
        let is_caught_up = current_metadata_offset > registration.epoch;
        if registration.fenced && is_caught_up && !want_fence {
            self.unfence_broker(broker_id, broker_epoch);
        } else if !registration.fenced && want_fence {
            self.fence_broker(broker_id);
        }
        ControllerResponse::BrokerHeartbeat {
            error: None,
            is_caught_up,
            is_fenced: !self.image.is_unfenced(broker_id),
        }
    }

    /// AllocateProducerIds: the next block of `PRODUCER_ID_BLOCK_SIZE` ids
    /// (Kafka's ProducerIdControlManager).
    pub(super) fn allocate_producer_ids(
        &mut self,
        broker_id: u32,
        broker_epoch: u64,
    ) -> ControllerResponse {
        if self.image.brokers.get(&broker_id).map(|b| b.epoch) != Some(broker_epoch) {
            return ControllerResponse::AllocateProducerIds {
                error: Some(Errors::StaleBrokerEpoch),
                producer_id_start: -1,
                producer_id_len: 0,
            };
        }
        let start = self.image.next_producer_id;
        self.emit(MetadataRecord::ProducerIdsRecord {
            broker_id,
            broker_epoch,
            next_producer_id: start + PRODUCER_ID_BLOCK_SIZE,
        });
        ControllerResponse::AllocateProducerIds {
            error: None,
            producer_id_start: start,
            producer_id_len: PRODUCER_ID_BLOCK_SIZE,
        }
    }

    /// Fences `broker` and moves its leaderships and ISR memberships.
    pub(super) fn fence_broker(&mut self, broker: u32) {
        let Some(epoch) = self.image.brokers.get(&broker).map(|b| b.epoch) else {
            return;
        };
        self.emit(MetadataRecord::BrokerRegistrationChangeRecord {
            broker_id: broker,
            broker_epoch: epoch,
            fenced: true,
        });
        self.events.push(ControlEvent::Fenced { broker });
        self.move_leadership_off(broker);
    }

    fn unfence_broker(&mut self, broker: u32, epoch: u64) {
        self.emit(MetadataRecord::BrokerRegistrationChangeRecord {
            broker_id: broker,
            broker_epoch: epoch,
            fenced: false,
        });
        self.events.push(ControlEvent::Unfenced { broker });
        self.elect_leaderless_partitions();
    }
}
