//! Redis 7.0 functions against the oracle: FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/
//! STATS/KILL/HELP, FCALL/FCALL_RO with flags, the load-time sandbox, DUMP payloads crossing
//! between the servers, libraries surviving restarts through the RDB and the AOF, and
//! INFO's function fields.
//!
//! Redis lists libraries and the functions of a library in the order of a dict with a
//! random hash seed, so replies with several of them are compared per library or sorted.

mod common;

use common::*;
use std::fs;
use std::time::{Duration, Instant};

/// A library `name` with one function `func` whose body is `body`.
fn lib(name: &str, func: &str, body: &str) -> String {
    format!("#!lua name={name}\nredis.register_function('{func}', function(keys, args) {body} end)")
}

/// A library whose body is `body` after the shebang line.
fn raw(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

#[test]
fn load_errors_match_redis() {
    let mut d = Diff::new();
    let ok = lib("mylib", "f1", "return keys[1]");
    d.cmd(&["FUNCTION", "LOAD", &ok]);
    for code in [
        ok.as_str(),
        "return 1",
        "#!lua",
        "#!lua name=x",
        "#!lua name=x\n",
        "#!lua name=x foo=bar\n",
        "#!lua name=x name=y\n",
        "#!lua NAME=x\n",
        "#!js name=x\n",
        "#!LuA name=casey\nredis.register_function('casey', function() return 1 end)",
        "#!lua name=x-y\n",
        "#!lua name=\n",
        "#!lua name=\"a b\"\n",
        "#!lua name=\"unbalanced\n",
        "#!lua name=x\nreturn string.len('a')",
        "#!lua name=x\nredis.call('set','a','b')",
        "#!lua name=x\nredis.register_function('a-b', function() end)",
        "#!lua name=x\nredis.register_function('a', function() end) redis.register_function('a', function() end)",
        "#!lua name=x\nredis.register_function('f1', function() end)",
        "#!lua name=x\nredis.register_function('F1', function() end)",
        "#!lua name=x\nerror('boom')",
        "#!lua name=x\nx = 1",
        "#!lua name=x\nlocal x = redis.setresp",
        "#!lua name=x\nlocal x = redis.math",
        "#!lua name=x\nlocal v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM .. redis.LOG_WARNING redis.log(redis.LOG_NOTICE, 'loading')",
        "#!lua name=x\nsyntax error here",
        "#!lua name=x\nlocal a = nil + 1",
        "#!lua name=x\nredis.register_function()",
        "#!lua name=x\nredis.register_function(1, 2, 3)",
        "#!lua name=x\nredis.register_function('f')",
        "#!lua name=x\nredis.register_function({}, function() end)",
        "#!lua name=x\nredis.register_function('f', 'notfn')",
        "#!lua name=x\nredis.register_function{}",
        "#!lua name=x\nredis.register_function{function_name='f'}",
        "#!lua name=x\nredis.register_function{callback=function() end}",
        "#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",
        "#!lua name=x\nredis.register_function{function_name='f', callback='x'}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={1}}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, description={}}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}",
        "#!lua name=x\nredis.register_function{[1]='f'}",
        "#!lua name=x\nredis.register_function('f', function() end)\nlocal t = redis.register_function\nt.x = 1",
    ] {
        d.cmd(&["FUNCTION", "LOAD", code]);
    }
    d.run(
        "FUNCTION LOAD foo \"#!lua name=x\\n\"
         FUNCTION LOAD replace replace \"#!lua name=x\\n\"
         FUNCTION LOAD replace
         FUNCTION LOAD
         ~ FUNCTION LIST
         FUNCTION LIST LIBRARYNAME
         ~ FUNCTION LIST WITHCODE WITHCODE
         FUNCTION LIST LIBRARYNAME a LIBRARYNAME b
         FUNCTION LIST bogus
         FUNCTION LIST WITHCODE LIBRARYNAME my*
         FUNCTION LIST LIBRARYNAME MY*
         FUNCTION LIST LIBRARYNAME nomatch",
    );
    // A library the header calls LuA loaded; REPLACE swaps a library in place.
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        &lib("mylib", "f2", "return 2"),
    ]);
    d.run(
        "FCALL f1 0
         FCALL f2 0
         FCALL CASEY 0
         FUNCTION DELETE casey
         FUNCTION DELETE casey
         FUNCTION DELETE
         ~ FUNCTION LIST
         FUNCTION STATS
         FUNCTION HELP
         FUNCTION KILL
         FUNCTION FLUSH bogus
         FUNCTION FLUSH sync extra
         FUNCTION FLUSH ASYNC
         FUNCTION FLUSH SYNC
         FUNCTION FLUSH
         FUNCTION LIST
         FUNCTION STATS
         FUNCTION NOSUCH",
    );
}

