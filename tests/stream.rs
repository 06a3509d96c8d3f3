//! Differential tests of the stream commands (src/commands/stream.rs, src/types/stream.rs,
//! src/ds/rax.rs) against the oracle redis-server 7.0.15. Every compared reply uses explicit
//! IDs (XADD with fixed IDs, `ms-*`), so nothing depends on the clock; replies that carry
//! times (idle, delivery times, seen-time) are compared through properties only.
//!
//! Scripts run in RESP2 then RESP3.

mod common;

use common::*;
use std::time::Duration;

/// Runs `script` in RESP2, then in RESP3 (on fresh keys: FLUSHALL first), then back.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run("? FLUSHALL");
    d.run(script);
    d.run("? FLUSHALL");
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

#[test]
fn xadd_xlen_xrange_basics() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        XADD s 1-1 a 1 b 2
        XADD s 1-2 a 3 b 4
        XADD s 2-0 c 5
        XADD s 2-* c 6
        XADD s 3-* c 7 d 8
        XADD s 1-5 x y
        XADD s 3-1 x y
        XADD s 0-0 x y
        XADD s2 0-* x y
        XADD s2 0 x y
        XADD s2 0-0 x y
        XADD s3 NOMKSTREAM 1-1 x y
        EXISTS s3
        XADD s 10 f
        XADD s 10
        XADD s abc f v
        XADD s 1-2-3 f v
        XADD s 18446744073709551616-1 f v
        XADD s -1 f v
        XADD s - f v
        XADD s + f v
        XLEN s
        XLEN nokey
        TYPE s
        OBJECT ENCODING s
        XRANGE s - +
        XREVRANGE s + -
        XRANGE s 1 2
        XRANGE s 1-2 2-0
        XRANGE s (1-1 (2-1
        XREVRANGE s (2-1 (1-1
        XRANGE s - + COUNT 2
        XRANGE s - + COUNT 0
        XRANGE s - + COUNT -5
        XRANGE s - + COUNT abc
        XRANGE s - + COUNT 1 COUNT 2
        XRANGE s - + LIMIT 2
        XREVRANGE s + - COUNT 3
        XRANGE s (- +
        XRANGE s - (+
        XRANGE s (18446744073709551615-18446744073709551615 +
        XRANGE s - (0-0
        XRANGE s ( +
        XRANGE s abc +
        XRANGE s 5 1
        XRANGE nokey - +
        XREVRANGE nokey + -
        SET str x
        XRANGE str - +
        XADD str 1-1 a b
        XLEN str
        XADD big 18446744073709551615-18446744073709551614 a b
        XADD big 18446744073709551615-* a b
        XADD big 18446744073709551615-* a b
        XADD big * a b
        XRANGE big - +
        XADD num 1-1 123 456 -7 9223372036854775808 1.5 0x10
        XRANGE num - +
        "#,
    );
}

#[test]
fn xdel_xtrim_and_info() {
    let mut d = Diff::new();
    d.run("CONFIG SET stream-node-max-entries 5");
    let mut script = String::new();
    for i in 1..=23 {
        script.push_str(&format!("XADD s {i}-0 f v{i}\n"));
    }
    script.push_str(
        r#"
        XINFO STREAM s
        XDEL s 3-0 4-0 4-0 100-0
        XDEL s 3-0
        XDEL s abc
        XDEL nokey 1-1
        XDEL s 1
        XINFO STREAM s
        XRANGE s - +
        XTRIM s MAXLEN ~ 15
        XINFO STREAM s
        XTRIM s MAXLEN 15
        XRANGE s - + COUNT 3
        XTRIM s MINID 12
        XTRIM s MINID ~ 17
        XINFO STREAM s
        XTRIM s MAXLEN = 4
        XRANGE s - +
        XTRIM s MAXLEN -1
        XTRIM s MAXLEN abc
        XTRIM s MINID abc
        XTRIM s MAXLEN 1 MINID 1
        XTRIM s LIMIT 10
        XTRIM s MAXLEN 1 LIMIT 10
        XTRIM s MAXLEN ~ 1 LIMIT -1
        XTRIM s MAXLEN ~ 1 LIMIT abc
        XTRIM s FOO 1
        XTRIM nokey MAXLEN 1
        XTRIM nokey FOO 1
        XTRIM s MAXLEN 0
        XINFO STREAM s
        XLEN s
        EXISTS s
        XDEL s 23-0
        XADD s 23-0 a b
        XADD s 24-0 a b
        XINFO STREAM s FULL
        XINFO STREAM s FULL COUNT 1
        XINFO STREAM s FULL COUNT -1
        XINFO STREAM s FULL COUNT abc
        XINFO STREAM s FOO
        XINFO STREAM s FULL FOO 1
        XINFO STREAM s FULL COUNT 1 x
        XINFO STREAM nokey
        XINFO HELP
        XINFO FOO s
        "#,
    );
    both_protocols(&mut d, &script);
}

#[test]
fn xadd_trimming_options() {
    let mut d = Diff::new();
    d.run("CONFIG SET stream-node-max-entries 3");
    let mut script = String::new();
    for i in 1..=20 {
        script.push_str(&format!("XADD s MAXLEN ~ 7 {i}-0 f v\n"));
    }
    script.push_str(
        r#"
        XLEN s
        XINFO STREAM s
        XADD s MAXLEN 5 21-0 f v
        XRANGE s - +
        XADD s MINID = 19 22-0 f v
        XRANGE s - +
        XADD s MINID ~ 22 LIMIT 3 23-0 f v
        XADD s MAXLEN ~ 0 LIMIT 1 24-0 f v
        XINFO STREAM s
        XADD s MAXLEN 1 MINID 1 25-0 f v
        XADD s LIMIT 5 25-0 f v
        XADD s MAXLEN 1 LIMIT 5 25-0 f v
        XADD s MAXLEN -1 25-0 f v
        XADD s MAXLEN 18446744073709551616 25-0 f v
        XADD s MAXLEN ~ 1 LIMIT -1 25-0 f v
        XADD s MINID 1-2-3 25-0 f v
        XADD s NOMKSTREAM MAXLEN 2 25-0 f v
        XRANGE s - +
        XADD s2 NOMKSTREAM MAXLEN 2 25-0 f v
        EXISTS s2
        "#,
    );
    both_protocols(&mut d, &script);
}

#[test]
fn node_limits_split_listpacks_as_redis() {
    // The listpack bytes of each node travel in DUMP: identical payloads mean identical nodes.
    let mut d = Diff::new();
    d.run("CONFIG SET stream-node-max-bytes 120");
    let mut script = String::new();
    for i in 1..=30 {
        let fields = if i % 4 == 0 { "a 1 b 2" } else { "a 1 c 3" };
        script.push_str(&format!("XADD s {i}-{} {fields}\n", i % 3));
    }
    script.push_str("XINFO STREAM s\nDUMP s\nXDEL s 5-2 6-0 9-0\nDUMP s\nDEBUG DIGEST-VALUE s\n");
    script.push_str("CONFIG SET stream-node-max-bytes 0\nCONFIG SET stream-node-max-entries 0\n");
    for i in 31..=60 {
        script.push_str(&format!("XADD s {i}-0 field{i} {}\n", "x".repeat(i)));
    }
    script.push_str("XINFO STREAM s\nDUMP s\nDEBUG DIGEST\n");
    d.run(&script);
}

#[test]
fn xsetid() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        XADD s 5-0 a b
        XADD s 6-0 a b
        XSETID s 4-0
        XSETID s 6-0
        XSETID s 10-0
        XINFO STREAM s
        XADD s 9-0 a b
        XSETID s 20-0 ENTRIESADDED 1
        XSETID s 20-0 ENTRIESADDED -1
        XSETID s 20-0 ENTRIESADDED abc
        XSETID s 20-0 ENTRIESADDED 100 MAXDELETEDID 5-0
        XSETID s 20-0 MAXDELETEDID 30-0
        XSETID s 20-0 MAXDELETEDID abc
        XSETID s 20-0 FOO 1
        XSETID s 19-0
        XINFO STREAM s
        XSETID nokey 1-0
        XSETID s abc
        XSETID s +
        SET str x
        XSETID str 1-1
        XDEL s 5-0 6-0
        XSETID s 1-0
        XSETID s 25-0
        XLEN s
        "#,
    );
}

#[test]
fn groups_and_pending() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        XGROUP CREATE s g $
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g2 0 ENTRIESREAD 3
        XGROUP CREATE s g3 0 ENTRIESREAD -2
        XGROUP CREATE s g3 0 ENTRIESREAD abc
        XGROUP CREATE s g3 0 FOO
        XGROUP CREATE s g3 abc
        XGROUP CREATECONSUMER s nog c
        XGROUP CREATECONSUMER nokey g c
        XGROUP DESTROY nokey g
        XGROUP SETID s nog 0
        XGROUP SETID s g 0 ENTRIESREAD 1 FOO
        XGROUP FOO s g
        XGROUP HELP
        XINFO GROUPS s
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3 d 4
        XINFO GROUPS s
        XGROUP CREATE s g4 0
        XREADGROUP GROUP g4 alice COUNT 2 STREAMS s >
        XREADGROUP GROUP g4 bob STREAMS s >
        XREADGROUP GROUP g4 bob STREAMS s >
        XREADGROUP GROUP g4 alice STREAMS s 0
        XREADGROUP GROUP g4 alice STREAMS s 1-1
        XREADGROUP GROUP g4 alice COUNT 1 STREAMS s 0
        XINFO GROUPS s
        XPENDING s g4
        XPENDING s g4 - + 10 nobody
        XPENDING s nog
        XPENDING nokey g4
        XPENDING s g4 - + abc
        XPENDING s g4 IDLE abc - + 10
        XPENDING s g4 IDLE 10 - +
        XPENDING s g4 - +
        XPENDING s g4 ( + 10
        XPENDING s g4 - (0-0 10
        XACK s g4 1-1 9-9
        XACK s g4 abc
        XACK s nog 1-1
        XACK nokey g 1-1
        XPENDING s g4
        XDEL s 2-1
        XREADGROUP GROUP g4 alice STREAMS s 0
        XGROUP CREATECONSUMER s g4 carol
        XGROUP CREATECONSUMER s g4 carol
        XGROUP DELCONSUMER s g4 bob
        XGROUP DELCONSUMER s g4 bob
        XPENDING s g4
        XGROUP SETID s g4 0
        XGROUP SETID s g4 $ ENTRIESREAD 2
        XINFO GROUPS s
        XGROUP SETID s g4 1-1 ENTRIESREAD -1
        XINFO GROUPS s
        XREADGROUP GROUP g4 carol NOACK STREAMS s >
        XPENDING s g4
        XINFO GROUPS s
        XGROUP DESTROY s g4
        XGROUP DESTROY s g4
        XINFO GROUPS s
        XINFO CONSUMERS s nog
        XINFO CONSUMERS nokey g
        "#,
    );
}

#[test]
fn xread_forms_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        XADD s1 1-1 a 1
        XADD s1 2-1 a 2
        XADD s2 5-5 b 1
        XREAD STREAMS s1 s2 0 0
        XREAD COUNT 1 STREAMS s1 s2 0 0
        XREAD STREAMS s1 s2 1-1 5-5
        XREAD STREAMS s1 s2 $ $
        XREAD STREAMS s1 nokey 0 0
        XREAD STREAMS s1 s2 0
        XREAD STREAMS s1 >
        XREAD STREAMS s1 abc
        XREAD COUNT abc STREAMS s1 0
        XREAD COUNT -1 STREAMS s1 0
        XREAD BLOCK abc STREAMS s1 0
        XREAD BLOCK -1 STREAMS s1 0
        XREAD FOO STREAMS s1 0
        XREAD COUNT 1
        XREAD GROUP g c STREAMS s1 0
        XREAD NOACK STREAMS s1 0
        XREADGROUP STREAMS s1 0
        XREADGROUP GROUP g c STREAMS s1 >
        XGROUP CREATE s1 g 0
        XREADGROUP GROUP g c STREAMS s1 $
        XREADGROUP GROUP g c STREAMS s1 s2 > >
        XREADGROUP GROUP g c STREAMS s1 > >
        SET str x
        XREAD STREAMS str 0
        XREADGROUP GROUP g c STREAMS str >
        XREAD BLOCK 10 STREAMS s1 $
        MULTI
        XREAD BLOCK 0 STREAMS s1 $
        EXEC
        "#,
    );
}

#[test]
fn xclaim_and_xautoclaim() {
    let mut d = Diff::new();
    // Times in replies (delivery times) are avoided: JUSTID, and XPENDING's counts only.
    both_protocols(
        &mut d,
        r#"
        XADD s 1-0 a 1
        XADD s 2-0 a 2
        XADD s 3-0 a 3
        XADD s 4-0 a 4
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice STREAMS s >
        XCLAIM s g bob 0 1-0 2-0
        XCLAIM s g bob 0 3-0 JUSTID
        XCLAIM s g bob 3600000 4-0
        XCLAIM s g bob 0 9-0
        XCLAIM s g bob 0 4-0 FOO
        XCLAIM s g bob abc 4-0
        XCLAIM s g bob 0 4-0 IDLE abc
        XCLAIM s g bob 0 4-0 TIME abc
        XCLAIM s g bob 0 4-0 RETRYCOUNT abc
        XCLAIM s g bob 0 4-0 LASTID abc
        XCLAIM s nog bob 0 4-0
        XCLAIM nokey g bob 0 4-0
        XPENDING s g
        XCLAIM s g carol 0 4-0 RETRYCOUNT 7 JUSTID
        XADD s 5-0 a 5
        XCLAIM s g carol 0 5-0 FORCE JUSTID
        XCLAIM s g carol 0 5-0 LASTID 100-0 JUSTID
        XINFO GROUPS s
        XDEL s 2-0
        XCLAIM s g carol 0 2-0 1-0
        XPENDING s g
        XAUTOCLAIM s g dave 0 0
        XPENDING s g
        XAUTOCLAIM s g erin 0 0 COUNT 1 JUSTID
        XAUTOCLAIM s g erin 0 0 COUNT 2
        XAUTOCLAIM s g erin 0 (3-0 JUSTID
        XAUTOCLAIM s g erin 3600000 0
        XAUTOCLAIM s g erin 0 0 COUNT 0
        XAUTOCLAIM s g erin 0 0 COUNT -1
        XAUTOCLAIM s g erin 0 0 COUNT abc
        XAUTOCLAIM s g erin 0 0 COUNT 1152921504606846976
        XAUTOCLAIM s g erin 0 0 FOO
        XAUTOCLAIM s g erin abc 0
        XAUTOCLAIM s g erin 0 abc
        XAUTOCLAIM s nog erin 0 0
        XAUTOCLAIM nokey g erin 0 0
        XDEL s 4-0
        XAUTOCLAIM s g frank 0 0 JUSTID
        XPENDING s g
        XINFO CONSUMERS s nog
        "#,
    );
}

#[test]
fn xinfo_consumers_properties() {
    // Idle times differ between the servers; names and pending counts must not.
    let mut d = Diff::new();
    d.run(
        r#"
        XADD s 1-0 a 1
        XADD s 2-0 a 2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XGROUP CREATECONSUMER s g bob
        "#,
    );
    let (f, r) = d.both(&["XINFO", "CONSUMERS", "s", "g"]);
    let strip = |b: &[u8]| {
        let v = parse_reply(b).unwrap();
        v.items()
            .unwrap()
            .iter()
            .map(|c| {
                let it = c.items().unwrap();
                (
                    it[1].text().unwrap(),
                    it[3].int().unwrap(),
                    it[4].text().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&f), strip(&r));
}

#[test]
fn blocking_xread_woken_by_xadd() {
    let mut d = Diff::new();
    let mut w = d.another();
    d.run("XADD s 1-0 a 1");
    w.send(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    // Make sure the waiter is parked before the write.
    std::thread::sleep(Duration::from_millis(100));
    d.run("XADD s 2-0 a 2\nXADD s 3-0 a 3");
    w.read();
    // COUNT and several keys: served from the key that became ready.
    w.send(&[
        "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "other", "s", "$", "$",
    ]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("XADD s 4-0 a 4");
    w.read();
    // A timeout answers a null array.
    w.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]);
    // XADD to another type is ignored; a DEL then XADD wakes with the new entry.
    w.send(&["XREAD", "BLOCK", "0", "STREAMS", "k", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("SET k x\nDEL k\nXADD k 7-0 z 1");
    w.read();
}

#[test]
fn blocking_xreadgroup() {
    let mut d = Diff::new();
    let mut w = d.another();
    d.run("XGROUP CREATE s g $ MKSTREAM");
    w.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("XADD s 1-0 a 1");
    w.read();
    d.run("XPENDING s g\nXINFO GROUPS s");
    // The group is destroyed while a reader waits: -NOGROUP.
    w.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("XGROUP DESTROY s g");
    w.read();
    // The key is deleted while a reader waits: -UNBLOCKED.
    d.run("XGROUP CREATE s g2 $");
    w.send(&[
        "XREADGROUP",
        "GROUP",
        "g2",
        "bob",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("DEL s");
    w.read();
    // NOACK with BLOCK: served without PEL entries.
    d.run("XGROUP CREATE s g3 $ MKSTREAM");
    w.send(&[
        "XREADGROUP",
        "GROUP",
        "g3",
        "c",
        "NOACK",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    std::thread::sleep(Duration::from_millis(100));
    d.run("XADD s 5-0 a 1\nXPENDING s g3\nXINFO GROUPS s");
    w.read();
}

#[test]
fn digest_dump_restore_and_copy() {
    let mut d = Diff::new();
    d.run(
        r#"
        XADD s 1-1 a 1 b 2
        XADD s 1-2 a 3 b 4
        XADD s 2-0 c 5
        XDEL s 1-2
        XGROUP CREATE s g 0
        XGROUP CREATE s g2 $ ENTRIESREAD 3
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        XGROUP CREATECONSUMER s g bob
        DEBUG DIGEST
        DEBUG DIGEST-VALUE s
        COPY s s2
        DEBUG DIGEST-VALUE s2
        XINFO GROUPS s2
        XPENDING s2 g
        XADD e 1-1 a b
        XDEL e 1-1
        DUMP e
        DEBUG DIGEST-VALUE e
        XINFO STREAM e
        "#,
    );
    // DUMP of a stream with groups and pending entries carries delivery and seen times:
    // each side's payload must restore on the other with the same digest and state.
    for (from_f, key) in [(true, "s"), (false, "s")] {
        let (f, r) = d.both(&["DUMP", key]);
        let payload = parse_reply(if from_f { &f } else { &r }).unwrap();
        let payload = payload.bytes().unwrap().to_vec();
        let cmd: Vec<&[u8]> = vec![b"RESTORE", b"r", b"0", &payload, b"REPLACE"];
        assert_eq!(d.cmd(&cmd), b"+OK\r\n");
        d.run("DEBUG DIGEST-VALUE r\nXINFO GROUPS r\nXPENDING r g\nXRANGE r - +\nXINFO STREAM r");
    }
}

#[test]
fn rdb_interop_with_streams() {
    // A dump with streams written by each server loads in the other with the same digest.
    let mut d = Diff::new();
    let mut script = String::from("CONFIG SET stream-node-max-entries 4\n");
    for i in 1..=15 {
        script.push_str(&format!("XADD s {i}-0 f {i} g x{i}\n"));
    }
    script.push_str(
        r#"
        XDEL s 3-0 4-0
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 3 STREAMS s >
        XGROUP CREATECONSUMER s g bob
        XADD empty 1-1 a b
        XDEL empty 1-1
        XGROUP CREATE empty grp $
        DEBUG DIGEST
        "#,
    );
    d.run(&script);
    let (f, r) = d.both(&["DEBUG", "DIGEST"]);
    assert_eq!(f, r);
    d.run("SAVE\nSET marker 1");
    // Swap the dump files and restart each on the other's file.
    let fdir = d.ferrodis_server().dir().to_path_buf();
    let rdir = d.redis_server().dir().to_path_buf();
    let fdump = std::fs::read(fdir.join("dump.rdb")).unwrap();
    let rdump = std::fs::read(rdir.join("dump.rdb")).unwrap();
    std::fs::write(fdir.join("dump.rdb"), &rdump).unwrap();
    std::fs::write(rdir.join("dump.rdb"), &fdump).unwrap();
    d.run("DEBUG RELOAD NOSAVE\nEXISTS marker");
    let (f2, r2) = d.both(&["DEBUG", "DIGEST"]);
    assert_eq!(f2, f);
    assert_eq!(r2, r);
    d.run("XINFO STREAM s\nXINFO GROUPS s\nXPENDING s g\nXINFO STREAM empty\nXINFO GROUPS empty");
}

/// A cursor over an RDB value body, enough to re-encode a stream (lengths and strings).
struct Rdb<'a> {
    b: &'a [u8],
    p: usize,
}

impl Rdb<'_> {
    /// A length (6/14/32/64-bit); the raw bytes it took are returned too.
    fn len(&mut self) -> (u64, &[u8]) {
        let start = self.p;
        let first = self.b[self.p];
        self.p += 1;
        let v = match first >> 6 {
            0 => (first & 0x3f) as u64,
            1 => {
                self.p += 1;
                (((first & 0x3f) as u64) << 8) | self.b[self.p - 1] as u64
            }
            2 if first == 0x80 => {
                self.p += 4;
                u32::from_be_bytes(self.b[self.p - 4..self.p].try_into().unwrap()) as u64
            }
            2 => {
                self.p += 8;
                u64::from_be_bytes(self.b[self.p - 8..self.p].try_into().unwrap())
            }
            _ => panic!("encoded value where a length was expected"),
        };
        (v, &self.b[start..self.p])
    }

    /// A string in any encoding; returns its raw bytes.
    fn string(&mut self) -> &[u8] {
        let start = self.p;
        let first = self.b[self.p];
        if first >> 6 == 3 {
            self.p += 1;
            match first & 0x3f {
                0 => self.p += 1,
                1 => self.p += 2,
                2 => self.p += 4,
                3 => {
                    let (clen, _) = self.len();
                    self.len();
                    self.p += clen as usize;
                }
                e => panic!("string encoding {e}"),
            }
        } else {
            let (n, _) = self.len();
            self.p += n as usize;
        }
        &self.b[start..self.p]
    }

    fn raw(&mut self, n: usize) -> &[u8] {
        self.p += n;
        &self.b[self.p - n..self.p]
    }
}

/// Rewrites a STREAM_LISTPACKS_2 (19) DUMP payload as the older STREAM_LISTPACKS (15):
/// without first ID, max deleted ID, entries added and the groups' entries read.
fn payload_as_type_15(p: &[u8]) -> Vec<u8> {
    let body = &p[..p.len() - 10];
    assert_eq!(body[0], 19);
    let mut r = Rdb { b: body, p: 1 };
    let mut out = vec![15u8];
    let (nodes, raw) = r.len();
    out.extend_from_slice(raw);
    for _ in 0..nodes * 2 {
        out.extend_from_slice(r.string());
    }
    for _ in 0..3 {
        out.extend_from_slice(r.len().1); // length, last id
    }
    for _ in 0..5 {
        r.len(); // first id, max deleted id, entries added
    }
    let (groups, raw) = r.len();
    out.extend_from_slice(raw);
    for _ in 0..groups {
        out.extend_from_slice(r.string());
        out.extend_from_slice(r.len().1);
        out.extend_from_slice(r.len().1);
        r.len(); // entries read
        let (pel, raw) = r.len();
        out.extend_from_slice(raw);
        for _ in 0..pel {
            out.extend_from_slice(r.raw(24));
            out.extend_from_slice(r.len().1);
        }
        let (consumers, raw) = r.len();
        out.extend_from_slice(raw);
        for _ in 0..consumers {
            out.extend_from_slice(r.string());
            out.extend_from_slice(r.raw(8));
            let (n, raw) = r.len();
            out.extend_from_slice(raw);
            out.extend_from_slice(r.raw(16 * n as usize));
        }
    }
    assert_eq!(r.p, body.len());
    // Footer: RDB version 9 (the stream type's first), then the CRC-64 of everything.
    out.extend_from_slice(&9u16.to_le_bytes());
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn restore_of_the_older_stream_type_derives_the_7_0_fields() {
    let mut d = Diff::new();
    d.run(
        r#"
        CONFIG SET stream-node-max-entries 3
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 b 3
        XADD s 4-1 a 4
        XADD s 5-1 a 5
        XGROUP CREATE s g 0
        XGROUP CREATE s late $
        XREADGROUP GROUP g alice COUNT 2 STREAMS s >
        XADD t 1-1 a 1
        XADD t 2-1 a 2
        XADD t 3-1 a 3
        XDEL t 1-1 3-1
        XGROUP CREATE t g 1-1
        "#,
    );
    for key in ["s", "t"] {
        // XREADGROUP stamped each server's own clock into the PEL, so the two DUMPs may differ
        // by a millisecond: one server's payload goes to both.
        let (dump, _) = d.both(&["DUMP", key]);
        let old = payload_as_type_15(parse_reply(&dump).unwrap().bytes().unwrap());
        let cmd: Vec<&[u8]> = vec![b"RESTORE", b"old", b"0", &old, b"REPLACE"];
        assert_eq!(d.cmd(&cmd), b"+OK\r\n");
        d.run(
            "XINFO STREAM old\nXINFO GROUPS old\nXPENDING old g\nDEBUG DIGEST-VALUE old\nXRANGE old - +",
        );
    }
}

#[test]
fn xpending_extended_properties() {
    // The idle times depend on each server's clock: IDs, owners and counts must agree.
    let mut d = Diff::new();
    d.run(
        r#"
        XADD s 1-0 a 1
        XADD s 2-0 a 2
        XADD s 3-0 a 3
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 2 STREAMS s >
        XREADGROUP GROUP g bob STREAMS s >
        XREADGROUP GROUP g alice STREAMS s 0
        XCLAIM s g bob 0 1-0 RETRYCOUNT 9 JUSTID
        "#,
    );
    let strip = |b: &[u8]| {
        let v = parse_reply(b).unwrap();
        v.items()
            .unwrap()
            .iter()
            .map(|e| {
                let it = e.items().unwrap();
                (
                    it[0].text().unwrap(),
                    it[1].text().unwrap(),
                    it[3].int().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    for args in [
        &["XPENDING", "s", "g", "-", "+", "10"][..],
        &["XPENDING", "s", "g", "(1-0", "+", "1"],
        &["XPENDING", "s", "g", "-", "(3-0", "10", "bob"],
        &["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "alice"],
        &["XPENDING", "s", "g", "-", "+", "-3"],
    ] {
        let (f, r) = d.both(args);
        assert_eq!(strip(&f), strip(&r), "{args:?}");
    }
    // A long IDLE filter leaves nothing on either side.
    d.cmd(&["XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "10"]);
}

#[test]
fn lag_and_entries_read_around_tombstones() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        XGROUP CREATE s g0 $ MKSTREAM
        XINFO GROUPS s
        XADD s 1-0 a 1
        XADD s 2-0 a 2
        XADD s 3-0 a 3
        XADD s 4-0 a 4
        XADD s 5-0 a 5
        XGROUP CREATE s g 0
        XINFO GROUPS s
        XDEL s 3-0
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c STREAMS s >
        XINFO GROUPS s
        XADD s 6-0 a 6
        XINFO GROUPS s
        XDEL s 1-0
        XINFO GROUPS s
        XGROUP CREATE s g2 0
        XGROUP CREATE s g3 2-0
        XGROUP CREATE s g4 $
        XGROUP CREATE s g5 0-1
        XINFO GROUPS s
        XGROUP SETID s g2 4-0
        XINFO GROUPS s
        XREADGROUP GROUP g2 c STREAMS s >
        XREADGROUP GROUP g3 c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XTRIM s MINID 5
        XINFO GROUPS s
        XINFO STREAM s
        XDEL s 6-0
        XINFO GROUPS s
        XDEL s 5-0 4-0
        XINFO GROUPS s
        XINFO STREAM s
        XADD s 7-0 a 7
        XINFO GROUPS s
        "#,
    );
}

/// Corrupt stream payloads never take the server down: RESTORE either refuses them or the
/// stream they build survives every stream command (a deterministic mutation loop over a
/// DUMP with groups, tombstones and several nodes, each mutant re-checksummed so it gets
/// past the CRC).
#[test]
fn corrupt_stream_payloads_never_crash() {
    let s = ferrodis();
    let mut c = s.conn();
    c.cmd(&["CONFIG", "SET", "stream-node-max-entries", "3"]);
    for i in 1..=10 {
        c.cmd(&[
            "XADD",
            "s",
            &format!("{i}-{i}"),
            "f",
            &i.to_string(),
            "g",
            "x",
        ]);
    }
    for cmd in [
        &["XDEL", "s", "2-2", "7-7"][..],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "4",
            "STREAMS",
            "s",
            ">",
        ],
        &["XGROUP", "CREATECONSUMER", "s", "g", "bob"],
    ] {
        c.cmd(cmd);
    }
    let dump = parse_reply(&c.cmd(&["DUMP", "s"])).unwrap();
    let dump = dump.bytes().unwrap().to_vec();
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let probes: &[&[&str]] = &[
        &["XRANGE", "m", "-", "+"],
        &["XREVRANGE", "m", "+", "-", "COUNT", "3"],
        &["XLEN", "m"],
        &["XINFO", "STREAM", "m", "FULL"],
        &["XINFO", "GROUPS", "m"],
        &["XPENDING", "m", "g", "-", "+", "10"],
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "m", "0"],
        &["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "m", ">"],
        &["XAUTOCLAIM", "m", "g", "dave", "0", "0"],
        &["XCLAIM", "m", "g", "erin", "0", "1-1", "3-3", "FORCE"],
        &["XDEL", "m", "1-1", "5-5", "9-9"],
        &["XTRIM", "m", "MINID", "6-6"],
        &["XADD", "m", "*", "f", "v"],
        &["XTRIM", "m", "MAXLEN", "2"],
        &["XGROUP", "DELCONSUMER", "m", "g", "alice"],
        &["DEBUG", "DIGEST-VALUE", "m"],
    ];
    let body_len = dump.len() - 8;
    let mut accepted = 0;
    for round in 0..400 {
        let mut m = dump[..body_len].to_vec();
        for _ in 0..1 + rnd() % 3 {
            let at = 1 + (rnd() as usize) % (body_len - 3);
            match rnd() % 3 {
                0 => m[at] = rnd() as u8,
                1 => m[at] ^= 1 << (rnd() % 8),
                _ => m[at] = m[at].wrapping_add(1),
            }
        }
        let sum = crc.checksum(&m);
        m.extend_from_slice(&sum.to_le_bytes());
        let cmd: Vec<&[u8]> = vec![b"RESTORE", b"m", b"0", &m, b"REPLACE"];
        let r = c.cmd(&cmd);
        if r == b"+OK\r\n" {
            accepted += 1;
            for p in probes {
                c.cmd(p);
            }
        }
        assert!(s.is_running(), "server died in round {round}");
    }
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    eprintln!("{accepted} of 400 mutants restored");
    assert!(
        accepted >= 20,
        "too few mutants were accepted ({accepted}) to exercise anything"
    );
}

#[test]
fn scan_type_stream_and_memory_usage() {
    let mut d = Diff::new();
    d.run("XADD s 1-1 a b\nSET k v\nSCAN 0 TYPE stream\nSCAN 0 TYPE string\nTYPE s\nOBJECT ENCODING s");
    // MEMORY USAGE is an estimate of each server's own layout: only its shape is compared.
    let (f, r) = d.both(&["MEMORY", "USAGE", "s"]);
    let (f, r) = (parse_reply(&f).unwrap(), parse_reply(&r).unwrap());
    assert!(f.int().unwrap() > 0 && r.int().unwrap() > 0);
}

#[test]
fn blocked_stream_readers_are_served_in_order() {
    let mut d = Diff::new();
    d.run("XGROUP CREATE s g $ MKSTREAM");
    let mut a = d.another();
    let mut b = d.another();
    let mut x = d.another();
    let mut y = d.another();
    let park = |w: &mut Diff, args: &[&str]| {
        w.send(args);
        std::thread::sleep(Duration::from_millis(50));
    };
    park(
        &mut a,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    park(
        &mut b,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    park(&mut x, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    y.run("? HELLO 3");
    park(
        &mut y,
        &["XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", "$"],
    );
    // One entry: the first group reader takes it, the second keeps waiting; both plain
    // readers get it.
    d.run("XADD s 1-0 f 1");
    a.read();
    x.read();
    y.read();
    d.run("XPENDING s g\nCLIENT LIST TYPE pubsub");
    // A second entry (in a MULTI with a third: served once the EXEC is done) wakes b.
    d.run("MULTI\nXADD s 2-0 f 2\nXADD s 3-0 f 3\nEXEC");
    b.read();
    d.run("XPENDING s g\nXINFO GROUPS s");
    // A timeout answers a null reply in both protocols.
    b.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "b",
        "BLOCK",
        "20",
        "STREAMS",
        "s",
        ">",
    ]);
    b.run("? HELLO 3");
    b.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "b",
        "BLOCK",
        "20",
        "STREAMS",
        "s",
        ">",
    ]);
    b.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]);
}

#[test]
fn wrong_type_everywhere() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        SET str x
        XADD str 1-1 a b
        XADD str NOMKSTREAM 1-1 a b
        XLEN str
        XRANGE str - +
        XREVRANGE str + -
        XDEL str 1-1
        XDEL str abc
        XTRIM str MAXLEN 1
        XTRIM str FOO 1
        XSETID str 1-1
        XREAD STREAMS str 0
        XREADGROUP GROUP g c STREAMS str >
        XGROUP CREATE str g 0
        XGROUP CREATE str g 0 MKSTREAM
        XGROUP SETID str g 0
        XGROUP DESTROY str g
        XGROUP CREATECONSUMER str g c
        XGROUP DELCONSUMER str g c
        XACK str g 1-1
        XACK str g abc
        XPENDING str g
        XPENDING str g - + abc
        XCLAIM str g c 0 1-1
        XCLAIM str g c abc 1-1
        XAUTOCLAIM str g c 0 0
        XAUTOCLAIM str g c abc 0
        XINFO STREAM str
        XINFO GROUPS str
        XINFO CONSUMERS str g
        DEBUG OBJECT nokey
        "#,
    );
}

/// With `sanitize-dump-payload yes` a corrupt stream payload is refused exactly when
/// redis-server refuses it (the mutants of `corrupt_stream_payloads_never_crash`).
#[test]
fn corrupt_stream_payloads_refused_as_redis_with_sanitize_yes() {
    let mut d = Diff::with_args(&["--sanitize-dump-payload", "yes"]);
    d.run("CONFIG SET stream-node-max-entries 3\nCONFIG SET rdbcompression no");
    for i in 1..=10 {
        d.cmd(&[
            "XADD",
            "s",
            &format!("{i}-{i}"),
            "f",
            &i.to_string(),
            "g",
            "x",
        ]);
    }
    d.run(
        "XDEL s 2-2 7-7\nXGROUP CREATE s g 0\nXREADGROUP GROUP g alice COUNT 4 STREAMS s >\nXGROUP CREATECONSUMER s g bob",
    );
    let (dump, _) = d.both(&["DUMP", "s"]);
    let dump = parse_reply(&dump).unwrap().bytes().unwrap().to_vec();
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let body_len = dump.len() - 8;
    let mut differ = Vec::new();
    for round in 0..300 {
        let mut m = dump[..body_len].to_vec();
        let at = 1 + (rnd() as usize) % (body_len - 3);
        m[at] ^= 1 << (rnd() % 8);
        let sum = crc.checksum(&m);
        m.extend_from_slice(&sum.to_le_bytes());
        let cmd: Vec<&[u8]> = vec![b"RESTORE", b"m", b"0", &m, b"REPLACE"];
        let (f, r) = d.both(&cmd);
        if f != r {
            differ.push((round, at, escape(&f), escape(&r)));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(8)]
    );
}

/// Replaces every integer reply of 13 or more digits (Unix ms times) by `:T`.
fn mask_times(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(reply.len());
    let mut i = 0;
    while i < reply.len() {
        if reply[i] == b':' && (i == 0 || reply[i - 1] == b'\n') {
            let end = reply[i..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map(|p| i + p);
            if let Some(end) = end {
                let digits = &reply[i + 1..end];
                if digits.len() >= 13 && digits.iter().all(u8::is_ascii_digit) {
                    out.extend_from_slice(b":T");
                    i = end;
                    continue;
                }
            }
        }
        out.push(reply[i]);
        i += 1;
    }
    out
}

#[test]
fn xinfo_stream_full_with_groups_but_times() {
    let mut d = Diff::new();
    d.run("CONFIG SET stream-node-max-entries 2");
    for i in 1..=7 {
        d.cmd(&["XADD", "s", &format!("{i}-0"), "f", &i.to_string()]);
    }
    d.run(
        r#"
        XDEL s 4-0
        XGROUP CREATE s g 0
        XGROUP CREATE s h $
        XREADGROUP GROUP g alice COUNT 3 STREAMS s >
        XREADGROUP GROUP g bob COUNT 2 STREAMS s >
        XGROUP CREATECONSUMER s g carol
        XCLAIM s g carol 0 2-0 JUSTID
        XACK s g 1-0
        "#,
    );
    for proto in ["2", "3"] {
        d.both(&["HELLO", proto]);
        for args in [
            &["XINFO", "STREAM", "s", "FULL"][..],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "1"],
            &["XINFO", "STREAM", "s", "FULL", "COUNT", "0"],
        ] {
            let (f, r) = d.both(args);
            assert_eq!(
                escape(&mask_times(&f)),
                escape(&mask_times(&r)),
                "{}",
                show_command(args)
            );
        }
    }
}
