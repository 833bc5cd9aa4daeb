//! Produce on the leader (Kafka's ReplicaManager.appendRecords and
//! DelayedProduce): acks=0 and acks=1 answer after the local append; acks=all
//! checks the ISR against min.insync.replicas (NOT_ENOUGH_REPLICAS), appends,
//! and answers once the high watermark passes the batch (or with
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below the minimum,
//! REQUEST_TIMED_OUT after the request's timeout, NOT_LEADER_OR_FOLLOWER if
//! leadership moved). A batch that a log flush covers (log.flush.interval.*)
//! is answered only once the flush is on disk, as Kafka flushes inside the append.

use sim::{Ctx, NodeId};

use super::producer_state::SequenceCheck;
use super::replica_manager::{reply, DelayedProduce, ReplicaManager};
use super::server::{BrokerHost, BrokerTimer};
use crate::errors::Errors;
use crate::protocol::{KafkaResponse, ProduceData, ProduceResult, TopicPartition};

impl ReplicaManager {
    pub(super) fn handle_produce<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        acks: i16,
        timeout_ms: u64,
        partitions: Vec<ProduceData>,
    ) {
        let now_ms = ctx.now() / sim::MILLIS;
        let mut parts = Vec::new();
        for data in partitions {
            let tp = data.tp.clone();
            let Some(p) = self.partitions.get_mut(&tp).filter(|p| p.is_leader()) else {
                parts.push((tp, 0, -1, Some(Some(Errors::NotLeaderOrFollower))));
                continue;
            };
            if acks == -1 && p.isr_size() < p.min_insync {
                parts.push((tp, 0, -1, Some(Some(Errors::NotEnoughReplicas))));
                continue;
            }
            let n = data.records.len() as i32;
            let last_seq = if data.base_sequence < 0 {
                -1
            } else {
                data.base_sequence.wrapping_add(n - 1)
            };
            match p.producers.check(
                data.producer_id,
                data.producer_epoch,
                data.base_sequence,
                last_seq,
            ) {
                SequenceCheck::Reject(e) => parts.push((tp, 0, -1, Some(Some(e)))),
                SequenceCheck::Duplicate(offset) => {
                    let end = offset + data.records.len() as u64;
                    parts.push((tp, end, offset as i64, None));
                }
                SequenceCheck::Append => {
                    let mut out = Vec::new();
                    let epoch = p.leader_epoch;
                    let batch = p.log.append_as_leader(
                        data.records,
                        data.producer_id,
                        data.producer_epoch,
                        data.base_sequence,
                        epoch,
                        now_ms,
                        &mut out,
                    );
                    p.producers.update(&batch);
                    parts.push((
                        tp.clone(),
                        batch.next_offset(),
                        batch.base_offset as i64,
                        None,
                    ));
                    self.apply_log(ctx, &tp, out);
                    self.complete_parked_for(ctx, &tp);
                    self.maybe_advance_hw(ctx, &tp);
                }
            }
        }
        if acks == 0 {
            return;
        }
        let id = self.next_id();
        let delayed = DelayedProduce {
            from,
            correlation_id,
            acks,
            parts,
            internal: None,
        };
        self.delayed_produces.insert(id, delayed);
        self.try_complete_produces(ctx, None);
        if self.delayed_produces.contains_key(&id) {
            ctx.set_timer(
                timeout_ms * sim::MILLIS,
                BrokerTimer::ProduceTimeout(id).into(),
            );
        }
    }

    /// Completes delayed produces whose partitions are answered (all, or
    /// those touching `tp`).
    pub(super) fn try_complete_produces<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: Option<&TopicPartition>,
    ) {
        let ids: Vec<u64> = self
            .delayed_produces
            .iter()
            .filter(|(_, d)| tp.is_none_or(|tp| d.parts.iter().any(|p| &p.0 == tp)))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            let mut d = self.delayed_produces.remove(&id).expect("listed");
            for part in &mut d.parts {
                if part.3.is_some() {
                    continue;
                }
                let Some(p) = self.partitions.get(&part.0).filter(|p| p.is_leader()) else {
                    part.3 = Some(Some(Errors::NotLeaderOrFollower));
                    continue;
                };
                let required = part.1;
                // A flush this append started must be on disk first.
                let flushed =
                    p.log.recovery_point() >= required || !self.flush_pending(&part.0, required);
                if !flushed {
                    continue;
                }
                if d.acks == 1 {
                    part.3 = Some(None);
                } else if p.log.high_watermark() >= required {
                    let maximal = p.leader_state().map_or(0, |l| l.maximal_isr().len());
                    part.3 = Some(if maximal < p.min_insync {
                        Some(Errors::NotEnoughReplicasAfterAppend)
                    } else {
                        None
                    });
                }
            }
            if d.parts.iter().all(|p| p.3.is_some()) {
                self.respond_produce(ctx, d);
            } else {
                self.delayed_produces.insert(id, d);
            }
        }
    }

    /// True while a flush of `tp` covering `offset` is in flight.
    fn flush_pending(&self, tp: &TopicPartition, offset: u64) -> bool {
        self.flushes
            .values()
            .any(|g| &g.tp == tp && g.upto >= offset)
    }

    pub(super) fn respond_produce<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        d: DelayedProduce,
    ) {
        if let Some(id) = d.internal {
            let error = d
                .parts
                .into_iter()
                .find_map(|(.., answer)| answer.flatten());
            self.on_internal_append_done(ctx, id, error);
            return;
        }
        let partitions = d
            .parts
            .into_iter()
            .map(|(tp, _, base, answer)| {
                let error = answer.flatten();
                ProduceResult {
                    tp,
                    error,
                    base_offset: if error.is_some() { -1 } else { base },
                }
            })
            .collect();
        reply(
            ctx,
            d.from,
            d.correlation_id,
            KafkaResponse::Produce { partitions },
        );
    }

    /// Leadership of `tp` moved: what waited on it fails with NOT_LEADER_OR_FOLLOWER.
    pub(super) fn fail_delayed_for<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        for d in self.delayed_produces.values_mut() {
            for part in &mut d.parts {
                if &part.0 == tp && part.3.is_none() {
                    part.3 = Some(Some(Errors::NotLeaderOrFollower));
                }
            }
        }
        self.try_complete_produces(ctx, Some(tp));
    }
}
