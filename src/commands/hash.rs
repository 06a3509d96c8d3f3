//! The `hash` command group (t_hash.c's command half): HSET and friends, counters, readers,
//! HRANDFIELD and HSCAN. Encodings and conversions live in `types::hash`; this file only
//! decides the order of checks, the replies and the side effects, all as Redis 7.0.15:
//!
//! - Writers that may create the key (HSET, HMSET, HSETNX, HINCRBY, HINCRBYFLOAT) parse their
//!   numeric arguments first, then look the key up for writing; a missing key gets a new
//!   listpack hash, announced with the "new" event before the command's own event.
//! - HSET/HMSET/HSETNX run `try_conversion` on their arguments before writing, so an
//!   oversized value converts the whole hash first (hashTypeTryConversion).
//! - Readers answer a missing key with Redis's shared empty reply for the command (nil,
//!   0, an empty array, an empty map in RESP3 for HGETALL, an empty scan for HSCAN).
//! - HDEL deletes the key with its last field and fires "hdel" then "del".
//! - HRANDFIELD follows hrandfieldWithCountCommand's four cases (with replacement; the whole
//!   hash; listpack selection sampling; copy-and-remove vs. sample-and-dedupe for tables) and
//!   its RESP3 shape (WITHVALUES pairs nested as 2-element arrays).
//! - HSCAN returns a listpack hash whole with cursor 0; a table is walked with the dict's
//!   reverse-binary cursor, COUNT doubled because fields and values share Redis's list.
//!
//! Hot path: HSET on an existing key looks the key up once, scans the listpack once per field
//! and allocates nothing unless the listpack grows.

use super::keys::{parse_scan_cursor, parse_scan_opts, ERR_NOT_INT, ERR_SYNTAX};
use super::string::opt_is;
use super::{Args, Handler};
use crate::ds::dict::Dict;
use crate::ds::listpack::LpElem;
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::hash::{lp_random_pairs, lp_random_pairs_unique, Hash, Limits};
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::util::glob::glob_match;
use crate::util::ldouble::{
    format_long_double_into, parse_long_double, LdMode, LongDouble, LD_MAX_CHARS,
};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("hset", hset_command),
    ("hmset", hmset_command),
    ("hsetnx", hsetnx_command),
    ("hget", hget_command),
    ("hmget", hmget_command),
    ("hdel", hdel_command),
    ("hlen", hlen_command),
    ("hstrlen", hstrlen_command),
    ("hexists", hexists_command),
    ("hincrby", hincrby_command),
    ("hincrbyfloat", hincrbyfloat_command),
    ("hkeys", hkeys_command),
    ("hvals", hvals_command),
    ("hgetall", hgetall_command),
    ("hrandfield", hrandfield_command),
    ("hscan", hscan_command),
];

/// Redis's shared.emptyscan: cursor "0" and no elements.
const EMPTY_SCAN: &[u8] = b"*2\r\n$1\r\n0\r\n*0\r\n";

/// HRANDFIELD_SUB_STRATEGY_MUL: a table with fewer than this many times the requested count
/// of fields is copied and thinned out (case 3) instead of sampled (case 4).
const SUB_STRATEGY_MUL: u64 = 3;

/// HRANDFIELD_RANDOM_SAMPLE_LIMIT: listpack draws with replacement are made in batches of at
/// most this many, so a huge negative count never needs a huge scratch array.
const RANDOM_SAMPLE_LIMIT: u64 = 1000;

/// A reply bigger than this ends the command and closes the client even without a configured
/// output limit (Redis would grow until the OOM killer struck, e.g. on HRANDFIELD h -2^62).
/// The *RANDMEMBER commands of sets and sorted sets use it too, through [`OutputGuard`].
pub(super) const HARD_REPLY_CAP: usize = 1 << 30;

/// Writes one element the way addReplyBulkCBuffer / addReplyBulkLongLong would.
#[inline]
fn reply_elem(out: &mut Reply, e: LpElem<'_>) {
    match e {
        LpElem::Str(s) => out.bulk(s),
        LpElem::Int(v) => out.bulk_i64(v),
    }
}

/// The hash inside `o`, or None (after a WRONGTYPE error) when it holds another type.
#[inline]
fn as_hash<'a>(out: &mut Reply, o: &'a mut RObj) -> Option<&'a mut Hash> {
    match &mut o.value {
        Value::Hash(h) => Some(h),
        _ => {
            out.err(WRONGTYPE);
            None
        }
    }
}

