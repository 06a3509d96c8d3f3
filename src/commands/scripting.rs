//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (eval.c). The
//! interpreter, the cache and the run live in `crate::scripting`.

use super::{Args, Handler};
use crate::scripting;
use crate::server::client::Client;
use crate::server::Server;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("eval", eval_command),
    ("evalsha", evalsha_command),
    ("eval_ro", eval_ro_command),
    ("evalsha_ro", evalsha_ro_command),
    ("script|load", script_load_command),
    ("script|exists", script_exists_command),
    ("script|flush", script_flush_command),
    ("script|kill", script_kill_command),
    ("script|help", script_help_command),
    ("fcall", fcall_command),
    ("fcall_ro", fcall_ro_command),
    ("function|load", scripting::functions::load_command),
    ("function|delete", scripting::functions::delete_command),
    ("function|flush", scripting::functions::flush_command),
    ("function|list", scripting::functions::list_command),
    ("function|dump", scripting::functions::dump_command),
    ("function|restore", scripting::functions::restore_command),
    ("function|stats", scripting::functions::stats_command),
    ("function|kill", function_kill_command),
    ("function|help", function_help_command),
];

fn fcall_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::functions::fcall(srv, c, args, false);
}

fn fcall_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::functions::fcall(srv, c, args, true);
}

fn eval_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::eval(srv, c, args, false, false);
}

fn evalsha_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::eval(srv, c, args, true, false);
}

fn eval_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::eval(srv, c, args, false, true);
}

fn evalsha_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    scripting::eval(srv, c, args, true, true);
}

/// SCRIPT LOAD body: compiles and caches, answers the SHA.
fn script_load_command(srv: &mut Server, c: &mut Client, args: &Args) {
    match scripting::create_function(srv, args.get(2)) {
        Ok(sha) => c.out.bulk(&sha),
        Err(e) => c.out.err(&e),
    }
}

/// SCRIPT EXISTS sha...: 1 or 0 for each (the whole argument must be the SHA).
fn script_exists_command(srv: &mut Server, c: &mut Client, args: &Args) {
    c.out.array(args.len() - 2);
    for a in args.iter_from(2) {
        let found = a.len() == 40 && srv.scripting.cache.contains(a);
        c.out.int(found as i64);
    }
}

/// SCRIPT FLUSH [ASYNC|SYNC]: a new interpreter and an empty cache. Freeing is quick here,
/// so ASYNC and SYNC do the same.
fn script_flush_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 || (args.len() == 3 && !args.is(2, "sync") && !args.is(2, "async")) {
        c.out.err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    srv.scripting.reset();
    c.out.ok();
}

/// SCRIPT KILL: stops the running script, which can only be seen from another client while
/// a script is busy.
fn script_kill_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    kill(srv, c, true);
}

/// FUNCTION KILL: stops the running function.
fn function_kill_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    kill(srv, c, false);
}

/// SCRIPT KILL and FUNCTION KILL (scriptKill): each stops only its own kind of script.
fn kill(srv: &mut Server, c: &mut Client, eval: bool) {
    if !srv.scripting.running {
        c.out.err("NOTBUSY No scripts in execution right now.");
        return;
    }
    if srv.scripting.wrote {
        c.out.err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    let is_function = srv.scripting.function_run.is_some();
    if eval && is_function {
        c.out.err(scripting::BUSY_FUNCTION_ERROR);
        return;
    }
    if !eval && !is_function {
        c.out.err(scripting::BUSY_ERROR);
        return;
    }
    srv.scripting.kill_requested = true;
    c.out.ok();
}

fn function_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    super::connection::reply_help(
        c,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
}

fn script_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    super::connection::reply_help(
        c,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
}
