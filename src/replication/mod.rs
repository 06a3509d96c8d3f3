//! Replication (replication.c), the master's side: replicas attach with SYNC or PSYNC, get a
//! snapshot and then the stream of writes the propagation layer emits, or continue from the
//! backlog after a broken link.
//!
//! ```text
//!  replica                         master (this server)
//!  -------                         ------
//!  PING, REPLCONF listening-port,  record the replica's port and capabilities
//!  REPLCONF capa eof psync2
//!  PSYNC <replid> <offset>   --->  backlog holds <offset>?  +CONTINUE <replid>, backlog tail,
//!                                                            then the live stream
//!                                  else                      +FULLRESYNC <replid> <offset>
//!                                    a fork writes the snapshot; the stream from the fork
//!                                    on is kept for the replica meanwhile
//!                                    disk:     -> dump.rdb, sent as the socket drains
//!                            <---              $<len>\r\n<rdb>, that stream, then live
//!                                    diskless: -> pipe -> every waiting replica's socket
//!                            <---              $EOF:<mark>\r\n<rdb><mark>
//!  REPLCONF ACK <offset>     --->              then that stream, then live
//!  REPLCONF ACK <offset> (1/s) --> lag and acknowledged offset (INFO, ROLE, WAIT)
//! ```
//!
//! A diskless sync (repl-diskless-sync, when every waiting replica announced `capa eof`)
//! waits repl-diskless-sync-delay seconds so that replicas arriving together share one fork;
//! `server/net.rs` pumps the pipe into the replicas' output a chunk at a time, the next
//! chunk only once every replica took the last ([`RdbPipe`]).
//!
//! The stream is exactly what the AOF gets (`propagate::feed_consumers` hands it to both),
//! plus a PING every repl-ping-replica-period seconds. Its byte count is
//! `master_repl_offset`; the last repl-backlog-size bytes stay in the [`backlog::Backlog`],
//! created when the first replica attaches (with a new replication ID) and dropped after
//! repl-backlog-ttl seconds without replicas.
//!
//! Replicas are ordinary clients (their socket is served by `server/net.rs`) with a
//! [`ReplicaState`]; handlers and this module only queue bytes in their output buffers. The
//! snapshot file is sent in chunks as the socket drains ([`refill_bulk`]).

pub mod backlog;
pub mod failover;
pub mod replica;

use crate::server::client::Client;
use crate::server::Server;
use crate::{log_notice, log_warning};
use std::io::Read;

/// Bytes of the snapshot read into a replica's output buffer at a time (PROTO_IOBUF_LEN).
const BULK_CHUNK: usize = 16 * 1024;

/// Where a replica is in its synchronisation (the master's view, slave->replstate).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum SyncState {
    /// Asked for a full sync; waits for a BGSAVE to start (another child runs).
    WaitBgsaveStart,
    /// Its BGSAVE runs; the stream since the fork collects in `pending`.
    WaitBgsaveEnd,
    /// The snapshot is being sent.
    SendBulk,
    /// Gets the live stream.
    Online,
}

impl SyncState {
    fn name(self) -> &'static str {
        match self {
            SyncState::WaitBgsaveStart => "wait_bgsave",
            SyncState::WaitBgsaveEnd => "wait_bgsave",
            SyncState::SendBulk => "send_bulk",
            SyncState::Online => "online",
        }
    }
}

/// What the master knows of one replica client (`Client::replica`).
pub struct ReplicaState {
    /// Sync progress.
    pub state: SyncState,
    /// The stream since its snapshot's fork, sent after the snapshot.
    pending: Vec<u8>,
    /// The snapshot being sent and the bytes of it still to read.
    bulk: Option<(std::fs::File, u64)>,
    /// REPLCONF capa eof: it can read a snapshot streamed with an EOF mark (diskless).
    capa_eof: bool,
    /// When it asked for the sync, Unix ms (repl-diskless-sync-delay counts from here).
    since_ms: i64,
    /// The offset its +FULLRESYNC named (psync_initial_offset).
    initial_offset: i64,
    /// Its snapshot streams through the diskless pipe rather than from the dump file.
    to_socket: bool,
    /// Online after a diskless sync, but the stream waits for its first REPLCONF ACK (it may
    /// still be loading): repl_start_cmd_stream_on_ack.
    stream_on_ack: bool,
    /// REPLCONF listening-port.
    pub listening_port: u16,
    /// REPLCONF ip-address.
    pub announced_ip: Option<String>,
    /// How the log names it: ip:listening-port (replicationGetSlaveName).
    pub name: String,
    /// The offset it last acknowledged.
    pub ack_offset: i64,
    /// When it last acknowledged, Unix ms.
    pub ack_ms: i64,
}

impl ReplicaState {
    /// Stream bytes held for it until its snapshot is in (they count against its output
    /// buffer limit, as in Redis, where they sit in its output buffer).
    pub fn held_bytes(&self) -> u64 {
        self.pending.len() as u64
    }
}

