//! Access control lists (Redis 7.0's acl.c): users, their rules, and the permission check every
//! command passes before it runs.
//!
//! The user is data; every check is a pure function of (user, command, arguments), so the whole
//! model is tested here without a server:
//!
//! ```text
//!   Acl { users: slots [ default | alice | (free) | bob ... ],  by_name: BTreeMap name -> slot,
//!         log: ACL LOG entries, newest first }
//!     User { name, flags: on/off nopass sanitize-payload ..., passwords: SHA-256 hex,
//!            selectors: [ root | (selector) | (selector) ... ], unrestricted }
//!       Selector { flags: root allkeys allchannels allcommands,
//!                  allowed: one bit per command id (+ a last bit meaning "future commands"),
//!                  firstargs: id -> allowed argv[1] values (+select|0),
//!                  patterns: key patterns with %R / %W permissions, channels: patterns }
//! ```
//!
//! A client holds the slot of its user. A command is allowed when one selector allows all of it
//! (the command bit, every key with the access the key spec says, every channel); the refusal
//! reported is the most specific one (a channel over a key over the command). A user whose root
//! selector has allcommands, allkeys and allchannels can run everything: `unrestricted` says so
//! and the dispatch path then checks nothing else (the default user, normally).
//!
//! Command ids cover Redis's whole 7.0 table (meta.rs), not only what this server implements,
//! so rules name every command the oracle knows and categories hold the same members.

use crate::commands::meta::{self, CommandMeta};
use crate::util::glob::glob_match;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::OnceLock;

/// Bits in a selector's command bitmap (Redis's USER_COMMAND_BITS_COUNT); the last one is never a
/// command: +@all sets it, so a selector that started from everything can say so.
const COMMAND_BITS: usize = 1024;
const WORDS: usize = COMMAND_BITS / 64;
const FUTURE_BIT: usize = COMMAND_BITS - 1;

// Selector flags.
const SEL_ROOT: u8 = 1;
const SEL_ALLKEYS: u8 = 2;
/// Also the value of acl-pubsub-default allchannels.
pub const SEL_ALLCHANNELS: u8 = 4;
const SEL_ALLCOMMANDS: u8 = 8;

// Key pattern permissions.
const PERM_READ: u8 = 1;
const PERM_WRITE: u8 = 2;
const PERM_ALL: u8 = PERM_READ | PERM_WRITE;

// User flags, in the order ACL LIST and GETUSER show them.
const U_ENABLED: u8 = 1;
const U_DISABLED: u8 = 2;
const U_NOPASS: u8 = 4;
const U_SKIP_SANITIZE: u8 = 8;
const U_SANITIZE: u8 = 16;
const USER_FLAGS: &[(&str, u8)] = &[
    ("on", U_ENABLED),
    ("off", U_DISABLED),
    ("nopass", U_NOPASS),
    ("skip-sanitize-payload", U_SKIP_SANITIZE),
    ("sanitize-payload", U_SANITIZE),
];

// ---------------------------------------------------------------------------------------------
// Command ids

/// Every command and subcommand of the table, numbered: the bit each takes in a selector.
struct Ids {
    metas: Vec<&'static CommandMeta>,
    /// For each id, its subcommands' ids (empty for plain commands and subcommands).
    subs: Vec<Vec<usize>>,
    /// For each id, whether it is a subcommand.
    is_sub: Vec<bool>,
    /// Top-level ids in table order (sorted by name).
    top: Vec<usize>,
    /// Full name ("config|get") -> id.
    by_name: HashMap<&'static str, usize>,
    /// For each id, which arguments are channels: `CHAN_*`.
    chan: Vec<u8>,
    /// For each id, whether calls may name keys (doesCommandHaveKeys).
    has_keys: Vec<bool>,
}

const CHAN_NONE: u8 = 0;
/// PUBLISH, SPUBLISH: argv[1].
const CHAN_FIRST: u8 = 1;
/// SUBSCRIBE, SSUBSCRIBE: every argument.
const CHAN_ALL: u8 = 2;
/// PSUBSCRIBE: every argument, compared literally with the allowed patterns.
const CHAN_PATTERNS: u8 = 3;

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let mut t = Ids {
            metas: Vec::new(),
            subs: Vec::new(),
            is_sub: Vec::new(),
            top: Vec::new(),
            by_name: HashMap::new(),
            chan: Vec::new(),
            has_keys: Vec::new(),
        };
        for cmd in meta::COMMANDS {
            let id = t.metas.len();
            t.metas.push(cmd);
            t.subs.push(Vec::new());
            t.is_sub.push(false);
            t.top.push(id);
            t.by_name.insert(cmd.name, id);
            for sub in cmd.subcommands {
                let sid = t.metas.len();
                t.metas.push(sub);
                t.subs.push(Vec::new());
                t.is_sub.push(true);
                t.subs[id].push(sid);
                t.by_name.insert(sub.name, sid);
            }
        }
        assert!(
            t.metas.len() < FUTURE_BIT,
            "command ids overflow the ACL bitmap"
        );
        t.chan = t
            .metas
            .iter()
            .map(|m| match m.name {
                "publish" | "spublish" => CHAN_FIRST,
                "subscribe" | "ssubscribe" => CHAN_ALL,
                "psubscribe" => CHAN_PATTERNS,
                _ => CHAN_NONE,
            })
            .collect();
        t.has_keys = t
            .metas
            .iter()
            .map(|m| crate::commands::getkeys::has_keys(m))
            .collect();
        t
    })
}

