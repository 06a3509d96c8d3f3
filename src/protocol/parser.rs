//! Request parser: turns the bytes a client sent into the arguments of one command, the way
//! Redis 7.0's `processInlineBuffer` and `processMultibulkBuffer` (networking.c) do, with the
//! same acceptance rules, the same error strings and the same points at which an error fires.
//!
//! Memory layout. A multibulk command is never copied: its arguments are `(start, len)`
//! ranges into the connection's query buffer. Inline commands need unquoting, so their
//! arguments are copied into `Argv::scratch` and the ranges index that instead.
//!
//! ```text
//!  query buffer (owned by the connection)
//!  ┌──────────┬────┬──────┬──────┬──────┬──────┬─────┬────┬──────────┐
//!  │ consumed │*3␍␊│$3␍␊  │SET␍␊ │$1␍␊  │k␍␊   │$1␍␊ │v␍␊ │ next ... │
//!  └──────────┴────┴──────┴──────┴──────┴──────┴─────┴────┴──────────┘
//!             ^ pos       ^ranges[0]=(11,3)   ^ranges[1]=(20,1)      ^ Command { next }
//!
//!  Argv { ranges: Vec<(start, len)>,  scratch: Vec<u8>,  inline: bool }
//!         multibulk: ranges → query buffer     inline: ranges → scratch
//!
//!  RequestParser (state kept between calls while a multibulk command is incomplete)
//!   start ──► offset of the command's '*'   (what the caller must keep: keep_from)
//!   cursor ─► next unread byte              (Redis's qb_pos)
//!   remaining: bulks still expected         (multibulklen)
//!   bulklen:   length of the bulk whose header was read, if any
//!   partial:   ranges of the bulks already read
//!   scan:      how far the current line was already searched for its end
//! ```
//!
//! Nothing here indexes past the buffer or trusts a client count: the argument vector is
//! reserved for at most 1024 entries up front (as Redis does) and grows only as bulks
//! actually arrive.

use std::fmt;

/// Longest line Redis accepts before it gives up waiting for the line end
/// (`PROTO_INLINE_MAX_SIZE`): bounds inline requests and `*`/`$` header lines.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// Default `proto-max-bulk-len` (512 MB), so callers and tests share Redis's default.
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

/// Most argument slots reserved before the arguments arrive; a client announcing
/// `*1000000` gets this many, the rest grow with the data (Redis caps `argv_len` the same).
pub const ARGV_INITIAL_RESERVE: usize = 1024;

/// Largest multibulk count a client that still has to authenticate may announce.
const UNAUTH_MAX_MULTIBULK: i64 = 10;

/// Largest bulk a client that still has to authenticate may announce.
const UNAUTH_MAX_BULK: i64 = 16384;

/// Argument-slot capacity above which `Argv::clear` gives memory back, so one huge
/// command does not pin a large vector for the rest of the connection.
const ARGV_KEEP_CAPACITY: usize = 4096;

/// Scratch capacity above which `Argv::clear` gives memory back (inline lines are
/// normally far shorter than this).
const SCRATCH_KEEP_CAPACITY: usize = PROTO_INLINE_MAX_SIZE;

/// Argument positions of one parsed command. Ranges index the query buffer for multibulk
/// requests (no copy) or `scratch` for inline requests, whose arguments are unquoted and
/// unescaped copies; this keeps the hot multibulk path allocation-free.
#[derive(Debug, Default, Clone)]
pub struct Argv {
    /// `(start, len)` of each argument, in order.
    pub ranges: Vec<(usize, usize)>,
    /// Unescaped inline arguments; empty for multibulk requests.
    pub scratch: Vec<u8>,
    /// True when `ranges` index `scratch` rather than the query buffer.
    pub inline: bool,
}

impl Argv {
    /// An empty argument vector; capacity grows on first use and is then reused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of arguments (Redis's `argc`), so the caller can check arity.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when there is no argument; pairs with `len`.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i` as bytes. `qbuf` must be the buffer that was parsed (after any
    /// compaction reported through `RequestParser::shifted`). Out-of-range indexes give an
    /// empty slice instead of panicking, because a panic would take the whole server down.
    pub fn get<'a>(&'a self, qbuf: &'a [u8], i: usize) -> &'a [u8] {
        let Some(&(start, len)) = self.ranges.get(i) else {
            return &[];
        };
        let src: &'a [u8] = if self.inline { &self.scratch } else { qbuf };
        start
            .checked_add(len)
            .and_then(|end| src.get(start..end))
            .unwrap_or(&[])
    }

    /// All arguments in order, for commands that walk their arguments.
    pub fn iter<'a>(&'a self, qbuf: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        (0..self.len()).map(move |i| self.get(qbuf, i))
    }

    /// Forget the arguments but keep the capacity for the next command, except when a
    /// previous huge command inflated it (then shrink, as Redis frees `argv` per command).
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.scratch.clear();
        self.inline = false;
        if self.ranges.capacity() > ARGV_KEEP_CAPACITY {
            self.ranges.shrink_to(ARGV_INITIAL_RESERVE);
        }
        if self.scratch.capacity() > SCRATCH_KEEP_CAPACITY {
            self.scratch.shrink_to(1024);
        }
    }
}

/// The per-client limits the parser enforces, passed on each call because they can
/// change at any time (`CONFIG SET proto-max-bulk-len`, a successful `AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk accepted (`proto-max-bulk-len`); pass `u64::MAX` for a master link,
    /// which Redis exempts from the limit.
    pub proto_max_bulk_len: u64,
    /// False only while the client still has to authenticate (Redis's `authRequired`):
    /// such a client may announce at most 10 arguments of at most 16384 bytes.
    pub authenticated: bool,
}

impl Default for Limits {
    /// Redis's defaults for a client on a server without a password.
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            authenticated: true,
        }
    }
}

/// A protocol error's message, without the `-ERR ` prefix and CRLF. It is bytes, not a
/// `str`, because Redis echoes the offending byte raw in "expected '$', got 'X'" and that
/// byte need not be UTF-8.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProtocolError(&'static [u8]);

impl ProtocolError {
    /// The message bytes, ready to go between `-ERR ` and `\r\n`.
    pub fn as_bytes(&self) -> &'static [u8] {
        self.0
    }
}

