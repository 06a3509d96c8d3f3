//! Differential tests of the generic key commands (src/commands/keys.rs) against the oracle:
//! DEL UNLINK EXISTS TYPE TOUCH RANDOMKEY RENAME RENAMENX MOVE COPY KEYS SCAN OBJECT
//! EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST WAIT.
//!
//! Every script runs twice, in RESP2 and after HELLO 3, so replies whose encoding depends on
//! the protocol (nulls above all) are checked in both. Replies that legitimately differ between
//! two servers are compared by meaning: key order (KEYS, SCAN: the dict hash seed is random
//! per process) and millisecond TTLs (the servers run a few ms apart).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::thread::sleep;
use std::time::Duration;

/// Runs `script` in RESP2, then again after HELLO 3, then returns to RESP2. Scripts start by
/// resetting what they use, so running twice is the same test in the other protocol.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run(script);
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

/// Integer reply of `args` on one connection.
fn int(conn: &mut RawConn, args: &[&str]) -> i64 {
    let v = conn.value(args);
    v.int()
        .unwrap_or_else(|| panic!("{args:?}: expected an integer, got {v:?}"))
}

/// Asserts both servers answer integers within `tol` of each other (millisecond TTLs).
fn close_ints(d: &mut Diff, args: &[&str], tol: i64) -> i64 {
    let a = int(&mut d.ferrodis, args);
    let b = int(&mut d.redis, args);
    assert!(
        (a - b).abs() <= tol,
        "{args:?}: ferrodis {a}, redis {b} (tolerance {tol})"
    );
    a
}

/// Iterates SCAN to the end on one connection with extra options; returns every key returned
/// (as a set) and how many calls it took.
fn scan_all(conn: &mut RawConn, extra: &[&str]) -> (BTreeSet<Vec<u8>>, usize) {
    let mut cursor = b"0".to_vec();
    let mut keys = BTreeSet::new();
    let mut calls = 0;
    loop {
        let mut args: Vec<Vec<u8>> = vec![b"SCAN".to_vec(), cursor.clone()];
        args.extend(extra.iter().map(|s| s.as_bytes().to_vec()));
        let r = conn.value(&args);
        calls += 1;
        let items = r.items().expect("SCAN replies an array");
        assert_eq!(items.len(), 2, "SCAN reply {r:?}");
        cursor = items[0].bytes().expect("cursor is a bulk").to_vec();
        for k in items[1].items().expect("keys array") {
            keys.insert(k.bytes().expect("key is a bulk").to_vec());
        }
        if cursor == b"0" {
            return (keys, calls);
        }
        assert!(calls < 100_000, "SCAN never ends");
    }
}

/// Full SCAN iterations on both servers must return the same set of keys.
fn same_scan(d: &mut Diff, extra: &[&str]) -> BTreeSet<Vec<u8>> {
    let (f, _) = scan_all(&mut d.ferrodis, extra);
    let (r, _) = scan_all(&mut d.redis, extra);
    assert_eq!(f, r, "SCAN {extra:?}: key sets differ");
    f
}

/// One INFO field on one connection.
fn info_field(conn: &mut RawConn, section: &str, field: &str) -> String {
    let text = conn.value(&["INFO", section]).text().expect("INFO text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

/// The INFO stats counters these tests watch, on both servers.
fn stats(d: &mut Diff, fields: &[&str]) -> (Vec<i64>, Vec<i64>) {
    let get = |conn: &mut RawConn| -> Vec<i64> {
        fields
            .iter()
            .map(|f| {
                info_field(conn, "stats", f)
                    .trim()
                    .parse()
                    .expect("numeric stat")
            })
            .collect()
    };
    let f = get(&mut d.ferrodis);
    let r = get(&mut d.redis);
    (f, r)
}

/// Runs `script` and asserts that the INFO stats `fields` moved by the same amounts on both
/// servers; returns the deltas.
fn same_stat_deltas(d: &mut Diff, fields: &[&str], script: &str) -> Vec<i64> {
    let (f0, r0) = stats(d, fields);
    d.run(script);
    let (f1, r1) = stats(d, fields);
    let df: Vec<i64> = f1.iter().zip(&f0).map(|(a, b)| a - b).collect();
    let dr: Vec<i64> = r1.iter().zip(&r0).map(|(a, b)| a - b).collect();
    assert_eq!(df, dr, "INFO stats {fields:?} deltas: ferrodis vs redis");
    df
}

#[test]
fn del_unlink_exists_type_touch() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET a 1
        SET b hello
        SET "" empty
        EXISTS a b c
        EXISTS a a a
        EXISTS ""
        TYPE a
        TYPE b
        TYPE nokey
        TOUCH a b nokey a
        DEL a b c
        EXISTS a b
        DEL a
        SET a 1
        SET c 2
        UNLINK a nokey c
        UNLINK a
        EXISTS a c
        DEL ""
        DEL
        UNLINK
        EXISTS
        TYPE
        TYPE a b
        TOUCH
        "#,
    );
}

