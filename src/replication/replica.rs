//! Replication, the replica's side (replication.c's connectWithMaster, syncWithMaster,
//! readSyncBulkPayload, replicationCron's replica part): REPLICAOF, the handshake, the
//! snapshot, then the master's stream applied like any client's commands but unanswered.
//!
//! ```text
//!  Connect --cron--> Connecting --writable--> PING
//!    --+PONG--> [AUTH masterauth] REPLCONF listening-port, REPLCONF capa eof capa psync2
//!    --replies--> PSYNC <replid> <offset+1>   (our own history: a promoted master or a
//!                                              cached link can continue; else "? -1")
//!    --+CONTINUE--> Connected (stream from offset+1)
//!    --+FULLRESYNC id off--> Transfer: "\n" keep-alives, then $<len> or $EOF:<mark>,
//!        the bytes into temp-<time>.<pid>.rdb, renamed to dbfilename, flushed and loaded
//!    --> Connected: the link is a client whose commands run without replies; every byte
//!        they took is proxied to our backlog and sub-replicas (the same offsets as the
//!        master's), REPLCONF ACK <offset> once a second and on GETACK
//! ```
//!
//! The link's socket is a client of `server/net.rs` (`Client::master_link`); this module
//! reads its query buffer and queues its output, nothing else.

use super::Replication;
use crate::server::client::Client;
use crate::server::Server;
use crate::{log_notice, log_warning};
use std::io::Write;

/// The replica's link state (server.repl_state), in the order it goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (cron does it).
    Connect,
    /// Non-blocking connect in progress.
    Connecting,
    /// Waiting for the reply to PING.
    ReceivePing,
    /// Waiting for the replies to AUTH/REPLCONF (how many are left).
    ReceiveReplies(u8),
    /// Waiting for the reply to PSYNC.
    ReceivePsync,
    /// Receiving the snapshot.
    Transfer,
    /// Applying the stream.
    Connected,
}

/// What this server knows of its master (`Replication::master`).
pub struct MasterLink {
    /// Where it is.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Link progress.
    pub state: LinkState,
    /// The link client's slot, while there is one.
    pub token: Option<usize>,
    /// The snapshot being received: the temp file, the bytes left (or the EOF mark of a
    /// diskless transfer, with how many bytes came).
    transfer: Option<Transfer>,
    /// Unix ms of the last byte from the master.
    pub last_io_ms: i64,
    /// Unix seconds since when the link is down (-1 while up... 0 when never up).
    pub down_since: i64,
    /// The offset the FULLRESYNC named.
    pending_offset: i64,
    /// The replication ID the FULLRESYNC named.
    pending_replid: String,
    /// The last REPLCONF ACK sent, Unix ms.
    last_ack_ms: i64,
    /// A GETACK arrived: send an ACK after this read.
    pub ack_requested: bool,
    /// The next handshake reply answers AUTH (whose error is fatal; REPLCONF's are not).
    auth_pending: bool,
    /// The db the master's stream had selected when the link went down (or that the RDB we
    /// started from recorded as repl-stream-db): a partial resync continues in it, as the
    /// master sends no SELECT for a stream it merely continues.
    pub stream_db: usize,
}

struct Transfer {
    /// The temp file it goes to (repl-diskless-load disabled), else None: it collects in
    /// `mem` and is parsed from there.
    file: Option<std::fs::File>,
    path: String,
    mem: Vec<u8>,
    /// Bytes still expected (`$<len>` transfers).
    left: Option<u64>,
    /// The 40-byte end mark (`$EOF:` transfers) and a tail of what came, to find it.
    eof_mark: Option<Vec<u8>>,
    tail: Vec<u8>,
    total: u64,
}

const EOF_MARK_LEN: usize = 40;

impl Replication {
    /// True when this server replicates from a master (server.masterhost).
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }
}

