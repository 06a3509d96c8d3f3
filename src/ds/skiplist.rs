//! The sorted-set skiplist: Pugh's skiplist as Redis 7.0 builds it in `t_zset.c` (zskiplist),
//! the ordered half of a large sorted set (the dict half maps member -> score).
//!
//! What is kept from Redis: elements ordered by (score, member bytes); node heights drawn with
//! p = 1/4 and capped at 32 (`ZSKIPLIST_MAXLEVEL`); every forward link carries a *span* (how many
//! level-0 steps it jumps) so rank queries and rank lookups cost O(log n); a backward link on
//! level 0 for reverse walks (ZREVRANGE); a header node with all 32 levels.
//!
//! What differs is memory: Redis mallocs one node per member (`ele` pointer, score, backward
//! pointer, then 16 bytes per level: forward pointer + span), about 48-64 bytes in jemalloc size
//! classes. Here every node is a variable-size *record* of `u32` words in one arena vector, links
//! are word offsets, and the member strings sit in a second vector of inline-capable `Sds`.
//! A height-1 node (3 nodes out of 4) costs 24 bytes of record + 16 bytes of `Sds` slot, each
//! extra level 8 bytes; on average 42.7 bytes per member, with no per-node allocation and no
//! allocator header. The span of level 0 is not stored: it is 1 when the forward link is set
//! and 0 when the node is the tail (exactly what Redis keeps there).
//!
//! ```text
//!  SkipList { w: Vec<u32>, members: Vec<Sds>, free lists, len, level, tail, rng }
//!
//!  record at word offset x, height h (2h+4 words; the header is the record at offset 0, h = 32)
//!  word  x+0     x+1     x+2       x+3      x+4    x+5     x+6    x+7         x+2h+2  x+2h+3
//!       +-------+-------+---------+--------+------+-------+------+-------+---+-------+-------+
//!       |score  |score  |backward |member  |fwd 0 |height |fwd 1 |span 1 |...|fwd h-1|span   |
//!       |lo 32  |hi 32  |record   |slot    |      |       |      |       |   |       |h-1    |
//!       +-------+-------+---------+--------+------+-------+------+-------+---+-------+-------+
//!  fwd i lives at x+4+2i, span i (i >= 1) at x+5+2i. Offset 0 is the header, which no link can
//!  point to, so 0 doubles as NULL for forward and backward links (the first node's backward is
//!  0 just as Redis's is NULL).
//!
//!  members: [ Sds | Sds | Sds | ... ]   slot = word x+3 of the record; 16 bytes each, inline
//!                                         up to 15 bytes (sds.rs), else one heap block
//! ```
//!
//! Worked example: {a:1.0, b:2.0} where `a` drew height 2 and `b` height 1 (words in hex;
//! 1.0 = 0x3ff0000000000000, 2.0 = 0x4000000000000000):
//!
//! ```text
//!  off  0: header  00000000 00000000 00000000 00000000 | fwd0=00000044 h=00000020
//!                  fwd1=00000044 span1=00000001 | fwd2..31 = 0, spans 0
//!  off 68: a       00000000 3ff00000 back=00000000 slot=00000000 | fwd0=0000004c h=00000002
//!                  fwd1=00000000 span1=00000001              (span to the end: len - rank)
//!  off 76: b       00000000 40000000 back=00000044 slot=00000001 | fwd0=00000000 h=00000001
//!  members = ["a", "b"]    len = 2, level = 2, tail = 76 (0x4c)
//! ```
//!
//! Freed records go on a free list per height (the link is kept in the freed record's `fwd 0`
//! word) and freed member slots on a stack, so churn reuses memory without allocating. When more
//! than three quarters of the arena is free, deleting calls rebuild it in list order
//! ([`SkipList::compact`]), which gives memory back and makes later walks sequential; that
//! renumbers nodes, so a [`NodeRef`] is only valid until the next call that removes elements.
//!
//! Capacity: word offsets are `u32`, so one skiplist holds at most 16 GiB of records (about
//! 650 million members); going past that is treated like running out of memory.

use std::cell::Cell;
use std::cmp::Ordering;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;

use crate::ds::sds::Sds;

/// Highest node level (Redis's `ZSKIPLIST_MAXLEVEL`): enough for 2^64 elements at p = 1/4.
pub const ZSKIPLIST_MAXLEVEL: usize = 32;

/// Probability that a node reaching level i also reaches level i+1 (Redis's `ZSKIPLIST_P`).
/// Drawn here as "two more random bits are zero", which is exactly 1/4.
pub const ZSKIPLIST_P: f64 = 0.25;

const MAXLEVEL: usize = ZSKIPLIST_MAXLEVEL;
/// Offset of the header record; as a link value it means "none".
const NIL: u32 = 0;
const HEAD: u32 = 0;
const W_BACK: usize = 2;
const W_MEMBER: usize = 3;
const W_FWD0: usize = 4;
const W_HEIGHT: usize = 5;
const HEADER_WORDS: usize = record_words(MAXLEVEL);
/// Free words below which compaction is never worth a pass (tests use a small value so the
/// model test exercises it).
const COMPACT_MIN_WORDS: usize = if cfg!(test) { 64 } else { 4096 };

/// Words in a record of height `h`.
const fn record_words(h: usize) -> usize {
    2 * h + 4
}

/// A handle to one element of a [`SkipList`], like Redis's `zskiplistNode *`.
///
/// It is valid until the next call that removes elements from the list (delete, range deletes,
/// which may compact the arena); inserts and score updates never move existing nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef(NonZeroU32);

impl NodeRef {
    #[inline]
    fn from_raw(x: u32) -> Option<NodeRef> {
        NonZeroU32::new(x).map(NodeRef)
    }

    #[inline]
    fn raw(self) -> u32 {
        self.0.get()
    }
}

/// A score interval as ZRANGEBYSCORE/ZCOUNT/ZREMRANGEBYSCORE take it (Redis's `zrangespec`):
/// `minex`/`maxex` make the corresponding end open, as the `(` prefix does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// True when `min` itself is excluded.
    pub minex: bool,
    /// True when `max` itself is excluded.
    pub maxex: bool,
}

impl ScoreRange {
    /// Parses the `min` and `max` arguments as Redis's `zslParseRange` does: an optional `(`
    /// prefix for an open end, then C `strtod` on the rest read as a C string (so leading
    /// white space is skipped, an empty string is 0, bytes after a NUL are ignored, `inf` and
    /// hex floats work), NaN rejected. `None` means "ERR min or max is not a float".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, minex) = parse_score_bound(min)?;
        let (max, maxex) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    /// True when `v` is at or above the lower bound (Redis's `zslValueGteMin`); shared with
    /// the listpack encoding so both encodings agree.
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    /// True when `v` is at or below the upper bound (Redis's `zslValueLteMax`).
    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// `strtod` on `s` read as a C string, after an optional `(`; returns (value, exclusive).
fn parse_score_bound(s: &[u8]) -> Option<(f64, bool)> {
    let (body, ex) = match s.first() {
        Some(b'(') => (&s[1..], true),
        _ => (s, false),
    };
    // Redis hands strtod the sds as a C string: it stops at the first NUL.
    let body = match body.iter().position(|&b| b == 0) {
        Some(n) => &body[..n],
        None => body,
    };
    let mut buf = Vec::with_capacity(body.len() + 1);
    buf.extend_from_slice(body);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated and contains no other NUL; strtod reads up to it and sets
    // `end` to a position inside `buf`.
    let v = unsafe { libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end) };
    let used = end as usize - buf.as_ptr() as usize;
    if used != body.len() || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

/// One end of a lexicographic range (ZRANGEBYLEX syntax): `-`, `+`, `[member`, `(member`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every string.
    NegInf,
    /// `+`: above every string.
    PosInf,
    /// `[x`: x itself is in the range.
    Inclusive(Sds),
    /// `(x`: x itself is not in the range.
    Exclusive(Sds),
}

impl LexBound {
    /// Parses one range item as Redis's `zslParseLexRangeItem` does (`+`/`-` must be alone,
    /// though as in C a NUL may follow them); `None` means "ERR min or max not valid string
    /// range item".
    pub fn parse(s: &[u8]) -> Option<LexBound> {
        match s.first()? {
            b'+' if s.len() == 1 || s[1] == 0 => Some(LexBound::PosInf),
            b'-' if s.len() == 1 || s[1] == 0 => Some(LexBound::NegInf),
            b'(' => Some(LexBound::Exclusive(Sds::from_slice(&s[1..]))),
            b'[' => Some(LexBound::Inclusive(Sds::from_slice(&s[1..]))),
            _ => None,
        }
    }

    /// Rank of the bound kind for comparing bounds: -inf < strings < +inf.
    fn cmp_bound(&self, other: &LexBound) -> Ordering {
        fn key(b: &LexBound) -> (i8, &[u8]) {
            match b {
                LexBound::NegInf => (-1, &[]),
                LexBound::PosInf => (1, &[]),
                LexBound::Inclusive(s) | LexBound::Exclusive(s) => (0, s.as_bytes()),
            }
        }
        key(self).cmp(&key(other))
    }

