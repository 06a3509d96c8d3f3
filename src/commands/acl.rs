//! The ACL command family and the glue between the ACL model (crate::acl) and the server:
//! the permission gate of dispatch, ACL LOG entries, authentication, and disconnecting the
//! clients of users that are deleted or lose channels (acl.c's aclCommand, authCommand,
//! ACLAuthenticateUser, addACLLogEntry, ACLFreeUserAndKillClients, ACLKillPubsubClientsIfNeeded).

use super::connection::{client_info_string, reply_help, subcommand_syntax_error, Running};
use super::meta::{self, CommandMeta};
use super::Args;
use crate::acl::{self, Denied, LogEntry, User, DEFAULT_USER};
use crate::server::client::Client;
use crate::server::Server;
use crate::util::num::parse_i64;

/// Command table entries of this group.
pub static HANDLERS: &[(&str, super::Handler)] = &[
    ("acl|setuser", setuser_command),
    ("acl|getuser", getuser_command),
    ("acl|deluser", deluser_command),
    ("acl|users", users_command),
    ("acl|list", list_command),
    ("acl|whoami", whoami_command),
    ("acl|cat", cat_command),
    ("acl|genpass", genpass_command),
    ("acl|log", log_command),
    ("acl|dryrun", dryrun_command),
    ("acl|load", load_command),
    ("acl|save", save_command),
    ("acl|help", help_command),
];

/// Where a denial happened (ACL_LOG_CTX_*).
pub const CTX_TOPLEVEL: &str = "toplevel";
/// Inside MULTI, or when EXEC runs the queue.
pub const CTX_MULTI: &str = "multi";
/// A script's redis.call.
pub const CTX_LUA: &str = "lua";

// ---------------------------------------------------------------------------------------------
// The gate

/// The ACL check of processCommand: None when the client's user may run this call. An
/// unrestricted user (the default user, normally) costs one load and one test.
#[inline]
pub fn check(srv: &Server, c: &Client, idx: usize, args: &Args) -> Option<Denied> {
    let u = srv.acl.user(c.user);
    if u.unrestricted {
        return None;
    }
    check_slow(u, &srv.commands.cmds[idx], args)
}

#[cold]
fn check_slow(u: &User, cmd: &super::Command, args: &Args) -> Option<Denied> {
    let argv: Vec<&[u8]> = args.iter_from(0).collect();
    u.check_id(cmd.acl_id, cmd.meta, &argv).err()
}

/// The NOPERM error of a denied command (processCommand's wording).
pub fn denied_error(d: Denied, m: &CommandMeta) -> String {
    match d {
        Denied::Command => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            m.name
        ),
        Denied::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string()
        }
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .to_string()
        }
        Denied::Auth => "NOPERM no permission".to_string(),
    }
}

/// The reason EXEC gives when a queued command is no longer allowed.
pub fn exec_denied_error(d: Denied) -> String {
    let reason = match d {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key(_) => "no permission to touch the specified keys",
        Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        Denied::Auth => "no permission",
    };
    format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
}

/// Adds an ACL LOG entry for a denial (addACLLogEntry). `user` overrides the client's user
/// name (a failed AUTH logs the name it tried); `running` is the command the client is
/// executing when it is not the denied one (the EXEC running a queued command, the EVAL or
/// FCALL whose script called it) with its name, as the client-info shows it.
#[allow(clippy::too_many_arguments)]
pub fn log_denial(
    srv: &mut Server,
    c: &Client,
    d: Denied,
    context: &'static str,
    args: &Args,
    m: &CommandMeta,
    user: Option<&[u8]>,
    running: Option<(&Args, &str)>,
) {
    let object = match d {
        Denied::Command => m.name.as_bytes().to_vec(),
        Denied::Key(i) | Denied::Channel(i) => args.get(i).to_vec(),
        Denied::Auth => args.get(0).to_vec(),
    };
    let username = match user {
        Some(u) => u.to_vec(),
        None => srv.acl.user(c.user).name.clone(),
    };
    // The command's time, as Redis stamps entries with its cached clock: denials of one
    // batch share a time.
    let now = srv.cmd_time_ms;
    let running = match running {
        Some((e, name)) => Running { args: e, name },
        None => Running { args, name: m.name },
    };
    let entry = LogEntry {
        count: 1,
        reason: d.reason(),
        context,
        object,
        username,
        ctime_ms: now,
        client_info: client_info_string(c, now, Some(&running)),
    };
    let max = usize::try_from(srv.config.acllog_max_len).unwrap_or(usize::MAX);
    srv.acl.log_push(entry, max);
}