/// Options a connection announced with REPLCONF before SYNC/PSYNC (kept on the client until
/// it becomes a replica).
#[derive(Default, Clone)]
pub struct Announced {
    /// listening-port.
    pub port: u16,
    /// ip-address.
    pub ip: Option<String>,
    /// capa psync2.
    pub psync2: bool,
    /// capa eof.
    pub eof: bool,
}

/// The replication state (`Server::repl`).
pub struct Replication {
    /// The current replication ID (master_replid).
    pub replid: String,
    /// The previous one, valid up to `second_replid_offset` (after a promotion).
    pub replid2: String,
    /// Bytes of stream produced under the current history.
    pub master_repl_offset: i64,
    /// Offsets up to which replid2 is valid (-1: none).
    pub second_replid_offset: i64,
    /// The backlog, once a replica attached (or, on a replica, from its first sync).
    pub backlog: Option<backlog::Backlog>,
    /// Our master, when we are a replica (server.masterhost).
    pub master: Option<replica::MasterLink>,
    /// Tokens of the replica clients, in attach order.
    pub replicas: Vec<usize>,
    /// Unix seconds since when no replica is attached (for repl-backlog-ttl).
    pub no_replicas_since: i64,
    /// The running BGSAVE serves replicas.
    pub bgsave_for_replicas: bool,
    /// The last once-a-second tick of [`cron`], Unix ms.
    last_tick_ms: i64,
    /// The last PING fed to replicas, Unix ms.
    last_ping_ms: i64,
    /// Scratch for one stream write.
    scratch: Vec<u8>,
    /// Clients blocked in WAIT.
    pub waiting: Vec<usize>,
    /// repl-id and repl-offset of the RDB loaded at start-up, applied by [`restore_from_rdb`].
    pub loaded_info: Option<(String, i64, usize)>,
    /// A WAIT is waiting: ask replicas for an ACK before sleeping.
    pub get_ack_pending: bool,
    /// A diskless sync in progress: the pipe its child streams through.
    pub rdb_pipe: Option<RdbPipe>,
    /// FAILOVER's state.
    pub failover: failover::Failover,
}

/// The parent's end of a diskless sync (server.rdb_pipe_*): what the child writes into the
/// pipe is read a chunk at a time and queued to every target replica, the next chunk only
/// once each of them took the last (`server/net.rs` does the I/O).
pub struct RdbPipe {
    /// The non-blocking read end, registered with the poller.
    pub fd: i32,
    /// The poller said readable and no read has hit EAGAIN since.
    pub readable: bool,
    /// Tokens of the replicas it streams to.
    pub targets: Vec<usize>,
    /// The chunk last read from the pipe (PROTO_IOBUF_LEN bytes), reused for every read.
    pub chunk: Box<[u8]>,
}

impl Replication {
    /// A master's initial state with a fresh ID.
    pub fn new(replid: String) -> Replication {
        Replication {
            replid,
            replid2: "0".repeat(40),
            master_repl_offset: 0,
            second_replid_offset: -1,
            backlog: None,
            master: None,
            replicas: Vec::new(),
            no_replicas_since: crate::util::mstime() / 1000,
            bgsave_for_replicas: false,
            last_tick_ms: 0,
            last_ping_ms: 0,
            scratch: Vec::new(),
            waiting: Vec::new(),
            loaded_info: None,
            get_ack_pending: false,
            rdb_pipe: None,
            failover: failover::Failover::default(),
        }
    }
}

