//! Fuzz target for whole commands: the fuzzer's bytes become a short session of commands from a
//! few clients, run against a real `Server` (16 databases) through the path a socket client's
//! input takes (`net::process_input` -> `process_command` -> `call()`), then `before_sleep`
//! (blocked clients served, replies written), as the event loop would. The clients have no
//! socket (`Server::add_detached_client`); what is written to them is collected and checked.
//!
//! What counts as a crash:
//! - any panic (a handler, a data structure, an assertion below);
//! - a reply stream that is not a sequence of complete RESP2/RESP3 values (a wrong aggregate
//!   length, a bulk whose length lies, an unterminated line);
//! - after any step, a key in `expires` without a value, or blocking queues that do not match
//!   the clients' `blocked` state (ARCHITECTURE.md's invariants);
//! - memory: the live Rust heap passing a cap (1024 MB, or `FERRODIS_FUZZ_HEAP_MB`). The global
//!   allocator here is ferrodis's counting allocator with a check in front: the allocation
//!   that would pass the cap prints the command being run and a backtrace, then aborts. So a
//!   command that allocates in proportion to a number from the client is reported at once,
//!   whether it asks for the memory in one piece or grows a buffer in a loop. Run libFuzzer with
//!   `-rss_limit_mb=2048 -malloc_limit_mb=2048` too (see fuzz/README.md): they back the cap up
//!   (malloc_limit_mb needs a sanitizer build to see single mallocs).
//!
//! Input, binary form (what the fuzzer mostly explores): a sequence of records.
//! - `0xFF`: time passes: every blocked client times out, CLIENT PAUSE ends, serverCron runs.
//! - `0xFE c`: client `c % CLIENTS` disconnects (a fresh one takes its place when next used).
//! - `h n0 n1 a args...` (any other `h`): client `h % CLIENTS` sends the command picked from
//!   the command table by `u16::from_le_bytes([n0, n1]) % len` (subcommands are entries of
//!   their own, e.g. `OBJECT ENCODING`). `a` sets the argument count: bit 7 set means exactly
//!   `a & 0x0F` arguments (arity errors welcome); otherwise the command's arity, plus
//!   `a % 8` for a variadic command. Each argument is one byte `t`: below 0xE0 it is token
//!   `t % DICT.len()` of the dictionary below, except 0xDF, which stands for the first bulk
//!   string of the last reply to the client that ran the last command (DUMP's payload for a
//!   RESTORE, SCAN's cursor for the next SCAN); from 0xE0 it is the next `t - 0xE0` input
//!   bytes, raw. Missing bytes at the end read as 0.
//!
//! Text form, for hand-written seeds (`fuzz/corpus/commands/seed-*`): the input starts with
//! `#text` and a newline; then one command per line, split as redis-cli would split it
//! (`sdssplitargs`: quotes, `\xHH`); the word `~last` is the 0xDF argument above. A line may
//! start with `@N ` to send it from client N; a line `~tick` makes time pass and `~drop N`
//! disconnects client N. Blank lines and lines starting with `# ` are skipped.
//!
//! Time: blocking timeouts fire only at a tick (deterministic); key expiry and CLIENT PAUSE
//! follow the real clock, as they read it themselves.
//!
//! Environment: `FERRODIS_FUZZ_SKIP` keeps a run going past a known crash until it is fixed:
//! patterns separated by commas, each a command name and optionally words that must all be
//! among its arguments (any letter case), e.g. `FERRODIS_FUZZ_SKIP='zrandmember
//! -9223372036854775808'`; a matching command is not run. `FERRODIS_FUZZ_TRACE=1` prints each
//! command and the replies (to reproduce a crash by hand).
//!
//! Left out, in both forms (`allowed`): commands that would stop, fork, sleep, write files or
//! take over the process (SHUTDOWN, SAVE, BGSAVE, BGREWRITEAOF, MONITOR, SYNC, PSYNC, REPLICAOF,
//! FAILOVER, CONFIG REWRITE, DEBUG SLEEP/RELOAD/RESTART/...), CONFIG SET of file or size
//! limits the target relies on, and the calls for which Redis itself allocates without bound:
//! SRANDMEMBER/ZRANDMEMBER/HRANDFIELD with a count in -LONG_MAX..=-100000 (Redis accepts it and
//! builds the whole reply; LONG_MIN, which Redis rejects, is let through), and DEBUG POPULATE
//! of many or big keys. LOLWUT with numbers above 50 is left out too (slow, not wrong).
//! `proto-max-bulk-len` is 1mb here (its minimum), so string commands
//! (SETRANGE, SETBIT, BITFIELD, APPEND, LCS) are bounded the way Redis bounds them.
#![no_main]

