//! Lua scripting against the oracle: EVAL/EVALSHA/SCRIPT, the RESP <-> Lua conversions, the
//! error texts, the sandbox, and what scripts propagate.

mod common;
use common::Diff;

/// EVAL `body` with no keys on both servers, replies compared byte for byte.
fn ev(d: &mut Diff, body: &str) -> Vec<u8> {
    d.cmd(&["EVAL", body, "0"])
}

/// Each body in turn.
fn evs(d: &mut Diff, bodies: &[&str]) {
    for b in bodies {
        ev(d, b);
    }
}

#[test]
fn lua_to_resp2_conversions() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return 1",
            "return 1.9",
            "return -1.9",
            "return 1e300",
            "return -1e300",
            "return 0/0",
            "return 'x'",
            "return ''",
            "return true",
            "return false",
            "return nil",
            "return",
            "return {}",
            "return {1,2,3,'x',nil,5}",
            "return {1,{2,{3,{'a'}}}}",
            "return {ok='fine'}",
            "return {ok='a\\r\\nb'}",
            "return {err='MYERR custom'}",
            "return {err='noSpace'}",
            "return {err='ERR x\\r\\ny'}",
            "return {double=1.5}",
            "return {double=0.1}",
            "return {double=1/0}",
            "return {big_number='123456789012345678901234567890'}",
            "return {map={a=1}}",
            "return {set={a=true}}",
            "return {verbatim_string={format='txt', string='hello'}}",
            "return {1, ok='x'}",
            "return {err=1}",
            "return function() end",
            "local t={} t[1]=t return #t",
            "return redis.status_reply('PONG')",
            "return redis.error_reply('MY err')",
            "return redis.error_reply('-NOCODE')",
            "return redis.error_reply('-X y')",
            "return redis.status_reply()",
            "return redis.error_reply(1)",
            "return {redis.error_reply('E x')}",
        ],
    );
}

#[test]
fn lua_to_resp3_conversions() {
    let mut d = Diff::new();
    d.both(&["HELLO", "3"]);
    evs(
        &mut d,
        &[
            "return true",
            "return false",
            "return nil",
            "redis.setresp(3) return true",
            "redis.setresp(3) return false",
            "return {double=1.5}",
            "return {double=-1/0}",
            "return {big_number='12345678901234567890'}",
            "return {big_number='1\\r\\n2'}",
            "return {verbatim_string={format='mkd', string='# hi'}}",
            "return {set={z=true}}",
            "return {map={k={1,2}}}",
            "return {1,nil,3}",
        ],
    );
}

#[test]
fn redis_replies_to_lua() {
    let mut d = Diff::new();
    d.run(
        "
        RPUSH l a b c
        HSET h f v
        SET s 10
        SADD st m
        ZADD z 1.5 m
        ",
    );
    evs(
        &mut d,
        &[
            "return redis.call('get','s')",
            "return type(redis.call('get','nokey'))",
            "return tostring(redis.call('get','nokey'))",
            "return redis.call('incr','s')",
            "return type(redis.call('incr','s'))",
            "return redis.call('lrange','l',0,-1)",
            "return redis.call('set','a','b')",
            "return redis.call('set','a','b')['ok']",
            "return type(redis.call('lpop','nolist'))",
            "return redis.pcall('incr','l')",
            "return redis.pcall('incr','l')['err']",
            "return redis.call('zscore','z','m')",
            "return redis.call('hgetall','h')",
            "return redis.call('ping')",
            "return redis.call('type','l')",
            "return redis.call('exists','l','h','x')",
            // RESP3 inside the script.
            "redis.setresp(3) return redis.call('hgetall','h')",
            "redis.setresp(3) local t = redis.call('hgetall','h') return t['map']['f']",
            "redis.setresp(3) local t = redis.call('smembers','st') return t['set']['m']",
            "redis.setresp(3) return redis.call('zscore','z','m')",
            "redis.setresp(3) return redis.call('zscore','z','m')['double']",
            "redis.setresp(3) return type(redis.call('get','nokey'))",
            "redis.setresp(3) return redis.call('exists','l')",
            "redis.setresp(2) return redis.call('hgetall','h')",
            // Numbers as arguments: %.17g.
            "return redis.call('set','n',3.0)",
            "redis.call('set','n',0.1) return redis.call('get','n')",
            "redis.call('set','n',1e20) return redis.call('get','n')",
            "redis.call('set','n',-7) return redis.call('get','n')",
        ],
    );
}

