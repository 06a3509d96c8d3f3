//! Configuration through the real binary, against the oracle redis-server 7.0.15: start-up
//! from a config file (quoting, include, multi-argument directives, `--options` after the
//! file), CONFIG GET patterns, CONFIG SET errors, CONFIG REWRITE round trips, the fatal error
//! report of bad config files, and glob matching as KEYS exposes it.

mod common;

use common::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// A config exercising the parser: comments, blank lines, stray spaces and CRs, both quote
/// styles with escapes, multi-argument directives, an alias, a deprecated directive and an
/// include. `port` is overridden by the harness's `--port`.
fn sample_config(inc: &Path) -> String {
    format!(
        "# a comment\n\
         \n\
         port 1\n   hz 20   \r\n\
         masterauth \"a \\\"q\\\" \\x41\\tb\"\n\
         masteruser 'it\\'s'\n\
         save 100 1 200 2\n\
         save 300 3\n\
         client-output-buffer-limit normal 1mb 2mb 3 pubsub 0 0 0\n\
         MAXMEMORY 1gb\n\
         notify-keyspace-events \"KEA\"\n\
         list-max-ziplist-size 5\n\
         lua-replicate-commands yes\n\
         latency-tracking-info-percentiles 1.5 99\n\
         oom-score-adj-values 0 100 900\n\
         shutdown-on-sigterm now force\n\
         include {}\n\
         timeout 30\n",
        inc.display()
    )
}

/// Parameters compared after start-up (not port or dir, which differ by construction).
const STARTUP_PARAMS: &[&str] = &[
    "hz",
    "masterauth",
    "masteruser",
    "save",
    "client-output-buffer-limit",
    "maxmemory",
    "notify-keyspace-events",
    "list-max-listpack-size",
    "list-max-ziplist-size",
    "latency-tracking-info-percentiles",
    "oom-score-adj-values",
    "shutdown-on-sigterm",
    "maxmemory-samples",
    "replica-read-only",
    "slave-read-only",
    "timeout",
    "maxmemory-policy",
    "appendonly",
];

