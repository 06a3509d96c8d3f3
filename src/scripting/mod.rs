//! Lua scripting (eval.c, script.c, script_lua.c): the interpreter, the script cache, and
//! running a script for EVAL/EVALSHA.
//!
//! ```text
//!  EVAL body numkeys k.. a..        commands::scripting
//!        │  sha1(body) ─► cache (cache.rs) ─► compiled chunk "f_<sha>" in the Lua registry
//!        ▼
//!  run_script: KEYS/ARGV, PRNG seed 0, RunCtx in RUN ──► lua_pcall(f, errh)
//!        │                                                 │ redis.call(...)
//!        │                                                 ▼
//!        │                            script_call: checks as scriptCall ─► commands::call
//!        │                            on the script client (a detached Client, db and
//!        │                            RESP of the script) ─► reply bytes ─► Lua (convert.rs)
//!        ▼
//!  result ─► caller's reply (convert.rs); errors as "-ERR ... script: <sha>, on @user_script:N."
//! ```
//!
//! The per-call path is kept free of allocation and of name lookups: EVALSHA's SHA is
//! decoded on the stack and found by its first 8 bytes (cache.rs); the compiled function,
//! the error handler, the real globals and the names KEYS/ARGV sit in registry integer
//! slots (lua.rs); redis.call gathers its arguments straight from the Lua stack into one
//! reusable buffer shaped like a parsed request (`RunCtx::arg_buf`, `arg_ranges`), which the
//! command borrows as it would a query buffer; the script client and its reply buffer are
//! reused from run to run, and the reply is read into Lua without intermediate copies.
//!
//! The script's writes are the commands it called: each is recorded by the propagation
//! layer inside the EVAL's `call` (one execution unit, MULTI/EXEC around several), and EVAL
//! itself is never propagated (Redis 7.0's effects replication).

pub mod bit;
pub mod cache;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod functions;
pub mod lua;
pub mod structlib;

use crate::commands::{meta, Args};
use crate::protocol::parser::Argv;
use crate::server::client::{Client, Sock};
use crate::server::Server;
use mlua::ffi;
use std::cell::Cell;
use std::os::raw::c_int;

/// The reply to commands sent while a script is busy (shared.slowevalerr).
pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// The reply to commands sent while a function is busy (shared.slowscripterr).
pub const BUSY_FUNCTION_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The -BUSY reply for what is running: an EVAL script or a function.
pub fn busy_error(srv: &Server) -> &'static str {
    if srv.scripting.function_run.is_some() {
        BUSY_FUNCTION_ERROR
    } else {
        BUSY_ERROR
    }
}

/// The function FCALL is running (FUNCTION STATS's running_script).
pub struct FunctionRun {
    pub name: Vec<u8>,
    /// The FCALL as the caller sent it.
    pub argv: Vec<Vec<u8>>,
    pub start: std::time::Instant,
}

/// What a run calls.
pub enum Callee<'a> {
    /// An EVAL script (its SHA, and its function's registry slot): KEYS and ARGV are
    /// globals.
    Eval { sha: &'a [u8; 40], lua_ref: c_int },
    /// A function: its callback in the registry gets the keys and the arguments as its two
    /// parameters.
    Function { name: &'a [u8], lua_ref: c_int },
}

/// The scripting state kept in `Server::scripting`.
pub struct Scripting {
    /// The interpreter, created at the first use (null until then and after SCRIPT FLUSH).
    lua: *mut ffi::lua_State,
    /// SHA1 -> script.
    pub cache: cache::ScriptCache,
    /// The client scripts run their commands as (lua_client), out of the client table.
    client: Option<Box<Client>>,
    /// redis.call's argument buffers, kept between runs (lent to `RunCtx` during one).
    arg_buf: Vec<u8>,
    arg_ranges: Argv,
    /// A script is running (for SCRIPT KILL and -BUSY).
    pub running: bool,
    /// SCRIPT KILL asked the running script to stop.
    pub kill_requested: bool,
    /// The running script went past busy-reply-threshold.
    pub timed_out: bool,
    /// The running script has called a write command (SCRIPT KILL then refuses).
    pub wrote: bool,
    /// The busy script's first event pass has read every client (net.rs).
    pub served_while_busy: bool,
    /// INFO: scripts run since start.
    pub evals: u64,
    /// The libraries of FUNCTION LOAD and their interpreter.
    pub functions: functions::Functions,
    /// Set while FCALL runs a function.
    pub function_run: Option<FunctionRun>,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            lua: std::ptr::null_mut(),
            cache: Default::default(),
            client: None,
            arg_buf: Vec::new(),
            arg_ranges: Argv::new(),
            running: false,
            kill_requested: false,
            timed_out: false,
            wrote: false,
            served_while_busy: false,
            evals: 0,
            functions: Default::default(),
            function_run: None,
        }
    }
}

