//! Cluster commands (cluster.c's clusterCommand, askingCommand, readonlyCommand): CLUSTER
//! and its subcommands, ASKING, READONLY, READWRITE. The state they read and change is
//! `crate::cluster`; without `cluster-enabled yes` every one of them answers
//! "This instance has cluster support disabled".

use super::connection::reply_help;
use super::{Args, Handler};
use crate::cluster::node::{self, Node};
use crate::cluster::slots::{key_slot, ranges, SLOTS};
use crate::cluster::{
    bus, msg, nodes_conf, Cluster, NONE, TODO_FSYNC_CONFIG, TODO_SAVE_CONFIG, TODO_UPDATE_STATE,
};
use crate::server::client::Client;
use crate::server::Server;
use crate::util::num::parse_i64;
use crate::{log_notice, log_warning};

/// The commands of this group.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("asking", asking_command),
    ("readonly", readonly_command),
    ("readwrite", readwrite_command),
    ("cluster|help", help_command),
    ("cluster|myid", myid_command),
    ("cluster|info", info_command),
    ("cluster|nodes", nodes_command),
    ("cluster|slots", slots_command),
    ("cluster|shards", shards_command),
    ("cluster|keyslot", keyslot_command),
    ("cluster|countkeysinslot", countkeysinslot_command),
    ("cluster|getkeysinslot", getkeysinslot_command),
    ("cluster|addslots", addslots_command),
    ("cluster|delslots", delslots_command),
    ("cluster|addslotsrange", addslotsrange_command),
    ("cluster|delslotsrange", delslotsrange_command),
    ("cluster|flushslots", flushslots_command),
    ("cluster|setslot", setslot_command),
    ("cluster|meet", meet_command),
    ("cluster|forget", forget_command),
    ("cluster|reset", reset_command),
    ("cluster|saveconfig", saveconfig_command),
    ("cluster|bumpepoch", bumpepoch_command),
    ("cluster|set-config-epoch", set_config_epoch_command),
    (
        "cluster|count-failure-reports",
        count_failure_reports_command,
    ),
    ("cluster|links", links_command),
    ("cluster|replicas", replicas_command),
    ("cluster|slaves", replicas_command),
    ("cluster|replicate", replicate_command),
    ("cluster|failover", failover_command),
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// addReplySubcommandSyntaxError: the subcommand named as the client typed it.
fn subcommand_syntax_error(c: &mut Client, args: &Args) {
    c.out.err(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
        String::from_utf8_lossy(args.get(1))
    ));
}

/// The cluster state, or the "disabled" error.
macro_rules! cluster_or_reply {
    ($srv:expr, $c:expr) => {
        match $srv.cluster.as_mut() {
            Some(cl) => cl,
            None => {
                $c.out.err(DISABLED);
                return;
            }
        }
    };
}

fn asking_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if srv.cluster.is_none() {
        return c.out.err(DISABLED);
    }
    c.cluster_asking = true;
    c.out.ok();
}

fn readonly_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if srv.cluster.is_none() {
        return c.out.err(DISABLED);
    }
    c.cluster_readonly = true;
    c.out.ok();
}

fn readwrite_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if srv.cluster.is_none() {
        return c.out.err(DISABLED);
    }
    c.cluster_readonly = false;
    c.out.ok();
}

fn help_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if srv.cluster.is_none() {
        return c.out.err(DISABLED);
    }
    reply_help(
        c,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
        ],
    );
}

fn myid_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let name = cl.me().name;
    c.out.bulk(&name);
}