impl fmt::Display for ProtocolError {
    /// Lossy text form, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

impl fmt::Debug for ProtocolError {
    /// Same as Display, quoted, so test failures read well.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

impl PartialEq<str> for ProtocolError {
    /// Lets callers and tests compare with a literal message.
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ProtocolError {
    /// Lets callers and tests compare with a literal message.
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Inline line without `\n` after 64 KiB.
pub const ERR_TOO_BIG_INLINE: ProtocolError =
    ProtocolError(b"Protocol error: too big inline request");
/// Inline line with an unterminated quote, or a closing quote glued to more text.
pub const ERR_UNBALANCED_QUOTES: ProtocolError =
    ProtocolError(b"Protocol error: unbalanced quotes in request");
/// `*` header without `\r` after 64 KiB.
pub const ERR_TOO_BIG_MBULK: ProtocolError =
    ProtocolError(b"Protocol error: too big mbulk count string");
/// `*` count that is not a number or exceeds `INT_MAX`.
pub const ERR_INVALID_MBULK: ProtocolError =
    ProtocolError(b"Protocol error: invalid multibulk length");
/// `*` count above 10 from a client that has not authenticated.
pub const ERR_UNAUTH_MBULK: ProtocolError =
    ProtocolError(b"Protocol error: unauthenticated multibulk length");
/// `$` header without `\r` after 64 KiB.
pub const ERR_TOO_BIG_BULK: ProtocolError =
    ProtocolError(b"Protocol error: too big bulk count string");
/// `$` length that is not a number, negative, or above `proto-max-bulk-len`.
pub const ERR_INVALID_BULK: ProtocolError = ProtocolError(b"Protocol error: invalid bulk length");
/// `$` length above 16384 from a client that has not authenticated.
pub const ERR_UNAUTH_BULK: ProtocolError =
    ProtocolError(b"Protocol error: unauthenticated bulk length");

const EXPECTED_PREFIX: &[u8] = b"Protocol error: expected '$', got '";
const EXPECTED_LEN: usize = EXPECTED_PREFIX.len() + 2;

/// "expected '$', got 'X'" for every byte X, built at compile time so the error can be a
/// `&'static` message. Redis formats X with `%c` and then turns `\r` and `\n` in error
/// replies into spaces; every other byte goes out raw.
static EXPECTED_DOLLAR: [[u8; EXPECTED_LEN]; 256] = build_expected_dollar();

const fn build_expected_dollar() -> [[u8; EXPECTED_LEN]; 256] {
    let mut table = [[0u8; EXPECTED_LEN]; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < EXPECTED_PREFIX.len() {
            table[b][i] = EXPECTED_PREFIX[i];
            i += 1;
        }
        let shown = if b == b'\r' as usize || b == b'\n' as usize {
            b' '
        } else {
            b as u8
        };
        table[b][EXPECTED_PREFIX.len()] = shown;
        table[b][EXPECTED_PREFIX.len() + 1] = b'\'';
        b += 1;
    }
    table
}

fn expected_dollar(got: u8) -> ProtocolError {
    ProtocolError(&EXPECTED_DOLLAR[got as usize])
}

/// What one call to `RequestParser::parse` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// One complete command; the caller executes it and then calls parse again with `next`.
    Command {
        /// Offset just past the command.
        next: usize,
    },
    /// Consumed input that carried no command (an empty inline line, `*0\r\n`, `*-1\r\n`).
    Skip {
        /// Offset just past the consumed input.
        next: usize,
    },
    /// Need more bytes; keep the buffer from `keep_from` on (state is kept inside the parser
    /// so the next call resumes instead of rescanning headers). The next call must pass
    /// `pos == keep_from` (minus whatever `shifted` reported) with the same bytes there.
    Incomplete {
        /// First byte the caller must keep.
        keep_from: usize,
    },
    /// Protocol error: the caller replies `-ERR <msg>` and closes the connection after the
    /// reply.
    Error(ProtocolError),
}

/// Memo of a line-end search, so a header or inline line arriving in many small reads is
/// scanned once in total instead of once per read.
#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    /// Offset where the line being searched starts; the memo is only valid for it.
    line: usize,
    /// Bytes before this offset hold neither the terminator nor a NUL.
    upto: usize,
    /// A NUL comes before the terminator: Redis's `strchr` stops there, so this line can
    /// never end (only the 64 KiB limit can still fire).
    nul: bool,
    /// The terminator searched for (`\n` inline, `\r` in headers).
    target: u8,
    /// Whether the memo describes a line at all.
    valid: bool,
}

/// Resumable request parser, one per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Offset of the `*` of the multibulk command in progress.
    start: usize,
    /// Next unread byte of the command in progress.
    cursor: usize,
    /// Bulks still expected; zero means no multibulk command is in progress.
    remaining: usize,
    /// Length of the bulk whose `$` header was read but whose data is incomplete.
    bulklen: Option<usize>,
    /// Ranges of the bulks already read while the command is incomplete.
    partial: Vec<(usize, usize)>,
    /// Line-end search memo.
    scan: Scan,
}

impl RequestParser {
    /// A parser with no command in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a multibulk command has been started but not finished, so the caller
    /// can tell a clean connection close from one in the middle of a command.
    pub fn in_progress(&self) -> bool {
        self.remaining > 0
    }

    /// Forget any command in progress (after an error, or when the caller resets the
    /// connection's input).
    pub fn reset(&mut self) {
        self.start = 0;
        self.cursor = 0;
        self.remaining = 0;
        self.bulklen = None;
        self.partial.clear();
        self.scan = Scan::default();
    }

    /// Parse one request from `buf[pos..]` into `argv` (cleared first).
    ///
    /// `buf` is everything received and not yet dropped; `pos` is where the next request
    /// starts. Bytes before `pos` are never read.
    pub fn parse(&mut self, buf: &[u8], pos: usize, argv: &mut Argv, limits: &Limits) -> Parse {
        argv.clear();
        if self.remaining > 0 {
            if pos == self.start && self.cursor <= buf.len() && self.start <= self.cursor {
                // Resume: take back the ranges read so far.
                std::mem::swap(&mut argv.ranges, &mut self.partial);
                return self.parse_bulks(buf, argv, limits);
            }
            // The caller moved on without finishing this command; start over at `pos`.
            self.reset();
        }
        let pos = pos.min(buf.len());
        match buf.get(pos) {
            None => Parse::Incomplete { keep_from: pos },
            Some(b'*') => {
                if limits.authenticated {
                    if let Some(next) = parse_whole_multibulk(buf, pos, argv, limits) {
                        // A stale line-end memo must not outlive the bytes it described.
                        self.scan.valid = false;
                        return Parse::Command { next };
                    }
                    argv.ranges.clear();
                }
                self.parse_multibulk_header(buf, pos, argv, limits)
            }
            Some(_) => self.parse_inline(buf, pos, argv),
        }
    }

    /// Called when the caller compacts the buffer (drops `buf[..n]`): shift internal
    /// offsets. `n` must not exceed the last `keep_from`.
    pub fn shifted(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if self.remaining > 0 {
            if n > self.start {
                // The caller dropped bytes of the command in progress: it cannot be finished.
                self.reset();
                return;
            }
            self.start -= n;
            self.cursor -= n;
            for r in &mut self.partial {
                r.0 = r.0.saturating_sub(n);
            }
        }
        if self.scan.valid {
            if n > self.scan.line {
                self.scan = Scan::default();
            } else {
                self.scan.line -= n;
                self.scan.upto = self.scan.upto.saturating_sub(n);
            }
        }
    }

