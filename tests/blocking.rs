//! Blocking list commands with several clients, against the oracle: BLPOP BRPOP BLMOVE
//! BRPOPLPUSH BLMPOP, CLIENT UNBLOCK, timeouts, disconnects and INFO blocked_clients.
//!
//! Each client is a `Diff` pair (one connection to ferrodis, one to redis-server) made with
//! `Diff::another`, so every step happens on both servers and every reply is compared. Before a
//! step that depends on a client being parked, the test waits until both servers report the
//! expected number of blocked clients, so the order in which clients blocked is the same on
//! both sides.

mod common;

use common::*;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One INFO field on one connection.
fn info_field(conn: &mut RawConn, section: &str, field: &str) -> String {
    let text = conn.value(&["INFO", section]).text().expect("INFO text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

/// INFO clients blocked_clients on one connection.
fn blocked(conn: &mut RawConn) -> i64 {
    info_field(conn, "clients", "blocked_clients")
        .trim()
        .parse()
        .expect("blocked_clients is a number")
}

/// Waits until both servers report `n` blocked clients (fails after 5 s).
fn wait_blocked(d: &mut Diff, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (f, r) = (blocked(&mut d.ferrodis), blocked(&mut d.redis));
        if f == n && r == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients: ferrodis {f}, redis {r}, expected {n}"
        );
        sleep(Duration::from_millis(5));
    }
}

/// Asserts that no reply arrives on either side of `d` within `ms`.
fn no_reply(d: &mut Diff, ms: u64) {
    let w = Duration::from_millis(ms);
    assert_eq!(d.ferrodis.try_read_reply(w), None, "ferrodis replied");
    assert_eq!(d.redis.try_read_reply(w), None, "redis replied");
}

/// Clients are served in the order they blocked, one element each, across BLPOP, BRPOP and
/// BLMPOP waiters of the same key; the rest stay blocked.
#[test]
fn fifo_service() {
    let mut main = Diff::new();
    let mut clients: Vec<Diff> = (0..4).map(|_| main.another()).collect();
    main.cmd(&["DEL", "k"]);
    clients[0].send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut main, 1);
    clients[1].send(&["BRPOP", "other", "k", "0"]);
    wait_blocked(&mut main, 2);
    clients[2].send(&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "2"]);
    wait_blocked(&mut main, 3);
    clients[3].send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut main, 4);
    // One push of four: the pusher gets its reply first, then waiters are served in order.
    main.cmd(&["RPUSH", "k", "a", "b", "c", "d"]);
    clients[0].read();
    clients[1].read();
    clients[2].read();
    wait_blocked(&mut main, 1);
    main.cmd(&["EXISTS", "k"]);
    no_reply(&mut clients[3], 50);
    main.cmd(&["LPUSH", "k", "e"]);
    clients[3].read();
    wait_blocked(&mut main, 0);
    main.cmd(&["EXISTS", "k"]);
}

/// A push that serves a waiter completely leaves no key behind, and waiters on several keys
/// are served from the key that received data.
#[test]
fn multiple_keys_and_databases() {
    let mut main = Diff::new();
    let mut a = main.another();
    let mut b = main.another();
    a.send(&["BLPOP", "k1", "k2", "k3", "0"]);
    wait_blocked(&mut main, 1);
    b.cmd(&["SELECT", "1"]);
    b.send(&["BRPOP", "k2", "0"]);
    wait_blocked(&mut main, 2);
    // db 0's k2 does not wake db 1's waiter.
    main.cmd(&["RPUSH", "k2", "x"]);
    a.read();
    no_reply(&mut b, 50);
    main.cmd(&["SELECT", "1"]);
    main.cmd(&["RPUSH", "k2", "y", "z"]);
    b.read();
    main.cmd(&["LRANGE", "k2", "0", "-1"]);
    wait_blocked(&mut main, 0);
}

