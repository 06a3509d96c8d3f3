//! Persistence: RDB snapshots (rdb.c's file-level half).
//!
//! - [`rdb`]: the format, both ways, one function per value type.
//! - [`bgsave`]: BGSAVE's fork child and the parent's bookkeeping for it (the only place
//!   besides daemonize that forks).
//! - [`digest`]: DEBUG DIGEST / DIGEST-VALUE.
//!
//! This file holds what the server calls: saving to a file (temp file, fsync, rename),
//! loading at start-up with Redis's log lines, save points and child reaping from serverCron,
//! the final save at shutdown, FLUSHALL's save, DEBUG RELOAD, and INFO persistence. State lives
//! in [`PersistState`] (`Server::persist`); the running child's pid is also in
//! `Server::child_pid`, which the rest of the server checks to avoid touching shared pages.
//!
//! Crash safety: a save never writes `dbfilename` in place. It writes `temp-<pid>.rdb` in
//! `dir`, flushes and fsyncs it, then renames it over `dbfilename` and fsyncs the directory:
//! a crash at any point (of the server, of the child, of the machine) leaves either the old
//! complete file or the new complete file.

pub mod aof;
pub mod aof_rewrite;
pub mod bgsave;
pub mod digest;
pub mod rdb;

use crate::config::{Config, MaxmemoryPolicy};
use crate::server::Server;
use crate::{log_notice, log_warning};
use std::io::Write;

/// Seconds to wait after a failed BGSAVE before save points may trigger another
/// (CONFIG_BGSAVE_RETRY_DELAY).
pub const BGSAVE_RETRY_DELAY: i64 = 5;

/// The error a write command gets after a failed background save while
/// `stop-writes-on-bgsave-error` is on (shared.bgsaveerr).
pub const MISCONF_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

// SHUTDOWN flags, the same bits as the shutdown-on-sigint/sigterm parameters.
/// SHUTDOWN SAVE: save even without save points.
pub const SHUTDOWN_SAVE: u8 = 1;
/// SHUTDOWN NOSAVE: do not save.
pub const SHUTDOWN_NOSAVE: u8 = 2;
/// SHUTDOWN NOW: do not wait for replicas (none here).
pub const SHUTDOWN_NOW: u8 = 4;
/// SHUTDOWN FORCE: exit even if the save fails.
pub const SHUTDOWN_FORCE: u8 = 8;

/// Persistence state for INFO, LASTSAVE, save points and the running child.
pub struct PersistState {
    /// Unix seconds of the last successful save (start-up time before any).
    pub lastsave: i64,
    /// Result of the last background save (true = ok).
    pub lastbgsave_ok: bool,
    /// Unix seconds of the last BGSAVE attempt.
    pub lastbgsave_try: i64,
    /// BGSAVE SCHEDULE is waiting for the current child to finish.
    pub bgsave_scheduled: bool,
    /// `dirty` when the running BGSAVE forked: what the snapshot covers.
    pub dirty_before_bgsave: u64,
    /// Unix seconds when the running BGSAVE started (-1 when none).
    pub save_time_start: i64,
    /// Duration of the last BGSAVE in seconds (-1 before any).
    pub save_time_last: i64,
    /// SAVE/BGSAVE count (rdb_saves).
    pub rdb_saves: u64,
    /// Copy-on-write bytes the last child reported.
    pub last_cow_size: u64,
    /// Duration of the last fork in microseconds.
    pub latest_fork_usec: u64,
    /// Forks so far.
    pub total_forks: u64,
    /// Keys loaded / skipped as expired by the last load.
    pub last_load_keys_loaded: u64,
    /// See `last_load_keys_loaded`.
    pub last_load_keys_expired: u64,
    /// The running child (BGSAVE's or BGREWRITEAOF's).
    pub child: Option<bgsave::Child>,
    /// BGREWRITEAOF's bookkeeping.
    pub aofrw: aof_rewrite::RewriteState,
    /// Set once the shutdown sequence (final save included) has run.
    pub shutdown_done: bool,
}

