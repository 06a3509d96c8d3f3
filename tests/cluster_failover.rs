//! Redis Cluster failover (issue 22, second part): a replica of a master killed with -9 or
//! paused with SIGSTOP is elected and takes the slots, clients follow the -MOVED, and the old
//! master rejoins as a replica of the new one; CLUSTER FAILOVER (default, FORCE, TAKEOVER)
//! and its errors against the oracle; elections across ferrodis and redis-server nodes (the
//! FAILOVER_AUTH messages are wire-compatible); replica migration to an orphaned master.
//!
//! Every server runs on free ports with a short cluster-node-timeout; every wait is bounded;
//! every server stops when its `Server` drops.

mod common;

use common::cluster::*;
use common::repl::{signal, wait_in_sync};
use common::*;
use std::time::{Duration, Instant};

/// cluster-node-timeout of these tests (ms).
const NODE_TIMEOUT: u64 = 1500;

/// The longest a replica may take to be promoted after its master stops: PFAIL after
/// node-timeout (counted from a ping sent up to node-timeout/2 later), FAIL once the other
/// masters' reports arrive (within another node-timeout/2 of pings), then the election delay
/// (500 ms + up to 500 ms, rank 0) and one round trip of votes; plus a second of slack for a
/// loaded machine.
const PROMOTION_BOUND: Duration = Duration::from_millis(2 * NODE_TIMEOUT + 1000 + 1000);

/// The tests of this file run one at a time: each starts up to seven nodes with a short
/// node timeout, and two such clusters side by side on a 2-core machine starve each other's
/// cron into false failure detections.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn ferro_nodes(n: usize) -> Vec<(Server, u16)> {
    (0..n)
        .map(|_| cluster_node(true, NODE_TIMEOUT, &[]))
        .collect()
}

/// (master index, replica index) of every replica, as node `nodes[0]` sees them.
fn shards(nodes: &[(Server, u16)]) -> Vec<(usize, usize)> {
    let mut c = nodes[0].0.conn();
    let rows = node_rows(&mut c);
    let idx = |port: u16| nodes.iter().position(|(s, _)| s.port() == port).unwrap();
    let mut out: Vec<(usize, usize)> = rows
        .iter()
        .filter(|r| !r.is_master())
        .map(|r| {
            let m = rows.iter().find(|x| x.id == r.master).unwrap();
            (idx(m.port), idx(r.port))
        })
        .collect();
    out.sort();
    out
}

/// True when `row` serves `slot`.
fn serves(row: &NodeRow, slot: i64) -> bool {
    row.slots.iter().any(|r| {
        let mut it = r.split('-');
        let a: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(-1);
        let b: i64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(a);
        (a..=b).contains(&slot)
    })
}

/// A key (with `prefix`) whose slot node `id` serves, as `c` sees it.
fn key_served_by(c: &mut RawConn, id: &str, prefix: &str) -> String {
    let row = row_of(c, id).unwrap();
    (0..10_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| {
            let slot = c.value(&["CLUSTER", "KEYSLOT", k]).int().unwrap();
            serves(&row, slot)
        })
        .expect("a key for the node's slots")
}

/// Waits until `id` is a master serving slots and the cluster is OK in every view of
/// `conns`.
fn wait_all_see_master(conns: &mut [RawConn], id: &str) {
    wait_for(
        30,
        "every node to see the new master and the cluster OK",
        || {
            conns.iter_mut().all(|c| {
                cluster_ok(c) && row_of(c, id).is_some_and(|r| r.is_master() && !r.slots.is_empty())
            })
        },
    );
}

/// Waits until the node behind `c` (named `id`) is a replica of `master`, in its own view
/// and in ROLE.
fn wait_replica_of(c: &mut RawConn, id: &str, master: &str, what: &str) {
    wait_for(40, what, || {
        row_of(c, id).is_some_and(|r| !r.is_master() && r.master == master) && role_of(c) == "slave"
    });
}

