//! The kernel's state apart from the node objects: clock, event queue,
//! network, per-node runtime (liveness, incarnation, disk, random stream).
//!
//! Kept apart from the nodes so that a node's callback can borrow the kernel
//! mutably (through `Ctx`) while the simulator holds the node itself.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use rand_chacha::ChaCha8Rng;

use crate::disk::{Disk, DiskConfig};
use crate::fault::Fault;
use crate::net::{NetConfig, Network, SendOutcome};
use crate::node::{Node, NodeId, TimerId};
use crate::rng::Streams;
use crate::time::Nanos;
use crate::trace::Trace;

/// What happens at one point of simulated time.
pub(crate) enum EventKind<N: Node> {
    /// A message arrives (if its connection still stands).
    Deliver {
        from: NodeId,
        to: NodeId,
        epoch: u32,
        msg: N::Msg,
    },
    /// A node's timer fires (if the node is the same incarnation).
    Timer {
        node: NodeId,
        incarnation: u32,
        id: TimerId,
        timer: N::Timer,
    },
    /// A node learns its connection to `peer` broke.
    Disconnected {
        node: NodeId,
        incarnation: u32,
        peer: NodeId,
    },
    /// The disk finishes an fsync (even if the process died meanwhile).
    /// Boxed, like `Fault`, so the rare large events keep every event small.
    FsyncDone(Box<FsyncDone>),
    /// The node hears its fsync completed.
    FsyncNotify {
        node: NodeId,
        incarnation: u32,
        token: u64,
    },
    /// The OS writes back expired dirty pages on every disk.
    Writeback,
    /// A scripted kernel fault.
    Fault(Box<Fault>),
}

/// An fsync in flight.
pub(crate) struct FsyncDone {
    pub(crate) node: NodeId,
    pub(crate) incarnation: u32,
    pub(crate) file: String,
    pub(crate) upto: u64,
    pub(crate) token: u64,
}

/// Trace code of an applied fault (scheduled or applied directly).
pub(crate) const CODE_FAULT: u64 = 7;
/// Trace code of an input from outside the simulation (`Sim::poke`).
pub(crate) const CODE_POKE: u64 = 8;

impl<N: Node> EventKind<N> {
    /// Trace code of the kind (part of every trace_hash: never renumber).
    pub(crate) fn code(&self) -> u64 {
        match self {
            EventKind::Deliver { .. } => 1,
            EventKind::Timer { .. } => 2,
            EventKind::Disconnected { .. } => 3,
            EventKind::FsyncDone(_) => 4,
            EventKind::FsyncNotify { .. } => 5,
            EventKind::Writeback => 6,
            EventKind::Fault(_) => CODE_FAULT,
        }
    }
}

/// An event with its place in the total order (time, then insertion sequence).
pub(crate) struct Event<N: Node> {
    pub(crate) at: Nanos,
    pub(crate) seq: u64,
    pub(crate) kind: EventKind<N>,
}

/// The event queue: a binary heap of small (time, sequence, slot) keys over
/// a slab holding the events themselves, so sifting moves 24 bytes, never a
/// message. Pops in (time, insertion sequence) order, as the total order needs.
pub(crate) struct EventQueue<N: Node> {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    slab: Vec<Option<EventKind<N>>>,
    free: Vec<u32>,
}

impl<N: Node> EventQueue<N> {
    fn with_capacity(n: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(n),
            slab: Vec::with_capacity(n),
            free: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, event: Event<N>) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(event.kind);
                i
            }
            None => {
                self.slab.push(Some(event.kind));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((event.at, event.seq, slot)));
    }

    /// Time of the earliest event.
    #[inline]
    pub(crate) fn peek_at(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Takes the earliest event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event<N>> {
        let Reverse((at, seq, slot)) = self.heap.pop()?;
        let kind = self.slab[slot as usize].take().expect("a queued event");
        self.free.push(slot);
        Some(Event { at, seq, kind })
    }
}

/// Runtime of one node that outlives its process: name, liveness, disk, randomness.
pub(crate) struct Slot<N: Node> {
    pub(crate) name: String,
    pub(crate) up: bool,
    pub(crate) paused: bool,
    /// Bumped on every crash: timers and callbacks of older incarnations are dropped.
    pub(crate) incarnation: u32,
    /// Events that arrived while paused, delivered in order on resume.
    pub(crate) held: Vec<Event<N>>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) disk: Disk,
    pub(crate) disk_rng: ChaCha8Rng,
}

