//! The append-only file, Redis 7.0's multi-part layout (aof.c).
//!
//! ```text
//!  <dir>/<appenddirname>/
//!      appendonly.aof.1.base.rdb     the dataset when the AOF started (an RDB with aux
//!                                    aof-base=1; `.base.aof` in command form when
//!                                    aof-use-rdb-preamble is no)
//!      appendonly.aof.1.incr.aof     every write since, as the propagation layer emits it
//!      appendonly.aof.manifest       which files make the AOF, in load order:
//!          file appendonly.aof.1.base.rdb seq 1 type b
//!          file appendonly.aof.1.incr.aof seq 1 type i
//! ```
//!
//! The pieces, kept apart as aof.c keeps them:
//! - [`Manifest`]: the file list as data, with its text format both ways (aofInfoFormat,
//!   aofLoadManifestFromFile);
//! - [`Aof`]: the open incremental file, the buffer the propagation layer fills
//!   ([`Aof::feed`]), and [`flush`] (flushAppendOnlyFile) run before the loop sleeps, so
//!   with `appendfsync always` a write is on disk before its reply leaves;
//! - the fsync policy: `always` fsyncs in `flush`, `everysec` hands the fsync to a
//!   background thread (Redis's bio) at most once a second and holds writes back (2 s at
//!   most) while it runs, `no` leaves it to the kernel;
//! - [`load`]: the start-up load, base file through the RDB loader and incremental files
//!   replayed through the command handlers with a client of no connection.
//!
//! - the migration of a Redis <= 6 single-file AOF into the directory (its base).
//!
//! BGREWRITEAOF, automatic rewrites and turning the AOF on and off at run time are in
//! `aof_rewrite`; the manifest in force lives in `Server::aof_manifest` whether the AOF is
//! on or off (a rewrite with the AOF off still replaces the base).

use super::{io_msg, Logged};
use crate::commands::Args;
use crate::protocol::parser::Argv;
use crate::server::Server;
use crate::{log_notice, log_warning};
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// The kind of a file in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `type b`: the base.
    Base,
    /// `type h`: a file a rewrite replaced, to be deleted.
    History,
    /// `type i`: an incremental file.
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

/// One line of the manifest (aofInfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// The file's name inside the AOF directory.
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
    /// What it is.
    pub kind: Kind,
}

/// The manifest (aofManifest): the base, the history, the incremental files in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Files waiting for deletion.
    pub history: Vec<AofFile>,
    /// Incremental files, oldest first.
    pub incr: Vec<AofFile>,
    /// The highest base sequence number used.
    pub base_seq: u64,
    /// The highest incremental sequence number used.
    pub incr_seq: u64,
}

/// The longest manifest line Redis reads (AOF_MANIFEST_MAX_LINE... a line buffer of 1024).
const MANIFEST_MAX_LINE: usize = 1024;

impl Manifest {
    /// The manifest as Redis writes it: base, history, incremental files, one per line; a
    /// name with spaces or odd bytes is quoted as sdscatrepr does.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incr) {
            let name = if f.name.bytes().any(|b| {
                b == b' ' || b == b'"' || b == b'\'' || b == b'\\' || !b.is_ascii_graphic()
            }) {
                {
                    let mut out = Vec::new();
                    crate::util::splitargs::cat_repr(&mut out, f.name.as_bytes());
                    String::from_utf8_lossy(&out).into_owned()
                }
            } else {
                f.name.clone()
            };
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                name,
                f.seq,
                f.kind.letter()
            ));
        }
        s
    }

    /// Parses a manifest (aofLoadManifestFromFile); the error is Redis's message.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        for line in text.split(|&b| b == b'\n') {
            if line.len() > MANIFEST_MAX_LINE {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let trimmed: &[u8] = line.trim_ascii();
            if trimmed.is_empty() || trimmed[0] == b'#' {
                continue;
            }
            let Some(argv) = crate::util::splitargs::split_args(trimmed) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in argv.chunks(2) {
                let v = &kv[1];
                if kv[0].eq_ignore_ascii_case(b"file") {
                    name = Some(String::from_utf8_lossy(v).into_owned());
                } else if kv[0].eq_ignore_ascii_case(b"seq") {
                    seq = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok());
                } else if kv[0].eq_ignore_ascii_case(b"type") {
                    kind = match v.as_slice() {
                        b"b" => Some(Kind::Base),
                        b"h" => Some(Kind::History),
                        b"i" => Some(Kind::Incr),
                        _ => None,
                    };
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            let f = AofFile { name, seq, kind };
            match kind {
                Kind::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                Kind::History => m.history.push(f),
                Kind::Incr => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = seq;
                    m.incr.push(f);
                }
            }
        }
        Ok(m)
    }
}