/// Six ferrodis nodes: a master killed with -9 is replaced by its replica within the bound,
/// the keys written before are there and new writes follow the -MOVED (our client and
/// `redis-cli -c`), the restarted old master rejoins as a replica of the new one and syncs;
/// then a master paused with SIGSTOP past node-timeout is failed over the same way and, on
/// SIGCONT, turns replica. `--cluster check` is clean after each.
#[test]
fn killed_and_paused_masters_are_failed_over_and_rejoin_as_replicas() {
    let _serial = serial();
    let nodes = ferro_nodes(6);
    create_cluster(&nodes, 1);
    let sh = shards(&nodes);
    assert_eq!(sh.len(), 3, "{sh:?}");
    let (m, r) = sh[0];
    let (m2, r2) = sh[1];
    let steady = sh[2].0;
    let mut client = Follower::new(nodes[steady].0.port());
    for i in 0..300 {
        let (k, v) = (format!("key:{i}"), format!("v{i}"));
        assert_eq!(client.cmd(&["SET", &k, &v], 10).0, b"+OK\r\n");
    }
    for &(mm, rr) in &sh {
        wait_in_sync(&mut nodes[mm].0.conn(), &mut nodes[rr].0.conn());
    }
    let mut mc = nodes[m].0.conn();
    let mut rc = nodes[r].0.conn();
    let (old_id, new_id) = (node_id(&mut mc), node_id(&mut rc));
    let old_slots = row_of(&mut rc, &old_id).unwrap().slots;
    let epoch_before = row_of(&mut rc, &old_id).unwrap().epoch;

    // kill -9 of the master.
    drop(mc);
    let t0 = Instant::now();
    nodes[m].0.kill();
    client.drop_port(nodes[m].0.port());
    wait_for(30, "the replica to be promoted", || {
        role_of(&mut rc) == "master"
    });
    let took = t0.elapsed();
    eprintln!("promotion after kill -9: {} ms", took.as_millis());
    assert!(took < PROMOTION_BOUND, "promotion took {took:?}");
    let mut survivors: Vec<RawConn> = (0..6)
        .filter(|&i| i != m)
        .map(|i| nodes[i].0.conn())
        .collect();
    wait_all_see_master(&mut survivors, &new_id);
    let row = row_of(&mut rc, &new_id).unwrap();
    assert_eq!(row.slots, old_slots);
    assert!(row.epoch > epoch_before, "{row:?}");
    let info = text_of(&mut rc, &["CLUSTER", "INFO"]);
    assert!(
        info.contains("cluster_stats_messages_auth-req_sent:"),
        "{info}"
    );
    // Every key is still there, reached through redirections; new writes land.
    for i in 0..300 {
        let v = format!("v{i}");
        let want = format!("${}\r\n{v}\r\n", v.len());
        assert_eq!(
            client.cmd(&["GET", &format!("key:{i}")], 20).0,
            want.as_bytes()
        );
    }
    let k = key_served_by(&mut rc, &new_id, "after-kill:");
    let (ok, out) = redis_cli_run(
        &[
            "-c".into(),
            "-p".into(),
            nodes[steady].0.port().to_string(),
            "SET".into(),
            k.clone(),
            "through-redis-cli".into(),
        ],
        20,
    );
    assert!(ok && out.trim() == "OK", "{out}");
    assert_eq!(rc.cmd(&["GET", &k]), b"$17\r\nthrough-redis-cli\r\n");

    // The old master comes back: it takes the new master as its master and syncs.
    nodes[m].0.restart(&[]);
    let mut mc = nodes[m].0.conn();
    wait_replica_of(
        &mut mc,
        &old_id,
        &new_id,
        "the old master to rejoin as a replica",
    );
    wait_in_sync(&mut rc, &mut mc);
    assert_eq!(mc.cmd(&["DBSIZE"]), rc.cmd(&["DBSIZE"]));
    wait_for(60, "--cluster check to be clean after the kill", || {
        cluster_check_clean(nodes[steady].0.port()).0
    });

    // SIGSTOP of another master past node-timeout.
    let mut m2c = nodes[m2].0.conn();
    let mut r2c = nodes[r2].0.conn();
    let (old2, new2) = (node_id(&mut m2c), node_id(&mut r2c));
    wait_in_sync(&mut m2c, &mut r2c);
    let t0 = Instant::now();
    signal(&nodes[m2].0, "-STOP");
    wait_for(30, "the paused master's replica to be promoted", || {
        role_of(&mut r2c) == "master"
    });
    let took = t0.elapsed();
    eprintln!("promotion after SIGSTOP: {} ms", took.as_millis());
    assert!(took < PROMOTION_BOUND, "promotion took {took:?}");
    let mut others: Vec<RawConn> = (0..6)
        .filter(|&i| i != m2)
        .map(|i| nodes[i].0.conn())
        .collect();
    wait_all_see_master(&mut others, &new2);
    signal(&nodes[m2].0, "-CONT");
    wait_replica_of(&mut m2c, &old2, &new2, "the resumed master to turn replica");
    wait_in_sync(&mut r2c, &mut m2c);
    for i in (0..300).step_by(7) {
        let v = format!("v{i}");
        let want = format!("${}\r\n{v}\r\n", v.len());
        assert_eq!(
            client.cmd(&["GET", &format!("key:{i}")], 20).0,
            want.as_bytes()
        );
    }
    wait_for(60, "--cluster check to be clean after the pause", || {
        cluster_check_clean(nodes[steady].0.port()).0
    });
}

