//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
//! AUTH2 username password] [KEYS key ...] (cluster.c's migrateCommand).
//!
//! The handler runs twice. The first run checks the arguments in Redis's order, finds the
//! keys (none: +NOKEY), serializes them as RESTORE (RESTORE-ASKING in cluster mode) commands
//! with their remaining TTLs and hands them to the connection layer
//! (`server::migrate_conn`), then parks the client; the keys are *busy* meanwhile, and
//! commands on them wait, since Redis's MIGRATE is atomic. When the connection layer has the
//! target's replies, the client is re-run (`resume`): the second run reads the outcome as
//! Redis reads its socket, deletes the keys the target accepted (unless COPY), propagates
//! them as DEL, and replies, or retries once on a fresh connection after a socket error that
//! lost nothing, as Redis does. Inside MULTI/EXEC or a script the client cannot be parked:
//! the connection layer then runs the exchange to its end at once (`run_sync`).

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::migrate_conn::{self, Failure, Job, Outcome};
use crate::server::notify;
use crate::server::Server;
use crate::util::num::parse_i64;
use std::rc::Rc;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[("migrate", migrate_command)];

/// A parked MIGRATE: what it sent and what to do with the answers.
pub struct Plan {
    host: Vec<u8>,
    port: Vec<u8>,
    /// The keys serialized, in the order of their RESTOREs.
    keys: Vec<Vec<u8>>,
    db: usize,
    copy: bool,
    auth: Option<Rc<[u8]>>,
    dbid: i64,
    body: Rc<[u8]>,
    timeout_ms: i64,
    /// A socket error may still be retried on a new connection.
    may_retry: bool,
}

const NUMBER_ERR: &str = "ERR value is not an integer or out of range";

fn migrate_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if c.reprocessing_blocked {
        if let Some(plan) = srv.migrate.resuming.take() {
            return finish(srv, c, plan);
        }
    }
    let (mut copy, mut replace) = (false, false);
    let (mut username, mut password): (Option<&[u8]>, Option<&[u8]>) = (None, None);
    let (mut first_key, mut num_keys) = (3, 1);
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args.is(j, "copy") {
            copy = true;
        } else if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "auth") {
            if more == 0 {
                return c.out.err("ERR syntax error");
            }
            j += 1;
            password = Some(args.get(j));
        } else if args.is(j, "auth2") {
            if more < 2 {
                return c.out.err("ERR syntax error");
            }
            username = Some(args.get(j + 1));
            password = Some(args.get(j + 2));
            j += 2;
        } else if args.is(j, "keys") {
            if !args.get(3).is_empty() {
                return c.out.err(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                );
            }
            first_key = j + 1;
            num_keys = args.len() - j - 1;
            break;
        } else {
            return c.out.err("ERR syntax error");
        }
        j += 1;
    }
    let Some(mut timeout) = parse_i64(args.get(5)) else {
        return c.out.err(NUMBER_ERR);
    };
    let Some(dbid) = parse_i64(args.get(4)) else {
        return c.out.err(NUMBER_ERR);
    };
    if timeout <= 0 {
        timeout = 1000;
    }
    // Keys that are here; none at all is not an error (they may just have expired).
    let db = c.db;
    let mut found: Vec<&[u8]> = Vec::new();
    for i in 0..num_keys {
        let k = args.get(first_key + i);
        if srv.lookup_read(db, k).is_some() {
            found.push(k);
        }
    }
    if found.is_empty() {
        return c.out.simple("NOKEY");
    }
    let restore: &[u8] = if srv.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let compress = srv.config.rdbcompression;
    let now = srv.cmd_time_ms;
    let mut body = Vec::new();
    let mut keys = Vec::new();
    for k in found {
        let mut ttl = 0;
        if let Some(at) = srv.get_expire(db, k) {
            ttl = at - now;
            if ttl < 0 {
                continue;
            }
            ttl = ttl.max(1);
        }
        let Some(o) = srv.dbs[db].dict.peek(k) else {
            continue;
        };
        let payload = crate::persistence::rdb::create_dump_payload(o, compress);
        let ttl = ttl.to_string();
        let mut argv: Vec<&[u8]> = vec![restore, k, ttl.as_bytes(), &payload];
        if replace {
            argv.push(b"REPLACE");
        }
        crate::propagate::encode_command(&mut body, &argv);
        keys.push(k.to_vec());
    }
    let auth = password.map(|p| {
        let mut a = Vec::new();
        match username {
            Some(u) => crate::propagate::encode_command(&mut a, &[&b"AUTH"[..], u, p]),
            None => crate::propagate::encode_command(&mut a, &[&b"AUTH"[..], p]),
        }
        Rc::<[u8]>::from(a)
    });
    let plan = Box::new(Plan {
        host: args.get(1).to_vec(),
        port: args.get(2).to_vec(),
        keys,
        db,
        copy,
        auth,
        dbid,
        body: body.into(),
        timeout_ms: timeout,
        may_retry: true,
    });
    start(srv, c, args, plan);
}

