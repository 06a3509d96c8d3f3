//! The `generic` command group: commands on keys whatever their type (db.c, expire.c, object.c's
//! OBJECT, and WAIT from replication.c).
//!
//! Every reply, error text and the order of checks follow Redis 7.0.15; the notes on each handler
//! say which Redis function it mirrors. Three kinds of lookup appear, as in Redis:
//!
//! - `lookup_read` (lookupKeyRead): lazy expiry, hit/miss statistics, refreshes the LRU clock
//!   (TOUCH, COPY's source).
//! - `lookup_write` (lookupKeyWrite): lazy expiry only (RENAME, MOVE, EXPIRE, PERSIST).
//! - [`read_notouch`] (lookupKeyReadWithFlags(LOOKUP_NOTOUCH)): lazy expiry and statistics but
//!   the key's clock is left alone, so that asking about a key (EXISTS, TYPE, TTL, OBJECT, SCAN's
//!   TYPE filter) does not make it look recently used to the eviction policy.
//!
//! SCAN walks the db dict with the dict's own reverse-binary cursor (`Dict::scan`), so its
//! guarantees are Redis's: a key present for the whole iteration is returned at least once,
//! whatever resizing happens between calls. The option parsing is shared with HSCAN/SSCAN/ZSCAN
//! through [`parse_scan_cursor`] and [`parse_scan_opts`].

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, SHARED_INTEGERS};
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("del", del_command),
    ("unlink", unlink_command),
    ("exists", exists_command),
    ("type", type_command),
    ("rename", rename_command),
    ("renamenx", renamenx_command),
    ("copy", copy_command),
    ("move", move_command),
    ("keys", keys_command),
    ("scan", scan_command),
    ("randomkey", randomkey_command),
    ("touch", touch_command),
    ("object|encoding", object_encoding_command),
    ("object|freq", object_freq_command),
    ("object|idletime", object_idletime_command),
    ("object|refcount", object_refcount_command),
    ("object|help", object_help_command),
    ("expire", expire_command),
    ("pexpire", pexpire_command),
    ("expireat", expireat_command),
    ("pexpireat", pexpireat_command),
    ("expiretime", expiretime_command),
    ("pexpiretime", pexpiretime_command),
    ("ttl", ttl_command),
    ("pttl", pttl_command),
    ("persist", persist_command),
    ("wait", wait_command),
];

/// Redis's shared.syntaxerr.
pub(crate) const ERR_SYNTAX: &str = "ERR syntax error";
/// getLongLongFromObjectOrReply's default error.
pub(crate) const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
/// shared.nokeyerr (RENAME of a missing key).
const ERR_NO_KEY: &str = "ERR no such key";
/// shared.sameobjecterr (MOVE to the same db, COPY onto itself).
const ERR_SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// selectDb's failure as MOVE and COPY report it.
const ERR_DB_RANGE: &str = "ERR DB index is out of range";

