//! `Chatter`: the kernel's own test node.
//!
//! It exercises every kernel service the way a real process would: it sends
//! bursts of sequenced messages to random peers, appends every message it receives to a
//! log file, fsyncs that log every few records, and on boot recovers the log
//! from disk (dropping a torn tail). It reports what it saw as observations,
//! so a harness can check two kernel promises: links are FIFO, and what an
//! fsync confirmed survives any crash or power loss.

use rand::Rng;

use crate::ctx::Ctx;
use crate::node::{Node, NodeId};
use crate::time::Nanos;

/// The log file every chatter keeps.
pub const CHAT_LOG: &str = "chat.log";
/// Bytes per log record: sender id and sequence number, little-endian.
pub const RECORD_BYTES: u64 = 16;
/// The chatter fsyncs its log after this many new records.
pub const FSYNC_EVERY: u64 = 8;

/// A message between chatters: the sender's boot id and a per-link sequence.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Chat {
    /// Random id of the sender's process incarnation.
    pub boot: u64,
    /// Sequence number on this link for this incarnation, from 1.
    pub seq: u64,
}

/// The chatter's only timer.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Tick;

/// What a chatter reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatObs {
    /// Booted with this many whole records recovered from disk.
    Booted {
        /// Records recovered.
        records: u64,
    },
    /// An fsync confirmed the first `records` records durable.
    Fsynced {
        /// Records covered.
        records: u64,
    },
    /// A message arrived with a sequence not above the previous one on its link.
    OutOfOrder {
        /// The sender.
        from: NodeId,
        /// The previous sequence seen on that connection.
        previous: u64,
        /// The sequence that arrived.
        got: u64,
    },
    /// A message was received.
    Received,
    /// A connection broke.
    Disconnected,
}

/// A test node that chats with its peers and logs what it hears.
#[derive(Debug)]
pub struct Chatter {
    peers: Vec<NodeId>,
    interval_ns: Nanos,
    boot: u64,
    sent: Vec<u64>,
    /// Per sender: (boot, last seq) on the current connection.
    last_seen: Vec<Option<(u64, u64)>>,
    records: u64,
}

impl Chatter {
    fn schedule_tick<N: ChatterHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        let jitter = ctx.rng().random_range(0..=self.interval_ns);
        ctx.set_timer(self.interval_ns / 2 + jitter, Tick.into());
    }

    /// Boots a chatter that talks to `peers` about every `interval_ns`
    /// (jittered): recovers the log from disk, reports, starts chatting.
    pub fn boot<N: ChatterHost>(
        ctx: &mut Ctx<'_, N>,
        peers: Vec<NodeId>,
        interval_ns: Nanos,
    ) -> Self {
        let n = ctx.node_count();
        let bytes = ctx.disk().len(CHAT_LOG);
        // Recovery: a torn record at the tail is cut away.
        let whole = bytes - bytes % RECORD_BYTES;
        if whole != bytes {
            ctx.disk_mut().truncate(CHAT_LOG, whole);
        }
        let mut chatter = Self {
            peers,
            interval_ns: interval_ns.max(1),
            boot: ctx.rng().random(),
            sent: vec![0; n],
            last_seen: vec![None; n],
            records: whole / RECORD_BYTES,
        };
        ctx.observe(
            ChatObs::Booted {
                records: chatter.records,
            }
            .into(),
        );
        chatter.schedule_tick(ctx);
        chatter
    }

    /// A chat message arrived: check its order, log it, fsync now and then.
    pub fn on_message<N: ChatterHost>(&mut self, ctx: &mut Ctx<'_, N>, from: NodeId, msg: Chat) {
        let seen = &mut self.last_seen[from.index()];
        if let Some((boot, previous)) = *seen {
            if boot == msg.boot && msg.seq <= previous {
                ctx.observe(
                    ChatObs::OutOfOrder {
                        from,
                        previous,
                        got: msg.seq,
                    }
                    .into(),
                );
            }
        }
        *seen = Some((msg.boot, msg.seq));
        let mut record = [0u8; RECORD_BYTES as usize];
        record[..8].copy_from_slice(&u64::from(from.0).to_le_bytes());
        record[8..].copy_from_slice(&msg.seq.to_le_bytes());
        ctx.disk_mut().append(CHAT_LOG, &record);
        self.records += 1;
        ctx.observe(ChatObs::Received.into());
        if self.records.is_multiple_of(FSYNC_EVERY) {
            ctx.fsync(CHAT_LOG, self.records);
        }
    }

    /// Time to chat: a burst to a random peer.
    pub fn on_timer<N: ChatterHost>(&mut self, ctx: &mut Ctx<'_, N>) {
        if !self.peers.is_empty() {
            // A burst of back-to-back messages on one link: FIFO is only
            // tested when several messages are in flight together.
            let to = self.peers[ctx.rng().random_range(0..self.peers.len())];
            let burst = ctx.rng().random_range(1..=3);
            for _ in 0..burst {
                self.sent[to.index()] += 1;
                let seq = self.sent[to.index()];
                ctx.send(
                    to,
                    Chat {
                        boot: self.boot,
                        seq,
                    }
                    .into(),
                );
            }
        }
        self.schedule_tick(ctx);
    }

    /// A connection broke: a new one starts a new sequence on both sides.
    pub fn on_disconnect<N: ChatterHost>(&mut self, ctx: &mut Ctx<'_, N>, peer: NodeId) {
        self.last_seen[peer.index()] = None;
        ctx.observe(ChatObs::Disconnected.into());
    }

    /// An fsync of the log completed: the first `token` records are durable.
    pub fn on_fsync<N: ChatterHost>(&mut self, ctx: &mut Ctx<'_, N>, token: u64) {
        ctx.observe(ChatObs::Fsynced { records: token }.into());
    }
}

/// A node type that can host a chatter: its messages, timers and
/// observations can carry the chatter's.
pub trait ChatterHost: Node<Msg: From<Chat>, Timer: From<Tick>, Obs: From<ChatObs>> {}

impl<N> ChatterHost for N where N: Node<Msg: From<Chat>, Timer: From<Tick>, Obs: From<ChatObs>> {}

impl Node for Chatter {
    type Msg = Chat;
    type Timer = Tick;
    type Obs = ChatObs;

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Chat) {
        Chatter::on_message(self, ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _timer: Tick) {
        Chatter::on_timer(self, ctx);
    }

    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        Chatter::on_disconnect(self, ctx, peer);
    }

    fn on_fsync(&mut self, ctx: &mut Ctx<'_, Self>, token: u64) {
        Chatter::on_fsync(self, ctx, token);
    }
}
