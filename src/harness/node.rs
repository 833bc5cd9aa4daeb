//! The node type of a scenario run: controllers run the KRaft quorum and its
//! metadata managers, brokers their control plane and data path, the admin
//! client creates the topics, producers and consumers run the workload.

use sim::{Ctx, Node, NodeId};

use crate::broker::{BrokerMsg, BrokerObs, BrokerServer, BrokerTimer};
use crate::client::consumer::{Consumer, ConsumerObs, ConsumerTimer};
use crate::client::producer::{Producer, ProducerTimer};
use crate::client::{AdminClient, AdminObs, AdminTimer, ProducerObs};
use crate::controller::node::{ControllerTimer, QuorumController, QuorumMsg, QuorumObs};
use crate::controller::raft::RaftMessage;
use crate::controller::rpc::ControllerMsg;
use crate::protocol::KafkaMsg;

/// One process of the simulated cluster.
#[derive(Debug)]
pub enum ClusterNode {
    /// A KRaft controller.
    Controller(Box<QuorumController>),
    /// A broker.
    Broker(Box<BrokerServer>),
    /// The admin client.
    Admin(AdminClient),
    /// A producer.
    Producer(Box<Producer>),
    /// A consumer.
    Consumer(Box<Consumer>),
}

/// What the cluster's nodes send each other.
#[derive(Clone, Debug, Hash)]
pub enum ClusterMsg {
    /// KRaft quorum and metadata fetch traffic.
    Raft(RaftMessage),
    /// Controller requests and responses.
    Controller(ControllerMsg),
    /// Data-path requests and responses.
    Kafka(KafkaMsg),
}

/// The cluster's timers.
#[derive(Clone, Debug, Hash)]
pub enum ClusterTimer {
    /// A controller's.
    Controller(ControllerTimer),
    /// A broker's.
    Broker(BrokerTimer),
    /// The admin client's.
    Admin(AdminTimer),
    /// A producer's.
    Producer(ProducerTimer),
    /// A consumer's.
    Consumer(ConsumerTimer),
}

/// What the cluster's nodes report.
#[derive(Clone, Debug)]
pub enum ClusterObs {
    /// A controller's.
    Quorum(QuorumObs),
    /// A broker's.
    Broker(BrokerObs),
    /// The admin client's.
    Admin(AdminObs),
    /// A producer's.
    Producer(ProducerObs),
    /// A consumer's.
    Consumer(ConsumerObs),
}

macro_rules! wrap {
    ($outer:ident :: $variant:ident ($inner:ty)) => {
        impl From<$inner> for $outer {
            fn from(inner: $inner) -> Self {
                $outer::$variant(inner)
            }
        }
    };
}
wrap!(ClusterMsg::Raft(RaftMessage));
wrap!(ClusterMsg::Controller(ControllerMsg));
wrap!(ClusterMsg::Kafka(KafkaMsg));
wrap!(ClusterTimer::Controller(ControllerTimer));
wrap!(ClusterTimer::Broker(BrokerTimer));
wrap!(ClusterTimer::Admin(AdminTimer));
wrap!(ClusterTimer::Producer(ProducerTimer));
wrap!(ClusterTimer::Consumer(ConsumerTimer));
wrap!(ClusterObs::Quorum(QuorumObs));
wrap!(ClusterObs::Broker(BrokerObs));
wrap!(ClusterObs::Admin(AdminObs));
wrap!(ClusterObs::Producer(ProducerObs));
wrap!(ClusterObs::Consumer(ConsumerObs));

impl Node for ClusterNode {
    type Msg = ClusterMsg;
    type Timer = ClusterTimer;
    type Obs = ClusterObs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ClusterNode::Controller(c) => c.start(ctx),
            ClusterNode::Broker(b) => b.start(ctx),
            ClusterNode::Admin(a) => a.start(ctx),
            ClusterNode::Producer(p) => p.start(ctx),
            ClusterNode::Consumer(c) => c.start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: ClusterMsg) {
        match (self, msg) {
            (ClusterNode::Controller(c), ClusterMsg::Raft(m)) => {
                c.on_message(ctx, from, QuorumMsg::Raft(m))
            }
            (ClusterNode::Controller(c), ClusterMsg::Controller(m)) => {
                c.on_message(ctx, from, QuorumMsg::Rpc(m))
            }
            (ClusterNode::Broker(b), ClusterMsg::Raft(m)) => {
                b.on_message(ctx, from, BrokerMsg::Raft(m))
            }
            (ClusterNode::Broker(b), ClusterMsg::Controller(m)) => {
                b.on_message(ctx, from, BrokerMsg::Rpc(m))
            }
            (ClusterNode::Broker(b), ClusterMsg::Kafka(m)) => {
                b.on_message(ctx, from, BrokerMsg::Kafka(m))
            }
            (ClusterNode::Admin(a), ClusterMsg::Controller(m)) => a.on_message(ctx, m),
            (ClusterNode::Producer(p), ClusterMsg::Kafka(m)) => p.on_message(ctx, m),
            (ClusterNode::Consumer(c), ClusterMsg::Kafka(m)) => c.on_message(ctx, m),
            (node, msg) => unreachable!("{node:?} cannot take {msg:?} from {from:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ClusterTimer) {
        match (self, timer) {
            (ClusterNode::Controller(c), ClusterTimer::Controller(t)) => c.on_timer(ctx, t),
            (ClusterNode::Broker(b), ClusterTimer::Broker(t)) => b.on_timer(ctx, t),
            (ClusterNode::Admin(a), ClusterTimer::Admin(t)) => a.on_timer(ctx, t),
            (ClusterNode::Producer(p), ClusterTimer::Producer(t)) => p.on_timer(ctx, t),
            (ClusterNode::Consumer(c), ClusterTimer::Consumer(t)) => c.on_timer(ctx, t),
            (node, timer) => unreachable!("{node:?} never set {timer:?}"),
        }
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        match self {
            ClusterNode::Controller(c) => c.on_disconnect(ctx, peer),
            ClusterNode::Broker(b) => b.on_disconnect(ctx, peer),
            ClusterNode::Admin(a) => a.on_disconnect(ctx, peer),
            ClusterNode::Producer(p) => p.on_disconnect(ctx, peer),
            ClusterNode::Consumer(c) => c.on_disconnect(ctx, peer),
        }
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        match self {
            ClusterNode::Controller(c) => c.on_fsync(ctx, token),
            ClusterNode::Broker(b) => b.on_fsync(ctx, token),
            ClusterNode::Admin(_) | ClusterNode::Producer(_) | ClusterNode::Consumer(_) => {}
        }
    }
}