    /// True for an open end; the infinities count as open, as in Redis.
    fn is_exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }
}

/// A member interval for ZRANGEBYLEX/ZLEXCOUNT/ZREMRANGEBYLEX (Redis's `zlexrangespec`).
/// Meaningful when all scores are equal, as Redis documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Parses both items; `None` means "ERR min or max not valid string range item".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// True when `v` is at or above the lower end (Redis's `zslLexValueGteMin`).
    #[inline]
    pub fn gte_min(&self, v: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Inclusive(s) => v >= s.as_bytes(),
            LexBound::Exclusive(s) => v > s.as_bytes(),
        }
    }

    /// True when `v` is at or below the upper end (Redis's `zslLexValueLteMax`).
    #[inline]
    pub fn lte_max(&self, v: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(s) => v <= s.as_bytes(),
            LexBound::Exclusive(s) => v < s.as_bytes(),
        }
    }
}

/// One element of a sorted set as a range test reads it. Each encoding reads only what the
/// test asks for: a score range never looks at the member, a lex range never decodes the score.
pub trait RangeElem {
    /// The element's score.
    fn score(&self) -> f64;
    /// `f` applied to the element's member bytes.
    fn with_member<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T;
}

/// A range of sorted-set elements: by score ([`ScoreRange`], Redis's `zrangespec`) or by
/// member ([`LexRange`], `zlexrangespec`). The range walks of both encodings (is-in-range,
/// first and last in range, count, visit, delete) take any `MemberRange`, so each walk is
/// written once where t_zset.c writes it twice.
pub trait MemberRange {
    /// True when no element can be in the range, whatever the set holds.
    fn is_empty(&self) -> bool;

    /// True when `e` is at or above the lower end.
    fn elem_gte_min(&self, e: &impl RangeElem) -> bool;

    /// True when `e` is at or below the upper end.
    fn elem_lte_max(&self, e: &impl RangeElem) -> bool;

    /// True when `e`, met by a walk that started inside the range, is still inside it: at or
    /// below the upper end walking up, at or above the lower end walking down (`rev`). Each
    /// implementation reads the element once and then branches on `rev`: going through
    /// `elem_gte_min`/`elem_lte_max` instead made the skiplist visit walks about 5% slower.
    fn elem_not_past_end(&self, e: &impl RangeElem, rev: bool) -> bool;
}

impl MemberRange for ScoreRange {
    /// Min above max, or a point with an open end: lets commands answer without touching the
    /// set.
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }

    #[inline(always)]
    fn elem_gte_min(&self, e: &impl RangeElem) -> bool {
        self.gte_min(e.score())
    }

    #[inline(always)]
    fn elem_lte_max(&self, e: &impl RangeElem) -> bool {
        self.lte_max(e.score())
    }

    #[inline(always)]
    fn elem_not_past_end(&self, e: &impl RangeElem, rev: bool) -> bool {
        let v = e.score();
        if rev {
            self.gte_min(v)
        } else {
            self.lte_max(v)
        }
    }
}

impl MemberRange for LexRange {
    /// Min above max, or equal ends with one open (`- -` and `+ +` are empty): the first test
    /// of Redis's `zslIsInLexRange`.
    fn is_empty(&self) -> bool {
        match self.min.cmp_bound(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.is_exclusive() || self.max.is_exclusive(),
            Ordering::Less => false,
        }
    }

    #[inline(always)]
    fn elem_gte_min(&self, e: &impl RangeElem) -> bool {
        e.with_member(|m| self.gte_min(m))
    }

    #[inline(always)]
    fn elem_lte_max(&self, e: &impl RangeElem) -> bool {
        e.with_member(|m| self.lte_max(m))
    }

    #[inline(always)]
    fn elem_not_past_end(&self, e: &impl RangeElem, rev: bool) -> bool {
        e.with_member(|m| {
            if rev {
                self.gte_min(m)
            } else {
                self.lte_max(m)
            }
        })
    }
}

/// The ordered view of a sorted set. See the module comment for the layout.
#[derive(Clone)]
pub struct SkipList {
    /// Record arena; the header record sits at offset 0.
    w: Vec<u32>,
    /// Member strings, indexed by the slot word of a record.
    members: Vec<Sds>,
    /// Member slots whose node was freed (they hold an empty `Sds`).
    free_members: Vec<u32>,
    /// Per height, the first freed record of that height (0 = none).
    free_recs: [u32; MAXLEVEL + 1],
    /// Words of the arena sitting in freed records.
    free_words: usize,
    len: usize,
    /// Highest level in use (>= 1), Redis's `zsl->level`.
    level: usize,
    tail: u32,
    rng: u64,
}

impl Default for SkipList {
    fn default() -> SkipList {
        SkipList::new()
    }
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for n in self.iter() {
            l.entry(&(self.score(n), String::from_utf8_lossy(self.member(n))));
        }
        l.finish()
    }
}

impl SkipList {
    /// An empty list with a per-process random level sequence (Redis seeds `random()` at start).
    pub fn new() -> SkipList {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        SkipList::with_seed(seed)
    }

    /// An empty list whose node heights follow `seed`: reproducible tests and benchmarks.
    pub fn with_seed(seed: u64) -> SkipList {
        let mut w = vec![0u32; HEADER_WORDS];
        w[W_HEIGHT] = MAXLEVEL as u32;
        SkipList {
            w,
            members: Vec::new(),
            free_members: Vec::new(),
            free_recs: [NIL; MAXLEVEL + 1],
            free_words: 0,
            len: 0,
            level: 1,
            tail: NIL,
            rng: seed,
        }
    }

    /// Makes room for `additional` more elements (about 6.7 record words and one slot each),
    /// for callers that know the final size: listpack conversion and RDB loading.
    pub fn reserve(&mut self, additional: usize) {
        self.members
            .reserve(additional.saturating_sub(self.free_members.len()));
        self.w.reserve(additional.saturating_mul(20) / 3);
    }

    /// Number of elements (ZCARD).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the list has no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held by the arena and slot vectors, not counting members' own heap blocks (those
    /// are in [`Sds::heap_size`]): for MEMORY USAGE and memory accounting.
    pub fn arena_bytes(&self) -> usize {
        self.w.capacity() * 4
            + self.members.capacity() * std::mem::size_of::<Sds>()
            + self.free_members.capacity() * 4
    }

    // ---------------------------------------------------------------------------------------
    // Record access.

    #[inline(always)]
    fn fwd(&self, x: u32, lvl: usize) -> u32 {
        self.w[x as usize + W_FWD0 + 2 * lvl]
    }

