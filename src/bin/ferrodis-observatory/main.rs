//! ferrodis-observatory: draws a live ferrodis key's structure as it lies in memory.
//!
//! It connects to a running ferrodis, asks `DEBUG LAYOUT key` (src/commands/layout.rs) and
//! either serves a local web page that draws the answer as SVG and redraws it as the value
//! changes, or (`--text key`) prints it as annotated text. Only std: a small HTTP/1.1 server on
//! `std::net` (one short-lived thread per request), a small RESP client, server-side SVG.
//!
//! ```text
//!  browser --GET /?key=k--> http.rs --DEBUG LAYOUT k--> ferrodis
//!     ^  (every --refresh ms: GET /draw?key=k, the fragment only)   |
//!     +---------------- HTML + SVG (draw.rs) <--- RESP3 map -------+
//! ```

mod draw;
mod http;
mod resp;
mod svg;
mod text;

use std::collections::HashMap;

/// Command-line options.
#[derive(Clone)]
pub struct Opts {
    /// ferrodis's address.
    pub host: String,
    /// ferrodis's port.
    pub port: u16,
    /// AUTH user (with `pass`).
    pub user: Option<String>,
    /// AUTH password.
    pub pass: Option<String>,
    /// Database to select.
    pub db: usize,
    /// The web page's address.
    pub listen: String,
    /// DEBUG LAYOUT's LIMIT.
    pub limit: usize,
    /// Live refresh period of the page, in milliseconds (0: no refresh).
    pub refresh_ms: u64,
    /// `--text key`: print this key (or the keyspace with an empty key) and exit.
    pub text: Option<String>,
}

const USAGE: &str = "\
Usage: ferrodis-observatory [options]
       ferrodis-observatory [options] --text <key>

Draws a ferrodis key's in-memory structure (DEBUG LAYOUT) on a local web page that refreshes
live, or as annotated text with --text (an empty key shows the keyspace).

Options:
  -h, --host <addr>       ferrodis host (default 127.0.0.1)
  -p, --port <port>       ferrodis port (default 6379)
  -a, --pass <password>   AUTH password
      --user <name>       AUTH user name (with --pass)
  -n, --db <n>            database to start in (default 0)
      --listen <addr>     where the page is served (default 127.0.0.1:7379)
      --limit <n>         elements, nodes or buckets asked for (default 64, max 100000)
      --refresh <ms>      page refresh period (default 500; 0 turns it off)
      --text <key>        print the layout of <key> as text and exit
      --help              this text
";

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 6379,
        user: None,
        pass: None,
        db: 0,
        listen: "127.0.0.1:7379".into(),
        limit: 64,
        refresh_ms: 500,
        text: None,
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("{a} needs a value"))?
            .clone();
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{a}: not a number: {v}"))
        };
        match a {
            "-h" | "--host" => o.host = v,
            "-p" | "--port" => o.port = num(&v)?.try_into().map_err(|_| "bad port")?,
            "-a" | "--pass" | "--password" => o.pass = Some(v),
            "--user" => o.user = Some(v),
            "-n" | "--db" => o.db = num(&v)? as usize,
            "--listen" => o.listen = v,
            "--limit" => o.limit = (num(&v)? as usize).clamp(1, 100_000),
            "--refresh" => o.refresh_ms = num(&v)?,
            "--text" => o.text = Some(v),
            _ => return Err(format!("unknown option {a}")),
        }
        i += 2;
    }
    Ok(o)
}

/// Config parameters the explanations quote.
const PARAMS: &[&str] = &[
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "set-max-intset-entries",
    "list-max-listpack-size",
    "list-compress-depth",
    "activerehashing",
    "hz",
];

/// One round trip to ferrodis: the layout of `key` (or the keyspace) and the config values.
pub fn fetch(o: &Opts, key: Option<&[u8]>, db: usize) -> draw::Snapshot {
    let mut snap = draw::Snapshot {
        key: key.map(<[u8]>::to_vec),
        db,
        layout: Err(String::new()),
        config: HashMap::new(),
    };
    let addr = format!("{}:{}", o.host, o.port);
    let mut c = match resp::Conn::open(&addr, o.user.as_deref(), o.pass.as_deref(), db) {
        Ok(c) => c,
        Err(e) => {
            snap.layout = Err(e);
            return snap;
        }
    };
    let mut args: Vec<&[u8]> = vec![b"CONFIG", b"GET"];
    args.extend(PARAMS.iter().map(|p| p.as_bytes()));
    if let Ok(resp::V::Map(kv)) = c.cmd(&args) {
        for (k, v) in kv {
            snap.config.insert(
                String::from_utf8_lossy(k.bytes()).into_owned(),
                String::from_utf8_lossy(v.bytes()).into_owned(),
            );
        }
    }
    let limit = o.limit.to_string();
    let mut cmd: Vec<&[u8]> = vec![b"DEBUG", b"LAYOUT"];
    if let Some(k) = key {
        cmd.push(k);
    }
    cmd.push(b"LIMIT");
    cmd.push(limit.as_bytes());
    snap.layout = match c.cmd(&cmd) {
        Ok(resp::V::Err(e)) => Err(match key {
            Some(k) if e == "ERR no such key" => {
                format!("no key {:?} in db {db} (yet): waiting for it", svg::show(k))
            }
            _ => e,
        }),
        Ok(v) => Ok(v),
        Err(e) => Err(e),
    };
    snap
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ferrodis-observatory: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Some(k) = &o.text {
        let key = (!k.is_empty()).then_some(k.as_bytes());
        let snap = fetch(&o, key, o.db);
        match &snap.layout {
            Ok(_) => print!("{}", text::render(&snap)),
            Err(e) => {
                eprintln!("ferrodis-observatory: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if let Err(e) = http::serve(&o) {
        eprintln!("ferrodis-observatory: {e}");
        std::process::exit(1);
    }
}
