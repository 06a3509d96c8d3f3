//! Differential tests of the list commands (src/commands/list.rs, src/types/list.rs) against the
//! oracle: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM LTRIM LPOS
//! LMOVE RPOPLPUSH LMPOP, the non-blocking paths of BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP, SORT
//! on lists, COPY, keyspace events, error cases, RESP2 and RESP3.
//!
//! The same workload runs under several list options, because the quicklist's node layout
//! decides which code paths run: small lists (one node), lists of many small nodes
//! (`list-max-listpack-size 4`), compressed lists (`list-compress-depth 1` and 2, interior
//! nodes LZF-compressed), byte-limited nodes (fill -1) and plain nodes (`DEBUG
//! QUICKLIST-PACKED-THRESHOLD 100` on both servers: every element of 100 bytes or more gets a
//! node of its own holding the raw bytes, so the lists mix packed and plain nodes). After
//! every mutation the whole list is compared (LRANGE 0 -1, LLEN, OBJECT ENCODING, DEBUG
//! DIGEST-VALUE) and, where the server under test exposes them, the node statistics of DEBUG
//! OBJECT and the DUMP payload (byte-identical nodes, containers and LZF blobs).

mod common;

use common::*;

/// A deterministic mix of element kinds: small and large integers (listpack int encodings of
/// every width), non-canonical integer strings, empty strings, short and long strings, and
/// recurring values ("dup", "42") for LPOS/LREM/LINSERT to find.
fn elements(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = x >> 33;
        let v: Vec<u8> = match i % 13 {
            0 => b"dup".to_vec(),
            1 => (r % 128).to_string().into_bytes(),
            2 => format!("-{}", r % 5000).into_bytes(),
            3 => (r as i64 * 1_000_003).to_string().into_bytes(),
            4 => b"42".to_vec(),
            5 => format!("s{r}").into_bytes(),
            6 => vec![b'a' + (r % 26) as u8; 20 + (r % 90) as usize],
            7 => b"007".to_vec(),
            8 => i64::MIN.to_string().into_bytes(),
            9 => vec![b'z'; 200 + (r % 300) as usize],
            10 => Vec::new(),
            11 => (r % 70000).to_string().into_bytes(),
            _ => format!("elem:{i}").into_bytes(),
        };
        out.push(v);
    }
    out
}

/// Fills `key` on both sides with RPUSH in chunks.
fn fill(d: &mut Diff, key: &str, items: &[Vec<u8>]) {
    for chunk in items.chunks(100) {
        let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), key.as_bytes().to_vec()];
        args.extend(chunk.iter().cloned());
        d.cmd(&args);
    }
}

/// The ` ql_...` part of a DEBUG OBJECT reply, if any.
fn ql_fields(reply: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(reply);
    s.find(" ql_nodes:").map(|i| s[i..].trim_end().to_string())
}

/// Compares the whole list and its structure on both sides.
fn check(d: &mut Diff, key: &str) {
    d.cmd(&["LRANGE", key, "0", "-1"]);
    d.cmd(&["LLEN", key]);
    d.cmd(&["OBJECT", "ENCODING", key]);
    d.cmd(&["EXISTS", key]);
    d.cmd(&["DEBUG", "DIGEST-VALUE", key]);
    let (f, r) = d.both(&["DEBUG", "OBJECT", key]);
    if let (Some(f), Some(r)) = (ql_fields(&f), ql_fields(&r)) {
        assert_eq!(f, r, "DEBUG OBJECT {key}: quicklist statistics differ");
    }
    let (f, r) = d.both(&["DUMP", key]);
    if !f.starts_with(b"-ERR unknown command") {
        assert_same(&format!("DUMP {key}"), &f, &r);
    }
}

/// Runs `f` with both servers switched to the given list options (new lists only).
fn set_options(d: &mut Diff, fill: &str, depth: &str) {
    d.cmd(&["CONFIG", "SET", "list-max-listpack-size", fill]);
    d.cmd(&["CONFIG", "SET", "list-compress-depth", depth]);
    // DUMP compares listpack blobs as stored, not LZF strings of them.
    d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
}

