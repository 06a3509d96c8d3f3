//! The `list` command group of Redis 7.0 (t_list.c) and CLIENT UNBLOCK.
//!
//! Every handler follows Redis's order of checks, because the order decides which error a bad
//! request gets: argument syntax that Redis parses before the lookup is parsed first here too
//! (LRANGE's indexes, LPOP's COUNT, LMOVE's directions, the blocking timeouts), while LINDEX and
//! LSET look the key up before parsing their index.
//!
//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) try to serve at once; when every
//! key is empty they park the client with `Server::block_for_keys` (src/server/blocked.rs),
//! unless the client may not block (inside EXEC), where they answer as a timeout would. A parked
//! command is run again when one of its keys changes; on such a re-run a key holding another
//! type is skipped rather than answered with WRONGTYPE, because Redis 7.0 only serves a list
//! waiter from a key that is a list and keeps it blocked otherwise.
//!
//! After removing elements the key is deleted when the list became empty, with the keyspace
//! events in Redis's order (`lpop`/`rpop`, then `del`), then the modification is signalled
//! (listElementsRemoved).

use super::{Args, Handler};
use crate::ds::listpack::LpElem;
use crate::server::blocked::parse_timeout;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::list::List;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("lpush", lpush_command),
    ("rpush", rpush_command),
    ("lpushx", lpushx_command),
    ("rpushx", rpushx_command),
    ("linsert", linsert_command),
    ("llen", llen_command),
    ("lindex", lindex_command),
    ("lset", lset_command),
    ("lpop", lpop_command),
    ("rpop", rpop_command),
    ("lrange", lrange_command),
    ("ltrim", ltrim_command),
    ("lpos", lpos_command),
    ("lrem", lrem_command),
    ("lmove", lmove_command),
    ("rpoplpush", rpoplpush_command),
    ("lmpop", lmpop_command),
    ("blpop", blpop_command),
    ("brpop", brpop_command),
    ("blmove", blmove_command),
    ("brpoplpush", brpoplpush_command),
    ("blmpop", blmpop_command),
    ("client|unblock", client_unblock_command),
];

const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
const ERR_SYNTAX: &str = "ERR syntax error";
const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";

/// What a key holds, from a list command's point of view.
enum Found<'a> {
    Missing,
    WrongType,
    List(&'a mut List),
}

/// Looks `key` up for reading (hit/miss statistics) or writing.
#[inline]
fn find<'a>(srv: &'a mut Server, db: usize, key: &[u8], write: bool) -> Found<'a> {
    let o = if write {
        srv.lookup_write(db, key)
    } else {
        srv.lookup_read(db, key)
    };
    match o {
        None => Found::Missing,
        Some(o) => match &mut o.value {
            Value::List(l) => Found::List(l),
            _ => Found::WrongType,
        },
    }
}

/// A new list object with the options in force (createQuicklistObject + quicklistSetOptions).
fn new_list_object(srv: &Server, l: List) -> RObj {
    RObj::new(Value::List(Box::new(l)), srv.lru_clock)
}

/// Writes one element as a bulk string.
#[inline]
fn reply_elem(c: &mut Client, e: LpElem<'_>) {
    match e {
        LpElem::Str(s) => c.out.bulk(s),
        LpElem::Int(i) => c.out.bulk_i64(i),
    }
}

/// The bookkeeping after `count` elements were popped from `key` (listElementsRemoved): the
/// pop event, the key's deletion with its `del` event when the list is now `empty`, the
/// modification signal and the dirty counter.
fn elements_removed(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    head: bool,
    count: usize,
    empty: bool,
) {
    let event = if head { "lpop" } else { "rpop" };
    srv.notify_keyspace_event(notify::LIST, event, key, db);
    if empty {
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
    }
    srv.signal_modified_key(db, key);
    srv.dirty += count as u64;
}

/// Parses an integer argument as getLongFromObjectOrReply does.
#[inline]
fn int_arg(c: &mut Client, a: &[u8]) -> Option<i64> {
    let v = parse_i64(a);
    if v.is_none() {
        c.out.err(ERR_NOT_INT);
    }
    v
}

