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
/// Trace code of a process ending itself (`Ctx::exit`).
pub(crate) const CODE_EXIT: u64 = 9;

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

/// Bits of a queue key that name the event's slab slot.
const SLOT_BITS: u32 = 26;
/// Most events a queue holds at once.
const MAX_QUEUED: usize = 1 << SLOT_BITS;
/// Insertion sequences stay below this (2.7 * 10^11 events in one run).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

/// The event queue: a binary heap of 16-byte keys over a slab holding the
/// events themselves, so sifting compares and moves one `u128`, never a
/// message. A key is the time in its high 64 bits, then the insertion
/// sequence, then the slot: pops come in (time, insertion sequence) order,
/// as the total order needs (the sequence is unique, so the slot never
/// decides).
pub(crate) struct EventQueue<N: Node> {
    heap: BinaryHeap<Reverse<u128>>,
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
                assert!(
                    self.slab.len() < MAX_QUEUED,
                    "more than {MAX_QUEUED} events queued at once"
                );
                self.slab.push(Some(event.kind));
                (self.slab.len() - 1) as u32
            }
        };
        assert!(event.seq < MAX_SEQ, "more than {MAX_SEQ} events in one run");
        let key = u128::from(event.at) << 64 | u128::from(event.seq << SLOT_BITS | u64::from(slot));
        self.heap.push(Reverse(key));
    }

    /// Time of the earliest event.
    #[inline]
    pub(crate) fn peek_at(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse(key)| (key >> 64) as Nanos)
    }

    /// Takes the earliest event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event<N>> {
        let Reverse(key) = self.heap.pop()?;
        let at = (key >> 64) as Nanos;
        let low = key as u64;
        let seq = low >> SLOT_BITS;
        let slot = (low & ((1 << SLOT_BITS) - 1)) as u32;
        let kind = self.slab[slot as usize].take().expect("a queued event");
        self.free.push(slot);
        // The next event was queued long ago, thousands of events back:
        // ask for its slot now, while this one is handled.
        if let Some(&Reverse(next)) = self.heap.peek() {
            let next_slot = (next as u64 & ((1 << SLOT_BITS) - 1)) as usize;
            if let Some(entry) = self.slab.get(next_slot) {
                let at: *const Option<EventKind<N>> = entry;
                crate::blob::prefetch(at);
                crate::blob::prefetch(at.cast::<u8>().wrapping_add(64));
            }
        }
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
    /// The node whose handler asked to end its process (`Ctx::exit`): it
    /// stops once that handler returns.
    pub(crate) exiting: Option<NodeId>,
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
            exiting: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Ctx;

    struct Quiet;
    impl Node for Quiet {
        type Msg = u32;
        type Timer = ();
        type Obs = ();
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: NodeId, _: u32) {}
        fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: ()) {}
    }

    fn deliver(msg: u32) -> EventKind<Quiet> {
        EventKind::Deliver {
            from: NodeId(0),
            to: NodeId(1),
            epoch: 0,
            msg,
        }
    }

    #[test]
    fn queue_pops_by_time_then_insertion_and_reuses_slots() {
        let mut q = EventQueue::<Quiet>::with_capacity(4);
        // (time, message) pushed with rising sequence numbers; ties at 5 and
        // at u64::MAX must come out in insertion order.
        let pushes = [(5, 0), (u64::MAX, 1), (1, 2), (5, 3), (u64::MAX, 4), (5, 5)];
        for (seq, &(at, msg)) in pushes.iter().enumerate() {
            q.push(Event {
                at,
                seq: seq as u64 + 1,
                kind: deliver(msg),
            });
        }
        // Pop two, push one: the freed slot is reused, the order still holds.
        let mut out = Vec::new();
        for _ in 0..2 {
            let e = q.pop().unwrap();
            let EventKind::Deliver { msg, .. } = e.kind else {
                unreachable!()
            };
            out.push((e.at, e.seq, msg));
        }
        q.push(Event {
            at: 5,
            seq: 7,
            kind: deliver(6),
        });
        assert_eq!(q.slab.len(), 6, "a freed slot is reused");
        while let Some(e) = q.pop() {
            let EventKind::Deliver { msg, .. } = e.kind else {
                unreachable!()
            };
            out.push((e.at, e.seq, msg));
        }
        assert_eq!(
            out,
            [
                (1, 3, 2),
                (5, 1, 0),
                (5, 4, 3),
                (5, 6, 5),
                (5, 7, 6),
                (u64::MAX, 2, 1),
                (u64::MAX, 5, 4)
            ]
        );
        assert_eq!(q.peek_at(), None);
    }
}
