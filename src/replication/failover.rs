//! FAILOVER (replication.c's coordinated failover, Redis 6.2+): a master hands its role to one
//! of its replicas without losing a write.
//!
//! ```text
//!  FAILOVER [TO host port [FORCE]] [TIMEOUT ms]
//!    no-failover --> waiting-for-sync     writes paused (as CLIENT PAUSE WRITE)
//!                      | the target (or, without TO, any replica) acknowledged our whole
//!                      | stream; or the timeout passed with FORCE
//!                      v
//!                    failover-in-progress  we become a replica of the target and send it
//!                      |                   PSYNC <our replid> <offset+1> FAILOVER: the target
//!                      |                   turns master (keeping our history as replid2) and
//!                      |                   answers +CONTINUE
//!                      v
//!                    no-failover           pause lifted; paused writes now meet a replica
//!  A timeout without FORCE, FAILOVER ABORT, or a target that refuses the PSYNC: back to
//!  master, pause lifted.
//! ```
//!
//! The state is checked before each sleep ([`update`]), where replicas' acknowledgements
//! have been read.

use super::SyncState;
use crate::log_notice;
use crate::server::client::Client;
use crate::server::Server;
use crate::util::num::parse_i64;

/// Where a failover stands (server.failover_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// None.
    #[default]
    NoFailover,
    /// Writes are paused until the target has the whole stream.
    WaitForSync,
    /// We follow the target and asked it to take over.
    InProgress,
}

impl State {
    /// INFO's master_failover_state.
    pub fn name(self) -> &'static str {
        match self {
            State::NoFailover => "no-failover",
            State::WaitForSync => "waiting-for-sync",
            State::InProgress => "failover-in-progress",
        }
    }
}

/// The failover in progress (`Replication::failover`).
#[derive(Debug, Default)]
pub struct Failover {
    /// Where it stands.
    pub state: State,
    /// TO host port (or, without TO, the replica picked once it is in sync).
    target: Option<(String, u16)>,
    /// TIMEOUT's deadline, Unix ms (0: none).
    end_ms: i64,
    /// FORCE: fail over at the deadline even if the target is behind.
    force: bool,
}

/// True while a failover holds writes back (PAUSE_DURING_FAILOVER): this one, or a cluster
/// replica's manual failover of this master.
#[inline]
pub fn pauses_writes(srv: &Server) -> bool {
    srv.repl.failover.state != State::NoFailover || crate::cluster::failover::pauses_writes(srv)
}

