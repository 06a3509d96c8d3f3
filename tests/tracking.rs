//! Client-side caching (src/tracking.rs, CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO)
//! against the oracle: every option in RESP2 and RESP3, with the invalidation frames compared
//! byte for byte *and in their place among the replies*: after each command, every frame each
//! side sends until it falls quiet is read and the two sequences must be equal. Then a local
//! cache kept through a real RESP3 client (the `redis` crate) stays correct under a concurrent
//! writer.
//!
//! Client ids differ between the two servers, so commands that name one (REDIRECT) are sent
//! with each side's own id, and CLIENT LIST lines are compared on their tracking fields only.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a connection must stay silent to count as drained: every frame a command causes
/// is written in the same event-loop iteration as the last reply it is compared after.
const QUIET: Duration = Duration::from_millis(60);

/// Switches both connections to RESP3 (HELLO's reply carries the connection id, which differs).
fn hello3(d: &mut Diff) {
    let (f, r) = d.both(&["HELLO", "3"]);
    assert!(f.starts_with(b"%7") && r.starts_with(b"%7"));
}

/// Back to RESP2 on both connections.
fn hello2(d: &mut Diff) {
    let (f, r) = d.both(&["HELLO", "2"]);
    assert!(f.starts_with(b"*14") && r.starts_with(b"*14"));
}

/// Every frame `conn` has to say until it falls quiet (the first one may take a while).
fn drain_one(conn: &mut RawConn, first_wait: Option<Duration>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(w) = first_wait {
        if let Some(f) = conn.try_read_reply(w) {
            out.push(f);
        } else {
            return out;
        }
    }
    while let Some(f) = conn.try_read_reply(QUIET) {
        out.push(f);
    }
    out
}

/// Asserts both sides sent the same frames, in the same order.
fn same_frames(what: &str, f: &[Vec<u8>], r: &[Vec<u8>]) {
    let show = |v: &[Vec<u8>]| v.iter().map(|x| escape(x)).collect::<Vec<_>>().join(" | ");
    assert!(
        f == r,
        "{what}: frames differ\n  ferrodis: {}\n  redis:    {}",
        show(f),
        show(r)
    );
}

/// Reads what both sides send until quiet and compares; returns the frames.
fn drain(d: &mut Diff, what: &str) -> Vec<Vec<u8>> {
    let f = drain_one(&mut d.ferrodis, None);
    let r = drain_one(&mut d.redis, None);
    same_frames(what, &f, &r);
    f
}

/// Sends one command to both and compares everything that comes back (its reply and any
/// push around it) until both fall quiet.
fn all(d: &mut Diff, args: &[&str]) -> Vec<Vec<u8>> {
    d.send(args);
    let wait = Some(reply_timeout());
    let f = drain_one(&mut d.ferrodis, wait);
    let r = drain_one(&mut d.redis, wait);
    same_frames(&show_command(args), &f, &r);
    assert!(!f.is_empty(), "no reply to {}", show_command(args));
    f
}

/// Runs a script with [`all`] per line (`#` comments and blank lines skipped).
fn script(d: &mut Diff, text: &str) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = split_args(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let args: Vec<String> = args
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect();
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        all(d, &args);
    }
}

/// Sends several commands in one write to each side, then compares everything that comes
/// back: the frames' order among the replies of a pipeline is part of the behaviour.
fn pipeline(d: &mut Diff, cmds: &[&[&str]]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for c in cmds {
        bytes.extend_from_slice(&encode_command(c));
    }
    d.ferrodis.send(&bytes);
    d.redis.send(&bytes);
    let wait = Some(reply_timeout());
    let f = drain_one(&mut d.ferrodis, wait);
    let r = drain_one(&mut d.redis, wait);
    same_frames("pipeline", &f, &r);
    f
}

/// CLIENT ID on each side.
fn ids(d: &mut Diff) -> (String, String) {
    let f = d.ferrodis.value(&["CLIENT", "ID"]).int().unwrap();
    let r = d.redis.value(&["CLIENT", "ID"]).int().unwrap();
    (f.to_string(), r.to_string())
}

/// `frames` with the integer frame/element `:<id>` replaced by a marker.
fn mask_id(frames: Vec<Vec<u8>>, id: &str) -> Vec<Vec<u8>> {
    frames
        .into_iter()
        .map(|x| {
            String::from_utf8_lossy(&x)
                .replace(&format!(":{id}\r\n"), ":<id>\r\n")
                .into_bytes()
        })
        .collect()
}

/// `drain` for frames that carry a client id (the redirect target's, in
/// `tracking-redir-broken`).
fn drain_with_id(d: &mut Diff, what: &str, id: &(String, String)) {
    let f = drain_one(&mut d.ferrodis, None);
    let r = drain_one(&mut d.redis, None);
    same_frames(what, &mask_id(f, &id.0), &mask_id(r, &id.1));
}

/// Sends `args` with `{id}` replaced by each side's id, compares everything that comes back.
fn all_with_id(d: &mut Diff, args: &[&str], id: &(String, String)) -> Vec<Vec<u8>> {
    let sub = |v: &str| -> Vec<String> {
        args.iter()
            .map(|a| {
                if *a == "{id}" {
                    v.to_string()
                } else {
                    a.to_string()
                }
            })
            .collect()
    };
    let (fa, ra) = (sub(&id.0), sub(&id.1));
    d.ferrodis.send_cmd(&fa);
    d.redis.send_cmd(&ra);
    let wait = Some(reply_timeout());
    let f = drain_one(&mut d.ferrodis, wait);
    let r = drain_one(&mut d.redis, wait);
    // Replies that carry the id itself (GETREDIR, TRACKINGINFO) are compared with it masked.
    same_frames(
        &show_command(args),
        &mask_id(f.clone(), &id.0),
        &mask_id(r, &id.1),
    );
    f
}

/// The tracking fields of this connection's CLIENT INFO line: flags= and redir= (with the
/// redirect id replaced by a marker when it is one of `id`).
fn tracking_fields(d: &mut Diff, id: Option<&(String, String)>) {
    let get = |conn: &mut RawConn, own: Option<&str>| -> String {
        let line = conn.value(&["CLIENT", "INFO"]);
        let line = String::from_utf8_lossy(line.bytes().unwrap()).into_owned();
        let pick = |name: &str| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(name))
                .unwrap_or("?")
                .trim()
                .to_string()
        };
        let mut redir = pick("redir=");
        if Some(redir.as_str()) == own {
            redir = "<id>".into();
        }
        format!("flags={} redir={}", pick("flags="), redir)
    };
    let f = get(&mut d.ferrodis, id.map(|i| i.0.as_str()));
    let r = get(&mut d.redis, id.map(|i| i.1.as_str()));
    assert_eq!(f, r, "CLIENT INFO tracking fields");
}

