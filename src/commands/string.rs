//! The `string` command group (t_string.c): GET/SET and their variants, counters, ranges, LCS.
//!
//! Replies, error texts and the order in which arguments are checked follow Redis 7.0 exactly:
//! e.g. GETEX looks the key up before it validates its expire time, so a missing key answers
//! nil even with a bad time, and LCS checks the key types before its options.
//!
//! Encodings match Redis's OBJECT ENCODING: values stored whole (SET, MSET, GETSET, APPEND on
//! a new key) go through `RObj::string` (int/embstr/raw by content); in-place edits (APPEND,
//! SETRANGE) make the value raw; INCR/DECR results are int; INCRBYFLOAT results are embstr/raw
//! text, never int, as Redis's createStringObjectFromLongDouble.
//!
//! Hot paths (GET, SET, INCR, MSET) look the key up once where Redis does and allocate nothing
//! beyond the stored value itself.

use super::{Args, Handler};
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, FLAG_RAW, WRONGTYPE};
use crate::util::ldouble::{incr_by_float, parse_long_double, IncrFloatError, LongDouble};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("get", get_command),
    ("set", set_command),
    ("setnx", setnx_command),
    ("setex", setex_command),
    ("psetex", psetex_command),
    ("getex", getex_command),
    ("getdel", getdel_command),
    ("getset", getset_command),
    ("mget", mget_command),
    ("mset", mset_command),
    ("msetnx", msetnx_command),
    ("append", append_command),
    ("strlen", strlen_command),
    ("setrange", setrange_command),
    ("getrange", getrange_command),
    ("substr", getrange_command),
    ("incr", incr_command),
    ("decr", decr_command),
    ("incrby", incrby_command),
    ("decrby", decrby_command),
    ("incrbyfloat", incrbyfloat_command),
    ("lcs", lcs_command),
];

/// Redis's shared.syntaxerr.
pub(crate) const ERR_SYNTAX: &str = "ERR syntax error";
/// getLongLongFromObjectOrReply's default error.
pub(crate) const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";

/// The bytes of an argument as C's string functions see them: up to the first NUL. Redis
/// matches option keywords with strcasecmp on the NUL-terminated sds, so `"NX\0junk"` is NX.
#[inline]
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&x| x == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// `strcasecmp(arg, name) == 0`: the option keyword test every parser here uses.
#[inline]
pub(crate) fn opt_is(arg: &[u8], name: &str) -> bool {
    cstr(arg).eq_ignore_ascii_case(name.as_bytes())
}

/// checkStringLength: refuses a result longer than `proto-max-bulk-len` (the sum may not wrap).
pub(crate) fn check_string_length(out: &mut Reply, max: u64, size: u64, append: u64) -> bool {
    match size.checked_add(append) {
        Some(total) if total <= max => true,
        _ => {
            out.err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            false
        }
    }
}

/// Replies with a string object's bytes (addReplyBulk); false, after a WRONGTYPE error, when
/// the object is not a string.
#[inline]
pub(crate) fn reply_string_obj(out: &mut Reply, o: &RObj) -> bool {
    let mut tmp = [0u8; 20];
    match o.str_bytes(&mut tmp) {
        Some(b) => {
            out.bulk(b);
            true
        }
        None => {
            out.err(WRONGTYPE);
            false
        }
    }
}

/// getGenericCommand: replies with the value or nil; false after a WRONGTYPE error.
#[inline]
fn get_generic(srv: &mut Server, c: &mut Client, key: &[u8]) -> bool {
    match srv.lookup_read(c.db, key) {
        None => {
            c.out.null();
            true
        }
        Some(o) => reply_string_obj(&mut c.out, o),
    }
}

/// GET key
pub fn get_command(srv: &mut Server, c: &mut Client, args: &Args) {
    get_generic(srv, c, args.get(1));
}

// SET/GETEX option flags (OBJ_* in t_string.c).
const SET_NX: u32 = 1 << 0;
const SET_XX: u32 = 1 << 1;
const OBJ_EX: u32 = 1 << 2;
const OBJ_PX: u32 = 1 << 3;
const OBJ_KEEPTTL: u32 = 1 << 4;
const SET_GET: u32 = 1 << 5;
const OBJ_EXAT: u32 = 1 << 6;
const OBJ_PXAT: u32 = 1 << 7;
const OBJ_PERSIST: u32 = 1 << 8;
const ANY_EXPIRE: u32 = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT;

