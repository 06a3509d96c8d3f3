//! The `bit` library scripts get (LuaBitOp 1.0, which Redis embeds as C): 32-bit operations
//! on Lua numbers, written here against the Lua C API.
//!
//! ```text
//!  argument ──(+ 2^52 + 2^51, keep the low 32 bits of the double's bits)──► u32
//!  result   ──(as i32)──► Lua number in -2^31 .. 2^31-1
//! ```
//!
//! Adding 2^52 + 2^51 moves the number's integer part into the low bits of the mantissa
//! with round-to-nearest-even, which is what makes `bit.tobit(1.5)` 2 and `bit.tobit(2^32+1)`
//! 1, exactly as the C library computes them.
//!
//! Safety, for every `unsafe fn` here: called by Lua with its own stack.
#![allow(clippy::missing_safety_doc)]

use mlua::ffi;
use std::os::raw::c_int;

/// Argument `idx` as 32 bits (barg). A value that is not a number raises Lua's type error.
unsafe fn arg(l: *mut ffi::lua_State, idx: c_int) -> u32 {
    let n = ffi::lua_tonumber(l, idx) + 6_755_399_441_055_744.0;
    let b = n.to_bits() as u32;
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

unsafe fn ret(l: *mut ffi::lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, f64::from(b as i32));
    1
}

unsafe extern "C-unwind" fn tobit(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1))
}

unsafe extern "C-unwind" fn bnot(l: *mut ffi::lua_State) -> c_int {
    ret(l, !arg(l, 1))
}

/// band, bor, bxor: the first argument, then the others from the last down (as the C code).
unsafe fn fold(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = arg(l, 1);
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, arg(l, i));
        i -= 1;
    }
    ret(l, b)
}

unsafe extern "C-unwind" fn band(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a & b)
}

unsafe extern "C-unwind" fn bor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a | b)
}

unsafe extern "C-unwind" fn bxor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a ^ b)
}

/// The shifts and rotations: value, then a count taken modulo 32.
unsafe fn shift(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let b = arg(l, 1);
    let n = arg(l, 2) & 31;
    ret(l, op(b, n))
}

unsafe extern "C-unwind" fn lshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b << n)
}

unsafe extern "C-unwind" fn rshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b >> n)
}

unsafe extern "C-unwind" fn arshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}

unsafe extern "C-unwind" fn rol(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b.rotate_left(n))
}

unsafe extern "C-unwind" fn ror(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b.rotate_right(n))
}

unsafe extern "C-unwind" fn bswap(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1).swap_bytes())
}

/// tohex(x [, n]): n hex digits (8 by default, at most 8), upper case when n is negative.
unsafe extern "C-unwind" fn tohex(l: *mut ffi::lua_State) -> c_int {
    let mut b = arg(l, 1);
    let mut n: i64 = if ffi::lua_type(l, 2) == ffi::LUA_TNONE {
        8
    } else {
        i64::from(arg(l, 2) as i32)
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n < 0 {
        n = -n;
        digits = b"0123456789ABCDEF";
    }
    let n = n.min(8) as usize;
    let mut buf = [0u8; 8];
    for i in (0..n).rev() {
        buf[i] = digits[(b & 15) as usize];
        b >>= 4;
    }
    ffi::lua_pushlstring(l, buf.as_ptr().cast(), n);
    1
}

/// Sets global `bit` to a table of the functions (luaopen_bit).
pub unsafe fn open(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    for (name, f) in [
        (c"tobit", tobit as ffi::lua_CFunction),
        (c"bnot", bnot),
        (c"band", band),
        (c"bor", bor),
        (c"bxor", bxor),
        (c"lshift", lshift),
        (c"rshift", rshift),
        (c"arshift", arshift),
        (c"rol", rol),
        (c"ror", ror),
        (c"bswap", bswap),
        (c"tohex", tohex),
    ] {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"bit".as_ptr());
}
