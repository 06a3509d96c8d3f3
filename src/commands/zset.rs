//! The `sorted-set` command group (t_zset.c's commands): ZADD and friends, ranges by rank,
//! score and lex, pops (blocking too), random members, SCAN, and the set algebra commands.
//!
//! Encodings are never touched here: every operation goes through `types::zset::ZSet`.
//! Arguments are checked in Redis 7.0's order (e.g. ZRANGE parses its options and range before
//! it looks the key up, ZUNIONSTORE checks key types before its options), with Redis's error
//! texts. Scores print as addReplyDouble does ("%.17g", RESP3 doubles) and parse as string2d.
//!
//! Blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) use `server::blocked`: when every key is empty
//! the client is parked, and when a key changes the command is simply run again; a re-run
//! that still finds nothing stays parked. Inside MULTI/EXEC (`deny_blocking`) an empty result
//! answers as a timeout would.

use super::keys::{cstr, parse_scan_cursor, parse_scan_opts, ERR_NOT_INT, ERR_SYNTAX};
use super::{Args, Handler};
use crate::ds::listpack::{LpElem, INTBUF_SIZE};
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::types::set::Set;
use crate::types::zset::{
    elem_bytes, fmt_score, parse_score, AddFlags, AddOutcome, LexRange, Limits, MemberRange,
    ScoreRange, ZSet, SCORE_BUF,
};
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("zadd", zadd_command),
    ("zincrby", zincrby_command),
    ("zcard", zcard_command),
    ("zcount", zcount_command),
    ("zlexcount", zlexcount_command),
    ("zscore", zscore_command),
    ("zmscore", zmscore_command),
    ("zrank", zrank_command),
    ("zrevrank", zrevrank_command),
    ("zrem", zrem_command),
    ("zremrangebyrank", zremrangebyrank_command),
    ("zremrangebyscore", zremrangebyscore_command),
    ("zremrangebylex", zremrangebylex_command),
    ("zrange", zrange_command),
    ("zrangestore", zrangestore_command),
    ("zrevrange", zrevrange_command),
    ("zrangebyscore", zrangebyscore_command),
    ("zrevrangebyscore", zrevrangebyscore_command),
    ("zrangebylex", zrangebylex_command),
    ("zrevrangebylex", zrevrangebylex_command),
    ("zpopmin", zpopmin_command),
    ("zpopmax", zpopmax_command),
    ("zmpop", zmpop_command),
    ("bzpopmin", bzpopmin_command),
    ("bzpopmax", bzpopmax_command),
    ("bzmpop", bzmpop_command),
    ("zrandmember", zrandmember_command),
    ("zscan", zscan_command),
    ("zunion", zunion_command),
    ("zinter", zinter_command),
    ("zdiff", zdiff_command),
    ("zunionstore", zunionstore_command),
    ("zinterstore", zinterstore_command),
    ("zdiffstore", zdiffstore_command),
    ("zintercard", zintercard_command),
];

const ERR_FLOAT: &str = "ERR value is not a valid float";
const ERR_MINMAX: &str = "ERR min or max is not a float";
const ERR_LEX: &str = "ERR min or max not valid string range item";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// The listpack limits in force.
#[inline]
fn limits(srv: &Server) -> Limits {
    Limits::from_config(&srv.config)
}

/// A score reply (addReplyDouble) without allocating.
#[inline]
fn reply_score(out: &mut Reply, s: f64) {
    let mut b = [0u8; SCORE_BUF];
    let t = fmt_score(s, &mut b);
    if out.resp3 {
        out.raw(b",");
        out.raw(t);
        out.raw(b"\r\n");
    } else {
        out.bulk(t);
    }
}

/// A member reply: integer entries print as numbers, as addReplyBulkLongLong does.
#[inline]
fn reply_member(out: &mut Reply, e: LpElem<'_>) {
    match e {
        LpElem::Int(v) => out.bulk_i64(v),
        LpElem::Str(s) => out.bulk(s),
    }
}

/// One element of a range reply: a [member, score] pair in RESP3 with scores, flat otherwise.
#[inline]
fn reply_elem(out: &mut Reply, e: LpElem<'_>, s: f64, withscores: bool) {
    if withscores && out.resp3 {
        out.array(2);
    }
    reply_member(out, e);
    if withscores {
        reply_score(out, s);
    }
}

/// The array header for `n` elements of a range reply.
#[inline]
fn range_header_len(out: &Reply, n: usize, withscores: bool) -> usize {
    if withscores && !out.resp3 {
        2 * n
    } else {
        n
    }
}

/// A key's sorted set for reading: Ok(None) when missing, Err after a WRONGTYPE reply.
fn read_zset<'a>(
    srv: &'a mut Server,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, ()> {
    let found = srv.lookup_read(c.db, key);
    as_zset(found, c)
}

/// A key's sorted set for writing (lookupKeyWrite); as [`read_zset`].
fn write_zset<'a>(
    srv: &'a mut Server,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, ()> {
    let found = srv.lookup_write(c.db, key);
    as_zset(found, c)
}

