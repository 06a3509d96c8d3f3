//! Redis 7.0 functions (functions.c, function_lua.c): libraries of named Lua functions loaded
//! with FUNCTION LOAD, called with FCALL/FCALL_RO, kept in the RDB, the AOF and DUMP payloads.
//!
//! ```text
//!  Functions
//!  +---------------------------------------------------------------------------+
//!  | lua:       its own interpreter (not EVAL's), created at first use          |
//!  | libraries: "mylib" -> Library { code: "#!lua name=mylib\n...",             |
//!  |                                 functions: [Function { name, desc, flags,  |
//!  |                                                        lua_ref }, ...] }    |
//!  | by_name:   "myfunc" (lower case) -> ("mylib", index in its functions)      |
//!  | peak:      most functions held since the last flush (dict slots, INFO)     |
//!  +---------------------------------------------------------------------------+
//! ```
//!
//! Function names are found in any letter case (Redis's function dict is case-insensitive);
//! library names are exact. Each function's callback lives in the Lua registry under its
//! `lua_ref`, unreferenced when its library goes.
//!
//! The two environments. Every chunk of the functions interpreter sees one globals table `NG`,
//! an empty read-only proxy whose `__index` is switched:
//!
//! ```text
//!  while FUNCTION LOAD runs the library body     while FCALL runs a callback
//!  NG --__index--> LOAD_G { redis = {            NG --__index--> the protected globals of
//!                    register_function, log,                     EVAL's world (string, math,
//!                    LOG_*, REDIS_VERSION(_NUM)}}                redis.call, ...) without KEYS
//!                  any other name: "Script attempted             and ARGV
//!                  to access nonexistent global variable"
//! ```
//!
//! The callbacks are closures made while the body ran, so their environment is `NG` too and
//! they see the runtime world when they are called. The body runs under a count hook that
//! stops it after 500 ms ("FUNCTION LOAD timeout"), and with no error handler: a failure
//! becomes "Error registering functions: ...".

use super::{convert, lua};
use crate::commands::Args;
use crate::server::client::Client;
use crate::server::Server;
use mlua::ffi;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::os::raw::c_int;

/// Registry keys of the functions interpreter.
const LOAD_G_KEY: &std::ffi::CStr = c"ferrodis.functions.load_G";
const RUN_G_KEY: &std::ffi::CStr = c"ferrodis.functions.run_G";

/// How long a library body may run at FUNCTION LOAD (LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT_MS: u128 = 500;

/// The one engine.
pub const ENGINE: &str = "LUA";

/// The error for names that are not `[A-Za-z0-9_]+` (Redis uses the library wording for
/// function names too).
const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// The RDB opcodes of a library (rdb.h).
use crate::persistence::rdb::{OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA};

/// One registered function.
pub struct Function {
    pub name: Vec<u8>,
    pub desc: Option<Vec<u8>>,
    /// Script flags (cache::FLAG_*).
    pub flags: u64,
    /// The callback in the Lua registry.
    pub lua_ref: c_int,
}

/// One library: its whole code (shebang included, as loaded) and its functions in
/// registration order.
pub struct Library {
    pub name: Vec<u8>,
    pub code: Vec<u8>,
    pub functions: Vec<Function>,
}

/// Every loaded library (functionsLibCtx) and the interpreter they live in.
pub struct Functions {
    lua: *mut ffi::lua_State,
    pub libraries: BTreeMap<Vec<u8>, Library>,
    /// Lower-case function name -> (library, index).
    by_name: HashMap<Vec<u8>, (Vec<u8>, usize)>,
    /// The most functions held since the last flush: Redis's function dict keeps its
    /// buckets when entries leave (used_memory_functions counts them).
    peak: usize,
}

impl Default for Functions {
    fn default() -> Self {
        Functions {
            lua: std::ptr::null_mut(),
            libraries: BTreeMap::new(),
            by_name: HashMap::new(),
            peak: 0,
        }
    }
}

impl Drop for Functions {
    fn drop(&mut self) {
        if !self.lua.is_null() {
            // SAFETY: our own idle interpreter.
            unsafe { ffi::lua_close(self.lua) };
        }
    }
}

