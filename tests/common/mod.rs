//! Shared harness for ferrodis integration and differential tests.
//!
//! A test file does `mod common;` and then uses:
//!
//! - [`Server`]: a `ferrodis-server` or `redis-server` child process on a free port, in its own
//!   scratch directory, killed when dropped.
//! - [`RawConn`]: a raw TCP client that hands back reply bytes exactly as the server wrote them,
//!   cut into replies by a generic RESP2/RESP3 framer ([`frame_len`]), so tests see every byte.
//! - [`Diff`]: one connection to ferrodis and one to the oracle (`redis-server` 7.0.15); every
//!   command goes to both and the raw replies must be byte-identical.
//!
//! Environment variables:
//!
//! - `FERRODIS_BIN`: the binary [`ferrodis`] starts instead of the crate's own `ferrodis-server`.
//!   `FERRODIS_BIN=redis-server cargo test` runs every differential test oracle against oracle,
//!   which shows whether a test itself is sound before blaming ferrodis.
//! - `REDIS_SERVER_BIN`: the oracle binary (default `redis-server` from `PATH`). The oracle is
//!   mandatory: without it the differential tests fail with a hint instead of skipping silently.
//! - `FERRODIS_TEST_TIMEOUT_MS`: how long a test waits for one reply (default 10000) before it
//!   fails instead of hanging.
//!
//! Every test binary compiles this module but uses only part of it, hence `allow(dead_code)`.
#![allow(dead_code)]

pub mod cluster;
pub mod repl;

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------

/// Config arguments every test server gets unless the test opts out with [`Server::start_bare`]:
/// no RDB snapshots and no AOF, so tests never touch the disk by accident, and DEBUG enabled
/// because many tests (and DEBUG PROTOCOL framing checks) need it.
pub const DEFAULT_ARGS: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "no",
    "--enable-debug-command",
    "yes",
];

/// The oracle version whose reply bytes ferrodis reproduces; another version only earns a warning
/// because most replies are identical across 7.x, but mismatches should then be read with care.
pub const ORACLE_VERSION: &str = "7.0.15";

/// How long to wait for a server to answer its first PING before declaring the start failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a start is retried when another process grabbed the chosen port first.
const START_ATTEMPTS: usize = 5;

