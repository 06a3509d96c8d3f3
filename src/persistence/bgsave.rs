//! Fork children: BGSAVE's child writes the snapshot, BGREWRITEAOF's (`aof_rewrite`) the new
//! AOF base, while the parent keeps serving (redisFork, rdbSaveBackground, checkChildrenDone,
//! backgroundSaveDoneHandler). [`fork_child`] is the only place besides daemonize that forks;
//! at most one child runs at a time, of either kind.
//!
//! ```text
//!  parent                                   child (copy-on-write view of the dataset)
//!  ------                                   -----
//!  pipe(info) ; t0 = now ; fork() ------->  close every fd but stdio and the info pipe
//!  latest_fork_usec = now - t0              SIGUSR1 -> _exit(255) ("killed on purpose")
//!  dict resizing forbidden                  write temp-<childpid>.rdb, fsync, rename
//!  serverCron: read progress from pipe <--  progress every ~1 s: keys saved, CoW bytes
//!              waitpid(WNOHANG)        <--  _exit(0) ok / _exit(1) error
//!  record result, allow resizing again
//! ```
//!
//! The parent never waits on the child except when it kills it (FLUSHALL, SHUTDOWN), where it
//! reaps it at once so a stale snapshot can never be renamed over a newer file afterwards.
//! If the parent dies, the child still finishes its snapshot: the rename is atomic, so the
//! dump file is always either the previous one or the new complete one.

use super::{now_secs, rdb, save_options, save_to_file};
use crate::server::Server;
use crate::{log_notice, log_warning};

/// Exit status of a child stopped on purpose with SIGUSR1 (SERVER_CHILD_NOERROR_RETVAL).
const CHILD_NOERROR_RETVAL: i32 = 255;

/// Child info message kinds.
const INFO_CURRENT: u64 = 0;
const INFO_COW: u64 = 1;

/// One message on the child info pipe: kind, keys processed, copy-on-write bytes. 24 bytes,
/// well under PIPE_BUF, so each write is atomic.
const INFO_LEN: usize = 24;

/// What a child is doing (server.child_type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// BGSAVE: writing the RDB snapshot.
    Rdb,
    /// BGREWRITEAOF: writing the AOF's new base file.
    Aof,
}

/// The running child, from the parent's side.
#[derive(Debug)]
pub struct Child {
    /// What it does.
    pub kind: ChildKind,
    /// Its pid.
    pub pid: i32,
    /// Read end of the info pipe (non-blocking).
    pub info_fd: i32,
    /// Keys in the dataset when it forked (current_save_keys_total).
    pub keys_total: u64,
    /// An RDB child streaming to replicas through a pipe (RDB_CHILD_TYPE_SOCKET) rather than
    /// writing the dump file.
    pub to_socket: bool,
    /// Keys saved so far, as last reported.
    pub keys_processed: u64,
    /// Copy-on-write bytes, as last reported.
    pub cow_size: u64,
    /// Highest copy-on-write reported.
    pub cow_peak: u64,
    /// When `cow_size` was last updated (Unix ms).
    pub cow_updated_ms: i64,
    /// The copy-on-write total the child reported when it finished its file.
    pub final_cow: Option<u64>,
}

/// Why BGSAVE could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// A child is already running.
    ChildActive,
    /// fork failed (logged).
    ForkFailed,
}

/// Sums "Private_Dirty" over the process's mappings: the pages this process has copied since
/// the fork (zmalloc_get_private_dirty). smaps_rollup is one line per field; smaps is the
/// fallback on older kernels.
fn private_dirty_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .or_else(|_| std::fs::read_to_string("/proc/self/smaps"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// Writes one info message (child side). Errors are ignored: the parent notices a dead child
/// through waitpid anyway.
fn send_info(fd: i32, kind: u64, keys: u64, cow: u64) {
    let mut buf = [0u8; INFO_LEN];
    buf[0..8].copy_from_slice(&kind.to_le_bytes());
    buf[8..16].copy_from_slice(&keys.to_le_bytes());
    buf[16..24].copy_from_slice(&cow.to_le_bytes());
    // SAFETY: writing a local buffer to our pipe's write end.
    unsafe {
        libc::write(fd, buf.as_ptr() as *const libc::c_void, INFO_LEN);
    }
}

/// SIGUSR1 in the child: stop now, telling the parent it was on purpose.
extern "C" fn child_sigusr1(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(CHILD_NOERROR_RETVAL) };
}

/// Closes every descriptor the child inherited except stdio and `keep` (listening sockets,
/// client sockets, the poller): a child that outlives a crashed parent must not keep the port
/// bound (closeChildUnusedResourceAfterFork).
fn close_inherited_fds(keep: &[i32]) {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .collect(),
        Err(_) => (3..1024).collect(),
    };
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing descriptors of this (child) process; nothing in it uses them.
            unsafe { libc::close(fd) };
        }
    }
}

