//! Resharding (issue 22, second part): `redis-cli --cluster reshard` and `--cluster
//! rebalance` move slots with their keys (CLUSTER SETSLOT IMPORTING/MIGRATING/NODE,
//! GETKEYSINSLOT, MIGRATE ... KEYS with RESTORE-ASKING, -ASK/-TRYAGAIN meanwhile) between
//! ferrodis masters while a client keeps writing, and in clusters mixing ferrodis and
//! redis-server nodes both ways; shard channels of a slot that leaves a node are dropped and
//! their subscribers told, as redis-server does.
//!
//! Every server runs on free ports; every wait is bounded; every server stops when its
//! `Server` drops.

mod common;

use common::cluster::{redis_cli_run as redis_cli, text_of as text, wait_for as wait_until};
use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NODE_TIMEOUT: &str = "5000";

fn cluster_args(bus: u16) -> Vec<String> {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &bus.to_string(),
        "--cluster-node-timeout",
        NODE_TIMEOUT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A cluster-mode node: ferrodis, or redis-server when `oracle`.
fn node(oracle: bool) -> Server {
    let args = cluster_args(free_port());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if oracle {
        oracle_with(&args)
    } else {
        ferrodis_with(&args)
    }
}

fn addr(s: &Server) -> String {
    format!("127.0.0.1:{}", s.port())
}

fn myid(s: &Server) -> String {
    text(&mut s.conn(), &["CLUSTER", "MYID"])
}

fn cli(args: &[&str], secs: u64) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (ok, out) = redis_cli(&args, secs);
    assert!(ok, "redis-cli {args:?} failed:\n{out}");
    out
}

/// `--cluster create` of `nodes` as masters.
fn create(nodes: &[&Server]) {
    let mut args = vec!["--cluster".to_string(), "create".to_string()];
    args.extend(nodes.iter().map(|s| addr(s)));
    args.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
    let (ok, out) = redis_cli(&args, 120);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    wait_clean(nodes[0], nodes.len());
    wait_converged(nodes);
}

/// Waits until `--cluster check` from `s` is clean and sees `n` nodes, every one OK.
fn wait_clean(s: &Server, n: usize) {
    let a = addr(s);
    wait_until(90, "--cluster check to be clean", || {
        let (ok, out) = redis_cli(&["--cluster".into(), "check".into(), a.clone()], 60);
        ok && out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
            && !out.contains("[ERR]")
            && !out.contains("[WARNING]")
            && out.matches("M: ").count() + out.matches("S: ").count() == n
    });
}

/// Waits until every node knows all the others (no handshake, no failure flag) and is OK:
/// a node that joined must be known everywhere before slots can be set to it, and is not
/// OK itself before its rejoin delay passed.
fn wait_converged(nodes: &[&Server]) {
    let mut conns: Vec<RawConn> = nodes.iter().map(|s| s.conn()).collect();
    wait_until(90, "every node to know every node and be OK", || {
        conns.iter_mut().all(|c| {
            let view = text(c, &["CLUSTER", "NODES"]);
            view.lines().count() == nodes.len()
                && !view.contains("handshake")
                && !view.contains("fail")
                && text(c, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
        })
    });
}

/// A small cluster client: one connection per node, commands sent where the key's slot is
/// served, following -MOVED (remembered), -ASK (ASKING first) and -TRYAGAIN.
struct ClusterClient {
    conns: HashMap<u16, RawConn>,
    slots: HashMap<u16, u16>,
    any: u16,
}

impl ClusterClient {
    fn new(port: u16) -> ClusterClient {
        ClusterClient {
            conns: HashMap::new(),
            slots: HashMap::new(),
            any: port,
        }
    }

    fn conn(&mut self, port: u16) -> &mut RawConn {
        self.conns.entry(port).or_insert_with(|| {
            let mut c = RawConn::connect(port);
            c.set_timeout(Duration::from_secs(30));
            c
        })
    }

    fn cmd(&mut self, key: &str, args: &[&str]) -> Vec<u8> {
        let slot = key_slot(key.as_bytes());
        let mut port = *self.slots.get(&slot).unwrap_or(&self.any);
        let mut asking = false;
        for _ in 0..200 {
            let c = self.conn(port);
            if asking {
                assert_eq!(c.cmd(&["ASKING"]), b"+OK\r\n");
            }
            let r = c.cmd(args);
            let s = String::from_utf8_lossy(&r).to_string();
            let target =
                |rest: &str| -> u16 { rest.trim().rsplit(':').next().unwrap().parse().unwrap() };
            if let Some(rest) = s.strip_prefix("-MOVED ") {
                port = target(rest);
                self.slots.insert(slot, port);
                asking = false;
            } else if let Some(rest) = s.strip_prefix("-ASK ") {
                port = target(rest);
                asking = true;
            } else if s.starts_with("-TRYAGAIN") || s.starts_with("-CLUSTERDOWN") {
                std::thread::sleep(Duration::from_millis(20));
                asking = false;
                port = *self.slots.get(&slot).unwrap_or(&self.any);
            } else {
                return r;
            }
        }
        panic!("too many redirections for {args:?}");
    }
}

/// CRC16 slot of a key (no hash tags in the keys used here).
fn key_slot(key: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in key {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & 16383
}

/// Writes `n` keys `pre:i` through the cluster client.
fn fill(port: u16, pre: &str, n: usize) {
    let mut cc = ClusterClient::new(port);
    for i in 0..n {
        let k = format!("{pre}:{i}");
        assert_eq!(cc.cmd(&k, &["SET", &k, &i.to_string()]), b"+OK\r\n");
    }
}

/// Every key `pre:i` for i in `range` reads back its value from anywhere.
fn check_keys(port: u16, pre: &str, range: std::ops::Range<usize>) {
    let mut cc = ClusterClient::new(port);
    for i in range {
        let k = format!("{pre}:{i}");
        let v = i.to_string();
        let want = format!("${}\r\n{v}\r\n", v.len());
        assert_eq!(
            cc.cmd(&k, &["GET", &k]),
            want.as_bytes(),
            "key {k} lost or wrong"
        );
    }
}

/// Keys a node holds.
fn dbsize(s: &Server) -> i64 {
    s.conn().value(&["DBSIZE"]).int().unwrap()
}

/// Starts a writer of `live:i` keys (and an overwrite of `pre:j` keys, so keys being moved
/// are written too) that runs until told to stop; returns how many it wrote.
fn writer(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut cc = ClusterClient::new(port);
        let mut i = 0;
        while !stop.load(Ordering::SeqCst) && i < 30_000 {
            let k = format!("live:{i}");
            assert_eq!(cc.cmd(&k, &["SET", &k, &i.to_string()]), b"+OK\r\n");
            let j = i % 3000;
            let p = format!("pre:{j}");
            assert_eq!(cc.cmd(&p, &["SET", &p, &j.to_string()]), b"+OK\r\n");
            i += 1;
        }
        i
    })
}

