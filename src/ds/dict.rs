//! The dictionary: a chained hash table with incremental rehashing, modelled
//! on Redis's `dict.c`. It backs the keyspace, the expires table and every
//! large hash/set/zset, so lookups are on the hot path of almost every command.
//!
//! Memory layout:
//!
//! ```text
//!  Dict
//!  +--------------------+
//!  | ht[0].slots  ------+--> [ s0 | s1 | s2 | s3 | ... ]    size = 2^n buckets
//!  | ht[0].used         |       |         |                (Option<Box<Entry>>,
//!  | ht[1].slots  --+   |       v         v                 one pointer each)
//!  | ht[1].used     |   |    +-------+  +-------+
//!  | rehashidx      |   |    | key   |  | key   |   Entry = key, value, next;
//!  +----------------+---+    | value |  | value |   a new entry is pushed at the
//!                   |        | next -+->| next -+-> None   head of its chain
//!                   |        +-------+  +-------+
//!                   v
//!             [ empty ]  unless rehashing: then the target table, 2^m buckets
//! ```
//!
//! A key lives in bucket `hash & (size - 1)` of its table. Growing or
//! shrinking never moves every entry at once (that would stall the single
//! server thread for a big keyspace). Instead `ht[1]` is allocated at the new
//! size and `rehashidx` walks `ht[0]` bucket by bucket: every `&mut self`
//! lookup/insert/remove first moves one bucket, and the server cron spends
//! ~1 ms per tick in [`Dict::rehash_for`]. While rehashing, lookups probe both
//! tables, inserts go to `ht[1]` only, and buckets of `ht[0]` below
//! `rehashidx` are empty. When `ht[0]` is drained, `ht[1]` becomes `ht[0]`.
//!
//! An insert first grows the table once its load factor (entries per
//! bucket) reaches 1, to the power of two above the entry count. Two things
//! hold growth back: while a fork child lives ([`set_resize_allowed`]) until
//! the load factor passes [`DICT_FORCE_RESIZE_RATIO`], and the caller of a
//! `*_guarded` insert (the keyspace, under maxmemory) may refuse the memory of
//! the new bucket array until it passes [`DICT_MAX_LOAD_FACTOR`]. Shrinking
//! is left to the server cron ([`Dict::resize_if_needed`]).
//!
//! A Redis "safe iterator" pauses rehashing while it runs. Here the borrow
//! checker gives the same guarantee for free: [`Dict::iter`], [`Dict::scan`]
//! and [`Dict::peek`] take `&self` and so can never move a bucket.
//!
//! The only `unsafe` is in allocating and freeing bucket arrays (see
//! `Table::alloc` and `Table::drop`): a zeroed allocation, and skipping the
//! per-bucket drop of an array known to be empty, keep multi-millisecond
//! stalls out of table growth and rehash completion on big keyspaces.

use std::alloc::{alloc_zeroed, Layout};
use std::cell::Cell;
use std::fmt;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::siphash::{siphash_words, split_key};

/// Size of a table on first use and the floor when shrinking (Redis's
/// `DICT_HT_INITIAL_SIZE`): tiny dicts are common and 4 buckets cost 32 bytes.
pub const DICT_HT_INITIAL_SIZE: usize = 4;

/// Fill percentage under which the cron shrinks a table (Redis's
/// `HASHTABLE_MIN_FILL`): below 10% most buckets are wasted pointers, and
/// random sampling and iteration slow down walking them.
pub const HASHTABLE_MIN_FILL: usize = 10;

/// Elements per bucket above which a table grows even while resizing is
/// forbidden (Redis's `dict_force_resize_ratio`): past this point chains are
/// so long that lookups suffer more than copy-on-write memory does.
pub const DICT_FORCE_RESIZE_RATIO: usize = 5;

/// Load factor above which a table whose caller refused the memory for a
/// bigger one grows anyway (Redis's `HASHTABLE_MAX_LOAD_FACTOR`, applied by
/// `dictExpandAllowed`): past ~1.6 entries per bucket, lookups slow down more
/// than the new bucket array would cost. See [`Dict::insert_guarded`].
pub const DICT_MAX_LOAD_FACTOR: f64 = 1.618;

/// How many keys [`Dict::random_entry`] samples before picking one: drawing
/// from a few buckets' worth of keys evens out the bias towards keys that sit
/// in short chains (Redis's `GETFAIR_NUM_ENTRIES`).
const GETFAIR_NUM_ENTRIES: usize = 15;

/// A rehash call for `n` buckets gives up after visiting `n * 10` empty
/// buckets, so one step does bounded work even in a very sparse table (e.g.
/// after mass deletion); the next call resumes at `rehashidx`.
const EMPTY_VISITS_PER_STEP: usize = 10;

/// Buckets moved per round of [`Dict::rehash_for`] between clock reads.
const REHASH_BATCH: usize = 100;

// ---------------------------------------------------------------------------
// Process-wide knobs.

/// The two little-endian halves of the 16-byte SipHash seed. Atomics rather
/// than a lock so that reading them on every lookup is a plain load.
static SEED_K0: AtomicU64 = AtomicU64::new(0);
static SEED_K1: AtomicU64 = AtomicU64::new(0);

/// Whether tables may be resized at will; see [`set_resize_allowed`].
static RESIZE_ALLOWED: AtomicBool = AtomicBool::new(true);

/// Installs the 16-byte SipHash seed. Call it once at start-up, before any
/// dictionary holds a key: a random per-process seed stops clients from
/// crafting keys that collide (hash flooding). Changing it later would make
/// existing entries unreachable, because their bucket depends on the seed.
pub fn set_hash_seed(seed: [u8; 16]) {
    let (k0, k1) = split_key(&seed);
    SEED_K0.store(k0, Ordering::Relaxed);
    SEED_K1.store(k1, Ordering::Relaxed);
}

/// Returns the current seed, for code that must hash exactly the way the
/// dictionaries do.
pub fn hash_seed() -> [u8; 16] {
    let mut out = [0u8; 16];
    let (a, b) = out.split_at_mut(8);
    a.copy_from_slice(&SEED_K0.load(Ordering::Relaxed).to_le_bytes());
    b.copy_from_slice(&SEED_K1.load(Ordering::Relaxed).to_le_bytes());
    out
}

/// The hash every dictionary uses for `k`: SipHash-1-2 under the process
/// seed. Public so that a caller touching two dicts with the same key (the
/// keyspace and the expires table) can hash once and use the `*_with_hash` calls.
#[inline]
pub fn hash_key(k: &[u8]) -> u64 {
    siphash_words(
        k,
        SEED_K0.load(Ordering::Relaxed),
        SEED_K1.load(Ordering::Relaxed),
    )
}

/// Allows or forbids resizing of all dictionaries (Redis's
/// `dictEnableResize`/`dictDisableResize`). While a forked child writes an
/// RDB/AOF snapshot, every memory page the parent writes to gets copied
/// (copy-on-write); allocating a new bucket array and relinking entries into
/// it would touch a great many pages and could double memory use. So while
/// a child exists the server forbids resizing: tables then grow only once
/// they hold more than [`DICT_FORCE_RESIZE_RATIO`] entries per bucket, and
/// never shrink.
pub fn set_resize_allowed(allowed: bool) {
    RESIZE_ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Reports the flag set by [`set_resize_allowed`].
pub fn resize_allowed() -> bool {
    RESIZE_ALLOWED.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Small random generator (splitmix64) for sampling. Sampling only needs
// cheap, well-spread numbers, not unpredictability: the bucket layout is
// already secret thanks to the keyed hash.

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0x853c_49e6_748f_ea9b) };
}

fn rand64() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A random index below `n` (treated as 1 if 0); modulo bias is irrelevant.
#[inline]
fn rand_below(n: usize) -> usize {
    (rand64() % (n.max(1) as u64)) as usize
}

// ---------------------------------------------------------------------------
// Keys.

/// What a dictionary needs from a key: its bytes, which are hashed and
/// compared. Lookups take `&[u8]` so callers never build an owned key just to
/// search.
pub trait DictKey {
    /// The bytes that identify this key.
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

/// Fixed 8-byte keys: numeric ids in their little-endian bytes (the client index by CLIENT
/// ID), stored inline in the entry with no heap block of their own.
impl DictKey for [u8; 8] {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

// ---------------------------------------------------------------------------
// Tables.

type Slot<K, V> = Option<Box<Entry<K, V>>>;

struct Entry<K, V> {
    key: K,
    value: V,
    next: Slot<K, V>,
}

/// One bucket array; its length is zero (unallocated) or a power of two.
struct Table<K, V> {
    slots: Box<[Slot<K, V>]>,
    used: usize,
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table {
            slots: Box::default(),
            used: 0,
        }
    }

