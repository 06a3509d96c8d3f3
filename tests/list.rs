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

/// The `serializedlength:` field and the ` ql_...` part of a DEBUG OBJECT reply, if any.
fn ql_fields(reply: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(reply);
    let len = s.find("serializedlength:").map(|i| {
        let rest = &s[i..];
        rest[..rest.find(' ').unwrap_or(rest.len())].to_string()
    })?;
    s.find(" ql_nodes:")
        .map(|i| format!("{len}{}", s[i..].trim_end()))
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

/// Plain nodes: with `DEBUG QUICKLIST-PACKED-THRESHOLD 100` an element of 100 bytes or more
/// gets a node of its own. Each step below is one way a command meets plain nodes, under
/// count- and byte-limited fills and compress depths 0 to 2; after every step the lists are
/// compared whole, DUMP bytes included (node boundaries, PLAIN/PACKED containers, LZF blobs).
#[test]
fn plain_node_transitions() {
    let mut d = Diff::new();
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let big = |c: char, n: usize| c.to_string().repeat(n);
    // Incompressible large elements stay raw even inside the compress depth.
    let noise = |seed: u64, n: usize| -> String {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'!' + (x % 90) as u8) as char
            })
            .collect()
    };
    let (b1, b2, b3) = (big('P', 150), big('Q', 300), noise(7, 200));
    let (at, below, above) = (big('t', 100), big('u', 99), big('v', 101));
    for (fill, depth) in [("3", "0"), ("3", "1"), ("-1", "2"), ("-2", "1"), ("1", "1")] {
        for resp in ["2", "3"] {
            set_options(&mut d, fill, depth);
            d.run(&format!("? HELLO {resp}\nDEL L M"));
            // Pushes: small ones share nodes, large ones get their own, at both ends.
            d.cmd(&[
                "RPUSH", "L", "a", "b", "c", &b1, "d", "e", "f", &b2, "g", "h",
            ]);
            check(&mut d, "L");
            d.cmd(&["LPUSH", "L", &b3, "x", &at, "y", &below]);
            check(&mut d, "L");
            d.cmd(&["RPUSH", "L", &above, "z", &b1]);
            check(&mut d, "L");
            // LINSERT before/after a plain pivot, small and large new elements.
            for (w, pivot, v) in [
                ("BEFORE", &b1[..], "s1"),
                ("AFTER", &b1[..], "s2"),
                ("BEFORE", &b2[..], &b3[..]),
                ("AFTER", &b2[..], &above[..]),
                ("AFTER", &at[..], "s3"),
                // Around packed pivots: at a node's head, tail and middle (a split).
                ("BEFORE", "a", &b2[..]),
                ("AFTER", "c", &b1[..]),
                ("AFTER", "e", &b3[..]),
                ("BEFORE", "e", &at[..]),
                ("BEFORE", "g", "s4"),
                ("AFTER", "h", &below[..]),
                ("AFTER", "z", &b2[..]),
            ] {
                d.cmd(&["LINSERT", "L", w, pivot, v]);
                check(&mut d, "L");
            }
            // LSET: packed -> plain (head, middle and tail of a node, a one-element node),
            // plain -> packed, plain -> plain, and the 99/100/101-byte boundary.
            let n = d.ferrodis.value(&["LLEN", "L"]).int().expect("LLEN");
            for (i, v) in [
                ("0", &b2[..]),
                ("3", &b1[..]),
                ("5", &at[..]),
                ("-1", "tail"),
                ("-2", &b3[..]),
                ("1", "one"),
                ("2", &below[..]),
                ("4", &above[..]),
                ("6", "7"),
                ("8", &b1[..]),
                (&(n / 2).to_string()[..], &b2[..]),
                (&(n / 2 + 1).to_string()[..], "mid"),
            ] {
                d.cmd(&["LSET", "L", i, v]);
                check(&mut d, "L");
            }
            // Reads across mixed nodes.
            reads(&mut d, "L", n);
            for v in [&b1[..], &b2[..], &b3[..], &at[..], &below[..], &above[..]] {
                d.cmd(&["LPOS", "L", v, "RANK", "-1", "COUNT", "0"]);
                d.cmd(&["LPOS", "L", v, "COUNT", "2", "MAXLEN", "9"]);
            }
            // LREM of large and small values from both ends.
            for (c, v) in [("1", &b1[..]), ("-1", &b2[..]), ("0", "s1"), ("2", &at[..])] {
                d.cmd(&["LREM", "L", c, v]);
                check(&mut d, "L");
            }
            // Moves of plain elements between lists and within one (rotation).
            for (a, b) in [("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")] {
                d.cmd(&["LMOVE", "L", "M", a, b]);
                d.cmd(&["LMOVE", "L", "L", a, b]);
                check(&mut d, "L");
                check(&mut d, "M");
            }
            d.cmd(&["RPOPLPUSH", "M", "L"]);
            d.cmd(&["BLMOVE", "L", "M", "LEFT", "LEFT", "0"]);
            d.cmd(&["RPOPLPUSH", "L", "L"]);
            check(&mut d, "L");
            check(&mut d, "M");
            // Pops with counts spanning plain and packed nodes, LMPOP.
            d.cmd(&["LPOP", "L", "3"]);
            d.cmd(&["RPOP", "L", "2"]);
            check(&mut d, "L");
            d.cmd(&["LMPOP", "2", "nokey", "L", "RIGHT", "COUNT", "3"]);
            d.cmd(&["BLMPOP", "0", "2", "M", "L", "LEFT", "COUNT", "2"]);
            check(&mut d, "L");
            check(&mut d, "M");
            // LTRIM cutting through plain nodes.
            d.cmd(&["RPUSH", "L", &b1, "k", &b2, "l", &b3, "m"]);
            d.cmd(&["LTRIM", "L", "1", "-2"]);
            check(&mut d, "L");
            d.cmd(&["LTRIM", "L", "2", "-3"]);
            check(&mut d, "L");
            // DUMP with LZF strings too, and RESTORE of each side's payload.
            d.cmd(&["CONFIG", "SET", "rdbcompression", "yes"]);
            d.cmd(&["DUMP", "L"]);
            restore_both(&mut d, "L", "R");
            check(&mut d, "R");
            d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
            // DEBUG RELOAD keeps the node boundaries.
            d.cmd(&["DEBUG", "RELOAD"]);
            check(&mut d, "L");
            check(&mut d, "M");
            // DEBUG QUICKLIST with contents leaves compressed nodes raw, as DUMP shows.
            d.cmd(&["DEBUG", "QUICKLIST", "L", "1"]);
            check(&mut d, "L");
        }
    }
}

