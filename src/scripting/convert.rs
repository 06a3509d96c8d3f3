//! RESP <-> Lua conversions, as script_lua.c does them.
//!
//! A command called by a script writes its reply into the script client's buffer like any
//! reply; [`push_reply`] parses those bytes and pushes the Lua value:
//!
//! ```text
//!  :n        -> number            $-1, *-1  -> false        _     -> nil
//!  $s        -> string            +s        -> {ok=s}       #t/#f -> boolean
//!  -CODE m   -> {err="CODE m"}    *n        -> {v1,...,vn}  ,d    -> {double=d}
//!  %n        -> {map={k=v,...}}   ~n        -> {set={m=true,...}}
//!  (n        -> {big_number=n}    =f:s      -> {verbatim_string={format=f,string=s}}
//!  |n attributes are skipped
//! ```
//!
//! The script's result goes the other way ([`lua_to_reply`]): strings are bulk strings,
//! numbers are truncated to integers, a table is an error (`err`), a status (`ok`), a
//! double, a big number, a verbatim string, a map or a set by its single field, else an
//! array read from index 1 up to the first nil.

//!
//! Safety, for every `unsafe fn` here: `l` is the live interpreter of `Scripting`, used from
//! its own thread, with the stack in the state the function's comment describes.
#![allow(clippy::missing_safety_doc)]

use crate::protocol::reply::Reply;
use mlua::ffi;
use std::os::raw::c_int;

/// Pushes an error table {err="CODE msg"} from an error text (luaPushErrorBuff): a leading
/// '-' means the text carries its code up to the first space; otherwise the code is ERR.
pub unsafe fn push_error_table(l: *mut ffi::lua_State, text: &[u8]) {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(sp) => (&rest[..sp], &rest[sp + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let msg = trim_crlf(msg);
    let mut full = Vec::with_capacity(code.len() + 1 + msg.len());
    full.extend_from_slice(code);
    full.push(b' ');
    full.extend_from_slice(msg);
    ffi::lua_createtable(l, 0, 2);
    ffi::lua_pushlstring(l, full.as_ptr().cast(), full.len());
    drop(full);
    ffi::lua_setfield(l, -2, c"err".as_ptr());
}

/// Marks the error table on the top of the stack as already counted in the error
/// statistics (the command that failed counted it).
pub unsafe fn mark_ignore_stats(l: *mut ffi::lua_State) {
    ffi::lua_pushboolean(l, 1);
    ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
}

/// `msg` without leading and trailing CR/LF (sdstrim with "\r\n").
pub fn trim_crlf(mut msg: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = msg {
        msg = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = msg {
        msg = rest;
    }
    msg
}

/// A cursor over reply bytes produced by this server (trusted: well formed).
struct Cursor<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    /// The rest of the current line (after the type byte), and moves past its CRLF.
    fn line(&mut self) -> &'a [u8] {
        let start = self.p;
        let rest = &self.b[start..];
        // Lines of replies end at the first CR that a LF follows.
        let mut rel = 0;
        loop {
            match rest[rel..].iter().position(|&b| b == b'\r') {
                Some(cr) if rest.get(rel + cr + 1) == Some(&b'\n') => {
                    rel += cr;
                    break;
                }
                Some(cr) => rel += cr + 1,
                None => {
                    rel = rest.len();
                    break;
                }
            }
        }
        self.p = (start + rel + 2).min(self.b.len());
        &self.b[start..start + rel]
    }

    fn int(&mut self) -> i64 {
        crate::util::num::parse_i64(self.line()).unwrap_or(0)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.p.min(self.b.len());
        let end = (start + n).min(self.b.len());
        self.p = (end + 2).min(self.b.len());
        &self.b[start..end]
    }
}

/// Pushes the Lua value of the reply in `buf` (redisProtocolToLuaType). Returns false if the
/// Lua stack could not grow (the caller raises an error).
pub unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8]) -> bool {
    let mut c = Cursor { b: buf, p: 0 };
    parse_one(l, &mut c, true)
}

