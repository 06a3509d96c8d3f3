//! FAILOVER (issue 16): a master hands its role to a replica with no write lost, in every
//! pairing with redis-server 7.0.15 where ferrodis takes part; the waiting state holds writes
//! back, ABORT and TIMEOUT give the role back, FORCE goes ahead anyway; errors as the oracle's.
//!
//! Every wait is bounded; every server is stopped when its `Server` drops (a stopped one is
//! continued first).

mod common;

use common::repl::*;
use common::*;
use std::time::Duration;

fn role(c: &mut RawConn) -> String {
    info_field(c, "replication", "role").unwrap()
}

/// A replica of `m`: ferrodis or redis.
fn replica(m: &Server, ferrodis_side: bool) -> Server {
    let port = m.port().to_string();
    let args = ["--replicaof", "127.0.0.1", &port];
    if ferrodis_side {
        ferrodis_with(&args)
    } else {
        oracle_with(&args)
    }
}

fn master(ferrodis_side: bool) -> Server {
    // Diskless syncs at once, so the tests do not wait for the default 5 s.
    let args = ["--repl-diskless-sync-delay", "0"];
    if ferrodis_side {
        ferrodis_with(&args)
    } else {
        oracle_with(&args)
    }
}

/// FAILOVER TO the replica: roles swap, the data and history carry over (the old master
/// continues partially), and writes flow the other way.
fn failover_between(m_ferrodis: bool, r_ferrodis: bool) {
    let m = master(m_ferrodis);
    let r = replica(&m, r_ferrodis);
    let (mut mc, mut rc) = (m.conn(), r.conn());
    workload(&mut mc, "before");
    wait_in_sync(&mut mc, &mut rc);
    // The master counts the replica online only once its child is reaped (and, diskless,
    // its first ACK came): FAILOVER TO refuses it before.
    wait_until("the replica to be online", 20, || {
        info_field(&mut mc, "replication", "slave0").is_some_and(|s| s.contains("state=online"))
    });
    let full_before = info_field(&mut rc, "stats", "sync_full");
    let port = r.port().to_string();
    assert_eq!(mc.cmd(&["failover", "to", "127.0.0.1", &port]), b"+OK\r\n");
    wait_until("the roles to swap", 30, || {
        role(&mut mc) == "slave"
            && role(&mut rc) == "master"
            && info_field(&mut mc, "replication", "master_link_status").as_deref() == Some("up")
            && info_field(&mut mc, "replication", "master_failover_state").as_deref()
                == Some("no-failover")
    });
    assert_eq!(
        info_field(&mut mc, "replication", "master_port").as_deref(),
        Some(port.as_str())
    );
    // The old master continued from the new one's backlog: no full sync.
    assert_eq!(info_field(&mut rc, "stats", "sync_full"), full_before);
    assert!(
        info_field(&mut rc, "stats", "sync_partial_ok")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap()
            >= 1
    );
    assert_eq!(digest(&mut mc), digest(&mut rc));
    // Writes now go the other way.
    assert!(mc.cmd(&["set", "x", "1"]).starts_with(b"-READONLY"));
    workload(&mut rc, "after");
    wait_in_sync(&mut rc, &mut mc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
}

#[test]
fn failover_from_ferrodis_to_a_redis_replica() {
    failover_between(true, false);
}

#[test]
fn failover_from_redis_to_a_ferrodis_replica() {
    failover_between(false, true);
}

#[test]
fn failover_between_two_ferrodis() {
    failover_between(true, true);
}

#[test]
fn failover_errors_match_redis_without_replicas() {
    let mut d = Diff::new();
    for cmd in [
        &["failover"][..],
        &["failover", "abort"],
        &["failover", "abort", "force"],
        &["failover", "timeout", "0"],
        &["failover", "timeout", "-1"],
        &["failover", "timeout", "x"],
        &["failover", "timeout", "9223372036854775808"],
        &["failover", "timeout", "10", "timeout", "10"],
        &["failover", "to", "h"],
        &["failover", "to", "h", "x"],
        &["failover", "to", "h", "-1"],
        &["failover", "force"],
        &["failover", "force", "force"],
        &["failover", "bogus"],
        &["failover", "to", "127.0.0.1", "1", "force", "timeout", "5"],
    ] {
        d.cmd(cmd);
    }
}

#[test]
fn failover_errors_match_redis_with_a_replica() {
    // The same commands against a ferrodis master and a redis master, each with one replica.
    let fm = master(true);
    let om = master(false);
    let fr = replica(&fm, false);
    let or = replica(&om, false);
    let (mut fmc, mut omc) = (fm.conn(), om.conn());
    let (mut frc, mut orc) = (fr.conn(), or.conn());
    wait_in_sync(&mut fmc, &mut frc);
    wait_in_sync(&mut omc, &mut orc);
    for cmd in [
        &["failover", "force", "timeout", "100"][..],
        &["failover", "to", "127.0.0.1", "1"],
        &["failover", "to", "127.0.0.1", "70000"],
        &["failover", "to", "127.0.0.1", "1", "force"],
        &["failover", "abort"],
    ] {
        assert_eq!(
            escape(&fmc.cmd(cmd)),
            escape(&omc.cmd(cmd)),
            "{}",
            show_command(cmd)
        );
    }
    // On a replica.
    assert_eq!(
        escape(&frc.cmd(&["failover"])),
        escape(&orc.cmd(&["failover"]))
    );
}

#[test]
fn waiting_for_sync_holds_writes_and_abort_and_timeout_give_the_role_back() {
    let m = master(true);
    let r = replica(&m, false);
    let (mut mc, mut rc) = (m.conn(), r.conn());
    wait_in_sync(&mut mc, &mut rc);
    wait_until("the replica to be online", 20, || {
        info_field(&mut mc, "replication", "slave0").is_some_and(|s| s.contains("state=online"))
    });
    let port = r.port().to_string();
    // A stopped replica never acknowledges what comes next.
    signal(&r, "-STOP");
    mc.cmd(&["set", "a", "1"]);
    assert_eq!(mc.cmd(&["failover", "to", "127.0.0.1", &port]), b"+OK\r\n");
    assert_eq!(
        info_field(&mut mc, "replication", "master_failover_state").as_deref(),
        Some("waiting-for-sync")
    );
    assert_eq!(
        escape(&mc.cmd(&["failover"])),
        escape(b"-ERR FAILOVER already in progress.\r\n")
    );
    // A write waits; a read does not.
    let mut writer = m.conn();
    writer.send_cmd(&["set", "b", "2"]);
    assert!(writer.try_read_reply(Duration::from_millis(300)).is_none());
    assert_eq!(mc.cmd(&["get", "a"]), b"$1\r\n1\r\n");
    assert_eq!(mc.cmd(&["failover", "abort"]), b"+OK\r\n");
    assert_eq!(writer.read_reply(), b"+OK\r\n");
    assert!(m.log().contains(&format!(
        "FAILOVER to 127.0.0.1:{port} aborted: Failover manually aborted"
    )));
    // A timeout without FORCE gives up the same way.
    assert_eq!(
        mc.cmd(&["failover", "to", "127.0.0.1", &port, "timeout", "200"]),
        b"+OK\r\n"
    );
    wait_until("the timeout", 20, || {
        info_field(&mut mc, "replication", "master_failover_state").as_deref()
            == Some("no-failover")
    });
    assert!(m
        .log()
        .contains("aborted: Replica never caught up before timeout"));
    assert_eq!(role(&mut mc), "master");
    // With FORCE it goes ahead at the deadline, and completes once the replica answers.
    assert_eq!(
        mc.cmd(&[
            "failover",
            "to",
            "127.0.0.1",
            &port,
            "force",
            "timeout",
            "200"
        ]),
        b"+OK\r\n"
    );
    wait_until("the forced failover to start", 20, || {
        info_field(&mut mc, "replication", "master_failover_state").as_deref()
            == Some("failover-in-progress")
    });
    assert!(m.log().contains(&format!(
        "FAILOVER to 127.0.0.1:{port} time out exceeded, failing over."
    )));
    signal(&r, "-CONT");
    wait_until("the roles to swap", 30, || {
        role(&mut rc) == "master"
            && role(&mut mc) == "slave"
            && info_field(&mut mc, "replication", "master_link_status").as_deref() == Some("up")
    });
    // Writes the replica had not acknowledged may be lost (that is what FORCE allows), but
    // the two agree.
    wait_in_sync(&mut rc, &mut mc);
    assert_eq!(digest(&mut mc), digest(&mut rc));
}

#[test]
fn clients_blocked_on_a_master_that_turns_replica_are_told() {
    let m = master(true);
    let mut mc = m.conn();
    let mut blocked = m.conn();
    blocked.send_cmd(&["blpop", "nothing", "0"]);
    wait_until("the client to block", 10, || {
        info_field(&mut mc, "clients", "blocked_clients").as_deref() == Some("1")
    });
    // Any master will do: nothing listens there.
    let port = free_port().to_string();
    mc.cmd(&["replicaof", "127.0.0.1", &port]);
    assert_eq!(
        escape(&blocked.read_reply()),
        escape(b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n")
    );
    assert!(blocked.is_closed_within(Duration::from_secs(5)));
}
