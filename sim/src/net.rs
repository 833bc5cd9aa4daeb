//! The network: TCP-like links between every ordered pair of nodes.
//!
//! Connectivity is a petgraph directed graph (an edge a->b means a's packets
//! reach b). Partitions remove edges; heal restores the full mesh. Each
//! ordered link keeps its connection epoch and the delivery time of its last
//! message, so delivery is FIFO per link under random latency, and a reset
//! (a cut, a crash) drops everything still in flight on the old connection.

use petgraph::matrix_graph::{DiMatrix, NodeIndex};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::node::NodeId;
use crate::time::Nanos;

/// Latency bounds of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Shortest one-way latency.
    pub latency_min_ns: Nanos,
    /// Longest one-way latency.
    pub latency_max_ns: Nanos,
    /// TCP-like links: messages on one link arrive in send order. False gives
    /// datagram links where each message keeps its own sampled latency.
    pub fifo: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            latency_min_ns: 1_000_000,
            latency_max_ns: 5_000_000,
            fifo: true,
        }
    }
}

/// A network partition: which links to cut.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Partition {
    /// Split into the given groups; nodes named in no group form one more
    /// group together. With `one_way`, only traffic from the first group to
    /// the others is dropped.
    Split {
        /// The named sides.
        groups: Vec<Vec<NodeId>>,
        /// Drop only first-group -> others.
        one_way: bool,
    },
    /// Cut one node off from every other node.
    Isolate(NodeId),
    /// Two sides that can both talk to one bridge node but not to each other.
    Bridge {
        /// One side.
        left: Vec<NodeId>,
        /// The other side.
        right: Vec<NodeId>,
        /// The node both sides reach.
        bridge: NodeId,
    },
}

/// State of one ordered link.
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    /// Bumped on every reset; messages of an older epoch are dropped.
    epoch: u32,
    /// Delivery time of the newest message sent on this connection.
    last_delivery: Nanos,
    /// A message was sent since the last reset (there is a connection to break).
    connected: bool,
    /// Cached from the graph: packets a->b get through.
    up: bool,
    /// Extra one-way delay of this link alone (a latency spike on one path).
    extra_delay: Nanos,
    /// The delayed messages do not hold back later ones (a new connection).
    overtake: bool,
}

/// What sending a message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Will be delivered at `at` if the connection epoch is still `epoch` then.
    InFlight {
        /// Delivery time.
        at: Nanos,
        /// Connection epoch the message belongs to.
        epoch: u32,
    },
    /// The link is cut: the message is lost and the sender hears of it at `notify_at`.
    Refused {
        /// When the sender learns the connection failed (one round trip).
        notify_at: Nanos,
    },
}

/// The simulated network.
pub struct Network {
    config: NetConfig,
    graph: DiMatrix<(), ()>,
    links: Vec<Link>,
    /// Extra one-way delay per node (latency spike); a link gets the larger of its ends.
    extra_delay: Vec<Nanos>,
    nodes: usize,
    /// When false, links stop being FIFO (datagram links, or a test mutation).
    fifo: bool,
}

impl Network {
    /// A fully connected network of `nodes` nodes.
    pub fn new(config: NetConfig, nodes: usize) -> Self {
        let mut net = Self {
            config,
            graph: DiMatrix::with_capacity(nodes),
            links: vec![Link::default(); nodes * nodes],
            extra_delay: vec![0; nodes],
            nodes,
            fifo: config.fifo,
        };
        for _ in 0..nodes {
            net.graph.add_node(());
        }
        net.heal();
        net
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes == 0
    }

    #[inline]
    fn index(&self, from: NodeId, to: NodeId) -> usize {
        from.index() * self.nodes + to.index()
    }

    /// True when packets from `from` currently reach `to`.
    #[inline]
    pub fn is_up(&self, from: NodeId, to: NodeId) -> bool {
        self.links[self.index(from, to)].up
    }

