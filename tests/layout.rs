//! DEBUG LAYOUT (src/commands/layout.rs): a value as it lies in memory, checked against the
//! bytes DUMP carries for the same key. For listpack and intset encodings DUMP's payload holds
//! the very bytes DEBUG LAYOUT describes, so every offset, encoding byte, length and
//! back-length is read back from them; for quicklists each node's blob (raw or LZF) is
//! compared node by node; for skiplists and hash tables the order of DUMP's elements is the
//! order the layout shows (tail to head, and bucket order). DEBUG LAYOUT is ferrodis-only, so
//! these tests are not differential.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// A connection speaking RESP3 (so maps stay maps), with the options the DUMP checks need:
/// no LZF on RDB strings, so a listpack's bytes appear as they are.
fn conn3(s: &Server) -> RawConn {
    let mut c = s.conn();
    c.value(&["HELLO", "3"]);
    ok(&mut c, &["CONFIG", "SET", "rdbcompression", "no"]);
    c
}

fn ok(c: &mut RawConn, args: &[&str]) {
    let r = c.value(args);
    assert!(!r.is_error(), "{args:?}: {r:?}");
}

/// A field of a RESP3 map reply.
fn f<'a>(r: &'a Reply, name: &str) -> &'a Reply {
    match r {
        Reply::Map(kv) => kv
            .iter()
            .find(|(k, _)| k.bytes() == Some(name.as_bytes()))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no field {name} in {r:?}")),
        _ => panic!("not a map looking for {name}: {r:?}"),
    }
}

fn n(r: &Reply, name: &str) -> usize {
    f(r, name)
        .int()
        .unwrap_or_else(|| panic!("{name} is not an integer: {r:?}")) as usize
}

fn items<'a>(r: &'a Reply, name: &str) -> &'a [Reply] {
    f(r, name)
        .items()
        .unwrap_or_else(|| panic!("{name} is not an array: {r:?}"))
}

fn layout(c: &mut RawConn, key: &str, limit: usize) -> Reply {
    let r = c.value(&["DEBUG", "LAYOUT", key, "LIMIT", &limit.to_string()]);
    assert!(matches!(r, Reply::Map(_)), "DEBUG LAYOUT {key}: {r:?}");
    r
}

// ---------------------------------------------------------------------------------------------
// Reading DUMP payloads (RDB encoding, see docs/rdb-format.md).

struct Rdb<'a> {
    b: &'a [u8],
    p: usize,
}

/// One RDB string as stored: its bytes, or an LZF blob (compressed length, raw length, bytes).
enum RdbStr {
    Plain(Vec<u8>),
    Int(i64),
    Lzf { raw_len: usize, data: Vec<u8> },
}

impl Rdb<'_> {
    fn u8(&mut self) -> u8 {
        self.p += 1;
        self.b[self.p - 1]
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.p += n;
        self.b[self.p - n..self.p].to_vec()
    }

    /// A length, or Err(special encoding) for the 11xxxxxx forms.
    fn len_or_special(&mut self) -> Result<usize, u8> {
        let b = self.u8();
        match b >> 6 {
            0 => Ok((b & 63) as usize),
            1 => Ok((((b & 63) as usize) << 8) | self.u8() as usize),
            2 if b == 0x80 => Ok(u32::from_be_bytes(self.take(4).try_into().unwrap()) as usize),
            2 => Ok(u64::from_be_bytes(self.take(8).try_into().unwrap()) as usize),
            _ => Err(b & 63),
        }
    }

    fn len(&mut self) -> usize {
        self.len_or_special().expect("a plain length")
    }

    fn string(&mut self) -> RdbStr {
        match self.len_or_special() {
            Ok(n) => RdbStr::Plain(self.take(n)),
            Err(0) => RdbStr::Int(self.u8() as i8 as i64),
            Err(1) => RdbStr::Int(i16::from_le_bytes(self.take(2).try_into().unwrap()) as i64),
            Err(2) => RdbStr::Int(i32::from_le_bytes(self.take(4).try_into().unwrap()) as i64),
            Err(3) => {
                let clen = self.len();
                let raw_len = self.len();
                RdbStr::Lzf {
                    raw_len,
                    data: self.take(clen),
                }
            }
            Err(e) => panic!("unknown string encoding {e}"),
        }
    }

    fn plain(&mut self) -> Vec<u8> {
        match self.string() {
            RdbStr::Plain(v) => v,
            RdbStr::Int(i) => i.to_string().into_bytes(),
            RdbStr::Lzf { .. } => panic!("unexpected LZF string (rdbcompression is off)"),
        }
    }
}

