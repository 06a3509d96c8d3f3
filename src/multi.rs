//! Transactions (multi.c): MULTI/EXEC queues and WATCH.
//!
//! Memory layout:
//!
//! ```text
//!  Client::multi: Option<Box<MultiState>>      Some between MULTI and EXEC/DISCARD
//!  +--------------------------------------+
//!  | cmds: Vec<Queued>  -> [ {cmd idx, buf "SETk1", argv [(0,3),(3,1),(4,1)]}, ... ]
//!  | dirty_exec: bool     an error while queuing: EXEC answers EXECABORT
//!  | mem: usize           CLIENT LIST multi-mem (argument bytes + 8 per argument)
//!  | exec_len: usize      commands of the EXEC in progress (CLIENT LIST multi= while running)
//!  +--------------------------------------+
//!
//!  Server::watches (Watches)
//!  +-----------+
//!  | dbs     --+--> [db0: Dict<Sds, Vec<Watcher>>, db1: ...]   key -> [{tok 4, expired}, ...]
//!  | clients --+--> HashMap<tok, Vec<(db, key)>>                a client's keys, WATCH order
//!  | dirty   --+--> HashSet<tok>                                CLIENT_DIRTY_CAS
//!  +-----------+
//! ```
//!
//! Invariant: `(tok, db, key)` is in `clients[tok]` exactly while a `Watcher { token: tok }`
//! is in `dbs[db][key]`. The dirty flag lives on the server rather than in the client because
//! the client that touches a key may be itself, and the running client is out of its slot.
//!
//! A watched key is touched by `signal_modified_key` (every write, DEL, RENAME, expiry
//! deletion...), by FLUSHDB/FLUSHALL/SWAPDB through `touch_all_watched_keys_in_db`, and EXEC
//! also fails when a watched key has logically expired since WATCH even if nothing deleted it
//! yet. As in Redis 7.0, a client that becomes dirty stops watching at once, and a key that was
//! already expired when watched counts as absent: its deletion is no change.

use crate::commands::Args;
use crate::ds::dict::Dict;
use crate::ds::sds::Sds;
use crate::protocol::parser::Argv;
use crate::server::client::Client;
use crate::server::Server;
use std::collections::{HashMap, HashSet};

/// One command queued between MULTI and EXEC, with its own copy of the arguments.
pub struct Queued {
    /// Index in the command table.
    pub cmd: usize,
    /// The arguments, concatenated.
    pub buf: Vec<u8>,
    /// Ranges of each argument in `buf`.
    pub argv: Argv,
}

/// A client's transaction in progress.
#[derive(Default)]
pub struct MultiState {
    /// The queued commands.
    pub cmds: Vec<Queued>,
    /// CLIENT_DIRTY_EXEC: a command was rejected while queuing.
    pub dirty_exec: bool,
    /// multiStateMemOverhead: argument bytes plus a pointer per argument.
    pub mem: usize,
    /// Length of the EXEC in progress (its commands are moved out while they run).
    pub exec_len: usize,
}

/// One client watching one key.
#[derive(Clone, Copy)]
struct Watcher {
    token: usize,
    /// The key had already expired when WATCH ran (it counts as absent).
    expired: bool,
}

/// A client's watched keys: (db, key), in WATCH order.
type WatchedKeys = Vec<(usize, Box<[u8]>)>;

/// The server's WATCH registry.
#[derive(Default)]
pub struct Watches {
    dbs: Vec<Dict<Sds, Vec<Watcher>>>,
    clients: HashMap<usize, WatchedKeys>,
    dirty: HashSet<usize>,
}

impl Watches {
    /// True when client `token` has CLIENT_DIRTY_CAS (CLIENT LIST shows no flag for it in 7.0,
    /// but EXEC fails).
    #[inline]
    pub fn is_dirty(&self, token: usize) -> bool {
        !self.dirty.is_empty() && self.dirty.contains(&token)
    }

    /// Number of keys client `token` watches.
    pub fn watched_by(&self, token: usize) -> usize {
        self.clients.get(&token).map_or(0, |v| v.len())
    }

    /// Clients watching at least one key (INFO watching_clients in later versions).
    pub fn watching_clients(&self) -> usize {
        self.clients.len()
    }
}

impl Client {
    /// CLIENT LIST multi=: queued commands, -1 outside MULTI.
    pub fn multi_count(&self) -> i64 {
        match &self.multi {
            Some(m) => m.cmds.len().max(m.exec_len) as i64,
            None => -1,
        }
    }

