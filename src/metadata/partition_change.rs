//! `PartitionChangeBuilder`: the one place a partition's leader and ISR
//! change, after Kafka's (3.x, before eligible leader replicas).
//!
//! Leader election keeps the current leader while it is in the target ISR and
//! acceptable (unfenced); otherwise the first replica in replica order that is
//! in the target ISR and acceptable; with an unclean election allowed and no
//! such replica, the first acceptable replica at all, whose ISR becomes just
//! itself and whose leader is RECOVERING. An ISR that would become empty is
//! left as it is (the last member stays, to be re-elected when it returns).
//! A leader change bumps the leader epoch, and so does an ISR that loses
//! members under metadata versions before 3.6 (KAFKA-15021 stopped that:
//! `MetadataVersion.isLeaderEpochBumpRequiredOnIsrShrink`); every change
//! bumps the partition epoch.

use super::image::PartitionRegistration;
use super::records::{LeaderRecoveryState, MetadataRecord, NO_LEADER, NO_LEADER_CHANGE};
use super::Uuid;

/// Kafka's election types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Election {
    /// Elect the preferred replica if it is in the ISR.
    Preferred,
    /// Elect from the ISR to keep the partition online.
    Online,
    /// Prefer the ISR, but take any acceptable replica rather than stay offline.
    Unclean,
}

/// Who an election picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionResult {
    /// The leader, or None (NO_LEADER).
    pub leader: Option<u32>,
    /// True when the leader came from outside the ISR.
    pub unclean: bool,
}

/// Builds the PartitionChangeRecord (if any) for one partition.
pub struct PartitionChangeBuilder<'a> {
    partition: &'a PartitionRegistration,
    topic_id: Uuid,
    partition_id: u32,
    is_acceptable_leader: &'a dyn Fn(u32) -> bool,
    target_isr: Vec<u32>,
    election: Election,
    bump_leader_epoch_on_isr_shrink: bool,
}

impl<'a> PartitionChangeBuilder<'a> {
    /// A builder for `partition`; `is_acceptable_leader` says which brokers may lead (unfenced).
    pub fn new(
        partition: &'a PartitionRegistration,
        topic_id: Uuid,
        partition_id: u32,
        is_acceptable_leader: &'a dyn Fn(u32) -> bool,
    ) -> Self {
        Self {
            partition,
            topic_id,
            partition_id,
            is_acceptable_leader,
            target_isr: partition.isr.clone(),
            election: Election::Online,
            bump_leader_epoch_on_isr_shrink: false,
        }
    }

    /// Whether an ISR shrink bumps the leader epoch (metadata versions
    /// before 3.6; from 3.6 only the partition epoch, KAFKA-15021).
    pub fn set_bump_leader_epoch_on_isr_shrink(mut self, bump: bool) -> Self {
        self.bump_leader_epoch_on_isr_shrink = bump;
        self
    }

    /// The ISR the change aims for.
    pub fn set_target_isr(mut self, isr: Vec<u32>) -> Self {
        self.target_isr = isr;
        self
    }

    /// The election type.
    pub fn set_election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    fn is_valid_new_leader(&self, replica: u32) -> bool {
        self.target_isr.contains(&replica) && (self.is_acceptable_leader)(replica)
    }

    /// Runs the election.
    pub fn elect_leader(&self) -> ElectionResult {
        let clean = |leader| ElectionResult {
            leader,
            unclean: false,
        };
        let replicas = &self.partition.replicas;
        if self.election == Election::Preferred {
            if let Some(&preferred) = replicas.first() {
                if self.is_valid_new_leader(preferred) {
                    return clean(Some(preferred));
                }
            }
        }
        if let Some(current) = self.partition.leader {
            if self.is_valid_new_leader(current) {
                return clean(Some(current));
            }
        }
        if let Some(&r) = replicas.iter().find(|&&r| self.is_valid_new_leader(r)) {
            return clean(Some(r));
        }
        if self.election == Election::Unclean {
            if let Some(&r) = replicas.iter().find(|&&r| (self.is_acceptable_leader)(r)) {
                return ElectionResult {
                    leader: Some(r),
                    unclean: true,
                };
            }
        }
        clean(None)
    }

