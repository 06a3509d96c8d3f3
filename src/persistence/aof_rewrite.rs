//! BGREWRITEAOF and turning the AOF on and off at run time (aof.c's
//! rewriteAppendOnlyFileBackground, backgroundRewriteDoneHandler, rewriteAppendOnlyFileRio,
//! startAppendOnly, stopAppendOnly).
//!
//! ```text
//!  parent                                        child (copy-on-write view)
//!  ------                                        -----
//!  flush the AOF buffer, fsync
//!  open <name>.<n+1>.incr.aof, persist a manifest
//!    that lists it (or, while turning the AOF on,
//!    open temp-<name>.incr outside the manifest)
//!  fork --------------------------------------->  write temp-rewriteaof-<pid>.aof (an RDB with
//!  keep serving; writes go to the new incr file      aof-base=1, or commands), fsync, rename
//!                                                    to temp-rewriteaof-bg-<pid>.aof, exit 0
//!  serverCron reaps it:  <-----------------------
//!    rename it to <name>.<b+1>.base.rdb|aof
//!    (turning on: rename the temp incr to <name>.<n+1>.incr.aof)
//!    old base and every incr file but the newest become history; persist the manifest
//!    delete the history files, persist the manifest again
//! ```
//!
//! No rewrite buffer is needed (7.0's design): everything written after the fork is in the
//! incremental file opened before it, and the new base holds everything before. A crash at any
//! point leaves a manifest that names complete files: the old set until the manifest's rename,
//! the new set after it.
//!
//! The AOF's states (server.aof_state): off (`Server::aof` is None), on, and waiting for the
//! first rewrite after `CONFIG SET appendonly yes` (`Aof::wait_rewrite`), when writes go to the
//! temp incr file and the manifest does not know about it until the rewrite succeeds.

use super::aof::{self, AofFile, Kind, Manifest};
use super::bgsave::{self, ChildKind, StartError};
use super::{io_msg, now_secs, Logged};
use crate::server::Server;
use crate::types::object::{RObj, Value};
use crate::{log_notice, log_warning};
use std::io::Write;

/// Commands of the command-form base put at most this many elements in one RPUSH, SADD,
/// ZADD or HMSET (AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// Consecutive failures after which automatic rewrites back off (AOF_REWRITE_LIMITE_THRESHOLD).
const LIMIT_THRESHOLD: u64 = 3;
/// The longest back-off, in minutes (AOF_REWRITE_LIMITE_MAX_MINUTES).
const LIMIT_MAX_MINUTES: i64 = 60;

/// Rewrite bookkeeping, kept whether the AOF is on or off (`PersistState::aofrw`).
pub struct RewriteState {
    /// A rewrite waits for the running child to finish (aof_rewrite_scheduled).
    pub scheduled: bool,
    /// Rewrites started (aof_rewrites).
    pub rewrites: u64,
    /// The last rewrite succeeded (aof_last_bgrewrite_status).
    pub last_ok: bool,
    /// Failures in a row (aof_rewrites_consecutive_failures).
    pub consecutive_failures: u64,
    /// Unix seconds when the running rewrite started, -1 when none.
    pub time_start: i64,
    /// Duration of the last rewrite in seconds, -1 before any.
    pub time_last: i64,
    /// Copy-on-write bytes of the last rewrite child.
    pub last_cow_size: u64,
    /// aofRewriteLimited's back-off: the current delay and when the next try may run.
    limit_delay_minutes: i64,
    limit_next_time: i64,
}

impl Default for RewriteState {
    fn default() -> Self {
        RewriteState {
            scheduled: false,
            rewrites: 0,
            last_ok: true,
            consecutive_failures: 0,
            time_start: -1,
            time_last: -1,
            last_cow_size: 0,
            limit_delay_minutes: 0,
            limit_next_time: 0,
        }
    }
}

/// The child's temp file before and after it is complete (aofRemoveTempFile's two names).
fn temp_names(pid: i32) -> (String, String) {
    (
        format!("temp-rewriteaof-{pid}.aof"),
        format!("temp-rewriteaof-bg-{pid}.aof"),
    )
}

