//! The sorted set type (t_zset.c's zset API): its two encodings, the conversions between them,
//! and every operation the ZSET commands, SORT, RDB and DEBUG DIGEST need, so that
//! `commands/zset.rs` never looks inside an encoding.
//!
//! ```text
//!  ZSet::Listpack (while len <= zset-max-listpack-entries and every member is at most
//!                  zset-max-listpack-value bytes)
//!  +--------+------+---------+--------+---------+--------+-----+-----+
//!  | header | "a"  | 1       | "b"    | "1.5"   | "c"    | 2   | EOF |    member, score, member,
//!  +--------+------+---------+--------+---------+--------+-----+-----+    score... in (score,
//!                   int entry          string entry                        member) order
//!  A score is stored as an integer entry when the double is an exact integer within +-2^62
//!  (double2ll: -0.0 becomes 0, as in Redis), otherwise as its "%.17g" text ("inf", "-inf",
//!  "0.10000000000000001"); reading it back is strtod on the text. Members that look like
//!  canonical integers are integer entries too (the listpack decides). `ZSet` is 16 bytes:
//!  the listpack's handle, or the Box beside the handle's pointer niche.
//!
//!  ZSet::SkipList(Box<ZSkipList>)
//!  +-------------------------------+     +-----------------------------------------+
//!  | zsl: SkipList                 |     | dict: Dict<Sds, f64>                    |
//!  |  (score, member) order, spans |     |  member -> score, O(1) ZSCORE / ZADD    |
//!  |  for ranks (ds/skiplist.rs)   |     |  lookups, SCAN, fair random members     |
//!  +-------------------------------+     +-----------------------------------------+
//!  Each member is stored twice (inline when <= 15 bytes, so usually without a heap block):
//!  skiplist handles go stale when the arena compacts, so the dict keeps scores, not handles.
//! ```
//!
//! Conversions follow Redis 7.0: ZADD creates a listpack unless listpacks are disabled or its
//! first member is too long (`ZSet::create`); an add that would break a limit converts to a
//! skiplist first (zsetAdd). A skiplist never goes back,
//! except for results built whole (ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE, RDB loading),
//! which take the listpack when they fit (zsetConvertToListpackIfNeeded).

use std::cell::Cell;
use std::cmp::Ordering;

use crate::ds::dict::Dict;
use crate::ds::listpack::{self, Listpack, LpElem, INTBUF_SIZE};
use crate::ds::sds::Sds;
use crate::ds::skiplist::{self, NodeRef, SkipList};
use crate::util::num::fmt_i64;

pub use crate::ds::skiplist::{LexBound, LexRange, MemberRange, RangeElem, ScoreRange};

/// Room for any score Redis prints: "%.17g" needs at most 24 bytes ("-1.2345678901234567e-308").
pub const SCORE_BUF: usize = 32;

// ---------------------------------------------------------------------------------------------
// Scores: parsing and printing exactly as Redis
// ---------------------------------------------------------------------------------------------

/// C's isspace in the "C" locale (what string2d rejects as a first byte).
#[inline]
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Parses a score argument as Redis's `string2d` (getDoubleFromObject): strtod over the whole
/// argument, no leading space, no NaN, and overflow/underflow to inf/0 rejected (ERANGE), so
/// "1e400" and "1e-400" are errors while "inf" and a denormal are not. `None` means
/// "ERR value is not a valid float".
pub fn parse_score(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    if is_c_space(first) {
        return None;
    }
    if let Some(v) = small_decimal(s) {
        return Some(v);
    }
    let mut small = [0u8; 128];
    let mut big = Vec::new();
    let buf: &mut [u8] = if s.len() < small.len() {
        small[..s.len()].copy_from_slice(s);
        &mut small[..=s.len()]
    } else {
        big.extend_from_slice(s);
        big.push(0);
        &mut big
    };
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated; strtod reads up to the first NUL and points `end` inside
    // `buf`. errno is thread-local.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let used = end as usize - buf.as_ptr() as usize;
    if used != s.len() || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// Short decimal integers, with the sign and leading zeros strtod accepts ("-0007"): below
/// 10^15 they are exact doubles, so the strtod round trip can be skipped (ZADD's hot path;
/// redis-benchmark sends zero-padded numbers). "-0" gives -0.0, as strtod does.
#[inline]
fn small_decimal(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut v = 0u64;
    for &d in digits {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    let f = v as f64;
    Some(if neg { -f } else { f })
}

/// Redis's `double2ll`: the integer a score equals exactly, when it is within +-2^62. This
/// decides whether a listpack stores the score as an integer entry.
#[inline]
pub fn double2ll(d: f64) -> Option<i64> {
    const LIM: f64 = (i64::MAX / 2) as f64;
    if !(-LIM..=LIM).contains(&d) {
        return None;
    }
    let ll = d as i64;
    (ll as f64 == d).then_some(ll)
}

/// `snprintf("%.17g")` into `buf`.
fn printf_17g(d: f64, buf: &mut [u8; SCORE_BUF]) -> &[u8] {
    // SAFETY: the format takes one double; snprintf never writes more than buf.len() bytes
    // (NUL included) and returns the length it wanted, which we clamp.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.17g".as_ptr(),
            d,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    &buf[..n]
}

/// A score as replies print it (addReplyDouble: "inf", "-inf", else "%.17g"), without
/// allocating. Exact integers below 10^15 take a fast path that prints the same digits.
pub fn fmt_score(d: f64, buf: &mut [u8; SCORE_BUF]) -> &[u8] {
    if d.is_infinite() {
        return if d > 0.0 { b"inf" } else { b"-inf" };
    }
    if d.abs() < 1e15 && !(d == 0.0 && d.is_sign_negative()) {
        if let Some(v) = double2ll(d) {
            let mut t = [0u8; 20];
            let s = fmt_i64(v, &mut t);
            buf[..s.len()].copy_from_slice(s);
            return &buf[..s.len()];
        }
    }
    printf_17g(d, buf)
}

/// How a listpack stores `score` (zzlInsertAt): an integer entry when double2ll allows, else
/// d2string's text (NaN never reaches a set).
fn score_elem(score: f64, buf: &mut [u8; SCORE_BUF]) -> LpElem<'_> {
    if let Some(v) = double2ll(score) {
        return LpElem::Int(v);
    }
    if score.is_infinite() {
        return LpElem::Str(if score > 0.0 { b"inf" } else { b"-inf" });
    }
    LpElem::Str(printf_17g(score, buf))
}

/// Reads a listpack score entry (zzlGetScore): integers convert, text goes through strtod on
/// at most its first 127 bytes (zzlStrtod), trailing garbage ignored.
#[inline]
pub fn lp_score(e: LpElem<'_>) -> f64 {
    match e {
        LpElem::Int(v) => v as f64,
        LpElem::Str(s) => {
            let s = &s[..s.len().min(127)];
            // Text written by score_elem parses with Rust's correctly rounded parser to the
            // same double as strtod; anything else (from a RESTORE payload) gets real strtod.
            if let Some(v) = std::str::from_utf8(s)
                .ok()
                .filter(|t| {
                    t.bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                })
                .and_then(|t| t.parse::<f64>().ok())
            {
                return v;
            }
            let mut buf = [0u8; 128];
            buf[..s.len()].copy_from_slice(s);
            // SAFETY: NUL-terminated buffer; strtod stops at the NUL.
            unsafe { libc::strtod(buf.as_ptr() as *const libc::c_char, std::ptr::null_mut()) }
        }
    }
}

/// Orders a member element against bytes as memcmp does (zzlCompareElements).
#[inline]
fn cmp_elem(e: LpElem<'_>, m: &[u8]) -> Ordering {
    e.cmp_bytes(m)
}

/// A member element as bytes, formatting integer entries into `buf`.
#[inline]
pub fn elem_bytes<'a>(e: LpElem<'a>, buf: &'a mut [u8; INTBUF_SIZE]) -> &'a [u8] {
    match e {
        LpElem::Int(v) => fmt_i64(v, buf),
        LpElem::Str(s) => s,
    }
}

/// Owned copy of a member element.
#[inline]
fn elem_sds(e: LpElem<'_>) -> Sds {
    let mut b = [0u8; INTBUF_SIZE];
    Sds::from_slice(elem_bytes(e, &mut b))
}

// ---------------------------------------------------------------------------------------------
// Limits and flags
// ---------------------------------------------------------------------------------------------

/// `zset-max-listpack-entries` and `zset-max-listpack-value`, read once per command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most elements a listpack-encoded set may hold.
    pub max_entries: usize,
    /// Longest member (bytes) a listpack-encoded set may hold.
    pub max_value: usize,
}

