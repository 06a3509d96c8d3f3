//! MIGRATE outside cluster mode, differential: ferrodis and the oracle each migrate to a third
//! server (a redis-server), one after the other, with the target reset to the same state
//! before each; the replies, the keys left on each source and what the target received are
//! compared. Then what only ferrodis can show: other clients are served while a MIGRATE waits
//! for a stopped target, and a client that leaves in the middle harms nothing.
//!
//! Every wait is bounded; every server is stopped when its `Server` drops.

mod common;

use common::repl::*;
use common::*;
use std::time::{Duration, Instant};

/// What the target holds: its keys (sorted) in db `db`, each with its DUMP and whether it
/// has a TTL.
fn target_state(t: &mut RawConn, db: &str) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
    t.cmd(&["SELECT", db]);
    let keys = t.value(&["KEYS", "*"]);
    let mut keys: Vec<Vec<u8>> = keys
        .items()
        .unwrap()
        .iter()
        .map(|k| k.bytes().unwrap().to_vec())
        .collect();
    keys.sort();
    let out = keys
        .into_iter()
        .map(|k| {
            let dump = t.cmd(&[&b"DUMP"[..], &k]);
            let ttl = t.value(&[&b"PTTL"[..], &k]).int().unwrap();
            (k, dump, ttl > 0)
        })
        .collect();
    t.cmd(&["SELECT", "0"]);
    out
}

/// The target and a connection to it, reset to `setup` before each side runs.
struct Target {
    server: Server,
    conn: RawConn,
    setup: Vec<Vec<String>>,
}

impl Target {
    fn new(extra: &[&str]) -> Target {
        let server = oracle_with(extra);
        let conn = server.conn();
        Target {
            server,
            conn,
            setup: Vec::new(),
        }
    }

    fn port(&self) -> String {
        self.server.port().to_string()
    }

    fn reset(&mut self) {
        self.conn.cmd(&["FLUSHALL"]);
        for c in self.setup.clone() {
            self.conn.cmd(&c);
        }
    }
}

/// Runs `cmd` on ferrodis then on the oracle, each against a freshly reset target, and
/// compares replies, the target's db `db` afterwards, and the sources' `check` keys.
fn migrate_both(d: &mut Diff, t: &mut Target, cmd: &[&str], db: &str, check: &[&str]) -> Vec<u8> {
    let mut replies = Vec::new();
    let mut states = Vec::new();
    for side in 0..2 {
        t.reset();
        let conn = if side == 0 {
            &mut d.ferrodis
        } else {
            &mut d.redis
        };
        replies.push(conn.cmd(cmd));
        states.push(target_state(&mut t.conn, db));
    }
    let what = show_command(cmd);
    assert_same(&what, &replies[0], &replies[1]);
    assert_eq!(states[0], states[1], "{what}: the targets differ");
    for k in check {
        d.cmd(&["EXISTS", k]);
    }
    replies.swap_remove(0)
}

#[test]
fn migrate_single_key_copy_replace_nokey() {
    let mut d = Diff::new();
    let mut t = Target::new(&[]);
    let tp = t.port();
    d.run("SET k hello\nRPUSH list a b c\nHSET h f v\nSET ttl v PX 100000");
    // Missing key: NOKEY, nothing sent.
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "nokey", "0", "5000"],
        "0",
        &[],
    );
    // COPY leaves the key.
    let r = migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000", "COPY"],
        "0",
        &["k"],
    );
    assert_eq!(r, b"+OK\r\n");
    // The target has it: BUSYKEY without REPLACE, passed through; the key stays.
    t.setup = vec![vec!["SET".into(), "k".into(), "old".into()]];
    let r = migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000"],
        "0",
        &["k"],
    );
    assert!(
        r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"),
        "{}",
        escape(&r)
    );
    migrate_both(
        &mut d,
        &mut t,
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "k",
            "0",
            "5000",
            "REPLACE",
            "COPY",
        ],
        "0",
        &["k"],
    );
    // Moved for real: gone from the source.
    t.setup.clear();
    let r = migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "k", "3", "5000"],
        "3",
        &["k"],
    );
    assert_eq!(r, b"+OK\r\n");
    // A TTL travels.
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "ttl", "0", "5000"],
        "0",
        &["ttl"],
    );
    // KEYS form, with a missing key among them; one refused by the target (BUSYKEY) while
    // the others move.
    t.setup = vec![vec!["SET".into(), "h".into(), "x".into()]];
    let r = migrate_both(
        &mut d,
        &mut t,
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "5000",
            "KEYS",
            "list",
            "missing",
            "h",
        ],
        "0",
        &["list", "h", "missing"],
    );
    assert!(
        r.starts_with(b"-ERR Target instance replied with error: BUSYKEY"),
        "{}",
        escape(&r)
    );
    // Nothing of the KEYS list exists.
    migrate_both(
        &mut d,
        &mut t,
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "5000",
            "KEYS",
            "a",
            "b",
        ],
        "0",
        &[],
    );
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "", "0", "5000", "KEYS"],
        "0",
        &[],
    );
    d.cmd(&["DBSIZE"]);
}

