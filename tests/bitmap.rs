//! Differential tests of the `bitmap` command group against the oracle redis-server: SETBIT,
//! GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO with their options, errors and
//! edge cases, each script run in RESP2 and again after HELLO 3.

mod common;

use common::*;

/// Runs `script` on a fresh pair in RESP2, then flushes and runs it again in RESP3.
fn both_protocols(script: &str) {
    let mut d = Diff::new();
    d.run(script);
    d.cmd(&["FLUSHALL"]);
    let _ = d.both(&["HELLO", "3"]);
    d.run(script);
}

#[test]
fn setbit_getbit() {
    both_protocols(
        r##"
        SETBIT b 7 1
        GET b
        OBJECT ENCODING b
        SETBIT b 7 1
        SETBIT b 7 0
        SETBIT b 0 1
        GET b
        GETBIT b 0
        GETBIT b 1
        GETBIT b 7
        GETBIT b 1000
        GETBIT nokey 5
        SETBIT b 100 1
        STRLEN b
        GETBIT b 100
        SET n 12
        GETBIT n 2
        GETBIT n 3
        GETBIT n 10
        OBJECT ENCODING n
        SETBIT n 0 0
        OBJECT ENCODING n
        GET n
        SET e hi
        OBJECT ENCODING e
        SETBIT e 1 1
        OBJECT ENCODING e
        SET t v EX 100
        SETBIT t 3 1
        TTL t
        SETBIT b -1 1
        SETBIT b abc 1
        SETBIT b 1.5 1
        SETBIT b 4294967296 1
        SETBIT b 1 2
        SETBIT b 1 -1
        SETBIT b 1 x
        SETBIT b 1 ""
        SETBIT b "" 1
        GETBIT b -1
        GETBIT b x
        GETBIT b 4294967296
        GETBIT b 4294967295
        SETBIT b 1
        GETBIT b
        SETBIT b 1 1 1
        "##,
    );
}

#[test]
fn bitcount_ranges() {
    both_protocols(
        r##"
        SET s foobar
        BITCOUNT s
        BITCOUNT s 0 0
        BITCOUNT s 1 1
        BITCOUNT s 0 -1
        BITCOUNT s -2 -1
        BITCOUNT s -1 -2
        BITCOUNT s -100 -200
        BITCOUNT s -100 100
        BITCOUNT s 100 200
        BITCOUNT s 5 30
        BITCOUNT s 1 1 BYTE
        BITCOUNT s 5 30 BIT
        BITCOUNT s 0 -1 bit
        BITCOUNT s 3 3 BIT
        BITCOUNT s 1 6 BIT
        BITCOUNT s -7 -2 BIT
        BITCOUNT s 9 7 BIT
        BITCOUNT s 0 1000 BIT
        BITCOUNT s 1
        BITCOUNT s 0 1 FOO
        BITCOUNT s 0 1 BIT extra
        BITCOUNT s a 1
        BITCOUNT s 0 b
        BITCOUNT s -9223372036854775808 9223372036854775807
        BITCOUNT s -9223372036854775808 9223372036854775807 BIT
        BITCOUNT nokey
        BITCOUNT nokey 0 -1
        BITCOUNT nokey a b c d
        BITCOUNT nokey 1
        SET n 1234
        BITCOUNT n
        BITCOUNT n 1 2
        SET e ""
        BITCOUNT e
        BITCOUNT e 0 -1
        BITCOUNT e 0 -1 BIT
        BITCOUNT
        "##,
    );
}

