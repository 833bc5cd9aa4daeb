//! `LogManager`: a broker's logs on its disk (Kafka's LogManager). At boot
//! it recovers every partition directory it finds (as after an unclean
//! shutdown: segments re-read, torn tails cut, the recovery point and high
//! watermark taken from their checkpoint files); it carries out each log's
//! disk effects, tracks a log flush's fsyncs until all completed (then the
//! log's recovery point may move), and writes the checkpoint files the way
//! Kafka's `CheckpointFile` does: temp file, fsync, rename, directory flush.
//!
//! A clean shutdown (Kafka's `LogManager.shutdown`,
//! `core/src/main/scala/kafka/log/LogManager.scala`) flushes every log,
//! writes the recovery-point and log-start-offset checkpoints, then the
//! `.kafka_cleanshutdown` marker with the broker epoch
//! (`storage/.../checkpoint/CleanShutdownFileHandler.java`, fsynced). A
//! boot that finds the marker removes it first (KAFKA-10471: a crash while
//! loading counts as unclean) and skips recovery (`LogLoader.recoverLog`
//! with `hadCleanShutdown`). ksim reads every segment at boot either way,
//! as its in-memory log is built from them: after a clean shutdown
//! everything was flushed, so there is nothing for recovery to cut, and
//! what the marker changes is recorded (`BrokerObs::RecoverySkipped`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::{Nanos, MILLIS};

use super::checkpoints::{self, HW_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, RECOVERY_CHECKPOINT};
use super::BrokerTimer;
use crate::log::{
    leader_epoch_checkpoint_file, write_atomically, FileBytes, LogConfig, UnifiedLog,
};
use crate::metadata::MetadataImage;
use crate::metadata::Uuid;
use crate::node::{Deadline, DiskView, Effect, Env, FileName, FSYNC_UNTRACKED};
use crate::protocol::{TopicIdPartition, Topics};

use super::BrokerObs;

/// The clean shutdown marker in the log directory (Kafka's
/// `CleanShutdownFileHandler.CLEAN_SHUTDOWN_FILE_NAME`).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// The suffix of a deleted log's directory (Kafka's `UnifiedLog.DeleteDirSuffix`).
pub const DELETE_DIR_SUFFIX: &str = "-delete";

/// The file in a partition's directory that names the topic id its log
/// belongs to (Kafka's `PartitionMetadataFile`).
pub fn partition_metadata_file(dir: &str) -> String {
    format!("{dir}/partition.metadata")
}

/// `partition.metadata`'s text for `topic_id`, as Kafka writes it.
fn partition_metadata(topic_id: Uuid) -> Vec<u8> {
    format!("version: 0\ntopic_id: {topic_id}\n").into_bytes()
}

/// The broker epoch a clean shutdown marker names (Kafka's
/// `CleanShutdownFileHandler.read`), if it reads.
fn read_clean_shutdown_file(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let rest = text.split("\"brokerEpoch\":").nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// The broker epoch the clean shutdown marker on `disk` names, -1 when
/// there is none or it does not read (Kafka's
/// `LogManager.readBrokerEpochFromCleanShutdownFiles`): what the broker
/// registers with as its `PreviousBrokerEpoch` (KIP-966).
pub fn read_broker_epoch_from_clean_shutdown_file(disk: &dyn DiskView) -> i64 {
    disk.read(CLEAN_SHUTDOWN_FILE)
        .and_then(|bytes| read_clean_shutdown_file(&bytes))
        .unwrap_or(-1)
}

/// The topic id a `partition.metadata` file names, if it reads whole.
fn read_partition_metadata(bytes: &[u8]) -> Option<Uuid> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != "version: 0" {
        return None;
    }
    let id = lines.next()?.strip_prefix("topic_id: ")?;
    Uuid::try_from(id.to_owned()).ok()
}