/// The bytes of an argument as C's string functions see them: up to the first NUL. Redis
/// compares option names with strcasecmp and prints them with %s, both of which stop there.
#[inline]
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&x| x == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Writes `-ERR <prefix><arg>` with the client's bytes kept verbatim (they may not be UTF-8),
/// cut at the first NUL and with CR/LF turned into spaces, as addReplyErrorFormat("...%s")
/// does.
pub(crate) fn err_with_arg(c: &mut Client, prefix: &str, arg: &[u8]) {
    let out = &mut c.out;
    out.buf.push(b'-');
    out.buf.extend_from_slice(prefix.as_bytes());
    out.buf.extend(
        cstr(arg)
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.buf.extend_from_slice(b"\r\n");
    let code_end = prefix.find(' ').unwrap_or(prefix.len());
    out.errors.push(prefix[..code_end].to_string());
}

/// Looks a key up the way lookupKeyReadWithFlags(LOOKUP_NOTOUCH) does — lazy expiry, keyspace
/// hit/miss statistics, a `keymiss` event unless `notify_miss` is false (OBJECT passes
/// LOOKUP_NONOTIFY) — without refreshing the key's LRU/LFU data, and hands the object to `f`.
/// The closure form keeps the borrow of the keyspace inside, so callers can go on using the
/// server afterwards.
pub fn read_notouch<T>(
    srv: &mut Server,
    db: usize,
    key: &[u8],
    notify_miss: bool,
    f: impl FnOnce(&RObj) -> T,
) -> Option<T> {
    // An expired key kept during CLIENT PAUSE is absent too.
    let found = match srv.expire_if_needed(db, key) {
        true => None,
        false => srv.dbs[db].dict.get(key).map(f),
    };
    if found.is_some() {
        srv.stats.keyspace_hits += 1;
    } else {
        srv.stats.keyspace_misses += 1;
        if notify_miss {
            srv.notify_keyspace_event(notify::KEY_MISS, "keymiss", key, db);
        }
    }
    found
}

/// A database index given by the client, parsed as getIntFromObjectOrReply (a strict integer,
/// then the C int range with its own message) and checked as selectDb does. Replies the error
/// itself.
fn parse_db_index(srv: &Server, c: &mut Client, arg: &[u8]) -> Option<usize> {
    let Some(id) = parse_i64(arg) else {
        c.out.err(ERR_NOT_INT);
        return None;
    };
    if id < i64::from(i32::MIN) || id > i64::from(i32::MAX) {
        c.out
            .err("ERR value is out of range, value must between -2147483648 and 2147483647");
        return None;
    }
    if id < 0 || id as usize >= srv.dbs.len() {
        c.out.err(ERR_DB_RANGE);
        return None;
    }
    Some(id as usize)
}

// ---------------------------------------------------------------------------------------------
// DEL UNLINK EXISTS TYPE TOUCH RANDOMKEY
// ---------------------------------------------------------------------------------------------

/// delGenericCommand: each key is first expired if due (so an expired key counts as absent and
/// fires `expired`, not `del`), then deleted. Values are dropped inline in both forms: there is no
/// lazy-free thread, and the reply is what differs between DEL and UNLINK in Redis, not
/// the semantics.
fn del_generic(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let mut deleted = 0;
    for key in args.iter_from(1) {
        srv.expire_if_needed(db, key);
        if srv.delete_key(db, key) {
            srv.signal_modified_key(db, key);
            srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
            srv.dirty += 1;
            deleted += 1;
        }
    }
    c.out.int(deleted);
}

/// DEL key [key ...]
pub fn del_command(srv: &mut Server, c: &mut Client, args: &Args) {
    del_generic(srv, c, args);
}

/// UNLINK key [key ...]
pub fn unlink_command(srv: &mut Server, c: &mut Client, args: &Args) {
    del_generic(srv, c, args);
}

/// EXISTS key [key ...]: counts repeats (`EXISTS k k` is 2), as Redis does.
pub fn exists_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let mut count = 0;
    for key in args.iter_from(1) {
        if read_notouch(srv, db, key, true, |_| ()).is_some() {
            count += 1;
        }
    }
    c.out.int(count);
}

/// TYPE key: a status reply, `none` for a missing key.
pub fn type_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let name = read_notouch(srv, c.db, args.get(1), true, |o| o.obj_type().name());
    c.out.simple(name.unwrap_or("none"));
}

/// TOUCH key [key ...]: a read lookup of each key (refreshing its clock); counts those found.
pub fn touch_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let mut touched = 0;
    for key in args.iter_from(1) {
        if srv.lookup_read(db, key).is_some() {
            touched += 1;
        }
    }
    c.out.int(touched);
}

/// RANDOMKEY: a key that is not logically expired, or null for an empty db.
pub fn randomkey_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    // Each expired key met on the way travels alone, as in Redis.
    srv.prop.deletions_alone = true;
    let key = srv.random_key(c.db);
    srv.prop.deletions_alone = false;
    match key {
        Some(k) => c.out.bulk(k.as_bytes()),
        None => c.out.null(),
    }
}