/// REPLICAOF host port / NO ONE (replicaofCommand). `who` names the requesting client.
pub fn replicaof(srv: &mut Server, c: &mut Client, host: &[u8], port: &[u8]) {
    let who = c.info_line(srv.cmd_time_ms);
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        if srv.repl.master.is_some() {
            unset_master(srv);
            log_notice!("MASTER MODE enabled (user request from '{}')", who);
        }
        return c.out.ok();
    }
    let Some(p) = crate::util::num::parse_i64(port).filter(|p| (0..=65535).contains(p)) else {
        return c.out.err("ERR Invalid master port");
    };
    let host = String::from_utf8_lossy(host).into_owned();
    if let Some(m) = &srv.repl.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port == p as u16 {
            log_notice!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return c.out.simple("OK Already connected to specified master");
        }
    }
    set_master(srv, host.clone(), p as u16);
    log_notice!(
        "REPLICAOF {}:{} enabled (user request from '{}')",
        host,
        p,
        who
    );
    c.out.ok();
}

/// Starts replicating from host:port (replicationSetMaster): the old link (if any) is
/// dropped; our own history is kept so the new master may continue it.
pub fn set_master(srv: &mut Server, host: String, port: u16) {
    drop_link(srv);
    srv.repl.master = Some(MasterLink {
        host,
        port,
        state: LinkState::Connect,
        token: None,
        transfer: None,
        last_io_ms: crate::util::mstime(),
        down_since: crate::util::mstime() / 1000,
        pending_offset: 0,
        pending_replid: String::new(),
        last_ack_ms: 0,
        ack_requested: false,
        auth_pending: false,
        stream_db: 0,
    });
    disconnect_blocked_clients(srv);
    srv.prop.active = super::stream_wanted(srv);
    log_notice!(
        "Connecting to MASTER {}:{}",
        srv.repl.master.as_ref().unwrap().host,
        port
    );
}

/// Clients blocked on a server that turns replica are told so and closed
/// (disconnectAllBlockedClients): what they wait for may now never come. Clients held by a
/// pause are not blocked in this sense: their command runs (or is refused) once it ends.
fn disconnect_blocked_clients(srv: &mut Server) {
    let toks: Vec<usize> = srv
        .clients
        .iter()
        .filter(|(_, c)| {
            c.as_ref()
                .is_some_and(|c| c.blocked.is_some() && !c.postponed)
        })
        .map(|(t, _)| t)
        .collect();
    for tok in toks {
        let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
            continue;
        };
        c.out.err(
            "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
        );
        srv.unblock_client(&mut c);
        srv.repl.waiting.retain(|&t| t != tok);
        c.close_after_reply = true;
        c.queue_write(&mut srv.pending_writes);
        srv.clients[tok] = Some(c);
    }
}

/// Makes client `tok` (one without a socket: `Server::add_detached_client`) the link to a
/// master that has just accepted the connection and been sent PING: whatever the caller puts
/// in its query buffer is then read by [`process_link_input`] as the master's bytes. For the
/// `replica_stream` fuzz target; the server itself opens links through `server/net.rs`.
pub fn attach_detached_link(srv: &mut Server, tok: usize) {
    set_master(srv, "fuzz.invalid".into(), 6379);
    let m = srv.repl.master.as_mut().expect("just set");
    m.token = Some(tok);
    m.state = LinkState::ReceivePing;
    if let Some(Some(c)) = srv.clients.get_mut(tok) {
        c.master_link = true;
    }
}

/// REPLICAOF NO ONE (replicationUnsetMaster): the history so far stays valid under the old
/// ID up to our offset (replid2), and a new ID starts.
pub fn unset_master(srv: &mut Server) {
    drop_link(srv);
    srv.repl.master = None;
    srv.repl.replid2 = std::mem::replace(&mut srv.repl.replid, super::random_replid());
    srv.repl.second_replid_offset = srv.repl.master_repl_offset + 1;
    srv.prop.reset_selected_db();
    srv.prop.active = super::stream_wanted(srv);
}

