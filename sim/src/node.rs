//! The node trait: what every simulated process implements.
//!
//! A node is a plain state machine. It sees the world only through its
//! inputs (a message, a timer, a broken connection, a finished fsync) and
//! acts only through its `Ctx`. Booting builds the node object from its disk
//! (the function given to `Sim::add_node`); a crash drops it, and a restart
//! boots a fresh one, so volatile state cannot survive by construction.

use std::fmt::Debug;
use std::hash::Hash;

use crate::ctx::Ctx;

/// A node's address: a dense index assigned in the order nodes are added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The id as an index into per-node tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Identifies one timer so it can be cancelled.
pub type TimerId = u64;

/// A simulated process.
pub trait Node: Sized {
    /// What nodes send each other. Hashed into the trace.
    type Msg: Debug + Hash;
    /// What a node's timers carry. Hashed into the trace.
    type Timer: Debug + Hash;
    /// What a node records into the run's history for the checkers.
    type Obs: Debug;

    /// A message from `from` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);

    /// A timer set with `ctx.set_timer` fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);

    /// The connection to `peer` broke (reset, partition, peer crash, or a send
    /// on a cut link). Messages still in flight on it are lost.
    fn on_disconnect(&mut self, _ctx: &mut Ctx<'_, Self>, _peer: NodeId) {}

    /// The fsync issued with `token` completed: what it covered is durable.
    fn on_fsync(&mut self, _ctx: &mut Ctx<'_, Self>, _token: u64) {}
}
