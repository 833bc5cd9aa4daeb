//! `AlterPartitionManager`: a partition leader's ISR changes on their way
//! to the controller (Kafka's AlterPartitionManager). A proposal waits here
//! until the broker sends it through its controller channel; at most one per
//! partition is in flight, and the leader acts on the ISR only once the
//! controller's answer (or the metadata) commits it.

use std::collections::{BTreeMap, BTreeSet};

use crate::controller::rpc::ControllerRequest;
use crate::protocol::TopicIdPartition;

/// ISR changes waiting to be sent or answered.
#[derive(Debug, Default)]
pub struct AlterPartitionManager {
    unsent: BTreeMap<TopicIdPartition, ControllerRequest>,
    in_flight: BTreeSet<TopicIdPartition>,
}

impl AlterPartitionManager {
    /// Queues an AlterPartition for `tp` (replacing one not yet sent).
    pub fn submit(&mut self, tp: TopicIdPartition, request: ControllerRequest) {
        self.unsent.insert(tp, request);
    }

    /// The proposals to send now (partitions without one in flight), in
    /// partition order; they count as in flight from here.
    pub fn take_unsent(&mut self) -> Vec<(TopicIdPartition, ControllerRequest)> {
        let ready: Vec<TopicIdPartition> = self
            .unsent
            .keys()
            .filter(|tp| !self.in_flight.contains(*tp))
            .cloned()
            .collect();
        ready
            .into_iter()
            .filter_map(|tp| {
                let request = self.unsent.remove(&tp)?;
                self.in_flight.insert(tp);
                Some((tp, request))
            })
            .collect()
    }

    /// The request for `tp` was answered or lost.
    pub fn done(&mut self, tp: &TopicIdPartition) {
        self.in_flight.remove(tp);
    }
}