/// The background fsync thread (bio's BIO_AOF_FSYNC): it owns a duplicate of the incremental
/// file's descriptor and fsyncs it whenever asked; `busy` is set from the request until the
/// fsync returns (INFO aof_pending_bio_fsync, and the loop skips a request while one runs).
struct BioFsync {
    tx: mpsc::Sender<()>,
    busy: Arc<AtomicBool>,
}

impl BioFsync {
    fn start(file: File) -> Option<BioFsync> {
        let (tx, rx) = mpsc::channel::<()>();
        let busy = Arc::new(AtomicBool::new(false));
        let b = busy.clone();
        std::thread::Builder::new()
            .name("bio_aof".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    let _ = file.sync_data();
                    b.store(false, Ordering::Release);
                }
            })
            .ok()?;
        Some(BioFsync { tx, busy })
    }
}

/// The AOF while it is on (`Server::aof`).
pub struct Aof {
    /// The AOF directory (`dir`-relative, as configured).
    pub dir: String,
    /// Turned on at run time and waiting for its first rewrite (AOF_WAIT_REWRITE): writes go
    /// to a temp incremental file only while that rewrite's child runs.
    pub wait_rewrite: bool,
    /// The open incremental file (append mode); None only while waiting for a rewrite that
    /// has not started.
    file: Option<File>,
    /// The second of the last `#TS:` annotation (aof_cur_timestamp).
    cur_timestamp: i64,
    /// What the propagation layer emitted since the last write (aof_buf).
    buf: Vec<u8>,
    /// Bytes of all files of the AOF (aof_current_size).
    pub current_size: u64,
    /// The size when the AOF was loaded or created (aof_base_size).
    pub base_size: u64,
    /// Bytes written but not yet fsynced (or handed to the fsync thread).
    unsynced: bool,
    /// Unix ms of the last fsync (or fsync request).
    last_fsync_ms: i64,
    /// The last write failed (aof_last_write_status): writes are refused until one succeeds.
    pub write_failed: bool,
    /// The system's message for the failed write.
    pub last_error: String,
    /// The length of the incremental file: a failed write is cut back to it.
    incr_len: u64,
    /// Times a write waited 2 s for the background fsync and then went ahead anyway
    /// (aof_delayed_fsync).
    pub delayed_fsync: u64,
    /// Unix ms since when a write has been held back because the background fsync was
    /// running (0: none held back).
    postponed_since_ms: i64,
    bio: Option<BioFsync>,
}

