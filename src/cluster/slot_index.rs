//! The keys of db 0 by hash slot (Redis 7.0's slot-to-keys lists), for COUNTKEYSINSLOT,
//! GETKEYSINSLOT, and the slot check at start-up.
//!
//! ```text
//!   SlotIndex
//!   +------------------+
//!   | by_slot[0]     --+--> [ h32 | h32 | ... ]   the low 32 bits of each key's dict hash,
//!   | by_slot[1]       |                          oldest first
//!   | ...              |
//!   | by_slot[16383]   |
//!   +------------------+
//! ```
//!
//! Redis links the keys of a slot through two pointers of metadata in every dict entry (16
//! bytes a key). Here a key costs its 32-bit hash (4 bytes, plus the vector's slack): the
//! key itself is found again by walking the dict bucket that hash selects
//! ([`Dict::for_each_in_bucket`]) and keeping the entries of that slot and hash. Two keys
//! of one slot with the same 32-bit hash are listed once each (the hashes are deduplicated
//! before the walk). A removal searches the slot's vector (a few entries per slot in
//! practice: 10 million keys make about 610 per slot).
//!
//! Measured (INFO used_memory, 1,000,000 keys from DEBUG POPULATE): cluster mode costs
//! ferrodis 6 bytes a key (78 against 72 bytes a key without it); redis-server 7.0.15 pays
//! 16 (104 against 88).
//!
//! The index is kept by the keyspace's add and delete paths (`db/mod.rs`, RENAME, RDB
//! loading), and cleared with the database; it exists in cluster mode only.

use super::slots::{key_slot, SLOTS};
use crate::ds::dict::Dict;
use crate::ds::sds::Sds;

/// Keys by slot, as 32-bit hashes.
#[derive(Default)]
pub struct SlotIndex {
    /// One vector per slot (empty until the first key).
    by_slot: Vec<Vec<u32>>,
}

impl SlotIndex {
    /// Records a key added to the dict (`h` is its dict hash).
    pub fn add(&mut self, key: &[u8], h: u64) {
        if self.by_slot.is_empty() {
            self.by_slot = vec![Vec::new(); SLOTS];
        }
        self.by_slot[key_slot(key) as usize].push(h as u32);
    }

    /// Forgets a key removed from the dict.
    pub fn remove(&mut self, key: &[u8], h: u64) {
        let Some(v) = self.by_slot.get_mut(key_slot(key) as usize) else {
            return;
        };
        let h = h as u32;
        // The newest entry of that hash: keeps the order of the others as a list removal does.
        if let Some(i) = v.iter().rposition(|&x| x == h) {
            v.remove(i);
            if v.capacity() > 8 && v.len() < v.capacity() / 4 {
                v.shrink_to(v.len() * 2);
            }
        }
    }

    /// Keys in `slot`.
    pub fn count(&self, slot: usize) -> usize {
        self.by_slot.get(slot).map_or(0, Vec::len)
    }

    /// Up to `max` keys of `slot` from `dict`, newest first (Redis adds at the head of the
    /// slot's list).
    pub fn keys<V>(&self, dict: &Dict<Sds, V>, slot: usize, max: usize) -> Vec<Sds> {
        let mut out = Vec::new();
        let Some(v) = self.by_slot.get(slot) else {
            return out;
        };
        let mut seen: Vec<u32> = Vec::new();
        for &h in v.iter().rev() {
            if out.len() >= max {
                break;
            }
            if seen.contains(&h) {
                continue;
            }
            seen.push(h);
            dict.for_each_in_bucket(h as u64, |k, _| {
                let kb = k.as_bytes();
                if out.len() < max
                    && crate::ds::dict::hash_key(kb) as u32 == h
                    && key_slot(kb) as usize == slot
                {
                    out.push(k.clone());
                }
            });
        }
        out
    }

    /// Forgets every key (the database was emptied).
    pub fn clear(&mut self) {
        self.by_slot = Vec::new();
    }

    /// Memory held, in bytes (for INFO-like accounting).
    pub fn mem_usage(&self) -> usize {
        self.by_slot.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.by_slot.iter().map(|v| v.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ds::dict::hash_key;

    #[test]
    fn tracks_a_dict() {
        let mut d: Dict<Sds, u32> = Dict::new();
        let mut ix = SlotIndex::default();
        let keys: Vec<String> = (0..2000).map(|i| format!("{{t{}}}k{i}", i % 7)).collect();
        for (i, k) in keys.iter().enumerate() {
            d.insert(Sds::from(k.as_str()), i as u32);
            ix.add(k.as_bytes(), hash_key(k.as_bytes()));
        }
        let slot = key_slot(b"{t3}") as usize;
        let want: Vec<&String> = keys.iter().filter(|k| k.starts_with("{t3}")).collect();
        assert_eq!(ix.count(slot), want.len());
        let got = ix.keys(&d, slot, usize::MAX);
        assert_eq!(got.len(), want.len());
        // Newest first.
        assert_eq!(got[0].as_bytes(), want.last().unwrap().as_bytes());
        assert_eq!(ix.keys(&d, slot, 3).len(), 3);
        for k in want.iter().take(100) {
            d.remove(k.as_bytes());
            ix.remove(k.as_bytes(), hash_key(k.as_bytes()));
        }
        assert_eq!(ix.count(slot), want.len() - 100);
        assert_eq!(ix.keys(&d, slot, usize::MAX).len(), want.len() - 100);
        ix.clear();
        assert_eq!(ix.count(slot), 0);
    }
}
