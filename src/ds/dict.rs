//! `Dict`: the chained hash table behind the keyspace, the expires table, and the hash, set and
//! sorted-set encodings that outgrow their compact forms (Redis's `dict.c`).
//!
//! Memory layout (a dict in the middle of growing from 4 to 8 buckets):
//!
//! ```text
//!  Dict<K, V>                    ht[0].buckets (2^n slots, one word each, None = null)
//!  +------------------------+    +------+------+------+------+
//!  | ht[0]: buckets, used   |--->| None | None |  *   |  *   |
//!  | ht[1]: buckets, used   |-+  +------+------+--|---+--|---+
//!  | rehashidx = 2          | |       ^ already   |      |
//!  +------------------------+ |       | moved     v      v
//!                             |                +------+ +------+
//!                             |                | key  | | key  |   Box<Entry<K, V>>:
//!                             |                | val  | | val  |   key, value and the next
//!                             |                | next-+ | next |   link of the bucket chain
//!                             |                +----|-+ +------+
//!                             |                     v
//!                             |                +------+
//!                             |                | ...  | -> None
//!                             |                +------+
//!                             |  ht[1].buckets (2^(n+1) slots)
//!                             +->+------+------+------+------+------+------+------+------+
//!                                |  *   | None | None | None | None |  *   | None | None |
//!                                +------+------+------+------+------+------+------+------+
//! ```
//!
//! * Bucket arrays are powers of two, so a key's bucket is `hash & (size - 1)`.
//! * Collisions chain through `next`; new entries go to the head of the chain, on the theory that
//!   recently added keys are the ones accessed next.
//! * Growing or shrinking allocates `ht[1]` and then moves entries over *incrementally*: every
//!   lookup, insert or delete moves one bucket (`rehashidx` is the next bucket of `ht[0]` to
//!   move), and `serverCron` spends up to 1 ms per tick on it (`rehash_for`). A single huge
//!   rehash would stall the one server thread for as long as it takes to touch every key.
//!   While rehashing, buckets of `ht[0]` below `rehashidx` are empty, new keys go to `ht[1]`,
//!   and lookups check both tables. When `ht[0]` is empty, `ht[1]` becomes `ht[0]`.
//! * The dict is rehashing exactly when `ht[1]` has buckets.
//!
//! Keys are hashed with keyed SipHash-1-2 (`set_hash_seed`), compared as byte strings, and looked
//! up by `&[u8]`, so the caller never builds an owned key just to search.

use crate::ds::siphash::{siphash_words, split_key};
use std::fmt;
use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Size of a freshly created table (Redis's `DICT_HT_INITIAL_SIZE`); also the floor for shrinks.
pub const DICT_HT_INITIAL_SIZE: usize = 4;

/// Percent fill below which `resize_if_needed` shrinks a table (Redis's `HASHTABLE_MIN_FILL`).
pub const HASHTABLE_MIN_FILL: usize = 10;

/// Load factor (elements per bucket) above which a table grows even when resizing is forbidden
/// (Redis's `dict_force_resize_ratio`).
pub const DICT_FORCE_RESIZE_RATIO: usize = 5;

/// Each rehash step may skip at most this many empty buckets per bucket it was asked to move,
/// so one step costs a bounded amount of work even in a sparse table (Redis's `n*10`).
const EMPTY_VISITS_PER_STEP: usize = 10;

/// Buckets moved per round of `rehash_for` before the clock is checked again.
const REHASH_BATCH: usize = 100;

/// Entries `random_entry` samples before picking one (Redis's `GETFAIR_NUM_ENTRIES`).
const GETFAIR_NUM_ENTRIES: usize = 15;

/// A key a `Dict` can store: anything that can show its bytes.
///
/// The dict hashes and compares keys only through these bytes, which lets callers look up with a
/// plain `&[u8]` taken straight from the client's request.
pub trait DictKey {
    /// The bytes that identify this key; must not change while the key is in a dict.
    fn key_bytes(&self) -> &[u8];
}

impl DictKey for Vec<u8> {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl DictKey for Box<[u8]> {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Process-wide settings.

/// The two halves of the SipHash key; all-zero until `set_hash_seed`.
static SEED_K0: AtomicU64 = AtomicU64::new(0);
static SEED_K1: AtomicU64 = AtomicU64::new(0);

/// Whether tables may grow at load factor 1 and shrink at all (Redis's `dict_can_resize`).
static RESIZE_ALLOWED: AtomicBool = AtomicBool::new(true);

/// State of the splitmix64 generator used for random sampling.
static RNG_STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);

#[cfg(test)]
thread_local! {
    /// Test-only per-thread overrides, so tests running in parallel threads can change the
    /// seed or the resize policy without disturbing each other's dicts.
    static TEST_SEED: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
    static TEST_RESIZE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Sets the 16-byte SipHash key every dict hashes with. Call once at start-up, before any dict
/// holds entries: a random key keeps clients from choosing keys that collide (hash flooding).
/// Changing it later would strand existing entries in the wrong buckets. Also reseeds the
/// sampling random generator so `random_entry` differs between runs.
pub fn set_hash_seed(seed: [u8; 16]) {
    let (k0, k1) = split_key(&seed);
    SEED_K0.store(k0, Ordering::Relaxed);
    SEED_K1.store(k1, Ordering::Relaxed);
    RNG_STATE.store(
        k0 ^ k1.rotate_left(29) ^ 0x853c_49e6_748f_ea9b,
        Ordering::Relaxed,
    );
}

/// The current SipHash key halves.
#[inline]
fn seed_keys() -> (u64, u64) {
    #[cfg(test)]
    if let Some(s) = TEST_SEED.with(|c| c.get()) {
        return s;
    }
    (
        SEED_K0.load(Ordering::Relaxed),
        SEED_K1.load(Ordering::Relaxed),
    )
}

/// The hash a dict uses for `k` (keyed SipHash-1-2, Redis's `dictGenHashFunction`).
///
/// Public so callers that look the same key up in two dicts (keyspace and expires) can hash once
/// and use the `*_with_hash` methods.
#[inline]
pub fn hash_key(k: &[u8]) -> u64 {
    let (k0, k1) = seed_keys();
    siphash_words(k, k0, k1)
}

/// Allows or forbids resizing of all dicts (Redis's `dictEnableResize`/`dictDisableResize`).
///
/// While a forked child (BGSAVE, BGREWRITEAOF) is running, parent and child share memory pages
/// copy-on-write. Allocating a new bucket array and moving every entry would touch, and so
/// duplicate, a large share of those pages. So during a fork tables do not shrink, and grow only
/// when chains get long (more than `DICT_FORCE_RESIZE_RATIO` elements per bucket). Incremental
/// rehashing already in progress continues.
pub fn set_resize_allowed(allowed: bool) {
    RESIZE_ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Whether dicts may currently resize freely (see `set_resize_allowed`).
#[inline]
pub fn resize_allowed() -> bool {
    #[cfg(test)]
    if let Some(v) = TEST_RESIZE.with(|c| c.get()) {
        return v;
    }
    RESIZE_ALLOWED.load(Ordering::Relaxed)
}

/// A fast non-cryptographic random number (splitmix64 over a shared counter) for sampling;
/// quality well beyond what bucket picking needs, and lock-free.
#[inline]
fn random_u64() -> u64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut z = RNG_STATE
        .fetch_add(GAMMA, Ordering::Relaxed)
        .wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random index below `n` (which must be non-zero).
#[inline]
fn random_below(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

// ---------------------------------------------------------------------------------------------
// Tables.

/// A bucket: the head of a chain.
type Link<K, V> = Option<Box<Entry<K, V>>>;

/// One key/value pair and the link to the next entry in its bucket.
struct Entry<K, V> {
    key: K,
    val: V,
    next: Link<K, V>,
}

/// One bucket array and the number of entries chained from it.
struct Table<K, V> {
    buckets: Box<[Link<K, V>]>,
    used: usize,
}

impl<K, V> Table<K, V> {
    /// The unallocated table (size 0).
    fn empty() -> Self {
        Table {
            buckets: Box::new([]),
            used: 0,
        }
    }

    /// A table of `size` empty buckets, or `None` if the allocation fails (huge sizes come from
    /// client-controlled counts, e.g. an RDB resize hint, and must not abort the process).
    fn try_alloc(size: usize) -> Option<Self> {
        let mut v: Vec<Link<K, V>> = Vec::new();
        v.try_reserve_exact(size).ok()?;
        v.resize_with(size, || None);
        Some(Table {
            buckets: v.into_boxed_slice(),
            used: 0,
        })
    }

    #[inline]
    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// Bucket index of hash `h`; meaningful only when the table has buckets.
    #[inline]
    fn index(&self, h: u64) -> usize {
        h as usize & self.buckets.len().wrapping_sub(1)
    }

    /// Frees every chain iteratively (a recursive `Box` drop could exhaust the stack on a long
    /// chain) and leaves the buckets empty.
    fn free_chains(&mut self) {
        if self.used == 0 {
            return;
        }
        for slot in self.buckets.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut e) = chain {
                chain = e.next.take();
            }
        }
        self.used = 0;
    }
}

impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        self.free_chains();
    }
}

/// Walks a chain for the entry whose key bytes equal `k`.
#[inline]
fn chain_find<'a, K: DictKey, V>(
    mut cur: Option<&'a Entry<K, V>>,
    k: &[u8],
) -> Option<&'a Entry<K, V>> {
    while let Some(e) = cur {
        if e.key.key_bytes() == k {
            return Some(e);
        }
        cur = e.next.as_deref();
    }
    None
}