use ferrodis::commands::CommandTable;
use ferrodis::config::Config;
use ferrodis::server::alloc::{used_memory, CountingAlloc};
use ferrodis::server::client::Sock;
use ferrodis::server::{blocked, cron, net, Server};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

// ---------------------------------------------------------------------------------------------
// The heap cap
// ---------------------------------------------------------------------------------------------

/// ferrodis's counting allocator (so INFO used_memory and maxmemory eviction work as in the
/// server) with the cap checked before each allocation that grows the heap.
struct CappedAlloc;

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// True while an input runs (the cap is not checked during start-up or while reporting).
static ARMED: AtomicBool = AtomicBool::new(false);
/// The cap on live heap bytes.
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The command being run, for the report.
static CURRENT: Mutex<String> = Mutex::new(String::new());
/// `FERRODIS_FUZZ_TRACE` set: every command and what each client was sent go to stderr.
static TRACE: AtomicBool = AtomicBool::new(false);

const DEFAULT_CAP_MB: usize = 1024;

#[inline]
fn check_cap(grow: usize) {
    if ARMED.load(Ordering::Relaxed)
        && used_memory().saturating_add(grow) > CAP.load(Ordering::Relaxed)
    {
        over_cap(grow);
    }
}

#[cold]
#[inline(never)]
fn over_cap(grow: usize) -> ! {
    ARMED.store(false, Ordering::Relaxed);
    eprintln!(
        "==ferrodis-fuzz== heap cap exceeded: {} bytes live, {} more asked, cap {} MB",
        used_memory(),
        grow,
        CAP.load(Ordering::Relaxed) >> 20
    );
    if let Ok(cmd) = CURRENT.try_lock() {
        eprintln!("==ferrodis-fuzz== while running: {}", *cmd);
    }
    eprintln!("{}", std::backtrace::Backtrace::force_capture());
    std::process::abort();
}

