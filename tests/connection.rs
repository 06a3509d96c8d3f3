//! Differential tests of the connection commands (src/commands/connection.rs) against the
//! oracle: PING ECHO QUIT SELECT SWAPDB HELLO AUTH RESET and CLIENT ID SETNAME GETNAME LIST
//! INFO KILL REPLY NO-EVICT PAUSE UNPAUSE HELP.
//!
//! Replies that legitimately differ between two servers are compared by structure: client ids
//! (HELLO's id, CLIENT ID), ports and buffer sizes in CLIENT LIST lines.

mod common;

use common::*;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Runs `script` in RESP2, then again after HELLO 3, then returns to RESP2.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run(script);
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

/// Replaces the value after HELLO's `id` key with 0: client ids depend on how many
/// connections each server has seen.
fn mask_hello_id(reply: &[u8]) -> Vec<u8> {
    let key = b"$2\r\nid\r\n:";
    let Some(at) = reply.windows(key.len()).position(|w| w == key) else {
        return reply.to_vec();
    };
    let start = at + key.len();
    let end = start + reply[start..].iter().position(|&b| b == b'\r').unwrap_or(0);
    let mut out = reply[..start].to_vec();
    out.push(b'0');
    out.extend_from_slice(&reply[end..]);
    out
}

/// Sends a HELLO to both and compares the replies with the client id masked.
fn hello(d: &mut Diff, args: &[&str]) -> Vec<u8> {
    let (f, r) = d.both(args);
    let (f, r) = (mask_hello_id(&f), mask_hello_id(&r));
    assert_same(&show_command(args), &f, &r);
    f
}

/// The `key=value` fields of one CLIENT LIST line, in order.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect()
}

/// The value of field `k` in a CLIENT LIST line.
fn field(line: &str, k: &str) -> String {
    fields(line)
        .into_iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {k} in {line}"))
}

/// Fields whose values must be the same on both servers for equivalent clients; the others
/// (id, addr, laddr, fd, age, idle, buffer sizes, tot-mem) depend on the process.
const STABLE: &[&str] = &[
    "name",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "multi-mem",
    "oll",
    "omem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

/// The text of a CLIENT LIST / CLIENT INFO reply as lines.
fn lines(reply: &[u8]) -> Vec<String> {
    let v = parse_reply(reply).unwrap_or_else(|e| panic!("bad reply {}: {e}", escape(reply)));
    let text = v.text().unwrap_or_else(|| panic!("not text: {v:?}"));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "CLIENT LIST text must end with a newline: {text:?}"
    );
    text.lines().map(str::to_string).collect()
}

/// Compares CLIENT LIST / INFO replies: same reply type, same number of lines, the same field
/// names in the same order, equal stable fields, and qbuf/argv-mem equal for the caller's line
/// (whose query is the same on both sides).
fn same_client_lines(what: &str, f: &[u8], r: &[u8], caller: Option<usize>) {
    assert_eq!(f.first(), r.first(), "{what}: reply types differ");
    let (fl, rl) = (lines(f), lines(r));
    assert_eq!(
        fl.len(),
        rl.len(),
        "{what}: line counts differ: {fl:?} vs {rl:?}"
    );
    for (i, (a, b)) in fl.iter().zip(&rl).enumerate() {
        let (fa, fb) = (fields(a), fields(b));
        let names_a: Vec<&str> = fa.iter().map(|(k, _)| k.as_str()).collect();
        let names_b: Vec<&str> = fb.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names_a, names_b, "{what}: field names differ\n{a}\n{b}");
        let mut check: Vec<&str> = STABLE.to_vec();
        if caller == Some(i) {
            check.extend(["qbuf", "argv-mem"]);
        }
        for k in check {
            assert_eq!(
                field(a, k),
                field(b, k),
                "{what}: field {k} differs\n{a}\n{b}"
            );
        }
        for k in ["age", "idle"] {
            let (x, y): (i64, i64) = (field(a, k).parse().unwrap(), field(b, k).parse().unwrap());
            assert!((x - y).abs() <= 1, "{what}: {k} differs\n{a}\n{b}");
        }
    }
}

/// Waits until both servers list exactly `n` clients: the harness's start-up probe connection
/// may not be reaped yet when a test begins, and a killed client disappears asynchronously.
fn settle(d: &mut Diff, n: usize) {
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = conn
                .value(&["CLIENT", "LIST"])
                .text()
                .expect("CLIENT LIST text");
            let count = text.lines().count();
            if count == n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} clients, have:\n{text}"
            );
            sleep(Duration::from_millis(20));
        }
    }
}