unsafe fn parse_one(l: *mut ffi::lua_State, c: &mut Cursor, push: bool) -> bool {
    if c.p >= c.b.len() {
        if push {
            ffi::lua_pushnil(l);
        }
        return true;
    }
    if push && ffi::lua_checkstack(l, 5) == 0 {
        return false;
    }
    let t = c.b[c.p];
    c.p += 1;
    match t {
        b':' => {
            let n = c.int();
            if push {
                ffi::lua_pushnumber(l, n as f64);
            }
        }
        b'$' => {
            let n = c.int();
            if n < 0 {
                if push {
                    ffi::lua_pushboolean(l, 0);
                }
            } else {
                let s = c.bytes(n as usize);
                if push {
                    ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                }
            }
        }
        b'+' => {
            let s = c.line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                ffi::lua_setfield(l, -2, c"ok".as_ptr());
            }
        }
        b'-' => {
            let s = c.line();
            if push {
                let mut text = Vec::with_capacity(s.len() + 1);
                text.push(b'-');
                text.extend_from_slice(s);
                push_error_table(l, &text);
                drop(text);
                mark_ignore_stats(l);
            }
        }
        b'*' | b'>' => {
            let n = c.int();
            if n < 0 {
                if push {
                    ffi::lua_pushboolean(l, 0);
                }
                return true;
            }
            if push {
                ffi::lua_createtable(l, n.min(1024) as c_int, 0);
            }
            for j in 0..n {
                if push {
                    ffi::lua_pushnumber(l, (j + 1) as f64);
                }
                if !parse_one(l, c, push) {
                    return false;
                }
                if push {
                    ffi::lua_settable(l, -3);
                }
            }
        }
        b'%' => {
            let n = c.int().max(0);
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring(l, c"map".as_ptr());
                ffi::lua_createtable(l, 0, n.min(1024) as c_int);
            }
            for _ in 0..n {
                if !parse_one(l, c, push) || !parse_one(l, c, push) {
                    return false;
                }
                if push {
                    ffi::lua_settable(l, -3);
                }
            }
            if push {
                ffi::lua_settable(l, -3);
            }
        }
        b'~' => {
            let n = c.int().max(0);
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring(l, c"set".as_ptr());
                ffi::lua_createtable(l, 0, n.min(1024) as c_int);
            }
            for _ in 0..n {
                if !parse_one(l, c, push) {
                    return false;
                }
                if push {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_settable(l, -3);
                }
            }
            if push {
                ffi::lua_settable(l, -3);
            }
        }
        b'_' => {
            c.line();
            if push {
                ffi::lua_pushnil(l);
            }
        }
        b'#' => {
            let v = c.line() == b"t";
            if push {
                ffi::lua_pushboolean(l, v as c_int);
            }
        }
        b',' => {
            let s = c.line();
            if push {
                let d = parse_double(s);
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, d);
                ffi::lua_setfield(l, -2, c"double".as_ptr());
            }
        }
        b'(' => {
            let s = c.line();
            if push {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
                ffi::lua_setfield(l, -2, c"big_number".as_ptr());
            }
        }
        b'=' => {
            let n = c.int().max(0) as usize;
            let s = c.bytes(n);
            if push {
                let (fmt, body) = if s.len() >= 4 {
                    (&s[..3], &s[4..])
                } else {
                    (&b"txt"[..], s)
                };
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushstring(l, c"verbatim_string".as_ptr());
                ffi::lua_createtable(l, 0, 2);
                ffi::lua_pushlstring(l, body.as_ptr().cast(), body.len());
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                ffi::lua_pushlstring(l, fmt.as_ptr().cast(), fmt.len());
                ffi::lua_setfield(l, -2, c"format".as_ptr());
                ffi::lua_settable(l, -3);
            }
        }
        b'|' => {
            let n = c.int().max(0);
            for _ in 0..n {
                parse_one(l, c, false);
                parse_one(l, c, false);
            }
            return parse_one(l, c, push);
        }
        _ => {
            c.line();
            if push {
                ffi::lua_pushnil(l);
            }
        }
    }
    true
}

