//! The cluster bus (cluster.c's link handling, clusterProcessPacket, clusterCron): what a
//! received message does to our view of the cluster, the MEET/PING/PONG handshake, gossip,
//! failure detection (PFAIL, then FAIL once a majority of masters report it), and the
//! timed work that opens links and pings.
//!
//! A link is a TCP connection to another node's bus port: outbound links are ours (one per
//! known node, opened by the cron), inbound links are those other nodes opened to us. The
//! sockets are served by `server/net.rs` (a listener kind and a link kind beside the
//! clients): it reads into `Link::rcvbuf`, calls [`process_input`], and writes
//! `Link::sndbuf`. Nothing here reads or writes a socket.
//!
//! The link state machine:
//!
//! ```text
//!  outbound: CONNECTING --writable--> sends MEET (node flagged MEET) or PING
//!            --PONG--> a node in HANDSHAKE takes the sender's name and role; the link
//!            stays, pinged by the cron; no PONG within node-timeout/2 of a ping: reconnect
//!  inbound:  accepted --MEET--> unknown sender: added in HANDSHAKE (we connect back and
//!            PING it); PONG answered to every PING/MEET; a known sender's PING binds the
//!            link to its node (inbound_link)
//!  any:      a message that fails the length checks, EOF, an error: link freed
//! ```

use super::msg::{self, Body, Ext, Gossip, Header, Message};
use super::node::{self, Name, Node, NULL_NAME};
use super::slots::SLOTS;
use super::{Cluster, TODO_FSYNC_CONFIG, TODO_SAVE_CONFIG, TODO_UPDATE_STATE};
use crate::server::Server;
use crate::{log_notice, log_verbose, log_warning};

/// A fail report older than node-timeout times this is forgotten
/// (CLUSTER_FAIL_REPORT_VALIDITY_MULT).
const FAIL_REPORT_VALIDITY_MULT: i64 = 2;
/// A FAIL flag on a master that serves slots again is cleared after node-timeout times
/// this (CLUSTER_FAIL_UNDO_TIME_MULT).
const FAIL_UNDO_TIME_MULT: i64 = 2;
/// The largest send buffer of a link that is never trimmed.
const RCVBUF_INIT: usize = 1024;

/// One bus connection.
pub struct Link {
    /// The socket, plain or TLS with `tls-cluster` (read and written by server/net.rs only).
    pub sock: crate::server::client::Sock,
    /// Unix ms of creation.
    pub ctime: i64,
    /// Bytes received not yet processed.
    pub rcvbuf: Vec<u8>,
    /// Bytes to send; `sent` of them already went.
    pub sndbuf: Vec<u8>,
    /// Bytes of `sndbuf` already written.
    pub sent: usize,
    /// The node at the other end (for an inbound link: once known).
    pub node: Option<usize>,
    /// True for a link another node opened to us.
    pub inbound: bool,
    /// True while an outbound connect is in progress.
    pub connecting: bool,
    /// True while WRITABLE is registered with the poller.
    pub writable_registered: bool,
    /// The peer's IP (for MEET from an unknown node, and CLUSTER LINKS).
    pub peer_ip: String,
    /// Our own address on this connection (how we learn our IP from a MEET).
    pub local_ip: String,
}

