//! Differential tests of the server commands (src/commands/server_cmds.rs) against the oracle:
//! DBSIZE FLUSHDB FLUSHALL TIME CONFIG (GET SET RESETSTAT REWRITE HELP) SHUTDOWN LOLWUT DEBUG
//! MEMORY.
//!
//! Replies that legitimately differ are compared by structure: TIME, memory figures, DEBUG
//! OBJECT's address and LRU clock, generative LOLWUT art.

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

/// Parses one raw reply.
fn parsed(raw: &[u8]) -> Reply {
    parse_reply(raw).unwrap_or_else(|e| panic!("bad reply {}: {e}", escape(raw)))
}

/// The `name:value` fields of a DEBUG OBJECT status line.
fn object_fields(line: &str) -> Vec<(String, String)> {
    let rest = line.strip_prefix("Value at:").expect("DEBUG OBJECT line");
    rest.split(' ')
        .skip(1)
        .map(|kv| {
            let (k, v) = kv.split_once(':').expect("name:value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn dbsize_flushdb_flushall() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        DBSIZE
        DBSIZE x
        SET a 1
        SET b 2
        SELECT 1
        SET c 3
        DBSIZE
        SELECT 0
        DBSIZE
        FLUSHDB x
        FLUSHDB sync async
        FLUSHDB SYNC
        DBSIZE
        SELECT 1
        DBSIZE
        SET d 4
        FLUSHDB async
        DBSIZE
        SET e 5
        SELECT 0
        FLUSHALL x
        FLUSHALL a b
        FLUSHALL ASYNC
        SELECT 1
        DBSIZE
        SELECT 0
        SET f 6
        FLUSHALL sync
        FLUSHALL
        DBSIZE
        "#,
    );
}

#[test]
fn time_reply_shape() {
    let mut d = Diff::new();
    d.run("TIME x");
    for proto in ["2", "3"] {
        d.run(&format!("? HELLO {proto}"));
        let (f, r) = d.both(&["TIME"]);
        let (f, r) = (parsed(&f), parsed(&r));
        let nums = |v: &Reply| -> Vec<i64> {
            v.items()
                .expect("TIME is an array")
                .iter()
                .map(|x| x.text().expect("bulk").parse().expect("decimal"))
                .collect()
        };
        let (a, b) = (nums(&f), nums(&r));
        assert_eq!(a.len(), 2);
        assert!((0..1_000_000).contains(&a[1]));
        assert!(
            (a[0] - b[0]).abs() <= 2,
            "TIME seconds differ: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn config_help_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        CONFIG
        CONFIG HELP
        CONFIG HELP x
        CONFIG foo
        CONFIG GET
        CONFIG SET
        CONFIG SET a
        CONFIG SET a b c
        CONFIG SET a b c d e
        CONFIG RESETSTAT x
        CONFIG REWRITE x
        CONFIG REWRITE
        "#,
    );
}

#[test]
fn config_get_and_set() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        CONFIG GET port-does-not-exist
        CONFIG GET maxmemory
        ~~ CONFIG GET maxmemory hz
        CONFIG SET maxmemory 1000000 maxmemory 2
        CONFIG SET foo bar
        CONFIG SET hz abc
        CONFIG SET databases 4
        CONFIG SET logfile x
        CONFIG SET maxclients 0
        CONFIG SET loglevel x
        CONFIG SET hz 0
        CONFIG GET hz
        CONFIG SET hz 1000
        CONFIG GET hz
        CONFIG SET hz 10 maxmemory 0
        ~~ CONFIG GET hz maxmemory
        CONFIG SET loglevel verbose
        CONFIG GET loglevel
        CONFIG SET loglevel notice
        "#,
    );
}

/// The names of the `cmdstat_*` lines of INFO commandstats.
fn cmdstat_names(conn: &mut RawConn) -> Vec<String> {
    let text = conn
        .value(&["INFO", "commandstats"])
        .text()
        .expect("INFO text");
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .map(|l| l.split(':').next().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

/// One INFO field.
fn info_field(conn: &mut RawConn, section: &str, field: &str) -> String {
    let text = conn.value(&["INFO", section]).text().expect("INFO text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

#[test]
fn config_resetstat() {
    let mut d = Diff::new();
    d.run("SET a b\nGET a\nGET nokey\nNOSUCHCOMMAND\nGET");
    d.run("CONFIG RESETSTAT");
    for conn in [&mut d.ferrodis, &mut d.redis] {
        assert_eq!(cmdstat_names(conn), vec!["config|resetstat".to_string()]);
        assert_eq!(info_field(conn, "stats", "keyspace_hits"), "0");
        assert_eq!(info_field(conn, "stats", "keyspace_misses"), "0");
        assert_eq!(info_field(conn, "stats", "total_error_replies"), "0");
        let errs = conn.value(&["INFO", "errorstats"]).text().unwrap();
        assert!(!errs.contains("errorstat_"), "errorstats not reset: {errs}");
    }
    let f: i64 = info_field(&mut d.ferrodis, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    let r: i64 = info_field(&mut d.redis, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    assert_eq!(f, r);
}

#[test]
fn shutdown_errors_then_shutdown() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        SHUTDOWN foo
        SHUTDOWN save nosave
        SHUTDOWN NOSAVE SAVE
        SHUTDOWN abort
        SHUTDOWN abort now
        SHUTDOWN now now abort
        SHUTDOWN nosave nosave abort
        PING
        "#,
    );
    d.send(&["SHUTDOWN", "NOSAVE", "NOW"]);
    assert!(d.closed());
    assert!(d.ferrodis_server().wait_exit(Duration::from_secs(10)));
    assert!(d.redis_server().wait_exit(Duration::from_secs(10)));
}

#[test]
fn lolwut_exact_forms() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        LOLWUT
        LOLWUT 1 2
        LOLWUT foo
        LOLWUT VERSION
        LOLWUT VERSION x
        LOLWUT VERSION 7
        LOLWUT VERSION -1
        LOLWUT VERSION 4
        LOLWUT VERSION 5 x
        LOLWUT VERSION 5 1 x
        LOLWUT VERSION 6 1 x
        LOLWUT VERSION 5 1 1 1
        LOLWUT VERSION 5 0 0 0
        LOLWUT VERSION 5 66 8 2
        LOLWUT VERSION 5 20 3 1
        LOLWUT VERSION 5 1000 200 1
        LOLWUT VERSION 4294967301 1 1 1
        LOLWUT VERSION 6 1 1
        LOLWUT VERSION 6 -5 -5
        lolwut version 5 7 2 2 extra
        "#,
    );
}

#[test]
fn lolwut_generative_shapes() {
    let mut d = Diff::new();
    for proto in ["2", "3"] {
        d.run(&format!("? HELLO {proto}"));
        // Schotter: random angles, but the canvas size and so the byte length are fixed.
        for args in [
            &["LOLWUT", "VERSION", "5"][..],
            &["LOLWUT", "VERSION", "5", "40", "5", "9"],
        ] {
            let (f, r) = d.both(args);
            assert_eq!(f.len(), r.len(), "{args:?}: lengths differ");
            let (f, r) = (parsed(&f).text().unwrap(), parsed(&r).text().unwrap());
            assert_eq!(f.lines().count(), r.lines().count());
            assert!(
                f.ends_with("Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n")
            );
        }
        // Skyline: random colors change escape lengths; compare rows and cells per row.
        for args in [
            &["LOLWUT", "VERSION", "6"][..],
            &["LOLWUT", "VERSION", "6", "30", "7"],
        ] {
            let (f, r) = d.both(args);
            let (f, r) = (parsed(&f).text().unwrap(), parsed(&r).text().unwrap());
            let shape = |s: &str| -> Vec<usize> {
                s.lines().map(|l| l.matches(" \x1b[0m").count()).collect()
            };
            assert_eq!(shape(&f), shape(&r), "{args:?}: shapes differ");
            assert!(f.ends_with(
                "Original 8 bit image from Plaguemon by hikikomori. Redis ver. 7.0.15\n"
            ));
        }
    }
}

#[test]
fn debug_basics() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        DEBUG
        DEBUG HELP
        debug help
        DEBUG HELP x
        DEBUG foo
        DEBUG Foo bar
        DEBUG SLEEP
        DEBUG SLEEP 0
        DEBUG SLEEP x
        DEBUG SLEEP -1
        DEBUG SLEEP 0 1
        DEBUG SET-ACTIVE-EXPIRE
        DEBUG SET-ACTIVE-EXPIRE x
        DEBUG SET-ACTIVE-EXPIRE 1
        DEBUG LOG hello
        DEBUG LOG
        DEBUG ERROR "foo bar"
        DEBUG ERROR ""
        DEBUG ERROR "WRONGTYPE custom\r\nerror"
        DEBUG ERROR
        DEBUG OBJECT
        DEBUG OBJECT nokey
        DEBUG OBJECT a b
        DEBUG CHANGE-REPL-ID
        DEBUG CHANGE-REPL-ID x
        DEBUG HTSTATS
        DEBUG HTSTATS x
        DEBUG HTSTATS 99
        DEBUG HTSTATS -1
        DEBUG HTSTATS 0 full
        FLUSHALL
        DEBUG HTSTATS 0
        DEBUG HTSTATS 15
        "#,
    );
}

#[test]
fn debug_sleep_sleeps() {
    let mut d = Diff::new();
    let t = Instant::now();
    d.run("DEBUG SLEEP 0.2");
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn debug_protocol_types() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        DEBUG PROTOCOL
        DEBUG PROTOCOL foo
        DEBUG PROTOCOL string
        DEBUG PROTOCOL INTEGER
        DEBUG PROTOCOL double
        DEBUG PROTOCOL bignum
        DEBUG PROTOCOL null
        DEBUG PROTOCOL array
        DEBUG PROTOCOL set
        DEBUG PROTOCOL map
        DEBUG PROTOCOL attrib
        DEBUG PROTOCOL verbatim
        DEBUG PROTOCOL true
        DEBUG PROTOCOL false
        DEBUG PROTOCOL push
        DEBUG PROTOCOL a b
        "#,
    );
}

