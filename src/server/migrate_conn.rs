//! MIGRATE's connections to other servers (cluster.c's migrateGetSocket and its socket
//! cache), as an outbound connection kind of the event loop.
//!
//! ```text
//!   MIGRATE handler (commands/migrate.rs)               the event loop (net.rs)
//!     builds AUTH? + RESTORE(-ASKING) x n ──submit──►  Conns: one Conn per "host:port"
//!     parks its client                                   (the arguments as typed, at most
//!                                                        64, closed after 10 s unused)
//!                                                      Conn: connect (non-blocking, within
//!                                                        the timeout), then one Job at a time:
//!                                                        write [AUTH][SELECT]RESTORE..., read
//!                                                        one line per command sent, each step
//!                                                        within the timeout
//!     re-run with the Outcome  ◄──── `done` ────────── Outcome: the lines read, or where it
//!     (deletes, replies, DEL)                            failed (connect / write / read, timed
//!                                                        out or not)
//! ```
//!
//! Redis does all of this with blocking socket calls inside the command; here the client is
//! parked instead and every other client keeps being served. A Job's SELECT is decided when
//! it starts, from the db the connection last selected successfully (`last_dbid`), as Redis
//! decides it. Any failure closes the connection (Redis closes the cached socket on every
//! socket error); an error line from the target makes the next Job SELECT again. Jobs for a
//! connection already busy wait their turn in order; a closed connection hands its waiting
//! Jobs to a new one.
//!
//! Inside MULTI/EXEC and scripts a client cannot be parked: [`run_sync`] drives the same
//! state machine with poll(2) on the one socket until the Job ends, as Redis would block.

use super::Server;
use mio::net::TcpStream;
use mio::{Interest, Token};
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// MIGRATE_SOCKET_CACHE_ITEMS: most cached connections.
pub const CACHE_ITEMS: usize = 64;
/// MIGRATE_SOCKET_CACHE_TTL: seconds a connection may stay unused.
pub const CACHE_TTL_S: i64 = 10;
/// Redis writes the payload in chunks of this size (each within the timeout).
const WRITE_CHUNK: usize = 64 * 1024;
/// Redis reads each reply line into a buffer of this size (the line is cut there).
const LINE_MAX: usize = 1023;

/// What a MIGRATE asks of a connection.
pub struct Job {
    /// The parked client: its slot and id (a slot may be reused once it is gone).
    pub client: usize,
    pub client_id: u64,
    /// `AUTH [user] pass` encoded, if the MIGRATE gave AUTH or AUTH2.
    pub auth: Option<Rc<[u8]>>,
    /// The destination db.
    pub dbid: i64,
    /// The RESTORE commands, encoded.
    pub body: Rc<[u8]>,
    /// How many RESTORE commands `body` holds.
    pub nkeys: usize,
    /// Milliseconds each step (connect, a write chunk, a reply line) may take.
    pub timeout_ms: i64,
}

/// Where a Job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection (refused, unreachable, timed out, bad address).
    Connect,
    /// Writing the commands.
    Write { timed_out: bool },
    /// Reading a reply line (after the lines in `Outcome::lines`).
    Read { timed_out: bool },
}

/// How a Job ended.
pub struct Outcome {
    /// An AUTH was sent first.
    pub auth_sent: bool,
    /// A SELECT was sent (after AUTH).
    pub select_sent: bool,
    /// Reply lines read, in order (without CRLF): AUTH's, SELECT's, then one per RESTORE.
    pub lines: Vec<Vec<u8>>,
    /// Set when not every line could be read.
    pub failure: Option<Failure>,
}

/// The Job a connection is serving, with its progress.
struct Active {
    job: Job,
    /// [AUTH][SELECT] prefix, then `job.body` from `body_sent`.
    head: Vec<u8>,
    head_sent: usize,
    body_sent: usize,
    select_sent: bool,
    /// Lines still expected.
    want: usize,
    lines: Vec<Vec<u8>>,
    inbuf: Vec<u8>,
    /// Unix ms by which the current step must progress.
    deadline_ms: i64,
    /// Bytes written since the current write step began (a step is a 64 KB chunk).
    chunk_written: usize,
}