/// What `redis.register_function` collects while a library body runs (loadCtx).
struct LoadCtx {
    start: std::time::Instant,
    functions: Vec<Function>,
}

thread_local! {
    /// The library being loaded (null outside FUNCTION LOAD's run of a body).
    static LOADING: Cell<*mut LoadCtx> = const { Cell::new(std::ptr::null_mut()) };
}

impl Functions {
    /// The interpreter, created on first use.
    pub fn state(&mut self) -> *mut ffi::lua_State {
        if self.lua.is_null() {
            let l = lua::new_state();
            // SAFETY: a fresh idle state.
            unsafe { setup_environments(l) };
            self.lua = l;
        }
        self.lua
    }

    /// Number of functions (INFO number_of_functions).
    pub fn count(&self) -> usize {
        self.by_name.len()
    }

    /// Finds a function by name in any letter case.
    pub fn get(&self, name: &[u8]) -> Option<&Function> {
        let (lib, i) = self.by_name.get(&name.to_ascii_lowercase())?;
        self.libraries.get(lib).map(|l| &l.functions[*i])
    }

    /// Bytes the interpreter holds, in whole KiB as Redis counts them (luaMemory).
    pub fn vm_memory(&self) -> u64 {
        if self.lua.is_null() {
            return 0;
        }
        // SAFETY: a live idle state.
        unsafe { ffi::lua_gc(self.lua, ffi::LUA_GCCOUNT, 0) as u64 * 1024 }
    }

    /// INFO used_memory_functions (functionsMemoryOverhead): what Redis's structures take
    /// under jemalloc: the engine (200 bytes with an empty function dict), the function
    /// dict's entries and buckets, and per library and function their structs and strings.
    pub fn overhead(&self) -> u64 {
        let mut total = 200;
        if self.peak > 0 {
            let slots = self.peak.next_power_of_two().max(4);
            total += self.by_name.len() * 24 + slots * 8;
        }
        for lib in self.libraries.values() {
            total += 32 + sds_size(lib.name.len()) + sds_size(lib.code.len());
            for f in &lib.functions {
                total += 48 + sds_size(f.name.len()) + 8;
                if let Some(d) = &f.desc {
                    total += sds_size(d.len());
                }
            }
        }
        total as u64
    }

    /// Adds a compiled library (libraryLink).
    fn link(&mut self, lib: Library) {
        for (i, f) in lib.functions.iter().enumerate() {
            self.by_name
                .entry(f.name.to_ascii_lowercase())
                .or_insert_with(|| (lib.name.clone(), i));
        }
        self.peak = self.peak.max(self.by_name.len());
        self.libraries.insert(lib.name.clone(), lib);
    }