/// Closes the link client, if any, and forgets a snapshot half received.
fn drop_link(srv: &mut Server) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    if let Some(t) = m.transfer.take() {
        if t.file.is_some() {
            let _ = std::fs::remove_file(&t.path);
        }
    }
    if m.state == LinkState::Connected {
        if let Some(Some(c)) = m.token.and_then(|t| srv.clients.get(t)) {
            m.stream_db = c.db;
        }
    }
    if let Some(tok) = m.token.take() {
        srv.pending_close.push(tok);
        if let Some(Some(c)) = srv.clients.get_mut(tok) {
            c.close_asap = true;
            c.master_link = false;
        }
    }
}

/// The link client is gone (freeClient of server.master): connect again from cron.
pub fn link_freed(srv: &mut Server, c: &Client) {
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    if m.token != Some(c.token) {
        return;
    }
    m.token = None;
    if let Some(t) = m.transfer.take() {
        if t.file.is_some() {
            let _ = std::fs::remove_file(&t.path);
        }
    }
    if m.state == LinkState::Connected {
        m.stream_db = c.db;
        log_notice!("Connection with master lost.");
        m.down_since = crate::util::mstime() / 1000;
    }
    m.state = LinkState::Connect;
}

/// replicationCron's replica part: connect when needed, time out a silent master, ACK.
pub fn cron(srv: &mut Server) {
    let now = crate::util::mstime();
    let timeout_ms = srv.config.repl_timeout.max(1) * 1000;
    let Some(m) = srv.repl.master.as_mut() else {
        return;
    };
    match m.state {
        LinkState::Connect => {
            let (host, port) = (m.host.clone(), m.port);
            let tls = srv.config.other_int("tls-replication") != 0;
            match crate::server::net::connect_outbound(srv, &host, port, tls) {
                Ok(tok) => {
                    let m = srv.repl.master.as_mut().unwrap();
                    m.token = Some(tok);
                    m.state = LinkState::Connecting;
                    m.last_io_ms = now;
                    log_notice!("MASTER <-> REPLICA sync started");
                }
                Err(e) => {
                    log_warning!("Unable to connect to MASTER: {}", e);
                }
            }
        }
        LinkState::Connected => {
            if now - m.last_io_ms > timeout_ms {
                log_warning!("MASTER timeout: no data nor PING received...");
                drop_link(srv);
                if let Some(m) = srv.repl.master.as_mut() {
                    m.state = LinkState::Connect;
                }
            } else if now - m.last_ack_ms >= 1000 {
                m.last_ack_ms = now;
                send_ack(srv);
            }
        }
        _ => {
            if now - m.last_io_ms > timeout_ms {
                log_warning!("Timeout connecting to the MASTER...");
                drop_link(srv);
                if let Some(m) = srv.repl.master.as_mut() {
                    m.state = LinkState::Connect;
                }
            }
        }
    }
}

/// Queues REPLCONF ACK <offset> on the link.
fn send_ack(srv: &mut Server) {
    let Some(tok) = srv.repl.master.as_ref().and_then(|m| m.token) else {
        return;
    };
    let off = srv.repl.master_repl_offset.to_string();
    if let Some(Some(c)) = srv.clients.get_mut(tok) {
        let mut buf = Vec::new();
        crate::propagate::encode_command(&mut buf, &[&b"REPLCONF"[..], b"ACK", off.as_bytes()]);
        c.out.raw(&buf);
        c.queue_write(&mut srv.pending_writes);
    }
}

/// The non-blocking connect finished (a writable event on the link): PING starts the
/// handshake. False when the connect failed (the caller frees the client).
pub fn on_connected(srv: &mut Server, c: &mut Client) -> bool {
    let Some(m) = srv.repl.master.as_mut() else {
        return false;
    };
    if m.state != LinkState::Connecting {
        return true;
    }
    if let Err(e) = c.sock.connect_result() {
        log_warning!("Error condition on socket for SYNC: {}", e);
        return false;
    }
    log_notice!("Non blocking connect for SYNC fired the event.");
    m.state = LinkState::ReceivePing;
    m.last_io_ms = crate::util::mstime();
    c.out.raw(b"*1\r\n$4\r\nPING\r\n");
    true
}

