//! The consumer's data path (Kafka's Fetcher and OffsetsRequestManager):
//! metadata, Fetch from each leader up to the high watermark (or, with
//! `isolation.level` read_committed, the last stable offset) into a buffer
//! per partition, position validation after a leader change (KIP-320), and
//! ListOffsets for `auto.offset.reset`.

use std::collections::BTreeMap;

use rand::Rng;
use sim::MILLIS;

use super::completed_fetch::read_completed_fetch;
use super::{Consumer, ConsumerObs, ConsumerTimer, InFlight, PositionSource};
use crate::errors::Errors;
use crate::node::{Env, KafkaNodeId};
use crate::protocol::{
    FetchMetadata, FetchPartition, FetchedPartition, IsolationLevel, KafkaRequest, KafkaResponse,
    PartitionMetadata, TopicIdPartition, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP,
};

use super::OffsetReset;

impl Consumer {
    /// Which records fetched data gives the application (a test mutation
    /// keeps aborted ones under read_committed).
    fn returned_isolation(&self) -> IsolationLevel {
        if self.config.mutations.keep_aborted_records {
            IsolationLevel::ReadUncommitted
        } else {
            self.config.isolation_level
        }
    }

    pub(super) fn refresh_metadata(&mut self, env: &mut Env<'_>) {
        if self.metadata_in_flight || self.brokers.is_empty() {
            return;
        }
        let broker = self.random_broker(env);
        let request = KafkaRequest::Metadata {
            topics: vec![self.config.topic.clone()],
        };
        self.metadata_in_flight = true;
        self.send(env, broker, request, InFlight::Metadata);
    }

    pub(super) fn random_broker(&self, env: &mut Env<'_>) -> KafkaNodeId {
        self.brokers[env.rng().random_range(0..self.brokers.len())]
    }

    /// The current leader epoch a request carries: the metadata's, or -1
    /// (none) before KIP-320's consumer part.
    fn sent_epoch(&self, epoch: i32) -> i32 {
        if self.config.leader_epoch_validation {
            epoch
        } else {
            -1
        }
    }

    fn tp(&self, partition: u32) -> TopicIdPartition {
        TopicIdPartition::new(self.config.topic_id, partition)
    }

    /// Answers to the data-path requests.
    pub(super) fn on_data_response(
        &mut self,
        env: &mut Env<'_>,
        broker: u32,
        what: InFlight,
        response: KafkaResponse,
    ) {
        let backoff = self.config.retry_backoff_ms * MILLIS;
        match (what, response) {
            (InFlight::Metadata, KafkaResponse::Metadata { topics }) => {
                self.metadata_in_flight = false;
                let parts = topics
                    .into_iter()
                    .find(|(t, _)| *t == self.config.topic)
                    .map(|(_, p)| p);
                match parts {
                    Some(parts) if !parts.is_empty() => self.on_metadata(env, parts),
                    None if self.partition_count.is_some_and(|n| n > 0) => {
                        // The metadata has the topic no more: it was
                        // deleted (a broker not caught up with the metadata
                        // yet names it without partitions instead).
                        // Its partition count is 0 now, which differs from
                        // what the group's assignment was made with: the
                        // member rejoins and is assigned nothing of it
                        // (Kafka's ConsumerCoordinator on a metadata change).
                        // The client asks again after each backoff while
                        // the topic is unknown (Kafka's Metadata requests
                        // an update on UNKNOWN_TOPIC_OR_PARTITION), so a
                        // topic created again is found.
                        self.partition_count = Some(0);
                        self.leaders.clear();
                        env.set_timer_after(backoff, ConsumerTimer::Metadata);
                    }
                    _ => {
                        env.set_timer_after(backoff, ConsumerTimer::Metadata);
                    }
                }
            }
            (InFlight::Fetch(asked), KafkaResponse::Fetch { partitions, .. }) => {
                self.fetching.remove(&broker);
                for (p, _) in &asked {
                    if let Some(o) = self.owned.get_mut(p) {
                        o.fetching = false;
                    }
                }
                self.on_fetch(env, broker, &asked, partitions);
            }
            (
                InFlight::Validate(p),
                KafkaResponse::OffsetForLeaderEpoch {
                    error, end_offset, ..
                },
            ) => {
                let Some(o) = self.owned.get_mut(&p) else {
                    return;
                };
                o.validating = false;
                if error.is_some() {
                    env.set_timer_after(backoff, ConsumerTimer::Metadata);
                    return;
                }
                let Some(position) = o.position else {
                    return;
                };
                if end_offset < position {
                    o.position = Some(end_offset);
                    o.processed = o.processed.map(|x| x.min(end_offset));
                    o.drop_fetched();
                    env.observe(ConsumerObs::TruncationDetected {
                        partition: p,
                        position,
                        end_offset,
                    });
                    env.observe(ConsumerObs::Position {
                        partition: p,
                        offset: end_offset,
                        source: PositionSource::Truncation,
                    });
                }
            }
            (
                InFlight::ListOffsets(p, source),
                KafkaResponse::ListOffsets { error, offset, .. },
            ) => {
                let Some(o) = self.owned.get_mut(&p) else {
                    return;
                };
                o.resolving = false;
                if error.is_some() {
                    o.retry_at_ms = env.now_ms() + self.config.retry_backoff_ms;
                    env.set_timer_after(backoff, ConsumerTimer::Metadata);
                    return;
                }
                self.set_position(env, p, offset, source);
            }
            _ => {}
        }
    }