/// hashTypeLookupWriteOrCreate + the write: runs `write` on the hash stored at `key`, or on
/// `new()`, a new hash that is then added under `key` ("new" event). Returns `write`'s result,
/// or None after a WRONGTYPE error.
#[inline]
fn write_or_create<R>(
    srv: &mut Server,
    c: &mut Client,
    key: &[u8],
    new: impl FnOnce() -> Hash,
    write: impl FnOnce(&mut Hash) -> R,
) -> Option<R> {
    let db = c.db;
    match srv.lookup_write(db, key) {
        Some(o) => {
            let h = as_hash(&mut c.out, o)?;
            Some(write(h))
        }
        None => {
            let mut h = new();
            let r = write(&mut h);
            let lru = srv.lru_clock;
            srv.add_key(db, key, RObj::new(Value::Hash(Box::new(h)), lru));
            Some(r)
        }
    }
}

/// The bookkeeping after a successful write: WATCH/blocked-client signal, the keyspace
/// event, the dirty counter.
#[inline]
fn written(srv: &mut Server, db: usize, key: &[u8], event: &str, dirty: u64) {
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::HASH, event, key, db);
    srv.dirty += dirty;
}

/// HSET / HMSET: sets every pair (try_conversion on all of them first); HSET answers how
/// many fields were new, HMSET +OK.
fn hset_generic(srv: &mut Server, c: &mut Client, args: &Args, hmset: bool) {
    if args.len() % 2 == 1 {
        c.out.err(if hmset {
            "ERR wrong number of arguments for 'hmset' command"
        } else {
            "ERR wrong number of arguments for 'hset' command"
        });
        return;
    }
    let db = c.db;
    let key = args.get(1);
    let lim = Limits::from_config(&srv.config);
    let new = || Hash::with_capacity_for(args.iter_from(2));
    let created = write_or_create(srv, c, key, new, |h| {
        h.try_conversion(args.iter_from(2), &lim);
        let mut created = 0i64;
        let mut i = 2;
        while i + 1 < args.len() {
            if !h.set(args.get(i), LpElem::Str(args.get(i + 1)), &lim) {
                created += 1;
            }
            i += 2;
        }
        h.compact();
        created
    });
    let Some(created) = created else { return };
    if hmset {
        c.out.ok();
    } else {
        c.out.int(created);
    }
    written(srv, db, key, "hset", ((args.len() - 2) / 2) as u64);
}

/// HSET key field value [field value ...]
pub fn hset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    hset_generic(srv, c, args, false);
}

/// HMSET key field value [field value ...] (deprecated form of HSET answering +OK)
pub fn hmset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    hset_generic(srv, c, args, true);
}

/// HSETNX key field value: sets the field only if it does not exist.
pub fn hsetnx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let (key, field, value) = (args.get(1), args.get(2), args.get(3));
    let lim = Limits::from_config(&srv.config);
    let new = || Hash::with_capacity_for([field, value]);
    let set = write_or_create(srv, c, key, new, |h| {
        if h.exists(field) {
            return false;
        }
        h.try_conversion([field, value], &lim);
        h.set(field, LpElem::Str(value), &lim);
        h.compact();
        true
    });
    match set {
        None => {}
        Some(false) => c.out.int(0),
        Some(true) => {
            c.out.int(1);
            written(srv, db, key, "hset", 1);
        }
    }
}

/// HGET key field
pub fn hget_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.null();
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    match h.get(args.get(2)) {
        Some(v) => reply_elem(&mut c.out, v),
        None => c.out.null(),
    }
}

/// HMGET key field [field ...]: a nil for every field of a missing key.
pub fn hmget_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let n = args.len() - 2;
    match srv.lookup_read(c.db, args.get(1)) {
        None => {
            c.out.array(n);
            for _ in 0..n {
                c.out.null();
            }
        }
        Some(o) => {
            let Some(h) = as_hash(&mut c.out, o) else {
                return;
            };
            c.out.array(n);
            for f in args.iter_from(2) {
                match h.get(f) {
                    Some(v) => reply_elem(&mut c.out, v),
                    None => c.out.null(),
                }
            }
        }
    }
}

/// HDEL key field [field ...]: how many fields were removed; the key goes with its last field.
pub fn hdel_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let Some(o) = srv.lookup_write(db, key) else {
        c.out.int(0);
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    let mut deleted = 0i64;
    let mut emptied = false;
    for f in args.iter_from(2) {
        if h.delete(f) {
            deleted += 1;
            if h.is_empty() {
                emptied = true;
                break;
            }
        }
    }
    if deleted > 0 {
        if emptied {
            srv.delete_key(db, key);
        }
        written(srv, db, key, "hdel", deleted as u64);
        if emptied {
            srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        }
    }
    c.out.int(deleted);
}