fn job_of(c: &Client, plan: &Plan) -> Job {
    Job {
        client: c.token,
        client_id: c.id,
        auth: plan.auth.clone(),
        dbid: plan.dbid,
        body: plan.body.clone(),
        nkeys: plan.keys.len(),
        timeout_ms: plan.timeout_ms,
    }
}

/// Sends the plan's commands: parks the client until the replies are in, or (inside
/// MULTI/EXEC or a script) waits for them here.
fn start(srv: &mut Server, c: &mut Client, args: &Args, plan: Box<Plan>) {
    let Some(plan) = send(srv, c, plan) else {
        return;
    };
    srv.block_for_keys(c, args, &[], 0);
    if let Some(b) = c.blocked.as_mut() {
        b.migrate = Some(plan);
    }
}

/// Hands the plan's job to a connection and marks its keys busy; the caller parks the
/// client with the plan returned. None when there is nothing to wait for: the exchange ran
/// here (the client cannot block) and the reply is made, or it could not start.
fn send(srv: &mut Server, c: &mut Client, plan: Box<Plan>) -> Option<Box<Plan>> {
    let job = job_of(c, &plan);
    if c.deny_blocking {
        let o = migrate_conn::run_sync(srv, &plan.host, &plan.port, job);
        conclude(srv, c, plan, o);
        return None;
    }
    if migrate_conn::submit(srv, &plan.host, &plan.port, job).is_err() {
        c.out
            .err("-IOERR error or timeout connecting to the client");
        return None;
    }
    for k in &plan.keys {
        *srv.migrate
            .busy_keys
            .entry((plan.db, k.clone()))
            .or_insert(0) += 1;
    }
    Some(plan)
}

/// The second run: the outcome waits in `srv.migrate.outcome` (see `resume`).
fn finish(srv: &mut Server, c: &mut Client, plan: Box<Plan>) {
    let Some(o) = srv.migrate.outcome.take() else {
        return;
    };
    release_keys(srv, &plan);
    conclude(srv, c, plan, o)
}

/// Lets the commands that waited for the plan's keys run again.
fn release_keys(srv: &mut Server, plan: &Plan) {
    for k in &plan.keys {
        let key = (plan.db, k.clone());
        if let Some(n) = srv.migrate.busy_keys.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                srv.migrate.busy_keys.remove(&key);
            }
        }
    }
    for tok in std::mem::take(&mut srv.migrate.postponed) {
        if let Some(Some(w)) = srv.clients.get_mut(tok) {
            if w.postponed && !srv.paused_clients.contains(&tok) {
                w.postponed = false;
                srv.blocking.unblocked.push(tok);
            }
        }
    }
}

/// Reads the target's answers as migrateCommand reads its socket.
fn conclude(srv: &mut Server, c: &mut Client, mut plan: Box<Plan>, o: Outcome) {
    match o.failure {
        Some(Failure::Connect) => {
            return c
                .out
                .err("-IOERR error or timeout connecting to the client");
        }
        Some(Failure::Write { timed_out }) => return socket_err(srv, c, plan, true, timed_out),
        _ => {}
    }
    let pre = o.auth_sent as usize + o.select_sent as usize;
    let timed_out = matches!(o.failure, Some(Failure::Read { timed_out: true }));
    if o.lines.len() < pre {
        return socket_err(srv, c, plan, false, timed_out);
    }
    let auth_line = o.auth_sent.then(|| &o.lines[0]);
    let select_line = o.select_sent.then(|| &o.lines[o.auth_sent as usize]);
    let restored = &o.lines[pre..];
    let mut error_from_target = false;
    let mut deleted: Vec<Vec<u8>> = Vec::new();
    let n = plan.keys.len().min(restored.len());
    let socket_error = restored.len() < plan.keys.len();
    for (j, line) in restored.iter().enumerate().take(n) {
        let bad = |l: Option<&Vec<u8>>| l.is_some_and(|l| l.first() == Some(&b'-'));
        if bad(auth_line) || bad(select_line) || line.first() == Some(&b'-') {
            if !error_from_target {
                error_from_target = true;
                let e = if bad(auth_line) {
                    auth_line.unwrap()
                } else if bad(select_line) {
                    select_line.unwrap()
                } else {
                    line
                };
                c.out.err(&format!(
                    "ERR Target instance replied with error: {}",
                    String::from_utf8_lossy(&e[1..])
                ));
            }
        } else if !plan.copy {
            let k = &plan.keys[j];
            srv.delete_key(plan.db, k);
            srv.signal_modified_key(plan.db, k);
            srv.notify_keyspace_event(notify::GENERIC, "del", k, plan.db);
            srv.dirty += 1;
            deleted.push(k.clone());
        }
    }
    if !error_from_target && socket_error && n == 0 && plan.may_retry && !timed_out {
        plan.may_retry = false;
        return retry(srv, c, plan);
    }
    if !deleted.is_empty() {
        srv.rewrite_command(|| {
            let mut argv = Vec::with_capacity(deleted.len() + 1);
            argv.push(b"DEL".to_vec());
            argv.extend(deleted.iter().cloned());
            argv
        });
    }
    if !error_from_target && socket_error {
        return c
            .out
            .err("-IOERR error or timeout reading to target instance");
    }
    if !error_from_target {
        c.out.ok();
    }
}

