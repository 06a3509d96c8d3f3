//! Replica failover (cluster.c's replica-side functions): the election a replica of a
//! FAIL master runs, the votes masters give, manual failover (CLUSTER FAILOVER and MFSTART),
//! replica migration to orphaned masters, and following a new master when another node takes
//! our shard's slots.
//!
//! ```text
//!  automatic failover (a replica, every cron and when a vote arrives)
//!    master FAIL --> election scheduled at now + 500 + random(0..500) + rank * 1000 ms
//!      (rank: siblings with a greater replication offset; PONG to siblings with ours)
//!    time reached --> currentEpoch + 1, FAILOVER_AUTH_REQUEST to every node
//!    masters vote --> FAILOVER_AUTH_ACK (one vote per epoch, none for the same master
//!      within 2 x node-timeout, none if a claimed slot has a greater config epoch)
//!    acks >= size / 2 + 1 --> configEpoch = election epoch, take the master's slots,
//!      stop replicating (the history stays as replid2), PONG to every node
//!    no quorum within max(2 x node-timeout, 2 s) --> retry after twice that
//!
//!  manual failover (CLUSTER FAILOVER on a replica; mf_end = now + 5 s)
//!    default:  MFSTART --> the master pauses writes and PINGs us with mflags PAUSED and
//!              its offset --> once our offset equals it, an election with FORCEACK (masters
//!              vote although our master is up), at once (no delay)
//!    FORCE:    the election with FORCEACK at once, without the master
//!    TAKEOVER: a new config epoch without votes, the slots taken at once
//!
//!  following: a PONG or UPDATE that moves every slot of our master (or of ourselves, a
//!    master) to another node makes us its replica (the old master rejoins this way);
//!  replica migration: a replica of the master with the most working replicas (above
//!    cluster-migration-barrier), the one with the smallest name, moves to a master left
//!    without working replicas for 5 s.
//! ```
//!
//! The messages are handled here from `bus::process_packet`; replication is switched through
//! `crate::replication::replica`.

use super::bus::{self, Link, Local};
use super::msg::{self, Body, Header, Message};
use super::node::{self, Name};
use super::slots::SLOTS;
use super::{nodes_conf, Cluster, TODO_FSYNC_CONFIG, TODO_SAVE_CONFIG, TODO_UPDATE_STATE};
use crate::server::Server;
use crate::{log_notice, log_warning};

/// How long a manual failover may take (CLUSTER_MF_TIMEOUT).
const MF_TIMEOUT_MS: i64 = 5000;
/// The master pauses writes for this many times the manual failover timeout
/// (CLUSTER_MF_PAUSE_MULT); the pause ends earlier with the failover.
const MF_PAUSE_MULT: i64 = 2;
/// A master must be orphaned this long before a replica migrates to it
/// (CLUSTER_SLAVE_MIGRATION_DELAY).
const MIGRATION_DELAY_MS: i64 = 5000;
/// The same reason for not failing over is logged again after this many ms.
const CANT_FAILOVER_RELOG_MS: i64 = 10_000;

/// Why a replica of a failing master does not fail over (CLUSTER_CANT_FAILOVER_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum CantFailover {
    #[default]
    None,
    DataAge,
    WaitingDelay,
    Expired,
    WaitingVotes,
}

/// The failover state of this node (the failover_auth_* and mf_* fields of clusterState).
#[derive(Debug)]
pub struct State {
    /// Unix ms when the current election starts (or started).
    auth_time: i64,
    /// Votes received in the current election.
    auth_count: usize,
    /// True once the vote requests of the current election went out.
    auth_sent: bool,
    /// Our rank among our master's replicas when the election was scheduled.
    auth_rank: usize,
    /// The epoch of the current election.
    auth_epoch: u64,
    /// The last reason logged for not failing over, and when.
    cant_reason: CantFailover,
    cant_logged_ms: i64,
    /// Unix ms when the manual failover in progress is abandoned (0: none).
    pub mf_end: i64,
    /// A replica: the manual failover may run its election.
    mf_can_start: bool,
    /// A master: the replica that asked for the manual failover.
    mf_slave: Option<Name>,
    /// A replica: the offset our paused master announced.
    mf_master_offset: Option<i64>,
    /// A master: writes are paused for a manual failover until this Unix ms (0: not paused).
    paused_until_ms: i64,
    /// Work for before_sleep: an election may proceed, or the manual failover state.
    handle_failover: bool,
    handle_manual: bool,
    /// Masters seen without working replicas, since when (orphaned_time).
    orphaned_since: Vec<(Name, i64)>,
    /// A node whose replica we must become, decided while a message was processed.
    pending_master: Option<usize>,
    /// cluster-allow-replica-migration, as of the last cron.
    allow_replica_migration: bool,
}

