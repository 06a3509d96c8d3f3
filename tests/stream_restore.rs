//! RESTORE of corrupt stream payloads, with `sanitize-dump-payload` yes, no and clients,
//! against the oracle redis-server 7.0.15 (src/persistence/rdb.rs `load_stream`,
//! src/types/stream.rs `validate_node`).
//!
//! The payloads are built here from their parts (a listpack encoder, stream nodes, the RDB
//! STREAM_LISTPACKS_2 body, the version 10 footer and CRC64), so each test names the one
//! thing that is wrong. Where redis-server answers deterministically the replies are
//! compared, the RESTORE and the reads after it. Where redis-server with `no` takes a payload
//! it would later crash on (a node whose bytes are not a valid listpack past the first entry,
//! a PEL entry no consumer owns read by XACK or XPENDING), the oracle is not asked to read it:
//! ferrodis refuses the payload, or reads it without crashing, and stays up.

mod common;

use common::*;

// ---------------------------------------------------------------------------------------
// Payload building
// ---------------------------------------------------------------------------------------

/// One listpack element.
#[derive(Clone, Debug)]
enum El {
    Int(i64),
    Str(Vec<u8>),
}

fn s(v: &str) -> El {
    El::Str(v.as_bytes().to_vec())
}

/// The encoding and data of one element, as lpEncodeIntegerGetType / lpEncodeString choose.
fn encode_el(e: &El) -> Vec<u8> {
    match e {
        El::Int(v) => {
            let v = *v;
            if (0..=127).contains(&v) {
                vec![v as u8]
            } else if (-4096..=4095).contains(&v) {
                let u = (v as u64) & 0x1fff;
                vec![0xc0 | (u >> 8) as u8, u as u8]
            } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
                let mut b = vec![0xf1];
                b.extend_from_slice(&(v as i16).to_le_bytes());
                b
            } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                let mut b = vec![0xf2];
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                b
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
                let mut b = vec![0xf3];
                b.extend_from_slice(&(v as i32).to_le_bytes());
                b
            } else {
                let mut b = vec![0xf4];
                b.extend_from_slice(&v.to_le_bytes());
                b
            }
        }
        El::Str(d) => {
            let mut b = if d.len() < 64 {
                vec![0x80 | d.len() as u8]
            } else {
                assert!(d.len() < 4096);
                vec![0xe0 | (d.len() >> 8) as u8, d.len() as u8]
            };
            b.extend_from_slice(d);
            b
        }
    }
}

/// lpEncodeBacklen: the entry length, read right to left, 7 bits a byte.
fn backlen(l: usize) -> Vec<u8> {
    if l <= 127 {
        vec![l as u8]
    } else {
        assert!(l < 16383);
        vec![(l >> 7) as u8, (l & 127) as u8 | 128]
    }
}

/// A listpack of `els`: header (total bytes, element count), entries, 0xFF.
fn listpack(els: &[El]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in els {
        let enc = encode_el(e);
        body.extend_from_slice(&enc);
        body.extend_from_slice(&backlen(enc.len()));
    }
    let total = 6 + body.len() + 1;
    let mut lp = Vec::with_capacity(total);
    lp.extend_from_slice(&(total as u32).to_le_bytes());
    lp.extend_from_slice(&(els.len() as u16).to_le_bytes());
    lp.extend_from_slice(&body);
    lp.push(0xff);
    lp
}

type Id = (u64, u64);

fn id_key(id: Id) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.0.to_be_bytes());
    k[8..].copy_from_slice(&id.1.to_be_bytes());
    k
}

/// One entry of a node: its ID, whether it is a tombstone, its field-value pairs.
struct Entry {
    id: Id,
    deleted: bool,
    fields: Vec<(&'static str, &'static str)>,
}

fn entry(id: Id, fields: &[(&'static str, &'static str)]) -> Entry {
    Entry {
        id,
        deleted: false,
        fields: fields.to_vec(),
    }
}

/// The elements of a stream node keyed `master` (streamAppendItem's layout): the master
/// entry with the first entry's fields, then each entry, SAMEFIELDS when its fields are the
/// master's, its ID as the difference from `master`, and its lp-count.
fn node_elems(master: Id, entries: &[Entry]) -> Vec<El> {
    let live = entries.iter().filter(|e| !e.deleted).count() as i64;
    let master_fields: Vec<&str> = entries[0].fields.iter().map(|f| f.0).collect();
    let mut v = vec![
        El::Int(live),
        El::Int(entries.len() as i64 - live),
        El::Int(master_fields.len() as i64),
    ];
    v.extend(master_fields.iter().map(|f| s(f)));
    v.push(El::Int(0));
    for e in entries {
        let names: Vec<&str> = e.fields.iter().map(|f| f.0).collect();
        let same = names == master_fields;
        let flags = (e.deleted as i64) | if same { 2 } else { 0 };
        v.push(El::Int(flags));
        v.push(El::Int(e.id.0.wrapping_sub(master.0) as i64));
        v.push(El::Int(e.id.1.wrapping_sub(master.1) as i64));
        let n = e.fields.len() as i64;
        if same {
            v.extend(e.fields.iter().map(|f| s(f.1)));
            v.push(El::Int(n + 3));
        } else {
            v.push(El::Int(n));
            for (f, val) in &e.fields {
                v.push(s(f));
                v.push(s(val));
            }
            v.push(El::Int(2 * n + 4));
        }
    }
    v
}

