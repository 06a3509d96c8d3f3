//! Differential tests of the HyperLogLog commands against the oracle redis-server: the same
//! estimates (not only close ones) at cardinalities from 0 to 10^7, the same register arrays
//! (PFDEBUG GETREG), the same bytes in the value (GET, DUMP) through the sparse encoding, its
//! promotion to dense, merges, and values carried across with DUMP/RESTORE in both directions;
//! corrupt values answered with Redis's errors.

mod common;

use common::*;

/// PFADD `key` with elements `e:from` .. `e:to-1`, in commands of at most `batch` elements;
/// asserts both servers give the same replies.
fn add_range(d: &mut Diff, key: &str, from: u64, to: u64, batch: u64) {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let mut args: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
        args.extend((i..end).map(|j| format!("e:{j}").into_bytes()));
        d.cmd(&args);
        i = end;
    }
}

#[test]
fn pfcount_same_estimates_from_0_to_ten_million() {
    let mut d = Diff::new();
    d.cmd(&["PFCOUNT", "h"]);
    d.cmd(&["PFADD", "h"]);
    d.cmd(&["PFCOUNT", "h"]);
    d.cmd(&["GET", "h"]);
    let checkpoints: &[u64] = &[
        1, 2, 3, 5, 8, 10, 20, 50, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 2500, 3000,
        4000, 5000, 7000, 10_000, 20_000, 30_000, 50_000, 70_000, 100_000, 200_000, 300_000,
        500_000, 1_000_000, 2_000_000, 3_000_000, 5_000_000, 7_000_000, 10_000_000,
    ];
    let mut have = 0;
    for &cp in checkpoints {
        let batch = if cp <= 10_000 { 97 } else { 20_000 };
        add_range(&mut d, "h", have, cp, batch);
        have = cp;
        d.cmd(&["PFCOUNT", "h"]);
        d.cmd(&["PFCOUNT", "h"]); // from the cache
        d.cmd(&["PFDEBUG", "ENCODING", "h"]);
        if cp <= 5000 || cp.is_power_of_two() || cp % 1_000_000 == 0 {
            // The value's bytes: header, cached cardinality, sparse opcodes or dense registers.
            d.cmd(&["GET", "h"]);
        }
        if cp == 100 || cp == 3000 || cp == 100_000 || cp == 10_000_000 {
            d.cmd(&["DUMP", "h"]);
            // A copy made dense by PFDEBUG GETREG: the register arrays are equal.
            d.cmd(&["COPY", "h", "g", "REPLACE"]);
            d.cmd(&["PFDEBUG", "GETREG", "g"]);
            d.cmd(&["GET", "g"]);
        }
        // The union with a small HLL, without and with a stored merge.
        d.cmd(&["PFADD", "small", &format!("x{cp}"), "e:1", "y"]);
        d.cmd(&["PFCOUNT", "h", "small"]);
        d.cmd(&["PFCOUNT", "small", "h", "nokey"]);
    }
    d.cmd(&["PFMERGE", "m", "small", "h"]);
    d.cmd(&["GET", "m"]);
    d.cmd(&["PFCOUNT", "m"]);
}

#[test]
fn sparse_encoding_step_by_step() {
    let mut d = Diff::new();
    // One element at a time: every split and merge of opcodes shows in DECODE and GET.
    for i in 0..400 {
        let e = format!("el{i}");
        d.cmd(&["PFADD", "s", &e]);
        d.cmd(&["PFADD", "s", &e]);
        if i % 7 == 0 {
            d.cmd(&["PFDEBUG", "DECODE", "s"]);
            d.cmd(&["GET", "s"]);
            d.cmd(&["PFCOUNT", "s"]);
        }
    }
    d.cmd(&["GET", "s"]);
    d.cmd(&["OBJECT", "ENCODING", "s"]);
    d.cmd(&["PFDEBUG", "ENCODING", "s"]);
    d.cmd(&["PFDEBUG", "TODENSE", "s"]);
    d.cmd(&["PFDEBUG", "TODENSE", "s"]);
    d.cmd(&["PFDEBUG", "ENCODING", "s"]);
    d.cmd(&["PFDEBUG", "DECODE", "s"]);
    d.cmd(&["PFCOUNT", "s"]);
    d.cmd(&["GET", "s"]);
}

