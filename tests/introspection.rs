//! Differential tests of command introspection (src/commands/introspection.rs, getkeys.rs):
//! plain COMMAND, COMMAND GETKEYS / GETKEYSANDFLAGS, and every command's flags.
//!
//! Order: redis-server lists the entries of plain COMMAND and COMMAND LIST, and a container's
//! subcommands, in the iteration order of its command dict, whose hash is seeded at random when
//! the process starts (two oracles started side by side list them differently). No order is
//! canonical, so ferrodis keeps the table's name order and these tests compare the set of
//! entries, each entry byte for byte (with a container's subcommands put in name order on
//! both sides).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Runs `script` in RESP2, then again after HELLO 3, then returns to RESP2.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run(script);
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

/// The elements of one aggregate reply, and its header line.
fn elements(frame: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let nl = frame
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("a header")
        + 2;
    let items = split_replies(&frame[nl..]).expect("whole elements");
    (&frame[..nl], items)
}

/// A COMMAND INFO entry with its subcommand entries (element 10) sorted by their bytes.
fn canonical_entry(entry: &[u8]) -> (String, Vec<u8>) {
    let (head, mut items) = elements(entry);
    assert_eq!(
        head,
        b"*10\r\n",
        "an entry has 10 fields: {}",
        escape_trunc(entry, 200)
    );
    let name = parse_reply(items[0]).unwrap().text().expect("a name");
    let (sub_head, mut subs) = elements(items[9]);
    subs.sort();
    let sub_bytes: Vec<u8> = [sub_head]
        .into_iter()
        .chain(subs)
        .flatten()
        .copied()
        .collect();
    items[9] = &sub_bytes;
    let bytes = [head].into_iter().chain(items).flatten().copied().collect();
    (name, bytes)
}

/// The entries of a plain COMMAND reply, by name.
fn table(reply: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let (_, entries) = elements(reply);
    let mut out = std::collections::BTreeMap::new();
    for e in entries {
        let (name, bytes) = canonical_entry(e);
        assert!(out.insert(name.clone(), bytes).is_none(), "{name} twice");
    }
    out
}

#[test]
fn plain_command_lists_every_command_as_command_info_does() {
    let mut d = Diff::new();
    for resp3 in [false, true] {
        if resp3 {
            d.run("? HELLO 3");
        }
        let (f, r) = (d.ferrodis.cmd(&["COMMAND"]), d.redis.cmd(&["COMMAND"]));
        let (ours, theirs) = (table(&f), table(&r));
        // ferrodis lists each command it implements once, nothing else.
        let count = d.ferrodis.value(&["COMMAND", "COUNT"]).int().unwrap();
        assert_eq!(ours.len() as i64, count);
        assert_eq!(
            theirs.len() as i64,
            d.redis.value(&["COMMAND", "COUNT"]).int().unwrap()
        );
        for (name, entry) in &ours {
            let theirs = theirs
                .get(name)
                .unwrap_or_else(|| panic!("{name}: not in Redis"));
            assert_same(
                &format!("COMMAND entry {name} (resp3 {resp3})"),
                entry,
                theirs,
            );
            // The same entry as COMMAND INFO <name>.
            let info = d.ferrodis.cmd(&["COMMAND", "INFO", name]);
            let (_, one) = elements(&info);
            assert_eq!(canonical_entry(one[0]).1, *entry, "{name}");
        }
        // Spot checks that the flags derived from key specs are there (movablekeys).
        for name in [
            "zunionstore",
            "sort",
            "sort_ro",
            "zinter",
            "lmpop",
            "sintercard",
        ] {
            assert!(ours.contains_key(name), "{name} is implemented");
            assert!(
                ours[name].windows(13).any(|w| w == b"+movablekeys\r"),
                "{name} has movablekeys"
            );
        }
        assert!(!ours["set"].windows(12).any(|w| w == b"movablekeys\r"));
    }
}

#[test]
fn plain_command_exact_request_and_errors() {
    let mut d = Diff::new();
    // The request as redis-py sends it, and the container's arity and subcommand errors.
    for resp3 in [false, true] {
        if resp3 {
            d.run("? HELLO 3");
        }
        let f = d.ferrodis.cmd(&["COMMAND"]);
        d.ferrodis.send(b"*1\r\n$7\r\nCOMMAND\r\n");
        assert_eq!(d.ferrodis.read_reply(), f);
        d.run(
            "COMMAND NOSUCH\n\
             COMMAND COUNT x\n\
             CONFIG\n\
             CLIENT\n\
             OBJECT\n",
        );
        // COMMAND INFO with no name is the whole table too.
        let info = d.ferrodis.cmd(&["COMMAND", "INFO"]);
        assert_eq!(table(&info), table(&f));
    }
}

