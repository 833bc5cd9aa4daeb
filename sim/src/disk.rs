//! A node's disk: files of bytes behind an OS page cache.
//!
//! Every change first lands in the page cache (what the process reads back at
//! once) and in a queue of not-yet-durable operations. An operation becomes
//! durable when an `fsync` of its file completes, or when the OS writes back
//! dirty data that is older than the expiry age (Linux: `dirty_expire` 30 s,
//! checked every `dirty_writeback` 5 s). A process crash keeps the page cache
//! and the queue (the OS still owns them); a power loss keeps only durable
//! bytes, optionally with a torn prefix of the oldest unflushed write (the one
//! the disk was in the middle of writing).
//!
//! The disk holds each byte once: the page cache is the only copy of the
//! files, and every not-yet-durable operation keeps just what it takes to
//! undo it (a write: the length before it and the extents it overwrote; a
//! truncation: the extents it cut; a removal, or a rename over a file: that
//! file). A power loss undoes the pending operations, newest first. This is
//! exact because durability always covers a prefix of each file's history:
//! writeback takes the oldest operations, and an fsync every operation on
//! its file up to the moment it was issued.
//!
//! An append that continues the newest pending write at the same instant
//! (a record batch's header, then its records) joins that write: one op,
//! as one `write(2)` of the whole batch would be, so a torn write may cut
//! anywhere in it.
//!
//! A file is a list of extents, each an immutable shared [`Blob`] (see
//! `disk/file.rs`): appending a batch stores the batch's own blob, so the
//! same batch on a leader's and its followers' disks is one buffer. Sharing
//! keeps the argument above intact because no blob is ever changed: undoing
//! an op moves extents between the page cache and the undo log, and a
//! corruption replaces the extent holding the flipped byte with a changed
//! copy, so no change here can reach another file, undo record or disk
//! holding the same blob.
//!
//! A name is looked up once per call, as the kernel resolves a path to an
//! inode once per syscall: the disk numbers every name it holds (a
//! `FileId`), keeps the page cache and each name's pending ops in vectors
//! by number, and pending ops name their files by number. Segment names are
//! long and share a prefix (`orders-0/00000000000000000000.log`), so this
//! spares the byte comparisons an ordered map by name makes at every level
//! on every write. A number is released, and may go to another name, once
//! neither the page cache nor a pending op holds the file. The numbering
//! never shows: the name index is a hash map with a fixed seed that is only
//! looked up, never walked, and whatever lists files (`files`,
//! `durable_files`, the candidates `corrupt` draws from) sorts them by
//! name. The queue itself is a ring by sequence number (`disk/pending.rs`).

mod file;
mod pending;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use foldhash::fast::FixedState;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::blob::Blob;
use crate::time::Nanos;

use file::File;
use pending::Queue;

/// A file name: one allocation per name while the disk holds it.
type Name = Arc<str>;

/// A disk's number for a name: an index into its page cache and name slots.
type FileId = usize;

/// Files by [`FileId`]: the page cache, or a copy of it being undone to the
/// durable state. None where the number's file does not exist (or the
/// number is free).
type Files = Vec<Option<File>>;

/// One change in the page cache that is not yet durable, with what undoes it.
#[derive(Clone, Debug)]
enum Op {
    /// `len` bytes written at `offset`; the file was `old_len` long (absent
    /// when `!existed`) and held `overwritten` at `offset..`.
    Write {
        file: FileId,
        offset: u64,
        len: u64,
        existed: bool,
        old_len: u64,
        /// None when nothing was overwritten (an append).
        overwritten: Option<Box<File>>,
    },
    /// The file cut to `kept` bytes; `removed` followed them.
    Truncate {
        file: FileId,
        kept: u64,
        removed: Box<File>,
    },
    /// The file deleted; `content` is what it held (None: it was absent).
    Remove {
        file: FileId,
        content: Option<Box<File>>,
    },
    /// `from` renamed to `to` (when `moved`), replacing `replaced`.
    Rename {
        from: FileId,
        to: FileId,
        moved: bool,
        replaced: Option<Box<File>>,
    },
}

impl Op {
    /// The files it touches, each once (a rename: both, unless they are
    /// the same name).
    fn files(&self) -> impl Iterator<Item = FileId> {
        let (a, b) = match *self {
            Op::Write { file, .. } | Op::Truncate { file, .. } | Op::Remove { file, .. } => {
                (file, None)
            }
            Op::Rename { from, to, .. } => (from, (to != from).then_some(to)),
        };
        std::iter::once(a).chain(b)
    }

    /// Bytes it wrote.
    fn written(&self) -> u64 {
        match self {
            Op::Write { len, .. } => *len,
            _ => 0,
        }
    }

    /// Memory held by its undo record.
    fn stored_len(&self) -> u64 {
        match self {
            Op::Write { overwritten, .. } => overwritten.as_ref().map_or(0, |f| f.stored_len()),
            Op::Truncate { removed, .. } => removed.stored_len(),
            Op::Remove { content, .. } => content.as_ref().map_or(0, |f| f.stored_len()),
            Op::Rename { replaced, .. } => replaced.as_ref().map_or(0, |f| f.stored_len()),
        }
    }

