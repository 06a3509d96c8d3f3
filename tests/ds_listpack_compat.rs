//! Byte compatibility of our listpack and quicklist with redis-server 7.0.15.
//!
//! The oracle runs with `--rdbcompression no`, so `DUMP` shows each listpack raw: a list is
//! `RDB_TYPE_LIST_QUICKLIST_2` (18), then the node count, then per node its container (1 plain,
//! 2 packed) and either an RDB string holding the listpack or, for a node the quicklist has
//! compressed, an LZF blob (0xC3, compressed length, raw length, bytes); small hashes are type 16
//! followed by one RDB string. Every test replays the same operations on the oracle and on our
//! structures and compares the node bytes.

mod common;

use common::{oracle_with, RawConn, Reply, Server};
use ferrodis::ds::listpack::{Listpack, HDR_SIZE};
use ferrodis::ds::quicklist::{self, NodeRef, Quicklist};
use std::sync::{Mutex, MutexGuard};

/// The packed threshold is process-global; tests that depend on it run one at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

struct Oracle {
    _srv: Server,
    c: RawConn,
}

impl Oracle {
    fn start() -> Oracle {
        let srv = oracle_with(&["--rdbcompression", "no"]);
        let c = srv.conn();
        Oracle { _srv: srv, c }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        let r = self.c.value(args);
        assert!(!r.is_error(), "{:?} -> {:?}", args_text(args), r);
        r
    }

    fn config(&mut self, name: &str, value: &str) {
        self.cmd(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
    }

    fn dump(&mut self, key: &str) -> Vec<u8> {
        match self.cmd(&[b"DUMP", key.as_bytes()]) {
            Reply::Bulk(b) => b,
            other => panic!("DUMP {key}: {other:?}"),
        }
    }
}

fn args_text(args: &[&[u8]]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// RDB payload parsing
// ---------------------------------------------------------------------------------------------

/// Reads an RDB length; `Err(enc)` for the special (0xC0..) encodings.
fn rdb_len(b: &[u8], i: &mut usize) -> Result<u64, u8> {
    let first = b[*i];
    *i += 1;
    match first >> 6 {
        0 => Ok((first & 0x3F) as u64),
        1 => {
            let v = (((first & 0x3F) as u64) << 8) | b[*i] as u64;
            *i += 1;
            Ok(v)
        }
        2 if first == 0x80 => {
            let v = u32::from_be_bytes(b[*i..*i + 4].try_into().unwrap()) as u64;
            *i += 4;
            Ok(v)
        }
        2 if first == 0x81 => {
            let v = u64::from_be_bytes(b[*i..*i + 8].try_into().unwrap());
            *i += 8;
            Ok(v)
        }
        _ => Err(first & 0x3F),
    }
}

/// One node as DUMP shows it: container, the LZF bytes if compressed, and the raw payload.
#[derive(Debug, PartialEq, Eq)]
struct DumpNode {
    container: u64,
    lzf: Option<Vec<u8>>,
    raw: Vec<u8>,
}

fn rdb_string(b: &[u8], i: &mut usize) -> (Option<Vec<u8>>, Vec<u8>) {
    match rdb_len(b, i) {
        Ok(n) => {
            let s = b[*i..*i + n as usize].to_vec();
            *i += n as usize;
            (None, s)
        }
        Err(3) => {
            let clen = rdb_len(b, i).unwrap() as usize;
            let len = rdb_len(b, i).unwrap() as usize;
            let c = b[*i..*i + clen].to_vec();
            *i += clen;
            let raw = lzf::decompress(&c, len).unwrap();
            (Some(c), raw)
        }
        Err(e) => panic!("unexpected string encoding {e}"),
    }
}

/// Checks the DUMP trailer (RDB version 10 + CRC64) and returns the type byte and payload.
fn dump_body(d: &[u8]) -> (u8, &[u8]) {
    assert!(d.len() > 11);
    let v = &d[d.len() - 10..d.len() - 8];
    assert_eq!(v, &[10, 0], "RDB version");
    (d[0], &d[1..d.len() - 10])
}

fn parse_list_dump(d: &[u8]) -> Vec<DumpNode> {
    let (ty, body) = dump_body(d);
    assert_eq!(ty, 18, "RDB_TYPE_LIST_QUICKLIST_2");
    let mut i = 0;
    let n = rdb_len(body, &mut i).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let container = rdb_len(body, &mut i).unwrap();
        let (lzf, raw) = rdb_string(body, &mut i);
        out.push(DumpNode {
            container,
            lzf,
            raw,
        });
    }
    assert_eq!(i, body.len(), "trailing bytes in list payload");
    out
}

fn our_nodes(ql: &Quicklist) -> Vec<DumpNode> {
    ql.nodes()
        .map(|n| match n {
            NodeRef::Packed(lp) => DumpNode {
                container: 2,
                lzf: None,
                raw: lp.as_bytes().to_vec(),
            },
            NodeRef::Plain(v) => DumpNode {
                container: 1,
                lzf: None,
                raw: v.to_vec(),
            },
            NodeRef::Compressed {
                plain,
                lzf,
                raw_len,
            } => DumpNode {
                container: if plain { 1 } else { 2 },
                lzf: Some(lzf.to_vec()),
                raw: lzf::decompress(lzf, raw_len).unwrap(),
            },
        })
        .collect()
}

/// Compares node boundaries, containers and raw bytes. Returns how many nodes differ only in
/// being compressed: Redis's LZF compressor does not clear its hash table between calls, so a
/// stale slot can find a match ours does not and occasionally tip a node over the "saves >= 8
/// bytes" rule. Those nodes still hold identical listpacks.
fn compare_nodes(ours: &[DumpNode], theirs: &[DumpNode], ctx: &str) -> usize {
    let shape = |v: &[DumpNode]| -> Vec<(u64, usize)> {
        v.iter().map(|n| (n.container, n.raw.len())).collect()
    };
    assert_eq!(shape(ours), shape(theirs), "node shapes differ: {ctx}");
    for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(a.raw == b.raw, "node {k} bytes differ: {ctx}");
    }
    ours.iter()
        .zip(theirs)
        .filter(|(a, b)| a.lzf.is_some() != b.lzf.is_some())
        .count()
}

