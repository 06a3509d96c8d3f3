//! The Lua 5.1 interpreter as Redis 7.0 sets it up (script_lua.c, eval.c's scriptingInit):
//! the libraries scripts get, the `redis` API, the error handler, and the sandbox.
//!
//! Everything here talks to Lua through its C API (`mlua::ffi`), as Redis does: the API
//! functions must raise Lua *values* (error tables) and return several results, which only
//! the C API allows. A C function that raises keeps no Rust value with a destructor alive
//! at that point (an error unwinds by longjmp).
//!
//! The sandbox. Redis patches its Lua with read-only tables; the vendored Lua has none, so
//! protection is built from proxies:
//!
//! ```text
//!   script chunk env, _G, getfenv-free world      real tables (only reachable from here)
//!   P_G  {}  --metatable--> __index = G  ------->  G {string=P_string, redis=P_redis, ...,
//!            __newindex = readonly error              KEYS, ARGV, ...}
//!                                                     metatable: __index = "nonexistent
//!   P_string {} --metatable--> __index = string        global variable" error
//!            __newindex = readonly error
//! ```
//!
//! Every script (and every chunk `loadstring` makes) sees only proxies: a write to one
//! raises "Attempt to modify a readonly table", a read of a missing global raises "Script
//! attempted to access nonexistent global variable". `rawset`, `rawget`, `next`, `pairs`,
//! `setmetatable` and `getmetatable` are wrapped so they act on a proxy as Redis's read-only
//! table would act (rawget/next see the real table; rawset/setmetatable refuse).

//!
//! Safety, for every `unsafe fn` here: `l` is the live interpreter of `Scripting`, used from
//! its own thread, with the stack in the state the function's comment describes.
#![allow(clippy::missing_safety_doc)]

use super::convert;
use super::RunCtx;
use mlua::ffi;
use std::os::raw::c_int;

/// Registry integer slots, set by `new_state` before anything takes a `luaL_ref` (which then
/// numbers from 7 on): what every script run reaches, by `lua_rawgeti` rather than by a name
/// that would be hashed and interned on each run.
pub(crate) const ERRH_REF: c_int = 1;
const REAL_G_REF: c_int = 2;
const KEYS_NAME_REF: c_int = 3;
const ARGV_NAME_REF: c_int = 4;
/// The KEYS and ARGV tables of the last EVAL run, when they may be refilled (else false).
const KEYS_TABLE_REF: c_int = 5;
const ARGV_TABLE_REF: c_int = 6;

/// KEYS and ARGV arrays up to this length are refilled from run to run instead of made anew.
const REUSE_MAX: usize = 64;

/// Registry keys.
pub(crate) const ERRH_KEY: &std::ffi::CStr = c"ferrodis.err_handler";
const PROXIES_KEY: &std::ffi::CStr = c"ferrodis.proxies";
const REAL_G_KEY: &std::ffi::CStr = c"ferrodis.G";
const G_META_KEY: &std::ffi::CStr = c"ferrodis.G_meta";
const ORIG_KEY: &std::ffi::CStr = c"ferrodis.orig";

/// The message of a write to a protected table.
const READONLY: &[u8] = b"Attempt to modify a readonly table";

/// The propagation targets of redis.set_repl (PROPAGATE_AOF, PROPAGATE_REPL).
pub const REPL_AOF: i64 = 1;
pub const REPL_REPLICA: i64 = 2;

/// The version numbers scripts see.
pub(crate) const VERSION_NUM: f64 = 0x07000f as f64;

// ---------------------------------------------------------------------------------------
// Redis's 48-bit PRNG (rand.c: the lrand48 recurrence), so math.random gives the same
// sequence as Redis for the same seed. As in 7.0.15 the state starts at lrand48's default
// and runs on across scripts (only math.randomseed reseeds it).

thread_local! {
    static RAND48: std::cell::Cell<u64> = const { std::cell::Cell::new(0x1234_abcd_330e) };
}

/// srand48: the state is the seed's 32 bits above 0x330E.
pub fn srand48(seed: i32) {
    RAND48.with(|s| s.set(((seed as u32 as u64) << 16) | 0x330e));
}

/// lrand48: x = (0x5DEECE66D * x + 0xB) mod 2^48, the top 31 bits.
fn lrand48() -> i32 {
    RAND48.with(|s| {
        let x = (s.get().wrapping_mul(0x5_deec_e66d).wrapping_add(0xb)) & ((1 << 48) - 1);
        s.set(x);
        (x >> 17) as i32
    })
}

// ---------------------------------------------------------------------------------------
// Small helpers over the C API.

pub(crate) unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

/// Raises `msg` as a plain string error, with no position (luaG_runerror from a C frame).
unsafe fn raise_plain(l: *mut ffi::lua_State, msg: &[u8]) -> c_int {
    push_bytes(l, msg);
    ffi::lua_error(l)
}