/// An observation a node recorded (what a client saw), in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed<O> {
    /// When it was recorded.
    pub at: Nanos,
    /// Who recorded it.
    pub node: NodeId,
    /// What was recorded.
    pub obs: O,
}

/// Everything but the node objects.
pub(crate) struct Kernel<N: Node> {
    pub(crate) now: Nanos,
    pub(crate) seq: u64,
    pub(crate) queue: EventQueue<N>,
    pub(crate) net: Network,
    pub(crate) net_config: NetConfig,
    pub(crate) net_rng: ChaCha8Rng,
    pub(crate) slots: Vec<Slot<N>>,
    pub(crate) disk_config: DiskConfig,
    pub(crate) writeback_scheduled: bool,
    pub(crate) next_timer: TimerId,
    pub(crate) cancelled: BTreeSet<TimerId>,
    pub(crate) trace: Trace,
    pub(crate) history: Vec<Observed<N::Obs>>,
    pub(crate) streams: Streams,
}

impl<N: Node> Kernel<N> {
    pub(crate) fn new(seed: u64, net_config: NetConfig, disk_config: DiskConfig) -> Self {
        let streams = Streams::new(seed);
        Self {
            now: 0,
            seq: 0,
            queue: EventQueue::with_capacity(1024),
            net: Network::new(net_config, 0),
            net_config,
            net_rng: streams.stream("network"),
            slots: Vec::new(),
            disk_config,
            writeback_scheduled: false,
            next_timer: 0,
            cancelled: BTreeSet::new(),
            trace: Trace::default(),
            history: Vec::new(),
            streams,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, at: Nanos, kind: EventKind<N>) {
        debug_assert!(at >= self.now, "events are never scheduled in the past");
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    /// Sends `msg` from `from` to `to` through the network.
    #[inline]
    pub(crate) fn send(&mut self, from: NodeId, to: NodeId, msg: N::Msg) {
        match self.net.send(self.now, from, to, &mut self.net_rng) {
            SendOutcome::InFlight { at, epoch } => self.push(
                at,
                EventKind::Deliver {
                    from,
                    to,
                    epoch,
                    msg,
                },
            ),
            SendOutcome::Refused { notify_at } => {
                let incarnation = self.slots[from.index()].incarnation;
                self.push(
                    notify_at,
                    EventKind::Disconnected {
                        node: from,
                        incarnation,
                        peer: to,
                    },
                );
            }
        }
    }

    /// Tells each (node, peer) pair that their connection broke, now.
    pub(crate) fn notify_disconnects(&mut self, told: Vec<(NodeId, NodeId)>) {
        for (node, peer) in told {
            let slot = &self.slots[node.index()];
            if slot.up {
                let incarnation = slot.incarnation;
                self.push(
                    self.now,
                    EventKind::Disconnected {
                        node,
                        incarnation,
                        peer,
                    },
                );
            }
        }
    }

    /// Makes sure an OS writeback pass is scheduled while any disk is dirty.
    #[inline]
    pub(crate) fn ensure_writeback(&mut self, node: NodeId) {
        if !self.writeback_scheduled && self.slots[node.index()].disk.is_dirty() {
            self.writeback_scheduled = true;
            let at = self.now + self.disk_config.writeback_interval_ns;
            self.push(at, EventKind::Writeback);
        }
    }

    /// One OS writeback pass over every disk.
    pub(crate) fn writeback(&mut self) {
        let now = self.now;
        let config = self.disk_config;
        let mut dirty = false;
        for slot in &mut self.slots {
            slot.disk.writeback(now, &config);
            dirty |= slot.disk.is_dirty();
        }
        self.writeback_scheduled = dirty;
        if dirty {
            let at = now + config.writeback_interval_ns;
            self.push(at, EventKind::Writeback);
        }
    }

    /// Issues an fsync of `file` for `node`; completes after a sampled latency.
    pub(crate) fn fsync(&mut self, node: NodeId, file: &str, token: u64) {
        let slot = &mut self.slots[node.index()];
        let latency = slot
            .disk
            .fsync_latency(&self.disk_config, &mut slot.disk_rng);
        let upto = slot.disk.fsync_horizon();
        let incarnation = slot.incarnation;
        let at = self.now + latency;
        self.push(
            at,
            EventKind::FsyncDone(Box::new(FsyncDone {
                node,
                incarnation,
                file: file.to_owned(),
                upto,
                token,
            })),
        );
    }
}