/// The tracking lines of INFO (clients and stats sections) on both sides.
fn info_tracking(d: &mut Diff) {
    let get = |conn: &mut RawConn| -> Vec<String> {
        let v = conn.value(&["INFO", "everything"]);
        String::from_utf8_lossy(v.bytes().unwrap())
            .lines()
            .filter(|l| l.starts_with("tracking_"))
            .map(|l| l.to_string())
            .collect()
    };
    let (f, r) = (get(&mut d.ferrodis), get(&mut d.redis));
    assert_eq!(f.len(), 4, "{f:?}");
    assert_eq!(f, r, "INFO tracking fields");
}

/// Where a tracking client's invalidations are read: the client itself in RESP3; in RESP2 a
/// subscriber of `__redis__:invalidate` it redirects to (RESP2 has no pushes).
struct Receiver {
    conn: Option<Diff>,
    id: Option<(String, String)>,
}

impl Receiver {
    /// Sets `a` up for protocol `resp3` and returns where its invalidations arrive.
    fn new(a: &mut Diff, resp3: bool) -> Receiver {
        if resp3 {
            hello3(a);
            return Receiver {
                conn: None,
                id: None,
            };
        }
        let mut sub = a.another();
        let id = ids(&mut sub);
        all(&mut sub, &["SUBSCRIBE", "__redis__:invalidate"]);
        Receiver {
            conn: Some(sub),
            id: Some(id),
        }
    }

    /// CLIENT TRACKING ON with `opts`, redirected to the receiver in RESP2.
    fn track(&self, a: &mut Diff, opts: &[&str]) {
        let mut args = vec!["CLIENT", "TRACKING", "on"];
        args.extend_from_slice(opts);
        match &self.id {
            Some(id) => {
                args.extend_from_slice(&["REDIRECT", "{id}"]);
                all_with_id(a, &args, id);
            }
            None => {
                all(a, &args);
            }
        }
    }

    /// Drains the receiving connection (and checks the tracking one said nothing more).
    fn drain(&mut self, a: &mut Diff, what: &str) {
        if let Some(sub) = self.conn.as_mut() {
            drain(sub, what);
        }
        drain(a, what);
    }
}

// ---------------------------------------------------------------------------------------------
// The commands

/// CLIENT TRACKING's options and every error, in Redis's order of checks; CLIENT CACHING,
/// GETREDIR and TRACKINGINFO in each mode; in RESP2 and RESP3 (TRACKINGINFO's flags are a set
/// in RESP3).
#[test]
fn tracking_commands_and_errors() {
    for resp3 in [false, true] {
        let mut d = Diff::new();
        if resp3 {
            hello3(&mut d);
        }
        script(
            &mut d,
            r#"
            CLIENT TRACKINGINFO
            CLIENT GETREDIR
            CLIENT CACHING yes
            CLIENT CACHING no
            CLIENT CACHING maybe
            CLIENT CACHING
            CLIENT GETREDIR x
            CLIENT TRACKINGINFO x
            CLIENT TRACKING
            CLIENT TRACKING on REDIRECT 999999
            CLIENT TRACKING on REDIRECT x
            CLIENT TRACKING on REDIRECT 0
            CLIENT TRACKING on REDIRECT -1
            CLIENT TRACKING on REDIRECT
            CLIENT TRACKING on PREFIX
            CLIENT TRACKING on BCAST PREFIX
            CLIENT TRACKING on FOO
            CLIENT TRACKING maybe
            CLIENT TRACKING maybe FOO
            CLIENT TRACKING off FOO
            CLIENT TRACKING off REDIRECT 999999
            CLIENT TRACKING on PREFIX a
            CLIENT TRACKING on OPTIN OPTOUT PREFIX a
            CLIENT TRACKING on BCAST OPTIN
            CLIENT TRACKING on BCAST OPTOUT
            CLIENT TRACKING on BCAST OPTIN OPTOUT
            CLIENT TRACKING on OPTIN OPTOUT
            CLIENT TRACKING on BCAST PREFIX a PREFIX ab
            CLIENT TRACKING on BCAST PREFIX x PREFIX y PREFIX x
            CLIENT TRACKING on BCAST PREFIX "" PREFIX a
            CLIENT TRACKINGINFO
            CLIENT GETREDIR
            CLIENT TRACKING off OPTIN OPTOUT
            CLIENT TRACKING off
            CLIENT TRACKINGINFO
            CLIENT TRACKING on
            CLIENT TRACKINGINFO
            CLIENT GETREDIR
            CLIENT CACHING yes
            CLIENT CACHING no
            CLIENT TRACKING on BCAST
            CLIENT TRACKING on OPTIN
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTOUT
            CLIENT CACHING no
            CLIENT CACHING yes
            CLIENT CACHING maybe
            CLIENT TRACKINGINFO
            # A CLIENT subcommand keeps CACHING for the next command; anything else drops it.
            CLIENT GETNAME
            CLIENT TRACKINGINFO
            PING
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTIN NOLOOP
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTOUT
            # A plain re-enable clears OPTIN and NOLOOP.
            CLIENT TRACKING on
            CLIENT TRACKINGINFO
            CLIENT TRACKING on OPTOUT
            CLIENT CACHING no
            # Re-enabling keeps a CACHING given before (Redis clears only the mode flags).
            CLIENT TRACKING on OPTOUT NOLOOP
            CLIENT TRACKINGINFO
            CLIENT TRACKING off
            CLIENT TRACKING on BCAST PREFIX b PREFIX a
            CLIENT TRACKINGINFO
            CLIENT TRACKING on BCAST PREFIX ab
            CLIENT TRACKING on BCAST PREFIX c PREFIX ""
            CLIENT TRACKING on BCAST PREFIX c PREFIX d NOLOOP
            CLIENT TRACKINGINFO
            # No prefix adds the empty one, whatever is there already.
            CLIENT TRACKING on BCAST
            CLIENT TRACKINGINFO
            CLIENT TRACKING on
            CLIENT TRACKING off
            CLIENT TRACKING on BCAST PREFIX "a\x00b" PREFIX "c d"
            CLIENT TRACKINGINFO
            "#,
        );
        // An overlap found after the first given prefix is reported and tracking is enabled
        // anyway (an error, then +OK), as Redis 7.0's checkPrefixCollisionsOrReply does.
        all(&mut d, &["CLIENT", "TRACKING", "off"]);
        let frames = all(
            &mut d,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b", "PREFIX", "bc",
            ],
        );
        assert_eq!(frames.len(), 2);
        all(&mut d, &["CLIENT", "TRACKINGINFO"]);
        tracking_fields(&mut d, None);
        info_tracking(&mut d);
        // RESET leaves tracking (and its prefixes).
        all(&mut d, &["RESET"]);
        all(&mut d, &["CLIENT", "TRACKINGINFO"]);
        tracking_fields(&mut d, None);
        info_tracking(&mut d);
    }
}

