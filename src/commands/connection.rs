//! Connection commands: PING ECHO QUIT SELECT SWAPDB HELLO AUTH RESET and the CLIENT family
//! (networking.c's clientCommand, server.c's ping/echo/hello/reset, acl.c's AUTH, db.c's
//! SELECT/SWAPDB).
//!
//! Authentication follows Redis 7.0 with only the `default` user: `requirepass` is its password,
//! and when no password is set the user is "nopass", so any password for `default` is accepted.
//!
//! CLIENT LIST lines are formatted here (`client_info_string`) rather than by
//! `Client::info_line`, because the running client's own line needs the command being executed
//! (its query bytes, argv-mem and cmd= fields), which only the handler knows.

use super::{Args, Handler};
use crate::server::client::{Client, ReplyMode};
use crate::server::{Server, REDIS_VERSION};
use crate::util::num::parse_i64;
use std::fmt::Write as _;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping_command),
    ("echo", echo_command),
    ("quit", quit_command),
    ("select", select_command),
    ("swapdb", swapdb_command),
    ("hello", hello_command),
    ("auth", auth_command),
    ("reset", reset_command),
    ("client|id", client_id_command),
    ("client|setname", client_setname_command),
    ("client|getname", client_getname_command),
    ("client|list", client_list_command),
    ("client|info", client_info_command),
    ("client|kill", client_kill_command),
    ("client|reply", client_reply_command),
    ("client|no-evict", client_no_evict_command),
    ("client|pause", client_pause_command),
    ("client|unpause", client_unpause_command),
    ("client|help", client_help_command),
    ("client|tracking", client_tracking_command),
    ("client|caching", client_caching_command),
    ("client|getredir", client_getredir_command),
    ("client|trackinginfo", client_trackinginfo_command),
];

/// The WRONGPASS error every failed authentication gets (addAuthErrReply).
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn ping_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    // A RESP2 connection in Pub/Sub mode gets ["pong", arg or ""], so a client reading only
    // message arrays can parse it.
    if c.in_pubsub() && !c.out.resp3 && args.len() <= 2 {
        c.out.array(2);
        c.out.bulk(b"pong");
        c.out.bulk(if args.len() == 2 { args.get(1) } else { b"" });
        return;
    }
    match args.len() {
        1 => c.out.raw(b"+PONG\r\n"),
        2 => c.out.bulk(args.get(1)),
        _ => c
            .out
            .err("ERR wrong number of arguments for 'ping' command"),
    }
}

fn echo_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    c.out.bulk(args.get(1));
}

/// QUIT: +OK, then the connection closes once the reply is written. Redis 7.0 accepts any
/// arguments and needs no authentication (the table marks it no-auth, arity -1).
fn quit_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.ok();
    c.close_after_reply = true;
}

/// Parses a database index the way SELECT/MOVE/COPY do (getIntFromObjectOrReply, then
/// selectDb's range check); replies with Redis's error on failure.
pub fn parse_db_index(srv: &Server, c: &mut Client, arg: &[u8]) -> Option<usize> {
    let Some(id) = parse_i64(arg) else {
        c.out.err("ERR value is not an integer or out of range");
        return None;
    };
    if id < i32::MIN as i64 || id > i32::MAX as i64 {
        c.out
            .err("ERR value is out of range, value must between -2147483648 and 2147483647");
        return None;
    }
    if id < 0 || id as usize >= srv.dbs.len() {
        c.out.err("ERR DB index is out of range");
        return None;
    }
    Some(id as usize)
}

fn select_command(srv: &mut Server, c: &mut Client, args: &Args) {
    // In cluster mode only db 0 exists for clients; the index is parsed first.
    if srv.cluster.is_some() {
        let id = parse_i64(args.get(1));
        if id.is_some_and(|id| id != 0 && id >= i32::MIN as i64 && id <= i32::MAX as i64) {
            return c.out.err("ERR SELECT is not allowed in cluster mode");
        }
    }
    if let Some(id) = parse_db_index(srv, c, args.get(1)) {
        c.db = id;
        c.out.ok();
    }
}