    /// Find the end of the line starting at `line`: the first `target` byte, unless a NUL
    /// comes first (Redis searches with `strchr`, which stops at NUL). Remembers how far it
    /// looked, so the next call with the same line only scans new bytes.
    fn find_line_end(&mut self, buf: &[u8], line: usize, target: u8) -> Option<usize> {
        let mut from = line;
        if self.scan.valid && self.scan.line == line && self.scan.target == target {
            if self.scan.nul {
                return None;
            }
            from = self.scan.upto.clamp(line, buf.len());
        }
        let hay = buf.get(from..).unwrap_or(&[]);
        match find_byte_or_nul(hay, target) {
            Some(i) => {
                let at = from + i;
                let is_nul = hay.get(i) != Some(&target);
                self.scan = Scan {
                    line,
                    upto: at,
                    nul: is_nul,
                    target,
                    valid: true,
                };
                if is_nul {
                    None
                } else {
                    Some(at)
                }
            }
            None => {
                self.scan = Scan {
                    line,
                    upto: buf.len(),
                    nul: false,
                    target,
                    valid: true,
                };
                None
            }
        }
    }

    /// processInlineBuffer: one line ended by `\n` (optional `\r` before it), split like
    /// `sdssplitargs`.
    fn parse_inline(&mut self, buf: &[u8], pos: usize, argv: &mut Argv) -> Parse {
        let Some(nl) = self.find_line_end(buf, pos, b'\n') else {
            if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
                self.reset();
                return Parse::Error(ERR_TOO_BIG_INLINE);
            }
            return Parse::Incomplete { keep_from: pos };
        };
        self.scan.valid = false;
        let mut end = nl;
        if nl > pos && buf.get(nl - 1) == Some(&b'\r') {
            end = nl - 1;
        }
        let line = buf.get(pos..end).unwrap_or(&[]);
        argv.inline = true;
        if !crate::util::splitargs::split_args_into(line, &mut argv.ranges, &mut argv.scratch) {
            argv.clear();
            self.reset();
            return Parse::Error(ERR_UNBALANCED_QUOTES);
        }
        let next = nl + 1;
        if argv.ranges.is_empty() {
            argv.inline = false;
            Parse::Skip { next }
        } else {
            Parse::Command { next }
        }
    }

    /// First half of processMultibulkBuffer: the `*<count>\r\n` header.
    fn parse_multibulk_header(
        &mut self,
        buf: &[u8],
        pos: usize,
        argv: &mut Argv,
        limits: &Limits,
    ) -> Parse {
        let Some(cr) = self.find_line_end(buf, pos, b'\r') else {
            if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
                self.reset();
                return Parse::Error(ERR_TOO_BIG_MBULK);
            }
            return Parse::Incomplete { keep_from: pos };
        };
        // Redis wants one more byte after '\r' and skips it without looking at it.
        if cr + 1 >= buf.len() {
            return Parse::Incomplete { keep_from: pos };
        }
        self.scan.valid = false;
        let digits = buf.get(pos + 1..cr).unwrap_or(&[]);
        let count = match string2ll(digits) {
            Some(n) if n <= i64::from(i32::MAX) => n,
            _ => {
                self.reset();
                return Parse::Error(ERR_INVALID_MBULK);
            }
        };
        if count > UNAUTH_MAX_MULTIBULK && !limits.authenticated {
            self.reset();
            return Parse::Error(ERR_UNAUTH_MBULK);
        }
        let after = cr + 2;
        if count <= 0 {
            return Parse::Skip { next: after };
        }
        // `count` is in 1..=i32::MAX here, so it fits a usize on every supported target.
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        self.start = pos;
        self.cursor = after;
        self.remaining = count;
        self.bulklen = None;
        argv.ranges.reserve(count.min(ARGV_INITIAL_RESERVE));
        self.parse_bulks(buf, argv, limits)
    }

    /// Second half of processMultibulkBuffer: `$<len>\r\n<data>\r\n` until the announced
    /// number of bulks is read or the buffer runs out.
    fn parse_bulks(&mut self, buf: &[u8], argv: &mut Argv, limits: &Limits) -> Parse {
        while self.remaining > 0 {
            let bulklen = match self.bulklen {
                Some(n) => n,
                None => {
                    let line = self.cursor;
                    let Some(cr) = self.find_line_end(buf, line, b'\r') else {
                        if buf.len() - line > PROTO_INLINE_MAX_SIZE {
                            argv.ranges.clear();
                            self.reset();
                            return Parse::Error(ERR_TOO_BIG_BULK);
                        }
                        break;
                    };
                    if cr + 1 >= buf.len() {
                        break;
                    }
                    self.scan.valid = false;
                    // The line holds at least the '\r', so `line` is in bounds.
                    let first = buf.get(line).copied().unwrap_or(b'\r');
                    if first != b'$' {
                        argv.ranges.clear();
                        self.reset();
                        return Parse::Error(expected_dollar(first));
                    }
                    let digits = buf.get(line + 1..cr).unwrap_or(&[]);
                    let n = match string2ll(digits) {
                        Some(n) if n >= 0 && n.unsigned_abs() <= limits.proto_max_bulk_len => n,
                        _ => {
                            argv.ranges.clear();
                            self.reset();
                            return Parse::Error(ERR_INVALID_BULK);
                        }
                    };
                    if n > UNAUTH_MAX_BULK && !limits.authenticated {
                        argv.ranges.clear();
                        self.reset();
                        return Parse::Error(ERR_UNAUTH_BULK);
                    }
                    self.cursor = cr + 2;
                    // A length that does not fit memory can never arrive: saturate.
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    self.bulklen = Some(n);
                    n
                }
            };
            // Data plus its two trailing bytes, which Redis skips without checking.
            let need = bulklen.saturating_add(2);
            if buf.len() - self.cursor < need {
                break;
            }
            argv.ranges.push((self.cursor, bulklen));
            self.cursor += need;
            self.bulklen = None;
            self.remaining -= 1;
        }
        if self.remaining == 0 {
            let next = self.cursor;
            self.start = 0;
            self.cursor = 0;
            return Parse::Command { next };
        }
        // Park the ranges read so far; `argv` is handed back empty.
        std::mem::swap(&mut argv.ranges, &mut self.partial);
        Parse::Incomplete {
            keep_from: self.start,
        }
    }
}

/// Largest argument count the fast path takes on; bigger commands go the resumable way.
const FAST_PATH_MAX_ARGS: usize = 1024;

