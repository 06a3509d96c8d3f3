//! The stream type (t_stream.c's data half): a radix tree of listpacks, laid out byte for byte
//! as Redis 7.0 lays them, plus consumer groups.
//!
//! ```text
//!  Stream
//!  +-----------------------------------------------------------------------------------+
//!  | rax: Rax<Listpack>   key = master ID as 16 bytes big-endian (ms, seq)             |
//!  | length, last_id, first_id, max_deleted_entry_id, entries_added                    |
//!  | groups: Option<Rax<Group>>  key = group name                                      |
//!  +-----------------------------------------------------------------------------------+
//!
//!  One node's listpack: the master entry, then the entries, oldest first.
//!  +-------+---------+------------+---------+-----+---------+---+
//!  | count | deleted | num-fields | field_1 | ... | field_N | 0 |     master entry
//!  +-------+---------+------------+---------+-----+---------+---+
//!  +-------+--------+---------+------------+-------+-------+-----+-------+----------+
//!  | flags | ms-diff| seq-diff| num-fields | field | value | ... | value | lp-count |   entry
//!  +-------+--------+---------+------------+-------+-------+-----+-------+----------+
//!  with SAMEFIELDS (the entry has exactly the master's fields, in order):
//!  +-------+--------+---------+-------+-----+-------+----------+
//!  | flags | ms-diff| seq-diff| value | ... | value | lp-count |
//!  +-------+--------+---------+-------+-----+-------+----------+
//!
//!  count/deleted: live and deleted (flagged) entries of the node; flags: 1 DELETED,
//!  2 SAMEFIELDS; the ID is stored as the difference from the node's master ID (its rax key);
//!  lp-count: the number of listpack elements of the entry before it (3 + N with SAMEFIELDS,
//!  4 + 2N without), so the node can be walked backwards; the master's trailing 0 plays
//!  that part for the master entry and ends a backward walk.
//!
//!  Group: last_id, entries_read (-1 unknown), pel: Rax<Nack> (key = 16-byte entry ID),
//!         consumers: Rax<Consumer> (key = name); Consumer: seen_time, pel: Rax<()> (the IDs
//!         of the group PEL entries it owns; the Nack names its owner).
//! ```
//!
//! A node takes new entries until its listpack would reach `stream-node-max-bytes` or it
//! holds `stream-node-max-entries` entries (live plus deleted), as streamAppendItem decides.
//! Deleting an entry only flags it; a node whose last live entry goes is removed.

use crate::ds::listpack::{Listpack, LpElem};
use crate::ds::rax::{Rax, Seek};

/// Entry flag: deleted (a tombstone, skipped by readers).
pub const FLAG_DELETED: i64 = 1;
/// Entry flag: the entry has the master entry's fields.
pub const FLAG_SAMEFIELDS: i64 = 2;
/// A group's `entries_read` when unknown (SCG_INVALID_ENTRIES_READ).
pub const INVALID_ENTRIES_READ: i64 = -1;
/// Listpacks never grow past this, whatever the config (STREAM_LISTPACK_MAX_SIZE).
pub const LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// A stream entry ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// 0-0.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Builds an ID.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The 128-bit big-endian form, sorting as the IDs do (streamEncodeID).
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// The inverse of [`StreamId::encode`]; None unless `b` has 16 bytes.
    pub fn decode(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId {
            ms: u64::from_be_bytes(b[..8].try_into().ok()?),
            seq: u64::from_be_bytes(b[8..].try_into().ok()?),
        })
    }

    /// The next ID; false (and 0-0) past the last one (streamIncrID).
    pub fn incr(&mut self) -> bool {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                *self = StreamId::MIN;
                return false;
            }
            self.ms += 1;
            self.seq = 0;
        } else {
            self.seq += 1;
        }
        true
    }

    /// The previous ID; false (and the maximum) before 0-0 (streamDecrID).
    pub fn decr(&mut self) -> bool {
        if self.seq == 0 {
            if self.ms == 0 {
                *self = StreamId::MAX;
                return false;
            }
            self.ms -= 1;
            self.seq = u64::MAX;
        } else {
            self.seq -= 1;
        }
        true
    }

    /// True for 0-0.
    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// "<ms>-<seq>".
    pub fn to_bytes(&self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }
}