/// A RESP3 double's text as strtod reads it.
fn parse_double(s: &[u8]) -> f64 {
    match s {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" | b"-nan" => f64::NAN,
        _ => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0),
    }
}

/// C's `(long long)` cast of a double on x86-64: truncation, and 0x8000000000000000 for NaN
/// and values out of range (cvttsd2si), which Redis's replies show.
pub fn double_to_ll(d: f64) -> i64 {
    if d.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Reads string field `name` of the table at `idx` (rawget), if it is a string.
unsafe fn raw_field_type(l: *mut ffi::lua_State, name: &std::ffi::CStr) -> c_int {
    ffi::lua_pushstring(l, name.as_ptr());
    ffi::lua_rawget(l, -2)
}

/// The bytes of the string at `idx`.
pub unsafe fn to_bytes<'a>(l: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(p.cast(), len)
    }
}

/// What the error-table branch of [`lua_to_reply`] found: the message and whether its
/// statistics were already counted.
pub struct ErrInfo {
    pub msg: Vec<u8>,
    pub source: Option<Vec<u8>>,
    pub line: Option<Vec<u8>>,
    pub ignore_stats: bool,
}

/// Reads an error object (luaExtractErrorInformation) at the top of the stack.
pub unsafe fn error_info(l: *mut ffi::lua_State) -> ErrInfo {
    let mut e = ErrInfo {
        msg: Vec::new(),
        source: None,
        line: None,
        ignore_stats: false,
    };
    if ffi::lua_type(l, -1) == ffi::LUA_TSTRING || ffi::lua_type(l, -1) == ffi::LUA_TNUMBER {
        e.msg = b"ERR ".to_vec();
        e.msg.extend_from_slice(to_bytes(l, -1));
        return e;
    }
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        e.msg = b"ERR execution failure".to_vec();
        return e;
    }
    for (name, slot) in [(c"err", 0), (c"source", 1), (c"line", 2)] {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_rawget(l, -2);
        if ffi::lua_isstring(l, -1) != 0 {
            let v = to_bytes(l, -1).to_vec();
            match slot {
                0 => e.msg = v,
                1 => e.source = Some(v),
                _ => e.line = Some(v),
            }
        }
        ffi::lua_pop(l, 1);
    }
    ffi::lua_pushstring(l, c"ignore_error_stats_update".as_ptr());
    ffi::lua_rawget(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TBOOLEAN {
        e.ignore_stats = ffi::lua_toboolean(l, -1) != 0;
    }
    ffi::lua_pop(l, 1);
    e
}

/// Writes an error reply from a Lua error text: "-" and the text, CR/LF made spaces.
/// Unless `count` the error is not counted again in the statistics.
pub fn reply_error(out: &mut Reply, msg: &[u8], count: bool) {
    let text = String::from_utf8_lossy(msg);
    let text = if text.is_empty() { "ERR" } else { &text };
    out.err(text);
    if !count {
        out.errors.pop();
    }
}

/// Converts the value at the top of the stack into a reply for the caller and pops it
/// (luaReplyToRedisReply). `script_resp3` is the protocol the script chose with
/// redis.setresp, which decides how booleans travel.
pub unsafe fn lua_to_reply(l: *mut ffi::lua_State, out: &mut Reply, script_resp3: bool) {
    if ffi::lua_checkstack(l, 4) == 0 {
        out.err("ERR reached lua stack limit");
        ffi::lua_pop(l, 1);
        return;
    }
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => out.bulk(to_bytes(l, -1)),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, -1) != 0;
            if script_resp3 {
                out.boolean(b);
            } else if b {
                out.int(1);
            } else {
                out.null();
            }
        }
        ffi::LUA_TNUMBER => out.int(double_to_ll(ffi::lua_tonumber(l, -1))),
        ffi::LUA_TTABLE => {
            table_to_reply(l, out, script_resp3);
            return;
        }
        _ => out.null(),
    }
    ffi::lua_pop(l, 1);
}