#[test]
fn fcall_runs_functions_with_their_flags() {
    let mut d = Diff::new();
    let body = "redis.register_function('echo', function(keys, args) return {keys, args} end)
redis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='read only'}
redis.register_function{function_name='wr', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end}
redis.register_function{function_name='rowr', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}}
redis.register_function{function_name='bad', callback=function(keys, args) return redis.call('nosuch') end}
redis.register_function{function_name='err', callback=function(keys, args) error('boom') end}
redis.register_function{function_name='err2', callback=function(keys, args) error({err='X y'}) end}
redis.register_function{function_name='errnil', callback=function(keys, args) error() end}
redis.register_function{function_name='glob', callback=function(keys, args) return KEYS end}
redis.register_function{function_name='setg', callback=function(keys, args) x = 5 end}
redis.register_function{function_name='regf', callback=function(keys, args) redis.register_function('z', function() end) end}
redis.register_function{function_name='str', callback=function(keys, args) return string.len(args[1]) end}
redis.register_function{function_name='resp3', callback=function(keys, args) redis.setresp(3) return redis.call('hgetall', keys[1]) end}
redis.register_function{function_name='pc', callback=function(keys, args) return redis.pcall('incr', keys[1]) end}
redis.register_function{function_name='oom', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'allow-oom'}}
redis.register_function{function_name='stale', callback=function(keys, args) return 1 end, flags={'allow-stale', 'no-cluster', 'allow-cross-slot-keys', 'NO-WRITES'}}";
    d.cmd(&["FUNCTION", "LOAD", &raw("lib2", body)]);
    // redis.register_function kept in a local and called after the load.
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        &raw(
            "cap",
            "local rf = redis.register_function\nrf('cap', function() rf('z', function() end) end)",
        ),
    ]);
    d.cmd(&["FCALL", "cap", "0"]);
    d.run(
        "FCALL echo 2 a b c d
         FCALL echo 0
         FCALL ro 1 k
         FCALL_RO wr 1 k v
         FCALL wr 1 k v
         FCALL_RO ro 1 k
         FCALL rowr 1 k v
         FCALL bad 0
         FCALL err 0
         FCALL err2 0
         FCALL errnil 0
         FCALL glob 0
         FCALL setg 0
         FCALL regf 0
         FCALL str 0 abc
         HSET h a 1
         FCALL resp3 1 h
         FCALL pc 1 k
         FCALL stale 0
         FCALL_RO stale 0
         FCALL ECHO 1 x
         FCALL nosuch 0
         FCALL echo x
         FCALL echo 5 a
         FCALL echo -1 a
         FCALL echo 99999999999999999999 a
         FCALL nosuch x
         FCALL
         FCALL_RO echo",
    );
    // RESP3 callers get maps from functions that ask for RESP3.
    d.both(&["HELLO", "3"]);
    d.run(
        "FCALL resp3 1 h
         FCALL echo 1 a b",
    );
    d.both(&["HELLO", "2"]);
    // Flags show in FUNCTION LIST, in Redis's order.
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        &raw(
            "flagged",
            "redis.register_function{function_name='fl', callback=function() return 1 end, flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}, description='d'}",
        ),
    ]);
    d.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "flagged", "WITHCODE"]);
    d.both(&["HELLO", "3"]);
    d.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "flagged"]);
    d.cmd(&["FUNCTION", "STATS"]);
    d.both(&["HELLO", "2"]);
    // maxmemory: a function without allow-oom may not run at all over the limit.
    d.run(
        "CONFIG SET maxmemory 1
         FCALL wr 1 k v
         FCALL oom 1 k2
         FCALL ro 1 k
         FCALL stale 0
         CONFIG SET maxmemory 0
         GET k2",
    );
}