/// Read-only commands over a list of `n` elements, and their error cases.
fn reads(d: &mut Diff, key: &str, n: i64) {
    let idx = |i: i64| i.to_string();
    let ranges = [
        (0, -1),
        (0, 0),
        (-1, -1),
        (1, 3),
        (n / 2, n / 2 + 10),
        (-n - 5, 2),
        (5, 2),
        (n, n + 5),
        (-3, n + 100),
        (-n, -n),
        (i64::MIN, i64::MAX),
        (n - 7, -2),
    ];
    for (a, b) in ranges {
        d.cmd(&["LRANGE", key, &idx(a), &idx(b)]);
    }
    for i in [
        0,
        1,
        n / 3,
        n / 2,
        n - 1,
        -1,
        -2,
        -n,
        n,
        -n - 1,
        i64::MAX,
        i64::MIN,
    ] {
        d.cmd(&["LINDEX", key, &idx(i)]);
    }
    for v in ["dup", "42", "007", "", "nope", "-1", "9223372036854775807"] {
        d.cmd(&["LPOS", key, v]);
        for opts in [
            &["RANK", "2"][..],
            &["RANK", "-1"],
            &["RANK", "-3"],
            &["COUNT", "0"],
            &["COUNT", "3"],
            &["RANK", "2", "COUNT", "2"],
            &["RANK", "-2", "COUNT", "0"],
            &["MAXLEN", "20"],
            &["RANK", "-1", "COUNT", "0", "MAXLEN", "30"],
            &["COUNT", "0", "MAXLEN", "1"],
            &["RANK", "1000", "COUNT", "0"],
            &["RANK", "-9223372036854775808", "COUNT", "1"],
            &["RANK", "9223372036854775807"],
            &["count", "1", "rank", "1", "maxlen", "0"],
        ] {
            let mut args = vec!["LPOS", key, v];
            args.extend_from_slice(opts);
            d.cmd(&args);
        }
    }
    d.run(&format!(
        "LLEN {key}
         LLEN nokey
         LRANGE nokey 0 -1
         LRANGE {key} a 1
         LRANGE {key} 1 b
         LRANGE {key} 1.5 2
         LRANGE nokey x 1
         LINDEX {key} abc
         LINDEX nokey abc
         LINDEX nokey 0
         LPOS nokey a
         LPOS nokey a COUNT 0
         LPOS {key} dup RANK 0
         LPOS {key} dup RANK x
         LPOS {key} dup RANK 9223372036854775808
         LPOS {key} dup COUNT -1
         LPOS {key} dup COUNT x
         LPOS {key} dup MAXLEN -1
         LPOS {key} dup MAXLEN x
         LPOS {key} dup COUNT
         LPOS {key} dup FOO 1
         LPOS {key} dup RANK 1 RANK 2
         LPOS nokey dup RANK 0"
    ));
}

