//! `ReplicaFetcherManager`: the follower side of replication (Kafka's
//! ReplicaFetcherManager and its ReplicaFetcherThreads): one fetcher per
//! leader broker, one Fetch in flight carrying every partition this broker
//! follows from it, each with its current leader epoch (KIP-320) and last
//! fetched epoch. A diverging epoch in the answer truncates the log where it
//! parted from the leader's (KIP-101/KIP-279); batches are appended as they
//! came; the high watermark follows the leader's. A fetch unanswered for
//! `replica.socket.timeout.ms`, an error or a broken connection backs the
//! fetcher off for `replica.fetch.backoff.ms`. Each fetcher keeps a fetch
//! session with its leader (KIP-227): after the first, full fetch it names
//! only the partitions whose position changed, and hears only of those with
//! news.

use std::collections::BTreeMap;

use sim::MILLIS;

use super::config::{BrokerConfig, Truncation};
use super::fetch_session::FetchSessionHandler;
use super::hosted::Hosted;
use super::log_cleaner::LogCleaner;
use super::log_manager::LogManager;
use super::partition::{Partition, Role};
use super::{BrokerObs, BrokerTimer};
use crate::errors::Errors;
use crate::node::{Address, Env, KafkaNodeId, NetworkClient};
use crate::protocol::{
    Connection, FetchPartition, FetchedPartition, IsolationLevel, KafkaRequest, TopicIdPartition,
    TpMap,
};

/// A Fetch in flight: its leader.
#[derive(Clone, Debug)]
pub struct FetchInFlight {
    leader: KafkaNodeId,
}

/// One fetcher's state.
#[derive(Clone, Debug, Default)]
struct Fetcher {
    in_flight: bool,
    retry_pending: bool,
    session: FetchSessionHandler,
    /// Room for the partitions its next fetch wants.
    wanted: Vec<FetchPartition>,
    /// The position in the broker's journal of changed partitions (see
    /// [`Hosted`]) when its last fetch was built, and whether that fetch
    /// asked for every partition followed from its leader (none was
    /// flushing, and the partitions followed were known). Then the next
    /// fetch looks again only at the partitions changed since.
    journal_at: u64,
    built_whole: bool,
}

/// The broker's fetchers, by leader.
#[derive(Debug)]
pub struct ReplicaFetcherManager {
    me: KafkaNodeId,
    config: BrokerConfig,
    fetchers: BTreeMap<KafkaNodeId, Fetcher>,
    network: NetworkClient<FetchInFlight>,
    /// The partitions followed from each leader, in partition order: what
    /// a fetch to it looks at. Taken from the roles again after
    /// [`Self::roles_changed`].
    followed: BTreeMap<KafkaNodeId, Vec<TopicIdPartition>>,
    followed_stale: bool,
    /// Room for what the partitions changed since a fetch ask now.
    changed: Vec<FetchPartition>,
}

/// What a fetcher works on: the broker's partitions and logs, and its epoch.
pub struct Replicas<'a> {
    /// The broker's partitions.
    pub partitions: &'a mut Hosted,
    /// Its logs.
    pub logs: &'a mut LogManager,
    /// Its log cleaner (told of truncations).
    pub cleaner: &'a mut LogCleaner,
    /// Its broker epoch (KIP-903), once registered.
    pub broker_epoch: Option<u64>,
}

impl ReplicaFetcherManager {
    /// The fetchers of broker `me`.
    pub fn new(me: KafkaNodeId, config: BrokerConfig) -> Self {
        Self {
            me,
            config,
            fetchers: BTreeMap::new(),
            network: NetworkClient::new(Connection::ReplicaFetcher),
            followed: BTreeMap::new(),
            followed_stale: true,
            changed: Vec::new(),
        }
    }

    /// A partition's role changed: the partitions followed from each
    /// leader are looked up again before the next fetch.
    pub fn roles_changed(&mut self) {
        self.followed_stale = true;
        for f in self.fetchers.values_mut() {
            f.built_whole = false;
        }
    }

    /// The partitions followed from `leader`, in partition order.
    fn followed(
        &mut self,
        leader: KafkaNodeId,
        partitions: &TpMap<Partition>,
    ) -> &[TopicIdPartition] {
        if std::mem::take(&mut self.followed_stale) {
            for tps in self.followed.values_mut() {
                tps.clear();
            }
            for (tp, p) in partitions.iter() {
                if let Role::Follower { leader } = p.role {
                    self.followed.entry(leader).or_default().push(*tp);
                }
            }
        }
        self.followed.get(&leader).map_or(&[], Vec::as_slice)
    }

