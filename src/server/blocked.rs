//! Clients blocked on keys (blocked.c): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP, XREAD and XREADGROUP with BLOCK.
//!
//! A blocking command that finds nothing to pop parks its client: the command's arguments are
//! kept, the client is queued on each key it waits for (FIFO per key) and, when it has a
//! timeout, in a deadline index. Any change to a key with waiters marks the key *ready*
//! (`signal_modified_key` calls `signal_key_as_ready`). After the command that changed it has
//! finished, `handle_ready_keys` re-runs each waiter's command in the order the waiters
//! blocked; a waiter that still finds nothing stays parked in its place, one that is served is
//! unblocked, and its reply and remaining pipelined input are processed before the loop sleeps.
//! A push that a waiter moves to another key (BLMOVE) makes that key ready in turn, and the loop
//! runs until no key is ready.
//!
//! Invariant: a client is in `Server::blocking` queues and `block_deadlines` exactly while its
//! `blocked` state is Some.

use super::client::Client;
use super::Server;
use crate::commands::Args;
use crate::protocol::parser::Argv;
use crate::types::object::Value;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// What a parked client waits for and how to retry it.
pub struct BlockState {
    /// The database of the keys.
    pub db: usize,
    /// The keys waited on.
    pub keys: Vec<Vec<u8>>,
    /// Absolute deadline in Unix ms, 0 for none.
    pub deadline_ms: i64,
    /// The command's arguments, to re-run it.
    pub buf: Vec<u8>,
    /// Ranges into `buf`.
    pub argv: Argv,
    /// Index of the command in the table.
    pub cmd: usize,
    /// WAIT: the replication offset to be acknowledged and how many replicas must (no keys
    /// then; `crate::replication` unblocks it).
    pub wait_acks: Option<(i64, i64)>,
    /// XREAD/XREADGROUP: the ID each key waits to pass, resolved when blocking (`$`).
    pub stream_ids: Vec<crate::types::stream::StreamId>,
    /// MIGRATE: the exchange in flight with the target (no keys then; the connection layer
    /// re-runs the command when it ends, `commands::migrate::resume_done`).
    pub migrate: Option<Box<crate::commands::migrate::Plan>>,
}

/// Server-side bookkeeping of blocked clients.
#[derive(Default)]
pub struct Blocking {
    /// (db, key) -> tokens of the clients waiting, in blocking order.
    pub waiters: HashMap<(usize, Vec<u8>), VecDeque<usize>>,
    /// Keys changed since the last `handle_ready_keys`, in order, without duplicates.
    pub ready: Vec<(usize, Vec<u8>)>,
    ready_set: HashSet<(usize, Vec<u8>)>,
    /// (deadline ms, client id, token) of clients with a timeout.
    pub deadlines: BTreeSet<(i64, u64, usize)>,
    /// The key whose change is being served while a waiter's command re-runs: a command
    /// waiting on several keys serves from this one, as Redis serves from the ready key.
    pub serving: Option<Vec<u8>>,
    /// The blocked stream IDs of the waiter being re-run (its `BlockState::stream_ids`).
    pub serving_stream_ids: Vec<crate::types::stream::StreamId>,
    /// Clients unblocked whose pending input must be processed before sleeping.
    pub unblocked: Vec<usize>,
    /// Number of blocked clients (INFO blocked_clients).
    pub count: usize,
}

/// Parses a blocking timeout in seconds (a double; 0 = forever) into an absolute Unix ms
/// deadline, with Redis's errors. Replies and returns None on error.
pub fn parse_timeout(srv: &Server, c: &mut Client, arg: &[u8]) -> Option<i64> {
    // Long double arithmetic, as Redis: `-0.001` rounds to 0 (block forever) and `inf`
    // converts to a negative number.
    let Some(secs) = crate::util::ldouble::parse_long_double(arg) else {
        c.out.err("ERR timeout is not a float or out of range");
        return None;
    };
    let ms = secs.timeout_ms();
    if ms < 0 {
        c.out.err("ERR timeout is negative");
        return None;
    }
    if ms == 0 {
        return Some(0);
    }
    // Redis 7.0 adds the time without a check: a sum past i64::MAX wraps negative, which its
    // timeout table (keyed by the deadline as an unsigned number) never reaches, so the client
    // waits forever, as with 0. (The "timeout is out of range" error came with Redis 7.2.)
    Some(srv.cmd_time_ms.checked_add(ms).unwrap_or(0))
}

