//! ACL (src/acl.rs, src/commands/acl.rs) against the oracle: every rule form and its canonical
//! description in ACL LIST / GETUSER, the errors of ACL SETUSER, every ACL subcommand, AUTH and
//! HELLO AUTH with users, NOPERM denials in and out of MULTI, ACL LOG entries, disconnection of
//! the clients of deleted users and of subscribers that lose channels, CLIENT KILL USER, the
//! ACL file (LOAD, SAVE, and files written by one server loaded by the other), `user`
//! directives in redis.conf, and a matrix of DRYRUN answers for every command of the table.
//!
//! Redis lists the single-command rules of a description ("-@all +@string -append +zadd") in
//! the order of its command hash table, which is seeded at random per process (two runs of
//! redis-server disagree), so descriptions are compared with each run of single-command rules
//! sorted (`canon`); everything else, categories included, is compared byte for byte.
//! ACL LOG's age-seconds and client-info depend on the clock and the connection: they are
//! masked. ACL GENPASS is random: only its shape is checked.

mod common;

use common::*;
use std::time::Duration;

/// Sorts each run of single-command rules (`+get`, `-config|set`, `+select|0`) inside every
/// line of a raw reply; parentheses (selectors) end a run. Lengths do not change.
fn canon(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in reply.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let mut seg = Vec::new();
        let flush = |seg: &mut Vec<u8>, out: &mut Vec<u8>| {
            let toks: Vec<&[u8]> = seg.split(|&b| b == b' ').collect();
            let mut res: Vec<&[u8]> = Vec::new();
            let mut run: Vec<&[u8]> = Vec::new();
            for t in toks {
                let single = t.len() > 1 && (t[0] == b'+' || t[0] == b'-') && t[1] != b'@';
                if single {
                    run.push(t);
                } else {
                    run.sort();
                    res.append(&mut run);
                    res.push(t);
                }
            }
            run.sort();
            res.append(&mut run);
            out.extend_from_slice(&res.join(&b' '));
            seg.clear();
        };
        let (body, cr) = match line.strip_suffix(b"\r") {
            Some(b) => (b, true),
            None => (line, false),
        };
        for &b in body {
            if b == b'(' || b == b')' {
                flush(&mut seg, &mut out);
                out.push(b);
            } else {
                seg.push(b);
            }
        }
        flush(&mut seg, &mut out);
        if cr {
            out.push(b'\r');
        }
    }
    out
}

/// Sends to both and compares the replies with single-command rules sorted (see `canon`).
fn rules<A: AsRef<[u8]>>(d: &mut Diff, args: &[A]) -> Vec<u8> {
    let (f, r) = d.both(args);
    let (f, r) = (canon(&f), canon(&r));
    assert_same(&format!("{} (canonical)", show_command(args)), &f, &r);
    f
}

/// Runs a script whose every line is compared through `canon`.
fn run_rules(d: &mut Diff, script: &str) {
    for line in script.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = split_args(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        rules(d, &args);
    }
}

/// Masks what depends on the clock or the connection in a RESP2 ACL LOG reply: age-seconds,
/// and in client-info the connection's id, addresses, fd, ages and buffer sizes (the rest of
/// the line, the command and the user included, is compared).
fn mask_log(reply: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = reply.split(|&b| b == b'\n').collect();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_vec());
        if lines[i] == b"age-seconds\r" {
            out.push(b"$1\r".to_vec());
            out.push(b"X\r".to_vec());
            i += 3;
            continue;
        }
        if lines[i] == b"client-info\r" && i + 2 < lines.len() {
            let info = String::from_utf8_lossy(lines[i + 2]);
            let masked: Vec<String> = info
                .trim_end_matches('\r')
                .split(' ')
                .map(|f| match f.split_once('=') {
                    Some((k, _))
                        if matches!(
                            k,
                            "id" | "addr"
                                | "laddr"
                                | "fd"
                                | "age"
                                | "idle"
                                | "qbuf-free"
                                | "tot-mem"
                        ) =>
                    {
                        format!("{k}=X")
                    }
                    _ => f.to_string(),
                })
                .collect();
            let masked = masked.join(" ");
            out.push(format!("${}\r", masked.len()).into_bytes());
            out.push(format!("{masked}\r").into_bytes());
            i += 3;
            continue;
        }
        i += 1;
    }
    out.join(&b'\n')
}

/// ACL LOG on both sides, compared with the clock- and connection-dependent fields masked.
fn log(d: &mut Diff, args: &[&str]) {
    let (f, r) = d.both(args);
    assert_same(&show_command(args), &mask_log(&f), &mask_log(&r));
}