/// The CLUSTER INFO text (clusterGenNodesSlotsInfo + the statistics).
pub fn info_text(cl: &Cluster) -> String {
    let (mut ok, mut pfail, mut fail) = (0, 0, 0);
    for s in 0..SLOTS {
        if let Some(o) = cl.owner(s) {
            let n = &cl.nodes[o];
            if n.failed() {
                fail += 1;
            } else if n.timed_out() {
                pfail += 1;
            } else {
                ok += 1;
            }
        }
    }
    let me = cl.me();
    let my_epoch = match me.slaveof {
        Some(m) if me.is_replica() => cl.nodes.get(m).map_or(0, |m| m.config_epoch),
        _ => me.config_epoch,
    };
    let mut s = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{}\r\ncluster_slots_ok:{ok}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if cl.state_ok { "ok" } else { "fail" },
        cl.slots_assigned(),
        cl.nodes.len(),
        cl.size,
        cl.current_epoch,
    );
    let mut total = 0;
    for (t, &n) in cl.stats_sent.iter().enumerate() {
        if n != 0 {
            s.push_str(&format!(
                "cluster_stats_messages_{}_sent:{n}\r\n",
                msg::type_name(t as u16)
            ));
            total += n;
        }
    }
    s.push_str(&format!("cluster_stats_messages_sent:{total}\r\n"));
    let mut total = 0;
    for (t, &n) in cl.stats_received.iter().enumerate() {
        if n != 0 {
            s.push_str(&format!(
                "cluster_stats_messages_{}_received:{n}\r\n",
                msg::type_name(t as u16)
            ));
            total += n;
        }
    }
    s.push_str(&format!("cluster_stats_messages_received:{total}\r\n"));
    s.push_str(&format!(
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        cl.links_buffer_limit_exceeded
    ));
    s
}

fn info_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let text = info_text(cl);
    c.out.verbatim(text.as_bytes(), "txt");
}

fn nodes_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let use_pport = crate::cluster::redirect::use_pport(srv, c);
    let cl = cluster_or_reply!(srv, c);
    let text = nodes_conf::describe_all(cl, false, use_pport);
    c.out.verbatim(text.as_bytes(), "txt");
}

/// One node of CLUSTER SLOTS (addNodeToNodeReply): endpoint, port, name, and a map of the
/// networking facts that are not the endpoint.
fn slots_node_reply(srv: &Server, c: &mut Client, n: usize) {
    let use_pport = crate::cluster::redirect::use_pport(srv, c);
    let (endpoint, port) = crate::cluster::redirect::endpoint(srv, n, use_pport);
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let node = &cl.nodes[n];
    let pref = srv.config.other_int("cluster-preferred-endpoint-type");
    c.out.array(4);
    c.out.bulk(endpoint.as_bytes());
    c.out.int(port as i64);
    c.out.bulk(&node.name);
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if pref != 0 {
        extra.push(("ip", &node.ip));
    }
    if pref != 1 && !node.hostname.is_empty() {
        extra.push(("hostname", &node.hostname));
    }
    c.out.map(extra.len());
    for (k, v) in extra {
        c.out.bulk(k.as_bytes());
        c.out.bulk(v.as_bytes());
    }
}

fn slots_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    // Ranges of consecutive slots with one owner, in slot order.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut start = 0;
    for s in 0..=SLOTS {
        let cur = if s < SLOTS { cl.slots[s] } else { NONE };
        let prev = if s > 0 { cl.slots[s - 1] } else { NONE };
        if s > 0 && cur != prev {
            if prev != NONE {
                spans.push((start, s - 1, prev as usize));
            }
            start = s;
        } else if s == 0 {
            start = 0;
        }
    }
    let spans: Vec<(usize, usize, usize, Vec<usize>)> = spans
        .into_iter()
        .map(|(a, b, o)| {
            let reps: Vec<usize> = cl.nodes[o]
                .replicas
                .iter()
                .copied()
                .filter(|&r| cl.nodes.get(r).is_some_and(|n| !n.failed()))
                .collect();
            (a, b, o, reps)
        })
        .collect();
    c.out.array(spans.len());
    for (a, b, o, reps) in spans {
        c.out.array(3 + reps.len());
        c.out.int(a as i64);
        c.out.int(b as i64);
        slots_node_reply(srv, c, o);
        for r in reps {
            slots_node_reply(srv, c, r);
        }
    }
}