#[test]
fn error_texts() {
    let mut d = Diff::new();
    d.cmd(&["SET", "str", "x"]);
    evs(
        &mut d,
        &[
            "error('boom')",
            "error('boom', 0)",
            "error({err='MY x'})",
            "error()",
            "error(12)",
            "local x = nil; return x.y",
            "return redis.call('nosuch')",
            "return redis.pcall('nosuch')",
            "return redis.call()",
            "return redis.pcall()",
            "return redis.call({})",
            "return redis.call('get', {})",
            "return redis.call('get', nil)",
            "return redis.call('get', true)",
            "return redis.call('set','k')",
            "return redis.pcall('set','k')",
            "return redis.call('incr','str')",
            "return redis.call('lpush','str','a')",
            "return redis.pcall('lpush','str','a')",
            "return redis.call('config','nosuch')",
            "return redis.call('blpop','l',0)",
            "return redis.call('subscribe','c')",
            "return redis.call('eval','return 1',0)",
            "return redis.call('multi')",
            "return {pcall(function() redis.call('nosuch') end)}",
            "return {pcall(function() error('x') end)}",
            "return {pcall(function() error({err='E'}) end)}",
            "return {pcall(redis.call, 'incr', 'str')}",
            "retur",
            "return (",
            "local function f() f() end f()",
            "return redis.setresp(4)",
            "return redis.setresp()",
            "return redis.log(9, 'x')",
            "return redis.log(1)",
            "return redis.log('x', 'y')",
            "return redis.set_repl(9)",
            "return redis.set_repl()",
            "return redis.sha1hex()",
            "return math.random(1,2,3)",
            "return math.random(0)",
            "return math.random(3,1)",
            "return math.random('x')",
            "return string.rep('x', -1)",
            "return ('x'):bad()",
        ],
    );
    // Syntax errors at several lines, and the line of a runtime error.
    ev(&mut d, "local a = 1\nlocal b = 2\nerror('third')");
    ev(&mut d, "local a = 1\n\nreturn a +");
    ev(&mut d, "#!lua\nerror('line two')");
}

#[test]
fn redis_api_functions() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return redis.sha1hex('')",
            "return redis.sha1hex('abc')",
            "return redis.sha1hex(12)",
            "return redis.REDIS_VERSION",
            "return redis.REDIS_VERSION_NUM",
            "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
            "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
            "redis.log(redis.LOG_DEBUG, 'debug line') return 1",
            "return redis.replicate_commands()",
            "return redis.breakpoint()",
            "return redis.debug('x')",
            "redis.set_repl(redis.REPL_ALL) return 1",
            "return redis.acl_check_cmd('get','x')",
            "return redis.acl_check_cmd('nosuch')",
            "local t={} for k in pairs(redis) do table.insert(t,k) end table.sort(t) return t",
            "return math.random()",
            "return {math.random(100), math.random(100), math.random(5, 10)}",
            "math.randomseed(42) return {math.random(1000), math.random(1000)}",
            "return tostring(math.random())",
            "return type(KEYS)",
        ],
    );
    // The same sequence on every call.
    ev(&mut d, "return math.random(1000000)");
    ev(&mut d, "return math.random(1000000)");
    d.cmd(&[
        "EVAL",
        "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}",
        "2",
        "k1",
        "k2",
        "a1",
        "a2",
    ]);
    d.cmd(&["EVAL", "return #KEYS", "0"]);
}

#[test]
fn sandbox() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "x = 1",
            "return y",
            "return os",
            "return io",
            "return dofile",
            "return loadfile",
            "return print",
            "return getfenv",
            "return debug",
            "return newproxy",
            "string.x = 1",
            "math.pi = 3",
            "redis.call = nil",
            "table.insert = nil",
            "_G.x = 1",
            "_G.string = nil",
            "rawset(string,'x',1)",
            "rawset(_G,'x',1)",
            "setmetatable(_G, nil)",
            "setmetatable(string, {})",
            "return getmetatable(_G) == nil",
            "return getmetatable(string) == nil",
            "return getmetatable('').__index == string",
            "getmetatable('').__index.upper = nil",
            "return ('abc'):upper()",
            "return type(rawget(_G, 'redis'))",
            "return rawget(string, 'len') ~= nil",
            "local t={} for k in pairs(_G) do table.insert(t,k) end table.sort(t) return t",
            "bit.x = 1",
            "bit.band = nil",
            "local t={} for k in pairs(string) do table.insert(t,k) end table.sort(t) return t",
            "local n=0 for k in next, math do n = n + 1 end return n",
            "return loadstring('return 1+1')()",
            "local f = loadstring('x = 1') return {pcall(f)}",
            "local f, e = loadstring(string.dump(function() return 1 end)) return e",
            "local f, e = loadstring(string.dump(function() return 1 end), 'name') return e",
            "local s = string.dump(function() return 1 end) local done = false local f, e = load(function() if done then return nil end done = true return s end) return e",
            "return load(function() return nil end) ~= nil",
            "local f = load('return 5') return f()",
            "local t = {} t.x = 1 return t.x",
            "KEYS[1] = 'changed' return KEYS[1]",
            "return tostring(coroutine.create(function() end)):sub(1,7)",
            "local co = coroutine.wrap(function() coroutine.yield(7) end) return co()",
            "return pcall(function() x = 1 end)",
            "return _VERSION",
        ],
    );
    // A global written by one script (were it possible) would be seen by the next.
    ev(&mut d, "return rawget(_G, 'x') == nil");
}