/// A consumer group as STREAM_LISTPACKS_2 stores it.
struct Group {
    name: &'static str,
    last: Id,
    entries_read: u64,
    /// (ID, delivery time, delivery count)
    pel: Vec<(Id, i64, u64)>,
    /// (name, seen time, owned IDs)
    consumers: Vec<(&'static str, i64, Vec<Id>)>,
}

/// A stream value as STREAM_LISTPACKS_2 (RDB type 19, Redis 7.0) stores it.
struct StreamPayload {
    nodes: Vec<(Vec<u8>, Vec<u8>)>,
    length: u64,
    last: Id,
    first: Id,
    max_deleted: Id,
    entries_added: u64,
    groups: Vec<Group>,
}

fn save_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn save_str(out: &mut Vec<u8>, b: &[u8]) {
    save_len(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends the DUMP footer: RDB version 10 (little endian) and the CRC64 of all before it.
fn with_footer(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

impl StreamPayload {
    /// One node keyed by its first entry's ID, counters that agree with it, no groups.
    fn single(entries: &[Entry]) -> StreamPayload {
        let master = entries[0].id;
        let lp = listpack(&node_elems(master, entries));
        let live: Vec<&Entry> = entries.iter().filter(|e| !e.deleted).collect();
        StreamPayload {
            nodes: vec![(id_key(master).to_vec(), lp)],
            length: live.len() as u64,
            last: entries.last().unwrap().id,
            first: live.first().map_or((0, 0), |e| e.id),
            max_deleted: entries
                .iter()
                .filter(|e| e.deleted)
                .map(|e| e.id)
                .max()
                .unwrap_or((0, 0)),
            entries_added: entries.len() as u64,
            groups: Vec::new(),
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut out = vec![19u8];
        save_len(&mut out, self.nodes.len() as u64);
        for (k, lp) in &self.nodes {
            save_str(&mut out, k);
            save_str(&mut out, lp);
        }
        for v in [
            self.length,
            self.last.0,
            self.last.1,
            self.first.0,
            self.first.1,
            self.max_deleted.0,
            self.max_deleted.1,
            self.entries_added,
        ] {
            save_len(&mut out, v);
        }
        save_len(&mut out, self.groups.len() as u64);
        for g in &self.groups {
            save_str(&mut out, g.name.as_bytes());
            save_len(&mut out, g.last.0);
            save_len(&mut out, g.last.1);
            save_len(&mut out, g.entries_read);
            save_len(&mut out, g.pel.len() as u64);
            for (id, time, count) in &g.pel {
                out.extend_from_slice(&id_key(*id));
                out.extend_from_slice(&time.to_le_bytes());
                save_len(&mut out, *count);
            }
            save_len(&mut out, g.consumers.len() as u64);
            for (name, seen, owned) in &g.consumers {
                save_str(&mut out, name.as_bytes());
                out.extend_from_slice(&seen.to_le_bytes());
                save_len(&mut out, owned.len() as u64);
                for id in owned {
                    out.extend_from_slice(&id_key(*id));
                }
            }
        }
        out
    }

    fn dump(&self) -> Vec<u8> {
        with_footer(self.body())
    }
}

/// Three entries 1-1, 1-2, 2-1 with fields f (and g on the third) in one node.
fn three() -> Vec<Entry> {
    vec![
        entry((1, 1), &[("f", "a")]),
        entry((1, 2), &[("f", "b")]),
        entry((2, 1), &[("f", "c"), ("g", "d")]),
    ]
}

/// A group g with 1-1 and 1-2 pending, both owned by alice, and bob owning nothing.
fn group_g() -> Group {
    Group {
        name: "g",
        last: (1, 2),
        entries_read: 2,
        pel: vec![((1, 1), 1_000, 1), ((1, 2), 1_000, 2)],
        consumers: vec![
            ("alice", 1_000, vec![(1, 1), (1, 2)]),
            ("bob", 1_000, vec![]),
        ],
    }
}

fn restore_cmd(payload: &[u8]) -> Vec<&[u8]> {
    vec![b"RESTORE", b"k", b"0", payload, b"REPLACE"]
}

const BAD: &[u8] = b"-ERR Bad data format\r\n";
const OK: &[u8] = b"+OK\r\n";

/// Both servers with `sanitize-dump-payload <mode>`.
fn diff_with(mode: &str) -> Diff {
    Diff::with_args(&["--sanitize-dump-payload", mode])
}

/// RESTOREs `payload` on both servers and asserts both answer `want`.
fn restore_both(d: &mut Diff, payload: &[u8], want: &[u8]) {
    let r = d.cmd(&restore_cmd(payload));
    assert_eq!(
        r,
        want,
        "RESTORE answered {} where {} was expected",
        escape(&r),
        escape(want)
    );
}

/// The reads and writes compared after a payload both servers took: none of them reads a
/// PEL entry's owner, none depends on the clock.
const PROBES: &str = r#"
XLEN k
XRANGE k - +
XREVRANGE k + -
XRANGE k 1-2 +
XRANGE k - 2-0
XREVRANGE k 2 1-2 COUNT 1
XRANGE k (1-1 + COUNT 2
XREAD STREAMS k 0-0
XREAD COUNT 1 STREAMS k 1-1
XINFO GROUPS k
DEBUG DIGEST-VALUE k
"#;

/// After the probes, writes that touch the nodes' counters, then the same reads again.
const WRITES: &str = r#"
XDEL k 1-2
XLEN k
XRANGE k - +
XADD k 9-1 f z
XRANGE k - +
XREVRANGE k + - COUNT 2
XTRIM k MAXLEN 2
XLEN k
XRANGE k - +
XDEL k 1-1 2-1 9-1
XLEN k
XRANGE k - +
XADD k 10-1 h i
XRANGE k - +
DEBUG DIGEST-VALUE k
"#;

/// Asserts the ferrodis side still answers (the oracle is not asked).
fn ferrodis_alive(d: &mut Diff) {
    assert_eq!(d.ferrodis.cmd(&["PING"]), b"+PONG\r\n");
    assert!(d.ferrodis_server().is_running());
}

// ---------------------------------------------------------------------------------------
// Sanity: the builder makes what redis-server makes
// ---------------------------------------------------------------------------------------

/// The builder's payload of a clean stream is accepted by both in every mode, and reads back
/// the same: the tests below change one thing in it.
#[test]
fn restore_built_payload_is_clean_in_every_mode() {
    for mode in ["no", "yes", "clients"] {
        let mut d = diff_with(mode);
        let mut p = StreamPayload::single(&three());
        p.groups.push(group_g());
        restore_both(&mut d, &p.dump(), OK);
        d.run(PROBES);
        d.run("XPENDING k g\nXINFO STREAM k\nXACK k g 1-1\nXPENDING k g");
        d.run(WRITES);
    }
}

/// The builder lays a node out byte for byte as redis-server does for the same XADDs.
#[test]
fn restore_builder_matches_redis_dump() {
    let mut d = Diff::new();
    d.run("CONFIG SET rdbcompression no\nXADD k 1-1 f a\nXADD k 1-2 f b\nXADD k 2-1 f c g d");
    let (_, dump) = d.both(&["DUMP", "k"]);
    let dump = parse_reply(&dump).unwrap().bytes().unwrap().to_vec();
    assert_eq!(
        escape(&dump),
        escape(&StreamPayload::single(&three()).dump())
    );
}

// ---------------------------------------------------------------------------------------
// Bad listpacks
// ---------------------------------------------------------------------------------------

/// A node whose listpack header states the wrong total: refused in every mode (the shallow
/// check reads the header too).
#[test]
fn restore_listpack_wrong_total_bytes() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        for delta in [-1i64, 1, 1000] {
            let mut p = StreamPayload::single(&three());
            let lp = &mut p.nodes[0].1;
            let total = (lp.len() as i64 + delta) as u32;
            lp[..4].copy_from_slice(&total.to_le_bytes());
            restore_both(&mut d, &p.dump(), BAD);
        }
        // The header agrees but the last byte is not the terminator.
        let mut p = StreamPayload::single(&three());
        *p.nodes[0].1.last_mut().unwrap() = 0xfe;
        restore_both(&mut d, &p.dump(), BAD);
        ferrodis_alive(&mut d);
    }
}

/// Truncated payloads: the node string shorter than its length says, the listpack cut (and
/// its header adjusted, so only the entries are short), the body cut before the groups.
#[test]
fn restore_truncated_stream_payloads() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        let mut p = StreamPayload::single(&three());
        p.groups.push(group_g());
        let body = p.body();
        for cut in [
            1,
            2,
            5,
            17,
            20,
            body.len() / 2,
            body.len() - 20,
            body.len() - 1,
        ] {
            restore_both(&mut d, &with_footer(body[..cut].to_vec()), BAD);
        }
        if mode == "yes" {
            // Cut inside the entries, header fixed up: only a deep walk sees it. With `no`
            // redis-server would take it and crash reading it, so only `yes` is compared.
            let mut p = StreamPayload::single(&three());
            let lp = &mut p.nodes[0].1;
            let keep = lp.len() - 6;
            lp.truncate(keep);
            lp.push(0xff);
            let total = lp.len() as u32;
            lp[..4].copy_from_slice(&total.to_le_bytes());
            restore_both(&mut d, &p.dump(), BAD);
        }
        ferrodis_alive(&mut d);
    }
}

/// Builds the node with the back-length of element `at` replaced by `bl`.
fn with_bad_backlen(at: usize, bl: u8) -> StreamPayload {
    let els = node_elems((1, 1), &three());
    let mut body = Vec::new();
    for (i, e) in els.iter().enumerate() {
        let enc = encode_el(e);
        body.extend_from_slice(&enc);
        if i == at {
            body.push(bl);
        } else {
            body.extend_from_slice(&backlen(enc.len()));
        }
    }
    let total = 6 + body.len() + 1;
    let mut lp = (total as u32).to_le_bytes().to_vec();
    lp.extend_from_slice(&(els.len() as u16).to_le_bytes());
    lp.extend_from_slice(&body);
    lp.push(0xff);
    let mut p = StreamPayload::single(&three());
    p.nodes[0].1 = lp;
    p
}

/// An entry whose back-length is wrong. With `yes` both refuse it. With `no` redis-server
/// checks only the header and the first element (lpFirst asserts on it, so a bad first
/// element would abort the oracle: not sent) and takes the payload, then walks into the bad
/// element on the first reverse read; ferrodis refuses it in every mode, since its readers
/// step back by back-lengths.
#[test]
fn restore_listpack_bad_entry_backlen() {
    // Element 0 is the master entry's count, 5 the first entry's flags, 7 its seq-diff, the
    // last one the final lp-count.
    let n = node_elems((1, 1), &three()).len();
    let mut d = diff_with("yes");
    for at in [0, 5, 7, n - 1] {
        for bl in [0u8, 5, 0x80, 0xff] {
            restore_both(&mut d, &with_bad_backlen(at, bl).dump(), BAD);
        }
    }
    ferrodis_alive(&mut d);

    let mut d = diff_with("no");
    for at in [5, 7, n - 1] {
        let p = with_bad_backlen(at, 5).dump();
        let (f, r) = d.both(&restore_cmd(&p));
        assert_eq!(f, BAD, "ferrodis took a listpack with a bad backlen");
        assert_eq!(
            r, OK,
            "redis-server with sanitize no checks more than its header"
        );
        // Never read the oracle's copy: drop it.
        d.redis.cmd(&["DEL", "k"]);
        ferrodis_alive(&mut d);
    }
    // The first element's backlen: the oracle would assert in lpFirst; ferrodis refuses.
    assert_eq!(
        d.ferrodis.cmd(&restore_cmd(&with_bad_backlen(0, 5).dump())),
        BAD
    );
    ferrodis_alive(&mut d);
}

// ---------------------------------------------------------------------------------------
// Well-formed listpacks, inconsistent stream
// ---------------------------------------------------------------------------------------

/// Two nodes whose IDs are out of order with their keys: the node keyed 1-0 holds 5-x
/// entries, the node keyed 3-0 holds 3-x ones. Redis checks neither in any mode and reads
/// the nodes in key order; so does ferrodis, range bounds included.
#[test]
fn restore_ids_out_of_order_between_nodes() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        let a = [entry((5, 1), &[("f", "a")]), entry((5, 2), &[("f", "b")])];
        let b = [entry((3, 1), &[("f", "c")]), entry((3, 2), &[("f", "d")])];
        let p = StreamPayload {
            nodes: vec![
                (id_key((1, 0)).to_vec(), listpack(&node_elems((1, 0), &a))),
                (id_key((3, 0)).to_vec(), listpack(&node_elems((3, 0), &b))),
            ],
            length: 4,
            last: (5, 2),
            first: (5, 1),
            max_deleted: (0, 0),
            entries_added: 4,
            groups: Vec::new(),
        };
        restore_both(&mut d, &p.dump(), OK);
        d.run(PROBES);
        d.run(
            "XRANGE k 3-1 5-1\nXRANGE k 4 +\nXREVRANGE k 5-1 3-2\nXREVRANGE k 3-2 -\n\
             XRANGE k 5-2 5-2\nXRANGE k 3-1 3-1\nXINFO STREAM k",
        );
        d.run(WRITES);
        d.run("XADD k 4-0 x y\nXRANGE k - +\nXTRIM k MINID 5\nXRANGE k - +\nXLEN k");
    }
}

