//! `Ctx`: the narrow door through which a node acts on the world.

use std::borrow::Cow;

use rand_chacha::ChaCha8Rng;

use crate::blob::Blob;
use crate::disk::Disk;
use crate::kernel::{EventKind, Kernel, Observed};
use crate::node::{Node, NodeId, TimerId};
use crate::time::Nanos;

/// What a node may do while handling one input.
pub struct Ctx<'a, N: Node> {
    pub(crate) kernel: &'a mut Kernel<N>,
    pub(crate) me: NodeId,
}

impl<N: Node> Ctx<'_, N> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> Nanos {
        self.kernel.now
    }

    /// This node's id.
    #[inline]
    pub fn me(&self) -> NodeId {
        self.me
    }

    /// This node's name (as given to `Sim::add_node`).
    pub fn name(&self) -> &str {
        &self.kernel.slots[self.me.index()].name
    }

    /// Number of nodes in the simulation.
    pub fn node_count(&self) -> usize {
        self.kernel.slots.len()
    }

    /// This node's random stream (seeded from the run; survives restarts).
    #[inline]
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.kernel.slots[self.me.index()].rng
    }

    /// Sends a message; it arrives after a sampled latency, in order per link,
    /// unless the connection breaks first.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: N::Msg) {
        self.kernel.send(self.me, to, msg);
    }

    /// Sets a timer that fires `after` from now (unless cancelled or the node crashes).
    #[inline]
    pub fn set_timer(&mut self, after: Nanos, timer: N::Timer) -> TimerId {
        let kernel = &mut *self.kernel;
        kernel.next_timer += 1;
        let id = kernel.next_timer;
        let incarnation = kernel.slots[self.me.index()].incarnation;
        let at = kernel.now + after;
        kernel.push(
            at,
            EventKind::Timer {
                node: self.me,
                incarnation,
                id,
                timer,
            },
        );
        id
    }

    /// Cancels a timer that has not fired yet (a no-op if it has).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.kernel.cancelled.insert(id);
    }

    /// Read access to this node's disk (the page-cache view).
    pub fn disk(&self) -> &Disk {
        &self.kernel.slots[self.me.index()].disk
    }

    /// This node's disk (to read) and random stream together: what a
    /// process reads and draws while it boots.
    pub fn disk_and_rng(&mut self) -> (&Disk, &mut ChaCha8Rng) {
        let slot = &mut self.kernel.slots[self.me.index()];
        (&slot.disk, &mut slot.rng)
    }

    /// Write access to this node's disk, stamped with the current time.
    pub fn disk_mut(&mut self) -> DiskWriter<'_> {
        let now = self.kernel.now;
        DiskWriter {
            disk: &mut self.kernel.slots[self.me.index()].disk,
            now,
        }
    }

    /// Asks the disk to make `file` durable; `on_fsync(token)` follows when it is.
    pub fn fsync(&mut self, file: &str, token: u64) {
        self.kernel.fsync(self.me, file, token);
    }

    /// Ends this process once the current handler returns (a clean exit,
    /// as after a shutdown): like a crash, its timers and connections go
    /// and its page cache stays; a restart boots it from its disk.
    pub fn exit(&mut self) {
        self.kernel.exiting = Some(self.me);
    }

    /// Records an observation into the run's history for the checkers.
    pub fn observe(&mut self, obs: N::Obs) {
        let at = self.kernel.now;
        self.kernel.history.push(Observed {
            at,
            node: self.me,
            obs,
        });
    }
}

/// Writes to a node's disk at the current simulated time.
pub struct DiskWriter<'a> {
    disk: &'a mut Disk,
    now: Nanos,
}

impl DiskWriter<'_> {
    /// Writes `data` at `offset`.
    pub fn write(&mut self, file: &str, offset: u64, data: &[u8]) {
        self.disk.write(self.now, file, offset, data);
    }

    /// Writes `data` at `offset`, sharing the blob instead of copying it.
    pub fn write_blob(&mut self, file: &str, offset: u64, data: Blob) {
        self.disk.write_blob(self.now, file, offset, data);
    }

    /// Appends `data` to the file.
    pub fn append(&mut self, file: &str, data: &[u8]) {
        self.disk.append(self.now, file, data);
    }

    /// Cuts the file to `len` bytes.
    pub fn truncate(&mut self, file: &str, len: u64) {
        self.disk.truncate(self.now, file, len);
    }

    /// Deletes the file.
    pub fn remove(&mut self, file: &str) {
        self.disk.remove(self.now, file);
    }

    /// Renames `from` to `to`.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.disk.rename(self.now, from, to);
    }

    /// The file as the process sees it.
    pub fn read(&self, file: &str) -> Option<Cow<'_, [u8]>> {
        self.disk.read(file)
    }
}