/// Redis's string2ull: a canonical i64 that is not negative, else what C's strtoull accepts
/// as a whole string (leading blanks, a sign, leading zeros; a minus wraps), without overflow.
pub fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::util::num::parse_i64(s) {
        return if v < 0 { None } else { Some(v as u64) };
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() || !s[i].is_ascii_digit() {
        return None;
    }
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((s[i] - b'0') as u64)?;
        i += 1;
    }
    if i != s.len() {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an ID as a client gives it (streamGenericParseIDOrReply): `-`, `+` (unless
/// `strict`), `<ms>`, `<ms>-<seq>`, and `<ms>-*` when `seq_given` is asked for (it is then
/// set to false for that form). A missing sequence is `missing_seq`.
pub fn parse_id(
    s: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_given: Option<&mut bool>,
) -> Option<StreamId> {
    if s.len() > 127 {
        return None;
    }
    // The C code works on a NUL-terminated copy: an embedded NUL ends the string.
    let s = match s.iter().position(|&b| b == 0) {
        Some(p) => &s[..p],
        None => s,
    };
    if strict && (s == b"-" || s == b"+") {
        return None;
    }
    let mut seq_flag = true;
    if s == b"-" {
        return Some(StreamId::MIN);
    }
    if s == b"+" {
        return Some(StreamId::MAX);
    }
    let (ms_part, seq_part) = match s.iter().position(|&b| b == b'-') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let ms = string2ull(ms_part)?;
    let seq = match seq_part {
        Some(b"*") if seq_given.is_some() => {
            seq_flag = false;
            0
        }
        Some(p) => string2ull(p)?,
        None => missing_seq,
    };
    if let Some(g) = seq_given {
        *g = seq_flag;
    }
    Some(StreamId { ms, seq })
}

/// A pending entry of a group (streamNACK).
#[derive(Clone, Debug)]
pub struct Nack {
    /// The consumer owning it: None transiently for XCLAIM FORCE, and for good when a RESTORE
    /// without deep checks (sanitize-dump-payload no) names no owner; every reader copes
    /// (redis-server crashes in XACK, XPENDING's extended form and XINFO STREAM FULL).
    pub consumer: Option<Vec<u8>>,
    /// Last delivery, Unix ms.
    pub delivery_time: i64,
    /// Number of deliveries.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug)]
pub struct Consumer {
    /// Its name.
    pub name: Vec<u8>,
    /// Last time it was seen (read or claimed), Unix ms.
    pub seen_time: i64,
    /// The IDs of the pending entries it owns.
    pub pel: Rax<()>,
}

/// A consumer group (streamCG).
#[derive(Clone, Debug)]
pub struct Group {
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Logical read counter, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Pending entries, by 16-byte ID.
    pub pel: Rax<Nack>,
    /// Consumers, by name.
    pub consumers: Rax<Consumer>,
}

impl Group {
    /// A new group.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: Rax::new(),
            consumers: Rax::new(),
        }
    }

    /// Adds a consumer unless it exists; true when created.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        if self.consumers.contains(name) {
            return false;
        }
        self.consumers.insert(
            name,
            Consumer {
                name: name.to_vec(),
                seen_time: now_ms,
                pel: Rax::new(),
            },
        );
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<u64> {
        let c = self.consumers.remove(name)?;
        let n = c.pel.len();
        c.pel.for_each(|k, _| {
            self.pel.remove(k);
        });
        Some(n)
    }

    /// Removes a pending entry from the group and its owner.
    pub fn ack(&mut self, key: &[u8]) -> bool {
        let Some(nack) = self.pel.remove(key) else {
            return false;
        };
        if let Some(owner) = nack.consumer {
            if let Some(c) = self.consumers.get_mut(&owner) {
                c.pel.remove(key);
            }
        }
        true
    }
}

