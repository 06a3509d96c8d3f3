//! The `bitmap` command group (bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
//! BITFIELD_RO.
//!
//! A bitmap is a string read as bits, most significant bit of byte 0 first: bit `n` lives in
//! byte `n / 8` under the mask `0x80 >> (n % 8)`. Bytes past the end read as zero; writes grow
//! the string with zero bytes first (and make it raw, as Redis's dbUnshareStringValue does).
//! BITFIELD integers are stored big-endian over any bit offset, like SETBIT:
//!
//! ```text
//!  u5 value 23 (10111) at bit offset 7:   byte 0    byte 1
//!                                        0000000 1|0111 0000
//! ```
//!
//! Argument checks and their order follow Redis 7.0 (e.g. BITCOUNT looks the key up before it
//! reads its range, BITFIELD parses every operation before touching the key).

use super::string::{cstr, opt_is, ERR_NOT_INT, ERR_SYNTAX};
use super::{Args, Handler};
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, FLAG_RAW, WRONGTYPE};
use crate::util::num::parse_i64;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("setbit", setbit_command),
    ("getbit", getbit_command),
    ("bitcount", bitcount_command),
    ("bitpos", bitpos_command),
    ("bitop", bitop_command),
    ("bitfield", bitfield_command),
    ("bitfield_ro", bitfield_ro_command),
];

const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// getBitOffsetFromArgument: a bit offset below `proto-max-bulk-len` bytes. With `hash` (BITFIELD)
/// the form `#n` means n * `bits`.
fn bit_offset(arg: &[u8], hash: bool, bits: u32, max: u64) -> Option<u64> {
    let use_hash = hash && bits > 0 && arg.first() == Some(&b'#');
    let digits = if use_hash { &arg[1..] } else { arg };
    let mut n = parse_i64(digits)?;
    if use_hash {
        // Redis multiplies in C, where an overflow wraps on every platform it runs on.
        n = n.wrapping_mul(bits as i64);
    }
    if n < 0 || (n as u64 >> 3) >= max {
        return None;
    }
    Some(n as u64)
}

/// Bit `off` of `s`, zero past the end.
#[inline]
fn get_bit(s: &[u8], off: u64) -> bool {
    match s.get((off >> 3) as usize) {
        Some(&b) => b & (0x80 >> (off & 7)) != 0,
        None => false,
    }
}

/// Sets bit `off` of `s` (which must be long enough; out-of-range writes are ignored).
#[inline]
fn put_bit(s: &mut [u8], off: u64, on: bool) {
    if let Some(b) = s.get_mut((off >> 3) as usize) {
        let mask = 0x80u8 >> (off & 7);
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// lookupStringForBitCommand: finds or creates the string under `key`, grown with zero bytes so
/// bit `maxbit` exists, made raw, and runs `f` on its bytes with "dirty" (created or grown).
/// None after a WRONGTYPE error.
fn with_bit_string<R>(
    srv: &mut Server,
    db: usize,
    out: &mut Reply,
    key: &[u8],
    maxbit: u64,
    f: impl FnOnce(&mut [u8], bool, &mut Reply) -> R,
) -> Option<R> {
    let need = (maxbit >> 3) as usize + 1;
    let lru = srv.lru_clock;
    match srv.lookup_write(db, key) {
        Some(o) => {
            if !o.is_string() {
                out.err(WRONGTYPE);
                return None;
            }
            let Some(s) = o.make_raw() else {
                out.err(WRONGTYPE);
                return None;
            };
            let grown = s.len() < need;
            if grown {
                s.edit(|v| v.resize(need, 0));
            }
            Some(f(s.as_bytes_mut(), grown, out))
        }
        None => {
            let mut v = vec![0u8; need];
            let r = f(&mut v, true, out);
            let mut o = RObj::new(Value::Str(Sds::heap_from_vec(v)), lru);
            o.flags |= FLAG_RAW;
            srv.add_key(db, key, o);
            Some(r)
        }
    }
}

/// SETBIT key offset value: returns the previous bit.
pub fn setbit_command(srv: &mut Server, c: &mut Client, args: &Args) {
    const ERR_BIT: &str = "ERR bit is not an integer or out of range";
    let max = srv.config.proto_max_bulk_len;
    let Some(off) = bit_offset(args.get(2), false, 0, max) else {
        c.out.err(ERR_BIT_OFFSET);
        return;
    };
    let on = match parse_i64(args.get(3)) {
        Some(v) if v & !1 == 0 => v == 1,
        _ => {
            c.out.err(ERR_BIT);
            return;
        }
    };
    let db = c.db;
    let key = args.get(1);
    let Some((old, changed)) = with_bit_string(srv, db, &mut c.out, key, off, |s, dirty, _| {
        let old = get_bit(s, off);
        let changed = dirty || old != on;
        if changed {
            put_bit(s, off, on);
        }
        (old, changed)
    }) else {
        return;
    };
    if changed {
        srv.signal_modified_key(db, key);
        srv.notify_keyspace_event(notify::STRING, "setbit", key, db);
        srv.dirty += 1;
    }
    c.out.int(old as i64);
}

/// GETBIT key offset
pub fn getbit_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let max = srv.config.proto_max_bulk_len;
    let Some(off) = bit_offset(args.get(2), false, 0, max) else {
        c.out.err(ERR_BIT_OFFSET);
        return;
    };
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.int(0);
        return;
    };
    let mut tmp = [0u8; 20];
    match o.str_bytes(&mut tmp) {
        Some(s) => c.out.int(get_bit(s, off) as i64),
        None => c.out.err(WRONGTYPE),
    }
}