#[test]
fn bitpos_ranges() {
    both_protocols(
        r##"
        SET s "\xff\xf0\x00"
        BITPOS s 0
        BITPOS s 1
        BITPOS s 0 1
        BITPOS s 1 2
        BITPOS s 0 2 -1
        BITPOS s 1 2 -1
        BITPOS s 0 0 0
        BITPOS s 1 0 0
        BITPOS s 0 7 15 BIT
        BITPOS s 0 0 11 BIT
        BITPOS s 0 0 12 BIT
        BITPOS s 1 12 23 BIT
        BITPOS s 1 16 -1 BIT
        BITPOS s 0 16 -1 BIT
        BITPOS s 1 3 5 BIT
        BITPOS s 0 3 5 BYTE
        BITPOS s 1 -5 -1 bit
        BITPOS s 0 100 200
        BITPOS s 1 -100 -50
        BITPOS s 0 5 1
        SET ones "\xff\xff\xff"
        BITPOS ones 0
        BITPOS ones 0 0
        BITPOS ones 0 0 -1
        BITPOS ones 0 0 -1 BIT
        BITPOS ones 1 0 -1 BIT
        BITPOS ones 0 3 9 BIT
        SET zeros "\x00\x00"
        BITPOS zeros 1
        BITPOS zeros 0
        BITPOS zeros 1 0 -1
        BITPOS zeros 1 0 -1 BIT
        BITPOS zeros 1 2 9 BIT
        SET mix "\x00\x01\x80"
        BITPOS mix 1 0 15 BIT
        BITPOS mix 1 1 1
        BITPOS mix 1 9 16 BIT
        BITPOS mix 1 16 16 BIT
        BITPOS mix 1 17 23 BIT
        BITPOS mix 0 8 15 BIT
        SET n 12
        BITPOS n 1
        BITPOS n 0
        SET e ""
        BITPOS e 1
        BITPOS e 0
        BITPOS e 0 0
        BITPOS e 0 0 -1
        BITPOS nokey 1
        BITPOS nokey 0
        BITPOS nokey 0 abc
        BITPOS nokey 2
        BITPOS s 2
        BITPOS s -1
        BITPOS s x
        BITPOS s 1 abc
        BITPOS s 1 0 abc
        BITPOS s 1 0 abc foo
        BITPOS s 1 0 1 FOO
        BITPOS s 1 0 1 BIT extra
        BITPOS s 1 -9223372036854775808 9223372036854775807
        BITPOS s 0 -9223372036854775808 9223372036854775807 BIT
        BITPOS s
        "##,
    );
}

#[test]
fn bitop_operations() {
    both_protocols(
        r##"
        SET a "\xff\x0f"
        SET b "\xf0\xff\x55"
        BITOP AND d a b
        GET d
        OBJECT ENCODING d
        BITOP OR d a b
        GET d
        BITOP XOR d a b
        GET d
        BITOP NOT d a
        GET d
        BITOP NOT d b
        GET d
        BITOP and d a b nokey
        GET d
        BITOP or d a nokey
        GET d
        BITOP xor d a a
        GET d
        BITOP AND d nokey nokey2
        EXISTS d
        BITOP NOT d nokey
        EXISTS d
        SET d x
        BITOP OR d nokey
        EXISTS d
        BITOP NOT d a b
        BITOP FOO d a
        BITOP ANDX d a
        BITOP "and\x00x" d a b
        GET d
        SET n 12
        BITOP OR d n a
        GET d
        SET t v EX 100
        BITOP OR t a
        TTL t
        SET same "\x01"
        BITOP NOT same same
        GET same
        BITOP AND d
        BITOP
        "##,
    );
}

