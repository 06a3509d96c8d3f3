//! Pub/Sub (src/pubsub.rs, src/commands/pubsub.rs) against the oracle: subscription replies
//! and message frames byte for byte in RESP2 and RESP3, the RESP2 subscribed-mode command gate,
//! PUBSUB introspection, sharded channels; then ferrodis-only load tests: 1,000 subscribers
//! receiving every message in order, and a subscriber that stops reading being cut off at the
//! `client-output-buffer-limit pubsub` limit while the others keep receiving.
//!
//! Where Redis itself answers in hash order (UNSUBSCRIBE with no argument walks a dict, as does
//! PUBSUB CHANNELS), replies are compared as sets.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// Switches both connections to RESP3 (HELLO's reply carries the connection id, which differs).
fn hello3(d: &mut Diff) {
    let (f, r) = d.both(&["HELLO", "3"]);
    assert!(f.starts_with(b"%7") && r.starts_with(b"%7"));
}

/// Reads `n` subscription replies `[kind, name, count]` from each side: UNSUBSCRIBE with no
/// argument walks Redis's dict, so names may come in any order, but the counts always go down
/// one by one and the frames must otherwise be identical.
fn read_unsubscribe_all(d: &mut Diff, n: usize) {
    let split = |conn: &mut RawConn| {
        let mut names = BTreeSet::new();
        let mut counts = Vec::new();
        let mut kinds = BTreeSet::new();
        for _ in 0..n {
            let raw = conn.read_reply();
            kinds.insert(raw[..2].to_vec());
            let v = parse_reply(&raw).unwrap();
            let items = v.items().unwrap().to_vec();
            kinds.insert(items[0].bytes().unwrap().to_vec());
            names.insert(items[1].bytes().unwrap().to_vec());
            counts.push(items[2].int().unwrap());
        }
        (names, counts, kinds)
    };
    let f = split(&mut d.ferrodis);
    let r = split(&mut d.redis);
    assert_eq!(f, r, "UNSUBSCRIBE-all replies differ");
}

/// Asserts that neither side has anything more to say within a short wait.
fn quiet(d: &mut Diff) {
    let w = Duration::from_millis(100);
    let f = d.ferrodis.try_read_reply(w);
    let r = d.redis.try_read_reply(w);
    assert!(
        f.is_none() && r.is_none(),
        "unexpected output: ferrodis {:?} redis {:?}",
        f.map(|x| escape(&x)),
        r.map(|x| escape(&x))
    );
}

/// Sends a command to both and compares `n` replies in order (SUBSCRIBE a b c answers 3).
fn multi_reply(d: &mut Diff, args: &[&str], n: usize) {
    d.send(args);
    for _ in 0..n {
        d.read();
    }
}

fn subscription_replies(d: &mut Diff) {
    d.cmd(&["RESET"]);
    multi_reply(d, &["SUBSCRIBE", "a", "b", "a"], 3);
    multi_reply(d, &["PSUBSCRIBE", "p*", "q?", "p*"], 3);
    multi_reply(d, &["SSUBSCRIBE", "s1", "s2"], 2);
    // Specific unsubscriptions answer in argument order, the unknown one too.
    multi_reply(d, &["UNSUBSCRIBE", "b", "nope", "b"], 3);
    multi_reply(d, &["PUNSUBSCRIBE", "q?", "zz"], 2);
    multi_reply(d, &["SUNSUBSCRIBE", "s2", "nope"], 2);
    // Patterns are a list in 7.0: PUNSUBSCRIBE with no argument answers in subscription order.
    multi_reply(d, &["PSUBSCRIBE", "z*", "y*", "x*", "w*"], 4);
    multi_reply(d, &["PUNSUBSCRIBE"], 5);
    multi_reply(d, &["SUBSCRIBE", "c1", "c2", "c3"], 3);
    d.send(&["UNSUBSCRIBE"]);
    read_unsubscribe_all(d, 4);
    multi_reply(d, &["SSUBSCRIBE", "s3", "s4"], 2);
    d.send(&["SUNSUBSCRIBE"]);
    read_unsubscribe_all(d, 3);
    // Nothing left: one reply with a null name.
    d.cmd(&["UNSUBSCRIBE"]);
    d.cmd(&["PUNSUBSCRIBE"]);
    d.cmd(&["SUNSUBSCRIBE", "s1"]);
    d.cmd(&["SUNSUBSCRIBE"]);
    // Out of Pub/Sub mode again: normal commands work.
    d.cmd(&["PING"]);
    d.cmd(&["ECHO", "back"]);
    // Binary and empty names.
    multi_reply(d, &["SUBSCRIBE", "", "bin\x00\r\nary"], 2);
    multi_reply(d, &["UNSUBSCRIBE", "", "bin\x00\r\nary"], 2);
    d.cmd(&["SUBSCRIBE"]);
    d.cmd(&["PSUBSCRIBE"]);
    d.cmd(&["SSUBSCRIBE"]);
    d.cmd(&["PUBLISH", "x"]);
    d.cmd(&["SPUBLISH", "x", "y", "z"]);
    d.cmd(&["RESET"]);
}