/// Every mutating command on `key` (prefilled) and helper keys, comparing the lists after each.
fn writes(d: &mut Diff, key: &str) {
    let n = {
        let v = d.ferrodis.value(&["LLEN", key]);
        v.int().expect("LLEN")
    };
    let big = "B".repeat(300);
    let mid = (n / 2).to_string();
    // LSET at the ends and in the middle, with strings, integers and long values.
    for (i, v) in [
        ("0", "first"),
        ("-1", "last"),
        (&mid[..], "12345"),
        ("1", &big[..]),
        ("-2", "-7"),
        (&mid[..], "x"),
    ] {
        d.cmd(&["LSET", key, i, v]);
        check(d, key);
    }
    d.run(&format!(
        "LSET {key} 100000 v
         LSET {key} -100000 v
         LSET {key} x v
         LSET nokey 0 v
         LSET nokey x v"
    ));
    // LINSERT around repeated, integer and missing pivots.
    for (w, p, v) in [
        ("BEFORE", "dup", "ins1"),
        ("AFTER", "dup", "77"),
        ("after", "42", &big[..]),
        ("before", "first", "new-head"),
        ("AFTER", "last", "new-tail"),
        ("BEFORE", "nope", "x"),
        ("BEFORE", "", "empty-pivot"),
    ] {
        d.cmd(&["LINSERT", key, w, p, v]);
        check(d, key);
    }
    d.run(&format!(
        "LINSERT {key} MIDDLE dup x
         LINSERT nokey BEFORE a b
         LINSERT nokey MIDDLE a b"
    ));
    // LREM from both ends and everywhere.
    for (cnt, v) in [
        ("1", "dup"),
        ("-2", "dup"),
        ("2", "42"),
        ("0", "007"),
        ("0", "nope"),
        ("-9223372036854775808", "dup"),
        ("0", ""),
    ] {
        d.cmd(&["LREM", key, cnt, v]);
        check(d, key);
    }
    d.run(&format!("LREM {key} x dup\nLREM nokey 1 a"));
    // Pushes on both ends, X variants.
    d.run(&format!(
        "LPUSH {key} h1 2 h3
         RPUSH {key} t1 -5 t3
         LPUSHX {key} hx
         RPUSHX {key} tx 99
         LPUSHX nokey a
         RPUSHX nokey a b
         EXISTS nokey"
    ));
    check(d, key);
    // Pops with and without COUNT.
    d.run(&format!(
        "LPOP {key}
         RPOP {key}
         LPOP {key} 0
         LPOP {key} 1
         RPOP {key} 3
         LPOP {key} 7
         RPOP {key} 2
         LPOP {key} -1
         LPOP {key} x
         RPOP {key} 9223372036854775808
         LPOP {key} 1 2
         RPOP {key} 1 2 3
         LPOP nokey
         LPOP nokey 0
         LPOP nokey 3
         RPOP nokey"
    ));
    check(d, key);
    // LMOVE / RPOPLPUSH in every direction, onto a new and an existing list, and rotations.
    d.cmd(&["DEL", "dst"]);
    for (a, b) in [
        ("LEFT", "LEFT"),
        ("LEFT", "RIGHT"),
        ("RIGHT", "LEFT"),
        ("right", "right"),
    ] {
        d.cmd(&["LMOVE", key, "dst", a, b]);
        check(d, key);
        check(d, "dst");
        d.cmd(&["LMOVE", key, key, a, b]);
        check(d, key);
    }
    d.run(&format!(
        "RPOPLPUSH {key} dst
         RPOPLPUSH {key} {key}
         RPOPLPUSH nokey dst
         LMOVE nokey dst LEFT RIGHT
         LMOVE {key} dst MIDDLE LEFT
         LMOVE {key} dst LEFT UP
         LMOVE nokey dst LEFT UP"
    ));
    check(d, key);
    check(d, "dst");
    // LMPOP and the non-blocking paths of the blocking commands.
    d.run(&format!(
        "LMPOP 2 nokey {key} LEFT
         LMPOP 2 nokey {key} RIGHT COUNT 3
         LMPOP 1 {key} left count 1
         LMPOP 3 nokey dst {key} right COUNT 2
         LMPOP 1 nokey LEFT
         LMPOP 0 {key} LEFT
         LMPOP -1 {key} LEFT
         LMPOP x {key} LEFT
         LMPOP 2 {key} LEFT
         LMPOP 1 {key} MIDDLE
         LMPOP 1 {key} LEFT COUNT 0
         LMPOP 1 {key} LEFT COUNT -1
         LMPOP 1 {key} LEFT COUNT x
         LMPOP 1 {key} LEFT COUNT 1 COUNT 1
         LMPOP 1 {key} LEFT FOO
         LMPOP 1 {key} LEFT COUNT
         LMPOP 9223372036854775807 {key} LEFT
         BLPOP nokey {key} 0
         BRPOP {key} nokey 1
         BLMOVE {key} dst LEFT RIGHT 0
         BLMOVE {key} {key} RIGHT LEFT 0.5
         BRPOPLPUSH {key} dst 0
         BLMPOP 0 2 nokey {key} RIGHT COUNT 2
         BLMPOP 1 1 {key} LEFT
         BLMPOP x 1 {key} LEFT
         BLMPOP 0 0 {key} LEFT
         BLMPOP 0 1 {key} LEFT COUNT 0
         BLMPOP 0 1 {key} MIDDLE
         BLPOP {key} x
         BLPOP {key} -1
         BRPOP {key} abc
         BLMOVE {key} dst LEFT LEFT x
         BLMOVE {key} dst MIDDLE LEFT 0
         BRPOPLPUSH {key} dst -1"
    ));
    check(d, key);
    check(d, "dst");
    // LTRIM down to nothing deletes the key.
    d.run(&format!(
        "LTRIM {key} 2 -3
         LTRIM {key} 1 1000000
         LTRIM {key} -1000000 -2
         LTRIM nokey 0 1
         LTRIM {key} x 1
         LTRIM nokey x 1
         LTRIM {key} 0 y"
    ));
    check(d, key);
    d.run(&format!(
        "LTRIM {key} 5 2\nEXISTS {key}\nLTRIM dst -1 0\nEXISTS dst"
    ));
}

