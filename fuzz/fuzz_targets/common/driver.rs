//! What the fuzz targets that drive the real command path share (hll, stream_restore,
//! script_body): one command run for a detached client exactly as a socket client's request
//! runs (parse, process, before_sleep, the reply written out), and the framing check of
//! what came back. Included with `#[path = "common/driver.rs"] mod driver;`.

use ferrodis::server::client::Sock;
use ferrodis::server::{net, Server};

/// Runs `argv` for the detached client in `slot` and returns its raw output. With
/// `shutdown_asap` the server is told to stop at the next chance while the command runs (a
/// busy script's hook then ends the script at once, as SHUTDOWN during a script would).
pub fn run_raw(srv: &mut Server, slot: usize, argv: &[&[u8]], shutdown_asap: bool) -> Vec<u8> {
    let mut c = srv.clients[slot].take().expect("client connected");
    c.qbuf
        .extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        c.qbuf
            .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        c.qbuf.extend_from_slice(a);
        c.qbuf.extend_from_slice(b"\r\n");
    }
    srv.refresh_time();
    srv.shutdown_asap = shutdown_asap;
    net::process_input(srv, &mut c);
    srv.shutdown_asap = false;
    if c.out.pending() > 0 {
        srv.schedule_write(&mut c);
    }
    srv.clients[slot] = Some(c);
    net::before_sleep(srv);
    let Some(Some(c)) = srv.clients.get_mut(slot) else {
        panic!("client vanished");
    };
    let Sock::Detached(sink) = &mut c.sock else {
        panic!("not a detached client");
    };
    std::mem::take(sink)
}

/// Length of the one RESP2 or RESP3 value at the start of `b`, or None when it is not one.
pub fn resp_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = &b[1..line_end];
    let after = line_end + 2;
    let num = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match b.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize;
            (b.get(end..end + 2)? == b"\r\n").then_some(end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = num()?;
            let per = if matches!(b[0], b'%' | b'|') { 2 } else { 1 };
            let mut at = after;
            for _ in 0..n.max(0) * per {
                at += resp_len(&b[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// The argv as text, each argument cut at 200 bytes, for panic messages and traces.
pub fn show(argv: &[&[u8]]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(200)]).into_owned())
        .collect()
}