/// REDIRECT: to an existing client only, one at most; GETREDIR and TRACKINGINFO report it;
/// CLIENT LIST shows redir= and the flags t / B.
#[test]
fn redirect_option_and_client_list_fields() {
    let mut d = Diff::new();
    let mut target = d.another();
    let tid = ids(&mut target);
    tracking_fields(&mut d, None);
    all(&mut d, &["CLIENT", "TRACKING", "on"]);
    tracking_fields(&mut d, None);
    all_with_id(
        &mut d,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &tid,
    );
    all_with_id(
        &mut d,
        &[
            "CLIENT", "TRACKING", "on", "REDIRECT", "{id}", "REDIRECT", "{id}",
        ],
        &tid,
    );
    all_with_id(&mut d, &["CLIENT", "GETREDIR"], &tid);
    all_with_id(&mut d, &["CLIENT", "TRACKINGINFO"], &tid);
    tracking_fields(&mut d, Some(&tid));
    all(&mut d, &["CLIENT", "TRACKING", "off"]);
    all_with_id(
        &mut d,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", "{id}", "NOLOOP",
        ],
        &tid,
    );
    tracking_fields(&mut d, Some(&tid));
    all_with_id(&mut d, &["CLIENT", "TRACKINGINFO"], &tid);
    // Redirecting to itself is allowed.
    let own = ids(&mut d);
    all(&mut d, &["CLIENT", "TRACKING", "off"]);
    all_with_id(
        &mut d,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &own,
    );
    all_with_id(&mut d, &["CLIENT", "GETREDIR"], &own);
    // The target's own line: no tracking.
    tracking_fields(&mut target, None);
    info_tracking(&mut d);
}

// ---------------------------------------------------------------------------------------------
// Default mode

/// RESP3 default mode: reads are remembered, another client's writes push an invalidation
/// at once; the client's own writes push after their reply; a transaction's invalidations
/// come after EXEC's array; FLUSHDB/FLUSHALL push a null; SWAPDB pushes nothing; a key is
/// invalidated once and must be read again to be tracked again.
#[test]
fn default_mode_resp3() {
    let mut a = Diff::new();
    let mut b = a.another();
    hello3(&mut a);
    all(&mut a, &["CLIENT", "TRACKING", "on"]);
    script(
        &mut a,
        r#"
        GET k1
        GET k2
        MGET k3 k4 k5
        HGET h f
        EXISTS e1 e2
        LRANGE l 0 -1
        SINTER s1 s2
        ZSCORE z m
        STRLEN k6
        GETRANGE k7 0 1
        TYPE t1
        "#,
    );
    // Keys found by a command's getkeys procedure or a key range.
    script(
        &mut a,
        r#"
        SORT_RO srt
        ZUNION 2 zu1 zu2
        ZINTERCARD 2 zu3 zu4 LIMIT 1
        SINTERCARD 2 si1 si2
        LCS lc1 lc2
        HGETALL hg
        "#,
    );
    info_tracking(&mut a);
    for key in ["srt", "zu2", "zu4", "si1", "lc2", "hg"] {
        all(&mut b, &["SET", key, "1"]);
        drain(&mut a, key);
    }
    // Writes by another client.
    all(&mut b, &["SET", "k1", "v"]);
    drain(&mut a, "push for k1");
    all(&mut b, &["MSET", "k2", "x", "k3", "y", "zz", "1"]);
    drain(&mut a, "pushes for k2, k3");
    // Nothing changes: no push.
    all(&mut b, &["DEL", "nothere"]);
    drain(&mut a, "nothing");
    all(&mut b, &["HSET", "h", "f", "1"]);
    all(&mut b, &["RPUSH", "l", "a"]);
    all(&mut b, &["SADD", "s2", "a"]);
    all(&mut b, &["ZADD", "z", "1", "m"]);
    all(&mut b, &["SET", "k6", "v"]);
    all(&mut b, &["APPEND", "k7", "v"]);
    all(&mut b, &["SET", "t1", "v"]);
    all(&mut b, &["EXPIRE", "k1", "100"]);
    drain(&mut a, "pushes for h l s2 z k6 k7 t1");
    // k1 is no longer tracked: a second write sends nothing until it is read again.
    all(&mut b, &["SET", "k1", "w"]);
    drain(&mut a, "nothing for k1");
    info_tracking(&mut a);
    // Own writes: the reply, then the push.
    script(
        &mut a,
        r#"
        GET k1
        SET k1 own
        GET k1
        INCR k1
        GET k1
        GET k2
        MSET k1 1 k2 2
        GET k1
        DEL k1 k2
        GET ctr
        INCR ctr
        INCR ctr
        "#,
    );
    // A transaction: every invalidation after EXEC's array, in the order the keys changed,
    // with a key invalidated twice sent twice.
    script(
        &mut a,
        r#"
        GET t1
        GET t2
        MULTI
        SET t1 x
        GET t1
        SET t2 y
        SET t1 z
        GET nope
        EXEC
        "#,
    );
    // Another client's transaction.
    all(&mut a, &["GET", "t2"]);
    all(&mut b, &["MULTI"]);
    all(&mut b, &["SET", "t2", "1"]);
    all(&mut b, &["SET", "t1", "1"]);
    all(&mut b, &["EXEC"]);
    drain(&mut a, "pushes from another client's EXEC");
    // Flushes send one null to every tracking client, own ones after the reply.
    all(&mut a, &["GET", "f1"]);
    all(&mut b, &["FLUSHALL"]);
    drain(&mut a, "null after FLUSHALL");
    info_tracking(&mut a);
    all(&mut a, &["GET", "f1"]);
    all(&mut a, &["FLUSHDB"]);
    all(&mut b, &["SELECT", "3"]);
    all(&mut b, &["FLUSHDB"]);
    drain(&mut a, "null after FLUSHDB of another db");
    all(&mut a, &["MULTI"]);
    all(&mut a, &["GET", "f1"]);
    all(&mut a, &["FLUSHALL"]);
    all(&mut a, &["GET", "f1"]);
    all(&mut a, &["EXEC"]);
    // DEBUG RELOAD empties the dataset first: the same null.
    all(&mut a, &["GET", "f1"]);
    all(&mut b, &["DEBUG", "RELOAD"]);
    drain(&mut a, "null after DEBUG RELOAD");
    // SWAPDB invalidates nothing (Redis 7.0 does not tell tracking clients).
    all(&mut a, &["SET", "sw", "1"]);
    all(&mut a, &["GET", "sw"]);
    all(&mut b, &["SWAPDB", "0", "3"]);
    drain(&mut a, "nothing after SWAPDB");
    all(&mut a, &["SWAPDB", "0", "3"]);
    // Keys of any db share one table: a write in another db invalidates too.
    all(&mut b, &["SET", "sw", "2"]);
    drain(&mut a, "push for sw from db 3");
    info_tracking(&mut a);
}