/// Raises `msg` prefixed with the caller's position (luaL_error).
unsafe fn raise_where(l: *mut ffi::lua_State, msg: &[u8]) -> c_int {
    ffi::luaL_where(l, 1);
    push_bytes(l, msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

/// Pushes an error table and raises it (luaPushError + luaError).
pub(crate) unsafe fn raise_table(l: *mut ffi::lua_State, msg: &[u8]) -> c_int {
    convert::push_error_table(l, msg);
    ffi::lua_error(l)
}

pub(crate) unsafe fn set_fn(l: *mut ffi::lua_State, name: &std::ffi::CStr, f: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(l, f);
    ffi::lua_setfield(l, -2, name.as_ptr());
}

pub(crate) unsafe fn set_num(l: *mut ffi::lua_State, name: &std::ffi::CStr, n: f64) {
    ffi::lua_pushnumber(l, n);
    ffi::lua_setfield(l, -2, name.as_ptr());
}

/// The running script's context, if a script is running.
pub(crate) fn run_ctx<'a>() -> Option<&'a mut RunCtx> {
    let p = super::RUN.with(|r| r.get());
    // SAFETY: RUN is set only for the duration of a script run, to a context that outlives it.
    unsafe { p.as_mut() }
}

// ---------------------------------------------------------------------------------------
// The interpreter.

/// The interpreter's allocator (lua_Alloc). With the `jemalloc` feature Lua allocates from
/// jemalloc directly, not through the counting global allocator: like Redis's Lua (which
/// uses libc's malloc beside Redis's jemalloc) its memory is not part of used_memory, and
/// INFO used_memory_lua stays Lua's own count (lua_gc COUNT). jemalloc's thread cache
/// makes the small, short-lived blocks of each run (KEYS/ARGV tables, strings) cheap.
unsafe extern "C" fn lua_alloc(
    _ud: *mut std::ffi::c_void,
    ptr: *mut std::ffi::c_void,
    _osize: usize,
    nsize: usize,
) -> *mut std::ffi::c_void {
    #[cfg(feature = "jemalloc")]
    {
        use tikv_jemalloc_sys as je;
        if nsize == 0 {
            if !ptr.is_null() {
                je::dallocx(ptr, 0);
            }
            std::ptr::null_mut()
        } else if ptr.is_null() {
            je::mallocx(nsize, 0)
        } else {
            je::rallocx(ptr, nsize, 0)
        }
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        if nsize == 0 {
            libc::free(ptr);
            std::ptr::null_mut()
        } else {
            libc::realloc(ptr, nsize)
        }
    }
}

/// What an error outside any protected call does (luaL_newstate's panic function): say so;
/// Lua then exits.
unsafe extern "C-unwind" fn lua_panic(l: *mut ffi::lua_State) -> c_int {
    let msg = String::from_utf8_lossy(convert::to_bytes(l, -1)).into_owned();
    crate::log_warning!("PANIC: unprotected error in call to Lua API ({})", msg);
    0
}

/// Creates the interpreter with Redis's libraries, API and sandbox (scriptingInit).
pub fn new_state() -> *mut ffi::lua_State {
    // SAFETY: a fresh state used only from this thread; every call below follows the
    // C API's stack discipline.
    unsafe {
        let l = ffi::lua_newstate(lua_alloc, std::ptr::null_mut());
        assert!(!l.is_null(), "cannot create the Lua interpreter");
        ffi::lua_atpanic(l, lua_panic);
        for (slot, name) in [(KEYS_NAME_REF, c"KEYS"), (ARGV_NAME_REF, c"ARGV")] {
            ffi::lua_pushstring(l, name.as_ptr());
            ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
        }
        for slot in [KEYS_TABLE_REF, ARGV_TABLE_REF] {
            ffi::lua_pushboolean(l, 0);
            ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
        }
        for (open, name) in [
            (ffi::luaopen_base as ffi::lua_CFunction, c""),
            (ffi::luaopen_table, c"table"),
            (ffi::luaopen_string, c"string"),
            (ffi::luaopen_math, c"math"),
            (ffi::luaopen_debug, c"debug"),
        ] {
            ffi::lua_pushcfunction(l, open);
            ffi::lua_pushstring(l, name.as_ptr());
            ffi::lua_call(l, 1, 0);
        }
        // What 7.0 does not give scripts.
        for name in [
            c"dofile",
            c"loadfile",
            c"print",
            c"getfenv",
            c"setfenv",
            c"newproxy",
        ] {
            ffi::lua_pushnil(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        }
        register_redis_api(l);
        super::bit::open(l);
        super::structlib::open(l);
        super::cjson::open(l);
        super::cmsgpack::open(l);
        // The error handler keeps `debug` as an upvalue; then debug leaves the globals.
        let handler = b"local dbg = debug\n\
            return function(err)\n\
              local i = dbg.getinfo(2, 'nSl')\n\
              if i and i.what == 'C' then i = dbg.getinfo(3, 'nSl') end\n\
              if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end\n\
              if i then err['source'] = i.source; err['line'] = i.currentline end\n\
              return err\n\
            end\n";
        ffi::luaL_loadbuffer(
            l,
            handler.as_ptr().cast(),
            handler.len(),
            c"@err_handler_def".as_ptr(),
        );
        ffi::lua_call(l, 0, 1);
        ffi::lua_pushvalue(l, -1);
        ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, ERRH_REF);
        ffi::lua_pushvalue(l, -1);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, ERRH_KEY.as_ptr());
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
        ffi::lua_pushnil(l);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"debug".as_ptr());
        protect(l);
        l
    }
}

