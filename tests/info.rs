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
    // A 20 KB value: more than one read(2) of 16 KB, still one read event.
    let big = "v".repeat(20_000);
    d.cmd(&["SET", "big", big.as_str()]);
    d.raw(b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    d.read();
    d.read();
    let (f1, r1) = d.both(&["INFO", "stats"]);
    let delta = |a: (u64, u64), b: (u64, u64)| (b.0 - a.0, b.1 - a.1);
    let theirs = delta(counters(&r0), counters(&r1));
    assert_eq!(delta(counters(&f0), counters(&f1)), theirs);
    assert_eq!(
        theirs,
        (8, 8),
        "5 round trips + a big SET + 1 burst + this INFO"
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

/// A connection whose receive buffer is a few KB, so a big reply stalls in our output buffer.
fn small_window_conn(port: u16) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: a fresh socket we own; SO_RCVBUF is set before connect so the window stays small;
    // the descriptor is handed to TcpStream, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 4096;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(r, 0, "connect to {port}");
        std::net::TcpStream::from_raw_fd(fd)
    }
}

/// While a client's socket would block, new replies for it wait for the socket to drain: no
/// write is attempted (and counted) per reply, as Redis does not queue a client whose earlier
/// replies are still pending.
#[test]
fn stalled_client_is_not_written_per_reply() {
    use std::io::Write;
    let mut d = Diff::new();
    let big = "v".repeat(8 << 20);
    d.cmd(&["SET", "big", big.as_str()]);
    let writes = |info: &[u8]| -> u64 { field(info, "total_writes_processed").parse().unwrap() };
    let ports = [d.ferrodis_server().port(), d.redis_server().port()];
    let mut stalled: Vec<std::net::TcpStream> =
        ports.iter().map(|&p| small_window_conn(p)).collect();
    for s in &mut stalled {
        s.write_all(b"GET big\r\n").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (f0, r0) = d.both(&["INFO", "stats"]);
    for _ in 0..5 {
        for s in &mut stalled {
            s.write_all(b"PING\r\n").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let (f1, r1) = d.both(&["INFO", "stats"]);
    let (ours, theirs) = (writes(&f1) - writes(&f0), writes(&r1) - writes(&r0));
    assert_eq!(ours, theirs, "writes while the client is stalled");
    drop(stalled);
}