/// DUMP key: its RDB type byte and a reader over the value (version and CRC left out).
fn dump(c: &mut RawConn, key: &str) -> (u8, Vec<u8>) {
    let r = c.value(&["DUMP", key]);
    let b = r.bytes().expect("a DUMP payload").to_vec();
    (b[0], b[1..b.len() - 10].to_vec())
}

/// Checks a listpack layout against the listpack's bytes: header fields, every entry's first
/// byte, its encoding and data lengths, the back-length read right to left, the value, and
/// that entries tile the blob from offset 6 to the EOF byte.
fn check_listpack(l: &Reply, bytes: &[u8]) {
    assert_eq!(n(l, "total-bytes"), bytes.len());
    assert_eq!(
        u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize,
        bytes.len()
    );
    assert_eq!(
        n(l, "num-elements"),
        u16::from_le_bytes([bytes[4], bytes[5]]) as usize
    );
    assert_eq!(n(l, "header-bytes"), 6);
    assert_eq!(n(l, "eof-offset"), bytes.len() - 1);
    assert_eq!(bytes[bytes.len() - 1], 0xFF);
    let entries = items(l, "entries");
    let mut p = 6;
    for e in entries {
        let off = n(e, "offset");
        assert_eq!(off, p, "entries tile the listpack");
        assert_eq!(n(e, "encoding-byte"), bytes[off] as usize);
        let (el, dl, bl) = (n(e, "encoding-len"), n(e, "data-len"), n(e, "backlen-len"));
        assert_eq!(n(e, "size"), el + dl + bl);
        assert_eq!(n(e, "backlen"), el + dl);
        // The back-length, decoded from its last byte backwards.
        let end = off + el + dl + bl - 1;
        let (mut v, mut shift, mut i) = (0usize, 0, end);
        loop {
            v |= ((bytes[i] & 127) as usize) << shift;
            if bytes[i] & 128 == 0 {
                break;
            }
            shift += 7;
            i -= 1;
        }
        assert_eq!((v, end - i + 1), (el + dl, bl), "back-length at {off}");
        let value = f(e, "value").bytes().unwrap();
        if n(e, "int") == 0 {
            let data = &bytes[off + el..off + el + dl];
            assert_eq!(&data[..value.len().min(dl)], value, "string at {off}");
            assert_eq!(value.len(), dl.min(64));
            assert_eq!(n(e, "value-len"), dl);
        } else {
            assert!(std::str::from_utf8(value).unwrap().parse::<i64>().is_ok());
        }
        // The encoding name agrees with the first byte.
        let b = bytes[off];
        let name = f(e, "encoding").text().unwrap();
        let expect = match b {
            0x00..=0x7F => "7bit-uint",
            0x80..=0xBF => "6bit-str",
            0xC0..=0xDF => "13bit-int",
            0xE0..=0xEF => "12bit-str",
            0xF0 => "32bit-str",
            0xF1 => "16bit-int",
            0xF2 => "24bit-int",
            0xF3 => "32bit-int",
            0xF4 => "64bit-int",
            _ => "?",
        };
        assert_eq!(name, expect, "entry at {off}");
        p = off + el + dl + bl;
    }
    if n(l, "truncated") == 0 {
        assert_eq!(p, bytes.len() - 1, "the last entry ends at EOF");
    }
}

fn encodings_of(l: &Reply) -> Vec<String> {
    items(l, "entries")
        .iter()
        .map(|e| f(e, "encoding").text().unwrap())
        .collect()
}

