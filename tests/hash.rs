//! Differential tests of the hash commands (src/commands/hash.rs, src/types/hash.rs) against
//! the oracle redis-server 7.0.15.
//!
//! Every command script runs once per encoding and once per protocol:
//! - listpack (the defaults): replies must be byte-identical, insertion order included;
//! - hashtable via `hash-max-listpack-entries 0` (converted by hashTypeSet after the first
//!   append) and via `hash-max-listpack-value 0` (converted by hashTypeTryConversion before the
//!   write): lines marked `@` / `@@` are then compared unordered / unordered by pairs, because
//!   bucket order depends on each server's random hash seed; lines marked `%` (HSCAN, whose
//!   cursors depend on it too) are skipped there and checked by properties instead;
//! - RESP2, then RESP3 (HELLO 3).
//!
//! OBJECT ENCODING follows the writes so both servers must convert at the same step.
//!
//! Random replies (HRANDFIELD) are checked for their properties on both encodings: count,
//! uniqueness where Redis guarantees it, membership, values matching fields, the RESP3 shape,
//! and a rough uniformity check.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};

/// Runs `script` in RESP2, then in RESP3, then returns to RESP2.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run(script);
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

/// Rewrites the `@`/`@@`/`%` markers for one encoding: exact for listpack; unordered (or
/// skipped) for a hash table.
fn for_encoding(script: &str, table: bool) -> String {
    script
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            if let Some(r) = t.strip_prefix("@@ ") {
                Some(if table {
                    format!("~~ {r}")
                } else {
                    r.to_string()
                })
            } else if let Some(r) = t.strip_prefix("@ ") {
                Some(if table {
                    format!("~ {r}")
                } else {
                    r.to_string()
                })
            } else if let Some(r) = t.strip_prefix("% ") {
                (!table).then(|| r.to_string())
            } else {
                Some(t.to_string())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `script` on both encodings (three configurations) and both protocols.
fn both_encodings(d: &mut Diff, script: &str) {
    let lp = for_encoding(script, false);
    let ht = for_encoding(script, true);
    both_protocols(d, &lp);
    d.run("? CONFIG SET hash-max-listpack-entries 0");
    both_protocols(d, &ht);
    d.run("? CONFIG SET hash-max-listpack-entries 512");
    d.run("? CONFIG SET hash-max-listpack-value 0");
    both_protocols(d, &ht);
    d.run("? CONFIG SET hash-max-listpack-value 64");
}

/// Sends a command to one side and parses the reply.
fn value(conn: &mut RawConn, args: &[&str]) -> Reply {
    let r = conn.cmd(args);
    parse_reply(&r).unwrap_or_else(|e| panic!("{e}: {}", escape(&r)))
}

/// The bytes of a bulk reply.
fn bulk(r: &Reply) -> Vec<u8> {
    r.bytes()
        .unwrap_or_else(|| panic!("not a bulk: {r:?}"))
        .to_vec()
}

#[test]
fn every_command_on_both_encodings() {
    let mut d = Diff::new();
    both_encodings(
        &mut d,
        r#"
        FLUSHALL
        HSET h f1 v1
        OBJECT ENCODING h
        HSET h f2 v2 f3 3 f4 -4 f5 "" f6 12345678901234 f7 "with space" f8 "\x00\xff"
        OBJECT ENCODING h
        HSET h f1 new f9 v9
        HSET h f9 v9 f9 v10
        HLEN h
        HGET h f1
        HGET h f3
        HGET h f4
        HGET h f5
        HGET h f6
        HGET h f8
        HGET h nofield
        HGET h v2
        HGET nokey f1
        HMGET h f1 f2 nofield f4 f6
        HMGET nokey a b
        HEXISTS h f1
        HEXISTS h v2
        HEXISTS h nofield
        HEXISTS nokey f
        HSTRLEN h f1
        HSTRLEN h f3
        HSTRLEN h f4
        HSTRLEN h f5
        HSTRLEN h f6
        HSTRLEN h nofield
        HSTRLEN nokey f
        HLEN nokey
        @@ HGETALL h
        @ HKEYS h
        @ HVALS h
        HGETALL nokey
        HKEYS nokey
        HVALS nokey
        HSETNX h f1 x
        HSETNX h f10 v10
        OBJECT ENCODING h
        HSETNX newkey a b
        OBJECT ENCODING newkey
        HGETALL newkey
        HMSET h f11 v11 f1 again
        OBJECT ENCODING h
        HINCRBY h cnt 5
        HINCRBY h cnt -10
        HINCRBY h cnt 0
        HINCRBY h f3 7
        HINCRBY h f6 1
        HINCRBY h f4 -9223372036854775800
        HINCRBY newh2 x 9
        OBJECT ENCODING newh2
        HINCRBYFLOAT h fl 1.5
        HINCRBYFLOAT h fl 0.1
        HINCRBYFLOAT h fl -1.6
        HINCRBYFLOAT h f3 2.5e3
        HINCRBYFLOAT h cnt -0.000001
        HINCRBYFLOAT h hex 0x10
        HINCRBYFLOAT h fl 1e3
        HINCRBYFLOAT h fl +7
        HINCRBYFLOAT h pi 3.14159265358979323846
        HINCRBYFLOAT newh3 x 2.25
        OBJECT ENCODING newh3
        HGET h fl
        HGET h pi
        HSTRLEN h pi
        @@ HGETALL h
        HDEL h nofield
        HDEL h f1 f1 f2
        HDEL nokey a
        HEXISTS h f1
        HLEN h
        OBJECT ENCODING h
        @@ HGETALL h
        HDEL newkey a
        EXISTS newkey
        HDEL newh2 nope x nope2
        EXISTS newh2
        HSET single only 1
        HRANDFIELD single
        HRANDFIELD single 1
        HRANDFIELD single -1
        HRANDFIELD single 5
        HRANDFIELD single -3
        HRANDFIELD single 1 WITHVALUES
        HRANDFIELD single -3 withvalues
        HRANDFIELD single 4611686018427387903 WITHVALUES
        HRANDFIELD h 0
        HRANDFIELD h 0 WITHVALUES
        HRANDFIELD h -0
        @ HRANDFIELD h 100
        @ HRANDFIELD h 9223372036854775807
        HRANDFIELD nokey
        HRANDFIELD nokey 5
        HRANDFIELD nokey -5 WITHVALUES
        HRANDFIELD nokey 0
        % HSCAN h 0
        % HSCAN h 0 MATCH f*
        % HSCAN h 0 MATCH f? COUNT 1
        % HSCAN h 0 match *1* count 1000
        % HSCAN h 123
        % HSCAN h -1
        % HSCAN h 18446744073709551615
        % HSCAN h 0 MATCH nomatch
        % HSCAN h 0 MATCH f1 MATCH f3
        % HSCAN h 0 MATCH zzz*
        HSCAN nokey 0
        HSCAN nokey 0 COUNT 0
        HSCAN nokey x
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT -1
        HSCAN h 0 COUNT x
        HSCAN h 0 TYPE hash
        HSCAN h 0 MATCH
        HSCAN h 0 foo bar
        HSCAN h x
        HSCAN h 1.5
        HSCAN h 99999999999999999999
        HSCAN h " 1"
        % HSCAN h +0
        DEL h single newh3
        "#,
    );
}

#[test]
fn errors_and_wrong_type() {
    let mut d = Diff::new();
    both_encodings(
        &mut d,
        r#"
        FLUSHALL
        SET str x
        HSET str a b
        HMSET str a b
        HSETNX str a b
        HGET str a
        HMGET str a b
        HDEL str a
        HLEN str
        HSTRLEN str a
        HEXISTS str a
        HINCRBY str a 1
        HINCRBYFLOAT str a 1
        HKEYS str
        HVALS str
        HGETALL str
        HRANDFIELD str
        HRANDFIELD str 2
        HRANDFIELD str 2 WITHVALUES
        HRANDFIELD str x
        HSCAN str 0
        HSCAN str x
        HSCAN str 0 COUNT 0
        HINCRBY str a x
        HINCRBYFLOAT str a x
        GET str
        HSET h
        HSET h a
        HSET h a b c
        HMSET h a
        HMSET h a b c
        HSETNX h a
        HGET h
        HMGET h
        HDEL h
        HLEN
        HSTRLEN h
        HEXISTS h
        HINCRBY h a
        HINCRBYFLOAT h a
        HKEYS
        HRANDFIELD
        HSCAN h
        EXISTS h
        HSET h s str i 10 big 9223372036854775807 small -9223372036854775808 f 1.5 e ""
        OBJECT ENCODING h
        HINCRBY h i x
        HINCRBY h i 1.5
        HINCRBY h i " 1"
        HINCRBY h i 99999999999999999999
        HINCRBY h s 1
        HINCRBY h f 1
        HINCRBY h e 1
        HINCRBY h big 1
        HINCRBY h big 0
        HINCRBY h small -1
        HINCRBY h small 9223372036854775807
        HINCRBY h big -9223372036854775808
        HINCRBY h i -9223372036854775808
        HINCRBY nokey f x
        EXISTS nokey
        HINCRBYFLOAT h f abc
        HINCRBYFLOAT h f nan
        HINCRBYFLOAT h f inf
        HINCRBYFLOAT h f -inf
        HINCRBYFLOAT h f ""
        HINCRBYFLOAT h f "1 "
        HINCRBYFLOAT h f " 1"
        HINCRBYFLOAT h f 1e5000
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h e 1
        HINCRBYFLOAT nokey f nan
        EXISTS nokey
        HSET h x 1e4930
        HINCRBYFLOAT h x 1e4932
        HGET h x
        HRANDFIELD h x
        HRANDFIELD h 1.5
        HRANDFIELD h 1 foo
        HRANDFIELD h 1 withvalues x
        HRANDFIELD h 1 withvaluesx
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h -9223372036854775808 WITHVALUES
        HRANDFIELD h 9223372036854775807 WITHVALUES
        HRANDFIELD h 4611686018427387904 WITHVALUES
        HRANDFIELD h -4611686018427387904 WITHVALUES
        HRANDFIELD h -9223372036854770000 withvalues
        HRANDFIELD nokey x
        HRANDFIELD nokey 1 foo
        HRANDFIELD nokey -9223372036854775808
        OBJECT ENCODING h
        "#,
    );
}

#[test]
fn conversion_by_entries() {
    let mut d = Diff::new();
    for resp3 in [false, true] {
        if resp3 {
            d.run("? HELLO 3");
        }
        d.cmd(&["FLUSHALL"]);
        // 512 fields stay a listpack; the 513th converts (hashTypeSet's length check).
        let mut args: Vec<String> = vec!["HSET".into(), "h".into()];
        for i in 0..511 {
            args.push(format!("field:{i}"));
            args.push(format!("{i}"));
        }
        d.cmd(&args);
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.cmd(&["HSET", "h", "field:511", "last"]);
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.cmd(&["HGETALL", "h"]);
        d.cmd(&["HSET", "h", "field:0", "replaced"]);
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.cmd(&["HSET", "h", "field:512", "one too many"]);
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.cmd(&["HLEN", "h"]);
        d.unordered_pairs(&["HGETALL", "h"]);
        d.cmd(&["HGET", "h", "field:0"]);
        d.cmd(&["HGET", "h", "field:511"]);
        d.cmd(&["HSTRLEN", "h", "field:300"]);
        // Deleting back under the limit never converts back.
        for i in 0..500 {
            d.cmd(&["HDEL", "h", &format!("field:{i}")]);
        }
        d.cmd(&["OBJECT", "ENCODING", "h"]);
        d.unordered_pairs(&["HGETALL", "h"]);

        // One HSET of 513 pairs naming the same field stays a listpack in 7.0 (no pre-sizing
        // guess on the argument count).
        let mut args: Vec<String> = vec!["HSET".into(), "same".into()];
        for i in 0..513 {
            args.push("f".into());
            args.push(format!("{i}"));
        }
        d.cmd(&args);
        d.cmd(&["OBJECT", "ENCODING", "same"]);
        d.cmd(&["HGETALL", "same"]);

        // One HSET of 513 distinct pairs converts during the command.
        let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
        for i in 0..513 {
            args.push(format!("f{i}"));
            args.push("v".into());
        }
        d.cmd(&args);
        d.cmd(&["OBJECT", "ENCODING", "big"]);
        d.cmd(&["HLEN", "big"]);

        // HSETNX and HINCRBY* convert through the same entry check.
        d.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
        d.run(
            r#"
            HSET n a 1 b 2
            OBJECT ENCODING n
            HSETNX n a 5
            OBJECT ENCODING n
            HSETNX n c 3
            OBJECT ENCODING n
            HSET m a 1 b 2
            HINCRBY m c 1
            OBJECT ENCODING m
            HSET k a 1 b 2
            HINCRBYFLOAT k c 1.5
            OBJECT ENCODING k
            ~~ HGETALL k
            HSET z a 1 b 2
            HINCRBYFLOAT z a 1.5
            OBJECT ENCODING z
            HGETALL z
            CONFIG SET hash-max-listpack-entries 0
            HSET zero a 1
            OBJECT ENCODING zero
            HSETNX zero2 a 1
            OBJECT ENCODING zero2
            HINCRBY zero3 a 1
            OBJECT ENCODING zero3
            CONFIG SET hash-max-listpack-entries 512
            "#,
        );
    }
}

#[test]
fn conversion_by_value_length() {
    let mut d = Diff::new();
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    let script = format!(
        r#"
        FLUSHALL
        HSET h a 1 b {v64}
        OBJECT ENCODING h
        HSET h {v64} c
        OBJECT ENCODING h
        HGETALL h
        HSET h c {v65}
        OBJECT ENCODING h
        ~~ HGETALL h
        HGET h c
        HSTRLEN h c
        HSET f {v65} 1
        OBJECT ENCODING f
        HSET g a 1
        HSETNX g a {v65}
        OBJECT ENCODING g
        HSETNX g b {v65}
        OBJECT ENCODING g
        HMSET m a 1 b 2
        HMSET m c 3 d {v65} e 5
        OBJECT ENCODING m
        ~~ HGETALL m
        HSET i a 1
        HINCRBYFLOAT i a 1e63
        OBJECT ENCODING i
        HINCRBYFLOAT i a 9e63
        OBJECT ENCODING i
        HGET i a
        HSET j a 1
        HINCRBYFLOAT j b 1e308
        OBJECT ENCODING j
        HINCRBYFLOAT j b 1e308
        HGET j b
        HSET k {v64} 1
        HINCRBY k {v65} 1
        OBJECT ENCODING k
        CONFIG SET hash-max-listpack-value 5
        HSET n a 12345
        OBJECT ENCODING n
        HINCRBY n a 1
        OBJECT ENCODING n
        HSET o a 99999
        HINCRBY o a 1
        OBJECT ENCODING o
        HGET o a
        HSET p a -9999
        HINCRBY p a -1
        OBJECT ENCODING p
        CONFIG SET hash-max-listpack-value 0
        HSET q "" ""
        OBJECT ENCODING q
        HSET q "" x
        OBJECT ENCODING q
        HSET r a ""
        OBJECT ENCODING r
        CONFIG SET hash-max-listpack-value 64
        "#
    );
    both_protocols(&mut d, &script);
}

#[test]
fn copy_rename_and_memory() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        HSET h a 1 b two c 3
        COPY h h2
        OBJECT ENCODING h2
        HGETALL h2
        HSET h2 d 4
        HLEN h
        RENAME h2 h3
        HGETALL h3
        CONFIG SET hash-max-listpack-entries 1
        HSET t a 1 b 2
        COPY t t2
        OBJECT ENCODING t2
        ~~ HGETALL t2
        HDEL t a
        HLEN t2
        CONFIG SET hash-max-listpack-entries 512
        TYPE h
        TYPE t
        "#,
    );
    // MEMORY USAGE is ours to compute; it must be a sane positive number that grows with data.
    let mut f = d.ferrodis_server().conn();
    let small = value(&mut f, &["MEMORY", "USAGE", "h"]).int().unwrap();
    assert!(small > 30 && small < 1000, "{small}");
    let big = value(&mut f, &["MEMORY", "USAGE", "t"]).int().unwrap();
    assert!(big > 60, "{big}");
}

