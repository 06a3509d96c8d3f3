//! Differential tests of the `string` command group against the oracle redis-server: every
//! command, its options, its error cases (in Redis's checking order) and the OBJECT ENCODING it
//! leaves behind, each script run in RESP2 and again after HELLO 3.

mod common;

use common::*;
use std::thread::sleep;
use std::time::Duration;

/// Runs `script` on a fresh pair in RESP2, then flushes and runs it again in RESP3.
fn both_protocols(script: &str) {
    let mut d = Diff::new();
    d.run(script);
    d.cmd(&["FLUSHALL"]);
    let _ = d.both(&["HELLO", "3"]);
    d.run(script);
}

/// True when ferrodis knows LPUSH, so WRONGTYPE paths can be exercised with a list key.
fn has_lists(d: &mut Diff) -> bool {
    let r = d.ferrodis.cmd(&["LPUSH", "__probe_list", "x"]);
    let _ = d.ferrodis.cmd(&["DEL", "__probe_list"]);
    !r.starts_with(b"-")
}

#[test]
fn get_set_basics_and_encodings() {
    both_protocols(
        r##"
        GET nokey
        SET k v
        GET k
        OBJECT ENCODING k
        SET n 12345
        OBJECT ENCODING n
        GET n
        SET n -9223372036854775808
        OBJECT ENCODING n
        SET n 9223372036854775808
        OBJECT ENCODING n
        SET n 0123
        OBJECT ENCODING n
        SET n "+1"
        OBJECT ENCODING n
        SET n " 1"
        OBJECT ENCODING n
        SET n -0
        OBJECT ENCODING n
        SET e ""
        GET e
        OBJECT ENCODING e
        SET s44 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING s44
        SET s45 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        OBJECT ENCODING s45
        SET bin "a\x00b\r\nc"
        GET bin
        STRLEN bin
        SET k v extra
        SET k
        GET
        GET a b
        "##,
    );
}

#[test]
fn set_options_and_their_conflicts() {
    both_protocols(
        r##"
        SET k v NX
        SET k v2 NX
        GET k
        SET k v3 XX
        GET k
        SET missing v XX
        EXISTS missing
        SET k v NX XX
        SET k v XX NX
        SET k v nx nx
        SET k v xx xx
        SET k v GET
        SET k v2 get GET
        SET missing2 v GET
        SET missing3 v NX GET
        SET missing3 other NX GET
        GET missing3
        SET missing4 v XX GET
        EXISTS missing4
        SET k v EX 100
        TTL k
        SET k v KEEPTTL
        TTL k
        SET k v
        TTL k
        SET k v PX 100000
        TTL k
        SET k v EX 10 EX 20
        TTL k
        SET k v PX 10 PX 20000
        TTL k
        SET k v EX 10 PX 10
        SET k v PX 10 EX 10
        SET k v EX 10 KEEPTTL
        SET k v KEEPTTL EX 10
        SET k v EX 10 EXAT 99999999999
        SET k v EXAT 99999999999 PXAT 99999999999000
        SET k v PXAT 99999999999000 EX 1
        SET k v EXAT 99999999999
        TTL k
        SET k v PXAT 99999999999000
        TTL k
        SET k v PERSIST
        SET k v EX
        SET k v PX
        SET k v EXAT
        SET k v PXAT
        SET k v FOO
        SET k v "nx\x00junk"
        SET k v "NXX"
        SET k v EX abc
        SET k v EX 1.5
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v EXAT 0
        SET k v PXAT -5
        SET k v EX 9223372036854775807
        SET k v EX 9223372036854775
        SET k v EX 9223372036854
        TTL k
        SET k v PX 9223372036854775807
        SET k v EXAT 9223372036854775
        SET k v PXAT 9223372036854775807
        SET k v EX 99999999999999999999
        SET k v nx ex 0
        SET k v ex 100 get
        SET k v ex 0 get
        GET k
        "##,
    );
}

#[test]
fn set_variants() {
    both_protocols(
        r##"
        SETNX k v
        SETNX k v2
        GET k
        OBJECT ENCODING k
        SETNX n 123
        OBJECT ENCODING n
        SETEX k 100 v
        TTL k
        SETEX k 0 v
        SETEX k -1 v
        SETEX k abc v
        SETEX k 9223372036854775807 v
        SETEX k 100 12
        OBJECT ENCODING k
        PSETEX k 100000 v
        TTL k
        PSETEX k 0 v
        PSETEX k -10 v
        PSETEX k x v
        PSETEX k 9223372036854775807 v
        GETSET k new
        GET k
        TTL k
        GETSET missing v
        GET missing
        GETSET k 77
        OBJECT ENCODING k
        SETNX
        SETEX k 10
        GETSET k
        "##,
    );
}