/// Like [`compare_nodes`], and the compression flags must match too.
fn assert_same_nodes(ours: &[DumpNode], theirs: &[DumpNode], ctx: &str) {
    assert_eq!(
        compare_nodes(ours, theirs, ctx),
        0,
        "compression differs: {ctx}"
    );
}

// ---------------------------------------------------------------------------------------------
// Deterministic workload
// ---------------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self, large: usize) -> Vec<u8> {
        match self.below(20) {
            0..=5 => format!("v{}", self.below(6)).into_bytes(),
            6..=8 => format!("{}", self.next() as i64 >> self.below(64)).into_bytes(),
            9..=10 => format!("{}", self.below(300) as i64 - 150).into_bytes(),
            11..=16 => {
                let n = self.below(120) as usize;
                let seed = self.below(4) as u8;
                (0..n).map(|i| b'a' + ((i as u8 / 3) ^ seed) % 26).collect()
            }
            17..=18 => vec![b'm' + self.below(3) as u8; 200 + self.below(900) as usize],
            _ => vec![b'L' + self.below(3) as u8; large + self.below(2500) as usize],
        }
    }
}

fn linsert(ql: &mut Quicklist, after: bool, pivot: &[u8], v: &[u8]) -> bool {
    let mut c = ql.cursor(false);
    while let Some(e) = c.next() {
        if e.eq_bytes(pivot) {
            return c.insert(after, v);
        }
    }
    false
}

fn lrem(ql: &mut Quicklist, count: i64, v: &[u8]) -> i64 {
    let mut removed = 0;
    let mut c = ql.cursor(count < 0);
    while let Some(e) = c.next() {
        if e.eq_bytes(v) {
            c.delete();
            removed += 1;
            if count != 0 && removed == count.unsigned_abs() as i64 {
                break;
            }
        }
    }
    removed
}

/// `ltrimCommand`'s index arithmetic.
fn ltrim(ql: &mut Quicklist, start: i64, end: i64) {
    let llen = ql.len() as i64;
    let mut s = if start < 0 { llen + start } else { start };
    let mut e = if end < 0 { llen + end } else { end };
    if s < 0 {
        s = 0;
    }
    let (l, r) = if s > e || s >= llen {
        (llen, 0)
    } else {
        if e >= llen {
            e = llen - 1;
        }
        (s, llen - e - 1)
    };
    ql.del_range(0, l);
    ql.del_range(-r, r);
}