#[test]
fn command_through_a_real_client() {
    let d = Diff::new();
    let port = d.ferrodis_server().port();
    for proto in ["", "?protocol=resp3"] {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/{proto}")).unwrap();
        let mut con = client.get_connection().expect("connects");
        let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut con).expect("COMMAND");
        let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
        assert_eq!(all.len() as i64, count);
        let mut names = Vec::new();
        for entry in &all {
            let redis::Value::Array(fields) = entry else {
                panic!("entry {entry:?}");
            };
            assert_eq!(fields.len(), 10);
            let redis::Value::BulkString(name) = &fields[0] else {
                panic!("name {:?}", fields[0]);
            };
            names.push(String::from_utf8(name.clone()).unwrap());
        }
        assert!(names.iter().any(|n| n == "get") && names.iter().any(|n| n == "command"));
        let keys: Vec<String> = redis::cmd("COMMAND")
            .arg(&["GETKEYS", "MSET", "a", "1", "b", "2"])
            .query(&mut con)
            .unwrap();
        assert_eq!(keys, ["a", "b"]);
    }
}

#[test]
fn getkeys_and_flags() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        COMMAND GETKEYSANDFLAGS get k
        COMMAND GETKEYSANDFLAGS GeT k
        COMMAND GETKEYSANDFLAGS set k v
        COMMAND GETKEYSANDFLAGS set k v EX 10 GET
        COMMAND GETKEYSANDFLAGS set k v get
        COMMAND GETKEYSANDFLAGS set k v "get\x00x"
        COMMAND GETKEYSANDFLAGS set k v getx
        COMMAND GETKEYSANDFLAGS mset a 1 b 2
        COMMAND GETKEYSANDFLAGS mset a 1 b
        COMMAND GETKEYSANDFLAGS del a b c
        COMMAND GETKEYSANDFLAGS rename a b
        COMMAND GETKEYSANDFLAGS copy a b
        COMMAND GETKEYSANDFLAGS lmove a b left right
        COMMAND GETKEYSANDFLAGS blpop a b 0
        COMMAND GETKEYSANDFLAGS lmpop 2 a b left
        COMMAND GETKEYSANDFLAGS blmpop 0 2 a b left
        COMMAND GETKEYSANDFLAGS zmpop 1 a min
        COMMAND GETKEYSANDFLAGS bzmpop 0 1 a min
        COMMAND GETKEYSANDFLAGS zunionstore d 2 a b
        COMMAND GETKEYSANDFLAGS zinterstore d 2 a b weights 1 2
        COMMAND GETKEYSANDFLAGS zdiffstore d 1 a
        COMMAND GETKEYSANDFLAGS zunion 2 a b
        COMMAND GETKEYSANDFLAGS zinter 1 a withscores
        COMMAND GETKEYSANDFLAGS zdiff 2 a b
        COMMAND GETKEYSANDFLAGS zintercard 2 a b limit 1
        COMMAND GETKEYSANDFLAGS sintercard 2 a b
        COMMAND GETKEYSANDFLAGS sinterstore d a b
        COMMAND GETKEYSANDFLAGS smove a b m
        COMMAND GETKEYSANDFLAGS sort k
        COMMAND GETKEYSANDFLAGS sort k store d
        COMMAND GETKEYSANDFLAGS sort k by store get store store d store e
        COMMAND GETKEYSANDFLAGS sort k limit store x store d
        COMMAND GETKEYSANDFLAGS sort k store
        COMMAND GETKEYSANDFLAGS sort_ro k by x get y
        COMMAND GETKEYSANDFLAGS bitfield k get u8 0
        COMMAND GETKEYSANDFLAGS bitfield k get u8 0 overflow wrap get i4 1
        COMMAND GETKEYSANDFLAGS bitfield k set u8 0 1
        COMMAND GETKEYSANDFLAGS bitfield k incrby u8 0 1
        COMMAND GETKEYSANDFLAGS bitfield k get u8
        COMMAND GETKEYSANDFLAGS bitfield k nosuch
        COMMAND GETKEYSANDFLAGS bitfield k
        COMMAND GETKEYSANDFLAGS bitfield_ro k get u8 0
        COMMAND GETKEYSANDFLAGS bitop and d a b
        COMMAND GETKEYSANDFLAGS object encoding k
        COMMAND GETKEYSANDFLAGS memory usage k
        COMMAND GETKEYSANDFLAGS hset h f v
        COMMAND GETKEYSANDFLAGS getex k persist
        COMMAND GETKEYSANDFLAGS getdel k
        COMMAND GETKEYSANDFLAGS expire k 10
        COMMAND GETKEYSANDFLAGS touch a b
        COMMAND GETKEYSANDFLAGS watch a b
        COMMAND GETKEYSANDFLAGS exists a b
        "#,
    );
}