/// The per-reply timeout used by [`RawConn`]: `FERRODIS_TEST_TIMEOUT_MS` or 10 s. A test that
/// waits for a reply the server never sends fails after this long instead of hanging CI.
pub fn reply_timeout() -> Duration {
    env::var("FERRODIS_TEST_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

/// Looks `name` up like a shell would: a name with a `/` is taken as a path, anything else is
/// searched in the directories of `path` (normally `$PATH`). Returns only executable files, so a
/// missing oracle is reported by us rather than by a confusing spawn error.
pub fn find_in_path(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    fn executable(p: &Path) -> bool {
        fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    let as_path = Path::new(name);
    if name.is_empty() {
        return None;
    }
    if as_path.components().count() > 1 || name.to_string_lossy().contains('/') {
        return executable(as_path).then(|| as_path.to_path_buf());
    }
    env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

/// The oracle binary: `$REDIS_SERVER_BIN` or `redis-server` from `PATH`. Panics with an install
/// hint when it is missing, because a differential test without its oracle proves nothing and
/// must not pass by skipping.
pub fn oracle_bin() -> PathBuf {
    let name = env::var_os("REDIS_SERVER_BIN").unwrap_or_else(|| OsString::from("redis-server"));
    let found = find_in_path(&name, env::var_os("PATH").as_deref());
    let Some(bin) = found else {
        panic!(
            "the oracle {:?} was not found on PATH: differential tests need Redis {ORACLE_VERSION} \
             (`apt-get install redis-server redis-tools`, or run .ci/run which installs it; \
             REDIS_SERVER_BIN=/path/to/redis-server picks another binary)",
            name
        );
    };
    static VERSION_CHECK: Once = Once::new();
    VERSION_CHECK.call_once(|| check_oracle_version(&bin));
    bin
}

/// Warns once when the oracle is not Redis 7.0.15, since reply bytes can differ between versions.
fn check_oracle_version(bin: &Path) {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the oracle {}: {e}", bin.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains(&format!("v={ORACLE_VERSION} ")) {
        eprintln!(
            "warning: oracle {} is not Redis {ORACLE_VERSION} ({}); replies may legitimately differ",
            bin.display(),
            text.trim()
        );
    }
}

/// The ferrodis binary under test: `$FERRODIS_BIN` if set, else the crate's `ferrodis-server`
/// that Cargo builds for integration tests. `CARGO_BIN_EXE_*` exists only when compiling an
/// integration test of a crate with that binary, so it is read with `option_env!` and this
/// module still compiles in scratch crates.
pub fn ferrodis_bin() -> PathBuf {
    if let Some(name) = env::var_os("FERRODIS_BIN") {
        return find_in_path(&name, env::var_os("PATH").as_deref())
            .unwrap_or_else(|| panic!("FERRODIS_BIN={name:?} is not an executable file"));
    }
    match option_env!("CARGO_BIN_EXE_ferrodis-server") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "no ferrodis-server binary known: run the tests with cargo inside the ferrodis crate, \
             or set FERRODIS_BIN=/path/to/server"
        ),
    }
}

/// Starts ferrodis with [`DEFAULT_ARGS`]; the usual way a test gets a server.
pub fn ferrodis() -> Server {
    Server::start(ferrodis_bin(), &[])
}

/// Starts ferrodis with [`DEFAULT_ARGS`] followed by `extra` (later arguments win, as in Redis).
pub fn ferrodis_with(extra: &[&str]) -> Server {
    Server::start(ferrodis_bin(), extra)
}

/// Starts the oracle redis-server with [`DEFAULT_ARGS`].
pub fn oracle() -> Server {
    Server::start(oracle_bin(), &[])
}

/// Starts the oracle with [`DEFAULT_ARGS`] followed by `extra`.
pub fn oracle_with(extra: &[&str]) -> Server {
    Server::start(oracle_bin(), extra)
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/// A server child process listening on a free port of 127.0.0.1.
///
/// It runs in a fresh scratch directory (its working directory, where any dump.rdb or AOF lands)
/// with stdout and stderr captured in `server.log` there; the log is printed when the start
/// fails and kept when a test panics. Dropping the value kills the process and removes the
/// directory, so a failing test never leaves servers behind. Methods take `&self` (the child sits
/// behind a mutex) so a server can be shared between threads and [`Diff`]s.
pub struct Server {
    child: Mutex<Child>,
    pid: AtomicU32,
    port: u16,
    bin: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
}

/// Why one start attempt failed: `PortTaken` is retried on another port, `Fatal` is not.
enum StartError {
    PortTaken,
    Fatal(String),
}

impl Server {
    /// Starts `bin` with [`DEFAULT_ARGS`] then `extra`; panics (with the server log) if it does
    /// not answer PING in time. If `extra` starts with a non-option (a config file path) it is
    /// passed first, as redis-server requires.
    pub fn start(bin: impl AsRef<Path>, extra: &[&str]) -> Server {
        Self::launch(bin.as_ref(), extra, true)
    }

    /// Starts `bin` with only `--port` and `args`, for tests that need the server's own defaults
    /// (persistence on, DEBUG disabled, ...).
    pub fn start_bare(bin: impl AsRef<Path>, args: &[&str]) -> Server {
        Self::launch(bin.as_ref(), args, false)
    }

    fn launch(bin: &Path, extra: &[&str], defaults: bool) -> Server {
        // The child runs in its scratch directory, where a relative path would no longer
        // resolve: anchor paths (not bare names, which are looked up in PATH) to our cwd.
        let anchored;
        let bin = if bin.components().count() > 1 && bin.is_relative() {
            anchored = env::current_dir().map(|d| d.join(bin)).unwrap_or_default();
            anchored.as_path()
        } else {
            bin
        };
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let dir = env::temp_dir().join(format!("ferrodis-test-{}-{id}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create scratch dir {}: {e}", dir.display()));
        let (config_file, rest) = match extra.split_first() {
            Some((first, rest)) if !first.starts_with('-') => (Some(*first), rest),
            _ => (None, extra),
        };
        let mut args: Vec<String> = config_file.iter().map(|s| s.to_string()).collect();
        if defaults {
            args.extend(DEFAULT_ARGS.iter().map(|s| s.to_string()));
        }
        args.extend(rest.iter().map(|s| s.to_string()));

        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            match Self::spawn(bin, &args, port, &dir) {
                Ok((child, pid)) => {
                    return Server {
                        child: Mutex::new(child),
                        pid: AtomicU32::new(pid),
                        port,
                        bin: bin.to_path_buf(),
                        args,
                        dir,
                    }
                }
                Err(StartError::PortTaken) if attempt < START_ATTEMPTS => continue,
                Err(StartError::PortTaken) => {
                    let _ = fs::remove_dir_all(&dir);
                    panic!(
                        "{}: no free port after {START_ATTEMPTS} attempts",
                        bin.display()
                    )
                }
                Err(StartError::Fatal(msg)) => {
                    let _ = fs::remove_dir_all(&dir);
                    panic!("{msg}")
                }
            }
        }
        unreachable!("the loop returns or panics on its last attempt")
    }

    /// Spawns one process on `port` and waits until it serves; kills it on any failure.
    fn spawn(
        bin: &Path,
        args: &[String],
        port: u16,
        dir: &Path,
    ) -> Result<(Child, u32), StartError> {
        let log_path = dir.join("server.log");
        // Appending keeps the history across restarts; only this run's part is inspected.
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| StartError::Fatal(format!("cannot open {}: {e}", log_path.display())))?;
        let log_start = log.metadata().map(|m| m.len() as usize).unwrap_or(0);
        let log_err = log
            .try_clone()
            .map_err(|e| StartError::Fatal(format!("cannot dup log handle: {e}")))?;
        // A config file, if any, must stay the first argument. --port comes right after it, so
        // a port in that file is overridden, while an explicit --port from the test still wins
        // (and then port collisions are the test's business).
        let (head, tail) = match args.first() {
            Some(first) if !first.starts_with('-') => (&args[..1], &args[1..]),
            _ => (&args[..0], args),
        };
        let mut child = Command::new(bin)
            .args(head)
            .arg("--port")
            .arg(port.to_string())
            .args(tail)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| StartError::Fatal(format!("cannot spawn {}: {e}", bin.display())))?;
        let pid = child.id();
        let describe = |what: &str| {
            format!(
                "{} {} --port {port} {}: {what}\n--- server log ({}) ---\n{}",
                bin.display(),
                head.join(" "),
                tail.iter()
                    .map(|a| escape(a.as_bytes()))
                    .collect::<Vec<_>>()
                    .join(" "),
                log_path.display(),
                fs::read_to_string(&log_path).unwrap_or_default()
            )
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log_text = fs::read(&log_path).unwrap_or_default();
                let this_run =
                    String::from_utf8_lossy(log_text.get(log_start..).unwrap_or_default());
                if this_run.contains("already in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Fatal(describe(&format!(
                    "exited during startup ({status})"
                ))));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Fatal(describe(&format!(
                    "did not answer PING within {START_TIMEOUT:?}"
                ))));
            }
            match probe(port) {
                Probe::NotYet => thread::sleep(Duration::from_millis(10)),
                Probe::Serving(reported_pid) => {
                    // The port could belong to some other server that bound it between our probe
                    // and our child's bind: make sure the one answering is ours.
                    let ours = match reported_pid {
                        Some(p) => p == pid,
                        None => {
                            thread::sleep(Duration::from_millis(50));
                            matches!(child.try_wait(), Ok(None))
                        }
                    };
                    if ours {
                        return Ok((child, pid));
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(StartError::PortTaken);
                }
            }
        }
    }

    /// The TCP port the server listens on (127.0.0.1 and whatever else it binds).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, handy for clients and error messages.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process id, for tests that look at /proc (memory, CPU) or send signals; it changes
    /// after [`Server::restart`].
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// The scratch directory the server runs in (where it writes dump.rdb, AOF files, ...).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The binary this server runs, for messages that must say which side failed.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Everything the server has written to stdout/stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Opens a new raw connection to this server.
    pub fn conn(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// Whether the process is still alive; lets crash tests tell "refused" from "died".
    pub fn is_running(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        matches!(child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit by itself (after SHUTDOWN, a crash, ...)
    /// and returns whether it did.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process now (SIGKILL) without letting it save anything.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server (SHUTDOWN with `shutdown_args`, SIGKILL if it lingers) and starts the
    /// same binary with the same arguments on the same port in the same directory: what
    /// persistence tests need to check that data survives a restart.
    pub fn restart(&self, shutdown_args: &[&str]) {
        if self.is_running() {
            if let Ok(stream) = TcpStream::connect_timeout(&self.addr(), Duration::from_millis(500))
            {
                let mut conn = RawConn::from_stream(stream, self.port);
                let mut cmd: Vec<&str> = vec!["SHUTDOWN"];
                cmd.extend_from_slice(shutdown_args);
                conn.send(&encode_command(&cmd));
            }
            if !self.wait_exit(Duration::from_secs(20)) {
                self.kill();
            }
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match Self::spawn(&self.bin, &self.args, self.port, &self.dir) {
                Ok((child, pid)) => {
                    *self.child.lock().unwrap_or_else(|e| e.into_inner()) = child;
                    self.pid.store(pid, Ordering::Relaxed);
                    return;
                }
                Err(StartError::PortTaken) if Instant::now() < deadline => {
                    // The old socket may linger for a moment; try the same port again.
                    thread::sleep(Duration::from_millis(100));
                }
                Err(StartError::PortTaken) => panic!(
                    "cannot restart {} on port {}: port taken",
                    self.bin.display(),
                    self.port
                ),
                Err(StartError::Fatal(msg)) => panic!("restart failed: {msg}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!(
                "note: server {} on port {} left its log in {}",
                self.bin.display(),
                self.port,
                self.dir.join("server.log").display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A fresh, empty scratch directory for config files and dumps, named after the test binary's
/// `kind` and the caller's `tag` (absolute, so servers started in other directories find it).
pub fn scratch_dir(kind: &str, tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = env::temp_dir().join(format!(
        "ferrodis-{kind}-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asks the kernel for a currently unused port. Another process may take it before the server
/// binds it; [`Server`] detects that and retries on a new port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

/// Outcome of one readiness probe.
enum Probe {
    /// Nothing listening yet, or still loading.
    NotYet,
    /// Something answered PING; the pid is the `process_id` from INFO when the server has it.
    Serving(Option<u32>),
}

/// Connects to `port`, sends PING and, once anything but -LOADING comes back, INFO server to
/// learn which process answers. Any reply to PING (even -NOAUTH) means the server is up.
fn probe(port: u16) -> Probe {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return Probe::NotYet;
    };
    let mut conn = RawConn::from_stream(stream, port);
    conn.timeout = Duration::from_secs(2);
    conn.send(b"*1\r\n$4\r\nPING\r\n");
    let Ok(Some(reply)) = conn.read_reply_inner(conn.timeout) else {
        return Probe::NotYet;
    };
    if reply.starts_with(b"-LOADING") || reply.starts_with(b"-BUSY") {
        return Probe::NotYet;
    }
    conn.send(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n");
    let pid = match conn.read_reply_inner(conn.timeout) {
        Ok(Some(info)) => String::from_utf8_lossy(&info)
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .and_then(|v| v.trim().parse::<u32>().ok()),
        _ => None,
    };
    Probe::Serving(pid)
}

// ---------------------------------------------------------------------------------------------
// RESP encoding, escaping and framing
// ---------------------------------------------------------------------------------------------

/// Encodes one command as a RESP multibulk, the form real clients send.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Renders bytes as a double-quoted string with `\r`, `\n`, `\t`, `\"`, `\\` and `\xNN`
/// escapes (the redis-cli style), so failures show exactly which bytes differ.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// [`escape`] cut to `max` bytes of input with a note of the total, for huge replies.
pub fn escape_trunc(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        escape(bytes)
    } else {
        format!(
            "{}... ({} bytes in all)",
            escape(&bytes[..max]),
            bytes.len()
        )
    }
}

/// Renders a command for failure messages: each argument escaped, separated by spaces.
pub fn show_command<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| escape_trunc(a.as_ref(), 200))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Largest length or count the framer accepts; anything bigger is treated as garbage rather
/// than a reason to wait for gigabytes that will never come.
const MAX_FRAME_LEN: i64 = 1 << 34;

/// Finds the CRLF-terminated line starting at `pos`: `Some((line, next))` where `line` excludes
/// the CRLF, `None` when the line is not complete yet.
fn line_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..nl], pos + nl + 2))
}

/// Parses a RESP length or count.
fn parse_len(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|&n| (-1..=MAX_FRAME_LEN).contains(&n))
        .ok_or_else(|| format!("bad length {}", escape(line)))
}

/// One open aggregate while framing.
enum Open {
    /// Elements still expected; `attribute` marks an attribute map, which is a prefix of the
    /// next value rather than a value itself.
    Counted { remaining: i64, attribute: bool },
    /// A streamed aggregate (`*?`), which ends with a `.` frame.
    Streamed,
}

/// Length in bytes of the first complete reply in `buf`: `Ok(Some(n))` when `buf[..n]` is one
/// whole reply, `Ok(None)` when more bytes are needed, `Err` on bytes that are not RESP.
///
/// Knows every RESP2/RESP3 type: simple `+`, error `-`, integer `:`, bulk `$`, array `*`, null
/// `_`, double `,`, boolean `#`, big number `(`, blob error `!`, verbatim `=`, map `%`, set `~`,
/// push `>`, attribute `|` (which belongs to the value after it), the RESP2 nulls `$-1`/`*-1`,
/// and streamed strings/aggregates (`$?` with `;` chunks, `*?` ... `.`). Iterative, so deep
/// nesting cannot overflow the stack.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    loop {
        if pos >= buf.len() {
            return Ok(None);
        }
        let kind = buf[pos];
        let Some((line, next)) = line_at(buf, pos + 1) else {
            return Ok(None);
        };
        pos = next;
        // Whether this frame completed a value (as opposed to opening an aggregate).
        let mut value_done = true;
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'!' | b'=' if line == b"?" => loop {
                // Streamed string: `;len` chunks until `;0`.
                let Some((chunk, after)) = line_at(buf, pos) else {
                    return Ok(None);
                };
                if chunk.first() != Some(&b';') {
                    return Err(format!("bad streamed-string chunk {}", escape(chunk)));
                }
                let n = parse_len(&chunk[1..])?;
                if n < 0 {
                    return Err("negative streamed-string chunk".into());
                }
                pos = after;
                if n == 0 {
                    break;
                }
                let end = pos + n as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err("streamed-string chunk not followed by CRLF".into());
                }
                pos = end + 2;
            },
            b'$' | b'!' | b'=' => {
                let n = parse_len(line)?;
                if n < 0 {
                    if kind != b'$' {
                        return Err(format!("negative length for {}", kind as char));
                    }
                } else {
                    let end = pos + n as usize;
                    if buf.len() < end + 2 {
                        return Ok(None);
                    }
                    if &buf[end..end + 2] != b"\r\n" {
                        return Err(format!(
                            "{}-string of length {n} not followed by CRLF",
                            kind as char
                        ));
                    }
                    pos = end + 2;
                }
            }
            b'*' | b'%' | b'~' | b'>' | b'|' if line == b"?" => {
                stack.push(Open::Streamed);
                value_done = false;
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let n = parse_len(line)?;
                let attribute = kind == b'|';
                if n < 0 {
                    if kind != b'*' {
                        return Err(format!("negative count for {}", kind as char));
                    }
                } else {
                    let elems = if kind == b'%' || attribute { n * 2 } else { n };
                    if elems > 0 {
                        stack.push(Open::Counted {
                            remaining: elems,
                            attribute,
                        });
                        value_done = false;
                    } else if attribute {
                        // An empty attribute still prefixes the value that follows.
                        value_done = false;
                    }
                }
            }
            b'.' => match stack.pop() {
                Some(Open::Streamed) if line.is_empty() => {}
                _ => return Err("unexpected streamed-aggregate end '.'".into()),
            },
            other => {
                return Err(format!(
                    "unknown RESP type byte {} at offset {}",
                    escape(&[other]),
                    pos.saturating_sub(line.len() + 3)
                ))
            }
        }
        if !value_done {
            continue;
        }
        // A value completed: count it against the enclosing aggregates, closing those that are
        // now full (each of which is itself a completed value, except attribute maps).
        loop {
            match stack.last_mut() {
                None => return Ok(Some(pos)),
                Some(Open::Streamed) => break,
                Some(Open::Counted {
                    remaining,
                    attribute,
                }) => {
                    *remaining -= 1;
                    if *remaining > 0 {
                        break;
                    }
                    let was_attribute = *attribute;
                    stack.pop();
                    if was_attribute {
                        break;
                    }
                }
            }
        }
    }
}