/// Entries that do not start at their node's key (the master ID): the first entry above it,
/// others below it (a negative difference). Redis takes the node as it is in every mode.
#[test]
fn restore_master_entry_not_matching_node_key() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        let es = [
            entry((7, 0), &[("f", "a")]),
            entry((2, 5), &[("f", "b")]),
            entry((9, 0), &[("f", "c"), ("g", "d")]),
        ];
        let p = StreamPayload {
            nodes: vec![(id_key((4, 4)).to_vec(), listpack(&node_elems((4, 4), &es)))],
            length: 3,
            last: (9, 0),
            first: (7, 0),
            max_deleted: (0, 0),
            entries_added: 3,
            groups: Vec::new(),
        };
        restore_both(&mut d, &p.dump(), OK);
        d.run(PROBES);
        d.run(
            "XRANGE k 4-4 +\nXRANGE k 2-5 2-5\nXRANGE k 7 8\nXREVRANGE k 8 -\nXREVRANGE k + 4-5\n\
             XINFO STREAM k\nXDEL k 2-5\nXRANGE k - +\nXADD k 10-0 f e\nXRANGE k - +",
        );
        d.run(WRITES);
    }
}

/// A group PEL entry that no consumer owns. Refused with `yes` ("Stream CG PEL entry without
/// consumer"); taken with `no`, where both answer the reads that do not look at the owner
/// alike. XACK, XPENDING's extended form and XINFO STREAM FULL dereference the missing owner
/// in redis-server (a crash): ferrodis alone runs them, and stays up.
#[test]
fn restore_group_pel_entry_without_consumer() {
    let orphaned = || {
        let mut p = StreamPayload::single(&three());
        let mut g = group_g();
        g.pel.push(((2, 1), 1_000, 1));
        g.last = (2, 1);
        g.entries_read = 3;
        p.groups.push(g);
        p
    };
    let mut d = diff_with("yes");
    restore_both(&mut d, &orphaned().dump(), BAD);
    // Only bob's PEL is missing: every entry orphaned.
    let mut p = StreamPayload::single(&three());
    let mut g = group_g();
    g.consumers.clear();
    p.groups.push(g);
    restore_both(&mut d, &p.dump(), BAD);
    ferrodis_alive(&mut d);

    let mut d = diff_with("no");
    restore_both(&mut d, &orphaned().dump(), OK);
    d.run(PROBES);
    d.run(
        "XPENDING k g\nXINFO GROUPS k\nXREADGROUP GROUP g alice STREAMS k 0\n\
         XREADGROUP GROUP g bob STREAMS k 0\nXGROUP CREATECONSUMER k g carol\nXINFO GROUPS k",
    );
    // XCLAIM gives the orphan an owner (Redis skips the missing owner's PEL); it is then an
    // ordinary entry everywhere.
    d.run(
        "XCLAIM k g bob 0 2-1 JUSTID\nXPENDING k g\nXREADGROUP GROUP g bob STREAMS k 0\n\
         XACK k g 2-1\nXPENDING k g",
    );
    // What redis-server would crash on, ferrodis only.
    restore_both(&mut d, &orphaned().dump(), OK);
    d.redis.cmd(&["DEL", "k"]);
    for cmd in [
        &["XPENDING", "k", "g", "-", "+", "10"][..],
        &["XPENDING", "k", "g", "-", "+", "10", "alice"],
        &["XINFO", "STREAM", "k", "FULL"],
        &["XAUTOCLAIM", "k", "g", "dave", "0", "0", "JUSTID"],
        &["XACK", "k", "g", "1-1", "2-1"],
        &["XGROUP", "DELCONSUMER", "k", "g", "alice"],
        &["XPENDING", "k", "g"],
        &["DUMP", "k"],
        &["XGROUP", "DESTROY", "k", "g"],
    ] {
        let r = d.ferrodis.cmd(cmd);
        assert!(!r.is_empty(), "{cmd:?}");
        ferrodis_alive(&mut d);
    }
    // XADD's `>` delivery over an orphaned ID beyond last-delivered.
    let mut p = StreamPayload::single(&three());
    let mut g = group_g();
    g.pel.push(((2, 1), 1_000, 1));
    p.groups.push(g);
    assert_eq!(d.ferrodis.cmd(&restore_cmd(&p.dump())), OK);
    d.ferrodis
        .cmd(&["XREADGROUP", "GROUP", "g", "erin", "STREAMS", "k", ">"]);
    d.ferrodis.cmd(&["XPENDING", "k", "g", "-", "+", "10"]);
    ferrodis_alive(&mut d);
}

