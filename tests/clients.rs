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

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
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

fn scenario(name: &str) {
    let dir = scratch_dir("client", name);
    let log = dir.join("out.log");
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
    let root = env!("CARGO_MANIFEST_DIR");
    let out = fs::File::create(&log).unwrap();
    let mut command = Command::new("bash");
    command
        .arg(format!("{root}/tests/clients/run.sh"))
        .arg(name)
        .env("FERRODIS_PORT", server.port().to_string())
        .env("FERRODIS_SOCKET", &socket);
    if tls {
        command
            .env("FERRODIS_TLS_PORT", tls_port.to_string())
            .env("FERRODIS_TLS_DIR", &dir);
    } else {
        // The server's two Lua clients took ids 1 and 2 and the harness's readiness probe 3.
        command.env("FERRODIS_FIRST_CLIENT_ID", "4");
    }
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