/// Pipelined commands: each invalidation lands right after the reply of the command that
/// caused it.
#[test]
fn pipelined_invalidations_follow_their_command() {
    let mut a = Diff::new();
    let mut b = a.another();
    hello3(&mut a);
    all(&mut a, &["CLIENT", "TRACKING", "on"]);
    pipeline(
        &mut a,
        &[
            &["GET", "p1"],
            &["GET", "p2"],
            &["SET", "p1", "1"],
            &["GET", "p1"],
            &["SET", "p2", "2"],
            &["SET", "p1", "3"],
            &["PING"],
        ],
    );
    pipeline(
        &mut b,
        &[&["SET", "p2", "x"], &["SET", "p1", "y"], &["DEL", "p1"]],
    );
    drain(&mut a, "one push for p1 (p2 was not read again)");
}

/// NOLOOP: no invalidation for the client's own writes, including inside EXEC; other
/// clients' writes still arrive. RESP3 pushes, RESP2 through a redirect.
#[test]
fn noloop_default_mode() {
    for resp3 in [false, true] {
        let mut a = Diff::new();
        let mut b = a.another();
        let mut rx = Receiver::new(&mut a, resp3);
        rx.track(&mut a, &["NOLOOP"]);
        script(
            &mut a,
            r#"
            GET n1
            SET n1 own
            GET n1
            MULTI
            SET n1 x
            GET n1
            EXEC
            FLUSHALL
            GET n1
            "#,
        );
        rx.drain(&mut a, "only the flush's null");
        all(&mut b, &["SET", "n1", "other"]);
        rx.drain(&mut a, "push for another client's write");
        // Without NOLOOP the same writes are reported.
        rx.track(&mut a, &[]);
        script(
            &mut a,
            "GET n1\nSET n1 own\nGET n1\nMULTI\nSET n1 x\nGET n1\nEXEC",
        );
        rx.drain(&mut a, "own writes");
    }
}

/// RESP2 without REDIRECT: tracking turns on (Redis 7.0 does not refuse it) but nothing can
/// be sent on the connection; with REDIRECT to a subscribed RESP2 client the messages arrive
/// on `__redis__:invalidate`; to a RESP3 client as pushes; to an unsubscribed RESP2 client not
/// at all. The null of a flush is in the *tracking* client's protocol, even when redirected.
#[test]
fn resp2_and_redirection() {
    let mut a = Diff::new();
    let mut b = a.another();
    let mut sub = a.another();
    let mut push_target = a.another();
    let mut plain_target = a.another();
    let mut x = a.another();
    let sid = ids(&mut sub);
    let pid = ids(&mut push_target);
    let plid = ids(&mut plain_target);
    all(&mut sub, &["SUBSCRIBE", "__redis__:invalidate"]);
    hello3(&mut push_target);
    // RESP2 without redirect: accepted, silent.
    script(&mut a, "CLIENT TRACKING on\nGET k\nSET k own\nGET k");
    all(&mut b, &["SET", "k", "1"]);
    drain(&mut a, "nothing for RESP2");
    all(&mut b, &["FLUSHALL"]);
    drain(&mut a, "nothing for RESP2");
    tracking_fields(&mut a, None);
    // RESP2 redirected to a subscriber.
    all_with_id(
        &mut a,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &sid,
    );
    all(&mut a, &["GET", "k"]);
    all(&mut b, &["SET", "k", "2"]);
    drain(&mut sub, "message for k");
    drain(&mut a, "nothing on the tracking connection");
    all(&mut a, &["GET", "k"]);
    all(&mut a, &["SET", "k", "own"]);
    drain(&mut sub, "message for own write");
    all(&mut b, &["FLUSHALL"]);
    drain(&mut sub, "null as $-1 (the tracking client is RESP2)");
    // A RESP3 tracking client redirected to the same subscriber: its null is `_`, even in a
    // RESP2 Pub/Sub message; both nulls come in connection order.
    hello3(&mut x);
    all_with_id(
        &mut x,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &sid,
    );
    all(&mut x, &["GET", "k"]);
    all(&mut b, &["SET", "k", "3"]);
    drain(&mut sub, "message for x's k");
    drain(&mut x, "nothing on x");
    all(&mut b, &["FLUSHALL"]);
    // Redis walks its client list for the nulls, and serverCron keeps rotating that list:
    // the order of the two is not defined.
    let mut f = drain_one(&mut sub.ferrodis, None);
    let mut r = drain_one(&mut sub.redis, None);
    f.sort();
    r.sort();
    same_frames("two nulls, in any order", &f, &r);
    assert_eq!(f.len(), 2);
    // Redirected to a RESP3 client: pushes; its own write gets the push before its reply
    // (Redis writes it while the command runs).
    all_with_id(
        &mut a,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &pid,
    );
    all(&mut a, &["GET", "r"]);
    all(&mut b, &["SET", "r", "1"]);
    drain(&mut push_target, "push for r");
    all(&mut a, &["GET", "r"]);
    all(&mut push_target, &["SET", "r", "2"]);
    all(&mut a, &["GET", "r"]);
    all(&mut push_target, &["MULTI"]);
    all(&mut push_target, &["GET", "r"]);
    all(&mut push_target, &["SET", "r", "3"]);
    all(&mut push_target, &["EXEC"]);
    all(&mut push_target, &["FLUSHALL"]);
    // Redirected to an unsubscribed RESP2 client: nothing anywhere.
    all_with_id(
        &mut a,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
        &plid,
    );
    all(&mut a, &["GET", "r"]);
    all(&mut b, &["SET", "r", "4"]);
    drain(
        &mut plain_target,
        "nothing for an unsubscribed RESP2 target",
    );
    drain(&mut a, "nothing");
    info_tracking(&mut a);
}