/// The sorted set inside a looked-up object; Err after a WRONGTYPE reply.
fn as_zset<'a>(found: Option<&'a mut RObj>, c: &mut Client) -> Result<Option<&'a mut ZSet>, ()> {
    match found {
        None => Ok(None),
        Some(o) => match &mut o.value {
            Value::ZSet(z) => Ok(Some(&mut **z)),
            _ => {
                c.out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// ZRANDMEMBER's count range error (getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)).
const ERR_RAND_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// getLongFromObjectOrReply: a strict integer argument, or the generic error.
fn long_or_reply(c: &mut Client, arg: &[u8]) -> Option<i64> {
    let v = parse_i64(arg);
    if v.is_none() {
        c.out.err(ERR_NOT_INT);
    }
    v
}

/// getRangeLongFromObjectOrReply with a message: `msg` is the reply both for a non-integer
/// and for a value outside `min..=max`.
fn range_long_or_reply(c: &mut Client, arg: &[u8], min: i64, max: i64, msg: &str) -> Option<i64> {
    match parse_i64(arg) {
        Some(v) if (min..=max).contains(&v) => Some(v),
        _ => {
            c.out.err(msg);
            None
        }
    }
}

/// Deletes a set that became empty, with the "del" event (the caller signals the key).
fn delete_if_empty(srv: &mut Server, db: usize, key: &[u8], empty: bool) {
    if empty {
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
    }
}

/// Stores a result set under `dst` (setKey), or deletes `dst` when the result is empty, with
/// the reply, events and dirty count of the *STORE commands.
fn store_result(srv: &mut Server, c: &mut Client, dst: &[u8], pairs: Vec<(Sds, f64)>, event: &str) {
    let db = c.db;
    if pairs.is_empty() {
        c.out.int(0);
        if srv.delete_key(db, dst) {
            srv.signal_modified_key(db, dst);
            srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
            srv.dirty += 1;
        }
        return;
    }
    let n = pairs.len();
    let z = ZSet::from_sorted(pairs, &limits(srv));
    let lru = srv.lru_clock;
    srv.set_key(db, dst, RObj::new(Value::ZSet(Box::new(z)), lru), false);
    c.out.int(n as i64);
    srv.notify_keyspace_event(notify::ZSET, event, dst, db);
    srv.dirty += 1;
}

/// Sorts result pairs by (score, member), the order of a sorted set.
fn sort_pairs(v: &mut [(Sds, f64)]) {
    v.sort_unstable_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
}

/// An owned copy of a member element.
#[inline]
fn to_sds(e: LpElem<'_>) -> Sds {
    let mut b = [0u8; INTBUF_SIZE];
    Sds::from_slice(elem_bytes(e, &mut b))
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY
// ---------------------------------------------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zadd_generic(srv, c, args, AddFlags::default());
}

/// ZINCRBY key increment member (ZADD's code with INCR, so "ZINCRBY k nx m" is a syntax error
/// exactly as in Redis).
fn zincrby_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zadd_generic(
        srv,
        c,
        args,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    );
}

/// zaddGenericCommand.
fn zadd_generic(srv: &mut Server, c: &mut Client, args: &Args, mut flags: AddFlags) {
    let key = args.get(1);
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let o = cstr(args.get(idx));
        if o.eq_ignore_ascii_case(b"nx") {
            flags.nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            flags.xx = true;
        } else if o.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else if o.eq_ignore_ascii_case(b"incr") {
            flags.incr = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            flags.gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            flags.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if elements == 0 || !elements.is_multiple_of(2) {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let elements = elements / 2;
    if flags.nx && flags.xx {
        c.out
            .err("ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        c.out
            .err("ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if flags.incr && elements > 1 {
        c.out
            .err("ERR INCR option supports a single increment-element pair");
        return;
    }
    // Every score is checked before anything changes: the command runs whole or not at all.
    let mut small = [0f64; 8];
    let mut big = Vec::new();
    let scores: &mut [f64] = if elements <= small.len() {
        &mut small[..elements]
    } else {
        big.resize(elements, 0.0);
        &mut big
    };
    for (j, s) in scores.iter_mut().enumerate() {
        match parse_score(args.get(idx + 2 * j)) {
            Some(v) => *s = v,
            None => {
                c.out.err(ERR_FLOAT);
                return;
            }
        }
    }
    let lim = limits(srv);
    let db = c.db;
    let (mut added, mut updated, mut processed) = (0usize, 0usize, 0usize);
    let mut last = 0.0;
    let mut nan = false;
    let run = |z: &mut ZSet,
               added: &mut usize,
               updated: &mut usize,
               processed: &mut usize,
               last: &mut f64,
               nan: &mut bool| {
        for (j, &score) in scores.iter().enumerate() {
            let member = args.get(idx + 2 * j + 1);
            match z.add(score, member, flags, &lim) {
                AddOutcome::Nan => {
                    *nan = true;
                    return;
                }
                AddOutcome::Nop => {}
                AddOutcome::Added(s) => {
                    *added += 1;
                    *processed += 1;
                    *last = s;
                }
                AddOutcome::Updated(s) => {
                    *updated += 1;
                    *processed += 1;
                    *last = s;
                }
                AddOutcome::Same(s) => {
                    *processed += 1;
                    *last = s;
                }
            }
        }
    };
    let mut created = false;
    match write_zset(srv, c, key) {
        Err(()) => return,
        Ok(Some(z)) => {
            run(
                z,
                &mut added,
                &mut updated,
                &mut processed,
                &mut last,
                &mut nan,
            );
        }
        Ok(None) => {
            if !flags.xx {
                let mut z = ZSet::create(args.get(idx + 1).len(), &lim);
                run(
                    &mut z,
                    &mut added,
                    &mut updated,
                    &mut processed,
                    &mut last,
                    &mut nan,
                );
                let lru = srv.lru_clock;
                srv.add_key(db, key, RObj::new(Value::ZSet(Box::new(z)), lru));
                created = true;
            }
        }
    }
    if nan {
        c.out.err("ERR resulting score is not a number (NaN)");
    } else if flags.incr {
        if processed > 0 {
            reply_score(&mut c.out, last);
        } else {
            c.out.null();
        }
    } else {
        c.out.int(if ch { added + updated } else { added } as i64);
    }
    if added > 0 || updated > 0 {
        srv.dirty += (added + updated) as u64;
        if !created {
            srv.signal_modified_key(db, key);
        }
        let ev = if flags.incr { "zincr" } else { "zadd" };
        srv.notify_keyspace_event(notify::ZSET, ev, key, db);
    }
}

// ---------------------------------------------------------------------------------------------
// Point reads
// ---------------------------------------------------------------------------------------------

/// ZCARD key
fn zcard_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match read_zset(srv, c, args.get(1)) {
        Err(()) => {}
        Ok(None) => c.out.int(0),
        Ok(Some(z)) => c.out.int(z.len() as i64),
    }
}

/// ZCOUNT key min max
fn zcount_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let range = ScoreRange::parse(args.get(2), args.get(3));
    zcount_generic(srv, c, args, range, ERR_MINMAX);
}

/// ZLEXCOUNT key min max
fn zlexcount_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let range = LexRange::parse(args.get(2), args.get(3));
    zcount_generic(srv, c, args, range, ERR_LEX);
}

/// zcountCommand and zlexcountCommand once the range is parsed (`None`: answer `err`), before
/// the key is looked up.
fn zcount_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    range: Option<impl MemberRange>,
    err: &str,
) {
    let Some(range) = range else {
        c.out.err(err);
        return;
    };
    match read_zset(srv, c, args.get(1)) {
        Err(()) => {}
        Ok(None) => c.out.int(0),
        Ok(Some(z)) => c.out.int(z.count_in_range(&range) as i64),
    }
}

/// ZSCORE key member
fn zscore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match read_zset(srv, c, args.get(1)) {
        Err(()) => {}
        Ok(None) => c.out.null(),
        Ok(Some(z)) => match z.score(args.get(2)) {
            Some(s) => reply_score(&mut c.out, s),
            None => c.out.null(),
        },
    }
}

/// ZMSCORE key member [member ...]: a missing key reads as an empty set.
fn zmscore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Ok(mut z) = read_zset(srv, c, args.get(1)) else {
        return;
    };
    c.out.array(args.len() - 2);
    for i in 2..args.len() {
        match z.as_mut().and_then(|z| z.score(args.get(i))) {
            Some(s) => reply_score(&mut c.out, s),
            None => c.out.null(),
        }
    }
}