/// Splits `buf`, which must hold only whole replies, into those replies.
pub fn split_replies(buf: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        match frame_len(rest)? {
            Some(n) => {
                out.push(&rest[..n]);
                rest = &rest[n..];
            }
            None => return Err(format!("incomplete reply {}", escape_trunc(rest, 200))),
        }
    }
    Ok(out)
}

/// A parsed reply, for tests that need values (a cursor, an INFO field) rather than bytes.
/// Exactness checks should compare the raw bytes instead: this form forgets, for instance,
/// which of `$-1`, `*-1` and `_` a null was.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+...`
    Status(Vec<u8>),
    /// `-...` or a blob error `!`.
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n`
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or `_`.
    Nil,
    /// `*n`
    Array(Vec<Reply>),
    /// `%n`
    Map(Vec<(Reply, Reply)>),
    /// `~n`
    Set(Vec<Reply>),
    /// `>n`
    Push(Vec<Reply>),
    /// `,x` kept as text so no precision is lost.
    Double(Vec<u8>),
    /// `#t` / `#f`
    Bool(bool),
    /// `(n` kept as text.
    BigNumber(Vec<u8>),
    /// `=n` with its three-letter format.
    Verbatim {
        /// The format before the colon, e.g. `txt` or `mkd`.
        format: Vec<u8>,
        /// The text after the colon.
        text: Vec<u8>,
    },
    /// `|n` attributes attached to the value that follows them.
    Attribute {
        /// The attribute map's (key, value) pairs.
        attrs: Vec<(Reply, Reply)>,
        /// The reply the attributes describe.
        value: Box<Reply>,
    },
}

