//! The `cjson` library scripts get (lua-cjson 2.1.0, which Redis embeds as C), written here
//! against the Lua C API: `cjson.encode`, `cjson.decode`, `cjson.null`, with lua-cjson's
//! defaults (numbers as %.14g, sparse arrays past ratio 2 and safe 10 refused, 1000 levels
//! of nesting, non-standard numbers such as hex, +1 or inf accepted when decoding).
//!
//! ```text
//!  encode: Lua value ──► bytes in a Vec ──► one Lua string   (errors raised after the Vec
//!  decode: bytes ──► tokens ──► Lua values pushed as parsed   is dropped)
//! ```
//!
//! Not yet: the configuration functions (encode_max_depth, encode_keep_buffer, ...).
//!
//! Safety, for every `unsafe fn` here: called by Lua with its own stack.
#![allow(clippy::missing_safety_doc)]

use super::convert::to_bytes;
use mlua::ffi;
use std::os::raw::c_int;

const MAX_DEPTH: usize = 1000;
const SPARSE_RATIO: f64 = 2.0;
const SPARSE_SAFE: f64 = 10.0;

/// Raises `msg` with the caller's position (luaL_error).
unsafe fn raise(l: *mut ffi::lua_State, msg: String) -> ! {
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    ffi::luaL_where(l, 1);
    ffi::lua_insert(l, -2);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

unsafe fn type_name(l: *mut ffi::lua_State, idx: c_int) -> String {
    let p = ffi::lua_typename(l, ffi::lua_type(l, idx));
    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------
// Encoding

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// A number as lua-cjson prints it (%.14g), or the error for NaN and infinities.
fn number(n: f64) -> Result<String, &'static str> {
    if n.is_nan() || n.is_infinite() {
        return Err("must not be NaN or Inf");
    }
    Ok(crate::util::num::printf_f64(b"%.14g\0", n))
}

/// The array length of the table at the top of the stack, or None when it is an object
/// (lua_array_length); an excessively sparse array is an error.
unsafe fn array_length(l: *mut ffi::lua_State) -> Result<Option<usize>, String> {
    let mut max = 0f64;
    let mut items = 0f64;
    let mut is_array = true;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if is_array && ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k.floor() == k && k >= 1.0 {
                if k > max {
                    max = k;
                }
                items += 1.0;
                ffi::lua_pop(l, 1);
                continue;
            }
        }
        is_array = false;
        ffi::lua_pop(l, 2);
        break;
    }
    if !is_array {
        return Ok(None);
    }
    if max > SPARSE_SAFE && max > items * SPARSE_RATIO {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max as usize))
}

/// Appends the value at the top of the stack (json_append_data); leaves the stack as it was.
unsafe fn encode_value(
    l: *mut ffi::lua_State,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), String> {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => append_string(out, to_bytes(l, -1)),
        ffi::LUA_TNUMBER => match number(ffi::lua_tonumber(l, -1)) {
            Ok(s) => out.extend_from_slice(s.as_bytes()),
            Err(reason) => return Err(format!("Cannot serialise number: {reason}")),
        },
        ffi::LUA_TBOOLEAN => out.extend_from_slice(if ffi::lua_toboolean(l, -1) != 0 {
            b"true"
        } else {
            b"false"
        }),
        ffi::LUA_TNIL => out.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            out.extend_from_slice(b"null")
        }
        ffi::LUA_TTABLE => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            if ffi::lua_checkstack(l, 3) == 0 {
                return Err("Cannot serialise, excessive nesting".into());
            }
            match array_length(l)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        ffi::lua_pushnumber(l, i as f64);
                        ffi::lua_rawget(l, -2);
                        let r = encode_value(l, out, depth);
                        ffi::lua_pop(l, 1);
                        r?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    ffi::lua_pushnil(l);
                    while ffi::lua_next(l, -2) != 0 {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match ffi::lua_type(l, -2) {
                            ffi::LUA_TNUMBER => {
                                let k = match number(ffi::lua_tonumber(l, -2)) {
                                    Ok(s) => s,
                                    Err(reason) => {
                                        ffi::lua_pop(l, 2);
                                        return Err(format!("Cannot serialise number: {reason}"));
                                    }
                                };
                                out.push(b'"');
                                out.extend_from_slice(k.as_bytes());
                                out.push(b'"');
                            }
                            ffi::LUA_TSTRING => append_string(out, to_bytes(l, -2)),
                            _ => {
                                let t = type_name(l, -2);
                                ffi::lua_pop(l, 2);
                                return Err(format!(
                                    "Cannot serialise {t}: table key must be a number or string"
                                ));
                            }
                        }
                        out.push(b':');
                        let r = encode_value(l, out, depth);
                        ffi::lua_pop(l, 1);
                        if r.is_err() {
                            ffi::lua_pop(l, 1);
                            return r;
                        }
                    }
                    out.push(b'}');
                }
            }
        }
        _ => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                type_name(l, -1)
            ))
        }
    }
    Ok(())
}

