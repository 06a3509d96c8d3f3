//! Cluster test helpers: nodes in cluster mode on free ports (the bus port passed as
//! `--cluster-port`), CLUSTER NODES as rows, redis-cli runs with a bound, `redis-cli --cluster
//! create`, and a small client that follows -MOVED/-ASK as a cluster client does.

use super::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A node in cluster mode (`bin` ferrodis or the oracle) with `node_timeout` ms and `extra`
/// arguments; returns it and its bus port.
pub fn cluster_node(ferro: bool, node_timeout: u64, extra: &[&str]) -> (Server, u16) {
    let bus = free_port();
    let (bus_s, timeout_s) = (bus.to_string(), node_timeout.to_string());
    let mut args = vec![
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        &bus_s,
        "--cluster-node-timeout",
        &timeout_s,
    ];
    args.extend_from_slice(extra);
    let s = if ferro {
        ferrodis_with(&args)
    } else {
        oracle_with(&args)
    };
    (s, bus)
}

/// Polls `cond` every 50 ms until it holds; fails with `what` after `secs` seconds.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The reply as text (bulk, verbatim or status).
pub fn text_of(c: &mut RawConn, args: &[&str]) -> String {
    c.value(args).text().unwrap_or_default()
}

/// True when CLUSTER INFO says cluster_state:ok.
pub fn cluster_ok(c: &mut RawConn) -> bool {
    text_of(c, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
}

/// CLUSTER MYID.
pub fn node_id(c: &mut RawConn) -> String {
    text_of(c, &["CLUSTER", "MYID"])
}

/// One CLUSTER NODES line, split.
#[derive(Clone, Debug)]
pub struct NodeRow {
    pub id: String,
    pub port: u16,
    pub flags: String,
    /// The master's id, or "-".
    pub master: String,
    pub epoch: u64,
    pub connected: bool,
    /// The slot ranges as printed.
    pub slots: Vec<String>,
}

impl NodeRow {
    pub fn is_master(&self) -> bool {
        self.flags.split(',').any(|f| f == "master")
    }
    pub fn is_myself(&self) -> bool {
        self.flags.split(',').any(|f| f == "myself")
    }
    pub fn failed(&self) -> bool {
        self.flags.split(',').any(|f| f == "fail")
    }
}

/// CLUSTER NODES as rows.
pub fn node_rows(c: &mut RawConn) -> Vec<NodeRow> {
    text_of(c, &["CLUSTER", "NODES"])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 8 {
                return None;
            }
            let addr = f[1].split('@').next()?;
            let port = addr.rsplit(':').next()?.parse().ok()?;
            Some(NodeRow {
                id: f[0].to_string(),
                port,
                flags: f[2].to_string(),
                master: f[3].to_string(),
                epoch: f[6].parse().ok()?,
                connected: f[7] == "connected",
                slots: f[8..].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
}

/// The row of node `id` as `c` sees it.
pub fn row_of(c: &mut RawConn, id: &str) -> Option<NodeRow> {
    node_rows(c).into_iter().find(|r| r.id == id)
}

/// ROLE's first element: "master" or "slave".
pub fn role_of(c: &mut RawConn) -> String {
    let r = c.value(&["ROLE"]);
    r.items()
        .and_then(|items| items.first())
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// Runs redis-cli with `args`, bounded by `secs`; returns (success, stdout + stderr).
pub fn redis_cli_run(args: &[String], secs: u64) -> (bool, String) {
    let child = std::process::Command::new("redis-cli")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("redis-cli (redis-tools) is needed");
    // Its output is read while it runs (a long --cluster reshard fills a pipe), on a thread
    // so the wait is bounded.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            let out = rx.recv().unwrap().unwrap();
            panic!(
                "redis-cli {args:?} did not finish in {secs} s:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// True when `redis-cli --cluster check` through `port` reports no error or warning.
pub fn cluster_check_clean(port: u16) -> (bool, String) {
    let (ok, out) = redis_cli_run(
        &[
            "--cluster".into(),
            "check".into(),
            format!("127.0.0.1:{port}"),
        ],
        60,
    );
    let clean = ok
        && out.contains("[OK] All nodes agree about slots configuration.")
        && out.contains("[OK] All 16384 slots covered.")
        && !out.contains("[ERR]")
        && !out.contains("[WARNING]");
    (clean, out)
}

/// `redis-cli --cluster create` of `nodes` with `replicas` replicas per master; waits until
/// `--cluster check` is clean and every node is OK.
pub fn create_cluster(nodes: &[(Server, u16)], replicas: usize) {
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(|(s, _)| format!("127.0.0.1:{}", s.port())));
    args.extend([
        "--cluster-replicas".to_string(),
        replicas.to_string(),
        "--cluster-yes".to_string(),
    ]);
    let (ok, out) = redis_cli_run(&args, 120);
    assert!(ok && out.contains("[OK] All 16384 slots covered."), "{out}");
    let port = nodes[0].0.port();
    wait_for(60, "--cluster check to be clean", || {
        cluster_check_clean(port).0
    });
    let mut conns: Vec<RawConn> = nodes.iter().map(|(s, _)| s.conn()).collect();
    wait_for(60, "every node OK", || conns.iter_mut().all(cluster_ok));
    // The check looks at slots only: wait until every node knows every replica too.
    let want = nodes.len() - nodes.len() / (replicas + 1);
    wait_for(60, "every node to know every replica", || {
        conns.iter_mut().all(|c| {
            node_rows(c)
                .iter()
                .filter(|r| !r.is_master() && r.master != "-")
                .count()
                == want
        })
    });
}

/// CLUSTER MEET from `a` to `b` (bus port `bbus`); waits until each lists the other,
/// connected.
pub fn meet(a: &mut RawConn, b: &Server, bbus: u16) {
    let mut bc = b.conn();
    let (aid, bid) = (node_id(a), node_id(&mut bc));
    a.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &b.port().to_string(),
        &bbus.to_string(),
    ]);
    wait_for(20, "two nodes to meet", || {
        row_of(a, &bid).is_some_and(|r| r.connected && !r.flags.contains("handshake"))
            && row_of(&mut bc, &aid).is_some_and(|r| r.connected && !r.flags.contains("handshake"))
    });
}

/// A client that follows -MOVED and -ASK among the nodes it reaches, and retries while the
/// cluster is down or a node is unreachable (as cluster clients do during a failover).
pub struct Follower {
    conns: HashMap<u16, RawConn>,
    /// The port commands go to first.
    pub start: u16,
}

impl Follower {
    pub fn new(start: u16) -> Follower {
        Follower {
            conns: HashMap::new(),
            start,
        }
    }

    fn conn(&mut self, port: u16) -> Option<&mut RawConn> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.conns.entry(port) {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
            e.insert(RawConn::from_stream(s, port));
        }
        self.conns.get_mut(&port)
    }

    /// Sends `args` through redirections; retries for up to `secs` seconds. Returns the
    /// reply and how many redirections it took.
    pub fn cmd(&mut self, args: &[&str], secs: u64) -> (Vec<u8>, usize) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut at = self.start;
        let mut asking = false;
        let mut hops = 0;
        loop {
            assert!(Instant::now() < deadline, "{args:?} never succeeded");
            let Some(c) = self.conn(at) else {
                std::thread::sleep(Duration::from_millis(100));
                at = self.start;
                continue;
            };
            if asking {
                c.cmd(&["ASKING"]);
                asking = false;
            }
            let r = c.cmd(args);
            let s = String::from_utf8_lossy(&r).into_owned();
            let target =
                |rest: &str| -> u16 { rest.trim().rsplit(':').next().unwrap().parse().unwrap() };
            if let Some(rest) = s.strip_prefix("-MOVED ") {
                at = target(rest);
                hops += 1;
            } else if let Some(rest) = s.strip_prefix("-ASK ") {
                at = target(rest);
                asking = true;
                hops += 1;
            } else if s.starts_with("-CLUSTERDOWN") || s.starts_with("-TRYAGAIN") {
                std::thread::sleep(Duration::from_millis(100));
            } else {
                return (r, hops);
            }
        }
    }

    /// Forgets the connection to `port` (its server went away).
    pub fn drop_port(&mut self, port: u16) {
        self.conns.remove(&port);
    }
}