impl Default for State {
    fn default() -> State {
        State {
            auth_time: 0,
            auth_count: 0,
            auth_sent: false,
            auth_rank: 0,
            auth_epoch: 0,
            cant_reason: CantFailover::None,
            cant_logged_ms: 0,
            mf_end: 0,
            mf_can_start: false,
            mf_slave: None,
            mf_master_offset: None,
            paused_until_ms: 0,
            handle_failover: false,
            handle_manual: false,
            orphaned_since: Vec::new(),
            pending_master: None,
            allow_replica_migration: true,
        }
    }
}

/// True while this master holds writes back for a replica's manual failover
/// (PAUSE_DURING_FAILOVER).
#[inline]
pub fn pauses_writes(srv: &Server) -> bool {
    srv.cluster
        .as_ref()
        .is_some_and(|c| c.fo.paused_until_ms != 0)
}

/// mflags[0] of the messages we send: PAUSED while we are a master in a manual failover.
pub fn header_flags(cl: &Cluster) -> u8 {
    if cl.me().is_master() && cl.fo.mf_end != 0 {
        msg::FLAG0_PAUSED
    } else {
        0
    }
}

/// Clears the manual failover state, lifting a master's pause (resetManualFailover).
pub fn reset_manual(cl: &mut Cluster) {
    if cl.fo.mf_slave.is_some() {
        cl.fo.paused_until_ms = 0;
    }
    cl.fo.mf_end = 0;
    cl.fo.mf_can_start = false;
    cl.fo.mf_slave = None;
    cl.fo.mf_master_offset = None;
}

/// Our replication offset as a replica (replicationGetSlaveOffset): what we processed of
/// our master's stream.
fn my_offset(srv: &Server) -> i64 {
    srv.repl.master_repl_offset
}

/// The header of a known sender was read: a replica in a manual failover takes the offset
/// its paused master announces.
pub fn on_header(cl: &mut Cluster, sender: usize, h: &Header) {
    let me = cl.me();
    if cl.fo.mf_end != 0
        && me.is_replica()
        && me.slaveof == Some(sender)
        && h.mflags[0] & msg::FLAG0_PAUSED != 0
        && cl.fo.mf_master_offset.is_none()
    {
        cl.fo.mf_master_offset = Some(h.offset as i64);
        cl.fo.handle_manual = true;
        log_warning!(
            "Received replication offset for paused master manual failover: {}",
            h.offset
        );
    }
}

/// A message with no body (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART).
fn empty_message(cl: &Cluster, kind: u16, loc: &Local, mflags0: u8) -> Vec<u8> {
    let mut hdr = bus::build_header(cl, kind, loc);
    hdr.mflags[0] |= mflags0;
    msg::encode(&Message {
        hdr,
        body: Body::Empty,
    })
}

/// Queues a message on node `n`'s outbound link, if it has one.
fn send_to_node(cl: &mut Cluster, n: usize, bytes: &[u8], kind: u16) {
    if let Some(l) = cl.nodes.get(n).and_then(|x| x.link) {
        bus::send_to_links(cl, &[l], bytes, kind);
    }
}

/// A sender announced slots that a node with a greater config epoch serves in our view: it
/// is told with an UPDATE about that node (the first one found), as a master that comes back
/// after a partition learns that its slots moved.
pub(super) fn send_update_if_stale(cl: &mut Cluster, sender: usize, h: &Header, loc: &Local) {
    for s in 0..SLOTS {
        if !h.myslots.get(s) {
            continue;
        }
        let Some(owner) = cl.owner(s) else {
            continue;
        };
        if owner == sender || cl.nodes[owner].config_epoch <= h.config_epoch {
            continue;
        }
        log_notice!(
            "Node {:.40} has old slots configuration, sending an UPDATE message about {:.40}",
            cl.nodes[sender].name_str(),
            cl.nodes[owner].name_str()
        );
        let o = &cl.nodes[owner];
        let bytes = msg::encode(&Message {
            hdr: bus::build_header(cl, msg::UPDATE, loc),
            body: Body::Update {
                config_epoch: o.config_epoch,
                name: o.name,
                slots: o.slots.clone(),
            },
        });
        send_to_node(cl, sender, &bytes, msg::UPDATE);
        return;
    }
}

