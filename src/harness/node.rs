//! The node type of a scenario run: controllers run the KRaft quorum; brokers
//! and clients run the kernel's stand-in `Chatter` until their Kafka state
//! machines land.

use sim::testkit::{Chat, ChatObs, Chatter, Tick};
use sim::{Ctx, Node, NodeId};

use crate::controller::node::{ControllerTimer, QuorumController, QuorumObs};
use crate::controller::raft::RaftMessage;

/// One process of the simulated cluster.
#[derive(Debug)]
pub enum ClusterNode {
    /// A KRaft controller.
    Controller(Box<QuorumController>),
    /// A stand-in for a broker or client.
    StandIn(Chatter),
}

/// What the cluster's nodes send each other.
#[derive(Clone, Debug, Hash)]
pub enum ClusterMsg {
    /// Between controllers.
    Raft(RaftMessage),
    /// Between stand-ins.
    Chat(Chat),
}

/// The cluster's timers.
#[derive(Clone, Debug, Hash)]
pub enum ClusterTimer {
    /// A controller's.
    Controller(ControllerTimer),
    /// A stand-in's.
    Chat(Tick),
}

/// What the cluster's nodes report.
#[derive(Clone, Debug)]
pub enum ClusterObs {
    /// A controller's.
    Quorum(QuorumObs),
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
wrap!(ClusterMsg::Chat(Chat));
wrap!(ClusterTimer::Controller(ControllerTimer));
wrap!(ClusterTimer::Chat(Tick));
wrap!(ClusterObs::Quorum(QuorumObs));
wrap!(ClusterObs::Chat(ChatObs));

/// Controller N is node N-1 (controllers are added first).
fn controller_id(node: NodeId) -> u32 {
    node.0 + 1
}

impl Node for ClusterNode {
    type Msg = ClusterMsg;
    type Timer = ClusterTimer;
    type Obs = ClusterObs;

    fn start(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self {
            ClusterNode::Controller(c) => c.start(ctx),
            ClusterNode::StandIn(c) => c.start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: ClusterMsg) {
        match (self, msg) {
            (ClusterNode::Controller(c), ClusterMsg::Raft(msg)) => {
                c.on_message(ctx, controller_id(from), msg)
            }
            (ClusterNode::StandIn(c), ClusterMsg::Chat(msg)) => c.on_message(ctx, from, msg),
            (node, msg) => unreachable!("{node:?} cannot take {msg:?} from {from:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ClusterTimer) {
        match (self, timer) {
            (ClusterNode::Controller(c), ClusterTimer::Controller(t)) => c.on_timer(ctx, t),
            (ClusterNode::StandIn(c), ClusterTimer::Chat(_)) => c.on_timer(ctx),
            (node, timer) => unreachable!("{node:?} never set {timer:?}"),
        }
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        match self {
            ClusterNode::Controller(c) => c.on_disconnect(ctx, controller_id(peer)),
            ClusterNode::StandIn(c) => c.on_disconnect(ctx, peer),
        }
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        match self {
            ClusterNode::Controller(c) => c.on_fsync(ctx, token),
            ClusterNode::StandIn(c) => c.on_fsync(ctx, token),
        }
    }
}