/// One node's map in CLUSTER SHARDS (addNodeDetailsToShardReply).
fn shard_node_reply(srv: &Server, c: &mut Client, n: usize) {
    let (endpoint, _) = crate::cluster::redirect::endpoint(srv, n, false);
    let cl = srv.cluster.as_ref().expect("cluster mode");
    let node = &cl.nodes[n];
    let d = c.out.defer();
    let mut len = 0;
    c.out.bulk(b"id");
    c.out.bulk(&node.name);
    len += 1;
    // With tls-cluster both ports, whatever the client's connection (7.0.15).
    if srv.config.other_int("tls-cluster") != 0 {
        c.out.bulk(b"port");
        c.out.int(node.pport as i64);
        c.out.bulk(b"tls-port");
        c.out.int(node.port as i64);
        len += 2;
    } else {
        c.out.bulk(b"port");
        c.out.int(node.port as i64);
        len += 1;
    }
    c.out.bulk(b"ip");
    c.out.bulk(node.ip.as_bytes());
    len += 1;
    c.out.bulk(b"endpoint");
    c.out.bulk(endpoint.as_bytes());
    len += 1;
    if !node.hostname.is_empty() {
        c.out.bulk(b"hostname");
        c.out.bulk(node.hostname.as_bytes());
        len += 1;
    }
    let offset = if n == cl.myself {
        srv.repl.master_repl_offset
    } else {
        node.repl_offset
    };
    c.out.bulk(b"role");
    c.out.bulk(if node.is_replica() {
        b"replica" as &[u8]
    } else {
        b"master"
    });
    len += 1;
    c.out.bulk(b"replication-offset");
    c.out.int(offset);
    len += 1;
    let health: &[u8] = if node.failed() {
        b"fail"
    } else if node.is_replica() && node.repl_offset == 0 && n != cl.myself {
        b"loading"
    } else {
        b"online"
    };
    c.out.bulk(b"health");
    c.out.bulk(health);
    len += 1;
    c.out.set_deferred_map(d, len);
}

fn shards_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    // One shard per master (with its replicas), masters in our table's order.
    let masters: Vec<usize> = cl
        .nodes
        .iter()
        .filter(|(_, n)| n.is_master() && !n.in_handshake())
        .map(|(k, _)| k)
        .collect();
    type Shard = (Vec<(u16, u16)>, Vec<usize>);
    let shards: Vec<Shard> = masters
        .iter()
        .map(|&m| {
            let mut nodes = vec![m];
            nodes.extend(cl.nodes[m].replicas.iter().copied());
            (ranges(&cl.nodes[m].slots), nodes)
        })
        .collect();
    c.out.array(shards.len());
    for (rs, nodes) in shards {
        c.out.map(2);
        c.out.bulk(b"slots");
        c.out.array(rs.len() * 2);
        for (a, b) in rs {
            c.out.int(a as i64);
            c.out.int(b as i64);
        }
        c.out.bulk(b"nodes");
        c.out.array(nodes.len());
        for n in nodes {
            shard_node_reply(srv, c, n);
        }
    }
}

fn keyslot_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    c.out.int(key_slot(args.get(2)) as i64);
}

fn countkeysinslot_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    let Some(slot) = parse_i64(args.get(2)) else {
        return c.out.err("ERR value is not an integer or out of range");
    };
    if !(0..SLOTS as i64).contains(&slot) {
        return c.out.err("ERR Invalid slot");
    }
    let n = srv.dbs[0]
        .slot_index
        .as_ref()
        .map_or(0, |ix| ix.count(slot as usize));
    c.out.int(n as i64);
}

fn getkeysinslot_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    let (Some(slot), Some(max)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return c.out.err("ERR value is not an integer or out of range");
    };
    if max < 0 || !(0..SLOTS as i64).contains(&slot) {
        return c.out.err("ERR Invalid slot or number of keys");
    }
    let d = &srv.dbs[0];
    let keys = match d.slot_index.as_ref() {
        Some(ix) => ix.keys(&d.dict, slot as usize, max as usize),
        None => Vec::new(),
    };
    c.out.array(keys.len());
    for k in &keys {
        c.out.bulk(k.as_bytes());
    }
}

