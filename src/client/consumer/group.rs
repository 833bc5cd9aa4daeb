//! The consumer's group side: FindCoordinator, the membership's requests
//! and what its rebalances mean for the partitions it reads (revoke with a
//! last commit, lose without one, fetch committed offsets of new ones), and
//! OffsetCommit / OffsetFetch.

use sim::Nanos;

use super::{
    App, Commit, CommitPurpose, Consumer, ConsumerObs, InFlight, Owned, PositionSource, Processing,
};
use crate::client::membership::MembershipOutput;
use crate::errors::Errors;
use crate::group::coordinator::{CoordinatorRequest, CoordinatorResponse};
use crate::node::Env;
use crate::protocol::{
    CoordinatorType, IsolationLevel, KafkaRequest, KafkaResponse, TopicPartition,
};

/// Commit errors a commitSync retries (Kafka's RetriableCommitFailedException causes).
pub(super) fn retriable(error: Errors) -> bool {
    matches!(
        error,
        Errors::NotCoordinator
            | Errors::CoordinatorNotAvailable
            | Errors::CoordinatorLoadInProgress
            | Errors::RequestTimedOut
    )
}

impl Consumer {
    /// Lets the membership act (find, join, heartbeat) once metadata is known.
    pub(super) fn drive_membership(&mut self, env: &mut Env<'_>) {
        let Some(count) = self.partition_count else {
            return;
        };
        // A leader whose assignment was made with other partition counts
        // rejoins (ConsumerCoordinator: "cached metadata has changed").
        self.membership.check_metadata_of(&self.config.topic, count);
        // An eager rejoin revokes first and, when that commits, joins after
        // the commit: a second turn sends the JoinGroup when nothing waits.
        for _ in 0..2 {
            let ready = self.revoke_commits == 0 && !matches!(self.app, App::Processing { .. });
            self.membership.set_join_ready(ready);
            let mut out = Vec::new();
            self.membership.poll(env.now_ms(), &mut out);
            if out.is_empty() {
                break;
            }
            self.apply_membership(env, out);
        }
    }

    fn apply_membership(&mut self, env: &mut Env<'_>, out: Vec<MembershipOutput>) {
        for o in out {
            match o {
                MembershipOutput::FindCoordinator => {
                    if !self.find_in_flight {
                        self.find_in_flight = true;
                        let broker = self.random_broker(env);
                        let request = KafkaRequest::FindCoordinator {
                            key_type: CoordinatorType::Group,
                            key: self.config.membership.group_id.clone(),
                        };
                        self.send(env, broker, request, InFlight::FindCoordinator);
                    }
                }
                MembershipOutput::Send(broker, request) => {
                    let request = KafkaRequest::Group {
                        group_id: self.config.membership.group_id.clone(),
                        request: Box::new(request),
                    };
                    self.send(env, broker, request, InFlight::Membership);
                }
                MembershipOutput::Assigned {
                    generation_id,
                    added,
                } => {
                    for tp in added {
                        self.incarnations += 1;
                        let incarnation = self.incarnations;
                        self.owned.entry(tp.partition).or_insert_with(|| Owned {
                            incarnation,
                            ..Owned::default()
                        });
                    }
                    env.observe(ConsumerObs::Assigned {
                        generation: generation_id,
                        member_id: self.membership.member_id().to_owned(),
                        partitions: self.owned.keys().copied().collect(),
                    });
                }
                MembershipOutput::Revoked(tps) => {
                    if self.config.processing == Processing::AtLeastOnce {
                        let generation = self.membership.generation_id();
                        let offsets = self.processed_offsets(&tps);
                        if self.send_commit(env, CommitPurpose::Revoke, generation, offsets) {
                            self.revoke_commits += 1;
                        }
                    }
                    self.release(env, &tps, false);
                }
                MembershipOutput::Lost(tps) => self.release(env, &tps, true),
                MembershipOutput::Fatal(error) => self.stop_on(env, error),
            }
        }
    }

    fn release(&mut self, env: &mut Env<'_>, tps: &[TopicPartition], lost: bool) {
        let partitions: Vec<u32> = tps.iter().map(|tp| tp.partition).collect();
        if !self.config.mutations.ignore_revocation {
            for p in &partitions {
                self.owned.remove(p);
            }
        }
        self.releases += 1;
        env.observe(ConsumerObs::Released { partitions, lost });
    }

    /// (partition, offset after the last processed record, its epoch) of `tps`.
    fn processed_offsets(&self, tps: &[TopicPartition]) -> Vec<(u32, u64, i32)> {
        tps.iter()
            .filter_map(|tp| {
                let o = self.owned.get(&tp.partition)?;
                Some((tp.partition, o.processed?, o.last_epoch.unwrap_or(-1)))
            })
            .collect()
    }

    /// Sends an OffsetCommit; false when there is no coordinator or generation to send it with.
    pub(super) fn send_commit(
        &mut self,
        env: &mut Env<'_>,
        purpose: CommitPurpose,
        generation: i32,
        offsets: Vec<(u32, u64, i32)>,
    ) -> bool {
        let Some(coordinator) = self.membership.coordinator() else {
            return false;
        };
        if offsets.is_empty() || generation < 0 {
            return false;
        }
        let request = KafkaRequest::Group {
            group_id: self.config.membership.group_id.clone(),
            request: Box::new(CoordinatorRequest::OffsetCommit {
                generation_id: generation,
                member_id: self.membership.member_id().to_owned(),
                group_instance_id: self.config.membership.group_instance_id.clone(),
                offsets: offsets
                    .iter()
                    .map(|&(p, o, e)| (TopicPartition::new(&self.config.topic, p), o, e))
                    .collect(),
            }),
        };
        env.observe(ConsumerObs::CommitSent {
            generation,
            offsets: offsets.iter().map(|&(p, o, _)| (p, o)).collect(),
        });
        let commit = Commit {
            purpose,
            generation,
            offsets,
        };
        self.send(env, coordinator, request, InFlight::Commit(commit));
        true
    }