unsafe extern "C-unwind" fn encode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let mut out = Vec::new();
    match encode_value(l, &mut out, 0) {
        Ok(()) => {
            ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
            1
        }
        Err(msg) => {
            drop(out);
            raise(l, msg)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

fn tok_name(t: Tok) -> &'static str {
    match t {
        Tok::ObjBegin => "T_OBJ_BEGIN",
        Tok::ObjEnd => "T_OBJ_END",
        Tok::ArrBegin => "T_ARR_BEGIN",
        Tok::ArrEnd => "T_ARR_END",
        Tok::Str => "T_STRING",
        Tok::Num => "T_NUMBER",
        Tok::Bool => "T_BOOLEAN",
        Tok::Null => "T_NULL",
        Tok::Colon => "T_COLON",
        Tok::Comma => "T_COMMA",
        Tok::End => "T_END",
        Tok::Error => "T_ERROR",
    }
}

struct Token {
    t: Tok,
    /// Offset where the token (or the error) starts.
    index: usize,
    num: f64,
    boolean: bool,
    text: Vec<u8>,
    err: &'static str,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&self, index: usize, msg: &'static str) -> Token {
        Token {
            t: Tok::Error,
            index,
            num: 0.0,
            boolean: false,
            text: Vec::new(),
            err: msg,
        }
    }

    fn simple(&self, t: Tok, index: usize) -> Token {
        Token {
            t,
            index,
            num: 0.0,
            boolean: false,
            text: Vec::new(),
            err: "",
        }
    }

    /// json_is_invalid_number: non-JSON numbers (+1, 01, 0x10, inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if self.at(p) <= b'9' {
            return false;
        }
        let rest: Vec<u8> = (0..3)
            .map(|i| self.at(p + i).to_ascii_lowercase())
            .collect();
        rest == b"inf" || rest == b"nan"
    }

    fn number(&mut self) -> Token {
        let index = self.pos;
        // strtod over a NUL-terminated copy of what can belong to a number.
        let end = self.data[self.pos..]
            .iter()
            .position(|&c| c == 0)
            .map_or(self.data.len(), |e| self.pos + e);
        let mut buf = self.data[self.pos..end.min(self.pos + 512)].to_vec();
        buf.push(0);
        let mut endp: *mut libc::c_char = std::ptr::null_mut();
        // SAFETY: buf is NUL-terminated; strtod stops inside it.
        let v = unsafe { libc::strtod(buf.as_ptr().cast(), &mut endp) };
        let used = endp as usize - buf.as_ptr() as usize;
        if used == 0 {
            return self.error(index, "invalid number");
        }
        self.pos += used;
        let mut t = self.simple(Tok::Num, index);
        t.num = v;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }

    fn string(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            let c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if self.pos >= self.data.len() || c == 0 {
                return self.error(self.pos, "unexpected end of string");
            }
            if c == b'\\' {
                let e = self.at(self.pos + 1);
                let mapped = match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let Some(mut cp) = self.hex4(self.pos + 2) else {
                            return self.error(self.pos, "invalid unicode escape code");
                        };
                        let mut len = 6;
                        if (0xdc00..=0xdfff).contains(&cp) {
                            return self.error(self.pos, "invalid unicode escape code");
                        }
                        if (0xd800..=0xdbff).contains(&cp) {
                            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                                return self.error(self.pos, "invalid unicode escape code");
                            }
                            let Some(lo) = self
                                .hex4(self.pos + 8)
                                .filter(|lo| (0xdc00..=0xdfff).contains(lo))
                            else {
                                return self.error(self.pos, "invalid unicode escape code");
                            };
                            cp = (((cp & 0x3ff) << 10) | (lo & 0x3ff)) + 0x10000;
                            len = 12;
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                        let mut b = [0u8; 4];
                        text.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        self.pos += len;
                        continue;
                    }
                    _ => return self.error(self.pos, "invalid escape code"),
                };
                text.push(mapped);
                self.pos += 2;
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        let mut t = self.simple(Tok::Str, index);
        t.text = text;
        t
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r')
            && self.pos < self.data.len()
        {
            self.pos += 1;
        }
        let index = self.pos;
        if self.pos >= self.data.len() || self.at(self.pos) == 0 {
            return self.simple(Tok::End, index);
        }
        let one = |p: &mut Self, t: Tok| {
            p.pos += 1;
            p.simple(t, index)
        };
        match self.at(self.pos) {
            b'{' => one(self, Tok::ObjBegin),
            b'}' => one(self, Tok::ObjEnd),
            b'[' => one(self, Tok::ArrBegin),
            b']' => one(self, Tok::ArrEnd),
            b':' => one(self, Tok::Colon),
            b',' => one(self, Tok::Comma),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let rest = &self.data[self.pos..];
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    let mut t = self.simple(Tok::Bool, index);
                    t.boolean = true;
                    t
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    self.simple(Tok::Bool, index)
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    self.simple(Tok::Null, index)
                } else if self.is_invalid_number() {
                    self.number()
                } else {
                    self.error(index, "invalid token")
                }
            }
        }
    }
}

