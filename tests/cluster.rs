//! Redis Cluster (issue 22, first increment): CLUSTER KEYSLOT and the commands' error texts
//! compared with a redis-server 7.0.15 in cluster mode, keys by slot, redirections
//! (-MOVED, -CROSSSLOT, -CLUSTERDOWN, transactions), nodes.conf across a restart, and the
//! cluster bus: a ferrodis node and redis-server nodes MEET, gossip and serve their slots
//! together; a bus port fed garbage closes the link and keeps serving.
//!
//! Every server runs on free ports (its bus port is passed as `--cluster-port`); every wait
//! is bounded; every server stops when its `Server` drops.

mod common;

use common::cluster::{
    cluster_ok as state_ok, node_id as myid, redis_cli_run as redis_cli, text_of as text,
    wait_for as wait_until,
};
use common::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// cluster-node-timeout for the tests: short enough that a node that starts serving slots
/// becomes OK quickly (the rejoin delay is the timeout, at least 500 ms), long enough that
/// a loaded machine does not mark live nodes PFAIL.
const NODE_TIMEOUT: &str = "3000";

fn cluster_args(bus: &str) -> Vec<String> {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        bus,
        "--cluster-node-timeout",
        NODE_TIMEOUT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A ferrodis node in cluster mode, and its bus port.
fn ferrodis_node() -> (Server, u16) {
    let bus = free_port();
    let args = cluster_args(&bus.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (ferrodis_with(&args), bus)
}

/// A redis-server node in cluster mode, and its bus port.
fn oracle_node() -> (Server, u16) {
    let bus = free_port();
    let args = cluster_args(&bus.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (oracle_with(&args), bus)
}

/// The CLUSTER NODES line of node `id` as `c` sees it.
fn nodes_line(c: &mut RawConn, id: &str) -> Option<String> {
    text(c, &["CLUSTER", "NODES"])
        .lines()
        .find(|l| l.starts_with(id))
        .map(str::to_string)
}

/// A Diff of a ferrodis node and a redis-server node, each a cluster of one.
fn cluster_pair() -> Diff {
    cluster_pair_ports().0
}

/// `cluster_pair`, with the ferrodis and redis-server (client port, bus port) pairs.
fn cluster_pair_ports() -> (Diff, (u16, u16), (u16, u16)) {
    let (f, fbus) = ferrodis_node();
    let (r, rbus) = oracle_node();
    let (fp, rp) = (f.port(), r.port());
    (Diff::from_servers(f, r), (fp, fbus), (rp, rbus))
}

#[test]
fn keyslot_and_errors_match_redis() {
    let mut d = cluster_pair();
    d.run(
        r#"
        CLUSTER KEYSLOT foo
        CLUSTER KEYSLOT {user1000}.following
        CLUSTER KEYSLOT {user1000}.followers
        CLUSTER KEYSLOT foo{}{bar}
        CLUSTER KEYSLOT foo{{bar}}zap
        CLUSTER KEYSLOT foo{bar}{zap}
        CLUSTER KEYSLOT ""
        CLUSTER KEYSLOT "\xff\x00{\x01}"
        CLUSTER KEYSLOT
        CLUSTER HELP
        CLUSTER BOGUS
        CLUSTER COUNTKEYSINSLOT 16384
        CLUSTER COUNTKEYSINSLOT -1
        CLUSTER COUNTKEYSINSLOT x
        CLUSTER COUNTKEYSINSLOT 0
        CLUSTER GETKEYSINSLOT 1 -1
        CLUSTER GETKEYSINSLOT 16384 1
        CLUSTER GETKEYSINSLOT x 1
        CLUSTER GETKEYSINSLOT 1 x
        CLUSTER GETKEYSINSLOT 0 10
        CLUSTER ADDSLOTS 16384
        CLUSTER ADDSLOTS x
        CLUSTER ADDSLOTS 1 1
        CLUSTER DELSLOTS 5
        CLUSTER ADDSLOTSRANGE 1
        CLUSTER ADDSLOTSRANGE 5 3
        CLUSTER ADDSLOTSRANGE 1 2 3
        CLUSTER ADDSLOTSRANGE 0 16384
        CLUSTER DELSLOTSRANGE 0 5
        CLUSTER SETSLOT 1
        CLUSTER SETSLOT 1 bogus
        CLUSTER SETSLOT 99999 stable
        CLUSTER SETSLOT 1 importing
        CLUSTER SETSLOT 1 importing abc
        CLUSTER SETSLOT 1 migrating abc
        CLUSTER SETSLOT 1 node abc
        CLUSTER SETSLOT 1 stable x
        CLUSTER SETSLOT 1 stable
        CLUSTER MEET 1.2.3.4
        CLUSTER MEET x 1
        CLUSTER MEET 127.0.0.1 x
        CLUSTER MEET 127.0.0.1 1 x
        CLUSTER MEET 127.0.0.1 70000
        CLUSTER MEET 127.0.0.1 0
        CLUSTER FORGET abc
        CLUSTER COUNT-FAILURE-REPORTS abc
        CLUSTER REPLICAS abc
        CLUSTER SLAVES abc
        CLUSTER REPLICATE abc
        CLUSTER SET-CONFIG-EPOCH x
        CLUSTER SET-CONFIG-EPOCH -1
        CLUSTER RESET bogus
        CLUSTER RESET soft extra
        CLUSTER LINKS
        CLUSTER SLOTS
        CLUSTER SAVECONFIG
        READONLY
        READWRITE
        ASKING
        SELECT 0
        SELECT 1
        SELECT abc
        SELECT 99999999999
        SWAPDB 0 1
        MOVE foo 1
        REPLICAOF 127.0.0.1 1
        INFO cluster
        "#,
    );
    // Errors that name this node, with the name taken out.
    let (fid, rid) = (myid(&mut d.ferrodis), myid(&mut d.redis));
    for args in [
        vec!["CLUSTER", "FORGET", "{id}"],
        vec!["CLUSTER", "REPLICATE", "{id}"],
        vec!["CLUSTER", "COUNT-FAILURE-REPORTS", "{id}"],
        vec!["CLUSTER", "REPLICAS", "{id}"],
        vec!["CLUSTER", "SETSLOT", "10", "migrating", "{id}"],
        vec!["CLUSTER", "SETSLOT", "10", "importing", "{id}"],
    ] {
        let f: Vec<String> = args.iter().map(|a| a.replace("{id}", &fid)).collect();
        let r: Vec<String> = args.iter().map(|a| a.replace("{id}", &rid)).collect();
        let (fr, rr) = (d.ferrodis.cmd(&f), d.redis.cmd(&r));
        assert_same(&args.join(" "), &fr, &rr);
    }
    // The epochs: set once, then refused; BUMPEPOCH keeps the greatest.
    d.run(
        r#"
        CLUSTER SET-CONFIG-EPOCH 5
        CLUSTER SET-CONFIG-EPOCH 6
        CLUSTER BUMPEPOCH
        "#,
    );
}

/// CLUSTER INFO, NODES and SLOTS of a cluster of one, with the node's name replaced.
#[test]
fn single_node_views_match_redis() {
    let (mut d, (fp, fbus), (rp, rbus)) = cluster_pair_ports();
    let fid = myid(&mut d.ferrodis);
    let rid = myid(&mut d.redis);
    // cluster_size is recomputed only once the writable delay (2 s from start-up) passed:
    // when that happens depends on the machine's speed.
    let norm = |b: Vec<u8>, id: &str, port: u16, bus: u16| {
        String::from_utf8_lossy(&b)
            .replace(id, "<id>")
            .replace(&bus.to_string(), "<bus>")
            .replace(&port.to_string(), "<port>")
            .lines()
            .filter(|l| !l.starts_with("cluster_size:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cmp = |d: &mut Diff, args: &[&str]| {
        let (f, r) = d.both(args);
        assert_eq!(norm(f, &fid, fp, fbus), norm(r, &rid, rp, rbus), "{args:?}");
    };
    cmp(&mut d, &["CLUSTER", "INFO"]);
    cmp(&mut d, &["CLUSTER", "NODES"]);
    d.run("CLUSTER ADDSLOTSRANGE 0 5000 6000 6000\nCLUSTER ADDSLOTS 7000 7001 9000\nCLUSTER DELSLOTS 5000");
    cmp(&mut d, &["CLUSTER", "NODES"]);
    cmp(&mut d, &["CLUSTER", "SLOTS"]);
    cmp(&mut d, &["CLUSTER", "SHARDS"]);
    d.run(
        "CLUSTER SETSLOT 7000 MIGRATING {id}"
            .replace("{id}", "x")
            .as_str(),
    );
    cmp(&mut d, &["CLUSTER", "INFO"]);
    d.run("CLUSTER FLUSHSLOTS\nCLUSTER BUMPEPOCH");
    cmp(&mut d, &["CLUSTER", "NODES"]);
    cmp(&mut d, &["CLUSTER", "INFO"]);
    // An announced hostname shows in the node's views.
    d.run("CONFIG SET cluster-announce-hostname host-a.example");
    cmp(&mut d, &["CLUSTER", "NODES"]);
    cmp(&mut d, &["CLUSTER", "SLOTS"]);
    cmp(&mut d, &["CLUSTER", "SHARDS"]);
    // RESP3 forms.
    d.run("? HELLO 3");
    d.run("CLUSTER ADDSLOTS 1 2 3");
    cmp(&mut d, &["CLUSTER", "SLOTS"]);
    cmp(&mut d, &["CLUSTER", "SHARDS"]);
    cmp(&mut d, &["CLUSTER", "INFO"]);
}

/// Keys by slot, redirections for a cluster that is down, then up, and transactions.
#[test]
fn keys_by_slot_and_redirections_match_redis() {
    let mut d = cluster_pair();
    d.run(
        r#"
        GET foo
        SET foo bar
        MSET a 1 b 2
        CLUSTER ADDSLOTSRANGE 0 8000
        GET foo
        "#,
    );
    d.run("CLUSTER ADDSLOTSRANGE 8001 16383");
    wait_until(20, "both clusters OK", || {
        state_ok(&mut d.ferrodis) && state_ok(&mut d.redis)
    });
    d.run(
        r##"
        SET foo bar
        SET {foo}b 1
        SET {foo}z 2
        RPUSH {foo}list a b c
        GET foo
        MSET a 1 b 2
        MSET {a}1 1 {a}2 2
        MGET {a}1 {a}2
        MGET {a}1 b
        DEL foo {foo}b
        CLUSTER COUNTKEYSINSLOT 12182
        CLUSTER GETKEYSINSLOT 12182 10
        CLUSTER GETKEYSINSLOT 12182 1
        SET foo again
        CLUSTER GETKEYSINSLOT 12182 10
        RENAME {foo}z {foo}y
        CLUSTER GETKEYSINSLOT 12182 10
        SET {foo}t v PX 1
        CLUSTER COUNTKEYSINSLOT 12182
        COPY foo {foo}c
        COPY foo {foo}d DB 1
        COPY foo b
        MOVE foo 0
        EXISTS foo {foo}c
        EVAL "return redis.call('get', KEYS[1])" 1 foo
        EVAL "return 1" 2 foo bar
        EVAL "return 1" 0
        EVAL "redis.call('get','a'); return redis.call('get','b')" 0
        EVAL "redis.call('get','{a}1'); return redis.call('get','{a}2')" 0
        EVAL "#!lua flags=allow-cross-slot-keys\nredis.call('get','a'); return redis.call('get','b')" 0
        EVAL "return redis.call('get','b')" 1 a
        EVAL "return redis.call('get','{a}x')" 1 a
        MULTI
        SET {x}1 1
        GET {x}1
        EXEC
        MULTI
        SET {x}1 1
        SET {y}1 1
        EXEC
        MULTI
        SET x 1
        SET y 2
        EXEC
        ASKING
        GET foo
        READONLY
        GET foo
        READWRITE
        SUNION {s}a {s}b
        SUNION a b
        SPUBLISH ch msg
        XREAD STREAMS a b 0 0
        FLUSHALL
        CLUSTER COUNTKEYSINSLOT 12182
        CLUSTER GETKEYSINSLOT 12182 10
        DEBUG RELOAD
        "##,
    );
    // Keys loaded back from the snapshot are indexed by slot again.
    d.run(
        r#"
        SET {foo}1 a
        SET {foo}2 b
        DEBUG RELOAD
        CLUSTER COUNTKEYSINSLOT 12182
        ~ CLUSTER GETKEYSINSLOT 12182 10
        CLUSTER FLUSHSLOTS
        EVAL "return redis.call('get','x')" 0
        GET x
        CLUSTER RESET
        "#,
    );
}

/// A ferrodis node MEETs a redis-server node: both list each other as connected masters,
/// with the real names, and the other's address.
#[test]
fn meet_redis_from_ferrodis() {
    let (f, _) = ferrodis_node();
    let (r, rbus) = oracle_node();
    let mut fc = f.conn();
    let mut rc = r.conn();
    let (fid, rid) = (myid(&mut fc), myid(&mut rc));
    let meet = fc.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &r.port().to_string(),
        &rbus.to_string(),
    ]);
    assert_eq!(meet, b"+OK\r\n");
    wait_until(20, "both nodes connected", || {
        let a = nodes_line(&mut fc, &rid).unwrap_or_default();
        let b = nodes_line(&mut rc, &fid).unwrap_or_default();
        a.contains(" master - ")
            && a.ends_with("connected")
            && !a.contains("handshake")
            && b.contains(" master - ")
            && b.ends_with(" connected")
    });
    let a = nodes_line(&mut fc, &rid).unwrap();
    assert!(a.contains(&format!("127.0.0.1:{}@{rbus}", r.port())), "{a}");
    let me = nodes_line(&mut fc, &fid).unwrap();
    assert!(me.contains("myself,master"), "{me}");
    // Our own address was learned from the link.
    wait_until(10, "ferrodis to learn its address", || {
        nodes_line(&mut fc, &fid)
            .unwrap_or_default()
            .contains("127.0.0.1:")
    });
    // Two masters that met with epoch 0: the one with the smaller name took a new epoch.
    wait_until(10, "an epoch collision to be resolved", || {
        let fe = text(&mut fc, &["CLUSTER", "INFO"]);
        let re = text(&mut rc, &["CLUSTER", "INFO"]);
        let epoch = |t: &str| {
            t.lines()
                .find_map(|l| l.strip_prefix("cluster_my_epoch:"))
                .map(str::to_string)
        };
        epoch(&fe) != epoch(&re)
    });
    // Hostnames travel in the PING extension, both ways.
    fc.cmd(&["CONFIG", "SET", "cluster-announce-hostname", "ferro-host"]);
    rc.cmd(&["CONFIG", "SET", "cluster-announce-hostname", "redis-host"]);
    wait_until(20, "the hostnames to be exchanged", || {
        nodes_line(&mut rc, &fid).is_some_and(|l| l.contains(",ferro-host "))
            && nodes_line(&mut fc, &rid).is_some_and(|l| l.contains(",redis-host "))
    });
    let info = text(&mut fc, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_known_nodes:2"), "{info}");
    assert!(
        info.contains("cluster_stats_messages_meet_sent:1"),
        "{info}"
    );
    // nodes.conf has the other node (written before the loop slept).
    let conf = std::fs::read_to_string(f.dir().join("nodes.conf")).unwrap();
    assert!(conf.contains(&rid), "{conf}");
    assert!(conf.contains("vars currentEpoch "), "{conf}");
}

/// Three nodes: redis A MEETs ferrodis F, redis B MEETs A; F learns B through gossip. Each
/// serves a third of the slots; every node sends keys of the others' slots with -MOVED to
/// the right address, and serves its own.
#[test]
fn gossip_and_moved_with_redis_nodes() {
    let (f, fbus) = ferrodis_node();
    let (a, abus) = oracle_node();
    let (b, _) = oracle_node();
    let mut fc = f.conn();
    let mut ac = a.conn();
    let mut bc = b.conn();
    let fid = myid(&mut fc);
    let bid = myid(&mut bc);
    ac.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &f.port().to_string(),
        &fbus.to_string(),
    ]);
    bc.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &a.port().to_string(),
        &abus.to_string(),
    ]);
    wait_until(30, "every node to know the three", || {
        [&mut fc, &mut ac, &mut bc].into_iter().all(|c| {
            let nodes = text(c, &["CLUSTER", "NODES"]);
            nodes.lines().count() == 3
                && nodes
                    .lines()
                    .all(|l| l.ends_with("connected") || l.contains(" connected "))
                && !nodes.contains("handshake")
        })
    });
    assert!(nodes_line(&mut fc, &bid).is_some());
    assert!(nodes_line(&mut bc, &fid).is_some());
    fc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]);
    ac.cmd(&["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]);
    bc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]);
    wait_until(40, "the cluster OK on every node", || {
        state_ok(&mut fc) && state_ok(&mut ac) && state_ok(&mut bc)
    });
    // foo is slot 12182 (B), bar 5061 (F), hello 866 (F), a 15495 (B), key:1 ... .
    let moved_to = |c: &mut RawConn, key: &str| -> String {
        String::from_utf8_lossy(&c.cmd(&["GET", key])).into_owned()
    };
    for key in ["foo", "bar", "a", "{user}1", "x", "key:42"] {
        let (rf, ra, rb) = (
            moved_to(&mut fc, key),
            moved_to(&mut ac, key),
            moved_to(&mut bc, key),
        );
        // Each node either serves it (a nil) or redirects; all agree on where it lives.
        let target = |r: &str, own: u16| -> u16 {
            if r.starts_with("-MOVED ") {
                r.trim().rsplit(':').next().unwrap().parse().unwrap()
            } else {
                assert_eq!(r, "$-1\r\n");
                own
            }
        };
        let (tf, ta, tb) = (
            target(&rf, f.port()),
            target(&ra, a.port()),
            target(&rb, b.port()),
        );
        assert_eq!((tf, ta), (tb, tb), "{key}: {rf} {ra} {rb}");
        // And the redirection names the same slot on every node.
        if rf.starts_with("-MOVED") && ra.starts_with("-MOVED") {
            assert_eq!(rf, ra, "{key}");
        }
    }
    // CLUSTER SLOTS from ferrodis lists three ranges with the owners' ports.
    let slots = String::from_utf8_lossy(&fc.cmd(&["CLUSTER", "SLOTS"])).into_owned();
    for p in [f.port(), a.port(), b.port()] {
        assert!(slots.contains(&format!(":{p}\r\n")), "{slots}");
    }
    // A script touching a key of another node's slot fails the same way on ferrodis and on
    // redis-server A (neither serves foo's slot).
    let script = ["EVAL", "return redis.call('get','foo')", "0"];
    let (ef, ea) = (fc.cmd(&script), ac.cmd(&script));
    assert!(ef.starts_with(b"-ERR Script attempted to access a non local key"));
    assert_eq!(escape(&ef), escape(&ea));
    // A write to ferrodis's slot works, and the others send it there.
    assert_eq!(fc.cmd(&["SET", "bar", "1"]), b"+OK\r\n");
    assert_eq!(
        ac.cmd(&["GET", "bar"]),
        format!("-MOVED 5061 127.0.0.1:{}\r\n", f.port()).as_bytes()
    );
}

