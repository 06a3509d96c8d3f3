//! Boundary values in every numeric argument of every command, ferrodis against the oracle.
//!
//! The sweep walks the command table as ferrodis itself describes it (`COMMAND DOCS`: every
//! command it implements with its argument tree; a container lists all its subcommands, so
//! one that COMMAND INFO does not know is reported as not executed and skipped). For every
//! argument typed integer, double or unix-time it builds one call in which that argument is
//! present (the optional blocks and `oneof` branches on the way to it are chosen, every other
//! optional argument is left out) and the other arguments hold sensible values: keys of the
//! command's type that exist, members that exist, small valid numbers. The hole is then
//! filled with each value of [`VALUES`] (plus infinities and NaN for doubles), the call goes
//! to both servers, and the raw replies must be identical. Before each call the keyspace is
//! rebuilt ([`SETUP`]), so every call sees the same data and reaches the code that uses the
//! number; after it both servers must still answer PING and ferrodis's resident size must stay
//! under [`RSS_LIMIT_KB`]: a number that makes the server allocate in proportion to itself
//! fails here even when the reply would have been right. The test process caps its address
//! space (and so the servers'), so such a server fails alone instead of starving the host.
//!
//! The table cannot say everything: arguments typed `string` that are numbers (ZRANGE's
//! start/stop, BITFIELD's `i64`/`#3`, LOLWUT's extra numbers, CONFIG SET values, DEBUG's
//! subcommands, which have no argument tree) and options that only matter together (LIMIT
//! needs BYSCORE, MINMATCHLEN needs IDX) are added by hand in [`extra_cases`]; a command whose
//! generated calls cannot be right replaces them there ([`REPLACED`]). Some replies cannot be
//! compared byte for byte (random members, SCAN cursors, memory sizes, client ids): those are
//! compared by [`Cmp::Shape`] or [`Cmp::Count`], errors always exactly.
//!
//! Left out, and why:
//! - commands ferrodis does not implement yet (replication, cluster, scripting, functions,
//!   ACL, modules, streams, geo, HyperLogLog): COMMAND DOCS does not list them, and the few
//!   that would harm a run oracle against oracle are in [`NEVER`];
//! - SHUTDOWN, MONITOR, SUBSCRIBE-style commands, SYNC: they have no numeric argument, and
//!   would end or change the connection;
//! - values with which Redis itself would sleep, populate or draw until memory runs out, or
//!   stop serving: DEBUG SLEEP beyond 0, DEBUG POPULATE of billions of keys or of a huge value
//!   size, *RANDMEMBER counts of minus billions ([`HUGE_NEGATIVE_COUNTS`]; the output-limit
//!   tests below cover that path), CONFIG SET maxclients, CLIENT PAUSE ALL (CLIENT PAUSE runs
//!   in WRITE mode and is lifted after every call);
//! - WAIT with replicas asked for and a long timeout: the numreplicas hole runs with a 1 ms
//!   timeout and the timeout hole asks for no replica.
//!
//! Blocking commands (BLPOP, BZMPOP, ...) are included: their keys hold data, so they answer at
//! once whatever the timeout, after checking it; [`huge_valid_timeouts_block_until_served`]
//! blocks them on empty keys with the largest timeouts.
//!
//! The sweep runs twice: with the compact encodings (listpack, intset) and with every
//! container converted to its big encoding (hashtable, skiplist, quicklist of one-entry nodes).
//! `FERRODIS_BIN=redis-server` runs it oracle against oracle (it passes: the comparisons are
//! sound); the two tests of ferrodis's own limits then fail, as Redis has none.

mod common;

use common::*;
use std::time::Instant;

/// Ferrodis's resident size must stay below this after every call (the data is a few keys).
const RSS_LIMIT_KB: u64 = 500 * 1024;

/// The values every numeric hole takes, by name (the name shows in failures).
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "-9223372036854775808",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "-0",
    "1e3",
    "",
    "+1",
    "1.5",
    "4294967296",
    "2147483648",
    "-2147483649",
    // The largest second counts whose milliseconds fit in 64 bits (expiry and timeout sums).
    "9223372036854775",
    "-9223372036854775",
    " 1",
    HUGE,
];

/// Extra values for a hole typed double.
const DOUBLE_VALUES: &[&str] = &["inf", "-inf", "nan", "1e309"];

/// The name of the 100 KB digit string, replaced by the digits when sent.
const HUGE: &str = "<100KB digits>";

/// The keyspace every call sees: one key per type, each with three elements.
const SETUP: &[&[&str]] = &[
    &["SET", "s", "1234567890"],
    &["RPUSH", "l", "3", "1", "2"],
    &["SADD", "st", "1", "2", "3"],
    &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    &["HSET", "h", "f1", "1", "f2", "2", "f3", "3"],
];

/// Limits that put every container in its big encoding, for the second sweep.
const BIG_ENCODINGS: &[(&str, &str)] = &[
    ("zset-max-listpack-entries", "0"),
    ("hash-max-listpack-entries", "0"),
    ("set-max-intset-entries", "0"),
    ("list-max-listpack-size", "1"),
];