/// HLEN key
pub fn hlen_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.int(0);
        return;
    };
    if let Some(h) = as_hash(&mut c.out, o) {
        let n = h.len() as i64;
        c.out.int(n);
    }
}

/// HSTRLEN key field: the value's length, 0 for a missing field or key.
pub fn hstrlen_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.int(0);
        return;
    };
    if let Some(h) = as_hash(&mut c.out, o) {
        let n = h.value_len(args.get(2)) as i64;
        c.out.int(n);
    }
}

/// HEXISTS key field
pub fn hexists_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.int(0);
        return;
    };
    if let Some(h) = as_hash(&mut c.out, o) {
        let e = h.exists(args.get(2));
        c.out.int(e as i64);
    }
}

/// What a counter write computed, so the reply and events come after the hash is released.
enum Incr<T> {
    /// The new value, already stored.
    Done(T),
    /// An error reply to send; nothing was written.
    Fail(&'static str),
}

/// HINCRBY key field increment
pub fn hincrby_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(incr) = parse_i64(args.get(3)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    let db = c.db;
    let (key, field) = (args.get(1), args.get(2));
    let lim = Limits::from_config(&srv.config);
    let r = write_or_create(srv, c, key, Hash::new, |h| {
        let old = match h.get(field) {
            None => 0,
            Some(v) => match v.as_i64() {
                Some(n) => n,
                None => return Incr::Fail("ERR hash value is not an integer"),
            },
        };
        let Some(new) = old.checked_add(incr) else {
            return Incr::Fail("ERR increment or decrement would overflow");
        };
        h.set(field, LpElem::Int(new), &lim);
        Incr::Done(new)
    });
    match r {
        None => {}
        Some(Incr::Fail(e)) => c.out.err(e),
        Some(Incr::Done(v)) => {
            c.out.int(v);
            written(srv, db, key, "hincrby", 1);
        }
    }
}

/// HINCRBYFLOAT key field increment: long double arithmetic, stored and answered in
/// ld2string's human form.
pub fn hincrbyfloat_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(incr) = parse_long_double(args.get(3)) else {
        c.out.err("ERR value is not a valid float");
        return;
    };
    if !incr.is_finite() {
        c.out.err("ERR value is NaN or Infinity");
        return;
    }
    let db = c.db;
    let (key, field) = (args.get(1), args.get(2));
    let lim = Limits::from_config(&srv.config);
    let mut buf = [0u8; LD_MAX_CHARS];
    let r = write_or_create(srv, c, key, Hash::new, |h| {
        let old = match h.get(field) {
            None => LongDouble::from_i64(0),
            Some(LpElem::Int(v)) => LongDouble::from_i64(v),
            Some(LpElem::Str(s)) => match parse_long_double(s) {
                Some(v) => v,
                None => return Incr::Fail("ERR hash value is not a float"),
            },
        };
        let sum = old + incr;
        if !sum.is_finite() {
            return Incr::Fail("ERR increment would produce NaN or Infinity");
        }
        let n = format_long_double_into(sum, LdMode::Human, &mut buf);
        h.set(field, LpElem::Str(&buf[..n]), &lim);
        Incr::Done(n)
    });
    match r {
        None => {}
        Some(Incr::Fail(e)) => c.out.err(e),
        Some(Incr::Done(n)) => {
            c.out.bulk(&buf[..n]);
            written(srv, db, key, "hincrbyfloat", 1);
            // The result travels, as HSET (float formatting must not differ on replay).
            srv.rewrite_command(|| {
                vec![
                    b"HSET".to_vec(),
                    key.to_vec(),
                    field.to_vec(),
                    buf[..n].to_vec(),
                ]
            });
        }
    }
}

/// Which halves of the pairs genericHgetallCommand returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Values,
    Both,
}

/// genericHgetallCommand: HKEYS and HVALS answer arrays, HGETALL a map (flat in RESP2).
fn hgetall_generic(srv: &mut Server, c: &mut Client, args: &Args, part: Part) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        if part == Part::Both {
            c.out.map(0);
        } else {
            c.out.array(0);
        }
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    let n = h.len();
    if part == Part::Both {
        c.out.map(n);
    } else {
        c.out.array(n);
    }
    for (f, v) in h.iter() {
        if part != Part::Values {
            reply_elem(&mut c.out, f);
        }
        if part != Part::Keys {
            reply_elem(&mut c.out, v);
        }
    }
}

