//! `AdminClient`: creates the scenario's topics through the active
//! controller at start (what `kafka-topics.sh --create` does), retrying
//! until each exists: NOT_CONTROLLER follows the controller's hint, and
//! INVALID_REPLICATION_FACTOR waits for enough brokers to be unfenced.
//! Then it runs the scenario's `[[admin]]` operations at their times
//! (`kafka-topics.sh --alter --partitions N` is CreatePartitions), one at a
//! time, retrying NOT_CONTROLLER and lost requests; any other error ends
//! the operation and is reported.

use rand::Rng;
use sim::{Nanos, MILLIS};

use crate::controller::rpc::{
    ControllerMsg, ControllerRequest, ControllerResponse, CreatableTopic,
};
use crate::errors::Errors;
use crate::node::{Address, Env, Input, KafkaNodeId, NetworkClient, Timer};
use crate::protocol::{Connection, Message};

/// `request.timeout.ms` for the admin's requests.
const REQUEST_TIMEOUT_NS: Nanos = 2000 * MILLIS;
/// `retry.backoff.ms`-like wait between attempts.
const RETRY_BACKOFF_NS: Nanos = 250 * MILLIS;

/// The admin client's timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminTimer {
    /// Time to send CreateTopics (or a due operation) again.
    Retry,
    /// Operation N of the scenario's `[[admin]]` is due.
    Op(usize),
}

/// `Retry` hashes as it did when it was the only variant (nothing), so
/// that every trace hash of a run without `[[admin]]` stays what it was.
impl std::hash::Hash for AdminTimer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if let AdminTimer::Op(i) = self {
            state.write_u8(1);
            state.write_usize(*i);
        }
    }
}

/// What the admin client reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminObs {
    /// A topic was created (or already existed).
    Created(String),
    /// A CreateTopics attempt for a topic failed with this error.
    Failed(String, Errors),
    /// CreatePartitions grew `topic` to `partitions`.
    PartitionsCreated {
        /// The topic.
        topic: String,
        /// Its partition count now.
        partitions: u32,
    },
    /// CreatePartitions for `topic` failed for good with `error`.
    CreatePartitionsFailed {
        /// The topic.
        topic: String,
        /// Why.
        error: Errors,
    },
    /// DeleteTopics deleted `topic` (its RemoveTopicRecord is committed).
    TopicDeleted(String),
    /// DeleteTopics for `topic` failed for good with `error`.
    DeleteTopicFailed {
        /// The topic.
        topic: String,
        /// Why.
        error: Errors,
    },
    /// An `[[admin]]` CreateTopics created `topic` with `partitions`.
    TopicCreated {
        /// The topic.
        topic: String,
        /// Its partitions.
        partitions: u32,
        /// Its replication factor.
        replication_factor: u32,
    },
    /// An `[[admin]]` CreateTopics for `topic` failed for good with `error`.
    CreateTopicFailed {
        /// The topic.
        topic: String,
        /// Why.
        error: Errors,
    },
}

/// One timed operation of the scenario's `[[admin]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminOp {
    /// When it is due.
    pub at: Nanos,
    /// What it does.
    pub kind: AdminOpKind,
}

/// What an `[[admin]]` operation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminOpKind {
    /// `create_partitions`: `topic` grows to `partitions`.
    CreatePartitions {
        /// The topic.
        topic: String,
        /// Its new partition count.
        partitions: u32,
    },
    /// `delete_topic`: `topic` is deleted.
    DeleteTopic {
        /// The topic.
        topic: String,
    },
    /// `create_topic`: the topic is created.
    CreateTopic(CreatableTopic),
}

/// What a request in flight was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    CreateTopics,
    Op(usize),
}

/// What the admin client is set up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSpec {
    /// The controller quorum (Kafka node ids).
    pub voters: Vec<KafkaNodeId>,
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
    /// The timed operations, in time order.
    pub ops: Vec<AdminOp>,
}