/// The redirect target goes away: the next invalidation marks the redirect broken (flag R,
/// `broken_redirect`) and a RESP3 client is told with a `tracking-redir-broken` push, every
/// time; a RESP2 client only gets the flag.
#[test]
fn broken_redirect() {
    for resp3 in [false, true] {
        let mut a = Diff::new();
        let mut b = a.another();
        let mut target = a.another();
        let tid = ids(&mut target);
        if resp3 {
            hello3(&mut a);
        }
        all_with_id(
            &mut a,
            &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
            &tid,
        );
        all(&mut a, &["GET", "k"]);
        target.cmd(&["QUIT"]);
        assert!(target.closed());
        // The target's departure alone says nothing.
        drain(&mut a, "nothing yet");
        tracking_fields(&mut a, Some(&tid));
        all(&mut b, &["SET", "k", "1"]);
        drain_with_id(&mut a, "redir-broken", &tid);
        tracking_fields(&mut a, Some(&tid));
        all_with_id(&mut a, &["CLIENT", "TRACKINGINFO"], &tid);
        all_with_id(&mut a, &["CLIENT", "GETREDIR"], &tid);
        all(&mut a, &["GET", "k"]);
        all_with_id(&mut a, &["SET", "k", "own"], &tid);
        all(&mut b, &["FLUSHALL"]);
        drain_with_id(&mut a, "redir-broken for the flush", &tid);
        // Re-enabling clears the flag; the target is gone, so REDIRECT to it is refused.
        all_with_id(
            &mut a,
            &["CLIENT", "TRACKING", "on", "REDIRECT", "{id}"],
            &tid,
        );
        all(&mut a, &["CLIENT", "TRACKING", "on"]);
        tracking_fields(&mut a, None);
        all(&mut a, &["CLIENT", "TRACKINGINFO"]);
    }
}

/// HELLO 2 <-> 3 on a tracking connection: the state survives; pushes go out only while it
/// speaks RESP3, TRACKINGINFO's flags switch between array and set.
#[test]
fn hello_switches_protocol_under_tracking() {
    let mut a = Diff::new();
    let mut b = a.another();
    script(
        &mut a,
        "CLIENT TRACKING on OPTOUT\nCLIENT TRACKINGINFO\nGET k\nGET j",
    );
    all(&mut b, &["SET", "k", "1"]);
    drain(&mut a, "RESP2: nothing");
    hello3(&mut a);
    all(&mut a, &["CLIENT", "TRACKINGINFO"]);
    all(&mut b, &["SET", "j", "1"]);
    drain(&mut a, "j was tracked while in RESP2 and is pushed now");
    script(&mut a, "GET k\nSET k own");
    all(&mut a, &["GET", "k"]);
    hello2(&mut a);
    all(&mut b, &["SET", "k", "2"]);
    drain(&mut a, "RESP2 again: nothing");
    all(&mut a, &["CLIENT", "TRACKINGINFO"]);
    tracking_fields(&mut a, None);
    // A transaction that switches protocol: the pending invalidation goes out in the
    // protocol in force when EXEC ends.
    hello3(&mut a);
    all(&mut a, &["GET", "m"]);
    let own = ids(&mut a);
    // HELLO's map carries the connection id: compare EXEC's frames with it masked.
    let exec = |a: &mut Diff| -> Vec<Vec<u8>> {
        a.send(&["EXEC"]);
        let wait = Some(reply_timeout());
        let mask = |v: Vec<Vec<u8>>, id: &str| -> Vec<Vec<u8>> {
            v.into_iter()
                .map(|x| {
                    String::from_utf8_lossy(&x)
                        .replace(&format!("$2\r\nid\r\n:{id}\r\n"), "$2\r\nid\r\n:<id>\r\n")
                        .into_bytes()
                })
                .collect()
        };
        let f = mask(drain_one(&mut a.ferrodis, wait), &own.0);
        let r = mask(drain_one(&mut a.redis, wait), &own.1);
        same_frames("EXEC with HELLO", &f, &r);
        f
    };
    all(&mut a, &["MULTI"]);
    all(&mut a, &["SET", "m", "1"]);
    all(&mut a, &["HELLO", "2"]);
    let f = exec(&mut a);
    assert_eq!(f.len(), 1, "no push in RESP2");
    all(&mut a, &["MULTI"]);
    all(&mut a, &["GET", "m"]);
    all(&mut a, &["HELLO", "3"]);
    all(&mut a, &["SET", "m", "1"]);
    let f = exec(&mut a);
    assert!(f.len() == 2 && f[1].starts_with(b">2"), "push after EXEC");
}

