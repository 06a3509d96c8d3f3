//! Persistence commands: SAVE BGSAVE LASTSAVE DUMP RESTORE RESTORE-ASKING (rdb.c, cluster.c),
//! and the DEBUG subcommands that belong to persistence (DIGEST, DIGEST-VALUE, RELOAD), which
//! the DEBUG handler delegates to.
//!
//! The format work is in `crate::persistence`; handlers here parse arguments, apply Redis's
//! checks in Redis's order, and reply.

use super::{Args, Handler};
use crate::persistence::{self, bgsave, digest, rdb};
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::RObj;
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("save", save_command),
    ("bgsave", bgsave_command),
    ("bgrewriteaof", bgrewriteaof_command),
    ("lastsave", lastsave_command),
    ("dump", dump_command),
    ("restore", restore_command),
    ("restore-asking", restore_command),
];

/// SAVE: a synchronous save; refused while a BGSAVE child runs (not while a rewrite does).
fn save_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if bgsave::child_kind(srv) == Some(bgsave::ChildKind::Rdb) {
        return c.out.err("ERR Background save already in progress");
    }
    srv.persist.rdb_saves += 1;
    if persistence::save(srv) {
        c.out.ok();
    } else {
        c.out.err("ERR");
    }
}

/// BGSAVE [SCHEDULE]: fork a child that saves. While a BGSAVE child runs the answer is an
/// error even with SCHEDULE; while a rewrite runs SCHEDULE (or being inside EXEC) schedules
/// it for serverCron, else the answer is an error.
fn bgsave_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let schedule = args.len() == 2 && args.is(1, "schedule");
    if args.len() > 1 && !schedule {
        return c.out.err("ERR syntax error");
    }
    if bgsave::child_kind(srv) == Some(bgsave::ChildKind::Rdb) {
        return c.out.err("ERR Background save already in progress");
    }
    // Inside EXEC (the only way a handler runs with a transaction open) the fork waits for
    // serverCron, so the snapshot never shows half a transaction.
    if srv.persist.child.is_some() || c.multi.is_some() {
        if schedule || c.multi.is_some() {
            srv.persist.bgsave_scheduled = true;
            return c.out.simple("Background saving scheduled");
        }
        return c.out.err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    }
    match bgsave::start(srv) {
        Ok(()) => c.out.simple("Background saving started"),
        Err(_) => c.out.err("ERR"),
    }
}

/// BGREWRITEAOF: fork a child that writes a new AOF base (scheduled while another child
/// runs or inside EXEC).
fn bgrewriteaof_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let in_exec = c.multi.is_some();
    match crate::persistence::aof_rewrite::bgrewriteaof(srv, in_exec) {
        Ok(s) => c.out.simple(s),
        Err(e) => c.out.err(e),
    }
}

/// LASTSAVE: Unix time of the last successful save.
fn lastsave_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.persist.lastsave);
}

