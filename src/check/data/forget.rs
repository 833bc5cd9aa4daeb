//! Forgetting what retention removed. Brokers say when retention deleted
//! segments (and at boot, where a recovered log starts); once every
//! replica of a partition has its log start offset past an offset, no
//! replica serves that offset again, the final log starts above it, and
//! the end-of-run checks skip it. So the checker forgets it then, and
//! memory follows the records the logs still hold:
//!
//! - per partition, the record ids by offset (a chunk at a time), the
//!   acknowledgement and read runs below the floor; the acknowledged
//!   records among them are counted as removed by retention, as the end of
//!   the run would have counted them;
//! - per producer, a chunk of send sequences once all its records were
//!   acknowledged, the producer sent past it, and every offset they took
//!   is below its partition's floor. The other checkers that keep
//!   per-record state by send sequence (the groups' processing counts,
//!   `key_order`) forget the same chunks ([`Forgotten::chunks`]).
//!
//! A replica whose log start goes back (a power loss undid the deletion
//! before the log start checkpoint was written) lowers no floor: what it
//! serves again below it is what it held before, and goes unchecked.

use super::{DataChecker, NO_ID};
use crate::check::chunked::CHUNK_LEN;
use crate::client::producer_of;

/// What keeps one chunk of a producer's send sequences needed.
#[derive(Clone, Debug, Default)]
pub(super) struct SeqChunk {
    /// Records sent and not (yet) acknowledged at an offset.
    pending: u32,
    /// Per partition its records were acknowledged in: the highest offset.
    reach: Vec<(u32, u64)>,
}

/// Records of one chunk of a producer's send sequences acknowledged at
/// offsets of one partition (the first time), counted as an
/// acknowledgement's records go and told to the chunk at once.
#[derive(Clone, Copy, Debug)]
struct Placed {
    producer: u32,
    chunk: usize,
    part: u32,
    count: u32,
    /// The highest of their offsets.
    max: u64,
}

/// The records an acknowledgement placed, a run of [`Placed`] at a time.
#[derive(Debug, Default)]
pub(super) struct Placements(Option<Placed>);

impl Placements {
    /// Record `id` was acknowledged at `offset` of `part` (the first time).
    pub(super) fn add(&mut self, checker: &mut DataChecker, id: u64, part: u32, offset: u64) {
        let (producer, seq) = producer_of(id);
        let chunk = seq as usize / CHUNK_LEN;
        match &mut self.0 {
            Some(p) if (p.producer, p.chunk, p.part) == (producer, chunk, part) => {
                p.count += 1;
                p.max = p.max.max(offset);
            }
            _ => {
                self.flush(checker);
                self.0 = Some(Placed {
                    producer,
                    chunk,
                    part,
                    count: 1,
                    max: offset,
                });
            }
        }
    }

    /// Tells the chunk of the current run about it.
    pub(super) fn flush(&mut self, checker: &mut DataChecker) {
        if let Some(placed) = self.0.take() {
            checker.placed_in_chunk(&placed);
        }
    }
}

/// What a rise of a partition's floor let the checkers forget.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// The acknowledged records below the new floor: retention removed them.
    pub removed: Vec<u64>,
    /// Chunks of send sequences (producer, chunk number) no checker needs
    /// any more, in order per producer. Chunk `c` holds sequences
    /// `c * CHUNK_LEN..(c + 1) * CHUNK_LEN`.
    pub chunks: Vec<(u32, usize)>,
}

impl DataChecker {
    /// Sets each topic's replication factor (by topic number): a partition's
    /// floor needs the log start offset of that many replicas.
    pub fn set_replication_factors(&mut self, factors: Vec<u32>) {
        self.replication = factors;
    }

    /// Acknowledged records forgotten as retention removed them.
    pub fn removed_earlier(&self) -> u64 {
        self.removed_acked
    }