    /// Hints the CPU to start loading record `x` (no effect on other architectures).
    #[inline(always)]
    fn prefetch(&self, x: u32) {
        #[cfg(target_arch = "x86_64")]
        if let Some(p) = self.w.get(x as usize) {
            // SAFETY: prefetching is a hint; the address is inside the arena.
            unsafe {
                core::arch::x86_64::_mm_prefetch(
                    p as *const u32 as *const i8,
                    core::arch::x86_64::_MM_HINT_T0,
                )
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = x;
    }

    #[inline(always)]
    fn set_fwd(&mut self, x: u32, lvl: usize, y: u32) {
        self.w[x as usize + W_FWD0 + 2 * lvl] = y;
    }

    /// Span of level `lvl`; level 0 is 1 to a successor and 0 from the tail.
    #[inline(always)]
    fn span(&self, x: u32, lvl: usize) -> u32 {
        if lvl == 0 {
            (self.fwd(x, 0) != NIL) as u32
        } else {
            self.w[x as usize + W_HEIGHT + 2 * lvl]
        }
    }

    #[inline(always)]
    fn set_span(&mut self, x: u32, lvl: usize, s: u32) {
        if lvl > 0 {
            self.w[x as usize + W_HEIGHT + 2 * lvl] = s;
        }
    }

    #[inline(always)]
    fn score_at(&self, x: u32) -> f64 {
        let i = x as usize;
        f64::from_bits(u64::from(self.w[i]) | (u64::from(self.w[i + 1]) << 32))
    }

    #[inline(always)]
    fn set_score(&mut self, x: u32, s: f64) {
        let i = x as usize;
        let b = s.to_bits();
        self.w[i] = b as u32;
        self.w[i + 1] = (b >> 32) as u32;
    }

    #[inline(always)]
    fn back(&self, x: u32) -> u32 {
        self.w[x as usize + W_BACK]
    }

    #[inline(always)]
    fn set_back(&mut self, x: u32, b: u32) {
        self.w[x as usize + W_BACK] = b;
    }

    #[inline(always)]
    fn member_at(&self, x: u32) -> &[u8] {
        self.members[self.w[x as usize + W_MEMBER] as usize].as_bytes()
    }

    #[inline(always)]
    fn height(&self, x: u32) -> usize {
        self.w[x as usize + W_HEIGHT] as usize
    }

    /// True when node `y` sorts strictly before (score, member).
    #[inline(always)]
    fn before(&self, y: u32, score: f64, member: &[u8]) -> bool {
        let s = self.score_at(y);
        s < score || (s == score && self.member_at(y) < member)
    }

    /// Height for a new node: 1 + (number of zero bit pairs at the bottom of a random word),
    /// i.e. P(height > k) = 4^-k, capped at 32.
    fn random_level(&mut self) -> usize {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (1 + z.trailing_zeros() as usize / 2).min(MAXLEVEL)
    }

    /// Takes a record of height `h` and a member slot (reusing freed ones) and fills them in;
    /// the links are left for [`Self::link`].
    fn alloc_node(&mut self, h: usize, score: f64, member: Sds) -> u32 {
        let slot = match self.free_members.pop() {
            Some(m) => {
                self.members[m as usize] = member;
                m
            }
            None => {
                self.members.push(member);
                (self.members.len() - 1) as u32
            }
        };
        let size = record_words(h);
        let x = if self.free_recs[h] != NIL {
            let x = self.free_recs[h];
            self.free_recs[h] = self.fwd(x, 0);
            self.free_words -= size;
            x as usize
        } else {
            let x = self.w.len();
            assert!(
                x + size <= u32::MAX as usize,
                "skiplist arena exhausted (16 GiB of records)"
            );
            self.w.resize(x + size, 0);
            x
        };
        let b = score.to_bits();
        let rec = &mut self.w[x..x + size];
        rec[0] = b as u32;
        rec[1] = (b >> 32) as u32;
        rec[W_BACK] = NIL;
        rec[W_MEMBER] = slot;
        rec[W_FWD0] = NIL;
        rec[W_HEIGHT] = h as u32;
        rec[W_HEIGHT + 1..].fill(0);
        x as u32
    }

    /// Returns an unlinked node's member and puts its record and slot on the free lists.
    fn free_node(&mut self, x: u32) -> Sds {
        let slot = self.w[x as usize + W_MEMBER];
        let m = std::mem::take(&mut self.members[slot as usize]);
        self.free_members.push(slot);
        let h = self.height(x);
        let next = self.free_recs[h];
        self.set_fwd(x, 0, next);
        self.free_recs[h] = x;
        self.free_words += record_words(h);
        m
    }

    /// Finds, on every level, the last node before (score, member), and the rank of each.
    fn seek(
        &self,
        score: f64,
        member: &[u8],
        update: &mut [u32; MAXLEVEL],
        rank: &mut [u32; MAXLEVEL],
    ) {
        let mut x = HEAD;
        let mut r = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let y = self.fwd(x, i);
                // While `y` is compared, start loading the node we go down to if the
                // comparison fails: the walk is bound by cache misses, and this overlaps two.
                if i > 0 {
                    self.prefetch(self.fwd(x, i - 1));
                }
                if y != NIL && self.before(y, score, member) {
                    r = r.wrapping_add(self.span(x, i));
                    x = y;
                } else {
                    break;
                }
            }
            update[i] = x;
            rank[i] = r;
        }
    }

    /// Links node `x` (height `h`) after `update[i]` on each of its levels (zslInsert's second
    /// half), fixing spans on the levels above it.
    fn link(&mut self, x: u32, h: usize, update: &mut [u32; MAXLEVEL], rank: &mut [u32; MAXLEVEL]) {
        if h > self.level {
            for i in self.level..h {
                rank[i] = 0;
                update[i] = HEAD;
                self.set_span(HEAD, i, self.len as u32);
            }
            self.level = h;
        }
        for i in 0..h {
            let u = update[i];
            let next = self.fwd(u, i);
            self.set_fwd(x, i, next);
            self.set_fwd(u, i, x);
            let d = rank[0].wrapping_sub(rank[i]);
            let us = self.span(u, i);
            self.set_span(x, i, us.wrapping_sub(d));
            self.set_span(u, i, d.wrapping_add(1));
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(h) {
            let s = self.span(u, i).wrapping_add(1);
            self.set_span(u, i, s);
        }
        self.set_back(x, update[0]);
        let next = self.fwd(x, 0);
        if next != NIL {
            self.set_back(next, x);
        } else {
            self.tail = x;
        }
        self.len += 1;
    }

    /// Unlinks node `x` given its predecessors (Redis's `zslDeleteNode`); the record stays
    /// allocated.
    fn unlink(&mut self, x: u32, update: &[u32; MAXLEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.fwd(u, i) == x {
                let s = self
                    .span(u, i)
                    .wrapping_add(self.span(x, i))
                    .wrapping_sub(1);
                let next = self.fwd(x, i);
                self.set_span(u, i, s);
                self.set_fwd(u, i, next);
            } else {
                let s = self.span(u, i).wrapping_sub(1);
                self.set_span(u, i, s);
            }
        }
        let next = self.fwd(x, 0);
        let prev = self.back(x);
        if next != NIL {
            self.set_back(next, prev);
        } else {
            self.tail = prev;
        }
        while self.level > 1 && self.fwd(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    // ---------------------------------------------------------------------------------------
    // Point operations.

    /// Adds `member` with `score` (zslInsert). The caller guarantees the member is absent (it
    /// checks its dict first) and that `score` is not NaN.
    pub fn insert(&mut self, score: f64, member: Sds) -> NodeRef {
        debug_assert!(!score.is_nan());
        let mut update = [HEAD; MAXLEVEL];
        let mut rank = [0u32; MAXLEVEL];
        self.seek(score, member.as_bytes(), &mut update, &mut rank);
        let h = self.random_level();
        let x = self.alloc_node(h, score, member);
        self.link(x, h, &mut update, &mut rank);
        NodeRef(NonZeroU32::new(x).expect("records never sit at offset 0"))
    }

    /// Removes the element (score, member) and hands back its member string; `None` when it is
    /// not there (zslDelete).
    pub fn delete(&mut self, score: f64, member: &[u8]) -> Option<Sds> {
        let mut update = [HEAD; MAXLEVEL];
        let mut rank = [0u32; MAXLEVEL];
        self.seek(score, member, &mut update, &mut rank);
        let x = self.fwd(update[0], 0);
        if x == NIL || self.score_at(x) != score || self.member_at(x) != member {
            return None;
        }
        self.unlink(x, &update);
        let m = self.free_node(x);
        self.maybe_compact();
        Some(m)
    }

    /// Changes the score of (cur_score, member) to `new_score` (zslUpdateScore): in place when
    /// the node keeps its position, else unlinked and relinked in the same record (so the
    /// handle stays the same). `None` when the element is not there.
    pub fn update_score(
        &mut self,
        cur_score: f64,
        member: &[u8],
        new_score: f64,
    ) -> Option<NodeRef> {
        debug_assert!(!new_score.is_nan());
        let mut update = [HEAD; MAXLEVEL];
        let mut rank = [0u32; MAXLEVEL];
        self.seek(cur_score, member, &mut update, &mut rank);
        let x = self.fwd(update[0], 0);
        if x == NIL || self.score_at(x) != cur_score || self.member_at(x) != member {
            return None;
        }
        let prev = self.back(x);
        let next = self.fwd(x, 0);
        if (prev == NIL || self.score_at(prev) < new_score)
            && (next == NIL || self.score_at(next) > new_score)
        {
            self.set_score(x, new_score);
            return NodeRef::from_raw(x);
        }
        self.unlink(x, &update);
        self.set_score(x, new_score);
        let slot = self.w[x as usize + W_MEMBER] as usize;
        self.seek(
            new_score,
            self.members[slot].as_bytes(),
            &mut update,
            &mut rank,
        );
        let h = self.height(x);
        self.link(x, h, &mut update, &mut rank);
        NodeRef::from_raw(x)
    }

    /// 1-based rank of (score, member), 0 when absent (zslGetRank); ZRANK is this minus one.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        let mut x = HEAD;
        let mut r = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let y = self.fwd(x, i);
                if y == NIL {
                    break;
                }
                let s = self.score_at(y);
                if s < score || (s == score && self.member_at(y) <= member) {
                    r += self.span(x, i) as usize;
                    x = y;
                } else {
                    break;
                }
            }
            if x != HEAD && self.score_at(x) == score && self.member_at(x) == member {
                return r;
            }
        }
        0
    }

    /// 1-based rank of a node (ZCOUNT and ZLEXCOUNT subtract the ranks of range ends).
    pub fn rank_of(&self, node: NodeRef) -> usize {
        let x = node.raw();
        self.rank(self.score_at(x), self.member_at(x))
    }

