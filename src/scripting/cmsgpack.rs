//! The `cmsgpack` library scripts get (lua-cmsgpack 0.4.0, which Redis embeds as C), written
//! here against the Lua C API: `pack`, `unpack`, `unpack_one`, `unpack_limit`.
//!
//! ```text
//!  Lua            MessagePack (big-endian)
//!  nil/other  ->  c0            boolean -> c2/c3
//!  integer    ->  fixint, cc..cf, d0..d3 (smallest that fits)
//!  other num  ->  ca float when exact as float, else cb double
//!  string     ->  a0|len, d9, da, db
//!  table      ->  array (keys exactly 1..n) 90|n, dc, dd; else map 80|n, de, df
//!                 (tables nested 16 deep encode as nil)
//! ```
//!
//! Decoding takes the same forms; anything else (bin, ext, c1) is "Bad data format in
//! input.".
//! Packing builds a Vec that is dropped before any error is raised; decoding pushes values
//! as it goes and is bounded by the Lua stack's growth.
//!
//! Safety, for every `unsafe fn` here: called by Lua with its own stack.
#![allow(clippy::missing_safety_doc)]

use super::convert::to_bytes;
use mlua::ffi;
use std::os::raw::c_int;

const MAX_NESTING: usize = 16;

unsafe fn raise(l: *mut ffi::lua_State, msg: String) -> ! {
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    ffi::luaL_where(l, 1);
    ffi::lua_insert(l, -2);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: finite and equal to its int64_t cast (x86's cast for the rest).
    let i = super::convert::double_to_ll(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(out, i);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, w16: u8, w32: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(w16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(w32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// table_is_an_array: every key a positive integer (as a C int) and the largest equal to
/// their count.
unsafe fn is_array(l: *mut ffi::lua_State) -> bool {
    let top = ffi::lua_gettop(l);
    let (mut count, mut max) = (0f64, 0f64);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let ok = ffi::lua_type(l, -1) == ffi::LUA_TNUMBER && {
            let n = ffi::lua_tonumber(l, -1);
            n > 0.0 && !n.is_infinite() && (n as i32) as f64 == n
        };
        if !ok {
            ffi::lua_settop(l, top);
            return false;
        }
        max = max.max(ffi::lua_tonumber(l, -1));
        count += 1.0;
    }
    ffi::lua_settop(l, top);
    max == count
}

/// Encodes the value at the top of the stack and pops it (mp_encode_lua_type).
unsafe fn encode_value(l: *mut ffi::lua_State, out: &mut Vec<u8>, level: usize) {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TSTRING => encode_bytes(out, to_bytes(l, -1)),
        ffi::LUA_TTABLE if ffi::lua_checkstack(l, 3) != 0 => {
            if is_array(l) {
                let n = ffi::lua_objlen(l, -1);
                encode_len(out, n, 0x90, 15, 0xdc, 0xdd);
                for j in 1..=n {
                    ffi::lua_pushnumber(l, j as f64);
                    ffi::lua_rawget(l, -2);
                    encode_value(l, out, level + 1);
                }
            } else {
                let mut n = 0usize;
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pop(l, 1);
                    n += 1;
                }
                encode_len(out, n, 0x80, 15, 0xde, 0xdf);
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, -2) != 0 {
                    ffi::lua_pushvalue(l, -2);
                    encode_value(l, out, level + 1); // the key copy
                    encode_value(l, out, level + 1); // the value
                }
            }
        }
        _ => out.push(0xc0),
    }
    ffi::lua_pop(l, 1);
}

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
    }
    let mut out = Vec::new();
    for i in 1..=n {
        ffi::lua_pushvalue(l, i);
        encode_value(l, &mut out, 0);
    }
    ffi::lua_pushlstring(l, out.as_ptr().cast(), out.len());
    1
}

