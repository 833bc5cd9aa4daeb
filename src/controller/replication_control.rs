//! Partitions on the active controller (Kafka's ReplicationControlManager):
//! topic creation, leader election on fencing and unfencing, AlterPartition.

use rand_chacha::ChaCha8Rng;

use super::active::{ControlEvent, MetadataRecords};
use super::rpc::{ControllerResponse, CreatableTopic, NO_BROKER_EPOCH};
use crate::errors::Errors;
use crate::metadata::{
    place_replicas, Election, MetadataImage, MetadataRecord, PartitionChangeBuilder,
    PartitionRegistration, Uuid, NO_LEADER,
};

const UNCLEAN: &str = "unclean.leader.election.enable";
const MIN_ISR: &str = "min.insync.replicas";

/// Kafka's ReplicationControlManager. The topics and partitions it
/// manages are in the metadata image; it owns the election policy.
#[derive(Debug)]
pub struct ReplicationControlManager {
    /// The cluster's `unclean.leader.election.enable` (a topic's own
    /// config overrides it).
    unclean_leader_election: bool,
    /// An ISR shrink bumps the leader epoch (before 3.6, KAFKA-15021).
    leader_epoch_bump_on_isr_shrink: bool,
    /// `delete.topic.enable`.
    delete_topic_enable: bool,
    /// AlterPartition refuses a new ISR member that is fenced or in
    /// controlled shutdown (KIP-841, 3.3; INELIGIBLE_REPLICA).
    fenced_replicas_kept_out_of_isr: bool,
    /// Eligible leader replicas (KIP-966, `eligible.leader.replicas.version`
    /// 1: `FeatureControlManager.isElrFeatureEnabled`).
    eligible_leader_replicas: bool,
    /// The cluster's `min.insync.replicas` (a topic's own config overrides it).
    min_insync_replicas: usize,
}

impl ReplicationControlManager {
    /// With the cluster's `unclean.leader.election.enable`, whether an
    /// ISR shrink bumps the leader epoch (metadata versions before 3.6),
    /// and `delete.topic.enable`.
    pub fn new(
        unclean_leader_election: bool,
        leader_epoch_bump_on_isr_shrink: bool,
        delete_topic_enable: bool,
    ) -> Self {
        Self {
            unclean_leader_election,
            leader_epoch_bump_on_isr_shrink,
            delete_topic_enable,
            fenced_replicas_kept_out_of_isr: true,
            eligible_leader_replicas: false,
            min_insync_replicas: 1,
        }
    }

    /// Whether AlterPartition refuses fenced members and members in
    /// controlled shutdown (KIP-841, 3.3): before 3.3 it takes any
    /// replica the leader proposes.
    pub fn with_fenced_replicas_kept_out_of_isr(mut self, on: bool) -> Self {
        self.fenced_replicas_kept_out_of_isr = on;
        self
    }

    /// Eligible leader replicas on or off, with the cluster's
    /// `min.insync.replicas`.
    pub fn with_eligible_leader_replicas(
        mut self,
        enabled: bool,
        min_insync_replicas: usize,
    ) -> Self {
        self.eligible_leader_replicas = enabled;
        self.min_insync_replicas = min_insync_replicas;
        self
    }

