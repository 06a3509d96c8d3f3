//! Which node serves a command (getNodeByQuery, clusterRedirectClient): every key of the
//! command (of every queued command, for EXEC) must hash to one slot; that slot's owner
//! serves it, unless the slot is being migrated or imported, the cluster is down, or a
//! READONLY client reads from a replica of the owner.
//!
//! The errors, as Redis 7.0 words them:
//!
//! ```text
//!   -CROSSSLOT Keys in request don't hash to the same slot
//!   -TRYAGAIN Multiple keys request during rehashing of slot
//!   -CLUSTERDOWN The cluster is down
//!   -CLUSTERDOWN The cluster is down and only accepts read commands
//!   -CLUSTERDOWN Hash slot not served
//!   -MOVED <slot> <endpoint>:<port>      the slot lives elsewhere
//!   -ASK <slot> <endpoint>:<port>        this key of a migrating slot is at the target
//! ```

use super::slots::key_slot;
use super::NONE;
use crate::commands::getkeys;
use crate::commands::meta::{self, CommandMeta};
use crate::commands::Args;
use crate::server::client::Client;
use crate::server::Server;

/// Why a command cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Keys of different slots.
    CrossSlot,
    /// Some keys of a multi-key command are missing during a migration.
    Unstable,
    /// The cluster is down.
    DownState,
    /// The cluster is down and this is a write.
    DownRoState,
    /// Nobody serves the slot.
    DownUnbound,
    /// The slot is served by that node.
    Moved(u16, usize),
    /// Ask that node (the slot is migrating to it).
    Ask(u16, usize),
}

/// One command to check: its metadata and arguments.
pub struct Call<'a> {
    /// The command.
    pub meta: &'static CommandMeta,
    /// Its arguments, the name first.
    pub argv: Vec<&'a [u8]>,
}

fn is_pubsubshard(m: &CommandMeta) -> bool {
    matches!(m.name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// The positions of a call's keys, or of its shard channels for the sharded Pub/Sub
/// commands (whose key specs are channels).
fn key_positions(m: &CommandMeta, argv: &[&[u8]]) -> Vec<usize> {
    match m.name {
        "ssubscribe" | "sunsubscribe" => (1..argv.len()).collect(),
        "spublish" => vec![1],
        _ => getkeys::get_keys(m, argv).iter().map(|k| k.pos).collect(),
    }
}

/// getNodeByQuery: Ok when this node serves the calls (with the slot of their keys, if they
/// have any), else the redirection.
/// `top` is the command being processed (EXEC for a transaction, whose calls are the queued
/// ones), `is_write` whether it writes (for EXEC: whether any queued command does).
pub fn get_node(
    srv: &mut Server,
    c: &Client,
    top: &CommandMeta,
    calls: &[Call],
    is_write: bool,
) -> Result<Option<u16>, Redirect> {
    let allow_reads_down = srv.config.other_int("cluster-allow-reads-when-down") != 0;
    let allow_shard_down = srv.config.other_int("cluster-allow-pubsubshard-when-down") != 0;
    let shard = is_pubsubshard(top);
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let me = cl.myself;
    let mut first: Option<&[u8]> = None;
    let mut slot = 0usize;
    let mut owner = None;
    let mut migrating = false;
    let mut importing = false;
    let mut multiple_keys = false;
    let mut probe: Vec<&[u8]> = Vec::new();
    for call in calls {
        for pos in key_positions(call.meta, &call.argv) {
            let Some(&key) = call.argv.get(pos) else {
                continue;
            };
            let this = key_slot(key) as usize;
            match first {
                None => {
                    first = Some(key);
                    slot = this;
                    let Some(o) = cl.owner(slot) else {
                        return Err(Redirect::DownUnbound);
                    };
                    owner = Some(o);
                    if o == me && cl.migrating[slot] != NONE {
                        migrating = true;
                    } else if cl.importing[slot] != NONE {
                        importing = true;
                    }
                }
                Some(f) => {
                    if f != key {
                        if this != slot {
                            return Err(Redirect::CrossSlot);
                        }
                        multiple_keys = true;
                    }
                }
            }
            if (migrating || importing) && !shard {
                probe.push(key);
            }
        }
    }
    let Some(owner) = owner else {
        return Ok(None);
    };
    let found = Some(slot as u16);
    if !cl.state_ok {
        if shard {
            if !allow_shard_down {
                return Err(Redirect::DownState);
            }
        } else if !allow_reads_down {
            return Err(Redirect::DownState);
        } else if is_write {
            return Err(Redirect::DownRoState);
        }
    }
    if (migrating || importing) && top.name == "migrate" {
        return Ok(found);
    }
    let migrating_to = cl.migrating[slot];
    let replica_of_owner = cl.me().is_replica() && cl.me().slaveof == Some(owner);
    let _ = cl;
    // Keys of an open slot that we do not have (lookups without side effects).
    let (mut missing, mut existing) = (0, 0);
    for key in probe {
        if srv.dbs[0].dict.peek(key).is_some() {
            existing += 1;
        } else {
            missing += 1;
        }
    }
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(Redirect::Unstable);
        }
        return Err(Redirect::Ask(slot as u16, migrating_to as usize));
    }
    if importing && (c.cluster_asking || top.flags & meta::FLAG_ASKING != 0) {
        if multiple_keys && missing > 0 {
            return Err(Redirect::Unstable);
        }
        return Ok(found);
    }
    if (c.cluster_readonly || shard) && !is_write && replica_of_owner {
        return Ok(found);
    }
    if owner != me {
        return Err(Redirect::Moved(slot as u16, owner));
    }
    Ok(found)
}