/// The child's end of the info pipe: progress and the final copy-on-write report
/// (sendChildInfo, sendChildCowInfo).
pub struct ChildIo {
    info_fd: i32,
    last_report_ms: i64,
}

impl ChildIo {
    /// Reports `keys` done so far, at most once a second.
    pub fn progress(&mut self, keys: u64) {
        let now = crate::util::mstime();
        if now - self.last_report_ms >= 1000 && self.info_fd >= 0 {
            self.last_report_ms = now;
            send_info(self.info_fd, INFO_CURRENT, keys, private_dirty_bytes());
        }
    }

    /// The child's work is done: logs its copy-on-write ("Fork CoW for <what>") and sends
    /// the final figure to the parent.
    pub fn finished(&mut self, keys: u64, what: &str) {
        let cow = private_dirty_bytes();
        log_notice!(
            "Fork CoW for {}: current {} MB, peak {} MB, average {} MB",
            what,
            cow >> 20,
            cow >> 20,
            cow >> 20
        );
        if self.info_fd >= 0 {
            send_info(self.info_fd, INFO_COW, keys, cow);
        }
    }
}

/// Forks a child of `kind` (redisFork): the child closes what it inherited, runs `body` on
/// its copy-on-write view of the server and exits with the code `body` returns; the parent
/// records it (one child at a time) and returns its pid. The caller logs the start.
pub fn fork_child(
    srv: &mut Server,
    kind: ChildKind,
    body: impl FnOnce(&Server, &mut ChildIo) -> i32,
) -> Result<i32, StartError> {
    fork_child_keeping(srv, kind, -1, body)
}

/// [`fork_child`], with one more descriptor (`keep`, -1 for none) left open in the child: the
/// write end of the pipe a diskless sync streams through.
fn fork_child_keeping(
    srv: &mut Server,
    kind: ChildKind,
    keep: i32,
    body: impl FnOnce(&Server, &mut ChildIo) -> i32,
) -> Result<i32, StartError> {
    if srv.persist.child.is_some() || srv.child_pid.is_some() {
        return Err(StartError::ChildActive);
    }
    let keys_total: u64 = srv.dbs.iter().map(|d| d.dict.len() as u64).sum();
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 fills the two-element array.
    let piped = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } == 0;
    if !piped {
        fds = [-1, -1];
    }
    let t0 = crate::util::ustime();
    // SAFETY: the server is single-threaded, so the child starts with a consistent heap and
    // may allocate; it only reads the dataset, writes its file and calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        crate::server::log::set_child_role();
        // SAFETY: installing signal dispositions in the child process.
        unsafe {
            libc::signal(
                libc::SIGUSR1,
                child_sigusr1 as *const () as libc::sighandler_t,
            );
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
        }
        close_inherited_fds(&[fds[1], keep]);
        let mut io = ChildIo {
            info_fd: fds[1],
            last_report_ms: crate::util::mstime(),
        };
        let code = body(srv, &mut io);
        // SAFETY: leaving the child without running the parent's destructors or atexit
        // handlers.
        unsafe { libc::_exit(code) }
    }
    if pid < 0 {
        for fd in fds {
            if fd >= 0 {
                // SAFETY: closing our own pipe ends.
                unsafe { libc::close(fd) };
            }
        }
        return Err(StartError::ForkFailed);
    }
    let elapsed = (crate::util::ustime() - t0).max(0) as u64;
    if fds[1] >= 0 {
        // SAFETY: the parent keeps only the read end.
        unsafe { libc::close(fds[1]) };
    }
    srv.persist.latest_fork_usec = elapsed;
    srv.persist.total_forks += 1;
    crate::commands::introspection::latency_add_sample(srv, "fork", elapsed / 1000);
    crate::ds::dict::set_resize_allowed(false);
    srv.child_pid = Some(pid);
    srv.persist.child = Some(Child {
        kind,
        pid,
        info_fd: fds[0],
        keys_total,
        to_socket: false,
        keys_processed: 0,
        cow_size: 0,
        cow_peak: 0,
        cow_updated_ms: 0,
        final_cow: None,
    });
    Ok(pid)
}