/// Takes one line (without CRLF) off the front of the link's query buffer.
fn take_line(c: &mut Client) -> Option<String> {
    let rest = &c.qbuf[c.qpos..];
    let nl = rest.iter().position(|&b| b == b'\n')?;
    let line = String::from_utf8_lossy(&rest[..nl])
        .trim_end_matches('\r')
        .to_string();
    c.qpos += nl + 1;
    Some(line)
}

/// Whatever the link read: handshake replies, the snapshot, or the stream. False when the
/// link must be closed.
pub fn process_link_input(srv: &mut Server, c: &mut Client) -> bool {
    let now = crate::util::mstime();
    let Some(m) = srv.repl.master.as_mut() else {
        return false;
    };
    m.last_io_ms = now;
    loop {
        let state = srv.repl.master.as_ref().map(|m| m.state);
        match state {
            Some(LinkState::ReceivePing) => {
                let Some(line) = take_line(c) else { break };
                if line.starts_with('-')
                    && !line.starts_with("-NOAUTH")
                    && !line.starts_with("-NOPERM")
                    && !line.starts_with("-ERR operation not permitted")
                {
                    log_warning!("Error reply to PING from master: '{}'", line);
                    return false;
                }
                log_notice!("Master replied to PING, replication can continue...");
                send_handshake(srv, c);
            }
            Some(LinkState::ReceiveReplies(n)) => {
                let Some(line) = take_line(c) else { break };
                let m = srv.repl.master.as_mut().unwrap();
                let auth = std::mem::take(&mut m.auth_pending);
                if line.starts_with('-') {
                    if auth {
                        log_warning!("Unable to AUTH to MASTER: {}", line);
                        return false;
                    }
                    // Unknown REPLCONF options are not fatal.
                    log_notice!(
                        "(Non critical) Master does not understand REPLCONF: {}",
                        line
                    );
                }
                if n > 1 {
                    m.state = LinkState::ReceiveReplies(n - 1);
                } else {
                    send_psync(srv, c);
                }
            }
            Some(LinkState::ReceivePsync) => {
                let Some(line) = take_line(c) else { break };
                if line.is_empty() {
                    continue;
                }
                if !psync_reply(srv, c, &line) {
                    return false;
                }
            }
            Some(LinkState::Transfer) => match receive_snapshot(srv, c) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(()) => return false,
            },
            Some(LinkState::Connected) => {
                apply_stream(srv, c);
                break;
            }
            _ => break,
        }
    }
    // Compact what the handshake consumed.
    if c.qpos > 0 && srv.repl.master.as_ref().map(|m| m.state) != Some(LinkState::Connected) {
        c.qbuf.drain(..c.qpos);
        c.qpos = 0;
    }
    true
}

