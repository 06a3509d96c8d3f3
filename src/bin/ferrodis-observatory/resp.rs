//! A minimal blocking RESP client: enough to AUTH, speak RESP3 and read DEBUG LAYOUT's maps.
//! One connection per request keeps it simple and survives a server restart.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply, with RESP3 maps kept as maps (RESP2 callers see arrays).
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    /// Simple or bulk string, verbatim text, big number.
    Str(Vec<u8>),
    /// An error reply.
    Err(String),
    /// `:n`
    Int(i64),
    /// `,x` as its text (so "inf" and 17 digits survive).
    Dbl(String),
    /// Any null.
    Nil,
    /// Array, set or push.
    Arr(Vec<V>),
    /// `%n`
    Map(Vec<(V, V)>),
    /// `#t` / `#f`
    Bool(bool),
}

static NIL: V = V::Nil;

impl V {
    /// A field of a map (`Nil` when absent or not a map).
    pub fn get(&self, name: &str) -> &V {
        if let V::Map(kv) = self {
            for (k, v) in kv {
                if let V::Str(s) = k {
                    if s == name.as_bytes() {
                        return v;
                    }
                }
            }
        }
        &NIL
    }

    /// The integer value (0 when it is not one).
    pub fn int(&self) -> i64 {
        match self {
            V::Int(n) => *n,
            V::Str(s) => std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            V::Bool(b) => *b as i64,
            _ => 0,
        }
    }

    /// An integer field.
    pub fn i(&self, name: &str) -> i64 {
        self.get(name).int()
    }

    /// An unsigned integer field, as usize.
    pub fn u(&self, name: &str) -> usize {
        self.get(name).int().max(0) as usize
    }

    /// The bytes of a string (empty otherwise).
    pub fn bytes(&self) -> &[u8] {
        match self {
            V::Str(s) => s,
            V::Dbl(s) => s.as_bytes(),
            _ => &[],
        }
    }

    /// A string field as lossy text.
    pub fn s(&self, name: &str) -> String {
        String::from_utf8_lossy(self.get(name).bytes()).into_owned()
    }

    /// The elements of an array (empty otherwise).
    pub fn items(&self) -> &[V] {
        match self {
            V::Arr(v) => v,
            _ => &[],
        }
    }

    /// An array field's elements.
    pub fn a(&self, name: &str) -> &[V] {
        self.get(name).items()
    }

    /// True for a null.
    pub fn is_nil(&self) -> bool {
        matches!(self, V::Nil)
    }
}

/// A connection to ferrodis.
pub struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    /// Connects, authenticates when a password is given, switches to RESP3 and selects `db`.
    pub fn open(
        addr: &str,
        user: Option<&str>,
        pass: Option<&str>,
        db: usize,
    ) -> Result<Conn, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_nodelay(true);
        let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        let mut c = Conn { w: s, r };
        if let Some(p) = pass {
            let reply = match user {
                Some(u) => c.cmd(&["AUTH", u, p])?,
                None => c.cmd(&["AUTH", p])?,
            };
            if let V::Err(e) = reply {
                return Err(format!("AUTH: {e}"));
            }
        }
        if let V::Err(e) = c.cmd(&["HELLO", "3"])? {
            return Err(format!("HELLO 3: {e}"));
        }
        if db != 0 {
            if let V::Err(e) = c.cmd(&["SELECT", &db.to_string()])? {
                return Err(format!("SELECT: {e}"));
            }
        }
        Ok(c)
    }

    /// Sends one command and reads its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<V, String> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).map_err(|e| e.to_string())?;
        read_value(&mut self.r, 0)
    }
}

fn line(r: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut l = Vec::new();
    r.read_until(b'\n', &mut l).map_err(|e| e.to_string())?;
    if l.len() < 3 || !l.ends_with(b"\r\n") {
        return Err("connection closed or bad reply".into());
    }
    l.truncate(l.len() - 2);
    Ok(l)
}

fn num(b: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad number {:?}", String::from_utf8_lossy(b)))
}

fn read_value(r: &mut impl BufRead, depth: usize) -> Result<V, String> {
    if depth > 64 {
        return Err("reply nested too deep".into());
    }
    let l = line(r)?;
    let body = &l[1..];
    Ok(match l[0] {
        b'+' => V::Str(body.to_vec()),
        b'-' => V::Err(String::from_utf8_lossy(body).into_owned()),
        b':' => V::Int(num(body)?),
        b',' => V::Dbl(String::from_utf8_lossy(body).into_owned()),
        b'(' => V::Str(body.to_vec()),
        b'_' => V::Nil,
        b'#' => V::Bool(body == b"t"),
        b'$' | b'=' | b'!' => {
            let n = num(body)?;
            if n < 0 {
                return Ok(V::Nil);
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            buf.truncate(n as usize);
            match l[0] {
                b'!' => V::Err(String::from_utf8_lossy(&buf).into_owned()),
                b'=' => V::Str(buf.get(4..).unwrap_or_default().to_vec()),
                _ => V::Str(buf),
            }
        }
        b'*' | b'~' | b'>' => {
            let n = num(body)?;
            if n < 0 {
                return Ok(V::Nil);
            }
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(read_value(r, depth + 1)?);
            }
            V::Arr(v)
        }
        b'%' => {
            let n = num(body)?;
            let mut v = Vec::new();
            for _ in 0..n {
                let k = read_value(r, depth + 1)?;
                v.push((k, read_value(r, depth + 1)?));
            }
            V::Map(v)
        }
        b'|' => {
            // Attributes: read and drop, then the value they describe.
            let n = num(body)?;
            for _ in 0..2 * n {
                read_value(r, depth + 1)?;
            }
            read_value(r, depth + 1)?
        }
        t => return Err(format!("unknown reply type {:?}", t as char)),
    })
}
