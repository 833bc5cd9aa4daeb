//! [`TpMap`]: a map keyed by [`TopicIdPartition`] stored densely, by topic
//! id then partition, so that a lookup is two indexings instead of a tree
//! search. It iterates in key order, as a `BTreeMap` would, so swapping
//! one for the other changes no behaviour.

use std::ops::Index;

use super::TopicIdPartition;

/// A dense map from topic-partition to `V`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpMap<V> {
    by_topic: Vec<Vec<Slot<V>>>,
    len: usize,
}

impl<V> Default for TpMap<V> {
    fn default() -> Self {
        Self {
            by_topic: Vec::new(),
            len: 0,
        }
    }
}

impl<V> TpMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `tp`.
    pub fn get(&self, tp: &TopicIdPartition) -> Option<&V> {
        let slot = self
            .by_topic
            .get(tp.topic_id.0 as usize)?
            .get(tp.partition as usize)?;
        slot.as_ref().map(|(_, v)| v)
    }

    /// The value of `tp`, mutably.
    pub fn get_mut(&mut self, tp: &TopicIdPartition) -> Option<&mut V> {
        let slot = self
            .by_topic
            .get_mut(tp.topic_id.0 as usize)?
            .get_mut(tp.partition as usize)?;
        slot.as_mut().map(|(_, v)| v)
    }

    /// Whether `tp` has a value.
    pub fn contains_key(&self, tp: &TopicIdPartition) -> bool {
        self.get(tp).is_some()
    }

    /// Sets the value of `tp`, returning the one it replaces.
    pub fn insert(&mut self, tp: TopicIdPartition, value: V) -> Option<V> {
        let (t, p) = (tp.topic_id.0 as usize, tp.partition as usize);
        if self.by_topic.len() <= t {
            self.by_topic.resize_with(t + 1, Vec::new);
        }
        let partitions = &mut self.by_topic[t];
        if partitions.len() <= p {
            partitions.resize_with(p + 1, || None);
        }
        let old = partitions[p].replace((tp, value)).map(|(_, v)| v);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The value of `tp`, a default one set first if it has none (as
    /// `BTreeMap`'s `entry(tp).or_default()`).
    pub fn get_or_default(&mut self, tp: TopicIdPartition) -> &mut V
    where
        V: Default,
    {
        if !self.contains_key(&tp) {
            self.insert(tp, V::default());
        }
        self.get_mut(&tp).expect("set above")
    }

    /// Every value, in partition order, taking the map.
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.by_topic
            .into_iter()
            .flat_map(|ps| ps.into_iter().flatten().map(|(_, v)| v))
    }

    /// Removes the value of `tp`.
    pub fn remove(&mut self, tp: &TopicIdPartition) -> Option<V> {
        let old = self
            .by_topic
            .get_mut(tp.topic_id.0 as usize)?
            .get_mut(tp.partition as usize)?
            .take()
            .map(|(_, v)| v);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// How many partitions have a value.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every (partition, value), in partition order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            topics: self.by_topic.iter(),
            slots: [].iter(),
        }
    }

    /// Every (partition, value), the values mutably, in partition order.
    pub fn iter_mut(&mut self) -> IterMut<'_, V> {
        IterMut {
            topics: self.by_topic.iter_mut(),
            slots: [].iter_mut(),
        }
    }

    /// Every value, in partition order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Every value, mutably, in partition order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.iter_mut().map(|(_, v)| v)
    }

    /// Every partition with a value, in order.
    pub fn keys(&self) -> impl Iterator<Item = &TopicIdPartition> + '_ {
        self.iter().map(|(k, _)| k)
    }
}

/// A slot of a [`TpMap`]: a partition's key and value, if it has one.
type Slot<V> = Option<(TopicIdPartition, V)>;

/// [`TpMap::iter`]: the slots of one topic after another, skipping the
/// empty ones (a plain search of the current topic's slots, fewer
/// instructions per step than nested `flat_map` and `flatten`).
pub struct Iter<'a, V> {
    topics: std::slice::Iter<'a, Vec<Slot<V>>>,
    slots: std::slice::Iter<'a, Slot<V>>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a TopicIdPartition, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.slots.find_map(Option::as_ref) {
                return Some((k, v));
            }
            self.slots = self.topics.next()?.iter();
        }
    }
}

/// [`TpMap::iter_mut`], as [`Iter`].
pub struct IterMut<'a, V> {
    topics: std::slice::IterMut<'a, Vec<Slot<V>>>,
    slots: std::slice::IterMut<'a, Slot<V>>,
}

impl<'a, V> Iterator for IterMut<'a, V> {
    type Item = (&'a TopicIdPartition, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.slots.find_map(Option::as_mut) {
                return Some((&*k, v));
            }
            self.slots = self.topics.next()?.iter_mut();
        }
    }
}

impl<V> Index<&TopicIdPartition> for TpMap<V> {
    type Output = V;

    fn index(&self, tp: &TopicIdPartition) -> &V {
        self.get(tp).expect("no value for this partition")
    }
}

impl<V> FromIterator<(TopicIdPartition, V)> for TpMap<V> {
    fn from_iter<I: IntoIterator<Item = (TopicIdPartition, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::TopicId;

    #[test]
    fn behaves_like_a_btree_map_in_key_order() {
        let tp = |t, p| TopicIdPartition::new(TopicId(t), p);
        let mut map = TpMap::new();
        let mut model = BTreeMap::new();
        for (i, (t, p)) in [(2, 3), (0, 1), (2, 0), (1, 7), (0, 1), (5, 0)]
            .into_iter()
            .enumerate()
        {
            assert_eq!(map.insert(tp(t, p), i), model.insert(tp(t, p), i));
        }
        assert_eq!(map.remove(&tp(1, 7)), model.remove(&tp(1, 7)));
        assert_eq!(map.remove(&tp(9, 9)), None);
        assert_eq!(map.len(), model.len());
        assert!(map.iter().eq(model.iter()));
        for v in map.values_mut() {
            *v += 10;
        }
        assert_eq!(map[&tp(2, 0)], 12);
        assert_eq!(map.get(&tp(0, 2)), None);
        assert!(!map.contains_key(&tp(1, 7)));
        *map.get_or_default(tp(0, 1)) += 1;
        *map.get_or_default(tp(3, 3)) += 1;
        for v in model.values_mut() {
            *v += 10;
        }
        *model.entry(tp(0, 1)).or_default() += 1;
        *model.entry(tp(3, 3)).or_default() += 1;
        assert!(map.into_values().eq(model.into_values()));
    }
}