/// A consumer that owns an ID missing from its group's PEL: refused in every mode
/// ("Consumer entry not found in group global PEL"), as is an ID it owns twice and an ID in
/// the group PEL twice.
#[test]
fn restore_consumer_pel_entry_missing_from_group_pel() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        let mut p = StreamPayload::single(&three());
        let mut g = group_g();
        g.consumers[1].2.push((2, 1));
        p.groups.push(g);
        restore_both(&mut d, &p.dump(), BAD);

        let mut p = StreamPayload::single(&three());
        let mut g = group_g();
        g.consumers[0].2.push((1, 1));
        p.groups.push(g);
        restore_both(&mut d, &p.dump(), BAD);

        let mut p = StreamPayload::single(&three());
        let mut g = group_g();
        g.pel.push(((1, 1), 5, 5));
        p.groups.push(g);
        restore_both(&mut d, &p.dump(), BAD);

        // Two consumers of the same name, two groups of the same name.
        let mut p = StreamPayload::single(&three());
        let mut g = group_g();
        g.consumers[1].0 = "alice";
        g.consumers[1].2.clear();
        p.groups.push(g);
        restore_both(&mut d, &p.dump(), BAD);
        let mut p = StreamPayload::single(&three());
        p.groups.push(group_g());
        p.groups.push(group_g());
        restore_both(&mut d, &p.dump(), BAD);
        ferrodis_alive(&mut d);
    }
}

