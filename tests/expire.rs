//! Expiry through the real binary: lazy expiry on access, the active cycle reclaiming keys
//! nobody reads, and the statistics and keyspace line INFO reports.

mod common;

use common::{ferrodis, parse_reply};
use std::time::{Duration, Instant};

fn info_field(c: &mut common::RawConn, section: &str, name: &str) -> Option<String> {
    let r = parse_reply(&c.cmd(&["INFO", section])).unwrap();
    let text = r.text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.to_string()))
}

#[test]
fn lazy_expiry_on_access() {
    let s = ferrodis();
    let mut c = s.conn();
    // Keep the active cycle out of the way so only the lookup can expire the key.
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    // Half a second of margin for a loaded machine between SET and GET.
    assert_eq!(c.cmd(&["SET", "k", "v", "PX", "500"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        b":1\r\n",
        "no active expiry while disabled"
    );
    assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(
        info_field(&mut c, "stats", "expired_keys").as_deref(),
        Some("1")
    );
}

#[test]
fn active_cycle_reclaims_unread_keys() {
    let s = ferrodis();
    let mut c = s.conn();
    let mut req = Vec::new();
    for i in 0..5000 {
        req.extend(common::encode_command(&[
            "SET",
            &format!("volatile:{i}"),
            "x",
            "PX",
            "100",
        ]));
    }
    for i in 0..100 {
        req.extend(common::encode_command(&[
            "SET",
            &format!("stable:{i}"),
            "x",
        ]));
    }
    c.send(&req);
    for _ in 0..5100 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    assert_eq!(
        info_field(&mut c, "keyspace", "db0")
            .as_deref()
            .map(|v| v.starts_with("keys=5100,expires=5000")),
        Some(true)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = c.cmd(&["DBSIZE"]);
        if n == b":100\r\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "active expiry left {:?}",
            String::from_utf8_lossy(&n)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        info_field(&mut c, "stats", "expired_keys").as_deref(),
        Some("5000")
    );
    assert_eq!(
        info_field(&mut c, "keyspace", "db0").as_deref(),
        Some("keys=100,expires=0,avg_ttl=0")
    );
}

#[test]
fn expired_keys_are_invisible_everywhere() {
    let s = ferrodis();
    let mut c = s.conn();
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "gone", "1", "PX", "1"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.cmd(&["EXISTS", "gone"]), b":0\r\n");
    assert_eq!(c.cmd(&["TTL", "gone"]), b":-2\r\n");
    assert_eq!(c.cmd(&["INCR", "gone"]), b":1\r\n");
    assert_eq!(c.cmd(&["TTL", "gone"]), b":-1\r\n");
}