impl Default for PersistState {
    fn default() -> Self {
        PersistState {
            lastsave: crate::util::mstime() / 1000,
            lastbgsave_ok: true,
            lastbgsave_try: 0,
            bgsave_scheduled: false,
            dirty_before_bgsave: 0,
            save_time_start: -1,
            save_time_last: -1,
            rdb_saves: 0,
            last_cow_size: 0,
            latest_fork_usec: 0,
            total_forks: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
            child: None,
            aofrw: aof_rewrite::RewriteState::default(),
            shutdown_done: false,
        }
    }
}

/// A failure that has already been logged (Redis's C_ERR after serverLog): callers only need
/// to know that it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged;

/// Unix seconds now.
fn now_secs() -> i64 {
    crate::util::mstime() / 1000
}

/// The eviction metadata to store per key for the configured policy.
fn eviction_meta(cfg: &Config, lru_clock: u32) -> rdb::EvictionMeta {
    match cfg.maxmemory_policy {
        MaxmemoryPolicy::VolatileLru | MaxmemoryPolicy::AllkeysLru => {
            rdb::EvictionMeta::Lru { lru_clock }
        }
        MaxmemoryPolicy::VolatileLfu | MaxmemoryPolicy::AllkeysLfu => rdb::EvictionMeta::Lfu {
            now_secs: now_secs(),
            decay_minutes: cfg.lfu_decay_time,
        },
        _ => rdb::EvictionMeta::None,
    }
}

/// The options of a save of this server's dataset, taken now (before a fork, so the child
/// writes what the configuration said when BGSAVE ran).
pub fn save_options(srv: &Server) -> rdb::SaveOptions {
    let delay = srv
        .config
        .get(&[b"rdb-key-save-delay"])
        .first()
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .unwrap_or(0);
    rdb::SaveOptions {
        compress: srv.config.rdbcompression,
        checksum: srv.config.rdbchecksum,
        eviction: eviction_meta(&srv.config, srv.lru_clock),
        ctime: now_secs(),
        used_mem: crate::server::alloc::used_memory() as u64,
        key_save_delay: delay,
        aof_base: false,
        // rdbPopulateSaveInfo: a master with a backlog, or a replica, records the stream.
        repl: (srv.repl.backlog.is_some() || srv.repl.is_replica()).then(|| {
            (
                crate::replication::stream_db(srv) as i64,
                srv.repl.replid.clone(),
                srv.repl.master_repl_offset,
            )
        }),
        functions: srv.scripting.functions.codes(),
    }
}

/// A file sink: 64 KiB chunks through `write(2)`, fdatasync every 4 MiB so the kernel never
/// holds a huge backlog of dirty pages for the final fsync (rdb-save-incremental-fsync).
struct FileSink<'a> {
    file: std::fs::File,
    unsynced: usize,
    progress: Option<&'a mut dyn FnMut(u64)>,
}

/// Bytes written between incremental fdatasync calls (REDIS_AUTOSYNC_BYTES).
const AUTOSYNC_BYTES: usize = 4 * 1024 * 1024;

impl rdb::Sink for FileSink<'_> {
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.unsynced += chunk.len();
        if self.unsynced >= AUTOSYNC_BYTES {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    fn progress(&mut self, keys: u64) {
        if let Some(p) = self.progress.as_mut() {
            p(keys);
        }
    }
}