#[test]
fn lookups_count_keyspace_hits_and_misses() {
    let mut d = Diff::new();
    d.run(
        r#"
        FLUSHALL
        SET a 1
        SET b x
        "#,
    );
    let deltas = same_stat_deltas(
        &mut d,
        &["keyspace_hits", "keyspace_misses"],
        r#"
        EXISTS a nokey a
        TYPE b
        TYPE nokey
        TOUCH a nokey
        TTL a
        PTTL nokey
        EXPIRETIME a
        OBJECT ENCODING a
        OBJECT ENCODING nokey
        OBJECT REFCOUNT a
        COPY a a2
        COPY nokey x
        RENAME a a3
        RENAME nokey x
        MOVE a3 1
        EXPIRE a3 100
        PERSIST a3
        DEL a3 nokey
        ? SCAN 0 TYPE string
        SORT nokey
        SORT b
        "#,
    );
    assert!(deltas[0] > 0 && deltas[1] > 0, "{deltas:?}");
}

#[test]
fn rename_and_renamenx() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        RENAME nokey b
        RENAME nokey nokey
        RENAMENX nokey b
        RENAMENX nokey nokey
        SET a 1
        RENAME a a
        RENAMENX a a
        EXPIRE a 1000
        RENAME a b
        EXISTS a
        GET b
        TTL b
        SET c 3
        RENAMENX b c
        GET b
        RENAMENX b d
        TTL d
        GET d
        RENAME d c
        GET c
        TTL c
        SET e hello
        RENAME c e
        OBJECT ENCODING e
        GET e
        RENAME
        RENAME a
        RENAMENX a b c
        "#,
    );
}

#[test]
fn move_between_databases() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SELECT 0
        SET k v
        MOVE k x
        MOVE k 1.0
        MOVE k -1
        MOVE k 16
        MOVE k 2147483648
        MOVE k 0
        MOVE nokey 1
        MOVE nokey 0
        EXPIRE k 1000
        MOVE k 1
        EXISTS k
        SELECT 1
        GET k
        TTL k
        SET k2 local
        SELECT 0
        SET k2 other
        MOVE k2 1
        GET k2
        SELECT 1
        GET k2
        MOVE k 0
        SELECT 0
        GET k
        TTL k
        MOVE k
        MOVE k 1 2
        "#,
    );
}

#[test]
fn copy_with_db_and_replace() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SELECT 0
        SET a hello
        SET n 12345
        SET big 0123456789012345678901234567890123456789012345678901234567890
        APPEND r x
        COPY a b
        GET b
        OBJECT ENCODING b
        COPY n n2
        OBJECT ENCODING n2
        COPY big big2
        OBJECT ENCODING big2
        COPY r r2
        OBJECT ENCODING r2
        COPY a b
        COPY a b REPLACE
        SET b other
        COPY a b replace
        GET b
        COPY a a
        COPY a a REPLACE
        COPY a a DB 0
        COPY a a DB 1
        COPY nokey x
        COPY nokey x DB 1
        COPY a b DB x
        COPY a b DB 99
        COPY a b DB -1
        COPY a b DB 2147483648
        COPY a b DB
        COPY a b foo
        COPY a b DB 1 foo
        COPY a b foo DB 99
        COPY a b DB 99 foo
        EXPIRE a 1000
        COPY a c DB 2
        SELECT 2
        GET c
        TTL c
        COPY c c DB 0
        SELECT 0
        COPY c x DB 1 REPLACE DB 2
        COPY
        COPY a
        "#,
    );
}

