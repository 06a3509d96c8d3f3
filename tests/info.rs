//! INFO: the same sections, in the same order, with the same field names as redis-server, so
//! tools that parse Redis's INFO parse ours; and the counters move as Redis's do.

mod common;

use common::{Diff, Reply};

/// Section titles and field names of an INFO reply, in order.
fn shape(info: &[u8]) -> Vec<String> {
    let text = match common::parse_reply(info).expect("INFO reply parses") {
        r @ Reply::Bulk(_) | r @ Reply::Verbatim { .. } => r.text().expect("text"),
        other => panic!("INFO replied {other:?}"),
    };
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((k, _)) => k.to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// Field lookup in an INFO reply.
fn field(info: &[u8], name: &str) -> String {
    let r = common::parse_reply(info).expect("INFO reply parses");
    let text = r.text().expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.to_string()))
        .unwrap_or_else(|| panic!("no field {name}"))
}

#[test]
fn sections_and_fields_match_redis() {
    let mut d = Diff::new();
    d.cmd(&["SET", "a", "1"]);
    d.cmd(&["GET", "a"]);
    d.cmd(&["GET", "nosuch"]);
    for args in [
        vec!["INFO"],
        vec!["INFO", "server"],
        vec!["INFO", "clients"],
        vec!["INFO", "memory"],
        vec!["INFO", "persistence"],
        vec!["INFO", "stats"],
        vec!["INFO", "replication"],
        vec!["INFO", "cpu"],
        vec!["INFO", "keyspace"],
        vec!["INFO", "errorstats"],
        vec!["INFO", "cluster"],
        vec!["INFO", "server", "keyspace"],
        vec!["INFO", "nosuchsection"],
        vec!["INFO", "default"],
    ] {
        let (f, r) = d.both(&args);
        assert_eq!(shape(&f), shape(&r), "{args:?}");
    }
}

#[test]
fn counters_move_like_redis() {
    let mut d = Diff::new();
    d.cmd(&["SET", "a", "1"]);
    d.cmd(&["GET", "a"]);
    d.cmd(&["GET", "nosuch"]);
    d.cmd(&["FOO"]);
    d.cmd(&["GET"]);
    let (f, r) = d.both(&["INFO", "stats"]);
    for name in ["keyspace_hits", "keyspace_misses", "total_error_replies"] {
        assert_eq!(field(&f, name), field(&r, name), "{name}");
    }
    let (f, r) = d.both(&["INFO", "keyspace"]);
    assert_eq!(f, r);
    let (f, r) = d.both(&["INFO", "errorstats"]);
    assert_eq!(f, r);
    // Redis lists commandstats in its command dict's hash order; compare as sets.
    let (f, r) = d.both(&["INFO", "commandstats"]);
    let (mut fs, mut rs) = (shape(&f), shape(&r));
    fs.sort();
    rs.sort();
    assert_eq!(fs, rs);
}

#[test]
fn resp3_info_is_a_verbatim_string() {
    let mut d = Diff::new();
    d.both(&["HELLO", "3"]);
    let (f, r) = d.both(&["INFO", "keyspace"]);
    assert_eq!(f, r);
    assert!(f.starts_with(b"="), "{}", common::escape(&f));
}

/// total_reads_processed counts reads from client sockets and total_writes_processed the
/// writes of pending replies: one each per request/response round trip, one read for a
/// pipelined burst, as Redis counts them.
#[test]
fn read_and_write_counters_move_like_redis() {
    let mut d = Diff::new();
    let counters = |info: &[u8]| {
        (
            field(info, "total_reads_processed").parse::<u64>().unwrap(),
            field(info, "total_writes_processed")
                .parse::<u64>()
                .unwrap(),
        )
    };
    let (f0, r0) = d.both(&["INFO", "stats"]);
    for _ in 0..5 {
        d.cmd(&["PING"]);
    }
    d.raw(b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    d.read();
    d.read();
    let (f1, r1) = d.both(&["INFO", "stats"]);
    let delta = |a: (u64, u64), b: (u64, u64)| (b.0 - a.0, b.1 - a.1);
    let theirs = delta(counters(&r0), counters(&r1));
    assert_eq!(delta(counters(&f0), counters(&f1)), theirs);
    assert_eq!(
        theirs,
        (7, 7),
        "5 round trips + 1 burst + this INFO; 7 replies written"
    );
}

/// Regression: the event loop remembers the read and command counters between wake-ups (to
/// see whether clients pipeline); CONFIG RESETSTAT zeroing them under it must not underflow.
#[test]
fn resetstat_between_wakeups_keeps_the_server_up() {
    let mut d = Diff::new();
    for _ in 0..20 {
        d.cmd(&["PING"]);
    }
    d.cmd(&["CONFIG", "RESETSTAT"]);
    d.cmd(&["PING"]);
    d.cmd(&["SET", "k", "v"]);
    let (f, r) = d.both(&["INFO", "stats"]);
    assert_eq!(
        field(&f, "total_commands_processed"),
        field(&r, "total_commands_processed")
    );
}