/// The working directory, for error messages.
fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Writes the dataset to `filename` safely (rdbSave): `temp-<pid>.rdb`, fsync, rename, fsync
/// of the directory. Logs failures as Redis does. Returns the number of keys written.
pub fn save_to_file(
    dbs: &[crate::db::Db],
    opts: &rdb::SaveOptions,
    filename: &str,
    progress: Option<&mut dyn FnMut(u64)>,
) -> Result<u64, Logged> {
    let tmp = format!("temp-{}.rdb", std::process::id());
    let file = match std::fs::File::create(&tmp) {
        Ok(f) => f,
        Err(e) => {
            log_warning!(
                "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
                tmp,
                cwd(),
                io_msg(&e)
            );
            return Err(Logged);
        }
    };
    let mut sink = FileSink {
        file,
        unsynced: 0,
        progress,
    };
    let res = rdb::save_rdb(dbs, opts, &mut sink)
        .map_err(|e| ("rdbSaveRio", e))
        .and_then(|n| sink.file.sync_all().map(|_| n).map_err(|e| ("fsync", e)));
    let keys = match res {
        Ok(n) => n,
        Err((op, e)) => {
            log_warning!("Write error saving DB on disk({}): {}", op, io_msg(&e));
            drop(sink);
            let _ = std::fs::remove_file(&tmp);
            return Err(Logged);
        }
    };
    drop(sink);
    if let Err(e) = std::fs::rename(&tmp, filename) {
        log_warning!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            tmp,
            filename,
            cwd(),
            io_msg(&e)
        );
        let _ = std::fs::remove_file(&tmp);
        return Err(Logged);
    }
    if let Err(e) = fsync_dir_of(filename) {
        log_warning!(
            "Write error saving DB on disk(fsyncFileDir): {}",
            io_msg(&e)
        );
        return Err(Logged);
    }
    log_notice!("DB saved on disk");
    Ok(keys)
}

/// The C library's message for an I/O error (strerror), as Redis logs it.
pub fn io_msg(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // SAFETY: strerror returns a pointer to a static NUL-terminated message.
        Some(code) => unsafe {
            std::ffi::CStr::from_ptr(libc::strerror(code))
                .to_string_lossy()
                .into_owned()
        },
        None => e.to_string(),
    }
}