#[test]
fn subscription_replies_resp2_and_resp3() {
    let mut d = Diff::new();
    subscription_replies(&mut d);
    hello3(&mut d);
    subscription_replies(&mut d);
}

/// Message frames for channel, pattern and shard subscribers, in both protocols.
fn message_frames(sub: &mut Diff, publ: &mut Diff) {
    sub.cmd(&["RESET"]);
    multi_reply(sub, &["SUBSCRIBE", "news", ""], 2);
    sub.cmd(&["PSUBSCRIBE", "n*"]);
    sub.cmd(&["SSUBSCRIBE", "shard"]);
    // A channel subscriber gets `message`, then the pattern match `pmessage`.
    publ.cmd(&["PUBLISH", "news", "hello"]);
    sub.read();
    sub.read();
    publ.cmd(&["PUBLISH", "nothing", "x"]);
    sub.read();
    publ.cmd(&["PUBLISH", "", ""]);
    sub.read();
    let big = "v".repeat(100_000);
    publ.cmd(&["PUBLISH", "news", &big]);
    sub.read();
    sub.read();
    publ.cmd(&["PUBLISH", "news", "bin\x00\r\n\x7f"]);
    sub.read();
    sub.read();
    publ.cmd(&["PUBLISH", "other", "x"]);
    // Shard channels: SPUBLISH reaches shard subscribers only, PUBLISH does not reach them.
    publ.cmd(&["SPUBLISH", "shard", "s-msg"]);
    sub.read();
    publ.cmd(&["PUBLISH", "shard", "not for shard"]);
    publ.cmd(&["SPUBLISH", "news", "not for channels"]);
    quiet(sub);
    publ.cmd(&["PUBSUB", "NUMSUB", "news", "shard", ""]);
    publ.cmd(&["PUBSUB", "SHARDNUMSUB", "news", "shard"]);
    publ.cmd(&["PUBSUB", "NUMPAT"]);
    sub.cmd(&["RESET"]);
    publ.cmd(&["PUBLISH", "news", "after reset"]);
    quiet(sub);
}

#[test]
fn message_frames_resp2_and_resp3() {
    let mut sub = Diff::new();
    let mut publ = sub.another();
    message_frames(&mut sub, &mut publ);
    hello3(&mut sub);
    message_frames(&mut sub, &mut publ);
    // The publisher's protocol does not matter to the frames.
    hello3(&mut publ);
    message_frames(&mut sub, &mut publ);
}

#[test]
fn resp2_subscribed_mode_gate() {
    let mut d = Diff::new();
    d.cmd(&["SUBSCRIBE", "ch"]);
    for cmd in [
        vec!["GET", "x"],
        vec!["SET", "x", "1"],
        vec!["CLIENT", "LIST"],
        vec!["client", "id"],
        vec!["PUBLISH", "ch", "m"],
        vec!["PUBSUB", "NUMPAT"],
        vec!["MULTI"],
        vec!["ECHO", "x"],
        vec!["HELLO"],
        // Unknown commands and arity errors are reported before the gate.
        vec!["NOSUCH", "x"],
        vec!["GET"],
    ] {
        d.cmd(&cmd);
    }
    // PING answers as a message array in RESP2 subscribed mode.
    d.cmd(&["PING"]);
    d.cmd(&["PING", "hello"]);
    d.cmd(&["PING", "a", "b"]);
    multi_reply(&mut d, &["PSUBSCRIBE", "x*"], 1);
    multi_reply(&mut d, &["SSUBSCRIBE", "s"], 1);
    d.cmd(&["UNSUBSCRIBE", "ch"]);
    d.cmd(&["PUNSUBSCRIBE", "x*"]);
    // Still subscribed to a shard channel: still gated.
    d.cmd(&["GET", "x"]);
    d.cmd(&["SUNSUBSCRIBE", "s"]);
    d.cmd(&["GET", "x"]);
    d.cmd(&["PING"]);
    // RESET leaves subscribed mode; QUIT is allowed and closes.
    d.cmd(&["SUBSCRIBE", "ch"]);
    d.cmd(&["RESET"]);
    d.cmd(&["GET", "x"]);
    d.cmd(&["SUBSCRIBE", "ch"]);
    d.cmd(&["QUIT"]);
    assert!(d.closed());
}