#[test]
fn listpack_hash_offsets_match_dump() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(
        &mut c,
        &["CONFIG", "SET", "hash-max-listpack-value", "10000"],
    );
    let long12 = "y".repeat(100);
    let long32 = "z".repeat(5000);
    ok(
        &mut c,
        &[
            "HSET",
            "h",
            "a",
            "5",
            "b",
            "300",
            "c",
            "30000",
            "d",
            "3000000",
            "e",
            "1073741824",
            "f",
            "1099511627776",
            "g",
            "hello",
            "h",
            &long12,
            "i",
            &long32,
            "j",
            "-1",
        ],
    );
    let r = layout(&mut c, "h", 1000);
    assert_eq!(f(&r, "type").text().unwrap(), "hash");
    assert_eq!(f(&r, "encoding").text().unwrap(), "listpack");
    let l = f(&r, "layout");
    let (ty, body) = dump(&mut c, "h");
    assert_eq!(ty, 16, "RDB_TYPE_HASH_LISTPACK");
    let bytes = Rdb { b: &body, p: 0 }.plain();
    check_listpack(l, &bytes);
    assert_eq!(items(l, "entries").len(), 20);
    let enc = encodings_of(l);
    for e in [
        "7bit-uint",
        "13bit-int",
        "16bit-int",
        "24bit-int",
        "32bit-int",
        "64bit-int",
        "6bit-str",
        "12bit-str",
        "32bit-str",
    ] {
        assert!(enc.iter().any(|x| x == e), "{e} missing from {enc:?}");
    }
    // Long values are cut in the reply, their length kept.
    let big = &items(l, "entries")[17];
    assert_eq!(n(big, "value-len"), 5000);
    assert_eq!(f(big, "value").bytes().unwrap().len(), 64);
}

#[test]
fn listpack_zset_offsets_match_dump() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(
        &mut c,
        &[
            "ZADD", "z", "1", "one", "2.5", "two", "-3", "three", "inf", "4",
        ],
    );
    let r = layout(&mut c, "z", 100);
    assert_eq!(f(&r, "encoding").text().unwrap(), "listpack");
    let (ty, body) = dump(&mut c, "z");
    assert_eq!(ty, 17, "RDB_TYPE_ZSET_LISTPACK");
    let l = f(&r, "layout");
    check_listpack(l, &Rdb { b: &body, p: 0 }.plain());
    let vals: Vec<String> = items(l, "entries")
        .iter()
        .map(|e| f(e, "value").text().unwrap())
        .collect();
    assert_eq!(vals, ["three", "-3", "one", "1", "two", "2.5", "4", "inf"]);
}

#[test]
fn quicklist_nodes_match_dump_with_compression() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["CONFIG", "SET", "list-max-listpack-size", "4"]);
    ok(&mut c, &["CONFIG", "SET", "list-compress-depth", "1"]);
    for i in 0..22 {
        let v = format!("element-{i}-{}", "ab".repeat(20));
        ok(&mut c, &["RPUSH", "l", &v]);
    }
    let r = layout(&mut c, "l", 1000);
    assert_eq!(f(&r, "encoding").text().unwrap(), "quicklist");
    let q = f(&r, "layout");
    assert_eq!(
        (n(q, "count"), n(q, "node-count"), n(q, "fill")),
        (22, 6, 4)
    );
    assert_eq!(n(q, "compress-depth"), 1);
    let nodes = items(q, "nodes");
    assert_eq!(nodes.len(), 6);
    let (ty, body) = dump(&mut c, "l");
    assert_eq!(ty, 18, "RDB_TYPE_LIST_QUICKLIST_2");
    let mut rd = Rdb { b: &body, p: 0 };
    assert_eq!(rd.len(), 6);
    let mut seen_lzf = 0;
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(n(node, "index"), i);
        assert_eq!(rd.len(), 2, "container PACKED");
        assert_eq!(f(node, "container").text().unwrap(), "PACKED");
        let lp = f(node, "listpack");
        let raw = match rd.string() {
            RdbStr::Plain(bytes) => {
                assert_eq!(f(node, "encoding").text().unwrap(), "RAW");
                assert_eq!(*f(node, "compressed-sz"), Reply::Nil);
                bytes
            }
            RdbStr::Lzf { raw_len, data } => {
                seen_lzf += 1;
                assert_eq!(f(node, "encoding").text().unwrap(), "LZF");
                assert_eq!(n(node, "compressed-sz"), data.len(), "LZF size after");
                assert_eq!(n(node, "sz"), raw_len, "size before");
                lzf::decompress(&data, raw_len).expect("the node's LZF blob")
            }
            RdbStr::Int(_) => panic!("integer node"),
        };
        assert_eq!(n(node, "sz"), raw.len());
        check_listpack(lp, &raw);
        assert_eq!(n(node, "count"), items(lp, "entries").len());
    }
    // Depth 1: the head and the tail stay raw, the four inner nodes are compressed.
    assert_eq!(seen_lzf, 4);
    assert_eq!(f(&nodes[0], "encoding").text().unwrap(), "RAW");
    assert_eq!(f(&nodes[5], "encoding").text().unwrap(), "RAW");
    // Looking did not change the list: DUMP still shows the same compressed nodes.
    let again = layout(&mut c, "l", 1000);
    assert_eq!(again, r);
}