/// ZRANK key member
fn zrank_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrank_generic(srv, c, args, false);
}

/// ZREVRANK key member
fn zrevrank_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrank_generic(srv, c, args, true);
}

fn zrank_generic(srv: &mut Server, c: &mut Client, args: &Args, reverse: bool) {
    match read_zset(srv, c, args.get(1)) {
        Err(()) => {}
        Ok(None) => c.out.null(),
        Ok(Some(z)) => match z.rank(args.get(2), reverse) {
            Some(r) => c.out.int(r as i64),
            None => c.out.null(),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Removal
// ---------------------------------------------------------------------------------------------

/// ZREM key member [member ...]
fn zrem_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let key = args.get(1);
    let db = c.db;
    let (deleted, empty) = match write_zset(srv, c, key) {
        Err(()) => return,
        Ok(None) => {
            c.out.int(0);
            return;
        }
        Ok(Some(z)) => {
            let mut deleted = 0usize;
            for i in 2..args.len() {
                if z.delete(args.get(i)) {
                    deleted += 1;
                }
                if z.is_empty() {
                    break;
                }
            }
            (deleted, z.is_empty())
        }
    };
    if deleted > 0 {
        srv.notify_keyspace_event(notify::ZSET, "zrem", key, db);
        delete_if_empty(srv, db, key, empty);
        srv.signal_modified_key(db, key);
        srv.dirty += deleted as u64;
    }
    c.out.int(deleted as i64);
}

/// Which kind of range a command takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    /// Not said yet (ZRANGE decides by BYSCORE/BYLEX).
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range argument pair: ranks as given (clamped once the length is known), a score
/// range or a lex range.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Parses `min` and `max` as a range of kind `rt` (`Auto` reads ranks), replying Redis's
/// error when they do not parse.
fn range_or_reply(c: &mut Client, rt: RangeType, min: &[u8], max: &[u8]) -> Option<Range> {
    let (range, err) = match rt {
        RangeType::Score => (ScoreRange::parse(min, max).map(Range::Score), ERR_MINMAX),
        RangeType::Lex => (LexRange::parse(min, max).map(Range::Lex), ERR_LEX),
        RangeType::Auto | RangeType::Rank => {
            let start = long_or_reply(c, min)?;
            let end = long_or_reply(c, max)?;
            return Some(Range::Rank(start, end));
        }
    };
    if range.is_none() {
        c.out.err(err);
    }
    range
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zremrange_generic(srv, c, args, RangeType::Rank);
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zremrange_generic(srv, c, args, RangeType::Score);
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zremrange_generic(srv, c, args, RangeType::Lex);
}

/// zremrangeGenericCommand: parse the range, then look the key up.
fn zremrange_generic(srv: &mut Server, c: &mut Client, args: &Args, rt: RangeType) {
    let key = args.get(1);
    let db = c.db;
    let Some(range) = range_or_reply(c, rt, args.get(2), args.get(3)) else {
        return;
    };
    let (deleted, empty) = match write_zset(srv, c, key) {
        Err(()) => return,
        Ok(None) => {
            c.out.int(0);
            return;
        }
        Ok(Some(z)) => {
            let n = match &range {
                Range::Score(r) => z.remove_range(r),
                Range::Lex(r) => z.remove_range(r),
                Range::Rank(start, end) => match clamp_ranks(*start, *end, z.len()) {
                    Some((s, e)) => z.remove_range_by_rank(s, e),
                    None => {
                        c.out.int(0);
                        return;
                    }
                },
            };
            (n, z.is_empty())
        }
    };
    if deleted > 0 {
        let event = match range {
            Range::Score(_) => "zremrangebyscore",
            Range::Lex(_) => "zremrangebylex",
            Range::Rank(..) => "zremrangebyrank",
        };
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::ZSET, event, key, db);
        delete_if_empty(srv, db, key, empty);
    }
    srv.dirty += deleted as u64;
    c.out.int(deleted as i64);
}

/// Redis's rank sanitizing: negative ranks count from the end, the start is floored at 0,
/// the end capped at len-1; None when the range is empty.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 {
        llen.saturating_add(start)
    } else {
        start
    };
    let end = if end < 0 {
        llen.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    let end = end.min(llen - 1);
    Some((start as usize, end as usize))
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its variants
// ---------------------------------------------------------------------------------------------

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Auto, None);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
fn zrangestore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, Some(args.get(1)), RangeType::Auto, None);
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Rank, Some(true));
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Score, Some(false));
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Score, Some(true));
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Lex, Some(false));
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zrange_generic(srv, c, args, None, RangeType::Lex, Some(true));
}