/// DUMPs `src` on the oracle and RESTOREs the payload as `dst` on both servers (the payload
/// was already compared byte for byte by `check`).
fn restore_both(d: &mut Diff, src: &str, dst: &str) {
    let payload = d.redis.value(&["DUMP", src]);
    let bytes = payload.bytes().expect("DUMP payload").to_vec();
    let args: Vec<Vec<u8>> = vec![
        b"RESTORE".to_vec(),
        dst.as_bytes().to_vec(),
        b"0".to_vec(),
        bytes,
        b"REPLACE".to_vec(),
    ];
    d.cmd(&args);
}

/// A threshold changed while plain nodes exist: nodes keep their container; later inserts
/// and LSETs follow the new threshold (a plain node holding a now-small element is still
/// never joined, and a packed node is not split for elements it already has).
#[test]
fn plain_nodes_across_threshold_changes() {
    let mut d = Diff::new();
    set_options(&mut d, "4", "1");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let mid = "m".repeat(150);
    let items: Vec<String> = (0..30)
        .map(|i| {
            if i % 4 == 1 {
                mid.clone()
            } else {
                format!("{i}{}", "w".repeat(60))
            }
        })
        .collect();
    let mut args = vec!["RPUSH", "L"];
    args.extend(items.iter().map(|s| s.as_str()));
    d.cmd(&args);
    check(&mut d, "L");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"]);
    d.run(&format!(
        "RPUSH L {mid} x
         LINSERT L AFTER {mid} small
         LINSERT L BEFORE {mid} {mid}
         LSET L 1 {mid}
         LSET L 5 y"
    ));
    check(&mut d, "L");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "50"]);
    d.run(&format!(
        "LINSERT L AFTER 0{w} {mid}
         LSET L 3 {mid}
         LPUSH L {mid} a
         LREM L 2 {mid}",
        w = "w".repeat(60)
    ));
    check(&mut d, "L");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]);
    d.run(&format!("RPUSH L {mid}\nLSET L 0 {mid}"));
    check(&mut d, "L");
    // Threshold 1: every non-empty element is plain, empty ones stay packed.
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1"]);
    d.run(
        "RPUSH E '' a '' '' b 1 ''
         LINSERT E AFTER a ''
         LINSERT E BEFORE b c
         LSET E 0 z
         LSET E 1 ''
         LREM E 2 ''
         LPUSH E '' ''",
    );
    check(&mut d, "E");
    d.run("LRANGE E 0 -1\nLPOS E '' COUNT 0\nLTRIM E 1 -2\nLPOP E 2");
    check(&mut d, "E");
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD's accepted values and errors (memory units, 0 restores the
/// default, above 4 GiB - 1 MiB refused), and DEBUG LISTPACK / DEBUG QUICKLIST's replies.
#[test]
fn debug_quicklist_subcommands() {
    let mut d = Diff::new();
    d.run(
        "DEBUG QUICKLIST-PACKED-THRESHOLD 100
         DEBUG quicklist-packed-threshold 1k
         DEBUG QUICKLIST-PACKED-THRESHOLD 2KB
         DEBUG QUICKLIST-PACKED-THRESHOLD 1
         DEBUG QUICKLIST-PACKED-THRESHOLD 0
         DEBUG QUICKLIST-PACKED-THRESHOLD ''
         DEBUG QUICKLIST-PACKED-THRESHOLD 4293918720
         DEBUG QUICKLIST-PACKED-THRESHOLD 4293918721
         DEBUG QUICKLIST-PACKED-THRESHOLD 4gb
         DEBUG QUICKLIST-PACKED-THRESHOLD 5000000000
         DEBUG QUICKLIST-PACKED-THRESHOLD 18446744073709551616
         DEBUG QUICKLIST-PACKED-THRESHOLD -1
         DEBUG QUICKLIST-PACKED-THRESHOLD abc
         DEBUG QUICKLIST-PACKED-THRESHOLD 1.5k
         DEBUG QUICKLIST-PACKED-THRESHOLD +5
         DEBUG QUICKLIST-PACKED-THRESHOLD ' 5'
         DEBUG QUICKLIST-PACKED-THRESHOLD
         DEBUG QUICKLIST-PACKED-THRESHOLD 1 2
         RPUSH l a b c
         HSET h f v
         ZADD z 1 m
         SET s v
         SADD set 1
         DEBUG LISTPACK h
         DEBUG LISTPACK z
         DEBUG LISTPACK l
         DEBUG LISTPACK s
         DEBUG LISTPACK set
         DEBUG LISTPACK nokey
         DEBUG LISTPACK
         DEBUG LISTPACK h x
         DEBUG QUICKLIST l
         DEBUG QUICKLIST l 1
         DEBUG QUICKLIST l abc
         DEBUG QUICKLIST h
         DEBUG QUICKLIST s 1
         DEBUG QUICKLIST nokey
         DEBUG QUICKLIST
         DEBUG QUICKLIST l 1 2",
    );
    // The threshold in force is the last accepted one (1 byte, then 0 = the 1 GiB default,
    // then '' = 0 again, then 4293918720): a 200-byte element is packed.
    d.cmd(&["RPUSH", "p", "a", &"x".repeat(200), "b"]);
    check(&mut d, "p");
}