#[test]
fn rule_forms_and_descriptions() {
    let mut d = Diff::new();
    run_rules(
        &mut d,
        r#"
        ACL SETUSER u1
        ACL GETUSER u1
        ACL SETUSER u2 on >pw1 >pw2 >pw1 <pw2 #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        ACL GETUSER u2
        ACL SETUSER u2 !5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        ACL GETUSER u2
        ACL SETUSER u2 nopass
        ACL GETUSER u2
        ACL SETUSER u2 >x resetpass off
        ACL GETUSER u2
        ACL SETUSER u3 ~a* %R~b %W~c %RW~d %rw~e %R~f %W~f ~a* %R~
        ACL GETUSER u3
        ACL SETUSER u3 allkeys
        ACL GETUSER u3
        ACL SETUSER u3 resetkeys ~x
        ACL GETUSER u3
        ACL SETUSER u4 &a &b* &a allchannels
        ACL GETUSER u4
        ACL SETUSER u4 resetchannels &c
        ACL GETUSER u4
        ACL SETUSER u5 +get +set +hset +lpush -@all +zadd +@string -append +select|0 +select|1
        ACL GETUSER u5
        ACL SETUSER u6 allcommands -@dangerous +config|get -get
        ACL GETUSER u6
        ACL SETUSER u7 +@all -@keyspace -@read -@write
        ACL GETUSER u7
        ACL SETUSER u8 +client +config -client|kill -config|set +debug|object
        ACL GETUSER u8
        ACL SETUSER u9 +@admin -@dangerous +debug +select|1 +select|2 nocommands +@hash +@fast
        ACL GETUSER u9
        ACL SETUSER u10 on nopass +@all -@all +@all -get -set -@string +@fast
        ACL GETUSER u10
        ACL SETUSER u11 +@read +@write -@admin +@set +@list -@sortedset +@bitmap -@slow +@blocking +@transaction +@connection
        ACL GETUSER u11
        ACL SETUSER u12 "(~a* +@hash)" "(%R~b* &c* +get)" ~k +set
        ACL GETUSER u12
        ACL SETUSER u12 (~x +get ) (+set ~y) (
        ACL SETUSER u12 (~x +get ) (+set ~y)
        ACL GETUSER u12
        ACL SETUSER u12 clearselectors
        ACL GETUSER u12
        ACL SETUSER u13 on >p ~k &c +get (~x +set) skip-sanitize-payload
        ACL GETUSER u13
        ACL SETUSER u13 sanitize-payload
        ACL GETUSER u13
        ACL SETUSER u13 reset
        ACL GETUSER u13
        ACL SETUSER u14 ON OFF On Nopass AllKeys AllChannels AllCommands -GET +@STRING -Config|Set
        ACL GETUSER u14
        ACL SETUSER u15 "" on
        ACL GETUSER u15
        ACL SETUSER default -keys -flushall
        ACL GETUSER default
        ACL LIST
        ACL SETUSER default +@all
        ACL USERS
        ACL LIST
        "#,
    );
}

#[test]
fn setuser_errors() {
    let mut d = Diff::new();
    d.run(
        r#"
        ACL SETUSER e %
        ACL SETUSER e %~x
        ACL SETUSER e %RR~x
        ACL SETUSER e %X~x
        ACL SETUSER e "~a b"
        ACL SETUSER e "&a b"
        ACL SETUSER e +config|get|x
        ACL SETUSER e +get|
        ACL SETUSER e +acl|
        ACL SETUSER e +nosuch|x
        ACL SETUSER e +nosuch
        ACL SETUSER e -nosuch
        ACL SETUSER e -select|0
        ACL SETUSER e +
        ACL SETUSER e -
        ACL SETUSER e +@nosuch
        ACL SETUSER e -@
        ACL SETUSER e ~* ~x
        ACL SETUSER e allkeys %R~x
        ACL SETUSER e &* &x
        ACL SETUSER e <nopw
        ACL SETUSER e !nohash
        ACL SETUSER e #abc
        ACL SETUSER e #5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8
        ACL SETUSER e (
        ACL SETUSER e (~x +get
        ACL SETUSER e on (~x +get
        ACL SETUSER e "(~x +get)" x
        ACL SETUSER e (foo)
        ACL SETUSER e (+nosuch)
        ACL SETUSER e (~* ~x)
        ACL SETUSER "a b"
        ACL SETUSER "a\x00b"
        ACL SETUSER e bogus
        ACL SETUSER e on >p bogus
        ACL USERS
        ACL SETUSER
        "#,
    );
}

#[test]
fn subcommands() {
    let mut d = Diff::new();
    d.run(
        r#"
        ACL WHOAMI
        ACL USERS
        ACL CAT
        ACL CAT nosuch
        ACL CAT a b
        ACL GENPASS 0
        ACL GENPASS -1
        ACL GENPASS 4097
        ACL GENPASS x
        ACL GENPASS 1 2
        ACL LOG x
        ACL LOG 1 2
        ACL LOG
        ACL LOG -5
        ACL LOG RESET
        ACL GETUSER nosuch
        ACL GETUSER
        ACL DELUSER default
        ACL DELUSER a default
        ACL DELUSER nosuch
        ACL SETUSER a
        ACL SETUSER b
        ACL DELUSER a nosuch b a
        ACL USERS
        ACL LOAD
        ACL SAVE
        ACL HELP
        ACL help x
        ACL NOSUCH
        ACL
        ACL DRYRUN nosuch get x
        ACL DRYRUN default nosuch
        ACL DRYRUN default get
        ACL DRYRUN default client nosuch
        ACL DRYRUN default get x
        ACL DRYRUN default client list
        ACL DRYRUN default config
        ACL DRYRUN default eval "" 0
        "#,
    );
    for cat in [
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
        "STRING",
    ] {
        d.unordered(&["ACL", "CAT", cat]);
    }
    for bits in [None, Some(1), Some(4), Some(5), Some(255), Some(4096)] {
        let mut args = vec!["ACL".to_string(), "GENPASS".to_string()];
        if let Some(b) = bits {
            args.push(b.to_string());
        }
        let (f, r) = d.both(&args);
        let shape = |reply: &[u8]| -> (usize, bool) {
            let v = parse_reply(reply).unwrap();
            let s = v.bytes().unwrap().to_vec();
            (
                s.len(),
                s.iter()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)),
            )
        };
        assert_eq!(shape(&f), shape(&r), "ACL GENPASS {bits:?}");
        assert!(shape(&f).1);
    }
    let (a, b) = d.both(&["ACL", "GENPASS"]);
    let (c, _) = d.both(&["ACL", "GENPASS"]);
    assert_ne!(a, c, "two passwords in a row differ");
    assert_eq!(a.len(), b.len());
}

/// DRYRUN answers for key permissions (read/write from the key specs), channels and selectors.
#[test]
fn dryrun_permissions() {
    let mut d = Diff::new();
    d.run(
        r#"
        ACL SETUSER s1 on nopass ~k %R~r %W~w +@all
        ACL DRYRUN s1 set w v
        ACL DRYRUN s1 set r v
        ACL DRYRUN s1 get r
        ACL DRYRUN s1 get w
        ACL DRYRUN s1 copy r w
        ACL DRYRUN s1 copy w r
        ACL DRYRUN s1 lmove r w left right
        ACL DRYRUN s1 lmove r r left right
        ACL DRYRUN s1 sort r store w
        ACL DRYRUN s1 sort k store r
        ACL DRYRUN s1 sort_ro r
        ACL DRYRUN s1 getdel r
        ACL DRYRUN s1 getdel w
        ACL DRYRUN s1 append w x
        ACL DRYRUN s1 exists w
        ACL DRYRUN s1 exists r w x
        ACL DRYRUN s1 del w
        ACL DRYRUN s1 del r
        ACL DRYRUN s1 mset k 1 w 2 r 3
        ACL DRYRUN s1 mget k r w
        ACL DRYRUN s1 rename w k
        ACL DRYRUN s1 set w v get
        ACL DRYRUN s1 bitfield w get u8 0
        ACL DRYRUN s1 bitfield r get u8 0
        ACL DRYRUN s1 bitfield r set u8 0 1
        ACL DRYRUN s1 zunionstore w 2 r k
        ACL DRYRUN s1 zunionstore w 2 w k
        ACL DRYRUN s1 smove r w m
        ACL DRYRUN s1 publish x m
        ACL DRYRUN s1 eval "" 1 w
        ACL DRYRUN s1 object encoding w
        ACL DRYRUN s1 type w
        ACL SETUSER s2 on nopass +@all allkeys resetchannels &a* &lit*
        ACL DRYRUN s2 publish a1 m
        ACL DRYRUN s2 publish b1 m
        ACL DRYRUN s2 subscribe a1 a2 b2
        ACL DRYRUN s2 subscribe b1 a2 b2
        ACL DRYRUN s2 psubscribe a*
        ACL DRYRUN s2 psubscribe a1*
        ACL DRYRUN s2 psubscribe lit*
        ACL DRYRUN s2 ssubscribe a1
        ACL DRYRUN s2 spublish b a
        ACL DRYRUN s2 unsubscribe zz
        ACL DRYRUN s2 pubsub channels zz
        ACL SETUSER s3 on nopass +get ~a (+set ~b) (+get ~c)
        ACL DRYRUN s3 get a
        ACL DRYRUN s3 get b
        ACL DRYRUN s3 set b x
        ACL DRYRUN s3 set a x
        ACL DRYRUN s3 get c
        ACL DRYRUN s3 mget a c
        ACL DRYRUN s3 incr a
        ACL SETUSER s4 on nopass -@all +select|0 +client|list +config|get ~*
        ACL DRYRUN s4 select 0
        ACL DRYRUN s4 select 1
        ACL DRYRUN s4 client list
        ACL DRYRUN s4 client kill x
        ACL DRYRUN s4 config get x
        ACL DRYRUN s4 config set x y
        ACL DRYRUN s4 auth x
        ACL DRYRUN s4 hello
        ACL SETUSER s5 on nopass +@all resetkeys (~k* +get) (&ch +publish) (%W~w* +set)
        ACL DRYRUN s5 get k1
        ACL DRYRUN s5 get x
        ACL DRYRUN s5 publish ch m
        ACL DRYRUN s5 publish x m
        ACL DRYRUN s5 set w1 v
        ACL DRYRUN s5 set k1 v
        ACL DRYRUN s5 mset w1 v k1 v
        "#,
    );
}

/// For every command and subcommand of the oracle's table, DRYRUN with arguments that satisfy
/// its arity, for users allowed or denied by category, by command and by key pattern.
#[test]
fn dryrun_matrix_every_command() {
    let mut d = Diff::new();
    let table = parse_reply(&d.redis.cmd(&["COMMAND"])).unwrap();
    // (full name, arity, categories)
    let mut cmds: Vec<(String, i64, Vec<String>)> = Vec::new();
    fn walk(v: &Reply, out: &mut Vec<(String, i64, Vec<String>)>) {
        let it = v.items().unwrap();
        let name = it[0].text().unwrap();
        let arity = it[1].int().unwrap();
        let cats = it[6]
            .items()
            .unwrap()
            .iter()
            .map(|c| c.text().unwrap().trim_start_matches('@').to_string())
            .collect();
        let subs = it[9].items().unwrap();
        out.push((name, arity, cats));
        for s in subs {
            walk(s, out);
        }
    }
    for c in table.items().unwrap() {
        walk(c, &mut cmds);
    }
    cmds.sort();
    assert!(cmds.len() > 300);
    rules(
        &mut d,
        &["ACL", "SETUSER", "ro", "on", "nopass", "+@all", "%R~k*"],
    );
    rules(
        &mut d,
        &["ACL", "SETUSER", "wo", "on", "nopass", "+@all", "%W~k*"],
    );
    rules(
        &mut d,
        &["ACL", "SETUSER", "nokeys", "on", "nopass", "+@all", "&*"],
    );
    rules(
        &mut d,
        &[
            "ACL", "SETUSER", "other", "on", "nopass", "+@all", "~x*", "&x*",
        ],
    );
    for (name, arity, cats) in &cmds {
        let parts: Vec<&str> = name.split('|').collect();
        let n = arity.unsigned_abs() as usize;
        for filler in [["k1", "k2", "k3"], ["2", "k1", "k2"]] {
            let mut argv: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            let mut j = 0;
            while argv.len() < n.max(parts.len()) {
                argv.push(filler[j % 3].to_string());
                j += 1;
            }
            let mut batch: Vec<Vec<String>> = Vec::new();
            let dry = |user: &str| {
                let mut v = vec!["ACL".to_string(), "DRYRUN".to_string(), user.to_string()];
                v.extend(argv.iter().cloned());
                v
            };
            // Denied by command; then allowed by category, denied by another category.
            batch.push(
                [
                    "ACL", "SETUSER", "bycmd", "reset", "on", "nopass", "~*", "&*", "+@all",
                ]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("-{name}")])
                .collect(),
            );
            batch.push(dry("bycmd"));
            if let Some(cat) = cats.first() {
                batch.push(
                    [
                        "ACL", "SETUSER", "bycat", "reset", "on", "nopass", "~k*", "&*",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .chain([format!("+@{cat}")])
                    .collect(),
                );
                batch.push(dry("bycat"));
                batch.push(
                    ["ACL", "SETUSER", "bycat", "+@all"]
                        .iter()
                        .map(|s| s.to_string())
                        .chain([format!("-@{cat}")])
                        .collect(),
                );
                batch.push(dry("bycat"));
            }
            for u in ["ro", "wo", "nokeys", "other", "default"] {
                batch.push(dry(u));
            }
            let refs: Vec<Vec<&[u8]>> = batch
                .iter()
                .map(|a| a.iter().map(|s| s.as_bytes()).collect())
                .collect();
            let slices: Vec<&[&[u8]]> = refs.iter().map(|v| v.as_slice()).collect();
            let f = d.ferrodis.pipeline(&slices);
            let r = d.redis.pipeline(&slices);
            for ((cmd, f), r) in batch.iter().zip(&f).zip(&r) {
                assert_same(&format!("{cmd:?}"), f, r);
            }
        }
    }
}

/// AUTH in both forms, HELLO AUTH, requirepass as the default user's password, and users
/// created with ACL SETUSER.
#[test]
fn auth_and_hello() {
    let mut d = Diff::with_args(&["--requirepass", "secret"]);
    d.run(
        r#"
        GET x
        ACL WHOAMI
        HELLO 2
        AUTH wrong
        AUTH default wrong
        AUTH nosuch secret
        AUTH a b c
        AUTH secret
        ACL WHOAMI
        ACL GETUSER default
        ACL SETUSER alice on >apw ~a* +@all
        ACL SETUSER bob off >bpw +@all
        ACL SETUSER carol on nopass +@all
        AUTH alice wrong
        AUTH bob bpw
        AUTH carol anything
        ACL WHOAMI
        AUTH alice apw
        ACL WHOAMI
        GET b
        GET a
        AUTH bad bad
        ACL WHOAMI
        HELLO 2 AUTH alice wrong
        ? HELLO 2 AUTH default secret SETNAME n1
        ACL WHOAMI
        CLIENT GETNAME
        RESET
        ACL WHOAMI
        GET x
        ? HELLO 2 AUTH carol x
        ACL WHOAMI
        CONFIG SET requirepass ""
        ACL GETUSER default
        AUTH x
        CONFIG SET requirepass other
        ACL GETUSER default
        AUTH secret
        AUTH other
        ACL SETUSER default resetpass
        AUTH default other
        ACL SETUSER default nopass
        ACL LOG RESET
        "#,
    );
    // A new connection needs AUTH once the default user has a password again.
    d.run("ACL SETUSER default >p2");
    let mut d2 = d.another();
    d2.run("GET x\nAUTH p2\nGET x\nACL SETUSER default off\n");
    let mut d3 = d.another();
    d3.run("GET x\nAUTH p2\nACL SETUSER default on\n");
}

/// NOPERM errors for commands, keys and channels, at top level and inside MULTI, EXEC's second
/// check, and the ACL LOG entries they leave (grouping of similar entries, the auth entries).
#[test]
fn denials_and_log() {
    let mut d = Diff::new();
    d.run(
        r#"
        ACL LOG RESET
        ACL SETUSER bob on >pw ~k* &ch* +get +set +publish +subscribe +psubscribe +multi +exec +acl +client|list +ping
        AUTH bob wrong
        AUTH nob pw
        HELLO 2 AUTH bob wrong
        AUTH bob pw
        GET x
        GET x
        GET k1
        INCR k1
        CONFIG GET x
        PUBLISH x m
        PUBLISH ch1 m
        MULTI
        GET x
        INCR k
        EXEC
        MULTI
        GET k
        SET k v
        "#,
    );
    let mut admin = d.another();
    admin.run("ACL SETUSER bob -get\nACL SETUSER bob %R~k*");
    d.run("EXEC\nGET k\nSET k v");
    log(&mut d, &["ACL", "LOG"]);
    log(&mut d, &["ACL", "LOG", "2"]);
    log(&mut d, &["ACL", "LOG", "0"]);
    d.run("PSUBSCRIBE ch1");
    log(&mut d, &["ACL", "LOG", "1"]);
    d.run("SUBSCRIBE ch1 zz");
    log(&mut admin, &["ACL", "LOG", "1"]);
    admin.run("CONFIG SET acllog-max-len 2\nACL LOG RESET\nAUTH a b\nAUTH c d\nAUTH e f");
    log(&mut admin, &["ACL", "LOG"]);
    admin.run("CONFIG SET acllog-max-len 128");
}

/// The clients of a deleted user are disconnected; subscribers whose channels are revoked are
/// disconnected; CLIENT KILL USER; CLIENT LIST shows the user.
#[test]
fn disconnections() {
    let mut d = Diff::new();
    d.run("ACL SETUSER a on nopass +@all ~* &ch* &x\nACL SETUSER b on nopass +@all ~*");
    let mut ca = d.another();
    ca.run("AUTH a x\nACL WHOAMI");
    let (f, r) = ca.both(&["CLIENT", "INFO"]);
    for x in [&f, &r] {
        assert!(x.windows(7).any(|w| w == b"user=a "), "{}", escape(x));
    }
    // Deleting the user closes its connection.
    d.run("ACL DELUSER a");
    assert!(ca.ferrodis.is_closed_within(Duration::from_secs(2)));
    assert!(ca.redis.is_closed_within(Duration::from_secs(2)));
    // A subscriber keeps its connection while its channels stay allowed...
    d.run("ACL SETUSER a on nopass +@all ~* &ch* &x");
    let mut sub = d.another();
    sub.run("AUTH a x\nSUBSCRIBE ch1\nPSUBSCRIBE x");
    d.run("ACL SETUSER a &y\nACL SETUSER a allchannels\nACL SETUSER a resetchannels &ch* &x");
    d.run("PUBLISH ch1 m1");
    sub.read();
    // ... and loses it when they are revoked.
    d.run("ACL SETUSER a resetchannels &x");
    assert!(sub.ferrodis.is_closed_within(Duration::from_secs(2)));
    assert!(sub.redis.is_closed_within(Duration::from_secs(2)));
    // CLIENT KILL USER.
    let mut cb = d.another();
    cb.run("AUTH b x");
    let mut cb2 = d.another();
    cb2.run("AUTH b x");
    d.run("CLIENT KILL USER nosuch\nCLIENT KILL USER b\nCLIENT KILL USER b");
    assert!(cb.ferrodis.is_closed_within(Duration::from_secs(2)));
    assert!(cb.redis.is_closed_within(Duration::from_secs(2)));
    assert!(cb2.ferrodis.is_closed_within(Duration::from_secs(2)));
    // A user deleting itself gets its reply, then the connection closes.
    let mut me = d.another();
    me.run("AUTH b x\nACL DELUSER b");
    assert!(me.ferrodis.is_closed_within(Duration::from_secs(2)));
    assert!(me.redis.is_closed_within(Duration::from_secs(2)));
}

/// ACL SAVE then ACL LOAD; load errors; a file written by each server loads in the other.
#[test]
fn acl_file_round_trip() {
    let dir = scratch_dir("acl", "file");
    let fpath = dir.join("f.acl");
    let rpath = dir.join("r.acl");
    std::fs::write(&fpath, "user default on nopass ~* &* +@all\n").unwrap();
    std::fs::write(&rpath, "user default on nopass ~* &* +@all\n").unwrap();
    let f = ferrodis_with(&["--aclfile", fpath.to_str().unwrap()]);
    let r = oracle_with(&["--aclfile", rpath.to_str().unwrap()]);
    let mut d = Diff::from_servers(f, r);
    run_rules(
        &mut d,
        r#"
        ACL SETUSER alice on >pw1 #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~a* %R~b %W~c &ch +@all -@dangerous +config|get (~x +get) (%R~y &z +@hash -hdel)
        ACL SETUSER bob off nopass resetchannels -@all +select|0 +client|list
        ACL SETUSER default -flushall
        ACL SAVE
        ACL LIST
        "#,
    );
    let ftext = std::fs::read(&fpath).unwrap();
    let rtext = std::fs::read(&rpath).unwrap();
    assert_same("saved ACL files", &canon(&ftext), &canon(&rtext));
    // Each loads the other's file.
    std::fs::write(&fpath, &rtext).unwrap();
    std::fs::write(&rpath, &ftext).unwrap();
    run_rules(
        &mut d,
        "ACL SETUSER carol on\nACL LOAD\nACL LIST\nACL GETUSER alice",
    );
    // Errors: nothing changes.
    let bad = "user dave on +nosuch ~x\n# comment\nuser dave on\nuser \"a b\"\nnotuser x\nuser eve (~x +get\nuser frank %X~y <nopw\n";
    std::fs::write(&fpath, bad).unwrap();
    std::fs::write(&rpath, bad).unwrap();
    let (f, r) = d.both(&["ACL", "LOAD"]);
    let fs = String::from_utf8_lossy(&f).replace(fpath.to_str().unwrap(), "FILE");
    let rs = String::from_utf8_lossy(&r).replace(rpath.to_str().unwrap(), "FILE");
    assert_eq!(fs, rs);
    rules(&mut d, &["ACL", "LIST"]);
    std::fs::remove_file(&fpath).unwrap();
    std::fs::remove_file(&rpath).unwrap();
    let (f, r) = d.both(&["ACL", "LOAD"]);
    let fs = String::from_utf8_lossy(&f).replace(fpath.to_str().unwrap(), "FILE");
    let rs = String::from_utf8_lossy(&r).replace(rpath.to_str().unwrap(), "FILE");
    assert_eq!(fs, rs);
    // Clients of users that existed before a LOAD are disconnected; the default user's stay.
    std::fs::write(&fpath, &ftext).unwrap();
    std::fs::write(&rpath, &rtext).unwrap();
    d.run("ACL LOAD");
    let mut c = d.another();
    c.run("AUTH alice pw1");
    let mut c0 = d.another();
    c0.run("PING");
    d.run("ACL LOAD");
    assert!(c.ferrodis.is_closed_within(Duration::from_secs(2)));
    assert!(c.redis.is_closed_within(Duration::from_secs(2)));
    c0.run("PING");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `user` directives in redis.conf, and an ACL file at start-up.
#[test]
fn users_from_config() {
    let args = [
        "--user",
        "alice",
        "on",
        ">pw",
        "~a*",
        "+@all",
        "(~x",
        "+get)",
        "--user",
        "default",
        "on",
        "nopass",
        "+@all",
        "-flushall",
        "~*",
    ];
    let mut d = Diff::with_args(&args);
    run_rules(&mut d, "ACL LIST\nAUTH alice pw\nACL WHOAMI\nACL LOAD");
    // An ACL file at start-up.
    let dir = scratch_dir("acl", "startup");
    let path = dir.join("users.acl");
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all -debug\nuser zed on >z ~z* resetchannels +@read\n",
    )
    .unwrap();
    let mut d = Diff::with_args(&["--aclfile", path.to_str().unwrap()]);
    run_rules(&mut d, "ACL LIST\nAUTH zed z\nGET z1\nSET z1 v\nGET a");
    let _ = std::fs::remove_dir_all(&dir);
}

/// acl-pubsub-default decides the channels of new users and of reset.
#[test]
fn pubsub_default() {
    let mut d = Diff::new();
    run_rules(
        &mut d,
        r#"
        CONFIG GET acl-pubsub-default
        ACL SETUSER p1
        CONFIG SET acl-pubsub-default allchannels
        ACL SETUSER p2
        ACL SETUSER p1 reset
        ACL SETUSER p3 (+get)
        ACL LIST
        CONFIG SET acl-pubsub-default resetchannels
        ACL SETUSER p2 reset
        ACL LIST
        "#,
    );
}

/// A user limited by category, command and key pattern gets Redis's replies when running
/// commands for real (not DRYRUN).
#[test]
fn restricted_user_runs_commands() {
    let mut d = Diff::new();
    d.run("ACL SETUSER u on nopass ~key:* %R~ro:* +@string +@keyspace -del +@connection");
    let mut u = d.another();
    u.run(
        r#"
        AUTH u x
        SET key:1 v
        GET key:1
        SET ro:1 v
        GET ro:1
        APPEND ro:1 x
        SET other v
        DEL key:1
        UNLINK key:1
        LPUSH key:l a
        MSET key:2 a key:3 b
        MSET key:2 a ro:3 b
        MGET key:1 ro:1 other
        COPY key:1 ro:2
        COPY ro:1 key:9
        RENAME key:1 ro:1
        EXISTS key:1 other
        ~ KEYS *
        SUBSCRIBE x
        PING
        "#,
    );
}

/// CONFIG REWRITE writes the ACL users as `user` lines, as redis-server does.
#[test]
fn config_rewrite_writes_users() {
    let dir = scratch_dir("acl", "rewrite");
    let fconf = dir.join("f.conf");
    let rconf = dir.join("r.conf");
    let text = "user carol on nopass ~c* +@all\n";
    std::fs::write(&fconf, text).unwrap();
    std::fs::write(&rconf, text).unwrap();
    let f = ferrodis_with(&[fconf.to_str().unwrap()]);
    let r = oracle_with(&[rconf.to_str().unwrap()]);
    let mut d = Diff::from_servers(f, r);
    run_rules(
        &mut d,
        "ACL SETUSER alice on >pw ~a* +@all -@dangerous (~x +get)\nACL SETUSER default -flushall\nCONFIG REWRITE",
    );
    let users = |p: &std::path::Path| -> Vec<u8> {
        let t = std::fs::read(p).unwrap();
        let mut out = Vec::new();
        for l in t.split(|&b| b == b'\n').filter(|l| l.starts_with(b"user ")) {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        canon(&out)
    };
    assert_same("rewritten user lines", &users(&fconf), &users(&rconf));
    assert!(users(&fconf).starts_with(b"user alice on #"));
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Secrets never reach SLOWLOG or MONITOR: AUTH, HELLO AUTH, ACL SETUSER and sensitive
/// CONFIG SET values show as "(redacted)".
#[test]
fn secrets_are_redacted() {
    let mut d = Diff::new();
    let mut mon = d.another();
    mon.run("MONITOR");
    d.run(
        r#"
        CONFIG SET slowlog-log-slower-than 0
        SLOWLOG RESET
        AUTH default x
        ? HELLO 2 AUTH default x SETNAME n
        ACL SETUSER zz on >secret ~*
        CONFIG SET masterauth abc maxmemory-samples 5
        CONFIG SET slowlog-log-slower-than 10000
        "#,
    );
    let argvs = |raw: &[u8]| -> Vec<Vec<Vec<u8>>> {
        parse_reply(raw)
            .unwrap()
            .items()
            .unwrap()
            .iter()
            .map(|e| {
                e.items().unwrap()[3]
                    .items()
                    .unwrap()
                    .iter()
                    .map(|a| a.bytes().unwrap().to_vec())
                    .collect()
            })
            .collect()
    };
    let (f, r) = d.both(&["SLOWLOG", "GET", "20"]);
    assert_eq!(argvs(&f), argvs(&r));
    assert!(argvs(&f)
        .iter()
        .any(|a| a.contains(&b"(redacted)".to_vec())));
    // MONITOR lines after the timestamp and client address (admin commands are not shown).
    for _ in 0..2 {
        let (f, r) = (mon.ferrodis.read_reply(), mon.redis.read_reply());
        let tail = |l: &[u8]| l[l.iter().position(|&b| b == b']').unwrap()..].to_vec();
        assert_same("MONITOR line", &tail(&f), &tail(&r));
    }
}

/// The AOF replays a transaction whatever the default user may run now: the loading client
/// has no user (Redis's fake client), so EXEC's second check does not apply to it.
#[test]
fn aof_replay_ignores_acl() {
    let dir = scratch_dir("acl", "aof");
    let fpath = dir.join("f.acl");
    let rpath = dir.join("r.acl");
    let open = "user default on nopass ~* &* +@all\n";
    std::fs::write(&fpath, open).unwrap();
    std::fs::write(&rpath, open).unwrap();
    let f = ferrodis_with(&["--appendonly", "yes", "--aclfile", fpath.to_str().unwrap()]);
    let r = oracle_with(&["--appendonly", "yes", "--aclfile", rpath.to_str().unwrap()]);
    let mut d = Diff::from_servers(f, r);
    d.run("MULTI\nSET k v\nINCR n\nEXEC\nSET k2 v");
    let closed = "user default on nopass ~* &* +@all -set -incr\n";
    std::fs::write(&fpath, closed).unwrap();
    std::fs::write(&rpath, closed).unwrap();
    d.ferrodis_server().restart(&[]);
    d.redis_server().restart(&[]);
    let mut d = d.another();
    d.run("GET k\nGET n\nGET k2\nSET k x");
    rules(&mut d, &["ACL", "LIST"]);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start-up refuses users it cannot load, with Redis's log lines: a rule naming an unknown
/// command, users both in redis.conf and in an ACL file, and a broken ACL file.
#[test]
fn startup_acl_errors() {
    let dir = scratch_dir("acl", "startup-errors");
    let file = dir.join("bad.acl");
    std::fs::write(&file, "user x on +nosuch\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--user".into(), "alice".into(), "on".into(), "+nosuch".into()],
            "Error loading ACL rule '+nosuch' for the user named 'alice': Unknown command or category name in ACL".into(),
        ),
        (
            vec!["--user".into(), "alice".into(), "on".into(), "--aclfile".into(), file.clone()],
            "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid.".into(),
        ),
        (
            vec!["--aclfile".into(), file.clone()],
            format!("Aborting Redis startup because of ACL errors: {file}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"),
        ),
    ];
    for (args, expect) in cases {
        for bin in [ferrodis_bin(), oracle_bin()] {
            let port = free_port().to_string();
            let mut all = vec!["--port".to_string(), port, "--save".into(), String::new()];
            all.extend(args.iter().cloned());
            let out = std::process::Command::new(&bin)
                .args(&all)
                .current_dir(&dir)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{} {all:?}: {log}",
                bin.display()
            );
            assert!(log.contains(&expect), "{} {all:?}: {log}", bin.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// RESP3 forms: GETUSER's map and flag set, ACL LOG's maps and double ages.
#[test]
fn resp3_replies() {
    let mut d = Diff::new();
    d.run("? HELLO 3");
    run_rules(
        &mut d,
        "ACL SETUSER r on >p ~a (~b +get) +@hash\nACL GETUSER r\nACL GETUSER nosuch\nACL LIST\nACL CAT\nACL DRYRUN r get x\nACL WHOAMI",
    );
    d.run("ACL LOG RESET\nAUTH r wrong");
    let (f, r) = d.both(&["ACL", "LOG"]);
    let shape = |raw: &[u8]| -> Vec<u8> {
        // Mask the double (",0.xxx") and the client-info bulk.
        let s = String::from_utf8_lossy(raw).into_owned();
        let mut out = Vec::new();
        let mut skip_next_bulk = false;
        for l in s.split("\r\n") {
            if l.starts_with(',') {
                out.push(",X".to_string());
            } else if skip_next_bulk && !l.starts_with('$') {
                out.push("X".to_string());
                skip_next_bulk = false;
            } else if skip_next_bulk {
                out.push("$X".to_string());
            } else {
                out.push(l.to_string());
            }
            if l == "client-info" {
                skip_next_bulk = true;
            }
        }
        out.join("\r\n").into_bytes()
    };
    assert_same("ACL LOG (RESP3)", &shape(&f), &shape(&r));
    assert!(f.starts_with(b"*1\r\n%7\r\n"));
}

/// Protected mode follows the default user: remote connections are refused while it has no
/// password (nopass), whether the password came from requirepass or ACL SETUSER.
#[test]
fn protected_mode_follows_the_default_user() {
    let Some(ip) = std::net::UdpSocket::bind("0.0.0.0:0").ok().and_then(|s| {
        s.connect("192.0.2.1:9").ok()?;
        s.local_addr().ok().map(|a| a.ip())
    }) else {
        return;
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return;
    }
    let mut d = Diff::new();
    let remote = |s: &Server| -> Option<Vec<u8>> {
        let stream = std::net::TcpStream::connect((ip, s.port())).ok()?;
        let mut c = RawConn::from_stream(stream, s.port());
        c.send(&encode_command(&["PING"]));
        c.try_read_reply(Duration::from_secs(2))
    };
    let both = |d: &Diff| {
        let f = remote(d.ferrodis_server());
        let r = remote(d.redis_server());
        assert_eq!(
            f.as_deref().map(escape),
            r.as_deref().map(escape),
            "remote PING"
        );
        f
    };
    let Some(first) = both(&d) else { return };
    assert!(first.starts_with(b"-DENIED"));
    d.run("ACL SETUSER default >pw");
    assert!(both(&d).unwrap().starts_with(b"-NOAUTH"));
    d.run("ACL SETUSER default nopass\nCONFIG SET requirepass x");
    assert!(both(&d).unwrap().starts_with(b"-NOAUTH"));
    d.run("CONFIG SET requirepass \"\"");
    assert!(both(&d).unwrap().starts_with(b"-DENIED"));
}
