//! nodes.conf and CLUSTER NODES (clusterGenNodesDescription, clusterLoadConfig,
//! clusterSaveConfig). Both are the same text, one line per node:
//!
//! ```text
//! <name> <ip>:<port>@<cport>[,<hostname>] <flags> <master name|-> <ping_sent> <pong_received>
//!        <config epoch> <connected|disconnected> [<slot>|<first>-<last>]...
//!        [[<slot>->-<name>] (migrating) | [<slot>-<-<name>] (importing), ours only]
//! ```
//!
//! nodes.conf leaves out nodes in handshake and ends with
//! `vars currentEpoch <n> lastVoteEpoch <n>`. Loading reads the same lines back (an address
//! without `@cport` takes port + 10000, as files from Redis before 4.0 have).

use super::node::{self, Node, NAMELEN};
use super::slots::{ranges, SLOTS};
use super::{Cluster, NONE};
use crate::util::splitargs::split_args;
use std::io::Write;
use std::path::Path;

/// One node's line, without the newline (clusterGenNodeDescription); `use_pport` gives the
/// plaintext port of a tls-cluster node (see `Node::client_port`), never in nodes.conf.
pub fn describe(cl: &Cluster, n: usize, use_pport: bool) -> String {
    let node = &cl.nodes[n];
    let mut s = String::with_capacity(128);
    s.push_str(node.name_str());
    let port = node.client_port(use_pport);
    s.push_str(&format!(" {}:{}@{}", node.ip, port, node.cport));
    if !node.hostname.is_empty() {
        s.push(',');
        s.push_str(&node.hostname);
    }
    s.push(' ');
    s.push_str(&node.flags_text());
    match node.slaveof.and_then(|m| cl.nodes.get(m)) {
        Some(m) => {
            s.push(' ');
            s.push_str(m.name_str());
        }
        None => s.push_str(" -"),
    }
    let connected = node.link.is_some() || node.flags & node::MYSELF != 0;
    s.push_str(&format!(
        " {} {} {} {}",
        node.ping_sent,
        node.pong_received,
        cl.node_epoch(n),
        if connected {
            "connected"
        } else {
            "disconnected"
        }
    ));
    for (a, b) in ranges(&node.slots) {
        if a == b {
            s.push_str(&format!(" {a}"));
        } else {
            s.push_str(&format!(" {a}-{b}"));
        }
    }
    if node.flags & node::MYSELF != 0 {
        for slot in 0..SLOTS {
            if cl.migrating[slot] != NONE {
                if let Some(t) = cl.nodes.get(cl.migrating[slot] as usize) {
                    s.push_str(&format!(" [{slot}->-{}]", t.name_str()));
                }
            } else if cl.importing[slot] != NONE {
                if let Some(f) = cl.nodes.get(cl.importing[slot] as usize) {
                    s.push_str(&format!(" [{slot}-<-{}]", f.name_str()));
                }
            }
        }
    }
    s
}

/// Every node's line, each ending in a newline; `skip_handshake` for nodes.conf.
pub fn describe_all(cl: &Cluster, skip_handshake: bool, use_pport: bool) -> String {
    let mut out = String::new();
    for (k, n) in cl.nodes.iter() {
        if skip_handshake && n.in_handshake() {
            continue;
        }
        out.push_str(&describe(cl, k, use_pport));
        out.push('\n');
    }
    out
}

/// The whole nodes.conf text.
pub fn file_text(cl: &Cluster) -> String {
    let mut s = describe_all(cl, true, false);
    s.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        cl.current_epoch, cl.last_vote_epoch
    ));
    s
}

/// Opens (creating it) and locks nodes.conf for the life of the process (clusterLockConfig):
/// a second node started on the same file is refused.
pub fn lock(path: &Path) -> Result<std::fs::File, String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            format!(
                "Can't open {} in order to acquire a lock: {e}",
                path.display()
            )
        })?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == -1 {
        return Err(format!("Sorry, the cluster configuration file {} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.", path.display()));
    }
    Ok(f)
}

/// Writes nodes.conf in place (as 7.0 does, so the lock held on it stays valid): the new
/// text over the old, then the file cut to its length, fsynced when asked.
pub fn save(cl: &mut Cluster, fsync: bool) -> std::io::Result<()> {
    use std::io::Seek;
    let text = file_text(cl);
    let mut f = match cl.config_file.as_ref() {
        Some(f) => f.try_clone()?,
        None => std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&cl.config_path)?,
    };
    f.seek(std::io::SeekFrom::Start(0))?;
    f.write_all(text.as_bytes())?;
    f.set_len(text.len() as u64)?;
    if fsync {
        f.sync_all()?;
    }
    Ok(())
}