#[test]
fn dump_and_restore_match_and_cross() {
    let mut d = Diff::new();
    d.cmd(&["FUNCTION", "DUMP"]);
    let code = lib("mylib", "myfunc", "return args[1]");
    d.cmd(&["FUNCTION", "LOAD", &code]);
    // The payload is byte for byte Redis's (LZF-compressed code, version, CRC).
    let payload = d.cmd(&["FUNCTION", "DUMP"]);
    let payload = parse_reply(&payload).unwrap().bytes().unwrap().to_vec();
    d.run(
        "CONFIG SET rdbcompression no
         FUNCTION DUMP
         CONFIG SET rdbcompression yes",
    );
    let p = payload.as_slice();
    let arg = |a: &str| a.as_bytes().to_vec();
    let cmd = |d: &mut Diff, args: &[Vec<u8>]| d.cmd(args);
    cmd(&mut d, &[arg("FUNCTION"), arg("RESTORE"), p.to_vec()]);
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), p.to_vec(), arg("APPEND")],
    );
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), p.to_vec(), arg("REPLACE")],
    );
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), p.to_vec(), arg("bogus")],
    );
    cmd(
        &mut d,
        &[
            arg("FUNCTION"),
            arg("RESTORE"),
            p.to_vec(),
            arg("FLUSH"),
            arg("x"),
        ],
    );
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), p.to_vec(), arg("FLUSH")],
    );
    d.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    d.cmd(&["FCALL", "myfunc", "0", "hello"]);
    // A library of another name holding the same function name collides.
    d.cmd(&["FUNCTION", "FLUSH"]);
    d.cmd(&["FUNCTION", "LOAD", &lib("other", "myfunc", "return 0")]);
    cmd(&mut d, &[arg("FUNCTION"), arg("RESTORE"), p.to_vec()]);
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), p.to_vec(), arg("REPLACE")],
    );
    d.cmd(&["FUNCTION", "LIST"]);
    // Broken payloads.
    let mut bad_crc = p.to_vec();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    cmd(&mut d, &[arg("FUNCTION"), arg("RESTORE"), bad_crc]);
    cmd(&mut d, &[arg("FUNCTION"), arg("RESTORE"), arg("short")]);
    // A key's DUMP payload is no function.
    d.cmd(&["SET", "k", "v"]);
    let key_dump = parse_reply(&d.cmd(&["DUMP", "k"]))
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    cmd(&mut d, &[arg("FUNCTION"), arg("RESTORE"), key_dump]);
    // An empty payload (no libraries) restores nothing, even with FLUSH.
    d.cmd(&["FUNCTION", "FLUSH"]);
    let empty = d.cmd(&["FUNCTION", "DUMP"]);
    let empty = parse_reply(&empty).unwrap().bytes().unwrap().to_vec();
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), empty, arg("FLUSH")],
    );
    // Two libraries: the payloads differ only in order, but each server restores the
    // other's.
    d.cmd(&["FUNCTION", "LOAD", &lib("l1", "g1", "return 1")]);
    d.cmd(&["FUNCTION", "LOAD", &lib("l2", "g2", "return 2")]);
    let (fp, rp) = d.both(&["FUNCTION", "DUMP"]);
    let fp = parse_reply(&fp).unwrap().bytes().unwrap().to_vec();
    let rp = parse_reply(&rp).unwrap().bytes().unwrap().to_vec();
    let fr = d.redis.cmd(&[&b"FUNCTION"[..], b"RESTORE", &fp, b"FLUSH"]);
    assert_eq!(fr, b"+OK\r\n");
    let rf = d
        .ferrodis
        .cmd(&[&b"FUNCTION"[..], b"RESTORE", &rp, b"FLUSH"]);
    assert_eq!(rf, b"+OK\r\n");
    d.run(
        "FCALL g1 0
         FCALL g2 0
         FUNCTION LIST LIBRARYNAME l1
         FUNCTION LIST LIBRARYNAME l2",
    );
    // A payload holding the same library twice fails as a whole.
    let mut twice = Vec::new();
    let one = &p[..p.len() - 10];
    twice.extend_from_slice(one);
    twice.extend_from_slice(one);
    twice.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64_redis(&twice);
    twice.extend_from_slice(&crc.to_le_bytes());
    cmd(
        &mut d,
        &[arg("FUNCTION"), arg("RESTORE"), twice, arg("FLUSH")],
    );
    d.cmd(&["FCALL", "g1", "0"]);
}