impl Reply {
    /// The payload of a status, bulk, verbatim, error, double or big number, if this is one.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Status(b)
            | Reply::Bulk(b)
            | Reply::Error(b)
            | Reply::Double(b)
            | Reply::BigNumber(b) => Some(b),
            Reply::Verbatim { text, .. } => Some(text),
            Reply::Attribute { value, .. } => value.bytes(),
            _ => None,
        }
    }

    /// The payload as (lossy) UTF-8 text.
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The integer of an `:n` reply.
    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            Reply::Attribute { value, .. } => value.int(),
            _ => None,
        }
    }

    /// The elements of an array, set or push reply.
    pub fn items(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => Some(v),
            Reply::Attribute { value, .. } => value.items(),
            _ => None,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Nesting limit of [`parse_reply`], which recurses (use [`frame_len`] for unbounded depth).
const MAX_PARSE_DEPTH: usize = 512;

/// Parses `bytes`, which must be exactly one reply, into a [`Reply`].
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, String> {
    let (reply, used) = parse_at(bytes, 0, 0)?;
    if used != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the reply",
            bytes.len() - used
        ));
    }
    Ok(reply)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<(Reply, usize), String> {
    if depth > MAX_PARSE_DEPTH {
        return Err("reply nested too deeply".into());
    }
    let incomplete = || "incomplete reply".to_string();
    let kind = *buf.get(pos).ok_or_else(incomplete)?;
    let (line, mut pos) = line_at(buf, pos + 1).ok_or_else(incomplete)?;
    let text = || line.to_vec();
    let blob = |pos: usize, n: i64| -> Result<(Vec<u8>, usize), String> {
        let end = pos + n as usize;
        if buf.len() < end + 2 {
            return Err(incomplete());
        }
        Ok((buf[pos..end].to_vec(), end + 2))
    };
    let reply = match kind {
        b'+' => Reply::Status(text()),
        b'-' => Reply::Error(text()),
        b':' => Reply::Int(
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad integer {}", escape(line)))?,
        ),
        b'_' => Reply::Nil,
        b',' => Reply::Double(text()),
        b'(' => Reply::BigNumber(text()),
        b'#' => match line {
            b"t" => Reply::Bool(true),
            b"f" => Reply::Bool(false),
            _ => return Err(format!("bad boolean {}", escape(line))),
        },
        b'$' | b'!' | b'=' => {
            let data = if line == b"?" {
                let mut data = Vec::new();
                loop {
                    let (chunk, after) = line_at(buf, pos).ok_or_else(incomplete)?;
                    let n = parse_len(chunk.get(1..).unwrap_or_default())?;
                    pos = after;
                    if n <= 0 {
                        break;
                    }
                    let (part, after) = blob(pos, n)?;
                    data.extend_from_slice(&part);
                    pos = after;
                }
                Some(data)
            } else {
                let n = parse_len(line)?;
                if n < 0 {
                    None
                } else {
                    let (data, after) = blob(pos, n)?;
                    pos = after;
                    Some(data)
                }
            };
            match (kind, data) {
                (_, None) => Reply::Nil,
                (b'!', Some(d)) => Reply::Error(d),
                (b'=', Some(d)) => {
                    let (format, text) = if d.len() >= 4 && d[3] == b':' {
                        (d[..3].to_vec(), d[4..].to_vec())
                    } else {
                        (Vec::new(), d)
                    };
                    Reply::Verbatim { format, text }
                }
                (_, Some(d)) => Reply::Bulk(d),
            }
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let streamed = line == b"?";
            let n = if streamed { -1 } else { parse_len(line)? };
            if n < 0 && !streamed {
                Reply::Nil
            } else {
                let mut items = Vec::new();
                let pairs = kind == b'%' || kind == b'|';
                let want = if pairs { n.saturating_mul(2) } else { n };
                loop {
                    if streamed {
                        if buf.get(pos..pos + 3) == Some(b".\r\n") {
                            pos += 3;
                            break;
                        }
                    } else if items.len() as i64 >= want {
                        break;
                    }
                    let (item, after) = parse_at(buf, pos, depth + 1)?;
                    items.push(item);
                    pos = after;
                }
                let pair_up = |items: Vec<Reply>| {
                    let mut out = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        out.push((k, v));
                    }
                    out
                };
                match kind {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    b'>' => Reply::Push(items),
                    b'%' => Reply::Map(pair_up(items)),
                    _ => {
                        let (value, after) = parse_at(buf, pos, depth + 1)?;
                        pos = after;
                        Reply::Attribute {
                            attrs: pair_up(items),
                            value: Box::new(value),
                        }
                    }
                }
            }
        }
        other => return Err(format!("unknown RESP type byte {}", escape(&[other]))),
    };
    Ok((reply, pos))
}