/// One cached connection (migrateCachedSocket).
pub struct Conn {
    stream: TcpStream,
    /// "host:port" as the MIGRATE arguments spelled it: the cache key.
    name: Vec<u8>,
    /// The db the last successful Job selected; -1 forces a SELECT.
    last_dbid: i64,
    /// Unix seconds of the last use.
    last_use_s: i64,
    /// The connect has not finished yet; it must by `connect_deadline_ms`.
    connecting: bool,
    connect_deadline_ms: i64,
    writable_registered: bool,
    active: Option<Active>,
    queue: VecDeque<Job>,
}

/// Every MIGRATE connection, with the Jobs that finished and wait for their client.
#[derive(Default)]
pub struct Conns {
    conns: Slab<Conn>,
    by_name: HashMap<Vec<u8>, usize>,
    /// Finished Jobs: (client slot, client id, outcome), handed to
    /// `commands::migrate::resume` from `before_sleep`.
    pub done: Vec<(usize, u64, Outcome)>,
    /// Keys (db, key) of MIGRATEs in flight, with how many MIGRATEs hold each: commands on
    /// them wait (`commands::migrate::touches_busy_key`), since Redis's MIGRATE is atomic.
    pub busy_keys: HashMap<(usize, Vec<u8>), u32>,
    /// Clients postponed because their command touched a busy key.
    pub postponed: Vec<usize>,
    /// The parked MIGRATE being re-run hands its plan to the handler here.
    pub resuming: Option<Box<crate::commands::migrate::Plan>>,
    /// ... with the outcome of its exchange.
    pub outcome: Option<Outcome>,
}

impl Conns {
    /// Number of cached connections (INFO migrate_cached_sockets).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when no connection is cached.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The earliest deadline of a connect or a step in progress, for the poll timeout.
    pub fn next_deadline(&self) -> Option<i64> {
        self.conns
            .iter()
            .filter_map(|(_, c)| {
                if c.connecting {
                    Some(c.connect_deadline_ms)
                } else {
                    c.active.as_ref().map(|a| a.deadline_ms)
                }
            })
            .min()
    }
}

fn encode(out: &mut Vec<u8>, argv: &[&[u8]]) {
    crate::propagate::encode_command(out, argv);
}

/// The port MIGRATE connects to for its port argument: Redis takes atoi() of it, prints that
/// int with %d into a 6-byte buffer (so at most 5 characters survive) and lets getaddrinfo
/// parse that as a service. A negative number is no service (the connect fails); otherwise
/// the low 16 bits count: "90000" is 24464, "123456" is "12345".
pub fn port_of(arg: &[u8]) -> Option<u16> {
    let mut s = crate::util::num::atoi(arg).to_string();
    s.truncate(5);
    if s.starts_with('-') {
        return None;
    }
    s.parse::<u32>().ok().map(|n| n as u16)
}

/// Queues `job` on the connection for host:port, opening one when none is cached. Err when
/// the connection could not even be started (bad address, immediate refusal): MIGRATE then
/// answers at once.
pub fn submit(srv: &mut Server, host: &[u8], port: &[u8], job: Job) -> Result<(), Job> {
    let mut name = host.to_vec();
    name.push(b':');
    name.extend_from_slice(port);
    let now_s = crate::util::mstime() / 1000;
    let idx = match srv.migrate.by_name.get(&name) {
        Some(&i) => i,
        None => {
            if srv.migrate.conns.len() >= CACHE_ITEMS {
                // Too many: drop one at random among the idle ones (Redis's are all idle).
                let idle: Vec<usize> = srv
                    .migrate
                    .conns
                    .iter()
                    .filter(|(_, c)| c.active.is_none() && c.queue.is_empty())
                    .map(|(i, _)| i)
                    .collect();
                if !idle.is_empty() {
                    let pick = idle[crate::util::rand::index(idle.len())];
                    close(srv, pick);
                }
            }
            let Some(port) = port_of(port) else {
                return Err(job);
            };
            match open(srv, host, port, name, job.timeout_ms) {
                Ok(i) => i,
                Err(()) => return Err(job),
            }
        }
    };
    let conn = &mut srv.migrate.conns[idx];
    conn.last_use_s = now_s;
    conn.queue.push_back(job);
    if conn.active.is_none() {
        start_next(srv, idx);
        // The loop writes it when the socket says it can.
        update_interest(srv, idx);
    }
    Ok(())
}