#[test]
fn keys_patterns() {
    let mut d = Diff::new();
    d.run(
        r#"
        FLUSHALL
        MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 a 6 b 7 c 8 "" 9 "a*b" 10 "h[e]llo" 11
        MSET foo:1 x foo:2 y bar:1 z "\xff\x00k" w
        ~ KEYS *
        ~ KEYS h?llo
        ~ KEYS h*llo
        ~ KEYS h[ae]llo
        ~ KEYS h[^e]llo
        ~ KEYS h[a-b]llo
        ~ KEYS [a-c]
        ~ KEYS foo:*
        ~ KEYS *:1
        KEYS nomatch
        KEYS hello
        ~ KEYS a\*b
        ~ KEYS h\[e\]llo
        ~ KEYS ""
        ~ KEYS "\xff*"
        ~ KEYS HELLO
        KEYS
        KEYS a b
        "#,
    );
    d.run("? HELLO 3");
    d.run(
        r#"
        ~ KEYS *
        KEYS nomatch
        ~ KEYS ?
        "#,
    );
}

#[test]
fn keys_and_scan_skip_expired_keys() {
    let mut d = Diff::new();
    d.run(
        r#"
        FLUSHALL
        DEBUG SET-ACTIVE-EXPIRE 0
        MSET a 1 b 2 c 3 d 4
        PEXPIRE a 5
        PEXPIRE b 5
        PEXPIRE c 100000
        "#,
    );
    sleep(Duration::from_millis(30));
    // KEYS leaves expired keys out without deleting them; DBSIZE still counts them.
    d.run(
        r#"
        ~ KEYS *
        DBSIZE
        "#,
    );
    let keys = same_scan(&mut d, &[]);
    assert_eq!(keys.len(), 2);
    // SCAN deleted the expired keys it met.
    d.run(
        r#"
        DBSIZE
        EXISTS a b c d
        DEBUG SET-ACTIVE-EXPIRE 1
        "#,
    );
}

#[test]
fn scan_iterates_everything() {
    let mut d = Diff::new();
    d.run("FLUSHALL");
    for chunk in 0..10 {
        let mut args = vec!["MSET".to_string()];
        for i in 0..100 {
            let n = chunk * 100 + i;
            args.push(format!("key:{n}"));
            args.push(n.to_string());
        }
        d.cmd(&args);
    }
    let all = same_scan(&mut d, &[]);
    assert_eq!(all.len(), 1000);
    same_scan(&mut d, &["COUNT", "1"]);
    same_scan(&mut d, &["COUNT", "1000"]);
    same_scan(&mut d, &["COUNT", "9223372036854775807"]);
    let m = same_scan(&mut d, &["MATCH", "key:1*"]);
    assert_eq!(m.len(), 111);
    same_scan(&mut d, &["MATCH", "*"]);
    same_scan(&mut d, &["MATCH", "key:?", "COUNT", "50"]);
    same_scan(&mut d, &["MATCH", "nomatch"]);
    same_scan(&mut d, &["TYPE", "string"]);
    same_scan(&mut d, &["TYPE", "STRING", "MATCH", "key:99*"]);
    assert!(same_scan(&mut d, &["TYPE", "list"]).is_empty());
    assert!(same_scan(&mut d, &["TYPE", "nosuchtype"]).is_empty());
    same_scan(
        &mut d,
        &["MATCH", "x", "MATCH", "*", "COUNT", "5", "COUNT", "20"],
    );
    // COUNT bounds the work: a full iteration with COUNT 1 takes many calls.
    let (_, calls) = scan_all(&mut d.ferrodis, &["COUNT", "1"]);
    assert!(calls > 100, "COUNT 1 took only {calls} calls");
    // One call with a COUNT larger than the dict returns everything and ends.
    d.run("SCAN 0 COUNT 100000 MATCH nothing");
    // Garbage cursors are valid (the dict masks them) and end the iteration somewhere.
    for cur in ["18446744073709551615", "-1", "+7", "007", ""] {
        let r = d.ferrodis.value(&["SCAN", cur, "COUNT", "1"]);
        assert_eq!(r.items().map(|i| i.len()), Some(2), "SCAN {cur:?}: {r:?}");
    }
}

