//! The `hyperloglog` command group (hyperloglog.c's commands): PFADD, PFCOUNT, PFMERGE,
//! PFDEBUG, PFSELFTEST. The representation lives in `types/hll.rs`; an HLL is a plain string
//! value, so these handlers only find the string, check that it holds an HLL, and let the type
//! edit its bytes.
//!
//! As in Redis, PFCOUNT of one key refreshes the cached cardinality inside the value, which is a
//! write: it bumps `dirty` (and so travels to the AOF as written) though the command is
//! read-only; PFDEBUG GETREG/TODENSE do the same when they convert a sparse value.

use super::{Args, Handler};
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::hll;
use crate::types::object::{RObj, Value, FLAG_RAW, WRONGTYPE};

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("pfadd", pfadd_command),
    ("pfcount", pfcount_command),
    ("pfmerge", pfmerge_command),
    ("pfdebug", pfdebug_command),
    ("pfselftest", pfselftest_command),
];

/// Redis's invalid_hll_err.
const ERR_INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";
/// isHLLObjectOrReply's error for a string that is not an HLL.
const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

/// isHLLObjectOrReply: true when `o` is a string holding a well-formed HLL header; otherwise
/// replies (WRONGTYPE for another type, the HLL error for another string, int-encoded ones
/// included) and returns false.
fn is_hll_or_reply(o: &RObj, out: &mut Reply) -> bool {
    match &o.value {
        Value::Str(s) if hll::is_valid(s.as_bytes()) => true,
        Value::Str(_) | Value::Int(_) => {
            out.err(ERR_NOT_HLL);
            false
        }
        _ => {
            out.err(WRONGTYPE);
            false
        }
    }
}

/// A new HLL value object (createHLLObject: a raw string holding an empty sparse HLL).
fn new_hll_object(v: Vec<u8>, lru: u32) -> RObj {
    let mut o = RObj::new(Value::Str(Sds::heap_from_vec(v)), lru);
    o.flags |= FLAG_RAW;
    o
}

/// PFADD key [element ...]: 1 when a register changed (or the key was created), else 0.
fn pfadd_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let key = args.get(1);
    let max_bytes = srv.config.hll_sparse_max_bytes;
    let lru = srv.lru_clock;
    let mut updated = 0u64;
    let mut corrupt = false;
    let add_all = |v: &mut Vec<u8>, updated: &mut u64, corrupt: &mut bool| {
        for ele in args.iter_from(2) {
            match hll::add(v, ele, max_bytes) {
                Ok(true) => *updated += 1,
                Ok(false) => {}
                Err(hll::Corrupt) => {
                    *corrupt = true;
                    return;
                }
            }
        }
    };
    match srv.lookup_write(db, key) {
        None => {
            let mut v = hll::new_sparse();
            updated += 1;
            add_all(&mut v, &mut updated, &mut corrupt);
            if !corrupt {
                hll::invalidate_cache(&mut v);
            }
            srv.add_key(db, key, new_hll_object(v, lru));
        }
        Some(o) => {
            if !is_hll_or_reply(o, &mut c.out) {
                return;
            }
            let Some(s) = o.make_raw() else { return };
            if hll::encoding(s.as_bytes()) == hll::DENSE {
                // A dense value never changes length: edit its bytes where they are.
                let b = s.as_bytes_mut();
                for ele in args.iter_from(2) {
                    if hll::dense_add(b, ele) {
                        updated += 1;
                    }
                }
                if updated > 0 {
                    hll::invalidate_cache(b);
                }
            } else {
                s.edit(|v| {
                    add_all(v, &mut updated, &mut corrupt);
                    if updated > 0 && !corrupt {
                        hll::invalidate_cache(v);
                    }
                });
            }
        }
    }
    if corrupt {
        c.out.err(ERR_INVALID);
        return;
    }
    if updated > 0 {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::STRING, "pfadd", key, db);
        srv.dirty += updated;
    }
    c.out.int((updated > 0) as i64);
}