/// The token of the replica at host:port (findReplica): its announced or peer address and
/// its listening port.
fn find_replica(srv: &Server, host: &str, port: u16) -> Option<usize> {
    srv.repl.replicas.iter().copied().find(|&t| {
        let Some(Some(c)) = srv.clients.get(t) else {
            return false;
        };
        let Some(r) = c.replica.as_ref() else {
            return false;
        };
        let ip = r.announced_ip.clone().unwrap_or_else(|| {
            c.addr
                .rsplit_once(':')
                .map_or(c.addr.clone(), |(h, _)| h.to_string())
        });
        ip.eq_ignore_ascii_case(host) && r.listening_port == port
    })
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds] (failoverCommand).
pub fn failover_command(srv: &mut Server, c: &mut Client, args: &crate::commands::Args) {
    if args.len() == 2 && args.is(1, "abort") {
        if srv.repl.failover.state == State::NoFailover {
            return c.out.err("ERR No failover in progress.");
        }
        abort(srv, "Failover manually aborted");
        return c.out.ok();
    }
    let (mut timeout, mut force, mut port, mut host) = (0i64, false, 0i64, None::<String>);
    let mut j = 1;
    while j < args.len() {
        if args.is(j, "timeout") && j + 1 < args.len() && timeout == 0 {
            let Some(t) = parse_i64(args.get(j + 1)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            if t <= 0 {
                return c.out.err("ERR FAILOVER timeout must be greater than 0");
            }
            timeout = t;
            j += 1;
        } else if args.is(j, "to") && j + 2 < args.len() && host.is_none() {
            let Some(p) = parse_i64(args.get(j + 2)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            port = p;
            host = Some(String::from_utf8_lossy(args.get(j + 1)).into_owned());
            j += 2;
        } else if args.is(j, "force") && !force {
            force = true;
        } else {
            return c.out.err("ERR syntax error");
        }
        j += 1;
    }
    if srv.repl.failover.state != State::NoFailover {
        return c.out.err("ERR FAILOVER already in progress.");
    }
    if srv.repl.is_replica() {
        return c
            .out
            .err("ERR FAILOVER is not valid when server is a replica.");
    }
    if srv.repl.replicas.is_empty() {
        return c.out.err("ERR FAILOVER requires connected replicas.");
    }
    if force && (timeout == 0 || host.is_none()) {
        return c
            .out
            .err("ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
    }
    let mut target = None;
    if let Some(h) = host {
        // A port outside 0..=65535 names no replica.
        let found = u16::try_from(port)
            .ok()
            .and_then(|p| find_replica(srv, &h, p).map(|t| (t, p)));
        let Some((tok, p)) = found else {
            return c
                .out
                .err("ERR FAILOVER target HOST and PORT is not a replica.");
        };
        let online = srv.clients[tok]
            .as_ref()
            .and_then(|r| r.replica.as_ref())
            .is_some_and(|r| r.state == SyncState::Online);
        if !online {
            return c.out.err("ERR FAILOVER target replica is not online.");
        }
        log_notice!("FAILOVER requested to {}:{}.", h, port);
        target = Some((h, p));
    } else {
        log_notice!("FAILOVER requested to any replica.");
    }
    srv.repl.failover = Failover {
        state: State::WaitForSync,
        target,
        end_ms: if timeout > 0 {
            crate::util::mstime().saturating_add(timeout)
        } else {
            0
        },
        force,
    };
    c.out.ok();
}

/// Ends a failover that could not complete (abortFailover): back to master if we had begun
/// to follow the target; writes resume.
pub fn abort(srv: &mut Server, why: &str) {
    let f = &srv.repl.failover;
    if f.state == State::NoFailover {
        return;
    }
    match &f.target {
        Some((h, p)) => log_notice!("FAILOVER to {}:{} aborted: {}", h, p, why),
        None => log_notice!("FAILOVER to any replica aborted: {}", why),
    }
    if f.state == State::InProgress {
        super::replica::unset_master(srv);
    }
    clear(srv);
}

/// The failover is over (clearFailoverState): writes resume.
pub fn clear(srv: &mut Server) {
    srv.repl.failover = Failover::default();
}

/// Before each sleep (updateFailoverStatus): once the target acknowledged everything (or the
/// deadline passed with FORCE), follow it and ask it to take over.
pub fn update(srv: &mut Server) {
    if srv.repl.failover.state != State::WaitForSync {
        return;
    }
    let f = &srv.repl.failover;
    if f.end_ms != 0 && f.end_ms <= crate::util::mstime() {
        if f.force {
            let (h, p) = f.target.clone().expect("FORCE requires a target");
            log_notice!("FAILOVER to {}:{} time out exceeded, failing over.", h, p);
            srv.repl.failover.state = State::InProgress;
            super::replica::set_master(srv, h, p);
        } else {
            abort(srv, "Replica never caught up before timeout");
        }
        return;
    }
    let offset = srv.repl.master_repl_offset;
    let synced = |srv: &Server, t: usize| {
        srv.clients
            .get(t)
            .and_then(|c| c.as_ref()?.replica.as_ref())
            .is_some_and(|r| r.ack_offset == offset)
    };
    let chosen = match f.target.clone() {
        Some((h, p)) => find_replica(srv, &h, p)
            .filter(|&t| synced(srv, t))
            .map(|_| (h, p)),
        None => srv.repl.replicas.iter().copied().find_map(|t| {
            if !synced(srv, t) {
                return None;
            }
            let c = srv.clients.get(t)?.as_ref()?;
            let r = c.replica.as_ref()?;
            let ip = r.announced_ip.clone().unwrap_or_else(|| {
                c.addr
                    .rsplit_once(':')
                    .map_or(c.addr.clone(), |(h, _)| h.to_string())
            });
            Some((ip, r.listening_port))
        }),
    };
    let Some((h, p)) = chosen else {
        return;
    };
    log_notice!("Failover target {}:{} is synced, failing over.", h, p);
    srv.repl.failover.target = Some((h.clone(), p));
    srv.repl.failover.state = State::InProgress;
    super::replica::set_master(srv, h, p);
}

/// The target answered our PSYNC FAILOVER: done if it accepted, else back to master.
pub fn psync_answered(srv: &mut Server, accepted: bool) {
    if srv.repl.failover.state != State::InProgress {
        return;
    }
    if accepted {
        clear(srv);
    } else {
        abort(srv, "Failover target rejected psync request");
    }
}