#[test]
fn migrate_argument_errors_and_boundaries() {
    let mut d = Diff::new();
    let mut t = Target::new(&[]);
    let tp = t.port();
    // Only five digits of the port count, and they wrap at 65536.
    let wrapped = (t.server.port() as i64 + 65536).to_string();
    let long = format!("{}7", t.server.port());
    let errors: &[&[&str]] = &[
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000", "AUTH"],
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000", "AUTH2", "u"],
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000", "KEYS", "k"],
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "k",
            "0",
            "5000",
            "COPY",
            "bogus",
        ],
        &["MIGRATE", "127.0.0.1", &tp, "k", "0"],
    ];
    for e in errors {
        d.cmd(e);
    }
    let nums = [
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551616",
        "",
        "1.5",
        " 1",
    ];
    // timeout: <= 0 means 1000 ms; not a number is an error (checked before the db).
    for n in nums {
        d.cmd(&["SET", "k", "v"]);
        migrate_both(
            &mut d,
            &mut t,
            &["MIGRATE", "127.0.0.1", &tp, "k", "x", n],
            "0",
            &["k"],
        );
        migrate_both(
            &mut d,
            &mut t,
            &["MIGRATE", "127.0.0.1", &tp, "k", "0", n],
            "0",
            &["k"],
        );
    }
    // db: any long goes to the target, whose SELECT refuses what it does not have.
    for n in nums {
        d.cmd(&["SET", "k", "v"]);
        migrate_both(
            &mut d,
            &mut t,
            &["MIGRATE", "127.0.0.1", &tp, "k", n, "5000"],
            "0",
            &["k"],
        );
    }
    // port: atoi; a negative one is no service, 0 and closed ports are refused (Redis reports
    // a refused connect as a write error), and 65536 + p reaches p.
    d.cmd(&["SET", "k", "v"]);
    let closed = free_port().to_string();
    let ports = [
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551616",
        "",
        "abc",
        &closed,
        &wrapped,
        &long,
    ];
    for p in ports {
        d.cmd(&["SET", "k", "v"]);
        migrate_both(
            &mut d,
            &mut t,
            &["MIGRATE", "127.0.0.1", p, "k", "0", "1000", "COPY"],
            "0",
            &["k"],
        );
    }
    let tp_suffix = format!("{tp}xyz");
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp_suffix, "k", "0", "1000"],
        "0",
        &["k"],
    );
    // Hosts that do not resolve, or that are no address at all.
    d.cmd(&["SET", "k", "v"]);
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "", &tp, "k", "0", "1000"],
        "0",
        &["k"],
    );
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "localhost", &tp, "k", "0", "1000"],
        "0",
        &["k"],
    );
}

#[test]
fn migrate_auth_and_auth2() {
    let mut d = Diff::new();
    let mut t = Target::new(&["--requirepass", "sekret"]);
    t.conn.cmd(&["AUTH", "sekret"]);
    t.conn
        .cmd(&["ACL", "SETUSER", "mover", "on", ">pw2", "~*", "+@all"]);
    let tp = t.port();
    for (i, auth) in [
        vec!["AUTH", "sekret"],
        vec!["AUTH", "wrong"],
        vec!["AUTH2", "mover", "pw2"],
        vec!["AUTH2", "mover", "bad"],
        vec!["AUTH2", "nobody", "pw2"],
        vec![],
    ]
    .into_iter()
    .enumerate()
    {
        let k = format!("k{i}");
        d.cmd(&["SET", &k, "v"]);
        let mut cmd = vec!["MIGRATE", "127.0.0.1", &tp, &k, "0", "5000"];
        cmd.extend(auth);
        migrate_both(&mut d, &mut t, &cmd, "0", &[&k]);
        // The reset logged the target's connection in again for the next round.
        t.conn.cmd(&["AUTH", "sekret"]);
    }
    // The password never shows in SLOWLOG.
    d.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    d.cmd(&["SET", "s", "v"]);
    d.both(&[
        "MIGRATE",
        "127.0.0.1",
        &tp,
        "s",
        "0",
        "5000",
        "COPY",
        "AUTH2",
        "mover",
        "pw2",
    ]);
    let (f, r) = d.both(&["SLOWLOG", "GET", "2"]);
    for log in [&f, &r] {
        let text = String::from_utf8_lossy(log);
        assert!(
            !text.contains("pw2") && text.contains("(redacted)"),
            "{text}"
        );
    }
}