/// The stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Nodes by master ID.
    pub rax: Rax<Listpack>,
    /// Live entries.
    pub length: u64,
    /// Last ID ever generated.
    pub last_id: StreamId,
    /// First live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// Largest ID ever deleted.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name, created on demand.
    pub groups: Option<Box<Rax<Group>>>,
}

/// How XADD/XTRIM trim (streamAddTrimArgs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// No trimming.
    None,
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this ID.
    MinId(StreamId),
}

/// Where a node's parts are (read from its master entry).
struct NodeHdr {
    count: i64,
    master_fields: usize,
    /// Position of the first master field (or of the terminator without fields).
    master_start: usize,
    /// Position of the first entry's flags.
    first_entry: Option<usize>,
}

#[inline]
fn int_at(lp: &Listpack, p: usize) -> i64 {
    lp.get(p).as_i64().unwrap_or(0)
}

fn node_hdr(lp: &Listpack) -> Option<NodeHdr> {
    let p = lp.first()?;
    let count = int_at(lp, p);
    let p = lp.next(p)?;
    let p = lp.next(p)?;
    let master_fields = int_at(lp, p).max(0) as usize;
    let mut p = lp.next(p)?;
    let master_start = p;
    for _ in 0..master_fields {
        p = lp.next(p)?;
    }
    Some(NodeHdr {
        count,
        master_fields,
        master_start,
        first_entry: lp.next(p),
    })
}

/// One entry read from a node.
pub struct EntryRef<'a> {
    /// Its ID.
    pub id: StreamId,
    /// Its flags.
    pub flags: i64,
    lp: &'a Listpack,
    master_start: usize,
    data_pos: usize,
    numfields: usize,
    /// Position of the entry's lp-count.
    end_pos: usize,
}

impl<'a> EntryRef<'a> {
    /// Number of field-value pairs.
    pub fn numfields(&self) -> usize {
        self.numfields
    }

    /// Calls `f` on each field and value, in order.
    pub fn for_each_field(&self, mut f: impl FnMut(LpElem<'a>, LpElem<'a>)) {
        let lp = self.lp;
        let mut p = Some(self.data_pos);
        if self.flags & FLAG_SAMEFIELDS != 0 {
            let mut fp = Some(self.master_start);
            for _ in 0..self.numfields {
                let (Some(fq), Some(vq)) = (fp, p) else {
                    return;
                };
                f(lp.get(fq), lp.get(vq));
                fp = lp.next(fq);
                p = lp.next(vq);
            }
        } else {
            for _ in 0..self.numfields {
                let Some(fq) = p else { return };
                let Some(vq) = lp.next(fq) else { return };
                f(lp.get(fq), lp.get(vq));
                p = lp.next(vq);
            }
        }
    }
}

/// Reads the entry whose flags are at `p` in a node with master `master`.
fn read_entry<'a>(lp: &'a Listpack, master: StreamId, h: &NodeHdr, p: usize) -> EntryRef<'a> {
    let flags = int_at(lp, p);
    let q = lp.next(p).unwrap_or(p);
    let ms = master.ms.wrapping_add(int_at(lp, q) as u64);
    let q = lp.next(q).unwrap_or(q);
    let seq = master.seq.wrapping_add(int_at(lp, q) as u64);
    let mut q = lp.next(q).unwrap_or(q);
    let (numfields, skip) = if flags & FLAG_SAMEFIELDS != 0 {
        (h.master_fields, h.master_fields)
    } else {
        let n = int_at(lp, q).max(0) as usize;
        q = lp.next(q).unwrap_or(q);
        (n, n * 2)
    };
    let data_pos = q;
    for _ in 0..skip {
        q = lp.next(q).unwrap_or(q);
    }
    EntryRef {
        id: StreamId { ms, seq },
        flags,
        lp,
        master_start: h.master_start,
        data_pos,
        numfields,
        end_pos: q,
    }
}

/// The flags position of the entry before the one at `p` (None at the master entry).
fn prev_entry(lp: &Listpack, p: usize) -> Option<usize> {
    let mut q = lp.prev(p)?;
    let n = int_at(lp, q);
    if n <= 0 {
        return None;
    }
    for _ in 0..n {
        q = lp.prev(q)?;
    }
    Some(q)
}

