//! `IntSet`: Redis's intset (intset.c), the compact encoding of a set whose members are all
//! integers (`OBJECT ENCODING` = "intset", RDB type 11 `RDB_TYPE_SET_INTSET`).
//!
//! The whole set is one byte blob, stored exactly as Redis stores it in memory and in RDB
//! files, so DUMP/RESTORE and RDB load/save copy it without conversion:
//!
//! ```text
//!  byte  0          4          8
//!       +----------+----------+-------------------------------------------+
//!       | encoding |  length  | contents: `length` integers, each          |
//!       | u32 LE   |  u32 LE  | `encoding` bytes, little-endian two's      |
//!       | 2, 4, 8  |          | complement, sorted strictly ascending      |
//!       +----------+----------+-------------------------------------------+
//!  blob_len = 8 + length * encoding
//!
//!  SADD k 3 1 2          -> 02000000 03000000 | 0100 0200 0300
//!                           enc=2    len=3    |  1    2    3
//!  SADD k 65536          -> 04000000 04000000 | 01000000 02000000 03000000 00000100
//!    (65536 needs 32 bits: every member is widened, the new one is appended)
//!  SADD k -4294967296    -> 08000000 05000000 | 00000000ffffffff 0100000000000000 ...
//!    (needs 64 bits: widened again, the new negative one is prepended)
//! ```
//!
//! Rules, all as in Redis 7.0:
//! - The encoding is the narrowest of 16/32/64 bits that holds every value ever added; adding a
//!   value that does not fit upgrades the whole blob ("upgrade and add"): members are widened
//!   back to front in place, and since the new value lies outside the old range it goes first
//!   (negative) or last (positive) without a search.
//! - Removing never downgrades: a set that once held 2^40 keeps 8-byte members.
//! - Lookups are a binary search over the fixed-width members.
//!
//! Memory: the `Vec` grows through allocator-like size classes (4 per power of two, like
//! jemalloc's) instead of Redis's realloc-per-insert or `Vec`'s doubling, so a set wastes at
//! most ~25% while most inserts do not reallocate; it shrinks when more than half is spare.

use std::fmt;
use std::iter::FusedIterator;

/// Header size in bytes: `encoding` (u32) then `length` (u32).
const HEADER: usize = 8;
/// Bytes per member for 16-bit members (Redis's INTSET_ENC_INT16 = sizeof(int16_t)).
const ENC_INT16: usize = 2;
/// Bytes per member for 32-bit members.
const ENC_INT32: usize = 4;
/// Bytes per member for 64-bit members.
const ENC_INT64: usize = 8;

/// Most members an intset can hold: `length` is a u32 in the blob. The server converts sets to
/// a hash table long before (`set-max-intset-entries`), so this is a formality.
pub const MAX_LEN: usize = u32::MAX as usize;

/// A sorted set of distinct `i64`s in Redis's intset byte layout (see the module comment).
///
/// Invariant: `buf` holds a well-formed blob: encoding 2/4/8, `buf.len() == 8 + len * enc`,
/// members strictly ascending. Every constructor and mutator keeps it.
#[derive(Clone)]
pub struct IntSet {
    buf: Vec<u8>,
}

/// Narrowest member width (bytes) that stores `v`, as `_intsetValueEncoding`.
#[inline]
fn value_encoding(v: i64) -> usize {
    if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
        ENC_INT64
    } else if v < i64::from(i16::MIN) || v > i64::from(i16::MAX) {
        ENC_INT32
    } else {
        ENC_INT16
    }
}

/// The u32 stored little-endian at `off`. Callers guarantee `off + 4 <= b.len()`.
#[inline]
fn read_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Member `i` of `contents` at width `enc`. Callers guarantee `i` is in range.
#[inline]
fn load(contents: &[u8], i: usize, enc: usize) -> i64 {
    match enc {
        ENC_INT16 => i64::from(i16::from_le_bytes(contents.as_chunks::<2>().0[i])),
        ENC_INT32 => i64::from(i32::from_le_bytes(contents.as_chunks::<4>().0[i])),
        _ => i64::from_le_bytes(contents.as_chunks::<8>().0[i]),
    }
}