/// True when argument `i` of a call is a secret that SLOWLOG and MONITOR show as "(redacted)"
/// (redactClientCommandArgument): AUTH's arguments, HELLO's AUTH user and password, every
/// argument of ACL SETUSER after the subcommand, and CONFIG SET values of sensitive
/// parameters.
pub fn is_redacted(args: &Args, i: usize) -> bool {
    if i == 0 {
        return false;
    }
    if args.is(0, "auth") {
        return true;
    }
    if args.is(0, "acl") {
        return i >= 2 && args.is(1, "setuser");
    }
    if args.is(0, "config") {
        return i >= 3
            && i % 2 == 1
            && args.is(1, "set")
            && crate::config::Config::is_sensitive(&args.get(i - 1).to_ascii_lowercase());
    }
    if args.is(0, "migrate") {
        // MIGRATE ... [AUTH pass | AUTH2 user pass]: the options as migrateCommand walks them.
        let mut j = 6;
        while j < args.len() {
            let more = args.len() - 1 - j;
            if args.is(j, "auth") && more >= 1 {
                if i == j + 1 {
                    return true;
                }
                j += 2;
            } else if args.is(j, "auth2") && more >= 2 {
                if i == j + 1 || i == j + 2 {
                    return true;
                }
                j += 3;
            } else if args.is(j, "copy") || args.is(j, "replace") {
                j += 1;
            } else {
                break;
            }
        }
        return false;
    }
    if args.is(0, "hello") {
        // HELLO protover [AUTH user pass] [SETNAME name]: walk the options as HELLO does.
        let mut j = 2;
        while j < args.len() {
            let more = args.len() - j - 1;
            if args.is(j, "auth") && more >= 2 {
                if i == j + 1 || i == j + 2 {
                    return true;
                }
                j += 3;
            } else if args.is(j, "setname") && more >= 1 {
                j += 2;
            } else {
                break;
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// Checks `user`/`pass` and on success makes the client that user (ACLAuthenticateUser); a
/// failure is logged. The caller replies.
pub fn authenticate(
    srv: &mut Server,
    c: &mut Client,
    user: &[u8],
    pass: &[u8],
    args: &Args,
    m: &CommandMeta,
) -> bool {
    if let Some(slot) = srv.acl.find(user) {
        if srv.acl.user(slot).check_password(pass) {
            c.authenticated = true;
            let name = srv.acl.user(slot).name.clone();
            c.set_user(slot, &name);
            return true;
        }
    }
    let ctx = if c.multi.is_some() {
        CTX_MULTI
    } else {
        CTX_TOPLEVEL
    };
    log_denial(srv, c, Denied::Auth, ctx, args, m, Some(user), None);
    false
}

// ---------------------------------------------------------------------------------------------
// Disconnecting clients

/// Disconnects every client authenticated as the user in `slot` (deleted or replaced), moving
/// them to the default user unauthenticated first (ACLFreeUserAndKillClients). The running
/// client is closed after its reply.
fn kill_clients_of(srv: &mut Server, c: &mut Client, slots: &[usize]) {
    let mut victims = Vec::new();
    for (_, slot) in srv.clients.iter_mut() {
        if let Some(cl) = slot.as_deref_mut() {
            if slots.contains(&cl.user) {
                cl.set_user(DEFAULT_USER, b"default");
                cl.authenticated = false;
                if !cl.close_asap {
                    cl.close_asap = true;
                    victims.push(cl.token);
                }
            }
        }
    }
    srv.pending_close.extend(victims);
    if slots.contains(&c.user) {
        c.set_user(DEFAULT_USER, b"default");
        c.authenticated = false;
        c.close_after_reply = true;
    }
}

/// True when a subscribed client holds a channel or pattern the new channel list no longer
/// allows.
fn loses_channels(cl: &Client, upcoming: &[&[u8]]) -> bool {
    let Some(s) = cl.subs.as_deref() else {
        return false;
    };
    s.patterns
        .iter()
        .any(|p| !acl::channel_in(upcoming, p, true))
        || s.channels
            .iter()
            .chain(s.shard.iter())
            .any(|ch| !acl::channel_in(upcoming, ch, false))
}

/// ACLKillPubsubClientsIfNeeded: when the new rules of the user in `slot` drop channels the
/// old ones allowed, its subscribed clients holding such a channel are disconnected.
fn kill_pubsub_clients_if_needed(srv: &mut Server, c: &mut Client, slot: usize, new: &User) {
    let old = srv.acl.user(slot);
    let Some(upcoming) = new.revoked_channels(old) else {
        return;
    };
    let mut victims = Vec::new();
    for (_, s) in srv.clients.iter_mut() {
        if let Some(cl) = s.as_deref_mut() {
            if cl.user == slot && cl.in_pubsub() && loses_channels(cl, &upcoming) && !cl.close_asap
            {
                cl.close_asap = true;
                victims.push(cl.token);
            }
        }
    }
    srv.pending_close.extend(victims);
    if c.user == slot && c.in_pubsub() && loses_channels(c, &upcoming) {
        c.close_after_reply = true;
    }
}

// ---------------------------------------------------------------------------------------------
// ACL subcommands

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// ACL SETUSER name rule...: every rule is tried on a copy; the user changes only if all apply.
fn setuser_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let name = args.get(2);
    if acl::has_spaces(name) {
        return c
            .out
            .err("ERR Usernames can't contain spaces or null characters");
    }
    let rules: Vec<&[u8]> = args.iter_from(3).collect();
    let merged = match acl::merge_selector_args(&rules) {
        Ok(m) => m,
        Err(i) => {
            return c.out.err(&format!(
                "ERR Unmatched parenthesis in acl selector starting at '{}'.",
                lossy(rules[i])
            ))
        }
    };
    let pubsub_default = srv.config.acl_pubsub_default();
    let existing = srv.acl.find(name);
    let mut u = match existing {
        Some(slot) => srv.acl.user(slot).clone(),
        None => User::new(name, pubsub_default),
    };
    for r in &merged {
        if let Err(e) = u.apply(r, pubsub_default) {
            return c.out.err(&format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                lossy(r),
                e.text()
            ));
        }
    }
    if let Some(slot) = existing {
        kill_pubsub_clients_if_needed(srv, c, slot, &u);
    }
    srv.acl.put(u);
    c.out.ok();
}

fn getuser_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(slot) = srv.acl.find(args.get(2)) else {
        return c.out.null();
    };
    let u = srv.acl.user(slot);
    let flags = u.flag_names();
    let sels = u.selector_descriptions();
    c.out.map(6);
    c.out.bulk(b"flags");
    c.out.set(flags.len());
    for f in flags {
        c.out.bulk(f.as_bytes());
    }
    c.out.bulk(b"passwords");
    c.out.array(u.passwords().len());
    for p in u.passwords() {
        c.out.bulk(p.as_bytes());
    }
    let describe = |c: &mut Client, d: &[Vec<u8>; 3]| {
        for (name, v) in ["commands", "keys", "channels"].iter().zip(d) {
            c.out.bulk(name.as_bytes());
            c.out.bulk(v);
        }
    };
    describe(c, &sels[0]);
    c.out.bulk(b"selectors");
    c.out.array(sels.len() - 1);
    for d in &sels[1..] {
        c.out.map(3);
        describe(c, d);
    }
}

fn deluser_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.iter_from(2).any(|n| n == b"default") {
        return c.out.err("ERR The 'default' user cannot be removed");
    }
    let mut deleted = 0;
    for name in args.iter_from(2) {
        if let Some(slot) = srv.acl.remove(name) {
            kill_clients_of(srv, c, &[slot]);
            deleted += 1;
        }
    }
    c.out.int(deleted);
}

