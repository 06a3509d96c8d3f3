//! The event loop (ae.c on mio) and client I/O (networking.c).
//!
//! One thread. Listeners and clients are registered with one `mio::Poll`; a client's token is
//! its slab index plus `FIRST_CLIENT`. Each wake-up: accept, read and execute every complete
//! command of each readable client, then `before_sleep` writes pending replies (registering
//! WRITABLE only for sockets that would block), closes clients marked for closing and runs the
//! fast expire cycle. serverCron runs `hz` times a second from the poll timeout.

use super::busypoll::BusyPoll;
use super::client::{Client, Sock};
use super::{cron, Server};
use crate::config::Config;
use crate::protocol::parser::{Limits, Parse};
use crate::{log_notice, log_verbose, log_warning};
use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Tokens below this are listeners (up to 16 bind addresses and the unix socket) and the
/// diskless sync pipe.
const FIRST_CLIENT: usize = 32;
/// The token of the pipe a diskless sync's child streams the snapshot through.
const RDB_PIPE_TOKEN: usize = FIRST_CLIENT - 1;
/// Tokens from this one up are cluster bus links (token - LINK_BASE is the link's slot in
/// `Cluster::links`); clients sit between FIRST_CLIENT and this.
const LINK_BASE: usize = 1 << 40;
/// Tokens from this one up to LINK_BASE are MIGRATE's connections (token - MIGRATE_BASE is
/// the connection's slot in `migrate_conn::Conns`).
pub const MIGRATE_BASE: usize = 1 << 39;
/// Bytes read per read call (PROTO_IOBUF_LEN).
const IOBUF_LEN: usize = 16 * 1024;
/// A query buffer with this much consumed prefix is compacted.
const COMPACT_AT: usize = 64 * 1024;

/// The signal that asked for shutdown (0: none).
static SHUTDOWN_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The pending signal was already logged (by a busy script's event pass).
static SHUTDOWN_SIGNAL_LOGGED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    SHUTDOWN_SIGNAL.store(sig, Ordering::SeqCst);
}

/// Logs "Received SIG... scheduling shutdown..." for a pending signal, once. Redis logs it
/// from its signal handler, so it appears at once even while a script is busy; the shutdown
/// itself waits for the loop (after the script ends), as in Redis.
fn log_shutdown_signal(sig: libc::c_int) {
    if sig == 0 || SHUTDOWN_SIGNAL_LOGGED.swap(true, Ordering::SeqCst) {
        return;
    }
    let name = if sig == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    log_warning!("Received {} scheduling shutdown...", name);
}

/// What a listener token stands for.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
    /// `tls-port`: accepted connections speak TLS.
    Tls(TcpListener),
    /// The cluster bus port: accepted connections are inbound bus links.
    Bus(TcpListener),
}

/// The listening sockets, kept in `Server` so that CONFIG SET port/bind can replace the TCP
/// ones while serving. A slot's index is its poll token (below `FIRST_CLIENT`); a closed
/// listener leaves an empty slot, so an event still queued for it finds nothing to accept.
#[derive(Default)]
pub struct Listeners {
    slots: Vec<Option<Listener>>,
    /// The TLS context new connections on `tls-port` get (built while `tls-port` is set;
    /// CONFIG SET of a certificate replaces it, and connections keep the one they began with).
    pub tls: Option<super::tls::TlsContext>,
    /// The context of inbound cluster bus links with `tls-cluster` (client certificates
    /// required); built at the first accept, dropped when the TLS parameters change.
    pub tls_bus: Option<super::tls::TlsContext>,
    /// The context of the links we open (master link, bus links); built at the first
    /// connect, dropped when the TLS parameters change.
    pub tls_client: Option<super::tls::TlsClientContext>,
}

impl Listeners {
    /// Registers `l` for accepts under the first free token.
    fn add(&mut self, reg: &mio::Registry, mut l: Listener) -> io::Result<()> {
        let i = self.slots.iter().position(Option::is_none);
        let i = i.unwrap_or(self.slots.len());
        if i >= RDB_PIPE_TOKEN {
            return Err(io::Error::other("too many listening sockets"));
        }
        match &mut l {
            Listener::Tcp(t) | Listener::Tls(t) | Listener::Bus(t) => {
                reg.register(t, Token(i), Interest::READABLE)?
            }
            Listener::Unix(u) => reg.register(u, Token(i), Interest::READABLE)?,
        }
        if i == self.slots.len() {
            self.slots.push(Some(l));
        } else {
            self.slots[i] = Some(l);
        }
        Ok(())
    }

    /// Closes every TCP listener (closeSocketListeners).
    fn close_tcp(&mut self, reg: &mio::Registry) {
        for slot in &mut self.slots {
            if let Some(Listener::Tcp(t)) = slot {
                let _ = reg.deregister(t);
                *slot = None;
            }
        }
    }