#[test]
fn script_subcommands_and_evalsha() {
    let mut d = Diff::new();
    d.run(
        "
        SCRIPT FLUSH
        SCRIPT LOAD \"return 'loaded'\"
        SCRIPT LOAD \"return 'loaded'\"
        SCRIPT LOAD retur
        SCRIPT EXISTS 6b2d2a8b7c1ba5a1c1c0c0a0b0b6f7a8b9c0d1e2 nope
        EVALSHA ffffffffffffffffffffffffffffffffffffffff 0
        EVALSHA abc 0
        EVALSHA abc -1
        EVALSHA abc x
        EVALSHA ffffffffffffffffffffffffffffffffffffffff x
        EVALSHA ffffffffffffffffffffffffffffffffffffffff -1
        EVALSHA_RO abc 99
        EVALSHA_RO ffffffffffffffffffffffffffffffffffffffff 0
        SCRIPT KILL
        SCRIPT FLUSH x
        SCRIPT FLUSH sync async
        SCRIPT FLUSH ASYNC
        SCRIPT FLUSH SYNC
        SCRIPT EXISTS
        SCRIPT HELP
        SCRIPT NOSUCH
        EVAL \"return 1\" -1
        EVAL \"return 1\" 2 a
        EVAL \"return 1\" x
        EVAL \"return 1\" 99999999999999999999
        EVAL
        EVALSHA x
        ",
    );
    let sha = d.cmd(&["SCRIPT", "LOAD", "return {KEYS[1], ARGV[1]}"]);
    let sha = String::from_utf8(sha[5..45].to_vec()).unwrap();
    d.cmd(&["EVALSHA", &sha, "1", "k", "a"]);
    d.cmd(&["EVALSHA", &sha.to_uppercase(), "1", "k", "a"]);
    d.cmd(&["EVALSHA", &format!("{sha}trailing"), "1", "k", "a"]);
    d.cmd(&["EVALSHA_RO", &sha, "1", "k", "a"]);
    d.cmd(&[
        "SCRIPT",
        "EXISTS",
        &sha,
        &sha.to_uppercase(),
        "x",
        &format!("{sha}x"),
    ]);
    d.cmd(&["EVAL", "return 'by eval'", "0"]);
    d.cmd(&[
        "SCRIPT",
        "EXISTS",
        "0dc4c9a3a1bbd4dd2ddba3c9ee6b7bc7c63b0fbc",
    ]);
    d.cmd(&["SCRIPT", "FLUSH"]);
    d.cmd(&["EVALSHA", &sha, "1", "k", "a"]);
    d.cmd(&["SCRIPT", "EXISTS", &sha]);
}

#[test]
fn shebang_flags_and_read_only() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "#!lua\nreturn redis.call('set','a','b')",
            "#!lua flags=no-writes\nreturn redis.call('set','a','b')",
            "#!lua flags=no-writes\nreturn redis.call('get','a')",
            "#!lua flags=no-writes,allow-oom\nreturn redis.pcall('del','a')",
            "#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1",
            "#!lua flags=\nreturn 2",
            "#!lua flags=bad\nreturn 1",
            "#!lua flags=no-writes,,x\nreturn 1",
            "#!luax\nreturn 1",
            "#!lua foo=bar\nreturn 1",
            "#!lua  flags=no-writes\nreturn 1",
            "#!lua",
            "#!\nreturn 1",
        ],
    );
    d.cmd(&["EVAL_RO", "return redis.call('get','a')", "0"]);
    d.cmd(&["EVAL_RO", "return redis.call('set','a','b')", "0"]);
    d.cmd(&["EVAL_RO", "return redis.call('publish','c','m')", "0"]);
    d.cmd(&["EVAL_RO", "#!lua\nreturn 1", "0"]);
    d.cmd(&["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"]);
    d.cmd(&["GET", "a"]);
}

#[test]
fn scripts_use_the_callers_db_without_changing_it() {
    let mut d = Diff::new();
    d.run(
        "
        SELECT 3
        SET k three
        EVAL \"return redis.call('get','k')\" 0
        EVAL \"redis.call('select', 5) redis.call('set','k','five') return redis.call('get','k')\" 0
        GET k
        SELECT 5
        GET k
        ",
    );
}

#[test]
fn scripts_in_transactions() {
    let mut d = Diff::new();
    d.run(
        "
        MULTI
        EVAL \"return redis.call('incr','c')\" 0
        EVAL \"return redis.call('incr','c')\" 0
        EXEC
        GET c
        ",
    );
}