/// The fast path for the common case: a whole multibulk command, with plain decimal
/// headers, already in `buf[pos..]` (`buf[pos]` is `*`). Returns the offset past it, with
/// the argument ranges in `argv`, or `None` when anything is unusual (incomplete input, a
/// sign, a leading zero, an over-long or over-limit number, a count above
/// `FAST_PATH_MAX_ARGS`, a byte other than a digit before the `\r`): the caller then
/// clears `argv` and runs the resumable parser from `pos`, which gives the exact Redis
/// behaviour for every such case. On the inputs it accepts, this path and the resumable
/// one produce the same ranges (a property test checks it).
#[inline]
fn parse_whole_multibulk(
    buf: &[u8],
    pos: usize,
    argv: &mut Argv,
    limits: &Limits,
) -> Option<usize> {
    let (count, mut cursor) = plain_header(buf, pos + 1)?;
    if count == 0 || count > FAST_PATH_MAX_ARGS as u64 {
        return None;
    }
    argv.ranges.reserve(count as usize);
    for _ in 0..count {
        if *buf.get(cursor)? != b'$' {
            return None;
        }
        let (len, data) = plain_header(buf, cursor + 1)?;
        if len > limits.proto_max_bulk_len {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        // Data plus the two bytes after it, which Redis skips without looking at them.
        let end = data.checked_add(len)?.checked_add(2)?;
        if end > buf.len() {
            return None;
        }
        argv.ranges.push((data, len));
        cursor = end;
    }
    Some(cursor)
}

/// Reads `<digits>\r?` at `buf[at..]`: 1 to 18 decimal digits without a leading zero
/// (a lone `0` is fine), then `\r`, then one more byte that must be present but is not
/// looked at (as in Redis). Returns the number and the offset after that byte.
#[inline(always)]
fn plain_header(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let rest = buf.get(at..)?;
    let mut v: u64 = 0;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i == 18 || (i == 1 && v == 0) {
            return None;
        }
        v = v * 10 + u64::from(d);
        i += 1;
    }
    if i == 0 || rest.get(i) != Some(&b'\r') || rest.len() < i + 2 {
        return None;
    }
    Some((v, at + i + 2))
}

/// Index of the first `target` or NUL byte in `hay`, eight bytes at a time (the classic
/// "has zero byte" trick applied to `word` and `word ^ target`), so long lines and
/// pipelines are scanned without a per-byte branch.
fn find_byte_or_nul(hay: &[u8], target: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(target));
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        if let Ok(bytes) = <[u8; 8]>::try_from(chunk) {
            let word = u64::from_le_bytes(bytes);
            let x = word ^ pattern;
            // The lowest flagged byte of each mask is exact; only bytes above a real hit
            // can be flagged falsely, so the lowest bit overall is the first hit.
            let hits = (x.wrapping_sub(LO) & !x & HI) | (word.wrapping_sub(LO) & !word & HI);
            if hits != 0 {
                return Some(base + (hits.trailing_zeros() / 8) as usize);
            }
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == target || b == 0)
        .map(|i| base + i)
}