#[test]
fn quicklist_plain_node() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let big = "P".repeat(300);
    ok(&mut c, &["RPUSH", "l", "a", &big, "b"]);
    let q = f(&layout(&mut c, "l", 10), "layout").clone();
    let nodes = items(&q, "nodes");
    assert_eq!(nodes.len(), 3);
    assert_eq!(f(&nodes[1], "container").text().unwrap(), "PLAIN");
    assert_eq!(n(&nodes[1], "sz"), 300);
    assert_eq!(*f(&nodes[1], "listpack"), Reply::Nil);
    assert_eq!(
        f(&nodes[1], "plain-preview").bytes().unwrap(),
        &big.as_bytes()[..64]
    );
}

#[test]
fn intset_members_match_dump() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["SADD", "s", "3", "1", "2", "-7"]);
    let check = |c: &mut RawConn, width: usize, count: usize| {
        let r = layout(c, "s", 100);
        assert_eq!(f(&r, "encoding").text().unwrap(), "intset");
        let l = f(&r, "layout");
        let (ty, body) = dump(c, "s");
        assert_eq!(ty, 11, "RDB_TYPE_SET_INTSET");
        let blob = Rdb { b: &body, p: 0 }.plain();
        assert_eq!(n(l, "blob-len"), blob.len());
        assert_eq!(n(l, "encoding"), width);
        assert_eq!(
            u32::from_le_bytes(blob[0..4].try_into().unwrap()) as usize,
            width
        );
        assert_eq!(n(l, "length"), count);
        assert_eq!(
            u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize,
            count
        );
        assert_eq!(blob.len(), 8 + width * count);
        let members = items(l, "members");
        assert_eq!(members.len(), count);
        for m in members {
            let pair = m.items().unwrap();
            let (off, v) = (pair[0].int().unwrap() as usize, pair[1].int().unwrap());
            let mut w = [0u8; 8];
            w[..width].copy_from_slice(&blob[off..off + width]);
            // Sign-extend from the member width.
            let got = (i64::from_le_bytes(w) << (64 - 8 * width)) >> (64 - 8 * width);
            assert_eq!(got, v, "member at {off}");
        }
    };
    check(&mut c, 2, 4);
    ok(&mut c, &["SADD", "s", "70000"]);
    check(&mut c, 4, 5);
    ok(&mut c, &["SADD", "s", "-5000000000"]);
    check(&mut c, 8, 6);
}

