//! The sets type: its two encodings, the conversion between them, and the operations the set
//! commands are built from (Redis 7.0's t_set.c `setType*` API). This file is the only place
//! that knows how a set is encoded; src/commands/set.rs only calls the methods here.
//!
//! ```text
//!  Value::Set(Box<Set>)            one heap block of 32 bytes (a 32-byte jemalloc class)
//!        |
//!        v
//!  Set = one of
//!  +-----+------------------------------------------------------------+
//!  | tag | Inline: a whole intset blob, up to 31 bytes, in place       |  "intset"
//!  +-----+------------------------------------------------------------+
//!        | enc u32 LE | len u32 LE | len members of enc bytes, sorted  |
//!        |   2/4/8    |            | (up to 11 x i16, 5 x i32, 2 x i64) |
//!
//!  +-----+---------+------------------+
//!  | tag | (pad)   | Intset(IntSet)   |--> heap Vec: the same blob, any size   "intset"
//!  +-----+---------+------------------+
//!
//!  +-----+---------+------------------+
//!  | tag | (pad)   | Hash(Box<Dict>)  |--> Dict<Sds, ()>: members are keys     "hashtable"
//!  +-----+---------+------------------+
//! ```
//!
//! Encodings follow Redis 7.0 exactly, because clients can see them (OBJECT ENCODING, DEBUG
//! OBJECT, RDB types, reply order of SMEMBERS): a set starts as an intset when its first member
//! is an integer by `string2ll`'s rules, else as a hash table; adding a non-integer, or growing
//! past `set-max-intset-entries`, converts it to a hash table once and for all (removals never
//! convert back). 7.0 has no listpack sets.
//!
//! "Inline" and "Intset" are one encoding in two places: small intsets live inside the `Set`
//! itself, so a set of ten small integers costs a single 32-byte allocation (Redis pays a
//! 16-byte robj plus a 32-byte intset), which keeps 100,000 such keys within Redis's memory.
//! The blob layout is Redis's either way, so DUMP/RDB read it as bytes without conversion
//! ([`Set::intset_blob`]).

use crate::ds::dict::Dict;
use crate::ds::intset::IntSet;
use crate::ds::sds::Sds;
use crate::util::num::{fmt_i64, parse_i64};
use crate::util::rand;

/// Bytes of intset blob a `Set` holds without a heap block (header included).
const INLINE_CAP: usize = 31;
/// Intset header: encoding (u32 LE) then length (u32 LE).
const HEADER: usize = 8;
/// Redis 7.0 caps the intset limit at 2^30 entries whatever `set-max-intset-entries` says
/// ("limit to 1G entries due to intset internals").
const INTSET_HARD_LIMIT: u64 = 1 << 30;
/// Elements MEMORY USAGE samples in a hash table set (Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const SIZE_SAMPLES: usize = 5;

/// One member as a set stores it: an integer of an intset, or the bytes of a hash table key.
/// Commands reply with either form without converting (addReplyBulkLongLong vs CBuffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a hash table set.
    Str(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes, formatting integers into `tmp` (what a client sees).
    #[inline]
    pub fn bytes<'b>(&self, tmp: &'b mut [u8; 20]) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Member::Int(v) => fmt_i64(v, tmp),
            Member::Str(s) => s,
        }
    }

    /// An owned copy, for results that outlive the borrow of the set.
    pub fn owned(&self) -> OwnedMember {
        match *self {
            Member::Int(v) => OwnedMember::Int(v),
            Member::Str(s) => OwnedMember::Str(Sds::from_slice(s)),
        }
    }
}

/// A member taken out of a set (SPOP), or copied so the set can change meanwhile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedMember {
    /// An intset member.
    Int(i64),
    /// A hash table member (the key it was stored under, moved out without copying).
    Str(Sds),
}