    /// The node at 1-based `rank`, `None` outside 1..=len (zslGetElementByRank).
    pub fn by_rank(&self, rank: usize) -> Option<NodeRef> {
        if rank == 0 || rank > self.len {
            return None;
        }
        let mut x = HEAD;
        let mut t = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let y = self.fwd(x, i);
                if y != NIL && t + self.span(x, i) as usize <= rank {
                    t += self.span(x, i) as usize;
                    x = y;
                } else {
                    break;
                }
            }
            if t == rank {
                return NodeRef::from_raw(x);
            }
        }
        None
    }

    /// Lowest element.
    #[inline]
    pub fn first(&self) -> Option<NodeRef> {
        NodeRef::from_raw(self.fwd(HEAD, 0))
    }

    /// Highest element.
    #[inline]
    pub fn last(&self) -> Option<NodeRef> {
        NodeRef::from_raw(self.tail)
    }

    /// The element after `node`.
    #[inline]
    pub fn next(&self, node: NodeRef) -> Option<NodeRef> {
        NodeRef::from_raw(self.fwd(node.raw(), 0))
    }

    /// The element before `node` (the level-0 backward link).
    #[inline]
    pub fn prev(&self, node: NodeRef) -> Option<NodeRef> {
        NodeRef::from_raw(self.back(node.raw()))
    }

    /// Score of `node`.
    #[inline]
    pub fn score(&self, node: NodeRef) -> f64 {
        self.score_at(node.raw())
    }

    /// Member bytes of `node`.
    #[inline]
    pub fn member(&self, node: NodeRef) -> &[u8] {
        self.member_at(node.raw())
    }

    /// Member of `node` as the stored `Sds` (to clone it cheaply when inline).
    #[inline]
    pub fn member_sds(&self, node: NodeRef) -> &Sds {
        &self.members[self.w[node.raw() as usize + W_MEMBER] as usize]
    }

    // ---------------------------------------------------------------------------------------
    // Score and lex ranges: one walk for both kinds (see [`MemberRange`]).

    /// One element, for range tests from outside the list (the visit walks of `types::zset`).
    #[inline]
    pub fn elem(&self, node: NodeRef) -> Elem<'_> {
        self.elem_at(node.raw())
    }

    #[inline(always)]
    fn elem_at(&self, x: u32) -> Elem<'_> {
        Elem {
            list: self,
            x,
            score: Cell::new(None),
            member: Cell::new(None),
        }
    }

    /// Walks down from the header, on each level moving forward while `go` holds for the next
    /// node, and returns where level 0 stopped; `stopped(i, x)` hears where each level `i`
    /// stopped (the range deletes keep these as the predecessors to unlink from). The search
    /// half of every range walk.
    #[inline(always)]
    fn descend(&self, mut go: impl FnMut(u32) -> bool, mut stopped: impl FnMut(usize, u32)) -> u32 {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let y = self.fwd(x, i);
                if y != NIL && go(y) {
                    x = y;
                } else {
                    break;
                }
            }
            stopped(i, x);
        }
        x
    }

    /// True when some element may fall in `range` (zslIsInRange, zslIsInLexRange): the range
    /// is not empty, the tail is not below it and the head not above it.
    pub fn is_in_range(&self, range: &impl MemberRange) -> bool {
        if range.is_empty() || self.tail == NIL {
            return false;
        }
        range.elem_gte_min(&self.elem_at(self.tail))
            && range.elem_lte_max(&self.elem_at(self.fwd(HEAD, 0)))
    }

    /// First element within `range` (zslFirstInRange, zslFirstInLexRange).
    pub fn first_in_range(&self, range: &impl MemberRange) -> Option<NodeRef> {
        if !self.is_in_range(range) {
            return None;
        }
        let below = self.descend(|y| !range.elem_gte_min(&self.elem_at(y)), |_, _| {});
        let x = self.fwd(below, 0);
        if x == NIL || !range.elem_lte_max(&self.elem_at(x)) {
            return None;
        }
        NodeRef::from_raw(x)
    }

    /// Last element within `range` (zslLastInRange, zslLastInLexRange).
    pub fn last_in_range(&self, range: &impl MemberRange) -> Option<NodeRef> {
        if !self.is_in_range(range) {
            return None;
        }
        let x = self.descend(|y| range.elem_lte_max(&self.elem_at(y)), |_, _| {});
        if x == HEAD || !range.elem_gte_min(&self.elem_at(x)) {
            return None;
        }
        NodeRef::from_raw(x)
    }

    // ---------------------------------------------------------------------------------------
    // Range deletion. Each passes every removed member to `on_removed` (so the caller drops it
    // from its dict without a temporary vector) and returns how many were removed.

    /// Unlinks and frees nodes from `x` on while `keep` says so; `update` holds the
    /// predecessors of `x`, which stay valid because they are never removed.
    fn delete_run(
        &mut self,
        update: &[u32; MAXLEVEL],
        mut x: u32,
        mut keep: impl FnMut(&SkipList, u32) -> bool,
        on_removed: &mut impl FnMut(Sds),
    ) -> usize {
        let mut removed = 0;
        while x != NIL && keep(self, x) {
            let next = self.fwd(x, 0);
            self.unlink(x, update);
            on_removed(self.free_node(x));
            removed += 1;
            x = next;
        }
        self.maybe_compact();
        removed
    }

    /// Removes every element in `range` (zslDeleteRangeByScore, zslDeleteRangeByLex).
    pub fn delete_range(
        &mut self,
        range: &impl MemberRange,
        mut on_removed: impl FnMut(Sds),
    ) -> usize {
        let mut update = [HEAD; MAXLEVEL];
        let below = self.descend(
            |y| !range.elem_gte_min(&self.elem_at(y)),
            |i, x| update[i] = x,
        );
        let x = self.fwd(below, 0);
        self.delete_run(
            &update,
            x,
            |l, x| range.elem_lte_max(&l.elem_at(x)),
            &mut on_removed,
        )
    }

    /// Removes the elements with 1-based ranks `start..=end` (zslDeleteRangeByRank); ranks
    /// past the end are ignored, `start` 0 counts as 1.
    pub fn delete_range_by_rank(
        &mut self,
        start: usize,
        end: usize,
        mut on_removed: impl FnMut(Sds),
    ) -> usize {
        let mut update = [HEAD; MAXLEVEL];
        let mut x = HEAD;
        let mut t = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let y = self.fwd(x, i);
                if y != NIL && t + (self.span(x, i) as usize) < start {
                    t += self.span(x, i) as usize;
                    x = y;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let x = self.fwd(x, 0);
        let mut t = t + 1;
        self.delete_run(
            &update,
            x,
            |_, _| {
                let ok = t <= end;
                t += 1;
                ok
            },
            &mut on_removed,
        )
    }

    // ---------------------------------------------------------------------------------------
    // Iteration.

    /// All elements, lowest first.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            cur: self.fwd(HEAD, 0),
            rev: false,
        }
    }

    /// Elements from `node` (included) upwards: ZRANGE after a rank or range seek.
    pub fn iter_from(&self, node: NodeRef) -> Iter<'_> {
        Iter {
            list: self,
            cur: node.raw(),
            rev: false,
        }
    }

    /// All elements, highest first.
    pub fn iter_rev(&self) -> Iter<'_> {
        Iter {
            list: self,
            cur: self.tail,
            rev: true,
        }
    }

    /// Elements from `node` (included) downwards: ZREVRANGE.
    pub fn iter_rev_from(&self, node: NodeRef) -> Iter<'_> {
        Iter {
            list: self,
            cur: node.raw(),
            rev: true,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Compaction.

    /// Compacts when freed records outweigh live ones three to one and are worth a pass. The
    /// pass costs O(live), paid for by the deletions that freed three times as much.
    fn maybe_compact(&mut self) {
        let live = self.w.len() - HEADER_WORDS - self.free_words;
        if self.free_words >= COMPACT_MIN_WORDS && self.free_words > 3 * live {
            self.compact();
        }
    }

    /// Rebuilds the arena in list order with no free space: memory goes back to the allocator
    /// and later walks read the arena sequentially. Node heights are kept. Invalidates every
    /// [`NodeRef`].
    pub fn compact(&mut self) {
        let live = self.w.len() - HEADER_WORDS - self.free_words;
        let mut w: Vec<u32> = Vec::with_capacity(HEADER_WORDS + live);
        w.resize(HEADER_WORDS, 0);
        w[W_HEIGHT] = MAXLEVEL as u32;
        let mut members: Vec<Sds> = Vec::with_capacity(self.len);
        let mut last = [HEAD; MAXLEVEL];
        let mut last_rank = [0u32; MAXLEVEL];
        let mut k = 0u32;
        let mut prev = NIL;
        let mut x = self.fwd(HEAD, 0);
        while x != NIL {
            k += 1;
            let h = self.height(x);
            let nx = w.len() as u32;
            let xi = x as usize;
            let slot = self.w[xi + W_MEMBER] as usize;
            w.extend_from_slice(&[
                self.w[xi],
                self.w[xi + 1],
                prev,
                members.len() as u32,
                NIL,
                h as u32,
            ]);
            w.resize(w.len() + 2 * (h - 1), 0);
            members.push(std::mem::take(&mut self.members[slot]));
            for i in 0..h {
                let l = last[i] as usize;
                w[l + W_FWD0 + 2 * i] = nx;
                if i > 0 {
                    w[l + W_HEIGHT + 2 * i] = k - last_rank[i];
                }
                last[i] = nx;
                last_rank[i] = k;
            }
            prev = nx;
            x = self.fwd(x, 0);
        }
        for i in 1..self.level {
            w[last[i] as usize + W_HEIGHT + 2 * i] = k - last_rank[i];
        }
        self.w = w;
        self.members = members;
        self.free_members = Vec::new();
        self.free_recs = [NIL; MAXLEVEL + 1];
        self.free_words = 0;
        self.tail = prev;
    }

    // ---------------------------------------------------------------------------------------
    // Self-check.

    /// Verifies every structural invariant: order, backward links, tail, length, level, the
    /// level chains (each is the subsequence of nodes tall enough), every span (including
    /// spans to the end, which are len - rank), member slots and free-list accounting. For
    /// tests and DEBUG-style checks; O(n * level).
    pub fn check_invariants(&self) -> Result<(), String> {
        use std::collections::HashMap;
        if self.height(HEAD) != MAXLEVEL {
            return Err("header height".into());
        }
        // Level 0: order, backward links, ranks.
        let mut rank_of: HashMap<u32, usize> = HashMap::new();
        let mut order: Vec<u32> = Vec::new();
        let mut prev = NIL;
        let mut x = self.fwd(HEAD, 0);
        let mut max_h = 1;
        let mut slots = std::collections::HashSet::new();
        while x != NIL {
            if order.len() > self.len {
                return Err("level 0 longer than len (cycle?)".into());
            }
            if (x as usize) < HEADER_WORDS || x as usize + record_words(1) > self.w.len() {
                return Err(format!("node offset {x} out of the arena"));
            }
            let h = self.height(x);
            if h == 0 || h > MAXLEVEL || x as usize + record_words(h) > self.w.len() {
                return Err(format!("node {x}: bad height {h}"));
            }
            max_h = max_h.max(h);
            if self.back(x) != prev {
                return Err(format!("node {x}: backward {} != {prev}", self.back(x)));
            }
            if prev != NIL {
                let (ps, s) = (self.score_at(prev), self.score_at(x));
                let ok = ps < s || (ps == s && self.member_at(prev) < self.member_at(x));
                if !ok {
                    return Err(format!("order broken at node {x}"));
                }
            }
            let slot = self.w[x as usize + W_MEMBER];
            if slot as usize >= self.members.len() || !slots.insert(slot) {
                return Err(format!("node {x}: bad or shared member slot {slot}"));
            }
            order.push(x);
            rank_of.insert(x, order.len());
            prev = x;
            x = self.fwd(x, 0);
        }
        if order.len() != self.len {
            return Err(format!("len {} but {} nodes", self.len, order.len()));
        }
        if self.tail != prev {
            return Err("tail is not the last node".into());
        }
        let want_level = if self.len == 0 { 1 } else { max_h };
        if self.level != want_level {
            return Err(format!(
                "level {} but tallest node {want_level}",
                self.level
            ));
        }
        // Every level: chain == nodes of sufficient height, spans exact.
        for i in 0..MAXLEVEL {
            if i >= self.level {
                if self.fwd(HEAD, i) != NIL {
                    return Err(format!("header level {i} above level is linked"));
                }
                continue;
            }
            let mut expect = order.iter().copied().filter(|&n| self.height(n) > i);
            let mut x = HEAD;
            let mut xr = 0usize;
            loop {
                let y = self.fwd(x, i);
                let span = self.span(x, i) as usize;
                if y == NIL {
                    if expect.next().is_some() {
                        return Err(format!("level {i} chain ends early"));
                    }
                    if span != self.len - xr {
                        return Err(format!("level {i}: span to end {span} at rank {xr}"));
                    }
                    break;
                }
                if expect.next() != Some(y) {
                    return Err(format!("level {i} chain skips or misorders at {y}"));
                }
                let yr = rank_of[&y];
                if span != yr - xr {
                    return Err(format!("level {i}: span {span} from rank {xr} to {yr}"));
                }
                x = y;
                xr = yr;
            }
        }
        // Slots and free lists.
        if self.members.len() != self.len + self.free_members.len() {
            return Err("member slots do not add up".into());
        }
        for &m in &self.free_members {
            if slots.contains(&m) || !self.members[m as usize].is_empty() {
                return Err(format!("free slot {m} in use"));
            }
        }
        let mut free = 0usize;
        for h in 1..=MAXLEVEL {
            let mut r = self.free_recs[h];
            let mut n = 0usize;
            while r != NIL {
                if rank_of.contains_key(&r) || self.height(r) != h {
                    return Err(format!("free record {r} (height {h}) is live or mis-sized"));
                }
                free += record_words(h);
                n += 1;
                if n > self.w.len() {
                    return Err("free list cycle".into());
                }
                r = self.fwd(r, 0);
            }
        }
        if free != self.free_words {
            return Err(format!(
                "free words {} but lists hold {free}",
                self.free_words
            ));
        }
        let live: usize = order.iter().map(|&n| record_words(self.height(n))).sum();
        if HEADER_WORDS + live + free != self.w.len() {
            return Err("arena words do not add up".into());
        }
        Ok(())
    }
}