    /// CLIENT LIST multi-mem=.
    pub fn multi_mem(&self) -> usize {
        self.multi.as_ref().map_or(0, |m| m.mem)
    }
}

/// keyIsExpired: the key has a TTL in the past (at the command's time).
fn key_is_expired(srv: &Server, db: usize, key: &[u8]) -> bool {
    if srv.loading {
        return false;
    }
    match srv.dbs.get(db).and_then(|d| d.expires.peek(key)) {
        Some(&when) => when < srv.cmd_time_ms,
        None => false,
    }
}

/// Stops `token` watching anything (unwatchAllKeys); the dirty flag is the caller's business.
pub fn unwatch_all_keys(srv: &mut Server, token: usize) {
    let Some(keys) = srv.watches.clients.remove(&token) else {
        return;
    };
    for (db, key) in keys {
        let Some(reg) = srv.watches.dbs.get_mut(db) else {
            continue;
        };
        let empty = match reg.get_mut(&key) {
            Some(list) => {
                list.retain(|w| w.token != token);
                list.is_empty()
            }
            None => false,
        };
        if empty {
            reg.remove(&key);
        }
    }
}

/// Marks `token` dirty and drops its watches: nothing it watches can matter any more.
fn make_dirty(srv: &mut Server, token: usize) {
    srv.watches.dirty.insert(token);
    unwatch_all_keys(srv, token);
}

/// Watches `key` in the client's db (watchForKey).
fn watch_key(srv: &mut Server, c: &Client, key: &[u8]) {
    let db = c.db;
    if let Some(keys) = srv.watches.clients.get(&c.token) {
        if keys.iter().any(|(d, k)| *d == db && &k[..] == key) {
            return;
        }
    }
    let expired = key_is_expired(srv, db, key);
    let ndbs = srv.dbs.len();
    let w = &mut srv.watches;
    if w.dbs.len() < ndbs {
        w.dbs.resize_with(ndbs, Dict::new);
    }
    let watcher = Watcher {
        token: c.token,
        expired,
    };
    match w.dbs[db].get_mut(key) {
        Some(list) => list.push(watcher),
        None => {
            w.dbs[db].insert(Sds::from_slice(key), vec![watcher]);
        }
    }
    w.clients.entry(c.token).or_default().push((db, key.into()));
}

/// isWatchedKeyExpired: a key watched while alive has expired (even if not yet deleted).
fn watched_key_expired(srv: &Server, token: usize) -> bool {
    let Some(keys) = srv.watches.clients.get(&token) else {
        return false;
    };
    for (db, key) in keys {
        let was_expired = srv
            .watches
            .dbs
            .get(*db)
            .and_then(|d| d.peek(key))
            .and_then(|l| l.iter().find(|w| w.token == token))
            .is_some_and(|w| w.expired);
        if !was_expired && key_is_expired(srv, *db, key) {
            return true;
        }
    }
    false
}

impl Server {
    /// Invalidates the watches on `key` (touchWatchedKey). Called by `signal_modified_key`.
    #[inline]
    pub fn touch_watched_key(&mut self, db: usize, key: &[u8]) {
        if self.watches.clients.is_empty() {
            return;
        }
        self.touch_watched_key_slow(db, key);
    }

    fn touch_watched_key_slow(&mut self, db: usize, key: &[u8]) {
        let Some(list) = self.watches.dbs.get(db).and_then(|d| d.peek(key)) else {
            return;
        };
        let any_expired = list.iter().any(|w| w.expired);
        let present = any_expired && self.dbs[db].dict.peek(key).is_some();
        let mut dirty = Vec::new();
        let Some(list) = self.watches.dbs[db].get_mut(key) else {
            return;
        };
        for w in list.iter_mut() {
            if w.expired {
                if !present {
                    // Watched while already expired, now deleted: logically no change.
                    w.expired = false;
                    continue;
                }
                // Redis 7.0 stops walking the watchers here (the key came back while
                // counted as absent, without a deletion first).
                break;
            }
            dirty.push(w.token);
        }
        for t in dirty {
            make_dirty(self, t);
        }
    }