#[test]
fn promotion_follows_hll_sparse_max_bytes() {
    let mut d = Diff::new();
    for max in ["0", "1", "30", "100", "500", "3000", "12000", "20000"] {
        d.cmd(&["CONFIG", "SET", "hll-sparse-max-bytes", max]);
        d.cmd(&["DEL", "p"]);
        d.cmd(&["PFADD", "p"]);
        d.cmd(&["PFDEBUG", "ENCODING", "p"]);
        let mut have = 0;
        for cp in [1u64, 5, 20, 60, 200, 1000, 4000, 9000] {
            add_range(&mut d, "p", have, cp, 13);
            have = cp;
            d.cmd(&["PFDEBUG", "ENCODING", "p"]);
            d.cmd(&["STRLEN", "p"]);
            d.cmd(&["PFCOUNT", "p"]);
        }
        d.cmd(&["GET", "p"]);
    }
}

#[test]
fn merge_and_union_across_encodings() {
    let mut d = Diff::new();
    add_range(&mut d, "a", 0, 300, 50);
    add_range(&mut d, "b", 200, 700, 50);
    add_range(&mut d, "big", 0, 20_000, 1000);
    d.cmd(&["PFDEBUG", "ENCODING", "a"]);
    d.cmd(&["PFDEBUG", "ENCODING", "big"]);
    d.run(
        r#"
        PFCOUNT a b
        PFCOUNT a b big
        PFMERGE sab a b
        PFDEBUG ENCODING sab
        GET sab
        PFCOUNT sab
        PFMERGE sab
        GET sab
        PFMERGE dab a big
        PFDEBUG ENCODING dab
        GET dab
        PFCOUNT dab
        PFMERGE a b
        GET a
        PFMERGE empty
        GET empty
        PFMERGE empty nokey1 nokey2
        GET empty
        PFCOUNT empty nokey
        PFMERGE big a
        GET big
        PFCOUNT big
        PFADD b more elements here
        PFMERGE b big
        PFDEBUG ENCODING b
        PFCOUNT b
        LPUSH list x
        PFMERGE list a
        PFMERGE a list
        PFCOUNT a list
        PFCOUNT list
        PFADD list x
        PFDEBUG GETREG list
        SET str hello
        PFMERGE a str
        PFCOUNT a str
        PFMERGE str a
        SET int 12345
        PFCOUNT int
        PFADD int x
        PFDEBUG ENCODING int
        PFDEBUG GETREG nokey
        PFDEBUG NOSUCH a
        PFDEBUG NOSUCH nokey
        PFDEBUG DECODE big
        PFSELFTEST
        "#,
    );
}

#[test]
fn dump_restore_cross_both_ways() {
    let mut d = Diff::new();
    add_range(&mut d, "sp", 0, 150, 50);
    add_range(&mut d, "dn", 0, 30_000, 1000);
    d.cmd(&["PFCOUNT", "dn"]);
    for key in ["sp", "dn"] {
        let payload = d.cmd(&["DUMP", key]);
        let payload = parse_reply(&payload).unwrap();
        let payload = payload.bytes().unwrap().to_vec();
        // The oracle's DUMP into ferrodis and ferrodis's into the oracle (they are equal, and
        // each side restores what the other made).
        let from_redis = d.redis.cmd(&[b"DUMP".as_slice(), key.as_bytes()]);
        let from_redis = parse_reply(&from_redis).unwrap().bytes().unwrap().to_vec();
        assert_eq!(payload, from_redis);
        let dst = format!("{key}-copy");
        let r1 = d
            .ferrodis
            .cmd(&[b"RESTORE".as_slice(), dst.as_bytes(), b"0", &from_redis]);
        let r2 = d
            .redis
            .cmd(&[b"RESTORE".as_slice(), dst.as_bytes(), b"0", &payload]);
        assert_eq!(r1, r2);
        d.cmd(&["PFCOUNT", &dst]);
        d.cmd(&["PFADD", &dst, "new1", "new2", "new3"]);
        d.cmd(&["PFCOUNT", &dst]);
        d.cmd(&["GET", &dst]);
        d.cmd(&["PFDEBUG", "GETREG", &dst]);
        d.cmd(&["DUMP", &dst]);
    }
}

