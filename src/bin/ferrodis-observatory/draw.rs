//! Pictures of DEBUG LAYOUT replies: server-side SVG plus a short text beside each picture that
//! says what the user sees and which config parameter governs it.
//!
//! ```text
//!  listpack   [total|count][enc|data|backlen][enc|data|backlen]...[ff]   a strip of bytes
//!  quicklist  [node 0] <-> [node 1 LZF] <-> ...  then the first nodes' listpack strips
//!  intset     [encoding|length][m0][m1]...                                 fixed-width cells
//!  skiplist   one column per node, one row per level, arrows labelled with spans
//!  dict       ht[0] and ht[1] as columns of buckets with their chains, the rehash index marked
//! ```
//!
//! Every drawn element is a `<g data-kind=...>` with `data-*` attributes holding the values it
//! shows (offsets, sizes, ranks, chain lengths), so the drawing can be checked against DEBUG
//! LAYOUT by a program as well as by eye.

use crate::resp::V;
use crate::svg::{clip, esc, show, Svg};
use std::collections::HashMap;
use std::fmt::Write;

/// Bytes per cell of a byte strip.
const CELL: f64 = 20.0;
/// Most data cells drawn for one entry (longer data is drawn cut, its length labelled).
const MAX_DATA_CELLS: usize = 10;
/// Width at which strips wrap.
const MAX_W: f64 = 1180.0;
/// Height of one strip row.
const ROW: f64 = 72.0;

const C_HDR: &str = "#d0d7de";
const C_ENC: &str = "#f4a261";
const C_STR: &str = "#8ecae6";
const C_INT: &str = "#a7c957";
const C_BL: &str = "#e9c46a";
const C_EOF: &str = "#e76f51";
const C_NODE: &str = "#ffffff";
const C_PLAIN: &str = "#ffd6a5";
const C_LEVEL: &str = "#bde0fe";
const C_BUCKET: &str = "#e9ecef";
const C_KEY: &str = "#caffbf";
const C_MOVED: &str = "#f1f3f5";

/// What one fetch from the server gave: the layout (or an error) and the config parameters the
/// explanations quote.
pub struct Snapshot {
    /// The key drawn; `None` draws the keyspace.
    pub key: Option<Vec<u8>>,
    /// The selected database.
    pub db: usize,
    /// DEBUG LAYOUT's reply, or why there is none.
    pub layout: Result<V, String>,
    /// Config parameter -> value.
    pub config: HashMap<String, String>,
}

impl Snapshot {
    fn cfg(&self, name: &str) -> String {
        self.config.get(name).cloned().unwrap_or_else(|| "?".into())
    }
}

/// Percent-encodes a key for a link.
pub fn url_encode(b: &[u8]) -> String {
    let mut o = String::new();
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            o.push(c as char);
        } else {
            let _ = write!(o, "%{c:02X}");
        }
    }
    o
}

/// How a listpack's entries pair up, for the labels above them.
#[derive(Clone, Copy)]
enum Role {
    List,
    Hash,
    Zset,
}

impl Role {
    fn label(self, i: usize) -> &'static str {
        match (self, i % 2) {
            (Role::List, _) => "elem",
            (Role::Hash, 0) => "field",
            (Role::Hash, _) => "value",
            (Role::Zset, 0) => "member",
            (Role::Zset, _) => "score",
        }
    }
}

/// The HTML fragment for a snapshot: header, explanation, picture.
pub fn fragment(s: &Snapshot) -> String {
    let l = match &s.layout {
        Ok(l) => l,
        Err(e) => return format!("<p class=\"error\">{}</p>", esc(e)),
    };
    if s.key.is_none() {
        return keyspace(s, l);
    }
    let mut out = header(l);
    let ty = l.s("type");
    let enc = l.s("encoding");
    let lay = l.get("layout");
    let (text, pic) = match (ty.as_str(), enc.as_str()) {
        ("hash", "listpack") => (explain_lp_hash(s, lay), listpack_pic(lay, Role::Hash)),
        ("zset", "listpack") => (explain_lp_zset(s, lay), listpack_pic(lay, Role::Zset)),
        ("list", _) => (explain_quicklist(s, lay), quicklist_pic(lay)),
        ("set", "intset") => (explain_intset(s, lay), intset_pic(lay)),
        ("zset", "skiplist") => {
            let mut pic = skiplist_pic(lay.get("skiplist"));
            pic.push_str("<h3>The dict half: member → score</h3>");
            pic.push_str(&dict_pic(lay.get("dict"), None));
            (explain_skiplist(s, lay), pic)
        }
        ("hash" | "set", "hashtable") => (explain_dict(s, lay, &ty), dict_pic(lay, None)),
        ("string", _) => (explain_string(lay, &enc), string_pic(lay, &enc)),
        _ => (
            format!(
                "<p>ferrodis-observatory does not draw {} values yet.</p>",
                esc(&ty)
            ),
            String::new(),
        ),
    };
    let _ = write!(
        out,
        "<div class=\"explain\">{text}</div><div class=\"pic\">{pic}</div>"
    );
    out
}