/// Redis creates two internal clients at start-up, the Lua clients of EVAL and of FUNCTION
/// (ids 1 and 2), so its first connection is client 3: a fresh pair numbers connections alike
/// (the harness's readiness probe is the first one on each side). Found by the client matrix,
/// where the tracking-redir-broken push names a client id.
#[test]
fn client_ids_start_after_the_internal_clients() {
    let mut d = Diff::new();
    d.run("CLIENT ID\nHELLO 3\nCLIENT ID");
    let mut e = d.another();
    e.run("CLIENT ID");
}

/// Loading an AOF file takes a client id, as Redis's fake AOF client does (createAOFClient,
/// for every file but an empty one): DEBUG LOADAOF with an empty incr file takes one, with a
/// written one two.
#[test]
fn client_ids_after_aof_loading() {
    let mut d = Diff::with_args(&["--appendonly", "yes"]);
    // Start-up may probe either server more than once: compare the steps between ids.
    let ids = |d: &mut Diff| -> (i64, i64) {
        let (f, r) = d.both(&["CLIENT", "ID"]);
        let id = |raw: &[u8]| parse_reply(raw).unwrap().int().unwrap();
        (id(&f), id(&r))
    };
    let first = ids(&mut d);
    d.run("DEBUG LOADAOF");
    let second = ids(&mut d.another());
    d.run("SET k v\nDEBUG LOADAOF\nGET k");
    let third = ids(&mut d.another());
    assert_eq!(
        (second.0 - first.0, third.0 - second.0),
        (second.1 - first.1, third.1 - second.1),
        "ferrodis and redis-server ids: {first:?} {second:?} {third:?}"
    );
}

/// CLIENT ID on one connection.
fn client_id(conn: &mut RawConn) -> i64 {
    conn.value(&["CLIENT", "ID"])
        .int()
        .expect("CLIENT ID is an integer")
}

#[test]
fn ping_echo() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        PING
        PING hello
        PING ""
        PING a b
        ping "with space"
        ECHO
        ECHO hi
        ECHO ""
        ECHO a b
        ECHO "\x00\xff"
        "#,
    );
}

#[test]
fn select_and_swapdb() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        SELECT 0
        FLUSHALL
        SELECT 1
        SELECT 15
        SELECT 16
        SELECT -1
        SELECT x
        SELECT 1.0
        SELECT 4294967296
        SELECT -2147483649
        SELECT 2147483647
        SELECT
        SELECT 0
        SET a 1
        PEXPIREAT a 4000000000123
        SELECT 1
        SET b 2
        SWAPDB 0 1
        GET a
        GET b
        PEXPIRETIME b
        SELECT 0
        GET a
        GET b
        PEXPIRETIME b
        DBSIZE
        SWAPDB 1 1
        SWAPDB 0 1
        GET a
        SWAPDB a 1
        SWAPDB 1 a
        SWAPDB 0 16
        SWAPDB 16 0
        SWAPDB -1 0
        SWAPDB 4294967296 0
        SWAPDB 0 4294967296
        SWAPDB 0
        SWAPDB 0 1 2
        FLUSHALL
        "#,
    );
}

#[test]
fn swapdb_is_seen_by_other_clients() {
    let mut d = Diff::new();
    let mut other = d.another();
    d.run("SELECT 2\nSET k two\nSELECT 0\nSET k zero");
    other.run("SELECT 2\nGET k");
    d.run("SWAPDB 0 2");
    other.run("GET k\nSELECT 0\nGET k");
}

#[test]
fn quit_closes_after_reply() {
    let mut d = Diff::new();
    d.run("QUIT extra args");
    assert!(d.closed());
    let mut d = d.another();
    d.run("QUIT");
    assert!(d.closed());
}

