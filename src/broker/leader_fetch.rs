//! Fetch on the leader (Kafka's ReplicaManager.fetchMessages and
//! DelayedFetch). Followers read to the log end and report their position
//! (which moves the high watermark and may grow the ISR); consumers read up
//! to the high watermark. Both are checked against the leader epoch they
//! believe current (KIP-320); a follower whose last fetched epoch is not in
//! the leader's log gets the diverging epoch to truncate to. An empty fetch
//! waits at the leader until data arrives or `max_wait_ms` passes.

use sim::{Ctx, NodeId};

use super::config::Truncation;
use super::replica_manager::{reply, ReplicaManager};
use super::server::{BrokerHost, BrokerTimer};
use crate::errors::Errors;
use crate::protocol::{FetchPartition, FetchedPartition, KafkaResponse, TopicPartition};

/// A fetch held at the leader until there is something to return.
#[derive(Clone, Debug)]
pub struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    replica: Option<(u32, u64)>,
    partitions: Vec<FetchPartition>,
}

impl ReplicaManager {
    pub(super) fn handle_fetch<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        replica: Option<(u32, u64)>,
        max_wait_ms: u64,
        partitions: Vec<FetchPartition>,
    ) {
        let now_ms = ctx.now() / sim::MILLIS;
        let answers = self.read_fetch(ctx, replica, &partitions, now_ms);
        let has_data = answers
            .iter()
            .any(|a| a.error.is_some() || !a.batches.is_empty() || a.diverging_epoch.is_some());
        if has_data || max_wait_ms == 0 {
            reply(
                ctx,
                from,
                correlation_id,
                KafkaResponse::Fetch {
                    partitions: answers,
                },
            );
            return;
        }
        let id = self.next_id();
        self.parked_fetches.insert(
            id,
            ParkedFetch {
                from,
                correlation_id,
                replica,
                partitions,
            },
        );
        ctx.set_timer(
            max_wait_ms * sim::MILLIS,
            BrokerTimer::FetchTimeout(id).into(),
        );
    }

    /// Reads what a fetch asks for, recording follower positions.
    fn read_fetch<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        replica: Option<(u32, u64)>,
        partitions: &[FetchPartition],
        now_ms: u64,
    ) -> Vec<FetchedPartition> {
        let mut answers = Vec::with_capacity(partitions.len());
        let mut moved = Vec::new();
        for req in partitions {
            let answer = self.read_partition(replica, req, now_ms);
            if replica.is_some() && answer.error.is_none() && answer.diverging_epoch.is_none() {
                moved.push(req.tp.clone());
            }
            answers.push(answer);
        }
        for tp in moved {
            self.maybe_advance_hw(ctx, &tp);
            if let Some(r) = self.partitions.get(&tp).and_then(|p| p.expand_candidate()) {
                let mut isr = self.partitions[&tp]
                    .leader_state()
                    .expect("leads")
                    .isr
                    .clone();
                isr.push(r);
                self.propose_isr(ctx, &tp, isr, now_ms);
            }
        }
        answers
    }

    fn read_partition(
        &mut self,
        replica: Option<(u32, u64)>,
        req: &FetchPartition,
        now_ms: u64,
    ) -> FetchedPartition {
        let mut answer = FetchedPartition {
            tp: req.tp.clone(),
            error: None,
            high_watermark: 0,
            log_end_offset: 0,
            diverging_epoch: None,
            batches: Vec::new(),
        };
        let Some(p) = self.partitions.get_mut(&req.tp).filter(|p| p.is_leader()) else {
            answer.error = Some(Errors::NotLeaderOrFollower);
            return answer;
        };
        if req.current_leader_epoch >= 0 {
            if req.current_leader_epoch < p.leader_epoch {
                answer.error = Some(Errors::FencedLeaderEpoch);
                return answer;
            }
            if req.current_leader_epoch > p.leader_epoch {
                answer.error = Some(Errors::UnknownLeaderEpoch);
                return answer;
            }
        }
        answer.high_watermark = p.log.high_watermark();
        answer.log_end_offset = p.log.log_end_offset();
        if let (Some(last_epoch), Some(_)) = (req.last_fetched_epoch, replica) {
            if self.config.truncation == Truncation::LeaderEpoch {
                let end = p.log.end_offset_for_epoch(last_epoch).unwrap_or((-1, 0));
                if end.0 < last_epoch || end.1 < req.fetch_offset {
                    answer.diverging_epoch = Some(end);
                    return answer;
                }
            }
        }
        let max_offset = match replica {
            Some(_) => p.log.log_end_offset(),
            None => p.log.high_watermark(),
        };
        if req.fetch_offset > p.log.log_end_offset() {
            answer.error = Some(Errors::OffsetOutOfRange);
            return answer;
        }
        if let Some((follower, broker_epoch)) = replica {
            if p.replicas.contains(&follower) {
                p.record_follower_fetch(follower, broker_epoch, req.fetch_offset, now_ms);
            }
        }
        answer.batches = p.log.read(
            req.fetch_offset,
            max_offset,
            self.config.replica_fetch_max_bytes,
        );
        answer
    }

    /// New data or a higher high watermark on `tp`: held fetches that can
    /// now return something are answered.
    pub(super) fn complete_parked_for<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        let ready: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, f)| {
                f.partitions.iter().any(|r| {
                    &r.tp == tp
                        && self.partitions.get(tp).is_some_and(|p| {
                            let limit = if f.replica.is_some() {
                                p.log.log_end_offset()
                            } else {
                                p.log.high_watermark()
                            };
                            limit > r.fetch_offset
                        })
                })
            })
            .map(|(&id, _)| id)
            .collect();
        for id in ready {
            self.answer_parked(ctx, id);
        }
    }

    /// Leadership of `tp` changed: held fetches naming it are answered now.
    pub(super) fn fail_parked_for<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        let ids: Vec<u64> = self
            .parked_fetches
            .iter()
            .filter(|(_, f)| f.partitions.iter().any(|r| &r.tp == tp))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.answer_parked(ctx, id);
        }
    }

    pub(super) fn expire_parked_fetch<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, id: u64) {
        self.answer_parked(ctx, id);
    }

    fn answer_parked<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, id: u64) {
        let Some(f) = self.parked_fetches.remove(&id) else {
            return;
        };
        let now_ms = ctx.now() / sim::MILLIS;
        let answers = self.read_fetch(ctx, f.replica, &f.partitions, now_ms);
        reply(
            ctx,
            f.from,
            f.correlation_id,
            KafkaResponse::Fetch {
                partitions: answers,
            },
        );
    }
}