/// The incremental file used while the AOF is being turned on (getTempIncrAofName).
pub fn temp_incr_name(filename: &str) -> String {
    format!("temp-{filename}.incr")
}

// ---------------------------------------------------------------------------------------------
// The base file's content

/// A buffered writer over the rewrite's file: fsyncs every 4 MiB when
/// aof-rewrite-incremental-fsync is on, reports progress to the parent.
struct Out<'a> {
    file: std::fs::File,
    buf: Vec<u8>,
    unsynced: usize,
    incremental_fsync: bool,
    progress: Option<&'a mut dyn FnMut(u64)>,
}

impl Out<'_> {
    fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.unsynced += self.buf.len();
        self.buf.clear();
        if self.incremental_fsync && self.unsynced >= 4 * 1024 * 1024 {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(())
    }
}

impl super::rdb::Sink for Out<'_> {
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(chunk);
        self.flush()
    }

    fn progress(&mut self, keys: u64) {
        if let Some(p) = self.progress.as_mut() {
            p(keys);
        }
    }
}

/// Appends `*n\r\n`.
fn multibulk(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa(n as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string.
fn bulk(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa(s.len() as i64).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

fn itoa(v: i64) -> String {
    v.to_string()
}

/// A sorted set score as rioWriteBulkDouble prints it (`%.17g`).
fn bulk_score(out: &mut Vec<u8>, v: f64) {
    let s = if v.is_infinite() {
        if v > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        }
    } else {
        crate::util::num::printf_f64(b"%.17g\0", v)
    };
    bulk(out, s.as_bytes());
}

/// The variadic commands that rebuild one collection, at most [`ITEMS_PER_CMD`] items each
/// (rewriteListObject & co.): [`Batches::item`] starts a new `cmd key` header when the
/// previous command is full; the caller then writes the item's `per_item` arguments.
struct Batches<'a> {
    cmd: &'a [u8],
    key: &'a [u8],
    per_item: usize,
    left: usize,
    in_cmd: usize,
}

impl<'a> Batches<'a> {
    fn new(cmd: &'a [u8], key: &'a [u8], total: usize, per_item: usize) -> Batches<'a> {
        Batches {
            cmd,
            key,
            per_item,
            left: total,
            in_cmd: 0,
        }
    }

    fn item(&mut self, out: &mut Vec<u8>) {
        if self.in_cmd == 0 {
            multibulk(out, 2 + self.left.min(ITEMS_PER_CMD) * self.per_item);
            bulk(out, self.cmd);
            bulk(out, self.key);
        }
        self.in_cmd = (self.in_cmd + 1) % ITEMS_PER_CMD;
        self.left -= 1;
    }
}

/// The commands that rebuild one key's value (rewriteAppendOnlyFileRio's per-type cases).
fn rewrite_value(out: &mut Vec<u8>, key: &[u8], o: &RObj) {
    let (mut tmp, mut tmp2) = ([0u8; 20], [0u8; 20]);
    match &o.value {
        Value::Int(v) => {
            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
            bulk(out, key);
            bulk(out, itoa(*v).as_bytes());
        }
        Value::Str(s) => {
            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
            bulk(out, key);
            bulk(out, s.as_bytes());
        }
        Value::List(l) => {
            let mut b = Batches::new(b"RPUSH", key, l.len(), 1);
            l.for_each(|e| {
                b.item(out);
                bulk(out, e);
            });
        }
        Value::Set(s) => {
            let mut b = Batches::new(b"SADD", key, s.len(), 1);
            for m in s.iter() {
                b.item(out);
                bulk(out, m.bytes(&mut tmp));
            }
        }
        Value::ZSet(z) => {
            let mut b = Batches::new(b"ZADD", key, z.len(), 2);
            for (m, score) in z.iter() {
                b.item(out);
                bulk_score(out, score);
                bulk(out, m.as_bytes(&mut tmp));
            }
        }
        Value::Stream(st) => rewrite_stream(out, key, st),
        Value::Hash(h) => {
            let mut b = Batches::new(b"HMSET", key, h.len(), 2);
            for (f, v) in h.iter() {
                b.item(out);
                bulk(out, f.as_bytes(&mut tmp));
                bulk(out, v.as_bytes(&mut tmp2));
            }
        }
    }
}