/// SWAPDB a b: exchanges the contents of two databases. Clients keep their db index, so a
/// client on db `a` sees `b`'s keys afterwards (dbSwapDatabases swaps dict, expires, avg_ttl
/// and the expire cursor, not the db identity).
fn swapdb_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if srv.cluster.is_some() {
        return c.out.err("ERR SWAPDB is not allowed in cluster mode");
    }
    let parse =
        |arg: &[u8]| parse_i64(arg).filter(|&v| v >= i32::MIN as i64 && v <= i32::MAX as i64);
    let Some(a) = parse(args.get(1)) else {
        return c.out.err("ERR invalid first DB index");
    };
    let Some(b) = parse(args.get(2)) else {
        return c.out.err("ERR invalid second DB index");
    };
    let n = srv.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return c.out.err("ERR DB index is out of range");
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        // WATCHed keys that exist in either db are invalidated (touchAllWatchedKeysInDb).
        srv.touch_watched_keys_on_swap(a, b);
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = srv.dbs.split_at_mut(hi);
        let (x, y) = (&mut left[lo], &mut right[0]);
        std::mem::swap(&mut x.dict, &mut y.dict);
        std::mem::swap(&mut x.expires, &mut y.expires);
        std::mem::swap(&mut x.avg_ttl, &mut y.avg_ttl);
        std::mem::swap(&mut x.expires_cursor, &mut y.expires_cursor);
        // Clients blocked in either db may now find their keys.
        srv.signal_keys_after_swap(a, b);
    }
    srv.dirty += 1;
    c.out.ok();
}

/// Client names may not contain spaces, newlines or other special characters (bytes outside
/// '!'..='~', which also rejects every non-ASCII byte as Redis's signed-char check does).
pub fn validate_client_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

/// Sets (or with an empty name, clears) the connection name; replies on an invalid name.
fn set_client_name(c: &mut Client, name: &[u8]) -> bool {
    if let Err(e) = validate_client_name(name) {
        c.out.err(e);
        return false;
    }
    c.name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    true
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]: switches protocol and answers the server
/// description map. Options are checked before anything changes; AUTH happens before SETNAME.
fn hello_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut ver = 0;
    let mut i = 1;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            Some(v) => ver = v,
            None => {
                return c
                    .out
                    .err("ERR Protocol version is not an integer or out of range")
            }
        }
        i = 2;
        if !(2..=3).contains(&ver) {
            return c.out.err("NOPROTO unsupported protocol version");
        }
    }
    let mut setname: Option<&[u8]> = None;
    let mut auth: Option<(&[u8], &[u8])> = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if args.is(i, "auth") && more >= 2 {
            auth = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if args.is(i, "setname") && more >= 1 {
            setname = Some(args.get(i + 1));
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(args.get(i)).into_owned();
            return c
                .out
                .err(&format!("ERR Syntax error in HELLO option '{opt}'"));
        }
    }
    if let Some((user, pass)) = auth {
        let m = super::meta::lookup(b"hello").expect("hello");
        if !super::acl::authenticate(srv, c, user, pass, args, m) {
            return c.out.err(WRONGPASS);
        }
    }
    if srv.auth_required(c) {
        return c.out.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        if !set_client_name(c, name) {
            return;
        }
    }
    if ver != 0 {
        c.out.resp3 = ver == 3;
    }
    c.out.map(7);
    c.out.bulk(b"server");
    c.out.bulk(b"redis");
    c.out.bulk(b"version");
    c.out.bulk(REDIS_VERSION.as_bytes());
    c.out.bulk(b"proto");
    c.out.int(c.resp() as i64);
    c.out.bulk(b"id");
    c.out.int(c.id as i64);
    c.out.bulk(b"mode");
    c.out.bulk(if srv.cluster.is_some() {
        b"cluster" as &[u8]
    } else {
        b"standalone"
    });
    c.out.bulk(b"role");
    c.out.bulk(b"master");
    c.out.bulk(b"modules");
    c.out.array(0);
}

/// AUTH [username] password. The one-argument form is an error when no password is configured
/// (Redis keeps that pre-ACL behaviour to flag misconfigured clients). A failed AUTH leaves an
/// already authenticated connection authenticated, as in Redis.
fn auth_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 3 {
        return c.out.err("ERR syntax error");
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if srv.acl.default_user().nopass() {
            return c.out.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }
        (b"default", args.get(1))
    } else {
        (args.get(1), args.get(2))
    };
    let m = super::meta::lookup(b"auth").expect("auth");
    if super::acl::authenticate(srv, c, user, pass, args, m) {
        c.out.ok();
    } else {
        c.out.err(WRONGPASS);
    }
}