fn users_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.array(srv.acl.len());
    for (_, u) in srv.acl.iter() {
        c.out.bulk(&u.name);
    }
}

fn list_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.array(srv.acl.len());
    for (_, u) in srv.acl.iter() {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(&u.name);
        line.push(b' ');
        line.extend_from_slice(&u.describe());
        c.out.bulk(&line);
    }
}

fn whoami_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let name = srv.acl.user(c.user).name.clone();
    c.out.bulk(&name);
}

fn cat_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    match args.len() {
        2 => {
            c.out.array(meta::ACL_CATEGORIES.len());
            for (name, _) in meta::ACL_CATEGORIES {
                c.out.bulk(name.as_bytes());
            }
        }
        3 => match acl::category_commands(args.get(2)) {
            Some(names) => {
                c.out.array(names.len());
                for n in names {
                    c.out.bulk(n.as_bytes());
                }
            }
            None => {
                let cat: String = lossy(args.get(2)).chars().take(128).collect();
                c.out.err(&format!("ERR Unknown category '{cat}'"))
            }
        },
        _ => subcommand_syntax_error(c, args),
    }
}

/// The most bits ACL GENPASS gives (GENPASS_MAX_BITS).
const GENPASS_MAX_BITS: i64 = 4096;

fn genpass_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(c, args);
    }
    let mut bits = 256;
    if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(b) => bits = b,
            None => return c.out.err("ERR value is not an integer or out of range"),
        }
    }
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return c.out.err(&format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut raw = vec![0u8; chars.div_ceil(2)];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut raw);
    }
    for b in raw.iter_mut() {
        *b ^= crate::util::rand::next_u64() as u8;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> = raw
        .iter()
        .flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
        .take(chars)
        .collect();
    c.out.bulk(&hex);
}