/// getRangeLongFromObjectOrReply with a message: any parse failure or value outside
/// `min..=max` answers `msg`.
fn range_arg(c: &mut Client, a: &[u8], min: i64, max: i64, msg: &str) -> Option<i64> {
    match parse_i64(a) {
        Some(v) if v >= min && v <= max => Some(v),
        _ => {
            c.out.err(msg);
            None
        }
    }
}

/// LEFT or RIGHT (getListPositionFromObjectOrReply): true for LEFT (the head).
fn position_arg(c: &mut Client, a: &[u8]) -> Option<bool> {
    if a.eq_ignore_ascii_case(b"left") {
        Some(true)
    } else if a.eq_ignore_ascii_case(b"right") {
        Some(false)
    } else {
        c.out.err(ERR_SYNTAX);
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------------------------

/// LPUSH/RPUSH/LPUSHX/RPUSHX (pushGenericCommand); `xx` pushes only onto an existing list.
fn push_generic(srv: &mut Server, c: &mut Client, args: &Args, head: bool, xx: bool) {
    let db = c.db;
    let key = args.get(1);
    let len = match find(srv, db, key, true) {
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => {
            for v in args.iter_from(2) {
                l.push(v, head);
            }
            l.len()
        }
        Found::Missing => {
            if xx {
                return c.out.int(0);
            }
            let mut l = List::from_config(&srv.config);
            for v in args.iter_from(2) {
                l.push(v, head);
            }
            let n = l.len();
            let o = new_list_object(srv, l);
            srv.add_key(db, key, o);
            n
        }
    };
    srv.dirty += (args.len() - 2) as u64;
    c.out.int(len as i64);
    srv.signal_modified_key(db, key);
    let event = if head { "lpush" } else { "rpush" };
    srv.notify_keyspace_event(notify::LIST, event, key, db);
}

/// LPUSH key element [element ...]
fn lpush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    push_generic(srv, c, args, true, false)
}

/// RPUSH key element [element ...]
fn rpush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    push_generic(srv, c, args, false, false)
}

/// LPUSHX key element [element ...]
fn lpushx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    push_generic(srv, c, args, true, true)
}

/// RPUSHX key element [element ...]
fn rpushx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    push_generic(srv, c, args, false, true)
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return c.out.err(ERR_SYNTAX);
    };
    let db = c.db;
    let key = args.get(1);
    let len = match find(srv, db, key, true) {
        Found::Missing => return c.out.int(0),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => {
            if !l.insert_at_pivot(args.get(3), args.get(4), after) {
                return c.out.int(-1);
            }
            l.len()
        }
    };
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::LIST, "linsert", key, db);
    srv.dirty += 1;
    c.out.int(len as i64);
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// LLEN key
fn llen_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match find(srv, c.db, args.get(1), false) {
        Found::Missing => c.out.int(0),
        Found::WrongType => c.out.err(WRONGTYPE),
        Found::List(l) => c.out.int(l.len() as i64),
    }
}

/// LINDEX key index: the key is looked up before the index is parsed, as in Redis.
fn lindex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let l = match find(srv, c.db, args.get(1), false) {
        Found::Missing => return c.out.null(),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => l,
    };
    let Some(index) = int_arg(c, args.get(2)) else {
        return;
    };
    if l.get_with(index, |e| reply_elem(c, e)).is_none() {
        c.out.null();
    }
    l.settle_after_read(index, 1, false);
}

/// Replies the elements between the inclusive indexes `start` and `end` (negative from the
/// tail), from `end` back to `start` with `reverse` (addListRangeReply).
fn reply_range(c: &mut Client, l: &mut List, start: i64, end: i64, reverse: bool) {
    let llen = l.len() as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return c.out.array(0);
    }
    if end >= llen {
        end = llen - 1;
    }
    let n = (end - start + 1) as usize;
    c.out.array(n);
    let from = if reverse { end } else { start };
    let mut it = l.iter_at(from, reverse);
    for _ in 0..n {
        match it.next() {
            Some(e) => reply_elem(c, e),
            None => break,
        }
    }
    l.settle_after_read(from, n, reverse);
}

