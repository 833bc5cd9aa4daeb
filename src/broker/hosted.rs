//! [`Hosted`]: a broker's partitions, with a journal of the ones changed.
//!
//! Every way to change a partition (`get_mut`, `insert`, `remove`,
//! `values_mut`...) notes it in the journal; reading goes through
//! [`TpMap`]'s own methods (`Deref`). A leader's fetch sessions read the
//! journal to know which of their partitions may have changed since their
//! last fetch: the others are left idle (see
//! [`crate::broker::fetch_session`]). The fetch path itself changes only the
//! fetching follower's own state, through [`Hosted::get_mut_unnoted`].

use std::ops::Deref;

use super::partition::Partition;
use crate::protocol::{TopicIdPartition, TpMap};

/// How many entries the journal keeps: past that it drops its older half,
/// and a session that had not read them looks at all its partitions.
const JOURNAL_MAX: usize = 4096;

/// The broker's partitions (see the module doc).
#[derive(Debug, Default)]
pub struct Hosted {
    map: TpMap<Partition>,
    /// Partitions changed, oldest first; entry `i` has position `base + i`.
    journal: Vec<TopicIdPartition>,
    base: u64,
    /// Entries below this may have been read: a change of a partition
    /// whose last entry is among them is noted again (one whose last entry
    /// is past them is not: whoever reads from here on sees that entry).
    read: usize,
}

impl Deref for Hosted {
    type Target = TpMap<Partition>;

    fn deref(&self) -> &TpMap<Partition> {
        &self.map
    }
}

impl Hosted {
    /// The partition `tp`, noted unless an entry of it is still unread.
    #[inline]
    fn noted(&mut self, tp: TopicIdPartition) -> Option<&mut Partition> {
        let read_end = self.base + self.read as u64;
        let p = self.map.get_mut(&tp)?;
        if p.journal_mark <= read_end {
            p.journal_mark = push(&mut self.journal, &mut self.base, &mut self.read, tp);
        }
        Some(p)
    }

    /// Appends `tp` to the journal; returns the position after it.
    fn push(&mut self, tp: TopicIdPartition) -> u64 {
        push(&mut self.journal, &mut self.base, &mut self.read, tp)
    }

    /// Notes every partition as changed: each session looks at all of its.
    fn note_all(&mut self) {
        self.base += self.journal.len() as u64 + 1;
        self.journal.clear();
        self.read = 0;
    }

    /// The position after the last change noted: a reader that reads the
    /// journal from there on sees every change noted after this call.
    pub fn journal_end(&mut self) -> u64 {
        self.read = self.journal.len();
        self.base + self.journal.len() as u64
    }

    /// The partitions changed from position `from` on (None: some were
    /// dropped, any partition may have changed).
    pub fn changed_since(&self, from: u64) -> Option<&[TopicIdPartition]> {
        let i = usize::try_from(from.checked_sub(self.base)?).ok()?;
        self.journal.get(i..)
    }

    /// The partition `tp`, to change it.
    #[inline]
    pub fn get_mut(&mut self, tp: &TopicIdPartition) -> Option<&mut Partition> {
        self.noted(*tp)
    }

    /// The partition `tp`, to change only the follower state of a
    /// follower fetching it (the fetch path: see the module doc).
    pub fn get_mut_unnoted(&mut self, tp: &TopicIdPartition) -> Option<&mut Partition> {
        self.map.get_mut(tp)
    }

    /// Sets the partition `tp`.
    pub fn insert(&mut self, tp: TopicIdPartition, p: Partition) -> Option<Partition> {
        let old = self.map.insert(tp, p);
        self.noted(tp);
        old
    }

    /// Removes the partition `tp`.
    pub fn remove(&mut self, tp: &TopicIdPartition) -> Option<Partition> {
        let old = self.map.remove(tp);
        if old.is_some() {
            self.push(*tp);
        }
        old
    }

    /// Every (partition, value), the values mutably, in partition order.
    #[allow(dead_code)] // every way to change the partitions notes it
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&TopicIdPartition, &mut Partition)> + '_ {
        self.note_all();
        self.map.iter_mut()
    }

    /// Every partition, mutably, in partition order.
    #[allow(dead_code)] // every way to change the partitions notes it
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Partition> + '_ {
        self.note_all();
        self.map.values_mut()
    }
}

impl FromIterator<(TopicIdPartition, Partition)> for Hosted {
    fn from_iter<I: IntoIterator<Item = (TopicIdPartition, Partition)>>(iter: I) -> Self {
        Self {
            map: iter.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// Appends `tp` to `journal` (entry `i` at position `base + i`, entries
/// below `read` read), dropping its older half when full; returns the
/// position after it.
fn push(
    journal: &mut Vec<TopicIdPartition>,
    base: &mut u64,
    read: &mut usize,
    tp: TopicIdPartition,
) -> u64 {
    if journal.len() >= JOURNAL_MAX {
        let half = JOURNAL_MAX / 2;
        journal.drain(..half);
        *base += half as u64;
        *read = read.saturating_sub(half);
    }
    journal.push(tp);
    *base + journal.len() as u64
}