/// The ACL id of a command (its bit in every selector).
pub fn command_id(m: &CommandMeta) -> usize {
    ids().by_name[m.name]
}

/// Finds a command by full name as ACL rules name it (ACLLookupCommand): any letter case, one
/// `|` at most, and a subcommand only under a container.
fn lookup(name: &[u8]) -> Option<usize> {
    meta::lookup_fullname(name).map(command_id)
}

/// The category bit named `name` (any letter case), if there is one.
fn category(name: &[u8]) -> Option<u64> {
    meta::ACL_CATEGORIES
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, f)| f)
}

/// ACL CAT <category>: the full names of the commands in a category, or None if it is unknown.
pub fn category_commands(name: &[u8]) -> Option<Vec<&'static str>> {
    let flag = category(name)?;
    let t = ids();
    Some(
        t.metas
            .iter()
            .filter(|m| m.acl_categories & flag != 0)
            .map(|m| m.name)
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Errors of the rule parser

/// Why a rule was refused (the errno values of ACLSetUser and the text ACLSetUserStringError
/// gives each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// EINVAL.
    Syntax,
    /// ENOENT.
    UnknownName,
    /// EEXIST.
    KeyAfterAll,
    /// EISDIR.
    ChannelAfterAll,
    /// ENODEV.
    NoSuchPassword,
    /// EBADMSG.
    BadHash,
    /// ECHILD.
    FirstArgOfSub,
    /// EALREADY.
    Duplicate,
}

impl RuleError {
    /// The message Redis gives for this error.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
            RuleError::Duplicate => "Duplicate user found. A user can only be defined once in config files",
        }
    }
}

/// True when `s` has a space character (C isspace) or a NUL: such names and patterns are refused.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
}

/// The SHA-256 of a password as 64 lowercase hex digits (ACLHashPassword).
pub fn hash_password(p: &[u8]) -> String {
    crate::config::sha256_hex(p)
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|&c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Comparison whose time does not depend on where the inputs differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

// ---------------------------------------------------------------------------------------------
// Selectors

/// A key pattern and the access it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeyPattern {
    perm: u8,
    pattern: Vec<u8>,
}

