//! Redis Cluster (cluster.c): the cluster state of this node, start-up from nodes.conf, the
//! slot table, the state update, and the timed work. The parts:
//!
//! - `slots.rs` — CRC16 and the key → slot function, the 2048-byte slot bitmap.
//! - `node.rs` — a node as we know it (flags, address, epoch, slots, links).
//! - `nodes_conf.rs` — nodes.conf in Redis's exact format, written and read; CLUSTER NODES
//!   lines are the same text.
//! - `msg.rs` — the bus message codec, byte for byte as cluster.h's `clusterMsg`.
//! - `bus.rs` — the bus links: what each received message does, MEET/PING/PONG, the cron
//!   that connects, pings and marks PFAIL/FAIL. Links are sockets served by `server/net.rs`
//!   (a listener kind and a link kind beside the clients); this module never reads or
//!   writes a socket itself.
//! - `failover.rs` — replica election (FAILOVER_AUTH_REQUEST/ACK), manual failover
//!   (CLUSTER FAILOVER, MFSTART), replica migration, following a new master.
//! - `redirect.rs` — getNodeByQuery: which node serves a command (-MOVED, -ASK, ...).
//! - `slot_index.rs` — the keys of db 0 by slot (COUNTKEYSINSLOT, GETKEYSINSLOT).
//!
//! `Server::cluster` is `Some` exactly when `cluster-enabled yes`.

pub mod bus;
pub mod failover;
pub mod msg;
pub mod node;
pub mod nodes_conf;
pub mod redirect;
pub mod slot_index;
pub mod slots;

use crate::server::Server;
use crate::{log_notice, log_warning};
use node::{Name, Node, MASTER, MYSELF};
use slab::Slab;
use slots::SLOTS;
use std::path::PathBuf;

/// No node: the value of an empty entry of the slot tables.
pub const NONE: u32 = u32::MAX;

/// `todo` flag: recompute the cluster state before sleeping.
pub const TODO_UPDATE_STATE: u8 = 1 << 1;
/// `todo` flag: write nodes.conf before sleeping.
pub const TODO_SAVE_CONFIG: u8 = 1 << 2;
/// `todo` flag: ... and fsync it.
pub const TODO_FSYNC_CONFIG: u8 = 1 << 3;

/// Milliseconds a master waits after start-up before it declares the cluster OK
/// (CLUSTER_WRITABLE_DELAY).
const WRITABLE_DELAY_MS: i64 = 2000;
/// Upper bound of the wait of a master that was in a minority partition before it takes
/// writes again (CLUSTER_MAX_REJOIN_DELAY), and its lower bound.
const MAX_REJOIN_DELAY_MS: i64 = 5000;
const MIN_REJOIN_DELAY_MS: i64 = 500;

/// This node's view of the cluster (clusterState).
pub struct Cluster {
    /// Every node we know, this one included.
    pub nodes: Slab<Node>,
    /// Our own entry in `nodes`.
    pub myself: usize,
    /// The greatest epoch seen.
    pub current_epoch: u64,
    /// The epoch of our last vote.
    pub last_vote_epoch: u64,
    /// True while the cluster is OK from our point of view.
    pub state_ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    /// Slot → serving node (a key of `nodes`, or NONE).
    pub slots: Box<[u32; SLOTS]>,
    /// Slot → node we are migrating it to (NONE).
    pub migrating: Box<[u32; SLOTS]>,
    /// Slot → node we are importing it from (NONE).
    pub importing: Box<[u32; SLOTS]>,
    /// Work for `before_sleep` (TODO_*).
    pub todo: u8,
    /// Bus messages sent and received, by type.
    pub stats_sent: [u64; msg::TYPE_COUNT],
    /// ... received.
    pub stats_received: [u64; msg::TYPE_COUNT],
    /// Nodes in PFAIL (with an address).
    pub stats_pfail_nodes: u64,
    /// Links freed for exceeding cluster-link-sendbuf-limit.
    pub links_buffer_limit_exceeded: u64,
    /// The nodes.conf path, as configured.
    pub config_path: PathBuf,
    /// nodes.conf, kept open and locked while we run.
    pub config_file: Option<std::fs::File>,
    /// The bus links, served by `server/net.rs` (a link is out of its slot while its input
    /// is processed, like a running client).
    pub links: Slab<Option<Box<bus::Link>>>,
    /// Links to close (by net.rs, before the loop sleeps and before the cron connects).
    pub close_links: Vec<usize>,
    /// Slots another node took from us whose keys we still hold: deleted once the message
    /// that moved them is processed.
    pub dirty_slots: Vec<usize>,
    /// Slots that stopped being served by our shard (our master's or ours): their shard
    /// channels are dropped, subscribers told, from `before_sleep` (removeChannelsInSlot).
    pub dropped_shard_slots: Vec<u16>,
    /// Names CLUSTER FORGET removed, with the Unix ms until which gossip may not add them back.
    pub blacklist: Vec<(Name, i64)>,
    /// The bus port we listen on.
    pub bus_port: u16,
    /// Unix ms of the first state update (the writable delay counts from it).
    first_update_ms: i64,
    /// Unix ms when we found ourselves in a minority partition.
    among_minority_ms: i64,
    /// Counter of clusterCron calls (every 100 ms).
    pub cron_iteration: u64,
    /// Unix ms of the last clusterCron.
    last_cron_ms: i64,
    /// Elections, manual failover and replica migration.
    pub fo: failover::State,
}