#[test]
fn getkeys_numkeys_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        # A count the key specs cannot use goes to the command's procedure (atoi, no flags).
        COMMAND GETKEYSANDFLAGS zunionstore d 1x a
        COMMAND GETKEYSANDFLAGS zunionstore d " 1" a
        COMMAND GETKEYSANDFLAGS zunionstore d +1 a
        COMMAND GETKEYSANDFLAGS zunionstore d 0 a
        COMMAND GETKEYSANDFLAGS zunionstore d -1 a
        COMMAND GETKEYSANDFLAGS zunionstore d 3 a
        COMMAND GETKEYSANDFLAGS zunionstore d x a
        COMMAND GETKEYSANDFLAGS zunion 4294967297 a
        COMMAND GETKEYSANDFLAGS zunion 9223372036854775807 a
        COMMAND GETKEYSANDFLAGS zunion 99999999999999999999 a
        COMMAND GETKEYSANDFLAGS lmpop 5 a b left
        COMMAND GETKEYSANDFLAGS lmpop x a b left
        COMMAND GETKEYSANDFLAGS lmpop 2x a b left
        COMMAND GETKEYSANDFLAGS blmpop 0 0 a left
        COMMAND GETKEYSANDFLAGS sintercard 0 a
        COMMAND GETKEYSANDFLAGS sintercard 1x a
        COMMAND GETKEYS zunionstore d 1x a
        COMMAND GETKEYS zunionstore d 0 a
        COMMAND GETKEYS lmpop 2 a b left
        # Errors: unknown command, no keys, arity, and the order they are checked in.
        COMMAND GETKEYSANDFLAGS nosuch a b
        COMMAND GETKEYS nosuch a b
        COMMAND GETKEYSANDFLAGS ping x
        COMMAND GETKEYSANDFLAGS ping
        COMMAND GETKEYSANDFLAGS spublish ch m
        COMMAND GETKEYSANDFLAGS ssubscribe a b
        COMMAND GETKEYSANDFLAGS publish ch m
        COMMAND GETKEYSANDFLAGS get
        COMMAND GETKEYSANDFLAGS get a b
        COMMAND GETKEYSANDFLAGS zadd k
        COMMAND GETKEYSANDFLAGS ping a b c
        COMMAND GETKEYSANDFLAGS
        COMMAND GETKEYSANDFLAGS x
        COMMAND GETKEYS
        COMMAND GETKEYS get
        # Containers: the next argument names the subcommand.
        COMMAND GETKEYSANDFLAGS client list
        COMMAND GETKEYSANDFLAGS client nosuch
        COMMAND GETKEYSANDFLAGS config get maxmemory
        COMMAND GETKEYSANDFLAGS object encoding
        COMMAND GETKEYSANDFLAGS object nosuch k
        COMMAND GETKEYSANDFLAGS OBJECT FREQ k
        COMMAND GETKEYS object help x
        "#,
    );
}

/// `rbs` and `rbp` of client `id`, seen from `conn`'s CLIENT LIST.
fn reply_buffer(conn: &mut RawConn, id: i64) -> (u64, u64) {
    let line = conn.value(&["CLIENT", "LIST", "ID", &id.to_string()]);
    let line = line.text().expect("a client line");
    let field = |name: &str| -> u64 {
        let f = line
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name))
            .expect("the field");
        f.trim().parse().unwrap()
    };
    (field("rbs="), field("rbp="))
}

