//! The `struct` library scripts get (Roberto Ierusalimschy's struct 0.2, which Redis embeds
//! with its overflow fixes): `struct.pack`, `struct.unpack`, `struct.size`, written here
//! against the Lua C API.
//!
//! ```text
//!  format  := option*            (x86-64, little-endian native, alignment 1 by default)
//!  > <     big / little endian   !n    max alignment n (power of 2; ! alone is 8)
//!  b B     int8 / uint8          h H   int16 / uint16      l L   int64 / uint64
//!  T       size_t (8)            i In  signed / unsigned integer of n bytes (n <= 32, 4)
//!  f d     float / double        x     one zero byte        ' '  ignored
//!  cn      n chars (pack: c0 = the whole string; unpack: c0 = the previous number)
//!  s       zero-terminated string
//! ```
//!
//! Built bytes go into a `luaL_Buffer` (on the Lua stack), so a Lua error raised halfway
//! (a bad argument) leaves no Rust allocation behind.
//!
//! Safety, for every `unsafe fn` here: called by Lua with its own stack.
#![allow(clippy::missing_safety_doc)]

use super::convert::double_to_ll;
use mlua::ffi;
use std::os::raw::c_int;

const MAXINTSIZE: usize = 32;
/// The largest alignment (`!` alone): a double's.
const MAXALIGN: usize = 8;

/// The format's current options.
struct Header {
    big: bool,
    align: usize,
}

/// Raises `msg` with the caller's position (luaL_error).
unsafe fn error_where(l: *mut ffi::lua_State, msg: String) -> ! {
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    ffi::luaL_where(l, 1);
    ffi::lua_insert(l, -2);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Raises Lua's "bad argument #n to 'f' (msg)" (luaL_argerror).
unsafe fn arg_error(l: *mut ffi::lua_State, narg: c_int, msg: String) -> ! {
    ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
    drop(msg);
    let p = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
    ffi::luaL_argerror(l, narg, p);
    unreachable!("luaL_argerror raises")
}

/// A decimal size after an option, or `df` (getnum, with the overflow check).
unsafe fn getnum(l: *mut ffi::lua_State, fmt: &[u8], pos: &mut usize, df: usize) -> usize {
    if !fmt.get(*pos).is_some_and(u8::is_ascii_digit) {
        return df;
    }
    let mut a: i64 = 0;
    while let Some(&d) = fmt.get(*pos).filter(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        if a > i64::from(i32::MAX) / 10 || a * 10 > i64::from(i32::MAX) - d {
            error_where(l, "integral size overflow".into());
        }
        a = a * 10 + d;
        *pos += 1;
    }
    a as usize
}

/// The size an option takes (optsize).
unsafe fn optsize(l: *mut ffi::lua_State, opt: u8, fmt: &[u8], pos: &mut usize) -> usize {
    match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => getnum(l, fmt, pos, 1),
        b'i' | b'I' => {
            let sz = getnum(l, fmt, pos, 4);
            if sz > MAXINTSIZE {
                error_where(
                    l,
                    format!("integral size {sz} is larger than limit of {MAXINTSIZE}"),
                );
            }
            sz
        }
        _ => 0,
    }
}

/// Padding before an option at offset `len` (gettoalign).
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// The options that only change the header (controloptions); anything else is invalid.
unsafe fn control(l: *mut ffi::lua_State, opt: u8, fmt: &[u8], pos: &mut usize, h: &mut Header) {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = getnum(l, fmt, pos, MAXALIGN);
            if a == 0 || a & (a - 1) != 0 {
                error_where(l, format!("alignment {a} is not a power of 2"));
            }
            h.align = a;
        }
        _ => arg_error(l, 1, format!("invalid format option '{}'", char::from(opt))),
    }
}

/// The format string (argument 1) as bytes up to its first NUL, as C reads it.
unsafe fn format_arg<'a>(l: *mut ffi::lua_State) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, 1, &mut len);
    let s = std::slice::from_raw_parts(p.cast::<u8>(), len);
    s.split(|&b| b == 0).next().unwrap_or_default()
}

/// C's conversion of a double to the 64 bits packed (putinteger), x86-64's way for values
/// out of range.
fn to_bits(n: f64) -> u64 {
    if n < 0.0 {
        double_to_ll(n) as u64
    } else if n < 9_223_372_036_854_775_808.0 {
        n as u64
    } else {
        (double_to_ll(n - 9_223_372_036_854_775_808.0) as u64) ^ (1 << 63)
    }
}