/// fsync of the directory holding `path`, so the rename itself is durable (fsyncFileDir).
fn fsync_dir_of(path: &str) -> std::io::Result<()> {
    let dir = match std::path::Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// SAVE's work in the foreground (rdbSave in the parent): on success `dirty` resets and
/// LASTSAVE moves. False on failure (already logged).
pub fn save(srv: &mut Server) -> bool {
    let opts = save_options(srv);
    let filename = srv.config.dbfilename.clone();
    match save_to_file(&srv.dbs, &opts, &filename, None) {
        Ok(_) => {
            srv.dirty = 0;
            srv.persist.lastsave = now_secs();
            srv.persist.lastbgsave_ok = true;
            true
        }
        Err(Logged) => false,
    }
}

/// True when writes must be refused with [`MISCONF_ERROR`] (writeCommandsDeniedByDiskError):
/// the last background save failed, save points are set and stop-writes-on-bgsave-error is on.
/// The command dispatcher calls this for write commands (and PING).
pub fn writes_denied(srv: &Server) -> bool {
    (srv.config.stop_writes_on_bgsave_error
        && !srv.config.save.is_empty()
        && !srv.persist.lastbgsave_ok)
        || srv.aof.as_ref().is_some_and(|a| a.write_failed)
}

/// The error for a write refused by [`writes_denied`]: the RDB's, or the AOF's with the
/// system's message for the failed write.
pub fn writes_denied_error(srv: &Server) -> String {
    if srv.config.stop_writes_on_bgsave_error
        && !srv.config.save.is_empty()
        && !srv.persist.lastbgsave_ok
    {
        return MISCONF_ERROR.to_string();
    }
    let msg = srv
        .aof
        .as_ref()
        .map(|a| a.last_error.clone())
        .unwrap_or_default();
    format!("MISCONF Errors writing to the AOF file: {msg}")
}

/// serverCron's persistence step (its order as serverCron's): a scheduled AOF rewrite, then
/// reaping a finished child, or else a BGSAVE when a save point is reached or an automatic
/// AOF rewrite; a scheduled BGSAVE last.
pub fn cron(srv: &mut Server) {
    aof_rewrite::cron_scheduled(srv);
    let now = now_secs();
    let retry_ok =
        now - srv.persist.lastbgsave_try > BGSAVE_RETRY_DELAY || srv.persist.lastbgsave_ok;
    if srv.persist.child.is_some() {
        bgsave::check_child_done(srv);
    } else {
        let mut hit = None;
        for &(secs, changes) in &srv.config.save {
            if srv.dirty >= changes && now - srv.persist.lastsave > secs as i64 && retry_ok {
                hit = Some((secs, changes));
                break;
            }
        }
        if let Some((secs, changes)) = hit {
            log_notice!("{} changes in {} seconds. Saving...", changes, secs);
            let _ = bgsave::start(srv);
        }
        aof_rewrite::cron_auto(srv);
    }
    // A write the AOF refused (disk full...) is retried from here too, as serverCron does.
    if srv.aof.as_ref().is_some_and(|a| a.write_failed) {
        aof::flush(srv, false);
    }
    if srv.persist.child.is_none()
        && srv.persist.bgsave_scheduled
        && retry_ok
        && bgsave::start(srv).is_ok()
    {
        srv.persist.bgsave_scheduled = false;
    }
}

/// Maps the file into memory read-only (falling back to reading it), so the loader parses a
/// plain slice without keeping a second copy of a large file on the heap.
pub enum FileBytes {
    /// A private read-only mapping.
    Mapped(*const u8, usize),
    /// The file read into memory (empty files, or where mmap failed).
    Read(Vec<u8>),
}

impl FileBytes {
    /// Opens `path`.
    pub fn open(path: &str) -> std::io::Result<FileBytes> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len() as usize;
        if len > 0 {
            // SAFETY: a read-only private mapping of a regular file we hold open; the slice
            // is only used while the mapping lives (Drop unmaps).
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    f.as_raw_fd(),
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                // SAFETY: p is a valid mapping of len bytes.
                unsafe { libc::madvise(p, len, libc::MADV_SEQUENTIAL) };
                return Ok(FileBytes::Mapped(p as *const u8, len));
            }
        }
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut &f, &mut v)?;
        Ok(FileBytes::Read(v))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is valid for len bytes until drop.
            FileBytes::Mapped(p, len) => unsafe { std::slice::from_raw_parts(*p, *len) },
            FileBytes::Read(v) => v,
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        if let FileBytes::Mapped(p, len) = *self {
            // SAFETY: unmapping the mapping created in open.
            unsafe { libc::munmap(p as *mut libc::c_void, len) };
        }
    }
}

/// Why loading failed.
pub enum LoadFailure {
    /// No file: start empty.
    NotFound,
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The contents are not a valid RDB file.
    Corrupt(rdb::LoadError),
}

/// Loads `filename` into the server's databases (rdbLoad), logging the aux fields Redis logs
/// and the final counts. On corruption the databases are left partly loaded: the caller
/// exits (start-up) or reports the error (DEBUG RELOAD).
pub fn load_file(srv: &mut Server, filename: &str, allow_dup: bool) -> Result<(), LoadFailure> {
    load_file_prefix(srv, filename, allow_dup).map(|_| ())
}

/// [`load_file`] that also tells how many bytes the RDB took (an AOF's RDB preamble is
/// followed by commands).
pub fn load_file_prefix(
    srv: &mut Server,
    filename: &str,
    allow_dup: bool,
) -> Result<usize, LoadFailure> {
    let bytes = match FileBytes::open(filename) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadFailure::NotFound),
        Err(e) => return Err(LoadFailure::Io(e)),
    };
    load_bytes(srv, bytes.as_slice(), allow_dup)
}

