//! The client matrix (issue 25): real client libraries in several languages, each running its
//! scenario from tests/clients/ (see tests/clients/run.sh) against a ferrodis of its own. A
//! scenario prints one line per check and exits 0 when all pass; its whole output is shown
//! when it fails. Each run is bounded by a timeout and its process group is killed after it.
//! The Rust `redis` crate (a dev-dependency) runs in-process at the end of this file.
//!
//! The libraries are installed by tests/clients/install.sh (`make test` and .ci/run call it). A
//! scenario whose runtime or library is missing fails, unless FERRODIS_CLIENTS_OPTIONAL=1, when
//! it is reported as skipped.
//!
//! Every server also listens on a unix socket (FERRODIS_SOCKET). A few scenarios also connect
//! over mutual TLS (TLS_SCENARIOS): their server gets a `tls-port` with certificates made here
//! by the `openssl` command.
//!
//! FERRODIS_CLIENTS_SERVER=oracle runs the same scenarios against redis-server instead, to check
//! a scenario itself: every scenario passes against both.
//!
//! The cluster scenarios (CLUSTER_SCENARIOS, and `rust_redis_cluster` here) run against a
//! cluster of three masters made here (`Cluster`): FERRODIS_CLUSTER names their ports, and
//! FERRODIS_PORT is the first one.

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);
/// run.sh's exit code for a missing runtime or library (as in automake's "skipped").
const SKIPPED: i32 = 77;

/// The server a scenario runs against: ferrodis, or the oracle (see the header).
fn server() -> Server {
    server_with(&[])
}

fn server_with(args: &[&str]) -> Server {
    if std::env::var("FERRODIS_CLIENTS_SERVER").as_deref() == Ok("oracle") {
        oracle_with(args)
    } else {
        ferrodis_with(args)
    }
}

/// The scenarios that also connect over TLS: their server gets a `tls-port` (mutual TLS, the
/// default `tls-auth-clients yes`), and the scenario FERRODIS_TLS_PORT and FERRODIS_TLS_DIR
/// (ca.crt, client.crt, client.key).
const TLS_SCENARIOS: &[&str] = &[
    "py-sync-resp2",
    "py-sync-resp3",
    "py-async-resp3",
    "node-ioredis",
    "node-redis",
    "ruby-redis",
    "php-redis",
];

/// Runs `openssl` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line tool is needed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server and a client certificate signed by it (P-256 keys: quick to make), v3
/// with the usages and names rustls checks.
fn make_certs(dir: &Path) {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-new", "-days", "3650", "-subj", "/CN=ca"];
    ca.extend(key);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(dir, &ca);
    for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        fs::write(
            dir.join(format!("{name}.ext")),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                 extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
            ),
        )
        .unwrap();
        let (k, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={name}");
        let mut req = vec!["req", "-new", "-subj", &subj];
        req.extend(key);
        req.extend(["-keyout", &k, "-out", &csr]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ],
        );
    }
}

/// The scenarios that run against a cluster of three masters ([`Cluster`]).
const CLUSTER_SCENARIOS: &[&str] = &[
    "py-cluster",
    "py-async-cluster",
    "node-ioredis-cluster",
    "node-redis-cluster",
    "ruby-redis-cluster",
    "php-redis-cluster",
    "php-predis-cluster",
];

/// cluster-node-timeout of the cluster nodes: a node that starts serving slots is OK after it
/// (at least 500 ms), and a loaded machine does not mark a live node PFAIL within it.
const NODE_TIMEOUT: &str = "3000";

/// Three master nodes in cluster mode (ferrodis, or redis-server as `server` chooses): the
/// slots split in thirds with CLUSTER ADDSLOTSRANGE, the nodes joined by CLUSTER MEET, and
/// every node's state ok and its view of all three nodes connected before `start` returns.
/// Every node stops when it drops.
struct Cluster {
    nodes: Vec<Server>,
}