fn log_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(c, args);
    }
    let mut count: i64 = 10;
    if args.len() == 3 {
        if args.is(2, "reset") {
            srv.acl.log.clear();
            return c.out.ok();
        }
        match parse_i64(args.get(2)) {
            Some(n) => count = n.max(0),
            None => return c.out.err("ERR value is not an integer or out of range"),
        }
    }
    let n = (count as usize).min(srv.acl.log.len());
    let now = srv.cmd_time_ms;
    c.out.array(n);
    for e in srv.acl.log.iter().take(n) {
        c.out.map(7);
        c.out.bulk(b"count");
        c.out.int(e.count as i64);
        c.out.bulk(b"reason");
        c.out.bulk(e.reason.as_bytes());
        c.out.bulk(b"context");
        c.out.bulk(e.context.as_bytes());
        c.out.bulk(b"object");
        c.out.bulk(&e.object);
        c.out.bulk(b"username");
        c.out.bulk(&e.username);
        c.out.bulk(b"age-seconds");
        c.out.double((now - e.ctime_ms) as f64 / 1000.0);
        c.out.bulk(b"client-info");
        c.out.bulk(e.client_info.as_bytes());
    }
}

fn dryrun_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(slot) = srv.acl.find(args.get(2)) else {
        return c
            .out
            .err(&format!("ERR User '{}' not found", lossy(args.get(2))));
    };
    // lookupCommand over the call: a container takes its subcommand.
    let found = meta::lookup(args.get(3)).and_then(|m| {
        if !m.subcommands.is_empty() && args.len() > 4 {
            meta::lookup_sub(m, args.get(4))
        } else {
            Some(m)
        }
    });
    let Some(m) = found else {
        return c
            .out
            .err(&format!("ERR Command '{}' not found", lossy(args.get(3))));
    };
    let argv: Vec<&[u8]> = args.iter_from(3).collect();
    if !m.arity_ok(argv.len()) {
        return c.out.err(&format!(
            "ERR wrong number of arguments for '{}' command",
            m.name
        ));
    }
    match srv.acl.user(slot).check(m, &argv) {
        Ok(()) => c.out.ok(),
        Err(d) => {
            let msg = match d {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    m.name
                ),
                Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    lossy(argv[i])
                ),
                Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    lossy(argv[i])
                ),
                Denied::Auth => "no permission".to_string(),
            };
            c.out.bulk(msg.as_bytes());
        }
    }
}