/// Sorts the elements of a top-level array, set, map or push reply so that replies listing the
/// same elements in another order compare equal (KEYS, SMEMBERS, HGETALL, ...). With `pairs`,
/// a flat array is sorted two elements at a time (the RESP2 form of HGETALL / CONFIG GET); maps
/// are always sorted by pair. Elements themselves are left as they are; any other reply comes
/// back unchanged.
pub fn sort_reply(reply: &[u8], pairs: bool) -> Vec<u8> {
    let kind = match reply.first() {
        Some(k @ (b'*' | b'~' | b'%' | b'>')) => *k,
        _ => return reply.to_vec(),
    };
    let Some((line, start)) = line_at(reply, 1) else {
        return reply.to_vec();
    };
    if parse_len(line).map(|n| n <= 0).unwrap_or(true) {
        return reply.to_vec();
    }
    let Ok(elems) = split_replies(&reply[start..]) else {
        return reply.to_vec();
    };
    let group = if pairs || kind == b'%' { 2 } else { 1 };
    if elems.len() % group != 0 {
        return reply.to_vec();
    }
    let mut groups: Vec<Vec<u8>> = elems.chunks(group).map(|c| c.concat()).collect();
    groups.sort();
    let mut out = reply[..start].to_vec();
    for g in groups {
        out.extend_from_slice(&g);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// RawConn
// ---------------------------------------------------------------------------------------------

/// A raw TCP client. It writes exactly the bytes it is given and returns replies exactly as
/// received, so tests can check every byte of the protocol, including malformed requests,
/// pipelining, and what happens to the connection afterwards.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    port: u16,
    /// How long [`RawConn::read_reply`] waits before failing the test.
    pub timeout: Duration,
    eof: bool,
}

/// Outcome of one attempt to read more bytes.
enum Fill {
    Data,
    Eof,
    TimedOut,
}

impl RawConn {
    /// Connects to 127.0.0.1:`port`, failing the test if that is refused.
    pub fn connect(port: u16) -> RawConn {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        Self::from_stream(stream, port)
    }

    /// Wraps an already connected stream (the port is only used in messages).
    pub fn from_stream(stream: TcpStream, port: u16) -> RawConn {
        let _ = stream.set_nodelay(true);
        RawConn {
            stream,
            buf: Vec::new(),
            port,
            timeout: reply_timeout(),
            eof: false,
        }
    }

    /// Changes how long reads wait before failing.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes raw bytes (any protocol, even broken), without reading anything back.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            panic!(
                "write of {} to port {} failed: {e}",
                escape_trunc(bytes, 200),
                self.port
            );
        }
    }

    /// Sends one command as a multibulk without waiting for its reply (pipelining, blocking
    /// commands, SUBSCRIBE...).
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode_command(args));
    }

    /// Sends one command and returns the raw bytes of one complete reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send_cmd(args);
        match self.read_reply_inner(self.timeout) {
            Ok(Some(r)) => r,
            Ok(None) => panic!(
                "no reply to {} from port {} within {:?}; received so far: {}",
                show_command(args),
                self.port,
                self.timeout,
                escape_trunc(&self.buf, 2000)
            ),
            Err(e) => panic!(
                "reply to {} from port {}: {e}",
                show_command(args),
                self.port
            ),
        }
    }

    /// Sends one command and parses its reply.
    pub fn value<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let raw = self.cmd(args);
        parse_reply(&raw).unwrap_or_else(|e| panic!("unparsable reply {}: {e}", escape(&raw)))
    }

    /// Sends all commands in one write, then reads one reply per command.
    pub fn pipeline<A: AsRef<[u8]>>(&mut self, cmds: &[&[A]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for c in cmds {
            out.extend_from_slice(&encode_command(c));
        }
        self.send(&out);
        cmds.iter().map(|_| self.read_reply()).collect()
    }

    /// Reads one complete reply (RESP2 or RESP3, a push or attribute-prefixed value included),
    /// failing the test on timeout, on a closed connection or on bytes that are not RESP.
    pub fn read_reply(&mut self) -> Vec<u8> {
        match self.read_reply_inner(self.timeout) {
            Ok(Some(r)) => r,
            Ok(None) => panic!(
                "no complete reply from port {} within {:?}; received so far: {}",
                self.port,
                self.timeout,
                escape_trunc(&self.buf, 2000)
            ),
            Err(e) => panic!("reading a reply from port {}: {e}", self.port),
        }
    }

    /// Like [`RawConn::read_reply`] but returns `None` if no complete reply arrives within
    /// `wait`: for checking that a blocked client is still blocked.
    pub fn try_read_reply(&mut self, wait: Duration) -> Option<Vec<u8>> {
        match self.read_reply_inner(wait) {
            Ok(r) => r,
            Err(e) => panic!("reading a reply from port {}: {e}", self.port),
        }
    }

    /// Bytes received but not yet returned as a reply.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the server has closed the connection, waiting up to half a second for it to do
    /// so (servers close right after writing their last reply, which may still be in flight).
    /// Unread data means "not closed yet".
    pub fn is_closed(&mut self) -> bool {
        self.is_closed_within(Duration::from_millis(500))
    }

    /// [`RawConn::is_closed`] with an explicit wait.
    pub fn is_closed_within(&mut self, wait: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        if self.eof {
            return true;
        }
        let deadline = Instant::now() + wait;
        match self.fill(deadline) {
            Ok(Fill::Eof) => true,
            Ok(Fill::Data) | Ok(Fill::TimedOut) => false,
            Err(_) => true,
        }
    }

    /// Closes our write side, as a client that sent its last command and waits for replies.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// `Ok(None)` on timeout, `Err` on EOF before a full reply or on protocol garbage.
    fn read_reply_inner(&mut self, wait: Duration) -> Result<Option<Vec<u8>>, String> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = frame_len(&self.buf).map_err(|e| {
                format!(
                    "server sent bytes that are not RESP ({e}): {}",
                    escape_trunc(&self.buf, 2000)
                )
            })? {
                return Ok(Some(self.buf.drain(..n).collect()));
            }
            match self.fill(deadline) {
                Ok(Fill::Data) => {}
                Ok(Fill::TimedOut) => return Ok(None),
                Ok(Fill::Eof) => {
                    return Err(format!(
                        "connection closed by the server; unparsed bytes: {}",
                        escape_trunc(&self.buf, 2000)
                    ))
                }
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
    }

    /// Reads whatever arrives before `deadline` into the buffer.
    fn fill(&mut self, deadline: Instant) -> io::Result<Fill> {
        if self.eof {
            return Ok(Fill::Eof);
        }
        let now = Instant::now();
        if now >= deadline {
            // Still take what is already queued in the socket without blocking.
            self.stream.set_nonblocking(true)?;
            let r = self.read_some();
            self.stream.set_nonblocking(false)?;
            return r;
        }
        let left = (deadline - now).max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(left))?;
        self.read_some()
    }

    fn read_some(&mut self) -> io::Result<Fill> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(Fill::Eof)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(Fill::Data)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Fill::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Fill::Data),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                self.eof = true;
                Ok(Fill::Eof)
            }
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