#[test]
fn scan_small_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SCAN 0
        SCAN 0 COUNT 5 MATCH * TYPE string
        SET only 1
        SCAN 0
        SCAN 0 MATCH o*
        SCAN 0 MATCH x*
        SCAN 0 TYPE string
        SCAN 0 TYPE String
        SCAN 0 TYPE hash
        SCAN 0 TYPE none
        SCAN "" COUNT 10
        SCAN x
        SCAN " 1"
        SCAN "1 "
        SCAN 0x10
        SCAN 18446744073709551616
        SCAN +
        SCAN -
        SCAN 1.5
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT x
        SCAN 0 COUNT 9223372036854775808
        SCAN 0 COUNT
        SCAN 0 MATCH
        SCAN 0 TYPE
        SCAN 0 foo
        SCAN 0 foo bar
        SCAN 0 COUNT 1 foo
        SCAN x COUNT 0
        SCAN 0 COUNT 0 MATCH
        SCAN
        "#,
    );
}

#[test]
fn randomkey() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        RANDOMKEY
        SET only 1
        RANDOMKEY
        DEL only
        RANDOMKEY
        RANDOMKEY extra
        "#,
    );
    d.run(
        r#"
        DEBUG SET-ACTIVE-EXPIRE 0
        SET gone 1
        SET stays 2
        PEXPIRE gone 1
        "#,
    );
    sleep(Duration::from_millis(20));
    // The expired key is never returned (it is deleted when picked).
    for _ in 0..20 {
        d.run("RANDOMKEY");
    }
    d.run(
        r#"
        DEL stays
        SET gone2 1
        PEXPIRE gone2 1
        "#,
    );
    sleep(Duration::from_millis(20));
    both_protocols(&mut d, "RANDOMKEY");
    d.run("DEBUG SET-ACTIVE-EXPIRE 1");
}

#[test]
fn object_subcommands() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET i 123
        SET small 5
        SET zero 0
        SET top 9999
        SET notshared 10000
        SET neg -1
        SET e hello
        SET r 0123456789012345678901234567890123456789012345
        SET e44 01234567890123456789012345678901234567890123
        APPEND app x
        SET longint 12345678901234567890
        OBJECT ENCODING i
        OBJECT ENCODING e
        OBJECT ENCODING r
        OBJECT ENCODING e44
        OBJECT ENCODING app
        OBJECT ENCODING longint
        OBJECT ENCODING nokey
        OBJECT REFCOUNT small
        OBJECT REFCOUNT zero
        OBJECT REFCOUNT top
        OBJECT REFCOUNT notshared
        OBJECT REFCOUNT neg
        OBJECT REFCOUNT e
        OBJECT REFCOUNT r
        OBJECT REFCOUNT nokey
        # The LRU clock ticks once a second: checked with a tolerance after the script.
        ? OBJECT IDLETIME e
        OBJECT IDLETIME nokey
        OBJECT FREQ e
        OBJECT FREQ nokey
        OBJECT HELP
        object help
        OBJECT
        OBJECT foo
        OBJECT foo bar
        OBJECT ENCODING
        OBJECT ENCODING e extra
        OBJECT HELP extra
        OBJECT REFCOUNT
        OBJECT FREQ
        OBJECT IDLETIME
        "#,
    );
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let idle = int(conn, &["OBJECT", "IDLETIME", "e"]);
        assert!((0..=1).contains(&idle), "idle {idle}");
    }
}

#[test]
fn object_idletime_grows_and_resets() {
    let mut d = Diff::new();
    d.run(
        r#"
        FLUSHALL
        SET k hello
        "#,
    );
    close_ints(&mut d, &["OBJECT", "IDLETIME", "k"], 1);
    sleep(Duration::from_millis(2300));
    // Two seconds idle (the LRU clock ticks once a second, so allow one second either way).
    let idle = close_ints(&mut d, &["OBJECT", "IDLETIME", "k"], 1);
    assert!((1..=3).contains(&idle), "idle {idle}");
    // Read-only probes do not touch the key...
    d.run(
        r#"
        EXISTS k
        TYPE k
        TTL k
        OBJECT ENCODING k
        "#,
    );
    assert!(int(&mut d.ferrodis, &["OBJECT", "IDLETIME", "k"]) >= 1);
    // ...but a read does.
    d.run(
        r#"
        TOUCH k
        "#,
    );
    let idle = close_ints(&mut d, &["OBJECT", "IDLETIME", "k"], 1);
    assert!((0..=1).contains(&idle), "idle {idle}");
}