    /// Takes a library out, keeping its functions' callbacks (libraryUnlink).
    fn unlink(&mut self, name: &[u8]) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            let key = f.name.to_ascii_lowercase();
            if self.by_name.get(&key).is_some_and(|(l, _)| *l == lib.name) {
                self.by_name.remove(&key);
            }
        }
        Some(lib)
    }

    /// Frees a library's callbacks.
    fn free(&mut self, lib: Library) {
        if self.lua.is_null() {
            return;
        }
        for f in lib.functions {
            // SAFETY: an idle state; the reference is ours.
            unsafe { ffi::luaL_unref(self.lua, ffi::LUA_REGISTRYINDEX, f.lua_ref) };
        }
    }

    /// Deletes every library (FUNCTION FLUSH, functionsLibCtxClear).
    pub fn clear(&mut self) {
        let libs = std::mem::take(&mut self.libraries);
        for (_, lib) in libs {
            self.free(lib);
        }
        self.by_name.clear();
        self.peak = 0;
    }

    /// Compiles `code` and adds its library (functionsCreateWithLibraryCtx); with `replace`
    /// a library of the same name gives way. Returns the library's name or the error text.
    pub fn create(&mut self, code: &[u8], replace: bool) -> Result<Vec<u8>, String> {
        let (engine, name, body_at) = parse_metadata(code)?;
        if !valid_name(&name) {
            return Err(BAD_NAME.into());
        }
        if !engine.eq_ignore_ascii_case(ENGINE.as_bytes()) {
            return Err(format!(
                "Engine '{}' not found",
                String::from_utf8_lossy(&engine)
            ));
        }
        let old = match self.libraries.contains_key(&name) {
            true if !replace => {
                return Err(format!(
                    "Library '{}' already exists",
                    String::from_utf8_lossy(&name)
                ))
            }
            true => self.unlink(&name),
            false => None,
        };
        let res = self.compile(&code[body_at..]).and_then(|functions| {
            if functions.is_empty() {
                self.free_functions(functions);
                return Err("No functions registered".to_string());
            }
            if let Some(f) = functions
                .iter()
                .find(|f| self.by_name.contains_key(&f.name.to_ascii_lowercase()))
            {
                let msg = format!(
                    "Function {} already exists",
                    String::from_utf8_lossy(&f.name)
                );
                self.free_functions(functions);
                return Err(msg);
            }
            Ok(functions)
        });
        match res {
            Ok(functions) => {
                if let Some(old) = old {
                    self.free(old);
                }
                self.link(Library {
                    name: name.clone(),
                    code: code.to_vec(),
                    functions,
                });
                Ok(name)
            }
            Err(e) => {
                if let Some(old) = old {
                    self.link(old);
                }
                Err(e)
            }
        }
    }

    fn free_functions(&mut self, functions: Vec<Function>) {
        for f in functions {
            // SAFETY: an idle state; the reference is ours.
            unsafe { ffi::luaL_unref(self.lua, ffi::LUA_REGISTRYINDEX, f.lua_ref) };
        }
    }

    /// Runs a library body in the load environment (luaEngineCreate); returns the functions
    /// it registered.
    fn compile(&mut self, body: &[u8]) -> Result<Vec<Function>, String> {
        let l = self.state();
        let mut ctx = LoadCtx {
            start: std::time::Instant::now(),
            functions: Vec::new(),
        };
        // SAFETY: the interpreter is idle; LOADING points at `ctx` exactly while the body
        // runs.
        let res = unsafe {
            if ffi::luaL_loadbuffer(
                l,
                body.as_ptr().cast(),
                body.len(),
                c"@user_function".as_ptr(),
            ) != 0
            {
                let msg = convert::to_bytes(l, -1).to_vec();
                ffi::lua_pop(l, 1);
                return Err(format!(
                    "Error compiling function: {}",
                    String::from_utf8_lossy(&msg)
                ));
            }
            switch_env(l, LOAD_G_KEY);
            LOADING.with(|c| c.set(&mut ctx));
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, 100_000);
            let status = ffi::lua_pcall(l, 0, 0, 0);
            ffi::lua_sethook(l, None, 0, 0);
            LOADING.with(|c| c.set(std::ptr::null_mut()));
            switch_env(l, RUN_G_KEY);
            if status != 0 {
                let msg = error_message(l);
                ffi::lua_pop(l, 1);
                Err(format!(
                    "Error registering functions: {}",
                    String::from_utf8_lossy(&msg)
                ))
            } else {
                Ok(())
            }
        };
        match res {
            Ok(()) => Ok(ctx.functions),
            Err(e) => {
                self.free_functions(std::mem::take(&mut ctx.functions));
                Err(e)
            }
        }
    }

    /// Every library's code, for the RDB, DUMP and the AOF rewrite.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }
}

/// jemalloc's size class for a request of `n` bytes (what zmalloc_size reports).
fn malloc_size(n: usize) -> usize {
    match n {
        0..=8 => 8,
        9..=128 => (n + 15) & !15,
        _ => {
            let k = usize::BITS - 1 - (n - 1).leading_zeros();
            let step = 1usize << (k - 2);
            (n + step - 1) & !(step - 1)
        }
    }
}

/// The allocation of an sds of `len` bytes made by sdsnewlen (header by length, NUL).
fn sds_size(len: usize) -> usize {
    let hdr = match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    };
    malloc_size(hdr + len + 1)
}

