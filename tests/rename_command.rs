//! `rename-command old new` from redis.conf and the command line, against the oracle
//! redis-server 7.0.15: the command answers to its new name only (in any letter case), or to
//! none when the new name is empty; COMMAND INFO/DOCS/LIST/COUNT/GETKEYS, INFO commandstats and
//! errorstats and every error message show what Redis shows (the command's own name, except
//! "Try X HELP." which names what the client typed); an unknown or taken name is a fatal config
//! error with Redis's report and exit status.
//!
//! The harness's start-up probe (tests/common, `probe`) sends PING and INFO, so tests that start
//! servers through it never rename those two ([`rename_args`] refuses); the test that renames
//! them starts its servers itself.

mod common;

use common::*;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `--rename-command old new` arguments for `pairs`. Refuses the commands the harness's
/// start-up probe sends, which would make it wait for a server that never answers.
fn rename_args(pairs: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    let mut v = Vec::new();
    for &(old, new) in pairs {
        assert!(
            !["ping", "info"].iter().any(|h| old.eq_ignore_ascii_case(h)),
            "the harness needs {old}: rename it in a test that starts its own servers"
        );
        v.extend(["--rename-command", old, new]);
    }
    v
}

/// The lines of an INFO section reply, with the timing fields of commandstats removed and
/// sorted (Redis lists commandstats in its dict's hash order).
fn info_lines(reply: &[u8]) -> Vec<String> {
    let text = parse_reply(reply)
        .expect("INFO reply parses")
        .text()
        .expect("INFO is text");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| match (l.find(",usec="), l.find(",rejected_calls=")) {
            (Some(a), Some(b)) => format!("{}{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .collect();
    lines.sort();
    lines
}

/// The names in a COMMAND LIST reply.
fn names(reply: &[u8]) -> Vec<String> {
    let r = parse_reply(reply).expect("COMMAND LIST parses");
    r.items()
        .expect("an array")
        .iter()
        .map(|x| x.text().expect("a name"))
        .collect()
}

/// COMMAND COUNT on a connection.
fn count(conn: &mut RawConn) -> i64 {
    conn.value(&["COMMAND", "COUNT"]).int().expect("an integer")
}

#[test]
fn renamed_command_answers_to_its_new_name_only() {
    let args = rename_args(&[("GET", "fetch"), ("config", "cfg"), ("debug", "dbg")]);
    let mut d = Diff::with_args(&args);
    d.run(
        "SET k v
         fetch k
         FETCH k
         FeTcH k
         # The old name is unknown, quoted as typed.
         GET k
         get k extra
         # Arity errors name the command itself, not the name it was called by.
         fetch
         fetch a b
         # An unknown subcommand names the container as typed; alone it is an arity error.
         cfg xyz
         CfG xyz
         cfg
         config get maxmemory
         cfg get maxmemory
         cfg set maxmemory 0
         dbg xyz
         # COMMAND finds a command by its new name and shows its own.
         COMMAND INFO get fetch FETCH set
         COMMAND INFO cfg|get config|get
         COMMAND DOCS fetch
         COMMAND DOCS get
         COMMAND GETKEYS fetch k
         COMMAND GETKEYS get k
         COMMAND LIST FILTERBY PATTERN fetch
         ~ COMMAND LIST FILTERBY PATTERN get*
         # Transactions queue and run the renamed command.
         MULTI
         fetch k
         get k
         EXEC
         MULTI
         fetch k
         EXEC
         INFO errorstats",
    );
    // Another client sees the command's own name as the last command run.
    d.cmd(&["fetch", "k"]);
    let mut other = d.another();
    let (f, r) = other.both(&["CLIENT", "LIST"]);
    for list in [&f, &r] {
        let text = String::from_utf8_lossy(list);
        assert!(text.contains(" cmd=get "), "{text}");
    }
    // Statistics are kept under the command's own name.
    let (f, r) = d.both(&["INFO", "commandstats"]);
    assert_eq!(info_lines(&f), info_lines(&r));
    let text = String::from_utf8_lossy(&f);
    assert!(text.contains("cmdstat_get:calls="), "{text}");
    assert!(!text.contains("fetch"), "{text}");
    // COMMAND LIST names the command as before, and a rename keeps COMMAND COUNT. ferrodis
    // implements fewer commands than Redis: compare each with itself unrenamed.
    let mut plain = Diff::new();
    assert_eq!(count(&mut d.ferrodis), count(&mut plain.ferrodis));
    assert_eq!(count(&mut d.redis), count(&mut plain.redis));
    let (f, r) = d.both(&["COMMAND", "LIST"]);
    for list in [names(&f), names(&r)] {
        assert!(list.iter().any(|n| n == "get"));
        assert!(list.iter().any(|n| n == "config|get"));
        assert!(!list.iter().any(|n| n == "fetch" || n == "cfg"));
    }
}

#[test]
fn command_renamed_to_empty_is_removed() {
    // Hardened redis.conf files remove or rename EVAL and EVALSHA.
    let args = rename_args(&[
        ("KEYS", ""),
        ("flushall", ""),
        ("eval", ""),
        ("evalsha", "myevalsha"),
    ]);
    let mut d = Diff::with_args(&args);
    d.run(
        "SET k v
         KEYS *
         keys
         FLUSHALL
         flushall async
         EVAL \"return 1\" 0
         EVALSHA abc 0
         COMMAND INFO keys flushall get
         COMMAND DOCS keys flushall
         COMMAND GETKEYS keys *
         COMMAND LIST FILTERBY PATTERN keys
         COMMAND LIST FILTERBY PATTERN flush*
         GET k
         INFO errorstats",
    );
    let (f, r) = d.both(&["INFO", "commandstats"]);
    assert_eq!(info_lines(&f), info_lines(&r));
    // Three top-level commands are gone on each (EVALSHA is still there, renamed).
    let mut plain = Diff::new();
    assert_eq!(count(&mut d.ferrodis), count(&mut plain.ferrodis) - 3);
    assert_eq!(count(&mut d.redis), count(&mut plain.redis) - 3);
    let (f, r) = d.both(&["COMMAND", "LIST"]);
    for list in [names(&f), names(&r)] {
        assert!(!list.iter().any(|n| n == "keys" || n == "flushall"));
        assert!(list.iter().any(|n| n == "flushdb"));
    }
}

#[test]
fn both_names_match_in_any_letter_case() {
    // Renames chain in order; a command may be renamed to its own name in another case.
    let args = rename_args(&[
        ("GeT", "FeTcH"),
        ("fetch", "Get2"),
        ("set", "SET"),
        ("LPUSH", "Push"),
        ("DEL", "remove"),
        ("ReMoVe", "del"),
    ]);
    let mut d = Diff::with_args(&args);
    d.run(
        "set k v
         SeT k v2
         get2 k
         GET2 k
         gEt2 k
         fetch k
         get k
         PUSH l a
         push l b
         lpush l c
         COMMAND INFO GET2 PUSH remove DEL
         DEL k
         remove l
         get2 k",
    );
}

/// Runs `bin args` with stdin closed until it exits; returns (exit code, stderr).
fn run_to_exit(bin: &Path, args: &[&str], cwd: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not exit (config accepted?)", bin.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_renames_are_fatal_like_the_oracle() {
    let dir = scratch_dir("rename-it", "bad");
    let inc = dir.join("inc.conf");
    fs::write(
        &inc,
        "# renames\nrename-command get fetch\n\nrename-command GET x\n",
    )
    .unwrap();
    let files = [
        ("f1.conf", "port 0\nrename-command nosuch foo\n".to_string()),
        ("f2.conf", "rename-command NoSuch \"\"\n".to_string()),
        ("f3.conf", format!("hz 5\ninclude {}\n", inc.display())),
        ("f4.conf", "rename-command get\n".to_string()),
        ("f5.conf", "rename-command get a b\n".to_string()),
        (
            "f6.conf",
            "rename-command get get2\nrename-command GET2 Set\n".to_string(),
        ),
        // A name freed by an earlier rename can be taken; a new name is a plain key, so
        // "a|b" can be given but is never found as an old name.
        (
            "f7.conf",
            "rename-command keys \"\"\nrename-command get keys\nrename-command set \"a|b\"\n\
             rename-command \"a|b\" c\n"
                .to_string(),
        ),
    ];
    let mut runs: Vec<Vec<String>> = Vec::new();
    for (name, text) in &files {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        runs.push(vec![p.to_str().unwrap().to_string()]);
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    runs.push(s(&["--rename-command", "nosuch", "foo"]));
    runs.push(s(&["--rename-command", "get", "set"]));
    runs.push(s(&["--rename-command", "get", "SET"]));
    runs.push(s(&[
        "--rename-command",
        "GET",
        "x",
        "--rename-command",
        "get",
        "y",
    ]));
    runs.push(s(&[
        "--rename-command",
        "keys",
        "",
        "--rename-command",
        "",
        "x",
    ]));
    runs.push(s(&["--rename-command", "", "x"]));
    runs.push(s(&["--rename-command", "eval", "get"]));
    runs.push(s(&["--rename-command", "get", "EVAL"]));
    runs.push(s(&["--rename-command", "get"]));
    for args in &runs {
        let a: Vec<&str> = args.iter().map(|x| x.as_str()).collect();
        let (fc, fe) = run_to_exit(&ferrodis_bin(), &a, &dir);
        let (rc, re) = run_to_exit(&oracle_bin(), &a, &dir);
        assert_eq!(fe, re, "stderr for {args:?}");
        assert_eq!(fc, rc, "exit status for {args:?}");
        assert!(
            re.contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***"),
            "{re}"
        );
    }
    // A subcommand cannot be renamed. Redis 7.0.15 finds it and then fails an assertion
    // (a crash report, signal 11); ferrodis reports the line like any unknown name.
    for sub in [
        "config|get",
        "CONFIG|GET",
        "get|x",
        "config|nosuch",
        "a|b|c",
    ] {
        let (code, err) = run_to_exit(&ferrodis_bin(), &["--rename-command", sub, "x"], &dir);
        assert_eq!(code, Some(1), "{sub}: {err}");
        assert_eq!(
            err,
            format!(
                "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration \
                 file, at line 2\n>>> 'rename-command \"{sub}\" \"x\"'\nNo such command in \
                 rename-command\n"
            )
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A server process started without the harness (whose probe needs PING and INFO), killed
/// when dropped.
struct Bare {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Bare {
    /// Starts `bin` on a free port with `args` and waits until it accepts connections.
    fn start(bin: &Path, args: &[&str]) -> Bare {
        let dir = scratch_dir("rename-it", "bare");
        let port = free_port();
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string(), "--save", ""])
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited during start-up ({status})", bin.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not listen on {port}", bin.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Bare { child, port, dir }
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn renaming_the_probe_commands_needs_no_harness() {
    let args = [
        "--rename-command",
        "PING",
        "pong",
        "--rename-command",
        "info",
        "",
    ];
    let f = Bare::start(&ferrodis_bin(), &args);
    let r = Bare::start(&oracle_bin(), &args);
    let (mut fc, mut rc) = (RawConn::connect(f.port), RawConn::connect(r.port));
    let cmds: &[&[&str]] = &[
        &["PING"],
        &["pong"],
        &["PONG", "hello"],
        &["INFO"],
        &["info", "server"],
        &["COMMAND", "INFO", "ping", "pong", "info"],
    ];
    for cmd in cmds {
        let (a, b) = (fc.cmd(cmd), rc.cmd(cmd));
        assert_same(&show_command(cmd), &a, &b);
    }
    // Inline requests are dispatched by the new name too.
    fc.send(b"pong\r\n");
    rc.send(b"pong\r\n");
    assert_same("inline pong", &fc.read_reply(), &rc.read_reply());
}