    /// Takes a start position for `partition` (from a commit or a reset).
    pub(super) fn set_position(
        &mut self,
        env: &mut Env<'_>,
        partition: u32,
        offset: u64,
        source: PositionSource,
    ) {
        let skip = u64::from(self.config.mutations.skip_after_position);
        let Some(o) = self.owned.get_mut(&partition) else {
            return;
        };
        o.position = Some(offset + skip);
        o.processed = Some(offset + skip);
        o.drop_fetched();
        env.observe(ConsumerObs::Position {
            partition,
            offset,
            source,
        });
    }

    /// ListOffsets for an owned partition without a committed offset
    /// (`source` Reset: when the OffsetFetch that found none was sent) or
    /// whose position was out of range (`source` OutOfRange).
    pub(super) fn reset_position(&mut self, env: &mut Env<'_>, p: u32, source: PositionSource) {
        let timestamp = match self.config.auto_offset_reset {
            OffsetReset::Earliest => EARLIEST_TIMESTAMP,
            OffsetReset::Latest => LATEST_TIMESTAMP,
            OffsetReset::None => {
                // NoOffsetForPartitionException (no committed offset) or
                // OffsetOutOfRangeException: the application stops.
                self.stop_on(env, Errors::OffsetOutOfRange);
                return;
            }
        };
        let Some(&(leader, epoch)) = self.leaders.get(&p) else {
            self.refresh_metadata(env);
            return;
        };
        if let Some(o) = self.owned.get_mut(&p) {
            o.resolving = true;
        }
        let request = KafkaRequest::ListOffsets {
            tp: self.tp(p),
            timestamp,
            current_leader_epoch: self.sent_epoch(epoch),
            isolation_level: self.config.isolation_level,
        };
        self.send(env, leader, request, InFlight::ListOffsets(p, source));
    }

    fn on_metadata(&mut self, env: &mut Env<'_>, parts: Vec<PartitionMetadata>) {
        self.partition_count = Some(parts.len() as u32);
        let max_age = self.config.metadata_max_age_ms;
        self.metadata_age
            .refreshed(env, max_age, ConsumerTimer::MetadataMaxAge);
        let mut validate = Vec::new();
        let mut leaderless = false;
        for pm in parts {
            if pm.leader.is_some() {
                self.stale_leaders.remove(&pm.partition);
            }
            let old = self.leaders.get(&pm.partition).copied();
            let Some(leader) = pm.leader else {
                leaderless = true;
                continue;
            };
            let moved = old.is_none_or(|(_, e)| pm.leader_epoch > e);
            if !moved {
                continue;
            }
            self.leaders.insert(pm.partition, (leader, pm.leader_epoch));
            if let Some(o) = self.owned.get_mut(&pm.partition) {
                // Before KIP-320's consumer part (2.3) no validation:
                // the position stands until a fetch finds it out of range.
                let validates = self.config.leader_epoch_validation;
                if let (true, Some(_), Some(last), false) =
                    (validates, old, o.last_epoch, o.validating)
                {
                    o.validating = true;
                    o.drop_fetched();
                    validate.push((pm.partition, leader, pm.leader_epoch, last));
                }
            }
        }
        // A partition still without a usable leader (owned now or maybe
        // assigned later): ask again after the backoff, as the Java client
        // requests a metadata update while a leader is unknown.
        if leaderless || self.owned.keys().any(|p| self.stale_leaders.contains(p)) {
            env.set_timer_after(
                self.config.retry_backoff_ms * MILLIS,
                ConsumerTimer::Metadata,
            );
        }
        for (partition, leader, epoch, last) in validate {
            let request = KafkaRequest::OffsetForLeaderEpoch {
                tp: self.tp(partition),
                current_leader_epoch: epoch,
                leader_epoch: last,
            };
            self.send(env, leader, request, InFlight::Validate(partition));
        }
    }