// SAFETY: forwards to CountingAlloc; the check only reads counters (or aborts).
unsafe impl GlobalAlloc for CappedAlloc {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        check_cap(l.size());
        CountingAlloc.alloc(l)
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        check_cap(l.size());
        CountingAlloc.alloc_zeroed(l)
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CountingAlloc.dealloc(p, l)
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        check_cap(new_size.saturating_sub(l.size()));
        CountingAlloc.realloc(p, l, new_size)
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Clients in a session.
const CLIENTS: usize = 3;
/// Commands run per input at most.
const MAX_STEPS: usize = 64;

/// Argument tokens: key names shared by every type (so commands meet each other's values and
/// each other's types), members, boundary numbers, option keywords, config names, patterns.
const DICT: &[&[u8]] = &[
    // keys and members
    b"k",
    b"k2",
    b"z",
    b"s",
    b"h",
    b"l",
    b"a",
    b"b",
    b"c",
    b"{k}1",
    b"",
    // small numbers
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"10",
    b"100",
    b"1000",
    b"-1",
    b"-2",
    b"-3",
    b"-10",
    b"-100",
    // boundaries
    b"-9223372036854775808",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551615",
    b"18446744073709551616",
    b"4611686018427387903",
    b"-4611686018427387904",
    b"2147483647",
    b"2147483648",
    b"-2147483648",
    b"4294967295",
    b"4294967296",
    b"536870911",
    b"1048576",
    // number spellings
    b"-0",
    b"+0",
    b"01",
    b" 1",
    b"1 ",
    b"0x10",
    b"1e3",
    b"1.5",
    b"-1.5",
    b"0.0",
    b"1e308",
    b"1e309",
    b"-1e309",
    b"5e-324",
    b"inf",
    b"-inf",
    b"+inf",
    b"nan",
    b"-nan",
    b"3.0",
    // ranges
    b"(1",
    b"(",
    b"[a",
    b"(a",
    b"[",
    b"-",
    b"+",
    b"(-inf",
    b"(+inf",
    // keywords
    b"LIMIT",
    b"COUNT",
    b"WITHSCORES",
    b"WITHSCORE",
    b"WITHVALUES",
    b"BYLEX",
    b"BYSCORE",
    b"REV",
    b"NX",
    b"XX",
    b"GT",
    b"LT",
    b"CH",
    b"INCR",
    b"KEEPTTL",
    b"EX",
    b"PX",
    b"EXAT",
    b"PXAT",
    b"PERSIST",
    b"GET",
    b"SET",
    b"MATCH",
    b"TYPE",
    b"string",
    b"list",
    b"set",
    b"zset",
    b"hash",
    b"AGGREGATE",
    b"SUM",
    b"MIN",
    b"MAX",
    b"WEIGHTS",
    b"STORE",
    b"BY",
    b"ALPHA",
    b"ASC",
    b"DESC",
    b"LEFT",
    b"RIGHT",
    b"BEFORE",
    b"AFTER",
    b"RANK",
    b"MAXLEN",
    b"IDX",
    b"LEN",
    b"MINMATCHLEN",
    b"WITHMATCHLEN",
    b"REPLACE",
    b"ABSTTL",
    b"IDLETIME",
    b"FREQ",
    b"DB",
    b"INCRBY",
    b"OVERFLOW",
    b"WRAP",
    b"SAT",
    b"FAIL",
    b"u8",
    b"i8",
    b"i64",
    b"u63",
    b"u64",
    b"i65",
    b"#1",
    b"BYTE",
    b"BIT",
    b"AND",
    b"OR",
    b"XOR",
    b"NOT",
    b"ID",
    b"ADDR",
    b"SKIPME",
    b"YES",
    b"NO",
    b"ON",
    b"OFF",
    b"SKIP",
    b"ALL",
    b"WRITE",
    b"AUTH",
    b"SETNAME",
    b"SAMPLES",
    b"ASYNC",
    b"SYNC",
    b"ENCODING",
    b"#",
    b"nosort",
    b"*->f",
    b"w_*",
    b"RESETSTAT",
    b"HELP",
    // patterns
    b"*",
    b"k*",
    b"*a*",
    b"?",
    b"[a-z]",
    b"[^a]",
    b"\\",
    b"[",
    // config
    b"maxmemory",
    b"maxmemory-policy",
    b"allkeys-lru",
    b"allkeys-lfu",
    b"volatile-ttl",
    b"noeviction",
    b"zset-max-listpack-entries",
    b"zset-max-listpack-value",
    b"hash-max-listpack-entries",
    b"hash-max-listpack-value",
    b"set-max-intset-entries",
    b"list-max-listpack-size",
    b"list-compress-depth",
    b"notify-keyspace-events",
    b"KEA",
    b"lazyfree-lazy-user-del",
    b"requirepass",
    b"maxmemory-clients",
    // values
    b"\x00\xff\r\n",
    b"\xe2\x82\xac",
    b"x\r\ny",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Stands for the first bulk string of the last reply (argument byte 0xDF, text `~last`).
const LAST: &[u8] = b"\x00~last\x00";

/// A command the binary form can pick: its words (name, subcommand) and arity.
struct Entry {
    words: Vec<&'static str>,
    arity: i32,
}

/// Every command and subcommand of the real table, sorted by name, less the left-out ones.
fn entries() -> &'static [Entry] {
    static E: OnceLock<Vec<Entry>> = OnceLock::new();
    E.get_or_init(|| {
        let t = CommandTable::new();
        let mut out = Vec::new();
        for i in t.top_level() {
            let cmd = &t.cmds[i];
            let name = cmd.meta.name;
            if cmd.handler.is_some() {
                out.push(Entry {
                    words: vec![name],
                    arity: cmd.meta.arity,
                });
            }
            for &(sub, j) in &cmd.subcommands {
                out.push(Entry {
                    words: vec![name, sub],
                    arity: t.cmds[j].meta.arity,
                });
            }
        }
        out.retain(|e| {
            let argv: Vec<Vec<u8>> = e.words.iter().map(|w| w.as_bytes().to_vec()).collect();
            allowed(&argv)
        });
        out.sort_by(|a, b| a.words.cmp(&b.words));
        out
    })
}

/// One step of a session.
enum Step {
    /// Client `.0` sends a command.
    Cmd(usize, Vec<Vec<u8>>),
    /// Time passes.
    Tick,
    /// Client `.0` disconnects.
    Drop(usize),
}

struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn next(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += 1;
        b
    }
    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

fn decode_binary(data: &[u8]) -> Vec<Step> {
    let entries = entries();
    let mut b = Bytes { data, pos: 0 };
    let mut steps = Vec::new();
    while steps.len() < MAX_STEPS {
        let Some(head) = b.next() else { break };
        match head {
            0xFF => steps.push(Step::Tick),
            0xFE => steps.push(Step::Drop(b.byte() as usize % CLIENTS)),
            h => {
                let pick = u16::from_le_bytes([b.byte(), b.byte()]) as usize % entries.len();
                let e = &entries[pick];
                let a = b.byte();
                let words = e.words.len();
                let need = (e.arity.unsigned_abs() as usize).max(words);
                let argc = if a & 0x80 != 0 {
                    words + (a & 0x0F) as usize
                } else if e.arity > 0 {
                    need
                } else {
                    need + (a % 8) as usize
                };
                let mut argv: Vec<Vec<u8>> =
                    e.words.iter().map(|w| w.as_bytes().to_vec()).collect();
                for _ in words..argc {
                    let t = b.byte();
                    argv.push(if t == 0xDF {
                        LAST.to_vec()
                    } else if t < 0xE0 {
                        DICT[t as usize % DICT.len()].to_vec()
                    } else {
                        b.take((t - 0xE0) as usize).to_vec()
                    });
                }
                steps.push(Step::Cmd(h as usize % CLIENTS, argv));
            }
        }
    }
    steps
}

fn decode_text(text: &[u8]) -> Vec<Step> {
    let mut steps = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if steps.len() >= MAX_STEPS {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line.starts_with(b"# ") {
            continue;
        }
        let (client, rest) = match line.strip_prefix(b"@") {
            Some(r) if !r.is_empty() => (
                (r[0].wrapping_sub(b'0')) as usize % CLIENTS,
                r.get(1..).unwrap_or_default(),
            ),
            _ => (0, line),
        };
        let Some(argv) = ferrodis::util::splitargs::split_args(rest) else {
            continue;
        };
        match argv.first().map(|w| w.as_slice()) {
            None => {}
            Some(b"~tick") => steps.push(Step::Tick),
            Some(b"~drop") => {
                let n = argv.get(1).and_then(|w| w.first()).copied().unwrap_or(b'0');
                steps.push(Step::Drop(n.wrapping_sub(b'0') as usize % CLIENTS));
            }
            Some(_) => {
                let argv = argv
                    .into_iter()
                    .map(|a| if a == b"~last" { LAST.to_vec() } else { a })
                    .collect();
                steps.push(Step::Cmd(client, argv))
            }
        }
    }
    steps
}

// ---------------------------------------------------------------------------------------------
// What is left out
// ---------------------------------------------------------------------------------------------

fn lower(b: &[u8]) -> Vec<u8> {
    b.to_ascii_lowercase()
}

fn int(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `FERRODIS_FUZZ_SKIP`, split: per pattern, its lower-cased words.
fn known_skips() -> &'static [Vec<Vec<u8>>] {
    static S: OnceLock<Vec<Vec<Vec<u8>>>> = OnceLock::new();
    S.get_or_init(|| {
        let v = std::env::var("FERRODIS_FUZZ_SKIP").unwrap_or_default();
        v.split(',')
            .map(|p| {
                p.split_whitespace()
                    .map(|w| lower(w.as_bytes()))
                    .collect::<Vec<_>>()
            })
            .filter(|p| !p.is_empty())
            .collect()
    })
}

/// False for the commands this target must not run (see the module comment).
fn allowed(argv: &[Vec<u8>]) -> bool {
    let Some(name) = argv.first() else {
        return true;
    };
    let name = lower(name);
    let skipped = known_skips().iter().any(|p| {
        p[0] == name
            && p[1..]
                .iter()
                .all(|w| argv[1..].iter().any(|a| lower(a) == *w))
    });
    if skipped {
        return false;
    }
    let sub = argv.get(1).map(|s| lower(s)).unwrap_or_default();
    match &name[..] {
        b"shutdown" | b"save" | b"bgsave" | b"bgrewriteaof" | b"monitor" | b"sync" | b"psync"
        | b"replicaof" | b"slaveof" | b"failover" | b"migrate" | b"module" => false,
        // A script may loop forever, and without an event loop nothing can kill it here.
        b"eval" | b"evalsha" | b"eval_ro" | b"evalsha_ro" | b"fcall" | b"fcall_ro" => false,
        b"config" => match &sub[..] {
            b"rewrite" => false,
            // Files, and the limit that bounds strings here.
            b"set" => !argv[2..].iter().any(|a| {
                matches!(
                    &lower(a)[..],
                    b"dir"
                        | b"logfile"
                        | b"dbfilename"
                        | b"pidfile"
                        | b"proto-max-bulk-len"
                        | b"appendonly"
                        | b"appendfilename"
                        | b"appenddirname"
                        | b"enable-debug-command"
                )
            }),
            _ => true,
        },
        b"debug" => match &sub[..] {
            b"sleep" => argv.get(2).is_some_and(|s| s.as_slice() == b"0"),
            b"populate" => {
                let n = argv.get(2).and_then(|n| int(n)).unwrap_or(0);
                let size = argv.get(4).and_then(|n| int(n)).unwrap_or(0);
                n <= 2000 && size <= 10_000
            }
            b"reload"
            | b"restart"
            | b"crash-and-recover"
            | b"segfault"
            | b"panic"
            | b"oom"
            | b"assert"
            | b"jmap"
            | b"loadaof"
            | b"quicklist-packed-threshold" => false,
            _ => true,
        },
        // Big canvases are correct but slow (Redis clamps them to the same sizes): keep the
        // executions per second for the rest.
        b"lolwut" => argv[1..].iter().all(|a| int(a).is_none_or(|n| n <= 50)),
        // Redis accepts -LONG_MAX..=LONG_MAX and builds a reply of |count| elements for a
        // negative one: unbounded by design. LONG_MIN is out of Redis's range: let it through.
        b"srandmember" | b"zrandmember" | b"hrandfield" => {
            !matches!(argv.get(2).and_then(|n| int(n)), Some(n) if n > i64::MIN && n <= -100_000)
        }
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// The reply check
// ---------------------------------------------------------------------------------------------

/// Splits the line at `pos` (up to CRLF); a CR or LF inside it is an error.
fn resp_line(buf: &[u8], pos: usize) -> Result<(&[u8], usize), String> {
    let rest = buf.get(pos..).unwrap_or_default();
    let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
        return Err(format!("unterminated line at {pos}"));
    };
    let line = &rest[..end];
    if line.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Err(format!("CR or LF inside the line at {pos}"));
    }
    Ok((line, pos + end + 2))
}

fn resp_int(line: &[u8]) -> Result<i64, String> {
    int(line)
        .filter(|_| !line.starts_with(b"+"))
        .ok_or_else(|| format!("bad integer {:?}", String::from_utf8_lossy(line)))
}

/// Checks one RESP2/RESP3 value at `pos`; returns where the next one starts. `bulk` gets the
/// range of the first bulk string met, if it has none yet.
fn resp_value(
    buf: &[u8],
    pos: usize,
    depth: usize,
    bulk: &mut Option<(usize, usize)>,
) -> Result<usize, String> {
    if depth > 128 {
        return Err("nested too deep".into());
    }
    let t = *buf.get(pos).ok_or("truncated")?;
    let (line, next) = resp_line(buf, pos + 1)?;
    match t {
        b'+' | b'-' => Ok(next),
        b':' => resp_int(line).map(|_| next),
        b'(' => {
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(format!("bad big number at {pos}"));
            }
            Ok(next)
        }
        b',' => {
            let s = std::str::from_utf8(line).map_err(|_| "double not UTF-8")?;
            if !matches!(s, "inf" | "-inf" | "nan") && s.parse::<f64>().is_err() {
                return Err(format!("bad double {s:?}"));
            }
            Ok(next)
        }
        b'#' if line == b"t" || line == b"f" => Ok(next),
        b'_' if line.is_empty() => Ok(next),
        b'$' | b'!' | b'=' => {
            let n = resp_int(line)?;
            if n == -1 && t == b'$' {
                return Ok(next);
            }
            let n = usize::try_from(n).map_err(|_| format!("negative length at {pos}"))?;
            let body = buf
                .get(next..next.saturating_add(n))
                .ok_or_else(|| format!("bulk of {n} truncated at {pos}"))?;
            if t == b'=' && (n < 4 || body[3] != b':') {
                return Err(format!("bad verbatim string at {pos}"));
            }
            if buf.get(next + n..next + n + 2) != Some(b"\r\n") {
                return Err(format!("bulk of {n} at {pos} not followed by CRLF"));
            }
            if t == b'$' && bulk.is_none() {
                *bulk = Some((next, next + n));
            }
            Ok(next + n + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = resp_int(line)?;
            if n == -1 && t == b'*' {
                return Ok(next);
            }
            let n = u64::try_from(n).map_err(|_| format!("negative count at {pos}"))?;
            let items = if t == b'%' || t == b'|' { 2 * n } else { n };
            let mut p = next;
            for _ in 0..items {
                p = resp_value(buf, p, depth + 1, bulk)?;
            }
            // An attribute is followed by the value it annotates.
            if t == b'|' {
                p = resp_value(buf, p, depth + 1, bulk)?;
            }
            Ok(p)
        }
        _ => Err(format!("bad type byte {:?} at {pos}", t as char)),
    }
}

/// Panics unless `buf` is a sequence of complete replies; returns the first bulk string's range.
fn check_replies(buf: &[u8], who: &str) -> Option<(usize, usize)> {
    let mut pos = 0;
    let mut bulk = None;
    while pos < buf.len() {
        match resp_value(buf, pos, 0, &mut bulk) {
            Ok(p) => pos = p,
            Err(e) => panic!(
                "malformed reply stream to {who}: {e}\n{}",
                String::from_utf8_lossy(&buf[..buf.len().min(4096)])
            ),
        }
    }
    bulk
}

// ---------------------------------------------------------------------------------------------
// Running a session
// ---------------------------------------------------------------------------------------------

/// The configuration every session starts from.
fn base_config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = Config::default();
        c.load_text(
            b"save \"\"\nenable-debug-command yes\nproto-max-bulk-len 1mb\nlatency-monitor-threshold 1\n",
        )
        .expect("the fuzz configuration loads");
        c
    })
}