    /// Allocates `size` empty buckets, or `None` if the memory is not there
    /// (a huge size may come from a client or an RDB file: never abort).
    ///
    /// Uses a zeroed allocation (calloc) like Redis's `zcalloc`: a large
    /// table then comes straight from fresh zero pages of the kernel, which
    /// are only touched as the rehash fills them, instead of the whole array
    /// being written up front (measured ~70 ms of stall for 2^24 buckets when
    /// filling it with `None` one by one).
    fn alloc(size: usize) -> Option<Self> {
        if size == 0 {
            return Some(Self::empty());
        }
        let layout = Layout::array::<Slot<K, V>>(size).ok()?;
        // SAFETY: `layout` is non-zero-sized (size > 0, a slot is a pointer).
        let ptr = unsafe { alloc_zeroed(layout) }.cast::<Slot<K, V>>();
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the block comes from the global allocator with exactly the
        // layout of `[Slot<K, V>; size]`, which is what the box frees it
        // with; and all-zero bytes are a valid `None` for every slot, since
        // `Option<Box<T>>` (T: Sized) is guaranteed to be a nullable pointer
        // with `None` as null (std::option, "Representation").
        let slots = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(ptr, size)) };
        Some(Table { slots, used: 0 })
    }

    /// Bucket index of hash `h`. For an unallocated table the mask is all
    /// ones and the following `get` misses, so no separate test is needed.
    #[inline(always)]
    fn index(&self, h: u64) -> usize {
        (h as usize) & self.slots.len().wrapping_sub(1)
    }

    #[inline]
    fn find(&self, h: u64, k: &[u8]) -> Option<&Entry<K, V>>
    where
        K: DictKey,
    {
        let mut cur = self.slots.get(self.index(h))?.as_deref();
        while let Some(e) = cur {
            if e.key.key_bytes() == k {
                return Some(e);
            }
            cur = e.next.as_deref();
        }
        None
    }

    #[inline]
    fn find_mut(&mut self, h: u64, k: &[u8]) -> Option<&mut Entry<K, V>>
    where
        K: DictKey,
    {
        let idx = self.index(h);
        let mut cur = self.slots.get_mut(idx)?.as_deref_mut();
        while let Some(e) = cur {
            if e.key.key_bytes() == k {
                return Some(e);
            }
            cur = e.next.as_deref_mut();
        }
        None
    }

    /// Position of `k` in its chain (0 = head), if present.
    #[inline]
    fn depth_of(&self, h: u64, k: &[u8]) -> Option<usize>
    where
        K: DictKey,
    {
        let mut cur = self.slots.get(self.index(h))?.as_deref();
        let mut depth = 0;
        while let Some(e) = cur {
            if e.key.key_bytes() == k {
                return Some(depth);
            }
            depth += 1;
            cur = e.next.as_deref();
        }
        None
    }

    /// Detaches the entry for `k` from its chain and returns it.
    #[inline]
    fn unlink(&mut self, h: u64, k: &[u8]) -> Option<Box<Entry<K, V>>>
    where
        K: DictKey,
    {
        let idx = self.index(h);
        let mut link = self.slots.get_mut(idx)?;
        while link.as_ref().is_some_and(|e| e.key.key_bytes() != k) {
            link = match link {
                Some(e) => &mut e.next,
                None => return None, // excluded by the loop condition
            };
        }
        let mut entry = link.take()?;
        *link = entry.next.take();
        self.used -= 1;
        Some(entry)
    }

    /// Pushes a new entry at the head of bucket `idx` (Redis's choice:
    /// recently added keys tend to be the ones accessed next). `None` only
    /// for an unallocated table.
    #[inline]
    fn push_head(&mut self, idx: usize, key: K, value: V) -> Option<&mut Entry<K, V>> {
        let slot = self.slots.get_mut(idx)?;
        let next = slot.take();
        self.used += 1;
        Some(slot.insert(Box::new(Entry { key, value, next })))
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Unlinks chains one entry at a time: the compiler-generated drop of a
    /// `Box<Entry>` list recurses once per chained entry.
    fn drop(&mut self) {
        if self.used == 0 {
            // Every bucket is `None`, so skip visiting them: this is the
            // drained `ht[0]` freed when a rehash completes, and merely
            // reading 2^24 empty buckets measured ~30 ms on the server thread.
            let mut slots = mem::take(&mut self.slots).into_vec();
            // SAFETY: lowering the length never exposes uninitialised
            // elements; it only skips dropping the buckets, which own
            // nothing. (Were `used` ever wrong this would leak, not corrupt.)
            unsafe { slots.set_len(0) };
            return;
        }
        for slot in self.slots.iter_mut() {
            if slot.is_none() {
                continue; // read-only: don't dirty pages of empty buckets
            }
            let mut cur = slot.take();
            while let Some(mut e) = cur {
                cur = e.next.take();
            }
        }
    }
}

/// Drops from the chain in `slot` every entry for which `keep` is false,
/// handing it to `removed`; kept entries keep their order. Returns how many
/// were removed.
fn filter_chain<K, V>(
    slot: &mut Slot<K, V>,
    keep: &mut impl FnMut(&K, &mut V) -> bool,
    removed: &mut impl FnMut(K, V),
) -> usize {
    let mut gone = 0;
    let mut rest = slot.take();
    let mut tail = slot;
    while let Some(mut e) = rest {
        rest = e.next.take();
        if keep(&e.key, &mut e.value) {
            tail = &mut tail.insert(e).next;
        } else {
            gone += 1;
            let Entry { key, value, .. } = *e;
            removed(key, value);
        }
    }
    gone
}

/// Smallest power of two >= `size`, at least [`DICT_HT_INITIAL_SIZE`].
fn table_size_for(size: usize) -> Option<usize> {
    size.max(DICT_HT_INITIAL_SIZE).checked_next_power_of_two()
}

/// Whether a table of `size` buckets holding `used` entries, due to grow,
/// may do so (`dictTypeExpandAllowed` with the server's `dictExpandAllowed`):
/// always past [`DICT_MAX_LOAD_FACTOR`] (compared in double precision, as
/// Redis does), otherwise when `may_grow` accepts the bytes of the new bucket
/// array (the power of two for `used + 1` entries).
#[inline]
fn growth_allowed<K, V>(used: usize, size: usize, may_grow: impl FnOnce(usize) -> bool) -> bool {
    if used as f64 / size as f64 > DICT_MAX_LOAD_FACTOR {
        return true;
    }
    let buckets = table_size_for(used.saturating_add(1)).unwrap_or(usize::MAX);
    may_grow(buckets.saturating_mul(mem::size_of::<Slot<K, V>>()))
}

/// One SCAN step over tables of `sizes` (`sizes[1] == 0` when not
/// rehashing): calls `visit(table, bucket)` for each bucket to emit and
/// returns the next cursor.
///
/// The cursor counts with its bits reversed (increment the top masked bit,
/// carry towards bit 0). With power-of-two tables, bucket `i` of a table of
/// size `s` corresponds to buckets `i`, `i + s`, `i + 2s`, ... of a bigger
/// table, and a reversed increment visits all of those before moving on; so
/// a table that grows or shrinks between calls never makes the scan skip a
/// bucket whose keys were present throughout (some may come twice, which
/// SCAN allows). During a rehash the bucket of the smaller table is emitted
/// together with every bucket of the larger table that it expands to.
fn scan_cursor(sizes: [usize; 2], cursor: u64, mut visit: impl FnMut(usize, usize)) -> u64 {
    // Sets the bits above the mask so the carry runs through them, then
    // increments the reversed cursor.
    let next = |v: u64, mask: u64| (v | !mask).reverse_bits().wrapping_add(1).reverse_bits();
    if sizes[1] == 0 {
        let m0 = (sizes[0] as u64).wrapping_sub(1);
        visit(0, (cursor & m0) as usize);
        next(cursor, m0)
    } else {
        let (small, big) = if sizes[0] <= sizes[1] { (0, 1) } else { (1, 0) };
        let m0 = (sizes[small] as u64).wrapping_sub(1);
        let m1 = (sizes[big] as u64).wrapping_sub(1);
        visit(small, (cursor & m0) as usize);
        let mut v = cursor;
        loop {
            visit(big, (v & m1) as usize);
            v = next(v, m1);
            // Done once the bits only the big table has are back to zero.
            if v & (m0 ^ m1) == 0 {
                return v;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The dictionary.

/// A hash table keyed by byte strings, with Redis's growth, shrink,
/// incremental rehash, SCAN and sampling behaviour. See the module comment.
pub struct Dict<K, V> {
    ht: [Table<K, V>; 2],
    /// Next `ht[0]` bucket to move; meaningful only while rehashing.
    rehashidx: usize,
}

impl<K, V> Default for Dict<K, V> {
    fn default() -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehashidx: 0,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Size, iteration and SCAN: nothing here needs to hash.
impl<K, V> Dict<K, V> {
    /// An empty dictionary; no memory is allocated until the first insert.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    /// Whether there are no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether an incremental rehash is in progress (`ht[1]` allocated).
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        !self.ht[1].slots.is_empty()
    }

    /// Total bucket count of both tables (Redis's `dictSlots`), for INFO,
    /// MEMORY and the shrink heuristic.
    #[inline]
    pub fn buckets(&self) -> usize {
        self.ht[0].slots.len() + self.ht[1].slots.len()
    }

    /// Bucket counts of `ht[0]` and `ht[1]`, for DEBUG-style statistics.
    pub fn table_sizes(&self) -> [usize; 2] {
        [self.ht[0].slots.len(), self.ht[1].slots.len()]
    }

    /// Approximate bytes used by the table structure: the dict itself, the
    /// bucket arrays and one boxed entry per element. Heap memory owned by
    /// the keys and values is the caller's to add.
    pub fn mem_usage(&self) -> usize {
        mem::size_of::<Self>()
            + self.buckets() * mem::size_of::<Slot<K, V>>()
            + self.len() * mem::size_of::<Entry<K, V>>()
    }

    /// Drops every entry and frees both tables.
    pub fn clear(&mut self) {
        self.ht = [Table::empty(), Table::empty()];
        self.rehashidx = 0;
    }

    /// Iterates over all entries (both tables while rehashing) in bucket
    /// order. Holding `&self` means no rehash can run meanwhile, which is
    /// what Redis's safe iterators guarantee by pausing rehashing.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            slots: self.ht[0].slots.iter(),
            next_table: &self.ht[1].slots,
            cur: None,
            remaining: self.len(),
        }
    }

    /// Iterates with mutable access to the values (keys stay fixed because
    /// they determine the bucket).
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let remaining = self.len();
        let [t0, t1] = &mut self.ht;
        IterMut {
            slots: t0.slots.iter_mut(),
            next_table: &mut t1.slots,
            cur: None,
            remaining,
        }
    }

    /// Whether a shrink would pay off (Redis's `htNeedsResize`): more than
    /// [`DICT_HT_INITIAL_SIZE`] buckets and under [`HASHTABLE_MIN_FILL`]%
    /// of them in use.
    pub fn needs_resize(&self) -> bool {
        let size = self.buckets() as u128;
        let used = self.len() as u128;
        size > DICT_HT_INITIAL_SIZE as u128 && used * 100 / size < HASHTABLE_MIN_FILL as u128
    }

    /// One SCAN call (Redis's `dictScan`): passes every entry of the
    /// bucket(s) at `cursor` to `f` and returns the next cursor; 0 means the
    /// scan is complete. Start with 0. Entries present from the first call
    /// to the last are reported at least once even if the dictionary grows,
    /// shrinks or rehashes between calls; some may be reported twice.
    /// Any `u64` is a valid cursor (clients send arbitrary values).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        scan_cursor(self.table_sizes(), cursor, |t, i| {
            let mut cur = self.ht[t].slots.get(i).and_then(|s| s.as_deref());
            while let Some(e) = cur {
                f(&e.key, &e.value);
                cur = e.next.as_deref();
            }
        })
    }

    /// [`scan`](Self::scan) with mutable values. Does not rehash.
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&K, &mut V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let sizes = self.table_sizes();
        let ht = &mut self.ht;
        scan_cursor(sizes, cursor, |t, i| {
            let mut cur = ht[t].slots.get_mut(i).and_then(|s| s.as_deref_mut());
            while let Some(e) = cur {
                f(&e.key, &mut e.value);
                cur = e.next.as_deref_mut();
            }
        })
    }

    /// [`scan`](Self::scan) that may delete: each visited entry for which
    /// `keep` returns false is unlinked and handed to `removed` (e.g. active
    /// expiry deleting expired keys as it walks the expires table).
    /// Deletion only touches the buckets of the current step, so the SCAN
    /// guarantee for the remaining entries holds. Does not rehash or shrink;
    /// call [`resize_if_needed`](Self::resize_if_needed) afterwards.
    pub fn scan_remove_if(
        &mut self,
        cursor: u64,
        mut keep: impl FnMut(&K, &mut V) -> bool,
        mut removed: impl FnMut(K, V),
    ) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let sizes = self.table_sizes();
        let ht = &mut self.ht;
        scan_cursor(sizes, cursor, |t, i| {
            let table = &mut ht[t];
            if let Some(slot) = table.slots.get_mut(i) {
                table.used -= filter_chain(slot, &mut keep, &mut removed);
            }
        })
    }

    /// Keeps only the entries for which `f` returns true, visiting all of
    /// them once (e.g. FLUSHALL-like filtering, or dropping a slot range).
    /// Does not rehash or shrink; call
    /// [`resize_if_needed`](Self::resize_if_needed) afterwards.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for table in self.ht.iter_mut() {
            if table.used == 0 {
                continue;
            }
            let mut gone = 0;
            for slot in table.slots.iter_mut() {
                if slot.is_some() {
                    gone += filter_chain(slot, &mut f, &mut |_, _| {});
                }
            }
            table.used -= gone;
        }
    }

    /// Chain-length statistics in the exact text format of Redis 7.0's
    /// `dictGetStats`, which `DEBUG HTSTATS` prints for each database.
    pub fn stats(&self) -> String {
        let mut out = String::new();
        self.table_stats(0, &mut out);
        if self.is_rehashing() {
            self.table_stats(1, &mut out);
        }
        out
    }

    /// One table's part of [`stats`](Self::stats) (`_dictGetStatsHt`).
    fn table_stats(&self, t: usize, out: &mut String) {
        use std::fmt::Write;
        /// Chain lengths are histogrammed up to this bound, as in Redis
        /// (which, quirk included, never prints the last, catch-all cell).
        const VECTLEN: usize = 50;
        let Some(table) = self.ht.get(t) else {
            return;
        };
        let name = if t == 0 {
            "main hash table"
        } else {
            "rehashing target"
        };
        let _ = writeln!(out, "Hash table {t} stats ({name}):");
        if table.used == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            return;
        }
        let mut clvector = [0usize; VECTLEN];
        let (mut slots, mut maxchain, mut totchain) = (0usize, 0usize, 0usize);
        for slot in table.slots.iter() {
            let mut len = 0usize;
            let mut cur = slot.as_deref();
            while let Some(e) = cur {
                len += 1;
                cur = e.next.as_deref();
            }
            if let Some(c) = clvector.get_mut(len.min(VECTLEN - 1)) {
                *c += 1;
            }
            if len > 0 {
                slots += 1;
                maxchain = maxchain.max(len);
                totchain += len;
            }
        }
        let size = table.slots.len();
        // Redis computes these in single precision.
        let _ = write!(
            out,
            " table size: {size}\n number of elements: {}\n different slots: {slots}\n \
             max chain length: {maxchain}\n avg chain length (counted): {:.2}\n \
             avg chain length (computed): {:.2}\n Chain length distribution:\n",
            table.used,
            totchain as f32 / slots as f32,
            table.used as f32 / slots as f32,
        );
        for (len, &count) in clvector.iter().enumerate().take(VECTLEN - 1) {
            if count != 0 {
                let pct = (count as f32 / size as f32) * 100.0;
                let _ = writeln!(out, "   {len}: {count} ({pct:.2}%)");
            }
        }
    }
}