/// Starts a BGSAVE (rdbSaveBackground): forks; the child saves and exits; the parent records
/// the child and returns. Logs as Redis does.
pub fn start(srv: &mut Server) -> Result<(), StartError> {
    if srv.persist.child.is_some() || srv.child_pid.is_some() {
        return Err(StartError::ChildActive);
    }
    srv.persist.rdb_saves += 1;
    srv.persist.dirty_before_bgsave = srv.dirty;
    srv.persist.lastbgsave_try = now_secs();
    let opts = save_options(srv);
    let filename = srv.config.dbfilename.clone();
    let res = fork_child(srv, ChildKind::Rdb, |srv, io| {
        let mut progress = |keys: u64| io.progress(keys);
        match save_to_file(&srv.dbs, &opts, &filename, Some(&mut progress)) {
            Ok(keys) => {
                io.finished(keys, "RDB");
                0
            }
            Err(super::Logged) => 1,
        }
    });
    match res {
        Ok(pid) => {
            log_notice!("Background saving started by pid {}", pid);
            srv.persist.save_time_start = now_secs();
            Ok(())
        }
        Err(StartError::ForkFailed) => {
            let e = std::io::Error::last_os_error();
            srv.persist.lastbgsave_ok = false;
            log_warning!("Can't save in background: fork: {}", super::io_msg(&e));
            Err(StartError::ForkFailed)
        }
        Err(e) => Err(e),
    }
}

/// A pipe sink (rdbSaveToSlavesSockets's child side): blocking writes to the pipe the parent
/// fans out to the replicas' sockets.
struct PipeSink<'a> {
    fd: i32,
    io: &'a mut ChildIo,
}