#[test]
fn expiry_is_honoured() {
    let mut d = Diff::new();
    d.run(
        r##"
        SET a v PX 500
        PSETEX b 500 v
        SET c v PX 500
        GETEX c PX 500
        SET keep v PX 500
        SET keep v2 KEEPTTL
        "##,
    );
    // The margins let the script above stall for half a second on a loaded machine and
    // still run before anything expires.
    sleep(Duration::from_millis(1000));
    d.run(
        r##"
        GET a
        GET b
        GET c
        GET keep
        SET a again NX
        GET a
        "##,
    );
}

#[test]
fn getex_and_getdel() {
    both_protocols(
        r##"
        GETEX nokey
        GETEX nokey EX abc
        GETEX nokey EX 0
        GETEX nokey FOO
        SET k v
        GETEX k
        TTL k
        GETEX k EX 100
        TTL k
        GETEX k PX 200000
        TTL k
        GETEX k EXAT 99999999999
        TTL k
        GETEX k PXAT 99999999999000
        TTL k
        GETEX k PERSIST
        TTL k
        GETEX k PERSIST
        GETEX k EX 100 PERSIST
        GETEX k PERSIST EX 100
        GETEX k EX 10 PX 10
        GETEX k EX
        GETEX k KEEPTTL
        GETEX k NX
        GETEX k GET
        GETEX k EX abc
        GETEX k EX 0
        GETEX k EX -5
        GETEX k PX 9223372036854775807
        GETEX k EX 9223372036854775807
        GETEX k "persist\x00x"
        TTL k
        GETEX k EXAT 1
        EXISTS k
        SET k v
        GETEX k PXAT 1
        EXISTS k
        SET n 10
        GETEX n EX 100
        OBJECT ENCODING n
        GETDEL nokey
        SET k v
        GETDEL k
        EXISTS k
        GETDEL k
        SET n 42
        GETDEL n
        GETEX
        GETDEL
        GETDEL a b
        "##,
    );
}

#[test]
fn mget_mset_msetnx() {
    both_protocols(
        r##"
        MSET a 1 b 2 c hello
        MGET a b c nokey
        OBJECT ENCODING a
        OBJECT ENCODING c
        MSET a
        MSET a 1 b
        MSETNX x 1 y 2
        MGET x y
        MSETNX x 1 z 3
        EXISTS z
        MSETNX z
        MSETNX z 1 w
        MSET dup 1 dup 2
        GET dup
        SET t v EX 100
        MSET t v2
        TTL t
        MGET
        MSET
        "##,
    );
}

#[test]
fn append_strlen_setrange_getrange() {
    both_protocols(
        r##"
        APPEND k hello
        OBJECT ENCODING k
        APPEND k " world"
        GET k
        OBJECT ENCODING k
        STRLEN k
        APPEND n 123
        OBJECT ENCODING n
        APPEND n ""
        OBJECT ENCODING n
        GET n
        SET n 1000
        APPEND n 1
        GET n
        STRLEN n
        STRLEN nokey
        SET i -123
        STRLEN i
        SET t v EX 100
        APPEND t x
        TTL t
        SETRANGE s 5 abc
        GET s
        OBJECT ENCODING s
        STRLEN s
        SETRANGE s 0 XY
        GET s
        SETRANGE s 1 ""
        SETRANGE s 9223372036854775807 ""
        SETRANGE nokey2 3 ""
        SETRANGE nokey2 9223372036854775807 ""
        EXISTS nokey2
        SETRANGE s -1 x
        SETRANGE s abc x
        SETRANGE s 1.5 x
        SETRANGE s 9223372036854775807 x
        SETRANGE s 536870912 x
        SETRANGE new 536870912 x
        SETRANGE new 536870911 ""
        SET n 12345
        SETRANGE n 1 ""
        OBJECT ENCODING n
        SETRANGE n 1 9
        GET n
        OBJECT ENCODING n
        SET e hello
        OBJECT ENCODING e
        SETRANGE e 0 H
        OBJECT ENCODING e
        SET g "Hello World"
        GETRANGE g 0 4
        GETRANGE g -5 -1
        GETRANGE g 0 -1
        GETRANGE g 0 100
        GETRANGE g 5 2
        GETRANGE g -1 -5
        GETRANGE g -100 -200
        GETRANGE g 0 -100
        GETRANGE g -100 3
        GETRANGE g 100 200
        GETRANGE g -9223372036854775808 9223372036854775807
        GETRANGE g 9223372036854775807 9223372036854775807
        GETRANGE g a 1
        GETRANGE g 1 b
        GETRANGE nokey 0 -1
        GETRANGE nokey a b
        SET num 1234567
        GETRANGE num 2 4
        GETRANGE num -3 -1
        SET empty ""
        GETRANGE empty 0 -1
        GETRANGE empty -1 0
        SUBSTR g 0 4
        SUBSTR g -3 -1
        SUBSTR nokey 0 1
        SUBSTR g x 1
        APPEND k
        STRLEN
        SETRANGE k 1
        GETRANGE k 1
        "##,
    );
}