impl Cluster {
    fn start() -> Cluster {
        let buses: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let nodes: Vec<Server> = buses
            .iter()
            .map(|bus| {
                server_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                    "--cluster-node-timeout",
                    NODE_TIMEOUT,
                ])
            })
            .collect();
        let mut conns: Vec<RawConn> = nodes.iter().map(Server::conn).collect();
        for (c, range) in
            conns
                .iter_mut()
                .zip([["0", "5460"], ["5461", "10922"], ["10923", "16383"]])
        {
            assert_eq!(
                c.cmd(&["CLUSTER", "ADDSLOTSRANGE", range[0], range[1]]),
                b"+OK\r\n"
            );
        }
        for (n, bus) in nodes.iter().zip(&buses).skip(1) {
            let (port, bus) = (n.port().to_string(), bus.to_string());
            assert_eq!(
                conns[0].cmd(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus]),
                b"+OK\r\n"
            );
        }
        let text = |c: &mut RawConn, args: &[&str]| c.value(args).text().unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = conns.iter_mut().all(|c| {
                text(c, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
                    && text(c, &["CLUSTER", "NODES"])
                        .lines()
                        .filter(|l| l.contains(" connected"))
                        .count()
                        == 3
            });
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not come up; CLUSTER NODES of the first node:\n{}",
                text(&mut conns[0], &["CLUSTER", "NODES"])
            );
            thread::sleep(Duration::from_millis(50));
        }
        Cluster { nodes }
    }

    /// The client ports of the nodes, comma-separated (FERRODIS_CLUSTER).
    fn ports(&self) -> String {
        let ports: Vec<String> = self.nodes.iter().map(|n| n.port().to_string()).collect();
        ports.join(",")
    }
}

fn scenario(name: &str) {
    if CLUSTER_SCENARIOS.contains(&name) {
        let cluster = Cluster::start();
        let port = cluster.nodes[0].port().to_string();
        let env = [
            ("FERRODIS_PORT", port),
            ("FERRODIS_CLUSTER", cluster.ports()),
        ];
        return run_scenario(name, scratch_dir("client", name), &env);
    }
    let dir = scratch_dir("client", name);
    let tls = TLS_SCENARIOS.contains(&name);
    let tls_port = free_port();
    // Every server also listens on a unix socket (FERRODIS_SOCKET) for the clients that can use
    // one.
    let socket = dir.join("server.sock").to_string_lossy().into_owned();
    let mut args = vec!["--unixsocket", &socket, "--unixsocketperm", "700"];
    let file = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (port, cert, key, ca) = (
        tls_port.to_string(),
        file("server.crt"),
        file("server.key"),
        file("ca.crt"),
    );
    let server = if tls {
        make_certs(&dir);
        args.extend([
            "--tls-port",
            &port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
        ]);
        let s = server_with(&args);
        // The TLS listener opens with the plain one; the harness waits for the plain one.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
            assert!(Instant::now() < deadline, "nothing listens on {tls_port}");
            thread::sleep(Duration::from_millis(20));
        }
        s
    } else {
        server_with(&args)
    };
    let mut env = vec![
        ("FERRODIS_PORT", server.port().to_string()),
        ("FERRODIS_SOCKET", socket.clone()),
    ];
    if tls {
        env.push(("FERRODIS_TLS_PORT", tls_port.to_string()));
        env.push(("FERRODIS_TLS_DIR", dir.to_string_lossy().into_owned()));
    } else {
        // The server's two Lua clients took ids 1 and 2 and the harness's readiness probe 3.
        env.push(("FERRODIS_FIRST_CLIENT_ID", "4".to_string()));
    }
    run_scenario(name, dir, &env);
}