/// 40 random hex digits (getRandomHexChars).
pub fn random_replid() -> String {
    let mut bytes = [0u8; 20];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// After the start-up load (loadDataFromDisk's replication part): the replication position
/// the RDB recorded becomes ours. A replica continues its master's history from it (PSYNC
/// with that ID and offset); a master keeps it as replid2, so replicas that were in sync when
/// it stopped can continue partially after its restart.
pub fn restore_from_rdb(srv: &mut Server) {
    let Some((id, offset, db)) = srv.repl.loaded_info.take() else {
        return;
    };
    if let Some(m) = srv.repl.master.as_mut() {
        m.stream_db = db;
        srv.repl.replid = id;
        srv.repl.master_repl_offset = offset;
        return;
    }
    srv.repl.replid2 = id;
    srv.repl.second_replid_offset = offset + 1;
    srv.repl.master_repl_offset += offset;
    let size = srv.config.repl_backlog_size.max(1) as usize;
    srv.repl.backlog = Some(backlog::Backlog::new(size, srv.repl.master_repl_offset));
    srv.prop.active = true;
    srv.prop.reset_selected_db();
}

/// repl-stream-db for a snapshot taken now (rdbPopulateSaveInfo): a master's stream's
/// selected db; a replica's, the db its master's stream is in.
pub fn stream_db(srv: &Server) -> usize {
    match srv.repl.master.as_ref() {
        Some(m) => m
            .token
            .filter(|_| m.state == replica::LinkState::Connected)
            .and_then(|t| srv.clients.get(t)?.as_ref())
            .map_or(m.stream_db, |c| c.db),
        None => srv.prop.selected_db().unwrap_or(0),
    }
}

/// True while something consumes the stream: the AOF, or replication (a backlog exists).
pub fn stream_wanted(srv: &Server) -> bool {
    srv.aof.is_some() || (srv.repl.backlog.is_some() && !srv.repl.is_replica())
}

/// Hands stream bytes to replication (replicationFeedSlaves): the backlog, every online
/// replica's output, and the held stream of replicas whose snapshot is being made or sent.
pub fn feed(srv: &mut Server, data: &[u8]) {
    let Some(b) = srv.repl.backlog.as_mut() else {
        return;
    };
    b.feed(data);
    srv.repl.master_repl_offset += data.len() as i64;
    if srv.repl.replicas.is_empty() {
        return;
    }
    let now = crate::util::mstime();
    let limit = srv.config.client_output_buffer_limit[1];
    for &tok in &srv.repl.replicas {
        let Some(Some(c)) = srv.clients.get_mut(tok) else {
            continue;
        };
        let Some(r) = c.replica.as_mut() else {
            continue;
        };
        if c.close_asap {
            continue;
        }
        let held = match r.state {
            SyncState::WaitBgsaveStart => continue,
            SyncState::WaitBgsaveEnd | SyncState::SendBulk => true,
            SyncState::Online => r.stream_on_ack,
        };
        if held {
            r.pending.extend_from_slice(data);
        } else {
            c.out.raw(data);
        }
        if crate::server::net::output_buffer_limit_reached(c, limit, now) {
            log_warning!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                c.info_line(now)
            );
            c.close_asap = true;
            srv.pending_close.push(tok);
        } else if !held {
            c.queue_write(&mut srv.pending_writes);
        }
    }
}

/// Creates the backlog when the first replica attaches (createReplicationBacklog), under a
/// new replication ID (a master that had none starts a new history).
fn ensure_backlog(srv: &mut Server) {
    if srv.repl.backlog.is_some() {
        return;
    }
    srv.repl.replid = random_replid();
    srv.repl.replid2 = "0".repeat(40);
    srv.repl.second_replid_offset = -1;
    let size = srv.config.repl_backlog_size.max(1) as usize;
    srv.repl.backlog = Some(backlog::Backlog::new(size, srv.repl.master_repl_offset));
    srv.prop.active = true;
    srv.prop.reset_selected_db();
}

