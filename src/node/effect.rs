//! The one vocabulary in which every Kafka component acts: an [`Effect`]
//! is a message to send, a timer to set, a disk operation or an
//! observation for the checkers. Components are sans-IO state machines:
//! they take an input with the current time through an [`Env`] and push
//! effects; exactly one interpreter (the harness) carries them out on the
//! simulator, in order. A unit test drives a component with a [`TestEnv`]
//! and asserts the effects it pushed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim::{Blob, Nanos, MILLIS};

use super::address::Address;
use super::observation::Observation;
use super::timer::Timer;
use crate::protocol::Message;

/// An fsync token nobody waits for (a checkpoint file's own fsync).
pub const FSYNC_UNTRACKED: u64 = 0;
/// Token of an fsync that is not a log flush and that nobody waits for (a
/// cleaned segment before its swap, the directory after it): it never
/// moves a recovery point.
pub const FSYNC_NO_FLUSH: u64 = u64::MAX;

/// A file's name in an effect: shared, so a segment names its file in
/// every write without copying the name. `Rc`, not `Arc`: a run is one
/// thread, and a segment's every write clones and drops it (an atomic
/// count is a locked instruction each time).
pub type FileName = std::rc::Rc<str>;

/// One thing a component asks the world to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send `msg` to `to` (in order per destination; it may be lost with
    /// the connection).
    Send {
        /// The destination.
        to: Address,
        /// The message.
        msg: Message,
    },
    /// Hand `timer` back at time `at` (unless the process crashed first).
    SetTimer {
        /// When, in simulated nanoseconds.
        at: Nanos,
        /// What to hand back.
        timer: Timer,
    },
    /// Write `bytes` at byte `offset` of `file` (creating it if absent).
    Write {
        /// File name.
        file: FileName,
        /// Byte position.
        offset: u64,
        /// The bytes (shared: a batch's records are written without a copy).
        bytes: Blob,
    },
    /// Cut `file` to `len` bytes.
    Truncate {
        /// File name.
        file: FileName,
        /// New length.
        len: u64,
    },
    /// Delete `file`.
    Remove {
        /// File name.
        file: FileName,
    },
    /// Rename `from` to `to`, replacing `to`.
    Rename {
        /// Old name.
        from: FileName,
        /// New name.
        to: FileName,
    },
    /// Make `file` durable; its completion comes back as `Fsynced(token)`.
    Fsync {
        /// File name.
        file: FileName,
        /// Handed back on completion ([`FSYNC_UNTRACKED`]: nobody waits).
        token: u64,
    },
    /// Record what happened, for the checkers and reports.
    Observe(Observation),
    /// End the process (a clean exit once a shutdown is done); effects
    /// before it are carried out first.
    Exit,
}

impl Effect {
    /// The file a disk effect changes (for a rename, the new name).
    pub fn file(&self) -> Option<&str> {
        match self {
            Effect::Write { file, .. }
            | Effect::Truncate { file, .. }
            | Effect::Remove { file }
            | Effect::Fsync { file, .. } => Some(file),
            Effect::Rename { to, .. } => Some(to),
            Effect::Send { .. } | Effect::SetTimer { .. } | Effect::Observe(_) | Effect::Exit => {
                None
            }
        }
    }

    /// True for a log flush's fsync of a log segment (`*.log`), whose
    /// completion may move a recovery point.
    pub fn is_segment_fsync(&self) -> bool {
        matches!(self, Effect::Fsync { file, token } if file.ends_with(".log") && *token != FSYNC_NO_FLUSH)
    }
}

/// What a component sees while it handles one input: the time, its random
/// stream, and where its effects go.
pub struct Env<'a> {
    now: Nanos,
    rng: &'a mut ChaCha8Rng,
    effects: &'a mut Vec<Effect>,
}

impl<'a> Env<'a> {
    /// An environment at time `now`.
    pub fn new(now: Nanos, rng: &'a mut ChaCha8Rng, effects: &'a mut Vec<Effect>) -> Self {
        Self { now, rng, effects }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// The current simulated time in whole milliseconds.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.now / MILLIS
    }

