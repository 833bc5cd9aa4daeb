//! `MetadataImage`: the cluster as the metadata records up to some offset
//! describe it (Kafka's MetadataImage: ClusterImage + TopicsImage).

use std::collections::BTreeMap;

use super::records::{LeaderRecoveryState, MetadataRecord, NO_LEADER, NO_LEADER_CHANGE};
use super::Uuid;

/// A broker's registration (Kafka's BrokerRegistration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistration {
    /// Kafka node id.
    pub id: u32,
    /// The registering process incarnation.
    pub incarnation_id: Uuid,
    /// The broker epoch (offset of its RegisterBrokerRecord).
    pub epoch: u64,
    /// Fenced brokers lead nothing and are not in any new ISR.
    pub fenced: bool,
    /// In controlled shutdown (Kafka's `inControlledShutdown`): like
    /// fenced, it may lead nothing nor join an ISR, but it still runs.
    pub in_controlled_shutdown: bool,
}

/// One partition (Kafka's PartitionRegistration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionRegistration {
    /// Replica broker ids, preferred leader first.
    pub replicas: Vec<u32>,
    /// In-sync replicas.
    pub isr: Vec<u32>,
    /// The leader, if any.
    pub leader: Option<u32>,
    /// Bumped on every leader change (and ISR shrink).
    pub leader_epoch: i32,
    /// Bumped on every change.
    pub partition_epoch: i32,
    /// RECOVERING after an unclean election.
    pub leader_recovery_state: LeaderRecoveryState,
    /// Eligible leader replicas (KIP-966 `elr`): out of the ISR, yet
    /// known to hold every committed record. Empty without ELR.
    pub elr: Vec<u32>,
    /// The last known ELR (KIP-966 `lastKnownElr`): in Kafka 4.1 the last
    /// known leader of a partition whose ISR emptied. Empty without ELR.
    pub last_known_elr: Vec<u32>,
}

impl PartitionRegistration {
    /// The leader as Kafka writes it (-1 for none).
    pub fn leader_i32(&self) -> i32 {
        self.leader.map_or(NO_LEADER, |l| l as i32)
    }
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: Uuid,
    /// Its partitions, by index.
    pub partitions: BTreeMap<u32, PartitionRegistration>,
    /// Topic configs set on it.
    pub configs: BTreeMap<String, String>,
}

/// The cluster's metadata, built by replaying records in log order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// Records below this log offset are applied.
    pub offset: u64,
    /// Registered brokers.
    pub brokers: BTreeMap<u32, BrokerRegistration>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicImage>,
    names: BTreeMap<Uuid, String>,
    /// The first producer id not yet handed out.
    pub next_producer_id: i64,
    /// Test-only mutation: a leader change does not bump the leader epoch.
    pub keep_leader_epoch: bool,
}