/// Everything that hashes keys.
impl<K: DictKey, V> Dict<K, V> {
    /// An empty dictionary pre-sized for `n` entries (one power-of-two
    /// table, no growth until it fills), like `dictExpand` after reading an
    /// RDB length. An impossible size just yields an unallocated dict.
    pub fn with_capacity(n: usize) -> Self {
        let mut d = Self::new();
        if n > 0 {
            d.expand(n);
        }
        d
    }

    /// Resizes to the smallest power of two >= `size` (`dictExpand`):
    /// allocates `ht[1]` and starts an incremental rehash, or installs the
    /// table directly if `ht[0]` holds nothing. Returns false when nothing
    /// happened: already rehashing, `size` below the element count, same
    /// size as now, or the allocation failed.
    pub fn expand(&mut self, size: usize) -> bool {
        if self.is_rehashing() || self.ht[0].used > size {
            return false;
        }
        let Some(real) = table_size_for(size) else {
            return false;
        };
        if real == self.ht[0].slots.len() {
            return false;
        }
        let Some(table) = Table::alloc(real) else {
            return false;
        };
        if self.ht[0].used == 0 {
            self.ht[0] = table;
        } else {
            self.ht[1] = table;
            self.rehashidx = 0;
        }
        true
    }

    /// Shrinks to the smallest power of two holding all entries
    /// (`dictResize`), unless resizing is forbidden or a rehash is running.
    /// Returns whether a resize started.
    pub fn resize(&mut self) -> bool {
        if !resize_allowed() || self.is_rehashing() {
            return false;
        }
        let minimal = self.ht[0].used.max(DICT_HT_INITIAL_SIZE);
        self.expand(minimal)
    }

    /// The serverCron shrink: when under 10% of more than 4 buckets are in
    /// use, start shrinking to the smallest power of two >= len. Returns
    /// whether a resize started.
    pub fn resize_if_needed(&mut self) -> bool {
        self.needs_resize() && self.resize()
    }

