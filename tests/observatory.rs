//! ferrodis-observatory (src/bin/ferrodis-observatory): starts a ferrodis and the observatory on
//! free ports, fetches the page over HTTP for a key of each kind, and checks that the drawing
//! holds the elements DEBUG LAYOUT describes (every drawn element carries its values as
//! `data-*` attributes). Also `--text`, AUTH, and the page's live-refresh route.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn observatory_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferrodis-observatory")
}

/// A running observatory, killed on drop.
struct Observatory {
    child: Child,
    port: u16,
}

impl Drop for Observatory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Observatory {
    /// Starts the observatory for `server` on a free port, with `extra` options; waits for the
    /// line that says where it listens.
    fn start(server: &Server, extra: &[&str]) -> Observatory {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(observatory_bin())
                .args(["--port", &server.port().to_string()])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--limit", "100"])
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ferrodis-observatory starts");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
            if line.contains(&format!("http://127.0.0.1:{port}/")) {
                return Observatory { child, port };
            }
            // The port was taken between free_port and bind: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the observatory did not start");
    }

    /// GET `path`: (status code, body).
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the page");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("a Content-Length")
            .parse()
            .unwrap();
        assert_eq!(body.len(), len, "the body has its declared length");
        (code, body.to_string())
    }
}

/// The attributes of every `<g data-kind="kind" ...>` (or `<tr data-kind=...>`) in `html`.
fn drawn(html: &str, kind: &str) -> Vec<HashMap<String, String>> {
    let needle = format!("data-kind=\"{kind}\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        let tail = &rest[i + needle.len()..];
        let end = tail.find('>').unwrap();
        let mut attrs = HashMap::new();
        for part in tail[..end].split("\" ") {
            if let Some((k, v)) = part.trim().split_once("=\"") {
                let k = k.trim_start_matches("data-");
                attrs.insert(k.to_string(), v.trim_end_matches('"').to_string());
            }
        }
        out.push(attrs);
        rest = &tail[end..];
    }
    out
}

/// DEBUG LAYOUT key over RESP3, with the observatory's limit.
fn layout(c: &mut RawConn, key: &str) -> Reply {
    c.value(&["DEBUG", "LAYOUT", key, "LIMIT", "100"])
}

fn f<'a>(r: &'a Reply, name: &str) -> &'a Reply {
    match r {
        Reply::Map(kv) => kv
            .iter()
            .find(|(k, _)| k.bytes() == Some(name.as_bytes()))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name}")),
        _ => panic!("not a map: {r:?}"),
    }
}

fn n(r: &Reply, name: &str) -> String {
    f(r, name).int().unwrap().to_string()
}

fn setup(c: &mut RawConn) {
    for cmd in [
        vec!["HELLO", "3"],
        vec![
            "HSET", "hash", "name", "ferrodis", "port", "6379", "big", "70000",
        ],
        vec!["CONFIG", "SET", "list-max-listpack-size", "3"],
        vec!["CONFIG", "SET", "list-compress-depth", "1"],
        vec!["CONFIG", "SET", "zset-max-listpack-entries", "4"],
        vec!["SADD", "ints", "5", "1", "70000"],
    ] {
        assert!(!c.value(&cmd).is_error(), "{cmd:?}");
    }
    for i in 0..12 {
        c.value(&[
            "RPUSH",
            "list",
            &format!("element number {i} of the list, padded"),
        ]);
        c.value(&["ZADD", "zset", &i.to_string(), &format!("member{i}")]);
        c.value(&["SADD", "strs", &format!("s{i}")]);
    }
    c.value(&["SET", "str", "hello"]);
}