/// A session: the server and the client slots (slot, client id) of each fuzz client.
struct Session {
    srv: Server,
    clients: [Option<(usize, u64)>; CLIENTS],
    /// The first bulk string of the last reply to the client that ran the last command.
    last: Vec<u8>,
}

impl Session {
    /// The slot of fuzz client `k`, connecting it when it is not (or no longer) connected.
    fn slot(&mut self, k: usize) -> usize {
        if let Some((slot, id)) = self.clients[k] {
            if matches!(self.srv.clients.get(slot), Some(Some(c)) if c.id == id) {
                return slot;
            }
        }
        let slot = self.srv.add_detached_client();
        let id = self.srv.clients[slot].as_ref().expect("just added").id;
        self.clients[k] = Some((slot, id));
        slot
    }

    fn run(&mut self, step: Step) {
        let ran_by = match &step {
            Step::Cmd(k, _) => Some(*k),
            _ => None,
        };
        match step {
            Step::Cmd(k, mut argv) => {
                for a in argv.iter_mut().filter(|a| a.as_slice() == LAST) {
                    a.clone_from(&self.last);
                }
                if !allowed(&argv) {
                    return;
                }
                if let Ok(mut cur) = CURRENT.lock() {
                    cur.clear();
                    for a in &argv {
                        cur.push_str(&format!(
                            "{:?} ",
                            String::from_utf8_lossy(&a[..a.len().min(64)])
                        ));
                    }
                }
                if TRACE.load(Ordering::Relaxed) {
                    eprintln!(
                        "@{k} {}",
                        CURRENT.lock().map(|c| c.clone()).unwrap_or_default()
                    );
                }
                let slot = self.slot(k);
                let srv = &mut self.srv;
                let mut c = srv.clients[slot].take().expect("connected");
                // What the socket would have delivered: one multibulk request.
                c.qbuf
                    .extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
                for a in &argv {
                    c.qbuf
                        .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    c.qbuf.extend_from_slice(a);
                    c.qbuf.extend_from_slice(b"\r\n");
                }
                // As read_client after a read.
                srv.refresh_time();
                c.last_interaction_ms = srv.cmd_time_ms;
                net::process_input(srv, &mut c);
                if c.out.pending() > 0 {
                    srv.schedule_write(&mut c);
                }
                if c.close_asap {
                    srv.pending_close.push(c.token);
                }
                srv.clients[slot] = Some(c);
            }
            Step::Tick => {
                let srv = &mut self.srv;
                blocked::handle_timeouts(srv, i64::MAX);
                if srv.pause_until_ms != 0 {
                    srv.pause_until_ms = 0;
                }
                cron::server_cron(srv);
            }
            Step::Drop(k) => {
                if let Some((slot, id)) = self.clients[k].take() {
                    if matches!(self.srv.clients.get(slot), Some(Some(c)) if c.id == id) {
                        net::close_client_now(&mut self.srv, slot);
                    }
                }
            }
        }
        net::before_sleep(&mut self.srv);
        let ran = ran_by.and_then(|k| self.clients[k].map(|(slot, _)| slot));
        self.check_output(ran);
        self.check_invariants();
    }