#[test]
fn keyspace_events() {
    let mut d = Diff::new();
    d.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]);
    let mut sub = d.another();
    sub.cmd(&["PSUBSCRIBE", "__key*@0__:*"]);
    d.run(
        r#"
        HSET h a 1 b 2
        HSET h a 1
        HMSET h c 3
        HSETNX h a 1
        HSETNX h z 1
        HINCRBY h n 1
        HINCRBYFLOAT h n 1.5
        HINCRBY h a x
        HINCRBY h c 9223372036854775807
        HINCRBY h c 9223372036854775807
        HDEL h nope
        HDEL h a b
        HDEL h c n z
        HINCRBY fresh a 1
        HDEL fresh a
        PING
        "#,
    );
    // Every event published, in order, identical on both sides.
    let mut n = 0;
    loop {
        let (f, r) = (
            sub.ferrodis
                .try_read_reply(std::time::Duration::from_millis(300)),
            sub.redis
                .try_read_reply(std::time::Duration::from_millis(300)),
        );
        assert_eq!(
            f.as_deref().map(escape),
            r.as_deref().map(escape),
            "event #{n} differs"
        );
        if f.is_none() {
            break;
        }
        n += 1;
    }
    assert!(n >= 25, "only {n} events");
}

#[test]
fn watch_sees_hash_writes() {
    let mut d = Diff::new();
    let mut other = d.another();
    d.run("FLUSHALL\nHSET h a 1\nWATCH h");
    other.run("HSETNX h a 2");
    d.run("MULTI\nHGET h a\nEXEC");
    d.run("WATCH h");
    other.run("HSET h a 2");
    d.run("MULTI\nHGET h a\nEXEC");
    d.run("WATCH h");
    other.run("HDEL h nope");
    d.run("MULTI\nHGET h a\nEXEC");
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD properties

/// A hash with `n` fields `f0..` whose values are `v0..`, in the given encoding.
fn make_hash(conn: &mut RawConn, key: &str, n: usize, table: bool) {
    conn.cmd(&["DEL", key]);
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let mut args: Vec<String> = vec!["HSET".into(), key.into()];
        for i in chunk {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        conn.cmd(&args);
    }
    if table {
        // A field longer than hash-max-listpack-value converts; remove it afterwards.
        conn.cmd(&["HSET", key, &"x".repeat(100), "1"]);
        conn.cmd(&["HDEL", key, &"x".repeat(100)]);
    }
    let enc = value(conn, &["OBJECT", "ENCODING", key]);
    assert_eq!(
        enc.text().unwrap(),
        if table { "hashtable" } else { "listpack" }
    );
}

/// The (field, value?) picks of an HRANDFIELD reply, checking its shape: flat in RESP2,
/// 2-element arrays in RESP3 with WITHVALUES.
fn picks(r: &Reply, withvalues: bool, resp3: bool) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let items = r.items().unwrap_or_else(|| panic!("not an array: {r:?}"));
    if !withvalues {
        return items.iter().map(|x| (bulk(x), None)).collect();
    }
    if resp3 {
        items
            .iter()
            .map(|p| {
                let p = p.items().expect("RESP3 pairs are nested arrays");
                assert_eq!(p.len(), 2);
                (bulk(&p[0]), Some(bulk(&p[1])))
            })
            .collect()
    } else {
        assert_eq!(items.len() % 2, 0);
        items
            .chunks(2)
            .map(|p| (bulk(&p[0]), Some(bulk(&p[1]))))
            .collect()
    }
}