/// Mutable variant of `chain_find`.
#[inline]
fn chain_find_mut<'a, K: DictKey, V>(
    mut cur: Option<&'a mut Entry<K, V>>,
    k: &[u8],
) -> Option<&'a mut Entry<K, V>> {
    while let Some(e) = cur {
        if e.key.key_bytes() == k {
            return Some(e);
        }
        cur = e.next.as_deref_mut();
    }
    None
}

/// Unlinks and returns the entry whose key bytes equal `k` from the chain starting at `link`.
#[inline]
fn chain_unlink<K: DictKey, V>(mut link: &mut Link<K, V>, k: &[u8]) -> Option<Box<Entry<K, V>>> {
    loop {
        let hit = match link {
            None => return None,
            Some(e) => e.key.key_bytes() == k,
        };
        if hit {
            let mut e = link.take()?;
            *link = e.next.take();
            return Some(e);
        }
        link = &mut link.as_mut()?.next;
    }
}

/// Smallest power of two >= `size` (at least `DICT_HT_INITIAL_SIZE`) whose bucket array fits
/// in memory addressing; `None` on overflow.
fn table_size_for(size: usize) -> Option<usize> {
    let real = size.max(DICT_HT_INITIAL_SIZE).checked_next_power_of_two()?;
    let bytes = real.checked_mul(mem::size_of::<usize>())?;
    (bytes <= isize::MAX as usize).then_some(real)
}

/// Advances a reverse-binary SCAN cursor over the bits of `mask`: set the bits above the mask,
/// then increment the bit-reversed value, so the carry runs from the high mask bit downwards.
#[inline]
fn next_cursor(v: u64, mask: u64) -> u64 {
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

/// Runs one `dictScan` step over table sizes alone: calls `visit(table, bucket)` for every bucket
/// the cursor `v` covers and returns the next cursor. `small` is `(table, mask)` of the only (or
/// the smaller) table, `large` that of the bigger table during rehashing.
fn scan_buckets(
    mut v: u64,
    small: (usize, u64),
    large: Option<(usize, u64)>,
    mut visit: impl FnMut(usize, usize),
) -> u64 {
    let (t0, m0) = small;
    visit(t0, (v & m0) as usize);
    match large {
        None => next_cursor(v, m0),
        Some((t1, m1)) => {
            // Visit every expansion of the small-table bucket in the large table: the cursor
            // bits covered by the large mask but not the small one run through all values.
            loop {
                visit(t1, (v & m1) as usize);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
            v
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The dict.

/// A hash table with incremental rehashing, mirroring Redis's `dict`.
///
/// Methods that take `&mut self` (lookups included) also advance an in-progress rehash by one
/// bucket, as Redis does on every dict access; `peek` and the other `&self` methods never do.
pub struct Dict<K, V> {
    ht: [Table<K, V>; 2],
    /// Next bucket of `ht[0]` to move while rehashing; meaningless otherwise.
    rehashidx: usize,
}

impl<K, V> Default for Dict<K, V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<K, V> Dict<K, V> {
    /// An empty dict; allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehashidx: 0,
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    /// Whether the dict has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an incremental rehash is in progress (INFO and the cron's rehash budget use it).
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        !self.ht[1].buckets.is_empty()
    }

    /// Total buckets in both tables (Redis's `dictSlots`), for INFO, MEMORY and resize policy.
    #[inline]
    pub fn buckets(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    /// Approximate bytes used by the table itself (bucket arrays and entry boxes, not what the
    /// keys and values own), for MEMORY USAGE and INFO (Redis's `dictMemUsage`).
    pub fn mem_usage(&self) -> usize {
        self.buckets() * mem::size_of::<Link<K, V>>() + self.len() * mem::size_of::<Entry<K, V>>()
    }

    /// Removes every entry and frees both tables (Redis's `dictEmpty`).
    pub fn clear(&mut self) {
        self.ht = [Table::empty(), Table::empty()];
        self.rehashidx = 0;
    }

    /// Iterates over all entries in bucket order (both tables while rehashing). Does not rehash;
    /// the borrow keeps the dict from changing meanwhile, like Redis's safe iterator.
    pub fn iter(&self) -> Iter<'_, K, V> {
        let start = if self.is_rehashing() {
            self.rehashidx.min(self.ht[0].size())
        } else {
            0
        };
        Iter {
            slots: self.ht[0].buckets[start..]
                .iter()
                .chain(self.ht[1].buckets.iter()),
            entry: None,
            remaining: self.len(),
        }
    }

    /// Iterates over all entries with mutable access to the values.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let remaining = self.len();
        let [t0, t1] = &mut self.ht;
        IterMut {
            slots: t0.buckets.iter_mut().chain(t1.buckets.iter_mut()),
            entry: None,
            remaining,
        }
    }

    /// Keeps only the entries for which `f` returns true. Does no rehash step.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for t in self.ht.iter_mut() {
            if t.used == 0 {
                continue;
            }
            let Table { buckets, used } = t;
            for slot in buckets.iter_mut() {
                let mut link: &mut Link<K, V> = slot;
                loop {
                    let keep = match link.as_deref_mut() {
                        None => break,
                        Some(e) => f(&e.key, &mut e.val),
                    };
                    if keep {
                        match link {
                            Some(e) => link = &mut e.next,
                            None => break,
                        }
                    } else if let Some(mut e) = link.take() {
                        *link = e.next.take();
                        *used -= 1;
                    }
                }
            }
        }
    }

    /// Grows or shrinks to the smallest power of two >= `size` (at least 4), starting an
    /// incremental rehash if the dict has entries (Redis's `dictExpand`/`dictTryExpand`).
    /// Returns false, changing nothing, if a rehash is already running, `size` is below the
    /// element count, the size would not change, or the bucket array cannot be allocated.
    pub fn expand(&mut self, size: usize) -> bool {
        if self.is_rehashing() || self.ht[0].used > size {
            return false;
        }
        let Some(real) = table_size_for(size) else {
            return false;
        };
        if real == self.ht[0].size() {
            return false;
        }
        let Some(table) = Table::try_alloc(real) else {
            return false;
        };
        if self.ht[0].used == 0 {
            // Nothing to move: the new table simply replaces the (empty or absent) old one.
            self.ht[0] = table;
        } else {
            self.ht[1] = table;
            self.rehashidx = 0;
        }
        true
    }

    /// Shrinks the table when it is less than `HASHTABLE_MIN_FILL` percent full and larger than
    /// `DICT_HT_INITIAL_SIZE` (Redis's `htNeedsResize` + `dictResize`), to save memory after mass
    /// deletes; `serverCron` calls it. Skipped while resizing is forbidden or a rehash runs.
    /// Returns true if a shrink started.
    pub fn resize_if_needed(&mut self) -> bool {
        let size = self.buckets();
        let used = self.len();
        if size <= DICT_HT_INITIAL_SIZE || used.saturating_mul(100) / size >= HASHTABLE_MIN_FILL {
            return false;
        }
        if !resize_allowed() || self.is_rehashing() {
            return false;
        }
        self.expand(used.max(DICT_HT_INITIAL_SIZE))
    }

    /// Moves up to `n` buckets from `ht[0]` to `ht[1]` (visiting at most `10 * n` empty buckets
    /// so the work stays bounded), finishing the rehash when `ht[0]` is empty (Redis's
    /// `dictRehash`). Returns true while there is more to move.
    pub fn rehash(&mut self, n: usize) -> bool
    where
        K: DictKey,
    {
        if !self.is_rehashing() {
            return false;
        }
        let mut empty_visits = n.saturating_mul(EMPTY_VISITS_PER_STEP);
        let mut n = n;
        let mut idx = self.rehashidx;
        let [t0, t1] = &mut self.ht;
        let growing = t1.size() > t0.size();
        let (k0, k1) = seed_keys();
        while n > 0 && t0.used != 0 {
            n -= 1;
            // Find the next non-empty bucket. One must exist at or after `idx` since
            // `t0.used != 0` and buckets below `rehashidx` are empty.
            let chain = loop {
                match t0.buckets.get_mut(idx) {
                    Some(slot) => {
                        if slot.is_some() {
                            break slot.take();
                        }
                        idx += 1;
                        empty_visits -= 1;
                        if empty_visits == 0 {
                            self.rehashidx = idx;
                            return true;
                        }
                    }
                    None => {
                        // Unreachable while `used` is accurate; recover rather than spin.
                        t0.used = 0;
                        break None;
                    }
                }
            };
            let mut chain = chain;
            let mask1 = t1.size() - 1;
            while let Some(mut e) = chain {
                chain = e.next.take();
                let dst = if growing {
                    siphash_words(e.key.key_bytes(), k0, k1) as usize & mask1
                } else {
                    // Shrinking: the small table's bucket is the low bits of the large one's.
                    idx & mask1
                };
                let slot = &mut t1.buckets[dst];
                e.next = slot.take();
                *slot = Some(e);
                t0.used -= 1;
                t1.used += 1;
            }
            idx += 1;
        }
        self.rehashidx = idx;
        if self.ht[0].used == 0 {
            self.ht[0] = mem::replace(&mut self.ht[1], Table::empty());
            self.rehashidx = 0;
            return false;
        }
        true
    }

    /// Rehashes in batches of 100 buckets until `us` microseconds have passed or the rehash is
    /// done (Redis's `dictRehashMilliseconds`, which `activerehashing` runs for 1 ms per cron
    /// tick). Returns the number of bucket steps attempted (a multiple of 100).
    pub fn rehash_for(&mut self, us: u64) -> usize
    where
        K: DictKey,
    {
        let start = Instant::now();
        let mut steps = 0;
        while self.rehash(REHASH_BATCH) {
            steps += REHASH_BATCH;
            if start.elapsed().as_micros() >= u128::from(us) {
                break;
            }
        }
        steps
    }

    /// Per-table chain statistics in the exact text of Redis 7.0's `dictGetStats`, for DEBUG
    /// HTSTATS and HTSTATS-KEY.
    pub fn stats(&self) -> String {
        let mut out = String::new();
        self.table_stats(0, &mut out);
        if self.is_rehashing() {
            self.table_stats(1, &mut out);
        }
        out
    }

    fn table_stats(&self, which: usize, out: &mut String) {
        use fmt::Write;
        const VECTLEN: usize = 50;
        let t = &self.ht[which];
        let name = if which == 0 {
            "main hash table"
        } else {
            "rehashing target"
        };
        let _ = writeln!(out, "Hash table {which} stats ({name}):");
        if t.used == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            return;
        }
        let mut clvector = [0usize; VECTLEN];
        let (mut slots, mut maxchain, mut totchain) = (0usize, 0usize, 0usize);
        for slot in t.buckets.iter() {
            let mut len = 0usize;
            let mut cur = slot.as_deref();
            while let Some(e) = cur {
                len += 1;
                cur = e.next.as_deref();
            }
            if len == 0 {
                clvector[0] += 1;
                continue;
            }
            slots += 1;
            clvector[len.min(VECTLEN - 1)] += 1;
            maxchain = maxchain.max(len);
            totchain += len;
        }
        // Redis computes these in single precision and prints them with "%.02f".
        let _ = write!(
            out,
            " table size: {}\n number of elements: {}\n different slots: {}\n \
             max chain length: {}\n avg chain length (counted): {:.2}\n \
             avg chain length (computed): {:.2}\n Chain length distribution:\n",
            t.size(),
            t.used,
            slots,
            maxchain,
            f64::from(totchain as f32 / slots as f32),
            f64::from(t.used as f32 / slots as f32),
        );
        // The last slot collects chains of VECTLEN-1 or more and is not printed, as in Redis.
        for (i, &c) in clvector.iter().enumerate().take(VECTLEN - 1) {
            if c == 0 {
                continue;
            }
            let pct = (c as f32 / t.size() as f32) * 100.0;
            let _ = writeln!(out, "   {i}: {c} ({:.2}%)", f64::from(pct));
        }
    }
}