/// The pair of servers a [`Diff`] talks to, shared by every `Diff` made with [`Diff::another`].
struct Pair {
    ferrodis: Server,
    redis: Server,
}

/// A differential tester: one connection to ferrodis and one to the oracle. Each command goes to
/// both and the raw reply bytes must match; on a mismatch the test fails showing the command and
/// both replies escaped, with the offset of the first differing byte.
///
/// The connections are public for the rare step that must differ between the two sides.
pub struct Diff {
    /// Connection to ferrodis.
    pub ferrodis: RawConn,
    /// Connection to the oracle redis-server.
    pub redis: RawConn,
    servers: Arc<Pair>,
}

impl Diff {
    /// Starts ferrodis and the oracle with [`DEFAULT_ARGS`] and connects to both.
    pub fn new() -> Diff {
        Self::with_args(&[])
    }

    /// Starts both servers with the same extra config arguments.
    pub fn with_args(extra: &[&str]) -> Diff {
        let redis = oracle_with(extra);
        Self::from_servers(ferrodis_with(extra), redis)
    }

    /// Uses servers the test started itself (e.g. two oracles, or different configs). The first
    /// plays the ferrodis side.
    pub fn from_servers(ferrodis: Server, redis: Server) -> Diff {
        let pair = Arc::new(Pair { ferrodis, redis });
        Self::on(pair)
    }

