//! `--text key`: the layout as annotated text for a terminal, one line per entry, node or
//! bucket, with the same explanations' key facts as the page.

use crate::draw::Snapshot;
use crate::resp::V;
use crate::svg::show;
use std::fmt::Write;

/// The text for a snapshot whose layout is present.
pub fn render(s: &Snapshot) -> String {
    let Ok(l) = &s.layout else {
        return String::new();
    };
    let mut o = String::new();
    if s.key.is_none() {
        keyspace(&mut o, l);
        return o;
    }
    let _ = writeln!(
        o,
        "key {:?}  type {}  encoding {}  refcount {}  {}  expire {}",
        show(l.get("key").bytes()),
        l.s("type"),
        l.s("encoding"),
        l.i("refcount"),
        if l.get("lfu-counter").is_nil() {
            format!(
                "lru-clock {} (idle {} s)",
                l.i("lru-clock"),
                l.i("idle-seconds")
            )
        } else {
            format!("lfu-counter {}", l.i("lfu-counter"))
        },
        match l.i("expire") {
            -1 => "none".to_string(),
            ms => format!("{ms} ms"),
        }
    );
    let lay = l.get("layout");
    let cfg = |k: &str| s.config.get(k).cloned().unwrap_or_else(|| "?".into());
    match (l.s("type").as_str(), l.s("encoding").as_str()) {
        ("hash", "listpack") => {
            let _ = writeln!(
                o,
                "listpack, converts past hash-max-listpack-entries {} / hash-max-listpack-value {}",
                cfg("hash-max-listpack-entries"),
                cfg("hash-max-listpack-value")
            );
            listpack(&mut o, lay, &["field", "value"], "");
        }
        ("zset", "listpack") => {
            let _ = writeln!(
                o,
                "listpack, converts past zset-max-listpack-entries {} / zset-max-listpack-value {}",
                cfg("zset-max-listpack-entries"),
                cfg("zset-max-listpack-value")
            );
            listpack(&mut o, lay, &["member", "score"], "");
        }
        ("list", _) => {
            let _ = writeln!(
                o,
                "quicklist: {} elements in {} nodes, fill {} (list-max-listpack-size), \
                 compress depth {} (list-compress-depth)",
                lay.u("count"),
                lay.u("node-count"),
                lay.i("fill"),
                lay.i("compress-depth")
            );
            for n in lay.a("nodes") {
                let _ = write!(
                    o,
                    "  node {:<4} {} {}  count {}  sz {}",
                    n.u("index"),
                    n.s("container"),
                    n.s("encoding"),
                    n.u("count"),
                    n.u("sz")
                );
                if n.s("encoding") == "LZF" {
                    let _ = write!(o, "  LZF {} -> {} bytes", n.u("sz"), n.u("compressed-sz"));
                }
                o.push('\n');
                if !n.get("listpack").is_nil() {
                    listpack(&mut o, n.get("listpack"), &["elem"], "    ");
                }
            }
            if lay.i("truncated") != 0 {
                o.push_str("  ... more nodes (LIMIT)\n");
            }
        }
        ("set", "intset") => {
            let _ = writeln!(
                o,
                "intset: {} members of {} bytes each, {} bytes in all (set-max-intset-entries {})",
                lay.u("length"),
                lay.u("encoding"),
                lay.u("blob-len"),
                cfg("set-max-intset-entries")
            );
            o.push_str("  offset  value\n");
            for m in lay.a("members") {
                let p = m.items();
                let _ = writeln!(
                    o,
                    "  {:<6}  {}",
                    p.first().map_or(0, V::int),
                    p.get(1).map_or(0, V::int)
                );
            }
        }
        ("zset", "skiplist") => {
            let sl = lay.get("skiplist");
            let _ = writeln!(
                o,
                "skiplist: {} members, header level {}, tail @{} (word offsets; 0 = header/NULL)",
                sl.u("length"),
                sl.u("level"),
                sl.i("tail")
            );
            let _ = writeln!(o, "  header  {}", levels(sl.a("header")));
            for n in sl.a("nodes") {
                let _ = writeln!(
                    o,
                    "  #{:<5} @{:<6} score {:<12} member {:<16} back @{:<6} levels {}",
                    n.u("rank"),
                    n.i("offset"),
                    String::from_utf8_lossy(n.get("score").bytes()),
                    show(n.get("member").bytes()),
                    n.i("backward"),
                    levels(n.a("levels"))
                );
            }
            o.push_str("dict (member -> score):\n");
            dict(&mut o, lay.get("dict"));
        }
        ("hash" | "set", "hashtable") => dict(&mut o, lay),
        ("string", enc) => {
            let _ = writeln!(
                o,
                "{enc} string: {} bytes, stored {} ({} heap bytes): {:?}",
                lay.u("length"),
                lay.s("storage"),
                lay.u("heap-bytes"),
                show(lay.get("value").bytes())
            );
        }
        (t, _) => {
            let _ = writeln!(o, "({t} values are not drawn yet)");
        }
    }
    o
}