/// The commands that rebuild a stream (rewriteStreamObject): an XADD per entry (or, for an
/// empty stream, the XADD MAXLEN 0 trick), XSETID with the last, added and max-deleted IDs,
/// then per group XGROUP CREATE with ENTRIESREAD, and per consumer an XCLAIM ... FORCE JUSTID
/// for each pending entry or XGROUP CREATECONSUMER when it has none.
fn rewrite_stream(out: &mut Vec<u8>, key: &[u8], st: &crate::types::stream::Stream) {
    use crate::types::stream::StreamId;
    let (mut t1, mut t2) = ([0u8; 20], [0u8; 20]);
    if st.length > 0 {
        st.range(StreamId::MIN, StreamId::MAX, false, false, |e| {
            multibulk(out, 3 + e.numfields() * 2);
            bulk(out, b"XADD");
            bulk(out, key);
            bulk(out, &e.id.to_bytes());
            e.for_each_field(|f, v| {
                bulk(out, f.as_bytes(&mut t1));
                bulk(out, v.as_bytes(&mut t2));
            });
            true
        });
    } else {
        multibulk(out, 7);
        for a in [&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"] {
            bulk(out, a);
        }
    }
    multibulk(out, 7);
    bulk(out, b"XSETID");
    bulk(out, key);
    bulk(out, &st.last_id.to_bytes());
    bulk(out, b"ENTRIESADDED");
    bulk(out, itoa(st.entries_added as i64).as_bytes());
    bulk(out, b"MAXDELETEDID");
    bulk(out, &st.max_deleted_entry_id.to_bytes());
    let Some(groups) = st.groups.as_ref() else {
        return;
    };
    groups.for_each(|gname, g| {
        multibulk(out, 7);
        for a in [&b"XGROUP"[..], b"CREATE", key, gname] {
            bulk(out, a);
        }
        bulk(out, &g.last_id.to_bytes());
        bulk(out, b"ENTRIESREAD");
        bulk(out, itoa(g.entries_read).as_bytes());
        g.consumers.for_each(|cname, cons| {
            if cons.pel.is_empty() {
                multibulk(out, 5);
                for a in [&b"XGROUP"[..], b"CREATECONSUMER", key, gname, cname] {
                    bulk(out, a);
                }
                return;
            }
            cons.pel.for_each(|raw, _| {
                let (Some(id), Some(nack)) = (StreamId::decode(raw), g.pel.get(raw)) else {
                    return;
                };
                multibulk(out, 12);
                for a in [&b"XCLAIM"[..], key, gname, cname, b"0"] {
                    bulk(out, a);
                }
                bulk(out, &id.to_bytes());
                bulk(out, b"TIME");
                bulk(out, itoa(nack.delivery_time).as_bytes());
                bulk(out, b"RETRYCOUNT");
                bulk(out, itoa(nack.delivery_count as i64).as_bytes());
                bulk(out, b"JUSTID");
                bulk(out, b"FORCE");
            });
        });
    });
}