    fn on(servers: Arc<Pair>) -> Diff {
        Diff {
            ferrodis: servers.ferrodis.conn(),
            redis: servers.redis.conn(),
            servers,
        }
    }

    /// A second client pair on the same servers (MULTI/WATCH races, pub/sub, blocking pops).
    /// The servers live until the last `Diff` using them is dropped.
    pub fn another(&self) -> Diff {
        Self::on(Arc::clone(&self.servers))
    }

    /// The ferrodis server.
    pub fn ferrodis_server(&self) -> &Server {
        &self.servers.ferrodis
    }

    /// The oracle server.
    pub fn redis_server(&self) -> &Server {
        &self.servers.redis
    }

    /// Sends one command to both and asserts the raw replies are equal; returns the reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        let (f, r) = self.both(args);
        assert_same(&show_command(args), &f, &r);
        f
    }

    /// Sends one command to both and returns both replies unchecked, for replies that are
    /// legitimately different (INFO, CLIENT ID, DEBUG OBJECT, timestamps...).
    pub fn both<A: AsRef<[u8]>>(&mut self, args: &[A]) -> (Vec<u8>, Vec<u8>) {
        let bytes = encode_command(args);
        self.ferrodis.send(&bytes);
        self.redis.send(&bytes);
        (self.ferrodis.read_reply(), self.redis.read_reply())
    }

    /// Like [`Diff::cmd`] but the elements of the top-level array/set/map may come in any
    /// order (KEYS, SMEMBERS, HKEYS...). Returns ferrodis's reply with its elements sorted.
    pub fn unordered<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.unordered_impl(args, false)
    }

    /// Like [`Diff::unordered`] but a flat array is compared as (field, value) pairs, for RESP2
    /// HGETALL, CONFIG GET and the like.
    pub fn unordered_pairs<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.unordered_impl(args, true)
    }

    fn unordered_impl<A: AsRef<[u8]>>(&mut self, args: &[A], pairs: bool) -> Vec<u8> {
        let (f, r) = self.both(args);
        let (fs, rs) = (sort_reply(&f, pairs), sort_reply(&r, pairs));
        assert_same(&format!("{} (unordered)", show_command(args)), &fs, &rs);
        fs
    }

    /// Sends raw bytes (inline commands, broken protocol...) to both and compares one reply.
    pub fn raw(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.ferrodis.send(bytes);
        self.redis.send(bytes);
        let (f, r) = (self.ferrodis.read_reply(), self.redis.read_reply());
        assert_same(&format!("raw {}", escape_trunc(bytes, 500)), &f, &r);
        f
    }

    /// Sends a command to both without reading (pipelining, blocking commands); pair it with
    /// [`Diff::read`].
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let bytes = encode_command(args);
        self.ferrodis.send(&bytes);
        self.redis.send(&bytes);
    }

    /// Reads one reply from each side and asserts they are equal.
    pub fn read(&mut self) -> Vec<u8> {
        let (f, r) = (self.ferrodis.read_reply(), self.redis.read_reply());
        assert_same("(pending reply)", &f, &r);
        f
    }

    /// Asserts that both sides agree on whether the connection was closed, and returns it.
    pub fn closed(&mut self) -> bool {
        let (f, r) = (self.ferrodis.is_closed(), self.redis.is_closed());
        assert_eq!(
            f, r,
            "connection state differs: ferrodis closed={f}, redis closed={r}"
        );
        f
    }

    /// Runs a script: one command per line, arguments split like redis-cli does (whitespace,
    /// "double quotes" with `\n \r \t \" \\ \xHH` escapes, 'single quotes' with `\'`). Blank
    /// lines and `#` comments are skipped. A line may start with a marker:
    /// `~ CMD` compares unordered, `~~ CMD` compares unordered by pairs, `? CMD` sends to both
    /// without comparing. A failure names the script line.
    pub fn run(&mut self, script: &str) {
        for (i, raw_line) in script.lines().enumerate() {
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (mode, rest) = if let Some(r) = line.strip_prefix("~~ ") {
                ("pairs", r)
            } else if let Some(r) = line.strip_prefix("~ ") {
                ("unordered", r)
            } else if let Some(r) = line.strip_prefix("? ") {
                ("unchecked", r)
            } else {
                ("exact", line)
            };
            let args =
                split_args(rest).unwrap_or_else(|e| panic!("script line {}: {e}: {line}", i + 1));
            if args.is_empty() {
                continue;
            }
            let (f, r) = self.both(&args);
            let (f, r) = match mode {
                "unchecked" => continue,
                "pairs" => (sort_reply(&f, true), sort_reply(&r, true)),
                "unordered" => (sort_reply(&f, false), sort_reply(&r, false)),
                _ => (f, r),
            };
            assert_same(
                &format!("{} (script line {}: {line})", show_command(&args), i + 1),
                &f,
                &r,
            );
        }
    }
}