/// HKEYS key
pub fn hkeys_command(srv: &mut Server, c: &mut Client, args: &Args) {
    hgetall_generic(srv, c, args, Part::Keys);
}

/// HVALS key
pub fn hvals_command(srv: &mut Server, c: &mut Client, args: &Args) {
    hgetall_generic(srv, c, args, Part::Values);
}

/// HGETALL key
pub fn hgetall_command(srv: &mut Server, c: &mut Client, args: &Args) {
    hgetall_generic(srv, c, args, Part::Both);
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD

/// The normal-class output limit and the time, read before the key is borrowed, so that long
/// HRANDFIELD replies can stop as Redis's do once CLIENT_CLOSE_ASAP is set (SRANDMEMBER and
/// ZRANDMEMBER with a negative count use it too: their replies grow with the count, not the
/// data).
#[derive(Clone, Copy)]
pub(super) struct OutputGuard {
    limit: (u64, u64, u64),
    now_ms: i64,
}

impl OutputGuard {
    pub(super) fn new(srv: &Server) -> OutputGuard {
        OutputGuard {
            limit: srv.config.client_output_buffer_limit[0],
            now_ms: srv.cmd_time_ms,
        }
    }

    /// True (and the client marked for closing) when its pending output passed the normal
    /// class's limit or the hard safety cap; the command must stop writing.
    pub(super) fn exceeded(&self, c: &mut Client) -> bool {
        if c.close_asap {
            return true;
        }
        if crate::server::net::output_buffer_limit_reached(c, self.limit, self.now_ms)
            || c.out.pending() > HARD_REPLY_CAP
        {
            crate::log_warning!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                c.info_line(self.now_ms)
            );
            c.close_asap = true;
            return true;
        }
        false
    }
}

/// One HRANDFIELD element: field, and with WITHVALUES its value (a nested pair in RESP3).
#[inline]
fn reply_pick(out: &mut Reply, f: LpElem<'_>, v: LpElem<'_>, withvalues: bool) {
    if withvalues && out.resp3 {
        out.array(2);
    }
    reply_elem(out, f);
    if withvalues {
        reply_elem(out, v);
    }
}

/// The array header of an HRANDFIELD reply of `n` picks.
#[inline]
fn pick_header(out: &mut Reply, n: u64, withvalues: bool) {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if withvalues && !out.resp3 {
        out.array(n.saturating_mul(2));
    } else {
        out.array(n);
    }
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() >= 3 {
        let Some(l) = parse_i64(args.get(2)) else {
            c.out.err(ERR_NOT_INT);
            return;
        };
        if l == i64::MIN {
            c.out.err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
            return;
        }
        let mut withvalues = false;
        if args.len() > 4 || (args.len() == 4 && !opt_is(args.get(3), "withvalues")) {
            c.out.err(ERR_SYNTAX);
            return;
        } else if args.len() == 4 {
            withvalues = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                c.out.err("ERR value is out of range");
                return;
            }
        }
        hrandfield_with_count(srv, c, args.get(1), l, withvalues);
        return;
    }
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.null();
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    match h.random_pair() {
        Some((f, _)) => reply_elem(&mut c.out, f),
        None => c.out.null(),
    }
}