/// OPTIN tracks only after CLIENT CACHING YES, OPTOUT all but after CLIENT CACHING NO; the
/// choice covers the next command (a whole MULTI ... EXEC), survives CLIENT subcommands, and
/// not other commands.
#[test]
fn optin_and_optout() {
    for resp3 in [false, true] {
        let mut a = Diff::new();
        let mut b = a.another();
        let mut rx = Receiver::new(&mut a, resp3);
        rx.track(&mut a, &["OPTIN"]);
        script(
            &mut a,
            r#"
            GET i1
            CLIENT CACHING yes
            GET i2
            GET i3
            CLIENT CACHING yes
            CLIENT GETNAME
            GET i4
            CLIENT CACHING yes
            PING
            GET i5
            CLIENT CACHING yes
            MULTI
            GET i6
            GET i7
            EXEC
            GET i8
            "#,
        );
        all(
            &mut b,
            &[
                "MSET", "i1", "1", "i2", "2", "i3", "3", "i4", "4", "i5", "5", "i6", "6", "i7",
                "7", "i8", "8",
            ],
        );
        rx.drain(&mut a, "i2, i4, i6, i7");
        info_tracking(&mut a);
        all(&mut a, &["CLIENT", "TRACKING", "off"]);
        rx.track(&mut a, &["OPTOUT"]);
        script(
            &mut a,
            r#"
            GET o1
            CLIENT CACHING no
            GET o2
            GET o3
            CLIENT CACHING no
            MULTI
            GET o4
            EXEC
            GET o5
            "#,
        );
        all(
            &mut b,
            &[
                "MSET", "o1", "1", "o2", "2", "o3", "3", "o4", "4", "o5", "5",
            ],
        );
        rx.drain(&mut a, "o1, o3, o5");
    }
}

/// Blocked clients: a tracking client blocked in BLMOVE gets the invalidation of the source
/// list (another client's push) before its reply, and that of the destination it changed
/// itself after it; replies to commands it pipelined while blocked follow.
#[test]
fn blocked_clients_and_invalidations() {
    let mut c = Diff::new();
    let mut b = c.another();
    let mut e = c.another();
    hello3(&mut c);
    script(&mut c, "CLIENT TRACKING on\nLRANGE l2 0 -1\nLRANGE l 0 -1");
    c.send(&["BLMOVE", "l", "l2", "LEFT", "LEFT", "0"]);
    drain(&mut c, "blocked");
    all(&mut b, &["LPUSH", "l", "x"]);
    drain(&mut c, "push for l, reply, push for l2");
    script(&mut c, "LRANGE q 0 -1\nLRANGE q2 0 -1");
    c.send(&["BLMOVE", "q", "q2", "LEFT", "LEFT", "0"]);
    c.send(&["LPUSH", "q2", "z"]);
    drain(&mut c, "blocked, with a command waiting behind");
    all(&mut e, &["MULTI"]);
    all(&mut e, &["LPUSH", "q", "y"]);
    all(&mut e, &["EXEC"]);
    drain(&mut c, "served, then the waiting command");
}

// ---------------------------------------------------------------------------------------------
// Broadcast mode

/// BCAST: every change of a key under a registered prefix, collected over one event-loop
/// iteration and sent before the loop sleeps: one array per prefix (prefixes in byte order,
/// keys in byte order, each key once), after the replies of the iteration. NOLOOP leaves out
/// the keys the client changed last; expiry is nobody's change.
#[test]
fn broadcast_mode() {
    for resp3 in [false, true] {
        broadcast_mode_in(resp3);
    }
}

