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

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::time::Nanos;

/// One change to the disk that is in the page cache but not yet durable.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Write {
        file: String,
        offset: u64,
        data: Vec<u8>,
    },
    Truncate {
        file: String,
        len: u64,
    },
    Remove {
        file: String,
    },
    Rename {
        from: String,
        to: String,
    },
}

impl Op {
    fn touches(&self, name: &str) -> bool {
        match self {
            Op::Write { file, .. } | Op::Truncate { file, .. } | Op::Remove { file } => {
                file == name
            }
            Op::Rename { from, to } => from == name || to == name,
        }
    }

    fn apply(&self, files: &mut BTreeMap<String, Vec<u8>>) {
        match self {
            Op::Write { file, offset, data } => {
                write_at(files.entry(file.clone()).or_default(), *offset, data)
            }
            Op::Truncate { file, len } => {
                if let Some(bytes) = files.get_mut(file) {
                    bytes.truncate(*len as usize);
                }
            }
            Op::Remove { file } => {
                files.remove(file);
            }
            Op::Rename { from, to } => {
                if let Some(bytes) = files.remove(from) {
                    files.insert(to.clone(), bytes);
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
    /// What the process sees: durable bytes with every pending op applied.
    cached: BTreeMap<String, Vec<u8>>,
    /// What survives a power loss.
    durable: BTreeMap<String, Vec<u8>>,
    /// Not-yet-durable ops, oldest first.
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
    pub fn read_durable(&self, file: &str) -> Option<&[u8]> {
        self.durable.get(file).map(Vec::as_slice)
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
                Op::Write { data, .. } => data.len() as u64,
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
        self.push(
            now,
            Op::Write {
                file: file.to_owned(),
                offset,
                data: data.to_vec(),
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
        self.push(
            now,
            Op::Truncate {
                file: file.to_owned(),
                len,
            },
        );
    }

    /// Deletes the file.
    pub fn remove(&mut self, now: Nanos, file: &str) {
        self.push(
            now,
            Op::Remove {
                file: file.to_owned(),
            },
        );
    }

    /// Renames a file, replacing any file called `to`.
    pub fn rename(&mut self, now: Nanos, from: &str, to: &str) {
        self.push(
            now,
            Op::Rename {
                from: from.to_owned(),
                to: to.to_owned(),
            },
        );
    }

    fn push(&mut self, now: Nanos, op: Op) {
        op.apply(&mut self.cached);
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
        // The file's data may have been written under an older name and renamed
        // into place (write tmp + rename): fsync covers the inode, so every name
        // it had counts.
        let mut names = vec![file.to_owned()];
        for p in self.pending.iter().rev().filter(|p| p.seq <= upto) {
            if let Op::Rename { from, to } = &p.op {
                if names.contains(to) && !names.contains(from) {
                    names.push(from.clone());
                }
            }
        }
        let durable = &mut self.durable;
        self.pending.retain(|p| {
            if p.seq <= upto && names.iter().any(|n| p.op.touches(n)) {
                p.op.apply(durable);
                false
            } else {
                true
            }
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
            if let Some(p) = self.pending.pop_front() {
                p.op.apply(&mut self.durable);
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
        if torn {
            if let Some(Pending {
                op: Op::Write { file, offset, data },
                ..
            }) = self.pending.front()
            {
                let keep = rng.random_range(0..=data.len());
                if keep > 0 {
                    write_at(
                        self.durable.entry(file.clone()).or_default(),
                        *offset,
                        &data[..keep],
                    );
                }
                report.torn_bytes_kept = Some(keep as u64);
            }
        }
        self.pending.clear();
        self.cached = self.durable.clone();
        report
    }

    /// Flips one random bit of one random durable byte (media corruption).
    /// The page cache shows the flip too unless a pending write covers it.
    /// Returns the file and byte offset flipped, or None when nothing is durable.
    pub fn corrupt(&mut self, rng: &mut ChaCha8Rng) -> Option<(String, u64)> {
        let candidates: Vec<&String> = self
            .durable
            .iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(n, _)| n)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let file = candidates[rng.random_range(0..candidates.len())].clone();
        let bytes = self.durable.get_mut(&file)?;
        let at = rng.random_range(0..bytes.len());
        let before = bytes[at];
        let flipped = before ^ (1u8 << rng.random_range(0..8u32));
        bytes[at] = flipped;
        if let Some(cached) = self.cached.get_mut(&file) {
            if cached.get(at) == Some(&before) {
                cached[at] = flipped;
            }
        }
        Some((file, at as u64))
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
        assert_eq!(disk.read("log"), Some(bytes));
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
}