    /// Closes every TLS listener.
    fn close_tls(&mut self, reg: &mio::Registry) {
        for slot in &mut self.slots {
            if let Some(Listener::Tls(t)) = slot {
                let _ = reg.deregister(t);
                *slot = None;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

thread_local! {
    /// The running loop's poller, for serving clients while a busy script runs
    /// ([`process_events_while_blocked`]); null outside `EventLoop::run`.
    static LOOP_POLL: std::cell::Cell<*mut Poll> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Serves other clients while a long command runs (processEventsWhileBlocked): called from
/// a busy script's hook. Reads and runs what clients sent (process_command answers them
/// -BUSY unless the command may run now, as SCRIPT KILL) and writes replies. An event this
/// pass cannot handle (the script's own caller, whose slot is empty while it runs) is kept in `Server::deferred_events` for the loop to handle after the script.
pub fn process_events_while_blocked(srv: &mut Server) {
    let p = LOOP_POLL.with(|p| p.get());
    if p.is_null() {
        return;
    }
    // SAFETY: set by EventLoop::run to its own poller for the duration of the loop; the
    // loop is suspended inside this call (the script runs inside one of its events), and
    // nothing else touches the poller meanwhile.
    let poll = unsafe { &mut *p };
    // A SIGTERM/SIGINT now is logged now; the loop shuts down once the script is over.
    log_shutdown_signal(SHUTDOWN_SIGNAL.load(Ordering::SeqCst));
    if !srv.scripting.served_while_busy {
        // The first pass: the loop's current batch of events may hold some for clients it
        // has not reached yet, which epoll will not report again. Read every client once.
        srv.scripting.served_while_busy = true;
        let idxs: Vec<usize> = srv
            .clients
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| i)
            .collect();
        for idx in idxs {
            if matches!(&srv.clients[idx], Some(c) if !matches!(c.sock, Sock::Detached(_))) {
                read_client(srv, idx, false);
            }
        }
    }
    let mut events = Events::with_capacity(128);
    for _ in 0..4 {
        if poll.poll(&mut events, Some(Duration::ZERO)).is_err() || events.is_empty() {
            break;
        }
        for ev in events.iter() {
            let t = ev.token().0;
            let idx = t.wrapping_sub(FIRST_CLIENT);
            if t == RDB_PIPE_TOKEN {
                rdb_pipe_readable(srv);
                continue;
            }
            if (MIGRATE_BASE..LINK_BASE).contains(&t) {
                // A MIGRATE's exchange ends by re-running its command: not inside a script.
                if !srv.deferred_events.contains(&t) {
                    srv.deferred_events.push(t);
                }
                continue;
            }
            if t >= LINK_BASE {
                let hup = ev.is_read_closed() || ev.is_error();
                cluster_link_event(
                    srv,
                    t - LINK_BASE,
                    ev.is_writable(),
                    ev.is_readable() || hup,
                );
                continue;
            }
            if t < FIRST_CLIENT {
                EventLoop::accept(srv, t);
                continue;
            }
            if !matches!(srv.clients.get(idx), Some(Some(_))) {
                if !srv.deferred_events.contains(&t) {
                    srv.deferred_events.push(t);
                }
                continue;
            }
            if ev.is_writable() {
                write_client(srv, idx);
            }
            let hup = ev.is_read_closed() || ev.is_error();
            if ev.is_readable() || hup {
                read_client(srv, idx, hup);
            }
        }
    }
    if srv.aof.is_some() {
        crate::persistence::aof::flush(srv, false);
    }
    write_pending(srv);
}

/// The poller and the server state (which holds the listeners).
pub struct EventLoop {
    poll: Poll,
    /// Shared server state.
    pub srv: Server,
}

/// Binds, then serves until shutdown. Returns the exit code.
pub fn run(config: Config) -> i32 {
    // SAFETY: installing plain async-signal-safe handlers that only store an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut el = match EventLoop::new(config) {
        Ok(el) => el,
        Err(e) => {
            log_warning!("{}", e);
            return 1;
        }
    };
    crate::util::clock::init();
    if el.srv.config.cluster_enabled {
        if let Err(e) =
            crate::cluster::init(&mut el.srv).and_then(|_| open_cluster_bus(&mut el.srv))
        {
            log_warning!("{}", e);
            return 1;
        }
    }
    if let Err(e) = crate::commands::acl::load_users_at_startup(&mut el.srv) {
        log_warning!("{}", e);
        return 1;
    }
    el.srv.stats.startup_memory = super::alloc::used_memory() as u64;
    log_notice!("Server initialized");
    if crate::persistence::load_data_from_disk(&mut el.srv).is_err() {
        return 1;
    }
    if let Err(e) = crate::cluster::verify_config_with_data(&mut el.srv) {
        log_warning!("{}", e);
        return 1;
    }
    if let Some((host, port)) = el.srv.config.replicaof.clone() {
        crate::replication::replica::set_master(&mut el.srv, host, port);
    }
    crate::replication::restore_from_rdb(&mut el.srv);
    log_notice!("Ready to accept connections tcp");
    el.run();
    if !el.srv.persist.shutdown_done {
        super::cron::prepare_for_shutdown(&mut el.srv, 0);
    }
    0
}

/// Opens a TCP listener on each bind address for `port` (listenToPort). An address marked
/// optional with a leading '-' that this host cannot use (no IPv6, say) is skipped. On
/// failure, the address and the error; what was opened is closed.
fn listen_to_port(
    bind: &[String],
    port: u16,
    backlog: i32,
) -> Result<Vec<TcpListener>, (String, io::Error)> {
    let mut out = Vec::new();
    for addr in bind {
        let (optional, a) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr.as_str()),
        };
        match listen_tcp(a, port, backlog) {
            Ok(l) => out.push(TcpListener::from_std(l)),
            Err(e) => {
                let unsupported = matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL)
                );
                if optional && unsupported {
                    continue;
                }
                return Err((a.to_string(), e));
            }
        }
    }
    Ok(out)
}

/// Replaces the TCP listeners with ones for the configured bind addresses and port, for
/// CONFIG SET port / bind (changeListenPort, changeBindAddr); true when that worked. The old
/// ones are closed first, since the new ones may need their addresses; port 0 leaves none.
/// On failure nothing listens on TCP: the caller restores the old configuration and calls
/// this again.
pub fn rebind_tcp(srv: &mut Server) -> bool {
    let Some(reg) = srv.registry.as_ref() else {
        return false;
    };
    srv.listeners.close_tcp(reg);
    let port = srv.config.port;
    if port == 0 {
        return true;
    }
    let opened = match listen_to_port(&srv.config.bind, port, srv.config.tcp_backlog as i32) {
        Ok(opened) => opened,
        Err((a, e)) => {
            log_warning!("Warning: Could not create server TCP listening socket {a}:{port}: {e}");
            return false;
        }
    };
    for l in opened {
        if let Err(e) = srv.listeners.add(reg, Listener::Tcp(l)) {
            log_warning!("Failed registering a listener: {}", e);
            srv.listeners.close_tcp(reg);
            return false;
        }
    }
    true
}

/// Rebuilds the TLS context from the `tls-*` parameters (applyTlsCfg), when TLS is in use
/// (`tls-port`, `tls-replication` or `tls-cluster`); on failure the old context stays.
pub fn reconfigure_tls(srv: &mut Server) -> Result<(), String> {
    let c = &srv.config;
    if c.other_int("tls-port") == 0
        && c.other_int("tls-replication") == 0
        && c.other_int("tls-cluster") == 0
    {
        return Ok(());
    }
    let ctx = super::tls::configure(&srv.config)
        .ok_or_else(|| "Unable to update TLS configuration. Check server logs.".to_string())?;
    srv.listeners.tls = Some(ctx);
    // The bus and client contexts are rebuilt from the new files when next needed.
    srv.listeners.tls_bus = None;
    srv.listeners.tls_client = None;
    Ok(())
}

/// The TLS client context of the links we open, built from the `tls-*` parameters once
/// and kept until they change. None (the reason logged) when they do not make one.
fn tls_client_context(srv: &mut Server) -> Option<super::tls::TlsClientContext> {
    if srv.listeners.tls_client.is_none() {
        srv.listeners.tls_client = super::tls::configure_client(&srv.config);
    }
    srv.listeners.tls_client.clone()
}

/// The TLS server context of inbound bus links (see `Listeners::tls_bus`).
fn tls_bus_context(srv: &mut Server) -> Option<super::tls::TlsContext> {
    if srv.listeners.tls_bus.is_none() {
        srv.listeners.tls_bus = super::tls::configure_bus(&srv.config);
    }
    srv.listeners.tls_bus.clone()
}

/// Replaces the TLS listeners for CONFIG SET tls-port (applyTLSPort): the context is built
/// first if there is none, then the listeners are reopened on the bind addresses (none for
/// port 0). On failure nothing listens on TLS; the caller restores the old port and calls
/// this again.
pub fn rebind_tls(srv: &mut Server) -> Result<(), String> {
    let Some(reg) = srv.registry.as_ref() else {
        return Err("no event loop".into());
    };
    srv.listeners.close_tls(reg);
    let port = srv.config.other_int("tls-port") as u16;
    if port == 0 {
        return Ok(());
    }
    if srv.listeners.tls.is_none() {
        let ctx = super::tls::configure(&srv.config)
            .ok_or_else(|| "Unable to update TLS configuration. Check server logs.".to_string())?;
        srv.listeners.tls = Some(ctx);
    }
    let why = "Unable to listen on this port. Check server logs.".to_string();
    let opened = match listen_to_port(&srv.config.bind, port, srv.config.tcp_backlog as i32) {
        Ok(opened) => opened,
        Err((a, e)) => {
            log_warning!("Warning: Could not create server TLS listening socket {a}:{port}: {e}");
            return Err(why);
        }
    };
    for l in opened {
        if let Err(e) = srv.listeners.add(reg, Listener::Tls(l)) {
            log_warning!("Failed registering a listener: {}", e);
            srv.listeners.close_tls(reg);
            return Err(why);
        }
    }
    Ok(())
}

