//! The `stream` command group of Redis 7.0 (t_stream.c's command half): XADD, XLEN, XRANGE,
//! XREVRANGE, XDEL, XTRIM, XSETID, XREAD, XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM and XINFO. The structure lives in `types::stream`; this file decides the order
//! of checks, the replies, the events and what is propagated, as Redis 7.0.15:
//!
//! - XADD travels with the ID it generated (`*` and `ms-*` rewritten), and a `~` trim as the
//!   exact trim it did (`=` and the resulting length or first ID).
//! - XREADGROUP and XCLAIM/XAUTOCLAIM travel as one `XCLAIM key group consumer 0 id TIME t
//!   RETRYCOUNT n FORCE JUSTID LASTID last` per entry they gave out, plus `XGROUP SETID` when
//!   the group's last ID moved (and XGROUP CREATECONSUMER for a NOACK read's new consumer);
//!   the command itself is never propagated.
//! - XREAD/XREADGROUP with BLOCK park the client on the blocking machinery
//!   (src/server/blocked.rs) with the IDs resolved at blocking time (`$` as the last ID then);
//!   an XADD wakes them, and the re-run serves the ready key only, as
//!   serveClientsBlockedOnStreamKey does.

use super::{Args, Handler};
use crate::ds::listpack::LpElem;
use crate::ds::rax::{Rax, Seek};
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::types::stream::{
    parse_id, EntryRef, Group, Nack, Stream, StreamId, Trim, INVALID_ENTRIES_READ,
};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("xadd", xadd_command),
    ("xlen", xlen_command),
    ("xrange", xrange_command),
    ("xrevrange", xrevrange_command),
    ("xdel", xdel_command),
    ("xtrim", xtrim_command),
    ("xsetid", xsetid_command),
    ("xread", xread_command),
    ("xreadgroup", xread_command),
    ("xack", xack_command),
    ("xpending", xpending_command),
    ("xclaim", xclaim_command),
    ("xautoclaim", xautoclaim_command),
    ("xgroup|create", xgroup_command),
    ("xgroup|setid", xgroup_command),
    ("xgroup|destroy", xgroup_command),
    ("xgroup|createconsumer", xgroup_command),
    ("xgroup|delconsumer", xgroup_command),
    ("xgroup|help", xgroup_command),
    ("xinfo|stream", xinfo_command),
    ("xinfo|groups", xinfo_command),
    ("xinfo|consumers", xinfo_command),
    ("xinfo|help", xinfo_command),
];

const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
const ERR_SYNTAX: &str = "ERR syntax error";
const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// XREAD's COUNT when blocking without one (XREAD_BLOCKED_DEFAULT_COUNT).
const BLOCKED_DEFAULT_COUNT: i64 = 1000;

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

/// getLongLongFromObjectOrReply, with Redis's default message or `msg`.
fn ll_arg(c: &mut Client, a: &[u8], msg: Option<&str>) -> Option<i64> {
    let v = parse_i64(a);
    if v.is_none() {
        match msg {
            Some(m) => c.out.err(&format!("ERR {m}")),
            None => c.out.err(ERR_NOT_INT),
        }
    }
    v
}

/// streamParseStrictIDOrReply.
fn strict_id(c: &mut Client, a: &[u8]) -> Option<StreamId> {
    let id = parse_id(a, 0, true, None);
    if id.is_none() {
        c.out.err(ERR_INVALID_ID);
    }
    id
}

/// streamParseIDOrReply (accepts `-` and `+`).
fn loose_id(c: &mut Client, a: &[u8], missing_seq: u64) -> Option<StreamId> {
    let id = parse_id(a, missing_seq, false, None);
    if id.is_none() {
        c.out.err(ERR_INVALID_ID);
    }
    id
}

/// streamParseIntervalIDOrReply: an ID, `-`/`+`, or `(ID` for an exclusive bound. Returns the
/// ID and whether it was exclusive.
fn interval_id(c: &mut Client, a: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if a.len() > 1 && a[0] == b'(' {
        let id = parse_id(&a[1..], missing_seq, true, None);
        if id.is_none() {
            c.out.err(ERR_INVALID_ID);
        }
        return id.map(|i| (i, true));
    }
    loose_id(c, a, missing_seq).map(|i| (i, false))
}

/// A start bound, exclusive ones moved to the next ID.
fn start_bound(c: &mut Client, a: &[u8]) -> Option<StreamId> {
    let (mut id, ex) = interval_id(c, a, 0)?;
    if ex && !id.incr() {
        c.out.err("ERR invalid start ID for the interval");
        return None;
    }
    Some(id)
}

/// An end bound, exclusive ones moved to the previous ID.
fn end_bound(c: &mut Client, a: &[u8]) -> Option<StreamId> {
    let (mut id, ex) = interval_id(c, a, u64::MAX)?;
    if ex && !id.decr() {
        c.out.err("ERR invalid end ID for the interval");
        return None;
    }
    Some(id)
}

/// An ID as a bulk string.
fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(&id.to_bytes());
}

#[inline]
fn reply_elem(out: &mut Reply, e: LpElem<'_>) {
    match e {
        LpElem::Str(s) => out.bulk(s),
        LpElem::Int(v) => out.bulk_i64(v),
    }
}

/// One entry: [id, [field, value, ...]].
fn reply_entry(out: &mut Reply, e: &EntryRef<'_>) {
    out.array(2);
    reply_id(out, e.id);
    out.array(e.numfields() * 2);
    e.for_each_field(|f, v| {
        reply_elem(out, f);
        reply_elem(out, v);
    });
}

/// Entries in [start, end] as an array, at most `count` (0 = all) (streamReplyWithRange
/// without a group). Returns how many.
fn reply_range(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let d = out.defer();
    let n = reply_range_raw(out, s, start, end, count, rev);
    out.set_deferred_array(d, n);
    n
}

/// As [`reply_range`] without the array header (STREAM_RWR_RAWENTRIES).
fn reply_range_raw(
    out: &mut Reply,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut n = 0;
    s.range(start, end, rev, false, |e| {
        reply_entry(out, e);
        n += 1;
        count == 0 || n < count
    });
    n
}

