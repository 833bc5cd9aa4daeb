//! The node type of a scenario run: controllers run the KRaft quorum,
//! brokers their control plane, the admin client creates the topics;
//! producers and consumers run the kernel's stand-in `Chatter` until their
//! Kafka state machines land.

use sim::testkit::{Chat, ChatObs, Chatter, Tick};
use sim::{Ctx, Node, NodeId};

use crate::broker::{BrokerMsg, BrokerObs, BrokerServer, BrokerTimer};
use crate::client::{AdminClient, AdminObs, AdminTimer};
use crate::controller::node::{ControllerTimer, QuorumController, QuorumMsg, QuorumObs};
use crate::controller::raft::RaftMessage;
use crate::controller::rpc::ControllerMsg;

/// One process of the simulated cluster.
#[derive(Debug)]
pub enum ClusterNode {
    /// A KRaft controller.
    Controller(Box<QuorumController>),
    /// A broker.
    Broker(Box<BrokerServer>),
    /// The admin client.
    Admin(AdminClient),
    /// A stand-in for a client.
    StandIn(Chatter),
}

/// What the cluster's nodes send each other.
#[derive(Clone, Debug, Hash)]
pub enum ClusterMsg {
    /// KRaft quorum and metadata fetch traffic.
    Raft(RaftMessage),
    /// Controller requests and responses.
    Controller(ControllerMsg),
    /// Between stand-ins.
    Chat(Chat),
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
    /// A stand-in's.
    Chat(Tick),
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
    /// A stand-in's.
    Chat(ChatObs),
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
wrap!(ClusterMsg::Chat(Chat));
wrap!(ClusterTimer::Controller(ControllerTimer));
wrap!(ClusterTimer::Broker(BrokerTimer));
wrap!(ClusterTimer::Admin(AdminTimer));
wrap!(ClusterTimer::Chat(Tick));
wrap!(ClusterObs::Quorum(QuorumObs));
wrap!(ClusterObs::Broker(BrokerObs));
wrap!(ClusterObs::Admin(AdminObs));
wrap!(ClusterObs::Chat(ChatObs));

impl Node for ClusterNode {
    type Msg = ClusterMsg;
    type Timer = ClusterTimer;
    type Obs = ClusterObs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ClusterNode::Controller(c) => c.start(ctx),
            ClusterNode::Broker(b) => b.start(ctx),
            ClusterNode::Admin(a) => a.start(ctx),
            ClusterNode::StandIn(c) => c.start(ctx),
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
            (ClusterNode::Admin(a), ClusterMsg::Controller(m)) => a.on_message(ctx, m),
            (ClusterNode::StandIn(c), ClusterMsg::Chat(m)) => c.on_message(ctx, from, m),
            (node, msg) => unreachable!("{node:?} cannot take {msg:?} from {from:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ClusterTimer) {
        match (self, timer) {
            (ClusterNode::Controller(c), ClusterTimer::Controller(t)) => c.on_timer(ctx, t),
            (ClusterNode::Broker(b), ClusterTimer::Broker(t)) => b.on_timer(ctx, t),
            (ClusterNode::Admin(a), ClusterTimer::Admin(t)) => a.on_timer(ctx, t),
            (ClusterNode::StandIn(c), ClusterTimer::Chat(_)) => c.on_timer(ctx),
            (node, timer) => unreachable!("{node:?} never set {timer:?}"),
        }
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        match self {
            ClusterNode::Controller(c) => c.on_disconnect(ctx, peer),
            ClusterNode::Broker(b) => b.on_disconnect(ctx, peer),
            ClusterNode::Admin(a) => a.on_disconnect(ctx, peer),
            ClusterNode::StandIn(c) => c.on_disconnect(ctx, peer),
        }
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        match self {
            ClusterNode::Controller(c) => c.on_fsync(ctx, token),
            ClusterNode::StandIn(c) => c.on_fsync(ctx, token),
            ClusterNode::Broker(_) | ClusterNode::Admin(_) => {}
        }
    }
}
