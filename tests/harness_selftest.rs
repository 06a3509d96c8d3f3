//! Tests of the test harness itself (tests/common). They run the oracle redis-server against
//! itself, so they pass before ferrodis exists and tell a harness bug from a server bug: reply
//! framing of every RESP2/RESP3 type, the differential comparison and its failure report, the
//! unordered compare, the script syntax, connection-state checks and the server lifecycle.

mod common;

use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Runs `f`, expects it to panic, and returns the panic message.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    if let Some(s) = err.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = err.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::from("<non-string panic>")
    }
}

/// A Diff whose two sides are both the oracle.
fn oracle_pair() -> Diff {
    Diff::from_servers(oracle(), oracle())
}

/// Replies of every shape we know, used by the pure framer tests.
const SAMPLES: &[&[u8]] = &[
    b"+OK\r\n",
    b"-ERR unknown command\r\n",
    b":-12345\r\n",
    b"$0\r\n\r\n",
    b"$5\r\nhe\r\no\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"_\r\n",
    b",3.141\r\n",
    b",inf\r\n",
    b"#t\r\n",
    b"(1234567999999999999999999999999999999\r\n",
    b"!21\r\nSYNTAX invalid syntax\r\n",
    b"=15\r\ntxt:Some string\r\n",
    b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n+x\r\n",
    b"%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n",
    b"~2\r\n+orange\r\n+apple\r\n",
    b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
    b"|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n",
    b"|0\r\n:1\r\n",
    b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n",
    b"|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n*1\r\n:9\r\n+real\r\n",
    b"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;0\r\n",
    b"*?\r\n:1\r\n*?\r\n.\r\n$1\r\nx\r\n.\r\n",
    b"%?\r\n+a\r\n:1\r\n.\r\n",
    b"*1\r\n*1\r\n*1\r\n*0\r\n",
];

#[test]
fn framer_finds_the_end_of_every_reply_shape() {
    for &sample in SAMPLES {
        let shown = escape(sample);
        assert_eq!(frame_len(sample), Ok(Some(sample.len())), "{shown}");
        for cut in 0..sample.len() {
            assert_eq!(frame_len(&sample[..cut]), Ok(None), "{shown} cut at {cut}");
        }
        let mut two = sample.to_vec();
        two.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(frame_len(&two), Ok(Some(sample.len())), "{shown} + next");
        assert_eq!(split_replies(&two).unwrap(), vec![sample, b"+NEXT\r\n"]);
        parse_reply(sample).unwrap_or_else(|e| panic!("{shown}: {e}"));
    }
}

#[test]
fn framer_rejects_garbage() {
    for bad in [
        &b"hello\r\n"[..],
        b"$abc\r\n",
        b"$3\r\nabcXY",
        b"%-1\r\n",
        b"!-1\r\n",
        b".\r\n",
        b"$?\r\nxx\r\n",
        b"*99999999999999999999\r\n",
    ] {
        assert!(frame_len(bad).is_err(), "{} accepted", escape(bad));
    }
}

#[test]
fn framer_handles_deep_nesting_without_recursion() {
    let depth = 200_000;
    let mut buf = b"*1\r\n".repeat(depth);
    buf.extend_from_slice(b":1\r\n");
    assert_eq!(frame_len(&buf), Ok(Some(buf.len())));
    assert_eq!(frame_len(&buf[..buf.len() - 1]), Ok(None));
    assert!(
        parse_reply(&buf).is_err(),
        "parse_reply must refuse, not overflow"
    );
}

#[test]
fn parse_reply_builds_values() {
    assert_eq!(parse_reply(b":42\r\n"), Ok(Reply::Int(42)));
    assert_eq!(parse_reply(b"$-1\r\n"), Ok(Reply::Nil));
    assert_eq!(
        parse_reply(b"%1\r\n+a\r\n#f\r\n"),
        Ok(Reply::Map(vec![(
            Reply::Status(b"a".to_vec()),
            Reply::Bool(false)
        )]))
    );
    assert_eq!(
        parse_reply(b"=8\r\ntxt:abcd\r\n"),
        Ok(Reply::Verbatim {
            format: b"txt".to_vec(),
            text: b"abcd".to_vec()
        })
    );
    assert_eq!(
        parse_reply(b"$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n"),
        Ok(Reply::Bulk(b"abc".to_vec()))
    );
    let attr = parse_reply(b"|1\r\n+k\r\n:1\r\n*2\r\n:1\r\n:2\r\n").unwrap();
    assert_eq!(attr.items().map(|i| i.len()), Some(2));
    assert!(parse_reply(b":1\r\n:2\r\n").is_err(), "trailing bytes");
    assert!(parse_reply(b"*2\r\n:1\r\n").is_err(), "incomplete");
}

