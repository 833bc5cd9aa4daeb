//! Whether the transactional producer can bump its epoch itself (KIP-360,
//! KAFKA-8710, Kafka 2.5.0): Kafka's `coordinatorSupportsBumpingEpoch`,
//! set by `TransactionManager.handleCoordinatorReady` when the
//! coordinator's ApiVersions offer InitProducerId v3 (v0-2 at 2.4.1, v0-3
//! at 2.5.0: `InitProducerIdRequest.json`), and what 3.8.0's producer does
//! without it (`[protocol] transactional_epoch_bump = false`, a 2.4.1
//! coordinator): an abortable error aborts and the next transaction goes
//! on in the same epoch (`maybeTransitionToErrorState` sets no
//! `epochBumpRequired`); UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_ID_MAPPING
//! answered to AddPartitionsToTxn or AddOffsetsToTxn
//! (`abortableErrorIfPossible`), and a batch it can no longer retry
//! (`maybeResolveSequences`), are fatal. An idempotent producer's bump is
//! local and unaffected (`canBumpEpoch` is true without a
//! `transactional.id`).

use super::{TransactionManager, TxnStep};
use crate::errors::Errors;
use crate::protocol::TopicIdPartition;

/// Kafka's message of the fatal error of `maybeResolveSequences`.
pub const UNACKED_MESSAGES_FATAL: &str = "The client hasn't received acknowledgment for some \
     previously sent messages and can no longer retry them. It isn't safe to continue.";

impl TransactionManager {
    /// `handleCoordinatorReady`: whether the coordinator's ApiVersions
    /// offer InitProducerId v3 or later (every modelled release; 2.4.1's
    /// stop at v2).
    pub fn set_coordinator_supports_bumping_epoch(&mut self, supported: bool) {
        self.coordinator_supports_bumping_epoch = supported;
    }

    /// Kafka's `canBumpEpoch` (this manager is always transactional).
    pub fn can_bump_epoch(&self) -> bool {
        self.coordinator_supports_bumping_epoch
    }

    /// Whether a coordinator's answer `error` is fatal because the epoch
    /// cannot be bumped: Kafka's `abortableErrorIfPossible` of
    /// AddPartitionsToTxn and AddOffsetsToTxn for UNKNOWN_PRODUCER_ID and
    /// INVALID_PRODUCER_ID_MAPPING.
    pub(super) fn fatal_without_epoch_bump(&self, error: Errors) -> bool {
        !self.can_bump_epoch()
            && matches!(
                error,
                Errors::UnknownProducerId | Errors::InvalidProducerIdMapping
            )
    }

    /// Kafka's `markSequenceUnresolved`: a batch of `tp` in retry (sent
    /// before) expired; the partition's sequences are resolved once it has
    /// nothing in flight. Only without the bump: with it, the expiry
    /// already aborts the transaction and bumps the epoch
    /// (`on_send_failed`), and every sequence starts over.
    pub fn mark_sequence_unresolved(&mut self, tp: TopicIdPartition, next_sequence: i32) {
        if self.can_bump_epoch() {
            return;
        }
        let next = self
            .partitions_with_unresolved_sequences
            .entry(tp)
            .or_insert(next_sequence);
        *next = (*next).max(next_sequence);
    }

    /// Kafka's `maybeResolveSequences`: for each unresolved partition with
    /// nothing in flight any more, `drained` says whether its next
    /// sequence follows its last acknowledged one (None while batches of
    /// it are in flight or in retry). If it does, the expired batch was
    /// written after all; if not, records may be lost and, without the
    /// epoch bump, it "isn't safe to continue": a fatal error.
    pub fn maybe_resolve_sequences(
        &mut self,
        mut drained: impl FnMut(&TopicIdPartition) -> Option<bool>,
    ) -> TxnStep {
        let mut fatal = false;
        self.partitions_with_unresolved_sequences
            .retain(|tp, _| match drained(tp) {
                None => true,
                Some(next) => {
                    fatal |= !next;
                    false
                }
            });
        if fatal {
            self.transition_to_fatal_error();
            return TxnStep::Fatal(UNACKED_MESSAGES_FATAL);
        }
        TxnStep::None
    }
}