/// `[A-Za-z0-9_]+` (functionsVerifyName).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses the `#!<engine> name=<lib>` line (functionExtractLibMetaData): the engine, the
/// name, and where the body starts (at the newline, so line numbers count the shebang).
fn parse_metadata(code: &[u8]) -> Result<(Vec<u8>, Vec<u8>, usize), String> {
    // The C code reads the payload as a C string.
    let cstr = &code[..code.iter().position(|&b| b == 0).unwrap_or(code.len())];
    if !cstr.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(nl) = cstr.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = match crate::util::splitargs::split_args(&cstr[..nl]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            // sdsrange on a C string: the name ends at a NUL.
            let v = &part[5..];
            name = Some(v[..v.iter().position(|&b| b == 0).unwrap_or(v.len())].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine, name, nl))
}

// ---------------------------------------------------------------------------------------
// The interpreter's two environments.

/// Builds the load environment and wraps the globals in the switchable `NG` (see the file
/// comment). Called once on a fresh state, whose globals are the protected proxy.
unsafe fn setup_environments(l: *mut ffi::lua_State) {
    // The load-time `redis`: register_function, log and the version, nothing else.
    ffi::lua_newtable(l);
    lua::set_fn(l, c"register_function", register_function);
    lua::set_fn(l, c"log", lua::redis_log);
    lua::set_num(l, c"LOG_DEBUG", 0.0);
    lua::set_num(l, c"LOG_VERBOSE", 1.0);
    lua::set_num(l, c"LOG_NOTICE", 2.0);
    lua::set_num(l, c"LOG_WARNING", 3.0);
    lua::set_num(l, c"REDIS_VERSION_NUM", lua::VERSION_NUM);
    lua::push_bytes(l, crate::server::REDIS_VERSION.as_bytes());
    ffi::lua_setfield(l, -2, c"REDIS_VERSION".as_ptr());
    set_error_metatable(l);
    lua::make_proxy(l);
    // The load-time globals: only `redis`.
    ffi::lua_newtable(l);
    ffi::lua_insert(l, -2);
    ffi::lua_setfield(l, -2, c"redis".as_ptr());
    set_error_metatable(l);
    lua::make_proxy(l);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, LOAD_G_KEY.as_ptr());
    // The runtime world: the protected globals as new_state left them.
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, RUN_G_KEY.as_ptr());
    // NG: a read-only proxy whose __index is switched between the two.
    ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
    lua::make_proxy(l);
    ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
}

/// Gives the table on the top of the stack a metatable whose __index raises the
/// nonexistent-global error (luaSetErrorMetatable).
unsafe fn set_error_metatable(l: *mut ffi::lua_State) {
    ffi::lua_newtable(l);
    lua::set_fn(l, c"__index", lua::nonexistent_global);
    ffi::lua_setmetatable(l, -2);
}

/// Points NG's __index at the environment stored under `key`.
unsafe fn switch_env(l: *mut ffi::lua_State, key: &std::ffi::CStr) {
    if ffi::lua_getmetatable(l, ffi::LUA_GLOBALSINDEX) == 0 {
        return;
    }
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_setfield(l, -2, c"__index".as_ptr());
    ffi::lua_pop(l, 1);
}

/// The message of a failed body (luaExtractErrorInformation without a handler): a string
/// gets the ERR code, an error table gives its `err`.
unsafe fn error_message(l: *mut ffi::lua_State) -> Vec<u8> {
    if ffi::lua_isstring(l, -1) != 0 {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(convert::to_bytes(l, -1));
        return m;
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        ffi::lua_getfield(l, -1, c"err".as_ptr());
        let m = if ffi::lua_isstring(l, -1) != 0 {
            convert::to_bytes(l, -1).to_vec()
        } else {
            Vec::new()
        };
        ffi::lua_pop(l, 1);
        return m;
    }
    Vec::new()
}

/// The load hook (luaEngineLoadHook): past 500 ms the body is stopped, and keeps being
/// stopped at every line so a pcall cannot swallow it.
unsafe extern "C-unwind" fn load_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let p = LOADING.with(|c| c.get());
    let Some(ctx) = p.as_ref() else { return };
    if ctx.start.elapsed().as_millis() > LOAD_TIMEOUT_MS {
        ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
        lua::raise_table(l, b"FUNCTION LOAD timeout");
    }
}

