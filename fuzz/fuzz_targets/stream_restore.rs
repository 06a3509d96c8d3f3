//! Fuzz target for stream payloads given to RESTORE: the fuzzer's bytes become the body of a
//! DUMP payload of a stream (the type byte, then whatever the fuzzer made of the nodes,
//! counters and groups, then the version 10 footer with its CRC64 computed here, so every
//! input passes the checksum and reaches the stream decoder). RESTORE runs through the real
//! command path on a `Server` (a detached client, as `hll.rs`), with `sanitize-dump-payload`
//! yes or no; when it is accepted, every stream command reads and changes the value.
//!
//! Input: byte 0 is a control byte, the rest is the body after the type byte.
//! - bit 0: `sanitize-dump-payload yes` (deep checks), else `no` (what Redis checks shallowly,
//!   ferrodis still checks every byte it will read; see `rdb::Reader::deep`);
//! - bit 1: RDB type 15 (STREAM_LISTPACKS, Redis 5 to 6.2), else 19 (STREAM_LISTPACKS_2, 7.0);
//! - bits 2..3: `stream-node-max-entries` 100, 1, 2 or 0 (no limit), so XADD appends to the
//!   restored tail node, or starts new ones.
//!
//! Seeds (`corpus/stream_restore/seed-*`) are DUMPs of streams redis-server made: several nodes,
//! tombstones, SAMEFIELDS and not, integers and 12-bit strings, groups with PELs and consumers.
//!
//! What counts as a crash: a panic; a reply that is not one well-formed RESP value; a payload
//! that was accepted but whose DUMP (taken at once) is not accepted again, in the same mode,
//! with the same DEBUG DIGEST-VALUE; after the commands, with `yes` and restored counters that
//! agree with the entries (`Stream::counters_agree`: a lying length or node count is never
//! checked, and XDEL/XTRIM count from them, as in Redis), a DUMP that RESTORE refuses (our own
//! writes must keep the stream valid).
//!
//! `FERRODIS_FUZZ_TRACE=1` prints every command and reply (to reproduce a crash by hand).
#![no_main]

use ferrodis::config::Config;
use ferrodis::persistence::rdb;
use ferrodis::server::Server;
use ferrodis::types::object::Value;
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
    if std::env::var_os("FERRODIS_FUZZ_TRACE").is_some() {
        let shown = driver::show(argv);
        eprintln!("> {shown:?}\n< {:?}", String::from_utf8_lossy(&out));
    }
    assert!(
        driver::resp_len(&out) == Some(out.len()),
        "malformed reply to {:?}: {:?}",
        driver::show(argv),
        String::from_utf8_lossy(&out)
    );
    out
}

/// The payload of a bulk string reply.
fn bulk(reply: &[u8]) -> Option<Vec<u8>> {
    let end = reply.windows(2).position(|w| w == b"\r\n")?;
    if reply.first() != Some(&b'$') {
        return None;
    }
    let n: usize = std::str::from_utf8(&reply[1..end]).ok()?.parse().ok()?;
    Some(reply.get(end + 2..end + 2 + n)?.to_vec())
}

