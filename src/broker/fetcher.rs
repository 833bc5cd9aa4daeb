//! The follower side of replication (Kafka's ReplicaFetcherThread): one
//! fetcher per leader broker, one Fetch in flight carrying every partition
//! this broker follows from it, each with its current leader epoch (KIP-320)
//! and last fetched epoch. A diverging epoch in the answer truncates the log
//! where it parted from the leader's (KIP-101/KIP-279); batches are appended
//! as they came; the high watermark follows the leader's.

use std::collections::BTreeSet;

use sim::{Ctx, NodeId};

use super::config::Truncation;
use super::partition::Role;
use super::replica_manager::{rebuild_producer_state, ReplicaManager};
use super::server::{BrokerHost, BrokerObs, BrokerTimer};
use crate::protocol::{
    broker_at, FetchPartition, FetchedPartition, KafkaMsg, KafkaRequest, TopicPartition,
};

/// A fetched partition as the request named it: leader epoch and fetch offset.
type Sent = Vec<(TopicPartition, i32, u64)>;

/// One fetcher: the partitions of its request in flight.
#[derive(Clone, Debug, Default)]
pub struct FetcherState {
    in_flight: Option<(u64, Sent)>,
    retry_pending: bool,
}

impl ReplicaManager {
    /// A partition now follows `leader`: its fetcher starts if idle (the
    /// fetcher picks its partitions from their roles at every request).
    pub(super) fn start_following<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, leader: u32) {
        let f = self.fetchers.entry(leader).or_default();
        if f.in_flight.is_none() && !f.retry_pending {
            self.send_fetch(ctx, leader);
        }
    }

    /// Sends the fetcher's next Fetch to `leader` (partitions waiting for a
    /// log flush stay out until it is done).
    pub(super) fn send_fetch<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, leader: u32) {
        let Some(broker_epoch) = self.broker_epoch else {
            self.fetch_retry(ctx, leader);
            return;
        };
        let flushing: BTreeSet<&TopicPartition> = self.flushes.values().map(|g| &g.tp).collect();
        let mut partitions = Vec::new();
        let mut sent = Vec::new();
        for (tp, p) in &self.partitions {
            if p.role != (Role::Follower { leader }) || flushing.contains(tp) {
                continue;
            }
            let last_fetched_epoch = match self.config.truncation {
                Truncation::LeaderEpoch => p.log.latest_epoch(),
                Truncation::HighWatermark => None,
            };
            let fetch_offset = p.log.log_end_offset();
            partitions.push(FetchPartition {
                tp: tp.clone(),
                current_leader_epoch: p.leader_epoch,
                fetch_offset,
                last_fetched_epoch,
            });
            sent.push((tp.clone(), p.leader_epoch, fetch_offset));
        }
        let f = self.fetchers.entry(leader).or_default();
        f.retry_pending = false;
        if partitions.is_empty() {
            f.in_flight = None;
            return;
        }
        let Some(&node) = self.broker_nodes.get(&leader) else {
            return;
        };
        self.next_id += 1;
        let correlation_id = self.next_id;
        let f = self.fetchers.get_mut(&leader).expect("present");
        f.in_flight = Some((correlation_id, sent));
        let request = KafkaRequest::Fetch {
            replica: Some((self.me, broker_epoch)),
            max_wait_ms: self.config.replica_fetch_wait_max_ms,
            partitions,
        };
        ctx.send(
            node,
            KafkaMsg::Request {
                correlation_id,
                request,
            }
            .into(),
        );
        ctx.set_timer(
            self.config.replica_socket_timeout_ms * sim::MILLIS,
            BrokerTimer::FetcherTimeout(leader, correlation_id).into(),
        );
    }

    /// A fetch went unanswered for `replica.socket.timeout.ms`: give it up.
    pub(super) fn on_fetcher_timeout<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        leader: u32,
        correlation_id: u64,
    ) {
        let stuck = self.fetchers.get(&leader).is_some_and(|f| {
            f.in_flight
                .as_ref()
                .is_some_and(|(c, _)| *c == correlation_id)
        });
        if stuck {
            self.fetch_retry(ctx, leader);
        }
    }

    /// The fetcher's backoff ended.
    pub(super) fn on_fetcher_retry<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, leader: u32) {
        let f = self.fetchers.entry(leader).or_default();
        f.retry_pending = false;
        if f.in_flight.is_none() {
            self.send_fetch(ctx, leader);
        }
    }

    fn fetch_retry<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, leader: u32) {
        let f = self.fetchers.entry(leader).or_default();
        f.in_flight = None;
        if !f.retry_pending {
            f.retry_pending = true;
            ctx.set_timer(
                self.config.replica_fetch_backoff_ms * sim::MILLIS,
                BrokerTimer::FetcherRetry(leader).into(),
            );
        }
    }

    /// A flush of `tp` finished: its fetcher may go on.
    pub(super) fn fetch_after_flush<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        tp: &TopicPartition,
    ) {
        if let Some(Role::Follower { leader }) = self.partitions.get(tp).map(|p| p.role.clone()) {
            let idle = self
                .fetchers
                .get(&leader)
                .is_none_or(|f| f.in_flight.is_none() && !f.retry_pending);
            if idle {
                self.send_fetch(ctx, leader);
            }
        }
    }

    /// The connection to `peer` broke: its fetcher backs off and retries.
    pub fn on_disconnect<N: BrokerHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        let leader = broker_at(&self.broker_nodes, peer);
        if let Some(leader) = leader {
            if self
                .fetchers
                .get(&leader)
                .is_some_and(|f| f.in_flight.is_some())
            {
                self.fetch_retry(ctx, leader);
            }
        }
    }

    /// The leader answered a fetch.
    pub fn on_fetch_response<N: BrokerHost>(
        &mut self,
        ctx: &mut Ctx<'_, N>,
        from: NodeId,
        correlation_id: u64,
        answers: Vec<FetchedPartition>,
    ) {
        let Some(leader) = broker_at(&self.broker_nodes, from) else {
            return;
        };
        let Some(f) = self.fetchers.get_mut(&leader) else {
            return;
        };
        let sent = match &f.in_flight {
            Some((c, sent)) if *c == correlation_id => sent.clone(),
            _ => return,
        };
        f.in_flight = None;
        let now_ms = ctx.now() / sim::MILLIS;
        let mut errors = false;
        for answer in answers {
            let Some(&(_, epoch, fetch_offset)) = sent.iter().find(|(tp, ..)| *tp == answer.tp)
            else {
                continue;
            };
            let tp = answer.tp.clone();
            let Some(p) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if p.role != (Role::Follower { leader })
                || p.leader_epoch != epoch
                || p.log.log_end_offset() != fetch_offset
            {
                continue;
            }
            if answer.error.is_some() {
                errors = true;
                continue;
            }
            let mut out = Vec::new();
            if let Some((div_epoch, div_end)) = answer.diverging_epoch {
                // Kafka's truncateOnFetchResponse: to where both logs last agree.
                let target = match p.log.end_offset_for_epoch(div_epoch) {
                    Some((e, end)) if e == div_epoch => end.min(div_end),
                    Some((_, end)) => end,
                    None => 0,
                };
                let target = target.min(p.log.log_end_offset());
                let lost = p.log.log_end_offset() - target;
                if p.log.truncate_to(target, &mut out) {
                    rebuild_producer_state(p);
                    ctx.observe(
                        BrokerObs::Truncated {
                            partition: tp.to_string(),
                            to_offset: target,
                            records: lost,
                        }
                        .into(),
                    );
                }
            } else {
                for batch in answer.batches {
                    if batch.next_offset() <= p.log.log_end_offset() {
                        continue;
                    }
                    p.producers.update(&batch);
                    if p.log.append_as_follower(batch, now_ms, &mut out).is_err() {
                        errors = true;
                        break;
                    }
                }
                let hw = answer.high_watermark.min(p.log.log_end_offset());
                if hw > p.log.high_watermark() {
                    p.log.update_high_watermark(hw);
                }
            }
            self.apply_log(ctx, &tp, out);
        }
        if errors {
            self.fetch_retry(ctx, leader);
        } else {
            self.send_fetch(ctx, leader);
        }
    }
}