/// Redis's list reads go through a quicklist iterator that compresses, as it leaves them, the
/// raw nodes it visited (and the first node past the compress depth at each end). A node can
/// be raw outside the depth: an in-place LINSERT grew it past 48 bytes (the minimum worth
/// compressing), or DEBUG QUICKLIST <key> 1 decompressed everything. Each read below runs on
/// such a list and the DUMP right after it (no other command in between) must match: the
/// node it compressed, or left alone, is visible there.
#[test]
fn reads_compress_nodes_left_raw() {
    let mut d = Diff::new();
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    let grown = "g".repeat(68);
    let plain = "p".repeat(120);
    let reads: &[&str] = &[
        "LLEN K",
        "LINDEX K 0",
        "LINDEX K 12",
        "LINDEX K -1",
        "LINDEX K 99",
        "LRANGE K 0 3",
        "LRANGE K 8 9",
        "LRANGE K 20 25",
        "LRANGE K -3 -1",
        "LRANGE K 0 -1",
        "LPOS K 3",
        "LPOS K 12",
        "LPOS K 20 MAXLEN 5",
        "LPOS K nope",
        "LPOS K 25 RANK -1",
        "LPOS K 12 RANK -1 COUNT 0 MAXLEN 20",
        "DEBUG DIGEST-VALUE K",
        "DEBUG DIGEST",
        "SORT K BY nosort LIMIT 0 3",
        "SORT K BY nosort LIMIT 10 2",
        "SORT K BY nosort DESC LIMIT 0 3",
        "SORT K BY nosort DESC LIMIT 18 1",
        "SORT K BY nosort",
        "SORT K ALPHA LIMIT 0 1",
        "LTRIM K 1 -1",
        "LTRIM K 0 -2",
        "LTRIM K 12 -1",
        "LTRIM K 3 -4",
        "LPOP K 2",
        "RPOP K 2",
        "LPOP K",
        "LMPOP 1 K LEFT COUNT 3",
        "LMPOP 1 K RIGHT COUNT 7",
        "LSET K 12 x",
        "LINSERT K BEFORE 2 y",
        "LREM K 1 21",
        "OBJECT ENCODING K",
        "COPY K K2",
    ];
    for depth in ["1", "2"] {
        set_options(&mut d, "5", depth);
        d.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
        for build in 0..3 {
            for read in reads {
                d.cmd(&["DEL", "K", "K2"]);
                let nums: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
                let mut args = vec!["RPUSH", "K"];
                args.extend(nums.iter().map(|s| s.as_str()));
                d.cmd(&args);
                match build {
                    // A small raw node in the middle grows in place past 48 bytes.
                    0 => d.run(&format!("LREM K 0 13\nLINSERT K AFTER 12 {grown}")),
                    // Plain nodes among packed ones, then everything decompressed.
                    1 => d.run(&format!(
                        "LINSERT K AFTER 12 {plain}
                         LINSERT K BEFORE 20 {plain}
                         LSET K 3 {plain}
                         LINSERT K AFTER 27 {grown}
                         DEBUG QUICKLIST K 1"
                    )),
                    // Every node decompressed by DEBUG QUICKLIST.
                    _ => d.run("RPUSH K aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nDEBUG QUICKLIST K 1"),
                }
                d.cmd(&["DUMP", "K"]);
                eprintln!("depth {depth} build {build}: {read}");
                d.run(read);
                d.cmd(&["DUMP", "K"]);
                d.cmd(&["DUMP", "K2"]);
            }
        }
    }
}

