//! Per-command latency tracking: LATENCY HISTOGRAM, INFO latencystats, the latency-tracking
//! parameters, CONFIG RESETSTAT, and the expire cycle's LATENCY event, against the oracle.
//!
//! Durations depend on timing, so replies that carry them are compared after normalising:
//! the commands listed, their `calls` and the reply's shape must equal the oracle's, while
//! the buckets are checked for their properties (the power-of-two steps Redis prints,
//! increasing counts that end at `calls`). Redis lists commands in its command dict's order,
//! which is random per process, so whole-table listings are compared as sets.

mod common;

use common::{parse_reply, Diff, RawConn, Reply};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The microsecond keys Redis can print in `histogram_usec`: the highest value (ns, over
/// 1000) of the counter holding each power of two from 2^10 to 2^29 ns with 2 significant
/// figures, and the last counter of the 1 s range.
fn allowed_steps() -> Vec<i64> {
    let mut v: Vec<i64> = (10..30)
        .map(|p| ((1i64 << p) + (1i64 << (p - 7)) - 1) / 1000)
        .collect();
    v.push(1_073_741);
    v
}

/// The pairs of a map reply (RESP3 map, or RESP2 flat array) with the aggregate's type.
fn pairs(r: &Reply) -> (char, Vec<(&Reply, &Reply)>) {
    match r {
        Reply::Map(v) => ('%', v.iter().map(|(k, v)| (k, v)).collect()),
        Reply::Array(v) => {
            assert!(v.len() % 2 == 0, "odd flat map: {r:?}");
            ('*', v.chunks(2).map(|c| (&c[0], &c[1])).collect())
        }
        _ => panic!("not a map: {r:?}"),
    }
}

/// Summarises a LATENCY HISTOGRAM reply as one line per command: its name, `calls`, and the
/// aggregate types used, after checking each histogram's buckets. `sorted` orders the lines
/// by name (for listings whose order is the oracle's dict order).
fn summary(bytes: &[u8], sorted: bool) -> Vec<String> {
    let r = parse_reply(bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
    let allowed = allowed_steps();
    let (top, entries) = pairs(&r);
    let mut out = Vec::new();
    for (name, body) in entries {
        let name = name.text().expect("command name");
        let (kind, fields) = pairs(body);
        assert_eq!(fields.len(), 2, "{name}");
        assert_eq!(fields[0].0.text().as_deref(), Some("calls"));
        assert_eq!(fields[1].0.text().as_deref(), Some("histogram_usec"));
        let calls = fields[0].1.int().expect("calls");
        let (hkind, buckets) = pairs(fields[1].1);
        let mut prev = (0, 0);
        for (us, n) in &buckets {
            let (us, n) = (us.int().unwrap(), n.int().unwrap());
            assert!(allowed.contains(&us), "{name}: step {us} µs");
            assert!(
                us > prev.0 && n > prev.1,
                "{name}: not increasing {buckets:?}"
            );
            prev = (us, n);
        }
        assert_eq!(prev.1, calls, "{name}: last count is the calls");
        out.push(format!("{top} {name} {kind} calls={calls} {hkind}"));
    }
    if sorted {
        out.sort();
    }
    out
}

/// Sends `args` to both servers and compares the normalised LATENCY HISTOGRAM replies.
fn same_histograms(d: &mut Diff, args: &[&str], sorted: bool) -> Vec<String> {
    let (f, r) = d.both(args);
    let (fs, rs) = (summary(&f, sorted), summary(&r, sorted));
    assert_eq!(fs, rs, "{args:?}");
    fs
}

/// The body of one INFO section as lines.
fn info_lines(c: &mut RawConn, section: &str) -> Vec<String> {
    let r = parse_reply(&c.cmd(&["INFO", section])).unwrap();
    r.text()
        .unwrap()
        .lines()
        .map(|l| l.to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// INFO latencystats with each value replaced by `_`, lines sorted: the commands and the
/// percentile labels, not the timings.
fn latencystats_shape(c: &mut RawConn) -> Vec<String> {
    let mut lines: Vec<String> = info_lines(c, "latencystats")
        .into_iter()
        .map(|l| {
            let Some((name, values)) = l.split_once(':') else {
                return l;
            };
            let masked: Vec<String> = values
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| {
                    let (label, value) = v.split_once('=').expect("p<label>=<value>");
                    let (int, frac) = value.split_once('.').expect("three decimals");
                    assert!(int.parse::<u64>().is_ok() && frac.len() == 3, "{l}");
                    format!("{label}=_")
                })
                .collect();
            format!("{name}:{}", masked.join(","))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn histogram_lists_commands_and_calls() {
    let mut d = Diff::new();
    d.run(
        "CONFIG RESETSTAT
        SET k v
        SET k w
        GET k
        GET nokey
        CONFIG GET maxmemory
        CONFIG SET maxmemory 0
        CONFIG GET hz
        INCR k
        LPUSH l a",
    );
    // Every command with calls, errors included (INCR on a string fails and is counted).
    let all = same_histograms(&mut d, &["LATENCY", "HISTOGRAM"], true);
    assert!(
        all.iter().any(|l| l.contains(" get * calls=2 *")),
        "{all:?}"
    );
    assert!(all.iter().any(|l| l.contains(" config|get * calls=2 *")));
    // Named: in the order given, unknown names and names without calls skipped, a
    // subcommand by its full name, any letter case.
    for args in [
        &["LATENCY", "HISTOGRAM", "set"][..],
        &["LATENCY", "HISTOGRAM", "GET", "set", "lpush", "incr"],
        &["LATENCY", "HISTOGRAM", "nosuch", "get", "hgetall", "set"],
        &["LATENCY", "HISTOGRAM", "Config|Get", "set"],
        &["LATENCY", "HISTOGRAM", "get", "get"],
        &[
            "LATENCY",
            "HISTOGRAM",
            "get|x",
            "config|",
            "config|get|x",
            "|",
            "config|nosuch",
        ],
    ] {
        same_histograms(&mut d, args, false);
    }
    // A container lists its subcommands with calls, in the oracle's dict order (compared
    // as a set).
    same_histograms(
        &mut d,
        &["LATENCY", "HISTOGRAM", "client", "client|list"],
        true,
    );
    let containers = same_histograms(&mut d, &["LATENCY", "HISTOGRAM", "config"], true);
    assert_eq!(containers.len(), 3, "{containers:?}");
    // RESP3: maps all the way down.
    d.run("? HELLO 3");
    same_histograms(&mut d, &["LATENCY", "HISTOGRAM", "set", "config"], true);
    let all3 = same_histograms(&mut d, &["LATENCY", "HISTOGRAM"], true);
    assert!(all3
        .iter()
        .all(|l| l.starts_with("% ") && l.ends_with(" %")));
    d.run("? HELLO 2");
    // CONFIG RESETSTAT drops every histogram; the reset itself is then the only entry.
    d.cmd(&["CONFIG", "RESETSTAT"]);
    let after = same_histograms(&mut d, &["LATENCY", "HISTOGRAM"], true);
    assert_eq!(after, ["* config|resetstat * calls=1 *"]);
}

#[test]
fn histogram_counts_blocked_commands_once() {
    let mut d = Diff::new();
    let mut b = d.another();
    d.cmd(&["CONFIG", "RESETSTAT"]);
    // One BLPOP served by a push (recorded), one timing out (counted in commandstats, not
    // in the histogram).
    b.send(&["BLPOP", "q", "0"]);
    sleep(Duration::from_millis(100));
    d.cmd(&["RPUSH", "q", "x"]);
    b.read();
    b.cmd(&["BLPOP", "q", "0.05"]);
    same_histograms(&mut d, &["LATENCY", "HISTOGRAM", "blpop", "rpush"], false);
}

#[test]
fn tracking_off_records_nothing_and_hides_latencystats() {
    let mut d = Diff::new();
    d.run(
        "CONFIG RESETSTAT
        CONFIG SET latency-tracking no
        CONFIG GET latency-tracking
        GET k
        SET k v",
    );
    // Nothing after the reset was recorded, not even the CONFIG SET that turned tracking
    // off: a call is recorded after it ran, if tracking is on then.
    let all = same_histograms(&mut d, &["LATENCY", "HISTOGRAM"], true);
    assert_eq!(all, ["* config|resetstat * calls=1 *"]);
    // The section keeps its header only.
    let (f, r) = d.both(&["INFO", "latencystats"]);
    common::assert_same("INFO latencystats with tracking off", &f, &r);
    d.run(
        "CONFIG SET latency-tracking yes
        GET k",
    );
    same_histograms(&mut d, &["LATENCY", "HISTOGRAM", "get", "set"], false);
    same_histograms(&mut d, &["LATENCY", "HISTOGRAM", "get", "config"], true);
}

#[test]
fn latencystats_fields_follow_the_percentiles() {
    let mut d = Diff::new();
    d.run(
        "CONFIG RESETSTAT
        SET k v
        GET k
        CONFIG GET latency-tracking-info-percentiles",
    );
    for percentiles in ["50 99 99.9", "0 100 50.5 0.0001", "99.99999", "", "25"] {
        d.cmd(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            percentiles,
        ]);
        d.cmd(&["CONFIG", "GET", "latency-tracking-info-percentiles"]);
        let f = latencystats_shape(&mut d.ferrodis);
        let r = latencystats_shape(&mut d.redis);
        assert_eq!(f, r, "percentiles {percentiles:?}");
        assert!(f
            .iter()
            .any(|l| l.starts_with("latency_percentiles_usec_get:")));
    }
}

/// The values INFO prints are the histogram's: the highest value of the counter of the
/// requested rank, so p100 is never below p50 and p0 (the lowest value of the smallest
/// counter) is never above either.
#[test]
fn latencystats_values_are_ordered() {
    let s = common::ferrodis();
    let mut c = s.conn();
    c.cmd(&[
        "CONFIG",
        "SET",
        "latency-tracking-info-percentiles",
        "0 50 100",
    ]);
    for _ in 0..50 {
        c.cmd(&["SET", "k", "v"]);
    }
    let line = info_lines(&mut c, "latencystats")
        .into_iter()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .expect("set line");
    let values: Vec<f64> = line
        .split_once(':')
        .unwrap()
        .1
        .split(',')
        .map(|v| v.split_once('=').unwrap().1.parse().unwrap())
        .collect();
    assert!(values[0] <= values[1] && values[1] <= values[2], "{line}");
}

#[test]
fn latency_tracking_parameters() {
    let mut d = Diff::new();
    d.run(
        "CONFIG GET latency-tracking
        CONFIG SET latency-tracking maybe
        CONFIG SET latency-tracking NO
        CONFIG GET latency-tracking
        CONFIG SET latency-tracking yes
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles \"50 101\"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles \"-1\"
        CONFIG SET latency-tracking-info-percentiles abc
        CONFIG SET latency-tracking-info-percentiles \"1 2x\"
        CONFIG SET latency-tracking-info-percentiles \"1e1 0.5 100 0\"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles \"   33.3   \"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles \"\"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles 99.90000",
    );
}

#[test]
fn latency_help_lists_histogram() {
    let mut d = Diff::new();
    d.run(
        "LATENCY HELP
        LATENCY NOSUCH
        LATENCY HISTOGRAM nosuch",
    );
}

/// The active expire cycle records an `expire-cycle` LATENCY event when it runs for at
/// least latency-monitor-threshold ms: here it frees a set of 300,000 members.
#[test]
fn expire_cycle_latency_event() {
    let mut d = Diff::new();
    d.run("CONFIG SET latency-monitor-threshold 1");
    let members: Vec<String> = (0..300_000).map(|i| format!("member:{i}")).collect();
    let mut sadd: Vec<&str> = vec!["SADD", "big"];
    sadd.extend(members.iter().map(|s| s.as_str()));
    d.cmd(&sadd);
    d.cmd(&["PEXPIRE", "big", "1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    for c in [&mut d.ferrodis, &mut d.redis] {
        loop {
            let r = parse_reply(&c.cmd(&["LATENCY", "LATEST"])).unwrap();
            let names: Vec<String> = r
                .items()
                .unwrap()
                .iter()
                .map(|e| e.items().unwrap()[0].text().unwrap())
                .collect();
            if names.iter().any(|n| n == "expire-cycle") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no expire-cycle event: {names:?}"
            );
            sleep(Duration::from_millis(20));
        }
        let h = parse_reply(&c.cmd(&["LATENCY", "HISTORY", "expire-cycle"])).unwrap();
        let samples = h.items().unwrap();
        assert!(!samples.is_empty());
        let ms = samples[0].items().unwrap()[1].int().unwrap();
        assert!(ms >= 1, "{ms}");
    }
    d.cmd(&["EXISTS", "big"]);
}
