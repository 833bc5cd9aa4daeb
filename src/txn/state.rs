//! The states of a transaction at its coordinator (Kafka's
//! `TransactionState`), with the transitions Kafka allows between them.

/// Where a transactional id's current transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionState {
    /// No transaction yet, or none since the last one completed.
    Empty,
    /// Partitions (or a group's offsets) were added: a transaction is open.
    Ongoing,
    /// EndTxn(commit) was written; the COMMIT markers are being sent.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fencing was written; the ABORT
    /// markers are being sent.
    PrepareAbort,
    /// Every COMMIT marker was written.
    CompleteCommit,
    /// Every ABORT marker was written.
    CompleteAbort,
    /// The transactional id expired and is about to be removed.
    Dead,
    /// A new producer instance is fencing the old one's epoch (followed by
    /// PrepareAbort of the old instance's open transaction).
    PrepareEpochFence,
}

impl TransactionState {
    /// Every state, in the order of Kafka's state ids.
    pub const ALL: [TransactionState; 8] = [
        TransactionState::Empty,
        TransactionState::Ongoing,
        TransactionState::PrepareCommit,
        TransactionState::PrepareAbort,
        TransactionState::CompleteCommit,
        TransactionState::CompleteAbort,
        TransactionState::Dead,
        TransactionState::PrepareEpochFence,
    ];

    /// Its id in a `__transaction_state` record.
    pub fn id(self) -> u8 {
        match self {
            TransactionState::Empty => 0,
            TransactionState::Ongoing => 1,
            TransactionState::PrepareCommit => 2,
            TransactionState::PrepareAbort => 3,
            TransactionState::CompleteCommit => 4,
            TransactionState::CompleteAbort => 5,
            TransactionState::Dead => 6,
            TransactionState::PrepareEpochFence => 7,
        }
    }

    /// The state of record id `id`.
    pub fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Its name as DescribeTransactions shows it.
    pub fn name(self) -> &'static str {
        match self {
            TransactionState::Empty => "Empty",
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::Dead => "Dead",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether a transaction may move to this state from `from`. PrepareAbort
    /// may follow Empty and the complete states since transactions v2
    /// (KIP-890): a client unsure of the coordinator's state aborts.
    pub fn may_follow(self, from: TransactionState) -> bool {
        use TransactionState::*;
        match self {
            Empty => matches!(from, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(from, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => from == Ongoing,
            PrepareAbort => matches!(
                from,
                Ongoing | PrepareEpochFence | Empty | CompleteCommit | CompleteAbort
            ),
            CompleteCommit => from == PrepareCommit,
            CompleteAbort => from == PrepareAbort,
            Dead => matches!(from, Empty | CompleteAbort | CompleteCommit),
            PrepareEpochFence => from == Ongoing,
        }
    }

    /// Whether a transactional id in this state may expire
    /// (`transactional.id.expiration.ms`).
    pub fn expiration_allowed(self) -> bool {
        use TransactionState::*;
        matches!(self, Empty | CompleteCommit | CompleteAbort)
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionState::{self, *};

    #[test]
    fn ids_round_trip_and_names_are_kafkas() {
        for s in TransactionState::ALL {
            assert_eq!(TransactionState::from_id(s.id()), Some(s));
        }
        assert_eq!(TransactionState::from_id(8), None);
        assert_eq!(PrepareEpochFence.name(), "PrepareEpochFence");
        assert_eq!(CompleteAbort.id(), 5);
    }

    #[test]
    fn a_commit_is_prepared_only_from_an_open_transaction() {
        let from: Vec<_> = TransactionState::ALL
            .into_iter()
            .filter(|&s| PrepareCommit.may_follow(s))
            .collect();
        assert_eq!(from, [Ongoing]);
        let abort_from: Vec<_> = TransactionState::ALL
            .into_iter()
            .filter(|&s| PrepareAbort.may_follow(s))
            .collect();
        assert_eq!(
            abort_from,
            [
                Empty,
                Ongoing,
                CompleteCommit,
                CompleteAbort,
                PrepareEpochFence
            ]
        );
        assert!(!CompleteCommit.may_follow(PrepareAbort));
        assert!(
            !Ongoing.may_follow(PrepareCommit),
            "a transaction ends first"
        );
    }
}
