//! The web page: a tiny HTTP/1.1 server on `std::net`, one thread per request, every response
//! closing its connection. Routes: `/` (the page, `?key=&db=`), `/draw` (the picture alone,
//! what the page's script fetches to refresh), anything else 404.

use crate::svg::esc;
use crate::{draw, fetch, Opts};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Binds the page's address and serves until the process is stopped.
pub fn serve(o: &Opts) -> Result<(), String> {
    let l =
        TcpListener::bind(&o.listen).map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    println!(
        "ferrodis-observatory: drawing {}:{} on http://{addr}/",
        o.host, o.port
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    for s in l.incoming().flatten() {
        let o = o.clone();
        std::thread::spawn(move || {
            let _ = handle(&o, s);
        });
    }
    Ok(())
}

/// Decodes `%XX` and `+` in a query value.
fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("x"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The query's `key` and `db`.
fn query(q: &str) -> (Option<Vec<u8>>, Option<usize>) {
    let (mut key, mut db) = (None, None);
    for part in q.split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match k {
            "key" if !v.is_empty() => key = Some(url_decode(v)),
            "db" => db = String::from_utf8_lossy(&url_decode(v)).parse().ok(),
            _ => {}
        }
    }
    (key, db)
}

fn handle(o: &Opts, s: TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut first = String::new();
    r.read_line(&mut first)?;
    // Skip the headers; requests carry no body we need.
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let (key, db) = query(q);
    let db = db.unwrap_or(o.db);
    let (status, ctype, body) = match (method, path) {
        ("GET", "/") => {
            let snap = fetch(o, key.as_deref(), db);
            ("200 OK", "text/html; charset=utf-8", page(o, &snap, q))
        }
        ("GET", "/draw") => {
            let snap = fetch(o, key.as_deref(), db);
            ("200 OK", "text/html; charset=utf-8", draw::fragment(&snap))
        }
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    let mut w = s;
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    w.write_all(body.as_bytes())?;
    w.flush()
}

const STYLE: &str = "
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
form { margin-bottom: 10px; } input[type=text] { width: 260px; }
.explain { max-width: 980px; line-height: 1.45; }
.pic { overflow-x: auto; border: 1px solid #ddd; padding: 6px; background: #fcfcfc; }
table.hdr td { padding: 2px 10px 2px 0; } table.dbs td, table.dbs th { padding: 2px 10px; }
.error { color: #b00020; }
.legend { margin: 4px 0; font-size: 12px; }
.sw { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 10px;
      border: 1px solid #444; vertical-align: middle; }
svg text { font-family: ui-monospace, monospace; }
svg .lbl { font-size: 11px; } svg .small { font-size: 10px; fill: #555; }
svg .tiny { font-size: 9px; fill: #333; } svg .bold { font-size: 12px; font-weight: bold; }
svg .link { stroke: #333; stroke-width: 1; }
svg .back { stroke: #999; stroke-dasharray: 3 2; }
";

/// The whole page: a form, the picture, and the script that redraws it.
fn page(o: &Opts, snap: &draw::Snapshot, q: &str) -> String {
    let key = snap
        .key
        .as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default();
    let title = if key.is_empty() {
        "the keyspace".to_string()
    } else {
        format!("key {key}")
    };
    let refresh = if o.refresh_ms > 0 {
        format!(
            "<script>\n\
             const q = {q_js};\n\
             let last = null;\n\
             setInterval(() => {{\n\
               if (document.getElementById('pause').checked) return;\n\
               fetch('/draw?' + q).then(r => r.text()).then(t => {{\n\
                 if (t !== last) {{ document.getElementById('view').innerHTML = t; last = t; }}\n\
               }}).catch(() => {{}});\n\
             }}, {ms});\n\
             </script>",
            q_js = js_string(q),
            ms = o.refresh_ms
        )
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ferrodis observatory: {t}</title>\
         <style>{STYLE}</style></head><body>\
         <h2>ferrodis observatory <small>{host}:{port} · db {db}</small></h2>\
         <form method=\"get\" action=\"/\">key <input type=\"text\" name=\"key\" value=\"{k}\" \
         placeholder=\"empty: the keyspace\"> db <input type=\"number\" name=\"db\" value=\"{db}\" \
         min=\"0\" style=\"width:4em\"> <button>draw</button> \
         <label><input type=\"checkbox\" id=\"pause\"> pause</label> \
         <small>{live}</small></form>\
         <div id=\"view\">{frag}</div>{refresh}</body></html>",
        t = esc(&title),
        host = esc(&o.host),
        port = o.port,
        db = snap.db,
        k = esc(&key),
        live = if o.refresh_ms > 0 {
            format!(
                "redraws every {} ms: change the key with redis-cli and watch",
                o.refresh_ms
            )
        } else {
            "live refresh off (--refresh 0)".to_string()
        },
        frag = draw::fragment(snap),
    )
}

/// A JavaScript string literal for `s` (safe inside a script element).
fn js_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            c if c.is_ascii_alphanumeric() || "%&=+-_.~".contains(c) => o.push(c),
            c => {
                // Percent-encode anything else: the string is a URL query.
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    o.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    o.push('"');
    o
}