    /// ARCHITECTURE.md's invariants that a command sequence could break: every key in
    /// `expires` is in `dict`; a client is in the blocking queues (and the deadline index)
    /// exactly while its `blocked` is Some, and `blocking.count` counts those clients.
    fn check_invariants(&self) {
        let srv = &self.srv;
        for db in &srv.dbs {
            for (k, _) in db.expires.iter() {
                assert!(
                    db.dict.peek(k.as_bytes()).is_some(),
                    "db {}: key {:?} has an expire but no value",
                    db.id,
                    String::from_utf8_lossy(k.as_bytes())
                );
            }
        }
        let b = &srv.blocking;
        let mut blocked = 0;
        for (slot, c) in srv.clients.iter() {
            let Some(c) = c.as_deref() else { continue };
            match &c.blocked {
                Some(st) => {
                    blocked += 1;
                    for k in &st.keys {
                        let queued = b.waiters.get(&(st.db, k.clone()));
                        assert!(
                            queued.is_some_and(|q| q.contains(&slot)),
                            "blocked client {} is not queued on its key {:?}",
                            c.id,
                            String::from_utf8_lossy(k)
                        );
                    }
                    if st.deadline_ms > 0 {
                        assert!(b.deadlines.contains(&(st.deadline_ms, c.id, slot)));
                    }
                }
                None => {
                    assert!(
                        !b.waiters.values().any(|q| q.contains(&slot)),
                        "client {} is queued on a key but not blocked",
                        c.id
                    );
                    assert!(!b.deadlines.iter().any(|d| d.2 == slot));
                }
            }
        }
        assert_eq!(
            b.count, blocked,
            "blocking.count is not the number of blocked clients"
        );
        assert!(
            b.waiters.values().all(|q| !q.is_empty()),
            "an empty waiter queue is kept"
        );
    }