#[test]
fn hello_variants() {
    let mut d = Diff::new();
    hello(&mut d, &["HELLO"]);
    hello(&mut d, &["HELLO", "3"]);
    hello(&mut d, &["HELLO"]);
    hello(&mut d, &["HELLO", "2"]);
    d.run(
        r#"
        HELLO 4
        HELLO 1
        HELLO 0
        HELLO -1
        HELLO x
        HELLO 2.0
        HELLO 99999999999999999999
        HELLO 3 foo
        HELLO 3 AUTH default
        HELLO 3 AUTH
        HELLO 3 SETNAME
        HELLO 3 AUTH default x SETNAME
        HELLO 3 SETNAME "a b"
        HELLO 3 SETNAME "a\nb"
        CLIENT GETNAME
        "#,
    );
    // Options are checked before anything changes: the protocol is still 2.
    d.run("DEBUG PROTOCOL null");
    hello(&mut d, &["HELLO", "2", "SETNAME", "a", "SETNAME", "b"]);
    d.run("CLIENT GETNAME");
    hello(&mut d, &["HELLO", "3", "SETNAME", ""]);
    d.run("CLIENT GETNAME");
    // No password configured: the default user takes any password, others do not exist.
    hello(&mut d, &["HELLO", "2", "AUTH", "default", "anything"]);
    d.run("HELLO 2 AUTH nobody anything");
    hello(
        &mut d,
        &["hello", "3", "auth", "default", "x", "setname", "n1"],
    );
    d.run("CLIENT GETNAME");
}

#[test]
fn auth_without_password() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        AUTH
        AUTH x
        AUTH default whatever
        AUTH foo whatever
        AUTH a b c
        PING
        "#,
    );
}

#[test]
fn auth_with_requirepass() {
    let mut d = Diff::with_args(&["--requirepass", "secret"]);
    d.run(
        r#"
        PING
        GET x
        CLIENT REPLY OFF
        QUIT_IS_NOT_A_COMMAND
        HELLO 3
        HELLO 3 AUTH default bad
        HELLO 3 AUTH foo secret
        AUTH bad
        AUTH default bad
        AUTH foo secret
        AUTH a b c
        AUTH
        AUTH secret
        PING
        AUTH bad
        PING
        RESET
        PING
        AUTH default secret
        PING
        RESET
        "#,
    );
    hello(
        &mut d,
        &["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "x"],
    );
    d.run("CLIENT GETNAME\nRESET\nCLIENT GETNAME\nAUTH secret\nCLIENT GETNAME");
    // A second connection starts unauthenticated; QUIT needs no authentication.
    let mut other = d.another();
    other.run("PING\nQUIT");
    assert!(other.closed());
}

#[test]
fn requirepass_set_and_cleared_at_runtime() {
    let mut d = Diff::new();
    let mut old = d.another();
    d.run("CONFIG SET requirepass secret");
    // Existing connections stay authenticated; new ones must authenticate.
    old.run("PING");
    let mut fresh = d.another();
    fresh.run("PING\nAUTH x\nPING");
    let mut unauth = d.another();
    unauth.run("PING");
    d.run("CONFIG SET requirepass \"\"");
    // With no password every connection counts as authenticated again.
    unauth.run("PING\nAUTH x\nAUTH default whatever");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let mut d = Diff::new();
    d.run(
        r#"
        SELECT 3
        SET k v
        CLIENT SETNAME foo
        CLIENT NO-EVICT ON
        ? HELLO 3
        CLIENT GETNAME
        RESET x
        RESET
        CLIENT GETNAME
        GET k
        DEBUG PROTOCOL null
        "#,
    );
    let (f, r) = d.both(&["CLIENT", "INFO"]);
    same_client_lines("CLIENT INFO after RESET", &f, &r, Some(0));
    // RESET turns replies back on.
    d.send(&["CLIENT", "REPLY", "OFF"]);
    d.send(&["PING", "lost"]);
    d.run("RESET\nPING");
    // A RESET whose own reply is skipped stays silent; the next reply is sent.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["RESET"]);
    d.run("PING after");
    d.run("SELECT 3\nFLUSHDB");
}

#[test]
fn reset_leaves_monitor_mode() {
    let mut d = Diff::new();
    let mut other = d.another();
    d.run("MONITOR");
    d.run("RESET");
    other.run("SET k v");
    assert!(d
        .ferrodis
        .try_read_reply(Duration::from_millis(300))
        .is_none());
    assert!(d.redis.try_read_reply(Duration::from_millis(300)).is_none());
    d.run("PING");
}

#[test]
fn client_id_setname_getname() {
    let mut d = Diff::new();
    let f = client_id(&mut d.ferrodis);
    let r = client_id(&mut d.redis);
    assert!(f > 0 && r > 0);
    let mut other = d.another();
    assert!(client_id(&mut other.ferrodis) > f);
    assert!(client_id(&mut other.redis) > r);
    both_protocols(
        &mut d,
        r#"
        CLIENT ID x
        CLIENT GETNAME
        CLIENT GETNAME x
        CLIENT SETNAME
        CLIENT SETNAME a b
        CLIENT SETNAME "a b"
        CLIENT SETNAME "a\nb"
        CLIENT SETNAME "\xc3\xa9"
        CLIENT SETNAME "\x7f"
        CLIENT GETNAME
        CLIENT SETNAME conn-1
        CLIENT GETNAME
        CLIENT SETNAME !~
        CLIENT GETNAME
        CLIENT SETNAME ""
        CLIENT GETNAME
        client setname Upper
        CLIENT GETNAME
        CLIENT SETNAME ""
        "#,
    );
}

#[test]
fn client_help_and_unknown() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        CLIENT HELP
        client help
        CLIENT HELP x
        CLIENT
        CLIENT foo
        CLIENT foo bar
        "#,
    );
}