/// zrangeGenericCommand. `store` is ZRANGESTORE's destination (its source is then argument
/// 2); `rt` and `rev` are fixed by the legacy commands, `Auto`/None let options decide.
fn zrange_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    store: Option<&[u8]>,
    mut rt: RangeType,
    rev: Option<bool>,
) {
    let start = if store.is_some() { 2 } else { 1 };
    let key = args.get(start);
    let mut minidx = start + 1;
    let mut maxidx = start + 2;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut reverse = rev;
    let mut j = start + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let o = cstr(args.get(j));
        if store.is_none() && o.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if o.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let Some(off) = long_or_reply(c, args.get(j + 1)) else {
                return;
            };
            let Some(lim) = long_or_reply(c, args.get(j + 2)) else {
                return;
            };
            offset = off;
            limit = lim;
            j += 2;
        } else if rev.is_none() && o.eq_ignore_ascii_case(b"rev") {
            reverse = Some(true);
        } else if rt == RangeType::Auto && o.eq_ignore_ascii_case(b"bylex") {
            rt = RangeType::Lex;
        } else if rt == RangeType::Auto && o.eq_ignore_ascii_case(b"byscore") {
            rt = RangeType::Score;
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    if rt == RangeType::Auto {
        rt = RangeType::Rank;
    }
    if limit != -1 && rt == RangeType::Rank {
        c.out.err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return;
    }
    if withscores && rt == RangeType::Lex {
        c.out
            .err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if reverse && (rt == RangeType::Score || rt == RangeType::Lex) {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let Some(range) = range_or_reply(c, rt, args.get(minidx), args.get(maxidx)) else {
        return;
    };
    let z = match read_zset(srv, c, key) {
        Err(()) => return,
        Ok(None) => {
            match store {
                Some(dst) => store_result(srv, c, dst, Vec::new(), "zrangestore"),
                None => c.out.array(0),
            }
            return;
        }
        Ok(Some(z)) => z,
    };
    // Collecting for STORE, replying directly otherwise.
    if let Some(dst) = store {
        let mut pairs: Vec<(Sds, f64)> = Vec::new();
        let push = |m: LpElem<'_>, s: f64| pairs.push((to_sds(m), s));
        emit_range(z, &range, offset, limit, reverse, push);
        if reverse {
            pairs.reverse();
        }
        store_result(srv, c, dst, pairs, "zrangestore");
        return;
    }
    if let Range::Rank(start, end) = range {
        let Some((s, e)) = clamp_ranks(start, end, z.len()) else {
            c.out.array(0);
            return;
        };
        let out = &mut c.out;
        out.array(range_header_len(out, e - s + 1, withscores));
        z.visit_rank_range(s, e, reverse, |m, sc| reply_elem(out, m, sc, withscores));
        return;
    }
    let out = &mut c.out;
    let d = out.defer();
    let n = emit_range(z, &range, offset, limit, reverse, |m, sc| {
        reply_elem(out, m, sc, withscores)
    });
    let n = range_header_len(out, n, withscores);
    out.set_deferred_array(d, n);
}

/// Walks the range of a ZRANGE-style command, passing each element to `f`; returns how many.
fn emit_range(
    z: &ZSet,
    range: &Range,
    offset: i64,
    limit: i64,
    reverse: bool,
    mut f: impl FnMut(LpElem<'_>, f64),
) -> usize {
    match range {
        Range::Score(r) => z.visit_range(r, offset, limit, reverse, f),
        Range::Lex(r) => z.visit_range(r, offset, limit, reverse, f),
        Range::Rank(start, end) => match clamp_ranks(*start, *end, z.len()) {
            Some((s, e)) => {
                z.visit_rank_range(s, e, reverse, &mut f);
                e - s + 1
            }
            None => 0,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------------

/// How a pop replies (the flags of genericZpopCommand).
#[derive(Clone, Copy)]
struct PopReply {
    /// Name the key first (BZPOP*, ZMPOP, BZMPOP).
    emitkey: bool,
    /// [member, score] pairs rather than a flat list.
    nested: bool,
    /// A null array rather than an empty one when no key has elements (ZMPOP, BZMPOP).
    nil_when_empty: bool,
}

/// ZPOPMIN key [count]
fn zpopmin_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zpop_minmax(srv, c, args, false);
}

/// ZPOPMAX key [count]
fn zpopmax_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zpop_minmax(srv, c, args, true);
}

/// zpopMinMaxCommand: RESP3 nests pairs only when COUNT was given.
fn zpop_minmax(srv: &mut Server, c: &mut Client, args: &Args, max: bool) {
    if args.len() > 3 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let mut count = -1i64;
    if args.len() == 3 {
        match range_long_or_reply(
            c,
            args.get(2),
            0,
            i64::MAX,
            "ERR value is out of range, must be positive",
        ) {
            Some(v) => count = v,
            None => return,
        }
    }
    let how = PopReply {
        emitkey: false,
        nested: c.out.resp3 && count != -1,
        nil_when_empty: false,
    };
    generic_zpop(srv, c, &[args.get(1)], max, count, how);
}

/// genericZpopCommand: pops up to `count` (-1: one, flat) elements from the first existing
/// key, stopping at the first key of the wrong type.
fn generic_zpop(
    srv: &mut Server,
    c: &mut Client,
    keys: &[&[u8]],
    max: bool,
    count: i64,
    how: PopReply,
) {
    let db = c.db;
    let mut hit: Option<(usize, usize, bool)> = None;
    for (i, &key) in keys.iter().enumerate() {
        let Some(o) = srv.lookup_write(db, key) else {
            continue;
        };
        let Value::ZSet(z) = &mut o.value else {
            c.out.err(WRONGTYPE);
            return;
        };
        if count == 0 {
            c.out.array(0);
            return;
        }
        let want = if count == -1 { 1 } else { count as u64 };
        let n = want.min(z.len() as u64) as usize;
        let out = &mut c.out;
        match (how.nested, how.emitkey) {
            (false, false) => out.array(2 * n),
            (true, false) => out.array(n),
            (false, true) => {
                out.array(2 * n + 1);
                out.bulk(key);
            }
            (true, true) => {
                out.array(2);
                out.bulk(key);
                out.array(n);
            }
        }
        for _ in 0..n {
            let Some((m, s)) = z.pop(max) else {
                break;
            };
            if how.nested {
                out.array(2);
            }
            out.bulk(m.as_bytes());
            reply_score(out, s);
        }
        hit = Some((i, n, z.is_empty()));
        break;
    }
    let Some((i, n, empty)) = hit else {
        if how.nil_when_empty {
            c.out.null_array();
        } else {
            c.out.array(0);
        }
        return;
    };
    let key = keys[i];
    srv.dirty += n as u64;
    srv.notify_keyspace_event(
        notify::ZSET,
        if max { "zpopmax" } else { "zpopmin" },
        key,
        db,
    );
    delete_if_empty(srv, db, key, empty);
    srv.signal_modified_key(db, key);
    // BZPOPMIN/BZPOPMAX travel as ZPOPMIN/ZPOPMAX of the key served; ZMPOP and BZMPOP the
    // same with the count popped. ZPOPMIN/ZPOPMAX themselves travel as sent.
    if how.emitkey {
        let nested = how.nested;
        srv.rewrite_command(|| {
            let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            let mut v = vec![name.to_vec(), key.to_vec()];
            if nested {
                v.push(n.to_string().into_bytes());
            }
            v
        });
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
fn zmpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zmpop_generic(srv, c, args, 1, false);
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zmpop_generic(srv, c, args, 2, true);
}

/// zmpopGenericCommand: numkeys, MIN/MAX and COUNT are checked before the timeout.
fn zmpop_generic(srv: &mut Server, c: &mut Client, args: &Args, numkeys_idx: usize, block: bool) {
    let Some(numkeys) = range_long_or_reply(
        c,
        args.get(numkeys_idx),
        1,
        i64::MAX,
        "ERR numkeys should be greater than 0",
    ) else {
        return;
    };
    let where_idx = (numkeys as u64).saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= args.len() as u64 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let where_idx = where_idx as usize;
    let w = cstr(args.get(where_idx));
    let max = if w.eq_ignore_ascii_case(b"min") {
        false
    } else if w.eq_ignore_ascii_case(b"max") {
        true
    } else {
        c.out.err(ERR_SYNTAX);
        return;
    };
    let mut count = -1i64;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count == -1 && cstr(args.get(j)).eq_ignore_ascii_case(b"count") && more > 0 {
            j += 1;
            match range_long_or_reply(
                c,
                args.get(j),
                1,
                i64::MAX,
                "ERR count should be greater than 0",
            ) {
                Some(v) => count = v,
                None => return,
            }
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    if count == -1 {
        count = 1;
    }
    let keys: Vec<&[u8]> = (numkeys_idx + 1..where_idx).map(|i| args.get(i)).collect();
    let how = PopReply {
        emitkey: true,
        nested: true,
        nil_when_empty: true,
    };
    if block {
        blocking_zpop(srv, c, args, &keys, max, count, 1, how);
    } else {
        generic_zpop(srv, c, &keys, max, count, how);
    }
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin_command(srv: &mut Server, c: &mut Client, args: &Args) {
    bzpop_minmax(srv, c, args, false);
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax_command(srv: &mut Server, c: &mut Client, args: &Args) {
    bzpop_minmax(srv, c, args, true);
}

fn bzpop_minmax(srv: &mut Server, c: &mut Client, args: &Args, max: bool) {
    let n = args.len();
    let keys: Vec<&[u8]> = (1..n - 1).map(|i| args.get(i)).collect();
    let how = PopReply {
        emitkey: true,
        nested: false,
        nil_when_empty: false,
    };
    blocking_zpop(srv, c, args, &keys, max, -1, n - 1, how);
}

/// blockingGenericZpopCommand: pops from the first non-empty key, or parks the client. A re-run
/// for a ready key serves from that key only, and passes over a key that now holds another
/// type (Redis keeps such a client blocked instead of failing it).
#[allow(clippy::too_many_arguments)]
fn blocking_zpop(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    keys: &[&[u8]],
    max: bool,
    count: i64,
    timeout_idx: usize,
    how: PopReply,
) {
    let Some(deadline) = crate::server::blocked::parse_timeout(srv, c, args.get(timeout_idx))
    else {
        return;
    };
    let db = c.db;
    // Re-run for a ready key: serve from that key only, as Redis serves from the ready key.
    let only = if c.reprocessing_blocked {
        srv.blocking.serving.clone()
    } else {
        None
    };
    for &key in keys {
        if only.as_deref().is_some_and(|k| k != key) {
            continue;
        }
        let is_zset = match srv.lookup_write(db, key) {
            None => continue,
            Some(o) => matches!(o.value, Value::ZSet(_)),
        };
        if !is_zset {
            // Redis keeps a waiter blocked when its key now holds another type.
            if c.reprocessing_blocked {
                continue;
            }
            c.out.err(WRONGTYPE);
            return;
        }
        generic_zpop(srv, c, &[key], max, count, how);
        return;
    }
    if c.deny_blocking {
        c.out.null_array();
        return;
    }
    srv.block_for_keys(c, args, keys, deadline);
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() >= 3 {
        // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): i64::MIN has no absolute value.
        let Some(l) = long_or_reply(c, args.get(2)) else {
            return;
        };
        if l == i64::MIN {
            c.out.err(ERR_RAND_RANGE);
            return;
        }
        let withscores = args.len() == 4;
        if args.len() > 4 || (withscores && !cstr(args.get(3)).eq_ignore_ascii_case(b"withscores"))
        {
            c.out.err(ERR_SYNTAX);
            return;
        }
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            c.out.err("ERR value is out of range");
            return;
        }
        zrandmember_with_count(srv, c, args, l, withscores);
        return;
    }
    match read_zset(srv, c, args.get(1)) {
        Err(()) => {}
        Ok(None) => c.out.null(),
        Ok(Some(z)) => {
            let out = &mut c.out;
            z.random_element(|m, _| reply_member(out, m));
        }
    }
}

/// zrandmemberWithCountCommand: Redis's four cases (repeats allowed; the whole set; remove
/// random members from a copy; pick random members until enough distinct ones).
fn zrandmember_with_count(srv: &mut Server, c: &mut Client, args: &Args, l: i64, withscores: bool) {
    let guard = super::hash::OutputGuard::new(srv);
    let z = match read_zset(srv, c, args.get(1)) {
        Err(()) => return,
        Ok(None) => {
            c.out.array(0);
            return;
        }
        Ok(Some(z)) => z,
    };
    let size = z.len() as u64;
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    let out = &mut c.out;
    if count == 0 {
        out.array(0);
        return;
    }
    // CASE 1: repeats allowed (or a single member).
    if !uniq || count == 1 {
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        out.array(range_header_len(out, n, withscores));
        // The reply grows with the count, not the set: draw in batches and stop once the
        // client's output passed its limit (Redis checks CLIENT_CLOSE_ASAP) or the hard cap.
        let batch = size.max(1024);
        let mut left = count;
        while left > 0 {
            let n = left.min(batch);
            left -= n;
            z.random_with_repeats(n, |m, s| reply_elem(&mut c.out, m, s, withscores));
            if guard.exceeded(c) {
                break;
            }
        }
        return;
    }
    let reply_size = count.min(size) as usize;
    out.array(range_header_len(out, reply_size, withscores));
    // CASE 2: the whole set, highest first (zuiNext walks sorted sets from the tail).
    if count >= size {
        for (m, s) in z.iter_rev() {
            reply_elem(out, m, s, withscores);
        }
        return;
    }
    let count = count as usize;
    // CASE 3: count is close to the size: drop random members from a copy.
    if count * 3 > size as usize {
        let mut all: Vec<(Sds, f64)> = z.iter().map(|(m, s)| (to_sds(m), s)).collect();
        while all.len() > count {
            let i = crate::util::rand::index(all.len());
            all.swap_remove(i);
        }
        for (m, s) in &all {
            reply_elem(out, LpElem::Str(m.as_bytes()), *s, withscores);
        }
        return;
    }
    // CASE 4: few members of a big set.
    z.random_distinct(count, |m, s| reply_elem(out, m, s, withscores));
}

// ---------------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(mut cursor) = parse_scan_cursor(args.get(2)) else {
        c.out.err("ERR invalid cursor");
        return;
    };
    let z = match read_zset(srv, c, args.get(1)) {
        Err(()) => return,
        Ok(None) => {
            c.out.raw(b"*2\r\n$1\r\n0\r\n*0\r\n");
            return;
        }
        Ok(Some(z)) => z,
    };
    let Some(opts) = parse_scan_opts(c, args, 3, false) else {
        return;
    };
    let want = usize::try_from(opts.count).unwrap_or(usize::MAX);
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if z.listpack().is_some() {
        cursor = z.scan(0, |m, s| items.push((m.to_vec(), s.to_vec())));
    } else {
        let mut max_iterations = opts.count.saturating_mul(10);
        loop {
            cursor = z.scan(cursor, |m, s| items.push((m.to_vec(), s.to_vec())));
            if cursor == 0 || max_iterations == 0 {
                break;
            }
            max_iterations -= 1;
            if items.len() >= want {
                break;
            }
        }
    }
    if let Some(p) = opts.pattern {
        items.retain(|(m, _)| glob_match(p, m, false));
    }
    let out = &mut c.out;
    out.array(2);
    out.bulk_i64(cursor as i64);
    out.array(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(s);
    }
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------------------------

/// The set operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// AGGREGATE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// zunionInterAggregate: SUM turns inf + -inf into 0.
#[inline]
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// One input of a set operation: a sorted set, a plain set (every score 1), or nothing.
enum Source<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Z(z) => z.len(),
            Source::S(s) => set_len(s),
        }
    }

    /// The score of `m` in this input (zuiFind).
    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Z(z) => z.score_peek(m),
            Source::S(s) => set_contains(s, m).then_some(1.0),
        }
    }

    /// Every (member, score) of this input (zuiNext).
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::Missing => {}
            Source::Z(z) => {
                for (m, s) in z.iter() {
                    let mut b = [0u8; INTBUF_SIZE];
                    f(elem_bytes(m, &mut b), s);
                }
            }
            Source::S(s) => set_for_each(s, |m| f(m, 1.0)),
        }
    }
}