/// Redis's `string2ll`: strict decimal, optional leading '-', no '+', no spaces, no
/// leading zeros ("0" alone is fine, "-0" is not), must fit an i64.
fn string2ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE (21): longer strings are rejected outright.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX.unsigned_abs() + 1 {
            return None;
        }
        Some(0i64.wrapping_sub_unsigned(v))
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a connection observed, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Cmd(Vec<Vec<u8>>),
        Skip,
        Err(Vec<u8>),
    }

    /// A minimal connection: appends reads to a buffer, parses until it runs dry, and
    /// (optionally) compacts the buffer on `Incomplete` the way the server will.
    struct Conn {
        parser: RequestParser,
        argv: Argv,
        buf: Vec<u8>,
        pos: usize,
        limits: Limits,
        compact: bool,
        events: Vec<Ev>,
        dead: bool,
    }

    impl Conn {
        fn new(limits: Limits, compact: bool) -> Self {
            Conn {
                parser: RequestParser::new(),
                argv: Argv::new(),
                buf: Vec::new(),
                pos: 0,
                limits,
                compact,
                events: Vec::new(),
                dead: false,
            }
        }

        fn feed(&mut self, chunk: &[u8]) {
            if self.dead {
                return;
            }
            self.buf.extend_from_slice(chunk);
            loop {
                match self
                    .parser
                    .parse(&self.buf, self.pos, &mut self.argv, &self.limits)
                {
                    Parse::Command { next } => {
                        assert!(next > self.pos && next <= self.buf.len());
                        assert!(!self.argv.is_empty());
                        for &(s, l) in &self.argv.ranges {
                            let src = if self.argv.inline {
                                &self.argv.scratch
                            } else {
                                &self.buf
                            };
                            assert!(s + l <= src.len());
                            if !self.argv.inline {
                                assert!(s >= self.pos && s + l <= next);
                            }
                        }
                        let args = self.argv.iter(&self.buf).map(<[u8]>::to_vec).collect();
                        self.events.push(Ev::Cmd(args));
                        self.pos = next;
                    }
                    Parse::Skip { next } => {
                        assert!(next > self.pos && next <= self.buf.len());
                        assert!(self.argv.is_empty());
                        self.events.push(Ev::Skip);
                        self.pos = next;
                    }
                    Parse::Incomplete { keep_from } => {
                        assert_eq!(keep_from, self.pos);
                        assert!(self.argv.is_empty());
                        if self.compact {
                            self.buf.drain(..keep_from);
                            self.parser.shifted(keep_from);
                            self.pos = 0;
                        }
                        return;
                    }
                    Parse::Error(e) => {
                        self.events.push(Ev::Err(e.as_bytes().to_vec()));
                        self.dead = true;
                        return;
                    }
                }
            }
        }
    }

    fn run_chunks(chunks: &[&[u8]], limits: Limits, compact: bool) -> Vec<Ev> {
        let mut c = Conn::new(limits, compact);
        for ch in chunks {
            c.feed(ch);
        }
        c.events
    }

    fn run_whole(input: &[u8], limits: Limits) -> Vec<Ev> {
        run_chunks(&[input], limits, false)
    }

    fn bulk(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(format!("${}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
        out.extend_from_slice(b"\r\n");
    }

    /// Replies Redis gives to the few commands the oracle table uses, so recorded reply
    /// bytes can be compared with what this parser makes of the same input.
    fn emulate(events: &[Ev], authenticated: bool) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for ev in events {
            match ev {
                Ev::Skip => {}
                Ev::Err(msg) => {
                    out.extend_from_slice(b"-ERR ");
                    out.extend_from_slice(msg);
                    out.extend_from_slice(b"\r\n");
                    return (out, true);
                }
                Ev::Cmd(args) => {
                    if !authenticated {
                        out.extend_from_slice(b"-NOAUTH Authentication required.\r\n");
                        continue;
                    }
                    let name = args[0].to_ascii_lowercase();
                    match (name.as_slice(), args.len()) {
                        (b"ping", 1) => out.extend_from_slice(b"+PONG\r\n"),
                        (b"ping", 2) | (b"echo", 2) => bulk(&mut out, &args[1]),
                        (b"echo", _) => out.extend_from_slice(
                            b"-ERR wrong number of arguments for 'echo' command\r\n",
                        ),
                        (b"ping", _) => out.extend_from_slice(
                            b"-ERR wrong number of arguments for 'ping' command\r\n",
                        ),
                        _ => panic!("command outside the oracle table: {args:?}"),
                    }
                }
            }
        }
        (out, false)
    }

    const UNAUTH: Limits = Limits {
        proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
        authenticated: false,
    };

    // Recorded from redis-server 7.0.15 with python sockets: (input sent in one write,
    // reply bytes read back, whether the server closed the connection).
    const ORACLE_AUTH: &[(&[u8], &[u8], bool)] = &[
        (b"PING\r\n", b"+PONG\r\n", false),
        (b"PING\n", b"+PONG\r\n", false),
        (
            b"ping\r\nPING\nPiNg\r\n",
            b"+PONG\r\n+PONG\r\n+PONG\r\n",
            false,
        ),
        (b"\r\n", b"", false),
        (b"\n", b"", false),
        (b"  \r\n", b"", false),
        (b"\r\r\n", b"", false),
        (b"\r\n\r\nPING\r\n", b"+PONG\r\n", false),
        (b"*0\r\n", b"", false),
        (b"*-1\r\n", b"", false),
        (b"*-5\r\nPING\r\n", b"+PONG\r\n", false),
        (b"*0\r\nPING\r\n", b"+PONG\r\n", false),
        (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", false),
        (
            b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n",
            b"$5\r\nhello\r\n",
            false,
        ),
        (b"*2\r\n$4\r\necho\r\n$0\r\n\r\n", b"$0\r\n\r\n", false),
        (
            b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
            b"+PONG\r\n+PONG\r\n",
            false,
        ),
        (
            b"*1\r\n$4\r\nPING\r\n\r\n*1\r\n$4\r\nPING\r\n",
            b"+PONG\r\n+PONG\r\n",
            false,
        ),
        (
            b"*2\r\n$4\r\necho\r\n$4\r\na\r\nb\r\n",
            b"$4\r\na\r\nb\r\n",
            false,
        ),
        (
            b"*2\r\n$4\r\necho\r\n$3\r\n\x00\xff\x01\r\n",
            b"$3\r\n\x00\xff\x01\r\n",
            false,
        ),
        (b"*1\rX$4\r\nPING\r\n", b"+PONG\r\n", false),
        (b"*1\r\n$4\rXPINGxx", b"+PONG\r\n", false),
        (b"*1\r\n$4\r\nPINGxxPING\r\n", b"+PONG\r\n+PONG\r\n", false),
        (
            b"*1\n\n$4\r\nPING\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (b"*1\r\n$4\r\nPING", b"", false),
        (b"*1\r\n$4\r\nPING\r", b"", false),
        (b"*1\r", b"", false),
        (b"*1\rx", b"", false),
        (b"*1\r\n$4\r", b"", false),
        (b"*1\r\n$4\rx", b"", false),
        (b"*1\r\n", b"", false),
        (b"*", b"", false),
        (b"*1", b"", false),
        (
            b"*1\r\nx4\r\n",
            b"-ERR Protocol error: expected '$', got 'x'\r\n",
            true,
        ),
        (
            b"*1\r\n\xff4\r\n",
            b"-ERR Protocol error: expected '$', got '\xff'\r\n",
            true,
        ),
        (
            b"*1\r\n\r\n",
            b"-ERR Protocol error: expected '$', got ' '\r\n",
            true,
        ),
        (
            b"*1\r\n\n\r\n",
            b"-ERR Protocol error: expected '$', got ' '\r\n",
            true,
        ),
        (
            b"*1\r\n\t\r\n",
            b"-ERR Protocol error: expected '$', got '\t'\r\n",
            true,
        ),
        (
            b"*1\r\n\x7f\r\n",
            b"-ERR Protocol error: expected '$', got '\x7f'\r\n",
            true,
        ),
        (
            b"*1\r\n\x01\r\n",
            b"-ERR Protocol error: expected '$', got '\x01'\r\n",
            true,
        ),
        (
            b"*2\r\n$4\r\necho\r\n*1\r\n",
            b"-ERR Protocol error: expected '$', got '*'\r\n",
            true,
        ),
        (
            b"*1\r\n:1\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
            true,
        ),
        (
            b"*1\r\n+OK\r\n",
            b"-ERR Protocol error: expected '$', got '+'\r\n",
            true,
        ),
        (b"*1\r\n\x004\r\n", b"", false),
        (b"*1\x00\r\n$4\r\nPING\r\n", b"", false),
        (b"PI\x00NG\r\n", b"", false),
        (b"PING\x00\r\n", b"", false),
        (b"\x00PING\r\n", b"", false),
        (b"PING\r\n\x00", b"+PONG\r\n", false),
        (b"*1\r\n$4\x00\r\nPING\r\n", b"", false),
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*01\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*+1\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*-0\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"* 1\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*1 \r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*1x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*00\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*--1\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*-\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (b"*2147483647\r\n", b"", false),
        (
            b"*2147483648\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (b"*1048577\r\n", b"", false),
        (b"*-9223372036854775808\r\n", b"", false),
        (
            b"*-9223372036854775809\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*9223372036854775807\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*9223372036854775808\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*000000000000000000001\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (b"*11\r\n", b"", false),
        (b"*100\r\n", b"", false),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$04\r\nPING\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$4 \r\nPING\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$+4\r\nPING\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$-0\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (b"*1\r\n$536870912\r\n", b"", false),
        (
            b"*1\r\n$536870913\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$9223372036854775807\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$9223372036854775808\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (b"*1\r\n$16385\r\n", b"", false),
        (b"echo \"a\\nb\"\r\n", b"$3\r\na\nb\r\n", false),
        (b"echo \"a\\x41\\x4g\\xz\"\r\n", b"$7\r\naAx4gxz\r\n", false),
        (
            b"echo \"a\"b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (
            b"echo \"a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (b"echo 'a\\'b'\r\n", b"$3\r\na'b\r\n", false),
        (b"echo 'a\\nb'\r\n", b"$4\r\na\\nb\r\n", false),
        (
            b"echo a\"b c\"d\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (
            b"echo a\"b c\" d\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        (b"echo \"\"\r\n", b"$0\r\n\r\n", false),
        (b"echo ''\r\n", b"$0\r\n\r\n", false),
        (
            b"echo \"a\"\tb\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        (b"echo \x0bx\x0b\r\n", b"$2\r\nx\x0b\r\n", false),
        (b"echo x\x0cy\r\n", b"$3\r\nx\x0cy\r\n", false),
        (
            b"echo a\rb\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        (b"echo a\r\r\n", b"$1\r\na\r\n", false),
        (
            b"echo \"a\\\"\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (b"echo \"\\\"\"\r\n", b"$1\r\n\"\r\n", false),
        (
            b"echo \"\\\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (
            b"echo \"\\z\\a\\b\\t\\r\"\r\n",
            b"$5\r\nz\x07\x08\t\r\r\n",
            false,
        ),
        (b"echo \"\xff\"\r\n", b"$1\r\n\xff\r\n", false),
        (b"echo 'a' \r\n", b"$1\r\na\r\n", false),
        (
            b"echo \"a\"\x0bb\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        (b"echo \"a\"\r\r\n", b"$1\r\na\r\n", false),
        (
            b"echo 'a''b'\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (b"echo \"\\x41\\x\"\r\n", b"$2\r\nAx\r\n", false),
        (b"echo \"\\x4\"\r\n", b"$2\r\nx4\r\n", false),
        (b"echo \"\\xAf\"\r\n", b"$1\r\n\xaf\r\n", false),
        (b"echo '\"'\r\n", b"$1\r\n\"\r\n", false),
        (b"echo \"'\"\r\n", b"$1\r\n'\r\n", false),
        (
            b"echo '\\\\'\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (
            b"echo 'a\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (b"echo a\"b\"\r\n", b"$2\r\nab\r\n", false),
        (b"echo a'b'\r\n", b"$2\r\nab\r\n", false),
        (
            b"echo a\"b\"c\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
            true,
        ),
        (b"  echo   x  \r\n", b"$1\r\nx\r\n", false),
        (b"\techo\tx\t\r\n", b"$1\r\nx\r\n", false),
        (b"echo \x0b\x0cx\r\n", b"$1\r\nx\r\n", false),
        (b"echo x\x0b \r\n", b"$2\r\nx\x0b\r\n", false),
        (b"\"echo\" \"x\"\r\n", b"$1\r\nx\r\n", false),
        (b"echo \"x\" \r\n", b"$1\r\nx\r\n", false),
        (b"echo \"x\"\x0c\r\n", b"$1\r\nx\r\n", false),
        (b"echo \"a b\"\n", b"$3\r\na b\r\n", false),
        (b"echo \"\\\\\"\r\n", b"$1\r\n\\\r\n", false),
        (b"echo \"\\\\x41\"\r\n", b"$4\r\n\\x41\r\n", false),
        (b"echo \"\\x4142\"\r\n", b"$3\r\nA42\r\n", false),
        (b"echo \"\\xg1\"\r\n", b"$3\r\nxg1\r\n", false),
        (b"echo \"\\'\"\r\n", b"$1\r\n'\r\n", false),
        (b"echo 'a\\\\'b'\r\n", b"$4\r\na\\'b\r\n", false),
        (
            b"echo x\r\n*1\r\n$4\r\nPING\r\n",
            b"$1\r\nx\r\n+PONG\r\n",
            false,
        ),
        (
            b"*1\r\n$4\r\nPING\r\necho y\n",
            b"+PONG\r\n$1\r\ny\r\n",
            false,
        ),
        (
            b"*3\r\n$4\r\necho\r\n$1\r\na\r\n$1\r\nb\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
            false,
        ),
        (
            b"*2\r\n$4\r\nPING\r\n$3\r\nabc\r\n",
            b"$3\r\nabc\r\n",
            false,
        ),
    ];

    // Same, against a server with requirepass set, before AUTH.
    const ORACLE_UNAUTH: &[(&[u8], &[u8], bool)] = &[
        (
            b"*100\r\n",
            b"-ERR Protocol error: unauthenticated multibulk length\r\n",
            true,
        ),
        (
            b"*11\r\n",
            b"-ERR Protocol error: unauthenticated multibulk length\r\n",
            true,
        ),
        (b"*10\r\n", b"", false),
        (
            b"*1\r\n$100000000\r\n",
            b"-ERR Protocol error: unauthenticated bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$16385\r\n",
            b"-ERR Protocol error: unauthenticated bulk length\r\n",
            true,
        ),
        (b"*1\r\n$16384\r\n", b"", false),
        (
            b"*2147483648\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$536870913\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
            true,
        ),
        (b"*-1\r\n*0\r\n\r\n", b"", false),
        (b"*11", b"", false),
        (b"*1\r\n$16385", b"", false),
    ];

    fn oracle_rows() -> impl Iterator<Item = (&'static [u8], &'static [u8], bool, Limits)> {
        ORACLE_AUTH
            .iter()
            .map(|&(i, r, c)| (i, r, c, Limits::default()))
            .chain(ORACLE_UNAUTH.iter().map(|&(i, r, c)| (i, r, c, UNAUTH)))
    }

    #[test]
    fn oracle_replies_match() {
        for (input, reply, closed, limits) in oracle_rows() {
            let events = run_whole(input, limits);
            let (got, got_closed) = emulate(&events, limits.authenticated);
            assert_eq!(
                (got.escape_ascii().to_string(), got_closed),
                (reply.escape_ascii().to_string(), closed),
                "input {:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn oracle_inputs_split_at_every_boundary() {
        for (input, _, _, limits) in oracle_rows() {
            let whole = run_whole(input, limits);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            for compact in [false, true] {
                assert_eq!(run_chunks(&bytes, limits, compact), whole, "{input:?}");
                for cut in 0..=input.len() {
                    let (a, b) = input.split_at(cut);
                    assert_eq!(
                        run_chunks(&[a, b], limits, compact),
                        whole,
                        "{input:?} @{cut}"
                    );
                }
            }
        }
    }

    fn cmd(args: &[&[u8]]) -> Ev {
        Ev::Cmd(args.iter().map(|a| a.to_vec()).collect())
    }

    fn err(e: ProtocolError) -> Ev {
        Ev::Err(e.as_bytes().to_vec())
    }

    #[test]
    fn table_of_outcomes() {
        let rows: &[(&[u8], Vec<Ev>)] = &[
            (b"SET k v\r\n", vec![cmd(&[b"SET", b"k", b"v"])]),
            (
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
                vec![cmd(&[b"SET", b"k", b"v"])],
            ),
            (
                b"*0\r\n*-1\r\n\r\n\n",
                vec![Ev::Skip, Ev::Skip, Ev::Skip, Ev::Skip],
            ),
            (b"*1\r\n$0\r\n\r\n", vec![cmd(&[b""])]),
            (b"*1\r\n$3\r\na\r\n\r\n", vec![cmd(&[b"a\r\n"])]),
            (
                b"*1\r\n$1\r\naXY*1\r\n$1\r\nb\r\n",
                vec![cmd(&[b"a"]), cmd(&[b"b"])],
            ),
            (b"x \"\\x00\"\r\n", vec![cmd(&[b"x", b"\0"])]),
            (b"*1\r\n$1\r\n", vec![]),
            (b"*1\r\n$", vec![]),
            (b"*1\r\n:1\r\n", vec![err(expected_dollar(b':'))]),
            (
                b"a\r\nb\"\r\nc\r\n",
                vec![cmd(&[b"a"]), err(ERR_UNBALANCED_QUOTES)],
            ),
            (b"*1\r\n$5\r\n", vec![]),
        ];
        for (input, want) in rows {
            assert_eq!(&run_whole(input, Limits::default()), want, "{input:?}");
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(
                &run_chunks(&bytes, Limits::default(), true),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn expected_dollar_messages() {
        assert_eq!(
            expected_dollar(b'x'),
            "Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            expected_dollar(b'\r'),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            expected_dollar(b'\n'),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            expected_dollar(0xff).as_bytes(),
            b"Protocol error: expected '$', got '\xff'"
        );
        assert_eq!(
            ERR_INVALID_BULK.to_string(),
            "Protocol error: invalid bulk length"
        );
    }

    /// The 64 KiB limits, fed in the 16 KiB reads used when these were recorded.
    #[test]
    fn too_big_lines_fire_past_64k_without_terminator() {
        let a = vec![b'a'; 65536];
        let q: Vec<&[u8]> = a.chunks(16384).collect();
        // Inline: 65536 bytes wait, one more is an error (oracle: same).
        assert_eq!(run_chunks(&q, Limits::default(), true), vec![]);
        let mut more = q.clone();
        more.push(b"a");
        assert_eq!(
            run_chunks(&more, Limits::default(), true),
            vec![err(ERR_TOO_BIG_INLINE)]
        );

        // Multibulk count: '*' plus 65535 bytes waits, one more is an error.
        let mut star = b"*".to_vec();
        star.extend_from_slice(&a[1..]);
        let q: Vec<&[u8]> = star.chunks(16384).collect();
        assert_eq!(run_chunks(&q, Limits::default(), true), vec![]);
        let mut more = q.clone();
        more.push(b"a");
        assert_eq!(
            run_chunks(&more, Limits::default(), true),
            vec![err(ERR_TOO_BIG_MBULK)]
        );

        // Bulk count: counted from the start of the '$' line.
        let mut dollar = b"*1\r\n$".to_vec();
        dollar.extend_from_slice(&a[1..]);
        let q: Vec<&[u8]> = dollar.chunks(16384).collect();
        for compact in [false, true] {
            assert_eq!(run_chunks(&q, Limits::default(), compact), vec![]);
            let mut more = q.clone();
            more.push(b"a");
            assert_eq!(
                run_chunks(&more, Limits::default(), compact),
                vec![err(ERR_TOO_BIG_BULK)]
            );
        }

        // Oracle: a command followed by 70000 bytes without a newline, in one write:
        // "+PONG\r\n-ERR Protocol error: too big inline request\r\n".
        let mut pipe = b"*1\r\n$4\r\nping\r\n".to_vec();
        pipe.extend(std::iter::repeat_n(b'x', 70000));
        assert_eq!(
            run_whole(&pipe, Limits::default()),
            vec![cmd(&[b"ping"]), err(ERR_TOO_BIG_INLINE)]
        );

        // The limit is only checked while the terminator is missing: a long line that
        // arrives complete is parsed (Redis too, when the read brings the newline along).
        let mut long = vec![b'a'; 70000];
        long.push(b'\n');
        assert_eq!(
            run_whole(&long, Limits::default()),
            vec![cmd(&[&long[..70000]])]
        );
        // A NUL hides the newline from Redis's strchr: wait, then the limit fires.
        let mut nul = b"a\0".to_vec();
        nul.extend(std::iter::repeat_n(b'\n', 65535));
        assert_eq!(
            run_whole(&nul, Limits::default()),
            vec![err(ERR_TOO_BIG_INLINE)]
        );
    }

    #[test]
    fn proto_max_bulk_len_is_configurable() {
        let small = Limits {
            proto_max_bulk_len: 3,
            authenticated: true,
        };
        assert_eq!(
            run_whole(b"*1\r\n$3\r\nabc\r\n", small),
            vec![cmd(&[b"abc"])]
        );
        assert_eq!(
            run_whole(b"*1\r\n$4\r\nabcd\r\n", small),
            vec![err(ERR_INVALID_BULK)]
        );
        let master = Limits {
            proto_max_bulk_len: u64::MAX,
            authenticated: true,
        };
        assert_eq!(run_whole(b"*1\r\n$9223372036854775807\r\n", master), vec![]);
    }

    #[test]
    fn huge_count_reserves_at_most_1024_slots() {
        let mut p = RequestParser::new();
        let mut argv = Argv::new();
        let buf = b"*2147483647\r\n$1\r\na\r\n";
        assert_eq!(
            p.parse(buf, 0, &mut argv, &Limits::default()),
            Parse::Incomplete { keep_from: 0 }
        );
        assert!(p.partial.capacity() <= 2 * ARGV_INITIAL_RESERVE);
        assert_eq!(p.partial, vec![(17, 1)]);
        assert!(p.in_progress());
    }

    #[test]
    fn many_arguments_grow_with_the_data() {
        let n = 100_000;
        let mut input = format!("*{n}\r\n").into_bytes();
        for i in 0..n {
            let s = i.to_string();
            input.extend_from_slice(format!("${}\r\n{}\r\n", s.len(), s).as_bytes());
        }
        let chunks: Vec<&[u8]> = input.chunks(16384).collect();
        let ev = run_chunks(&chunks, Limits::default(), true);
        assert_eq!(ev.len(), 1);
        let Ev::Cmd(args) = &ev[0] else { panic!() };
        assert_eq!(args.len(), n);
        assert_eq!(args[n - 1], (n - 1).to_string().into_bytes());
        // The big vector is given back on the next command.
        let mut argv = Argv::new();
        argv.ranges.reserve(n);
        argv.clear();
        assert!(argv.ranges.capacity() <= ARGV_KEEP_CAPACITY);
    }

    #[test]
    fn pipeline_reuses_argv_without_reallocating() {
        let mut input = Vec::new();
        for i in 0..1000 {
            let v = format!("value{i}");
            input.extend_from_slice(
                format!("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n${}\r\n{}\r\n", v.len(), v).as_bytes(),
            );
        }
        let mut p = RequestParser::new();
        let mut argv = Argv::new();
        let limits = Limits::default();
        let mut pos = 0;
        let mut ptr = None;
        let mut count = 0;
        while let Parse::Command { next } = p.parse(&input, pos, &mut argv, &limits) {
            assert_eq!(argv.get(&input, 1), b"key");
            let now = argv.ranges.as_ptr();
            assert_eq!(*ptr.get_or_insert(now), now);
            pos = next;
            count += 1;
        }
        assert_eq!(count, 1000);
        assert_eq!(pos, input.len());
    }

    #[test]
    fn resume_with_wrong_pos_starts_over() {
        let mut p = RequestParser::new();
        let mut argv = Argv::new();
        let l = Limits::default();
        let buf = b"*2\r\n$4\r\necho\r\n$9\r\nPING\r\n";
        assert_eq!(
            p.parse(buf, 0, &mut argv, &l),
            Parse::Incomplete { keep_from: 0 }
        );
        // The caller skips ahead; the parser drops the half command.
        assert_eq!(p.parse(buf, 18, &mut argv, &l), Parse::Command { next: 24 });
        assert_eq!(argv.get(buf, 0), b"PING");
        assert!(!p.in_progress());
        // Buffer shorter than the saved cursor, pos past the end: no panic.
        assert_eq!(
            p.parse(buf, 0, &mut argv, &l),
            Parse::Incomplete { keep_from: 0 }
        );
        assert_eq!(
            p.parse(b"*", 0, &mut argv, &l),
            Parse::Incomplete { keep_from: 0 }
        );
        assert_eq!(
            p.parse(b"*", 9, &mut argv, &l),
            Parse::Incomplete { keep_from: 1 }
        );
        // Dropping bytes of the command in progress forgets it.
        assert_eq!(
            p.parse(buf, 0, &mut argv, &l),
            Parse::Incomplete { keep_from: 0 }
        );
        assert!(p.in_progress());
        p.shifted(5);
        assert!(!p.in_progress());
        assert_eq!(argv.get(buf, 7), b"");
    }

    #[test]
    fn argv_get_is_total() {
        let argv = Argv {
            ranges: vec![(0, 3), (2, 10), (usize::MAX, 2)],
            scratch: Vec::new(),
            inline: false,
        };
        assert_eq!(argv.get(b"abcd", 0), b"abc");
        assert_eq!(argv.get(b"abcd", 1), b"");
        assert_eq!(argv.get(b"abcd", 2), b"");
        assert_eq!(argv.get(b"abcd", 3), b"");
    }

    #[test]
    fn string2ll_matches_redis() {
        let ok: &[(&[u8], i64)] = &[
            (b"0", 0),
            (b"1", 1),
            (b"-1", -1),
            (b"9223372036854775807", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
        ];
        for (s, v) in ok {
            assert_eq!(string2ll(s), Some(*v), "{s:?}");
        }
        let bad: &[&[u8]] = &[
            b"",
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"000000000000000000001",
        ];
        for s in bad {
            assert_eq!(string2ll(s), None, "{s:?}");
        }
    }

    fn naive_find(hay: &[u8], t: u8) -> Option<usize> {
        hay.iter().position(|&b| b == t || b == 0)
    }

    /// Encodes arguments the way clients do (RESP array of bulk strings).
    fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            bulk(&mut out, a);
        }
        out
    }

    /// Encodes arguments as one inline line, double-quoting every argument.
    fn encode_inline(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for a in args {
            out.push(b'"');
            for &b in a {
                if b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ' {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                }
            }
            out.extend_from_slice(b"\" ");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Bytes drawn mostly from protocol tokens, to reach deep parser states.
    fn protocolish() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"*".to_vec()),
            Just(b"$".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\0".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"'".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\\x4".to_vec()),
            Just(b"-".to_vec()),
            Just(b"11".to_vec()),
            (0u8..10).prop_map(|d| vec![b'0' + d]),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(token, 0..64).prop_map(|v| v.concat())
    }

    fn limits_strategy() -> impl Strategy<Value = Limits> {
        (
            any::<bool>(),
            prop_oneof![Just(DEFAULT_PROTO_MAX_BULK_LEN), 0u64..20],
        )
            .prop_map(|(authenticated, proto_max_bulk_len)| Limits {
                proto_max_bulk_len,
                authenticated,
            })
    }

    fn split_at_points<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut last = 0;
        for p in points {
            out.push(&input[last..p]);
            last = p;
        }
        out.push(&input[last..]);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic_and_split_agrees(
            input in prop_oneof![prop::collection::vec(any::<u8>(), 0..200), protocolish()],
            cuts in prop::collection::vec(any::<usize>(), 0..8),
            limits in limits_strategy(),
            compact in any::<bool>(),
        ) {
            let whole = run_whole(&input, limits);
            let chunks = split_at_points(&input, &cuts);
            prop_assert_eq!(run_chunks(&chunks, limits, compact), whole);
        }

        #[test]
        fn encoded_commands_parse_back(
            cmds in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8), 1..5),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut input = Vec::new();
            for c in &cmds {
                input.extend_from_slice(&encode(c));
            }
            let want: Vec<Ev> = cmds.iter().cloned().map(Ev::Cmd).collect();
            prop_assert_eq!(run_whole(&input, Limits::default()), want.clone());
            let chunks = split_at_points(&input, &cuts);
            prop_assert_eq!(run_chunks(&chunks, Limits::default(), true), want);
        }

        #[test]
        fn encoded_inline_commands_parse_back(
            args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..6),
        ) {
            let input = encode_inline(&args);
            prop_assert_eq!(run_whole(&input, Limits::default()), vec![Ev::Cmd(args)]);
        }

        #[test]
        fn fast_path_agrees_with_resumable_parser(
            input in prop_oneof![
                protocolish().prop_map(|v| [b"*".to_vec(), v].concat()),
                prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..5)
                    .prop_map(|c| encode(&c)),
            ],
            cut in any::<usize>(),
            limits in limits_strategy(),
        ) {
            // Whole commands, and commands cut short anywhere.
            let mut input = input;
            if cut % 3 == 0 {
                input.truncate(cut / 3 % (input.len() + 1));
            }
            if input.is_empty() {
                input.push(b'*');
            }
            let mut fast = Argv::new();
            if let Some(next) = parse_whole_multibulk(&input, 0, &mut fast, &limits) {
                let mut slow = Argv::new();
                let mut p = RequestParser::new();
                let got = p.parse_multibulk_header(&input, 0, &mut slow, &limits);
                prop_assert_eq!(got, Parse::Command { next });
                prop_assert_eq!(fast.ranges, slow.ranges);
            }
        }

        #[test]
        fn swar_search_matches_naive(
            hay in prop::collection::vec(prop_oneof![Just(0u8), Just(b'\r'), 1u8..255], 0..80),
            t in prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()],
        ) {
            prop_assert_eq!(find_byte_or_nul(&hay, t), naive_find(&hay, t));
        }

        #[test]
        fn string2ll_agrees_with_std_on_canonical_numbers(v in any::<i64>()) {
            prop_assert_eq!(string2ll(v.to_string().as_bytes()), Some(v));
        }
    }
}