/// The flags position of the last entry of a node.
fn last_entry(lp: &Listpack) -> Option<usize> {
    let eof = lp.bytes() - 1;
    prev_entry(lp, eof)
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Visits the entries with `start <= id <= end`, forward or backward, skipping
    /// tombstones unless `tombstones`; `f` returns false to stop (streamIterator).
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        tombstones: bool,
        mut f: impl FnMut(&EntryRef<'a>) -> bool,
    ) {
        let mut it = self.rax.iter();
        if !rev {
            if !start.is_zero() {
                it.seek(Seek::Le, &start.encode());
                if it.eof() {
                    it.seek(Seek::First, b"");
                }
            } else {
                it.seek(Seek::First, b"");
            }
        } else if end != StreamId::MIN {
            it.seek(Seek::Le, &end.encode());
            if it.eof() {
                it.seek(Seek::Last, b"");
            }
        } else {
            it.seek(Seek::Last, b"");
        }
        loop {
            let node = if rev { it.prev() } else { it.next() };
            let Some((key, lp)) = node else { return };
            let Some(master) = StreamId::decode(key) else {
                return;
            };
            let Some(h) = node_hdr(lp) else { continue };
            let mut p = if rev { last_entry(lp) } else { h.first_entry };
            while let Some(pos) = p {
                let e = read_entry(lp, master, &h, pos);
                if !rev {
                    let emit = e.id >= start && (tombstones || e.flags & FLAG_DELETED == 0);
                    if emit && (e.id > end || !f(&e)) {
                        return;
                    }
                    p = lp.next(e.end_pos);
                } else {
                    let emit = e.id <= end && (tombstones || e.flags & FLAG_DELETED == 0);
                    if emit && (e.id < start || !f(&e)) {
                        return;
                    }
                    p = prev_entry(lp, pos);
                }
            }
        }
    }

    /// The first (or last) entry's ID, tombstones included or not (streamGetEdgeID); the
    /// maximum (or 0-0) when there is none.
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        let mut found = None;
        self.range(
            StreamId::MIN,
            StreamId::MAX,
            !first,
            !skip_tombstones,
            |e| {
                found = Some(e.id);
                false
            },
        );
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// The last live entry's ID (streamLastValidID), 0-0 when empty.
    pub fn last_valid_id(&self) -> StreamId {
        let mut found = StreamId::MIN;
        self.range(StreamId::MIN, StreamId::MAX, true, false, |e| {
            found = e.id;
            false
        });
        found
    }

    /// True when `id` is a live entry.
    pub fn entry_exists(&self, id: StreamId) -> bool {
        let mut found = false;
        self.range(id, id, false, false, |_| {
            found = true;
            false
        });
        found
    }

    /// The ID XADD would generate now (streamNextID), before the overflow check.
    pub fn next_id(&self, now_ms: u64) -> StreamId {
        if now_ms > self.last_id.ms {
            StreamId::new(now_ms, 0)
        } else {
            let mut id = self.last_id;
            id.incr();
            id
        }
    }

    /// Appends an entry (streamAppendItem) with `id` already chosen and checked to be above
    /// `last_id`. `fields` alternates field and value.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], max_bytes: u64, max_entries: i64) {
        let numfields = fields.len() / 2;
        let totelelen: u64 = fields.iter().map(|f| f.len() as u64).sum();
        let node_max = if max_bytes == 0 || max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            max_bytes
        };
        let mut tail = self.rax.last_mut();
        if let Some((_, lp)) = tail.as_mut() {
            let mut new_node = lp.bytes() as u64 + totelelen >= node_max;
            if !new_node && max_entries != 0 {
                if let Some(p) = lp.first() {
                    // Wrapping: a RESTOREd node's counters need not match its entries.
                    let count = int_at(lp, p).wrapping_add(lp.next(p).map_or(0, |q| int_at(lp, q)));
                    new_node = count >= max_entries;
                }
            }
            if new_node {
                lp.shrink_to_fit();
                tail = None;
            }
        }
        let mut flags = 0i64;
        let (master, lp) = match tail {
            None => {
                let mut lp = Listpack::new();
                lp.push_back(1i64);
                lp.push_back(0i64);
                lp.push_back(numfields as i64);
                for i in 0..numfields {
                    lp.push_back(fields[i * 2]);
                }
                lp.push_back(0i64);
                self.rax.insert(&id.encode(), lp);
                flags |= FLAG_SAMEFIELDS;
                let lp = self.rax.get_mut(&id.encode()).expect("just inserted");
                (id, lp)
            }
            Some((key, lp)) => {
                let master = StreamId::decode(&key).unwrap_or_default();
                let p = lp.first().expect("a node has a master entry");
                let count = int_at(lp, p);
                lp.replace(p, count.wrapping_add(1));
                let p = lp
                    .next(p)
                    .and_then(|p| lp.next(p))
                    .expect("master fields count");
                let mfields = int_at(lp, p);
                if mfields == numfields as i64 {
                    let mut q = lp.next(p);
                    let mut same = true;
                    for i in 0..numfields {
                        match q {
                            Some(pos) if lp.get(pos).eq_bytes(fields[i * 2]) => q = lp.next(pos),
                            _ => {
                                same = false;
                                break;
                            }
                        }
                    }
                    if same {
                        flags |= FLAG_SAMEFIELDS;
                    }
                }
                (master, lp)
            }
        };
        lp.push_back(flags);
        lp.push_back(id.ms.wrapping_sub(master.ms) as i64);
        lp.push_back(id.seq.wrapping_sub(master.seq) as i64);
        let same = flags & FLAG_SAMEFIELDS != 0;
        if !same {
            lp.push_back(numfields as i64);
        }
        for i in 0..numfields {
            if !same {
                lp.push_back(fields[i * 2]);
            }
            lp.push_back(fields[i * 2 + 1]);
        }
        let lp_count = if same {
            numfields as i64 + 3
        } else {
            numfields as i64 * 2 + 4
        };
        lp.push_back(lp_count);
        self.length = self.length.wrapping_add(1);
        self.entries_added = self.entries_added.wrapping_add(1);
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// Flags the live entry `id` as deleted (streamDeleteItem); a node left without live
    /// entries is removed. Does not touch first_id / max_deleted_entry_id.
    pub fn delete_entry(&mut self, id: StreamId) -> bool {
        let key = {
            let mut it = self.rax.iter();
            it.seek(Seek::Le, &id.encode());
            match it.next() {
                Some((k, _)) => k.to_vec(),
                None => return false,
            }
        };
        let master = StreamId::decode(&key).unwrap_or_default();
        let Some(lp) = self.rax.get_mut(&key) else {
            return false;
        };
        let Some(h) = node_hdr(lp) else { return false };
        let mut p = h.first_entry;
        let mut target = None;
        while let Some(pos) = p {
            let e = read_entry(lp, master, &h, pos);
            if e.id == id {
                if e.flags & FLAG_DELETED == 0 {
                    target = Some((pos, e.flags));
                }
                break;
            }
            if e.id > id {
                break;
            }
            p = lp.next(e.end_pos);
        }
        let Some((pos, flags)) = target else {
            return false;
        };
        lp.replace(pos, flags | FLAG_DELETED);
        let first = lp.first().expect("master entry");
        let count = int_at(lp, first);
        if count == 1 {
            self.rax.remove(&key);
        } else {
            lp.replace(first, count.wrapping_sub(1));
            let q = lp.next(first).expect("deleted count");
            let deleted = int_at(lp, q);
            lp.replace(q, deleted.wrapping_add(1));
        }
        // Wrapping, as C's unsigned `s->length--`: a RESTOREd stream may carry a length that
        // does not match its nodes (XLEN then answers what redis-server answers).
        self.length = self.length.wrapping_sub(1);
        true
    }

    /// Trims (streamTrim): whole nodes from the head, then, unless `approx`, entries of the
    /// first node left. `limit` (0 = none) bounds the entries removed. Returns how many.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: i64) -> i64 {
        if how == Trim::None {
            return 0;
        }
        let mut deleted: i64 = 0;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let Some((key, lp)) = self.rax.first() else {
                break;
            };
            let Some(h) = node_hdr(lp) else { break };
            let entries = h.count;
            if limit != 0 && deleted.saturating_add(entries) > limit {
                break;
            }
            let master = StreamId::decode(&key).unwrap_or_default();
            let remove_node = match how {
                // Unsigned arithmetic as streamTrim's: a RESTOREd length below the node's
                // count wraps, and the node goes.
                Trim::MaxLen(max) => self.length.wrapping_sub(entries as u64) >= max,
                Trim::MinId(min) => {
                    let last = last_entry(lp)
                        .map(|p| read_entry(lp, master, &h, p).id)
                        .unwrap_or_default();
                    last < min
                }
                Trim::None => false,
            };
            if remove_node {
                self.rax.remove(&key);
                self.length = self.length.wrapping_sub(entries as u64);
                deleted = deleted.saturating_add(entries);
                continue;
            }
            if approx {
                break;
            }
            // Flag entries inside this node.
            let lp = self.rax.get_mut(&key).expect("node");
            let mut from_lp = 0i64;
            let mut p = h.first_entry;
            while let Some(pos) = p {
                let e = read_entry(lp, master, &h, pos);
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => e.id >= min,
                    Trim::None => true,
                };
                if stop {
                    break;
                }
                let (flags, end) = (e.flags, e.end_pos);
                if flags & FLAG_DELETED == 0 {
                    // Same-size replacement (flags are 0..3): positions stay valid.
                    lp.replace(pos, flags | FLAG_DELETED);
                    from_lp += 1;
                    self.length = self.length.wrapping_sub(1);
                }
                p = lp.next(end);
            }
            deleted += from_lp;
            let first = lp.first().expect("master entry");
            lp.replace(first, entries.wrapping_sub(from_lp));
            let q = lp.next(first).expect("deleted count");
            let marked = int_at(lp, q);
            lp.replace(q, marked.wrapping_add(from_lp));
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted != 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// True when a tombstone may lie in [start, end] (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            // The latest tombstone is before the first entry.
            return false;
        }
        let s = start.unwrap_or(StreamId::MIN);
        let e = end.unwrap_or(StreamId::MAX);
        s <= self.max_deleted_entry_id && self.max_deleted_entry_id <= e
    }

    /// The logical read counter of `id`, or -1 when it cannot be known
    /// (streamEstimateDistanceFromFirstEverEntry).
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            // Unsigned arithmetic as in C: a RESTOREd stream may say fewer entries were
            // added than it holds.
            if id < self.first_id {
                return self.entries_added.wrapping_sub(self.length) as i64;
            }
            if id == self.first_id {
                return self.entries_added.wrapping_sub(self.length).wrapping_add(1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag, None when it cannot be known (streamReplyWithCGLag).
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        let read = self.estimate_distance(g.last_id);
        if read != INVALID_ENTRIES_READ {
            return Some((self.entries_added as i64).wrapping_sub(read));
        }
        None
    }

    /// The group named `name`.
    pub fn group(&self, name: &[u8]) -> Option<&Group> {
        self.groups.as_ref()?.get(name)
    }

    /// The group named `name`, mutably.
    pub fn group_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.groups.as_mut()?.get_mut(name)
    }

    /// Creates a group; false when the name exists (streamCreateCG).
    pub fn create_group(&mut self, name: &[u8], id: StreamId, entries_read: i64) -> bool {
        let groups = self.groups.get_or_insert_with(Default::default);
        if groups.contains(name) {
            return false;
        }
        groups.insert(name, Group::new(id, entries_read));
        true
    }

    /// Number of groups.
    pub fn group_count(&self) -> u64 {
        self.groups.as_ref().map_or(0, |g| g.len())
    }

    /// Bytes on the heap (MEMORY USAGE's estimate).
    pub fn heap_size(&self) -> usize {
        let mut n = self.rax.heap_size();
        self.rax.for_each(|_, lp| n += lp.allocated());
        if let Some(g) = &self.groups {
            n += g.heap_size();
            g.for_each(|_, grp| {
                n += grp.pel.heap_size() + grp.consumers.heap_size();
                grp.consumers
                    .for_each(|_, c| n += c.pel.heap_size() + c.name.capacity());
            });
        }
        n
    }

    /// True when every node's live and deleted counters match its entries' flags and the
    /// live ones add up to `length`. The deep checks of a RESTORE do not look at either (as
    /// Redis's do not): a payload may lie, and the trims and deletes that count from the
    /// counters then leave a stream that lies differently. The fuzz targets use it to tell
    /// such a stream from one our own writes broke.
    pub fn counters_agree(&self) -> bool {
        let mut ok = true;
        let mut total: u64 = 0;
        self.rax.for_each(|key, lp| {
            let (Some(master), Some(h)) = (StreamId::decode(key), node_hdr(lp)) else {
                ok = false;
                return;
            };
            let deleted = lp.first().and_then(|p| lp.next(p)).map(|p| int_at(lp, p));
            let (mut live, mut dead) = (0i64, 0i64);
            let mut p = h.first_entry;
            while let Some(pos) = p {
                let e = read_entry(lp, master, &h, pos);
                if e.flags & FLAG_DELETED == 0 {
                    live += 1;
                } else {
                    dead += 1;
                }
                p = lp.next(e.end_pos);
            }
            ok &= live == h.count && Some(dead) == deleted;
            total = total.wrapping_add(live as u64);
        });
        ok && total == self.length
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> Stream {
        self.clone()
    }
}

