#!/usr/bin/env python3
"""Generate src/commands/meta.rs (ferrodis's command table data) from a live redis-server 7.0.15.

Redis 7.0 keeps its command table as data (src/commands/*.json -> commands.c). We take the same
data from the oracle itself instead of from the JSON files, so that the replies we send for
COMMAND INFO / COMMAND DOCS are exactly the ones the real server sends:

    python3 utils/gen_command_meta.py 7391            # regenerate src/commands/meta.rs
    python3 utils/gen_command_meta.py --check 7391    # compare every reply byte for byte

Generation connects with a raw socket, switches to RESP3 with `HELLO 3` (so sets, maps and status
strings keep their types), reads `COMMAND INFO` and `COMMAND DOCS` for all commands, and writes one
Rust block per command (subcommands first, then their container).

`--check` builds a tiny program (a scratch crate that includes the real doc.rs and meta.rs by path)
that prints, for every command and subcommand, the RESP2 and RESP3 bytes of its generated INFO and
DOCS trees; it then asks the oracle `COMMAND INFO <name>` / `COMMAND DOCS <name>` over both
protocols, prints every difference (with the first differing byte) and every command that exists
on one side only, and exits with status 1 if there was any. Redis lists a container's
subcommands in a per-process random order; those replies are compared with the subcommands put
in name order on both sides (each subcommand's own reply is still compared byte for byte).

Standard library only. The oracle should be a fresh server (`redis-server --port N --save ''`)
with no modules loaded, otherwise module commands would end up in the table.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile

EXPECTED_VERSION = "7.0.15"

# Command flags as (name, bit, reported, meaning): bits at the positions of Redis 7.0's CMD_* in
# server.h, listed in the order a COMMAND INFO reply lists them (addReplyFlagsForCommand);
# `reported` is False for the flags 7.0 deliberately hides from COMMAND INFO.
FLAGS = [
    ("write", 0, True, "May modify the keyspace"),
    ("readonly", 1, True, "Only reads keys"),
    ("denyoom", 2, True, "May grow memory, so it is refused while over maxmemory"),
    ("module", 3, True, "Implemented by a module"),
    ("admin", 4, True, "Administrative command (replication, persistence, debugging)"),
    ("pubsub", 5, True, "Pub/Sub command"),
    ("noscript", 6, True, "Not allowed inside scripts and functions"),
    ("blocking", 8, True, "May block the calling client"),
    ("loading", 9, True, "Allowed while the dataset is being loaded"),
    ("stale", 10, True, "Allowed on a replica whose link to the master is down"),
    ("skip_monitor", 11, True, "Not fed to MONITOR clients"),
    ("skip_slowlog", 12, True, "Not recorded in the slow log"),
    ("asking", 13, True, "Cluster: treated as if ASKING was sent first"),
    ("fast", 14, True, "O(1) or O(log N): never delays the server noticeably"),
    ("no_auth", 15, True, "Allowed before the connection has authenticated"),
    ("may_replicate", 16, False, "Not a write, but may replicate (CLIENT PAUSE WRITE holds it)"),
    ("sentinel", 17, False, "Present in sentinel mode"),
    ("only_sentinel", 18, False, "Present only in sentinel mode"),
    ("no_mandatory_keys", 19, True, "Has key specs but may be called with no keys"),
    ("protected", 20, False, "Refused unless enable-debug/module-command allows it"),
    ("no_async_loading", 23, True, "Refused while a replica loads its dataset asynchronously"),
    ("no_multi", 24, True, "Not allowed inside MULTI"),
    ("movablekeys", 25, True, "Key positions are not fully described by first/last/step"),
    ("allow_busy", 26, True, "Allowed while a script or function is busy"),
]

# Hidden flags cannot be read from the oracle, so they are listed here, taken from Redis 7.0's
# command table (src/commands.c) and confirmed against 7.0.15: MAY_REPLICATE commands are the
# non-write ones that CLIENT PAUSE WRITE holds back; PROTECTED ones answer "command not allowed"
# while enable-debug-command / enable-module-command are "no". SENTINEL / ONLY_SENTINEL only
# select the command set of a sentinel process, which ferrodis is not, so they stay unset.
HIDDEN_FLAGS = {
    "eval": ["may_replicate"],
    "evalsha": ["may_replicate"],
    "fcall": ["may_replicate"],
    "pfcount": ["may_replicate"],
    "publish": ["may_replicate"],
    "spublish": ["may_replicate"],
    "debug": ["protected"],
    "module|load": ["protected"],
    "module|loadex": ["protected"],
    "module|unload": ["protected"],
}

# ACL categories, at the bit positions of Redis's ACL_CATEGORY_*, in ACL CAT order.
ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
]

# Key spec flags as (name, bit, meaning): bits at the positions of Redis 7.0's CMD_KEY_* in
# server.h, listed in the order COMMAND INFO and COMMAND GETKEYSANDFLAGS report them
# (addReplyFlagsForKeyArgs).
KEY_FLAGS = [
    ("RO", 0, "Read-only access to the key's value"),
    ("RW", 1, "Read and write access to the key's value"),
    ("OW", 2, "Overwrites the key's value without reading it"),
    ("RM", 3, "Removes the key"),
    ("access", 4, "Returns, copies or otherwise uses user data of the key"),
    ("update", 5, "Updates data of the key"),
    ("insert", 6, "Adds data to the key without changing what is there"),
    ("delete", 7, "Deletes data from the key"),
    ("not_key", 8, "Not a key but routed like one (a shard channel)"),
    ("incomplete", 9, "The spec may not find every key: the getkeys procedure must"),
    ("variable_flags", 10, "Flags depend on the arguments; the getkeys procedure tells"),
]


# ----------------------------------------------------------------------------------------------
# RESP client: parses replies into (kind, value) trees and can also return the raw bytes.
# ----------------------------------------------------------------------------------------------

class Conn:
    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""
        self.pos = 0

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ValueError("bad bulk terminator")
        self.pos += n + 2
        return data

    def read(self):
        """One reply as a tree: ('simple'|'bulk', str), ('int', int), ('array'|'set', [..]),
        ('map', [(k, v)]), ('null', None); errors raise."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode())
        if t == b"-":
            raise RuntimeError("server error: " + rest.decode())
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            return ("null", None) if n < 0 else ("bulk", self._exact(n).decode())
        if t in (b"*", b"~"):
            n = int(rest)
            if n < 0:
                return ("null", None)
            return ("array" if t == b"*" else "set", [self.read() for _ in range(n)])
        if t == b"%":
            n = int(rest)
            return ("map", [(self.read(), self.read()) for _ in range(n)])
        if t == b"_":
            return ("null", None)
        raise ValueError("reply type not representable as a Doc: %r" % line[:40])

    def read_raw(self):
        """One reply's exact bytes and its tree."""
        self.buf = self.buf[self.pos:]
        self.pos = 0
        tree = self.read()
        return self.buf[:self.pos], tree