impl OwnedMember {
    /// Borrows it as a [`Member`].
    #[inline]
    pub fn as_member(&self) -> Member<'_> {
        match self {
            OwnedMember::Int(v) => Member::Int(*v),
            OwnedMember::Str(s) => Member::Str(s.as_bytes()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading intset blobs (both the inline and the heap copy use Redis's byte layout).

/// The u32 at `off` (callers keep `off + 4 <= b.len()`; blobs always have their header).
#[inline]
fn read_u32(b: &[u8], off: usize) -> usize {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a) as usize
}

/// Bytes per member of blob `b`.
#[inline]
fn blob_enc(b: &[u8]) -> usize {
    read_u32(b, 0)
}

/// Member count of blob `b`.
#[inline]
fn blob_len(b: &[u8]) -> usize {
    read_u32(b, 4)
}

/// Member `i` of blob `b` (0 when out of range, which callers never ask for).
#[inline]
fn blob_get(b: &[u8], i: usize, enc: usize) -> i64 {
    let off = HEADER + i * enc;
    match (enc, b.get(off..off + enc)) {
        (2, Some(s)) => i64::from(i16::from_le_bytes([s[0], s[1]])),
        (4, Some(s)) => i64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        (8, Some(s)) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            i64::from_le_bytes(a)
        }
        _ => 0,
    }
}

/// Writes `v` as member `i` (which must be within the blob) at width `enc`.
#[inline]
fn blob_put(b: &mut [u8], i: usize, enc: usize, v: i64) {
    let off = HEADER + i * enc;
    if let Some(s) = b.get_mut(off..off + enc) {
        match enc {
            2 => s.copy_from_slice(&(v as i16).to_le_bytes()),
            4 => s.copy_from_slice(&(v as i32).to_le_bytes()),
            _ => s.copy_from_slice(&v.to_le_bytes()),
        }
    }
}

/// Narrowest member width for `v` (`_intsetValueEncoding`).
#[inline]
fn value_enc(v: i64) -> usize {
    if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
        8
    } else if v < i64::from(i16::MIN) || v > i64::from(i16::MAX) {
        4
    } else {
        2
    }
}

/// Binary search for `v` in a blob whose encoding holds `v`: `Ok(index)` or `Err(insert at)`.
#[inline]
fn blob_search(b: &[u8], v: i64) -> Result<usize, usize> {
    let enc = blob_enc(b);
    let (mut lo, mut hi) = (0usize, blob_len(b));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let x = blob_get(b, mid, enc);
        if x == v {
            return Ok(mid);
        }
        if x < v {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Err(lo)
}

/// Ascending iterator over a blob's members.
#[derive(Clone)]
struct BlobIter<'a> {
    blob: &'a [u8],
    enc: usize,
    next: usize,
    end: usize,
}

impl<'a> BlobIter<'a> {
    fn new(blob: &'a [u8]) -> BlobIter<'a> {
        BlobIter {
            blob,
            enc: blob_enc(blob),
            next: 0,
            end: blob_len(blob),
        }
    }
}

impl Iterator for BlobIter<'_> {
    type Item = i64;
    #[inline]
    fn next(&mut self) -> Option<i64> {
        if self.next >= self.end {
            return None;
        }
        let v = blob_get(self.blob, self.next, self.enc);
        self.next += 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

// ---------------------------------------------------------------------------------------------
// The inline intset.

/// A small intset stored in place: `buf` starts with a well-formed blob of
/// `8 + len * enc <= INLINE_CAP` bytes; the rest of `buf` is unused.
#[derive(Clone)]
struct Inline {
    buf: [u8; INLINE_CAP],
}

/// What an inline add did.
enum InlineAdd {
    Added,
    Present,
    /// The value needs a wider encoding or there is no room: move to the heap.
    Spill,
}

impl Inline {
    /// The empty 16-bit intset.
    fn new() -> Inline {
        let mut buf = [0u8; INLINE_CAP];
        buf[0] = 2;
        Inline { buf }
    }

    /// Copies `blob` in when it fits.
    fn from_blob(blob: &[u8]) -> Option<Inline> {
        if blob.len() > INLINE_CAP {
            return None;
        }
        let mut buf = [0u8; INLINE_CAP];
        buf[..blob.len()].copy_from_slice(blob);
        Some(Inline { buf })
    }

    #[inline]
    fn len(&self) -> usize {
        blob_len(&self.buf)
    }

    #[inline]
    fn blob_bytes(&self) -> usize {
        HEADER + self.len() * blob_enc(&self.buf)
    }

    /// The blob, exactly as Redis would hold it.
    #[inline]
    fn blob(&self) -> &[u8] {
        &self.buf[..self.blob_bytes().min(INLINE_CAP)]
    }

    #[inline]
    fn set_len(&mut self, n: usize) {
        self.buf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }

    #[inline]
    fn contains(&self, v: i64) -> bool {
        value_enc(v) <= blob_enc(&self.buf) && blob_search(self.blob(), v).is_ok()
    }

    fn add(&mut self, v: i64) -> InlineAdd {
        let enc = blob_enc(&self.buf);
        if value_enc(v) > enc {
            return InlineAdd::Spill;
        }
        let end = self.blob_bytes();
        let pos = match blob_search(self.blob(), v) {
            Ok(_) => return InlineAdd::Present,
            Err(p) => p,
        };
        if end + enc > INLINE_CAP {
            return InlineAdd::Spill;
        }
        let off = HEADER + pos * enc;
        self.buf.copy_within(off..end, off + enc);
        let n = self.len();
        self.set_len(n + 1);
        blob_put(&mut self.buf, pos, enc, v);
        InlineAdd::Added
    }

    fn remove_at(&mut self, pos: usize) {
        let enc = blob_enc(&self.buf);
        let end = self.blob_bytes();
        let off = HEADER + pos * enc;
        if off + enc > end {
            return;
        }
        self.buf.copy_within(off + enc..end, off);
        let n = self.len();
        self.set_len(n - 1);
    }

    fn remove(&mut self, v: i64) -> bool {
        if value_enc(v) > blob_enc(&self.buf) {
            return false;
        }
        match blob_search(self.blob(), v) {
            Ok(pos) => {
                self.remove_at(pos);
                true
            }
            Err(_) => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The set.

/// Where a set's members live; see the module comment.
enum Repr {
    /// A small intset inside the `Set`.
    Inline(Inline),
    /// An intset too big (or too wide) to fit inline.
    Intset(IntSet),
    /// The hash table encoding: members are keys, values are unit.
    Hash(Box<Dict<Sds, ()>>),
}

/// A set value (OBJ_SET): intset or hash table encoded, as Redis 7.0 chooses.
pub struct Set {
    repr: Repr,
}

/// The effective intset limit for a `set-max-intset-entries` value.
#[inline]
fn intset_limit(max: u64) -> usize {
    max.min(INTSET_HARD_LIMIT) as usize
}

impl Set {
    /// An empty intset-encoded set (createIntsetObject): the start of every SINTERSTORE,
    /// SUNION and SDIFF result.
    pub fn new_intset() -> Set {
        Set {
            repr: Repr::Inline(Inline::new()),
        }
    }

    /// An empty hash table set (createSetObject).
    pub fn new_hashtable() -> Set {
        Set {
            repr: Repr::Hash(Box::default()),
        }
    }

    /// An empty hash table set pre-sized for `n` members (RDB load of a big set, conversion),
    /// so filling it never rehashes.
    pub fn hashtable_with_capacity(n: usize) -> Set {
        Set {
            repr: Repr::Hash(Box::new(Dict::with_capacity(n))),
        }
    }

    /// The empty set that can hold `first` (setTypeCreate): an intset when `first` is an
    /// integer by string2ll's rules, else a hash table. The caller then adds `first`.
    pub fn for_first_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::new_intset()
        } else {
            Set::new_hashtable()
        }
    }

    /// Adopts an intset blob from an RDB file or RESTORE payload (RDB_TYPE_SET_INTSET) after a
    /// full integrity check, converting to a hash table when it holds more than `max_intset`
    /// members (as rdbLoadObject does). `None` for a malformed or empty blob.
    pub fn from_intset_blob(blob: Vec<u8>, max_intset: u64) -> Option<Set> {
        let is = IntSet::from_bytes(blob)?;
        let mut s = match Inline::from_blob(is.as_bytes()) {
            Some(i) => Set {
                repr: Repr::Inline(i),
            },
            None => Set {
                repr: Repr::Intset(is),
            },
        };
        if s.len() > intset_limit(max_intset) {
            s.convert_to_hashtable();
        }
        Some(s)
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding_name(&self) -> &'static str {
        match self.repr {
            Repr::Inline(_) | Repr::Intset(_) => "intset",
            Repr::Hash(_) => "hashtable",
        }
    }

    /// True for the intset encoding (RDB type 11, ascending iteration, integer members).
    #[inline]
    pub fn is_intset(&self) -> bool {
        !matches!(self.repr, Repr::Hash(_))
    }

    /// The intset blob in Redis's exact layout (DUMP, RDB save, DEBUG), or None for a hash table.
    pub fn intset_blob(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Inline(i) => Some(i.blob()),
            Repr::Intset(is) => Some(is.as_bytes()),
            Repr::Hash(_) => None,
        }
    }

    /// Number of members (SCARD).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Inline(i) => i.len(),
            Repr::Intset(is) => is.len(),
            Repr::Hash(d) => d.len(),
        }
    }