/// The dataset as commands (rewriteAppendOnlyFileRio): an optional `#TS:` annotation, then
/// per non-empty database a SELECT and each key's commands followed by PEXPIREAT when it has
/// a TTL. Returns the number of keys written.
fn write_commands(
    srv: &Server,
    out: &mut Out,
    timestamp: bool,
    delay: i64,
) -> std::io::Result<u64> {
    if timestamp {
        out.buf
            .extend_from_slice(format!("#TS:{}\r\n", now_secs()).as_bytes());
    }
    // The function libraries first, each as FUNCTION LOAD (rewriteFunctions).
    for lib in srv.scripting.functions.libraries.values() {
        out.buf
            .extend_from_slice(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n");
        bulk(&mut out.buf, &lib.code);
        out.maybe_flush()?;
    }
    let mut keys = 0u64;
    for (id, db) in srv.dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        out.buf.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
        bulk(&mut out.buf, itoa(id as i64).as_bytes());
        for (k, o) in db.dict.iter() {
            let kb = k.as_bytes();
            rewrite_value(&mut out.buf, kb, o);
            if let Some(when) = db.expires.peek(kb) {
                out.buf.extend_from_slice(b"*3\r\n$9\r\nPEXPIREAT\r\n");
                bulk(&mut out.buf, kb);
                bulk(&mut out.buf, itoa(*when).as_bytes());
            }
            out.maybe_flush()?;
            keys += 1;
            if keys & 1023 == 0 {
                if let Some(p) = out.progress.as_mut() {
                    p(keys);
                }
            }
            if delay != 0 {
                super::rdb::debug_delay(delay);
            }
        }
    }
    out.flush()?;
    Ok(keys)
}

/// Writes the dataset as an AOF base to `target` (rewriteAppendOnlyFile): into
/// `temp-rewriteaof-<pid>.aof` in the working directory, fsynced, then renamed. An RDB with
/// aux aof-base=1 when aof-use-rdb-preamble is on, else commands. Returns the keys written.
pub fn rewrite_to_file(
    srv: &Server,
    target: &str,
    progress: Option<&mut dyn FnMut(u64)>,
) -> Result<u64, Logged> {
    let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
    let file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            log_warning!(
                "Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {}",
                io_msg(&e)
            );
            return Err(Logged);
        }
    };
    let mut out = Out {
        file,
        buf: Vec::with_capacity(128 * 1024),
        unsynced: 0,
        incremental_fsync: srv.config.aof_rewrite_incremental_fsync,
        progress,
    };
    let mut opts = super::save_options(srv);
    // An AOF base carries no replication position (rdbSaveRio with no rsi).
    opts.repl = None;
    let res = if srv.config.aof_use_rdb_preamble {
        opts.aof_base = true;
        super::rdb::save_rdb(&srv.dbs, &opts, &mut out)
    } else {
        write_commands(
            srv,
            &mut out,
            srv.config.aof_timestamp_enabled,
            opts.key_save_delay,
        )
    };
    let res = res.and_then(|keys| out.file.sync_all().map(|_| keys));
    drop(out);
    let keys = match res {
        Ok(k) => k,
        Err(e) => {
            log_warning!(
                "Write error writing append only file on disk: {}",
                io_msg(&e)
            );
            let _ = std::fs::remove_file(&tmp);
            return Err(Logged);
        }
    };
    if let Err(e) = std::fs::rename(&tmp, target) {
        log_warning!(
            "Error moving temp append only file on the final destination: {}",
            io_msg(&e)
        );
        let _ = std::fs::remove_file(&tmp);
        return Err(Logged);
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------------------------
// Starting, finishing and stopping a rewrite

/// True when automatic rewrites must wait after repeated failures (aofRewriteLimited): after
/// three failures in a row the next try waits 1 minute, then 2, 4 ... up to an hour.
fn limited(srv: &mut Server) -> bool {
    let st = &mut srv.persist.aofrw;
    if st.consecutive_failures < LIMIT_THRESHOLD {
        st.limit_delay_minutes = 0;
        st.limit_next_time = 0;
        return false;
    }
    let now = now_secs();
    if st.limit_next_time != 0 {
        if now < st.limit_next_time {
            return true;
        }
        st.limit_next_time = 0;
        return false;
    }
    st.limit_delay_minutes = if st.limit_delay_minutes == 0 {
        1
    } else {
        (st.limit_delay_minutes * 2).min(LIMIT_MAX_MINUTES)
    };
    st.limit_next_time = now + st.limit_delay_minutes * 60;
    log_warning!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        st.limit_delay_minutes
    );
    true
}