/// Runs run.sh NAME with `env`, bounded by TIMEOUT, its output logged in the scratch directory
/// `dir` (removed after); reports as the header says.
fn run_scenario(name: &str, dir: PathBuf, env: &[(&str, String)]) {
    let log = dir.join("out.log");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = fs::File::create(&log).unwrap();
    let mut command = Command::new("bash");
    command
        .arg(format!("{root}/tests/clients/run.sh"))
        .arg(name)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .expect("cannot run bash tests/clients/run.sh");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    // Whatever the scenario started (threads, forked workers) goes with its process group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let output = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_dir_all(&dir);
    match status {
        None => panic!(
            "client scenario {name} timed out after {}s; its output:\n{output}",
            TIMEOUT.as_secs()
        ),
        Some(s) if s.success() => {
            // The first line names the library and its version.
            println!("{name}: {}", output.lines().next().unwrap_or(""));
        }
        Some(s) if s.code() == Some(SKIPPED) => {
            if std::env::var("FERRODIS_CLIENTS_OPTIONAL").as_deref() == Ok("1") {
                println!("{name}: skipped: {}", output.trim());
            } else {
                panic!(
                    "client scenario {name} cannot run: {}\nrun tests/clients/install.sh, or set \
                     FERRODIS_CLIENTS_OPTIONAL=1 to skip it",
                    output.trim()
                );
            }
        }
        Some(s) => panic!("client scenario {name} failed ({s}); its output:\n{output}"),
    }
}

macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test]
        fn $test() {
            scenario($name);
        })*

        /// Every scenario run.sh knows has a test here.
        #[test]
        fn every_scenario_has_a_test() {
            let out = Command::new("bash")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/run.sh"))
                .arg("--list")
                .output()
                .unwrap();
            let listed: Vec<String> =
                String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
            assert_eq!(listed, vec![$($name.to_string()),*]);
        }
    };
}

scenarios! {
    py_sync_resp2 => "py-sync-resp2",
    py_sync_resp3 => "py-sync-resp3",
    py_hiredis_resp2 => "py-hiredis-resp2",
    py_hiredis_resp3 => "py-hiredis-resp3",
    py_async_resp2 => "py-async-resp2",
    py_async_resp3 => "py-async-resp3",
    py_rq => "py-rq",
    py_pottery => "py-pottery",
    py_celery => "py-celery",
    node_ioredis => "node-ioredis",
    node_redis => "node-redis",
    node_bullmq => "node-bullmq",
    c_hiredis => "c-hiredis",
    ruby_redis => "ruby-redis",
    ruby_sidekiq => "ruby-sidekiq",
    php_redis => "php-redis",
    php_predis => "php-predis",
    py_cluster => "py-cluster",
    py_async_cluster => "py-async-cluster",
    node_ioredis_cluster => "node-ioredis-cluster",
    node_redis_cluster => "node-redis-cluster",
    ruby_redis_cluster => "ruby-redis-cluster",
    php_redis_cluster => "php-redis-cluster",
    php_predis_cluster => "php-predis-cluster",
}