    /// Grows before an insert when the load factor reaches 1 (or, while
    /// resizing is forbidden, exceeds [`DICT_FORCE_RESIZE_RATIO`]) and
    /// [`growth_allowed`] agrees (`_dictExpandIfNeeded`). `may_grow` runs only
    /// at that point, so an insert that does not grow never calls it.
    #[inline]
    fn expand_if_needed(&mut self, may_grow: impl FnOnce(usize) -> bool) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].slots.len();
        if size == 0 {
            // The first table is not a growth: never refused, as in Redis.
            self.expand(DICT_HT_INITIAL_SIZE);
            return;
        }
        let used = self.ht[0].used;
        if used >= size
            && (resize_allowed() || used / size > DICT_FORCE_RESIZE_RATIO)
            && growth_allowed::<K, V>(used, size, may_grow)
        {
            // If the allocation fails we keep the current table: chains get
            // longer but everything still works.
            self.expand(used + 1);
        }
    }

    /// Moves up to `n` non-empty buckets from `ht[0]` to `ht[1]`
    /// (`dictRehash`), visiting at most `n * 10` empty buckets on the way.
    /// Returns true while there is more to move.
    pub fn rehash(&mut self, n: usize) -> bool {
        if !self.is_rehashing() {
            return false;
        }
        let mut empty_visits = n.saturating_mul(EMPTY_VISITS_PER_STEP);
        let mut idx = self.rehashidx;
        let [t0, t1] = &mut self.ht;
        let grow = t1.slots.len() > t0.slots.len();
        let mask1 = t1.slots.len() - 1; // rehashing: ht[1] has >= 4 buckets
        let mut n = n;
        'steps: while n > 0 && t0.used != 0 {
            n -= 1;
            // `used != 0` guarantees a non-empty bucket at or after `idx`.
            let mut chain = loop {
                let Some(slot) = t0.slots.get_mut(idx) else {
                    break 'steps; // unreachable while the counts are right
                };
                if slot.is_some() {
                    break slot.take();
                }
                idx += 1;
                empty_visits = empty_visits.saturating_sub(1);
                if empty_visits == 0 {
                    self.rehashidx = idx;
                    return true;
                }
            };
            while let Some(mut e) = chain {
                chain = e.next.take();
                // Shrinking keeps the low bits of the index: no hashing.
                let dst = if grow {
                    hash_key(e.key.key_bytes()) as usize & mask1
                } else {
                    idx & mask1
                };
                let slot = &mut t1.slots[dst]; // dst <= mask1 < len
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

    /// Rehashes in batches of 100 buckets until `us` microseconds have
    /// passed or the rehash is done (`dictRehashMicroseconds`; the cron's
    /// active rehashing gives a database 1000 µs per tick). Returns 100 per
    /// batch run, like Redis.
    pub fn rehash_for(&mut self, us: u64) -> usize {
        let start = Instant::now();
        let mut done = 0;
        while self.rehash(REHASH_BATCH) {
            done += REHASH_BATCH;
            if start.elapsed().as_micros() >= u128::from(us) {
                break;
            }
        }
        done
    }

    /// The incremental step every `&mut self` operation performs.
    #[inline(always)]
    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            self.rehash(1);
        }
    }

    #[inline]
    fn find(&self, h: u64, k: &[u8]) -> Option<&Entry<K, V>> {
        match self.ht[0].find(h, k) {
            Some(e) => Some(e),
            None if self.is_rehashing() => self.ht[1].find(h, k),
            None => None,
        }
    }

    /// Calls `f` on every entry of the bucket that hash `h` selects, in both tables while
    /// rehashing. Entries of other hashes may share the bucket: the caller filters. Only the
    /// low 32 bits of `h` matter for tables of up to 2^32 buckets, which lets an index that
    /// remembers entries by a 32-bit hash (the cluster's keys by slot) find them again.
    pub fn for_each_in_bucket(&self, h: u64, mut f: impl FnMut(&K, &V)) {
        for t in &self.ht {
            if t.slots.is_empty() {
                continue;
            }
            let mut cur = t.slots[t.index(h)].as_deref();
            while let Some(e) = cur {
                f(&e.key, &e.value);
                cur = e.next.as_deref();
            }
        }
    }

    #[inline]
    fn find_mut(&mut self, h: u64, k: &[u8]) -> Option<&mut Entry<K, V>> {
        let [t0, t1] = &mut self.ht;
        if let Some(e) = t0.find_mut(h, k) {
            return Some(e);
        }
        // Not rehashing: `t1` has no buckets and the lookup misses at once.
        t1.find_mut(h, k)
    }

    /// Inserts a key known to be absent, growing first if needed (and if
    /// `may_grow` allows it; see [`insert_guarded`](Self::insert_guarded)).
    #[inline]
    fn push_new(
        &mut self,
        h: u64,
        key: K,
        value: V,
        may_grow: impl FnOnce(usize) -> bool,
    ) -> &mut Entry<K, V> {
        self.expand_if_needed(may_grow);
        let table = &mut self.ht[usize::from(self.is_rehashing())];
        let idx = table.index(h);
        match table.push_head(idx, key, value) {
            Some(e) => e,
            // Not even the 4-bucket table could be allocated. Rust treats
            // out-of-memory as fatal anyway (the entry box needs memory too).
            None => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[Slot<K, V>; 4]>()),
        }
    }

    /// Looks up `k`, doing one rehash step first (`dictFind`).
    #[inline]
    pub fn get(&mut self, k: &[u8]) -> Option<&V> {
        if self.is_empty() {
            return None;
        }
        self.get_with_hash(hash_key(k), k)
    }

    /// [`get`](Self::get) with `h == hash_key(k)` already computed.
    #[inline]
    pub fn get_with_hash(&mut self, h: u64, k: &[u8]) -> Option<&V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        self.find(h, k).map(|e| &e.value)
    }

    /// Looks up `k` for modification, doing one rehash step first.
    #[inline]
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.get_mut_with_hash(hash_key(k), k)
    }

    /// [`get_mut`](Self::get_mut) with `h == hash_key(k)` already computed.
    #[inline]
    pub fn get_mut_with_hash(&mut self, h: u64, k: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        self.find_mut(h, k).map(|e| &mut e.value)
    }

    /// Looks up `k`, returning the stored key as well (e.g. to reuse the
    /// owned key) and the value mutably; one rehash step first.
    #[inline]
    pub fn get_key_value_mut(&mut self, k: &[u8]) -> Option<(&K, &mut V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        self.find_mut(hash_key(k), k)
            .map(|e| (&e.key, &mut e.value))
    }

    /// Looks up `k`, returning the stored key as well; one rehash step.
    #[inline]
    pub fn get_key_value(&mut self, k: &[u8]) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        self.find(hash_key(k), k).map(|e| (&e.key, &e.value))
    }

    /// [`get_key_value`](Self::get_key_value) without the rehash step,
    /// through a shared borrow.
    #[inline]
    pub fn peek_key_value(&self, k: &[u8]) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.find(hash_key(k), k).map(|e| (&e.key, &e.value))
    }

    /// Looks up `k` through a shared borrow, without a rehash step (for
    /// read-only contexts, e.g. while iterating something else).
    #[inline]
    pub fn peek(&self, k: &[u8]) -> Option<&V> {
        if self.is_empty() {
            return None;
        }
        self.find(hash_key(k), k).map(|e| &e.value)
    }

    /// [`peek`](Self::peek) with `h == hash_key(k)` already computed.
    #[inline]
    pub fn peek_with_hash(&self, h: u64, k: &[u8]) -> Option<&V> {
        if self.is_empty() {
            return None;
        }
        self.find(h, k).map(|e| &e.value)
    }

    /// Whether `k` is present (one rehash step, like every `&mut` lookup).
    #[inline]
    pub fn contains_key(&mut self, k: &[u8]) -> bool {
        self.get(k).is_some()
    }

    /// Inserts or replaces (`dictReplace`). On replace the stored key is
    /// kept, `key` is dropped, and the old value is returned.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let h = hash_key(key.key_bytes());
        self.insert_with_hash(h, key, value)
    }

    /// [`insert`](Self::insert) with `h == hash_key(key.key_bytes())`
    /// already computed.
    #[inline]
    pub fn insert_with_hash(&mut self, h: u64, key: K, value: V) -> Option<V> {
        self.insert_with_hash_guarded(h, key, value, |_| true)
    }

    /// [`insert`](Self::insert) for a dict whose growth the caller limits
    /// (Redis's `dictType.expandAllowed`, which only the keyspace and
    /// expires dicts set). When this insert is due to grow the table and
    /// the load factor is at most [`DICT_MAX_LOAD_FACTOR`], `may_grow` is
    /// asked with the size in bytes of the new bucket array; false keeps the
    /// current table for now (chains get longer; the next insert asks
    /// again). The server passes "used memory + bytes <= maxmemory", so a
    /// database at its memory limit does not double its table and then
    /// evict a table's worth of keys to pay for it. `may_grow` is not called
    /// by inserts that do not grow, so it costs nothing on the common path.
    #[inline]
    pub fn insert_guarded(
        &mut self,
        key: K,
        value: V,
        may_grow: impl FnOnce(usize) -> bool,
    ) -> Option<V> {
        let h = hash_key(key.key_bytes());
        self.insert_with_hash_guarded(h, key, value, may_grow)
    }

    /// [`insert_guarded`](Self::insert_guarded) with
    /// `h == hash_key(key.key_bytes())` already computed.
    pub fn insert_with_hash_guarded(
        &mut self,
        h: u64,
        key: K,
        value: V,
        may_grow: impl FnOnce(usize) -> bool,
    ) -> Option<V> {
        self.rehash_step();
        if let Some(e) = self.find_mut(h, key.key_bytes()) {
            return Some(mem::replace(&mut e.value, value));
        }
        self.push_new(h, key, value, may_grow);
        None
    }

    /// Inserts only if absent (`dictAdd`); gives the pair back otherwise.
    pub fn add(&mut self, key: K, value: V) -> Result<(), (K, V)> {
        self.rehash_step();
        let h = hash_key(key.key_bytes());
        if self.find(h, key.key_bytes()).is_some() {
            return Err((key, value));
        }
        self.push_new(h, key, value, |_| true);
        Ok(())
    }

    /// Returns the value for `k`, first inserting `make()` if absent, with a
    /// single hash computation (`dictAddOrFind`); the bool tells whether it
    /// inserted. `make` must return a key whose bytes equal `k`.
    pub fn get_or_insert_with(
        &mut self,
        k: &[u8],
        make: impl FnOnce() -> (K, V),
    ) -> (&mut V, bool) {
        self.rehash_step();
        let h = hash_key(k);
        // Locate through a shared borrow first, then take the one mutable
        // path that applies: "return the found entry, else insert" is not
        // expressible with a single mutable borrow in safe Rust today.
        let found = match self.ht[0].depth_of(h, k) {
            Some(d) => Some((0, d)),
            None if self.is_rehashing() => self.ht[1].depth_of(h, k).map(|d| (1, d)),
            None => None,
        };
        match found {
            Some((t, depth)) => {
                let table = &mut self.ht[t];
                let idx = table.index(h);
                let mut link = &mut table.slots[idx]; // a hit: idx is in range
                for _ in 0..depth {
                    link = match link {
                        Some(e) => &mut e.next,
                        None => break,
                    };
                }
                // `link` holds the entry `depth_of` saw, so the closure
                // never runs; it only makes the expression total.
                let e = link.get_or_insert_with(|| {
                    let (key, value) = make();
                    Box::new(Entry {
                        key,
                        value,
                        next: None,
                    })
                });
                (&mut e.value, false)
            }
            None => {
                let (key, value) = make();
                debug_assert!(key.key_bytes() == k);
                (&mut self.push_new(h, key, value, |_| true).value, true)
            }
        }
    }

    /// Removes `k` (`dictDelete`), returning the stored key and value. No
    /// automatic shrink: callers run [`resize_if_needed`](Self::resize_if_needed).
    #[inline]
    pub fn remove(&mut self, k: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.remove_with_hash(hash_key(k), k)
    }

    /// [`remove`](Self::remove) with `h == hash_key(k)` already computed.
    pub fn remove_with_hash(&mut self, h: u64, k: &[u8]) -> Option<(K, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let entry = match self.ht[0].unlink(h, k) {
            Some(e) => e,
            None => self.ht[1].unlink(h, k)?,
        };
        let Entry { key, value, .. } = *entry;
        Some((key, value))
    }

    /// The rehash steps `dictGetSomeKeys` performs before sampling.
    fn sample_prepare(&mut self, count: usize) {
        for _ in 0..count {
            if !self.rehash(1) {
                break;
            }
        }
    }

    /// The sampling walk of `dictGetSomeKeys`: from a random bucket, walk
    /// consecutive buckets of both tables collecting whole chains, jumping
    /// to a new random spot after a run of empty buckets; at most
    /// `count * 10` bucket positions. Returns how many entries went to `f`.
    fn sample_entries<'a>(&'a self, count: usize, mut f: impl FnMut(&'a Entry<K, V>)) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        let s1 = self.ht[1].slots.len();
        let tables = if self.is_rehashing() { 2 } else { 1 };
        let maxmask = self.ht[0].slots.len().max(s1).wrapping_sub(1);
        let mut maxsteps = count.saturating_mul(10);
        let mut i = rand64() as usize & maxmask;
        let mut emptylen = 0usize;
        let mut stored = 0usize;
        while stored < count && maxsteps > 0 {
            maxsteps -= 1;
            for j in 0..tables {
                // Buckets of ht[0] below rehashidx were already moved.
                if j == 0 && tables == 2 && i < self.rehashidx {
                    // Past the end of a smaller ht[1] (shrinking) both
                    // tables are empty up to rehashidx: jump there.
                    if i >= s1 {
                        i = self.rehashidx;
                    } else {
                        continue;
                    }
                }
                let Some(slot) = self.ht[j].slots.get(i) else {
                    continue; // beyond this table's size
                };
                match slot.as_deref() {
                    None => {
                        emptylen += 1;
                        if emptylen >= 5 && emptylen > count {
                            i = rand64() as usize & maxmask;
                            emptylen = 0;
                        }
                    }
                    Some(mut e) => {
                        emptylen = 0;
                        loop {
                            f(e);
                            stored += 1;
                            if stored == count {
                                return stored;
                            }
                            match e.next.as_deref() {
                                Some(n) => e = n,
                                None => break,
                            }
                        }
                    }
                }
            }
            i = (i + 1) & maxmask;
        }
        stored
    }

    /// Passes up to `count` entries from a random region of the table to
    /// `f` (`dictGetSomeKeys`), for eviction and expiry sampling. Like
    /// Redis's, the sample is not uniform, may hold fewer than `count`
    /// entries, and may repeat an entry when the walk wraps around a sparse
    /// table (eviction tolerates that); the work is bounded by about
    /// `count * 10` bucket visits. Returns the number delivered.
    pub fn sample(&mut self, count: usize, mut f: impl FnMut(&K, &V)) -> usize {
        let count = count.min(self.len());
        self.sample_prepare(count);
        self.sample_entries(count, |e| f(&e.key, &e.value))
    }

    /// A random entry (`dictGetFairRandomKey`): sample a few chains and pick
    /// one of the collected entries, fairer than picking a random bucket
    /// and then a random element of its chain.
    pub fn random_entry(&mut self) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.sample_prepare(GETFAIR_NUM_ENTRIES.min(self.len()));
        let mut picks: [Option<&Entry<K, V>>; GETFAIR_NUM_ENTRIES] = [None; GETFAIR_NUM_ENTRIES];
        let mut got = 0;
        self.sample_entries(GETFAIR_NUM_ENTRIES, |e| {
            if let Some(p) = picks.get_mut(got) {
                *p = Some(e);
                got += 1;
            }
        });
        let e = if got == 0 {
            self.random_bucket_entry()
        } else {
            picks.get(rand_below(got)).copied().flatten()
        };
        e.map(|e| (&e.key, &e.value))
    }

    /// `dictGetRandomKey` without its rehash step: a random non-empty
    /// bucket (of the not-yet-moved part of ht[0] or of ht[1] while
    /// rehashing), then a random element of its chain.
    fn random_bucket_entry(&self) -> Option<&Entry<K, V>> {
        if self.is_empty() {
            return None;
        }
        let [t0, t1] = &self.ht;
        let head = if self.is_rehashing() {
            let s0 = t0.slots.len();
            let span = (s0 + t1.slots.len()).saturating_sub(self.rehashidx);
            loop {
                let h = self.rehashidx + rand_below(span);
                let slot = if h >= s0 {
                    t1.slots.get(h - s0)
                } else {
                    t0.slots.get(h)
                };
                if let Some(Some(e)) = slot {
                    break &**e;
                }
            }
        } else {
            let mask = t0.slots.len().wrapping_sub(1);
            loop {
                if let Some(Some(e)) = t0.slots.get(rand64() as usize & mask) {
                    break &**e;
                }
            }
        };
        let mut len = 0;
        let mut cur = Some(head);
        while let Some(e) = cur {
            len += 1;
            cur = e.next.as_deref();
        }
        let mut e = head;
        for _ in 0..rand_below(len) {
            match e.next.as_deref() {
                Some(n) => e = n,
                None => break,
            }
        }
        Some(e)
    }
}

