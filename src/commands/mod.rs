//! The command table and dispatch (server.c's processCommand and call).
//!
//! The table is data: `meta.rs` holds every Redis 7.0 command's arity, flags, key positions and
//! documentation (generated from the oracle); each group module below exports `HANDLERS`, a list
//! of (name, handler) pairs. At start-up the two are joined; only commands with a handler exist
//! for clients (COMMAND COUNT, COMMAND LIST, dispatch).
//!
//! The gates here (unknown command, arity, authentication, pause) read the table's flags, so
//! handlers never re-check them. Handlers get the server, their client and the arguments; they
//! write replies into `Client::out` and never touch a socket.

pub mod acl;
pub mod bitmap;
pub mod cluster;
pub mod connection;
pub mod doc;
pub mod geo;
pub mod getkeys;
pub mod hash;
pub mod hll;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod layout;
pub mod list;
pub mod meta;
pub mod migrate;
pub mod multi;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server_cmds;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use crate::protocol::parser::Argv;
use crate::server::client::{Client, ReplyMode};
use crate::server::stats::CmdStat;
use crate::server::Server;
use crate::util::histogram::Histogram;
use meta::CommandMeta;

/// A command implementation.
pub type Handler = fn(&mut Server, &mut Client, &Args);

/// The arguments of the command being executed, borrowed from the query buffer.
pub struct Args<'a> {
    buf: &'a [u8],
    argv: &'a Argv,
}

impl<'a> Args<'a> {
    /// Wraps a parsed request.
    #[inline]
    pub fn new(buf: &'a [u8], argv: &'a Argv) -> Args<'a> {
        Args { buf, argv }
    }

    /// Number of arguments, command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.argv.len()
    }

    /// True when there are no arguments (never for a dispatched command).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.argv.len() == 0
    }

    /// Argument `i` (0 is the command name).
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        self.argv.get(self.buf, i)
    }

    /// Arguments from `from` on.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &'a [u8]> + '_ {
        (from..self.len()).map(move |i| self.get(i))
    }

    /// Owned copies of every argument (MONITOR, SLOWLOG, MULTI queues).
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        (0..self.len()).map(|i| self.get(i).to_vec()).collect()
    }

    /// True when argument `i` equals `s` ignoring ASCII case.
    #[inline]
    pub fn is(&self, i: usize, s: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(s.as_bytes())
    }
}

/// One executable command: its metadata, its handler, its statistics slot.
pub struct Command {
    /// Arity, flags, keys and docs.
    pub meta: &'static CommandMeta,
    /// The implementation (None for a container whose subcommands carry the work).
    pub handler: Option<Handler>,
    /// Subcommands by lower-case name -> index into `CommandTable::cmds`.
    pub subcommands: Vec<(&'static str, usize)>,
    /// INFO commandstats.
    pub stat: CmdStat,
    /// The command's bit in ACL selectors (crate::acl::command_id).
    pub acl_id: usize,
    /// Durations of the calls (LATENCY HISTOGRAM, INFO latencystats), allocated at the first
    /// call recorded while latency-tracking is on, dropped by CONFIG RESETSTAT.
    pub latency: Option<Box<Histogram>>,
    /// The position of the command's only key when every call has exactly one there
    /// (`getkeys::single_key_pos`), for client-side caching's key tracking.
    pub single_key: Option<usize>,
    /// The name clients call a top-level command by, in lower case: `meta.name` unless
    /// rename-command changed it; empty for subcommands and for removed commands.
    name: Box<[u8]>,
}

/// The range of a command's latency histogram in nanoseconds, and its precision in significant
/// decimal digits (Redis's LATENCY_HISTOGRAM_MIN_VALUE, _MAX_VALUE and _PRECISION).
const LATENCY_MIN_NS: u64 = 1;
const LATENCY_MAX_NS: u64 = 1_000_000_000;
const LATENCY_PRECISION: u32 = 2;

impl Command {
    /// Records one call of `usec` microseconds in the latency histogram, as Redis records it:
    /// in nanoseconds, clamped to 1 ns .. 1 s (updateCommandLatencyHistogram).
    #[inline]
    pub fn record_latency(&mut self, usec: u64) {
        let ns = usec
            .saturating_mul(1000)
            .clamp(LATENCY_MIN_NS, LATENCY_MAX_NS);
        self.latency
            .get_or_insert_with(|| {
                Box::new(Histogram::new(
                    LATENCY_MIN_NS,
                    LATENCY_MAX_NS,
                    LATENCY_PRECISION,
                ))
            })
            .record(ns);
    }
}

/// Every command this server implements, looked up by name.
///
/// rename-command changes only the name a command is dispatched by (`Command::name`, the key
/// of `by_name`): everything it shows (COMMAND INFO/LIST/DOCS, INFO commandstats, arity and
/// "Can't execute" errors, CLIENT LIST cmd=) keeps its own name, as Redis keeps
/// `cmd->fullname` and changes only the command dict's key. A command renamed to "" leaves
/// `by_name` (dispatch, COMMAND COUNT/LIST) but keeps its slot in `cmds`, so indexes held
/// elsewhere (subcommands, MULTI queues) stay valid.
pub struct CommandTable {
    by_name: NameIndex,
    /// All commands, subcommands included ("client|list").
    pub cmds: Vec<Command>,
}

/// Every group's handlers.
fn all_handlers() -> impl Iterator<Item = &'static (&'static str, Handler)> {
    string::HANDLERS
        .iter()
        .chain(bitmap::HANDLERS)
        .chain(keys::HANDLERS)
        .chain(list::HANDLERS)
        .chain(sort::HANDLERS)
        .chain(set::HANDLERS)
        .chain(connection::HANDLERS)
        .chain(server_cmds::HANDLERS)
        .chain(introspection::HANDLERS)
        .chain(replication::HANDLERS)
        .chain(info::HANDLERS)
        .chain(zset::HANDLERS)
        .chain(persistence::HANDLERS)
        .chain(pubsub::HANDLERS)
        .chain(multi::HANDLERS)
        .chain(hash::HANDLERS)
        .chain(stream::HANDLERS)
        .chain(acl::HANDLERS)
        .chain(hll::HANDLERS)
        .chain(geo::HANDLERS)
        .chain(scripting::HANDLERS)
        .chain(cluster::HANDLERS)
        .chain(migrate::HANDLERS)
}