/// CLUSTER FAILOVER on ferrodis replicas of a six-node ferrodis cluster: the default mode
/// (the master pauses writes until its replica caught up: a client writing all along loses
/// no acknowledged write), FORCE and TAKEOVER; each time the old master becomes the new
/// one's replica.
#[test]
fn cluster_failover_default_force_and_takeover() {
    let _serial = serial();
    let nodes = ferro_nodes(6);
    create_cluster(&nodes, 1);
    let sh = shards(&nodes);
    assert_eq!(sh.len(), 3, "{sh:?}");
    for (n, mode) in [None, Some("FORCE"), Some("TAKEOVER")]
        .into_iter()
        .enumerate()
    {
        let (m, r) = sh[n];
        let mut mc = nodes[m].0.conn();
        let mut rc = nodes[r].0.conn();
        let (mid, rid) = (node_id(&mut mc), node_id(&mut rc));
        let epoch_before = row_of(&mut rc, &mid).unwrap().epoch;
        // A writer on the master's slots all along, once the replica's stream flows (a master
        // streams to a replica that loaded its snapshot after its first ACK): a write made
        // after the replica is in sync reaches it.
        let tag = key_served_by(&mut mc, &mid, "t");
        for probe in ["probe1", "probe2"] {
            let k = format!("{{{tag}}}:{probe}");
            assert_eq!(mc.cmd(&["SET", &k, "x"]), b"+OK\r\n");
            wait_in_sync(&mut mc, &mut rc);
        }
        let wtag = tag.clone();
        let start = nodes[m].0.port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut f = Follower::new(start);
            let mut acked = 0;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let k = format!("{{{wtag}}}:{acked}");
                assert_eq!(f.cmd(&["SET", &k, "x"], 20).0, b"+OK\r\n");
                acked += 1;
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut args = vec!["CLUSTER", "FAILOVER"];
        args.extend(mode);
        let t0 = Instant::now();
        assert_eq!(rc.cmd(&args), b"+OK\r\n", "{mode:?}");
        wait_for(20, "the manual failover", || role_of(&mut rc) == "master");
        let took = t0.elapsed();
        eprintln!("CLUSTER FAILOVER {mode:?}: {} ms", took.as_millis());
        assert!(
            took < Duration::from_secs(2),
            "CLUSTER FAILOVER {mode:?} took {took:?}"
        );

        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let acked = writer.join().unwrap();
        assert!(acked > 0);
        let row = row_of(&mut rc, &rid).unwrap();
        assert!(row.epoch > epoch_before, "{mode:?} {row:?}");
        wait_replica_of(&mut mc, &mid, &rid, "the old master to follow its replica");
        if mode.is_none() {
            // Not a write lost: every acknowledged key is on the new master.
            for i in 0..acked {
                let k = format!("{{{tag}}}:{i}");
                assert_eq!(rc.cmd(&["EXISTS", &k]), b":1\r\n", "{k} lost");
            }
        }
        let mut all: Vec<RawConn> = nodes.iter().map(|(s, _)| s.conn()).collect();
        wait_all_see_master(&mut all, &rid);
    }
    wait_for(60, "--cluster check to be clean", || {
        cluster_check_clean(nodes[0].0.port()).0
    });
}