def map_get(node, key):
    assert node[0] == "map", node
    for k, v in node[1]:
        if k[1] == key:
            return v
    return None


def hello3(conn):
    conn.send("HELLO", "3")
    info = conn.read()
    version = map_get(info, "version")[1]
    if version != EXPECTED_VERSION:
        sys.exit("oracle is redis %s, expected %s" % (version, EXPECTED_VERSION))
    return version


# ----------------------------------------------------------------------------------------------
# Reading the oracle's table.
# ----------------------------------------------------------------------------------------------

class Cmd:
    def __init__(self, name, info, docs):
        self.name = name
        self.info = info
        self.docs = docs
        self.subs = []

    @property
    def ident(self):
        """Rust name of the CommandMeta; its trees are INFO_<stem> and DOCS_<stem>."""
        return "CMD_" + self.stem

    @property
    def stem(self):
        return self.name.upper().replace("|", "_").replace("-", "_")


def fetch(port):
    conn = Conn(port)
    version = hello3(conn)
    conn.send("COMMAND", "INFO")
    infos = conn.read()
    conn.send("COMMAND", "DOCS")
    docs = conn.read()
    docs_by_name = {k[1]: v for k, v in docs[1]}

    cmds = []
    for entry in infos[1]:
        if entry[0] == "null":
            continue
        cmd = build(entry, docs_by_name)
        cmds.append(cmd)
    cmds.sort(key=lambda c: c.name.encode())
    stems = [c.stem for c in cmds] + [s.stem for c in cmds for s in c.subs]
    if len(set(stems)) != len(stems):
        sys.exit("two commands map to the same Rust identifier")
    conn.send("COMMAND", "COUNT")
    count = conn.read()[1]
    if count != len(cmds) or len(docs_by_name) != len(cmds):
        sys.exit("COMMAND COUNT %d, COMMAND INFO %d, COMMAND DOCS %d: inconsistent"
                 % (count, len(cmds), len(docs_by_name)))
    return version, cmds


def build(entry, docs_by_name):
    """A Cmd from one COMMAND INFO entry; its subcommands are split off into their own Cmds and
    their places in the parent's trees are taken by ('ref', ident) nodes."""
    items = entry[1]
    name = items[0][1]
    docs = docs_by_name[name]
    cmd = Cmd(name, entry, docs)
    sub_infos = items[9]
    if sub_infos[1]:
        sub_docs = map_get(docs, "subcommands")
        sub_docs_by_name = {k[1]: v for k, v in sub_docs[1]}
        refs = []
        for sub_entry in sub_infos[1]:
            sub = build(sub_entry, sub_docs_by_name)
            cmd.subs.append(sub)
            refs.append((sub.name.encode(), ("ref", "INFO_" + sub.stem)))
        # Redis lists subcommands in the order of a hash table seeded at random when the
        # process starts, so no order is canonical; sorting by name keeps regeneration stable.
        refs.sort()
        new_items = list(items)
        new_items[9] = (sub_infos[0], [r for _, r in refs])
        cmd.info = (entry[0], new_items)
        new_pairs = []
        for k, v in docs[1]:
            if k[1] == "subcommands":
                v = (v[0], [(sk, ("ref", "DOCS_" + stem(sk[1])))
                            for sk, _ in sorted(v[1], key=lambda p: p[0][1].encode())])
            new_pairs.append((k, v))
        cmd.docs = ("map", new_pairs)
        if len(sub_docs_by_name) != len(cmd.subs):
            sys.exit("%s: INFO and DOCS disagree on subcommands" % name)
        cmd.subs.sort(key=lambda c: c.name.encode())
    return cmd


def stem(name):
    return Cmd(name, None, None).stem


# ----------------------------------------------------------------------------------------------
# Rust output.
# ----------------------------------------------------------------------------------------------