    /// Puts `files` back as they were before this op (the op must be the
    /// newest one applied to the files it touches).
    fn undo(self, files: &mut Files) {
        match self {
            Op::Write {
                file,
                offset,
                existed,
                old_len,
                overwritten,
                ..
            } => {
                if !existed {
                    files[file] = None;
                } else if let Some(f) = &mut files[file] {
                    if let Some(overwritten) = overwritten {
                        f.write(offset, *overwritten);
                    }
                    f.cut(old_len);
                }
            }
            Op::Truncate { file, removed, .. } => {
                if let Some(f) = &mut files[file] {
                    f.extend(*removed);
                }
            }
            Op::Remove { file, content } => {
                if let Some(content) = content {
                    files[file] = Some(*content);
                }
            }
            Op::Rename {
                from,
                to,
                moved,
                replaced,
            } => {
                if moved {
                    let moved_back = files[to].take().unwrap_or_default();
                    files[from] = Some(moved_back);
                    if let Some(old) = replaced {
                        files[to] = Some(*old);
                    }
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Pending {
    at: Nanos,
    op: Op,
}

/// The pending-op sequence numbers a name's list keeps room for once it
/// empties (512 bytes).
const SEQS_KEPT: usize = 64;

/// The most emptied files [`Disk::shrink_idle`] waits for a writeback
/// pass with.
const EMPTIED_KEPT: usize = 1024;

/// What the disk keeps per [`FileId`] besides the file itself.
#[derive(Clone, Debug)]
struct Slot {
    /// The name it stands for (stale while the number is free).
    name: Name,
    /// Sequence numbers of the pending ops that touch the name, ascending:
    /// an fsync visits these instead of the whole queue.
    seqs: VecDeque<u64>,
    /// The sequence number of the newest op that touched the name.
    last_op: u64,
}

/// Timing of the disk and its OS, shared by every node's disk in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskConfig {
    /// Shortest time an fsync takes to complete.
    pub fsync_latency_min_ns: Nanos,
    /// Longest time an fsync takes to complete.
    pub fsync_latency_max_ns: Nanos,
    /// How often the OS looks for expired dirty data (Linux `dirty_writeback_centisecs`).
    pub writeback_interval_ns: Nanos,
    /// Age after which dirty data is written back (Linux `dirty_expire_centisecs`).
    pub dirty_expire_ns: Nanos,
}

impl Default for DiskConfig {
    fn default() -> Self {
        Self {
            fsync_latency_min_ns: 1_000_000,
            fsync_latency_max_ns: 10_000_000,
            writeback_interval_ns: 5_000_000_000,
            dirty_expire_ns: 30_000_000_000,
        }
    }
}

/// Entries of [`Disk::recent`].
const RECENT: usize = 16;

/// A node's simulated disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The number of every name held. Looked up only, never iterated, so
    /// its order (fixed anyway by the seed) cannot reach the simulation.
    index: HashMap<Name, FileId, FixedState>,
    /// The numbers of the names last looked up, by where the caller keeps
    /// the name (a caller that writes one file many times usually passes
    /// the same string each time): a hit is checked against the slot's
    /// name, and a released number leaves it, so the cache changes no
    /// answer.
    recent: [(usize, FileId); RECENT],
    /// By number: the name and the pending ops on it.
    slots: Vec<Slot>,
    /// Numbers released, to give to the next new names.
    free: Vec<FileId>,
    /// What the process sees, by number: the durable state with every
    /// pending op applied.
    cached: Files,
    /// Not-yet-durable ops by sequence number (oldest first), each able to
    /// undo itself. An fsync takes ops out of the middle.
    pending: Queue<Pending>,
    /// Bytes written by the pending ops.
    dirty: u64,
    /// Numbers whose pending ops all became durable, each with the newest
    /// op's sequence number then: at the next writeback pass those not
    /// touched since give back the room their lists kept (see
    /// [`Disk::shrink_idle`]).
    emptied: Vec<(FileId, u64)>,
    next_seq: u64,
    /// The newest horizon an fsync was issued with: a later write may not
    /// join an op at or below it.
    fsync_issued: u64,
    /// fsync and writeback slowdown (1 = healthy).
    slowdown: u32,
    /// Test-only mutation: fsync reports success but makes nothing durable.
    fsync_lies: bool,
}

/// What a power loss did to a disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerLossReport {
    /// Operations that were in the page cache only and are gone.
    pub ops_lost: u64,
    /// Bytes of the torn write that survived, if a write was torn.
    pub torn_bytes_kept: Option<u64>,
}

impl Disk {
    /// An empty, healthy disk.
    pub fn new() -> Self {
        Self {
            slowdown: 1,
            ..Self::default()
        }
    }

    /// The file as the process sees it (page cache), if it exists.
    fn cached_file(&self, file: &str) -> Option<&File> {
        let &id = self.index.get(file)?;
        self.cached[id].as_ref()
    }

    /// The file's current contents as the process reads them (page cache):
    /// borrowed when one extent stored as written holds the whole file.
    pub fn read(&self, file: &str) -> Option<Cow<'_, [u8]>> {
        self.cached_file(file).map(File::bytes)
    }

    /// The same contents as [`Disk::read`], as the blobs that hold them, in
    /// order (shared, not copied: as a process maps a file rather than
    /// reading it).
    pub fn read_extents(&self, file: &str) -> Option<Vec<Blob>> {
        self.cached_file(file).map(|f| f.extents().to_vec())
    }

    /// The file's durable contents (what a power loss would leave).
    pub fn read_durable(&self, file: &str) -> Option<Vec<u8>> {
        // A name not held has no file and no pending op to undo.
        let &id = self.index.get(file)?;
        self.durable()[id].as_ref().map(File::to_vec)
    }

    /// Every file's durable contents (what a power loss would leave).
    pub fn durable_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.durable()
            .iter()
            .zip(&self.slots)
            .filter_map(|(f, slot)| Some((slot.name.to_string(), f.as_ref()?.to_vec())))
            .collect()
    }

    /// The durable files as extents (sharing the page cache's blobs), by
    /// number.
    fn durable(&self) -> Files {
        let mut files = self.cached.clone();
        for (_, p) in self.pending.iter().rev() {
            p.op.clone().undo(&mut files);
        }
        files
    }

    /// Length of the file as the process sees it (0 when absent).
    pub fn len(&self, file: &str) -> u64 {
        self.cached_file(file).map_or(0, File::len)
    }

    /// True when the process sees no files at all.
    pub fn is_empty(&self) -> bool {
        self.cached.iter().all(Option::is_none)
    }