#[test]
fn object_under_lfu_policy() {
    // lfu-decay-time 0: a minute boundary passing mid-script must not decay the counter.
    let mut d = Diff::with_args(&["--maxmemory-policy", "allkeys-lfu", "--lfu-decay-time", "0"]);
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET e hello
        OBJECT FREQ e
        GET e
        OBJECT FREQ e
        OBJECT IDLETIME e
        OBJECT IDLETIME nokey
        OBJECT FREQ nokey
        SET small 5
        OBJECT REFCOUNT small
        "#,
    );
}

#[test]
fn object_refcount_with_maxmemory_lru() {
    let mut d = Diff::with_args(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET small 5
        OBJECT REFCOUNT small
        OBJECT ENCODING small
        OBJECT FREQ small
        "#,
    );
}

#[test]
fn expire_options_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET k v
        EXPIRE k 100 foo
        EXPIRE k 100 nx foo
        EXPIRE k x foo
        EXPIRE k 100 nx xx
        EXPIRE k 100 nx gt
        EXPIRE k 100 nx lt
        EXPIRE k 100 gt lt
        EXPIRE k 100 xx gt lt
        EXPIRE k x
        EXPIRE k 1.5
        EXPIRE k ""
        EXPIRE k " 1"
        EXPIRE nokey 100 foo
        EXPIRE nokey x
        EXPIRE nokey 100
        EXPIRE nokey 9223372036854775807
        EXPIRE k 9223372036854775807
        EXPIRE k 9223372036854775
        EXPIRE k -9223372036854776
        EXPIRE k -9223372036854775808
        PEXPIRE k 9223372036854775807
        EXPIREAT k 9223372036854775807
        EXPIREAT k 9223372036854776
        EXPIREAT k -9223372036854776
        TTL k
        EXPIRE k 1000 XX
        TTL k
        EXPIRE k 1000 NX
        TTL k
        EXPIRE k 2000 nx
        EXPIRE k 500 GT
        EXPIRE k 2000 GT
        TTL k
        EXPIRE k 3000 LT
        EXPIRE k 1500 LT
        TTL k
        # Relative times are compared at millisecond precision: the same relative time twice
        # answers 0 or 1 depending on whether a millisecond passed, so equal expiries are
        # compared with absolute times below.
        EXPIRE k 1600 XX GT
        EXPIRE k 1400 XX LT
        TTL k
        PEXPIREAT k 4000000000123
        PEXPIREAT k 4000000000123 GT
        PEXPIREAT k 4000000000123 LT
        EXPIREAT k 4000000000 GT
        EXPIREAT k 4000000000 LT
        PEXPIRETIME k
        EXPIREAT k 4000000001 XX GT
        PEXPIRETIME k
        PERSIST k
        EXPIRE k 100 GT
        TTL k
        EXPIRE k 100 LT
        TTL k
        PERSIST k
        PERSIST k
        PERSIST nokey
        EXPIREAT k 4000000000
        EXPIRETIME k
        PEXPIRETIME k
        PEXPIREAT k 4000000000123
        PEXPIRETIME k
        EXPIRETIME k
        PEXPIREAT k 4000000000499
        EXPIRETIME k
        PEXPIREAT k 4000000000500
        EXPIRETIME k
        PEXPIREAT k 9223372036854775807
        EXPIRETIME k
        PEXPIRETIME k
        EXPIREAT k 9223372036854775
        EXPIRETIME k
        PEXPIRETIME k
        EXPIRETIME nokey
        PEXPIRETIME nokey
        SET p v
        EXPIRETIME p
        PEXPIRETIME p
        TTL p
        PTTL p
        TTL nokey
        PTTL nokey
        EXPIRE
        EXPIRE k
        TTL
        TTL a b
        PERSIST
        "#,
    );
}