/// Loads an RDB held in memory (a file's mapping, or a snapshot a replica received for a
/// diskless load). A replica keeps keys that are already expired: its master deletes them.
pub fn load_bytes(srv: &mut Server, data: &[u8], allow_dup: bool) -> Result<usize, LoadFailure> {
    srv.loading = true;
    let now_ms = crate::util::mstime();
    let opts = rdb::LoadOptions {
        config: &srv.config,
        now_ms,
        drop_expired: !srv.repl.is_replica(),
        allow_dup,
        verify_checksum: srv.config.rdbchecksum,
        lru_clock: srv.lru_clock,
    };
    let mut repl_id = None;
    let mut repl_offset = None;
    let mut repl_db = 0usize;
    let ndb = srv.dbs.len();
    let mut on_aux = |k: &[u8], v: &[u8]| {
        if k == b"repl-stream-db" {
            repl_db = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&d| d < ndb)
                .unwrap_or(0);
        } else if k == b"repl-id" && v.len() == 40 {
            repl_id = Some(String::from_utf8_lossy(v).into_owned());
        } else if k == b"repl-offset" {
            repl_offset = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok());
        }
        log_aux(k, v, now_ms)
    };
    let res = rdb::load_rdb(data, &mut srv.dbs, &opts, &mut on_aux);
    srv.loading = false;
    if let (Some(id), Some(off)) = (repl_id, repl_offset) {
        srv.repl.loaded_info = Some((id, off, repl_db));
    }
    match res {
        Ok(mut info) => {
            let libs = std::mem::take(&mut info.functions);
            if let Err(e) = crate::scripting::functions::load_from_rdb(srv, libs, allow_dup) {
                log_warning!("Failed loading library, {}", e);
                return Err(LoadFailure::Corrupt(rdb::LoadError {
                    offset: info.consumed,
                    msg: format!("Failed loading library, {e}"),
                }));
            }
            srv.stats.dump_payload_sanitizations += info.sanitizations;
            if info.checksum_disabled {
                log_notice!("RDB file was saved with checksum disabled: no check performed.");
            }
            log_notice!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                info.keys_loaded,
                info.keys_expired
            );
            srv.persist.last_load_keys_loaded = info.keys_loaded;
            srv.persist.last_load_keys_expired = info.keys_expired;
            Ok(info.consumed)
        }
        Err(e) => Err(LoadFailure::Corrupt(e)),
    }
}

/// Logs the aux fields Redis logs while loading.
fn log_aux(k: &[u8], v: &[u8], now_ms: i64) {
    let val = String::from_utf8_lossy(v);
    if k.eq_ignore_ascii_case(b"redis-ver") {
        log_notice!("Loading RDB produced by version {}", val);
    } else if k.eq_ignore_ascii_case(b"ctime") {
        let age = (now_ms / 1000 - strtol(v)).max(0);
        log_notice!("RDB age {} seconds", age);
    } else if k.eq_ignore_ascii_case(b"used-mem") {
        log_notice!(
            "RDB memory usage when created {:.2} Mb",
            strtol(v) as f64 / (1024.0 * 1024.0)
        );
    } else if k.eq_ignore_ascii_case(b"aof-preamble") {
        if strtol(v) != 0 {
            log_notice!("RDB has an AOF tail");
        }
    } else if k.eq_ignore_ascii_case(b"aof-base") {
        if strtol(v) != 0 {
            log_notice!("RDB is base AOF");
        }
    } else if !k.eq_ignore_ascii_case(b"redis-bits")
        && crate::server::log::enabled(crate::server::log::Level::Debug)
    {
        crate::server::log::log(
            crate::server::log::Level::Debug,
            &format!(
                "Unrecognized RDB AUX field: '{}'",
                String::from_utf8_lossy(k)
            ),
        );
    }
}