impl Drop for Scripting {
    fn drop(&mut self) {
        self.close();
    }
}

impl Scripting {
    /// The interpreter, created on first use.
    pub fn state(&mut self) -> *mut ffi::lua_State {
        if self.lua.is_null() {
            self.lua = lua::new_state();
        }
        self.lua
    }

    /// Closes the interpreter and forgets every script (scriptingReset).
    pub fn reset(&mut self) {
        self.close();
        self.cache.clear();
    }

    fn close(&mut self) {
        if !self.lua.is_null() {
            // SAFETY: the state is ours and no script is running (SCRIPT FLUSH is refused
            // from scripts).
            unsafe { ffi::lua_close(self.lua) };
            self.lua = std::ptr::null_mut();
        }
    }

    /// Bytes the interpreter holds (INFO used_memory_lua).
    pub fn lua_memory(&self) -> u64 {
        if self.lua.is_null() {
            // An empty interpreter, as Redis reports one before any script.
            return 0;
        }
        // SAFETY: a live state, not inside a call that could be disturbed by a count.
        unsafe {
            let kb = ffi::lua_gc(self.lua, ffi::LUA_GCCOUNT, 0) as u64;
            let b = ffi::lua_gc(self.lua, ffi::LUA_GCCOUNTB, 0) as u64;
            kb * 1024 + b
        }
    }
}

/// What the API functions need while a script runs (scriptRunCtx).
pub struct RunCtx {
    pub srv: *mut Server,
    /// The script client.
    pub client: *mut Client,
    /// EVAL_RO, or a no-writes script: write commands are refused.
    pub read_only: bool,
    /// allow-oom: deny-oom commands run even over maxmemory.
    pub allow_oom: bool,
    /// A write command ran: later ones are no longer refused for the server's state.
    pub write_dirty: bool,
    /// redis.set_repl's targets.
    pub repl_flags: i64,
    /// Set while redis.call runs (no reentry).
    pub in_call: bool,
    /// When the run started (`util::clock`, the cheap cycle clock), for
    /// busy-reply-threshold.
    pub start: u64,
    /// The script's SHA (logs).
    pub sha: [u8; 40],
    /// The function's name when FCALL runs one (logs).
    pub function: Option<Vec<u8>>,
    /// The client that called the script, its command and that command's name: the ACL
    /// checks of redis.call are its user's, and ACL LOG shows it.
    pub caller: *const Client,
    pub caller_args: *const Args<'static>,
    pub caller_name: &'static str,
    /// The caller is our master: its scripts are not checked against the slots.
    pub from_master: bool,
    /// redis.call's arguments: their bytes one after another, and each one's range (the
    /// form of a parsed request), reused by every call of the run.
    pub arg_buf: Vec<u8>,
    pub arg_ranges: Argv,
    /// The caller's ASKING and READONLY.
    pub asking: bool,
    /// ...
    pub readonly: bool,
}