#[test]
fn skiplist_matches_dump_order_and_spans() {
    let s = ferrodis();
    let mut c = conn3(&s);
    for i in 0..200 {
        ok(
            &mut c,
            &["ZADD", "z", &format!("{}", i * 3 % 200), &format!("m{i}")],
        );
    }
    let r = layout(&mut c, "z", 1000);
    assert_eq!(f(&r, "encoding").text().unwrap(), "skiplist");
    let sl = f(f(&r, "layout"), "skiplist");
    assert_eq!(n(sl, "length"), 200);
    let nodes = items(sl, "nodes");
    assert_eq!(nodes.len(), 200);
    let level = n(sl, "level");
    assert_eq!(items(sl, "header").len(), level);
    let offsets: Vec<i64> = nodes
        .iter()
        .map(|x| f(x, "offset").int().unwrap())
        .collect();
    assert_eq!(*offsets.last().unwrap(), f(sl, "tail").int().unwrap());
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(n(node, "rank"), i + 1);
        let back = f(node, "backward").int().unwrap();
        assert_eq!(back, if i == 0 { 0 } else { offsets[i - 1] });
        let lv = items(node, "levels");
        assert!(!lv.is_empty() && lv.len() <= level);
        for l in lv {
            let p = l.items().unwrap();
            let (fwd, span) = (p[0].int().unwrap(), p[1].int().unwrap() as usize);
            if fwd == 0 {
                // Past the tail: the span counts the remaining nodes.
                assert!(
                    i + 1 + span == 200 || span == 0,
                    "span from the last node on a level"
                );
            } else {
                assert_eq!(
                    offsets[i + span],
                    fwd,
                    "node {i}'s link lands span ranks ahead"
                );
            }
        }
    }
    // DUMP writes the skiplist from tail to head: member then binary score.
    let (ty, body) = dump(&mut c, "z");
    assert_eq!(ty, 5, "RDB_TYPE_ZSET_2");
    let mut rd = Rdb { b: &body, p: 0 };
    assert_eq!(rd.len(), 200);
    for node in nodes.iter().rev() {
        assert_eq!(rd.plain(), f(node, "member").bytes().unwrap());
        let score = f64::from_le_bytes(rd.take(8).try_into().unwrap());
        assert_eq!(f(node, "score").text().unwrap(), format!("{score}"));
    }
    // The dict half holds every member once.
    let d = f(f(&r, "layout"), "dict");
    let mut keys = dict_keys(d);
    keys.sort();
    let mut members: Vec<Vec<u8>> = nodes
        .iter()
        .map(|x| f(x, "member").bytes().unwrap().to_vec())
        .collect();
    members.sort();
    assert_eq!(keys, members);
}

/// Every key a dict layout shows, table 0 then table 1, each bucket's chain head first: the
/// order the dict iterates in (and so DUMP's order).
fn dict_keys(d: &Reply) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for t in items(d, "tables") {
        let mut used = 0;
        for b in items(t, "buckets") {
            let b = b.items().unwrap();
            let keys = b[2].items().unwrap();
            assert_eq!(
                keys.len(),
                b[1].int().unwrap() as usize,
                "whole chains shown"
            );
            used += keys.len();
            out.extend(keys.iter().map(|k| k.bytes().unwrap().to_vec()));
        }
        assert_eq!(used, n(t, "used"));
    }
    out
}

#[test]
fn hashtable_buckets_match_dump_order() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "4"]);
    for i in 0..40 {
        ok(
            &mut c,
            &["HSET", "h", &format!("field:{i}"), &format!("{i}")],
        );
        ok(&mut c, &["SADD", "s", &format!("member:{i}")]);
    }
    for key in ["h", "s"] {
        let r = layout(&mut c, key, 10000);
        assert_eq!(f(&r, "encoding").text().unwrap(), "hashtable");
        let d = f(&r, "layout");
        let t0 = &items(d, "tables")[0];
        assert!(n(t0, "size").is_power_of_two());
        let keys = dict_keys(d);
        assert_eq!(keys.len(), 40);
        let (ty, body) = dump(&mut c, key);
        let mut rd = Rdb { b: &body, p: 0 };
        assert_eq!(ty, if key == "h" { 4 } else { 2 });
        assert_eq!(rd.len(), 40);
        for k in &keys {
            assert_eq!(
                &rd.plain(),
                k,
                "DUMP walks the buckets in the layout's order"
            );
            if key == "h" {
                rd.plain();
            }
        }
    }
}