impl Aof {
    /// Appends emitted commands to the buffer (feedAppendOnlyFile), after a `#TS:<unix
    /// seconds>` annotation when `timestamps` is on and the second changed since the last one.
    #[inline]
    pub fn feed(&mut self, resp: &[u8], timestamps: bool) {
        if timestamps {
            let now = crate::util::mstime() / 1000;
            if self.cur_timestamp < now {
                self.cur_timestamp = now;
                self.buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        self.buf.extend_from_slice(resp);
    }

    /// After a rewrite installed a new base of `base_len` bytes: the sizes automatic rewrites
    /// measure growth from.
    pub fn after_rewrite(&mut self, base_len: u64) {
        self.current_size = base_len + self.incr_len;
        self.base_size = self.current_size;
        self.last_fsync_ms = crate::util::mstime();
    }

    fn new(dir: String, file: Option<File>, size: u64, wait_rewrite: bool) -> Aof {
        let bio = file
            .as_ref()
            .and_then(|f| f.try_clone().ok())
            .and_then(BioFsync::start);
        let incr_len = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Aof {
            dir,
            wait_rewrite,
            file,
            cur_timestamp: 0,
            buf: Vec::new(),
            current_size: size,
            base_size: size,
            unsynced: false,
            last_fsync_ms: crate::util::mstime(),
            write_failed: false,
            last_error: String::new(),
            incr_len,
            delayed_fsync: 0,
            postponed_since_ms: 0,
            bio,
        }
    }

    /// Writes go to `file` from now on; the old file was flushed and fsynced by the caller.
    fn switch_file(&mut self, file: File) {
        self.bio = file.try_clone().ok().and_then(BioFsync::start);
        self.file = Some(file);
        self.incr_len = 0;
        self.unsynced = false;
        self.postponed_since_ms = 0;
    }

    /// True while the background thread fsyncs.
    fn fsync_running(&self) -> bool {
        fsync_running(&self.bio)
    }
}

/// True while the background thread fsyncs.
fn fsync_running(bio: &Option<BioFsync>) -> bool {
    bio.as_ref().is_some_and(|b| b.busy.load(Ordering::Acquire))
}

/// Names as Redis forms them: `<appendfilename>.<seq>.base.rdb|aof`, `.<seq>.incr.aof`,
/// `<appendfilename>.manifest`.
pub fn base_name(filename: &str, seq: u64, rdb: bool) -> String {
    format!("{filename}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

/// See [`base_name`].
pub fn incr_name(filename: &str, seq: u64) -> String {
    format!("{filename}.{seq}.incr.aof")
}

/// See [`base_name`].
pub fn manifest_name(filename: &str) -> String {
    format!("{filename}.manifest")
}

/// `dir/name`.
pub fn path(dir: &str, name: &str) -> String {
    format!("{dir}/{name}")
}

/// The value of a boolean parameter that has no field in `Config`.
fn config_bool(srv: &Server, name: &str) -> bool {
    srv.config
        .get(&[name.as_bytes()])
        .first()
        .is_some_and(|(_, v)| v == "yes")
}

/// Writes `data` to `dir/name` through a temp file, fsync and rename, then fsyncs the
/// directory: a crash leaves the old file or the new one.
fn write_atomically(dir: &str, name: &str, data: &[u8]) -> std::io::Result<()> {
    let tmp = path(dir, &format!("temp-{name}"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path(dir, name))?;
    File::open(dir)?.sync_all()
}

/// Writes the manifest (persistAofManifest).
pub fn persist_manifest(dir: &str, filename: &str, m: &Manifest) -> std::io::Result<()> {
    write_atomically(dir, &manifest_name(filename), m.to_text().as_bytes())
}

/// Opens the AOF after the dataset is loaded (aofOpenIfNeededOnServerStart): creates the
/// directory, a base file holding the dataset when the manifest has neither base nor
/// incremental file, an incremental file when it has none (else appends to the last one),
/// and writes the manifest. Turns propagation on. Err (logged) stops the server.
pub fn open_on_start(srv: &mut Server) -> Result<(), Logged> {
    let dir = srv.config.appenddirname.clone();
    let filename = srv.config.appendfilename.clone();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log_warning!(
            "Can't open or create append-only dir {}: {}",
            dir,
            io_msg(&e)
        );
        return Err(Logged);
    }
    let mut m = std::mem::take(&mut srv.aof_manifest);
    if m.base.is_none() && m.incr.is_empty() {
        m.base_seq += 1;
        let name = base_name(&filename, m.base_seq, srv.config.aof_use_rdb_preamble);
        super::aof_rewrite::rewrite_to_file(srv, &path(&dir, &name), None)?;
        m.base = Some(AofFile {
            name: name.clone(),
            seq: m.base_seq,
            kind: Kind::Base,
        });
        log_notice!("Creating AOF base file {} on server start", name);
    }
    let created = m.incr.is_empty();
    if created {
        m.incr_seq += 1;
        m.incr.push(AofFile {
            name: incr_name(&filename, m.incr_seq),
            seq: m.incr_seq,
            kind: Kind::Incr,
        });
    }
    let incr = m.incr.last().map(|f| f.name.clone()).unwrap_or_default();
    let file = match File::options()
        .append(true)
        .create(true)
        .open(path(&dir, &incr))
    {
        Ok(f) => f,
        Err(e) => {
            log_warning!("Can't open the append-only file {}: {}", incr, io_msg(&e));
            return Err(Logged);
        }
    };
    if let Err(e) = persist_manifest(&dir, &filename, &m) {
        log_warning!("Can't persist the AOF manifest: {}", io_msg(&e));
        return Err(Logged);
    }
    srv.aof_manifest = m;
    if created {
        log_notice!("Creating AOF incr file {} on server start", incr);
    } else {
        log_notice!("Opening AOF incr file {} on server start", incr);
    }
    let size = srv.aof_loaded_size;
    let mut a = Aof::new(dir, Some(file), size, false);
    a.base_size = srv.aof_loaded_base_size;
    srv.aof = Some(a);
    srv.prop.active = true;
    srv.prop.reset_selected_db();
    Ok(())
}

/// CONFIG SET appendonly yes: the AOF is on but waits for its first rewrite (AOF_WAIT_REWRITE),
/// with no file until that rewrite opens the temp incremental file.
pub fn open_waiting(srv: &mut Server) {
    let dir = srv.config.appenddirname.clone();
    srv.aof = Some(Aof::new(dir, None, 0, true));
    srv.prop.active = true;
    srv.prop.reset_selected_db();
}

/// Closes the AOF (stopAppendOnly's end): no more writes reach it; the manifest stays.
pub fn close(srv: &mut Server) {
    srv.aof = None;
    srv.prop.active = crate::replication::stream_wanted(srv);
}

/// Drops what the buffer holds (a failed first rewrite: the next try starts afresh).
pub fn discard_buffer(srv: &mut Server) {
    if let Some(a) = srv.aof.as_mut() {
        a.buf.clear();
    }
}

/// Opens the incremental file a rewrite's writes go to (openNewIncrAofForAppend): the next
/// `<name>.<n>.incr.aof`, listed in a manifest persisted before anything is written to it,
/// or, while the AOF waits for its first rewrite, `temp-<name>.incr`, which the manifest
/// learns about only when the rewrite succeeds. Nothing when the AOF is off. The caller has
/// flushed and fsynced the current file.
pub fn open_new_incr(srv: &mut Server) -> Result<(), Logged> {
    let Some(a) = srv.aof.as_ref() else {
        return Ok(());
    };
    let dir = srv.config.appenddirname.clone();
    let filename = srv.config.appendfilename.clone();
    let mut temp_m = None;
    let name = if a.wait_rewrite {
        super::aof_rewrite::temp_incr_name(&filename)
    } else {
        let mut m = srv.aof_manifest.clone();
        m.incr_seq += 1;
        let name = incr_name(&filename, m.incr_seq);
        m.incr.push(AofFile {
            name: name.clone(),
            seq: m.incr_seq,
            kind: Kind::Incr,
        });
        temp_m = Some(m);
        name
    };
    let file = match File::options()
        .write(true)
        .truncate(true)
        .create(true)
        .open(path(&dir, &name))
    {
        Ok(f) => f,
        Err(e) => {
            log_warning!("Can't open the append-only file {}: {}", name, io_msg(&e));
            return Err(Logged);
        }
    };
    if let Some(m) = &temp_m {
        if let Err(e) = persist_manifest(&dir, &filename, m) {
            log_warning!("Can't persist the AOF manifest: {}", io_msg(&e));
            return Err(Logged);
        }
    }
    log_notice!("Creating AOF incr file {} on background rewrite", name);
    if let Some(m) = temp_m {
        srv.aof_manifest = m;
    }
    if let Some(a) = srv.aof.as_mut() {
        a.switch_file(file);
    }
    Ok(())
}

/// Reads the manifest at start-up whatever `appendonly` says (aofLoadManifestFromDisk), so a
/// BGREWRITEAOF with the AOF off replaces the right base. Err (logged) stops the server.
pub fn load_manifest_from_disk(srv: &mut Server) -> Result<(), Logged> {
    let mpath = path(
        &srv.config.appenddirname,
        &manifest_name(&srv.config.appendfilename),
    );
    let text = match std::fs::read(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            log_warning!(
                "Fatal error: can't open the AOF manifest {} for reading: {}",
                mpath,
                io_msg(&e)
            );
            return Err(Logged);
        }
    };
    match Manifest::parse(&text) {
        Ok(m) => {
            srv.aof_manifest = m;
            Ok(())
        }
        Err(msg) => {
            log_warning!("{}", msg);
            Err(Logged)
        }
    }
}

/// Writes the buffer to the incremental file and applies the fsync policy
/// (flushAppendOnlyFile); `force` fsyncs now whatever the policy (shutdown). Runs before the
/// loop sleeps, before replies are written.
pub fn flush(srv: &mut Server, force: bool) {
    let policy = srv.config.appendfsync;
    let no_fsync_now = srv.config.no_appendfsync_on_rewrite && srv.persist.child.is_some();
    let Some(aof) = srv.aof.as_mut() else {
        return;
    };
    let Some(file) = aof.file.as_mut() else {
        aof.buf.clear();
        return;
    };
    let now = crate::util::mstime();
    if !aof.buf.is_empty() {
        // With everysec a write while the background fsync runs could block the loop on the
        // same file: it is held back (the loop comes back to it), for at most 2 seconds.
        if policy == crate::config::AOF_FSYNC_EVERYSEC && !force && fsync_running(&aof.bio) {
            if aof.postponed_since_ms == 0 {
                aof.postponed_since_ms = now;
                return;
            }
            if now - aof.postponed_since_ms < 2000 {
                return;
            }
            aof.delayed_fsync += 1;
            log_notice!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        aof.postponed_since_ms = 0;
        match file.write_all(&aof.buf) {
            Ok(()) => {
                aof.current_size += aof.buf.len() as u64;
                aof.incr_len += aof.buf.len() as u64;
                aof.buf.clear();
                aof.unsynced = true;
                if aof.write_failed {
                    aof.write_failed = false;
                    log_warning!("AOF write error looks solved, Redis can write again.");
                }
            }
            Err(e) => {
                // What was partly written is cut off, so the file ends at a command boundary;
                // the buffer is kept and written again before the loop next sleeps. Until
                // then writes are refused (MISCONF); with appendfsync always the write was
                // promised to clients already executing, so the server stops instead.
                let msg = io_msg(&e);
                if let Err(t) = file.set_len(aof.incr_len) {
                    log_warning!(
                        "Could not remove short write from the append-only file. Redis may refuse to load the AOF the next time it starts. ftruncate: {}",
                        io_msg(&t)
                    );
                }
                if policy == crate::config::AOF_FSYNC_ALWAYS {
                    log_warning!(
                        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
                    );
                    std::process::exit(1);
                }
                if !aof.write_failed {
                    log_warning!("Error writing to the AOF file: {}", msg);
                }
                aof.write_failed = true;
                aof.last_error = msg;
                return;
            }
        }
    }
    // no-appendfsync-on-rewrite: while a child writes its file, leave fsync to later.
    if !aof.unsynced || (no_fsync_now && !force) {
        return;
    }
    if force || policy == crate::config::AOF_FSYNC_ALWAYS {
        if let Err(e) = file.sync_data() {
            log_warning!(
                "Can't persist append only file on disk (fsync): {}. Exiting...",
                io_msg(&e)
            );
            std::process::exit(1);
        }
        aof.unsynced = false;
        aof.last_fsync_ms = now;
    } else if policy == crate::config::AOF_FSYNC_EVERYSEC
        && now - aof.last_fsync_ms >= 1000
        && !fsync_running(&aof.bio)
    {
        match aof.bio.as_ref() {
            Some(b) => {
                b.busy.store(true, Ordering::Release);
                if b.tx.send(()).is_err() {
                    b.busy.store(false, Ordering::Release);
                    let _ = file.sync_data();
                }
            }
            None => {
                let _ = file.sync_data();
            }
        }
        aof.unsynced = false;
        aof.last_fsync_ms = now;
    }
}

/// The AOF lines of INFO persistence, from `aof_enabled` to `aof_last_cow_size`.
pub fn info_fields(srv: &Server) -> String {
    let rw = &srv.persist.aofrw;
    let in_progress = super::bgsave::child_kind(srv) == Some(super::bgsave::ChildKind::Aof);
    let cur = if in_progress && rw.time_start >= 0 {
        crate::util::mstime() / 1000 - rw.time_start
    } else {
        -1
    };
    format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:{}\r\n",
        srv.aof.is_some() as u8,
        in_progress as u8,
        rw.scheduled as u8,
        rw.time_last,
        cur,
        if rw.last_ok { "ok" } else { "err" },
        rw.rewrites,
        rw.consecutive_failures,
        if srv.aof.as_ref().is_some_and(|a| a.write_failed) {
            "err"
        } else {
            "ok"
        },
        rw.last_cow_size,
    )
}

/// The lines INFO persistence ends with while the AOF is on: its sizes and fsync counters.
pub fn info_fields_when_on(srv: &Server) -> String {
    let mut s = String::new();
    if let Some(a) = &srv.aof {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            a.current_size,
            a.base_size,
            srv.persist.aofrw.scheduled as u8,
            a.buf.len(),
            a.fsync_running() as u8,
            a.delayed_fsync
        ));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Loading

/// How reading one command from an AOF ended.
enum Next {
    /// A command: its arguments as (start, len) ranges, and the offset after it.
    Cmd(Vec<(usize, usize)>, usize),
    /// The end of the data, exactly at a command boundary.
    End,
    /// The data ends inside a command.
    Truncated,
    /// Not the AOF format.
    Bad,
}

/// Reads the command at `pos` (the multibulk form the AOF holds; `#` lines are annotations).
fn next_command(data: &[u8], mut pos: usize) -> Next {
    fn line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
        let rest = &data[pos..];
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((&rest[..nl], pos + nl + 2))
    }
    fn num(s: &[u8]) -> Option<usize> {
        if s.is_empty() || s.len() > 18 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    }
    loop {
        if pos >= data.len() {
            return Next::End;
        }
        if data[pos] == b'#' {
            match line(data, pos) {
                Some((_, p)) => {
                    pos = p;
                    continue;
                }
                None => return Next::Truncated,
            }
        }
        break;
    }
    if data[pos] != b'*' {
        return Next::Bad;
    }
    let Some((l, mut p)) = line(data, pos) else {
        return Next::Truncated;
    };
    let Some(argc) = num(&l[1..]) else {
        return Next::Bad;
    };
    if argc == 0 {
        return Next::Bad;
    }
    let mut ranges = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        if p >= data.len() {
            return Next::Truncated;
        }
        if data[p] != b'$' {
            return Next::Bad;
        }
        let Some((l, q)) = line(data, p) else {
            return Next::Truncated;
        };
        let Some(len) = num(&l[1..]) else {
            return Next::Bad;
        };
        if data.len() - q < len + 2 {
            return Next::Truncated;
        }
        if &data[q + len..q + len + 2] != b"\r\n" {
            return Next::Bad;
        }
        ranges.push((q, len));
        p = q + len + 2;
    }
    Next::Cmd(ranges, p)
}

/// A client with no connection, for replaying commands (createAOFClient): detached, outside
/// the client table; what it is answered is never sent.
fn fake_client() -> crate::server::client::Client {
    crate::server::client::Client::new(
        0,
        usize::MAX,
        crate::server::client::Sock::Detached(Vec::new()),
        String::new(),
        String::new(),
        -1,
    )
}

/// Replays the commands of one file (loadSingleAppendOnlyFile for the command form). `last`
/// tells whether it is the last file, the only one whose torn tail aof-load-truncated may cut.
fn replay_file(
    srv: &mut Server,
    dir: &str,
    name: &str,
    last: bool,
    from: usize,
) -> Result<(), Logged> {
    let full = path(dir, name);
    let data = match std::fs::read(&full) {
        Ok(d) => d,
        Err(e) => {
            log_warning!(
                "Fatal error: can't open the append log file {} for reading: {}",
                name,
                io_msg(&e)
            );
            return Err(Logged);
        }
    };
    let mut c = fake_client();
    c.authenticated = true;
    let mut pos = from;
    // Where the data was before an open MULTI.
    let mut before_multi = from;
    let mut argv = Argv::new();
    let outcome = loop {
        match next_command(&data, pos) {
            Next::End => break Next::End,
            Next::Truncated => break Next::Truncated,
            Next::Bad => break Next::Bad,
            Next::Cmd(ranges, end) => {
                argv.ranges = ranges;
                let args = Args::new(&data, &argv);
                let name_arg = args.get(0);
                let Some(mut idx) = srv.commands.lookup(name_arg) else {
                    log_warning!(
                        "Unknown command '{}' reading the append only file {}",
                        String::from_utf8_lossy(name_arg),
                        name
                    );
                    return Err(Logged);
                };
                if args.len() > 1 && !srv.commands.cmds[idx].subcommands.is_empty() {
                    if let Some(s) = srv.commands.lookup_sub(idx, args.get(1)) {
                        idx = s;
                    }
                }
                let meta = srv.commands.cmds[idx].meta;
                if meta.name == "multi" {
                    before_multi = pos;
                }
                if c.multi.is_some() && !matches!(meta.name, "exec" | "multi" | "discard") {
                    crate::multi::queue_command(srv, &mut c, idx, &args);
                } else if let Some(h) = srv.commands.cmds[idx].handler {
                    h(srv, &mut c, &args);
                }
                c.out.truncate(0);
                pos = end;
            }
        }
    };
    let valid = if c.multi.is_some() { before_multi } else { pos };
    match outcome {
        Next::End if c.multi.is_none() => Ok(()),
        Next::Bad => {
            log_warning!(
                "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                name
            );
            Err(Logged)
        }
        _ => {
            // A torn tail (or a MULTI never closed).
            if last && config_bool(srv, "aof-load-truncated") {
                log_warning!(
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    name
                );
                log_warning!("!!! Truncating the AOF {} at offset {} !!!", name, valid);
                let ok = File::options()
                    .write(true)
                    .open(&full)
                    .and_then(|f| f.set_len(valid as u64));
                if let Err(e) = ok {
                    log_warning!("Error truncating the AOF file {}: {}", name, io_msg(&e));
                    return Err(Logged);
                }
                log_warning!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    name
                );
                Ok(())
            } else {
                log_warning!("Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", name);
                Err(Logged)
            }
        }
    }
}

