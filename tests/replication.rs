//! Replication, the master's side (issue 16, first increment): a real redis-server 7.0.15
//! replicates from ferrodis (full sync from a snapshot, the live stream, partial resync from
//! the backlog after a broken link), and the replication fields ferrodis reports.
//!
//! Every wait is bounded; every server is stopped when its `Server` drops.

mod common;

use common::repl::*;
use common::*;
use std::time::{Duration, Instant};

fn replica_of(master: &Server) -> Server {
    let port = master.port().to_string();
    oracle_with(&["--replicaof", "127.0.0.1", &port])
}

#[test]
fn redis_replicates_from_ferrodis_full_sync_then_stream() {
    let f = ferrodis();
    let mut fc = f.conn();
    workload(&mut fc, "before");
    // Enough data that the snapshot goes out in many chunks.
    for i in 0..200 {
        let v = format!("{i}").repeat(200);
        fc.cmd(&["set", &format!("big{i}"), &v]);
    }
    let r = replica_of(&f);
    let mut rc = r.conn();
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(digest(&mut fc), digest(&mut rc));
    // The live stream.
    workload(&mut fc, "after");
    fc.cmd(&["expire", "big1", "1000"]);
    fc.cmd(&["flushdb"]);
    fc.cmd(&["set", "last", "1"]);
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(digest(&mut fc), digest(&mut rc));
    assert_eq!(
        info_field(&mut fc, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut fc, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let slave0 = info_field(&mut fc, "replication", "slave0").unwrap();
    assert!(
        slave0.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            r.port()
        )),
        "{slave0}"
    );
}