/// hrandfieldWithCountCommand: see the module comment for the cases.
fn hrandfield_with_count(srv: &mut Server, c: &mut Client, key: &[u8], l: i64, withvalues: bool) {
    let guard = OutputGuard::new(srv);
    let Some(o) = srv.lookup_read(c.db, key) else {
        c.out.array(0);
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    let size = h.len() as u64;
    let uniq = l >= 0;
    let count = l.unsigned_abs();
    if count == 0 {
        c.out.array(0);
        return;
    }

    // CASE 1: negative count (draws with replacement, in draw order), or a single field.
    if !uniq || count == 1 {
        pick_header(&mut c.out, count, withvalues);
        match h {
            Hash::Table(d) => {
                let mut left = count;
                while left > 0 {
                    left -= 1;
                    let Some((f, v)) = d.random_entry() else {
                        break;
                    };
                    reply_pick(
                        &mut c.out,
                        LpElem::Str(f.as_bytes()),
                        LpElem::Str(v.as_bytes()),
                        withvalues,
                    );
                    if left.is_multiple_of(1024) && guard.exceeded(c) {
                        break;
                    }
                }
            }
            Hash::Listpack(lp) => {
                let limit = count.min(RANDOM_SAMPLE_LIMIT) as usize;
                let mut picks = Vec::with_capacity(limit);
                let mut left = count;
                while left > 0 {
                    let n = left.min(limit as u64);
                    left -= n;
                    lp_random_pairs(lp, n as usize, &mut picks);
                    for &(f, v) in &picks {
                        reply_pick(&mut c.out, f, v, withvalues);
                    }
                    if guard.exceeded(c) {
                        break;
                    }
                }
            }
        }
        return;
    }

    pick_header(&mut c.out, count.min(size), withvalues);

    // CASE 2: at least as many requested as there are: the whole hash.
    if count >= size {
        for (f, v) in h.iter() {
            reply_pick(&mut c.out, f, v, withvalues);
        }
        return;
    }
    let count = count as usize;

    match h {
        // CASE 2.5: a listpack is sampled in one pass, answering in listpack order.
        Hash::Listpack(lp) => {
            let mut picks = Vec::with_capacity(count);
            lp_random_pairs_unique(lp, count, &mut picks);
            for &(f, v) in &picks {
                reply_pick(&mut c.out, f, v, withvalues);
            }
        }
        // CASE 3: close to the whole table: copy it, then remove random fields.
        Hash::Table(d) if (count as u64).saturating_mul(SUB_STRATEGY_MUL) > size => {
            let mut copy: Dict<Sds, Sds> = Dict::with_capacity(d.len());
            for (f, v) in d.iter() {
                let v = if withvalues { v.clone() } else { Sds::empty() };
                copy.insert(f.clone(), v);
            }
            while copy.len() > count {
                let Some((f, _)) = copy.random_entry() else {
                    break;
                };
                let f = f.clone();
                copy.remove(f.as_bytes());
            }
            for (f, v) in copy.iter() {
                reply_pick(
                    &mut c.out,
                    LpElem::Str(f.as_bytes()),
                    LpElem::Str(v.as_bytes()),
                    withvalues,
                );
            }
        }
        // CASE 4: far fewer than the table holds: sample, skipping repeats.
        Hash::Table(d) => {
            let mut seen: Dict<Sds, ()> = Dict::with_capacity(count);
            let mut added = 0usize;
            while added < count {
                let Some((f, v)) = d.random_entry() else {
                    break;
                };
                if seen.add(f.clone(), ()).is_err() {
                    continue;
                }
                added += 1;
                reply_pick(
                    &mut c.out,
                    LpElem::Str(f.as_bytes()),
                    LpElem::Str(v.as_bytes()),
                    withvalues,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HSCAN

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(cursor) = parse_scan_cursor(args.get(2)) else {
        c.out.err("ERR invalid cursor");
        return;
    };
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.raw(EMPTY_SCAN);
        return;
    };
    let Some(h) = as_hash(&mut c.out, o) else {
        return;
    };
    let Some(opts) = parse_scan_opts(c, args, 3, false) else {
        return;
    };
    let keep = |f: &[u8]| opts.pattern.is_none_or(|p| glob_match(p, f, false));
    match h {
        Hash::Listpack(lp) => {
            // Small encodings are returned whole; the cursor is ignored and the reply says 0.
            let mut it = lp.iter();
            let mut n = 0usize;
            let mut tmp = [0u8; 20];
            while let (Some(f), Some(_)) = (it.next(), it.next()) {
                if keep(f.as_bytes(&mut tmp)) {
                    n += 1;
                }
            }
            c.out.array(2);
            c.out.bulk(b"0");
            c.out.array(2 * n);
            let mut it = lp.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                if keep(f.as_bytes(&mut tmp)) {
                    reply_elem(&mut c.out, f);
                    reply_elem(&mut c.out, v);
                }
            }
        }
        Hash::Table(d) => {
            // Redis collects fields and values in one list and doubles COUNT for it ("we
            // return key / value"), so COUNT n gathers about n fields, visiting at most 20n
            // buckets.
            let count = opts.count.saturating_mul(2);
            let want = usize::try_from(count).unwrap_or(usize::MAX);
            let mut max_iterations = count.saturating_mul(10);
            let mut found: Vec<(Sds, Sds)> = Vec::new();
            let mut cursor = cursor;
            loop {
                cursor = d.scan(cursor, |f, v| found.push((f.clone(), v.clone())));
                if cursor == 0 || max_iterations == 0 {
                    break;
                }
                max_iterations -= 1;
                if found.len().saturating_mul(2) >= want {
                    break;
                }
            }
            found.retain(|(f, _)| keep(f.as_bytes()));
            c.out.array(2);
            c.out.bulk_i64(cursor as i64);
            c.out.array(2 * found.len());
            for (f, v) in &found {
                c.out.bulk(f.as_bytes());
                c.out.bulk(v.as_bytes());
            }
        }
    }
}