/// Number of set bits (redisPopcount), eight bytes at a time.
fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = 0;
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        n += u64::from_ne_bytes(w).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// redisBitpos: position of the first bit equal to `bit` in `s`. The string is taken as
/// zero-padded on the right, so a clear bit is always found (at `8 * len` at worst); -1 when
/// looking for a set bit in an all-zero string.
fn first_bit(s: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0x00 } else { 0xff };
    match s.iter().position(|&b| b != skip) {
        Some(i) => {
            let b = s[i];
            let in_byte = if bit {
                b.leading_zeros()
            } else {
                b.leading_ones()
            };
            (i as i64) * 8 + in_byte as i64
        }
        None if bit => -1,
        None => (s.len() as i64) * 8,
    }
}

/// Whether a BITCOUNT/BITPOS range counts bytes or bits.
fn parse_unit(arg: &[u8]) -> Option<bool> {
    if opt_is(arg, "bit") {
        Some(true)
    } else if opt_is(arg, "byte") {
        Some(false)
    } else {
        None
    }
}

/// A bit range turned into whole bytes plus edge masks: the bits of the first and last byte
/// that fall *outside* the range (BITCOUNT/BITPOS's first/last_byte_neg_mask).
struct ByteRange {
    start: i64,
    end: i64,
    first_neg: u8,
    last_neg: u8,
}