fn header(l: &V) -> String {
    let mut h = String::from("<table class=\"hdr\"><tr>");
    let key = show(l.get("key").bytes());
    let _ = write!(
        h,
        "<td><b>key</b> {}</td><td><b>type</b> {}</td><td><b>encoding</b> {}</td>\
         <td><b>refcount</b> {}</td>",
        esc(&key),
        esc(&l.s("type")),
        esc(&l.s("encoding")),
        l.i("refcount")
    );
    if l.get("lfu-counter").is_nil() {
        let _ = write!(
            h,
            "<td><b>LRU clock</b> {} (idle {} s)</td>",
            l.i("lru-clock"),
            l.i("idle-seconds")
        );
    } else {
        let _ = write!(
            h,
            "<td><b>LFU</b> counter {} · last access minute {}</td>",
            l.i("lfu-counter"),
            l.i("lfu-access-minutes")
        );
    }
    let exp = l.i("expire");
    if exp < 0 {
        h.push_str("<td><b>expire</b> none</td>");
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let _ = write!(
            h,
            "<td><b>expire</b> {exp} ms (in {:.1} s)</td>",
            (exp - now) as f64 / 1000.0
        );
    }
    let _ = write!(h, "<td><b>LIMIT</b> {}</td></tr></table>", l.i("limit"));
    h
}

// ---------------------------------------------------------------------------------------------
// Listpack

/// Draws a listpack strip from `y0`; returns the y below it.
fn listpack_strip(svg: &mut Svg, lp: &V, role: Role, y0: f64) -> f64 {
    let (mut x, mut y) = (10.0, y0);
    let total = lp.u("total-bytes");
    let count = lp.u("num-elements");
    svg.group(
        "lp-header",
        &[("total", total.to_string()), ("count", count.to_string())],
    );
    svg.text(x, y + 10.0, "@0 header", "small", "start");
    svg.rect(
        x,
        y + 16.0,
        4.0 * CELL,
        28.0,
        C_HDR,
        "total-bytes: u32 little-endian",
    );
    svg.text(
        x + 2.0 * CELL,
        y + 34.0,
        &format!("{total} B"),
        "lbl",
        "middle",
    );
    svg.rect(
        x + 4.0 * CELL,
        y + 16.0,
        2.0 * CELL,
        28.0,
        C_HDR,
        "num-elements: u16",
    );
    svg.text(
        x + 5.0 * CELL,
        y + 34.0,
        &count.to_string(),
        "lbl",
        "middle",
    );
    svg.text(x + 3.0 * CELL, y + 58.0, "total · count", "small", "middle");
    svg.end_group();
    x += 6.0 * CELL + 6.0;
    let entries = lp.a("entries");
    for (i, e) in entries.iter().enumerate() {
        let (el, dl, bl) = (e.u("encoding-len"), e.u("data-len"), e.u("backlen-len"));
        let data_cells = dl.min(MAX_DATA_CELLS);
        let w = (el + data_cells + bl) as f64 * CELL;
        let off = e.u("offset");
        let value = show(e.get("value").bytes());
        let is_int = e.i("int") != 0;
        svg.group(
            "lp-entry",
            &[
                ("index", i.to_string()),
                ("offset", off.to_string()),
                ("size", e.u("size").to_string()),
                ("encoding", e.s("encoding")),
                ("value", value.clone()),
            ],
        );
        // An integer goes in the label above when its box cannot hold it (7-bit integers have
        // no data byte at all); the entry then takes the label's width, not only its bytes'.
        // A long string is cut in its box (the tooltip has it whole).
        let box_chars = ((data_cells as f64 * CELL) / 7.0) as usize;
        let top = if dl == 0 || (is_int && value.chars().count() > box_chars) {
            format!("@{off} {} = {}", role.label(i), clip(&value, 16))
        } else {
            format!("@{off} {}", role.label(i))
        };
        let span = w
            .max(top.chars().count() as f64 * 6.2)
            .max(e.s("encoding").len() as f64 * 6.2);
        if x + span > MAX_W && x > 10.0 + 6.0 * CELL {
            x = 10.0;
            y += ROW;
        }
        svg.text(x, y + 10.0, &top, "small", "start");
        let eb = e.i("encoding-byte");
        svg.rect(
            x,
            y + 16.0,
            el as f64 * CELL,
            28.0,
            C_ENC,
            &format!(
                "encoding 0x{eb:02x} = {}: {el} byte(s) of type{}",
                e.s("encoding"),
                if is_int { "" } else { " and length" }
            ),
        );
        svg.text(
            x + el as f64 * CELL / 2.0,
            y + 34.0,
            &format!("{eb:02x}"),
            "lbl",
            "middle",
        );
        let mut cx = x + el as f64 * CELL;
        if dl > 0 {
            let dw = data_cells as f64 * CELL;
            let fill = if is_int { C_INT } else { C_STR };
            let vlen = e.u("value-len");
            svg.rect(
                cx,
                y + 16.0,
                dw,
                28.0,
                fill,
                &format!("data: {dl} byte(s); value ({vlen} bytes): {value}"),
            );
            let chars = ((dw / 7.0) as usize).max(1);
            svg.text(
                cx + dw / 2.0,
                y + 34.0,
                &clip(&value, chars),
                "lbl",
                "middle",
            );
            if dl > MAX_DATA_CELLS {
                svg.text(cx + dw - 2.0, y + 58.0, &format!("{dl} B"), "small", "end");
            }
            cx += dw;
        }
        let blv = e.u("backlen");
        svg.rect(
            cx,
            y + 16.0,
            bl as f64 * CELL,
            28.0,
            C_BL,
            &format!("back-length {blv} (= encoding + data), {bl} byte(s), read right to left"),
        );
        svg.text(
            cx + bl as f64 * CELL / 2.0,
            y + 34.0,
            &blv.to_string(),
            "lbl",
            "middle",
        );
        svg.text(x, y + 58.0, &e.s("encoding"), "small", "start");
        svg.end_group();
        x += span + 6.0;
    }
    if lp.i("truncated") != 0 {
        let more = if count == 65535 {
            "more entries".to_string()
        } else {
            format!("{} more entries", count.saturating_sub(entries.len()))
        };
        svg.text(
            x + 4.0,
            y + 34.0,
            &format!("… {more} (LIMIT)"),
            "lbl",
            "start",
        );
    } else {
        if x + CELL > MAX_W {
            x = 10.0;
            y += ROW;
        }
        let eof = lp.u("eof-offset");
        svg.group("lp-eof", &[("offset", eof.to_string())]);
        svg.text(x, y + 10.0, &format!("@{eof}"), "small", "start");
        svg.rect(x, y + 16.0, CELL, 28.0, C_EOF, "EOF: 0xFF");
        svg.text(x + CELL / 2.0, y + 34.0, "ff", "lbl", "middle");
        svg.text(x, y + 58.0, "EOF", "small", "start");
        svg.end_group();
    }
    y + ROW
}

