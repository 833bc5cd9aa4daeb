//! `ProducerStateManager`: per producer id, the epoch and the last five
//! batches' sequences and offsets, so a leader rejects out-of-order batches
//! and answers a retried duplicate with its original offset (Kafka's
//! ProducerStateManager / ProducerAppendInfo); and the partition's
//! transactions: those still open (their first offset holds back the last
//! stable offset), those whose marker the high watermark has not passed
//! yet, and the aborted ones (Kafka's transaction index, what a
//! read_committed fetch returns as `AbortedTransactions`). Rebuilt from the
//! log itself, so a new leader and a restarted broker know what was written.

use std::collections::{BTreeMap, VecDeque};

use crate::errors::Errors;
use crate::log::{AbortedRange, ControlRecordType, LastRecord, RecordBatch};

/// Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// One retained batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchMetadata {
    first_seq: i32,
    last_seq: i32,
    first_offset: u64,
    last_offset: u64,
}

#[derive(Clone, Debug)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// First offset of its open transaction in this partition.
    current_txn_first_offset: Option<u64>,
    /// The coordinator epoch of its last marker here (-1: none).
    coordinator_epoch: i32,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        Self {
            epoch: 0,
            batches: VecDeque::new(),
            current_txn_first_offset: None,
            coordinator_epoch: -1,
        }
    }
}

/// An aborted transaction of the partition (an entry of Kafka's
/// `TransactionIndex`, `AbortedTxn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbortedTxn {
    /// The transactional producer.
    pub producer_id: i64,
    /// Its first record in this partition.
    pub first_offset: u64,
    /// Its ABORT marker's offset.
    pub last_offset: u64,
    /// The last stable offset once it completed.
    pub last_stable_offset: u64,
}

/// A producer's transaction verification in progress at a partition
/// leader (Kafka's `VerificationStateEntry`, KIP-890 part 1): created
/// before the leader asks the transaction coordinator whether the
/// producer's transaction contains the partition, kept until the
/// producer's first transactional append (or a marker) here. Its guard is
/// unique, so a verification that raced with the transaction's end (a
/// marker cleared the entry, a new one was made) cannot let a stale append
/// in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct VerificationStateEntry {
    /// Kafka's `VerificationGuard`, a number unique per broker process.
    guard: u64,
    /// The lowest sequence seen while verifying: a higher one may not be
    /// appended before it (`maybeUpdateLowestSequenceAndEpoch`).
    lowest_sequence: i32,
    /// The epoch of that sequence.
    epoch: i16,
}

/// What a leader should do with an idempotent batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already in the log at this offset: answer with it, append nothing.
    Duplicate(u64),
    /// Reject it.
    Reject(Errors),
}

/// What a leader takes as the first batch of a producer it has no state
/// for (Kafka's `ProducerAppendInfo.checkSequence` with no producer epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownProducer {
    /// 2.4.1: sequence 0, else UNKNOWN_PRODUCER_ID.
    UnknownUnlessAtZero,
    /// KIP-360 (2.5.0): any sequence, "possibly because all producer
    /// records have been deleted due to retention" (KAFKA-15591's bug on a
    /// partition that never held a record).
    AnySequence,
    /// Sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER: KAFKA-15591's fix
    /// (Kafka 4.5) on a partition that never held a record, and
    /// KAFKA-18202 (4.1) for a verified transactions-v2 batch.
    OutOfOrderUnlessAtZero,
}

/// Producer state of one partition.
#[derive(Clone, Debug, Default)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerEntry>,
    /// Open transactions: first offset to producer id (Kafka's `ongoingTxns`).
    ongoing: BTreeMap<u64, i64>,
    /// Completed transactions whose marker is not below the high watermark
    /// yet: first offset to marker offset (Kafka's `unreplicatedTxns`).
    unreplicated: BTreeMap<u64, u64>,
    /// Aborted transactions, in marker order.
    aborted: Vec<AbortedTxn>,
    /// Transaction verifications in progress, by producer id (Kafka's
    /// `verificationStates`).
    verification: BTreeMap<i64, VerificationStateEntry>,
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq == last_seq.wrapping_add(1) || (next_seq == 0 && last_seq == i32::MAX)
}