unsafe extern "C-unwind" fn pack(l: *mut ffi::lua_State) -> c_int {
    let fmt = format_arg(l);
    let mut h = Header {
        big: false,
        align: 1,
    };
    let mut arg: c_int = 2;
    let mut total = 0usize;
    ffi::lua_pushnil(l); // separates the arguments from the buffer's pieces
    let mut b: ffi::luaL_Buffer = std::mem::zeroed();
    ffi::luaL_buffinit(l, &mut b);
    let mut pos = 0;
    while pos < fmt.len() {
        let opt = fmt[pos];
        pos += 1;
        let mut size = optsize(l, opt, fmt, &mut pos);
        let pad = gettoalign(total, &h, opt, size);
        total += pad;
        for _ in 0..pad {
            ffi::luaL_addchar(&mut b, 0);
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut v = to_bits(ffi::luaL_checknumber(l, arg));
                arg += 1;
                let mut buf = [0u8; MAXINTSIZE];
                if h.big {
                    for i in (0..size).rev() {
                        buf[i] = v as u8;
                        v = v.checked_shr(8).unwrap_or(0);
                    }
                } else {
                    for byte in buf.iter_mut().take(size) {
                        *byte = v as u8;
                        v = v.checked_shr(8).unwrap_or(0);
                    }
                }
                ffi::luaL_addlstring(&mut b, buf.as_ptr().cast(), size);
            }
            b'x' => ffi::luaL_addchar(&mut b, 0),
            b'f' => {
                let f = ffi::luaL_checknumber(l, arg) as f32;
                arg += 1;
                let bytes = if h.big {
                    f.to_be_bytes()
                } else {
                    f.to_le_bytes()
                };
                ffi::luaL_addlstring(&mut b, bytes.as_ptr().cast(), 4);
            }
            b'd' => {
                let d = ffi::luaL_checknumber(l, arg);
                arg += 1;
                let bytes = if h.big {
                    d.to_be_bytes()
                } else {
                    d.to_le_bytes()
                };
                ffi::luaL_addlstring(&mut b, bytes.as_ptr().cast(), 8);
            }
            b'c' | b's' => {
                let mut len = 0usize;
                let s = ffi::luaL_checklstring(l, arg, &mut len);
                arg += 1;
                if size == 0 {
                    size = len;
                }
                if len < size {
                    arg_error(l, arg, "string too short".into());
                }
                ffi::luaL_addlstring(&mut b, s, size);
                if opt == b's' {
                    ffi::luaL_addchar(&mut b, 0);
                    size += 1;
                }
            }
            _ => control(l, opt, fmt, &mut pos, &mut h),
        }
        total += size;
    }
    ffi::luaL_pushresult(&mut b);
    1
}

/// The integer at `data` (getinteger), sign-extended for the lower-case options.
fn getinteger(data: &[u8], big: bool, signed: bool) -> f64 {
    let mut v: u64 = 0;
    let size = data.len();
    for i in 0..size {
        let byte = if big { data[i] } else { data[size - 1 - i] };
        v = (v << 8) | u64::from(byte);
    }
    if !signed {
        return v as f64;
    }
    // C shifts by size*8-1 with x86-64's count masking.
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

unsafe extern "C-unwind" fn unpack(l: *mut ffi::lua_State) -> c_int {
    let fmt = format_arg(l);
    let mut ld = 0usize;
    let data = ffi::luaL_checklstring(l, 2, &mut ld);
    let data = std::slice::from_raw_parts(data.cast::<u8>(), ld);
    let mut pos = ffi::luaL_optinteger(l, 3, 1) as usize;
    if pos == 0 {
        arg_error(l, 3, "offset must be 1 or greater".into());
    }
    pos -= 1;
    let mut h = Header {
        big: false,
        align: 1,
    };
    ffi::lua_settop(l, 2);
    let mut n: c_int = 0;
    let mut fpos = 0;
    while fpos < fmt.len() {
        let opt = fmt[fpos];
        fpos += 1;
        let mut size = optsize(l, opt, fmt, &mut fpos);
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            arg_error(l, 2, "data string too short".into());
        }
        if ffi::lua_checkstack(l, 2) == 0 {
            // Room for the message: the results go.
            ffi::lua_settop(l, 2);
            error_where(l, "stack overflow (too many results)".into());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = getinteger(&data[pos..pos + size], h.big, opt.is_ascii_lowercase());
                ffi::lua_pushnumber(l, v);
                n += 1;
            }
            b'x' => {}
            b'f' => {
                let mut a = [0u8; 4];
                a.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.big {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                };
                ffi::lua_pushnumber(l, f64::from(f));
                n += 1;
            }
            b'd' => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.big {
                    f64::from_be_bytes(a)
                } else {
                    f64::from_le_bytes(a)
                };
                ffi::lua_pushnumber(l, d);
                n += 1;
            }
            b'c' => {
                if size == 0 {
                    if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        error_where(l, "format 'c0' needs a previous size".into());
                    }
                    size = super::convert::double_to_ll(ffi::lua_tonumber(l, -1)) as usize;
                    ffi::lua_pop(l, 1);
                    n -= 1;
                    if size > ld || pos > ld - size {
                        arg_error(l, 2, "data string too short".into());
                    }
                }
                ffi::lua_pushlstring(l, data[pos..].as_ptr().cast(), size);
                n += 1;
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    error_where(l, "unfinished string in data".into());
                };
                size = end + 1;
                ffi::lua_pushlstring(l, data[pos..].as_ptr().cast(), end);
                n += 1;
            }
            _ => control(l, opt, fmt, &mut fpos, &mut h),
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushnumber(l, pos.wrapping_add(1) as f64);
    n + 1
}

unsafe extern "C-unwind" fn size(l: *mut ffi::lua_State) -> c_int {
    let fmt = format_arg(l);
    let mut h = Header {
        big: false,
        align: 1,
    };
    let mut pos = 0usize;
    let mut fpos = 0;
    while fpos < fmt.len() {
        let opt = fmt[fpos];
        fpos += 1;
        let size = optsize(l, opt, fmt, &mut fpos);
        pos += gettoalign(pos, &h, opt, size);
        if opt == b's' {
            arg_error(l, 1, "option 's' has no fixed size".into());
        } else if opt == b'c' && size == 0 {
            arg_error(l, 1, "option 'c0' has no fixed size".into());
        }
        if !opt.is_ascii_alphanumeric() {
            control(l, opt, fmt, &mut fpos, &mut h);
        }
        pos += size;
    }
    ffi::lua_pushnumber(l, pos as f64);
    1
}

/// Sets global `struct` (luaopen_struct).
pub unsafe fn open(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    for (name, f) in [
        (c"pack", pack as ffi::lua_CFunction),
        (c"unpack", unpack),
        (c"size", size),
    ] {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"struct".as_ptr());
}