    /// The partitions to read from: `{topic: count}` (for the leader's assignment).
    pub(super) fn partitions_per_topic(&self) -> BTreeMap<String, u32> {
        self.partition_count
            .map(|n| (self.config.topic.clone(), n))
            .into_iter()
            .collect()
    }

    /// Sends a Fetch to every leader of an owned partition that has a
    /// position, an empty buffer and no fetch in flight.
    pub(super) fn fetch_all(&mut self, env: &mut Env<'_>) {
        let mut by_leader: BTreeMap<u32, Vec<(u32, u64, i32)>> = BTreeMap::new();
        for (&p, o) in &self.owned {
            let (Some(position), Some(&(leader, epoch))) = (o.position, self.leaders.get(&p))
            else {
                continue;
            };
            if o.fetching || o.validating || !o.buffer.is_empty() || self.stale_leaders.contains(&p)
            {
                continue;
            }
            by_leader
                .entry(leader)
                .or_default()
                .push((p, position, epoch));
        }
        for (leader, parts) in by_leader {
            if self.fetching.contains(&leader) {
                continue;
            }
            self.fetching.insert(leader);
            let partitions = parts
                .iter()
                .map(|&(p, offset, epoch)| FetchPartition {
                    tp: self.tp(p),
                    current_leader_epoch: self.sent_epoch(epoch),
                    fetch_offset: offset,
                    last_fetched_epoch: None,
                })
                .collect();
            for (p, ..) in &parts {
                if let Some(o) = self.owned.get_mut(p) {
                    o.fetching = true;
                }
            }
            // Fetch sessions are the followers' here: a consumer fetches
            // outside any session.
            let request = KafkaRequest::Fetch {
                replica: None,
                max_wait_ms: self.config.fetch_max_wait_ms,
                isolation_level: self.config.isolation_level,
                session: FetchMetadata::SESSIONLESS,
                partitions,
                forgotten: Vec::new(),
            };
            let asked = parts.iter().map(|&(p, o, _)| (p, o)).collect();
            self.send(env, leader, request, InFlight::Fetch(asked));
        }
    }

    fn on_fetch(
        &mut self,
        env: &mut Env<'_>,
        broker: u32,
        asked: &[(u32, u64)],
        answers: Vec<FetchedPartition>,
    ) {
        let mut refresh = false;
        let mut out_of_range = Vec::new();
        let isolation = self.returned_isolation();
        for answer in answers {
            let p = answer.tp.partition;
            let Some(&(_, offset)) = asked.iter().find(|(q, _)| *q == p) else {
                continue;
            };
            let leader = self.leaders.get(&p).map(|&(l, _)| l);
            let Some(o) = self.owned.get_mut(&p) else {
                continue;
            };
            if leader != Some(broker) || o.validating || o.position != Some(offset) {
                continue;
            }
            if answer.error == Some(Errors::OffsetOutOfRange) {
                // Kafka's FetchCollector: the position is out of range;
                // auto.offset.reset moves it (none: the application gets
                // OffsetOutOfRangeException).
                o.drop_fetched();
                o.position = None;
                out_of_range.push((p, offset));
                continue;
            }
            if answer.error.is_some() {
                refresh = true;
                self.stale_leaders.insert(p);
                continue;
            }
            let (records, next) = read_completed_fetch(&answer, offset, isolation);
            o.buffer.extend(records);
            o.topic_id = answer.topic_id;
            if o.buffer.is_empty() {
                // Only markers or aborted batches: the position moves past them.
                o.position = Some(next);
                if next != offset {
                    env.observe(ConsumerObs::Position {
                        partition: p,
                        offset: next,
                        source: PositionSource::Skipped,
                    });
                }
            } else {
                o.next_fetch_offset = next;
            }
        }
        if refresh {
            env.set_timer_after(
                self.config.retry_backoff_ms * MILLIS,
                ConsumerTimer::Metadata,
            );
        }
        for (p, from) in out_of_range {
            self.reset_position(env, p, PositionSource::OutOfRange { from });
        }
    }
}