/// Normalises `start..=end` (negative from the end) over `len` bytes, or over `len * 8` bits
/// when `is_bit`, into bytes and edge masks.
fn normalize_range(mut start: i64, mut end: i64, len: i64, is_bit: bool) -> ByteRange {
    let total = if is_bit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_neg, mut last_neg) = (0u8, 0u8);
    if is_bit && start <= end {
        first_neg = !(((1u32 << (8 - (start & 7))) - 1) as u8);
        last_neg = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    ByteRange {
        start,
        end,
        first_neg,
        last_neg,
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        c.out.int(0);
        return;
    };
    let mut tmp = [0u8; 20];
    let Some(s) = o.str_bytes(&mut tmp) else {
        c.out.err(WRONGTYPE);
        return;
    };
    let len = s.len() as i64;
    let r = match args.len() {
        2 => ByteRange {
            start: 0,
            end: len - 1,
            first_neg: 0,
            last_neg: 0,
        },
        4 | 5 => {
            let Some(start) = parse_i64(args.get(2)) else {
                c.out.err(ERR_NOT_INT);
                return;
            };
            let Some(end) = parse_i64(args.get(3)) else {
                c.out.err(ERR_NOT_INT);
                return;
            };
            if start < 0 && end < 0 && start > end {
                c.out.int(0);
                return;
            }
            let mut is_bit = false;
            if args.len() == 5 {
                match parse_unit(args.get(4)) {
                    Some(b) => is_bit = b,
                    None => {
                        c.out.err(ERR_SYNTAX);
                        return;
                    }
                }
            }
            normalize_range(start, end, len, is_bit)
        }
        _ => {
            c.out.err(ERR_SYNTAX);
            return;
        }
    };
    if r.start > r.end {
        c.out.int(0);
        return;
    }
    let (a, b) = (r.start as usize, r.end as usize);
    let mut count = popcount(&s[a..=b]);
    count -= (s[a] & r.first_neg).count_ones() as u64;
    count -= (s[b] & r.last_neg).count_ones() as u64;
    c.out.int(count as i64);
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let Some(bit) = parse_i64(args.get(2)) else {
        c.out.err(ERR_NOT_INT);
        return;
    };
    if bit != 0 && bit != 1 {
        c.out.err("ERR The bit argument must be 1 or 0.");
        return;
    }
    let bit = bit == 1;
    let Some(o) = srv.lookup_read(c.db, args.get(1)) else {
        // A missing key is an infinite run of zero bits.
        c.out.int(if bit { -1 } else { 0 });
        return;
    };
    let mut tmp = [0u8; 20];
    let Some(s) = o.str_bytes(&mut tmp) else {
        c.out.err(WRONGTYPE);
        return;
    };
    let len = s.len() as i64;
    let mut end_given = false;
    let r = match args.len() {
        3 => ByteRange {
            start: 0,
            end: len - 1,
            first_neg: 0,
            last_neg: 0,
        },
        4..=6 => {
            let Some(start) = parse_i64(args.get(3)) else {
                c.out.err(ERR_NOT_INT);
                return;
            };
            let mut is_bit = false;
            if args.len() == 6 {
                match parse_unit(args.get(5)) {
                    Some(b) => is_bit = b,
                    None => {
                        c.out.err(ERR_SYNTAX);
                        return;
                    }
                }
            }
            let end = if args.len() >= 5 {
                let Some(e) = parse_i64(args.get(4)) else {
                    c.out.err(ERR_NOT_INT);
                    return;
                };
                end_given = true;
                e
            } else {
                len - 1
            };
            normalize_range(start, end, len, is_bit)
        }
        _ => {
            c.out.err(ERR_SYNTAX);
            return;
        }
    };
    if r.start > r.end {
        c.out.int(-1);
        return;
    }
    let (pos, bytes, start) = bitpos_in_range(s, &r, bit);
    // With an explicit end, the bits right of the range are not zero padding: a clear bit
    // "found" just past the range means there is none in it.
    if end_given && !bit && pos == (bytes as i64) << 3 {
        c.out.int(-1);
        return;
    }
    let pos = if pos != -1 {
        pos + ((start as i64) << 3)
    } else {
        pos
    };
    c.out.int(pos);
}

/// The search of BITPOS over a non-empty normalised range, edge bytes masked. Returns the
/// position relative to the byte `start` it ended at, the bytes left at that point, and that
/// start, which is what the caller's end-of-range rule needs.
fn bitpos_in_range(s: &[u8], r: &ByteRange, bit: bool) -> (i64, usize, usize) {
    let mut start = r.start as usize;
    let end = r.end as usize;
    let mut bytes = end - start + 1;
    // Out-of-range bits are made the opposite of what we look for.
    let mask = |b: u8, neg: u8| if bit { b & !neg } else { b | neg };
    if r.first_neg != 0 {
        let mut ch = mask(s[start], r.first_neg);
        if r.last_neg != 0 && bytes == 1 {
            ch = mask(ch, r.last_neg);
        }
        let pos = first_bit(&[ch], bit);
        if bytes == 1 || (pos != -1 && pos != 8) {
            return (pos, bytes, start);
        }
        start += 1;
        bytes -= 1;
    }
    let cur = bytes - usize::from(r.last_neg != 0);
    if cur > 0 {
        let pos = first_bit(&s[start..start + cur], bit);
        if bytes == cur || (pos != -1 && pos != (cur as i64) << 3) {
            return (pos, bytes, start);
        }
        start += cur;
        bytes -= cur;
    }
    let ch = mask(s[end], r.last_neg);
    (first_bit(&[ch], bit), bytes, start)
}