/// A node restarted with its nodes.conf keeps its name, slots and epoch.
#[test]
fn nodes_conf_survives_a_restart() {
    let (f, _) = ferrodis_node();
    let mut c = f.conn();
    let id = myid(&mut c);
    c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "99", "200", "300"]);
    c.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", "7"]);
    c.cmd(&["CLUSTER", "SETSLOT", "50", "MIGRATING", &id]);
    let before = nodes_line(&mut c, &id).unwrap();
    drop(c);
    f.restart(&["NOSAVE"]);
    let mut c = f.conn();
    assert_eq!(myid(&mut c), id);
    let after = nodes_line(&mut c, &id).unwrap();
    assert_eq!(before, after);
    assert!(
        after.contains(" 7 connected 0-99 200-300 [50->-"),
        "{after}"
    );
    let conf = std::fs::read_to_string(f.dir().join("nodes.conf")).unwrap();
    assert!(
        conf.ends_with("vars currentEpoch 7 lastVoteEpoch 0\n"),
        "{conf}"
    );
}

/// A second node on the same nodes.conf is refused, as Redis refuses it.
#[test]
fn nodes_conf_is_locked() {
    let (f, _) = ferrodis_node();
    let conf = f.dir().join("nodes.conf");
    let bus = free_port().to_string();
    let port = free_port().to_string();
    let out = std::process::Command::new(ferrodis_bin())
        .args([
            "--port",
            &port,
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus,
        ])
        .arg("--cluster-config-file")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("is already used by a different Redis Cluster node"),
        "{log}"
    );
    assert!(f.conn().cmd(&["PING"]) == b"+PONG\r\n");
}