fn listpack_pic(lp: &V, role: Role) -> String {
    let mut svg = Svg::new();
    listpack_strip(&mut svg, lp, role, 4.0);
    legend() + &svg.finish("listpack")
}

fn legend() -> String {
    let item = |c: &str, t: &str| {
        format!(
            "<span class=\"sw\" style=\"background:{c}\"></span>{}",
            esc(t)
        )
    };
    format!(
        "<div class=\"legend\">{} {} {} {} {} {}</div>",
        item(C_HDR, "header"),
        item(C_ENC, "encoding byte(s)"),
        item(C_STR, "string data"),
        item(C_INT, "integer data"),
        item(C_BL, "back-length"),
        item(C_EOF, "EOF")
    )
}

fn explain_lp_hash(s: &Snapshot, lp: &V) -> String {
    format!(
        "<p>A small hash lives in <b>one listpack</b>: one contiguous block of bytes where fields \
         and values alternate as entries. Each entry is an <i>encoding</i> byte (type, and for \
         strings the length), the <i>data</i>, and a <i>back-length</i> (the size of the first \
         two, written so the listpack can be walked backwards). Integers that fit are stored in \
         1 to 9 bytes instead of as text.</p><p>It stays a listpack while it has at most \
         <code>hash-max-listpack-entries</code> = {} fields and every field and value is at most \
         <code>hash-max-listpack-value</code> = {} bytes. This one has {} fields in {} bytes. \
         The HSET that breaks either limit converts it to a hashtable, for good (it never \
         converts back).</p>",
        esc(&s.cfg("hash-max-listpack-entries")),
        esc(&s.cfg("hash-max-listpack-value")),
        lp.u("num-elements") / 2,
        lp.u("total-bytes")
    )
}

fn explain_lp_zset(s: &Snapshot, lp: &V) -> String {
    format!(
        "<p>A small sorted set lives in <b>one listpack</b>: member, score, member, score… kept \
         in score order, so ZRANGE is a walk and ZADD shifts bytes. A score that is an exact \
         integer is stored as an integer entry, others as their shortest text.</p><p>It stays a \
         listpack while it has at most <code>zset-max-listpack-entries</code> = {} members, each \
         at most <code>zset-max-listpack-value</code> = {} bytes; this one has {}. Past either \
         limit ZADD converts it to a skiplist plus a dict.</p>",
        esc(&s.cfg("zset-max-listpack-entries")),
        esc(&s.cfg("zset-max-listpack-value")),
        lp.u("num-elements") / 2
    )
}

// ---------------------------------------------------------------------------------------------
// Quicklist

const NODE_W: f64 = 176.0;
const NODE_H: f64 = 128.0;
const NODE_GAP: f64 = 44.0;