/// Starts a background rewrite (rewriteAppendOnlyFileBackground). Err when a child runs or
/// something failed (logged).
pub fn start(srv: &mut Server) -> Result<(), Logged> {
    if srv.persist.child.is_some() {
        return Err(Logged);
    }
    let dir = srv.config.appenddirname.clone();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_warning!(
            "Can't open or create append-only dir {}: {}",
            dir,
            io_msg(&e)
        );
        srv.persist.aofrw.last_ok = false;
        return Err(Logged);
    }
    srv.prop.reset_selected_db();
    aof::flush(srv, true);
    if aof::open_new_incr(srv).is_err() {
        srv.persist.aofrw.last_ok = false;
        return Err(Logged);
    }
    srv.persist.aofrw.rewrites += 1;
    let res = bgsave::fork_child(srv, ChildKind::Aof, |srv, io| {
        let (_, done_name) = temp_names(std::process::id() as i32);
        let mut progress = |keys: u64| io.progress(keys);
        match rewrite_to_file(srv, &done_name, Some(&mut progress)) {
            Ok(keys) => {
                log_notice!(
                    "Successfully created the temporary AOF base file {}",
                    done_name
                );
                io.finished(keys, "AOF rewrite");
                0
            }
            Err(Logged) => 1,
        }
    });
    match res {
        Ok(pid) => {
            log_notice!(
                "Background append only file rewriting started by pid {}",
                pid
            );
            srv.persist.aofrw.scheduled = false;
            srv.persist.aofrw.time_start = now_secs();
            Ok(())
        }
        Err(StartError::ForkFailed) => {
            let e = std::io::Error::last_os_error();
            srv.persist.aofrw.last_ok = false;
            log_warning!(
                "Can't rewrite append only file in background: fork: {}",
                io_msg(&e)
            );
            Err(Logged)
        }
        Err(StartError::ChildActive) => Err(Logged),
    }
}

/// The manifest with a new base named and the old one moved to history
/// (getNewBaseFileNameAndMarkPreAsHistory).
fn new_base(m: &mut Manifest, filename: &str, preamble: bool) -> String {
    // History is listed newest first: the old base goes to the front, and the incremental
    // files it covered will go in front of it (the order aof.c's list insertions give).
    if let Some(mut old) = m.base.take() {
        old.kind = Kind::History;
        m.history.insert(0, old);
    }
    m.base_seq += 1;
    let name = aof::base_name(filename, m.base_seq, preamble);
    m.base = Some(AofFile {
        name: name.clone(),
        seq: m.base_seq,
        kind: Kind::Base,
    });
    name
}

/// A rewrite child exited (backgroundRewriteDoneHandler).
pub fn done(srv: &mut Server, pid: i32, cow: Option<u64>, code: i32, sig: i32) {
    let (_, tmp) = temp_names(pid);
    if sig == 0 && code == 0 {
        log_notice!("Background AOF rewrite terminated with success");
        if let Some(c) = cow {
            srv.persist.aofrw.last_cow_size = c;
        }
        match install(srv, &tmp) {
            Ok(()) => {
                del_history_files(srv);
                srv.persist.aofrw.last_ok = true;
                srv.persist.aofrw.consecutive_failures = 0;
                log_notice!("Background AOF rewrite finished successfully");
                if let Some(a) = srv.aof.as_mut() {
                    a.wait_rewrite = false;
                }
            }
            Err(()) => {
                srv.persist.aofrw.last_ok = false;
                srv.persist.aofrw.consecutive_failures += 1;
            }
        }
    } else if sig == 0 {
        srv.persist.aofrw.last_ok = false;
        srv.persist.aofrw.consecutive_failures += 1;
        log_warning!("Background AOF rewrite terminated with error");
    } else {
        // SIGUSR1 is how the server stops a child on purpose: not an error.
        if sig != libc::SIGUSR1 {
            srv.persist.aofrw.last_ok = false;
            srv.persist.aofrw.consecutive_failures += 1;
        }
        log_warning!("Background AOF rewrite terminated by signal {}", sig);
    }
    remove_temp_files(pid);
    let waiting = srv.aof.as_ref().is_some_and(|a| a.wait_rewrite);
    if waiting {
        // The next try starts its temp incr file afresh.
        aof::discard_buffer(srv);
        let name = temp_incr_name(&srv.config.appendfilename);
        log_notice!("Removing the temp incr aof file {} in the background", name);
        let _ = std::fs::remove_file(aof::path(&srv.config.appenddirname, &name));
    }
    let st = &mut srv.persist.aofrw;
    st.time_last = now_secs() - st.time_start;
    st.time_start = -1;
    if waiting {
        st.scheduled = true;
    }
}