    /// Checks and clears what every client was sent; keeps the first bulk string sent to slot
    /// `ran` (the client that ran the step's command) in `last`.
    fn check_output(&mut self, ran: Option<usize>) {
        for (slot, c) in self.srv.clients.iter_mut() {
            let Some(c) = c.as_deref_mut() else { continue };
            if let Sock::Detached(sink) = &mut c.sock {
                if TRACE.load(Ordering::Relaxed) && !sink.is_empty() {
                    eprintln!("  -> id {}: {:?}", c.id, String::from_utf8_lossy(sink));
                }
                let bulk = check_replies(sink, &format!("client {} (slot {slot})", c.id));
                if let (Some((from, to)), true) = (bulk, ran == Some(slot)) {
                    self.last.clear();
                    self.last.extend_from_slice(&sink[from..to]);
                }
                sink.clear();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        ferrodis::server::log::set_level(ferrodis::server::log::Level::Warning);
        ferrodis::server::log::set_file("/dev/null");
        ferrodis::util::clock::init();
        let mb = std::env::var("FERRODIS_FUZZ_HEAP_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_CAP_MB);
        CAP.store(mb << 20, Ordering::Relaxed);
        TRACE.store(
            std::env::var_os("FERRODIS_FUZZ_TRACE").is_some(),
            Ordering::Relaxed,
        );
        let _ = entries();
    });
    let steps = match data.strip_prefix(b"#text\n") {
        Some(text) => decode_text(text),
        None => decode_binary(data),
    };
    ARMED.store(true, Ordering::Relaxed);
    let mut s = Session {
        srv: Server::new(base_config().clone()),
        clients: [None; CLIENTS],
        last: Vec::new(),
    };
    for step in steps {
        s.run(step);
    }
    drop(s);
    ARMED.store(false, Ordering::Relaxed);
});
