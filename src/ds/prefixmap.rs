//! `PrefixMap`: a map from byte strings to values, kept in byte order, that answers "which of
//! my keys are prefixes of this string?". It is the prefix table of client-side caching's
//! broadcast mode (Redis keeps it in a radix tree): every key change asks which registered
//! prefixes match the changed key, and invalidations go out prefix by prefix in byte order.
//!
//! The number of prefixes is what clients registered with `CLIENT TRACKING ... BCAST PREFIX`,
//! usually a handful, so one sorted vector is both the smallest and the fastest layout:
//!
//! ```text
//!  entries: Vec<(Box<[u8]>, V)>, sorted by key bytes (memcmp order; a prefix sorts first)
//!
//!   index   0        1         2          3         4
//!         +-------+---------+----------+---------+-----------+
//!         | ""    | "a"     | "ab"     | "b"     | "user:"   |
//!         | v0    | v1      | v2       | v3      | v4        |
//!         +-------+---------+----------+---------+-----------+
//!
//!  prefixes of "abc": "" (0), "a" (1), "ab" (2)      prefixes of "user:7": "" (0), "user:" (4)
//! ```
//!
//! Finding the prefixes of `s` never scans the whole table: every prefix of `s` sorts at or
//! before `s`, so the walk starts at the last entry `e <= s`. If `e` is a prefix of `s` it
//! matches, and the next candidates are the shorter prefixes, all `<= s[..e.len() - 1]`. If it
//! is not, let `n` be the length of the common prefix of `e` and `s`: no `s[..l]` with `l > n`
//! lies between `e` and `s` (it would be `> e`, and nothing is stored in `(e, s]`), so the
//! walk continues from the last entry `<= s[..n]`. Each step is one binary search, and the
//! bound strictly shrinks, so a lookup costs O((matches + 1) · log n) for typical tables and
//! never more than `len(s) + 1` steps.

use std::cmp::Ordering;

/// A byte-ordered map with prefix queries. See the module comment for the layout.
#[derive(Debug, Clone)]
pub struct PrefixMap<V> {
    entries: Vec<(Box<[u8]>, V)>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap {
            entries: Vec::new(),
        }
    }
}