#[test]
fn string_length_limit() {
    let mut d = Diff::with_args(&["--proto-max-bulk-len", "1mb"]);
    d.run(
        r##"
        SETRANGE k 1048575 x
        STRLEN k
        SETRANGE k 1048576 x
        SETRANGE k 1048575 xy
        APPEND k y
        STRLEN k
        SETRANGE k2 1048576 x
        EXISTS k2
        "##,
    );
}

#[test]
fn incr_decr_family() {
    both_protocols(
        r##"
        INCR c
        OBJECT ENCODING c
        INCR c
        INCRBY c 10
        DECR c
        DECRBY c 5
        DECRBY c -5
        INCRBY c -100
        GET c
        OBJECT ENCODING c
        SET c 10
        INCR c
        OBJECT ENCODING c
        SET c 9999
        INCR c
        OBJECT ENCODING c
        APPEND r 5
        APPEND r 0
        OBJECT ENCODING r
        INCR r
        OBJECT ENCODING r
        SET t 1 EX 100
        INCR t
        TTL t
        SET s abc
        INCR s
        SET s " 1"
        INCR s
        SET s "1 "
        INCR s
        SET s 01
        INCR s
        SET s +1
        INCR s
        SET s 1.5
        INCR s
        SET s ""
        INCR s
        SET s 99999999999999999999
        INCR s
        SET m 9223372036854775807
        INCR m
        INCRBY m 1
        INCRBY m -1
        GET m
        SET m -9223372036854775808
        DECR m
        DECRBY m 1
        INCRBY m 9223372036854775807
        DECRBY x -9223372036854775808
        DECRBY x 9223372036854775807
        DECRBY x 2
        INCRBY x -9223372036854775808
        INCRBY y abc
        INCRBY y 1.0
        INCRBY y ""
        DECRBY y 9223372036854775808
        INCRBY y 0
        GET y
        INCR
        INCRBY k
        DECRBY k
        DECR a b
        "##,
    );
}

#[test]
fn incrbyfloat_long_double() {
    both_protocols(
        r##"
        INCRBYFLOAT f 0.1
        OBJECT ENCODING f
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f 0.1
        SET x 10.5
        INCRBYFLOAT x 0.1
        GET x
        SET x 10
        INCRBYFLOAT x 1
        OBJECT ENCODING x
        INCRBYFLOAT x -11
        GET x
        INCRBYFLOAT x -0.0
        INCRBYFLOAT x 5.0e3
        INCRBYFLOAT x 2.0e-3
        INCRBYFLOAT x 1e-20
        INCRBYFLOAT x -5000.002
        SET x 3
        INCRBYFLOAT x 1.5e300
        INCRBYFLOAT x 1e4000
        INCRBYFLOAT x -1.5e300
        SET x 0
        INCRBYFLOAT x -0.000000000000000001
        INCRBYFLOAT x 0x10
        INCRBYFLOAT x 1E2
        INCRBYFLOAT x +5
        INCRBYFLOAT x .5
        INCRBYFLOAT x 5.
        INCRBYFLOAT x 17179869184
        INCRBYFLOAT x 1.1111111111111111111111111111
        INCRBYFLOAT x inf
        INCRBYFLOAT x -inf
        INCRBYFLOAT x infinity
        INCRBYFLOAT x nan
        INCRBYFLOAT x abc
        INCRBYFLOAT x ""
        INCRBYFLOAT x " 1"
        INCRBYFLOAT x "1 "
        INCRBYFLOAT x 1e5000
        INCRBYFLOAT x 1e-5000
        INCRBYFLOAT x "1\x00junk"
        GET x
        SET i inf
        INCRBYFLOAT i 1
        SET s abc
        INCRBYFLOAT s 1
        SET s " 2"
        INCRBYFLOAT s 1
        SET s 1e3
        INCRBYFLOAT s 1
        SET big 9223372036854775807
        INCRBYFLOAT big 1
        SET neg -9223372036854775808
        INCRBYFLOAT neg -0.5
        SET t 1.5 EX 100
        INCRBYFLOAT t 1
        TTL t
        INCRBYFLOAT long 123456789012345678901234567890.5
        OBJECT ENCODING long
        INCRBYFLOAT
        INCRBYFLOAT k
        "##,
    );
}