/// SYNC and PSYNC (syncCommand): a partial resync from the backlog when the replica's history
/// and offset allow it, else a full one.
pub fn sync_command(
    srv: &mut Server,
    c: &mut Client,
    psync: Option<(&[u8], &[u8])>,
    failover: bool,
) {
    if c.replica.is_some() {
        return;
    }
    // PSYNC ... FAILOVER: our master hands us its role (FAILOVER on its side), then continues
    // as our replica.
    if let (true, Some((id, _))) = (failover, psync) {
        if id != srv.repl.replid.as_bytes() {
            return c.out.err("ERR PSYNC FAILOVER replid must match my replid.");
        }
        replica::unset_master(srv);
        log_notice!(
            "MASTER MODE enabled (failover request from '{}')",
            c.info_line(srv.cmd_time_ms)
        );
    }
    if srv
        .repl
        .master
        .as_ref()
        .is_some_and(|m| m.state != replica::LinkState::Connected)
    {
        return c
            .out
            .err("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    if c.out.pending() > 0 {
        return c
            .out
            .err("ERR SYNC and PSYNC are invalid with pending output");
    }
    let announced = c.repl_announced.take().map(|b| *b).unwrap_or_default();
    if let Some((id, off)) = psync {
        if try_partial(srv, c, id, off, announced.psync2) {
            attach(srv, c, SyncState::Online, &announced);
            // try_partial accepted it, so the offset parsed.
            let from = crate::util::num::parse_i64(off).unwrap_or(0);
            log_notice!(
                "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
                replica_name(c, &announced),
                srv.repl.master_repl_offset + 1 - from,
                from
            );
            return;
        }
        let id = String::from_utf8_lossy(id);
        if id != "?" {
            // A failed PSYNC (not one that asked for a full sync on purpose).
            srv.stats.sync_partial_err += 1;
            log_notice!(
                "Full resync requested by replica {}",
                replica_name(c, &announced)
            );
        } else {
            log_notice!(
                "Replica {} asks for synchronization",
                replica_name(c, &announced)
            );
        }
    } else {
        log_notice!(
            "Replica {} asks for synchronization",
            replica_name(c, &announced)
        );
    }
    srv.stats.sync_full += 1;
    ensure_backlog(srv);
    attach(srv, c, SyncState::WaitBgsaveStart, &announced);
    c.replica_psync = psync.is_some();
    let child = srv.persist.child.as_ref().map(|ch| (ch.kind, ch.to_socket));
    match child {
        Some((crate::persistence::bgsave::ChildKind::Rdb, false)) => {
            // A snapshot to disk runs: share it with a replica already waiting for it.
            if !attach_to_running_snapshot(srv, c) {
                log_notice!(
                    "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
                );
            }
        }
        Some((crate::persistence::bgsave::ChildKind::Rdb, true)) => {
            log_notice!("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
        }
        _ if srv.config.repl_diskless_sync
            && announced.eof
            && srv.config.repl_diskless_sync_delay > 0 =>
        {
            // The cron starts it after the delay, so that more replicas can join it.
            log_notice!("Delay next BGSAVE for diskless SYNC");
        }
        Some(_) => log_notice!(
            "No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed"
        ),
        None => start_bgsave_for_replicas(srv, Some(c)),
    }
}

/// Lets `c` share the running disk snapshot when another replica already waits for it
/// (syncCommand's first case): same +FULLRESYNC offset, and a copy of the stream that
/// replica has held since the fork.
fn attach_to_running_snapshot(srv: &mut Server, c: &mut Client) -> bool {
    if !srv.repl.bgsave_for_replicas {
        return false;
    }
    let other = srv.repl.replicas.iter().find_map(|&t| {
        let r = srv.clients.get(t)?.as_ref()?.replica.as_ref()?;
        (r.state == SyncState::WaitBgsaveEnd && !r.to_socket)
            .then(|| (r.pending.clone(), r.initial_offset))
    });
    let Some((pending, offset)) = other else {
        return false;
    };
    let Some(r) = c.replica.as_mut() else {
        return false;
    };
    r.pending = pending;
    r.initial_offset = offset;
    r.state = SyncState::WaitBgsaveEnd;
    if c.replica_psync {
        c.out
            .raw(format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset).as_bytes());
    }
    log_notice!("Waiting for end of BGSAVE for SYNC");
    true
}

/// Makes `c` a replica in `state`.
fn attach(srv: &mut Server, c: &mut Client, state: SyncState, a: &Announced) {
    c.replica = Some(Box::new(ReplicaState {
        state,
        pending: Vec::new(),
        bulk: None,
        capa_eof: a.eof,
        since_ms: crate::util::mstime(),
        initial_offset: 0,
        to_socket: false,
        stream_on_ack: false,
        listening_port: a.port,
        announced_ip: a.ip.clone(),
        name: replica_name(c, a),
        ack_offset: 0,
        ack_ms: crate::util::mstime(),
    }));
    srv.repl.replicas.push(c.token);
}

/// How the log names a replica: ip:listening-port.
fn replica_name(c: &Client, a: &Announced) -> String {
    let ip = a.ip.clone().unwrap_or_else(|| {
        c.addr
            .rsplit_once(':')
            .map_or(c.addr.clone(), |(h, _)| h.to_string())
    });
    format!("{}:{}", ip, a.port)
}

/// masterTryPartialResynchronization: true when `+CONTINUE` and the backlog tail were queued.
fn try_partial(srv: &mut Server, c: &mut Client, id: &[u8], off: &[u8], psync2: bool) -> bool {
    let Some(offset) = crate::util::num::parse_i64(off) else {
        return false;
    };
    let repl = &srv.repl;
    let same = id == repl.replid.as_bytes()
        || (id == repl.replid2.as_bytes() && offset <= repl.second_replid_offset);
    if !same {
        return false;
    }
    let Some(tail) = repl.backlog.as_ref().and_then(|b| b.copy_from(offset)) else {
        return false;
    };
    srv.stats.sync_partial_ok += 1;
    if psync2 {
        c.out
            .raw(format!("+CONTINUE {}\r\n", srv.repl.replid).as_bytes());
    } else {
        c.out.raw(b"+CONTINUE\r\n");
    }
    c.out.raw(&tail);
    true
}

/// Forks the snapshot for every replica waiting to start one (startBgsaveForReplication),
/// answering each `+FULLRESYNC <replid> <offset>`. `current` is the replica whose command is
/// running (out of its slot).
fn start_bgsave_for_replicas(srv: &mut Server, current: Option<&mut Client>) {
    // The snapshot streams to the replicas' sockets only if every one of them can read it.
    let waiting = |c: &Client| {
        c.replica
            .as_ref()
            .filter(|r| r.state == SyncState::WaitBgsaveStart)
            .map(|r| r.capa_eof)
    };
    let mut all_eof = current.as_deref().and_then(waiting).unwrap_or(true);
    let mut targets: Vec<usize> = current
        .as_deref()
        .filter(|c| waiting(c).is_some())
        .map(|c| c.token)
        .into_iter()
        .collect();
    for &t in &srv.repl.replicas {
        if let Some(eof) = srv
            .clients
            .get(t)
            .and_then(|c| c.as_deref())
            .and_then(waiting)
        {
            all_eof &= eof;
            targets.push(t);
        }
    }
    let to_socket = srv.config.repl_diskless_sync && all_eof;
    log_notice!(
        "Starting BGSAVE for SYNC with target: {}",
        if to_socket {
            "replicas sockets"
        } else {
            "disk"
        }
    );
    // Every waiting replica's stream starts at the snapshot: with a SELECT.
    srv.prop.reset_selected_db();
    let offset = srv.repl.master_repl_offset;
    let ok = if to_socket {
        match crate::persistence::bgsave::start_to_socket(srv) {
            Ok(fd) => {
                if let Err(e) = crate::server::net::register_rdb_pipe(srv, fd) {
                    log_warning!("Can't register the diskless sync pipe: {}", e);
                }
                srv.repl.rdb_pipe = Some(RdbPipe {
                    fd,
                    readable: false,
                    targets,
                    chunk: vec![0; 16 * 1024].into_boxed_slice(),
                });
                true
            }
            Err(_) => false,
        }
    } else {
        crate::persistence::bgsave::start(srv).is_ok()
    };
    if ok {
        srv.repl.bgsave_for_replicas = true;
    }
    let reply = format!("+FULLRESYNC {} {}\r\n", srv.repl.replid, offset);
    let update = |c: &mut Client, pending_close: &mut Vec<usize>| {
        let Some(r) = c.replica.as_mut() else {
            return;
        };
        if r.state != SyncState::WaitBgsaveStart {
            return;
        }
        if ok {
            r.state = SyncState::WaitBgsaveEnd;
            r.to_socket = to_socket;
            r.initial_offset = offset;
            // A replica that used the old SYNC gets the snapshot without this line.
            if c.replica_psync {
                c.out.raw(reply.as_bytes());
            }
        } else {
            c.out
                .raw(b"-ERR BGSAVE failed, replication can't continue\r\n");
            c.close_after_reply = true;
            pending_close.push(c.token);
        }
    };
    if let Some(c) = current {
        update(c, &mut srv.pending_close);
    }
    let toks = srv.repl.replicas.clone();
    for tok in toks {
        if let Some(Some(c)) = srv.clients.get_mut(tok) {
            update(c, &mut srv.pending_close);
            c.queue_write(&mut srv.pending_writes);
        }
    }
}

/// A BGSAVE finished (updateSlavesWaitingBgsave): replicas waiting for it start receiving the
/// file, or are dropped if it failed.
pub fn bgsave_done(srv: &mut Server, ok: bool) {
    if !srv.repl.bgsave_for_replicas {
        return;
    }
    srv.repl.bgsave_for_replicas = false;
    if srv.repl.rdb_pipe.is_some() {
        // What the child wrote and the pump has not read yet goes out first.
        crate::server::net::pump_rdb_pipe(srv, true);
    }
    let file = srv.config.dbfilename.clone();
    let toks = srv.repl.replicas.clone();
    for tok in toks {
        let Some(Some(c)) = srv.clients.get_mut(tok) else {
            continue;
        };
        let Some(r) = c.replica.as_mut() else {
            continue;
        };
        if r.state != SyncState::WaitBgsaveEnd {
            continue;
        }
        if r.to_socket {
            if ok {
                log_notice!(
                    "Streamed RDB transfer with replica {} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
                    r.name
                );
                // Online at once (WAIT counts it), but its stream waits for its first ACK.
                r.state = SyncState::Online;
                r.stream_on_ack = true;
                r.ack_ms = crate::util::mstime();
                log_notice!("Synchronization with replica {} succeeded", r.name);
            } else {
                log_warning!("SYNC failed. BGSAVE child returned an error");
                c.close_asap = true;
                srv.pending_close.push(tok);
            }
            continue;
        }
        let opened = if ok {
            std::fs::File::open(&file).and_then(|f| f.metadata().map(|m| (f, m.len())))
        } else {
            Err(std::io::Error::other("BGSAVE failed"))
        };
        match opened {
            Ok((f, len)) => {
                r.state = SyncState::SendBulk;
                r.bulk = Some((f, len));
                c.out.raw(format!("${len}\r\n").as_bytes());
                let _ = refill_bulk(c);
                c.queue_write(&mut srv.pending_writes);
            }
            Err(e) => {
                log_warning!(
                    "SYNC failed. BGSAVE child returned an error: {}",
                    crate::persistence::io_msg(&e)
                );
                c.close_asap = true;
                srv.pending_close.push(tok);
            }
        }
    }
}

/// When a replica's output has drained while it is being sent the snapshot, queues the next
/// chunk of the file, and once all is sent the stream held since the fork (it is online from
/// then on). True when something was queued. Called by the write path (`server/net.rs`).
pub fn refill_bulk(c: &mut Client) -> bool {
    let Some(r) = c.replica.as_mut() else {
        return false;
    };
    if r.state != SyncState::SendBulk || c.out.pending() > 0 {
        return false;
    }
    let Some((f, left)) = r.bulk.as_mut() else {
        return false;
    };
    if *left > 0 {
        // Read straight into the (drained) output buffer.
        let want = (*left).min(BULK_CHUNK as u64) as usize;
        let start = c.out.buf.len();
        c.out.buf.resize(start + want, 0);
        match f.read(&mut c.out.buf[start..]) {
            Ok(n) if n > 0 => {
                *left -= n as u64;
                c.out.buf.truncate(start + n);
                return true;
            }
            _ => {
                c.out.buf.truncate(start);
                log_warning!("Read error sending DB to replica");
                c.close_asap = true;
                return false;
            }
        }
    }
    r.bulk = None;
    r.state = SyncState::Online;
    r.ack_ms = crate::util::mstime();
    let pending = std::mem::take(&mut r.pending);
    log_notice!("Synchronization with replica {} succeeded", r.name);
    c.out.raw(&pending);
    !pending.is_empty()
}

/// REPLCONF <option> <value> ... (replconfCommand).
pub fn replconf_command(srv: &mut Server, c: &mut Client, args: &crate::commands::Args) {
    if args.len().is_multiple_of(2) {
        return c.out.err("ERR syntax error");
    }
    let mut i = 1;
    while i < args.len() {
        let (opt, val) = (args.get(i), args.get(i + 1));
        if opt.eq_ignore_ascii_case(b"listening-port") {
            let Some(p) = crate::util::num::parse_i64(val) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            c.repl_announced.get_or_insert_with(Default::default).port = p as u16;
        } else if opt.eq_ignore_ascii_case(b"ip-address") {
            let ip = String::from_utf8_lossy(val).into_owned();
            // NET_HOST_STR_LEN: a host name is accepted as well as an address.
            if ip.len() >= 256 {
                return c.out.err(&format!(
                    "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    ip.len()
                ));
            }
            c.repl_announced.get_or_insert_with(Default::default).ip = Some(ip);
        } else if opt.eq_ignore_ascii_case(b"capa") {
            let a = c.repl_announced.get_or_insert_with(Default::default);
            if val.eq_ignore_ascii_case(b"eof") {
                a.eof = true;
            } else if val.eq_ignore_ascii_case(b"psync2") {
                a.psync2 = true;
            }
        } else if opt.eq_ignore_ascii_case(b"ack") {
            // From a replica: never answered.
            if let Some(r) = c.replica.as_mut() {
                if let Some(off) = crate::util::num::parse_i64(val) {
                    if off > r.ack_offset {
                        r.ack_offset = off;
                    }
                    r.ack_ms = crate::util::mstime();
                }
                if r.stream_on_ack && r.state == SyncState::Online {
                    // replicaStartCommandStream: the replica loaded its snapshot.
                    r.stream_on_ack = false;
                    let pending = std::mem::take(&mut r.pending);
                    c.out.raw(&pending);
                    c.queue_write(&mut srv.pending_writes);
                }
            }
            return;
        } else if opt.eq_ignore_ascii_case(b"getack") {
            // From our master: an ACK goes back after this read (never a reply).
            if c.master_link {
                if let Some(m) = srv.repl.master.as_mut() {
                    m.ack_requested = true;
                }
            }
            return;
        } else if opt.eq_ignore_ascii_case(b"rdb-only")
            || opt.eq_ignore_ascii_case(b"rdb-filter-only")
        {
            // Accepted, as Redis accepts them from redis-cli --rdb.
        } else {
            return c.out.err(&format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            ));
        }
        i += 2;
    }
    c.out.ok();
}