/// The bus port: a bad signature, a lying gossip count and a short totlen close the link;
/// the node keeps serving and keeps its view.
#[test]
fn bad_bus_messages_close_the_link() {
    let (f, bus) = ferrodis_node();
    let closed = |payload: &[u8]| -> bool {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", bus)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(payload).unwrap();
        let mut buf = [0u8; 64];
        matches!(s.read(&mut buf), Ok(0) | Err(_))
    };
    // A header for PING with `count` gossip sections declared and none sent.
    let header = |count: u16, totlen: u32| -> Vec<u8> {
        let mut h = vec![0u8; 2256];
        h[0..4].copy_from_slice(b"RCmb");
        h[4..8].copy_from_slice(&totlen.to_be_bytes());
        h[8..10].copy_from_slice(&1u16.to_be_bytes());
        h[14..16].copy_from_slice(&count.to_be_bytes());
        h[40..80].copy_from_slice(&[b'a'; 40]);
        h
    };
    assert!(closed(b"GARBAGE!GARBAGE!"));
    assert!(closed(&header(0, 100)[..8]));
    let mut lying = header(3, 2256 + 104);
    lying.extend_from_slice(&[0u8; 104]);
    assert!(closed(&lying));
    // A MEET with a lying count from an unknown node adds nothing.
    let mut meet = header(1, 2256);
    meet[12..14].copy_from_slice(&2u16.to_be_bytes());
    assert!(closed(&meet));
    let mut c = f.conn();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let info = text(&mut c, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_known_nodes:1"), "{info}");
    // A well-formed PING from an unknown node gets a PONG (and the link stays).
    let mut s = std::net::TcpStream::connect(("127.0.0.1", bus)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&header(0, 2256)).unwrap();
    let mut pong = vec![0u8; 2256];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong[0..4], b"RCmb");
    assert_eq!(u16::from_be_bytes([pong[12], pong[13]]), 1, "a PONG");
    assert_eq!(
        &pong[40..80],
        myid(&mut c).as_bytes(),
        "the sender is the node"
    );
}