/// The admin client.
#[derive(Debug)]
pub struct AdminClient {
    voters: Vec<KafkaNodeId>,
    pending: Vec<CreatableTopic>,
    ops: Vec<AdminOp>,
    /// Operations whose time came, not done yet, in order.
    due: Vec<usize>,
    controller: Option<KafkaNodeId>,
    network: NetworkClient<Purpose>,
}

impl AdminClient {
    /// Boots: a restarted admin starts over (creating an existing topic is harmless).
    pub fn boot(spec: &AdminSpec, env: &mut Env<'_>) -> Self {
        let mut admin = Self {
            voters: spec.voters.clone(),
            pending: spec.topics.clone(),
            ops: spec.ops.clone(),
            due: Vec::new(),
            controller: None,
            network: NetworkClient::new(Connection::Controller),
        };
        for (i, op) in spec.ops.iter().enumerate() {
            env.set_timer(op.at, AdminTimer::Op(i));
        }
        admin.send(env);
        admin
    }

    /// Topics not created yet.
    pub fn pending(&self) -> &[CreatableTopic] {
        &self.pending
    }

    fn controller(&self, env: &mut Env<'_>) -> KafkaNodeId {
        match self.controller {
            Some(c) => c,
            None => self.voters[env.rng().random_range(0..self.voters.len())],
        }
    }

    /// Sends what waits: CreateTopics for the topics left, then the first
    /// due operation (one request in flight at a time).
    fn send(&mut self, env: &mut Env<'_>) {
        if self.network.in_flight().next().is_some() {
            return;
        }
        let (request, purpose) = if !self.pending.is_empty() {
            let request = ControllerRequest::CreateTopics {
                topics: self.pending.clone(),
            };
            (request, Purpose::CreateTopics)
        } else if let Some(&i) = self.due.first() {
            let request = match &self.ops[i].kind {
                AdminOpKind::CreatePartitions { topic, partitions } => {
                    ControllerRequest::CreatePartitions {
                        topics: vec![(topic.clone(), *partitions)],
                    }
                }
                AdminOpKind::DeleteTopic { topic } => ControllerRequest::DeleteTopics {
                    names: vec![topic.clone()],
                },
                AdminOpKind::CreateTopic(topic) => ControllerRequest::CreateTopics {
                    topics: vec![topic.clone()],
                },
            };
            (request, Purpose::Op(i))
        } else {
            return;
        };
        let to = self.controller(env);
        self.network
            .send(env, Address::Node(to), request, REQUEST_TIMEOUT_NS, purpose);
    }

    /// Handles one input.
    pub fn handle(&mut self, env: &mut Env<'_>, input: Input) {
        match input {
            Input::Message {
                msg:
                    Message::Controller(ControllerMsg::Response {
                        correlation_id,
                        controller_hint,
                        response: ControllerResponse::CreateTopics { results },
                    }),
                ..
            } => match self.network.complete(correlation_id).map(|f| f.purpose) {
                Some(Purpose::CreateTopics) => self.on_created(env, controller_hint, results),
                Some(Purpose::Op(i)) => self.on_op_done(env, i, controller_hint, results),
                None => {}
            },
            Input::Message {
                msg:
                    Message::Controller(ControllerMsg::Response {
                        correlation_id,
                        controller_hint,
                        response:
                            ControllerResponse::CreatePartitions { results }
                            | ControllerResponse::DeleteTopics { results },
                    }),
                ..
            } => {
                if let Some(flight) = self.network.complete(correlation_id) {
                    if let Purpose::Op(i) = flight.purpose {
                        self.on_op_done(env, i, controller_hint, results);
                    }
                }
            }
            Input::Timer(Timer::Admin(AdminTimer::Retry)) => self.send(env),
            Input::Timer(Timer::Admin(AdminTimer::Op(i))) => {
                if i < self.ops.len() && !self.due.contains(&i) {
                    self.due.push(i);
                }
                self.send(env);
            }
            Input::Timer(Timer::RequestTimeout) => {
                let expired = self.network.expire(env);
                if !expired.is_empty() {
                    self.controller = None;
                    self.send(env);
                }
            }
            Input::Disconnected(peer) => {
                let lost = self.network.disconnected(peer);
                if !lost.is_empty() {
                    self.controller = None;
                    env.set_timer_after(RETRY_BACKOFF_NS, AdminTimer::Retry);
                }
            }
            _ => {}
        }
    }