/// Every RESP3 type the oracle can produce, framed exactly; each reply is followed by a PING in
/// the same write so a framing error would show up as a wrong next reply.
#[test]
fn framing_of_every_resp3_type_from_the_oracle() {
    let server = oracle();
    let mut c = server.conn();
    let hello = c.value(&["HELLO", "3"]);
    assert!(matches!(hello, Reply::Map(_)), "HELLO 3 gave {hello:?}");
    let cases: &[(&str, &[&[u8]])] = &[
        ("string", &[b"$11\r\nHello World\r\n"]),
        ("integer", &[b":12345\r\n"]),
        ("double", &[b",3.141\r\n"]),
        ("bignum", &[b"(1234567999999999999999999999999999999\r\n"]),
        ("null", &[b"_\r\n"]),
        ("array", &[b"*3\r\n:0\r\n:1\r\n:2\r\n"]),
        ("set", &[b"~3\r\n:0\r\n:1\r\n:2\r\n"]),
        ("map", &[b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"]),
        (
            "attrib",
            &[b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n"],
        ),
        (
            "push",
            &[
                b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n",
                b"$40\r\nSome real reply following the push reply\r\n",
            ],
        ),
        ("verbatim", &[b"=29\r\ntxt:This is a verbatim\nstring\r\n"]),
        ("true", &[b"#t\r\n"]),
        ("false", &[b"#f\r\n"]),
    ];
    for (kind, expected) in cases {
        let mut req = encode_command(&["DEBUG", "PROTOCOL", kind]);
        req.extend_from_slice(&encode_command(&["PING"]));
        c.send(&req);
        for frame in expected.iter() {
            let got = c.read_reply();
            assert_eq!(got, *frame, "DEBUG PROTOCOL {kind}: {}", escape(&got));
            parse_reply(&got).unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        assert_eq!(c.read_reply(), b"+PONG\r\n", "after DEBUG PROTOCOL {kind}");
        assert!(c.pending().is_empty());
    }
}

#[test]
fn framing_of_resp2_forms_and_large_replies() {
    let server = oracle();
    let mut c = server.conn();
    assert_eq!(c.cmd(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["BLPOP", "missing", "0.01"]), b"*-1\r\n");
    assert_eq!(
        c.cmd(&["DEBUG", "PROTOCOL", "map"]),
        b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return {1,{2,{3,'x'}},redis.error_reply('E')}", "0"]),
        b"*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n-ERR E\r\n"
    );
    // A bulk far larger than one socket read, and an array of many elements.
    let big = vec![b'z'; 3 * 1024 * 1024 + 7];
    assert_eq!(c.cmd(&[&b"SET"[..], b"big", &big]), b"+OK\r\n");
    let got = c.cmd(&["GET", "big"]);
    assert_eq!(
        got.len(),
        big.len() + format!("${}\r\n\r\n", big.len()).len()
    );
    let fields: Vec<String> = (0..5000).map(|i| format!("m{i}")).collect();
    let mut sadd: Vec<&str> = vec!["SADD", "s"];
    sadd.extend(fields.iter().map(|s| s.as_str()));
    assert_eq!(c.cmd(&sadd), b":5000\r\n");
    let members = c.value(&["SMEMBERS", "s"]);
    assert_eq!(members.items().map(|m| m.len()), Some(5000));
    // Pipelined replies come back one by one.
    let replies = c.pipeline(&[
        &["PING"][..],
        &["ECHO", "a"],
        &["INCR", "n"],
        &["INCR", "n"],
    ]);
    assert_eq!(
        replies,
        vec![
            b"+PONG\r\n".to_vec(),
            b"$1\r\na\r\n".to_vec(),
            b":1\r\n".to_vec(),
            b":2\r\n".to_vec()
        ]
    );
}

#[test]
fn push_messages_are_whole_replies() {
    let server = oracle();
    let mut sub = server.conn();
    sub.cmd(&["HELLO", "3"]);
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    let mut publisher = server.conn();
    assert_eq!(publisher.cmd(&["PUBLISH", "ch", "hi"]), b":1\r\n");
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    // In RESP3 a subscribed client may still run ordinary commands.
    assert_eq!(sub.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn diff_of_identical_servers_passes() {
    let mut d = oracle_pair();
    assert_eq!(d.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(d.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(d.raw(b"PING\r\n"), b"+PONG\r\n");
    assert_eq!(d.raw(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"), b"$2\r\nhi\r\n");
    d.run(
        r#"
        # comments and blank lines are skipped

        SET "spaced key" 'single \'quoted\''
        GET "spaced key"
        SET bin "\x00\xff\r\n"
        STRLEN bin
        RPUSH l a b c
        LRANGE l 0 -1
        SADD s x y z w
        ~ SMEMBERS s
        HSET h f1 v1 f2 v2
        ~~ HGETALL h
        ? INFO server
        ? CLIENT ID
        INCRBY counter 5
        HELLO 3
        ~ HGETALL h
        GET nosuch
        "#,
    );
    assert_eq!(d.cmd(&["GET", "bin"]), b"$4\r\n\x00\xff\r\n\r\n");
    assert_eq!(d.cmd(&["GET", "spaced key"]), b"$15\r\nsingle 'quoted'\r\n");
    let (f, r) = d.both(&["CLIENT", "ID"]);
    assert!(f.starts_with(b":") && r.starts_with(b":"));
}

#[test]
fn diff_mismatch_reports_command_and_both_replies() {
    let mut d = oracle_pair();
    d.ferrodis.cmd(&["SET", "k", "only\r\nhere"]);
    let msg = panic_message(|| {
        d.cmd(&["GET", "k"]);
    });
    assert!(msg.contains("differential mismatch"), "{msg}");
    assert!(msg.contains(r#""GET" "k""#), "{msg}");
    assert!(
        msg.contains(r#"ferrodis: "$10\r\nonly\r\nhere\r\n""#),
        "{msg}"
    );
    assert!(msg.contains(r#"redis:    "$-1\r\n""#), "{msg}");
    assert!(msg.contains("first difference at byte 1"), "{msg}");

    let msg = panic_message(|| d.run("PING\nGET k\n"));
    assert!(msg.contains("script line 2"), "{msg}");
}

#[test]
fn unordered_compare_ignores_order_only() {
    let mut d = oracle_pair();
    d.ferrodis.cmd(&["RPUSH", "l", "a", "b", "c"]);
    d.redis.cmd(&["RPUSH", "l", "c", "a", "b"]);
    let msg = panic_message(|| {
        d.cmd(&["LRANGE", "l", "0", "-1"]);
    });
    assert!(msg.contains("differential mismatch"), "{msg}");
    assert_eq!(
        d.unordered(&["LRANGE", "l", "0", "-1"]),
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    d.run("~ LRANGE l 0 -1");

    // Different members still fail.
    d.ferrodis.cmd(&["RPUSH", "l", "d"]);
    d.redis.cmd(&["RPUSH", "l", "e"]);
    let msg = panic_message(|| {
        d.unordered(&["LRANGE", "l", "0", "-1"]);
    });
    assert!(msg.contains("(unordered)"), "{msg}");

    // Pairs: the same field/value pairs in another order pass, swapped values do not.
    d.ferrodis.cmd(&["RPUSH", "p", "f1", "v1", "f2", "v2"]);
    d.redis.cmd(&["RPUSH", "p", "f2", "v2", "f1", "v1"]);
    d.unordered_pairs(&["LRANGE", "p", "0", "-1"]);
    d.ferrodis.cmd(&["RPUSH", "q", "f1", "v1", "f2", "v2"]);
    d.redis.cmd(&["RPUSH", "q", "f1", "v2", "f2", "v1"]);
    d.unordered(&["LRANGE", "q", "0", "-1"]);
    panic_message(|| {
        d.unordered_pairs(&["LRANGE", "q", "0", "-1"]);
    });
}

#[test]
fn sort_reply_sorts_top_level_elements_and_pairs() {
    assert_eq!(
        sort_reply(b"*3\r\n$1\r\nc\r\n$1\r\na\r\n*1\r\n:1\r\n", false),
        b"*3\r\n$1\r\na\r\n$1\r\nc\r\n*1\r\n:1\r\n"
    );
    assert_eq!(
        sort_reply(b"%2\r\n+b\r\n:1\r\n+a\r\n:2\r\n", false),
        b"%2\r\n+a\r\n:2\r\n+b\r\n:1\r\n"
    );
    assert_eq!(
        sort_reply(b"*4\r\n+b\r\n:1\r\n+a\r\n:2\r\n", true),
        b"*4\r\n+a\r\n:2\r\n+b\r\n:1\r\n"
    );
    assert_eq!(
        sort_reply(b"~2\r\n+y\r\n+x\r\n", false),
        b"~2\r\n+x\r\n+y\r\n"
    );
    for unchanged in [&b"+OK\r\n"[..], b"*-1\r\n", b"*0\r\n", b"$1\r\nx\r\n"] {
        assert_eq!(sort_reply(unchanged, false), unchanged);
    }
}

#[test]
fn split_args_follows_redis_cli_rules() {
    let s = |l: &str| split_args(l).unwrap();
    assert_eq!(
        s("  SET  k   v "),
        vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]
    );
    assert_eq!(
        s(r#"a "b c" 'd e'"#)[1..],
        [b"b c".to_vec(), b"d e".to_vec()]
    );
    assert_eq!(s(r#""\x41\x7a\n\r\t\"\\""#), vec![b"Az\n\r\t\"\\".to_vec()]);
    assert_eq!(
        s(r#"'it\'s' "\xZZ""#),
        vec![b"it's".to_vec(), b"xZZ".to_vec()]
    );
    assert_eq!(s(r#""" ''"#), vec![Vec::new(), Vec::new()]);
    assert_eq!(s(""), Vec::<Vec<u8>>::new());
    assert!(split_args(r#""unterminated"#).is_err());
    assert!(split_args("'unterminated").is_err());
    assert!(split_args(r#""a"b"#).is_err());
}

#[test]
fn closed_connections_are_detected() {
    let server = oracle();
    let mut c = server.conn();
    assert!(!c.is_closed_within(Duration::from_millis(50)));
    assert_eq!(c.cmd(&["QUIT"]), b"+OK\r\n");
    assert!(c.is_closed());

    // Killed from another connection.
    let mut victim = server.conn();
    victim.cmd(&["CLIENT", "SETNAME", "victim"]);
    let mut admin = server.conn();
    let id = victim.value(&["CLIENT", "ID"]).int().unwrap().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    assert!(victim.is_closed());

    // A protocol error is answered, then the connection is closed, on both sides alike.
    let mut d = oracle_pair();
    assert_eq!(
        d.raw(b"*1\r\n$x\r\n"),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(d.closed());
}

#[test]
fn reads_time_out_instead_of_hanging() {
    let server = oracle();
    let mut c = server.conn();
    c.set_timeout(Duration::from_millis(200));
    c.send_cmd(&["BLPOP", "empty", "0"]);
    assert_eq!(c.try_read_reply(Duration::from_millis(100)), None);
    let start = Instant::now();
    let msg = panic_message(|| {
        c.read_reply();
    });
    assert!(msg.contains("no complete reply"), "{msg}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // Blocked on one pair, released from another pair on the same servers.
    let mut d = oracle_pair();
    let mut other = d.another();
    d.send(&["BLPOP", "q", "0"]);
    assert_eq!(d.ferrodis.try_read_reply(Duration::from_millis(50)), None);
    other.cmd(&["RPUSH", "q", "x"]);
    assert_eq!(d.read(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

#[test]
fn servers_take_extra_args_and_die_on_drop() {
    let server = oracle_with(&["--maxmemory", "1mb", "--save", "900 1"]);
    let mut c = server.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"
    );
    // Later arguments override the defaults.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "save"]),
        b"*2\r\n$4\r\nsave\r\n$5\r\n900 1\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "enable-debug-command"]),
        b"*2\r\n$20\r\nenable-debug-command\r\n$3\r\nyes\r\n"
    );
    let (port, pid, dir) = (server.port(), server.pid(), server.dir().to_path_buf());
    assert!(server.is_running());
    assert!(dir.join("server.log").exists());
    drop(c);
    drop(server);
    // Drop waits for the child, so not even a zombie is left.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!dir.exists());
}

#[test]
fn bare_servers_skip_the_defaults() {
    let server = Server::start_bare(oracle_bin(), &["--save", ""]);
    let mut c = server.conn();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "enable-debug-command"]),
        b"*2\r\n$20\r\nenable-debug-command\r\n$2\r\nno\r\n"
    );
}

#[test]
fn failed_starts_show_the_server_log() {
    let msg = panic_message(|| {
        oracle_with(&["--no-such-directive", "1"]);
    });
    assert!(msg.contains("exited during startup"), "{msg}");
    assert!(msg.contains("no-such-directive"), "{msg}");
    assert!(msg.contains("server log"), "{msg}");
}

#[test]
fn restart_keeps_port_and_directory() {
    let server = oracle();
    let mut c = server.conn();
    c.cmd(&["SET", "persisted", "yes"]);
    let old_pid = server.pid();
    drop(c);
    server.restart(&["SAVE"]);
    assert_ne!(server.pid(), old_pid);
    assert!(server.dir().join("dump.rdb").exists());
    let mut c = server.conn();
    assert_eq!(c.cmd(&["GET", "persisted"]), b"$3\r\nyes\r\n");
}

#[test]
fn oracle_lookup_fails_loudly_when_missing() {
    let path = std::env::var_os("PATH");
    assert!(find_in_path("sh".as_ref(), path.as_deref()).is_some());
    assert!(find_in_path("surely-no-such-redis-server".as_ref(), path.as_deref()).is_none());
    assert!(find_in_path("redis-server".as_ref(), Some("/nonexistent".as_ref())).is_none());
    assert!(oracle_bin().exists());
}