    /// The change record, or None when nothing changes.
    pub fn build(self) -> Option<MetadataRecord> {
        let mut leader = NO_LEADER_CHANGE;
        let mut isr = None;
        let mut recovery = None;
        let elected = self.elect_leader();
        if elected.leader != self.partition.leader {
            leader = elected.leader.map_or(NO_LEADER, |l| l as i32);
            if elected.unclean {
                // The new leader's log is all there is: the ISR is just it.
                isr = elected.leader.map(|l| vec![l]);
                if self.partition.leader_recovery_state != LeaderRecoveryState::Recovering {
                    recovery = Some(LeaderRecoveryState::Recovering);
                }
            }
        }
        // Before 3.6, losing ISR members bumps the leader epoch even when
        // the leader stays (Kafka's triggerLeaderEpochBumpIfNeeded).
        if leader == NO_LEADER_CHANGE
            && self.bump_leader_epoch_on_isr_shrink
            && !self
                .partition
                .isr
                .iter()
                .all(|r| self.target_isr.contains(r))
        {
            leader = self.partition.leader_i32();
        }
        if isr.is_none() && !self.target_isr.is_empty() && self.target_isr != self.partition.isr {
            isr = Some(self.target_isr.clone());
        }
        if leader == NO_LEADER_CHANGE && isr.is_none() && recovery.is_none() {
            return None;
        }
        Some(MetadataRecord::PartitionChangeRecord {
            partition_id: self.partition_id,
            topic_id: self.topic_id,
            isr,
            leader,
            leader_recovery_state: recovery,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(replicas: &[u32], isr: &[u32], leader: Option<u32>) -> PartitionRegistration {
        PartitionRegistration {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 4,
            partition_epoch: 9,
            leader_recovery_state: LeaderRecoveryState::Recovered,
        }
    }

    fn change(isr: Option<Vec<u32>>, leader: i32, recovering: bool) -> Option<MetadataRecord> {
        Some(MetadataRecord::PartitionChangeRecord {
            partition_id: 0,
            topic_id: Uuid(1),
            isr,
            leader,
            leader_recovery_state: recovering.then_some(LeaderRecoveryState::Recovering),
        })
    }

    #[test]
    fn fencing_the_leader_elects_the_next_isr_replica_in_replica_order() {
        let p = partition(&[1, 2, 3], &[1, 3, 2], Some(1));
        let alive = |b: u32| b != 1;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_target_isr(vec![3, 2])
            .build();
        assert_eq!(record, change(Some(vec![3, 2]), 2, false));
    }

    #[test]
    fn a_valid_leader_is_kept_and_a_shrink_bumps_the_leader_epoch_only_before_3_6() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], Some(1));
        let alive = |b: u32| b != 3;
        // 3.6 on (KAFKA-15021): the ISR changes, the leader epoch does not.
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_target_isr(vec![1, 2])
            .build();
        assert_eq!(record, change(Some(vec![1, 2]), NO_LEADER_CHANGE, false));
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_target_isr(vec![1, 2])
            .set_bump_leader_epoch_on_isr_shrink(true)
            .build();
        assert_eq!(record, change(Some(vec![1, 2]), 1, false), "before 3.6");
        // Nothing to change: no record.
        let all = |_: u32| true;
        assert_eq!(
            PartitionChangeBuilder::new(&p, Uuid(1), 0, &all).build(),
            None
        );
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_offline() {
        let p = partition(&[1, 2], &[1], Some(1));
        let alive = |b: u32| b != 1;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_target_isr(vec![])
            .build();
        assert_eq!(record, change(None, NO_LEADER, false));
    }

    #[test]
    fn unclean_election_takes_a_live_replica_outside_the_isr() {
        let p = partition(&[1, 2, 3], &[1], None);
        let alive = |b: u32| b == 3;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_election(Election::Unclean)
            .build();
        assert_eq!(record, change(Some(vec![3]), 3, true));
        let online = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive).build();
        assert_eq!(online, None, "a clean election finds no one");
    }

    #[test]
    fn preferred_election_moves_leadership_back() {
        let p = partition(&[1, 2, 3], &[1, 2, 3], Some(2));
        let all = |_: u32| true;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_election(Election::Preferred)
            .build();
        assert_eq!(record, change(None, 1, false));
    }
}