#[test]
fn a_broken_link_continues_from_the_backlog() {
    let f = ferrodis();
    let mut fc = f.conn();
    workload(&mut fc, "one");
    let r = replica_of(&f);
    let mut rc = r.conn();
    wait_in_sync(&mut fc, &mut rc);
    // The replica drops its link; writes made meanwhile come from the backlog.
    rc.cmd(&["client", "kill", "type", "master"]);
    workload(&mut fc, "two");
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(digest(&mut fc), digest(&mut rc));
    assert_eq!(
        info_field(&mut fc, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut fc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    assert!(r
        .log()
        .contains("Successful partial resynchronization with master."));
    // A replica whose history is unknown gets a full sync again.
    fc.cmd(&["debug", "change-repl-id"]);
    rc.cmd(&["client", "kill", "type", "master"]);
    workload(&mut fc, "three");
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(digest(&mut fc), digest(&mut rc));
    assert_eq!(
        info_field(&mut fc, "stats", "sync_full").as_deref(),
        Some("2")
    );
}

#[test]
fn a_replica_waits_for_a_running_child_before_its_snapshot() {
    let f = ferrodis();
    let mut fc = f.conn();
    workload(&mut fc, "x");
    for i in 0..100 {
        fc.cmd(&["set", &format!("k{i}"), "v"]);
    }
    // A slow AOF rewrite holds the fork; the replica's snapshot follows it.
    fc.cmd(&["config", "set", "rdb-key-save-delay", "10000"]);
    fc.cmd(&["bgrewriteaof"]);
    let r = replica_of(&f);
    let mut rc = r.conn();
    std::thread::sleep(Duration::from_millis(300));
    let slave0 = info_field(&mut fc, "replication", "slave0").unwrap_or_default();
    assert!(slave0.contains("state=wait_bgsave"), "{slave0}");
    fc.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    fc.cmd(&["set", "during", "1"]);
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(digest(&mut fc), digest(&mut rc));
}

#[test]
fn role_and_info_replication_look_like_redis() {
    let f = ferrodis();
    let o = oracle();
    let fr = replica_of(&f);
    let or = replica_of(&o);
    let (mut fc, mut oc) = (f.conn(), o.conn());
    let (mut frc, mut orc) = (fr.conn(), or.conn());
    fc.cmd(&["set", "a", "1"]);
    oc.cmd(&["set", "a", "1"]);
    wait_in_sync(&mut fc, &mut frc);
    wait_in_sync(&mut oc, &mut orc);
    // The same field names, in the same order.
    let names = |c: &mut RawConn| -> Vec<String> {
        let t = c.value(&["INFO", "replication"]).text().unwrap();
        t.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    assert_eq!(names(&mut fc), names(&mut oc));
    // ROLE: master, offset, one [ip, port, offset] entry. A replica appears there once its
    // master counts it online: redis-server (diskless) waits for its first REPLCONF ACK,
    // which comes up to a second after the sync.
    for c in [&mut fc, &mut oc] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.value(&["ROLE"]).items().unwrap()[2]
            .items()
            .unwrap()
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "the replica never showed in ROLE"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let role = |c: &mut RawConn| c.value(&["ROLE"]);
    let (a, b) = (role(&mut fc), role(&mut oc));
    let (a, b) = (a.items().unwrap(), b.items().unwrap());
    assert_eq!(a.len(), b.len());
    assert_eq!(a[0].text(), b[0].text());
    let (ra, rb) = (a[2].items().unwrap(), b[2].items().unwrap());
    assert_eq!(ra.len(), 1);
    assert_eq!(rb.len(), 1);
    assert_eq!(
        ra[0].items().unwrap()[0].text().as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        ra[0].items().unwrap()[1].text(),
        Some(fr.port().to_string())
    );
    // REPLCONF from an ordinary client.
    for c in [&mut fc, &mut oc] {
        assert_eq!(c.cmd(&["replconf", "listening-port", "1234"]), b"+OK\r\n");
    }
    assert_eq!(
        escape(&fc.cmd(&["replconf", "nosuch", "1"])),
        escape(&oc.cmd(&["replconf", "nosuch", "1"]))
    );
    assert_eq!(
        escape(&fc.cmd(&["replconf", "listening-port"])),
        escape(&oc.cmd(&["replconf", "listening-port"]))
    );
}

// ---------------------------------------------------------------------------------------------
// ferrodis as a replica

/// A redis-server master that forks its snapshot at once (no diskless delay).
fn oracle_master() -> Server {
    oracle_with(&["--repl-diskless-sync-delay", "0"])
}

fn ferrodis_replica_of(master: &Server) -> Server {
    let port = master.port().to_string();
    ferrodis_with(&["--replicaof", "127.0.0.1", &port])
}

#[test]
fn ferrodis_replicates_from_redis_diskless_and_from_disk() {
    for diskless in ["yes", "no"] {
        let o = oracle_with(&[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-diskless-sync",
            diskless,
        ]);
        let mut oc = o.conn();
        workload(&mut oc, "before");
        for i in 0..300 {
            oc.cmd(&["set", &format!("big{i}"), &"v".repeat(300)]);
        }
        let f = ferrodis_replica_of(&o);
        let mut fc = f.conn();
        wait_in_sync(&mut oc, &mut fc);
        assert_eq!(digest(&mut oc), digest(&mut fc), "diskless {diskless}");
        workload(&mut oc, "after");
        oc.cmd(&["pexpire", "big1", "1"]);
        wait_in_sync(&mut oc, &mut fc);
        // Past its TTL on every clock (a millisecond TTL; the master's active cycle may not
        // have reached it yet).
        std::thread::sleep(Duration::from_millis(20));
        // The expired key's DEL comes from the master (lazily on its next access, or its
        // active cycle); until then the replica hides it.
        assert_eq!(fc.cmd(&["exists", "big1"]), b":0\r\n");
        oc.cmd(&["get", "big1"]);
        wait_in_sync(&mut oc, &mut fc);
        assert_eq!(digest(&mut oc), digest(&mut fc), "diskless {diskless}");
        let role = fc.value(&["ROLE"]);
        let items = role.items().unwrap();
        assert_eq!(items[0].text().as_deref(), Some("slave"));
        assert_eq!(items[3].text().as_deref(), Some("connected"));
    }
}

#[test]
fn a_ferrodis_replica_is_read_only_as_redis_replicas_are() {
    let o = oracle_master();
    let f = ferrodis_replica_of(&o);
    let r = replica_of(&o);
    let (mut oc, mut fc, mut rc) = (o.conn(), f.conn(), r.conn());
    oc.cmd(&["set", "k", "v"]);
    wait_in_sync(&mut oc, &mut fc);
    wait_in_sync(&mut oc, &mut rc);
    for cmd in [
        &["set", "k", "x"][..],
        &["del", "k"],
        &["get", "k"],
        &["incr", "n"],
    ] {
        assert_eq!(escape(&fc.cmd(cmd)), escape(&rc.cmd(cmd)), "{cmd:?}");
    }
    // The same INFO replication fields as a redis-server replica.
    let names = |c: &mut RawConn| -> Vec<String> {
        let t = c.value(&["INFO", "replication"]).text().unwrap();
        t.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    assert_eq!(names(&mut fc), names(&mut rc));
}

#[test]
fn a_ferrodis_replica_continues_after_a_broken_link_and_serves_its_own_replica() {
    let o = oracle_master();
    let mut oc = o.conn();
    workload(&mut oc, "a");
    let f = ferrodis_replica_of(&o);
    let mut fc = f.conn();
    wait_in_sync(&mut oc, &mut fc);
    // A chained replica: redis-server replicating from the ferrodis replica.
    let sub = replica_of(&f);
    let mut sc = sub.conn();
    wait_in_sync(&mut fc, &mut sc);
    // The master drops its replica; it comes back with PSYNC and continues.
    oc.cmd(&["client", "kill", "type", "replica"]);
    workload(&mut oc, "b");
    wait_in_sync(&mut oc, &mut fc);
    wait_in_sync(&mut fc, &mut sc);
    assert_eq!(
        info_field(&mut oc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    let d = digest(&mut oc);
    assert_eq!(digest(&mut fc), d);
    assert_eq!(digest(&mut sc), d);
}

#[test]
fn a_promoted_ferrodis_replica_lets_the_old_master_continue_partially() {
    let o = oracle_master();
    let mut oc = o.conn();
    workload(&mut oc, "a");
    let f = ferrodis_replica_of(&o);
    let mut fc = f.conn();
    wait_in_sync(&mut oc, &mut fc);
    let old_id = info_field(&mut oc, "replication", "master_replid").unwrap();
    // Failover: the replica becomes the master, the old master its replica.
    assert_eq!(fc.cmd(&["replicaof", "no", "one"]), b"+OK\r\n");
    assert_eq!(
        info_field(&mut fc, "replication", "master_replid2").as_deref(),
        Some(old_id.as_str())
    );
    fc.cmd(&["set", "after-failover", "1"]);
    let port = f.port().to_string();
    oc.cmd(&["replicaof", "127.0.0.1", &port]);
    wait_in_sync(&mut fc, &mut oc);
    assert_eq!(digest(&mut fc), digest(&mut oc));
    assert_eq!(
        info_field(&mut fc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut fc, "stats", "sync_full").as_deref(),
        Some("0")
    );
}

#[test]
fn wait_counts_the_replicas_that_acknowledged_as_redis_does() {
    let f = ferrodis();
    let o = oracle_master();
    let fr = replica_of(&f);
    let or = replica_of(&o);
    let (mut fc, mut oc) = (f.conn(), o.conn());
    let (mut frc, mut orc) = (fr.conn(), or.conn());
    fc.cmd(&["set", "a", "1"]);
    oc.cmd(&["set", "a", "1"]);
    wait_in_sync(&mut fc, &mut frc);
    wait_in_sync(&mut oc, &mut orc);
    for c in [&mut fc, &mut oc] {
        c.cmd(&["set", "k", "v"]);
        // One replica: it acknowledges the write (GETACK asks it at once).
        assert_eq!(c.cmd(&["wait", "1", "5000"]), b":1\r\n");
        // Two wanted, one exists: the timeout answers how many did.
        assert_eq!(c.cmd(&["wait", "2", "100"]), b":1\r\n");
        assert_eq!(c.cmd(&["wait", "0", "0"]), b":1\r\n");
        assert_eq!(c.cmd(&["wait", "1", "-1"]), b"-ERR timeout is negative\r\n");
    }
    // On a replica WAIT is refused.
    assert_eq!(
        escape(&frc.cmd(&["wait", "1", "0"])),
        escape(&orc.cmd(&["wait", "1", "0"]))
    );
}

#[test]
fn min_replicas_and_stale_data_refuse_as_redis_does() {
    // A master with no replica and min-replicas-to-write 1 refuses writes.
    let f = ferrodis_with(&["--min-replicas-to-write", "1"]);
    let o = oracle_with(&["--min-replicas-to-write", "1"]);
    let (mut fc, mut oc) = (f.conn(), o.conn());
    for cmd in [
        &["set", "k", "v"][..],
        &["get", "k"],
        &["multi"],
        &["set", "a", "b"],
        &["exec"],
    ] {
        assert_eq!(escape(&fc.cmd(cmd)), escape(&oc.cmd(cmd)), "{cmd:?}");
    }
    // With a replica it is accepted again.
    let r = replica_of(&f);
    let mut rc = r.conn();
    wait_in_sync(&mut fc, &mut rc);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fc.cmd(&["set", "k", "v"]) != b"+OK\r\n" {
        assert!(Instant::now() < deadline, "writes never accepted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        info_field(&mut fc, "replication", "min_slaves_good_slaves").as_deref(),
        Some("1")
    );
    // A replica of nothing reachable, with replica-serve-stale-data no.
    let port = free_port().to_string();
    let fr = ferrodis_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-serve-stale-data",
        "no",
    ]);
    let or = oracle_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-serve-stale-data",
        "no",
    ]);
    let (mut frc, mut orc) = (fr.conn(), or.conn());
    for cmd in [
        &["get", "k"][..],
        &["ping"],
        &["info", "nosuchsection"],
        &["dbsize"],
    ] {
        assert_eq!(escape(&frc.cmd(cmd)), escape(&orc.cmd(cmd)), "{cmd:?}");
    }
}

#[test]
fn restarts_continue_partially_from_the_position_the_rdb_recorded() {
    // A ferrodis master and a ferrodis replica, both restarted with SHUTDOWN SAVE: the
    // replica comes back with its master's ID and offset from dump.rdb and continues; the
    // master comes back with its old ID as replid2 and lets the replica continue.
    let m = ferrodis();
    let mut mc = m.conn();
    workload(&mut mc, "a");
    let r = ferrodis_replica_of(&m);
    let mut rc = r.conn();
    wait_in_sync(&mut mc, &mut rc);
    r.restart(&["SAVE"]);
    let mut rc = r.conn();
    workload(&mut mc, "b");
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(
        info_field(&mut mc, "stats", "sync_full").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut mc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    let id = info_field(&mut mc, "replication", "master_replid").unwrap();
    m.restart(&["SAVE"]);
    let mut mc = m.conn();
    assert_eq!(
        info_field(&mut mc, "replication", "master_replid2").as_deref(),
        Some(id.as_str())
    );
    workload(&mut mc, "c");
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(
        info_field(&mut mc, "stats", "sync_full").as_deref(),
        Some("0")
    );
    assert_eq!(
        info_field(&mut mc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
}

/// Lua, a blocking pop served by a push, and evictions on the master, in both directions with
/// redis-server; then WAIT and equal digests.
#[test]
fn scripts_blocking_pops_and_evictions_replicate_both_ways() {
    for ferrodis_master in [true, false] {
        let args = [
            "--repl-diskless-sync-delay",
            "0",
            "--maxmemory-policy",
            "allkeys-lru",
        ];
        let m = if ferrodis_master {
            ferrodis_with(&args)
        } else {
            oracle_with(&args)
        };
        let port = m.port().to_string();
        let rargs = ["--replicaof", "127.0.0.1", &port];
        let r = if ferrodis_master {
            oracle_with(&rargs)
        } else {
            ferrodis_with(&rargs)
        };
        let (mut mc, mut rc) = (m.conn(), r.conn());
        wait_in_sync(&mut mc, &mut rc);
        workload(&mut mc, "x");
        let script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])";
        mc.cmd(&["eval", script, "2", "lua:a", "lua:n", "v"]);
        mc.cmd(&["eval", script, "2", "lua:a", "lua:n", "w"]);
        // A client blocked on the master, served by another client's push.
        let mut blocked = m.conn();
        blocked.send_cmd(&["blpop", "queue", "0"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut mc, "clients", "blocked_clients").as_deref() != Some("1") {
            assert!(Instant::now() < deadline, "the client never blocked");
            std::thread::sleep(Duration::from_millis(10));
        }
        mc.cmd(&["rpush", "queue", "a", "b"]);
        assert_eq!(blocked.read_reply(), b"*2\r\n$5\r\nqueue\r\n$1\r\na\r\n");
        // Evictions: the master drops keys to stay under maxmemory; the replica (which ignores
        // maxmemory) follows the DELs.
        let used: i64 = info_field(&mut mc, "memory", "used_memory")
            .unwrap()
            .parse()
            .unwrap();
        mc.cmd(&[
            "config",
            "set",
            "maxmemory",
            &(used + 2_000_000).to_string(),
        ]);
        for i in 0..3000 {
            mc.cmd(&["set", &format!("big:{i}"), &"x".repeat(1000)]);
        }
        let evicted: i64 = info_field(&mut mc, "stats", "evicted_keys")
            .unwrap()
            .parse()
            .unwrap();
        assert!(evicted > 0, "nothing was evicted");
        assert_eq!(mc.cmd(&["wait", "1", "10000"]), b":1\r\n");
        wait_in_sync(&mut mc, &mut rc);
        assert_eq!(
            digest(&mut mc),
            digest(&mut rc),
            "ferrodis master: {ferrodis_master}"
        );
        mc.cmd(&["config", "set", "maxmemory", "0"]);
    }
}

/// A partial resync continues the master's stream in the db it had selected (the master
/// sends no new SELECT), after a broken link and after a restart from the replica's RDB.
#[test]
fn a_partial_resync_continues_in_the_db_the_stream_had_selected() {
    for ferrodis_master in [true, false] {
        let args = ["--repl-diskless-sync-delay", "0"];
        let m = if ferrodis_master {
            ferrodis_with(&args)
        } else {
            oracle_with(&args)
        };
        let r = ferrodis_replica_of(&m);
        let (mut mc, mut rc) = (m.conn(), r.conn());
        wait_in_sync(&mut mc, &mut rc);
        mc.cmd(&["select", "5"]);
        mc.cmd(&["set", "a", "1"]);
        wait_in_sync(&mut mc, &mut rc);
        // The link breaks; the stream goes on in db 5.
        rc.cmd(&["client", "kill", "type", "master"]);
        mc.cmd(&["set", "b", "2"]);
        wait_in_sync(&mut mc, &mut rc);
        // A restart from the replica's own RDB, the stream still in db 5.
        r.restart(&["save"]);
        let mut rc = r.conn();
        mc.cmd(&["set", "c", "3"]);
        wait_in_sync(&mut mc, &mut rc);
        assert_eq!(
            digest(&mut mc),
            digest(&mut rc),
            "ferrodis master: {ferrodis_master}"
        );
        assert_eq!(rc.cmd(&["select", "5"]), b"+OK\r\n");
        assert_eq!(
            rc.cmd(&["mget", "a", "b", "c"]),
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        assert_eq!(
            info_field(&mut mc, "stats", "sync_full").as_deref(),
            Some("1"),
            "ferrodis master: {ferrodis_master}"
        );
    }
}

/// INFO's replication traffic counters, as 7.0.15 keeps them: what a master writes to its
/// replicas counts in total_net_repl_output_bytes and in total_net_output_bytes, what a
/// replica reads from its master in total_net_repl_input_bytes and total_net_input_bytes
/// (7.2 counts them apart).
/// Checked for a ferrodis master with a redis replica and a ferrodis replica of a redis
/// master, and the same pairs of the oracle alone, with a 200 KB value crossing the link.
#[test]
fn replication_traffic_is_counted_apart_as_redis_does() {
    for (ferrodis_master, ferrodis_replica) in [(true, false), (false, true), (false, false)] {
        let m = match ferrodis_master {
            true => ferrodis_with(&["--repl-diskless-sync-delay", "0"]),
            false => oracle_master(),
        };
        let r = match ferrodis_replica {
            true => ferrodis_replica_of(&m),
            false => replica_of(&m),
        };
        let (mut mc, mut rc) = (m.conn(), r.conn());
        wait_in_sync(&mut mc, &mut rc);
        let before = [
            stat(&mut mc, "stats", "total_net_repl_output_bytes"),
            stat(&mut mc, "stats", "total_net_output_bytes"),
            stat(&mut rc, "stats", "total_net_repl_input_bytes"),
            stat(&mut rc, "stats", "total_net_input_bytes"),
        ];
        mc.cmd(&["SET", "big", &"x".repeat(200_000)]);
        wait_in_sync(&mut mc, &mut rc);
        let after = [
            stat(&mut mc, "stats", "total_net_repl_output_bytes"),
            stat(&mut mc, "stats", "total_net_output_bytes"),
            stat(&mut rc, "stats", "total_net_repl_input_bytes"),
            stat(&mut rc, "stats", "total_net_input_bytes"),
        ];
        let grew: Vec<i64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
        let pair =
            format!("ferrodis master {ferrodis_master}, ferrodis replica {ferrodis_replica}");
        assert!(
            grew[0] >= 200_000,
            "{pair}: master repl output grew {}",
            grew[0]
        );
        assert!(grew[1] >= 200_000, "{pair}: master output grew {}", grew[1]);
        assert!(
            grew[2] >= 200_000,
            "{pair}: replica repl input grew {}",
            grew[2]
        );
        assert!(grew[3] >= 200_000, "{pair}: replica input grew {}", grew[3]);
    }
}

/// Scripts on a read-only replica, and the server's state refusing a script's first write,
/// as 7.0.15 decides them: a script or function that may write (a shebang without
/// no-writes, a function without it) is refused as a write command; a flagless EVAL runs,
/// and its first write is refused from inside (READONLY, NOREPLICAS) with the script's
/// error decoration. Replies compared byte for byte between a ferrodis and a redis-server
/// replica of one redis-server master, and between two masters that want one good replica.
#[test]
fn scripts_on_replicas_and_without_good_replicas_are_refused_as_redis_does() {
    let m = oracle_master();
    let lib = "#!lua name=libm\n\
               redis.register_function('fw', function() return redis.call('set', 'a', 'b') end)\n\
               redis.register_function{function_name='fr', callback=function() return 2 end, flags={'no-writes'}}";
    let mut mc = m.conn();
    assert_eq!(mc.cmd(&["FUNCTION", "LOAD", lib]), b"$4\r\nlibm\r\n");
    mc.cmd(&["SET", "k", "v"]);
    let f = ferrodis_replica_of(&m);
    let r = replica_of(&m);
    let (mut fc, mut rc) = (f.conn(), r.conn());
    wait_in_sync(&mut mc, &mut fc);
    wait_in_sync(&mut mc, &mut rc);
    let mut d = Diff::from_servers(f, r);
    d.run(
        r##"FCALL fw 0
         FCALL_RO fw 0
         FCALL fr 0
         FCALL_RO fr 0
         EVAL "#!lua\nreturn 1" 0
         EVAL_RO "#!lua\nreturn 1" 0
         EVAL "#!lua flags=no-writes\nreturn redis.call('get', 'k')" 0
         EVAL "return 1" 0
         EVAL "return redis.call('set', 'a', 'b')" 0
         EVAL "return redis.pcall('set', 'a', 'b')" 0
         EVAL "redis.call('get', 'k') return redis.call('incr', 'n')" 0
         GET a
         GET n"##,
    );
    let mut d = Diff::with_args(&["--min-replicas-to-write", "1"]);
    d.run(
        r##"EVAL "return redis.call('set', 'a', 'b')" 0
         EVAL "return redis.pcall('set', 'a', 'b')" 0
         EVAL "#!lua\nreturn redis.call('set', 'a', 'b')" 0
         EVAL "#!lua flags=no-writes\nreturn redis.call('get', 'a')" 0
         EVAL "return redis.call('get', 'a')" 0
         GET a"##,
    );
}