/// Puts the finished base in place and persists the manifest that names it. Err (logged)
/// leaves the old manifest in force.
fn install(srv: &mut Server, tmp: &str) -> Result<(), ()> {
    let dir = srv.config.appenddirname.clone();
    let filename = srv.config.appendfilename.clone();
    let mut m = srv.aof_manifest.clone();
    let base = new_base(&mut m, &filename, srv.config.aof_use_rdb_preamble);
    let base_path = aof::path(&dir, &base);
    if let Err(e) = std::fs::rename(tmp, &base_path) {
        log_warning!(
            "Error trying to rename the temporary AOF base file {} into {}: {}",
            tmp,
            base_path,
            io_msg(&e)
        );
        return Err(());
    }
    log_notice!(
        "Successfully renamed the temporary AOF base file {} into {}",
        tmp,
        base
    );
    let waiting = srv.aof.as_ref().is_some_and(|a| a.wait_rewrite);
    let mut new_incr_path = None;
    if waiting {
        let temp = temp_incr_name(&filename);
        m.incr_seq += 1;
        let name = aof::incr_name(&filename, m.incr_seq);
        m.incr.push(AofFile {
            name: name.clone(),
            seq: m.incr_seq,
            kind: Kind::Incr,
        });
        let p = aof::path(&dir, &name);
        if let Err(e) = std::fs::rename(aof::path(&dir, &temp), &p) {
            log_warning!(
                "Error trying to rename the temporary AOF incr file {} into {}: {}",
                aof::path(&dir, &temp),
                p,
                io_msg(&e)
            );
            let _ = std::fs::remove_file(&base_path);
            return Err(());
        }
        log_notice!(
            "Successfully renamed the temporary AOF incr file {} into {}",
            temp,
            name
        );
        new_incr_path = Some(p);
    }
    // Every incremental file the new base covers becomes history: all of them when the AOF
    // is off, all but the one being written when it is on (markRewrittenIncrAofAsHistory).
    let keep = usize::from(srv.aof.is_some()).min(m.incr.len());
    let covered = m.incr.len() - keep;
    let mut history: Vec<AofFile> = m
        .incr
        .drain(..covered)
        .map(|mut f| {
            f.kind = Kind::History;
            f
        })
        .collect();
    history.append(&mut m.history);
    m.history = history;
    if let Err(e) = aof::persist_manifest(&dir, &filename, &m) {
        log_warning!("Can't persist the AOF manifest: {}", io_msg(&e));
        let _ = std::fs::remove_file(&base_path);
        if let Some(p) = new_incr_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(());
    }
    srv.aof_manifest = m;
    if let Some(a) = srv.aof.as_mut() {
        let base_len = std::fs::metadata(&base_path).map_or(0, |md| md.len());
        a.after_rewrite(base_len);
    }
    Ok(())
}

/// Deletes the files the manifest lists as history and persists it without them
/// (aofDelHistoryFiles); nothing with aof-disable-auto-gc.
pub fn del_history_files(srv: &mut Server) {
    if srv.config.aof_disable_auto_gc || srv.aof_manifest.history.is_empty() {
        return;
    }
    let dir = srv.config.appenddirname.clone();
    for f in std::mem::take(&mut srv.aof_manifest.history) {
        log_notice!("Removing the history file {} in the background", f.name);
        let _ = std::fs::remove_file(aof::path(&dir, &f.name));
    }
    if let Err(e) = aof::persist_manifest(&dir, &srv.config.appendfilename, &srv.aof_manifest) {
        log_warning!("Can't persist the AOF manifest: {}", io_msg(&e));
    }
}