/// Pipelines AUTH (with masterauth), REPLCONF listening-port and REPLCONF capa.
fn send_handshake(srv: &mut Server, c: &mut Client) {
    let mut buf = Vec::new();
    let mut n = 0u8;
    let param = |name: &str| {
        srv.config
            .get(&[name.as_bytes()])
            .first()
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    if let Some(pass) = srv.config.masterauth.clone() {
        match param("masteruser") {
            Some(user) => {
                crate::propagate::encode_command(&mut buf, &[&b"AUTH"[..], user.as_bytes(), &pass])
            }
            None => crate::propagate::encode_command(&mut buf, &[&b"AUTH"[..], &pass]),
        }
        n += 1;
    }
    let announce_port = param("replica-announce-port").filter(|p| p != "0");
    let port = announce_port.unwrap_or_else(|| srv.config.port.to_string());
    if let Some(ip) = param("replica-announce-ip") {
        crate::propagate::encode_command(
            &mut buf,
            &[&b"REPLCONF"[..], b"ip-address", ip.as_bytes()],
        );
        n += 1;
    }
    crate::propagate::encode_command(
        &mut buf,
        &[&b"REPLCONF"[..], b"listening-port", port.as_bytes()],
    );
    crate::propagate::encode_command(
        &mut buf,
        &[&b"REPLCONF"[..], b"capa", b"eof", b"capa", b"psync2"],
    );
    n += 2;
    c.out.raw(&buf);
    let auth = srv.config.masterauth.is_some();
    let m = srv.repl.master.as_mut().unwrap();
    m.state = LinkState::ReceiveReplies(n);
    m.auth_pending = auth;
}

/// Sends PSYNC with our history (replid, offset + 1), or `? -1` when we have none.
fn send_psync(srv: &mut Server, c: &mut Client) {
    let repl = &srv.repl;
    let (id, off) = if repl.backlog.is_some() || repl.master_repl_offset > 0 {
        (
            repl.replid.clone(),
            (repl.master_repl_offset + 1).to_string(),
        )
    } else {
        ("?".to_string(), "-1".to_string())
    };
    if id != "?" {
        log_notice!(
            "Trying a partial resynchronization (request {}:{}).",
            id,
            off
        );
    } else {
        log_notice!("Partial resynchronization not possible (no cached master)");
    }
    let mut buf = Vec::new();
    if srv.repl.failover.state == super::failover::State::InProgress {
        // We hand our role to this replica (FAILOVER): it becomes master on this PSYNC.
        crate::propagate::encode_command(
            &mut buf,
            &[&b"PSYNC"[..], id.as_bytes(), off.as_bytes(), b"FAILOVER"],
        );
    } else {
        crate::propagate::encode_command(&mut buf, &[&b"PSYNC"[..], id.as_bytes(), off.as_bytes()]);
    }
    c.out.raw(&buf);
    srv.repl.master.as_mut().unwrap().state = LinkState::ReceivePsync;
}

/// Handles the master's answer to PSYNC (slaveTryPartialResynchronization's reply half).
fn psync_reply(srv: &mut Server, c: &mut Client, line: &str) -> bool {
    if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (it.next(), it.next()) else {
            log_warning!("Master replied with wrong +FULLRESYNC syntax.");
            return false;
        };
        let m = srv.repl.master.as_mut().unwrap();
        m.pending_replid = id.to_string();
        m.pending_offset = off.parse().unwrap_or(0);
        m.state = LinkState::Transfer;
        log_notice!("Full resync from master: {}:{}", id, off);
        super::failover::psync_answered(srv, true);
        return true;
    }
    if let Some(rest) = line.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        log_notice!("Successful partial resynchronization with master.");
        if !new_id.is_empty() && new_id != srv.repl.replid {
            // The master's history continues ours under a new ID.
            srv.repl.replid2 = std::mem::replace(&mut srv.repl.replid, new_id.to_string());
            srv.repl.second_replid_offset = srv.repl.master_repl_offset + 1;
            log_notice!("Master replication ID changed to {}", new_id);
        }
        ensure_replica_backlog(srv);
        let m = srv.repl.master.as_mut().unwrap();
        m.state = LinkState::Connected;
        m.down_since = 0;
        // The continued stream is in the db it had selected.
        c.db = m.stream_db;
        log_notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        super::failover::psync_answered(srv, true);
        // The stream starts right after; what already arrived is processed by the caller.
        let _ = c;
        return true;
    }
    if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") {
        log_notice!(
            "Master is currently unable to PSYNC but should be in the future: {}",
            line
        );
        return false;
    }
    log_warning!("Unexpected reply to PSYNC from master: {}", line);
    super::failover::psync_answered(srv, false);
    false
}

/// A replica keeps a backlog from its first sync on, so its own replicas (and whoever
/// replaces its master after a promotion) can continue from it.
fn ensure_replica_backlog(srv: &mut Server) {
    if srv.repl.backlog.is_none() {
        let size = srv.config.repl_backlog_size.max(1) as usize;
        srv.repl.backlog = Some(super::backlog::Backlog::new(
            size,
            srv.repl.master_repl_offset,
        ));
    }
}