    /// True when empty (never stored: the last removal deletes the key).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned beyond the `Set` itself (MEMORY USAGE, DEBUG OBJECT). A hash table
    /// set is estimated from a few members like Redis's objectComputeSize, so the answer
    /// costs O(1) whatever the set's size.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Inline(_) => 0,
            Repr::Intset(is) => is.allocated_bytes(),
            Repr::Hash(d) => {
                let n = d.len();
                let mut sampled = 0usize;
                let mut bytes = 0usize;
                for (k, _) in d.iter().take(SIZE_SAMPLES) {
                    bytes += k.heap_size();
                    sampled += 1;
                }
                let keys = bytes.checked_div(sampled).unwrap_or(0) * n;
                d.mem_usage() + keys
            }
        }
    }

    /// A deep copy with the same encoding (setTypeDup, for COPY).
    pub fn duplicate(&self) -> Set {
        let repr = match &self.repr {
            Repr::Inline(i) => Repr::Inline(i.clone()),
            Repr::Intset(is) => Repr::Intset(is.clone()),
            Repr::Hash(d) => {
                let mut nd = Dict::with_capacity(d.len());
                for (k, _) in d.iter() {
                    nd.insert(k.clone(), ());
                }
                Repr::Hash(Box::new(nd))
            }
        };
        Set { repr }
    }

    /// Converts an intset to a hash table (setTypeConvert), pre-sized for its members.
    /// A hash table stays as it is.
    pub fn convert_to_hashtable(&mut self) {
        let d = {
            let blob = match &self.repr {
                Repr::Inline(i) => i.blob(),
                Repr::Intset(is) => is.as_bytes(),
                Repr::Hash(_) => return,
            };
            let mut d: Dict<Sds, ()> = Dict::with_capacity(blob_len(blob));
            let mut tmp = [0u8; 20];
            for v in BlobIter::new(blob) {
                d.insert(Sds::from_slice(fmt_i64(v, &mut tmp)), ());
            }
            d
        };
        self.repr = Repr::Hash(Box::new(d));
    }

    /// Adds an integer to an intset, moving it to the heap or widening it as needed; then
    /// converts to a hash table if it outgrew `max_intset`. Returns whether it was added.
    fn intset_add(&mut self, v: i64, max_intset: u64) -> bool {
        let added = match &mut self.repr {
            Repr::Inline(i) => match i.add(v) {
                InlineAdd::Added => true,
                InlineAdd::Present => false,
                InlineAdd::Spill => {
                    // Rebuild on the heap through the intset's own upgrade-and-add.
                    let mut is = IntSet::new();
                    is.extend(BlobIter::new(i.blob()));
                    let added = is.add(v);
                    self.repr = Repr::Intset(is);
                    added
                }
            },
            Repr::Intset(is) => is.add(v),
            Repr::Hash(_) => return false,
        };
        if added && self.len() > intset_limit(max_intset) {
            self.convert_to_hashtable();
        }
        added
    }

    /// Adds `member` (setTypeAdd). An intset takes it as an integer when it is one by
    /// string2ll's rules; otherwise the set becomes a hash table first. The set also becomes
    /// a hash table when the add takes it past `max_intset` (set-max-intset-entries).
    /// Returns true when the member was new.
    pub fn add(&mut self, member: &[u8], max_intset: u64) -> bool {
        if let Repr::Hash(d) = &mut self.repr {
            return d
                .get_or_insert_with(member, || (Sds::from_slice(member), ()))
                .1;
        }
        match parse_i64(member) {
            Some(v) => self.intset_add(v, max_intset),
            None => {
                self.convert_to_hashtable();
                match &mut self.repr {
                    Repr::Hash(d) => d.insert(Sds::from_slice(member), ()).is_none(),
                    _ => false,
                }
            }
        }
    }

    /// Adds an integer member (setTypeAdd of its decimal form, without formatting it when
    /// the set is an intset). Returns true when it was new.
    pub fn add_int(&mut self, v: i64, max_intset: u64) -> bool {
        match &mut self.repr {
            Repr::Hash(d) => {
                let mut tmp = [0u8; 20];
                let b = fmt_i64(v, &mut tmp);
                d.get_or_insert_with(b, || (Sds::from_slice(b), ())).1
            }
            _ => self.intset_add(v, max_intset),
        }
    }

    /// Adds a member in either form; see [`Set::add`].
    #[inline]
    pub fn add_member(&mut self, m: Member, max_intset: u64) -> bool {
        match m {
            Member::Int(v) => self.add_int(v, max_intset),
            Member::Str(s) => self.add(s, max_intset),
        }
    }

    /// Removes `member` (setTypeRemove). A hash table shrinks when it falls under 10% full,
    /// as Redis does after each delete. Returns whether it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Hash(d) => {
                if d.remove(member).is_some() {
                    d.resize_if_needed();
                    true
                } else {
                    false
                }
            }
            _ => match parse_i64(member) {
                Some(v) => self.remove_int(v),
                None => false,
            },
        }
    }

    /// Removes an integer member; see [`Set::remove`].
    pub fn remove_int(&mut self, v: i64) -> bool {
        match &mut self.repr {
            Repr::Inline(i) => i.remove(v),
            Repr::Intset(is) => is.remove(v),
            Repr::Hash(d) => {
                let mut tmp = [0u8; 20];
                if d.remove(fmt_i64(v, &mut tmp)).is_some() {
                    d.resize_if_needed();
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Removes a member in either form; see [`Set::remove`].
    #[inline]
    pub fn remove_member(&mut self, m: Member) -> bool {
        match m {
            Member::Int(v) => self.remove_int(v),
            Member::Str(s) => self.remove(s),
        }
    }

    /// Membership test (setTypeIsMember). Takes `&self` so several sets of one database can
    /// be probed together (SINTER); hash tables are read without a rehash step.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Hash(d) => d.peek(member).is_some(),
            _ => match parse_i64(member) {
                Some(v) => self.contains_int(v),
                None => false,
            },
        }
    }

    /// Membership test for an integer (intsetFind, or a lookup of its decimal form).
    pub fn contains_int(&self, v: i64) -> bool {
        match &self.repr {
            Repr::Inline(i) => i.contains(v),
            Repr::Intset(is) => is.contains(v),
            Repr::Hash(d) => {
                let mut tmp = [0u8; 20];
                d.peek(fmt_i64(v, &mut tmp)).is_some()
            }
        }
    }

    /// Membership test for a member in either form.
    #[inline]
    pub fn contains_member(&self, m: Member) -> bool {
        match m {
            Member::Int(v) => self.contains_int(v),
            Member::Str(s) => self.contains(s),
        }
    }

    /// Every member: ascending integers for an intset, bucket order for a hash table.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Inline(i) => IterRepr::Ints(BlobIter::new(i.blob())),
            Repr::Intset(is) => IterRepr::Ints(BlobIter::new(is.as_bytes())),
            Repr::Hash(d) => IterRepr::Keys(d.iter()),
        })
    }

    /// A random member (setTypeRandomElement): uniform for an intset; for a hash table, a
    /// random bucket with rejection sampling (see [`dict_random`]). None when empty.
    pub fn random(&mut self) -> Option<OwnedMember> {
        match &mut self.repr {
            Repr::Inline(i) => {
                let n = i.len();
                (n > 0).then(|| {
                    OwnedMember::Int(blob_get(i.blob(), rand::index(n), blob_enc(i.blob())))
                })
            }
            Repr::Intset(is) => is.get(rand::index(is.len())).map(OwnedMember::Int),
            Repr::Hash(d) => dict_random(d).map(OwnedMember::Str),
        }
    }

    /// Removes and returns a random member (SPOP without count). None when empty.
    pub fn pop_random(&mut self) -> Option<OwnedMember> {
        match &mut self.repr {
            Repr::Inline(i) => {
                let n = i.len();
                if n == 0 {
                    return None;
                }
                let pos = rand::index(n);
                let v = blob_get(i.blob(), pos, blob_enc(i.blob()));
                i.remove_at(pos);
                Some(OwnedMember::Int(v))
            }
            Repr::Intset(is) => {
                let n = is.len();
                if n == 0 {
                    return None;
                }
                is.remove_at(rand::index(n)).map(OwnedMember::Int)
            }
            Repr::Hash(d) => {
                let key = dict_random(d)?;
                let (k, ()) = d.remove(key.as_bytes())?;
                d.resize_if_needed();
                Some(OwnedMember::Str(k))
            }
        }
    }

    /// One SSCAN step (scanGenericCommand's part for sets): an intset hands over every member
    /// and returns cursor 0, whatever the cursor; a hash table visits the bucket(s) at
    /// `cursor` and returns the next cursor (0 at the end).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(Member)) -> u64 {
        match &self.repr {
            Repr::Hash(d) => d.scan(cursor, |k, _| f(Member::Str(k.as_bytes()))),
            _ => {
                for m in self.iter() {
                    f(m);
                }
                0
            }
        }
    }

    /// The hash table, for callers that walk it in bulk (RDB save); None for an intset.
    pub fn dict(&self) -> Option<&Dict<Sds, ()>> {
        match &self.repr {
            Repr::Hash(d) => Some(d),
            _ => None,
        }
    }
}