impl Cluster {
    /// A cluster of one: this node, a master with a fresh random name.
    pub fn new(config_path: PathBuf, now_ms: i64) -> Cluster {
        let mut nodes = Slab::new();
        let myself = nodes.insert(Node::new(node::random_name(), MYSELF | MASTER, now_ms));
        Cluster {
            nodes,
            myself,
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            // As clusterInit leaves it until the first state update past the writable delay.
            size: 1,
            slots: Box::new([NONE; SLOTS]),
            migrating: Box::new([NONE; SLOTS]),
            importing: Box::new([NONE; SLOTS]),
            todo: 0,
            stats_sent: [0; msg::TYPE_COUNT],
            stats_received: [0; msg::TYPE_COUNT],
            stats_pfail_nodes: 0,
            links_buffer_limit_exceeded: 0,
            config_path,
            config_file: None,
            links: Slab::new(),
            close_links: Vec::new(),
            dirty_slots: Vec::new(),
            dropped_shard_slots: Vec::new(),
            blacklist: Vec::new(),
            bus_port: 0,
            first_update_ms: 0,
            among_minority_ms: 0,
            cron_iteration: 0,
            last_cron_ms: 0,
            fo: failover::State::default(),
        }
    }

    /// Our own entry.
    #[inline]
    pub fn me(&self) -> &Node {
        &self.nodes[self.myself]
    }

    /// Our own entry, mutable.
    #[inline]
    pub fn me_mut(&mut self) -> &mut Node {
        &mut self.nodes[self.myself]
    }