#[test]
fn resp3_subscribed_clients_run_anything() {
    let mut d = Diff::new();
    let mut p = d.another();
    hello3(&mut d);
    d.cmd(&["SUBSCRIBE", "ch"]);
    d.cmd(&["PSUBSCRIBE", "c*"]);
    d.cmd(&["SET", "k", "v"]);
    d.cmd(&["GET", "k"]);
    d.cmd(&["GET", "missing"]);
    d.cmd(&["PING"]);
    d.cmd(&["PING", "x"]);
    // Publishing to its own channel: the pushes come before PUBLISH's own reply.
    d.send(&["PUBLISH", "ch", "self"]);
    d.read();
    d.read();
    d.read();
    p.cmd(&["PUBLISH", "ch", "other"]);
    d.read();
    d.read();
    // Switching back to RESP2 while subscribed brings the gate back.
    let (f, r) = d.both(&["HELLO", "2"]);
    assert!(f.starts_with(b"*14") && r.starts_with(b"*14"));
    d.cmd(&["GET", "k"]);
    d.cmd(&["PING"]);
    p.cmd(&["PUBLISH", "ch", "resp2 now"]);
    d.read();
    d.read();
}

#[test]
fn pubsub_introspection() {
    let mut a = Diff::new();
    let mut b = a.another();
    let mut q = a.another();
    multi_reply(&mut a, &["SUBSCRIBE", "news.tech", "news.art", "sport"], 3);
    multi_reply(&mut b, &["SUBSCRIBE", "news.tech", "weather"], 2);
    multi_reply(&mut a, &["PSUBSCRIBE", "news.*", "w*"], 2);
    multi_reply(&mut b, &["PSUBSCRIBE", "news.*"], 1);
    multi_reply(&mut b, &["SSUBSCRIBE", "sh1", "sh2"], 2);
    q.unordered(&["PUBSUB", "CHANNELS"]);
    q.unordered(&["PUBSUB", "CHANNELS", "news.*"]);
    q.unordered(&["PUBSUB", "CHANNELS", "*[ae]*"]);
    q.cmd(&["PUBSUB", "CHANNELS", "nomatch*"]);
    q.cmd(&["PUBSUB", "NUMSUB"]);
    q.cmd(&[
        "PUBSUB",
        "NUMSUB",
        "news.tech",
        "sport",
        "missing",
        "news.*",
    ]);
    q.cmd(&["PUBSUB", "NUMPAT"]);
    q.unordered(&["PUBSUB", "SHARDCHANNELS"]);
    q.cmd(&["PUBSUB", "SHARDCHANNELS", "*1"]);
    q.cmd(&["PUBSUB", "SHARDNUMSUB", "sh1", "news.tech"]);
    q.cmd(&["PUBSUB", "SHARDNUMSUB"]);
    // PUBLISH counts every (client, subscription) pair: channel + patterns.
    q.cmd(&["PUBLISH", "news.tech", "m"]);
    q.cmd(&["PUBLISH", "weather", "m"]);
    q.cmd(&["PUBLISH", "nobody", "m"]);
    q.cmd(&["SPUBLISH", "sh1", "m"]);
    q.cmd(&["SPUBLISH", "news.tech", "m"]);
    // Errors and help.
    q.cmd(&["PUBSUB"]);
    q.cmd(&["PUBSUB", "HELP"]);
    q.cmd(&["pubsub", "help"]);
    q.cmd(&["PUBSUB", "NOSUCH"]);
    q.cmd(&["PUBSUB", "CHANNELS", "a", "b"]);
    q.cmd(&["PUBSUB", "SHARDCHANNELS", "a", "b"]);
    q.cmd(&["PUBSUB", "NUMPAT", "x"]);
    q.cmd(&["PUBSUB", "HELP", "x"]);
    // RESP3 keeps NUMSUB a flat array.
    hello3(&mut q);
    q.cmd(&["PUBSUB", "NUMSUB", "news.tech", "sport"]);
    q.cmd(&["PUBSUB", "SHARDNUMSUB", "sh2"]);
    q.unordered(&["PUBSUB", "CHANNELS", "news*"]);
    // Disconnecting clients leave every registry.
    drop(a);
    drop(b);
    // Each server frees them when it reads their close: wait for both, bounded.
    for conn in [&mut q.ferrodis, &mut q.redis] {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while conn.cmd(&["PUBSUB", "NUMPAT"]) != b":0\r\n"
            || conn.cmd(&["PUBSUB", "SHARDCHANNELS"]) != b"*0\r\n"
        {
            assert!(
                std::time::Instant::now() < deadline,
                "subscribers not freed"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
    q.cmd(&["PUBSUB", "NUMSUB", "news.tech", "sport", "weather"]);
    q.cmd(&["PUBSUB", "NUMPAT"]);
    q.cmd(&["PUBSUB", "CHANNELS"]);
    q.cmd(&["PUBSUB", "SHARDCHANNELS"]);
    q.cmd(&["PUBLISH", "news.tech", "gone"]);
}

#[test]
fn subscribe_inside_multi() {
    let mut d = Diff::new();
    let mut p = d.another();
    d.cmd(&["MULTI"]);
    d.cmd(&["SUBSCRIBE", "a", "b"]);
    d.cmd(&["PING"]);
    d.cmd(&["SSUBSCRIBE", "s"]);
    d.cmd(&["PSUBSCRIBE", "p*"]);
    // EXEC's array counts commands, but SUBSCRIBE a b answered twice: as in Redis, the extra
    // reply follows the array.
    d.cmd(&["EXEC"]);
    d.read();
    // Subscribed by the transaction: RESP2 gate applies now.
    d.cmd(&["GET", "x"]);
    p.cmd(&["PUBLISH", "a", "m"]);
    d.read();
    p.cmd(&["PUBLISH", "pp", "m"]);
    d.read();
    d.cmd(&["RESET"]);
    p.cmd(&["PUBLISH", "a", "m"]);
    quiet(&mut d);
}

#[test]
fn client_list_shows_subscriptions() {
    let srv = ferrodis();
    let mut c = srv.conn();
    let mut q = srv.conn();
    c.send_cmd(&["SUBSCRIBE", "a", "b"]);
    c.read_reply();
    c.read_reply();
    c.cmd(&["PSUBSCRIBE", "p*"]);
    c.cmd(&["SSUBSCRIBE", "s"]);
    let list = q.value(&["CLIENT", "LIST"]).text().unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(" sub=2 "))
        .unwrap_or_else(|| panic!("no subscribed client in {list}"));
    assert!(line.contains(" flags=P "), "{line}");
    assert!(line.contains(" psub=1 ssub=1 "), "{line}");
    let typed = q
        .value(&["CLIENT", "LIST", "TYPE", "pubsub"])
        .text()
        .unwrap();
    assert_eq!(typed.lines().count(), 1, "{typed}");
    let normal = q
        .value(&["CLIENT", "LIST", "TYPE", "normal"])
        .text()
        .unwrap();
    assert!(!normal.contains(" sub=2 "), "{normal}");
    let killed = q.value(&["CLIENT", "KILL", "TYPE", "pubsub"]).int();
    assert_eq!(killed, Some(1));
    assert!(c.is_closed_within(Duration::from_secs(2)));
    assert_eq!(q.value(&["PUBLISH", "a", "x"]).int(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Load: many subscribers, slow subscribers

/// Reads until `want` bytes have arrived (or the deadline passes); returns them.
fn read_exact_bytes(s: &mut TcpStream, want: usize, timeout: Duration) -> Vec<u8> {
    let mut buf = vec![0u8; want];
    let mut got = 0;
    let deadline = Instant::now() + timeout;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while got < want {
        assert!(
            Instant::now() < deadline,
            "only {got} of {want} bytes arrived in {timeout:?}"
        );
        match s.read(&mut buf[got..]) {
            Ok(0) => panic!("connection closed after {got} of {want} bytes"),
            Ok(n) => got += n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read failed after {got} bytes: {e}"),
        }
    }
    buf
}

/// The RESP2 reply to a first `SUBSCRIBE ch`.
fn subscribe_reply(ch: &str) -> Vec<u8> {
    format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{}\r\n:1\r\n", ch.len(), ch).into_bytes()
}

/// The RESP2 frame of a `message` on `ch`.
fn message_frame(ch: &str, msg: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{}\r\n${}\r\n",
        ch.len(),
        ch,
        msg.len()
    )
    .into_bytes();
    v.extend_from_slice(msg);
    v.extend_from_slice(b"\r\n");
    v
}

/// Publishes `msgs` with pipelining (batches of 500) and checks every PUBLISH's receiver count.
fn publish_all(publ: &mut RawConn, ch: &str, msgs: &[Vec<u8>], receivers: i64) {
    for chunk in msgs.chunks(500) {
        let mut out = Vec::new();
        for m in chunk {
            out.extend_from_slice(&encode_command(&[b"PUBLISH".as_slice(), ch.as_bytes(), m]));
        }
        publ.send(&out);
        for _ in chunk {
            let r = publ.read_reply();
            let n: i64 = std::str::from_utf8(&r[1..r.len() - 2])
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                n <= receivers && n >= receivers - 1,
                "PUBLISH reached {n} receivers, expected {receivers}"
            );
        }
    }
}

#[test]
fn thousand_subscribers_receive_everything_in_order() {
    const SUBS: usize = 1000;
    const MSGS: usize = 200;
    let srv = ferrodis();
    let mut subs: Vec<TcpStream> = Vec::with_capacity(SUBS);
    let sub_cmd = encode_command(&["SUBSCRIBE", "fanout"]);
    let sub_reply = subscribe_reply("fanout");
    for _ in 0..SUBS {
        let mut s = TcpStream::connect(srv.addr()).unwrap();
        s.write_all(&sub_cmd).unwrap();
        subs.push(s);
    }
    for s in subs.iter_mut() {
        let r = read_exact_bytes(s, sub_reply.len(), Duration::from_secs(30));
        assert_eq!(r, sub_reply, "{}", escape(&r));
    }
    let mut publ = srv.conn();
    assert_eq!(
        publ.value(&["PUBSUB", "NUMSUB", "fanout"]).items().unwrap()[1].int(),
        Some(SUBS as i64)
    );
    let msgs: Vec<Vec<u8>> = (0..MSGS)
        .map(|i| format!("message number {i:05}").into_bytes())
        .collect();
    let expected: Vec<u8> = msgs
        .iter()
        .flat_map(|m| message_frame("fanout", m))
        .collect();
    // Read in parallel with publishing so no subscriber buffer grows: 8 reader threads.
    let per = SUBS / 8;
    let mut handles = Vec::new();
    let mut subs = subs.into_iter();
    for _ in 0..8 {
        let group: Vec<TcpStream> = subs.by_ref().take(per).collect();
        let expected = expected.clone();
        handles.push(thread::spawn(move || {
            for mut s in group {
                let got = read_exact_bytes(&mut s, expected.len(), Duration::from_secs(120));
                assert!(
                    got == expected,
                    "a subscriber got the messages out of order or altered"
                );
            }
        }));
    }
    publish_all(&mut publ, "fanout", &msgs, SUBS as i64);
    for h in handles {
        h.join().unwrap();
    }
}

/// A subscriber that never reads is disconnected once its output passes the hard limit of
/// the pubsub class (default 32mb), while the other subscribers get every message.
#[test]
fn slow_subscriber_is_disconnected_at_the_hard_limit() {
    let srv = ferrodis();
    let mut publ = srv.conn();
    assert_eq!(
        publ.value(&["CONFIG", "GET", "client-output-buffer-limit"])
            .items()
            .unwrap()[1]
            .text(),
        Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into())
    );
    // The slow one: subscribes, then never reads again. (Its kernel buffers absorb a few MB
    // of the backlog; shrinking them would make the final drain crawl through zero-window
    // probes, in Redis as well.)
    let mut slow = TcpStream::connect(srv.addr()).unwrap();
    slow.write_all(&encode_command(&["SUBSCRIBE", "firehose"]))
        .unwrap();
    let want = subscribe_reply("firehose");
    assert_eq!(
        read_exact_bytes(&mut slow, want.len(), Duration::from_secs(10)),
        want
    );
    let mut fast: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(srv.addr()).unwrap();
            s.write_all(&encode_command(&["SUBSCRIBE", "firehose"]))
                .unwrap();
            assert_eq!(
                read_exact_bytes(&mut s, want.len(), Duration::from_secs(10)),
                want
            );
            s
        })
        .collect();
    // 48 MiB of 1 KiB messages: well past 32 MiB plus any socket buffering.
    let payload = vec![b'x'; 1024 - 16];
    let msgs: Vec<Vec<u8>> = (0..48 * 1024)
        .map(|i| {
            let mut m = format!("{i:015} ").into_bytes();
            m.extend_from_slice(&payload);
            m
        })
        .collect();
    let expected: Vec<u8> = msgs
        .iter()
        .flat_map(|m| message_frame("firehose", m))
        .collect();
    let readers: Vec<_> = fast
        .drain(..)
        .map(|mut s| {
            let expected = expected.clone();
            thread::spawn(move || {
                let got = read_exact_bytes(&mut s, expected.len(), Duration::from_secs(300));
                assert!(
                    got == expected,
                    "a fast subscriber lost or reordered messages"
                );
                // Stay connected until the checks below.
                s
            })
        })
        .collect();
    publish_all(&mut publ, "firehose", &msgs, 4);
    let _fast: Vec<TcpStream> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    // The slow client is gone: only the fast ones remain subscribed.
    let n = publ
        .value(&["PUBSUB", "NUMSUB", "firehose"])
        .items()
        .unwrap()[1]
        .int();
    assert_eq!(n, Some(3));
    assert!(
        drained_to_eof(&mut slow, Duration::from_secs(60)),
        "the slow subscriber's connection was not closed"
    );
    let log = srv.log();
    assert!(
        log.contains("scheduled to be closed ASAP for overcoming of output buffer limits"),
        "no output buffer limit warning in the log:\n{log}"
    );
}