/// Counters that lie. The stream's length is never checked (XLEN reports it; trims and
/// deletes count from it). A node's live/deleted counts are checked only by the deep walk:
/// refused with `yes`, taken with `no`, where both read and update the node alike.
#[test]
fn restore_entries_count_lying() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        for length in [0u64, 2, 100, u32::MAX as u64 + 7] {
            let mut p = StreamPayload::single(&three());
            p.length = length;
            restore_both(&mut d, &p.dump(), OK);
            d.run(PROBES);
            d.run("XINFO STREAM k");
            d.run(WRITES);
            // Trims counting from the lying length (it wraps below the node's count).
            for trim in [
                "MAXLEN 1",
                "MAXLEN 0",
                "MAXLEN ~ 1",
                "MINID 2",
                "MAXLEN 1 LIMIT 2",
            ] {
                restore_both(&mut d, &p.dump(), OK);
                d.run(&format!(
                    "XTRIM k {trim}\nXLEN k\nXRANGE k - +\nXADD k 20-1 f v\nXLEN k\nXINFO STREAM k"
                ));
            }
        }
        // entries_added below the length, and a first ID that is no entry.
        let mut p = StreamPayload::single(&three());
        p.entries_added = 1;
        p.first = (0, 9);
        p.groups.push(group_g());
        restore_both(&mut d, &p.dump(), OK);
        d.run("XINFO STREAM k\nXINFO GROUPS k\nXGROUP CREATE k h 1-1\nXINFO GROUPS k");

        // A node that counts more (or fewer) entries than it holds.
        for (live, deleted) in [(5i64, 0i64), (1, 0), (0, 0), (2, 3), (-1, 4), (3, -1)] {
            let mut els = node_elems((1, 1), &three());
            els[0] = El::Int(live);
            els[1] = El::Int(deleted);
            let mut p = StreamPayload::single(&three());
            p.nodes[0].1 = listpack(&els);
            let want = if mode == "yes" && live + deleted != 3 {
                BAD
            } else {
                OK
            };
            restore_both(&mut d, &p.dump(), want);
            if want == OK {
                d.run(PROBES);
                d.run("XINFO STREAM k");
                d.run(WRITES);
            }
        }
        // A node whose master entry is all it holds.
        let els = node_elems((1, 1), &three())[..5].to_vec();
        let mut els = els;
        els[0] = El::Int(0);
        let mut p = StreamPayload::single(&three());
        p.nodes[0].1 = listpack(&els);
        p.length = 0;
        restore_both(&mut d, &p.dump(), OK);
        d.run(
            "XLEN k\nXRANGE k - +\nXREVRANGE k + -\nXADD k 5-5 f v\nXRANGE k - +\nXINFO STREAM k",
        );
        // The listpack header's element count lying is never checked.
        let mut p = StreamPayload::single(&three());
        p.nodes[0].1[4] = 3;
        restore_both(&mut d, &p.dump(), OK);
        d.run(PROBES);
        ferrodis_alive(&mut d);
    }
}

