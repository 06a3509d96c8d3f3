//! The wire protocol through the real binary: requests in every shape, protocol errors with
//! Redis's exact bytes (compared with the oracle), and garbage that must never crash the server
//! or disturb other clients.

mod common;

use common::{ferrodis, Diff, RawConn};
use std::time::Duration;

/// Each protocol error: the same reply bytes as redis-server, and the connection closed after.
#[test]
fn protocol_errors_match_redis_and_close() {
    let cases: &[&[u8]] = &[
        b"*abc\r\n",
        b"*3\r\n$3\r\nSET\r\n$x\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$9999999999\r\n",
        b"*1\r\n$536870913\r\n",
        b"*4294967296\r\n",
        b"SET \"a b\r\n",
        b"SET 'a\r\n",
        b"SET \"a\"b\r\n",
        b"*1\r\n+PING\r\n",
    ];
    let mut d = Diff::new();
    for case in cases {
        d.raw(case);
        assert!(d.closed(), "connection stays open after {:?}", case);
        d = d.another();
    }
}

/// Headers or inline lines that never end hit Redis's 64 KiB limits.
#[test]
fn overlong_headers_and_inline_lines() {
    let mut d = Diff::new();
    let mut big = vec![b'a'; 70 * 1024];
    d.raw(&big);
    assert!(d.closed());
    let mut d = d.another();
    big[0] = b'*';
    for b in big.iter_mut().skip(1) {
        *b = b'1';
    }
    d.raw(&big);
    assert!(d.closed());
    let mut d = d.another();
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    d.raw(&bulk);
    assert!(d.closed());
}

/// Inline commands with quoting, empty lines and lone `\n`.
#[test]
fn inline_commands() {
    let mut d = Diff::new();
    d.raw(b"SET k \"hello world\"\r\n");
    d.raw(b"GET k\r\n");
    d.raw(b"\r\n\r\nPING\r\n");
    d.raw(b"ECHO \"\\x41\\x42\\n\"\n");
    d.raw(b"   PING   \r\n");
    // A negative multibulk count is skipped, like an empty line.
    d.raw(b"*-2\r\nPING\r\n");
    d.raw(b"*0\r\nPING\r\n");
    // A closing quote must be followed by a space.
    d.raw(b"ECHO 'it''s'\r\n");
    assert!(d.closed());
}

/// A deep pipeline: every reply comes back, in order.
#[test]
fn pipelining_ten_thousand_commands() {
    let s = ferrodis();
    let mut c = s.conn();
    let mut req = Vec::new();
    for i in 0..10_000 {
        req.extend_from_slice(&common::encode_command(&[
            "SET",
            &format!("k{i}"),
            &format!("{i}"),
        ]));
        req.extend_from_slice(&common::encode_command(&["GET", &format!("k{i}")]));
    }
    c.send(&req);
    for i in 0..10_000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(
            c.read_reply(),
            format!("${}\r\n{}\r\n", v.len(), v).as_bytes()
        );
    }
}

/// A command split at every byte boundary arrives whole.
#[test]
fn commands_split_into_single_bytes() {
    let s = ferrodis();
    let mut c = s.conn();
    let req = common::encode_command(&["SET", "key", "a value with spaces"]);
    for b in &req {
        c.send(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "key"]), b"$19\r\na value with spaces\r\n");
}

/// Garbage, huge counts and half commands never crash the server or disturb another client.
#[test]
fn garbage_never_crashes_or_disturbs_others() {
    let s = ferrodis();
    let mut bystander = s.conn();
    assert_eq!(bystander.cmd(&["SET", "keep", "me"]), b"+OK\r\n");
    // Deterministic pseudo-random garbage.
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for round in 0..200 {
        let mut c = RawConn::connect(s.port());
        let len = 1 + (round * 37) % 4000;
        let mut junk = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Bias towards protocol characters so the parser goes deep.
            let b = match x % 8 {
                0 => b'*',
                1 => b'$',
                2 => b'\r',
                3 => b'\n',
                4 => b'0' + (x >> 8) as u8 % 10,
                _ => (x >> 16) as u8,
            };
            junk.push(b);
        }
        c.send(&junk);
        drop(c);
    }
    // A million-element multibulk header, then silence and a disconnect.
    let mut c = RawConn::connect(s.port());
    c.send(b"*1000000\r\n$3\r\nSET\r\n");
    drop(c);
    // A bulk announced as 500 MB, never sent.
    let mut c = RawConn::connect(s.port());
    c.send(b"*2\r\n$3\r\nGET\r\n$500000000\r\nabc");
    drop(c);
    // Half a command, then disconnect.
    let mut c = RawConn::connect(s.port());
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    drop(c);
    assert_eq!(bystander.cmd(&["GET", "keep"]), b"$2\r\nme\r\n");
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
    assert!(s.is_running());
}