/// Applies one random list command to both sides.
fn random_op(rng: &mut Rng, o: &mut Oracle, ql: &mut Quicklist, large: usize) -> String {
    let key: &[u8] = b"l";
    let len = ql.len() as i64;
    let idx = |rng: &mut Rng| -> i64 {
        let span = (len.max(1) * 2 + 2) as u64;
        rng.below(span) as i64 - len - 1
    };
    match rng.below(20) {
        0..=6 => {
            let v = rng.value(large);
            o.cmd(&[b"RPUSH", key, &v]);
            ql.push_tail(&v);
            "RPUSH".into()
        }
        7..=10 => {
            let v = rng.value(large);
            o.cmd(&[b"LPUSH", key, &v]);
            ql.push_head(&v);
            "LPUSH".into()
        }
        11..=12 => {
            let after = rng.below(2) == 0;
            let pivot = rng.value(large);
            let v = rng.value(large);
            let r = o.cmd(&[
                b"LINSERT",
                key,
                if after { b"AFTER" } else { b"BEFORE" },
                &pivot,
                &v,
            ]);
            let ours = linsert(ql, after, &pivot, &v);
            if len > 0 {
                assert_eq!(r.int() != Some(-1), ours, "LINSERT result");
            }
            format!("LINSERT {after}")
        }
        13..=14 => {
            if len == 0 {
                return "noop".into();
            }
            let i = rng.below(len as u64) as i64 - if rng.below(2) == 0 { 0 } else { len };
            let v = rng.value(large);
            o.cmd(&[b"LSET", key, i.to_string().as_bytes(), &v]);
            assert!(ql.replace(i, &v));
            format!("LSET {i}")
        }
        15 => {
            let count = rng.below(5) as i64 - 2;
            let v = format!("v{}", rng.below(6)).into_bytes();
            let r = o.cmd(&[b"LREM", key, count.to_string().as_bytes(), &v]);
            assert_eq!(r.int(), Some(lrem(ql, count, &v)), "LREM count");
            format!("LREM {count}")
        }
        16 => {
            if len < 20 {
                return "noop".into();
            }
            let (s, e) = (rng.below(3) as i64, -1 - rng.below(3) as i64);
            o.cmd(&[
                b"LTRIM",
                key,
                s.to_string().as_bytes(),
                e.to_string().as_bytes(),
            ]);
            ltrim(ql, s, e);
            format!("LTRIM {s} {e}")
        }
        17 => {
            if len == 0 {
                return "noop".into();
            }
            o.cmd(&[b"LPOP", key]);
            ql.pop(true);
            "LPOP".into()
        }
        18 => {
            if len == 0 {
                return "noop".into();
            }
            o.cmd(&[b"RPOP", key]);
            ql.pop(false);
            "RPOP".into()
        }
        _ => {
            if len == 0 {
                return "noop".into();
            }
            let i = idx(rng);
            let r = o.cmd(&[b"LINDEX", key, i.to_string().as_bytes()]);
            let ours = ql.get(i);
            match r {
                Reply::Bulk(b) => assert_eq!(Some(b), ours, "LINDEX {i}"),
                _ => assert_eq!(ours, None, "LINDEX {i}"),
            }
            format!("LINDEX {i}")
        }
    }
}