#[test]
fn strings_int_embstr_raw() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["SET", "i", "1234"]);
    ok(&mut c, &["SET", "big", "123456789012"]);
    ok(&mut c, &["SET", "e", "short"]);
    ok(&mut c, &["SET", "e2", &"e".repeat(40)]);
    ok(&mut c, &["SET", "r", &"r".repeat(50)]);
    ok(&mut c, &["SET", "a", "x"]);
    ok(&mut c, &["APPEND", "a", "y"]);
    let cases = [
        ("i", "int", "int", 4, 1),
        ("big", "int", "int", 12, 0),
        ("e", "embstr", "inline", 5, 0),
        ("e2", "embstr", "heap", 40, 0),
        ("r", "raw", "heap", 50, 0),
        ("a", "raw", "heap", 2, 0),
    ];
    for (key, enc, storage, len, shared) in cases {
        let r = layout(&mut c, key, 10);
        assert_eq!(f(&r, "type").text().unwrap(), "string");
        assert_eq!(f(&r, "encoding").text().unwrap(), enc, "{key}");
        let l = f(&r, "layout");
        assert_eq!(f(l, "storage").text().unwrap(), storage, "{key}");
        assert_eq!((n(l, "length"), n(l, "shared")), (len, shared), "{key}");
        // DUMP stores the same string: an integer encoding or len + bytes.
        let (ty, body) = dump(&mut c, key);
        assert_eq!(ty, 0);
        match (Rdb { b: &body, p: 0 }).string() {
            RdbStr::Int(v) => assert_eq!(v.to_string(), f(l, "value").text().unwrap()),
            RdbStr::Plain(b) => {
                assert_eq!(b.len(), len);
                assert_eq!(&b[..], f(l, "value").bytes().unwrap());
            }
            RdbStr::Lzf { .. } => panic!("LZF with rdbcompression off"),
        }
    }
    assert_eq!(n(&layout(&mut c, "i", 10), "refcount"), i32::MAX as usize);
    // The header carries the expire.
    ok(&mut c, &["PEXPIREAT", "e", "4102444800000"]);
    assert_eq!(n(&layout(&mut c, "e", 10), "expire"), 4102444800000);
    assert_eq!(f(&layout(&mut c, "r", 10), "expire").int(), Some(-1));
}

#[test]
fn limit_bounds_every_list() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(
        &mut c,
        &["CONFIG", "SET", "hash-max-listpack-entries", "64"],
    );
    for i in 0..300 {
        c.send_cmd(&["RPUSH", "l", &format!("v{i}")]);
        c.send_cmd(&["HSET", "h", &format!("f{i}"), "v"]);
        c.send_cmd(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
        c.send_cmd(&["SADD", "s", &i.to_string()]);
    }
    for _ in 0..1200 {
        c.read_reply();
    }
    ok(&mut c, &["HSET", "small", "a", "1", "b", "2", "c", "3"]);
    let q = f(&layout(&mut c, "l", 5), "layout").clone();
    let shown: usize = items(&q, "nodes")
        .iter()
        .filter(|x| *f(x, "listpack") != Reply::Nil)
        .map(|x| items(f(x, "listpack"), "entries").len())
        .sum();
    assert_eq!(shown, 5);
    let lp = f(&layout(&mut c, "small", 4), "layout").clone();
    assert_eq!((items(&lp, "entries").len(), n(&lp, "truncated")), (4, 1));
    let lp = f(&layout(&mut c, "small", 6), "layout").clone();
    assert_eq!((items(&lp, "entries").len(), n(&lp, "truncated")), (6, 0));
    let z = f(f(&layout(&mut c, "z", 7), "layout"), "skiplist").clone();
    assert_eq!((items(&z, "nodes").len(), n(&z, "truncated")), (7, 1));
    let st = f(&layout(&mut c, "s", 9), "layout").clone();
    assert_eq!((items(&st, "members").len(), n(&st, "truncated")), (9, 1));
    for key in ["h", "z"] {
        let r = layout(&mut c, key, 3);
        let d = if key == "z" {
            f(f(&r, "layout"), "dict")
        } else {
            f(&r, "layout")
        };
        let mut keys = 0;
        for t in items(d, "tables") {
            let b = items(t, "buckets");
            assert!(b.len() <= 3);
            keys += b
                .iter()
                .map(|x| x.items().unwrap()[2].items().unwrap().len())
                .sum::<usize>();
        }
        assert!(keys <= 3, "{key}: {keys} keys shown");
    }
    // Without LIMIT: the default of 128.
    let r = c.value(&["DEBUG", "LAYOUT", "h"]);
    assert_eq!(n(&r, "limit"), 128);
}