impl Limits {
    /// From the config's u64 fields (saturating on 32-bit targets).
    pub fn new(max_entries: u64, max_value: u64) -> Limits {
        Limits {
            max_entries: usize::try_from(max_entries).unwrap_or(usize::MAX),
            max_value: usize::try_from(max_value).unwrap_or(usize::MAX),
        }
    }

    /// The limits configured in `cfg`.
    pub fn from_config(cfg: &crate::config::Config) -> Limits {
        Limits::new(cfg.zset_max_listpack_entries, cfg.zset_max_listpack_value)
    }

    /// True when a set of `len` elements, longest member `maxelelen` and `totelelen` member
    /// bytes in all, may be a listpack (zsetConvertToListpackIfNeeded's test).
    pub fn fits(&self, len: usize, maxelelen: usize, totelelen: usize) -> bool {
        len <= self.max_entries
            && maxelelen <= self.max_value
            && totelelen <= listpack::MAX_SAFETY_SIZE
    }
}

/// ZADD's options (ZADD_IN_*).
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    /// INCR: add to the current score.
    pub incr: bool,
    /// NX: only add new elements.
    pub nx: bool,
    /// XX: only update existing elements.
    pub xx: bool,
    /// GT: only update when the new score is greater.
    pub gt: bool,
    /// LT: only update when the new score is less.
    pub lt: bool,
}

/// What [`ZSet::add`] did (ZADD_OUT_*), with the resulting score where there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// The score (or the INCR result) is NaN; nothing changed.
    Nan,
    /// Not processed: NX on an existing member, XX on a missing one, GT/LT refused.
    Nop,
    /// A new member with this score.
    Added(f64),
    /// An existing member moved to this score.
    Updated(f64),
    /// An existing member processed without a score change (e.g. INCR by 0).
    Same(f64),
}

// ---------------------------------------------------------------------------------------------
// The listpack encoding (zzl* in t_zset.c)
// ---------------------------------------------------------------------------------------------

/// Position of the score entry after member entry `ep`.
#[inline]
fn zzl_score_pos(lp: &Listpack, ep: usize) -> Option<usize> {
    lp.next(ep)
}

/// Score of the pair whose member is at `ep`.
#[inline]
fn zzl_score(lp: &Listpack, ep: usize) -> f64 {
    zzl_score_pos(lp, ep).map_or(0.0, |sp| lp_score(lp.get(sp)))
}

/// The next pair's member position after the pair at `ep`.
#[inline]
fn zzl_next(lp: &Listpack, ep: usize) -> Option<usize> {
    lp.next(zzl_score_pos(lp, ep)?)
}

/// The previous pair's member position before the pair at `ep`.
#[inline]
fn zzl_prev(lp: &Listpack, ep: usize) -> Option<usize> {
    lp.prev(lp.prev(ep)?)
}

/// The neighbouring pair's member position: the next pair, or the previous one when `rev`.
#[inline(always)]
fn zzl_step(lp: &Listpack, ep: usize, rev: bool) -> Option<usize> {
    if rev {
        zzl_prev(lp, ep)
    } else {
        zzl_next(lp, ep)
    }
}

/// The last pair's member position.
#[inline]
fn zzl_last(lp: &Listpack) -> Option<usize> {
    lp.prev(lp.last()?)
}

/// Finds `member`: its position and score (zzlFind).
fn zzl_find(lp: &Listpack, member: &[u8]) -> Option<(usize, f64)> {
    let ep = lp.find(lp.first()?, member, 1)?;
    Some((ep, zzl_score(lp, ep)))
}

/// Inserts a pair known to be absent at its (score, member) place (zzlInsert).
fn zzl_insert(lp: &mut Listpack, member: &[u8], score: f64) {
    let mut p = lp.first();
    while let Some(ep) = p {
        let Some(sp) = zzl_score_pos(lp, ep) else {
            break;
        };
        let s = lp_score(lp.get(sp));
        if s > score || (s == score && cmp_elem(lp.get(ep), member) == Ordering::Greater) {
            break;
        }
        p = lp.next(sp);
    }
    let mut sb = [0u8; SCORE_BUF];
    let se = score_elem(score, &mut sb);
    match p {
        Some(ep) => {
            let mp = lp.insert_before(ep, LpElem::Str(member));
            lp.insert_after(mp, se);
        }
        None => {
            lp.push_back(LpElem::Str(member));
            lp.push_back(se);
        }
    }
}

/// The member bytes of the pair at `ep`, formatted into `buf` when it is an integer.
#[inline]
fn zzl_member<'a>(lp: &'a Listpack, ep: usize, buf: &'a mut [u8; INTBUF_SIZE]) -> &'a [u8] {
    elem_bytes(lp.get(ep), buf)
}

/// The pair at `ep` as a range test reads it. The score is decoded at most once, so a walk
/// that tests a score and then hands it on pays for one decode, as t_zset.c's does.
struct LpPair<'a> {
    lp: &'a Listpack,
    ep: usize,
    score: Cell<Option<f64>>,
}

impl<'a> LpPair<'a> {
    #[inline(always)]
    fn new(lp: &'a Listpack, ep: usize) -> LpPair<'a> {
        LpPair {
            lp,
            ep,
            score: Cell::new(None),
        }
    }
}

impl RangeElem for LpPair<'_> {
    #[inline(always)]
    fn score(&self) -> f64 {
        if let Some(s) = self.score.get() {
            return s;
        }
        let s = zzl_score(self.lp, self.ep);
        self.score.set(Some(s));
        s
    }

    #[inline(always)]
    fn with_member<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        let mut b = [0u8; INTBUF_SIZE];
        f(zzl_member(self.lp, self.ep, &mut b))
    }
}