/// Runs `ops` random commands with the given fill/depth, comparing DUMPs every `every` ops.
/// Returns (compressed nodes compared, of which LZF bytes were identical, nodes whose
/// compression flag differed).
fn differential(
    seed: u64,
    fill: i32,
    depth: i64,
    ops: usize,
    every: usize,
    large: usize,
) -> (usize, usize, usize) {
    let mut o = Oracle::start();
    o.config("list-max-listpack-size", &fill.to_string());
    o.config("list-compress-depth", &depth.to_string());
    let mut ql = Quicklist::new(fill, depth);
    let mut rng = Rng(seed);
    let (mut lzf_nodes, mut lzf_same, mut flag_diff) = (0, 0, 0);
    let mut last = String::new();
    for step in 0..ops {
        let what = random_op(&mut rng, &mut o, &mut ql, large);
        last.push_str(&what);
        last.push(' ');
        if step % every == every - 1 || step == ops - 1 {
            let exists = o.cmd(&[b"EXISTS", b"l"]).int() == Some(1);
            if !exists {
                assert!(ql.is_empty(), "oracle list gone, ours has {}", ql.len());
                continue;
            }
            let theirs = parse_list_dump(&o.dump("l"));
            let ours = our_nodes(&ql);
            let ctx = format!("seed {seed} fill {fill} depth {depth} step {step}: {last}");
            flag_diff += compare_nodes(&ours, &theirs, &ctx);
            for (a, b) in ours.iter().zip(&theirs) {
                if let (Some(x), Some(y)) = (&a.lzf, &b.lzf) {
                    lzf_nodes += 1;
                    lzf_same += (x == y) as usize;
                }
            }
            last.clear();
        }
    }
    eprintln!(
        "seed {seed} fill {fill} depth {depth}: {} elements in {} nodes at the end",
        ql.len(),
        ql.node_count()
    );
    (lzf_nodes, lzf_same, flag_diff)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn listpack_bytes_of_small_lists() {
    let _g = lock();
    let mut o = Oracle::start();
    let long = |n: usize| vec![b'x'; n];
    let sets: Vec<Vec<Vec<u8>>> = vec![
        vec![b"a".to_vec()],
        [
            "0",
            "1",
            "-1",
            "127",
            "128",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        [
            "01",
            "+1",
            "-0",
            " 1",
            "1 ",
            "1.5",
            "9223372036854775808",
            "-",
            "",
            "0x10",
            "00",
            "-01",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        vec![
            long(0),
            long(63),
            long(64),
            long(127),
            long(128),
            long(1000),
        ],
        vec![long(4095)],
        vec![long(4096)],
        vec![long(16380), b"after".to_vec()],
        vec![(0u8..=255).collect(), b"\x00\xff".to_vec()],
    ];
    for (k, set) in sets.iter().enumerate() {
        for left in [false, true] {
            o.cmd(&[b"DEL", b"l"]);
            let mut args: Vec<&[u8]> = vec![if left { b"LPUSH" } else { b"RPUSH" }, b"l"];
            args.extend(set.iter().map(|v| v.as_slice()));
            o.cmd(&args);
            let theirs = parse_list_dump(&o.dump("l"));
            // Our listpack built directly, and through a quicklist.
            let mut lp = Listpack::new();
            let mut ql = Quicklist::new(-2, 0);
            for v in set {
                if left {
                    lp.push_front(v.as_slice());
                    ql.push_head(v);
                } else {
                    lp.push_back(v.as_slice());
                    ql.push_tail(v);
                }
            }
            if theirs.len() == 1 {
                assert_eq!(theirs[0].raw, lp.as_bytes(), "set {k} left {left}");
                assert_eq!(Listpack::from_bytes(theirs[0].raw.clone()).unwrap(), lp);
            }
            assert_same_nodes(&our_nodes(&ql), &theirs, &format!("set {k} left {left}"));
        }
    }
}

#[test]
fn listpack_bytes_of_small_hashes() {
    let _g = lock();
    let mut o = Oracle::start();
    let mut rng = Rng(0x1234_5678);
    let mut lp = Listpack::new();
    for step in 0..300 {
        let field = format!("f{}", rng.below(25)).into_bytes();
        let field = if rng.below(5) == 0 {
            rng.below(40).to_string().into_bytes()
        } else {
            field
        };
        if rng.below(4) == 0 {
            o.cmd(&[b"HDEL", b"h", &field]);
            if let Some(p) = lp.find(HDR_SIZE, &field, 1) {
                let p = lp.delete(p).expect("value follows field");
                lp.delete(p);
            }
        } else {
            let mut value = rng.value(0);
            value.truncate(60);
            o.cmd(&[b"HSET", b"h", &field, &value]);
            // hashTypeSet: replace the value in place, or append field and value.
            match lp.first().and_then(|p| lp.find(p, &field, 1)) {
                Some(p) => {
                    let vp = lp.next(p).unwrap();
                    lp.replace(vp, value.as_slice());
                }
                None => {
                    lp.push_back(field.as_slice());
                    lp.push_back(value.as_slice());
                }
            }
        }
        if lp.is_empty() {
            assert_eq!(o.cmd(&[b"EXISTS", b"h"]).int(), Some(0));
            continue;
        }
        let d = o.dump("h");
        let (ty, body) = dump_body(&d);
        assert_eq!(ty, 16, "RDB_TYPE_HASH_LISTPACK");
        let mut i = 0;
        let (_, raw) = rdb_string(body, &mut i);
        assert_eq!(raw, lp.as_bytes(), "step {step}");
    }
}

#[test]
fn quicklist_split_points_on_push() {
    let _g = lock();
    for fill in [-2, -1, 5, 128] {
        let mut o = Oracle::start();
        o.config("list-max-listpack-size", &fill.to_string());
        let mut ql = Quicklist::new(fill, 0);
        let mut rng = Rng(77u64.wrapping_add(fill as u64));
        for i in 0..3000 {
            let v = rng.value(0);
            if i % 3 == 0 {
                o.cmd(&[b"LPUSH", b"l", &v]);
                ql.push_head(&v);
            } else {
                o.cmd(&[b"RPUSH", b"l", &v]);
                ql.push_tail(&v);
            }
        }
        let theirs = parse_list_dump(&o.dump("l"));
        assert!(theirs.len() > 10, "fill {fill}: {} nodes", theirs.len());
        assert_same_nodes(&our_nodes(&ql), &theirs, &format!("fill {fill}"));
    }
}

#[test]
fn quicklist_random_commands() {
    let _g = lock();
    for (seed, fill) in [(1u64, -2), (2, -1), (3, 5), (4, 3), (5, 1), (6, 0), (7, 64)] {
        let (_, _, flags) = differential(seed * 7919, fill, 0, 1500, 10, 5000);
        assert_eq!(flags, 0);
    }
}

#[test]
fn quicklist_random_commands_compressed() {
    let _g = lock();
    let (mut nodes, mut same, mut flags) = (0, 0, 0);
    for (seed, fill, depth) in [
        (11u64, -2, 1),
        (12, 5, 1),
        (13, 3, 2),
        (14, -1, 1),
        (15, 4, 3),
    ] {
        let (n, s, f) = differential(seed * 104729, fill, depth, 1200, 15, 5000);
        nodes += n;
        same += s;
        flags += f;
    }
    assert!(nodes > 1000, "too few compressed nodes exercised: {nodes}");
    // Our LZF output is deterministic; Redis's compressor may reuse stale hash-table slots (see
    // compare_nodes), so identical bytes are expected for nearly all nodes, not guaranteed.
    eprintln!("compressed nodes compared: {nodes}, LZF identical: {same}, flag diffs: {flags}");
    assert!(
        same * 50 >= nodes * 49,
        "LZF bytes differ too often: {same}/{nodes}"
    );
    assert!(
        flags * 200 <= nodes,
        "compression decisions differ too often: {flags}/{nodes}"
    );
}

#[test]
fn quicklist_plain_nodes() {
    let _g = lock();
    for (seed, fill, depth) in [(21u64, -2, 0), (22, 4, 1)] {
        let mut o = Oracle::start();
        o.cmd(&[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"700"]);
        assert!(quicklist::set_packed_threshold(700));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            differential_with(&mut o, seed, fill, depth)
        }));
        quicklist::set_packed_threshold(0);
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
}

fn differential_with(o: &mut Oracle, seed: u64, fill: i32, depth: i64) {
    o.config("list-max-listpack-size", &fill.to_string());
    o.config("list-compress-depth", &depth.to_string());
    let mut ql = Quicklist::new(fill, depth);
    let mut rng = Rng(seed);
    let mut flags = 0;
    let mut plain_seen = 0;
    for step in 0..800 {
        let what = random_op(&mut rng, o, &mut ql, 500);
        if step % 5 == 4 {
            if o.cmd(&[b"EXISTS", b"l"]).int() != Some(1) {
                assert!(ql.is_empty());
                continue;
            }
            let theirs = parse_list_dump(&o.dump("l"));
            plain_seen += theirs.iter().filter(|n| n.container == 1).count();
            let ctx = format!("plain seed {seed} step {step} after {what}");
            flags += compare_nodes(&our_nodes(&ql), &theirs, &ctx);
        }
    }
    assert!(plain_seen > 100, "plain nodes exercised: {plain_seen}");
    assert!(flags <= 3, "compression decisions differ: {flags}");
}
