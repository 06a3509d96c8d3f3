//! The hashes type (t_hash.c's data half): a hash is a listpack while it is small and a
//! [`Dict`] once it is not, and this file is the only place where the two encodings meet the
//! commands (src/commands/hash.rs speaks only to the API below).
//!
//! ```text
//!  Value::Hash(Box<Hash>)  ->  Hash (16 bytes: the listpack's 16-byte handle, or a Box beside
//!                                     the handle's pointer niche)
//!
//!  A hash-table entry is 40 bytes (field and value `Sds` handles, 15 bytes inline each, and
//!  the chain link): jemalloc's 48-byte class.
//!
//!  Hash::Listpack(Listpack)                 "listpack" (OBJECT ENCODING)
//!  +---------------+
//!  | Vec<u8> ------+--> [ total u32 | count u16 | f0 | v0 | f1 | v1 | ... | 0xFF ]
//!  +---------------+      count = 2 * fields; field i at element 2i, its value at 2i+1;
//!                         new fields are appended, so replies list insertion order
//!
//!  Hash::Table(Box<Dict<Sds, Sds>>)         "hashtable"
//!  +---------------+     +-----------------+
//!  | Box ----------+---> | Dict            |--> buckets --> Entry { field: Sds, value: Sds,
//!  +---------------+     +-----------------+                      next } --> ...
//! ```
//!
//! Conversion is one way and happens exactly where Redis 7.0 does it:
//! - [`Hash::try_conversion`] (hashTypeTryConversion) runs on a command's arguments *before*
//!   any write: a field or value longer than `hash-max-listpack-value`, or a total that would
//!   push the listpack past 1 GiB, converts the whole hash first;
//! - [`Hash::set`] (hashTypeSet) converts when the field or value itself is too long (the
//!   HINCRBY* results, which no argument announced) and after an append that makes the hash
//!   hold more than `hash-max-listpack-entries` fields.
//!
//! A hash table never goes back to a listpack, not even after HDEL empties most of it.
//!
//! Memory: a listpack costs its bytes rounded to the allocator's size class. A hash created by
//! HSET is allocated at its exact final size ([`Hash::with_capacity_for`]); growth reserves
//! whole size classes, and [`Hash::compact`] returns what a write left over.

use crate::config::Config;
use crate::ds::dict::{self, Dict};
use crate::ds::listpack::{self, InvalidListpack, Listpack, LpElem, HDR_SIZE};
use crate::ds::sds::Sds;
use crate::util::num::{fmt_i64, parse_i64};
use crate::util::rand;
use std::collections::HashSet;

/// The two `hash-max-listpack-*` thresholds, read once per command from the config so the
/// type code never reaches into the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `hash-max-listpack-entries`: most fields a listpack hash may hold.
    pub max_entries: usize,
    /// `hash-max-listpack-value`: longest field or value a listpack hash may hold.
    pub max_value: usize,
}

impl Limits {
    /// The thresholds currently configured (CONFIG SET applies to the next write).
    #[inline]
    pub fn from_config(cfg: &Config) -> Limits {
        Limits {
            max_entries: usize::try_from(cfg.hash_max_listpack_entries).unwrap_or(usize::MAX),
            max_value: usize::try_from(cfg.hash_max_listpack_value).unwrap_or(usize::MAX),
        }
    }
}

/// Redis's defaults (512 entries, 64 bytes), for tests and callers without a config.
impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 512,
            max_value: 64,
        }
    }
}

/// A hash value. See the module comment for the layout.
pub enum Hash {
    /// Field/value pairs side by side in one listpack ("listpack").
    Listpack(Listpack),
    /// A dictionary from field to value ("hashtable"), boxed so a small hash stays 16 bytes.
    Table(Box<Dict<Sds, Sds>>),
}