/// A slot argument (getSlotOrReply).
fn slot_arg(c: &mut Client, a: &[u8]) -> Option<usize> {
    match parse_i64(a) {
        Some(s) if (0..SLOTS as i64).contains(&s) => Some(s as usize),
        _ => {
            c.out.err("ERR Invalid or out of range slot");
            None
        }
    }
}

/// ADDSLOTS/DELSLOTS and their RANGE forms once the slots are known
/// (clusterAddSlotsOrDelSlots...): every slot is checked before any changes.
fn change_slots(srv: &mut Server, c: &mut Client, slots: &[usize], del: bool) {
    let cl = srv.cluster.as_mut().expect("cluster mode");
    let mut seen = vec![false; SLOTS];
    for &s in slots {
        if del && cl.slots[s] == NONE {
            return c.out.err(&format!("ERR Slot {s} is already unassigned"));
        } else if !del && cl.slots[s] != NONE {
            return c.out.err(&format!("ERR Slot {s} is already busy"));
        }
        if seen[s] {
            return c.out.err(&format!("ERR Slot {s} specified multiple times"));
        }
        seen[s] = true;
    }
    let me = cl.myself;
    for &s in slots {
        // A slot we were importing is now ours (or nobody's): the import is over.
        cl.importing[s] = NONE;
        if del {
            cl.del_slot(s);
        } else {
            cl.add_slot(me, s);
        }
    }
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    c.out.ok();
}

fn addslots_or_del(srv: &mut Server, c: &mut Client, args: &Args, del: bool) {
    let _ = cluster_or_reply!(srv, c);
    let mut slots = Vec::with_capacity(args.len() - 2);
    for a in args.iter_from(2) {
        let Some(s) = slot_arg(c, a) else {
            return;
        };
        slots.push(s);
    }
    change_slots(srv, c, &slots, del);
}

fn addslots_command(srv: &mut Server, c: &mut Client, args: &Args) {
    addslots_or_del(srv, c, args, false);
}

fn delslots_command(srv: &mut Server, c: &mut Client, args: &Args) {
    addslots_or_del(srv, c, args, true);
}

fn range_or_del(srv: &mut Server, c: &mut Client, args: &Args, del: bool) {
    let _ = cluster_or_reply!(srv, c);
    if args.len() % 2 == 1 {
        let name = if del {
            "delslotsrange"
        } else {
            "addslotsrange"
        };
        return c.out.err(&format!(
            "ERR wrong number of arguments for 'cluster|{name}' command"
        ));
    }
    let mut slots = Vec::new();
    let mut i = 2;
    while i + 1 < args.len() {
        let Some(a) = slot_arg(c, args.get(i)) else {
            return;
        };
        let Some(b) = slot_arg(c, args.get(i + 1)) else {
            return;
        };
        if a > b {
            return c.out.err(&format!(
                "ERR start slot number {a} is greater than end slot number {b}"
            ));
        }
        slots.extend(a..=b);
        i += 2;
    }
    change_slots(srv, c, &slots, del);
}

fn addslotsrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    range_or_del(srv, c, args, false);
}

fn delslotsrange_command(srv: &mut Server, c: &mut Client, args: &Args) {
    range_or_del(srv, c, args, true);
}

fn flushslots_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    if !srv.dbs[0].dict.is_empty() {
        return c
            .out
            .err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    }
    let cl = srv.cluster.as_mut().expect("cluster mode");
    let me = cl.myself;
    cl.del_node_slots(me);
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    c.out.ok();
}

/// The node named by a client argument.
fn node_arg(cl: &Cluster, a: &[u8]) -> Option<usize> {
    cl.lookup(a)
}