#[test]
fn bitop_long_inputs() {
    let mut d = Diff::new();
    let a: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let b: Vec<u8> = (0..777u32).map(|i| (i * 13 + 1) as u8).collect();
    let c: Vec<u8> = (0..1500u32).map(|i| (i * 31 + 5) as u8).collect();
    d.cmd(&[&b"SET"[..], &b"a"[..], &a[..]]);
    d.cmd(&[&b"SET"[..], &b"b"[..], &b[..]]);
    d.cmd(&[&b"SET"[..], &b"c"[..], &c[..]]);
    for op in ["AND", "OR", "XOR"] {
        d.cmd(&["BITOP", op, "dest", "a", "b", "c"]);
        d.cmd(&["GET", "dest"]);
        d.cmd(&["BITCOUNT", "dest"]);
        d.cmd(&["BITPOS", "dest", "0"]);
        d.cmd(&["BITPOS", "dest", "1", "500", "-1"]);
    }
    d.cmd(&["BITOP", "NOT", "dest", "c"]);
    d.cmd(&["GET", "dest"]);
    d.cmd(&["BITCOUNT", "a", "3", "900"]);
    d.cmd(&["BITCOUNT", "a", "13", "7001", "BIT"]);
    d.cmd(&["BITPOS", "c", "1", "77", "9000", "BIT"]);
}

#[test]
fn bitfield_operations() {
    both_protocols(
        r##"
        BITFIELD bf SET u8 0 255 GET u8 0
        GET bf
        OBJECT ENCODING bf
        BITFIELD bf GET u4 0 GET u4 4 GET i4 0 GET i8 0 GET u1 7
        BITFIELD bf INCRBY u8 0 1
        BITFIELD bf INCRBY u8 0 1
        BITFIELD bf OVERFLOW SAT INCRBY u8 0 300 INCRBY u8 0 -300
        BITFIELD bf OVERFLOW FAIL INCRBY u8 0 300 GET u8 0
        BITFIELD bf OVERFLOW WRAP INCRBY u8 0 300
        BITFIELD bf SET i8 0 -128 INCRBY i8 0 -1
        BITFIELD bf OVERFLOW SAT SET i8 0 -200 GET i8 0
        BITFIELD bf OVERFLOW SAT SET i8 0 200 GET i8 0
        BITFIELD bf OVERFLOW FAIL SET i8 0 200 GET i8 0
        BITFIELD bf OVERFLOW WRAP SET i8 0 200 GET i8 0
        BITFIELD bf OVERFLOW SAT SET u8 0 -1 GET u8 0
        BITFIELD bf OVERFLOW FAIL SET u8 0 -1
        BITFIELD bf SET u8 0 -1 GET u8 0
        BITFIELD bf SET i64 0 -1 GET i64 0 GET u63 0 GET u63 1
        BITFIELD bf OVERFLOW WRAP INCRBY i64 0 9223372036854775807
        BITFIELD bf OVERFLOW SAT INCRBY i64 0 9223372036854775807 INCRBY i64 0 9223372036854775807
        BITFIELD bf OVERFLOW FAIL INCRBY i64 0 1
        BITFIELD bf OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808
        BITFIELD bf OVERFLOW WRAP INCRBY i64 0 -9223372036854775808
        BITFIELD bf SET u63 0 9223372036854775807 INCRBY u63 0 1
        BITFIELD bf OVERFLOW SAT INCRBY u63 0 -9223372036854775808
        BITFIELD bf SET u5 7 23 GET u5 7 GET u16 0
        BITFIELD bf SET i3 "#2" 3 GET i3 "#2" GET u3 "#2" INCRBY i3 "#2" 1
        BITFIELD bf INCRBY i3 "#2" -9
        BITFIELD bf OVERFLOW SAT INCRBY i3 "#2" -9 OVERFLOW WRAP INCRBY i3 "#2" -9
        BITFIELD bf GET u8 1000
        STRLEN bf
        BITFIELD bf SET u8 1000 1
        STRLEN bf
        BITFIELD new OVERFLOW FAIL INCRBY u8 80 1000
        STRLEN new
        GET new
        BITFIELD new2 GET u8 0
        EXISTS new2
        BITFIELD new2 OVERFLOW SAT
        EXISTS new2
        BITFIELD new2
        BITFIELD n
        SET n 1234
        BITFIELD n GET u8 0 GET i16 4
        OBJECT ENCODING n
        BITFIELD n SET u8 0 49
        OBJECT ENCODING n
        GET n
        SET t v EX 100
        BITFIELD t SET u8 0 1
        TTL t
        BITFIELD bf GET u64 0
        BITFIELD bf GET i65 0
        BITFIELD bf GET i0 0
        BITFIELD bf GET I8 0
        BITFIELD bf GET x8 0
        BITFIELD bf GET i 0
        BITFIELD bf GET "i8\x00x" 0
        BITFIELD bf GET u8 -1
        BITFIELD bf GET u8 x
        BITFIELD bf GET u8 "#x"
        BITFIELD bf GET u8 "#-1"
        BITFIELD bf GET u8 4294967296
        BITFIELD bf GET u8 "#536870912"
        BITFIELD bf GET u8 "#536870911"
        BITFIELD bf SET u8 0 x
        BITFIELD bf SET u8 0
        BITFIELD bf INCRBY u8 0
        BITFIELD bf GET u8
        BITFIELD bf FOO
        BITFIELD bf OVERFLOW
        BITFIELD bf OVERFLOW FOO GET u8 0
        BITFIELD bf GET u8 0 FOO
        BITFIELD bf GET u8 0 OVERFLOW foo
        BITFIELD bf get u8 0 set u8 0 1 incrby u8 0 1 overflow fail
        BITFIELD bf SET u8 0 1 GET u64 0
        BITFIELD
        "##,
    );
}