/// Bytes the allocator really takes for a request of `n`, so MEMORY USAGE reports what a hash
/// costs: jemalloc's size classes (8, 16-byte steps to 128, then four classes per power of
/// two) when the `jemalloc` feature is on, else glibc's chunks (8-byte header, 16-byte
/// granularity, 32-byte minimum).
#[inline]
fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else if cfg!(feature = "jemalloc") {
        if n <= 8 {
            8
        } else if n <= 128 {
            (n + 15) & !15
        } else {
            let k = usize::BITS - 1 - (n - 1).leading_zeros(); // 2^k < n <= 2^(k+1)
            let step = 1usize << (k - 2);
            n.saturating_add(step - 1) & !(step - 1)
        }
    } else {
        (n.saturating_add(8 + 15) & !15).max(32)
    }
}

/// Smallest saving for which [`Hash::compact`] reallocates: glibc can only split off a free
/// chunk of at least 32 bytes; jemalloc moves to the smaller class for any saving.
const MIN_RECLAIM: usize = if cfg!(feature = "jemalloc") { 1 } else { 32 };

/// Size of one dict entry of a hash table: field handle, value handle, chain link.
const TABLE_ENTRY_SIZE: usize = 2 * std::mem::size_of::<Sds>() + std::mem::size_of::<usize>();

/// The bytes of an element as an owned handle, for a hash-table field or value.
#[inline]
fn elem_sds(e: LpElem<'_>) -> Sds {
    match e {
        LpElem::Str(s) => Sds::from_slice(s),
        LpElem::Int(v) => {
            let mut b = [0u8; 20];
            Sds::from_slice(fmt_i64(v, &mut b))
        }
    }
}

/// Bytes `s` takes as a listpack entry (encoding + data + backlen), following listpack.c's
/// size rules: canonical integers in the narrowest of the 1/2/3/4/5/9-byte integer encodings,
/// other strings with a 1, 2 or 5-byte header, a backlen of 1..5 bytes. Used only to size
/// allocations, never to read or write entries.
fn lp_entry_bytes(s: &[u8]) -> usize {
    let int = if s.len() <= 20 { parse_i64(s) } else { None };
    let l = match int {
        Some(0..=127) => 1,
        Some(-4096..=4095) => 2,
        Some(-32768..=32767) => 3,
        Some(-8388608..=8388607) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if s.len() < 64 => 1 + s.len(),
        None if s.len() < 4096 => 2 + s.len(),
        None => 5usize.saturating_add(s.len()),
    };
    let backlen = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    l.saturating_add(backlen)
}

/// Why a blob cannot be a listpack hash (`lpValidateIntegrityAndDups` with pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidHashListpack {
    /// Not a well-formed listpack at all.
    Listpack,
    /// An odd number of elements: a field without its value.
    OddCount,
    /// The same field twice.
    DuplicateField,
}

impl From<InvalidListpack> for InvalidHashListpack {
    fn from(_: InvalidListpack) -> Self {
        InvalidHashListpack::Listpack
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    /// A new, empty hash: a listpack, as createHashObject makes it.
    #[inline]
    pub fn new() -> Hash {
        Hash::Listpack(Listpack::new())
    }

    /// A new listpack hash with room for exactly these field/value arguments (HSET on a new
    /// key), so a hash built by one command carries no growth slack. Only a capacity hint:
    /// repeated fields leave some spare room, which [`compact`](Self::compact) may return.
    pub fn with_capacity_for<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> Hash {
        let bytes = args.into_iter().fold(listpack::EMPTY_SIZE, |n, a| {
            n.saturating_add(lp_entry_bytes(a))
        });
        // Past the value limit the hash converts before anything is stored; don't reserve.
        Hash::Listpack(Listpack::with_capacity(bytes.min(1 << 16)))
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Number of fields (hashTypeLength).
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    /// True when there are no fields (never stored: HDEL deletes the key with its last field).
    #[inline]
    pub fn is_empty(&self) -> bool {
        match self {
            Hash::Listpack(lp) => lp.is_empty(),
            Hash::Table(d) => d.is_empty(),
        }
    }

    /// True while the listpack encoding is in use.
    #[inline]
    pub fn is_listpack(&self) -> bool {
        matches!(self, Hash::Listpack(_))
    }

    /// Heap bytes owned (MEMORY USAGE, DEBUG OBJECT), as the allocator counts them: the listpack
    /// block, or the dict, its buckets, its entries and any field/value that outgrew the
    /// inline `Sds` form. Exact, so O(n) for a hash table.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Listpack(lp) => alloc_size(lp.allocated()),
            Hash::Table(d) => {
                let mut n = alloc_size(std::mem::size_of::<Dict<Sds, Sds>>())
                    + d.table_sizes()
                        .iter()
                        .map(|&b| alloc_size(b * std::mem::size_of::<usize>()))
                        .sum::<usize>();
                for (k, v) in d.iter() {
                    n += alloc_size(TABLE_ENTRY_SIZE)
                        + alloc_size(k.heap_size())
                        + alloc_size(v.heap_size());
                }
                n
            }
        }
    }