/// One element of a [`SkipList`] as a range test reads it. The score and the member are each
/// loaded when first asked for and then kept, so a walk that tests an element and hands it on
/// reads it once.
pub struct Elem<'a> {
    list: &'a SkipList,
    x: u32,
    score: Cell<Option<f64>>,
    member: Cell<Option<&'a [u8]>>,
}

impl<'a> Elem<'a> {
    /// The member bytes.
    #[inline(always)]
    pub fn member(&self) -> &'a [u8] {
        if let Some(m) = self.member.get() {
            return m;
        }
        let m = self.list.member_at(self.x);
        self.member.set(Some(m));
        m
    }
}

impl RangeElem for Elem<'_> {
    #[inline(always)]
    fn score(&self) -> f64 {
        if let Some(s) = self.score.get() {
            return s;
        }
        let s = self.list.score_at(self.x);
        self.score.set(Some(s));
        s
    }

    #[inline(always)]
    fn with_member<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        f(self.member())
    }
}

/// Walks the list from a node, forwards or backwards, yielding handles.
pub struct Iter<'a> {
    list: &'a SkipList,
    cur: u32,
    rev: bool,
}

impl Iterator for Iter<'_> {
    type Item = NodeRef;

    #[inline]
    fn next(&mut self) -> Option<NodeRef> {
        let n = NodeRef::from_raw(self.cur)?;
        self.cur = if self.rev {
            self.list.back(self.cur)
        } else {
            self.list.fwd(self.cur, 0)
        };
        Some(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection (DEBUG LAYOUT, ferrodis-observatory)

/// Bytes of a member copied into a layout; the full length stays in `member_len`.
pub const LAYOUT_PREVIEW: usize = 64;

/// One level of a node: where its forward link leads and how many level-0 steps it jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelLayout {
    /// Word offset of the record the link points to (0: none, past the tail).
    pub forward: u32,
    /// Level-0 steps the link jumps (Redis's span); 0 for a link to nothing at level 0.
    pub span: u32,
}

/// One node of a [`SkipListLayout`].
#[derive(Clone, Debug, PartialEq)]
pub struct SkipNodeLayout {
    /// 1-based rank in (score, member) order.
    pub rank: usize,
    /// Word offset of the node's record in the arena.
    pub offset: u32,
    /// The score.
    pub score: f64,
    /// Length of the member.
    pub member_len: usize,
    /// The member, at most [`LAYOUT_PREVIEW`] bytes.
    pub member: Vec<u8>,
    /// Word offset of the previous node (0: none, this is the first node).
    pub backward: u32,
    /// The node's levels, 0 first; the height is `levels.len()`.
    pub levels: Vec<LevelLayout>,
}

/// A skiplist's header and first nodes, read-only plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct SkipListLayout {
    /// Number of elements.
    pub length: usize,
    /// Highest level in use (`zsl->level`).
    pub level: usize,
    /// The header's links on levels 0..level.
    pub header: Vec<LevelLayout>,
    /// Word offset of the last node (0 when empty).
    pub tail: u32,
    /// Words in the record arena (header included).
    pub arena_words: usize,
    /// Words of freed records waiting for reuse.
    pub free_words: usize,
    /// The first nodes in order.
    pub nodes: Vec<SkipNodeLayout>,
    /// True when nodes were left out.
    pub truncated: bool,
}

impl SkipList {
    fn levels_of(&self, x: u32, h: usize) -> Vec<LevelLayout> {
        (0..h)
            .map(|l| LevelLayout {
                forward: self.fwd(x, l),
                span: self.span(x, l),
            })
            .collect()
    }

