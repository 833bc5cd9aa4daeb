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
//! undo it (a write: the length before it and the bytes it overwrote). A
//! power loss undoes the pending operations, newest first. This is exact
//! because durability always covers a prefix of each file's history:
//! writeback takes the oldest operations, and an fsync every operation on
//! its file up to the moment it was issued.

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::time::Nanos;

type Files = BTreeMap<String, Vec<u8>>;

/// One change in the page cache that is not yet durable, with what undoes it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// `len` bytes written at `offset`; the file was `old_len` long (absent
    /// when `!existed`) and held `overwritten` at `offset..`.
    Write {
        file: String,
        offset: u64,
        len: u64,
        existed: bool,
        old_len: u64,
        overwritten: Vec<u8>,
    },
    /// The file cut to `kept` bytes; `removed` followed them.
    Truncate {
        file: String,
        kept: u64,
        removed: Vec<u8>,
    },
    /// The file deleted; `content` is what it held (None: it was absent).
    Remove {
        file: String,
        content: Option<Vec<u8>>,
    },
    /// `from` renamed to `to` (when `moved`), replacing `replaced`.
    Rename {
        from: String,
        to: String,
        moved: bool,
        replaced: Option<Vec<u8>>,
    },
}

impl Op {
    fn touches(&self, name: &str) -> bool {
        match self {
            Op::Write { file, .. } | Op::Truncate { file, .. } | Op::Remove { file, .. } => {
                file == name
            }
            Op::Rename { from, to, .. } => from == name || to == name,
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
                    files.remove(&file);
                } else if let Some(bytes) = files.get_mut(&file) {
                    let at = offset as usize;
                    bytes[at..at + overwritten.len()].copy_from_slice(&overwritten);
                    bytes.truncate(old_len as usize);
                }
            }
            Op::Truncate { file, removed, .. } => {
                if let Some(bytes) = files.get_mut(&file) {
                    bytes.extend_from_slice(&removed);
                }
            }
            Op::Remove { file, content } => {
                if let Some(content) = content {
                    files.insert(file, content);
                }
            }
            Op::Rename {
                from,
                to,
                moved,
                replaced,
            } => {
                if moved {
                    let bytes = files.remove(&to).unwrap_or_default();
                    files.insert(from, bytes);
                    if let Some(old) = replaced {
                        files.insert(to, old);
                    }
                }
            }
        }
    }
}

fn write_at(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let offset = offset as usize;
    if bytes.len() < offset {
        bytes.resize(offset, 0);
    }
    let overlap = (bytes.len() - offset).min(data.len());
    bytes[offset..offset + overlap].copy_from_slice(&data[..overlap]);
    bytes.extend_from_slice(&data[overlap..]);
}

/// Which of the pending `ops` (oldest first, with their sequence numbers) an
/// fsync of `file` issued at horizon `upto` makes durable: every op up to then
/// that touches the file, and every earlier op on a name such an op touches.
/// The data may have been written under another name and renamed into place
/// (write tmp + rename), and a rename over a file settles that name's earlier
/// history; so what is durable is always a prefix of each name's history,
/// which is what lets a power loss undo the rest.
fn covered_by_fsync<'a>(
    ops: impl DoubleEndedIterator<Item = (u64, &'a Op)> + ExactSizeIterator,
    file: &'a str,
    upto: u64,
) -> Vec<bool> {
    let mut covered = vec![false; ops.len()];
    let mut names: Vec<&str> = vec![file];
    for (i, (seq, op)) in ops.enumerate().rev() {
        if seq > upto || !names.iter().any(|n| op.touches(n)) {
            continue;
        }
        covered[i] = true;
        match op {
            Op::Rename { from, to, .. } => {
                for n in [from, to] {
                    if !names.contains(&n.as_str()) {
                        names.push(n);
                    }
                }
            }
            Op::Write { .. } | Op::Truncate { .. } | Op::Remove { .. } => {}
        }
    }
    covered
}

#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    at: Nanos,
    op: Op,
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

