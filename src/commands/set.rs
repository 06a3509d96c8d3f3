//! The `set` command group (t_set.c): SADD SCARD SDIFF SDIFFSTORE SINTER SINTERCARD
//! SINTERSTORE SISMEMBER SMEMBERS SMISMEMBER SMOVE SPOP SRANDMEMBER SREM SSCAN SUNION
//! SUNIONSTORE.
//!
//! Handlers only parse, look keys up and reply; every encoding decision (intset or hash table,
//! when to convert) is made by `types::set::Set`, as Redis splits `setType*` from the commands.
//! What clients can observe follows Redis 7.0.15: reply types in RESP2 and RESP3, error texts
//! and the order in which they are checked, keyspace events, and the encoding of every result
//! a command stores (SINTERSTORE/SUNIONSTORE/SDIFFSTORE build their result from an empty intset,
//! so a result of few integers is an intset whatever its inputs were).
//!
//! The algorithms are Redis's, because their costs are part of the contract:
//! - SINTER and friends sort the inputs by size and walk the smallest, probing the others.
//! - SDIFF picks between "walk the first set, probe the rest" and "copy the first set, remove
//!   the rest" by estimated work; the choice also decides the result's encoding.
//! - SPOP with a count either pops random members one by one, or, when few would remain,
//!   moves the survivors to a new set and replies with what is left of the old one.
//! - SRANDMEMBER with a count replies with draws with repetition (negative count), the whole
//!   set, a copy thinned to the count, or unique random samples, depending on count vs size.

use super::keys::{cstr, parse_scan_cursor, parse_scan_opts, reply_scan, ERR_NOT_INT, ERR_SYNTAX};
use super::{Args, Handler};
use crate::ds::dict::Dict;
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::types::set::{Member, OwnedMember, Set};
use crate::util::glob::glob_match;
use crate::util::num::{fmt_i64, parse_i64};
use crate::util::rand;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("sadd", sadd_command),
    ("srem", srem_command),
    ("smove", smove_command),
    ("sismember", sismember_command),
    ("smismember", smismember_command),
    ("scard", scard_command),
    ("spop", spop_command),
    ("srandmember", srandmember_command),
    ("sinter", sinter_command),
    ("sintercard", sintercard_command),
    ("sinterstore", sinterstore_command),
    ("smembers", smembers_command),
    ("sunion", sunion_command),
    ("sunionstore", sunionstore_command),
    ("sdiff", sdiff_command),
    ("sdiffstore", sdiffstore_command),
    ("sscan", sscan_command),
];

/// SPOP with a count moves the survivors to a new set when the set is at most this many
/// times bigger than what remains (SPOP_MOVE_STRATEGY_MUL).
const SPOP_MOVE_STRATEGY_MUL: u128 = 5;
/// SRANDMEMBER with a count copies the whole set and thins it when the set is at most this
/// many times bigger than the count (SRANDMEMBER_SUB_STRATEGY_MUL).
const SRANDMEMBER_SUB_STRATEGY_MUL: u128 = 3;

/// SPOP's count error (getPositiveLongFromObjectOrReply), also for a count that is no number.
const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";
/// SRANDMEMBER's count range error (getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)).
const ERR_SRAND_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Writes one member as a bulk string.
#[inline]
fn reply_member(out: &mut Reply, m: Member) {
    match m {
        Member::Int(v) => out.bulk_i64(v),
        Member::Str(s) => out.bulk(s),
    }
}

/// A new key's object holding `s`.
fn set_object(srv: &Server, s: Set) -> RObj {
    RObj::new(Value::Set(Box::new(s)), srv.lru_clock)
}

/// What a key holds, as far as a set command cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Set,
    Other,
}

/// Looks `key` up (lookupKeyRead or lookupKeyWrite, with lazy expiry and statistics) and says
/// what it holds, without keeping the borrow.
fn kind_of(srv: &mut Server, db: usize, key: &[u8], write: bool) -> Kind {
    let o = if write {
        srv.lookup_write(db, key)
    } else {
        srv.lookup_read(db, key)
    };
    match o {
        None => Kind::Missing,
        Some(o) if matches!(o.value, Value::Set(_)) => Kind::Set,
        Some(_) => Kind::Other,
    }
}