fn quicklist_pic(q: &V) -> String {
    let mut svg = Svg::new();
    let nodes = q.a("nodes");
    let per_row = ((MAX_W - 20.0) / (NODE_W + NODE_GAP)).floor().max(1.0) as usize;
    let pos = |i: usize| {
        (
            20.0 + (i % per_row) as f64 * (NODE_W + NODE_GAP),
            24.0 + (i / per_row) as f64 * (NODE_H + 40.0),
        )
    };
    let total_nodes = q.u("node-count");
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let compressed = n.s("encoding") == "LZF";
        let plain = n.s("container") == "PLAIN";
        let (sz, csz) = (n.u("sz"), n.u("compressed-sz"));
        svg.group(
            "ql-node",
            &[
                ("index", i.to_string()),
                ("container", n.s("container")),
                ("encoding", n.s("encoding")),
                ("count", n.u("count").to_string()),
                ("sz", sz.to_string()),
                (
                    "compressed-sz",
                    if compressed {
                        csz.to_string()
                    } else {
                        String::new()
                    },
                ),
            ],
        );
        if i == 0 {
            svg.text(x, y - 8.0, "head", "small", "start");
        }
        if i + 1 == total_nodes {
            svg.text(x + NODE_W, y - 8.0, "tail", "small", "end");
        }
        let fill = if compressed {
            "url(#hatch)"
        } else if plain {
            C_PLAIN
        } else {
            C_NODE
        };
        svg.rect(x, y, NODE_W, NODE_H, fill, "");
        svg.text(x + 8.0, y + 16.0, &format!("node {i}"), "bold", "start");
        svg.text(
            x + NODE_W - 8.0,
            y + 16.0,
            &format!("{} · {}", n.s("container"), n.s("encoding")),
            "small",
            "end",
        );
        svg.text(
            x + 8.0,
            y + 34.0,
            &format!("count {} · sz {sz} B", n.u("count")),
            "lbl",
            "start",
        );
        if compressed {
            let pct = (csz * 100).checked_div(sz).unwrap_or(0);
            svg.text(
                x + 8.0,
                y + 50.0,
                &format!("LZF {sz} → {csz} B ({pct}%)"),
                "lbl",
                "start",
            );
            svg.rect(
                x + 8.0,
                y + 56.0,
                NODE_W - 16.0,
                6.0,
                "#fff",
                "uncompressed size",
            );
            svg.rect(
                x + 8.0,
                y + 56.0,
                (NODE_W - 16.0) * (pct.min(100) as f64) / 100.0,
                6.0,
                "#6c757d",
                "compressed size",
            );
        } else {
            svg.text(x + 8.0, y + 50.0, "raw bytes", "lbl", "start");
        }
        let lp = n.get("listpack");
        let mut ly = y + 78.0;
        if plain {
            let p = show(n.get("plain-preview").bytes());
            svg.text(x + 8.0, ly, &clip(&format!("“{p}”"), 24), "lbl", "start");
        } else {
            let es = lp.a("entries");
            for e in es.iter().take(3) {
                svg.text(
                    x + 8.0,
                    ly,
                    &clip(&show(e.get("value").bytes()), 24),
                    "lbl",
                    "start",
                );
                ly += 15.0;
            }
            if n.u("count") > 3 {
                svg.text(
                    x + 8.0,
                    ly,
                    &format!("… {} more", n.u("count") - es.len().min(3)),
                    "small",
                    "start",
                );
            }
        }
        svg.end_group();
        if i > 0 {
            let (px, py) = pos(i - 1);
            if py == y {
                svg.arrow(px + NODE_W, y + 40.0, x, y + 40.0, "link");
                svg.arrow(x, y + 56.0, px + NODE_W, y + 56.0, "link back");
                svg.text((px + NODE_W + x) / 2.0, y + 36.0, "next", "tiny", "middle");
                svg.text((px + NODE_W + x) / 2.0, y + 68.0, "prev", "tiny", "middle");
            }
        }
    }
    let mut y = pos(nodes.len().max(1) - 1).1 + NODE_H + 20.0;
    if q.i("truncated") != 0 {
        svg.text(
            20.0,
            y,
            &format!(
                "… {} more nodes (LIMIT)",
                total_nodes.saturating_sub(nodes.len())
            ),
            "lbl",
            "start",
        );
        y += 20.0;
    }
    // The first nodes' listpacks as byte strips.
    for (i, n) in nodes.iter().enumerate().take(3) {
        let lp = n.get("listpack");
        if lp.is_nil() {
            continue;
        }
        let what = if n.s("encoding") == "LZF" {
            "decompressed copy of its LZF blob"
        } else {
            "as stored"
        };
        svg.text(
            10.0,
            y + 16.0,
            &format!("node {i}'s listpack ({what})"),
            "bold",
            "start",
        );
        y = listpack_strip(&mut svg, lp, Role::List, y + 22.0) + 6.0;
    }
    legend() + &svg.finish("quicklist")
}