/// WRONGTYPE for every command, after the argument checks that come first.
fn wrong_types(d: &mut Diff) {
    d.run(
        "SET s v
         LPUSH s a
         RPUSH s a
         LPUSHX s a
         RPUSHX s a
         LINSERT s BEFORE a b
         LINSERT s MIDDLE a b
         LLEN s
         LINDEX s 0
         LINDEX s x
         LSET s 0 v
         LSET s x v
         LPOP s
         LPOP s 0
         LPOP s x
         RPOP s 2
         LRANGE s 0 -1
         LRANGE s x 1
         LTRIM s 0 1
         LPOS s a
         LPOS s a RANK 0
         LREM s 0 a
         LREM s x a
         RPUSH l a b c
         LMOVE s l LEFT LEFT
         LMOVE l s LEFT LEFT
         LMOVE s l MIDDLE LEFT
         RPOPLPUSH s l
         RPOPLPUSH l s
         LMPOP 2 nokey s LEFT
         LMPOP 2 l s LEFT
         BLPOP nokey s 0
         BLPOP l s 0
         BRPOP s 0
         BLMOVE s l LEFT LEFT 0
         BLMOVE l s LEFT LEFT 0
         BRPOPLPUSH s l 0
         BLMPOP 0 1 s LEFT
         LRANGE l 0 -1
         SORT s
         DEL s l",
    );
}

/// The whole workload under one set of list options.
fn workload(fill_opt: &str, depth: &str, n: usize) {
    workload_with_threshold(fill_opt, depth, n, None)
}

/// The whole workload, with `DEBUG QUICKLIST-PACKED-THRESHOLD` set on both servers first when
/// given (elements at least that long then live in plain nodes).
fn workload_with_threshold(fill_opt: &str, depth: &str, n: usize, threshold: Option<&str>) {
    let mut d = Diff::new();
    if let Some(t) = threshold {
        d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", t]);
    }
    set_options(&mut d, fill_opt, depth);
    let items = elements(n, n as u64 + fill_opt.len() as u64);
    for resp in ["2", "3"] {
        d.run(&format!("? HELLO {resp}\nFLUSHALL"));
        fill(&mut d, "L", &items);
        check(&mut d, "L");
        reads(&mut d, "L", n as i64);
        writes(&mut d, "L");
        d.cmd(&["DEL", "L", "dst"]);
        fill(&mut d, "L", &items);
        // SORT reads lists; STORE writes one with the default options.
        d.run(
            "SORT L LIMIT 0 20 ALPHA
             SORT L BY nosort
             SORT L BY nosort DESC LIMIT 3 10
             SORT L ALPHA STORE sorted
             LRANGE sorted 0 -1
             OBJECT ENCODING sorted
             SORT_RO L ALPHA LIMIT 5 5",
        );
        check(&mut d, "sorted");
        d.cmd(&["COPY", "L", "copy"]);
        check(&mut d, "copy");
        d.cmd(&["TYPE", "L"]);
        wrong_types(&mut d);
    }
}

#[test]
fn small_lists() {
    workload("-2", "0", 40);
}

#[test]
fn many_nodes() {
    workload("4", "0", 300);
}

#[test]
fn compressed_depth_1() {
    workload("4", "1", 300);
}

#[test]
fn compressed_depth_2_byte_limited_nodes() {
    workload("-1", "2", 400);
}