/// Random operations on lists mixing plain and packed nodes (threshold 100, elements of 0 to
/// 400 bytes, some at the 99/100/101 boundary), under several fills and compress depths:
/// every list command, reads included (their iterators compress nodes), with DUMP compared
/// every few steps and DEBUG QUICKLIST <key> 1 now and then leaving nodes raw.
#[test]
fn random_operations_with_plain_nodes() {
    let mut d = Diff::new();
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m.max(1)
    };
    let mut pool: Vec<Vec<u8>> = elements(40, 5);
    for (i, n) in [99usize, 100, 101, 150, 400, 120, 260].iter().enumerate() {
        pool.push(vec![b'A' + i as u8; *n]);
    }
    // An incompressible large element.
    pool.push((0..180u32).map(|i| (i * 97 % 251) as u8).collect());
    for (fill_opt, depth) in [("3", "1"), ("-1", "2"), ("2", "1"), ("-2", "0"), ("8", "3")] {
        set_options(&mut d, fill_opt, depth);
        d.cmd(&["DEL", "R", "S"]);
        for step in 0..500 {
            let v = pool[next(pool.len() as u64) as usize].clone();
            let w = pool[next(pool.len() as u64) as usize].clone();
            let i = (next(60) as i64 - 30).to_string().into_bytes();
            let j = (next(60) as i64 - 30).to_string().into_bytes();
            let n = next(5).to_string().into_bytes();
            let side = |b: u64| {
                if b == 0 {
                    b"LEFT".to_vec()
                } else {
                    b"RIGHT".to_vec()
                }
            };
            let (s1, s2) = (side(next(2)), side(next(2)));
            let r = b"R".to_vec();
            let args: Vec<Vec<u8>> = match next(20) {
                0..=2 => vec![b"RPUSH".to_vec(), r, v, w],
                3 | 4 => vec![b"LPUSH".to_vec(), r, v],
                5 => vec![b"LINSERT".to_vec(), r, b"AFTER".to_vec(), v, w],
                6 => vec![b"LINSERT".to_vec(), r, b"BEFORE".to_vec(), v, w],
                7 | 8 => vec![b"LSET".to_vec(), r, i, v],
                9 => vec![b"LREM".to_vec(), r, n, v],
                10 => vec![b"LPOP".to_vec(), r, n],
                11 => vec![b"RPOP".to_vec(), r, n],
                12 => vec![b"LTRIM".to_vec(), r, i, j],
                13 => vec![b"LMOVE".to_vec(), r, b"S".to_vec(), s1, s2],
                14 => vec![b"LMOVE".to_vec(), b"S".to_vec(), r, s1, s2],
                15 => vec![b"RPOPLPUSH".to_vec(), r.clone(), r],
                16 => vec![b"LINDEX".to_vec(), r, i],
                17 => vec![b"LRANGE".to_vec(), r, i, j],
                18 => vec![b"LPOS".to_vec(), r, v, b"RANK".to_vec(), b"-1".to_vec()],
                _ => vec![b"DEBUG".to_vec(), b"QUICKLIST".to_vec(), r, b"1".to_vec()],
            };
            d.cmd(&args);
            if step % 10 == 0 {
                for k in ["R", "S"] {
                    d.cmd(&["DUMP", k]);
                }
            }
            if step % 50 == 0 {
                check(&mut d, "R");
                check(&mut d, "S");
            }
        }
        check(&mut d, "R");
        check(&mut d, "S");
    }
}