// ---------------------------------------------------------------------------------------
// sanitize-dump-payload clients, the statistics
// ---------------------------------------------------------------------------------------

/// `clients` validates deeply for ordinary clients and skips it for a user with
/// skip-sanitize-payload (and, as Redis, for its master and while loading); INFO's
/// dump_payload_sanitizations counts the blobs checked deeply, as redis-server counts them.
#[test]
fn restore_sanitize_clients_and_the_statistic() {
    let mut p = StreamPayload::single(&three());
    let mut g = group_g();
    g.pel.push(((2, 1), 1_000, 1));
    p.groups.push(g);
    let orphaned = p.dump();
    let clean = StreamPayload::single(&three()).dump();

    let mut d = diff_with("clients");
    restore_both(&mut d, &orphaned, BAD);
    d.run("ACL SETUSER trusted on nopass ~* &* +@all skip-sanitize-payload");
    d.run("ACL SETUSER careful on nopass ~* &* +@all sanitize-payload");
    d.run("AUTH careful x");
    restore_both(&mut d, &orphaned, BAD);
    d.run("AUTH trusted x");
    restore_both(&mut d, &orphaned, OK);
    d.run("XLEN k\nXPENDING k g\nDEL k\nAUTH default x");
    restore_both(&mut d, &clean, OK);

    // Two stream nodes, a hash listpack, a zset listpack, an intset, two quicklist nodes.
    d.run(
        "CONFIG SET stream-node-max-entries 2\nXADD s 1-1 a b\nXADD s 1-2 a b\nXADD s 1-3 a b\n\
         HSET h a b\nZADD z 1 a\nSADD i 1 2 3\nCONFIG SET list-max-listpack-size 2\nRPUSH l a b c",
    );
    for key in ["s", "h", "z", "i", "l"] {
        let dump = d.cmd(&["DUMP", key]);
        let dump = parse_reply(&dump).unwrap().bytes().unwrap().to_vec();
        d.cmd(&[&b"RESTORE"[..], key.as_bytes(), b"0", &dump, b"REPLACE"]);
    }
    let stat = |info: &[u8]| -> String {
        let text = String::from_utf8_lossy(info).into_owned();
        text.lines()
            .find(|l| l.starts_with("dump_payload_sanitizations:"))
            .unwrap()
            .to_string()
    };
    for mode in ["yes", "clients", "no"] {
        d.run(&format!(
            "CONFIG SET sanitize-dump-payload {mode}\nCONFIG RESETSTAT"
        ));
        for key in ["s", "h", "z", "i", "l"] {
            let dump = d.cmd(&["DUMP", key]);
            let dump = parse_reply(&dump).unwrap().bytes().unwrap().to_vec();
            d.cmd(&[&b"RESTORE"[..], key.as_bytes(), b"0", &dump, b"REPLACE"]);
        }
        // A refused payload counts its blobs too.
        d.cmd(&restore_cmd(&orphaned));
        let (f, r) = d.both(&["INFO", "stats"]);
        assert_eq!(stat(&f), stat(&r), "sanitize-dump-payload {mode}");
    }
    d.run("CONFIG GET sanitize-dump-payload");
}