/// What redis.register_function was given, or the error to raise.
type Registration = Result<Function, &'static str>;

/// redis.register_function(name, callback) or redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...} (luaRegisterFunction).
unsafe extern "C-unwind" fn register_function(l: *mut ffi::lua_State) -> c_int {
    let p = LOADING.with(|c| c.get());
    let Some(ctx) = p.as_mut() else {
        return lua::raise_table(
            l,
            b"redis.register_function can only be called on FUNCTION LOAD command",
        );
    };
    let err: &'static str = match read_registration(l) {
        Ok(f) => {
            if !valid_name(&f.name) {
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.lua_ref);
                drop(f);
                BAD_NAME
            } else if ctx.functions.iter().any(|g| g.name == f.name) {
                ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, f.lua_ref);
                drop(f);
                "Function already exists in the library"
            } else {
                ctx.functions.push(f);
                return 0;
            }
        }
        Err(e) => e,
    };
    lua::raise_table(l, err.as_bytes())
}

/// The string at `idx` if Lua sees one there (numbers too), else None (luaGetStringSds).
unsafe fn string_at(l: *mut ffi::lua_State, idx: c_int) -> Option<Vec<u8>> {
    (ffi::lua_isstring(l, idx) != 0).then(|| convert::to_bytes(l, idx).to_vec())
}

unsafe fn read_registration(l: *mut ffi::lua_State) -> Registration {
    match ffi::lua_gettop(l) {
        1 => read_named(l),
        2 => {
            let Some(name) = string_at(l, 1) else {
                return Err("first argument to redis.register_function must be a string");
            };
            if ffi::lua_type(l, 2) != ffi::LUA_TFUNCTION {
                return Err("second argument to redis.register_function must be a function");
            }
            let lua_ref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
            Ok(Function {
                name,
                desc: None,
                flags: 0,
                lua_ref,
            })
        }
        _ => Err("wrong number of arguments to redis.register_function"),
    }
}

/// The named form: a table of function_name, callback, flags, description.
unsafe fn read_named(l: *mut ffi::lua_State) -> Registration {
    if ffi::lua_type(l, 1) != ffi::LUA_TTABLE {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    let mut name = None;
    let mut desc = None;
    let mut callback: Option<c_int> = None;
    let mut flags = 0u64;
    let fail = |l: *mut ffi::lua_State, cb: Option<c_int>, e: &'static str| -> Registration {
        if let Some(r) = cb {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
        }
        Err(e)
    };
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, 1) != 0 {
        // table, key, value
        if ffi::lua_isstring(l, -2) == 0 {
            return fail(
                l,
                callback,
                "named argument key given to redis.register_function is not a string",
            );
        }
        // A copy of the key, so lua_next still sees the original.
        ffi::lua_pushvalue(l, -2);
        let key = convert::to_bytes(l, -1).to_ascii_lowercase();
        ffi::lua_pop(l, 1);
        match &key[..] {
            b"function_name" => {
                match string_at(l, -1) {
                    Some(n) => name = Some(n),
                    None => return fail(
                        l,
                        callback,
                        "function_name argument given to redis.register_function must be a string",
                    ),
                }
            }
            b"description" => {
                match string_at(l, -1) {
                    Some(d) => desc = Some(d),
                    None => return fail(
                        l,
                        callback,
                        "description argument given to redis.register_function must be a string",
                    ),
                }
            }
            b"callback" => {
                if ffi::lua_type(l, -1) != ffi::LUA_TFUNCTION {
                    return fail(
                        l,
                        callback,
                        "callback argument given to redis.register_function must be a function",
                    );
                }
                if let Some(r) = callback {
                    ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
                }
                callback = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
                continue; // luaL_ref popped the value
            }
            b"flags" => {
                if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
                    return fail(
                        l,
                        callback,
                        "flags argument to redis.register_function must be a table representing function flags",
                    );
                }
                match read_flags(l) {
                    Some(f) => flags = f,
                    None => return fail(l, callback, "unknown flag given"),
                }
            }
            _ => {
                return fail(
                    l,
                    callback,
                    "unknown argument given to redis.register_function",
                )
            }
        }
        ffi::lua_pop(l, 1);
    }
    let Some(name) = name else {
        return fail(
            l,
            callback,
            "redis.register_function must get a function name argument",
        );
    };
    let Some(lua_ref) = callback else {
        return Err("redis.register_function must get a callback argument");
    };
    Ok(Function {
        name,
        desc,
        flags,
        lua_ref,
    })
}