/// Nothing a script does can take the server down: bad arguments, deep recursion, huge
/// strings and tables, a reply that contains itself.
#[test]
fn scripts_cannot_crash_the_server() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "local function f(n) return f(n+1) + 1 end return f(1)",
            "local function f(n) return pcall(f, n+1) end return f(1)",
            "local t = {} t[1] = t return t",
            "local t = {} t.x = t return t",
            "return redis.call('set', 'k', string.rep('x', 1000000)) and #redis.call('get','k')",
            "local t = {} for i=1,100000 do t[i] = i end return #t",
            "return redis.call(string.rep('x', 100000))",
            "return redis.pcall('set')",
            "return redis.call('get', 'a', 'b', 'c')",
            "return redis.sha1hex({})",
            "return redis.error_reply(nil)",
            "return {redis.pcall(nil)}",
            "setmetatable({}, {__gc = function() error('x') end}) collectgarbage() return 1",
            "return select('#', unpack({}, 1, 100))",
            "return string.format('%5000d', 1):len()",
            "local t = {} for i=1,10000 do t = {t} end return t",
            "local t = {} for i=1,10000 do t = {map={k=t}} end return t",
            "return #{struct.unpack(string.rep('b', 10000), string.rep('x', 10000))}",
            "return #{unpack({}, 1, 1e6)}",
            "local t = {} for i=1,10000 do t = {t} end return cjson.encode(t)",
            "return #cmsgpack.pack((function() local t = {} for i=1,10000 do t = {t} end return t end)())",
            "return #{cmsgpack.unpack(string.rep('\\145', 10000) .. '\\1')}",
        ],
    );
    // The server still answers.
    d.cmd(&["PING"]);
    // Very large allocations fail inside the script, not the server (ferrodis only: the
    // oracle's own memory is not ours to exhaust).
    let mut f = d.ferrodis_server().conn();
    let r = f.cmd(&[
        "EVAL",
        "local ok = pcall(string.rep, 'x', 2^31) return 1",
        "0",
    ]);
    assert!(r.starts_with(b":1") || r.starts_with(b"-"), "{r:?}");
    assert_eq!(f.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn info_and_stats_after_scripts() {
    let mut d = Diff::new();
    d.cmd(&["CONFIG", "RESETSTAT"]);
    ev(
        &mut d,
        "redis.call('set','a','1') return redis.pcall('incr','nosuch', 'x')",
    );
    ev(&mut d, "return redis.call('lpush','a','x')");
    let (f, r) = d.both(&["INFO", "errorstats"]);
    assert_eq!(f, r);
}

/// A script's effects reach the AOF as the commands it called, wrapped in MULTI/EXEC when
/// there are several, with the SELECTs they need; EVAL itself, read-only scripts and
/// failed writes leave nothing. The incremental AOF files of the two servers are compared
/// byte for byte (the workload has no time-dependent command).
#[test]
fn scripts_propagate_their_effects() {
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut d = Diff::from_servers(common::ferrodis_with(&args), common::oracle_with(&args));
    d.run(
        "
        EVAL \"return redis.call('set','a','1')\" 0
        EVAL \"redis.call('set','b','2') redis.call('incr','n') return redis.call('rpush','l','x','y')\" 0
        EVAL \"return redis.call('get','a')\" 0
        EVAL \"redis.call('del','nosuch') return 1\" 0
        EVAL \"redis.call('select', 2) redis.call('set','k2','v') redis.call('select', 0) return redis.call('set','k0','v')\" 0
        SELECT 4
        EVAL \"redis.call('set','k4','v') return redis.call('pexpireat','k4', 4102444800000)\" 0
        SELECT 0
        EVAL \"redis.call('set','before','err') return redis.call('incr','l')\" 0
        SCRIPT LOAD \"return redis.call('incr', KEYS[1])\"
        EVALSHA 7a0e5d1db09b2b0a8c9f8d4f3af8d7f6c1d7a0b9 1 c
        EVAL \"#!lua flags=no-writes\\nreturn redis.call('get','a')\" 0
        MULTI
        EVAL \"return redis.call('incr','m')\" 0
        SET after done
        EXEC
        EVAL \"redis.set_repl(redis.REPL_NONE) redis.call('set','none','1') redis.set_repl(redis.REPL_ALL) return redis.call('set','all','1')\" 0
        EVAL \"redis.set_repl(redis.REPL_REPLICA) redis.call('set','replica','1') redis.set_repl(redis.REPL_AOF) return redis.call('set','aof','1')\" 0
        EVAL \"redis.set_repl(redis.REPL_NONE) return redis.call('set','nothing','1')\" 0
        ",
    );
    let sha = d.cmd(&["SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])"]);
    let sha = String::from_utf8(sha[5..45].to_vec()).unwrap();
    d.cmd(&["EVALSHA", &sha, "1", "c"]);
    d.cmd(&["EVALSHA", &sha, "1", "c"]);
    let incr = |s: &common::Server| {
        std::fs::read(s.dir().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap()
    };
    let (f, r) = (incr(d.ferrodis_server()), incr(d.redis_server()));
    common::assert_same("incremental AOF", &f, &r);
    assert!(!f.windows(4).any(|w| w.eq_ignore_ascii_case(b"eval")));
}

/// The reply of a killed script (the harness's read timeout bounds the wait).
fn wait_reply(conn: &mut common::RawConn) -> Vec<u8> {
    conn.read_reply()
}

/// A script past busy-reply-threshold: other clients get -BUSY, SCRIPT KILL stops it and
/// its caller gets Redis's error; a script that wrote cannot be killed. Same on both.
#[test]
fn busy_scripts_answer_busy_and_can_be_killed() {
    let mut d = Diff::with_args(&["--busy-reply-threshold", "50"]);
    let mut runner = d.another();
    d.cmd(&["SCRIPT", "KILL"]);
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    // Poll each side until it answers -BUSY (bounded).
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let r = conn.cmd(&["PING"]);
            if r.starts_with(b"-BUSY") {
                break;
            }
            assert_eq!(r, b"+PONG\r\n");
            assert!(std::time::Instant::now() < deadline, "never busy");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    d.cmd(&["GET", "x"]);
    d.cmd(&["EVAL", "return 1", "0"]);
    d.cmd(&["SHUTDOWN"]);
    d.cmd(&["MULTI"]);
    d.cmd(&["GET", "x"]);
    d.cmd(&["DISCARD"]);
    d.cmd(&["SCRIPT", "KILL"]);
    let (f, r) = (
        wait_reply(&mut runner.ferrodis),
        wait_reply(&mut runner.redis),
    );
    common::assert_same("killed script", &f, &r);
    d.cmd(&["PING"]);
    d.cmd(&["SCRIPT", "KILL"]);

    // A script that wrote cannot be killed; it is stopped here by SHUTDOWN NOSAVE on
    // ferrodis only after comparing the refusal.
    runner.send(&[
        "EVAL",
        "redis.call('set','w','1') local i = 0 while true do i = i + 1 end",
        "0",
    ]);
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !conn.cmd(&["PING"]).starts_with(b"-BUSY") {
            assert!(std::time::Instant::now() < deadline, "never busy");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    d.cmd(&["SCRIPT", "KILL"]);
    d.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(d.closed());
}

/// The value of INFO field `name` in a raw INFO reply.
fn info_field(reply: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(reply);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_string()
}

#[test]
fn info_counts_cached_scripts() {
    let mut d = Diff::new();
    for body in ["return 1", "return 2", "return 2"] {
        ev(&mut d, body);
    }
    d.cmd(&["SCRIPT", "LOAD", "return 3"]);
    let (f, r) = d.both(&["INFO", "memory"]);
    assert_eq!(info_field(&f, "number_of_cached_scripts"), "3");
    assert_eq!(info_field(&r, "number_of_cached_scripts"), "3");
    assert!(info_field(&f, "used_memory_lua").parse::<u64>().unwrap() > 0);
    assert!(
        info_field(&f, "used_memory_scripts_eval")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    d.cmd(&["SCRIPT", "FLUSH"]);
    let (f, r) = d.both(&["INFO", "memory"]);
    assert_eq!(info_field(&f, "number_of_cached_scripts"), "0");
    assert_eq!(info_field(&r, "number_of_cached_scripts"), "0");
    assert_eq!(info_field(&f, "used_memory_scripts_eval"), "0");
}

/// MONITOR shows EVAL before the commands its script calls, which show as from "lua".
#[test]
fn monitor_shows_scripts_and_their_commands() {
    let mut d = Diff::new();
    let mut m = d.another();
    m.cmd(&["MONITOR"]);
    d.cmd(&[
        "EVAL",
        "redis.call('set','a','1') return redis.call('get','a')",
        "0",
    ]);
    d.cmd(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
    // "+<time> [0 <addr>] args": compare from the first space after the address.
    let strip = |line: Vec<u8>| {
        let s = String::from_utf8(line).unwrap();
        let db_addr = s.split(' ').nth(1).unwrap().to_string();
        let addr = s.split(' ').nth(2).unwrap();
        let who = if addr == "lua]" { "lua]" } else { "client]" };
        let rest: Vec<&str> = s.split(' ').skip(3).collect();
        format!("{db_addr} {who} {}", rest.join(" "))
    };
    for _ in 0..4 {
        let (f, r) = (m.ferrodis.read_reply(), m.redis.read_reply());
        assert_eq!(strip(f), strip(r));
    }
}

#[test]
fn bit_library() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return bit.tohex(65535)",
            "return bit.tohex(-1, -4)",
            "return bit.tohex(1, 20)",
            "return bit.tohex(255, 0)",
            "return bit.tohex(1, -2147483648)",
            "return bit.tohex(1, 2^31)",
            "return bit.tohex(0x12345678, 3)",
            "return bit.tobit(2^32+1)",
            "return bit.tobit(0xffffffff)",
            "return bit.tobit(1.5)",
            "return bit.tobit(-1.5)",
            "return bit.tobit(2.5)",
            "return bit.tobit(1e300)",
            "return bit.tobit(0/0)",
            "return bit.lshift(1, 33)",
            "return bit.lshift(1, 31)",
            "return bit.band()",
            "return bit.band('x')",
            "return bit.band('7', 3)",
            "return bit.band(7, {})",
            "return bit.bswap(0x12345678)",
            "return bit.rol(0x12345678, 36)",
            "return bit.ror(0x12345678, 4)",
            "return bit.rol(1, 0)",
            "return bit.bnot(0)",
            "return {bit.arshift(-256, 4), bit.rshift(-256, 4)}",
            "return {bit.bor(1,2,4,8), bit.bxor(1,3,7), bit.band(0xff, 0x0f, 0x3)}",
            "local t={} for k in pairs(bit) do table.insert(t,k) end table.sort(t) return t",
        ],
    );
}

/// Shebang flags stand for EVAL's own in the gates before it runs: over maxmemory a script
/// that may write is refused unless allow-oom or no-writes; under CLIENT PAUSE WRITE a
/// no-writes script runs at once.
#[test]
fn shebang_flags_in_the_command_gates() {
    let mut d = Diff::new();
    d.run(
        "
        SET k v
        SCRIPT LOAD \"#!lua\\nreturn 1\"
        CONFIG SET maxmemory-policy noeviction
        CONFIG SET maxmemory 1
        EVAL \"#!lua\\nreturn 1\" 0
        EVALSHA a42059b356c875f0717db19a51f6aaca9ae659ea 0
        EVAL \"#!lua flags=no-writes\\nreturn 2\" 0
        EVAL \"#!lua flags=allow-oom\\nreturn redis.call('set','k','w')\" 0
        EVAL \"return 3\" 0
        EVAL \"return redis.pcall('set','k','x')\" 0
        EVAL \"return redis.call('get','k')\" 0
        CONFIG SET maxmemory 0
        CLIENT PAUSE 100000 WRITE
        EVAL \"#!lua flags=no-writes\\nreturn redis.call('get','k')\" 0
        EVAL_RO \"return redis.call('get','k')\" 0
        CLIENT UNPAUSE
        ",
    );
}

#[test]
fn struct_library() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return struct.size('>iIhHbBlLfdx')",
            "return struct.size('!8 b d')",
            "return struct.size('i16 c3')",
            "return struct.size('q')",
            "return struct.size('s')",
            "return struct.size('c0')",
            "return struct.pack('>i', 1)",
            "return struct.pack('<i', -1)",
            "return struct.pack('i3', 1)",
            "return struct.pack('>i16', -2)",
            "return struct.pack('i33', 1)",
            "return struct.pack('i99999999999999999999', 1)",
            "return struct.pack('q', 1)",
            "return struct.pack('c0', 'abc')",
            "return struct.pack('c5', 'abc')",
            "return struct.pack('c', 'abc')",
            "return struct.pack('s', 'ab')",
            "return struct.pack('!3i', 1)",
            "return struct.pack('!4 b i', 1, 2)",
            "return struct.pack('>d', 1.5)",
            "return struct.pack('<f', 0.1)",
            "return struct.pack('<l', -2)",
            "return struct.pack('b', 'x')",
            "return struct.pack('b')",
            "return struct.pack('b', 1e300)",
            "return struct.pack('>L', 2^64)",
            "return struct.pack('>I8', 2^63 + 2^62)",
            "return struct.pack('xBx', 255)",
            "return {struct.unpack('>I2', 'ab')}",
            "return {struct.unpack('<i2', '\\255\\255')}",
            "return {struct.unpack('s', 'ab')}",
            "return {struct.unpack('s', 'ab\\0cd')}",
            "return {struct.unpack('>i', 'ab')}",
            "return {struct.unpack('b c0', '\\3abc')}",
            "return {struct.unpack('c0', 'abc')}",
            "return {struct.unpack('i', 'abcd', 0)}",
            "return {struct.unpack('i', 'abcd', -5)}",
            "return {struct.unpack('i', 'abcdabcd', 5)}",
            "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}",
            "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
            "return {struct.unpack('>i16', struct.pack('>i16', -3))}",
            "return {struct.unpack('x', 'a')}",
            "struct.pack = nil",
        ],
    );
}