#[test]
fn errors_and_keyspace() {
    let s = ferrodis();
    let mut c = s.conn();
    let err = |c: &mut RawConn, args: &[&str], msg: &str| {
        let r = c.value(args);
        assert_eq!(r, Reply::Error(msg.as_bytes().to_vec()), "{args:?}");
    };
    err(&mut c, &["DEBUG", "LAYOUT", "nokey"], "ERR no such key");
    ok(&mut c, &["SET", "k", "v"]);
    err(
        &mut c,
        &["DEBUG", "LAYOUT", "k", "LIMIT", "x"],
        "ERR value is not an integer or out of range",
    );
    err(
        &mut c,
        &["DEBUG", "LAYOUT", "k", "LIMIT", "0"],
        "ERR LIMIT must be between 1 and 100000",
    );
    err(
        &mut c,
        &["DEBUG", "LAYOUT", "k", "LIMIT", "100001"],
        "ERR LIMIT must be between 1 and 100000",
    );
    err(
        &mut c,
        &["DEBUG", "LAYOUT", "k", "LIMIT"],
        "ERR syntax error",
    );
    err(
        &mut c,
        &["DEBUG", "LAYOUT", "k", "FOO", "1"],
        "ERR syntax error",
    );
    // The keyspace: every database with keys, and the selected one's buckets.
    ok(&mut c, &["SELECT", "3"]);
    ok(&mut c, &["SET", "a", "1"]);
    ok(&mut c, &["PEXPIREAT", "a", "4102444800000"]);
    c.value(&["HELLO", "3"]);
    let r = c.value(&["DEBUG", "LAYOUT", "LIMIT", "50"]);
    assert_eq!((n(&r, "db"), n(&r, "limit")), (3, 50));
    let dbs = items(&r, "databases");
    let ids: Vec<usize> = dbs.iter().map(|d| n(d, "id")).collect();
    assert_eq!(ids, [0, 3]);
    assert_eq!((n(&dbs[1], "keys"), n(&dbs[1], "expires")), (1, 1));
    assert_eq!(dict_keys(f(&r, "dict")), [b"a".to_vec()]);
    assert_eq!(dict_keys(f(&r, "expires")), [b"a".to_vec()]);
    assert_eq!(f(f(&r, "dict"), "rehashidx").int(), Some(-1));
}

/// Turns a RESP3 reply into what RESP2 sends for it: maps become flat arrays, doubles bulk
/// strings.
fn flatten(r: &Reply) -> Reply {
    match r {
        Reply::Map(kv) => Reply::Array(
            kv.iter()
                .flat_map(|(k, v)| [flatten(k), flatten(v)])
                .collect(),
        ),
        Reply::Array(v) => Reply::Array(v.iter().map(flatten).collect()),
        Reply::Double(d) => Reply::Bulk(d.clone()),
        other => other.clone(),
    }
}

#[test]
fn resp2_flattens_maps() {
    let s = ferrodis();
    let mut c3 = conn3(&s);
    let mut c2 = s.conn();
    ok(
        &mut c3,
        &["CONFIG", "SET", "zset-max-listpack-entries", "2"],
    );
    ok(&mut c3, &["ZADD", "z", "1.5", "a", "2", "b", "3", "c"]);
    ok(&mut c3, &["RPUSH", "l", "x", "1"]);
    // The keyspace has no clock in it; keys are compared without their idle time, which
    // may tick between the two calls.
    let strip = |r: Reply| match r {
        Reply::Map(kv) => Reply::Map(
            kv.into_iter()
                .filter(|(k, _)| k.bytes() != Some(b"idle-seconds"))
                .collect(),
        ),
        Reply::Array(v) => {
            let mut out = Vec::new();
            let mut it = v.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if k.bytes() != Some(b"idle-seconds") {
                    out.push(k);
                    out.push(v);
                }
            }
            Reply::Array(out)
        }
        other => other,
    };
    for args in [
        vec!["DEBUG", "LAYOUT"],
        vec!["DEBUG", "LAYOUT", "z"],
        vec!["DEBUG", "LAYOUT", "l", "LIMIT", "1"],
    ] {
        let r3 = strip(c3.value(&args));
        let r2 = strip(c2.value(&args));
        assert!(matches!(r3, Reply::Map(_)));
        assert_eq!(flatten(&r3), r2, "{args:?}");
    }
}

/// Fills `key` with a million elements by pipelined commands of 1000 elements each.
fn fill_million(c: &mut RawConn, cmd: &str, key: &str, with_score: bool) {
    for batch in 0..1000 {
        let mut args = vec![cmd.to_string(), key.to_string()];
        for i in 0..1000 {
            let v = batch * 1000 + i;
            if with_score {
                args.push(v.to_string());
            }
            args.push(format!("e{v}"));
        }
        c.send_cmd(&args);
    }
    for _ in 0..1000 {
        let r = parse_reply(&c.read_reply()).unwrap();
        assert!(!r.is_error(), "{r:?}");
    }
}

