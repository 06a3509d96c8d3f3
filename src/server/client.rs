//! A connected client: its socket, query buffer, parser state, reply buffer and session state
//! (selected db, protocol, name, flags), as networking.c's `client`.

use crate::protocol::parser::{Argv, RequestParser};
use crate::protocol::reply::Reply;
use mio::net::{TcpStream, UnixStream};
use std::io::{self, Read, Write};

/// A new client's reply buffer size (PROTO_REPLY_CHUNK_BYTES), and the most it grows to.
pub const REPLY_CHUNK_BYTES: usize = 16 * 1024;
/// The least a reply buffer shrinks to (PROTO_REPLY_MIN_BYTES).
pub const REPLY_MIN_BYTES: usize = 1024;

/// The socket behind a client.
pub enum Sock {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain connection (`unixsocket`).
    Unix(UnixStream),
    /// A TLS connection accepted on `tls-port` (server/tls.rs).
    Tls(Box<crate::server::tls::TlsStream>),
    /// No socket: a client driven from inside the process (the `commands` fuzz target), built
    /// by `Server::add_detached_client`. The event loop never registers it; reads see end of
    /// file, and writes append to the vector, which the driver reads and clears.
    Detached(Vec<u8>),
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
            // The event loop reads TLS clients through `TlsStream::read_into`.
            Sock::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
            Sock::Detached(_) => Ok(0),
        }
    }
}