// ---------------------------------------------------------------------------------------------
// RENAME RENAMENX MOVE COPY
// ---------------------------------------------------------------------------------------------

/// renameGenericCommand. The source must exist even when it equals the destination (then
/// nothing happens); the value keeps its TTL and moves without being copied.
fn rename_generic(srv: &mut Server, c: &mut Client, args: &Args, nx: bool) {
    let db = c.db;
    let (src, dst) = (args.get(1), args.get(2));
    if srv.lookup_write(db, src).is_none() {
        c.out.err(ERR_NO_KEY);
        return;
    }
    if src == dst {
        if nx {
            c.out.int(0);
        } else {
            c.out.ok();
        }
        return;
    }
    let expire = srv.get_expire(db, src);
    if srv.lookup_write(db, dst).is_some() {
        if nx {
            c.out.int(0);
            return;
        }
        srv.delete_key(db, dst);
    }
    let Some((_, obj)) = srv.dbs[db].dict.remove(src) else {
        c.out.err(ERR_NO_KEY);
        return;
    };
    srv.dbs[db].index_removed(src);
    if expire.is_some() {
        srv.remove_expire(db, src);
    }
    srv.add_key(db, dst, obj);
    if let Some(when) = expire {
        srv.set_expire(db, dst, when);
    }
    srv.signal_modified_key(db, src);
    srv.notify_keyspace_event(notify::GENERIC, "rename_from", src, db);
    srv.notify_keyspace_event(notify::GENERIC, "rename_to", dst, db);
    srv.dirty += 1;
    if nx {
        c.out.int(1);
    } else {
        c.out.ok();
    }
}

/// RENAME key newkey
pub fn rename_command(srv: &mut Server, c: &mut Client, args: &Args) {
    rename_generic(srv, c, args, false);
}

/// RENAMENX key newkey
pub fn renamenx_command(srv: &mut Server, c: &mut Client, args: &Args) {
    rename_generic(srv, c, args, true);
}

/// MOVE key db: the index is validated before the key is looked at; 0 when the key is missing
/// or already present in the target db.
pub fn move_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if srv.cluster.is_some() {
        c.out.err("ERR MOVE is not allowed in cluster mode");
        return;
    }
    let key = args.get(1);
    let src = c.db;
    let Some(dst) = parse_db_index(srv, c, args.get(2)) else {
        return;
    };
    if src == dst {
        c.out.err(ERR_SAME_OBJECT);
        return;
    }
    if srv.lookup_write(src, key).is_none() {
        c.out.int(0);
        return;
    }
    let expire = srv.get_expire(src, key);
    if srv.lookup_write(dst, key).is_some() {
        c.out.int(0);
        return;
    }
    let Some((_, obj)) = srv.dbs[src].dict.remove(key) else {
        c.out.int(0);
        return;
    };
    srv.dbs[src].index_removed(key);
    if expire.is_some() {
        srv.remove_expire(src, key);
    }
    srv.add_key(dst, key, obj);
    if let Some(when) = expire {
        srv.set_expire(dst, key, when);
    }
    srv.signal_modified_key(src, key);
    srv.notify_keyspace_event(notify::GENERIC, "move_from", key, src);
    srv.notify_keyspace_event(notify::GENERIC, "move_to", key, dst);
    srv.dirty += 1;
    c.out.int(1);
}