/// Opens a listening TCP socket the way Redis does: SO_REUSEADDR, IPV6_V6ONLY for IPv6 so
/// `* -::*` can bind both families on one port, and the configured backlog.
fn listen_tcp(addr: &str, port: u16, backlog: i32) -> io::Result<std::net::TcpListener> {
    let ip: std::net::IpAddr = match addr {
        "*" => std::net::Ipv4Addr::UNSPECIFIED.into(),
        "::*" => std::net::Ipv6Addr::UNSPECIFIED.into(),
        a => a
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Invalid bind address"))?,
    };
    let sa = std::net::SocketAddr::new(ip, port);
    let family = if sa.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket syscalls on a descriptor we own; errors are checked.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = std::net::TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let optlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let onep = &one as *const _ as *const libc::c_void;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, onep, optlen);
        if family == libc::AF_INET6 {
            libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, onep, optlen);
        }
        let (storage, len) = sockaddr_of(&sa);
        if libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::listen(fd, backlog) < 0 {
            return Err(io::Error::last_os_error());
        }
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}

fn sockaddr_of(sa: &std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; we fill the family-specific prefix.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        match sa {
            std::net::SocketAddr::V4(a) => {
                let sin = &mut storage as *mut _ as *mut libc::sockaddr_in;
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_port = a.port().to_be();
                (*sin).sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                (storage, std::mem::size_of::<libc::sockaddr_in>() as _)
            }
            std::net::SocketAddr::V6(a) => {
                let sin6 = &mut storage as *mut _ as *mut libc::sockaddr_in6;
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_port = a.port().to_be();
                (*sin6).sin6_addr.s6_addr = a.ip().octets();
                (storage, std::mem::size_of::<libc::sockaddr_in6>() as _)
            }
        }
    }
}

fn set_tcp_options(fd: i32, keepalive: i64) {
    let one: libc::c_int = 1;
    let optlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt on our own descriptor with correctly sized integer options.
    unsafe {
        let onep = &one as *const _ as *const libc::c_void;
        libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, onep, optlen);
        if keepalive > 0 {
            let idle = keepalive as libc::c_int;
            let intvl = ((keepalive / 3).max(1)) as libc::c_int;
            let cnt: libc::c_int = 3;
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, onep, optlen);
            let p = |v: &libc::c_int| v as *const _ as *const libc::c_void;
            libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, p(&idle), optlen);
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_KEEPINTVL,
                p(&intvl),
                optlen,
            );
            libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, p(&cnt), optlen);
        }
    }
}