    /// The node named `name` (clusterLookupNode).
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        if name.len() != node::NAMELEN {
            return None;
        }
        self.nodes
            .iter()
            .find(|(_, n)| n.name[..] == *name)
            .map(|(k, _)| k)
    }

    /// Adds a node (clusterAddNode).
    pub fn add_node(&mut self, n: Node) -> usize {
        self.nodes.insert(n)
    }

    /// The slot's owner, if any.
    #[inline]
    pub fn owner(&self, slot: usize) -> Option<usize> {
        let o = self.slots[slot];
        (o != NONE).then_some(o as usize)
    }

    /// Assigns `slot` to node `n` (clusterAddSlot); false when it is taken.
    pub fn add_slot(&mut self, n: usize, slot: usize) -> bool {
        if self.slots[slot] != NONE {
            return false;
        }
        // A master's first slot makes it a replica migration target when some master has
        // replicas (clusterNodeSetSlotBit).
        let first = self.nodes[n].numslots == 0 && !self.nodes[n].slots.get(slot);
        if first
            && self
                .nodes
                .iter()
                .any(|(_, m)| m.is_master() && !m.replicas.is_empty())
        {
            self.nodes[n].flags |= node::MIGRATE_TO;
        }
        let node = &mut self.nodes[n];
        node.slots.set(slot);
        node.numslots += 1;
        self.slots[slot] = n as u32;
        true
    }

    /// Unassigns `slot` (clusterDelSlot); false when nobody served it.
    pub fn del_slot(&mut self, slot: usize) -> bool {
        let Some(n) = self.owner(slot) else {
            return false;
        };
        // clusterGetNodesServingMySlots(n) includes myself: n's shard is ours.
        let shard_master = self.nodes[n].slaveof.unwrap_or(n);
        let me = self.me();
        if self.myself == shard_master || me.slaveof == Some(shard_master) {
            self.dropped_shard_slots.push(slot as u16);
        }
        let node = &mut self.nodes[n];
        if node.slots.get(slot) {
            node.slots.clear(slot);
            node.numslots -= 1;
        }
        self.slots[slot] = NONE;
        true
    }

    /// Unassigns every slot of node `n` (clusterDelNodeSlots); how many there were.
    pub fn del_node_slots(&mut self, n: usize) -> usize {
        let mut deleted = 0;
        for s in 0..SLOTS {
            if self.slots[s] == n as u32 {
                self.del_slot(s);
                deleted += 1;
            }
        }
        deleted
    }

    /// Makes `replica` a replica of `master` in the tables (clusterNodeAddSlave and the
    /// removal from a previous master). A master with replicas is a replica migration
    /// target (MIGRATE_TO) until it has none.
    pub fn set_master_of(&mut self, replica: usize, master: Option<usize>) {
        if let Some(old) = self.nodes[replica].slaveof {
            if let Some(o) = self.nodes.get_mut(old) {
                o.replicas.retain(|&r| r != replica);
                if o.replicas.is_empty() {
                    o.flags &= !node::MIGRATE_TO;
                }
            }
        }
        self.nodes[replica].slaveof = master;
        if let Some(m) = master {
            if !self.nodes[m].replicas.contains(&replica) {
                self.nodes[m].replicas.push(replica);
            }
            self.nodes[m].flags |= node::MIGRATE_TO;
        }
    }

    /// Removes node `n` and everything that points at it (clusterDelNode): its slots, the
    /// migrating/importing entries, the failure reports it made, its replicas' master link.
    /// Its links are returned for the caller to close.
    pub fn del_node(&mut self, n: usize) -> Vec<usize> {
        for s in 0..SLOTS {
            if self.importing[s] == n as u32 {
                self.importing[s] = NONE;
            }
            if self.migrating[s] == n as u32 {
                self.migrating[s] = NONE;
            }
            if self.slots[s] == n as u32 {
                self.slots[s] = NONE;
            }
        }
        for (_, other) in self.nodes.iter_mut() {
            other.fail_reports.retain(|&(r, _)| r != n);
            if other.slaveof == Some(n) {
                other.slaveof = None;
            }
            other.replicas.retain(|&r| r != n);
        }
        let node = self.nodes.remove(n);
        let mut links = Vec::new();
        links.extend(node.link);
        links.extend(node.inbound_link);
        for &l in &links {
            if let Some(Some(link)) = self.links.get_mut(l) {
                link.node = None;
            }
        }
        links
    }

    /// The epoch a node's line shows: a replica shows its master's (nodeEpoch).
    pub fn node_epoch(&self, n: usize) -> u64 {
        let node = &self.nodes[n];
        match node.slaveof {
            Some(m) if node.is_replica() => self.nodes.get(m).map_or(0, |m| m.config_epoch),
            _ => node.config_epoch,
        }
    }

    /// The greatest config epoch among the nodes (clusterGetMaxEpoch), or current_epoch if
    /// greater.
    pub fn max_epoch(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(_, n)| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch)
    }

    /// Slots assigned to some node.
    pub fn slots_assigned(&self) -> usize {
        self.slots.iter().filter(|&&o| o != NONE).count()
    }

    /// Recomputes OK/FAIL (clusterUpdateState): FAIL when a slot is unserved or served by a
    /// failing node (with cluster-require-full-coverage), or when we cannot reach a majority
    /// of the masters that serve slots. A master waits WRITABLE_DELAY after start-up, and
    /// after being in a minority, before it declares OK.
    pub fn update_state(&mut self, now_ms: i64, full_coverage: bool, node_timeout: i64) {
        self.todo &= !TODO_UPDATE_STATE;
        if self.first_update_ms == 0 {
            self.first_update_ms = now_ms;
        }
        if self.me().is_master()
            && !self.state_ok
            && now_ms - self.first_update_ms < WRITABLE_DELAY_MS
        {
            return;
        }
        let mut ok = true;
        if full_coverage {
            for s in 0..SLOTS {
                match self.owner(s) {
                    None => {
                        ok = false;
                        break;
                    }
                    Some(o) if self.nodes[o].failed() => {
                        ok = false;
                        break;
                    }
                    _ => {}
                }
            }
        }
        let mut size = 0;
        let mut reachable = 0;
        for (_, n) in self.nodes.iter() {
            if n.is_master() && n.numslots > 0 {
                size += 1;
                if n.flags & (node::FAIL | node::PFAIL) == 0 {
                    reachable += 1;
                }
            }
        }
        self.size = size;
        let quorum = size / 2 + 1;
        if reachable < quorum {
            ok = false;
            self.among_minority_ms = now_ms;
        }
        if ok != self.state_ok {
            let rejoin = node_timeout.clamp(MIN_REJOIN_DELAY_MS, MAX_REJOIN_DELAY_MS);
            if ok && self.me().is_master() && now_ms - self.among_minority_ms < rejoin {
                return;
            }
            log_warning!("Cluster state changed: {}", if ok { "ok" } else { "fail" });
            self.state_ok = ok;
        }
    }
}