/// LRANGE key start stop
fn lrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(start) = int_arg(c, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(c, args.get(3)) else {
        return;
    };
    match find(srv, c.db, args.get(1), false) {
        Found::Missing => c.out.array(0),
        Found::WrongType => c.out.err(WRONGTYPE),
        Found::List(l) => reply_range(c, l, start, end, false),
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut rank: i64 = 1;
    let mut count: i64 = -1;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if args.is(j, "rank") && more {
            j += 1;
            let Some(r) = int_arg(c, args.get(j)) else {
                return;
            };
            if r == 0 {
                return c.out.err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            rank = r;
        } else if args.is(j, "count") && more {
            j += 1;
            let Some(n) = range_arg(c, args.get(j), 0, i64::MAX, "ERR COUNT can't be negative")
            else {
                return;
            };
            count = n;
        } else if args.is(j, "maxlen") && more {
            j += 1;
            let Some(n) = range_arg(c, args.get(j), 0, i64::MAX, "ERR MAXLEN can't be negative")
            else {
                return;
            };
            maxlen = n;
        } else {
            return c.out.err(ERR_SYNTAX);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis negates with C overflow: RANK LONG_MIN
    // stays negative, so every match qualifies.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let l = match find(srv, c.db, args.get(1), false) {
        Found::Missing => {
            return if count != -1 {
                c.out.array(0)
            } else {
                c.out.null()
            }
        }
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => l,
    };
    let ele = args.get(2);
    let llen = l.len() as i64;
    let deferred = (count != -1).then(|| c.out.defer());
    let start = if from_tail { -1 } else { 0 };
    let mut it = l.iter_at(start, from_tail);
    let (mut index, mut matches, mut arraylen) = (0i64, 0i64, 0usize);
    let mut matchindex = -1i64;
    // Elements read, for the iterator's compression side effects. As in Redis the next
    // element is fetched before MAXLEN is checked, so a MAXLEN stop has read one more.
    let mut examined = 0usize;
    while let Some(e) = it.next() {
        examined += 1;
        if maxlen != 0 && index >= maxlen {
            break;
        }
        if e.eq_bytes(ele) {
            matches += 1;
            matchindex = if from_tail { llen - index - 1 } else { index };
            if matches >= rank {
                if deferred.is_some() {
                    arraylen += 1;
                    c.out.int(matchindex);
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        break;
                    }
                } else {
                    break;
                }
            }
        }
        index += 1;
        matchindex = -1;
    }
    l.settle_after_read(start, examined, from_tail);
    match deferred {
        Some(d) => c.out.set_deferred_array(d, arraylen),
        None if matchindex != -1 => c.out.int(matchindex),
        None => c.out.null(),
    }
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// LSET key index element: the key is looked up before the index is parsed.
fn lset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let l = match find(srv, db, key, true) {
        Found::Missing => return c.out.err("ERR no such key"),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => l,
    };
    let Some(index) = int_arg(c, args.get(2)) else {
        return;
    };
    if !l.set(index, args.get(3)) {
        return c.out.err("ERR index out of range");
    }
    c.out.ok();
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::LIST, "lset", key, db);
    srv.dirty += 1;
}

/// LPOP/RPOP key [count] (popGenericCommand).
fn pop_generic(srv: &mut Server, c: &mut Client, args: &Args, head: bool) {
    if args.len() > 3 {
        let name = if head { "lpop" } else { "rpop" };
        return c.out.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let has_count = args.len() == 3;
    let mut count = 0;
    if has_count {
        let Some(n) = range_arg(c, args.get(2), 0, i64::MAX, ERR_POSITIVE) else {
            return;
        };
        count = n;
    }
    let db = c.db;
    let key = args.get(1);
    let l = match find(srv, db, key, true) {
        Found::Missing => {
            return if has_count {
                c.out.null_array()
            } else {
                c.out.null()
            }
        }
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => l,
    };
    if has_count && count == 0 {
        return c.out.array(0);
    }
    let removed = if !has_count {
        if l.pop_with(head, |e| reply_elem(c, e)).is_none() {
            return c.out.null();
        }
        1
    } else {
        pop_range(c, l, head, count)
    };
    let empty = l.is_empty();
    elements_removed(srv, db, key, head, removed, empty);
}

/// Replies up to `count` elements from one end (in pop order) and deletes them; returns how
/// many. The caller has checked `count > 0`.
fn pop_range(c: &mut Client, l: &mut List, head: bool, count: i64) -> usize {
    let n = count.min(l.len() as i64);
    if head {
        reply_range(c, l, 0, n - 1, false);
        l.del_range(0, n);
    } else {
        reply_range(c, l, -n, -1, true);
        l.del_range(-n, n);
    }
    n as usize
}

/// LPOP key [count]
fn lpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    pop_generic(srv, c, args, true)
}