impl Server {
    /// Parks `c` on `keys` until one of them changes or the deadline passes. Called by a
    /// blocking command that found nothing to serve. When the command is being re-run for a
    /// ready key, the client is already parked and just stays where it is.
    pub fn block_for_keys(
        &mut self,
        c: &mut Client,
        args: &Args,
        keys: &[&[u8]],
        deadline_ms: i64,
    ) {
        if c.reprocessing_blocked {
            c.still_blocked = true;
            return;
        }
        let buf: Vec<u8> = (0..args.len()).flat_map(|i| args.get(i).to_vec()).collect();
        let mut argv = Argv::new();
        let mut off = 0;
        for i in 0..args.len() {
            let n = args.get(i).len();
            argv.ranges.push((off, n));
            off += n;
        }
        let cmd = self
            .commands
            .lookup(args.get(0))
            .expect("a blocking command is in the table");
        let state = BlockState {
            db: c.db,
            keys: keys.iter().map(|k| k.to_vec()).collect(),
            deadline_ms,
            buf,
            argv,
            cmd,
            wait_acks: None,
            stream_ids: Vec::new(),
            migrate: None,
        };
        for k in &state.keys {
            let q = self.blocking.waiters.entry((c.db, k.clone())).or_default();
            if !q.contains(&c.token) {
                q.push_back(c.token);
            }
        }
        if deadline_ms > 0 {
            self.blocking.deadlines.insert((deadline_ms, c.id, c.token));
        }
        self.blocking.count += 1;
        c.blocked = Some(Box::new(state));
    }

    /// Marks a key as ready when clients wait on it (signalKeyAsReady).
    #[inline]
    pub fn signal_key_as_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.waiters.is_empty() {
            return;
        }
        let k = (db, key.to_vec());
        if self.blocking.waiters.contains_key(&k) && self.blocking.ready_set.insert(k.clone()) {
            self.blocking.ready.push(k);
        }
    }

    /// After SWAPDB `a` `b` (dbSwapDatabases' scanDatabaseForReadyKeys): a blocked client keeps
    /// its db index, so a key it waits for may now hold data. Marks ready every waited key of
    /// either db that now holds a list or a sorted set while some client waits for that kind
    /// of value (Redis's per-type blocked counts). The dict is read without expiring: an
    /// expired key is still marked, and serving its waiters deletes it as an expiry (which a
    /// replication layer must propagate as a DEL) and serves nothing. A key of another type
    /// wakes nobody.
    pub fn signal_keys_after_swap(&mut self, a: usize, b: usize) {
        if self.blocking.waiters.is_empty() {
            return;
        }
        // Which kinds of value are waited for, anywhere (blocked_clients_by_type).
        let (mut lists, mut zsets, mut streams) = (false, false, false);
        for (_, slot) in self.clients.iter() {
            let Some(state) = slot.as_ref().and_then(|c| c.blocked.as_ref()) else {
                continue;
            };
            match self.commands.cmds[state.cmd].meta.group {
                "list" => lists = true,
                "sorted-set" => zsets = true,
                "stream" => streams = true,
                _ => {}
            }
        }
        let keys: Vec<(usize, Vec<u8>)> = self
            .blocking
            .waiters
            .keys()
            .filter(|(db, _)| *db == a || *db == b)
            .cloned()
            .collect();
        for (db, key) in keys {
            let wanted = match self.dbs[db].dict.get(key.as_slice()).map(|o| &o.value) {
                Some(Value::List(_)) => lists,
                Some(Value::ZSet(_)) => zsets,
                Some(Value::Stream(_)) => streams,
                _ => false,
            };
            if wanted {
                self.signal_key_as_ready(db, &key);
            }
        }
    }

    /// Removes `c` from every queue and the deadline index (unblockClient's bookkeeping).
    pub fn unblock_client(&mut self, c: &mut Client) {
        let Some(state) = c.blocked.take() else {
            return;
        };
        for k in state.keys {
            let key = (state.db, k);
            if let Some(q) = self.blocking.waiters.get_mut(&key) {
                q.retain(|&t| t != c.token);
                if q.is_empty() {
                    self.blocking.waiters.remove(&key);
                }
            }
        }
        if state.deadline_ms > 0 {
            self.blocking
                .deadlines
                .remove(&(state.deadline_ms, c.id, c.token));
        }
        self.blocking.count -= 1;
    }

    /// Replies to a blocked client as its timeout does (a null array) and unblocks it.
    pub fn reply_blocked_timeout(&mut self, c: &mut Client) {
        match c.blocked.as_ref().and_then(|s| s.wait_acks) {
            // WAIT answers how many replicas acknowledged by then.
            Some((offset, _)) => {
                let n = crate::replication::count_acks(self, offset);
                self.repl.waiting.retain(|&t| t != c.token);
                c.out.int(n);
            }
            None => c.out.null_array(),
        }
        // Counted in commandstats but not in the latency histogram: Redis 7.0 records a
        // blocked command's latency only when it is served.
        if let Some(state) = c.blocked.as_ref() {
            self.commands.cmds[state.cmd].stat.calls += 1;
        }
        self.unblock_client(c);
        self.after_unblock(c);
    }

    /// Queues an unblocked client so its output is written and its pending input processed.
    pub fn after_unblock(&mut self, c: &mut Client) {
        self.schedule_write(c);
        self.blocking.unblocked.push(c.token);
    }

    /// The earliest deadline of a blocked client, for the poll timeout.
    pub fn next_block_deadline(&self) -> Option<i64> {
        self.blocking.deadlines.first().map(|d| d.0)
    }
}