/// Meets `a` and `b` (from `a`) and waits until each lists the other, handshake done.
fn meet_and_wait(ac: &mut RawConn, b: &Server, bbus: u16, bc: &mut RawConn) {
    let (aid, bid) = (myid(ac), myid(bc));
    ac.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &b.port().to_string(),
        &bbus.to_string(),
    ]);
    wait_until(20, "the two nodes to meet", || {
        let x = nodes_line(ac, &bid).unwrap_or_default();
        let y = nodes_line(bc, &aid).unwrap_or_default();
        x.ends_with(" connected") && y.ends_with(" connected")
    });
}

/// CLUSTER REPLICATE both ways with redis-server: ferrodis replicates a redis-server master
/// (the REPLICAOF machinery), a redis-server replicates a ferrodis master; each side sees the
/// roles in CLUSTER NODES and REPLICAS, the data flows, and the replica redirects reads
/// unless READONLY.
#[test]
fn cluster_replicate_with_redis() {
    // ferrodis replica of a redis-server master.
    let (r, rbus) = oracle_node();
    let (f, _) = ferrodis_node();
    let mut rc = r.conn();
    let mut fc = f.conn();
    let (rid, fid) = (myid(&mut rc), myid(&mut fc));
    meet_and_wait(&mut fc, &r, rbus, &mut rc);
    rc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    assert_eq!(fc.cmd(&["CLUSTER", "REPLICATE", &rid]), b"+OK\r\n");
    wait_until(30, "redis-server to see ferrodis as its replica", || {
        nodes_line(&mut rc, &fid).is_some_and(|l| l.contains(&format!(" slave {rid} ")))
    });
    let mine = nodes_line(&mut fc, &fid).unwrap();
    assert!(mine.contains(&format!("myself,slave {rid} ")), "{mine}");
    wait_until(30, "the cluster OK on both", || {
        state_ok(&mut rc) && state_ok(&mut fc)
    });
    assert_eq!(rc.cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
    wait_until(20, "the write to reach the replica", || {
        fc.cmd(&["READONLY"]);
        let v = fc.cmd(&["GET", "foo"]);
        fc.cmd(&["READWRITE"]);
        v == b"$3\r\nbar\r\n"
    });
    assert_eq!(
        fc.cmd(&["GET", "foo"]),
        format!("-MOVED 12182 127.0.0.1:{}\r\n", r.port()).as_bytes()
    );
    let reps = String::from_utf8_lossy(&rc.cmd(&["CLUSTER", "REPLICAS", &rid])).into_owned();
    assert!(reps.contains(&fid), "{reps}");
    let slots = String::from_utf8_lossy(&fc.cmd(&["CLUSTER", "SLOTS"])).into_owned();
    assert!(slots.contains(&fid) && slots.contains(&rid), "{slots}");
    assert_eq!(fc.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), b":1\r\n");
    // Pub/Sub across the bus: PUBLISH on either node reaches the other's subscribers; an
    // SPUBLISH on the master reaches the shard's replica.
    let mut fsub = f.conn();
    let mut rsub = r.conn();
    fsub.cmd(&["SUBSCRIBE", "news"]);
    rsub.cmd(&["SUBSCRIBE", "news"]);
    assert_eq!(rc.cmd(&["PUBLISH", "news", "from-redis"]), b":1\r\n");
    assert_eq!(
        fsub.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$10\r\nfrom-redis\r\n"
    );
    assert_eq!(rsub.read_reply().len(), 44);
    assert_eq!(fc.cmd(&["PUBLISH", "news", "from-ferro"]), b":1\r\n");
    assert_eq!(
        rsub.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$10\r\nfrom-ferro\r\n"
    );
    assert_eq!(fsub.read_reply().len(), 44);
    let mut fshard = f.conn();
    assert_eq!(
        fshard.cmd(&["SSUBSCRIBE", "{foo}ch"]),
        b"*3\r\n$10\r\nssubscribe\r\n$7\r\n{foo}ch\r\n:1\r\n"
    );
    assert_eq!(rc.cmd(&["SPUBLISH", "{foo}ch", "hi"]), b":0\r\n");
    assert_eq!(
        fshard.read_reply(),
        b"*3\r\n$8\r\nsmessage\r\n$7\r\n{foo}ch\r\n$2\r\nhi\r\n"
    );

    // A redis-server replica of a ferrodis master.
    let (f2, f2bus) = ferrodis_node();
    let (r2, _) = oracle_node();
    let mut f2c = f2.conn();
    let mut r2c = r2.conn();
    let (f2id, r2id) = (myid(&mut f2c), myid(&mut r2c));
    meet_and_wait(&mut r2c, &f2, f2bus, &mut f2c);
    f2c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_until(30, "the ferrodis master OK", || state_ok(&mut f2c));
    assert_eq!(f2c.cmd(&["SET", "{k}1", "v"]), b"+OK\r\n");
    assert_eq!(r2c.cmd(&["CLUSTER", "REPLICATE", &f2id]), b"+OK\r\n");
    wait_until(30, "ferrodis to see redis-server as its replica", || {
        nodes_line(&mut f2c, &r2id).is_some_and(|l| l.contains(&format!(" slave {f2id} ")))
    });
    wait_until(30, "the replica to sync", || {
        r2c.cmd(&["READONLY"]);
        r2c.cmd(&["GET", "{k}1"]) == b"$1\r\nv\r\n"
    });
    let reps = String::from_utf8_lossy(&f2c.cmd(&["CLUSTER", "REPLICAS", &f2id])).into_owned();
    assert!(reps.contains(&r2id), "{reps}");
}

