//! TLS (src/server/tls.rs) against the oracle, both started with the same `tls-*` options
//! beside their plain port. The certificates (a CA, a server and a client certificate signed by
//! it, and a client certificate from another CA) are made at test time with the `openssl`
//! command into a scratch directory; clients are `redis-cli --tls` (Debian's redis-tools is
//! built with TLS) and raw TCP sockets for what no TLS client would send.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `openssl` with `args` in `dir`; panics with its output on failure.
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

/// Makes a CA named `ca` and a certificate `name` signed by it for `usage` (serverAuth or
/// clientAuth), as v3 certificates (webpki refuses v1 ones).
fn make_ca(dir: &Path, ca: &str) {
    let key = format!("{ca}.key");
    let crt = format!("{ca}.crt");
    let subj = format!("/CN={ca}");
    openssl(
        dir,
        &[
            "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", &key, "-out", &crt,
            "-days", "3650", "-subj", &subj,
        ],
    );
}

fn make_cert(dir: &Path, ca: &str, name: &str, usage: &str) {
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        ),
    )
    .unwrap();
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let subj = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", &key, "-out", &csr, "-subj",
            &subj,
        ],
    );
    let (cacrt, cakey) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &cacrt,
            "-CAkey",
            &cakey,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "3650",
            "-extfile",
            &ext,
        ],
    );
}