/// A socket error (migrateCommand's socket_err): one retry on a new connection unless it
/// timed out, else -IOERR.
fn socket_err(srv: &mut Server, c: &mut Client, mut plan: Box<Plan>, write: bool, timed_out: bool) {
    if !timed_out && plan.may_retry {
        plan.may_retry = false;
        return retry(srv, c, plan);
    }
    let what = if write { "writing" } else { "reading" };
    c.out.err(&format!(
        "-IOERR error or timeout {what} to target instance"
    ));
}

/// Sends the plan again on a new connection (Redis's one retry after a socket error).
fn retry(srv: &mut Server, c: &mut Client, plan: Box<Plan>) {
    if let Some(plan) = send(srv, c, plan) {
        c.still_blocked = true;
        srv.migrate.resuming = Some(plan);
    }
}

/// Re-runs the parked MIGRATEs whose exchange ended (from `before_sleep`). A client that left
/// meanwhile only frees its keys.
pub fn resume_done(srv: &mut Server) {
    while !srv.migrate.done.is_empty() {
        let done = std::mem::take(&mut srv.migrate.done);
        for (tok, id, o) in done {
            resume(srv, tok, id, o);
        }
    }
}

fn resume(srv: &mut Server, tok: usize, id: u64, o: Outcome) {
    let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
        return;
    };
    let parked = c.id == id && c.blocked.as_ref().is_some_and(|b| b.migrate.is_some());
    if !parked {
        srv.clients[tok] = Some(c);
        return;
    }
    let mut state = c.blocked.take().expect("parked");
    let plan = state.migrate.take().expect("parked");
    srv.migrate.resuming = Some(plan);
    srv.migrate.outcome = Some(o);
    c.reprocessing_blocked = true;
    c.still_blocked = false;
    let saved_db = c.db;
    c.db = state.db;
    {
        let args = Args::new(&state.buf, &state.argv);
        crate::commands::call(srv, &mut c, state.cmd, &args);
    }
    c.db = saved_db;
    c.reprocessing_blocked = false;
    state.migrate = srv.migrate.resuming.take();
    srv.migrate.outcome = None;
    c.blocked = Some(state);
    if c.still_blocked {
        c.still_blocked = false;
    } else {
        srv.unblock_client(&mut c);
        srv.after_unblock(&mut c);
    }
    srv.clients[tok] = Some(c);
}

/// Frees the busy keys of a parked MIGRATE whose client is going away.
pub fn client_freed(srv: &mut Server, plan: &Plan) {
    release_keys(srv, plan);
}

/// True when the command about to run uses a key a MIGRATE in flight is moving: it must wait
/// until that MIGRATE ends (Redis would have run it before or after, never during).
pub fn touches_busy_key(srv: &Server, c: &Client, idx: usize, args: &Args) -> bool {
    let busy = &srv.migrate.busy_keys;
    let meta = srv.commands.cmds[idx].meta;
    let check = |meta: &super::meta::CommandMeta, argv: &[&[u8]]| {
        super::getkeys::get_keys(meta, argv)
            .iter()
            .any(|k| busy.contains_key(&(c.db, argv[k.pos].to_vec())))
    };
    if meta.name == "exec" {
        if let Some(m) = c.multi.as_ref() {
            return m.cmds.iter().any(|q| {
                let a = Args::new(&q.buf, &q.argv);
                let argv: Vec<&[u8]> = (0..a.len()).map(|i| a.get(i)).collect();
                check(srv.commands.cmds[q.cmd].meta, &argv)
            });
        }
        return false;
    }
    let argv: Vec<&[u8]> = (0..args.len()).map(|i| args.get(i)).collect();
    check(meta, &argv)
}