    /// `n` records of `producer` were sent from sequence `seq` on, all in
    /// the chunk of `seq`.
    pub(super) fn sent_to_chunk(&mut self, producer: usize, seq: usize, n: u32) {
        if self.seq_chunks.len() <= producer {
            self.seq_chunks.resize(producer + 1, Vec::new());
            self.retired.resize(producer + 1, 0);
        }
        let chunks = &mut self.seq_chunks[producer];
        let c = seq / CHUNK_LEN;
        if chunks.len() <= c {
            chunks.resize(c + 1, SeqChunk::default());
        }
        chunks[c].pending += n;
    }

    /// `placed.count` records of a chunk were acknowledged at offsets of
    /// a partition (each the first time), the highest `placed.max`.
    fn placed_in_chunk(&mut self, placed: &Placed) {
        let Some(chunk) = self
            .seq_chunks
            .get_mut(placed.producer as usize)
            .and_then(|c| c.get_mut(placed.chunk))
        else {
            return;
        };
        chunk.pending = chunk.pending.saturating_sub(placed.count);
        match chunk.reach.iter_mut().find(|(p, _)| *p == placed.part) {
            Some(r) => r.1 = r.1.max(placed.max),
            None => chunk.reach.push((placed.part, placed.max)),
        }
    }

    /// Broker `broker`'s replica of partition `partition` of topic number
    /// `topic` now starts at `offset`. Returns what the checkers may
    /// forget when that raised the partition's floor (the lowest log start
    /// over all its replicas).
    pub fn log_start(
        &mut self,
        topic: u32,
        partition: u32,
        broker: u32,
        offset: u64,
    ) -> Option<Forgotten> {
        let rf = *self.replication.get(topic as usize)? as usize;
        if rf == 0 {
            return None;
        }
        let part = self.part(topic, partition);
        let slots = &mut self.slots[part as usize];
        match slots.starts.iter_mut().find(|(b, _)| *b == broker) {
            Some(s) => s.1 = offset,
            None => slots.starts.push((broker, offset)),
        }
        if slots.starts.len() < rf {
            return None;
        }
        let floor = slots.starts.iter().map(|s| s.1).min()?;
        if floor <= slots.forgot {
            return None;
        }
        slots.forgot = floor;
        let mut removed = Vec::new();
        let ids = &slots.id;
        slots.acks.retain_mut(|run| {
            let end = run.base + u64::from(run.len);
            removed
                .extend((run.base..end.min(floor)).map(|o| ids.get(o as usize).unwrap_or(NO_ID)));
            if end <= floor {
                return false;
            }
            if run.base < floor {
                run.len = (end - floor) as u32;
                run.base = floor;
            }
            true
        });
        slots.reads.retain_mut(|run| {
            run.from = run.from.max(floor);
            run.to > floor
        });
        slots.id.forget_below(floor as usize);
        self.removed_acked += removed.len() as u64;
        let chunks = self.retirable();
        Some(Forgotten { removed, chunks })
    }

    /// The chunks of send sequences that can go, marked gone.
    fn retirable(&mut self) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        for (p, chunks) in self.seq_chunks.iter().enumerate() {
            let sent = self.outcome.get(p).map_or(0, |o| o.len());
            while let Some(chunk) = chunks.get(self.retired[p]) {
                let c = self.retired[p];
                let done = sent > (c + 1) * CHUNK_LEN
                    && chunk.pending == 0
                    && chunk
                        .reach
                        .iter()
                        .all(|&(part, max)| max < self.slots[part as usize].forgot);
                if !done {
                    break;
                }
                out.push((p as u32, c));
                self.retired[p] += 1;
            }
        }
        out
    }

    /// Drops the per-record outcomes of `chunks` (after the other checkers
    /// asked [`DataChecker::is_acked`] of them for the last time).
    pub fn forget(&mut self, chunks: &[(u32, usize)]) {
        for &(p, c) in chunks {
            if let Some(o) = self.outcome.get_mut(p as usize) {
                o.forget_chunk(c);
            }
        }
    }
}