/// The soft limit closes a subscriber that stays over it for longer than its seconds.
#[test]
fn slow_subscriber_soft_limit() {
    let srv = ferrodis();
    let mut publ = srv.conn();
    publ.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 262144 5",
    ]);
    let mut slow = TcpStream::connect(srv.addr()).unwrap();
    slow.write_all(&encode_command(&["SUBSCRIBE", "soft"]))
        .unwrap();
    let want = subscribe_reply("soft");
    assert_eq!(
        read_exact_bytes(&mut slow, want.len(), Duration::from_secs(10)),
        want
    );
    let big = vec![b'y'; 64 * 1024];
    // 24 MiB: over the soft limit plus whatever the kernel absorbs; there is no hard limit.
    let msgs: Vec<Vec<u8>> = (0..384).map(|_| big.clone()).collect();
    publish_all(&mut publ, "soft", &msgs, 1);
    assert_eq!(
        publ.value(&["PUBSUB", "NUMSUB", "soft"]).items().unwrap()[1].int(),
        Some(1),
        "closed before the soft limit's time ran out"
    );
    // More than `soft seconds` later, the next message finds it still over: closed. (Five
    // seconds, so that publishing the 24 MiB on a loaded machine never takes that long.)
    thread::sleep(Duration::from_millis(6500));
    publ.cmd(&["PUBLISH", "soft", "one more"]);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        publ.value(&["PUBSUB", "NUMSUB", "soft"]).items().unwrap()[1].int(),
        Some(0)
    );
    assert!(drained_to_eof(&mut slow, Duration::from_secs(60)));
}