/// COPY source destination [DB destination-db] [REPLACE]: options are checked in order as they
/// come (a bad DB index fails before a later syntax error); the copy is a new object with a
/// fresh clock and the source's TTL.
pub fn copy_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let src = c.db;
    let mut dst = c.db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        let additional = args.len() - j - 1;
        let opt = cstr(args.get(j));
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && additional >= 1 {
            let Some(id) = parse_db_index(srv, c, args.get(j + 1)) else {
                return;
            };
            dst = id;
            j += 1;
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        }
        j += 1;
    }
    if srv.cluster.is_some() && (src != 0 || dst != 0) {
        c.out
            .err("ERR Copying to another database is not allowed in cluster mode");
        return;
    }
    let (key, newkey) = (args.get(1), args.get(2));
    if src == dst && key == newkey {
        c.out.err(ERR_SAME_OBJECT);
        return;
    }
    let lru = srv.lru_clock;
    let Some(mut newobj) = srv.lookup_read(src, key).map(|o| o.duplicate()) else {
        c.out.int(0);
        return;
    };
    newobj.lru = lru;
    let expire = srv.get_expire(src, key);
    if srv.lookup_write(dst, newkey).is_some() {
        if !replace {
            c.out.int(0);
            return;
        }
        srv.delete_key(dst, newkey);
    }
    srv.add_key(dst, newkey, newobj);
    if let Some(when) = expire {
        srv.set_expire(dst, newkey, when);
    }
    srv.notify_keyspace_event(notify::GENERIC, "copy_to", newkey, dst);
    srv.dirty += 1;
    c.out.int(1);
}

// ---------------------------------------------------------------------------------------------
// KEYS SCAN
// ---------------------------------------------------------------------------------------------

/// KEYS pattern: every key matching the glob, in dict order. As in Redis 7.0 there is no
/// shortcut for patterns without wildcards; a bare `*` skips matching (and so, unlike the
/// matcher, also lists the empty key). Logically expired keys are left out but not deleted
/// (keyIsExpired, not expireIfNeeded: KEYS never writes).
pub fn keys_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let pattern = args.get(1);
    let allkeys = pattern == b"*";
    let now = srv.cmd_time_ms;
    let check_ttl = !srv.loading;
    let d = &srv.dbs[c.db];
    let out = &mut c.out;
    let head = out.defer();
    let mut n = 0;
    for (k, _) in d.dict.iter() {
        let k = k.as_bytes();
        if !allkeys && !glob_match(pattern, k, false) {
            continue;
        }
        if check_ttl && !d.expires.is_empty() {
            if let Some(&when) = d.expires.peek(k) {
                if now > when {
                    continue;
                }
            }
        }
        out.bulk(k);
        n += 1;
    }
    out.set_deferred_array(head, n);
}