fn explain_quicklist(s: &Snapshot, q: &V) -> String {
    let fill = q.i("fill");
    let fill_text = if fill < 0 {
        let kb = [4, 8, 16, 32, 64][((-fill - 1) as usize).min(4)];
        format!("{fill}: each node's listpack holds at most {kb} KiB")
    } else {
        format!("{fill}: each node holds at most {fill} entries (and never more than 8 KiB)")
    };
    let depth = q.i("compress-depth");
    let depth_text = if depth == 0 {
        "0: no node is compressed".to_string()
    } else {
        format!(
            "{depth}: the {depth} node(s) at each end stay raw, the nodes between are \
             LZF-compressed (hatched) when that saves at least 8 bytes of a node of 48 bytes or more"
        )
    };
    format!(
        "<p>A list is a <b>quicklist</b>: a doubly linked list of nodes, each a listpack (or, \
         for an element of at least the packed threshold, a PLAIN node holding it alone). This \
         one has {} elements in {} nodes.</p><ul><li><code>list-max-listpack-size</code> = \
         {fill_text}. When a push finds the end node full, a new node starts.</li>\
         <li><code>list-compress-depth</code> = {depth_text}.</li></ul><p>Both were copied into \
         the list when it was created (the server's settings now: {} and {}); CONFIG SET \
         changes lists created afterwards.</p>",
        q.u("count"),
        q.u("node-count"),
        esc(&s.cfg("list-max-listpack-size")),
        esc(&s.cfg("list-compress-depth"))
    )
}

// ---------------------------------------------------------------------------------------------
// Intset

fn intset_pic(l: &V) -> String {
    let mut svg = Svg::new();
    let enc = l.u("encoding").max(1);
    let cw = 14.0;
    let (mut x, mut y) = (10.0, 4.0);
    svg.group(
        "intset-header",
        &[
            ("encoding", enc.to_string()),
            ("length", l.u("length").to_string()),
        ],
    );
    svg.text(x, y + 10.0, "@0 encoding", "small", "start");
    svg.rect(
        x,
        y + 16.0,
        4.0 * cw,
        28.0,
        C_HDR,
        "encoding: bytes per member (u32)",
    );
    svg.text(x + 2.0 * cw, y + 34.0, &enc.to_string(), "lbl", "middle");
    svg.text(x + 4.0 * cw, y + 10.0, "@4 length", "small", "start");
    svg.rect(
        x + 4.0 * cw,
        y + 16.0,
        4.0 * cw,
        28.0,
        C_HDR,
        "length: member count (u32)",
    );
    svg.text(
        x + 6.0 * cw,
        y + 34.0,
        &l.u("length").to_string(),
        "lbl",
        "middle",
    );
    svg.end_group();
    x += 8.0 * cw + 6.0;
    let w = (enc as f64 * cw).max(40.0);
    for m in l.a("members") {
        let p = m.items();
        let (off, v) = (p.first().map_or(0, V::int), p.get(1).map_or(0, V::int));
        if x + w > MAX_W {
            x = 10.0;
            y += ROW;
        }
        svg.group(
            "intset-member",
            &[("offset", off.to_string()), ("value", v.to_string())],
        );
        svg.text(x, y + 10.0, &format!("@{off}"), "small", "start");
        svg.rect(
            x,
            y + 16.0,
            w,
            28.0,
            C_INT,
            &format!("{v}: {enc} bytes, little-endian"),
        );
        svg.text(
            x + w / 2.0,
            y + 34.0,
            &clip(&v.to_string(), (w / 7.0) as usize),
            "lbl",
            "middle",
        );
        svg.end_group();
        x += w + 2.0;
    }
    if l.i("truncated") != 0 {
        svg.text(x + 4.0, y + 34.0, "… (LIMIT)", "lbl", "start");
    }
    svg.finish("intset")
}

fn explain_intset(s: &Snapshot, l: &V) -> String {
    format!(
        "<p>A set of integers is an <b>intset</b>: a sorted array of fixed-width integers after \
         an 8-byte header, searched by bisection. Every member has the width of the widest one \
         ever added: here {} bytes; adding a member that needs 32 or 64 bits widens them all \
         in place (and removing it never narrows them back).</p><p>It stays an intset while all \
         members are integers and there are at most <code>set-max-intset-entries</code> = {} \
         (this one: {}). A non-integer member or one member too many converts it to a \
         hashtable.</p>",
        l.u("encoding"),
        esc(&s.cfg("set-max-intset-entries")),
        l.u("length")
    )
}

// ---------------------------------------------------------------------------------------------
// Skiplist

/// Most skiplist nodes drawn (the reply may hold more).
const MAX_SL_NODES: usize = 40;