#[test]
fn large_count_limited_nodes() {
    workload("100", "3", 700);
}

#[test]
fn plain_nodes_small_lists() {
    workload_with_threshold("-2", "0", 40, Some("100"));
}

#[test]
fn plain_nodes_many_nodes() {
    workload_with_threshold("4", "0", 300, Some("100"));
}

#[test]
fn plain_nodes_compressed_depth_1() {
    workload_with_threshold("4", "1", 300, Some("100"));
}

#[test]
fn plain_nodes_compressed_depth_2_byte_limited() {
    workload_with_threshold("-1", "2", 400, Some("100"));
}

#[test]
fn plain_nodes_large_count_limited_nodes() {
    workload_with_threshold("100", "3", 500, Some("100"));
}

/// CONFIG SET of the list options applies to lists created afterwards, not to existing ones
/// (each list keeps the fill and depth it was created with), as DEBUG OBJECT and DUMP show.
#[test]
fn config_set_applies_to_new_lists() {
    let mut d = Diff::new();
    d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    let items = elements(120, 7);
    fill(&mut d, "old", &items);
    set_options(&mut d, "3", "1");
    fill(&mut d, "old", &items);
    fill(&mut d, "new", &items);
    check(&mut d, "old");
    check(&mut d, "new");
    // LMOVE creates its destination with the options in force; SORT STORE uses the defaults.
    d.cmd(&["LMOVE", "new", "moved", "LEFT", "LEFT"]);
    check(&mut d, "moved");
    d.cmd(&["SORT", "new", "ALPHA", "STORE", "sorted"]);
    check(&mut d, "sorted");
    d.cmd(&["CONFIG", "SET", "list-max-listpack-size", "-5"]);
    d.cmd(&["CONFIG", "SET", "list-compress-depth", "0"]);
    fill(&mut d, "newer", &items);
    check(&mut d, "newer");
    d.run(
        "CONFIG GET list-max-listpack-size
         CONFIG GET list-max-ziplist-size
         CONFIG GET list-compress-depth",
    );
}

/// Large elements (several KiB) each fill a node on their own; pushes and inserts between them
/// split and merge nodes.
#[test]
fn large_elements() {
    let mut d = Diff::new();
    set_options(&mut d, "-2", "1");
    let big: Vec<Vec<u8>> = (0..40)
        .map(|i| vec![b'a' + (i % 26) as u8; 1000 + i * 257])
        .collect();
    fill(&mut d, "L", &big);
    check(&mut d, "L");
    d.cmd(&["LINSERT", "L", "BEFORE", &"c".repeat(1514), "small"]);
    check(&mut d, "L");
    d.cmd(&["LSET", "L", "5", &"Q".repeat(9000)]);
    check(&mut d, "L");
    d.cmd(&["LSET", "L", "6", "tiny"]);
    check(&mut d, "L");
    d.cmd(&["LREM", "L", "0", "tiny"]);
    check(&mut d, "L");
    d.cmd(&["LTRIM", "L", "3", "-4"]);
    check(&mut d, "L");
    d.cmd(&["LRANGE", "L", "2", "9"]);
    d.cmd(&["LPOP", "L", "4"]);
    d.cmd(&["RPOP", "L", "4"]);
    check(&mut d, "L");
}

