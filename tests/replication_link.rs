//! Replication, the replica's side of bad input (issue 16): a scripted fake master answers the
//! handshake and then sends garbage, a lying length, a corrupt snapshot or a broken stream.
//! The replica drops the link with Redis's log line and its dataset is never half a snapshot:
//! either what it had (swapdb, or a failure before loading) or empty.
//!
//! Every wait is bounded; every server is stopped when its `Server` drops, and the fake master's
//! thread ends when its listener is dropped.

mod common;

use common::repl::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A valid RDB holding `foo` = `bar` in db 0 (checksum 0: not checked).
const RDB_FOO: &[u8] = b"REDIS0010\xfe\x00\x00\x03foo\x03bar\xff\x00\x00\x00\x00\x00\x00\x00\x00";
/// Starts like [`RDB_FOO`], then an object type no RDB has.
const RDB_CORRUPT: &[u8] =
    b"REDIS0010\xfe\x00\x00\x03foo\x03bar\x63\x03baz\xff\x00\x00\x00\x00\x00\x00\x00\x00";

/// Reads RESP commands from `buf` (complete ones only), returning their first words.
fn take_commands(buf: &mut Vec<u8>) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let Ok(Some(n)) = frame_len(buf) else {
            return out;
        };
        let frame: Vec<u8> = buf.drain(..n).collect();
        let text = String::from_utf8_lossy(&frame).into_owned();
        let word = text.split("\r\n").nth(2).unwrap_or("").to_ascii_uppercase();
        out.push(word);
    }
}

/// A fake master on a free port: answers PING/REPLCONF/AUTH, and PSYNC with `+FULLRESYNC`
/// followed by `payload`; then keeps the connection open (reading and ignoring) until the
/// replica closes it or `hold` passes. Serves one connection.
fn fake_master(payload: Vec<u8>, hold: Duration) -> (u16, std::thread::JoinHandle<()>) {
    fake_master_with_stream(payload, Vec::new(), hold)
}

/// [`fake_master`] that sends `stream` when the replica's first REPLCONF ACK says the
/// snapshot is loaded, as a diskless master does.
fn fake_master_with_stream(
    payload: Vec<u8>,
    stream: Vec<u8>,
    hold: Duration,
) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut stream = stream;
        let Ok((mut s, _)) = l.accept() else { return };
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let end = Instant::now() + hold;
        let mut buf = Vec::new();
        let mut sent = false;
        while Instant::now() < end {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => return,
            }
            for cmd in take_commands(&mut buf) {
                let reply: Vec<u8> = match cmd.as_str() {
                    "PING" => b"+PONG\r\n".to_vec(),
                    "PSYNC" | "SYNC" if !sent => {
                        sent = true;
                        let mut r =
                            b"+FULLRESYNC 1111111111111111111111111111111111111111 0\r\n".to_vec();
                        r.extend_from_slice(&payload);
                        r
                    }
                    "PSYNC" | "SYNC" | "REPLCONF" => {
                        if cmd == "REPLCONF" && sent {
                            // ACKs are never answered; the first one starts the stream.
                            std::mem::take(&mut stream)
                        } else {
                            b"+OK\r\n".to_vec()
                        }
                    }
                    _ => b"+OK\r\n".to_vec(),
                };
                if s.write_all(&reply).is_err() {
                    return;
                }
            }
        }
    });
    (port, h)
}

/// `$<len>` framing of a snapshot.
fn with_len(rdb: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", rdb.len()).into_bytes();
    v.extend_from_slice(rdb);
    v
}

/// `$EOF:` framing of a snapshot.
fn with_eof(rdb: &[u8]) -> Vec<u8> {
    let mark = "abcdefghij".repeat(4);
    let mut v = format!("$EOF:{mark}\r\n").into_bytes();
    v.extend_from_slice(rdb);
    v.extend_from_slice(mark.as_bytes());
    v
}

/// A ferrodis holding `mine` = 1, pointed at a fake master sending `payload`.
fn replica_fed(payload: Vec<u8>, extra: &[&str]) -> (Server, RawConn, std::thread::JoinHandle<()>) {
    let (port, h) = fake_master(payload, Duration::from_secs(8));
    let r = ferrodis_with(extra);
    let mut rc = r.conn();
    rc.cmd(&["set", "mine", "1"]);
    rc.cmd(&["replicaof", "127.0.0.1", &port.to_string()]);
    (r, rc, h)
}

