//! DEBUG LAYOUT [key] [LIMIT n]: a ferrodis-only DEBUG subcommand that describes a value as it
//! lies in memory (issue 23, the internals observatory). The data structures answer with plain
//! data (`Listpack::layout`, `Quicklist::layout`, `IntSet::layout`, `SkipList::layout`,
//! `Dict::layout`); this module turns that into a reply and never looks inside an encoding.
//!
//! ```text
//!  DEBUG LAYOUT key [LIMIT n]            DEBUG LAYOUT [LIMIT n]   (the keyspace)
//!  %{ key, type, encoding, refcount,     %{ db, activerehashing, resize-allowed,
//!     lru-clock, idle-seconds |             databases => [ %{id, keys, expires,
//!       lfu-access-minutes+lfu-counter,        dict => %{..}, expires-dict => %{..}} ...],
//!     expire (ms, -1 none), limit,          dict => <dict layout of the current db>,
//!     layout => <per encoding> }            expires => <dict layout>, limit }
//!
//!  listpack  %{ total-bytes, num-elements, header-bytes, eof-offset, truncated,
//!               entries => [ %{offset, encoding-byte, encoding, encoding-len, data-len,
//!                              backlen, backlen-len, size, int, value-len, value} ... ] }
//!  quicklist %{ count, node-count, fill, compress-depth, truncated,
//!               nodes => [ %{index, container, encoding, count, sz, compressed-sz,
//!                            recompress, listpack => <listpack> | null,
//!                            plain-preview => bulk | null} ... ] }
//!  intset    %{ encoding, length, blob-len, truncated, members => [ [offset, value] ... ] }
//!  skiplist  %{ skiplist => %{ length, level, tail, arena-words, free-words, truncated,
//!                              header => [ [forward, span] per level ],
//!                              nodes => [ %{rank, offset, score, member-len, member,
//!                                           backward, levels => [[forward, span] ...]} ] },
//!               dict => <dict> }
//!  dict      %{ rehashidx (-1 when not rehashing), tables => [ %{size, used, buckets =>
//!               [ [index, chain-len, [key ...]] ... ]} x2 ] }
//!  string    %{ length, storage (int | inline | heap), heap-bytes, shared, value }
//! ```
//!
//! Maps flatten to arrays in RESP2, as every Redis map does. Offsets are bytes from the start
//! of the listpack or intset blob (the bytes DUMP carries); skiplist offsets are word offsets
//! in ferrodis's record arena (0 is the header and doubles as NULL). Every list in the reply is
//! bounded by the limit (default [`DEFAULT_LIMIT`]), and building it costs O(limit), not
//! O(size): a key of a million elements answers as fast as a small one. The lookup has no side
//! effect (no lazy expiry, no LRU/LFU touch, no rehash step), so watching a value does not
//! change it.

use super::Args;
use crate::ds::dict::{Dict, DictKey, DictLayout};
use crate::ds::listpack::ListpackLayout;
use crate::ds::sds::Sds;
use crate::ds::{intset, listpack};
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::Server;
use crate::types::object::{RObj, Value, SHARED_INTEGERS};
use crate::types::zset::ZSet;
use crate::util::num::parse_i64;

/// Elements, nodes or buckets shown when no LIMIT is given.
pub const DEFAULT_LIMIT: usize = 128;
/// Largest LIMIT accepted, so one reply stays a few megabytes at most.
pub const MAX_LIMIT: usize = 100_000;