/// The order of ready keys: a client blocked on two keys, both filled by one transaction,
/// is served from the key that became ready first (Redis 7.0 serves by ready key).
#[test]

fn ready_key_order_in_transaction() {
    let mut main = Diff::new();
    let mut a = main.another();
    a.send(&["BLPOP", "k1", "k2", "0"]);
    wait_blocked(&mut main, 1);
    main.run("MULTI\nRPUSH k2 from-k2\nRPUSH k1 from-k1\nEXEC");
    a.read();
    main.cmd(&["LRANGE", "k1", "0", "-1"]);
    main.cmd(&["LRANGE", "k2", "0", "-1"]);
}

/// Timeouts: BLPOP with 0.05 s answers a null array within the event loop's resolution (not
/// serverCron's 100 ms), every blocking command times out with a null array in RESP2 and `_`
/// in RESP3, and the shortest timeout fires first.
#[test]
fn timeouts() {
    let mut main = Diff::new();
    let mut a = main.another();
    // Timing on ferrodis alone.
    let t0 = Instant::now();
    let r = a.ferrodis.cmd(&["BLPOP", "nokey", "0.05"]);
    let took = t0.elapsed();
    assert_eq!(r, b"*-1\r\n");
    // Never before its deadline; the upper bound only says the timeout fires at all (a
    // loaded machine may delay the reply, so it is no measure of precision).
    assert!(
        took >= Duration::from_millis(45) && took <= Duration::from_secs(2),
        "BLPOP 0.05 took {took:?}"
    );
    for resp in ["2", "3"] {
        a.both(&["HELLO", resp]);
        for cmd in [
            &["BLPOP", "nokey", "0.01"][..],
            &["BRPOP", "nokey", "nokey2", "0.01"],
            &["BLMOVE", "nokey", "dst", "LEFT", "RIGHT", "0.01"],
            &["BRPOPLPUSH", "nokey", "dst", "0.01"],
            &[
                "BLMPOP", "0.01", "2", "nokey", "nokey2", "LEFT", "COUNT", "3",
            ],
            &["BLPOP", "nokey", "0.0001"],
            &["BLPOP", "nokey", "1e-300"],
        ] {
            a.cmd(cmd);
        }
    }
    main.cmd(&["EXISTS", "dst"]);
    // Two waiters with different timeouts: the shorter one answers first, the longer one
    // stays until its own deadline.
    let mut b = main.another();
    // (The longer one is long enough that no stall of the machine reaches it.)
    a.send(&["BLPOP", "k", "10"]);
    b.send(&["BLPOP", "k", "0.05"]);
    wait_blocked(&mut main, 2);
    b.read();
    no_reply(&mut a, 50);
    main.cmd(&["RPUSH", "k", "v"]);
    a.read();
    wait_blocked(&mut main, 0);
}

/// Timeout arguments: what is accepted (hex floats, exponents, tiny and negative-zero values
/// that round to "no timeout") and every error, compared without blocking.
#[test]
fn timeout_argument_errors() {
    let mut d = Diff::new();
    for t in [
        "abc", "", " 1", "1 ", "nan", "-1", "-0.5", "-0.0011", "0x", "1e",
    ] {
        d.cmd(&["BLPOP", "nokey", t]);
        d.cmd(&["BLMOVE", "nokey", "d", "LEFT", "LEFT", t]);
        d.cmd(&["BRPOPLPUSH", "nokey", "d", t]);
        d.cmd(&["BLMPOP", t, "1", "nokey", "LEFT"]);
    }
    // Accepted values that time out quickly.
    for t in ["0x0.1p-4", ".01", "1e-2", "+0.01"] {
        d.cmd(&["BLPOP", "nokey", t]);
    }
}