/// Reads the cluster configuration at start-up (clusterInit): loads nodes.conf, or creates
/// this node and writes it; checks the ports. Runs before the bus listener opens (the
/// caller opens it on the returned bus port). Err is the message of a fatal error.
pub fn init(srv: &mut Server) -> Result<(), String> {
    let c = &srv.config;
    let path = PathBuf::from(
        String::from_utf8_lossy(&c.other_str("cluster-config-file").unwrap_or_default())
            .into_owned(),
    );
    // With tls-cluster the node is known by its TLS port (clusterInit).
    let port = match c.other_int("tls-cluster") != 0 {
        true => c.other_int("tls-port") as u32,
        false => srv.port as u32,
    };
    let cluster_port = c.other_int("cluster-port") as u32;
    let bus_port = if cluster_port != 0 {
        cluster_port
    } else {
        port + 10000
    };
    if port != 0 && cluster_port == 0 && port > 55535 {
        return Err("Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.".into());
    }
    let now = crate::util::mstime();
    let mut cl = Cluster::new(path.clone(), now);
    cl.bus_port = bus_port as u16;
    let file = nodes_conf::lock(&path)?;
    match nodes_conf::load(&mut cl, &path, now)? {
        true => {
            log_notice!("Node configuration loaded, I'm {:.40}", cl.me().name_str());
        }
        false => {
            log_notice!(
                "No cluster configuration found, I'm {:.40}",
                cl.me().name_str()
            );
            cl.todo |= TODO_SAVE_CONFIG;
        }
    }
    cl.config_file = Some(file);
    srv.cluster = Some(Box::new(cl));
    update_myself_announced(srv);
    if let Some(cl) = srv.cluster.as_mut() {
        if cl.todo & TODO_SAVE_CONFIG != 0 {
            nodes_conf::save(cl, true)
                .map_err(|e| format!("Unable to save the cluster configuration file: {e}"))?;
            cl.todo &= !(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG);
        }
    }
    srv.dbs[0].slot_index = Some(Box::default());
    Ok(())
}

/// Copies the announced address parameters into our own entry (clusterUpdateMyselfAnnounced-
/// Ports, clusterUpdateMyselfIp, clusterUpdateMyselfHostname).
pub fn update_myself_announced(srv: &mut Server) {
    let c = &srv.config;
    let announce_port = c.other_int("cluster-announce-port") as u16;
    let announce_tls_port = c.other_int("cluster-announce-tls-port") as u16;
    let announce_bus = c.other_int("cluster-announce-bus-port") as u16;
    let announce_ip = c.other_str("cluster-announce-ip");
    let hostname = c.other_str("cluster-announce-hostname");
    let tls = c.other_int("tls-cluster") != 0;
    let tls_port = c.other_int("tls-port") as u16;
    let port = srv.port;
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let bus = cl.bus_port;
    let me = cl.me_mut();
    // deriveAnnouncedPorts: with tls-cluster, `port` is the TLS port and `pport` the plain
    // one (for plain clients); the announce parameters override both.
    (me.port, me.pport) = match (tls, announce_tls_port, announce_port) {
        (true, 0, 0) => (tls_port, port),
        (true, 0, a) => (a, port),
        (true, t, a) => (t, a),
        (false, _, 0) => (port, 0),
        (false, _, a) => (a, 0),
    };
    me.cport = if announce_bus != 0 { announce_bus } else { bus };
    if let Some(ip) = announce_ip {
        me.ip = String::from_utf8_lossy(&ip).into_owned();
    }
    me.hostname = hostname
        .map(|h| String::from_utf8_lossy(&h).into_owned())
        .unwrap_or_default();
}

/// Keys already in the dataset at start-up (verifyClusterConfigWithData): none may be in a
/// db other than 0; a slot with keys that nobody serves is taken by this node.
pub fn verify_config_with_data(srv: &mut Server) -> Result<(), String> {
    if srv.cluster.is_none() {
        return Ok(());
    }
    if srv.dbs.iter().skip(1).any(|d| !d.dict.is_empty()) {
        return Err(
            "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.".into(),
        );
    }
    let counts: Vec<usize> = match srv.dbs[0].slot_index.as_ref() {
        Some(ix) => (0..SLOTS).map(|s| ix.count(s)).collect(),
        None => return Ok(()),
    };
    let cl = srv.cluster.as_mut().expect("checked");
    let me = cl.myself;
    let mut changed = false;
    for (s, &n) in counts.iter().enumerate() {
        if n == 0 || cl.owner(s) == Some(me) || cl.importing[s] != NONE {
            continue;
        }
        if cl.owner(s).is_none() {
            log_warning!("I have keys for unassigned slot {s}. Taking responsibility for it.");
            cl.add_slot(me, s);
            changed = true;
        } else {
            log_warning!("I have keys for slot {s}, but the slot is assigned to another node. Setting it to importing state.");
            cl.importing[s] = cl.slots[s];
        }
    }
    if changed {
        cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE;
    }
    Ok(())
}