/// Commands whose generated calls are replaced by the hand-written ones in [`extra_cases`]:
/// ZRANGE and ZRANGESTORE take LIMIT only with BYSCORE/BYLEX; CLIENT PAUSE without WRITE would
/// stop both servers; WAIT must not block; RESTORE needs a payload; LCS's MINMATCHLEN needs IDX.
const REPLACED: &[&str] = &[
    "zrange",
    "zrangestore",
    "client|pause",
    "wait",
    "restore",
    "restore-asking",
    "lcs",
];

/// Never sent, whoever plays the ferrodis side (ferrodis implements none of them yet; with
/// `FERRODIS_BIN=redis-server` the sweep runs oracle against oracle, which shows the test is
/// sound, and these must not run there either): REPLICAOF and the like would make the server
/// connect out or hand over, SYNC and MONITOR take over the connection, XREAD and XREADGROUP
/// BLOCK wait on empty streams, and a failover or shutdown ends the run.
const NEVER: &[&str] = &[
    "replicaof",
    "slaveof",
    "failover",
    "migrate",
    "sync",
    "psync",
    "replconf",
    "shutdown",
    "monitor",
    "xread",
    "xreadgroup",
    "cluster|failover",
    "cluster|setslot",
    "module|load",
    "module|loadex",
];

/// How two replies are compared. Errors are always compared byte for byte.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    /// Byte for byte.
    Exact,
    /// Same reply type (first byte) when neither is an error.
    Shape,
    /// Same reply type and same element count (random members).
    Count,
}

/// One call with a hole for the boundary value.
#[derive(Clone, Debug)]
struct Case {
    /// The arguments; `argv[hole]` is replaced by each value.
    argv: Vec<Vec<u8>>,
    hole: usize,
    /// Also try infinities and NaN.
    double: bool,
    cmp: Cmp,
    /// Values not to send (they would make Redis itself sleep, die or stop).
    skip: &'static [&'static str],
    /// When not empty, the only values to send.
    only: &'static [&'static str],
    /// Commands that undo what the call may have changed on the connection or the server.
    after: Vec<Vec<Vec<u8>>>,
}

fn words(s: &str) -> Vec<Vec<u8>> {
    s.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

impl Case {
    /// A hand-written case: `spec` is space-separated words, one of them `{}` (the hole);
    /// `{}` inside a word (`i{}`, `#{}`) makes that word the hole with the value spliced in.
    fn new(spec: &str, cmp: Cmp) -> Case {
        let argv = words(spec);
        let hole = argv
            .iter()
            .position(|w| w.windows(2).any(|p| p == b"{}"))
            .unwrap_or_else(|| panic!("no hole in {spec}"));
        Case {
            argv,
            hole,
            double: false,
            cmp,
            skip: &[],
            only: &[],
            after: Vec::new(),
        }
    }

    fn only(mut self, values: &'static [&'static str]) -> Case {
        self.only = values;
        self
    }

    /// Replaces the word `name` by `bytes` (a binary argument such as a DUMP payload).
    fn with(mut self, name: &str, bytes: &[u8]) -> Case {
        for w in &mut self.argv {
            if w == name.as_bytes() {
                *w = bytes.to_vec();
            }
        }
        self
    }

    /// Whether `value` is sent in this case.
    fn sends(&self, value: &str) -> bool {
        !self.skip.contains(&value) && (self.only.is_empty() || self.only.contains(&value))
    }

    fn double(mut self) -> Case {
        self.double = true;
        self
    }

    fn skip(mut self, values: &'static [&'static str]) -> Case {
        self.skip = values;
        self
    }

    fn after(mut self, cmd: &str) -> Case {
        self.after.push(words(cmd));
        self
    }

    /// The call with `value` in the hole.
    fn fill(&self, value: &[u8]) -> Vec<Vec<u8>> {
        let mut argv = self.argv.clone();
        let w = &self.argv[self.hole];
        argv[self.hole] = match w.windows(2).position(|p| p == b"{}") {
            Some(i) => [&w[..i], value, &w[i + 2..]].concat(),
            None => value.to_vec(),
        };
        argv
    }
}

// ---------------------------------------------------------------------------------------------
// The argument trees of COMMAND DOCS
// ---------------------------------------------------------------------------------------------

/// One node of a command's argument tree.
#[derive(Debug)]
struct Arg {
    name: String,
    kind: String,
    token: Option<String>,
    optional: bool,
    children: Vec<Arg>,
}

/// A RESP2 map (flat array of key, value) as pairs.
fn pairs(r: &Reply) -> Vec<(String, &Reply)> {
    let items = r.items().unwrap_or(&[]);
    items
        .chunks(2)
        .map(|kv| (kv[0].text().unwrap_or_default(), &kv[1]))
        .collect()
}