thread_local! {
    /// The running script's context (null when no script runs).
    pub(crate) static RUN: Cell<*mut RunCtx> = const { Cell::new(std::ptr::null_mut()) };
}

/// Finds the command for an argument vector as lookupCommand does (a container with a
/// second argument resolves to the subcommand, which must exist).
pub fn lookup_command(srv: &Server, args: &Args) -> Option<usize> {
    if args.is_empty() {
        return None;
    }
    let idx = srv.commands.lookup(args.get(0))?;
    if srv.commands.cmds[idx].subcommands.is_empty() || args.len() < 2 {
        return Some(idx);
    }
    srv.commands.lookup_sub(idx, args.get(1))
}

/// Runs one command for redis.call (scriptCall): Redis's checks, then the ordinary `call`
/// on the script client. The reply is left in the script client's buffer; an error found
/// before the command runs is returned.
pub fn script_call(ctx: &mut RunCtx, args: &Args) -> Result<(), String> {
    // SAFETY: the server and the script client outlive the script run that set `ctx`; the
    // EVAL handler that owns them does not touch them until the run ends.
    let srv = unsafe { &mut *ctx.srv };
    let client = unsafe { &mut *ctx.client };
    let found = lookup_command(srv, args);
    let count_error = |srv: &mut Server, msg: &str| {
        srv.stats.total_error_replies += 1;
        let code = match msg.strip_prefix('-') {
            Some(m) => m.split(' ').next().unwrap_or("ERR").to_string(),
            None => "ERR".to_string(),
        };
        *srv.stats.errors.entry(code).or_insert(0) += 1;
    };
    let Some(idx) = found else {
        let msg = "Unknown Redis command called from script";
        count_error(srv, msg);
        return Err(msg.into());
    };
    let m = srv.commands.cmds[idx].meta;
    let argc = args.len() as i64;
    let arity = i64::from(m.arity);
    let reject = |srv: &mut Server, msg: String| {
        srv.commands.cmds[idx].stat.rejected_calls += 1;
        count_error(srv, &msg);
        Err(msg)
    };
    if (arity > 0 && arity != argc) || argc < -arity {
        return reject(
            srv,
            "Wrong number of args calling Redis command from script".into(),
        );
    }
    if m.flags & meta::FLAG_NOSCRIPT != 0 {
        return reject(srv, "This Redis command is not allowed from script".into());
    }
    // The caller's user must be allowed this command, its keys and channels
    // (scriptVerifyACL); a denial is logged with context "lua".
    // SAFETY: the caller and its arguments outlive the run (see RunCtx).
    let caller = unsafe { &*ctx.caller };
    if let Some(d) = acl_denied(srv, caller, idx, args) {
        let caller_args = unsafe { &*ctx.caller_args };
        crate::commands::acl::log_denial(
            srv,
            caller,
            d,
            crate::commands::acl::CTX_LUA,
            args,
            m,
            None,
            Some((caller_args, ctx.caller_name)),
        );
        return reject(srv, acl_error(d).into());
    }
    if ctx.read_only && m.flags & (meta::FLAG_WRITE | meta::FLAG_MAY_REPLICATE) != 0 {
        return reject(
            srv,
            "Write commands are not allowed from read-only scripts.".into(),
        );
    }
    // scriptVerifyWriteCommandAllow: the server's state may refuse a script's first write
    // (once it wrote, it runs to its end).
    if m.flags & meta::FLAG_WRITE != 0 && !ctx.write_dirty {
        if srv.config.replica_read_only && srv.repl.is_replica() && !ctx.from_master && !srv.loading
        {
            return reject(
                srv,
                "-READONLY You can't write against a read only replica.".into(),
            );
        }
        if crate::persistence::writes_denied(srv) {
            let e = crate::persistence::writes_denied_error(srv);
            return reject(srv, format!("-{e}"));
        }
        if srv.config.min_replicas_to_write > 0 && !crate::replication::enough_good_replicas(srv) {
            return reject(srv, "-NOREPLICAS Not enough good replicas to write.".into());
        }
    }
    if !ctx.allow_oom
        && !ctx.write_dirty
        && srv.config.maxmemory != 0
        && m.flags & meta::FLAG_DENYOOM != 0
        && crate::server::alloc::used_memory() as u64 > srv.config.maxmemory
    {
        return reject(srv, format!("-{}", crate::evict::OOM_ERROR));
    }
    if m.flags & meta::FLAG_WRITE != 0 {
        ctx.write_dirty = true;
        srv.scripting.wrote = true;
    }
    if srv.cluster.is_some() && !ctx.from_master && !srv.loading {
        client.cluster_asking = ctx.asking;
        client.cluster_readonly = ctx.readonly;
        let argv = args.to_vecs();
        let r = crate::cluster::redirect::check_script_call(srv, client, m, &argv);
        if let Err(e) = r {
            return reject(srv, e);
        }
    }
    client.out.buf.clear();
    // redis.set_repl: only the AOF consumes the stream here (no replicas yet).
    srv.prop.muted = ctx.repl_flags & lua::REPL_AOF == 0;
    crate::commands::call(srv, client, idx, args);
    srv.prop.muted = false;
    Ok(())
}