/// A master and its replica, each a node of `ferro` (or the oracle), the master serving every
/// slot; the replica is in sync.
fn master_and_replica(ferro: bool) -> ((Server, u16), (Server, u16)) {
    let (m, mbus) = cluster_node(ferro, NODE_TIMEOUT, &[]);
    let (r, rbus) = cluster_node(ferro, NODE_TIMEOUT, &[]);
    let mut mc = m.conn();
    let mut rc = r.conn();
    meet(&mut rc, &m, mbus);
    mc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    let mid = node_id(&mut mc);
    wait_for(20, "the replica to learn the master's slots", || {
        row_of(&mut rc, &mid).is_some_and(|r| !r.slots.is_empty())
    });
    assert_eq!(rc.cmd(&["CLUSTER", "REPLICATE", &mid]), b"+OK\r\n");
    wait_in_sync(&mut mc, &mut rc);
    ((m, mbus), (r, rbus))
}

/// CLUSTER FAILOVER's replies compared with the oracle's: its syntax errors and the error on
/// a master; on a replica whose master is gone, the error without FORCE; then TAKEOVER makes
/// the replica a master on both.
#[test]
fn cluster_failover_errors_match_redis() {
    let _serial = serial();
    let (f, _) = cluster_node(true, NODE_TIMEOUT, &[]);
    let (o, _) = cluster_node(false, NODE_TIMEOUT, &[]);
    let mut d = Diff::from_servers(f, o);
    d.run(
        "CLUSTER FAILOVER\nCLUSTER FAILOVER FORCE\nCLUSTER FAILOVER takeover\nCLUSTER FAILOVER bogus\nCLUSTER FAILOVER force extra",
    );
    // cluster-replica-no-failover shows as the nofailover flag, as in redis-server.
    d.cmd(&["CONFIG", "SET", "cluster-replica-no-failover", "yes"]);
    let my_flags = |c: &mut RawConn| {
        node_rows(c)
            .into_iter()
            .find(|r| r.is_myself())
            .map(|r| r.flags)
            .unwrap_or_default()
    };
    wait_for(10, "the nofailover flag on both", || {
        my_flags(&mut d.ferrodis).contains("nofailover")
    });
    assert_eq!(my_flags(&mut d.ferrodis), my_flags(&mut d.redis));
    d.cmd(&["CONFIG", "SET", "cluster-replica-no-failover", "no"]);
    wait_for(10, "the nofailover flag gone", || {
        !my_flags(&mut d.ferrodis).contains("nofailover")
    });
    assert_eq!(my_flags(&mut d.ferrodis), my_flags(&mut d.redis));
    let ((fm, _), (fr, _)) = master_and_replica(true);
    let ((om, _), (or, _)) = master_and_replica(false);
    let fmid = node_id(&mut fm.conn());
    let omid = node_id(&mut om.conn());
    fm.kill();
    om.kill();
    let mut d = Diff::from_servers(fr, or);
    wait_for(20, "both replicas to lose their master's link", || {
        !row_of(&mut d.ferrodis, &fmid).unwrap().connected
            && !row_of(&mut d.redis, &omid).unwrap().connected
    });
    d.run("CLUSTER FAILOVER\nCLUSTER FAILOVER bogus\nCLUSTER FAILOVER TAKEOVER");
    wait_for(10, "both replicas to take over", || {
        role_of(&mut d.ferrodis) == "master" && role_of(&mut d.redis) == "master"
    });
    d.run("CLUSTER FAILOVER\nCLUSTER COUNTKEYSINSLOT 0");
}