    /// The topic's min.insync.replicas (its own config, else the
    /// cluster's), at most its replication factor (Kafka's
    /// `getTopicEffectiveMinIsr`, which takes partition 0's).
    fn effective_min_isr(&self, image: &MetadataImage, topic: &str) -> usize {
        let Some(t) = image.topics.get(topic) else {
            return self.min_insync_replicas;
        };
        let configured = t
            .configs
            .get(MIN_ISR)
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.min_insync_replicas);
        let replication_factor = t
            .partitions
            .get(&0)
            .map_or(usize::MAX, |p| p.replicas.len());
        configured.min(replication_factor)
    }

    /// DeleteTopics (Kafka's `ControllerApis.deleteTopics` and
    /// `ReplicationControlManager.deleteTopic`): each named topic is
    /// removed with one RemoveTopicRecord, which takes its partitions and
    /// configs with it; a name the image does not have is
    /// UNKNOWN_TOPIC_OR_PARTITION, and without `delete.topic.enable`
    /// every topic is TOPIC_DELETION_DISABLED.
    pub fn delete_topics(
        &mut self,
        log: &mut MetadataRecords,
        names: &[String],
    ) -> ControllerResponse {
        let results = names
            .iter()
            .map(|name| {
                let error = if !self.delete_topic_enable {
                    Some(Errors::TopicDeletionDisabled)
                } else if let Some(topic) = log.image.topics.get(name) {
                    let topic_id = topic.id;
                    log.emit(MetadataRecord::RemoveTopicRecord { topic_id });
                    None
                } else {
                    Some(Errors::UnknownTopicOrPartition)
                };
                (name.clone(), error)
            })
            .collect();
        ControllerResponse::DeleteTopics { results }
    }

    /// CreateTopics: placement over the unfenced brokers, all replicas in
    /// sync, the first replica leading at leader epoch 0.
    pub fn create_topics(
        &mut self,
        log: &mut MetadataRecords,
        rng: &mut ChaCha8Rng,
        topics: &[CreatableTopic],
    ) -> ControllerResponse {
        let mut results = Vec::new();
        for topic in topics {
            let error = self.create_topic(log, rng, topic).err();
            results.push((topic.name.clone(), error));
        }
        ControllerResponse::CreateTopics { results }
    }

    fn create_topic(
        &mut self,
        log: &mut MetadataRecords,
        rng: &mut ChaCha8Rng,
        topic: &CreatableTopic,
    ) -> Result<(), Errors> {
        if log.image.topics.contains_key(&topic.name) {
            return Err(Errors::TopicAlreadyExists);
        }
        let usable = log.image.unfenced_brokers();
        let start = log.image.topics.len();
        let placed = place_replicas(
            &usable,
            start,
            topic.num_partitions,
            topic.replication_factor,
        )?;
        let topic_id = Uuid::random(rng);
        log.emit(MetadataRecord::TopicRecord {
            name: topic.name.clone(),
            topic_id,
        });
        for (name, value) in &topic.configs {
            log.emit(MetadataRecord::ConfigRecord {
                resource_name: topic.name.clone(),
                name: name.clone(),
                value: value.clone(),
            });
        }
        emit_new_partitions(log, topic_id, 0, placed);
        Ok(())
    }

    /// CreatePartitions (Kafka's `ReplicationControlManager.createPartitions`):
    /// each topic grows to its count, the new partitions with the
    /// replication factor of its first, placed over the unfenced brokers
    /// (ksim's round-robin from the partition's index where Kafka's striped
    /// placer starts at random), all replicas in sync, the first leading.
    pub fn create_partitions(
        &mut self,
        log: &mut MetadataRecords,
        topics: &[(String, u32)],
    ) -> ControllerResponse {
        let results = topics
            .iter()
            .map(|(name, count)| {
                let error = self.create_partitions_of(log, name, *count).err();
                (name.clone(), error)
            })
            .collect();
        ControllerResponse::CreatePartitions { results }
    }

    fn create_partitions_of(
        &mut self,
        log: &mut MetadataRecords,
        name: &str,
        count: u32,
    ) -> Result<(), Errors> {
        let topic = log
            .image
            .topics
            .get(name)
            .ok_or(Errors::UnknownTopicOrPartition)?;
        let current = topic.partitions.len() as u32;
        if count <= current {
            return Err(Errors::InvalidPartitions);
        }
        let replication_factor = topic
            .partitions
            .values()
            .next()
            .map_or(0, |p| p.replicas.len() as u32);
        let topic_id = topic.id;
        let usable = log.image.unfenced_brokers();
        let placed = place_replicas(
            &usable,
            current as usize,
            count - current,
            replication_factor,
        )?;
        emit_new_partitions(log, topic_id, current, placed);
        Ok(())
    }

    fn election_for(&self, image: &MetadataImage, topic: &str) -> Election {
        let unclean = image
            .topics
            .get(topic)
            .and_then(|t| t.configs.get(UNCLEAN))
            .map_or(self.unclean_leader_election, |v| v == "true");
        if unclean {
            Election::Unclean
        } else {
            Election::Online
        }
    }

    /// Runs a change over every partition `select` picks, with the target
    /// ISR it gives (Kafka's `generateLeaderAndIsrUpdates`): `removed` and
    /// `unclean` (a broker that restarted after an unclean shutdown, which
    /// also leaves the ELR) may not lead.
    fn change_partitions(
        &self,
        log: &mut MetadataRecords,
        removed: Option<u32>,
        unclean: Option<u32>,
        select: impl Fn(&PartitionRegistration) -> Option<Vec<u32>>,
    ) {
        let mut changes = Vec::new();
        for (name, topic) in &log.image.topics {
            let election = self.election_for(&log.image, name);
            let min_isr = self.effective_min_isr(&log.image, name);
            for (&index, partition) in &topic.partitions {
                let Some(target_isr) = select(partition) else {
                    continue;
                };
                let image = &log.image;
                let acceptable =
                    |b: u32| Some(b) != removed && Some(b) != unclean && image.is_active(b);
                let (record, elected) =
                    PartitionChangeBuilder::new(partition, topic.id, index, &acceptable)
                        .set_target_isr(target_isr)
                        .set_election(election)
                        .set_bump_leader_epoch_on_isr_shrink(self.leader_epoch_bump_on_isr_shrink)
                        .set_eligible_leader_replicas(self.eligible_leader_replicas, min_isr)
                        .set_unclean_shutdown_replicas(unclean.into_iter().collect())
                        .build_with_election();
                if let Some(record) = record {
                    let unclean = elected.unclean && elected.leader != partition.leader;
                    changes.push((format!("{name}-{index}"), record, unclean, elected.leader));
                }
            }
        }
        for (partition, record, unclean, leader) in changes {
            log.emit(record);
            if let (true, Some(leader)) = (unclean, leader) {
                log.event(ControlEvent::UncleanElection { partition, leader });
            }
        }
    }

    /// A fenced broker leaves every ISR (unless it is the last member and
    /// there are no eligible leader replicas) and every partition it led
    /// gets a new leader (Kafka's `handleBrokerFenced`).
    pub fn handle_broker_fenced(&mut self, log: &mut MetadataRecords, broker: u32) {
        self.change_partitions(log, Some(broker), None, |p| {
            (p.isr.contains(&broker) || p.leader == Some(broker))
                .then(|| p.isr.iter().copied().filter(|&r| r != broker).collect())
        });
    }

    /// A broker in controlled shutdown leaves every ISR (unless it is the
    /// last member) and every partition it led gets a new leader from the
    /// rest of the ISR (Kafka's `handleBrokerInControlledShutdown`: the
    /// broker is no acceptable leader, `ClusterControlManager.isActive`).
    pub fn handle_broker_in_controlled_shutdown(&mut self, log: &mut MetadataRecords, broker: u32) {
        self.handle_broker_fenced(log, broker);
    }

    /// A new incarnation of `broker` registers (Kafka's
    /// `handleBrokerShutdown`, with eligible leader replicas): after an
    /// unclean shutdown (no clean shutdown marker naming its last broker
    /// epoch) it leaves every ISR and every ELR, and may not lead; after a
    /// clean one it leaves the ISRs as on fencing.
    pub fn handle_broker_shutdown(&mut self, log: &mut MetadataRecords, broker: u32, clean: bool) {
        if clean {
            self.change_partitions(log, Some(broker), None, |p| {
                p.isr
                    .contains(&broker)
                    .then(|| p.isr.iter().copied().filter(|&r| r != broker).collect())
            });
        } else {
            self.change_partitions(log, None, Some(broker), |p| {
                (p.isr.contains(&broker) || p.elr.contains(&broker))
                    .then(|| p.isr.iter().copied().filter(|&r| r != broker).collect())
            });
        }
    }

    /// Whether eligible leader replicas are on.
    pub fn eligible_leader_replicas(&self) -> bool {
        self.eligible_leader_replicas
    }

    /// Partitions without a leader try an election after a broker is
    /// unfenced (Kafka's `handleBrokerUnfenced`).
    pub fn handle_broker_unfenced(&mut self, log: &mut MetadataRecords) {
        self.change_partitions(log, None, None, |p| {
            p.leader.is_none().then(|| p.isr.to_vec())
        });
    }

    /// AlterPartition from a partition leader, validated as Kafka does:
    /// the leader's broker epoch (STALE_BROKER_EPOCH), its leader epoch
    /// (FENCED_LEADER_EPOCH; a newer one means this controller is behind,
    /// NOT_CONTROLLER), that it leads (INVALID_REQUEST), the partition
    /// epoch (INVALID_UPDATE_VERSION), and every ISR member unfenced with
    /// the broker epoch the leader saw (INELIGIBLE_REPLICA: fenced or in
    /// controlled shutdown from 3.3, KIP-841; the broker epoch from 3.5,
    /// KIP-903).
    #[allow(clippy::too_many_arguments)]
    pub fn alter_partition(
        &mut self,
        log: &mut MetadataRecords,
        broker_id: u32,
        broker_epoch: u64,
        topic_id: Uuid,
        partition_id: u32,
        leader_epoch: i32,
        new_isr: &[(u32, u64)],
        partition_epoch: i32,
    ) -> ControllerResponse {
        let respond = |image: &MetadataImage, error, partition_error| {
            let p = image
                .topic_by_id(topic_id)
                .and_then(|t| t.partitions.get(&partition_id));
            ControllerResponse::AlterPartition {
                error,
                partition_error,
                topic_id,
                partition_id,
                leader_id: p.map_or(NO_LEADER, |p| p.leader_i32()),
                leader_epoch: p.map_or(-1, |p| p.leader_epoch),
                isr: p.map(|p| p.isr.clone()).unwrap_or_default(),
                partition_epoch: p.map_or(-1, |p| p.partition_epoch),
            }
        };
        if log.image.brokers.get(&broker_id).map(|b| b.epoch) != Some(broker_epoch) {
            return respond(&log.image, Some(Errors::StaleBrokerEpoch), None);
        }
        let Some(topic) = log.image.topic_by_id(topic_id) else {
            return respond(&log.image, None, Some(Errors::UnknownTopicOrPartition));
        };
        let Some(partition) = topic.partitions.get(&partition_id) else {
            return respond(&log.image, None, Some(Errors::UnknownTopicOrPartition));
        };
        let error = if leader_epoch < partition.leader_epoch {
            Some(Errors::FencedLeaderEpoch)
        } else if leader_epoch > partition.leader_epoch {
            // The leader knows a newer epoch: this controller is behind.
            Some(Errors::NotController)
        } else if partition.leader != Some(broker_id) {
            Some(Errors::InvalidRequest)
        } else if partition_epoch != partition.partition_epoch {
            Some(Errors::InvalidUpdateVersion)
        } else if new_isr.iter().any(|(r, _)| !partition.replicas.contains(r))
            || !new_isr.iter().any(|&(r, _)| r == broker_id)
        {
            Some(Errors::InvalidRequest)
        } else if new_isr.iter().any(|&(r, epoch)| {
            // Kafka's `isEligibleReplica` (3.3: unfenced and not in
            // controlled shutdown; 3.5: with the broker epoch the leader
            // saw). Before 3.3 the controller took any replica.
            let kip_841 = self.fenced_replicas_kept_out_of_isr;
            let kip_903 = epoch != NO_BROKER_EPOCH;
            !partition.isr.contains(&r)
                && match log.image.brokers.get(&r) {
                    None => kip_841 || kip_903,
                    Some(b) => {
                        (kip_841 && (b.fenced || b.in_controlled_shutdown))
                            || (kip_903 && b.epoch != epoch)
                    }
                }
        }) {
            Some(Errors::IneligibleReplica)
        } else {
            None
        };
        if error.is_some() {
            return respond(&log.image, None, error);
        }
        let target: Vec<u32> = new_isr.iter().map(|&(r, _)| r).collect();
        let min_isr = self.effective_min_isr(&log.image, &topic.name);
        let image = &log.image;
        let acceptable = |b: u32| image.is_active(b);
        let record = PartitionChangeBuilder::new(partition, topic_id, partition_id, &acceptable)
            .set_target_isr(target)
            .set_bump_leader_epoch_on_isr_shrink(self.leader_epoch_bump_on_isr_shrink)
            .set_eligible_leader_replicas(self.eligible_leader_replicas, min_isr)
            .build();
        if let Some(record) = record {
            log.emit(record);
        }
        respond(&log.image, None, None)
    }
}

/// The PartitionRecords of new partitions `first..` of `topic_id`, placed
/// as `placed`: every replica in sync, the first leading at epoch 0.
fn emit_new_partitions(
    log: &mut MetadataRecords,
    topic_id: Uuid,
    first: u32,
    placed: Vec<Vec<u32>>,
) {
    for (i, replicas) in placed.into_iter().enumerate() {
        log.emit(MetadataRecord::PartitionRecord {
            partition_id: first + i as u32,
            topic_id,
            leader: replicas[0] as i32,
            isr: replicas.clone(),
            replicas,
            leader_epoch: 0,
            partition_epoch: 0,
            eligible_leader_replicas: Vec::new(),
            last_known_elr: Vec::new(),
        });
    }
}