/// Parses a SCAN-family cursor as parseScanCursorOrReply does with strtoul: up to the first NUL,
/// no leading white space, an optional sign (a minus wraps, `-1` is 2^64-1), decimal digits
/// only, no overflow; the empty string is cursor 0. None means "ERR invalid cursor".
pub fn parse_scan_cursor(arg: &[u8]) -> Option<u64> {
    let s = cstr(arg);
    let Some(&first) = s.first() else {
        return Some(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        return None;
    }
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The options of a SCAN-family command.
pub struct ScanOpts<'a> {
    /// COUNT: how many elements to aim for (a hint, >= 1; default 10).
    pub count: i64,
    /// MATCH pattern; None when absent or exactly `*` (matching everything is skipped).
    pub pattern: Option<&'a [u8]>,
    /// TYPE name (SCAN only), compared case-insensitively with TYPE's answer; an unknown name
    /// is not an error in 7.0, it just matches nothing.
    pub type_name: Option<&'a [u8]>,
}

/// Parses the options of scanGenericCommand from argument `from` on, replying the error itself
/// (syntax error for unknown options, missing values, COUNT < 1, and TYPE when `allow_type` is
/// false as for HSCAN/SSCAN/ZSCAN).
pub fn parse_scan_opts<'a>(
    c: &mut Client,
    args: &Args<'a>,
    from: usize,
    allow_type: bool,
) -> Option<ScanOpts<'a>> {
    let mut opts = ScanOpts {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = from;
    while i < args.len() {
        let left = args.len() - i;
        let opt = cstr(args.get(i));
        if opt.eq_ignore_ascii_case(b"count") && left >= 2 {
            let Some(n) = parse_i64(args.get(i + 1)) else {
                c.out.err(ERR_NOT_INT);
                return None;
            };
            if n < 1 {
                c.out.err(ERR_SYNTAX);
                return None;
            }
            opts.count = n;
        } else if opt.eq_ignore_ascii_case(b"match") && left >= 2 {
            let p = args.get(i + 1);
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else if allow_type && opt.eq_ignore_ascii_case(b"type") && left >= 2 {
            opts.type_name = Some(args.get(i + 1));
        } else {
            c.out.err(ERR_SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(opts)
}

/// Writes a SCAN-family reply: the next cursor as a bulk string, then the elements.
pub fn reply_scan<'a>(c: &mut Client, cursor: u64, elems: impl ExactSizeIterator<Item = &'a [u8]>) {
    c.out.array(2);
    // addReplyBulkLongLong of the unsigned cursor, as Redis 7.0 writes it.
    c.out.bulk_i64(cursor as i64);
    c.out.bulks(elems);
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] (scanGenericCommand on the keyspace).
/// Buckets are visited until COUNT keys were collected, the iteration ended, or 10*COUNT
/// buckets were visited (so sparse tables cannot stall the server); the filters run afterwards
/// on the collected keys: pattern, then type (a NOTOUCH read lookup), then expiry, which
/// deletes the keys found expired.
pub fn scan_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(mut cursor) = parse_scan_cursor(args.get(1)) else {
        c.out.err("ERR invalid cursor");
        return;
    };
    let Some(opts) = parse_scan_opts(c, args, 2, true) else {
        return;
    };
    let db = c.db;
    let want = usize::try_from(opts.count).unwrap_or(usize::MAX);
    let mut max_iterations = opts.count.saturating_mul(10);
    let mut keys = Vec::new();
    let dict = &srv.dbs[db].dict;
    loop {
        cursor = dict.scan(cursor, |k, _| keys.push(k.clone()));
        if cursor == 0 || max_iterations == 0 {
            break;
        }
        max_iterations -= 1;
        if keys.len() >= want {
            break;
        }
    }
    keys.retain(|k| {
        let k = k.as_bytes();
        if let Some(p) = opts.pattern {
            if !glob_match(p, k, false) {
                return false;
            }
        }
        if let Some(t) = opts.type_name {
            let name = read_notouch(srv, db, k, true, |o| o.obj_type().name()).unwrap_or("none");
            if !cstr(t).eq_ignore_ascii_case(name.as_bytes()) {
                return false;
            }
        }
        // Each expired key met travels alone, as in Redis.
        srv.prop.deletions_alone = true;
        let expired = srv.expire_if_needed(db, k);
        srv.prop.deletions_alone = false;
        !expired
    });
    reply_scan(c, cursor, keys.iter().map(|k| k.as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------------

/// The eviction policy families that change what OBJECT answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PolicyKind {
    /// allkeys-lru, volatile-lru: `lru` is a clock, shared integers are not used.
    Lru,
    /// allkeys-lfu, volatile-lfu: `lru` holds LFU data, shared integers are not used.
    Lfu,
    /// Everything else (noeviction, random, ttl).
    Other,
}

/// The family of the configured maxmemory-policy.
fn policy_kind(srv: &Server) -> PolicyKind {
    let name = srv.config.maxmemory_policy_name();
    if name.ends_with("-lfu") {
        PolicyKind::Lfu
    } else if name.ends_with("-lru") {
        PolicyKind::Lru
    } else {
        PolicyKind::Other
    }
}

/// OBJECT REFCOUNT's answer. Values are owned by the keyspace (refcount 1), except that Redis
/// stores the integers 0..9999 as its shared objects, which report INT_MAX, whenever the
/// policy allows sharing (maxmemory 0, or a policy that does not keep per-object LRU/LFU data).
fn refcount(o: &RObj, sharing: bool) -> i64 {
    match o.value {
        Value::Int(i) if sharing && (0..SHARED_INTEGERS).contains(&i) => i64::from(i32::MAX),
        _ => 1,
    }
}

/// LFUDecrAndReturn: the object's LFU counter, decayed by one per `lfu-decay-time` minutes
/// elapsed since its last access (the high 16 bits of `lru` hold that time in minutes, wrapping).
fn lfu_counter(lru: u32, now_unix_secs: i64, decay_minutes: i64) -> i64 {
    let now = crate::evict::lfu_time_in_minutes(now_unix_secs);
    i64::from(crate::evict::lfu_decr_and_return(lru, now, decay_minutes))
}

/// estimateObjectIdleTime in seconds: the LRU clock (24 bits of seconds, wrapping) minus the
/// object's.
fn idle_seconds(lru_clock: u32, obj_lru: u32) -> i64 {
    let (now, then) = (i64::from(lru_clock), i64::from(obj_lru));
    if now >= then {
        now - then
    } else {
        now + (i64::from(crate::server::LRU_CLOCK_MAX) - then)
    }
}

/// OBJECT ENCODING key
pub fn object_encoding_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match read_notouch(srv, c.db, args.get(2), false, |o| o.encoding_name()) {
        Some(e) => c.out.bulk(e.as_bytes()),
        None => c.out.null(),
    }
}

/// OBJECT REFCOUNT key
pub fn object_refcount_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let sharing = srv.config.maxmemory == 0 || policy_kind(srv) == PolicyKind::Other;
    match read_notouch(srv, c.db, args.get(2), false, |o| refcount(o, sharing)) {
        Some(n) => c.out.int(n),
        None => c.out.null(),
    }
}

/// OBJECT IDLETIME key: missing key first (null), then the LFU-policy error.
pub fn object_idletime_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(lru) = read_notouch(srv, c.db, args.get(2), false, |o| o.lru) else {
        c.out.null();
        return;
    };
    if policy_kind(srv) == PolicyKind::Lfu {
        c.out.err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    c.out.int(idle_seconds(srv.lru_clock, lru));
}

/// OBJECT FREQ key: missing key first (null), then the not-LFU error.
pub fn object_freq_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(lru) = read_notouch(srv, c.db, args.get(2), false, |o| o.lru) else {
        c.out.null();
        return;
    };
    if policy_kind(srv) != PolicyKind::Lfu {
        c.out.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    let now_secs = srv.cmd_time_ms / 1000;
    let decay = srv.config.lfu_decay_time;
    c.out.int(lfu_counter(lru, now_secs, decay));
}

/// OBJECT's help lines, between the header and the HELP footer that every help reply ends with.
const OBJECT_HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

/// OBJECT HELP
pub fn object_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    super::connection::reply_help(c, "OBJECT", OBJECT_HELP);
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family, TTL family, PERSIST
// ---------------------------------------------------------------------------------------------

/// EXPIRE-family condition flags (EXPIRE_NX...).
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// parseExtendedExpireArgumentsOrReply: NX/XX/GT/LT from argument 3 on; any other word is
/// "Unsupported option", then the incompatible combinations are refused.
fn parse_expire_flags(c: &mut Client, args: &Args) -> Option<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for opt in args.iter_from(3) {
        let o = cstr(opt);
        if o.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            err_with_arg(c, "ERR Unsupported option ", opt);
            return None;
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        c.out
            .err("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if f.gt && f.lt {
        c.out
            .err("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(f)
}

/// expireGenericCommand. `basetime` is "now" for the relative forms and 0 for the absolute
/// ones; `seconds` scales the argument. The checks run in Redis's order: options, integer,
/// overflow of the unit conversion and of the addition ("invalid expire time in '<cmd>'
/// command"), missing key (0), NX/XX/GT/LT (a key without TTL counts as an infinite TTL), and
/// finally a time not in the future deletes the key as DEL would (event `del`) instead of
/// setting it (event `expire`).
fn expire_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    basetime: i64,
    seconds: bool,
    name: &str,
) {
    let key = args.get(1);
    let Some(flags) = parse_expire_flags(c, args) else {
        return;
    };
    let Some(mut when) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    let invalid = |c: &mut Client| {
        c.out
            .err(&format!("ERR invalid expire time in '{name}' command"))
    };
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            invalid(c);
            return;
        }
        when *= 1000;
    }
    if when > i64::MAX - basetime {
        invalid(c);
        return;
    }
    when += basetime;

    let db = c.db;
    if srv.lookup_write(db, key).is_none() {
        c.out.int(0);
        return;
    }
    if flags.nx || flags.xx || flags.gt || flags.lt {
        let current = srv.get_expire(db, key);
        let refused = (flags.nx && current.is_some())
            || (flags.xx && current.is_none())
            || (flags.gt && current.is_none_or(|cur| when <= cur))
            || (flags.lt && current.is_some_and(|cur| when >= cur));
        if refused {
            c.out.int(0);
            return;
        }
    }
    if when <= srv.cmd_time_ms && !srv.loading {
        srv.delete_key(db, key);
        srv.dirty += 1;
        // Propagated as the deletion it was (lazyfree-lazy-expire picks UNLINK).
        let lazy = srv.config.lazyfree_lazy_expire;
        srv.rewrite_command(|| vec![del_or_unlink(lazy), key.to_vec()]);
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
        c.out.int(1);
    } else {
        // Redis replies before it fires "expire": a RESP3 client watching its own key sees
        // the push after the reply.
        srv.set_expire(db, key, when);
        c.out.int(1);
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "expire", key, db);
        srv.flush_pushes(c);
        srv.dirty += 1;
        // Relative forms (and EXPIREAT) travel as PEXPIREAT with the absolute time, so a
        // replay later means the same instant; the NX/XX/GT/LT options stay.
        if basetime != 0 || seconds {
            srv.rewrite_command(|| {
                let mut v = args.to_vecs();
                v[0] = b"PEXPIREAT".to_vec();
                v[2] = when.to_string().into_bytes();
                v
            });
        }
    }
}

