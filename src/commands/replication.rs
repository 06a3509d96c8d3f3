//! Replication commands (replication.c): SYNC, PSYNC, REPLCONF, ROLE. The work is in
//! `crate::replication`; these parse and delegate.

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::Server;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("sync", sync_command),
    ("psync", psync_command),
    ("replconf", replconf_command),
    ("role", role_command),
    ("replicaof", replicaof_command),
    ("slaveof", replicaof_command),
    ("failover", failover_command),
];

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds].
fn failover_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::replication::failover::failover_command(srv, c, args);
}

/// REPLICAOF host port | NO ONE (and its old name SLAVEOF).
fn replicaof_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if srv.cluster.is_some() {
        return c.out.err("ERR REPLICAOF not allowed in cluster mode.");
    }
    crate::replication::replica::replicaof(srv, c, args.get(1), args.get(2));
}

/// SYNC: the old full synchronisation (no partial resync, no acknowledgements).
fn sync_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    crate::replication::sync_command(srv, c, None, false);
}

/// PSYNC replid offset [FAILOVER].
fn psync_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let failover = args.len() > 3 && args.is(3, "failover");
    crate::replication::sync_command(srv, c, Some((args.get(1), args.get(2))), failover);
}

/// REPLCONF option value [option value ...].
fn replconf_command(srv: &mut Server, c: &mut Client, args: &Args) {
    crate::replication::replconf_command(srv, c, args);
}

/// ROLE.
fn role_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    crate::replication::role_reply(srv, c);
}