/// Failure detection: three masters (ferrodis F, redis-server A and B); B is killed. F marks
/// it PFAIL after node-timeout, then FAIL once A's reports join its own (a majority of the
/// masters that serve slots), and so does A; the cluster goes down (B's slots are lost).
#[test]
fn a_killed_master_is_marked_failing() {
    let (f, fbus) = ferrodis_node();
    let (a, _) = oracle_node();
    let (b, bbus) = oracle_node();
    let mut fc = f.conn();
    let mut ac = a.conn();
    let mut bc = b.conn();
    let bid = myid(&mut bc);
    meet_and_wait(&mut ac, &f, fbus, &mut fc);
    meet_and_wait(&mut ac, &b, bbus, &mut bc);
    wait_until(30, "ferrodis to learn about B", || {
        nodes_line(&mut fc, &bid).is_some_and(|l| l.ends_with(" connected"))
    });
    fc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]);
    ac.cmd(&["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]);
    bc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]);
    wait_until(40, "the cluster OK on every node", || {
        state_ok(&mut fc) && state_ok(&mut ac) && state_ok(&mut bc)
    });
    drop(bc);
    b.kill();
    wait_until(60, "both survivors to flag B as failing", || {
        let f_view = nodes_line(&mut fc, &bid).unwrap_or_default();
        let a_view = nodes_line(&mut ac, &bid).unwrap_or_default();
        f_view.contains("master,fail ") && a_view.contains("master,fail ")
    });
    wait_until(20, "the cluster down on ferrodis", || !state_ok(&mut fc));
    assert_eq!(
        fc.cmd(&["GET", "foo"]),
        b"-CLUSTERDOWN The cluster is down\r\n"
    );
    let info = text(&mut fc, &["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_slots_fail:5461"), "{info}");
}