#[test]
fn cjson_library() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return cjson.encode({1,2,'a',{x=1}})",
            "return cjson.encode({[1]=1,[3]=3})",
            "return cjson.encode({[1]=1,[30]=3})",
            "return cjson.encode({[1]=1,[10]=3})",
            "return cjson.encode({[1]=1,[11]=3})",
            "return cjson.encode({[1.5]=1})",
            "return cjson.encode({[-1]=1})",
            "return cjson.encode(0/0)",
            "return cjson.encode(1/0)",
            "return cjson.encode(function() end)",
            "return cjson.encode({[true]=1})",
            "return cjson.encode({f=function() end})",
            "return cjson.encode('a/\\\"\\\\\\1\\127\\31\u{e9}\\b\\f\\n\\r\\t')",
            "return cjson.encode(0.1)",
            "return cjson.encode(1/3)",
            "return cjson.encode(1e300)",
            "return cjson.encode(-0)",
            "return cjson.encode(123456789012345678)",
            "return cjson.encode({})",
            "return cjson.encode(nil)",
            "return cjson.encode(cjson.null)",
            "return cjson.encode()",
            "return cjson.encode(1, 2)",
            "return cjson.encode({{{}}})",
            "return cjson.encode({a={b={c={1,true,false}}}})",
            "local t = {} t.t = t return cjson.encode(t)",
            "local t = {} local c = t for i=1,1001 do c[1] = {} c = c[1] end return cjson.encode(t)",
            "return cjson.encode({a=1,b=2,c=3,d=4,e=5,f=6})",
            "return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null",
            "return cjson.decode('[1,2,3.5,\"x\",true,false]')",
            "return cjson.decode('{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}').a.b[2].c",
            "return cjson.decode('0x10')",
            "return cjson.decode('+1')",
            "return cjson.decode('01')",
            "return cjson.decode('inf')",
            "return cjson.decode('-Infinity')",
            "return cjson.decode('nan') ~= cjson.decode('nan')",
            "return cjson.decode('1e2')",
            "return cjson.decode('[1,')",
            "return cjson.decode('[1 2]')",
            "return cjson.decode('{1:2}')",
            "return cjson.decode('{}')",
            "return cjson.decode('[]')",
            "return cjson.decode('\"\\\\q\"')",
            "return cjson.decode('\"\\\\u00e9\\\\u20ac\"')",
            "return cjson.decode('\"\\\\ud83d\\\\ude00\"')",
            "return cjson.decode('\"\\\\ud83d\"')",
            "return cjson.decode('\"\\\\ude00\"')",
            "return cjson.decode('\"\\\\u12\"')",
            "return cjson.decode('\"a\\\\/b\\\\n\"')",
            "return cjson.decode('[1] x')",
            "return cjson.decode('')",
            "return cjson.decode('  ')",
            "return cjson.decode('tru')",
            "return cjson.decode('nul')",
            "return cjson.decode('{\"a\" 1}')",
            "return cjson.decode('{\"a\":1 \"b\"}')",
            "return cjson.decode('{\"a\":1,}')",
            "return cjson.decode('\"abc')",
            "return cjson.decode(string.rep('[', 1001))",
            "return #cjson.decode(string.rep('[', 999) .. string.rep(']', 999))",
            "return {cjson.decode('-')}",
            "return cjson.decode('a\\0b')",
            "return cjson.decode('1\\0junk')",
            "return cjson.decode()",
            "return cjson.decode({})",
            "return type(cjson.null)",
            "return cjson.decode(cjson.encode({k={1,2,3}, s='x'})).k[3]",
            "cjson.encode = nil",
        ],
    );
}