#[test]
fn expire_in_the_past_deletes() {
    let mut d = Diff::new();
    d.run("FLUSHALL");
    let (f0, r0) = stats(&mut d, &["expired_keys"]);
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET a 1
        EXPIRE a 0
        EXISTS a
        SET a 1
        EXPIRE a -10
        EXISTS a
        SET a 1
        PEXPIRE a -1
        EXISTS a
        SET a 1
        EXPIREAT a 1
        EXISTS a
        SET a 1
        PEXPIREAT a 0
        EXISTS a
        SET a 1
        PEXPIREAT a -9223372036854775808
        EXISTS a
        SET a 1
        EXPIRE a 100
        EXPIRE a -1 GT
        EXPIRE a -1 LT
        EXISTS a
        SET a 1
        EXPIRE a -1 XX
        EXISTS a
        EXPIRE a -1 NX
        EXISTS a
        "#,
    );
    // Deleting through EXPIRE is a DEL, not an expiry.
    assert_eq!(stats(&mut d, &["expired_keys"]), (f0, r0));
}

#[test]
fn keys_expire_after_their_ttl() {
    let mut d = Diff::new();
    d.run("FLUSHALL");
    let (f0, r0) = stats(&mut d, &["expired_keys"]);
    d.run(
        r#"
        SET a 1
        SET b 2
        SET c 3
        SET e 5
        PEXPIRE a 500
        PEXPIRE b 500
        PEXPIRE c 500
        PEXPIRE e 100000
        EXISTS a b c
        "#,
    );
    // Millisecond TTLs depend on when each server answers: each is checked against its own
    // bound, not against the other server's (a loaded machine may stall between the two).
    // The margins allow a stall of up to half a second between two commands.
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let ttl = int(conn, &["PTTL", "a"]);
        assert!((0..=500).contains(&ttl), "pttl a {ttl}");
        let ttl = int(conn, &["PTTL", "e"]);
        assert!((99_000..=100_000).contains(&ttl), "pttl e {ttl}");
    }
    d.run("TTL e");
    sleep(Duration::from_millis(1000));
    both_protocols(
        &mut d,
        r#"
        EXISTS a
        TTL b
        PTTL b
        GET c
        TYPE a
        EXPIRETIME c
        PERSIST c
        EXPIRE c 100
        OBJECT ENCODING c
        EXISTS e
        "#,
    );
    // Lazily or actively, all three expired keys were counted as expired.
    let (f1, r1) = stats(&mut d, &["expired_keys"]);
    assert_eq!((f1[0] - f0[0], r1[0] - r0[0]), (3, 3));
    // A SET without KEEPTTL clears the TTL; PERSIST keeps the key.
    d.run(
        r#"
        PEXPIRE e 500
        SET e 6
        TTL e
        PEXPIRE e 500
        PERSIST e
        "#,
    );
    sleep(Duration::from_millis(1000));
    d.run(
        r#"
        GET e
        TTL e
        "#,
    );
}

#[test]
fn ttl_seconds_round_to_nearest() {
    let mut d = Diff::new();
    d.run(
        r#"
        FLUSHALL
        SET k v
        PEXPIRE k 100400
        TTL k
        PEXPIRE k 100900
        TTL k
        EXPIRE k 100
        TTL k
        "#,
    );
    close_ints(&mut d, &["PTTL", "k"], 20);
}

#[test]
fn wait_without_replicas() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        WAIT 0 0
        WAIT 0 100
        WAIT -1 0
        WAIT 1 1
        WAIT 0 9223372036854775807
        WAIT x 0
        WAIT 0 x
        WAIT 0 -1
        WAIT 0 1.5
        WAIT 9223372036854775808 0
        WAIT x -1
        WAIT 0 9223372036854775808
        WAIT
        WAIT 0
        WAIT 0 0 0
        "#,
    );
}

#[test]
fn commands_on_other_databases() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SELECT 3
        SET k v
        EXPIRE k 100
        EXISTS k
        TYPE k
        TTL k
        ~ KEYS *
        SCAN 0
        RANDOMKEY
        RENAME k k2
        SELECT 0
        EXISTS k2
        RANDOMKEY
        SCAN 0
        KEYS *
        SELECT 3
        DEL k2
        SELECT 0
        "#,
    );
}