/// The `redis` table, math.random/randomseed and the pcall that unwraps error tables.
unsafe fn register_redis_api(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    set_fn(l, c"call", redis_call);
    set_fn(l, c"pcall", redis_pcall);
    set_fn(l, c"log", redis_log);
    set_num(l, c"LOG_DEBUG", 0.0);
    set_num(l, c"LOG_VERBOSE", 1.0);
    set_num(l, c"LOG_NOTICE", 2.0);
    set_num(l, c"LOG_WARNING", 3.0);
    set_num(l, c"REDIS_VERSION_NUM", VERSION_NUM);
    push_bytes(l, crate::server::REDIS_VERSION.as_bytes());
    ffi::lua_setfield(l, -2, c"REDIS_VERSION".as_ptr());
    set_fn(l, c"setresp", redis_setresp);
    set_fn(l, c"sha1hex", redis_sha1hex);
    set_fn(l, c"error_reply", redis_error_reply);
    set_fn(l, c"status_reply", redis_status_reply);
    set_fn(l, c"set_repl", redis_set_repl);
    set_num(l, c"REPL_NONE", 0.0);
    set_num(l, c"REPL_AOF", REPL_AOF as f64);
    set_num(l, c"REPL_SLAVE", REPL_REPLICA as f64);
    set_num(l, c"REPL_REPLICA", REPL_REPLICA as f64);
    set_num(l, c"REPL_ALL", (REPL_AOF | REPL_REPLICA) as f64);
    set_fn(l, c"acl_check_cmd", redis_acl_check_cmd);
    set_fn(l, c"breakpoint", redis_breakpoint);
    set_fn(l, c"debug", redis_debug);
    set_fn(l, c"replicate_commands", redis_replicate_commands);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());

    ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
    set_fn(l, c"random", math_random);
    set_fn(l, c"randomseed", math_randomseed);
    ffi::lua_pop(l, 1);

    // The originals the wrappers below call.
    ffi::lua_newtable(l);
    for name in [
        c"next",
        c"rawget",
        c"getmetatable",
        c"setmetatable",
        c"loadstring",
    ] {
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, ORIG_KEY.as_ptr());

    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    set_fn(l, c"pcall", lua_pcall_unwrap);
    set_fn(l, c"next", wrap_next);
    set_fn(l, c"pairs", wrap_pairs);
    set_fn(l, c"rawget", wrap_rawget);
    set_fn(l, c"rawset", wrap_rawset);
    set_fn(l, c"setmetatable", wrap_setmetatable);
    set_fn(l, c"getmetatable", wrap_getmetatable);
    set_fn(l, c"loadstring", wrap_loadstring);
    set_fn(l, c"load", wrap_load);
    ffi::lua_pop(l, 1);
}

/// Builds the proxies and makes the protected globals proxy the thread's globals.
unsafe fn protect(l: *mut ffi::lua_State) {
    // proxy -> real table, weak keys.
    ffi::lua_newtable(l);
    ffi::lua_newtable(l);
    ffi::lua_pushstring(l, c"k".as_ptr());
    ffi::lua_setfield(l, -2, c"__mode".as_ptr());
    ffi::lua_setmetatable(l, -2);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, PROXIES_KEY.as_ptr());

    // Library tables become proxies inside G.
    for name in [
        c"string",
        c"math",
        c"table",
        c"coroutine",
        c"redis",
        c"bit",
        c"struct",
        c"cjson",
        c"cmsgpack",
    ] {
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        make_proxy(l);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
    }
    // Strings index the protected string table.
    ffi::lua_pushstring(l, c"".as_ptr());
    if ffi::lua_getmetatable(l, -1) != 0 {
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"string".as_ptr());
        ffi::lua_setfield(l, -2, c"__index".as_ptr());
        ffi::lua_pop(l, 1);
    }
    ffi::lua_pop(l, 1);

    // G's own metatable: reading a missing global is an error.
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, REAL_G_KEY.as_ptr());
    ffi::lua_pushvalue(l, -1);
    ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, REAL_G_REF);
    ffi::lua_newtable(l);
    set_fn(l, c"__index", nonexistent_global);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, G_META_KEY.as_ptr());
    ffi::lua_setmetatable(l, -2);
    // The globals proxy; _G is it, and so are the thread's globals from now on, so chunks
    // that loadstring makes see it too.
    make_proxy(l);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"_G".as_ptr());
    ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
    // What getmetatable(_G) shows: a protected copy of G's metatable.
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, G_META_KEY.as_ptr());
    make_proxy(l);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, G_META_KEY.as_ptr());
}

