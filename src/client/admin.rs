//! `AdminClient`: creates the scenario's topics through the active
//! controller at start (what `kafka-topics.sh --create` does), retrying
//! until each exists: NOT_CONTROLLER follows the controller's hint, and
//! INVALID_REPLICATION_FACTOR waits for enough brokers to be unfenced.

use rand::Rng;
use sim::{Ctx, Nanos, Node, NodeId, MILLIS};

use crate::controller::node::controller_node;
use crate::controller::rpc::{
    ControllerMsg, ControllerRequest, ControllerResponse, CreatableTopic,
};
use crate::errors::Errors;

/// `request.timeout.ms` for the admin's requests.
const REQUEST_TIMEOUT_NS: Nanos = 2000 * MILLIS;
/// `retry.backoff.ms`-like wait between attempts.
const RETRY_BACKOFF_NS: Nanos = 250 * MILLIS;

/// The admin client's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum AdminTimer {
    /// Time to send CreateTopics for what is left.
    Retry,
    /// The request with this correlation id went unanswered.
    Timeout(u64),
}

/// What the admin client reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminObs {
    /// A topic was created (or already existed).
    Created(String),
    /// A CreateTopics attempt for a topic failed with this error.
    Failed(String, Errors),
}

/// The admin client.
#[derive(Debug)]
pub struct AdminClient {
    voters: Vec<u32>,
    pending: Vec<CreatableTopic>,
    controller: Option<u32>,
    correlation: u64,
    /// Correlation id and controller of the request in flight.
    in_flight: Option<(u64, u32)>,
}

impl AdminClient {
    /// An admin that creates `topics` on the quorum `voters`.
    pub fn new(voters: Vec<u32>, topics: Vec<CreatableTopic>) -> Self {
        Self {
            voters,
            pending: topics,
            controller: None,
            correlation: 0,
            in_flight: None,
        }
    }

    /// Topics not created yet.
    pub fn pending(&self) -> &[CreatableTopic] {
        &self.pending
    }

    /// Boot: a restarted admin starts over (creating an existing topic is harmless).
    pub fn start<N: AdminHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        self.send(ctx);
    }

    fn send<N: AdminHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if self.pending.is_empty() || self.in_flight.is_some() {
            return;
        }
        let to = self
            .controller
            .unwrap_or_else(|| self.voters[ctx.rng().random_range(0..self.voters.len())]);
        self.correlation += 1;
        self.in_flight = Some((self.correlation, to));
        let msg = ControllerMsg::Request {
            correlation_id: self.correlation,
            request: ControllerRequest::CreateTopics {
                topics: self.pending.clone(),
            },
        };
        ctx.send(controller_node(to), msg.into());
        ctx.set_timer(
            REQUEST_TIMEOUT_NS,
            AdminTimer::Timeout(self.correlation).into(),
        );
    }

    /// A controller answered.
    pub fn on_message<N: AdminHost>(&mut self, ctx: &mut Ctx<'_, N>, msg: ControllerMsg) {
        let ControllerMsg::Response {
            correlation_id,
            controller_hint,
            response: ControllerResponse::CreateTopics { results },
        } = msg
        else {
            return;
        };
        if self.in_flight.map(|(c, _)| c) != Some(correlation_id) {
            return;
        }
        self.in_flight = None;
        self.controller = controller_hint;
        for (name, error) in results {
            match error {
                None | Some(Errors::TopicAlreadyExists) => {
                    self.pending.retain(|t| t.name != name);
                    ctx.observe(AdminObs::Created(name).into());
                }
                Some(e) => {
                    if e != Errors::NotController {
                        ctx.observe(AdminObs::Failed(name, e).into());
                    }
                }
            }
        }
        if !self.pending.is_empty() {
            ctx.set_timer(RETRY_BACKOFF_NS, AdminTimer::Retry.into());
        }
    }

    /// A timer fired.
    pub fn on_timer<N: AdminHost>(&mut self, ctx: &mut Ctx<'_, N>, timer: AdminTimer) {
        match timer {
            AdminTimer::Retry => self.send(ctx),
            AdminTimer::Timeout(c) if self.in_flight.map(|(x, _)| x) == Some(c) => {
                self.in_flight = None;
                self.controller = None;
                self.send(ctx);
            }
            AdminTimer::Timeout(_) => {}
        }
    }

    /// The connection to `peer` broke: an answer from it will not come.
    pub fn on_disconnect<N: AdminHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        if self
            .in_flight
            .is_some_and(|(_, to)| controller_node(to) == peer)
        {
            self.in_flight = None;
            self.controller = None;
            ctx.set_timer(RETRY_BACKOFF_NS, AdminTimer::Retry.into());
        }
    }
}

/// A node type that can host the admin client.
pub trait AdminHost:
    Node<Msg: From<ControllerMsg>, Timer: From<AdminTimer>, Obs: From<AdminObs>>
{
}

impl<N> AdminHost for N where
    N: Node<Msg: From<ControllerMsg>, Timer: From<AdminTimer>, Obs: From<AdminObs>>
{
}