/// Serves clients blocked on keys that became ready (handleClientsBlockedOnKeys).
pub fn handle_ready_keys(srv: &mut Server) {
    while !srv.blocking.ready.is_empty() {
        let ready = std::mem::take(&mut srv.blocking.ready);
        srv.blocking.ready_set.clear();
        for key in ready {
            let Some(queue) = srv.blocking.waiters.get(&key) else {
                continue;
            };
            let waiters: Vec<usize> = queue.iter().copied().collect();
            for tok in waiters {
                // A deleted key serves nobody, except that XREADGROUP waiters learn that
                // their stream is gone (unblockDeletedStreamReadgroupClients).
                let missing = !srv.key_exists(key.0, &key.1);
                let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
                    continue;
                };
                let readgroup = c
                    .blocked
                    .as_ref()
                    .is_some_and(|b| srv.commands.cmds[b.cmd].meta.name == "xreadgroup");
                if missing && !readgroup {
                    srv.clients[tok] = Some(c);
                    continue;
                }
                let Some(state) = c.blocked.take() else {
                    srv.clients[tok] = Some(c);
                    continue;
                };
                srv.blocking.serving_stream_ids = state.stream_ids.clone();
                c.reprocessing_blocked = true;
                c.still_blocked = false;
                let saved_db = c.db;
                c.db = state.db;
                let args = Args::new(&state.buf, &state.argv);
                srv.blocking.serving = Some(key.1.clone());
                crate::commands::call(srv, &mut c, state.cmd, &args);
                srv.blocking.serving = None;
                // Its own invalidations follow its reply (afterCommand).
                if srv.tracking.has_deferred() {
                    crate::tracking::flush_deferred(srv, &mut c);
                    if c.out.pending() > 0 {
                        srv.schedule_write(&mut c);
                    }
                }
                c.db = saved_db;
                c.reprocessing_blocked = false;
                c.blocked = Some(state);
                if c.still_blocked {
                    c.still_blocked = false;
                } else {
                    srv.unblock_client(&mut c);
                    srv.after_unblock(&mut c);
                }
                srv.clients[tok] = Some(c);
            }
        }
    }
}

/// Times out blocked clients whose deadline passed (run every loop iteration, so timeouts fire
/// with the loop's resolution rather than serverCron's).
pub fn handle_timeouts(srv: &mut Server, now_ms: i64) {
    while let Some(&(deadline, _, tok)) = srv.blocking.deadlines.first() {
        if deadline > now_ms {
            break;
        }
        let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
            srv.blocking.deadlines.pop_first();
            continue;
        };
        srv.reply_blocked_timeout(&mut c);
        srv.clients[tok] = Some(c);
    }
}

/// Processes the pending input of clients unblocked since the last call.
pub fn process_unblocked(srv: &mut Server) {
    while !srv.blocking.unblocked.is_empty() {
        let list = std::mem::take(&mut srv.blocking.unblocked);
        for tok in list {
            let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
                continue;
            };
            if c.blocked.is_none() && !c.postponed && c.qpos < c.qbuf.len() {
                super::net::process_input(srv, &mut c);
            }
            if c.out.pending() > 0 {
                srv.schedule_write(&mut c);
            }
            srv.clients[tok] = Some(c);
        }
    }
}