/// The table branch of [`lua_to_reply`]; pops the table.
unsafe fn table_to_reply(l: *mut ffi::lua_State, out: &mut Reply, script_resp3: bool) {
    if raw_field_type(l, c"err") == ffi::LUA_TSTRING {
        ffi::lua_pop(l, 1);
        let e = error_info(l);
        let mut msg = Vec::with_capacity(e.msg.len() + 1);
        msg.push(b'-');
        msg.extend_from_slice(&e.msg);
        reply_error(out, &msg, !e.ignore_stats);
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"ok") == ffi::LUA_TSTRING {
        // sdsnew(lua_tostring): the status stops at a NUL byte.
        let s = to_bytes(l, -1);
        let s = s.split(|&b| b == 0).next().unwrap_or_default();
        let s: Vec<u8> = s
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        out.buf.push(b'+');
        out.buf.extend_from_slice(&s);
        out.buf.extend_from_slice(b"\r\n");
        ffi::lua_pop(l, 2);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"double") == ffi::LUA_TNUMBER {
        out.double(ffi::lua_tonumber(l, -1));
        ffi::lua_pop(l, 2);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"big_number") == ffi::LUA_TSTRING {
        let s: Vec<u8> = to_bytes(l, -1)
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        out.bignum(&s);
        ffi::lua_pop(l, 2);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"verbatim_string") == ffi::LUA_TTABLE {
        if raw_field_type(l, c"format") == ffi::LUA_TSTRING {
            ffi::lua_pushstring(l, c"string".as_ptr());
            if ffi::lua_rawget(l, -3) == ffi::LUA_TSTRING {
                let fmt = to_bytes(l, -2);
                let fmt: String = String::from_utf8_lossy(&fmt[..fmt.len().min(3)]).into();
                let body = to_bytes(l, -1).to_vec();
                let fmt = format!("{fmt:\0<3}");
                out.verbatim(&body, &fmt);
                ffi::lua_pop(l, 4);
                return;
            }
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"map") == ffi::LUA_TTABLE {
        let d = out.defer();
        let mut n = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            lua_to_reply(l, out, script_resp3);
            lua_to_reply(l, out, script_resp3);
            n += 1;
        }
        out.set_deferred_map(d, n);
        ffi::lua_pop(l, 2);
        return;
    }
    ffi::lua_pop(l, 1);
    if raw_field_type(l, c"set") == ffi::LUA_TTABLE {
        let d = out.defer();
        let mut n = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            ffi::lua_pushvalue(l, -1);
            lua_to_reply(l, out, script_resp3);
            n += 1;
        }
        out.set_deferred_set(d, n);
        ffi::lua_pop(l, 2);
        return;
    }
    ffi::lua_pop(l, 1);
    let d = out.defer();
    let mut n = 0usize;
    let mut j = 1f64;
    loop {
        ffi::lua_pushnumber(l, j);
        j += 1.0;
        ffi::lua_rawget(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            break;
        }
        lua_to_reply(l, out, script_resp3);
        n += 1;
    }
    out.set_deferred_array(d, n);
    ffi::lua_pop(l, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_like_x86() {
        assert_eq!(double_to_ll(1.9), 1);
        assert_eq!(double_to_ll(-1.9), -1);
        assert_eq!(double_to_ll(1e300), i64::MIN);
        assert_eq!(double_to_ll(f64::NAN), i64::MIN);
    }

    #[test]
    fn lines_end_at_crlf() {
        let mut c = Cursor {
            b: b"ab\rc\r\nd",
            p: 0,
        };
        assert_eq!(c.line(), b"ab\rc");
        assert_eq!(c.line(), b"d");
        assert_eq!(c.line(), b"");
    }

    #[test]
    fn trims() {
        assert_eq!(trim_crlf(b"\r\nab\r\n"), b"ab");
        assert_eq!(trim_crlf(b""), b"");
    }
}
