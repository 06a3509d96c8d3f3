//! Replication, how a full sync gets its snapshot across (issue 16): streamed to the replicas'
//! sockets by a forked child (repl-diskless-sync, Redis 7.0's default) or through the dump
//! file, replicas arriving together sharing one fork, and what happens when either side goes
//! away in the middle.
//!
//! Every wait is bounded; every server is stopped when its `Server` drops.

mod common;

use common::repl::*;
use common::*;
use std::time::{Duration, Instant};

/// Enough keys that the snapshot is many pipe and socket chunks.
fn fill(c: &mut RawConn, n: usize) {
    for i in 0..n {
        let v = format!("{i}-").repeat(60);
        c.cmd(&["set", &format!("fill:{i}"), &v]);
    }
}

fn replica_args(master: &Server) -> Vec<String> {
    vec![
        "--replicaof".into(),
        "127.0.0.1".into(),
        master.port().to_string(),
    ]
}

fn redis_replica(master: &Server) -> Server {
    let a = replica_args(master);
    oracle_with(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

fn ferrodis_replica(master: &Server, extra: &[&str]) -> Server {
    let mut a = replica_args(master);
    a.extend(extra.iter().map(|s| s.to_string()));
    ferrodis_with(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn replicas_arriving_together_share_one_diskless_snapshot() {
    // The fork waits for two replicas (the delay alone would be a minute).
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "60",
        "--repl-diskless-sync-max-replicas",
        "2",
    ]);
    let mut mc = m.conn();
    workload(&mut mc, "before");
    fill(&mut mc, 3000);
    let r1 = redis_replica(&m);
    let mut r1c = r1.conn();
    wait_until("the first replica to ask", 20, || {
        info_field(&mut mc, "replication", "slave0")
            .is_some_and(|s| s.contains("state=wait_bgsave"))
    });
    // One replica waits: no fork yet.
    assert_eq!(stat(&mut mc, "stats", "total_forks"), 0);
    let r2 = ferrodis_replica(&m, &[]);
    let mut r2c = r2.conn();
    wait_in_sync(&mut mc, &mut r1c);
    wait_in_sync(&mut mc, &mut r2c);
    let d = digest(&mut mc);
    assert_eq!(digest(&mut r1c), d);
    assert_eq!(digest(&mut r2c), d);
    assert_eq!(stat(&mut mc, "stats", "total_forks"), 1);
    assert_eq!(stat(&mut mc, "stats", "sync_full"), 2);
    assert!(
        !m.dir().join("dump.rdb").exists(),
        "a diskless sync wrote the dump file"
    );
    let log = m.log();
    assert!(
        log.contains("Starting BGSAVE for SYNC with target: replicas sockets"),
        "{log}"
    );
    assert!(
        log.contains("Diskless rdb transfer, done reading from pipe, 2 replicas still up."),
        "{log}"
    );
    // The stream held since the fork, then the live one.
    workload(&mut mc, "after");
    wait_in_sync(&mut mc, &mut r1c);
    wait_in_sync(&mut mc, &mut r2c);
    let d = digest(&mut mc);
    assert_eq!(digest(&mut r1c), d);
    assert_eq!(digest(&mut r2c), d);
}

#[test]
fn a_full_sync_goes_through_the_dump_file_when_diskless_sync_is_off() {
    let m = ferrodis_with(&["--repl-diskless-sync", "no"]);
    let mut mc = m.conn();
    workload(&mut mc, "x");
    fill(&mut mc, 500);
    let r = redis_replica(&m);
    let mut rc = r.conn();
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert!(m.dir().join("dump.rdb").exists());
    assert!(m
        .log()
        .contains("Starting BGSAVE for SYNC with target: disk"));
}

#[test]
fn a_replica_that_cannot_read_a_streamed_snapshot_gets_the_file() {
    // A replica that never announced `capa eof` (a raw SYNC): diskless is on, but its
    // snapshot comes from the dump file with a length header.
    let m = ferrodis_with(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    mc.cmd(&["set", "k", "v"]);
    let mut raw = std::net::TcpStream::connect(m.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    std::io::Write::write_all(&mut raw, b"SYNC\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while !got.windows(9).any(|w| w == b"REDIS0010") {
        assert!(Instant::now() < deadline, "no snapshot: {}", escape(&got));
        let mut buf = [0u8; 4096];
        if let Ok(n) = std::io::Read::read(&mut raw, &mut buf) {
            assert!(n > 0, "closed: {}", escape(&got));
            got.extend_from_slice(&buf[..n]);
        }
    }
    let text = String::from_utf8_lossy(&got);
    // No +FULLRESYNC for the old SYNC (as redis-server), and a length, not an EOF mark.
    let start = text.trim_start_matches('\n');
    assert!(
        start.starts_with('$') && !start.starts_with("$EOF:"),
        "{}",
        escape(&got)
    );
    assert!(m.log().contains("target: disk"));
}

#[test]
fn a_replica_dropped_during_a_diskless_sync_stops_the_child() {
    // A slow child (1 ms per key) and a replica that goes away in the middle.
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "1000",
    ]);
    let mut mc = m.conn();
    fill(&mut mc, 3000);
    let r = redis_replica(&m);
    wait_until("the transfer to start", 20, || {
        stat(&mut mc, "persistence", "rdb_bgsave_in_progress") == 1
    });
    r.kill();
    wait_until("the child to be stopped", 20, || {
        m.log()
            .contains("Diskless rdb transfer, last replica dropped, killing fork child.")
            && stat(&mut mc, "persistence", "rdb_bgsave_in_progress") == 0
    });
    assert_eq!(mc.cmd(&["ping"]), b"+PONG\r\n");
    // A new replica gets a complete snapshot from a new child.
    mc.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    let r2 = redis_replica(&m);
    let mut r2c = r2.conn();
    wait_in_sync(&mut mc, &mut r2c);
    assert_eq!(digest(&mut mc), digest(&mut r2c));
}

#[test]
fn a_master_killed_during_the_transfer_leaves_the_replica_s_data_whole() {
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "1000",
    ]);
    let mut mc = m.conn();
    fill(&mut mc, 3000);
    // The replica's own data before it follows the master.
    let r = ferrodis();
    let mut rc = r.conn();
    rc.cmd(&["set", "mine", "1"]);
    let before = digest(&mut rc);
    let port = m.port().to_string();
    rc.cmd(&["replicaof", "127.0.0.1", &port]);
    wait_until("the transfer to start", 20, || {
        r.log().contains("receiving streamed RDB from master")
    });
    m.kill();
    wait_until("the replica to notice", 30, || {
        info_field(&mut rc, "replication", "master_link_status").as_deref() == Some("down")
            && info_field(&mut rc, "replication", "master_sync_in_progress").as_deref() == Some("0")
    });
    // Nothing of the half snapshot was applied, and no temp file is left behind.
    assert_eq!(digest(&mut rc), before);
    let temps: Vec<_> = std::fs::read_dir(r.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

#[test]
fn a_backlog_overrun_falls_back_to_a_full_sync() {
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "16384",
    ]);
    let mut mc = m.conn();
    workload(&mut mc, "before");
    let r = redis_replica(&m);
    let mut rc = r.conn();
    wait_in_sync(&mut mc, &mut rc);
    // The replica is away while more than the backlog is written.
    signal(&r, "-STOP");
    mc.cmd(&["client", "kill", "type", "replica"]);
    wait_until("the link to drop", 20, || {
        stat(&mut mc, "replication", "connected_slaves") == 0
    });
    fill(&mut mc, 500);
    signal(&r, "-CONT");
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(stat(&mut mc, "stats", "sync_full"), 2);
    assert_eq!(stat(&mut mc, "stats", "sync_partial_ok"), 0);
    assert_eq!(stat(&mut mc, "stats", "sync_partial_err"), 1);
}