/// Waits (boundedly) until `want` holds for client `ids.0` on ferrodis and `ids.1` on the
/// oracle, then asserts both report the same (rbs, rbp) and returns it.
fn settle(
    d: &mut Diff,
    ids: (i64, i64),
    what: &str,
    want: impl Fn((u64, u64)) -> bool,
) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let f = reply_buffer(&mut d.ferrodis, ids.0);
        let r = reply_buffer(&mut d.redis, ids.1);
        if want(f) && want(r) {
            assert_eq!(f, r, "{what}: ferrodis {f:?}, redis {r:?}");
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: ferrodis {f:?}, redis {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lets a few serverCron ticks (hz 10) pass.
fn some_cron_ticks() {
    std::thread::sleep(Duration::from_millis(350));
}

#[test]
fn reply_buffer_resizing_follows_the_peak() {
    let mut d = Diff::new();
    d.run("DEBUG REPLYBUFFER peak-reset-time never");
    let mut b = d.another();
    let ids = (
        b.ferrodis.value(&["CLIENT", "ID"]).int().unwrap(),
        b.redis.value(&["CLIENT", "ID"]).int().unwrap(),
    );
    // A new client's buffer is 16 KiB and its peak starts full: with the peak never reset,
    // nothing changes.
    some_cron_ticks();
    assert_eq!(settle(&mut d, ids, "new client", |_| true), (16384, 16384));
    // Resetting the peak every 100 ms: idle, the buffer shrinks to the 1 KiB minimum.
    d.run("DEBUG REPLYBUFFER peak-reset-time 100");
    assert_eq!(settle(&mut d, ids, "idle", |x| x.0 == 1024), (1024, 0));
    // Frozen peak again; each reply that fills the buffer doubles it, up to 16 KiB.
    d.run("DEBUG REPLYBUFFER peak-reset-time never");
    d.cmd(&["SET", "big", &"x".repeat(20000)]);
    for (rbs, rbp) in [(2048, 1024), (4096, 2048), (8192, 4096), (16384, 8192)] {
        b.cmd(&["GET", "big"]);
        let what = format!("growing to {rbs}");
        assert_eq!(settle(&mut d, ids, &what, |x| x.0 == rbs), (rbs, rbp));
    }
    // INFO counts the resizes (of every client, so how many depends on the cron ticks each
    // connection met: at least this client's one shrink and four expansions).
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let info = conn.value(&["INFO", "stats"]).text().unwrap();
        let get = |k: &str| -> u64 {
            info.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {info}"))
        };
        assert!(get("reply_buffer_shrinks:") >= 1, "{info}");
        assert!(get("reply_buffer_expands:") >= 4, "{info}");
    }
    b.cmd(&["GET", "big"]);
    some_cron_ticks();
    assert_eq!(
        settle(&mut d, ids, "full at 16384", |_| true),
        (16384, 16384)
    );
    // The peak restarts: back to 1 KiB at once.
    d.run("DEBUG REPLYBUFFER peak-reset-time reset\nDEBUG REPLYBUFFER peak-reset-time 100");
    assert_eq!(settle(&mut d, ids, "shrunk", |x| x.0 == 1024), (1024, 0));
}

#[test]
fn reply_buffer_resizing_off_keeps_the_buffer() {
    let mut d = Diff::new();
    d.run("DEBUG REPLYBUFFER resizing 0\nDEBUG REPLYBUFFER peak-reset-time 100");
    d.cmd(&["SET", "big", &"x".repeat(20000)]);
    let mut b = d.another();
    let ids = (
        b.ferrodis.value(&["CLIENT", "ID"]).int().unwrap(),
        b.redis.value(&["CLIENT", "ID"]).int().unwrap(),
    );
    for _ in 0..3 {
        b.cmd(&["GET", "big"]);
        b.cmd(&["PING"]);
        some_cron_ticks();
        assert_eq!(
            settle(&mut d, ids, "resizing off", |_| true),
            (16384, 16384)
        );
    }
    // On again: the peak resets and the idle buffer shrinks.
    d.run("DEBUG REPLYBUFFER resizing 1");
    assert_eq!(
        settle(&mut d, ids, "resizing on", |x| x.0 == 1024),
        (1024, 0)
    );
    // A full 1 KiB buffer, then resizing off: it stays as it is.
    d.run("DEBUG REPLYBUFFER peak-reset-time never\nDEBUG REPLYBUFFER resizing 0");
    b.cmd(&["GET", "big"]);
    some_cron_ticks();
    assert_eq!(settle(&mut d, ids, "frozen", |_| true), (1024, 1024));
}

#[test]
fn debug_replybuffer_arguments() {
    let mut d = Diff::new();
    d.run(
        r#"
        DEBUG REPLYBUFFER peak-reset-time abc
        DEBUG REPLYBUFFER peak-reset-time 99999999999999999999
        DEBUG REPLYBUFFER peak-reset-time -5
        DEBUG REPLYBUFFER PEAK-RESET-TIME NEVER
        DEBUG REPLYBUFFER peak-reset-time Reset
        DEBUG REPLYBUFFER peak-reset-time " 5"
        DEBUG REPLYBUFFER resizing x
        DEBUG REPLYBUFFER RESIZING 1
        DEBUG REPLYBUFFER nosuch 1
        DEBUG REPLYBUFFER resizing
        DEBUG REPLYBUFFER resizing 1 2
        "#,
    );
}