/// C's strerror text of an I/O error.
fn strerror(e: &std::io::Error) -> String {
    let Some(errno) = e.raw_os_error() else {
        return e.to_string();
    };
    // SAFETY: strerror returns a pointer to a NUL-terminated static (or thread-local) string.
    unsafe {
        let p = libc::strerror(errno);
        if p.is_null() {
            return format!("Unknown error {errno}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Reads and parses the ACL file (ACLLoadFromFile's reading half).
pub fn read_acl_file(path: &str, pubsub_default: u8) -> Result<Vec<User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            strerror(&e)
        )
    })?;
    acl::parse_file(&text, path, pubsub_default)
}

/// ACL LOAD: the file replaces every user; the clients of the old users (all but the default
/// user, which keeps its identity) are disconnected.
fn load_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let path = String::from_utf8_lossy(&srv.config.aclfile()).into_owned();
    if path.is_empty() {
        return c.out.err(NO_ACL_FILE);
    }
    let pubsub_default = srv.config.acl_pubsub_default();
    match read_acl_file(&path, pubsub_default) {
        Ok(users) => {
            let old = srv.acl.replace_all(users, pubsub_default);
            kill_clients_of(srv, c, &old);
            c.out.ok();
        }
        Err(e) => c.out.err(&format!("ERR {e}")),
    }
}

/// Writes the ACL file through a temporary file and a rename (ACLSaveToFile).
pub fn save_acl_file(srv: &Server, path: &str) -> std::io::Result<()> {
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::util::mstime() as i32
    );
    let r = std::fs::write(&tmp, srv.acl.file_text()).and_then(|_| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

fn save_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let path = String::from_utf8_lossy(&srv.config.aclfile()).into_owned();
    if path.is_empty() {
        return c.out.err(NO_ACL_FILE);
    }
    match save_acl_file(srv, &path) {
        Ok(()) => c.out.ok(),
        Err(e) => {
            crate::log_warning!("Writing ACL file for ACL SAVE: {}", e);
            c.out.err("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
        }
    }
}

fn help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
}

/// ACLLoadUsersAtStartup: the `user` directives of redis.conf, or the ACL file (not both).
/// On error, what to log before exiting.
pub fn load_users_at_startup(srv: &mut Server) -> Result<(), String> {
    let aclfile = String::from_utf8_lossy(&srv.config.aclfile()).into_owned();
    let pubsub_default = srv.config.acl_pubsub_default();
    if !aclfile.is_empty() && !srv.config.users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".to_string());
    }
    for def in srv.config.users.clone() {
        let name = &def[0];
        if acl::has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".to_string());
        }
        let mut u = match srv.acl.find(name) {
            Some(slot) if name == b"default" => {
                let mut u = srv.acl.user(slot).clone();
                let _ = u.apply(b"reset", pubsub_default);
                u
            }
            _ => User::new(name, pubsub_default),
        };
        let rules: Vec<&[u8]> = def[1..].iter().map(|r| r.as_slice()).collect();
        let merged = acl::merge_selector_args(&rules).unwrap_or_default();
        for r in merged {
            if let Err(e) = u.apply(&r, pubsub_default) {
                crate::log_warning!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    lossy(&r),
                    lossy(name),
                    e.text()
                );
                return Err("Critical error while loading ACLs. Exiting.".to_string());
            }
        }
        if !u.enabled() {
            crate::log_notice!("The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.", lossy(name));
        }
        srv.acl.put(u);
    }
    if !aclfile.is_empty() {
        let users = read_acl_file(&aclfile, pubsub_default)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        srv.acl.replace_all(users, pubsub_default);
    }
    Ok(())
}