fn setslot_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    if cl.me().is_replica() {
        return c.out.err("ERR Please use SETSLOT only with masters.");
    }
    let Some(slot) = slot_arg(c, args.get(2)) else {
        return;
    };
    let keys_in_slot = srv.dbs[0]
        .slot_index
        .as_ref()
        .map_or(0, |ix| ix.count(slot));
    let cl = srv.cluster.as_mut().expect("cluster mode");
    let me = cl.myself;
    let action = args.get(3);
    let argc = args.len();
    let arg4 = if argc > 4 { args.get(4) } else { b"" as &[u8] };
    let name4 = String::from_utf8_lossy(arg4).into_owned();
    let migrating = action.eq_ignore_ascii_case(b"migrating");
    if (migrating || action.eq_ignore_ascii_case(b"importing")) && argc == 5 {
        // MIGRATING needs the slot ours, IMPORTING needs it someone else's.
        if migrating && cl.owner(slot) != Some(me) {
            return c
                .out
                .err(&format!("ERR I'm not the owner of hash slot {slot}"));
        }
        if !migrating && cl.owner(slot) == Some(me) {
            return c
                .out
                .err(&format!("ERR I'm already the owner of hash slot {slot}"));
        }
        let Some(n) = node_arg(cl, arg4) else {
            return c.out.err(&format!("ERR I don't know about node {name4}"));
        };
        if cl.nodes[n].is_replica() {
            return c.out.err("ERR Target node is not a master");
        }
        let table = if migrating {
            &mut cl.migrating
        } else {
            &mut cl.importing
        };
        table[slot] = n as u32;
    } else if action.eq_ignore_ascii_case(b"stable") && argc == 4 {
        cl.importing[slot] = NONE;
        cl.migrating[slot] = NONE;
    } else if action.eq_ignore_ascii_case(b"node") && argc == 5 {
        let Some(n) = node_arg(cl, arg4) else {
            return c.out.err(&format!("ERR Unknown node {name4}"));
        };
        if cl.nodes[n].is_replica() {
            return c.out.err("ERR Target node is not a master");
        }
        if cl.owner(slot) == Some(me) && n != me && keys_in_slot != 0 {
            return c.out.err(&format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."));
        }
        // A migration whose keys all left is over.
        if keys_in_slot == 0 && cl.migrating[slot] != NONE {
            cl.migrating[slot] = NONE;
        }
        // An import that completes gives us a new config epoch, without agreement (the
        // slot must win over its old owner's claim).
        if n == me && cl.importing[slot] != NONE {
            if crate::cluster::failover::bump_epoch_without_consensus(cl) {
                log_warning!("configEpoch updated after importing slot {slot}");
            }
            cl.importing[slot] = NONE;
        }
        cl.del_slot(slot);
        cl.add_slot(n, slot);
    } else {
        return c
            .out
            .err("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    }
    cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE;
    c.out.ok();
}

fn meet_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    if args.len() != 4 && args.len() != 5 {
        return subcommand_syntax_error(c, args);
    }
    let ip = String::from_utf8_lossy(args.get(2)).into_owned();
    let port_s = String::from_utf8_lossy(args.get(3)).into_owned();
    let Some(port) = parse_i64(args.get(3)) else {
        return c
            .out
            .err(&format!("ERR Invalid TCP base port specified: {port_s}"));
    };
    let cport = if args.len() == 5 {
        match parse_i64(args.get(4)) {
            Some(p) => p,
            None => {
                let s = String::from_utf8_lossy(args.get(4)).into_owned();
                return c
                    .out
                    .err(&format!("ERR Invalid TCP bus port specified: {s}"));
            }
        }
    } else {
        port + 10000
    };
    let valid_ip = ip.parse::<std::net::IpAddr>().is_ok();
    let valid_ports = (1..=65535).contains(&port) && (1..=65535).contains(&cport);
    if !valid_ip || !valid_ports {
        return c.out.err(&format!(
            "ERR Invalid node address specified: {ip}:{port_s}"
        ));
    }
    bus::start_handshake(cl, &ip, port as u16, cport as u16, crate::util::mstime());
    c.out.ok();
}

fn forget_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let a = args.get(2);
    let Some(n) = node_arg(cl, a) else {
        return c
            .out
            .err(&format!("ERR Unknown node {}", String::from_utf8_lossy(a)));
    };
    if n == cl.myself {
        return c.out.err("ERR I tried hard but I can't forget myself...");
    }
    if cl.me().is_replica() && cl.me().slaveof == Some(n) {
        return c.out.err("ERR Can't forget my master!");
    }
    // Gossip may not bring it back for a minute (CLUSTER_BLACKLIST_TTL).
    let name = cl.nodes[n].name;
    let until = crate::util::mstime() / 1000 + 60;
    cl.blacklist.retain(|(x, _)| *x != name);
    cl.blacklist.push((name, until));
    let links = cl.del_node(n);
    cl.close_links.extend(links);
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG;
    c.out.ok();
}