/// The query buffer limit closes the offending client, not the server.
#[test]
fn query_buffer_limit_closes_the_client() {
    let s = common::ferrodis_with(&["--client-query-buffer-limit", "1mb"]);
    let mut c = s.conn();
    let mut req = b"*2\r\n$3\r\nGET\r\n$4000000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    c.send(&req);
    assert!(c.is_closed_within(Duration::from_secs(5)));
    let mut other = s.conn();
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

/// Unknown commands and arity errors: Redis's exact text.
#[test]
fn unknown_command_and_arity_errors() {
    let mut d = Diff::new();
    d.cmd(&["FOO"]);
    d.cmd(&["FOO", "a", "b"]);
    d.cmd(&["foo", &"x".repeat(300), "y"]);
    d.cmd(&["GET"]);
    d.cmd(&["GET", "a", "b"]);
    d.cmd(&["CLIENT"]);
    d.cmd(&["CLIENT", "NOSUCH"]);
    d.cmd(&["CONFIG", "nosuch", "x"]);
    d.cmd(&["COMMAND", "NOSUCH"]);
    // Client ids differ between the two servers; the rest of HELLO is compared elsewhere.
    d.both(&["HELLO", "3"]);
    d.cmd(&["FOO"]);
    d.cmd(&["GET", "a", "b"]);
}

/// `connected_clients` from INFO, read through `c`.
fn connected_clients(c: &mut RawConn) -> i64 {
    let info = c
        .value(&["INFO", "clients"])
        .text()
        .expect("INFO is a bulk");
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has connected_clients")
}

/// Waits (bounded) until the server counts exactly `want` clients; returns the last count.
fn wait_clients(c: &mut RawConn, want: i64) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = connected_clients(c);
        if n == want || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A peer that closes at any byte of a request is freed at once, whatever state its query
/// buffer is in (regression: a request cut mid-bulk and then closed stayed in CLIENT LIST
/// with its socket in CLOSE_WAIT forever). Every shape is cut at every byte, on both servers.
#[test]
fn peer_closing_at_any_byte_is_freed() {
    let mut big = b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$70000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 70000));
    big.extend_from_slice(b"\r\n");
    let shapes: Vec<Vec<u8>> = vec![
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabcdefghij\r\n".to_vec(),
        b"SET k \"a b\"\r\n".to_vec(),
        b"PING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n".to_vec(),
        b"MULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n".to_vec(),
        b"*1\r\n$4\r\nPING\r\n\x00\xff*9\r\n$".to_vec(),
    ];
    for server in [common::ferrodis(), common::oracle()] {
        let mut control = server.conn();
        for shape in &shapes {
            for cut in 1..=shape.len() {
                let mut c = server.conn();
                c.send(&shape[..cut]);
                drop(c);
            }
        }
        // The big request, cut inside its 70,000-byte bulk at a few places.
        for cut in [40, 1000, 65536, 69999] {
            let mut c = server.conn();
            c.send(&big[..cut]);
            drop(c);
        }
        // A client blocked in BLPOP, and one paused mid-request by a half-sent bulk.
        let mut blocked = server.conn();
        blocked.send_cmd(&["BLPOP", "nothing", "0"]);
        std::thread::sleep(Duration::from_millis(50));
        drop(blocked);
        assert_eq!(
            wait_clients(&mut control, 1),
            1,
            "{}: clients that closed mid-request are still connected",
            server.bin().display()
        );
    }
}

/// A client that sends complete requests and then closes its writing side still has them
/// executed and gets their replies, as from redis-server.
#[test]
fn half_closed_client_gets_its_replies() {
    let mut d = Diff::new();
    for server in [d.ferrodis_server(), d.redis_server()] {
        let mut c = server.conn();
        c.send(b"SET k v\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*2\r\n$3\r\nGET");
        c.shutdown_write();
        assert_eq!(c.read_reply(), b"+OK\r\n");
        assert_eq!(c.read_reply(), b"$2\r\nhi\r\n");
        assert!(c.is_closed_within(Duration::from_secs(5)));
    }
    d.cmd(&["GET", "k"]);
}