    /// Sends one message: samples its latency and keeps the link FIFO.
    #[inline]
    pub fn send(
        &mut self,
        now: Nanos,
        from: NodeId,
        to: NodeId,
        rng: &mut ChaCha8Rng,
    ) -> SendOutcome {
        // Loopback: no wire, no latency draw, never cut.
        let i = self.index(from, to);
        let (latency, undelayed) = if from == to {
            (0, 0)
        } else {
            let base = rng.random_range(self.config.latency_min_ns..=self.config.latency_max_ns)
                + self.extra_delay[from.index()].max(self.extra_delay[to.index()]);
            (base.max(base + self.links[i].extra_delay), base)
        };
        let fifo = self.fifo;
        let link = &mut self.links[i];
        if !link.up {
            return SendOutcome::Refused {
                notify_at: now + 2 * latency,
            };
        }
        let mut at = now + latency;
        if fifo && at < link.last_delivery {
            at = link.last_delivery;
        }
        link.last_delivery = if link.overtake {
            (now + undelayed).max(link.last_delivery.min(at))
        } else {
            at
        };
        link.connected = true;
        SendOutcome::InFlight {
            at,
            epoch: link.epoch,
        }
    }

    /// The smallest one-way latency.
    pub fn min_latency(&self) -> Nanos {
        self.config.latency_min_ns
    }

    /// True when a message of connection `epoch` on from->to may still be delivered.
    #[inline]
    pub fn is_current(&self, from: NodeId, to: NodeId, epoch: u32) -> bool {
        let link = &self.links[self.index(from, to)];
        link.up && link.epoch == epoch
    }

    /// Resets the connection between `a` and `b` in both directions: in-flight
    /// messages are dropped. Returns the endpoints that had a live connection
    /// and must be told (each as (who is told, about whom)).
    pub fn reset(&mut self, a: NodeId, b: NodeId) -> Vec<(NodeId, NodeId)> {
        // One TCP connection carries both directions: if either side had used
        // it, both ends see it break.
        let mut connected = false;
        for (from, to) in [(a, b), (b, a)] {
            let i = self.index(from, to);
            let link = &mut self.links[i];
            link.epoch = link.epoch.wrapping_add(1);
            connected |= std::mem::take(&mut link.connected);
        }
        if connected {
            vec![(a, b), (b, a)]
        } else {
            Vec::new()
        }
    }

    /// Resets every connection of `node` (its process died or restarted).
    pub fn reset_node(&mut self, node: NodeId) -> Vec<(NodeId, NodeId)> {
        let mut told = Vec::new();
        for other in 0..self.nodes {
            let other = NodeId(other as u32);
            if other == node {
                let i = self.index(node, node);
                self.links[i].epoch = self.links[i].epoch.wrapping_add(1);
            } else {
                told.extend(self.reset(node, other));
            }
        }
        told
    }

    /// Applies a partition; returns who must be told of which broken connection.
    pub fn partition(&mut self, partition: &Partition) -> Vec<(NodeId, NodeId)> {
        let mut cut = Vec::new();
        for from in 0..self.nodes {
            for to in 0..self.nodes {
                let (f, t) = (NodeId(from as u32), NodeId(to as u32));
                if from != to && separates(partition, f, t) {
                    cut.push((f, t));
                }
            }
        }
        let mut told = Vec::new();
        for (from, to) in cut {
            let (fi, ti) = (NodeIndex::new(from.index()), NodeIndex::new(to.index()));
            if self.graph.has_edge(fi, ti) {
                self.graph.remove_edge(fi, ti);
                // The sender's connection breaks; a one-way cut leaves to->from alone.
                let i = self.index(from, to);
                let link = &mut self.links[i];
                link.epoch = link.epoch.wrapping_add(1);
                if std::mem::take(&mut link.connected) {
                    told.push((from, to));
                }
            }
        }
        self.refresh();
        told
    }