impl KeyPattern {
    fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.perm {
            PERM_READ => b"%R~",
            PERM_WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// One set of permissions: a user passes a check when any of its selectors does.
#[derive(Clone, Debug)]
pub struct Selector {
    flags: u8,
    allowed: [u64; WORDS],
    /// Allowed first arguments of otherwise denied commands, by command id (in the order added).
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    patterns: Vec<KeyPattern>,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    /// An empty selector (no commands, keys or channels) with the acl-pubsub-default flag.
    fn new(flags: u8, pubsub_default: u8) -> Selector {
        Selector {
            flags: flags | pubsub_default,
            allowed: [0; WORDS],
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[inline]
    fn bit(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.flags &= !SEL_ALLCOMMANDS;
        }
    }

    /// Allows or denies a command, and with a container every subcommand (ACLChangeSelectorPerm).
    fn change_perm(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        for &s in &ids().subs[id] {
            self.set_bit(s, allow);
        }
    }

    /// +@cat / -@cat: every command of the category, a container taking its subcommands with it
    /// before the subcommands' own categories are looked at.
    fn set_category(&mut self, flag: u64, allow: bool) {
        let t = ids();
        for &id in &t.top {
            if t.metas[id].acl_categories & flag != 0 {
                self.change_perm(id, allow);
            }
            for &s in &t.subs[id] {
                if t.metas[s].acl_categories & flag != 0 {
                    self.change_perm(s, allow);
                }
            }
        }
    }

    /// (allowed, denied) commands of a category.
    fn count_category(&self, flag: u64) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (id, m) in ids().metas.iter().enumerate() {
            if m.acl_categories & flag != 0 {
                if self.bit(id) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    fn all_commands(&mut self, on: bool) {
        self.allowed = [if on { u64::MAX } else { 0 }; WORDS];
        if on {
            self.flags |= SEL_ALLCOMMANDS;
        } else {
            self.flags &= !SEL_ALLCOMMANDS;
        }
        self.firstargs.clear();
    }

    /// Applies one selector rule (ACLSetSelector).
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Err(RuleError::Syntax);
        }
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if is("allkeys") || is("~*") {
            self.flags |= SEL_ALLKEYS;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.flags &= !SEL_ALLKEYS;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.flags |= SEL_ALLCHANNELS;
            self.channels.clear();
        } else if is("resetchannels") {
            self.flags &= !SEL_ALLCHANNELS;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.all_commands(true);
        } else if is("nocommands") || is("-@all") {
            self.all_commands(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            if self.flags & SEL_ALLKEYS != 0 {
                return Err(RuleError::KeyAfterAll);
            }
            let mut perm = 0;
            let mut at = 1;
            if op[0] == b'%' {
                while at < op.len() {
                    match op[at].to_ascii_uppercase() {
                        b'R' if perm & PERM_READ == 0 => perm |= PERM_READ,
                        b'W' if perm & PERM_WRITE == 0 => perm |= PERM_WRITE,
                        b'~' => {
                            at += 1;
                            break;
                        }
                        _ => return Err(RuleError::Syntax),
                    }
                    at += 1;
                }
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
            } else {
                perm = PERM_ALL;
            }
            let pattern = &op[at.min(op.len())..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => p.perm |= perm,
                None => self.patterns.push(KeyPattern {
                    perm,
                    pattern: pattern.to_vec(),
                }),
            }
            self.flags &= !SEL_ALLKEYS;
        } else if op[0] == b'&' {
            if self.flags & SEL_ALLCHANNELS != 0 {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.flags &= !SEL_ALLCHANNELS;
        } else if op[0] == b'+' && op.get(1) != Some(&b'@') {
            let name = &op[1..];
            match name.iter().rposition(|&b| b == b'|') {
                None => {
                    let id = lookup(name).ok_or(RuleError::UnknownName)?;
                    self.change_perm(id, true);
                }
                Some(bar) => {
                    let (base, first) = (&name[..bar], &name[bar + 1..]);
                    let id = lookup(base).ok_or(RuleError::UnknownName)?;
                    let t = ids();
                    if t.is_sub[id] {
                        return Err(RuleError::FirstArgOfSub);
                    }
                    if first.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !t.subs[id].is_empty() {
                        let sid = lookup(name).ok_or(RuleError::UnknownName)?;
                        self.change_perm(sid, true);
                    } else {
                        crate::log_warning!(
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                            String::from_utf8_lossy(name)
                        );
                        let list = self.firstargs.entry(id).or_default();
                        if !list.iter().any(|a| a.eq_ignore_ascii_case(first)) {
                            list.push(first.to_vec());
                        }
                    }
                }
            }
        } else if op[0] == b'-' && op.get(1) != Some(&b'@') {
            let id = lookup(&op[1..]).ok_or(RuleError::UnknownName)?;
            self.change_perm(id, false);
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let flag = category(&op[2..]).ok_or(RuleError::UnknownName)?;
            self.set_category(flag, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// The rules that rebuild this selector's command bitmap (ACLDescribeSelectorCommandRules):
    /// +@all or -@all, then the categories that fit best, then single commands. Redis lists
    /// the single commands in the order of a hash table seeded per process; here they come in
    /// table order (containers before their subcommands).
    fn describe_commands(&self) -> Vec<u8> {
        let mut rules = Vec::new();
        let mut fake = Selector::new(0, 0);
        let additive = !self.bit(FUTURE_BIT);
        if additive {
            rules.extend_from_slice(b"-@all ");
        } else {
            rules.extend_from_slice(b"+@all ");
            fake.all_commands(true);
        }
        // Best-fit categories, each applied once: the one with fewest differences among those
        // sharing more commands with the user than not.
        let mut temp = Selector::new(0, 0);
        temp.allowed = self.allowed;
        let mut applied = [false; 32];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, &(_, flag)) in meta::ACL_CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(flag);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let (name, flag) = meta::ACL_CATEGORIES[j];
            fake.set_category(flag, additive);
            temp.set_category(flag, !additive);
            rules.push(if additive { b'+' } else { b'-' });
            rules.push(b'@');
            rules.extend_from_slice(name.as_bytes());
            rules.push(b' ');
            applied[j] = true;
        }
        // Single commands.
        let t = ids();
        for &top in &t.top {
            for id in std::iter::once(top).chain(t.subs[top].iter().copied()) {
                let user = self.bit(id);
                if user != fake.bit(id) {
                    rules.push(if user { b'+' } else { b'-' });
                    rules.extend_from_slice(t.metas[id].name.as_bytes());
                    rules.push(b' ');
                    fake.change_perm(id, user);
                }
            }
            if !self.bit(top) {
                for a in self.firstargs.get(&top).into_iter().flatten() {
                    rules.push(b'+');
                    rules.extend_from_slice(t.metas[top].name.as_bytes());
                    rules.push(b'|');
                    rules.extend_from_slice(a);
                    rules.push(b' ');
                }
            }
        }
        rules.pop();
        debug_assert!(
            fake.allowed == self.allowed,
            "ACL rules do not rebuild the bitmap"
        );
        rules
    }

    /// Keys as GETUSER shows them.
    fn describe_keys(&self) -> Vec<u8> {
        if self.flags & SEL_ALLKEYS != 0 {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            p.describe(&mut out);
        }
        out
    }

    /// Channels as GETUSER shows them.
    fn describe_channels(&self) -> Vec<u8> {
        if self.flags & SEL_ALLCHANNELS != 0 {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    /// Keys, channels and commands as ACL LIST shows them (ACLDescribeSelector).
    fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.flags & SEL_ALLKEYS != 0 {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                p.describe(&mut out);
                out.push(b' ');
            }
        }
        if self.flags & SEL_ALLCHANNELS != 0 {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
        out
    }

    /// May this selector touch `key` with the access the key spec flags say?
    fn check_key(&self, key: &[u8], spec_flags: u32) -> bool {
        if self.flags & SEL_ALLKEYS != 0 {
            return true;
        }
        let mut need = 0;
        if spec_flags & meta::KEY_ACCESS != 0 {
            need |= PERM_READ;
        }
        if spec_flags & (meta::KEY_INSERT | meta::KEY_DELETE | meta::KEY_UPDATE) != 0 {
            need |= PERM_WRITE;
        }
        self.patterns
            .iter()
            .any(|p| p.perm & need == need && glob_match(&p.pattern, key, false))
    }

    /// May this selector use `channel`: matched as a glob, or, for a pattern subscription,
    /// compared literally with the allowed patterns.
    fn check_channel(&self, channel: &[u8], literal: bool) -> bool {
        self.flags & SEL_ALLCHANNELS != 0
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob_match(p, channel, false)
                }
            })
    }

    /// ACLSelectorCheckCmd.
    fn check_cmd(
        &self,
        id: usize,
        m: &CommandMeta,
        argv: &[&[u8]],
        keys: &mut Option<Vec<crate::commands::getkeys::KeyRef>>,
    ) -> Result<(), Denied> {
        if self.flags & SEL_ALLCOMMANDS == 0 && m.flags & meta::FLAG_NO_AUTH == 0 && !self.bit(id) {
            let idx = if ids().is_sub[id] { 2 } else { 1 };
            let ok = argv.len() >= 2
                && self.firstargs.get(&id).is_some_and(|list| {
                    argv.get(idx)
                        .is_some_and(|a| list.iter().any(|x| x.eq_ignore_ascii_case(a)))
                });
            if !ok {
                return Err(Denied::Command);
            }
        }
        if self.flags & SEL_ALLKEYS == 0 && ids().has_keys[id] {
            let keys = keys.get_or_insert_with(|| crate::commands::getkeys::get_keys(m, argv));
            for k in keys.iter() {
                if !self.check_key(argv[k.pos], k.flags) {
                    return Err(Denied::Key(k.pos));
                }
            }
        }
        if self.flags & SEL_ALLCHANNELS == 0 {
            let (range, literal) = match ids().chan[id] {
                CHAN_FIRST => (1..2.min(argv.len()), false),
                CHAN_ALL => (1..argv.len(), false),
                CHAN_PATTERNS => (1..argv.len(), true),
                _ => (0..0, false),
            };
            for j in range {
                if !self.check_channel(argv[j], literal) {
                    return Err(Denied::Channel(j));
                }
            }
        }
        Ok(())
    }
}

/// Why a command was refused, with the argv index of the key or channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The command (ACL_DENIED_CMD).
    Command,
    /// A key (ACL_DENIED_KEY).
    Key(usize),
    /// Failed authentication (ACL_DENIED_AUTH).
    Auth,
    /// A channel (ACL_DENIED_CHANNEL).
    Channel(usize),
}

impl Denied {
    /// Redis's precedence (the ACL_DENIED_* values): channel > auth > key > command.
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Auth => (3, 0),
            Denied::Channel(i) => (4, i),
        }
    }

    /// ACL LOG's reason field.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key(_) => "key",
            Denied::Auth => "auth",
            Denied::Channel(_) => "channel",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Users

/// A user: flags, password hashes, and its selectors (the first is the root).
#[derive(Clone, Debug)]
pub struct User {
    /// The user name.
    pub name: Vec<u8>,
    flags: u8,
    passwords: Vec<String>,
    selectors: Vec<Selector>,
    /// The root selector allows every command, key and channel: nothing needs checking.
    pub unrestricted: bool,
}

impl User {
    /// A new user: off, no password, no permissions (ACLCreateUser).
    pub fn new(name: &[u8], pubsub_default: u8) -> User {
        User {
            name: name.to_vec(),
            flags: U_DISABLED,
            passwords: Vec::new(),
            selectors: vec![Selector::new(SEL_ROOT, pubsub_default)],
            unrestricted: false,
        }
    }

    /// The default user as Redis creates it: on, nopass, everything allowed.
    pub fn new_default(pubsub_default: u8) -> User {
        let mut u = User::new(b"default", pubsub_default);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(op.as_bytes(), pubsub_default);
        }
        u
    }

    fn root(&mut self) -> &mut Selector {
        &mut self.selectors[0]
    }

    /// True when the user may log in.
    pub fn enabled(&self) -> bool {
        self.flags & U_DISABLED == 0
    }

    /// True when the user needs no password.
    pub fn nopass(&self) -> bool {
        self.flags & U_NOPASS != 0
    }

    /// Applies one rule (ACLSetUser); an empty rule does nothing.
    pub fn apply(&mut self, op: &[u8], pubsub_default: u8) -> Result<(), RuleError> {
        let r = self.apply_inner(op, pubsub_default);
        let root = &self.selectors[0];
        let all = SEL_ALLKEYS | SEL_ALLCHANNELS | SEL_ALLCOMMANDS;
        self.unrestricted = root.flags & all == all;
        r
    }

    fn apply_inner(&mut self, op: &[u8], pubsub_default: u8) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if is("on") {
            self.flags = (self.flags | U_ENABLED) & !U_DISABLED;
        } else if is("off") {
            self.flags = (self.flags | U_DISABLED) & !U_ENABLED;
        } else if is("skip-sanitize-payload") {
            self.flags = (self.flags | U_SKIP_SANITIZE) & !U_SANITIZE;
        } else if is("sanitize-payload") {
            self.flags = (self.flags | U_SANITIZE) & !U_SKIP_SANITIZE;
        } else if is("nopass") {
            self.flags |= U_NOPASS;
            self.passwords.clear();
        } else if is("resetpass") {
            self.flags &= !U_NOPASS;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.flags &= !U_NOPASS;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else {
                if !valid_hash(&op[1..]) {
                    return Err(RuleError::BadHash);
                }
                String::from_utf8_lossy(&op[1..]).into_owned()
            };
            match self.passwords.iter().position(|p| *p == hash) {
                Some(i) => {
                    self.passwords.remove(i);
                }
                None => return Err(RuleError::NoSuchPassword),
            }
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(0, pubsub_default);
            let inner = &op[1..op.len() - 1];
            let args = crate::util::splitargs::split_args(inner).unwrap_or_default();
            for a in &args {
                s.apply(a)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for r in ["resetpass", "resetkeys", "resetchannels"] {
                let _ = self.apply_inner(r.as_bytes(), pubsub_default);
            }
            if pubsub_default & SEL_ALLCHANNELS != 0 {
                let _ = self.apply_inner(b"allchannels", pubsub_default);
            }
            for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                let _ = self.apply_inner(r.as_bytes(), pubsub_default);
            }
        } else {
            self.root().apply(op)?;
        }
        Ok(())
    }