/// Replaces the table on the top of the stack with a read-only proxy of it.
pub(crate) unsafe fn make_proxy(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l); // real, proxy
    ffi::lua_newtable(l); // real, proxy, mt
    ffi::lua_pushvalue(l, -3);
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    ffi::lua_pushcfunction(l, readonly_newindex);
    ffi::lua_setfield(l, -2, c"__newindex".as_ptr());
    ffi::lua_setmetatable(l, -2); // real, proxy
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, PROXIES_KEY.as_ptr());
    ffi::lua_pushvalue(l, -2);
    ffi::lua_pushvalue(l, -4);
    ffi::lua_rawset(l, -3); // proxies[proxy] = real
    ffi::lua_pop(l, 1);
    ffi::lua_remove(l, -2); // proxy
}

/// Pushes the real table behind the proxy at `idx`, or nothing and false.
unsafe fn push_real(l: *mut ffi::lua_State, idx: c_int) -> bool {
    if ffi::lua_type(l, idx) != ffi::LUA_TTABLE {
        return false;
    }
    let idx = if idx < 0 {
        ffi::lua_gettop(l) + idx + 1
    } else {
        idx
    };
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, PROXIES_KEY.as_ptr());
    ffi::lua_pushvalue(l, idx);
    ffi::lua_rawget(l, -2);
    ffi::lua_remove(l, -2);
    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
        ffi::lua_pop(l, 1);
        return false;
    }
    true
}

unsafe fn push_orig(l: *mut ffi::lua_State, name: &std::ffi::CStr) {
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ORIG_KEY.as_ptr());
    ffi::lua_getfield(l, -1, name.as_ptr());
    ffi::lua_remove(l, -2);
}

/// Calls original `name` with the current arguments, returning what it returns.
unsafe fn call_orig(l: *mut ffi::lua_State, name: &std::ffi::CStr) -> c_int {
    let n = ffi::lua_gettop(l);
    push_orig(l, name);
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    ffi::lua_gettop(l)
}

pub(crate) unsafe extern "C-unwind" fn readonly_newindex(l: *mut ffi::lua_State) -> c_int {
    raise_where(l, READONLY)
}

pub(crate) unsafe extern "C-unwind" fn nonexistent_global(l: *mut ffi::lua_State) -> c_int {
    let name = convert::to_bytes(l, 2);
    let mut msg = b"Script attempted to access nonexistent global variable '".to_vec();
    msg.extend_from_slice(name);
    msg.push(b'\'');
    ffi::luaL_where(l, 1);
    push_bytes(l, &msg);
    drop(msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

unsafe extern "C-unwind" fn wrap_next(l: *mut ffi::lua_State) -> c_int {
    if push_real(l, 1) {
        ffi::lua_replace(l, 1);
    }
    call_orig(l, c"next")
}

unsafe extern "C-unwind" fn wrap_pairs(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::lua_pushcfunction(l, wrap_next);
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushnil(l);
    3
}

unsafe extern "C-unwind" fn wrap_rawget(l: *mut ffi::lua_State) -> c_int {
    if push_real(l, 1) {
        ffi::lua_replace(l, 1);
    }
    call_orig(l, c"rawget")
}

unsafe extern "C-unwind" fn wrap_rawset(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(l, 2);
    ffi::luaL_checkany(l, 3);
    if push_real(l, 1) {
        return raise_plain(l, READONLY);
    }
    ffi::lua_settop(l, 3);
    ffi::lua_rawset(l, 1);
    1
}

unsafe extern "C-unwind" fn wrap_setmetatable(l: *mut ffi::lua_State) -> c_int {
    if push_real(l, 1) {
        return raise_plain(l, READONLY);
    }
    call_orig(l, c"setmetatable")
}

unsafe extern "C-unwind" fn wrap_getmetatable(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_type(l, 1) == ffi::LUA_TTABLE && push_real(l, 1) {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, REAL_G_KEY.as_ptr());
        let is_g = ffi::lua_rawequal(l, -1, -2) != 0;
        if is_g {
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, G_META_KEY.as_ptr());
        } else {
            ffi::lua_pushnil(l);
        }
        return 1;
    }
    call_orig(l, c"getmetatable")
}

/// luaO_chunkid for a string source: `[string "first line..."]`.
fn chunk_id(source: &[u8]) -> Vec<u8> {
    let s = source.split(|&b| b == 0).next().unwrap_or_default();
    if let Some(rest) = s.strip_prefix(b"=") {
        return rest[..rest.len().min(59)].to_vec();
    }
    if let Some(rest) = s.strip_prefix(b"@") {
        return rest.to_vec();
    }
    let room = 60 - 17;
    let mut len = s.iter().position(|&b| b == b'\n').unwrap_or(s.len());
    len = len.min(room);
    let mut out = b"[string \"".to_vec();
    out.extend_from_slice(&s[..len]);
    if len < s.len() {
        out.extend_from_slice(b"...");
    }
    out.extend_from_slice(b"\"]");
    out
}