/// Online replicas whose last acknowledgement is at most min-replicas-max-lag seconds old
/// (refreshGoodSlavesCount).
pub fn good_replicas(srv: &Server) -> i64 {
    let now = crate::util::mstime();
    let max_lag = srv.config.min_replicas_max_lag;
    srv.repl
        .replicas
        .iter()
        .filter_map(|&t| srv.clients.get(t)?.as_ref()?.replica.as_ref())
        .filter(|r| r.state == SyncState::Online && (now - r.ack_ms) / 1000 <= max_lag)
        .count() as i64
}

/// False when writes must be refused for want of good replicas (checkGoodReplicasStatus).
#[inline]
pub fn enough_good_replicas(srv: &Server) -> bool {
    srv.repl.is_replica()
        || srv.config.min_replicas_max_lag == 0
        || srv.config.min_replicas_to_write == 0
        || good_replicas(srv) >= srv.config.min_replicas_to_write
}

/// How many online replicas acknowledged at least `offset` (replicationCountAcksByOffset).
pub fn count_acks(srv: &Server, offset: i64) -> i64 {
    srv.repl
        .replicas
        .iter()
        .filter_map(|&t| srv.clients.get(t)?.as_ref()?.replica.as_ref())
        .filter(|r| r.state == SyncState::Online && r.ack_offset >= offset)
        .count() as i64
}