/// True when some element of the listpack may be in `range` (zzlIsInRange, zzlIsInLexRange).
fn zzl_is_in_range(lp: &Listpack, range: &impl MemberRange) -> bool {
    if range.is_empty() {
        return false;
    }
    let (Some(last), Some(first)) = (zzl_last(lp), lp.first()) else {
        return false;
    };
    range.elem_gte_min(&LpPair::new(lp, last)) && range.elem_lte_max(&LpPair::new(lp, first))
}

/// First pair in `range` (zzlFirstInRange, zzlFirstInLexRange).
fn zzl_first_in_range(lp: &Listpack, range: &impl MemberRange) -> Option<usize> {
    if !zzl_is_in_range(lp, range) {
        return None;
    }
    let mut p = lp.first();
    while let Some(ep) = p {
        let e = LpPair::new(lp, ep);
        if range.elem_gte_min(&e) {
            return range.elem_lte_max(&e).then_some(ep);
        }
        p = zzl_next(lp, ep);
    }
    None
}

/// Last pair in `range` (zzlLastInRange, zzlLastInLexRange).
fn zzl_last_in_range(lp: &Listpack, range: &impl MemberRange) -> Option<usize> {
    if !zzl_is_in_range(lp, range) {
        return None;
    }
    let mut p = zzl_last(lp);
    while let Some(ep) = p {
        let e = LpPair::new(lp, ep);
        if range.elem_lte_max(&e) {
            return range.elem_gte_min(&e).then_some(ep);
        }
        p = zzl_prev(lp, ep);
    }
    None
}

/// Deletes the run of pairs starting at `ep` while `keep` holds; returns how many (one splice,
/// as lpDeleteRangeWithEntry in a loop would leave the same bytes).
fn zzl_delete_run(
    lp: &mut Listpack,
    ep: usize,
    mut keep: impl FnMut(&Listpack, usize) -> bool,
) -> usize {
    let mut n = 0usize;
    let mut p = Some(ep);
    while let Some(q) = p {
        if !keep(lp, q) {
            break;
        }
        n += 1;
        p = zzl_next(lp, q);
    }
    if n > 0 {
        lp.delete_range_at(ep, 2 * n);
    }
    n
}

// ---------------------------------------------------------------------------------------------
// The skiplist encoding
// ---------------------------------------------------------------------------------------------

/// The skiplist encoding: the ordered skiplist plus the member -> score dict.
pub struct ZSkipList {
    /// (score, member) order with ranks.
    pub zsl: SkipList,
    /// member -> score.
    pub dict: Dict<Sds, f64>,
    /// Heap bytes of the member strings (both copies), kept current for `heap_size`.
    member_heap: usize,
}

impl ZSkipList {
    /// An empty skiplist set whose dict is sized for `cap` members (dictExpand).
    fn with_capacity(cap: usize) -> ZSkipList {
        ZSkipList {
            zsl: SkipList::new(),
            dict: Dict::with_capacity(cap),
            member_heap: 0,
        }
    }

    /// Adds an owned member known to be absent.
    fn insert_owned(&mut self, member: Sds, score: f64) {
        let copy = member.clone();
        self.member_heap += member.heap_size() + copy.heap_size();
        self.zsl.insert(score, copy);
        self.dict.insert(member, score);
    }

    /// Removes `member`, returning its score.
    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (k, score) = self.dict.remove(member)?;
        self.member_heap -= k.heap_size();
        if let Some(m) = self.zsl.delete(score, member) {
            self.member_heap -= m.heap_size();
        }
        Some(score)
    }

    /// Drops a member the skiplist already removed (range deletes call this per member).
    fn forget(dict: &mut Dict<Sds, f64>, member_heap: &mut usize, m: Sds) {
        *member_heap -= m.heap_size();
        if let Some((k, _)) = dict.remove(m.as_bytes()) {
            *member_heap -= k.heap_size();
        }
    }

    /// Shrinks the dict after deletions when it is mostly empty (htNeedsResize/dictResize).
    fn after_delete(&mut self) {
        self.dict.resize_if_needed();
    }
}

// ---------------------------------------------------------------------------------------------
// The type
// ---------------------------------------------------------------------------------------------

/// A sorted set value. See the module comment for the encodings.
pub enum ZSet {
    /// Small sets: pairs in one listpack.
    Listpack(Listpack),
    /// Large sets: skiplist + dict.
    SkipList(Box<ZSkipList>),
}

impl ZSet {
    /// An empty listpack-encoded set (createZsetListpackObject).
    pub fn new_listpack() -> ZSet {
        ZSet::Listpack(Listpack::new())
    }

    /// An empty skiplist-encoded set with its dict sized for `cap` (createZsetObject).
    pub fn new_skiplist(cap: usize) -> ZSet {
        ZSet::SkipList(Box::new(ZSkipList::with_capacity(cap)))
    }

    /// The encoding ZADD/ZINCRBY create a new key with (Redis 7.0's zaddGenericCommand): a
    /// skiplist when listpacks are disabled (`zset-max-listpack-entries 0`) or the first
    /// member is already too long, else a listpack that converts as it grows.
    pub fn create(first_member_len: usize, lim: &Limits) -> ZSet {
        if lim.max_entries == 0 || first_member_len > lim.max_value {
            ZSet::new_skiplist(0)
        } else {
            ZSet::new_listpack()
        }
    }

    /// Converts a listpack to a skiplist with room for `cap` members (zsetConvertAndExpand).
    pub fn convert_to_skiplist(&mut self, cap: usize) {
        let ZSet::Listpack(lp) = self else {
            return;
        };
        let n = lp.len() / 2;
        let mut zs = ZSkipList::with_capacity(cap.max(n));
        zs.zsl.reserve(n);
        let mut it = lp.iter();
        while let (Some(m), Some(s)) = (it.next(), it.next()) {
            zs.insert_owned(elem_sds(m), lp_score(s));
        }
        *self = ZSet::SkipList(Box::new(zs));
    }

    /// Converts a skiplist to a listpack unconditionally (zsetConvert to listpack).
    pub fn convert_to_listpack(&mut self) {
        let ZSet::SkipList(zs) = self else {
            return;
        };
        let mut lp = Listpack::new();
        for n in zs.zsl.iter() {
            let mut sb = [0u8; SCORE_BUF];
            lp.push_back(LpElem::Str(zs.zsl.member(n)));
            lp.push_back(score_elem(zs.zsl.score(n), &mut sb));
        }
        *self = ZSet::Listpack(lp);
    }

    /// zsetConvertToListpackIfNeeded: a skiplist result that fits the limits becomes a
    /// listpack (`maxelelen`/`totelelen`: longest member and total member bytes).
    pub fn convert_to_listpack_if_needed(
        &mut self,
        maxelelen: usize,
        totelelen: usize,
        lim: &Limits,
    ) {
        if let ZSet::SkipList(zs) = self {
            if lim.fits(zs.zsl.len(), maxelelen, totelelen) {
                self.convert_to_listpack();
            }
        }
    }