impl Link {
    /// A new link around a socket.
    pub fn new(sock: crate::server::client::Sock, inbound: bool, now_ms: i64) -> Link {
        let (peer_ip, local_ip) = sock.ips();
        Link {
            sock,
            ctime: now_ms,
            rcvbuf: Vec::with_capacity(RCVBUF_INIT),
            sndbuf: Vec::new(),
            sent: 0,
            node: None,
            inbound,
            connecting: !inbound,
            writable_registered: false,
            peer_ip,
            local_ip,
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.sndbuf.len() - self.sent
    }
}

/// Everything a message header needs that lives outside the cluster state.
pub(super) struct Local {
    pub now: i64,
    pub node_timeout: i64,
    announce_ip: String,
    repl_offset: u64,
}

pub(super) fn local(srv: &Server) -> Local {
    Local {
        now: crate::util::mstime(),
        node_timeout: srv.config.other_int("cluster-node-timeout").max(1),
        announce_ip: srv
            .config
            .other_str("cluster-announce-ip")
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        repl_offset: srv.repl.master_repl_offset.max(0) as u64,
    }
}

/// A `Local` for unit tests of the message handlers.
#[cfg(test)]
pub(super) fn test_local(now: i64, node_timeout: i64) -> Local {
    Local {
        now,
        node_timeout,
        announce_ip: String::new(),
        repl_offset: 0,
    }
}

/// The header of every message we send (clusterBuildMessageHdr).
pub(super) fn build_header(cl: &Cluster, kind: u16, loc: &Local) -> Header {
    let me = cl.me();
    let master = match me.slaveof {
        Some(m) if me.is_replica() => &cl.nodes[m],
        _ => me,
    };
    Header {
        kind,
        port: me.port,
        count: 0,
        current_epoch: cl.current_epoch,
        config_epoch: master.config_epoch,
        offset: loc.repl_offset,
        sender: me.name,
        myslots: master.slots.clone(),
        slaveof: match me.slaveof {
            Some(m) if me.is_replica() => cl.nodes[m].name,
            _ => NULL_NAME,
        },
        myip: loc.announce_ip.clone(),
        extensions: 0,
        pport: me.pport,
        cport: me.cport,
        flags: me.flags,
        state: if cl.state_ok { 0 } else { 1 },
        mflags: [super::failover::header_flags(cl), 0, 0],
    }
}

/// The gossip section about node `n`.
fn gossip_of(n: &Node) -> Gossip {
    Gossip {
        name: n.name,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// Builds a PING, PONG or MEET for `link` (clusterSendPing): a header, gossip about a tenth
/// of the nodes we know (at least three, chosen at random among the healthy ones with an
/// address) plus every node in PFAIL, and our hostname when we announce one.
pub(super) fn ping_message(
    cl: &mut Cluster,
    link_node: Option<usize>,
    kind: u16,
    loc: &Local,
) -> Vec<u8> {
    let total = cl.nodes.len();
    let freshnodes = total.saturating_sub(2);
    let mut wanted = (total / 10).max(3).min(freshnodes);
    let keys: Vec<usize> = cl.nodes.iter().map(|(k, _)| k).collect();
    let mut chosen: Vec<usize> = Vec::new();
    let mut iterations = wanted * 3;
    while wanted > 0 && iterations > 0 {
        iterations -= 1;
        let k = keys[crate::util::rand::index(keys.len())];
        let n = &cl.nodes[k];
        if k == cl.myself
            || n.flags & (node::PFAIL | node::HANDSHAKE | node::NOADDR) != 0
            || (n.link.is_none() && n.numslots == 0)
            || chosen.contains(&k)
        {
            continue;
        }
        chosen.push(k);
        wanted -= 1;
    }
    for (k, n) in cl.nodes.iter() {
        if n.flags & node::PFAIL != 0
            && n.flags & (node::HANDSHAKE | node::NOADDR) == 0
            && !chosen.contains(&k)
        {
            chosen.push(k);
        }
    }
    let gossip = chosen.iter().map(|&k| gossip_of(&cl.nodes[k])).collect();
    let mut exts = Vec::new();
    if !cl.me().hostname.is_empty() {
        exts.push(Ext::Hostname(cl.me().hostname.clone()));
    }
    if kind == msg::PING {
        if let Some(n) = link_node.and_then(|n| cl.nodes.get_mut(n)) {
            n.ping_sent = loc.now;
        }
    }
    cl.stats_sent[kind as usize] += 1;
    msg::encode(&Message {
        hdr: build_header(cl, kind, loc),
        body: Body::Ping { gossip, exts },
    })
}

/// Queues a PING/PONG/MEET on `link`.
pub(super) fn send_ping(cl: &mut Cluster, link: &mut Link, kind: u16, loc: &Local) {
    let bytes = ping_message(cl, link.node, kind, loc);
    link.sndbuf.extend_from_slice(&bytes);
}

/// Queues `bytes` (a message of type `kind`) on every outbound link of a node that
/// completed the handshake (clusterBroadcastMessage).
pub(super) fn broadcast(cl: &mut Cluster, bytes: &[u8], kind: u16) {
    let targets: Vec<usize> = cl
        .nodes
        .iter()
        .filter(|(k, n)| *k != cl.myself && !n.in_handshake())
        .filter_map(|(_, n)| n.link)
        .collect();
    send_to_links(cl, &targets, bytes, kind);
}

/// Queues `bytes` on the given links, counting one message sent per link.
pub(super) fn send_to_links(cl: &mut Cluster, links: &[usize], bytes: &[u8], kind: u16) {
    for &l in links {
        if let Some(Some(link)) = cl.links.get_mut(l) {
            link.sndbuf.extend_from_slice(bytes);
            cl.stats_sent[kind as usize] += 1;
        }
    }
}

/// Sends a PUBLISH to every node (clusterPropagatePublish), or a PUBLISHSHARD to the other
/// nodes of our shard (our master or ourselves, and its replicas:
/// clusterPropagatePublishShard). The receivers deliver it to their own subscribers.
pub fn propagate_publish(srv: &mut Server, channel: &[u8], message: &[u8], shard: bool) {
    let loc = local(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let kind = if shard {
        msg::PUBLISHSHARD
    } else {
        msg::PUBLISH
    };
    let bytes = msg::encode(&Message {
        hdr: build_header(cl, kind, &loc),
        body: Body::Publish {
            channel: channel.to_vec(),
            message: message.to_vec(),
        },
    });
    if !shard {
        broadcast(cl, &bytes, kind);
        return;
    }
    let me = cl.me();
    let master = match me.slaveof {
        Some(m) if me.is_replica() => m,
        _ => cl.myself,
    };
    let mut members = vec![master];
    members.extend(cl.nodes[master].replicas.iter().copied());
    let links: Vec<usize> = members
        .into_iter()
        .filter(|&k| k != cl.myself)
        .filter_map(|k| cl.nodes.get(k).and_then(|n| n.link))
        .collect();
    send_to_links(cl, &links, &bytes, kind);
}

/// Tells every node that `failing` is failing (clusterSendFail).
fn send_fail(cl: &mut Cluster, failing: usize, loc: &Local) {
    let name = cl.nodes[failing].name;
    let bytes = msg::encode(&Message {
        hdr: build_header(cl, msg::FAIL, loc),
        body: Body::Fail(name),
    });
    broadcast(cl, &bytes, msg::FAIL);
}

/// Sends a PONG to every node (clusterBroadcastPong), after our config changed.
pub fn broadcast_pong(srv: &mut Server) {
    let loc = local(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let targets: Vec<(usize, usize)> = cl
        .nodes
        .iter()
        .filter(|(k, n)| *k != cl.myself && !n.in_handshake())
        .filter_map(|(k, n)| n.link.map(|l| (k, l)))
        .collect();
    for (k, l) in targets {
        let bytes = ping_message(cl, Some(k), msg::PONG, &loc);
        if let Some(Some(link)) = cl.links.get_mut(l) {
            link.sndbuf.extend_from_slice(&bytes);
        }
    }
}

/// Called by net.rs when an outbound connect completed (clusterLinkConnectHandler): the
/// first message goes, a MEET if the node is flagged for one.
pub fn on_connected(srv: &mut Server, link: &mut Link) {
    let loc = local(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let Some(n) = link.node else {
        return;
    };
    let meet = cl.nodes.get(n).is_some_and(|n| n.flags & node::MEET != 0);
    let old_ping = cl.nodes.get(n).map_or(0, |n| n.ping_sent);
    send_ping(cl, link, if meet { msg::MEET } else { msg::PING }, &loc);
    if let Some(node) = cl.nodes.get_mut(n) {
        // Keep the time of a ping that was pending before the reconnection: failure
        // detection must not restart from here.
        if old_ping != 0 {
            node.ping_sent = old_ping;
        }
        node.flags &= !node::MEET;
    }
    log_verbose!(
        "Connecting with Node {:.40} at {}",
        cl.nodes.get(n).map_or("", |x| x.name_str()),
        link.peer_ip
    );
}

/// Called by net.rs after a link was freed (freeClusterLink): the node forgets it.
pub fn link_freed(srv: &mut Server, idx: usize, link: &Link) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if let Some(n) = link.node.and_then(|n| cl.nodes.get_mut(n)) {
        if n.link == Some(idx) {
            n.link = None;
        }
        if n.inbound_link == Some(idx) {
            n.inbound_link = None;
        }
    }
}

/// Processes every complete message in `link.rcvbuf` (clusterReadHandler's framing, then
/// clusterProcessPacket). False when the link must be closed.
pub fn process_input(srv: &mut Server, idx: usize, link: &mut Link) -> bool {
    let mut pos = 0;
    let mut keep = true;
    while link.rcvbuf.len() - pos >= 8 {
        let totlen = match msg::frame_len(&link.rcvbuf[pos..pos + 8]) {
            Ok(n) => n,
            Err(_) => {
                log_warning!("Bad message length or signature received from Cluster bus.");
                keep = false;
                break;
            }
        };
        if link.rcvbuf.len() - pos < totlen {
            break;
        }
        let decoded = msg::decode(&link.rcvbuf[pos..pos + totlen]);
        pos += totlen;
        match decoded {
            Ok(m) => {
                let ok = process_packet(srv, idx, link, m);
                drop_dirty_slots(srv);
                super::failover::apply_pending_master(srv);
                if !ok {
                    keep = false;
                    break;
                }
            }
            Err(msg::DecodeError::Ignored) => {}
            Err(msg::DecodeError::Invalid(why)) => {
                log_warning!("{why}");
                keep = false;
                break;
            }
            Err(msg::DecodeError::BadSignatureOrLength) => {
                keep = false;
                break;
            }
        }
    }
    link.rcvbuf.drain(..pos);
    if link.rcvbuf.capacity() > RCVBUF_INIT && link.rcvbuf.len() < RCVBUF_INIT {
        link.rcvbuf.shrink_to(RCVBUF_INIT);
    }
    keep
}

/// What one message does (clusterProcessPacket). False when the link must be closed.
fn process_packet(srv: &mut Server, idx: usize, link: &mut Link, m: Message) -> bool {
    let loc = local(srv);
    let announce_ip_set = !loc.announce_ip.is_empty();
    let Some(cl) = srv.cluster.as_mut() else {
        return false;
    };
    let h = &m.hdr;
    let kind = h.kind;
    if (kind as usize) < msg::TYPE_COUNT {
        cl.stats_received[kind as usize] += 1;
    }
    let mut sender = cl.lookup(&h.sender);
    // A node still in handshake is not a sender: its name is random.
    if sender.is_some_and(|s| cl.nodes[s].in_handshake()) {
        sender = None;
    }
    if let Some(s) = sender {
        cl.nodes[s].data_received = loc.now;
        // Epochs.
        if h.current_epoch > cl.current_epoch {
            cl.current_epoch = h.current_epoch;
            cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
        }
        let sn = &mut cl.nodes[s];
        if h.config_epoch > sn.config_epoch {
            sn.config_epoch = h.config_epoch;
            cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
        }
        let sn = &mut cl.nodes[s];
        sn.repl_offset = h.offset as i64;
        sn.repl_offset_time = loc.now;
        super::failover::on_header(cl, s, h);
    }
    let is_ping_kind = matches!(kind, msg::PING | msg::PONG | msg::MEET);
    if kind == msg::PING || kind == msg::MEET {
        // A MEET tells us our own address, as the peer reaches us.
        if (kind == msg::MEET || cl.me().ip.is_empty())
            && !announce_ip_set
            && !link.local_ip.is_empty()
            && cl.me().ip != link.local_ip
        {
            cl.me_mut().ip = link.local_ip.clone();
            cl.todo |= TODO_SAVE_CONFIG;
        }
        // An unknown node that MEETs us is added, in handshake (we do not know its real
        // name until our PING gets its PONG).
        if sender.is_none() && kind == msg::MEET {
            let mut n = Node::new(node::random_name(), node::HANDSHAKE, loc.now);
            n.ip = if h.myip.is_empty() {
                link.peer_ip.clone()
            } else {
                h.myip.clone()
            };
            n.port = h.port;
            n.pport = h.pport;
            n.cport = h.cport;
            cl.add_node(n);
            cl.todo |= TODO_SAVE_CONFIG;
            if let Body::Ping { gossip, .. } = &m.body {
                process_gossip(cl, None, gossip, &loc);
            }
        }
        send_ping(cl, link, msg::PONG, &loc);
    }
    if is_ping_kind {
        if link.inbound {
            // An inbound link is bound to its node once the node is known.
            if let (Some(s), None) = (sender, link.node) {
                if let Some(old) = cl.nodes[s].inbound_link {
                    if old != idx {
                        if let Some(Some(l)) = cl.links.get_mut(old) {
                            l.node = None;
                        }
                        cl.close_links.push(old);
                    }
                }
                cl.nodes[s].inbound_link = Some(idx);
                link.node = Some(s);
            }
        } else if let Some(ln) = link.node {
            if cl.nodes[ln].in_handshake() {
                if let Some(s) = sender {
                    // We already know this node under its real name: the handshake entry
                    // was a duplicate. Update the address and drop it.
                    log_verbose!(
                        "Handshake: we already know node {:.40}, updating the address if needed.",
                        cl.nodes[s].name_str()
                    );
                    update_address(cl, s, link, h);
                    let links = cl.del_node(ln);
                    cl.close_links
                        .extend(links.into_iter().filter(|&l| l != idx));
                    return false;
                }
                // First PONG: the node takes its real name and role.
                let n = &mut cl.nodes[ln];
                n.name = h.sender;
                n.flags &= !node::HANDSHAKE;
                n.flags |= h.flags & (node::MASTER | node::SLAVE);
                log_verbose!("Handshake with node {:.40} completed.", n.name_str());
                cl.todo |= TODO_SAVE_CONFIG;
                sender = Some(ln);
            } else if cl.nodes[ln].name != h.sender {
                // The node at this address changed its name: forget the address.
                log_verbose!("PONG contains mismatching sender ID.");
                let n = &mut cl.nodes[ln];
                n.flags |= node::NOADDR;
                n.ip.clear();
                n.port = 0;
                n.pport = 0;
                n.cport = 0;
                cl.todo |= TODO_SAVE_CONFIG;
                return false;
            }
        }
        // NOFAILOVER is the sender's to say: replicas rank themselves among those that may
        // fail over.
        if let Some(s) = sender {
            let n = &mut cl.nodes[s];
            n.flags = (n.flags & !node::NOFAILOVER) | (h.flags & node::NOFAILOVER);
        }
        // Update our outbound node's address from what it announces.
        if let (Some(s), false) = (sender, link.inbound) {
            if link.node == Some(s) {
                update_address(cl, s, link, h);
            }
        }
        // A PONG ends the wait of our ping and clears PFAIL (and FAIL when it can be undone).
        if kind == msg::PONG && !link.inbound {
            if let Some(ln) = link.node {
                let n = &mut cl.nodes[ln];
                n.pong_received = loc.now;
                n.ping_sent = 0;
                if n.timed_out() {
                    n.flags &= !node::PFAIL;
                    cl.todo |= TODO_UPDATE_STATE;
                } else if n.failed() {
                    clear_fail_if_needed(cl, ln, &loc);
                }
            }
        }
        if let Some(s) = sender {
            // Hostname extension.
            if let Body::Ping { exts, .. } = &m.body {
                let mut hostname = String::new();
                for x in exts {
                    if let Ext::Hostname(hn) = x {
                        hostname = hn.clone();
                    }
                }
                if cl.nodes[s].hostname != hostname {
                    cl.nodes[s].hostname = hostname;
                    cl.todo |= TODO_SAVE_CONFIG;
                }
            }
            // Role.
            if h.slaveof == NULL_NAME {
                set_node_as_master(cl, s);
            } else {
                let master = cl.lookup(&h.slaveof);
                let n = &mut cl.nodes[s];
                if n.is_master() {
                    n.flags &= !(node::MASTER | node::MIGRATE_TO);
                    n.flags |= node::SLAVE;
                    cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE;
                }
                if let Some(mk) = master {
                    if cl.nodes[s].slaveof != Some(mk) {
                        // A replica serves no slots.
                        cl.del_node_slots(s);
                        cl.set_master_of(s, Some(mk));
                        cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE;
                    }
                }
            }
            // Slots: a master announces what it serves (a replica, its master's).
            let sender_master = match cl.nodes[s].is_master() {
                true => Some(s),
                false => cl.nodes[s].slaveof,
            };
            let dirty = sender_master.is_some_and(|m| h.myslots != cl.nodes[m].slots);
            if cl.nodes[s].is_master() && dirty {
                update_slots_config(cl, s, h.config_epoch, &h.myslots);
            }
            if dirty {
                super::failover::send_update_if_stale(cl, s, h, &loc);
            }
            // Two masters with the same config epoch: the one with the smaller name takes
            // a new epoch (clusterHandleConfigEpochCollision).
            let me = cl.me();
            let sn = &cl.nodes[s];
            if me.is_master()
                && sn.is_master()
                && h.config_epoch == me.config_epoch
                && sn.name > me.name
            {
                cl.current_epoch += 1;
                let e = cl.current_epoch;
                cl.me_mut().config_epoch = e;
                cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
                log_verbose!(
                    "WARNING: configEpoch collision with node {:.40}. configEpoch set to {e}",
                    String::from_utf8_lossy(&h.sender)
                );
            }
            if let Body::Ping { gossip, .. } = &m.body {
                process_gossip(cl, Some(s), gossip, &loc);
            }
        }
        return true;
    }
    if sender.is_none() {
        return true;
    }
    match (&m.body, kind) {
        (Body::Fail(name), msg::FAIL) => {
            if let Some(f) = cl.lookup(name) {
                let n = &mut cl.nodes[f];
                if n.flags & (node::FAIL | node::MYSELF) == 0 {
                    log_notice!(
                        "FAIL message received from {:.40} about {:.40}",
                        String::from_utf8_lossy(&h.sender),
                        n.name_str()
                    );
                    n.flags |= node::FAIL;
                    n.fail_time = loc.now;
                    n.flags &= !node::PFAIL;
                    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
                }
            }
        }
        (
            Body::Update {
                config_epoch,
                name,
                slots,
            },
            msg::UPDATE,
        ) => {
            if let Some(n) = cl.lookup(name) {
                if cl.nodes[n].config_epoch < *config_epoch {
                    if cl.nodes[n].is_replica() {
                        set_node_as_master(cl, n);
                    }
                    cl.nodes[n].config_epoch = *config_epoch;
                    cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
                    update_slots_config(cl, n, *config_epoch, slots);
                }
            }
        }
        (_, msg::FAILOVER_AUTH_REQUEST) => {
            super::failover::on_auth_request(cl, sender.expect("known"), h, &loc);
        }
        (_, msg::FAILOVER_AUTH_ACK) => {
            super::failover::on_auth_ack(cl, sender.expect("known"), h);
        }
        (_, msg::MFSTART) => {
            super::failover::on_mfstart(cl, sender.expect("known"), link, &loc);
        }
        (Body::Publish { channel, message }, msg::PUBLISH | msg::PUBLISHSHARD) => {
            let shard = kind == msg::PUBLISHSHARD;
            crate::pubsub::publish(srv, channel, message, shard);
        }
        _ => {}
    }
    true
}

/// Records a node's new address when it announces one that differs (nodeUpdateAddressIfNeeded).
fn update_address(cl: &mut Cluster, n: usize, link: &Link, h: &Header) {
    let ip = if h.myip.is_empty() {
        link.peer_ip.clone()
    } else {
        h.myip.clone()
    };
    let node = &mut cl.nodes[n];
    if node.ip == ip && node.port == h.port && node.cport == h.cport && node.pport == h.pport {
        return;
    }
    node.ip = ip;
    node.port = h.port;
    node.pport = h.pport;
    node.cport = h.cport;
    node.flags &= !node::NOADDR;
    log_notice!(
        "Address updated for node {:.40}, now {}:{}",
        node.name_str(),
        node.ip,
        node.port
    );
    cl.todo |= TODO_SAVE_CONFIG;
}

/// Makes node `n` a master in our tables (clusterSetNodeAsMaster).
pub(super) fn set_node_as_master(cl: &mut Cluster, n: usize) {
    if cl.nodes[n].is_master() {
        return;
    }
    // A replica that turns master is a target for replica migration: its shard had replicas.
    if cl.nodes[n].slaveof.is_some() && n != cl.myself {
        cl.nodes[n].flags |= node::MIGRATE_TO;
    }
    cl.set_master_of(n, None);
    let node = &mut cl.nodes[n];
    node.flags &= !node::SLAVE;
    node.flags |= node::MASTER;
    cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE;
}

/// Applies the slots a master announced with its config epoch (clusterUpdateSlotsConfigWith):
/// a slot it claims becomes its own when nobody serves it or the owner's config epoch is
/// lower, ours included (the keys we still hold there are then deleted:
/// `Cluster::dirty_slots`). Slots we are importing are left alone. As in Redis, a slot the
/// sender stops claiming is not unassigned here. When it took every slot of our shard's
/// master, `failover::after_slots_update` makes us follow it instead.
fn update_slots_config(
    cl: &mut Cluster,
    sender: usize,
    epoch: u64,
    slots: &super::slots::SlotBitmap,
) {
    let me = cl.myself;
    if sender == me {
        return;
    }
    let curmaster = match cl.me().is_master() {
        true => Some(me),
        false => cl.me().slaveof,
    };
    let dirty_start = cl.dirty_slots.len();
    let (mut sender_slots, mut migrated_our_slots) = (0, 0);
    let mut changed = false;
    for s in 0..SLOTS {
        if !slots.get(s) {
            continue;
        }
        sender_slots += 1;
        let owner = cl.owner(s);
        if owner == Some(sender) || cl.importing[s] != super::NONE {
            continue;
        }
        let take = match owner {
            None => true,
            Some(o) => cl.nodes[o].config_epoch < epoch,
        };
        if take {
            if owner == Some(me) {
                cl.dirty_slots.push(s);
            }
            if owner.is_some() && owner == curmaster {
                migrated_our_slots += 1;
            }
            cl.del_slot(s);
            cl.add_slot(sender, s);
            changed = true;
        }
    }
    if changed {
        cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG;
    }
    super::failover::after_slots_update(
        cl,
        sender,
        curmaster,
        sender_slots,
        migrated_our_slots,
        dirty_start,
    );
}

/// `update_slots_config` with a header's epoch and slots, for unit tests.
#[cfg(test)]
pub(super) fn test_update_slots(cl: &mut Cluster, sender: usize, h: &Header) {
    update_slots_config(cl, sender, h.config_epoch, &h.myslots);
}

/// Deletes the keys we still hold in slots another node took (delKeysInSlot for the dirty
/// slots of clusterUpdateSlotsConfigWith), propagated as deletions.
fn drop_dirty_slots(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if cl.dirty_slots.is_empty() {
        return;
    }
    let dirty = std::mem::take(&mut cl.dirty_slots);
    let lazy = srv.config.lazyfree_lazy_server_del;
    for slot in dirty {
        let d = &srv.dbs[0];
        let keys = match d.slot_index.as_ref() {
            Some(ix) => ix.keys(&d.dict, slot, usize::MAX),
            None => continue,
        };
        if keys.is_empty() {
            continue;
        }
        log_warning!(
            "I've still keys about slot {slot} that is no longer served by me: deleting {} keys.",
            keys.len()
        );
        for k in keys {
            let k = k.as_bytes();
            if srv.delete_key(0, k) {
                srv.propagate_deletion(0, k, lazy);
                srv.signal_deleted_key(0, k);
                srv.notify_keyspace_event(crate::server::notify::GENERIC, "del", k, 0);
                srv.dirty += 1;
            }
        }
    }
}

/// The gossip sections of a PING/PONG/MEET (clusterProcessGossipSection): failure reports
/// from masters, and handshakes with nodes we did not know.
fn process_gossip(cl: &mut Cluster, sender: Option<usize>, gossip: &[Gossip], loc: &Local) {
    let sender_is_master = sender.is_some_and(|s| cl.nodes[s].is_master());
    for g in gossip {
        match cl.lookup(&g.name) {
            Some(n) => {
                if let Some(s) = sender {
                    if sender_is_master && n != cl.myself {
                        if g.flags & (node::FAIL | node::PFAIL) != 0 {
                            add_fail_report(cl, n, s, loc.now);
                            mark_failing_if_needed(cl, n, loc);
                        } else {
                            cl.nodes[n].fail_reports.retain(|&(r, _)| r != s);
                        }
                    }
                }
                // Gossip about a node without a pending ping and without failure reports
                // may carry a more recent pong time.
                let node = &mut cl.nodes[n];
                if g.flags & (node::FAIL | node::PFAIL) == 0
                    && node.ping_sent == 0
                    && node.fail_reports.is_empty()
                {
                    let pongtime = g.pong_received as i64 * 1000;
                    if pongtime <= loc.now + 500 && pongtime > node.pong_received {
                        node.pong_received = pongtime;
                    }
                }
            }
            None => {
                // Start a handshake with a node we learn about, if the sender is known and
                // the node has an address and was not just forgotten.
                if sender.is_some()
                    && g.flags & node::NOADDR == 0
                    && !g.ip.is_empty()
                    && !blacklisted(cl, &g.name, loc.now)
                {
                    start_handshake(cl, &g.ip, g.port, g.cport, loc.now);
                }
            }
        }
    }
}

fn blacklisted(cl: &mut Cluster, name: &Name, now: i64) -> bool {
    cl.blacklist.retain(|&(_, until)| until > now / 1000);
    cl.blacklist.iter().any(|(n, _)| n == name)
}

fn add_fail_report(cl: &mut Cluster, failing: usize, reporter: usize, now: i64) {
    let reports = &mut cl.nodes[failing].fail_reports;
    match reports.iter_mut().find(|(r, _)| *r == reporter) {
        Some(r) => r.1 = now,
        None => reports.push((reporter, now)),
    }
}

/// Valid failure reports about node `n` (older ones are dropped).
pub fn fail_report_count(cl: &mut Cluster, n: usize, node_timeout: i64, now: i64) -> usize {
    let maxtime = node_timeout * FAIL_REPORT_VALIDITY_MULT;
    let reports = &mut cl.nodes[n].fail_reports;
    reports.retain(|&(_, t)| now - t <= maxtime);
    reports.len()
}

/// Flags node `n` FAIL when a majority of masters report it (markNodeAsFailingIfNeeded).
fn mark_failing_if_needed(cl: &mut Cluster, n: usize, loc: &Local) {
    let quorum = cl.size / 2 + 1;
    if !cl.nodes[n].timed_out() || cl.nodes[n].failed() {
        return;
    }
    let mut failures = fail_report_count(cl, n, loc.node_timeout, loc.now);
    if cl.me().is_master() {
        failures += 1;
    }
    if failures < quorum {
        return;
    }
    log_notice!(
        "Marking node {:.40} as failing (quorum reached).",
        cl.nodes[n].name_str()
    );
    let node = &mut cl.nodes[n];
    node.flags &= !node::PFAIL;
    node.flags |= node::FAIL;
    node.fail_time = loc.now;
    if cl.me().is_master() {
        send_fail(cl, n, loc);
    }
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
}

/// Clears FAIL on a node that answers again (clearNodeFailureIfNeeded): at once for a
/// replica or a master without slots, after a while for a master that still serves slots.
fn clear_fail_if_needed(cl: &mut Cluster, n: usize, loc: &Local) {
    let node = &mut cl.nodes[n];
    if node.is_replica() || node.numslots == 0 {
        log_notice!(
            "Clear FAIL state for node {:.40}: replica is reachable again.",
            node.name_str()
        );
        node.flags &= !node::FAIL;
        cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    } else if loc.now - node.fail_time > loc.node_timeout * FAIL_UNDO_TIME_MULT {
        log_notice!(
            "Clear FAIL state for node {:.40}: is reachable again and nobody is serving its slots after some time.",
            node.name_str()
        );
        node.flags &= !node::FAIL;
        cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    }
}

/// Adds a node to meet at `ip:port` (clusterStartHandshake); false when the address is
/// invalid or a handshake with it is already in progress.
pub fn start_handshake(cl: &mut Cluster, ip: &str, port: u16, cport: u16, now: i64) -> bool {
    let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    if port == 0 || cport == 0 {
        return false;
    }
    // The address in its normalized form.
    let norm = addr.to_string();
    let busy = cl.nodes.iter().any(|(_, n)| {
        n.in_handshake() && n.ip.eq_ignore_ascii_case(&norm) && n.port == port && n.cport == cport
    });
    if busy {
        return false;
    }
    let mut n = Node::new(node::random_name(), node::HANDSHAKE | node::MEET, now);
    n.ip = norm;
    n.port = port;
    n.cport = cport;
    cl.add_node(n);
    true
}

/// Connects, pings and detects failures (clusterCron), called every 100 ms. Outbound
/// connections are opened through net.rs.
pub fn cron(srv: &mut Server) {
    let loc = local(srv);
    let full = srv.config.other_int("cluster-require-full-coverage") != 0;
    free_links_over_sendbuf_limit(srv);
    crate::server::net::close_cluster_links(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    cl.cron_iteration += 1;
    let handshake_timeout = loc.node_timeout.max(1000);
    cl.stats_pfail_nodes = 0;
    // Handshakes that timed out; nodes without a link to connect.
    let mut to_connect = Vec::new();
    let mut expired = Vec::new();
    for (k, n) in cl.nodes.iter() {
        if k == cl.myself || n.flags & node::NOADDR != 0 {
            continue;
        }
        if n.timed_out() {
            cl.stats_pfail_nodes += 1;
        }
        if n.in_handshake() && loc.now - n.ctime > handshake_timeout {
            expired.push(k);
            continue;
        }
        if n.link.is_none() {
            to_connect.push((k, n.ip.clone(), n.cport));
        }
    }
    for k in expired {
        let links = cl.del_node(k);
        cl.close_links.extend(links);
    }
    for (k, ip, cport) in to_connect {
        match crate::server::net::connect_cluster_link(srv, &ip, cport) {
            Ok(l) => {
                let cl = srv.cluster.as_mut().expect("cluster mode");
                if let Some(n) = cl.nodes.get_mut(k) {
                    n.link = Some(l);
                }
                if let Some(Some(link)) = cl.links.get_mut(l) {
                    link.node = Some(k);
                }
            }
            Err(e) => {
                let cl = srv.cluster.as_mut().expect("cluster mode");
                if let Some(n) = cl.nodes.get_mut(k) {
                    // Failure detection counts from a ping we could not even send.
                    if n.ping_sent == 0 {
                        n.ping_sent = loc.now;
                    }
                }
                log_verbose!("Unable to connect to Cluster Node [{ip}]:{cport} -> {e}");
            }
        }
    }
    let cl = srv.cluster.as_mut().expect("cluster mode");
    // Once a second, ping one of five random nodes: the one whose pong is oldest.
    if cl.cron_iteration.is_multiple_of(10) {
        let keys: Vec<usize> = cl.nodes.iter().map(|(k, _)| k).collect();
        let mut best: Option<usize> = None;
        for _ in 0..5 {
            let k = keys[crate::util::rand::index(keys.len())];
            let n = &cl.nodes[k];
            if n.link.is_none()
                || n.ping_sent != 0
                || n.flags & (node::MYSELF | node::HANDSHAKE) != 0
            {
                continue;
            }
            if best.is_none_or(|b| n.pong_received < cl.nodes[b].pong_received) {
                best = Some(k);
            }
        }
        if let Some(b) = best {
            ping_node(cl, b, &loc);
        }
    }
    let mut update = false;
    let keys: Vec<usize> = cl.nodes.iter().map(|(k, _)| k).collect();
    for k in keys {
        let Some(n) = cl.nodes.get(k) else {
            continue;
        };
        if n.flags & (node::MYSELF | node::NOADDR | node::HANDSHAKE) != 0 {
            continue;
        }
        let ping_delay = loc.now - n.ping_sent;
        let data_delay = loc.now - n.data_received;
        // A link that gets no pong for half the timeout is reconnected.
        if let Some(l) = n.link {
            let link_old = cl
                .links
                .get(l)
                .and_then(|x| x.as_ref())
                .is_some_and(|x| loc.now - x.ctime > loc.node_timeout);
            if link_old
                && n.ping_sent != 0
                && ping_delay > loc.node_timeout / 2
                && data_delay > loc.node_timeout / 2
            {
                cl.nodes[k].link = None;
                cl.close_links.push(l);
            }
        }
        let n = &cl.nodes[k];
        if n.link.is_some() && n.ping_sent == 0 && loc.now - n.pong_received > loc.node_timeout / 2
        {
            ping_node(cl, k, &loc);
            continue;
        }
        let n = &cl.nodes[k];
        if n.ping_sent == 0 {
            continue;
        }
        let delay = ping_delay.min(data_delay);
        if delay > loc.node_timeout && n.flags & (node::PFAIL | node::FAIL) == 0 {
            log_verbose!("*** NODE {:.40} possibly failing", n.name_str());
            cl.nodes[k].flags |= node::PFAIL;
            update = true;
        }
    }
    if update || !cl.state_ok || cl.todo & TODO_UPDATE_STATE != 0 {
        cl.update_state(loc.now, full, loc.node_timeout);
    }
}

/// Sends a PING to node `k` on its outbound link.
pub(super) fn ping_node(cl: &mut Cluster, k: usize, loc: &Local) {
    let Some(l) = cl.nodes[k].link else {
        return;
    };
    let bytes = ping_message(cl, Some(k), msg::PING, loc);
    if let Some(Some(link)) = cl.links.get_mut(l) {
        link.sndbuf.extend_from_slice(&bytes);
    }
}

/// Node `n` with its flags from gossip is in PFAIL or FAIL: counts it for INFO.
pub fn is_failing(n: &Node) -> bool {
    n.flags & (node::PFAIL | node::FAIL) != 0
}

/// Frees the links whose send buffer outgrew `cluster-link-sendbuf-limit` (clusterNodeCron-
/// FreeLinkOnBufferLimitReached): a peer that stopped reading must not make us hold every
/// message for it. The link's memory is its struct and its buffer's allocation, as
/// CLUSTER LINKS shows it; the cron connects again.
fn free_links_over_sendbuf_limit(srv: &mut Server) {
    let limit = srv.config.other_int("cluster-link-sendbuf-limit") as u64;
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if limit == 0 {
        return;
    }
    let over: Vec<usize> = cl
        .links
        .iter()
        .filter_map(|(idx, l)| l.as_ref().map(|l| (idx, l)))
        .filter(|(_, l)| (std::mem::size_of::<Link>() + l.sndbuf.capacity()) as u64 > limit)
        .map(|(idx, _)| idx)
        .collect();
    for idx in over {
        if !cl.close_links.contains(&idx) {
            log_warning!(
                "Freeing cluster link({}), used memory exceeds cluster-link-sendbuf-limit",
                idx
            );
            cl.close_links.push(idx);
            cl.links_buffer_limit_exceeded += 1;
        }
    }
}