impl ProducerStateManager {
    /// Checks a batch a leader is about to append (Kafka's
    /// `ProducerAppendInfo.checkSequence`). A producer this partition has
    /// no state for is taken as `unknown` says; one of the current epoch
    /// whose last sequence is lost (only a marker left) is
    /// OUT_OF_ORDER_SEQUENCE_NUMBER unless at 0, or UNKNOWN_PRODUCER_ID
    /// under 2.4.1's rule.
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
        unknown: UnknownProducer,
    ) -> SequenceCheck {
        if producer_id < 0 {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&producer_id) else {
            return match unknown {
                _ if first_seq == 0 => SequenceCheck::Append,
                UnknownProducer::AnySequence => SequenceCheck::Append,
                UnknownProducer::UnknownUnlessAtZero => {
                    SequenceCheck::Reject(Errors::UnknownProducerId)
                }
                UnknownProducer::OutOfOrderUnlessAtZero => {
                    SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber)
                }
            };
        };
        if epoch < entry.epoch {
            return SequenceCheck::Reject(Errors::InvalidProducerEpoch);
        }
        if epoch > entry.epoch {
            return if first_seq == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber)
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return SequenceCheck::Duplicate(dup.first_offset);
        }
        // Kafka's `ProducerAppendInfo.checkSequence`: with no batch of the
        // epoch retained (a marker of a bumped epoch cleared them, KIP-890
        // part 2), the last sequence is NO_SEQUENCE and only 0 follows.
        let last_seq = entry.batches.back().map_or(-1, |b| b.last_seq);
        if unknown == UnknownProducer::UnknownUnlessAtZero
            && entry.batches.is_empty()
            && first_seq != 0
        {
            return SequenceCheck::Reject(Errors::UnknownProducerId);
        }
        if in_sequence(last_seq, first_seq) {
            SequenceCheck::Append
        } else {
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber)
        }
    }

    /// Checks a transaction marker a leader is about to append for
    /// WriteTxnMarkers (Kafka's `ProducerAppendInfo.appendEndTxnMarker`):
    /// INVALID_PRODUCER_EPOCH when the producer has a newer epoch here,
    /// TRANSACTION_COORDINATOR_FENCED when a newer coordinator already
    /// wrote a marker for it.
    pub fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), Errors> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if producer_epoch < entry.epoch {
            return Err(Errors::InvalidProducerEpoch);
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return Err(Errors::TransactionCoordinatorFenced);
        }
        Ok(())
    }

    /// Kafka's epoch validation of an append a coordinator makes for a
    /// producer (`AppendOrigin.COORDINATOR`: no sequence to check): an
    /// epoch older than the producer's newest here is fenced.
    pub fn check_epoch(&self, producer_id: i64, producer_epoch: i16) -> Result<(), Errors> {
        match self.producers.get(&producer_id) {
            Some(entry) if producer_epoch < entry.epoch => Err(Errors::InvalidProducerEpoch),
            _ => Ok(()),
        }
    }

    /// Starts (or joins) a transaction verification of `producer_id`
    /// (Kafka's `maybeCreateVerificationStateEntry`): its guard, `new_guard`
    /// when none was in progress. A lower sequence of the same epoch, or a
    /// newer epoch, becomes the lowest sequence that may be appended next.
    pub fn maybe_create_verification_state_entry(
        &mut self,
        producer_id: i64,
        sequence: i32,
        epoch: i16,
        new_guard: u64,
    ) -> u64 {
        let entry = self
            .verification
            .entry(producer_id)
            .or_insert(VerificationStateEntry {
                guard: new_guard,
                lowest_sequence: sequence,
                epoch,
            });
        if epoch == entry.epoch && sequence < entry.lowest_sequence {
            entry.lowest_sequence = sequence;
        }
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.lowest_sequence = sequence;
        }
        entry.guard
    }

    /// Whether a transactional batch of `producer_id` may open a
    /// transaction here with the guard its produce request verified
    /// (Kafka's `batchMissingRequiredVerification` negated): the producer
    /// has a verification in progress with that very guard, and the batch
    /// is not above the lowest sequence being verified (else
    /// OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka's `ProducerAppendInfo`).
    pub fn check_verified(
        &self,
        producer_id: i64,
        first_seq: i32,
        guard: Option<u64>,
    ) -> Result<(), Errors> {
        match self.verification.get(&producer_id) {
            Some(e) if Some(e.guard) == guard => {
                if first_seq > e.lowest_sequence {
                    Err(Errors::OutOfOrderSequenceNumber)
                } else {
                    Ok(())
                }
            }
            _ => Err(Errors::InvalidTxnState),
        }
    }

    /// Records a batch now in the log (as leader, follower, or on recovery).
    pub fn update(&mut self, batch: &RecordBatch) {
        if batch.producer_id < 0 {
            return;
        }
        if batch.is_transactional() {
            // Kafka's `updateProducers`: a data batch opened the
            // transaction, or a marker ended it; either way the
            // verification is over.
            self.verification.remove(&batch.producer_id);
        }
        let entry = self.producers.entry(batch.producer_id).or_default();
        if batch.producer_epoch > entry.epoch {
            entry.epoch = batch.producer_epoch;
            entry.batches.clear();
        }
        if let Some(marker) = batch.end_txn_marker_of() {
            // Kafka's appendEndTxnMarker: the open transaction completes
            // (the leader checked the marker with `check_marker` first).
            entry.coordinator_epoch = marker.coordinator_epoch;
            let Some(first_offset) = entry.current_txn_first_offset.take() else {
                return;
            };
            self.ongoing.remove(&first_offset);
            let last_offset = batch.base_offset;
            self.unreplicated.insert(first_offset, last_offset);
            if marker.control_type == ControlRecordType::Abort {
                // Kafka's lastStableOffset(completedTxn): the first offset of
                // the next open transaction of another producer, else past
                // the marker.
                let last_stable_offset = self
                    .ongoing
                    .iter()
                    .find(|&(_, &pid)| pid != batch.producer_id)
                    .map_or(last_offset + 1, |(&first, _)| first);
                self.aborted.push(AbortedTxn {
                    producer_id: batch.producer_id,
                    first_offset,
                    last_offset,
                    last_stable_offset,
                });
            }
            return;
        }
        if batch.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(batch.base_offset);
            self.ongoing.insert(batch.base_offset, batch.producer_id);
        }
        entry.batches.push_back(BatchMetadata {
            first_seq: batch.base_sequence,
            last_seq: batch.last_sequence(),
            first_offset: batch.base_offset,
            last_offset: batch.last_offset(),
        });
        while entry.batches.len() > NUM_BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
    }

    /// The high watermark moved to `hw`: completed transactions whose
    /// marker it passed no longer hold the last stable offset back
    /// (Kafka's `onHighWatermarkUpdated`).
    pub fn on_high_watermark_updated(&mut self, hw: u64) {
        self.unreplicated.retain(|_, &mut marker| marker >= hw);
    }

    /// The first offset of a transaction not yet decided and replicated
    /// (Kafka's `firstUnstableOffset`): the last stable offset is this or
    /// the high watermark, whichever is lower.
    pub fn first_unstable_offset(&self) -> Option<u64> {
        let ongoing = self.ongoing.keys().next();
        let unreplicated = self.unreplicated.keys().next();
        ongoing.into_iter().chain(unreplicated).min().copied()
    }

    /// The open transactions here: (first offset, producer id, its epoch),
    /// oldest first.
    pub fn ongoing(&self) -> Vec<(u64, i64, i16)> {
        self.ongoing
            .iter()
            .map(|(&first, &pid)| {
                let epoch = self.producers.get(&pid).map_or(-1, |e| e.epoch);
                (first, pid, epoch)
            })
            .collect()
    }

    /// Whether `producer_id` has a transaction open here under
    /// `producer_epoch` (Kafka 4.x's `UnifiedLog.hasOngoingTransaction(producerId,
    /// producerEpoch)`): a batch of a newer epoch finds the transaction of
    /// an older one completed at the coordinator, its marker not yet here.
    pub fn has_ongoing_transaction(&self, producer_id: i64, producer_epoch: i16) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.current_txn_first_offset.is_some() && e.epoch == producer_epoch)
    }

    /// The first offset of `producer_id`'s open transaction here.
    pub fn open_transaction(&self, producer_id: i64) -> Option<u64> {
        self.producers.get(&producer_id)?.current_txn_first_offset
    }

    /// Aborted transactions overlapping `[start, upper)` (Kafka's
    /// `collectAbortedTransactions`): what a read_committed fetch from
    /// `start` up to `upper` is told to drop.
    pub fn aborted_transactions(&self, start: u64, upper: u64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|t| t.last_offset >= start && t.first_offset < upper)
            .copied()
            .collect()
    }

    /// The producers known here with their last data batch's last offset
    /// and epoch (Kafka's `lastRecordsOfActiveProducers`; producer ids
    /// never expire in this model): the batches the log cleaner keeps.
    pub fn last_records(&self) -> BTreeMap<i64, LastRecord> {
        self.producers
            .iter()
            .map(|(&pid, e)| {
                let last = LastRecord {
                    last_data_offset: e.batches.back().map(|b| b.last_offset),
                    producer_epoch: e.epoch,
                };
                (pid, last)
            })
            .collect()
    }

    /// Every aborted transaction, as the log cleaner takes them.
    pub fn aborted_ranges(&self) -> Vec<AbortedRange> {
        self.aborted
            .iter()
            .map(|t| AbortedRange {
                first_offset: t.first_offset,
                producer_id: t.producer_id,
            })
            .collect()
    }

    /// Forgets everything (before a rebuild after truncation).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Record;

    const ANY: UnknownProducer = UnknownProducer::AnySequence;
    const UNKNOWN: UnknownProducer = UnknownProducer::UnknownUnlessAtZero;
    const OUT_OF_ORDER: UnknownProducer = UnknownProducer::OutOfOrderUnlessAtZero;

    fn batch(offset: u64, seq: i32, n: usize, epoch: i16) -> RecordBatch {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                key: None,
                value: Some(vec![i as u8]),
                timestamp_ms: 0,
                headers: Vec::new(),
            })
            .collect();
        RecordBatch::of(offset, 0, (7, epoch, seq), &records)
    }

    #[test]
    fn an_unknown_producer_is_taken_at_any_sequence_from_kip_360_and_at_0_under_the_fixes() {
        let mut state = ProducerStateManager::default();
        for unknown in [ANY, UNKNOWN, OUT_OF_ORDER] {
            assert_eq!(state.check(7, 0, 0, 2, unknown), SequenceCheck::Append);
        }
        assert_eq!(state.check(7, 0, 3, 4, ANY), SequenceCheck::Append);
        assert_eq!(
            state.check(7, 0, 3, 4, UNKNOWN),
            SequenceCheck::Reject(Errors::UnknownProducerId),
            "2.4.1: no record of the producer"
        );
        assert_eq!(
            state.check(7, 0, 3, 4, OUT_OF_ORDER),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber),
            "KAFKA-15591's fix, KAFKA-18202: only sequence 0 starts a producer"
        );
        // A marker of a bumped epoch leaves the producer with no sequence.
        state.update(&batch(10, 0, 3, 0));
        let marker = RecordBatch::end_txn_marker(
            7,
            1,
            crate::log::EndTransactionMarker {
                control_type: ControlRecordType::Abort,
                coordinator_epoch: 0,
            },
            13,
        );
        state.update(&marker);
        for unknown in [ANY, UNKNOWN, OUT_OF_ORDER] {
            assert_eq!(state.check(7, 1, 0, 0, unknown), SequenceCheck::Append);
        }
        assert_eq!(
            state.check(7, 1, 3, 3, ANY),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber),
            "2.5.0: the next sequence is not known, only 0 follows"
        );
        assert_eq!(
            state.check(7, 1, 3, 3, UNKNOWN),
            SequenceCheck::Reject(Errors::UnknownProducerId),
            "2.4.1: the next expected sequence number is not known"
        );
        assert_eq!(
            state.check(7, 1, 3, 3, OUT_OF_ORDER),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn duplicates_answer_with_their_offset_and_gaps_are_rejected() {
        let mut state = ProducerStateManager::default();
        assert_eq!(state.check(7, 0, 0, 2, ANY), SequenceCheck::Append);
        assert_eq!(
            state.check(7, 0, 3, 4, ANY),
            SequenceCheck::Append,
            "a producer the partition has no state for is taken at any sequence (KIP-360)"
        );
        state.update(&batch(10, 0, 3, 0));
        state.update(&batch(13, 3, 2, 0));
        assert_eq!(state.check(7, 0, 0, 2, ANY), SequenceCheck::Duplicate(10));
        assert_eq!(state.check(7, 0, 5, 5, ANY), SequenceCheck::Append);
        assert_eq!(
            state.check(7, 0, 6, 6, ANY),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            state.check(7, 1, 3, 3, ANY),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber),
            "a new epoch starts at 0"
        );
        state.update(&batch(15, 0, 1, 1));
        assert_eq!(
            state.check(7, 0, 5, 5, ANY),
            SequenceCheck::Reject(Errors::InvalidProducerEpoch)
        );
    }

    #[test]
    fn a_verification_guard_lets_only_its_own_append_open_a_transaction() {
        let mut state = ProducerStateManager::default();
        let g = state.maybe_create_verification_state_entry(7, 3, 0, 11);
        assert_eq!(g, 11);
        assert_eq!(
            state.maybe_create_verification_state_entry(7, 0, 0, 12),
            11,
            "one verification at a time per producer"
        );
        assert_eq!(
            state.check_verified(7, 0, None),
            Err(Errors::InvalidTxnState)
        );
        assert_eq!(
            state.check_verified(7, 0, Some(12)),
            Err(Errors::InvalidTxnState)
        );
        assert_eq!(
            state.check_verified(7, 3, Some(11)),
            Err(Errors::OutOfOrderSequenceNumber),
            "the lowest sequence seen (0) goes first"
        );
        assert_eq!(state.check_verified(7, 0, Some(11)), Ok(()));
        // A marker ends the verification: a stale guard no longer verifies.
        let marker = RecordBatch::end_txn_marker(
            7,
            0,
            crate::log::EndTransactionMarker {
                control_type: ControlRecordType::Abort,
                coordinator_epoch: 0,
            },
            0,
        );
        state.update(&marker);
        assert_eq!(
            state.check_verified(7, 0, Some(11)),
            Err(Errors::InvalidTxnState)
        );
        assert!(!state.has_ongoing_transaction(7, 0));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut state = ProducerStateManager::default();
        for i in 0..6 {
            state.update(&batch(i as u64, i, 1, 0));
        }
        assert_eq!(state.check(7, 0, 5, 5, ANY), SequenceCheck::Duplicate(5));
        assert_eq!(state.check(7, 0, 1, 1, ANY), SequenceCheck::Duplicate(1));
        assert_eq!(
            state.check(7, 0, 0, 0, ANY),
            SequenceCheck::Reject(Errors::OutOfOrderSequenceNumber),
            "batch 0 fell out of the window"
        );
    }
}
