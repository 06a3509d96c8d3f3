//! Command propagation (server.c's alsoPropagate, propagateNow and propagatePendingCommands):
//! the one place that decides what a write sends to the AOF and to replicas.
//!
//! A handler never writes to a consumer. It changes the dataset and bumps `Server::dirty`;
//! `commands::call` then records the command as it was sent, unless the handler declared
//! something else while it ran:
//!
//! - [`Server::rewrite_command`]: propagate this argv instead (rewriteClientCommandVector:
//!   EXPIRE as PEXPIREAT, BLPOP as LPOP, INCRBYFLOAT as SET ... KEEPTTL);
//! - [`Server::also_propagate`]: an extra effect, in order (SPOP's SREMs);
//! - [`Server::prevent_propagation`]: the command itself is not sent (its effects were);
//! - [`Server::force_propagation`]: sent even though nothing changed (FLUSHALL on nothing).
//!
//! The effects of one execution unit (a command, or an EXEC with its queued commands, or a
//! blocked client served) are collected in `ops` and emitted when the outermost `call` ends:
//! one effect as is, several wrapped in MULTI/EXEC, each preceded by SELECT when its db is not
//! the one the stream last selected. Nothing is emitted for a write whose `dirty` did not move.
//! Deletions by expiry and eviction travel as DEL (or UNLINK under lazyfree): inside a command
//! (lazy expiry) they are effects of that command; outside one (active expiry, eviction), and
//! inside SCAN and RANDOMKEY, they are emitted at once, alone.
//!
//! Consumers get the same RESP bytes in [`feed_consumers`]: the AOF (`Server::aof`) and
//! replication (`crate::replication::feed`: the backlog and every replica). When there is no
//! consumer `Propagation::active` is false and every entry point returns at its first test: no
//! allocation per command.

use crate::server::Server;

/// One collected effect: a command to send against database `db`.
struct Op {
    db: usize,
    argv: Vec<Vec<u8>>,
}

/// What the running command declared about itself (saved and restored around nested calls:
/// EXEC calls each queued command).
#[derive(Default)]
pub struct Declared {
    prevent: bool,
    force: bool,
    rewritten: Option<Vec<Vec<u8>>>,
}

/// The propagation state (`Server::prop`).
#[derive(Default)]
pub struct Propagation {
    /// True while some consumer wants the stream. Set when the AOF opens.
    pub active: bool,
    /// How deep in nested `call`s we are; effects are emitted when it returns to 0.
    depth: u32,
    /// Effects of the current execution unit, in order.
    ops: Vec<Op>,
    /// The running command's declarations.
    cur: Declared,
    /// Set by SCAN and RANDOMKEY while they expire keys: those deletions are emitted at
    /// once, each alone, instead of joining the command's effects.
    pub deletions_alone: bool,
    /// The database the stream last SELECTed; None makes the next effect select.
    selected_db: Option<usize>,
    /// Scratch: RESP of what is being emitted, handed to every consumer.
    out: Vec<u8>,
    /// Set while a script's command runs under redis.set_repl without REPL_AOF: its effects
    /// are not recorded (a call without CMD_CALL_PROPAGATE_AOF).
    pub muted: bool,
}

impl Propagation {
    /// Forgets which db the stream selected: the next effect starts with SELECT (a new
    /// consumer, a new AOF file).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// The db the stream last selected (server.slaveseldb), if any.
    pub fn selected_db(&self) -> Option<usize> {
        self.selected_db
    }
}

/// Appends `argv` as a RESP multibulk (catAppendOnlyGenericCommand).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    encode_args(out, argv.len(), argv.iter().map(|a| a.as_ref()));
}