fn skiplist_pic(sl: &V) -> String {
    let mut svg = Svg::new();
    let level = sl.u("level").max(1);
    let nodes = sl.a("nodes");
    let shown = nodes.len().min(MAX_SL_NODES);
    let (col, bw, bh, rowh) = (76.0, 46.0, 18.0, 24.0);
    let top = 22.0;
    let y_of = |l: usize| top + (level - 1 - l) as f64 * rowh;
    let x_of = |i: usize| 20.0 + (i + 1) as f64 * col; // column 0 is the header
    let end_x = x_of(shown) + 10.0;
    let base = y_of(0) + bh;
    let mut col_of: HashMap<i64, usize> = HashMap::new();
    for (i, n) in nodes.iter().take(shown).enumerate() {
        col_of.insert(n.i("offset"), i);
    }
    // One row of links: from (x, level) to the column its forward offset names.
    let links = |svg: &mut Svg, x: f64, from_rank: usize, lv: &[V]| {
        for (l, p) in lv.iter().enumerate() {
            let p = p.items();
            let (fwd, span) = (p.first().map_or(0, V::int), p.get(1).map_or(0, V::int));
            let y = y_of(l) + bh / 2.0;
            if fwd == 0 {
                svg.text(x + bw + 4.0, y + 4.0, "⊥", "tiny", "start");
                continue;
            }
            let (tx, label) = match col_of.get(&fwd) {
                Some(&j) => (x_of(j), format!("{span}")),
                None => (end_x, format!("{span} → #{}", from_rank as i64 + span)),
            };
            svg.arrow(x + bw, y, tx, y, "link");
            svg.text((x + bw + tx) / 2.0, y - 2.0, &label, "tiny", "middle");
        }
    };
    // The header.
    let hx = 20.0;
    svg.group("sl-header", &[("level", level.to_string())]);
    for l in 0..level {
        svg.rect(hx, y_of(l), bw, bh, C_HDR, &format!("header level {l}"));
        svg.text(
            hx + bw / 2.0,
            y_of(l) + 13.0,
            &format!("L{l}"),
            "tiny",
            "middle",
        );
    }
    svg.text(hx, base + 16.0, "header", "bold", "start");
    svg.text(hx, base + 30.0, &format!("level {level}"), "small", "start");
    svg.end_group();
    links(&mut svg, hx, 0, sl.a("header"));
    for (i, n) in nodes.iter().take(shown).enumerate() {
        let x = x_of(i);
        let lv = n.a("levels");
        let member = show(n.get("member").bytes());
        let score = String::from_utf8_lossy(n.get("score").bytes()).into_owned();
        svg.group(
            "sl-node",
            &[
                ("rank", n.u("rank").to_string()),
                ("offset", n.i("offset").to_string()),
                ("height", lv.len().to_string()),
                ("member", member.clone()),
                ("score", score.clone()),
            ],
        );
        for l in 0..lv.len() {
            svg.rect(x, y_of(l), bw, bh, C_LEVEL, &format!("level {l}"));
        }
        svg.text(
            x + bw / 2.0,
            base + 16.0,
            &clip(&member, 9),
            "lbl",
            "middle",
        );
        svg.text(
            x + bw / 2.0,
            base + 30.0,
            &clip(&score, 9),
            "small",
            "middle",
        );
        svg.text(
            x + bw / 2.0,
            base + 44.0,
            &format!("#{} @{}", n.u("rank"), n.i("offset")),
            "tiny",
            "middle",
        );
        svg.end_group();
        links(&mut svg, x, n.u("rank"), lv);
        let back = n.i("backward");
        if let Some(&j) = col_of.get(&back) {
            svg.curve(x + 8.0, x_of(j) + bw - 8.0, base + 50.0, 16.0, "back");
        }
    }
    if sl.i("truncated") != 0 || shown < nodes.len() {
        svg.text(
            end_x + 8.0,
            base + 16.0,
            &format!("… {} more", sl.u("length").saturating_sub(shown)),
            "lbl",
            "start",
        );
    }
    svg.finish("skiplist")
}

fn explain_skiplist(s: &Snapshot, lay: &V) -> String {
    let sl = lay.get("skiplist");
    format!(
        "<p>A large sorted set is a <b>skiplist</b> plus a <b>dict</b>. The skiplist keeps \
         (score, member) order: every node has a random height (each level with probability \
         1/4, at most 32) and each link carries a <i>span</i>, the number of elements it jumps, \
         so ZRANK and ZRANGE by rank take O(log n) steps from the header down. Dashed arrows \
         are the backward links ZREVRANGE follows. This one: {} members, header level {}.</p>\
         <p>It became a skiplist when it passed <code>zset-max-listpack-entries</code> = {} \
         members or a member passed <code>zset-max-listpack-value</code> = {} bytes. The dict \
         maps member → score for O(1) ZSCORE; its tables are drawn below. In ferrodis the nodes \
         are records in one arena of 32-bit words: the @numbers are word offsets, 0 is the \
         header and stands for NULL.</p>",
        sl.u("length"),
        sl.u("level"),
        esc(&s.cfg("zset-max-listpack-entries")),
        esc(&s.cfg("zset-max-listpack-value"))
    )
}

// ---------------------------------------------------------------------------------------------
// Dict

/// Most bucket rows drawn per table.
const MAX_BUCKETS: usize = 64;