#[test]
fn cmsgpack_library() {
    let mut d = Diff::new();
    evs(
        &mut d,
        &[
            "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296)",
            "return cmsgpack.pack(-32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
            "return cmsgpack.pack(0.5, 0.1, 1e300, 1/0, -1/0, 2^63, -2^63)",
            "return cmsgpack.pack(true, false, nil, 'abc', string.rep('x', 40), string.rep('y', 300))",
            "return cmsgpack.pack({1,2,3}, {a=1}, {}, {[1]=1,[3]=3}, {[1.5]=1})",
            "return cmsgpack.pack({{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}})",
            "return cmsgpack.pack(function() end)",
            "return cmsgpack.pack()",
            "return cmsgpack.pack(string.rep('z', 70000)):len()",
            "local t = {} for i=1,20 do t[i] = i end return cmsgpack.pack(t)",
            "local t = {} for i=1,20 do t['k'..i] = i end return #cmsgpack.pack(t)",
            "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {2, 3}, true))}",
            "return cmsgpack.unpack(cmsgpack.pack({a={b={1,2}}})).a.b[2]",
            "return {cmsgpack.unpack(cmsgpack.pack(0.5, 0.1, -7, 2^40))}",
            "return {cmsgpack.unpack('')}",
            "return {cmsgpack.unpack('\\145')}",
            "return {cmsgpack.unpack('\\193')}",
            "return {cmsgpack.unpack('\\199\\1\\1x')}",
            "return {cmsgpack.unpack('\\196\\2ab')}",
            "return {cmsgpack.unpack('\\205\\1')}",
            "return {cmsgpack.unpack('\\129\\192\\1')}",
            "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
            "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
            "return {cmsgpack.unpack_one(cmsgpack.pack(1), 0)}",
            "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
            "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
            "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}",
            "return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}",
            "return {cmsgpack.unpack({})}",
            "return #{cmsgpack.unpack(string.rep('\\145', 100000))}",
            "return #{cmsgpack.unpack(string.rep('\\1', 100000))}",
            "return #{cmsgpack.unpack(string.rep('\\1', 1000))}",
            "cmsgpack.pack = nil",
        ],
    );
}