impl<K: DictKey, V> Dict<K, V> {
    /// An empty dict pre-sized for `n` entries, so loading them triggers no rehash.
    pub fn with_capacity(n: usize) -> Self {
        let mut d = Dict::new();
        if n > 0 {
            d.expand(n);
        }
        d
    }

    /// One incremental rehash step, done on every `&mut` access (Redis's `_dictRehashStep`).
    #[inline]
    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            self.rehash(1);
        }
    }

    /// Starts a grow when the load factor reaches 1 (or exceeds `DICT_FORCE_RESIZE_RATIO` while
    /// resizing is forbidden), and allocates the first table (Redis's `_dictExpandIfNeeded`).
    #[inline]
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        if size == 0 {
            if !self.expand(DICT_HT_INITIAL_SIZE) {
                // Four buckets: treat failure like any small allocation failure.
                self.ht[0] = Table {
                    buckets: (0..DICT_HT_INITIAL_SIZE).map(|_| None).collect(),
                    used: 0,
                };
            }
            return;
        }
        let used = self.ht[0].used;
        if used >= size && (resize_allowed() || used / size > DICT_FORCE_RESIZE_RATIO) {
            // On allocation failure the table just keeps its size and chains grow longer.
            self.expand(used + 1);
        }
    }

    /// The entry for `k` with hash `h`, if present.
    #[inline]
    fn find(&self, h: u64, k: &[u8]) -> Option<&Entry<K, V>> {
        if self.is_empty() {
            return None;
        }
        let [t0, t1] = &self.ht;
        let rehashing = !t1.buckets.is_empty();
        let idx = t0.index(h);
        if !rehashing || idx >= self.rehashidx {
            let head = t0.buckets.get(idx).and_then(|l| l.as_deref());
            if let Some(e) = chain_find(head, k) {
                return Some(e);
            }
        }
        if rehashing {
            let head = t1.buckets.get(t1.index(h)).and_then(|l| l.as_deref());
            return chain_find(head, k);
        }
        None
    }

    /// Mutable variant of `find`.
    #[inline]
    fn find_mut(&mut self, h: u64, k: &[u8]) -> Option<&mut Entry<K, V>> {
        if self.is_empty() {
            return None;
        }
        let ridx = self.rehashidx;
        let [t0, t1] = &mut self.ht;
        let rehashing = !t1.buckets.is_empty();
        let idx = t0.index(h);
        if !rehashing || idx >= ridx {
            let head = t0.buckets.get_mut(idx).and_then(|l| l.as_deref_mut());
            if let Some(e) = chain_find_mut(head, k) {
                return Some(e);
            }
        }
        if rehashing {
            let i1 = t1.index(h);
            let head = t1.buckets.get_mut(i1).and_then(|l| l.as_deref_mut());
            return chain_find_mut(head, k);
        }
        None
    }

    /// Links a new entry at the head of its bucket in the table that receives inserts (`ht[1]`
    /// while rehashing). The caller has run `expand_if_needed` and checked the key is absent.
    #[inline]
    fn link_new(&mut self, h: u64, key: K, val: V) -> &mut Entry<K, V> {
        let t = if self.is_rehashing() {
            &mut self.ht[1]
        } else {
            &mut self.ht[0]
        };
        let idx = t.index(h);
        t.used += 1;
        let slot = &mut t.buckets[idx];
        let next = slot.take();
        slot.insert(Box::new(Entry { key, val, next }))
    }

    /// Looks `k` up, advancing a rehash by one step (Redis's `dictFetchValue`).
    #[inline]
    pub fn get(&mut self, k: &[u8]) -> Option<&V> {
        self.get_with_hash(hash_key(k), k)
    }

    /// `get` with `h == hash_key(k)` already computed.
    #[inline]
    pub fn get_with_hash(&mut self, h: u64, k: &[u8]) -> Option<&V> {
        self.rehash_step();
        self.find(h, k).map(|e| &e.val)
    }

    /// Mutable lookup, advancing a rehash by one step.
    #[inline]
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        self.get_mut_with_hash(hash_key(k), k)
    }

    /// `get_mut` with `h == hash_key(k)` already computed.
    #[inline]
    pub fn get_mut_with_hash(&mut self, h: u64, k: &[u8]) -> Option<&mut V> {
        self.rehash_step();
        self.find_mut(h, k).map(|e| &mut e.val)
    }

    /// Lookup returning the stored key too (callers that need the dict's own key object).
    #[inline]
    pub fn get_key_value(&mut self, k: &[u8]) -> Option<(&K, &V)> {
        self.rehash_step();
        self.find(hash_key(k), k).map(|e| (&e.key, &e.val))
    }

    /// Mutable lookup returning the stored key too.
    #[inline]
    pub fn get_key_value_mut(&mut self, k: &[u8]) -> Option<(&K, &mut V)> {
        self.rehash_step();
        self.find_mut(hash_key(k), k).map(|e| (&e.key, &mut e.val))
    }

    /// Lookup through a shared borrow: no rehash step, for read paths that only hold `&Dict`.
    #[inline]
    pub fn peek(&self, k: &[u8]) -> Option<&V> {
        self.find(hash_key(k), k).map(|e| &e.val)
    }

    /// `peek` with `h == hash_key(k)` already computed.
    #[inline]
    pub fn peek_with_hash(&self, h: u64, k: &[u8]) -> Option<&V> {
        self.find(h, k).map(|e| &e.val)
    }

    /// `peek` returning the stored key too.
    #[inline]
    pub fn peek_key_value(&self, k: &[u8]) -> Option<(&K, &V)> {
        self.find(hash_key(k), k).map(|e| (&e.key, &e.val))
    }

    /// Whether `k` is present, advancing a rehash by one step.
    #[inline]
    pub fn contains_key(&mut self, k: &[u8]) -> bool {
        self.rehash_step();
        self.find(hash_key(k), k).is_some()
    }

    /// Inserts or overwrites (Redis's `dictReplace`). On overwrite the stored key is kept, the
    /// new key dropped, and the old value returned.
    #[inline]
    pub fn insert(&mut self, key: K, val: V) -> Option<V> {
        let h = hash_key(key.key_bytes());
        self.insert_with_hash(h, key, val)
    }

    /// `insert` with `h == hash_key(key.key_bytes())` already computed.
    pub fn insert_with_hash(&mut self, h: u64, key: K, val: V) -> Option<V> {
        self.rehash_step();
        self.expand_if_needed();
        if let Some(e) = self.find_mut(h, key.key_bytes()) {
            return Some(mem::replace(&mut e.val, val));
        }
        self.link_new(h, key, val);
        None
    }

    /// Inserts only if `key` is absent (Redis's `dictAdd`); otherwise hands the pair back.
    pub fn add(&mut self, key: K, val: V) -> Result<(), (K, V)> {
        let h = hash_key(key.key_bytes());
        self.rehash_step();
        self.expand_if_needed();
        if self.find(h, key.key_bytes()).is_some() {
            return Err((key, val));
        }
        self.link_new(h, key, val);
        Ok(())
    }

    /// Returns the value for `k`, first inserting the pair built by `make` if `k` is absent
    /// (Redis's `dictAddOrFind`), hashing once. `make` must return a key whose bytes equal `k`.
    /// The flag is true when the entry was inserted.
    pub fn get_or_insert_with(
        &mut self,
        k: &[u8],
        make: impl FnOnce() -> (K, V),
    ) -> (&mut V, bool) {
        let h = hash_key(k);
        self.rehash_step();
        self.expand_if_needed();
        // Decide with a shared borrow first: returning a mutable borrow on one path and then
        // mutating on the other is beyond today's borrow checker.
        if self.find(h, k).is_none() {
            let (key, val) = make();
            debug_assert!(key.key_bytes() == k, "get_or_insert_with: key mismatch");
            return (&mut self.link_new(h, key, val).val, true);
        }
        let e = self
            .find_mut(h, k)
            .expect("dict: entry found by find() vanished before find_mut()");
        (&mut e.val, false)
    }

    /// Removes `k`, returning the stored pair (Redis's `dictUnlink`: the caller decides how and
    /// when to free it, e.g. lazily on another thread).
    #[inline]
    pub fn remove(&mut self, k: &[u8]) -> Option<(K, V)> {
        self.remove_with_hash(hash_key(k), k)
    }

    /// `remove` with `h == hash_key(k)` already computed.
    pub fn remove_with_hash(&mut self, h: u64, k: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let ridx = self.rehashidx;
        let [t0, t1] = &mut self.ht;
        let rehashing = !t1.buckets.is_empty();
        let idx = t0.index(h);
        if !rehashing || idx >= ridx {
            if let Some(slot) = t0.buckets.get_mut(idx) {
                if let Some(e) = chain_unlink(slot, k) {
                    t0.used -= 1;
                    let e = *e;
                    return Some((e.key, e.val));
                }
            }
        }
        if rehashing {
            let i1 = t1.index(h);
            if let Some(slot) = t1.buckets.get_mut(i1) {
                if let Some(e) = chain_unlink(slot, k) {
                    t1.used -= 1;
                    let e = *e;
                    return Some((e.key, e.val));
                }
            }
        }
        None
    }

    /// The masks for one SCAN step: `(table, mask)` of the smaller table and, while rehashing,
    /// of the larger one.
    fn scan_tables(&self) -> ((usize, u64), Option<(usize, u64)>) {
        let m = |t: usize| (self.ht[t].size() as u64).wrapping_sub(1);
        if !self.is_rehashing() {
            return ((0, m(0)), None);
        }
        let (small, large) = if self.ht[0].size() <= self.ht[1].size() {
            (0, 1)
        } else {
            (1, 0)
        };
        ((small, m(small)), Some((large, m(large))))
    }

    /// One step of a SCAN-style traversal (Redis's `dictScan`): calls `f` on every entry in the
    /// bucket(s) the cursor points at and returns the next cursor; start at 0, stop when 0 comes
    /// back. The cursor counts with its bits reversed, so an entry present from start to end is
    /// reported at least once even if the table grows, shrinks or rehashes between calls (some
    /// entries may be reported twice). During a rehash it visits the bucket in the smaller table
    /// and all its expansions in the larger. Any `u64` is a valid cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let (small, large) = self.scan_tables();
        scan_buckets(cursor, small, large, |t, i| {
            let mut cur = self.ht[t].buckets.get(i).and_then(|l| l.as_deref());
            while let Some(e) = cur {
                f(&e.key, &e.val);
                cur = e.next.as_deref();
            }
        })
    }

    /// `scan` with mutable access to the values (the dict's shape cannot change meanwhile;
    /// callers that want to delete collect keys and remove them afterwards).
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&K, &mut V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let (small, large) = self.scan_tables();
        let ht = &mut self.ht;
        scan_buckets(cursor, small, large, |t, i| {
            let mut cur = ht[t].buckets.get_mut(i).and_then(|l| l.as_deref_mut());
            while let Some(e) = cur {
                f(&e.key, &mut e.val);
                cur = e.next.as_deref_mut();
            }
        })
    }

    /// Does one rehash step per wanted sample, at most `count` (Redis does rehash work
    /// proportional to the sample before `dictGetSomeKeys`).
    fn rehash_for_sample(&mut self, count: usize) {
        for _ in 0..count {
            if !self.is_rehashing() {
                break;
            }
            self.rehash(1);
        }
    }

    /// Redis's `dictGetSomeKeys` on a settled dict: walks from a random bucket across both
    /// tables, reporting whole chains, and jumps elsewhere after a run of empty buckets. Reports
    /// at most `count` entries (possibly fewer, possibly with repeats) in at most `10 * count`
    /// bucket steps.
    fn sample_entries<'a>(&'a self, count: usize, mut f: impl FnMut(&'a Entry<K, V>)) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        let rehashing = self.is_rehashing();
        let tables = if rehashing { 2 } else { 1 };
        let s0 = self.ht[0].size();
        let s1 = self.ht[1].size();
        let maxsizemask = s0.max(s1).wrapping_sub(1);
        let mut maxsteps = count.saturating_mul(10);
        let mut i = random_u64() as usize & maxsizemask;
        let mut emptylen = 0usize;
        let mut stored = 0usize;
        while stored < count && maxsteps > 0 {
            maxsteps -= 1;
            for j in 0..tables {
                if tables == 2 && j == 0 && i < self.rehashidx {
                    // Buckets of ht[0] below rehashidx are empty. If the cursor is also past the
                    // end of ht[1] (shrinking), nothing lies before rehashidx at all: jump there.
                    if i >= s1 {
                        i = self.rehashidx;
                    } else {
                        continue;
                    }
                }
                let Some(slot) = self.ht[j].buckets.get(i) else {
                    continue;
                };
                match slot.as_deref() {
                    None => {
                        emptylen += 1;
                        if emptylen >= 5 && emptylen > count {
                            i = random_u64() as usize & maxsizemask;
                            emptylen = 0;
                        }
                    }
                    Some(head) => {
                        emptylen = 0;
                        let mut cur = Some(head);
                        while let Some(e) = cur {
                            f(e);
                            stored += 1;
                            if stored == count {
                                return stored;
                            }
                            cur = e.next.as_deref();
                        }
                    }
                }
            }
            i = (i + 1) & maxsizemask;
        }
        stored
    }

    /// Calls `f` on up to `count` entries sampled from random positions (Redis's
    /// `dictGetSomeKeys`), for eviction and active-expiry sampling: cheap and bounded (at most
    /// `10 * count` bucket visits, plus one rehash step per sample), but neither uniform nor
    /// guaranteed to find `count` distinct entries. Returns the number of calls made.
    pub fn sample(&mut self, count: usize, mut f: impl FnMut(&K, &V)) -> usize {
        let count = count.min(self.len());
        self.rehash_for_sample(count);
        self.sample_entries(count, |e| f(&e.key, &e.val))
    }

    /// A random entry (Redis's `dictGetFairRandomKey`): picks among a small sample taken from a
    /// random stretch of buckets, which evens out the bias toward short chains; falls back to
    /// a random bucket pick when the sample comes back empty. `None` only when empty.
    pub fn random_entry(&mut self) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_for_sample(GETFAIR_NUM_ENTRIES.min(self.len()));
        let this: &Self = self;
        let mut picked: [Option<&Entry<K, V>>; GETFAIR_NUM_ENTRIES] = [None; GETFAIR_NUM_ENTRIES];
        let mut n = 0;
        this.sample_entries(GETFAIR_NUM_ENTRIES, |e| {
            if let Some(slot) = picked.get_mut(n) {
                *slot = Some(e);
                n += 1;
            }
        });
        let e = if n > 0 {
            picked[random_below(n)]
        } else {
            this.random_bucket_entry()
        };
        e.map(|e| (&e.key, &e.val))
    }

    /// Redis's `dictGetRandomKey` (without its rehash step): a random non-empty bucket, then a
    /// random entry of its chain. Random probing is bounded; if it keeps missing (a very sparse
    /// table), a linear walk from a random bucket finds the next entry instead.
    fn random_bucket_entry(&self) -> Option<&Entry<K, V>> {
        if self.is_empty() {
            return None;
        }
        let s0 = self.ht[0].size();
        let rehashing = self.is_rehashing();
        // Candidate buckets: [rehashidx, s0) of ht[0] followed by all of ht[1] while rehashing.
        let base = if rehashing { self.rehashidx.min(s0) } else { 0 };
        let span = self.buckets() - base;
        if span == 0 {
            return None;
        }
        let bucket_at = |pos: usize| -> Option<&Entry<K, V>> {
            let h = base + pos;
            let slot = if h < s0 {
                self.ht[0].buckets.get(h)
            } else {
                self.ht[1].buckets.get(h - s0)
            };
            slot.and_then(|l| l.as_deref())
        };
        let mut head = None;
        for _ in 0..1000 {
            head = bucket_at(random_below(span));
            if head.is_some() {
                break;
            }
        }
        if head.is_none() {
            let start = random_below(span);
            head = (0..span).find_map(|off| bucket_at((start + off) % span));
        }
        let head = head?;
        let mut len = 0usize;
        let mut cur = Some(head);
        while let Some(e) = cur {
            len += 1;
            cur = e.next.as_deref();
        }
        let mut e = head;
        for _ in 0..random_below(len) {
            e = e.next.as_deref()?;
        }
        Some(e)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The buckets of both tables in order.
type Slots<'a, K, V> =
    std::iter::Chain<std::slice::Iter<'a, Link<K, V>>, std::slice::Iter<'a, Link<K, V>>>;

/// The buckets of both tables in order, mutably.
type SlotsMut<'a, K, V> =
    std::iter::Chain<std::slice::IterMut<'a, Link<K, V>>, std::slice::IterMut<'a, Link<K, V>>>;

/// Iterator over `(&K, &V)`, from `Dict::iter`.
pub struct Iter<'a, K, V> {
    slots: Slots<'a, K, V>,
    entry: Option<&'a Entry<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.entry {
                self.entry = e.next.as_deref();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&e.key, &e.val));
            }
            if self.remaining == 0 {
                // Every entry has been seen; skip the trailing empty buckets.
                return None;
            }
            self.entry = self.slots.next()?.as_deref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// Iterator over `(&K, &mut V)`, from `Dict::iter_mut`.