/// Reads nodes.conf into `cl` (clusterLoadConfig). Ok(false) when the file is missing or
/// empty (a new node); Err with Redis's message when it is corrupt.
pub fn load(cl: &mut Cluster, path: &Path, now_ms: i64) -> Result<bool, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(format!(
                "Loading the cluster node config from {}: {e}",
                path.display()
            ))
        }
    };
    if text.is_empty() {
        return Ok(false);
    }
    let corrupt = || {
        format!(
            "Unrecoverable error: corrupted cluster config file \"{}\".",
            path.display()
        )
    };
    parse(cl, &text, now_ms).map_err(|_| corrupt())?;
    Ok(true)
}

/// Parses the text of a nodes.conf into `cl`, replacing its single initial node. Err(line)
/// names the first bad line. Never panics, whatever the bytes.
pub fn parse(cl: &mut Cluster, text: &[u8], now_ms: i64) -> Result<(), usize> {
    // The initial node from Cluster::new goes: the file says who we are.
    let initial = cl.myself;
    cl.nodes.remove(initial);
    let mut myself: Option<usize> = None;
    for (lineno, line) in text.split(|&b| b == b'\n').enumerate() {
        let bad = lineno + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let Some(argv) = split_args(line) else {
            return Err(bad);
        };
        if argv.is_empty() {
            continue;
        }
        if argv[0] == b"vars" {
            if argv.len() % 2 == 0 {
                return Err(bad);
            }
            for kv in argv[1..].chunks(2) {
                let v = parse_u64(&kv[1]).ok_or(bad)?;
                match &kv[0][..] {
                    b"currentEpoch" => cl.current_epoch = v,
                    b"lastVoteEpoch" => cl.last_vote_epoch = v,
                    _ => {}
                }
            }
            continue;
        }
        if argv.len() < 8 || argv[0].len() != NAMELEN {
            return Err(bad);
        }
        let n = find_or_create(cl, &argv[0], now_ms);
        // Address: ip:port@cport[,hostname] (the ip may hold ':' itself: IPv6).
        let addr = &argv[1];
        let (hostpart, hostname) = match addr.iter().position(|&b| b == b',') {
            Some(i) => (&addr[..i], &addr[i + 1..]),
            None => (&addr[..], &b""[..]),
        };
        let colon = hostpart.iter().rposition(|&b| b == b':').ok_or(bad)?;
        let ip = &hostpart[..colon];
        let ports = &hostpart[colon + 1..];
        let (port, cport) = match ports.iter().position(|&b| b == b'@') {
            Some(i) => (parse_port(&ports[..i]), parse_port(&ports[i + 1..])),
            None => {
                let p = parse_port(ports);
                (p, p.map(|p| p.wrapping_add(10000)))
            }
        };
        let (Some(port), Some(cport)) = (port, cport) else {
            return Err(bad);
        };
        {
            let node = &mut cl.nodes[n];
            node.ip = String::from_utf8_lossy(ip).into_owned();
            node.port = port;
            node.cport = cport;
            node.hostname = String::from_utf8_lossy(hostname).into_owned();
        }
        // Flags.
        for f in argv[2].split(|&b| b == b',') {
            let node = &mut cl.nodes[n];
            match f {
                b"myself" => {
                    if myself.is_some() {
                        return Err(bad);
                    }
                    myself = Some(n);
                    node.flags |= node::MYSELF;
                }
                b"master" => node.flags |= node::MASTER,
                b"slave" => node.flags |= node::SLAVE,
                b"fail?" => node.flags |= node::PFAIL,
                b"fail" => {
                    node.flags |= node::FAIL;
                    node.fail_time = now_ms;
                }
                b"handshake" => node.flags |= node::HANDSHAKE,
                b"noaddr" => node.flags |= node::NOADDR,
                b"nofailover" => node.flags |= node::NOFAILOVER,
                b"noflags" => {}
                _ => return Err(bad),
            }
        }
        // Master.
        if argv[3][..] != b"-"[..] {
            if argv[3].len() != NAMELEN {
                return Err(bad);
            }
            let m = find_or_create(cl, &argv[3], now_ms);
            if m == n {
                return Err(bad);
            }
            cl.set_master_of(n, Some(m));
        }
        // Ping/pong times only say whether one was pending.
        let ping = parse_u64(&argv[4]).ok_or(bad)?;
        let pong = parse_u64(&argv[5]).ok_or(bad)?;
        let epoch = parse_u64(&argv[6]).ok_or(bad)?;
        {
            let node = &mut cl.nodes[n];
            node.ping_sent = if ping != 0 { now_ms } else { 0 };
            node.pong_received = if pong != 0 { now_ms } else { 0 };
            node.config_epoch = epoch;
        }
        // Slots, and our own migrating/importing entries.
        for a in &argv[8..] {
            if a.first() == Some(&b'[') {
                let inner = a.strip_prefix(b"[").and_then(|x| x.strip_suffix(b"]"));
                let inner = inner.ok_or(bad)?;
                let dash = inner.iter().position(|&b| b == b'-').ok_or(bad)?;
                let slot = parse_slot(&inner[..dash]).ok_or(bad)?;
                let rest = &inner[dash..];
                let (migrating, name) = if let Some(nm) = rest.strip_prefix(b"->-") {
                    (true, nm)
                } else if let Some(nm) = rest.strip_prefix(b"-<-") {
                    (false, nm)
                } else {
                    return Err(bad);
                };
                if name.len() != NAMELEN {
                    return Err(bad);
                }
                let t = find_or_create(cl, name, now_ms) as u32;
                if migrating {
                    cl.migrating[slot] = t;
                } else {
                    cl.importing[slot] = t;
                }
                continue;
            }
            let (start, stop) = match a.iter().position(|&b| b == b'-') {
                Some(i) => (parse_slot(&a[..i]), parse_slot(&a[i + 1..])),
                None => (parse_slot(a), parse_slot(a)),
            };
            let (Some(start), Some(stop)) = (start, stop) else {
                return Err(bad);
            };
            for s in start..=stop {
                // A slot listed twice goes to the last node that claims it, as in Redis.
                cl.del_slot(s);
                cl.add_slot(n, s);
            }
        }
    }
    let Some(me) = myself else {
        return Err(0);
    };
    cl.myself = me;
    // Our currentEpoch is at least the greatest config epoch we know.
    let max = cl.max_epoch();
    cl.current_epoch = cl.current_epoch.max(max);
    Ok(())
}

