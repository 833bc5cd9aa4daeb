//! Partitions on the active controller (Kafka's ReplicationControlManager):
//! topic creation, leader election on fencing and unfencing, AlterPartition.

use rand_chacha::ChaCha8Rng;

use super::active::{ActiveController, ControlEvent};
use super::rpc::{ControllerResponse, CreatableTopic};
use crate::errors::Errors;
use crate::metadata::{
    place_replicas, Election, MetadataRecord, PartitionChangeBuilder, Uuid, NO_LEADER,
};

const UNCLEAN: &str = "unclean.leader.election.enable";

impl ActiveController {
    /// CreateTopics: placement over the unfenced brokers, all replicas in
    /// sync, the first replica leading at leader epoch 0.
    pub(super) fn create_topics(
        &mut self,
        rng: &mut ChaCha8Rng,
        topics: &[CreatableTopic],
    ) -> ControllerResponse {
        let mut results = Vec::new();
        for topic in topics {
            let error = self.create_topic(rng, topic).err();
            results.push((topic.name.clone(), error));
        }
        ControllerResponse::CreateTopics { results }
    }

    fn create_topic(&mut self, rng: &mut ChaCha8Rng, topic: &CreatableTopic) -> Result<(), Errors> {
        if self.image.topics.contains_key(&topic.name) {
            return Err(Errors::TopicAlreadyExists);
        }
        let usable = self.image.unfenced_brokers();
        let start = self.image.topics.len();
        let placed = place_replicas(
            &usable,
            start,
            topic.num_partitions,
            topic.replication_factor,
        )?;
        let topic_id = Uuid::random(rng);
        self.emit(MetadataRecord::TopicRecord {
            name: topic.name.clone(),
            topic_id,
        });
        for (name, value) in &topic.configs {
            self.emit(MetadataRecord::ConfigRecord {
                resource_name: topic.name.clone(),
                name: name.clone(),
                value: value.clone(),
            });
        }
        for (p, replicas) in placed.into_iter().enumerate() {
            self.emit(MetadataRecord::PartitionRecord {
                partition_id: p as u32,
                topic_id,
                leader: replicas[0] as i32,
                isr: replicas.clone(),
                replicas,
                leader_epoch: 0,
                partition_epoch: 0,
            });
        }
        Ok(())
    }

    fn election_for(&self, topic: &str) -> Election {
        let unclean = self
            .image
            .topics
            .get(topic)
            .and_then(|t| t.configs.get(UNCLEAN))
            .map_or(self.config.unclean_leader_election, |v| v == "true");
        if unclean {
            Election::Unclean
        } else {
            Election::Online
        }
    }

    /// Runs a change over every partition `select` picks, with the target ISR it gives.
    fn change_partitions(&mut self, select: impl Fn(&[u32], Option<u32>) -> Option<Vec<u32>>) {
        let mut changes = Vec::new();
        for (name, topic) in &self.image.topics {
            let election = self.election_for(name);
            for (&index, partition) in &topic.partitions {
                let Some(target_isr) = select(&partition.isr, partition.leader) else {
                    continue;
                };
                let image = &self.image;
                let acceptable = |b: u32| image.is_unfenced(b);
                let builder = PartitionChangeBuilder::new(partition, topic.id, index, &acceptable)
                    .set_target_isr(target_isr)
                    .set_election(election);
                let elected = builder.elect_leader();
                if let Some(record) = builder.build() {
                    let unclean = elected.unclean && elected.leader != partition.leader;
                    changes.push((format!("{name}-{index}"), record, unclean, elected.leader));
                }
            }
        }
        for (partition, record, unclean, leader) in changes {
            self.emit(record);
            if let (true, Some(leader)) = (unclean, leader) {
                self.events
                    .push(ControlEvent::UncleanElection { partition, leader });
            }
        }
    }

    /// A fenced broker leaves every ISR (unless it is the last member) and
    /// every partition it led gets a new leader.
    pub(super) fn move_leadership_off(&mut self, broker: u32) {
        self.change_partitions(|isr, leader| {
            (isr.contains(&broker) || leader == Some(broker))
                .then(|| isr.iter().copied().filter(|&r| r != broker).collect())
        });
    }

    /// Partitions without a leader try an election (after an unfencing).
    pub(super) fn elect_leaderless_partitions(&mut self) {
        self.change_partitions(|isr, leader| leader.is_none().then(|| isr.to_vec()));
    }

    /// AlterPartition from a partition leader, validated as Kafka does:
    /// the leader's broker epoch (STALE_BROKER_EPOCH), its leader epoch
    /// (FENCED_LEADER_EPOCH; a newer one means this controller is behind,
    /// NOT_CONTROLLER), that it leads (INVALID_REQUEST), the partition
    /// epoch (INVALID_UPDATE_VERSION), and every ISR member unfenced with
    /// the broker epoch the leader saw (INELIGIBLE_REPLICA, KIP-903).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn alter_partition(
        &mut self,
        broker_id: u32,
        broker_epoch: u64,
        topic_id: Uuid,
        partition_id: u32,
        leader_epoch: i32,
        new_isr: &[(u32, u64)],
        partition_epoch: i32,
    ) -> ControllerResponse {
        let respond = |image: &crate::metadata::MetadataImage, error, partition_error| {
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
        if self.image.brokers.get(&broker_id).map(|b| b.epoch) != Some(broker_epoch) {
            return respond(&self.image, Some(Errors::StaleBrokerEpoch), None);
        }
        let Some(topic) = self.image.topic_by_id(topic_id) else {
            return respond(&self.image, None, Some(Errors::UnknownTopicOrPartition));
        };
        let Some(partition) = topic.partitions.get(&partition_id) else {
            return respond(&self.image, None, Some(Errors::UnknownTopicOrPartition));
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
            !partition.isr.contains(&r)
                && self
                    .image
                    .brokers
                    .get(&r)
                    .is_none_or(|b| b.fenced || b.epoch != epoch)
        }) {
            Some(Errors::IneligibleReplica)
        } else {
            None
        };
        if error.is_some() {
            return respond(&self.image, None, error);
        }
        let target: Vec<u32> = new_isr.iter().map(|&(r, _)| r).collect();
        let image = &self.image;
        let acceptable = |b: u32| image.is_unfenced(b);
        let record = PartitionChangeBuilder::new(partition, topic_id, partition_id, &acceptable)
            .set_target_isr(target)
            .build();
        if let Some(record) = record {
            self.emit(record);
        }
        respond(&self.image, None, None)
    }
}
