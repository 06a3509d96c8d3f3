//! Differential tests of SORT and SORT_RO (src/commands/sort.rs) against the oracle.
//!
//! The keyspace holds only strings for now, so what can be compared end to end is: option
//! parsing and its errors (checked before the key), WRONGTYPE on strings, the empty result of a
//! missing key with every option (LIMIT windows, GET, BY, STORE deleting the destination), and
//! COMMAND GETKEYS. The ordering rules themselves are unit-tested inside sort.rs with expected
//! orders taken from the oracle. Every script runs in RESP2 and RESP3.

mod common;

use common::*;

/// Runs `script` in RESP2, then again after HELLO 3, then returns to RESP2.
fn both_protocols(d: &mut Diff, script: &str) {
    d.run(script);
    d.run("? HELLO 3");
    d.run(script);
    d.run("? HELLO 2");
}

#[test]
fn sort_missing_key_is_empty() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SORT nokey
        SORT nokey ASC
        SORT nokey DESC ALPHA
        SORT nokey alpha desc asc
        SORT nokey LIMIT 0 10
        SORT nokey LIMIT 0 0
        SORT nokey LIMIT -5 -5
        SORT nokey LIMIT 9223372036854775807 9223372036854775807
        SORT nokey LIMIT -9223372036854775808 -9223372036854775808
        SORT nokey LIMIT 2 9223372036854775807
        SORT nokey BY w_*
        SORT nokey BY nosort
        SORT nokey BY nosort DESC LIMIT 1 2
        SORT nokey BY w_*->f ALPHA
        SORT nokey GET #
        SORT nokey GET # GET w_* GET h_*->f
        SORT nokey BY w_* GET # LIMIT 0 1 DESC ALPHA
        SORT_RO nokey
        SORT_RO nokey BY w_* GET # LIMIT 0 1 DESC ALPHA
        sort_ro nokey get # by nosort
        "#,
    );
}

#[test]
fn sort_wrong_type_and_errors() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SET s hello
        SET n 5
        SORT s
        SORT n
        SORT n ALPHA
        SORT s BY nosort
        SORT s LIMIT 0 1 GET #
        SORT_RO s
        SORT s foo
        SORT s LIMIT x 1
        SORT s LIMIT 1 x
        SORT s LIMIT 1
        SORT s LIMIT
        SORT s LIMIT 1.5 2
        SORT s LIMIT 9223372036854775808 1
        SORT s BY
        SORT s GET
        SORT s STORE
        SORT s ALPHA foo
        SORT nokey foo
        SORT nokey LIMIT x y
        SORT nokey GET # foo
        SORT nokey ASC DESC bar
        SORT_RO nokey STORE dst
        SORT_RO s STORE dst
        SORT_RO nokey store
        SORT s STORE dst
        SORT
        SORT_RO
        "#,
    );
}

#[test]
fn sort_store_of_missing_key() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        FLUSHALL
        SORT nokey STORE dst
        EXISTS dst
        SET dst old
        EXPIRE dst 100
        SORT nokey STORE dst
        EXISTS dst
        SET dst old
        SORT nokey STORE dst LIMIT 0 5 GET # GET x_*
        EXISTS dst
        SET dst old
        SORT nokey STORE other STORE dst
        EXISTS dst other
        SET src hello
        SORT src STORE dst
        SET dst old
        SORT nokey STORE dst BY nosort
        GET dst
        SORT nokey STORE nokey
        EXISTS nokey
        "#,
    );
}

#[test]
fn sort_getkeys() {
    let mut d = Diff::new();
    both_protocols(
        &mut d,
        r#"
        COMMAND GETKEYS SORT k
        COMMAND GETKEYS SORT k STORE x
        COMMAND GETKEYS SORT k store x STORE y
        COMMAND GETKEYS SORT k STORE x STORE y LIMIT 1 2 GET store
        COMMAND GETKEYS SORT k LIMIT store x y
        COMMAND GETKEYS SORT k BY store GET store STORE z
        COMMAND GETKEYS SORT k STORE
        COMMAND GETKEYS SORT_RO k
        COMMAND GETKEYS SORT_RO k STORE x
        COMMAND GETKEYS SORT k ALPHA LIMIT 0 1 STORE dst DESC
        "#,
    );
}