/// Pushes nil and the error Redis's Lua gives for precompiled code: its parser reads the
/// bytecode as text and stops at the ESC byte.
unsafe fn refuse_bytecode(l: *mut ffi::lua_State, name: &[u8]) -> c_int {
    let mut msg = chunk_id(name);
    msg.extend_from_slice(b":1: unexpected symbol near 'char(27)'");
    ffi::lua_pushnil(l);
    push_bytes(l, &msg);
    drop(msg);
    2
}

unsafe extern "C-unwind" fn wrap_loadstring(l: *mut ffi::lua_State) -> c_int {
    let src = {
        let mut len = 0usize;
        let p = ffi::luaL_checklstring(l, 1, &mut len);
        std::slice::from_raw_parts(p.cast::<u8>(), len)
    };
    if src.first() == Some(&27) {
        let name = if ffi::lua_isstring(l, 2) != 0 {
            convert::to_bytes(l, 2)
        } else {
            src
        };
        let name = name.to_vec();
        let n = refuse_bytecode(l, &name);
        drop(name);
        return n;
    }
    call_orig(l, c"loadstring")
}

unsafe extern "C-unwind" fn wrap_load(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
    // Gather the pieces (the reader protocol of lua_load), then load them as one string. A
    // reader that raises leaks what was gathered so far, nothing worse.
    let mut src: Vec<u8> = Vec::new();
    loop {
        ffi::lua_pushvalue(l, 1);
        ffi::lua_call(l, 0, 1);
        match ffi::lua_type(l, -1) {
            ffi::LUA_TNIL => {
                ffi::lua_pop(l, 1);
                break;
            }
            ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
                let piece = convert::to_bytes(l, -1);
                if piece.is_empty() {
                    ffi::lua_pop(l, 1);
                    break;
                }
                src.extend_from_slice(piece);
                ffi::lua_pop(l, 1);
            }
            _ => {
                drop(src);
                ffi::lua_pop(l, 1);
                ffi::lua_pushnil(l);
                ffi::lua_pushstring(l, c"reader function must return a string".as_ptr());
                return 2;
            }
        }
    }
    let name: Vec<u8> = if ffi::lua_isstring(l, 2) != 0 {
        convert::to_bytes(l, 2).to_vec()
    } else {
        b"=(load)".to_vec()
    };
    if src.first() == Some(&27) {
        let n = refuse_bytecode(l, &name);
        drop(src);
        drop(name);
        return n;
    }
    let name_c = std::ffi::CString::new(name).unwrap_or_default();
    let status = ffi::luaL_loadbuffer(l, src.as_ptr().cast(), src.len(), name_c.as_ptr());
    drop(src);
    drop(name_c);
    if status != 0 {
        ffi::lua_pushnil(l);
        ffi::lua_insert(l, -2);
        return 2;
    }
    1
}

// ---------------------------------------------------------------------------------------
// The redis.* API.