impl EventLoop {
    /// Binds every configured address and the unix socket.
    pub fn new(config: Config) -> Result<EventLoop, String> {
        let poll = Poll::new().map_err(|e| format!("Failed creating the event loop: {e}"))?;
        let reg = poll
            .registry()
            .try_clone()
            .map_err(|e| format!("Failed cloning the poll registry: {e}"))?;
        let mut srv = Server::new(config);
        let port = srv.config.port;
        if port != 0 {
            let backlog = srv.config.tcp_backlog as i32;
            let opened = listen_to_port(&srv.config.bind, port, backlog).map_err(|(a, e)| {
                format!(
                    "Warning: Could not create server TCP listening socket {a}:{port}: {e}\nFailed listening on port {port} (tcp), aborting."
                )
            })?;
            for l in opened {
                srv.listeners
                    .add(&reg, Listener::Tcp(l))
                    .map_err(|e| format!("Failed registering a listener: {e}"))?;
            }
        }
        let tls_port = srv.config.other_int("tls-port") as u16;
        if tls_port != 0 {
            let ctx = super::tls::configure(&srv.config)
                .ok_or_else(|| "Failed to configure TLS. Check logs for more info.".to_string())?;
            srv.listeners.tls = Some(ctx);
            let backlog = srv.config.tcp_backlog as i32;
            let opened = listen_to_port(&srv.config.bind, tls_port, backlog).map_err(|(a, e)| {
                format!(
                    "Warning: Could not create server TLS listening socket {a}:{tls_port}: {e}\nFailed listening on port {tls_port} (tls), aborting."
                )
            })?;
            for l in opened {
                srv.listeners
                    .add(&reg, Listener::Tls(l))
                    .map_err(|e| format!("Failed registering a listener: {e}"))?;
            }
        }
        if let Some(path) = srv.config.unixsocket.clone() {
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path)
                .map_err(|e| format!("Failed opening Unix socket: {e}"))?;
            let perm = srv.config.unixsocketperm;
            if perm != 0 {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm));
            }
            srv.listeners
                .add(&reg, Listener::Unix(l))
                .map_err(|e| format!("Failed registering a listener: {e}"))?;
        }
        if srv.listeners.is_empty() {
            return Err("Configured to not listen anywhere, exiting.".into());
        }
        srv.registry = Some(reg);
        Ok(EventLoop { poll, srv })
    }

    /// Serves until shutdown is requested.
    pub fn run(&mut self) {
        LOOP_POLL.with(|p| p.set(&mut self.poll));
        self.serve();
        LOOP_POLL.with(|p| p.set(std::ptr::null_mut()));
    }

    fn serve(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut next_cron = Instant::now();
        let mut busy_poll = BusyPoll::new();
        let mut woke = Instant::now();
        loop {
            let now = Instant::now();
            // A SIGTERM/SIGINT is acted on by the cron, as serverCron does: replies made
            // before it (a killed script's error to its caller) go out in before_sleep first.
            let mut sig = 0;
            if now >= next_cron {
                cron::server_cron(&mut self.srv);
                let hz = self.srv.config.hz.clamp(1, 500) as u64;
                next_cron = now + Duration::from_micros(1_000_000 / hz);
                sig = SHUTDOWN_SIGNAL.swap(0, Ordering::SeqCst);
            }
            if sig != 0 {
                log_shutdown_signal(sig);
                SHUTDOWN_SIGNAL_LOGGED.store(false, Ordering::SeqCst);
                let flags = if sig == libc::SIGINT {
                    self.srv.config.shutdown_on_sigint
                } else {
                    self.srv.config.shutdown_on_sigterm
                };
                if cron::prepare_for_shutdown(&mut self.srv, flags) {
                    self.srv.shutdown_asap = true;
                }
            }
            if self.srv.shutdown_asap {
                return;
            }
            if !self.srv.blocking.deadlines.is_empty() {
                super::blocked::handle_timeouts(&mut self.srv, crate::util::mstime());
            }
            if !self.srv.migrate.is_empty() {
                super::migrate_conn::handle_timeouts(&mut self.srv, crate::util::mstime());
            }
            before_sleep(&mut self.srv);
            let idle_from = Instant::now();
            let mut timeout = next_cron.saturating_duration_since(idle_from);
            // Eviction that ran out of its time budget continues from the loop, without
            // waiting for the next command.
            if self.srv.evict.proc_running && crate::evict::eviction_time_proc(&mut self.srv) {
                timeout = Duration::ZERO;
            }
            // Output queued after before_sleep wrote (an eviction's invalidation message or
            // keyspace event) goes out at once rather than after the poll's timeout.
            if !self.srv.pending_writes.is_empty() {
                timeout = Duration::ZERO;
            }
            if !self.srv.paused_clients.is_empty() && self.srv.pause_until_ms > 0 {
                let until = (self.srv.pause_until_ms - crate::util::mstime()).max(0) as u64;
                timeout = timeout.min(Duration::from_millis(until));
            }
            if let Some(deadline) = self.srv.next_block_deadline() {
                let until = (deadline - crate::util::mstime()).max(0) as u64;
                timeout = timeout.min(Duration::from_millis(until));
            }
            if let Some(deadline) = self.srv.migrate.next_deadline() {
                let until = (deadline - crate::util::mstime()).max(0) as u64;
                timeout = timeout.min(Duration::from_millis(until));
            }
            let stats = &self.srv.stats;
            let spin = busy_poll.window(
                nanos(idle_from - woke),
                stats.total_reads_processed,
                stats.total_commands_processed,
                timeout,
            );
            let (result, spent) = self.wait(&mut events, spin, timeout, idle_from);
            busy_poll.spent(spent);
            woke = Instant::now();
            if let Err(e) = result {
                if e.kind() != io::ErrorKind::Interrupted {
                    log_warning!("poll failed: {}", e);
                }
                continue;
            }
            for ev in events.iter() {
                let t = ev.token().0;
                if t == RDB_PIPE_TOKEN {
                    rdb_pipe_readable(&mut self.srv);
                    pump_rdb_pipe(&mut self.srv, false);
                    continue;
                }
                if t < FIRST_CLIENT {
                    Self::accept(&mut self.srv, t);
                    continue;
                }
                if (MIGRATE_BASE..LINK_BASE).contains(&t) {
                    super::migrate_conn::event(&mut self.srv, t - MIGRATE_BASE);
                    continue;
                }
                if t >= LINK_BASE {
                    let hup = ev.is_read_closed() || ev.is_error();
                    let readable = ev.is_readable() || hup;
                    cluster_link_event(&mut self.srv, t - LINK_BASE, ev.is_writable(), readable);
                    continue;
                }
                let idx = t - FIRST_CLIENT;
                if ev.is_writable() {
                    write_client(&mut self.srv, idx);
                }
                let hup = ev.is_read_closed() || ev.is_error();
                if ev.is_readable() || hup {
                    read_client(&mut self.srv, idx, hup);
                }
            }
            // Events a busy script's pass could not handle: the script caller's (its slot
            // was empty). Edge-triggered epoll will not repeat them.
            while !self.srv.deferred_events.is_empty() {
                let deferred = std::mem::take(&mut self.srv.deferred_events);
                for t in deferred {
                    if t < FIRST_CLIENT {
                        Self::accept(&mut self.srv, t);
                    } else if (MIGRATE_BASE..LINK_BASE).contains(&t) {
                        super::migrate_conn::event(&mut self.srv, t - MIGRATE_BASE);
                    } else if t >= LINK_BASE {
                        cluster_link_event(&mut self.srv, t - LINK_BASE, true, true);
                    } else {
                        let idx = t - FIRST_CLIENT;
                        write_client(&mut self.srv, idx);
                        read_client(&mut self.srv, idx, false);
                    }
                }
            }
        }
    }

    /// Waits for events: first polls without sleeping for `spin` (see `busypoll`), then, if
    /// nothing came, sleeps up to `timeout`. Returns the poll result and the nanoseconds spent
    /// polling, counted from `idle_from`.
    fn wait(
        &mut self,
        events: &mut Events,
        spin: Duration,
        timeout: Duration,
        idle_from: Instant,
    ) -> (io::Result<()>, u64) {
        let mut spent = 0;
        if !spin.is_zero() {
            loop {
                let r = self.poll.poll(events, Some(Duration::ZERO));
                spent = nanos(idle_from.elapsed());
                if r.is_err() || !events.is_empty() {
                    return (r, spent);
                }
                if spent >= nanos(spin) {
                    break;
                }
            }
        }
        // The timeout was measured from `idle_from`: what the poll spent comes off it.
        let rest = timeout.saturating_sub(Duration::from_nanos(spent));
        (self.poll.poll(events, Some(rest)), spent)
    }

    fn accept(srv: &mut Server, li: usize) {
        loop {
            let accepted = match srv.listeners.slots.get(li) {
                Some(Some(Listener::Tcp(l))) => l.accept().map(|(s, peer)| {
                    let local = s.local_addr().map(|a| fmt_addr(&a)).unwrap_or_default();
                    let fd = s.as_raw_fd();
                    (
                        Sock::Tcp(s),
                        fmt_addr(&peer),
                        local,
                        fd,
                        peer.ip().is_loopback(),
                    )
                }),
                Some(Some(Listener::Tls(l))) => {
                    let Some(ctx) = srv.listeners.tls.clone() else {
                        return;
                    };
                    l.accept().and_then(|(s, peer)| {
                        let local = s.local_addr().map(|a| fmt_addr(&a)).unwrap_or_default();
                        let fd = s.as_raw_fd();
                        let t = super::tls::TlsStream::new(s, &ctx)?;
                        Ok((
                            Sock::Tls(Box::new(t)),
                            fmt_addr(&peer),
                            local,
                            fd,
                            peer.ip().is_loopback(),
                        ))
                    })
                }
                Some(Some(Listener::Bus(l))) => {
                    match l.accept() {
                        Ok((s, _)) => accept_cluster_link(srv, s),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            log_verbose!("Error accepting cluster node: {}", e);
                            return;
                        }
                    }
                    continue;
                }
                Some(Some(Listener::Unix(l))) => l.accept().map(|(s, _)| {
                    let fd = s.as_raw_fd();
                    let path = srv.config.unixsocket.clone().unwrap_or_default();
                    (
                        Sock::Unix(s),
                        format!("{path}:0"),
                        format!("{path}:0"),
                        fd,
                        true,
                    )
                }),
                // A listener closed by CONFIG SET port/bind while its event was queued.
                _ => return,
            };
            match accepted {
                Ok((sock, addr, laddr, fd, local)) => {
                    Self::new_client(srv, sock, addr, laddr, fd, local)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_warning!("Accepting client connection: {}", e);
                    return;
                }
            }
        }
    }

    fn new_client(
        srv: &mut Server,
        mut sock: Sock,
        addr: String,
        laddr: String,
        fd: i32,
        local: bool,
    ) {
        srv.stats.total_connections_received += 1;
        if let Sock::Tcp(_) | Sock::Tls(_) = sock {
            set_tcp_options(fd, srv.config.tcp_keepalive);
        }
        if srv.clients.len() >= srv.config.maxclients as usize {
            let _ = sock.write(b"-ERR max number of clients reached\r\n");
            srv.stats.rejected_connections += 1;
            return;
        }
        if srv.config.protected_mode && !local && srv.acl.default_user().nopass() {
            let _ = sock.write(PROTECTED_MODE_ERROR.as_bytes());
            srv.stats.rejected_connections += 1;
            return;
        }
        let authenticated = srv.new_client_authenticated();
        let entry = srv.clients.vacant_entry();
        let idx = entry.key();
        let token = Token(idx + FIRST_CLIENT);
        let reg = srv.registry.as_ref().expect("registry set at start-up");
        let r = match sock.source() {
            Some(s) => reg.register(s, token, Interest::READABLE),
            None => Ok(()),
        };
        if let Err(e) = r {
            log_warning!("Error registering fd event for the new client: {}", e);
            return;
        }
        let id = srv.next_client_id;
        srv.next_client_id += 1;
        let mut c = Client::new(id, idx, sock, addr, laddr, fd);
        c.authenticated = authenticated;
        log_verbose!("Accepted {}", c.addr);
        entry.insert(Some(Box::new(c)));
        srv.index_client(id, idx);
    }
}

/// Opens a non-blocking TCP connection to host:port for an outbound link (our master) and
/// adds it as a client registered for READABLE and WRITABLE: the writable event says the
/// connect finished. Returns the client's slot.
pub fn connect_outbound(
    srv: &mut Server,
    host: &str,
    port: u16,
    tls: bool,
) -> Result<usize, String> {
    use std::net::ToSocketAddrs;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no address".to_string())?;
    let ctx = match tls {
        true => Some(tls_client_context(srv).ok_or("TLS configuration failed")?),
        false => None,
    };
    let mut stream = mio::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let fd = stream.as_raw_fd();
    set_tcp_options(fd, srv.config.tcp_keepalive);
    let entry = srv.clients.vacant_entry();
    let idx = entry.key();
    let reg = srv.registry.as_ref().ok_or("no event loop")?;
    reg.register(
        &mut stream,
        Token(idx + FIRST_CLIENT),
        Interest::READABLE | Interest::WRITABLE,
    )
    .map_err(|e| e.to_string())?;
    let id = srv.next_client_id;
    srv.next_client_id += 1;
    let laddr = stream
        .local_addr()
        .map(|a| fmt_addr(&a))
        .unwrap_or_default();
    let sock = match ctx {
        Some(ctx) => {
            let t =
                super::tls::TlsStream::new_client(stream, &ctx, host).map_err(|e| e.to_string())?;
            Sock::Tls(Box::new(t))
        }
        None => Sock::Tcp(stream),
    };
    let mut c = Client::new(id, idx, sock, fmt_addr(&addr), laddr, fd);
    c.authenticated = true;
    c.master_link = true;
    c.writable_registered = true;
    entry.insert(Some(Box::new(c)));
    Ok(idx)
}