/// The set stored at `key`, through a shared borrow of the database, so that several sets can
/// be read at once (SINTER, SUNION, SDIFF). Call after the key was looked up (expired keys are
/// gone by then).
fn peek_set<'a>(srv: &'a Server, db: usize, key: &[u8]) -> Option<&'a Set> {
    match srv.dbs[db].dict.peek(key) {
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => Some(s),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// SADD SREM SMOVE
// ---------------------------------------------------------------------------------------------

/// SADD key member [member ...]: creates the set as an intset or a hash table depending on
/// the first member (setTypeCreate), then adds each member; replies how many were new.
pub fn sadd_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let max = srv.config.set_max_intset_entries;
    let added = match srv.lookup_write(db, key) {
        Some(o) => {
            let Value::Set(s) = &mut o.value else {
                c.out.err(WRONGTYPE);
                return;
            };
            let mut n = 0i64;
            for m in args.iter_from(2) {
                n += i64::from(s.add(m, max));
            }
            if n > 0 {
                srv.signal_modified_key(db, key);
            }
            n
        }
        None => {
            let mut s = Set::for_first_member(args.get(2));
            let mut n = 0i64;
            for m in args.iter_from(2) {
                n += i64::from(s.add(m, max));
            }
            // add_key signals the modification.
            let o = set_object(srv, s);
            srv.add_key(db, key, o);
            n
        }
    };
    if added > 0 {
        srv.notify_keyspace_event(notify::SET, "sadd", key, db);
    }
    srv.dirty += added as u64;
    c.out.int(added);
}

/// SREM key member [member ...]: removes members, deleting the key with its last member.
pub fn srem_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let Some(o) = srv.lookup_write(db, key) else {
        c.out.int(0);
        return;
    };
    let Value::Set(s) = &mut o.value else {
        c.out.err(WRONGTYPE);
        return;
    };
    let mut deleted = 0i64;
    let mut emptied = false;
    for m in args.iter_from(2) {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if emptied {
        srv.delete_key(db, key);
    }
    if deleted > 0 {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::SET, "srem", key, db);
        if emptied {
            srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        }
        srv.dirty += deleted as u64;
    }
    c.out.int(deleted);
}

/// SMOVE source destination member: moves a member between sets (1 when it was in source).
/// A missing source answers 0 before the destination's type is checked; source equal to
/// destination only tests membership.
pub fn smove_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let (src, dst, ele) = (args.get(1), args.get(2), args.get(3));
    let src_kind = kind_of(srv, db, src, true);
    let dst_kind = kind_of(srv, db, dst, true);
    if src_kind == Kind::Missing {
        c.out.int(0);
        return;
    }
    if src_kind == Kind::Other || dst_kind == Kind::Other {
        c.out.err(WRONGTYPE);
        return;
    }
    if src == dst {
        let member = peek_set(srv, db, src).is_some_and(|s| s.contains(ele));
        c.out.int(i64::from(member));
        return;
    }
    let emptied = match srv.dbs[db].dict.get_mut(src) {
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => {
            if !s.remove(ele) {
                c.out.int(0);
                return;
            }
            s.is_empty()
        }
        _ => {
            c.out.int(0);
            return;
        }
    };
    srv.notify_keyspace_event(notify::SET, "srem", src, db);
    if emptied {
        srv.delete_key(db, src);
        srv.notify_keyspace_event(notify::GENERIC, "del", src, db);
    }
    let max = srv.config.set_max_intset_entries;
    let added = match srv.dbs[db].dict.get_mut(dst) {
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => s.add(ele, max),
        _ => {
            let mut s = Set::for_first_member(ele);
            s.add(ele, max);
            let o = set_object(srv, s);
            srv.add_key(db, dst, o);
            true
        }
    };
    srv.signal_modified_key(db, src);
    srv.dirty += 1;
    if added {
        srv.dirty += 1;
        srv.signal_modified_key(db, dst);
        srv.notify_keyspace_event(notify::SET, "sadd", dst, db);
    }
    c.out.int(1);
}

// ---------------------------------------------------------------------------------------------
// SISMEMBER SMISMEMBER SCARD
// ---------------------------------------------------------------------------------------------

/// SISMEMBER key member: 1 or 0.
pub fn sismember_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match srv.lookup_read(c.db, args.get(1)) {
        None => c.out.int(0),
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => c.out.int(i64::from(s.contains(args.get(2)))),
        Some(_) => c.out.err(WRONGTYPE),
    }
}