#[test]
fn startup_from_a_config_file_matches_the_oracle() {
    let dir = scratch_dir("config-it", "startup");
    let inc = write_file(
        &dir,
        "inc.conf",
        "maxmemory-samples 7\nslave-read-only no\n",
    );
    let conf = write_file(&dir, "main.conf", &sample_config(&inc));
    let conf = conf.to_str().unwrap();
    // Options after the file override it; `--save` alone before another option means "".
    let args = [
        conf,
        "--hz",
        "25",
        "--maxmemory-policy",
        "allkeys-lru",
        "--timeout",
        "40",
    ];
    let mut d = Diff::from_servers(
        Server::start_bare(ferrodis_bin(), &args),
        Server::start_bare(oracle_bin(), &args),
    );
    for p in STARTUP_PARAMS {
        d.unordered_pairs(&["config", "get", p]);
    }
    let v = parse_reply(&d.cmd(&["config", "get", "hz"])).unwrap();
    assert_eq!(v.items().unwrap()[1].text().unwrap(), "25");

    let args = [conf, "--save", "--appendonly", "no"];
    let mut d = Diff::from_servers(
        Server::start_bare(ferrodis_bin(), &args),
        Server::start_bare(oracle_bin(), &args),
    );
    let v = parse_reply(&d.cmd(&["config", "get", "save"])).unwrap();
    assert_eq!(v.items().unwrap()[1].text().unwrap(), "");
    d.unordered_pairs(&["config", "get", "timeout"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn config_get_patterns_match_the_oracle() {
    let mut d = Diff::new();
    // `port` and `dir` differ by construction, so the patterns avoid them.
    for pats in [
        &["*-*"][..],
        &["[a-c]*"],
        &["h*"],
        &["*MAX*"],
        &["save"],
        &["bind"],
        &["SLAVE-*"],
        &["*entries*"],
        &["hz", "HZ"],
        &["h?", "Hz"],
        &["Hz", "h?"],
        &["maxmemory", "*memory*", "maxmemory-*"],
        &["slave-read-only"],
        &["use-exit-on-panic"],
        &["use-exit-*"],
        &["nosuch"],
        &[""],
        &["[hz]z"],
        &["*[*"],
        &["\\*"],
        &["tls-*", "*tls*"],
        &["*ziplist*"],
        &["lua-time-limit", "busy-reply-threshold"],
    ] {
        let mut cmd = vec!["config", "get"];
        cmd.extend_from_slice(pats);
        d.unordered_pairs(&cmd);
    }
    d.cmd(&["config", "get"]);
}

#[test]
fn config_set_matches_the_oracle() {
    let mut d = Diff::new();
    let cases: &[&[&str]] = &[
        &["maxmemory", "1.5gb"],
        &["maxmemory", "-1"],
        &["maxmemory", " 1"],
        &["maxmemory", "010"],
        &["maxmemory", "99999999999999999999"],
        &["maxmemory", "1KB"],
        &["maxmemory", "0"],
        &["hz", "abc"],
        &["hz", "-1"],
        &["hz", "01"],
        &["hz", "99999999999"],
        &["hz", "1000"],
        &["HZ", "x"],
        &["hz", "10"],
        &["timeout", "-0"],
        &["port", "65536"],
        &["maxclients", "0"],
        &["maxclients", "4294967296"],
        &["slowlog-max-len", "-1"],
        &["hash-max-ziplist-entries", "-1"],
        &["proto-max-bulk-len", "1"],
        &["slowlog-log-slower-than", "-2"],
        &["maxmemory-clients", "101%"],
        &["maxmemory-clients", "-5%"],
        &["maxmemory-clients", "5%"],
        &["maxmemory-clients", "0"],
        &["loglevel", "foo"],
        &["loglevel", "debug notice"],
        &["maxmemory-policy", "x"],
        &["maxmemory-policy", "ALLKEYS-LFU"],
        &["maxmemory-policy", "noeviction"],
        &["appendfsync", "x"],
        &["shutdown-on-sigint", "save nosave"],
        &["shutdown-on-sigint", "force save now"],
        &["shutdown-on-sigint", "default"],
        &["activerehashing", "maybe"],
        &["activerehashing", "YES"],
        &["save", "10"],
        &["save", "0 1"],
        &["save", "1  2"],
        &["save", "100 10 200 20"],
        &["save", ""],
        &["client-output-buffer-limit", "normal 0 0"],
        &["client-output-buffer-limit", "master 0 0 0"],
        &["client-output-buffer-limit", "normal x 0 0"],
        &[
            "client-output-buffer-limit",
            "NORMAL 1mb 2mb 3 replica 1 2 3",
        ],
        &["notify-keyspace-events", "Q"],
        &["notify-keyspace-events", "Kx$n"],
        &["notify-keyspace-events", ""],
        &["oom-score-adj-values", "1 2"],
        &["oom-score-adj-values", "1 2 3000"],
        &["latency-tracking-info-percentiles", "50 101"],
        &["latency-tracking-info-percentiles", "a"],
        &["latency-tracking-info-percentiles", "0 100 1e1 0.0000001"],
        &["latency-tracking-info-percentiles", "50 1e400"],
        &["latency-tracking-info-percentiles", "50 1e-400"],
        &["cluster-announce-hostname", "a_b"],
        &["proc-title-template", "{bad}"],
        &["activedefrag", "yes"],
        &["dir", "/nonexistent"],
        &["dbfilename", "a/b"],
        &["unixsocket", "x"],
        &["Daemonize", "yes"],
        &["replicaof", "no one"],
        &["nosuch", "1"],
        &["hz", "5", "hz", "6"],
        &["hz", "5", "HZ", "6"],
        &["hz", "5", "nosuch", "6"],
        &["nosuch", "5", "daemonize", "6"],
        &["daemonize", "5", "nosuch", "6"],
        &["hz", "5", "hz", "6", "nosuch", "1"],
        &["hz", "7", "maxmemory", "1", "loglevel", "x"],
        &[
            "hz",
            "5",
            "slave-read-only",
            "no",
            "replica-read-only",
            "yes",
        ],
        &["watchdog-period", "5"],
        &["watchdog-period", "0"],
    ];
    for args in cases {
        let mut cmd = vec!["config", "set"];
        cmd.extend_from_slice(args);
        d.cmd(&cmd);
        // `port` and `dir` differ by construction.
        for name in args
            .iter()
            .step_by(2)
            .filter(|n| !["port", "dir"].contains(n))
        {
            d.unordered_pairs(&["config", "get", name]);
        }
    }
    d.unordered_pairs(&["config", "get", "*-*"]);
}

/// Splits a rewritten file into the part before the signature (compared line by line) and
/// the generated lines (compared as a set: Redis writes them in hash-table order). `port`
/// and `dir` lines are normalized.
fn rewritten_parts(text: &str) -> (Vec<String>, Vec<String>) {
    let norm = |l: &str| {
        if l.starts_with("port ") {
            "port <port>".to_string()
        } else if l.starts_with("dir ") {
            "dir <dir>".to_string()
        } else {
            l.to_string()
        }
    };
    let (head, gen) = text
        .split_once("# Generated by CONFIG REWRITE\n")
        .unwrap_or((text, ""));
    let head = head.lines().map(norm).collect();
    let mut gen: Vec<String> = gen.lines().filter(|l| !l.is_empty()).map(norm).collect();
    gen.sort();
    (head, gen)
}

#[test]
fn config_rewrite_round_trip_matches_the_oracle() {
    let shared = scratch_dir("config-it", "rewrite-shared");
    let inc = write_file(&shared, "inc.conf", "maxmemory-samples 7\n");
    let text = format!(
        "# my conf\nport 7304\n\n\n# comment two\nsave 900 1\nsave 300 10\nhz 15\nHZ 16\n\
         maxmemory 1mb\nslave-read-only no\nlist-max-ziplist-entries 5\n\
         masterauth \"x y\"\ninclude {}\nrename-command KEYS KEYS2\n  timeout    5   \n\
         client-output-buffer-limit pubsub 32mb 8mb 60\n",
        inc.display()
    );
    let fdir = scratch_dir("config-it", "rewrite-ferrodis");
    let rdir = scratch_dir("config-it", "rewrite-redis");
    let fconf = write_file(&fdir, "r.conf", &text);
    let rconf = write_file(&rdir, "r.conf", &text);
    let mut d = Diff::from_servers(
        Server::start_bare(ferrodis_bin(), &[fconf.to_str().unwrap()]),
        Server::start_bare(oracle_bin(), &[rconf.to_str().unwrap()]),
    );
    let compare_files = |round: &str| {
        let f = fs::read_to_string(&fconf).unwrap();
        let r = fs::read_to_string(&rconf).unwrap();
        assert_eq!(
            rewritten_parts(&f),
            rewritten_parts(&r),
            "{round}\n--- ferrodis:\n{f}\n--- redis:\n{r}"
        );
    };
    // Round 1: nothing changed at run time.
    d.cmd(&["config", "rewrite"]);
    compare_files("round 1");
    // Round 2: values back to default lose their lines, new ones are appended.
    d.cmd(&[
        "config",
        "set",
        "hz",
        "10",
        "maxmemory",
        "0",
        "save",
        "",
        "slave-read-only",
        "yes",
        "notify-keyspace-events",
        "KEA",
        "client-output-buffer-limit",
        "normal 1mb 2kb 3 pubsub 1gb 100 5",
        "oom-score-adj-values",
        "1 2 3",
        "maxmemory-clients",
        "10%",
        "loglevel",
        "warning",
        "timeout",
        "0",
        "cluster-announce-ip",
        "1.2.3.4",
        "slowlog-log-slower-than",
        "-1",
        "latency-tracking-info-percentiles",
        "",
        "appendfsync",
        "always",
        "list-max-listpack-size",
        "5",
        "masterauth",
        "",
        "shutdown-on-sigint",
        "now force",
        "replica-announce-ip",
        "a \"b\"\n",
    ]);
    d.cmd(&["config", "rewrite"]);
    compare_files("round 2");
    // Round 3: old generated lines are reused in place (the pubsub quirk).
    d.cmd(&["config", "set", "requirepass", "p w"]);
    d.cmd(&["auth", "p w"]);
    d.cmd(&["config", "rewrite"]);
    compare_files("round 3");
    let f = fs::read_to_string(&fconf).unwrap();
    assert!(f.contains("\nuser default on #"), "{f}");
    assert!(f.contains("\nsave \"\"\n"), "{f}");
    // The rewritten file starts both servers with the same configuration.
    // (Killed first: SHUTDOWN from the harness would need AUTH now.)
    for server in [d.ferrodis_server(), d.redis_server()] {
        server.kill();
        server.restart(&[]);
    }
    let mut d2 = d.another();
    d2.cmd(&["auth", "p w"]);
    for p in [
        "*-*",
        "save",
        "hz",
        "maxmemory",
        "timeout",
        "appendfsync",
        "requirepass",
    ] {
        d2.unordered_pairs(&["config", "get", p]);
    }
    // Without a config file CONFIG REWRITE is an error.
    let mut plain = Diff::new();
    plain.cmd(&["config", "rewrite"]);
    for dir in [shared, fdir, rdir] {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Runs `bin args` (stdin fed with `stdin`) until it exits; returns (status, stdout, stderr).
fn run_to_exit(
    bin: &Path,
    args: &[&str],
    stdin: &str,
    cwd: &Path,
) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    {
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin.as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not exit (the config was accepted?)",
                bin.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_fail_like_the_oracle() {
    let dir = scratch_dir("config-it", "bad");
    let b2 = write_file(&dir, "b2.conf", "# c\n\n  port abc  \n");
    let files: Vec<(&str, String)> = vec![
        ("b1.conf", "port 1 2\n".into()),
        ("b3.conf", "requirepass \"abc\n".into()),
        ("b4.conf", format!("hz 5\ninclude {}\n", b2.display())),
        ("b5.conf", "logfile /nonexistent/x.log\n".into()),
        (
            "b6.conf",
            "replicaof 1.2.3.4 6379\ncluster-enabled yes\n".into(),
        ),
        ("b7.conf", "save 10\n".into()),
        ("b8.conf", "loglevel foo\n".into()),
        ("b9.conf", "sentinel monitor x\n".into()),
        ("b10.conf", "x.y\n".into()),
        ("b11.conf", "bogus directive\n".into()),
        ("b12.conf", "maxmemory-policy\n".into()),
        (
            "b13.conf",
            "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n".into(),
        ),
        ("b14.conf", "replicaof h 99999\n".into()),
        ("b15.conf", "dir /nonexistent/dir\n".into()),
        ("b16.conf", "'a'b\n".into()),
    ];
    let mut runs: Vec<(Vec<String>, String)> = Vec::new();
    for (name, text) in &files {
        let p = write_file(&dir, name, text);
        runs.push((vec![p.to_str().unwrap().to_string()], String::new()));
    }
    let b1 = dir.join("b1.conf").to_str().unwrap().to_string();
    let good = write_file(&dir, "good.conf", "hz 5\n")
        .to_str()
        .unwrap()
        .to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    runs.push((s(&["--port", "abc"]), String::new()));
    runs.push((s(&["--port"]), String::new()));
    runs.push((s(&["--port", "1", "2", "3"]), String::new()));
    runs.push((s(&["--save", "--port", "abc"]), String::new()));
    runs.push((s(&["--maxmemory", "1 mb"]), String::new()));
    runs.push((s(&["-x"]), String::new()));
    runs.push((s(&["--port", "7000", "-", "--hz", "x"]), String::new()));
    runs.push((vec![good.clone(), "--hz".into(), "x".into()], String::new()));
    runs.push((
        vec![good.clone(), "-".into(), "--port".into(), "x".into()],
        String::new(),
    ));
    runs.push((vec![good.clone(), "-".into()], "port y\n".into()));
    runs.push((s(&["-"]), "hz 1\nport z\n".into()));
    runs.push((vec![b1, "--hz".into(), "7".into()], String::new()));
    for (args, stdin) in &runs {
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        let (fs_, _, fe) = run_to_exit(&ferrodis_bin(), &a, stdin, &dir);
        let (rs, _, re) = run_to_exit(&oracle_bin(), &a, stdin, &dir);
        assert_eq!(fe, re, "stderr for {args:?}");
        assert_eq!(fs_, rs, "exit status for {args:?}");
        assert!(
            re.contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"),
            "{re}"
        );
    }
    // A config file that cannot be opened is logged (on stdout), not reported on stderr.
    let missing = dir.join("missing.conf");
    let missing = missing.to_str().unwrap();
    let (fs_, fo, _) = run_to_exit(&ferrodis_bin(), &[missing], "", &dir);
    let (rs, ro, _) = run_to_exit(&oracle_bin(), &[missing], "", &dir);
    assert_eq!(fs_, rs);
    let tail = |s: &str| {
        s.split_once(" # ")
            .map(|(_, t)| t.to_string())
            .unwrap_or_default()
    };
    assert_eq!(tail(&fo), tail(&ro));
    assert!(ro.contains("Fatal error, can't open config file"), "{ro}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn glob_patterns_match_the_oracle() {
    let mut d = Diff::new();
    let keys: &[&[u8]] = &[
        b"hello",
        b"hallo",
        b"hxllo",
        b"hllo",
        b"heeeello",
        b"HELLO",
        b"a*b",
        b"a\\b",
        b"a\\",
        b"[x]",
        b"-",
        b"]",
        b"^",
        b"abc",
        b"ABC",
        b"h\xffllo",
        b"h\x80llo",
        b"aaaaaaaaaaaaaaab",
        b"foo:bar:baz",
        b"x",
        b"[",
        b"\\",
    ];
    for k in keys {
        d.cmd(&[&b"set"[..], *k, &b"1"[..]]);
    }
    let patterns: &[&[u8]] = &[
        b"*",
        b"h?llo",
        b"h*llo",
        b"h[ae]llo",
        b"h[^e]llo",
        b"h[a-b]llo",
        b"h[b-a]llo",
        b"h[A-Z]llo",
        b"H*",
        b"*\\**",
        b"a\\*b",
        b"[",
        b"[abc",
        b"[^",
        b"\\",
        b"a\\",
        b"a\\\\",
        b"[\\]]",
        b"[]]",
        b"*[",
        b"[\\-]",
        b"[a-]",
        b"[-a]",
        b"*a*a*a*a*a*a*b",
        b"*a*a*a*a*c",
        b"foo:*:baz",
        b"*:*",
        b"?",
        b"??",
        b"[^a-z]*",
        b"h[\x80-\xff]llo",
        b"h[\xff-\x80]llo",
        b"h[\x00-\x7f]llo",
        b"***",
        b"x***",
        b"",
        b"[]",
        b"[^]",
        b"[x]",
        b"\\[x\\]",
    ];
    for p in patterns {
        d.unordered(&[&b"keys"[..], *p]);
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

#[test]
fn config_set_port_to_a_busy_port_fails_and_rolls_everything_back() {
    let mut d = Diff::new();
    // Each side is asked for the port the other one listens on (bind "* -::*" on both).
    let (fport, rport) = (d.ferrodis_server().port(), d.redis_server().port());
    let busy = |p: u16| p.to_string();
    for pairs in [
        vec!["port", "BUSY"],
        vec!["maxmemory", "10mb", "port", "BUSY", "hz", "50"],
        vec!["maxmemory", "10mb", "bind", "127.0.0.1", "port", "BUSY"],
        vec!["port", "BUSY", "bind", "127.0.0.1"],
        vec!["bind", "127.0.0.1 10.255.255.1"],
        vec!["maxmemory", "10mb", "bind", "127.0.0.1 10.255.255.1"],
    ] {
        let with = |port: u16| -> Vec<String> {
            ["CONFIG", "SET"]
                .into_iter()
                .chain(pairs.iter().copied())
                .map(|a| {
                    if a == "BUSY" {
                        busy(port)
                    } else {
                        a.to_string()
                    }
                })
                .collect()
        };
        let f = d.ferrodis.cmd(&with(rport));
        let r = d.redis.cmd(&with(fport));
        assert_same(&format!("CONFIG SET {pairs:?}"), &f, &r);
        d.run("CONFIG GET maxmemory\nCONFIG GET hz\nCONFIG GET bind\nPING");
        // Both still listen where they did, for new connections too.
        assert!(listening(fport) && listening(rport));
        let (f, r) = d.both(&["CONFIG", "GET", "port"]);
        assert!(f.ends_with(format!("{fport}\r\n").as_bytes()));
        assert!(r.ends_with(format!("{rport}\r\n").as_bytes()));
    }
}

#[test]
fn config_set_port_moves_the_listener() {
    let mut d = Diff::new();
    for (ours, conn) in [(true, &mut d.ferrodis), (false, &mut d.redis)] {
        let old = conn_port(conn);
        let new = free_port();
        let what = if ours { "ferrodis" } else { "redis" };
        let set = |conn: &mut RawConn, p: u16| conn.cmd(&["CONFIG", "SET", "port", &p.to_string()]);
        assert_eq!(set(conn, new), b"+OK\r\n", "{what}");
        // The client that asked stays connected; new clients find the new port only.
        assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n", "{what}");
        assert!(!listening(old) && listening(new), "{what}");
        let mut other = RawConn::connect(new);
        assert_eq!(
            other.cmd(&["CONFIG", "GET", "port"]),
            format!("*2\r\n$4\r\nport\r\n$5\r\n{new}\r\n").into_bytes()
        );
        // Port 0: no TCP listener at all; clients stay.
        assert_eq!(set(&mut other, 0), b"+OK\r\n", "{what}");
        assert!(!listening(new) && !listening(old), "{what}");
        assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
        // Back, with a bind change in the same call: 127.0.0.1 only.
        let back = other.cmd(&[
            "CONFIG",
            "SET",
            "bind",
            "127.0.0.1",
            "port",
            &old.to_string(),
        ]);
        assert_eq!(back, b"+OK\r\n", "{what}");
        assert!(listening(old), "{what}");
        assert_eq!(
            RawConn::connect(old).cmd(&["CONFIG", "GET", "bind"]),
            b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n"
        );
    }
}

/// The port a connection's server listens on, from CONFIG GET port.
fn conn_port(conn: &mut RawConn) -> u16 {
    let r = conn.value(&["CONFIG", "GET", "port"]);
    r.items().unwrap()[1].text().unwrap().parse().unwrap()
}