/// Returns a connection to the state of a new one (clearClientConnectionState): leaves MONITOR,
/// db 0, RESP2, default user (unauthenticated again when a password is set), no name, replies
/// on, no transaction or WATCH, no subscription, no client-side caching. Redis 7.0 keeps CLIENT NO-EVICT across RESET.
pub fn reset_connection_state(srv: &mut Server, c: &mut Client) {
    if c.monitor {
        c.monitor = false;
        let token = c.token;
        srv.monitors.retain(|&t| t != token);
    }
    c.db = 0;
    c.out.resp3 = false;
    c.set_user(crate::acl::DEFAULT_USER, b"default");
    c.authenticated = srv.new_client_authenticated();
    crate::multi::discard_transaction(srv, c);
    crate::pubsub::unsubscribe_all(srv, c);
    crate::tracking::disable(srv, c);
    c.name = None;
    // Redis clears REPLY_OFF and REPLY_SKIP_NEXT but not REPLY_SKIP: a RESET whose own reply
    // is being skipped stays silent.
    if c.reply_mode != ReplyMode::Skip {
        c.reply_mode = ReplyMode::On;
    }
}

fn reset_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    reset_connection_state(srv, c);
    c.out.simple("RESET");
}

// ---------------------------------------------------------------------------------------------
// CLIENT

/// The classes CLIENT LIST TYPE and CLIENT KILL TYPE filter on (getClientType).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientType {
    /// Ordinary connections (MONITOR clients included, as Redis reports them).
    Normal,
    /// Our connection to a master (replication).
    Master,
    /// A replica's connection to us.
    Replica,
    /// A connection in Pub/Sub mode.
    PubSub,
}

/// Parses a client type name as getClientTypeByName ("slave" is an alias of "replica").
pub fn client_type_by_name(name: &[u8]) -> Option<ClientType> {
    let n = name.to_ascii_lowercase();
    Some(match &n[..] {
        b"normal" => ClientType::Normal,
        b"slave" | b"replica" => ClientType::Replica,
        b"pubsub" => ClientType::PubSub,
        b"master" => ClientType::Master,
        _ => return None,
    })
}

/// The class of a connection (getClientType): our master's link, a replica, a subscriber,
/// or normal.
pub fn client_type(c: &Client) -> ClientType {
    if c.master_link {
        ClientType::Master
    } else if c.replica.is_some() && !c.monitor {
        ClientType::Replica
    } else if c.in_pubsub() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Length of the RESP multibulk request that carried `args`: what Redis's query buffer holds
/// while the command runs (CLIENT LIST qbuf= of the running client).
fn request_len(args: &Args) -> usize {
    let digits = |n: usize| n.to_string().len();
    let mut n = 1 + digits(args.len()) + 2;
    for a in args.iter_from(0) {
        n += 1 + digits(a.len()) + 2 + a.len() + 2;
    }
    n
}

/// The running command, for the current client's CLIENT LIST line.
pub struct Running<'a> {
    /// Its arguments (for qbuf= and argv-mem=).
    pub args: &'a Args<'a>,
    /// Its full name (cmd=), e.g. "client|list".
    pub name: &'a str,
}