/// A node's simulated disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// What the process sees: the durable state with every pending op applied.
    cached: Files,
    /// Not-yet-durable ops, oldest first, each able to undo itself.
    pending: VecDeque<Pending>,
    next_seq: u64,
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

    /// The file's current contents as the process reads them (page cache).
    pub fn read(&self, file: &str) -> Option<&[u8]> {
        self.cached.get(file).map(Vec::as_slice)
    }

    /// The file's durable contents (what a power loss would leave).
    pub fn read_durable(&self, file: &str) -> Option<Vec<u8>> {
        self.durable_files().remove(file)
    }

    /// Every file's durable contents (what a power loss would leave).
    pub fn durable_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = self.cached.clone();
        for p in self.pending.iter().rev() {
            p.op.clone().undo(&mut files);
        }
        files
    }

    /// Length of the file as the process sees it (0 when absent).
    pub fn len(&self, file: &str) -> u64 {
        self.cached.get(file).map_or(0, |b| b.len() as u64)
    }

    /// True when the process sees no files at all.
    pub fn is_empty(&self) -> bool {
        self.cached.is_empty()
    }

    /// Names of the files the process sees, in order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.cached.keys().map(String::as_str)
    }

    /// Bytes written but not yet durable (an upper bound: overwrites count twice).
    pub fn dirty_bytes(&self) -> u64 {
        self.pending
            .iter()
            .map(|p| match &p.op {
                Op::Write { len, .. } => *len,
                _ => 0,
            })
            .sum()
    }

    /// True when something is in the page cache only.
    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes `data` at `offset` (extending the file with zeros if needed).
    pub fn write(&mut self, now: Nanos, file: &str, offset: u64, data: &[u8]) {
        let (existed, bytes) = match self.cached.get_mut(file) {
            Some(bytes) => (true, bytes),
            None => (false, self.cached.entry(file.to_owned()).or_default()),
        };
        let old_len = bytes.len() as u64;
        let start = (offset as usize).min(bytes.len());
        let end = (offset as usize + data.len()).min(bytes.len());
        let overwritten = bytes[start..end].to_vec();
        write_at(bytes, offset, data);
        self.push(
            now,
            Op::Write {
                file: file.to_owned(),
                offset,
                len: data.len() as u64,
                existed,
                old_len,
                overwritten,
            },
        );
    }

    /// Appends `data` to the end of the file.
    pub fn append(&mut self, now: Nanos, file: &str, data: &[u8]) {
        let offset = self.len(file);
        self.write(now, file, offset, data);
    }

    /// Cuts the file to `len` bytes.
    pub fn truncate(&mut self, now: Nanos, file: &str, len: u64) {
        let (kept, removed) = match self.cached.get_mut(file) {
            Some(bytes) if (len as usize) < bytes.len() => (len, bytes.split_off(len as usize)),
            Some(bytes) => (bytes.len() as u64, Vec::new()),
            None => (0, Vec::new()),
        };
        self.push(
            now,
            Op::Truncate {
                file: file.to_owned(),
                kept,
                removed,
            },
        );
    }

    /// Deletes the file.
    pub fn remove(&mut self, now: Nanos, file: &str) {
        let content = self.cached.remove(file);
        self.push(
            now,
            Op::Remove {
                file: file.to_owned(),
                content,
            },
        );
    }

    /// Renames a file, replacing any file called `to`.
    pub fn rename(&mut self, now: Nanos, from: &str, to: &str) {
        let (moved, replaced) = match self.cached.remove(from) {
            Some(bytes) => (true, self.cached.insert(to.to_owned(), bytes)),
            None => (false, None),
        };
        self.push(
            now,
            Op::Rename {
                from: from.to_owned(),
                to: to.to_owned(),
                moved,
                replaced,
            },
        );
    }

    fn push(&mut self, now: Nanos, op: Op) {
        self.next_seq += 1;
        self.pending.push_back(Pending {
            seq: self.next_seq,
            at: now,
            op,
        });
    }

    /// Sequence number of the newest operation: an fsync covers everything up to it.
    pub fn fsync_horizon(&self) -> u64 {
        self.next_seq
    }

    /// Draws how long an fsync takes on this disk now.
    pub fn fsync_latency(&self, config: &DiskConfig, rng: &mut ChaCha8Rng) -> Nanos {
        let base = rng.random_range(config.fsync_latency_min_ns..=config.fsync_latency_max_ns);
        base.saturating_mul(u64::from(self.slowdown.max(1)))
    }

    /// Completes an fsync of `file` issued when the horizon was `upto`:
    /// every op on that file up to then becomes durable.
    pub fn complete_fsync(&mut self, file: &str, upto: u64) {
        if self.fsync_lies {
            return;
        }
        let covered = covered_by_fsync(self.pending.iter().map(|p| (p.seq, &p.op)), file, upto);
        let mut i = 0;
        self.pending.retain(|_| {
            i += 1;
            !covered[i - 1]
        });
    }

    /// OS writeback: makes durable every op older than the expiry age
    /// (oldest first, so the durable state is always a prefix of history).
    pub fn writeback(&mut self, now: Nanos, config: &DiskConfig) {
        let expire = config
            .dirty_expire_ns
            .saturating_mul(u64::from(self.slowdown.max(1)));
        while let Some(front) = self.pending.front() {
            if front.at.saturating_add(expire) > now {
                break;
            }
            self.pending.pop_front();
        }
    }

    /// Power loss: the page cache is gone; only durable bytes remain. With
    /// `torn`, a prefix of the oldest unflushed write (drawn from `rng`) survives.
    pub fn power_loss(&mut self, torn: bool, rng: &mut ChaCha8Rng) -> PowerLossReport {
        let mut report = PowerLossReport {
            ops_lost: self.pending.len() as u64,
            torn_bytes_kept: None,
        };
        let keep = match self.pending.front() {
            Some(Pending {
                op: Op::Write { len, .. },
                ..
            }) if torn => {
                let keep = rng.random_range(0..=*len as usize);
                report.torn_bytes_kept = Some(keep as u64);
                keep
            }
            _ => 0,
        };
        while let Some(p) = self.pending.pop_back() {
            let torn_prefix = match &p.op {
                Op::Write { file, offset, .. } if self.pending.is_empty() && keep > 0 => {
                    // Undoing newest first has left this write as it landed.
                    let at = *offset as usize;
                    let bytes = self.cached.get(file).map(|b| b[at..at + keep].to_vec());
                    bytes.map(|b| (file.clone(), *offset, b))
                }
                _ => None,
            };
            p.op.undo(&mut self.cached);
            if let Some((file, offset, prefix)) = torn_prefix {
                write_at(self.cached.entry(file).or_default(), offset, &prefix);
            }
        }
        report
    }

    /// Flips one random bit of one random durable byte (media corruption).
    /// The page cache shows the flip too unless a pending op changed that byte.
    /// Returns the file and byte offset flipped, or None when nothing is durable.
    pub fn corrupt(&mut self, rng: &mut ChaCha8Rng) -> Option<(String, u64)> {
        let durable = self.durable_files();
        let candidates: Vec<(&String, usize)> = durable
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(n, b)| (n, b.len()))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let (file, len) = candidates[rng.random_range(0..candidates.len())];
        let file = file.clone();
        let at = rng.random_range(0..len);
        let bit = 1u8 << rng.random_range(0..8u32);
        *self.durable_byte_mut(&file, at) ^= bit;
        Some((file, at as u64))
    }

    /// Where the durable byte `at` of `file` is kept: in the undo record of
    /// the first pending op that changed it, or else in the page cache.
    fn durable_byte_mut(&mut self, file: &str, at: usize) -> &mut u8 {
        let mut name = file.to_owned();
        let pos = at as u64;
        let mut found = None;
        for (i, p) in self.pending.iter().enumerate() {
            match &p.op {
                Op::Write {
                    file,
                    offset,
                    len,
                    old_len,
                    ..
                } if *file == name && (*offset..offset + len).contains(&pos) && pos < *old_len => {
                    found = Some(i);
                    break;
                }
                Op::Truncate { file, kept, .. } if *file == name && pos >= *kept => {
                    found = Some(i);
                    break;
                }
                Op::Remove { file, .. } if *file == name => {
                    found = Some(i);
                    break;
                }
                Op::Rename {
                    to, moved: true, ..
                } if *to == name => {
                    found = Some(i);
                    break;
                }
                Op::Rename {
                    from,
                    to,
                    moved: true,
                    ..
                } if *from == name => name = to.clone(),
                _ => {}
            }
        }
        let Some(i) = found else {
            let bytes = self
                .cached
                .get_mut(&name)
                .expect("a durable byte untouched by pending ops is in the page cache");
            return &mut bytes[at];
        };
        match &mut self.pending[i].op {
            Op::Write {
                offset,
                overwritten,
                ..
            } => &mut overwritten[at - *offset as usize],
            Op::Truncate { kept, removed, .. } => &mut removed[at - *kept as usize],
            Op::Remove { content, .. } => &mut content.as_mut().expect("the file existed")[at],
            Op::Rename { replaced, .. } => &mut replaced.as_mut().expect("it replaced a file")[at],
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

    const SEC: Nanos = 1_000_000_000;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn write_is_visible_at_once_but_not_durable() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"abc");
        assert_eq!(disk.read("log"), Some(&b"abc"[..]));
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
    }

    #[test]
    fn fsync_makes_writes_up_to_its_horizon_durable() {
        let mut disk = Disk::new();
        disk.append(0, "log", b"abc");
        let horizon = disk.fsync_horizon();
        disk.append(1, "log", b"def"); // after the fsync was issued
        disk.append(1, "other", b"xyz"); // another file
        disk.complete_fsync("log", horizon);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log"), Some(&b"abc"[..]));
        assert_eq!(disk.read("other"), None);
    }

    #[test]
    fn writeback_flushes_only_expired_data() {
        let config = DiskConfig::default();
        let mut disk = Disk::new();
        disk.append(0, "log", b"old");
        disk.append(20 * SEC, "log", b"new");
        disk.writeback(30 * SEC, &config);
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("log"), Some(&b"old"[..]));
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
            assert_eq!(d.read("log"), Some(&expect[..]));
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
        assert_eq!(disk.read("cp"), Some(&b"v1"[..]));
        assert_eq!(disk.read("cp.tmp"), None);
        let h = disk.fsync_horizon();
        disk.complete_fsync("cp", h);
        disk.remove(1, "cp");
        disk.power_loss(false, &mut rng());
        assert_eq!(disk.read("cp"), Some(&b"v1"[..]));
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
        assert_eq!(disk.read("log"), Some(&bytes[..]));
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
        assert_eq!(disk.read("f"), Some(&b"hello there!"[..]));
        disk.write(0, "g", 3, b"x");
        assert_eq!(disk.read("g"), Some(&b"\0\0\0x"[..]));
        disk.truncate(0, "f", 5);
        assert_eq!(disk.read("f"), Some(&b"hello"[..]));
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
            disk.read("f"),
            Some(&[7u8; 8][..]),
            "the cache hides the flip"
        );
        disk.power_loss(false, &mut rng());
        let bytes = disk.read("f").unwrap();
        assert_ne!(bytes[at as usize], 0, "the durable byte was flipped");
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
    }

    /// The undo log against a reference that keeps a second, durable copy of
    /// every file and applies ops to it as they become durable (the model
    /// this disk replaced): the same random histories leave the same bytes.
    #[test]
    fn undoing_pending_ops_matches_a_durable_copy_model() {
        #[derive(Clone)]
        enum RefOp {
            Write(String, u64, Vec<u8>),
            Truncate(String, u64),
            Remove(String),
            Rename(String, String),
        }
        fn apply(files: &mut Files, op: &RefOp) {
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
        let names = ["a", "b", "c"];
        for seed in 0..300 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut disk = Disk::new();
            let mut durable = Files::new();
            let mut pending: Vec<(u64, Nanos, RefOp)> = Vec::new();
            let config = DiskConfig::default();
            for step in 0..40u64 {
                let now = step * SEC;
                let f = names[r.random_range(0..3)].to_owned();
                let op = match r.random_range(0..10) {
                    0..=4 => {
                        let len = r.random_range(1..6);
                        let data: Vec<u8> = (0..len).map(|_| r.random()).collect();
                        let offset = r.random_range(0..=disk.len(&f) + 2);
                        disk.write(now, &f, offset, &data);
                        RefOp::Write(f, offset, data)
                    }
                    5 => {
                        let len = r.random_range(0..=disk.len(&f) + 1);
                        disk.truncate(now, &f, len);
                        RefOp::Truncate(f, len)
                    }
                    6 => {
                        disk.remove(now, &f);
                        RefOp::Remove(f)
                    }
                    7 => {
                        let to = names[r.random_range(0..3)].to_owned();
                        if to == f {
                            continue;
                        }
                        disk.rename(now, &f, &to);
                        RefOp::Rename(f, to)
                    }
                    8 => {
                        let upto = disk.fsync_horizon();
                        disk.complete_fsync(&f, upto);
                        // Newest first: an op on a covered name is covered,
                        // and a covered rename covers both its names before it.
                        let mut covered = vec![f.clone()];
                        let mut durable_now = vec![false; pending.len()];
                        for (i, (_, _, op)) in pending.iter().enumerate().rev() {
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
                                apply(&mut durable, &p.2);
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
                            .is_some_and(|p| p.1 + config.dirty_expire_ns <= now)
                        {
                            apply(&mut durable, &pending.remove(0).2);
                        }
                        continue;
                    }
                };
                pending.push((disk.fsync_horizon(), now, op));
            }
            assert_eq!(disk.durable_files(), durable, "seed {seed}");
            disk.power_loss(false, &mut r);
            assert_eq!(disk.cached, durable, "seed {seed}");
        }
    }
}
