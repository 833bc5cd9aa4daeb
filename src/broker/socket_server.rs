//! The broker's `SocketServer`: one request per connection at a time.
//!
//! Kafka's `SocketServer.Processor` mutes a connection when a request
//! arrives on it and unmutes it once the response is sent
//! (`MUTED_AND_RESPONSE_PENDING` until `processCompletedSends`; a request
//! answered with nothing, an acks=0 produce, unmutes it at once with a
//! `NoOpResponse`). The next request of that connection waits in its socket
//! buffer meanwhile: a produce waiting in the purgatory for its replicas
//! holds back every later request of the same producer to that broker,
//! and the responses of a connection go out in the order of its requests.
//! Connections are told apart by the requester's address and the kind of
//! its connection ([`Connection`]).

use std::collections::{BTreeMap, VecDeque};

use super::purgatory::ReplyTo;
use crate::node::Address;
use crate::protocol::{Connection, KafkaRequest};

/// One connection's state.
#[derive(Clone, Debug, Default)]
struct Channel {
    /// The correlation id of the request being handled (the connection is
    /// muted until its response is sent).
    in_progress: Option<u64>,
    /// Requests that arrived meanwhile, in arrival order.
    waiting: VecDeque<(u64, KafkaRequest)>,
}

/// The connections of clients and other brokers to this broker.
#[derive(Clone, Debug, Default)]
pub struct SocketServer {
    channels: BTreeMap<(Address, Connection), Channel>,
    /// Test mutation: every request is let through as it arrives.
    unmuted: bool,
}

impl SocketServer {
    /// A server with no connection yet; `unmuted` is the test mutation.
    pub fn new(unmuted: bool) -> Self {
        Self {
            channels: BTreeMap::new(),
            unmuted,
        }
    }

    /// A request arrived: returned to be handled now, or kept (None) while
    /// its connection waits for an earlier response.
    pub fn receive(
        &mut self,
        reply_to: ReplyTo,
        request: KafkaRequest,
    ) -> Option<(ReplyTo, KafkaRequest)> {
        if self.unmuted {
            return Some((reply_to, request));
        }
        let channel = self
            .channels
            .entry((reply_to.to, reply_to.connection))
            .or_default();
        if channel.in_progress.is_some() {
            channel
                .waiting
                .push_back((reply_to.correlation_id, request));
            return None;
        }
        channel.in_progress = Some(reply_to.correlation_id);
        Some((reply_to, request))
    }

    /// The response to `reply_to` was sent (or none will be): its
    /// connection is unmuted, and its next request, if one waits, is
    /// returned to be handled now (the connection muted again for it).
    pub fn response_sent(&mut self, reply_to: ReplyTo) -> Option<(ReplyTo, KafkaRequest)> {
        let key = (reply_to.to, reply_to.connection);
        let channel = self.channels.get_mut(&key)?;
        if channel.in_progress != Some(reply_to.correlation_id) {
            // The answer of a request of a connection since closed.
            return None;
        }
        match channel.waiting.pop_front() {
            Some((correlation_id, request)) => {
                channel.in_progress = Some(correlation_id);
                let next = ReplyTo {
                    correlation_id,
                    ..reply_to
                };
                Some((next, request))
            }
            None => {
                self.channels.remove(&key);
                None
            }
        }
    }

    /// Whether the response to `reply_to` goes out: its connection is
    /// open and waits for it. Kafka's `Processor` drops a response whose
    /// connection closed or broke since its request came ("Attempting to
    /// send response via channel for which there is no open connection").
    pub fn awaits(&self, reply_to: &ReplyTo) -> bool {
        self.unmuted
            || self
                .channels
                .get(&(reply_to.to, reply_to.connection))
                .is_some_and(|c| c.in_progress == Some(reply_to.correlation_id))
    }

    /// The connections of `peer` closed: what waited on them is dropped
    /// (Kafka's processor closes the channel and its buffered requests).
    pub fn disconnected(&mut self, peer: Address) {
        self.channels.retain(|(address, _), _| *address != peer);
    }