/// RPOP key [count]
fn rpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    pop_generic(srv, c, args, false)
}

/// LTRIM key start stop
fn ltrim_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(start) = int_arg(c, args.get(2)) else {
        return;
    };
    let Some(end) = int_arg(c, args.get(3)) else {
        return;
    };
    let db = c.db;
    let key = args.get(1);
    let (removed, empty) = match find(srv, db, key, true) {
        Found::Missing => return c.out.ok(),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => {
            let llen = l.len() as i64;
            let mut start = if start < 0 { llen + start } else { start };
            let mut end = if end < 0 { llen + end } else { end };
            if start < 0 {
                start = 0;
            }
            let (ltrim, rtrim) = if start > end || start >= llen {
                (llen, 0)
            } else {
                if end >= llen {
                    end = llen - 1;
                }
                (start, llen - end - 1)
            };
            l.del_range(0, ltrim);
            l.del_range(-rtrim, rtrim);
            (ltrim + rtrim, l.is_empty())
        }
    };
    srv.notify_keyspace_event(notify::LIST, "ltrim", key, db);
    if empty {
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
    }
    srv.signal_modified_key(db, key);
    srv.dirty += removed as u64;
    c.out.ok();
}

/// LREM key count element
fn lrem_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(count) = int_arg(c, args.get(2)) else {
        return;
    };
    let db = c.db;
    let key = args.get(1);
    let (removed, empty) = match find(srv, db, key, true) {
        Found::Missing => return c.out.int(0),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) => {
            let n = l.remove(args.get(3), count);
            (n, l.is_empty())
        }
    };
    srv.dirty += removed as u64;
    if removed > 0 {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::LIST, "lrem", key, db);
    }
    if empty {
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
    }
    c.out.int(removed as i64);
}

/// Pops from `src` and pushes onto `dst` (lmoveGenericCommand): null when `src` is missing,
/// WRONGTYPE when either key holds another type (checked before anything moves).
fn lmove_generic(srv: &mut Server, c: &mut Client, src: &[u8], dst: &[u8], from: bool, to: bool) {
    let db = c.db;
    match find(srv, db, src, true) {
        Found::Missing => return c.out.null(),
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::List(l) if l.is_empty() => return c.out.null(),
        Found::List(_) => {}
    }
    let dst_exists = match find(srv, db, dst, true) {
        Found::WrongType => return c.out.err(WRONGTYPE),
        Found::Missing => false,
        Found::List(_) => true,
    };
    let Found::List(l) = find(srv, db, src, true) else {
        return c.out.null();
    };
    let Some(value) = l.pop(from) else {
        return c.out.null();
    };
    let mut src_empty = l.is_empty();
    // lmoveHandlePush: create the destination if needed, signal, push, notify, reply.
    if !dst_exists {
        let o = new_list_object(srv, List::from_config(&srv.config));
        srv.add_key(db, dst, o);
    }
    srv.signal_modified_key(db, dst);
    if let Found::List(d) = find(srv, db, dst, true) {
        d.push(&value, to);
    }
    if src == dst {
        src_empty = false;
    }
    srv.notify_keyspace_event(notify::LIST, if to { "lpush" } else { "rpush" }, dst, db);
    c.out.bulk(&value);
    elements_removed(srv, db, src, from, 1, src_empty);
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(from) = position_arg(c, args.get(3)) else {
        return;
    };
    let Some(to) = position_arg(c, args.get(4)) else {
        return;
    };
    lmove_generic(srv, c, args.get(1), args.get(2), from, to)
}