/// What an fsync was for.
#[derive(Clone, Debug)]
enum FsyncPurpose {
    /// Part of a log flush: when the group completes, the recovery point moves.
    Flush { group: u64 },
    /// A checkpoint's temp file is durable: rename it over the real one.
    Checkpoint { tmp: String, file: String },
    /// While closing: a checkpoint's rename is durable.
    Moved,
    /// The clean shutdown marker is durable.
    CleanShutdownFile,
}

/// A log flush whose fsyncs are in flight.
#[derive(Clone, Debug)]
struct FlushGroup {
    tp: TopicIdPartition,
    upto: u64,
    tokens: usize,
}

/// A log recovered at boot.
#[derive(Debug)]
pub struct LoadedLog {
    /// Its partition.
    pub tp: TopicIdPartition,
    /// The log, its high watermark restored from the checkpoint.
    pub log: UnifiedLog,
    /// The topic id its `partition.metadata` names (None: the file did
    /// not survive, or does not read).
    pub topic_id: Option<Uuid>,
}

/// The broker's logs on disk.
#[derive(Debug)]
pub struct LogManager {
    config: LogConfig,
    topics: Arc<Topics>,
    fsyncs: BTreeMap<u64, FsyncPurpose>,
    flushes: BTreeMap<u64, FlushGroup>,
    next_token: u64,
    /// An empty list with room, handed out by [`LogManager::scratch`] and
    /// taken back by [`LogManager::apply`]: a log's effects need no
    /// allocation of their own.
    spare: Vec<Effect>,
    /// Segment files renamed `.deleted`, by when they are removed (Kafka's
    /// `delete-file` task after `file.delete.delay.ms`).
    to_delete: BTreeMap<Nanos, Vec<FileName>>,
    delete_timer: Deadline,
    /// Shutting down: a checkpoint's rename is waited for too.
    closing: bool,
    /// The clean shutdown marker was written and is durable.
    clean_shutdown_written: bool,
}

impl LogManager {
    /// Logs with `config`, of the run's `topics`.
    pub fn new(config: LogConfig, topics: Arc<Topics>) -> Self {
        Self {
            config,
            topics,
            fsyncs: BTreeMap::new(),
            flushes: BTreeMap::new(),
            next_token: FSYNC_UNTRACKED,
            spare: Vec::new(),
            to_delete: BTreeMap::new(),
            delete_timer: Deadline::default(),
            closing: false,
            clean_shutdown_written: false,
        }
    }