/// Which command parseExtendedStringArgumentsOrReply serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtFor {
    Get,
    Set,
}

/// parseExtendedStringArgumentsOrReply: the options of SET (from argv[3]) or GETEX (from
/// argv[2]), with Redis's rules for which options exclude which. Returns the flags and the
/// expire argument, or None for a syntax error.
fn parse_extended<'a>(args: &Args<'a>, kind: ExtFor) -> Option<(u32, Option<&'a [u8]>)> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if kind == ExtFor::Get { 2 } else { 3 };
    let set = kind == ExtFor::Set;
    while j < args.len() {
        let opt = cstr(args.get(j));
        let has_next = j + 1 < args.len();
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("nx") && flags & SET_XX == 0 && set {
            flags |= SET_NX;
        } else if is("xx") && flags & SET_NX == 0 && set {
            flags |= SET_XX;
        } else if is("get") && set {
            flags |= SET_GET;
        } else if is("keepttl") && flags & (OBJ_PERSIST | ANY_EXPIRE) == 0 && set {
            flags |= OBJ_KEEPTTL;
        } else if is("persist") && !set && flags & (ANY_EXPIRE | OBJ_KEEPTTL) == 0 {
            flags |= OBJ_PERSIST;
        } else if is("ex")
            && flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EXAT | OBJ_PX | OBJ_PXAT) == 0
            && has_next
        {
            flags |= OBJ_EX;
            expire = Some(args.get(j + 1));
            j += 1;
        } else if is("px")
            && flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PXAT) == 0
            && has_next
        {
            flags |= OBJ_PX;
            expire = Some(args.get(j + 1));
            j += 1;
        } else if is("exat")
            && flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_PX | OBJ_PXAT) == 0
            && has_next
        {
            flags |= OBJ_EXAT;
            expire = Some(args.get(j + 1));
            j += 1;
        } else if is("pxat")
            && flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PX) == 0
            && has_next
        {
            flags |= OBJ_PXAT;
            expire = Some(args.get(j + 1));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some((flags, expire))
}

/// getExpireMillisecondsOrReply: the expire argument as an absolute Unix time in ms. Relative
/// forms (EX/PX) add `now`; seconds are scaled. Errors name the command (`cmd`) as Redis's
/// addReplyErrorExpireTime does.
fn expire_ms_or_reply(out: &mut Reply, arg: &[u8], flags: u32, now: i64, cmd: &str) -> Option<i64> {
    let Some(mut ms) = parse_i64(arg) else {
        out.err(ERR_NOT_INT);
        return None;
    };
    let seconds = flags & (OBJ_PX | OBJ_PXAT) == 0;
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        out.err(&format!("ERR invalid expire time in '{cmd}' command"));
        return None;
    }
    if seconds {
        ms *= 1000;
    }
    if flags & (OBJ_EX | OBJ_PX) != 0 {
        ms = ms.wrapping_add(now);
    }
    if ms <= 0 {
        out.err(&format!("ERR invalid expire time in '{cmd}' command"));
        return None;
    }
    Some(ms)
}

/// The replies setGenericCommand sends: SET's `+OK`/nil or SETNX's `:1`/`:0`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetReplies {
    OkNull,
    OneZero,
}

