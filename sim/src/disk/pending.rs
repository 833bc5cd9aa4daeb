//! `Queue`: the not-yet-durable ops by sequence number, oldest first.
//!
//! A disk hands out sequence numbers one after another, so the queue is a
//! ring of slots, one per number from the oldest pending op to the newest:
//! an op is found by a subtraction, writeback takes from the front and a
//! new op goes on the back, each in constant time. An fsync takes ops out
//! of the middle; the holes it leaves stay until they reach either end (at
//! most as many as the ops written since the oldest pending one, which
//! writeback makes durable once it expires).

use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub(super) struct Queue<T> {
    /// Slot `i` holds op `first + i`, or nothing once that op was taken.
    /// Neither end slot is ever empty.
    slots: VecDeque<Option<T>>,
    /// Sequence number of the front slot (meaningless while `slots` is empty).
    first: u64,
    /// Slots holding an op.
    live: usize,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            slots: VecDeque::new(),
            first: 0,
            live: 0,
        }
    }
}

impl<T> Queue<T> {
    /// Pending ops.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// True when no op is pending.
    pub(super) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Sequence number of the back slot (`slots` not empty).
    fn last_seq(&self) -> u64 {
        self.first + self.slots.len() as u64 - 1
    }

    /// Adds op `seq`, newer than every op ever pushed.
    pub(super) fn push(&mut self, seq: u64, op: T) {
        if self.slots.is_empty() {
            self.first = seq;
        }
        debug_assert!(seq >= self.first + self.slots.len() as u64);
        // The numbers between the newest op left and `seq` were taken from
        // the back: empty slots keep slot `i` op `first + i`.
        while self.first + (self.slots.len() as u64) < seq {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(op));
        self.live += 1;
    }

    fn index(&self, seq: u64) -> Option<usize> {
        let i = seq.checked_sub(self.first)?;
        (i < self.slots.len() as u64).then_some(i as usize)
    }

    /// Op `seq`, if pending.
    pub(super) fn get_mut(&mut self, seq: u64) -> Option<&mut T> {
        let i = self.index(seq)?;
        self.slots[i].as_mut()
    }

    /// Takes op `seq` out, if pending.
    pub(super) fn take(&mut self, seq: u64) -> Option<T> {
        let i = self.index(seq)?;
        let op = self.slots[i].take()?;
        self.live -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        while let Some(None) = self.slots.back() {
            self.slots.pop_back();
        }
        Some(op)
    }

    /// The oldest pending op.
    pub(super) fn first(&self) -> Option<(u64, &T)> {
        let op = self.slots.front()?.as_ref()?;
        Some((self.first, op))
    }

    /// The newest pending op.
    pub(super) fn last(&self) -> Option<(u64, &T)> {
        let op = self.slots.back()?.as_ref()?;
        Some((self.last_seq(), op))
    }

    /// The newest pending op, to change.
    pub(super) fn last_mut(&mut self) -> Option<&mut T> {
        self.slots.back_mut()?.as_mut()
    }

    /// Takes out the newest pending op.
    pub(super) fn pop_last(&mut self) -> Option<(u64, T)> {
        if self.slots.is_empty() {
            return None;
        }
        let seq = self.last_seq();
        self.take(seq).map(|op| (seq, op))
    }

    /// Every pending op with its sequence number, oldest first.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &T)> {
        let first = self.first;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, op)| Some((first + i as u64, op.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    /// Random pushes and takes (from the front, the back and the middle)
    /// against the ordered map the queue replaced.
    #[test]
    fn behaves_like_an_ordered_map() {
        for seed in 0..100 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut queue = Queue::default();
            let mut model = BTreeMap::new();
            let mut next = 0u64;
            for _ in 0..300 {
                match r.random_range(0..6) {
                    0..=2 => {
                        next += 1;
                        queue.push(next, next * 10);
                        model.insert(next, next * 10);
                    }
                    3 => {
                        let seq = r.random_range(0..=next + 1);
                        assert_eq!(queue.take(seq), model.remove(&seq), "seed {seed}");
                    }
                    4 => {
                        let first = model.first_key_value().map(|(&k, _)| k);
                        if let Some(seq) = first {
                            assert_eq!(queue.take(seq), model.remove(&seq));
                        }
                    }
                    _ => {
                        let last = model.pop_last();
                        assert_eq!(queue.pop_last(), last, "seed {seed}");
                    }
                }
                assert_eq!(queue.len(), model.len());
                assert_eq!(queue.is_empty(), model.is_empty());
                assert_eq!(queue.first(), model.first_key_value().map(|(&k, v)| (k, v)));
                assert_eq!(queue.last(), model.last_key_value().map(|(&k, v)| (k, v)));
                assert!(queue.iter().eq(model.iter().map(|(&k, v)| (k, v))));
                assert!(queue
                    .iter()
                    .rev()
                    .eq(model.iter().rev().map(|(&k, v)| (k, v))));
                if let Some((&k, &v)) = model.iter().nth(model.len() / 2) {
                    assert_eq!(queue.get_mut(k).copied(), Some(v));
                }
            }
        }
    }
}