#[test]
fn debug_object_fields() {
    let mut d = Diff::new();
    let long_text: String = (0..300)
        .map(|i| ((i * 7919 % 95) as u8 + 32) as char)
        .collect();
    let repetitive = "abcdefgh".repeat(3000);
    let values: Vec<String> = vec![
        "bar".into(),
        "123".into(),
        "0".into(),
        "9999".into(),
        "10000".into(),
        "-5".into(),
        "12345678".into(),
        "9223372036854775807".into(),
        "012".into(),
        "a".repeat(21),
        "a".repeat(44),
        "a".repeat(45),
        "a".repeat(61),
        "a".repeat(17),
        "a".repeat(22),
        "a".repeat(23),
        "a".repeat(40),
        "ab".repeat(11),
        "abc".repeat(100),
        "abcdefghijklmnopqrstuvwxyz0123456789".into(),
        "abcdefghijklmnopqrstuvwxyz0123456789".repeat(3),
        (0..2000)
            .map(|i| ((i * i / 7 % 26) as u8 + b'a') as char)
            .collect(),
        long_text,
        repetitive,
        String::new(),
    ];
    for v in &values {
        d.run("? DEL k");
        d.cmd(&["SET", "k", v.as_str()]);
        let (f, r) = d.both(&["DEBUG", "OBJECT", "k"]);
        let (f, r) = (parsed(&f).text().unwrap(), parsed(&r).text().unwrap());
        let (ff, rf) = (object_fields(&f), object_fields(&r));
        let names = |x: &[(String, String)]| x.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(names(&ff), names(&rf), "value {v:?}:\n{f}\n{r}");
        for k in ["refcount", "encoding", "serializedlength"] {
            let get = |x: &[(String, String)]| x.iter().find(|(n, _)| n == k).unwrap().1.clone();
            assert_eq!(get(&ff), get(&rf), "value {v:?}: {k} differs\n{f}\n{r}");
        }
    }
    // A string modified in place is raw.
    d.run("SET k abc\nAPPEND k def");
    let (f, r) = d.both(&["DEBUG", "OBJECT", "k"]);
    let (f, r) = (parsed(&f).text().unwrap(), parsed(&r).text().unwrap());
    assert_eq!(object_fields(&f)[1], object_fields(&r)[1], "{f}\n{r}");
}