enum DecodeError {
    Eof,
    BadFormat,
    /// The Lua stack cannot grow: the message names the function as Redis's does.
    Stack(&'static str),
}

struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl Cur<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.b.len() - self.p < n {
            return Err(DecodeError::Eof);
        }
        let s = &self.b[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
}

/// Decodes one value and pushes it (mp_decode_to_lua_type).
unsafe fn decode_value(l: *mut ffi::lua_State, c: &mut Cur) -> Result<(), DecodeError> {
    let t = c.take(1)?[0];
    match t {
        0x00..=0x7f => ffi::lua_pushnumber(l, f64::from(t)),
        0xe0..=0xff => ffi::lua_pushnumber(l, f64::from(t as i8)),
        0xc0 => ffi::lua_pushnil(l),
        0xc2 => ffi::lua_pushboolean(l, 0),
        0xc3 => ffi::lua_pushboolean(l, 1),
        0xca => {
            let v = c.be(4)? as u32;
            ffi::lua_pushnumber(l, f64::from(f32::from_bits(v)));
        }
        0xcb => {
            let v = c.be(8)?;
            ffi::lua_pushnumber(l, f64::from_bits(v));
        }
        0xcc => ffi::lua_pushnumber(l, c.be(1)? as f64),
        0xcd => ffi::lua_pushnumber(l, c.be(2)? as f64),
        0xce => ffi::lua_pushnumber(l, c.be(4)? as f64),
        0xcf => ffi::lua_pushnumber(l, c.be(8)? as f64),
        0xd0 => ffi::lua_pushnumber(l, f64::from(c.be(1)? as u8 as i8)),
        0xd1 => ffi::lua_pushnumber(l, f64::from(c.be(2)? as u16 as i16)),
        0xd2 => ffi::lua_pushnumber(l, f64::from(c.be(4)? as u32 as i32)),
        0xd3 => ffi::lua_pushnumber(l, c.be(8)? as i64 as f64),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
            let n = match t {
                0xa0..=0xbf => usize::from(t & 0x1f),
                0xd9 => c.be(1)? as usize,
                0xda => c.be(2)? as usize,
                _ => c.be(4)? as usize,
            };
            let s = c.take(n)?;
            ffi::lua_pushlstring(l, s.as_ptr().cast(), s.len());
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match t {
                0x90..=0x9f => u64::from(t & 0x0f),
                0xdc => c.be(2)?,
                _ => c.be(4)?,
            };
            // The table, an index, an element.
            if ffi::lua_checkstack(l, 3) == 0 {
                return Err(DecodeError::Stack("in function mp_decode_to_lua_array"));
            }
            ffi::lua_newtable(l);
            for i in 0..n {
                ffi::lua_pushnumber(l, (i + 1) as f64);
                decode_value(l, c)?;
                ffi::lua_settable(l, -3);
            }
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match t {
                0x80..=0x8f => u64::from(t & 0x0f),
                0xde => c.be(2)?,
                _ => c.be(4)?,
            };
            // The table, a key, a value.
            if ffi::lua_checkstack(l, 3) == 0 {
                return Err(DecodeError::Stack("in function mp_decode_to_lua_hash"));
            }
            ffi::lua_newtable(l);
            for _ in 0..n {
                decode_value(l, c)?;
                decode_value(l, c)?;
                ffi::lua_settable(l, -3);
            }
        }
        _ => return Err(DecodeError::BadFormat),
    }
    Ok(())
}

/// mp_unpack_full: up to `limit` values from byte `offset` (0 and 0: all of them, and no
/// offset result).
unsafe fn unpack_full(l: *mut ffi::lua_State, limit: i64, offset: i64) -> c_int {
    let data = {
        let mut len = 0usize;
        let p = ffi::luaL_checklstring(l, 1, &mut len);
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    };
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        raise(
            l,
            format!(
                "Invalid request to unpack with offset of {offset} and limit of {}.",
                data.len()
            ),
        );
    }
    if offset as u64 > data.len() as u64 {
        raise(
            l,
            format!(
                "Start offset {offset} greater than input length {}.",
                data.len()
            ),
        );
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut c = Cur {
        b: data,
        p: offset as usize,
    };
    let mut cnt: c_int = 0;
    while c.p < c.b.len() && i64::from(cnt) < limit {
        // An error leaves the stack full: it is emptied before the message is pushed.
        if ffi::lua_checkstack(l, 1) == 0 {
            ffi::lua_settop(l, 1);
            raise(
                l,
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)".into(),
            );
        }
        if let Err(e) = decode_value(l, &mut c) {
            ffi::lua_settop(l, 1);
            match e {
                DecodeError::Eof => raise(l, "Missing bytes in input.".into()),
                DecodeError::BadFormat => raise(l, "Bad data format in input.".into()),
                DecodeError::Stack(at) => raise(l, format!("stack overflow ({at})")),
            }
        }
        cnt += 1;
    }
    if !decode_all {
        let left = c.b.len() - c.p;
        let next = if left == 0 { -1 } else { c.p as i64 };
        ffi::lua_pushnumber(l, next as f64);
        ffi::lua_insert(l, 2);
        cnt += 1;
    }
    cnt
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    unpack_full(l, 0, 0)
}

unsafe extern "C-unwind" fn unpack_one(l: *mut ffi::lua_State) -> c_int {
    let offset = ffi::luaL_optinteger(l, 2, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, 1, offset)
}

unsafe extern "C-unwind" fn unpack_limit(l: *mut ffi::lua_State) -> c_int {
    let limit = ffi::luaL_checkinteger(l, 2) as i64;
    let offset = ffi::luaL_optinteger(l, 3, 0) as i64;
    ffi::lua_settop(l, 1);
    unpack_full(l, limit, offset)
}

/// Sets global `cmsgpack` (luaopen_cmsgpack).
pub unsafe fn open(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    for (name, f) in [
        (c"pack", pack as ffi::lua_CFunction),
        (c"unpack", unpack),
        (c"unpack_one", unpack_one),
        (c"unpack_limit", unpack_limit),
    ] {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    ffi::lua_pushstring(l, c"cmsgpack".as_ptr());
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    ffi::lua_pushstring(l, c"lua-cmsgpack 0.4.0".as_ptr());
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    ffi::lua_pushstring(l, c"Copyright (C) 2012, Salvatore Sanfilippo".as_ptr());
    ffi::lua_setfield(l, -2, c"_COPYRIGHT".as_ptr());
    ffi::lua_pushstring(l, c"MessagePack C implementation for Lua".as_ptr());
    ffi::lua_setfield(l, -2, c"_DESCRIPTION".as_ptr());
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cmsgpack".as_ptr());
}