/// Work before the loop sleeps (clusterBeforeSleep): the state update and the config save
/// that commands and messages asked for.
pub fn before_sleep(srv: &mut Server) {
    if srv
        .cluster
        .as_ref()
        .is_some_and(|cl| !cl.dropped_shard_slots.is_empty())
    {
        let slots = std::mem::take(&mut srv.cluster.as_mut().unwrap().dropped_shard_slots);
        crate::pubsub::remove_shard_channels_in_slots(srv, &slots);
    }
    let full = srv.config.other_int("cluster-require-full-coverage") != 0;
    let timeout = srv.config.other_int("cluster-node-timeout");
    failover::before_sleep(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if cl.todo == 0 {
        return;
    }
    if cl.todo & TODO_UPDATE_STATE != 0 {
        cl.update_state(crate::util::mstime(), full, timeout);
    }
    if cl.todo & TODO_SAVE_CONFIG != 0 {
        let fsync = cl.todo & TODO_FSYNC_CONFIG != 0;
        cl.todo &= !(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG);
        if let Err(e) = nodes_conf::save(cl, fsync) {
            log_warning!("Error writing the cluster configuration file: {e}");
        }
    }
}

/// clusterCron, every 100 ms from serverCron; then the clients blocked on keys that are no
/// longer served here are sent away (as clientsCron does in Redis).
pub fn cron(srv: &mut Server, now_ms: i64) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if now_ms - cl.last_cron_ms < 100 {
        return;
    }
    cl.last_cron_ms = now_ms;
    bus::cron(srv);
    failover::cron(srv);
    if srv.blocking.count > 0 {
        redirect_blocked_clients(srv);
    }
}

/// clusterRedirectBlockedClientIfNeeded for every client blocked on keys: while the cluster
/// is down it gets -CLUSTERDOWN; when its keys' slot (all are in one) is served elsewhere
/// and not being imported, -MOVED (or -CLUSTERDOWN for an unserved slot); and it is
/// unblocked. A READONLY replica keeps readers blocked on its master's slots.
fn redirect_blocked_clients(srv: &mut Server) {
    let tokens: Vec<usize> = srv
        .clients
        .iter()
        .filter(|(_, c)| {
            c.as_ref().is_some_and(|c| {
                c.blocked
                    .as_ref()
                    .is_some_and(|b| b.wait_acks.is_none() && !b.keys.is_empty())
            })
        })
        .map(|(t, _)| t)
        .collect();
    for tok in tokens {
        let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
            continue;
        };
        if let Some(r) = blocked_redirect(srv, &c) {
            let msg = redirect::error_text(srv, &c, &r);
            c.out.err(&msg);
            for code in c.out.errors.drain(..) {
                srv.stats.total_error_replies += 1;
                *srv.stats.errors.entry(code).or_insert(0) += 1;
            }
            srv.unblock_client(&mut c);
            srv.after_unblock(&mut c);
        }
        srv.clients[tok] = Some(c);
    }
}

fn blocked_redirect(srv: &Server, c: &crate::server::client::Client) -> Option<redirect::Redirect> {
    let cl = srv.cluster.as_ref()?;
    let b = c.blocked.as_ref()?;
    if !cl.state_ok {
        return Some(redirect::Redirect::DownState);
    }
    let slot = slots::key_slot(b.keys.first()?) as usize;
    let mut owner = cl.owner(slot);
    let write = srv.commands.cmds[b.cmd].meta.flags & crate::commands::meta::FLAG_WRITE != 0;
    if c.cluster_readonly && !write && cl.me().is_replica() && cl.me().slaveof == owner {
        owner = Some(cl.myself);
    }
    if owner == Some(cl.myself) || cl.importing[slot] != NONE {
        return None;
    }
    Some(match owner {
        None => redirect::Redirect::DownUnbound,
        Some(n) => redirect::Redirect::Moved(slot as u16, n),
    })
}

impl Server {
    /// True in cluster mode.
    #[inline]
    pub fn cluster_enabled(&self) -> bool {
        self.cluster.is_some()
    }
}