    /// A partition now follows `leader`: its fetcher starts if idle (the
    /// fetcher picks its partitions from their roles at every request).
    pub fn start_following(
        &mut self,
        env: &mut Env<'_>,
        leader: KafkaNodeId,
        replicas: Replicas<'_>,
    ) {
        let f = self.fetchers.entry(leader).or_default();
        if !f.in_flight && !f.retry_pending {
            self.send_fetch(env, leader, replicas);
        }
    }

    /// Sends the fetcher's next Fetch to `leader` (partitions waiting for a
    /// log flush stay out until it is done).
    fn send_fetch(&mut self, env: &mut Env<'_>, leader: KafkaNodeId, replicas: Replicas<'_>) {
        let Some(broker_epoch) = replicas.broker_epoch else {
            self.back_off(env, leader);
            return;
        };
        let truncation = self.config.truncation;
        let on_fetch = self.config.truncation_on_fetch;
        // Before KIP-320 (2.1) a Fetch carries no current leader epoch.
        let with_epoch = self.config.leader_epoch_in_replica_fetch;
        let ask = |tp: &TopicIdPartition, p: &Partition| FetchPartition {
            tp: *tp,
            current_leader_epoch: if with_epoch { p.leader_epoch } else { -1 },
            fetch_offset: p.log.log_end_offset(),
            // Before KAFKA-10554 (2.8) a follower asks where its latest
            // epoch ends (OffsetsForLeaderEpoch, carried here by the fetch)
            // only until its truncation after a new leader epoch is done.
            last_fetched_epoch: match truncation {
                Truncation::LeaderEpoch if on_fetch || p.epoch_truncation_pending => {
                    p.log.latest_epoch()
                }
                Truncation::EpochEndOffset if p.epoch_truncation_pending => p.log.latest_epoch(),
                Truncation::LeaderEpoch
                | Truncation::EpochEndOffset
                | Truncation::HighWatermark => None,
            },
        };
        let journal_end = replicas.partitions.journal_end();
        let flushing = replicas.logs.any_flushing();
        let f = self.fetchers.entry(leader).or_default();
        let journal_at = f.journal_at;
        // Only the partitions changed since the last fetch can ask
        // differently, when that fetch asked for every partition followed
        // and this one does too.
        let changed =
            (f.built_whole && !flushing && !self.followed_stale && !f.session.next_is_full())
                .then(|| replicas.partitions.changed_since(journal_at))
                .flatten();
        if let Some(changed) = changed {
            let partitions = &*replicas.partitions;
            let asks = &mut self.changed;
            asks.clear();
            asks.extend(changed.iter().filter_map(|tp| {
                partitions
                    .get(tp)
                    .filter(|p| p.follows(leader))
                    .map(|p| ask(tp, p))
            }));
            asks.sort_unstable_by_key(|a| a.tp);
            asks.dedup_by_key(|a| a.tp);
            let f = self.fetchers.entry(leader).or_default();
            f.retry_pending = false;
            f.in_flight = true;
            f.journal_at = journal_end;
            let built = f.session.build_changed(&self.changed);
            self.send_built(env, leader, broker_epoch, built);
            return;
        }
        let mut partitions = std::mem::take(&mut self.fetchers.entry(leader).or_default().wanted);
        partitions.clear();
        // In partition order, as the session handler wants them.
        for tp in self.followed(leader, replicas.partitions) {
            if flushing && replicas.logs.is_flushing(tp) {
                continue;
            }
            partitions.push(ask(tp, &replicas.partitions[tp]));
        }
        let f = self.fetchers.entry(leader).or_default();
        f.retry_pending = false;
        f.journal_at = journal_end;
        f.built_whole = false;
        if partitions.is_empty() {
            f.in_flight = false;
            f.wanted = partitions;
            return;
        }
        f.built_whole = !flushing;
        f.in_flight = true;
        let built = f.session.build(&mut partitions);
        f.wanted = partitions;
        self.send_built(env, leader, broker_epoch, built);
    }