/// setGenericCommand: SET, SETNX, SETEX and PSETEX.
#[allow(clippy::too_many_arguments)]
fn set_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    flags: u32,
    key: &[u8],
    val: &[u8],
    expire: Option<&[u8]>,
    cmd: &str,
    replies: SetReplies,
) {
    let db = c.db;
    let mut when = 0;
    if let Some(e) = expire {
        match expire_ms_or_reply(&mut c.out, e, flags, srv.cmd_time_ms, cmd) {
            Some(ms) => when = ms,
            None => return,
        }
    }
    if flags & SET_GET != 0 && !get_generic(srv, c, key) {
        return;
    }
    if flags & (SET_NX | SET_XX) != 0 {
        let found = srv.lookup_write(db, key).is_some();
        if (flags & SET_NX != 0 && found) || (flags & SET_XX != 0 && !found) {
            if flags & SET_GET == 0 {
                match replies {
                    SetReplies::OkNull => c.out.null(),
                    SetReplies::OneZero => c.out.int(0),
                }
            }
            return;
        }
    } else {
        // lookupKeyWrite's lazy expiry: an expired key is deleted (and counted) first.
        srv.expire_if_needed(db, key);
    }
    let keep_ttl = flags & OBJ_KEEPTTL != 0 || expire.is_some();
    let obj = RObj::string(val, srv.lru_clock);
    srv.set_key(db, key, obj, keep_ttl);
    srv.dirty += 1;
    srv.notify_keyspace_event(notify::STRING, "set", key, db);
    if expire.is_some() {
        srv.set_expire(db, key, when);
        srv.notify_keyspace_event(notify::GENERIC, "expire", key, db);
        // Any expire travels as SET key value PXAT <absolute ms> (NX/XX/GET dropped: the
        // set happened).
        srv.rewrite_command(|| {
            vec![
                b"SET".to_vec(),
                key.to_vec(),
                val.to_vec(),
                b"PXAT".to_vec(),
                when.to_string().into_bytes(),
            ]
        });
    } else if flags & SET_GET != 0 {
        // SET ... GET travels without its GET (which may be repeated).
        srv.rewrite_command(|| {
            args.to_vecs()
                .into_iter()
                .enumerate()
                .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"get"))
                .map(|(_, a)| a)
                .collect()
        });
    }
    if flags & SET_GET == 0 {
        match replies {
            SetReplies::OkNull => c.out.ok(),
            SetReplies::OneZero => c.out.int(1),
        }
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub fn set_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some((flags, expire)) = parse_extended(args, ExtFor::Set) else {
        c.out.err(ERR_SYNTAX);
        return;
    };
    set_generic(
        srv,
        c,
        args,
        flags,
        args.get(1),
        args.get(2),
        expire,
        "set",
        SetReplies::OkNull,
    );
}

/// SETNX key value
pub fn setnx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    set_generic(
        srv,
        c,
        args,
        SET_NX,
        args.get(1),
        args.get(2),
        None,
        "setnx",
        SetReplies::OneZero,
    );
}

/// SETEX key seconds value
pub fn setex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    set_generic(
        srv,
        c,
        args,
        OBJ_EX,
        args.get(1),
        args.get(3),
        Some(args.get(2)),
        "setex",
        SetReplies::OkNull,
    );
}

/// PSETEX key milliseconds value
pub fn psetex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    set_generic(
        srv,
        c,
        args,
        OBJ_PX,
        args.get(1),
        args.get(3),
        Some(args.get(2)),
        "psetex",
        SetReplies::OkNull,
    );
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
pub fn getex_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some((flags, expire)) = parse_extended(args, ExtFor::Get) else {
        c.out.err(ERR_SYNTAX);
        return;
    };
    let db = c.db;
    let key = args.get(1);
    let now = srv.cmd_time_ms;
    let mut when = 0;
    {
        let Some(o) = srv.lookup_read(db, key) else {
            c.out.null();
            return;
        };
        if !o.is_string() {
            c.out.err(WRONGTYPE);
            return;
        }
        if let Some(e) = expire {
            match expire_ms_or_reply(&mut c.out, e, flags, now, "getex") {
                Some(ms) => when = ms,
                None => return,
            }
        }
        // The reply goes out before the key may be deleted or its TTL changed.
        reply_string_obj(&mut c.out, o);
    }
    if flags & (OBJ_PXAT | OBJ_EXAT) != 0 && when <= now && !srv.loading {
        // An absolute time already in the past deletes the key.
        srv.delete_key(db, key);
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        srv.dirty += 1;
        let lazy = srv.config.lazyfree_lazy_expire;
        srv.rewrite_command(|| vec![super::keys::del_or_unlink(lazy), key.to_vec()]);
    } else if expire.is_some() {
        srv.set_expire(db, key, when);
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "expire", key, db);
        srv.dirty += 1;
        srv.rewrite_command(|| {
            vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                when.to_string().into_bytes(),
            ]
        });
    } else if flags & OBJ_PERSIST != 0 && srv.remove_expire(db, key) {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "persist", key, db);
        srv.dirty += 1;
        srv.rewrite_command(|| vec![b"PERSIST".to_vec(), key.to_vec()]);
    }
    // The reply went out first (Redis order), so pushes for our own key follow it.
    srv.flush_pushes(c);
}