/// Reads snapshot bytes from the link (readSyncBulkPayload). Ok(true) when the snapshot is
/// complete and loaded (the stream may follow in the same buffer), Ok(false) for more.
fn receive_snapshot(srv: &mut Server, c: &mut Client) -> Result<bool, ()> {
    if srv.repl.master.as_ref().unwrap().transfer.is_none() {
        // Skip the master's keep-alive newlines, then the $<len> / $EOF:<mark> header.
        while c.qpos < c.qbuf.len() && c.qbuf[c.qpos] == b'\n' {
            c.qpos += 1;
        }
        let Some(line) = take_line(c) else {
            return Ok(false);
        };
        if line.is_empty() {
            return Ok(true);
        }
        if let Some(err) = line.strip_prefix('-') {
            log_warning!("MASTER aborted replication with an error: {}", err);
            return Err(());
        }
        let Some(spec) = line.strip_prefix('$') else {
            log_warning!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                line
            );
            return Err(());
        };
        // useDisklessLoad: swapdb always, on-empty-db when we hold no keys.
        let diskless = match srv.config.repl_diskless_load {
            2 => true,
            1 => srv.dbs.iter().all(|d| d.dict.is_empty()),
            _ => false,
        };
        let dest = if diskless { "parser" } else { "disk" };
        let (left, eof_mark) = match spec.strip_prefix("EOF:") {
            Some(mark) if mark.len() == EOF_MARK_LEN => {
                log_notice!(
                    "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {}",
                    dest
                );
                (None, Some(mark.as_bytes().to_vec()))
            }
            _ => {
                let n: u64 = spec.parse().map_err(|_| {
                    log_warning!("Bad protocol from MASTER: {}", line);
                })?;
                log_notice!(
                    "MASTER <-> REPLICA sync: receiving {} bytes from master to {}",
                    n,
                    dest
                );
                (Some(n), None)
            }
        };
        let mut path = String::new();
        let mut file = None;
        if !diskless {
            path = format!(
                "temp-{}.{}.rdb",
                crate::util::mstime() / 1000,
                std::process::id()
            );
            file = Some(std::fs::File::create(&path).map_err(|e| {
                log_warning!(
                    "Opening the temp file needed for MASTER <-> REPLICA synchronization: {}",
                    crate::persistence::io_msg(&e)
                );
            })?);
        }
        let m = srv.repl.master.as_mut().unwrap();
        m.transfer = Some(Transfer {
            file,
            mem: Vec::new(),
            path,
            left,
            eof_mark,
            tail: Vec::new(),
            total: 0,
        });
    }
    let t = srv.repl.master.as_mut().unwrap().transfer.as_mut().unwrap();
    let avail = &c.qbuf[c.qpos..];
    let done = match (t.left, t.eof_mark.is_some()) {
        (Some(left), _) => {
            let n = (left as usize).min(avail.len());
            t.write(&avail[..n])?;
            t.total += n as u64;
            c.qpos += n;
            t.left = Some(left - n as u64);
            left - n as u64 == 0
        }
        (None, true) => {
            // Everything goes to the file; the mark is cut off at the end.
            t.write(avail)?;
            t.total += avail.len() as u64;
            t.tail.extend_from_slice(avail);
            if t.tail.len() > EOF_MARK_LEN {
                t.tail.drain(..t.tail.len() - EOF_MARK_LEN);
            }
            c.qpos = c.qbuf.len();
            t.eof_mark.as_ref() == Some(&t.tail)
        }
        _ => return Err(()),
    };
    if c.qpos == c.qbuf.len() {
        c.qbuf.clear();
        c.qpos = 0;
    }
    if !done {
        return Ok(false);
    }
    let mut t = srv.repl.master.as_mut().unwrap().transfer.take().unwrap();
    let Some(file) = t.file.take() else {
        if t.eof_mark.is_some() {
            t.mem.truncate(t.mem.len() - EOF_MARK_LEN);
        }
        load_from_memory(srv, &t.mem)?;
        return Ok(finish_sync(srv, c));
    };
    if t.eof_mark.is_some() {
        file.set_len(t.total - EOF_MARK_LEN as u64)
            .map_err(|_| ())?;
    }
    file.sync_all().map_err(|_| ())?;
    drop(file);
    let filename = srv.config.dbfilename.clone();
    if let Err(e) = std::fs::rename(&t.path, &filename) {
        log_warning!(
            "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {}",
            filename,
            crate::persistence::io_msg(&e)
        );
        let _ = std::fs::remove_file(&t.path);
        return Err(());
    }
    log_notice!("MASTER <-> REPLICA sync: Flushing old data");
    for db in srv.dbs.iter_mut() {
        db.clear();
    }
    // emptyData: the master's libraries replace ours.
    srv.scripting.functions.clear();
    log_notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    if let Err(e) = crate::persistence::load_file(srv, &filename, false) {
        if let crate::persistence::LoadFailure::Corrupt(e) = &e {
            crate::persistence::log_load_error(e);
        }
        log_warning!(
            "Failed trying to load the MASTER synchronization DB from disk, check server logs."
        );
        // Never half a snapshot: what loaded before the error goes too.
        for db in srv.dbs.iter_mut() {
            db.clear();
        }
        return Err(());
    }
    Ok(finish_sync(srv, c))
}

