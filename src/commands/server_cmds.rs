//! Server commands: DBSIZE FLUSHDB FLUSHALL TIME CONFIG (the first of this group; SHUTDOWN,
//! DEBUG, MEMORY, LOLWUT join them).

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::Server;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("dbsize", dbsize_command),
    ("flushdb", flushdb_command),
    ("flushall", flushall_command),
    ("time", time_command),
    ("config|get", config_get_command),
    ("config|set", config_set_command),
];

fn dbsize_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.dbs[c.db].dict.len() as i64);
}

/// Parses FLUSHDB/FLUSHALL's optional SYNC|ASYNC; replies on a syntax error.
fn flush_flags_ok(c: &mut Client, args: &Args) -> bool {
    if args.len() > 2 || (args.len() == 2 && !args.is(1, "sync") && !args.is(1, "async")) {
        c.out.err("ERR syntax error");
        return false;
    }
    true
}

fn flushdb_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if !flush_flags_ok(c, args) {
        return;
    }
    let removed = srv.dbs[c.db].dict.len() as u64;
    srv.dbs[c.db].clear();
    srv.dirty += removed;
    c.out.ok();
}

fn flushall_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if !flush_flags_ok(c, args) {
        return;
    }
    let mut removed = 0;
    for db in srv.dbs.iter_mut() {
        removed += db.dict.len() as u64;
        db.clear();
    }
    srv.dirty += removed + 1;
    c.out.ok();
}

fn time_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    let now = crate::util::ustime();
    c.out.array(2);
    c.out.bulk_i64(now / 1_000_000);
    c.out.bulk_i64(now % 1_000_000);
}

fn config_get_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let patterns: Vec<&[u8]> = args.iter_from(2).collect();
    let pairs = srv.config.get(&patterns);
    c.out.map(pairs.len());
    for (k, v) in pairs {
        c.out.bulk(k.as_bytes());
        c.out.bulk(v.as_bytes());
    }
}

fn config_set_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() % 2 != 0 {
        return c
            .out
            .err("ERR wrong number of arguments for 'config|set' command");
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..args.len())
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    match srv.config.set(&pairs) {
        Ok(_) => c.out.ok(),
        Err(e) => c.out.err(&e),
    }
}