    /// Names of the files the process sees, in order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self
            .slots
            .iter()
            .zip(&self.cached)
            .filter(|(_, f)| f.is_some())
            .map(|(slot, _)| &*slot.name)
            .collect();
        names.sort_unstable();
        names.into_iter()
    }

    /// Bytes written but not yet durable (an upper bound: overwrites count twice).
    pub fn dirty_bytes(&self) -> u64 {
        self.dirty
    }

    /// True when something is in the page cache only.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Memory held by file contents and the undo log: the stored size of
    /// every extent (a blob shared with another disk counts on each).
    pub fn stored_bytes(&self) -> u64 {
        let files: u64 = self.cached.iter().flatten().map(File::stored_len).sum();
        let undo: u64 = self.pending.iter().map(|(_, p)| p.op.stored_len()).sum();
        files + undo
    }

    /// Writes `data` at `offset` (extending the file with zeros if needed).
    /// The bytes are copied; `write_blob` shares them instead.
    pub fn write(&mut self, now: Nanos, file: &str, offset: u64, data: &[u8]) {
        self.write_blob(now, file, offset, Blob::copy_of(data));
    }

    /// Writes `data` at `offset` (extending the file with zeros if needed).
    /// At the end of the file this stores the blob itself, not a copy.
    ///
    /// A write that continues the newest pending op (the same file, at the
    /// same instant, from where that write ended, at the end of the file, no
    /// fsync issued in between) joins it, as one `write(2)` of a record
    /// batch's header and records would.
    pub fn write_blob(&mut self, now: Nanos, file: &str, offset: u64, data: Blob) {
        let len = data.len() as u64;
        let id = self.id(file);
        if let Some(f) = &mut self.cached[id] {
            let old_len = f.len();
            let joins = offset == old_len
                && self
                    .pending
                    .last()
                    .is_some_and(|(seq, newest)| match newest.op {
                        Op::Write {
                            file: f,
                            offset: o,
                            len,
                            ..
                        } => {
                            seq > self.fsync_issued
                                && newest.at == now
                                && f == id
                                && o + len == offset
                        }
                        _ => false,
                    });
            if joins {
                f.push(data);
                if let Some(newest) = self.pending.last_mut() {
                    if let Op::Write { len: joined, .. } = &mut newest.op {
                        *joined += len;
                    }
                }
                self.dirty += len;
                return;
            }
            let overwritten = f.write_blob(offset, data);
            self.push_write(now, id, offset, len, true, old_len, overwritten);
        } else {
            let f = self.cached[id].insert(File::default());
            let overwritten = f.write_blob(offset, data);
            self.push_write(now, id, offset, len, false, 0, overwritten);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_write(
        &mut self,
        now: Nanos,
        file: FileId,
        offset: u64,
        len: u64,
        existed: bool,
        old_len: u64,
        overwritten: File,
    ) {
        self.push(
            now,
            Op::Write {
                file,
                offset,
                len,
                existed,
                old_len,
                overwritten: (!overwritten.is_empty()).then(|| Box::new(overwritten)),
            },
        );
    }

    /// The number of `file`, given one if the disk does not hold the name
    /// yet (the caller then makes it hold it: a file or a pending op).
    fn id(&mut self, file: &str) -> FileId {
        // A batch's records follow its header into the same file: the
        // newest op's file, compared before hashing, is usually the one.
        if let Some((_, newest)) = self.pending.last() {
            let id = newest.op.files().next().expect("an op touches a file");
            if *self.slots[id].name == *file {
                return id;
            }
        }
        let at = file.as_ptr() as usize;
        let way = (at >> 4) % RECENT;
        let (seen_at, seen) = self.recent[way];
        if seen_at == at && self.slots.get(seen).is_some_and(|s| *s.name == *file) {
            return seen;
        }
        if let Some(&id) = self.index.get(file) {
            self.recent[way] = (at, id);
            return id;
        }
        let name: Name = Arc::from(file);
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id].name = name.clone();
                id
            }
            None => {
                self.slots.push(Slot {
                    name: name.clone(),
                    seqs: VecDeque::new(),
                    last_op: 0,
                });
                self.cached.push(None);
                self.slots.len() - 1
            }
        };
        self.index.insert(name, id);
        id
    }

    /// Releases the number `id` if the disk no longer holds its name: no
    /// file in the page cache and no pending op.
    fn release_if_unused(&mut self, id: FileId) {
        let slot = &self.slots[id];
        if slot.seqs.is_empty() && self.cached[id].is_none() {
            let held = self.index.remove(&slot.name);
            debug_assert_eq!(held, Some(id), "released once");
            for entry in &mut self.recent {
                if entry.1 == id {
                    *entry = (0, 0);
                }
            }
            self.free.push(id);
        }
    }

    /// Appends `data` to the end of the file.
    pub fn append(&mut self, now: Nanos, file: &str, data: &[u8]) {
        let offset = self.len(file);
        self.write(now, file, offset, data);
    }

    /// Cuts the file to `len` bytes.
    pub fn truncate(&mut self, now: Nanos, file: &str, len: u64) {
        let id = self.id(file);
        let (kept, removed) = match &mut self.cached[id] {
            Some(f) => (len.min(f.len()), f.cut(len)),
            None => (0, File::default()),
        };
        self.push(
            now,
            Op::Truncate {
                file: id,
                kept,
                removed: Box::new(removed),
            },
        );
    }

    /// Deletes the file.
    pub fn remove(&mut self, now: Nanos, file: &str) {
        let id = self.id(file);
        let content = self.cached[id].take().map(Box::new);
        self.push(now, Op::Remove { file: id, content });
    }

    /// Renames a file, replacing any file called `to`.
    pub fn rename(&mut self, now: Nanos, from: &str, to: &str) {
        let (from, to) = (self.id(from), self.id(to));
        let (moved, replaced) = match self.cached[from].take() {
            Some(f) => (true, self.cached[to].replace(f)),
            None => (false, None),
        };
        self.push(
            now,
            Op::Rename {
                from,
                to,
                moved,
                replaced: replaced.map(Box::new),
            },
        );
    }

    fn push(&mut self, now: Nanos, op: Op) {
        self.next_seq += 1;
        let seq = self.next_seq;
        for id in op.files() {
            let slot = &mut self.slots[id];
            slot.seqs.push_back(seq);
            slot.last_op = seq;
        }
        self.dirty += op.written();
        self.pending.push(seq, Pending { at: now, op });
    }

    /// Takes op `seq` out of the pending queue (it became durable).
    fn take(&mut self, seq: u64) -> Option<Pending> {
        let p = self.pending.take(seq)?;
        for id in p.op.files() {
            let seqs = &mut self.slots[id].seqs;
            // Durability takes a prefix of each name's ops: usually the front.
            if seqs.front() == Some(&seq) {
                seqs.pop_front();
            } else if let Ok(i) = seqs.binary_search(&seq) {
                seqs.remove(i);
            }
            // A segment file takes thousands of writes while it is active,
            // then none, and a run holds thousands of such files: their
            // lists give back the room they kept (a `VecDeque` and a `Vec`
            // keep their largest capacity).
            if seqs.is_empty() {
                // Durable with nothing pending: a file no longer written (a
                // rolled segment, a checkpoint), or one fsynced as it is
                // written (a quorum's log), which fills again at once. The
                // next writeback pass tells them apart.
                self.emptied.push((id, self.next_seq));
                if self.emptied.len() >= EMPTIED_KEPT {
                    // A disk whose data is all fsynced has no writeback pass.
                    self.shrink_idle();
                }
            } else if seqs.capacity() > 64 && seqs.len() < seqs.capacity() / 4 {
                seqs.shrink_to(seqs.len() * 2);
            }
            self.release_if_unused(id);
        }
        self.dirty -= p.op.written();
        Some(p)
    }

    /// Sequence number of the newest operation: an fsync covers everything up to it.
    /// Issuing an fsync takes it: no later write joins an op it covers.
    pub fn fsync_horizon(&mut self) -> u64 {
        self.fsync_issued = self.next_seq;
        self.next_seq
    }

    /// Draws how long an fsync takes on this disk now.
    pub fn fsync_latency(&self, config: &DiskConfig, rng: &mut ChaCha8Rng) -> Nanos {
        let base = rng.random_range(config.fsync_latency_min_ns..=config.fsync_latency_max_ns);
        base.saturating_mul(u64::from(self.slowdown.max(1)))
    }

    /// Completes an fsync of `file` issued when the horizon was `upto`:
    /// every op on that file up to then becomes durable, and every earlier
    /// op on a name such an op touches. The data may have been written
    /// under another name and renamed into place (write tmp + rename), and
    /// a rename over a file settles that name's earlier history; so what is
    /// durable is always a prefix of each name's history, which is what lets
    /// a power loss undo the rest.
    ///
    /// Put as a horizon per name: `file`'s is `upto`, and a covered rename
    /// raises both its names' to its own sequence number. The ops covered
    /// on a name are then the front of its ops up to its horizon, so each
    /// name reached takes ops from its front while they are at or below
    /// its horizon; a name reached again with a higher horizon takes on
    /// from where it stopped. Only those ops are visited, each once.
    pub fn complete_fsync(&mut self, file: &str, upto: u64) {
        if self.fsync_lies {
            return;
        }
        let Some(&id) = self.index.get(file) else {
            return;
        };
        // Names reached through covered renames, with their horizons: empty
        // (no allocation) unless a rename is covered.
        let mut reached: Vec<(FileId, u64)> = Vec::new();
        let (mut id, mut upto) = (id, upto);
        loop {
            while let Some(&seq) = self.slots[id].seqs.front() {
                if seq > upto {
                    break;
                }
                let p = self.take(seq).expect("a name's ops are pending");
                if let Op::Rename { from, to, .. } = p.op {
                    reached.extend([(from, seq), (to, seq)]);
                }
            }
            let Some(next) = reached.pop() else {
                break;
            };
            (id, upto) = next;
        }
    }

    /// OS writeback: makes durable every op older than the expiry age
    /// (oldest first, so the durable state is always a prefix of history).
    pub fn writeback(&mut self, now: Nanos, config: &DiskConfig) {
        self.shrink_idle();
        let expire = config
            .dirty_expire_ns
            .saturating_mul(u64::from(self.slowdown.max(1)));
        while let Some((seq, front)) = self.pending.first() {
            if front.at.saturating_add(expire) > now {
                break;
            }
            self.take(seq);
        }
    }

    /// The files that emptied their pending ops since the last pass and
    /// took no op since give back the room kept for more: their list of
    /// sequence numbers keeps room for a few, their file none (a log
    /// keeps dozens of rolled segments, each with an extent per batch). A
    /// file written again since keeps its room (shrunk at each emptying, a
    /// log fsynced as it is written copied its extents at every fsync).
    fn shrink_idle(&mut self) {
        for (id, at) in std::mem::take(&mut self.emptied) {
            let Some(slot) = self.slots.get_mut(id) else {
                continue;
            };
            if slot.last_op > at || !slot.seqs.is_empty() {
                continue;
            }
            slot.seqs.shrink_to(SEQS_KEPT);
            if let Some(f) = &mut self.cached[id] {
                f.shrink_to_fit();
            }
        }
    }

    /// Power loss: the page cache is gone; only durable bytes remain. With
    /// `torn`, a prefix of the oldest unflushed write (drawn from `rng`) survives.
    pub fn power_loss(&mut self, torn: bool, rng: &mut ChaCha8Rng) -> PowerLossReport {
        let mut report = PowerLossReport {
            ops_lost: self.pending.len() as u64,
            torn_bytes_kept: None,
        };
        let keep = match self.pending.first() {
            Some((
                _,
                Pending {
                    op: Op::Write { len, .. },
                    ..
                },
            )) if torn => {
                let keep = rng.random_range(0..=*len as usize);
                report.torn_bytes_kept = Some(keep as u64);
                keep as u64
            }
            _ => 0,
        };
        while let Some((seq, p)) = self.pending.pop_last() {
            let torn_prefix = match p.op {
                Op::Write { file, offset, .. } if self.pending.is_empty() && keep > 0 => {
                    // Undoing newest first has left this write as it landed,
                    // so its prefix is the extents at `offset..` now.
                    self.cached[file]
                        .as_ref()
                        .map(|f| (file, offset, f.range(offset, offset + keep)))
                }
                _ => None,
            };
            let files = p.op.files();
            p.op.undo(&mut self.cached);
            if let Some((file, offset, prefix)) = torn_prefix {
                self.cached[file]
                    .get_or_insert_default()
                    .write(offset, prefix);
            }
            // Newest first: this op is the newest left on each of its names.
            for id in files {
                let newest = self.slots[id].seqs.pop_back();
                debug_assert_eq!(newest, Some(seq));
                self.release_if_unused(id);
            }
        }
        self.dirty = 0;
        report
    }

    /// Flips one random bit of one random durable byte (media corruption).
    /// The page cache shows the flip too unless a pending op changed that byte.
    /// Returns the file and byte offset flipped, or None when nothing is durable.
    pub fn corrupt(&mut self, rng: &mut ChaCha8Rng) -> Option<(String, u64)> {
        let mut candidates: Vec<(FileId, u64)> = self
            .durable()
            .iter()
            .enumerate()
            .filter_map(|(id, f)| Some((id, f.as_ref()?.len())))
            .filter(|&(_, len)| len > 0)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        // In name order, as drawn before names were numbered.
        candidates.sort_unstable_by(|a, b| self.slots[a.0].name.cmp(&self.slots[b.0].name));
        let (id, len) = candidates[rng.random_range(0..candidates.len())];
        let at = rng.random_range(0..len as usize) as u64;
        let bit = 1u8 << rng.random_range(0..8u32);
        let file = self.slots[id].name.to_string();
        let (holder, pos) = self.durable_byte_holder(id, at);
        holder.flip(pos, bit);
        Some((file, at))
    }

    /// Where the durable byte `at` of file `id` is kept, and at which
    /// position: in the undo record of the first pending op that changed it,
    /// or else in the page cache.
    fn durable_byte_holder(&mut self, id: FileId, at: u64) -> (&mut File, u64) {
        let mut name = id;
        let mut found = None;
        for (seq, p) in self.pending.iter() {
            let changed = match p.op {
                Op::Write {
                    file,
                    offset,
                    len,
                    old_len,
                    ..
                } => file == name && (offset..offset + len).contains(&at) && at < old_len,
                Op::Truncate { file, kept, .. } => file == name && at >= kept,
                Op::Remove { file, .. } => file == name,
                Op::Rename {
                    from,
                    to,
                    moved: true,
                    ..
                } => {
                    if to == name {
                        true
                    } else {
                        if from == name {
                            name = to;
                        }
                        false
                    }
                }
                Op::Rename { moved: false, .. } => false,
            };
            if changed {
                found = Some(seq);
                break;
            }
        }
        let Some(seq) = found else {
            let f = self.cached[name]
                .as_mut()
                .expect("a durable byte untouched by pending ops is in the page cache");
            return (f, at);
        };
        let op = &mut self.pending.get_mut(seq).expect("found above").op;
        match op {
            Op::Write {
                offset,
                overwritten,
                ..
            } => (
                overwritten.as_mut().expect("it overwrote durable bytes"),
                at - *offset,
            ),
            Op::Truncate { kept, removed, .. } => (removed, at - *kept),
            Op::Remove { content, .. } => (content.as_mut().expect("the file existed"), at),
            Op::Rename { replaced, .. } => (replaced.as_mut().expect("it replaced a file"), at),
        }
    }

    /// Makes fsync and writeback `factor` times slower (1 = healthy).
    pub fn set_slowdown(&mut self, factor: u32) {
        self.slowdown = factor.max(1);
    }

    /// Test-only mutation: fsync completes without making anything durable.
    pub fn set_fsync_lies(&mut self, lies: bool) {
        self.fsync_lies = lies;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    const SEC: Nanos = 1_000_000_000;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    /// Mostly zeros with a few marker bytes: what `Blob::new` compresses.
    fn padded(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| if i % 300 < 4 { (i / 300) as u8 + 1 } else { 0 })
            .collect()
    }

    /// Every file the process sees, with its bytes.
    fn cached_files(disk: &Disk) -> BTreeMap<String, Vec<u8>> {
        disk.files()
            .map(|name| (name.to_owned(), disk.read(name).unwrap().into_owned()))
            .collect()
    }

    #[test]
    fn write_is_visible_at_once_but_not_durable() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"abc");
        assert_eq!(disk.read("log").as_deref(), Some(&b"abc"[..]));
        assert_eq!(disk.read_durable("log"), None);
        assert!(disk.is_dirty());
    }

    #[test]
    fn power_loss_before_fsync_loses_the_write() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"abc");
        let report = disk.power_loss(false, &mut rng());
        assert_eq!(report.ops_lost, 1);
        assert_eq!(disk.read("log"), None);
        assert_eq!(disk.dirty_bytes(), 0);
    }

    #[test]
    fn fsync_makes_writes_up_to_its_horizon_durable() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"abc");
        let horizon = disk.fsync_horizon();
        disk.append(1, "log", b"def"); // after the fsync was issued
        disk.append(1, "other", b"xyz"); // another file
        assert_eq!(disk.dirty_bytes(), 9);
        disk.complete_fsync("log", horizon);
        assert_eq!(disk.dirty_bytes(), 6);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log").as_deref(), Some(&b"abc"[..]));
        assert_eq!(disk.read("other"), None);
    }

    #[test]
    fn an_append_continuing_the_newest_write_at_the_same_instant_joins_it() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"head");
        disk.append(0, "log", b"body"); // joins: one write(2) of a batch
        disk.append(1, "log", b"next"); // a later instant: an op of its own
        let h = disk.fsync_horizon();
        disk.append(1, "log", b"late"); // after an fsync was issued: its own op
        assert_eq!(disk.dirty_bytes(), 16);
        let report = disk.clone().power_loss(false, &mut rng());
        assert_eq!(report.ops_lost, 3, "head+body, next, late");
        disk.complete_fsync("log", h);
        assert_eq!(disk.dirty_bytes(), 4);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log").as_deref(), Some(&b"headbodynext"[..]));
    }

    #[test]
    fn writeback_flushes_only_expired_data() {
        let config = DiskConfig::default();
        let mut disk = Disk::new();
        disk.append(0, "log", b"old");
        disk.append(20 * SEC, "log", b"new");
        disk.writeback(30 * SEC, &config);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log").as_deref(), Some(&b"old"[..]));
    }

    #[test]
    fn slow_disk_delays_writeback_and_fsync() {
        let config = DiskConfig::default();
        let mut disk = Disk::new();
        disk.set_slowdown(10);
        disk.append(0, "log", b"x");
        disk.writeback(30 * SEC, &config);
        assert!(disk.is_dirty());
        let mut r = rng();
        let latency = disk.fsync_latency(&config, &mut r);
        assert!(latency >= 10 * config.fsync_latency_min_ns);
    }

    #[test]
    fn torn_write_keeps_a_prefix_of_the_oldest_unflushed_write() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"0123456789");
        let horizon = disk.fsync_horizon();
        disk.complete_fsync("log", horizon);
        disk.append(1, "log", b"abcdefghij");
        disk.append(2, "log", b"KLMNOPQRST");
        let mut kept = Vec::new();
        for seed in 0..32 {
            let mut d = disk.clone();
            let report = d.power_loss(true, &mut ChaCha8Rng::seed_from_u64(seed));
            let n = report.torn_bytes_kept.expect("a write was torn") as usize;
            let mut expect = b"0123456789".to_vec();
            expect.extend_from_slice(&b"abcdefghij"[..n]);
            assert_eq!(d.read("log").as_deref(), Some(&expect[..]));
            kept.push(n);
        }
        kept.sort_unstable();
        kept.dedup();
        assert!(kept.len() > 3, "torn lengths vary with the draw: {kept:?}");
    }

    #[test]
    fn rename_and_remove_follow_the_same_durability_rules() {
        let mut disk = Disk::new();
        disk.write(0, "cp.tmp", 0, b"v1");
        disk.rename(0, "cp.tmp", "cp");
        assert_eq!(disk.read("cp").as_deref(), Some(&b"v1"[..]));
        assert_eq!(disk.read("cp.tmp"), None);
        let h = disk.fsync_horizon();
        disk.complete_fsync("cp", h);
        disk.remove(1, "cp");
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("cp").as_deref(), Some(&b"v1"[..]));
    }

    #[test]
    fn fsync_follows_a_rename_back_only_to_the_rename() {
        let mut disk = Disk::new();
        disk.write(0, "cp.tmp", 0, b"v1");
        disk.rename(0, "cp.tmp", "cp");
        disk.write(0, "cp.tmp", 0, b"v2"); // after the rename: not cp's history
        let h = disk.fsync_horizon();
        disk.complete_fsync("cp", h);
        assert_eq!(disk.dirty_bytes(), 2);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("cp").as_deref(), Some(&b"v1"[..]));
        assert_eq!(disk.read("cp.tmp"), None);
    }

    #[test]
    fn an_emptied_file_gives_back_its_room_at_the_next_pass_unless_written_again() {
        let config = DiskConfig::default();
        let mut disk = Disk::new();
        // Two logs fsynced as written: extents of different blobs.
        for name in ["log", "idle"] {
            for i in 0..100u8 {
                disk.append(0, name, &[i; 3]);
                disk.append(1, name, &[i; 5]);
            }
        }
        let room = |disk: &Disk, name: &str| {
            let id = disk.index[name];
            let file = disk.cached[id].as_ref().expect("a file");
            (file.extents_capacity(), disk.slots[id].seqs.capacity())
        };
        let h = disk.fsync_horizon();
        disk.complete_fsync("log", h);
        disk.complete_fsync("idle", h);
        let full = room(&disk, "log");
        assert!(full.0 >= 200, "{full:?}");
        assert_eq!(room(&disk, "idle"), full, "kept until the next pass");
        disk.append(2, "log", b"more"); // written again: active
        disk.writeback(3, &config);
        assert!(
            room(&disk, "log").0 >= full.0,
            "an active file keeps its room"
        );
        let idle = room(&disk, "idle");
        assert!(
            idle.0 < full.0 && idle.1 <= SEQS_KEPT,
            "{idle:?} against {full:?}"
        );
        assert_eq!(
            disk.read("idle").map(|b| b.len()),
            Some(800),
            "the bytes stay"
        );
    }

    #[test]
    fn a_name_is_released_with_its_last_op_and_its_number_reused() {
        let mut disk = Disk::new();
        for name in ["z", "y", "x"] {
            disk.append(0, name, name.as_bytes());
        }
        let h = disk.fsync_horizon();
        for name in ["z", "y", "x"] {
            disk.complete_fsync(name, h);
        }
        disk.remove(1, "y");
        disk.rename(1, "z", "w");
        let h = disk.fsync_horizon();
        disk.complete_fsync("w", h);
        disk.complete_fsync("y", h);
        assert_eq!(disk.free.len(), 2, "y and z: no file, no pending op");
        assert_eq!(disk.index.len(), 2);
        disk.append(2, "b", b"bb");
        disk.append(2, "a", b"aa");
        assert!(disk.free.is_empty(), "a and b got their numbers");
        assert!(disk.files().eq(["a", "b", "w", "x"]));
        assert_eq!((disk.read("y"), disk.read("z")), (None, None));
        assert_eq!(disk.read_durable("z"), None);
        assert!(disk.durable_files().keys().eq(["w", "x"]));
        disk.power_loss(false, &mut rng());
        assert!(disk.files().eq(["w", "x"]));
        assert_eq!(disk.free.len(), 2, "a and b are gone again");
        assert_eq!(disk.read("w").as_deref(), Some(&b"z"[..]));
    }

    #[test]
    fn a_name_kept_in_one_buffer_is_looked_up_by_its_content() {
        // The lookup cache is keyed by where the caller keeps a name: a
        // buffer whose name changed, or whose number was released and
        // given to another name, must still find its own file.
        let mut disk = Disk::new();
        let mut name = String::from("seg-a");
        disk.append(0, &name, b"aa");
        let h = disk.fsync_horizon();
        disk.complete_fsync(&name, h);
        disk.remove(1, &name);
        let h = disk.fsync_horizon();
        disk.complete_fsync(&name, h);
        assert_eq!(disk.free.len(), 1, "seg-a's number is released");
        disk.append(2, "seg-c", b"cc");
        assert!(disk.free.is_empty(), "seg-c took seg-a's number");
        assert_eq!(disk.read(&name), None, "seg-a is gone, not seg-c");
        name.replace_range(.., "seg-b");
        disk.append(3, &name, b"bb");
        assert!(disk.files().eq(["seg-b", "seg-c"]));
        assert_eq!(disk.read("seg-c").as_deref(), Some(&b"cc"[..]));
        assert_eq!(disk.read(&name).as_deref(), Some(&b"bb"[..]));
    }

    #[test]
    fn corruption_flips_exactly_one_durable_bit() {
        let mut disk = Disk::new();
        disk.append(0, "log", &[0u8; 64]);
        let h = disk.fsync_horizon();
        disk.complete_fsync("log", h);
        let (file, at) = disk.corrupt(&mut rng()).expect("durable bytes exist");
        assert_eq!(file, "log");
        let bytes = disk.read_durable("log").unwrap();
        let ones: u32 = bytes.iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 1);
        assert_ne!(bytes[at as usize], 0);
        assert_eq!(disk.read("log").as_deref(), Some(&bytes[..]));
    }

    #[test]
    fn lying_fsync_is_caught_by_power_loss() {
        let mut disk = Disk::new();
        disk.set_fsync_lies(true);
        disk.append(0, "log", b"abc");
        let h = disk.fsync_horizon();
        disk.complete_fsync("log", h);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log"), None);
    }

    #[test]
    fn overwrite_in_the_middle_and_sparse_write() {
        let mut disk = Disk::new();
        disk.write(0, "f", 0, b"hello world");
        disk.write(0, "f", 6, b"there!");
        assert_eq!(disk.read("f").as_deref(), Some(&b"hello there!"[..]));
        disk.write(0, "g", 3, b"x");
        assert_eq!(disk.read("g").as_deref(), Some(&b"\0\0\0x"[..]));
        disk.truncate(0, "f", 5);
        assert_eq!(disk.read("f").as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn corruption_under_a_pending_overwrite_shows_only_after_power_loss() {
        let mut disk = Disk::new();
        disk.append(0, "f", &[0u8; 8]);
        let h = disk.fsync_horizon();
        disk.complete_fsync("f", h);
        disk.write(1, "f", 0, &[7u8; 8]); // the page cache covers every durable byte
        let (_, at) = disk.corrupt(&mut rng()).expect("durable bytes exist");
        assert_eq!(
            disk.read("f").as_deref(),
            Some(&[7u8; 8][..]),
            "the cache hides the flip"
        );
        disk.power_loss(false, &mut rng());
        let bytes = disk.read("f").unwrap();
        assert_ne!(bytes[at as usize], 0, "the durable byte was flipped");
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
    }

    #[test]
    fn an_appended_blob_is_stored_once_and_shared_between_disks() {
        let blob = Blob::new(padded(10_000));
        assert!(blob.stored_len() < 2_000, "compressed: {blob:?}");
        let (mut leader, mut follower) = (Disk::new(), Disk::new());
        leader.append(0, "log", b"hdr");
        let before = leader.stored_bytes();
        leader.write_blob(1, "log", 3, blob.clone());
        assert_eq!(leader.stored_bytes(), before + blob.stored_len() as u64);
        follower.write_blob(1, "log", 0, blob.clone());
        assert_eq!(follower.stored_bytes(), blob.stored_len() as u64);
        assert_eq!(leader.read("log").unwrap()[3..], blob.to_vec());
        assert_eq!(follower.read("log").unwrap(), blob.to_vec());

        // Cutting at the blob's edge moves it to the undo log, still uncopied;
        // once durable, the cut extent is gone.
        leader.truncate(2, "log", 3);
        assert_eq!(leader.stored_bytes(), before + blob.stored_len() as u64);
        let h = leader.fsync_horizon();
        leader.complete_fsync("log", h);
        assert_eq!(leader.stored_bytes(), before);
        assert_eq!(follower.read("log").unwrap(), blob.to_vec());

        let raw = Blob::raw(b"one extent".to_vec());
        leader.write_blob(3, "raw", 0, raw);
        assert!(matches!(
            leader.read("raw"),
            Some(Cow::Borrowed(b"one extent"))
        ));
    }

    #[test]
    fn a_torn_blob_write_keeps_a_prefix_of_the_blob() {
        let bytes = padded(2_000);
        let blob = Blob::new(bytes.clone());
        let mut disk = Disk::new();
        disk.append(0, "log", b"base");
        let h = disk.fsync_horizon();
        disk.complete_fsync("log", h);
        disk.write_blob(1, "log", 4, blob.clone());
        disk.write_blob(2, "log", 2_004, Blob::raw(b"later".to_vec()));
        let mut kept = BTreeSet::new();
        for seed in 0..16 {
            let mut d = disk.clone();
            let report = d.power_loss(true, &mut ChaCha8Rng::seed_from_u64(seed));
            let n = report.torn_bytes_kept.expect("a write was torn") as usize;
            let mut expect = b"base".to_vec();
            expect.extend_from_slice(&bytes[..n]);
            assert_eq!(d.read("log").unwrap(), expect);
            kept.insert(n);
        }
        assert!(kept.len() > 3, "torn lengths vary with the draw: {kept:?}");
        assert_eq!(blob.to_vec(), bytes, "tearing never changes the blob");
    }

    #[test]
    fn corrupting_a_shared_blob_leaves_other_disks_alone() {
        for blob in [Blob::raw(vec![0; 64]), Blob::new(vec![0; 4096])] {
            let (mut a, mut b) = (Disk::new(), Disk::new());
            for disk in [&mut a, &mut b] {
                disk.write_blob(0, "log", 0, blob.clone());
                let h = disk.fsync_horizon();
                disk.complete_fsync("log", h);
            }
            let (_, at) = a.corrupt(&mut rng()).expect("durable bytes exist");
            let flipped = a.read("log").unwrap();
            assert_eq!(flipped.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
            assert_ne!(flipped[at as usize], 0);
            assert_eq!(b.read("log").unwrap(), blob.to_vec(), "the other disk");
            assert!(blob.to_vec().iter().all(|&x| x == 0), "the blob itself");
        }
    }

    fn write_at(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
        super::file::write_at(bytes, offset as usize, data);
    }

    /// The undo log against a reference that keeps a second, durable copy of
    /// every file and applies ops to it as they become durable (the model
    /// this disk replaced): the same random histories leave the same bytes.
    /// Writes are byte slices or blobs from a shared pool (some compressed),
    /// mostly appended; at the end a torn power loss and a corruption run on
    /// clones, which share every blob with the original.
    #[test]
    fn undoing_pending_ops_matches_a_durable_copy_model() {
        type RefFiles = BTreeMap<String, Vec<u8>>;
        #[derive(Clone)]
        enum RefOp {
            Write(String, u64, Vec<u8>),
            Truncate(String, u64),
            Remove(String),
            Rename(String, String),
        }
        fn apply(files: &mut RefFiles, op: &RefOp) {
            match op {
                RefOp::Write(f, o, d) => write_at(files.entry(f.clone()).or_default(), *o, d),
                RefOp::Truncate(f, l) => {
                    if let Some(b) = files.get_mut(f) {
                        b.truncate(*l as usize);
                    }
                }
                RefOp::Remove(f) => {
                    files.remove(f);
                }
                RefOp::Rename(a, b) => {
                    if let Some(bytes) = files.remove(a) {
                        files.insert(b.clone(), bytes);
                    }
                }
            }
        }
        fn touches(op: &RefOp, n: &str) -> bool {
            match op {
                RefOp::Write(f, ..) | RefOp::Truncate(f, _) | RefOp::Remove(f) => f == n,
                RefOp::Rename(a, b) => a == n || b == n,
            }
        }
        fn bits_differing(a: &RefFiles, b: &RefFiles) -> u32 {
            assert!(a.keys().eq(b.keys()), "the same files");
            a.values()
                .zip(b.values())
                .map(|(x, y)| {
                    assert_eq!(x.len(), y.len());
                    x.iter()
                        .zip(y)
                        .map(|(p, q)| (p ^ q).count_ones())
                        .sum::<u32>()
                })
                .sum()
        }
        let names = ["a", "b", "c"];
        for seed in 0..300 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let pool: Vec<(Blob, Vec<u8>)> = (0..6)
                .map(|i| {
                    let bytes: Vec<u8> = if i % 2 == 0 {
                        let len = r.random_range(600..2_000);
                        let mut b = padded(len);
                        b[r.random_range(0..len)] = r.random();
                        b
                    } else {
                        (0..r.random_range(1..40)).map(|_| r.random()).collect()
                    };
                    (Blob::new(bytes.clone()), bytes)
                })
                .collect();
            let mut disk = Disk::new();
            let mut durable = RefFiles::new();
            let mut pending: Vec<(Nanos, RefOp)> = Vec::new();
            let config = DiskConfig::default();
            for step in 0..40u64 {
                let now = step * SEC;
                let f = names[r.random_range(0..3)].to_owned();
                let op = match r.random_range(0..12) {
                    0..=3 => {
                        let len = r.random_range(1..6);
                        let data: Vec<u8> = (0..len).map(|_| r.random()).collect();
                        let offset = r.random_range(0..=disk.len(&f) + 2);
                        disk.write(now, &f, offset, &data);
                        RefOp::Write(f, offset, data)
                    }
                    4..=6 => {
                        let (blob, bytes) = &pool[r.random_range(0..pool.len())];
                        let offset = if r.random_bool(0.7) {
                            disk.len(&f)
                        } else {
                            r.random_range(0..=disk.len(&f) + 2)
                        };
                        disk.write_blob(now, &f, offset, blob.clone());
                        RefOp::Write(f, offset, bytes.clone())
                    }
                    7 => {
                        let len = r.random_range(0..=disk.len(&f) + 1);
                        disk.truncate(now, &f, len);
                        RefOp::Truncate(f, len)
                    }
                    8 => {
                        disk.remove(now, &f);
                        RefOp::Remove(f)
                    }
                    9 => {
                        let to = names[r.random_range(0..3)].to_owned();
                        if to == f {
                            continue;
                        }
                        disk.rename(now, &f, &to);
                        RefOp::Rename(f, to)
                    }
                    10 => {
                        let upto = disk.fsync_horizon();
                        disk.complete_fsync(&f, upto);
                        // Newest first: an op on a covered name is covered,
                        // and a covered rename covers both its names before it.
                        let mut covered = vec![f.clone()];
                        let mut durable_now = vec![false; pending.len()];
                        for (i, (_, op)) in pending.iter().enumerate().rev() {
                            if !covered.iter().any(|n| touches(op, n)) {
                                continue;
                            }
                            durable_now[i] = true;
                            if let RefOp::Rename(a, b) = op {
                                covered.push(a.clone());
                                covered.push(b.clone());
                            }
                        }
                        let mut keep = Vec::new();
                        for (p, now_durable) in pending.drain(..).zip(durable_now) {
                            if now_durable {
                                apply(&mut durable, &p.1);
                            } else {
                                keep.push(p);
                            }
                        }
                        pending = keep;
                        continue;
                    }
                    _ => {
                        disk.writeback(now, &config);
                        while pending
                            .first()
                            .is_some_and(|p| p.0 + config.dirty_expire_ns <= now)
                        {
                            apply(&mut durable, &pending.remove(0).1);
                        }
                        continue;
                    }
                };
                pending.push((now, op));
            }
            let mut cached = durable.clone();
            for (_, op) in &pending {
                apply(&mut cached, op);
            }
            assert_eq!(cached_files(&disk), cached, "seed {seed}");
            assert_eq!(disk.durable_files(), durable, "seed {seed}");

            let mut torn = disk.clone();
            let report = torn.power_loss(true, &mut r);
            assert_eq!(report.ops_lost, pending.len() as u64);
            let mut expect = durable.clone();
            match (pending.first(), report.torn_bytes_kept) {
                (Some((_, RefOp::Write(f, o, d))), Some(n)) => {
                    if n > 0 {
                        apply(
                            &mut expect,
                            &RefOp::Write(f.clone(), *o, d[..n as usize].to_vec()),
                        );
                    }
                }
                (Some((_, RefOp::Write(..))), None) => panic!("seed {seed}: nothing torn"),
                (_, kept) => assert_eq!(kept, None, "seed {seed}: only a write tears"),
            }
            assert_eq!(cached_files(&torn), expect, "seed {seed}");

            let mut corrupted = disk.clone();
            if let Some((file, at)) = corrupted.corrupt(&mut r) {
                let flipped = corrupted.durable_files();
                assert_eq!(bits_differing(&flipped, &durable), 1, "seed {seed}");
                assert_ne!(flipped[&file][at as usize], durable[&file][at as usize]);
                assert!(bits_differing(&cached_files(&corrupted), &cached) <= 1);
                corrupted.power_loss(false, &mut r);
                assert_eq!(cached_files(&corrupted), flipped, "seed {seed}");
            } else {
                assert!(durable.values().all(Vec::is_empty), "seed {seed}");
            }
            assert_eq!(
                disk.durable_files(),
                durable,
                "clones share, never change, blobs"
            );
            assert_eq!(cached_files(&disk), cached, "seed {seed}");
            for (blob, bytes) in &pool {
                assert_eq!(blob.to_vec(), *bytes, "seed {seed}");
            }

            disk.power_loss(false, &mut r);
            assert_eq!(cached_files(&disk), durable, "seed {seed}");
            let bytes: usize = durable.values().map(Vec::len).sum();
            assert!(
                disk.stored_bytes() <= bytes as u64,
                "no extent outweighs its bytes"
            );
        }
    }
}