/// A diskless load (repl-diskless-load on-empty-db or swapdb) of a snapshot held in memory.
/// With swapdb the old dataset is set aside and comes back if the snapshot does not load;
/// otherwise it is flushed first, as Redis does.
fn load_from_memory(srv: &mut Server, rdb: &[u8]) -> Result<(), ()> {
    let swap = srv.config.repl_diskless_load == 2;
    let backup = if swap {
        let fresh: Vec<crate::db::Db> = (0..srv.dbs.len()).map(crate::db::Db::new).collect();
        Some(std::mem::replace(&mut srv.dbs, fresh))
    } else {
        log_notice!("MASTER <-> REPLICA sync: Flushing old data");
        for db in srv.dbs.iter_mut() {
            db.clear();
        }
        None
    };
    log_notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    if let Err(e) = crate::persistence::load_bytes(srv, rdb, false) {
        if let crate::persistence::LoadFailure::Corrupt(e) = &e {
            crate::persistence::log_load_error(e);
        }
        log_warning!(
            "Failed trying to load the MASTER synchronization DB from socket, check server logs."
        );
        if let Some(old) = backup {
            log_notice!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
            srv.dbs = old;
        } else {
            for db in srv.dbs.iter_mut() {
                db.clear();
            }
        }
        return Err(());
    }
    if backup.is_some() {
        log_notice!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        log_notice!("MASTER <-> REPLICA sync: Discarding old DB in background");
    }
    Ok(())
}

/// The snapshot is loaded (the end of readSyncBulkPayload): the master's history becomes
/// ours, our own replicas resync, the master hears our first ACK. Returns true (the link
/// goes on with the stream).
fn finish_sync(srv: &mut Server, c: &mut Client) -> bool {
    // Our history is now the master's (the FULLRESYNC reply says where it stands).
    srv.repl.loaded_info = None;
    let m = srv.repl.master.as_mut().unwrap();
    let (id, off) = (std::mem::take(&mut m.pending_replid), m.pending_offset);
    m.state = LinkState::Connected;
    m.down_since = 0;
    srv.repl.replid = id;
    srv.repl.replid2 = "0".repeat(40);
    srv.repl.second_replid_offset = -1;
    srv.repl.master_repl_offset = off;
    srv.repl.backlog = None;
    ensure_replica_backlog(srv);
    srv.prop.active = super::stream_wanted(srv);
    // Our own replicas had another history: they sync again.
    for tok in srv.repl.replicas.clone() {
        if let Some(Some(r)) = srv.clients.get_mut(tok) {
            r.close_asap = true;
            srv.pending_close.push(tok);
        }
    }
    log_notice!("MASTER <-> REPLICA sync: Finished with success");
    // The first ACK at once: a master that streamed the snapshot (diskless) holds the stream
    // until it hears that the snapshot is loaded.
    let off = srv.repl.master_repl_offset.to_string();
    let mut buf = Vec::new();
    crate::propagate::encode_command(&mut buf, &[&b"REPLCONF"[..], b"ACK", off.as_bytes()]);
    c.out.raw(&buf);
    c.queue_write(&mut srv.pending_writes);
    // An AOF restarts from the new dataset.
    if srv.aof.is_some() {
        let _ = crate::persistence::aof_rewrite::bgrewriteaof(srv, false);
    }
    true
}