// ---------------------------------------------------------------------------
// Iterators.

/// Shared iterator over a [`Dict`]; see [`Dict::iter`].
pub struct Iter<'a, K, V> {
    slots: std::slice::Iter<'a, Slot<K, V>>,
    next_table: &'a [Slot<K, V>],
    cur: Option<&'a Entry<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.next.as_deref();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&e.key, &e.value));
            }
            // Stop early instead of walking trailing empty buckets.
            if self.remaining == 0 {
                return None;
            }
            match self.slots.next() {
                Some(slot) => self.cur = slot.as_deref(),
                None => {
                    if self.next_table.is_empty() {
                        return None;
                    }
                    self.slots = mem::take(&mut self.next_table).iter();
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator with mutable values over a [`Dict`]; see [`Dict::iter_mut`].
pub struct IterMut<'a, K, V> {
    slots: std::slice::IterMut<'a, Slot<K, V>>,
    next_table: &'a mut [Slot<K, V>],
    cur: Option<&'a mut Entry<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur.take() {
                let Entry { key, value, next } = e;
                self.cur = next.as_deref_mut();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&*key, value));
            }
            if self.remaining == 0 {
                return None;
            }
            match self.slots.next() {
                Some(slot) => self.cur = slot.as_deref_mut(),
                None => {
                    if self.next_table.is_empty() {
                        return None;
                    }
                    self.slots = mem::take(&mut self.next_table).iter_mut();
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

impl<'a, K, V> IntoIterator for &'a mut Dict<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

// ---------------------------------------------------------------------------
// Introspection (DEBUG LAYOUT, ferrodis-observatory).

/// Bytes of a key copied into a layout.
pub const LAYOUT_PREVIEW: usize = 64;

/// One bucket of a [`TableLayout`]: its chain, head first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketLayout {
    /// Index of the bucket in its table.
    pub index: usize,
    /// Entries chained in the bucket.
    pub chain_len: usize,
    /// The first keys of the chain (head first, at most [`LAYOUT_PREVIEW`] bytes each); fewer
    /// than `chain_len` once the caller's key budget is spent.
    pub keys: Vec<Vec<u8>>,
}

/// One of a dict's two tables, with a window of its buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    /// Buckets (0 when unallocated, else a power of two).
    pub size: usize,
    /// Entries in the table.
    pub used: usize,
    /// The window of consecutive buckets shown, starting at `buckets[0].index`.
    pub buckets: Vec<BucketLayout>,
}

/// A dict's two tables and rehash state, read-only plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictLayout {
    /// `ht[0]` (main) and `ht[1]` (rehash target, empty unless rehashing).
    pub tables: [TableLayout; 2],
    /// The next `ht[0]` bucket to move while rehashing.
    pub rehashidx: Option<usize>,
}

impl<K: DictKey, V> Dict<K, V> {
    /// Both tables' sizes and use, the rehash index, and a window of at most `limit` buckets
    /// per table listing at most `limit` keys in all: O(limit) buckets plus their chains.
    /// The window starts at bucket 0, or while rehashing a quarter of a window before
    /// `rehashidx` (in both tables, modulo a smaller ht[1]), so the moving index stays in view.
    pub fn layout(&self, limit: usize) -> DictLayout {
        let rehashidx = self.is_rehashing().then_some(self.rehashidx);
        let start = rehashidx.map_or(0, |r| r.saturating_sub(limit / 4));
        let mut budget = limit;
        let mut table = |t: &Table<K, V>| {
            let size = t.slots.len();
            // A shrinking rehash moves ht[0]'s bucket i into ht[1]'s bucket i mod size.
            let from = if size > 0 { start % size } else { 0 };
            let to = from.saturating_add(limit).min(size);
            let buckets = (from..to)
                .map(|i| {
                    let mut b = BucketLayout {
                        index: i,
                        chain_len: 0,
                        keys: Vec::new(),
                    };
                    let mut cur = t.slots[i].as_deref();
                    while let Some(e) = cur {
                        b.chain_len += 1;
                        if budget > 0 {
                            budget -= 1;
                            let k = e.key.key_bytes();
                            b.keys.push(k[..k.len().min(LAYOUT_PREVIEW)].to_vec());
                        }
                        cur = e.next.as_deref();
                    }
                    b
                })
                .collect();
            TableLayout {
                size,
                used: t.used,
                buckets,
            }
        };
        let t0 = table(&self.ht[0]);
        let t1 = table(&self.ht[1]);
        DictLayout {
            tables: [t0, t1],
            rehashidx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_shows_buckets_and_rehash_index() {
        let mut d: Dict<Vec<u8>, ()> = Dict::new();
        for i in 0..8 {
            d.insert(format!("k{i}").into_bytes(), ());
        }
        while d.rehash(100) {}
        let l = d.layout(100);
        assert_eq!(l.rehashidx, None);
        assert_eq!((l.tables[0].size, l.tables[0].used), (8, 8));
        assert_eq!(l.tables[1].size, 0);
        let chained: usize = l.tables[0].buckets.iter().map(|b| b.chain_len).sum();
        assert_eq!(chained, 8);
        // Bucket order, heads first: the order iteration (and so RDB) uses.
        let keys: Vec<Vec<u8>> = l.tables[0]
            .buckets
            .iter()
            .flat_map(|b| b.keys.clone())
            .collect();
        let iter: Vec<Vec<u8>> = d.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, iter);
        // Growing starts a rehash that the layout shows.
        d.insert(b"k8".to_vec(), ());
        let l = d.layout(4);
        assert_eq!(l.tables[1].size, 16);
        assert!(l.rehashidx.is_some());
        assert!(l.tables[0].buckets.len() <= 4);
        let shown: usize = l
            .tables
            .iter()
            .flat_map(|t| &t.buckets)
            .map(|b| b.keys.len())
            .sum();
        assert!(shown <= 4);
    }
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::{Mutex, MutexGuard};

    /// Serialises the tests that flip or depend on the process-wide resize
    /// flag (the test harness runs tests on several threads).
    static FLAG_LOCK: Mutex<()> = Mutex::new(());

    /// Holds [`FLAG_LOCK`] and restores "resize allowed" when dropped, even
    /// if the test panics.
    struct FlagGuard(#[allow(dead_code)] MutexGuard<'static, ()>);

    impl Drop for FlagGuard {
        fn drop(&mut self) {
            set_resize_allowed(true);
        }
    }

    fn flag_lock() -> FlagGuard {
        let g = FLAG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        set_resize_allowed(true);
        FlagGuard(g)
    }

    type D = Dict<Vec<u8>, u32>;

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    impl<K: DictKey, V> Dict<K, V> {
        /// Checks every structural invariant; panics with a reason if broken.
        fn check_invariants(&self) {
            let mut seen = HashSet::new();
            for (t, table) in self.ht.iter().enumerate() {
                let n = table.slots.len();
                assert!(n == 0 || (n.is_power_of_two() && n >= DICT_HT_INITIAL_SIZE));
                let mut count = 0;
                for (i, slot) in table.slots.iter().enumerate() {
                    let mut cur = slot.as_deref();
                    while let Some(e) = cur {
                        count += 1;
                        assert_eq!(table.index(hash_key(e.key.key_bytes())), i, "wrong bucket");
                        if t == 0 && self.is_rehashing() {
                            assert!(i >= self.rehashidx, "entry below rehashidx");
                        }
                        assert!(seen.insert(e.key.key_bytes().to_vec()), "duplicate key");
                        cur = e.next.as_deref();
                    }
                }
                assert_eq!(count, table.used, "used count of table {t}");
            }
            if !self.is_rehashing() {
                assert_eq!(self.rehashidx, 0);
            } else {
                assert_ne!(self.ht[0].slots.len(), self.ht[1].slots.len());
                assert!(self.rehashidx <= self.ht[0].slots.len());
            }
        }
    }

    fn finish_rehash(d: &mut D) {
        while d.rehash(1000) {}
    }

    #[test]
    fn basic_operations() {
        let mut d = D::new();
        assert!(d.is_empty());
        assert_eq!(d.get(b"a"), None);
        assert_eq!(d.remove(b"a"), None);
        assert_eq!(d.buckets(), 0);
        assert_eq!(d.insert(b"a".to_vec(), 1), None);
        assert_eq!(d.insert(b"a".to_vec(), 2), Some(1));
        assert_eq!(d.add(b"a".to_vec(), 3), Err((b"a".to_vec(), 3)));
        assert_eq!(d.add(b"b".to_vec(), 4), Ok(()));
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(b"a"), Some(&2));
        assert_eq!(d.peek(b"b"), Some(&4));
        assert!(d.contains_key(b"b"));
        assert!(!d.contains_key(b"c"));
        *d.get_mut(b"b").unwrap() += 10;
        let (k, v) = d.get_key_value_mut(b"b").unwrap();
        assert_eq!(k, b"b");
        *v += 1;
        assert_eq!(d.peek(b"b"), Some(&15));
        assert_eq!(d.remove(b"a"), Some((b"a".to_vec(), 2)));
        assert_eq!(d.remove(b"a"), None);
        assert_eq!(d.len(), 1);
        // The empty key is a key like any other.
        assert_eq!(d.insert(Vec::new(), 7), None);
        assert_eq!(d.get(b""), Some(&7));
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.buckets(), 0);
        d.check_invariants();
    }