    /// The client closed one connection: what waited on it is dropped.
    pub fn closed(&mut self, peer: Address, connection: Connection) {
        self.channels.remove(&(peer, connection));
    }

    /// Requests waiting behind another on their connection.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.channels.values().map(|c| c.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(client: u32, connection: Connection, correlation_id: u64) -> ReplyTo {
        ReplyTo {
            to: Address::Client(client),
            connection,
            correlation_id,
        }
    }

    /// Whether a Metadata request of `client` on `connection` is let through.
    fn let_through(
        server: &mut SocketServer,
        client: u32,
        connection: Connection,
        correlation_id: u64,
    ) -> bool {
        let request = KafkaRequest::Metadata { topics: Vec::new() };
        server
            .receive(from(client, connection, correlation_id), request)
            .is_some()
    }

    #[test]
    fn a_connection_takes_its_next_request_only_after_the_response() {
        let mut server = SocketServer::default();
        assert!(let_through(&mut server, 1, Connection::Producer, 1));
        assert!(!let_through(&mut server, 1, Connection::Producer, 2));
        assert!(!let_through(&mut server, 1, Connection::Producer, 3));
        assert_eq!(server.waiting(), 2);
        let first = from(1, Connection::Producer, 1);
        let (next, _) = server.response_sent(first).expect("the second goes on");
        assert_eq!(next.correlation_id, 2);
        assert_eq!(
            server.response_sent(first),
            None,
            "a second answer to the first does not unmute"
        );
        let (next, _) = server.response_sent(next).expect("the third goes on");
        assert_eq!(next.correlation_id, 3);
        assert_eq!(server.response_sent(next), None);
        assert_eq!(server.waiting(), 0);
        assert!(let_through(&mut server, 1, Connection::Producer, 4));
    }

    #[test]
    fn other_connections_and_other_clients_are_not_held_back() {
        let mut server = SocketServer::default();
        assert!(let_through(&mut server, 1, Connection::Consumer, 1));
        assert!(let_through(&mut server, 1, Connection::GroupCoordinator, 2));
        assert!(let_through(&mut server, 2, Connection::Consumer, 1));
        assert_eq!(server.waiting(), 0);
    }

    #[test]
    fn a_closed_connection_drops_what_waited_on_it() {
        for close_all in [true, false] {
            let mut server = SocketServer::default();
            assert!(let_through(&mut server, 1, Connection::Producer, 1));
            assert!(!let_through(&mut server, 1, Connection::Producer, 2));
            if close_all {
                server.disconnected(Address::Client(1));
            } else {
                server.closed(Address::Client(1), Connection::Producer);
            }
            assert_eq!(server.waiting(), 0);
            let first = from(1, Connection::Producer, 1);
            assert_eq!(server.response_sent(first), None, "nothing left to hand on");
            assert!(let_through(&mut server, 1, Connection::Producer, 3));
        }
    }

    #[test]
    fn a_response_goes_out_only_on_the_open_connection_that_asked() {
        let mut server = SocketServer::default();
        assert!(let_through(&mut server, 1, Connection::Producer, 7));
        assert!(server.awaits(&from(1, Connection::Producer, 7)));
        assert!(
            !server.awaits(&from(1, Connection::Producer, 6)),
            "no request 6 is in progress"
        );
        // The connection breaks while request 7 waits (in the purgatory):
        // its response is dropped, and a request on the new connection is
        // the one awaited.
        server.disconnected(Address::Client(1));
        assert!(!server.awaits(&from(1, Connection::Producer, 7)));
        assert!(let_through(&mut server, 1, Connection::Producer, 9));
        assert!(!server.awaits(&from(1, Connection::Producer, 7)));
        assert!(server.awaits(&from(1, Connection::Producer, 9)));
        // A connection the client closed awaits nothing either.
        server.closed(Address::Client(1), Connection::Producer);
        assert!(!server.awaits(&from(1, Connection::Producer, 9)));
    }
}