/// SMISMEMBER key member [member ...]: an array of 1/0, all 0 for a missing key.
pub fn smismember_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let set = match srv.lookup_read(c.db, args.get(1)) {
        None => None,
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => Some(&**s),
        Some(_) => {
            c.out.err(WRONGTYPE);
            return;
        }
    };
    c.out.array(args.len() - 2);
    for m in args.iter_from(2) {
        c.out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
}

/// SCARD key: the member count, 0 for a missing key.
pub fn scard_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match srv.lookup_read(c.db, args.get(1)) {
        None => c.out.int(0),
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => c.out.int(s.len() as i64),
        Some(_) => c.out.err(WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------------------------
// SPOP SRANDMEMBER
// ---------------------------------------------------------------------------------------------

/// SPOP key [count]: removes and returns one random member (a bulk string, nil for a missing
/// key), or `count` distinct ones (a set reply).
pub fn spop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() == 3 {
        spop_with_count(srv, c, args);
        return;
    }
    if args.len() > 3 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let db = c.db;
    let key = args.get(1);
    let Some(o) = srv.lookup_write(db, key) else {
        c.out.null();
        return;
    };
    let Value::Set(s) = &mut o.value else {
        c.out.err(WRONGTYPE);
        return;
    };
    let Some(m) = s.pop_random() else {
        // Unreachable: empty sets are never stored.
        c.out.null();
        return;
    };
    let emptied = s.is_empty();
    // SPOP travels as the SREM of the member it drew.
    let drawn = srv.prop.active.then(|| member_bytes(m.as_member()));
    srv.notify_keyspace_event(notify::SET, "spop", key, db);
    reply_member(&mut c.out, m.as_member());
    if let Some(drawn) = drawn {
        srv.rewrite_command(|| vec![b"SREM".to_vec(), key.to_vec(), drawn]);
    }
    if emptied {
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
    }
    srv.signal_modified_key(db, key);
    srv.dirty += 1;
}

/// Copies `s` into a new set the way SUNION of one key does: starting from an empty intset, so
/// the copy's encoding (and thus its reply order) is what Redis's would be.
fn union_copy(s: &Set, max: u64) -> Set {
    let mut dst = Set::new_intset();
    for m in s.iter() {
        dst.add_member(m, max);
    }
    dst
}

/// Writes a whole set as a set reply.
fn reply_set(out: &mut Reply, s: &Set) {
    out.set(s.len());
    for m in s.iter() {
        reply_member(out, m);
    }
}

/// A member as the bytes a command would name it by.
fn member_bytes(m: Member<'_>) -> Vec<u8> {
    match m {
        Member::Int(i) => i.to_string().into_bytes(),
        Member::Str(b) => b.to_vec(),
    }
}

/// SPOP key count (spopWithCountCommand). What it drew travels as one SREM per member
/// (several: wrapped in MULTI/EXEC by the propagation layer), or as DEL when everything went.
fn spop_with_count(srv: &mut Server, c: &mut Client, args: &Args) {
    let count = match parse_i64(args.get(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => {
            c.out.err(ERR_POSITIVE);
            return;
        }
    };
    let db = c.db;
    let key = args.get(1);
    let max = srv.config.set_max_intset_entries;
    let mut drawn: Option<Vec<Vec<u8>>> = srv.prop.active.then(Vec::new);
    let lazy = srv.config.lazyfree_lazy_server_del;
    let Some(o) = srv.lookup_write(db, key) else {
        c.out.set(0);
        return;
    };
    let Value::Set(s) = &mut o.value else {
        c.out.err(WRONGTYPE);
        return;
    };
    if count == 0 {
        c.out.set(0);
        return;
    }
    let size = s.len() as u64;
    // CASE 1: everything goes: reply as SUNION of the key would, then delete it.
    if count >= size {
        reply_set(&mut c.out, &union_copy(s, max));
        srv.notify_keyspace_event(notify::SET, "spop", key, db);
        srv.dirty += size;
        srv.delete_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        srv.signal_modified_key(db, key);
        srv.rewrite_command(|| vec![super::keys::del_or_unlink(lazy), key.to_vec()]);
        return;
    }
    let remaining = size - count;
    c.out.set(count as usize);
    if u128::from(remaining) * SPOP_MOVE_STRATEGY_MUL > u128::from(count) {
        // CASE 2: few to pop compared to the size: pop them one at a time.
        for _ in 0..count {
            match s.pop_random() {
                Some(m) => {
                    reply_member(&mut c.out, m.as_member());
                    if let Some(d) = drawn.as_mut() {
                        d.push(member_bytes(m.as_member()));
                    }
                }
                None => break, // unreachable: count < size
            }
        }
    } else {
        // CASE 3: few survive: move `remaining` random members to a new set (created for its
        // first member, like setTypeCreate), reply with what stays in the old one, and put
        // the new set in its place (keeping the key's TTL, as dbOverwrite does).
        let mut newset: Option<Set> = None;
        for _ in 0..remaining {
            let Some(m) = s.random() else {
                break;
            };
            let m = m.as_member();
            let ns = newset.get_or_insert_with(|| match m {
                Member::Int(_) => Set::new_intset(),
                Member::Str(b) => Set::for_first_member(b),
            });
            ns.add_member(m, max);
            s.remove_member(m);
        }
        for m in s.iter() {
            reply_member(&mut c.out, m);
            if let Some(d) = drawn.as_mut() {
                d.push(member_bytes(m));
            }
        }
        if let Some(ns) = newset {
            **s = ns;
        }
    }
    srv.notify_keyspace_event(notify::SET, "spop", key, db);
    srv.dirty += count;
    srv.signal_modified_key(db, key);
    for m in drawn.into_iter().flatten() {
        srv.also_propagate(db, || vec![b"SREM".to_vec(), key.to_vec(), m]);
    }
    srv.prevent_propagation();
}

/// SRANDMEMBER key [count]: one random member (nil for a missing key), or an array of `count`
/// distinct members, or of `-count` members drawn with repetition.
pub fn srandmember_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() == 3 {
        srandmember_with_count(srv, c, args);
        return;
    }
    if args.len() > 3 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    match srv.lookup_read(c.db, args.get(1)) {
        None => c.out.null(),
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => match s.random() {
            Some(m) => reply_member(&mut c.out, m.as_member()),
            None => c.out.null(),
        },
        Some(_) => c.out.err(WRONGTYPE),
    }
}

/// SRANDMEMBER key count (srandmemberWithCountCommand).
fn srandmember_with_count(srv: &mut Server, c: &mut Client, args: &Args) {
    let l = match parse_i64(args.get(2)) {
        Some(i64::MIN) => {
            c.out.err(ERR_SRAND_RANGE);
            return;
        }
        Some(l) => l,
        None => {
            c.out.err(ERR_NOT_INT);
            return;
        }
    };
    let (count, uniq) = (l.unsigned_abs(), l >= 0);
    let guard = super::hash::OutputGuard::new(srv);
    let s = match srv.lookup_read(c.db, args.get(1)) {
        None => {
            c.out.array(0);
            return;
        }
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => &mut **s,
        Some(_) => {
            c.out.err(WRONGTYPE);
            return;
        }
    };
    if count == 0 {
        c.out.array(0);
        return;
    }
    let size = s.len() as u64;
    // CASE 1: repetitions allowed (or a single member): independent draws, in draw order.
    if !uniq || count == 1 {
        c.out.array(count as usize);
        // The reply grows with the count, not the set: stop once the client's output passed
        // its limit (Redis checks CLIENT_CLOSE_ASAP here) or the hard cap.
        for left in (0..count).rev() {
            match s.random() {
                Some(m) => reply_member(&mut c.out, m.as_member()),
                None => break,
            }
            if left % 1024 == 0 && guard.exceeded(c) {
                break;
            }
        }
        return;
    }
    // CASE 2: at least as many asked as there are: the whole set.
    if count >= size {
        c.out.array(size as usize);
        for m in s.iter() {
            reply_member(&mut c.out, m);
        }
        return;
    }
    let count = count as usize;
    if u128::from(count as u64) * SRANDMEMBER_SUB_STRATEGY_MUL > u128::from(size) {
        // CASE 3: the count is close to the size: copy every member and keep a random
        // `count` of them (a partial Fisher-Yates shuffle, which also randomises the order).
        let mut all: Vec<Member> = s.iter().collect();
        let n = all.len();
        for i in 0..count.min(n) {
            let j = i + rand::index(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        c.out.array(all.len());
        for m in all {
            reply_member(&mut c.out, m);
        }
    } else {
        // CASE 4: the set is much bigger than the count: draw random members until `count`
        // distinct ones were seen.
        let mut picked: Vec<OwnedMember> = Vec::with_capacity(count);
        if s.is_intset() {
            let mut seen: std::collections::HashSet<i64> =
                std::collections::HashSet::with_capacity(count);
            while picked.len() < count {
                let Some(OwnedMember::Int(v)) = s.random() else {
                    break;
                };
                if seen.insert(v) {
                    picked.push(OwnedMember::Int(v));
                }
            }
        } else {
            let mut seen: Dict<Sds, ()> = Dict::with_capacity(count);
            while picked.len() < count {
                let Some(OwnedMember::Str(k)) = s.random() else {
                    break;
                };
                if seen.add(k.clone(), ()).is_ok() {
                    picked.push(OwnedMember::Str(k));
                }
            }
        }
        c.out.array(picked.len());
        for m in &picked {
            reply_member(&mut c.out, m.as_member());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SINTER SINTERCARD SINTERSTORE SMEMBERS
// ---------------------------------------------------------------------------------------------

/// What sinterGenericCommand produces.
#[derive(Clone, Copy)]
enum InterOut<'a> {
    /// A set reply (SINTER, SMEMBERS).
    Reply,
    /// Only the count, stopping at `limit` when it is not 0 (SINTERCARD).
    Cardinality(u64),
    /// Store under this key and reply the count (SINTERSTORE).
    Store(&'a [u8]),
}

/// sinterGenericCommand over the keys `args[first..first + n]`.
fn sinter_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    first: usize,
    n: usize,
    out: InterOut,
) {
    let db = c.db;
    let mut missing = false;
    for i in first..first + n {
        match kind_of(srv, db, args.get(i), false) {
            Kind::Missing => missing = true,
            Kind::Set => {}
            Kind::Other => {
                c.out.err(WRONGTYPE);
                return;
            }
        }
    }
    // An empty (missing) input makes the intersection empty: answer at once.
    if missing {
        match out {
            InterOut::Store(dst) => {
                if srv.delete_key(db, dst) {
                    srv.signal_modified_key(db, dst);
                    srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
                    srv.dirty += 1;
                }
                c.out.int(0);
            }
            InterOut::Cardinality(_) => c.out.int(0),
            InterOut::Reply => c.out.set(0),
        }
        return;
    }
    let max = srv.config.set_max_intset_entries;
    let mut dstset = None;
    {
        let mut sets: Vec<&Set> = Vec::with_capacity(n);
        for i in first..first + n {
            match peek_set(srv, db, args.get(i)) {
                Some(s) => sets.push(s),
                None => {
                    // Unreachable: every key was just found holding a set.
                    c.out.set(0);
                    return;
                }
            }
        }
        // Smallest first: its members are the candidates (a stable sort, like glibc's qsort).
        sets.sort_by_key(|s| s.len());
        let (head, rest) = match sets.split_first() {
            Some(x) => x,
            None => {
                c.out.set(0);
                return;
            }
        };
        let deferred = match out {
            InterOut::Reply => Some(c.out.defer()),
            _ => None,
        };
        if let InterOut::Store(_) = out {
            dstset = Some(Set::new_intset());
        }
        let mut cardinality = 0u64;
        for m in head.iter() {
            let in_all = rest
                .iter()
                .all(|s| std::ptr::eq(*s, *head) || s.contains_member(m));
            if !in_all {
                continue;
            }
            match out {
                InterOut::Cardinality(limit) => {
                    cardinality += 1;
                    if limit != 0 && cardinality >= limit {
                        break;
                    }
                }
                InterOut::Reply => {
                    reply_member(&mut c.out, m);
                    cardinality += 1;
                }
                InterOut::Store(_) => {
                    if let Some(d) = dstset.as_mut() {
                        d.add_member(m, max);
                    }
                }
            }
        }
        match out {
            InterOut::Cardinality(_) => {
                c.out.int(cardinality as i64);
                return;
            }
            InterOut::Reply => {
                if let Some(d) = deferred {
                    c.out.set_deferred_set(d, cardinality as usize);
                }
                return;
            }
            InterOut::Store(_) => {}
        }
    }
    if let (InterOut::Store(dst), Some(d)) = (out, dstset) {
        store_result(srv, c, db, dst, d, "sinterstore");
    }
}

/// Stores a *STORE command's result (replacing the key and its TTL) and replies its size; an
/// empty result deletes the destination instead.
fn store_result(srv: &mut Server, c: &mut Client, db: usize, dst: &[u8], d: Set, event: &str) {
    let len = d.len();
    if len > 0 {
        let o = set_object(srv, d);
        srv.set_key(db, dst, o, false);
        c.out.int(len as i64);
        srv.notify_keyspace_event(notify::SET, event, dst, db);
        srv.dirty += 1;
    } else {
        c.out.int(0);
        if srv.delete_key(db, dst) {
            srv.dirty += 1;
            srv.signal_modified_key(db, dst);
            srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
        }
    }
}

/// SINTER key [key ...].
pub fn sinter_command(srv: &mut Server, c: &mut Client, args: &Args) {
    sinter_generic(srv, c, args, 1, args.len() - 1, InterOut::Reply);
}

/// SMEMBERS key: in Redis 7.0 this is SINTER of one key.
pub fn smembers_command(srv: &mut Server, c: &mut Client, args: &Args) {
    sinter_generic(srv, c, args, 1, 1, InterOut::Reply);
}

/// SINTERSTORE destination key [key ...].
pub fn sinterstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let dst = args.get(1);
    sinter_generic(srv, c, args, 2, args.len() - 2, InterOut::Store(dst));
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
pub fn sintercard_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            c.out.err("ERR numkeys should be greater than 0");
            return;
        }
    };
    let argc = args.len() as u64;
    if numkeys > argc - 2 {
        c.out
            .err("ERR Number of keys can't be greater than number of args");
        return;
    }
    let numkeys = numkeys as usize;
    let mut limit = 0u64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if cstr(args.get(j)).eq_ignore_ascii_case(b"limit") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(v) if v >= 0 => limit = v as u64,
                _ => {
                    c.out.err("ERR LIMIT can't be negative");
                    return;
                }
            }
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    sinter_generic(srv, c, args, 2, numkeys, InterOut::Cardinality(limit));
}

// ---------------------------------------------------------------------------------------------
// SUNION SUNIONSTORE SDIFF SDIFFSTORE
// ---------------------------------------------------------------------------------------------

/// Which of the two operations sunionDiffGenericCommand performs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// The member count of an optional (missing = empty) set.
fn size_of(s: Option<&Set>) -> usize {
    s.map_or(0, Set::len)
}

/// Computes SUNION or SDIFF of `args[first..]` into a new set built from an empty intset, as
/// Redis does (so the result's encoding is Redis's). None when a key has the wrong type (the
/// error is already replied).
fn union_diff(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    first: usize,
    op: SetOp,
) -> Option<Set> {
    let db = c.db;
    for i in first..args.len() {
        if kind_of(srv, db, args.get(i), false) == Kind::Other {
            c.out.err(WRONGTYPE);
            return None;
        }
    }
    let max = srv.config.set_max_intset_entries;
    let mut sets: Vec<Option<&Set>> = (first..args.len())
        .map(|i| peek_set(srv, db, args.get(i)))
        .collect();
    let mut dst = Set::new_intset();
    let head = sets.first().copied().flatten();
    match op {
        SetOp::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    dst.add_member(m, max);
                }
            }
        }
        SetOp::Diff => {
            let Some(head) = head else {
                return Some(dst);
            };
            // The same key again among the subtrahends: the difference is empty.
            if sets
                .iter()
                .skip(1)
                .flatten()
                .any(|s| std::ptr::eq(*s, head))
            {
                return Some(dst);
            }
            // Algorithm 1 walks the first set and probes the others: |first| * sets.
            // Algorithm 2 copies the first set and removes the others: the total size.
            // Algorithm 1 is cheaper per step, hence the halving.
            let present = sets.iter().flatten().count() as u128;
            let algo_one = present * head.len() as u128 / 2;
            let algo_two: u128 = sets.iter().map(|s| size_of(*s) as u128).sum();
            if algo_one <= algo_two {
                // Biggest subtrahends first: members are more likely to be found early.
                if sets.len() > 1 {
                    sets[1..].sort_by_key(|s| std::cmp::Reverse(size_of(*s)));
                }
                for m in head.iter() {
                    let elsewhere = sets[1..].iter().flatten().any(|s| s.contains_member(m));
                    if !elsewhere {
                        dst.add_member(m, max);
                    }
                }
            } else {
                let mut card = 0usize;
                for (j, s) in sets.iter().enumerate() {
                    let Some(s) = s else { continue };
                    for m in s.iter() {
                        if j == 0 {
                            card += usize::from(dst.add_member(m, max));
                        } else if dst.remove_member(m) {
                            card -= 1;
                        }
                    }
                    if card == 0 {
                        break;
                    }
                }
            }
        }
    }
    Some(dst)
}