#[test]
fn client_list_and_info() {
    let mut d = Diff::new();
    let mut other = d.another();
    other.run("CLIENT SETNAME second\nSELECT 5");
    settle(&mut d, 2);
    for proto in ["2", "3"] {
        d.run(&format!("? HELLO {proto}"));
        let (f, r) = d.both(&["CLIENT", "INFO"]);
        same_client_lines("CLIENT INFO", &f, &r, Some(0));
        let (f, r) = d.both(&["CLIENT", "LIST"]);
        same_client_lines("CLIENT LIST", &f, &r, Some(0));
        let (f, r) = d.both(&["client", "list", "TYPE", "normal"]);
        same_client_lines("CLIENT LIST TYPE normal", &f, &r, Some(0));
        assert_eq!(lines(&f).len(), 2);
        assert_eq!(field(&lines(&f)[1], "name"), "second");
        assert_eq!(field(&lines(&f)[1], "db"), "5");
        d.run(
            r#"
            CLIENT LIST TYPE master
            CLIENT LIST TYPE replica
            CLIENT LIST TYPE slave
            CLIENT LIST TYPE pubsub
            CLIENT LIST TYPE foo
            CLIENT LIST TYPE
            CLIENT LIST TYPE normal extra
            CLIENT LIST type normal id 1
            CLIENT LIST ID
            CLIENT LIST ID x
            CLIENT LIST ID 1 x
            CLIENT LIST ID 0
            CLIENT LIST ID -1
            CLIENT LIST ID 999999
            CLIENT LIST foo
            CLIENT INFO x
            "#,
        );
        // ID filters: each side asks for its own ids (they differ between the servers).
        let mine = (client_id(&mut d.ferrodis), client_id(&mut d.redis));
        let theirs = (client_id(&mut other.ferrodis), client_id(&mut other.redis));
        let f = d.ferrodis.cmd(&[
            "CLIENT".to_string(),
            "LIST".into(),
            "ID".into(),
            theirs.0.to_string(),
            "424242".into(),
            mine.0.to_string(),
            theirs.0.to_string(),
        ]);
        let r = d.redis.cmd(&[
            "CLIENT".to_string(),
            "LIST".into(),
            "ID".into(),
            theirs.1.to_string(),
            "424242".into(),
            mine.1.to_string(),
            theirs.1.to_string(),
        ]);
        same_client_lines("CLIENT LIST ID", &f, &r, Some(1));
        assert_eq!(lines(&f).len(), 3);
    }
}

#[test]
fn client_info_flags_and_fields() {
    let mut d = Diff::new();
    d.run("CLIENT NO-EVICT ON");
    let (f, r) = d.both(&["CLIENT", "INFO"]);
    same_client_lines("CLIENT INFO no-evict", &f, &r, Some(0));
    assert_eq!(field(&lines(&f)[0], "flags"), "e");
    d.run("CLIENT NO-EVICT off\nCLIENT NO-EVICT\nCLIENT NO-EVICT x\nCLIENT NO-EVICT on x");
    // A MONITOR client shows flag O and is still a normal client.
    let mut mon = d.another();
    settle(&mut d, 2);
    mon.run("MONITOR");
    let (f, r) = d.both(&["CLIENT", "LIST", "TYPE", "normal"]);
    same_client_lines("CLIENT LIST with a monitor", &f, &r, Some(0));
    assert_eq!(field(&lines(&f)[1], "flags"), "O");
}