unsafe extern "C-unwind" fn redis_call(l: *mut ffi::lua_State) -> c_int {
    generic_command(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut ffi::lua_State) -> c_int {
    generic_command(l, false)
}

/// Gathers the arguments of redis.call straight from the Lua stack into one buffer and its
/// ranges, the shape of a parsed request, so the command borrows them as it would borrow a
/// query buffer: one copy, and no allocation once the buffers have grown. Strings go as they
/// are, numbers as %.17g. False when an argument is neither (the caller raises).
unsafe fn collect_args(
    l: *mut ffi::lua_State,
    argc: c_int,
    buf: &mut Vec<u8>,
    argv: &mut crate::protocol::parser::Argv,
) -> bool {
    buf.clear();
    argv.ranges.clear();
    argv.scratch.clear();
    argv.inline = false;
    for j in 1..=argc {
        let start = buf.len();
        match ffi::lua_type(l, j) {
            ffi::LUA_TNUMBER => push_number_g17(buf, ffi::lua_tonumber(l, j)),
            ffi::LUA_TSTRING => buf.extend_from_slice(convert::to_bytes(l, j)),
            _ => return false,
        }
        argv.ranges.push((start, buf.len() - start));
    }
    true
}

/// Appends `n` printed as "%.17g" (how Redis turns a Lua number into an argument).
fn push_number_g17(buf: &mut Vec<u8>, n: f64) {
    let mut tmp = [0u8; 64];
    // SAFETY: the format is NUL-terminated and takes one double; snprintf writes at most
    // tmp.len() bytes ("%.17g" needs at most 24).
    let len = unsafe { libc::snprintf(tmp.as_mut_ptr().cast(), tmp.len(), c"%.17g".as_ptr(), n) };
    buf.extend_from_slice(&tmp[..(len.max(0) as usize).min(tmp.len() - 1)]);
}

/// redis.call / redis.pcall (luaRedisGenericCommand).
unsafe fn generic_command(l: *mut ffi::lua_State, raise: bool) -> c_int {
    let Some(ctx) = run_ctx() else {
        return raise_table(
            l,
            b"redis.call/pcall can only be called inside a script invocation",
        );
    };
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        convert::push_error_table(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
        return if raise { ffi::lua_error(l) } else { 1 };
    }
    // The buffers are the run's, lent out for this call and back before anything raises.
    let mut buf = std::mem::take(&mut ctx.arg_buf);
    let mut argv = std::mem::take(&mut ctx.arg_ranges);
    let ok = collect_args(l, argc, &mut buf, &mut argv);
    ffi::lua_settop(l, 0);
    if !ok || ctx.in_call {
        // A recursive call (in_call) finds the buffers already lent: these are empty.
        if !ctx.in_call {
            ctx.arg_buf = buf;
            ctx.arg_ranges = argv;
        } else {
            drop(buf);
            drop(argv);
        }
        if !ok {
            convert::push_error_table(
                l,
                b"Lua redis lib command arguments must be strings or integers",
            );
            return if raise { ffi::lua_error(l) } else { 1 };
        }
        convert::push_error_table(
            l,
            b"luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?",
        );
        return 1;
    }
    ctx.in_call = true;
    let outcome = super::script_call(ctx, &crate::commands::Args::new(&buf, &argv));
    ctx.arg_buf = buf;
    ctx.arg_ranges = argv;
    let mut raise = raise;
    match outcome {
        Err(msg) => {
            convert::push_error_table(l, msg.as_bytes());
            drop(msg);
            convert::mark_ignore_stats(l);
        }
        Ok(()) => {
            let client = &mut *ctx.client;
            if raise && client.out.buf.first() != Some(&b'-') {
                raise = false;
            }
            let ok = convert::push_reply(l, &client.out.buf);
            client.out.buf.clear();
            if !ok {
                ctx.in_call = false;
                // The stack is full of the partial reply: empty it to make room.
                ffi::lua_settop(l, 0);
                return raise_plain(l, b"reached lua stack limit");
            }
        }
    }
    ctx.in_call = false;
    if raise {
        ffi::lua_error(l);
    }
    1
}

/// The global pcall: on error, an error table gives way to its message (luaRedisPcall).
unsafe extern "C-unwind" fn lua_pcall_unwrap(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checkany(l, 1);
    let argc = ffi::lua_gettop(l);
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

pub(crate) unsafe extern "C-unwind" fn redis_log(l: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(l);
    if argc < 2 {
        return raise_table(l, b"redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        return raise_table(l, b"First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i32;
    if !(0..=3).contains(&level) {
        return raise_table(l, b"Invalid debug level.");
    }
    let mut msg = Vec::new();
    for j in 2..=argc {
        if ffi::lua_isstring(l, j) != 0 {
            if j != 2 {
                msg.push(b' ');
            }
            msg.extend_from_slice(convert::to_bytes(l, j));
        }
    }
    use crate::server::log::Level;
    let lvl = match level {
        0 => Level::Debug,
        1 => Level::Verbose,
        2 => Level::Notice,
        _ => Level::Warning,
    };
    crate::server::log::log(lvl, &String::from_utf8_lossy(&msg));
    0
}

unsafe extern "C-unwind" fn redis_setresp(l: *mut ffi::lua_State) -> c_int {
    let Some(ctx) = run_ctx() else {
        return raise_table(
            l,
            b"redis.setresp can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        return raise_table(l, b"redis.setresp() requires one argument.");
    }
    let resp = ffi::lua_tonumber(l, 1) as i32;
    if resp != 2 && resp != 3 {
        return raise_table(l, b"RESP version must be 2 or 3.");
    }
    (*ctx.client).out.resp3 = resp == 3;
    0
}

unsafe extern "C-unwind" fn redis_sha1hex(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return raise_table(l, b"wrong number of arguments");
    }
    let hex = super::cache::sha1hex(convert::to_bytes(l, 1));
    push_bytes(l, &hex);
    1
}

unsafe extern "C-unwind" fn redis_error_reply(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        convert::push_error_table(l, b"wrong number or type of arguments");
        return 1;
    }
    let s = convert::to_bytes(l, 1);
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    let mut text = Vec::with_capacity(s.len() + 1);
    if s.first() != Some(&b'-') {
        text.push(b'-');
    }
    text.extend_from_slice(s);
    convert::push_error_table(l, &text);
    1
}

unsafe extern "C-unwind" fn redis_status_reply(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
        convert::push_error_table(l, b"wrong number or type of arguments");
        return 1;
    }
    ffi::lua_newtable(l);
    ffi::lua_pushvalue(l, 1);
    ffi::lua_setfield(l, -2, c"ok".as_ptr());
    1
}

unsafe extern "C-unwind" fn redis_set_repl(l: *mut ffi::lua_State) -> c_int {
    let Some(ctx) = run_ctx() else {
        return raise_table(
            l,
            b"redis.set_repl can only be called inside a script invocation",
        );
    };
    if ffi::lua_gettop(l) != 1 {
        return raise_table(l, b"redis.set_repl() requires two arguments.");
    }
    let flags = ffi::lua_tonumber(l, -1) as i32 as i64;
    if flags & !(REPL_AOF | REPL_REPLICA) != 0 {
        return raise_table(
            l,
            b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    ctx.repl_flags = flags;
    0
}

unsafe extern "C-unwind" fn redis_acl_check_cmd(l: *mut ffi::lua_State) -> c_int {
    let Some(ctx) = run_ctx() else {
        return raise_table(
            l,
            b"redis.acl_check_cmd can only be called inside a script invocation",
        );
    };
    let argc = ffi::lua_gettop(l);
    if argc == 0 {
        return raise_table(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
    }
    let mut buf = std::mem::take(&mut ctx.arg_buf);
    let mut argv = std::mem::take(&mut ctx.arg_ranges);
    let allowed = if collect_args(l, argc, &mut buf, &mut argv) {
        let args = crate::commands::Args::new(&buf, &argv);
        let srv = &*ctx.srv;
        Some(
            super::lookup_command(srv, &args)
                .map(|idx| super::acl_denied(srv, &*ctx.caller, idx, &args).is_none()),
        )
    } else {
        None
    };
    ctx.arg_buf = buf;
    ctx.arg_ranges = argv;
    let Some(allowed) = allowed else {
        return raise_table(
            l,
            b"Lua redis lib command arguments must be strings or integers",
        );
    };
    let Some(allowed) = allowed else {
        return raise_table(l, b"Invalid command passed to redis.acl_check_cmd()");
    };
    // The calling user's permission (ACLCheckAllUserCommandPerm).
    ffi::lua_pushboolean(l, c_int::from(allowed));
    1
}

unsafe extern "C-unwind" fn redis_breakpoint(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn redis_debug(_l: *mut ffi::lua_State) -> c_int {
    0
}

unsafe extern "C-unwind" fn redis_replicate_commands(l: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

/// math.random on Redis's PRNG (redis_math_random: Lua's own code over redisLrand48).
unsafe extern "C-unwind" fn math_random(l: *mut ffi::lua_State) -> c_int {
    if run_ctx().is_none() {
        return raise_where(
            l,
            b"math.random can only be called inside a script invocation",
        );
    }
    const MAX: i64 = i32::MAX as i64;
    let r = (i64::from(lrand48()) % MAX) as f64 / MAX as f64;
    match ffi::lua_gettop(l) {
        0 => ffi::lua_pushnumber(l, r),
        1 => {
            let u = ffi::luaL_checkinteger(l, 1) as i32;
            if u < 1 {
                return ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(l, (r * f64::from(u)).floor() + 1.0);
        }
        2 => {
            let lo = ffi::luaL_checkinteger(l, 1) as i32;
            let hi = ffi::luaL_checkinteger(l, 2) as i32;
            if lo > hi {
                return ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
            }
            let span = f64::from(hi) - f64::from(lo) + 1.0;
            ffi::lua_pushnumber(l, (r * span).floor() + f64::from(lo));
        }
        _ => return raise_where(l, b"wrong number of arguments"),
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: *mut ffi::lua_State) -> c_int {
    if run_ctx().is_none() {
        return raise_where(
            l,
            b"math.randomseed can only be called inside a script invocation",
        );
    }
    srand48(ffi::luaL_checkinteger(l, 1) as i32);
    0
}

// ---------------------------------------------------------------------------------------
// Loading and running.

/// Compiles `body` as a chunk named "@user_script" and keeps it in the registry; returns its
/// registry slot (luaL_ref), or on a syntax error Lua's message.
pub unsafe fn compile(l: *mut ffi::lua_State, body: &[u8]) -> Result<c_int, Vec<u8>> {
    if ffi::luaL_loadbuffer(
        l,
        body.as_ptr().cast(),
        body.len(),
        c"@user_script".as_ptr(),
    ) != 0
    {
        let msg = convert::to_bytes(l, -1).to_vec();
        ffi::lua_pop(l, 1);
        return Err(msg);
    }
    Ok(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX))
}

/// Pushes a new array of `items` (luaCreateArray).
pub unsafe fn push_array<'a>(
    l: *mut ffi::lua_State,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    ffi::lua_createtable(l, items.len().min(1 << 20) as c_int, 0);
    for (i, it) in items.enumerate() {
        push_bytes(l, it);
        ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
    }
}

/// Sets the globals KEYS and ARGV (in the real globals table) to arrays of `keys` and `argv`
/// for an EVAL script.
///
/// Redis makes two new tables per run. Here the last run's tables are refilled when they
/// are small and the script left them as they were given (`check_reused_arrays` looks
/// after each run: no key past the array, no hole, no metatable): an EVAL script cannot
/// keep a reference to them from one run to the next (globals are protected and its chunk
/// has no upvalues), so it cannot tell, and each run saves two or three allocations and
/// the garbage they leave. Tables a script changed are dropped and made anew.
pub unsafe fn set_keys_and_argv<'a>(
    l: *mut ffi::lua_State,
    keys: impl ExactSizeIterator<Item = &'a [u8]>,
    argv: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, REAL_G_REF);
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, KEYS_NAME_REF);
    push_reused_array(l, KEYS_TABLE_REF, keys);
    ffi::lua_rawset(l, -3);
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, ARGV_NAME_REF);
    push_reused_array(l, ARGV_TABLE_REF, argv);
    ffi::lua_rawset(l, -3);
    ffi::lua_pop(l, 1);
}

/// Pushes an array of `items`: the table in registry slot `slot` refilled, or a new one
/// (kept in the slot when it is small enough to refill next time).
unsafe fn push_reused_array<'a>(
    l: *mut ffi::lua_State,
    slot: c_int,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    let n = items.len();
    if n > REUSE_MAX {
        push_array(l, items);
        return;
    }
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, slot);
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        // A clean table: exactly 1..prev are set.
        let prev = ffi::lua_objlen(l, -1);
        for (i, it) in items.enumerate() {
            push_bytes(l, it);
            ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
        }
        for i in n + 1..=prev {
            ffi::lua_pushnil(l);
            ffi::lua_rawseti_(l, -2, i as c_int);
        }
        return;
    }
    ffi::lua_pop(l, 1);
    push_array(l, items);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
}