/// Checks that a node's listpack (already validated as a listpack) has a stream node's
/// structure (streamValidateListpackIntegrity, deep): the master entry, then entries whose
/// parts are integers where integers belong and whose lp-count matches, and nothing after.
/// With `deep` the node holds exactly count + deleted entries, as Redis checks; without it
/// (sanitize-dump-payload no, where Redis checks only the listpack header) the entries are
/// walked to the end whatever the master entry counts: the structure is what our readers
/// rely on, the counters are only arithmetic (done wrapping).
pub fn validate_node(lp: &Listpack, deep: bool) -> bool {
    let mut p = lp.first();
    let int = |p: &mut Option<usize>| -> Option<i64> {
        let pos = (*p)?;
        let v = match lp.get(pos) {
            LpElem::Int(v) => v,
            LpElem::Str(s) => crate::util::num::parse_i64(s)?,
        };
        *p = lp.next(pos);
        Some(v)
    };
    let skip = |p: &mut Option<usize>, n: i64| -> bool {
        for _ in 0..n {
            match *p {
                Some(pos) => *p = lp.next(pos),
                None => return false,
            }
        }
        true
    };
    let (Some(count), Some(deleted), Some(master_fields)) = (int(&mut p), int(&mut p), int(&mut p))
    else {
        return false;
    };
    if master_fields < 0 || !skip(&mut p, master_fields) || int(&mut p) != Some(0) {
        return false;
    }
    let mut entries = if deep {
        match count.checked_add(deleted) {
            Some(n) => n,
            None => return false,
        }
    } else {
        i64::MAX
    };
    while entries > 0 {
        entries -= 1;
        if p.is_none() {
            return !deep;
        }
        let Some(flags) = int(&mut p) else {
            return false;
        };
        if int(&mut p).is_none() || int(&mut p).is_none() {
            return false;
        }
        let mut fields = master_fields;
        let mut extra = 3;
        if flags & FLAG_SAMEFIELDS == 0 {
            let Some(f) = int(&mut p) else { return false };
            if f < 0 || !skip(&mut p, f) {
                return false;
            }
            fields = f;
            extra += f + 1;
        }
        if !skip(&mut p, fields) {
            return false;
        }
        if int(&mut p) != Some(fields + extra) {
            return false;
        }
    }
    p.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &Stream, rev: bool) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        s.range(StreamId::MIN, StreamId::MAX, rev, false, |e| {
            v.push((e.id.ms, e.id.seq));
            true
        });
        v
    }

    #[test]
    fn parse_ids() {
        assert_eq!(parse_id(b"1-2", 0, true, None), Some(StreamId::new(1, 2)));
        assert_eq!(parse_id(b"5", 7, true, None), Some(StreamId::new(5, 7)));
        assert_eq!(parse_id(b"-", 0, true, None), None);
        assert_eq!(parse_id(b"+", 0, false, None), Some(StreamId::MAX));
        assert_eq!(parse_id(b"1-*", 0, true, None), None);
        let mut g = true;
        assert_eq!(
            parse_id(b"1-*", 0, true, Some(&mut g)),
            Some(StreamId::new(1, 0))
        );
        assert!(!g);
        assert_eq!(parse_id(b"18446744073709551616", 0, true, None), None);
        assert_eq!(parse_id(b"-1", 0, true, None), None);
        assert_eq!(string2ull(b"-01"), Some(u64::MAX));
        assert_eq!(string2ull(b" 7"), Some(7));
        assert_eq!(string2ull(b"7 "), None);
    }

    #[test]
    fn append_layout_matches_redis() {
        // XADD s 1-1 a 1 b 2 ; XADD s 1-2 a 3 b 4 ; XADD s 2-0 c 5
        let mut s = Stream::new();
        s.append(StreamId::new(1, 1), &[b"a", b"1", b"b", b"2"], 4096, 100);
        s.append(StreamId::new(1, 2), &[b"a", b"3", b"b", b"4"], 4096, 100);
        s.append(StreamId::new(2, 0), &[b"c", b"5"], 4096, 100);
        let (_, lp) = s.rax.first().unwrap();
        let elems: Vec<Vec<u8>> = lp.iter().map(|e| e.to_vec()).collect();
        let want: Vec<&[u8]> = vec![
            b"3", b"0", b"2", b"a", b"b", b"0", // master: count, deleted, fields, 0
            b"2", b"0", b"0", b"1", b"2", b"5", // SAMEFIELDS, +0, +0, values, lp-count
            b"2", b"0", b"1", b"3", b"4", b"5", // SAMEFIELDS, +0, +1
            // Own fields: flags 0, ms +1, seq -1 (the C subtraction wraps), 1 field.
            b"0", b"1", b"-1", b"1", b"c", b"5", b"6",
        ];
        let want: Vec<Vec<u8>> = want.iter().map(|x| x.to_vec()).collect();
        assert_eq!(elems, want);
        assert_eq!(ids(&s, false), vec![(1, 1), (1, 2), (2, 0)]);
        assert_eq!(ids(&s, true), vec![(2, 0), (1, 2), (1, 1)]);
    }

    #[test]
    fn nodes_split_delete_trim() {
        let mut s = Stream::new();
        for i in 1..=10u64 {
            s.append(StreamId::new(i, 0), &[b"f", b"v"], 4096, 3);
        }
        assert_eq!(s.rax.len(), 4);
        assert!(s.delete_entry(StreamId::new(5, 0)));
        assert!(!s.delete_entry(StreamId::new(5, 0)));
        assert_eq!(s.length, 9);
        assert!(!s.entry_exists(StreamId::new(5, 0)));
        assert!(s.entry_exists(StreamId::new(6, 0)));
        assert_eq!(s.trim(Trim::MaxLen(5), true, 0), 3);
        assert_eq!(ids(&s, false).len(), 6);
        assert_eq!(s.trim(Trim::MaxLen(5), false, 0), 1);
        assert_eq!(
            ids(&s, false),
            vec![(6, 0), (7, 0), (8, 0), (9, 0), (10, 0)]
        );
        assert_eq!(s.length, 5);
        assert_eq!(s.first_id, StreamId::new(6, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(9, 0)), false, 0), 3);
        assert_eq!(ids(&s, true), vec![(10, 0), (9, 0)]);
    }
}