/// The operations of BITOP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: returns the result's length.
pub fn bitop_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let name = args.get(1);
    let op = if opt_is(name, "and") {
        BitOp::And
    } else if opt_is(name, "or") {
        BitOp::Or
    } else if opt_is(name, "xor") {
        BitOp::Xor
    } else if opt_is(name, "not") {
        BitOp::Not
    } else {
        c.out.err(ERR_SYNTAX);
        return;
    };
    if op == BitOp::Not && args.len() != 4 {
        c.out
            .err("ERR BITOP NOT must be called with a single source key.");
        return;
    }
    let db = c.db;
    // Lookups first (statistics, lazy expiry, type checks), then read the values together.
    for key in args.iter_from(3) {
        if let Some(o) = srv.lookup_read(db, key) {
            if !o.is_string() {
                c.out.err(WRONGTYPE);
                return;
            }
        }
    }
    let nkeys = args.len() - 3;
    let mut tmps = vec![[0u8; 20]; nkeys];
    let dict = &srv.dbs[db].dict;
    let srcs: Vec<&[u8]> = args
        .iter_from(3)
        .zip(tmps.iter_mut())
        .map(|(k, tmp)| dict.peek(k).and_then(|o| o.str_bytes(tmp)).unwrap_or(b""))
        .collect();
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let result = (maxlen > 0).then(|| bitop_compute(op, &srcs, maxlen));
    drop(srcs);
    let target = args.get(2);
    match result {
        Some(res) => {
            srv.expire_if_needed(db, target);
            let mut o = RObj::new(Value::Str(Sds::heap_from_vec(res)), srv.lru_clock);
            o.flags |= FLAG_RAW;
            srv.set_key(db, target, o, false);
            srv.notify_keyspace_event(notify::STRING, "set", target, db);
            srv.dirty += 1;
        }
        None => {
            if srv.delete_key(db, target) {
                srv.signal_modified_key(db, target);
                srv.notify_keyspace_event(notify::GENERIC, "del", target, db);
                srv.dirty += 1;
            }
        }
    }
    c.out.int(maxlen as i64);
}

/// The bytes of `op` over `srcs`, each zero-padded to `maxlen`.
fn bitop_compute(op: BitOp, srcs: &[&[u8]], maxlen: usize) -> Vec<u8> {
    let mut res = vec![0u8; maxlen];
    res[..srcs[0].len()].copy_from_slice(srcs[0]);
    if op == BitOp::Not {
        for b in res.iter_mut() {
            *b = !*b;
        }
        return res;
    }
    for src in &srcs[1..] {
        let (head, tail) = res.split_at_mut(src.len());
        match op {
            BitOp::And => {
                head.iter_mut().zip(src.iter()).for_each(|(r, s)| *r &= s);
                tail.fill(0);
            }
            BitOp::Or => head.iter_mut().zip(src.iter()).for_each(|(r, s)| *r |= s),
            BitOp::Xor => head.iter_mut().zip(src.iter()).for_each(|(r, s)| *r ^= s),
            BitOp::Not => {}
        }
    }
    res
}

/// BITFIELD overflow behaviours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// BITFIELD operation kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
struct FieldCmd {
    offset: u64,
    value: i64,
    op: FieldOp,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// getBitfieldTypeFromArgument: `i1`..`i64` or `u1`..`u63` (the type prefix is case-sensitive).
fn bitfield_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    // Redis measures the digits with strlen.
    let bits = parse_i64(cstr(&arg[1..]))?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return None;
    }
    Some((signed, bits as u32))
}

/// Reads `bits` bits at `off` as an unsigned integer, zero past the end of `s`.
fn get_unsigned(s: &[u8], off: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        v = (v << 1) | get_bit(s, off + j) as u64;
    }
    v
}

/// Reads `bits` bits at `off` as a two's complement signed integer.
fn get_signed(s: &[u8], off: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(s, off, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        v |= u64::MAX << bits;
    }
    v as i64
}

/// Writes the low `bits` bits of `v` at `off`.
fn set_field(s: &mut [u8], off: u64, bits: u32, v: u64) {
    for j in 0..bits as u64 {
        let bit = v & (1u64 << (bits as u64 - 1 - j)) != 0;
        put_bit(s, off + j, bit);
    }
}

/// checkUnsignedBitfieldOverflow: 0 when `value + incr` fits `bits` unsigned bits, else 1 (over)
/// or -1 (under) with, for WRAP and SAT, the value to store.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, Option<u64>) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrap = || {
        let mask = if bits >= 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
        (1, lim)
    } else if incr < 0 && incr < minincr {
        let lim = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        };
        (-1, lim)
    } else {
        (0, None)
    }
}