/// SIGTERM while a script is busy: the server logs at once that it schedules a shutdown,
/// keeps answering -BUSY while the script runs, and shuts down when the script ends (killed
/// here), with no reply to the script's caller. Same on both.
#[test]
fn sigterm_during_busy_script_shuts_down_after_it() {
    let mut d = Diff::with_args(&["--busy-reply-threshold", "50"]);
    let mut runner = d.another();
    runner.send(&["EVAL", "while true do end", "0"]);
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !conn.cmd(&["PING"]).starts_with(b"-BUSY") {
            assert!(std::time::Instant::now() < deadline, "never busy");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    for srv in [d.ferrodis_server(), d.redis_server()] {
        // SAFETY: a plain kill(2) of a server process this test started.
        assert_eq!(unsafe { libc::kill(srv.pid() as i32, libc::SIGTERM) }, 0);
    }
    for srv in [d.ferrodis_server(), d.redis_server()] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !srv
            .log()
            .contains("Received SIGTERM scheduling shutdown...")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never logged the signal: {}",
                srv.bin().display(),
                srv.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    // Still busy, still running: the shutdown waits for the script.
    d.cmd(&["PING"]);
    assert!(d.ferrodis_server().is_running() && d.redis_server().is_running());
    // Each server exits right after the kill's reply, so when each connection closes is a
    // race: the replies are compared, not the connections' state.
    let killed: Vec<Vec<u8>> = [&mut d.ferrodis, &mut d.redis]
        .into_iter()
        .map(|c| c.cmd(&["SCRIPT", "KILL"]))
        .collect();
    assert_eq!(common::escape(&killed[0]), common::escape(&killed[1]));
    for srv in [d.ferrodis_server(), d.redis_server()] {
        assert!(srv.wait_exit(std::time::Duration::from_secs(10)));
    }
    // The caller may get the killed script's error before the server goes (redis-server
    // writes it when its cron was not due yet, else exits first), then its connection ends.
    for c in [&mut runner.ferrodis, &mut runner.redis] {
        // The server is gone: whatever it sent is in the socket, then the end.
        if !c.is_closed_within(std::time::Duration::from_secs(2)) {
            let text = String::from_utf8_lossy(&c.read_reply()).into_owned();
            assert!(
                text.starts_with("-ERR") && text.contains("killed"),
                "{text}"
            );
            assert!(c.is_closed());
        }
    }
}

/// KEYS and ARGV are the run's own: what a script does to them (new fields, keys past the
/// end, holes, a metatable) is not seen by the next run, and a run with fewer keys or
/// arguments sees only its own.
#[test]
fn keys_and_argv_are_fresh_each_run() {
    let mut d = Diff::new();
    let look = "return {#KEYS, #ARGV, tostring(KEYS[2]), tostring(KEYS[3]), tostring(ARGV[2]), \
                tostring(rawget(KEYS, 'f')), tostring(rawget(ARGV, 'f')), \
                tostring(getmetatable(KEYS)), tostring(next(ARGV, #ARGV > 0 and #ARGV or nil))}";
    for (change, nkeys, rest) in [
        ("KEYS[3] = 'x' ARGV.f = 1", "2", &["a", "b", "1", "2"][..]),
        (
            "table.remove(KEYS) table.insert(ARGV, 'z')",
            "2",
            &["a", "b", "1"][..],
        ),
        ("KEYS[1] = nil ARGV[1] = nil", "1", &["a", "1", "2"][..]),
        (
            "setmetatable(KEYS, {__index = function() return 'm' end})",
            "1",
            &["a"][..],
        ),
        ("KEYS.f = 'k' ARGV[5] = 'y'", "0", &[][..]),
    ] {
        let mut args = vec!["EVAL", change, nkeys];
        args.extend_from_slice(rest);
        d.cmd(&args);
        for (n, more) in [
            ("2", &["p", "q", "r"][..]),
            ("1", &["p"][..]),
            ("0", &[][..]),
        ] {
            let mut args = vec!["EVAL", look, n];
            args.extend_from_slice(more);
            d.cmd(&args);
        }
    }
    let sha = d.cmd(&["SCRIPT", "LOAD", look]);
    let sha = String::from_utf8_lossy(&sha[5..45]).to_string();
    d.cmd(&["EVALSHA", &sha, "3", "a", "b", "c", "1", "2"]);
    d.cmd(&["EVAL", "KEYS[4] = 'x'", "3", "a", "b", "c"]);
    d.cmd(&["EVALSHA", &sha, "3", "a", "b", "c", "1"]);
    d.cmd(&["EVALSHA", &sha, "1", "a"]);
}