#[test]
fn client_kill_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        CLIENT KILL
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL 127.0.0.1:1 x
        CLIENT KILL addr 1.2.3.4:5
        CLIENT KILL ADDR 1.2.3.4:5 SKIPME yes
        CLIENT KILL laddr 1.2.3.4:5
        CLIENT KILL ID 999999
        CLIENT KILL ID x
        CLIENT KILL ID 0
        CLIENT KILL ID -5
        CLIENT KILL TYPE foo
        CLIENT KILL TYPE master
        CLIENT KILL TYPE replica
        CLIENT KILL TYPE slave
        CLIENT KILL TYPE pubsub
        CLIENT KILL TYPE normal SKIPME
        CLIENT KILL SKIPME maybe
        CLIENT KILL SKIPME yes
        CLIENT KILL MAXAGE 5
        CLIENT KILL USER nobody
        CLIENT KILL USER default
        CLIENT KILL foo bar
        CLIENT KILL ID 1 ID
        PING
        "#,
    );
}

#[test]
fn client_kill_by_id_addr_laddr() {
    let mut d = Diff::new();
    // By id: each side kills its own second connection.
    let mut b = d.another();
    let ids = (client_id(&mut b.ferrodis), client_id(&mut b.redis));
    let f = d
        .ferrodis
        .cmd(&["CLIENT", "KILL", "ID", &ids.0.to_string()]);
    let r = d.redis.cmd(&["CLIENT", "KILL", "ID", &ids.1.to_string()]);
    assert_same("CLIENT KILL ID", &f, &r);
    assert_eq!(f, b":1\r\n");
    assert!(b.closed());
    let f = d
        .ferrodis
        .cmd(&["CLIENT", "KILL", "ID", &ids.0.to_string()]);
    let r = d.redis.cmd(&["CLIENT", "KILL", "ID", &ids.1.to_string()]);
    assert_same("CLIENT KILL ID again", &f, &r);
    assert_eq!(f, b":0\r\n");

    // By address, old and new form.
    let addr_of = |conn: &mut RawConn| {
        let v = conn.value(&["CLIENT", "INFO"]);
        field(&v.text().unwrap(), "addr")
    };
    let mut b = d.another();
    let addrs = (addr_of(&mut b.ferrodis), addr_of(&mut b.redis));
    let f = d.ferrodis.cmd(&["CLIENT", "KILL", &addrs.0]);
    let r = d.redis.cmd(&["CLIENT", "KILL", &addrs.1]);
    assert_same("CLIENT KILL addr", &f, &r);
    assert_eq!(f, b"+OK\r\n");
    assert!(b.closed());
    let f = d.ferrodis.cmd(&["CLIENT", "KILL", &addrs.0]);
    let r = d.redis.cmd(&["CLIENT", "KILL", &addrs.1]);
    assert_same("CLIENT KILL addr again", &f, &r);
    let mut b = d.another();
    let addrs = (addr_of(&mut b.ferrodis), addr_of(&mut b.redis));
    let f = d
        .ferrodis
        .cmd(&["CLIENT", "KILL", "ADDR", &addrs.0, "SKIPME", "yes"]);
    let r = d
        .redis
        .cmd(&["CLIENT", "KILL", "ADDR", &addrs.1, "SKIPME", "yes"]);
    assert_same("CLIENT KILL ADDR", &f, &r);
    assert!(b.closed());

    // LADDR and USER match every client; SKIPME yes spares the caller.
    let mut b = d.another();
    let mut c = d.another();
    settle(&mut d, 3);
    let laddrs = {
        let v = d.ferrodis.value(&["CLIENT", "INFO"]).text().unwrap();
        let w = d.redis.value(&["CLIENT", "INFO"]).text().unwrap();
        (field(&v, "laddr"), field(&w, "laddr"))
    };
    let f = d.ferrodis.cmd(&["CLIENT", "KILL", "LADDR", &laddrs.0]);
    let r = d.redis.cmd(&["CLIENT", "KILL", "LADDR", &laddrs.1]);
    assert_same("CLIENT KILL LADDR", &f, &r);
    assert_eq!(f, b":2\r\n");
    assert!(b.closed());
    assert!(c.closed());
    let mut b = d.another();
    settle(&mut d, 2);
    d.run("CLIENT KILL USER default\nPING");
    assert!(b.closed());
    let mut b = d.another();
    d.run("CLIENT KILL TYPE normal ID 999999\nCLIENT KILL TYPE pubsub");
    b.run("PING");
}