#[test]
fn migrate_reuses_and_retries_cached_connections() {
    let mut d = Diff::new();
    let mut t = Target::new(&[]);
    let tp = t.port();
    d.run("SET a 1\nSET b 2\nSET c 3");
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "a", "0", "5000", "COPY"],
        "0",
        &["a"],
    );
    // Both sides keep one connection.
    let f = stat(&mut d.ferrodis, "stats", "migrate_cached_sockets");
    let r = stat(&mut d.redis, "stats", "migrate_cached_sockets");
    assert_eq!((f, r), (1, 1));
    // The target drops every client: the cached connections are dead, and the next MIGRATE
    // retries once on a fresh one, as Redis does.
    t.conn
        .cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    std::thread::sleep(Duration::from_millis(100));
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "b", "0", "5000", "COPY"],
        "0",
        &["b"],
    );
    // A second db: SELECT on the cached connection.
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "c", "5", "5000", "COPY"],
        "5",
        &["c"],
    );
    // Inside MULTI/EXEC it runs at once.
    d.cmd(&["MULTI"]);
    d.cmd(&["MIGRATE", "127.0.0.1", &tp, "c", "0", "5000"]);
    d.cmd(&["GET", "c"]);
    t.reset();
    let f = d.ferrodis.cmd(&["EXEC"]);
    t.reset();
    let r = d.redis.cmd(&["EXEC"]);
    assert_same("EXEC with MIGRATE", &f, &r);
    d.cmd(&["EXISTS", "c"]);
}

#[test]
fn migrate_propagates_del() {
    let mut d = Diff::with_args(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut t = Target::new(&[]);
    let tp = t.port();
    d.run("SET moved 1\nSET copied 2\nSET other 3");
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "copied", "0", "5000", "COPY"],
        "0",
        &["copied"],
    );
    migrate_both(
        &mut d,
        &mut t,
        &[
            "MIGRATE",
            "127.0.0.1",
            &tp,
            "",
            "0",
            "5000",
            "KEYS",
            "moved",
            "nope",
            "other",
        ],
        "0",
        &["moved", "other"],
    );
    let aof = |s: &Server| -> Vec<u8> {
        let dir = s.dir().join("appendonlydir");
        let mut out = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for e in files {
            if e.file_name().to_string_lossy().contains(".incr.") {
                out.extend(std::fs::read(e.path()).unwrap());
            }
        }
        out
    };
    let (f, r) = (aof(d.ferrodis_server()), aof(d.redis_server()));
    assert_same("the incremental AOF", &f, &r);
    let want = b"*3\r\n$3\r\nDEL\r\n$5\r\nmoved\r\n$5\r\nother\r\n";
    assert!(f.windows(want.len()).any(|w| w == want), "{}", escape(&f));
}