    /// Sends the fetch `built` to `leader`.
    fn send_built(
        &mut self,
        env: &mut Env<'_>,
        leader: KafkaNodeId,
        broker_epoch: u64,
        built: super::fetch_session::BuiltFetch,
    ) {
        let request = KafkaRequest::Fetch {
            replica: Some((self.me, broker_epoch)),
            max_wait_ms: self.config.replica_fetch_wait_max_ms,
            isolation_level: IsolationLevel::ReadUncommitted,
            session: built.metadata,
            partitions: built.partitions,
            forgotten: built.forgotten,
        };
        self.network.send(
            env,
            Address::Node(leader),
            request,
            self.config.replica_socket_timeout_ms * MILLIS,
            FetchInFlight { leader },
        );
    }

    /// A fetch to `leader` got no answer: its next fetch is full.
    fn session_lost(&mut self, leader: KafkaNodeId) {
        self.fetchers
            .entry(leader)
            .or_default()
            .session
            .handle_error();
    }

    /// Backs the fetcher of `leader` off for `replica.fetch.backoff.ms`.
    fn back_off(&mut self, env: &mut Env<'_>, leader: KafkaNodeId) {
        let f = self.fetchers.entry(leader).or_default();
        f.in_flight = false;
        if !f.retry_pending {
            f.retry_pending = true;
            env.set_timer_after(
                self.config.replica_fetch_backoff_ms * MILLIS,
                BrokerTimer::FetcherRetry(leader),
            );
        }
    }

    /// The backoff of `leader`'s fetcher ended.
    pub fn on_retry(&mut self, env: &mut Env<'_>, leader: KafkaNodeId, replicas: Replicas<'_>) {
        let f = self.fetchers.entry(leader).or_default();
        f.retry_pending = false;
        if !f.in_flight {
            self.send_fetch(env, leader, replicas);
        }
    }

    /// The request timer fired: fetches unanswered for
    /// `replica.socket.timeout.ms` are given up.
    pub fn expire(&mut self, env: &mut Env<'_>) {
        for (_, flight) in self.network.expire(env) {
            self.session_lost(flight.purpose.leader);
            self.back_off(env, flight.purpose.leader);
        }
    }

    /// The connection to `peer` broke: its fetcher backs off and retries.
    pub fn on_disconnect(&mut self, env: &mut Env<'_>, peer: Address) {
        for (_, flight) in self.network.disconnected(peer) {
            self.session_lost(flight.purpose.leader);
            self.back_off(env, flight.purpose.leader);
        }
    }

    /// A flush of `tp` finished: its fetcher may go on.
    pub fn after_flush(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        replicas: Replicas<'_>,
    ) {
        let Some(Role::Follower { leader }) = replicas.partitions.get(tp).map(|p| p.role.clone())
        else {
            return;
        };
        let idle = self
            .fetchers
            .get(&leader)
            .is_none_or(|f| !f.in_flight && !f.retry_pending);
        if idle {
            self.send_fetch(env, leader, replicas);
        }
    }

    /// Whether `correlation_id` is a fetch of this broker's.
    pub fn is_own(&self, correlation_id: u64) -> bool {
        self.network.get(correlation_id).is_some()
    }