impl<V> PrefixMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no keys.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of `key`, or where it would be inserted.
    #[inline]
    fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    /// Number of entries whose key is `<= key` (the index just past the last of them).
    #[inline]
    fn upper_bound(&self, key: &[u8]) -> usize {
        self.entries
            .partition_point(|(k, _)| (**k).cmp(key) != Ordering::Greater)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.search(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        match self.search(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        match self.search(key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key.into(), value));
                None
            }
        }
    }

    /// The value of `key`, inserting `make()` first when it is absent.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        let i = match self.search(key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key.into(), make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        match self.search(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// Every entry in byte order of the keys.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// Every entry in byte order of the keys, values mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&**k, v))
    }

    /// True when some key is a prefix of `s` (the empty key is a prefix of everything).
    pub fn any_prefix_of(&self, s: &[u8]) -> bool {
        let mut found = false;
        self.walk_prefixes(s, |_| {
            found = true;
            false
        });
        found
    }

    /// Calls `f` with every entry whose key is a prefix of `s` (`s` itself included), longest
    /// key first (descending byte order).
    pub fn for_each_prefix_mut(&mut self, s: &[u8], mut f: impl FnMut(&[u8], &mut V)) {
        // The walk only reads keys; collect nothing, visit each index as it is found.
        let mut hi = self.upper_bound(s);
        while hi > 0 {
            let i = hi - 1;
            let (next, matched) = self.step(s, i);
            if matched {
                let (k, v) = &mut self.entries[i];
                f(k, v);
            }
            match next {
                Some(n) => hi = n,
                None => break,
            }
        }
    }

    /// Indexes of the entries whose key is a prefix of `s`, in descending order, given to
    /// `visit` until it returns false.
    fn walk_prefixes(&self, s: &[u8], mut visit: impl FnMut(usize) -> bool) {
        let mut hi = self.upper_bound(s);
        while hi > 0 {
            let i = hi - 1;
            let (next, matched) = self.step(s, i);
            if matched && !visit(i) {
                return;
            }
            match next {
                Some(n) => hi = n,
                None => break,
            }
        }
    }

    /// One step of the walk at entry `i` (the last entry not past the current bound): whether
    /// it is a prefix of `s`, and the next bound (None when nothing shorter can match).
    #[inline]
    fn step(&self, s: &[u8], i: usize) -> (Option<usize>, bool) {
        let e = &self.entries[i].0;
        if s.starts_with(e) {
            if e.is_empty() {
                return (None, true);
            }
            (Some(self.upper_bound(&s[..e.len() - 1])), true)
        } else {
            let n = e.iter().zip(s).take_while(|(a, b)| a == b).count();
            // `s[..n]` is a proper prefix of `e`, so it sorts before it: the bound shrinks.
            (Some(self.upper_bound(&s[..n])), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn keys_of<V>(m: &PrefixMap<V>) -> Vec<Vec<u8>> {
        m.iter().map(|(k, _)| k.to_vec()).collect()
    }

    fn prefixes(m: &mut PrefixMap<u32>, s: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        m.for_each_prefix_mut(s, |k, _| out.push(k.to_vec()));
        out.reverse();
        out
    }

    #[test]
    fn the_drawn_example() {
        let mut m = PrefixMap::new();
        for (i, k) in ["user:", "b", "ab", "a", ""].iter().enumerate() {
            assert_eq!(m.insert(k.as_bytes(), i as u32), None);
        }
        assert_eq!(
            keys_of(&m),
            vec![
                b"".to_vec(),
                b"a".to_vec(),
                b"ab".to_vec(),
                b"b".to_vec(),
                b"user:".to_vec()
            ]
        );
        assert_eq!(
            prefixes(&mut m, b"abc"),
            vec![b"".to_vec(), b"a".to_vec(), b"ab".to_vec()]
        );
        assert_eq!(
            prefixes(&mut m, b"user:7"),
            vec![b"".to_vec(), b"user:".to_vec()]
        );
        assert_eq!(prefixes(&mut m, b""), vec![b"".to_vec()]);
        assert_eq!(m.remove(b""), Some(4));
        assert_eq!(prefixes(&mut m, b"c"), Vec::<Vec<u8>>::new());
        assert!(!m.any_prefix_of(b"c"));
        assert!(m.any_prefix_of(b"bz"));
        assert_eq!(m.insert(b"b", 9), Some(1));
        assert_eq!(m.get(b"b"), Some(&9));
    }

    #[test]
    fn walks_past_long_non_matching_runs() {
        // Many keys between the prefixes of s that are not prefixes of s.
        let mut m = PrefixMap::new();
        for i in 0..200u32 {
            m.insert(format!("k{i:03}").as_bytes(), i);
        }
        m.insert(b"k", 1000);
        m.insert(b"k1", 1001);
        m.insert(b"k12", 1002);
        assert_eq!(
            prefixes(&mut m, b"k125x"),
            vec![
                b"k".to_vec(),
                b"k1".to_vec(),
                b"k12".to_vec(),
                b"k125".to_vec()
            ]
        );
        assert_eq!(
            prefixes(&mut m, b"k12x"),
            vec![b"k".to_vec(), b"k1".to_vec(), b"k12".to_vec()]
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, u32),
        Remove(Vec<u8>),
        Get(Vec<u8>),
        Prefixes(Vec<u8>),
        Bump(Vec<u8>),
    }

    /// Short strings over a tiny alphabet, so prefixes and collisions are frequent.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(0u8), Just(255u8)],
            0..6,
        )
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (bytes(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            bytes().prop_map(Op::Remove),
            bytes().prop_map(Op::Get),
            bytes().prop_map(Op::Prefixes),
            bytes().prop_map(Op::Bump),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every operation agrees with a BTreeMap model; the prefix query agrees with a full
        /// scan of the model, and iteration is in the model's (byte) order.
        #[test]
        fn model_against_btreemap(ops in proptest::collection::vec(op(), 0..200)) {
            let mut m = PrefixMap::new();
            let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(m.insert(&k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(m.remove(&k), model.remove(&k)),
                    Op::Get(k) => prop_assert_eq!(m.get(&k), model.get(&k)),
                    Op::Prefixes(s) => {
                        let want: Vec<Vec<u8>> =
                            model.keys().filter(|k| s.starts_with(k)).cloned().collect();
                        prop_assert_eq!(prefixes(&mut m, &s), want.clone());
                        prop_assert_eq!(m.any_prefix_of(&s), !want.is_empty());
                    }
                    Op::Bump(s) => {
                        // Mutation through the prefix walk reaches exactly the matches.
                        m.for_each_prefix_mut(&s, |_, v| *v = v.wrapping_add(1));
                        for (k, v) in model.iter_mut() {
                            if s.starts_with(k) {
                                *v = v.wrapping_add(1);
                            }
                        }
                        let x = m.get_or_insert_with(&s, || 7);
                        let y = model.entry(s).or_insert(7);
                        prop_assert_eq!(*x, *y);
                    }
                }
                prop_assert_eq!(m.len(), model.len());
                let got: Vec<(Vec<u8>, u32)> = m.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
                let want: Vec<(Vec<u8>, u32)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