/// Starts a non-blocking connect (anetTcpGenericConnect + connBlockingConnect's wait, the
/// wait being the loop's).
fn open(
    srv: &mut Server,
    host: &[u8],
    port: u16,
    name: Vec<u8>,
    timeout: i64,
) -> Result<usize, ()> {
    use std::net::ToSocketAddrs;
    let host = std::str::from_utf8(host).map_err(|_| ())?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|_| ())?
        .next()
        .ok_or(())?;
    let mut stream = TcpStream::connect(addr).map_err(|_| ())?;
    let _ = stream.set_nodelay(true);
    let reg = srv.registry.as_ref();
    let entry = srv.migrate.conns.vacant_entry();
    let idx = entry.key();
    if let Some(reg) = reg {
        reg.register(
            &mut stream,
            Token(super::net::MIGRATE_BASE + idx),
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|_| ())?;
    }
    let now = crate::util::mstime();
    entry.insert(Conn {
        stream,
        name: name.clone(),
        last_dbid: -1,
        last_use_s: now / 1000,
        connecting: true,
        connect_deadline_ms: now.saturating_add(timeout),
        writable_registered: true,
        active: None,
        queue: VecDeque::new(),
    });
    srv.migrate.by_name.insert(name, idx);
    Ok(idx)
}

/// Starts the connection's next Job: the [AUTH][SELECT] prefix is decided now.
fn start_next(srv: &mut Server, idx: usize) {
    let conn = &mut srv.migrate.conns[idx];
    let Some(job) = conn.queue.pop_front() else {
        return;
    };
    let mut head = Vec::new();
    if let Some(a) = &job.auth {
        head.extend_from_slice(a);
    }
    let select = conn.last_dbid != job.dbid;
    if select {
        encode(&mut head, &[b"SELECT", job.dbid.to_string().as_bytes()]);
    }
    let want = job.auth.is_some() as usize + select as usize + job.nkeys;
    conn.active = Some(Active {
        deadline_ms: crate::util::mstime().saturating_add(job.timeout_ms),
        job,
        head,
        head_sent: 0,
        body_sent: 0,
        select_sent: select,
        want,
        lines: Vec::new(),
        inbuf: Vec::new(),
        chunk_written: 0,
    });
}

/// What a pass over a connection's socket found.
enum Step {
    /// Nothing more can happen until the next event.
    Wait,
    /// The active Job ended (the connection stays usable).
    Finished,
    /// The connection failed; the active Job (if any) ends with this failure.
    Failed(Failure),
}

