//! Fuzz target for HyperLogLog values: arbitrary bytes stored as a string value, then PFCOUNT
//! (one key and several), PFMERGE (as source and as destination), PFADD, PFDEBUG and GET run
//! on it through the real command path (`net::process_input` on a `Server`, with a detached
//! client), as a client that RESTOREd or SET a corrupt HLL would.
//!
//! Input: byte 0 is a control byte, the rest is the value.
//! - bit 0: prefix the value with a well-formed 16-byte header, so the fuzzer spends its time
//!   in the opcodes and registers: "HYLL", the encoding (bit 1: sparse, else dense), three
//!   zero bytes, and a cached cardinality that is stale (bit 2 clear) or the value 7 (set);
//! - bits 3..4: `hll-sparse-max-bytes` 3000, 0, 40 or 20000 (promotion at every step, early,
//!   or late);
//! - bits 5..7: how many elements each PFADD adds (0..=7), derived from the value's bytes.
//!
//! What counts as a crash: a panic, a reply that is not one well-formed RESP value per command,
//! or a command that succeeded on the value leaving behind something that is no longer an HLL
//! (a header check that fails).
#![no_main]

use ferrodis::config::Config;
use ferrodis::ds::sds::Sds;
use ferrodis::server::Server;
use ferrodis::types::hll;
use ferrodis::types::object::{RObj, Value};
use libfuzzer_sys::fuzz_target;

#[path = "common/driver.rs"]
mod driver;
use std::cell::RefCell;

thread_local! {
    static SRV: RefCell<Option<(Server, usize)>> = const { RefCell::new(None) };
}

/// Runs one command for the client in `slot` and returns its raw reply.
fn run(srv: &mut Server, slot: usize, argv: &[&[u8]]) -> Vec<u8> {
    let out = driver::run_raw(srv, slot, argv, false);
    check_one_reply(&out, argv);
    out
}

fn check_one_reply(out: &[u8], argv: &[&[u8]]) {
    let ok = driver::resp_len(out) == Some(out.len());
    assert!(
        ok,
        "malformed reply to {:?}: {:?}",
        driver::show(argv),
        String::from_utf8_lossy(out)
    );
}

/// Asserts that the key still holds something PFCOUNT accepts as an HLL.
fn assert_still_hll(srv: &mut Server, key: &[u8], what: &str) {
    let o = srv.dbs[0].dict.peek(key).expect("key kept");
    let Value::Str(s) = &o.value else {
        panic!("{what}: not a string any more");
    };
    assert!(hll::is_valid(s.as_bytes()), "{what}: left an invalid HLL");
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let mut value = Vec::with_capacity(body.len() + 16);
    if ctl & 1 != 0 {
        value.extend_from_slice(b"HYLL");
        value.push(if ctl & 2 != 0 {
            hll::SPARSE
        } else {
            hll::DENSE
        });
        value.extend_from_slice(&[0, 0, 0]);
        if ctl & 4 != 0 {
            value.extend_from_slice(&7u64.to_le_bytes());
        } else {
            value.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x80]);
        }
    }
    value.extend_from_slice(body);
    let max_bytes: &[u8] = match (ctl >> 3) & 3 {
        0 => b"3000",
        1 => b"0",
        2 => b"40",
        _ => b"20000",
    };
    let nelem = (ctl >> 5) as usize;
    let elems: Vec<Vec<u8>> = (0..nelem)
        .map(|i| {
            let mut e = vec![b'e', i as u8];
            e.extend_from_slice(&body[..body.len().min(i * 3)]);
            e
        })
        .collect();

    SRV.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (srv, slot) = guard.get_or_insert_with(|| {
            ferrodis::server::log::set_level(ferrodis::server::log::Level::Warning);
            ferrodis::server::log::set_file("/dev/null");
            ferrodis::util::clock::init();
            let mut cfg = Config::default();
            cfg.load_text(b"save \"\"\n").expect("config loads");
            let mut srv = Server::new(cfg);
            let slot = srv.add_detached_client();
            (srv, slot)
        });
        let slot = *slot;
        run(srv, slot, &[b"FLUSHALL"]);
        run(
            srv,
            slot,
            &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", max_bytes],
        );
        for key in [&b"h"[..], b"h2"] {
            let o = RObj::new(Value::Str(Sds::from_slice(&value)), 0);
            srv.set_key(0, key, o, false);
        }
        let mut pfadd: Vec<&[u8]> = vec![b"PFADD", b"h"];
        pfadd.extend(elems.iter().map(|e| e.as_slice()));

        run(srv, slot, &[b"PFCOUNT", b"h"]);
        run(srv, slot, &[b"PFCOUNT", b"h"]);
        run(srv, slot, &[b"PFCOUNT", b"h", b"h2", b"nokey"]);
        run(srv, slot, &[b"PFDEBUG", b"DECODE", b"h"]);
        run(srv, slot, &[b"PFDEBUG", b"ENCODING", b"h"]);
        let r = run(srv, slot, &[b"PFMERGE", b"dst", b"h"]);
        if r.starts_with(b"+") {
            assert_still_hll(srv, b"dst", "PFMERGE dst h");
            run(srv, slot, &[b"PFCOUNT", b"dst"]);
        }
        let r = run(srv, slot, &pfadd);
        if r.starts_with(b":") {
            assert_still_hll(srv, b"h", "PFADD");
            run(srv, slot, &[b"PFCOUNT", b"h"]);
            run(srv, slot, &[b"GET", b"h"]);
        }
        let r = run(srv, slot, &[b"PFMERGE", b"h2", b"dst"]);
        if r.starts_with(b"+") {
            assert_still_hll(srv, b"h2", "PFMERGE h2 dst");
            run(srv, slot, &[b"PFCOUNT", b"h2"]);
        }
        run(srv, slot, &[b"PFDEBUG", b"GETREG", b"h"]);
        run(srv, slot, &[b"PFDEBUG", b"TODENSE", b"h2"]);
        run(srv, slot, &[b"PFCOUNT", b"h", b"h2"]);
    });
});