/// The end of clusterUpdateSlotsConfigWith: when `sender` took every slot our shard's master
/// (`curmaster`: ourselves or our master) served, we become its replica (with
/// cluster-allow-replica-migration, or when it took only our slots), and the keys of the
/// slots we lost are not deleted (the new master's stream replaces them); a replica whose
/// master turned replica follows the grand-master.
pub fn after_slots_update(
    cl: &mut Cluster,
    sender: usize,
    curmaster: Option<usize>,
    sender_slots: usize,
    migrated_our_slots: usize,
    dirty_start: usize,
) {
    let Some(cur) = curmaster else {
        return;
    };
    if migrated_our_slots > 0
        && cl.nodes[cur].numslots == 0
        && (cl.fo.allow_replica_migration || sender_slots == migrated_our_slots)
    {
        log_warning!(
            "Configuration change detected. Reconfiguring myself as a replica of {:.40}",
            cl.nodes[sender].name_str()
        );
        cl.dirty_slots.truncate(dirty_start);
        cl.fo.pending_master = Some(sender);
        return;
    }
    let me = cl.me();
    if let Some(m) = me.slaveof.filter(|_| me.is_replica()) {
        if let Some(gm) = cl.nodes.get(m).and_then(|x| x.slaveof) {
            if cl.nodes[m].is_replica() {
                log_warning!(
                    "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {:.40}",
                    cl.nodes[gm].name_str()
                );
                cl.dirty_slots.truncate(dirty_start);
                cl.fo.pending_master = Some(gm);
            }
        }
    }
}

/// Carries out a change of master decided while a message was processed.
pub fn apply_pending_master(srv: &mut Server) {
    let Some(n) = srv
        .cluster
        .as_mut()
        .and_then(|c| c.fo.pending_master.take())
    else {
        return;
    };
    let cl = srv.cluster.as_ref().expect("cluster mode");
    if n == cl.myself || !cl.nodes.contains(n) {
        return;
    }
    set_my_master(srv, n);
    srv.cluster.as_mut().expect("cluster mode").todo |=
        TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG;
}

/// We become a replica of node `n` (clusterSetMaster): in the cluster tables and through
/// the REPLICAOF machinery; a manual failover in progress ends.
pub fn set_my_master(srv: &mut Server, n: usize) {
    let cl = srv.cluster.as_mut().expect("cluster mode");
    let me = cl.myself;
    if cl.me().is_master() {
        cl.me_mut().flags &= !(node::MASTER | node::MIGRATE_TO);
        cl.me_mut().flags |= node::SLAVE;
        for s in 0..SLOTS {
            cl.importing[s] = super::NONE;
            cl.migrating[s] = super::NONE;
        }
    }
    cl.set_master_of(me, Some(n));
    reset_manual(cl);
    let (ip, port) = (cl.nodes[n].ip.clone(), cl.nodes[n].port);
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    crate::replication::replica::set_master(srv, ip, port);
}

/// A FAILOVER_AUTH_REQUEST from `sender` (clusterSendFailoverAuthIfNeeded): a master serving
/// slots votes for a replica of a FAIL master (or of any master, with FORCEACK) once per
/// epoch, not twice for the same master within 2 x node-timeout, and only when no slot the
/// replica claims is served by a master with a greater config epoch.
pub(super) fn on_auth_request(cl: &mut Cluster, sender: usize, h: &Header, loc: &Local) {
    let me = cl.me();
    if me.is_replica() || me.numslots == 0 {
        return;
    }
    let name = cl.nodes[sender].name_str().to_string();
    if h.current_epoch < cl.current_epoch {
        log_warning!(
            "Failover auth denied to {name:.40}: reqEpoch ({}) < curEpoch({})",
            h.current_epoch,
            cl.current_epoch
        );
        return;
    }
    if cl.last_vote_epoch == cl.current_epoch {
        log_warning!(
            "Failover auth denied to {name:.40}: already voted for epoch {}",
            cl.current_epoch
        );
        return;
    }
    let node = &cl.nodes[sender];
    let force_ack = h.mflags[0] & msg::FLAG0_FORCEACK != 0;
    let master = node.slaveof.filter(|&m| cl.nodes.contains(m));
    if node.is_master() {
        log_warning!("Failover auth denied to {name:.40}: it is a master node");
        return;
    }
    let Some(master) = master else {
        log_warning!("Failover auth denied to {name:.40}: I don't know its master");
        return;
    };
    if !cl.nodes[master].failed() && !force_ack {
        log_warning!("Failover auth denied to {name:.40}: its master is up");
        return;
    }
    let since_vote = loc.now - cl.nodes[master].voted_time;
    if since_vote < loc.node_timeout * 2 {
        log_warning!(
            "Failover auth denied to {name:.40}: can't vote about this master before {} milliseconds",
            loc.node_timeout * 2 - since_vote
        );
        return;
    }
    for s in 0..SLOTS {
        if !h.myslots.get(s) {
            continue;
        }
        let Some(o) = cl.owner(s) else {
            continue;
        };
        if cl.nodes[o].config_epoch <= h.config_epoch {
            continue;
        }
        log_warning!(
            "Failover auth denied to {name:.40}: slot {s} epoch ({}) > reqEpoch ({})",
            cl.nodes[o].config_epoch,
            h.config_epoch
        );
        return;
    }
    cl.last_vote_epoch = cl.current_epoch;
    cl.nodes[master].voted_time = loc.now;
    cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
    let bytes = empty_message(cl, msg::FAILOVER_AUTH_ACK, loc, 0);
    send_to_node(cl, sender, &bytes, msg::FAILOVER_AUTH_ACK);
    log_warning!(
        "Failover auth granted to {name:.40} for epoch {}",
        cl.current_epoch
    );
}