    /// The header and the first `limit` nodes with their levels, spans and backward links,
    /// walking level 0 from the head: O(limit) (DEBUG LAYOUT).
    pub fn layout(&self, limit: usize) -> SkipListLayout {
        let mut out = SkipListLayout {
            length: self.len,
            level: self.level,
            header: self.levels_of(HEAD, self.level),
            tail: self.tail,
            arena_words: self.w.len(),
            free_words: self.free_words,
            nodes: Vec::new(),
            truncated: false,
        };
        let mut x = self.fwd(HEAD, 0);
        while x != NIL {
            if out.nodes.len() >= limit {
                out.truncated = true;
                break;
            }
            let m = self.member_at(x);
            out.nodes.push(SkipNodeLayout {
                rank: out.nodes.len() + 1,
                offset: x,
                score: self.score_at(x),
                member_len: m.len(),
                member: m[..m.len().min(LAYOUT_PREVIEW)].to_vec(),
                backward: self.back(x),
                levels: self.levels_of(x, self.height(x)),
            });
            x = self.fwd(x, 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_walks_levels_and_spans() {
        let mut sl = SkipList::with_seed(7);
        for i in 0..50 {
            sl.insert(i as f64, Sds::from_slice(format!("m{i}").as_bytes()));
        }
        let l = sl.layout(50);
        assert_eq!((l.length, l.nodes.len(), l.truncated), (50, 50, false));
        assert_eq!(l.header.len(), l.level);
        assert_eq!(l.tail, l.nodes[49].offset);
        for (i, n) in l.nodes.iter().enumerate() {
            assert_eq!(n.rank, i + 1);
            assert_eq!(n.score, i as f64);
            assert_eq!(n.backward, if i == 0 { 0 } else { l.nodes[i - 1].offset });
            // Each link lands on the node `span` ranks ahead.
            for lv in &n.levels {
                if lv.forward != 0 {
                    assert_eq!(l.nodes[i + lv.span as usize].offset, lv.forward);
                }
            }
        }
        let small = sl.layout(5);
        assert!(small.truncated && small.nodes.len() == 5);
    }
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Orders scores like Redis compares them (-0.0 == 0.0); NaN never occurs.
    #[derive(Clone, Copy, Debug)]
    struct OrderedScore(f64);
    impl PartialEq for OrderedScore {
        fn eq(&self, o: &Self) -> bool {
            self.0 == o.0
        }
    }
    impl Eq for OrderedScore {}
    impl PartialOrd for OrderedScore {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for OrderedScore {
        fn cmp(&self, o: &Self) -> Ordering {
            self.0.partial_cmp(&o.0).expect("no NaN in tests")
        }
    }

    type Model = BTreeMap<(OrderedScore, Vec<u8>), ()>;

    fn contents(l: &SkipList) -> Vec<(f64, Vec<u8>)> {
        l.iter()
            .map(|n| (l.score(n), l.member(n).to_vec()))
            .collect()
    }

    fn model_contents(m: &Model) -> Vec<(f64, Vec<u8>)> {
        m.keys().map(|(s, k)| (s.0, k.clone())).collect()
    }

    fn sds(s: &[u8]) -> Sds {
        Sds::from_slice(s)
    }

    #[test]
    fn empty_list() {
        let l = SkipList::new();
        assert_eq!(l.len(), 0);
        assert!(l.first().is_none() && l.last().is_none());
        assert_eq!(l.rank(1.0, b"a"), 0);
        assert!(l.by_rank(1).is_none());
        assert!(l.by_rank(0).is_none());
        let r = ScoreRange::parse(b"-inf", b"+inf").unwrap();
        assert!(!l.is_in_range(&r));
        assert!(l.first_in_range(&r).is_none());
        l.check_invariants().unwrap();
    }

    #[test]
    fn insert_order_rank_backward() {
        let mut l = SkipList::with_seed(1);
        for (s, m) in [(3.0, "c"), (1.0, "a"), (2.0, "b"), (2.0, "a2"), (1.0, "a0")] {
            l.insert(s, sds(m.as_bytes()));
            l.check_invariants().unwrap();
        }
        let got: Vec<_> = contents(&l);
        let want: Vec<(f64, Vec<u8>)> =
            [(1.0, "a"), (1.0, "a0"), (2.0, "a2"), (2.0, "b"), (3.0, "c")]
                .iter()
                .map(|&(s, m)| (s, m.as_bytes().to_vec()))
                .collect();
        assert_eq!(got, want);
        for (i, (s, m)) in want.iter().enumerate() {
            assert_eq!(l.rank(*s, m), i + 1);
            let n = l.by_rank(i + 1).unwrap();
            assert_eq!(l.member(n), &m[..]);
            assert_eq!(l.rank_of(n), i + 1);
        }
        assert_eq!(l.rank(2.0, b"zz"), 0);
        let rev: Vec<_> = l.iter_rev().map(|n| l.member(n).to_vec()).collect();
        assert_eq!(rev.len(), 5);
        assert_eq!(rev[0], b"c");
        assert_eq!(l.prev(l.first().unwrap()), None);
        assert_eq!(l.next(l.last().unwrap()), None);
    }

    #[test]
    fn delete_and_update() {
        let mut l = SkipList::with_seed(7);
        for i in 0..100 {
            l.insert(i as f64, sds(format!("m{i}").as_bytes()));
        }
        assert_eq!(l.delete(5.0, b"m5").unwrap().as_bytes(), b"m5");
        assert!(l.delete(5.0, b"m5").is_none());
        assert!(l.delete(6.0, b"m7").is_none());
        l.check_invariants().unwrap();
        // In place: stays between neighbours.
        let n = l.update_score(10.0, b"m10", 10.5).unwrap();
        assert_eq!(l.score(n), 10.5);
        // Moves, keeping its handle.
        let h20 = l.by_rank(l.rank(20.0, b"m20")).unwrap();
        let n2 = l.update_score(20.0, b"m20", -1.0).unwrap();
        assert_eq!(n2, h20);
        assert_eq!(l.first(), Some(n2));
        assert_eq!(l.rank(-1.0, b"m20"), 1);
        assert!(l.update_score(20.0, b"m20", 3.0).is_none());
        l.check_invariants().unwrap();
        // Equal neighbour score forces a relink (strict test as in Redis) but order holds.
        l.update_score(30.0, b"m30", 31.0).unwrap();
        l.check_invariants().unwrap();
        assert!(l.rank(31.0, b"m30") < l.rank(31.0, b"m31"));
    }

    #[test]
    fn score_range_parse_like_redis() {
        let r = ScoreRange::parse(b"(1.5", b"2.5").unwrap();
        assert!(r.minex && !r.maxex && r.min == 1.5 && r.max == 2.5);
        // strtod rules seen on redis-server 7.0.15: "" -> 0, " 1" ok, "(" -> (0, hex, NUL stop.
        assert_eq!(ScoreRange::parse(b"", b"1").unwrap().min, 0.0);
        assert_eq!(ScoreRange::parse(b" 1", b"1").unwrap().min, 1.0);
        let r = ScoreRange::parse(b"(", b"1").unwrap();
        assert!(r.minex && r.min == 0.0);
        assert_eq!(ScoreRange::parse(b"0x1p0", b"1").unwrap().min, 1.0);
        assert_eq!(ScoreRange::parse(b"1\0x", b"1").unwrap().min, 1.0);
        assert_eq!(
            ScoreRange::parse(b"1e400", b"1").unwrap().min,
            f64::INFINITY
        );
        assert_eq!(
            ScoreRange::parse(b"-inf", b"+inf").unwrap().max,
            f64::INFINITY
        );
        assert!(ScoreRange::parse(b"1x", b"1").is_none());
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"1", b"1 ").is_none());
        assert!(ScoreRange::parse(b"1", b"(1").unwrap().is_empty());
        assert!(ScoreRange::parse(b"2", b"1").unwrap().is_empty());
        assert!(!ScoreRange::parse(b"1", b"1").unwrap().is_empty());
    }

    #[test]
    fn lex_range_parse_like_redis() {
        assert_eq!(LexBound::parse(b"-"), Some(LexBound::NegInf));
        assert_eq!(LexBound::parse(b"+"), Some(LexBound::PosInf));
        assert_eq!(LexBound::parse(b"+\0x"), Some(LexBound::PosInf));
        assert_eq!(LexBound::parse(b"+a"), None);
        assert_eq!(LexBound::parse(b"a"), None);
        assert_eq!(LexBound::parse(b""), None);
        assert_eq!(LexBound::parse(b"["), Some(LexBound::Inclusive(sds(b""))));
        assert_eq!(
            LexBound::parse(b"(a\0"),
            Some(LexBound::Exclusive(sds(b"a\0")))
        );
        let e = |a: &[u8], b: &[u8]| LexRange::parse(a, b).unwrap().is_empty();
        assert!(!e(b"-", b"+"));
        assert!(e(b"+", b"-"));
        assert!(e(b"-", b"-"));
        assert!(e(b"+", b"+"));
        assert!(!e(b"[a", b"[a"));
        assert!(e(b"(a", b"[a"));
        assert!(e(b"[a", b"(a"));
        assert!(e(b"[b", b"-"));
        assert!(!e(b"[", b"+"));
    }

    #[test]
    fn ranges_and_range_deletes() {
        let mut l = SkipList::with_seed(3);
        for i in 1..=10 {
            l.insert(i as f64, sds(format!("{i:02}").as_bytes()));
        }
        let r = ScoreRange::parse(b"(3", b"7").unwrap();
        assert_eq!(l.score(l.first_in_range(&r).unwrap()), 4.0);
        assert_eq!(l.score(l.last_in_range(&r).unwrap()), 7.0);
        let r2 = ScoreRange::parse(b"(3", b"(4").unwrap();
        assert!(l.is_in_range(&r2));
        assert!(l.first_in_range(&r2).is_none());
        assert!(l.last_in_range(&r2).is_none());
        let mut gone = Vec::new();
        assert_eq!(l.delete_range(&r, |m| gone.push(m)), 4);
        assert_eq!(
            gone.iter().map(|m| m.as_bytes()).collect::<Vec<_>>(),
            vec![b"04", b"05", b"06", b"07"]
        );
        l.check_invariants().unwrap();
        assert_eq!(l.delete_range_by_rank(2, 3, |_| {}), 2);
        l.check_invariants().unwrap();
        let names: Vec<_> = contents(&l).into_iter().map(|(_, m)| m).collect();
        assert_eq!(
            names,
            vec![
                b"01".to_vec(),
                b"08".to_vec(),
                b"09".to_vec(),
                b"10".to_vec()
            ]
        );
        let lr = LexRange::parse(b"(01", b"[09").unwrap();
        assert_eq!(l.member(l.first_in_range(&lr).unwrap()), b"08");
        assert_eq!(l.member(l.last_in_range(&lr).unwrap()), b"09");
        assert_eq!(l.delete_range(&lr, |_| {}), 2);
        assert_eq!(l.delete_range_by_rank(1, usize::MAX, |_| {}), 2);
        assert!(l.is_empty());
        l.check_invariants().unwrap();
    }

    #[test]
    fn compaction_keeps_contents_and_frees_memory() {
        let mut l = SkipList::with_seed(11);
        l.reserve(2000);
        for i in 0..2000 {
            l.insert((i % 97) as f64, sds(format!("member:{i}").as_bytes()));
        }
        let before = l.arena_bytes();
        let mut n = 0;
        for i in 0..2000 {
            if i % 10 != 0 {
                assert!(l
                    .delete((i % 97) as f64, format!("member:{i}").as_bytes())
                    .is_some());
                n += 1;
            }
        }
        assert_eq!(l.len(), 2000 - n);
        l.check_invariants().unwrap();
        assert!(
            l.arena_bytes() < before / 3,
            "{} vs {}",
            l.arena_bytes(),
            before
        );
        // Compacted lists have nodes in arena order, so ranks run with offsets.
        let offs: Vec<u32> = l.iter().map(|n| n.raw()).collect();
        assert!(offs.windows(2).all(|w| w[0] < w[1]));
        l.compact();
        l.check_invariants().unwrap();
        for i in 0..200 {
            l.insert(-(i as f64), sds(format!("new:{i}").as_bytes()));
        }
        l.check_invariants().unwrap();
        assert_eq!(l.len(), 400);
    }

    #[test]
    fn long_members_and_heights() {
        let mut l = SkipList::with_seed(5);
        let long = vec![b'x'; 100];
        for i in 0..300u32 {
            let mut m = long.clone();
            m.extend_from_slice(&i.to_be_bytes());
            l.insert(0.0, Sds::from_vec(m));
        }
        l.check_invariants().unwrap();
        assert!(l.level > 1);
        let mut heights = [0usize; MAXLEVEL + 1];
        let mut l2 = SkipList::with_seed(99);
        for _ in 0..100_000 {
            heights[l2.random_level()] += 1;
        }
        // P(h=1) = 3/4, P(h=2) = 3/16.
        assert!((heights[1] as f64 / 100_000.0 - 0.75).abs() < 0.01);
        assert!((heights[2] as f64 / 100_000.0 - 0.1875).abs() < 0.01);
    }

    #[test]
    fn infinities_and_negative_zero() {
        let mut l = SkipList::with_seed(2);
        l.insert(f64::INFINITY, sds(b"top"));
        l.insert(f64::NEG_INFINITY, sds(b"bottom"));
        l.insert(-0.0, sds(b"b"));
        l.insert(0.0, sds(b"a"));
        l.check_invariants().unwrap();
        // -0 and 0 compare equal, so members decide.
        let names: Vec<_> = contents(&l).into_iter().map(|(_, m)| m).collect();
        assert_eq!(
            names,
            vec![
                b"bottom".to_vec(),
                b"a".to_vec(),
                b"b".to_vec(),
                b"top".to_vec()
            ]
        );
        assert_eq!(l.rank(0.0, b"b"), 3);
        let r = ScoreRange::parse(b"-inf", b"(inf").unwrap();
        assert_eq!(l.member(l.last_in_range(&r).unwrap()), b"b");
    }

    // -------------------------------------------------------------------------------------
    // Model tests.

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u8),
        Delete(u8),
        DeleteMissing(u8, u8),
        Update(u8, u8),
        Rank(u8, u8),
        ByRank(u8),
        Range(u8, u8, bool, bool),
        DelRange(u8, u8, bool, bool),
        DelRank(u8, u8),
        Compact,
    }