impl CommandTable {
    /// Joins the generated metadata with the handlers.
    pub fn new() -> CommandTable {
        let mut t = CommandTable {
            by_name: NameIndex::default(),
            cmds: Vec::new(),
        };
        for &(name, handler) in all_handlers() {
            let (parent, sub) = match name.split_once('|') {
                Some((p, s)) => (p, Some(s)),
                None => (name, None),
            };
            let Some(pmeta) = meta::lookup(parent.as_bytes()) else {
                panic!("handler for {name} has no metadata");
            };
            let pidx = match t.by_name.get(&t.cmds, parent.as_bytes()) {
                Some(i) => i,
                None => {
                    t.cmds.push(Command {
                        meta: pmeta,
                        acl_id: crate::acl::command_id(pmeta),
                        handler: None,
                        subcommands: Vec::new(),
                        stat: CmdStat::default(),
                        latency: None,
                        single_key: getkeys::single_key_pos(pmeta),
                        name: pmeta.name.as_bytes().into(),
                    });
                    let i = t.cmds.len() - 1;
                    t.by_name.insert(&t.cmds, i);
                    i
                }
            };
            match sub {
                None => t.cmds[pidx].handler = Some(handler),
                Some(s) => {
                    let Some(smeta) = meta::lookup_sub(pmeta, s.as_bytes()) else {
                        panic!("handler for {name} has no metadata");
                    };
                    t.cmds.push(Command {
                        meta: smeta,
                        acl_id: crate::acl::command_id(smeta),
                        handler: Some(handler),
                        subcommands: Vec::new(),
                        stat: CmdStat::default(),
                        latency: None,
                        single_key: getkeys::single_key_pos(smeta),
                        name: Box::default(),
                    });
                    let i = t.cmds.len() - 1;
                    let sname: &'static str = smeta.name.split_once('|').map_or(s, |x| x.1);
                    t.cmds[pidx].subcommands.push((sname, i));
                }
            }
        }
        t
    }

    /// The table with the `rename-command old new` directives applied in order, as Redis
    /// applies them while it loads its config: `old` is then unknown and the command answers
    /// to `new`, or to nothing when `new` is empty. Names match in any letter case. The config
    /// loader has already checked every directive against Redis's full command table
    /// (config.rs, `check_rename`); a rename of a command this server does not implement
    /// changes nothing here.
    pub fn with_renames(renames: &[(Vec<u8>, Vec<u8>)]) -> CommandTable {
        let mut t = CommandTable::new();
        for (old, new) in renames {
            t.rename(old, new);
        }
        t
    }

    /// Gives top-level command `old` the name `new`, or removes it from dispatch when `new` is
    /// empty. Changes nothing and returns false when `old` is no command here or `new` is
    /// another one's name. The index is rebuilt (start-up only; lookups stay as cheap).
    fn rename(&mut self, old: &[u8], new: &[u8]) -> bool {
        let Some(i) = self.lookup(old) else {
            return false;
        };
        if !new.is_empty() && self.lookup(new).is_some_and(|j| j != i) {
            return false;
        }
        let kept: Vec<usize> = self.by_name.iter().filter(|&j| j != i).collect();
        self.cmds[i].name = new.to_ascii_lowercase().into_boxed_slice();
        let mut index = NameIndex::default();
        for j in kept.into_iter().chain((!new.is_empty()).then_some(i)) {
            index.insert(&self.cmds, j);
        }
        self.by_name = index;
        true
    }

    /// Finds a top-level command, case-insensitively, without allocating for normal names.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(&self.cmds, name)
    }

    /// Finds a command by its full name, "get" or "config|get", in any letter case
    /// (lookupCommandBySds): one `|` at most, and a subcommand only under a container.
    pub fn lookup_fullname(&self, name: &[u8]) -> Option<usize> {
        let mut parts = name.split(|&b| b == b'|');
        let top = self.lookup(parts.next()?)?;
        let sub = parts.next();
        if parts.next().is_some() {
            return None;
        }
        match sub {
            None => Some(top),
            Some(_) if self.cmds[top].subcommands.is_empty() => None,
            Some(s) => self.lookup_sub(top, s),
        }
    }

    /// Finds a subcommand of container `parent`.
    pub fn lookup_sub(&self, parent: usize, name: &[u8]) -> Option<usize> {
        self.cmds[parent]
            .subcommands
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|&(_, i)| i)
    }

    /// Indices of the top-level commands.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        self.by_name.iter()
    }
}

/// The top-level command names, for dispatch: an open-addressed table of indexes into
/// `CommandTable::cmds`, each with a tag taken from the hash of its name (`Command::name`, the
/// name after rename-command) and the name itself as up to three 8-byte words. The set of
/// names is fixed at start-up and never grows from client input, so a keyed hash buys nothing
/// here: the lookup reads the request's name a word at a time (hash, then compare), a few
/// dozen instructions per command instead of a loop per byte.
///
/// ```text
///  slots: [ empty | (tag, 17, key) | empty | (tag, 3, key) | (tag, 120, key) | empty | ... ]
///          power of two, at least 4 slots per name; start at hash >> shift, probe
///          linearly; a matching tag is confirmed against the slot's key:
///  key = { words: the lowercase name in 3 little-endian u64 (zero padded),
///          masks: 0x20 at each letter's byte, len }     (names over 24 bytes: cmds[idx].name)
///  a request word w matches when (w | mask) == word: a letter in either case, any other
///  byte exactly
/// ```
#[derive(Default)]
struct NameIndex {
    slots: Vec<NameSlot>,
    /// Bits of the hash that pick the first slot (`slots.len() == 1 << bits`).
    bits: u32,
    len: usize,
}