/// Blocked BLMOVE / BLMPOP / BRPOPLPUSH clients served by a push of large elements: the
/// plain element moves to the destination as a plain node (DUMP compared), or is replied.
#[test]
fn blocked_clients_served_with_plain_elements() {
    let mut d = Diff::new();
    set_options(&mut d, "3", "1");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let big = "B".repeat(150);
    let huge = "H".repeat(3000);
    d.cmd(&["RPUSH", "dst", "a", "b", "c", "d", &big, "e", "f", "g", "h"]);
    let mut waiter = d.another();
    for (cmd, push) in [
        (
            vec!["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
            vec!["RPUSH", "src", &huge, "x"],
        ),
        (
            vec!["BLMOVE", "src2", "dst", "RIGHT", "LEFT", "0"],
            vec!["LPUSH", "src2", &big],
        ),
        (
            vec!["BRPOPLPUSH", "src3", "dst", "0"],
            vec!["RPUSH", "src3", "small", &huge],
        ),
        (
            vec!["BLMPOP", "0", "1", "src4", "LEFT", "COUNT", "3"],
            vec!["RPUSH", "src4", &big, "y", &huge],
        ),
        (vec!["BLPOP", "src5", "0"], vec!["RPUSH", "src5", &huge]),
    ] {
        waiter.send(&cmd);
        // The waiter is blocked once the servers list it as such.
        for side in [&mut d.ferrodis, &mut d.redis] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !side
                .value(&["INFO", "clients"])
                .text()
                .unwrap_or_default()
                .contains("blocked_clients:1")
            {
                assert!(std::time::Instant::now() < deadline, "client never blocked");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        d.cmd(&push);
        waiter.read();
        for k in ["dst", "src", "src2", "src3", "src4", "src5"] {
            d.cmd(&["DUMP", k]);
        }
        check(&mut d, "dst");
    }
}

/// MEMORY USAGE walks a list's nodes: plain nodes count their element (or its LZF blob
/// when compressed). Allocators differ, so ferrodis's exact figure is compared with Redis's
/// all-nodes estimate (SAMPLES 0) within a margin rather than byte for byte.
#[test]
fn memory_usage_counts_plain_nodes() {
    let mut d = Diff::new();
    set_options(&mut d, "-2", "1");
    d.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    for i in 0..10u32 {
        let compressible = ((b'a' + i as u8) as char).to_string().repeat(10_000);
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(i);
        let noise: String = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'!' + (x % 89) as u8) as char
            })
            .collect();
        d.cmd(&["RPUSH", "lzf", &compressible, "small"]);
        d.cmd(&["RPUSH", "raw", &noise, "small"]);
    }
    for key in ["lzf", "raw"] {
        let (f, r) = d.both(&["MEMORY", "USAGE", key, "SAMPLES", "0"]);
        let num = |b: &[u8]| -> f64 {
            let s = String::from_utf8_lossy(b);
            s.trim_start_matches(':')
                .trim()
                .parse()
                .expect("integer reply")
        };
        let (f, r) = (num(&f), num(&r));
        assert!(
            f > 0.8 * r && f < 1.3 * r,
            "MEMORY USAGE {key}: ferrodis {f}, redis {r}"
        );
    }
    // Incompressible plain nodes stay raw: at least their 100,000 bytes.
    let (f, _) = d.both(&["MEMORY", "USAGE", "raw"]);
    let f: u64 = String::from_utf8_lossy(&f)
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("integer reply");
    assert!(f > 100_000, "MEMORY USAGE raw: {f}");
}