/// The ACL check of a command a script calls, for the calling client's user.
pub fn acl_denied(
    srv: &Server,
    caller: &Client,
    idx: usize,
    args: &Args,
) -> Option<crate::acl::Denied> {
    let u = srv.acl.user(caller.user);
    if u.unrestricted {
        return None;
    }
    let cmd = &srv.commands.cmds[idx];
    let argv: Vec<&[u8]> = (0..args.len()).map(|i| args.get(i)).collect();
    u.check_id(cmd.acl_id, cmd.meta, &argv).err()
}

/// The error redis.call raises for an ACL denial (scriptVerifyACL's wording).
fn acl_error(d: crate::acl::Denied) -> &'static str {
    use crate::acl::Denied;
    match d {
        Denied::Command => "The user executing the script can't run this command or subcommand",
        Denied::Key(_) => "The user executing the script can't access at least one of the keys mentioned in the command arguments",
        Denied::Channel(_) => "The user executing the script can't publish to the channel mentioned in the command",
        Denied::Auth => "The user executing the script is lacking the permissions for the command",
    }
}

/// Called from the count hook (scriptInterrupt): past busy-reply-threshold the script is
/// timed out, and from then on each hook serves other clients (who get -BUSY, or run
/// SCRIPT KILL / SHUTDOWN NOSAVE). True when the script must stop.
pub fn script_interrupt(ctx: &mut RunCtx) -> bool {
    // SAFETY: as in script_call; the hook never runs inside redis.call (no Lua code runs
    // there).
    let srv = unsafe { &mut *ctx.srv };
    let limit = srv.config.busy_reply_threshold;
    let elapsed =
        (crate::util::clock::elapsed_us(ctx.start, crate::util::clock::now()) / 1000) as i64;
    if limit <= 0 || elapsed < limit {
        return false;
    }
    if !srv.scripting.timed_out {
        srv.scripting.timed_out = true;
        let (kill, name) = match &ctx.function {
            Some(f) => ("FUNCTION KILL", String::from_utf8_lossy(f)),
            None => ("SCRIPT KILL", String::from_utf8_lossy(&ctx.sha)),
        };
        crate::log_warning!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
            elapsed,
            kill,
            name
        );
    }
    crate::server::net::process_events_while_blocked(srv);
    srv.scripting.kill_requested || srv.shutdown_asap
}

/// A fresh script client (createClient(NULL) with CLIENT_SCRIPT | CLIENT_DENY_BLOCKING).
fn new_script_client() -> Box<Client> {
    let mut c = Client::new(
        0,
        usize::MAX,
        Sock::Detached(Vec::new()),
        "lua".into(),
        String::new(),
        -1,
    );
    c.authenticated = true;
    c.deny_blocking = true;
    Box::new(c)
}