/// Redis prints IPv6 peers as `[::1]:port`... no: as `::1:port`? Redis uses `ip:port` with
/// the bare IPv6 text (anetFormatAddr puts brackets around IPv6).
fn fmt_addr(a: &std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(v) => format!("{}:{}", v.ip(), v.port()),
        std::net::SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

/// The reply sent to remote clients in protected mode.
const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Reads everything the socket has, then executes every complete command. `hup` says the
/// event reported the peer's close (or an error): then the socket is read until it answers
/// 0 or an error, whatever a short read suggests, because no further event will come.
///
/// A peer that closed is freed here, whatever state its query buffer is in (a request cut
/// at any byte included). Complete commands that arrived before the close still run and
/// their replies are written once, as Redis runs them before its next read sees the end of
/// the stream (a client that half-closes after its last request still gets the reply).
fn read_client(srv: &mut Server, idx: usize, hup: bool) {
    let Some(slot) = srv.clients.get_mut(idx) else {
        return;
    };
    let Some(mut c) = slot.take() else {
        return;
    };
    // One per read event, as Redis counts one per readQueryFromClient call (we may call read
    // more than once per event: edge-triggered epoll wants the socket drained).
    srv.stats.total_reads_processed += 1;
    // `closed`: a read error, the client is freed at once. `eof`: the peer closed (its
    // writing side at least); what it sent before still runs, then the client is freed.
    let mut closed = false;
    let mut eof = false;
    if let Sock::Tls(t) = &mut c.sock {
        // rustls reads the socket to its end (or its close) and hands over plaintext.
        let (n, end) = t.read_into(&mut c.qbuf);
        count_input(srv, &c, n);
        match end {
            super::tls::ReadEnd::Open => {}
            super::tls::ReadEnd::Eof => {
                log_verbose!("Client closed connection id={} addr={}", c.id, c.addr);
                eof = true;
            }
            super::tls::ReadEnd::Failed(e, true) => {
                log_warning!("Error accepting a client connection: {e} (addr={})", c.addr);
                closed = true;
            }
            super::tls::ReadEnd::Failed(e, false) => {
                log_verbose!("Reading from client: {}", e);
                closed = true;
            }
        }
    } else {
        loop {
            if c.qbuf.capacity() - c.qbuf.len() < IOBUF_LEN {
                c.qbuf.reserve(IOBUF_LEN);
            }
            let spare = c.qbuf.capacity() - c.qbuf.len();
            // SAFETY: reading into the vector's spare capacity; set_len covers only what read wrote.
            let n = unsafe {
                let dst = c.qbuf.as_mut_ptr().add(c.qbuf.len());
                libc::read(c.fd, dst as *mut libc::c_void, spare)
            };
            if n > 0 {
                let n = n as usize;
                // SAFETY: read initialised n bytes of spare capacity.
                unsafe { c.qbuf.set_len(c.qbuf.len() + n) };
                count_input(srv, &c, n);
                // A short read drained the socket: on Linux epoll (edge-triggered) any byte that
                // arrives after this read raises a new event, so there is no need to spend a
                // syscall on the EAGAIN that would follow. A close that the event already
                // reported raises no new one: then read on until the 0 that reports it.
                if n < spare && !hup {
                    break;
                }
                continue;
            }
            if n == 0 {
                log_verbose!("Client closed connection id={} addr={}", c.id, c.addr);
                eof = true;
                break;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => break,
                io::ErrorKind::Interrupted => continue,
                _ => {
                    log_verbose!("Reading from client: {}", err);
                    closed = true;
                    break;
                }
            }
        }
    }
    srv.refresh_time();
    c.last_interaction_ms = srv.cmd_time_ms;
    let unconsumed = c.qbuf.len() - c.qpos;
    if unconsumed > c.qbuf_peak {
        c.qbuf_peak = unconsumed;
    }
    if !closed && unconsumed as u64 > srv.config.client_query_buffer_limit {
        log_warning!(
            "Closing client that reached max query buffer length: {} (qbuf initial bytes: {:?})",
            c.info_line(srv.cmd_time_ms),
            String::from_utf8_lossy(&c.qbuf[c.qpos..c.qpos + unconsumed.min(64)])
        );
        closed = true;
    }
    if !closed {
        if c.master_link {
            // Our master: handshake replies, the snapshot, then its stream.
            closed = !crate::replication::replica::process_link_input(srv, &mut c);
        } else {
            process_input(srv, &mut c);
        }
    }
    let token = c.token;
    if closed || eof {
        if !closed && c.out.pending() > 0 {
            // Best effort, once: a half-closed peer may still read.
            let _ = write_to_client(srv, &mut c);
        }
        free_client(srv, c);
        return;
    }
    if c.out.pending() > 0 || c.sock.has_backlog() {
        srv.schedule_write(&mut c);
    }
    if c.close_asap {
        srv.pending_close.push(token);
    }
    srv.clients[idx] = Some(c);
}

/// "Query buffer during protocol error: ..." as Redis logs it: the unparsed input, or its
/// first and last 64 bytes when longer than 128, non-printable bytes shown as '.'.
fn protocol_error_sample(rest: &[u8]) -> String {
    const DUMP: usize = 128;
    let show = |b: &[u8]| -> String {
        b.iter()
            .map(|&x| {
                if (0x20..0x7f).contains(&x) {
                    x as char
                } else {
                    '.'
                }
            })
            .collect()
    };
    let mut s = if rest.len() < DUMP {
        format!("Query buffer during protocol error: '{}'", show(rest))
    } else {
        format!(
            "Query buffer during protocol error: '{}' (... more {} bytes ...) '{}'",
            show(&rest[..DUMP / 2]),
            rest.len() - DUMP,
            show(&rest[rest.len() - DUMP / 2..])
        )
    };
    // Redis formats into a 256-byte buffer.
    s.truncate(255);
    s
}

/// Parses and executes every complete command in the query buffer (processInputBuffer).
pub fn process_input(srv: &mut Server, c: &mut Client) {
    srv.cmd_clock = 0;
    let qbuf = std::mem::take(&mut c.qbuf);
    let mut argv = std::mem::take(&mut c.argv);
    let mut pos = c.qpos;
    let limits = Limits {
        proto_max_bulk_len: srv.config.proto_max_bulk_len,
        authenticated: !srv.auth_required(c),
    };
    while !c.close_after_reply
        && !c.close_asap
        && c.blocked.is_none()
        && !c.postponed
        && pos < qbuf.len()
    {
        match c.parser.parse(&qbuf, pos, &mut argv, &limits) {
            Parse::Command { next } => {
                let args = crate::commands::Args::new(&qbuf, &argv);
                if !crate::commands::process_command(srv, c, &args) {
                    // Postponed by CLIENT PAUSE: keep the command for later.
                    break;
                }
                pos = next;
            }
            Parse::Skip { next } => pos = next,
            Parse::Incomplete { keep_from } => {
                pos = keep_from;
                break;
            }
            Parse::Error(msg) => {
                // Raw bytes: Redis echoes the offending byte as is.
                c.out.raw(b"-ERR ");
                c.out.raw(msg.as_bytes());
                c.out.raw(b"\r\n");
                srv.stats.total_error_replies += 1;
                *srv.stats.errors.entry("ERR".to_string()).or_insert(0) += 1;
                // setProtocolError: a master's errors are warnings (the replica stops
                // following it), anyone else's are verbose.
                let level = if c.master_link {
                    crate::server::log::Level::Warning
                } else {
                    crate::server::log::Level::Verbose
                };
                if crate::server::log::enabled(level) {
                    crate::server::log::log(
                        level,
                        &format!(
                            "Protocol error ({}) from client: {}. {}",
                            msg,
                            c.info_line(srv.cmd_time_ms),
                            protocol_error_sample(&qbuf[pos.min(qbuf.len())..])
                        ),
                    );
                }
                c.close_after_reply = true;
                pos = qbuf.len();
                break;
            }
        }
    }
    c.qbuf = qbuf;
    c.argv = argv;
    if pos >= c.qbuf.len() {
        c.parser.shifted(pos);
        c.qbuf.clear();
        c.qpos = 0;
    } else if pos >= COMPACT_AT {
        c.qbuf.drain(..pos);
        c.parser.shifted(pos);
        c.qpos = 0;
    } else {
        c.qpos = pos;
    }
}

/// Counts `n` bytes read from client `c`: what our master sends is also counted as
/// replication traffic (7.0.15's readQueryFromClient).
fn count_input(srv: &mut Server, c: &Client, n: usize) {
    srv.stats.net_input_bytes += n as u64;
    if c.master_link {
        srv.stats.net_repl_input_bytes += n as u64;
    }
}

/// Writes as much pending output as the socket takes. Returns false when the client must be
/// closed (write error or a finished close-after-reply).
fn write_to_client(srv: &mut Server, c: &mut Client) -> bool {
    srv.stats.total_writes_processed += 1;
    c.note_reply_peak();
    // A replica being sent its snapshot gets the next chunk as soon as the last one left.
    while c.out.pending() > 0 || (c.replica.is_some() && crate::replication::refill_bulk(c)) {
        let r = c.sock.write(&c.out.buf[c.out.sent..]);
        match r {
            Ok(0) => return false,
            Ok(n) => {
                c.out.sent += n;
                // What replicas are sent is also counted as replication traffic (7.0.15's
                // writeToClient; 7.2 stopped counting it in net_output_bytes).
                srv.stats.net_output_bytes += n as u64;
                if c.replica.is_some() && !c.monitor {
                    srv.stats.net_repl_output_bytes += n as u64;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log_verbose!("Error writing to client: {}", e);
                return false;
            }
        }
    }
    // TLS records rustls made but the socket did not take yet (handshake messages too).
    let backlog = match c.sock.flush_records() {
        Ok(b) => b,
        Err(e) => {
            log_verbose!("Error writing to client: {}", e);
            return false;
        }
    };
    let done = c.out.pending() == 0;
    if done {
        c.out.buf.clear();
        c.out.sent = 0;
        // Give back memory after a huge reply (KEYS *, LRANGE of a big list).
        if c.out.buf.capacity() > 1024 * 1024 {
            c.out.buf = Vec::new();
        }
        if c.close_after_reply && !backlog {
            return false;
        }
    } else if c.out.sent > 1024 * 1024 {
        // Drop the written prefix so the buffer does not keep growing under a slow reader.
        let sent = c.out.sent;
        c.out.buf.drain(..sent);
        c.out.sent = 0;
    }
    let want_writable = !done || backlog;
    if want_writable != c.writable_registered {
        let token = Token(c.token + FIRST_CLIENT);
        let interest = if want_writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Some(reg) = srv.registry.as_ref() {
            let r = match c.sock.source() {
                Some(s) => reg.reregister(s, token, interest),
                None => Ok(()),
            };
            if r.is_err() {
                return false;
            }
        }
        c.writable_registered = want_writable;
    }
    true
}

/// A duration in whole nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Handles a WRITABLE event.
fn write_client(srv: &mut Server, idx: usize) {
    let Some(Some(mut c)) = srv.clients.get_mut(idx).map(|s| s.take()) else {
        return;
    };
    // The link to our master becomes writable when its connect finished.
    if c.master_link && !crate::replication::replica::on_connected(srv, &mut c) {
        free_client(srv, c);
        return;
    }
    if write_to_client(srv, &mut c) {
        srv.clients[idx] = Some(c);
    } else {
        free_client(srv, c);
    }
}

/// Unregisters and drops a client (freeClient).
pub fn free_client(srv: &mut Server, mut c: Box<Client>) {
    if let Some(reg) = srv.registry.as_ref() {
        if let Some(s) = c.sock.source() {
            let _ = reg.deregister(s);
        }
    }
    if c.monitor {
        srv.monitors.retain(|&t| t != c.token);
    }
    if let Some(plan) = c.blocked.as_mut().and_then(|b| b.migrate.take()) {
        crate::commands::migrate::client_freed(srv, &plan);
    }
    if c.blocked.is_some() {
        srv.unblock_client(&mut c);
    }
    if c.postponed {
        srv.paused_clients.retain(|&t| t != c.token);
    }
    // Subscriptions and WATCHes name the client by token: drop them before the slot is reused.
    crate::pubsub::client_freed(srv, &mut c);
    crate::multi::client_freed(srv, &mut c);
    crate::replication::client_freed(srv, &c);
    if c.master_link {
        crate::replication::replica::link_freed(srv, &c);
    }
    crate::tracking::client_freed(srv, &mut c);
    srv.clients_by_id.remove(&c.id.to_le_bytes());
    if srv.clients.contains(c.token) {
        srv.clients.remove(c.token);
    }
}

/// client-output-buffer-limit (checkClientOutputBufferLimits): true when the output waiting
/// for `c` reached the hard limit, or has stayed over the soft limit for more than the soft
/// seconds. `limit` is (hard bytes, soft bytes, soft seconds) of the client's class; 0 turns a
/// limit off. Called where output accumulates for a client that is not reading (Pub/Sub
/// delivery); the caller closes the client asynchronously.
pub fn output_buffer_limit_reached(c: &mut Client, limit: (u64, u64, u64), now_ms: i64) -> bool {
    let held = c.replica.as_ref().map_or(0, |r| r.held_bytes());
    let (hard, soft, soft_secs) = limit;
    let used = c.out.pending() as u64 + held;
    let hard_hit = hard != 0 && used >= hard;
    let mut soft_hit = soft != 0 && used >= soft;
    if soft_hit {
        if c.obuf_soft_limit_since_ms == 0 {
            // First time over the soft limit: start the clock.
            c.obuf_soft_limit_since_ms = now_ms.max(1);
            soft_hit = false;
        } else {
            let elapsed = now_ms / 1000 - c.obuf_soft_limit_since_ms / 1000;
            if elapsed <= soft_secs as i64 {
                soft_hit = false;
            }
        }
    } else {
        c.obuf_soft_limit_since_ms = 0;
    }
    hard_hit || soft_hit
}

/// Closes the client in slot `idx` now, wherever it is.
pub fn close_client_now(srv: &mut Server, idx: usize) {
    if let Some(Some(c)) = srv.clients.get_mut(idx).map(|s| s.take()) {
        free_client(srv, c);
    }
}

/// Work done before the loop sleeps (beforeSleep): the fast expire cycle, pending writes,
/// pending closes.
pub fn before_sleep(srv: &mut Server) {
    srv.cmd_clock = 0;
    crate::db::expire::active_expire_cycle(srv, crate::db::expire::CycleKind::Fast);
    super::blocked::handle_ready_keys(srv);
    if !srv.paused_clients.is_empty()
        && (srv.pause_until_ms == 0 || crate::util::mstime() >= srv.pause_until_ms)
        && !crate::replication::failover::pauses_writes(srv)
    {
        // The pause is over: postponed clients run their commands in the order they
        // arrived (unblockPostponedClients).
        srv.pause_until_ms = 0;
        let resumed = std::mem::take(&mut srv.paused_clients);
        for &tok in &resumed {
            if let Some(Some(c)) = srv.clients.get_mut(tok) {
                c.postponed = false;
            }
        }
        srv.blocking.unblocked.extend(resumed);
    }
    crate::replication::before_sleep(srv);
    if srv.cluster.is_some() {
        crate::cluster::before_sleep(srv);
    }
    if !srv.migrate.done.is_empty() {
        crate::commands::migrate::resume_done(srv);
    }
    super::blocked::process_unblocked(srv);
    // Broadcast-mode invalidations collected during this iteration.
    crate::tracking::broadcast(srv);
    // The AOF is written (and with appendfsync always, fsynced) before any reply leaves:
    // a client never sees the acknowledgement of a write the disk does not have.
    if srv.aof.is_some() {
        crate::persistence::aof::flush(srv, false);
    }
    if srv.repl.rdb_pipe.as_ref().is_some_and(|p| p.readable) {
        pump_rdb_pipe(srv, false);
    }
    write_pending(srv);
    if srv.cluster.is_some() {
        close_cluster_links(srv);
        write_cluster_links(srv);
    }
    let closing = std::mem::take(&mut srv.pending_close);
    for idx in closing {
        if let Some(Some(c)) = srv.clients.get(idx) {
            if c.close_asap {
                close_client_now(srv, idx);
            }
        }
    }
}

/// Registers the read end of a diskless sync's pipe with the poller.
pub fn register_rdb_pipe(srv: &Server, fd: i32) -> io::Result<()> {
    match srv.registry.as_ref() {
        Some(reg) => reg.register(
            &mut mio::unix::SourceFd(&fd),
            Token(RDB_PIPE_TOKEN),
            Interest::READABLE,
        ),
        None => Ok(()),
    }
}

/// The poller reported the diskless sync pipe readable.
fn rdb_pipe_readable(srv: &mut Server) {
    if let Some(p) = srv.repl.rdb_pipe.as_mut() {
        p.readable = true;
    }
}

/// Closes the diskless sync pipe's read end (the child gets EPIPE if it still writes).
pub fn close_rdb_pipe(srv: &mut Server) {
    let Some(p) = srv.repl.rdb_pipe.take() else {
        return;
    };
    if let Some(reg) = srv.registry.as_ref() {
        let _ = reg.deregister(&mut mio::unix::SourceFd(&p.fd));
    }
    // SAFETY: closing the read end we own; nothing else holds it.
    unsafe { libc::close(p.fd) };
}

/// Moves the diskless snapshot from the child's pipe to the replicas (rdbPipeReadHandler and
/// rdbPipeWriteHandler): a chunk is read only when every target took the previous one, so a
/// slow replica slows the child rather than growing buffers. `force` (the child has exited)
/// queues the rest of the pipe regardless. At the pipe's end the pipe is closed; the child's
/// exit then completes the sync (`replication::bgsave_done`).
pub fn pump_rdb_pipe(srv: &mut Server, force: bool) {
    loop {
        let Some(p) = srv.repl.rdb_pipe.as_ref() else {
            return;
        };
        if !force {
            // Every target must have taken the last chunk.
            for tok in p.targets.clone() {
                let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
                    continue;
                };
                if c.out.pending() > 0 && !c.close_asap && !write_to_client(srv, &mut c) {
                    free_client(srv, c);
                    continue;
                }
                let busy = c.out.pending() > 0 && !c.close_asap;
                srv.clients[tok] = Some(c);
                if busy {
                    return;
                }
            }
        }
        let Some(p) = srv.repl.rdb_pipe.as_mut() else {
            return;
        };
        // SAFETY: reading into a live buffer from our non-blocking pipe.
        let n = unsafe {
            libc::read(
                p.fd,
                p.chunk.as_mut_ptr() as *mut libc::c_void,
                p.chunk.len(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    p.readable = false;
                    return;
                }
                _ => {
                    log_warning!(
                        "Diskless rdb transfer, read error sending DB to replicas: {}",
                        e
                    );
                    let targets = std::mem::take(&mut p.targets);
                    close_rdb_pipe(srv);
                    for tok in targets {
                        if let Some(Some(c)) = srv.clients.get_mut(tok) {
                            c.close_asap = true;
                            srv.pending_close.push(tok);
                        }
                    }
                    crate::persistence::bgsave::kill_child(
                        srv,
                        crate::persistence::bgsave::ChildKind::Rdb,
                    );
                    return;
                }
            }
        }
        if n == 0 {
            let up = p
                .targets
                .iter()
                .filter(|&&t| matches!(srv.clients.get(t), Some(Some(c)) if !c.close_asap))
                .count();
            log_notice!(
                "Diskless rdb transfer, done reading from pipe, {} replicas still up.",
                up
            );
            close_rdb_pipe(srv);
            return;
        }
        let data = &p.chunk[..n as usize];
        for &tok in &p.targets {
            if let Some(Some(c)) = srv.clients.get_mut(tok) {
                if !c.close_asap {
                    c.out.raw(data);
                    c.queue_write(&mut srv.pending_writes);
                }
            }
        }
    }
}

/// Writes the output of every client queued for writing (handleClientsWithPendingWrites).
fn write_pending(srv: &mut Server) {
    let pending = std::mem::take(&mut srv.pending_writes);
    for idx in pending.iter().copied() {
        let Some(Some(mut c)) = srv.clients.get_mut(idx).map(|s| s.take()) else {
            continue;
        };
        c.pending_write = false;
        if c.close_asap {
            srv.clients[idx] = Some(c);
            continue;
        }
        if write_to_client(srv, &mut c) {
            srv.clients[idx] = Some(c);
        } else {
            free_client(srv, c);
        }
    }
    let mut pending = pending;
    pending.clear();
    if srv.pending_writes.is_empty() {
        srv.pending_writes = pending;
    }
}

impl Server {
    /// Refreshes the cached clocks after the poller wakes.
    #[inline]
    pub fn refresh_time(&mut self) {
        self.cmd_time_ms = crate::util::mstime();
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster bus: its listener and its links (crate::cluster::bus decides what they say).

/// Opens the cluster bus listener on the bind addresses (clusterInit's listenToPort on the
/// bus port).
fn open_cluster_bus(srv: &mut Server) -> Result<(), String> {
    let Some(port) = srv.cluster.as_ref().map(|c| c.bus_port) else {
        return Ok(());
    };
    let reg = srv.registry.as_ref().ok_or("no event loop")?;
    let opened = listen_to_port(&srv.config.bind, port, srv.config.tcp_backlog as i32).map_err(
        |(a, e)| {
            format!(
                "Warning: Could not create server TCP listening socket {a}:{port}: {e}\nFailed listening on port {port} (cluster), aborting."
            )
        },
    )?;
    for l in opened {
        srv.listeners
            .add(reg, Listener::Bus(l))
            .map_err(|e| format!("Failed registering a listener: {e}"))?;
    }
    Ok(())
}

/// Adds an accepted bus connection as an inbound link.
fn accept_cluster_link(srv: &mut Server, s: mio::net::TcpStream) {
    let now = crate::util::mstime();
    set_tcp_options(s.as_raw_fd(), srv.config.tcp_keepalive);
    let sock = if srv.config.other_int("tls-cluster") != 0 {
        let Some(ctx) = tls_bus_context(srv) else {
            return;
        };
        match super::tls::TlsStream::new(s, &ctx) {
            Ok(t) => Sock::Tls(Box::new(t)),
            Err(_) => return,
        }
    } else {
        Sock::Tcp(s)
    };
    let (Some(cl), Some(reg)) = (srv.cluster.as_mut(), srv.registry.as_ref()) else {
        return;
    };
    let entry = cl.links.vacant_entry();
    let idx = entry.key();
    let mut sock = sock;
    let Some(source) = sock.source() else {
        return;
    };
    if reg
        .register(source, Token(LINK_BASE + idx), Interest::READABLE)
        .is_err()
    {
        return;
    }
    let link = crate::cluster::bus::Link::new(sock, true, now);
    log_verbose!("Accepting cluster node connection from {}", link.peer_ip);
    entry.insert(Some(Box::new(link)));
}

/// Opens an outbound bus link to ip:port, registered for READABLE and WRITABLE (the
/// writable event says the connect finished). Returns the link's slot.
pub fn connect_cluster_link(srv: &mut Server, ip: &str, port: u16) -> Result<usize, String> {
    let ip: std::net::IpAddr = ip.parse().map_err(|_| "Invalid address".to_string())?;
    let addr = std::net::SocketAddr::new(ip, port);
    let ctx = match srv.config.other_int("tls-cluster") != 0 {
        true => Some(tls_client_context(srv).ok_or("TLS configuration failed")?),
        false => None,
    };
    let stream = mio::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    set_tcp_options(stream.as_raw_fd(), srv.config.tcp_keepalive);
    let mut sock = match ctx {
        Some(ctx) => Sock::Tls(Box::new(
            super::tls::TlsStream::new_client(stream, &ctx, &ip.to_string())
                .map_err(|e| e.to_string())?,
        )),
        None => Sock::Tcp(stream),
    };
    let now = crate::util::mstime();
    let cl = srv.cluster.as_mut().ok_or("cluster mode is off")?;
    let reg = srv.registry.as_ref().ok_or("no event loop")?;
    let entry = cl.links.vacant_entry();
    let idx = entry.key();
    reg.register(
        sock.source().ok_or("no socket")?,
        Token(LINK_BASE + idx),
        Interest::READABLE | Interest::WRITABLE,
    )
    .map_err(|e| e.to_string())?;
    let mut link = crate::cluster::bus::Link::new(sock, false, now);
    link.writable_registered = true;
    entry.insert(Some(Box::new(link)));
    Ok(idx)
}

/// Serves an event of link `idx`: the end of a connect, output to write, input to read.
fn cluster_link_event(srv: &mut Server, idx: usize, writable: bool, readable: bool) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let Some(Some(mut link)) = cl.links.get_mut(idx).map(|s| s.take()) else {
        return;
    };
    let mut keep = true;
    if writable && link.connecting {
        match link.sock.connect_result() {
            Ok(()) => {
                link.connecting = false;
                (link.peer_ip, link.local_ip) = link.sock.ips();
                crate::cluster::bus::on_connected(srv, &mut link);
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(_) => keep = false,
        }
    }
    if keep && readable && !link.connecting {
        let eof = read_cluster_link(&mut link);
        if !link.rcvbuf.is_empty() {
            keep = crate::cluster::bus::process_input(srv, idx, &mut link);
        }
        if eof {
            keep = false;
        }
    }
    if keep && !link.connecting {
        keep = write_cluster_link(srv, idx, &mut link);
    }
    if keep {
        if let Some(cl) = srv.cluster.as_mut() {
            cl.links[idx] = Some(link);
        }
    } else {
        free_cluster_link(srv, idx, link);
    }
}

/// Reads what link's socket has into its receive buffer (edge-triggered: until it would
/// block); true when the link must close (the peer closed, an error, or more than one
/// message's worth held: the parser rejects a bad length at its first 8 bytes).
fn read_cluster_link(link: &mut crate::cluster::bus::Link) -> bool {
    let limit = crate::cluster::msg::MAX_MESSAGE_LEN + IOBUF_LEN;
    if let Sock::Tls(t) = &mut link.sock {
        let (_, end) = t.read_into(&mut link.rcvbuf);
        if let super::tls::ReadEnd::Failed(e, _) = &end {
            log_verbose!("I/O error reading from node link: {}", e);
        }
        return !matches!(end, super::tls::ReadEnd::Open) || link.rcvbuf.len() > limit;
    }
    let mut buf = [0u8; IOBUF_LEN];
    loop {
        match std::io::Read::read(&mut link.sock, &mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                link.rcvbuf.extend_from_slice(&buf[..n]);
                if link.rcvbuf.len() > limit {
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

/// Writes what link `idx` has to send; false on a write error.
fn write_cluster_link(srv: &mut Server, idx: usize, link: &mut crate::cluster::bus::Link) -> bool {
    while link.pending() > 0 {
        match link.sock.write(&link.sndbuf[link.sent..]) {
            Ok(0) => return false,
            Ok(n) => link.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    // TLS records (handshake ones too) the socket did not take yet.
    let backlog = match link.sock.flush_records() {
        Ok(b) => b,
        Err(_) => return false,
    };
    if link.pending() == 0 {
        link.sndbuf.clear();
        link.sent = 0;
    }
    let want = link.pending() > 0 || link.connecting || backlog;
    if want != link.writable_registered {
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Some(reg) = srv.registry.as_ref() {
            let Some(source) = link.sock.source() else {
                return false;
            };
            if reg
                .reregister(source, Token(LINK_BASE + idx), interest)
                .is_err()
            {
                return false;
            }
        }
        link.writable_registered = want;
    }
    true
}

/// Unregisters and drops a link (freeClusterLink).
fn free_cluster_link(srv: &mut Server, idx: usize, mut link: Box<crate::cluster::bus::Link>) {
    if let Some(reg) = srv.registry.as_ref() {
        if let Some(source) = link.sock.source() {
            let _ = reg.deregister(source);
        }
    }
    crate::cluster::bus::link_freed(srv, idx, &link);
    if let Some(cl) = srv.cluster.as_mut() {
        if cl.links.contains(idx) {
            cl.links.remove(idx);
        }
    }
}

/// Closes the links the cluster logic gave up (`Cluster::close_links`).
pub fn close_cluster_links(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let closing = std::mem::take(&mut cl.close_links);
    for idx in closing {
        let Some(cl) = srv.cluster.as_mut() else {
            return;
        };
        if let Some(Some(link)) = cl.links.get_mut(idx).map(|s| s.take()) {
            free_cluster_link(srv, idx, link);
        }
    }
}

/// Writes the output of every link (clusterBeforeSleep's writes happen as the links become
/// writable in Redis; here, once per loop iteration).
fn write_cluster_links(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let idxs: Vec<usize> = cl
        .links
        .iter()
        .filter(|(_, l)| l.as_ref().is_some_and(|l| l.pending() > 0 && !l.connecting))
        .map(|(i, _)| i)
        .collect();
    for idx in idxs {
        let Some(cl) = srv.cluster.as_mut() else {
            return;
        };
        let Some(Some(mut link)) = cl.links.get_mut(idx).map(|s| s.take()) else {
            continue;
        };
        if write_cluster_link(srv, idx, &mut link) {
            if let Some(cl) = srv.cluster.as_mut() {
                cl.links[idx] = Some(link);
            }
        } else {
            free_cluster_link(srv, idx, link);
        }
    }
}