fn reset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    let hard = match args.len() {
        2 => false,
        3 if args.is(2, "hard") => true,
        3 if args.is(2, "soft") => false,
        3 => return c.out.err("ERR syntax error"),
        _ => return subcommand_syntax_error(c, args),
    };
    let is_master = srv.cluster.as_ref().is_some_and(|cl| cl.me().is_master());
    if is_master && !srv.dbs[0].dict.is_empty() {
        return c
            .out
            .err("ERR CLUSTER RESET can't be called with master nodes containing keys");
    }
    reset(srv, hard);
    c.out.ok();
}

/// clusterReset: a replica becomes a master with an empty dataset; slots, migrations and
/// every other node are forgotten; a hard reset also zeroes the epochs and takes a new name.
pub fn reset(srv: &mut Server, hard: bool) {
    let was_replica = srv.cluster.as_ref().is_some_and(|cl| cl.me().is_replica());
    if was_replica {
        crate::replication::replica::unset_master(srv);
        for i in 0..srv.dbs.len() {
            srv.dbs[i].clear();
        }
    }
    let cl = srv.cluster.as_mut().expect("cluster mode");
    let me = cl.myself;
    if was_replica {
        cl.set_master_of(me, None);
        let n = cl.me_mut();
        n.flags &= !node::SLAVE;
        n.flags |= node::MASTER;
    }
    for s in 0..SLOTS {
        cl.importing[s] = NONE;
        cl.migrating[s] = NONE;
    }
    cl.del_node_slots(me);
    let others: Vec<usize> = cl
        .nodes
        .iter()
        .map(|(k, _)| k)
        .filter(|&k| k != me)
        .collect();
    for k in others {
        let links = cl.del_node(k);
        cl.close_links.extend(links);
    }
    if hard {
        cl.current_epoch = 0;
        cl.last_vote_epoch = 0;
        let n = cl.me_mut();
        n.config_epoch = 0;
        n.name = node::random_name();
        log_notice!("Node hard reset, now I'm {}", n.name_str());
    }
    cl.todo |= TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG;
}

fn saveconfig_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    match nodes_conf::save(cl, true) {
        Ok(()) => c.out.ok(),
        Err(e) => c
            .out
            .err(&format!("ERR error saving the cluster node config: {e}")),
    }
}

fn bumpepoch_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let bumped = crate::cluster::failover::bump_epoch_without_consensus(cl);
    let e = cl.me().config_epoch;
    c.out
        .simple(&format!("{} {e}", if bumped { "BUMPED" } else { "STILL" }));
}

fn set_config_epoch_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let Some(epoch) = parse_i64(args.get(2)) else {
        return c.out.err("ERR value is not an integer or out of range");
    };
    if epoch < 0 {
        return c
            .out
            .err(&format!("ERR Invalid config epoch specified: {epoch}"));
    }
    if cl.nodes.len() > 1 {
        return c.out.err("ERR The user can assign a config epoch only when the node does not know any other node.");
    }
    if cl.me().config_epoch != 0 {
        return c.out.err("ERR Node config epoch is already non-zero");
    }
    cl.me_mut().config_epoch = epoch as u64;
    log_warning!("configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH");
    if cl.current_epoch < epoch as u64 {
        cl.current_epoch = epoch as u64;
    }
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG;
    c.out.ok();
}