/// Moves a Redis <= 6 single-file AOF (`appendfilename` in `dir`) into the AOF directory as
/// its base (aofUpgradePrepare): the manifest is written first, naming the file by its own
/// name, then the file is renamed into the directory, so a crash between the two leaves the
/// old file where it was.
fn upgrade_old_aof(dir: &str, filename: &str) -> Result<(), Logged> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        log_warning!(
            "Can't open or create append-only dir {}: {}",
            dir,
            io_msg(&e)
        );
        return Err(Logged);
    }
    let m = Manifest {
        base: Some(AofFile {
            name: filename.to_string(),
            seq: 1,
            kind: Kind::Base,
        }),
        base_seq: 1,
        ..Default::default()
    };
    if let Err(e) = persist_manifest(dir, filename, &m) {
        log_warning!("Can't persist the AOF manifest: {}", io_msg(&e));
        return Err(Logged);
    }
    let moved = std::fs::rename(filename, path(dir, filename))
        .and_then(|_| File::open(dir).and_then(|d| d.sync_all()));
    if let Err(e) = moved {
        log_warning!(
            "Error trying to rename the existing AOF to old tempfile: {}",
            io_msg(&e)
        );
        return Err(Logged);
    }
    log_notice!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        filename,
        dir
    );
    Ok(())
}