/// Checks one HRANDFIELD reply's properties against the hash `f0..f{n-1}`.
fn check_picks(ps: &[(Vec<u8>, Option<Vec<u8>>)], n: usize, count: i64) {
    let want = if count >= 0 {
        (count as usize).min(n)
    } else {
        count.unsigned_abs() as usize
    };
    assert_eq!(ps.len(), want, "count {count} of {n}");
    let mut seen = BTreeSet::new();
    for (f, v) in ps {
        let s = String::from_utf8(f.clone()).unwrap();
        let i: usize = s[1..].parse().unwrap();
        assert!(s.starts_with('f') && i < n, "not a member: {s}");
        if let Some(v) = v {
            assert_eq!(v, format!("v{i}").as_bytes(), "value of {s}");
        }
        seen.insert(f.clone());
    }
    if count >= 0 {
        assert_eq!(seen.len(), ps.len(), "positive count must not repeat");
    }
}

#[test]
fn hrandfield_properties() {
    let d = Diff::new();
    let mut f = d.ferrodis_server().conn();
    let mut r = d.redis_server().conn();
    for table in [false, true] {
        // 60 fields: count 25 is case 3 for a table (25*3 > 60), count 10 case 4.
        for (side, conn) in [("ferrodis", &mut f), ("redis", &mut r)] {
            make_hash(conn, "h", 60, table);
            for resp3 in [false, true] {
                conn.cmd(&["HELLO", if resp3 { "3" } else { "2" }]);
                for count in [1i64, 2, 10, 25, 59, 60, 61, 1000, -1, -5, -60, -200, -2500] {
                    for wv in [false, true] {
                        let mut args =
                            vec!["HRANDFIELD".to_string(), "h".into(), count.to_string()];
                        if wv {
                            args.push("WITHVALUES".into());
                        }
                        let rep = value(conn, &args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
                        let ps = picks(&rep, wv, resp3);
                        check_picks(&ps, 60, count);
                        let _ = side;
                    }
                }
                // Without a count: one bulk string that is a field.
                for _ in 0..20 {
                    let one = bulk(&value(conn, &["HRANDFIELD", "h"]));
                    check_picks(&[(one, None)], 60, 1);
                }
            }
            conn.cmd(&["HELLO", "2"]);
        }
    }
}

/// Rough uniformity: `draws` picks over `n` fields, every field within `tol` (a fraction) of
/// the mean.
fn assert_uniform(counts: &BTreeMap<Vec<u8>, usize>, n: usize, draws: usize, tol: f64, what: &str) {
    assert_eq!(counts.len(), n, "{what}: not every field was drawn");
    let mean = draws as f64 / n as f64;
    for (k, &c) in counts {
        let dev = (c as f64 - mean).abs() / mean;
        assert!(
            dev < tol,
            "{what}: {} drawn {c} times, mean {mean:.0}",
            String::from_utf8_lossy(k)
        );
    }
}

#[test]
fn hrandfield_uniformity() {
    let server = ferrodis();
    let mut conn = server.conn();
    for table in [false, true] {
        make_hash(&mut conn, "h", 20, table);
        let enc = if table { "hashtable" } else { "listpack" };
        // Listpack draws are uniform. Table draws go through dictGetFairRandomKey, which
        // favours fields after runs of empty buckets: redis-server itself shows +-30% on a
        // 20-field table, so the bound there is looser.
        let tol = if table { 0.55 } else { 0.3 };
        // With replacement (case 1).
        let mut counts = BTreeMap::new();
        let rep = value(&mut conn, &["HRANDFIELD", "h", "-20000"]);
        for (f, _) in picks(&rep, false, false) {
            *counts.entry(f).or_insert(0) += 1;
        }
        assert_uniform(&counts, 20, 20000, tol, &format!("{enc} negative count"));
        // Single picks.
        let mut counts = BTreeMap::new();
        for _ in 0..4000 {
            let f = bulk(&value(&mut conn, &["HRANDFIELD", "h"]));
            *counts.entry(f).or_insert(0) += 1;
        }
        assert_uniform(&counts, 20, 4000, tol, &format!("{enc} no count"));
        // Distinct picks: 5 of 20 (listpack sampling / table case 4) and 15 of 20 (table
        // case 3): every field equally likely to be part of the answer.
        for k in [5usize, 15] {
            let mut counts = BTreeMap::new();
            let rounds = 1500;
            for _ in 0..rounds {
                let rep = value(&mut conn, &["HRANDFIELD", "h", &k.to_string()]);
                let ps = picks(&rep, false, false);
                check_picks(&ps, 20, k as i64);
                for (f, _) in ps {
                    *counts.entry(f).or_insert(0) += 1;
                }
            }
            assert_uniform(&counts, 20, rounds * k, tol, &format!("{enc} count {k}"));
        }
    }
}

#[test]
fn hrandfield_stops_at_output_limit() {
    let mut d = Diff::new();
    for table in [false, true] {
        make_hash(&mut d.ferrodis, "h", 10, table);
        make_hash(&mut d.redis, "h", 10, table);
        d.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100kb 0 0",
        ]);
        let mut victim = d.another();
        victim.send(&["HRANDFIELD", "h", "-5000000", "WITHVALUES"]);
        assert!(
            victim.closed(),
            "the client over its output limit is closed"
        );
        d.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0",
        ]);
        d.cmd(&["PING"]);
    }
}