/// The command name that propagates a deletion: UNLINK when it was lazy.
pub fn del_or_unlink(lazy: bool) -> Vec<u8> {
    if lazy {
        b"UNLINK".to_vec()
    } else {
        b"DEL".to_vec()
    }
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let now = srv.cmd_time_ms;
    expire_generic(srv, c, args, now, true, "expire");
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let now = srv.cmd_time_ms;
    expire_generic(srv, c, args, now, false, "pexpire");
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
pub fn expireat_command(srv: &mut Server, c: &mut Client, args: &Args) {
    expire_generic(srv, c, args, 0, true, "expireat");
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
pub fn pexpireat_command(srv: &mut Server, c: &mut Client, args: &Args) {
    expire_generic(srv, c, args, 0, false, "pexpireat");
}

/// ttlGenericCommand: -2 for a missing key, -1 without TTL, else the remaining time (or the
/// absolute time) in ms or in seconds rounded to nearest. The rounding is done in 128 bits:
/// Redis's `(ttl+500)/1000` on a time near i64::MAX comes out as the mathematically right
/// value, which plain i64 arithmetic would overflow.
fn ttl_generic(srv: &mut Server, c: &mut Client, args: &Args, ms: bool, absolute: bool) {
    let (db, key) = (c.db, args.get(1));
    if read_notouch(srv, db, key, true, |_| ()).is_none() {
        c.out.int(-2);
        return;
    }
    let Some(expire) = srv.get_expire(db, key) else {
        c.out.int(-1);
        return;
    };
    let ttl = if absolute {
        expire
    } else {
        expire.saturating_sub(srv.cmd_time_ms)
    }
    .max(0);
    if ms {
        c.out.int(ttl);
    } else {
        c.out.int(((i128::from(ttl) + 500) / 1000) as i64);
    }
}

/// TTL key
pub fn ttl_command(srv: &mut Server, c: &mut Client, args: &Args) {
    ttl_generic(srv, c, args, false, false);
}

/// PTTL key
pub fn pttl_command(srv: &mut Server, c: &mut Client, args: &Args) {
    ttl_generic(srv, c, args, true, false);
}

/// EXPIRETIME key
pub fn expiretime_command(srv: &mut Server, c: &mut Client, args: &Args) {
    ttl_generic(srv, c, args, false, true);
}

/// PEXPIRETIME key
pub fn pexpiretime_command(srv: &mut Server, c: &mut Client, args: &Args) {
    ttl_generic(srv, c, args, true, true);
}

/// PERSIST key: 1 when a TTL was removed.
pub fn persist_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let (db, key) = (c.db, args.get(1));
    if srv.lookup_write(db, key).is_some() && srv.remove_expire(db, key) {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::GENERIC, "persist", key, db);
        srv.dirty += 1;
        c.out.int(1);
    } else {
        c.out.int(0);
    }
}