/// Elections across implementations: a redis-server cluster's master A has a ferrodis replica
/// F, a ferrodis master FM has a redis-server replica R, B is a redis-server master. R and FM
/// swap roles twice by CLUSTER FAILOVER; then killing A elects F (votes of B and FM), and
/// killing FM elects R (votes of B and F).
#[test]
fn elections_across_ferrodis_and_redis_server() {
    let _serial = serial();
    let (a, _) = cluster_node(false, NODE_TIMEOUT, &[]);
    let (b, bbus) = cluster_node(false, NODE_TIMEOUT, &[]);
    let (fm, fmbus) = cluster_node(true, NODE_TIMEOUT, &[]);
    let (f, fbus) = cluster_node(true, NODE_TIMEOUT, &[]);
    let (r, rbus) = cluster_node(false, NODE_TIMEOUT, &[]);
    let mut ac = a.conn();
    for (s, bus) in [(&b, bbus), (&fm, fmbus), (&f, fbus), (&r, rbus)] {
        meet(&mut ac, s, bus);
    }
    let (mut bc, mut fmc, mut fc, mut rc) = (b.conn(), fm.conn(), f.conn(), r.conn());
    let ids: Vec<String> = [&mut ac, &mut bc, &mut fmc, &mut fc, &mut rc]
        .into_iter()
        .map(node_id)
        .collect();
    let (aid, fmid, fid, rid) = (&ids[0], &ids[2], &ids[3], &ids[4]);
    ac.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "5460"]);
    bc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "5461", "10922"]);
    fmc.cmd(&["CLUSTER", "ADDSLOTSRANGE", "10923", "16383"]);
    wait_for(30, "every node to know every other", || {
        [&mut fc, &mut rc].into_iter().all(|c| {
            node_rows(c).len() == 5
                && row_of(c, aid).is_some_and(|r| !r.slots.is_empty())
                && row_of(c, fmid).is_some_and(|r| !r.slots.is_empty())
        })
    });
    assert_eq!(fc.cmd(&["CLUSTER", "REPLICATE", aid]), b"+OK\r\n");
    assert_eq!(rc.cmd(&["CLUSTER", "REPLICATE", fmid]), b"+OK\r\n");
    wait_for(40, "the cluster OK everywhere", || {
        [&mut ac, &mut bc, &mut fmc, &mut fc, &mut rc]
            .into_iter()
            .all(cluster_ok)
    });
    let ka = key_served_by(&mut ac, aid, "a");
    let kf = key_served_by(&mut fmc, fmid, "f");
    assert_eq!(ac.cmd(&["SET", &ka, "1"]), b"+OK\r\n");
    assert_eq!(fmc.cmd(&["SET", &kf, "2"]), b"+OK\r\n");
    wait_in_sync(&mut ac, &mut fc);
    wait_in_sync(&mut fmc, &mut rc);

    // Manual failovers across implementations (MFSTART, the master's PAUSED offset, votes
    // with FORCEACK): the redis-server replica takes over from the ferrodis master, then the
    // ferrodis node, now its replica, takes the slots back the same way.
    wait_for(20, "the redis-server replica's link to its master", || {
        row_of(&mut rc, fmid).is_some_and(|r| r.connected && !r.flags.contains("fail"))
    });
    assert_eq!(rc.cmd(&["CLUSTER", "FAILOVER"]), b"+OK\r\n");
    wait_for(20, "the redis-server replica's manual failover", || {
        role_of(&mut rc) == "master"
    });
    wait_replica_of(
        &mut fmc,
        fmid,
        rid,
        "the ferrodis master to follow its replica",
    );
    wait_in_sync(&mut rc, &mut fmc);
    // MFSTART counts only from a node the master knows as its replica.
    wait_for(
        20,
        "redis-server to know the ferrodis node as its replica",
        || row_of(&mut rc, fmid).is_some_and(|r| r.master == *rid),
    );
    // ... and the ferrodis replica to have a live bus link to its new master, which it does
    // not think failing (else CLUSTER FAILOVER wants FORCE, on either implementation).
    wait_for(20, "the ferrodis replica's link to its new master", || {
        row_of(&mut fmc, rid).is_some_and(|r| r.connected && !r.flags.contains("fail"))
    });
    assert_eq!(fmc.cmd(&["CLUSTER", "FAILOVER"]), b"+OK\r\n");
    wait_for(20, "the ferrodis replica's manual failover", || {
        role_of(&mut fmc) == "master"
    });
    wait_replica_of(&mut rc, rid, fmid, "the redis-server node to follow back");
    wait_in_sync(&mut fmc, &mut rc);
    wait_for(
        30,
        "the cluster OK everywhere after the manual failovers",
        || {
            [&mut ac, &mut bc, &mut fmc, &mut fc, &mut rc]
                .into_iter()
                .all(cluster_ok)
        },
    );

    drop(ac);
    let t0 = Instant::now();
    a.kill();
    wait_for(30, "the ferrodis replica to be elected", || {
        role_of(&mut fc) == "master"
    });
    eprintln!(
        "ferrodis replica of redis-server promoted in {} ms",
        t0.elapsed().as_millis()
    );
    assert!(t0.elapsed() < PROMOTION_BOUND);
    let mut views = vec![b.conn(), fm.conn(), f.conn(), r.conn()];
    wait_all_see_master(&mut views, fid);
    assert_eq!(fc.cmd(&["GET", &ka]), b"$1\r\n1\r\n");

    drop(fmc);
    let t0 = Instant::now();
    fm.kill();
    wait_for(30, "the redis-server replica to be elected", || {
        role_of(&mut rc) == "master"
    });
    eprintln!(
        "redis-server replica of ferrodis promoted in {} ms",
        t0.elapsed().as_millis()
    );
    assert!(t0.elapsed() < PROMOTION_BOUND);
    let mut views = vec![b.conn(), f.conn(), r.conn()];
    wait_all_see_master(&mut views, rid);
    assert_eq!(rc.cmd(&["GET", &kf]), b"$1\r\n2\r\n");
}