/// Moves connection `idx` as far as its socket allows: the end of the connect, writes,
/// reads; then its deadline.
fn advance(conn: &mut Conn, now: i64) -> Step {
    if conn.connecting {
        match conn.stream.take_error() {
            Ok(None) if conn.stream.peer_addr().is_ok() => conn.connecting = false,
            Ok(None) => {
                if now >= conn.connect_deadline_ms {
                    return Step::Failed(Failure::Connect);
                }
                return Step::Wait;
            }
            // Redis's blocking connect only waits for the socket to turn writable and never
            // reads SO_ERROR: a refused connect counts as made, and the first write fails.
            _ => return Step::Failed(Failure::Write { timed_out: false }),
        }
        if let Some(a) = conn.active.as_mut() {
            // The first step's time starts when the connection is up.
            a.deadline_ms = now.saturating_add(a.job.timeout_ms);
        }
    }
    let Some(a) = conn.active.as_mut() else {
        // Idle: a close by the peer (or unexpected bytes) is noticed when the next Job
        // fails, as Redis notices it.
        return Step::Wait;
    };
    // Write.
    loop {
        let (buf, in_head) = if a.head_sent < a.head.len() {
            (&a.head[a.head_sent..], true)
        } else if a.body_sent < a.job.body.len() {
            (&a.job.body[a.body_sent..], false)
        } else {
            break;
        };
        let n = buf.len().min(WRITE_CHUNK - a.chunk_written);
        match conn.stream.write(&buf[..n]) {
            Ok(0) => return Step::Failed(Failure::Write { timed_out: false }),
            Ok(n) => {
                if in_head {
                    a.head_sent += n;
                } else {
                    a.body_sent += n;
                }
                a.chunk_written += n;
                if a.chunk_written >= WRITE_CHUNK {
                    a.chunk_written = 0;
                    a.deadline_ms = now.saturating_add(a.job.timeout_ms);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Step::Failed(Failure::Write { timed_out: false }),
        }
    }
    let written = a.head_sent == a.head.len() && a.body_sent == a.job.body.len();
    if written && a.chunk_written > 0 {
        // The last chunk is out: reading starts its own step.
        a.chunk_written = 0;
        a.deadline_ms = now.saturating_add(a.job.timeout_ms);
    }
    // Read (replies may come while we still write).
    let mut eof = false;
    let mut buf = [0u8; 4096];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => a.inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                eof = true;
                break;
            }
        }
        // A peer that floods us without newlines is cut off: no line is longer than that.
        if a.inbuf.len() > 1 << 20 && !a.inbuf.contains(&b'\n') {
            eof = true;
            break;
        }
    }
    if take_lines(&mut a.inbuf, a.want, &mut a.lines) > 0 {
        a.deadline_ms = now.saturating_add(a.job.timeout_ms);
    }
    if a.lines.len() == a.want {
        return Step::Finished;
    }
    if eof {
        return Step::Failed(if written {
            Failure::Read { timed_out: false }
        } else {
            Failure::Write { timed_out: false }
        });
    }
    if now >= a.deadline_ms {
        return Step::Failed(if written {
            Failure::Read { timed_out: true }
        } else {
            Failure::Write { timed_out: true }
        });
    }
    Step::Wait
}