/// A FAILOVER_AUTH_ACK: a vote counts when it comes from a master serving slots whose
/// current epoch is at least our election's.
pub fn on_auth_ack(cl: &mut Cluster, sender: usize, h: &Header) {
    let n = &cl.nodes[sender];
    if n.is_master() && n.numslots > 0 && h.current_epoch >= cl.fo.auth_epoch {
        cl.fo.auth_count += 1;
        cl.fo.handle_failover = true;
    }
}

/// An MFSTART from one of our replicas: writes are paused and the replica is PINGed with
/// our offset (flagged PAUSED) so it knows when it has caught up.
pub(super) fn on_mfstart(cl: &mut Cluster, sender: usize, link: &mut Link, loc: &Local) {
    if cl.nodes[sender].slaveof != Some(cl.myself) {
        return;
    }
    reset_manual(cl);
    cl.fo.mf_end = loc.now + MF_TIMEOUT_MS;
    cl.fo.mf_slave = Some(cl.nodes[sender].name);
    cl.fo.paused_until_ms = loc.now + MF_TIMEOUT_MS * MF_PAUSE_MULT;
    log_warning!(
        "Manual failover requested by replica {:.40}.",
        cl.nodes[sender].name_str()
    );
    bus::send_ping(cl, link, msg::PING, loc);
}

/// clusterGetSlaveRank: how many other replicas of our master (that may fail over) announced
/// a greater replication offset than ours.
fn rank(cl: &Cluster, my_offset: i64) -> usize {
    let Some(m) = cl.me().slaveof else {
        return 0;
    };
    cl.nodes[m]
        .replicas
        .iter()
        .filter(|&&r| r != cl.myself)
        .filter_map(|&r| cl.nodes.get(r))
        .filter(|r| r.flags & node::NOFAILOVER == 0 && r.repl_offset > my_offset)
        .count()
}

/// Logs why we cannot fail over, when the reason changed or some time passed, and not in the
/// first node-timeout + 5 s of the master's failure (clusterLogCantFailover).
fn log_cant_failover(cl: &mut Cluster, reason: CantFailover, now: i64, node_timeout: i64) {
    if reason == cl.fo.cant_reason && now - cl.fo.cant_logged_ms < CANT_FAILOVER_RELOG_MS {
        return;
    }
    cl.fo.cant_reason = reason;
    if let Some(m) = cl.me().slaveof.and_then(|m| cl.nodes.get(m)) {
        if m.failed() && now - m.fail_time < node_timeout + 5000 {
            return;
        }
    }
    let text = match reason {
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
        CantFailover::None => "Unknown reason code.",
    };
    cl.fo.cant_logged_ms = now;
    log_warning!("Currently unable to failover: {text}");
}