/// Compiles and caches `body` (luaCreateFunction) unless its SHA is cached. Returns the SHA,
/// or the error reply's text.
pub fn create_function(srv: &mut Server, body: &[u8]) -> Result<[u8; 40], String> {
    let sha = cache::sha1hex(body);
    if srv.scripting.cache.contains(&sha) {
        return Ok(sha);
    }
    let (flags, shebang_len) = cache::parse_shebang(body).map_err(|e| format!("ERR {e}"))?;
    let l = srv.scripting.state();
    // SAFETY: the interpreter is idle (no script runs while a command compiles one).
    let lua_ref = unsafe { lua::compile(l, &body[shebang_len..]) }.map_err(|msg| {
        format!(
            "ERR Error compiling script (new function): {}",
            String::from_utf8_lossy(convert::trim_crlf(&msg))
        )
    })?;
    srv.scripting.cache.add(sha, body, flags, lua_ref);
    Ok(sha)
}

/// The flags an EVAL/EVALSHA call has for processCommand's gates (evalGetCommandFlags): a
/// script with a shebang replaces EVAL's write, deny-oom, stale and may-replicate flags
/// with what its flags say; a script without one (or not cached, for EVALSHA) keeps them.
pub fn command_flags(srv: &Server, args: &Args, cmd_flags: u64) -> u64 {
    let evalsha = args.get(0).len() >= 7 && args.get(0)[..7].eq_ignore_ascii_case(b"evalsha");
    let fcall = args.get(0).len() >= 5 && args.get(0)[..5].eq_ignore_ascii_case(b"fcall");
    let body = args.get(1);
    let script_flags = if fcall {
        // fcallGetCommandFlags: an unknown function keeps FCALL's own flags.
        match srv.scripting.functions.get(body) {
            Some(f) => f.flags,
            None => return cmd_flags,
        }
    } else if evalsha {
        match srv.scripting.cache.get(body).filter(|_| body.len() == 40) {
            Some(s) => s.flags,
            None => return cmd_flags,
        }
    } else {
        match srv.scripting.cache.get(&cache::sha1hex(body)) {
            Some(s) => s.flags,
            None => match cache::parse_shebang(body) {
                Ok((f, _)) => f,
                Err(_) => return cmd_flags,
            },
        }
    };
    if script_flags & cache::FLAG_EVAL_COMPAT != 0 {
        return cmd_flags;
    }
    let mut f = cmd_flags
        & !(meta::FLAG_STALE | meta::FLAG_DENYOOM | meta::FLAG_WRITE | meta::FLAG_MAY_REPLICATE);
    if script_flags & (cache::FLAG_ALLOW_OOM | cache::FLAG_NO_WRITES) == 0 {
        f |= meta::FLAG_DENYOOM;
    }
    if script_flags & cache::FLAG_NO_WRITES == 0 {
        f |= meta::FLAG_WRITE;
    }
    if script_flags & cache::FLAG_ALLOW_STALE != 0 {
        f |= meta::FLAG_STALE;
    }
    f
}