/// Draws a dict's two tables side by side. With `db`, keys link to their own pictures.
fn dict_pic(d: &V, db: Option<usize>) -> String {
    let mut svg = Svg::new();
    let rehashidx = d.i("rehashidx");
    let (rowh, kw) = (22.0, 104.0);
    for (t, tab) in d.a("tables").iter().enumerate() {
        let x0 = 10.0 + t as f64 * 620.0;
        let (size, used) = (tab.u("size"), tab.u("used"));
        let title = if t == 0 { "ht[0]" } else { "ht[1]" };
        svg.group(
            "dict-table",
            &[
                ("table", t.to_string()),
                ("size", size.to_string()),
                ("used", used.to_string()),
            ],
        );
        svg.text(
            x0,
            16.0,
            &format!("{title}: {size} buckets, {used} entries"),
            "bold",
            "start",
        );
        if t == 0 && rehashidx >= 0 && size > 0 {
            let frac = (rehashidx as f64 / size as f64).min(1.0);
            svg.rect(x0, 24.0, 240.0, 8.0, "#fff", "ht[0] buckets");
            svg.rect(x0, 24.0, 240.0 * frac, 8.0, "#74c0fc", "moved to ht[1]");
            svg.text(
                x0 + 248.0,
                32.0,
                &format!("rehashidx {rehashidx} / {size}"),
                "small",
                "start",
            );
        } else if t == 1 && size == 0 {
            svg.text(
                x0,
                32.0,
                "(not allocated: no rehash in progress)",
                "small",
                "start",
            );
        }
        svg.end_group();
        let buckets = tab.a("buckets");
        for (r, b) in buckets.iter().take(MAX_BUCKETS).enumerate() {
            let p = b.items();
            let idx = p.first().map_or(0, V::int);
            let chain = p.get(1).map_or(0, V::int) as usize;
            let keys = p.get(2).map_or(&[][..], V::items);
            let y = 44.0 + r as f64 * rowh;
            let moved = t == 0 && rehashidx >= 0 && idx < rehashidx;
            svg.group(
                "bucket",
                &[
                    ("table", t.to_string()),
                    ("index", idx.to_string()),
                    ("chain", chain.to_string()),
                ],
            );
            if t == 0 && idx == rehashidx {
                svg.text(x0 + 66.0, y + 14.0, "rehashidx ▶", "small", "end");
            }
            svg.text(x0 + 96.0, y + 14.0, &idx.to_string(), "small", "end");
            svg.rect(
                x0 + 100.0,
                y + 2.0,
                36.0,
                rowh - 4.0,
                if moved { C_MOVED } else { C_BUCKET },
                &format!("bucket {idx}: chain of {chain}"),
            );
            if chain == 0 {
                svg.text(
                    x0 + 118.0,
                    y + 15.0,
                    if moved { "moved" } else { "·" },
                    "tiny",
                    "middle",
                );
            }
            let mut kx = x0 + 144.0;
            for (k, key) in keys.iter().take(4).enumerate() {
                let name = show(key.bytes());
                if k == 0 {
                    svg.arrow(x0 + 136.0, y + rowh / 2.0, kx, y + rowh / 2.0, "link");
                } else {
                    svg.arrow(kx - 8.0, y + rowh / 2.0, kx, y + rowh / 2.0, "link");
                }
                if let Some(db) = db {
                    svg.link(&format!("/?key={}&db={db}", url_encode(key.bytes())));
                }
                svg.rect(kx, y + 2.0, kw - 8.0, rowh - 4.0, C_KEY, &name);
                svg.text(kx + 4.0, y + 15.0, &clip(&name, 13), "lbl", "start");
                if db.is_some() {
                    svg.end_link();
                }
                kx += kw;
            }
            if chain > keys.len().min(4) {
                svg.text(
                    kx,
                    y + 15.0,
                    &format!("+{}", chain - keys.len().min(4)),
                    "small",
                    "start",
                );
            }
            svg.end_group();
        }
        if buckets.len() > MAX_BUCKETS || (size > 0 && buckets.len() < size) {
            let first = buckets
                .first()
                .map_or(0, |b| b.items().first().map_or(0, V::int));
            let y = 44.0 + buckets.len().min(MAX_BUCKETS) as f64 * rowh + 14.0;
            svg.text(
                x0,
                y,
                &format!(
                    "buckets {first}..{} of {size} shown",
                    first + buckets.len().min(MAX_BUCKETS) as i64 - 1
                ),
                "small",
                "start",
            );
        }
    }
    svg.finish("dict")
}

fn explain_dict(s: &Snapshot, d: &V, ty: &str) -> String {
    let t = d.a("tables");
    let used: usize = t.iter().map(|x| x.u("used")).sum();
    let size0 = t.first().map_or(0, |x| x.u("size"));
    let rehashing = d.i("rehashidx") >= 0;
    let why = if ty == "hash" {
        format!(
            "It became a hashtable when it passed <code>hash-max-listpack-entries</code> = {} \
             fields or a field or value passed <code>hash-max-listpack-value</code> = {} bytes.",
            esc(&s.cfg("hash-max-listpack-entries")),
            esc(&s.cfg("hash-max-listpack-value"))
        )
    } else {
        format!(
            "It became a hashtable when a member was not an integer or it passed \
             <code>set-max-intset-entries</code> = {}.",
            esc(&s.cfg("set-max-intset-entries"))
        )
    };
    format!(
        "<p>A <b>dict</b>: a table of 2<sup>n</sup> buckets, each a chain of entries whose hash \
         lands there (new entries go to the head). {used} entries in {size0} buckets: load \
         factor {:.2}. At load factor 1 an insert allocates ht[1] at the next power of two and \
         starts an <b>incremental rehash</b>: {}</p><p>A value's dict moves one bucket per \
         command that touches it (HSET, HGET…), so it can stay half-moved while idle; the \
         keyspace's dicts also rehash for 1 ms per cron tick (<code>activerehashing</code> = \
         {}, <code>hz</code> = {}). Shrinking happens when fewer than 10% of buckets are used.\
         </p><p>{why}</p>",
        if size0 > 0 {
            used as f64 / size0 as f64
        } else {
            0.0
        },
        if rehashing {
            "in progress now: buckets of ht[0] below rehashidx have moved to ht[1]; lookups try \
             both tables and inserts go to ht[1]."
        } else {
            "not in progress now, ht[1] is empty."
        },
        esc(&s.cfg("activerehashing")),
        esc(&s.cfg("hz"))
    )
}