// ---------------------------------------------------------------------------------------------
// HSCAN on hash tables

/// Every (field, value) an HSCAN walk returns, and the number of calls it took.
fn hscan_all(conn: &mut RawConn, key: &str, extra: &[&str]) -> (BTreeMap<Vec<u8>, Vec<u8>>, usize) {
    let mut cursor = "0".to_string();
    let mut out = BTreeMap::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["HSCAN", key, &cursor];
        args.extend_from_slice(extra);
        let rep = value(conn, &args);
        let items = rep.items().unwrap();
        assert_eq!(items.len(), 2);
        let elems = items[1].items().unwrap();
        assert_eq!(elems.len() % 2, 0, "fields come with their values");
        for p in elems.chunks(2) {
            out.insert(bulk(&p[0]), bulk(&p[1]));
        }
        calls += 1;
        cursor = items[0].text().unwrap();
        if cursor == "0" {
            return (out, calls);
        }
        assert!(calls < 100_000, "HSCAN does not terminate");
    }
}

#[test]
fn hscan_hashtable_walks_everything() {
    let mut d = Diff::new();
    for resp3 in [false, true] {
        d.run(if resp3 { "? HELLO 3" } else { "? HELLO 2" });
        for n in [1usize, 7, 100, 1000] {
            make_hash(&mut d.ferrodis, "h", n, true);
            make_hash(&mut d.redis, "h", n, true);
            for extra in [
                &[][..],
                &["COUNT", "1"][..],
                &["COUNT", "3"][..],
                &["COUNT", "100"][..],
                &["MATCH", "f1*"][..],
                &["MATCH", "f1*", "COUNT", "5"][..],
                &["MATCH", "nomatch"][..],
            ] {
                let (fa, fcalls) = hscan_all(&mut d.ferrodis, "h", extra);
                let (ra, rcalls) = hscan_all(&mut d.redis, "h", extra);
                assert_eq!(fa, ra, "HSCAN {extra:?} over {n} fields");
                if extra.is_empty() && n == 1000 {
                    // COUNT 10 means about 10 fields per call (Redis doubles COUNT for the
                    // field/value list): about a hundred calls on both.
                    assert!(fcalls > 60 && rcalls > 60, "{fcalls} vs {rcalls}");
                    let lo = rcalls / 2;
                    let hi = rcalls * 2;
                    assert!((lo..=hi).contains(&fcalls), "{fcalls} vs {rcalls} calls");
                }
            }
            // Large COUNT answers everything in one call on a small table.
            if n <= 100 {
                let (_, calls) = hscan_all(&mut d.ferrodis, "h", &["COUNT", "10000"]);
                assert_eq!(calls, 1);
            }
        }
    }
    // Modifications during the walk: fields present throughout are all returned.
    let mut f = d.ferrodis_server().conn();
    make_hash(&mut f, "w", 500, true);
    let mut cursor = "0".to_string();
    let mut got = BTreeSet::new();
    let mut i = 0;
    loop {
        let rep = value(&mut f, &["HSCAN", "w", &cursor, "COUNT", "20"]);
        let items = rep.items().unwrap();
        for p in items[1].items().unwrap().chunks(2) {
            got.insert(bulk(&p[0]));
        }
        // Grow the table as we go (forces rehashing between calls).
        f.cmd(&["HSET", "w", &format!("new{i}"), "x"]);
        i += 1;
        cursor = items[0].text().unwrap();
        if cursor == "0" {
            break;
        }
    }
    for j in 0..500 {
        assert!(got.contains(format!("f{j}").as_bytes()), "f{j} missed");
    }
}