/// The fastest of several DEBUG LAYOUT calls: a floor that scheduling noise cannot lower.
fn fastest(c: &mut RawConn, key: &str) -> Duration {
    (0..15)
        .map(|_| {
            let t = Instant::now();
            let r = c.cmd(&["DEBUG", "LAYOUT", key, "LIMIT", "10"]);
            let e = t.elapsed();
            assert!(r.len() < 20_000, "{key}: a {}-byte reply", r.len());
            e
        })
        .min()
        .unwrap()
}

#[test]
fn cost_is_o_limit_on_a_million_elements() {
    let s = ferrodis();
    let mut c = conn3(&s);
    c.set_timeout(Duration::from_secs(120));
    fill_million(&mut c, "RPUSH", "biglist", false);
    fill_million(&mut c, "ZADD", "bigzset", true);
    fill_million(&mut c, "SADD", "bigset", false);
    for (key, small) in [
        ("biglist", "smalllist"),
        ("bigzset", "smallzset"),
        ("bigset", "smallset"),
    ] {
        let cmd = match key {
            "biglist" => "RPUSH",
            "bigzset" => "ZADD",
            _ => "SADD",
        };
        let mut args = vec![cmd.to_string(), small.to_string()];
        for i in 0..1000 {
            if cmd == "ZADD" {
                args.push(i.to_string());
            }
            args.push(format!("e{i}"));
        }
        c.value(&args);
        assert_eq!(
            c.value(&["OBJECT", "ENCODING", key]),
            c.value(&["OBJECT", "ENCODING", small])
        );
        let (big_t, small_t) = (fastest(&mut c, key), fastest(&mut c, small));
        eprintln!("DEBUG LAYOUT LIMIT 10: {key} {big_t:?}, {small} {small_t:?}");
        // Walking a million elements takes tens of milliseconds; O(limit) keeps the big key
        // within a small factor of the 1000-element one (the round trip dominates both).
        assert!(
            big_t < small_t * 4 + Duration::from_millis(1),
            "{key}: {big_t:?} vs {small}: {small_t:?}"
        );
    }
    // The keyspace itself with a million keys (in another database, so the keys above stay
    // in db 0): still a bounded window of buckets.
    ok(&mut c, &["SELECT", "1"]);
    ok(&mut c, &["DEBUG", "POPULATE", "1000000"]);
    let small_t = fastest(&mut c, "key:1");
    let t = (0..15)
        .map(|_| {
            let t = Instant::now();
            let r = c.cmd(&["DEBUG", "LAYOUT", "LIMIT", "10"]);
            assert!(r.len() < 20_000);
            t.elapsed()
        })
        .min()
        .unwrap();
    eprintln!("DEBUG LAYOUT LIMIT 10 of a million-key keyspace: {t:?}");
    assert!(
        t < small_t * 4 + Duration::from_millis(1),
        "{t:?} vs {small_t:?}"
    );
}

#[test]
fn header_shows_lru_or_lfu_as_object_does() {
    let s = ferrodis();
    let mut c = conn3(&s);
    ok(&mut c, &["SET", "k", "v"]);
    let r = layout(&mut c, "k", 10);
    let idle = c.value(&["OBJECT", "IDLETIME", "k"]).int().unwrap();
    assert!((n(&r, "idle-seconds") as i64 - idle).abs() <= 1);
    assert!(
        matches!(&r, Reply::Map(kv) if !kv.iter().any(|(k, _)| k.bytes() == Some(b"lfu-counter")))
    );
    ok(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
    );
    ok(&mut c, &["SET", "f", "v"]);
    let r = layout(&mut c, "f", 10);
    let freq = c.value(&["OBJECT", "FREQ", "f"]).int().unwrap();
    assert_eq!(n(&r, "lfu-counter") as i64, freq);
    assert!(
        matches!(&r, Reply::Map(kv) if !kv.iter().any(|(k, _)| k.bytes() == Some(b"idle-seconds")))
    );
    // Looking does not count as an access: the counter is unchanged afterwards.
    for _ in 0..20 {
        layout(&mut c, "f", 10);
    }
    assert_eq!(c.value(&["OBJECT", "FREQ", "f"]).int().unwrap(), freq);
}