    /// Restores the full mesh (connections cut earlier stay reset).
    pub fn heal(&mut self) {
        for from in 0..self.nodes {
            for to in 0..self.nodes {
                let (fi, ti) = (NodeIndex::new(from), NodeIndex::new(to));
                if from != to && !self.graph.has_edge(fi, ti) {
                    self.graph.add_edge(fi, ti, ());
                }
            }
        }
        self.refresh();
    }

    fn refresh(&mut self) {
        for from in 0..self.nodes {
            for to in 0..self.nodes {
                let up = from == to
                    || self
                        .graph
                        .has_edge(NodeIndex::new(from), NodeIndex::new(to));
                self.links[from * self.nodes + to].up = up;
            }
        }
    }

    /// Number of directed links between distinct nodes currently cut.
    pub fn cut_links(&self) -> usize {
        self.nodes * self.nodes.saturating_sub(1) - self.graph.edge_count()
    }

    /// Adds `delay` to every message to or from `node` (None = every node,
    /// and every link's own delay too); 0 restores.
    pub fn set_extra_delay(&mut self, node: Option<NodeId>, delay: Nanos) {
        match node {
            Some(n) => self.extra_delay[n.index()] = delay,
            None => {
                self.extra_delay.iter_mut().for_each(|d| *d = delay);
                self.links.iter_mut().for_each(|l| {
                    l.extra_delay = delay;
                    l.overtake = false;
                });
            }
        }
    }

    /// Adds `delay` to every message from `from` to `to` (that direction
    /// only); 0 restores.
    pub fn set_link_delay(&mut self, from: NodeId, to: NodeId, delay: Nanos, overtake: bool) {
        let i = self.index(from, to);
        self.links[i].extra_delay = delay;
        self.links[i].overtake = overtake && delay > 0;
    }

    /// Turns per-link FIFO on or off.
    pub fn set_fifo(&mut self, fifo: bool) {
        self.fifo = fifo;
    }
}