/// RPOPLPUSH source destination
fn rpoplpush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    lmove_generic(srv, c, args.get(1), args.get(2), false, true)
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` from `numkeys_idx`, as
/// lmpopGenericCommand does. Returns (first key index, number of keys, head, count).
fn parse_mpop(
    c: &mut Client,
    args: &Args,
    numkeys_idx: usize,
) -> Option<(usize, usize, bool, i64)> {
    let numkeys = range_arg(
        c,
        args.get(numkeys_idx),
        1,
        i64::MAX,
        "ERR numkeys should be greater than 0",
    )?;
    let where_idx = (numkeys_idx as u64 + 1).saturating_add(numkeys as u64);
    if where_idx >= args.len() as u64 {
        c.out.err(ERR_SYNTAX);
        return None;
    }
    let where_idx = where_idx as usize;
    let head = position_arg(c, args.get(where_idx))?;
    let mut count = -1;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count == -1 && args.is(j, "count") && j + 1 < args.len() {
            j += 1;
            count = range_arg(
                c,
                args.get(j),
                1,
                i64::MAX,
                "ERR count should be greater than 0",
            )?;
        } else {
            c.out.err(ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    Some((numkeys_idx + 1, numkeys as usize, head, count.max(1)))
}

/// Replies `[key, [elements]]` popping up to `count` elements of `key`'s list
/// (listPopRangeAndReplyWithKey), with the removal bookkeeping.
fn pop_range_with_key(srv: &mut Server, c: &mut Client, key: &[u8], head: bool, count: i64) {
    let db = c.db;
    let Found::List(l) = find(srv, db, key, true) else {
        return;
    };
    c.out.array(2);
    c.out.bulk(key);
    let n = pop_range(c, l, head, count);
    let empty = l.is_empty();
    elements_removed(srv, db, key, head, n, empty);
    // LMPOP and BLMPOP travel as LPOP/RPOP of the key served, with the count popped.
    srv.rewrite_command(|| vec![pop_name(head), key.to_vec(), n.to_string().into_bytes()]);
}

/// LPOP or RPOP: how a pop from the head or the tail is propagated.
fn pop_name(head: bool) -> Vec<u8> {
    if head {
        b"LPOP".to_vec()
    } else {
        b"RPOP".to_vec()
    }
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some((first, n, head, count)) = parse_mpop(c, args, 1) else {
        return;
    };
    let db = c.db;
    for i in first..first + n {
        let key = args.get(i);
        match find(srv, db, key, true) {
            Found::Missing => continue,
            Found::WrongType => return c.out.err(WRONGTYPE),
            Found::List(l) if l.is_empty() => continue,
            Found::List(_) => return pop_range_with_key(srv, c, key, head, count),
        }
    }
    c.out.null_array();
}

// ---------------------------------------------------------------------------------------------
// Blocking
// ---------------------------------------------------------------------------------------------

/// BLPOP/BRPOP/BLMPOP (blockingPopGenericCommand): serves from the first non-empty list among
/// `args[keys]`, else blocks. `count` is None for BLPOP/BRPOP (reply `[key, elem]`)
/// and Some for BLMPOP (reply `[key, [elems]]`).
fn blocking_pop(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    keys: std::ops::Range<usize>,
    head: bool,
    timeout_idx: usize,
    count: Option<i64>,
) {
    let Some(deadline) = parse_timeout(srv, c, args.get(timeout_idx)) else {
        return;
    };
    let db = c.db;
    let retry = c.reprocessing_blocked;
    // Re-run for a ready key: serve from that key only, as Redis does.
    let only = if retry {
        srv.blocking.serving.clone()
    } else {
        None
    };
    for i in keys.clone() {
        let key = args.get(i);
        if only.as_deref().is_some_and(|k| k != key) {
            continue;
        }
        match find(srv, db, key, true) {
            Found::Missing => continue,
            // Redis 7.0 keeps a list waiter blocked when its key now holds another type.
            Found::WrongType if retry => continue,
            Found::WrongType => return c.out.err(WRONGTYPE),
            Found::List(l) if l.is_empty() => continue,
            Found::List(l) => {
                if let Some(count) = count {
                    return pop_range_with_key(srv, c, key, head, count);
                }
                c.out.array(2);
                c.out.bulk(key);
                l.pop_with(head, |e| reply_elem(c, e));
                let empty = l.is_empty();
                elements_removed(srv, db, key, head, 1, empty);
                // BLPOP/BRPOP travel as the LPOP/RPOP they did.
                srv.rewrite_command(|| vec![pop_name(head), key.to_vec()]);
                return;
            }
        }
    }
    if c.deny_blocking {
        // Inside EXEC (or a script) a blocking pop on empty lists is a timeout, even with 0.
        return c.out.null_array();
    }
    let keys: Vec<&[u8]> = keys.map(|i| args.get(i)).collect();
    srv.block_for_keys(c, args, &keys, deadline);
}

/// BLPOP key [key ...] timeout
fn blpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let n = args.len() - 2;
    blocking_pop(srv, c, args, 1..1 + n, true, args.len() - 1, None)
}

/// BRPOP key [key ...] timeout
fn brpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let n = args.len() - 2;
    blocking_pop(srv, c, args, 1..1 + n, false, args.len() - 1, None)
}

/// BLMOVE/BRPOPLPUSH once the arguments are parsed (blmoveGenericCommand): LMOVE when the
/// source has elements, else block on the source.
fn blmove_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    from: bool,
    to: bool,
    deadline: i64,
) {
    let src = args.get(1);
    match find(srv, c.db, src, true) {
        Found::List(l) if !l.is_empty() => {
            let dirty = srv.dirty;
            lmove_generic(srv, c, src, args.get(2), from, to);
            if srv.dirty != dirty {
                // BLMOVE travels as LMOVE, BRPOPLPUSH as RPOPLPUSH, with the client's
                // arguments.
                srv.rewrite_command(|| match args.len() {
                    6 => {
                        let mut v = args.to_vecs();
                        v[0] = b"LMOVE".to_vec();
                        v.truncate(5);
                        v
                    }
                    _ => vec![b"RPOPLPUSH".to_vec(), src.to_vec(), args.get(2).to_vec()],
                });
            }
        }
        Found::WrongType if !c.reprocessing_blocked => c.out.err(WRONGTYPE),
        _ if c.deny_blocking => c.out.null(),
        _ => srv.block_for_keys(c, args, &[src], deadline),
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(from) = position_arg(c, args.get(3)) else {
        return;
    };
    let Some(to) = position_arg(c, args.get(4)) else {
        return;
    };
    let Some(deadline) = parse_timeout(srv, c, args.get(5)) else {
        return;
    };
    blmove_generic(srv, c, args, from, to, deadline)
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(deadline) = parse_timeout(srv, c, args.get(3)) else {
        return;
    };
    blmove_generic(srv, c, args, false, true, deadline)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the timeout is parsed after
/// the other arguments, as in Redis.
fn blmpop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some((first, n, head, count)) = parse_mpop(c, args, 2) else {
        return;
    };
    blocking_pop(srv, c, args, first..first + n, head, 1, Some(count))
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: ends another client's block as its timeout would,
/// or with an -UNBLOCKED error. Replies 1 when a blocked client was unblocked, else 0.
fn client_unblock_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 4 {
        return super::connection::subcommand_syntax_error(c, args);
    }
    let mut error = false;
    if args.len() == 4 {
        if args.is(3, "error") {
            error = true;
        } else if !args.is(3, "timeout") {
            return c
                .out
                .err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    let Some(id) = int_arg(c, args.get(2)) else {
        return;
    };
    let target = srv.clients.iter().find_map(|(tok, slot)| {
        slot.as_deref()
            .filter(|t| {
                t.id as i64 == id && t.blocked.as_ref().is_some_and(|b| b.migrate.is_none())
            })
            .map(|_| tok)
    });
    let Some(tok) = target else {
        return c.out.int(0);
    };
    let Some(mut t) = srv.clients[tok].take() else {
        return c.out.int(0);
    };
    if error {
        t.out.err("-UNBLOCKED client unblocked via CLIENT UNBLOCK");
        // The error is the target's reply: count it now, as Redis's addReplyError does.
        for code in t.out.errors.drain(..) {
            srv.stats.total_error_replies += 1;
            *srv.stats.errors.entry(code).or_insert(0) += 1;
        }
        srv.unblock_client(&mut t);
        srv.schedule_write(&mut t);
        srv.blocking.unblocked.push(t.token);
    } else {
        srv.reply_blocked_timeout(&mut t);
    }
    srv.clients[tok] = Some(t);
    c.out.int(1);
}