/// Longest name compared by words; longer names (only rename-command makes them) are
/// compared byte by byte.
const NAME_WORDS: usize = 3;

#[derive(Clone, Copy, Default)]
struct NameSlot {
    /// Tag of the name's hash; 0 marks an empty slot.
    tag: u32,
    /// Index into cmds.
    idx: u16,
    /// The name's length, or u8::MAX when it is longer than the words hold.
    len: u8,
    words: [u64; NAME_WORDS],
    masks: [u64; NAME_WORDS],
}

/// True when `name` is `lower` (a lowercase command name) in any letter case.
#[inline(always)]
fn same_name(lower: &[u8], name: &[u8]) -> bool {
    lower.len() == name.len()
        && lower
            .iter()
            .zip(name)
            .all(|(&l, &n)| l == n.to_ascii_lowercase())
}

/// Word `i` of `name` (little-endian, zero padded past the end).
#[inline(always)]
fn name_word(name: &[u8], i: usize) -> u64 {
    let s = &name[i * 8..];
    if s.len() >= 8 {
        return u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    }
    let (mut w, mut off) = (0u64, 0usize);
    if s.len() & 4 != 0 {
        w = u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
        off = 4;
    }
    if s.len() & 2 != 0 {
        w |= u64::from(u16::from_le_bytes([s[off], s[off + 1]])) << (off * 8);
        off += 2;
    }
    if s.len() & 1 != 0 {
        w |= u64::from(s[off]) << (off * 8);
    }
    w
}