/// Members of one bucket (chain) that [`dict_random`] samples exactly uniformly. Below the
/// dict's maximum load factor of 1, nearly all chains are this short; members of longer ones
/// are picked a little less often (3/L instead of 1).
const RANDOM_CHAIN_CAP: u64 = 3;
/// Sets up to this size are sampled by the dict itself (Redis's GETFAIR_NUM_ENTRIES: its
/// sample then holds every member).
const SMALL_RANDOM_SET: usize = 15;
/// Random buckets [`dict_random`] tries before it falls back to the dict's own sampler.
const RANDOM_BUCKET_TRIES: usize = 64;

/// A random member of a hash table set, by rejection sampling: pick a uniformly random bucket
/// (a random SCAN cursor visits exactly one bucket, or one group of buckets while rehashing)
/// and a position `p` below [`RANDOM_CHAIN_CAP`]; take the member at `p` if the chain is that
/// long, else try again. Each member of a short chain is then picked with the same
/// probability, 1 / (buckets * cap).
///
/// Redis uses dictGetFairRandomKey here: it collects 15 members from consecutive buckets and
/// picks one, which costs 15 pointer chases into cold memory per call and is measurably less
/// uniform (members drawn 0.5x to 1.7x their share on the oracle). This costs about one cache
/// miss per try and a few tries at the dict's usual load. A very sparse table (a shrinking
/// set before its resize) may need many tries: after [`RANDOM_BUCKET_TRIES`] the dict's fair
/// sampler takes over.
fn dict_random(d: &mut Dict<Sds, ()>) -> Option<Sds> {
    if d.len() <= SMALL_RANDOM_SET {
        // The dict's sampler collects every member of a set this small: exactly uniform,
        // and cheap while the whole table sits in cache.
        return d.random_entry().map(|(k, _)| k.clone());
    }
    if d.is_rehashing() {
        // Reads advance the rehash like Redis's sampler does, so groups stay short.
        d.rehash(1);
    }
    for _ in 0..RANDOM_BUCKET_TRIES {
        let cursor = rand::next_u64();
        let want = rand::below(RANDOM_CHAIN_CAP);
        let mut seen = 0u64;
        let mut pick = None;
        d.scan(cursor, |k, _| {
            if seen == want {
                pick = Some(k.clone());
            }
            seen += 1;
        });
        if seen > RANDOM_CHAIN_CAP {
            // A long chain: choose among all of it, so none of its members is left out.
            let want = rand::below(seen);
            let mut i = 0u64;
            pick = None;
            d.scan(cursor, |k, _| {
                if i == want {
                    pick = Some(k.clone());
                }
                i += 1;
            });
        }
        if pick.is_some() {
            return pick;
        }
    }
    d.random_entry().map(|(k, _)| k.clone())
}