/// Writes `v` as member `i` at width `enc` (truncating casts are exact: `v` fits `enc`).
#[inline]
fn store(contents: &mut [u8], i: usize, enc: usize, v: i64) {
    let o = i * enc;
    match enc {
        ENC_INT16 => contents[o..o + 2].copy_from_slice(&(v as i16).to_le_bytes()),
        ENC_INT32 => contents[o..o + 4].copy_from_slice(&(v as i32).to_le_bytes()),
        _ => contents[o..o + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

/// Binary search over fixed-width members decoded by `dec`. `Ok(pos)` when found, else
/// `Err(insertion point)`. Checks the ends first, like `intsetSearch`, so appending ascending
/// values (the common `SADD k 1 2 3 ...`) costs O(1).
#[inline(always)]
fn search_in<const W: usize, T: Ord + Copy>(
    arr: &[[u8; W]],
    v: T,
    dec: impl Fn([u8; W]) -> T,
) -> Result<usize, usize> {
    let (Some(first), Some(last)) = (arr.first(), arr.last()) else {
        return Err(0);
    };
    if v > dec(*last) {
        return Err(arr.len());
    }
    if v < dec(*first) {
        return Err(0);
    }
    arr.binary_search_by(|x| dec(*x).cmp(&v))
}

/// Capacity to allocate for a blob of `n` bytes: the next of 4 size classes per power of two
/// (8, 16, 32, 48, 64, 80, 96, 112, 128, 160, ...), the spacing jemalloc uses for Redis.
fn size_class(n: usize) -> usize {
    if n <= 16 {
        return n.max(8).div_ceil(8) * 8;
    }
    let Some(p) = n.checked_next_power_of_two() else {
        return n;
    };
    let spacing = (p / 8).max(16);
    n.div_ceil(spacing).saturating_mul(spacing)
}

/// Whether `bytes` is a well-formed intset blob, as Redis's `intsetValidateIntegrity`:
/// header readable, encoding 2/4/8, size exactly `8 + length * encoding`, not empty (RDB never
/// stores empty keys) and, when `deep`, members strictly ascending (sorted, no duplicates).
/// Used to vet untrusted RDB/RESTORE payloads; never reads out of bounds.
pub fn validate_integrity(bytes: &[u8], deep: bool) -> bool {
    if bytes.len() < HEADER {
        return false;
    }
    let enc = match read_u32(bytes, 0) {
        2 => ENC_INT16,
        4 => ENC_INT32,
        8 => ENC_INT64,
        _ => return false,
    };
    let count = read_u32(bytes, 4) as usize;
    let expected = count.checked_mul(enc).and_then(|c| c.checked_add(HEADER));
    if expected != Some(bytes.len()) || count == 0 {
        return false;
    }
    if !deep {
        return true;
    }
    let contents = &bytes[HEADER..];
    match enc {
        ENC_INT16 => strictly_ascending(contents.as_chunks::<2>().0, i16::from_le_bytes),
        ENC_INT32 => strictly_ascending(contents.as_chunks::<4>().0, i32::from_le_bytes),
        _ => strictly_ascending(contents.as_chunks::<8>().0, i64::from_le_bytes),
    }
}

/// Every member strictly greater than the one before it.
fn strictly_ascending<const W: usize, T: Ord>(arr: &[[u8; W]], dec: impl Fn([u8; W]) -> T) -> bool {
    arr.windows(2).all(|w| dec(w[0]) < dec(w[1]))
}

impl IntSet {
    /// An empty set with 16-bit encoding (`intsetNew`): the 8-byte header only.
    pub fn new() -> IntSet {
        let mut buf = Vec::with_capacity(HEADER);
        buf.extend_from_slice(&(ENC_INT16 as u32).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        IntSet { buf }
    }

    /// Adopts a blob from an RDB file or RESTORE payload after the full (deep) integrity check:
    /// `None` for anything malformed, including an empty set. The encoding is kept as found,
    /// even if wider than needed (Redis does the same).
    pub fn from_bytes(bytes: Vec<u8>) -> Option<IntSet> {
        if validate_integrity(&bytes, true) {
            Some(IntSet { buf: bytes })
        } else {
            None
        }
    }

    /// The blob exactly as Redis lays it out, for DUMP and RDB save (written as an RDB string).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Gives the blob away without copying (e.g. to an RDB writer that owns its buffers).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Member count (SCARD), read from the header.
    #[inline]
    pub fn len(&self) -> usize {
        read_u32(&self.buf, 4) as usize
    }

    /// Whether the set has no members (the server deletes such keys).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Blob size in bytes, `8 + len * encoding` (`intsetBlobLen`); the server compares it and
    /// reports it like Redis does.
    #[inline]
    pub fn blob_len(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes held (the blob plus spare capacity), for MEMORY USAGE and used-memory stats.
    pub fn allocated_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes per member: 2, 4 or 8. Only ever grows (DEBUG/tests, and to predict blob size).
    #[inline]
    pub fn encoding(&self) -> usize {
        read_u32(&self.buf, 0) as usize
    }

    #[inline]
    fn contents(&self) -> &[u8] {
        &self.buf[HEADER..]
    }

    #[inline]
    fn set_len(&mut self, n: usize) {
        // n <= MAX_LEN is checked by the only caller that grows the set.
        self.buf[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Position of `v`, or where it would be inserted. Precondition: `v` fits the encoding.
    #[inline]
    fn search(&self, v: i64, enc: usize) -> Result<usize, usize> {
        let c = self.contents();
        match enc {
            ENC_INT16 => search_in(c.as_chunks::<2>().0, v as i16, i16::from_le_bytes),
            ENC_INT32 => search_in(c.as_chunks::<4>().0, v as i32, i32::from_le_bytes),
            _ => search_in(c.as_chunks::<8>().0, v, i64::from_le_bytes),
        }
    }

    /// Makes room for a blob of `total` bytes, growing to the next size class.
    #[inline]
    fn reserve_total(&mut self, total: usize) {
        if total > self.buf.capacity() {
            let want = size_class(total);
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    /// Gives memory back when more than half the allocation is spare (after removals).
    #[inline]
    fn maybe_shrink(&mut self) {
        let cap = self.buf.capacity();
        if cap > 64 && self.buf.len() <= cap / 2 {
            self.buf.shrink_to(size_class(self.buf.len()));
        }
    }

    /// Inserts `v` (SADD). Returns true when it was added, false when already present (or, in
    /// theory, when the set already holds `MAX_LEN` members). Upgrades the encoding first when
    /// `v` does not fit.
    pub fn add(&mut self, v: i64) -> bool {
        let n = self.len();
        if n >= MAX_LEN {
            return false;
        }
        let enc = self.encoding();
        let venc = value_encoding(v);
        if venc > enc {
            self.upgrade_and_add(v, enc, venc, n);
            return true;
        }
        let pos = match self.search(v, enc) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let old_end = self.buf.len();
        self.reserve_total(old_end + enc);
        self.buf.resize(old_end + enc, 0);
        let off = HEADER + pos * enc;
        if off < old_end {
            self.buf.copy_within(off..old_end, off + enc);
        }
        store(&mut self.buf[HEADER..], pos, enc, v);
        self.set_len(n + 1);
        true
    }

    /// Widens every member from `old` to `new` bytes and adds `v`, which needs `new` and so is
    /// below every member (negative: goes first) or above them all (goes last).
    fn upgrade_and_add(&mut self, v: i64, old: usize, new: usize, n: usize) {
        let total = HEADER + (n + 1) * new;
        self.reserve_total(total);
        self.buf.resize(total, 0);
        let shift = usize::from(v < 0);
        let c = &mut self.buf[HEADER..];
        // Back to front: member i moves from [i*old, (i+1)*old) to [(i+shift)*new, ...), which
        // starts at or after its old place, so unread members below are never overwritten.
        for i in (0..n).rev() {
            let x = load(c, i, old);
            store(c, i + shift, new, x);
        }
        store(c, if shift == 1 { 0 } else { n }, new, v);
        self.buf[0..4].copy_from_slice(&(new as u32).to_le_bytes());
        self.set_len(n + 1);
    }

    /// Deletes `v` (SREM). Returns whether it was present. Never downgrades the encoding.
    pub fn remove(&mut self, v: i64) -> bool {
        let enc = self.encoding();
        if value_encoding(v) > enc {
            return false;
        }
        match self.search(v, enc) {
            Ok(pos) => {
                self.remove_pos(pos, enc);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes and returns the member at `index` (ascending order), e.g. for SPOP after picking
    /// an index with [`IntSet::random_index`]; `None` when out of range.
    pub fn remove_at(&mut self, index: usize) -> Option<i64> {
        let v = self.get(index)?;
        self.remove_pos(index, self.encoding());
        Some(v)
    }

    fn remove_pos(&mut self, pos: usize, enc: usize) {
        let n = self.len();
        let off = HEADER + pos * enc;
        self.buf.copy_within(off + enc.., off);
        self.buf.truncate(self.buf.len() - enc);
        self.set_len(n - 1);
        self.maybe_shrink();
    }

    /// Membership test (SISMEMBER): values wider than the encoding cannot be present.
    #[inline]
    pub fn contains(&self, v: i64) -> bool {
        let enc = self.encoding();
        value_encoding(v) <= enc && self.search(v, enc).is_ok()
    }

    /// The member at `index` in ascending order, `None` when out of range (`intsetGet`).
    #[inline]
    pub fn get(&self, index: usize) -> Option<i64> {
        if index < self.len() {
            Some(load(self.contents(), index, self.encoding()))
        } else {
            None
        }
    }

    /// An index chosen by the caller's random number `r` (`r % len`), `None` when empty. Kept
    /// separate from the member so SPOP can remove by index without a second search.
    #[inline]
    pub fn random_index(&self, r: u64) -> Option<usize> {
        let n = self.len() as u64;
        if n == 0 {
            None
        } else {
            Some((r % n) as usize)
        }
    }

    /// A member picked by the caller's random number `r` (`intsetRandom`, which uses
    /// `rand() % len`), for SRANDMEMBER/SPOP; `None` when empty. The server owns the generator
    /// so runs stay reproducible under its seed.
    #[inline]
    pub fn random(&self, r: u64) -> Option<i64> {
        self.get(self.random_index(r)?)
    }

    /// Smallest member, `None` when empty.
    #[inline]
    pub fn min(&self) -> Option<i64> {
        self.get(0)
    }

    /// Largest member, `None` when empty.
    #[inline]
    pub fn max(&self) -> Option<i64> {
        self.get(self.len().checked_sub(1)?)
    }

    /// Members in ascending order (SMEMBERS, conversion to a hash table, RDB/AOF rewrite).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            contents: self.contents(),
            enc: self.encoding(),
            front: 0,
            back: self.len(),
        }
    }
}

impl Default for IntSet {
    /// Same as [`IntSet::new`].
    fn default() -> IntSet {
        IntSet::new()
    }
}

impl fmt::Debug for IntSet {
    /// Prints the members, e.g. `{1, 2, 3}`, not the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<i64> for IntSet {
    /// Builds a set by adding each value (duplicates ignored), e.g. for SINTERSTORE results.
    fn from_iter<I: IntoIterator<Item = i64>>(iter: I) -> IntSet {
        let mut s = IntSet::new();
        s.extend(iter);
        s
    }
}

impl Extend<i64> for IntSet {
    /// Adds each value, like repeated [`IntSet::add`].
    fn extend<I: IntoIterator<Item = i64>>(&mut self, iter: I) {
        for v in iter {
            self.add(v);
        }
    }
}

impl<'a> IntoIterator for &'a IntSet {
    type Item = i64;
    type IntoIter = Iter<'a>;
    /// Same as [`IntSet::iter`].
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Ascending iterator over an [`IntSet`]'s members, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    contents: &'a [u8],
    enc: usize,
    front: usize,
    back: usize,
}

impl Iterator for Iter<'_> {
    type Item = i64;

    #[inline]
    fn next(&mut self) -> Option<i64> {
        if self.front < self.back {
            let v = load(self.contents, self.front, self.enc);
            self.front += 1;
            Some(v)
        } else {
            None
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<i64> {
        if self.front < self.back {
            self.back -= 1;
            Some(load(self.contents, self.back, self.enc))
        } else {
            None
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl FusedIterator for Iter<'_> {}

// ---------------------------------------------------------------------------------------------
// Introspection (DEBUG LAYOUT, ferrodis-observatory)

/// An intset blob's header and first members, read-only plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntsetLayout {
    /// Bytes per member (the header's encoding field: 2, 4 or 8).
    pub encoding: usize,
    /// The header's length field.
    pub length: usize,
    /// Bytes of the whole blob (`8 + length * encoding`).
    pub blob_len: usize,
    /// The first members as (byte offset in the blob, value).
    pub members: Vec<(usize, i64)>,
    /// True when members were left out.
    pub truncated: bool,
}

/// The layout of a well-formed intset blob (this crate's own, or one that passed
/// [`validate_integrity`]), with at most `limit` members: O(limit).
pub fn layout_of(blob: &[u8], limit: usize) -> IntsetLayout {
    let enc = read_u32(blob, 0) as usize;
    let length = read_u32(blob, 4) as usize;
    let contents = &blob[HEADER..];
    let shown = length.min(limit);
    IntsetLayout {
        encoding: enc,
        length,
        blob_len: blob.len(),
        members: (0..shown)
            .map(|i| (HEADER + i * enc, load(contents, i, enc)))
            .collect(),
        truncated: shown < length,
    }
}

impl IntSet {
    /// The header and the first `limit` members as they lie in memory (DEBUG LAYOUT).
    pub fn layout(&self, limit: usize) -> IntsetLayout {
        layout_of(&self.buf, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_reads_the_blob() {
        let is: IntSet = [3i64, 1, 65536].into_iter().collect();
        let l = is.layout(2);
        assert_eq!((l.encoding, l.length, l.blob_len), (4, 3, 20));
        assert_eq!(l.members, [(8, 1), (12, 3)]);
        assert!(l.truncated);
    }
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Checks every structural invariant and returns the members.
    fn check(s: &IntSet) -> Vec<i64> {
        let b = s.as_bytes();
        let enc = s.encoding();
        assert!(matches!(enc, 2 | 4 | 8));
        assert_eq!(b.len(), HEADER + s.len() * enc);
        assert_eq!(s.blob_len(), b.len());
        let v: Vec<i64> = s.iter().collect();
        assert_eq!(v.len(), s.len());
        assert!(
            v.windows(2).all(|w| w[0] < w[1]),
            "not strictly ascending: {v:?}"
        );
        let mut rev: Vec<i64> = s.iter().rev().collect();
        rev.reverse();
        assert_eq!(rev, v);
        assert!(s.allocated_bytes() >= b.len());
        if !v.is_empty() {
            assert!(validate_integrity(b, true));
            assert_eq!(s.min(), v.first().copied());
            assert_eq!(s.max(), v.last().copied());
        } else {
            assert!(!validate_integrity(b, false));
            assert_eq!(s.min(), None);
            assert_eq!(s.max(), None);
        }
        v
    }

    #[test]
    fn value_encodings() {
        assert_eq!(value_encoding(-32768), 2);
        assert_eq!(value_encoding(32767), 2);
        assert_eq!(value_encoding(-32769), 4);
        assert_eq!(value_encoding(32768), 4);
        assert_eq!(value_encoding(i32::MIN.into()), 4);
        assert_eq!(value_encoding(i32::MAX.into()), 4);
        assert_eq!(value_encoding(-2147483649), 8);
        assert_eq!(value_encoding(2147483648), 8);
        assert_eq!(value_encoding(i64::MIN), 8);
        assert_eq!(value_encoding(i64::MAX), 8);
    }

    #[test]
    fn empty_set() {
        let mut s = IntSet::new();
        assert_eq!(hex(s.as_bytes()), "0200000000000000");
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert_eq!(s.blob_len(), 8);
        assert_eq!(s.get(0), None);
        assert_eq!(s.get(usize::MAX), None);
        assert_eq!(s.random(12345), None);
        assert_eq!(s.random_index(0), None);
        assert_eq!(s.remove_at(0), None);
        assert!(!s.remove(0));
        assert!(!s.remove(i64::MAX));
        assert!(!s.contains(0));
        assert_eq!(s.iter().next(), None);
        assert_eq!(format!("{s:?}"), "{}");
        check(&s);
        assert!(IntSet::from_bytes(s.clone().into_bytes()).is_none());
        assert_eq!(IntSet::default().as_bytes(), s.as_bytes());
    }

    #[test]
    fn basic_adding() {
        let mut s = IntSet::new();
        assert!(s.add(5));
        assert!(s.add(6));
        assert!(s.add(4));
        assert!(!s.add(4));
        assert_eq!(check(&s), vec![4, 5, 6]);
        assert_eq!(hex(s.as_bytes()), "0200000003000000040005000600");
        assert_eq!(format!("{s:?}"), "{4, 5, 6}");
        assert!(s.contains(5) && !s.contains(7) && !s.contains(3));
        assert!(!s.contains(1 << 40));
    }

    #[test]
    fn upgrades_append_and_prepend() {
        for (start, big, enc) in [
            (32, 65535, 4),
            (32, -65535, 4),
            (32, 4294967295, 8),
            (32, -4294967295, 8),
            (65535, 4294967295, 8),
            (65535, -4294967295, 8),
            (-7, i64::MIN, 8),
            (-7, i64::MAX, 8),
        ] {
            let mut s: IntSet = [start, 1, -1].into_iter().collect();
            assert!(s.add(big));
            assert_eq!(s.encoding(), enc);
            assert!(s.contains(start) && s.contains(big) && s.contains(1) && s.contains(-1));
            let mut want = vec![start, 1, -1, big];
            want.sort();
            want.dedup();
            assert_eq!(check(&s), want);
            if big < 0 {
                assert_eq!(s.min(), Some(big));
            } else {
                assert_eq!(s.max(), Some(big));
            }
        }
    }

    #[test]
    fn no_downgrade_on_delete() {
        let mut s: IntSet = [1, 2, 3, 1 << 31].into_iter().collect();
        assert_eq!(s.encoding(), 8);
        assert!(s.remove(1 << 31));
        assert_eq!(s.encoding(), 8);
        assert_eq!(check(&s), vec![1, 2, 3]);
        for v in [1, 2, 3] {
            assert!(s.remove(v));
        }
        assert!(s.is_empty());
        assert_eq!(s.encoding(), 8);
        assert_eq!(hex(s.as_bytes()), "0800000000000000");
        assert!(s.add(9));
        assert_eq!(hex(s.as_bytes()), "08000000010000000900000000000000");
    }

    #[test]
    fn remove_misses() {
        let mut s: IntSet = [10, 20, 30].into_iter().collect();
        assert!(!s.remove(15));
        assert!(!s.remove(5));
        assert!(!s.remove(35));
        assert!(!s.remove(100_000));
        assert!(!s.remove(i64::MIN));
        assert_eq!(check(&s), vec![10, 20, 30]);
        assert!(s.remove(20));
        assert!(!s.remove(20));
        assert!(s.remove(30));
        assert!(s.remove(10));
        assert_eq!(check(&s), Vec::<i64>::new());
    }

    #[test]
    fn get_random_remove_at() {
        let mut s: IntSet = (0..10).map(|i| i * 1000 - 3000).collect();
        for i in 0..10 {
            assert_eq!(s.get(i), Some(i as i64 * 1000 - 3000));
        }
        assert_eq!(s.get(10), None);
        assert_eq!(s.random(0), Some(-3000));
        assert_eq!(s.random(13), Some(0));
        assert_eq!(s.random(u64::MAX), s.get((u64::MAX % 10) as usize));
        assert_eq!(s.random_index(25), Some(5));
        assert_eq!(s.remove_at(10), None);
        assert_eq!(s.remove_at(9), Some(6000));
        assert_eq!(s.remove_at(0), Some(-3000));
        assert_eq!(s.remove_at(3), Some(1000));
        assert_eq!(check(&s), vec![-2000, -1000, 0, 2000, 3000, 4000, 5000]);
        let mut it = s.iter();
        assert_eq!(it.len(), 7);
        assert_eq!(it.next(), Some(-2000));
        assert_eq!(it.next_back(), Some(5000));
        assert_eq!(it.len(), 5);
        assert_eq!(it.by_ref().count(), 5);
        assert_eq!(it.next(), None);
        assert_eq!(it.next_back(), None);
        assert_eq!((&s).into_iter().sum::<i64>(), 11000);
    }

    #[test]
    fn redis_random_adds_and_stress() {
        // Like intset.c's own tests: many adds in a small range, then add+delete churn.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut s = IntSet::new();
        let mut inserts = 0;
        for _ in 0..1024 {
            if s.add((next() % 0x800) as i64) {
                inserts += 1;
            }
        }
        assert_eq!(s.len(), inserts);
        check(&s);
        let mut s = IntSet::new();
        for _ in 0..0xffff {
            let v1 = (next() % 0xfff) as i64;
            s.add(v1);
            assert!(s.contains(v1));
            let v2 = (next() % 0xfff) as i64;
            s.remove(v2);
            assert!(!s.contains(v2));
        }
        check(&s);
    }

    #[test]
    fn memory_grows_in_classes_and_shrinks() {
        assert_eq!(
            [1, 8, 9, 16, 17, 33, 64, 65, 100, 129, 4104].map(size_class),
            [8, 8, 16, 16, 32, 48, 64, 80, 112, 160, 5120]
        );
        let mut s = IntSet::new();
        let mut reallocs = 0;
        let mut cap = s.allocated_bytes();
        for v in 0..512 {
            s.add(v * 1000);
            if s.allocated_bytes() != cap {
                reallocs += 1;
                cap = s.allocated_bytes();
            }
            assert!(cap <= size_class(s.blob_len()));
        }
        assert!(reallocs < 40, "{reallocs} reallocations");
        for v in 0..500 {
            s.remove(v * 1000);
            assert!(s.allocated_bytes() <= 64 || s.allocated_bytes() < 2 * s.blob_len() + 64);
        }
        assert_eq!(check(&s).len(), 12);
    }

    #[test]
    fn from_bytes_validation() {
        let ok = unhex("0200000003000000010002000300");
        let s = IntSet::from_bytes(ok.clone()).unwrap();
        assert_eq!(check(&s), vec![1, 2, 3]);
        for bad in [
            "",
            "02000000",
            "02000000010000",
            "0200000000000000",             // empty
            "03000000010000000100",         // bad encoding
            "0000000001000000",             // encoding 0
            "020000000200000001000200ff",   // trailing byte
            "020000000300000001000200",     // truncated
            "0200000002000000020001000000", // size mismatch
            "020000000200000002000100",     // descending
            "020000000200000001000100",     // duplicate
            "0800000001000000ffffffff",     // 64-bit member cut short
        ] {
            assert!(IntSet::from_bytes(unhex(bad)).is_none(), "{bad}");
        }
        let neg = IntSet::from_bytes(unhex("0400000002000000ffffffff00000000")).unwrap();
        assert_eq!(check(&neg), vec![-1, 0]);
        // Shallow validation accepts unsorted members, deep does not (as Redis).
        let unsorted = unhex("020000000200000002000100");
        assert!(validate_integrity(&unsorted, false));
        assert!(!validate_integrity(&unsorted, true));
        // A huge length must not overflow or read out of bounds.
        assert!(!validate_integrity(
            &unhex("08000000ffffffff0100000000000000"),
            false
        ));
        // A wider encoding than needed is kept, and the set keeps working.
        let mut wide = IntSet::from_bytes(unhex("08000000010000000500000000000000")).unwrap();
        assert_eq!(wide.encoding(), 8);
        assert!(wide.add(3) && wide.add(70000) && wide.contains(5));
        assert_eq!(check(&wide), vec![3, 5, 70000]);
        assert_eq!(wide.encoding(), 8);
    }

    /// Commands replayed on both sides: (SADD or SREM, members).
    type Script = &'static [(&'static str, &'static [i64])];

    /// `DUMP k` from redis-server 7.0.15 (`--rdbcompression no`) after the given commands.
    /// Payload = type 11 (intset) + RDB string (6- or 14-bit length, then the blob) + RDB
    /// version 10 (LE u16) + CRC64.
    const ORACLE: &[(Script, &str)] = &[
        (
            &[("SADD", &[3, 1, 2])],
            "0b0e02000000030000000100020003000a00a5025ce26d6e4d1b",
        ),
        (
            &[("SADD", &[-32768, 32767, 0, -1])],
            "0b1002000000040000000080ffff0000ff7f0a004642315e8146e787",
        ),
        (
            &[("SADD", &[1, 2]), ("SADD", &[65536])],
            "0b1404000000030000000100000002000000000001000a00447ba25f494c7d2a",
        ),
        (
            &[("SADD", &[1, 2]), ("SADD", &[-32769])],
            "0b140400000003000000ff7fffff01000000020000000a0026b06b7a0c4f75e2",
        ),
        (
            &[
                ("SADD", &[5, -100000]),
                ("SADD", &[4294967296, i64::MIN, i64::MAX]),
            ],
            concat!(
                "0b30080000000500000000000000000000806079feffffffffff0500000000000000",
                "0000000001000000ffffffffffffff7f0a003cc0cdec556fb49b"
            ),
        ),
        (
            &[("SADD", &[1, 2, 3, 2147483648]), ("SREM", &[2147483648])],
            concat!(
                "0b20080000000300000001000000000000000200000000000000030000000000",
                "00000a00dc7d2659cf9c5f13"
            ),
        ),
        (
            &[("SADD", &[7, 70000]), ("SREM", &[70000, 7]), ("SADD", &[9])],
            "0b0a020000000100000009000a00993af4285d936afe",
        ),
        (
            &[("SADD", &[7, 70000]), ("SREM", &[70000])],
            "0b0c0400000001000000070000000a00e414c95ce508da2a",
        ),
        (
            &[("SADD", &[2147483647, -2147483648, 32768, -32769])],
            "0b18040000000400000000000080ff7fffff00800000ffffff7f0a00ffd325b16a094c48",
        ),
    ];

    /// SADD k {i*|i|*1000 for i in -50..50}: 100 32-bit members, 14-bit RDB string length.
    const ORACLE_SQUARES: &str = concat!(
        "0b4198040000006400000060dad9ff185ddbff00d8dcff184bdeff60b6dfffd819e1ff8075e2ff58c9e3ff6015e5ff98",
        "59e6ff0096e7ff98cae8ff60f7e9ff581cebff8039ecffd84eedff605ceeff1862efff0060f0ff1856f1ff6044f2ffd8",
        "2af3ff8009f4ff58e0f4ff60aff5ff9876f6ff0036f7ff98edf7ff609df8ff5845f9ff80e5f9ffd87dfaff600efbff18",
        "97fbff0018fcff1891fcff6002fdffd86bfdff80cdfdff5827feff6079feff98c3feff0006ffff9840ffff6073ffff58",
        "9effff80c1ffffd8dcffff60f0ffff18fcffff00000000e8030000a00f000028230000803e0000a8610000a08c000068",
        "bf000000fa0000683c0100a0860100a8d801008032020028940200a0fd0200e86e030000e80300e8680400a0f1040028",
        "820500801a0600a8ba0600a06207006812080000ca080068890900a0500a00a81f0b0080f60b0028d50c00a0bb0d00e8",
        "a90e0000a00f00e89d1000a0a3110028b1120080c61300a8e31400a008160068351700006a180068a61900a0ea1a00a8",
        "361c00808a1d0028e61e00a0492000e8b4210000282300e8a224000a00c88920ea58d63abf"
    );

    /// The intset blob inside a DUMP payload (type 11, uncompressed RDB string).
    fn dump_blob(dump: &[u8]) -> &[u8] {
        assert_eq!(dump[0], 11, "RDB_TYPE_SET_INTSET");
        let (n, off) = match dump[1] >> 6 {
            0 => (usize::from(dump[1] & 0x3f), 2),
            1 => ((usize::from(dump[1] & 0x3f) << 8) | usize::from(dump[2]), 3),
            _ => panic!("unexpected RDB length encoding {:#x}", dump[1]),
        };
        assert_eq!(dump.len(), off + n + 10, "payload = string + version + crc");
        assert_eq!(&dump[off + n..off + n + 2], &[10, 0], "RDB version 10");
        &dump[off..off + n]
    }

    fn replay(cmds: &[(&str, &[i64])]) -> IntSet {
        let mut s = IntSet::new();
        for (cmd, args) in cmds {
            for &v in *args {
                match *cmd {
                    "SADD" => {
                        s.add(v);
                    }
                    _ => {
                        s.remove(v);
                    }
                }
            }
            if s.is_empty() {
                s = IntSet::new(); // Redis deletes the emptied key; the next SADD starts afresh
            }
        }
        s
    }

    #[test]
    fn byte_equality_with_redis_dump() {
        for (cmds, dump) in ORACLE {
            let dump = unhex(dump);
            let want = dump_blob(&dump);
            let ours = replay(cmds);
            assert_eq!(hex(ours.as_bytes()), hex(want), "{cmds:?}");
            let back = IntSet::from_bytes(want.to_vec()).unwrap();
            assert_eq!(back.iter().collect::<Vec<_>>(), check(&ours));
        }
        let dump = unhex(ORACLE_SQUARES);
        let vals: Vec<i64> = (-50i64..50).map(|i| i * i.abs() * 1000).collect();
        let ours = replay(&[("SADD", &vals)]);
        assert_eq!(hex(ours.as_bytes()), hex(dump_blob(&dump)));
        assert_eq!(check(&ours), vals);
    }

    /// Live comparison with a running oracle: `redis-server --port P --save '' \
    /// --rdbcompression no`, then `FERRODIS_ORACLE_PORT=P cargo test -- --ignored intset`.
    #[test]
    #[ignore]
    fn live_oracle_random_ops() {
        let Ok(port) = std::env::var("FERRODIS_ORACLE_PORT") else {
            return;
        };
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut con = client.get_connection().unwrap();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let key = "ferrodis:intset:live";
        let mut compared = 0;
        for round in 0..300 {
            let _: () = redis::cmd("DEL").arg(key).query(&mut con).unwrap();
            let mut s = IntSet::new();
            for _ in 0..(next() % 60) {
                let v = match next() % 4 {
                    0 => (next() % 64) as i64 - 32,
                    1 => next() as i16 as i64,
                    2 => next() as i32 as i64,
                    _ => next() as i64 >> (next() % 64),
                };
                let v = if round % 3 == 0 { v % 40_000 } else { v };
                if next() % 3 == 0 && !s.is_empty() {
                    let v = s.random(next()).unwrap_or(v);
                    let n: i64 = redis::cmd("SREM").arg(key).arg(v).query(&mut con).unwrap();
                    assert_eq!(n == 1, s.remove(v));
                    if s.is_empty() {
                        s = IntSet::new();
                    }
                } else {
                    let n: i64 = redis::cmd("SADD").arg(key).arg(v).query(&mut con).unwrap();
                    assert_eq!(n == 1, s.add(v));
                }
            }
            if s.is_empty() {
                continue;
            }
            let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut con).unwrap();
            assert_eq!(hex(dump_blob(&dump)), hex(s.as_bytes()), "round {round}");
            compared += 1;
        }
        let _: () = redis::cmd("DEL").arg(key).query(&mut con).unwrap();
        assert!(compared > 200);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(i64),
        Remove(i64),
        Contains(i64),
        RemoveAt(usize),
        Get(usize),
        Random(u64),
    }

    /// Values drawn so all three encodings, their boundaries and repeats all occur.
    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => -20i64..20,
            2 => any::<i16>().prop_map(i64::from),
            1 => any::<i32>().prop_map(i64::from),
            1 => any::<i64>(),
            1 => prop::sample::select(vec![
                i64::from(i16::MIN), i64::from(i16::MAX), i64::from(i16::MIN) - 1,
                i64::from(i16::MAX) + 1, i64::from(i32::MIN), i64::from(i32::MAX),
                i64::from(i32::MIN) - 1, i64::from(i32::MAX) + 1, i64::MIN, i64::MAX,
            ]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => value().prop_map(Op::Add),
            3 => value().prop_map(Op::Remove),
            2 => value().prop_map(Op::Contains),
            1 => any::<usize>().prop_map(|i| Op::RemoveAt(i % 64)),
            1 => any::<usize>().prop_map(|i| Op::Get(i % 64)),
            1 => any::<u64>().prop_map(Op::Random),
        ]
    }

    /// Independent statement of `intsetValidateIntegrity(.., deep=1)`.
    fn reference_valid(b: &[u8]) -> bool {
        if b.len() < 8 {
            return false;
        }
        let enc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as u64;
        if !matches!(enc, 2 | 4 | 8) || n == 0 || 8 + n * enc != b.len() as u64 {
            return false;
        }
        let vals: Vec<i64> = b[8..]
            .chunks(enc as usize)
            .map(|c| match c.len() {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
                _ => i64::from_le_bytes(c.try_into().unwrap()),
            })
            .collect();
        vals.windows(2).all(|w| w[0] < w[1])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn model_against_btreeset(ops in prop::collection::vec(op(), 0..300)) {
            let mut s = IntSet::new();
            let mut m = BTreeSet::new();
            let mut enc = 2;
            for op in ops {
                match op {
                    Op::Add(v) => {
                        let added = s.add(v);
                        prop_assert_eq!(added, m.insert(v));
                        enc = enc.max(value_encoding(v));
                    }
                    Op::Remove(v) => prop_assert_eq!(s.remove(v), m.remove(&v)),
                    Op::Contains(v) => prop_assert_eq!(s.contains(v), m.contains(&v)),
                    Op::RemoveAt(i) => {
                        let want = m.iter().nth(i).copied();
                        prop_assert_eq!(s.remove_at(i), want);
                        if let Some(v) = want {
                            m.remove(&v);
                        }
                    }
                    Op::Get(i) => prop_assert_eq!(s.get(i), m.iter().nth(i).copied()),
                    Op::Random(r) => {
                        let want = if m.is_empty() {
                            None
                        } else {
                            m.iter().nth((r % m.len() as u64) as usize).copied()
                        };
                        prop_assert_eq!(s.random(r), want);
                    }
                }
                prop_assert_eq!(s.encoding(), enc, "encoding only grows, to the widest added");
                prop_assert_eq!(check(&s), m.iter().copied().collect::<Vec<_>>());
            }
            if !s.is_empty() {
                let back = IntSet::from_bytes(s.as_bytes().to_vec()).unwrap();
                prop_assert_eq!(back.as_bytes(), s.as_bytes());
            }
        }

        #[test]
        fn from_bytes_random_never_panics(b in prop::collection::vec(any::<u8>(), 0..80)) {
            let r = IntSet::from_bytes(b.clone());
            prop_assert_eq!(r.is_some(), reference_valid(&b));
            let _ = validate_integrity(&b, false);
            if let Some(s) = r {
                prop_assert_eq!(s.as_bytes(), &b[..]);
                check(&s);
            }
        }

        #[test]
        fn from_bytes_near_valid(
            enc in prop::sample::select(vec![0u32, 1, 2, 3, 4, 8, 16, 0x0200_0000]),
            n in 0u32..12,
            len_delta in -3i64..3,
            body in prop::collection::vec(any::<u8>(), 0..100),
            sorted in any::<bool>(),
        ) {
            // A plausible header over a body that may or may not be sorted, sized or complete.
            let mut b = enc.to_le_bytes().to_vec();
            b.extend_from_slice(&n.to_le_bytes());
            let mut body = body;
            if sorted && matches!(enc, 2 | 4 | 8) {
                let w = enc as usize;
                let mut vals: Vec<i64> = body.chunks_exact(w).map(|c| load(c, 0, w)).collect();
                vals.sort();
                vals.dedup();
                body = vec![0; vals.len() * w];
                for (i, v) in vals.iter().enumerate() {
                    store(&mut body, i, w, *v);
                }
                b[4..8].copy_from_slice(&(vals.len() as u32).to_le_bytes());
                let want = (vals.len() * w) as i64 + len_delta.min(0);
                body.truncate(want.max(0) as usize);
            }
            b.extend_from_slice(&body);
            let r = IntSet::from_bytes(b.clone());
            prop_assert_eq!(r.is_some(), reference_valid(&b));
            if let Some(mut s) = r {
                let vals = check(&s);
                for v in vals {
                    prop_assert!(s.contains(v));
                    prop_assert!(s.remove(v));
                }
                prop_assert!(s.is_empty());
            }
        }
    }
}