def rust_str(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u{%x}" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


WIDTH = 100


def emit(node, indent):
    """Rust expression for a tree, one line when it fits in WIDTH, else one element per line."""
    flat = emit_flat(node)
    if indent + len(flat) <= WIDTH:
        return flat
    kind, val = node
    pad = " " * (indent + 4)
    if kind in ("array", "set"):
        ctor = "Array" if kind == "array" else "Set"
        inner = "".join("%s%s,\n" % (pad, emit(x, indent + 4)) for x in val)
        return "%s(&[\n%s%s])" % (ctor, inner, " " * indent)
    if kind == "map":
        parts = []
        for k, v in val:
            pair = "(%s, %s)" % (emit_flat(k), emit_flat(v))
            if indent + 4 + len(pair) + 1 <= WIDTH:
                parts.append("%s%s,\n" % (pad, pair))
            else:
                pad2 = " " * (indent + 8)
                parts.append("%s(\n%s%s,\n%s%s,\n%s),\n" % (
                    pad, pad2, emit(k, indent + 8), pad2, emit(v, indent + 8), pad))
        return "Map(&[\n%s%s])" % ("".join(parts), " " * indent)
    return flat  # a long string literal cannot be broken


def emit_flat(node):
    kind, val = node
    if kind == "simple":
        return "Simple(%s)" % rust_str(val)
    if kind == "bulk":
        return "Bulk(%s)" % rust_str(val)
    if kind == "int":
        return "Int(%d)" % val
    if kind == "null":
        return "Doc::Null"
    if kind == "ref":
        return val
    if kind == "array":
        return "Array(&[%s])" % ", ".join(emit_flat(x) for x in val)
    if kind == "set":
        return "Set(&[%s])" % ", ".join(emit_flat(x) for x in val)
    if kind == "map":
        return "Map(&[%s])" % ", ".join(
            "(%s, %s)" % (emit_flat(k), emit_flat(v)) for k, v in val)
    raise ValueError(kind)


def key_specs(cmd):
    """The command's key specs as (flags, begin_search, find_keys): begin_search is
    ("index", pos) | ("keyword", keyword, startfrom) | ("unknown",), find_keys is
    ("range", lastkey, keystep, limit) | ("keynum", keynumidx, firstkey, keystep) | ("unknown",)."""
    out = []
    for spec in cmd.info[1][8][1]:
        fields = {k[1]: v for k, v in spec[1]}
        flags = [x[1] for x in fields["flags"][1]]
        known = {f[0] for f in KEY_FLAGS}
        for f in flags:
            if f not in known:
                sys.exit("%s: unknown key spec flag %r" % (cmd.name, f))
        bs = fields["begin_search"]
        bs_type = map_get(bs, "type")[1]
        bs_spec = {k[1]: v[1] for k, v in map_get(bs, "spec")[1]}
        if bs_type == "index":
            begin = ("index", bs_spec["index"])
        elif bs_type == "keyword":
            begin = ("keyword", bs_spec["keyword"], bs_spec["startfrom"])
        elif bs_type == "unknown" and not bs_spec:
            begin = ("unknown",)
        else:
            sys.exit("%s: unknown begin_search %r" % (cmd.name, bs))
        fk = fields["find_keys"]
        fk_type = map_get(fk, "type")[1]
        fk_spec = {k[1]: v[1] for k, v in map_get(fk, "spec")[1]}
        if fk_type == "range":
            find = ("range", fk_spec["lastkey"], fk_spec["keystep"], fk_spec["limit"])
        elif fk_type == "keynum":
            find = ("keynum", fk_spec["keynumidx"], fk_spec["firstkey"], fk_spec["keystep"])
        elif fk_type == "unknown" and not fk_spec:
            find = ("unknown",)
        else:
            sys.exit("%s: unknown find_keys %r" % (cmd.name, fk))
        out.append((flags, begin, find))
    return out


def movable_keys(cmd):
    """Redis's populateCommandMovableKeys as 7.0.15 reports it: a command's keys move when one
    of its key specs is not "index + range" (keyword search, a numkeys argument, or unknown).
    SET and BITFIELD have getkeys procedures too, but only to refine their key flags, and 7.0.15
    does not report them movable; the generator checks this rule against the oracle's flags."""
    return any(b[0] != "index" or f[0] != "range" for _, b, f in key_specs(cmd))


def flag_expr(cmd):
    reported = [x[1] for x in cmd.info[1][2][1]]
    known = {f[0] for f in FLAGS}
    for n in reported:
        if n not in known:
            sys.exit("%s: unknown command flag %r" % (cmd.name, n))
    derived = movable_keys(cmd)
    if derived != ("movablekeys" in reported):
        sys.exit("%s: movablekeys derived from the key specs (%s) disagrees with the oracle"
                 % (cmd.name, derived))
    names = [f[0] for f in FLAGS
             if (f[0] in reported and f[0] != "movablekeys")
             or (f[0] == "movablekeys" and derived)]
    if names != reported:
        sys.exit("%s: the oracle lists flags out of order: %r" % (cmd.name, reported))
    names += HIDDEN_FLAGS.get(cmd.name, [])
    if not names:
        return "0"
    return " | ".join("FLAG_" + n.upper() for n in names)


def acl_expr(cmd):
    out = []
    for x in cmd.info[1][6][1]:
        cat = x[1]
        if not cat.startswith("@") or cat[1:] not in ACL_CATEGORIES:
            sys.exit("%s: unknown ACL category %r" % (cmd.name, cat))
        out.append("ACL_" + cat[1:].upper())
    return " | ".join(out) if out else "0"


def key_spec_expr(spec):
    flags, begin, find = spec
    flag_e = " | ".join("KEY_" + f.upper() for f in flags) or "0"
    if begin[0] == "index":
        begin_e = "BeginSearch::Index(%d)" % begin[1]
    elif begin[0] == "keyword":
        begin_e = "BeginSearch::Keyword { keyword: %s, startfrom: %d }" % (
            rust_str(begin[1]), begin[2])
    else:
        begin_e = "BeginSearch::Unknown"
    if find[0] == "range":
        find_e = "FindKeys::Range { lastkey: %d, keystep: %d, limit: %d }" % find[1:]
    elif find[0] == "keynum":
        find_e = "FindKeys::Keynum { keynumidx: %d, firstkey: %d, keystep: %d }" % find[1:]
    else:
        find_e = "FindKeys::Unknown"
    return "KeySpec { flags: %s, begin: %s, find: %s }" % (flag_e, begin_e, find_e)


def doc_field(cmd, key):
    v = map_get(cmd.docs, key)
    return rust_str(v[1] if v is not None else "")


def emit_cmd(cmd, out):
    for sub in cmd.subs:
        emit_cmd(sub, out)
    items = cmd.info[1]
    out.append("// ---- %s %s\n\n" % (cmd.name, "-" * max(0, 90 - len(cmd.name))))
    out.append("const INFO_%s: Doc = %s;\n\n" % (cmd.stem, emit(cmd.info, 0)))
    out.append("const DOCS_%s: Doc = %s;\n\n" % (cmd.stem, emit(cmd.docs, 0)))
    subs = "&[]" if not cmd.subs else "&[%s]" % ", ".join(s.ident for s in cmd.subs)
    specs = "&[%s]" % ", ".join(key_spec_expr(k) for k in key_specs(cmd))
    out.append(
        "const %s: CommandMeta = CommandMeta {\n"
        "    name: %s,\n"
        "    arity: %d,\n"
        "    flags: %s,\n"
        "    first_key: %d,\n"
        "    last_key: %d,\n"
        "    key_step: %d,\n"
        "    key_specs: %s,\n"
        "    acl_categories: %s,\n"
        "    group: %s,\n"
        "    summary: %s,\n"
        "    since: %s,\n"
        "    info: INFO_%s,\n"
        "    docs: DOCS_%s,\n"
        "    subcommands: %s,\n"
        "};\n\n" % (
            cmd.ident, rust_str(cmd.name), items[1][1], flag_expr(cmd), items[3][1],
            items[4][1], items[5][1], specs, acl_expr(cmd), doc_field(cmd, "group"),
            doc_field(cmd, "summary"), doc_field(cmd, "since"), cmd.stem, cmd.stem, subs))


HEADER = '''\
//! Generated by utils/gen_command_meta.py from redis-server {version}; do not edit by hand.
//!
//! The command table as data, the way Redis 7.0 keeps it (src/commands/*.json -> commands.c):
//! arity, flags, legacy key positions and ACL categories for dispatch, plus the exact
//! COMMAND INFO / COMMAND DOCS trees the oracle sent, so those replies are byte-identical.
//!
//! Layout: one block per command, subcommands before their container. Each block defines
//! `INFO_<NAME>` and `DOCS_<NAME>` (the trees) and `CMD_<NAME>` (the `CommandMeta`);
//! a container's trees name its subcommands' trees instead of repeating them. `COMMANDS` lists
//! the top-level commands sorted by name, and each `subcommands` slice is sorted the same way,
//! so lookups are binary searches over static memory:
//!
//! ```text
//!   COMMANDS: [ CommandMeta "acl" | "append" | ... | "client" | ... | "zunionstore" ]
//!                                                       | subcommands
//!                                                       v
//!                          [ "client|caching" | "client|getname" | ... | "client|unpause" ]
//! ```
//!
//! Key specs are also kept as data (`KeySpec`), for COMMAND GETKEYS / GETKEYSANDFLAGS. The
//! movablekeys flag is derived from them as Redis derives it (populateCommandMovableKeys: a
//! spec that is not "index + range"); the generator stops if the oracle reports otherwise.
//! Flags that Redis 7.0 hides from COMMAND INFO (may_replicate, protected) are added from a
//! short list in the generator; the `info` trees stay exactly as the oracle sent them, except
//! that a container lists its subcommands sorted by name: Redis lists them in the order of a
//! hash table seeded at random per process, so no order is canonical.

// The variants are imported unqualified to keep the trees below readable.
use super::doc::Doc::{{self, Array, Bulk, Int, Map, Set, Simple}};

/// Static description of one command or subcommand: everything dispatch needs (arity, flags,
/// key positions, ACL categories) next to the ready-made introspection replies.
#[derive(Debug, Clone, Copy)]
pub struct CommandMeta {{
    /// Lower-case name; subcommands use Redis's full name, e.g. "client|list".
    pub name: &'static str,
    /// Redis arity: n means exactly n arguments (name included), -n means at least n.
    pub arity: i32,
    /// Bit set of the `FLAG_*` constants.
    pub flags: u64,
    /// Legacy (first, last, step) key positions, as in COMMAND INFO; 0 when keyless.
    pub first_key: i32,
    /// Last key position; negative counts from the end of argv (-1 = last argument).
    pub last_key: i32,
    /// Step between keys (2 for MSET's key/value pairs).
    pub key_step: i32,
    /// Key specs, as COMMAND INFO lists them: where a call's keys are and how it uses them.
    pub key_specs: &'static [KeySpec],
    /// Bit set of the `ACL_*` constants (for ACL CAT and permission checks).
    pub acl_categories: u64,
    /// COMMAND DOCS group, e.g. "string", "sorted-set".
    pub group: &'static str,
    /// COMMAND DOCS summary line.
    pub summary: &'static str,
    /// Version that introduced the command.
    pub since: &'static str,
    /// This command's COMMAND INFO entry exactly as the oracle sent it (RESP3 types kept).
    pub info: Doc,
    /// This command's COMMAND DOCS value (the map after the name).
    pub docs: Doc,
    /// Subcommands sorted by name; empty for plain commands.
    pub subcommands: &'static [CommandMeta],
}}

/// One key spec (Redis 7.0's keySpec): how to find some of a call's keys, and what the
/// command does with them (`KEY_*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {{
    /// Bit set of the `KEY_*` constants.
    pub flags: u32,
    /// Where the search for the first key starts.
    pub begin: BeginSearch,
    /// How many keys follow from there.
    pub find: FindKeys,
}}

/// A key spec's begin_search: where its first key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {{
    /// At this argument index (the command name is 0).
    Index(i32),
    /// Just after `keyword` (compared ignoring case), searched from `startfrom` towards the
    /// end, or from `argc + startfrom` backwards when it is negative.
    Keyword {{
        /// The keyword, e.g. "STREAMS".
        keyword: &'static str,
        /// Index the search starts at.
        startfrom: i32,
    }},
    /// Not describable: the command's getkeys procedure finds these keys.
    Unknown,
}}

/// A key spec's find_keys: which arguments from the first key on are keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {{
    /// Keys up to `lastkey` (relative to the first key; negative counts from the end of
    /// argv), every `keystep`; with a `limit`, only the first 1/limit of the remaining
    /// arguments (XREAD's keys, then as many IDs).
    Range {{
        /// Last key relative to the first; -1 is the last argument.
        lastkey: i32,
        /// Step between keys.
        keystep: i32,
        /// Divides the remaining arguments when lastkey is -1; 0 for no limit.
        limit: i32,
    }},
    /// The number of keys is the argument at `keynumidx` (relative to the first key);
    /// the keys start `firstkey` after it, every `keystep`.
    Keynum {{
        /// Index of the numkeys argument, relative to the begin_search position.
        keynumidx: i32,
        /// Index of the first key, relative to the begin_search position.
        firstkey: i32,
        /// Step between keys.
        keystep: i32,
    }},
    /// Not describable: the command's getkeys procedure finds these keys.
    Unknown,
}}

impl KeySpec {{
    /// True for the plain "index + range" form; any other makes a command's keys movable.
    pub fn is_index_range(&self) -> bool {{
        matches!(
            (self.begin, self.find),
            (BeginSearch::Index(_), FindKeys::Range {{ .. }})
        )
    }}
}}

impl CommandMeta {{
    /// True when `argc` (name included) satisfies this command's arity.
    pub fn arity_ok(&self, argc: usize) -> bool {{
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {{
            argc == arity
        }} else {{
            argc >= arity
        }}
    }}

    /// True when every bit of `flag` (one or more `FLAG_*`) is set.
    pub fn has(&self, flag: u64) -> bool {{
        self.flags & flag == flag
    }}
}}

'''

LOOKUP = '''\
/// Orders the lower-case table name `name` against user input `key` as if `key` were
/// lower-cased too, without allocating.
fn cmp_name(name: &[u8], key: &[u8]) -> std::cmp::Ordering {
    for (a, b) in name.iter().zip(key) {
        let b = b.to_ascii_lowercase();
        if *a != b {
            return a.cmp(&b);
        }
    }
    name.len().cmp(&key.len())
}

/// FNV-1a over the lower-cased name: the hash behind `NAME_INDEX` (the generator computes the
/// same function to lay the table out).
fn name_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h ^= b.to_ascii_lowercase() as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Finds a top-level command by name, case-insensitively (called for every command executed):
/// one hash over the name, then usually a single comparison in the open-addressing `NAME_INDEX`.
pub fn lookup(name: &[u8]) -> Option<&'static CommandMeta> {
    if name.len() > MAX_NAME_LEN {
        return None;
    }
    let mask = NAME_INDEX.len() - 1;
    let mut slot = name_hash(name) as usize & mask;
    loop {
        let entry = NAME_INDEX[slot] as usize;
        let meta = COMMANDS.get(entry.checked_sub(1)?)?;
        if meta.name.as_bytes().eq_ignore_ascii_case(name) {
            return Some(meta);
        }
        slot = (slot + 1) & mask;
    }
}

/// Finds subcommand `sub` (e.g. b"LIST") of a container such as CLIENT, case-insensitively.
pub fn lookup_sub(parent: &'static CommandMeta, sub: &[u8]) -> Option<&'static CommandMeta> {
    let skip = parent.name.len() + 1;
    parent
        .subcommands
        .binary_search_by(|m| cmp_name(m.name.as_bytes().get(skip..).unwrap_or(&[]), sub))
        .ok()
        .map(|i| &parent.subcommands[i])
}

/// Finds a command by Redis's full name: "get", or "client|list" for a subcommand (the form
/// COMMAND INFO / COMMAND DOCS / ACL accept). More than one '|' finds nothing, as in Redis.
pub fn lookup_fullname(name: &[u8]) -> Option<&'static CommandMeta> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name),
        Some(i) => {
            let (parent, sub) = (&name[..i], &name[i + 1..]);
            if sub.contains(&b'|') {
                return None;
            }
            lookup_sub(lookup(parent)?, sub)
        }
    }
}

/// Calls `f` on every command and subcommand (containers before their subcommands).
pub fn for_each(mut f: impl FnMut(&'static CommandMeta)) {
    for cmd in COMMANDS {
        f(cmd);
        for sub in cmd.subcommands {
            f(sub);
        }
    }
}

'''


TESTS = '''\

#[cfg(test)]
mod tests {
    use super::*;

    fn items(d: &Doc) -> &'static [Doc] {
        match *d {
            Doc::Array(x) | Doc::Set(x) => x,
            _ => panic!("not an aggregate: {:?}", d),
        }
    }

    fn all() -> Vec<&'static CommandMeta> {
        let mut v = Vec::new();
        for_each(|m| v.push(m));
        v
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        for c in COMMANDS {
            assert!(c.subcommands.windows(2).all(|w| w[0].name < w[1].name));
            for s in c.subcommands {
                assert!(s.name.starts_with(c.name) && s.name.as_bytes()[c.name.len()] == b'|');
                assert!(s.subcommands.is_empty());
            }
        }
    }

    #[test]
    fn fields_agree_with_info_trees() {
        for m in all() {
            let it = items(&m.info);
            assert_eq!(it.len(), 10, "{}", m.name);
            assert_eq!(it[0], Doc::Bulk(m.name));
            assert_eq!(it[1], Doc::Int(m.arity as i64));
            assert_eq!(it[3], Doc::Int(m.first_key as i64));
            assert_eq!(it[4], Doc::Int(m.last_key as i64));
            assert_eq!(it[5], Doc::Int(m.key_step as i64));
            let reported: Vec<Doc> = FLAG_NAMES
                .iter()
                .filter(|(_, bit)| m.flags & bit != 0)
                .map(|(n, _)| Doc::Simple(n))
                .collect();
            assert_eq!(items(&it[2]), &reported[..], "{} flags", m.name);
            let cats: Vec<String> = ACL_CATEGORIES
                .iter()
                .filter(|(_, bit)| m.acl_categories & bit != 0)
                .map(|(n, _)| format!("@{n}"))
                .collect();
            let got: Vec<String> = items(&it[6])
                .iter()
                .map(|d| match d {
                    Doc::Simple(s) => s.to_string(),
                    _ => panic!("{}", m.name),
                })
                .collect();
            assert_eq!(got, cats, "{} categories", m.name);
            assert_eq!(items(&it[9]).len(), m.subcommands.len());
            let specs = items(&it[8]);
            assert_eq!(specs.len(), m.key_specs.len(), "{} key specs", m.name);
            for (tree, spec) in specs.iter().zip(m.key_specs) {
                let names: Vec<Doc> = KEY_FLAG_NAMES
                    .iter()
                    .filter(|(_, bit)| spec.flags & bit != 0)
                    .map(|(n, _)| Doc::Simple(n))
                    .collect();
                assert_eq!(tree.get("flags").map(items), Some(&names[..]), "{}", m.name);
            }
            let movable = m.key_specs.iter().any(|s| !s.is_index_range());
            assert_eq!(m.has(FLAG_MOVABLEKEYS), movable, "{} movablekeys", m.name);
            assert_eq!(m.docs.get("summary"), Some(&Doc::Bulk(m.summary)));
            assert_eq!(m.docs.get("since"), Some(&Doc::Bulk(m.since)));
            assert_eq!(m.docs.get("group"), Some(&Doc::Bulk(m.group)));
        }
    }

    #[test]
    fn lookups() {
        let get = lookup(b"GeT").unwrap();
        assert_eq!(get.name, "get");
        assert!(get.has(FLAG_READONLY | FLAG_FAST) && !get.has(FLAG_WRITE));
        assert_eq!(get.acl_categories, ACL_READ | ACL_STRING | ACL_FAST);
        assert!(get.arity_ok(2) && !get.arity_ok(3) && !get.arity_ok(1));
        assert!(lookup(b"set").unwrap().arity_ok(5));
        for m in COMMANDS {
            assert!(std::ptr::eq(lookup(m.name.to_uppercase().as_bytes()).unwrap(), m));
        }
        assert!(lookup(b"").is_none() && lookup(b"gett").is_none() && lookup(b"ge").is_none());
        assert!(lookup(b"get\\0").is_none() && lookup(&[0xff, 0x00]).is_none());
        let client = lookup(b"client").unwrap();
        assert_eq!(lookup_sub(client, b"LiSt").unwrap().name, "client|list");
        assert!(lookup_sub(client, b"").is_none() && lookup_sub(client, b"lis").is_none());
        assert!(lookup_sub(get, b"x").is_none());
        for m in all() {
            assert!(std::ptr::eq(lookup_fullname(m.name.as_bytes()).unwrap(), m));
        }
        assert!(lookup_fullname(b"client|list|x").is_none());
        assert!(lookup_fullname(b"|list").is_none() && lookup_fullname(b"client|").is_none());
        assert_eq!(lookup_fullname(b"CONFIG|GET").unwrap().name, "config|get");
    }

    #[test]
    fn lookup_agrees_with_a_linear_scan() {
        let linear = |k: &[u8]| COMMANDS.iter().find(|m| m.name.as_bytes().eq_ignore_ascii_case(k));
        let alphabet = b"abcdeglmnoprstxyzAEGST_|-";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hits = 0;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize % 8;
            let key: Vec<u8> = (0..len)
                .map(|i| alphabet[(seed >> (i * 7)) as usize % alphabet.len()])
                .collect();
            let got = lookup(&key);
            assert_eq!(got.map(|m| m.name), linear(&key).map(|m| m.name), "{key:?}");
            hits += got.is_some() as usize;
        }
        assert!(hits > 0);
    }

    #[test]
    fn hidden_flags() {
        assert!(lookup(b"publish").unwrap().has(FLAG_MAY_REPLICATE));
        assert!(lookup(b"debug").unwrap().has(FLAG_PROTECTED));
        assert!(lookup_fullname(b"module|load").unwrap().has(FLAG_PROTECTED));
        assert!(!lookup_fullname(b"module|list").unwrap().has(FLAG_PROTECTED));
    }
}

'''


def fnv1a(name):
    h = 0x811C9DC5
    for ch in name.encode():
        h = ((h ^ ch) * 0x01000193) & 0xFFFFFFFF
    return h


def name_index(cmds):
    """Open-addressing table (linear probing, load <= 1/2) from FNV-1a of a name to 1 + its
    position in COMMANDS; 0 marks an empty slot, which ends a probe."""
    size = 1
    while size < 2 * len(cmds):
        size *= 2
    table = [0] * size
    for i, c in enumerate(cmds):
        slot = fnv1a(c.name) & (size - 1)
        while table[slot]:
            slot = (slot + 1) & (size - 1)
        table[slot] = i + 1
    rows = ["    " + ", ".join("%d" % x for x in table[k:k + 16]) + ",\n"
            for k in range(0, size, 16)]
    return ("/// Hash index over `COMMANDS` for `lookup`: slot = FNV-1a(name) & (len - 1), linear\n"
            "/// probing; a slot holds 1 + the command's position, 0 when empty.\n"
            "static NAME_INDEX: [u16; %d] = [\n%s];\n\n" % (size, "".join(rows)))


def generate(port, out_path):
    version, cmds = fetch(port)
    out = [HEADER.format(version=version)]
    out.append("// Command flags: bit positions as Redis 7.0's CMD_* in server.h.\n\n")
    reported = set()
    for name, bit, rep, what in FLAGS:
        out.append("/// Command flag \"%s\": %s.\n" % (name, what))
        if not rep:
            out.append("/// Redis 7.0 hides it from COMMAND INFO; set from the generator's list.\n")
        out.append("pub const FLAG_%s: u64 = 1 << %d;\n" % (name.upper(), bit))
        if rep:
            reported.add(name)
    out.append("\n/// The flags COMMAND INFO reports, in the order Redis 7.0 lists them.\n")
    out.append("pub const FLAG_NAMES: &[(&str, u64)] = &[\n")
    for name, _, rep, _ in FLAGS:
        if rep:
            out.append("    (%s, FLAG_%s),\n" % (rust_str(name), name.upper()))
    out.append("];\n\n// ACL categories: bit positions as Redis 7.0's ACL_CATEGORY_*.\n\n")
    for bit, name in enumerate(ACL_CATEGORIES):
        out.append("/// ACL category \"@%s\".\n" % name)
        out.append("pub const ACL_%s: u64 = 1 << %d;\n" % (name.upper(), bit))
    out.append("\n/// All ACL categories with their names, in the order ACL CAT lists them.\n")
    out.append("pub const ACL_CATEGORIES: &[(&str, u64)] = &[\n")
    for name in ACL_CATEGORIES:
        out.append("    (%s, ACL_%s),\n" % (rust_str(name), name.upper()))
    out.append("];\n\n// Key spec flags: bit positions as Redis 7.0's CMD_KEY_* in server.h.\n\n")
    for name, bit, what in KEY_FLAGS:
        out.append("/// Key spec flag \"%s\": %s.\n" % (name, what))
        out.append("pub const KEY_%s: u32 = 1 << %d;\n" % (name.upper(), bit))
    out.append("\n/// Key spec flags with their names, in the order Redis 7.0 reports them.\n")
    out.append("pub const KEY_FLAG_NAMES: &[(&str, u32)] = &[\n")
    for name, _, _ in KEY_FLAGS:
        out.append("    (%s, KEY_%s),\n" % (rust_str(name), name.upper()))
    out.append("];\n\n")
    out.append("/// Every top-level command of redis-server %s, sorted by name.\n" % version)
    out.append("pub static COMMANDS: &[CommandMeta] = &[\n")
    for c in cmds:
        out.append("    %s,\n" % c.ident)
    out.append("];\n\n")
    out.append("/// Length of the longest top-level command name (longer input cannot match).\n")
    out.append("const MAX_NAME_LEN: usize = %d;\n\n" % max(len(c.name) for c in cmds))
    out.append(name_index(cmds))
    out.append(LOOKUP)
    for c in cmds:
        emit_cmd(c, out)
    out.append(TESTS)
    text = "".join(out).rstrip("\n") + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    rustfmt = shutil.which("rustfmt")
    if rustfmt:
        subprocess.run([rustfmt, "--edition", "2021", out_path], check=True)
    nsub = sum(len(c.subs) for c in cmds)
    print("wrote %s: %d commands, %d subcommands" % (out_path, len(cmds), nsub))


# ----------------------------------------------------------------------------------------------
# --check
# ----------------------------------------------------------------------------------------------

CHECK_MAIN = '''\
#![allow(dead_code)]
mod commands {
    #[path = "%(doc)s"]
    pub mod doc;
    #[path = "%(meta)s"]
    pub mod meta;
}
mod util {
    #[path = "%(num)s"]
    pub mod num;
}
use std::io::Write;

fn main() {
    let mut out = Vec::new();
    commands::meta::for_each(|m| {
        let blobs = [
            m.info.to_resp(false),
            m.info.to_resp(true),
            m.docs.to_resp(false),
            m.docs.to_resp(true),
        ];
        let lens: Vec<String> = blobs.iter().map(|b| b.len().to_string()).collect();
        out.extend_from_slice(format!("{} {}\\n", m.name, lens.join(" ")).as_bytes());
        for b in &blobs {
            out.extend_from_slice(b);
        }
    });
    std::io::stdout().write_all(&out).unwrap();
}
'''


def rust_dump(repo):
    """Builds and runs the scratch program; returns {name: (info2, info3, docs2, docs3)}."""
    work = os.environ.get("FERRODIS_CHECK_DIR") or os.path.join(
        tempfile.gettempdir(), "ferrodis-gen-command-meta-check")
    os.makedirs(os.path.join(work, "src"), exist_ok=True)
    with open(os.path.join(work, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "meta-check"\nversion = "0.0.0"\nedition = "2021"\n'
                '[workspace]\n[dependencies]\nlibc = "0.2"\n')
    src = CHECK_MAIN % {
        "doc": os.path.join(repo, "src", "commands", "doc.rs"),
        "meta": os.path.join(repo, "src", "commands", "meta.rs"),
        "num": os.path.join(repo, "src", "util", "num.rs"),
    }
    with open(os.path.join(work, "src", "main.rs"), "w") as f:
        f.write(src)
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(work, "target"))
    res = subprocess.run(["cargo", "run", "--quiet"], cwd=work, env=env,
                         stdout=subprocess.PIPE, check=True)
    data = res.stdout
    pos = 0
    out = {}
    while pos < len(data):
        nl = data.index(b"\n", pos)
        head = data[pos:nl].decode().split(" ")
        pos = nl + 1
        blobs = []
        for n in map(int, head[1:]):
            blobs.append(data[pos:pos + n])
            pos += n
        out[head[0]] = tuple(blobs)
    return out


def bulk(s):
    b = s.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def first_diff(a, b):
    n = min(len(a), len(b))
    i = next((i for i in range(n) if a[i] != b[i]), n)
    return i, a[max(0, i - 40):i + 40], b[max(0, i - 40):i + 40]


def ser(node, resp3):
    """Serialises a parsed reply tree again (used only to put containers in canonical order)."""
    kind, val = node
    if kind == "simple":
        return b"+" + val.encode() + b"\r\n"
    if kind == "bulk":
        return bulk(val)
    if kind == "int":
        return b":%d\r\n" % val
    if kind == "null":
        return b"_\r\n" if resp3 else b"$-1\r\n"
    if kind == "array" or (kind == "set" and not resp3):
        return b"*%d\r\n" % len(val) + b"".join(ser(x, resp3) for x in val)
    if kind == "set":
        return b"~%d\r\n" % len(val) + b"".join(ser(x, resp3) for x in val)
    if kind == "map":
        head = b"%%%d\r\n" % len(val) if resp3 else b"*%d\r\n" % (2 * len(val))
        return head + b"".join(ser(k, resp3) + ser(v, resp3) for k, v in val)
    raise ValueError(kind)


def canonical(tree, what):
    """The oracle's reply for a container with its subcommands sorted by name (their order in
    Redis depends on a per-process hash seed). `what` is "info" or "docs"; RESP2 maps arrive as
    flat arrays and are handled in that form."""
    if what == "info":
        items = list(tree[1][0][1])
        items[9] = (items[9][0], sorted(items[9][1], key=lambda e: e[1][0][1].encode()))
        return ("array", [("array", items)])
    outer = tree[1]
    if tree[0] == "map":
        name, docs = outer[0]
        pairs = [(k, ("map", sorted(v[1], key=lambda p: p[0][1].encode()))
                  if k[1] == "subcommands" else v) for k, v in docs[1]]
        return ("map", [(name, ("map", pairs))])
    name, docs = outer
    flat = list(docs[1])
    for i in range(0, len(flat), 2):
        if flat[i] == ("bulk", "subcommands"):
            sub = flat[i + 1][1]
            pairs = sorted(zip(sub[0::2], sub[1::2]), key=lambda p: p[0][1].encode())
            flat[i + 1] = ("array", [x for p in pairs for x in p])
    return ("array", [name, ("array", flat)])


def canonical_raw(reply, what, container, resp3):
    """The oracle's raw bytes; for a container, re-serialised with subcommands sorted, after
    checking that re-serialising the reply as received reproduces it exactly."""
    raw, tree = reply
    if not container:
        return raw
    if ser(tree, resp3) != raw:
        sys.exit("internal error: cannot re-serialise the oracle's reply faithfully")
    return ser(canonical(tree, "info" if "INFO" in what else "docs"), resp3)


def check(port, repo):
    ours = rust_dump(repo)
    c2 = Conn(port)
    c3 = Conn(port)
    hello3(c3)
    # The oracle's own list of names, subcommands included.
    c2.send("COMMAND", "INFO")
    names = []
    for entry in c2.read()[1]:
        names.append(entry[1][0][1])
        names.extend(sub[1][0][1] for sub in entry[1][9][1])
    failures = 0
    for missing in sorted(set(names) ^ set(ours)):
        print("only on %s: %s" % ("oracle" if missing in names else "ferrodis", missing))
        failures += 1
    names = sorted(set(names) & set(ours))
    containers = {n.split("|")[0] for n in names if "|" in n}
    for conn in (c2, c3):
        for n in names:
            conn.send("COMMAND", "INFO", n)
            conn.send("COMMAND", "DOCS", n)
    checked = 0
    for n in names:
        info2, info3, docs2, docs3 = ours[n]
        expected = [
            ("RESP2 COMMAND INFO", b"*1\r\n" + info2),
            ("RESP2 COMMAND DOCS", b"*2\r\n" + bulk(n) + docs2),
        ]
        got = [c2.read_raw(), c2.read_raw()]
        for (what, exp), real in zip(expected, got):
            checked += 1
            real = canonical_raw(real, what, n in containers, False)
            if exp != real:
                failures += 1
                print("%s %s differs at byte %d:\n  ours:   %r\n  oracle: %r"
                      % (what, n, *first_diff(exp, real)))
    for n in names:
        info2, info3, docs2, docs3 = ours[n]
        expected = [
            ("RESP3 COMMAND INFO", b"*1\r\n" + info3),
            ("RESP3 COMMAND DOCS", b"%1\r\n" + bulk(n) + docs3),
        ]
        got = [c3.read_raw(), c3.read_raw()]
        for (what, exp), real in zip(expected, got):
            checked += 1
            real = canonical_raw(real, what, n in containers, True)
            if exp != real:
                failures += 1
                print("%s %s differs at byte %d:\n  ours:   %r\n  oracle: %r"
                      % (what, n, *first_diff(exp, real)))
    print("%d replies compared for %d commands/subcommands, %d mismatches"
          % (checked, len(names), failures))
    return failures == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("port", type=int, help="port of a running redis-server %s" % EXPECTED_VERSION)
    ap.add_argument("--check", action="store_true",
                    help="compare the generated tables with the oracle instead of writing them")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(repo, "src", "commands", "meta.rs"))
    args = ap.parse_args()
    if args.check:
        sys.exit(0 if check(args.port, repo) else 1)
    generate(args.port, args.out)


if __name__ == "__main__":
    main()