/// WAIT numreplicas timeout (waitCommand): the number of replicas that acknowledged this
/// client's last write, at once when enough did (or inside a transaction), else when enough
/// do or the timeout passes.
pub fn wait_command(srv: &mut Server, c: &mut Client, args: &crate::commands::Args) {
    use crate::util::num::parse_i64;
    if srv.repl.is_replica() {
        return c.out.err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let Some(numreplicas) = parse_i64(args.get(1)) else {
        return c.out.err("ERR value is not an integer or out of range");
    };
    let Some(timeout) = parse_i64(args.get(2)) else {
        return c.out.err("ERR timeout is not an integer or out of range");
    };
    if timeout < 0 {
        return c.out.err("ERR timeout is negative");
    }
    let offset = c.woff;
    let acked = count_acks(srv, offset);
    if acked >= numreplicas || c.multi.is_some() || c.deny_blocking {
        return c.out.int(acked);
    }
    let deadline = if timeout > 0 {
        srv.cmd_time_ms.saturating_add(timeout)
    } else {
        0
    };
    srv.block_for_keys(c, args, &[], deadline);
    if let Some(b) = c.blocked.as_mut() {
        b.wait_acks = Some((offset, numreplicas));
    }
    srv.repl.waiting.push(c.token);
    srv.repl.get_ack_pending = true;
}

/// Before sleeping (beforeSleep's replication part): REPLCONF GETACK * into the stream when
/// a WAIT wants acknowledgements, and WAITs that have enough of them answered
/// (processClientsWaitingReplicas).
pub fn before_sleep(srv: &mut Server) {
    failover::update(srv);
    if srv.repl.waiting.is_empty() {
        return;
    }
    if std::mem::take(&mut srv.repl.get_ack_pending) {
        let mut buf = Vec::new();
        crate::propagate::encode_command(&mut buf, &[&b"REPLCONF"[..], b"GETACK", b"*"]);
        feed(srv, &buf);
    }
    for tok in srv.repl.waiting.clone() {
        let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
            srv.repl.waiting.retain(|&t| t != tok);
            continue;
        };
        if let Some((offset, want)) = c.blocked.as_ref().and_then(|b| b.wait_acks) {
            let n = count_acks(srv, offset);
            if n >= want {
                srv.repl.waiting.retain(|&t| t != tok);
                c.out.int(n);
                srv.unblock_client(&mut c);
                srv.after_unblock(&mut c);
            }
        }
        srv.clients[tok] = Some(c);
    }
}