    /// The controller answered operation `op`.
    fn on_op_done(
        &mut self,
        env: &mut Env<'_>,
        op: usize,
        controller_hint: Option<KafkaNodeId>,
        results: Vec<(String, Option<Errors>)>,
    ) {
        self.controller = controller_hint;
        let error = results.into_iter().find_map(|(_, e)| e);
        if error == Some(Errors::NotController) {
            env.set_timer_after(RETRY_BACKOFF_NS, AdminTimer::Retry);
            return;
        }
        let obs = match (self.ops[op].kind.clone(), error) {
            (AdminOpKind::CreatePartitions { topic, partitions }, None) => {
                AdminObs::PartitionsCreated { topic, partitions }
            }
            (AdminOpKind::CreatePartitions { topic, .. }, Some(error)) => {
                AdminObs::CreatePartitionsFailed { topic, error }
            }
            (AdminOpKind::DeleteTopic { topic }, None) => AdminObs::TopicDeleted(topic),
            (AdminOpKind::DeleteTopic { topic }, Some(error)) => {
                AdminObs::DeleteTopicFailed { topic, error }
            }
            (AdminOpKind::CreateTopic(t), None) => AdminObs::TopicCreated {
                topic: t.name,
                partitions: t.num_partitions,
                replication_factor: t.replication_factor,
            },
            (AdminOpKind::CreateTopic(t), Some(error)) => AdminObs::CreateTopicFailed {
                topic: t.name,
                error,
            },
        };
        env.observe(obs);
        self.due.retain(|&i| i != op);
        self.send(env);
    }