/// Replica migration: seven ferrodis nodes, one master with two replicas; when the only
/// replica of another master dies, one of the two (the smallest name) moves to the orphaned
/// master after the migration delay, and cluster-migration-barrier keeps the other.
#[test]
fn an_orphaned_master_gets_a_replica_from_the_master_with_two() {
    let _serial = serial();
    let nodes = ferro_nodes(6);
    create_cluster(&nodes, 1);
    let sh = shards(&nodes);
    let (m0, _) = sh[0];
    let (m1, r1) = sh[1];
    let (extra, ebus) = cluster_node(true, NODE_TIMEOUT, &[]);
    let mut ec = extra.conn();
    meet(&mut ec, &nodes[m0].0, nodes[m0].1);
    let mut m0c = nodes[m0].0.conn();
    let m0id = node_id(&mut m0c);
    wait_for(30, "the new node to learn every node", || {
        node_rows(&mut ec).len() == 7
    });
    assert_eq!(ec.cmd(&["CLUSTER", "REPLICATE", &m0id]), b"+OK\r\n");
    let _ = ebus;
    let mut m1c = nodes[m1].0.conn();
    let m1id = node_id(&mut m1c);
    wait_for(30, "master 0 to have two replicas everywhere", || {
        node_rows(&mut m1c)
            .iter()
            .filter(|r| r.master == m0id)
            .count()
            == 2
    });
    let r1id = node_id(&mut nodes[r1].0.conn());
    nodes[r1].0.kill();
    wait_for(40, "a replica to migrate to the orphaned master", || {
        let rows = node_rows(&mut m1c);
        rows.iter()
            .any(|r| r.master == m1id && r.id != r1id && !r.failed())
            && rows.iter().filter(|r| r.master == m0id).count() == 1
    });
    let rows = node_rows(&mut m1c);
    let moved = rows
        .iter()
        .find(|r| r.master == m1id && r.id != r1id)
        .unwrap();
    let port = moved.port;
    let mover = if port == extra.port() {
        &extra
    } else {
        &nodes.iter().find(|(s, _)| s.port() == port).unwrap().0
    };
    wait_in_sync(&mut m1c, &mut mover.conn());
}