    /// The process's random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng
    }

    /// Pushes an effect.
    #[inline]
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// How many effects were pushed so far (a mark for `effects_since`).
    #[inline]
    pub fn mark(&self) -> usize {
        self.effects.len()
    }

    /// The effects pushed since `mark`.
    #[inline]
    pub fn effects_since(&self, mark: usize) -> &[Effect] {
        self.effects.get(mark..).unwrap_or(&[])
    }

    /// Drops the effects pushed since `mark` that `keep` says no to.
    pub fn retain_since(&mut self, mark: usize, mut keep: impl FnMut(&Effect) -> bool) {
        let mut at = 0;
        self.effects.retain(|effect| {
            at += 1;
            at <= mark || keep(effect)
        });
    }

    /// Pushes every effect of `effects`, in order.
    pub fn extend(&mut self, effects: impl IntoIterator<Item = Effect>) {
        self.effects.extend(effects);
    }

    /// Pushes every effect of `effects`, in order, in one copy, leaving
    /// it empty (its room kept).
    pub fn append(&mut self, effects: &mut Vec<Effect>) {
        self.effects.append(effects);
    }

    /// Sends `msg` to `to`.
    #[inline]
    pub fn send(&mut self, to: Address, msg: impl Into<Message>) {
        self.push(Effect::Send {
            to,
            msg: msg.into(),
        });
    }

    /// Sets `timer` to fire at `at` (not before now).
    #[inline]
    pub fn set_timer(&mut self, at: Nanos, timer: impl Into<Timer>) {
        let at = at.max(self.now);
        self.push(Effect::SetTimer {
            at,
            timer: timer.into(),
        });
    }

    /// Sets `timer` to fire `after` from now.
    #[inline]
    pub fn set_timer_after(&mut self, after: Nanos, timer: impl Into<Timer>) {
        let at = self.now.saturating_add(after);
        self.set_timer(at, timer);
    }

    /// Records an observation.
    #[inline]
    pub fn observe(&mut self, obs: impl Into<Observation>) {
        self.push(Effect::Observe(obs.into()));
    }

    /// Writes `bytes` at `offset` of `file`.
    pub fn write(&mut self, file: impl Into<FileName>, offset: u64, bytes: Vec<u8>) {
        self.push(Effect::Write {
            file: file.into(),
            offset,
            bytes: Blob::raw(bytes),
        });
    }

    /// Cuts `file` to `len` bytes.
    pub fn truncate(&mut self, file: impl Into<FileName>, len: u64) {
        self.push(Effect::Truncate {
            file: file.into(),
            len,
        });
    }

    /// Deletes `file`.
    pub fn remove(&mut self, file: impl Into<FileName>) {
        self.push(Effect::Remove { file: file.into() });
    }

    /// Renames `from` to `to`.
    pub fn rename(&mut self, from: impl Into<FileName>, to: impl Into<FileName>) {
        self.push(Effect::Rename {
            from: from.into(),
            to: to.into(),
        });
    }

    /// Asks for an fsync of `file`, completing as `Fsynced(token)`.
    pub fn fsync(&mut self, file: impl Into<FileName>, token: u64) {
        self.push(Effect::Fsync {
            file: file.into(),
            token,
        });
    }
}

/// The files of a process's disk as it boots (the page cache's view: what
/// a restarted process reads back).
pub trait DiskView {
    /// Every file's name, in order.
    fn files(&self) -> Vec<String>;
    /// A file's bytes, if it exists.
    fn read(&self, file: &str) -> Option<Cow<'_, [u8]>>;
    /// A file's bytes as the blobs that hold them, shared (a log's
    /// segments keep its batches without copying them); by default one
    /// copy of [`DiskView::read`].
    fn read_extents(&self, file: &str) -> Option<Vec<sim::Blob>> {
        self.read(file).map(|b| vec![sim::Blob::copy_of(&b)])
    }
}

impl DiskView for BTreeMap<String, Vec<u8>> {
    fn files(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }

    fn read(&self, file: &str) -> Option<Cow<'_, [u8]>> {
        self.get(file).map(|b| Cow::Borrowed(b.as_slice()))
    }
}

/// A clock, a seeded random stream and an effect list, for unit tests that
/// drive a component without a simulator.
#[derive(Debug)]
pub struct TestEnv {
    /// The time the next input happens at.
    pub now: Nanos,
    /// The random stream.
    pub rng: ChaCha8Rng,
    /// Every effect pushed so far.
    pub effects: Vec<Effect>,
}

impl TestEnv {
    /// At time 0 with a stream seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            effects: Vec::new(),
        }
    }

    /// An [`Env`] at the current time over this test's stream and effects.
    pub fn env(&mut self) -> Env<'_> {
        Env::new(self.now, &mut self.rng, &mut self.effects)
    }

    /// Takes the effects pushed so far.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The messages sent so far, with their destinations.
    pub fn sent(&self) -> Vec<(Address, &Message)> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { to, msg } => Some((*to, msg)),
                _ => None,
            })
            .collect()
    }

    /// The observations made so far.
    pub fn observed(&self) -> Vec<&Observation> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Observe(o) => Some(o),
                _ => None,
            })
            .collect()
    }
}