    const SCORES: [f64; 8] = [
        f64::NEG_INFINITY,
        -2.0,
        -0.0,
        0.0,
        1.0,
        1.5,
        3.0,
        f64::INFINITY,
    ];

    fn member_name(i: u8) -> Vec<u8> {
        if i.is_multiple_of(7) {
            // Heap-stored members too.
            let mut v = vec![b'L'; 30];
            v.push(i);
            v
        } else {
            format!("m{}", i % 64).into_bytes()
        }
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<u8>(), any::<u8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            3 => any::<u8>().prop_map(Op::Delete),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(m, s)| Op::DeleteMissing(m, s)),
            3 => (any::<u8>(), any::<u8>()).prop_map(|(m, s)| Op::Update(m, s)),
            2 => (any::<u8>(), any::<u8>()).prop_map(|(m, s)| Op::Rank(m, s)),
            2 => any::<u8>().prop_map(Op::ByRank),
            2 => (any::<u8>(), any::<u8>(), any::<bool>(), any::<bool>())
                .prop_map(|(a, b, x, y)| Op::Range(a, b, x, y)),
            1 => (any::<u8>(), any::<u8>(), any::<bool>(), any::<bool>())
                .prop_map(|(a, b, x, y)| Op::DelRange(a, b, x, y)),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::DelRank(a, b)),
            1 => Just(Op::Compact),
        ]
    }

    fn score_of(s: u8) -> f64 {
        SCORES[s as usize % SCORES.len()]
    }

    fn model_range(m: &Model, r: &ScoreRange) -> Vec<(f64, Vec<u8>)> {
        m.keys()
            .filter(|(s, _)| r.gte_min(s.0) && r.lte_max(s.0))
            .map(|(s, k)| (s.0, k.clone()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn model_score_ops(seed in any::<u64>(), ops in proptest::collection::vec(op_strategy(), 1..300)) {
            let mut l = SkipList::with_seed(seed);
            let mut m: Model = BTreeMap::new();
            let mut scores: std::collections::HashMap<Vec<u8>, f64> = Default::default();
            for op in ops {
                match op {
                    Op::Insert(mi, si) => {
                        let name = member_name(mi);
                        let s = score_of(si);
                        if let Some(&old) = scores.get(&name) {
                            prop_assert!(l.update_score(old, &name, s).is_some());
                            m.remove(&(OrderedScore(old), name.clone()));
                        } else {
                            let n = l.insert(s, Sds::from_slice(&name));
                            prop_assert_eq!(l.member(n), &name[..]);
                        }
                        m.insert((OrderedScore(s), name.clone()), ());
                        scores.insert(name, s);
                    }
                    Op::Delete(mi) => {
                        let name = member_name(mi);
                        if let Some(old) = scores.remove(&name) {
                            let got = l.delete(old, &name);
                            prop_assert_eq!(got.map(|s| s.as_bytes().to_vec()), Some(name.clone()));
                            m.remove(&(OrderedScore(old), name));
                        }
                    }
                    Op::DeleteMissing(mi, si) => {
                        let name = member_name(mi);
                        let s = score_of(si);
                        let present = scores.get(&name).is_some_and(|&o| o == s);
                        if !present {
                            prop_assert!(l.delete(s, &name).is_none());
                            prop_assert!(l.update_score(s, &name, 0.0).is_none());
                        }
                    }
                    Op::Update(mi, si) => {
                        let name = member_name(mi);
                        if let Some(&old) = scores.get(&name) {
                            let s = score_of(si);
                            let n = l.update_score(old, &name, s).unwrap();
                            prop_assert_eq!(l.score(n), s);
                            m.remove(&(OrderedScore(old), name.clone()));
                            m.insert((OrderedScore(s), name.clone()), ());
                            scores.insert(name, s);
                        }
                    }
                    Op::Rank(mi, si) => {
                        let name = member_name(mi);
                        let s = scores.get(&name).copied().unwrap_or(score_of(si));
                        let want = m.keys().position(|(ks, kn)| ks.0 == s && kn == &name).map_or(0, |p| p + 1);
                        prop_assert_eq!(l.rank(s, &name), want);
                        // Also an absent pairing.
                        let s2 = score_of(si);
                        let want2 = m.keys().position(|(ks, kn)| ks.0 == s2 && kn == &name).map_or(0, |p| p + 1);
                        prop_assert_eq!(l.rank(s2, &name), want2);
                    }
                    Op::ByRank(r) => {
                        let r = r as usize % (m.len() + 2);
                        let got = l.by_rank(r).map(|n| (l.score(n), l.member(n).to_vec()));
                        let want = if r == 0 { None } else { m.keys().nth(r - 1).map(|(s, k)| (s.0, k.clone())) };
                        prop_assert_eq!(got, want);
                    }
                    Op::Range(a, b, x, y) => {
                        let r = ScoreRange { min: score_of(a), max: score_of(b), minex: x, maxex: y };
                        let want = model_range(&m, &r);
                        let first = l.first_in_range(&r).map(|n| (l.score(n), l.member(n).to_vec()));
                        let last = l.last_in_range(&r).map(|n| (l.score(n), l.member(n).to_vec()));
                        prop_assert_eq!(first, want.first().cloned());
                        prop_assert_eq!(last, want.last().cloned());
                        if let Some(f) = l.first_in_range(&r) {
                            let walked: Vec<_> = l.iter_from(f).take(want.len()).map(|n| (l.score(n), l.member(n).to_vec())).collect();
                            prop_assert_eq!(&walked, &want);
                            let lst = l.last_in_range(&r).unwrap();
                            prop_assert_eq!(l.rank_of(lst) - l.rank_of(f) + 1, want.len());
                            let mut back: Vec<_> = l.iter_rev_from(lst).take(want.len()).map(|n| (l.score(n), l.member(n).to_vec())).collect();
                            back.reverse();
                            prop_assert_eq!(&back, &want);
                        }
                    }
                    Op::DelRange(a, b, x, y) => {
                        let r = ScoreRange { min: score_of(a), max: score_of(b), minex: x, maxex: y };
                        let want = model_range(&m, &r);
                        let mut got = Vec::new();
                        let n = l.delete_range(&r, |s| got.push(s.as_bytes().to_vec()));
                        prop_assert_eq!(n, want.len());
                        let want_names: Vec<_> = want.iter().map(|(_, k)| k.clone()).collect();
                        prop_assert_eq!(got, want_names);
                        for (s, k) in want {
                            m.remove(&(OrderedScore(s), k.clone()));
                            scores.remove(&k);
                        }
                    }
                    Op::DelRank(a, b) => {
                        let len = m.len() + 2;
                        let (s, e) = (a as usize % len, b as usize % len);
                        let mut got = Vec::new();
                        let n = l.delete_range_by_rank(s, e, |x| got.push(x.as_bytes().to_vec()));
                        let want: Vec<_> = m.keys().enumerate()
                            .filter(|(i, _)| *i + 1 >= s.max(1) && *i < e)
                            .map(|(_, k)| k.clone()).collect();
                        prop_assert_eq!(n, want.len());
                        prop_assert_eq!(got, want.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>());
                        for k in want {
                            scores.remove(&k.1);
                            m.remove(&k);
                        }
                    }
                    Op::Compact => l.compact(),
                }
                if let Err(e) = l.check_invariants() {
                    return Err(TestCaseError::fail(e));
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(contents(&l), model_contents(&m));
                let rev: Vec<_> = l.iter_rev().map(|n| (l.score(n), l.member(n).to_vec())).collect();
                let mut want_rev = model_contents(&m);
                want_rev.reverse();
                prop_assert_eq!(rev, want_rev);
            }
        }

        #[test]
        fn model_lex_ops(
            seed in any::<u64>(),
            ops in proptest::collection::vec(
                (0u8..5, proptest::collection::vec(b'a'..=b'd', 0..4), proptest::collection::vec(b'a'..=b'd', 0..4), 0u8..4, 0u8..4),
                1..200)
        ) {
            // Lex ranges assume equal scores, as Redis documents.
            let mut l = SkipList::with_seed(seed);
            let mut m: std::collections::BTreeSet<Vec<u8>> = Default::default();
            let bound = |kind: u8, s: &[u8]| -> LexBound {
                match kind {
                    0 => LexBound::NegInf,
                    1 => LexBound::PosInf,
                    2 => LexBound::Inclusive(Sds::from_slice(s)),
                    _ => LexBound::Exclusive(Sds::from_slice(s)),
                }
            };
            for (op, a, b, ka, kb) in ops {
                match op {
                    0 | 1 => {
                        if m.insert(a.clone()) {
                            l.insert(0.0, Sds::from_slice(&a));
                        }
                    }
                    2 => {
                        let had = m.remove(&a);
                        prop_assert_eq!(l.delete(0.0, &a).is_some(), had);
                    }
                    3 => {
                        let r = LexRange { min: bound(ka, &a), max: bound(kb, &b) };
                        let want: Vec<_> = m.iter().filter(|k| r.gte_min(k) && r.lte_max(k)).cloned().collect();
                        let first = l.first_in_range(&r).map(|n| l.member(n).to_vec());
                        let last = l.last_in_range(&r).map(|n| l.member(n).to_vec());
                        prop_assert_eq!(first, want.first().cloned());
                        prop_assert_eq!(last, want.last().cloned());
                        if r.is_empty() {
                            prop_assert!(want.is_empty());
                        }
                    }
                    _ => {
                        let r = LexRange { min: bound(ka, &a), max: bound(kb, &b) };
                        let want: Vec<_> = m.iter().filter(|k| r.gte_min(k) && r.lte_max(k)).cloned().collect();
                        let mut got = Vec::new();
                        l.delete_range(&r, |s| got.push(s.as_bytes().to_vec()));
                        prop_assert_eq!(&got, &want);
                        for k in want {
                            m.remove(&k);
                        }
                    }
                }
                if let Err(e) = l.check_invariants() {
                    return Err(TestCaseError::fail(e));
                }
                let got: Vec<_> = l.iter().map(|n| l.member(n).to_vec()).collect();
                prop_assert_eq!(got, m.iter().cloned().collect::<Vec<_>>());
            }
        }
    }

    // -------------------------------------------------------------------------------------
    // Benchmark (run with: cargo test --release -- --ignored --nocapture skiplist_bench).

    fn heap_in_use() -> usize {
        // SAFETY: mallinfo2 only reads allocator statistics. Big vectors are mmapped chunks,
        // counted in hblkhd rather than uordblks.
        let m = unsafe { libc::mallinfo2() };
        m.uordblks + m.hblkhd
    }

    fn rss_bytes() -> usize {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: usize = s
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pages * 4096
    }

    #[test]
    #[ignore]
    fn skiplist_bench() {
        use std::time::Instant;
        const N: usize = 1_000_000;
        // Random-ish scores, members "member:<i>" (inline Sds).
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let scores: Vec<f64> = (0..N).map(|_| (rnd() % 10_000_000) as f64).collect();
        let names: Vec<Vec<u8>> = (0..N).map(|i| format!("member:{i}").into_bytes()).collect();
        let (h0, r0) = (heap_in_use(), rss_bytes());
        let t = Instant::now();
        let mut l = SkipList::with_seed(42);
        for i in 0..N {
            l.insert(scores[i], Sds::from_slice(&names[i]));
        }
        let ins = t.elapsed();
        let (h1, r1) = (heap_in_use(), rss_bytes());
        println!(
            "insert {N}: {:.0} ns/op; heap {:.1} B/member; rss {:.1} B/member; arena {:.1} B/member; level {}",
            ins.as_nanos() as f64 / N as f64,
            (h1 - h0) as f64 / N as f64,
            (r1.saturating_sub(r0)) as f64 / N as f64,
            l.arena_bytes() as f64 / N as f64,
            l.level
        );
        let t = Instant::now();
        let mut acc = 0usize;
        for i in (0..N).step_by(3) {
            acc += l.rank(scores[i], &names[i]);
        }
        let q = N.div_ceil(3);
        println!(
            "rank: {:.0} ns/op ({acc})",
            t.elapsed().as_nanos() as f64 / q as f64
        );
        let t = Instant::now();
        for r in (1..=N).step_by(3) {
            acc += l.by_rank(r).map_or(0, |n| n.raw() as usize);
        }
        println!(
            "by_rank: {:.0} ns/op ({acc})",
            t.elapsed().as_nanos() as f64 / q as f64
        );
        let t = Instant::now();
        for i in (0..N).step_by(3) {
            l.update_score(scores[i], &names[i], scores[i] + 0.5)
                .unwrap();
        }
        println!(
            "update_score (small move): {:.0} ns/op",
            t.elapsed().as_nanos() as f64 / q as f64
        );
        let t = Instant::now();
        let mut deleted = 0;
        for i in 0..N {
            let s = if i % 3 == 0 {
                scores[i] + 0.5
            } else {
                scores[i]
            };
            if i % 4 != 0 {
                assert!(l.delete(s, &names[i]).is_some());
                deleted += 1;
            }
        }
        println!(
            "delete {deleted}: {:.0} ns/op; arena now {:.1} MB",
            t.elapsed().as_nanos() as f64 / deleted as f64,
            l.arena_bytes() as f64 / 1e6
        );
        let t = Instant::now();
        l.compact();
        println!(
            "compact of {}: {:.1} ms",
            l.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
        l.check_invariants().unwrap();
    }
}