/// After an EVAL run with `nkeys` keys and `nargs` arguments: forgets the KEYS/ARGV table
/// the script was given if it is not exactly as given (1..n set, nothing else, no
/// metatable), so the next run makes a new one.
pub unsafe fn check_reused_arrays(l: *mut ffi::lua_State, nkeys: usize, nargs: usize) {
    for (slot, n) in [(KEYS_TABLE_REF, nkeys), (ARGV_TABLE_REF, nargs)] {
        if n > REUSE_MAX {
            continue; // the run had a table of its own
        }
        ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, slot);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE && !array_is_clean(l, n) {
            ffi::lua_pushboolean(l, 0);
            ffi::lua_rawseti_(l, ffi::LUA_REGISTRYINDEX, slot);
        }
        ffi::lua_pop(l, 1);
    }
}

/// True when the table on the top of the stack has exactly the keys 1..n and no metatable.
unsafe fn array_is_clean(l: *mut ffi::lua_State, n: usize) -> bool {
    if ffi::lua_getmetatable(l, -1) != 0 {
        ffi::lua_pop(l, 1);
        return false;
    }
    for i in 1..=n {
        ffi::lua_rawgeti_(l, -1, i as c_int);
        let hole = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
        ffi::lua_pop(l, 1);
        if hole {
            return false;
        }
    }
    // Nothing after key n (or any key at all when n is 0). Key n exists, so lua_next
    // cannot raise "invalid key to 'next'".
    if n == 0 {
        ffi::lua_pushnil(l);
    } else {
        ffi::lua_pushnumber(l, n as f64);
    }
    if ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 2);
        return false;
    }
    true
}