/// CRC-64 as Redis computes it (the crate's own, checked against Redis's payloads above).
fn crc64_redis(data: &[u8]) -> u64 {
    ferrodis::persistence::rdb::crc64(data)
}

/// The value of `field` in INFO `section`.
fn info_field(c: &mut RawConn, section: &str, field: &str) -> String {
    let text = c.value(&["INFO", section]).text().unwrap();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .to_string()
}

#[test]
fn info_memory_counts_functions_as_redis() {
    let mut d = Diff::new();
    let check = |d: &mut Diff| {
        for f in [
            "number_of_functions",
            "number_of_libraries",
            "used_memory_functions",
        ] {
            let a = info_field(&mut d.ferrodis, "memory", f);
            let b = info_field(&mut d.redis, "memory", f);
            assert_eq!(a, b, "{f}");
        }
        // The interpreter's size is ours (whole KiB, as Redis counts it), present in both.
        for f in ["used_memory_vm_functions", "used_memory_vm_total"] {
            let v: u64 = info_field(&mut d.ferrodis, "memory", f).parse().unwrap();
            assert!(v.is_multiple_of(1024), "{f} {v}");
        }
    };
    check(&mut d);
    d.cmd(&["FUNCTION", "LOAD", &lib("a", "f1", "return 1")]);
    check(&mut d);
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        &raw(
            "bb",
            "redis.register_function{function_name='g1', callback=function() return 1 end, description='a description'}
redis.register_function('g2', function() return 2 end)
redis.register_function('g3', function() return 3 end)",
        ),
    ]);
    check(&mut d);
    d.cmd(&["FUNCTION", "DELETE", "a"]);
    check(&mut d);
    let long = "x".repeat(300);
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        &lib("c", "h1", &format!("return '{long}'")),
    ]);
    check(&mut d);
    d.cmd(&["FUNCTION", "FLUSH"]);
    check(&mut d);
    let vm: u64 = info_field(&mut d.ferrodis, "memory", "used_memory_vm_functions")
        .parse()
        .unwrap();
    assert!(vm > 0 && vm.is_multiple_of(1024), "{vm}");
}