#[test]
fn client_kill_self() {
    // New form with SKIPME no: the caller is counted, gets its reply, then is closed.
    let mut d = Diff::new();
    let mut b = d.another();
    settle(&mut d, 2);
    d.run("CLIENT KILL TYPE normal SKIPME no");
    assert!(d.closed());
    assert!(b.closed());
    // Old form on one's own address: +OK, then closed.
    let mut d = Diff::new();
    let f = {
        let v = d.ferrodis.value(&["CLIENT", "INFO"]).text().unwrap();
        field(&v, "addr")
    };
    let r = {
        let v = d.redis.value(&["CLIENT", "INFO"]).text().unwrap();
        field(&v, "addr")
    };
    let (a, b) = (
        d.ferrodis.cmd(&["CLIENT", "KILL", &f]),
        d.redis.cmd(&["CLIENT", "KILL", &r]),
    );
    assert_same("CLIENT KILL own addr", &a, &b);
    assert!(d.closed());
}

#[test]
fn client_reply_modes() {
    let mut d = Diff::new();
    d.run("CLIENT REPLY\nCLIENT REPLY x\nCLIENT REPLY on x\nCLIENT REPLY ON");
    // OFF: nothing comes back, errors included, until ON.
    d.send(&["CLIENT", "REPLY", "OFF"]);
    d.send(&["PING"]);
    d.send(&["NOSUCHCOMMAND"]);
    d.send(&["GET"]);
    d.send(&["CLIENT", "REPLY", "x"]);
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["SET", "k", "v"]);
    d.run("CLIENT REPLY ON\nGET k");
    // SKIP: only the next command's reply is dropped.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["PING", "skipped"]);
    d.run("PING sent\nPING also");
    // SKIP twice in a row: the second SKIP is itself skipped and skips the next one.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["PING", "skipped"]);
    d.run("PING sent");
    // SKIP then ON: ON's own +OK is sent.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.run("CLIENT REPLY ON\nPING");
    // SKIP then OFF: stays off.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["CLIENT", "REPLY", "OFF"]);
    d.send(&["PING", "lost"]);
    d.run("CLIENT REPLY ON");
    // Errors of a skipped command are skipped too.
    d.send(&["CLIENT", "REPLY", "SKIP"]);
    d.send(&["NOSUCHCOMMAND"]);
    d.run("PING last\nDEL k");
}

#[test]
fn client_pause_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        CLIENT PAUSE
        CLIENT PAUSE x
        CLIENT PAUSE 1.5
        CLIENT PAUSE -1
        CLIENT PAUSE 10 foo
        CLIENT PAUSE x foo
        CLIENT PAUSE 10 write x
        CLIENT PAUSE 0
        CLIENT PAUSE 0 ALL
        CLIENT PAUSE 9223372036854775807
        CLIENT UNPAUSE
        CLIENT UNPAUSE x
        PING
        "#,
    );
}

#[test]
fn client_pause_all_delays_everyone() {
    // No timing assertion on how long the pause lasted: a loaded machine may stall between
    // two steps. A command sent during a long pause gets no reply while the pause holds, and
    // gets it once the pause ends.
    let mut d = Diff::new();
    let mut b = d.another();
    d.run("CLIENT PAUSE 2000 ALL");
    b.send(&["PING"]);
    assert!(b
        .ferrodis
        .try_read_reply(Duration::from_millis(300))
        .is_none());
    assert!(b.redis.try_read_reply(Duration::from_millis(300)).is_none());
    b.read();
}

#[test]
fn client_pause_write_blocks_only_writes() {
    let mut d = Diff::new();
    let mut b = d.another();
    d.run("CLIENT PAUSE 100000 WRITE");
    // Reads are served during the pause (a held read would time out here)...
    b.run("GET k");
    // ...writes are held.
    b.send(&["SET", "k", "v"]);
    assert!(b
        .ferrodis
        .try_read_reply(Duration::from_millis(200))
        .is_none());
    assert!(b.redis.try_read_reply(Duration::from_millis(200)).is_none());
    // A later PAUSE keeps the later end time and takes the new mode: WRITE for 100 s, then
    // WRITE for 10 ms still pauses writes.
    d.run("CLIENT PAUSE 10 WRITE");
    sleep(Duration::from_millis(100));
    assert!(b
        .ferrodis
        .try_read_reply(Duration::from_millis(200))
        .is_none());
    assert!(b.redis.try_read_reply(Duration::from_millis(200)).is_none());
    // UNPAUSE (not a write, so not paused) releases the held client at once.
    let mut c = d.another();
    c.run("CLIENT UNPAUSE");
    b.read();
    b.run("GET k");
}
