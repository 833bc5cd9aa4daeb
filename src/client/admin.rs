//! `AdminClient`: creates the scenario's topics through the active
//! controller at start (what `kafka-topics.sh --create` does), retrying
//! until each exists: NOT_CONTROLLER follows the controller's hint, and
//! INVALID_REPLICATION_FACTOR waits for enough brokers to be unfenced.

use rand::Rng;
use sim::{Nanos, MILLIS};

use crate::controller::rpc::{
    ControllerMsg, ControllerRequest, ControllerResponse, CreatableTopic,
};
use crate::errors::Errors;
use crate::node::{Address, Env, Input, KafkaNodeId, NetworkClient, Timer};
use crate::protocol::Message;

/// `request.timeout.ms` for the admin's requests.
const REQUEST_TIMEOUT_NS: Nanos = 2000 * MILLIS;
/// `retry.backoff.ms`-like wait between attempts.
const RETRY_BACKOFF_NS: Nanos = 250 * MILLIS;

/// The admin client's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum AdminTimer {
    /// Time to send CreateTopics for what is left.
    Retry,
}

/// What the admin client reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminObs {
    /// A topic was created (or already existed).
    Created(String),
    /// A CreateTopics attempt for a topic failed with this error.
    Failed(String, Errors),
}

/// What the admin client is set up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSpec {
    /// The controller quorum (Kafka node ids).
    pub voters: Vec<KafkaNodeId>,
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
}

/// The admin client.
#[derive(Debug)]
pub struct AdminClient {
    voters: Vec<KafkaNodeId>,
    pending: Vec<CreatableTopic>,
    controller: Option<KafkaNodeId>,
    network: NetworkClient<()>,
}

impl AdminClient {
    /// Boots: a restarted admin starts over (creating an existing topic is harmless).
    pub fn boot(spec: &AdminSpec, env: &mut Env<'_>) -> Self {
        let mut admin = Self {
            voters: spec.voters.clone(),
            pending: spec.topics.clone(),
            controller: None,
            network: NetworkClient::default(),
        };
        admin.send(env);
        admin
    }

    /// Topics not created yet.
    pub fn pending(&self) -> &[CreatableTopic] {
        &self.pending
    }

    fn send(&mut self, env: &mut Env<'_>) {
        if self.pending.is_empty() || self.network.in_flight().next().is_some() {
            return;
        }
        let to = match self.controller {
            Some(c) => c,
            None => self.voters[env.rng().random_range(0..self.voters.len())],
        };
        let request = ControllerRequest::CreateTopics {
            topics: self.pending.clone(),
        };
        self.network
            .send(env, Address::Node(to), request, REQUEST_TIMEOUT_NS, ());
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
            } => {
                let answered = self.network.complete(correlation_id).is_some();
                if answered {
                    self.on_created(env, controller_hint, results);
                }
            }
            Input::Timer(Timer::Admin(AdminTimer::Retry)) => self.send(env),
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

    fn response(correlation_id: u64, hint: Option<u32>, error: Option<Errors>) -> Input {
        Input::Message {
            from: Address::Node(3001),
            msg: Message::Controller(ControllerMsg::Response {
                correlation_id,
                controller_hint: hint,
                response: ControllerResponse::CreateTopics {
                    results: vec![("t".to_owned(), error)],
                },
            }),
        }
    }

    #[test]
    fn it_follows_the_controller_hint_until_the_topic_exists() {
        let mut t = TestEnv::new(3);
        let spec = AdminSpec {
            voters: vec![3001, 3002, 3003],
            topics: vec![topic("t")],
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
}