impl NameIndex {
    /// A hash of `name` that ignores letter case: each word with bit 5 of every byte set
    /// (which lowercases letters; other bytes may collide, the compare settles it), mixed
    /// multiplicatively, so the top bits (which pick the slot) depend on every byte.
    fn hash(name: &[u8]) -> u64 {
        let mut h = (name.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for i in 0..name.len().div_ceil(8) {
            h = Self::mix(h, name_word(name, i));
        }
        h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// One word into the hash, letters folded to lower case (bit 5 of every byte set).
    #[inline(always)]
    fn mix(h: u64, w: u64) -> u64 {
        let h = (h ^ (w | 0x2020_2020_2020_2020)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 32)
    }

    /// Non-zero tag of a hash (its low half; the slot comes from the high bits).
    #[inline]
    fn tag(h: u64) -> u32 {
        (h as u32) | 1
    }

    #[inline]
    fn get(&self, cmds: &[Command], name: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        if name.len() > 8 * NAME_WORDS {
            return self.get_long(cmds, name);
        }
        // The request's name read once, as words; hashed and compared from these.
        let n = name.len().div_ceil(8);
        let mut words = [0u64; NAME_WORDS];
        for (w, word) in words.iter_mut().enumerate().take(n) {
            *word = name_word(name, w);
        }
        let mut h = (name.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for &w in &words[..n] {
            h = Self::mix(h, w);
        }
        let h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let tag = Self::tag(h);
        let mask = self.slots.len() - 1;
        let mut i = (h >> (64 - self.bits)) as usize;
        loop {
            let s = &self.slots[i];
            if s.tag == 0 {
                return None;
            }
            if s.tag == tag
                && usize::from(s.len) == name.len()
                && (0..n).all(|w| words[w] | s.masks[w] == s.words[w])
            {
                return Some(usize::from(s.idx));
            }
            i = (i + 1) & mask;
        }
    }

    /// The lookup of a name longer than the compared words (no command has one; a client's
    /// unknown command may).
    #[cold]
    fn get_long(&self, cmds: &[Command], name: &[u8]) -> Option<usize> {
        let h = Self::hash(name);
        let tag = Self::tag(h);
        let mask = self.slots.len() - 1;
        let mut i = (h >> (64 - self.bits)) as usize;
        loop {
            let s = &self.slots[i];
            if s.tag == 0 {
                return None;
            }
            if s.tag == tag && same_name(&cmds[usize::from(s.idx)].name, name) {
                return Some(usize::from(s.idx));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `cmds[idx]` under its name (which must not be present yet).
    fn insert(&mut self, cmds: &[Command], idx: usize) {
        if (self.len + 1) * 4 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            self.bits = (self.bits + 1).max(6);
            self.slots = vec![NameSlot::default(); 1 << self.bits];
            self.len = 0;
            for s in old.iter().filter(|s| s.tag != 0) {
                self.place(cmds, usize::from(s.idx));
            }
        }
        self.place(cmds, idx);
    }

    fn place(&mut self, cmds: &[Command], idx: usize) {
        let name = &cmds[idx].name;
        let h = Self::hash(name);
        let mask = self.slots.len() - 1;
        let mut i = (h >> (64 - self.bits)) as usize;
        while self.slots[i].tag != 0 {
            i = (i + 1) & mask;
        }
        let mut slot = NameSlot {
            tag: Self::tag(h),
            idx: u16::try_from(idx).expect("fewer than 65536 commands"),
            len: u8::MAX,
            ..NameSlot::default()
        };
        if name.len() <= 8 * NAME_WORDS {
            slot.len = name.len() as u8;
            for w in 0..name.len().div_ceil(8) {
                slot.words[w] = name_word(name, w);
                let mut m = 0u64;
                for (k, b) in name[w * 8..].iter().take(8).enumerate() {
                    if b.is_ascii_lowercase() {
                        m |= 0x20 << (8 * k);
                    }
                }
                slot.masks[w] = m;
            }
        }
        self.slots[i] = slot;
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .filter(|s| s.tag != 0)
            .map(|s| usize::from(s.idx))
    }
}

impl Default for CommandTable {
    fn default() -> Self {
        CommandTable::new()
    }
}

/// True when CLIENT PAUSE holds back this command: every command under PAUSE ALL; under
/// PAUSE WRITE, writes and may-replicate commands, and an EXEC whose transaction queued one
/// (the transaction waits whole). Called only while a pause is set; a pause whose time is up
/// ends here.
fn paused_for(srv: &mut Server, c: &Client, meta: &CommandMeta, flags: u64) -> bool {
    if crate::util::mstime() >= srv.pause_until_ms {
        srv.pause_until_ms = 0;
        return false;
    }
    !srv.pause_write_only || holds_writes(srv, c, meta, flags)
}

/// What a write pause (CLIENT PAUSE WRITE, a FAILOVER) holds back: writes and may-replicate
/// commands, and an EXEC whose transaction queued one (the transaction waits whole).
fn holds_writes(srv: &Server, c: &Client, meta: &CommandMeta, flags: u64) -> bool {
    let held = meta::FLAG_WRITE | meta::FLAG_MAY_REPLICATE;
    flags & held != 0
        || (meta.name == "exec"
            && c.multi.as_ref().is_some_and(|m| {
                m.cmds
                    .iter()
                    .any(|q| srv.commands.cmds[q.cmd].meta.flags & held != 0)
            }))
}

/// Redis's error for an unknown command, quoting the first arguments within 128 bytes.
fn unknown_command_error(args: &Args) -> String {
    let name = String::from_utf8_lossy(args.get(0));
    let name: String = name.chars().take(128).collect();
    let mut quoted = String::new();
    let mut i = 1;
    while i < args.len() && quoted.len() < 128 {
        let room = 128 - quoted.len();
        let a = String::from_utf8_lossy(args.get(i));
        let a: String = a.chars().take(room).collect();
        quoted.push_str(&format!("'{a}' "));
        i += 1;
    }
    format!("ERR unknown command '{name}', with args beginning with: {quoted}")
}

/// Rejects a command before it runs: the error reply plus the rejected-call statistics.
/// Inside MULTI the rejection dooms the transaction (flagTransaction); a rejected EXEC ends
/// it with EXECABORT and the reason, even outside MULTI, as Redis's rejectCommand does.
fn reject(srv: &mut Server, c: &mut Client, idx: Option<usize>, msg: &str) {
    if idx.is_some_and(|i| srv.commands.cmds[i].meta.name == "exec") {
        crate::multi::exec_abort(srv, c, msg);
    } else {
        crate::multi::flag_transaction(c);
        c.out.err(msg);
    }
    if let Some(i) = idx {
        srv.commands.cmds[i].stat.rejected_calls += 1;
    }
    count_errors(srv, c);
}

/// Moves the client's recorded error codes into INFO errorstats.
fn count_errors(srv: &mut Server, c: &mut Client) -> bool {
    if c.out.errors.is_empty() {
        return false;
    }
    for code in c.out.errors.drain(..) {
        srv.stats.total_error_replies += 1;
        *srv.stats.errors.entry(code).or_insert(0) += 1;
    }
    true
}

/// Checks and runs one parsed command (processCommand). Returns false when the command was
/// postponed by CLIENT PAUSE: it stays in the query buffer and runs when the pause ends.
pub fn process_command(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    // Client-side caching knows which client is being processed (server.current_client).
    let prev = std::mem::replace(&mut srv.tracking.current, c.id);
    let done = process_command_inner(srv, c, args);
    srv.tracking.current = prev;
    if srv.tracking.has_deferred() {
        crate::tracking::flush_deferred(srv, c);
    }
    if done && c.tracking.is_some() {
        reset_caching(srv, c, args);
    }
    done
}

/// CLIENT CACHING YES/NO covers the next command only: it is dropped once a command other than
/// a CLIENT subcommand completes outside MULTI (resetClient), so a whole transaction is
/// covered.
fn reset_caching(srv: &Server, c: &mut Client, args: &Args) {
    let Some(t) = c.tracking.as_mut() else {
        return;
    };
    if t.flags & crate::tracking::CACHING == 0 || c.multi.is_some() {
        return;
    }
    let top = srv.commands.lookup(args.get(0));
    if top.is_some_and(|i| srv.commands.cmds[i].meta.name == "client") {
        return;
    }
    t.flags &= !crate::tracking::CACHING;
}

/// Hands the running client the tracking messages produced while its command was being
/// admitted (random eviction of tracked keys, maxmemory eviction): they go before its reply.
/// The reply start moves past them, so CLIENT REPLY OFF/SKIP never discards them.
#[inline]
fn flush_tracking_before_reply(srv: &mut Server, c: &mut Client, reply_start: &mut usize) {
    if srv.tracking.has_deferred() {
        crate::tracking::flush_deferred(srv, c);
        *reply_start = c.out.buf.len();
    }
}

fn process_command_inner(srv: &mut Server, c: &mut Client, args: &Args) -> bool {
    let mut reply_start = c.out.buf.len();
    if c.reply_mode == ReplyMode::SkipNext {
        c.reply_mode = ReplyMode::Skip;
    }
    let Some(mut idx) = srv.commands.lookup(args.get(0)) else {
        let msg = unknown_command_error(args);
        reject(srv, c, None, &msg);
        return finish_reply(c, reply_start);
    };
    let mut meta = srv.commands.cmds[idx].meta;
    if !arity_ok(meta.arity, args.len()) {
        let msg = format!("ERR wrong number of arguments for '{}' command", meta.name);
        reject(srv, c, Some(idx), &msg);
        return finish_reply(c, reply_start);
    }
    // A container alone is the container itself (lookupCommand): COMMAND runs its own
    // handler, and the others have already failed their arity (-2).
    if args.len() > 1 && !srv.commands.cmds[idx].subcommands.is_empty() {
        match srv.commands.lookup_sub(idx, args.get(1)) {
            Some(s) => {
                idx = s;
                meta = srv.commands.cmds[idx].meta;
                if !arity_ok(meta.arity, args.len()) {
                    let msg = format!("ERR wrong number of arguments for '{}' command", meta.name);
                    reject(srv, c, Some(idx), &msg);
                    return finish_reply(c, reply_start);
                }
            }
            None => {
                // Redis names the container as the client typed it (a renamed CONFIG says
                // "Try CFG HELP.") and, having found no command, counts no rejected call.
                let sub = String::from_utf8_lossy(args.get(1));
                let sub: String = sub.chars().take(128).collect();
                let msg = format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    sub,
                    String::from_utf8_lossy(args.get(0)).to_ascii_uppercase()
                );
                reject(srv, c, None, &msg);
                return finish_reply(c, reply_start);
            }
        }
    }
    // DEBUG and MODULE LOAD/LOADEX/UNLOAD behind enable-debug-command / enable-module-command:
    // refused before authentication, ACLs and MULTI queueing, as a rejected call.
    if meta.flags & meta::FLAG_PROTECTED != 0 {
        if let Some(msg) = server_cmds::protected_refusal(srv, c, meta.name) {
            reject(srv, c, Some(idx), msg);
            return finish_reply(c, reply_start);
        }
    }
    if meta.flags & meta::FLAG_NO_AUTH == 0 && srv.auth_required(c) {
        reject(srv, c, Some(idx), "NOAUTH Authentication required.");
        return finish_reply(c, reply_start);
    }
    // A script's shebang flags stand for EVAL's own (evalGetCommandFlags).
    let flags = if meta.group == "scripting"
        && (meta.name.starts_with("eval") || meta.name.starts_with("fcall"))
    {
        crate::scripting::command_flags(srv, args, meta.flags)
    } else {
        meta.flags
    };
    // Transactions and Pub/Sub (crate::multi, crate::pubsub): commands Redis forbids inside
    // MULTI, and the short command list of a RESP2 connection in subscribed mode.
    if c.multi.is_some() && meta.flags & meta::FLAG_NO_MULTI != 0 {
        reject(
            srv,
            c,
            Some(idx),
            "ERR Command not allowed inside a transaction",
        );
        return finish_reply(c, reply_start);
    }
    // ACLs (crate::acl): the user may run this command on these keys and channels. Free for
    // an unrestricted user (one flag on the user).
    if let Some(denied) = acl::check(srv, c, idx, args) {
        let ctx = if c.multi.is_some() {
            acl::CTX_MULTI
        } else {
            acl::CTX_TOPLEVEL
        };
        acl::log_denial(srv, c, denied, ctx, args, meta, None, None);
        let msg = acl::denied_error(denied, meta);
        reject(srv, c, Some(idx), &msg);
        return finish_reply(c, reply_start);
    }
    // Cluster mode (crate::cluster::redirect): the keys must be served here, or the client
    // is sent where they are (-MOVED, -ASK) or told why not (-CROSSSLOT, -CLUSTERDOWN...).
    // A rejected EXEC discards the transaction and answers the redirection itself.
    if srv.cluster.is_some() {
        if let Some(r) = crate::cluster::redirect::check(srv, c, idx, args) {
            let msg = crate::cluster::redirect::error_text(srv, c, &r);
            if meta.name == "exec" {
                crate::multi::discard_transaction(srv, c);
            } else {
                crate::multi::flag_transaction(c);
            }
            c.out.err(&msg);
            srv.commands.cmds[idx].stat.rejected_calls += 1;
            count_errors(srv, c);
            return finish_reply(c, reply_start);
        }
    }
    // maxmemory (crate::evict): evict before every command while a limit is set; when
    // nothing more can be freed, deny-OOM commands (and anything queued in MULTI) fail.
    if srv.config.maxmemory != 0 && !srv.scripting.timed_out {
        let oom = oom_rejects(srv, c, meta, flags);
        // Invalidations of the keys just evicted come before the reply.
        flush_tracking_before_reply(srv, c, &mut reply_start);
        if oom {
            reject(srv, c, Some(idx), crate::evict::OOM_ERROR);
            return finish_reply(c, reply_start);
        }
    }
    // Client-side caching keeps its table within tracking-table-max-keys.
    if srv.tracking.clients > 0 {
        crate::tracking::limit_used_slots(srv);
        flush_tracking_before_reply(srv, c, &mut reply_start);
    }
    // A failed background save stops writes (stop-writes-on-bgsave-error), and so does a
    // failed AOF write: write commands, an EXEC with a write queued, and PING get MISCONF.
    if crate::persistence::writes_denied(srv) {
        let writes = flags & meta::FLAG_WRITE != 0
            || exec_queues(srv, c, meta, |f| f & meta::FLAG_WRITE != 0);
        if writes || meta.name == "ping" {
            let err = crate::persistence::writes_denied_error(srv);
            reject(srv, c, Some(idx), &err);
            return finish_reply(c, reply_start);
        }
    }
    if c.subs.is_some() && !c.out.resp3 && c.in_pubsub() && !allowed_when_subscribed(meta.name) {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            meta.name
        );
        reject(srv, c, Some(idx), &msg);
        return finish_reply(c, reply_start);
    }
    // A script past busy-reply-threshold (crate::scripting): only the commands flagged
    // allow-busy run (SCRIPT KILL, SHUTDOWN, and the transaction commands).
    if srv.scripting.timed_out && meta.flags & meta::FLAG_ALLOW_BUSY == 0 {
        reject(srv, c, Some(idx), crate::scripting::busy_error(srv));
        return finish_reply(c, reply_start);
    }
    // A monitor is a replica to Redis (CLIENT_SLAVE): it may not read or write keys, nor run
    // what may replicate (PUBLISH). Its queued commands were refused the same way, so an
    // EXEC has nothing of the kind to run.
    if c.monitor
        && meta.flags & (meta::FLAG_READONLY | meta::FLAG_WRITE | meta::FLAG_MAY_REPLICATE) != 0
    {
        reject(
            srv,
            c,
            Some(idx),
            "ERR Replica can't interact with the keyspace",
        );
        return finish_reply(c, reply_start);
    }
    // Replication (crate::replication): writes need min-replicas-to-write good replicas; a
    // replica whose link is down answers only stale-allowed commands unless
    // replica-serve-stale-data.
    let is_write =
        flags & meta::FLAG_WRITE != 0 || exec_queues(srv, c, meta, |f| f & meta::FLAG_WRITE != 0);
    if is_write
        && srv.config.min_replicas_to_write > 0
        && !crate::replication::enough_good_replicas(srv)
    {
        reject(
            srv,
            c,
            Some(idx),
            "NOREPLICAS Not enough good replicas to write.",
        );
        return finish_reply(c, reply_start);
    }
    if !srv.config.replica_serve_stale_data
        && srv
            .repl
            .master
            .as_ref()
            .is_some_and(|m| m.state != crate::replication::replica::LinkState::Connected)
    {
        let deny_stale = flags & meta::FLAG_STALE == 0
            || exec_queues(srv, c, meta, |f| f & meta::FLAG_STALE == 0);
        if deny_stale {
            reject(
                srv,
                c,
                Some(idx),
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            );
            return finish_reply(c, reply_start);
        }
    }
    // A read-only replica takes writes only from its master (the stream) and the AOF.
    if srv.config.replica_read_only
        && srv.repl.is_replica()
        && !c.master_link
        && flags & meta::FLAG_WRITE != 0
    {
        reject(
            srv,
            c,
            Some(idx),
            "READONLY You can't write against a read only replica.",
        );
        return finish_reply(c, reply_start);
    }
    if (srv.pause_until_ms != 0 && paused_for(srv, c, meta, flags))
        || (crate::replication::failover::pauses_writes(srv) && holds_writes(srv, c, meta, flags))
    {
        // Postponed (blockClient BLOCKED_POSTPONE): the command stays in the query buffer
        // and the client waits in arrival order; it counts as blocked meanwhile.
        if !c.postponed {
            c.postponed = true;
            srv.paused_clients.push(c.token);
        }
        c.last_cmd = meta.name;
        return false;
    }
    if c.reply_mode == ReplyMode::Off || c.reply_mode == ReplyMode::Skip {
        reply_start = c.out.buf.len();
    }
    // Inside MULTI everything but the transaction commands (and QUIT/RESET) is queued.
    if c.multi.is_some() && !runs_inside_multi(meta.name) {
        crate::multi::queue_command(srv, c, idx, args);
        return finish_reply(c, reply_start);
    }
    // A MIGRATE in flight holds its keys (crate::commands::migrate): a command on one of
    // them waits until it ends, as it would have run before or after Redis's atomic MIGRATE.
    if !srv.migrate.busy_keys.is_empty()
        && !c.master_link
        && migrate::touches_busy_key(srv, c, idx, args)
    {
        if !c.postponed {
            c.postponed = true;
            srv.migrate.postponed.push(c.token);
        }
        c.last_cmd = meta.name;
        return false;
    }
    call(srv, c, idx, args);
    // ASKING covers the next command only (resetClient), or a whole transaction.
    if c.cluster_asking && c.multi.is_none() && meta.name != "asking" {
        c.cluster_asking = false;
    }
    c.woff = srv.repl.master_repl_offset;
    if !srv.blocking.ready.is_empty() {
        crate::server::blocked::handle_ready_keys(srv);
    }
    finish_reply(c, reply_start);
    // Its own invalidations (a whole EXEC's) follow its reply.
    if srv.tracking.has_deferred() {
        crate::tracking::flush_deferred(srv, c);
    }
    // Pub/Sub messages for this client produced after its command returned (blocked
    // clients served above) or while its replies are discarded: they go out last.
    if !srv.pubsub.held.is_empty() {
        crate::pubsub::flush_held(srv, c, None);
        srv.pubsub.held.clear();
    }
    true
}

/// True when `meta` is EXEC and the transaction queued a command whose flags satisfy `pred`
/// (the gates that judge an EXEC by what it will run).
fn exec_queues(srv: &Server, c: &Client, meta: &CommandMeta, pred: impl Fn(u64) -> bool) -> bool {
    meta.name == "exec"
        && c.multi.as_ref().is_some_and(|m| {
            m.cmds
                .iter()
                .any(|q| pred(srv.commands.cmds[q.cmd].meta.flags))
        })
}

/// The maxmemory gate of processCommand: runs an eviction round and tells whether the
/// command must get the OOM error: memory is still over the limit with nothing left to
/// evict (or noeviction) and the command may grow memory (deny-oom flag, an EXEC with such a
/// command queued, or any command but EXEC/DISCARD/QUIT/RESET inside MULTI, since queuing
/// itself takes memory).
#[inline]
fn oom_rejects(srv: &mut Server, c: &Client, meta: &CommandMeta, flags: u64) -> bool {
    if crate::evict::perform_evictions(srv) != crate::evict::EvictResult::Fail {
        return false;
    }
    if flags & meta::FLAG_DENYOOM != 0 {
        return true;
    }
    match &c.multi {
        None => false,
        Some(m) => match meta.name {
            "exec" => m
                .cmds
                .iter()
                .any(|q| srv.commands.cmds[q.cmd].meta.flags & meta::FLAG_DENYOOM != 0),
            "discard" | "quit" | "reset" => false,
            _ => true,
        },
    }
}

/// Commands a RESP2 client in subscribed mode may run.
fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Commands executed at once inside MULTI instead of being queued.
fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Applies CLIENT REPLY OFF/SKIP: drops what the command wrote. Returns true (the command
/// was consumed) so gates can `return finish_reply(..)`.
#[inline]
fn finish_reply(c: &mut Client, reply_start: usize) -> bool {
    match c.reply_mode {
        ReplyMode::On | ReplyMode::SkipNext => {}
        ReplyMode::Off => c.out.truncate(reply_start),
        ReplyMode::Skip => {
            c.out.truncate(reply_start);
            c.reply_mode = ReplyMode::On;
        }
    }
    true
}

/// Redis's arity rule: positive is exact, negative is a minimum.
#[inline]
fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    let a = arity as i64;
    (a > 0 && argc == a) || (a < 0 && argc >= -a)
}

/// Executes a command and records its statistics (call()).
pub fn call(srv: &mut Server, c: &mut Client, idx: usize, args: &Args) {
    let cmd = &srv.commands.cmds[idx];
    let Some(handler) = cmd.handler else {
        return;
    };
    let meta = cmd.meta;
    // srv.cmd_time_ms was refreshed when this client's input was read: one clock read per
    // batch instead of one per command. The duration clock is chained: the reading that
    // ended the previous command of the batch starts this one (see util::clock).
    let start = match std::mem::take(&mut srv.cmd_clock) {
        0 => crate::util::clock::now(),
        t => t,
    };
    let reply_at = c.out.buf.len();
    // Client-side caching: this client is executing (a blocked client re-run for a ready
    // key becomes the current one meanwhile).
    let prev_current = std::mem::replace(&mut srv.tracking.current, c.id);
    let prev_executing = std::mem::replace(&mut srv.tracking.executing, true);
    // Propagation (crate::propagate): one test when nothing consumes the stream.
    if srv.prop.active {
        let outer = crate::propagate::before_call(srv);
        let dirty = srv.dirty;
        handler(srv, c, args);
        let is_exec = meta.name == "exec";
        crate::propagate::after_call(srv, c.db, is_exec, args, outer, dirty);
    } else {
        handler(srv, c, args);
    }
    srv.tracking.executing = prev_executing;
    srv.tracking.current = prev_current;
    // A tracking client may now cache the keys it read.
    if c.tracking.is_some() && meta.flags & meta::FLAG_READONLY != 0 {
        crate::tracking::remember_keys(srv, c, idx, args);
    }
    // Pub/Sub messages for this client itself (it is out of its slot while it runs) go
    // before its reply, where notify-then-reply handlers put them in Redis; so do tracking
    // messages other clients redirect to it.
    if !crate::pubsub::replies_discarded(c) {
        if !srv.pubsub.held.is_empty() {
            crate::pubsub::flush_held(srv, c, Some(reply_at));
        }
        if srv.tracking.has_deferred() {
            crate::tracking::flush_delivered(srv, c, Some(reply_at));
        }
    }
    let end = crate::util::clock::now();
    srv.cmd_clock = end;
    let dur = crate::util::clock::elapsed_us(start, end);
    // MONITOR sees a command after it ran, as Redis's call() feeds it: EXEC comes after the
    // commands it executed, and SELECT shows the db it selected.
    // A blocked command re-run for a ready key was already fed when it first arrived.
    // Scripts were fed before they ran (crate::scripting::eval), ahead of their commands.
    if !srv.monitors.is_empty()
        && !c.reprocessing_blocked
        && meta.flags & (meta::FLAG_ADMIN | meta::FLAG_SKIP_MONITOR) == 0
        && !matches!(
            meta.name,
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
        )
    {
        introspection::feed_monitors(srv, c, args);
    }
    c.last_cmd = meta.name;
    c.last_interaction_ms = srv.cmd_time_ms;
    let failed = count_errors(srv, c);
    let tracking = srv.config.latency_tracking;
    let cmd = &mut srv.commands.cmds[idx];
    // A command that parked its client is counted once, when it is served or times out.
    let parked = c.still_blocked || (c.blocked.is_some() && !c.reprocessing_blocked);
    if !parked {
        cmd.stat.calls += 1;
        cmd.stat.usec += dur;
        if tracking {
            cmd.record_latency(dur);
        }
    }
    if failed {
        cmd.stat.failed_calls += 1;
    }
    srv.stats.total_commands_processed += 1;
    // used_memory_peak is recorded after each command, before the eviction that runs before
    // the next one (as Redis's call()).
    let used = crate::server::alloc::used_memory() as u64;
    if used > srv.stats.peak_memory {
        srv.stats.peak_memory = used;
    }
    if meta.flags & meta::FLAG_SKIP_SLOWLOG == 0 {
        introspection::slowlog_push(srv, c, args, dur);
    }
    if srv.config.latency_monitor_threshold > 0 {
        let event = if meta.flags & meta::FLAG_FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        introspection::latency_add_sample(srv, event, dur / 1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time lookup agrees with a byte-by-byte scan of the names for every name
    /// in any letter case, and for near misses: each byte flipped by 0x20 (which turns `_`
    /// into DEL and letters into the other case), nudged by one, the name cut short or
    /// extended, and a renamed command longer than the compared words.
    #[test]
    fn name_index_matches_a_scan() {
        let t = CommandTable::with_renames(&renames(&[(
            "get",
            "a_much_longer_name_than_24_bytes_get",
        )]));
        let scan = |name: &[u8]| t.top_level().find(|&i| same_name(&t.cmds[i].name, name));
        let mut tried = 0;
        let names: Vec<Vec<u8>> = t.top_level().map(|i| t.cmds[i].name.to_vec()).collect();
        for name in &names {
            let upper = name.to_ascii_uppercase();
            let mut mixed = name.clone();
            for (k, b) in mixed.iter_mut().enumerate() {
                if k % 2 == 1 {
                    *b = b.to_ascii_uppercase();
                }
            }
            let mut cands = vec![name.clone(), upper, mixed];
            for k in 0..name.len() {
                for delta in [0x20u8, 1, 0xff] {
                    let mut m = name.clone();
                    m[k] = if delta == 0x20 {
                        m[k] ^ 0x20
                    } else {
                        m[k].wrapping_add(delta)
                    };
                    cands.push(m);
                }
            }
            cands.push(name[..name.len() - 1].to_vec());
            let mut longer = name.clone();
            longer.push(b'x');
            cands.push(longer);
            for c in cands {
                assert_eq!(t.lookup(&c), scan(&c), "{:?}", String::from_utf8_lossy(&c));
                tried += 1;
            }
        }
        assert!(tried > 1000);
        assert!(t.lookup(b"A_MUCH_LONGER_NAME_THAN_24_BYTES_GET").is_some());
        assert!(t.lookup(b"GeT").is_none());
        assert!(t.lookup(b"SPOP").is_some());
    }

    fn renames(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(o, n)| (o.as_bytes().to_vec(), n.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn renames_change_dispatch_names_only() {
        let plain = CommandTable::new();
        let t = CommandTable::with_renames(&renames(&[
            ("GeT", "FeTcH"),
            ("fetch", "get2"),
            ("keys", ""),
            ("set", "SET"),
            ("eval", ""),
            ("config", "cfg"),
            ("lpush", "a|b"),
        ]));
        let get = plain.lookup(b"get").unwrap();
        assert_eq!(t.lookup(b"GET2"), Some(get));
        assert_eq!(t.lookup(b"get2"), Some(get));
        assert_eq!(t.cmds[get].meta.name, "get");
        for gone in [
            &b"get"[..],
            b"fetch",
            b"keys",
            b"eval",
            b"config",
            b"lpush",
            b"",
        ] {
            assert_eq!(t.lookup(gone), None, "{}", String::from_utf8_lossy(gone));
        }
        assert_eq!(t.lookup(b"set"), plain.lookup(b"set"));
        assert_eq!(t.lookup(b"A|B"), plain.lookup(b"lpush"));
        // Subcommands follow their renamed container; indexes are unchanged.
        let cfg = t.lookup(b"cfg").unwrap();
        assert_eq!(t.lookup_sub(cfg, b"GET"), plain.lookup_sub(cfg, b"get"));
        // Only the removed commands leave the top level; every other is still found.
        assert_eq!(t.top_level().count(), plain.top_level().count() - 2);
        for i in plain.top_level() {
            let name = plain.cmds[i].meta.name.as_bytes();
            let found = t.top_level().any(|j| j == i);
            assert_eq!(
                found,
                name != b"keys" && name != b"eval",
                "{}",
                plain.cmds[i].meta.name
            );
            if found && !matches!(name, b"get" | b"config" | b"lpush") {
                assert_eq!(t.lookup(&name.to_ascii_uppercase()), Some(i));
            }
        }
    }

    #[test]
    fn a_container_called_alone_runs_or_fails_its_arity() {
        // process_command dispatches a container named without a subcommand to the
        // container itself: it must have a handler (COMMAND) or an arity that refuses it.
        let t = CommandTable::new();
        for i in t.top_level() {
            let c = &t.cmds[i];
            if !c.subcommands.is_empty() && c.handler.is_none() {
                assert!(!arity_ok(c.meta.arity, 1), "{}", c.meta.name);
            }
        }
        let command = t.lookup(b"command").unwrap();
        assert!(t.cmds[command].handler.is_some() && arity_ok(t.cmds[command].meta.arity, 1));
    }

    #[test]
    fn lookup_by_full_name() {
        let t = CommandTable::new();
        let get = t.lookup(b"get");
        let config = t.lookup(b"config").unwrap();
        assert_eq!(t.lookup_fullname(b"GET"), get);
        assert_eq!(t.lookup_fullname(b"config"), Some(config));
        assert_eq!(
            t.lookup_fullname(b"Config|Get"),
            t.lookup_sub(config, b"get")
        );
        for bad in [
            &b"get|"[..],
            b"get|x",
            b"config|",
            b"config|get|x",
            b"nosuch",
            b"",
            b"|",
        ] {
            assert_eq!(
                t.lookup_fullname(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn impossible_renames_change_nothing() {
        let mut t = CommandTable::new();
        let (get, set) = (t.lookup(b"get").unwrap(), t.lookup(b"set").unwrap());
        assert!(!t.rename(b"nosuch", b"x"));
        assert!(!t.rename(b"get", b"SET"));
        assert!(!t.rename(b"config|get", b"x"));
        assert_eq!((t.lookup(b"get"), t.lookup(b"set")), (Some(get), Some(set)));
        assert!(t.rename(b"get", b"GET"));
        assert_eq!(t.lookup(b"get"), Some(get));
    }
}