#[test]
fn debug_set_active_expire() {
    let mut d = Diff::new();
    d.run("DEBUG SET-ACTIVE-EXPIRE 0\nSET k v PX 50\nSET k2 v PX 50");
    sleep(Duration::from_millis(1500));
    // Without active expiry the keys stay in the dict until touched.
    d.run("DBSIZE\nGET k\nDBSIZE\nDEBUG SET-ACTIVE-EXPIRE 1");
    sleep(Duration::from_millis(1500));
    d.run("DBSIZE");
}

#[test]
fn debug_populate() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        DEBUG POPULATE
        DEBUG POPULATE x
        DEBUG POPULATE -1
        DEBUG POPULATE 1.5
        DEBUG POPULATE 3 p x
        DEBUG POPULATE 3 p -1
        DEBUG POPULATE 1 a b c
        DEBUG POPULATE 0
        DBSIZE
        SET key:1 mine
        DEBUG POPULATE 10
        DBSIZE
        GET key:0
        GET key:1
        GET key:9
        ~ KEYS key:*
        DEBUG POPULATE 3 p 0
        ~ KEYS p:*
        GET p:2
        DEBUG POPULATE 2 q 3
        GET q:0
        DEBUG POPULATE 2 r 12
        GET r:1
        STRLEN r:1
        DEBUG POPULATE 2 s 100
        STRLEN s:1
        OBJECT ENCODING s:1
        OBJECT ENCODING q:1
        OBJECT ENCODING key:3
        DEBUG POPULATE 1 "" 
        ~ KEYS :*
        DEBUG POPULATE 1 "with space"
        GET "with space:0"
        DEBUG POPULATE 2 "nul\x00byte"
        ~ KEYS nul*
        TTL key:2
        DBSIZE
        "#,
    );
    // The key buffer holds 127 bytes: a 200-byte prefix makes every key the same.
    let prefix = "x".repeat(200);
    d.cmd(&["DEBUG", "POPULATE", "5", prefix.as_str()]);
    d.run("DBSIZE");
    d.cmd(&["STRLEN", &"x".repeat(127)]);
    d.run("FLUSHALL");
}