/// Random operations on both servers, compared after every step, over long runs that go
/// through splits, merges and (de)compression.
#[test]
fn random_operations() {
    let mut d = Diff::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m.max(1)
    };
    for (fill_opt, depth) in [("3", "1"), ("-1", "2"), ("5", "0")] {
        set_options(&mut d, fill_opt, depth);
        d.cmd(&["DEL", "R", "S"]);
        let pool = elements(60, 99);
        for step in 0..600 {
            let v = &pool[next(pool.len() as u64) as usize];
            let i = (next(80) as i64 - 40).to_string();
            let j = (next(80) as i64 - 40).to_string();
            let args: Vec<Vec<u8>> = match next(12) {
                0 | 1 => vec![b"RPUSH".to_vec(), b"R".to_vec(), v.clone(), v.clone()],
                2 => vec![b"LPUSH".to_vec(), b"R".to_vec(), v.clone()],
                3 => vec![
                    b"LINSERT".to_vec(),
                    b"R".to_vec(),
                    b"AFTER".to_vec(),
                    v.clone(),
                    b"ins".to_vec(),
                ],
                4 => vec![b"LREM".to_vec(), b"R".to_vec(), i.into_bytes(), v.clone()],
                5 => vec![b"LSET".to_vec(), b"R".to_vec(), i.into_bytes(), v.clone()],
                6 => vec![
                    b"LPOP".to_vec(),
                    b"R".to_vec(),
                    (next(4)).to_string().into_bytes(),
                ],
                7 => vec![b"RPOP".to_vec(), b"R".to_vec()],
                8 => vec![
                    b"LTRIM".to_vec(),
                    b"R".to_vec(),
                    i.into_bytes(),
                    j.into_bytes(),
                ],
                9 => vec![
                    b"LMOVE".to_vec(),
                    b"R".to_vec(),
                    b"S".to_vec(),
                    b"LEFT".to_vec(),
                    b"RIGHT".to_vec(),
                ],
                10 => vec![b"RPOPLPUSH".to_vec(), b"S".to_vec(), b"R".to_vec()],
                _ => vec![
                    b"LRANGE".to_vec(),
                    b"R".to_vec(),
                    i.into_bytes(),
                    j.into_bytes(),
                ],
            };
            d.cmd(&args);
            if step % 25 == 0 {
                check(&mut d, "R");
                check(&mut d, "S");
            }
        }
        check(&mut d, "R");
    }
}

/// Inside MULTI the blocking commands do not block: an empty key answers as a timeout (a null
/// array, or a null bulk for BLMOVE/BRPOPLPUSH), even with timeout 0.
#[test]
fn blocking_commands_inside_multi() {
    let mut d = Diff::new();
    for resp in ["2", "3"] {
        d.run(&format!(
            "? HELLO {resp}
             DEL l e
             MULTI
             BLPOP e 0
             BRPOP e e2 0
             BLMOVE e d LEFT LEFT 0
             BRPOPLPUSH e d 0
             BLMPOP 0 1 e LEFT
             BLMPOP 0 2 e e2 RIGHT COUNT 3
             RPUSH l a b c
             BLPOP e l 0
             BLMOVE l d RIGHT LEFT 0
             BLMPOP 0 1 l LEFT COUNT 5
             EXEC
             EXISTS l d"
        ));
    }
}

/// Keyspace events: names, classes and order (lpush, rpush, lpop with del, lmove's pair...).
#[test]
fn keyspace_events() {
    let mut d = Diff::new();
    let mut sub = d.another();
    d.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    sub.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    let script = "RPUSH l a b c
         LPUSH l z
         LPUSHX l y
         RPUSHX nokey y
         LINSERT l BEFORE a q
         LINSERT l BEFORE nope q
         LSET l 0 w
         LREM l 1 q
         LREM l 1 nope
         LTRIM l 0 -1
         LPOP l
         RPOP l 2
         LMOVE l m RIGHT LEFT
         LMOVE m m LEFT RIGHT
         RPOPLPUSH m l
         LMPOP 1 l LEFT COUNT 10
         RPUSH b 1
         BLPOP b 0
         RPUSH b 1 2
         BLMOVE b c LEFT LEFT 0
         BLMPOP 0 1 b RIGHT
         SORT c STORE s
         LTRIM s 1 0
         RPUSH t 1
         LTRIM t 5 6
         RPUSH r 1
         LREM r 0 1
         DEL c";
    d.run(script);
    d.run("PING");
    // Collect everything each subscriber received; the streams must match exactly.
    let (mut f, mut r) = (Vec::new(), Vec::new());
    while let Some(m) = sub
        .ferrodis
        .try_read_reply(std::time::Duration::from_millis(300))
    {
        f.push(m);
    }
    while let Some(m) = sub
        .redis
        .try_read_reply(std::time::Duration::from_millis(300))
    {
        r.push(m);
    }
    assert!(!r.is_empty());
    assert_same("keyspace events", &f.concat(), &r.concat());
}
