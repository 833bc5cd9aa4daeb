//! `PartitionChangeBuilder`: the one place a partition's leader, ISR and
//! eligible leader replicas change, after Kafka's
//! (`metadata/src/main/java/org/apache/kafka/controller/PartitionChangeBuilder.java`).
//!
//! Leader election keeps the current leader while it is in the target ISR and
//! acceptable (unfenced); otherwise the first replica in replica order that is
//! in the target ISR and acceptable; with an unclean election allowed and no
//! such replica, the first acceptable replica at all, whose ISR becomes just
//! itself and whose leader is RECOVERING. A leader change bumps the leader
//! epoch, and so does an ISR that loses members under metadata versions
//! before 3.6 (KAFKA-15021 stopped that:
//! `MetadataVersion.isLeaderEpochBumpRequiredOnIsrShrink`); every change
//! bumps the partition epoch.
//!
//! Without eligible leader replicas an ISR that would become empty is left
//! as it is (the last member stays, to be re-elected when it returns). With
//! them (KIP-966 part 1, `eligible.leader.replicas.version` 1, on for new
//! clusters from Kafka 4.1) the ISR may empty, and while the target ISR is
//! below the partition's min.insync.replicas (`maybePopulateTargetElr`)
//! every replica that was in the ISR and leaves it joins the ELR, unless it
//! shut down uncleanly; at or above min ISR the ELR is cleared. An ELR
//! member may be elected (a clean election) only when the ISR is empty: its
//! ISR becomes itself. With ISR and ELR both empty, the last known leader
//! (kept in `LastKnownElr` the first time the ISR emptied,
//! `maybeUpdateLastKnownLeader`) is elected if it is acceptable, as an
//! unclean election (RECOVERING): KIP-966 part 2's unclean recovery never
//! shipped, and KAFKA-19522 keeps a fenced last known leader out.

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
    /// True when the leader came from outside the ISR and the ELR (an
    /// unclean election, or the last known leader).
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
    /// KIP-966: `eligibleLeaderReplicasEnabled`.
    eligible_leader_replicas_enabled: bool,
    /// The topic's effective min.insync.replicas (`minISR`).
    min_isr: usize,
    target_elr: Vec<u32>,
    /// Replicas whose broker restarted after an unclean shutdown: they
    /// leave the ELR (`uncleanShutdownReplicas`).
    unclean_shutdown_replicas: Vec<u32>,
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
            eligible_leader_replicas_enabled: false,
            min_isr: 1,
            target_elr: partition.elr.clone(),
            unclean_shutdown_replicas: Vec::new(),
        }
    }

    /// Whether an ISR shrink bumps the leader epoch (metadata versions
    /// before 3.6; from 3.6 only the partition epoch, KAFKA-15021).
    pub fn set_bump_leader_epoch_on_isr_shrink(mut self, bump: bool) -> Self {
        self.bump_leader_epoch_on_isr_shrink = bump;
        self
    }

    /// Eligible leader replicas (KIP-966) on, with the topic's effective
    /// min.insync.replicas (`setEligibleLeaderReplicasEnabled`, `minISR`).
    pub fn set_eligible_leader_replicas(mut self, enabled: bool, min_isr: usize) -> Self {
        self.eligible_leader_replicas_enabled = enabled;
        self.min_isr = min_isr;
        self
    }

    /// Replicas that shut down uncleanly: kept out of the ELR
    /// (`setUncleanShutdownReplicas`).
    pub fn set_unclean_shutdown_replicas(mut self, replicas: Vec<u32>) -> Self {
        self.unclean_shutdown_replicas = replicas;
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

    /// In the target ISR, or in the target ELR while the ISR is empty, and
    /// acceptable (`isValidNewLeader`).
    fn is_valid_new_leader(&self, replica: u32) -> bool {
        (self.target_isr.contains(&replica)
            || (self.target_isr.is_empty() && self.target_elr.contains(&replica)))
            && (self.is_acceptable_leader)(replica)
    }

    /// The last known leader may be elected: ELR on, ISR and ELR empty, one
    /// last known leader and it is acceptable (`canElectLastKnownLeader`,
    /// with KAFKA-19522's check that it is not fenced).
    fn last_known_leader(&self) -> Option<u32> {
        if !self.eligible_leader_replicas_enabled
            || !self.target_elr.is_empty()
            || !self.target_isr.is_empty()
        {
            return None;
        }
        match self.partition.last_known_elr.as_slice() {
            &[last] if (self.is_acceptable_leader)(last) => Some(last),
            _ => None,
        }
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
        if let Some(last) = self.last_known_leader() {
            return ElectionResult {
                leader: Some(last),
                unclean: true,
            };
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

    /// The ELR the target ISR implies (`maybePopulateTargetElr`): cleared
    /// at or above min ISR; below it, the current ISR and ELR less the
    /// target ISR and the unclean replicas, in replica order. (Kafka 4.1
    /// also computes a last known ELR there, which it writes only without
    /// `useLastKnownLeaderInBalancedRecovery`, always on in 4.1.)
    fn populate_target_elr(&mut self) {
        if !self.eligible_leader_replicas_enabled {
            return;
        }
        if self.target_isr.len() >= self.min_isr {
            self.target_elr.clear();
            return;
        }
        // Kafka collects these in a HashSet; replica order is a
        // deterministic order of the same members.
        self.target_elr = self
            .partition
            .replicas
            .iter()
            .copied()
            .filter(|r| self.target_elr.contains(r) || self.partition.isr.contains(r))
            .filter(|r| !self.target_isr.contains(r))
            .filter(|r| !self.unclean_shutdown_replicas.contains(r))
            .collect();
    }

    /// The change record, or None when nothing changes.
    pub fn build(self) -> Option<MetadataRecord> {
        self.build_with_election().0
    }

    /// The change record (None when nothing changes) and who its election
    /// picked.
    pub fn build_with_election(mut self) -> (Option<MetadataRecord>, ElectionResult) {
        let elr_enabled = self.eligible_leader_replicas_enabled;
        self.populate_target_elr();
        let mut leader = NO_LEADER_CHANGE;
        let mut isr = None;
        let mut recovery = None;
        let elected = self.elect_leader();
        if elected.leader != self.partition.leader {
            leader = elected.leader.map_or(NO_LEADER, |l| l as i32);
            if let Some(l) = elected.leader.filter(|l| self.target_elr.contains(l)) {
                // Elected from the ELR: its ISR is itself (`tryElection`).
                self.target_isr = vec![l];
                self.target_elr.retain(|&r| r != l);
            }
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
        // `maybeUpdateRecordElr`: an unclean election (or ELR off) clears
        // the ELR fields; a leaderless partition keeps its last known leader.
        if isr.is_some() || !elr_enabled {
            self.target_elr.clear();
        }
        let elr = (self.target_elr != self.partition.elr).then(|| self.target_elr.clone());
        // With ELR off the ISR never empties; with it on it may.
        if isr.is_none()
            && (!self.target_isr.is_empty() || elr_enabled)
            && self.target_isr != self.partition.isr
        {
            isr = Some(self.target_isr.clone());
        }
        // `maybeUpdateLastKnownLeader` (4.1): the first time the ISR empties
        // the leader it had is the last known one; a partition that has or
        // keeps a leader clears it.
        let mut last_known_elr = None;
        if elr_enabled {
            let emptied = isr.as_ref().is_some_and(|i| i.is_empty());
            let known = self.partition.last_known_elr.as_slice();
            if emptied && known != self.partition.leader.as_slice() {
                // Kafka writes [-1] for a partition that had no leader,
                // which no election takes; ksim writes it as empty.
                last_known_elr = Some(self.partition.leader.into_iter().collect());
            } else if (leader >= 0 || (self.partition.leader.is_some() && leader != NO_LEADER))
                && !known.is_empty()
            {
                last_known_elr = Some(Vec::new());
            }
        }
        if leader == NO_LEADER_CHANGE
            && isr.is_none()
            && recovery.is_none()
            && elr.is_none()
            && last_known_elr.is_none()
        {
            return (None, elected);
        }
        let record = MetadataRecord::PartitionChangeRecord {
            partition_id: self.partition_id,
            topic_id: self.topic_id,
            isr,
            leader,
            leader_recovery_state: recovery,
            eligible_leader_replicas: elr,
            last_known_elr,
        };
        (Some(record), elected)
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
            ..Default::default()
        }
    }

    fn change(isr: Option<Vec<u32>>, leader: i32, recovering: bool) -> Option<MetadataRecord> {
        Some(MetadataRecord::PartitionChangeRecord {
            partition_id: 0,
            topic_id: Uuid(1),
            isr,
            leader,
            leader_recovery_state: recovering.then_some(LeaderRecoveryState::Recovering),
            eligible_leader_replicas: None,
            last_known_elr: None,
        })
    }

    /// A change with ELR fields: `elr` and `last_known` as Some(..) when set.
    fn elr_change(
        isr: Option<Vec<u32>>,
        leader: i32,
        recovering: bool,
        elr: Option<Vec<u32>>,
        last_known: Option<Vec<u32>>,
    ) -> Option<MetadataRecord> {
        Some(MetadataRecord::PartitionChangeRecord {
            partition_id: 0,
            topic_id: Uuid(1),
            isr,
            leader,
            leader_recovery_state: recovering.then_some(LeaderRecoveryState::Recovering),
            eligible_leader_replicas: elr,
            last_known_elr: last_known,
        })
    }

    fn with_elr(
        mut p: PartitionRegistration,
        elr: &[u32],
        last_known: &[u32],
    ) -> PartitionRegistration {
        p.elr = elr.to_vec();
        p.last_known_elr = last_known.to_vec();
        p
    }

    #[test]
    fn elr_a_shrink_to_min_isr_adds_nobody_and_one_below_it_adds_who_left() {
        let all = |_: u32| true;
        // 3 replicas, min ISR 2: [1,2,3] -> [1,2] is at min ISR: no ELR.
        let p = partition(&[1, 2, 3], &[1, 2, 3], Some(1));
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 2)
            .set_target_isr(vec![1, 2])
            .build();
        assert_eq!(record, change(Some(vec![1, 2]), NO_LEADER_CHANGE, false));
        // [1,2] -> [1] goes below: 2 joins the ELR, 3 (gone earlier) does not.
        let p = partition(&[1, 2, 3], &[1, 2], Some(1));
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 2)
            .set_target_isr(vec![1])
            .build();
        assert_eq!(
            record,
            elr_change(Some(vec![1]), NO_LEADER_CHANGE, false, Some(vec![2]), None)
        );
        // Straight from [1,2,3] to [1]: both leave below min ISR, both join.
        let p = partition(&[1, 2, 3], &[1, 2, 3], Some(1));
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 2)
            .set_target_isr(vec![1])
            .build();
        assert_eq!(
            record,
            elr_change(
                Some(vec![1]),
                NO_LEADER_CHANGE,
                false,
                Some(vec![2, 3]),
                None
            )
        );
        // ELR off: the same shrink writes no ELR.
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_target_isr(vec![1])
            .build();
        assert_eq!(record, change(Some(vec![1]), NO_LEADER_CHANGE, false));
    }

    #[test]
    fn elr_the_last_isr_member_leaves_into_the_elr_and_is_the_last_known_leader() {
        // ISR [1] (ELR [2]), leader 1 fenced: the ISR empties, 1 joins the
        // ELR, nobody can lead (2 is fenced too) and 1 is the last known leader.
        let p = with_elr(partition(&[1, 2, 3], &[1], Some(1)), &[2], &[]);
        let alive = |b: u32| b == 3;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_eligible_leader_replicas(true, 2)
            .set_target_isr(vec![])
            .build();
        assert_eq!(
            record,
            elr_change(
                Some(vec![]),
                NO_LEADER,
                false,
                Some(vec![1, 2]),
                Some(vec![1])
            )
        );
        // Without ELR the last member stays in the ISR.
        let plain = partition(&[1, 2, 3], &[1], Some(1));
        let record = PartitionChangeBuilder::new(&plain, Uuid(1), 0, &alive)
            .set_target_isr(vec![])
            .build();
        assert_eq!(record, change(None, NO_LEADER, false));
    }

    #[test]
    fn elr_is_cleared_when_the_isr_is_back_at_min_isr() {
        let all = |_: u32| true;
        let p = with_elr(partition(&[1, 2, 3], &[2], Some(2)), &[1, 3], &[]);
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 2)
            .set_target_isr(vec![2, 1])
            .build();
        assert_eq!(
            record,
            elr_change(
                Some(vec![2, 1]),
                NO_LEADER_CHANGE,
                false,
                Some(vec![]),
                None
            )
        );
        // min.insync.replicas 1: an ISR of one is enough, no ELR at all.
        let p = partition(&[1, 2, 3], &[1, 2], Some(1));
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 1)
            .set_target_isr(vec![1])
            .build();
        assert_eq!(record, change(Some(vec![1]), NO_LEADER_CHANGE, false));
    }

    #[test]
    fn elr_election_order_isr_then_an_unfenced_elr_member_then_the_last_known_leader() {
        // Leaderless, ISR empty, ELR [2, 3] with 2 fenced: 3 is elected,
        // cleanly, with the ISR [3]; the last known leader is cleared.
        let p = with_elr(partition(&[1, 2, 3], &[], None), &[2, 3], &[1]);
        let alive = |b: u32| b != 2;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &alive)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(
            record,
            elr_change(Some(vec![3]), 3, false, Some(vec![2]), Some(vec![]))
        );
        // Only 1 (the last known leader) is alive, but the ELR is not
        // empty: no election, nothing changes.
        let only1 = |b: u32| b == 1;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &only1)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(record, None);
        // ISR and ELR empty: the last known leader, if alive, is elected
        // as an unclean election (RECOVERING).
        let p = with_elr(partition(&[1, 2, 3], &[], None), &[], &[1]);
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &only1)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(
            record,
            elr_change(Some(vec![1]), 1, true, None, Some(vec![]))
        );
        // Fenced, it is not (KAFKA-19522).
        let none = |_: u32| false;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &none)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(record, None);
        // An ELR member never outranks the ISR: ISR [2] leads.
        let p = with_elr(partition(&[1, 2, 3], &[2], None), &[3], &[]);
        let all = |_: u32| true;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &all)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(record, change(None, 2, false));
    }

    #[test]
    fn elr_an_unclean_shutdown_replica_leaves_the_elr() {
        // ISR empty, ELR [1, 2], broker 1 restarted uncleanly: the ELR is [2].
        let p = with_elr(partition(&[1, 2, 3], &[], None), &[1, 2], &[1]);
        let not1 = |b: u32| b != 1 && b != 2;
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &not1)
            .set_eligible_leader_replicas(true, 2)
            .set_unclean_shutdown_replicas(vec![1])
            .build();
        assert_eq!(
            record,
            elr_change(None, NO_LEADER_CHANGE, false, Some(vec![2]), None)
        );
        // A clean restart keeps it.
        let record = PartitionChangeBuilder::new(&p, Uuid(1), 0, &not1)
            .set_eligible_leader_replicas(true, 2)
            .build();
        assert_eq!(record, None);
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