/// One CLIENT LIST / CLIENT INFO line (catClientInfoString), without the newline. `running` is
/// given for the client whose command is executing: Redis still holds that command in the query
/// buffer and argv, and already shows it as cmd=.
pub fn client_info_string(cl: &Client, now_ms: i64, running: Option<&Running>) -> String {
    let mut flags = String::new();
    if cl.monitor {
        flags.push('O');
    } else if cl.replica.is_some() {
        flags.push('S');
    }
    if cl.master_link {
        flags.push('M');
    }
    if cl.in_pubsub() {
        flags.push('P');
    }
    if cl.multi.is_some() {
        flags.push('x');
    }
    if cl.blocked.is_some() || cl.postponed {
        flags.push('b');
    }
    if let Some(t) = cl.tracking.as_deref() {
        flags.push('t');
        if t.flags & crate::tracking::BROKEN_REDIR != 0 {
            flags.push('R');
        }
        if t.flags & crate::tracking::BCAST != 0 {
            flags.push('B');
        }
    }
    if cl.close_after_reply {
        flags.push('c');
    }
    if cl.close_asap {
        flags.push('A');
    }
    if cl.is_unix {
        flags.push('U');
    }
    if cl.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let (qbuf, qbuf_free, argv_mem, cmd) = match running {
        Some(r) => {
            let argv_mem: usize = r.args.iter_from(0).map(|a| a.len()).sum();
            (request_len(r.args), 0, argv_mem, r.name)
        }
        None => {
            let used = cl.qbuf.len() - cl.qpos.min(cl.qbuf.len());
            (used, cl.qbuf.capacity() - cl.qbuf.len(), 0, cl.last_cmd)
        }
    };
    let events = if cl.writable_registered { "rw" } else { "r" };
    let mut s = String::with_capacity(300);
    let _ = write!(
        s,
        "id={} addr={} laddr={} fd={} name=",
        cl.id, cl.addr, cl.laddr, cl.fd
    );
    if let Some(n) = cl.name.as_deref() {
        s.push_str(&String::from_utf8_lossy(n));
    }
    let _ = write!(
        s,
        " age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} \
         argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} events={} cmd={} \
         user={} redir={} resp={}",
        (now_ms - cl.ctime_ms).max(0) / 1000,
        (now_ms - cl.last_interaction_ms).max(0) / 1000,
        flags,
        cl.db,
        cl.sub_count(),
        cl.psub_count(),
        cl.shard_subscription_count(),
        cl.multi_count(),
        qbuf,
        qbuf_free,
        argv_mem,
        cl.multi_mem(),
        cl.rbs,
        cl.rbp,
        cl.out.pending(),
        cl.mem_usage(),
        events,
        cmd,
        String::from_utf8_lossy(cl.user_name.as_deref().unwrap_or(b"default")),
        cl.tracking.as_ref().map_or(-1, |t| t.redirect as i64),
        cl.resp()
    );
    s
}

/// Every live client, the running one included, in connection order (Redis's clients list is
/// appended on accept, so it is ordered by id). Clients already being killed are left out:
/// Redis frees a killed client at once, so it never shows up again.
fn all_clients<'a>(srv: &'a Server, c: &'a Client) -> Vec<&'a Client> {
    let mut v: Vec<&Client> = srv
        .clients
        .iter()
        .filter_map(|(_, s)| s.as_deref())
        .filter(|x| !x.close_asap)
        .collect();
    v.push(c);
    v.sort_by_key(|x| x.id);
    v
}

fn client_id_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(c.id as i64);
}

fn client_setname_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    if set_client_name(c, args.get(2)) {
        c.out.ok();
    }
}

fn client_getname_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    match c.name.take() {
        Some(n) => {
            c.out.bulk(&n);
            c.name = Some(n);
        }
        None => c.out.null(),
    }
}

/// CLIENT LIST [TYPE type | ID id [id ...]].
fn client_list_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let now = srv.cmd_time_ms;
    let running = Running {
        args,
        name: "client|list",
    };
    let mut out = String::new();
    if args.len() == 4 && args.is(2, "type") {
        let Some(t) = client_type_by_name(args.get(3)) else {
            let name = String::from_utf8_lossy(args.get(3)).into_owned();
            return c.out.err(&format!("ERR Unknown client type '{name}'"));
        };
        for cl in all_clients(srv, c) {
            if client_type(cl) == t {
                let cur = (cl.id == c.id).then_some(&running);
                out.push_str(&client_info_string(cl, now, cur));
                out.push('\n');
            }
        }
    } else if args.len() > 3 && args.is(2, "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in args.iter_from(3) {
            match parse_i64(a) {
                Some(id) => ids.push(id),
                None => return c.out.err("ERR Invalid client ID"),
            }
        }
        let all = all_clients(srv, c);
        for id in ids {
            if let Some(cl) = all.iter().find(|x| x.id as i64 == id) {
                let cur = (cl.id == c.id).then_some(&running);
                out.push_str(&client_info_string(cl, now, cur));
                out.push('\n');
            }
        }
    } else if args.len() != 2 {
        return c.out.err("ERR syntax error");
    } else {
        for cl in all_clients(srv, c) {
            let cur = (cl.id == c.id).then_some(&running);
            out.push_str(&client_info_string(cl, now, cur));
            out.push('\n');
        }
    }
    c.out.verbatim(out.as_bytes(), "txt");
}

