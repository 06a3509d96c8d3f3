//! SORT and SORT_RO (sort.c).
//!
//! The command runs in four steps, as Redis's sortCommandGeneric:
//!
//! 1. Parse the options (ASC/DESC, ALPHA, LIMIT, BY, GET, STORE) left to right; the first bad
//!    one is the error, before the key is even looked up.
//! 2. Load the elements of the key to sort ([`sort_input`]; a missing key is an empty list).
//! 3. Unless BY names a pattern without `*` ("don't sort"), compute each element's sort key —
//!    the element itself or the value BY's pattern points at, as a double or, with ALPHA, as
//!    bytes — and sort.
//! 4. Emit the LIMIT window, each element replaced by the GET patterns' values if any, as a
//!    reply or, with STORE, as a list stored under the destination key.
//!
//! Only the value types differ from one Redis type to the next, so everything type-specific
//! is in three functions: [`sort_input`] (which values can be sorted and their elements in
//! native order), [`hash_field`] (what `key->field` patterns read) and [`list_object`] (what STORE
//! writes). Today the keyspace holds strings only: SORT of a string is WRONGTYPE and of a
//! missing key an empty result; adding lists, sets and sorted sets, or hashes for `->`, means
//! adding one match arm in the matching function.
//!
//! Patterns and comparisons reproduce Redis's C string handling: `*`, `->` and `#` are searched
//! only up to the first NUL of the pattern, numeric sort keys are parsed by libc `strtod` (so
//! " 1", "0x10" and "" are numbers, "1e400" and "nan" are errors), and ALPHA without STORE
//! compares like `strcoll` in the C locale (bytes up to the first NUL), with STORE like
//! memcmp on the whole value.

use super::keys::{cstr, ERR_NOT_INT, ERR_SYNTAX};
use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::util::num::parse_i64;
use std::cmp::Ordering;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[("sort", sort_command), ("sort_ro", sort_ro_command)];

/// How a sortable value orders its elements by itself; decides what "don't sort" returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InputKind {
    /// Insertion order; "don't sort" keeps it (reversed by DESC).
    List,
    /// No meaningful order; "don't sort" with STORE falls back to ALPHA so results replicate.
    Set,
    /// Score order; "don't sort" keeps it (reversed by DESC).
    ZSet,
}

/// The elements of the value being sorted, copied out of the keyspace because BY and GET
/// lookups need the server mutably while the elements are in use.
pub struct SortInput {
    /// The value's type family.
    pub kind: InputKind,
    /// The elements in the value's own order.
    pub elems: Vec<Vec<u8>>,
}

/// The value types SORT accepts and their elements (the switch on `sortval->type`). None means
/// WRONGTYPE. Lists, sets and sorted sets each add one arm here when they exist.
fn sort_input(o: &RObj) -> Option<SortInput> {
    match &o.value {
        Value::Int(_) | Value::Str(_) | Value::Hash(_) | Value::Stream(_) => None,
        Value::List(l) => Some(SortInput {
            kind: InputKind::List,
            elems: l.to_vecs(),
        }),
        Value::Set(s) => Some(SortInput {
            kind: InputKind::Set,
            elems: s
                .iter()
                .map(|m| match m {
                    crate::types::set::Member::Int(v) => {
                        let mut tmp = [0u8; 20];
                        crate::util::num::fmt_i64(v, &mut tmp).to_vec()
                    }
                    crate::types::set::Member::Str(b) => b.to_vec(),
                })
                .collect(),
        }),
        Value::ZSet(z) => Some(SortInput {
            kind: InputKind::ZSet,
            elems: z.iter().map(|(m, _)| m.to_vec()).collect(),
        }),
    }
}

/// The value of `field` in hash `o`, for `key->field` patterns; None when `o` is not a hash or
/// lacks the field (hashTypeGetValueObject). Hashes add their arm here.
fn hash_field(o: &RObj, field: &[u8]) -> Option<Vec<u8>> {
    match &o.value {
        Value::Int(_)
        | Value::Str(_)
        | Value::List(_)
        | Value::Set(_)
        | Value::ZSet(_)
        | Value::Stream(_) => None,
        Value::Hash(h) => h.peek(field).map(|v| v.to_vec()),
    }
}

/// The list STORE writes (createQuicklistObject + pushes). Redis 7.0 builds it with the
/// quicklist defaults (fill -2, no compression), not the configured list options.
fn list_object(items: Vec<Vec<u8>>, lru: u32) -> Option<RObj> {
    let mut l = crate::types::list::List::with_defaults();
    for v in &items {
        l.push(v, false);
    }
    Some(RObj::new(Value::List(Box::new(l)), lru))
}