    #[test]
    fn boxed_slice_keys() {
        let mut d: Dict<Box<[u8]>, ()> = Dict::new();
        for i in 0..100 {
            d.insert(key(i).into_boxed_slice(), ());
        }
        assert!(d.peek(&key(42)).is_some());
        assert_eq!(d.len(), 100);
        d.check_invariants();
    }

    #[test]
    fn stats_text_matches_redis_format() {
        let _g = flag_lock();
        let mut d = D::new();
        assert_eq!(
            d.stats(),
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        );
        // Three keys in a 4-bucket table, two of them sharing a bucket: the
        // very layout of a `DEBUG HTSTATS 0` taken from redis-server 7.0.15.
        let bucket = |k: &[u8]| hash_key(k) & 3;
        let a = key(0);
        let mut i = 1;
        let b = loop {
            if bucket(&key(i)) == bucket(&a) {
                break key(i);
            }
            i += 1;
        };
        let c = loop {
            if bucket(&key(i)) != bucket(&a) {
                break key(i);
            }
            i += 1;
        };
        for k in [a, b, c] {
            d.insert(k, 0);
        }
        let want = "Hash table 0 stats (main hash table):
 table size: 4
 number of elements: 3
 different slots: 2
 max chain length: 2
 avg chain length (counted): 1.50
 avg chain length (computed): 1.50
 Chain length distribution:
   0: 2 (50.00%)
   1: 1 (25.00%)
   2: 1 (25.00%)
";
        assert_eq!(d.stats(), want);
        d.insert(key(1000), 0);
        d.insert(key(1001), 0);
        assert!(d.is_rehashing());
        let s = d.stats();
        assert!(s.starts_with("Hash table 0 stats (main hash table):\n"));
        assert!(s.contains("Hash table 1 stats (rehashing target):\n table size: 8\n"));
    }

    #[test]
    fn retain_and_key_value_lookups() {
        let mut d = D::new();
        for i in 0..300 {
            d.insert(key(i), i as u32);
        }
        d.expand(1024); // retain must cover both tables
        d.rehash(20);
        assert!(d.is_rehashing());
        d.retain(|_, v| {
            *v += 1;
            *v % 3 != 0
        });
        d.check_invariants();
        assert_eq!(d.len(), 200);
        assert_eq!(d.peek(&key(2)), None);
        assert_eq!(d.peek(&key(3)), Some(&4));
        let (k, v) = d.get_key_value(&key(3)).unwrap();
        assert_eq!((k.as_slice(), *v), (key(3).as_slice(), 4));
        assert_eq!(d.peek_key_value(&key(4)), Some((&key(4), &5)));
        assert_eq!(d.peek_key_value(&key(5)), None);
        let h = hash_key(&key(5));
        assert_eq!(d.insert_with_hash(h, key(5), 9), None);
        assert_eq!(d.insert_with_hash(h, key(5), 10), Some(9));
        assert_eq!(d.get(&key(5)), Some(&10));
    }

    #[test]
    fn hashed_variants_match() {
        let mut d = D::new();
        for i in 0..50 {
            d.insert(key(i), i as u32);
        }
        let k = key(7);
        let h = hash_key(&k);
        assert_eq!(d.get_with_hash(h, &k), Some(&7));
        assert_eq!(d.peek_with_hash(h, &k), Some(&7));
        *d.get_mut_with_hash(h, &k).unwrap() = 70;
        assert_eq!(d.remove_with_hash(h, &k), Some((k.clone(), 70)));
        assert_eq!(d.peek_with_hash(h, &k), None);
    }

    #[test]
    fn hash_key_uses_the_seed() {
        let seed = hash_seed();
        assert_eq!(
            hash_key(b"hello"),
            super::super::siphash::siphash(b"hello", &seed)
        );
        set_hash_seed(seed); // round trip leaves it unchanged
        assert_eq!(hash_seed(), seed);
    }

    #[test]
    fn grows_at_load_factor_one() {
        let _g = flag_lock();
        let mut d = D::new();
        d.insert(key(0), 0);
        assert_eq!(d.table_sizes(), [4, 0]);
        for i in 1..4 {
            d.insert(key(i), 0);
        }
        assert_eq!(d.table_sizes(), [4, 0]);
        // used (4) >= size (4): the 5th insert starts a rehash to 8 buckets
        // and lands in the new table.
        d.insert(key(4), 0);
        assert!(d.is_rehashing());
        assert_eq!(d.table_sizes(), [4, 8]);
        assert_eq!(d.buckets(), 12);
        d.check_invariants();
        // Lookups make progress: a handful of them finish the 4 buckets.
        for _ in 0..8 {
            d.get(b"nope");
        }
        assert!(!d.is_rehashing());
        assert_eq!(d.table_sizes(), [8, 0]);
        assert_eq!(d.len(), 5);
        d.check_invariants();
    }

    #[test]
    fn forbidden_resize_grows_only_past_ratio_five() {
        let _g = flag_lock();
        let mut d = D::new();
        set_resize_allowed(false);
        // The first allocation is not a resize.
        for i in 0..24 {
            d.insert(key(i), 0);
        }
        assert_eq!(
            d.table_sizes(),
            [4, 0],
            "24/4 = 6 elements per bucket, but 6 > 5 only checked with used 24"
        );
        d.insert(key(24), 0); // used 24, 24/4 = 6 > 5: forced growth
        assert!(d.is_rehashing());
        assert_eq!(d.table_sizes(), [4, 32]);
        finish_rehash(&mut d);
        // No shrink while forbidden.
        for i in 0..24 {
            d.remove(&key(i));
        }
        assert!(d.needs_resize());
        assert!(!d.resize_if_needed());
        set_resize_allowed(true);
        assert!(d.resize_if_needed());
        finish_rehash(&mut d);
        assert_eq!(d.table_sizes(), [4, 0]);
        d.check_invariants();
    }

    #[test]
    fn forbidden_resize_boundary() {
        let _g = flag_lock();
        set_resize_allowed(false);
        let mut d = D::new();
        for i in 0..8 {
            d.insert(key(i), 0);
        }
        set_resize_allowed(true);
        d.insert(key(8), 0); // 8 >= 4: grows (to 16: next pow2 of 9)
        assert_eq!(d.table_sizes(), [4, 16]);
    }

    /// The rule of Redis's dictExpandAllowed at its boundary: the memory
    /// check is asked up to a load factor of 1.618 inclusive (in doubles),
    /// with the bytes of the next power-of-two bucket array; past it the
    /// table grows without asking.
    #[test]
    fn growth_rule_boundary() {
        let slot = mem::size_of::<Slot<Vec<u8>, u32>>();
        assert_eq!(slot, 8, "a bucket is one pointer, like dictEntry*");
        let ask = |used: usize, size: usize, answer: bool| {
            let mut asked = None;
            let ok = growth_allowed::<Vec<u8>, u32>(used, size, |b| {
                asked = Some(b);
                answer
            });
            (ok, asked)
        };
        // 65,536 keys in 65,536 buckets: 131,072 new buckets, 1 MiB.
        assert_eq!(ask(65_536, 65_536, false), (false, Some(131_072 * slot)));
        assert_eq!(ask(65_536, 65_536, true), (true, Some(131_072 * slot)));
        // 106,037 / 65,536 = 1.61799 is not above 1.618: still asked.
        assert_eq!(ask(106_037, 65_536, false), (false, Some(131_072 * slot)));
        // 106,038 / 65,536 = 1.61801: grows without asking.
        assert_eq!(ask(106_038, 65_536, false), (true, None));
        assert!(!ask(1_618, 1_000, false).0);
        assert!(ask(1_619, 1_000, false).0);
        // No overflow for absurd counts: the request saturates.
        assert_eq!(
            ask(usize::MAX - 1, usize::MAX, false),
            (false, Some(usize::MAX))
        );
    }