#[test]
fn a_replica_slower_than_its_output_buffer_limit_is_dropped_and_resyncs() {
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "0",
        "--client-output-buffer-limit",
        "replica 65536 0 0",
    ]);
    let mut mc = m.conn();
    let r = redis_replica(&m);
    let mut rc = r.conn();
    wait_in_sync(&mut mc, &mut rc);
    signal(&r, "-STOP");
    // Far more than the socket buffers and the 64 KiB limit hold.
    fill(&mut mc, 20000);
    wait_until("the replica to be dropped", 30, || {
        stat(&mut mc, "replication", "connected_slaves") == 0
    });
    assert!(m
        .log()
        .contains("scheduled to be closed ASAP for overcoming of output buffer limits"));
    signal(&r, "-CONT");
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
}

#[test]
fn a_diskless_transfer_longer_than_a_second_is_not_interleaved_with_keepalives() {
    // The child takes about three seconds; the once-a-second newline that replicas waiting
    // for a disk snapshot get must not land inside the streamed one.
    let m = ferrodis_with(&[
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        "1000",
    ]);
    let mut mc = m.conn();
    fill(&mut mc, 3000);
    let r = ferrodis_replica(&m, &[]);
    let mut rc = r.conn();
    wait_in_sync(&mut mc, &mut rc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(stat(&mut mc, "stats", "sync_full"), 1, "{}", r.log());
    assert!(!r.log().contains("Failed trying to load"), "{}", r.log());
}