/// The target is stopped: the MIGRATE waits for its timeout and fails as Redis's does, while
/// other clients are served; a command on the key being moved waits for the MIGRATE.
#[test]
fn migrate_timeout_keeps_serving_others() {
    let mut d = Diff::new();
    let t = Target::new(&[]);
    let tp = t.port();
    d.run("SET k v\nSET j w");
    signal(&t.server, "-STOP");
    let mut replies = Vec::new();
    for side in 0..2 {
        let s = if side == 0 {
            d.ferrodis_server()
        } else {
            d.redis_server()
        };
        let mut a = s.conn();
        let mut b = s.conn();
        let started = Instant::now();
        a.send_cmd(&["MIGRATE", "127.0.0.1", &tp, "k", "0", "1500"]);
        std::thread::sleep(Duration::from_millis(200));
        if side == 0 {
            // ferrodis answers others meanwhile.
            b.set_timeout(Duration::from_millis(500));
            let t0 = Instant::now();
            assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
            assert_eq!(b.cmd(&["GET", "j"]), b"$1\r\nw\r\n");
            assert!(t0.elapsed() < Duration::from_millis(500));
            b.set_timeout(Duration::from_secs(10));
            // A command on the key waits for the MIGRATE to end.
            b.send_cmd(&["GET", "k"]);
            assert_eq!(b.try_read_reply(Duration::from_millis(300)), None);
        }
        a.set_timeout(Duration::from_secs(10));
        let r = a.read_reply();
        assert!(
            started.elapsed() >= Duration::from_millis(1400),
            "{:?}",
            started.elapsed()
        );
        if side == 0 {
            assert_eq!(b.read_reply(), b"$1\r\nv\r\n");
        }
        replies.push(r);
    }
    signal(&t.server, "-CONT");
    assert_same("MIGRATE to a stopped target", &replies[0], &replies[1]);
    assert_eq!(
        replies[0],
        b"-IOERR error or timeout reading to target instance\r\n"
    );
    d.cmd(&["EXISTS", "k"]);
}

/// A client that disconnects while its MIGRATE waits: nothing breaks, the key stays, and the
/// next MIGRATE works.
#[test]
fn migrate_client_gone_in_flight() {
    let f = ferrodis();
    let t = Target::new(&[]);
    let tp = t.port();
    let mut c = f.conn();
    c.cmd(&["SET", "k", "v"]);
    signal(&t.server, "-STOP");
    {
        let mut gone = f.conn();
        gone.send_cmd(&["MIGRATE", "127.0.0.1", &tp, "k", "0", "800"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    // The key is free again as soon as its client left.
    c.set_timeout(Duration::from_millis(500));
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(1000));
    signal(&t.server, "-CONT");
    c.set_timeout(Duration::from_secs(10));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":1\r\n");
    // The stopped target may still run the RESTORE it had been sent.
    let mut tc = t.server.conn();
    let until = Instant::now() + Duration::from_secs(2);
    while tc.cmd(&["EXISTS", "k"]) != b":1\r\n" && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    tc.cmd(&["FLUSHALL"]);
    assert_eq!(
        c.cmd(&["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_eq!(tc.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

/// From a script MIGRATE runs at once (the script's client cannot be parked), as in Redis.
#[test]
fn migrate_from_a_script() {
    let mut d = Diff::new();
    let mut t = Target::new(&[]);
    let tp = t.port();
    d.run("SET k v\nSET j w");
    let script = "return redis.call('MIGRATE', ARGV[1], ARGV[2], KEYS[1], 0, 5000)";
    migrate_both(
        &mut d,
        &mut t,
        &["EVAL", script, "1", "k", "127.0.0.1", &tp],
        "0",
        &["k"],
    );
    let script = "return redis.pcall('MIGRATE', ARGV[1], ARGV[2], KEYS[1], 0, 5000)";
    migrate_both(
        &mut d,
        &mut t,
        &["EVAL", script, "1", "j", "127.0.0.1", "0"],
        "0",
        &["j"],
    );
}

/// A cached connection unused for more than 10 s is closed by the cron, as Redis's
/// migrateCloseTimedoutSockets does.
#[test]
fn migrate_connections_close_when_idle() {
    let mut d = Diff::new();
    let mut t = Target::new(&[]);
    let tp = t.port();
    d.cmd(&["SET", "k", "v"]);
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000", "COPY"],
        "0",
        &["k"],
    );
    let cached = |d: &mut Diff| {
        (
            stat(&mut d.ferrodis, "stats", "migrate_cached_sockets"),
            stat(&mut d.redis, "stats", "migrate_cached_sockets"),
        )
    };
    assert_eq!(cached(&mut d), (1, 1));
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(cached(&mut d), (1, 1));
    let until = Instant::now() + Duration::from_secs(15);
    while cached(&mut d) != (0, 0) {
        assert!(Instant::now() < until, "still cached: {:?}", cached(&mut d));
        std::thread::sleep(Duration::from_millis(200));
    }
    // And a new one is opened on demand.
    migrate_both(
        &mut d,
        &mut t,
        &["MIGRATE", "127.0.0.1", &tp, "k", "0", "5000"],
        "0",
        &["k"],
    );
}