// ---------------------------------------------------------------------------------------------
// WAIT
// ---------------------------------------------------------------------------------------------

/// WAIT numreplicas timeout: validates both arguments as Redis does, then answers the number of
/// replicas that acknowledged, which is 0 without replication. Redis would block for `timeout`
/// ms (forever for 0) when more than 0 replicas are asked for; with no replica able to ever
/// acknowledge, this answers at once instead of parking the client.
pub fn wait_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::replication::wait_command(srv, c, args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursor_parsing() {
        assert_eq!(parse_scan_cursor(b""), Some(0));
        assert_eq!(parse_scan_cursor(b"0"), Some(0));
        assert_eq!(parse_scan_cursor(b"007"), Some(7));
        assert_eq!(parse_scan_cursor(b"+5"), Some(5));
        assert_eq!(parse_scan_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"-0"), Some(0));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_scan_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_scan_cursor(b" 1"), None);
        assert_eq!(parse_scan_cursor(b"1 "), None);
        assert_eq!(parse_scan_cursor(b"+"), None);
        assert_eq!(parse_scan_cursor(b"-"), None);
        assert_eq!(parse_scan_cursor(b"0x10"), None);
        assert_eq!(parse_scan_cursor(b"12\0zz"), Some(12));
        assert_eq!(parse_scan_cursor(b"\0zz"), Some(0));
    }

    #[test]
    fn lfu_decay() {
        let now = 60 * 1000; // minute 1000
        assert_eq!(lfu_counter((1000 << 8) | 5, now, 1), 5);
        assert_eq!(lfu_counter((998 << 8) | 5, now, 1), 3);
        assert_eq!(lfu_counter((900 << 8) | 5, now, 1), 0);
        assert_eq!(lfu_counter((900 << 8) | 5, now, 0), 5);
        // The minute clock wraps at 16 bits.
        assert_eq!(lfu_counter((65535 << 8) | 9, 60 * 2, 1), 7);
    }

    #[test]
    fn idle_time_wraps() {
        assert_eq!(idle_seconds(100, 90), 10);
        assert_eq!(idle_seconds(5, crate::server::LRU_CLOCK_MAX - 5), 10);
    }

    #[test]
    fn shared_integer_refcount() {
        let o = RObj::string(b"9999", 0);
        assert_eq!(refcount(&o, true), 2147483647);
        assert_eq!(refcount(&o, false), 1);
        assert_eq!(refcount(&RObj::string(b"10000", 0), true), 1);
        assert_eq!(refcount(&RObj::string(b"-1", 0), true), 1);
        assert_eq!(refcount(&RObj::string(b"abc", 0), true), 1);
    }

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"nx\0junk"), b"nx");
        assert_eq!(cstr(b"plain"), b"plain");
    }
}