#[test]
fn debug_populate_huge_count_is_refused() {
    // The oracle aborts on this one; ferrodis refuses it. Not a differential test, so it is
    // skipped when the harness runs the oracle in ferrodis's place.
    if std::env::var_os("FERRODIS_BIN").is_some() {
        return;
    }
    let s = ferrodis();
    let mut c = s.conn();
    let r = c.cmd(&["DEBUG", "POPULATE", "100000000000000"]);
    assert_eq!(r, b"-ERR OOM in dictTryExpand\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
}

#[test]
fn debug_htstats_with_keys() {
    let mut d = Diff::new();
    d.run("DEBUG POPULATE 100\nSET k v PX 100000");
    let (f, r) = d.both(&["DEBUG", "HTSTATS", "0"]);
    let (f, r) = (parsed(&f).text().unwrap(), parsed(&r).text().unwrap());
    // Chain lengths depend on the random hash seed; the table sizes do not.
    let head = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                l.starts_with('[')
                    || l.starts_with("Hash table")
                    || l.contains("table size")
                    || l.contains("number of elements")
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(head(&f), head(&r), "\n{f}\n{r}");
}

#[test]
fn debug_denied_unless_enabled() {
    let mut d = Diff::with_args(&["--enable-debug-command", "no"]);
    both_protocols(&mut d, "DEBUG SLEEP 0\nDEBUG HELP\nDEBUG\nPING");
    let mut d = Diff::with_args(&["--enable-debug-command", "local"]);
    d.run("DEBUG SLEEP 0");
}

/// DEBUG and MODULE LOAD/LOADEX/UNLOAD are refused in processCommand (CMD_PROTECTED) right
/// after the arity check: before authentication, ACLs and MULTI queueing (the refusal aborts
/// the transaction), and counted in INFO commandstats as rejected calls, not failed ones. Found
/// by the client matrix (tests/clients): redis-py's INFO commandstats and MULTI pipelines.
#[test]
fn protected_commands_rejected_early() {
    let mut d = Diff::with_args(&["--enable-debug-command", "no"]);
    d.run(
        r#"
        MULTI
        DEBUG OBJECT x
        SET k v
        EXEC
        MULTI
        MODULE LOAD /nonexistent.so
        EXEC
        MODULE LIST
        DEBUG
        ACL SETUSER nodbg on nopass +@all -debug -module
        AUTH nodbg x
        DEBUG OBJECT x
        MODULE LOAD y
        MODULE LOADEX y
        MODULE UNLOAD y
        MODULE LIST
        AUTH default x
        CONFIG SET requirepass pw
        "#,
    );
    let mut fresh = d.another();
    fresh.run("DEBUG OBJECT x\nMODULE UNLOAD y\nGET k");
    d.run("CONFIG SET requirepass \"\"");
    let (f, r) = d.both(&["INFO", "commandstats"]);
    let lines = |raw: &[u8]| -> Vec<String> {
        parsed(raw)
            .text()
            .unwrap()
            .lines()
            // (MODULE LIST runs: its usec depend on the clock.)
            .filter(|l| {
                l.starts_with("cmdstat_debug:")
                    || (l.starts_with("cmdstat_module|") && !l.starts_with("cmdstat_module|list"))
            })
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(lines(&f), lines(&r));
    assert_eq!(lines(&f).len(), 4, "{:?}", lines(&f));
}

#[test]
fn memory_usage_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        MEMORY
        MEMORY foo
        MEMORY HELP
        MEMORY HELP x
        MEMORY USAGE
        MEMORY USAGE nokey
        SET foo bar
        MEMORY USAGE foo samples
        MEMORY USAGE foo samples x
        MEMORY USAGE foo samples -1
        MEMORY USAGE foo x
        MEMORY USAGE foo samples 5 x
        MEMORY USAGE nokey samples 0
        MEMORY DOCTOR x
        MEMORY STATS x
        MEMORY PURGE
        MEMORY PURGE x
        MEMORY MALLOC-STATS x
        "#,
    );
    // Sizes are our own; they must be integers that grow with the value.
    let mut c = d.ferrodis_server().conn();
    let small = c.value(&["MEMORY", "USAGE", "foo"]).int().unwrap();
    c.cmd(&["SET", "big", &"x".repeat(10_000)]);
    let big = c
        .value(&["MEMORY", "USAGE", "big", "SAMPLES", "0"])
        .int()
        .unwrap();
    assert!(small > 0 && big > 10_000 && big < 11_000, "{small} {big}");
    c.cmd(&["SET", "n", "12345"]);
    let n = c.value(&["MEMORY", "USAGE", "n"]).int().unwrap();
    assert!(n > 0 && n <= small, "{n} {small}");
    let r = c.value(&["MEMORY", "MALLOC-STATS"]);
    assert!(r.text().is_some());
}