#[test]
fn busy_functions_answer_busy_and_die_by_function_kill() {
    let mut d = Diff::with_args(&["--busy-reply-threshold", "100"]);
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        &raw(
            "slow",
            "redis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}
redis.register_function('spinw', function(keys) redis.call('set', keys[1], 1) while true do end end)",
        ),
    ]);
    let mut other = d.another();
    d.send(&["FCALL", "spin", "0", "arg"]);
    // Wait until both servers answer -BUSY.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (f, r) = other.both(&["PING"]);
        if f.starts_with(b"-BUSY") && r.starts_with(b"-BUSY") {
            assert_same("PING while busy", &f, &r);
            break;
        }
        assert!(Instant::now() < deadline, "never busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.cmd(&["SCRIPT", "KILL"]);
    other.cmd(&["GET", "x"]);
    // FUNCTION STATS names the running function and its command.
    let (f, r) = other.both(&["FUNCTION", "STATS"]);
    // Everything up to the duration, which is each server's own.
    let strip = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).to_string();
        s[..s.find("duration_ms").expect("duration")].to_string()
    };
    assert_eq!(strip(&f), strip(&r), "{}", String::from_utf8_lossy(&f));
    other.cmd(&["FUNCTION", "KILL"]);
    d.read();
    d.cmd(&["PING"]);
    // One that wrote cannot be killed.
    d.send(&["FCALL", "spinw", "1", "k"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (f, r) = other.both(&["PING"]);
        if f.starts_with(b"-BUSY") && r.starts_with(b"-BUSY") {
            break;
        }
        assert!(Instant::now() < deadline, "never busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.cmd(&["FUNCTION", "KILL"]);
    // SHUTDOWN NOSAVE ends them (no reply: the servers exit).
    other.send(&["SHUTDOWN", "NOSAVE"]);
    for s in [d.ferrodis_server(), d.redis_server()] {
        assert!(s.wait_exit(Duration::from_secs(10)));
    }
}

#[test]
fn busy_eval_refuses_function_kill() {
    let mut d = Diff::with_args(&["--busy-reply-threshold", "100"]);
    let mut other = d.another();
    d.send(&["EVAL", "while true do end", "0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (f, r) = other.both(&["PING"]);
        if f.starts_with(b"-BUSY") && r.starts_with(b"-BUSY") {
            assert_same("PING while busy", &f, &r);
            break;
        }
        assert!(Instant::now() < deadline, "never busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.cmd(&["FUNCTION", "KILL"]);
    other.cmd(&["FUNCTION", "STATS"]);
    other.cmd(&["SCRIPT", "KILL"]);
    d.read();
}

#[test]
fn a_body_that_never_ends_times_out_at_load() {
    let mut d = Diff::new();
    d.cmd(&["FUNCTION", "LOAD", "#!lua name=x\nwhile true do end"]);
    d.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nlocal function f() while true do end end\nf()",
    ]);
    d.cmd(&["FUNCTION", "LIST"]);
}

/// A few libraries, some flagged, for the persistence tests.
fn load_libraries(c: &mut RawConn) {
    for code in [
        lib("alpha", "fa", "return 'a'"),
        raw(
            "beta",
            "redis.register_function{function_name='fb', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}",
        ),
        lib("gamma", "fg", &format!("return '{}'", "long body ".repeat(40))),
    ] {
        let r = c.cmd(&["FUNCTION", "LOAD", code.as_str()]);
        assert!(r.starts_with(b"$"), "{}", String::from_utf8_lossy(&r));
    }
}

/// What the libraries answer, to compare before and after a restart.
fn library_state(c: &mut RawConn) -> Vec<Vec<u8>> {
    vec![
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "alpha", "WITHCODE"]),
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "beta", "WITHCODE"]),
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "gamma", "WITHCODE"]),
        c.cmd(&["FCALL", "fa", "0"]),
        c.cmd(&["FCALL_RO", "fb", "1", "k"]),
        c.cmd(&["FCALL", "fg", "0"]),
    ]
}

