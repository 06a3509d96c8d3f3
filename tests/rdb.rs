//! RDB persistence against the oracle: dumps written by ferrodis load in redis-server 7.0.15
//! (and pass redis-check-rdb) with the same DEBUG DIGEST, dumps written by redis-server load
//! in ferrodis with the same digest, DUMP payloads are byte-identical and restore across the
//! two, and the persistence commands answer as Redis does. Crash safety: a BGSAVE child or
//! server killed with SIGKILL leaves the previous dump intact, and damaged files are refused
//! at start-up with an error in the log, never a crash.

mod common;

use common::{ferrodis_bin, ferrodis_with, oracle_bin, oracle_with, Diff, RawConn, Server};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The text of a status/bulk reply.
fn text(c: &mut RawConn, args: &[&str]) -> String {
    c.value(args).text().unwrap_or_default()
}

/// An integer reply.
fn int(c: &mut RawConn, args: &[&str]) -> i64 {
    let v = c.value(args);
    v.int()
        .unwrap_or_else(|| panic!("{args:?}: expected an integer, got {v:?}"))
}

/// DEBUG DIGEST.
fn digest(c: &mut RawConn) -> String {
    text(c, &["DEBUG", "DIGEST"])
}

/// One field of INFO.
fn info_field(c: &mut RawConn, section: &str, field: &str) -> String {
    let all = text(c, &["INFO", section]);
    all.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{all}"))
        .trim()
        .to_string()
}

/// Waits until no BGSAVE runs.
fn wait_bgsave_done(c: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "persistence", "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        thread::sleep(Duration::from_millis(20));
    }
}

/// redis-check-rdb next to the oracle binary (or on PATH).
fn check_rdb_bin() -> PathBuf {
    let near = oracle_bin().with_file_name("redis-check-rdb");
    if near.is_file() {
        near
    } else {
        PathBuf::from("redis-check-rdb")
    }
}

/// Asserts redis-check-rdb accepts `path`.
fn assert_check_rdb_ok(path: &Path) {
    let out = Command::new(check_rdb_bin())
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && s.contains("RDB looks OK"),
        "redis-check-rdb refused {}:\n{s}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// String values covering every string encoding the format has: small and large integers
/// (8/16/32-bit encodings and decimal text), non-canonical integers, short and long strings
/// (LZF-compressible and not), binary bytes, the empty string; keys in several databases;
/// keys with TTLs.
fn string_dataset() -> Vec<Vec<Vec<u8>>> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |args: &[&[u8]]| cmds.push(args.iter().map(|a| a.to_vec()).collect());
    for (k, v) in [
        ("i8", "-128"),
        ("i8b", "127"),
        ("i16", "-32768"),
        ("i16b", "12345"),
        ("i32", "2147483647"),
        ("i32n", "-2147483648"),
        ("i64", "9223372036854775807"),
        ("i64n", "-9223372036854775808"),
        ("big", "123456789012"),
        ("lead0", "0123"),
        ("plus", "+5"),
        ("space", " 7"),
        ("short", "bar"),
        ("empty", ""),
        ("float", "3.14159"),
        ("twenty", "aaaaaaaaaaaaaaaaaaaa"),
        ("twentyone", "aaaaaaaaaaaaaaaaaaaaa"),
        ("unicode", "héllo wörld ✓"),
    ] {
        add(&[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    let long = "abcdefghij".repeat(100);
    add(&[b"SET", b"long-compressible", long.as_bytes()]);
    let random: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    add(&[b"SET", b"long-random", &random]);
    let bin: Vec<u8> = (0..=255u8).collect();
    add(&[b"SET", &[0, 1, 2, 255], &bin]);
    add(&[b"SET", b"big-value", "x".repeat(100_000).as_bytes()]);
    add(&[b"SET", b"ttl-ms", b"v", b"PX", b"1000000"]);
    add(&[b"SET", b"ttl-s", b"12", b"EX", b"5000"]);
    add(&[b"SET", b"ttl-abs", b"w", b"PXAT", b"4102444800000"]);
    add(&[b"APPEND", b"appended", b"12"]);
    add(&[b"APPEND", b"appended", b"34"]);
    add(&[b"SELECT", b"3"]);
    add(&[b"SET", b"db3", b"x"]);
    add(&[b"SET", b"db3-ttl", b"y", b"PX", b"9000000"]);
    add(&[b"SELECT", b"15"]);
    add(&[b"SET", b"db15", b"99999999999999999999"]);
    add(&[b"SELECT", b"0"]);
    for i in 0..200 {
        add(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("value-{i}-{}", "z".repeat(i % 40)).as_bytes(),
        ]);
    }
    cmds
}

/// The aggregate types ferrodis serves so far (each type's commands land with it): "hash",
/// "list", "set", "zset". Tests cover every type that exists.
fn supported_types(c: &mut RawConn) -> Vec<&'static str> {
    let mut v = Vec::new();
    for (t, probe) in [
        ("hash", "HLEN"),
        ("list", "LLEN"),
        ("set", "SCARD"),
        ("zset", "ZCARD"),
    ] {
        let r = c.cmd(&[probe, "__probe__"]);
        if !r.starts_with(b"-ERR unknown command") {
            v.push(t);
        }
    }
    v
}

/// Commands building values of `types` in every encoding: hashes (listpack, hashtable by
/// count and by value length), lists (one node, many nodes, big elements), sets (intset,
/// 64-bit intset, hashtable, converted intset), sorted sets (listpack, skiplist, infinite
/// scores), some with TTLs.
fn typed_dataset(types: &[&str]) -> Vec<Vec<Vec<u8>>> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |args: Vec<String>| cmds.push(args.into_iter().map(String::into_bytes).collect());
    let sv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if types.contains(&"hash") {
        add(sv(&[
            "HSET", "h:small", "f1", "v1", "f2", "2", "f3", "-3", "", "",
        ]));
        add(sv(&["HSET", "h:ttl", "a", "b"]));
        add(sv(&["PEXPIRE", "h:ttl", "1000000"]));
        add(sv(&["HSET", "h:longval", "f", &"v".repeat(100), "g", "1"]));
        add(sv(&["HINCRBY", "h:small", "counter", "41"]));
        add(sv(&["HINCRBYFLOAT", "h:small", "float", "1.5"]));
        let mut big = sv(&["HSET", "h:big"]);
        let mut ints = sv(&["HSET", "h:ints"]);
        for i in 0..600 {
            big.push(format!("field:{i}"));
            big.push(format!("value:{}", i * 7));
            if i < 100 {
                ints.push(i.to_string());
                ints.push((i * 1000 - 5000).to_string());
            }
        }
        add(big);
        add(ints);
    }
    if types.contains(&"list") {
        add(sv(&[
            "RPUSH",
            "l:small",
            "a",
            "1",
            "-2",
            "",
            "300000",
            "9223372036854775807",
        ]));
        add(sv(&["LPUSH", "l:small", "head"]));
        let mut long = sv(&["RPUSH", "l:long"]);
        for i in 0..3000 {
            long.push(format!("element-{i}"));
        }
        add(long);
        add(vec![
            "RPUSH".into(),
            "l:bigelems".into(),
            "x".repeat(10_000),
            "y".repeat(20_000),
            "z".into(),
        ]);
        add(sv(&["RPUSH", "l:ttl", "q"]));
        add(sv(&["EXPIRE", "l:ttl", "5000"]));
    }
    if types.contains(&"set") {
        add(sv(&["SADD", "s:ints", "1", "2", "3", "-100", "70000"]));
        add(sv(&[
            "SADD",
            "s:i64",
            "1",
            "4294967296",
            "-9223372036854775808",
        ]));
        add(sv(&["SADD", "s:strs", "a", "b", "", "12", "x y"]));
        let mut big = sv(&["SADD", "s:bigints"]);
        for i in 0..600 {
            big.push((i * 3).to_string());
        }
        add(big);
        add(sv(&["SADD", "s:ttl", "m"]));
        add(sv(&["EXPIRE", "s:ttl", "5000"]));
    }
    if types.contains(&"zset") {
        add(sv(&[
            "ZADD", "z:small", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "-inf", "e",
        ]));
        add(sv(&[
            "ZADD", "z:small", "0.1", "f", "1e100", "g", "12", "h",
        ]));
        let mut big = sv(&["ZADD", "z:big"]);
        for i in 0..300 {
            big.push(format!("{}", i as f64 / 7.0));
            big.push(format!("member-{i}"));
        }
        add(big);
        add(sv(&["ZADD", "z:longmember", "1", &"m".repeat(100)]));
        add(sv(&["ZADD", "z:ttl", "1", "x"]));
        add(sv(&["EXPIRE", "z:ttl", "5000"]));
    }
    cmds
}