impl rdb::Sink for PipeSink<'_> {
    fn write_chunk(&mut self, mut chunk: &[u8]) -> std::io::Result<()> {
        while !chunk.is_empty() {
            // SAFETY: writing a live slice to our pipe's write end.
            let n =
                unsafe { libc::write(self.fd, chunk.as_ptr() as *const libc::c_void, chunk.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            chunk = &chunk[n as usize..];
        }
        Ok(())
    }

    fn progress(&mut self, keys: u64) {
        self.io.progress(keys);
    }
}

/// Starts a diskless snapshot for replicas (rdbSaveToSlavesSockets): the child writes
/// `$EOF:<mark>\r\n`, the RDB and the mark again into a pipe whose non-blocking read end is
/// returned; the parent hands what it reads to the replicas (`server/net.rs`). The dump file
/// is not touched.
pub fn start_to_socket(srv: &mut Server) -> Result<i32, StartError> {
    if srv.persist.child.is_some() || srv.child_pid.is_some() {
        return Err(StartError::ChildActive);
    }
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        let e = std::io::Error::last_os_error();
        log_warning!("Can't save in background: pipe: {}", super::io_msg(&e));
        return Err(StartError::ForkFailed);
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: making our own read end non-blocking.
    unsafe {
        let fl = libc::fcntl(rd, libc::F_GETFL);
        libc::fcntl(rd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    srv.persist.dirty_before_bgsave = srv.dirty;
    srv.persist.lastbgsave_try = now_secs();
    let opts = save_options(srv);
    let mark = crate::replication::random_replid();
    let res = fork_child_keeping(srv, ChildKind::Rdb, wr, |srv, io| {
        let mut sink = PipeSink { fd: wr, io };
        let head = format!("$EOF:{mark}\r\n");
        let mut saved = 0;
        let r = rdb::Sink::write_chunk(&mut sink, head.as_bytes())
            .and_then(|_| rdb::save_rdb(&srv.dbs, &opts, &mut sink))
            .and_then(|keys| {
                saved = keys;
                rdb::Sink::write_chunk(&mut sink, mark.as_bytes())
            });
        match r {
            Ok(()) => {
                io.finished(saved, "RDB");
                0
            }
            Err(_) => 1,
        }
    });
    // SAFETY: the parent keeps only the read end.
    unsafe { libc::close(wr) };
    match res {
        Ok(pid) => {
            if let Some(c) = srv.persist.child.as_mut() {
                c.to_socket = true;
            }
            log_notice!("Background RDB transfer started by pid {}", pid);
            srv.persist.save_time_start = now_secs();
            Ok(rd)
        }
        Err(e) => {
            // SAFETY: closing our own read end.
            unsafe { libc::close(rd) };
            if e == StartError::ForkFailed {
                let err = std::io::Error::last_os_error();
                log_warning!("Can't save in background: fork: {}", super::io_msg(&err));
            }
            Err(e)
        }
    }
}

/// Reads every pending info message from the child.
fn drain_info(c: &mut Child) {
    if c.info_fd < 0 {
        return;
    }
    loop {
        let mut buf = [0u8; INFO_LEN];
        // SAFETY: reading into a local buffer from our non-blocking pipe.
        let n = unsafe { libc::read(c.info_fd, buf.as_mut_ptr() as *mut libc::c_void, INFO_LEN) };
        if n != INFO_LEN as isize {
            break;
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (kind, keys, cow) = (word(0), word(1), word(2));
        c.keys_processed = keys;
        c.cow_size = cow;
        c.cow_peak = c.cow_peak.max(cow);
        c.cow_updated_ms = crate::util::mstime();
        if kind == INFO_COW {
            c.final_cow = Some(cow);
        }
    }
}

/// serverCron: collects progress and, if the child has exited, records the outcome.
pub fn check_child_done(srv: &mut Server) {
    let Some(c) = srv.persist.child.as_mut() else {
        return;
    };
    drain_info(c);
    let (pid, kind) = (c.pid, c.kind);
    let mut status = 0;
    // SAFETY: non-blocking wait for our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    if r < 0 {
        let e = std::io::Error::last_os_error();
        log_warning!(
            "waitpid() returned an error: {}. child_type: {}, child_pid = {}",
            super::io_msg(&e),
            if kind == ChildKind::Rdb { "RDB" } else { "AOF" },
            pid
        );
        finish(srv, 1, 0);
        return;
    }
    let (code, sig) = decode_status(status);
    finish(srv, code, sig);
}

/// (exit code, terminating signal) from a wait status, with a purposeful SIGUSR1 exit read as
/// the signal (checkChildrenDone).
fn decode_status(status: i32) -> (i32, i32) {
    let mut code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let mut sig = if libc::WIFSIGNALED(status) {
        libc::WTERMSIG(status)
    } else {
        0
    };
    if code == CHILD_NOERROR_RETVAL {
        sig = libc::SIGUSR1;
        code = 1;
    }
    (code, sig)
}

/// Records a finished child (checkChildrenDone + resetChildState): the kind's own handler,
/// then the state every child leaves behind.
fn finish(srv: &mut Server, code: i32, sig: i32) {
    let Some(mut c) = srv.persist.child.take() else {
        return;
    };
    drain_info(&mut c);
    if c.info_fd >= 0 {
        // SAFETY: closing our read end.
        unsafe { libc::close(c.info_fd) };
    }
    match c.kind {
        ChildKind::Rdb => rdb_done(srv, &c, code, sig),
        ChildKind::Aof => super::aof_rewrite::done(srv, c.pid, c.final_cow, code, sig),
    }
    srv.child_pid = None;
    crate::ds::dict::set_resize_allowed(true);
}

/// A BGSAVE child finished (backgroundSaveDoneHandlerDisk).
fn rdb_done(srv: &mut Server, c: &Child, code: i32, sig: i32) {
    if c.to_socket {
        // backgroundSaveDoneHandlerSocket: no file, so no save bookkeeping.
        if sig == 0 && code == 0 {
            log_notice!("Background RDB transfer terminated with success");
        } else if sig == 0 {
            log_warning!("Background transfer error");
        } else {
            log_warning!("Background transfer terminated by signal {}", sig);
        }
        srv.persist.save_time_last = now_secs() - srv.persist.save_time_start;
        srv.persist.save_time_start = -1;
        crate::replication::bgsave_done(srv, sig == 0 && code == 0);
        return;
    }
    if sig == 0 && code == 0 {
        log_notice!("Background saving terminated with success");
        srv.dirty = srv.dirty.saturating_sub(srv.persist.dirty_before_bgsave);
        srv.persist.lastsave = now_secs();
        srv.persist.lastbgsave_ok = true;
        if let Some(cow) = c.final_cow {
            srv.persist.last_cow_size = cow;
        }
    } else if sig == 0 {
        log_warning!("Background saving error");
        srv.persist.lastbgsave_ok = false;
    } else {
        log_warning!("Background saving terminated by signal {}", sig);
        let _ = std::fs::remove_file(format!("temp-{}.rdb", c.pid));
        if sig != libc::SIGUSR1 {
            srv.persist.lastbgsave_ok = false;
        }
    }
    srv.persist.save_time_last = now_secs() - srv.persist.save_time_start;
    srv.persist.save_time_start = -1;
    crate::replication::bgsave_done(srv, sig == 0 && code == 0);
}

/// The kind of the running child, if any.
pub fn child_kind(srv: &Server) -> Option<ChildKind> {
    srv.persist.child.as_ref().map(|c| c.kind)
}

/// Stops the running child if it is of `kind` (killRDBChild, killAppendOnlyChild) and reaps
/// it at once, so it cannot rename a stale file later; its handler removes its temp files.
pub fn kill_child(srv: &mut Server, kind: ChildKind) {
    let Some(pid) = srv
        .persist
        .child
        .as_ref()
        .filter(|c| c.kind == kind)
        .map(|c| c.pid)
    else {
        return;
    };
    let mut status = 0;
    // SAFETY: signalling and reaping our own child.
    let r = unsafe {
        libc::kill(pid, libc::SIGUSR1);
        libc::waitpid(pid, &mut status, 0)
    };
    let (code, sig) = if r == pid {
        decode_status(status)
    } else {
        (1, libc::SIGUSR1)
    };
    finish(srv, code, sig);
}