/// C's strtol over a decimal prefix (0 when none).
fn strtol(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add((b - b'0') as i64);
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Logs a load failure the way Redis does before it exits.
pub fn log_load_error(e: &rdb::LoadError) {
    let eof = e.msg.starts_with("Unexpected EOF");
    if eof {
        log_warning!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
    }
    let msg = if e.msg.starts_with("Wrong RDB checksum") {
        log_warning!("{}", e.msg);
        "RDB CRC error".to_string()
    } else {
        e.msg.clone()
    };
    log_warning!(
        "Internal error in RDB reading offset {}, function at rdb.rs -> {}",
        e.offset,
        msg
    );
}

/// Start-up load (loadDataFromDisk): a missing file means an empty dataset; an unreadable or
/// corrupt one stops the server (Err: the caller exits with status 1).
pub fn load_data_from_disk(srv: &mut Server) -> Result<(), Logged> {
    // With appendonly on, the AOF is the dataset and dump.rdb is not read, even when there
    // is no AOF yet (loadDataFromDisk); the AOF then opens, creating its files if needed.
    if srv.config.appendonly {
        aof::load(srv)?;
        aof::open_on_start(srv)?;
        aof_rewrite::del_history_files(srv);
        return Ok(());
    }
    aof::load_manifest_from_disk(srv)?;
    let start = crate::util::ustime();
    let filename = srv.config.dbfilename.clone();
    match load_file(srv, &filename, false) {
        Ok(()) => {
            log_notice!(
                "DB loaded from disk: {:.3} seconds",
                (crate::util::ustime() - start) as f64 / 1e6
            );
            Ok(())
        }
        Err(LoadFailure::NotFound) => Ok(()),
        Err(LoadFailure::Io(e)) => {
            log_warning!("Fatal error loading the DB: {}. Exiting.", io_msg(&e));
            Err(Logged)
        }
        Err(LoadFailure::Corrupt(e)) => {
            if e.msg.starts_with("Wrong signature") || e.msg.starts_with("Can't handle RDB") {
                log_warning!("{}", e.msg);
                log_warning!("Fatal error loading the DB: Invalid argument. Exiting.");
            } else {
                log_load_error(&e);
                log_warning!("Terminating server after rdb file reading failure.");
            }
            Err(Logged)
        }
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save (unless NOSAVE), empty the dataset (unless
/// NOFLUSH), load the file back (MERGE: a key already present is replaced instead of being
/// an error). The error text is the client's reply.
pub fn debug_reload(
    srv: &mut Server,
    merge: bool,
    flush: bool,
    save_first: bool,
) -> Result<(), &'static str> {
    if save_first && !save(srv) {
        return Err("ERR");
    }
    if flush {
        for db in srv.dbs.iter_mut() {
            db.clear();
        }
        // emptyData without EMPTYDB_NOFUNCTIONS: the libraries go too.
        srv.scripting.functions.clear();
        // emptyData tells client-side caches, as FLUSHALL does.
        crate::tracking::invalidate_on_flush(srv);
    }
    let filename = srv.config.dbfilename.clone();
    match load_file(srv, &filename, merge) {
        Ok(()) => {
            log_warning!("DB reloaded by DEBUG RELOAD");
            Ok(())
        }
        Err(LoadFailure::Corrupt(e)) => {
            log_load_error(&e);
            Err("ERR Error trying to load the RDB dump, check server logs.")
        }
        Err(LoadFailure::Io(e)) => {
            log_warning!("Fatal error loading the DB: {}.", io_msg(&e));
            Err("ERR Error trying to load the RDB dump, check server logs.")
        }
        Err(LoadFailure::NotFound) => {
            Err("ERR Error trying to load the RDB dump, check server logs.")
        }
    }
}

/// FLUSHALL's persistence side (flushAllDataAndResetRDB), called after the databases are
/// emptied: stop a running BGSAVE (its snapshot is stale) and, when save points are set, save
/// the empty dataset right away, leaving `dirty` as it was so the flush still counts.
pub fn after_flushall(srv: &mut Server) {
    bgsave::kill_child(srv, bgsave::ChildKind::Rdb);
    if !srv.config.save.is_empty() {
        let dirty = srv.dirty;
        save(srv);
        srv.dirty = dirty;
    }
}

/// The persistence part of shutting down (finishShutdown): stop a BGSAVE child, then save when
/// save points are set (unless NOSAVE) or SAVE was given. False when the save failed and
/// FORCE was not given: the shutdown is cancelled.
pub fn shutdown(srv: &mut Server, flags: u8) -> bool {
    let flags = if srv.loading {
        (flags & !SHUTDOWN_SAVE) | SHUTDOWN_NOSAVE
    } else {
        flags
    };
    match bgsave::child_kind(srv) {
        Some(bgsave::ChildKind::Rdb) => {
            log_warning!("There is a child saving an .rdb. Killing it!");
            bgsave::kill_child(srv, bgsave::ChildKind::Rdb);
        }
        Some(bgsave::ChildKind::Aof) => {
            // The AOF we have may be longer but holds the whole dataset, unless this rewrite
            // is the one that creates it.
            if srv.aof.as_ref().is_some_and(|a| a.wait_rewrite) {
                if flags & SHUTDOWN_FORCE != 0 {
                    log_warning!("Writing initial AOF. Exit anyway.");
                } else {
                    log_warning!("Writing initial AOF, can't exit.");
                    return false;
                }
            }
            log_warning!("There is a child rewriting the AOF. Killing it!");
            aof_rewrite::kill(srv);
        }
        None => {}
    }
    // Whatever the fsync policy, the AOF's tail reaches the disk before the process ends.
    if srv.aof.is_some() {
        log_notice!("Calling fsync() on the AOF file.");
    }
    aof::flush(srv, true);
    if (!srv.config.save.is_empty() && flags & SHUTDOWN_NOSAVE == 0) || flags & SHUTDOWN_SAVE != 0 {
        log_notice!("Saving the final RDB snapshot before exiting.");
        if !save(srv) {
            if flags & SHUTDOWN_FORCE != 0 {
                log_warning!("Error trying to save the DB. Exit anyway.");
            } else {
                log_warning!("Error trying to save the DB, can't exit.");
                return false;
            }
        }
    }
    true
}

/// The persistence section of INFO.
pub fn info_section(srv: &Server) -> String {
    let p = &srv.persist;
    let now = now_secs();
    let (in_progress, cur_secs, total, processed, cow) = match &p.child {
        Some(c) => (
            (c.kind == bgsave::ChildKind::Rdb) as u8,
            if c.kind == bgsave::ChildKind::Rdb {
                now - p.save_time_start
            } else {
                -1
            },
            c.keys_total,
            c.keys_processed,
            c.cow_size,
        ),
        None => (0u8, -1, 0, 0, 0),
    };
    let perc = if total > 0 {
        processed as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let cow_peak = p.child.as_ref().map_or(0, |c| c.cow_peak);
    let cow_age = match &p.child {
        Some(c) if c.cow_updated_ms > 0 => (crate::util::mstime() - c.cow_updated_ms) / 1000,
        _ => 0,
    };
    format!(
        "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:{}\r\ncurrent_cow_size:{}\r\ncurrent_cow_size_age:{}\r\ncurrent_fork_perc:{:.2}\r\ncurrent_save_keys_processed:{}\r\ncurrent_save_keys_total:{}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n{}module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n{}",
        srv.loading as u8,
        cow_peak,
        cow,
        cow_age,
        perc,
        processed,
        total,
        srv.dirty,
        in_progress,
        p.lastsave,
        if p.lastbgsave_ok { "ok" } else { "err" },
        p.save_time_last,
        cur_secs,
        p.rdb_saves,
        p.last_cow_size,
        p.last_load_keys_expired,
        p.last_load_keys_loaded,
        aof::info_fields(srv),
        aof::info_fields_when_on(srv),
    )
}