/// GETDEL key
pub fn getdel_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let key = args.get(1);
    if !get_generic(srv, c, key) {
        return;
    }
    let db = c.db;
    if srv.delete_key(db, key) {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        srv.flush_pushes(c);
        srv.dirty += 1;
        let lazy = srv.config.lazyfree_lazy_user_del;
        srv.rewrite_command(|| vec![super::keys::del_or_unlink(lazy), key.to_vec()]);
    }
}

/// GETSET key value
pub fn getset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let key = args.get(1);
    if !get_generic(srv, c, key) {
        return;
    }
    let db = c.db;
    let obj = RObj::string(args.get(2), srv.lru_clock);
    srv.set_key(db, key, obj, false);
    srv.notify_keyspace_event(notify::STRING, "set", key, db);
    srv.dirty += 1;
}

/// MGET key [key ...]: nil for missing keys and for keys of other types.
pub fn mget_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    c.out.array(args.len() - 1);
    for key in args.iter_from(1) {
        let mut tmp = [0u8; 20];
        match srv.lookup_read(db, key).and_then(|o| o.str_bytes(&mut tmp)) {
            Some(b) => c.out.bulk(b),
            None => c.out.null(),
        }
    }
}

/// msetGenericCommand: MSET and MSETNX.
fn mset_generic(srv: &mut Server, c: &mut Client, args: &Args, nx: bool) {
    if args.len().is_multiple_of(2) {
        let name = if nx { "msetnx" } else { "mset" };
        c.out.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return;
    }
    let db = c.db;
    if nx {
        let mut j = 1;
        while j < args.len() {
            if srv.lookup_write(db, args.get(j)).is_some() {
                c.out.int(0);
                return;
            }
            j += 2;
        }
    }
    let mut j = 1;
    while j < args.len() {
        let key = args.get(j);
        srv.expire_if_needed(db, key);
        let obj = RObj::string(args.get(j + 1), srv.lru_clock);
        srv.set_key(db, key, obj, false);
        srv.notify_keyspace_event(notify::STRING, "set", key, db);
        j += 2;
    }
    srv.dirty += ((args.len() - 1) / 2) as u64;
    if nx {
        c.out.int(1);
    } else {
        c.out.ok();
    }
}

/// MSET key value [key value ...]
pub fn mset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    mset_generic(srv, c, args, false);
}

/// MSETNX key value [key value ...]: all or nothing.
pub fn msetnx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    mset_generic(srv, c, args, true);
}

/// APPEND key value
pub fn append_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let val = args.get(2);
    let max = srv.config.proto_max_bulk_len;
    let lru = srv.lru_clock;
    let total = match srv.lookup_write(db, key) {
        None => {
            srv.add_key(db, key, RObj::string(val, lru));
            val.len()
        }
        Some(o) => {
            if !o.is_string() {
                c.out.err(WRONGTYPE);
                return;
            }
            if !check_string_length(&mut c.out, max, o.str_len() as u64, val.len() as u64) {
                return;
            }
            let Some(s) = o.make_raw() else {
                c.out.err(WRONGTYPE);
                return;
            };
            s.extend_from_slice(val);
            s.len()
        }
    };
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STRING, "append", key, db);
    srv.dirty += 1;
    c.out.int(total as i64);
}