#[test]
fn bitfield_ro() {
    both_protocols(
        r##"
        SET k "\x01\x02\x03"
        BITFIELD_RO k GET u8 0 GET u8 8 GET i16 8 GET u8 24
        BITFIELD_RO k
        BITFIELD_RO nokey GET u8 0
        EXISTS nokey
        BITFIELD_RO k SET u8 0 1
        BITFIELD_RO k GET u8 0 INCRBY u8 0 1
        BITFIELD_RO k SET u8 0 1 GET u8 0 FOO
        BITFIELD_RO k SET u64 0 1
        BITFIELD_RO k OVERFLOW SAT GET u8 0
        BITFIELD_RO k GET u8 0 foo
        GET k
        BITFIELD_RO
        "##,
    );
}

#[test]
fn bitmap_size_limit() {
    let mut d = Diff::with_args(&["--proto-max-bulk-len", "1mb"]);
    d.run(
        r##"
        SETBIT k 8388608 1
        SETBIT k 8388607 1
        STRLEN k
        GETBIT k 8388608
        GETBIT k 8388607
        BITFIELD k GET u8 8388608
        BITFIELD k GET u8 8388600
        BITFIELD k SET u8 "#1048576" 1
        BITFIELD k SET u8 "#1048575" 1
        BITCOUNT k
        BITPOS k 1 -1
        BITPOS k 1 -2 -1 BIT
        "##,
    );
}

#[test]
fn wrong_type_errors() {
    let mut d = Diff::new();
    let r = d.ferrodis.cmd(&["LPUSH", "__probe_list", "x"]);
    let _ = d.ferrodis.cmd(&["DEL", "__probe_list"]);
    if r.starts_with(b"-") {
        eprintln!("skipped: ferrodis has no list type yet");
        return;
    }
    d.run(
        r##"
        LPUSH l x
        SET s abc
        SETBIT l 0 1
        SETBIT l -1 1
        GETBIT l 0
        GETBIT l x
        BITCOUNT l
        BITCOUNT l 1
        BITCOUNT l a b
        BITPOS l 1
        BITPOS l 2
        BITPOS l 1 x
        BITOP AND d s l
        BITOP NOT d l
        BITOP FOO d l
        BITOP AND l s
        LRANGE l 0 -1
        BITFIELD l GET u8 0
        BITFIELD l SET u8 0 1
        BITFIELD l FOO
        BITFIELD_RO l GET u8 0
        BITFIELD_RO l SET u8 0 1
        "##,
    );
}