fn client_info_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let running = Running {
        args,
        name: "client|info",
    };
    let mut line = client_info_string(c, srv.cmd_time_ms, Some(&running));
    line.push('\n');
    c.out.verbatim(line.as_bytes(), "txt");
}

/// The filters of CLIENT KILL's new form; every given filter must match.
#[derive(Default)]
struct KillFilter<'a> {
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    ctype: Option<ClientType>,
    id: Option<u64>,
    skipme: bool,
    /// USER: the slot of the user whose clients go.
    user: Option<usize>,
}

impl KillFilter<'_> {
    fn matches(&self, cl: &Client) -> bool {
        self.addr.is_none_or(|a| a == cl.addr.as_bytes())
            && self.laddr.is_none_or(|a| a == cl.laddr.as_bytes())
            && self.ctype.is_none_or(|t| client_type(cl) == t)
            && self.id.is_none_or(|id| cl.id == id)
            && self.user.is_none_or(|u| cl.user == u)
    }
}

/// CLIENT KILL ip:port (old form: +OK or "No such client", may kill the caller) or
/// CLIENT KILL <filter> <value> ... (new form: the number killed; SKIPME yes by default).
/// Other clients are closed before the loop sleeps; the caller after its reply is written.
fn client_kill_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    let old_form = args.len() == 3;
    if old_form {
        f.addr = Some(args.get(2));
        f.skipme = false;
    } else {
        let mut i = 2;
        while i < args.len() {
            if i + 1 >= args.len() {
                return c.out.err("ERR syntax error");
            }
            let val = args.get(i + 1);
            if args.is(i, "id") {
                match parse_i64(val) {
                    Some(id) if id >= 1 => f.id = Some(id as u64),
                    _ => return c.out.err("ERR client-id should be greater than 0"),
                }
            } else if args.is(i, "type") {
                match client_type_by_name(val) {
                    Some(t) => f.ctype = Some(t),
                    None => {
                        let name = String::from_utf8_lossy(val).into_owned();
                        return c.out.err(&format!("ERR Unknown client type '{name}'"));
                    }
                }
            } else if args.is(i, "addr") {
                f.addr = Some(val);
            } else if args.is(i, "laddr") {
                f.laddr = Some(val);
            } else if args.is(i, "user") {
                match srv.acl.find(val) {
                    Some(slot) => f.user = Some(slot),
                    None => {
                        let name = String::from_utf8_lossy(val).into_owned();
                        return c.out.err(&format!("ERR No such user '{name}'"));
                    }
                }
            } else if args.is(i, "skipme") {
                if val.eq_ignore_ascii_case(b"yes") {
                    f.skipme = true;
                } else if val.eq_ignore_ascii_case(b"no") {
                    f.skipme = false;
                } else {
                    return c.out.err("ERR syntax error");
                }
            } else {
                return c.out.err("ERR syntax error");
            }
            i += 2;
        }
    }
    let mut killed = 0i64;
    let mut victims = Vec::new();
    for (_, slot) in srv.clients.iter_mut() {
        if let Some(cl) = slot.as_deref_mut() {
            if !cl.close_asap && f.matches(cl) {
                cl.close_asap = true;
                victims.push(cl.token);
                killed += 1;
            }
        }
    }
    srv.pending_close.extend(victims);
    let kill_self = !f.skipme && f.matches(c);
    if kill_self {
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            c.out.err("ERR No such client");
        } else {
            c.out.ok();
        }
    } else {
        c.out.int(killed);
    }
    if kill_self {
        c.close_after_reply = true;
    }
}