fn count_failure_reports_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let timeout = srv.config.other_int("cluster-node-timeout");
    let cl = cluster_or_reply!(srv, c);
    let a = args.get(2);
    let Some(n) = node_arg(cl, a) else {
        return c
            .out
            .err(&format!("ERR Unknown node {}", String::from_utf8_lossy(a)));
    };
    let count = bus::fail_report_count(cl, n, timeout, crate::util::mstime());
    c.out.int(count as i64);
}

fn links_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    // Each node's outbound link, then its inbound one (clusterReplyLinks walks the nodes).
    let mut rows: Vec<(bool, Node, i64, bool, usize, usize)> = Vec::new();
    for (_, n) in cl.nodes.iter() {
        for (inbound, l) in [(false, n.link), (true, n.inbound_link)] {
            let Some(l) = l else {
                continue;
            };
            if let Some(Some(link)) = cl.links.get(l) {
                rows.push((
                    inbound,
                    n.clone(),
                    link.ctime,
                    link.pending() > 0,
                    link.sndbuf.capacity(),
                    link.pending(),
                ));
            }
        }
    }
    c.out.array(rows.len());
    for (inbound, n, ctime, writing, alloc, used) in rows {
        c.out.map(6);
        c.out.bulk(b"direction");
        c.out.bulk(if inbound { b"from" as &[u8] } else { b"to" });
        c.out.bulk(b"node");
        c.out.bulk(&n.name);
        c.out.bulk(b"create-time");
        c.out.int(ctime);
        c.out.bulk(b"events");
        c.out.bulk(if writing { b"rw" as &[u8] } else { b"r" });
        c.out.bulk(b"send-buffer-allocated");
        c.out.int(alloc as i64);
        c.out.bulk(b"send-buffer-used");
        c.out.int(used as i64);
    }
}

fn replicas_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let use_pport = crate::cluster::redirect::use_pport(srv, c);
    let cl = cluster_or_reply!(srv, c);
    let a = args.get(2);
    let Some(n) = node_arg(cl, a) else {
        return c
            .out
            .err(&format!("ERR Unknown node {}", String::from_utf8_lossy(a)));
    };
    if cl.nodes[n].is_replica() {
        return c.out.err("ERR The specified node is not a master");
    }
    let lines: Vec<String> = cl.nodes[n]
        .replicas
        .iter()
        .filter(|&&r| cl.nodes.contains(r))
        .map(|&r| nodes_conf::describe(cl, r, use_pport))
        .collect();
    c.out.array(lines.len());
    for l in lines {
        c.out.bulk(l.as_bytes());
    }
}

fn replicate_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cl = cluster_or_reply!(srv, c);
    let a = args.get(2);
    let Some(n) = node_arg(cl, a) else {
        return c
            .out
            .err(&format!("ERR Unknown node {}", String::from_utf8_lossy(a)));
    };
    if n == cl.myself {
        return c.out.err("ERR Can't replicate myself");
    }
    if cl.nodes[n].is_replica() {
        return c
            .out
            .err("ERR I can only replicate a master, not a replica.");
    }
    let is_master = cl.me().is_master();
    if is_master && (cl.me().numslots != 0 || !srv.dbs[0].dict.is_empty()) {
        return c
            .out
            .err("ERR To set a master the node must be empty and without assigned slots.");
    }
    set_my_master(srv, n);
    c.out.ok();
}

/// clusterSetMaster: we become a replica of node `n` (in the cluster tables and through
/// the REPLICAOF machinery).
pub fn set_my_master(srv: &mut Server, n: usize) {
    crate::cluster::failover::set_my_master(srv, n);
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER]: a manual failover of our master
/// (`cluster::failover::manual_failover`).
fn failover_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let _ = cluster_or_reply!(srv, c);
    let (force, takeover) = match args.len() {
        2 => (false, false),
        3 if args.is(2, "force") => (true, false),
        3 if args.is(2, "takeover") => (true, true),
        3 => return c.out.err("ERR syntax error"),
        _ => return subcommand_syntax_error(c, args),
    };
    match crate::cluster::failover::manual_failover(srv, force, takeover) {
        Ok(()) => c.out.ok(),
        Err(e) => c.out.err(e),
    }
}