/// PFCOUNT key [key ...]: one key answers from (and refreshes) its cached cardinality; several
/// keys answer the cardinality of their union.
fn pfcount_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    if args.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in args.iter_from(1) {
            let Some(o) = srv.lookup_read(db, key) else {
                continue;
            };
            if !is_hll_or_reply(o, &mut c.out) {
                return;
            }
            let Value::Str(s) = &o.value else { return };
            if hll::merge_into(&mut max, s.as_bytes()).is_err() {
                c.out.err(ERR_INVALID);
                return;
            }
        }
        c.out.int(hll::count_registers(&max) as i64);
        return;
    }
    let key = args.get(1);
    let Some(o) = srv.lookup_read(db, key) else {
        c.out.int(0);
        return;
    };
    if !is_hll_or_reply(o, &mut c.out) {
        return;
    }
    let Some(s) = o.make_raw() else { return };
    let b = s.as_bytes_mut();
    if let Some(card) = hll::cached_card(b) {
        c.out.int(card as i64);
        return;
    }
    let Ok(card) = hll::count(b) else {
        c.out.err(ERR_INVALID);
        return;
    };
    hll::set_cached_card(b, card);
    srv.signal_modified_key(db, key);
    srv.dirty += 1;
    c.out.int(card as i64);
}

/// PFMERGE destkey [sourcekey ...]: the destination (itself one of the inputs) becomes the
/// union; dense when any input is dense.
fn pfmerge_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let max_bytes = srv.config.hll_sparse_max_bytes;
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in args.iter_from(1) {
        let Some(o) = srv.lookup_read(db, key) else {
            continue;
        };
        if !is_hll_or_reply(o, &mut c.out) {
            return;
        }
        let Value::Str(s) = &o.value else { return };
        if hll::encoding(s.as_bytes()) == hll::DENSE {
            use_dense = true;
        }
        if hll::merge_into(&mut max, s.as_bytes()).is_err() {
            c.out.err(ERR_INVALID);
            return;
        }
    }
    let dst = args.get(1);
    let lru = srv.lru_clock;
    let fresh = match srv.lookup_write(db, dst) {
        None => Some(hll::new_sparse()),
        Some(_) => None,
    };
    let failed = match fresh {
        Some(mut v) => {
            let failed = use_dense && hll::sparse_to_dense(&mut v).is_err();
            if !failed {
                hll::store_registers(&mut v, &max, max_bytes);
            }
            srv.add_key(db, dst, new_hll_object(v, lru));
            failed
        }
        None => {
            let Some(o) = srv.lookup_write(db, dst) else {
                return;
            };
            let Some(s) = o.make_raw() else { return };
            s.edit(|v| {
                if use_dense && hll::sparse_to_dense(v).is_err() {
                    return true;
                }
                hll::store_registers(v, &max, max_bytes);
                false
            })
        }
    };
    if failed {
        c.out.err(ERR_INVALID);
        return;
    }
    srv.signal_modified_key(db, dst);
    srv.notify_keyspace_event(notify::STRING, "pfadd", dst, db);
    srv.dirty += 1;
    c.out.ok();
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let db = c.db;
    let sub = super::string::cstr(args.get(1));
    let Some(o) = srv.lookup_write(db, args.get(2)) else {
        c.out.err("ERR The specified key does not exist");
        return;
    };
    if !is_hll_or_reply(o, &mut c.out) {
        return;
    }
    let Some(s) = o.make_raw() else { return };
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    if is("getreg") || is("todense") {
        let was_sparse = hll::encoding(s.as_bytes()) == hll::SPARSE;
        if was_sparse && s.edit(hll::sparse_to_dense).is_err() {
            c.out.err(ERR_INVALID);
            return;
        }
        if is("getreg") {
            let regs = &s.as_bytes()[hll::HDR_SIZE..];
            c.out.array(hll::REGISTERS);
            for i in 0..hll::REGISTERS {
                c.out.int(hll::dense_get(regs, i) as i64);
            }
        } else {
            c.out.int(was_sparse as i64);
        }
        if was_sparse {
            srv.dirty += 1;
        }
    } else if is("decode") {
        if hll::encoding(s.as_bytes()) != hll::SPARSE {
            c.out.err("ERR HLL encoding is not sparse");
            return;
        }
        c.out.bulk(hll::decode_sparse(s.as_bytes()).as_bytes());
    } else if is("encoding") {
        c.out.simple(if hll::encoding(s.as_bytes()) == hll::DENSE {
            "dense"
        } else {
            "sparse"
        });
    } else {
        c.out.err(&format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        ));
    }
}

/// PFSELFTEST
fn pfselftest_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let rand = || crate::util::rand::next_u64() as u32 & 0x7fff_ffff;
    match hll::selftest(srv.config.hll_sparse_max_bytes, rand) {
        Ok(()) => c.out.ok(),
        Err(e) => c.out.err(&format!("ERR {e}")),
    }
}