    /// Invalidates the watches of every key of db `emptied` that exists there, or in
    /// `replaced_with` (touchAllWatchedKeysInDb). FLUSHDB/FLUSHALL call it for each flushed
    /// db with None *before* emptying it; SWAPDB calls it for (a, Some(b)) and (b, Some(a))
    /// *before* swapping.
    pub fn touch_all_watched_keys_in_db(&mut self, emptied: usize, replaced_with: Option<usize>) {
        if self.watches.clients.is_empty() || emptied >= self.watches.dbs.len() {
            return;
        }
        let mut dirty = Vec::new();
        {
            let srv: &Server = self;
            let reg = &srv.watches.dbs[emptied];
            let mut updates: Vec<(Sds, usize, bool)> = Vec::new();
            for (key, list) in reg.iter() {
                let k = key.as_bytes();
                let in_emptied = srv.dbs[emptied].dict.peek(k).is_some();
                let in_replaced = replaced_with
                    .is_some_and(|r| srv.dbs.get(r).is_some_and(|d| d.dict.peek(k).is_some()));
                if !in_emptied && !in_replaced {
                    continue;
                }
                let replaced_expired = replaced_with.is_some_and(|r| key_is_expired(srv, r, k));
                for (i, w) in list.iter().enumerate() {
                    if w.expired {
                        if !in_replaced {
                            // Expired key now deleted: no logical change.
                            updates.push((key.clone(), i, false));
                            continue;
                        } else if replaced_expired {
                            // Expired key stays expired.
                            continue;
                        }
                    } else if !in_emptied && replaced_expired {
                        // A missing key replaced by an expired one: still absent.
                        updates.push((key.clone(), i, true));
                        continue;
                    }
                    dirty.push(w.token);
                }
            }
            // Apply the flag changes after the walk (the walk borrows the server).
            let reg = &mut self.watches.dbs[emptied];
            for (key, i, flag) in updates {
                if let Some(list) = reg.get_mut(key.as_bytes()) {
                    if let Some(w) = list.get_mut(i) {
                        w.expired = flag;
                    }
                }
            }
        }
        for t in dirty {
            if !self.watches.dirty.contains(&t) {
                make_dirty(self, t);
            }
        }
    }

    /// FLUSHALL: touches watched keys in every db (call before emptying).
    pub fn touch_all_watched_keys(&mut self) {
        if self.watches.clients.is_empty() {
            return;
        }
        for db in 0..self.dbs.len() {
            self.touch_all_watched_keys_in_db(db, None);
        }
    }

    /// SWAPDB a b: both directions (call before swapping).
    pub fn touch_watched_keys_on_swap(&mut self, a: usize, b: usize) {
        self.touch_all_watched_keys_in_db(a, Some(b));
        self.touch_all_watched_keys_in_db(b, Some(a));
    }
}

/// Ends the transaction and the watches (discardTransaction).
pub fn discard_transaction(srv: &mut Server, c: &mut Client) {
    c.multi = None;
    srv.watches.dirty.remove(&c.token);
    unwatch_all_keys(srv, c.token);
}

/// Marks the transaction failed after an error while queuing (flagTransaction).
#[inline]
pub fn flag_transaction(c: &mut Client) {
    if let Some(m) = c.multi.as_mut() {
        m.dirty_exec = true;
    }
}

/// EXEC rejected before it runs (wrong arity...): ends the transaction with EXECABORT
/// carrying the reason (execCommandAbort). `err` is the rejection's full error message.
pub fn exec_abort(srv: &mut Server, c: &mut Client, err: &str) {
    discard_transaction(srv, c);
    let err = err.strip_prefix('-').unwrap_or(err);
    // Rejections built from a bare message (arity, unknown subcommand) reach Redis's abort
    // without their ERR code; coded errors (NOAUTH...) keep it.
    let err = err.strip_prefix("ERR ").unwrap_or(err);
    let err = err.trim_end_matches(['\r', '\n']);
    c.out.err(&format!(
        "EXECABORT Transaction discarded because of: {err}"
    ));
}