impl MetadataImage {
    /// Applies the record at log `offset` (records must come in log order).
    pub fn apply(&mut self, offset: u64, record: &MetadataRecord) {
        self.offset = self.offset.max(offset + 1);
        match record {
            MetadataRecord::RegisterBrokerRecord {
                broker_id,
                incarnation_id,
                broker_epoch,
                fenced,
            } => {
                self.brokers.insert(
                    *broker_id,
                    BrokerRegistration {
                        id: *broker_id,
                        incarnation_id: *incarnation_id,
                        epoch: *broker_epoch,
                        fenced: *fenced,
                        in_controlled_shutdown: false,
                    },
                );
            }
            MetadataRecord::BrokerRegistrationChangeRecord {
                broker_id,
                broker_epoch,
                fenced,
                in_controlled_shutdown,
            } => {
                // A change for an older registration does not apply to a newer one.
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    if b.epoch == *broker_epoch {
                        if let Some(fenced) = fenced {
                            b.fenced = *fenced;
                        }
                        if let Some(cs) = in_controlled_shutdown {
                            b.in_controlled_shutdown = *cs;
                        }
                    }
                }
            }
            MetadataRecord::TopicRecord { name, topic_id } => {
                self.names.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        id: *topic_id,
                        partitions: BTreeMap::new(),
                        configs: BTreeMap::new(),
                    },
                );
            }
            MetadataRecord::ConfigRecord {
                resource_name,
                name,
                value,
            } => {
                if let Some(topic) = self.topics.get_mut(resource_name) {
                    topic.configs.insert(name.clone(), value.clone());
                }
            }
            MetadataRecord::PartitionRecord {
                partition_id,
                topic_id,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                eligible_leader_replicas,
                last_known_elr,
            } => {
                if let Some(topic) = self.topic_by_id_mut(*topic_id) {
                    topic.partitions.insert(
                        *partition_id,
                        PartitionRegistration {
                            replicas: replicas.clone(),
                            isr: isr.clone(),
                            leader: u32::try_from(*leader).ok(),
                            leader_epoch: *leader_epoch,
                            partition_epoch: *partition_epoch,
                            leader_recovery_state: LeaderRecoveryState::Recovered,
                            elr: eligible_leader_replicas.clone(),
                            last_known_elr: last_known_elr.clone(),
                        },
                    );
                }
            }
            MetadataRecord::PartitionChangeRecord {
                partition_id,
                topic_id,
                isr,
                leader,
                leader_recovery_state,
                eligible_leader_replicas,
                last_known_elr,
            } => {
                let keep_leader_epoch = self.keep_leader_epoch;
                let Some(p) = self
                    .topic_by_id_mut(*topic_id)
                    .and_then(|t| t.partitions.get_mut(partition_id))
                else {
                    return;
                };
                if let Some(isr) = isr {
                    p.isr = isr.clone();
                }
                if let Some(elr) = eligible_leader_replicas {
                    p.elr = elr.clone();
                }
                if let Some(last) = last_known_elr {
                    p.last_known_elr = last.clone();
                }
                if *leader != NO_LEADER_CHANGE {
                    p.leader = u32::try_from(*leader).ok();
                    if !keep_leader_epoch {
                        p.leader_epoch += 1;
                    }
                }
                if let Some(state) = leader_recovery_state {
                    p.leader_recovery_state = *state;
                }
                p.partition_epoch += 1;
            }
            MetadataRecord::ProducerIdsRecord {
                next_producer_id, ..
            } => self.next_producer_id = self.next_producer_id.max(*next_producer_id),
            MetadataRecord::NoOpRecord => {}
            MetadataRecord::RemoveTopicRecord { topic_id } => {
                if let Some(name) = self.names.remove(topic_id) {
                    self.topics.remove(&name);
                }
            }
        }
    }

    /// The topic with this id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicImage> {
        self.topics.get(self.names.get(&id)?)
    }

    fn topic_by_id_mut(&mut self, id: Uuid) -> Option<&mut TopicImage> {
        self.topics.get_mut(self.names.get(&id)?)
    }

    /// A partition by topic name and index.
    pub fn partition(&self, topic: &str, partition: u32) -> Option<&PartitionRegistration> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// True when broker `id` is registered and unfenced.
    pub fn is_unfenced(&self, id: u32) -> bool {
        self.brokers.get(&id).is_some_and(|b| !b.fenced)
    }

    /// Registered, unfenced and not in controlled shutdown (Kafka's
    /// `ClusterControlManager.isActive`): what may lead a partition.
    pub fn is_active(&self, id: u32) -> bool {
        self.brokers
            .get(&id)
            .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
    }

    /// Registered, unfenced broker ids not in controlled shutdown,
    /// ascending (Kafka's usable brokers for placement).
    pub fn unfenced_brokers(&self) -> Vec<u32> {
        self.brokers
            .values()
            .filter(|b| !b.fenced && !b.in_controlled_shutdown)
            .map(|b| b.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_changes_bump_epochs_as_kafka_does() {
        let mut image = MetadataImage::default();
        let id = Uuid(9);
        image.apply(
            0,
            &MetadataRecord::TopicRecord {
                name: "orders".into(),
                topic_id: id,
            },
        );
        image.apply(
            1,
            &MetadataRecord::PartitionRecord {
                partition_id: 0,
                topic_id: id,
                replicas: vec![1, 2, 3],
                isr: vec![1, 2, 3],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
                eligible_leader_replicas: Vec::new(),
                last_known_elr: Vec::new(),
            },
        );
        // An ISR-only change bumps the partition epoch, not the leader epoch.
        image.apply(
            2,
            &MetadataRecord::PartitionChangeRecord {
                partition_id: 0,
                topic_id: id,
                isr: Some(vec![1, 2]),
                leader: NO_LEADER_CHANGE,
                leader_recovery_state: None,
                eligible_leader_replicas: None,
                last_known_elr: None,
            },
        );
        let p = image.partition("orders", 0).unwrap();
        assert_eq!(
            (p.leader, p.leader_epoch, p.partition_epoch),
            (Some(1), 0, 1)
        );
        image.apply(
            3,
            &MetadataRecord::PartitionChangeRecord {
                partition_id: 0,
                topic_id: id,
                isr: None,
                leader: NO_LEADER,
                leader_recovery_state: None,
                eligible_leader_replicas: None,
                last_known_elr: None,
            },
        );
        let p = image.partition("orders", 0).unwrap();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (None, 1, 2));
        assert_eq!(p.isr, vec![1, 2]);
        assert_eq!(image.offset, 4);
    }

    #[test]
    fn a_change_for_an_old_registration_is_ignored() {
        let mut image = MetadataImage::default();
        let register = |epoch| MetadataRecord::RegisterBrokerRecord {
            broker_id: 1,
            incarnation_id: Uuid(epoch as u128 + 1),
            broker_epoch: epoch,
            fenced: true,
        };
        image.apply(3, &register(3));
        image.apply(7, &register(7));
        image.apply(
            8,
            &MetadataRecord::BrokerRegistrationChangeRecord {
                broker_id: 1,
                broker_epoch: 3,
                fenced: Some(false),
                in_controlled_shutdown: None,
            },
        );
        assert!(!image.is_unfenced(1));
        image.apply(
            9,
            &MetadataRecord::BrokerRegistrationChangeRecord {
                broker_id: 1,
                broker_epoch: 7,
                fenced: Some(false),
                in_controlled_shutdown: None,
            },
        );
        assert_eq!(image.unfenced_brokers(), vec![1]);
    }
}