/// The error text of a redirection (clusterRedirectClient), without the leading '-'.
pub fn error_text(srv: &Server, c: &Client, r: &Redirect) -> String {
    match r {
        Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
        Redirect::Unstable => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
        Redirect::DownState => "CLUSTERDOWN The cluster is down".into(),
        Redirect::DownRoState => {
            "CLUSTERDOWN The cluster is down and only accepts read commands".into()
        }
        Redirect::DownUnbound => "CLUSTERDOWN Hash slot not served".into(),
        Redirect::Moved(slot, n) | Redirect::Ask(slot, n) => {
            let word = if matches!(r, Redirect::Ask(..)) {
                "ASK"
            } else {
                "MOVED"
            };
            let (endpoint, port) = endpoint(srv, *n, use_pport(srv, c));
            format!("{word} {slot} {endpoint}:{port}")
        }
    }
}

/// True when client `c` is to be told plaintext ports: with `tls-cluster` the nodes are
/// known by their TLS ports, and a client on the plain port gets the `pport` instead.
pub fn use_pport(srv: &Server, c: &Client) -> bool {
    srv.config.other_int("tls-cluster") != 0
        && !matches!(c.sock, crate::server::client::Sock::Tls(_))
}

/// The address clients are sent to for node `n` (getPreferredEndpoint): its IP, its
/// hostname, or "?" per cluster-preferred-endpoint-type; and its port, the plaintext one
/// with `use_pport` (when the node told us one).
pub fn endpoint(srv: &Server, n: usize, use_pport: bool) -> (String, u16) {
    let Some(node) = srv.cluster.as_ref().and_then(|cl| cl.nodes.get(n)) else {
        return ("?".into(), 0);
    };
    let ep = match srv.config.other_int("cluster-preferred-endpoint-type") {
        1 if node.hostname.is_empty() => "?".to_string(),
        1 => node.hostname.clone(),
        2 => "?".to_string(),
        _ => node.ip.clone(),
    };
    (ep, node.client_port(use_pport))
}

/// The redirection gate of processCommand: None when the command may run here. Commands
/// from our master are never redirected, nor commands without keys (but EXEC, which is
/// judged by what it queued).
pub fn check(srv: &mut Server, c: &Client, idx: usize, args: &Args) -> Option<Redirect> {
    if c.master_link || srv.loading {
        return None;
    }
    let m = srv.commands.cmds[idx].meta;
    let is_exec = m.name == "exec";
    if !is_exec && m.key_specs.is_empty() && m.flags & meta::FLAG_MOVABLEKEYS == 0 {
        return None;
    }
    // The common case without allocating: one key, in a stable slot we serve, cluster OK.
    if let Some(pos) = srv.commands.cmds[idx].single_key {
        if pos < args.len() {
            let cl = srv.cluster.as_ref()?;
            let slot = key_slot(args.get(pos)) as usize;
            if cl.state_ok
                && cl.slots[slot] == cl.myself as u32
                && cl.migrating[slot] == NONE
                && cl.importing[slot] == NONE
            {
                return None;
            }
        }
    }
    let result = if is_exec {
        let ms = c.multi.as_ref()?;
        let calls: Vec<Call> = ms
            .cmds
            .iter()
            .map(|q| Call {
                meta: srv.commands.cmds[q.cmd].meta,
                argv: (0..q.argv.len()).map(|i| q.argv.get(&q.buf, i)).collect(),
            })
            .collect();
        let is_write = ms
            .cmds
            .iter()
            .any(|q| srv.commands.cmds[q.cmd].meta.flags & meta::FLAG_WRITE != 0);
        get_node(srv, c, m, &calls, is_write)
    } else {
        let call = Call {
            meta: m,
            argv: (0..args.len()).map(|i| args.get(i)).collect(),
        };
        let is_write = m.flags & meta::FLAG_WRITE != 0;
        get_node(srv, c, m, std::slice::from_ref(&call), is_write)
    };
    result.err()
}

/// scriptVerifyClusterState (7.0.15's): a command a script runs must touch keys served
/// here. (Keys of several slots are not refused in 7.0.15.) Err is the error text, to which
/// the script error handler adds the script's name and line.
pub fn check_script_call(
    srv: &mut Server,
    c: &Client,
    m: &'static CommandMeta,
    argv: &[Vec<u8>],
) -> Result<(), String> {
    let call = Call {
        meta: m,
        argv: argv.iter().map(Vec::as_slice).collect(),
    };
    let is_write = m.flags & meta::FLAG_WRITE != 0;
    match get_node(srv, c, m, std::slice::from_ref(&call), is_write) {
        Err(Redirect::DownRoState) => Err(
            "Script attempted to execute a write command while the cluster is down and readonly"
                .into(),
        ),
        Err(Redirect::DownState) => {
            Err("Script attempted to execute a command while the cluster is down".into())
        }
        Err(_) => Err("Script attempted to access a non local key in a cluster node".into()),
        Ok(_) => Ok(()),
    }
}