/// A node whose counters add up to its entries (so the deep walk passes) but disagree with
/// their flags: it counts a tombstone where every entry is live. Both servers take it in
/// every mode and count from it: XDEL removes the node at what it counts as its last live
/// entry, live entries and all, leaving a length with no node behind. redis-server then
/// crashes in XSETID (streamLastValidID finds no entry): ferrodis alone runs it.
/// (Found by fuzz/fuzz_targets/stream_restore.rs; its `Stream::counters_agree` tells such a
/// stream from one our writes broke.)
#[test]
fn restore_node_counters_disagreeing_with_flags() {
    for mode in ["no", "yes"] {
        let mut d = diff_with(mode);
        let mut els = node_elems((1, 1), &three());
        els[0] = El::Int(2);
        els[1] = El::Int(1);
        let mut p = StreamPayload::single(&three());
        p.nodes[0].1 = listpack(&els);
        restore_both(&mut d, &p.dump(), OK);
        d.run(PROBES);
        d.run("XINFO STREAM k\nXDEL k 1-1\nXLEN k\nXRANGE k - +\nXDEL k 1-2\nXLEN k\nXRANGE k - +");
        d.run("XINFO STREAM k\nXTRIM k MAXLEN 0\nXLEN k\nXADD k 5-5 f v\nXRANGE k - +\nXLEN k");
        restore_both(&mut d, &p.dump(), OK);
        d.run("XTRIM k MAXLEN ~ 0\nXLEN k\nXRANGE k - +\nXREVRANGE k + -\nXINFO GROUPS k");
        // Length 1, no node: redis-server asserts here.
        d.redis.cmd(&["DEL", "k"]);
        for cmd in [
            &["XSETID", "k", "9-9"][..],
            &["XINFO", "STREAM", "k"],
            &["XINFO", "STREAM", "k", "FULL"],
            &["XADD", "k", "MAXLEN", "1", "*", "f", "v"],
            &["XLEN", "k"],
        ] {
            let r = d.ferrodis.cmd(cmd);
            assert!(!r.is_empty(), "{cmd:?}");
        }
        ferrodis_alive(&mut d);
    }
}