/// A value made of `header` then `body`, SET on both sides, then every command on it.
fn probe(d: &mut Diff, value: &[u8]) {
    d.cmd(&[b"SET".as_slice(), b"c", value]);
    d.cmd(&["OBJECT", "ENCODING", "c"]);
    d.cmd(&["PFCOUNT", "c"]);
    d.cmd(&["OBJECT", "ENCODING", "c"]);
    d.cmd(&["PFCOUNT", "c", "nokey"]);
    d.cmd(&["PFMERGE", "dst", "c"]);
    d.cmd(&["PFDEBUG", "ENCODING", "c"]);
    d.cmd(&["PFDEBUG", "DECODE", "c"]);
    d.cmd(&["PFADD", "c", "a", "b", "c", "d", "e", "f", "g"]);
    d.cmd(&["GET", "c"]);
    d.cmd(&["PFCOUNT", "c"]);
    d.cmd(&[b"SET".as_slice(), b"c", value]);
    d.cmd(&["PFDEBUG", "GETREG", "c"]);
    d.cmd(&[b"SET".as_slice(), b"c", value]);
    d.cmd(&["PFDEBUG", "TODENSE", "c"]);
    d.cmd(&["GET", "c"]);
    d.cmd(&["DEL", "dst"]);
}

fn header(enc: u8, card: [u8; 8]) -> Vec<u8> {
    let mut v = b"HYLL".to_vec();
    v.push(enc);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&card);
    v
}

const STALE: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 0x80];

#[test]
fn corrupt_values_get_redis_errors() {
    let mut d = Diff::new();
    let mut values: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"HYLL".to_vec(),
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        b"HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff".to_vec(),
        b"hyll\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff".to_vec(),
    ];
    // Unknown encodings, a dense value of the wrong length, a sparse value with no opcodes.
    values.push([header(2, STALE), vec![0x7f, 0xff]].concat());
    values.push([header(255, STALE), vec![0x7f, 0xff]].concat());
    values.push([header(0, STALE), vec![0; 100]].concat());
    values.push([header(0, STALE), vec![0; 12289]].concat());
    values.push(header(1, STALE));
    values.push(header(1, [5, 0, 0, 0, 0, 0, 0, 0]));
    // Sparse forms covering too few or too many registers.
    values.push([header(1, STALE), vec![0x7f, 0xfe]].concat());
    values.push([header(1, STALE), vec![0x7f, 0xff, 0x00]].concat());
    values.push([header(1, STALE), vec![0x7f, 0xff, 0x7f, 0xff]].concat());
    values.push([header(1, STALE), vec![0x7f, 0xfb, 0x8f]].concat());
    values.push([header(1, STALE), vec![0x7f, 0xfc, 0x8f, 0x8f]].concat());
    values.push([header(1, STALE), vec![0x7f, 0xfd, 0xff]].concat());
    // A truncated XZERO at the end reads a 0 low byte; one that then covers exactly 16384.
    values.push([header(1, STALE), vec![0x7f, 0xff, 0x40]].concat());
    values.push([header(1, STALE), vec![0x7e, 0xff, 0x40]].concat());
    values.push([header(1, STALE), vec![0x7f, 0x00, 0x40]].concat());
    values.push([header(1, STALE), vec![0x7e, 0xff, 0x83, 0x00]].concat());
    // VAL runs only, and a valid cached cardinality that is simply believed.
    let mut vals = header(1, STALE);
    vals.extend(std::iter::repeat_n(0xfb, 4096)); // VAL:31,4 x 4096 = 16384 registers
    values.push(vals);
    values.push([header(1, [42, 0, 0, 0, 0, 0, 0, 0]), vec![0x7f, 0xff]].concat());
    values.push(
        [
            header(1, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            vec![0x7f, 0xff],
        ]
        .concat(),
    );
    // Dense values with registers at the largest values (above what a hash can produce).
    for fill in [0u8, 0x41, 0xcb, 0xff] {
        values.push([header(0, STALE), vec![fill; 12288]].concat());
    }
    for v in &values {
        probe(&mut d, v);
    }
    // Every register 51 (the largest value a hash can give), set through SETRANGE.
    let mut regs = vec![0u8; 12288];
    for i in 0..16384 {
        let byte = i * 6 / 8;
        let fb = (i * 6) % 8;
        let v: u32 = 51 << fb;
        regs[byte] |= v as u8;
        if byte + 1 < regs.len() {
            regs[byte + 1] |= (v >> 8) as u8;
        }
    }
    probe(&mut d, &[header(0, STALE), regs].concat());
}