/// The flags table on the top of the stack: strings naming script flags, in any case.
unsafe fn read_flags(l: *mut ffi::lua_State) -> Option<u64> {
    let mut flags = 0;
    let mut j = 1;
    loop {
        ffi::lua_rawgeti(l, -1, j.into());
        j += 1;
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            return Some(flags);
        }
        let found = (ffi::lua_isstring(l, -1) != 0)
            .then(|| super::cache::flag_by_name(convert::to_bytes(l, -1)))
            .flatten();
        ffi::lua_pop(l, 1);
        flags |= found?;
    }
}

// ---------------------------------------------------------------------------------------
// Payloads: the RDB's function records and FUNCTION DUMP / RESTORE.

/// Appends each library as RDB_OPCODE_FUNCTION2 and its code (rdbSaveFunctions).
pub fn save_functions(out: &mut Vec<u8>, codes: &[Vec<u8>], compress: bool) {
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        crate::persistence::rdb::save_string(out, code, compress);
    }
}

/// FUNCTION DUMP's payload: the records, the RDB version, the CRC-64.
pub fn dump_payload(f: &Functions, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    save_functions(&mut out, &f.codes(), compress);
    out.extend_from_slice(&crate::persistence::rdb::RDB_VERSION.to_le_bytes());
    let crc = crate::persistence::rdb::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// How FUNCTION RESTORE treats the libraries already loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// FUNCTION RESTORE (functionRestoreCommand): the payload's libraries, compiled apart, then
/// joined to the loaded ones as the policy says. All or nothing.
pub fn restore(f: &mut Functions, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
    if crate::persistence::rdb::verify_dump_payload(payload, false).is_none() {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    let body = &payload[..payload.len() - 10];
    let mut r = crate::persistence::rdb::Reader::new(body);
    let mut codes = Vec::new();
    while r.remaining() > 0 {
        match r.u8() {
            Err(_) => return Err("can not read data type".into()),
            Ok(OPCODE_FUNCTION_PRE_GA) => return Err("Pre-GA function format not supported".into()),
            Ok(OPCODE_FUNCTION2) => {}
            Ok(_) => return Err("given type is not a function".into()),
        }
        match r.bytes() {
            Ok(code) => codes.push(code.into_owned()),
            Err(_) => return Err("failed loading the given functions payload".into()),
        }
    }
    // Compile into a side context first (functionsLibCtxCreate + rdbFunctionLoad).
    let mut staged: Vec<Library> = Vec::new();
    let saved_libs = std::mem::take(&mut f.libraries);
    let saved_names = std::mem::take(&mut f.by_name);
    let saved_peak = f.peak;
    f.peak = 0;
    let mut err = None;
    for code in &codes {
        if let Err(e) = f.create(code, false) {
            err = Some(e);
            break;
        }
    }
    let side = std::mem::take(&mut f.libraries);
    f.by_name.clear();
    f.libraries = saved_libs;
    f.by_name = saved_names;
    let side_peak = f.peak;
    f.peak = saved_peak;
    staged.extend(side.into_values());
    if let Some(e) = err {
        for lib in staged {
            f.free(lib);
        }
        return Err(e);
    }
    if policy == RestorePolicy::Flush {
        f.clear();
        for lib in staged {
            f.link(lib);
        }
        f.peak = side_peak.max(f.by_name.len());
        return Ok(());
    }
    // libraryJoin: replaced libraries step aside, then no function may collide.
    let mut replaced = Vec::new();
    for lib in &staged {
        if f.libraries.contains_key(&lib.name) {
            if policy == RestorePolicy::Append {
                let e = format!(
                    "Library {} already exists",
                    String::from_utf8_lossy(&lib.name)
                );
                for old in replaced {
                    f.link(old);
                }
                for lib in staged {
                    f.free(lib);
                }
                return Err(e);
            }
            replaced.extend(f.unlink(&lib.name));
        }
    }
    let clash = staged
        .iter()
        .flat_map(|l| l.functions.iter())
        .find(|g| f.by_name.contains_key(&g.name.to_ascii_lowercase()))
        .map(|g| {
            format!(
                "Function {} already exists",
                String::from_utf8_lossy(&g.name)
            )
        });
    if let Some(e) = clash {
        for old in replaced {
            f.link(old);
        }
        for lib in staged {
            f.free(lib);
        }
        return Err(e);
    }
    for old in replaced {
        f.free(old);
    }
    for lib in staged {
        f.link(lib);
    }
    Ok(())
}

/// Loads the libraries an RDB carried (rdbFunctionLoad at load time); with `replace` a
/// library already loaded gives way (DEBUG RELOAD), else it is an error.
pub fn load_from_rdb(srv: &mut Server, codes: Vec<Vec<u8>>, replace: bool) -> Result<(), String> {
    for code in codes {
        srv.scripting.functions.create(&code, replace)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The commands.

/// FUNCTION LOAD [REPLACE] code.
pub fn load_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        let a = args.get(pos);
        pos += 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
            continue;
        }
        c.out.err(&format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(a)
        ));
        return;
    }
    if pos >= args.len() {
        c.out.err("ERR Function code is missing");
        return;
    }
    match srv.scripting.functions.create(args.get(pos), replace) {
        Ok(name) => {
            srv.dirty += 1;
            c.out.bulk(&name);
        }
        Err(e) => c.out.err(&format!("ERR {e}")),
    }
}