    /// An empty list for a log's effects, to hand to [`LogManager::apply`].
    pub fn scratch(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.spare)
    }

    /// Boot: recovers every partition log directory on `disk` (not the
    /// metadata log, which the KRaft client reads), in directory order,
    /// each with its topic's configs as `local_metadata` has them.
    pub fn load_logs(
        &mut self,
        env: &mut Env<'_>,
        disk: &dyn DiskView,
        local_metadata: &MetadataImage,
    ) -> Vec<LoadedLog> {
        let topics = Arc::clone(&self.topics);
        let hws = checkpoints::decode(disk.read(HW_CHECKPOINT).as_deref(), &topics);
        let recovery_points =
            checkpoints::decode(disk.read(RECOVERY_CHECKPOINT).as_deref(), &topics);
        let start_offsets =
            checkpoints::decode(disk.read(LOG_START_OFFSET_CHECKPOINT).as_deref(), &topics);
        let mut dirs: BTreeMap<String, Vec<(String, FileBytes)>> = BTreeMap::new();
        let mut deleted = Vec::new();
        for file in disk.files() {
            let Some((dir, _)) = file.split_once('/') else {
                continue;
            };
            if dir.ends_with(DELETE_DIR_SUFFIX) {
                // A deleted log not removed before the stop: removed after
                // the delay again (Kafka's loadLog adds it to logsToBeDeleted).
                deleted.push(FileName::from(file.as_str()));
                continue;
            }
            if topics.parse(dir).is_none() {
                continue;
            }
            let bytes = FileBytes::new(disk.read_extents(&file).unwrap_or_default());
            dirs.entry(dir.to_owned()).or_default().push((file, bytes));
        }
        self.delete_later(env, deleted, self.config.file_delete_delay_ms);
        if let Some(bytes) = disk.read(CLEAN_SHUTDOWN_FILE) {
            // Kafka deletes the marker before loading (KAFKA-10471).
            env.remove(CLEAN_SHUTDOWN_FILE.to_owned());
            env.observe(BrokerObs::RecoverySkipped {
                logs: dirs.len(),
                broker_epoch: read_clean_shutdown_file(&bytes),
            });
        }
        let mut loaded = Vec::new();
        for (dir, files) in dirs {
            let tp = topics.parse(&dir).expect("checked above");
            let recovery_point = recovery_points.get(&tp).copied().unwrap_or(0);
            let mut out = Vec::new();
            let config = local_metadata
                .topics
                .get(topics.name(tp.topic_id))
                .map_or(self.config, |t| self.topic_config(&t.configs));
            let metadata_file = partition_metadata_file(&dir);
            let topic_id = files
                .iter()
                .find(|(name, _)| *name == metadata_file)
                .and_then(|(_, bytes)| read_partition_metadata(&bytes.bytes()));
            let mut log = UnifiedLog::recover(&dir, config, &files, recovery_point, &mut out);
            let start = start_offsets.get(&tp).copied().unwrap_or(0);
            log.restore_log_start_offset(start, &mut out);
            let hw = hws.get(&tp).copied().unwrap_or(0);
            log.update_high_watermark(hw.min(log.log_end_offset()));
            env.observe(BrokerObs::Recovered {
                partition: tp,
                log_end_offset: log.log_end_offset(),
                log_start_offset: log.log_start_offset(),
            });
            self.apply(env, &tp, &mut log, out);
            loaded.push(LoadedLog { tp, log, topic_id });
        }
        loaded
    }

    /// A fresh, empty log with `config` for a replica this broker is
    /// assigned, of the topic with id `topic_id`: its `partition.metadata`
    /// is written and flushed at once (Kafka flushes it before the first
    /// append), so a restart tells this log from one of an earlier topic
    /// of the same name.
    pub fn create_log(
        &self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        config: LogConfig,
        topic_id: Uuid,
    ) -> UnifiedLog {
        let dir = self.topics.show(*tp);
        let mut out = Vec::new();
        write_atomically(
            &partition_metadata_file(&dir),
            partition_metadata(topic_id),
            &mut out,
        );
        env.extend(out);
        UnifiedLog::recover(&dir, config, &[], 0, &mut Vec::new())
    }

    /// Deletes `log`, of the topic with metadata id `topic_id` (Kafka's
    /// `LogManager.asyncDelete`): its directory is renamed
    /// `{topic}-{partition}.{id}-delete` (Kafka draws a random id; ksim
    /// takes the topic's) and removed after the broker's
    /// `log.segment.delete.delay.ms`. A restart before that finds the
    /// renamed directory and removes it after the delay; segments renamed
    /// `.deleted` by retention before keep their own removal.
    pub fn delete_log(&mut self, env: &mut Env<'_>, log: &UnifiedLog, topic_id: Uuid) {
        let dir = log.dir();
        let to_dir = format!("{dir}.{:032x}{DELETE_DIR_SUFFIX}", topic_id.0);
        let files: Vec<String> = log
            .segment_files()
            .map(str::to_owned)
            .chain([
                leader_epoch_checkpoint_file(dir),
                partition_metadata_file(dir),
            ])
            .collect();
        let mut moved = Vec::new();
        for file in files {
            let name = file.rsplit('/').next().unwrap_or(&file);
            let to = format!("{to_dir}/{name}");
            env.rename(file, to.clone());
            moved.push(FileName::from(to.as_str()));
        }
        self.delete_later(env, moved, self.config.file_delete_delay_ms);
    }

    /// The config of a topic's logs: the broker's under the topic's
    /// overrides (`configs`, as the metadata has them).
    pub fn topic_config(&self, configs: &BTreeMap<String, String>) -> LogConfig {
        self.config
            .with_overrides(|name| configs.get(name).cloned())
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Carries out the effects `out` of `tp`'s `log` in order: the fsyncs
    /// of its segments become one flush group covering up to its log end
    /// offset, and the segment files it renamed `.deleted` (retention,
    /// truncation below its first segment) are removed after its
    /// `file.delete.delay.ms`.
    pub fn apply(
        &mut self,
        env: &mut Env<'_>,
        tp: &TopicIdPartition,
        log: &mut UnifiedLog,
        mut out: Vec<Effect>,
    ) {
        let log_end_offset = log.log_end_offset();
        let deleted = log.take_deleted_files();
        self.delete_later(env, deleted, log.config().file_delete_delay_ms);
        let mut segments = Vec::new();
        if out.iter().any(Effect::is_segment_fsync) {
            for effect in out.drain(..) {
                if effect.is_segment_fsync() {
                    if let Effect::Fsync { file, .. } = effect {
                        segments.push(file);
                    }
                } else {
                    env.push(effect);
                }
            }
        } else {
            // Most appends fsync nothing: their effects go on as they are.
            env.append(&mut out);
        }
        if out.capacity() > self.spare.capacity() {
            self.spare = out;
        }
        if segments.is_empty() {
            return;
        }
        let group = self.token();
        self.flushes.insert(
            group,
            FlushGroup {
                tp: *tp,
                upto: log_end_offset,
                tokens: segments.len(),
            },
        );
        for file in segments {
            let token = self.token();
            self.fsyncs.insert(token, FsyncPurpose::Flush { group });
            env.fsync(file, token);
        }
    }

    /// An fsync completed: returns the partition and offset a completed
    /// flush covers (its recovery point may move there).
    pub fn on_fsync(&mut self, env: &mut Env<'_>, token: u64) -> Option<(TopicIdPartition, u64)> {
        match self.fsyncs.remove(&token)? {
            FsyncPurpose::Flush { group } => {
                let g = self.flushes.get_mut(&group)?;
                g.tokens -= 1;
                if g.tokens > 0 {
                    return None;
                }
                let g = self.flushes.remove(&group)?;
                Some((g.tp, g.upto))
            }
            FsyncPurpose::Checkpoint { tmp, file } => {
                env.rename(tmp, file.clone());
                // Kafka flushes the parent directory after the move
                // (Utils.atomicMoveWithFallback): the rename is durable.
                // Shutting down, the marker waits for it.
                if self.closing {
                    let token = self.token();
                    self.fsyncs.insert(token, FsyncPurpose::Moved);
                    env.fsync(file, token);
                } else {
                    env.fsync(file, FSYNC_UNTRACKED);
                }
                None
            }
            FsyncPurpose::Moved => None,
            FsyncPurpose::CleanShutdownFile => {
                self.clean_shutdown_written = true;
                None
            }
        }
    }

    /// Shutting down: from now on a checkpoint counts as written once its
    /// rename is durable.
    pub fn begin_close(&mut self) {
        self.closing = true;
    }

    /// Whether a checkpoint file written while closing is not durable yet.
    pub fn checkpoints_pending(&self) -> bool {
        self.fsyncs
            .values()
            .any(|p| matches!(p, FsyncPurpose::Checkpoint { .. } | FsyncPurpose::Moved))
    }

    /// Writes the clean shutdown marker with `broker_epoch` (-1 when not
    /// registered) and fsyncs it, as Kafka's `CleanShutdownFileHandler.write`.
    pub fn write_clean_shutdown_file(&mut self, env: &mut Env<'_>, broker_epoch: i64) {
        let text = format!("{{\"version\":0,\"brokerEpoch\":{broker_epoch}}}");
        env.write(CLEAN_SHUTDOWN_FILE.to_owned(), 0, text.into_bytes());
        let token = self.token();
        self.fsyncs.insert(token, FsyncPurpose::CleanShutdownFile);
        env.fsync(CLEAN_SHUTDOWN_FILE.to_owned(), token);
    }

    /// Whether the clean shutdown marker is written and durable.
    pub fn clean_shutdown_written(&self) -> bool {
        self.clean_shutdown_written
    }

    /// Whether a flush of `tp` covering `offset` is in flight.
    pub fn flush_pending(&self, tp: &TopicIdPartition, offset: u64) -> bool {
        self.flushes
            .values()
            .any(|g| &g.tp == tp && g.upto >= offset)
    }

    /// Whether any flush is in flight.
    pub fn any_flushing(&self) -> bool {
        !self.flushes.is_empty()
    }

    /// Whether any flush of `tp` is in flight.
    pub fn is_flushing(&self, tp: &TopicIdPartition) -> bool {
        self.flushes.values().any(|g| &g.tp == tp)
    }

    /// Removes `files` (segments renamed `.deleted`) once `delay_ms` passed.
    fn delete_later(&mut self, env: &mut Env<'_>, files: Vec<FileName>, delay_ms: u64) {
        if files.is_empty() {
            return;
        }
        let at = env.now() + delay_ms.saturating_mul(MILLIS);
        self.to_delete.entry(at).or_default().extend(files);
        self.delete_timer.arm(env, at, BrokerTimer::DeleteFiles);
    }

    /// The delete timer fired: removes the files that are due.
    pub fn on_delete_timer(&mut self, env: &mut Env<'_>) {
        if !self.delete_timer.fire(env.now()) {
            return;
        }
        while let Some(entry) = self.to_delete.first_entry() {
            if *entry.key() > env.now() {
                let at = *entry.key();
                self.delete_timer.arm(env, at, BrokerTimer::DeleteFiles);
                break;
            }
            for file in entry.remove() {
                env.remove(file);
            }
        }
    }

    /// Writes the log start offsets (`log-start-offset-checkpoint`).
    pub fn checkpoint_log_start_offsets(
        &mut self,
        env: &mut Env<'_>,
        offsets: &BTreeMap<TopicIdPartition, u64>,
    ) {
        self.write_checkpoint(env, LOG_START_OFFSET_CHECKPOINT, offsets);
    }

    /// Writes the log cleaner's first dirty offsets (`cleaner-offset-checkpoint`).
    pub fn checkpoint_cleaner_offsets(
        &mut self,
        env: &mut Env<'_>,
        offsets: &BTreeMap<TopicIdPartition, u64>,
    ) {
        self.write_checkpoint(env, checkpoints::CLEANER_CHECKPOINT, offsets);
    }

    /// Writes the high watermarks (`replication-offset-checkpoint`).
    pub fn checkpoint_high_watermarks(
        &mut self,
        env: &mut Env<'_>,
        offsets: &BTreeMap<TopicIdPartition, u64>,
    ) {
        self.write_checkpoint(env, HW_CHECKPOINT, offsets);
    }

    /// Writes the recovery points (`recovery-point-offset-checkpoint`).
    pub fn checkpoint_recovery_points(
        &mut self,
        env: &mut Env<'_>,
        offsets: &BTreeMap<TopicIdPartition, u64>,
    ) {
        self.write_checkpoint(env, RECOVERY_CHECKPOINT, offsets);
    }

    /// Writes a checkpoint file as Kafka does: temp file, fsync, then (when
    /// the fsync completes) rename and a flush of the directory.
    fn write_checkpoint(
        &mut self,
        env: &mut Env<'_>,
        file: &str,
        offsets: &BTreeMap<TopicIdPartition, u64>,
    ) {
        let tmp = format!("{file}.tmp");
        env.remove(tmp.clone());
        env.write(tmp.clone(), 0, checkpoints::encode(offsets, &self.topics));
        let token = self.token();
        self.fsyncs.insert(
            token,
            FsyncPurpose::Checkpoint {
                tmp: tmp.clone(),
                file: file.to_owned(),
            },
        );
        env.fsync(tmp, token);
    }
}