impl Transfer {
    /// Appends received snapshot bytes to the temp file or the memory buffer.
    fn write(&mut self, data: &[u8]) -> Result<(), ()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(data).map_err(|e| {
                log_warning!(
                    "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {}",
                    crate::persistence::io_msg(&e)
                );
            }),
            None => {
                self.mem.extend_from_slice(data);
                Ok(())
            }
        }
    }
}

/// Runs the master's commands from the link's query buffer, unanswered, and proxies every
/// byte they took to our backlog and sub-replicas (replicationFeedStreamFromMasterStream).
fn apply_stream(srv: &mut Server, c: &mut Client) {
    let start = c.qpos;
    let data: Vec<u8> = c.qbuf[start..].to_vec();
    let before = data.len();
    let keep = c.out.buf.len();
    srv.executing_master = true;
    crate::server::net::process_input(srv, c);
    srv.executing_master = false;
    c.out.buf.truncate(keep.max(c.out.sent));
    c.out.errors.clear();
    let after = c.qbuf.len() - c.qpos;
    let consumed = before - after;
    if consumed > 0 {
        super::feed(srv, &data[..consumed]);
    }
    let ack = srv
        .repl
        .master
        .as_mut()
        .is_some_and(|m| std::mem::take(&mut m.ack_requested));
    if ack {
        let off = srv.repl.master_repl_offset.to_string();
        let mut buf = Vec::new();
        crate::propagate::encode_command(&mut buf, &[&b"REPLCONF"[..], b"ACK", off.as_bytes()]);
        c.out.raw(&buf);
    }
}

/// The replication section of INFO for a replica: the master part before the common one.
pub fn info_master_part(srv: &Server) -> String {
    let Some(m) = srv.repl.master.as_ref() else {
        return String::new();
    };
    let now = crate::util::mstime();
    let up = m.state == LinkState::Connected;
    let mut s = format!(
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
        m.host,
        m.port,
        if up { "up" } else { "down" },
        if up { (now - m.last_io_ms) / 1000 } else { -1 },
        (m.state == LinkState::Transfer) as u8,
        srv.repl.master_repl_offset,
        srv.repl.master_repl_offset,
    );
    if let (LinkState::Transfer, Some(t)) = (m.state, m.transfer.as_ref()) {
        let total = t.left.map_or(-1, |l| (l + t.total) as i64);
        s.push_str(&format!(
            "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            total,
            t.total,
            t.left.map_or(-1, |l| l as i64),
            if total > 0 { t.total as f64 * 100.0 / total as f64 } else { 0.0 },
            (now - m.last_io_ms) / 1000
        ));
    }
    if !up {
        let since = if m.down_since > 0 {
            now / 1000 - m.down_since
        } else {
            -1
        };
        s.push_str(&format!("master_link_down_since_seconds:{since}\r\n"));
    }
    s.push_str(&format!(
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
        srv.config
            .get(&[b"replica-priority"])
            .first()
            .map_or("100".to_string(), |(_, v)| v.clone()),
        srv.config.replica_read_only as u8
    ));
    s
}

/// ROLE for a replica: ["slave", host, port, state, offset].
pub fn role_reply(srv: &Server, c: &mut Client) {
    let m = srv.repl.master.as_ref().unwrap();
    c.out.array(5);
    c.out.bulk(b"slave");
    c.out.bulk(m.host.as_bytes());
    c.out.int(i64::from(m.port));
    let state: &[u8] = match m.state {
        LinkState::Connect => b"connect",
        LinkState::Connecting => b"connecting",
        LinkState::Transfer => b"sync",
        LinkState::Connected => b"connected",
        _ => b"handshake",
    };
    c.out.bulk(state);
    c.out.int(if m.state == LinkState::Connected {
        srv.repl.master_repl_offset
    } else {
        -1
    });
}