fn broadcast_mode_in(resp3: bool) {
    let mut a = Diff::new();
    let mut b = a.another();
    let mut rx = Receiver::new(&mut a, resp3);
    rx.track(&mut a, &["BCAST", "PREFIX", "b", "PREFIX", "a"]);
    all(
        &mut b,
        &["MSET", "b2", "1", "a1", "2", "a2", "3", "c", "4", "b1", "5"],
    );
    rx.drain(&mut a, "a-array then b-array");
    pipeline(
        &mut b,
        &[
            &["SET", "a1", "x"],
            &["SET", "b1", "y"],
            &["SET", "a1", "z"],
            &["DEL", "a0", "zz"],
            &["INCR", "c"],
        ],
    );
    rx.drain(&mut a, "coalesced");
    // Own writes: all replies of the pipeline first, then the arrays.
    pipeline(
        &mut a,
        &[
            &["SET", "a1", "x"],
            &["SET", "b1", "y"],
            &["GET", "a1"],
            &["SET", "c", "1"],
        ],
    );
    rx.drain(&mut a, "own writes");
    info_tracking(&mut a);
    // More prefixes; NOLOOP.
    rx.track(&mut a, &["BCAST", "NOLOOP", "PREFIX", "c"]);
    script(&mut a, "SET a1 q\nSET c1 q\nMSET a1 1 a2 2");
    all(&mut b, &["SET", "c2", "q"]);
    rx.drain(&mut a, "c2 only");
    info_tracking(&mut a);
    // Flushes send the null in BCAST mode too.
    all(&mut a, &["FLUSHALL"]);
    all(&mut b, &["FLUSHALL"]);
    rx.drain(&mut a, "null");
    // Expiry is reported even to NOLOOP (the server made the change); the write that set the
    // TTL is another client's, so it is reported as well.
    all(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    all(&mut b, &["SET", "a9", "1", "PX", "50"]);
    rx.drain(&mut a, "a9 from the SET");
    thread::sleep(Duration::from_millis(150));
    all(&mut a, &["GET", "a9"]);
    rx.drain(&mut a, "a9 expired");
    all(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    // Off: nothing more, and the prefixes are gone.
    all(&mut a, &["CLIENT", "TRACKING", "off"]);
    all(&mut b, &["SET", "a1", "1"]);
    rx.drain(&mut a, "nothing after off");
    info_tracking(&mut a);
}

/// BCAST in RESP2 through a subscribed redirect target, and a client that switches from
/// default mode to BCAST no longer gets invalidations for what it read before.
#[test]
fn broadcast_redirected_and_mode_switch() {
    let mut a = Diff::new();
    let mut b = a.another();
    let mut sub = a.another();
    let sid = ids(&mut sub);
    all(&mut sub, &["SUBSCRIBE", "__redis__:invalidate"]);
    all_with_id(
        &mut a,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "u:", "REDIRECT", "{id}",
        ],
        &sid,
    );
    all(&mut b, &["MSET", "u:1", "1", "u:2", "2", "v:1", "3"]);
    drain(&mut sub, "one message with both keys");
    drain(&mut a, "nothing on the tracking connection");
    // Default mode, read, then BCAST: the old read is not reported.
    let mut c = a.another();
    hello3(&mut c);
    all(&mut c, &["CLIENT", "TRACKING", "on"]);
    all(&mut c, &["GET", "w:1"]);
    all(&mut c, &["CLIENT", "TRACKING", "off"]);
    all(
        &mut c,
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x:"],
    );
    all(&mut b, &["SET", "w:1", "1"]);
    drain(&mut c, "nothing for the key read in default mode");
    all(&mut b, &["SET", "x:1", "1"]);
    drain(&mut c, "x:1");
    info_tracking(&mut c);
}

// ---------------------------------------------------------------------------------------------
// Expiry, eviction, the table limit, CLIENT REPLY, disconnection

/// Keys deleted by expiry are invalidated: a lazily expired key read by its own tracking
/// client is pushed after that read's reply (and not at all with NOLOOP); one removed by the
/// active cycle is pushed at once.
#[test]
fn expiry_invalidates() {
    let mut a = Diff::new();
    hello3(&mut a);
    all(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for opts in [
        &["CLIENT", "TRACKING", "on", "NOLOOP"][..],
        &["CLIENT", "TRACKING", "on"],
    ] {
        all(&mut a, opts);
        all(&mut a, &["MULTI"]);
        all(&mut a, &["SET", "e", "v", "PX", "100"]);
        all(&mut a, &["GET", "e"]);
        all(&mut a, &["EXEC"]);
        thread::sleep(Duration::from_millis(200));
        all(&mut a, &["GET", "e"]);
        all(&mut a, &["GET", "e"]);
    }
    // The active cycle: the push comes by itself (read one frame per command here: the
    // key may expire while a side is being drained).
    all(&mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "e2", "v", "PX", "100"]);
    a.cmd(&["GET", "e2"]);
    a.cmd(&["EXEC"]);
    let f = drain_one(&mut a.ferrodis, Some(Duration::from_secs(5)));
    let r = drain_one(&mut a.redis, Some(Duration::from_secs(5)));
    same_frames("active expiry push", &f, &r);
    assert_eq!(f.len(), 1);
}

/// maxmemory eviction invalidates the evicted keys; the push reaches the tracking client
/// before the reply of its next command.
#[test]
fn eviction_invalidates() {
    let mut a = Diff::new();
    hello3(&mut a);
    all(&mut a, &["CLIENT", "TRACKING", "on"]);
    all(&mut a, &["SET", "victim", "v"]);
    all(&mut a, &["GET", "victim"]);
    all(
        &mut a,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    all(&mut a, &["CONFIG", "SET", "maxmemory", "1"]);
    all(&mut a, &["PING"]);
    all(&mut a, &["CONFIG", "SET", "maxmemory", "0"]);
    all(&mut a, &["DBSIZE"]);
    // The eviction made while the client's own next command is admitted (same read, so no
    // loop iteration in between): the push still precedes that command's reply.
    script(&mut a, "SET victim v\nGET victim");
    pipeline(
        &mut a,
        &[
            &["CONFIG", "SET", "maxmemory", "1"],
            &["PING"],
            &["CONFIG", "SET", "maxmemory", "0"],
            &["DBSIZE"],
        ],
    );
}

/// tracking-table-max-keys: past the limit, random tracked keys are invalidated (as if they
/// changed) until the table fits, when the next command is admitted. Which key goes is random
/// on both sides, so the frames are compared by shape and the survivor is checked to be the
/// one still tracked.
#[test]
fn table_limit_evicts_random_keys() {
    let mut a = Diff::new();
    let mut b = a.another();
    hello3(&mut a);
    all(&mut a, &["CLIENT", "TRACKING", "on"]);
    all(&mut a, &["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    // Two keys tracked, then PING is admitted: one is invalidated, before PONG.
    let cmds: &[&[&str]] = &[&["GET", "m1"], &["GET", "m2"], &["PING"]];
    let mut bytes = Vec::new();
    for c in cmds {
        bytes.extend_from_slice(&encode_command(c));
    }
    let mut evicted = Vec::new();
    for conn in [&mut a.ferrodis, &mut a.redis] {
        conn.send(&bytes);
        let frames = drain_one(conn, Some(reply_timeout()));
        assert_eq!(
            frames.len(),
            4,
            "{:?}",
            frames.iter().map(|f| escape(f)).collect::<Vec<_>>()
        );
        assert_eq!(frames[0], b"_\r\n");
        assert_eq!(frames[1], b"_\r\n");
        assert_eq!(frames[3], b"+PONG\r\n");
        let push = String::from_utf8_lossy(&frames[2]).into_owned();
        let key = if push == ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nm1\r\n" {
            "m1"
        } else {
            assert_eq!(push, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nm2\r\n");
            "m2"
        };
        evicted.push(key);
    }
    info_tracking(&mut a);
    // The survivor is still tracked: writing it pushes; writing the evicted one does not.
    for (i, conn) in [&mut b.ferrodis, &mut b.redis].into_iter().enumerate() {
        let gone = evicted[i];
        let kept = if gone == "m1" { "m2" } else { "m1" };
        conn.cmd(&["SET", gone, "1"]);
        conn.cmd(&["SET", kept, "1"]);
        let pushes = if i == 0 {
            drain_one(&mut a.ferrodis, None)
        } else {
            drain_one(&mut a.redis, None)
        };
        let want = format!(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\n{kept}\r\n");
        assert_eq!(pushes, vec![want.into_bytes()]);
    }
    info_tracking(&mut a);
    // A lower limit set while idle is applied by the cron as well.
    script(
        &mut a,
        "CONFIG SET tracking-table-max-keys 0\nGET n1\nGET n2\nGET n3",
    );
    info_tracking(&mut a);
    a.send(&["CONFIG", "SET", "tracking-table-max-keys", "2"]);
    for conn in [&mut a.ferrodis, &mut a.redis] {
        let frames = drain_one(conn, Some(reply_timeout()));
        let mut frames = frames.into_iter();
        assert_eq!(frames.next().unwrap(), b"+OK\r\n");
        // The cron may already have run; if not, wait for it (hz 10).
        let push = frames
            .next()
            .or_else(|| conn.try_read_reply(Duration::from_secs(3)))
            .expect("the cron evicts a key");
        let push = String::from_utf8_lossy(&push).into_owned();
        assert!(
            ["n1", "n2", "n3"]
                .iter()
                .any(|k| push == format!(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\n{k}\r\n")),
            "{push:?}"
        );
        assert!(frames.next().is_none());
    }
    info_tracking(&mut a);
}

/// Invalidations are pushes, not replies: CLIENT REPLY OFF / SKIP do not discard them.
#[test]
fn pushes_ignore_client_reply() {
    let mut a = Diff::new();
    let mut b = a.another();
    hello3(&mut a);
    script(&mut a, "CLIENT TRACKING on\nGET k");
    a.send(&["CLIENT", "REPLY", "OFF"]);
    drain(&mut a, "nothing");
    all(&mut b, &["SET", "k", "1"]);
    drain(&mut a, "push under REPLY OFF");
    a.send(&["GET", "k"]);
    drain(&mut a, "nothing");
    script(&mut a, "SET k 2\nCLIENT REPLY ON\nGET k\nFLUSHALL\nGET k");
    a.send(&["CLIENT", "REPLY", "SKIP"]);
    script(&mut a, "SET k 3\nPING");
}

/// A tracking client that disconnects or RESETs leaves INFO tracking_clients; its ids stay
/// in the table until their keys are invalidated (Redis's lazy cleanup).
#[test]
fn disconnect_and_reset() {
    let mut a = Diff::new();
    let mut b = a.another();
    let mut watcher = a.another();
    hello3(&mut a);
    script(&mut a, "CLIENT TRACKING on\nGET k1\nGET k2");
    hello3(&mut b);
    script(&mut b, "CLIENT TRACKING on BCAST PREFIX k\nGET k1");
    info_tracking(&mut watcher);
    all(&mut a, &["RESET"]);
    info_tracking(&mut watcher);
    all(&mut watcher, &["SET", "k1", "1"]);
    drain(&mut a, "nothing after RESET");
    drain(&mut b, "bcast k1");
    b.cmd(&["QUIT"]);
    assert!(b.closed());
    // The server notices the close on its next loop iteration: poll INFO on both sides.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = watcher.ferrodis.value(&["INFO", "clients"]);
        let r = watcher.redis.value(&["INFO", "clients"]);
        let done =
            |v: &Reply| String::from_utf8_lossy(v.bytes().unwrap()).contains("tracking_clients:0");
        if (done(&f) && done(&r)) || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    info_tracking(&mut watcher);
    all(&mut watcher, &["SET", "k2", "1"]);
    info_tracking(&mut watcher);
}

// ---------------------------------------------------------------------------------------------
// A real client keeping a local cache

/// A local cache through the `redis` crate in RESP3 with CLIENT TRACKING ON: the reader
/// serves repeated reads from its cache and drops keys as invalidation pushes arrive, while
/// another connection keeps writing (SET, INCR, DEL, MSET, an EXEC, a FLUSHALL). When the
/// writer is done, one round trip drains the invalidations still in flight; then every cached
/// value must equal the server's. Run against ferrodis and, to validate the test itself,
/// against the oracle.
#[test]
fn local_cache_stays_correct_under_concurrent_writer() {
    for server in [ferrodis(), oracle()] {
        local_cache_run(&server);
    }
}

fn local_cache_run(server: &common::Server) {
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", server.port());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut cache_conn = client.get_connection().unwrap();
    let (tx, rx) = mpsc::channel();
    cache_conn.set_push_sender(tx);
    let _: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .query(&mut cache_conn)
        .unwrap();
    let keys: Vec<String> = (0..40).map(|i| format!("ck:{i}")).collect();
    {
        let mut w = client.get_connection().unwrap();
        for k in &keys {
            let _: () = redis::cmd("SET").arg(k).arg(0).query(&mut w).unwrap();
        }
    }
    let writer = {
        let client = client.clone();
        let keys = keys.clone();
        thread::spawn(move || {
            let mut w = client.get_connection().unwrap();
            let mut x: u64 = 7;
            for step in 0..3000u64 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let k = &keys[(x >> 33) as usize % keys.len()];
                let op = (x >> 20) % 10;
                let r: redis::RedisResult<redis::Value> = match op {
                    0..=3 => redis::cmd("SET").arg(k).arg(step).query(&mut w),
                    4..=5 => redis::cmd("APPEND").arg(k).arg("+").query(&mut w),
                    6 => redis::cmd("DEL").arg(k).query(&mut w),
                    7 => redis::cmd("MSET")
                        .arg(k)
                        .arg(step)
                        .arg(&keys[0])
                        .arg(step)
                        .query(&mut w),
                    8 => redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(k)
                        .arg("tx")
                        .cmd("APPEND")
                        .arg(k)
                        .arg("!")
                        .query(&mut w),
                    9 if step % 50 == 0 => redis::cmd("FLUSHALL").query(&mut w),
                    _ => redis::cmd("GETDEL").arg(k).query(&mut w),
                };
                r.unwrap();
            }
        })
    };
    let mut cache: HashMap<String, Option<String>> = HashMap::new();
    let mut invalidations = 0usize;
    let mut hits = 0usize;
    let apply = |rx: &mpsc::Receiver<redis::PushInfo>,
                 cache: &mut HashMap<String, Option<String>>,
                 n: &mut usize| {
        while let Ok(p) = rx.try_recv() {
            if p.kind != redis::PushKind::Invalidate {
                continue;
            }
            *n += 1;
            match p.data.first() {
                Some(redis::Value::Array(ks)) => {
                    for k in ks {
                        if let redis::Value::BulkString(b) = k {
                            cache.remove(&String::from_utf8_lossy(b).into_owned());
                        }
                    }
                }
                // A null: everything.
                _ => cache.clear(),
            }
        }
    };
    let mut i = 0usize;
    while !writer.is_finished() || i < 2000 {
        let k = &keys[(i * 7919) % keys.len()];
        i += 1;
        apply(&rx, &mut cache, &mut invalidations);
        if cache.contains_key(k) {
            hits += 1;
            continue;
        }
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut cache_conn).unwrap();
        // Pushes read while waiting for this reply may concern this very key: apply them
        // after storing, so an invalidation that raced the read wins.
        cache.insert(k.clone(), v);
        apply(&rx, &mut cache, &mut invalidations);
        if i > 200_000 {
            break;
        }
    }
    writer.join().unwrap();
    // Everything the writer caused was sent before its last reply; one round trip on the
    // cache connection reads it all.
    let _: String = redis::cmd("PING").query(&mut cache_conn).unwrap();
    apply(&rx, &mut cache, &mut invalidations);
    let mut check = client.get_connection().unwrap();
    for (k, cached) in &cache {
        let now: Option<String> = redis::cmd("GET").arg(k).query(&mut check).unwrap();
        assert_eq!(&now, cached, "stale cached value for {k}");
    }
    assert!(invalidations > 0, "the writer caused no invalidation");
    assert!(hits > 0, "the cache served nothing");
}