/// `redis-cli --cluster create` of six ferrodis nodes (three masters, three replicas)
/// succeeds, `--cluster check` is clean, and keys written through the redirections are
/// spread over the masters and read back from any node.
#[test]
fn redis_cli_cluster_create_of_six_ferrodis_nodes() {
    let nodes: Vec<(Server, u16)> = (0..6).map(|_| ferrodis_node()).collect();
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(|(s, _)| format!("127.0.0.1:{}", s.port())));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
    let (ok, out) = redis_cli(&args, 120);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    let first = format!("127.0.0.1:{}", nodes[0].0.port());
    wait_until(60, "--cluster check to be clean", || {
        let (ok, out) = redis_cli(&["--cluster".into(), "check".into(), first.clone()], 60);
        ok && out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
            && !out.contains("[ERR]")
            && !out.contains("[WARNING]")
    });
    let mut conns: Vec<RawConn> = nodes.iter().map(|(s, _)| s.conn()).collect();
    wait_until(60, "every node OK", || conns.iter_mut().all(state_ok));
    // Writes through redirections (as a cluster client does), then reads from every node.
    let port_index = |p: u16| nodes.iter().position(|(s, _)| s.port() == p).unwrap();
    let follow = |conns: &mut Vec<RawConn>, start: usize, cmd: &[&str]| -> Vec<u8> {
        let mut at = start;
        for _ in 0..3 {
            let r = conns[at].cmd(cmd);
            match String::from_utf8_lossy(&r).strip_prefix("-MOVED ") {
                Some(rest) => {
                    let port: u16 = rest.trim().rsplit(':').next().unwrap().parse().unwrap();
                    at = port_index(port);
                }
                None => return r,
            }
        }
        panic!("too many redirections for {cmd:?}");
    };
    for i in 0..300 {
        let (k, v) = (format!("key:{i}"), format!("v{i}"));
        assert_eq!(follow(&mut conns, i % 6, &["SET", &k, &v]), b"+OK\r\n");
    }
    for i in 0..300 {
        let (k, v) = (format!("key:{i}"), format!("v{i}"));
        let want = format!("${}\r\n{v}\r\n", v.len());
        assert_eq!(
            follow(&mut conns, (i + 3) % 6, &["GET", &k]),
            want.as_bytes()
        );
    }
    // Every master holds a share, and together they hold every key.
    let mut total = 0;
    for c in conns.iter_mut() {
        let role = c.cmd(&["ROLE"]);
        if role.starts_with(b"*3\r\n$6\r\nmaster") {
            let n = c.value(&["DBSIZE"]).int().unwrap();
            assert!(n > 50, "a master holds {n} keys");
            total += n;
        }
    }
    assert_eq!(total, 300);
    // 100,000 keys over every slot through the redis crate's cluster client (pipelined per
    // thousand), then 100,000 more through `redis-cli -c` (one command per line); each side
    // reads back what the other wrote.
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://{first}/")]).unwrap();
    let mut con = client.get_connection().unwrap();
    for chunk in (0..100_000).collect::<Vec<u32>>().chunks(1000) {
        let mut p = redis::cluster::cluster_pipe();
        for i in chunk {
            p.cmd("SET").arg(format!("crate:{i}")).arg(i).ignore();
        }
        p.query::<()>(&mut con).unwrap();
    }
    let cli_cmds: String = (0..100_000).map(|i| format!("SET cli:{i} {i}\n")).collect();
    let cli = |input: &str| -> String {
        let mut child = std::process::Command::new("redis-cli")
            .args(["-c", "-p", &nodes[1].0.port().to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-cli");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(input.as_bytes()).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // redis-cli -c prints "-> Redirected to slot ..." before each redirected reply.
    let replies = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("-> Redirected"))
            .map(str::to_string)
            .collect()
    };
    // Four redis-cli processes at a time, each a quarter of the keys (one round trip per
    // command, so they are latency-bound).
    let parallel = |lines: &str| -> Vec<String> {
        let all: Vec<&str> = lines.lines().collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = all
                .chunks(25_000)
                .map(|part| {
                    let input = part.join("\n") + "\n";
                    let cli = &cli;
                    s.spawn(move || replies(&cli(&input)))
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    };
    let out = parallel(&cli_cmds);
    assert_eq!(out.iter().filter(|l| *l == "OK").count(), 100_000);
    for chunk in (0..100_000).collect::<Vec<u32>>().chunks(1000) {
        let mut p = redis::cluster::cluster_pipe();
        for i in chunk {
            p.cmd("GET").arg(format!("cli:{i}"));
        }
        let got: Vec<u32> = p.query(&mut con).unwrap();
        assert_eq!(got, chunk.to_vec());
    }
    let gets: String = (0..100_000).map(|i| format!("GET crate:{i}\n")).collect();
    let out = parallel(&gets);
    assert_eq!(out.len(), 100_000);
    if let Some(i) = (0..100_000).find(|&i| out[i] != i.to_string()) {
        panic!("redis-cli -c read crate:{i} as {:?}", out[i]);
    }
    let mut total = 0;
    for c in conns.iter_mut() {
        if c.cmd(&["ROLE"]).starts_with(b"*3\r\n$6\r\nmaster") {
            total += c.value(&["DBSIZE"]).int().unwrap();
        }
    }
    assert_eq!(total, 200_300);
}

/// A client blocked on a key whose slot this node stops serving is unblocked with the
/// redirection, as redis-server does from its clients cron.
#[test]
fn blocked_clients_are_redirected_when_their_slot_goes() {
    let mut d = cluster_pair();
    d.run(
        "CONFIG SET cluster-require-full-coverage no\nCLUSTER ADDSLOTSRANGE 0 16383\nCLUSTER KEYSLOT {x}l",
    );
    wait_until(20, "both clusters OK", || {
        state_ok(&mut d.ferrodis) && state_ok(&mut d.redis)
    });
    let mut b = d.another();
    b.send(&["BLPOP", "{x}l", "0"]);
    wait_until(10, "the client blocked on both", || {
        let blocked = |c: &mut RawConn| text(c, &["INFO", "clients"]).contains("blocked_clients:1");
        blocked(&mut d.ferrodis) && blocked(&mut d.redis)
    });
    let slot = d
        .ferrodis
        .value(&["CLUSTER", "KEYSLOT", "{x}l"])
        .int()
        .unwrap()
        .to_string();
    d.cmd(&["CLUSTER", "DELSLOTS", &slot]);
    assert_eq!(b.read(), b"-CLUSTERDOWN Hash slot not served\r\n");
    d.run("BLPOP {x}l 0\nINFO errorstats");
}

/// A redis-server node that claims one of ferrodis's slots with a greater config epoch takes
/// it: ferrodis gives the slot up, deletes the keys it held there, and redirects to the new
/// owner. (Ferrodis keeps another slot: a master that loses its last slot becomes the new
/// owner's replica instead, as tests/cluster_failover.rs shows.)
#[test]
fn a_slot_claimed_with_a_greater_epoch_moves_with_its_keys_deleted() {
    let (f, _) = ferrodis_node();
    let (r, rbus) = oracle_node();
    let mut fc = f.conn();
    let mut rc = r.conn();
    let (fid, rid) = (myid(&mut fc), myid(&mut rc));
    fc.cmd(&["CONFIG", "SET", "cluster-require-full-coverage", "no"]);
    fc.cmd(&["CLUSTER", "ADDSLOTS", "0", "12182"]);
    wait_until(20, "ferrodis OK", || state_ok(&mut fc));
    assert_eq!(fc.cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
    meet_and_wait(&mut fc, &r, rbus, &mut rc);
    wait_until(20, "redis-server to learn ferrodis's slot", || {
        nodes_line(&mut rc, &fid).is_some_and(|l| l.ends_with(" 12182"))
    });
    assert_eq!(
        rc.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &rid]),
        b"+OK\r\n"
    );
    rc.cmd(&["CLUSTER", "BUMPEPOCH"]);
    wait_until(20, "ferrodis to give the slot up", || {
        nodes_line(&mut fc, &rid).is_some_and(|l| l.ends_with(" 12182"))
    });
    assert_eq!(fc.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(fc.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), b":0\r\n");
    assert_eq!(
        fc.cmd(&["GET", "foo"]),
        format!("-MOVED 12182 127.0.0.1:{}\r\n", r.port()).as_bytes()
    );
}

/// A MEET to an address where no node listens stays a handshake entry until the handshake
/// timeout (node-timeout, at least a second) removes it, as in Redis; nodes.conf never lists it.
#[test]
fn a_meet_nobody_answers_times_out() {
    let (f, _) = ferrodis_node();
    let mut c = f.conn();
    let nobody = free_port();
    assert_eq!(
        c.cmd(&[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &nobody.to_string(),
            &nobody.to_string()
        ]),
        b"+OK\r\n"
    );
    let nodes = text(&mut c, &["CLUSTER", "NODES"]);
    assert!(
        nodes.contains(&format!(" 127.0.0.1:{nobody}@{nobody} handshake - ")),
        "{nodes}"
    );
    assert_eq!(c.cmd(&["CLUSTER", "SAVECONFIG"]), b"+OK\r\n");
    let conf = std::fs::read_to_string(f.dir().join("nodes.conf")).unwrap();
    assert!(!conf.contains("handshake"), "{conf}");
    wait_until(20, "the handshake to time out", || {
        text(&mut c, &["CLUSTER", "NODES"]).lines().count() == 1
    });
}

/// cluster-link-sendbuf-limit: a link whose send buffer outgrows the limit (its peer stopped
/// reading while PUBLISH messages crossed the bus) is freed and counted in CLUSTER INFO's
/// total_cluster_links_buffer_limit_exceeded, by ferrodis as by redis-server; when the peer
/// reads again the links come back and the cluster is whole.
#[test]
fn links_over_the_sendbuf_limit_are_freed() {
    let (f, fbus) = ferrodis_node();
    let (o, _) = oracle_node();
    let (x, xbus) = oracle_node();
    let (mut fc, mut oc, mut xc) = (f.conn(), o.conn(), x.conn());
    meet_and_wait(&mut oc, &f, fbus, &mut fc);
    meet_and_wait(&mut oc, &x, xbus, &mut xc);
    let xid = myid(&mut xc);
    wait_until(30, "ferrodis to link with X", || {
        nodes_line(&mut fc, &xid).is_some_and(|l| l.ends_with(" connected"))
    });
    for c in [&mut fc, &mut oc] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "cluster-link-sendbuf-limit", "65536"]),
            b"+OK\r\n"
        );
    }
    common::repl::signal(&x, "-STOP");
    let msg = "m".repeat(200_000);
    let exceeded = |c: &mut RawConn| -> i64 {
        text(c, &["CLUSTER", "INFO"])
            .lines()
            .find_map(|l| l.strip_prefix("total_cluster_links_buffer_limit_exceeded:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while exceeded(&mut fc) < 1 || exceeded(&mut oc) < 1 {
        assert!(
            Instant::now() < deadline,
            "no link freed: ferrodis {}, redis {}",
            exceeded(&mut fc),
            exceeded(&mut oc)
        );
        for c in [&mut fc, &mut oc] {
            for _ in 0..5 {
                c.cmd(&["PUBLISH", "ch", &msg]);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    common::repl::signal(&x, "-CONT");
    let (fid, oid) = (myid(&mut fc), myid(&mut oc));
    wait_until(30, "the links to come back", || {
        [&mut fc, &mut oc].into_iter().all(|c| {
            nodes_line(c, &xid).is_some_and(|l| l.ends_with(" connected") && !l.contains("fail"))
        }) && [&fid, &oid]
            .iter()
            .all(|id| nodes_line(&mut xc, id).is_some_and(|l| l.ends_with(" connected")))
    });
}