/// Number of members of a plain set.
fn set_len(s: &Set) -> usize {
    s.len()
}

/// Whether a plain set holds `m`.
fn set_contains(s: &Set, m: &[u8]) -> bool {
    s.contains(m)
}

/// Every member of a plain set (intset members formatted as decimal).
fn set_for_each(s: &Set, mut f: impl FnMut(&[u8])) {
    let mut tmp = [0u8; 20];
    for m in s.iter() {
        f(m.bytes(&mut tmp));
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zunion_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op(srv, c, args, None, 1, SetOp::Union, false, "zunion");
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zinter_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op(srv, c, args, None, 1, SetOp::Inter, false, "zinter");
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op(srv, c, args, None, 1, SetOp::Diff, false, "zdiff");
}

/// ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zunionstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op_store(srv, c, args, SetOp::Union, "zunionstore");
}

/// ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zinterstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op_store(srv, c, args, SetOp::Inter, "zinterstore");
}

/// ZDIFFSTORE dst numkeys key [key ...]
fn zdiffstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op_store(srv, c, args, SetOp::Diff, "zdiffstore");
}

/// The *STORE forms: the destination is argument 1, numkeys argument 2.
fn zset_op_store(srv: &mut Server, c: &mut Client, args: &Args, op: SetOp, name: &str) {
    zset_op(srv, c, args, Some(args.get(1)), 2, op, false, name);
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard_command(srv: &mut Server, c: &mut Client, args: &Args) {
    zset_op(srv, c, args, None, 1, SetOp::Inter, true, "zintercard");
}

/// zunionInterDiffGenericCommand. Inputs are looked up (and type-checked) before the options
/// are parsed, as in Redis; the result is computed into a vector, sorted, and either replied
/// or stored (taking the listpack encoding when it fits, zsetConvertToListpackIfNeeded).
#[allow(clippy::too_many_arguments)]
fn zset_op(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
    name: &str,
) {
    let Some(setnum) = long_or_reply(c, args.get(numkeys_idx)) else {
        return;
    };
    if setnum < 1 {
        c.out.err(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return;
    }
    if setnum as u64 > (args.len() - (numkeys_idx + 1)) as u64 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let setnum = setnum as usize;
    let db = c.db;
    let first_key = numkeys_idx + 1;
    // Pass 1: lookups (lazy expiry, statistics) and type checks.
    for i in 0..setnum {
        if let Some(o) = srv.lookup_read(db, args.get(first_key + i)) {
            if !matches!(o.value, Value::ZSet(_) | Value::Set(_)) {
                c.out.err(WRONGTYPE);
                return;
            }
        }
    }
    // Options.
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = first_key + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let o = cstr(args.get(j));
        if op != SetOp::Diff
            && !card_only
            && remaining > setnum
            && o.eq_ignore_ascii_case(b"weights")
        {
            j += 1;
            for w in weights.iter_mut() {
                match parse_score(args.get(j)) {
                    Some(v) => *w = v,
                    None => {
                        c.out.err("ERR weight value is not a float");
                        return;
                    }
                }
                j += 1;
            }
        } else if op != SetOp::Diff
            && !card_only
            && remaining >= 2
            && o.eq_ignore_ascii_case(b"aggregate")
        {
            let a = cstr(args.get(j + 1));
            agg = if a.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if a.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if a.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                c.out.err(ERR_SYNTAX);
                return;
            };
            j += 2;
        } else if dst.is_none() && !card_only && o.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && o.eq_ignore_ascii_case(b"limit") {
            match range_long_or_reply(
                c,
                args.get(j + 1),
                0,
                i64::MAX,
                "ERR LIMIT can't be negative",
            ) {
                Some(v) => limit = v,
                None => return,
            }
            j += 2;
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
    }
    // Pass 2: borrow every input at once.
    let dict = &srv.dbs[db].dict;
    let mut srcs: Vec<(Source<'_>, f64)> = (0..setnum)
        .map(|i| {
            let s = match dict.peek(args.get(first_key + i)).map(|o| &o.value) {
                Some(Value::ZSet(z)) => Source::Z(z),
                Some(Value::Set(s)) => Source::S(s),
                _ => Source::Missing,
            };
            (s, weights[i])
        })
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let mut result: Vec<(Sds, f64)> = Vec::new();
    let mut cardinality = 0u64;
    match op {
        SetOp::Inter => {
            let (first, w0) = &srcs[0];
            if first.len() > 0 {
                let mut stop = false;
                first.for_each(|m, s| {
                    if stop {
                        return;
                    }
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (src, w) in &srcs[1..] {
                        match src.find(m) {
                            Some(v) => aggregate(&mut score, v * w, agg),
                            None => return,
                        }
                    }
                    if card_only {
                        cardinality += 1;
                        if limit > 0 && cardinality >= limit as u64 {
                            stop = true;
                        }
                    } else {
                        result.push((Sds::from_slice(m), score));
                    }
                });
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<Vec<u8>, f64> =
                std::collections::HashMap::with_capacity(srcs.last().map_or(0, |(s, _)| s.len()));
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            result = acc
                .into_iter()
                .map(|(m, s)| (Sds::from_vec(m), s))
                .collect();
        }
        SetOp::Diff => {
            let (first, _) = &srcs[0];
            first.for_each(|m, s| {
                if srcs[1..].iter().all(|(src, _)| src.find(m).is_none()) {
                    result.push((Sds::from_slice(m), s));
                }
            });
        }
    }
    drop(srcs);
    if card_only {
        c.out.int(cardinality as i64);
        return;
    }
    sort_pairs(&mut result);
    match dst {
        Some(dst) => store_result(srv, c, dst, result, name),
        None => {
            let out = &mut c.out;
            out.array(range_header_len(out, result.len(), withscores));
            for (m, s) in &result {
                reply_elem(out, LpElem::Str(m.as_bytes()), *s, withscores);
            }
        }
    }
}