/// Removes a rewrite child's temp files (aofRemoveTempFile).
fn remove_temp_files(pid: i32) {
    let (a, b) = temp_names(pid);
    let _ = std::fs::remove_file(a);
    let _ = std::fs::remove_file(b);
}

/// Stops a running rewrite child (killAppendOnlyChild).
pub fn kill(srv: &mut Server) {
    let Some(pid) = srv
        .persist
        .child
        .as_ref()
        .filter(|c| c.kind == ChildKind::Aof)
        .map(|c| c.pid)
    else {
        return;
    };
    log_notice!("Killing running AOF rewrite child: {}", pid);
    bgsave::kill_child(srv, ChildKind::Aof);
}

// ---------------------------------------------------------------------------------------------
// Commands and the cron

/// BGREWRITEAOF's reply (bgrewriteaofCommand); `in_exec` when run inside EXEC.
pub fn bgrewriteaof(srv: &mut Server, in_exec: bool) -> Result<&'static str, &'static str> {
    if bgsave::child_kind(srv) == Some(ChildKind::Aof) {
        return Err("ERR Background append only file rewriting already in progress");
    }
    if srv.persist.child.is_some() || in_exec {
        srv.persist.aofrw.scheduled = true;
        // A rewrite asked for by hand runs at once, whatever the failures before.
        srv.persist.aofrw.consecutive_failures = 0;
        return Ok("Background append only file rewriting scheduled");
    }
    match start(srv) {
        Ok(()) => Ok("Background append only file rewriting started"),
        Err(Logged) => Err(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ),
    }
}

/// serverCron's AOF part, before the child check: a scheduled rewrite starts when no child
/// runs.
pub fn cron_scheduled(srv: &mut Server) {
    if srv.persist.child.is_none() && srv.persist.aofrw.scheduled && !limited(srv) {
        let _ = start(srv);
    }
}

/// serverCron's automatic rewrite, when no child runs: the AOF grew by
/// auto-aof-rewrite-percentage over its size after the last rewrite (or start) and is past
/// auto-aof-rewrite-min-size.
pub fn cron_auto(srv: &mut Server) {
    let perc = srv.config.auto_aof_rewrite_percentage;
    let Some(a) = srv.aof.as_ref() else {
        return;
    };
    if a.wait_rewrite
        || srv.persist.child.is_some()
        || perc == 0
        || a.current_size as i64 <= srv.config.auto_aof_rewrite_min_size
    {
        return;
    }
    let base = if a.base_size > 0 { a.base_size } else { 1 } as i64;
    let growth = (a.current_size as i64).saturating_mul(100) / base - 100;
    if growth >= perc && !limited(srv) {
        log_notice!("Starting automatic rewriting of AOF on {}% growth", growth);
        let _ = start(srv);
    }
}

/// CONFIG SET appendonly yes (startAppendOnly): the AOF opens waiting for a rewrite whose
/// base becomes its first file. Err when the rewrite cannot start.
pub fn start_append_only(srv: &mut Server, in_exec: bool) -> Result<(), Logged> {
    aof::open_waiting(srv);
    let other_child = srv
        .persist
        .child
        .as_ref()
        .is_some_and(|c| c.kind != ChildKind::Aof);
    if other_child {
        srv.persist.aofrw.scheduled = true;
        log_warning!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    } else if in_exec {
        srv.persist.aofrw.scheduled = true;
        log_warning!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
    } else {
        if bgsave::child_kind(srv) == Some(ChildKind::Aof) {
            log_warning!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            kill(srv);
        }
        if start(srv).is_err() {
            aof::close(srv);
            log_warning!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return Err(Logged);
        }
    }
    Ok(())
}

/// CONFIG SET appendonly no (stopAppendOnly): the buffer is written and fsynced, the file
/// closed, a running rewrite stopped.
pub fn stop_append_only(srv: &mut Server) {
    aof::flush(srv, true);
    aof::close(srv);
    srv.persist.aofrw.scheduled = false;
    kill(srv);
}
