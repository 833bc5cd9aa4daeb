//! `Sim`: the single-threaded event loop that drives every node.

use std::io::Write;

use serde_json::json;

use crate::ctx::Ctx;
use crate::disk::{Disk, DiskConfig};
use crate::fault::{Fault, FaultEffect};
use crate::kernel::{
    Event, EventKind, FsyncDone, Kernel, Observed, Slot, CODE_EXIT, CODE_FAULT, CODE_POKE,
};
use crate::net::{NetConfig, Network};
use crate::node::{Node, NodeId};
use crate::rng::Streams;
use crate::time::Nanos;
use crate::trace::stable_hash;

/// Settings of the simulated machines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimConfig {
    /// Network latency.
    pub net: NetConfig,
    /// Disk and OS writeback timing.
    pub disk: DiskConfig,
}

/// Deliberate kernel bugs, for tests that prove a checker fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// Links deliver out of order.
    pub reorder_links: bool,
    /// fsync completes without making anything durable.
    pub fsync_lies: bool,
}

/// Boots a fresh process of a node from its disk (through the `Ctx`).
type Boot<N> = Box<dyn Fn(&mut Ctx<'_, N>) -> N>;

/// A deterministic simulation of a set of nodes.
pub struct Sim<N: Node> {
    nodes: Vec<Option<N>>,
    boots: Vec<Boot<N>>,
    kernel: Kernel<N>,
    mutations: Mutations,
    started: bool,
}

impl<N: Node> Sim<N> {
    /// An empty simulation whose every random draw derives from `seed`.
    pub fn new(seed: u64, config: SimConfig) -> Self {
        Self {
            nodes: Vec::new(),
            boots: Vec::new(),
            kernel: Kernel::new(seed, config.net, config.disk),
            mutations: Mutations::default(),
            started: false,
        }
    }

    /// Adds a node (before `start`). `boot` builds a fresh process from what
    /// its `Ctx` shows (the disk, the node's random stream) and sets its first
    /// timers; it is called at start and after every crash, and must not
    /// carry state over: building a process is booting it.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        boot: impl Fn(&mut Ctx<'_, N>) -> N + 'static,
    ) -> NodeId {
        assert!(
            !self.started,
            "nodes are added before the simulation starts"
        );
        let id = NodeId(self.nodes.len() as u32);
        let name = name.into();
        let streams = &self.kernel.streams;
        self.kernel.slots.push(Slot {
            rng: streams.stream(&format!("node/{name}")),
            disk_rng: streams.stream(&format!("disk/{name}")),
            name,
            up: false,
            paused: false,
            incarnation: 0,
            held: Vec::new(),
            disk: Disk::new(),
        });
        self.nodes.push(None);
        self.boots.push(Box::new(boot));
        id
    }

    /// Reseeds every random stream of the run from here on (the network,
    /// each node's, each disk's, and streams made later) with `suffix`
    /// mixed into the seed: the same history up to now, another future.
    /// The same `suffix` gives the same future.
    pub fn reseed(&mut self, suffix: u64) {
        let mixed = crate::rng::mix(self.kernel.streams.seed(), suffix);
        let streams = Streams::new(mixed);
        self.kernel.net_rng = streams.stream("network");
        for slot in &mut self.kernel.slots {
            slot.rng = streams.stream(&format!("node/{}", slot.name));
            slot.disk_rng = streams.stream(&format!("disk/{}", slot.name));
        }
        self.kernel.streams = streams;
    }

    /// Turns on deliberate kernel bugs (tests only).
    pub fn set_mutations(&mut self, mutations: Mutations) {
        self.mutations = mutations;
        self.kernel
            .net
            .set_fifo(self.kernel.net_config.fifo && !mutations.reorder_links);
        for slot in &mut self.kernel.slots {
            slot.disk.set_fsync_lies(mutations.fsync_lies);
        }
    }

    /// Writes every processed event as a JSON line to `sink`.
    pub fn set_trace_sink(&mut self, sink: Box<dyn Write>) {
        self.kernel.trace.set_sink(sink);
    }

    /// Writes a line of the host's own to the trace, when one is being
    /// written (a note about the run, not an event: it does not change
    /// `trace_hash`).
    pub fn trace_note(&mut self, line: &serde_json::Value) {
        if self.kernel.trace.is_recording() {
            self.kernel.trace.write_line(line);
        }
    }

    /// Boots every node at time 0, in id order.
    pub fn start(&mut self) {
        assert!(!self.started, "start is called once");
        self.started = true;
        self.kernel.net = Network::new(self.kernel.net_config, self.nodes.len());
        self.set_mutations(self.mutations);
        for i in 0..self.nodes.len() {
            self.boot(NodeId(i as u32));
        }
    }

    fn boot(&mut self, id: NodeId) {
        let slot = &mut self.kernel.slots[id.index()];
        slot.up = true;
        slot.paused = false;
        let mut ctx = Ctx {
            kernel: &mut self.kernel,
            me: id,
        };
        let node = (self.boots[id.index()])(&mut ctx);
        self.nodes[id.index()] = Some(node);
        self.kernel.ensure_writeback(id);
    }

    fn kill(&mut self, id: NodeId) {
        self.nodes[id.index()] = None;
        let slot = &mut self.kernel.slots[id.index()];
        slot.up = false;
        slot.paused = false;
        slot.incarnation = slot.incarnation.wrapping_add(1);
        slot.held.clear();
        let told = self.kernel.net.reset_node(id);
        self.kernel.notify_disconnects(told);
    }

    /// Current simulated time.
    pub fn now(&self) -> Nanos {
        self.kernel.now
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.kernel.trace.events()
    }

    /// The hash of every event processed so far (16 hex digits).
    pub fn trace_hash(&self) -> String {
        self.kernel.trace.hash_hex()
    }

    /// Flushes the trace sink, reporting a write error if one happened.
    pub fn finish_trace(&mut self) -> Result<(), String> {
        self.kernel.trace.finish()
    }

    /// The run's random streams (for the workload, the fault schedule, ...).
    pub fn streams(&self) -> &Streams {
        &self.kernel.streams
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.kernel.slots[id.index()].name
    }

    /// The node's id by name.
    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.kernel
            .slots
            .iter()
            .position(|s| s.name == name)
            .map(|i| NodeId(i as u32))
    }

    /// The live node object (None while crashed).
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.nodes.get(id.index()).and_then(Option::as_ref)
    }

    /// True when the node's process is running (paused counts as running).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.kernel.slots[id.index()].up
    }

    /// True when the node is frozen.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.kernel.slots[id.index()].paused
    }

    /// The node's disk.
    pub fn disk(&self, id: NodeId) -> &Disk {
        &self.kernel.slots[id.index()].disk
    }

    /// Drops every node's disk once a run is over: the checks that follow
    /// read the processes' state, and a long run's disks (every segment
    /// file's extents, the page cache's pending writes) would otherwise
    /// stay beside what those checks build.
    pub fn discard_disks(&mut self) {
        for slot in &mut self.kernel.slots {
            slot.disk = Disk::default();
        }
    }

    /// The network (for inspection).
    pub fn network(&self) -> &Network {
        &self.kernel.net
    }

    /// Everything nodes observed so far, in order.
    pub fn history(&self) -> &[Observed<N::Obs>] {
        &self.kernel.history
    }

    /// Takes the history recorded so far.
    pub fn take_history(&mut self) -> Vec<Observed<N::Obs>> {
        std::mem::take(&mut self.kernel.history)
    }

    /// Time of the next event, if any.
    pub fn next_event_at(&self) -> Option<Nanos> {
        self.kernel.queue.peek_at()
    }

    /// Schedules a fault at `at`.
    pub fn schedule(&mut self, at: Nanos, fault: Fault) {
        self.kernel
            .push(at.max(self.kernel.now), EventKind::Fault(Box::new(fault)));
    }

    /// Processes every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Nanos) {
        while self.kernel.queue.peek_at().is_some_and(|at| at <= until) {
            self.step();
        }
        self.kernel.now = self.kernel.now.max(until);
    }

    /// As `run_until`, handing every observation to `monitor` as soon as the
    /// event that made it is processed (online checking); they are not kept.
    pub fn run_until_observing(
        &mut self,
        until: Nanos,
        monitor: &mut impl FnMut(&Observed<N::Obs>),
    ) {
        for o in self.kernel.history.drain(..) {
            monitor(&o);
        }
        while self.kernel.queue.peek_at().is_some_and(|at| at <= until) {
            self.step();
            for o in self.kernel.history.drain(..) {
                monitor(&o);
            }
        }
        self.kernel.now = self.kernel.now.max(until);
    }

    /// Processes the next event. Returns false when none is left.
    #[inline]
    pub fn step(&mut self) -> bool {
        let Some(event) = self.kernel.queue.pop() else {
            return false;
        };
        self.kernel.now = event.at;
        if let Some(node) = self.target(&event.kind) {
            let slot = &mut self.kernel.slots[node.index()];
            if slot.paused && slot.up {
                slot.held.push(event);
                return true;
            }
        }
        self.dispatch(event);
        true
    }

    /// The node whose process handles this event (None for kernel events).
    #[inline]
    fn target(&self, kind: &EventKind<N>) -> Option<NodeId> {
        match kind {
            EventKind::Deliver { to, .. } => Some(*to),
            EventKind::Timer { node, .. }
            | EventKind::Disconnected { node, .. }
            | EventKind::FsyncNotify { node, .. } => Some(*node),
            EventKind::FsyncDone(_) | EventKind::Writeback | EventKind::Fault(_) => None,
        }
    }

    fn live(&self, node: NodeId, incarnation: u32) -> bool {
        let slot = &self.kernel.slots[node.index()];
        slot.up && slot.incarnation == incarnation
    }

    #[inline]
    fn dispatch(&mut self, event: Event<N>) {
        let at = event.at;
        let code = event.kind.code();
        match event.kind {
            EventKind::Deliver {
                from,
                to,
                epoch,
                msg,
            } => {
                let delivered =
                    self.kernel.slots[to.index()].up && self.kernel.net.is_current(from, to, epoch);
                let words = [
                    u64::from(from.0) << 32 | u64::from(to.0),
                    u64::from(delivered),
                    stable_hash(&msg),
                ];
                self.kernel.trace.fold(at, code, words);
                if self.kernel.trace.is_recording() {
                    let line = json!({"t_ns": at, "event": if delivered {"deliver"} else {"drop"},
                        "from": self.name(from), "to": self.name(to), "msg": format!("{msg:?}")});
                    self.kernel.trace.write_line(&line);
                }
                if delivered {
                    self.with_node(to, |node, ctx| node.on_message(ctx, from, msg));
                } else if !self.kernel.slots[to.index()].up
                    && self.kernel.net.is_current(from, to, epoch)
                    && self.kernel.slots[from.index()].up
                {
                    // Nothing listens at the other end (the process is down):
                    // the sender's connection is refused, as a TCP reset
                    // comes back from a host whose process died.
                    let incarnation = self.kernel.slots[from.index()].incarnation;
                    let back = at + self.kernel.net.min_latency();
                    self.kernel.push(
                        back,
                        EventKind::Disconnected {
                            node: from,
                            incarnation,
                            peer: to,
                        },
                    );
                }
            }
            EventKind::Timer {
                node,
                incarnation,
                id,
                timer,
            } => {
                let cancelled =
                    !self.kernel.cancelled.is_empty() && self.kernel.cancelled.remove(&id);
                let fires = !cancelled && self.live(node, incarnation);
                let words = [u64::from(node.0), u64::from(fires), stable_hash(&timer)];
                self.kernel.trace.fold(at, code, words);
                if self.kernel.trace.is_recording() {
                    let line = json!({"t_ns": at, "event": "timer", "node": self.name(node),
                        "timer": format!("{timer:?}"), "fired": fires});
                    self.kernel.trace.write_line(&line);
                }
                if fires {
                    self.with_node(node, |n, ctx| n.on_timer(ctx, timer));
                }
            }
            EventKind::Disconnected {
                node,
                incarnation,
                peer,
            } => {
                let live = self.live(node, incarnation);
                self.kernel.trace.fold(
                    at,
                    code,
                    [u64::from(node.0), u64::from(peer.0), u64::from(live)],
                );
                if self.kernel.trace.is_recording() {
                    let line = json!({"t_ns": at, "event": "disconnected", "node": self.name(node),
                        "peer": self.name(peer), "delivered": live});
                    self.kernel.trace.write_line(&line);
                }
                if live {
                    self.with_node(node, |n, ctx| n.on_disconnect(ctx, peer));
                }
            }
            EventKind::FsyncDone(done) => {
                let FsyncDone {
                    node,
                    incarnation,
                    file,
                    upto,
                    token,
                } = *done;
                self.kernel.slots[node.index()]
                    .disk
                    .complete_fsync(&file, upto);
                self.kernel
                    .trace
                    .fold(at, code, [u64::from(node.0), upto, stable_hash(&file)]);
                if self.kernel.trace.is_recording() {
                    let line = json!({"t_ns": at, "event": "fsync_done", "node": self.name(node),
                        "file": file});
                    self.kernel.trace.write_line(&line);
                }
                // The node hears of it as a separate input (held while paused).
                self.kernel.push(
                    at,
                    EventKind::FsyncNotify {
                        node,
                        incarnation,
                        token,
                    },
                );
            }
            EventKind::FsyncNotify {
                node,
                incarnation,
                token,
            } => {
                let live = self.live(node, incarnation);
                self.kernel
                    .trace
                    .fold(at, code, [u64::from(node.0), token, u64::from(live)]);
                if self.kernel.trace.is_recording() {
                    let line = json!({"t_ns": at, "event": "fsync_notify", "node": self.name(node),
                        "token": token, "delivered": live});
                    self.kernel.trace.write_line(&line);
                }
                if live {
                    self.with_node(node, |n, ctx| n.on_fsync(ctx, token));
                }
            }
            EventKind::Writeback => {
                self.kernel.trace.fold(at, code, [0, 0, 0]);
                if self.kernel.trace.is_recording() {
                    self.kernel
                        .trace
                        .write_line(&json!({"t_ns": at, "event": "writeback"}));
                }
                self.kernel.writeback();
            }
            EventKind::Fault(fault) => {
                self.apply(*fault);
            }
        }
    }

    #[inline]
    fn with_node(&mut self, id: NodeId, f: impl FnOnce(&mut N, &mut Ctx<'_, N>)) {
        if let Some(node) = self.nodes[id.index()].as_mut() {
            let mut ctx = Ctx {
                kernel: &mut self.kernel,
                me: id,
            };
            f(node, &mut ctx);
            self.kernel.ensure_writeback(id);
            if self.kernel.exiting.take() == Some(id) {
                self.exit(id);
            }
        }
    }

    /// Node `id` ended its own process (`Ctx::exit`).
    #[cold]
    fn exit(&mut self, id: NodeId) {
        self.trace_node_event(id, CODE_EXIT, "exit");
        self.kill(id);
    }

    /// Runs `f` on a live, unpaused node now, as an input from outside the
    /// simulation (a harness or test driving a client). Returns false if the
    /// node could not take it.
    pub fn poke(&mut self, id: NodeId, f: impl FnOnce(&mut N, &mut Ctx<'_, N>)) -> bool {
        let slot = &self.kernel.slots[id.index()];
        if !slot.up || slot.paused {
            return false;
        }
        self.trace_node_event(id, CODE_POKE, "poke");
        self.with_node(id, f);
        true
    }

    /// Folds an event of node `id` alone into the trace hash, and writes
    /// it to a recorded trace as `{"t_ns", "event", "node"}`.
    fn trace_node_event(&mut self, id: NodeId, code: u64, event: &str) {
        let now = self.kernel.now;
        self.kernel.trace.fold(now, code, [u64::from(id.0), 0, 0]);
        if self.kernel.trace.is_recording() {
            let line = json!({"t_ns": now, "event": event, "node": self.name(id)});
            self.kernel.trace.write_line(&line);
        }
    }

    /// Applies a fault now; the returned effect says what it did.
    pub fn apply(&mut self, fault: Fault) -> FaultEffect {
        let effect = self.apply_inner(&fault);
        let now = self.kernel.now;
        self.kernel.trace.fold(
            now,
            CODE_FAULT,
            [stable_hash(&fault), u64::from(effect.took_effect), 0],
        );
        if self.kernel.trace.is_recording() {
            let line = json!({"t_ns": now, "event": "fault", "fault": fault.kind(),
                "spec": format!("{fault:?}"), "detail": effect.detail});
            self.kernel.trace.write_line(&line);
        }
        effect
    }

    fn apply_inner(&mut self, fault: &Fault) -> FaultEffect {
        let done = |detail: String| FaultEffect {
            detail,
            took_effect: true,
        };
        let noop = |detail: String| FaultEffect {
            detail,
            took_effect: false,
        };
        match *fault {
            Fault::Crash(id) => {
                if !self.is_up(id) {
                    return noop(format!("{} is already down", self.name(id)));
                }
                self.kill(id);
                done(format!(
                    "{} crashed; {} bytes stay in its page cache",
                    self.name(id),
                    self.disk(id).dirty_bytes()
                ))
            }
            Fault::Restart(id) => {
                let was_up = self.is_up(id);
                if was_up {
                    self.kill(id);
                }
                self.boot(id);
                let how = if was_up { "restarted" } else { "started" };
                done(format!("{} {how} from its disk", self.name(id)))
            }
            Fault::PowerLoss { node, torn } => {
                if self.is_up(node) {
                    self.kill(node);
                }
                let slot = &mut self.kernel.slots[node.index()];
                let report = slot.disk.power_loss(torn, &mut slot.disk_rng);
                let torn_note = match report.torn_bytes_kept {
                    Some(n) => format!(", a torn write kept {n} bytes"),
                    None => String::new(),
                };
                done(format!(
                    "{} lost power; {} unflushed writes lost{torn_note}",
                    self.name(node),
                    report.ops_lost
                ))
            }
            Fault::Pause(id) => {
                let slot = &mut self.kernel.slots[id.index()];
                if !slot.up || slot.paused {
                    return noop(format!("{} is not running", self.name(id)));
                }
                slot.paused = true;
                done(format!("{} paused", self.name(id)))
            }
            Fault::Resume(id) => {
                let slot = &mut self.kernel.slots[id.index()];
                if !slot.paused {
                    return noop(format!("{} is not paused", self.name(id)));
                }
                slot.paused = false;
                let held = std::mem::take(&mut slot.held);
                let count = held.len();
                let now = self.kernel.now;
                for event in held {
                    self.kernel.push(now, event.kind);
                }
                done(format!(
                    "{} resumed with {count} inputs queued",
                    self.name(id)
                ))
            }
            Fault::Partition(ref partition) => {
                let told = self.kernel.net.partition(partition);
                self.kernel.notify_disconnects(told);
                done(format!("{} links cut", self.kernel.net.cut_links()))
            }
            Fault::Heal => {
                let cut = self.kernel.net.cut_links();
                self.kernel.net.heal();
                if cut == 0 {
                    return noop("no link was cut".into());
                }
                done(format!("{cut} links restored"))
            }
            Fault::SlowDisk { node, factor } => {
                self.kernel.slots[node.index()].disk.set_slowdown(factor);
                done(format!("{} disk slowdown x{factor}", self.name(node)))
            }
            Fault::Latency { node, delay_ns } => {
                self.kernel.net.set_extra_delay(node, delay_ns);
                let who = node.map_or("every node", |n| self.name(n)).to_owned();
                done(format!(
                    "{who}: +{} one-way delay",
                    crate::time::format_nanos(delay_ns)
                ))
            }
            Fault::LinkLatency {
                from,
                to,
                delay_ns,
                overtake,
            } => {
                self.kernel.net.set_link_delay(from, to, delay_ns, overtake);
                done(format!(
                    "{} -> {}: +{} one-way delay",
                    self.name(from),
                    self.name(to),
                    crate::time::format_nanos(delay_ns)
                ))
            }
            Fault::Corrupt(id) => {
                let slot = &mut self.kernel.slots[id.index()];
                match slot.disk.corrupt(&mut slot.disk_rng) {
                    Some((file, at)) => done(format!(
                        "{}: flipped a bit of {file} at byte {at}",
                        self.name(id)
                    )),
                    None => noop(format!("{} has no durable bytes", self.name(id))),
                }
            }
            Fault::Reset(a, b) => {
                let told = self.kernel.net.reset(a, b);
                let took = !told.is_empty();
                self.kernel.notify_disconnects(told);
                let detail = format!("connection {}<->{} reset", self.name(a), self.name(b));
                if took {
                    done(detail)
                } else {
                    noop(detail)
                }
            }
        }
    }
}