    /// True when `pass` logs this user in (ACLCheckUserCredentials, the user being known).
    pub fn check_password(&self, pass: &[u8]) -> bool {
        if !self.enabled() {
            return false;
        }
        if self.nopass() {
            return true;
        }
        let h = hash_password(pass);
        // Every hash is compared, so the time does not tell which one matched.
        self.passwords
            .iter()
            .fold(false, |ok, p| ct_eq(p.as_bytes(), h.as_bytes()) | ok)
    }

    /// Everything about the user as ACL LIST and the ACL file write it (ACLDescribeUser),
    /// without the leading "user <name> ".
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for &(name, f) in USER_FLAGS {
            if self.flags & f != 0 {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        for (i, s) in self.selectors.iter().enumerate() {
            if i == 0 {
                out.extend_from_slice(&s.describe());
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&s.describe());
                out.push(b')');
            }
        }
        out
    }

    /// The names of the user's flags, in order (ACL GETUSER flags).
    pub fn flag_names(&self) -> Vec<&'static str> {
        USER_FLAGS
            .iter()
            .filter(|(_, f)| self.flags & f != 0)
            .map(|&(n, _)| n)
            .collect()
    }

    /// The password hashes.
    pub fn passwords(&self) -> &[String] {
        &self.passwords
    }

    /// (commands, keys, channels) of each selector, the root first (ACL GETUSER).
    pub fn selector_descriptions(&self) -> Vec<[Vec<u8>; 3]> {
        self.selectors
            .iter()
            .map(|s| {
                [
                    s.describe_commands(),
                    s.describe_keys(),
                    s.describe_channels(),
                ]
            })
            .collect()
    }

    /// ACLCheckAllUserCommandPerm: Ok when one selector allows the call, else the most
    /// specific refusal among the selectors.
    pub fn check(&self, m: &CommandMeta, argv: &[&[u8]]) -> Result<(), Denied> {
        self.check_id(command_id(m), m, argv)
    }

    /// `check` for a command whose ACL id the caller has (the command table keeps it).
    pub fn check_id(&self, id: usize, m: &CommandMeta, argv: &[&[u8]]) -> Result<(), Denied> {
        let mut keys = None;
        let mut worst = Denied::Command;
        for s in &self.selectors {
            match s.check_cmd(id, m, argv, &mut keys) {
                Ok(()) => return Ok(()),
                Err(d) => {
                    if d.rank() > worst.rank() {
                        worst = d;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Channel patterns of every selector, or None if one allows every channel.
    fn all_channel_patterns(&self) -> Option<Vec<&[u8]>> {
        let mut v = Vec::new();
        for s in &self.selectors {
            if s.flags & SEL_ALLCHANNELS != 0 {
                return None;
            }
            v.extend(s.channels.iter().map(|c| c.as_slice()));
        }
        Some(v)
    }

    /// ACLKillPubsubClientsIfNeeded's test: None when the new rules keep every channel the old
    /// ones allowed (nobody needs checking), else the new user's channel patterns, against
    /// which each subscribed client of the user must be checked.
    pub fn revoked_channels<'a>(&'a self, old: &User) -> Option<Vec<&'a [u8]>> {
        let upcoming = self.all_channel_patterns()?;
        let old_all: Vec<&[u8]> = old
            .selectors
            .iter()
            .flat_map(|s| s.channels.iter().map(|c| c.as_slice()))
            .collect();
        if old_all.iter().all(|c| upcoming.contains(c)) {
            return None;
        }
        Some(upcoming)
    }
}

/// True when `channel` passes a list of allowed patterns (ACLCheckChannelAgainstList).
pub fn channel_in(list: &[&[u8]], channel: &[u8], literal: bool) -> bool {
    list.iter().any(|p| {
        if literal {
            *p == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

/// Selector rules may be split over several arguments: `(~x` `+get)` is one selector
/// (ACLMergeSelectorArguments). Err gives the index of the argument that opened an unclosed
/// parenthesis.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, &op) in args.iter().enumerate() {
        if let Some((start, mut cur)) = open.take() {
            cur.push(b' ');
            cur.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(cur);
            } else {
                open = Some((start, cur));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

// ---------------------------------------------------------------------------------------------
// The user table and the log

/// An ACL LOG entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// How many times it happened (similar denials within a minute share an entry).
    pub count: u64,
    /// The refusal.
    pub reason: &'static str,
    /// "toplevel", "multi", "lua" or "module".
    pub context: &'static str,
    /// The command, key, channel or (for auth) the command name typed.
    pub object: Vec<u8>,
    /// The user the client was, or tried to be.
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub ctime_ms: i64,
    /// CLIENT INFO of the last client.
    pub client_info: String,
}

/// Entries closer than this share one log entry (ACL_LOG_GROUPING_MAX_TIME_DELTA).
const LOG_GROUPING_MS: i64 = 60_000;

/// Every user, and the ACL LOG.
pub struct Acl {
    users: Vec<Option<User>>,
    by_name: BTreeMap<Vec<u8>, usize>,
    /// ACL LOG, newest first.
    pub log: VecDeque<LogEntry>,
}

/// The slot of the default user; a client starts as it.
pub const DEFAULT_USER: usize = 0;

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

impl Acl {
    /// Only the default user.
    pub fn new() -> Acl {
        let mut by_name = BTreeMap::new();
        by_name.insert(b"default".to_vec(), DEFAULT_USER);
        Acl {
            users: vec![Some(User::new_default(0))],
            by_name,
            log: VecDeque::new(),
        }
    }

    /// Only the default user, with `requirepass` as its password (or nopass without one).
    pub fn with_default_password(pass: Option<&[u8]>) -> Acl {
        let mut acl = Acl::new();
        acl.set_default_password(pass);
        acl
    }

    /// requirepass: the default user's only password, or nopass (ACLUpdateDefaultUserPassword).
    pub fn set_default_password(&mut self, pass: Option<&[u8]>) {
        let d = self.user_mut(DEFAULT_USER);
        let _ = d.apply(b"resetpass", 0);
        match pass {
            Some(p) => {
                let mut op = b">".to_vec();
                op.extend_from_slice(p);
                let _ = d.apply(&op, 0);
            }
            None => {
                let _ = d.apply(b"nopass", 0);
            }
        }
    }

    /// The user in `slot` (a client's user always exists: deleting one moves its clients to
    /// the default user).
    #[inline]
    pub fn user(&self, slot: usize) -> &User {
        self.users[slot].as_ref().unwrap_or_else(|| {
            self.users[DEFAULT_USER]
                .as_ref()
                .expect("default user exists")
        })
    }

    /// The default user.
    pub fn default_user(&self) -> &User {
        self.user(DEFAULT_USER)
    }

    /// Mutable access to a user by slot.
    pub fn user_mut(&mut self, slot: usize) -> &mut User {
        self.users[slot].as_mut().expect("live user slot")
    }

    /// The slot of the user named `name`.
    pub fn find(&self, name: &[u8]) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Users in name order (as Redis's radix tree walks them).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &User)> {
        self.by_name.values().map(|&s| (s, self.user(s)))
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Always false: the default user exists.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Stores `u` under its name, replacing a user of the same name in place (its clients keep
    /// it); returns the slot.
    pub fn put(&mut self, u: User) -> usize {
        if let Some(slot) = self.find(&u.name) {
            self.users[slot] = Some(u);
            return slot;
        }
        let slot = match self.users.iter().position(|s| s.is_none()) {
            Some(i) => i,
            None => {
                self.users.push(None);
                self.users.len() - 1
            }
        };
        self.by_name.insert(u.name.clone(), slot);
        self.users[slot] = Some(u);
        slot
    }

    /// Removes a user; returns its slot (whose clients must go).
    pub fn remove(&mut self, name: &[u8]) -> Option<usize> {
        let slot = self.by_name.remove(name)?;
        self.users[slot] = None;
        Some(slot)
    }

    /// Replaces every user with `users` (ACL LOAD): the default user keeps its slot; returns
    /// the slots of every other old user, whose clients must go.
    pub fn replace_all(&mut self, users: Vec<User>, pubsub_default: u8) -> Vec<usize> {
        let old: Vec<usize> = self
            .by_name
            .values()
            .copied()
            .filter(|&s| s != DEFAULT_USER)
            .collect();
        let default = users
            .iter()
            .find(|u| u.name == b"default")
            .cloned()
            .unwrap_or_else(|| User::new_default(pubsub_default));
        self.users.clear();
        self.users.push(Some(default));
        self.by_name.clear();
        self.by_name.insert(b"default".to_vec(), DEFAULT_USER);
        for u in users {
            if u.name != b"default" {
                self.put(u);
            }
        }
        old
    }

    /// The ACL file's text (ACLSaveToFile): one line per user, in name order.
    pub fn file_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (_, u) in self.iter() {
            out.extend_from_slice(b"user ");
            out.extend_from_slice(&u.name);
            out.push(b' ');
            out.extend_from_slice(&u.describe());
            out.push(b'\n');
        }
        out
    }

    /// Adds a log entry (addACLLogEntry): a similar entry among the ten newest is bumped and
    /// moved to the front; otherwise the entry is added and the log trimmed to `max_len`.
    pub fn log_push(&mut self, e: LogEntry, max_len: usize) {
        let found = self.log.iter().take(10).position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && (x.ctime_ms - e.ctime_ms).abs() <= LOG_GROUPING_MS
                && x.object == e.object
                && x.username == e.username
        });
        match found {
            Some(i) => {
                let mut x = self.log.remove(i).expect("index in range");
                x.count += 1;
                x.ctime_ms = e.ctime_ms;
                x.client_info = e.client_info;
                self.log.push_front(x);
            }
            None => {
                self.log.push_front(e);
                self.log.truncate(max_len);
            }
        }
    }
}

/// Checks a redis.conf `user name rules...` directive (ACLAppendUserForLoading): a second
/// definition of a name, an unclosed selector, or a rule that fails for another reason than an
/// unknown command (commands are only known later, in Redis, once modules are loaded) is a
/// fatal config error. Redis names the argument at the failing rule's index counted from the
/// directive's start (`user`, name, rules...), so the wrong argument is quoted; so is it here.
pub fn check_user_directive(argv: &[Vec<u8>], loaded: &[Vec<Vec<u8>>]) -> Result<(), String> {
    let quote = |i: usize, e: RuleError| {
        format!(
            "Error in user declaration '{}': {}",
            String::from_utf8_lossy(argv.get(i).map_or(&[][..], |a| a.as_slice())),
            e.text()
        )
    };
    if loaded.iter().any(|u| u.first() == argv.get(1)) {
        return Err(quote(1, RuleError::Duplicate));
    }
    let rules: Vec<&[u8]> = argv[2..].iter().map(|a| a.as_slice()).collect();
    // An unclosed selector leaves errno as the last lookup set it in Redis: ENOENT.
    let merged = merge_selector_args(&rules).map_err(|i| quote(i, RuleError::UnknownName))?;
    let mut fake = User::new(b"__fakeuser__", 0);
    for (j, r) in merged.iter().enumerate() {
        match fake.apply(r, 0) {
            Ok(()) | Err(RuleError::UnknownName) => {}
            Err(e) => return Err(quote(j, e)),
        }
    }
    Ok(())
}

/// Parses an ACL file (ACLLoadFromFile): every line `user <name> rules...` or blank. Errors
/// are collected for the whole file, as Redis words them; any error means nothing loads.
pub fn parse_file(text: &[u8], filename: &str, pubsub_default: u8) -> Result<Vec<User>, String> {
    let mut errors = String::new();
    let mut users: Vec<User> = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(line, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        if argv.is_empty() {
            continue;
        }
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, pubsub_default);
        match merge_selector_args(&argv[2..]) {
            Err(_) => errors.push_str(&format!(
                "{filename}:{linenum}: Unmatched parenthesis in selector definition."
            )),
            Ok(rules) => {
                // An unknown command is named (it tells nothing secret); of the other errors
                // only the first of a line is reported, since it may explain the rest.
                let mut syntax_error = false;
                for r in rules {
                    let r = trim(&r, b"\t\r\n");
                    match u.apply(r, pubsub_default) {
                        Err(RuleError::UnknownName) => errors.push_str(&format!(
                            "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(r),
                            RuleError::UnknownName.text()
                        )),
                        Err(e) if !syntax_error => {
                            errors.push_str(&format!("{filename}:{linenum}: {}. ", e.text()));
                            syntax_error = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        users.push(u);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((&f, rest)) = s.split_first() {
        if !set.contains(&f) {
            break;
        }
        s = rest;
    }
    while let Some((&l, rest)) = s.split_last() {
        if !set.contains(&l) {
            break;
        }
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u", 0);
        for r in rules {
            u.apply(r.as_bytes(), 0).unwrap();
        }
        u
    }

    fn describe(rules: &[&str]) -> String {
        String::from_utf8(user(rules).describe()).unwrap()
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret1"));
        assert!(!ct_eq(b"", b"x"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn default_user_is_unrestricted() {
        let d = User::new_default(0);
        assert!(d.unrestricted);
        assert_eq!(d.describe(), b"on nopass ~* &* +@all");
        let mut d2 = d.clone();
        d2.apply(b"-get", 0).unwrap();
        assert!(!d2.unrestricted);
        assert_eq!(d2.describe(), b"on nopass ~* &* +@all -get");
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(&[]), "off resetchannels -@all");
        assert_eq!(
            describe(&["on", "~a*", "%R~b", "%W~c", "%RW~d", "&ch", "+@string", "-append"]),
            "on ~a* %R~b %W~c ~d resetchannels &ch -@all +@string -append"
        );
        assert!(
            describe(&["+@all", "-@dangerous"]).starts_with("off resetchannels +@all -@dangerous")
        );
        assert_eq!(
            describe(&["+select|0"]),
            "off resetchannels -@all +select|0"
        );
        assert_eq!(
            describe(&["reset"]),
            "off sanitize-payload resetchannels -@all"
        );
    }

    #[test]
    fn rule_errors() {
        let mut u = User::new(b"u", 0);
        let cases: &[(&str, RuleError)] = &[
            ("%", RuleError::Syntax),
            ("%~x", RuleError::Syntax),
            ("%RR~x", RuleError::Syntax),
            ("+config|get|x", RuleError::FirstArgOfSub),
            ("+get|", RuleError::Syntax),
            ("+nosuch", RuleError::UnknownName),
            ("+@nosuch", RuleError::UnknownName),
            ("<nopw", RuleError::NoSuchPassword),
            ("#abc", RuleError::BadHash),
            ("(foo)", RuleError::Syntax),
            ("bogus", RuleError::Syntax),
        ];
        for &(op, e) in cases {
            assert_eq!(u.apply(op.as_bytes(), 0), Err(e), "{op}");
        }
        u.apply(b"allkeys", 0).unwrap();
        assert_eq!(u.apply(b"~x", 0), Err(RuleError::KeyAfterAll));
    }

    #[test]
    fn checks() {
        let u = user(&[
            "on",
            "+get",
            "+set",
            "+publish",
            "+psubscribe",
            "~k*",
            "%R~r*",
            "&ch*",
        ]);
        let get = meta::lookup(b"get").unwrap();
        let set = meta::lookup(b"set").unwrap();
        let incr = meta::lookup(b"incr").unwrap();
        assert_eq!(u.check(get, &[b"get", b"k1"]), Ok(()));
        assert_eq!(u.check(get, &[b"get", b"r1"]), Ok(()));
        assert_eq!(u.check(set, &[b"set", b"r1", b"v"]), Err(Denied::Key(1)));
        assert_eq!(u.check(incr, &[b"incr", b"k1"]), Err(Denied::Command));
        let publish = meta::lookup(b"publish").unwrap();
        assert_eq!(u.check(publish, &[b"publish", b"ch1", b"m"]), Ok(()));
        assert_eq!(
            u.check(publish, &[b"publish", b"x", b"m"]),
            Err(Denied::Channel(1))
        );
        let psub = meta::lookup(b"psubscribe").unwrap();
        assert_eq!(u.check(psub, &[b"psubscribe", b"ch*"]), Ok(()));
        assert_eq!(
            u.check(psub, &[b"psubscribe", b"ch1"]),
            Err(Denied::Channel(1))
        );
    }

    #[test]
    fn merged_selectors() {
        let a: Vec<&[u8]> = vec![b"on", b"(~x", b"+get)", b"(+set)"];
        assert_eq!(
            merge_selector_args(&a).unwrap(),
            vec![b"on".to_vec(), b"(~x +get)".to_vec(), b"(+set)".to_vec()]
        );
        let b: Vec<&[u8]> = vec![b"on", b"(~x", b"+get"];
        assert_eq!(merge_selector_args(&b), Err(1));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        const OPS: &[&str] = &[
            "+@all",
            "-@all",
            "+@read",
            "-@read",
            "+@write",
            "-@write",
            "+@string",
            "-@string",
            "+@admin",
            "-@dangerous",
            "+@fast",
            "-@slow",
            "+@hash",
            "-@keyspace",
            "+get",
            "-get",
            "+config",
            "-config|set",
            "+config|get",
            "-client",
            "+client|list",
            "+select|0",
            "+select|1",
            "-select",
            "+debug|object",
            "~a*",
            "%R~b",
            "%W~c",
            "resetkeys",
            "allkeys",
            "&x",
            "resetchannels",
            "allchannels",
            "nopass",
            ">p",
            "resetpass",
            "on",
            "off",
            "(~z +get)",
            "(+@hash %R~h*)",
            "clearselectors",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// A user's description, applied to a new user, gives the same user back: the
            /// same description and the same answers (Redis asserts the bitmap matches).
            #[test]
            fn description_rebuilds_the_user(ops in proptest::collection::vec(0..OPS.len(), 0..12)) {
                let mut u = User::new(b"u", 0);
                for &i in &ops {
                    let _ = u.apply(OPS[i].as_bytes(), 0);
                }
                let text = u.describe();
                let words: Vec<&[u8]> = text.split(|&b| b == b' ').collect();
                let rules = merge_selector_args(&words).unwrap();
                let mut v = User::new(b"u", 0);
                for r in &rules {
                    v.apply(r, 0).unwrap();
                }
                let again = v.describe();
                prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&text));
                for s in 0..u.selectors.len() {
                    prop_assert!(u.selectors[s].allowed == v.selectors[s].allowed);
                }
                for cmd in [&b"get"[..], b"set", b"select", b"config"] {
                    let m = meta::lookup(cmd).unwrap();
                    for argv in [vec![cmd, b"a1"], vec![cmd, b"0"], vec![cmd, b"get", b"x"]] {
                        prop_assert_eq!(u.check(m, &argv), v.check(m, &argv));
                    }
                }
            }
        }
    }
}