/// `--cluster reshard` moves 1,000 slots with their keys from one ferrodis master to another
/// while a client keeps writing; no key is lost and the check is clean afterwards.
#[test]
fn reshard_1000_slots_between_ferrodis_masters_while_writing() {
    let nodes: Vec<Server> = (0..3).map(|_| node(false)).collect();
    let refs: Vec<&Server> = nodes.iter().collect();
    create(&refs);
    let port = nodes[0].port();
    fill(port, "pre", 3000);
    let (from, to) = (myid(&nodes[0]), myid(&nodes[1]));
    let before = (dbsize(&nodes[0]), dbsize(&nodes[1]));
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(port, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let out = cli(
        &[
            "--cluster",
            "reshard",
            &addr(&nodes[0]),
            "--cluster-from",
            &from,
            "--cluster-to",
            &to,
            "--cluster-slots",
            "1000",
            "--cluster-yes",
        ],
        600,
    );
    stop.store(true, Ordering::SeqCst);
    let written = w.join().unwrap();
    assert!(out.contains("Moving slot"), "{out}");
    assert!(written > 100, "the writer wrote {written} keys");
    eprintln!("keys written during the reshard: {written}");
    wait_clean(&nodes[0], 3);
    // The slots moved, with keys.
    let slots_of = |s: &Server| {
        let mut c = s.conn();
        let line = text(&mut c, &["CLUSTER", "NODES"])
            .lines()
            .find(|l| l.contains("myself"))
            .unwrap()
            .to_string();
        line.split(' ')
            .skip(8)
            .map(|r| match r.split_once('-') {
                Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                None => 1,
            })
            .sum::<usize>()
    };
    assert_eq!(slots_of(&nodes[1]), 5462 + 1000, "the target's slots");
    let after = (dbsize(&nodes[0]), dbsize(&nodes[1]));
    assert!(
        after.1 > before.1 && after.0 < before.0 + written as i64,
        "{before:?} -> {after:?}"
    );
    check_keys(port, "pre", 0..3000);
    check_keys(nodes[2].port(), "live", 0..written);
}

/// A ferrodis node joins a cluster of three redis-server nodes and takes slots from them by
/// `--cluster rebalance` (its keys move by MIGRATE from redis-server to ferrodis); then a
/// `--cluster reshard` moves slots from ferrodis back to a redis-server node.
#[test]
fn ferrodis_joins_a_redis_cluster_and_takes_slots() {
    let reds: Vec<Server> = (0..3).map(|_| node(true)).collect();
    let refs: Vec<&Server> = reds.iter().collect();
    create(&refs);
    fill(reds[0].port(), "pre", 2000);
    let f = node(false);
    cli(&["--cluster", "add-node", &addr(&f), &addr(&reds[0])], 60);
    wait_clean(&reds[0], 4);
    wait_converged(&[&reds[0], &reds[1], &reds[2], &f]);
    cli(
        &[
            "--cluster",
            "rebalance",
            &addr(&reds[0]),
            "--cluster-use-empty-masters",
            "--cluster-yes",
        ],
        600,
    );
    wait_clean(&f, 4);
    assert!(dbsize(&f) > 200, "ferrodis holds {} keys", dbsize(&f));
    check_keys(f.port(), "pre", 0..2000);
    // And back: 300 slots from ferrodis to the first redis-server node.
    cli(
        &[
            "--cluster",
            "reshard",
            &addr(&f),
            "--cluster-from",
            &myid(&f),
            "--cluster-to",
            &myid(&reds[0]),
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ],
        600,
    );
    wait_clean(&reds[1], 4);
    check_keys(reds[2].port(), "pre", 0..2000);
}

/// A redis-server node joins a cluster of three ferrodis nodes and takes slots by
/// `--cluster reshard` (keys move by MIGRATE from ferrodis to redis-server).
#[test]
fn a_redis_node_joins_a_ferrodis_cluster_and_takes_slots() {
    let fs: Vec<Server> = (0..3).map(|_| node(false)).collect();
    let refs: Vec<&Server> = fs.iter().collect();
    create(&refs);
    fill(fs[0].port(), "pre", 2000);
    let r = node(true);
    cli(&["--cluster", "add-node", &addr(&r), &addr(&fs[0])], 60);
    wait_clean(&fs[0], 4);
    wait_converged(&[&fs[0], &fs[1], &fs[2], &r]);
    cli(
        &[
            "--cluster",
            "reshard",
            &addr(&fs[0]),
            "--cluster-from",
            "all",
            "--cluster-to",
            &myid(&r),
            "--cluster-slots",
            "1200",
            "--cluster-yes",
        ],
        600,
    );
    wait_clean(&r, 4);
    assert!(dbsize(&r) > 50, "redis-server holds {} keys", dbsize(&r));
    check_keys(fs[1].port(), "pre", 0..2000);
}

/// Shard channels of a slot this node stops serving are dropped, and each subscriber gets a
/// `sunsubscribe` with the shard subscriptions it has left (RESP2 and RESP3), as
/// redis-server 7.0.15 does; channels of other slots stay.
#[test]
fn shard_channels_of_a_slot_that_leaves_are_dropped() {
    let f = node(false);
    let r = node(true);
    let mut d = Diff::from_servers(f, r);
    d.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_until(20, "both nodes OK", || {
        text(&mut d.ferrodis, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            && text(&mut d.redis, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
    });
    let mut s2 = d.another();
    let mut s3 = d.another();
    s2.cmd(&["SSUBSCRIBE", "ch"]);
    s2.cmd(&["SSUBSCRIBE", "other"]);
    s2.cmd(&["SUBSCRIBE", "plain"]);
    s3.cmd(&["HELLO", "3"]);
    s3.cmd(&["SSUBSCRIBE", "ch"]);
    d.cmd(&["CLUSTER", "KEYSLOT", "ch"]);
    d.cmd(&["CLUSTER", "DELSLOTS", "13271"]);
    assert_eq!(
        s2.read(),
        b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\nch\r\n:1\r\n".to_vec()
    );
    s3.read();
    d.cmd(&["PUBSUB", "SHARDCHANNELS"]);
    d.cmd(&["PUBSUB", "SHARDNUMSUB", "ch", "other"]);
    s3.cmd(&["PING"]);
    s2.cmd(&["PING"]);
}

/// In cluster mode MIGRATE sends RESTORE-ASKING; compared with redis-server, each node of a
/// one-node cluster migrating to the same plain redis-server target (reset between sides).
#[test]
fn migrate_in_cluster_mode_matches_redis() {
    let mut d = Diff::from_servers(node(false), node(true));
    d.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_until(20, "both nodes OK", || {
        text(&mut d.ferrodis, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            && text(&mut d.redis, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
    });
    let target = oracle();
    let tp = target.port().to_string();
    let mut t = target.conn();
    d.run("SET {a}1 x\nRPUSH {a}2 a b\nSET b y");
    let cmds: &[&[&str]] = &[
        &["MIGRATE", "127.0.0.1", &tp, "{a}1", "0", "5000", "COPY"],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "5000",
            "KEYS",
            "{a}1",
            "{a}2",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "5000",
            "KEYS",
            "{a}1",
            "b",
        ],
        &["MIGRATE", "127.0.0.1", &tp, "b", "0", "5000"],
    ];
    for cmd in cmds {
        let mut got = Vec::new();
        for side in 0..2 {
            t.cmd(&["FLUSHALL"]);
            let c = if side == 0 {
                &mut d.ferrodis
            } else {
                &mut d.redis
            };
            let r = c.cmd(cmd);
            let mut keys = t.value(&["KEYS", "*"]).items().unwrap().to_vec();
            keys.sort_by(|a, b| a.bytes().cmp(&b.bytes()));
            got.push((r, format!("{keys:?}")));
        }
        assert_same(&show_command(cmd), &got[0].0, &got[1].0);
        assert_eq!(got[0].1, got[1].1, "{cmd:?}: the targets differ");
    }
    d.run("DBSIZE\nEXISTS {a}1 {a}2 b");
}