/// STRLEN key
pub fn strlen_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match srv.lookup_read(c.db, args.get(1)) {
        None => c.out.int(0),
        Some(o) if o.is_string() => c.out.int(o.str_len() as i64),
        Some(_) => c.out.err(WRONGTYPE),
    }
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding as needed.
pub fn setrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(offset) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    if offset < 0 {
        c.out.err("ERR offset is out of range");
        return;
    }
    let db = c.db;
    let key = args.get(1);
    let value = args.get(3);
    let max = srv.config.proto_max_bulk_len;
    let lru = srv.lru_clock;
    let offset = offset as u64;
    let newlen = match srv.lookup_write(db, key) {
        None => {
            if value.is_empty() {
                c.out.int(0);
                return;
            }
            if !check_string_length(&mut c.out, max, offset, value.len() as u64) {
                return;
            }
            let off = offset as usize;
            let mut v = vec![0u8; off + value.len()];
            v[off..].copy_from_slice(value);
            let len = v.len();
            let mut o = RObj::new(Value::Str(Sds::heap_from_vec(v)), lru);
            o.flags |= FLAG_RAW;
            srv.add_key(db, key, o);
            len
        }
        Some(o) => {
            if !o.is_string() {
                c.out.err(WRONGTYPE);
                return;
            }
            if value.is_empty() {
                c.out.int(o.str_len() as i64);
                return;
            }
            if !check_string_length(&mut c.out, max, offset, value.len() as u64) {
                return;
            }
            let Some(s) = o.make_raw() else {
                c.out.err(WRONGTYPE);
                return;
            };
            let off = offset as usize;
            s.edit(|v| {
                let end = off + value.len();
                if v.len() < end {
                    v.resize(end, 0);
                }
                v[off..end].copy_from_slice(value);
                v.len()
            })
        }
    };
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STRING, "setrange", key, db);
    srv.dirty += 1;
    c.out.int(newlen as i64);
}

/// The byte range GETRANGE returns for `len` bytes, or None for the empty string.
fn getrange_bounds(mut start: i64, mut end: i64, len: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

/// GETRANGE key start end (and its old name SUBSTR)
pub fn getrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(start) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    let Some(end) = parse_i64(args.get(3)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.bulk(b"");
        return;
    };
    let mut tmp = [0u8; 20];
    let Some(s) = o.str_bytes(&mut tmp) else {
        c.out.err(WRONGTYPE);
        return;
    };
    match getrange_bounds(start, end, s.len() as i64) {
        Some((a, b)) => c.out.bulk(&s[a..b]),
        None => c.out.bulk(b""),
    }
}

/// The integer value of a string object (getLongLongFromObjectOrReply), or the error to send.
#[inline]
fn object_i64(o: &RObj) -> Result<i64, &'static str> {
    if let Value::Int(i) = o.value {
        return Ok(i);
    }
    let mut tmp = [0u8; 20];
    match o.str_bytes(&mut tmp) {
        Some(b) => parse_i64(b).ok_or(ERR_NOT_INT),
        None => Err(WRONGTYPE),
    }
}

/// incrDecrCommand: adds `incr` to the key's integer, in place when the key exists.
fn incr_decr(srv: &mut Server, c: &mut Client, key: &[u8], incr: i64) {
    let db = c.db;
    let lru = srv.lru_clock;
    let value = match srv.lookup_write(db, key) {
        Some(o) => {
            let old = match object_i64(o) {
                Ok(v) => v,
                Err(e) => {
                    c.out.err(e);
                    return;
                }
            };
            let Some(v) = old.checked_add(incr) else {
                c.out.err("ERR increment or decrement would overflow");
                return;
            };
            // The new value is a fresh int-encoded object in Redis; the TTL stays.
            o.value = Value::Int(v);
            o.flags &= !FLAG_RAW;
            v
        }
        None => {
            srv.add_key(db, key, RObj::new(Value::Int(incr), lru));
            incr
        }
    };
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STRING, "incrby", key, db);
    srv.dirty += 1;
    c.out.int(value);
}

/// INCR key
pub fn incr_command(srv: &mut Server, c: &mut Client, args: &Args) {
    incr_decr(srv, c, args.get(1), 1);
}

/// DECR key
pub fn decr_command(srv: &mut Server, c: &mut Client, args: &Args) {
    incr_decr(srv, c, args.get(1), -1);
}

/// INCRBY key increment
pub fn incrby_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(incr) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    incr_decr(srv, c, args.get(1), incr);
}

/// DECRBY key decrement
pub fn decrby_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(decr) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    if decr == i64::MIN {
        c.out.err("ERR decrement would overflow");
        return;
    }
    incr_decr(srv, c, args.get(1), -decr);
}