/// Every value type this build has, in every encoding.
fn full_dataset(c: &mut RawConn) -> Vec<Vec<Vec<u8>>> {
    let types = supported_types(c);
    let mut v = string_dataset();
    v.extend(typed_dataset(&types));
    v
}

/// Keys in all databases.
fn total_keys(c: &mut RawConn) -> i64 {
    let mut n = 0;
    for db in 0..16 {
        c.cmd(&["SELECT", &db.to_string()]);
        n += int(c, &["DBSIZE"]);
    }
    c.cmd(&["SELECT", "0"]);
    n
}

/// Runs a dataset on a connection.
fn load_dataset(c: &mut RawConn, cmds: &[Vec<Vec<u8>>]) {
    for cmd in cmds {
        let r = c.cmd(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{:?}: {}",
            cmd,
            String::from_utf8_lossy(&r)
        );
    }
    c.cmd(&["SELECT", "0"]);
}

/// Every key of the current database.
fn all_keys(c: &mut RawConn) -> Vec<Vec<u8>> {
    let v = c.value(&["KEYS", "*"]);
    v.items()
        .unwrap()
        .iter()
        .map(|k| k.bytes().unwrap().to_vec())
        .collect()
}

/// Copies `from`'s dump.rdb over `to`'s and restarts `to` so it loads it at start-up.
fn transplant(from: &Server, to: &Server) {
    let bytes = fs::read(from.dir().join("dump.rdb")).expect("dump.rdb written");
    // Stop first: a shutdown with save points would overwrite the file.
    to.kill();
    fs::write(to.dir().join("dump.rdb"), bytes).unwrap();
    to.restart(&[]);
}

#[test]
fn ferrodis_dump_loads_in_redis_with_same_digest() {
    let f = ferrodis_with(&[]);
    let r = oracle_with(&[]);
    let mut fc = f.conn();
    let data = full_dataset(&mut fc);
    load_dataset(&mut fc, &data);
    let want = digest(&mut fc);
    let n = total_keys(&mut fc);
    assert_eq!(text(&mut fc, &["SAVE"]), "OK");
    assert_check_rdb_ok(&f.dir().join("dump.rdb"));
    transplant(&f, &r);
    let mut rc = r.conn();
    assert_eq!(digest(&mut rc), want);
    let loaded = format!("Done loading RDB, keys loaded: {n}, keys expired: 0.");
    assert!(r.log().contains(&loaded), "{}", r.log());
    // TTLs survived as TTLs.
    let ttl = int(&mut rc, &["PTTL", "ttl-ms"]);
    assert!(ttl > 900_000 && ttl <= 1_000_000, "{ttl}");
    assert_eq!(int(&mut rc, &["PEXPIRETIME", "ttl-abs"]), 4102444800000);
}

#[test]
fn redis_dump_loads_in_ferrodis_with_same_digest() {
    let f = ferrodis_with(&[]);
    let r = oracle_with(&[]);
    let mut rc = r.conn();
    let data = full_dataset(&mut f.conn());
    load_dataset(&mut rc, &data);
    let want = digest(&mut rc);
    let n = total_keys(&mut rc);
    assert_eq!(text(&mut rc, &["SAVE"]), "OK");
    transplant(&r, &f);
    let mut fc = f.conn();
    assert_eq!(digest(&mut fc), want);
    let log = f.log();
    assert!(
        log.contains("Loading RDB produced by version 7.0.15"),
        "{log}"
    );
    let loaded = format!("Done loading RDB, keys loaded: {n}, keys expired: 0.");
    assert!(log.contains(&loaded), "{log}");
    assert!(log.contains("DB loaded from disk: "), "{log}");
    assert_eq!(
        info_field(&mut fc, "persistence", "rdb_last_load_keys_loaded"),
        n.to_string()
    );
    // Each key has the encoding Redis gives it after a load.
    assert_eq!(text(&mut rc, &["DEBUG", "RELOAD", "NOSAVE"]), "OK");
    for k in all_keys(&mut fc) {
        let kk: &[u8] = &k;
        assert_eq!(
            fc.cmd(&[&b"OBJECT"[..], b"ENCODING", kk]),
            rc.cmd(&[&b"OBJECT"[..], b"ENCODING", kk]),
            "encoding of {}",
            String::from_utf8_lossy(kk)
        );
    }
    assert_eq!(int(&mut fc, &["PEXPIRETIME", "ttl-abs"]), 4102444800000);
    // What ferrodis writes back is byte-for-byte what Redis wrote, apart from the aux fields
    // (ctime, used-mem) and key order: check the sizes agree within a few bytes.
    assert_eq!(text(&mut fc, &["SAVE"]), "OK");
    let a = fs::metadata(r.dir().join("dump.rdb")).unwrap().len() as i64;
    let b = fs::metadata(f.dir().join("dump.rdb")).unwrap().len() as i64;
    assert!((a - b).abs() <= 8, "redis {a} bytes, ferrodis {b} bytes");
    assert_check_rdb_ok(&f.dir().join("dump.rdb"));
}

#[test]
fn uncompressed_and_unchecksummed_dumps_cross_both_ways() {
    for args in [
        &["--rdbcompression", "no"][..],
        &["--rdbchecksum", "no"][..],
        &["--rdbcompression", "no", "--rdbchecksum", "no"][..],
    ] {
        let f = ferrodis_with(args);
        let r = oracle_with(args);
        let mut fc = f.conn();
        let mut rc = r.conn();
        let data = full_dataset(&mut fc);
        load_dataset(&mut fc, &data);
        load_dataset(&mut rc, &data);
        let want = digest(&mut fc);
        assert_eq!(digest(&mut rc), want);
        fc.cmd(&["SAVE"]);
        rc.cmd(&["SAVE"]);
        // Same settings, same encodings: the files' sizes agree (hash tables save in bucket
        // order, so only the sizes are comparable).
        let fs_ = fs::metadata(f.dir().join("dump.rdb")).unwrap().len() as i64;
        let rs_ = fs::metadata(r.dir().join("dump.rdb")).unwrap().len() as i64;
        assert!((fs_ - rs_).abs() <= 8, "{args:?}: {fs_} vs {rs_}");
        let (f2, r2) = (ferrodis_with(args), oracle_with(args));
        transplant(&r, &f2);
        transplant(&f, &r2);
        assert_eq!(digest(&mut f2.conn()), want, "{args:?} redis->ferrodis");
        assert_eq!(digest(&mut r2.conn()), want, "{args:?} ferrodis->redis");
        if args.contains(&"--rdbchecksum") {
            // A server that does check sums accepts a file saved without one, and says so.
            let f3 = ferrodis_with(&[]);
            transplant(&r, &f3);
            assert_eq!(digest(&mut f3.conn()), want);
            assert!(f3
                .log()
                .contains("RDB file was saved with checksum disabled: no check performed."));
        }
    }
}