/// The parsed options of one SORT.
struct SortOpts<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    /// BY pattern when it contains `*`.
    by: Option<&'a [u8]>,
    /// BY named a pattern without `*`: keep the input order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// Parses SORT's options left to right, replying the error itself. The last ASC/DESC, LIMIT,
/// BY and STORE win; GETs accumulate. SORT_RO knows no STORE (a syntax error).
fn parse_opts<'a>(c: &mut Client, args: &Args<'a>, readonly: bool) -> Option<SortOpts<'a>> {
    let mut o = SortOpts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = cstr(args.get(j));
        if opt.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if opt.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if opt.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if opt.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let (Some(start), Some(count)) =
                (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2)))
            else {
                c.out.err(ERR_NOT_INT);
                return None;
            };
            o.limit_start = start;
            o.limit_count = count;
            j += 2;
        } else if !readonly && opt.eq_ignore_ascii_case(b"store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"by") && left >= 1 {
            let p = args.get(j + 1);
            // Redis keeps the last BY pattern even when it disables sorting, and once a
            // constant pattern was seen the sort stays disabled.
            o.by = Some(p);
            if !cstr(p).contains(&b'*') {
                o.dontsort = true;
            }
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            c.out.err(ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// The LIMIT window as indexes into `len` elements (start, end inclusive), with Redis 7.0.15's
/// clamping so huge offsets and counts cannot overflow; `end < start` means nothing.
fn limit_window(limit_start: i64, limit_count: i64, len: i64) -> (i64, i64) {
    let start = limit_start.clamp(0, len);
    let count = limit_count.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    let start = if start >= len {
        end = len - 2;
        len - 1
    } else {
        start
    };
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// What lookupKeyByPattern needs from a pattern, found with C string functions: the position of
/// the first `*`, and the `->field` suffix if there is one.
struct Pattern<'a> {
    /// Bytes before the `*`.
    prefix: &'a [u8],
    /// Bytes between the `*` and the `->` (or the end).
    postfix: &'a [u8],
    /// The hash field after `->`, when not empty.
    field: Option<&'a [u8]>,
}

/// Splits a BY/GET pattern as lookupKeyByPattern does. None when the pattern (up to its first
/// NUL) has no `*`: a constant key is never looked up.
fn split_pattern(pat: &[u8]) -> Option<Pattern<'_>> {
    let c = cstr(pat);
    let star = c.iter().position(|&b| b == b'*')?;
    // "->" is searched after the star, up to the NUL; it counts only when something (not a NUL)
    // follows it. The field then runs to the real end of the pattern.
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&a| a + 2 < c.len());
    match arrow {
        Some(a) => Some(Pattern {
            prefix: &pat[..star],
            postfix: &pat[star + 1..a],
            field: Some(&pat[a + 2..]),
        }),
        None => Some(Pattern {
            prefix: &pat[..star],
            postfix: &pat[star + 1..],
            field: None,
        }),
    }
}

/// lookupKeyByPattern: `#` is the element itself; otherwise the `*` is replaced by the element
/// and the key is read (lookupKeyRead: expiry, statistics, LRU) — a string's value, or with
/// `->field` a hash field. None for a missing key, a key of another type or a constant pattern.
fn lookup_by_pattern(srv: &mut Server, db: usize, pat: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if cstr(pat) == b"#" {
        return Some(elem.to_vec());
    }
    let p = split_pattern(pat)?;
    let mut key = Vec::with_capacity(p.prefix.len() + elem.len() + p.postfix.len());
    key.extend_from_slice(p.prefix);
    key.extend_from_slice(elem);
    key.extend_from_slice(p.postfix);
    let o = srv.lookup_read(db, &key)?;
    match p.field {
        Some(f) => hash_field(o, f),
        None => {
            let mut tmp = [0u8; 20];
            o.str_bytes(&mut tmp).map(|b| b.to_vec())
        }
    }
}

/// Parses a numeric sort key as Redis does: `strtod` on the C string (leading white space,
/// hex floats, `inf` accepted), and an error when characters are left over, the value is out
/// of range (ERANGE, including underflow) or NaN. The double is returned even on error
/// because Redis sorts anyway before it reports.
fn parse_score(b: &[u8]) -> (f64, bool) {
    let s = cstr(b);
    let mut buf = Vec::with_capacity(s.len() + 1);
    buf.extend_from_slice(s);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated, strtod reads up to the NUL and points `end` inside it;
    // errno is thread-local and reset first so a stale ERANGE cannot leak in.
    let (v, range_err) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let used = (end as usize).wrapping_sub(buf.as_ptr() as usize);
    let ok = used == s.len() && !range_err && !v.is_nan();
    (v, ok)
}