/// checkSignedBitfieldOverflow: as `unsigned_overflow` for `bits`-bit two's complement.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, Option<i64>) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let msb = 1u64 << (bits - 1);
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & msb != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        let lim = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        };
        (1, lim)
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        let lim = match ow {
            Overflow::Wrap => Some(wrap()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        };
        (-1, lim)
    } else {
        (0, None)
    }
}

/// Runs a SET or INCRBY on `s`: replies with the old (SET) or new (INCRBY) value, or nil when
/// OVERFLOW FAIL refuses. Returns true when the stored bits changed (or `dirty`).
fn run_field_write(s: &mut [u8], f: &FieldCmd, dirty: bool, out: &mut Reply) -> bool {
    if f.signed {
        let old = get_signed(s, f.offset, f.bits);
        let (overflow, lim, new, ret);
        if f.op == FieldOp::IncrBy {
            (overflow, lim) = signed_overflow(old, f.value, f.bits, f.overflow);
            new = lim.unwrap_or_else(|| old.wrapping_add(f.value));
            ret = new;
        } else {
            (overflow, lim) = signed_overflow(f.value, 0, f.bits, f.overflow);
            new = lim.unwrap_or(f.value);
            ret = old;
        }
        if overflow != 0 && f.overflow == Overflow::Fail {
            out.null();
            return false;
        }
        out.int(ret);
        set_field(s, f.offset, f.bits, new as u64);
        dirty || old != new
    } else {
        let old = get_unsigned(s, f.offset, f.bits);
        let (overflow, lim, new, ret);
        if f.op == FieldOp::IncrBy {
            (overflow, lim) = unsigned_overflow(old, f.value, f.bits, f.overflow);
            new = lim.unwrap_or_else(|| old.wrapping_add(f.value as u64));
            ret = new;
        } else {
            let v = f.value as u64;
            (overflow, lim) = unsigned_overflow(v, 0, f.bits, f.overflow);
            new = lim.unwrap_or(v);
            ret = old;
        }
        if overflow != 0 && f.overflow == Overflow::Fail {
            out.null();
            return false;
        }
        out.int(ret as i64);
        set_field(s, f.offset, f.bits, new);
        dirty || old != new
    }
}

/// Replies with a GET's value read from `s` (zero-padded).
fn run_field_get(s: &[u8], f: &FieldCmd, out: &mut Reply) {
    if f.signed {
        out.int(get_signed(s, f.offset, f.bits));
    } else {
        out.int(get_unsigned(s, f.offset, f.bits) as i64);
    }
}