/// CLIENT REPLY ON|OFF|SKIP. Dispatch discards output according to `reply_mode`; SKIP arms
/// SkipNext, which dispatch turns into Skip for the next command. SKIP while OFF does nothing.
fn client_reply_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    if args.is(2, "on") {
        c.reply_mode = ReplyMode::On;
        c.out.ok();
    } else if args.is(2, "off") {
        c.reply_mode = ReplyMode::Off;
    } else if args.is(2, "skip") {
        if c.reply_mode != ReplyMode::Off {
            c.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        c.out.err("ERR syntax error");
    }
}

fn client_no_evict_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    if args.is(2, "on") {
        c.no_evict = true;
        c.out.ok();
    } else if args.is(2, "off") {
        c.no_evict = false;
        c.out.ok();
    } else {
        c.out.err("ERR syntax error");
    }
}

/// The error for a subcommand used with the wrong number of arguments when the table's arity
/// lets it through (addReplySubcommandSyntaxError).
pub fn subcommand_syntax_error(c: &mut Client, args: &Args) {
    let sub = String::from_utf8_lossy(args.get(1));
    let sub: String = sub.chars().take(128).collect();
    let cmd = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    c.out.err(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
    ));
}

/// CLIENT PAUSE timeout [WRITE|ALL]. A pause already in force keeps the later end time and
/// takes the new mode (what Redis 7.0 does for repeated CLIENT PAUSE). Like Redis 7.0, the
/// end time is `now + timeout` with wrapping arithmetic, so an absurd timeout ends the pause.
fn client_pause_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() > 4 {
        return subcommand_syntax_error(c, args);
    }
    let mut write_only = false;
    if args.len() == 4 {
        if args.is(3, "write") {
            write_only = true;
        } else if !args.is(3, "all") {
            return c.out.err("ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
    }
    let Some(ms) = parse_i64(args.get(2)) else {
        return c.out.err("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return c.out.err("ERR timeout is negative");
    }
    let now = crate::util::mstime();
    let end = if ms > 0 { ms.wrapping_add(now) } else { 0 };
    let active = srv.pause_until_ms != 0 && now < srv.pause_until_ms;
    if active {
        srv.pause_until_ms = srv.pause_until_ms.max(end);
    } else {
        srv.pause_until_ms = end;
    }
    srv.pause_write_only = write_only;
    c.out.ok();
}

fn client_unpause_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    srv.pause_until_ms = 0;
    srv.pause_write_only = false;
    c.out.ok();
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
/// (networking.c). Every option is parsed, and a REDIRECT target must exist, before ON or OFF
/// is even looked at; ON then checks the options against each other and against the mode
/// already on, in Redis's order.
fn client_tracking_command(srv: &mut Server, c: &mut Client, args: &Args) {
    use crate::tracking::{BCAST, NOLOOP, OPTIN, OPTOUT};
    let mut redirect: u64 = 0;
    let mut options = 0u8;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args.is(j, "redirect") && more > 0 {
            j += 1;
            if redirect != 0 {
                return c
                    .out
                    .err("ERR A client can only redirect to a single other client");
            }
            let Some(id) = parse_i64(args.get(j)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            // Redis reads the id into a long long and looks it up as unsigned.
            let id = id as u64;
            if srv.client_token(id).is_none() {
                return c
                    .out
                    .err("ERR The client ID you want redirect to does not exist");
            }
            redirect = id;
        } else if args.is(j, "bcast") {
            options |= BCAST;
        } else if args.is(j, "optin") {
            options |= OPTIN;
        } else if args.is(j, "optout") {
            options |= OPTOUT;
        } else if args.is(j, "noloop") {
            options |= NOLOOP;
        } else if args.is(j, "prefix") && more > 0 {
            j += 1;
            prefixes.push(args.get(j));
        } else {
            return c.out.err("ERR syntax error");
        }
        j += 1;
    }
    if args.is(2, "off") {
        crate::tracking::disable(srv, c);
        return c.out.ok();
    }
    if !args.is(2, "on") {
        return c.out.err("ERR syntax error");
    }
    if options & BCAST == 0 && !prefixes.is_empty() {
        return c
            .out
            .err("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if let Some(t) = c.tracking.as_deref() {
        if (t.flags & BCAST != 0) != (options & BCAST != 0) {
            return c.out.err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
    }
    if options & BCAST != 0 && options & (OPTIN | OPTOUT) != 0 {
        return c
            .out
            .err("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if options & OPTIN != 0 && options & OPTOUT != 0 {
        return c
            .out
            .err("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if let Some(t) = c.tracking.as_deref() {
        if (options & OPTIN != 0 && t.flags & OPTOUT != 0)
            || (options & OPTOUT != 0 && t.flags & OPTIN != 0)
        {
            return c.out.err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
    }
    if options & BCAST != 0 && !crate::tracking::check_prefix_collisions(c, &prefixes) {
        return;
    }
    crate::tracking::enable(srv, c, redirect, options, &prefixes);
    c.out.ok();
}

/// CLIENT CACHING YES|NO: in OPTIN mode, track the keys of the next command; in OPTOUT mode,
/// do not.
fn client_caching_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    use crate::tracking::{CACHING, OPTIN, OPTOUT};
    let Some(t) = c.tracking.as_deref_mut() else {
        return c.out.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    if args.is(2, "yes") {
        if t.flags & OPTIN == 0 {
            return c.out.err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        t.flags |= CACHING;
    } else if args.is(2, "no") {
        if t.flags & OPTOUT == 0 {
            return c.out.err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        t.flags |= CACHING;
    } else {
        return c.out.err("ERR syntax error");
    }
    c.out.ok();
}

/// CLIENT GETREDIR: the redirect target's id, 0 when tracking without one, -1 when off.
fn client_getredir_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    let id = c.tracking.as_ref().map_or(-1, |t| t.redirect as i64);
    c.out.int(id);
}

/// CLIENT TRACKINGINFO: flags (a set in RESP3), redirect, prefixes.
fn client_trackinginfo_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    use crate::tracking::{BCAST, BROKEN_REDIR, CACHING, NOLOOP, OPTIN, OPTOUT};
    let mut flags: Vec<&[u8]> = Vec::new();
    let (redirect, prefixes) = match c.tracking.as_deref() {
        None => {
            flags.push(b"off");
            (-1, Vec::new())
        }
        Some(t) => {
            flags.push(b"on");
            let f = t.flags;
            if f & BCAST != 0 {
                flags.push(b"bcast");
            }
            if f & OPTIN != 0 {
                flags.push(b"optin");
                if f & CACHING != 0 {
                    flags.push(b"caching-yes");
                }
            }
            if f & OPTOUT != 0 {
                flags.push(b"optout");
                if f & CACHING != 0 {
                    flags.push(b"caching-no");
                }
            }
            if f & NOLOOP != 0 {
                flags.push(b"noloop");
            }
            if f & BROKEN_REDIR != 0 {
                flags.push(b"broken_redirect");
            }
            (t.redirect as i64, t.prefixes.clone())
        }
    };
    c.out.map(3);
    c.out.bulk(b"flags");
    c.out.set(flags.len());
    for f in flags {
        c.out.bulk(f);
    }
    c.out.bulk(b"redirect");
    c.out.int(redirect);
    c.out.bulk(b"prefixes");
    c.out.array(prefixes.len());
    for p in &prefixes {
        c.out.bulk(p);
    }
}

/// Sends a HELP reply as addReplyHelp: the title, the lines, then HELP itself.
pub fn reply_help(c: &mut Client, name: &str, lines: &[&str]) {
    c.out.array(lines.len() + 3);
    c.out.simple(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        c.out.simple(l);
    }
    c.out.simple("HELP");
    c.out.simple("    Prints this help.");
}

fn client_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        assert!(validate_client_name(b"abc-1").is_ok());
        assert!(validate_client_name(b"").is_ok());
        assert!(validate_client_name(b"a b").is_err());
        assert!(validate_client_name(b"a\n").is_err());
        assert!(validate_client_name("é".as_bytes()).is_err());
    }

    #[test]
    fn type_names() {
        assert_eq!(client_type_by_name(b"SLAVE"), Some(ClientType::Replica));
        assert_eq!(client_type_by_name(b"replica"), Some(ClientType::Replica));
        assert_eq!(client_type_by_name(b"Normal"), Some(ClientType::Normal));
        assert_eq!(client_type_by_name(b"pubsub"), Some(ClientType::PubSub));
        assert_eq!(client_type_by_name(b"master"), Some(ClientType::Master));
        assert_eq!(client_type_by_name(b"x"), None);
    }
}