/// Moves complete lines from the front of `inbuf` (what the target sent) to `lines`, until
/// `lines` holds `want`, as syncReadLine reads them: up to the newline, one trailing CR
/// dropped, cut at 1023 bytes. Returns how many it moved; bytes after the last one stay.
/// The target is not trusted: any bytes are fine.
pub fn take_lines(inbuf: &mut Vec<u8>, want: usize, lines: &mut Vec<Vec<u8>>) -> usize {
    let mut start = 0;
    let mut moved = 0;
    while lines.len() < want {
        let Some(nl) = inbuf[start..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let mut line = &inbuf[start..start + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        lines.push(line[..line.len().min(LINE_MAX)].to_vec());
        start += nl + 1;
        moved += 1;
    }
    inbuf.drain(..start);
    moved
}

/// The Outcome of a connection's active Job, which ended with `failure` (None: complete).
fn outcome(a: Active, failure: Option<Failure>) -> (Job, Outcome) {
    let o = Outcome {
        auth_sent: a.job.auth.is_some(),
        select_sent: a.select_sent,
        lines: a.lines,
        failure,
    };
    (a.job, o)
}

/// Serves an event of connection `idx` (and its deadline): finished Jobs go to `done`.
pub fn event(srv: &mut Server, idx: usize) {
    let now = crate::util::mstime();
    loop {
        let Some(conn) = srv.migrate.conns.get_mut(idx) else {
            return;
        };
        match advance(conn, now) {
            Step::Wait => {
                update_interest(srv, idx);
                return;
            }
            Step::Finished => {
                let conn = &mut srv.migrate.conns[idx];
                let a = conn.active.take().expect("a finished Job");
                let target_error = a.lines.iter().any(|l| l.first() == Some(&b'-'));
                conn.last_dbid = if target_error { -1 } else { a.job.dbid };
                conn.last_use_s = now / 1000;
                let (job, o) = outcome(a, None);
                srv.migrate.done.push((job.client, job.client_id, o));
                if srv.migrate.conns[idx].queue.is_empty() {
                    update_interest(srv, idx);
                    return;
                }
                start_next(srv, idx);
            }
            Step::Failed(f) => {
                fail(srv, idx, f);
                return;
            }
        }
    }
}

/// Ends connection `idx` after a failure: its active Job gets `f`, its waiting Jobs go to a
/// new connection (or fail to connect).
fn fail(srv: &mut Server, idx: usize, f: Failure) {
    let (active, queue, name) = close(srv, idx);
    if let Some(a) = active {
        let (job, o) = outcome(a, Some(f));
        srv.migrate.done.push((job.client, job.client_id, o));
    } else if f == Failure::Connect {
        // Nothing was active: the first waiting Job is the one that wanted the connect.
        let mut queue = queue;
        if let Some(job) = queue.pop_front() {
            connect_failed(srv, job);
        }
        requeue(srv, &name, queue);
        return;
    }
    requeue(srv, &name, queue);
}

fn connect_failed(srv: &mut Server, job: Job) {
    let o = Outcome {
        auth_sent: false,
        select_sent: false,
        lines: Vec::new(),
        failure: Some(Failure::Connect),
    };
    srv.migrate.done.push((job.client, job.client_id, o));
}

/// Hands Jobs that waited on a closed connection to a new one for the same name.
fn requeue(srv: &mut Server, name: &[u8], queue: VecDeque<Job>) {
    if queue.is_empty() {
        return;
    }
    let cut = name.iter().rposition(|&b| b == b':').unwrap_or(name.len());
    let (host, port) = (&name[..cut], &name[(cut + 1).min(name.len())..]);
    for job in queue {
        if let Err(job) = submit(srv, host, port, job) {
            connect_failed(srv, job);
        }
    }
}

/// Closes connection `idx` (migrateCloseSocket), returning what it was doing.
fn close(srv: &mut Server, idx: usize) -> (Option<Active>, VecDeque<Job>, Vec<u8>) {
    let mut conn = srv.migrate.conns.remove(idx);
    if let Some(reg) = srv.registry.as_ref() {
        let _ = reg.deregister(&mut conn.stream);
    }
    srv.migrate.by_name.remove(&conn.name);
    (conn.active, std::mem::take(&mut conn.queue), conn.name)
}

/// Registers WRITABLE only while there is something to write (or the connect is pending).
fn update_interest(srv: &mut Server, idx: usize) {
    let Some(conn) = srv.migrate.conns.get_mut(idx) else {
        return;
    };
    let want = conn.connecting
        || conn
            .active
            .as_ref()
            .is_some_and(|a| a.head_sent < a.head.len() || a.body_sent < a.job.body.len());
    if want == conn.writable_registered {
        return;
    }
    let interest = if want {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    if let Some(reg) = srv.registry.as_ref() {
        let _ = reg.reregister(
            &mut conn.stream,
            Token(super::net::MIGRATE_BASE + idx),
            interest,
        );
    }
    conn.writable_registered = want;
}

/// Fails the connects and steps whose deadline passed.
pub fn handle_timeouts(srv: &mut Server, now: i64) {
    let late: Vec<usize> = srv
        .migrate
        .conns
        .iter()
        .filter(|(_, c)| {
            (c.connecting && now >= c.connect_deadline_ms)
                || c.active.as_ref().is_some_and(|a| now >= a.deadline_ms)
        })
        .map(|(i, _)| i)
        .collect();
    for idx in late {
        // A last look at the socket first: the reply may be there.
        event(srv, idx);
    }
}

/// serverCron's migrateCloseTimedoutSockets: idle connections unused for more than 10 s.
pub fn close_idle(srv: &mut Server, now_s: i64) {
    let old: Vec<usize> = srv
        .migrate
        .conns
        .iter()
        .filter(|(_, c)| {
            c.active.is_none()
                && c.queue.is_empty()
                && !c.connecting
                && now_s - c.last_use_s > CACHE_TTL_S
        })
        .map(|(i, _)| i)
        .collect();
    for idx in old {
        close(srv, idx);
    }
}

/// Runs `job` to its end right now, blocking on its socket (MIGRATE inside MULTI/EXEC or a
/// script, where Redis blocks too and the client cannot be parked). Returns the outcome;
/// nothing goes to `done`.
pub fn run_sync(srv: &mut Server, host: &[u8], port: &[u8], job: Job) -> Outcome {
    let (client, id) = (job.client, job.client_id);
    if submit(srv, host, port, job).is_err() {
        return Outcome {
            auth_sent: false,
            select_sent: false,
            lines: Vec::new(),
            failure: Some(Failure::Connect),
        };
    }
    let mut name = host.to_vec();
    name.push(b':');
    name.extend_from_slice(port);
    loop {
        if let Some(i) = srv
            .migrate
            .done
            .iter()
            .position(|(c, cid, _)| *c == client && *cid == id)
        {
            return srv.migrate.done.remove(i).2;
        }
        let Some(&idx) = srv.migrate.by_name.get(&name) else {
            // Closed without reporting: cannot happen, but never spin.
            return Outcome {
                auth_sent: false,
                select_sent: false,
                lines: Vec::new(),
                failure: Some(Failure::Connect),
            };
        };
        let conn = &srv.migrate.conns[idx];
        let deadline = if conn.connecting {
            conn.connect_deadline_ms
        } else {
            conn.active.as_ref().map_or(0, |a| a.deadline_ms)
        };
        let wait = (deadline - crate::util::mstime()).clamp(0, 1000) as i32;
        let writing = conn.connecting
            || conn
                .active
                .as_ref()
                .is_some_and(|a| a.head_sent < a.head.len() || a.body_sent < a.job.body.len());
        let mut pfd = libc::pollfd {
            fd: conn.stream.as_raw_fd(),
            events: libc::POLLIN | if writing { libc::POLLOUT } else { 0 },
            revents: 0,
        };
        // SAFETY: poll on one descriptor we own, with a valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, wait) };
        event(srv, idx);
    }
}

#[cfg(test)]
mod tests {
    use super::{port_of, take_lines};

    #[test]
    fn lines_as_sync_read_line() {
        let mut buf = b"+OK\r\n-ERR x\nrest".to_vec();
        let mut lines = Vec::new();
        assert_eq!(take_lines(&mut buf, 5, &mut lines), 2);
        assert_eq!(lines, [b"+OK".to_vec(), b"-ERR x".to_vec()]);
        assert_eq!(buf, b"rest");
        let mut buf = [vec![b'-'; 5000], b"\r\n+OK\r\n".to_vec()].concat();
        let mut lines = Vec::new();
        assert_eq!(take_lines(&mut buf, 1, &mut lines), 1);
        assert_eq!(lines[0].len(), 1023);
        assert_eq!(buf, b"+OK\r\n");
    }

    /// atoi, %d into six bytes (five digits kept), getaddrinfo's 16 bits; negative: no port.
    #[test]
    fn port_as_redis_reaches_it() {
        assert_eq!(port_of(b"6379"), Some(6379));
        assert_eq!(port_of(b"6379abc"), Some(6379));
        assert_eq!(port_of(b" 12"), Some(12));
        assert_eq!(port_of(b""), Some(0));
        assert_eq!(port_of(b"abc"), Some(0));
        assert_eq!(port_of(b"71915"), Some(6379));
        assert_eq!(port_of(b"637901"), Some(63790));
        assert_eq!(port_of(b"-1"), None);
        assert_eq!(port_of(b"9223372036854775807"), None);
        assert_eq!(port_of(b"-9223372036854775808"), Some(0));
        assert_eq!(port_of(b"18446744073709551616"), None);
    }
}