/// A master whose last slot another node claims with a greater config epoch becomes that
/// node's replica (clusterUpdateSlotsConfigWith), as a redis-server master does in the same
/// place: both end as replicas of the claimer, their old keys replaced by its dataset.
#[test]
fn a_master_losing_its_last_slot_becomes_the_claimers_replica_as_redis() {
    let _serial = serial();
    for ferro in [true, false] {
        let (x, _) = cluster_node(ferro, NODE_TIMEOUT, &[]);
        let (r, rbus) = cluster_node(false, NODE_TIMEOUT, &[]);
        let mut xc = x.conn();
        let mut rc = r.conn();
        let (xid, rid) = (node_id(&mut xc), node_id(&mut rc));
        xc.cmd(&["CONFIG", "SET", "cluster-require-full-coverage", "no"]);
        xc.cmd(&["CLUSTER", "ADDSLOTS", "12182"]);
        wait_for(20, "the node OK", || cluster_ok(&mut xc));
        assert_eq!(xc.cmd(&["SET", "foo", "bar"]), b"+OK\r\n");
        meet(&mut xc, &r, rbus);
        wait_for(20, "redis-server to learn the slot", || {
            row_of(&mut rc, &xid).is_some_and(|r| r.slots == ["12182"])
        });
        assert_eq!(
            rc.cmd(&["CLUSTER", "SETSLOT", "12182", "NODE", &rid]),
            b"+OK\r\n"
        );
        rc.cmd(&["CLUSTER", "BUMPEPOCH"]);
        wait_replica_of(
            &mut xc,
            &xid,
            &rid,
            "the node to follow the slot's new owner",
        );
        wait_in_sync(&mut rc, &mut xc);
        assert_eq!(xc.cmd(&["DBSIZE"]), b":0\r\n", "ferrodis: {ferro}");
        assert_eq!(
            xc.cmd(&["GET", "foo"]),
            format!("-MOVED 12182 127.0.0.1:{}\r\n", r.port()).as_bytes()
        );
    }
}

/// A master with two replicas, one of them with cluster-replica-no-failover: when the master
/// is killed the other is elected, and the no-failover sibling follows the new master with a
/// partial resync (the new master kept the old history as its replid2).
#[test]
fn the_sibling_follows_the_elected_replica_with_a_partial_resync() {
    let _serial = serial();
    let nodes = ferro_nodes(6);
    create_cluster(&nodes, 1);
    let sh = shards(&nodes);
    let (m0, r0) = sh[0];
    let (extra, _) = cluster_node(true, NODE_TIMEOUT, &[]);
    let mut ec = extra.conn();
    meet(&mut ec, &nodes[m0].0, nodes[m0].1);
    let mut mc = nodes[m0].0.conn();
    let mut rc = nodes[r0].0.conn();
    let (mid, rid, eid) = (node_id(&mut mc), node_id(&mut rc), node_id(&mut ec));
    wait_for(30, "the new node to learn every node", || {
        node_rows(&mut ec).len() == 7
    });
    assert_eq!(
        ec.cmd(&["CONFIG", "SET", "cluster-replica-no-failover", "yes"]),
        b"+OK\r\n"
    );
    assert_eq!(ec.cmd(&["CLUSTER", "REPLICATE", &mid]), b"+OK\r\n");
    wait_for(
        30,
        "the new replica's nofailover flag known to its sibling",
        || row_of(&mut rc, &eid).is_some_and(|r| r.master == mid && r.flags.contains("nofailover")),
    );
    let k = key_served_by(&mut mc, &mid, "s");
    for i in 0..3 {
        assert_eq!(mc.cmd(&["SET", &format!("{{{k}}}:{i}"), "v"]), b"+OK\r\n");
        wait_in_sync(&mut mc, &mut rc);
        wait_in_sync(&mut mc, &mut ec);
    }
    drop(mc);
    nodes[m0].0.kill();
    wait_for(30, "the replica without nofailover to be elected", || {
        role_of(&mut rc) == "master"
    });
    wait_replica_of(&mut ec, &eid, &rid, "the sibling to follow the new master");
    wait_in_sync(&mut rc, &mut ec);
    assert_eq!(ec.cmd(&["READONLY"]), b"+OK\r\n");
    assert_eq!(ec.cmd(&["EXISTS", &format!("{{{k}}}:2")]), b":1\r\n");
    let stats = text_of(&mut rc, &["INFO", "stats"]);
    assert!(stats.contains("sync_partial_ok:1\r\n"), "{stats}");
    assert!(stats.contains("sync_full:0\r\n"), "{stats}");
}