#[test]
fn memory_stats_shape() {
    let mut d = Diff::new();
    for setup in ["FLUSHALL", "SET k v"] {
        d.run(setup);
        for proto in ["2", "3"] {
            d.run(&format!("? HELLO {proto}"));
            let (f, r) = d.both(&["MEMORY", "STATS"]);
            let shape = |raw: &[u8]| -> Vec<(String, String)> {
                let v = parsed(raw);
                let pairs: Vec<(Reply, Reply)> = match v {
                    Reply::Map(p) => p,
                    Reply::Array(items) => items
                        .chunks(2)
                        .map(|c| (c[0].clone(), c[1].clone()))
                        .collect(),
                    other => panic!("MEMORY STATS: {other:?}"),
                };
                pairs
                    .into_iter()
                    .map(|(k, v)| {
                        let kind = match v {
                            Reply::Int(_) => "int".to_string(),
                            Reply::Double(_) => "double".into(),
                            Reply::Bulk(_) => "bulk".into(),
                            Reply::Map(m) => format!("map{}", m.len()),
                            Reply::Array(a) => format!("array{}", a.len()),
                            other => format!("{other:?}"),
                        };
                        (k.text().unwrap(), kind)
                    })
                    .collect()
            };
            assert_eq!(
                shape(&f),
                shape(&r),
                "MEMORY STATS shapes differ (after {setup}, RESP{proto})"
            );
        }
    }
    // A small instance gets the "empty" report from both.
    d.run("FLUSHALL\nMEMORY DOCTOR\n? HELLO 3\nMEMORY DOCTOR");
}

/// MODULE with no module system: LIST is empty, LOAD/LOADEX/UNLOAD are refused unless
/// enable-module-command allows them, then fail as for a library that cannot load.
#[test]
fn module_command_behind_enable_module_command() {
    let script = r#"
        MODULE HELP
        MODULE LIST
        MODULE LIST x
        MODULE LOAD /nonexistent.so
        MODULE LOADEX /nonexistent.so ARGS a
        MODULE UNLOAD foo
        MODULE NOSUCH
        MODULE
        "#;
    let mut d = Diff::new();
    d.run(script);
    let mut d = Diff::with_args(&["--enable-module-command", "yes"]);
    d.run(script);
    let mut d = Diff::with_args(&["--enable-module-command", "local"]);
    d.run(script);
}

/// enable-protected-configs and enable-debug-command: no, yes, and local (a loopback client
/// counts as local), as 7.0.15 answers.
#[test]
fn protected_configs_and_debug_command() {
    for (configs, debug) in [("no", "no"), ("yes", "yes"), ("local", "local")] {
        let mut d = Diff::from_servers(
            Server::start_bare(
                ferrodis_bin(),
                &[
                    "--save",
                    "",
                    "--enable-protected-configs",
                    configs,
                    "--enable-debug-command",
                    debug,
                ],
            ),
            Server::start_bare(
                oracle_bin(),
                &[
                    "--save",
                    "",
                    "--enable-protected-configs",
                    configs,
                    "--enable-debug-command",
                    debug,
                ],
            ),
        );
        d.run(
            r#"
            CONFIG GET enable-protected-configs
            CONFIG GET enable-debug-command
            CONFIG SET dbfilename other.rdb
            CONFIG SET dir .
            CONFIG SET enable-protected-configs yes
            CONFIG SET enable-debug-command yes
            DEBUG SLEEP 0
            DEBUG HELPX
            "#,
        );
    }
}