pub struct IterMut<'a, K, V> {
    slots: SlotsMut<'a, K, V>,
    entry: Option<&'a mut Entry<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.entry.take() {
                let Entry { key, val, next } = e;
                self.entry = next.as_deref_mut();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&*key, val));
            }
            if self.remaining == 0 {
                return None;
            }
            self.entry = self.slots.next()?.as_deref_mut();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut Dict<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ds::siphash::siphash;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    const TEST_SEED_BYTES: [u8; 16] = *b"ferrodis-dict-ts";

    /// Pins this test thread's seed and resize policy, so other tests (here or elsewhere in the
    /// crate) changing the process-wide settings cannot interfere.
    fn setup() {
        TEST_SEED.with(|c| c.set(Some(split_key(&TEST_SEED_BYTES))));
        TEST_RESIZE.with(|c| c.set(Some(true)));
    }

    fn allow_resize(v: bool) {
        TEST_RESIZE.with(|c| c.set(Some(v)));
    }

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    impl<K: DictKey, V> Dict<K, V> {
        /// Checks every structural invariant; panics with a description on violation.
        fn check(&self) {
            let rehashing = self.is_rehashing();
            let mut seen = HashSet::new();
            for (ti, t) in self.ht.iter().enumerate() {
                assert!(
                    t.size() == 0 || t.size().is_power_of_two(),
                    "table {ti} size"
                );
                assert!(t.size() == 0 || t.size() >= DICT_HT_INITIAL_SIZE);
                let mut count = 0;
                for (bi, slot) in t.buckets.iter().enumerate() {
                    if ti == 0 && rehashing && bi < self.rehashidx {
                        assert!(
                            slot.is_none(),
                            "ht[0] bucket {bi} below rehashidx not empty"
                        );
                    }
                    let mut cur = slot.as_deref();
                    while let Some(e) = cur {
                        count += 1;
                        let kb = e.key.key_bytes();
                        assert_eq!(t.index(hash_key(kb)), bi, "entry in wrong bucket");
                        assert!(seen.insert(kb.to_vec()), "duplicate key");
                        cur = e.next.as_deref();
                    }
                }
                assert_eq!(count, t.used, "table {ti} used count");
            }
            if rehashing {
                assert!(self.ht[0].size() > 0);
                assert_ne!(self.ht[0].size(), self.ht[1].size());
                assert!(self.rehashidx <= self.ht[0].size());
            } else {
                assert_eq!(self.ht[1].used, 0);
                if !self.is_empty() {
                    assert!(self.ht[0].size() > 0);
                }
            }
        }

        fn finish_rehash(&mut self) {
            while self.rehash(1000) {}
        }
    }

    /// A key whose identity is separate from its bytes, to see which key object is kept.
    #[derive(Debug)]
    struct TaggedKey(Vec<u8>, u32);

    impl DictKey for TaggedKey {
        fn key_bytes(&self) -> &[u8] {
            &self.0
        }
    }

    #[test]
    fn hash_key_is_keyed_siphash_of_the_seed() {
        setup();
        assert_eq!(hash_key(b"foo"), siphash(b"foo", &TEST_SEED_BYTES));
        TEST_SEED.with(|c| c.set(Some((0, 0))));
        assert_eq!(hash_key(b"hello"), 0x6183_a773_2184_fb53);
        setup();
    }

    #[test]
    fn empty_dict_allocates_nothing() {
        setup();
        let mut d: Dict<Vec<u8>, u32> = Dict::new();
        assert_eq!(d.buckets(), 0);
        assert!(d.is_empty());
        assert_eq!(d.get(b"a"), None);
        assert_eq!(d.peek(b"a"), None);
        assert!(d.remove(b"a").is_none());
        assert!(!d.contains_key(b"a"));
        assert_eq!(d.scan(0, |_, _| panic!("no entries")), 0);
        assert_eq!(d.scan(u64::MAX, |_, _| panic!("no entries")), 0);
        assert!(d.random_entry().is_none());
        assert_eq!(d.sample(10, |_, _| panic!("no entries")), 0);
        assert_eq!(d.iter().count(), 0);
        assert!(!d.resize_if_needed());
        assert_eq!(d.rehash_for(1000), 0);
        assert_eq!(d.mem_usage(), 0);
        assert_eq!(d.buckets(), 0);
    }

    #[test]
    fn first_insert_allocates_initial_size() {
        setup();
        let mut d = Dict::new();
        assert_eq!(d.insert(key(1), 1), None);
        assert_eq!(d.buckets(), DICT_HT_INITIAL_SIZE);
        assert_eq!(d.get(&key(1)), Some(&1));
        d.check();
    }

    #[test]
    fn grows_at_load_factor_one_and_rehashes_incrementally() {
        setup();
        let mut d = Dict::new();
        for i in 0..4 {
            d.insert(key(i), i);
        }
        assert_eq!(d.buckets(), 4);
        assert!(!d.is_rehashing());
        d.insert(key(4), 4);
        assert!(d.is_rehashing());
        assert_eq!(d.buckets(), 4 + 8);
        assert_eq!(d.ht[1].used, 1, "new key goes to the new table");
        d.check();
        // Each access moves buckets until done.
        let mut accesses = 0;
        while d.is_rehashing() {
            assert_eq!(d.get(&key(0)), Some(&0));
            d.check();
            accesses += 1;
            assert!(accesses <= 4);
        }
        assert_eq!(d.buckets(), 8);
        for i in 0..5 {
            assert_eq!(d.peek(&key(i)), Some(&i));
        }
    }

    #[test]
    fn peek_does_not_rehash() {
        setup();
        let mut d = Dict::new();
        for i in 0..5 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        let idx = d.rehashidx;
        let used0 = d.ht[0].used;
        for i in 0..5 {
            assert_eq!(d.peek(&key(i)), Some(&i));
            assert_eq!(
                d.peek_key_value(&key(i)).map(|(k, _)| k.clone()),
                Some(key(i))
            );
        }
        assert_eq!((d.rehashidx, d.ht[0].used), (idx, used0));
    }

    #[test]
    fn forbidden_resize_grows_only_past_ratio_five() {
        setup();
        allow_resize(false);
        let mut d = Dict::new();
        // Size 4 grows once used/size > 5, i.e. when inserting with 24 entries present.
        for i in 0..24 {
            d.insert(key(i), i);
            assert_eq!(d.buckets(), 4, "after {} entries", i + 1);
            d.check();
        }
        d.insert(key(24), 24);
        assert!(d.is_rehashing());
        assert_eq!(d.ht[1].size(), 32);
        // Rehashing already in progress continues while resizing is forbidden.
        d.finish_rehash();
        assert_eq!(d.buckets(), 32);
        // No shrinking while forbidden.
        for i in 0..24 {
            d.remove(&key(i));
        }
        assert!(!d.resize_if_needed());
        allow_resize(true);
        assert!(d.resize_if_needed());
        d.finish_rehash();
        assert_eq!(d.buckets(), 4);
        assert_eq!(d.peek(&key(24)), Some(&24));
        d.check();
    }

    #[test]
    fn shrinks_below_ten_percent_fill() {
        setup();
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(key(i), i);
        }
        d.finish_rehash();
        assert_eq!(d.buckets(), 128);
        for i in 0..87 {
            d.remove(&key(i));
        }
        // 13 of 128 is 10%: no shrink.
        assert!(!d.resize_if_needed());
        d.remove(&key(87));
        // 12 of 128 is 9%: shrink to the next power of two >= 12.
        assert!(d.resize_if_needed());
        assert!(d.is_rehashing());
        assert_eq!(d.ht[1].size(), 16);
        assert!(!d.resize_if_needed(), "not while rehashing");
        d.check();
        d.finish_rehash();
        assert_eq!(d.buckets(), 16);
        for i in 88..100 {
            assert_eq!(d.peek(&key(i)), Some(&i));
        }
        d.check();
        // Empty but allocated: shrinks straight to 4 without a rehash.
        let mut d: Dict<Vec<u8>, u32> = Dict::with_capacity(1000);
        assert_eq!(d.buckets(), 1024);
        assert!(d.resize_if_needed());
        assert!(!d.is_rehashing());
        assert_eq!(d.buckets(), 4);
        assert!(!d.resize_if_needed(), "size 4 never shrinks");
    }

    #[test]
    fn rehash_step_visits_at_most_ten_empty_buckets() {
        setup();
        let mut d = Dict::with_capacity(1 << 12);
        for i in 0..3 {
            d.insert(key(i), i);
        }
        assert!(d.expand(4));
        assert!(d.is_rehashing());
        let mut steps = 0;
        while d.is_rehashing() {
            let (before_idx, before_used) = (d.rehashidx, d.ht[0].used);
            let more = d.rehash(1);
            steps += 1;
            if more {
                let moved = before_used - d.ht[0].used;
                // Either a bucket was moved (after at most 10 empty ones) or exactly 10 empty
                // buckets were skipped.
                assert!(d.rehashidx - before_idx <= 11);
                assert!(moved > 0 || d.rehashidx - before_idx == 10);
            }
            d.check();
        }
        assert!(steps > 3, "sparse table needs many bounded steps");
        assert_eq!(d.buckets(), 4);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn rehash_for_finishes_a_big_rehash() {
        setup();
        let mut d = Dict::new();
        for i in 0..5000 {
            d.insert(key(i), i);
        }
        d.finish_rehash();
        assert!(d.expand(100_000));
        assert!(d.is_rehashing());
        let steps = d.rehash_for(10_000_000);
        assert!(!d.is_rehashing());
        assert!(steps > 0 && steps % 100 == 0);
        assert_eq!(d.buckets(), 131_072);
        for i in 0..5000 {
            assert_eq!(d.peek(&key(i)), Some(&i));
        }
        // A zero budget still does one batch.
        assert!(d.expand(5000));
        assert_eq!(d.rehash_for(0), 100);
        d.check();
    }

    #[test]
    fn expand_rules() {
        setup();
        let mut d = Dict::new();
        for i in 0..10 {
            d.insert(key(i), i);
        }
        d.finish_rehash();
        assert!(!d.expand(9), "smaller than the element count");
        assert!(!d.expand(16), "same size");
        assert!(!d.expand(usize::MAX), "overflow");
        assert!(!d.expand(usize::MAX / 4), "too large to allocate");
        assert!(d.expand(17));
        assert!(!d.expand(100), "already rehashing");
        d.finish_rehash();
        assert_eq!(d.buckets(), 32);
        d.check();
    }

    #[test]
    fn insert_replaces_value_and_keeps_old_key() {
        setup();
        let mut d = Dict::new();
        assert_eq!(d.insert(TaggedKey(b"a".to_vec(), 1), "v1"), None);
        assert_eq!(d.insert(TaggedKey(b"a".to_vec(), 2), "v2"), Some("v1"));
        assert_eq!(d.len(), 1);
        let (k, v) = d.get_key_value(b"a").unwrap();
        assert_eq!((k.1, *v), (1, "v2"));
        match d.add(TaggedKey(b"a".to_vec(), 3), "v3") {
            Err((k, v)) => assert_eq!((k.1, v), (3, "v3")),
            Ok(()) => panic!("add must fail on an existing key"),
        }
        assert!(d.add(TaggedKey(b"b".to_vec(), 4), "v4").is_ok());
        if let Some((k, v)) = d.get_key_value_mut(b"b") {
            assert_eq!(k.1, 4);
            *v = "v5";
        }
        assert_eq!(d.get(b"b"), Some(&"v5"));
        *d.get_mut(b"b").unwrap() = "v6";
        assert_eq!(d.peek(b"b"), Some(&"v6"));
        let (k, v) = d.remove(b"a").unwrap();
        assert_eq!((k.1, v), (1, "v2"));
        assert!(d.remove(b"a").is_none());
    }

    #[test]
    fn get_or_insert_with_inserts_once() {
        setup();
        let mut d: Dict<Vec<u8>, u32> = Dict::new();
        for round in 0..3 {
            for i in 0..50 {
                let (v, inserted) = d.get_or_insert_with(&key(i), || (key(i), 0));
                assert_eq!(inserted, round == 0);
                *v += 1;
            }
        }
        assert_eq!(d.len(), 50);
        assert!(d.iter().all(|(_, v)| *v == 3));
        d.check();
    }

    #[test]
    fn with_hash_variants_match() {
        setup();
        let mut d = Dict::new();
        let k = key(7);
        let h = hash_key(&k);
        assert_eq!(d.insert_with_hash(h, k.clone(), 1), None);
        assert_eq!(d.get_with_hash(h, &k), Some(&1));
        *d.get_mut_with_hash(h, &k).unwrap() = 2;
        assert_eq!(d.peek_with_hash(h, &k), Some(&2));
        assert_eq!(d.remove_with_hash(h, &k), Some((k, 2)));
    }

    #[test]
    fn remove_works_in_both_tables_during_rehash() {
        setup();
        let mut d = Dict::new();
        for i in 0..64 {
            d.insert(key(i), i);
        }
        d.finish_rehash();
        for i in 64..65 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        for i in (0..65).rev() {
            assert_eq!(d.remove(&key(i)), Some((key(i), i)));
            d.check();
        }
        assert!(d.is_empty());
    }

    #[test]
    fn iterators_cover_both_tables() {
        setup();
        let mut d = Dict::new();
        for i in 0..33 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        let it = d.iter();
        assert_eq!(it.len(), 33);
        let got: HashMap<Vec<u8>, usize> = it.map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got.len(), 33);
        for (_, v) in d.iter_mut() {
            *v += 100;
        }
        for (k, v) in &d {
            assert_eq!(got[k] + 100, *v);
        }
        for (_, v) in &mut d {
            *v -= 100;
        }
        assert_eq!(d.iter_mut().len(), 33);
        assert_eq!(format!("{:?}", Dict::<Vec<u8>, u8>::new()), "{}");
    }

    #[test]
    fn retain_removes_matching_entries() {
        setup();
        let mut d = Dict::new();
        for i in 0..100 {
            d.insert(key(i), i);
        }
        assert!(d.is_rehashing());
        d.retain(|_, v| {
            *v += 1;
            *v % 2 == 0
        });
        assert_eq!(d.len(), 50);
        d.check();
        for i in 0..100 {
            assert_eq!(d.peek(&key(i)).copied(), (i % 2 == 1).then_some(i + 1));
        }
    }

    #[test]
    fn scan_cursor_is_reverse_binary() {
        setup();
        let mut d = Dict::new();
        for i in 0..9 {
            d.insert(key(i), i);
        }
        d.finish_rehash();
        assert_eq!(d.buckets(), 16);
        let mut seq = vec![];
        let mut c = 0;
        loop {
            c = d.scan(c, |_, _| {});
            seq.push(c);
            if c == 0 {
                break;
            }
        }
        assert_eq!(seq, [8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15, 0]);
        // Huge cursors are just masked.
        assert_eq!(d.scan(u64::MAX, |_, _| {}), 0);
    }

    #[test]
    fn scan_returns_each_entry_once_on_a_stable_table() {
        setup();
        for rehashing in [false, true] {
            let mut d = Dict::new();
            for i in 0..300 {
                d.insert(key(i), i);
            }
            if rehashing {
                d.finish_rehash();
                assert!(d.expand(2000));
                d.rehash(50);
                assert!(d.is_rehashing());
            }
            let mut count: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut c = 0;
            loop {
                c = d.scan(c, |k, _| *count.entry(k.clone()).or_default() += 1);
                if c == 0 {
                    break;
                }
            }
            assert_eq!(count.len(), 300);
            assert!(count.values().all(|&n| n == 1));
            // scan_mut sees the same entries.
            let mut c = 0;
            loop {
                c = d.scan_mut(c, |_, v| *v += 1);
                if c == 0 {
                    break;
                }
            }
            assert!((0..300).all(|i| d.peek(&key(i)) == Some(&(i + 1))));
        }
    }

    #[test]
    fn sample_is_bounded_and_returns_live_entries() {
        setup();
        let mut d = Dict::new();
        assert_eq!(d.sample(5, |_, _| {}), 0);
        for i in 0..1000 {
            d.insert(key(i), i);
        }
        for count in [0, 1, 5, 16, 64] {
            let mut n = 0;
            let got = d.sample(count, |k, v| {
                n += 1;
                assert_eq!(k, &key(*v));
            });
            assert_eq!(got, n);
            assert!(n <= count);
            if count > 0 {
                assert!(n > 0, "a dense table yields samples");
            }
        }
        let mut small = Dict::new();
        small.insert(key(1), 1);
        small.insert(key(2), 2);
        let mut seen = vec![];
        let n = small.sample(10, |k, _| seen.push(k.clone()));
        assert!(n <= 2);
        // While rehashing, samples come from both tables.
        let mut d2 = Dict::new();
        for i in 0..1025 {
            d2.insert(key(i), i);
        }
        assert!(d2.is_rehashing());
        for _ in 0..100 {
            d2.sample(5, |k, v| assert_eq!(k, &key(*v)));
            d2.check();
        }
    }

    #[test]
    fn random_entry_is_spread_and_handles_sparse_tables() {
        setup();
        let mut d = Dict::new();
        for i in 0..50 {
            d.insert(key(i), i);
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let (k, v) = d.random_entry().unwrap();
            assert_eq!(k, &key(*v));
            seen.insert(*v);
        }
        assert!(seen.len() >= 45, "only {} distinct", seen.len());
        // One entry in 65536 buckets: sampling misses, the fallback must still find it.
        let mut sparse = Dict::with_capacity(1 << 16);
        sparse.insert(key(9), 9);
        for _ in 0..20 {
            assert_eq!(sparse.random_entry().map(|(_, v)| *v), Some(9));
        }
        // And during a rehash.
        let mut r = Dict::new();
        for i in 0..17 {
            r.insert(key(i), i);
        }
        assert!(r.is_rehashing());
        assert!(r.random_entry().is_some());
    }

    #[test]
    fn stats_match_redis_format() {
        setup();
        let mut d: Dict<Vec<u8>, ()> = Dict::new();
        assert_eq!(
            d.stats(),
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        );
        d.insert(b"k1".to_vec(), ());
        assert_eq!(
            d.stats(),
            "Hash table 0 stats (main hash table):\n table size: 4\n number of elements: 1\n \
             different slots: 1\n max chain length: 1\n avg chain length (counted): 1.00\n \
             avg chain length (computed): 1.00\n Chain length distribution:\n   0: 3 (75.00%)\n   \
             1: 1 (25.00%)\n"
        );
        for i in 0..4 {
            d.insert(key(i), ());
        }
        assert!(d.is_rehashing());
        let s = d.stats();
        assert!(s.contains("Hash table 1 stats (rehashing target):\n table size: 8\n"));
        // Single-precision percentages round half to even like printf: 1/32 = 3.125%.
        let pct = (1.0f32 / 32.0) * 100.0;
        assert_eq!(format!("{:.2}", f64::from(pct)), "3.12");
    }

    #[test]
    fn mem_usage_counts_buckets_and_entries() {
        setup();
        let mut d: Dict<Vec<u8>, u64> = Dict::new();
        d.insert(key(1), 1);
        assert_eq!(
            d.mem_usage(),
            4 * mem::size_of::<usize>() + mem::size_of::<Entry<Vec<u8>, u64>>()
        );
        d.clear();
        assert_eq!((d.len(), d.buckets(), d.mem_usage()), (0, 0, 0));
    }

    #[test]
    fn other_key_types() {
        setup();
        let mut d: Dict<Box<[u8]>, u8> = Dict::new();
        d.insert(b"x".to_vec().into_boxed_slice(), 1);
        assert_eq!(d.get(b"x"), Some(&1));
        let mut s: Dict<crate::ds::sds::Sds, u8> = Dict::new();
        s.insert(crate::ds::sds::Sds::from_slice(b"key"), 2);
        s.insert(crate::ds::sds::Sds::from_slice(&[b'z'; 100]), 3);
        assert_eq!(s.get(b"key"), Some(&2));
        assert_eq!(s.get(&[b'z'; 100]), Some(&3));
    }

    #[test]
    fn dropping_a_very_long_chain_does_not_recurse() {
        setup();
        let mut d: Dict<Vec<u8>, u64> = Dict::new();
        d.insert(key(0), 0);
        // Build a 300k-entry chain by hand (impossible through the API with a keyed hash).
        let mut chain: Link<Vec<u8>, u64> = None;
        for i in 0..300_000u64 {
            chain = Some(Box::new(Entry {
                key: Vec::new(),
                val: i,
                next: chain,
            }));
        }
        d.ht[0].buckets[1] = chain;
        d.ht[0].used += 300_000;
        drop(d);
    }

    // --------------------------------------------------------------------------------------
    // Model-based property tests.

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Add(u8, u32),
        Remove(u8),
        Get(u8),
        GetMut(u8, u32),
        Peek(u8),
        Contains(u8),
        GetOrInsert(u8, u32),
        InsertMany(u8, u8),
        RemoveMany(u8, u8),
        Clear,
        ResizeIfNeeded,
        RehashFor,
        Rehash(u8),
        Expand(u16),
        SetResize(bool),
        Sample(u8),
        Random,
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Add(k, v)),
            5 => any::<u8>().prop_map(Op::Remove),
            3 => any::<u8>().prop_map(Op::Get),
            1 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            1 => any::<u8>().prop_map(Op::Peek),
            1 => any::<u8>().prop_map(Op::Contains),
            1 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            2 => (any::<u8>(), any::<u8>()).prop_map(|(a, n)| Op::InsertMany(a, n)),
            2 => (any::<u8>(), any::<u8>()).prop_map(|(a, n)| Op::RemoveMany(a, n)),
            1 => Just(Op::Clear),
            3 => Just(Op::ResizeIfNeeded),
            1 => Just(Op::RehashFor),
            1 => any::<u8>().prop_map(Op::Rehash),
            1 => (0u16..600).prop_map(Op::Expand),
            2 => any::<bool>().prop_map(Op::SetResize),
            1 => any::<u8>().prop_map(Op::Sample),
            1 => Just(Op::Random),
            1 => any::<u8>().prop_map(Op::Retain),
        ]
    }

    fn mkey(k: u8) -> Vec<u8> {
        // Mixed lengths, including empty-ish short keys and ones longer than a SipHash word.
        match k % 3 {
            0 => vec![k],
            1 => format!("k{k}").into_bytes(),
            _ => format!("a-longer-key-{k:03}-padding").into_bytes(),
        }
    }

    proptest! {
        // No failure persistence: it would write regression files into the source tree.
        #![proptest_config(ProptestConfig {
            cases: 192,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn behaves_like_a_hashmap(ops in proptest::collection::vec(op(), 1..300)) {
            setup();
            let mut d: Dict<Vec<u8>, u32> = Dict::new();
            let mut m: HashMap<Vec<u8>, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(d.insert(mkey(k), v), m.insert(mkey(k), v));
                    }
                    Op::Add(k, v) => {
                        let r = d.add(mkey(k), v);
                        if let std::collections::hash_map::Entry::Vacant(e) = m.entry(mkey(k)) {
                            prop_assert!(r.is_ok());
                            e.insert(v);
                        } else {
                            prop_assert_eq!(r, Err((mkey(k), v)));
                        }
                    }
                    Op::Remove(k) => {
                        let want = m.remove(&mkey(k)).map(|v| (mkey(k), v));
                        prop_assert_eq!(d.remove(&mkey(k)), want);
                    }
                    Op::Get(k) => prop_assert_eq!(d.get(&mkey(k)), m.get(&mkey(k))),
                    Op::GetMut(k, v) => {
                        let a = d.get_mut(&mkey(k)).map(|x| { *x = v; });
                        let b = m.get_mut(&mkey(k)).map(|x| { *x = v; });
                        prop_assert_eq!(a, b);
                    }
                    Op::Peek(k) => prop_assert_eq!(d.peek(&mkey(k)), m.get(&mkey(k))),
                    Op::Contains(k) => {
                        prop_assert_eq!(d.contains_key(&mkey(k)), m.contains_key(&mkey(k)));
                    }
                    Op::GetOrInsert(k, v) => {
                        let (got, inserted) = d.get_or_insert_with(&mkey(k), || (mkey(k), v));
                        let was_absent = !m.contains_key(&mkey(k));
                        let want = *m.entry(mkey(k)).or_insert(v);
                        prop_assert_eq!((*got, inserted), (want, was_absent));
                    }
                    Op::InsertMany(a, n) => {
                        for i in 0..n {
                            let k = a.wrapping_add(i);
                            prop_assert_eq!(d.insert(mkey(k), u32::from(i)), m.insert(mkey(k), u32::from(i)));
                        }
                    }
                    Op::RemoveMany(a, n) => {
                        for i in 0..n {
                            let k = a.wrapping_add(i);
                            prop_assert_eq!(d.remove(&mkey(k)).map(|p| p.1), m.remove(&mkey(k)));
                        }
                    }
                    Op::Clear => {
                        d.clear();
                        m.clear();
                    }
                    Op::ResizeIfNeeded => {
                        let size = d.buckets();
                        if d.resize_if_needed() {
                            // Shrinking: either straight away (empty) or into a smaller ht[1].
                            let shrunk = if d.is_rehashing() {
                                d.ht[1].size() < d.ht[0].size()
                            } else {
                                d.buckets() < size
                            };
                            prop_assert!(shrunk);
                        }
                    }
                    Op::RehashFor => { d.rehash_for(0); }
                    Op::Rehash(n) => { d.rehash(usize::from(n % 8)); }
                    Op::Expand(n) => { d.expand(usize::from(n)); }
                    Op::SetResize(b) => allow_resize(b),
                    Op::Sample(n) => {
                        let mut got = 0;
                        let r = d.sample(usize::from(n % 20), |k, v| {
                            got += 1;
                            assert_eq!(m.get(k), Some(v));
                        });
                        prop_assert_eq!(r, got);
                        prop_assert!(got <= usize::from(n % 20));
                    }
                    Op::Random => {
                        let r = d.random_entry().map(|(k, v)| (k.clone(), *v));
                        match r {
                            None => prop_assert!(m.is_empty()),
                            Some((k, v)) => prop_assert_eq!(m.get(&k), Some(&v)),
                        }
                    }
                    Op::Retain(x) => {
                        d.retain(|k, _| k.len() % 3 != usize::from(x % 3));
                        m.retain(|k, _| k.len() % 3 != usize::from(x % 3));
                    }
                }
                d.check();
                prop_assert_eq!(d.len(), m.len());
                let got: HashMap<Vec<u8>, u32> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
                prop_assert_eq!(&got, &m);
            }
        }

        #[test]
        fn scan_reports_every_stable_key(
            nstable in 0usize..100,
            nother in 0usize..300,
            forbid in any::<bool>(),
            between in proptest::collection::vec(scan_op(), 0..400),
        ) {
            setup();
            allow_resize(!forbid);
            let mut d: Dict<Vec<u8>, u32> = Dict::new();
            let stable: Vec<Vec<u8>> = (0..nstable).map(|i| format!("s{i}").into_bytes()).collect();
            for k in &stable {
                d.insert(k.clone(), 1);
            }
            let mut next_other = 0usize;
            let mut others: Vec<Vec<u8>> = Vec::new();
            for _ in 0..nother {
                let k = format!("o{next_other}").into_bytes();
                next_other += 1;
                d.insert(k.clone(), 0);
                others.push(k);
            }
            let mut seen = HashSet::new();
            let mut cursor = 0u64;
            let mut calls = 0usize;
            let mut ops = between.into_iter();
            loop {
                cursor = d.scan(cursor, |k, _| { seen.insert(k.clone()); });
                calls += 1;
                prop_assert!(calls < 1_000_000, "scan does not terminate");
                if cursor == 0 {
                    break;
                }
                match ops.next() {
                    None => {}
                    Some(ScanOp::InsertOthers(n)) => {
                        for _ in 0..n {
                            let k = format!("o{next_other}").into_bytes();
                            next_other += 1;
                            d.insert(k.clone(), 0);
                            others.push(k);
                        }
                    }
                    Some(ScanOp::RemoveOthers(n)) => {
                        for _ in 0..n {
                            match others.pop() {
                                Some(k) => { d.remove(&k); }
                                None => break,
                            }
                        }
                    }
                    Some(ScanOp::ResizeIfNeeded) => { d.resize_if_needed(); }
                    Some(ScanOp::Rehash(n)) => { d.rehash(usize::from(n)); }
                    Some(ScanOp::Expand(n)) => { d.expand(usize::from(n)); }
                    Some(ScanOp::Touch) => { d.get(b"s0"); }
                    Some(ScanOp::SetResize(b)) => allow_resize(b),
                }
            }
            for k in &stable {
                prop_assert!(seen.contains(k), "missed {:?}", String::from_utf8_lossy(k));
            }
            d.check();
        }
    }

    #[derive(Debug, Clone)]
    enum ScanOp {
        InsertOthers(u8),
        RemoveOthers(u8),
        ResizeIfNeeded,
        Rehash(u8),
        Expand(u16),
        Touch,
        SetResize(bool),
    }

    fn scan_op() -> impl Strategy<Value = ScanOp> {
        prop_oneof![
            3 => (0u8..64).prop_map(ScanOp::InsertOthers),
            3 => any::<u8>().prop_map(ScanOp::RemoveOthers),
            3 => Just(ScanOp::ResizeIfNeeded),
            1 => (0u8..8).prop_map(ScanOp::Rehash),
            1 => (0u16..2048).prop_map(ScanOp::Expand),
            2 => Just(ScanOp::Touch),
            1 => any::<bool>().prop_map(ScanOp::SetResize),
        ]
    }
}