/// Loads the AOF named by the manifest, if there is one (loadAppendOnlyFiles). An old
/// single-file AOF without a manifest is first moved into the directory. Ok(false) when
/// there is no manifest (nothing loaded). The manifest and the total size are kept for
/// [`open_on_start`].
pub fn load(srv: &mut Server) -> Result<bool, Logged> {
    load_files(srv, true)
}

/// [`load`]; `announce` logs the total time, as start-up does and DEBUG LOADAOF does not.
fn load_files(srv: &mut Server, announce: bool) -> Result<bool, Logged> {
    let dir = srv.config.appenddirname.clone();
    let filename = srv.config.appendfilename.clone();
    let mpath = path(&dir, &manifest_name(&filename));
    let text = match std::fs::read(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !std::path::Path::new(&filename).is_file() {
                return Ok(false);
            }
            upgrade_old_aof(&dir, &filename)?;
            std::fs::read(&mpath).unwrap_or_default()
        }
        Err(e) => {
            log_warning!(
                "Fatal error: can't open the AOF manifest {} for reading: {}",
                mpath,
                io_msg(&e)
            );
            return Err(Logged);
        }
    };
    let m = match Manifest::parse(&text) {
        Ok(m) => m,
        Err(msg) => {
            log_warning!("{}", msg);
            return Err(Logged);
        }
    };
    let start = crate::util::ustime();
    srv.loading = true;
    let files: Vec<AofFile> = m.base.iter().chain(&m.incr).cloned().collect();
    let (mut total, mut base_total) = (0u64, 0u64);
    let mut res = Ok(());
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let full = path(&dir, &f.name);
        // Redis makes a fake client for every file but an empty one (createAOFClient), and
        // that takes a client id: the ids of later connections show it.
        if std::fs::metadata(&full).is_ok_and(|md| md.len() > 0) {
            srv.next_client_id += 1;
        }
        let is_rdb = std::fs::File::open(&full)
            .and_then(|mut fh| {
                let mut magic = [0u8; 5];
                std::io::Read::read_exact(&mut fh, &mut magic).map(|_| magic == *b"REDIS")
            })
            .unwrap_or(false);
        res = if is_rdb {
            // An RDB, possibly followed by commands (the preamble of an old single-file AOF).
            log_notice!("Reading RDB base file on AOF loading...");
            match super::load_file_prefix(srv, &full, false) {
                Ok(n) => {
                    let len = std::fs::metadata(&full).map_or(0, |m| m.len() as usize);
                    if n < len {
                        log_notice!("Reading the remaining AOF tail...");
                        replay_file(srv, &dir, &f.name, last, n)
                    } else {
                        Ok(())
                    }
                }
                Err(_) => {
                    log_warning!(
                        "Error reading the RDB base file {}, AOF loading aborted",
                        f.name
                    );
                    Err(Logged)
                }
            }
        } else {
            replay_file(srv, &dir, &f.name, last, 0)
        };
        if res.is_err() {
            break;
        }
        let kind = if f.kind == Kind::Base { "base" } else { "incr" };
        log_notice!(
            "DB loaded from {} file {}: {:.3} seconds",
            kind,
            f.name,
            (crate::util::ustime() - start) as f64 / 1e6
        );
        let len = std::fs::metadata(&full).map(|md| md.len()).unwrap_or(0);
        if f.kind == Kind::Base {
            base_total = len;
        }
        total += len;
    }
    srv.loading = false;
    res?;
    if announce {
        log_notice!(
            "DB loaded from append only file: {:.3} seconds",
            (crate::util::ustime() - start) as f64 / 1e6
        );
    }
    srv.aof_manifest = m;
    srv.aof_loaded_size = total;
    srv.aof_loaded_base_size = base_total;
    if let Some(a) = srv.aof.as_mut() {
        a.current_size = total;
        a.base_size = base_total;
    }
    Ok(true)
}