/// The election of a replica whose master is FAIL, or of a manual failover
/// (clusterHandleSlaveFailover); see the module header.
fn handle_replica_failover(srv: &mut Server) {
    let now = crate::util::mstime();
    let node_timeout = srv.config.other_int("cluster-node-timeout").max(1);
    let no_failover = srv.config.other_int("cluster-replica-no-failover") != 0;
    let validity = srv.config.other_int("cluster-replica-validity-factor");
    let ping_period = srv.config.repl_ping_replica_period;
    let my_offset = my_offset(srv);
    // How long we have been without news from our master.
    let mut data_age = match srv.repl.master.as_ref() {
        Some(m) if m.state == crate::replication::replica::LinkState::Connected => {
            (now / 1000 - m.last_io_ms / 1000) * 1000
        }
        Some(m) => (now / 1000 - m.down_since) * 1000,
        None => 0,
    };
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    cl.fo.handle_failover = false;
    let auth_age = now - cl.fo.auth_time;
    let quorum = cl.size / 2 + 1;
    let manual = cl.fo.mf_end != 0 && cl.fo.mf_can_start;
    let auth_timeout = (node_timeout * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    let me = cl.me();
    let master = me.slaveof.filter(|_| me.is_replica());
    let eligible = master
        .and_then(|m| cl.nodes.get(m))
        .is_some_and(|m| (manual || (m.failed() && !no_failover)) && m.numslots > 0);
    let Some(master) = master.filter(|_| eligible) else {
        cl.fo.cant_reason = CantFailover::None;
        return;
    };
    // Being cut off while the master was being found failing is the baseline.
    if data_age > node_timeout {
        data_age -= node_timeout;
    }
    if validity != 0 && data_age > ping_period * 1000 + node_timeout * validity && !manual {
        log_cant_failover(cl, CantFailover::DataAge, now, node_timeout);
        return;
    }
    if auth_age > auth_retry {
        // A new election: after a fixed delay for the FAIL to propagate, a random one, and a
        // second per replica with a better offset.
        cl.fo.auth_time = now + 500 + crate::util::rand::index(500) as i64;
        cl.fo.auth_count = 0;
        cl.fo.auth_sent = false;
        cl.fo.auth_rank = rank(cl, my_offset);
        cl.fo.auth_time += cl.fo.auth_rank as i64 * 1000;
        if cl.fo.mf_end != 0 {
            cl.fo.auth_time = now;
            cl.fo.auth_rank = 0;
            cl.fo.handle_failover = true;
        }
        log_warning!(
            "Start of election delayed for {} milliseconds (rank #{}, offset {my_offset}).",
            cl.fo.auth_time - now,
            cl.fo.auth_rank
        );
        // Our siblings learn our offset, to rank themselves.
        let loc = bus::local(srv);
        pong_local_replicas(srv.cluster.as_mut().expect("cluster mode"), master, &loc);
        return;
    }
    if !cl.fo.auth_sent && cl.fo.mf_end == 0 {
        let newrank = rank(cl, my_offset);
        if newrank > cl.fo.auth_rank {
            let added = (newrank - cl.fo.auth_rank) as i64 * 1000;
            cl.fo.auth_time += added;
            cl.fo.auth_rank = newrank;
            log_warning!(
                "Replica rank updated to #{newrank}, added {added} milliseconds of delay."
            );
        }
    }
    if now < cl.fo.auth_time {
        log_cant_failover(cl, CantFailover::WaitingDelay, now, node_timeout);
        return;
    }
    if auth_age > auth_timeout {
        log_cant_failover(cl, CantFailover::Expired, now, node_timeout);
        return;
    }
    if !cl.fo.auth_sent {
        cl.current_epoch += 1;
        cl.fo.auth_epoch = cl.current_epoch;
        log_warning!(
            "Starting a failover election for epoch {}.",
            cl.current_epoch
        );
        let force = if cl.fo.mf_end != 0 {
            msg::FLAG0_FORCEACK
        } else {
            0
        };
        let loc = bus::local(srv);
        let cl = srv.cluster.as_mut().expect("cluster mode");
        let bytes = empty_message(cl, msg::FAILOVER_AUTH_REQUEST, &loc, force);
        bus::broadcast(cl, &bytes, msg::FAILOVER_AUTH_REQUEST);
        cl.fo.auth_sent = true;
        cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG;
        return;
    }
    if cl.fo.auth_count >= quorum {
        log_warning!("Failover election won: I'm the new master.");
        if cl.me().config_epoch < cl.fo.auth_epoch {
            let e = cl.fo.auth_epoch;
            cl.me_mut().config_epoch = e;
            log_warning!("configEpoch set to {e} after successful failover");
        }
        replace_your_master(srv);
    } else {
        log_cant_failover(cl, CantFailover::WaitingVotes, now, node_timeout);
    }
}

/// PONGs to the other replicas of our master (clusterBroadcastPong(LOCAL_SLAVES)).
fn pong_local_replicas(cl: &mut Cluster, master: usize, loc: &Local) {
    let targets: Vec<(usize, usize)> = cl.nodes[master]
        .replicas
        .iter()
        .filter(|&&r| r != cl.myself)
        .filter_map(|&r| {
            cl.nodes
                .get(r)
                .filter(|n| !n.in_handshake())
                .and_then(|n| n.link)
                .map(|l| (r, l))
        })
        .collect();
    for (k, l) in targets {
        let bytes = bus::ping_message(cl, Some(k), msg::PONG, loc);
        if let Some(Some(link)) = cl.links.get_mut(l) {
            link.sndbuf.extend_from_slice(&bytes);
        }
    }
}

/// The end of every failover (clusterFailoverReplaceYourMaster): we turn master, stop
/// replicating (keeping the history as replid2, so siblings continue partially), take our
/// master's slots, save the config, and PONG every node so that it learns at once.
pub fn replace_your_master(srv: &mut Server) {
    let full = srv.config.other_int("cluster-require-full-coverage") != 0;
    let timeout = srv.config.other_int("cluster-node-timeout");
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    let me = cl.myself;
    let Some(old) = cl.me().slaveof.filter(|_| cl.me().is_replica()) else {
        return;
    };
    bus::set_node_as_master(cl, me);
    crate::replication::replica::unset_master(srv);
    let cl = srv.cluster.as_mut().expect("cluster mode");
    for s in 0..SLOTS {
        if cl.nodes.get(old).is_some_and(|o| o.slots.get(s)) {
            cl.del_slot(s);
            cl.add_slot(me, s);
        }
    }
    cl.update_state(crate::util::mstime(), full, timeout);
    if let Err(e) = nodes_conf::save(cl, true) {
        log_warning!("Fatal: can't update cluster config file: {e}");
    }
    cl.todo &= !(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG);
    bus::broadcast_pong(srv);
    if let Some(cl) = srv.cluster.as_mut() {
        reset_manual(cl);
    }
}

/// A replica's manual failover: once our offset reaches the one our paused master announced,
/// the election may start (clusterHandleManualFailover).
fn handle_manual_failover(srv: &mut Server) {
    let offset = my_offset(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    cl.fo.handle_manual = false;
    if cl.fo.mf_end == 0 || cl.fo.mf_can_start {
        return;
    }
    let Some(want) = cl.fo.mf_master_offset else {
        return;
    };
    if want == offset {
        cl.fo.mf_can_start = true;
        log_warning!("All master replication stream processed, manual failover can start.");
        cl.fo.handle_failover = true;
    } else {
        cl.fo.handle_manual = true;
    }
}

/// Work before the loop sleeps: an election that may have reached its quorum, a manual
/// failover whose offset arrived.
pub fn before_sleep(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_ref() else {
        return;
    };
    if cl.fo.handle_manual {
        if cl.me().is_replica() {
            handle_manual_failover(srv);
            handle_replica_failover(srv);
        } else if let Some(cl) = srv.cluster.as_mut() {
            cl.fo.handle_manual = false;
        }
    } else if cl.fo.handle_failover {
        handle_replica_failover(srv);
    }
}

/// Working (not FAIL) replicas of node `n` (clusterCountNonFailingSlaves).
fn working_replicas(cl: &Cluster, n: usize) -> usize {
    cl.nodes[n]
        .replicas
        .iter()
        .filter(|&&r| cl.nodes.get(r).is_some_and(|x| !x.failed()))
        .count()
}

/// clusterCron's failover part, every 100 ms after the bus work: our NOFAILOVER flag, the
/// PINGs of a master to the replica in a manual failover, replication started toward a known
/// master, the manual failover timeout, and for a replica the election and replica migration.
pub fn cron(srv: &mut Server) {
    let no_failover = srv.config.other_int("cluster-replica-no-failover") != 0;
    let allow_migration = srv.config.other_int("cluster-allow-replica-migration") != 0;
    let loc = bus::local(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    cl.fo.allow_replica_migration = allow_migration;
    // clusterUpdateMyselfFlags.
    let flags = cl.me().flags;
    let want = if no_failover {
        flags | node::NOFAILOVER
    } else {
        flags & !node::NOFAILOVER
    };
    if want != flags {
        cl.me_mut().flags = want;
        cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
    }
    // A master in a manual failover pings the replica continuously.
    if cl.fo.mf_end != 0 && cl.me().is_master() {
        if let Some(n) = cl.fo.mf_slave.and_then(|name| cl.lookup(&name)) {
            bus::ping_node(cl, n, &loc);
        }
    }
    // A replica whose replication is off starts it once its master has an address.
    let me = cl.me();
    if me.is_replica() && srv.repl.master.is_none() {
        if let Some(m) = me.slaveof.and_then(|m| cl.nodes.get(m)) {
            if m.flags & node::NOADDR == 0 && !m.ip.is_empty() {
                let (ip, port) = (m.ip.clone(), m.port);
                crate::replication::replica::set_master(srv, ip, port);
            }
        }
    }
    let cl = srv.cluster.as_mut().expect("cluster mode");
    if cl.fo.mf_end != 0 && cl.fo.mf_end < loc.now {
        log_warning!("Manual failover timed out.");
        reset_manual(cl);
    }
    if cl.fo.paused_until_ms != 0 && cl.fo.paused_until_ms <= loc.now {
        cl.fo.paused_until_ms = 0;
    }
    if !cl.me().is_replica() {
        return;
    }
    // Orphaned masters (serving slots, no working replica, but meant to have some), the
    // most working replicas of a master, and our own master's.
    let (mut orphaned, mut max_replicas, mut mine) = (0, 0, 0);
    for (k, n) in cl.nodes.iter() {
        if n.flags & (node::MYSELF | node::NOADDR | node::HANDSHAKE) != 0
            || !n.is_master()
            || n.failed()
        {
            continue;
        }
        let ok = working_replicas(cl, k);
        if ok == 0 && n.numslots > 0 && n.flags & node::MIGRATE_TO != 0 {
            orphaned += 1;
        }
        max_replicas = max_replicas.max(ok);
        if cl.me().slaveof == Some(k) {
            mine = ok;
        }
    }
    handle_manual_failover(srv);
    handle_replica_failover(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if cl.me().is_replica()
        && orphaned > 0
        && max_replicas >= 2
        && mine == max_replicas
        && allow_migration
    {
        handle_replica_migration(srv, max_replicas);
    }
}

/// Replica migration (clusterHandleSlaveMigration): with the cluster OK and our master left
/// with more than cluster-migration-barrier working replicas without us, the replica with
/// the smallest name among the masters with the most working replicas moves to the first
/// orphaned master, once it has been orphaned for MIGRATION_DELAY_MS.
fn handle_replica_migration(srv: &mut Server, max_replicas: usize) {
    let barrier = srv.config.other_int("cluster-migration-barrier").max(0) as usize;
    let now = crate::util::mstime();
    let Some(cl) = srv.cluster.as_mut() else {
        return;
    };
    if !cl.state_ok {
        return;
    }
    let Some(mymaster) = cl.me().slaveof else {
        return;
    };
    let ok_here = cl.nodes[mymaster]
        .replicas
        .iter()
        .filter(|&&r| {
            cl.nodes
                .get(r)
                .is_some_and(|x| !x.failed() && !x.timed_out())
        })
        .count();
    if ok_here <= barrier {
        return;
    }
    let mut candidate = cl.me().name;
    let mut target: Option<usize> = None;
    let keys: Vec<usize> = cl.nodes.iter().map(|(k, _)| k).collect();
    for k in keys {
        let n = &cl.nodes[k];
        let ok = if n.is_master() {
            working_replicas(cl, k)
        } else {
            0
        };
        let orphaned = !n.is_replica() && !n.failed() && n.flags & node::MIGRATE_TO != 0 && ok == 0;
        let name = n.name;
        if orphaned {
            if target.is_none() && n.numslots > 0 {
                target = Some(k);
            }
            if !cl.fo.orphaned_since.iter().any(|(x, _)| *x == name) {
                cl.fo.orphaned_since.push((name, now));
            }
        } else {
            cl.fo.orphaned_since.retain(|(x, _)| *x != name);
        }
        if ok == max_replicas {
            for &r in &cl.nodes[k].replicas {
                if let Some(rn) = cl.nodes.get(r) {
                    if rn.name < candidate {
                        candidate = rn.name;
                    }
                }
            }
        }
    }
    let Some(t) = target else {
        return;
    };
    let since = cl
        .fo
        .orphaned_since
        .iter()
        .find(|(x, _)| *x == cl.nodes[t].name)
        .map_or(now, |&(_, s)| s);
    if candidate == cl.me().name && now - since > MIGRATION_DELAY_MS {
        log_warning!(
            "Migrating to orphaned master {:.40}",
            cl.nodes[t].name_str()
        );
        set_my_master(srv, t);
    }
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] on this node (clusterCommand's FAILOVER): Err is the
/// error reply.
pub fn manual_failover(srv: &mut Server, force: bool, takeover: bool) -> Result<(), &'static str> {
    let now = crate::util::mstime();
    let loc = bus::local(srv);
    let Some(cl) = srv.cluster.as_mut() else {
        return Err("ERR This instance has cluster support disabled");
    };
    let me = cl.me();
    if me.is_master() {
        return Err("ERR You should send CLUSTER FAILOVER to a replica");
    }
    let Some(master) = me.slaveof.filter(|&m| cl.nodes.contains(m)) else {
        return Err("ERR I'm a replica but my master is unknown to me");
    };
    if !force && (cl.nodes[master].failed() || cl.nodes[master].link.is_none()) {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    }
    reset_manual(cl);
    cl.fo.mf_end = now + MF_TIMEOUT_MS;
    if takeover {
        // No votes: a new config epoch of our own, and the slots at once.
        log_warning!("Taking over the master (user request).");
        bump_epoch_without_consensus(cl);
        replace_your_master(srv);
    } else if force {
        log_warning!("Forced failover user request accepted.");
        cl.fo.mf_can_start = true;
    } else {
        log_warning!("Manual failover user request accepted.");
        let bytes = empty_message(cl, msg::MFSTART, &loc, 0);
        send_to_node(cl, master, &bytes, msg::MFSTART);
    }
    Ok(())
}

/// clusterBumpConfigEpochWithoutConsensus: a new epoch for us unless ours is already the
/// greatest (and non-zero). True when it changed.
pub fn bump_epoch_without_consensus(cl: &mut Cluster) -> bool {
    let max = cl.max_epoch();
    let mine = cl.me().config_epoch;
    if mine == 0 || mine != max {
        cl.current_epoch += 1;
        let e = cl.current_epoch;
        cl.me_mut().config_epoch = e;
        cl.todo |= TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
        log_notice!("New configEpoch set to {e}");
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::Node;

    /// A master (us) serving slots 0..100 at config epoch 1, a FAIL master `m` serving
    /// 100..200 at config epoch 2, and its replica `r`.
    fn voter() -> (Cluster, usize, usize) {
        let mut cl = Cluster::new("nodes-test.conf".into(), 0);
        cl.current_epoch = 5;
        cl.me_mut().config_epoch = 1;
        let me = cl.myself;
        for s in 0..100 {
            cl.add_slot(me, s);
        }
        let m = cl.add_node(Node::new(node::random_name(), node::MASTER | node::FAIL, 0));
        cl.nodes[m].config_epoch = 2;
        for s in 100..200 {
            cl.add_slot(m, s);
        }
        let r = cl.add_node(Node::new(node::random_name(), node::SLAVE, 0));
        cl.set_master_of(r, Some(m));
        (cl, m, r)
    }

    /// A vote request from `r` claiming its master's slots at `config_epoch`.
    fn request(cl: &Cluster, r: usize, epoch: u64, config_epoch: u64, force: bool) -> Header {
        let mut h = Header {
            kind: msg::FAILOVER_AUTH_REQUEST,
            current_epoch: epoch,
            config_epoch,
            sender: cl.nodes[r].name,
            ..Header::default()
        };
        for s in 100..200 {
            h.myslots.set(s);
        }
        if force {
            h.mflags[0] |= msg::FLAG0_FORCEACK;
        }
        h
    }

    #[test]
    fn one_vote_per_epoch_and_per_master_within_twice_the_timeout() {
        let (mut cl, m, r) = voter();
        let loc = bus::test_local(100_000, 1000);
        let h = request(&cl, r, 5, 2, false);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 5);
        assert_eq!(cl.nodes[m].voted_time, 100_000);
        // A new epoch, but the same master within 2 x node-timeout: no vote.
        cl.current_epoch = 6;
        let h = request(&cl, r, 6, 2, false);
        on_auth_request(&mut cl, r, &h, &bus::test_local(101_999, 1000));
        assert_eq!(cl.last_vote_epoch, 5);
        on_auth_request(&mut cl, r, &h, &bus::test_local(102_001, 1000));
        assert_eq!(cl.last_vote_epoch, 6);
        assert_eq!(cl.nodes[m].voted_time, 102_001);
    }

    #[test]
    fn no_vote_for_old_epochs_up_masters_stale_slots_or_from_a_replica() {
        let loc = bus::test_local(100_000, 1000);
        // The request's epoch is behind ours.
        let (mut cl, _, r) = voter();
        let h = request(&cl, r, 4, 2, false);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 0);
        // Its master is up: only a manual failover (FORCEACK) gets the vote.
        let (mut cl, m, r) = voter();
        cl.nodes[m].flags &= !node::FAIL;
        let h = request(&cl, r, 5, 2, false);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 0);
        let h = request(&cl, r, 5, 2, true);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 5);
        // It claims slots at an epoch older than their owner's.
        let (mut cl, _, r) = voter();
        let h = request(&cl, r, 5, 1, false);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 0);
        // A master without slots has no vote.
        let (mut cl, _, r) = voter();
        let me = cl.myself;
        cl.del_node_slots(me);
        let h = request(&cl, r, 5, 2, false);
        on_auth_request(&mut cl, r, &h, &loc);
        assert_eq!(cl.last_vote_epoch, 0);
    }

    #[test]
    fn votes_count_from_masters_with_slots_at_the_election_epoch() {
        let (mut cl, m, r) = voter();
        cl.fo.auth_epoch = 5;
        let me = cl.myself;
        let mut h = Header {
            kind: msg::FAILOVER_AUTH_ACK,
            current_epoch: 5,
            ..Header::default()
        };
        on_auth_ack(&mut cl, me, &h);
        assert_eq!(cl.fo.auth_count, 1);
        on_auth_ack(&mut cl, r, &h);
        assert_eq!(cl.fo.auth_count, 1, "a replica's ack");
        h.current_epoch = 4;
        on_auth_ack(&mut cl, m, &h);
        assert_eq!(cl.fo.auth_count, 1, "an ack from an older epoch");
    }

    #[test]
    fn losing_every_slot_of_our_master_makes_us_follow_the_claimer() {
        let (mut cl, m, r) = voter();
        // We are a replica of `m`; `r` takes all of m's slots at a greater epoch.
        let me = cl.myself;
        cl.del_node_slots(me);
        cl.me_mut().flags = node::MYSELF | node::SLAVE;
        cl.set_master_of(me, Some(m));
        let mut slots = crate::cluster::slots::SlotBitmap::default();
        for s in 100..200 {
            slots.set(s);
        }
        bus::set_node_as_master(&mut cl, r);
        let h = Header {
            config_epoch: 9,
            myslots: slots,
            sender: cl.nodes[r].name,
            ..Header::default()
        };
        assert!(cl.fo.pending_master.is_none());
        bus::test_update_slots(&mut cl, r, &h);
        assert_eq!(cl.fo.pending_master, Some(r));
        assert_eq!(cl.nodes[m].numslots, 0);
        assert!(cl.nodes[r].flags & node::MIGRATE_TO != 0);
    }
}