/// Timeout arguments where Redis 7.0.15 computes `(long long) ceill(t * 1000.0L)` in long double
/// and never checks the range: infinities and huge values wrap to "negative", tiny negative
/// values round to 0 (block forever). Kept separate because parse_timeout (blocked.rs) is being
/// aligned with this.
#[test]
fn timeout_argument_edge_cases() {
    let mut d = Diff::new();
    for t in [
        "inf",
        "-inf",
        "1e20",
        "1e16",
        "9223372036854776",
        "9223372036854775807",
    ] {
        d.cmd(&["BLPOP", "nokey", t]);
        d.cmd(&["BLMPOP", t, "1", "nokey", "LEFT"]);
    }
    // Rounds to 0: blocks forever on both.
    let mut a = d.another();
    a.send(&["BLPOP", "nokey", "-0.0001"]);
    wait_blocked(&mut d, 1);
    d.cmd(&["RPUSH", "nokey", "v"]);
    a.read();
}

/// A client that disconnects while blocked leaves no trace: blocked_clients drops, the next
/// push is not consumed by it, and the other waiters keep their places.
#[test]
fn disconnect_while_blocked() {
    let mut main = Diff::new();
    let mut a = main.another();
    let mut b = main.another();
    let mut c = main.another();
    a.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut main, 1);
    b.send(&["BLMOVE", "k", "d", "LEFT", "LEFT", "10"]);
    wait_blocked(&mut main, 2);
    c.send(&["BRPOP", "k", "0"]);
    wait_blocked(&mut main, 3);
    drop(a);
    drop(b);
    wait_blocked(&mut main, 1);
    main.cmd(&["RPUSH", "k", "x", "y"]);
    c.read();
    main.cmd(&["LRANGE", "k", "0", "-1"]);
    main.cmd(&["EXISTS", "d"]);
    wait_blocked(&mut main, 0);
    main.run("? INFO clients");
}