/// The certificates of one test.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new(tag: &str) -> Certs {
        let dir = scratch_dir("tls", tag);
        make_ca(&dir, "ca");
        // Both usages: a Redis replica presents its server certificate as a client one
        // (webpki enforces extendedKeyUsage; OpenSSL, by default, does not).
        make_cert(&dir, "ca", "server", "serverAuth,clientAuth");
        make_cert(&dir, "ca", "client", "clientAuth");
        make_ca(&dir, "otherca");
        make_cert(&dir, "otherca", "stranger", "clientAuth");
        Certs { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_string_lossy().into_owned()
    }

    /// Server options: `tls-port` and the certificate files, then `extra`.
    fn server_args(&self, tls_port: u16, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            self.path("server.crt"),
            "--tls-key-file".into(),
            self.path("server.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }
}

/// A ferrodis and an oracle with TLS on their own TLS ports: (server, its TLS port) each.
fn start_pair(certs: &Certs, extra: &[&str]) -> ((Server, u16), (Server, u16)) {
    let start = |oracle: bool| {
        let port = free_port();
        let args = certs.server_args(port, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let s = if oracle {
            oracle_with(&args)
        } else {
            ferrodis_with(&args)
        };
        wait_listening(port);
        (s, port)
    };
    (start(false), start(true))
}

/// Waits until something accepts on `port` (the TLS listener opens with the plain one, but
/// the harness only waits for the plain port).
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on TLS port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// redis-cli over TLS to `port` with the CA, and the client certificate `cert` (a name in
/// the certificate directory) if any, running `args`; stdin is `input`. (stdout, success).
fn cli(
    certs: &Certs,
    port: u16,
    cert: Option<&str>,
    input: Option<&[u8]>,
    args: &[&str],
) -> (Vec<u8>, bool) {
    let mut cmd = Command::new("redis-cli");
    cmd.args([
        "-p",
        &port.to_string(),
        "--tls",
        "--cacert",
        &certs.path("ca.crt"),
    ]);
    if let Some(name) = cert {
        cmd.args([
            "--cert",
            &certs.path(&format!("{name}.crt")),
            "--key",
            &certs.path(&format!("{name}.key")),
        ]);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("redis-cli (redis-tools) is needed");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.unwrap_or_default().to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    (text, out.status.success())
}

/// Commands through mutual TLS give the oracle's output, and the plain port serves the same
/// data beside the TLS one.
#[test]
fn commands_over_mutual_tls_match_oracle() {
    let certs = Certs::new("mutual");
    let ((f, fport), (r, rport)) = start_pair(&certs, &[]);
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["GET", "k"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LRANGE", "l", "0", "-1"],
        &["HSET", "h", "f", "1"],
        &["HGETALL", "h"],
        &["INCR", "n"],
        &["NOSUCHCOMMAND"],
        &["CONFIG", "GET", "tls-auth-clients"],
        &["CONFIG", "GET", "tls-protocols"],
        &["DBSIZE"],
    ];
    for args in script {
        let a = cli(&certs, fport, Some("client"), None, args);
        let b = cli(&certs, rport, Some("client"), None, args);
        assert_eq!(
            String::from_utf8_lossy(&a.0),
            String::from_utf8_lossy(&b.0),
            "{args:?}"
        );
        assert!(a.1, "{args:?}");
    }
    // The plain port sees what the TLS clients wrote.
    let mut c = f.conn();
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    let mut c = r.conn();
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

/// tls-auth-clients yes (the default): a client without a certificate, or with one from
/// another CA, is refused, as the oracle refuses it, and the server goes on serving.
#[test]
fn client_certificate_required() {
    let certs = Certs::new("required");
    let ((f, fport), (_r, rport)) = start_pair(&certs, &[]);
    for port in [fport, rport] {
        let (out, _) = cli(&certs, port, None, None, &["PING"]);
        assert!(
            !out.starts_with(b"PONG"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let (out, _) = cli(&certs, port, Some("stranger"), None, &["PING"]);
        assert!(
            !out.starts_with(b"PONG"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let (out, ok) = cli(&certs, port, Some("client"), None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
    }
    assert!(f.is_running());
}

/// tls-auth-clients optional: no certificate is fine, a wrong one is still refused; no: no
/// certificate is asked for.
#[test]
fn client_certificate_optional_and_off() {
    let certs = Certs::new("optional");
    let ((_f, fport), (_r, rport)) = start_pair(&certs, &["--tls-auth-clients", "optional"]);
    for port in [fport, rport] {
        let (out, ok) = cli(&certs, port, None, None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
        let (out, _) = cli(&certs, port, Some("stranger"), None, &["PING"]);
        assert!(
            !out.starts_with(b"PONG"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    let ((_f, fport), (_r, rport)) = start_pair(&certs, &["--tls-auth-clients", "no"]);
    for port in [fport, rport] {
        let (out, ok) = cli(&certs, port, None, None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
    }
}

/// A plain-text client on the TLS port, and garbage before the handshake, are dropped; the
/// server keeps serving TLS and plain clients.
#[test]
fn plaintext_on_tls_port_is_dropped() {
    let certs = Certs::new("plain");
    let ((f, fport), (r, rport)) = start_pair(&certs, &[]);
    for (s, port) in [(&f, fport), (&r, rport)] {
        // A client connected before the garbage is served after it.
        let mut before = s.conn();
        assert_eq!(before.cmd(&["SET", "x", "1"]), b"+OK\r\n");
        for junk in [
            &b"PING\r\n"[..],
            b"*1\r\n$4\r\nPING\r\n",
            &[0x16, 3, 1, 0xff, 0xff, 0],
        ] {
            let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            t.write_all(junk).unwrap();
            // Whatever comes back (an alert at most), the connection ends.
            let mut buf = [0u8; 256];
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match t.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => assert!(!buf[..n].starts_with(b"+PONG")),
                }
                assert!(Instant::now() < deadline, "connection not closed");
            }
        }
        let (out, ok) = cli(&certs, port, Some("client"), None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
        assert_eq!(s.conn().cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(before.cmd(&["GET", "x"]), b"$1\r\n1\r\n");
    }
}

/// A pipelined load over TLS (redis-cli --pipe: 20000 commands written without waiting)
/// is answered in full, as the oracle answers it.
#[test]
fn pipelined_load_over_tls() {
    let certs = Certs::new("pipe");
    let ((_f, fport), (_r, rport)) = start_pair(&certs, &[]);
    let mut input = Vec::new();
    for i in 0..20000 {
        input.extend_from_slice(&encode_command(&[
            "SET".to_string(),
            format!("key:{i}"),
            format!("value:{i}"),
        ]));
    }
    let mut outs = Vec::new();
    for port in [fport, rport] {
        let (out, ok) = cli(&certs, port, Some("client"), Some(&input), &["--pipe"]);
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(ok && text.contains("errors: 0, replies: 20000"), "{text}");
        let (out, ok) = cli(&certs, port, Some("client"), None, &["DBSIZE"]);
        assert!(ok);
        outs.push(out);
    }
    assert_eq!(outs[0], b"20000\n");
    assert_eq!(outs[0], outs[1]);
}

/// A 1 MB value goes in and comes out whole over TLS (many records each way, and a reply
/// larger than what the socket takes at once).
#[test]
fn large_value_round_trip() {
    let certs = Certs::new("large");
    let ((_f, fport), (_r, rport)) = start_pair(&certs, &[]);
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    for port in [fport, rport] {
        let (out, ok) = cli(
            &certs,
            port,
            Some("client"),
            Some(&value),
            &["-x", "SET", "big"],
        );
        assert!(ok && out == b"OK\n", "{}", String::from_utf8_lossy(&out));
        let (out, ok) = cli(&certs, port, Some("client"), None, &["STRLEN", "big"]);
        assert!(
            ok && out == b"1048576\n",
            "{}",
            String::from_utf8_lossy(&out)
        );
        let (out, ok) = cli(&certs, port, Some("client"), None, &["GET", "big"]);
        assert!(ok);
        assert_eq!(out.len(), value.len() + 1);
        assert!(out[..value.len()] == value[..]);
    }
}

/// CONFIG SET of the TLS parameters: a certificate that cannot be loaded is refused with the
/// oracle's error and the old one keeps serving; a good one is taken; tls-port moves the
/// listener; the tls-* parameters read back as the oracle's.
#[test]
fn config_set_tls_parameters() {
    let certs = Certs::new("config");
    let ((f, fport), (r, rport)) = start_pair(&certs, &[]);
    let mut d = Diff::from_servers(f, r);
    let missing = certs.path("missing.crt");
    d.cmd(&["CONFIG", "SET", "tls-cert-file", &missing]);
    d.cmd(&["CONFIG", "SET", "tls-protocols", "TLSv1.4"]);
    d.cmd(&["CONFIG", "GET", "tls-protocols"]);
    d.cmd(&["CONFIG", "SET", "tls-protocols", "TLSv1.2 TLSv1.3"]);
    d.cmd(&["CONFIG", "SET", "tls-cert-file", &certs.path("server.crt")]);
    d.cmd(&["CONFIG", "SET", "tls-auth-clients", "maybe"]);
    d.cmd(&["CONFIG", "SET", "tls-auth-clients", "optional"]);
    for port in [fport, rport] {
        let (out, ok) = cli(&certs, port, None, None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
    }
    // Move the TLS listener of each to a new port.
    for (which, old) in [(0, fport), (1, rport)] {
        let new = free_port();
        let conn = if which == 0 {
            &mut d.ferrodis
        } else {
            &mut d.redis
        };
        assert_eq!(
            conn.cmd(&["CONFIG", "SET", "tls-port", &new.to_string()]),
            b"+OK\r\n"
        );
        let (out, ok) = cli(&certs, new, Some("client"), None, &["PING"]);
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
        assert!(std::net::TcpStream::connect(("127.0.0.1", old)).is_err());
    }
    d.cmd(&["CONFIG", "GET", "tls-cert-file"]);
    d.cmd(&["CONFIG", "GET", "tls-auth-clients"]);
    d.cmd(&["CONFIG", "GET", "tls-protocols"]);
}

/// A TLS configuration that cannot work stops the start, with the oracle's log lines: no CA
/// while client certificates are required, a missing certificate file, an unknown protocol.
#[test]
fn bad_tls_configuration_fails_start() {
    let certs = Certs::new("badstart");
    let (crt, key, ca) = (
        certs.path("server.crt"),
        certs.path("server.key"),
        certs.path("ca.crt"),
    );
    let missing = certs.path("missing.crt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--tls-cert-file", &crt, "--tls-key-file", &key],
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!",
        ),
        (vec!["--tls-key-file", &key, "--tls-ca-cert-file", &ca], "No tls-cert-file configured!"),
        (
            vec!["--tls-cert-file", &missing, "--tls-key-file", &key, "--tls-ca-cert-file", &ca],
            "Failed to load certificate: ",
        ),
        (
            vec![
                "--tls-cert-file", &crt, "--tls-key-file", &key, "--tls-ca-cert-file", &ca,
                "--tls-protocols", "TLSv9",
            ],
            "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.",
        ),
    ];
    for bin in [ferrodis_bin(), oracle_bin()] {
        for (args, line) in &cases {
            let port = free_port().to_string();
            let tls_port = free_port().to_string();
            let out = Command::new(&bin)
                .args(["--port", &port, "--tls-port", &tls_port, "--save", ""])
                .args(args)
                .current_dir(&certs.dir)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{bin:?} {args:?} started");
            assert!(log.contains(line), "{bin:?} {args:?}: {log}");
            assert!(
                log.contains("Failed to configure TLS. Check logs for more info."),
                "{bin:?} {args:?}: {log}"
            );
        }
    }
}

/// tls-ciphersuites limits the TLS 1.3 suites, and tls-protocols the versions: a client that
/// offers only other suites (or only TLS 1.2 when the server wants 1.3) is refused, as by the
/// oracle; one that offers an allowed suite gets in.
#[test]
fn ciphersuites_and_protocols_are_applied() {
    let certs = Certs::new("suites");
    let ((_f, fport), (_r, rport)) = start_pair(
        &certs,
        &[
            "--tls-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256",
            "--tls-protocols",
            "TLSv1.3",
        ],
    );
    for port in [fport, rport] {
        let only = |suite: &str| {
            cli(
                &certs,
                port,
                Some("client"),
                None,
                &["--tls-ciphersuites", suite, "PING"],
            )
        };
        let (out, ok) = only("TLS_CHACHA20_POLY1305_SHA256");
        assert!(ok && out == b"PONG\n", "{}", String::from_utf8_lossy(&out));
        let (out, _) = only("TLS_AES_256_GCM_SHA384");
        assert!(
            !out.starts_with(b"PONG"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // openssl s_client pinned to one version: 1.2 is refused, 1.3 gets in.
        for (version, accepted) in [("-tls1_2", false), ("-tls1_3", true)] {
            let out = Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &format!("127.0.0.1:{port}"),
                    version,
                ])
                .args([
                    "-CAfile",
                    &certs.path("ca.crt"),
                    "-cert",
                    &certs.path("client.crt"),
                ])
                .args(["-key", &certs.path("client.key")])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                text.contains("Verify return code: 0 (ok)") && out.status.success(),
                accepted,
                "{port} {version}: {text}"
            );
        }
    }
}

/// Replication over TLS, the master's side: a redis-server replica with tls-replication yes
/// (and its certificate: tls-auth-clients yes on the master) syncs from ferrodis's TLS port,
/// a full sync and then the live stream.
#[test]
fn redis_replica_syncs_over_tls() {
    let certs = Certs::new("repl");
    let master_tls = free_port();
    let args = certs.server_args(master_tls, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let master = ferrodis_with(&args);
    wait_listening(master_tls);
    let mut m = master.conn();
    for i in 0..1000 {
        m.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let replica_tls = free_port();
    let mut rargs = certs.server_args(replica_tls, &["--tls-replication", "yes"]);
    rargs.extend([
        "--replicaof".to_string(),
        "127.0.0.1".to_string(),
        master_tls.to_string(),
    ]);
    let rargs: Vec<&str> = rargs.iter().map(String::as_str).collect();
    let replica = oracle_with(&rargs);
    let mut r = replica.conn();
    m.cmd(&["SET", "live", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = r.value(&["INFO", "replication"]).text().unwrap();
        if info.contains("master_link_status:up") && r.cmd(&["GET", "live"]) == b"$1\r\n1\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "replica never synced: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(r.cmd(&["DBSIZE"]), b":1001\r\n");
    assert_eq!(
        m.value(&["DEBUG", "DIGEST"]).text(),
        r.value(&["DEBUG", "DIGEST"]).text()
    );
}

/// Replication over TLS, the replica's side: a ferrodis replica with tls-replication yes
/// opens its link to the master's TLS port (presenting its certificate: the masters require
/// one), gets a full sync and the live stream, from a redis-server master and from a ferrodis
/// one (whose diskless snapshot then crosses TLS too).
#[test]
fn ferrodis_replica_syncs_over_tls() {
    let certs = Certs::new("repl-replica");
    for redis_master in [true, false] {
        let master_tls = free_port();
        let args = certs.server_args(master_tls, &["--repl-diskless-sync-delay", "0"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let master = if redis_master {
            oracle_with(&args)
        } else {
            ferrodis_with(&args)
        };
        wait_listening(master_tls);
        let mut m = master.conn();
        for i in 0..2000 {
            m.cmd(&["SET", &format!("k{i}"), &format!("v{i}").repeat(20)]);
        }
        let replica_tls = free_port();
        let mut rargs = certs.server_args(replica_tls, &["--tls-replication", "yes"]);
        rargs.extend([
            "--replicaof".to_string(),
            "127.0.0.1".to_string(),
            master_tls.to_string(),
        ]);
        let rargs: Vec<&str> = rargs.iter().map(String::as_str).collect();
        let replica = ferrodis_with(&rargs);
        let mut r = replica.conn();
        m.cmd(&["SET", "live", "1"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info = r.value(&["INFO", "replication"]).text().unwrap();
            if info.contains("master_link_status:up") && r.cmd(&["GET", "live"]) == b"$1\r\n1\r\n" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica never synced (redis master: {redis_master}): {info}\n{}",
                replica.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(r.cmd(&["DBSIZE"]), b":2001\r\n");
        assert_eq!(
            m.value(&["DEBUG", "DIGEST"]).text(),
            r.value(&["DEBUG", "DIGEST"]).text()
        );
    }
}

/// A cluster node with `tls-cluster yes`: (server, TLS port, bus port). `cert` names the
/// certificate pair it presents (server, or stranger from another CA).
fn tls_cluster_node(certs: &Certs, oracle: bool, cert: &str) -> (Server, u16, u16) {
    let (tls, bus) = (free_port(), free_port());
    let mut args = certs.server_args(
        tls,
        &[
            "--tls-cluster",
            "yes",
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            "5000",
        ],
    );
    args.extend(["--cluster-port".to_string(), bus.to_string()]);
    args.extend([
        "--tls-cert-file".to_string(),
        certs.path(&format!("{cert}.crt")),
        "--tls-key-file".to_string(),
        certs.path(&format!("{cert}.key")),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = if oracle {
        oracle_with(&args)
    } else {
        ferrodis_with(&args)
    };
    wait_listening(tls);
    (s, tls, bus)
}

/// `tls-cluster yes`: two ferrodis and two redis-server nodes form one cluster over TLS bus
/// links both ways; nodes are known by their TLS ports, and plain clients are given the
/// plaintext ones (NODES, SLOTS, MOVED) exactly as the redis-server nodes give them; SHARDS
/// shows both. A node whose certificate another CA signed never joins, and plaintext sent
/// to a TLS bus port is dropped.
#[test]
fn tls_cluster_of_ferrodis_and_redis_nodes() {
    let certs = Certs::new("cluster");
    let nodes: Vec<(Server, u16, u16)> = [true, true, false, false]
        .iter()
        .map(|&oracle| tls_cluster_node(&certs, oracle, "server"))
        .collect();
    let mut conns: Vec<RawConn> = nodes.iter().map(|(s, _, _)| s.conn()).collect();
    for (i, (a, b)) in [(0, 4000), (4001, 8000), (8001, 12000), (12001, 16383)]
        .iter()
        .enumerate()
    {
        let r = conns[i].cmd(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()]);
        assert_eq!(r, b"+OK\r\n");
    }
    // ferrodis node 2 opens TLS links to everyone; redis node 0 meets ferrodis node 3.
    for j in [0, 1, 3] {
        let (_, tls, bus) = &nodes[j];
        let r = conns[2].cmd(&[
            "CLUSTER",
            "MEET",
            "127.0.0.1",
            &tls.to_string(),
            &bus.to_string(),
        ]);
        assert_eq!(r, b"+OK\r\n");
    }
    let r = conns[0].cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &nodes[3].1.to_string(),
        &nodes[3].2.to_string(),
    ]);
    assert_eq!(r, b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let ok = conns.iter_mut().all(|c| {
            let info = c.value(&["CLUSTER", "INFO"]).text().unwrap_or_default();
            info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:4")
        });
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the TLS cluster never became ok:\n{}\n{}",
            nodes[2].0.log(),
            nodes[3].0.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // "foo" is slot 12182, served by ferrodis node 3.
    let (plain3, tls3) = (nodes[3].0.port(), nodes[3].1);
    let moved_plain = format!("-MOVED 12182 127.0.0.1:{plain3}\r\n");
    for i in [0, 2] {
        assert_eq!(
            escape(&conns[i].cmd(&["GET", "foo"])),
            escape(moved_plain.as_bytes())
        );
        let (out, ok) = cli(&certs, nodes[i].1, Some("client"), None, &["GET", "foo"]);
        assert!(ok);
        assert_eq!(
            String::from_utf8_lossy(&out).trim(),
            format!("MOVED 12182 127.0.0.1:{tls3}")
        );
    }
    // CLUSTER SLOTS: the same bytes from a ferrodis and a redis-server node, per transport.
    assert_eq!(
        escape(&conns[2].cmd(&["CLUSTER", "SLOTS"])),
        escape(&conns[0].cmd(&["CLUSTER", "SLOTS"]))
    );
    let slots_f = cli(
        &certs,
        nodes[2].1,
        Some("client"),
        None,
        &["CLUSTER", "SLOTS"],
    )
    .0;
    let slots_r = cli(
        &certs,
        nodes[0].1,
        Some("client"),
        None,
        &["CLUSTER", "SLOTS"],
    )
    .0;
    assert_eq!(escape(&slots_f), escape(&slots_r));
    assert!(String::from_utf8_lossy(&slots_f).contains(&tls3.to_string()));
    // CLUSTER NODES: plaintext ports for a plain client, TLS ones over TLS, buses either way.
    for (s, tls, bus) in &nodes {
        let plain_addr = format!(" 127.0.0.1:{}@{bus} ", s.port());
        let tls_addr = format!(" 127.0.0.1:{tls}@{bus} ");
        for i in [0, 2] {
            let text = conns[i].value(&["CLUSTER", "NODES"]).text().unwrap();
            assert!(text.contains(&plain_addr), "{plain_addr} not in\n{text}");
            let (out, _) = cli(
                &certs,
                nodes[i].1,
                Some("client"),
                None,
                &["CLUSTER", "NODES"],
            );
            let out = String::from_utf8_lossy(&out);
            assert!(out.contains(&tls_addr), "{tls_addr} not in\n{out}");
        }
        // SHARDS: both ports, whatever the client.
        let want = format!(
            "$4\r\nport\r\n:{}\r\n$8\r\ntls-port\r\n:{tls}\r\n",
            s.port()
        );
        for i in [0, 2] {
            let shards = conns[i].cmd(&["CLUSTER", "SHARDS"]);
            assert!(
                String::from_utf8_lossy(&shards).contains(&want),
                "{} not in node {i}'s SHARDS",
                escape(want.as_bytes())
            );
        }
    }
    // A node with another CA's certificate cannot join: its MEET never completes.
    let (stranger, _, _) = tls_cluster_node(&certs, false, "stranger");
    let mut sc = stranger.conn();
    let stranger_id = sc.value(&["CLUSTER", "MYID"]).text().unwrap();
    let r = sc.cmd(&[
        "CLUSTER",
        "MEET",
        "127.0.0.1",
        &nodes[2].1.to_string(),
        &nodes[2].2.to_string(),
    ]);
    assert_eq!(r, b"+OK\r\n");
    // Plaintext on the TLS bus port: dropped, the node unharmed.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", nodes[2].2)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"RCmb\x00\x00\x08\x00garbage that is not a TLS record\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = raw.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf[0] == 0x15,
        "an answer to plaintext: {:?}",
        &buf[..n]
    );
    std::thread::sleep(Duration::from_secs(2));
    for c in conns.iter_mut() {
        let text = c.value(&["CLUSTER", "NODES"]).text().unwrap();
        assert!(!text.contains(&stranger_id), "the stranger joined:\n{text}");
        assert!(c
            .value(&["CLUSTER", "INFO"])
            .text()
            .unwrap()
            .contains("cluster_state:ok"));
    }
    let text = sc.value(&["CLUSTER", "NODES"]).text().unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("handshake"), "{text}");
}

/// A `redis` crate client over TLS to `port`, trusting our CA, presenting `cert` if any.
fn crate_client(certs: &Certs, port: u16, cert: Option<&str>) -> redis::Client {
    let read = |f: &str| std::fs::read(certs.path(f)).unwrap();
    let client_tls = cert.map(|name| redis::ClientTlsConfig {
        client_cert: read(&format!("{name}.crt")),
        client_key: read(&format!("{name}.key")),
    });
    redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{port}/"),
        redis::TlsCertificates {
            client_tls,
            root_cert: Some(read("ca.crt")),
        },
    )
    .unwrap()
}

/// The `redis` crate over TLS: mutual TLS and server-only TLS give the oracle's answers
/// (commands, a pipeline, a transaction, an error); a certificate another CA signed, or none
/// where one is required, is refused by both.
#[test]
fn redis_crate_over_tls() {
    let certs = Certs::new("crate");
    for (auth, cert) in [("yes", Some("client")), ("no", None)] {
        let ((f, ftls), (o, otls)) = start_pair(&certs, &["--tls-auth-clients", auth]);
        let mut results = Vec::new();
        for port in [ftls, otls] {
            let mut con = crate_client(&certs, port, cert).get_connection().unwrap();
            let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
            let mut pipe = redis::pipe();
            pipe.cmd("INCRBY")
                .arg("n")
                .arg(41)
                .cmd("INCR")
                .arg("n")
                .cmd("GET")
                .arg("k");
            let piped: (i64, i64, String) = pipe.query(&mut con).unwrap();
            let mut tx = redis::pipe();
            tx.atomic()
                .cmd("RPUSH")
                .arg("l")
                .arg("a")
                .arg("b")
                .cmd("LRANGE")
                .arg("l")
                .arg(0)
                .arg(-1);
            let txr: (i64, Vec<String>) = tx.query(&mut con).unwrap();
            let err = redis::cmd("INCR")
                .arg("k")
                .query::<i64>(&mut con)
                .unwrap_err();
            let big = "x".repeat(300_000);
            let _: () = redis::cmd("SET")
                .arg("big")
                .arg(&big)
                .query(&mut con)
                .unwrap();
            let back: String = redis::cmd("GET").arg("big").query(&mut con).unwrap();
            assert_eq!(back, big);
            results.push(format!("{piped:?} {txr:?} {err}"));
        }
        assert_eq!(results[0], results[1], "auth {auth}");
        assert_eq!(
            results[0],
            r#"(41, 42, "v") (2, ["a", "b"]) ResponseError: value is not an integer or out of range"#
        );
        if auth == "yes" {
            for port in [ftls, otls] {
                for bad in [Some("stranger"), None] {
                    let r = crate_client(&certs, port, bad)
                        .get_connection()
                        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
                    assert!(r.is_err(), "port {port} let {bad:?} in");
                }
            }
        }
        drop((f, o));
    }
}