impl Sock {
    /// The socket to register with the poller (None for a detached client).
    pub fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        match self {
            Sock::Tcp(s) => Some(s),
            Sock::Unix(s) => Some(s),
            Sock::Tls(t) => Some(&mut t.tcp),
            Sock::Detached(_) => None,
        }
    }

    /// Sends the TLS records waiting for the socket; Ok(true) when some still wait (the
    /// client must stay registered WRITABLE). Always Ok(false) for a plain socket.
    pub fn flush_records(&mut self) -> io::Result<bool> {
        match self {
            Sock::Tls(t) => t.flush_records(),
            _ => Ok(false),
        }
    }

    /// The TCP socket under a TCP or TLS connection.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Sock::Tcp(s) => Some(s),
            Sock::Tls(t) => Some(&t.tcp),
            _ => None,
        }
    }

    /// The peer's and our own IP of a TCP or TLS connection (empty when unknown).
    pub fn ips(&self) -> (String, String) {
        let Some(s) = self.tcp() else {
            return (String::new(), String::new());
        };
        let peer = s.peer_addr().map(|a| a.ip().to_string());
        let local = s.local_addr().map(|a| a.ip().to_string());
        (peer.unwrap_or_default(), local.unwrap_or_default())
    }

    /// True when TLS records wait to be sent.
    pub fn has_backlog(&self) -> bool {
        matches!(self, Sock::Tls(t) if t.has_backlog())
    }

    /// The outcome of a non-blocking connect, once the socket is writable: Ok when
    /// connected, else the error (SO_ERROR, or not connected).
    pub fn connect_result(&self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => {
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                s.peer_addr().map(|_| ())
            }
            Sock::Tls(t) => {
                if let Some(e) = t.tcp.take_error()? {
                    return Err(e);
                }
                t.tcp.peer_addr().map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
            Sock::Tls(t) => t.write(buf),
            Sock::Detached(sink) => {
                sink.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl crate::server::Server {
    /// Adds a client without a socket (`Sock::Detached`, fd -1) to the client table, as an
    /// accepted connection is added (a fresh id, authenticated unless a password is set), and
    /// returns its slot. For in-process drivers such as the `commands` fuzz target, which put
    /// requests in its query buffer and run them with `net::process_input`; handlers cannot
    /// tell it from a socket client.
    pub fn add_detached_client(&mut self) -> usize {
        let authenticated = self.new_client_authenticated();
        let entry = self.clients.vacant_entry();
        let idx = entry.key();
        let id = self.next_client_id;
        self.next_client_id += 1;
        let sock = Sock::Detached(Vec::new());
        let mut c = Client::new(id, idx, sock, String::new(), String::new(), -1);
        c.authenticated = authenticated;
        entry.insert(Some(Box::new(c)));
        self.index_client(id, idx);
        idx
    }
}

/// CLIENT REPLY modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// Replies are discarded until CLIENT REPLY ON.
    Off,
    /// The next command's reply is discarded (set by CLIENT REPLY SKIP, armed after it).
    SkipNext,
    /// This command's reply is discarded.
    Skip,
}

/// One connection and its session.
pub struct Client {
    /// CLIENT ID: unique, increasing.
    pub id: u64,
    /// The mio token (slab index).
    pub token: usize,
    /// The socket.
    pub sock: Sock,
    /// `ip:port` of the peer (or `/path:0` style for unix sockets, as Redis prints).
    pub addr: String,
    /// `ip:port` of our side.
    pub laddr: String,
    /// The socket's file descriptor (CLIENT LIST fd=).
    pub fd: i32,
    /// CLIENT SETNAME.
    pub name: Option<Vec<u8>>,
    /// The selected database.
    pub db: usize,
    /// Received bytes not yet consumed by the parser, from `qpos` on.
    pub qbuf: Vec<u8>,
    /// Start of unconsumed data in `qbuf`.
    pub qpos: usize,
    /// Resumable request parser.
    pub parser: RequestParser,
    /// The current command's arguments.
    pub argv: Argv,
    /// Pending replies.
    pub out: Reply,
    /// Close once the output is written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close before the loop sleeps, dropping any output (CLIENT KILL, limits).
    pub close_asap: bool,
    /// Queued in `Server::pending_writes`.
    pub pending_write: bool,
    /// WRITABLE interest is registered with the poller.
    pub writable_registered: bool,
    /// Passed AUTH (or no password is set).
    pub authenticated: bool,
    /// The ACL user (a slot of `Server::acl`), the default user until AUTH.
    pub user: usize,
    /// That user's name when it is not "default" (CLIENT LIST user=, ACL LOG).
    pub user_name: Option<Box<[u8]>>,
    /// CLIENT NO-EVICT on.
    pub no_evict: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Connection time, Unix ms.
    pub ctime_ms: i64,
    /// Last command or I/O, Unix ms (idle time, `timeout`).
    pub last_interaction_ms: i64,
    /// Full name of the last command run (CLIENT LIST cmd=).
    pub last_cmd: &'static str,
    /// Unix socket connection.
    pub is_unix: bool,
    /// In MONITOR mode.
    pub monitor: bool,
    /// When the output buffer first passed the soft limit (Unix ms), 0 if not over it.
    pub obuf_soft_limit_since_ms: i64,
    /// Peak of the query buffer since the last cron check (for shrinking it).
    pub qbuf_peak: usize,
    /// The reply buffer's size as Redis would have allocated it (CLIENT LIST rbs): Redis
    /// writes replies into a buffer of this size first and the rest into a list; serverCron
    /// resizes it from its peak (`cron::resize_reply_buffer`). Ours is one growable Vec, so
    /// this is the model's size, not its capacity.
    pub rbs: usize,
    /// Most of that buffer replies filled since the last peak reset (CLIENT LIST rbp).
    pub rbp: usize,
    /// When the peak was last reset, Unix ms. Redis starts it at the creation time in
    /// seconds, so the first cron check resets it; 0 does the same here.
    pub rbp_reset_ms: i64,
    /// Set while blocked on keys (BLPOP and friends).
    pub blocked: Option<Box<crate::server::blocked::BlockState>>,
    /// True while CLIENT PAUSE holds this client's next command (it is in
    /// `Server::paused_clients`, and counts in INFO blocked_clients).
    pub postponed: bool,
    /// True while a blocked command is being re-run for a ready key.
    pub reprocessing_blocked: bool,
    /// Set by a re-run command that still could not be served.
    pub still_blocked: bool,
    /// Pub/Sub subscriptions (crate::pubsub); None until the first one, so unsubscribed
    /// clients stay small.
    pub subs: Option<Box<crate::pubsub::ClientSubs>>,
    /// The transaction between MULTI and EXEC/DISCARD (crate::multi); Some is Redis's
    /// CLIENT_MULTI flag, and stays Some while EXEC runs the queued commands.
    pub multi: Option<Box<crate::multi::MultiState>>,
    /// CLIENT_DENY_BLOCKING: set while EXEC runs queued commands. Blocking commands must
    /// check it and answer at once as if they timed out instead of blocking.
    pub deny_blocking: bool,
    /// Set once this connection is a replica of ours (SYNC/PSYNC): CLIENT_SLAVE.
    pub replica: Option<Box<crate::replication::ReplicaState>>,
    /// What it announced with REPLCONF before becoming one.
    pub repl_announced: Option<Box<crate::replication::Announced>>,
    /// It attached with PSYNC (so it acknowledges: repl-timeout applies).
    pub replica_psync: bool,
    /// This is our link to our master (CLIENT_MASTER): its commands run unanswered.
    pub master_link: bool,
    /// ASKING was sent: the next command may use a slot we are importing (CLIENT_ASKING).
    pub cluster_asking: bool,
    /// READONLY: reads of our master's slots are served by this replica (CLIENT_READONLY).
    pub cluster_readonly: bool,
    /// The replication offset after this client's last command (c->woff), for WAIT.
    pub woff: i64,
    /// Client-side caching state while CLIENT TRACKING is on (crate::tracking).
    pub tracking: Option<Box<crate::tracking::ClientTracking>>,
}

impl Client {
    /// Queues this client for `before_sleep`'s write pass (prepareClientToWrite): once, and not
    /// while its socket would block (registered WRITABLE), since that event flushes it and a
    /// write now would only meet EAGAIN.
    pub fn queue_write(&mut self, pending_writes: &mut Vec<usize>) {
        if !self.pending_write && !self.writable_registered {
            self.pending_write = true;
            pending_writes.push(self.token);
        }
    }

    /// A fresh client for an accepted socket.
    pub fn new(id: u64, token: usize, sock: Sock, addr: String, laddr: String, fd: i32) -> Client {
        let now = crate::util::mstime();
        let is_unix = matches!(sock, Sock::Unix(_));
        Client {
            id,
            token,
            sock,
            addr,
            laddr,
            fd,
            name: None,
            db: 0,
            qbuf: Vec::new(),
            qpos: 0,
            parser: RequestParser::new(),
            argv: Argv::default(),
            out: Reply::default(),
            close_after_reply: false,
            close_asap: false,
            pending_write: false,
            writable_registered: false,
            authenticated: false,
            user: crate::acl::DEFAULT_USER,
            user_name: None,
            no_evict: false,
            reply_mode: ReplyMode::On,
            ctime_ms: now,
            last_interaction_ms: now,
            last_cmd: "NULL",
            is_unix,
            monitor: false,
            obuf_soft_limit_since_ms: 0,
            qbuf_peak: 0,
            rbs: REPLY_CHUNK_BYTES,
            rbp: REPLY_CHUNK_BYTES,
            rbp_reset_ms: 0,
            blocked: None,
            postponed: false,
            reprocessing_blocked: false,
            still_blocked: false,
            subs: None,
            multi: None,
            deny_blocking: false,
            replica: None,
            repl_announced: None,
            replica_psync: false,
            master_link: false,
            cluster_asking: false,
            cluster_readonly: false,
            woff: 0,
            tracking: None,
        }
    }

    /// Makes the client the user in `slot`, named `name`.
    pub fn set_user(&mut self, slot: usize, name: &[u8]) {
        self.user = slot;
        self.user_name = (name != b"default").then(|| name.into());
    }

    /// RESP protocol version (2 or 3).
    pub fn resp(&self) -> u8 {
        if self.out.resp3 {
            3
        } else {
            2
        }
    }

    /// CLIENT LIST / CLIENT INFO line for this client (without the trailing newline), as
    /// the log lines about a client print it.
    pub fn info_line(&self, now_ms: i64) -> String {
        crate::commands::connection::client_info_string(self, now_ms, None)
    }

    /// Memory this client holds in buffers (for INFO and client-output-buffer-limit).
    /// Records how much of the modelled reply buffer the pending replies fill (Redis
    /// updates its peak on every append; the fill only grows until the replies are written,
    /// so sampling it before each write sees the same maximum).
    #[inline]
    pub fn note_reply_peak(&mut self) {
        self.rbp = self.rbp.max(self.out.buf.len().min(self.rbs));
    }

    pub fn mem_usage(&self) -> usize {
        std::mem::size_of::<Client>() + self.qbuf.capacity() + self.out.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{net, Server};

    /// A detached client runs commands through the socket path, and what it is sent collects
    /// in its sink when the loop writes replies.
    #[test]
    fn detached_client_runs_commands() {
        let mut srv = Server::new(crate::config::Config::default());
        let slot = srv.add_detached_client();
        let other = srv.add_detached_client();
        assert_ne!(slot, other);
        let mut c = srv.clients[slot].take().unwrap();
        // The first id is 3: Redis's two Lua clients take 1 and 2 at start-up.
        assert_eq!((c.id, c.fd, c.authenticated), (3, -1, true));
        c.qbuf.extend_from_slice(
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        );
        net::process_input(&mut srv, &mut c);
        srv.schedule_write(&mut c);
        srv.clients[slot] = Some(c);
        net::before_sleep(&mut srv);
        let c = srv.clients[slot].as_mut().unwrap();
        assert!(matches!(&c.sock, Sock::Detached(out) if out == b"+OK\r\n$1\r\nv\r\n"));
        assert_eq!(c.out.pending(), 0);
        net::close_client_now(&mut srv, other);
        assert_eq!(srv.connected_clients(), 1);
    }
}