/// The stream commands run on an accepted value, in order: reads first, then writes, with
/// the group and consumer names the seeds use.
const COMMANDS: &[&[&str]] = &[
    &["XLEN", "k"],
    &["XRANGE", "k", "-", "+"],
    &["XREVRANGE", "k", "+", "-"],
    &["XRANGE", "k", "1-2", "5", "COUNT", "3"],
    &["XREVRANGE", "k", "9", "(1-1", "COUNT", "2"],
    &["XREAD", "COUNT", "5", "STREAMS", "k", "0-0"],
    &["XINFO", "STREAM", "k"],
    &["XINFO", "STREAM", "k", "FULL"],
    &["XINFO", "STREAM", "k", "FULL", "COUNT", "2"],
    &["XINFO", "GROUPS", "k"],
    &["XINFO", "CONSUMERS", "k", "g"],
    &["XPENDING", "k", "g"],
    &["XPENDING", "k", "g", "-", "+", "10"],
    &["XPENDING", "k", "g", "IDLE", "0", "-", "+", "10", "alice"],
    &["OBJECT", "ENCODING", "k"],
    &["MEMORY", "USAGE", "k"],
    &["COPY", "k", "k2", "REPLACE"],
    &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "k", "0"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "carol",
        "COUNT",
        "2",
        "STREAMS",
        "k",
        ">",
    ],
    &["XCLAIM", "k", "g", "bob", "0", "1-1", "1-2", "2-1", "FORCE"],
    &[
        "XCLAIM", "k", "g", "erin", "0", "0-1", "3-3", "JUSTID", "LASTID", "9-9",
    ],
    &["XAUTOCLAIM", "k", "g", "dave", "0", "0", "COUNT", "3"],
    &["XACK", "k", "g", "1-1", "2-1", "3-1"],
    &["XDEL", "k", "1-1", "1-2", "5-5"],
    &["XADD", "k", "*", "f", "v"],
    &["XADD", "k", "18446744073709551615-*", "f", "v", "n", "1"],
    &["XTRIM", "k", "MINID", "2"],
    &["XTRIM", "k", "MAXLEN", "~", "1"],
    &["XTRIM", "k", "MAXLEN", "1", "LIMIT", "0"],
    &["XSETID", "k", "18446744073709551615-18446744073709551615"],
    &["XGROUP", "SETID", "k", "g", "0", "ENTRIESREAD", "3"],
    &["XGROUP", "CREATECONSUMER", "k", "g", "frank"],
    &["XGROUP", "DELCONSUMER", "k", "g", "alice"],
    &["XGROUP", "CREATE", "k", "h", "$"],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "k", ">"],
    &["XINFO", "STREAM", "k", "FULL"],
    &["XGROUP", "DESTROY", "k", "g"],
    &["XRANGE", "k2", "-", "+"],
    &["XINFO", "STREAM", "k2", "FULL"],
    &["DEBUG", "DIGEST-VALUE", "k", "k2"],
];

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let deep = ctl & 1 != 0;
    let mut payload = Vec::with_capacity(body.len() + 11);
    payload.push(if ctl & 2 != 0 { 15 } else { 19 });
    payload.extend_from_slice(body);
    payload.extend_from_slice(&rdb::RDB_VERSION.to_le_bytes());
    let crc = rdb::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let mode: &[u8] = if deep { b"yes" } else { b"no" };
    let max_entries: &[u8] = match (ctl >> 2) & 3 {
        0 => b"100",
        1 => b"1",
        2 => b"2",
        _ => b"0",
    };

    SRV.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (srv, slot) = guard.get_or_insert_with(|| {
            ferrodis::server::log::set_level(ferrodis::server::log::Level::Warning);
            ferrodis::server::log::set_file("/dev/null");
            ferrodis::util::clock::init();
            let mut cfg = Config::default();
            cfg.load_text(b"save \"\"\nenable-debug-command yes\n")
                .expect("config loads");
            let mut srv = Server::new(cfg);
            let slot = srv.add_detached_client();
            (srv, slot)
        });
        let slot = *slot;
        run(srv, slot, &[b"FLUSHALL"]);
        run(
            srv,
            slot,
            &[b"CONFIG", b"SET", b"sanitize-dump-payload", mode],
        );
        run(
            srv,
            slot,
            &[b"CONFIG", b"SET", b"stream-node-max-entries", max_entries],
        );
        let r = run(srv, slot, &[b"RESTORE", b"k", b"0", &payload]);
        if r != b"+OK\r\n" {
            return;
        }
        // What was accepted round-trips: DUMP, RESTORE in the same mode, same digest.
        let digest = run(srv, slot, &[b"DEBUG", b"DIGEST-VALUE", b"k"]);
        let dump = bulk(&run(srv, slot, &[b"DUMP", b"k"])).expect("DUMP of a stream");
        let r = run(srv, slot, &[b"RESTORE", b"k", b"0", &dump, b"REPLACE"]);
        assert_eq!(
            r, b"+OK\r\n",
            "our own DUMP of an accepted payload is refused"
        );
        assert_eq!(
            run(srv, slot, &[b"DEBUG", b"DIGEST-VALUE", b"k"]),
            digest,
            "the DUMP round trip changed the value"
        );
        // Counters that match the entries: then our writes must keep the stream valid.
        let honest = match srv.dbs[0].dict.peek(b"k").map(|o| &o.value) {
            Some(Value::Stream(s)) => s.counters_agree(),
            _ => panic!("RESTORE answered OK without storing a stream"),
        };
        for cmd in COMMANDS {
            let argv: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            run(srv, slot, &argv);
        }
        if deep && honest {
            for key in [&b"k"[..], b"k2"] {
                let Some(dump) = bulk(&run(srv, slot, &[b"DUMP", key])) else {
                    continue;
                };
                let r = run(srv, slot, &[b"RESTORE", key, b"0", &dump, b"REPLACE"]);
                assert_eq!(
                    r, b"+OK\r\n",
                    "a stream our commands changed fails the deep checks"
                );
            }
        }
    });
});