/// Reads and discards until EOF; false if the connection stays open past `timeout`.
fn drained_to_eof(s: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// Reads `n` frames from each side and compares them, then checks nothing more came.
fn frames(d: &mut Diff, n: usize) {
    for _ in 0..n {
        d.read();
    }
}

/// One run of subscription commands and messages under CLIENT REPLY `mode` (OFF, SKIP or ON)
/// in the subscriber's current protocol. Confirmations and messages are pushes, not replies,
/// in RESP2 as in RESP3: Redis delivers them whatever CLIENT REPLY says, and discards only
/// real replies (PING's, EXEC's, SET's). SKIP is renewed before every command, except in
/// RESP2 subscribed mode, where CLIENT REPLY itself is refused (that error is a reply).
fn pushes_under_reply_mode(sub: &mut Diff, publ: &mut Diff, mode: &str, resp3: bool) {
    let off = mode == "OFF";
    let skip = mode == "SKIP";
    // How many frames a plain reply adds: none when discarded.
    let reply = |subscribed: bool| -> usize {
        let skipped = skip && (resp3 || !subscribed);
        usize::from(!(off || skipped))
    };
    let renew_skip = |sub: &mut Diff, subscribed: bool| {
        if skip {
            sub.send(&["CLIENT", "REPLY", "SKIP"]);
            if !resp3 && subscribed {
                // Refused in RESP2 subscribed mode, with an error that is a reply.
                sub.read();
            }
        }
    };
    // RESET also goes back to RESP2.
    sub.cmd(&["RESET"]);
    if resp3 {
        hello3(sub);
    }
    if off {
        sub.send(&["CLIENT", "REPLY", "OFF"]);
    }
    renew_skip(sub, false);
    sub.send(&["SUBSCRIBE", "ch", "ch2"]);
    frames(sub, 2);
    publ.cmd(&["PUBLISH", "ch", "msg"]);
    frames(sub, 1);
    renew_skip(sub, true);
    sub.send(&["PSUBSCRIBE", "p*", "__key*__:*"]);
    frames(sub, 2);
    // Keyspace notifications of another client's write.
    publ.cmd(&["SET", "foo", "bar"]);
    frames(sub, 2);
    renew_skip(sub, true);
    sub.send(&["SSUBSCRIBE", "sh"]);
    frames(sub, 1);
    publ.cmd(&["SPUBLISH", "sh", "shard-msg"]);
    frames(sub, 1);
    // PING is a reply (in RESP2 subscribed mode too, where it answers as an array).
    renew_skip(sub, true);
    sub.send(&["PING"]);
    frames(sub, reply(true));
    renew_skip(sub, true);
    sub.send(&["UNSUBSCRIBE", "ch", "nope"]);
    frames(sub, 2);
    renew_skip(sub, true);
    sub.send(&["PUNSUBSCRIBE"]);
    frames(sub, 2);
    renew_skip(sub, true);
    sub.send(&["SUNSUBSCRIBE"]);
    frames(sub, 1);
    renew_skip(sub, true);
    sub.send(&["UNSUBSCRIBE"]);
    frames(sub, 1);
    // Nothing left: the confirmation with a null name (`$-1` in RESP2, `_` in RESP3).
    renew_skip(sub, false);
    sub.send(&["UNSUBSCRIBE"]);
    frames(sub, 1);
    renew_skip(sub, false);
    sub.send(&["PUNSUBSCRIBE"]);
    frames(sub, 1);
    // Subscriptions inside a transaction: under OFF, EXEC's reply is discarded and its
    // pushes (the confirmation, the client's own message) are not. SKIP covers only MULTI
    // (CLIENT REPLY would be queued); otherwise the pushes come inside EXEC's array, whose
    // last element (PUBLISH's count) the framer reads as a frame of its own.
    renew_skip(sub, false);
    sub.send(&["MULTI"]);
    sub.send(&["SUBSCRIBE", "tx"]);
    sub.send(&["PUBLISH", "tx", "own"]);
    sub.send(&["EXEC"]);
    let queued = usize::from(!off);
    frames(sub, reply(false) + 2 * queued + 2);
    if resp3 {
        // A RESP3 subscriber's own write: its keyspace events, then SET's reply.
        renew_skip(sub, true);
        sub.send(&["SUBSCRIBE", "__keyspace@0__:mine"]);
        frames(sub, 1);
        renew_skip(sub, true);
        sub.send(&["SET", "mine", "v"]);
        frames(sub, 1 + reply(true));
        renew_skip(sub, true);
        sub.send(&["PUBLISH", "tx", "again"]);
        frames(sub, 1 + reply(true));
    }
    quiet(sub);
    // RESET turns replies back on and answers.
    sub.cmd(&["RESET"]);
    publ.cmd(&["PUBLISH", "ch", "after reset"]);
    quiet(sub);
}

/// Subscription confirmations and messages reach a client whose replies are off or skipped,
/// in RESP2 and RESP3, byte for byte as Redis sends them.
#[test]
fn pushes_ignore_client_reply() {
    let mut sub = Diff::new();
    let mut publ = sub.another();
    publ.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    for resp3 in [false, true] {
        for mode in ["OFF", "SKIP", "ON"] {
            pushes_under_reply_mode(&mut sub, &mut publ, mode, resp3);
        }
    }
}

/// A MONITOR line with its time and client address cut out: "<db> <args>". Any other frame
/// comes back as it is.
fn monitor_line(frame: Vec<u8>) -> Vec<u8> {
    let s = String::from_utf8_lossy(&frame).into_owned();
    match (s.find(" ["), s.find("] ")) {
        (Some(a), Some(b)) if s.starts_with('+') && a < b => {
            let db = s[a + 2..b].split(' ').next().unwrap_or("");
            format!("{db} {}", &s[b + 2..]).into_bytes()
        }
        _ => frame,
    }
}

/// Reads one frame from each side and compares them as MONITOR lines.
fn read_monitor(d: &mut Diff) {
    let f = monitor_line(d.ferrodis.read_reply());
    let r = monitor_line(d.redis.read_reply());
    assert_same("(monitor frame)", &f, &r);
}

/// MONITOR output is a reply, not a push: a monitor under CLIENT REPLY OFF gets no lines.
/// A monitor is fed its own commands too, after their replies, and loses them with the
/// replies: CLIENT REPLY ON answers +OK and then its own line, CLIENT REPLY SKIP shows its
/// line (the skip starts with the next command), the skipped PING shows nothing.
#[test]
fn monitor_follows_client_reply() {
    let mut mon = Diff::new();
    let mut other = mon.another();
    for resp3 in [false, true] {
        if resp3 {
            hello3(&mut mon);
        }
        mon.send(&["CLIENT", "REPLY", "OFF"]);
        mon.send(&["MONITOR"]);
        other.cmd(&["SET", "a", "1"]);
        quiet(&mut mon);
        mon.send(&["CLIENT", "REPLY", "ON"]);
        mon.read();
        read_monitor(&mut mon);
        other.cmd(&["SET", "a", "2"]);
        read_monitor(&mut mon);
        mon.send(&["CLIENT", "REPLY", "SKIP"]);
        read_monitor(&mut mon);
        mon.send(&["PING"]);
        other.cmd(&["GET", "a"]);
        read_monitor(&mut mon);
        mon.send(&["PING"]);
        mon.read();
        read_monitor(&mut mon);
        quiet(&mut mon);
        // RESET leaves monitor mode, so its own line is not fed back.
        mon.cmd(&["RESET"]);
        other.cmd(&["SET", "a", "3"]);
        quiet(&mut mon);
    }
}

/// A monitor is a replica to Redis: commands that read or write keys, or may replicate
/// (PUBLISH), are refused with "Replica can't interact with the keyspace" and leave no line;
/// the others run and are fed back to it. Inside MULTI the refusal aborts the EXEC.
#[test]
fn monitor_cannot_touch_the_keyspace() {
    let mut d = Diff::new();
    d.cmd(&["SET", "k", "v"]);
    let mut mon = d.another();
    mon.send(&["MONITOR"]);
    mon.read();
    let script: &[&[&str]] = &[
        &["GET", "k"],
        &["PING"],
        &["SET", "k", "w"],
        &["PUBLISH", "a", "b"],
        &["MULTI"],
        &["DBSIZE"],
        &["EXEC"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["ECHO", "x"],
        &["SELECT", "1"],
        &["TYPE", "k"],
        &["SELECT", "0"],
    ];
    for cmd in script {
        mon.send(cmd);
        let reply = mon.read();
        // A command that ran (refused or not by its own logic) is fed back to the monitor
        // after its reply; one refused by the replica gate never ran.
        if !reply.starts_with(b"-ERR Replica can't interact with the keyspace") {
            read_monitor(&mut mon);
        }
    }
    // Nothing else is pending on either side.
    assert!(mon
        .ferrodis
        .try_read_reply(Duration::from_millis(100))
        .is_none());
    assert!(mon
        .redis
        .try_read_reply(Duration::from_millis(100))
        .is_none());
    d.cmd(&["GET", "k"]);
}