/// One element of the sort vector (redisSortObject).
struct Item {
    elem: Vec<u8>,
    /// Numeric sort key (0 when BY found nothing).
    score: f64,
    /// ALPHA sort key read through BY; None when BY found nothing.
    cmp: Option<Vec<u8>>,
}

/// strcoll in the C locale: byte order of the C strings.
fn coll(a: &[u8], b: &[u8]) -> Ordering {
    cstr(a).cmp(cstr(b))
}

/// sortCompare, before DESC is applied.
fn compare(a: &Item, b: &Item, alpha: bool, bypattern: bool, store: bool) -> Ordering {
    if !alpha {
        if a.score > b.score {
            Ordering::Greater
        } else if a.score < b.score {
            Ordering::Less
        } else {
            // Equal scores: the elements decide, so the result is deterministic.
            a.elem.cmp(&b.elem)
        }
    } else if bypattern {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) if store => x.cmp(y),
            (Some(x), Some(y)) => coll(x, y),
        }
    } else if store {
        a.elem.cmp(&b.elem)
    } else {
        coll(&a.elem, &b.elem)
    }
}

/// What SORT produces before it is emitted: the window of sorted elements.
enum Sorted {
    /// The elements, in output order.
    Items(Vec<Vec<u8>>),
    /// A sort key could not be read as a number.
    NotANumber,
}