#[test]
fn page_draws_what_debug_layout_describes() {
    let s = ferrodis();
    let mut c = s.conn();
    setup(&mut c);
    let o = Observatory::start(&s, &[]);

    // A listpack hash: one drawn entry per listpack entry, at the same offsets.
    let (code, page) = o.get("/?key=hash");
    assert_eq!(code, 200);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"));
    assert!(page.contains("hash-max-listpack-entries</code> = 512"));
    let r = layout(&mut c, "hash");
    let entries = f(f(&r, "layout"), "entries").items().unwrap();
    let g = drawn(&page, "lp-entry");
    assert_eq!(g.len(), entries.len());
    for (e, d) in entries.iter().zip(&g) {
        assert_eq!(d["offset"], n(e, "offset"));
        assert_eq!(d["size"], n(e, "size"));
        assert_eq!(d["encoding"], f(e, "encoding").text().unwrap());
    }
    assert_eq!(g[1]["value"], "ferrodis");
    assert_eq!(
        drawn(&page, "lp-eof")[0]["offset"],
        n(f(&r, "layout"), "eof-offset")
    );
    assert_eq!(
        drawn(&page, "lp-header")[0]["total"],
        n(f(&r, "layout"), "total-bytes")
    );

    // A quicklist: its nodes in order, compressed ones with their LZF size.
    let (_, page) = o.get("/?key=list");
    let r = layout(&mut c, "list");
    let nodes = f(f(&r, "layout"), "nodes").items().unwrap();
    let g = drawn(&page, "ql-node");
    assert_eq!(g.len(), nodes.len());
    assert_eq!(g.len(), 4);
    for (nd, d) in nodes.iter().zip(&g) {
        assert_eq!(d["index"], n(nd, "index"));
        assert_eq!(d["encoding"], f(nd, "encoding").text().unwrap());
        assert_eq!(d["sz"], n(nd, "sz"));
        if d["encoding"] == "LZF" {
            assert_eq!(d["compressed-sz"], n(nd, "compressed-sz"));
        }
    }
    assert_eq!(g.iter().filter(|d| d["encoding"] == "LZF").count(), 2);
    assert!(page.contains("list-compress-depth</code> = 1"));
    // The first nodes' listpacks are drawn as strips too.
    assert!(drawn(&page, "lp-entry").len() >= 3);

    // An intset: every member at its offset.
    let (_, page) = o.get("/?key=ints");
    let g = drawn(&page, "intset-member");
    let vals: Vec<(&str, &str)> = g
        .iter()
        .map(|d| (d["offset"].as_str(), d["value"].as_str()))
        .collect();
    assert_eq!(vals, [("8", "1"), ("12", "5"), ("16", "70000")]);
    assert_eq!(drawn(&page, "intset-header")[0]["encoding"], "4");

    // A skiplist: every node with its rank, offset and height.
    let (_, page) = o.get("/?key=zset");
    let r = layout(&mut c, "zset");
    let sl = f(f(&r, "layout"), "skiplist");
    let nodes = f(sl, "nodes").items().unwrap();
    let g = drawn(&page, "sl-node");
    assert_eq!(g.len(), 12);
    for (nd, d) in nodes.iter().zip(&g) {
        assert_eq!(d["rank"], n(nd, "rank"));
        assert_eq!(d["offset"], n(nd, "offset"));
        assert_eq!(
            d["height"],
            f(nd, "levels").items().unwrap().len().to_string()
        );
        assert_eq!(d["member"], f(nd, "member").text().unwrap());
    }
    assert_eq!(drawn(&page, "sl-header")[0]["level"], n(sl, "level"));
    // ... and its dict's buckets.
    assert!(!drawn(&page, "bucket").is_empty());

    // A hashtable set: the buckets of both tables with their chain lengths.
    let (_, page) = o.get("/?key=strs");
    let r = layout(&mut c, "strs");
    let mut want = Vec::new();
    for (t, tab) in f(f(&r, "layout"), "tables")
        .items()
        .unwrap()
        .iter()
        .enumerate()
    {
        for b in f(tab, "buckets").items().unwrap() {
            let b = b.items().unwrap();
            want.push((
                t.to_string(),
                b[0].int().unwrap().to_string(),
                b[1].int().unwrap().to_string(),
            ));
        }
    }
    let got: Vec<(String, String, String)> = drawn(&page, "bucket")
        .into_iter()
        .map(|d| (d["table"].clone(), d["index"].clone(), d["chain"].clone()))
        .collect();
    assert_eq!(got, want);
    let chained: usize = got.iter().map(|x| x.2.parse::<usize>().unwrap()).sum();
    assert_eq!(chained, 12);

    // A string.
    let (_, page) = o.get("/?key=str");
    let g = drawn(&page, "string");
    assert_eq!(
        (g[0]["encoding"].as_str(), g[0]["storage"].as_str()),
        ("embstr", "inline")
    );

    // The keyspace: the databases and the keys, each a link to its picture.
    let (_, page) = o.get("/");
    assert_eq!(drawn(&page, "db")[0]["id"], "0");
    let chained: usize = drawn(&page, "bucket")
        .iter()
        .map(|d| d["chain"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(chained, 6, "the main dict's six keys (no expires)");
    assert!(page.contains("href=\"/?key=zset&amp;db=0\""));

    // A missing key waits for it; an unknown path is a 404.
    let (code, page) = o.get("/?key=nope");
    assert_eq!(code, 200);
    assert!(page.contains("waiting for it"));
    assert_eq!(o.get("/elsewhere").0, 404);
}

#[test]
fn live_refresh_route_follows_changes() {
    let s = ferrodis();
    let mut c = s.conn();
    c.value(&["CONFIG", "SET", "zset-max-listpack-entries", "3"]);
    let o = Observatory::start(&s, &["--refresh", "250"]);
    let (_, page) = o.get("/?key=z");
    // The page redraws itself from /draw with the same query.
    assert!(page.contains("fetch('/draw?' + q)"));
    assert!(page.contains("const q = \"key=z\""));
    assert!(page.contains("}, 250);"));
    assert!(o.get("/draw?key=z").1.contains("waiting for it"));
    c.value(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let frag = o.get("/draw?key=z").1;
    assert!(
        !frag.contains("<html"),
        "the route returns the picture alone"
    );
    assert_eq!(drawn(&frag, "lp-entry").len(), 6);
    // One more member crosses zset-max-listpack-entries: the next draw is a skiplist.
    c.value(&["ZADD", "z", "4", "d"]);
    let frag = o.get("/draw?key=z").1;
    assert!(drawn(&frag, "lp-entry").is_empty());
    assert_eq!(drawn(&frag, "sl-node").len(), 4);
}

#[test]
fn text_mode_and_auth() {
    let s = ferrodis_with(&["--requirepass", "sekrit"]);
    let mut c = s.conn();
    c.value(&["AUTH", "sekrit"]);
    c.value(&["RPUSH", "l", "a", "300", "hello"]);
    let run = |extra: &[&str]| {
        Command::new(observatory_bin())
            .args(["--port", &s.port().to_string()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--pass", "sekrit", "--text", "l"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("type list  encoding quicklist"), "{text}");
    assert!(text.contains("quicklist: 3 elements in 1 nodes"), "{text}");
    assert!(
        text.contains("@6      81    6bit-str   1+1+1         elem    \"a\""),
        "{text}"
    );
    assert!(
        text.contains("@9      c1    13bit-int  1+1+1         elem    \"300\""),
        "{text}"
    );
    assert!(text.contains("ff    EOF"), "{text}");
    let ks = String::from_utf8(run(&["--pass", "sekrit", "--text", ""]).stdout).unwrap();
    assert!(ks.contains("db 0   keys 1"), "{ks}");
    // Without the password: the server's error, and a failing exit status.
    let out = run(&["--text", "l"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOAUTH"));
    let out = run(&["--pass", "wrong", "--text", "l"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTH"));
}

/// Loads the page in headless Chromium (Debian's `chromium`) and checks that the browser's DOM,
/// after the page's scripts ran, holds the drawing. Needs Chromium, so it is not part of the
/// default run: `cargo test --test observatory -- --ignored`.
#[test]
#[ignore]
fn page_renders_in_chromium() {
    let Some(chromium) = find_in_path("chromium".as_ref(), std::env::var_os("PATH").as_deref())
    else {
        panic!("chromium is not installed (apt-get install -y chromium)");
    };
    let s = ferrodis();
    let mut c = s.conn();
    setup(&mut c);
    let o = Observatory::start(&s, &[]);
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=2000",
            "--dump-dom",
        ])
        .arg(format!("http://127.0.0.1:{}/?key=zset", o.port))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<svg"));
    // The browser's DOM holds one drawn node per node DEBUG LAYOUT describes.
    let r = layout(&mut c, "zset");
    let nodes = f(f(f(&r, "layout"), "skiplist"), "nodes").items().unwrap();
    let g = drawn(&dom, "sl-node");
    assert_eq!(g.len(), nodes.len(), "{dom}");
    for (nd, d) in nodes.iter().zip(&g) {
        assert_eq!(d["rank"], n(nd, "rank"));
        assert_eq!(d["offset"], n(nd, "offset"));
        assert_eq!(d["member"], f(nd, "member").text().unwrap());
    }
}
