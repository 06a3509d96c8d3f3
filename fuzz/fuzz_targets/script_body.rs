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
use ferrodis::server::Server;
use libfuzzer_sys::fuzz_target;

#[path = "common/driver.rs"]
mod driver;
use std::cell::RefCell;

thread_local! {
    static SRV: RefCell<Option<(Server, usize, u64)>> = const { RefCell::new(None) };
}

/// Runs one command for the client in `slot` and returns its raw reply bytes.
fn run(srv: &mut Server, slot: usize, argv: &[&[u8]]) -> Vec<u8> {
    let out = driver::run_raw(srv, slot, argv, true);
    check_replies(&out, argv);
    out
}

/// The output is whole RESP values, at least one.
fn check_replies(out: &[u8], argv: &[&[u8]]) {
    let mut at = 0;
    let mut ok = !out.is_empty();
    while ok && at < out.len() {
        match driver::resp_len(&out[at..]) {
            Some(n) => at += n,
            None => ok = false,
        }
    }
    assert!(
        ok,
        "malformed reply to {:?}: {:?}",
        driver::show(argv),
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
                let mut argv: Vec<&[u8]> = vec![if ro { b"FCALL_RO" } else { b"FCALL" }, b"f"];
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