#[test]
fn dump_payloads_are_identical_and_restore_across() {
    let mut d = Diff::new();
    let data = full_dataset(&mut d.ferrodis_server().conn());
    for cmd in data {
        d.cmd(&cmd);
    }
    d.cmd(&["SELECT", "0"]);
    let keys = all_keys(&mut d.ferrodis_server().conn());
    assert!(keys.len() > 200);
    let mut fc = d.ferrodis_server().conn();
    let mut rc = d.redis_server().conn();
    for k in &keys {
        let k: &[u8] = k;
        let enc = d.cmd(&[&b"OBJECT"[..], b"ENCODING", k]);
        let fp = fc.value(&[&b"DUMP"[..], k]).bytes().unwrap().to_vec();
        let rp = rc.value(&[&b"DUMP"[..], k]).bytes().unwrap().to_vec();
        // Hash tables and skiplists are saved in iteration order, which differs between two
        // servers; every other encoding must give the very same bytes.
        let ordered = !enc.windows(9).any(|w| w == b"hashtable") && !enc.ends_with(b"skiplist\r\n");
        if ordered {
            assert_eq!(
                common::escape(&fp),
                common::escape(&rp),
                "DUMP {}",
                String::from_utf8_lossy(k)
            );
        } else {
            assert_eq!(
                fp.len(),
                rp.len(),
                "DUMP size of {}",
                String::from_utf8_lossy(k)
            );
        }
        // Cross restore: each side restores what the other dumped.
        let newkey = [b"copy:".as_slice(), k].concat();
        assert_eq!(
            fc.cmd(&[&b"RESTORE"[..], &newkey, b"0", &rp]),
            b"+OK\r\n".to_vec()
        );
        assert_eq!(
            rc.cmd(&[&b"RESTORE"[..], &newkey, b"0", &fp]),
            b"+OK\r\n".to_vec()
        );
        d.cmd(&[&b"OBJECT"[..], b"ENCODING", &newkey]);
        d.cmd(&[&b"DEBUG"[..], b"DIGEST-VALUE", k, &newkey]);
    }
    d.cmd(&["DEBUG", "DIGEST"]);
    d.cmd(&["DUMP", "nosuchkey"]);
    d.both(&["HELLO", "3"]);
    d.cmd(&["DUMP", "nosuchkey"]);
    d.cmd(&["DEBUG", "DIGEST-VALUE", "short", "nosuchkey", "ttl-ms"]);
    d.cmd(&["DEBUG", "DIGEST-VALUE"]);
}

#[test]
fn restore_options_and_errors_match_redis() {
    let mut d = Diff::new();
    d.cmd(&["SET", "src", "hello world"]);
    let p = common::parse_reply(&d.cmd(&["DUMP", "src"]))
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    let pi = common::parse_reply(&d.cmd(&["DUMP", "nope"])).unwrap();
    assert!(pi.bytes().is_none());
    let run = |d: &mut Diff, args: &[&[u8]]| {
        d.cmd(args);
    };
    run(&mut d, &[b"RESTORE", b"a", b"0", &p]);
    run(&mut d, &[b"GET", b"a"]);
    run(&mut d, &[b"RESTORE", b"a", b"0", &p]); // BUSYKEY
    run(&mut d, &[b"RESTORE", b"a", b"0", &p, b"REPLACE"]);
    run(&mut d, &[b"RESTORE", b"a", b"-1", &p, b"REPLACE"]);
    run(&mut d, &[b"RESTORE", b"a", b"abc", &p, b"REPLACE"]);
    run(&mut d, &[b"RESTORE", b"a", b"abc", &p]); // BUSYKEY before the TTL check
    run(&mut d, &[b"RESTORE", b"b", b"100000", &p]);
    d.both(&["PTTL", "b"]);
    run(&mut d, &[b"RESTORE", b"c", b"4102444800000", &p, b"ABSTTL"]);
    run(&mut d, &[b"PEXPIRETIME", b"c"]);
    run(
        &mut d,
        &[b"RESTORE", b"c", b"1000", &p, b"ABSTTL", b"REPLACE"],
    ); // expired: deleted
    run(&mut d, &[b"EXISTS", b"c"]);
    run(&mut d, &[b"RESTORE", b"e", b"1000", &p, b"ABSTTL"]); // expired: nothing
    run(&mut d, &[b"EXISTS", b"e"]);
    run(&mut d, &[b"RESTORE", b"f", b"0", &p, b"IDLETIME", b"1000"]);
    d.both(&["OBJECT", "IDLETIME", "f"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"IDLETIME", b"-1"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"IDLETIME", b"x"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"IDLETIME"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"FREQ", b"256"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"FREQ", b"-1"]);
    run(&mut d, &[b"RESTORE", b"g", b"0", &p, b"FREQ", b"5"]);
    run(
        &mut d,
        &[b"RESTORE", b"h", b"0", &p, b"FREQ", b"5", b"IDLETIME", b"5"],
    );
    run(
        &mut d,
        &[b"RESTORE", b"h", b"0", &p, b"IDLETIME", b"5", b"FREQ", b"5"],
    );
    run(&mut d, &[b"RESTORE", b"h", b"0", &p, b"BOGUS"]);
    run(&mut d, &[b"RESTORE", b"h", b"0", b""]);
    run(&mut d, &[b"RESTORE", b"h", b"0", b"123456789"]);
    run(&mut d, &[b"RESTORE", b"h", b"0", b"1234567890"]);
    // Damaged payloads: checksum, version, body.
    let mut bad = p.clone();
    let n = bad.len();
    bad[1] ^= 0x20;
    run(&mut d, &[b"RESTORE", b"h", b"0", &bad]);
    let mut newer = p.clone();
    newer[n - 10] = 11;
    run(&mut d, &[b"RESTORE", b"h", b"0", &newer]);
    // A valid footer around a broken body: "Bad data format".
    let body = b"\x00\xc3\x05\x10junk";
    let mut forged = body.to_vec();
    forged.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrodis::persistence::rdb::crc64(&forged);
    forged.extend_from_slice(&crc.to_le_bytes());
    run(&mut d, &[b"RESTORE", b"h", b"0", &forged]);
    let mut unknown_type = vec![200u8, 1, b'x'];
    unknown_type.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrodis::persistence::rdb::crc64(&unknown_type);
    unknown_type.extend_from_slice(&crc.to_le_bytes());
    run(&mut d, &[b"RESTORE", b"h", b"0", &unknown_type]);
    run(&mut d, &[b"EXISTS", b"h"]);
    run(&mut d, &[b"RESTORE-ASKING", b"ra", b"0", &p]);
    run(&mut d, &[b"GET", b"ra"]);
    d.both(&["HELLO", "3"]);
    run(&mut d, &[b"RESTORE", b"a", b"0", &p]);
    run(&mut d, &[b"RESTORE", b"a2", b"0", &p]);
}