/// BLMOVE chains: a pop that pushes to a key with waiters serves them in the same round,
/// through several hops, and BRPOPLPUSH onto the key it waits on.
#[test]
fn blmove_chains() {
    let mut main = Diff::new();
    let mut c1 = main.another();
    let mut c2 = main.another();
    let mut c3 = main.another();
    let mut c4 = main.another();
    c1.send(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut main, 1);
    c2.send(&["BRPOPLPUSH", "b", "c", "0"]);
    wait_blocked(&mut main, 2);
    c3.send(&["BLMPOP", "0", "2", "x", "c", "RIGHT", "COUNT", "5"]);
    wait_blocked(&mut main, 3);
    c4.send(&["BLPOP", "a", "0"]);
    wait_blocked(&mut main, 4);
    main.cmd(&["RPUSH", "a", "v1", "v2"]);
    c1.read();
    c2.read();
    c3.read();
    c4.read();
    wait_blocked(&mut main, 0);
    main.run("EXISTS a b c x");
    // A chain that ends in a loop back to the source.
    c1.send(&["BLMOVE", "p", "q", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut main, 1);
    c2.send(&["BLMOVE", "q", "p", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut main, 2);
    main.cmd(&["LPUSH", "p", "ring"]);
    c1.read();
    c2.read();
    main.run("LRANGE p 0 -1\nLRANGE q 0 -1");
    // A waiter whose destination holds another type gets WRONGTYPE; the element stays.
    main.cmd(&["SET", "str", "v"]);
    c1.send(&["BLMOVE", "src", "str", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut main, 1);
    main.cmd(&["RPUSH", "src", "e"]);
    c1.read();
    main.run("LRANGE src 0 -1\nGET str");
    wait_blocked(&mut main, 0);
}

/// A waiter stays blocked while its key holds another type and is served once it is a list
/// again; a key that is pushed and emptied in one transaction serves nobody.
#[test]
fn key_type_changes_while_blocked() {
    let mut main = Diff::new();
    let mut a = main.another();
    a.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut main, 1);
    main.cmd(&["SET", "k", "string"]);
    no_reply(&mut a, 50);
    wait_blocked(&mut main, 1);
    main.cmd(&["DEL", "k"]);
    main.run("MULTI\nRPUSH k gone\nLPOP k\nEXEC");
    no_reply(&mut a, 50);
    main.cmd(&["RPUSH", "k", "finally"]);
    a.read();
    wait_blocked(&mut main, 0);
}

/// Commands pipelined behind a blocking command run after it is served, in order.
#[test]
fn pipelined_after_block() {
    let mut main = Diff::new();
    let mut a = main.another();
    let mut req = encode_command(&["BLPOP", "k", "0"]);
    req.extend(encode_command(&["RPUSH", "k", "mine"]));
    req.extend(encode_command(&["LPOP", "k"]));
    a.ferrodis.send(&req);
    a.redis.send(&req);
    wait_blocked(&mut main, 1);
    main.cmd(&["RPUSH", "k", "theirs"]);
    a.read();
    a.read();
    a.read();
    main.cmd(&["EXISTS", "k"]);
}

/// CLIENT UNBLOCK: TIMEOUT answers the waiter as its timeout would, ERROR with -UNBLOCKED;
/// unknown or non-blocked clients answer 0; syntax errors.
#[test]
fn client_unblock() {
    let mut main = Diff::new();
    let mut a = main.another();
    let fid = a
        .ferrodis
        .value(&["CLIENT", "ID"])
        .int()
        .unwrap()
        .to_string();
    let rid = a.redis.value(&["CLIENT", "ID"]).int().unwrap().to_string();
    let unblock = |main: &mut Diff, extra: &[&str]| {
        let mut f = vec!["CLIENT", "UNBLOCK", &fid[..]];
        f.extend_from_slice(extra);
        let mut r = vec!["CLIENT", "UNBLOCK", &rid[..]];
        r.extend_from_slice(extra);
        let fr = main.ferrodis.cmd(&f);
        let rr = main.redis.cmd(&r);
        assert_same(&format!("CLIENT UNBLOCK {extra:?}"), &fr, &rr);
    };
    // Not blocked: 0.
    unblock(&mut main, &[]);
    for resp in ["2", "3"] {
        a.both(&["HELLO", resp]);
        a.send(&["BLPOP", "k", "0"]);
        wait_blocked(&mut main, 1);
        unblock(&mut main, &[]);
        a.read();
        a.send(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
        wait_blocked(&mut main, 1);
        unblock(&mut main, &["TIMEOUT"]);
        a.read();
        a.send(&["BLMPOP", "0", "1", "k", "LEFT"]);
        wait_blocked(&mut main, 1);
        unblock(&mut main, &["error"]);
        a.read();
        wait_blocked(&mut main, 0);
        // The client is usable again and its pipelined commands were kept.
        a.cmd(&["PING"]);
    }
    a.both(&["HELLO", "2"]);
    main.run(
        "CLIENT UNBLOCK 999999
         CLIENT UNBLOCK -1
         CLIENT UNBLOCK x
         CLIENT UNBLOCK 1 foo
         CLIENT UNBLOCK x foo
         CLIENT UNBLOCK 1 TIMEOUT extra
         CLIENT UNBLOCK",
    );
    // The unblocked waiter does not take later pushes.
    main.cmd(&["RPUSH", "k", "v"]);
    main.cmd(&["LLEN", "k"]);
    main.run("? INFO errorstats");
}

/// INFO blocked_clients follows blocks, serves, timeouts, unblocks and disconnects.
#[test]
fn blocked_clients_count() {
    let mut main = Diff::new();
    let mut a = main.another();
    let mut b = main.another();
    wait_blocked(&mut main, 0);
    a.send(&["BLPOP", "k", "0"]);
    b.send(&["BLPOP", "k", "0.1"]);
    wait_blocked(&mut main, 2);
    b.read();
    wait_blocked(&mut main, 1);
    main.cmd(&["LPUSH", "k", "v"]);
    a.read();
    wait_blocked(&mut main, 0);
}

/// Keyspace events when waiters are served: the pusher's event first, then each waiter's pop
/// (and `del` when a waiter empties the key), and the pushes BLMOVE waiters make.
#[test]
fn events_when_serving_waiters() {
    let mut main = Diff::new();
    let mut sub = main.another();
    let mut a = main.another();
    let mut b = main.another();
    let mut c = main.another();
    main.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    sub.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    a.send(&["BLMOVE", "k", "d", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut main, 1);
    b.send(&["BLMPOP", "0", "1", "d", "LEFT", "COUNT", "2"]);
    wait_blocked(&mut main, 2);
    c.send(&["BRPOP", "k", "0"]);
    wait_blocked(&mut main, 3);
    main.cmd(&["RPUSH", "k", "x", "y", "z"]);
    a.read();
    b.read();
    c.read();
    main.run("LRANGE k 0 -1\nEXISTS d");
    let (mut f, mut r) = (Vec::new(), Vec::new());
    while let Some(m) = sub.ferrodis.try_read_reply(Duration::from_millis(300)) {
        f.push(m);
    }
    while let Some(m) = sub.redis.try_read_reply(Duration::from_millis(300)) {
        r.push(m);
    }
    assert!(!r.is_empty());
    assert_same("keyspace events", &f.concat(), &r.concat());
}

/// INFO commandstats counts a blocked command once, when it is served or times out, as
/// Redis's call() skips the statistics of a command that blocked.
#[test]

fn commandstats_count_blocked_commands_once() {
    let mut main = Diff::new();
    let mut a = main.another();
    main.cmd(&["CONFIG", "RESETSTAT"]);
    a.send(&["BLPOP", "k", "0"]);
    wait_blocked(&mut main, 1);
    main.cmd(&["RPUSH", "k", "v"]);
    a.read();
    a.cmd(&["BLPOP", "k", "0.01"]);
    let f = info_field(&mut main.ferrodis, "commandstats", "cmdstat_blpop");
    let r = info_field(&mut main.redis, "commandstats", "cmdstat_blpop");
    let calls = |s: &str| s.split(',').next().unwrap_or("").to_string();
    assert_eq!(calls(&f), calls(&r), "ferrodis {f} / redis {r}");
}

/// CLIENT LIST shows `b` for a blocked client and INFO's clients_in_timeout_table counts the
/// blocked clients that have a timeout.
#[test]

fn blocked_flag_and_timeout_table() {
    let mut main = Diff::new();
    let mut a = main.another();
    let mut b = main.another();
    a.send(&["BLPOP", "k", "0"]);
    b.send(&["BLPOP", "k2", "100"]);
    wait_blocked(&mut main, 2);
    for (conn, name) in [(&mut main.ferrodis, "ferrodis"), (&mut main.redis, "redis")] {
        let list = conn.value(&["CLIENT", "LIST"]).text().unwrap();
        let blocked = list.lines().filter(|l| l.contains(" flags=b ")).count();
        assert_eq!(blocked, 2, "{name}: {list}");
        assert_eq!(
            info_field(conn, "clients", "clients_in_timeout_table").trim(),
            "1",
            "{name}"
        );
    }
    main.cmd(&["RPUSH", "k", "v"]);
    main.cmd(&["RPUSH", "k2", "v"]);
    a.read();
    b.read();
}

/// SWAPDB wakes clients blocked in either database whose keys now hold data of the kind they
/// wait for (Redis's dbSwapDatabases rescans the keys with waiters): BRPOP, BLMOVE and
/// BZPOPMIN waiters in db 9 are served from db 1's keys, a waiter in db 1 from db 9's key.
/// A list waiter whose key now holds a set, and a BZPOPMIN waiter whose key now holds a list,
/// stay blocked until their timeout, and the keys are left as they are.
#[test]
fn swapdb_wakes_blocked_clients() {
    let mut main = Diff::new();
    main.cmd(&["SELECT", "1"]);
    main.cmd(&["RPUSH", "k", "hello"]);
    main.cmd(&["RPUSH", "src", "a", "b"]);
    main.cmd(&["ZADD", "z", "1", "m", "2", "n"]);
    main.cmd(&["SADD", "s", "member"]);
    main.cmd(&["RPUSH", "l", "x"]);
    main.cmd(&["SELECT", "9"]);
    main.cmd(&["RPUSH", "k9", "from-nine"]);
    let mut waiters: Vec<Diff> = (0..7).map(|_| main.another()).collect();
    let sends: [(&str, &[&str]); 7] = [
        ("9", &["BRPOP", "k", "5"]),
        ("9", &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "5"]),
        ("9", &["BZPOPMIN", "z", "5"]),
        ("1", &["BLPOP", "k9", "5"]),
        ("9", &["BLPOP", "s", "0.5"]),
        ("9", &["BZPOPMIN", "l", "0.5"]),
        ("9", &["BLPOP", "missing", "0.5"]),
    ];
    for (i, (db, cmd)) in sends.iter().enumerate() {
        waiters[i].cmd(&["SELECT", db]);
        waiters[i].send(cmd);
        wait_blocked(&mut main, i as i64 + 1);
    }
    main.cmd(&["SWAPDB", "1", "9"]);
    for w in &mut waiters[..4] {
        w.read();
    }
    wait_blocked(&mut main, 3);
    no_reply(&mut waiters[4], 50);
    // The waiters on a key of the wrong type or on no key time out.
    for w in &mut waiters[4..] {
        w.read();
    }
    wait_blocked(&mut main, 0);
    main.run(
        "LRANGE dst 0 -1\nLRANGE src 0 -1\nZRANGE z 0 -1 WITHSCORES\nEXISTS k\n\
         SMEMBERS s\nLRANGE l 0 -1\nDBSIZE\nSELECT 1\nDBSIZE\nEXISTS k9",
    );
}

/// A key swapped in that has already expired wakes nobody: it is marked ready (SWAPDB looks
/// in the dict without expiring), and serving its waiters deletes it as an expiry, serves
/// nothing and leaves the waiter blocked until its timeout. An expired key of a type nobody
/// waits for is not even looked at, so it stays in the dict until something touches it.
/// Once AOF or replication exist, that expiry must be propagated as a DEL like any other.
#[test]
fn swapdb_expired_key_wakes_nobody() {
    let mut main = Diff::new();
    main.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    main.cmd(&["SELECT", "1"]);
    main.cmd(&["RPUSH", "k", "hello"]);
    main.cmd(&["SADD", "s", "member"]);
    main.cmd(&["PEXPIRE", "k", "50"]);
    main.cmd(&["PEXPIRE", "s", "50"]);
    // Nothing reads either key until it has expired (a read would delete it).
    sleep(Duration::from_millis(120));
    let mut a = main.another();
    let mut b = main.another();
    a.cmd(&["SELECT", "9"]);
    a.send(&["BLPOP", "k", "0.5"]);
    wait_blocked(&mut main, 1);
    b.cmd(&["SELECT", "9"]);
    b.send(&["BLPOP", "s", "0.5"]);
    wait_blocked(&mut main, 2);
    main.cmd(&["SELECT", "9"]);
    main.cmd(&["SWAPDB", "1", "9"]);
    // k is gone (deleted as expired), s is still counted.
    main.cmd(&["DBSIZE"]);
    let expired = |conn: &mut RawConn| info_field(conn, "stats", "expired_keys");
    assert_eq!(expired(&mut main.ferrodis), expired(&mut main.redis));
    no_reply(&mut a, 50);
    a.read();
    b.read();
    wait_blocked(&mut main, 0);
    main.run("EXISTS k\nEXISTS s\nDBSIZE");
}