    /// The leader answered a fetch: truncate or append, follow the high
    /// watermark, fetch again (or back off after an error).
    pub fn on_response(
        &mut self,
        env: &mut Env<'_>,
        correlation_id: u64,
        (error, session_id): (Option<Errors>, u32),
        answers: Vec<FetchedPartition>,
        replicas: Replicas<'_>,
    ) {
        let Some(flight) = self.network.complete(correlation_id) else {
            return;
        };
        let FetchInFlight { leader } = flight.purpose;
        let f = self.fetchers.entry(leader).or_default();
        f.in_flight = false;
        if !f.session.handle_response(error, session_id) {
            // A session error: fetch again at once, in full.
            self.send_fetch(env, leader, replicas);
            return;
        }
        let now_ms = env.now_ms();
        let mut errors = false;
        for answer in answers {
            let Some(sent) = self
                .fetchers
                .get(&leader)
                .and_then(|f| f.session.sent(&answer.tp))
            else {
                continue;
            };
            let Some(p) = replicas.partitions.get_mut(&answer.tp) else {
                continue;
            };
            // (A fetch without an epoch, before KIP-320, is matched by
            // its leader and offset alone, as Kafka 2.0's fetcher does.)
            let epoch_moved =
                sent.current_leader_epoch >= 0 && p.leader_epoch != sent.current_leader_epoch;
            if !p.follows(leader) || epoch_moved || p.log.log_end_offset() != sent.fetch_offset {
                continue;
            }
            let mut out = replicas.logs.scratch();
            if answer.error == Some(Errors::OffsetOutOfRange) {
                // Kafka's handleOutOfRangeError (fetchOffsetAndTruncate),
                // with the leader's log start and end offsets from its
                // answer where Kafka asks for them with ListOffsets: a log
                // ending past the leader's is cut to it; one ending below
                // the leader's log start offset starts afresh there.
                let leo = p.log.log_end_offset();
                if answer.log_end_offset < leo {
                    replicas
                        .cleaner
                        .truncated(&answer.tp, answer.log_end_offset);
                    if let Some(records) = p.truncate_to(answer.log_end_offset, &mut out) {
                        env.observe(BrokerObs::Truncated {
                            partition: answer.tp,
                            to_offset: answer.log_end_offset,
                            records,
                        });
                    }
                } else if answer.log_start_offset > leo {
                    let start = answer.log_start_offset;
                    let records = p.truncate_fully_and_start_at(start, &mut out);
                    env.observe(BrokerObs::Truncated {
                        partition: answer.tp,
                        to_offset: start,
                        records,
                    });
                } else {
                    errors = true;
                }
                replicas.logs.apply(env, &answer.tp, &mut p.log, out);
                continue;
            }
            if answer.error.is_some() {
                replicas.logs.apply(env, &answer.tp, &mut p.log, out);
                errors = true;
                continue;
            }
            // Answered: a follower of KIP-101 before KIP-279 asked its
            // one question (the answer truncates it, or it fetches on); one
            // of KIP-279 before KAFKA-10554 asks until its truncation is
            // complete (below).
            p.epoch_truncation_pending = false;
            if let Some((div_epoch, div_end)) = answer.diverging_epoch {
                let asked = self.config.truncation == Truncation::LeaderEpoch
                    && !self.config.truncation_on_fetch;
                let target = if asked && div_epoch < 0 {
                    // Kafka 2.7's `getOffsetTruncationState`: the leader has
                    // no end offset for the epoch (UNDEFINED_EPOCH_OFFSET),
                    // so to the initial fetch offset, the high watermark
                    // (`ReplicaManager.makeFollowers`).
                    p.log.high_watermark()
                } else if self.config.truncation == Truncation::EpochEndOffset {
                    // Kafka 1.1's `ReplicaFetcherThread.maybeTruncate`: to
                    // the leader's end offset for its latest epoch, or, when
                    // the leader had none (UNDEFINED_EPOCH_OFFSET), to its
                    // high watermark.
                    if div_epoch < 0 {
                        p.log.high_watermark()
                    } else {
                        div_end
                    }
                } else {
                    // Kafka's truncateOnFetchResponse: to where both logs
                    // last agree.
                    match p.log.end_offset_for_epoch(div_epoch) {
                        Some((e, end)) if e == div_epoch => end.min(div_end),
                        Some((_, end)) => {
                            // The follower lacks the leader's epoch: Kafka
                            // 2.7 truncates to where its own epoch below
                            // ends and asks again (`truncationCompleted`
                            // false).
                            p.epoch_truncation_pending = asked;
                            end
                        }
                        // No end offset for that epoch in the follower's
                        // cache (it has no epoch, or none as new): Kafka's
                        // `getOffsetTruncationState` takes the leader's end
                        // offset, "the same behavior as post-KIP-101 and
                        // pre-KIP-279" (at most the log end, below).
                        None => div_end,
                    }
                };
                // Never past its own log end.
                let target = target.min(p.log.log_end_offset());
                replicas.cleaner.truncated(&answer.tp, target);
                if let Some(records) = p.truncate_to(target, &mut out) {
                    env.observe(BrokerObs::Truncated {
                        partition: answer.tp,
                        to_offset: target,
                        records,
                    });
                }
            } else {
                for batch in answer.batches {
                    if batch.next_offset() <= p.log.log_end_offset() {
                        continue;
                    }
                    if p.append_as_follower(batch, now_ms, &mut out).is_err() {
                        errors = true;
                        break;
                    }
                }
                // The follower's high watermark: the leader's, capped by its
                // own log; then the leader's log start offset (Kafka's
                // processPartitionData), capped by that high watermark.
                let hw = answer.high_watermark.min(p.log.log_end_offset());
                p.update_high_watermark(hw);
                p.log
                    .maybe_increment_log_start_offset(answer.log_start_offset, &mut out);
            }
            replicas.logs.apply(env, &answer.tp, &mut p.log, out);
        }
        if errors {
            self.back_off(env, leader);
        } else {
            self.send_fetch(env, leader, replicas);
        }
    }
}