// ---------------------------------------------------------------------------------------------
// Larger random workload across the conversion

/// A tiny deterministic generator so the workload is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn random_workload_matches_oracle() {
    let mut d = Diff::with_args(&[
        "--hash-max-listpack-entries",
        "16",
        "--hash-max-listpack-value",
        "12",
    ]);
    let mut g = Lcg(7);
    for step in 0..3000 {
        let key = format!("k{}", g.next() % 6);
        let field = format!("f{}", g.next() % 24);
        let val = match g.next() % 5 {
            0 => format!("{}", g.next() % 1000),
            1 => format!("-{}", g.next() % 100000),
            2 => "x".repeat((g.next() % 16) as usize),
            3 => format!("{}.{}", g.next() % 100, g.next() % 100),
            _ => String::new(),
        };
        let cmd: Vec<String> = match g.next() % 12 {
            0 | 1 => vec!["HSET".into(), key.clone(), field, val],
            2 => vec!["HSETNX".into(), key.clone(), field, val],
            3 => vec![
                "HDEL".into(),
                key.clone(),
                field,
                format!("f{}", g.next() % 24),
            ],
            4 => vec![
                "HINCRBY".into(),
                key.clone(),
                field,
                format!("{}", g.next() % 50),
            ],
            5 => vec!["HINCRBYFLOAT".into(), key.clone(), field, "0.5".into()],
            6 => vec!["HGET".into(), key.clone(), field],
            7 => vec!["HSTRLEN".into(), key.clone(), field],
            8 => vec![
                "HMSET".into(),
                key.clone(),
                field,
                val,
                "fixed".into(),
                "1".into(),
            ],
            9 => vec!["HEXISTS".into(), key.clone(), field],
            10 => vec!["HLEN".into(), key.clone()],
            _ => vec!["HMGET".into(), key.clone(), field, "f1".into(), "f2".into()],
        };
        d.cmd(&cmd);
        d.cmd(&["OBJECT", "ENCODING", &key]);
        if step % 50 == 0 {
            d.unordered_pairs(&["HGETALL", &key]);
            d.unordered(&["HKEYS", &key]);
            d.unordered(&["HVALS", &key]);
        }
    }
}

#[test]
fn sort_by_and_get_hash_fields() {
    let mut d = Diff::new();
    // SORT needs a list, set or sorted set as input; until one of those types exists in
    // ferrodis, the hash patterns can be exercised only through a missing input key.
    let has_sets = !d.ferrodis.cmd(&["SADD", "probe", "1"]).starts_with(b"-");
    d.redis.cmd(&["SADD", "probe", "1"]);
    d.run(
        r#"
        HSET w_1 weight 3 name one
        HSET w_2 weight 1 name two
        HSET w_3 weight 2 name three
        SORT nokey BY w_*->weight GET w_*->name
        "#,
    );
    if has_sets {
        d.run(
            r#"
            SADD s 1 2 3
            SORT s BY w_*->weight
            SORT s BY w_*->weight GET w_*->name GET #
            SORT s BY w_*->nofield GET w_*->name
            SORT s BY w_*->name ALPHA GET w_*->weight
            SORT s GET w_*->
            "#,
        );
    }
}