    /// OffsetFetch for owned partitions without a position.
    pub(super) fn resolve_positions(&mut self, env: &mut Env<'_>) {
        let Some(coordinator) = self.membership.coordinator() else {
            return;
        };
        if !self.membership.is_stable() {
            return;
        }
        let now_ms = env.now_ms();
        let wanted: Vec<u32> = self
            .owned
            .iter()
            .filter(|(_, o)| o.position.is_none() && !o.resolving && o.retry_at_ms <= now_ms)
            .map(|(&p, _)| p)
            .collect();
        if wanted.is_empty() {
            return;
        }
        for p in &wanted {
            if let Some(o) = self.owned.get_mut(p) {
                o.resolving = true;
            }
        }
        let request = KafkaRequest::Group {
            group_id: self.config.membership.group_id.clone(),
            request: Box::new(CoordinatorRequest::OffsetFetch {
                partitions: wanted
                    .iter()
                    .map(|&p| TopicPartition::new(&self.config.topic, p))
                    .collect(),
                // KIP-447: a read_committed consumer waits for offsets
                // committed in transactions still open.
                require_stable: self.config.isolation_level == IsolationLevel::ReadCommitted,
            }),
        };
        let requested_at = env.now();
        self.send(
            env,
            coordinator,
            request,
            InFlight::OffsetFetch {
                requested_at,
                partitions: wanted,
            },
        );
    }

    /// Answers to the group requests.
    pub(super) fn on_group_response(
        &mut self,
        env: &mut Env<'_>,
        what: InFlight,
        response: KafkaResponse,
    ) {
        let now_ms = env.now_ms();
        let mut out = Vec::new();
        // A coordinator's answer (Ok) or another response (Err).
        let response = match response {
            KafkaResponse::Group(response) => Ok(*response),
            other => Err(other),
        };
        match (what, response) {
            (InFlight::FindCoordinator, Err(KafkaResponse::FindCoordinator { error, node_id })) => {
                self.find_in_flight = false;
                let found = match error {
                    Some(e) => Err(e),
                    None => Ok(node_id as u32),
                };
                self.membership.on_find_coordinator(now_ms, found, &mut out);
            }
            (InFlight::Membership, Ok(response)) => {
                let partitions = self.partitions_per_topic();
                self.membership
                    .on_response(now_ms, &partitions, response, &mut out);
            }
            (InFlight::Commit(commit), Ok(CoordinatorResponse::OffsetCommit { results })) => {
                let error = results.iter().find_map(|(_, e)| *e);
                if let Some(e) = error {
                    self.membership.on_offsets_error(now_ms, e, &mut out);
                }
                self.apply_membership(env, std::mem::take(&mut out));
                self.on_commit_done(env, commit, error);
            }
            (
                InFlight::OffsetFetch {
                    requested_at,
                    partitions,
                },
                Ok(CoordinatorResponse::OffsetFetch { error, offsets }),
            ) => {
                let retry_at_ms = now_ms + self.config.retry_backoff_ms;
                for p in partitions {
                    if let Some(o) = self.owned.get_mut(&p) {
                        o.resolving = false;
                        if error.is_some() {
                            o.retry_at_ms = retry_at_ms;
                        }
                    }
                }
                match error {
                    Some(e) => self.membership.on_offsets_error(now_ms, e, &mut out),
                    None => self.on_offset_fetch(env, requested_at, offsets),
                }
            }
            _ => {}
        }
        self.apply_membership(env, out);
    }

    fn on_offset_fetch(
        &mut self,
        env: &mut Env<'_>,
        requested_at: Nanos,
        offsets: Vec<(TopicPartition, Option<(u64, i32)>)>,
    ) {
        for (tp, committed) in offsets {
            let p = tp.partition;
            if self.owned.get(&p).is_none_or(|o| o.position.is_some()) {
                continue;
            }
            match committed {
                Some((offset, epoch)) => {
                    self.set_position(env, p, offset, PositionSource::Committed { requested_at });
                    if let Some(o) = self.owned.get_mut(&p) {
                        o.last_epoch = (epoch >= 0).then_some(epoch);
                    }
                }
                None => self.reset_position(env, p, PositionSource::Reset { requested_at }),
            }
        }
    }

    /// A commit ended (`error` None: committed).
    pub(super) fn on_commit_done(
        &mut self,
        env: &mut Env<'_>,
        commit: Commit,
        error: Option<Errors>,
    ) {
        env.observe(ConsumerObs::Committed {
            generation: commit.generation,
            offsets: commit.offsets.iter().map(|&(p, o, _)| (p, o)).collect(),
            error,
        });
        if commit.purpose == CommitPurpose::Revoke {
            self.revoke_commits = self.revoke_commits.saturating_sub(1);
        }
        if commit.purpose != CommitPurpose::Sync {
            return;
        }
        let App::Committing {
            records,
            in_flight,
            started_ms,
            ..
        } = &mut self.app
        else {
            return;
        };
        *in_flight = false;
        let now_ms = env.now_ms();
        let timed_out = now_ms.saturating_sub(*started_ms) >= self.config.default_api_timeout_ms;
        match error {
            None => {
                let records = records.take();
                self.app = App::Idle;
                if let Some(records) = records {
                    self.start_processing(env, records, false);
                }
            }
            // commitSync retries these until default.api.timeout.ms.
            Some(e) if retriable(e) && !timed_out => {}
            // CommitFailedException: at-most-once drops the poll unprocessed.
            Some(_) => self.app = App::Idle,
        }
    }
}