fn field<'a>(r: &'a Reply, name: &str) -> Option<&'a Reply> {
    pairs(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn parse_args(r: &Reply) -> Vec<Arg> {
    r.items()
        .unwrap_or(&[])
        .iter()
        .map(|a| Arg {
            name: field(a, "name").and_then(Reply::text).unwrap_or_default(),
            kind: field(a, "type").and_then(Reply::text).unwrap_or_default(),
            token: field(a, "token").and_then(Reply::text),
            optional: field(a, "flags")
                .and_then(Reply::items)
                .is_some_and(|f| f.iter().any(|x| x.text().as_deref() == Some("optional"))),
            children: field(a, "arguments").map(parse_args).unwrap_or_default(),
        })
        .collect()
}

fn is_numeric(a: &Arg) -> bool {
    matches!(a.kind.as_str(), "integer" | "double" | "unix-time")
}

/// Every numeric node, as paths of child indexes from the top list.
fn numeric_paths(args: &[Arg], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, a) in args.iter().enumerate() {
        prefix.push(i);
        if is_numeric(a) {
            out.push(prefix.clone());
        }
        numeric_paths(&a.children, prefix, out);
        prefix.pop();
    }
}

/// What the fillers need to know of the command.
struct Cx {
    group: String,
}

/// What a command's keys hold, by its group: the key [`SETUP`] made of that type.
fn key_for(group: &str) -> &'static str {
    match group {
        "string" | "bitmap" => "s",
        "set" => "st",
        "sorted-set" => "z",
        "hash" => "h",
        _ => "l",
    }
}

/// A sensible value for a non-hole argument.
fn filler(a: &Arg, cx: &Cx) -> String {
    let group = cx.group.as_str();
    let v = match (a.kind.as_str(), a.name.as_str()) {
        ("key", _) => key_for(group),
        (_, "element" | "pivot") => "1",
        (_, "member") if group == "set" => "1",
        (_, "member") => "a",
        (_, "field") => "f1",
        (_, "encoding") => "i8",
        (_, "pattern") => "*",
        ("string", "min") => "-",
        ("string", "max") => "+",
        ("double", "min") => "-inf",
        ("double", "max") => "+inf",
        // Only blocking commands have a double timeout; their keys hold data, so it never waits.
        ("double", "timeout") => "0.01",
        (_, "numkeys") => "1",
        (_, "count") => "2",
        (_, "stop" | "end") => "-1",
        (_, "start" | "offset" | "index" | "index1" | "cursor" | "limit" | "numreplicas") => "0",
        (_, "db" | "destination-db" | "index2") => "1",
        (_, "client-id") => "999999",
        (_, "protover") => "2",
        (_, "seconds") => "100",
        (_, "milliseconds") => "100000",
        (_, "unix-time-seconds") => "4102444800",
        (_, "unix-time-milliseconds") => "4102444800000",
        ("integer" | "double", _) => "1",
        _ => "x",
    };
    v.to_string()
}

/// Appends the words of the arguments in `args` that are present, with the hole at `path` (child
/// indexes into `args`, None when the hole is elsewhere): optional arguments off the path are
/// left out. Returns the hole's position in `out`.
fn emit_list(
    args: &[Arg],
    path: Option<&[usize]>,
    cx: &Cx,
    out: &mut Vec<String>,
) -> Option<usize> {
    let mut hole = None;
    for (i, a) in args.iter().enumerate() {
        let sub = path.filter(|p| p.first() == Some(&i)).map(|p| &p[1..]);
        if a.optional && sub.is_none() {
            continue;
        }
        hole = emit(a, sub, cx, out).or(hole);
    }
    hole
}