/// EVAL, EVALSHA and their _RO forms (evalGenericCommand).
pub fn eval(srv: &mut Server, c: &mut Client, args: &Args, evalsha: bool, ro: bool) {
    // MONITOR shows the script before the commands it calls (those show as "lua").
    if !srv.monitors.is_empty() {
        crate::commands::introspection::feed_monitors(srv, c, args);
    }
    // A SHA of the wrong length can match nothing: NOSCRIPT before anything else
    // (evalShaCommand).
    if evalsha && args.get(1).len() != 40 {
        c.out.err("NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    let Some(numkeys) = crate::util::num::parse_i64(args.get(2)) else {
        c.out.err("ERR value is not an integer or out of range");
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
    let found = if evalsha {
        srv.scripting.cache.get(args.get(1))
    } else {
        match create_function(srv, args.get(1)) {
            Ok(sha) => srv.scripting.cache.get(&sha),
            Err(e) => {
                c.out.err(&e);
                return;
            }
        }
    };
    let Some(script) = found else {
        c.out.err("NOSCRIPT No matching script. Please use EVAL.");
        return;
    };
    let (sha, flags, lua_ref) = (script.hex, script.flags, script.lua_ref);
    if let Err(e) = prepare_checks(srv, flags, ro) {
        c.out.err(&e);
        return;
    }
    let name = match (evalsha, ro) {
        (false, false) => "eval",
        (false, true) => "eval_ro",
        (true, false) => "evalsha",
        (true, true) => "evalsha_ro",
    };
    let l = srv.scripting.state();
    let callee = Callee::Eval { sha: &sha, lua_ref };
    run_script(srv, c, args, name, l, callee, flags, ro, numkeys as usize);
}

/// The checks of scriptPrepareForRun that apply to a standalone server without replicas.
pub(crate) fn prepare_checks(srv: &mut Server, flags: u64, ro: bool) -> Result<(), String> {
    if flags & cache::FLAG_EVAL_COMPAT != 0 {
        return Ok(());
    }
    if flags & cache::FLAG_NO_WRITES == 0 {
        if crate::persistence::writes_denied(srv) {
            return Err(format!(
                "{} Writable scripts are blocked. Use 'no-writes' flag for read only scripts.",
                crate::persistence::writes_denied_error(srv)
            ));
        }
        if ro {
            return Err("ERR Can not execute a script with write flag using *_ro command.".into());
        }
    }
    if srv.config.maxmemory != 0
        && flags & (cache::FLAG_ALLOW_OOM | cache::FLAG_NO_WRITES) == 0
        && crate::server::alloc::used_memory() as u64 > srv.config.maxmemory
    {
        return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    Ok(())
}

/// Runs a compiled script or function in interpreter `l` for client `c` and writes its
/// result (luaCallFunction). `caller_args` is the EVAL/FCALL (named `caller_name`): its
/// keys are the `numkeys` arguments from the fourth, then come the script's arguments.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_script(
    srv: &mut Server,
    c: &mut Client,
    caller_args: &Args,
    caller_name: &'static str,
    l: *mut ffi::lua_State,
    callee: Callee,
    flags: u64,
    ro: bool,
    numkeys: usize,
) {
    let keys = (3..3 + numkeys).map(|i| caller_args.get(i));
    let argv = (3 + numkeys..caller_args.len()).map(|i| caller_args.get(i));
    let (sha, function) = match &callee {
        Callee::Eval { sha, .. } => (**sha, None),
        Callee::Function { name, .. } => ([0u8; 40], Some(name.to_vec())),
    };
    let mut client = srv
        .scripting
        .client
        .take()
        .unwrap_or_else(new_script_client);
    client.db = c.db;
    client.out.resp3 = false;
    client.out.buf.clear();
    let compat = flags & cache::FLAG_EVAL_COMPAT != 0;
    let mut ctx = RunCtx {
        srv: srv as *mut Server,
        client: &mut *client as *mut Client,
        read_only: ro || (!compat && flags & cache::FLAG_NO_WRITES != 0),
        allow_oom: !compat && flags & cache::FLAG_ALLOW_OOM != 0,
        write_dirty: false,
        repl_flags: lua::REPL_AOF | lua::REPL_REPLICA,
        in_call: false,
        start: crate::util::clock::now(),
        sha,
        function,
        caller: c as *const Client,
        caller_args: (caller_args as *const Args).cast(),
        caller_name,
        from_master: c.master_link,
        arg_buf: std::mem::take(&mut srv.scripting.arg_buf),
        arg_ranges: std::mem::take(&mut srv.scripting.arg_ranges),
        asking: c.cluster_asking,
        readonly: c.cluster_readonly,
    };
    srv.scripting.running = true;
    srv.scripting.kill_requested = false;
    srv.scripting.timed_out = false;
    srv.scripting.wrote = false;
    srv.scripting.evals += 1;
    // The script's writes travel as its effects; EVAL itself never does.
    srv.prevent_propagation();
    let hook = srv.config.busy_reply_threshold > 0;
    // SAFETY: the interpreter is idle; RUN points at `ctx` exactly while lua_pcall runs, and
    // the server is reached only through `ctx.srv` meanwhile.
    unsafe {
        let (pushed, nargs, handler_at) = match callee {
            Callee::Eval { lua_ref, .. } => {
                lua::set_keys_and_argv(l, keys, argv);
                (lua::push_function(l, lua_ref), 0, -2)
            }
            Callee::Function { lua_ref, .. } => {
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, lua::ERRH_REF);
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, lua_ref);
                lua::push_array(l, keys);
                lua::push_array(l, argv);
                (true, 2, -4)
            }
        };
        debug_assert!(pushed, "cached script is compiled");
        if !pushed {
            c.out.err("ERR script is missing from the interpreter");
        } else {
            if hook {
                ffi::lua_sethook(l, Some(lua::count_hook), ffi::LUA_MASKCOUNT, 100_000);
            }
            RUN.with(|r| r.set(&mut ctx));
            let status = ffi::lua_pcall(l, nargs, 1, handler_at);
            RUN.with(|r| r.set(std::ptr::null_mut()));
            if hook {
                ffi::lua_sethook(l, None, 0, 0);
            }
            let script_resp3 = client.out.resp3;
            if status != 0 {
                match &ctx.function {
                    Some(name) => reply_script_error(l, c, name, name),
                    None => {
                        let mut f_sha = b"f_".to_vec();
                        f_sha.extend_from_slice(&sha);
                        reply_script_error(l, c, &f_sha, &sha)
                    }
                }
            } else {
                convert::lua_to_reply(l, &mut c.out, script_resp3);
            }
            ffi::lua_pop(l, 1); // the error handler
            if matches!(callee, Callee::Eval { .. }) {
                lua::check_reused_arrays(l, numkeys, caller_args.len() - 3 - numkeys);
            }
        }
    }
    client.out.buf.clear();
    srv.scripting.client = Some(client);
    srv.scripting.arg_buf = std::mem::take(&mut ctx.arg_buf);
    srv.scripting.arg_ranges = std::mem::take(&mut ctx.arg_ranges);
    srv.scripting.running = false;
    srv.scripting.timed_out = false;
    srv.scripting.kill_requested = false;
    srv.scripting.wrote = false;
    srv.scripting.served_while_busy = false;
}