    /// Builds a whole result from pairs sorted by (score, member) without duplicates: a
    /// listpack when it fits the limits, else a skiplist (what the STORE commands end with).
    pub fn from_sorted(pairs: Vec<(Sds, f64)>, lim: &Limits) -> ZSet {
        let maxelelen = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let totelelen: usize = pairs.iter().map(|(m, _)| m.len()).sum();
        if lim.fits(pairs.len(), maxelelen, totelelen) {
            let mut lp =
                Listpack::with_capacity(totelelen + 12 * pairs.len() + listpack::EMPTY_SIZE);
            for (m, s) in &pairs {
                let mut sb = [0u8; SCORE_BUF];
                lp.push_back(LpElem::Str(m.as_bytes()));
                lp.push_back(score_elem(*s, &mut sb));
            }
            lp.shrink_to_fit();
            ZSet::Listpack(lp)
        } else {
            let mut zs = ZSkipList::with_capacity(pairs.len());
            zs.zsl.reserve(pairs.len());
            for (m, s) in pairs {
                zs.insert_owned(m, s);
            }
            ZSet::SkipList(Box::new(zs))
        }
    }

    /// For RDB loading of a skiplist-type record: distinct members in any order; `None` when a
    /// member repeats. The result takes the listpack when it fits, as rdbLoadObject does.
    pub fn from_members(members: Vec<(Sds, f64)>, lim: &Limits) -> Option<ZSet> {
        let mut zs = ZSkipList::with_capacity(members.len());
        zs.zsl.reserve(members.len());
        let (mut maxelelen, mut totelelen) = (0usize, 0usize);
        for (m, s) in members {
            if zs.dict.contains_key(m.as_bytes()) {
                return None;
            }
            maxelelen = maxelelen.max(m.len());
            totelelen += m.len();
            zs.insert_owned(m, s);
        }
        let mut z = ZSet::SkipList(Box::new(zs));
        z.convert_to_listpack_if_needed(maxelelen, totelelen, lim);
        Some(z)
    }

    /// For RDB loading and RESTORE of a listpack record: the blob is validated as a listpack
    /// of member/score pairs without duplicate members, every score an integer entry or the
    /// text of a valid non-NaN double (stricter than Redis, so a crafted payload cannot put a
    /// NaN among the scores); a set longer than the entry limit is converted, as
    /// rdbLoadObject does. `None` for a malformed blob.
    pub fn from_listpack_bytes(bytes: Vec<u8>, lim: &Limits) -> Option<ZSet> {
        let mut lp = Listpack::from_bytes(bytes).ok()?;
        let n = lp.len();
        if n == 0 || !n.is_multiple_of(2) {
            return None;
        }
        let mut seen: Dict<Sds, ()> = Dict::with_capacity(n / 2);
        let mut it = lp.iter();
        while let Some(m) = it.next() {
            if let LpElem::Str(t) = it.next()? {
                parse_score(t)?;
            }
            if seen.add(elem_sds(m), ()).is_err() {
                return None;
            }
        }
        lp.shrink_to_fit();
        let mut z = ZSet::Listpack(lp);
        if n / 2 > lim.max_entries {
            z.convert_to_skiplist(n / 2);
        }
        Some(z)
    }

    /// The listpack blob when listpack-encoded (RDB saves it as is).
    pub fn listpack(&self) -> Option<&Listpack> {
        match self {
            ZSet::Listpack(lp) => Some(lp),
            ZSet::SkipList(_) => None,
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::SkipList(_) => "skiplist",
        }
    }