    fn on_created(
        &mut self,
        env: &mut Env<'_>,
        controller_hint: Option<KafkaNodeId>,
        results: Vec<(String, Option<Errors>)>,
    ) {
        self.controller = controller_hint;
        for (name, error) in results {
            match error {
                None | Some(Errors::TopicAlreadyExists) => {
                    self.pending.retain(|t| t.name != name);
                    env.observe(AdminObs::Created(name));
                }
                Some(Errors::NotController) => {}
                Some(e) => env.observe(AdminObs::Failed(name, e)),
            }
        }
        if !self.pending.is_empty() {
            env.set_timer_after(RETRY_BACKOFF_NS, AdminTimer::Retry);
        } else {
            self.send(env);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Observation, TestEnv};

    fn topic(name: &str) -> CreatableTopic {
        CreatableTopic {
            name: name.to_owned(),
            num_partitions: 1,
            replication_factor: 1,
            configs: Vec::new(),
        }
    }

    /// The controller's answer `response` to request `correlation_id`.
    fn answer(correlation_id: u64, hint: Option<u32>, response: ControllerResponse) -> Input {
        Input::Message {
            from: Address::Node(3001),
            msg: Message::Controller(ControllerMsg::Response {
                correlation_id,
                controller_hint: hint,
                response,
            }),
        }
    }

    fn response(correlation_id: u64, hint: Option<u32>, error: Option<Errors>) -> Input {
        let results = vec![("t".to_owned(), error)];
        answer(
            correlation_id,
            hint,
            ControllerResponse::CreateTopics { results },
        )
    }

    #[test]
    fn it_follows_the_controller_hint_until_the_topic_exists() {
        let mut t = TestEnv::new(3);
        let spec = AdminSpec {
            voters: vec![3001, 3002, 3003],
            topics: vec![topic("t")],
            ops: Vec::new(),
        };
        let mut admin = AdminClient::boot(&spec, &mut t.env());
        assert_eq!(t.sent().len(), 1, "CreateTopics goes out at boot");
        t.take();
        admin.handle(
            &mut t.env(),
            response(1, Some(3002), Some(Errors::NotController)),
        );
        assert!(t.observed().is_empty(), "NOT_CONTROLLER is not a failure");
        admin.handle(&mut t.env(), Input::Timer(Timer::Admin(AdminTimer::Retry)));
        assert_eq!(
            t.sent()[0].0,
            Address::Node(3002),
            "to the hinted controller"
        );
        admin.handle(&mut t.env(), response(2, Some(3002), None));
        assert_eq!(
            t.observed(),
            vec![&Observation::Admin(AdminObs::Created("t".to_owned()))]
        );
        assert!(admin.pending().is_empty());
    }

    fn partitions_response(correlation_id: u64, hint: Option<u32>, error: Option<Errors>) -> Input {
        let results = vec![("t".to_owned(), error)];
        answer(
            correlation_id,
            hint,
            ControllerResponse::CreatePartitions { results },
        )
    }

    #[test]
    fn a_due_create_partitions_waits_for_the_topics_then_retries_until_answered() {
        let mut t = TestEnv::new(3);
        let grow = |at, partitions| AdminOp {
            at,
            kind: AdminOpKind::CreatePartitions {
                topic: "t".to_owned(),
                partitions,
            },
        };
        let spec = AdminSpec {
            voters: vec![3001, 3002, 3003],
            topics: vec![topic("t")],
            ops: vec![grow(10, 4), grow(20, 4)],
        };
        let mut admin = AdminClient::boot(&spec, &mut t.env());
        t.take();
        // Op 0 is due while CreateTopics is still in flight: it waits.
        admin.handle(&mut t.env(), Input::Timer(Timer::Admin(AdminTimer::Op(0))));
        assert!(t.sent().is_empty(), "one request at a time");
        admin.handle(&mut t.env(), response(1, Some(3002), None));
        let sent = t.sent();
        assert_eq!(sent.len(), 1, "then CreatePartitions");
        assert_eq!(sent[0].0, Address::Node(3002));
        assert!(
            matches!(
                &sent[0].1,
                Message::Controller(ControllerMsg::Request {
                    request: ControllerRequest::CreatePartitions { topics },
                    ..
                }) if topics == &vec![("t".to_owned(), 4)]
            ),
            "{:?}",
            sent[0].1
        );
        t.take();
        // NOT_CONTROLLER: follow the hint after the backoff.
        admin.handle(
            &mut t.env(),
            partitions_response(2, Some(3003), Some(Errors::NotController)),
        );
        assert!(t.observed().is_empty());
        admin.handle(&mut t.env(), Input::Timer(Timer::Admin(AdminTimer::Retry)));
        assert_eq!(t.sent()[0].0, Address::Node(3003));
        t.take();
        admin.handle(&mut t.env(), partitions_response(3, Some(3003), None));
        assert_eq!(
            t.observed(),
            vec![&Observation::Admin(AdminObs::PartitionsCreated {
                topic: "t".to_owned(),
                partitions: 4
            })]
        );
        t.take();
        // Op 1 asks for 4 again: INVALID_PARTITIONS ends it, reported.
        admin.handle(&mut t.env(), Input::Timer(Timer::Admin(AdminTimer::Op(1))));
        assert_eq!(t.sent().len(), 1);
        t.take();
        admin.handle(
            &mut t.env(),
            partitions_response(4, Some(3003), Some(Errors::InvalidPartitions)),
        );
        assert_eq!(
            t.observed(),
            vec![&Observation::Admin(AdminObs::CreatePartitionsFailed {
                topic: "t".to_owned(),
                error: Errors::InvalidPartitions
            })]
        );
        t.take();
        admin.handle(&mut t.env(), Input::Timer(Timer::Admin(AdminTimer::Retry)));
        assert!(t.sent().is_empty(), "nothing left to send");
    }
}