/// Appends the words of one present argument: its token, then its value, its block's
/// arguments or one branch of its `oneof` (the branch on the path, else the first).
fn emit(a: &Arg, path: Option<&[usize]>, cx: &Cx, out: &mut Vec<String>) -> Option<usize> {
    if let Some(t) = &a.token {
        out.push(t.clone());
    }
    match a.kind.as_str() {
        "pure-token" => None,
        "block" => emit_list(&a.children, path, cx, out),
        "oneof" => {
            let j = path.and_then(|p| p.first().copied()).unwrap_or(0);
            emit(&a.children[j], path.map(|p| &p[1..]), cx, out)
        }
        _ if path == Some(&[][..]) => {
            out.push("{}".to_string());
            Some(out.len() - 1)
        }
        _ => {
            out.push(filler(a, cx));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

/// One case per numeric argument of every command and subcommand in ferrodis's COMMAND DOCS.
/// Returns the cases, the names of the commands they cover, and the names of those with a
/// numeric argument that COMMAND DOCS shows but ferrodis does not execute (a container's docs
/// list all its subcommands; COMMAND INFO answers null for one without a handler).
fn table_cases(d: &mut Diff) -> (Vec<Case>, Vec<String>, Vec<String>) {
    let docs = d.ferrodis.value(&["COMMAND", "DOCS"]);
    let mut cmds: Vec<(String, &Reply)> = Vec::new();
    for (name, doc) in pairs(&docs) {
        match field(doc, "subcommands") {
            Some(subs) => cmds.extend(pairs(subs)),
            None => cmds.push((name, doc)),
        }
    }
    cmds.sort_by(|a, b| a.0.cmp(&b.0));
    let mut cases: Vec<Case> = Vec::new();
    let mut covered = Vec::new();
    let mut missing = Vec::new();
    for (name, doc) in cmds {
        if NEVER.contains(&name.as_str()) {
            continue;
        }
        if REPLACED.contains(&name.as_str()) {
            covered.push(name);
            continue;
        }
        let args = field(doc, "arguments").map(parse_args).unwrap_or_default();
        let cx = Cx {
            group: field(doc, "group")
                .and_then(Reply::text)
                .unwrap_or_default(),
        };
        let mut paths = Vec::new();
        numeric_paths(&args, &mut Vec::new(), &mut paths);
        if paths.is_empty() {
            continue;
        }
        let info = d.ferrodis.value(&["COMMAND", "INFO", &name]);
        if info.items().and_then(|i| i.first()) == Some(&Reply::Nil) {
            missing.push(name);
            continue;
        }
        covered.push(name.clone());
        for path in paths {
            let mut out: Vec<String> = name.split('|').map(str::to_uppercase).collect();
            let hole = emit_list(&args, Some(&path), &cx, &mut out).expect("the hole is emitted");
            let node = path[1..]
                .iter()
                .fold(&args[path[0]], |a, &i| &a.children[i]);
            let cmp = match name.as_str() {
                "scan" | "sscan" | "hscan" | "zscan" => Cmp::Shape, // cursors follow hash seeds
                "memory|usage" | "slowlog|get" | "client|list" | "hello" | "lolwut" => Cmp::Shape,
                "spop" | "srandmember" | "hrandfield" | "zrandmember" => Cmp::Count,
                "acl|genpass" => Cmp::Count, // random, and not in ferrodis yet
                _ => Cmp::Exact,
            };
            let mut case = Case {
                argv: out.iter().map(|w| w.as_bytes().to_vec()).collect(),
                hole,
                double: node.kind == "double",
                cmp,
                skip: &[],
                only: &[],
                after: Vec::new(),
            };
            case = match name.as_str() {
                "srandmember" | "hrandfield" | "zrandmember" => case.skip(HUGE_NEGATIVE_COUNTS),
                "select" => case.after("SELECT 0"),
                "hello" => case.after("HELLO 2"),
                "client|tracking" => case.after("CLIENT TRACKING OFF"),
                _ => case,
            };
            if !cases
                .iter()
                .any(|c| c.argv == case.argv && c.hole == case.hole)
            {
                cases.push(case);
            }
        }
    }
    (cases, covered, missing)
}

/// Negative counts a *RANDMEMBER command takes as "this many draws": Redis itself would
/// build a reply of billions of elements (the output-limit tests cover that path).
const HUGE_NEGATIVE_COUNTS: &[&str] = &["-2147483649", "-9223372036854775"];

/// Values that would make Redis itself work for hours or allocate without end.
const HUGE_COUNTS: &[&str] = &[
    "9223372036854775807",
    "4294967296",
    "2147483648",
    "9223372036854775",
    "9223372036854775808",
    "18446744073709551616",
    HUGE,
];

/// Numeric configuration parameters set with each value (and put back after).
const CONFIG_NUMBERS: &[&str] = &[
    "hz",
    "maxmemory-samples",
    "maxmemory-eviction-tenacity",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "list-max-listpack-size",
    "list-compress-depth",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "timeout",
    "tcp-keepalive",
    "active-expire-effort",
    "lfu-log-factor",
    "lfu-decay-time",
    "maxmemory",
    "maxmemory-clients",
    "min-replicas-to-write",
    "repl-backlog-size",
    "tracking-table-max-keys",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    // Not maxclients: Redis then walks its file limit down one setrlimit at a time and stops
    // answering for minutes.
    "databases",
];

/// The hand-written cases: numbers the argument trees do not show, options that only work
/// together, and the commands in [`REPLACED`].
fn extra_cases(d: &mut Diff, payload: &[u8]) -> Vec<Case> {
    use Cmp::*;
    let mut v = vec![
        // ZRANGE's start/stop are typed string (they are scores or lex bounds with BY*).
        Case::new("ZRANGE z {} -1", Exact),
        Case::new("ZRANGE z 0 {}", Exact),
        Case::new("ZRANGE z {} -1 REV", Exact),
        Case::new("ZRANGE z 0 {} WITHSCORES", Exact),
        Case::new("ZRANGE z {} +inf BYSCORE", Exact).double(),
        Case::new("ZRANGE z -inf {} BYSCORE", Exact).double(),
        Case::new("ZRANGE z -inf +inf BYSCORE LIMIT {} 2", Exact),
        Case::new("ZRANGE z -inf +inf BYSCORE LIMIT 0 {}", Exact),
        Case::new("ZRANGE z +inf -inf BYSCORE REV LIMIT 0 {}", Exact),
        Case::new("ZRANGE z - + BYLEX LIMIT {} 2", Exact),
        Case::new("ZRANGE z - + BYLEX LIMIT 0 {}", Exact),
        Case::new("ZRANGESTORE d z {} -1", Exact),
        Case::new("ZRANGESTORE d z 0 {}", Exact),
        Case::new("ZRANGESTORE d z -inf +inf BYSCORE LIMIT {} 2", Exact),
        Case::new("ZRANGESTORE d z -inf +inf BYSCORE LIMIT 0 {}", Exact),
        Case::new("ZRANGESTORE d z - + BYLEX LIMIT 0 {}", Exact),
        Case::new("ZADD z INCR {} a", Exact).double(),
        // The count checks of the WITH* forms are stricter.
        Case::new("ZRANDMEMBER z {} WITHSCORES", Count).skip(HUGE_NEGATIVE_COUNTS),
        Case::new("HRANDFIELD h {} WITHVALUES", Count).skip(HUGE_NEGATIVE_COUNTS),
        // SORT BY nosort over a sorted set takes the range from the set directly.
        Case::new("SORT z BY nosort LIMIT {} 2", Exact),
        Case::new("SORT z BY nosort LIMIT 0 {}", Exact),
        Case::new("SORT z BY nosort DESC LIMIT {} 1", Exact),
        Case::new("SORT st LIMIT 0 {}", Exact),
        Case::new("SORT l LIMIT {} 1 ALPHA DESC", Exact),
        // MINMATCHLEN matters only with IDX.
        Case::new("LCS s s IDX MINMATCHLEN {}", Exact),
        Case::new("LCS s s IDX MINMATCHLEN {} WITHMATCHLEN", Exact),
        // BITFIELD's types and offsets are numbers inside words.
        Case::new("BITFIELD s GET i{} 0", Exact),
        Case::new("BITFIELD s GET u{} 0", Exact),
        Case::new("BITFIELD s GET i8 #{}", Exact),
        Case::new("BITFIELD s SET i8 #{} 1", Exact),
        Case::new("BITFIELD s SET u{} 0 1", Exact),
        Case::new("BITFIELD s INCRBY i64 0 {}", Exact),
        Case::new("BITFIELD s OVERFLOW FAIL INCRBY i8 0 {}", Exact),
        Case::new("BITFIELD s OVERFLOW SAT INCRBY u63 0 {}", Exact),
        Case::new("BITFIELD s OVERFLOW WRAP INCRBY i64 0 {}", Exact),
        Case::new("BITFIELD_RO s GET i{} 0", Exact),
        Case::new("BITFIELD_RO s GET u8 #{}", Exact),
        Case::new("BITCOUNT s 0 {} BIT", Exact),
        Case::new("BITCOUNT s {} -1 BYTE", Exact),
        Case::new("BITPOS s 1 0 {} BIT", Exact),
        Case::new("BITPOS s 0 {} -1 BIT", Exact),
        Case::new("SETRANGE s {} ", Exact),
        Case::new("SETBIT s {} 0", Exact),
        // CLIENT PAUSE ALL would stop both servers; WRITE lets PING through, and it is lifted.
        Case::new("CLIENT PAUSE {} WRITE", Exact).after("CLIENT UNPAUSE"),
        // WAIT with no replica asked for answers at once; asking for some waits 1 ms.
        Case::new("WAIT 0 {}", Exact),
        Case::new("WAIT {} 1", Exact),
        // LOLWUT's drawings take columns and sizes the table does not show; Redis clamps them.
        Case::new("LOLWUT VERSION {}", Shape),
        Case::new("LOLWUT VERSION 5 {}", Shape),
        Case::new("LOLWUT VERSION 5 10 {}", Shape),
        Case::new("LOLWUT VERSION 5 10 5 {}", Shape),
        Case::new("LOLWUT VERSION 6 {}", Shape),
        Case::new("LOLWUT VERSION 6 10 {}", Shape),
        // DEBUG has no argument tree. Redis would sleep for the big values, populate until
        // memory runs out for a huge count, and abort on a huge value size.
        Case::new("DEBUG SLEEP {}", Exact).only(&[
            "0",
            "-1",
            "-9223372036854775808",
            "-9223372036854775809",
            "-0",
            "",
        ]),
        Case::new("DEBUG SET-ACTIVE-EXPIRE {}", Exact).after("DEBUG SET-ACTIVE-EXPIRE 1"),
        Case::new("DEBUG POPULATE {}", Exact).skip(HUGE_COUNTS),
        Case::new("DEBUG POPULATE {} p 10", Exact).skip(HUGE_COUNTS),
        Case::new("DEBUG POPULATE 2 p {}", Exact).skip(HUGE_COUNTS),
        Case::new("DEBUG POPULATE 0 p {}", Exact),
        Case::new("DEBUG HTSTATS {}", Shape),
        Case::new("EXPIRE l {} GT", Exact),
        Case::new("PEXPIREAT l {} NX", Exact),
        Case::new("SET s v PX {} GET", Exact),
        Case::new("SET s v EXAT {} NX", Exact),
        Case::new("GETEX s PXAT {}", Exact),
        Case::new("SCAN 0 COUNT {} TYPE list", Shape),
        Case::new("CLIENT KILL ID {} SKIPME no", Exact),
        Case::new("ZINTERSTORE d 2 z z WEIGHTS 1 {}", Exact).double(),
        Case::new("ZUNION 2 z z WEIGHTS {} 1 WITHSCORES", Exact).double(),
        Case::new("LPOS l 1 RANK {} COUNT 0 MAXLEN 0", Exact),
        Case::new("LPOS l 1 RANK -1 COUNT {}", Exact),
        Case::new("LINSERT l BEFORE {} x", Exact),
        Case::new("SINTERCARD 2 st st LIMIT {}", Exact),
        Case::new("ZINTERCARD 2 z z LIMIT {}", Exact),
        Case::new("SMISMEMBER st {}", Exact),
        Case::new("SISMEMBER st {}", Exact),
        Case::new("ZSCORE z {}", Exact),
    ];
    // RESTORE needs a payload; both servers get the oracle's DUMP of the list.
    for cmd in ["RESTORE", "RESTORE-ASKING"] {
        for spec in [
            "r {} PAYLOAD",
            "r {} PAYLOAD ABSTTL",
            "r 0 PAYLOAD IDLETIME {}",
            "r 0 PAYLOAD FREQ {}",
            "l {} PAYLOAD REPLACE",
        ] {
            v.push(Case::new(&format!("{cmd} {spec}"), Exact).with("PAYLOAD", payload));
        }
    }
    // CONFIG SET of numeric parameters, each put back as it was.
    for p in CONFIG_NUMBERS {
        let old = d.redis.value(&["CONFIG", "GET", p]);
        let old = old.items().and_then(|i| i.get(1)).and_then(Reply::text);
        let old = old.unwrap_or_else(|| panic!("CONFIG GET {p}"));
        let old = if old.is_empty() {
            "\"\"".to_string()
        } else {
            old
        };
        let mut c = Case::new(&format!("CONFIG SET {p} {{}}"), Exact);
        c.after.push(vec![
            b"CONFIG".to_vec(),
            b"SET".to_vec(),
            p.as_bytes().to_vec(),
            old.into_bytes(),
        ]);
        v.push(c);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/// Rebuilds the keyspace on both servers.
fn reset(d: &mut Diff) {
    let mut cmds: Vec<&[&str]> = vec![&["FLUSHALL"]];
    cmds.extend_from_slice(SETUP);
    for conn in [&mut d.ferrodis, &mut d.redis] {
        for r in conn.pipeline(&cmds) {
            assert!(!r.starts_with(b"-"), "setup failed: {}", escape(&r));
        }
    }
}

/// The resident set size of a process, in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Compares two replies as `cmp` says; returns why they differ.
fn compare(cmp: Cmp, f: &[u8], r: &[u8]) -> Option<String> {
    let header = |b: &[u8]| b.iter().position(|&c| c == b'\r').map(|i| b[..i].to_vec());
    let same = match cmp {
        _ if f.starts_with(b"-") || r.starts_with(b"-") => f == r,
        Cmp::Exact => f == r,
        Cmp::Shape => f.first() == r.first(),
        Cmp::Count => header(f) == header(r),
    };
    (!same).then(|| {
        format!(
            "ferrodis: {}\n    redis:    {}",
            escape_trunc(f, 300),
            escape_trunc(r, 300)
        )
    })
}

/// Caps the address space of this test process and so of the servers it starts (children
/// inherit the limit): a server that allocates in proportion to a client's number then fails
/// alone instead of pushing the host out of memory.
fn cap_address_space() {
    const CAP: u64 = 4 << 30;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_AS, &mut lim) == 0 && lim.rlim_cur > CAP {
            lim.rlim_cur = CAP;
            libc::setrlimit(libc::RLIMIT_AS, &lim);
        }
    }
}

/// Runs every case with every value on one server pair; `big` converts every container to
/// its big encoding first. Panics with every mismatch found.
fn sweep(big: bool) {
    let started = Instant::now();
    cap_address_space();
    let mut d = Diff::new();
    // CLIENT KILL ID 1 must not hit the test's own connection, nor client eviction after
    // CONFIG SET maxmemory-clients 1.
    for conn in [&mut d.ferrodis, &mut d.redis] {
        let id = conn.value(&["CLIENT", "ID"]).int().unwrap();
        assert!(id > 1, "the test's connection has id {id}");
        assert_eq!(conn.cmd(&["CLIENT", "NO-EVICT", "ON"]), b"+OK\r\n");
    }
    if big {
        for (p, v) in BIG_ENCODINGS {
            d.cmd(&["CONFIG", "SET", p, v]);
        }
    }
    reset(&mut d);
    let payload = d.redis.value(&["DUMP", "l"]).bytes().unwrap().to_vec();
    let (mut cases, covered, missing) = table_cases(&mut d);
    cases.extend(extra_cases(&mut d, &payload));
    let huge = "1".repeat(100_000);
    let pid = d.ferrodis_server().pid();
    // BOUNDARY_VERBOSE=1 prints every call and ferrodis's reply.
    let verbose = std::env::var_os("BOUNDARY_VERBOSE").is_some();
    let mut failures = Vec::new();
    let mut calls = 0;
    let mut max_rss = 0;
    for case in &cases {
        let mut values: Vec<&str> = VALUES.to_vec();
        if case.double {
            values.extend_from_slice(DOUBLE_VALUES);
        }
        for name in values {
            if !case.sends(name) {
                continue;
            }
            let value = if name == HUGE { huge.as_str() } else { name };
            reset(&mut d);
            let argv = case.fill(value.as_bytes());
            let shown = show_command(&case.fill(name.as_bytes()));
            let t0 = Instant::now();
            let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.both(&argv)));
            let (f, r) = sent.unwrap_or_else(|_| panic!("no reply to {shown}"));
            calls += 1;
            if t0.elapsed().as_millis() > 300 {
                eprintln!("slow: {shown} took {:?}", t0.elapsed());
            }
            if verbose {
                eprintln!("{shown} -> {}", escape_trunc(&f, 120));
            }
            if let Some(why) = compare(case.cmp, &f, &r) {
                failures.push(format!("{shown}\n    {why}"));
            }
            for a in &case.after {
                let _ = d.both(a);
            }
            let (f, r) = d.both(&["PING"]);
            assert!(
                f == b"+PONG\r\n" && r == b"+PONG\r\n",
                "after {shown}: PING answered {} / {}",
                escape(&f),
                escape(&r)
            );
            let rss = rss_kb(pid);
            max_rss = max_rss.max(rss);
            assert!(
                rss < RSS_LIMIT_KB,
                "after {shown}: ferrodis RSS is {rss} kB"
            );
        }
    }
    eprintln!(
        "boundary sweep (big encodings: {big}): {} commands with numbers from the table, {} cases, \
         {calls} calls, max ferrodis RSS {max_rss} kB, {:.1?}; documented but not executed: {}",
        covered.len(),
        cases.len(),
        started.elapsed(),
        missing.join(" ")
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} calls differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn boundary_values_compact_encodings() {
    sweep(false);
}

#[test]
fn boundary_values_big_encodings() {
    sweep(true);
}

/// Issue 14: ZRANDMEMBER with a count of i64::MIN allocated until the OOM killer came; Redis
/// reads the count in [-LONG_MAX, LONG_MAX], as SRANDMEMBER and HRANDFIELD already did here.
#[test]
fn randmember_counts_of_i64_min_are_out_of_range() {
    cap_address_space();
    let mut d = Diff::new();
    d.run(
        "ZADD z 0 a
         SADD s a
         HSET h f v
         ZRANDMEMBER z -9223372036854775808
         ZRANDMEMBER z -9223372036854775808 WITHSCORES
         ZRANDMEMBER z -4611686018427387904 WITHSCORES
         ZRANDMEMBER z -9223372036854775807 WITHSCORES
         SRANDMEMBER s -9223372036854775808
         HRANDFIELD h -9223372036854775808
         HRANDFIELD h -9223372036854775808 WITHVALUES
         ZRANDMEMBER z -2
         PING",
    );
}

/// DEBUG POPULATE allocates a value of the size asked for only when it makes a key: a count
/// of 0 takes any size (as in Redis), and a size that cannot be allocated is an error where
/// Redis would abort.
#[test]
fn debug_populate_huge_value_size_is_an_error() {
    cap_address_space();
    let server = ferrodis();
    let mut c = server.conn();
    assert_eq!(
        c.cmd(&["DEBUG", "POPULATE", "0", "p", "9223372036854775807"]),
        b"+OK\r\n"
    );
    let r = c.cmd(&["DEBUG", "POPULATE", "1", "p", "9223372036854775807"]);
    assert!(r.starts_with(b"-ERR"), "{}", escape(&r));
    assert_eq!(c.cmd(&["DBSIZE"]), b":0\r\n");
    assert_eq!(c.cmd(&["DEBUG", "POPULATE", "2", "p", "3"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "p:1"]), b"$3\r\nval\r\n");
}

/// Sends `argv` on a new connection and reads until the server closes it (within 60 s):
/// the number of bytes it sent first, or None if it kept the connection open.
fn closes_after(port: u16, argv: &[&str]) -> Option<usize> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    s.write_all(&encode_command(argv)).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(total),
            Err(_) => return None,
        }
    }
}

