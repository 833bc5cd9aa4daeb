//! `NetworkClient`: requests with correlation ids and timeouts, as Kafka's
//! NetworkClient keeps them (`InFlightRequests`). Every process sends its
//! requests through one: it numbers them, remembers what each was for, and
//! gives them up when `request.timeout.ms` (or the caller's timeout) passes
//! or the connection breaks. One [`Deadline`] timer covers every request.

use std::fmt;

use sim::Nanos;

use super::address::Address;
use super::effect::Env;
use super::timer::{Deadline, Timer};
use crate::controller::rpc::{ControllerMsg, ControllerRequest};
use crate::protocol::{Connection, KafkaMsg, KafkaRequest, Message};

/// A request body that can travel with a correlation id.
pub trait Request {
    /// The message carrying it on `connection`.
    fn into_message(self, connection: Connection, correlation_id: u64) -> Message;
}

impl Request for KafkaRequest {
    fn into_message(self, connection: Connection, correlation_id: u64) -> Message {
        Message::Kafka(KafkaMsg::Request {
            connection,
            correlation_id,
            request: self,
        })
    }
}

impl Request for ControllerRequest {
    /// Controllers take requests as they come: no connection kind.
    fn into_message(self, _: Connection, correlation_id: u64) -> Message {
        Message::Controller(ControllerMsg::Request {
            correlation_id,
            request: self,
        })
    }
}

/// A request waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight<P> {
    /// Where it went.
    pub to: Address,
    /// On which of its connections to `to`.
    pub connection: Connection,
    /// When it was sent.
    pub sent_at: Nanos,
    /// When it is given up.
    pub deadline: Nanos,
    /// What the sender wanted it for.
    pub purpose: P,
}

/// The requests a process has in flight; `P` says what each is for.
#[derive(Clone)]
pub struct NetworkClient<P> {
    /// The kind of connection it opens to each node.
    connection: Connection,
    next_correlation_id: u64,
    /// By correlation id, ascending: ids only grow, so a request sent
    /// goes at the end, and an answer finds its request by binary search
    /// among the few in flight (a map's node allocation and rebalancing
    /// cost more).
    in_flight: Vec<(u64, InFlight<P>)>,
    timeout: Deadline,
}

impl<P: fmt::Debug> fmt::Debug for NetworkClient<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkClient")
            .field("connection", &self.connection)
            .field("next_correlation_id", &self.next_correlation_id)
            .field("in_flight", &DebugMap(&self.in_flight))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The requests in flight shown as the map they were kept in before.
struct DebugMap<'a, P>(&'a [(u64, InFlight<P>)]);

impl<P: fmt::Debug> fmt::Debug for DebugMap<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(c, r)| (c, r)))
            .finish()
    }
}

impl<P> NetworkClient<P> {
    /// A client with nothing in flight, opening connections of kind `connection`.
    pub fn new(connection: Connection) -> Self {
        Self {
            connection,
            next_correlation_id: 0,
            in_flight: Vec::new(),
            timeout: Deadline::default(),
        }
    }

    /// Sends `request` to `to`, to be given up after `timeout_ns`; returns
    /// its correlation id.
    pub fn send(
        &mut self,
        env: &mut Env<'_>,
        to: Address,
        request: impl Request,
        timeout_ns: Nanos,
        purpose: P,
    ) -> u64 {
        self.send_via(env, self.connection, to, request, timeout_ns, purpose)
    }

    /// Sends as `send` does, on a connection of kind `connection` (a
    /// consumer's to its group coordinator).
    pub fn send_via(
        &mut self,
        env: &mut Env<'_>,
        connection: Connection,
        to: Address,
        request: impl Request,
        timeout_ns: Nanos,
        purpose: P,
    ) -> u64 {
        self.next_correlation_id += 1;
        let correlation_id = self.next_correlation_id;
        let deadline = env.now().saturating_add(timeout_ns);
        env.send(to, request.into_message(connection, correlation_id));
        self.in_flight.push((
            correlation_id,
            InFlight {
                to,
                connection,
                sent_at: env.now(),
                deadline,
                purpose,
            },
        ));
        self.timeout.arm(env, deadline, Timer::RequestTimeout);
        correlation_id
    }

    /// The answer to `correlation_id` came: what the request was for, or
    /// None when it was already given up (a late answer is dropped).
    pub fn complete(&mut self, correlation_id: u64) -> Option<InFlight<P>> {
        let i = self.position(correlation_id)?;
        Some(self.in_flight.remove(i).1)
    }

    /// Where request `correlation_id` is in `in_flight`, if still there.
    fn position(&self, correlation_id: u64) -> Option<usize> {
        self.in_flight
            .binary_search_by_key(&correlation_id, |&(c, _)| c)
            .ok()
    }

    /// The request timer fired: every request past its deadline is given up
    /// (in correlation order) and the timer set for the next deadline.
    ///
    /// As Kafka's `NetworkClient.handleTimedOutRequests`, a broker
    /// connection with a request past its deadline is closed: every other
    /// request in flight on it is given up too (returned with the others),
    /// and the broker is told (its `SocketServer` drops what waited on the
    /// connection; the next request opens a new one). Connections to
    /// controllers are left open: ksim's controllers take requests as they
    /// come, so only the late request is given up.
    pub fn expire(&mut self, env: &mut Env<'_>) -> Vec<(u64, InFlight<P>)> {
        if !self.timeout.fire(env.now()) {
            return Vec::new();
        }
        let now = env.now();
        let mut closed: Vec<(Address, Connection)> = Vec::new();
        for (_, f) in &self.in_flight {
            let key = (f.to, f.connection);
            if f.deadline <= now && f.connection != Connection::Controller && !closed.contains(&key)
            {
                closed.push(key);
            }
        }
        let gone = self
            .in_flight
            .extract_if(.., |(_, f)| {
                f.deadline <= now || closed.contains(&(f.to, f.connection))
            })
            .collect();
        for (to, connection) in closed {
            env.send(to, KafkaMsg::Closed { connection });
        }
        if let Some(next) = self.in_flight.iter().map(|(_, f)| f.deadline).min() {
            self.timeout.arm(env, next, Timer::RequestTimeout);
        }
        gone
    }