fn levels(ls: &[V]) -> String {
    let mut s = String::new();
    for (i, l) in ls.iter().enumerate() {
        let p = l.items();
        let (fwd, span) = (p.first().map_or(0, V::int), p.get(1).map_or(0, V::int));
        if i > 0 {
            s.push(' ');
        }
        if fwd == 0 {
            let _ = write!(s, "L{i}:NULL");
        } else {
            let _ = write!(s, "L{i}:@{fwd}+{span}");
        }
    }
    s
}

fn listpack(o: &mut String, lp: &V, roles: &[&str], ind: &str) {
    let _ = writeln!(
        o,
        "{ind}@0     header  total-bytes {} (u32)  num-elements {} (u16)",
        lp.u("total-bytes"),
        lp.u("num-elements")
    );
    let _ = writeln!(
        o,
        "{ind}offset  byte  encoding   enc+data+back  role    value"
    );
    for (i, e) in lp.a("entries").iter().enumerate() {
        let _ = writeln!(
            o,
            "{ind}@{:<6} {:02x}    {:<10} {}+{}+{:<9} {:<7} {:?}{}",
            e.u("offset"),
            e.i("encoding-byte"),
            e.s("encoding"),
            e.u("encoding-len"),
            e.u("data-len"),
            e.u("backlen-len"),
            roles[i % roles.len()],
            show(e.get("value").bytes()),
            if e.u("value-len") > e.get("value").bytes().len() {
                format!(" ({} bytes)", e.u("value-len"))
            } else {
                String::new()
            }
        );
    }
    if lp.i("truncated") != 0 {
        let _ = writeln!(o, "{ind}...     more entries (LIMIT)");
    } else {
        let _ = writeln!(o, "{ind}@{:<6} ff    EOF", lp.u("eof-offset"));
    }
}

fn dict(o: &mut String, d: &V) {
    let r = d.i("rehashidx");
    let _ = writeln!(
        o,
        "dict: {}",
        if r < 0 {
            "not rehashing".to_string()
        } else {
            format!("rehashing, rehashidx {r}")
        }
    );
    for (t, tab) in d.a("tables").iter().enumerate() {
        let _ = writeln!(
            o,
            "  ht[{t}]: {} buckets, {} used",
            tab.u("size"),
            tab.u("used")
        );
        for b in tab.a("buckets") {
            let p = b.items();
            let chain = p.get(1).map_or(0, V::int);
            if chain == 0 {
                continue;
            }
            let keys: Vec<String> = p
                .get(2)
                .map_or(&[][..], V::items)
                .iter()
                .map(|k| format!("{:?}", show(k.bytes())))
                .collect();
            let _ = writeln!(
                o,
                "    bucket {:<6} chain {}: {}",
                p.first().map_or(0, V::int),
                chain,
                keys.join(" -> ")
            );
        }
    }
}

fn keyspace(o: &mut String, l: &V) {
    let _ = writeln!(
        o,
        "keyspace (db {} selected), activerehashing {}",
        l.u("db"),
        l.i("activerehashing")
    );
    for d in l.a("databases") {
        let sz = d.get("dict").a("size");
        let _ = writeln!(
            o,
            "  db {:<2}  keys {:<8} expires {:<8} buckets {}+{}{}",
            d.u("id"),
            d.u("keys"),
            d.u("expires"),
            sz.first().map_or(0, V::int),
            sz.get(1).map_or(0, V::int),
            if d.get("dict").i("rehashing") != 0 {
                "  rehashing"
            } else {
                ""
            }
        );
    }
    o.push_str("main dict:\n");
    dict(o, l.get("dict"));
    o.push_str("expires dict:\n");
    dict(o, l.get("expires"));
}