    /// Number of elements (ZCARD).
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len() / 2,
            ZSet::SkipList(zs) => zs.zsl.len(),
        }
    }

    /// True when empty (never stored: empty sets are deleted).
    #[inline]
    pub fn is_empty(&self) -> bool {
        match self {
            ZSet::Listpack(lp) => lp.is_empty(),
            ZSet::SkipList(zs) => zs.zsl.is_empty(),
        }
    }

    /// Heap bytes owned (MEMORY USAGE, accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.allocated(),
            ZSet::SkipList(zs) => {
                std::mem::size_of::<ZSkipList>()
                    + zs.zsl.arena_bytes()
                    + zs.dict.mem_usage()
                    + zs.member_heap
            }
        }
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> ZSet {
        match self {
            ZSet::Listpack(lp) => ZSet::Listpack(lp.clone()),
            ZSet::SkipList(zs) => {
                let mut d = ZSkipList::with_capacity(zs.zsl.len());
                d.zsl.reserve(zs.zsl.len());
                for n in zs.zsl.iter() {
                    d.insert_owned(zs.zsl.member_sds(n).clone(), zs.zsl.score(n));
                }
                ZSet::SkipList(Box::new(d))
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Point operations

    /// The score of `member` (zsetScore).
    pub fn score(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => zzl_find(lp, member).map(|(_, s)| s),
            ZSet::SkipList(zs) => zs.dict.get(member).copied(),
        }
    }

    /// The score of `member` without the dict's incremental rehash step, for code that holds
    /// several sets at once (ZINTER/ZUNION/ZDIFF inputs).
    pub fn score_peek(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => zzl_find(lp, member).map(|(_, s)| s),
            ZSet::SkipList(zs) => zs.dict.peek(member).copied(),
        }
    }

    /// zsetAdd: adds or updates `member` under ZADD's `flags`, converting to a skiplist first
    /// when the listpack would break a limit.
    pub fn add(&mut self, score: f64, member: &[u8], flags: AddFlags, lim: &Limits) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        if let ZSet::Listpack(lp) = self {
            match zzl_find(lp, member) {
                Some((ep, cur)) => {
                    let score = match update_score(cur, score, flags) {
                        Ok(s) => s,
                        Err(o) => return o,
                    };
                    if score != cur {
                        lp.delete_range_at(ep, 2);
                        zzl_insert(lp, member, score);
                        return AddOutcome::Updated(score);
                    }
                    return AddOutcome::Same(score);
                }
                None if flags.xx => return AddOutcome::Nop,
                None => {
                    if lp.len() / 2 < lim.max_entries
                        && member.len() <= lim.max_value
                        && lp.safe_to_add(member.len())
                    {
                        zzl_insert(lp, member, score);
                        return AddOutcome::Added(score);
                    }
                    let cap = lp.len() / 2 + 1;
                    self.convert_to_skiplist(cap);
                }
            }
        }
        let ZSet::SkipList(zs) = self else {
            return AddOutcome::Nop;
        };
        if flags.xx {
            return match zs.dict.get_mut(member) {
                Some(cur) => skiplist_update(&mut zs.zsl, cur, member, score, flags),
                None => AddOutcome::Nop,
            };
        }
        // One dict probe finds the member or inserts it (dictAddOrFind).
        let (cur, inserted) = zs
            .dict
            .get_or_insert_with(member, || (Sds::from_slice(member), score));
        if inserted {
            let a = Sds::from_slice(member);
            zs.member_heap += 2 * a.heap_size();
            zs.zsl.insert(score, a);
            return AddOutcome::Added(score);
        }
        skiplist_update(&mut zs.zsl, cur, member, score, flags)
    }

    /// Removes `member`; true when it was there (zsetDel).
    pub fn delete(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(lp) => match zzl_find(lp, member) {
                Some((ep, _)) => {
                    lp.delete_range_at(ep, 2);
                    true
                }
                None => false,
            },
            ZSet::SkipList(zs) => {
                let found = zs.remove(member).is_some();
                if found {
                    zs.after_delete();
                }
                found
            }
        }
    }

    /// 0-based rank of `member`, from the top when `reverse` (zsetRank).
    pub fn rank(&mut self, member: &[u8], reverse: bool) -> Option<usize> {
        let len = self.len();
        let r1 = match self {
            ZSet::Listpack(lp) => {
                let first = lp.first()?;
                let ep = lp.find(first, member, 1)?;
                // Count pairs before ep.
                let mut rank = 1usize;
                let mut p = lp.first();
                while let Some(q) = p {
                    if q == ep {
                        break;
                    }
                    rank += 1;
                    p = zzl_next(lp, q);
                }
                rank
            }
            ZSet::SkipList(zs) => {
                let score = *zs.dict.get(member)?;
                let r = zs.zsl.rank(score, member);
                if r == 0 {
                    return None;
                }
                r
            }
        };
        Some(if reverse { len - r1 } else { r1 - 1 })
    }

    /// Removes and returns the lowest (or highest, with `max`) element.
    pub fn pop(&mut self, max: bool) -> Option<(Sds, f64)> {
        match self {
            ZSet::Listpack(lp) => {
                let ep = if max { zzl_last(lp)? } else { lp.first()? };
                let m = elem_sds(lp.get(ep));
                let s = zzl_score(lp, ep);
                lp.delete_range_at(ep, 2);
                Some((m, s))
            }
            ZSet::SkipList(zs) => {
                let n = if max { zs.zsl.last()? } else { zs.zsl.first()? };
                // The dict hands its key back: that copy becomes the reply's member.
                let (m, s) = zs.dict.remove(zs.zsl.member(n))?;
                zs.member_heap -= m.heap_size();
                if let Some(other) = zs.zsl.delete(s, m.as_bytes()) {
                    zs.member_heap -= other.heap_size();
                }
                zs.after_delete();
                Some((m, s))
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Iteration and ranges

    /// Every element in (score, member) order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_dir(false)
    }

    /// Every element from the highest down.
    pub fn iter_rev(&self) -> Iter<'_> {
        self.iter_dir(true)
    }

    fn iter_dir(&self, rev: bool) -> Iter<'_> {
        match self {
            ZSet::Listpack(lp) => Iter::Lp { it: lp.iter(), rev },
            ZSet::SkipList(zs) => Iter::Sl {
                zsl: &zs.zsl,
                it: if rev {
                    zs.zsl.iter_rev()
                } else {
                    zs.zsl.iter()
                },
            },
        }
    }

    /// Visits the elements with 0-based ranks `start..=end` (already clamped: start <= end <
    /// len), counting from the top when `rev` (genericZrangebyrankCommand's walk).
    pub fn visit_rank_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(LpElem<'_>, f64),
    ) {
        let len = self.len();
        if start > end || end >= len {
            return;
        }
        let n = end - start + 1;
        match self {
            ZSet::Listpack(lp) => {
                let first = if rev {
                    lp.seek(-2 - 2 * start as i64)
                } else {
                    lp.seek(2 * start as i64)
                };
                let mut p = first;
                for _ in 0..n {
                    let Some(ep) = p else { break };
                    f(lp.get(ep), zzl_score(lp, ep));
                    p = zzl_step(lp, ep, rev);
                }
            }
            ZSet::SkipList(zs) => {
                let zsl = &zs.zsl;
                let first = if rev {
                    if start > 0 {
                        zsl.by_rank(len - start)
                    } else {
                        zsl.last()
                    }
                } else if start > 0 {
                    zsl.by_rank(start + 1)
                } else {
                    zsl.first()
                };
                let mut p = first;
                for _ in 0..n {
                    let Some(x) = p else { break };
                    f(LpElem::Str(zsl.member(x)), zsl.score(x));
                    p = if rev { zsl.prev(x) } else { zsl.next(x) };
                }
            }
        }
    }

    /// Visits the elements in `range` (by score or by member) after skipping `offset` of
    /// them, at most `limit` (a negative limit means all), from the top when `rev`
    /// (genericZrangebyscoreCommand, genericZrangebylexCommand: a negative offset, like an
    /// offset past the end, yields nothing). Returns how many.
    pub fn visit_range(
        &self,
        range: &impl MemberRange,
        offset: i64,
        limit: i64,
        rev: bool,
        mut f: impl FnMut(LpElem<'_>, f64),
    ) -> usize {
        if offset < 0 || (offset > 0 && offset as u64 >= self.len() as u64) || limit == 0 {
            return 0;
        }
        let mut left = if limit < 0 { u64::MAX } else { limit as u64 };
        let mut emitted = 0usize;
        match self {
            ZSet::Listpack(lp) => {
                let mut p = if rev {
                    zzl_last_in_range(lp, range)
                } else {
                    zzl_first_in_range(lp, range)
                };
                for _ in 0..offset {
                    let Some(ep) = p else { break };
                    p = zzl_step(lp, ep, rev);
                }
                while let Some(ep) = p {
                    if left == 0 {
                        break;
                    }
                    left -= 1;
                    let e = LpPair::new(lp, ep);
                    if !range.elem_not_past_end(&e, rev) {
                        break;
                    }
                    f(lp.get(ep), e.score());
                    emitted += 1;
                    p = zzl_step(lp, ep, rev);
                }
            }
            ZSet::SkipList(zs) => {
                let zsl = &zs.zsl;
                let start = if rev {
                    zsl.last_in_range(range)
                } else {
                    zsl.first_in_range(range)
                };
                let mut p = skip_nodes(zsl, start, offset as u64, rev);
                while let Some(x) = p {
                    if left == 0 {
                        break;
                    }
                    left -= 1;
                    let e = zsl.elem(x);
                    if !range.elem_not_past_end(&e, rev) {
                        break;
                    }
                    f(LpElem::Str(e.member()), e.score());
                    emitted += 1;
                    p = if rev { zsl.prev(x) } else { zsl.next(x) };
                }
            }
        }
        emitted
    }

    /// Number of elements in `range`, by score or by member (ZCOUNT, ZLEXCOUNT).
    pub fn count_in_range(&self, range: &impl MemberRange) -> usize {
        match self {
            ZSet::Listpack(lp) => {
                let mut n = 0;
                let mut p = zzl_first_in_range(lp, range);
                while let Some(ep) = p {
                    if !range.elem_lte_max(&LpPair::new(lp, ep)) {
                        break;
                    }
                    n += 1;
                    p = zzl_next(lp, ep);
                }
                n
            }
            ZSet::SkipList(zs) => {
                let zsl = &zs.zsl;
                let Some(first) = zsl.first_in_range(range) else {
                    return 0;
                };
                // Ranks of the first and the last element in range, as zcountCommand and
                // zlexcountCommand count (on a lex range over members with different scores
                // both searches depend on the node heights, so Redis's own answer varies from
                // run to run). The difference never goes negative: the node after the one
                // where the last search stops is above the maximum, and the first search,
                // which lands only on nodes below the minimum, never gets beyond it (a jump
                // over it lands on a node below the minimum, so not above the maximum, which
                // the last search, level by level, would have taken too).
                let mut count = zsl.len() - (zsl.rank_of(first) - 1);
                if let Some(last) = zsl.last_in_range(range) {
                    count -= zsl.len() - zsl.rank_of(last);
                }
                count
            }
        }
    }

    /// Removes the elements with 0-based ranks `start..=end` (clamped by the caller); returns
    /// how many (ZREMRANGEBYRANK).
    pub fn remove_range_by_rank(&mut self, start: usize, end: usize) -> usize {
        if start > end {
            return 0;
        }
        match self {
            ZSet::Listpack(lp) => {
                let Some(p) = lp.seek(2 * start as i64) else {
                    return 0;
                };
                lp.delete_range_at(p, 2 * (end - start + 1)) / 2
            }
            ZSet::SkipList(zs) => {
                let ZSkipList {
                    zsl,
                    dict,
                    member_heap,
                } = &mut **zs;
                let n = zsl.delete_range_by_rank(start + 1, end + 1, |m| {
                    ZSkipList::forget(dict, member_heap, m)
                });
                zs.after_delete();
                n
            }
        }
    }

    /// Removes the elements in `range`, by score or by member; returns how many
    /// (ZREMRANGEBYSCORE, ZREMRANGEBYLEX).
    pub fn remove_range(&mut self, range: &impl MemberRange) -> usize {
        match self {
            ZSet::Listpack(lp) => {
                let Some(ep) = zzl_first_in_range(lp, range) else {
                    return 0;
                };
                zzl_delete_run(lp, ep, |lp, q| range.elem_lte_max(&LpPair::new(lp, q)))
            }
            ZSet::SkipList(zs) => {
                let ZSkipList {
                    zsl,
                    dict,
                    member_heap,
                } = &mut **zs;
                let n = zsl.delete_range(range, |m| ZSkipList::forget(dict, member_heap, m));
                zs.after_delete();
                n
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Random members (ZRANDMEMBER) and SCAN

    /// One uniformly random element (zsetTypeRandomElement).
    pub fn random_element(&mut self, f: impl FnOnce(LpElem<'_>, f64)) {
        match self {
            ZSet::Listpack(lp) => {
                let n = lp.len() / 2;
                if n == 0 {
                    return;
                }
                let r = crate::util::rand::index(n);
                if let Some(ep) = lp.seek(2 * r as i64) {
                    f(lp.get(ep), zzl_score(lp, ep));
                }
            }
            ZSet::SkipList(zs) => {
                if let Some((k, v)) = zs.dict.random_entry() {
                    f(LpElem::Str(k.as_bytes()), *v);
                }
            }
        }
    }

    /// `count` elements drawn independently (repeats possible), in draw order: ZRANDMEMBER
    /// with a negative count (lpRandomPairs / dictGetFairRandomKey).
    pub fn random_with_repeats(&mut self, count: u64, mut f: impl FnMut(LpElem<'_>, f64)) {
        match self {
            ZSet::Listpack(lp) => {
                let mut pos = Vec::with_capacity(lp.len() / 2);
                let mut p = lp.first();
                while let Some(ep) = p {
                    pos.push(ep);
                    p = zzl_next(lp, ep);
                }
                if pos.is_empty() {
                    return;
                }
                for _ in 0..count {
                    let ep = pos[crate::util::rand::index(pos.len())];
                    f(lp.get(ep), zzl_score(lp, ep));
                }
            }
            ZSet::SkipList(zs) => {
                for _ in 0..count {
                    match zs.dict.random_entry() {
                        Some((k, v)) => f(LpElem::Str(k.as_bytes()), *v),
                        None => return,
                    }
                }
            }
        }
    }

    /// `count` distinct elements (count < len), for ZRANDMEMBER's positive counts: selection
    /// sampling in set order for a listpack (lpRandomPairsUnique), random dict picks with
    /// rejection of repeats for a skiplist (CASE 4).
    pub fn random_distinct(&mut self, count: usize, mut f: impl FnMut(LpElem<'_>, f64)) {
        match self {
            ZSet::Listpack(lp) => {
                let total = lp.len() / 2;
                let mut remaining = count.min(total);
                let mut p = lp.first();
                let mut i = 0usize;
                while let Some(ep) = p {
                    if remaining == 0 {
                        break;
                    }
                    let left = total - i;
                    if crate::util::rand::index(left) < remaining {
                        f(lp.get(ep), zzl_score(lp, ep));
                        remaining -= 1;
                    }
                    i += 1;
                    p = zzl_next(lp, ep);
                }
            }
            ZSet::SkipList(zs) => {
                let mut seen: Dict<Sds, ()> = Dict::with_capacity(count);
                while seen.len() < count.min(zs.zsl.len()) {
                    let Some((k, v)) = zs.dict.random_entry() else {
                        return;
                    };
                    if seen.add(k.clone(), ()).is_ok() {
                        f(LpElem::Str(k.as_bytes()), *v);
                    }
                }
            }
        }
    }

    /// One ZSCAN step: a skiplist set passes the dict entries of the bucket(s) at `cursor` to
    /// `f` and returns the next cursor; a listpack set passes everything and returns 0. The
    /// score comes as ZSCAN prints it: a listpack's stored text, or "%.17g" of the double.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(LpElem<'_>, &[u8])) -> u64 {
        match self {
            ZSet::Listpack(lp) => {
                let mut it = lp.iter();
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    let mut b = [0u8; INTBUF_SIZE];
                    f(m, elem_bytes(s, &mut b));
                }
                0
            }
            ZSet::SkipList(zs) => zs.dict.scan(cursor, |k, v| {
                let mut b = [0u8; SCORE_BUF];
                f(LpElem::Str(k.as_bytes()), fmt_score(*v, &mut b))
            }),
        }
    }

    /// Checks the encoding's invariants (order, dict/skiplist agreement): for tests.
    pub fn check(&self) -> Result<(), String> {
        match self {
            ZSet::Listpack(lp) => {
                if !lp.len().is_multiple_of(2) {
                    return Err("odd listpack length".into());
                }
                let mut prev: Option<(f64, Vec<u8>)> = None;
                for (m, s) in self.iter() {
                    let mb = m.to_vec();
                    if let Some((ps, pm)) = &prev {
                        if !(*ps < s || (*ps == s && pm.as_slice() < mb.as_slice())) {
                            return Err("listpack out of order".into());
                        }
                    }
                    prev = Some((s, mb));
                }
                Ok(())
            }
            ZSet::SkipList(zs) => {
                zs.zsl.check_invariants()?;
                if zs.dict.len() != zs.zsl.len() {
                    return Err("dict and skiplist lengths differ".into());
                }
                for n in zs.zsl.iter() {
                    match zs.dict.peek(zs.zsl.member(n)) {
                        Some(&s) if s.to_bits() == zs.zsl.score(n).to_bits() => {}
                        _ => return Err("dict score differs from skiplist".into()),
                    }
                }
                Ok(())
            }
        }
    }
}

/// The update half of zsetAdd for a skiplist member whose dict score is `cur`.
#[inline]
fn skiplist_update(
    zsl: &mut SkipList,
    cur: &mut f64,
    member: &[u8],
    score: f64,
    flags: AddFlags,
) -> AddOutcome {
    let old = *cur;
    let score = match update_score(old, score, flags) {
        Ok(s) => s,
        Err(o) => return o,
    };
    if score != old {
        *cur = score;
        zsl.update_score(old, member, score);
        return AddOutcome::Updated(score);
    }
    AddOutcome::Same(score)
}

/// Applies INCR, then GT/LT, to an existing member's update (the shared half of zsetAdd).
#[inline]
fn update_score(cur: f64, score: f64, flags: AddFlags) -> Result<f64, AddOutcome> {
    if flags.nx {
        return Err(AddOutcome::Nop);
    }
    let mut score = score;
    if flags.incr {
        score += cur;
        if score.is_nan() {
            return Err(AddOutcome::Nan);
        }
    }
    if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
        return Err(AddOutcome::Nop);
    }
    Ok(score)
}

/// Moves `offset` nodes from `start` (backwards when `rev`) using ranks, so a large LIMIT
/// offset costs O(log n) rather than a walk; None when it runs off the list.
fn skip_nodes(zsl: &SkipList, start: Option<NodeRef>, offset: u64, rev: bool) -> Option<NodeRef> {
    let x = start?;
    if offset == 0 {
        return Some(x);
    }
    if offset < 32 {
        let mut p = Some(x);
        for _ in 0..offset {
            p = if rev { zsl.prev(p?) } else { zsl.next(p?) };
        }
        return p;
    }
    let r = zsl.rank_of(x) as u64;
    let target = if rev {
        r.checked_sub(offset)?
    } else {
        r.checked_add(offset)?
    };
    zsl.by_rank(usize::try_from(target).ok()?)
}

/// Iterator over (member, score) in either direction; see [`ZSet::iter`].
pub enum Iter<'a> {
    /// Over a listpack's pairs.
    Lp {
        /// The entries.
        it: listpack::Iter<'a>,
        /// Walking from the tail.
        rev: bool,
    },
    /// Over a skiplist's nodes.
    Sl {
        /// The list the handles belong to.
        zsl: &'a SkipList,
        /// The node walk.
        it: skiplist::Iter<'a>,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (LpElem<'a>, f64);

    #[inline]
    fn next(&mut self) -> Option<(LpElem<'a>, f64)> {
        match self {
            Iter::Lp { it, rev: false } => {
                let m = it.next()?;
                let s = it.next()?;
                Some((m, lp_score(s)))
            }
            Iter::Lp { it, rev: true } => {
                let s = it.next_back()?;
                let m = it.next_back()?;
                Some((m, lp_score(s)))
            }
            Iter::Sl { zsl, it } => {
                let n = it.next()?;
                Some((LpElem::Str(zsl.member(n)), zsl.score(n)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn lim(n: usize) -> Limits {
        Limits {
            max_entries: n,
            max_value: 64,
        }
    }

    #[test]
    fn sizes() {
        // Box<ZSet> takes jemalloc's 16-byte class for a small set.
        assert_eq!(std::mem::size_of::<ZSet>(), 16);
    }

    #[test]
    fn score_parsing_matches_string2d() {
        assert_eq!(parse_score(b"1"), Some(1.0));
        assert_eq!(parse_score(b"-1.5"), Some(-1.5));
        assert_eq!(parse_score(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert!(parse_score(b"1e-310").is_some());
        assert_eq!(parse_score(b"1\x002"), None);
        assert!(parse_score(b"-0").unwrap().is_sign_negative());
        let long = format!("1{}", "0".repeat(300));
        assert_eq!(parse_score(long.as_bytes()), Some(1e300));
    }

    #[test]
    fn score_printing_matches_17g() {
        let mut b = [0u8; SCORE_BUF];
        for (v, s) in [
            (1.0, "1"),
            (-0.0, "-0"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-3.0, "-3"),
            (123.456, "123.456"),
        ] {
            assert_eq!(fmt_score(v, &mut b), s.as_bytes(), "{v}");
        }
    }

    #[test]
    fn listpack_score_entries() {
        let mut b = [0u8; SCORE_BUF];
        assert!(matches!(score_elem(-0.0, &mut b), LpElem::Int(0)));
        assert!(matches!(
            score_elem(1e18, &mut b),
            LpElem::Int(1_000_000_000_000_000_000)
        ));
        assert!(matches!(
            score_elem(4611686018427387904.0, &mut b),
            LpElem::Int(_)
        ));
        assert!(matches!(score_elem(1e19, &mut b), LpElem::Str(b"1e+19")));
        assert!(matches!(score_elem(0.5, &mut b), LpElem::Str(b"0.5")));
        assert_eq!(lp_score(LpElem::Str(b"0.10000000000000001")), 0.1);
        assert_eq!(lp_score(LpElem::Str(b"inf")), f64::INFINITY);
        assert_eq!(lp_score(LpElem::Str(b" 2junk")), 2.0);
    }

    /// The reference model: member -> score, ordered views derived on demand.
    #[derive(Default)]
    struct Model(BTreeMap<Vec<u8>, f64>);

    impl Model {
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            let mut v: Vec<_> = self.0.iter().map(|(m, s)| (m.clone(), *s)).collect();
            v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
            v
        }
    }

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8, bool),
        Del(u8),
        Pop(bool),
        RemRank(u8, u8),
        RemScore(i8, i8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..40, -5i8..5, any::<bool>()).prop_map(|(m, s, i)| Op::Add(m, s, i)),
            2 => (0u8..40).prop_map(Op::Del),
            1 => any::<bool>().prop_map(Op::Pop),
            1 => (0u8..10, 0u8..10).prop_map(|(a, b)| Op::RemRank(a, b)),
            1 => (-5i8..5, -5i8..5).prop_map(|(a, b)| Op::RemScore(a, b)),
        ]
    }

    fn member(m: u8) -> Vec<u8> {
        if m.is_multiple_of(3) {
            format!("{m}").into_bytes()
        } else {
            format!("m{m}").into_bytes()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn both_encodings_follow_the_model(ops in proptest::collection::vec(op(), 1..120)) {
            let small = lim(1000);
            let big = lim(0);
            let mut a = ZSet::new_listpack();
            let mut b = ZSet::new_skiplist(0);
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Add(m, s, incr) => {
                        let m = member(m);
                        let score = f64::from(s) / 2.0;
                        let flags = AddFlags { incr, ..Default::default() };
                        let ra = a.add(score, &m, flags, &small);
                        let rb = b.add(score, &m, flags, &big);
                        prop_assert_eq!(ra, rb);
                        let e = model.0.entry(m).or_insert(0.0);
                        *e = if incr { *e + score } else { score };
                    }
                    Op::Del(m) => {
                        let m = member(m);
                        let want = model.0.remove(&m).is_some();
                        prop_assert_eq!(a.delete(&m), want);
                        prop_assert_eq!(b.delete(&m), want);
                    }
                    Op::Pop(max) => {
                        let s = model.sorted();
                        let want = if max { s.last().cloned() } else { s.first().cloned() };
                        let pa = a.pop(max).map(|(m, s)| (m.as_bytes().to_vec(), s));
                        let pb = b.pop(max).map(|(m, s)| (m.as_bytes().to_vec(), s));
                        prop_assert_eq!(&pa, &want);
                        prop_assert_eq!(&pb, &want);
                        if let Some((m, _)) = want {
                            model.0.remove(&m);
                        }
                    }
                    Op::RemRank(x, y) => {
                        let len = model.0.len();
                        let (start, end) = (x as usize, (y as usize).min(len.saturating_sub(1)));
                        if len > 0 && start <= end {
                            let s = model.sorted();
                            for (m, _) in &s[start..=end] {
                                model.0.remove(m);
                            }
                            let n = end - start + 1;
                            prop_assert_eq!(a.remove_range_by_rank(start, end), n);
                            prop_assert_eq!(b.remove_range_by_rank(start, end), n);
                        }
                    }
                    Op::RemScore(x, y) => {
                        let r = ScoreRange { min: f64::from(x) / 2.0, max: f64::from(y) / 2.0, minex: x % 2 == 0, maxex: false };
                        let gone: Vec<_> = model.0.iter().filter(|(_, &s)| r.gte_min(s) && r.lte_max(s)).map(|(m, _)| m.clone()).collect();
                        for m in &gone { model.0.remove(m); }
                        prop_assert_eq!(a.remove_range(&r), gone.len());
                        prop_assert_eq!(b.remove_range(&r), gone.len());
                    }
                }
                prop_assert!(a.check().is_ok());
                prop_assert!(b.check().is_ok(), "{:?}", b.check());
                let want = model.sorted();
                prop_assert_eq!(contents(&a), want.clone());
                prop_assert_eq!(contents(&b), want.clone());
                prop_assert_eq!(a.len(), want.len());
                prop_assert_eq!(b.len(), want.len());
                for (i, (m, s)) in want.iter().enumerate() {
                    prop_assert_eq!(a.rank(m, false), Some(i));
                    prop_assert_eq!(b.rank(m, true), Some(want.len() - 1 - i));
                    prop_assert_eq!(b.score(m), Some(*s));
                }
                // Range queries agree between encodings.
                let r = ScoreRange { min: -1.0, max: 1.5, minex: true, maxex: false };
                prop_assert_eq!(a.count_in_range(&r), b.count_in_range(&r));
                for rev in [false, true] {
                    for (off, lim_) in [(0, -1), (1, 2), (0, 0), (3, 100), (-1, 5)] {
                        let mut va = Vec::new();
                        let mut vb = Vec::new();
                        a.visit_range(&r, off, lim_, rev, |m, s| va.push((m.to_vec(), s)));
                        b.visit_range(&r, off, lim_, rev, |m, s| vb.push((m.to_vec(), s)));
                        prop_assert_eq!(va, vb);
                    }
                    if !want.is_empty() {
                        let end = want.len() - 1;
                        let mut va = Vec::new();
                        let mut vb = Vec::new();
                        a.visit_rank_range(end / 2, end, rev, |m, s| va.push((m.to_vec(), s)));
                        b.visit_rank_range(end / 2, end, rev, |m, s| vb.push((m.to_vec(), s)));
                        prop_assert_eq!(va, vb);
                    }
                }
            }
            // Conversions preserve contents both ways.
            let want = contents(&a);
            a.convert_to_skiplist(0);
            prop_assert!(a.check().is_ok());
            prop_assert_eq!(contents(&a), want.clone());
            b.convert_to_listpack();
            prop_assert!(b.check().is_ok());
            prop_assert_eq!(contents(&b), want);
        }
    }

    #[test]
    fn lex_ranges_on_equal_scores() {
        for enc in 0..2 {
            let mut z = if enc == 0 {
                ZSet::new_listpack()
            } else {
                ZSet::new_skiplist(0)
            };
            for m in ["a", "b", "c", "d", "e", "10", "9"] {
                z.add(
                    0.0,
                    m.as_bytes(),
                    AddFlags::default(),
                    &lim(if enc == 0 { 128 } else { 0 }),
                );
            }
            let r = LexRange::parse(b"(a", b"[d").unwrap();
            assert_eq!(z.count_in_range(&r), 3);
            let mut v = Vec::new();
            z.visit_range(&r, 0, -1, true, |m, _| v.push(m.to_vec()));
            assert_eq!(v, vec![b"d".to_vec(), b"c".to_vec(), b"b".to_vec()]);
            let all = LexRange::parse(b"-", b"+").unwrap();
            assert_eq!(z.count_in_range(&all), 7);
            assert_eq!(z.remove_range(&LexRange::parse(b"[1", b"[9").unwrap()), 2);
            assert_eq!(z.len(), 5);
        }
    }

    #[test]
    fn conversions_follow_the_limits() {
        let l = Limits {
            max_entries: 3,
            max_value: 4,
        };
        let mut z = ZSet::create(1, &l);
        assert_eq!(z.encoding_name(), "listpack");
        for m in ["a", "b", "c"] {
            z.add(1.0, m.as_bytes(), AddFlags::default(), &l);
        }
        assert_eq!(z.encoding_name(), "listpack");
        z.add(1.0, b"d", AddFlags::default(), &l);
        assert_eq!(z.encoding_name(), "skiplist");
        let mut z = ZSet::create(1, &l);
        z.add(1.0, b"toolong", AddFlags::default(), &l);
        assert_eq!(z.encoding_name(), "skiplist");
        assert_eq!(ZSet::create(5, &l).encoding_name(), "skiplist");
        assert_eq!(ZSet::create(1, &lim(0)).encoding_name(), "skiplist");
        let pairs = vec![(Sds::from("a"), 1.0), (Sds::from("b"), 2.0)];
        assert_eq!(ZSet::from_sorted(pairs, &l).encoding_name(), "listpack");
        let z = ZSet::from_members(vec![(Sds::from("a"), 1.0), (Sds::from("a"), 2.0)], &l);
        assert!(z.is_none());
    }

    #[test]
    fn listpack_blobs_are_checked() {
        let l = lim(128);
        let mut lp = Listpack::new();
        lp.push_back(LpElem::Str(b"a"));
        lp.push_back(LpElem::Int(1));
        let good = lp.as_bytes().to_vec();
        assert!(ZSet::from_listpack_bytes(good, &l).is_some());
        lp.push_back(LpElem::Str(b"a"));
        lp.push_back(LpElem::Int(2));
        assert!(ZSet::from_listpack_bytes(lp.as_bytes().to_vec(), &l).is_none());
        lp.push_back(LpElem::Str(b"b"));
        assert!(ZSet::from_listpack_bytes(lp.as_bytes().to_vec(), &l).is_none());
        let mut bad = Listpack::new();
        bad.push_back(LpElem::Str(b"a"));
        bad.push_back(LpElem::Str(b"nan"));
        assert!(ZSet::from_listpack_bytes(bad.as_bytes().to_vec(), &l).is_none());
        let mut inf = Listpack::new();
        inf.push_back(LpElem::Str(b"a"));
        inf.push_back(LpElem::Str(b"-inf"));
        assert!(ZSet::from_listpack_bytes(inf.as_bytes().to_vec(), &l).is_some());
        assert!(ZSet::from_listpack_bytes(vec![1, 2, 3], &l).is_none());
    }
}