/// An RDB file is checked deeply only with `yes`: with `clients` (server.loading) and `no`,
/// both servers load a stream whose group PEL names an entry no consumer owns, and count no
/// sanitization; with `yes` neither starts.
#[test]
fn rdb_file_with_orphan_pel_entry_loads_unless_sanitize_yes() {
    let mut p = StreamPayload::single(&three());
    let mut g = group_g();
    g.pel.push(((2, 1), 1_000, 1));
    p.groups.push(g);
    let body = p.body();
    let mut rdb = b"REDIS0010".to_vec();
    rdb.extend_from_slice(&[0xfe, 0x00, body[0], 1, b'k']);
    rdb.extend_from_slice(&body[1..]);
    rdb.push(0xff);
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&rdb);
    rdb.extend_from_slice(&crc.to_le_bytes());
    for mode in ["clients", "no"] {
        let args = ["--sanitize-dump-payload", mode];
        let (f, r) = (ferrodis_with(&args), oracle_with(&args));
        for s in [&f, &r] {
            s.kill();
            std::fs::write(s.dir().join("dump.rdb"), &rdb).unwrap();
            s.restart(&[]);
        }
        let mut d = Diff::from_servers(f, r);
        d.run("XLEN k\nXPENDING k g\nXINFO GROUPS k\nXRANGE k - +");
        let stat = |info: &[u8]| {
            String::from_utf8_lossy(info)
                .lines()
                .find(|l| l.starts_with("dump_payload_sanitizations:"))
                .map(str::to_string)
        };
        let (fi, ri) = d.both(&["INFO", "stats"]);
        assert_eq!(stat(&fi), stat(&ri));
        assert_eq!(stat(&fi).unwrap(), "dump_payload_sanitizations:0");
    }
    let args = ["--sanitize-dump-payload", "yes"];
    for s in [ferrodis_with(&args), oracle_with(&args)] {
        s.kill();
        std::fs::write(s.dir().join("dump.rdb"), &rdb).unwrap();
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.restart(&[])));
        assert!(started.is_err(), "{} loaded it", s.bin().display());
        assert!(
            s.log().contains("Stream CG PEL entry without consumer"),
            "{}",
            s.log()
        );
    }
}

/// The link to our master skips the deep checks with `clients` (the master checked what it
/// took): a redis-server master (sanitize no) takes a stream whose PEL entry has no consumer
/// and sends the RESTORE on; a ferrodis replica and a redis-server replica with `clients`
/// both store it, with `yes` both refuse it (and log it), keeping their link.
#[test]
fn restore_from_the_master_link_skips_deep_checks_with_clients() {
    let mut p = StreamPayload::single(&three());
    let mut g = group_g();
    g.pel.push(((2, 1), 1_000, 1));
    p.groups.push(g);
    let orphaned = p.dump();
    let clean = StreamPayload::single(&three()).dump();
    let master = oracle_with(&["--repl-diskless-sync-delay", "0"]);
    let mut mc = master.conn();
    let port = master.port().to_string();
    for mode in ["clients", "yes"] {
        // The snapshot of a full sync is an RDB load: deep with `yes`, so it holds no orphan.
        mc.cmd(&["DEL", "k", "c"]);
        let args = [
            "--replicaof",
            "127.0.0.1",
            &port,
            "--sanitize-dump-payload",
            mode,
        ];
        let replicas = [ferrodis_with(&args), oracle_with(&args)];
        mc.cmd(&["SET", "marker", "synced"]);
        for r in &replicas {
            wait_for(&mut r.conn(), b"$6\r\nsynced\r\n");
        }
        assert_eq!(mc.cmd(&restore_cmd(&orphaned)), OK);
        let restore_c: [&[u8]; 4] = [b"RESTORE", b"c", b"0", &clean];
        mc.cmd(&restore_c);
        mc.cmd(&["SET", "marker", mode]);
        let mut replies = Vec::new();
        for r in &replicas {
            let mut rc = r.conn();
            wait_for(&mut rc, format!("${}\r\n{mode}\r\n", mode.len()).as_bytes());
            let mut got = Vec::new();
            for cmd in [&["XLEN", "k"][..], &["XPENDING", "k", "g"], &["XLEN", "c"]] {
                got.push(rc.cmd(cmd));
            }
            replies.push(got);
        }
        assert_eq!(replies[0], replies[1], "{mode}");
        let want_k: &[u8] = if mode == "clients" {
            b":3\r\n"
        } else {
            b":0\r\n"
        };
        assert_eq!(replies[0][0], want_k, "{mode}");
        assert_eq!(replies[0][2], b":3\r\n", "{mode}");
    }
}

/// Polls (bounded) until GET marker answers `want`.
fn wait_for(rc: &mut RawConn, want: &[u8]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rc.cmd(&["GET", "marker"]) != want {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica never got marker = {}",
            escape(want)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