    #[test]
    fn guarded_insert_waits_for_memory_or_load_factor() {
        let _g = flag_lock();
        let mut d = D::new();
        for i in 0..8 {
            d.insert(key(i), 0);
        }
        finish_rehash(&mut d);
        assert_eq!(d.table_sizes(), [8, 0]);
        // Refused: used 8..=12 in 8 buckets (load factor up to 1.5) keep the
        // table, each insert asking for 16 buckets' worth of bytes.
        let mut asked = Vec::new();
        for i in 8..13 {
            d.insert_guarded(key(i), 0, |b| {
                asked.push(b);
                false
            });
            assert_eq!(d.table_sizes(), [8, 0], "insert with used {i}");
        }
        assert_eq!(asked, vec![16 * 8; 5]);
        // A replace never grows and never asks.
        assert_eq!(d.insert_guarded(key(0), 1, |_| unreachable!()), Some(0));
        // used 13: 13 / 8 = 1.625 > 1.618, grows (to 16) without asking.
        d.insert_guarded(key(13), 0, |_| unreachable!());
        assert_eq!(d.table_sizes(), [8, 16]);
        d.check_invariants();
        finish_rehash(&mut d);
        assert_eq!(d.len(), 14);
        // While rehashing nothing asks; with the memory granted it grows at
        // load factor 1, exactly like an unguarded insert.
        for i in 14..16 {
            d.insert_guarded(key(i), 0, |_| unreachable!());
        }
        let mut hashed = D::new();
        for i in 0..16 {
            hashed.insert(key(i), 0);
        }
        finish_rehash(&mut hashed);
        let h = hash_key(&key(16));
        d.insert_with_hash_guarded(h, key(16), 0, |b| b == 32 * 8);
        hashed.insert(key(16), 0);
        assert_eq!(d.table_sizes(), [16, 32]);
        assert_eq!(hashed.table_sizes(), [16, 32]);
        // The first table of an empty dict is never refused.
        let mut e = D::new();
        e.insert_guarded(key(0), 0, |_| unreachable!());
        assert_eq!(e.table_sizes(), [4, 0]);
        d.check_invariants();
    }

    #[test]
    fn guarded_insert_still_grows_past_ratio_five_while_resize_forbidden() {
        let _g = flag_lock();
        set_resize_allowed(false);
        let mut d = D::new();
        let mut asked = 0;
        // Forbidden resize: no growth up to 24 entries in 4 buckets; the
        // guard is never even asked (the fork rule alone holds the table).
        for i in 0..24 {
            d.insert_guarded(key(i), 0, |_| {
                asked += 1;
                false
            });
        }
        assert_eq!(d.table_sizes(), [4, 0]);
        // used 24: 24 / 4 = 6 > 5, a load factor far past 1.618: grows
        // although the guard would refuse.
        d.insert_guarded(key(24), 0, |_| {
            asked += 1;
            false
        });
        assert_eq!(d.table_sizes(), [4, 32]);
        assert_eq!(asked, 0);
        d.check_invariants();
    }

    #[test]
    fn shrinks_below_ten_percent() {
        let _g = flag_lock();
        let mut d = D::new();
        for i in 0..100 {
            d.insert(key(i), i as u32);
        }
        finish_rehash(&mut d);
        assert_eq!(d.table_sizes(), [128, 0]);
        assert!(!d.needs_resize());
        for i in 0..88 {
            d.remove(&key(i));
        }
        // 12 of 128 = 9.4%: shrink to next_pow2(12) = 16.
        assert!(d.needs_resize());
        assert!(d.resize_if_needed());
        assert_eq!(d.table_sizes(), [128, 16]);
        assert!(!d.resize_if_needed(), "already rehashing");
        d.check_invariants();
        assert_eq!(d.rehash_for(1000), 0); // one batch finishes it
        assert_eq!(d.table_sizes(), [16, 0]);
        for i in 88..100 {
            assert_eq!(d.get(&key(i)), Some(&(i as u32)));
        }
        d.check_invariants();
        // Small tables are never shrunk below 4 buckets.
        let mut e = D::new();
        e.insert(key(1), 1);
        assert!(!e.needs_resize());
        // An emptied big table goes straight to 4 buckets.
        for i in 88..100 {
            d.remove(&key(i));
        }
        assert!(d.resize_if_needed());
        assert_eq!(d.table_sizes(), [4, 0]);
    }

    #[test]
    fn expand_rules() {
        let _g = flag_lock();
        let mut d = D::with_capacity(1000);
        assert_eq!(d.table_sizes(), [1024, 0]);
        for i in 0..10 {
            d.insert(key(i), 0);
        }
        assert!(!d.expand(5), "smaller than the element count");
        assert!(!d.expand(1000), "same size");
        assert!(d.expand(2000));
        assert!(!d.expand(4000), "already rehashing");
        finish_rehash(&mut d);
        assert_eq!(d.table_sizes(), [2048, 0]);
        assert!(!d.expand(usize::MAX), "no power of two that large");
        assert!(!d.expand(usize::MAX / 2), "allocation failure is reported");
        assert_eq!(D::with_capacity(usize::MAX).buckets(), 0);
        d.check_invariants();
    }

    #[test]
    fn new_entries_go_to_chain_head() {
        let _g = flag_lock();
        let mut d = D::new();
        d.insert(b"seed".to_vec(), 0);
        let bucket = |k: &[u8]| hash_key(k) & 3;
        let target = bucket(b"seed");
        let mut same = Vec::new();
        let mut i = 0;
        while same.len() < 2 {
            let k = key(i);
            if bucket(&k) == target {
                same.push(k);
            }
            i += 1;
        }
        d.insert(same[0].clone(), 1);
        d.insert(same[1].clone(), 2);
        assert_eq!(d.table_sizes(), [4, 0]);
        let mut order = Vec::new();
        d.scan(target, |k, _| order.push(k.clone()));
        assert_eq!(
            order,
            vec![same[1].clone(), same[0].clone(), b"seed".to_vec()]
        );
    }

    #[test]
    fn rehash_step_bounded_by_empty_visits() {
        let _g = flag_lock();
        let mut d = D::with_capacity(1 << 12);
        // One key near the end of a big sparse table.
        let mut i = 0;
        let k = loop {
            let k = key(i);
            if hash_key(&k) as usize & ((1 << 12) - 1) > 3000 {
                break k;
            }
            i += 1;
        };
        d.insert(k.clone(), 1);
        assert!(d.resize());
        assert_eq!(d.table_sizes(), [4096, 4]);
        // Each single step may only skip 10 empty buckets.
        assert!(d.rehash(1));
        assert_eq!(d.rehashidx, 10);
        assert!(d.rehash(5));
        assert_eq!(d.rehashidx, 60);
        d.check_invariants();
        assert_eq!(d.peek(&k), Some(&1));
        assert!(!d.rehash(1_000));
        assert_eq!(d.table_sizes(), [4, 0]);
        assert_eq!(d.peek(&k), Some(&1));
    }