/// The entry named `name`, created (a bare entry with no flags) when missing.
fn find_or_create(cl: &mut Cluster, name: &[u8], now_ms: i64) -> usize {
    if let Some(n) = cl.lookup(name) {
        return n;
    }
    let mut nm = [0u8; NAMELEN];
    nm.copy_from_slice(&name[..NAMELEN]);
    cl.add_node(Node::new(nm, 0, now_ms))
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_port(b: &[u8]) -> Option<u16> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_slot(b: &[u8]) -> Option<usize> {
    let s: usize = std::str::from_utf8(b).ok()?.parse().ok()?;
    (s < SLOTS).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:7301@17301 myself,master - 0 0 3 connected 1-3 100-200 [5->-a1b2c3d4e5f60718293a4b5c6d7e8f9012345678] [6-<-a1b2c3d4e5f60718293a4b5c6d7e8f9012345678]
a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 127.0.0.1:7302@17302,host-b master - 0 1700000000000 2 connected 5000
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7303@17303 slave a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 0 0 2 disconnected
vars currentEpoch 5 lastVoteEpoch 4
";

    #[test]
    fn round_trip() {
        let mut cl = Cluster::new("x".into(), 0);
        parse(&mut cl, FILE.as_bytes(), 0).unwrap();
        assert_eq!(
            cl.me().name_str(),
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3"
        );
        assert_eq!(cl.current_epoch, 5);
        assert_eq!(cl.last_vote_epoch, 4);
        assert_eq!(cl.slots_assigned(), 3 + 101 + 1);
        let b = cl
            .lookup(b"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
            .unwrap();
        assert_eq!(cl.nodes[b].hostname, "host-b");
        assert_eq!(cl.owner(5000), Some(b));
        let r = cl.lookup(&[b'b'; 40]).unwrap();
        assert_eq!(cl.nodes[r].slaveof, Some(b));
        assert_eq!(cl.nodes[b].replicas, vec![r]);
        // Times come back as "now" (here 0), links as disconnected but for ourselves.
        let text = file_text(&cl);
        let want = FILE.replace(" 1700000000000 ", " 0 ").replace(
            "host-b master - 0 0 2 connected",
            "host-b master - 0 0 2 disconnected",
        );
        let mut got: Vec<&str> = text.lines().collect();
        let mut want: Vec<&str> = want.lines().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn corrupt_files_are_refused() {
        for bad in [
            "short line\n",
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:7301@17301 master - 0 0 0 connected\n",
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1 myself,master - 0 0 0 connected\n",
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:1@2 myself,bogus - 0 0 0 connected\n",
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:1@2 myself,master - 0 0 0 connected 16384\n",
            "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:1@2 myself,master - 0 0 0 connected [1->-x]\n",
            "vars currentEpoch\n",
        ] {
            let mut cl = Cluster::new("x".into(), 0);
            assert!(parse(&mut cl, bad.as_bytes(), 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn old_address_form_adds_10000() {
        let mut cl = Cluster::new("x".into(), 0);
        let f = "470fe48dc1f6a0a58837be93358aab1fc5c9dac3 127.0.0.1:7301 myself,master - 0 0 0 connected\n";
        parse(&mut cl, f.as_bytes(), 0).unwrap();
        assert_eq!(cl.me().cport, 17301);
    }
}