/// A replica client is gone (replicationFreeSlave's bookkeeping).
pub fn client_freed(srv: &mut Server, c: &Client) {
    if c.replica.is_none() {
        return;
    }
    srv.repl.replicas.retain(|&t| t != c.token);
    if let Some(p) = srv.repl.rdb_pipe.as_mut() {
        p.targets.retain(|&t| t != c.token);
        if p.targets.is_empty() {
            log_warning!("Diskless rdb transfer, last replica dropped, killing fork child.");
            crate::server::net::close_rdb_pipe(srv);
            crate::persistence::bgsave::kill_child(srv, crate::persistence::bgsave::ChildKind::Rdb);
        }
    }
    if let Some(r) = c.replica.as_ref() {
        if r.state == SyncState::Online {
            log_notice!("Connection with replica {} lost.", r.name);
        }
    }
    if srv.repl.replicas.is_empty() {
        srv.repl.no_replicas_since = crate::util::mstime() / 1000;
    }
}

/// replicationCron's master part, once a second: PING into the stream every
/// repl-ping-replica-period seconds, a newline to replicas waiting for their snapshot,
/// snapshots for replicas that waited for another child, the backlog freed after
/// repl-backlog-ttl without replicas, and replicas that stopped acknowledging dropped after
/// repl-timeout.
pub fn cron(srv: &mut Server) {
    replica::cron(srv);
    let now = crate::util::mstime();
    if srv.repl.backlog.is_none() {
        return;
    }
    start_pending_fork(srv, now);
    if now - srv.repl.last_tick_ms < 1000 {
        return;
    }
    srv.repl.last_tick_ms = now;
    let period_ms = srv.config.repl_ping_replica_period.max(1) * 1000;
    // No PING while a cluster manual failover holds writes: the replica must reach the
    // offset we announced, and stay there.
    if now - srv.repl.last_ping_ms >= period_ms
        && !srv.repl.replicas.is_empty()
        && !crate::cluster::failover::pauses_writes(srv)
    {
        srv.repl.last_ping_ms = now;
        let mut buf = std::mem::take(&mut srv.repl.scratch);
        buf.clear();
        buf.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        feed(srv, &buf);
        srv.repl.scratch = buf;
    }
    let timeout_ms = srv.config.repl_timeout.max(1) * 1000;
    let toks = srv.repl.replicas.clone();
    for tok in toks {
        let Some(Some(c)) = srv.clients.get_mut(tok) else {
            continue;
        };
        let Some(r) = c.replica.as_ref() else {
            continue;
        };
        match r.state {
            // A keep-alive newline while the snapshot is made; never inside a diskless
            // transfer, whose bytes already flow.
            SyncState::WaitBgsaveStart | SyncState::WaitBgsaveEnd if !r.to_socket => {
                c.out.raw(b"\n");
                c.queue_write(&mut srv.pending_writes);
            }
            SyncState::Online if c.replica_psync && now - r.ack_ms > timeout_ms => {
                log_warning!(
                    "Disconnecting timedout replica (streaming sync): {}",
                    r.name
                );
                c.close_asap = true;
                srv.pending_close.push(tok);
            }
            _ => {}
        }
    }
    if srv.repl.replicas.is_empty()
        && !srv.repl.is_replica()
        && srv.config.repl_backlog_ttl > 0
        && now / 1000 - srv.repl.no_replicas_since > srv.config.repl_backlog_ttl
    {
        srv.repl.backlog = None;
        srv.prop.active = stream_wanted(srv);
        log_notice!(
            "Replication backlog freed after {} seconds without connected replicas.",
            srv.config.repl_backlog_ttl
        );
    }
}