/// A reply tree, built first and written once (every size is known by then).
enum L {
    Map(Vec<(&'static str, L)>),
    Arr(Vec<L>),
    Int(i64),
    Bulk(Vec<u8>),
    Dbl(f64),
    Null,
}

impl L {
    fn str(s: &str) -> L {
        L::Bulk(s.as_bytes().to_vec())
    }

    fn uint(n: usize) -> L {
        L::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    fn flag(b: bool) -> L {
        L::Int(b as i64)
    }

    fn write(&self, out: &mut Reply) {
        match self {
            L::Map(kv) => {
                out.map(kv.len());
                for (k, v) in kv {
                    out.bulk(k.as_bytes());
                    v.write(out);
                }
            }
            L::Arr(items) => {
                out.array(items.len());
                for i in items {
                    i.write(out);
                }
            }
            L::Int(n) => out.int(*n),
            L::Bulk(b) => out.bulk(b),
            L::Dbl(d) => out.double(*d),
            L::Null => out.null(),
        }
    }
}

/// DEBUG LAYOUT [key] [LIMIT n] (called from DEBUG's dispatch with the whole argv).
pub fn debug_layout(srv: &mut Server, c: &mut Client, args: &Args) {
    // argv: DEBUG LAYOUT [key] [LIMIT n]; "DEBUG LAYOUT LIMIT n" is the keyspace with a limit
    // (a key named LIMIT is "DEBUG LAYOUT LIMIT LIMIT n").
    let argc = args.len();
    let (key, opts) = match argc {
        2 => (None, 2),
        4 if args.get(2).eq_ignore_ascii_case(b"limit") => (None, 2),
        _ => (Some(args.get(2)), 3),
    };
    let mut limit = DEFAULT_LIMIT;
    let mut i = opts;
    while i < argc {
        if args.get(i).eq_ignore_ascii_case(b"limit") && i + 1 < argc {
            match parse_i64(args.get(i + 1)) {
                None => return c.out.err("ERR value is not an integer or out of range"),
                Some(n) if n < 1 || n as u64 > MAX_LIMIT as u64 => {
                    return c.out.err("ERR LIMIT must be between 1 and 100000")
                }
                Some(n) => limit = n as usize,
            }
            i += 2;
        } else {
            return c.out.err("ERR syntax error");
        }
    }
    let tree = match key {
        None => keyspace_layout(srv, c.db, limit),
        Some(k) => match key_layout(srv, c.db, k, limit) {
            Some(t) => t,
            None => return c.out.err("ERR no such key"),
        },
    };
    tree.write(&mut c.out);
}

/// The layout of one key, or None when it does not exist.
fn key_layout(srv: &Server, db: usize, key: &[u8], limit: usize) -> Option<L> {
    let d = &srv.dbs[db];
    let o = d.dict.peek(key)?;
    let expire = d.expires.peek(key).copied().unwrap_or(-1);
    let lfu = srv.config.maxmemory_policy_name().ends_with("-lfu");
    let mut m: Vec<(&'static str, L)> = vec![
        ("key", L::Bulk(key.to_vec())),
        ("type", L::str(o.obj_type().name())),
        ("encoding", L::str(o.encoding_name())),
        ("refcount", L::Int(refcount(srv, o))),
        ("lru-clock", L::Int(i64::from(o.lru))),
    ];
    if lfu {
        m.push(("lfu-access-minutes", L::Int(i64::from(o.lru >> 8))));
        m.push(("lfu-counter", L::Int(i64::from(o.lru & 255))));
    } else {
        let (now, then) = (i64::from(srv.lru_clock), i64::from(o.lru));
        let idle = if now >= then {
            now - then
        } else {
            now + i64::from(crate::server::LRU_CLOCK_MAX) - then
        };
        m.push(("idle-seconds", L::Int(idle)));
    }
    m.push(("expire", L::Int(expire)));
    m.push(("limit", L::uint(limit)));
    m.push(("layout", value_layout(o, limit)));
    Some(L::Map(m))
}

/// OBJECT REFCOUNT's rule: the integers 0..9999 are Redis's shared objects when sharing is
/// allowed (no maxmemory, or a policy that keeps no per-object LRU/LFU data).
fn refcount(srv: &Server, o: &RObj) -> i64 {
    let policy = srv.config.maxmemory_policy_name();
    let sharing =
        srv.config.maxmemory == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"));
    match o.value {
        Value::Int(v) if sharing && (0..SHARED_INTEGERS).contains(&v) => i64::from(i32::MAX),
        _ => 1,
    }
}

/// The per-encoding part of a key's layout.
fn value_layout(o: &RObj, limit: usize) -> L {
    #[allow(unreachable_patterns)]
    match &o.value {
        Value::Int(v) => L::Map(vec![
            ("length", L::uint(crate::util::num::i64_len(*v))),
            ("storage", L::str("int")),
            ("heap-bytes", L::Int(0)),
            ("shared", L::flag((0..SHARED_INTEGERS).contains(v))),
            ("value", L::Bulk(v.to_string().into_bytes())),
        ]),
        Value::Str(s) => {
            let b = s.as_bytes();
            L::Map(vec![
                ("length", L::uint(b.len())),
                (
                    "storage",
                    L::str(if s.is_heap() { "heap" } else { "inline" }),
                ),
                ("heap-bytes", L::uint(s.heap_size())),
                ("shared", L::Int(0)),
                (
                    "value",
                    L::Bulk(b[..b.len().min(listpack::LAYOUT_PREVIEW)].to_vec()),
                ),
            ])
        }
        Value::List(l) => quicklist_layout(l.quicklist(), limit),
        Value::Hash(h) => match (h.as_listpack(), h.as_table()) {
            (Some(lp), _) => listpack_layout(&lp.layout(limit)),
            (None, Some(t)) => dict_layout(t, limit),
            (None, None) => L::Null,
        },
        Value::Set(s) => match (s.intset_blob(), s.dict()) {
            (Some(blob), _) => intset_layout(blob, limit),
            (None, Some(d)) => dict_layout(d, limit),
            (None, None) => L::Null,
        },
        Value::ZSet(z) => match &**z {
            ZSet::Listpack(lp) => listpack_layout(&lp.layout(limit)),
            ZSet::SkipList(zs) => L::Map(vec![
                ("skiplist", skiplist_layout(&zs.zsl, limit)),
                ("dict", dict_layout(&zs.dict, limit)),
            ]),
        },
        // Types this module does not draw yet (streams) show their header only.
        _ => L::Null,
    }
}

fn listpack_layout(l: &ListpackLayout) -> L {
    let entries = l
        .entries
        .iter()
        .map(|e| {
            L::Map(vec![
                ("offset", L::uint(e.offset)),
                ("encoding-byte", L::Int(i64::from(e.encoding_byte))),
                ("encoding", L::str(e.encoding)),
                ("encoding-len", L::uint(e.encoding_len)),
                ("data-len", L::uint(e.data_len)),
                ("backlen", L::uint(e.backlen)),
                ("backlen-len", L::uint(e.backlen_len)),
                ("size", L::uint(e.size())),
                ("int", L::flag(e.is_int)),
                ("value-len", L::uint(e.value_len)),
                ("value", L::Bulk(e.value.clone())),
            ])
        })
        .collect();
    L::Map(vec![
        ("total-bytes", L::Int(i64::from(l.total_bytes))),
        ("num-elements", L::Int(i64::from(l.num_elements))),
        ("header-bytes", L::uint(listpack::HDR_SIZE)),
        ("eof-offset", L::uint(l.eof_offset)),
        ("truncated", L::flag(l.truncated)),
        ("entries", L::Arr(entries)),
    ])
}

fn quicklist_layout(ql: &crate::ds::quicklist::Quicklist, limit: usize) -> L {
    let q = ql.layout(limit);
    let nodes = q
        .nodes
        .iter()
        .map(|n| {
            L::Map(vec![
                ("index", L::uint(n.index)),
                (
                    "container",
                    L::str(if n.plain { "PLAIN" } else { "PACKED" }),
                ),
                ("encoding", L::str(if n.compressed { "LZF" } else { "RAW" })),
                ("count", L::Int(i64::from(n.count))),
                ("sz", L::uint(n.sz)),
                ("compressed-sz", n.compressed_sz.map_or(L::Null, L::uint)),
                ("recompress", L::flag(n.recompress)),
                (
                    "listpack",
                    n.listpack.as_ref().map_or(L::Null, listpack_layout),
                ),
                (
                    "plain-preview",
                    n.plain_preview.clone().map_or(L::Null, L::Bulk),
                ),
            ])
        })
        .collect();
    L::Map(vec![
        ("count", L::uint(q.count)),
        ("node-count", L::uint(q.node_count)),
        ("fill", L::Int(i64::from(q.fill))),
        ("compress-depth", L::Int(i64::from(q.compress_depth))),
        ("truncated", L::flag(q.truncated)),
        ("nodes", L::Arr(nodes)),
    ])
}

fn intset_layout(blob: &[u8], limit: usize) -> L {
    let l = intset::layout_of(blob, limit);
    let members = l
        .members
        .iter()
        .map(|&(off, v)| L::Arr(vec![L::uint(off), L::Int(v)]))
        .collect();
    L::Map(vec![
        ("encoding", L::uint(l.encoding)),
        ("length", L::uint(l.length)),
        ("blob-len", L::uint(l.blob_len)),
        ("truncated", L::flag(l.truncated)),
        ("members", L::Arr(members)),
    ])
}

fn levels(ls: &[crate::ds::skiplist::LevelLayout]) -> L {
    L::Arr(
        ls.iter()
            .map(|l| {
                L::Arr(vec![
                    L::Int(i64::from(l.forward)),
                    L::Int(i64::from(l.span)),
                ])
            })
            .collect(),
    )
}

fn skiplist_layout(sl: &crate::ds::skiplist::SkipList, limit: usize) -> L {
    let s = sl.layout(limit);
    let nodes = s
        .nodes
        .iter()
        .map(|n| {
            L::Map(vec![
                ("rank", L::uint(n.rank)),
                ("offset", L::Int(i64::from(n.offset))),
                ("score", L::Dbl(n.score)),
                ("member-len", L::uint(n.member_len)),
                ("member", L::Bulk(n.member.clone())),
                ("backward", L::Int(i64::from(n.backward))),
                ("levels", levels(&n.levels)),
            ])
        })
        .collect();
    L::Map(vec![
        ("length", L::uint(s.length)),
        ("level", L::uint(s.level)),
        ("tail", L::Int(i64::from(s.tail))),
        ("arena-words", L::uint(s.arena_words)),
        ("free-words", L::uint(s.free_words)),
        ("truncated", L::flag(s.truncated)),
        ("header", levels(&s.header)),
        ("nodes", L::Arr(nodes)),
    ])
}

fn dict_layout<K: DictKey, V>(d: &Dict<K, V>, limit: usize) -> L {
    dict_layout_of(&d.layout(limit))
}

fn dict_layout_of(l: &DictLayout) -> L {
    let tables = l
        .tables
        .iter()
        .map(|t| {
            let buckets = t
                .buckets
                .iter()
                .map(|b| {
                    L::Arr(vec![
                        L::uint(b.index),
                        L::uint(b.chain_len),
                        L::Arr(b.keys.iter().map(|k| L::Bulk(k.clone())).collect()),
                    ])
                })
                .collect();
            L::Map(vec![
                ("size", L::uint(t.size)),
                ("used", L::uint(t.used)),
                ("buckets", L::Arr(buckets)),
            ])
        })
        .collect();
    L::Map(vec![
        ("rehashidx", l.rehashidx.map_or(L::Int(-1), L::uint)),
        ("tables", L::Arr(tables)),
    ])
}

/// A dict's sizes and rehash state without buckets (one line per database).
fn dict_summary<K, V>(d: &Dict<K, V>) -> L {
    let [s0, s1] = d.table_sizes();
    L::Map(vec![
        ("size", L::Arr(vec![L::uint(s0), L::uint(s1)])),
        ("used", L::uint(d.len())),
        ("rehashing", L::flag(d.is_rehashing())),
    ])
}

/// DEBUG LAYOUT with no key: every non-empty database's dicts in summary, and the selected
/// database's two dicts with their buckets.
fn keyspace_layout(srv: &Server, db: usize, limit: usize) -> L {
    let dbs = srv
        .dbs
        .iter()
        .filter(|d| !d.dict.is_empty() || d.dict.buckets() > 0)
        .map(|d| {
            L::Map(vec![
                ("id", L::uint(d.id)),
                ("keys", L::uint(d.dict.len())),
                ("expires", L::uint(d.expires.len())),
                ("dict", dict_summary(&d.dict)),
                ("expires-dict", dict_summary(&d.expires)),
            ])
        })
        .collect();
    let cur = &srv.dbs[db];
    L::Map(vec![
        ("db", L::uint(db)),
        ("activerehashing", L::flag(srv.config.activerehashing)),
        ("resize-allowed", L::flag(crate::ds::dict::resize_allowed())),
        ("databases", L::Arr(dbs)),
        ("dict", dict_layout::<Sds, RObj>(&cur.dict, limit)),
        ("expires", dict_layout::<Sds, i64>(&cur.expires, limit)),
        ("limit", L::uint(limit)),
    ])
}