/// SUNION / SDIFF: a set reply in the result's own order (ascending for an intset result).
fn union_diff_reply(srv: &mut Server, c: &mut Client, args: &Args, op: SetOp) {
    if let Some(d) = union_diff(srv, c, args, 1, op) {
        reply_set(&mut c.out, &d);
    }
}

/// SUNIONSTORE / SDIFFSTORE.
fn union_diff_store(srv: &mut Server, c: &mut Client, args: &Args, op: SetOp) {
    if let Some(d) = union_diff(srv, c, args, 2, op) {
        let event = if op == SetOp::Union {
            "sunionstore"
        } else {
            "sdiffstore"
        };
        store_result(srv, c, c.db, args.get(1), d, event);
    }
}

/// SUNION key [key ...].
pub fn sunion_command(srv: &mut Server, c: &mut Client, args: &Args) {
    union_diff_reply(srv, c, args, SetOp::Union);
}

/// SUNIONSTORE destination key [key ...].
pub fn sunionstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    union_diff_store(srv, c, args, SetOp::Union);
}

/// SDIFF key [key ...].
pub fn sdiff_command(srv: &mut Server, c: &mut Client, args: &Args) {
    union_diff_reply(srv, c, args, SetOp::Diff);
}

/// SDIFFSTORE destination key [key ...].
pub fn sdiffstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    union_diff_store(srv, c, args, SetOp::Diff);
}