/// FUNCTION DELETE library.
pub fn delete_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let f = &mut srv.scripting.functions;
    match f.unlink(args.get(2)) {
        None => c.out.err("ERR Library not found"),
        Some(lib) => {
            f.free(lib);
            srv.dirty += 1;
            c.out.ok();
        }
    }
}

/// FUNCTION FLUSH [ASYNC|SYNC].
pub fn flush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        crate::commands::connection::subcommand_syntax_error(c, args);
        return;
    }
    if args.len() == 3 && !args.is(2, "sync") && !args.is(2, "async") {
        c.out
            .err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    srv.scripting.functions.clear();
    srv.dirty += 1;
    c.out.ok();
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
pub fn list_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i >= args.len() - 1 {
                c.out.err("ERR library name argument was not given");
                return;
            }
            pattern = Some(args.get(i + 1));
            i += 2;
            continue;
        }
        c.out.err(&format!(
            "ERR Unknown argument {}",
            String::from_utf8_lossy(a)
        ));
        return;
    }
    let libs: Vec<&Library> = srv
        .scripting
        .functions
        .libraries
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::util::glob::glob_match(p, &l.name, true)))
        .collect();
    c.out.array(libs.len());
    for lib in libs {
        c.out.map(if with_code { 4 } else { 3 });
        c.out.bulk(b"library_name");
        c.out.bulk(&lib.name);
        c.out.bulk(b"engine");
        c.out.bulk(ENGINE.as_bytes());
        c.out.bulk(b"functions");
        c.out.array(lib.functions.len());
        for f in &lib.functions {
            c.out.map(3);
            c.out.bulk(b"name");
            c.out.bulk(&f.name);
            c.out.bulk(b"description");
            match &f.desc {
                Some(d) => c.out.bulk(d),
                None => c.out.null(),
            }
            c.out.bulk(b"flags");
            let names = super::cache::flag_names(f.flags);
            c.out.set(names.len());
            for n in names {
                c.out.simple(n);
            }
        }
        if with_code {
            c.out.bulk(b"library_code");
            c.out.bulk(&lib.code);
        }
    }
}