/// The long double value of a string object (getLongDoubleFromObjectOrReply).
fn object_long_double(o: &RObj) -> Result<LongDouble, &'static str> {
    if let Value::Int(i) = o.value {
        return Ok(LongDouble::from_i64(i));
    }
    let mut tmp = [0u8; 20];
    match o.str_bytes(&mut tmp) {
        Some(b) => parse_long_double(b).ok_or(IncrFloatError::NotAFloat.message()),
        None => Err(WRONGTYPE),
    }
}

/// INCRBYFLOAT key increment: computed in C long double, printed as Redis prints it.
pub fn incrbyfloat_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let incr = args.get(2);
    let lru = srv.lru_clock;
    match srv.lookup_write(db, key) {
        Some(o) => {
            let cur = match object_long_double(o) {
                Ok(v) => v,
                Err(e) => {
                    c.out.err(e);
                    return;
                }
            };
            match incr_by_float(cur, incr) {
                Ok(text) => {
                    c.out.bulk(&text);
                    o.value = Value::Str(Sds::from_vec(text));
                    o.flags &= !FLAG_RAW;
                }
                Err(e) => {
                    c.out.err(e.message());
                    return;
                }
            }
        }
        None => match incr_by_float(LongDouble::from_i64(0), incr) {
            Ok(text) => {
                c.out.bulk(&text);
                srv.add_key(db, key, RObj::new(Value::Str(Sds::from_vec(text)), lru));
            }
            Err(e) => {
                c.out.err(e.message());
                return;
            }
        },
    }
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STRING, "incrbyfloat", key, db);
    srv.dirty += 1;
    // The result, not the increment, travels (float formatting must not differ on replay);
    // KEEPTTL keeps the key's TTL as the increment did.
    let text = match srv.prop.active {
        true => srv.dbs[db].dict.get(key).and_then(|o| match &o.value {
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }),
        false => None,
    };
    if let Some(text) = text {
        srv.rewrite_command(|| vec![b"SET".to_vec(), key.to_vec(), text, b"KEEPTTL".to_vec()]);
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let (ka, kb) = (args.get(1), args.get(2));
    // Both lookups happen (with their statistics and lazy expiry) before the type check.
    let ta = srv.lookup_read(db, ka).map(|o| o.is_string());
    let tb = srv.lookup_read(db, kb).map(|o| o.is_string());
    if ta == Some(false) || tb == Some(false) {
        c.out
            .err("ERR The specified keys must contain string values");
        return;
    }
    let mut getlen = false;
    let mut getidx = false;
    let mut withmatchlen = false;
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if opt_is(opt, "idx") {
            getidx = true;
        } else if opt_is(opt, "len") {
            getlen = true;
        } else if opt_is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if opt_is(opt, "minmatchlen") && more {
            let Some(v) = parse_i64(args.get(j + 1)) else {
                c.out.err(ERR_NOT_INT);
                return;
            };
            minmatchlen = v.max(0);
            j += 1;
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    if getlen && getidx {
        c.out
            .err("ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    let max = srv.config.proto_max_bulk_len;
    let dict = &srv.dbs[db].dict;
    let (mut ta, mut tb) = ([0u8; 20], [0u8; 20]);
    let a: &[u8] = dict
        .peek(ka)
        .and_then(|o| o.str_bytes(&mut ta))
        .unwrap_or(b"");
    let b: &[u8] = dict
        .peek(kb)
        .and_then(|o| o.str_bytes(&mut tb))
        .unwrap_or(b"");
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        c.out.err("ERR String too long for LCS");
        return;
    }
    let Some(table) = lcs_table(a, b, max) else {
        return lcs_alloc_error(&mut c.out, a, b, max);
    };
    lcs_reply(
        &mut c.out,
        a,
        b,
        &table,
        getlen,
        getidx,
        withmatchlen,
        minmatchlen as u64,
    );
}

/// The error LCS sends when its table cannot be had.
fn lcs_alloc_error(out: &mut Reply, a: &[u8], b: &[u8], max: u64) {
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > max as u128 {
        out.err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    } else {
        out.err("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
}

/// The dynamic-programming table: cell (i, j) holds the LCS length of a[..i] and b[..j], stored
/// row-major with rows of b.len()+1 cells. None when it would exceed `max` bytes or cannot be
/// allocated.
fn lcs_table(a: &[u8], b: &[u8], max: u64) -> Option<Vec<u32>> {
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > max as u128 || cells > usize::MAX as u128 / 4 {
        return None;
    }
    let cells = cells as usize;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).ok()?;
    t.resize(cells, 0);
    let w = b.len() + 1;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    Some(t)
}

/// Walks the table back from the end, rebuilding the LCS and its matching ranges, and sends
/// the reply LCS's options ask for.
#[allow(clippy::too_many_arguments)]
fn lcs_reply(
    out: &mut Reply,
    a: &[u8],
    b: &[u8],
    t: &[u32],
    getlen: bool,
    getidx: bool,
    withmatchlen: bool,
    minmatchlen: u64,
) {
    let w = b.len() + 1;
    let total = t[a.len() * w + b.len()];
    if getlen && !getidx {
        out.int(total as i64);
        return;
    }
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let deferred = if getidx {
        out.map(2);
        out.bulk(b"matches");
        Some(out.defer())
    } else {
        None
    };
    let alen = a.len();
    // Current range; `a_start == alen` means none is open.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    let mut ranges = 0usize;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = j - 1;
                b_end = j - 1;
            } else if a_start == i && b_start == j {
                // Contiguous with the open range: extend it backwards.
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            let up = t[(i - 1) * w + j];
            let left = t[i * w + j - 1];
            if up > left {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as u64;
            if (minmatchlen == 0 || match_len >= minmatchlen) && deferred.is_some() {
                out.array(2 + withmatchlen as usize);
                out.array(2);
                out.int(a_start as i64);
                out.int(a_end as i64);
                out.array(2);
                out.int(b_start as i64);
                out.int(b_end as i64);
                if withmatchlen {
                    out.int(match_len as i64);
                }
                ranges += 1;
            }
            a_start = alen;
        }
    }
    match deferred {
        Some(d) => {
            out.bulk(b"len");
            out.int(total as i64);
            out.set_deferred_array(d, ranges);
        }
        None => out.bulk(&result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"nx\0junk"), b"nx");
        assert!(opt_is(b"NX\0x", "nx"));
        assert!(!opt_is(b"nxx", "nx"));
    }

    #[test]
    fn getrange_bounds_like_redis() {
        assert_eq!(getrange_bounds(0, -1, 5), Some((0, 5)));
        assert_eq!(getrange_bounds(-10, -20, 5), None);
        assert_eq!(getrange_bounds(0, -100, 5), Some((0, 1)));
        assert_eq!(getrange_bounds(3, 1, 5), None);
        assert_eq!(getrange_bounds(0, 0, 0), None);
        assert_eq!(getrange_bounds(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(getrange_bounds(i64::MAX, i64::MAX, 5), None);
    }

    #[test]
    fn lcs_table_and_string() {
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        let t = lcs_table(a, b, 1 << 20).unwrap();
        let mut out = Reply::default();
        lcs_reply(&mut out, a, b, &t, false, false, false, 0);
        assert_eq!(out.buf, b"$6\r\nmytext\r\n");
        assert!(lcs_table(&[0u8; 1000], &[0u8; 1000], 1 << 20).is_none());
    }

    #[test]
    fn extended_args_exclusions() {
        // Exercised end to end in tests/string.rs; here only the expire arithmetic.
        let mut out = Reply::default();
        assert_eq!(
            expire_ms_or_reply(&mut out, b"10", OBJ_EX, 1000, "set"),
            Some(11000)
        );
        assert_eq!(
            expire_ms_or_reply(&mut out, b"10", OBJ_PXAT, 1000, "set"),
            Some(10)
        );
        assert_eq!(
            expire_ms_or_reply(&mut out, b"0", OBJ_EX, 1000, "set"),
            None
        );
        assert_eq!(
            expire_ms_or_reply(&mut out, b"9223372036854775", OBJ_EX, 1 << 40, "set"),
            None
        );
        assert!(out
            .buf
            .starts_with(b"-ERR invalid expire time in 'set' command\r\n"));
    }
}