/// [`encode_command`] over `n` arguments given by an iterator.
fn encode_args<'a>(out: &mut Vec<u8>, n: usize, argv: impl Iterator<Item = &'a [u8]>) {
    push_header(out, b'*', n);
    for a in argv {
        push_header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `<kind><n>\r\n` without allocating.
#[inline]
fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push(kind);
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

impl Server {
    /// Propagates `argv` instead of the running command (rewriteClientCommandVector). The
    /// closure runs only when some consumer exists.
    #[inline]
    pub fn rewrite_command(&mut self, argv: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.prop.active {
            self.prop.cur.rewritten = Some(argv());
        }
    }

    /// Adds an effect of the running command, sent in order with its other effects
    /// (alsoPropagate). The closure runs only when some consumer exists.
    #[inline]
    pub fn also_propagate(&mut self, db: usize, argv: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.prop.active && !self.prop.muted {
            let argv = argv();
            self.prop.ops.push(Op { db, argv });
        }
    }

    /// The running command itself is not propagated (preventCommandPropagation); effects it
    /// declared with [`Server::also_propagate`] still are.
    #[inline]
    pub fn prevent_propagation(&mut self) {
        if self.prop.active {
            self.prop.cur.prevent = true;
        }
    }

    /// The running command is propagated even if the dataset did not change
    /// (forceCommandPropagation: FLUSHALL and FLUSHDB on empty databases).
    #[inline]
    pub fn force_propagation(&mut self) {
        if self.prop.active {
            self.prop.cur.force = true;
        }
    }

    /// A key deleted because its TTL passed (`lazy`: lazyfree-lazy-expire) or by eviction
    /// (lazyfree-lazy-eviction): DEL or UNLINK (propagateDeletion). Inside a command it is
    /// one of the command's effects (a write on an expired key travels as MULTI, DEL, the
    /// write, EXEC); outside (active expiry, eviction before a command) it is emitted alone.
    pub fn propagate_deletion(&mut self, db: usize, key: &[u8], lazy: bool) {
        if !self.prop.active {
            return;
        }
        let cmd: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        if self.prop.depth > 0 && !self.prop.deletions_alone {
            self.prop.ops.push(Op {
                db,
                argv: vec![cmd.to_vec(), key.to_vec()],
            });
        } else {
            emit(self, db, &[cmd, key]);
            feed_consumers(self);
        }
    }
}

/// Called by `call` before the handler runs (only while propagation is active): a new
/// command level. Returns the outer command's declarations, to hand back to [`after_call`].
#[inline]
pub fn before_call(srv: &mut Server) -> Declared {
    srv.prop.depth += 1;
    std::mem::take(&mut srv.prop.cur)
}

/// Called by `call` after the handler: records the command (as sent, or as rewritten) when it
/// changed the dataset and did not prevent it, restores the outer level, and emits the
/// collected effects when this was the outermost call. EXEC is never recorded itself: its
/// commands were, and several are wrapped in MULTI/EXEC here.
pub fn after_call(
    srv: &mut Server,
    db: usize,
    is_exec: bool,
    args: &crate::commands::Args,
    outer: Declared,
    dirty_before: u64,
) {
    let mine = std::mem::replace(&mut srv.prop.cur, outer);
    // `dirty` must have grown: SAVE resets it, and is no write.
    if (srv.dirty > dirty_before || mine.force) && !mine.prevent && !is_exec && !srv.prop.muted {
        match mine.rewritten {
            Some(argv) => srv.prop.ops.push(Op { db, argv }),
            // The common case, a write that is its own only effect: encoded straight from the
            // query buffer, nothing allocated per command.
            None if srv.prop.depth == 1 && srv.prop.ops.is_empty() => {
                srv.prop.depth = 0;
                select_if_needed(&mut srv.prop, db);
                encode_args(&mut srv.prop.out, args.len(), args.iter_from(0));
                feed_consumers(srv);
                return;
            }
            None => srv.prop.ops.push(Op {
                db,
                argv: args.to_vecs(),
            }),
        }
    }
    srv.prop.depth -= 1;
    if srv.prop.depth == 0 {
        propagate_pending(srv);
    }
}

/// Emits the collected effects of an execution unit (propagatePendingCommands): MULTI first
/// (against the first effect's db, so its SELECT comes before it) and EXEC last when there
/// are several.
fn propagate_pending(srv: &mut Server) {
    if srv.prop.ops.is_empty() {
        return;
    }
    let mut ops = std::mem::take(&mut srv.prop.ops);
    let wrap = ops.len() > 1;
    if wrap {
        emit(srv, ops[0].db, &[b"MULTI"]);
    }
    for op in &ops {
        emit(srv, op.db, &op.argv);
    }
    if wrap {
        let last = ops[ops.len() - 1].db;
        emit(srv, last, &[b"EXEC"]);
    }
    ops.clear();
    srv.prop.ops = ops;
    feed_consumers(srv);
}

/// Appends one effect to the outgoing stream, with a SELECT first when the db changes.
fn emit<A: AsRef<[u8]>>(srv: &mut Server, db: usize, argv: &[A]) {
    select_if_needed(&mut srv.prop, db);
    encode_command(&mut srv.prop.out, argv);
}

/// A SELECT into the stream when `db` is not the one it last selected.
#[inline]
fn select_if_needed(p: &mut Propagation, db: usize) {
    if p.selected_db != Some(db) {
        encode_command(&mut p.out, &[&b"SELECT"[..], db.to_string().as_bytes()]);
        p.selected_db = Some(db);
    }
}

/// Hands the emitted bytes to every consumer: the AOF's buffer (written and fsynced before
/// the loop sleeps); replicas will be fed here too.
fn feed_consumers(srv: &mut Server) {
    if srv.prop.out.is_empty() {
        return;
    }
    // A replica's replicas get its master's stream proxied, not what it executes.
    if srv.repl.backlog.is_some() && !srv.repl.is_replica() {
        let out = std::mem::take(&mut srv.prop.out);
        crate::replication::feed(srv, &out);
        srv.prop.out = out;
    }
    if let Some(aof) = srv.aof.as_mut() {
        // While the AOF waits for its first rewrite, only that rewrite's incremental file
        // wants the stream (and only once its child runs).
        if !aof.wait_rewrite || srv.persist.child.is_some() {
            aof.feed(&srv.prop.out, srv.config.aof_timestamp_enabled);
        }
    }
    srv.prop.out.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_aof_does() {
        let mut out = Vec::new();
        encode_command(&mut out, &[&b"SELECT"[..], b"0"]);
        encode_command(&mut out, &[&b"set"[..], b"", b"a\r\nb"]);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$0\r\n\r\n$4\r\na\r\nb\r\n"
        );
    }
}