/// Queues a command inside MULTI and answers QUEUED (queueMultiCommand). Nothing is stored
/// once the transaction is doomed.
pub fn queue_command(srv: &mut Server, c: &mut Client, idx: usize, args: &Args) {
    let dirty_cas = srv.watches.is_dirty(c.token);
    if let Some(m) = c.multi.as_mut() {
        if !m.dirty_exec && !dirty_cas {
            let total: usize = args.iter_from(0).map(|a| a.len()).sum();
            let mut buf = Vec::with_capacity(total);
            let mut argv = Argv::new();
            for a in args.iter_from(0) {
                argv.ranges.push((buf.len(), a.len()));
                buf.extend_from_slice(a);
            }
            m.mem += total + std::mem::size_of::<usize>() * args.len();
            m.cmds.push(Queued {
                cmd: idx,
                buf,
                argv,
            });
        }
    }
    c.out.raw(b"+QUEUED\r\n");
}

/// Forgets a client that is going away.
pub fn client_freed(srv: &mut Server, c: &mut Client) {
    if c.multi.is_some()
        || srv.watches.clients.contains_key(&c.token)
        || srv.watches.is_dirty(c.token)
    {
        discard_transaction(srv, c);
    }
}

// ---------------------------------------------------------------------------------------------
// Commands (called by crate::commands::multi)

/// MULTI.
pub fn multi(c: &mut Client) {
    if c.multi.is_some() {
        return c.out.err("ERR MULTI calls can not be nested");
    }
    c.multi = Some(Box::default());
    c.out.ok();
}

/// DISCARD.
pub fn discard(srv: &mut Server, c: &mut Client) {
    if c.multi.is_none() {
        return c.out.err("ERR DISCARD without MULTI");
    }
    discard_transaction(srv, c);
    c.out.ok();
}

/// WATCH key [key ...].
pub fn watch(srv: &mut Server, c: &mut Client, args: &Args) {
    if c.multi.is_some() {
        return c.out.err("ERR WATCH inside MULTI is not allowed");
    }
    // No point in watching once dirty: EXEC fails anyway.
    if !srv.watches.is_dirty(c.token) {
        for key in args.iter_from(1) {
            watch_key(srv, c, key);
        }
    }
    c.out.ok();
}

/// UNWATCH.
pub fn unwatch(srv: &mut Server, c: &mut Client) {
    unwatch_all_keys(srv, c.token);
    srv.watches.dirty.remove(&c.token);
    c.out.ok();
}

/// EXEC: runs the queued commands through `call`, or fails with a null array (a watched key
/// changed) or EXECABORT (a command was rejected while queuing).
pub fn exec(srv: &mut Server, c: &mut Client, exec_args: &Args) {
    if c.multi.is_none() {
        return c.out.err("ERR EXEC without MULTI");
    }
    if watched_key_expired(srv, c.token) {
        srv.watches.dirty.insert(c.token);
    }
    let dirty_exec = c.multi.as_ref().is_some_and(|m| m.dirty_exec);
    if dirty_exec || srv.watches.is_dirty(c.token) {
        if dirty_exec {
            c.out
                .err("EXECABORT Transaction discarded because of previous errors.");
        } else {
            c.out.null_array();
        }
        discard_transaction(srv, c);
        return;
    }
    // Blocking commands must not block inside a transaction: they see DENY BLOCKING and
    // answer as if they timed out.
    let old_deny = c.deny_blocking;
    c.deny_blocking = true;
    unwatch_all_keys(srv, c.token);
    let cmds = match c.multi.as_mut() {
        Some(m) => {
            m.exec_len = m.cmds.len();
            std::mem::take(&mut m.cmds)
        }
        None => Vec::new(),
    };
    c.out.array(cmds.len());
    for q in &cmds {
        let args = Args::new(&q.buf, &q.argv);
        // Rules may have changed since the command was queued (execCommand checks again).
        // The AOF's loading client has no user in Redis: it is never checked.
        let meta = srv.commands.cmds[q.cmd].meta;
        let denied = match srv.loading {
            true => None,
            false => crate::commands::acl::check(srv, c, q.cmd, &args),
        };
        if let Some(d) = denied {
            crate::commands::acl::log_denial(
                srv,
                c,
                d,
                crate::commands::acl::CTX_MULTI,
                &args,
                meta,
                None,
                Some((exec_args, "exec")),
            );
            c.out.err(&crate::commands::acl::exec_denied_error(d));
            continue;
        }
        crate::commands::call(srv, c, q.cmd, &args);
        if c.blocked.is_some() {
            // A blocking handler that ignored deny_blocking: never leave the client parked
            // inside EXEC; answer as a timeout would.
            srv.unblock_client(c);
            c.out.null_array();
        }
    }
    c.deny_blocking = old_deny;
    discard_transaction(srv, c);
}