#[test]
fn libraries_survive_an_rdb_restart_and_cross_both_ways() {
    let f = ferrodis_with(&[]);
    let r = oracle_with(&[]);
    let mut fc = f.conn();
    let mut rc = r.conn();
    load_libraries(&mut fc);
    load_libraries(&mut rc);
    fc.cmd(&["SET", "k", "v"]);
    rc.cmd(&["SET", "k", "v"]);
    let want = library_state(&mut rc);
    assert_eq!(library_state(&mut fc), want);
    // Our own restart.
    assert_eq!(fc.cmd(&["SAVE"]), b"+OK\r\n");
    f.restart(&[]);
    let mut fc = f.conn();
    assert_eq!(library_state(&mut fc), want);
    // DEBUG RELOAD replaces the libraries with the file's.
    assert_eq!(fc.cmd(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    assert_eq!(library_state(&mut fc), want);
    // redis-server's RDB loads in ferrodis.
    assert_eq!(rc.cmd(&["SAVE"]), b"+OK\r\n");
    f.kill();
    fs::write(
        f.dir().join("dump.rdb"),
        fs::read(r.dir().join("dump.rdb")).unwrap(),
    )
    .unwrap();
    f.restart(&[]);
    let mut fc = f.conn();
    assert_eq!(library_state(&mut fc), want);
    // ferrodis's RDB loads in redis-server.
    fc.cmd(&["FUNCTION", "DELETE", "alpha"]);
    rc.cmd(&["FUNCTION", "DELETE", "alpha"]);
    assert_eq!(fc.cmd(&["SAVE"]), b"+OK\r\n");
    r.kill();
    fs::write(
        r.dir().join("dump.rdb"),
        fs::read(f.dir().join("dump.rdb")).unwrap(),
    )
    .unwrap();
    r.restart(&[]);
    let mut rc = r.conn();
    for c in [&mut fc, &mut rc] {
        assert_eq!(
            c.cmd(&["FCALL", "fa", "0"]),
            b"-ERR Function not found\r\n".to_vec()
        );
    }
    assert_eq!(
        rc.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "gamma", "WITHCODE"]),
        want[2]
    );
    assert_eq!(rc.cmd(&["FCALL_RO", "fb", "1", "k"]), want[4]);
}

#[test]
fn libraries_survive_an_aof_restart_and_a_rewrite() {
    for preamble in ["yes", "no"] {
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
        let f = ferrodis_with(&args);
        let r = oracle_with(&args);
        let mut fc = f.conn();
        let mut rc = r.conn();
        for c in [&mut fc, &mut rc] {
            load_libraries(c);
            c.cmd(&["FUNCTION", "LOAD", &lib("gone", "fx", "return 1")]);
            c.cmd(&["FUNCTION", "DELETE", "gone"]);
            c.cmd(&["SET", "k", "v"]);
        }
        let want = library_state(&mut rc);
        // The incremental file carries the commands as sent.
        let incr =
            |s: &Server| fs::read(s.dir().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
        assert_eq!(incr(&f), incr(&r), "preamble {preamble}");
        f.restart(&["NOSAVE"]);
        let mut fc = f.conn();
        assert_eq!(library_state(&mut fc), want, "preamble {preamble}");
        // A rewrite puts the libraries in the base (RDB, or FUNCTION LOAD commands).
        for c in [&mut fc, &mut rc] {
            assert!(c.cmd(&["BGREWRITEAOF"]).starts_with(b"+"));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for s in [&f, &r] {
            let mut c = s.conn();
            while info_field(&mut c, "persistence", "aof_rewrite_in_progress") != "0"
                || info_field(&mut c, "persistence", "aof_rewrite_scheduled") != "0"
            {
                assert!(Instant::now() < deadline, "rewrite never ended");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let base = |s: &Server| {
            let dir = s.dir().join("appendonlydir");
            let name = fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.contains(".base."))
                .unwrap();
            fs::read(dir.join(name)).unwrap()
        };
        if preamble == "no" {
            // FUNCTION LOAD of each library before any SELECT: compare as sets of commands.
            let (fb, rb) = (base(&f), base(&r));
            let mut fl: Vec<&[u8]> = fb.split(|&b| b == b'*').collect();
            let mut rl: Vec<&[u8]> = rb.split(|&b| b == b'*').collect();
            fl.sort();
            rl.sort();
            assert_eq!(fl, rl);
            assert!(fb.starts_with(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"));
        }
        f.restart(&["NOSAVE"]);
        let mut fc = f.conn();
        assert_eq!(library_state(&mut fc), want, "preamble {preamble}");
        // ferrodis's AOF directory loads in redis-server.
        r.kill();
        let dst = r.dir().join("appendonlydir");
        let _ = fs::remove_dir_all(&dst);
        fs::create_dir_all(&dst).unwrap();
        for e in fs::read_dir(f.dir().join("appendonlydir")).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        r.restart(&[]);
        let mut rc = r.conn();
        assert_eq!(library_state(&mut rc), want, "preamble {preamble}");
    }
}

/// Waits (bounded) until `replica` has its link up and has processed all of `master`'s
/// stream.
fn wait_in_sync(master: &mut RawConn, replica: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = info_field(replica, "replication", "master_link_status") == "up";
        let m = info_field(master, "replication", "master_repl_offset");
        let r = info_field(replica, "replication", "slave_repl_offset");
        if up && m == r {
            return;
        }
        assert!(Instant::now() < deadline, "replica never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The libraries a replica should show, one per library name.
fn replica_view(c: &mut RawConn) -> Vec<Vec<u8>> {
    vec![
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "alpha", "WITHCODE"]),
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "beta", "WITHCODE"]),
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "gamma", "WITHCODE"]),
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "late"]),
        c.cmd(&["FCALL_RO", "fb", "1", "k"]),
        c.cmd(&["GET", "written"]),
    ]
}