/// A list of one raw listpack node is kept without a node list (the small form) and turns
/// into one and back as it crosses one node: every step across that boundary, by every
/// command that moves it, shows the same elements, DEBUG OBJECT statistics and DUMP bytes as
/// Redis, whose list has one node all along.
#[test]
fn one_node_boundary() {
    let mut d = Diff::new();
    set_options(&mut d, "2", "1");
    d.cmd(&["RPUSH", "L", "a", "b"]);
    check(&mut d, "L");
    for step in [
        &["RPUSH", "L", "c"][..],
        &["RPOP", "L"],
        &["LPUSH", "L", "z"],
        &["LPOP", "L"],
        &["LINSERT", "L", "BEFORE", "b", "m"],
        &["LREM", "L", "0", "m"],
        &["LINSERT", "L", "AFTER", "a", "12"],
        &["LTRIM", "L", "1", "-1"],
        &["LSET", "L", "0", "x"],
        &["LSET", "L", "-1", "1234567890123"],
        &["RPUSH", "L", "d", "e", "f"],
        &["LTRIM", "L", "0", "1"],
        &["LMOVE", "L", "L", "LEFT", "RIGHT"],
        &["COPY", "L", "C"],
        &["LPOS", "L", "x"],
        &["LRANGE", "L", "0", "-1"],
        &["DEBUG", "RELOAD"],
        &["RPOP", "L", "2"],
    ] {
        d.cmd(step);
        check(&mut d, "L");
        check(&mut d, "C");
    }
    // Fill 1: every element its own node, so each push crosses the boundary.
    set_options(&mut d, "1", "0");
    d.cmd(&["RPUSH", "M", "1"]);
    d.cmd(&["RPUSH", "M", "2"]);
    check(&mut d, "M");
    d.cmd(&["LREM", "M", "1", "2"]);
    check(&mut d, "M");
    d.cmd(&["LINSERT", "M", "AFTER", "1", "3"]);
    check(&mut d, "M");
}