/// The stream at `key`: Ok(None) when missing, Err after a WRONGTYPE reply.
fn get_stream<'a>(
    srv: &'a mut Server,
    c: &mut Client,
    key: &[u8],
    write: bool,
) -> Result<Option<&'a mut Stream>, ()> {
    let db = c.db;
    let o = if write {
        srv.lookup_write(db, key)
    } else {
        srv.lookup_read(db, key)
    };
    match o {
        None => Ok(None),
        Some(RObj {
            value: Value::Stream(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => {
            c.out.err(WRONGTYPE);
            Err(())
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    )
}

// ---------------------------------------------------------------------------------------------
// XADD, XTRIM
// ---------------------------------------------------------------------------------------------

/// streamAddTrimArgs.
struct AddTrimArgs {
    id: StreamId,
    id_given: bool,
    seq_given: bool,
    no_mkstream: bool,
    trim: Trim,
    /// Index of the MAXLEN/MINID value (for the propagation rewrite).
    trim_arg: usize,
    approx: bool,
    limit: i64,
}

/// streamParseAddOrTrimArgsOrReply: returns the args and the index of the ID (XADD).
fn parse_add_trim(
    srv: &Server,
    c: &mut Client,
    args: &Args,
    xadd: bool,
) -> Option<(AddTrimArgs, usize)> {
    let mut a = AddTrimArgs {
        id: StreamId::MIN,
        id_given: false,
        seq_given: true,
        no_mkstream: false,
        trim: Trim::None,
        trim_arg: 0,
        approx: false,
        limit: 0,
    };
    let mut limit_given = false;
    let argc = args.len();
    let mut i = 2;
    while i < argc {
        let moreargs = argc - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            break;
        } else if opt.eq_ignore_ascii_case(b"maxlen") && moreargs > 0 {
            if a.trim != Trim::None {
                c.out.err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
                return None;
            }
            a.approx = false;
            let next = args.get(i + 1);
            if moreargs >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            let v = ll_arg(c, args.get(i + 1), None)?;
            if v < 0 {
                c.out.err("ERR The MAXLEN argument must be >= 0.");
                return None;
            }
            i += 1;
            a.trim = Trim::MaxLen(v as u64);
            a.trim_arg = i;
        } else if opt.eq_ignore_ascii_case(b"minid") && moreargs > 0 {
            if a.trim != Trim::None {
                c.out.err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
                return None;
            }
            a.approx = false;
            let next = args.get(i + 1);
            if moreargs >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            let id = strict_id(c, args.get(i + 1))?;
            i += 1;
            a.trim = Trim::MinId(id);
            a.trim_arg = i;
        } else if opt.eq_ignore_ascii_case(b"limit") && moreargs > 0 {
            let v = ll_arg(c, args.get(i + 1), None)?;
            if v < 0 {
                c.out.err("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            a.limit = v;
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let mut seq_given = true;
            let Some(id) = parse_id(opt, 0, true, Some(&mut seq_given)) else {
                c.out.err(ERR_INVALID_ID);
                return None;
            };
            a.id = id;
            a.seq_given = seq_given;
            a.id_given = true;
            break;
        } else {
            c.out.err(ERR_SYNTAX);
            return None;
        }
        i += 1;
    }
    if a.limit != 0 && a.trim == Trim::None {
        c.out
            .err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && a.trim == Trim::None {
        c.out
            .err("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if srv.loading {
        // The AOF (like a master) is obeyed: its trims were rewritten exact.
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            c.out
                .err("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if a.approx {
        a.limit = 100i64.saturating_mul(srv.config.stream_node_max_entries);
        if a.limit <= 0 {
            a.limit = 10000;
        }
        if a.limit > 1_000_000 {
            a.limit = 1_000_000;
        }
    } else {
        a.limit = 0;
    }
    Some((a, i))
}

/// The argv a `~` trim travels as: `=` and the exact result (streamRewriteApproxSpecifier,
/// streamRewriteTrimArgument).
fn rewrite_trim(argv: &mut [Vec<u8>], s: &Stream, a: &AddTrimArgs) {
    argv[a.trim_arg - 1] = b"=".to_vec();
    argv[a.trim_arg] = match a.trim {
        Trim::MaxLen(_) => s.length.to_string().into_bytes(),
        _ => s.edge_id(true, false).to_bytes(),
    };
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some((a, idpos)) = parse_add_trim(srv, c, args, true) else {
        return;
    };
    let field_pos = idpos + 1;
    let argc = args.len();
    if argc < field_pos + 2 || (argc - field_pos) % 2 == 1 {
        return c
            .out
            .err("ERR wrong number of arguments for 'xadd' command");
    }
    if a.id_given && a.seq_given && a.id.is_zero() {
        return c
            .out
            .err("ERR The ID specified in XADD must be greater than 0-0");
    }
    let db = c.db;
    let key = args.get(1);
    let max_bytes = srv.config.stream_node_max_bytes;
    let max_entries = srv.config.stream_node_max_entries;
    let now = srv.cmd_time_ms.max(0) as u64;
    let prop = srv.prop.active;
    let s = match get_stream(srv, c, key, true) {
        Err(()) => return,
        Ok(Some(s)) => s,
        Ok(None) if a.no_mkstream => return c.out.null(),
        Ok(None) => {
            let lru = srv.lru_clock;
            srv.add_key(
                db,
                key,
                RObj::new(Value::Stream(Box::new(Stream::new())), lru),
            );
            match get_stream(srv, c, key, true) {
                Ok(Some(s)) => s,
                _ => return,
            }
        }
    };
    if s.last_id == StreamId::MAX {
        return c
            .out
            .err("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    // streamAppendItem's ID choice and checks.
    let id = if a.id_given {
        if a.seq_given {
            a.id
        } else if a.id.ms == s.last_id.ms {
            if s.last_id.seq == u64::MAX {
                return c.out.err(
                    "ERR The ID specified in XADD is equal or smaller than the target stream top item",
                );
            }
            StreamId::new(a.id.ms, s.last_id.seq + 1)
        } else {
            a.id
        }
    } else {
        s.next_id(now)
    };
    if id <= s.last_id {
        return c.out.err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    }
    let fields: Vec<&[u8]> = (field_pos..argc).map(|i| args.get(i)).collect();
    let total: u64 = fields.iter().map(|f| f.len() as u64).sum();
    if total > crate::types::stream::LISTPACK_MAX_SIZE {
        return c.out.err("ERR Elements are too large to be stored");
    }
    s.append(id, &fields, max_bytes, max_entries);
    reply_id(&mut c.out, id);
    let trimmed = if a.trim != Trim::None {
        s.trim(a.trim, a.approx, a.limit)
    } else {
        0
    };
    let mut rewritten = None;
    if prop && (a.approx || !a.id_given || !a.seq_given) {
        let mut argv = args.to_vecs();
        if a.approx {
            rewrite_trim(&mut argv, s, &a);
        }
        if !a.id_given || !a.seq_given {
            argv[idpos] = id.to_bytes();
        }
        rewritten = Some(argv);
    }
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STREAM, "xadd", key, db);
    srv.dirty += 1;
    if trimmed != 0 {
        srv.notify_keyspace_event(notify::STREAM, "xtrim", key, db);
    }
    if let Some(argv) = rewritten {
        srv.rewrite_command(|| argv);
    }
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let Some((a, _)) = parse_add_trim(srv, c, args, false) else {
        return;
    };
    let s = match get_stream(srv, c, key, true) {
        Err(()) => return,
        Ok(None) => return c.out.int(0),
        Ok(Some(s)) => s,
    };
    let deleted = s.trim(a.trim, a.approx, a.limit);
    let mut argv = None;
    if deleted != 0 && a.approx {
        let mut v = args.to_vecs();
        rewrite_trim(&mut v, s, &a);
        argv = Some(v);
    }
    if deleted != 0 {
        srv.notify_keyspace_event(notify::STREAM, "xtrim", key, db);
        srv.signal_modified_key(db, key);
        // Wrapping: a RESTOREd node may count fewer (even negative) entries than it holds,
        // and streamTrim's count follows it.
        srv.dirty = srv.dirty.wrapping_add(deleted as u64);
    }
    if let Some(v) = argv {
        srv.rewrite_command(|| v);
    }
    c.out.int(deleted);
}

// ---------------------------------------------------------------------------------------------
// XLEN, XRANGE, XREVRANGE, XDEL, XSETID
// ---------------------------------------------------------------------------------------------

/// XLEN key
fn xlen_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match get_stream(srv, c, args.get(1), false) {
        Err(()) => {}
        Ok(None) => c.out.int(0),
        Ok(Some(s)) => {
            let n = s.length as i64;
            c.out.int(n)
        }
    }
}

/// XRANGE / XREVRANGE (xrangeGenericCommand).
fn xrange_generic(srv: &mut Server, c: &mut Client, args: &Args, rev: bool) {
    let (sa, ea) = if rev {
        (args.get(3), args.get(2))
    } else {
        (args.get(2), args.get(3))
    };
    let Some(start) = start_bound(c, sa) else {
        return;
    };
    let Some(end) = end_bound(c, ea) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        let additional = args.len() - j - 1;
        if args.is(j, "count") && additional >= 1 {
            let Some(v) = ll_arg(c, args.get(j + 1), None) else {
                return;
            };
            count = v.max(0);
            j += 1;
        } else {
            return c.out.err(ERR_SYNTAX);
        }
        j += 1;
    }
    let s = match get_stream(srv, c, args.get(1), false) {
        Err(()) => return,
        Ok(None) => return c.out.array(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return c.out.null_array();
    }
    let count = if count == -1 { 0 } else { count as usize };
    reply_range(&mut c.out, s, start, end, count, rev);
}

/// XRANGE key start end [COUNT count]
fn xrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    xrange_generic(srv, c, args, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    xrange_generic(srv, c, args, true)
}

/// XDEL key id [id ...]
fn xdel_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    match get_stream(srv, c, key, true) {
        Err(()) => return,
        Ok(None) => return c.out.int(0),
        Ok(Some(_)) => {}
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for j in 2..args.len() {
        let Some(id) = strict_id(c, args.get(j)) else {
            return;
        };
        ids.push(id);
    }
    let Ok(Some(s)) = get_stream(srv, c, key, true) else {
        return;
    };
    let mut deleted = 0i64;
    let mut first_entry = false;
    for id in ids {
        if s.delete_entry(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted_entry_id {
                s.max_deleted_entry_id = id;
            }
            deleted += 1;
        }
    }
    if deleted != 0 {
        if s.length == 0 {
            s.first_id = StreamId::MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, true);
        }
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::STREAM, "xdel", key, db);
        srv.dirty += deleted as u64;
    }
    c.out.int(deleted);
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let Some(id) = strict_id(c, args.get(2)) else {
        return;
    };
    let mut max_xdel = StreamId::MIN;
    let mut entries_added: i64 = -1;
    let mut i = 3;
    while i < args.len() {
        let moreargs = args.len() - 1 - i;
        if args.is(i, "entriesadded") && moreargs > 0 {
            let Some(v) = ll_arg(c, args.get(i + 1), None) else {
                return;
            };
            if v < 0 {
                return c.out.err("ERR entries_added must be positive");
            }
            entries_added = v;
            i += 2;
        } else if args.is(i, "maxdeletedid") && moreargs > 0 {
            let Some(v) = strict_id(c, args.get(i + 1)) else {
                return;
            };
            if id < v {
                return c.out.err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_xdel = v;
            i += 2;
        } else {
            return c.out.err(ERR_SYNTAX);
        }
    }
    let s = match get_stream(srv, c, key, true) {
        Err(()) => return,
        Ok(None) => return c.out.err("ERR no such key"),
        Ok(Some(s)) => s,
    };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return c
                .out
                .err("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return c.out.err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_entry_id = max_xdel;
    }
    c.out.ok();
    srv.signal_modified_key(db, key);
    srv.notify_keyspace_event(notify::STREAM, "xsetid", key, db);
    srv.dirty += 1;
}

// ---------------------------------------------------------------------------------------------
// Consumer-group reads and their propagation
// ---------------------------------------------------------------------------------------------

/// What a group read did besides replying, applied once the stream is no longer borrowed.
#[derive(Default)]
struct Effects {
    /// Commands to propagate (only collected while propagation is active).
    props: Vec<Vec<Vec<u8>>>,
    /// Consumers created (each is an "xgroup-createconsumer" event and a dirty bump).
    consumers_created: u64,
    dirty: u64,
}

/// streamPropagateXCLAIM's argv.
fn xclaim_argv(key: &[u8], group: &[u8], g: &Group, id: &[u8], nack: &Nack) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        nack.consumer.clone().unwrap_or_default(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        g.last_id.to_bytes(),
    ]
}

/// streamPropagateGroupID's argv.
fn setid_argv(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// A group read's context.
struct GroupRead<'a> {
    key: &'a [u8],
    group_name: &'a [u8],
    consumer: &'a [u8],
    noack: bool,
    now: i64,
    prop: bool,
}

/// streamReplyWithRange with a group (new entries, `>`): replies with the entries after
/// `start`, moving the group's last ID and read counter, and adding them to the PEL (unless
/// NOACK) with their XCLAIM propagation. `groups` is the stream's group table, taken out of
/// `s` for the duration. Returns how many entries were sent.
fn group_read_new(
    out: &mut Reply,
    s: &Stream,
    g: &mut Group,
    start: StreamId,
    count: usize,
    r: &GroupRead<'_>,
    fx: &mut Effects,
) -> usize {
    let d = out.defer();
    let mut n = 0;
    let mut propagate_last_id = false;
    s.range(start, StreamId::MAX, false, false, |e| {
        if e.id > g.last_id {
            if g.entries_read != INVALID_ENTRIES_READ && !s.range_has_tombstones(Some(e.id), None) {
                g.entries_read = g.entries_read.wrapping_add(1);
            } else if s.entries_added != 0 {
                g.entries_read = s.estimate_distance(e.id);
            }
            g.last_id = e.id;
            if r.noack {
                propagate_last_id = true;
            }
        }
        reply_entry(out, e);
        if !r.noack {
            let key = e.id.encode();
            match g.pel.get_mut(&key) {
                None => {
                    g.pel.insert(
                        &key,
                        Nack {
                            consumer: Some(r.consumer.to_vec()),
                            delivery_time: r.now,
                            delivery_count: 1,
                        },
                    );
                    if let Some(c) = g.consumers.get_mut(r.consumer) {
                        c.pel.insert(&key, ());
                    }
                }
                Some(nack) => {
                    let old = nack.consumer.replace(r.consumer.to_vec());
                    nack.delivery_time = r.now;
                    nack.delivery_count = 1;
                    if let Some(old) = old {
                        if let Some(oc) = g.consumers.get_mut(&old) {
                            oc.pel.remove(&key);
                        }
                    }
                    if let Some(c) = g.consumers.get_mut(r.consumer) {
                        c.pel.insert(&key, ());
                    }
                }
            }
            if r.prop {
                let nack = g.pel.get(&key).expect("just added");
                fx.props
                    .push(xclaim_argv(r.key, r.group_name, g, &e.id.to_bytes(), nack));
            }
        }
        n += 1;
        count == 0 || n < count
    });
    if propagate_last_id && r.prop {
        fx.props.push(setid_argv(r.key, r.group_name, g));
    }
    out.set_deferred_array(d, n);
    n
}

/// streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries from `start`,
/// each with its data (or a null when the entry was deleted), bumping their delivery.
fn group_read_history(
    out: &mut Reply,
    s: &Stream,
    g: &mut Group,
    start: StreamId,
    count: usize,
    r: &GroupRead<'_>,
) -> usize {
    let keys: Vec<Vec<u8>> = {
        let Some(c) = g.consumers.get(r.consumer) else {
            out.array(0);
            return 0;
        };
        let mut it = c.pel.iter();
        it.seek(Seek::Ge, &start.encode());
        let mut v = Vec::new();
        while let Some((k, _)) = it.next() {
            if count != 0 && v.len() >= count {
                break;
            }
            v.push(k.to_vec());
        }
        v
    };
    out.array(keys.len());
    for k in &keys {
        let id = StreamId::decode(k).unwrap_or_default();
        if reply_range_raw(out, s, id, id, 1, false) == 0 {
            out.array(2);
            reply_id(out, id);
            out.null_array();
        } else if let Some(nack) = g.pel.get_mut(k) {
            nack.delivery_time = r.now;
            nack.delivery_count = nack.delivery_count.wrapping_add(1);
        }
    }
    keys.len()
}

// ---------------------------------------------------------------------------------------------
// XREAD, XREADGROUP
// ---------------------------------------------------------------------------------------------

/// XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]
/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
fn xread_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let xreadgroup = args.get(0).len() == 10;
    let mut timeout: i64 = -1;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut streams_count = 0;
    let mut noack = false;
    let mut group_name: Option<&[u8]> = None;
    let mut consumer_name: &[u8] = b"";
    let argc = args.len();
    let mut i = 1;
    while i < argc {
        let moreargs = argc - i - 1;
        let o = args.get(i);
        if o.eq_ignore_ascii_case(b"block") && moreargs > 0 {
            i += 1;
            let Some(t) = parse_i64(args.get(i)) else {
                return c.out.err("ERR timeout is not an integer or out of range");
            };
            if t < 0 {
                return c.out.err("ERR timeout is negative");
            }
            timeout = t;
        } else if o.eq_ignore_ascii_case(b"count") && moreargs > 0 {
            i += 1;
            let Some(v) = ll_arg(c, args.get(i), None) else {
                return;
            };
            count = v.max(0);
        } else if o.eq_ignore_ascii_case(b"streams") && moreargs > 0 {
            streams_arg = i + 1;
            streams_count = argc - streams_arg;
            if streams_count % 2 != 0 {
                // 7.0.15 names XREAD and '$' for both commands.
                return c.out.err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            streams_count /= 2;
            break;
        } else if o.eq_ignore_ascii_case(b"group") && moreargs >= 2 {
            if !xreadgroup {
                return c.out.err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            group_name = Some(args.get(i + 1));
            consumer_name = args.get(i + 2);
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !xreadgroup {
                return c.out.err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            noack = true;
        } else {
            return c.out.err(ERR_SYNTAX);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return c.out.err(ERR_SYNTAX);
    }
    if xreadgroup && group_name.is_none() {
        return c.out.err("ERR Missing GROUP option for XREADGROUP");
    }
    let db = c.db;
    let retry = c.reprocessing_blocked;
    // On a re-run for a ready key: the IDs resolved when the client blocked.
    let saved_ids = if retry {
        std::mem::take(&mut srv.blocking.serving_stream_ids)
    } else {
        Vec::new()
    };
    let serving = if retry {
        srv.blocking.serving.clone()
    } else {
        None
    };
    if let Some(key) = serving {
        return xread_serve_blocked(
            srv,
            c,
            args,
            &key,
            streams_arg,
            streams_count,
            saved_ids,
            (group_name, consumer_name, noack),
            count,
        );
    }
    // Parse the IDs and resolve the groups.
    let mut ids = Vec::with_capacity(streams_count);
    for k in 0..streams_count {
        let key = args.get(streams_arg + k);
        let arg = args.get(streams_arg + streams_count + k);
        let s = match get_stream(srv, c, key, false) {
            Err(()) => return,
            Ok(s) => s,
        };
        if let Some(g) = group_name {
            if s.as_ref().and_then(|s| s.group(g)).is_none() {
                return c.out.err(&format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    lossy(key),
                    lossy(g)
                ));
            }
        }
        if arg == b"$" {
            if xreadgroup {
                return c.out.err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            ids.push(s.map_or(StreamId::MIN, |s| s.last_id));
            continue;
        } else if arg == b">" {
            if !xreadgroup {
                return c.out.err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            ids.push(StreamId::MAX);
            continue;
        }
        let Some(id) = strict_id(c, arg) else {
            return;
        };
        ids.push(id);
    }
    // Serve synchronously what can be served.
    let mut served = 0usize;
    let mut d = None;
    let mut fx = Effects::default();
    let prop = srv.prop.active;
    let now = srv.cmd_time_ms;
    for (k, &want) in ids.iter().enumerate() {
        let key = args.get(streams_arg + k);
        let Ok(Some(s)) = get_stream(srv, c, key, false) else {
            continue;
        };
        let mut gt = want;
        let mut serve = false;
        let mut history = false;
        if let Some(g) = group_name {
            let last = s.group(g).map_or(StreamId::MIN, |g| g.last_id);
            if gt != StreamId::MAX {
                serve = true;
                history = true;
            } else if s.length != 0 && s.last_valid_id() > last {
                serve = true;
                gt = last;
            }
        } else if s.length != 0 && s.last_valid_id() > gt {
            serve = true;
        }
        if !serve {
            continue;
        }
        served += 1;
        if served == 1 {
            d = Some(c.out.defer());
        }
        let mut start = gt;
        start.incr();
        if !c.out.resp3 {
            c.out.array(2);
        }
        c.out.bulk(key);
        match group_name {
            None => {
                reply_range(&mut c.out, s, start, StreamId::MAX, count as usize, false);
            }
            Some(gname) => {
                let mut groups = s.groups.take().expect("group checked above");
                let g = groups.get_mut(gname).expect("group checked above");
                touch_consumer(g, key, gname, consumer_name, now, noack && prop, &mut fx);
                let r = GroupRead {
                    key,
                    group_name: gname,
                    consumer: consumer_name,
                    noack,
                    now,
                    prop,
                };
                if history {
                    group_read_history(&mut c.out, s, g, start, count as usize, &r);
                } else {
                    group_read_new(&mut c.out, s, g, start, count as usize, &r, &mut fx);
                }
                s.groups = Some(groups);
                fx.dirty += 1;
            }
        }
        if !fx.props.is_empty() || fx.consumers_created != 0 {
            apply_effects(srv, db, key, &mut fx);
        }
    }
    srv.dirty += std::mem::take(&mut fx.dirty);
    // A group read travels as its effects only.
    srv.prevent_propagation();
    if let Some(d) = d {
        if c.out.resp3 {
            c.out.set_deferred_map(d, served);
        } else {
            c.out.set_deferred_array(d, served);
        }
        return;
    }
    if timeout != -1 {
        if c.deny_blocking {
            return c.out.null_array();
        }
        let keys: Vec<&[u8]> = (0..streams_count)
            .map(|k| args.get(streams_arg + k))
            .collect();
        let deadline = if timeout == 0 {
            0
        } else {
            srv.cmd_time_ms.checked_add(timeout).unwrap_or(0)
        };
        srv.block_for_keys(c, args, &keys, deadline);
        if let Some(b) = c.blocked.as_mut() {
            b.stream_ids = ids;
        }
        return;
    }
    c.out.null_array();
}

/// The reading consumer of XREADGROUP: created if missing (with NOACK its creation travels
/// as XGROUP CREATECONSUMER, since no XCLAIM will carry it), else its seen-time refreshed.
fn touch_consumer(
    g: &mut Group,
    key: &[u8],
    gname: &[u8],
    consumer_name: &[u8],
    now: i64,
    propagate_creation: bool,
    fx: &mut Effects,
) {
    if !g.consumers.contains(consumer_name) {
        g.create_consumer(consumer_name, now);
        fx.consumers_created += 1;
        if propagate_creation {
            fx.props.push(vec![
                b"XGROUP".to_vec(),
                b"CREATECONSUMER".to_vec(),
                key.to_vec(),
                gname.to_vec(),
                consumer_name.to_vec(),
            ]);
        }
    } else if let Some(cons) = g.consumers.get_mut(consumer_name) {
        cons.seen_time = now;
    }
}

/// Applies a group read's side effects for `key`: new-consumer events and the propagation.
fn apply_effects(srv: &mut Server, db: usize, key: &[u8], fx: &mut Effects) {
    for _ in 0..fx.consumers_created {
        srv.notify_keyspace_event(notify::STREAM, "xgroup-createconsumer", key, db);
        srv.dirty += 1;
    }
    fx.consumers_created = 0;
    for argv in fx.props.drain(..) {
        srv.also_propagate(db, || argv);
    }
}

/// The re-run of a blocked XREAD/XREADGROUP for the ready `key`
/// (serveClientsBlockedOnStreamKey): serves that key only, with the ID saved at blocking
/// time (or the group's current last ID), else stays blocked.
#[allow(clippy::too_many_arguments)]
fn xread_serve_blocked(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    key: &[u8],
    streams_arg: usize,
    streams_count: usize,
    saved_ids: Vec<StreamId>,
    grp: (Option<&[u8]>, &[u8], bool),
    count: i64,
) {
    let (group_name, consumer_name, noack) = grp;
    let db = c.db;
    let idx = (0..streams_count).find(|&k| args.get(streams_arg + k) == key);
    let keys_again = |args: &Args| -> Vec<Vec<u8>> {
        (0..streams_count)
            .map(|k| args.get(streams_arg + k).to_vec())
            .collect()
    };
    // Still nothing to serve: the client stays parked where it is.
    let stay = |srv: &mut Server, c: &mut Client, _ids: Vec<StreamId>| {
        let keys = keys_again(args);
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        srv.block_for_keys(c, args, &keys, 0);
    };
    let Some(idx) = idx else {
        return stay(srv, c, saved_ids);
    };
    let prop = srv.prop.active;
    let now = srv.cmd_time_ms;
    let s = match srv.lookup_write(db, key) {
        Some(RObj {
            value: Value::Stream(s),
            ..
        }) => s,
        _ => {
            if group_name.is_some() {
                return c.out.err("UNBLOCKED the stream key no longer exists");
            }
            return stay(srv, c, saved_ids);
        }
    };
    let mut gt = saved_ids.get(idx).copied().unwrap_or(StreamId::MAX);
    if let Some(g) = group_name {
        match s.group(g) {
            None => {
                return c
                    .out
                    .err("NOGROUP the consumer group this client was blocked on no longer exists");
            }
            Some(grp) => gt = grp.last_id,
        }
    }
    if s.last_id <= gt {
        return stay(srv, c, saved_ids);
    }
    let mut start = gt;
    start.incr();
    let count = if count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        count
    } as usize;
    if c.out.resp3 {
        c.out.map(1);
    } else {
        c.out.array(1);
        c.out.array(2);
    }
    c.out.bulk(key);
    let mut fx = Effects::default();
    match group_name {
        None => {
            reply_range(&mut c.out, s, start, StreamId::MAX, count, false);
        }
        Some(gname) => {
            let mut groups = s.groups.take().expect("group checked above");
            let g = groups.get_mut(gname).expect("group checked above");
            touch_consumer(g, key, gname, consumer_name, now, noack && prop, &mut fx);
            let r = GroupRead {
                key,
                group_name: gname,
                consumer: consumer_name,
                noack,
                now,
                prop,
            };
            group_read_new(&mut c.out, s, g, start, count, &r, &mut fx);
            s.groups = Some(groups);
        }
    }
    apply_effects(srv, db, key, &mut fx);
    srv.prevent_propagation();
}

// ---------------------------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP (xgroupCommand).
fn xgroup_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let argc = args.len();
    let opt = args.get(1).to_ascii_lowercase();
    let db = c.db;
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut exists = false;
    if argc >= 4 {
        if opt == b"create" && argc >= 5 {
            let mut i = 5;
            while i < argc {
                if args.is(i, "mkstream") {
                    mkstream = true;
                    i += 1;
                } else if args.is(i, "entriesread") && i + 1 < argc {
                    let Some(v) = ll_arg(c, args.get(i + 1), None) else {
                        return;
                    };
                    if v < 0 && v != INVALID_ENTRIES_READ {
                        return c
                            .out
                            .err("ERR value for ENTRIESREAD must be positive or -1");
                    }
                    entries_read = v;
                    i += 2;
                } else {
                    return super::connection::subcommand_syntax_error(c, args);
                }
            }
        } else if opt == b"setid" && argc >= 5 {
            let mut i = 5;
            while i < argc {
                if args.is(i, "entriesread") && i + 1 < argc {
                    let Some(v) = ll_arg(c, args.get(i + 1), None) else {
                        return;
                    };
                    if v < 0 && v != INVALID_ENTRIES_READ {
                        return c
                            .out
                            .err("ERR value for ENTRIESREAD must be positive or -1");
                    }
                    entries_read = v;
                    i += 2;
                } else {
                    return super::connection::subcommand_syntax_error(c, args);
                }
            }
        }
        let key = args.get(2);
        let gname = args.get(3);
        match get_stream(srv, c, key, true) {
            Err(()) => return,
            Ok(s) => exists = s.is_some(),
        }
        let has_group = match get_stream(srv, c, key, true) {
            Ok(Some(s)) => s.group(gname).is_some(),
            _ => false,
        };
        if !mkstream {
            if !exists {
                return c.out.err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
            }
            if !has_group && (opt == b"setid" || opt == b"createconsumer" || opt == b"delconsumer")
            {
                return c.out.err(&format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    lossy(gname),
                    lossy(key)
                ));
            }
        }
    }
    if argc == 2 && opt == b"help" {
        return super::connection::reply_help(c, "XGROUP", XGROUP_HELP);
    }
    let key = if argc >= 3 { args.get(2) } else { b"" };
    let gname = if argc >= 4 { args.get(3) } else { b"" };
    if opt == b"create" && (5..=8).contains(&argc) {
        let id_arg = args.get(4);
        let id = if id_arg == b"$" {
            match get_stream(srv, c, key, true) {
                Ok(Some(s)) => s.last_id,
                _ => StreamId::MIN,
            }
        } else {
            let Some(id) = strict_id(c, id_arg) else {
                return;
            };
            id
        };
        if !exists {
            let lru = srv.lru_clock;
            srv.add_key(
                db,
                key,
                RObj::new(Value::Stream(Box::new(Stream::new())), lru),
            );
            srv.signal_modified_key(db, key);
        }
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        if s.create_group(gname, id, entries_read) {
            c.out.ok();
            srv.dirty += 1;
            srv.notify_keyspace_event(notify::STREAM, "xgroup-create", key, db);
        } else {
            c.out.err("BUSYGROUP Consumer Group name already exists");
        }
    } else if opt == b"setid" && (argc == 5 || argc == 7) {
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        let last = s.last_id;
        let id_arg = args.get(4);
        let id = if id_arg == b"$" {
            last
        } else {
            let Some(id) = loose_id(c, id_arg, 0) else {
                return;
            };
            id
        };
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        if let Some(g) = s.group_mut(gname) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        c.out.ok();
        srv.dirty += 1;
        srv.notify_keyspace_event(notify::STREAM, "xgroup-setid", key, db);
    } else if opt == b"destroy" && argc == 4 {
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        let removed = s.groups.as_mut().and_then(|g| g.remove(gname)).is_some();
        if removed {
            c.out.int(1);
            srv.dirty += 1;
            srv.notify_keyspace_event(notify::STREAM, "xgroup-destroy", key, db);
            // Blocked XREADGROUP clients of that group get -NOGROUP.
            srv.signal_key_as_ready(db, key);
        } else {
            c.out.int(0);
        }
    } else if opt == b"createconsumer" && argc == 5 {
        let now = srv.cmd_time_ms;
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        let created = s
            .group_mut(gname)
            .is_some_and(|g| g.create_consumer(args.get(4), now));
        if created {
            srv.dirty += 1;
            srv.notify_keyspace_event(notify::STREAM, "xgroup-createconsumer", key, db);
        }
        c.out.int(created as i64);
    } else if opt == b"delconsumer" && argc == 5 {
        let Ok(Some(s)) = get_stream(srv, c, key, true) else {
            return;
        };
        let pending = s
            .group_mut(gname)
            .and_then(|g| g.delete_consumer(args.get(4)));
        if pending.is_some() {
            srv.dirty += 1;
            srv.notify_keyspace_event(notify::STREAM, "xgroup-delconsumer", key, db);
        }
        c.out.int(pending.unwrap_or(0) as i64);
    } else {
        super::connection::subcommand_syntax_error(c, args);
    }
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------------

/// XACK key group id [id ...]
fn xack_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let key = args.get(1);
    let gname = args.get(2);
    let has = match get_stream(srv, c, key, false) {
        Err(()) => return,
        Ok(s) => s.is_some_and(|s| s.group(gname).is_some()),
    };
    if !has {
        return c.out.int(0);
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for j in 3..args.len() {
        let Some(id) = strict_id(c, args.get(j)) else {
            return;
        };
        ids.push(id);
    }
    let Ok(Some(s)) = get_stream(srv, c, key, false) else {
        return;
    };
    let g = s.group_mut(gname).expect("checked");
    let mut acked = 0i64;
    for id in ids {
        if g.ack(&id.encode()) {
            acked += 1;
        }
    }
    srv.dirty += acked as u64;
    c.out.int(acked);
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
fn xpending_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let argc = args.len();
    let justinfo = argc == 3;
    let key = args.get(1);
    let gname = args.get(2);
    if argc != 3 && !(6..=9).contains(&argc) {
        return c.out.err(ERR_SYNTAX);
    }
    let mut minidle = 0i64;
    let mut count = 0i64;
    let mut start = StreamId::MIN;
    let mut end = StreamId::MAX;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut startidx = 3;
        if args.is(3, "idle") {
            let Some(v) = ll_arg(c, args.get(4), None) else {
                return;
            };
            minidle = v;
            if argc < 8 {
                return c.out.err(ERR_SYNTAX);
            }
            startidx += 2;
        }
        let Some(v) = ll_arg(c, args.get(startidx + 2), None) else {
            return;
        };
        count = v.max(0);
        let Some(s) = start_bound(c, args.get(startidx)) else {
            return;
        };
        start = s;
        let Some(e) = end_bound(c, args.get(startidx + 1)) else {
            return;
        };
        end = e;
        if startidx + 3 < argc {
            consumer = Some(args.get(startidx + 3));
        }
    }
    let now = srv.cmd_time_ms;
    let s = match get_stream(srv, c, key, false) {
        Err(()) => return,
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.group(gname)) else {
        return c.out.err(&nogroup_key_group(key, gname));
    };
    if justinfo {
        c.out.array(4);
        c.out.int(g.pel.len() as i64);
        if g.pel.is_empty() {
            c.out.null();
            c.out.null();
            c.out.null_array();
            return;
        }
        let first = g.pel.first().map(|(k, _)| k).unwrap_or_default();
        let last = g.pel.last().map(|(k, _)| k).unwrap_or_default();
        reply_id(&mut c.out, StreamId::decode(&first).unwrap_or_default());
        reply_id(&mut c.out, StreamId::decode(&last).unwrap_or_default());
        let d = c.out.defer();
        let mut n = 0;
        g.consumers.for_each(|name, cons| {
            if cons.pel.is_empty() {
                return;
            }
            c.out.array(2);
            c.out.bulk(name);
            c.out.bulk_i64(cons.pel.len() as i64);
            n += 1;
        });
        c.out.set_deferred_array(d, n);
        return;
    }
    let owned = match consumer {
        Some(name) => match g.consumers.get(name) {
            None => return c.out.array(0),
            Some(cons) => Some(&cons.pel),
        },
        None => None,
    };
    let endk = end.encode();
    let d = c.out.defer();
    let mut n = 0;
    let mut emit = |k: &[u8], nack: &Nack, out: &mut Reply| -> bool {
        if count == 0 || k > &endk[..] {
            return false;
        }
        if minidle != 0 && now.saturating_sub(nack.delivery_time) < minidle {
            return true;
        }
        n += 1;
        count -= 1;
        out.array(4);
        reply_id(out, StreamId::decode(k).unwrap_or_default());
        out.bulk(nack.consumer.as_deref().unwrap_or(b""));
        out.int(now.saturating_sub(nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
        true
    };
    match owned {
        Some(pel) => {
            let mut it = pel.iter();
            it.seek(Seek::Ge, &start.encode());
            while let Some((k, _)) = it.next() {
                let Some(nack) = g.pel.get(k) else { continue };
                if !emit(k, nack, &mut c.out) {
                    break;
                }
            }
        }
        None => {
            let mut it = g.pel.iter();
            it.seek(Seek::Ge, &start.encode());
            while let Some((k, nack)) = it.next() {
                if !emit(k, nack, &mut c.out) {
                    break;
                }
            }
        }
    }
    c.out.set_deferred_array(d, n);
}

/// Moves a pending entry to `consumer` (which exists), with its new delivery time and, when
/// given, delivery count.
fn claim_to(g: &mut Group, key: &[u8], consumer: &[u8], time: i64, count: Option<u64>) {
    let Some(nack) = g.pel.get_mut(key) else {
        return;
    };
    let old = nack.consumer.replace(consumer.to_vec());
    nack.delivery_time = time;
    if let Some(n) = count {
        nack.delivery_count = n;
    }
    if old.as_deref() != Some(consumer) {
        if let Some(old) = old {
            if let Some(oc) = g.consumers.get_mut(&old) {
                oc.pel.remove(key);
            }
        }
        if let Some(cons) = g.consumers.get_mut(consumer) {
            cons.pel.insert(key, ());
        }
    }
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
fn xclaim_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let has = match get_stream(srv, c, key, false) {
        Err(()) => return,
        Ok(s) => s.is_some_and(|s| s.group(gname).is_some()),
    };
    if !has {
        return c.out.err(&nogroup_key_group(key, gname));
    }
    let Some(minidle) = ll_arg(
        c,
        args.get(4),
        Some("Invalid min-idle-time argument for XCLAIM"),
    ) else {
        return;
    };
    let minidle = minidle.max(0);
    let argc = args.len();
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argc {
        match parse_id(args.get(j), 0, true, None) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = srv.cmd_time_ms;
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut force = false;
    let mut justid = false;
    let mut last_id = StreamId::MIN;
    while j < argc {
        let moreargs = argc - 1 - j;
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && moreargs > 0 {
            j += 1;
            let Some(v) = ll_arg(
                c,
                args.get(j),
                Some("Invalid IDLE option argument for XCLAIM"),
            ) else {
                return;
            };
            deliverytime = now.wrapping_sub(v);
        } else if opt.eq_ignore_ascii_case(b"time") && moreargs > 0 {
            j += 1;
            let Some(v) = ll_arg(
                c,
                args.get(j),
                Some("Invalid TIME option argument for XCLAIM"),
            ) else {
                return;
            };
            deliverytime = v;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && moreargs > 0 {
            j += 1;
            let Some(v) = ll_arg(
                c,
                args.get(j),
                Some("Invalid RETRYCOUNT option argument for XCLAIM"),
            ) else {
                return;
            };
            retrycount = v;
        } else if opt.eq_ignore_ascii_case(b"lastid") && moreargs > 0 {
            j += 1;
            let Some(v) = strict_id(c, args.get(j)) else {
                return;
            };
            last_id = v;
        } else {
            return c
                .out
                .err(&format!("ERR Unrecognized XCLAIM option '{}'", lossy(opt)));
        }
        j += 1;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let prop = srv.prop.active;
    let Ok(Some(s)) = get_stream(srv, c, key, false) else {
        return;
    };
    let mut groups = s.groups.take().expect("checked");
    let g = groups.get_mut(gname).expect("checked");
    let mut propagate_last_id = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        propagate_last_id = true;
    }
    let mut fx = Effects::default();
    let d = c.out.defer();
    let mut n = 0;
    let mut consumer_ready = false;
    for (idx, id) in ids.iter().enumerate() {
        let k = id.encode();
        let id_arg = args.get(5 + idx);
        if !s.entry_exists(*id) {
            if let Some(nack) = g.pel.get(&k) {
                if prop {
                    fx.props.push(xclaim_argv(key, gname, g, id_arg, nack));
                }
                propagate_last_id = false;
                fx.dirty += 1;
                g.ack(&k);
            }
            continue;
        }
        if force && !g.pel.contains(&k) {
            g.pel.insert(
                &k,
                Nack {
                    consumer: None,
                    delivery_time: now,
                    delivery_count: 1,
                },
            );
        }
        let Some(nack) = g.pel.get(&k) else { continue };
        let prev_count = nack.delivery_count;
        if nack.consumer.is_some()
            && minidle != 0
            && now.saturating_sub(nack.delivery_time) < minidle
        {
            continue;
        }
        if !consumer_ready {
            if !g.consumers.contains(cname) {
                g.create_consumer(cname, now);
                fx.consumers_created += 1;
            } else if let Some(cons) = g.consumers.get_mut(cname) {
                cons.seen_time = now;
            }
            consumer_ready = true;
        }
        let cnt = if retrycount >= 0 {
            Some(retrycount as u64)
        } else if !justid {
            Some(prev_count.wrapping_add(1))
        } else {
            None
        };
        claim_to(g, &k, cname, deliverytime, cnt);
        if justid {
            reply_id(&mut c.out, *id);
        } else if reply_range_raw(&mut c.out, s, *id, *id, 1, false) == 0 {
            c.out.null();
        }
        n += 1;
        if prop {
            let nack = g.pel.get(&k).expect("claimed");
            fx.props.push(xclaim_argv(key, gname, g, id_arg, nack));
        }
        propagate_last_id = false;
        fx.dirty += 1;
    }
    if propagate_last_id {
        if prop {
            fx.props.push(setid_argv(key, gname, g));
        }
        fx.dirty += 1;
    }
    s.groups = Some(groups);
    c.out.set_deferred_array(d, n);
    apply_effects(srv, db, key, &mut fx);
    srv.dirty += fx.dirty;
    srv.prevent_propagation();
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let Some(minidle) = ll_arg(
        c,
        args.get(4),
        Some("Invalid min-idle-time argument for XAUTOCLAIM"),
    ) else {
        return;
    };
    let minidle = minidle.max(0);
    let Some(start) = start_bound(c, args.get(5)) else {
        return;
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let argc = args.len();
    let mut j = 6;
    while j < argc {
        let moreargs = argc - 1 - j;
        if args.is(j, "count") && moreargs > 0 {
            let max = i64::MAX / 16;
            match parse_i64(args.get(j + 1)) {
                Some(v) if (1..=max).contains(&v) => count = v,
                _ => return c.out.err("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if args.is(j, "justid") {
            justid = true;
        } else {
            return c.out.err(ERR_SYNTAX);
        }
        j += 1;
    }
    let has = match get_stream(srv, c, key, false) {
        Err(()) => return,
        Ok(s) => s.is_some_and(|s| s.group(gname).is_some()),
    };
    if !has {
        return c.out.err(&nogroup_key_group(key, gname));
    }
    let now = srv.cmd_time_ms;
    let prop = srv.prop.active;
    let Ok(Some(s)) = get_stream(srv, c, key, false) else {
        return;
    };
    let mut groups = s.groups.take().expect("checked");
    let g = groups.get_mut(gname).expect("checked");
    let mut fx = Effects::default();
    let mut attempts = count.saturating_mul(10);
    // The claimed entries go to a side buffer: the cursor, known last, comes before them.
    let mut body = Reply {
        resp3: c.out.resp3,
        ..Default::default()
    };
    let mut n = 0usize;
    let mut deleted: Vec<StreamId> = Vec::new();
    let mut consumer_ready = false;
    // The cursor: the next PEL key to look at (raxSeek ">=" then raxNext).
    let mut cursor: Option<Vec<u8>> = {
        let mut it = g.pel.iter();
        it.seek(Seek::Ge, &start.encode());
        it.next().map(|(k, _)| k.to_vec())
    };
    let next_after = |pel: &Rax<Nack>, k: &[u8], inclusive: bool| -> Option<Vec<u8>> {
        let mut it = pel.iter();
        it.seek(if inclusive { Seek::Ge } else { Seek::Gt }, k);
        it.next().map(|(k, _)| k.to_vec())
    };
    loop {
        if attempts == 0 {
            break;
        }
        attempts -= 1;
        if count == 0 {
            break;
        }
        let Some(k) = cursor.take() else { break };
        let id = StreamId::decode(&k).unwrap_or_default();
        if !s.entry_exists(id) {
            if prop {
                if let Some(nack) = g.pel.get(&k) {
                    fx.props
                        .push(xclaim_argv(key, gname, g, &id.to_bytes(), nack));
                }
            }
            fx.dirty += 1;
            g.ack(&k);
            deleted.push(id);
            cursor = next_after(&g.pel, &k, true);
            continue;
        }
        let nack = g.pel.get(&k).expect("in the PEL");
        let prev_count = nack.delivery_count;
        if minidle != 0 && now.saturating_sub(nack.delivery_time) < minidle {
            cursor = next_after(&g.pel, &k, false);
            continue;
        }
        if !consumer_ready {
            if !g.consumers.contains(cname) {
                g.create_consumer(cname, now);
                fx.consumers_created += 1;
            } else if let Some(cons) = g.consumers.get_mut(cname) {
                cons.seen_time = now;
            }
            consumer_ready = true;
        }
        let cnt = if justid {
            None
        } else {
            Some(prev_count.wrapping_add(1))
        };
        claim_to(g, &k, cname, now, cnt);
        if justid {
            reply_id(&mut body, id);
        } else if reply_range_raw(&mut body, s, id, id, 1, false) == 0 {
            body.null();
        }
        n += 1;
        count -= 1;
        if prop {
            let nack = g.pel.get(&k).expect("claimed");
            fx.props
                .push(xclaim_argv(key, gname, g, &id.to_bytes(), nack));
        }
        fx.dirty += 1;
        cursor = next_after(&g.pel, &k, false);
    }
    // The loop ended on its count or attempts with `cursor` the next key, or ran out.
    let endid = match cursor {
        Some(k) => StreamId::decode(&k).unwrap_or_default(),
        None => StreamId::MIN,
    };
    s.groups = Some(groups);
    c.out.array(3);
    reply_id(&mut c.out, endid);
    c.out.array(n);
    c.out.raw(&body.buf);
    c.out.array(deleted.len());
    for id in deleted {
        reply_id(&mut c.out, id);
    }
    apply_effects(srv, db, key, &mut fx);
    srv.dirty += fx.dirty;
    srv.prevent_propagation();
}

// ---------------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------------

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// The lag, or a null when unknown.
fn reply_lag(out: &mut Reply, s: &Stream, g: &Group) {
    match s.group_lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn reply_entries_read(out: &mut Reply, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

/// XINFO STREAM|GROUPS|CONSUMERS|HELP (xinfoCommand).
fn xinfo_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.is(1, "help") {
        return super::connection::reply_help(c, "XINFO", XINFO_HELP);
    }
    let key = args.get(2);
    let now = srv.cmd_time_ms;
    let s = match get_stream(srv, c, key, false) {
        Err(()) => return,
        Ok(None) => return c.out.err("ERR no such key"),
        Ok(Some(s)) => s,
    };
    let argc = args.len();
    if args.is(1, "consumers") && argc == 4 {
        let gname = args.get(3);
        let Some(g) = s.group(gname) else {
            return c.out.err(&format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(gname),
                lossy(key)
            ));
        };
        c.out.array(g.consumers.len() as usize);
        g.consumers.for_each(|_, cons| {
            c.out.map(3);
            c.out.bulk(b"name");
            c.out.bulk(&cons.name);
            c.out.bulk(b"pending");
            c.out.int(cons.pel.len() as i64);
            c.out.bulk(b"idle");
            c.out.int(now.saturating_sub(cons.seen_time).max(0));
        });
    } else if args.is(1, "groups") && argc == 3 {
        let Some(groups) = &s.groups else {
            return c.out.array(0);
        };
        c.out.array(groups.len() as usize);
        groups.for_each(|name, g| {
            c.out.map(6);
            c.out.bulk(b"name");
            c.out.bulk(name);
            c.out.bulk(b"consumers");
            c.out.int(g.consumers.len() as i64);
            c.out.bulk(b"pending");
            c.out.int(g.pel.len() as i64);
            c.out.bulk(b"last-delivered-id");
            reply_id(&mut c.out, g.last_id);
            c.out.bulk(b"entries-read");
            reply_entries_read(&mut c.out, g);
            c.out.bulk(b"lag");
            reply_lag(&mut c.out, s, g);
        });
    } else if args.is(1, "stream") {
        xinfo_stream(c, args, s);
    } else {
        super::connection::subcommand_syntax_error(c, args);
    }
}

/// XINFO STREAM key [FULL [COUNT count]] (xinfoReplyWithStreamInfo).
fn xinfo_stream(c: &mut Client, args: &Args, s: &Stream) {
    let rest = args.len() - 3;
    let mut full = true;
    let mut count: i64 = 10;
    if rest == 0 {
        full = false;
    } else if rest == 1 || rest == 3 {
        if !args.is(3, "full") {
            return super::connection::subcommand_syntax_error(c, args);
        }
        if rest == 3 {
            if !args.is(4, "count") {
                return super::connection::subcommand_syntax_error(c, args);
            }
            let Some(v) = ll_arg(c, args.get(5), None) else {
                return;
            };
            count = if v < 0 { 10 } else { v };
        }
    } else {
        return super::connection::subcommand_syntax_error(c, args);
    }
    let out = &mut c.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.rax.len() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax.node_count() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_entry_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.group_count() as i64);
        out.bulk(b"first-entry");
        if reply_range_raw(out, s, StreamId::MIN, StreamId::MAX, 1, false) == 0 {
            out.null();
        }
        out.bulk(b"last-entry");
        if reply_range_raw(out, s, StreamId::MIN, StreamId::MAX, 1, true) == 0 {
            out.null();
        }
        return;
    }
    let count = count as usize;
    out.bulk(b"entries");
    reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    let Some(groups) = &s.groups else {
        return out.array(0);
    };
    out.array(groups.len() as usize);
    groups.for_each(|name, g| {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let d = out.defer();
        let mut n = 0;
        let mut it = g.pel.iter();
        it.seek(Seek::First, b"");
        while let Some((k, nack)) = it.next() {
            if count != 0 && n >= count {
                break;
            }
            out.array(4);
            reply_id(out, StreamId::decode(k).unwrap_or_default());
            out.bulk(nack.consumer.as_deref().unwrap_or(b""));
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
            n += 1;
        }
        out.set_deferred_array(d, n);
        out.bulk(b"consumers");
        out.array(g.consumers.len() as usize);
        g.consumers.for_each(|_, cons| {
            out.map(4);
            out.bulk(b"name");
            out.bulk(&cons.name);
            out.bulk(b"seen-time");
            out.int(cons.seen_time);
            out.bulk(b"pel-count");
            out.int(cons.pel.len() as i64);
            out.bulk(b"pending");
            let d = out.defer();
            let mut n = 0;
            let mut it = cons.pel.iter();
            it.seek(Seek::First, b"");
            while let Some((k, _)) = it.next() {
                if count != 0 && n >= count {
                    break;
                }
                let Some(nack) = g.pel.get(k) else { continue };
                out.array(3);
                reply_id(out, StreamId::decode(k).unwrap_or_default());
                out.int(nack.delivery_time);
                out.int(nack.delivery_count as i64);
                n += 1;
            }
            out.set_deferred_array(d, n);
        });
    });
}