impl Default for Diff {
    fn default() -> Self {
        Self::new()
    }
}

/// Fails the test when two replies differ, showing both escaped and where they first differ.
pub fn assert_same(what: &str, ferrodis: &[u8], redis: &[u8]) {
    if ferrodis == redis {
        return;
    }
    let at = ferrodis
        .iter()
        .zip(redis)
        .position(|(a, b)| a != b)
        .unwrap_or(ferrodis.len().min(redis.len()));
    panic!(
        "differential mismatch for {what}\n  ferrodis: {}\n  redis:    {}\n  first difference at byte {at}",
        escape_trunc(ferrodis, 4000),
        escape_trunc(redis, 4000)
    );
}

/// Splits a line into arguments the way redis-cli does (`sdssplitargs` semantics): whitespace
/// separates, double quotes take `\n \r \t \b \a \xHH` and `\<c>` escapes, single quotes take
/// only `\'`, and a closing quote must be followed by whitespace or the end of the line.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let s = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= s.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            match quote {
                Some(b'"') => {
                    let Some(&c) = s.get(i) else {
                        return Err("unbalanced double quotes".into());
                    };
                    if c == b'\\' && i + 1 < s.len() {
                        let e = s[i + 1];
                        if e == b'x' && i + 3 < s.len() {
                            if let (Some(h), Some(l)) = (hex(s[i + 2]), hex(s[i + 3])) {
                                cur.push(h * 16 + l);
                                i += 4;
                                continue;
                            }
                        }
                        cur.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                    } else if c == b'"' {
                        if s.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return Err("closing quote must be followed by a space".into());
                        }
                        i += 1;
                        break;
                    } else {
                        cur.push(c);
                        i += 1;
                    }
                }
                Some(_) => {
                    let Some(&c) = s.get(i) else {
                        return Err("unbalanced single quotes".into());
                    };
                    if c == b'\\' && s.get(i + 1) == Some(&b'\'') {
                        cur.push(b'\'');
                        i += 2;
                    } else if c == b'\'' {
                        if s.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return Err("closing quote must be followed by a space".into());
                        }
                        i += 1;
                        break;
                    } else {
                        cur.push(c);
                        i += 1;
                    }
                }
                None => match s.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(&q @ (b'"' | b'\'')) => {
                        quote = Some(q);
                        i += 1;
                    }
                    Some(&c) => {
                        cur.push(c);
                        i += 1;
                    }
                },
            }
        }
        args.push(cur);
    }
}