// ---------------------------------------------------------------------------------------------
// SSCAN
// ---------------------------------------------------------------------------------------------

/// SSCAN key cursor [MATCH pattern] [COUNT count]. The cursor is checked first, then the key
/// (a missing key answers an empty scan whatever the options), then the options. An intset
/// returns all its members at once with cursor 0; a hash table is walked with the dict's
/// SCAN cursor until COUNT members or 10*COUNT buckets.
pub fn sscan_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(mut cursor) = parse_scan_cursor(args.get(2)) else {
        c.out.err("ERR invalid cursor");
        return;
    };
    let s = match srv.lookup_read(c.db, args.get(1)) {
        None => {
            reply_scan(c, 0, std::iter::empty());
            return;
        }
        Some(RObj {
            value: Value::Set(s),
            ..
        }) => &**s,
        Some(_) => {
            c.out.err(WRONGTYPE);
            return;
        }
    };
    let Some(opts) = parse_scan_opts(c, args, 3, false) else {
        return;
    };
    let mut found: Vec<Sds> = Vec::new();
    let mut tmp = [0u8; 20];
    let mut keep = |m: Member, found: &mut Vec<Sds>| {
        let b = match m {
            Member::Int(v) => fmt_i64(v, &mut tmp),
            Member::Str(b) => b,
        };
        if opts.pattern.is_none_or(|p| glob_match(p, b, false)) {
            found.push(Sds::from_slice(b));
        }
    };
    if s.is_intset() {
        cursor = s.scan(cursor, |m| keep(m, &mut found));
    } else {
        let want = usize::try_from(opts.count).unwrap_or(usize::MAX);
        let mut max_iterations = opts.count.saturating_mul(10);
        // Collect first, filter after (as Redis): COUNT bounds the work, not the matches.
        let mut raw: Vec<Sds> = Vec::new();
        loop {
            cursor = s.scan(cursor, |m| {
                if let Member::Str(b) = m {
                    raw.push(Sds::from_slice(b));
                }
            });
            if cursor == 0 || max_iterations == 0 {
                break;
            }
            max_iterations -= 1;
            if raw.len() >= want {
                break;
            }
        }
        for k in &raw {
            keep(Member::Str(k.as_bytes()), &mut found);
        }
    }
    reply_scan(c, cursor, found.iter().map(|k| k.as_bytes()));
}