/// Pushes the error handler and then the function in registry slot `lua_ref`; false
/// (nothing pushed) when there is none.
pub unsafe fn push_function(l: *mut ffi::lua_State, lua_ref: c_int) -> bool {
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, ERRH_REF);
    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, lua_ref);
    if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
        ffi::lua_pop(l, 2);
        return false;
    }
    true
}

/// The count hook: checks for a busy script every 100,000 instructions.
pub unsafe extern "C-unwind" fn count_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let Some(ctx) = run_ctx() else { return };
    if super::script_interrupt(ctx) {
        crate::log_warning!("Lua script killed by user with SCRIPT KILL.");
        // Keep raising at every line, so a pcall in the script cannot swallow the kill.
        ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKLINE, 0);
        raise_table(l, b"Script killed by user with SCRIPT KILL...");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis() {
        // A fresh redis-server answers EVAL "return math.random(1000000)" 0 with 396465,
        // then 840486; after math.randomseed(42), math.random(1000) gives 745 then 343.
        let draw = |n: f64| {
            let r = (i64::from(lrand48()) % i64::from(i32::MAX)) as f64 / f64::from(i32::MAX);
            (r * n).floor() + 1.0
        };
        assert_eq!(draw(1e6), 396465.0);
        assert_eq!(draw(1e6), 840486.0);
        srand48(42);
        assert_eq!(draw(1e3), 745.0);
        assert_eq!(draw(1e3), 343.0);
    }

    #[test]
    fn chunk_ids() {
        assert_eq!(chunk_id(b"\x1bLuaQ\0\x01"), b"[string \"\x1bLuaQ\"]");
        assert_eq!(chunk_id(b"a\nb"), b"[string \"a...\"]");
    }
}