/// Library changes after the full sync travel in the stream, with a function's effects.
fn after_sync(c: &mut RawConn) {
    c.cmd(&["FUNCTION", "DELETE", "alpha"]);
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        &raw(
            "late",
            "redis.register_function('wr', function(keys, args) return redis.call('set', keys[1], args[1]) end)",
        ),
    ]);
    assert_eq!(c.cmd(&["FCALL", "wr", "1", "written", "yes"]), b"+OK\r\n");
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        &lib("gamma", "fg", "return 'new'"),
    ]);
}

#[test]
fn libraries_replicate_both_ways() {
    // redis-server replicating from ferrodis.
    let f = ferrodis_with(&[]);
    let mut fc = f.conn();
    load_libraries(&mut fc);
    fc.cmd(&["SET", "k", "v"]);
    let port = f.port().to_string();
    let r = oracle_with(&["--replicaof", "127.0.0.1", &port]);
    let mut rc = r.conn();
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(replica_view(&mut rc), replica_view(&mut fc));
    after_sync(&mut fc);
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(replica_view(&mut rc), replica_view(&mut fc));
    // FUNCTION FLUSH and RESTORE travel too.
    let dump = fc.value(&["FUNCTION", "DUMP"]).bytes().unwrap().to_vec();
    fc.cmd(&["FUNCTION", "FLUSH"]);
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(rc.cmd(&["FUNCTION", "LIST"]), b"*0\r\n");
    fc.cmd(&[&b"FUNCTION"[..], b"RESTORE", &dump]);
    wait_in_sync(&mut fc, &mut rc);
    assert_eq!(replica_view(&mut rc), replica_view(&mut fc));

    // ferrodis replicating from redis-server: its own libraries give way to the master's.
    let o = oracle_with(&["--repl-diskless-sync-delay", "0"]);
    let mut oc = o.conn();
    load_libraries(&mut oc);
    oc.cmd(&["SET", "k", "v"]);
    let g = ferrodis_with(&[]);
    let mut gc = g.conn();
    gc.cmd(&["FUNCTION", "LOAD", &lib("mine", "m", "return 1")]);
    gc.cmd(&["REPLICAOF", "127.0.0.1", &o.port().to_string()]);
    wait_in_sync(&mut oc, &mut gc);
    assert_eq!(replica_view(&mut gc), replica_view(&mut oc));
    assert_eq!(gc.cmd(&["FCALL", "m", "0"]), b"-ERR Function not found\r\n");
    after_sync(&mut oc);
    wait_in_sync(&mut oc, &mut gc);
    assert_eq!(replica_view(&mut gc), replica_view(&mut oc));
}