    /// The connection to `peer` broke: its requests are given up (their
    /// outcome is unknown), in correlation order.
    pub fn disconnected(&mut self, peer: Address) -> Vec<(u64, InFlight<P>)> {
        self.in_flight
            .extract_if(.., |(_, f)| f.to == peer)
            .collect()
    }

    /// Gives up the requests whose purpose matches (their answers will be dropped).
    pub fn abandon(&mut self, mut matches: impl FnMut(&P) -> bool) {
        self.in_flight.retain(|(_, f)| !matches(&f.purpose));
    }

    /// The last correlation id it handed out.
    pub fn last_correlation_id(&self) -> u64 {
        self.next_correlation_id
    }

    /// Numbers its next requests after `last`, when that is ahead: two
    /// clients in one process (a pipeline's consumer and producer) share
    /// one sequence, so that an answer's correlation id names one request.
    pub fn number_after(&mut self, last: u64) {
        self.next_correlation_id = self.next_correlation_id.max(last);
    }

    /// Whether the request `correlation_id` is waiting for its answer.
    pub fn awaits(&self, correlation_id: u64) -> bool {
        self.position(correlation_id).is_some()
    }

    /// Requests in flight, by correlation id.
    pub fn in_flight(&self) -> impl Iterator<Item = (u64, &InFlight<P>)> + '_ {
        self.in_flight.iter().map(|(c, f)| (*c, f))
    }

    /// The earliest deadline of a request in flight: by then an input
    /// comes for it (its answer, a broken connection, or the timeout).
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.in_flight.iter().map(|(_, f)| f.deadline).min()
    }

    /// Requests in flight to `to`.
    pub fn in_flight_to(&self, to: Address) -> usize {
        self.in_flight.iter().filter(|(_, f)| f.to == to).count()
    }

    /// The request in flight with this correlation id.
    pub fn get(&self, correlation_id: u64) -> Option<&InFlight<P>> {
        self.position(correlation_id).map(|i| &self.in_flight[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::effect::{Effect, TestEnv};
    use sim::SECONDS;

    fn request() -> KafkaRequest {
        KafkaRequest::Metadata { topics: Vec::new() }
    }

    fn timers(env: &TestEnv) -> Vec<Nanos> {
        env.effects
            .iter()
            .filter_map(|e| match e {
                Effect::SetTimer { at, .. } => Some(*at),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn requests_are_numbered_answered_and_given_up_by_one_timer() {
        let mut t = TestEnv::new(1);
        let mut client = NetworkClient::new(Connection::Controller);
        let a = client.send(&mut t.env(), Address::Node(1), request(), 30 * SECONDS, "a");
        t.now = SECONDS;
        let b = client.send(&mut t.env(), Address::Node(2), request(), 30 * SECONDS, "b");
        assert_eq!((a, b), (1, 2));
        assert_eq!(timers(&t), vec![30 * SECONDS], "one timer for both");
        assert_eq!(client.complete(a).map(|f| f.purpose), Some("a"));
        assert_eq!(client.complete(a), None, "a late duplicate is dropped");
        // The timer fires for `a`'s deadline: nothing is due, it re-arms for `b`.
        t.now = 30 * SECONDS;
        assert!(client.expire(&mut t.env()).is_empty());
        assert_eq!(timers(&t), vec![30 * SECONDS, 31 * SECONDS]);
        t.now = 31 * SECONDS;
        let gone = client.expire(&mut t.env());
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].0, gone[0].1.purpose), (b, "b"));
        assert_eq!(client.in_flight().count(), 0);
    }

    #[test]
    fn a_broken_connection_gives_up_only_its_own_requests() {
        let mut t = TestEnv::new(1);
        let mut client = NetworkClient::new(Connection::Controller);
        client.send(&mut t.env(), Address::Node(1), request(), SECONDS, 1);
        client.send(&mut t.env(), Address::Node(2), request(), SECONDS, 2);
        client.send(&mut t.env(), Address::Node(1), request(), SECONDS, 3);
        let lost: Vec<i32> = client
            .disconnected(Address::Node(1))
            .into_iter()
            .map(|(_, f)| f.purpose)
            .collect();
        assert_eq!(lost, vec![1, 3]);
        assert_eq!(client.in_flight_to(Address::Node(2)), 1);
    }

    #[test]
    fn a_stale_firing_expires_nothing() {
        let mut t = TestEnv::new(1);
        let mut client = NetworkClient::new(Connection::Controller);
        client.send(&mut t.env(), Address::Node(1), request(), 10 * SECONDS, ());
        t.now = 5 * SECONDS;
        client.send(&mut t.env(), Address::Node(1), request(), SECONDS, ());
        // Armed earlier for the second request; the first timer is stale at 6 s.
        assert_eq!(timers(&t), vec![10 * SECONDS, 6 * SECONDS]);
        t.now = 6 * SECONDS;
        assert_eq!(client.expire(&mut t.env()).len(), 1);
        t.now = 10 * SECONDS;
        assert_eq!(client.expire(&mut t.env()).len(), 1, "re-armed at 10 s");
        assert_eq!(client.in_flight().count(), 0);
    }
}