/// A negative count makes the *RANDMEMBER replies grow with the count, not the data. With an
/// output limit for normal clients both servers stop and close the client once it is passed
/// (Redis checks CLIENT_CLOSE_ASAP inside the loop), and the server lives on.
#[test]
fn randmember_negative_counts_stop_at_the_output_limit() {
    cap_address_space();
    for cmd in [
        "ZRANDMEMBER z -9223372036854775807",
        "ZRANDMEMBER z -4611686018427387903 WITHSCORES",
        "SRANDMEMBER s -9223372036854775807",
        "SRANDMEMBER i -9223372036854775807",
        "HRANDFIELD h -9223372036854775807",
    ] {
        for big in [false, true] {
            let mut d = Diff::with_args(&["--client-output-buffer-limit", "normal 4mb 0 0"]);
            if big {
                d.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]);
                d.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "0"]);
            }
            d.run("ZADD z 1 a 2 b\nSADD s a b\nSADD i 1 2\nHSET h f v g w");
            let argv: Vec<&str> = cmd.split(' ').collect();
            for server in [d.ferrodis_server(), d.redis_server()] {
                let sent = closes_after(server.port(), &argv);
                assert!(
                    sent.is_some(),
                    "{cmd}: {} did not close",
                    server.bin().display()
                );
            }
            d.cmd(&["PING"]);
            let rss = rss_kb(d.ferrodis_server().pid());
            assert!(rss < RSS_LIMIT_KB, "{cmd}: ferrodis RSS {rss} kB");
        }
    }
}