/// Steps 3 of the command on already-loaded elements: orders them and cuts the LIMIT window.
/// `by` looks up a BY value for an element. Kept apart from the handler so it can be tested
/// without a server.
fn sort_elements(
    input: SortInput,
    o: &SortOpts,
    mut by: impl FnMut(&[u8], &[u8]) -> Option<Vec<u8>>,
) -> Sorted {
    let SortInput { kind, elems } = input;
    let (mut dontsort, mut alpha, mut bypat) = (o.dontsort, o.alpha, o.by);
    if dontsort && kind == InputKind::Set && o.store.is_some() {
        // A set has no order of its own: what is stored (and replicated) must not depend on
        // the hash table, so force an ALPHA sort of the elements themselves.
        dontsort = false;
        alpha = true;
        bypat = None;
    }
    let len = elems.len() as i64;
    let (start, end) = limit_window(o.limit_start, o.limit_count, len);
    let take = (end - start + 1).max(0) as usize;
    let skip = start.max(0) as usize;

    if dontsort && kind != InputKind::Set {
        // Native order, from the tail with DESC, only the window.
        let items: Vec<Vec<u8>> = if o.desc {
            elems.into_iter().rev().skip(skip).take(take).collect()
        } else {
            elems.into_iter().skip(skip).take(take).collect()
        };
        return Sorted::Items(items);
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if !dontsort {
        let mut bad_number = false;
        for it in items.iter_mut() {
            let byval = match bypat {
                Some(p) => match by(p, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => {
                    if !alpha {
                        let (v, ok) = parse_score(&it.elem);
                        it.score = v;
                        bad_number |= !ok;
                    }
                    continue;
                }
            };
            if alpha {
                it.cmp = Some(byval);
            } else {
                let (v, ok) = parse_score(&byval);
                it.score = v;
                bad_number |= !ok;
            }
        }
        if bad_number {
            // Redis sorts before reporting, but the result is discarded; not sorting also
            // keeps NaN keys away from the comparison.
            return Sorted::NotANumber;
        }
        let (bypattern, store, desc) = (bypat.is_some(), o.store.is_some(), o.desc);
        items.sort_by(|a, b| {
            let ord = compare(a, b, alpha, bypattern, store);
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    Sorted::Items(
        items
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|it| it.elem)
            .collect(),
    )
}

/// The compression side effects of Redis reading the list it sorts (see
/// `List::settle_after_read`): BY nosort reads only the LIMIT window, from the tail with DESC;
/// anything else reads the whole list.
fn settle_list_read(l: &mut crate::types::list::List, o: &SortOpts) {
    let len = l.len() as i64;
    if !o.dontsort {
        return l.settle_after_read(0, len as usize, false);
    }
    let (start, end) = limit_window(o.limit_start, o.limit_count, len);
    if end >= start {
        let from = if o.desc { len - start - 1 } else { start };
        l.settle_after_read(from, (end - start + 1) as usize, o.desc);
    }
}

/// sortCommandGeneric.
fn sort_generic(srv: &mut Server, c: &mut Client, args: &Args, readonly: bool) {
    let Some(opts) = parse_opts(c, args, readonly) else {
        return;
    };
    let db = c.db;
    let input = match srv.lookup_read(db, args.get(1)) {
        None => SortInput {
            kind: InputKind::List,
            elems: Vec::new(),
        },
        Some(o) => {
            if let Value::List(l) = &mut o.value {
                settle_list_read(l, &opts);
            }
            match sort_input(o) {
                Some(i) => i,
                None => {
                    c.out.err(WRONGTYPE);
                    return;
                }
            }
        }
    };
    let window = match sort_elements(input, &opts, |p, e| lookup_by_pattern(srv, db, p, e)) {
        Sorted::Items(w) => w,
        Sorted::NotANumber => {
            c.out
                .err("ERR One or more scores can't be converted into double");
            return;
        }
    };
    match opts.store {
        None => {
            let per = opts.gets.len().max(1);
            c.out.array(window.len() * per);
            for elem in &window {
                if opts.gets.is_empty() {
                    c.out.bulk(elem);
                }
                for g in &opts.gets {
                    match lookup_by_pattern(srv, db, g, elem) {
                        Some(v) => c.out.bulk(&v),
                        None => c.out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut out = Vec::with_capacity(window.len() * opts.gets.len().max(1));
            for elem in window {
                if opts.gets.is_empty() {
                    out.push(elem);
                    continue;
                }
                for g in &opts.gets {
                    out.push(lookup_by_pattern(srv, db, g, &elem).unwrap_or_default());
                }
            }
            let n = out.len();
            if n > 0 {
                let Some(list) = list_object(out, srv.lru_clock) else {
                    c.out.err("ERR SORT STORE needs the list type");
                    return;
                };
                srv.set_key(db, dst, list, false);
                srv.notify_keyspace_event(notify::LIST, "sortstore", dst, db);
                srv.dirty += n as u64;
            } else if srv.delete_key(db, dst) {
                srv.signal_modified_key(db, dst);
                srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
                srv.dirty += 1;
            }
            c.out.int(n as i64);
        }
    }
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]
pub fn sort_command(srv: &mut Server, c: &mut Client, args: &Args) {
    sort_generic(srv, c, args, false);
}

/// SORT_RO: SORT without STORE, allowed on read-only replicas and in read-only scripts.
pub fn sort_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    sort_generic(srv, c, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SortOpts<'static> {
        SortOpts {
            desc: false,
            alpha: false,
            limit_start: 0,
            limit_count: -1,
            by: None,
            dontsort: false,
            gets: Vec::new(),
            store: None,
        }
    }

    fn list(items: &[&str]) -> SortInput {
        SortInput {
            kind: InputKind::List,
            elems: items.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }

    fn run(input: SortInput, o: &SortOpts, kv: &[(&str, &str)]) -> Result<Vec<String>, ()> {
        let lookup = |p: &[u8], e: &[u8]| {
            let sp = split_pattern(p)?;
            let mut k = sp.prefix.to_vec();
            k.extend_from_slice(e);
            k.extend_from_slice(sp.postfix);
            kv.iter()
                .find(|(kk, _)| kk.as_bytes() == &k[..])
                .map(|(_, v)| v.as_bytes().to_vec())
        };
        match sort_elements(input, o, lookup) {
            Sorted::Items(v) => Ok(v
                .into_iter()
                .map(|b| String::from_utf8(b).unwrap())
                .collect()),
            Sorted::NotANumber => Err(()),
        }
    }

    // Expected orders below were taken from redis-server 7.0.15 (RPUSH l ... then SORT l ...).

    #[test]
    fn numeric_and_alpha() {
        let l = || list(&["3", "1", "2", "10", "1.5", "-2"]);
        assert_eq!(
            run(l(), &opts(), &[]).unwrap(),
            ["-2", "1", "1.5", "2", "3", "10"]
        );
        let o = SortOpts {
            alpha: true,
            ..opts()
        };
        assert_eq!(
            run(l(), &o, &[]).unwrap(),
            ["-2", "1", "1.5", "10", "2", "3"]
        );
        let o = SortOpts {
            desc: true,
            ..opts()
        };
        assert_eq!(
            run(l(), &o, &[]).unwrap(),
            ["10", "3", "2", "1.5", "1", "-2"]
        );
        assert!(run(list(&["1", "b"]), &opts(), &[]).is_err());
        assert!(run(list(&["1", "nan"]), &opts(), &[]).is_err());
        assert!(run(list(&["1", "1e400"]), &opts(), &[]).is_err());
    }

    #[test]
    fn strtod_rules() {
        assert_eq!(parse_score(b" 1"), (1.0, true));
        assert_eq!(parse_score(b"0x10"), (16.0, true));
        assert_eq!(parse_score(b""), (0.0, true));
        assert_eq!(parse_score(b"2\0junk"), (2.0, true));
        assert!(!parse_score(b"1 ").1);
        assert!(!parse_score(b"1e-400").1);
        assert_eq!(parse_score(b"-inf"), (f64::NEG_INFINITY, true));
    }

    #[test]
    fn equal_scores_tie_break_on_element() {
        let l = list(&["b", "a", "c"]);
        let o = SortOpts {
            by: Some(b"w_*"),
            ..opts()
        };
        // No weights at all: every score is 0, the elements decide.
        assert_eq!(run(l, &o, &[]).unwrap(), ["a", "b", "c"]);
    }

    #[test]
    fn by_pattern_weights() {
        let l = list(&["a", "b", "c", "d"]);
        let kv = [("w_a", "3"), ("w_b", "1"), ("w_c", "2")];
        let o = SortOpts {
            by: Some(b"w_*"),
            ..opts()
        };
        assert_eq!(run(l, &o, &kv).unwrap(), ["d", "b", "c", "a"]);
        let o = SortOpts {
            by: Some(b"w_*"),
            alpha: true,
            ..opts()
        };
        let kv = [("w_a", "z"), ("w_b", "y"), ("w_c", "x")];
        let l = list(&["a", "b", "c", "d"]);
        // The element without a BY value sorts first.
        assert_eq!(run(l, &o, &kv).unwrap(), ["d", "c", "b", "a"]);
    }

    #[test]
    fn dontsort_keeps_list_order_and_limit() {
        let l = || list(&["3", "1", "2", "10", "b"]);
        let o = SortOpts {
            by: Some(b"nosort"),
            dontsort: true,
            desc: true,
            ..opts()
        };
        assert_eq!(run(l(), &o, &[]).unwrap(), ["b", "10", "2", "1", "3"]);
        let o = SortOpts {
            by: Some(b"nosort"),
            dontsort: true,
            limit_start: 1,
            limit_count: 2,
            ..opts()
        };
        assert_eq!(run(l(), &o, &[]).unwrap(), ["1", "2"]);
        let o = SortOpts {
            limit_start: 2,
            limit_count: i64::MAX,
            ..opts()
        };
        assert_eq!(run(list(&["3", "1", "2"]), &o, &[]).unwrap(), ["3"]);
    }

    #[test]
    fn set_dontsort_with_store_is_alpha() {
        let s = SortInput {
            kind: InputKind::Set,
            elems: vec![b"b".to_vec(), b"10".to_vec(), b"a".to_vec()],
        };
        let o = SortOpts {
            by: Some(b"nosort"),
            dontsort: true,
            store: Some(b"dst"),
            ..opts()
        };
        assert_eq!(run(s, &o, &[]).unwrap(), ["10", "a", "b"]);
    }

    #[test]
    fn limit_windows() {
        assert_eq!(limit_window(0, -1, 0), (-1, -2));
        assert_eq!(limit_window(0, -1, 5), (0, 4));
        assert_eq!(limit_window(1, 2, 5), (1, 2));
        assert_eq!(limit_window(-5, 2, 5), (0, 1));
        assert_eq!(limit_window(7, 2, 5), (4, 3));
        assert_eq!(limit_window(i64::MAX, i64::MAX, 5), (4, 3));
        assert_eq!(limit_window(2, i64::MAX, 3), (2, 2));
        assert_eq!(limit_window(0, 0, 3), (0, -1));
        assert_eq!(limit_window(i64::MIN, i64::MIN, 3), (0, 2));
    }

    #[test]
    fn pattern_splitting() {
        let p = split_pattern(b"w_*->f").unwrap();
        assert_eq!(
            (p.prefix, p.postfix, p.field),
            (&b"w_"[..], &b""[..], Some(&b"f"[..]))
        );
        let p = split_pattern(b"a*b->").unwrap();
        assert_eq!(
            (p.prefix, p.postfix, p.field),
            (&b"a"[..], &b"b->"[..], None)
        );
        let p = split_pattern(b"a*b->x\0y").unwrap();
        assert_eq!(p.field, Some(&b"x\0y"[..]));
        assert!(split_pattern(b"nostar").is_none());
        assert!(split_pattern(b"a\0*").is_none());
        let p = split_pattern(b"->*x").unwrap();
        assert_eq!(
            (p.prefix, p.postfix, p.field),
            (&b"->"[..], &b"x"[..], None)
        );
    }
}