#[test]
fn save_bgsave_lastsave_replies_match_redis() {
    let mut d = Diff::new();
    d.cmd(&["SET", "k", "v"]);
    d.cmd(&["SAVE"]);
    d.cmd(&["SAVE", "extra"]);
    d.cmd(&["BGSAVE", "foo"]);
    d.cmd(&["BGSAVE", "schedule", "x"]);
    d.cmd(&["LASTSAVE", "x"]);
    let (f, r) = d.both(&["LASTSAVE"]);
    let (f, r) = (
        common::parse_reply(&f).unwrap().int().unwrap(),
        common::parse_reply(&r).unwrap().int().unwrap(),
    );
    assert!((f - r).abs() <= 2, "LASTSAVE {f} vs {r}");
    d.cmd(&["BGSAVE"]);
    let mut fc = d.ferrodis_server().conn();
    let mut rc = d.redis_server().conn();
    wait_bgsave_done(&mut fc);
    wait_bgsave_done(&mut rc);
    d.cmd(&["BGSAVE", "SCHEDULE"]);
    wait_bgsave_done(&mut fc);
    wait_bgsave_done(&mut rc);
    // Inside a transaction the fork waits for serverCron.
    d.cmd(&["MULTI"]);
    d.cmd(&["BGSAVE"]);
    d.cmd(&["EXEC"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut fc, "persistence", "rdb_saves") != "4" {
        assert!(Instant::now() < deadline, "scheduled BGSAVE did not run");
        thread::sleep(Duration::from_millis(20));
    }
    wait_bgsave_done(&mut fc);
    wait_bgsave_done(&mut rc);
    // While a child runs, SAVE and BGSAVE refuse.
    for c in [&mut fc, &mut rc] {
        c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
        c.cmd(&["DEBUG", "POPULATE", "100"]);
    }
    d.cmd(&["BGSAVE"]);
    d.cmd(&["BGSAVE"]);
    d.cmd(&["BGSAVE", "SCHEDULE"]);
    d.cmd(&["SAVE"]);
    let (fi, ri) = d.both(&["INFO", "persistence"]);
    for (name, raw) in [("ferrodis", fi), ("redis", ri)] {
        let s = String::from_utf8_lossy(&raw).to_string();
        assert!(s.contains("rdb_bgsave_in_progress:1"), "{name}: {s}");
        assert!(s.contains("current_save_keys_total:101"), "{name}: {s}");
    }
    // FLUSHALL stops the child (its snapshot is stale) without marking an error.
    d.cmd(&["FLUSHALL"]);
    wait_bgsave_done(&mut fc);
    wait_bgsave_done(&mut rc);
    assert_eq!(
        info_field(&mut fc, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert!(d
        .ferrodis_server()
        .log()
        .contains("Background saving terminated by signal 10"));
}

#[test]
fn info_persistence_has_redis_fields() {
    let f = ferrodis_with(&[]);
    let r = oracle_with(&[]);
    let names = |s: &Server| -> Vec<String> {
        let t = text(&mut s.conn(), &["INFO", "persistence"]);
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&f), names(&r));
    let mut fc = f.conn();
    fc.cmd(&["SET", "a", "b"]);
    fc.cmd(&["BGSAVE"]);
    wait_bgsave_done(&mut fc);
    assert_eq!(info_field(&mut fc, "persistence", "rdb_saves"), "1");
    assert_eq!(
        info_field(&mut fc, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
    assert_eq!(
        info_field(&mut fc, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_eq!(info_field(&mut fc, "stats", "total_forks"), "1");
    let fork: i64 = info_field(&mut fc, "stats", "latest_fork_usec")
        .parse()
        .unwrap();
    assert!(fork > 0);
    let t: i64 = info_field(&mut fc, "persistence", "rdb_last_bgsave_time_sec")
        .parse()
        .unwrap();
    assert!(t >= 0);
}

#[test]
fn debug_reload_and_digest_match_redis() {
    let mut d = Diff::new();
    let data = full_dataset(&mut d.ferrodis_server().conn());
    for cmd in data {
        d.cmd(&cmd);
    }
    d.cmd(&["SELECT", "0"]);
    d.cmd(&["DEBUG", "DIGEST"]);
    d.cmd(&["DEBUG", "RELOAD"]);
    d.cmd(&["DEBUG", "DIGEST"]);
    d.cmd(&["DEBUG", "RELOAD", "bogus"]);
    d.cmd(&["SET", "added-after-save", "1"]);
    d.cmd(&["DEBUG", "RELOAD", "NOSAVE"]);
    d.cmd(&["EXISTS", "added-after-save"]);
    d.cmd(&["SET", "extra", "2"]);
    d.cmd(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]);
    d.cmd(&["EXISTS", "extra"]);
    d.cmd(&["DEBUG", "DIGEST"]);
    d.cmd(&["FLUSHALL"]);
    d.cmd(&["DEBUG", "DIGEST"]);
    d.cmd(&["DEBUG", "DIGEST-VALUE", "x"]);
}

#[test]
fn save_points_start_bgsave() {
    let f = ferrodis_with(&["--save", "1", "2"]);
    let mut c = f.conn();
    c.cmd(&["SET", "a", "1"]);
    thread::sleep(Duration::from_millis(2200));
    assert!(!f.dir().join("dump.rdb").exists(), "1 change < 2");
    c.cmd(&["SET", "b", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f
        .log()
        .contains("Background saving terminated with success")
    {
        assert!(
            Instant::now() < deadline,
            "no save point BGSAVE:\n{}",
            f.log()
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        f.log().contains("2 changes in 1 seconds. Saving..."),
        "{}",
        f.log()
    );
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_changes_since_last_save"),
        "0"
    );
    f.kill();
    f.restart(&[]);
    assert_eq!(text(&mut f.conn(), &["GET", "b"]), "2");
}

#[test]
fn shutdown_save_variants() {
    // Save points set (Redis's default): SHUTDOWN saves, SHUTDOWN NOSAVE does not.
    let f = Server::start_bare(ferrodis_bin(), &["--enable-debug-command", "yes"]);
    f.conn().cmd(&["SET", "a", "1"]);
    f.restart(&[]);
    assert_eq!(text(&mut f.conn(), &["GET", "a"]), "1");
    assert!(f
        .log()
        .contains("Saving the final RDB snapshot before exiting."));
    f.conn().cmd(&["SET", "a", "2"]);
    f.restart(&["NOSAVE"]);
    assert_eq!(text(&mut f.conn(), &["GET", "a"]), "1");
    // No save points: SHUTDOWN does not save, SHUTDOWN SAVE does.
    let g = ferrodis_with(&[]);
    g.conn().cmd(&["SET", "a", "1"]);
    g.restart(&[]);
    assert_eq!(g.conn().value(&["GET", "a"]).bytes(), None);
    g.conn().cmd(&["SET", "a", "3"]);
    g.restart(&["SAVE"]);
    assert_eq!(text(&mut g.conn(), &["GET", "a"]), "3");
    // SIGTERM saves too when save points are set.
    let h = Server::start_bare(ferrodis_bin(), &[]);
    h.conn().cmd(&["SET", "t", "sig"]);
    unsafe { libc::kill(h.pid() as i32, libc::SIGTERM) };
    assert!(h.wait_exit(Duration::from_secs(10)));
    h.restart(&[]);
    assert_eq!(text(&mut h.conn(), &["GET", "t"]), "sig");
}

#[test]
fn shutdown_refuses_when_the_save_fails() {
    let f = ferrodis_with(&[]);
    let mut c = f.conn();
    c.cmd(&["SET", "a", "1"]);
    // A directory named like the temp file makes the save fail.
    fs::create_dir(f.dir().join(format!("temp-{}.rdb", f.pid()))).unwrap();
    let r = c.cmd(&["SHUTDOWN", "SAVE"]);
    assert_eq!(
        r,
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n".to_vec()
    );
    assert!(f.is_running());
    assert_eq!(c.cmd(&["SAVE"]), b"-ERR\r\n".to_vec());
    c.send_cmd(&["SHUTDOWN", "SAVE", "FORCE"]);
    assert!(f.wait_exit(Duration::from_secs(10)));
    assert!(f
        .log()
        .contains("Error trying to save the DB. Exit anyway."));
}

#[test]
fn flushall_saves_when_save_points_are_set() {
    let f = Server::start_bare(ferrodis_bin(), &[]);
    let mut c = f.conn();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SAVE"]);
    let before = fs::metadata(f.dir().join("dump.rdb")).unwrap().len();
    c.cmd(&["FLUSHALL"]);
    let after = fs::metadata(f.dir().join("dump.rdb")).unwrap().len();
    assert!(after < before, "{after} !< {before}");
    // dirty still counts the flush.
    let dirty: i64 = info_field(&mut c, "persistence", "rdb_changes_since_last_save")
        .parse()
        .unwrap();
    assert!(dirty >= 1);
    f.kill();
    f.restart(&[]);
    assert_eq!(int(&mut f.conn(), &["DBSIZE"]), 0);
}

#[test]
fn expired_keys_are_skipped_at_load() {
    let f = ferrodis_with(&[]);
    let mut c = f.conn();
    c.cmd(&["SET", "keep", "1"]);
    // A second of margin for SAVE to run before the keys expire, on a loaded machine too.
    c.cmd(&["SET", "gone", "1", "PX", "1000"]);
    c.cmd(&["SET", "gone2", "1", "PX", "1000"]);
    c.cmd(&["SAVE"]);
    thread::sleep(Duration::from_millis(1100));
    f.kill();
    f.restart(&[]);
    assert!(
        f.log().contains("keys loaded: 1, keys expired: 2."),
        "{}",
        f.log()
    );
    let mut c = f.conn();
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_load_keys_expired"),
        "2"
    );
}

// ---------------------------------------------------------------------------------------------
// Crash safety

/// Starts a BGSAVE that takes a while (rdb-key-save-delay) and returns the child's pid.
fn slow_bgsave(f: &Server, c: &mut RawConn) -> i32 {
    c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    assert_eq!(text(c, &["BGSAVE"]), "Background saving started");
    let log = f.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("Background saving started by pid"))
        .expect("BGSAVE log line");
    line.rsplit(' ').next().unwrap().trim().parse().unwrap()
}

#[test]
fn killed_child_leaves_previous_dump_intact() {
    let f = ferrodis_with(&["--save", "3600", "1000000"]);
    let mut c = f.conn();
    c.cmd(&["DEBUG", "POPULATE", "2000"]);
    c.cmd(&["SAVE"]);
    let old = fs::read(f.dir().join("dump.rdb")).unwrap();
    c.cmd(&["DEBUG", "POPULATE", "4000", "more"]);
    let pid = slow_bgsave(&f, &mut c);
    // The child creates its temp file once it runs: wait for it (bounded), however loaded
    // the machine is.
    let temp = f.dir().join(format!("temp-{pid}.rdb"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !temp.exists() {
        assert!(Instant::now() < deadline, "no {}", temp.display());
        thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_bgsave_done(&mut c);
    assert_eq!(fs::read(f.dir().join("dump.rdb")).unwrap(), old);
    assert!(!f.dir().join(format!("temp-{pid}.rdb")).exists());
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "err"
    );
    assert!(f.log().contains("Background saving terminated by signal 9"));
    // The next BGSAVE succeeds and clears the error.
    c.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    c.cmd(&["BGSAVE"]);
    wait_bgsave_done(&mut c);
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_check_rdb_ok(&f.dir().join("dump.rdb"));
}

#[test]
fn killed_server_leaves_previous_dump_intact() {
    let f = ferrodis_with(&[]);
    let mut c = f.conn();
    c.cmd(&["DEBUG", "POPULATE", "1000"]);
    c.cmd(&["SAVE"]);
    let old = fs::read(f.dir().join("dump.rdb")).unwrap();
    let old_digest = digest(&mut c);
    c.cmd(&["DEBUG", "POPULATE", "3000", "more"]);
    let new_digest = digest(&mut c);
    let child = slow_bgsave(&f, &mut c);
    thread::sleep(Duration::from_millis(200));
    f.kill();
    // The orphaned child has not renamed anything yet: the old file is untouched.
    assert_eq!(fs::read(f.dir().join("dump.rdb")).unwrap(), old);
    // A restart now loads the previous dump (the child no longer holds the port).
    f.restart(&[]);
    assert_eq!(digest(&mut f.conn()), old_digest);
    // The orphan finishes its snapshot and renames it atomically: the file is then the new
    // complete dump, never a partial one.
    let temp = f.dir().join(format!("temp-{child}.rdb"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while temp.exists() {
        if Instant::now() > deadline {
            unsafe { libc::kill(child, libc::SIGKILL) };
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert_check_rdb_ok(&f.dir().join("dump.rdb"));
    f.kill();
    f.restart(&[]);
    let d = digest(&mut f.conn());
    assert!(d == new_digest || d == old_digest);
}

/// True when a server on `port` answers PING.
fn pong(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"+PONG"))
}

/// Starts ferrodis on `file` (copied into a fresh dir as dump.rdb); returns (exit status
/// code if it exited, log).
fn start_on_file(bytes: &[u8]) -> (Option<i32>, String) {
    let dir = common::scratch_dir("rdbtest", "load");
    fs::write(dir.join("dump.rdb"), bytes).unwrap();
    let port = common::free_port();
    let mut child = Command::new(ferrodis_bin())
        .args(["--port", &port.to_string(), "--save", ""])
        .current_dir(&dir)
        .stdout(fs::File::create(dir.join("log")).unwrap())
        .stderr(fs::File::create(dir.join("err")).unwrap())
        .spawn()
        .unwrap();
    // The port is bound before the dataset loads, so "serving" means answering PING.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if pong(port) || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let log = fs::read_to_string(dir.join("log")).unwrap_or_default()
        + &fs::read_to_string(dir.join("err")).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    use std::os::unix::process::ExitStatusExt;
    if let Some(st) = status {
        assert!(
            st.signal().is_none(),
            "server crashed with a signal:\n{log}"
        );
        assert!(!log.contains("panicked"), "server panicked:\n{log}");
    }
    (status.and_then(|s| s.code()), log)
}

#[test]
fn damaged_dumps_are_refused_at_startup() {
    let f = ferrodis_with(&[]);
    let mut c = f.conn();
    let data = full_dataset(&mut c);
    load_dataset(&mut c, &data);
    c.cmd(&["SAVE"]);
    let good = fs::read(f.dir().join("dump.rdb")).unwrap();
    // Truncations: every cut point in the header area, then a spread over the body.
    let mut cuts: Vec<usize> = (0..120).step_by(3).collect();
    cuts.extend((120..good.len()).step_by(997));
    cuts.push(good.len() - 1);
    for cut in cuts {
        let (code, log) = start_on_file(&good[..cut]);
        if cut == 0 {
            // An empty file is refused too (no signature).
            assert_eq!(code, Some(1), "empty file:\n{log}");
            continue;
        }
        assert_eq!(
            code,
            Some(1),
            "truncated at {cut} of {}:\n{log}",
            good.len()
        );
        assert!(
            log.contains("Unexpected EOF")
                || log.contains("Wrong signature")
                || log.contains("Can't handle RDB format version"),
            "cut {cut}: {log}"
        );
    }
    // Bit flips: all refused (the checksum catches what parses).
    let step = (good.len() / 100).max(1);
    for pos in (0..good.len()).step_by(step).chain(0..12) {
        for bit in [0u8, 7] {
            let mut bad = good.clone();
            bad[pos] ^= 1 << bit;
            let (code, log) = start_on_file(&bad);
            assert_eq!(code, Some(1), "flip at {pos} bit {bit} accepted:\n{log}");
            assert!(
                log.contains("Internal error in RDB reading offset")
                    || log.contains("Wrong signature")
                    || log.contains("Can't handle RDB format version"),
                "flip at {pos}: {log}"
            );
        }
    }
    // The checksum message names both sums.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xFF;
    let (code, log) = start_on_file(&bad);
    assert_eq!(code, Some(1));
    assert!(log.contains("Wrong RDB checksum expected: ("), "{log}");
    assert!(log.contains("-> RDB CRC error"), "{log}");
    assert!(log.contains("Terminating server after rdb file reading failure."));
    // And the good file still starts.
    let (code, _) = start_on_file(&good);
    assert_eq!(code, None);
}

/// Builds an RDB file of version `ver` from body bytes, with the checksum for versions >= 5.
fn rdb_file(ver: u32, body: &[u8]) -> Vec<u8> {
    let mut v = format!("REDIS{ver:04}").into_bytes();
    v.extend_from_slice(body);
    v.push(0xFF);
    if ver >= 5 {
        let crc = ferrodis::persistence::rdb::crc64(&v);
        v.extend_from_slice(&crc.to_le_bytes());
    }
    v
}

#[test]
fn older_format_versions_load_like_redis() {
    // Strings as Redis 2.x-6.x wrote them: second-resolution expires (opcode 253), no aux
    // fields or RESIZEDB before version 7, ms expires in host order before version 9.
    let far_secs: u32 = 2_000_000_000;
    let far_ms: i64 = 4_102_444_800_000;
    let mut files = Vec::new();
    for ver in [1u32, 4, 5, 6, 7, 8, 9] {
        let mut b = vec![0xFE, 0x00];
        b.extend_from_slice(b"\x00\x03abc\x05hello");
        b.extend_from_slice(b"\x00\x01n\xc1\x39\x30");
        b.push(0xFD);
        b.extend_from_slice(&far_secs.to_le_bytes());
        b.extend_from_slice(b"\x00\x03sec\x01v");
        if ver >= 3 {
            b.push(0xFC);
            b.extend_from_slice(&far_ms.to_le_bytes());
            b.extend_from_slice(b"\x00\x02ms\x01w");
        }
        b.extend_from_slice(b"\xFE\x02\x00\x02db\xc0\x07");
        files.push(rdb_file(ver, &b));
    }
    // A version-7 style file with aux fields, RESIZEDB, LRU idle and LFU frequency opcodes.
    let mut b = Vec::new();
    b.extend_from_slice(b"\xFA\x09redis-ver\x056.2.0\xFA\x0Aredis-bits\xC0\x40");
    b.extend_from_slice(b"\xFA\x0Bunknown-aux\x03xyz");
    b.extend_from_slice(b"\xFE\x00\xFB\x02\x00");
    b.extend_from_slice(b"\xF8\x0A\x00\x01a\x01b");
    b.extend_from_slice(b"\xF9\x05\x00\x01c\x01d");
    files.push(rdb_file(9, &b));
    for (i, file) in files.iter().enumerate() {
        let f = ferrodis_with(&[]);
        let r = oracle_with(&[]);
        for s in [&f, &r] {
            s.kill();
            fs::write(s.dir().join("dump.rdb"), file).unwrap();
            s.restart(&[]);
        }
        let (mut fc, mut rc) = (f.conn(), r.conn());
        let want = digest(&mut rc);
        assert_ne!(want, "0".repeat(40), "file {i}: oracle loaded nothing");
        assert_eq!(digest(&mut fc), want, "file {i}");
        assert_eq!(
            int(&mut fc, &["EXPIRETIME", "sec"]),
            int(&mut rc, &["EXPIRETIME", "sec"])
        );
    }
}

#[test]
fn fixtures_from_older_redis_load_like_redis() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rdb");
    let probe = ferrodis_with(&[]);
    let types = supported_types(&mut probe.conn());
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rdb") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let kind = name.split('_').next().unwrap();
        if !types.contains(&kind) {
            eprintln!("skipping {name}: no {kind} type in this build yet");
            continue;
        }
        let file = fs::read(&path).unwrap();
        let f = ferrodis_with(&[]);
        let r = oracle_with(&[]);
        for s in [&f, &r] {
            s.kill();
            fs::write(s.dir().join("dump.rdb"), &file).unwrap();
            s.restart(&[]);
        }
        let (mut fc, mut rc) = (f.conn(), r.conn());
        let want = digest(&mut rc);
        assert_ne!(want, "0".repeat(40), "{name}: the oracle loaded nothing");
        assert_eq!(digest(&mut fc), want, "{name}");
        for k in all_keys(&mut rc) {
            let k: &[u8] = &k;
            assert_eq!(
                fc.cmd(&[&b"OBJECT"[..], b"ENCODING", k]),
                rc.cmd(&[&b"OBJECT"[..], b"ENCODING", k]),
                "{name}: OBJECT ENCODING {}",
                String::from_utf8_lossy(k)
            );
            assert_eq!(
                fc.cmd(&[&b"PEXPIRETIME"[..], k]),
                rc.cmd(&[&b"PEXPIRETIME"[..], k])
            );
        }
        // And what ferrodis writes back out loads in Redis with the same digest.
        fc.cmd(&["SAVE"]);
        assert_check_rdb_ok(&f.dir().join("dump.rdb"));
        let r2 = oracle_with(&[]);
        transplant(&f, &r2);
        assert_eq!(digest(&mut r2.conn()), want, "{name} written back");
        checked += 1;
    }
    assert!(checked >= 1 || types.is_empty());
}

#[test]
fn duplicate_keys_and_bad_dbs_are_refused() {
    let dup = rdb_file(9, b"\xFE\x00\x00\x01a\x01b\x00\x01a\x01c");
    let (code, log) = start_on_file(&dup);
    assert_eq!(code, Some(1));
    assert!(log.contains("RDB has duplicated key 'a' in DB 0"), "{log}");
    let db = rdb_file(9, b"\xFE\x40\x20\x00\x01a\x01b");
    let (code, log) = start_on_file(&db);
    assert_eq!(code, Some(1));
    assert!(
        log.contains("configured to handle more than 16 databases"),
        "{log}"
    );
    let ver = rdb_file(11, b"");
    let (code, log) = start_on_file(&ver);
    assert_eq!(code, Some(1));
    assert!(log.contains("Can't handle RDB format version 11"), "{log}");
    let (code, log) = start_on_file(b"RUBBISH0009\xff");
    assert_eq!(code, Some(1));
    assert!(
        log.contains("Wrong signature trying to load DB from file"),
        "{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// BGSAVE of a big dataset: the parent keeps answering.

#[test]
fn parent_keeps_answering_during_bgsave_of_a_million_keys() {
    let f = ferrodis_with(&[]);
    let mut c = f.conn();
    c.cmd(&["DEBUG", "POPULATE", "1000000"]);
    let t0 = Instant::now();
    assert_eq!(text(&mut c, &["BGSAVE"]), "Background saving started");
    let mut max = Duration::ZERO;
    let mut n = 0u32;
    let mut writes = 0u32;
    loop {
        let s = Instant::now();
        let r = c.cmd(&["SET", &format!("during:{n}"), "x"]);
        assert_eq!(r, b"+OK\r\n".to_vec());
        writes += 1;
        let p = text(&mut c, &["INFO", "persistence"]);
        max = max.max(s.elapsed());
        n += 1;
        if p.contains("rdb_bgsave_in_progress:0") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "BGSAVE too slow");
    }
    let total = t0.elapsed();
    let fork_us = info_field(&mut c, "stats", "latest_fork_usec");
    eprintln!(
        "BGSAVE of 1M keys: {total:?}, {writes} writes served meanwhile, worst round trip {max:?}, fork {fork_us} us"
    );
    assert!(writes > 1, "the parent did not serve during BGSAVE");
    // A parent that stopped serving while the child saved would show one round trip of
    // about the whole save; a fixed bound in milliseconds would depend on the machine's load.
    assert!(max < total / 2, "worst latency {max:?} of a {total:?} save");
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert_eq!(int(&mut c, &["DBSIZE"]), 1_000_000 + writes as i64);
}

// ---------------------------------------------------------------------------------------------
// Benchmark (run explicitly, in release: cargo test --release --test rdb -- --ignored bench)

/// Fills a server with the mixed dataset: strings of several sizes and, per supported type,
/// small (compact encoding) and large values.
fn fill_mixed(c: &mut RawConn, types: &[&str]) {
    let mut batch: Vec<Vec<String>> = Vec::new();
    let flush = |c: &mut RawConn, batch: &mut Vec<Vec<String>>| {
        let cmds: Vec<Vec<&str>> = batch
            .iter()
            .map(|v| v.iter().map(String::as_str).collect())
            .collect();
        let refs: Vec<&[&str]> = cmds.iter().map(|v| v.as_slice()).collect();
        for r in c.pipeline(&refs) {
            assert!(!r.starts_with(b"-"), "{}", String::from_utf8_lossy(&r));
        }
        batch.clear();
    };
    for i in 0..200_000 {
        let v = match i % 4 {
            0 => i.to_string(),
            1 => format!("short-{i}"),
            2 => format!("{}-{i}", "compressible ".repeat(8)),
            _ => format!("{:x}{:x}{:x}", i * 2654435761u64, i * 40503, i * 97),
        };
        batch.push(vec!["SET".into(), format!("s:{i}"), v]);
        if i % 10 == 0 {
            batch.push(vec!["PEXPIRE".into(), format!("s:{i}"), "100000000".into()]);
        }
        if batch.len() >= 1000 {
            flush(c, &mut batch);
        }
    }
    for t in types {
        for i in 0..20_000 {
            let n = if i % 100 == 0 { 1000 } else { 10 };
            let key = format!("{t}:{i}");
            let mut cmd: Vec<String> = match *t {
                "hash" => vec!["HSET".into(), key],
                "list" => vec!["RPUSH".into(), key],
                "set" => vec!["SADD".into(), key],
                _ => vec!["ZADD".into(), key],
            };
            for j in 0..n {
                match *t {
                    "hash" => {
                        cmd.push(format!("field{j}"));
                        cmd.push(format!("value{}", j * i));
                    }
                    "zset" => {
                        cmd.push(format!("{}", (j * 7919 % 1000) as f64 / 3.0));
                        cmd.push(format!("member{j}"));
                    }
                    "set" if i % 2 == 0 => cmd.push((j * 13).to_string()),
                    _ => cmd.push(format!("elem{j}-{i}")),
                }
            }
            batch.push(cmd);
            if batch.len() >= 200 {
                flush(c, &mut batch);
            }
        }
    }
    flush(c, &mut batch);
}

/// SAVE time, load time (from the log line), dump size and digest for one server.
fn measure(s: &Server) -> (f64, f64, u64, String) {
    let mut c = s.conn();
    c.set_timeout(Duration::from_secs(300));
    let want = digest(&mut c);
    let t = Instant::now();
    assert_eq!(text(&mut c, &["SAVE"]), "OK");
    let save = t.elapsed().as_secs_f64();
    let size = fs::metadata(s.dir().join("dump.rdb")).unwrap().len();
    s.kill();
    let before = s.log().len();
    s.restart(&[]);
    let mut c = s.conn();
    c.set_timeout(Duration::from_secs(300));
    assert_eq!(digest(&mut c), want, "{} reloaded", s.bin().display());
    let log = s.log();
    let load = log[before..]
        .lines()
        .find_map(|l| l.split("DB loaded from disk: ").nth(1))
        .and_then(|t| t.split(' ').next()?.parse::<f64>().ok())
        .expect("load time in the log");
    (save, load, size, want)
}

#[test]
#[ignore]
fn bench_save_and_load_against_redis() {
    let types = supported_types(&mut ferrodis_with(&[]).conn());
    for (name, mixed) in [("1,000,000 small keys", false), ("mixed dataset", true)] {
        let f = ferrodis_with(&[]);
        let r = oracle_with(&[]);
        for s in [&f, &r] {
            let mut c = s.conn();
            c.set_timeout(Duration::from_secs(300));
            if mixed {
                fill_mixed(&mut c, &types);
            } else {
                c.cmd(&["DEBUG", "POPULATE", "1000000"]);
            }
        }
        let (fs_, fl, fz, fd) = measure(&f);
        let (rs, rl, rz, rd) = measure(&r);
        assert_eq!(fd, rd, "{name}: the datasets differ");
        eprintln!(
            "{name} (types: strings {types:?}): SAVE ferrodis {fs_:.3}s redis {rs:.3}s | load ferrodis {fl:.3}s redis {rl:.3}s | size ferrodis {fz} redis {rz} ({:+.2}%)",
            (fz as f64 - rz as f64) * 100.0 / rz as f64
        );
    }
}

/// Lists with plain nodes (RDB_TYPE_LIST_QUICKLIST_2, container 1) built under DEBUG
/// QUICKLIST-PACKED-THRESHOLD 100 with compress depth 1: mixes of plain and packed nodes,
/// compressible plain nodes (kept LZF-compressed in memory and written as LZF blobs),
/// incompressible ones, a list of plain nodes only, and one plain node holding an element
/// below the threshold (written when a lower threshold was in force).
fn plain_node_lists(c: &mut RawConn) {
    assert_eq!(
        text(c, &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]),
        "OK"
    );
    let big = |ch: char, n: usize| ch.to_string().repeat(n);
    let noise: String = (0..300u32)
        .map(|i| (b'!' + (i * 37 % 89) as u8) as char)
        .collect();
    let mut lists: Vec<Vec<String>> = Vec::new();
    lists.push(vec![
        "a".into(),
        "b".into(),
        big('P', 150),
        "c".into(),
        big('Q', 1000),
        noise.clone(),
        "12345".into(),
        big('R', 100),
        big('S', 99),
        "d".into(),
        big('T', 101),
    ]);
    lists.push(vec![
        big('x', 200),
        big('y', 300),
        noise.clone(),
        big('z', 5000),
    ]);
    lists.push((0..40).map(|i| format!("small-{i}")).collect());
    for (i, l) in lists.iter().enumerate() {
        let key = format!("plain:{i}");
        let mut args = vec!["RPUSH", key.as_str()];
        args.extend(l.iter().map(|s| s.as_str()));
        int(c, &args);
    }
    // Large elements inserted in the middle of a packed node split it.
    int(
        c,
        &["LINSERT", "plain:2", "AFTER", "small-7", &big('M', 400)],
    );
    assert_eq!(text(c, &["LSET", "plain:2", "20", &noise]), "OK");
    assert_eq!(text(c, &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5"]), "OK");
    int(c, &["RPUSH", "plain:2", "sixsix"]);
    assert_eq!(text(c, &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]), "OK");
    int(c, &["RPUSH", "plain:2", "tail"]);
}

/// DUMP of every plain:* key on both connections must be the same bytes (node boundaries,
/// containers, LZF blobs), and DEBUG DIGEST the same.
fn assert_same_lists(a: &mut RawConn, b: &mut RawConn) {
    for i in 0..3 {
        let key = format!("plain:{i}");
        let pa = a.value(&["DUMP", &key]).bytes().expect("DUMP").to_vec();
        let pb = b.value(&["DUMP", &key]).bytes().expect("DUMP").to_vec();
        assert_eq!(common::escape(&pa), common::escape(&pb), "DUMP {key}");
        assert_eq!(
            text(a, &["OBJECT", "ENCODING", &key]),
            text(b, &["OBJECT", "ENCODING", &key])
        );
    }
    assert_eq!(digest(a), digest(b));
}

#[test]
fn plain_node_lists_cross_both_ways() {
    let opts = [
        "--list-compress-depth",
        "1",
        "--list-max-listpack-size",
        "4",
    ];
    // redis-server writes, ferrodis loads.
    let f = ferrodis_with(&opts);
    let r = oracle_with(&opts);
    let mut rc = r.conn();
    plain_node_lists(&mut rc);
    assert_eq!(text(&mut rc, &["SAVE"]), "OK");
    transplant(&r, &f);
    let mut fc = f.conn();
    assert!(
        f.log().contains("Done loading RDB, keys loaded: 3"),
        "{}",
        f.log()
    );
    assert_same_lists(&mut fc, &mut rc);
    // plain:1 is four plain nodes (four large elements, fill 4 notwithstanding).
    let obj = text(&mut fc, &["DEBUG", "OBJECT", "plain:1"]);
    assert!(obj.contains(" ql_nodes:4 ql_avg_node:1.00 "), "{obj}");
    // The loaded nodes keep working like Redis's after a load (threshold back at 1 GiB on
    // both): splits around a loaded plain node, LSET over one, reads.
    let mut d = Diff::from_servers(f, r);
    d.run(
        "LINSERT plain:0 BEFORE c small
         LSET plain:0 2 replaced
         LRANGE plain:0 0 -1
         LPOS plain:1 sixsix
         DUMP plain:0
         DUMP plain:1
         LTRIM plain:2 3 -3
         DUMP plain:2
         DEBUG DIGEST",
    );
    drop(d);

    // ferrodis writes, redis-server loads (and redis-check-rdb accepts the file).
    let f = ferrodis_with(&opts);
    let r = oracle_with(&opts);
    let mut fc = f.conn();
    plain_node_lists(&mut fc);
    let want = digest(&mut fc);
    assert_eq!(text(&mut fc, &["SAVE"]), "OK");
    assert_check_rdb_ok(&f.dir().join("dump.rdb"));
    transplant(&f, &r);
    let mut rc = r.conn();
    assert_eq!(digest(&mut rc), want);
    assert!(
        r.log().contains("Done loading RDB, keys loaded: 3"),
        "{}",
        r.log()
    );
    // The oracle's own build of the same lists dumps to the same bytes as what it loaded.
    let r2 = oracle_with(&opts);
    let mut r2c = r2.conn();
    plain_node_lists(&mut r2c);
    assert_same_lists(&mut rc, &mut r2c);
    // And the file ferrodis wrote also loads back into ferrodis unchanged.
    transplant(&f, &f);
    let mut fc = f.conn();
    assert_same_lists(&mut fc, &mut rc);
}

/// Hand-made RESTORE payloads of quicklist-2 lists: containers 1 (plain) and 2 (packed),
/// plain nodes stored raw or LZF-compressed, and the corrupt cases Redis refuses (unknown
/// container, empty node string) or skips (an empty listpack).
#[test]
fn quicklist_2_payloads_restore_like_redis() {
    let mut d = Diff::new();
    d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    let payload = |nodes: &[(u8, Vec<u8>)]| -> Vec<u8> {
        let mut v = vec![18u8, nodes.len() as u8];
        for (container, s) in nodes {
            v.push(*container);
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&10u16.to_le_bytes());
        let crc = ferrodis::persistence::rdb::crc64(&v);
        v.extend_from_slice(&crc.to_le_bytes());
        v
    };
    // RDB string encodings: a short raw string, a 14-bit length, an LZF blob.
    let raw = |s: &[u8]| -> Vec<u8> {
        assert!(s.len() < 64);
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s);
        v
    };
    let raw14 = |s: &[u8]| -> Vec<u8> {
        let mut v = vec![0x40 | (s.len() >> 8) as u8, s.len() as u8];
        v.extend_from_slice(s);
        v
    };
    // 200 x 'p' compressed: literal "pp", a long back-reference of 196 bytes, literal "pp".
    let lzf = {
        let c = [0x01, b'p', b'p', 0xe0, 0xbb, 0x00, 0x01, b'p', b'p'];
        let mut v = vec![0xc3, c.len() as u8, 0x40, 200];
        v.extend_from_slice(&c);
        v
    };
    // A listpack with "a" and "b".
    let lp = |items: &[&[u8]]| -> Vec<u8> {
        let mut body = Vec::new();
        for it in items {
            body.push(0x80 | it.len() as u8);
            body.extend_from_slice(it);
            body.push(1 + it.len() as u8);
        }
        let total = 6 + body.len() + 1;
        let mut v = (total as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&(items.len() as u16).to_le_bytes());
        v.extend_from_slice(&body);
        v.push(0xff);
        v
    };
    let cases: Vec<Vec<u8>> = vec![
        payload(&[(1, raw(b"one plain element"))]),
        payload(&[
            (2, raw(&lp(&[b"a", b"b"]))),
            (1, raw14(&[b'q'; 150])),
            (2, raw(&lp(&[b"c"]))),
        ]),
        payload(&[
            (2, raw(&lp(&[b"a"]))),
            (1, lzf.clone()),
            (2, raw(&lp(&[b"z"]))),
        ]),
        payload(&[(1, raw(b"x")), (1, raw(b"y")), (1, raw(b"z"))]),
        // An empty listpack is skipped, the rest loads.
        payload(&[(2, raw(&lp(&[]))), (1, raw(b"kept"))]),
        // Only an empty listpack: an empty list.
        payload(&[(2, raw(&lp(&[])))]),
        // Corrupt: unknown containers, empty node strings, no nodes.
        payload(&[(0, raw(b"x"))]),
        payload(&[(3, raw(b"x"))]),
        payload(&[(1, raw(b""))]),
        payload(&[(2, raw(b""))]),
        payload(&[]),
        // A plain node whose string is a listpack is still one element.
        payload(&[(1, raw(&lp(&[b"a", b"b"])))]),
    ];
    for (i, p) in cases.iter().enumerate() {
        let key = format!("k{i}");
        let reply = d.cmd(&[b"RESTORE".as_slice(), key.as_bytes(), b"0", p]);
        eprintln!("case {i}: {}", common::escape(&reply));
        d.cmd(&["LRANGE", &key, "0", "-1"]);
        d.cmd(&["DUMP", &key]);
        d.cmd(&["DEBUG", "DIGEST-VALUE", &key]);
        d.cmd(&["RPUSH", &key, "pushed"]);
        d.cmd(&["LINSERT", &key, "BEFORE", "pushed", &"i".repeat(120)]);
        d.cmd(&["DUMP", &key]);
    }
}