/// DEBUG LOADAOF: the buffer is written and fsynced, the dataset emptied and the AOF the
/// manifest on disk names loaded again, without propagating what it replays. A failure exits
/// the process, as in Redis.
pub fn debug_loadaof(srv: &mut Server) {
    flush(srv, true);
    for db in srv.dbs.iter_mut() {
        db.clear();
    }
    let active = srv.prop.active;
    srv.prop.active = false;
    let res = load_manifest_from_disk(srv)
        .map(|_| super::aof_rewrite::del_history_files(srv))
        .and_then(|_| load_files(srv, false));
    srv.prop.active = active;
    if res.is_err() {
        std::process::exit(1);
    }
    srv.dirty = 0;
    log_warning!("Append Only File loaded by DEBUG LOADAOF");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incr.len(), 1);
        assert_eq!((m.base_seq, m.incr_seq), (1, 1));
        assert_eq!(m.to_text().as_bytes(), text);
    }

    #[test]
    fn manifest_errors() {
        assert!(Manifest::parse(b"").is_err());
        assert!(Manifest::parse(b"file a seq 1\n").is_err());
        assert!(Manifest::parse(b"file a seq x type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 1 type b\nfile b seq 2 type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 2 type i\nfile b seq 1 type i\n").is_err());
        let m = Manifest::parse(b"# comment\nfile \"a b\" seq 3 type i\n").unwrap();
        assert_eq!(m.incr[0].name, "a b");
        assert_eq!(m.to_text(), "file \"a b\" seq 3 type i\n");
    }

    #[test]
    fn reads_commands_and_tells_torn_tails() {
        let data = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let Next::Cmd(r, p) = next_command(data, 0) else {
            panic!()
        };
        assert_eq!(r.len(), 2);
        let Next::Cmd(r, p2) = next_command(data, p) else {
            panic!()
        };
        assert_eq!(r.len(), 3);
        assert!(matches!(next_command(data, p2), Next::End));
        for cut in p + 1..data.len() {
            assert!(
                matches!(next_command(&data[..cut], p), Next::Truncated),
                "{cut}"
            );
        }
        assert!(matches!(next_command(b"set a b\r\n", 0), Next::Bad));
        assert!(matches!(next_command(b"#TS:1\r\n", 0), Next::End));
    }
}