/// FUNCTION DUMP.
pub fn dump_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let p = dump_payload(&srv.scripting.functions, srv.config.rdbcompression);
    c.out.bulk(&p);
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
pub fn restore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 4 {
        crate::commands::connection::subcommand_syntax_error(c, args);
        return;
    }
    let policy = if args.len() == 4 {
        if args.is(3, "append") {
            RestorePolicy::Append
        } else if args.is(3, "replace") {
            RestorePolicy::Replace
        } else if args.is(3, "flush") {
            RestorePolicy::Flush
        } else {
            c.out.err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
            return;
        }
    } else {
        RestorePolicy::Append
    };
    match restore(&mut srv.scripting.functions, args.get(2), policy) {
        Ok(()) => {
            srv.dirty += 1;
            c.out.ok();
        }
        Err(e) => c.out.err(&format!("ERR {e}")),
    }
}

/// FUNCTION STATS: the running function (if any) and the engine's counts.
pub fn stats_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let s = &srv.scripting;
    if s.running && s.function_run.is_none() {
        c.out.err(super::BUSY_ERROR);
        return;
    }
    c.out.map(2);
    c.out.bulk(b"running_script");
    match &s.function_run {
        None => c.out.null(),
        Some(run) => {
            c.out.map(3);
            c.out.bulk(b"name");
            c.out.bulk(&run.name);
            c.out.bulk(b"command");
            c.out.array(run.argv.len());
            for a in &run.argv {
                c.out.bulk(a);
            }
            c.out.bulk(b"duration_ms");
            c.out.int(run.start.elapsed().as_millis() as i64);
        }
    }
    c.out.bulk(b"engines");
    c.out.map(1);
    c.out.bulk(ENGINE.as_bytes());
    c.out.map(2);
    c.out.bulk(b"libraries_count");
    c.out.int(s.functions.libraries.len() as i64);
    c.out.bulk(b"functions_count");
    c.out.int(s.functions.count() as i64);
}

/// FCALL / FCALL_RO function numkeys key... arg... (fcallCommandGeneric).
pub fn fcall(srv: &mut Server, c: &mut Client, args: &Args, ro: bool) {
    if !srv.monitors.is_empty() {
        crate::commands::introspection::feed_monitors(srv, c, args);
    }
    let Some(f) = srv.scripting.functions.get(args.get(1)) else {
        c.out.err("ERR Function not found");
        return;
    };
    let (lua_ref, flags, name) = (f.lua_ref, f.flags, f.name.clone());
    let Some(numkeys) = crate::util::num::parse_i64(args.get(2)) else {
        c.out.err("ERR Bad number of keys provided");
        return;
    };
    if numkeys > args.len() as i64 - 3 {
        c.out
            .err("ERR Number of keys can't be greater than number of args");
        return;
    } else if numkeys < 0 {
        c.out.err("ERR Number of keys can't be negative");
        return;
    }
    if let Err(e) = super::prepare_checks(srv, flags, ro) {
        c.out.err(&e);
        return;
    }
    let numkeys = numkeys as usize;
    srv.scripting.function_run = Some(super::FunctionRun {
        name: name.clone(),
        argv: args.to_vecs(),
        start: std::time::Instant::now(),
    });
    let l = srv.scripting.functions.state();
    super::run_script(
        srv,
        c,
        args,
        if ro { "fcall_ro" } else { "fcall" },
        l,
        super::Callee::Function {
            name: &name,
            lua_ref,
        },
        flags,
        ro,
        numkeys,
    );
    srv.scripting.function_run = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata(b"#!lua name=x\nbody").unwrap(),
            (b"lua".to_vec(), b"x".to_vec(), 12)
        );
        assert_eq!(
            parse_metadata(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua name=x").unwrap_err(),
            "Invalid library metadata"
        );
        assert_eq!(
            parse_metadata(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        assert_eq!(
            parse_metadata(b"#!lua NAME=a name=b\n").unwrap_err(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            parse_metadata(b"#!lua x=1\n").unwrap_err(),
            "Invalid metadata value given: x=1"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(malloc_size(7), 8);
        assert_eq!(malloc_size(24), 32);
        assert_eq!(malloc_size(129), 160);
        assert_eq!(malloc_size(300), 320);
        assert_eq!(sds_size(5), 8);
        assert_eq!(sds_size(81), 96);
    }

    #[test]
    fn names() {
        assert!(valid_name(b"a_B9"));
        assert!(!valid_name(b""));
        assert!(!valid_name(b"a-b"));
    }
}