/// DUMP key: the value in RDB format with version and CRC, or null.
fn dump_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let compress = srv.config.rdbcompression;
    match srv.lookup_read(c.db, args.get(1)) {
        Some(o) => {
            let p = rdb::create_dump_payload(o, compress);
            c.out.bulk(&p);
        }
        None => c.out.null(),
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] (and RESTORE-ASKING).
/// Checks in Redis's order: options, existing key, TTL, payload footer, payload body.
fn restore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut lru_idle, mut lfu_freq): (i64, i64) = (-1, -1);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "absttl") {
            absttl = true;
        } else if args.is(j, "idletime") && more >= 1 && lfu_freq == -1 {
            let Some(v) = parse_i64(args.get(j + 1)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            if v < 0 {
                return c.out.err("ERR Invalid IDLETIME value, must be >= 0");
            }
            lru_idle = v;
            j += 1;
        } else if args.is(j, "freq") && more >= 1 && lru_idle == -1 {
            let Some(v) = parse_i64(args.get(j + 1)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            if !(0..=255).contains(&v) {
                return c.out.err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            lfu_freq = v;
            j += 1;
        } else {
            return c.out.err("ERR syntax error");
        }
        j += 1;
    }
    let key = args.get(1);
    if !replace && srv.lookup_write(c.db, key).is_some() {
        return c.out.err("BUSYKEY Target key name already exists.");
    }
    let Some(mut ttl) = parse_i64(args.get(2)) else {
        return c.out.err("ERR value is not an integer or out of range");
    };
    if ttl < 0 {
        return c.out.err("ERR Invalid TTL value, must be >= 0");
    }
    let payload = args.get(3);
    if rdb::verify_dump_payload(payload, false).is_none() {
        return c.out.err("ERR DUMP payload version or checksum are wrong");
    }
    // rdbLoadObject's deep_integrity_validation: `clients` means yes except while loading,
    // for our master's link and for a user with skip-sanitize-payload.
    let deep = match srv.config.sanitize_dump_payload {
        1 => true,
        2 => {
            !(srv.loading
                || c.master_link
                || srv
                    .acl
                    .user(c.user)
                    .flag_names()
                    .contains(&"skip-sanitize-payload"))
        }
        _ => false,
    };
    let sanitized = &mut srv.stats.dump_payload_sanitizations;
    let value = match rdb::load_dump_payload(payload, &srv.config, deep, sanitized) {
        Ok(v) => v,
        Err(e) => {
            // As Redis in a RESTORE context: the reason goes to the log at verbose level.
            crate::log_verbose!("Bad data format in RESTORE: {e}");
            return c.out.err("ERR Bad data format");
        }
    };
    let db = c.db;
    let deleted = replace && srv.delete_key(db, key);
    if ttl != 0 && !absttl {
        ttl = ttl.wrapping_add(srv.cmd_time_ms);
    }
    if ttl != 0 && ttl <= crate::util::mstime() && !srv.loading {
        if deleted {
            srv.signal_modified_key(db, key);
            srv.notify_keyspace_event(notify::GENERIC, "del", key, db);
            srv.dirty += 1;
            let lazy = srv.config.lazyfree_lazy_server_del;
            srv.rewrite_command(|| vec![super::keys::del_or_unlink(lazy), key.to_vec()]);
        }
        return c.out.ok();
    }
    let mut obj = RObj::new(value, srv.lru_clock);
    apply_lru_or_lfu(srv, &mut obj, lfu_freq, lru_idle);
    srv.add_key(db, key, obj);
    if ttl != 0 {
        srv.set_expire(db, key, ttl);
        if !absttl {
            // A relative TTL travels as the absolute time, with ABSTTL appended.
            srv.rewrite_command(|| {
                let mut v = args.to_vecs();
                v[2] = ttl.to_string().into_bytes();
                v.push(b"ABSTTL".to_vec());
                v
            });
        }
    }
    srv.notify_keyspace_event(notify::GENERIC, "restore", key, db);
    srv.dirty += 1;
    c.out.ok();
}

/// objectSetLRUOrLFU for RESTORE's IDLETIME/FREQ: under an LFU policy FREQ sets the counter
/// (with the current time in minutes); otherwise IDLETIME back-dates the LRU clock.
fn apply_lru_or_lfu(srv: &Server, o: &mut RObj, lfu_freq: i64, lru_idle: i64) {
    let lfu = srv.config.maxmemory_policy_name().ends_with("-lfu");
    if lfu {
        if lfu_freq >= 0 {
            let minutes = ((srv.cmd_time_ms / 1000 / 60) & 65535) as u32;
            o.lru = (minutes << 8) | lfu_freq as u32;
        }
    } else if lru_idle >= 0 {
        let abs = srv.lru_clock as i64 - lru_idle;
        o.lru = if abs >= 0 { abs as u32 } else { 0 };
    }
}

// ---------------------------------------------------------------------------------------------
// DEBUG subcommands (called by the DEBUG handler)

/// DEBUG DIGEST: the dataset digest as 40 hex digits (a status reply).
pub fn debug_digest(srv: &mut Server, c: &mut Client) {
    for db in srv.dbs.iter_mut() {
        for (_, o) in db.dict.iter_mut() {
            settle_list_read(o);
        }
    }
    let d = digest::dataset_digest(&srv.dbs);
    c.out.simple(&digest::hex(&d));
}

/// The digest reads a list with an iterator from head to tail, whose compression side effects
/// Redis's DUMP would show afterwards (see `List::settle_after_read`).
fn settle_list_read(o: &mut crate::types::object::RObj) {
    if let crate::types::object::Value::List(l) = &mut o.value {
        let n = l.len();
        l.settle_after_read(0, n, false);
    }
}

/// DEBUG DIGEST-VALUE key...: one digest per key (zeros when missing), looked up without
/// expiring anything.
pub fn debug_digest_value(srv: &mut Server, c: &mut Client, args: &Args) {
    c.out.array(args.len().saturating_sub(2));
    for i in 2..args.len() {
        if let Some(o) = srv.dbs[c.db].dict.get_mut(args.get(i)) {
            settle_list_read(o);
        }
    }
    let db = &srv.dbs[c.db];
    for i in 2..args.len() {
        let key = args.get(i);
        let d = match db.dict.peek(key) {
            Some(o) => digest::object_digest(o, db.expires.peek(key).is_some()),
            None => [0u8; 20],
        };
        c.out.simple(&digest::hex(&d));
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE].
pub fn debug_reload(srv: &mut Server, c: &mut Client, args: &Args) {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for i in 2..args.len() {
        if args.is(i, "merge") {
            merge = true;
        } else if args.is(i, "noflush") {
            flush = false;
        } else if args.is(i, "nosave") {
            save = false;
        } else {
            return c
                .out
                .err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    match persistence::debug_reload(srv, merge, flush, save) {
        Ok(()) => c.out.ok(),
        Err(msg) => c.out.err(msg),
    }
}