/// Without an output limit Redis would grow until the OOM killer came; ferrodis stops such a
/// reply at a hard cap (1 GiB) and closes the client instead.
#[test]
fn randmember_negative_counts_stop_at_the_hard_cap() {
    cap_address_space();
    let server = ferrodis();
    let mut c = server.conn();
    c.cmd(&["ZADD", "z", "1", "a"]);
    // ZRANDMEMBER only: producing a gigabyte of reply takes a while (the output-limit test
    // above covers all three commands).
    let cmd = ["ZRANDMEMBER", "z", "-9223372036854775807"];
    assert!(
        closes_after(server.port(), &cmd).is_some(),
        "{cmd:?}: not closed"
    );
    assert_eq!(server.conn().cmd(&["PING"]), b"+PONG\r\n");
}

/// The largest timeouts Redis accepts put the deadline near the end of time: a client blocked
/// that long must neither crash the timer arithmetic nor wake early, and is served when the
/// key gets data. (The sweep above checks every timeout that is refused; there the keys hold
/// data, so nothing blocks.)
#[test]
fn huge_valid_timeouts_block_until_served() {
    let mut d = Diff::new();
    let mut w = d.another();
    let blocking = [
        ("BLPOP e {}", "RPUSH e x"),
        ("BRPOP e {}", "RPUSH e x"),
        ("BLMOVE e d LEFT RIGHT {}", "RPUSH e x"),
        ("BRPOPLPUSH e d {}", "RPUSH e x"),
        ("BLMPOP {} 1 e LEFT COUNT 2", "RPUSH e x y z"),
        ("BZPOPMIN ze {}", "ZADD ze 1 a"),
        ("BZPOPMAX ze {}", "ZADD ze 1 a"),
        (
            "BZMPOP {} 1 ze MAX COUNT 9223372036854775807",
            "ZADD ze 1 a 2 b",
        ),
    ];
    let timeouts = [
        "0",
        "9223370000000000",
        "9223372036854775.807",
        "9223370000000000.5",
        "1e15",
        "4294967296",
    ];
    for (cmd, wake) in blocking {
        for t in timeouts {
            let line = cmd.replace("{}", t);
            let argv: Vec<&str> = line.split(' ').collect();
            d.send(&argv);
            // The second wait is short: the first one already gave both servers the time.
            let (f, r) = (
                d.ferrodis
                    .try_read_reply(std::time::Duration::from_millis(60)),
                d.redis.try_read_reply(std::time::Duration::from_millis(5)),
            );
            // One side answered: give the other time before calling it a difference.
            let more = std::time::Duration::from_secs(2);
            let (f, r) = match (f, r) {
                (None, Some(r)) => (d.ferrodis.try_read_reply(more), Some(r)),
                (Some(f), None) => (Some(f), d.redis.try_read_reply(more)),
                both => both,
            };
            match (f, r) {
                (None, None) => {
                    let wake_argv: Vec<&str> = wake.split(' ').collect();
                    w.cmd(&wake_argv);
                    d.read();
                }
                (Some(f), Some(r)) => assert_same(&line, &f, &r),
                (f, r) => panic!("{line}: ferrodis replied {f:?}, redis replied {r:?}"),
            }
            w.cmd(&["FLUSHALL"]);
            w.cmd(&["PING"]);
        }
    }
    // CLIENT PAUSE for the longest time allowed: writes wait, reads and PING go through.
    d.cmd(&["CLIENT", "PAUSE", "9223370000000000000", "WRITE"]);
    w.send(&["SET", "k", "v"]);
    d.cmd(&["GET", "k"]);
    d.cmd(&["CLIENT", "UNPAUSE"]);
    w.read();
    d.cmd(&["GET", "k"]);
    d.cmd(&["PING"]);
}