fn wait_log(r: &Server, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !r.log().contains(line) {
        assert!(
            Instant::now() < deadline,
            "no log line {line:?} in:\n{}",
            r.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn keys(rc: &mut RawConn) -> Vec<u8> {
    sort_reply(&rc.cmd(&["keys", "*"]), false)
}

#[test]
fn a_good_snapshot_from_the_fake_master_loads() {
    // The harness itself: the same master, honest, gives the replica its snapshot.
    for payload in [with_len(RDB_FOO), with_eof(RDB_FOO)] {
        let (r, mut rc, h) = replica_fed(payload, &[]);
        wait_log(&r, "MASTER <-> REPLICA sync: Finished with success");
        assert_eq!(keys(&mut rc), b"*1\r\n$3\r\nfoo\r\n");
        drop(r);
        h.join().unwrap();
    }
}

#[test]
fn garbage_instead_of_a_snapshot_drops_the_link_and_keeps_the_data() {
    let (r, mut rc, h) = replica_fed(b"hello there\r\n".to_vec(), &[]);
    wait_log(
        &r,
        "Bad protocol from MASTER, the first byte is not '$' (we received 'hello there'), are you sure the host and port are right?",
    );
    assert_eq!(keys(&mut rc), b"*1\r\n$4\r\nmine\r\n");
    assert_eq!(
        info_field(&mut rc, "replication", "master_link_status").as_deref(),
        Some("down")
    );
    drop(r);
    h.join().unwrap();
}

#[test]
fn a_corrupt_snapshot_on_disk_leaves_an_empty_dataset_not_half_of_it() {
    let (r, mut rc, h) = replica_fed(with_len(RDB_CORRUPT), &[]);
    wait_log(
        &r,
        "Failed trying to load the MASTER synchronization DB from disk, check server logs.",
    );
    assert_eq!(keys(&mut rc), b"*0\r\n");
    drop(r);
    h.join().unwrap();
}

#[test]
fn a_length_that_lies_is_a_corrupt_snapshot() {
    // Five bytes of a snapshot announced, the rest read as the stream: the five do not load.
    let mut p = format!("${}\r\n", 5).into_bytes();
    p.extend_from_slice(RDB_FOO);
    let (r, mut rc, h) = replica_fed(p, &[]);
    wait_log(
        &r,
        "Failed trying to load the MASTER synchronization DB from disk, check server logs.",
    );
    assert_eq!(keys(&mut rc), b"*0\r\n");
    drop(r);
    h.join().unwrap();
}

#[test]
fn a_corrupt_snapshot_with_swapdb_keeps_the_old_dataset() {
    let (r, mut rc, h) = replica_fed(with_eof(RDB_CORRUPT), &["--repl-diskless-load", "swapdb"]);
    wait_log(
        &r,
        "Failed trying to load the MASTER synchronization DB from socket, check server logs.",
    );
    wait_log(
        &r,
        "MASTER <-> REPLICA sync: Discarding temporary DB in background",
    );
    assert_eq!(keys(&mut rc), b"*1\r\n$4\r\nmine\r\n");
    drop(r);
    h.join().unwrap();
}

#[test]
fn a_corrupt_snapshot_loaded_from_the_socket_leaves_an_empty_dataset() {
    // on-empty-db loads from the socket only into an empty replica.
    let (port, h) = fake_master(with_eof(RDB_CORRUPT), Duration::from_secs(8));
    let r = ferrodis_with(&["--repl-diskless-load", "on-empty-db"]);
    let mut rc = r.conn();
    rc.cmd(&["replicaof", "127.0.0.1", &port.to_string()]);
    wait_log(
        &r,
        "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser",
    );
    wait_log(
        &r,
        "Failed trying to load the MASTER synchronization DB from socket, check server logs.",
    );
    assert_eq!(keys(&mut rc), b"*0\r\n");
    drop(r);
    h.join().unwrap();
}

#[test]
fn a_stream_with_a_protocol_error_drops_the_link_after_what_came_before() {
    let mut stream = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n".to_vec();
    stream.extend_from_slice(b"*1\r\n$x\r\n");
    let (port, h) = fake_master_with_stream(with_eof(RDB_FOO), stream, Duration::from_secs(8));
    let r = ferrodis();
    let mut rc = r.conn();
    rc.cmd(&["replicaof", "127.0.0.1", &port.to_string()]);
    wait_log(&r, "MASTER <-> REPLICA sync: Finished with success");
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut rc, "replication", "master_link_status").as_deref() != Some("down")
        || !r.log().contains("Protocol error")
    {
        assert!(Instant::now() < deadline, "link still up:\n{}", r.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(keys(&mut rc), b"*2\r\n$1\r\na\r\n$3\r\nfoo\r\n");
    drop(r);
    h.join().unwrap();
}

#[test]
fn swapdb_and_on_empty_db_load_a_real_master_s_snapshot_without_a_file() {
    let m = oracle_with(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = m.conn();
    workload(&mut mc, "x");
    for (mode, own_key) in [("swapdb", true), ("on-empty-db", false)] {
        let r = ferrodis_with(&["--repl-diskless-load", mode]);
        let mut rc = r.conn();
        if own_key {
            rc.cmd(&["set", "mine", "1"]);
        }
        rc.cmd(&["replicaof", "127.0.0.1", &m.port().to_string()]);
        wait_in_sync(&mut mc, &mut rc);
        assert_eq!(digest(&mut mc), digest(&mut rc), "{mode}");
        assert!(r.log().contains("with EOF to parser"), "{mode}");
        assert!(!r.dir().join("dump.rdb").exists(), "{mode}");
    }
}

#[test]
fn replconf_with_unknown_or_bad_options_answers_as_redis() {
    let mut d = Diff::new();
    for cmd in [
        &["replconf", "foo", "bar"][..],
        &["replconf", "listening-port", "x"],
        &["replconf", "listening-port"],
        &["replconf", "capa", "eof", "capa", "psync2", "bogus", "1"],
        &["replconf", "ip-address", &"1".repeat(255)],
        &["replconf", "ip-address", &"1".repeat(256)],
        &["replconf"],
    ] {
        d.cmd(cmd);
    }
}