/// Iterator over a set's members; see [`Set::iter`].
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Ints(BlobIter<'a>),
    Keys(crate::ds::dict::Iter<'a, Sds, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    #[inline]
    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.0 {
            IterRepr::Ints(it) => it.next().map(Member::Int),
            IterRepr::Keys(it) => it.next().map(|(k, _)| Member::Str(k.as_bytes())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterRepr::Ints(it) => it.size_hint(),
            IterRepr::Keys(it) => it.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn members(s: &Set) -> BTreeSet<Vec<u8>> {
        let mut tmp = [0u8; 20];
        s.iter().map(|m| m.bytes(&mut tmp).to_vec()).collect()
    }

    #[test]
    fn set_fits_one_small_block() {
        // Box<Set> is the only allocation of a small intset: 32 bytes, one jemalloc class.
        assert!(
            std::mem::size_of::<Set>() <= 32,
            "{}",
            std::mem::size_of::<Set>()
        );
    }

    #[test]
    fn starts_as_intset_and_converts_on_string() {
        let mut s = Set::for_first_member(b"1");
        assert!(s.add(b"1", 512));
        assert!(!s.add(b"1", 512));
        assert!(s.add(b"-5", 512));
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.contains(b"-5") && !s.contains(b"5") && !s.contains(b"x"));
        assert!(s.add(b"a", 512));
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 3);
        assert!(s.contains(b"1") && s.contains(b"a") && s.contains_int(-5));
        assert!(!s.add(b"-5", 512));
        assert!(s.remove(b"a") && s.remove_int(1));
        assert_eq!(s.encoding_name(), "hashtable", "never converts back");
        assert!(Set::for_first_member(b"01").is_empty());
        assert_eq!(Set::for_first_member(b"01").encoding_name(), "hashtable");
    }

    #[test]
    fn converts_past_max_entries() {
        let mut s = Set::new_intset();
        for i in 0..4 {
            assert!(s.add_int(i, 4));
        }
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add_int(100, 4));
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 5);
        // A 0 limit converts on the first add, like Redis.
        let mut z = Set::new_intset();
        z.add(b"7", 0);
        assert_eq!(z.encoding_name(), "hashtable");
    }

    #[test]
    fn inline_spills_and_blob_matches_intset() {
        let mut s = Set::new_intset();
        let mut reference = IntSet::new();
        let vals = [
            5i64,
            -3,
            7,
            1 << 20,
            2,
            -(1 << 40),
            9,
            11,
            30000,
            -30000,
            0,
            1,
            i64::MAX,
            i64::MIN,
        ];
        for &v in &vals {
            assert_eq!(s.add_int(v, 512), reference.add(v));
            assert_eq!(s.intset_blob().unwrap(), reference.as_bytes());
        }
        for &v in &vals {
            assert!(s.contains_int(v));
            assert_eq!(s.remove_int(v), reference.remove(v));
            assert_eq!(s.intset_blob().unwrap(), reference.as_bytes());
        }
        assert!(s.is_empty());
    }

    #[test]
    fn random_and_pop() {
        let mut s = Set::new_intset();
        for i in 0..10 {
            s.add_int(i, 512);
        }
        for _ in 0..50 {
            match s.random() {
                Some(OwnedMember::Int(v)) => assert!((0..10).contains(&v)),
                other => panic!("{other:?}"),
            }
        }
        let mut seen = BTreeSet::new();
        while let Some(m) = s.pop_random() {
            match m {
                OwnedMember::Int(v) => assert!(seen.insert(v)),
                OwnedMember::Str(_) => panic!(),
            }
        }
        assert_eq!(seen.len(), 10);
        let mut h = Set::new_hashtable();
        for w in ["a", "b", "c"] {
            h.add(w.as_bytes(), 512);
        }
        let mut got = BTreeSet::new();
        while let Some(OwnedMember::Str(k)) = h.pop_random() {
            got.insert(k.as_bytes().to_vec());
        }
        assert_eq!(got.len(), 3);
        assert!(h.random().is_none());
    }

    #[test]
    fn duplicate_and_scan() {
        let mut s = Set::new_hashtable();
        for i in 0..100 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let d = s.duplicate();
        assert_eq!(members(&s), members(&d));
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, |m| {
                let mut tmp = [0u8; 20];
                seen.insert(m.bytes(&mut tmp).to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, members(&s));
        let mut i = Set::new_intset();
        i.add_int(3, 512);
        i.add_int(1, 512);
        let mut got = Vec::new();
        assert_eq!(i.scan(12345, |m| got.push(m.owned())), 0);
        assert_eq!(got, vec![OwnedMember::Int(1), OwnedMember::Int(3)]);
    }

    #[test]
    fn from_blob() {
        let mut is = IntSet::new();
        for v in 0..20 {
            is.add(v);
        }
        let s = Set::from_intset_blob(is.as_bytes().to_vec(), 512).unwrap();
        assert_eq!(s.encoding_name(), "intset");
        assert_eq!(s.len(), 20);
        let s = Set::from_intset_blob(is.as_bytes().to_vec(), 10).unwrap();
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(Set::from_intset_blob(vec![1, 2, 3], 512).is_none());
        assert!(Set::from_intset_blob(IntSet::new().into_bytes(), 512).is_none());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[derive(Debug, Clone)]
    enum Op {
        Add(i64),
        AddStr(u8),
        Remove(i64),
        Pop,
    }

    fn small_or_wide() -> impl Strategy<Value = i64> {
        prop_oneof![-40i64..40, any::<i16>().prop_map(i64::from), any::<i64>()]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => small_or_wide().prop_map(Op::Add),
            1 => any::<u8>().prop_map(Op::AddStr),
            3 => small_or_wide().prop_map(Op::Remove),
            1 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// The set against a BTreeSet of byte strings, with a small intset limit so both
        /// conversions happen; the intset blob always equals a plain IntSet built alongside.
        #[test]
        fn behaves_like_btreeset(ops in prop::collection::vec(op(), 0..200), max in 0u64..40) {
            let mut s = Set::new_intset();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            let mut reference = IntSet::new();
            for o in ops {
                match o {
                    Op::Add(v) => {
                        let b = v.to_string().into_bytes();
                        prop_assert_eq!(s.add(&b, max), model.insert(b));
                        reference.add(v);
                    }
                    Op::AddStr(x) => {
                        let b = format!("s{x}").into_bytes();
                        prop_assert_eq!(s.add(&b, max), model.insert(b));
                    }
                    Op::Remove(v) => {
                        let b = v.to_string().into_bytes();
                        prop_assert_eq!(s.remove(&b), model.remove(&b));
                        reference.remove(v);
                    }
                    Op::Pop => {
                        let got = s.pop_random();
                        match got {
                            None => prop_assert!(model.is_empty()),
                            Some(m) => {
                                let mut tmp = [0u8; 20];
                                let b = m.as_member().bytes(&mut tmp).to_vec();
                                prop_assert!(model.remove(&b));
                                if let OwnedMember::Int(v) = m { reference.remove(v); }
                            }
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                if let Some(blob) = s.intset_blob() {
                    prop_assert_eq!(blob, reference.as_bytes());
                    prop_assert!(s.len() as u64 <= max);
                }
            }
            let mut tmp = [0u8; 20];
            let got: BTreeSet<Vec<u8>> = s.iter().map(|m| m.bytes(&mut tmp).to_vec()).collect();
            prop_assert_eq!(got, model);
        }
    }
}
