//! Connection commands: PING ECHO QUIT SELECT HELLO (the first of this group; CLIENT, AUTH,
//! RESET and SWAPDB join them).

use super::{Args, Handler};
use crate::server::client::Client;
use crate::server::{Server, REDIS_VERSION};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping_command),
    ("echo", echo_command),
    ("quit", quit_command),
    ("select", select_command),
    ("hello", hello_command),
];

fn ping_command(_srv: &mut Server, c: &mut Client, args: &Args) {
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

fn quit_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.ok();
    c.close_after_reply = true;
}

/// Parses a database index the way SELECT/MOVE/SWAPDB/COPY do; replies on failure.
pub fn parse_db_index(srv: &Server, c: &mut Client, arg: &[u8]) -> Option<usize> {
    let Some(id) = parse_i64(arg).filter(|&i| i >= i32::MIN as i64 && i <= i32::MAX as i64) else {
        c.out.err("ERR value is not an integer or out of range");
        return None;
    };
    if id < 0 || id as usize >= srv.dbs.len() {
        c.out.err("ERR DB index is out of range");
        return None;
    }
    Some(id as usize)
}

fn select_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if let Some(id) = parse_db_index(srv, c, args.get(1)) {
        c.db = id;
        c.out.ok();
    }
}

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
        if !check_password(srv, user, pass) {
            return c
                .out
                .err("WRONGPASS invalid username-password pair or user is disabled.");
        }
        c.authenticated = true;
    }
    if !c.authenticated {
        return c.out.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        if let Err(e) = validate_client_name(name) {
            return c.out.err(e);
        }
        c.name = if name.is_empty() {
            None
        } else {
            Some(name.to_vec())
        };
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
    c.out.bulk(b"standalone");
    c.out.bulk(b"role");
    c.out.bulk(b"master");
    c.out.bulk(b"modules");
    c.out.array(0);
}

/// True when `user`/`pass` match the default user's password (requirepass).
pub fn check_password(srv: &Server, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match srv.config.requirepass.as_deref() {
        None => true,
        Some(p) => p == pass,
    }
}

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_client_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}
