//! Fuzz target for script bodies: arbitrary bytes run as a Lua script through the real
//! command path (`net::process_input` on a `Server`, a detached client), as EVAL / EVAL_RO or
//! as the body of a function library (FUNCTION LOAD, then FCALL of what it registered).
//!
//! Input: byte 0 is a control byte, the rest is the body.
//! - bit 0: load the body as a library (`#!lua name=fz` + newline + body) and FCALL `f`,
//!   instead of EVAL;
//! - bit 1: the client speaks RESP3 (HELLO 3);
//! - bit 2: the read-only form (EVAL_RO / FCALL_RO);
//! - bits 3..4: how many keys (0..=3) the call passes; two extra arguments follow.
//!
//! A script that runs past `busy-reply-threshold` (20 ms here) is stopped: there is no event
//! loop to serve a SCRIPT KILL, so the server is flagged as shutting down before each run,
//! which the busy hook obeys as SHUTDOWN NOSAVE would make it (the flag has no other effect
//! outside the loop). Bodies that loop forever therefore cost 20 ms, not a hang.
//!
//! What counts as a crash: a panic or abort (the interpreter's assertions included), or a
//! reply stream that is not a sequence of complete RESP values. Run with
//! `-rss_limit_mb=2048`: a script can ask Lua for memory as Redis's would let it.
#![no_main]

use ferrodis::config::Config;
use ferrodis::server::client::Sock;
use ferrodis::server::{net, Server};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static SRV: RefCell<Option<(Server, usize, u64)>> = const { RefCell::new(None) };
}

/// Runs one command for the client in `slot` and returns its raw reply bytes.
fn run(srv: &mut Server, slot: usize, argv: &[&[u8]]) -> Vec<u8> {
    let mut c = srv.clients[slot].take().expect("client connected");
    c.qbuf
        .extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        c.qbuf
            .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        c.qbuf.extend_from_slice(a);
        c.qbuf.extend_from_slice(b"\r\n");
    }
    srv.refresh_time();
    srv.shutdown_asap = true;
    net::process_input(srv, &mut c);
    srv.shutdown_asap = false;
    if c.out.pending() > 0 {
        srv.schedule_write(&mut c);
    }
    srv.clients[slot] = Some(c);
    net::before_sleep(srv);
    let Some(Some(c)) = srv.clients.get_mut(slot) else {
        panic!("client vanished");
    };
    let Sock::Detached(sink) = &mut c.sock else {
        panic!("not a detached client");
    };
    let out = std::mem::take(sink);
    check_replies(&out, argv);
    out
}

/// Length of the RESP value at the start of `b`, or None when it is not one.
fn resp_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = &b[1..line_end];
    let after = line_end + 2;
    let num = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize;
            (b.get(end..end + 2)? == b"\r\n").then_some(end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            let per = if matches!(b[0], b'%' | b'|') { 2 } else { 1 };
            let mut at = after;
            for _ in 0..n.max(0) * per {
                at += resp_len(&b[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// The output is whole RESP values, at least one.
fn check_replies(out: &[u8], argv: &[&[u8]]) {
    let mut at = 0;
    let mut ok = !out.is_empty();
    while ok && at < out.len() {
        match resp_len(&out[at..]) {
            Some(n) => at += n,
            None => ok = false,
        }
    }
    assert!(
        ok,
        "malformed reply to {:?}: {:?}",
        argv.iter()
            .map(|a| String::from_utf8_lossy(&a[..a.len().min(200)]).into_owned())
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(out)
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let as_function = ctl & 1 != 0;
    let resp3 = ctl & 2 != 0;
    let ro = ctl & 4 != 0;
    let nkeys = ((ctl >> 3) & 3) as usize;

    SRV.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (srv, slot, runs) = guard.get_or_insert_with(|| {
            ferrodis::server::log::set_level(ferrodis::server::log::Level::Warning);
            ferrodis::server::log::set_file("/dev/null");
            ferrodis::util::clock::init();
            let mut cfg = Config::default();
            cfg.load_text(b"save \"\"\nbusy-reply-threshold 20\n")
                .expect("config loads");
            let mut srv = Server::new(cfg);
            let slot = srv.add_detached_client();
            (srv, slot, 0)
        });
        let slot = *slot;
        *runs += 1;
        // Keep the script cache and the keyspace small across millions of runs.
        if *runs % 256 == 0 {
            run(srv, slot, &[b"SCRIPT", b"FLUSH"]);
            run(srv, slot, &[b"FLUSHALL"]);
        }
        run(srv, slot, &[b"HELLO", if resp3 { b"3" } else { b"2" }]);
        run(srv, slot, &[b"SET", b"k0", b"v"]);
        run(srv, slot, &[b"RPUSH", b"k1", b"a", b"b"]);
        let numkeys = nkeys.to_string();
        let keys: [&[u8]; 3] = [b"k0", b"k1", b"k2"];
        let mut tail: Vec<&[u8]> = vec![numkeys.as_bytes()];
        tail.extend_from_slice(&keys[..nkeys]);
        tail.extend_from_slice(&[b"arg1", b"2"]);
        if as_function {
            let mut code = b"#!lua name=fz\n".to_vec();
            code.extend_from_slice(body);
            let r = run(srv, slot, &[b"FUNCTION", b"LOAD", b"REPLACE", &code]);
            if r.starts_with(b"$") || r.starts_with(b"+") {
                let mut argv: Vec<&[u8]> =
                    vec![if ro { b"FCALL_RO" } else { b"FCALL" }, b"f"];
                argv.extend_from_slice(&tail);
                run(srv, slot, &argv);
                run(srv, slot, &[b"FUNCTION", b"LIST", b"WITHCODE"]);
                run(srv, slot, &[b"FUNCTION", b"DUMP"]);
                run(srv, slot, &[b"FUNCTION", b"FLUSH"]);
            }
        } else {
            let mut argv: Vec<&[u8]> = vec![if ro { b"EVAL_RO" } else { b"EVAL" }, body];
            argv.extend_from_slice(&tail);
            run(srv, slot, &argv);
        }
    });
});