/// Does the partition cut packets from `from` to `to`?
fn separates(partition: &Partition, from: NodeId, to: NodeId) -> bool {
    match partition {
        Partition::Isolate(n) => from == *n || to == *n,
        Partition::Split { groups, one_way } => {
            let side = |n: NodeId| groups.iter().position(|g| g.contains(&n));
            let (a, b) = (side(from), side(to));
            a != b && (!*one_way || a == Some(0))
        }
        Partition::Bridge {
            left,
            right,
            bridge,
        } => {
            if from == *bridge || to == *bridge {
                return false;
            }
            (left.contains(&from) && right.contains(&to))
                || (right.contains(&from) && left.contains(&to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    fn up_matrix(net: &Network) -> Vec<Vec<bool>> {
        (0..net.len() as u32)
            .map(|a| {
                (0..net.len() as u32)
                    .map(|b| net.is_up(n(a), n(b)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fifo_holds_per_link_under_random_latency() {
        let mut net = Network::new(NetConfig::default(), 2);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut last = 0;
        for step in 0..10_000u64 {
            match net.send(step * 1000, n(0), n(1), &mut rng) {
                SendOutcome::InFlight { at, .. } => {
                    assert!(at >= last, "message {step} overtook an earlier one");
                    last = at;
                }
                SendOutcome::Refused { .. } => panic!("link is up"),
            }
        }
    }

    #[test]
    fn without_fifo_messages_overtake() {
        let mut net = Network::new(NetConfig::default(), 2);
        net.set_fifo(false);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let times: Vec<Nanos> = (0..100u64)
            .map(|s| match net.send(s * 1000, n(0), n(1), &mut rng) {
                SendOutcome::InFlight { at, .. } => at,
                SendOutcome::Refused { .. } => unreachable!(),
            })
            .collect();
        assert!(times.windows(2).any(|w| w[1] < w[0]));
    }

    #[test]
    fn isolate_cuts_every_link_of_the_node_and_heal_restores() {
        let mut net = Network::new(NetConfig::default(), 3);
        net.partition(&Partition::Isolate(n(0)));
        assert_eq!(
            up_matrix(&net),
            vec![
                vec![true, false, false],
                vec![false, true, true],
                vec![false, true, true]
            ]
        );
        assert_eq!(net.cut_links(), 4);
        net.heal();
        assert_eq!(net.cut_links(), 0);
    }

    #[test]
    fn split_puts_unnamed_nodes_on_one_more_side() {
        let mut net = Network::new(NetConfig::default(), 4);
        net.partition(&Partition::Split {
            groups: vec![vec![n(0)]],
            one_way: false,
        });
        assert!(!net.is_up(n(0), n(1)) && !net.is_up(n(3), n(0)));
        assert!(net.is_up(n(1), n(2)) && net.is_up(n(3), n(2)));
    }

    #[test]
    fn one_way_drops_only_first_group_outbound() {
        let mut net = Network::new(NetConfig::default(), 3);
        net.partition(&Partition::Split {
            groups: vec![vec![n(0)], vec![n(1), n(2)]],
            one_way: true,
        });
        assert!(!net.is_up(n(0), n(1)) && !net.is_up(n(0), n(2)));
        assert!(net.is_up(n(1), n(0)) && net.is_up(n(2), n(0)));
        assert!(net.is_up(n(1), n(2)));
    }

    #[test]
    fn bridge_node_reaches_both_sides() {
        let mut net = Network::new(NetConfig::default(), 5);
        net.partition(&Partition::Bridge {
            left: vec![n(0), n(1)],
            right: vec![n(3), n(4)],
            bridge: n(2),
        });
        assert!(net.is_up(n(0), n(2)) && net.is_up(n(2), n(4)) && net.is_up(n(4), n(2)));
        assert!(!net.is_up(n(0), n(3)) && !net.is_up(n(4), n(1)));
        assert!(net.is_up(n(0), n(1)) && net.is_up(n(3), n(4)));
    }

    #[test]
    fn cut_drops_in_flight_and_tells_connected_senders() {
        let mut net = Network::new(NetConfig::default(), 2);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let SendOutcome::InFlight { epoch, .. } = net.send(0, n(0), n(1), &mut rng) else {
            panic!("link is up")
        };
        let told = net.partition(&Partition::Isolate(n(1)));
        assert_eq!(told, vec![(n(0), n(1))]);
        assert!(!net.is_current(n(0), n(1), epoch));
        match net.send(10, n(0), n(1), &mut rng) {
            SendOutcome::Refused { notify_at } => assert!(notify_at > 10),
            SendOutcome::InFlight { .. } => panic!("link is cut"),
        }
        net.heal();
        // The old connection stays dead after heal; a new one works.
        assert!(!net.is_current(n(0), n(1), epoch));
        assert!(matches!(
            net.send(20, n(0), n(1), &mut rng),
            SendOutcome::InFlight { .. }
        ));
    }

    #[test]
    fn reset_tells_both_ends_of_a_used_connection_only() {
        let mut net = Network::new(NetConfig::default(), 3);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        net.send(0, n(0), n(1), &mut rng);
        assert_eq!(net.reset(n(0), n(1)), vec![(n(0), n(1)), (n(1), n(0))]);
        assert_eq!(net.reset(n(0), n(1)), vec![], "already reset");
        assert_eq!(net.reset(n(0), n(2)), vec![], "never used");
    }

    #[test]
    fn latency_spike_adds_delay() {
        let mut net = Network::new(NetConfig::default(), 2);
        net.set_extra_delay(Some(n(1)), 100_000_000);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let SendOutcome::InFlight { at, .. } = net.send(0, n(0), n(1), &mut rng) else {
            panic!()
        };
        assert!((101_000_000..=105_000_000).contains(&at));
    }
}