    /// A deep copy (COPY): same encoding, listpack bytes identical, no spare capacity.
    pub fn duplicate(&self) -> Hash {
        match self {
            Hash::Listpack(lp) => Hash::Listpack(lp.clone()),
            Hash::Table(d) => {
                let mut t = Dict::with_capacity(d.len());
                for (k, v) in d.iter() {
                    t.insert(k.clone(), v.clone());
                }
                Hash::Table(Box::new(t))
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Conversion
    // ----------------------------------------------------------------------------------------

    /// hashTypeTryConversion: before a write with these field/value arguments, converts a
    /// listpack hash to a hash table when one argument is longer than `max_value` or when
    /// their total would take the listpack past its 1 GiB safety limit.
    pub fn try_conversion<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>, lim: &Limits) {
        let Hash::Listpack(lp) = self else { return };
        let mut sum = 0usize;
        for a in args {
            if a.len() > lim.max_value {
                self.convert();
                return;
            }
            sum = sum.saturating_add(a.len());
        }
        if !lp.safe_to_add(sum) {
            self.convert();
        }
    }

    /// hashTypeConvert to OBJ_ENCODING_HT: moves every pair into a dictionary pre-sized for
    /// them. No-op on a hash table.
    pub fn convert(&mut self) {
        let Hash::Listpack(lp) = self else { return };
        let mut d: Dict<Sds, Sds> = Dict::with_capacity(lp.len() / 2);
        let mut it = lp.iter();
        while let Some(f) = it.next() {
            let v = it.next().unwrap_or(LpElem::Str(b""));
            // A listpack we built or validated has no duplicate fields; should one appear,
            // the later value wins rather than bringing the server down.
            d.insert(elem_sds(f), elem_sds(v));
        }
        *self = Hash::Table(Box::new(d));
    }

    /// Gives back listpack slack that the allocator can actually reclaim (the block would
    /// move to a smaller size class / chunk). Commands call it after writing, as Redis's
    /// exact-size `lpInsert` reallocations leave nothing but the allocator's own rounding.
    /// Growth already reserves whole size classes, so under jemalloc this fires only after an
    /// over-estimated [`with_capacity_for`](Self::with_capacity_for).
    #[inline]
    pub fn compact(&mut self) {
        if let Hash::Listpack(lp) = self {
            if alloc_size(lp.allocated()) >= alloc_size(lp.bytes()) + MIN_RECLAIM {
                lp.shrink_to_fit();
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Lookups
    // ----------------------------------------------------------------------------------------

    /// Position of `field`'s value in a listpack (lpFind on the fields only).
    #[inline]
    fn lp_value_pos(lp: &Listpack, field: &[u8]) -> Option<usize> {
        let f = lp.find(HDR_SIZE, field, 1)?;
        lp.next(f)
    }

    /// The value of `field` (hashTypeGetValue). A hash-table lookup also moves one rehash
    /// bucket, as dictFind does.
    #[inline]
    pub fn get(&mut self, field: &[u8]) -> Option<LpElem<'_>> {
        match self {
            Hash::Listpack(lp) => Self::lp_value_pos(lp, field).map(|p| lp.get(p)),
            Hash::Table(d) => d.get(field).map(|v| LpElem::Str(v.as_bytes())),
        }
    }

    /// [`get`](Self::get) through a shared borrow (no rehash step), e.g. for SORT's
    /// `key->field` patterns.
    pub fn peek(&self, field: &[u8]) -> Option<LpElem<'_>> {
        match self {
            Hash::Listpack(lp) => Self::lp_value_pos(lp, field).map(|p| lp.get(p)),
            Hash::Table(d) => d.peek(field).map(|v| LpElem::Str(v.as_bytes())),
        }
    }

    /// Whether `field` exists (hashTypeExists).
    #[inline]
    pub fn exists(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.find(HDR_SIZE, field, 1).is_some(),
            Hash::Table(d) => d.get(field).is_some(),
        }
    }

    /// Length of `field`'s value, 0 when absent (hashTypeGetValueLength: integers count
    /// their decimal digits).
    pub fn value_len(&mut self, field: &[u8]) -> usize {
        self.get(field).map_or(0, |v| v.str_len())
    }

    // ----------------------------------------------------------------------------------------
    // Writes
    // ----------------------------------------------------------------------------------------

    /// hashTypeSet: sets `field` to `value`; returns true when the field existed (an update)
    /// and false when it was added. Converts as described in the module comment.
    pub fn set(&mut self, field: &[u8], value: LpElem<'_>, lim: &Limits) -> bool {
        if let Hash::Listpack(_) = self {
            if field.len() > lim.max_value || value.str_len() > lim.max_value {
                self.convert();
            }
        }
        match self {
            Hash::Listpack(lp) => {
                let update = match lp.find(HDR_SIZE, field, 1) {
                    Some(f) => {
                        match lp.next(f) {
                            Some(v) => {
                                lp.replace(v, value);
                            }
                            // Cannot happen in a pair-validated listpack; keep it a pair.
                            None => {
                                lp.push_back(value);
                            }
                        }
                        true
                    }
                    None => {
                        lp.push_back(field);
                        lp.push_back(value);
                        false
                    }
                };
                if lp.len() / 2 > lim.max_entries {
                    self.convert();
                }
                update
            }
            Hash::Table(d) => {
                let (slot, inserted) =
                    d.get_or_insert_with(field, || (Sds::from_slice(field), Sds::empty()));
                *slot = elem_sds(value);
                !inserted
            }
        }
    }

    /// hashTypeDelete: removes `field`; true when it existed. A hash table is shrunk when
    /// it falls under 10% fill, as Redis checks after every delete.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => match lp.find(HDR_SIZE, field, 1) {
                Some(p) => {
                    lp.delete_range_at(p, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => {
                if d.remove(field).is_some() {
                    d.resize_if_needed();
                    true
                } else {
                    false
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Iteration and random access
    // ----------------------------------------------------------------------------------------

    /// Every (field, value) pair: insertion order for a listpack, bucket order for a table.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(lp) => Iter::Listpack(lp.iter()),
            Hash::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// The listpack, while that is the encoding (RDB saving writes its bytes as they are;
    /// HSCAN returns it whole).
    #[inline]
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match self {
            Hash::Listpack(lp) => Some(lp),
            Hash::Table(_) => None,
        }
    }

    /// The dictionary, while that is the encoding (HSCAN's cursor, HRANDFIELD's sampling).
    #[inline]
    pub fn as_table_mut(&mut self) -> Option<&mut Dict<Sds, Sds>> {
        match self {
            Hash::Listpack(_) => None,
            Hash::Table(d) => Some(d),
        }
    }

    /// [`as_table_mut`](Self::as_table_mut) through a shared borrow.
    #[inline]
    pub fn as_table(&self) -> Option<&Dict<Sds, Sds>> {
        match self {
            Hash::Listpack(_) => None,
            Hash::Table(d) => Some(d),
        }
    }

    /// hashTypeRandomElement: one random pair, uniformly for a listpack (lpRandomPair), by
    /// dictGetFairRandomKey for a table. None when empty.
    pub fn random_pair(&mut self) -> Option<(LpElem<'_>, LpElem<'_>)> {
        match self {
            Hash::Listpack(lp) => {
                let n = lp.len() / 2;
                if n == 0 {
                    return None;
                }
                let i = rand::index(n) as i64;
                let f = lp.seek(2 * i)?;
                let v = lp.next(f)?;
                Some((lp.get(f), lp.get(v)))
            }
            Hash::Table(d) => d
                .random_entry()
                .map(|(k, v)| (LpElem::Str(k.as_bytes()), LpElem::Str(v.as_bytes()))),
        }
    }

    // ----------------------------------------------------------------------------------------
    // Construction from saved forms (RDB / RESTORE)
    // ----------------------------------------------------------------------------------------

    /// Validates an untrusted listpack blob as a hash (lpValidateIntegrityAndDups with pairs):
    /// a well-formed listpack with an even count and no field twice.
    pub fn validate_listpack(bytes: Vec<u8>) -> Result<Listpack, InvalidHashListpack> {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut idx = 0usize;
        let mut dup = false;
        let count = listpack::validate(&bytes, |e| {
            if idx.is_multiple_of(2) && !seen.insert(e.to_vec()) {
                dup = true;
            }
            idx += 1;
            !dup
        });
        match count {
            None if dup => return Err(InvalidHashListpack::DuplicateField),
            None => return Err(InvalidHashListpack::Listpack),
            Some(n) if !n.is_multiple_of(2) => return Err(InvalidHashListpack::OddCount),
            Some(_) => {}
        }
        Ok(Listpack::from_bytes(bytes)?)
    }

    /// A hash over a validated listpack of pairs, converted when it holds more than
    /// `max_entries` fields (what Redis 7.0's loader checks for listpack and ziplist hashes).
    pub fn from_listpack(lp: Listpack, lim: &Limits) -> Hash {
        let mut h = Hash::Listpack(lp);
        if h.len() > lim.max_entries {
            h.convert();
        }
        h
    }

    /// A hash from distinct (field, value) pairs, as Redis 7.0 loads the RDB hash-table form:
    /// a listpack unless there are more than `max_entries` pairs, until a field or value is
    /// longer than `max_value` (or the listpack would pass 1 GiB); the rest goes into a table.
    /// A repeated field keeps its last value.
    pub fn from_pairs(pairs: Vec<(Sds, Sds)>, lim: &Limits) -> Hash {
        let mut h = if pairs.len() > lim.max_entries {
            Hash::Table(Box::new(Dict::with_capacity(pairs.len())))
        } else {
            Hash::new()
        };
        for (f, v) in pairs {
            if let Hash::Listpack(lp) = &mut h {
                if f.len() > lim.max_value
                    || v.len() > lim.max_value
                    || !lp.safe_to_add(f.len() + v.len())
                {
                    h.convert();
                }
            }
            match &mut h {
                Hash::Listpack(lp) => match lp.find(HDR_SIZE, f.as_bytes(), 1) {
                    Some(p) => {
                        if let Some(q) = lp.next(p) {
                            lp.replace(q, v.as_bytes());
                        }
                    }
                    None => {
                        lp.push_back(f.as_bytes());
                        lp.push_back(v.as_bytes());
                    }
                },
                Hash::Table(d) => {
                    d.insert(f, v);
                }
            }
        }
        h.compact();
        h
    }
}

/// Iterator over a hash's (field, value) pairs; see [`Hash::iter`].
pub enum Iter<'a> {
    /// Walking the listpack two elements at a time.
    Listpack(listpack::Iter<'a>),
    /// Walking the dictionary's buckets.
    Table(dict::Iter<'a, Sds, Sds>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (LpElem<'a>, LpElem<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack(it) => {
                let f = it.next()?;
                let v = it.next()?;
                Some((f, v))
            }
            Iter::Table(it) => it
                .next()
                .map(|(k, v)| (LpElem::Str(k.as_bytes()), LpElem::Str(v.as_bytes()))),
        }
    }
}

/// lpRandomPairs: `count` pairs of a listpack hash drawn uniformly *with* replacement,
/// returned in draw order (HRANDFIELD with a negative count). The draws are sorted by
/// position so the listpack is walked once, then put back in draw order.
pub fn lp_random_pairs<'a>(
    lp: &'a Listpack,
    count: usize,
    out: &mut Vec<(LpElem<'a>, LpElem<'a>)>,
) {
    out.clear();
    let n = lp.len() / 2;
    if n == 0 || count == 0 {
        return;
    }
    let mut picks: Vec<(usize, usize)> = (0..count).map(|i| (rand::index(n), i)).collect();
    picks.sort_unstable();
    out.resize(count, (LpElem::Int(0), LpElem::Int(0)));
    let mut it = lp.iter();
    let mut pair = 0usize;
    let mut cur = match (it.next(), it.next()) {
        (Some(f), Some(v)) => (f, v),
        _ => return,
    };
    for &(idx, order) in &picks {
        while pair < idx {
            match (it.next(), it.next()) {
                (Some(f), Some(v)) => cur = (f, v),
                _ => return,
            }
            pair += 1;
        }
        out[order] = cur;
    }
}

/// lpRandomPairsUnique: `count` distinct pairs of a listpack hash (all of them when it has
/// fewer), each subset equally likely, in listpack order (selection sampling: pair `i` of `n`
/// is taken with probability still-needed / still-unvisited).
pub fn lp_random_pairs_unique<'a>(
    lp: &'a Listpack,
    count: usize,
    out: &mut Vec<(LpElem<'a>, LpElem<'a>)>,
) {
    out.clear();
    let n = lp.len() / 2;
    let mut remaining = count.min(n);
    let mut it = lp.iter();
    let mut i = 0usize;
    while remaining > 0 {
        let (Some(f), Some(v)) = (it.next(), it.next()) else {
            break;
        };
        if rand::index(n - i) < remaining {
            out.push((f, v));
            remaining -= 1;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pairs(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
    }

    #[test]
    fn listpack_bytes_match_redis() {
        // HSET h1 name alice age 30 score -7 city "" big 99999999999 on redis-server 7.0.15
        // (the DUMP fixture of ds::listpack's tests).
        let mut h = Hash::new();
        let lim = Limits::default();
        for (f, v) in [
            ("name", "alice"),
            ("age", "30"),
            ("score", "-7"),
            ("city", ""),
            ("big", "99999999999"),
        ] {
            assert!(!h.set(f.as_bytes(), LpElem::Str(v.as_bytes()), &lim));
        }
        let lp = h.as_listpack().unwrap();
        assert_eq!(lp.bytes(), 0x3c);
        assert_eq!(lp.as_bytes()[..6], [0x3c, 0, 0, 0, 0x0a, 0]);
        assert_eq!(h.len(), 5);
        assert_eq!(h.get(b"age"), Some(LpElem::Int(30)));
        assert_eq!(h.value_len(b"big"), 11);
        assert_eq!(h.value_len(b"nope"), 0);
        assert!(h.set(b"age", LpElem::Int(31), &lim));
        assert_eq!(h.get(b"age").unwrap().to_vec(), b"31");
        // A value is never matched as a field.
        assert!(!h.exists(b"alice"));
    }

    #[test]
    fn alloc_sizes() {
        assert_eq!(alloc_size(0), 0);
        if cfg!(feature = "jemalloc") {
            let want = [
                (1, 8),
                (8, 8),
                (9, 16),
                (24, 32),
                (64, 64),
                (129, 160),
                (247, 256),
            ];
            for (n, c) in want {
                assert_eq!(alloc_size(n), c, "{n}");
            }
            assert_eq!(alloc_size(257), 320);
            assert_eq!(alloc_size(4097), 5120);
        } else {
            assert_eq!(alloc_size(24), 32);
            assert_eq!(alloc_size(64), 80);
            assert_eq!(alloc_size(247), 256);
        }
        assert!(alloc_size(usize::MAX - 3) >= 1 << 60);
    }

    #[test]
    fn presized_listpack_is_exact() {
        let lim = Limits::default();
        let big = "y".repeat(63);
        let args: Vec<&[u8]> = vec![
            b"f",
            b"1",
            b"g",
            b"-4000",
            b"h",
            b"30000",
            b"i",
            b"8000000",
            b"j",
            b"2000000000",
            b"k",
            b"99999999999",
            b"l",
            b"01",
            b"m",
            big.as_bytes(),
            b"n",
            b"",
        ];
        let mut h = Hash::with_capacity_for(args.iter().copied());
        let cap = h.as_listpack().unwrap().allocated();
        for p in args.chunks(2) {
            h.set(p[0], LpElem::Str(p[1]), &lim);
        }
        let lp = h.as_listpack().unwrap();
        assert_eq!(lp.bytes(), cap, "the estimate is the exact size");
        assert_eq!(lp.allocated(), cap, "no regrowth");
        // Backlen thresholds.
        assert_eq!(lp_entry_bytes(&[b'x'; 125]), 127 + 1);
        assert_eq!(lp_entry_bytes(&[b'x'; 126]), 128 + 2);
    }

    #[test]
    fn conversion_points() {
        let lim = Limits {
            max_entries: 3,
            max_value: 5,
        };
        let mut h = Hash::new();
        h.try_conversion([&b"abcde"[..], b"12345"], &lim);
        assert!(h.is_listpack());
        h.try_conversion([&b"abcdef"[..]], &lim);
        assert!(!h.is_listpack());

        let mut h = Hash::new();
        for i in 0..3 {
            h.set(format!("f{i}").as_bytes(), LpElem::Int(i), &lim);
        }
        assert!(h.is_listpack());
        h.set(b"f3", LpElem::Int(3), &lim);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 4);
        assert_eq!(h.get(b"f2").unwrap().to_vec(), b"2");

        // hashTypeSet's own length check (HINCRBYFLOAT results).
        let mut h = Hash::new();
        h.set(b"f", LpElem::Str(b"123456"), &lim);
        assert!(!h.is_listpack());
        // An integer counts with its decimal length.
        let mut h = Hash::new();
        h.set(b"f", LpElem::Int(123456), &lim);
        assert!(!h.is_listpack());
    }

    #[test]
    fn from_saved_forms() {
        let lim = Limits {
            max_entries: 2,
            max_value: 4,
        };
        let h = Hash::from_pairs(vec![(Sds::from("a"), Sds::from("1"))], &lim);
        assert!(h.is_listpack());
        let h = Hash::from_pairs(
            vec![
                (Sds::from("a"), Sds::from("1")),
                (Sds::from("bbbbb"), Sds::from("2")),
            ],
            &lim,
        );
        assert!(!h.is_listpack());
        assert_eq!(h.len(), 2);
        let mut lp = Listpack::new();
        for e in [&b"a"[..], b"1", b"b", b"2", b"c", b"3"] {
            lp.push_back(e);
        }
        let bytes = lp.as_bytes().to_vec();
        let lp2 = Hash::validate_listpack(bytes.clone()).unwrap();
        assert!(!Hash::from_listpack(lp2, &lim).is_listpack());
        assert!(
            Hash::from_listpack(Hash::validate_listpack(bytes).unwrap(), &Limits::default())
                .is_listpack()
        );
        let mut odd = Listpack::new();
        odd.push_back(&b"a"[..]);
        assert_eq!(
            Hash::validate_listpack(odd.into_vec()).err(),
            Some(InvalidHashListpack::OddCount)
        );
        let mut dup = Listpack::new();
        for e in [&b"a"[..], b"1", b"1", b"a", b"a", b"2"] {
            dup.push_back(e);
        }
        assert_eq!(
            Hash::validate_listpack(dup.into_vec()).err(),
            Some(InvalidHashListpack::DuplicateField)
        );
        assert_eq!(
            Hash::validate_listpack(vec![1, 2, 3]).err(),
            Some(InvalidHashListpack::Listpack)
        );
    }

    #[test]
    fn random_helpers() {
        let mut lp = Listpack::new();
        for i in 0..10i64 {
            lp.push_back(i);
            lp.push_back(i * 100);
        }
        let mut out = Vec::new();
        lp_random_pairs(&lp, 5000, &mut out);
        assert_eq!(out.len(), 5000);
        let mut hist = [0usize; 10];
        for (f, v) in &out {
            let f = f.as_i64().unwrap();
            assert_eq!(v.as_i64().unwrap(), f * 100);
            hist[f as usize] += 1;
        }
        assert!(hist.iter().all(|&n| (350..650).contains(&n)), "{hist:?}");
        for k in 0..=12 {
            lp_random_pairs_unique(&lp, k, &mut out);
            assert_eq!(out.len(), k.min(10));
            let fs: Vec<i64> = out.iter().map(|(f, _)| f.as_i64().unwrap()).collect();
            assert!(
                fs.windows(2).all(|w| w[0] < w[1]),
                "listpack order, distinct"
            );
        }
        let mut hist = [0usize; 10];
        for _ in 0..3000 {
            lp_random_pairs_unique(&lp, 3, &mut out);
            for (f, _) in &out {
                hist[f.as_i64().unwrap() as usize] += 1;
            }
        }
        assert!(hist.iter().all(|&n| (700..1100).contains(&n)), "{hist:?}");
        let mut h = Hash::Listpack(lp);
        assert!(h.random_pair().is_some());
        h.convert();
        let (f, v) = h.random_pair().unwrap();
        assert_eq!(v.as_i64().unwrap(), f.as_i64().unwrap() * 100);
        assert!(Hash::new().random_pair().is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        /// The hash against a BTreeMap model through both encodings and the conversion.
        #[test]
        fn model(ops in proptest::collection::vec(
            (0u8..3, 0u8..40, prop_oneof![
                (-300i64..300).prop_map(|v| v.to_string().into_bytes()),
                proptest::collection::vec(any::<u8>(), 0..12),
            ]),
            1..200,
        ), max_entries in 0usize..20, max_value in 0usize..12) {
            let lim = Limits { max_entries, max_value };
            let mut h = Hash::new();
            let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for (op, k, v) in ops {
                let field = format!("f{k}").into_bytes();
                match op {
                    0 | 1 => {
                        h.try_conversion([&field[..], &v[..]], &lim);
                        let was = h.is_listpack();
                        let upd = h.set(&field, LpElem::Str(&v), &lim);
                        prop_assert_eq!(upd, m.insert(field.clone(), v.clone()).is_some());
                        if was && h.is_listpack() {
                            prop_assert!(h.len() <= max_entries);
                        }
                        h.compact();
                    }
                    _ => {
                        prop_assert_eq!(h.delete(&field), m.remove(&field).is_some());
                    }
                }
                prop_assert_eq!(h.len(), m.len());
                prop_assert_eq!(h.get(&field).map(|e| e.to_vec()), m.get(&field).cloned());
                prop_assert_eq!(h.peek(&field).map(|e| e.to_vec()), m.get(&field).cloned());
            }
            let mut got = pairs(&h);
            got.sort();
            let want: Vec<_> = m.clone().into_iter().collect();
            prop_assert_eq!(&got, &want);
            let mut dup = pairs(&h.duplicate());
            dup.sort();
            prop_assert_eq!(&dup, &want);
            prop_assert_eq!(h.duplicate().encoding_name(), h.encoding_name());
            if let Some(lp) = h.as_listpack() {
                // Validation accepts what we build.
                prop_assert!(Hash::validate_listpack(lp.as_bytes().to_vec()).is_ok());
            }
            prop_assert!(h.heap_size() > 0 || h.is_empty());
            h.convert();
            let mut conv = pairs(&h);
            conv.sort();
            prop_assert_eq!(&conv, &want);
        }
    }
}