/// The Rust `redis` crate (the dev-dependency), in RESP2 and RESP3: pipelines, an atomic
/// pipeline, the `transaction` helper's WATCH retry, Pub/Sub with a pattern, a blocking pop's
/// timeout, `scan_match`, streams, `Script` with its NOSCRIPT fallback and the errors for
/// WRONGTYPE, NOSCRIPT, BUSY and OOM.
fn rust_redis(proto: &str) {
    use redis::Commands;
    let server = server();
    let url = format!("redis://127.0.0.1:{}/?protocol={proto}", server.port());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut other = client.get_connection().unwrap();

    let mut p = redis::pipe();
    for i in 0..100 {
        p.rpush("rs:l", i).ignore();
    }
    p.lrange("rs:l", 0, 2).llen("rs:l");
    let (head, len): (Vec<i64>, i64) = p.query(&mut con).unwrap();
    assert_eq!((head, len), (vec![0, 1, 2], 100));
    let (v,): (i64,) = redis::pipe()
        .atomic()
        .set("rs:a", 1)
        .ignore()
        .incr("rs:a", 4)
        .query(&mut con)
        .unwrap();
    assert_eq!(v, 5);

    // WATCH with a retry: the first attempt is spoiled by another connection.
    let _: () = con.set("rs:w", 3).unwrap();
    let mut attempts = 0;
    let (w,): (i64,) = redis::transaction(&mut con, &["rs:w"], |c, pipe| {
        attempts += 1;
        let v: i64 = c.get("rs:w")?;
        if attempts == 1 {
            let _: i64 = other.incr("rs:w", 1)?;
        }
        pipe.set("rs:w", v * 2).ignore().get("rs:w").query(c)
    })
    .unwrap();
    assert_eq!((attempts, w), (2, 8));

    // A blocking pop that times out answers nil.
    let popped: Option<(String, String)> = con.blpop("rs:empty", 0.1).unwrap();
    assert_eq!(popped, None);

    // scan_match.
    for i in 0..120 {
        let _: () = con.set(format!("rs:scan:{i}"), i).unwrap();
    }
    let mut keys: Vec<String> = con
        .scan_match("rs:scan:*")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 120);

    // Streams through plain commands.
    let id: String = redis::cmd("XADD")
        .arg("rs:st")
        .arg("*")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "rs:st", "g", "0"])
        .query(&mut con)
        .unwrap();
    let read: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "c", "STREAMS", "rs:st", ">"])
        .query(&mut con)
        .unwrap();
    assert!(format!("{read:?}").contains(&id), "{read:?}");
    let acked: i64 = redis::cmd("XACK")
        .arg(&["rs:st", "g", &id])
        .query(&mut con)
        .unwrap();
    assert_eq!(acked, 1);

    // The WRONGTYPE error keeps its code.
    let err = con.lpush::<_, _, i64>("rs:a", 1).unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err:?}");

    // Scripts: Script::invoke sends EVALSHA and, on NOSCRIPT (after SCRIPT FLUSH), loads it.
    let script = redis::Script::new(
        "redis.call('INCRBY', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[1])",
    );
    let n: i64 = script.key("rs:n").arg(2).invoke(&mut con).unwrap();
    assert_eq!(n, 4);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    let n: i64 = script.key("rs:n").arg(1).invoke(&mut con).unwrap();
    assert_eq!(n, 6);
    let err = redis::cmd("EVALSHA")
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .arg(0)
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::NoScript),
        "{err:?}"
    );

    // BUSY while a script loops on another connection, until SCRIPT KILL.
    config_set(&mut con, "busy-reply-threshold", 100);
    let looper = {
        let client = client.clone();
        thread::spawn(move || {
            let mut l = client.get_connection().unwrap();
            redis::cmd("EVAL")
                .arg("while true do end")
                .arg(0)
                .query::<redis::Value>(&mut l)
                .unwrap_err()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = loop {
        match redis::cmd("GET").arg("rs:n").query::<i64>(&mut con) {
            Err(e) => break e,
            Ok(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(_) => panic!("no BUSY error"),
        }
    };
    assert_eq!(busy.code(), Some("BUSY"), "{busy:?}");
    let _: () = redis::cmd("SCRIPT").arg("KILL").query(&mut con).unwrap();
    let killed = looper.join().unwrap();
    assert!(
        killed.to_string().contains("Script killed by user"),
        "{killed:?}"
    );
    config_set(&mut con, "busy-reply-threshold", 5000);

    // OOM under a tiny maxmemory with noeviction.
    config_set(&mut con, "maxmemory-policy", "noeviction");
    config_set(&mut con, "maxmemory", 1);
    let err = con.set::<_, _, ()>("rs:oom", 1).unwrap_err();
    assert_eq!(err.code(), Some("OOM"), "{err:?}");
    config_set(&mut con, "maxmemory", 0);

    // Pub/Sub with a pattern on a connection of its own.
    let mut sub_con = client.get_connection().unwrap();
    let mut sub = sub_con.as_pubsub();
    sub.psubscribe("rs:ev:*").unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n: i64 = con.publish("rs:ev:1", "hi").unwrap();
    assert_eq!(n, 1);
    let msg = sub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "rs:ev:1");
    assert_eq!(msg.get_pattern::<String>().unwrap(), "rs:ev:*");
    assert_eq!(msg.get_payload::<String>().unwrap(), "hi");
}

fn config_set(con: &mut redis::Connection, name: &str, value: impl redis::ToRedisArgs) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap();
}

#[test]
fn rust_redis_resp2() {
    rust_redis("2");
}

#[test]
fn rust_redis_resp3() {
    rust_redis("3");
}

/// The Rust `redis` crate's sync cluster client (feature `cluster`) against a cluster of three
/// masters ([`Cluster`]): keys spread over every master, one at a time and in a cluster
/// pipeline (split by node); MGET/DEL over slots (split by the client); hash tags with
/// multi-key commands and a script; CROSSSLOT from the server with its error kind; slots moved
/// with CLUSTER SETSLOT NODE on every node, then written through the stale slot map (-MOVED
/// followed by a command; a pipeline hands the -MOVED replies back); SPUBLISH routed by its
/// channel. (The sync
/// cluster client has no subscriptions; sharded Pub/Sub is the async client's, with tokio.)
#[test]
fn rust_redis_cluster() {
    use redis::cluster::{cluster_pipe, ClusterClient};
    use redis::Commands;
    let cluster = Cluster::start();
    let ports: Vec<u16> = cluster.nodes.iter().map(Server::port).collect();
    let client = ClusterClient::new(vec![format!("redis://127.0.0.1:{}/", ports[0])]).unwrap();
    let mut rc = client.get_connection().unwrap();
    // Raw connections to each node, to look behind the cluster client's back.
    let mut direct: Vec<RawConn> = cluster.nodes.iter().map(Server::conn).collect();
    let at = |port: u16| ports.iter().position(|&p| p == port).unwrap();
    let keyslot = |c: &mut RawConn, key: &str| c.value(&["CLUSTER", "KEYSLOT", key]).int().unwrap();
    // The port of the node CLUSTER SLOTS names for `slot`.
    let owner_of = |c: &mut RawConn, slot: i64| -> u16 {
        let slots = c.value(&["CLUSTER", "SLOTS"]);
        let range = slots
            .items()
            .unwrap()
            .iter()
            .map(|r| r.items().unwrap())
            .find(|r| r[0].int().unwrap() <= slot && slot <= r[1].int().unwrap())
            .unwrap();
        range[2].items().unwrap()[1].int().unwrap() as u16
    };
    let moved = |c: &mut RawConn| -> i64 {
        c.value(&["INFO", "errorstats"])
            .text()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("errorstat_MOVED:count="))
            .map_or(0, |n| n.trim().parse().unwrap())
    };

    // Keys over every slot range, one at a time and in a cluster pipeline (split by node).
    for i in 0..200 {
        let _: () = rc.set(format!("k:{i}"), i).unwrap();
    }
    for i in 0..200 {
        let v: i64 = rc.get(format!("k:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let mut p = cluster_pipe();
    for i in 0..1000 {
        p.set(format!("p:{i}"), i).ignore();
    }
    for i in 0..1000 {
        p.get(format!("p:{i}"));
    }
    let got: Vec<i64> = p.query(&mut rc).unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<i64>>());
    let sizes: Vec<i64> = direct
        .iter_mut()
        .map(|c| c.value(&["DBSIZE"]).int().unwrap())
        .collect();
    assert!(sizes.iter().all(|&s| s > 200), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<i64>(), 1200);
    // MGET and DEL over slots, split by the client.
    let keys: Vec<String> = (0..50).map(|i| format!("p:{i}")).collect();
    let vals: Vec<i64> = rc.mget(&keys).unwrap();
    assert_eq!(vals, (0..50).collect::<Vec<i64>>());
    let n: i64 = rc.del(&keys).unwrap();
    assert_eq!(n, 50);

    // Hash tags: multi-key commands and a script.
    let _: () = rc.mset(&[("{u1}:a", "1"), ("{u1}:b", "2")]).unwrap();
    let v: Vec<Option<String>> = rc.mget(&["{u1}:a", "{u1}:b", "{u1}:none"]).unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("2".into()), None]);
    let _: () = rc.sadd("{u1}:s1", &["a", "b"]).unwrap();
    let _: () = rc.sadd("{u1}:s2", &["b", "c"]).unwrap();
    let n: i64 = rc.sinterstore("{u1}:s3", &["{u1}:s1", "{u1}:s2"]).unwrap();
    assert_eq!(n, 1);
    let _: () = rc.rename("{u1}:a", "{u1}:c").unwrap();
    let script =
        redis::Script::new("return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])");
    let v: String = script.key("{u1}:b").key("{u1}:c").invoke(&mut rc).unwrap();
    assert_eq!(v, "21");

    // CROSSSLOT: the command goes to its first key's node, which refuses it.
    let err = rc
        .sinterstore::<_, _, i64>("x:1", &["x:2", "x:3"])
        .unwrap_err();
    assert_eq!(
        err.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::CrossSlot),
        "{err:?}"
    );
    assert_eq!(
        err.detail(),
        Some("Keys in request don't hash to the same slot"),
        "{err:?}"
    );

    // -MOVED: two empty slots change owner (CLUSTER SETSLOT NODE on every node, the new owner
    // first); the client still has the old map, follows the redirection and learns.
    let mut moves = Vec::new();
    for key in ["{moved1}k", "{moved2}k"] {
        let slot = keyslot(&mut direct[0], key);
        let owner = owner_of(&mut direct[0], slot);
        let target = *ports.iter().find(|&&p| p != owner).unwrap();
        let id = direct[at(target)]
            .value(&["CLUSTER", "MYID"])
            .text()
            .unwrap();
        let v: Option<String> = rc.get(key).unwrap();
        assert_eq!(v, None);
        moves.push((key, slot, owner, target, id));
    }
    for (_, slot, _, target, id) in &moves {
        let slot = slot.to_string();
        let mut order = vec![*target];
        order.extend(ports.iter().filter(|&p| p != target));
        for p in order {
            let reply = direct[at(p)].cmd(&["CLUSTER", "SETSLOT", &slot, "NODE", id]);
            assert_eq!(reply, b"+OK\r\n");
        }
    }
    let (key1, slot1, owner1, target1, _) = moves[0].clone();
    let (key2, slot2, owner2, target2, _) = moves[1].clone();
    let mut old = redis::Client::open(format!("redis://127.0.0.1:{owner1}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let err = old.get::<_, Option<String>>(key1).unwrap_err();
    let want = format!("127.0.0.1:{target1}");
    assert_eq!(
        err.redirect_node(),
        Some((want.as_str(), slot1 as u16)),
        "{err:?}"
    );
    // A pipeline does not follow it (redis 1.8's sync cluster pipeline hands back the -MOVED
    // replies, with redis-server as with ferrodis) ...
    let before = moved(&mut direct[at(owner2)]);
    let pipe = |rc: &mut redis::cluster::ClusterConnection| {
        cluster_pipe()
            .set(key2, "piped")
            .get(key2)
            .query::<(String, String)>(rc)
    };
    let err = pipe(&mut rc).unwrap_err();
    let want = format!("Moved: {slot2} 127.0.0.1:{target2}");
    assert!(err.to_string().contains(&want), "{err}");
    assert_eq!(moved(&mut direct[at(owner2)]), before + 2);
    // ... a command does, and reloads the whole slot map: then the pipeline goes right.
    let _: () = rc.set(key1, "v").unwrap();
    let v: String = rc.get(key1).unwrap();
    assert_eq!(v, "v");
    let (ok, v) = pipe(&mut rc).unwrap();
    assert_eq!((ok.as_str(), v.as_str()), ("OK", "piped"));
    assert_eq!(direct[at(target1)].cmd(&["GET", key1]), b"$1\r\nv\r\n");
    assert_eq!(direct[at(target2)].cmd(&["GET", key2]), b"$5\r\npiped\r\n");

    // SPUBLISH goes to the channel's node, where a subscriber hears it.
    let chan = "news{u1}";
    let slot = keyslot(&mut direct[0], chan);
    let mut sub = RawConn::connect(owner_of(&mut direct[0], slot));
    sub.cmd(&["SSUBSCRIBE", chan]);
    let n: i64 = rc.spublish(chan, "hello").unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        sub.read_reply(),
        b"*3\r\n$8\r\nsmessage\r\n$8\r\nnews{u1}\r\n$5\r\nhello\r\n"
    );
}