/// Starts the snapshot replicas wait for once no child runs (replicationStartPendingFork): at
/// once for a disk sync, after repl-diskless-sync-delay seconds (or once
/// repl-diskless-sync-max-replicas are waiting) for a diskless one, so that replicas arriving
/// together share one fork.
fn start_pending_fork(srv: &mut Server, now: i64) {
    if srv.persist.child.is_some() || srv.child_pid.is_some() {
        return;
    }
    let (mut count, mut max_idle, mut all_eof) = (0i64, 0i64, true);
    for &t in &srv.repl.replicas {
        let Some(r) = srv
            .clients
            .get(t)
            .and_then(|c| c.as_ref()?.replica.as_ref())
        else {
            continue;
        };
        if r.state == SyncState::WaitBgsaveStart {
            count += 1;
            max_idle = max_idle.max((now - r.since_ms) / 1000);
            all_eof &= r.capa_eof;
        }
    }
    if count == 0 {
        return;
    }
    let cfg = &srv.config;
    let diskless = cfg.repl_diskless_sync && all_eof;
    if !diskless
        || (cfg.repl_diskless_sync_max_replicas > 0 && count >= cfg.repl_diskless_sync_max_replicas)
        || max_idle >= cfg.repl_diskless_sync_delay
    {
        start_bgsave_for_replicas(srv, None);
    }
}

/// The replication section of INFO for a master.
pub fn info_section(srv: &Server) -> String {
    let now = crate::util::mstime();
    let mut lines = Vec::new();
    let mut n = 0;
    for &tok in &srv.repl.replicas {
        let Some(Some(c)) = srv.clients.get(tok) else {
            continue;
        };
        let Some(r) = c.replica.as_ref() else {
            continue;
        };
        let ip = r.announced_ip.clone().unwrap_or_else(|| {
            c.addr
                .rsplit_once(':')
                .map_or(c.addr.clone(), |(h, _)| h.to_string())
        });
        lines.push(format!(
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            n,
            ip,
            r.listening_port,
            r.state.name(),
            r.ack_offset,
            (now - r.ack_ms) / 1000
        ));
        n += 1;
    }
    let b = srv.repl.backlog.as_ref();
    let role = if srv.repl.is_replica() {
        replica::info_master_part(srv)
    } else {
        "role:master\r\n".to_string()
    };
    let good = if srv.config.min_replicas_to_write > 0 && srv.config.min_replicas_max_lag > 0 {
        format!("min_slaves_good_slaves:{}\r\n", good_replicas(srv))
    } else {
        String::new()
    };
    format!(
        "{}connected_slaves:{}\r\n{}{}master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        role,
        n,
        good,
        lines.concat(),
        srv.repl.failover.state.name(),
        srv.repl.replid,
        srv.repl.replid2,
        srv.repl.master_repl_offset,
        srv.repl.second_replid_offset,
        b.is_some() as u8,
        srv.config.repl_backlog_size,
        b.map_or(0, |b| b.first_byte_offset()),
        b.map_or(0, |b| b.histlen()),
    )
}

/// ROLE for a master: ["master", offset, [[ip, port, ack offset] ...]] (a replica's in
/// `replica`).
pub fn role_reply(srv: &Server, c: &mut Client) {
    if srv.repl.is_replica() {
        return replica::role_reply(srv, c);
    }
    c.out.array(3);
    c.out.bulk(b"master");
    c.out.int(srv.repl.master_repl_offset);
    let online: Vec<(String, u16, i64)> = srv
        .repl
        .replicas
        .iter()
        .filter_map(|&t| {
            let cl = srv.clients.get(t)?.as_ref()?;
            let r = cl.replica.as_ref()?;
            (r.state == SyncState::Online).then(|| {
                let ip = r.announced_ip.clone().unwrap_or_else(|| {
                    cl.addr
                        .rsplit_once(':')
                        .map_or(cl.addr.clone(), |(h, _)| h.to_string())
                });
                (ip, r.listening_port, r.ack_offset)
            })
        })
        .collect();
    c.out.array(online.len());
    for (ip, port, off) in online {
        c.out.array(3);
        c.out.bulk(ip.as_bytes());
        c.out.bulk(port.to_string().as_bytes());
        c.out.bulk(off.to_string().as_bytes());
    }
}