fn parse_error(expected: &str, t: &Token) -> String {
    let found = if t.t == Tok::Error {
        t.err
    } else {
        tok_name(t.t)
    };
    format!(
        "Expected {expected} but found {found} at character {}",
        t.index + 1
    )
}

/// Pushes the value starting with token `t` (json_process_value).
unsafe fn value(
    l: *mut ffi::lua_State,
    p: &mut Parser,
    t: Token,
    depth: usize,
) -> Result<(), String> {
    match t.t {
        Tok::Str => {
            ffi::lua_pushlstring(l, t.text.as_ptr().cast(), t.text.len());
        }
        Tok::Num => ffi::lua_pushnumber(l, t.num),
        Tok::Bool => ffi::lua_pushboolean(l, t.boolean as c_int),
        Tok::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
        Tok::ObjBegin | Tok::ArrBegin => {
            let depth = depth + 1;
            if depth > MAX_DEPTH || ffi::lua_checkstack(l, 3) == 0 {
                return Err(format!(
                    "Found too many nested data structures ({depth}) at character {}",
                    t.index + 1
                ));
            }
            ffi::lua_newtable(l);
            if t.t == Tok::ArrBegin {
                let mut tok = p.next();
                if tok.t == Tok::ArrEnd {
                    return Ok(());
                }
                let mut i = 1f64;
                loop {
                    value(l, p, tok, depth)?;
                    ffi::lua_pushnumber(l, i);
                    ffi::lua_insert(l, -2);
                    ffi::lua_rawset(l, -3);
                    i += 1.0;
                    let sep = p.next();
                    match sep.t {
                        Tok::ArrEnd => return Ok(()),
                        Tok::Comma => tok = p.next(),
                        _ => return Err(parse_error("comma or array end", &sep)),
                    }
                }
            }
            let mut tok = p.next();
            if tok.t == Tok::ObjEnd {
                return Ok(());
            }
            loop {
                if tok.t != Tok::Str {
                    return Err(parse_error("object key string", &tok));
                }
                ffi::lua_pushlstring(l, tok.text.as_ptr().cast(), tok.text.len());
                let colon = p.next();
                if colon.t != Tok::Colon {
                    return Err(parse_error("colon", &colon));
                }
                let v = p.next();
                value(l, p, v, depth)?;
                ffi::lua_rawset(l, -3);
                let sep = p.next();
                match sep.t {
                    Tok::ObjEnd => return Ok(()),
                    Tok::Comma => tok = p.next(),
                    _ => return Err(parse_error("comma or object end", &sep)),
                }
            }
        }
        _ => return Err(parse_error("value", &t)),
    }
    Ok(())
}

unsafe extern "C-unwind" fn decode(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, 1, &mut len);
    let data = std::slice::from_raw_parts(p.cast::<u8>(), len);
    if len >= 2 && (data[0] == 0 || data[1] == 0) {
        raise(l, "JSON parser does not support UTF-16 or UTF-32".into());
    }
    let mut parser = Parser { data, pos: 0 };
    let first = parser.next();
    let result = value(l, &mut parser, first, 0).and_then(|()| {
        let end = parser.next();
        if end.t == Tok::End {
            Ok(())
        } else {
            Err(parse_error("the end", &end))
        }
    });
    match result {
        Ok(()) => 1,
        Err(msg) => {
            ffi::lua_settop(l, 1);
            raise(l, msg)
        }
    }
}

/// Sets global `cjson` (luaopen_cjson).
pub unsafe fn open(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    ffi::lua_pushcfunction(l, encode);
    ffi::lua_setfield(l, -2, c"encode".as_ptr());
    ffi::lua_pushcfunction(l, decode);
    ffi::lua_setfield(l, -2, c"decode".as_ptr());
    ffi::lua_pushlightuserdata(l, std::ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    ffi::lua_pushstring(l, c"cjson".as_ptr());
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    ffi::lua_pushstring(l, c"2.1.0".as_ptr());
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cjson".as_ptr());
}