/// The error reply of a failed script: the message, then where it was raised. `plain` names
/// the script in a message that is not an error table, `name` in one that is.
unsafe fn reply_script_error(l: *mut ffi::lua_State, c: &mut Client, plain: &[u8], name: &[u8]) {
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        let msg = if ffi::lua_isstring(l, -1) != 0 {
            convert::to_bytes(l, -1).to_vec()
        } else {
            b"execution failure".to_vec()
        };
        let msg = &msg[..msg.len().min(100)];
        c.out.err(&format!(
            "ERR Error running script {}, {}",
            String::from_utf8_lossy(plain),
            String::from_utf8_lossy(convert::trim_crlf(msg))
        ));
    } else {
        let e = convert::error_info(l);
        let mut msg = b"-".to_vec();
        msg.extend_from_slice(&e.msg);
        if let (Some(line), Some(source)) = (&e.line, &e.source) {
            msg.extend_from_slice(b" script: ");
            msg.extend_from_slice(name);
            msg.extend_from_slice(b", on ");
            msg.extend_from_slice(source);
            msg.push(b':');
            msg.extend_from_slice(line);
            msg.push(b'.');
        }
        convert::reply_error(&mut c.out, &msg, !e.ignore_stats);
    }
    ffi::lua_pop(l, 1);
}