#[test]
fn lcs_all_options() {
    both_protocols(
        r##"
        MSET a ohmytext b mynewtext
        LCS a b
        LCS a b LEN
        LCS a b IDX
        LCS a b IDX WITHMATCHLEN
        LCS a b IDX MINMATCHLEN 4
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS a b IDX MINMATCHLEN -4 WITHMATCHLEN
        LCS a b idx minmatchlen 0 withmatchlen
        LCS a b LEN IDX
        LCS a b IDX LEN
        LCS a b LEN WITHMATCHLEN
        LCS a b LEN MINMATCHLEN 2
        LCS a b MINMATCHLEN
        LCS a b MINMATCHLEN x
        LCS a b FOO
        LCS a nokey
        LCS nokey nokey2 IDX
        LCS nokey nokey2 LEN
        LCS a a
        LCS a a IDX WITHMATCHLEN
        MSET n1 123456 n2 1357
        LCS n1 n2
        LCS n1 n2 IDX WITHMATCHLEN
        MSET x "ABCBDAB" y "BDCABA"
        LCS x y
        LCS y x
        LCS x y IDX WITHMATCHLEN
        MSET p "rosettacode" q "raisethysword"
        LCS p q
        LCS p q IDX WITHMATCHLEN
        MSET e ""
        LCS e a
        LCS e a IDX
        LCS a
        "##,
    );
}

#[test]
fn lcs_memory_limit() {
    let mut d = Diff::with_args(&["--proto-max-bulk-len", "1mb"]);
    let a = "a".repeat(1000);
    let b = "b".repeat(1000);
    d.cmd(&["SET", "a", a.as_str()]);
    d.cmd(&["SET", "b", b.as_str()]);
    d.cmd(&["LCS", "a", "b"]);
    d.cmd(&["LCS", "a", "b", "LEN"]);
    d.cmd(&["SET", "b", "x"]);
    d.cmd(&["LCS", "a", "b", "IDX"]);
}

#[test]
fn lcs_default_memory_limit() {
    // 12000 x 12000 cells of 4 bytes exceed the default 512 MB proto-max-bulk-len: refused
    // before anything is allocated.
    let mut d = Diff::new();
    let a = "a".repeat(12_000);
    d.cmd(&["SET", "a", a.as_str()]);
    d.cmd(&["SET", "b", a.as_str()]);
    d.cmd(&["LCS", "a", "b", "LEN"]);
    d.cmd(&["LCS", "a", "b", "IDX"]);
}

#[test]
fn wrong_type_errors() {
    let mut d = Diff::new();
    if !has_lists(&mut d) {
        eprintln!("skipped: ferrodis has no list type yet");
        return;
    }
    let script = r##"
        LPUSH l x
        GET l
        SET l v GET
        LRANGE l 0 -1
        SET l v XX GET
        GETEX l
        GETEX l EX abc
        GETEX l FOO
        GETDEL l
        GETSET l v
        LRANGE l 0 -1
        MGET l nokey
        APPEND l x
        STRLEN l
        SETRANGE l 0 x
        SETRANGE l 0 ""
        SETRANGE l -1 x
        GETRANGE l 0 1
        GETRANGE l a 1
        SUBSTR l 0 1
        INCR l
        DECR l
        INCRBY l 1
        INCRBY l x
        DECRBY l 1
        INCRBYFLOAT l 1
        INCRBYFLOAT l x
        LCS l nokey
        LCS nokey l FOO
        LCS l l LEN IDX
        SETNX l v
        SET l v NX
        SET l v
        GET l
        "##;
    d.run(script);
    d.cmd(&["FLUSHALL"]);
    let _ = d.both(&["HELLO", "3"]);
    d.run(script);
}

#[test]
fn large_values_roundtrip() {
    let mut d = Diff::new();
    let big = "x".repeat(100_000);
    d.cmd(&["SET", "big", big.as_str()]);
    d.cmd(&["GET", "big"]);
    d.cmd(&["OBJECT", "ENCODING", "big"]);
    d.cmd(&["APPEND", "big", big.as_str()]);
    d.cmd(&["STRLEN", "big"]);
    d.cmd(&["GETRANGE", "big", "99990", "100010"]);
    d.cmd(&["SETRANGE", "big", "199999", "yz"]);
    d.cmd(&["GETRANGE", "big", "-5", "-1"]);
    let mut args: Vec<String> = vec!["MSET".into()];
    for i in 0..200 {
        args.push(format!("key:{i}"));
        args.push(format!("value:{i}"));
    }
    d.cmd(&args);
    let mut keys: Vec<String> = vec!["MGET".into()];
    keys.extend((0..210).map(|i| format!("key:{i}")));
    d.cmd(&keys);
}