/// bitfieldGeneric: parses every operation, then runs them in order on one string.
fn bitfield_generic(srv: &mut Server, c: &mut Client, args: &Args, readonly_cmd: bool) {
    let max = srv.config.proto_max_bulk_len;
    let mut ops: Vec<FieldCmd> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = args.get(j);
        let op = if opt_is(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if opt_is(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if opt_is(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy
        } else if opt_is(sub, "overflow") && rem >= 1 {
            let kind = args.get(j + 1);
            overflow = if opt_is(kind, "wrap") {
                Overflow::Wrap
            } else if opt_is(kind, "sat") {
                Overflow::Sat
            } else if opt_is(kind, "fail") {
                Overflow::Fail
            } else {
                c.out.err("ERR Invalid OVERFLOW type specified");
                return;
            };
            j += 2;
            continue;
        } else {
            c.out.err(ERR_SYNTAX);
            return;
        };
        let Some((signed, bits)) = bitfield_type(args.get(j + 1)) else {
            c.out.err(
                "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
            );
            return;
        };
        let Some(offset) = bit_offset(args.get(j + 2), true, bits, max) else {
            c.out.err(ERR_BIT_OFFSET);
            return;
        };
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            let Some(v) = parse_i64(args.get(j + 3)) else {
                c.out.err(ERR_NOT_INT);
                return;
            };
            value = v;
        }
        ops.push(FieldCmd {
            offset,
            value,
            op,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let db = c.db;
    let key = args.get(1);
    if readonly {
        let o = srv.lookup_read(db, key);
        let mut tmp = [0u8; 20];
        let s: &[u8] = match o {
            None => b"",
            Some(o) => match o.str_bytes(&mut tmp) {
                Some(s) => s,
                None => {
                    c.out.err(WRONGTYPE);
                    return;
                }
            },
        };
        c.out.array(ops.len());
        for f in &ops {
            run_field_get(s, f, &mut c.out);
        }
        return;
    }
    if readonly_cmd {
        c.out
            .err("ERR BITFIELD_RO only supports the GET subcommand");
        return;
    }
    let changes = with_bit_string(srv, db, &mut c.out, key, highest_write, |s, dirty, out| {
        out.array(ops.len());
        let mut changes = 0u64;
        for f in &ops {
            if f.op == FieldOp::Get {
                run_field_get(s, f, out);
            } else if run_field_write(s, f, dirty, out) {
                changes += 1;
            }
        }
        changes
    });
    if let Some(n) = changes {
        if n > 0 {
            srv.signal_modified_key(db, key);
            srv.notify_keyspace_event(notify::STRING, "setbit", key, db);
            srv.dirty += n;
        }
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
/// [OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield_command(srv: &mut Server, c: &mut Client, args: &Args) {
    bitfield_generic(srv, c, args, false);
}

/// BITFIELD_RO key [GET type offset ...]: the read-only variant (replicas, scripts).
pub fn bitfield_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    bitfield_generic(srv, c, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets() {
        assert_eq!(bit_offset(b"7", false, 0, 512 << 20), Some(7));
        assert_eq!(bit_offset(b"#3", true, 8, 512 << 20), Some(24));
        assert_eq!(bit_offset(b"#3", false, 8, 512 << 20), None);
        assert_eq!(bit_offset(b"-1", false, 0, 512 << 20), None);
        assert_eq!(bit_offset(b"4294967296", false, 0, 512 << 20), None);
        assert_eq!(
            bit_offset(b"4294967295", false, 0, 512 << 20),
            Some(4294967295)
        );
        assert_eq!(bit_offset(b"#", true, 8, 512 << 20), None);
        assert_eq!(
            bit_offset(b"#9223372036854775807", true, 64, 512 << 20),
            None
        );
    }

    #[test]
    fn types() {
        assert_eq!(bitfield_type(b"i64"), Some((true, 64)));
        assert_eq!(bitfield_type(b"u63"), Some((false, 63)));
        assert_eq!(bitfield_type(b"u64"), None);
        assert_eq!(bitfield_type(b"I8"), None);
        assert_eq!(bitfield_type(b"i0"), None);
        assert_eq!(bitfield_type(b"i"), None);
        assert_eq!(bitfield_type(b"i8\0x"), Some((true, 8)));
    }

    #[test]
    fn field_layout_matches_doc() {
        let mut s = [0u8; 2];
        set_field(&mut s, 7, 5, 23);
        assert_eq!(s, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&s, 7, 5), 23);
        assert_eq!(get_signed(&s, 7, 5), 23 - 32);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), (1, Some(0)));
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Sat), (1, Some(255)));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), (-1, Some(0)));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Wrap), (-1, Some(255)));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), (1, Some(-128)));
        assert_eq!(
            signed_overflow(-128, -1, 8, Overflow::Sat),
            (-1, Some(-128))
        );
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (1, Some(i64::MIN))
        );
        assert_eq!(signed_overflow(5, 0, 64, Overflow::Fail), (0, None));
    }

    #[test]
    fn bitpos_scan() {
        assert_eq!(first_bit(&[0, 0, 0x10], true), 19);
        assert_eq!(first_bit(&[0, 0], true), -1);
        assert_eq!(first_bit(&[0xff, 0xff], false), 16);
        assert_eq!(first_bit(&[0xff, 0xfe], false), 15);
        assert_eq!(first_bit(&[], false), 0);
    }

    proptest! {
        #[test]
        fn popcount_model(v in proptest::collection::vec(any::<u8>(), 0..100)) {
            let want: u64 = v.iter().map(|b| b.count_ones() as u64).sum();
            prop_assert_eq!(popcount(&v), want);
        }

        #[test]
        fn field_roundtrip(off in 0u64..64, bits in 1u32..=64, v in any::<u64>()) {
            let mut s = [0u8; 17];
            set_field(&mut s, off, bits, v);
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            prop_assert_eq!(get_unsigned(&s, off, bits), v & mask);
        }
    }
}
