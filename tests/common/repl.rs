//! Replication test helpers: INFO fields, waiting (bounded) for a replica to catch up, digests
//! and a write load of every type.

use super::*;
use std::time::{Duration, Instant};

/// One field of an INFO section.
pub fn info_field(c: &mut RawConn, section: &str, name: &str) -> Option<String> {
    let text = c.value(&["INFO", section]).text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

/// Waits (bounded) until `replica` has its link up and has processed everything `master` has
/// produced.
pub fn wait_in_sync(master: &mut RawConn, replica: &mut RawConn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = info_field(replica, "replication", "master_link_status").as_deref() == Some("up");
        let m = info_field(master, "replication", "master_repl_offset");
        let r = info_field(replica, "replication", "slave_repl_offset");
        if up && m.is_some() && m == r {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica never caught up: link up {up}, master offset {m:?}, replica offset {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn digest(c: &mut RawConn) -> String {
    c.value(&["DEBUG", "DIGEST"]).text().unwrap()
}

/// Every type, expiries, several databases, a transaction.
pub fn workload(c: &mut RawConn, tag: &str) {
    let k = |s: &str| format!("{s}-{tag}");
    let cmds: Vec<Vec<String>> = vec![
        vec!["set".into(), k("s"), "v".into()],
        vec![
            "set".into(),
            k("t"),
            "v".into(),
            "px".into(),
            "100000".into(),
        ],
        vec!["rpush".into(), k("l"), "a".into(), "b".into(), "c".into()],
        vec![
            "hset".into(),
            k("h"),
            "f".into(),
            "1".into(),
            "g".into(),
            "2".into(),
        ],
        vec!["sadd".into(), k("set"), "1".into(), "2".into(), "x".into()],
        vec![
            "zadd".into(),
            k("z"),
            "1".into(),
            "a".into(),
            "2.5".into(),
            "b".into(),
        ],
        vec!["incrbyfloat".into(), k("f"), "1.5".into()],
        vec!["select".into(), "5".into()],
        vec!["set".into(), k("in5"), "v".into()],
        vec!["multi".into()],
        vec!["lpush".into(), k("l5"), "x".into()],
        vec!["incr".into(), k("n5")],
        vec!["exec".into()],
        vec!["select".into(), "0".into()],
        vec!["spop".into(), k("set")],
        vec!["del".into(), k("s")],
    ];
    for cmd in &cmds {
        let r = c.cmd(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{}: {}",
            show_command(cmd),
            escape(&r)
        );
    }
}

/// Waits (bounded: `secs` seconds) until `f` holds.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A numeric INFO field.
pub fn stat(c: &mut RawConn, section: &str, name: &str) -> i64 {
    info_field(c, section, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// Sends `sig` ("-STOP", "-CONT") to a server's process.
pub fn signal(s: &Server, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &s.pid().to_string()])
        .status()
        .map(|st| st.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} failed");
}