    #[test]
    fn iteration_covers_both_tables() {
        let _g = flag_lock();
        let mut d = D::new();
        for i in 0..1000 {
            d.insert(key(i), i as u32);
        }
        d.expand(4096);
        assert!(d.rehash(10));
        let it = d.iter();
        assert_eq!(it.len(), 1000);
        let got: HashMap<Vec<u8>, u32> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got.len(), 1000);
        for (_, v) in d.iter_mut() {
            *v += 1;
        }
        for (k, v) in &d {
            assert_eq!(got[k] + 1, *v);
        }
        assert_eq!((&mut d).into_iter().count(), 1000);
        assert_eq!(format!("{:?}", D::new()), "{}");
    }

    #[test]
    fn scan_visits_everything_once_when_stable() {
        for n in [0usize, 1, 3, 4, 5, 17, 100, 1000] {
            let mut d = D::new();
            for i in 0..n {
                d.insert(key(i), 0);
            }
            for rehashing in [true, false] {
                if !rehashing {
                    finish_rehash(&mut d);
                }
                let mut seen = Vec::new();
                let mut cursor = 0;
                loop {
                    cursor = d.scan(cursor, |k, _| seen.push(k.clone()));
                    if cursor == 0 {
                        break;
                    }
                }
                let uniq: HashSet<_> = seen.iter().cloned().collect();
                assert_eq!(uniq.len(), n);
                if !d.is_rehashing() {
                    assert_eq!(seen.len(), n, "no duplicates without resizes");
                }
            }
        }
    }

    #[test]
    fn scan_accepts_any_cursor() {
        let mut d = D::new();
        for i in 0..300 {
            d.insert(key(i), 0);
        }
        for c in [u64::MAX, 1 << 63, 12345678901234, 7] {
            let mut n = 0;
            let next = d.scan(c, |_, _| n += 1);
            let _ = next;
        }
        assert_eq!(D::new().scan(99, |_, _| unreachable!()), 0);
    }

    #[test]
    fn scan_mut_and_remove_if() {
        let mut d = D::new();
        for i in 0..500 {
            d.insert(key(i), i as u32);
        }
        let mut cursor = 0;
        loop {
            cursor = d.scan_mut(cursor, |_, v| *v *= 2);
            if cursor == 0 {
                break;
            }
        }
        let mut removed = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan_remove_if(cursor, |_, v| *v % 4 != 0, |k, v| removed.push((k, v)));
            d.check_invariants();
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(removed.len(), 250);
        assert_eq!(d.len(), 250);
        for (k, v) in &removed {
            assert_eq!(v % 4, 0);
            assert_eq!(d.peek(k), None);
        }
        for (_, v) in d.iter() {
            assert_eq!(v % 4, 2);
        }
    }

    #[test]
    fn sampling() {
        let mut d = D::new();
        assert_eq!(d.sample(5, |_, _| unreachable!()), 0);
        assert!(d.random_entry().is_none());
        for i in 0..3 {
            d.insert(key(i), i as u32);
        }
        let mut got = Vec::new();
        // Asking for more than len returns at most len distinct entries.
        let n = d.sample(10, |k, _| got.push(k.clone()));
        assert_eq!(n, got.len());
        assert!(n <= 3);
        for i in 3..2000 {
            d.insert(key(i), i as u32);
        }
        for _ in 0..50 {
            let mut got = Vec::new();
            let n = d.sample(16, |k, v| got.push((k.clone(), *v)));
            assert_eq!(n, got.len());
            assert!(n <= 16 && n > 0);
            // A dense table yields distinct entries: no wrap-around.
            let uniq: HashSet<_> = got.iter().map(|(k, _)| k).collect();
            assert_eq!(uniq.len(), n);
            for (k, v) in got {
                assert_eq!(d.peek(&k), Some(&v));
            }
        }
        d.check_invariants();
    }

    #[test]
    fn random_entry_reaches_every_key() {
        let mut d = D::new();
        for i in 0..40 {
            d.insert(key(i), i as u32);
        }
        let mut seen = HashSet::new();
        for _ in 0..5000 {
            let (k, v) = d.random_entry().unwrap();
            assert_eq!(*k, key(*v as usize));
            seen.insert(*v);
        }
        assert_eq!(seen.len(), 40);
        // Also while rehashing, and via the bucket-picking fallback.
        let mut d = D::new();
        for i in 0..9 {
            d.insert(key(i), i as u32);
        }
        d.expand(64);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let e = d.random_bucket_entry().unwrap();
            seen.insert(e.value);
        }
        assert_eq!(seen.len(), 9);
        assert!(d.random_entry().is_some());
    }

    #[test]
    fn get_or_insert_with_hashes_once_and_inserts_once() {
        let mut d = D::new();
        let (v, inserted) = d.get_or_insert_with(b"x", || (b"x".to_vec(), 1));
        assert!(inserted);
        *v += 1;
        let (v, inserted) = d.get_or_insert_with(b"x", || unreachable!());
        assert!(!inserted);
        assert_eq!(*v, 2);
        for i in 0..1000 {
            let (v, inserted) = d.get_or_insert_with(&key(i % 500), || (key(i % 500), 0));
            assert_eq!(inserted, i < 500);
            *v += 1;
        }
        assert_eq!(d.len(), 501);
        assert!(d.iter().all(|(k, v)| k == b"x" || *v == 2));
        d.check_invariants();
    }

    #[test]
    fn mem_usage_tracks_size() {
        let mut d = D::new();
        let empty = d.mem_usage();
        for i in 0..100 {
            d.insert(key(i), 0);
        }
        assert!(d.mem_usage() >= empty + 100 * mem::size_of::<Entry<Vec<u8>, u32>>());
    }

    #[test]
    fn drop_releases_values() {
        use std::rc::Rc;
        let tracker = Rc::new(());
        let mut d: Dict<Vec<u8>, Rc<()>> = Dict::new();
        for i in 0..300 {
            d.insert(key(i), tracker.clone());
        }
        assert_eq!(Rc::strong_count(&tracker), 301);
        d.remove(&key(0));
        assert_eq!(Rc::strong_count(&tracker), 300);
        d.clear();
        assert_eq!(Rc::strong_count(&tracker), 1);
        for i in 0..300 {
            d.insert(key(i), tracker.clone());
        }
        assert!(d.is_rehashing());
        drop(d);
        assert_eq!(Rc::strong_count(&tracker), 1);
    }

    // ---------------------------------------------------------------------
    // Model-based tests.

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        InsertGuarded(u8, u32, bool),
        Add(u8, u32),
        Remove(u8),
        Get(u8),
        GetMut(u8, u32),
        GetOrInsert(u8, u32),
        Clear,
        ResizeIfNeeded,
        RehashFor(u64),
        Rehash(usize),
        Expand(usize),
        Sample(usize),
        RandomEntry,
        RemoveIfScan(u64, u32),
        Retain(u32),
        AllowResize(bool),
    }

    /// Small key space with varied lengths, so hits, misses and chains mix.
    fn model_key(k: u8) -> Vec<u8> {
        let mut v = vec![b'k'; usize::from(k % 11)];
        v.push(k);
        v
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = 0u8..64;
        prop_oneof![
            8 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            4 => (k.clone(), any::<u32>(), any::<bool>())
                .prop_map(|(k, v, g)| Op::InsertGuarded(k, v, g)),
            3 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Add(k, v)),
            7 => k.clone().prop_map(Op::Remove),
            3 => k.clone().prop_map(Op::Get),
            2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            2 => (k, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            1 => Just(Op::Clear),
            3 => Just(Op::ResizeIfNeeded),
            1 => (0u64..2).prop_map(Op::RehashFor),
            2 => (0usize..3).prop_map(Op::Rehash),
            1 => (0usize..200).prop_map(Op::Expand),
            1 => (0usize..20).prop_map(Op::Sample),
            1 => Just(Op::RandomEntry),
            1 => (any::<u64>(), 2u32..5).prop_map(|(c, m)| Op::RemoveIfScan(c, m)),
            1 => (5u32..9).prop_map(Op::Retain),
            1 => any::<bool>().prop_map(Op::AllowResize),
        ]
    }

    fn check_against(d: &D, model: &HashMap<Vec<u8>, u32>) {
        d.check_invariants();
        assert_eq!(d.len(), model.len());
        for (k, v) in model {
            assert_eq!(d.peek(k), Some(v), "key {k:?}");
        }
        let mut n = 0;
        for (k, v) in d.iter() {
            assert_eq!(model.get(k), Some(v));
            n += 1;
        }
        assert_eq!(n, model.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn model_matches_hashmap(ops in proptest::collection::vec(op(), 1..300)) {
            let _g = flag_lock();
            let mut d = D::new();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let k = model_key(k);
                        prop_assert_eq!(d.insert(k.clone(), v), model.insert(k, v));
                    }
                    Op::InsertGuarded(k, v, grant) => {
                        let k = model_key(k);
                        let got = d.insert_guarded(k.clone(), v, |_| grant);
                        let added = got.is_none();
                        prop_assert_eq!(got, model.insert(k, v));
                        // A refused growth never lets the load factor pass
                        // the bound by more than the entry just added.
                        if added && !d.is_rehashing() && !grant && resize_allowed() {
                            let size = d.table_sizes()[0];
                            prop_assert!(d.len() as f64 <= size as f64 * DICT_MAX_LOAD_FACTOR + 1.0);
                        }
                    }
                    Op::Add(k, v) => {
                        let k = model_key(k);
                        let want = if model.contains_key(&k) {
                            Err((k.clone(), v))
                        } else {
                            model.insert(k.clone(), v);
                            Ok(())
                        };
                        prop_assert_eq!(d.add(k, v), want);
                    }
                    Op::Remove(k) => {
                        let k = model_key(k);
                        let want = model.remove(&k).map(|v| (k.clone(), v));
                        prop_assert_eq!(d.remove(&k), want);
                    }
                    Op::Get(k) => {
                        let k = model_key(k);
                        prop_assert_eq!(d.get(&k), model.get(&k));
                    }
                    Op::GetMut(k, v) => {
                        let k = model_key(k);
                        match (d.get_mut(&k), model.get_mut(&k)) {
                            (Some(a), Some(b)) => {
                                *a = v;
                                *b = v;
                            }
                            (None, None) => {}
                            (a, b) => prop_assert!(false, "get_mut {:?} vs {:?}", a, b),
                        }
                    }
                    Op::GetOrInsert(k, v) => {
                        let k = model_key(k);
                        let existed = model.contains_key(&k);
                        let want = *model.entry(k.clone()).or_insert(v);
                        let (got, inserted) = d.get_or_insert_with(&k, || (k.clone(), v));
                        prop_assert_eq!(*got, want);
                        prop_assert_eq!(inserted, !existed);
                    }
                    Op::Clear => {
                        d.clear();
                        model.clear();
                    }
                    Op::ResizeIfNeeded => {
                        let needed = d.needs_resize();
                        let started = d.resize_if_needed();
                        if started {
                            prop_assert!(needed);
                        }
                    }
                    Op::RehashFor(us) => {
                        d.rehash_for(us);
                    }
                    Op::Rehash(n) => {
                        d.rehash(n);
                    }
                    Op::Expand(n) => {
                        d.expand(n);
                    }
                    Op::Sample(n) => {
                        let mut got = Vec::new();
                        let c = d.sample(n, |k, v| got.push((k.clone(), *v)));
                        prop_assert_eq!(c, got.len());
                        prop_assert!(c <= n.min(model.len()));
                        for (k, v) in got {
                            prop_assert_eq!(model.get(&k), Some(&v));
                        }
                    }
                    Op::RandomEntry => {
                        match d.random_entry() {
                            Some((k, v)) => prop_assert_eq!(model.get(k), Some(v)),
                            None => prop_assert!(model.is_empty()),
                        }
                    }
                    Op::RemoveIfScan(cursor, m) => {
                        let mut removed = Vec::new();
                        d.scan_remove_if(cursor, |_, v| *v % m != 0, |k, v| removed.push((k, v)));
                        for (k, v) in removed {
                            prop_assert_eq!(v % m, 0);
                            prop_assert_eq!(model.remove(&k), Some(v));
                        }
                    }
                    Op::Retain(m) => {
                        d.retain(|_, v| *v % m != 0);
                        model.retain(|_, v| *v % m != 0);
                    }
                    Op::AllowResize(b) => set_resize_allowed(b),
                }
                check_against(&d, &model);
            }
        }

        /// Keys present for the whole scan are all reported, while other keys
        /// come and go and the table grows, shrinks and rehashes between calls.
        #[test]
        fn scan_survives_resizes(
            stable in 1usize..200,
            churn_ops in proptest::collection::vec((0u8..6, 0usize..400), 0..400),
        ) {
            let _g = flag_lock();
            let mut d = D::new();
            let stable_key = |i: usize| format!("stable:{i}").into_bytes();
            let churn_key = |i: usize| format!("churn:{i}").into_bytes();
            for i in 0..stable {
                d.insert(stable_key(i), 0);
            }
            let mut seen = HashSet::new();
            let mut cursor = 0u64;
            let mut ops = churn_ops.into_iter();
            let mut calls = 0;
            loop {
                cursor = d.scan(cursor, |k, _| {
                    seen.insert(k.clone());
                });
                calls += 1;
                prop_assert!(calls < 100_000, "scan did not terminate");
                if cursor == 0 {
                    break;
                }
                // Between calls: a burst of changes that make the table
                // grow (many inserts) or shrink (many removes + resize).
                if let Some((kind, n)) = ops.next() {
                    match kind {
                        0 => for i in 0..n { d.insert(churn_key(i), 1); },
                        1 => {
                            for i in 0..n { d.remove(&churn_key(i)); }
                            d.resize_if_needed();
                        }
                        2 => { d.rehash(n % 7); }
                        3 => { d.expand(n * 8); }
                        4 => { d.resize_if_needed(); }
                        _ => { d.rehash_for(1); }
                    }
                }
            }
            for i in 0..stable {
                prop_assert!(seen.contains(&stable_key(i)), "missed stable key {}", i);
            }
            for k in &seen {
                prop_assert!(k.starts_with(b"stable:") || k.starts_with(b"churn:"));
            }
            d.check_invariants();
        }
    }
}