// ---------------------------------------------------------------------------------------------
// Strings and the keyspace

fn string_pic(l: &V, enc: &str) -> String {
    let mut svg = Svg::new();
    let storage = l.s("storage");
    svg.group(
        "string",
        &[
            ("encoding", enc.to_string()),
            ("length", l.u("length").to_string()),
            ("storage", storage.clone()),
        ],
    );
    svg.rect(10.0, 10.0, 200.0, 60.0, C_HDR, "the object");
    svg.text(20.0, 30.0, "robj: type string", "lbl", "start");
    svg.text(20.0, 48.0, &format!("encoding {enc}"), "lbl", "start");
    let value = show(l.get("value").bytes());
    let (fill, what) = match storage.as_str() {
        "int" => (C_INT, "the integer itself, no allocation".to_string()),
        "inline" => (C_STR, format!("inline Sds, {} bytes", l.u("length"))),
        _ => (
            C_STR,
            format!("heap Sds, {} bytes allocated", l.u("heap-bytes")),
        ),
    };
    svg.arrow(210.0, 40.0, 260.0, 40.0, "link");
    svg.rect(260.0, 10.0, 420.0, 60.0, fill, &value);
    svg.text(270.0, 30.0, &what, "lbl", "start");
    svg.text(
        270.0,
        50.0,
        &clip(&format!("“{value}”"), 56),
        "lbl",
        "start",
    );
    svg.end_group();
    svg.finish("string")
}

fn explain_string(l: &V, enc: &str) -> String {
    let e = match enc {
        "int" => format!(
            "<b>int</b>: a string that is a canonical 64-bit integer is kept as the number, not \
             its text.{}",
            if l.i("shared") != 0 {
                " Redis shares the objects for 0..9999 (OBJECT REFCOUNT answers INT_MAX)."
            } else {
                ""
            }
        ),
        "embstr" => "<b>embstr</b>: Redis allocates a string of at most 44 bytes together with \
                     its object, in one block, and never modifies it in place."
            .to_string(),
        _ => "<b>raw</b>: longer than 44 bytes, or modified in place (APPEND, SETRANGE, SETBIT): \
              the object points to a separately allocated string."
            .to_string(),
    };
    format!(
        "<p>{e}</p><p>In ferrodis a string of at most 15 bytes sits inline in the object's \
         16-byte value slot; a longer one owns one heap block (here: {}).</p>",
        esc(&l.s("storage"))
    )
}

fn keyspace(s: &Snapshot, l: &V) -> String {
    let mut h = String::from(
        "<div class=\"explain\"><p>The <b>keyspace</b>: each database is a dict from key to \
         value plus a second dict from key to expire time. Click a key to see its value.</p>",
    );
    let _ = write!(
        h,
        "<p><code>activerehashing</code> = {}: the cron moves keyspace buckets for 1 ms per \
         tick ({} ticks a second, <code>hz</code>). While a fork child (BGSAVE) runs, tables do \
         not resize unless their load factor passes 5 (resize allowed now: {}).</p></div>",
        esc(&s.cfg("activerehashing")),
        esc(&s.cfg("hz")),
        if l.i("resize-allowed") != 0 {
            "yes"
        } else {
            "no"
        }
    );
    h.push_str(
        "<table class=\"dbs\"><tr><th>db</th><th>keys</th><th>expires</th><th>dict buckets \
         (ht[0], ht[1])</th><th>rehashing</th></tr>",
    );
    for d in l.a("databases") {
        let dict = d.get("dict");
        let sz = dict.a("size");
        let _ = write!(
            h,
            "<tr data-kind=\"db\" data-id=\"{id}\"><td><a href=\"/?db={id}\">{id}</a></td><td>{}</td>\
             <td>{}</td><td>{}, {}</td><td>{}</td></tr>",
            d.u("keys"),
            d.u("expires"),
            sz.first().map_or(0, V::int),
            sz.get(1).map_or(0, V::int),
            if dict.i("rehashing") != 0 { "yes" } else { "no" },
            id = d.u("id")
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h3>db {}: the main dict</h3>", l.u("db"));
    let _ = write!(
        h,
        "<div class=\"pic\">{}</div><h3>The expires dict</h3><div class=\"pic\">{}</div>",
        dict_pic(l.get("dict"), Some(s.db)),
        dict_pic(l.get("expires"), Some(s.db))
    );
    h
}
