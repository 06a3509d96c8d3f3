//! The RDB format, version 10 (Redis 7.0), both ways: the encoder that SAVE, BGSAVE and DUMP
//! use, and a decoder that reads versions 1 to 10 and validates every length, blob and
//! checksum, so a corrupt or hostile file is refused with an error and never crashes us.
//! docs/rdb-format.md describes the format field by field.
//!
//! ```text
//!  file    = "REDIS0010" aux* (SELECTDB dbid RESIZEDB size expires key-value*)* EOF crc64
//!  aux     = 0xFA string string                       (redis-ver, redis-bits, ctime, ...)
//!  kv      = [0xFC ms:u64le] [0xF8 idle:len | 0xF9 freq:u8] type:u8 key:string value
//!  len     = 00xxxxxx | 01xxxxxx xxxxxxxx | 0x80 u32be | 0x81 u64be
//!  string  = len bytes | 0xC0 i8 | 0xC1 i16le | 0xC2 i32le | 0xC3 clen:len len:len lzf-data
//!  DUMP    = type value version:u16le crc64:u64le     (crc over everything before it)
//! ```
//!
//! Layering: this file knows bytes and the object model. The encoder appends to a `Vec<u8>`
//! (the file writer in `super` flushes it in chunks and folds them into the CRC); the decoder
//! reads from a byte slice (a memory-mapped file or a RESTORE argument) through [`Reader`],
//! whose every read is bounds-checked. One function per value type on each side
//! (`save_*_value`, `load_*`), plus the conversions from encodings older Redis versions wrote
//! (ziplist, zipmap, ziplist quicklists, linked lists, ASCII scores).
//!
//! Aggregate types (list, set, sorted set, hash) are decoded into a neutral [`Parsed`] form
//! first and then built by `build_*`: that step is where each type's own representation and
//! its encoding thresholds (`*-max-listpack-*`, `set-max-intset-entries`) come in.

use crate::config::Config;
use crate::db::Db;
use crate::ds::listpack::Listpack;
use crate::ds::sds::Sds;
use crate::types::object::{string_value, RObj, Value};
use crate::types::stream::{Nack, Stream, StreamId};
use crate::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use crate::util::num::{fmt_i64, parse_i64};
use crc::{Crc, Digest, Table, CRC_64_REDIS};
use std::borrow::Cow;

/// The format version we write (RDB_VERSION) and the newest we read.
pub const RDB_VERSION: u16 = 10;

// Value types (the byte before each key).
/// A string.
pub const TYPE_STRING: u8 = 0;
/// A list as a linked list of strings (before Redis 3.2).
pub const TYPE_LIST: u8 = 1;
/// A set as a hash table.
pub const TYPE_SET: u8 = 2;
/// A sorted set with scores as ASCII strings (before RDB 8).
pub const TYPE_ZSET: u8 = 3;
/// A hash as a hash table.
pub const TYPE_HASH: u8 = 4;
/// A sorted set as a skiplist, scores as binary doubles.
pub const TYPE_ZSET_2: u8 = 5;
/// A module value, pre-GA format.
pub const TYPE_MODULE_PRE_GA: u8 = 6;
/// A module value.
pub const TYPE_MODULE_2: u8 = 7;
/// A hash as a zipmap (before Redis 2.6).
pub const TYPE_HASH_ZIPMAP: u8 = 9;
/// A list as one ziplist (before Redis 3.2).
pub const TYPE_LIST_ZIPLIST: u8 = 10;
/// A set of integers as an intset blob.
pub const TYPE_SET_INTSET: u8 = 11;
/// A small sorted set as a ziplist (before Redis 7.0).
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// A small hash as a ziplist (before Redis 7.0).
pub const TYPE_HASH_ZIPLIST: u8 = 13;
/// A list as a quicklist of ziplists (Redis 3.2 to 6.2).
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// A stream (listpacks + radix tree), RDB 9.
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
/// A small hash as a listpack.
pub const TYPE_HASH_LISTPACK: u8 = 16;
/// A small sorted set as a listpack.
pub const TYPE_ZSET_LISTPACK: u8 = 17;
/// A list as a quicklist of listpack (or plain) nodes.
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// A stream, Redis 7.0 format.
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

// Opcodes (in the type position, not followed by a key).
/// Function library (Redis 7.0 GA).
pub const OPCODE_FUNCTION2: u8 = 245;
/// Function library, pre-GA format.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// Module auxiliary data.
pub const OPCODE_MODULE_AUX: u8 = 247;
/// The next key's LRU idle time in seconds (a length).
pub const OPCODE_IDLE: u8 = 248;
/// The next key's LFU counter (one byte).
pub const OPCODE_FREQ: u8 = 249;
/// An auxiliary field: two strings.
pub const OPCODE_AUX: u8 = 250;
/// Hash table size hints for the current database: two lengths.
pub const OPCODE_RESIZEDB: u8 = 251;
/// The next key's absolute expire time in ms (u64 little-endian).
pub const OPCODE_EXPIRETIME_MS: u8 = 252;
/// The next key's absolute expire time in seconds (u32), old files.
pub const OPCODE_EXPIRETIME: u8 = 253;
/// Switch database: a length.
pub const OPCODE_SELECTDB: u8 = 254;
/// End of the data; the checksum follows.
pub const OPCODE_EOF: u8 = 255;

// Length encodings (the two top bits of the first byte).
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
const LEN_ENCVAL: u8 = 3;
// Special string encodings, after 11 in the top bits.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

// Quicklist 2 node containers.
const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;

/// The CRC-64 Redis uses for RDB files and DUMP payloads (Jones polynomial, reflected), with a
/// 16-way slicing table: the checksum runs over every byte saved or loaded.
pub static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// An incremental CRC-64, for writers that checksum chunk by chunk.
pub type Crc64Digest = Digest<'static, u64, Table<16>>;

/// CRC-64 of `data` (Redis's `crc64(0, data, len)`).
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

// =============================================================================================
// Encoding
// =============================================================================================

/// Appends a length (rdbSaveLen): 1, 2, 5 or 9 bytes depending on its size.
#[inline]
pub fn save_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(((len >> 8) as u8) | (LEN_14BIT << 6));
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends `v` in the 8/16/32-bit integer string encoding when it fits (rdbEncodeInteger);
/// false when it needs more than 32 bits.
#[inline]
fn save_int_encoded(out: &mut Vec<u8>, v: i64) -> bool {
    if v >= i8::MIN as i64 && v <= i8::MAX as i64 {
        out.push((LEN_ENCVAL << 6) | ENC_INT8);
        out.push(v as i8 as u8);
    } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        out.push((LEN_ENCVAL << 6) | ENC_INT16);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        out.push((LEN_ENCVAL << 6) | ENC_INT32);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends a string as Redis does (rdbSaveRawString): a canonical integer of at most 11
/// characters that fits 32 bits becomes an integer encoding; a string over 20 bytes is
/// LZF-compressed when `compress` and compression saves at least 4 bytes; otherwise the
/// length and the bytes.
pub fn save_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 && !s.is_empty() {
        if let Some(v) = parse_i64(s) {
            if save_int_encoded(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 && save_lzf(out, s) {
        return;
    }
    save_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends `s` LZF-compressed (rdbSaveLzfStringObject) when the result is at most
/// `len - 4` bytes, as Redis requires; false (nothing written) otherwise.
fn save_lzf(out: &mut Vec<u8>, s: &[u8]) -> bool {
    let Some(z) = crate::util::lzf::compress(s, s.len() - 4) else {
        return false;
    };
    out.push((LEN_ENCVAL << 6) | ENC_LZF);
    save_len(out, z.len() as u64);
    save_len(out, s.len() as u64);
    out.extend_from_slice(&z);
    true
}

/// Appends an integer string value (rdbSaveLongLongAsStringObject): an integer encoding when
/// it fits 32 bits, else its decimal digits as a plain string.
#[inline]
pub fn save_i64(out: &mut Vec<u8>, v: i64) {
    if !save_int_encoded(out, v) {
        let mut tmp = [0u8; 20];
        let d = fmt_i64(v, &mut tmp);
        save_len(out, d.len() as u64);
        out.extend_from_slice(d);
    }
}

/// Appends a double as 8 little-endian bytes (rdbSaveBinaryDoubleValue, sorted set scores).
#[inline]
pub fn save_binary_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The RDB type byte Redis 7.0 writes for a value (rdbSaveObjectType).
pub fn object_rdb_type(o: &RObj) -> u8 {
    match &o.value {
        Value::Int(_) | Value::Str(_) => TYPE_STRING,
        Value::List(l) => list_rdb_type(l),
        Value::Set(s) => set_rdb_type(s),
        Value::ZSet(z) => zset_rdb_type(z),
        Value::Hash(h) => hash_rdb_type(h),
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// Appends a value's body (rdbSaveObject), without its type byte.
pub fn save_object(out: &mut Vec<u8>, o: &RObj, compress: bool) {
    match &o.value {
        Value::Int(v) => save_i64(out, *v),
        Value::Str(s) => save_string(out, s.as_bytes(), compress),
        Value::List(l) => save_list_value(out, l, compress),
        Value::Set(s) => save_set_value(out, s, compress),
        Value::ZSet(z) => save_zset_value(out, z, compress),
        Value::Hash(h) => save_hash_value(out, h, compress),
        Value::Stream(st) => save_stream_value(out, st, compress),
    }
}

/// A stream as STREAM_LISTPACKS_2 (rdbSaveObject): the nodes (16-byte key, listpack blob),
/// length, last ID, first ID, max deleted ID, entries added, then each group: name, last ID,
/// entries read, the global PEL (raw 16-byte ID, delivery time in ms LE, delivery count)
/// and the consumers (name, seen time, their PEL as raw IDs).
fn save_stream_value(out: &mut Vec<u8>, s: &Stream, compress: bool) {
    save_len(out, s.rax.len());
    s.rax.for_each(|k, lp| {
        save_string(out, k, compress);
        save_string(out, lp.as_bytes(), compress);
    });
    save_len(out, s.length);
    for id in [s.last_id, s.first_id, s.max_deleted_entry_id] {
        save_len(out, id.ms);
        save_len(out, id.seq);
    }
    save_len(out, s.entries_added);
    save_len(out, s.group_count());
    let Some(groups) = &s.groups else { return };
    groups.for_each(|name, g| {
        save_string(out, name, compress);
        save_len(out, g.last_id.ms);
        save_len(out, g.last_id.seq);
        save_len(out, g.entries_read as u64);
        save_len(out, g.pel.len());
        g.pel.for_each(|id, nack| {
            out.extend_from_slice(id);
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            save_len(out, nack.delivery_count);
        });
        save_len(out, g.consumers.len());
        g.consumers.for_each(|cname, c| {
            save_string(out, cname, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            save_len(out, c.pel.len());
            c.pel.for_each(|id, _| out.extend_from_slice(id));
        });
    });
}

// --- per-type encoders. Each type owns one function pair here: the RDB type it saves as, and
// --- its body. The types are placeholders until their issues land (empty enums: no value can
// --- exist, so these are statically unreachable); each landing replaces its pair.

/// RDB type of a list: always a quicklist 2 in Redis 7.0.
fn list_rdb_type(_l: &List) -> u8 {
    TYPE_LIST_QUICKLIST_2
}

/// A list's body: node count, then per node its container (1 plain, 2 packed) and the node's
/// bytes (a listpack blob, or the element itself). A node kept LZF-compressed in memory is
/// written as that LZF blob (rdbSaveLzfBlob), as Redis does.
fn save_list_value(out: &mut Vec<u8>, l: &List, compress: bool) {
    use crate::ds::quicklist::NodeRef;
    let ql = l.quicklist();
    save_len(out, ql.node_count() as u64);
    for node in ql.nodes() {
        match node {
            NodeRef::Packed(lp) => {
                save_len(out, QUICKLIST_NODE_PACKED);
                save_string(out, lp.as_bytes(), compress);
            }
            NodeRef::Plain(v) => {
                save_len(out, QUICKLIST_NODE_PLAIN);
                save_string(out, v, compress);
            }
            NodeRef::Compressed {
                plain,
                lzf,
                raw_len,
            } => {
                let container = if plain {
                    QUICKLIST_NODE_PLAIN
                } else {
                    QUICKLIST_NODE_PACKED
                };
                save_len(out, container);
                out.push((LEN_ENCVAL << 6) | ENC_LZF);
                save_len(out, lzf.len() as u64);
                save_len(out, raw_len as u64);
                out.extend_from_slice(lzf);
            }
        }
    }
}

/// RDB type of a set: intset blob or hash table.
fn set_rdb_type(s: &Set) -> u8 {
    if s.is_intset() {
        TYPE_SET_INTSET
    } else {
        TYPE_SET
    }
}

/// A set's body: the intset blob as a string, or count + members.
fn save_set_value(out: &mut Vec<u8>, s: &Set, compress: bool) {
    if let Some(blob) = s.intset_blob() {
        save_string(out, blob, compress);
        return;
    }
    save_len(out, s.len() as u64);
    let mut tmp = [0u8; 20];
    for m in s.iter() {
        save_string(out, m.bytes(&mut tmp), compress);
    }
}

/// RDB type of a sorted set: TYPE_ZSET_LISTPACK for the listpack encoding, TYPE_ZSET_2 for
/// the skiplist.
fn zset_rdb_type(z: &ZSet) -> u8 {
    match z {
        ZSet::Listpack(_) => TYPE_ZSET_LISTPACK,
        ZSet::SkipList(_) => TYPE_ZSET_2,
    }
}

/// A sorted set's body: listpack encoding: `save_string(out, blob, compress)`; skiplist:
/// `save_len(count)`, then for each element from the tail of the skiplist to its head
/// (highest score first, so loading inserts at the head in O(1)) `save_string(member)` and
/// `save_binary_double(score)`.
fn save_zset_value(out: &mut Vec<u8>, z: &ZSet, compress: bool) {
    match z.listpack() {
        Some(lp) => save_string(out, lp.as_bytes(), compress),
        None => {
            save_len(out, z.len() as u64);
            let mut b = [0u8; 20];
            for (m, s) in z.iter_rev() {
                save_string(out, crate::types::zset::elem_bytes(m, &mut b), compress);
                save_binary_double(out, s);
            }
        }
    }
}

/// RDB type of a hash: listpack or hash table.
fn hash_rdb_type(h: &Hash) -> u8 {
    match h {
        Hash::Listpack(_) => TYPE_HASH_LISTPACK,
        Hash::Table(_) => TYPE_HASH,
    }
}

/// A hash's body: the listpack blob as a string, or count + (field, value) pairs.
fn save_hash_value(out: &mut Vec<u8>, h: &Hash, compress: bool) {
    match h {
        Hash::Listpack(lp) => save_string(out, lp.as_bytes(), compress),
        Hash::Table(d) => {
            save_len(out, d.len() as u64);
            for (f, v) in d.iter() {
                save_string(out, f.as_bytes(), compress);
                save_string(out, v.as_bytes(), compress);
            }
        }
    }
}

/// What precedes a key in a file: its expire time and eviction metadata.
#[derive(Clone, Copy, Default, Debug)]
pub struct KeyMeta {
    /// Absolute expire time, Unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (written under an LRU maxmemory policy).
    pub idle_secs: Option<u64>,
    /// LFU counter (written under an LFU maxmemory policy).
    pub freq: Option<u8>,
}

/// Appends one key with its metadata and value (rdbSaveKeyValuePair).
#[inline]
pub fn save_key_value(out: &mut Vec<u8>, key: &[u8], o: &RObj, meta: KeyMeta, compress: bool) {
    if let Some(ms) = meta.expire_ms {
        out.push(OPCODE_EXPIRETIME_MS);
        out.extend_from_slice(&ms.to_le_bytes());
    }
    if let Some(idle) = meta.idle_secs {
        out.push(OPCODE_IDLE);
        save_len(out, idle);
    }
    if let Some(f) = meta.freq {
        out.push(OPCODE_FREQ);
        out.push(f);
    }
    out.push(object_rdb_type(o));
    save_string(out, key, compress);
    save_object(out, o, compress);
}

/// Appends an auxiliary field (rdbSaveAuxField).
pub fn save_aux(out: &mut Vec<u8>, key: &str, val: &[u8]) {
    out.push(OPCODE_AUX);
    save_string(out, key.as_bytes(), false);
    save_string(out, val, false);
}

/// Appends an auxiliary field whose value is an integer (rdbSaveAuxFieldStrInt).
pub fn save_aux_int(out: &mut Vec<u8>, key: &str, v: i64) {
    let mut tmp = [0u8; 20];
    save_aux(out, key, fmt_i64(v, &mut tmp));
}

/// The DUMP payload of a value (createDumpPayload): type, body, RDB version (u16 LE), and the
/// CRC-64 of all that (u64 LE).
pub fn create_dump_payload(o: &RObj, compress: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(object_rdb_type(o));
    save_object(&mut out, o, compress);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a DUMP payload's footer (verifyDumpPayload): at least 10 bytes, a version we can
/// read, and a matching CRC unless `skip_checksum`. Returns the payload's RDB version.
pub fn verify_dump_payload(p: &[u8], skip_checksum: bool) -> Option<u16> {
    if p.len() < 10 {
        return None;
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > RDB_VERSION {
        return None;
    }
    if skip_checksum {
        return Some(ver);
    }
    let mut want = [0u8; 8];
    want.copy_from_slice(&footer[2..]);
    (crc64(&p[..p.len() - 8]) == u64::from_le_bytes(want)).then_some(ver)
}

// =============================================================================================
// Decoding
// =============================================================================================

/// Why a load failed: a message in Redis's words and the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Offset into the input.
    pub offset: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.msg, self.offset)
    }
}

/// Result of a decoding step.
pub type LResult<T> = Result<T, LoadError>;

/// A bounds-checked cursor over untrusted bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    /// Next byte to read.
    pub pos: usize,
    /// Deep integrity validation (`sanitize-dump-payload`; rdbLoadObject's
    /// `deep_integrity_validation`). Only what Redis checks solely in deep mode depends on it:
    /// a stream node's entry count and a group PEL entry without a consumer. Everything we
    /// need to read a blob safely (every listpack, ziplist and intset byte, a stream node's
    /// entry structure) is checked in both modes, so a payload redis-server would take with
    /// `no` and crash on later is refused here instead.
    pub deep: bool,
    /// Blobs checked deeply so far (INFO's dump_payload_sanitizations), counted as Redis
    /// counts them: each quicklist node, intset, hash or zset listpack and stream node read
    /// while `deep`.
    pub sanitizations: u64,
}

/// A string as stored: an integer encoding is kept as the integer, so string values load
/// straight into the int representation without a format/parse round trip.
pub enum RdbStr<'a> {
    /// 8/16/32-bit integer encoding.
    Int(i64),
    /// Raw bytes borrowed from the input.
    Borrowed(&'a [u8]),
    /// LZF-decompressed bytes.
    Owned(Vec<u8>),
}

impl<'a> RdbStr<'a> {
    /// The bytes (integers formatted).
    pub fn into_cow(self) -> Cow<'a, [u8]> {
        match self {
            RdbStr::Int(v) => {
                let mut tmp = [0u8; 20];
                Cow::Owned(fmt_i64(v, &mut tmp).to_vec())
            }
            RdbStr::Borrowed(b) => Cow::Borrowed(b),
            RdbStr::Owned(v) => Cow::Owned(v),
        }
    }

    /// An owned Sds.
    pub fn into_sds(self) -> Sds {
        match self {
            RdbStr::Int(v) => {
                let mut tmp = [0u8; 20];
                Sds::from_slice(fmt_i64(v, &mut tmp))
            }
            RdbStr::Borrowed(b) => Sds::from_slice(b),
            RdbStr::Owned(v) => Sds::from_vec(v),
        }
    }

    /// An owned Vec.
    pub fn into_vec(self) -> Vec<u8> {
        self.into_cow().into_owned()
    }

    /// The string as a value, as loading a string key does (tryObjectEncoding).
    pub fn into_value(self) -> Value {
        match self {
            RdbStr::Int(v) => Value::Int(v),
            RdbStr::Borrowed(b) => string_value(b),
            RdbStr::Owned(v) => {
                if v.len() <= 20 {
                    string_value(&v)
                } else {
                    Value::Str(Sds::from_vec(v))
                }
            }
        }
    }
}

/// The longest string we accept: our strings keep a 32-bit length.
const MAX_STRING: u64 = u32::MAX as u64;

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            deep: true,
            sanitizations: 0,
        }
    }

    /// Counts one blob checked deeply (server.stat_dump_payload_sanitizations++).
    fn sanitized(&mut self) {
        if self.deep {
            self.sanitizations += 1;
        }
    }

    /// Bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// An error at the current offset.
    pub fn err(&self, msg: impl Into<String>) -> LoadError {
        LoadError {
            offset: self.pos,
            msg: msg.into(),
        }
    }

    /// The error for input that ends too early (Redis's rdbReportReadError wording).
    fn eof(&self) -> LoadError {
        self.err("Unexpected EOF reading RDB file")
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> LResult<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| self.eof())?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: u64) -> LResult<&'a [u8]> {
        if n > self.remaining() as u64 {
            return Err(self.eof());
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// A fixed-size array.
    #[inline]
    fn array<const N: usize>(&mut self) -> LResult<[u8; N]> {
        let s = self.take(N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A length or a special-encoding marker (rdbLoadLenByRef): (value, is_encoded).
    #[inline]
    fn len_or_enc(&mut self) -> LResult<(u64, bool)> {
        let b = self.u8()?;
        match b >> 6 {
            LEN_6BIT => Ok(((b & 0x3F) as u64, false)),
            LEN_14BIT => Ok(((((b & 0x3F) as u64) << 8) | self.u8()? as u64, false)),
            LEN_ENCVAL => Ok(((b & 0x3F) as u64, true)),
            _ => match b {
                LEN_32BIT => Ok((u32::from_be_bytes(self.array()?) as u64, false)),
                LEN_64BIT => Ok((u64::from_be_bytes(self.array()?), false)),
                _ => Err(self.err(format!("Unknown length encoding {b} in rdbLoadLen()"))),
            },
        }
    }

    /// A length read as Redis's `rdbLoadLen(rdb, NULL)` returns it to callers that do not
    /// check it: an encoded-value marker gives its 6 bits, an unknown marker byte gives
    /// RDB_LENERR (u64::MAX). The stream loader reads its counters this way.
    fn len_unchecked(&mut self) -> LResult<u64> {
        let b = *self.data.get(self.pos).ok_or_else(|| self.eof())?;
        if b >> 6 == 2 && b != LEN_32BIT && b != LEN_64BIT {
            self.pos += 1;
            return Ok(u64::MAX);
        }
        Ok(self.len_or_enc()?.0)
    }

    /// A count read as Redis reads the stream's counts: [`Reader::len_unchecked`] where only
    /// RDB_LENERR is an error, bounded by the input left (`min_bytes` per item).
    fn count_unchecked(&mut self, min_bytes: u64) -> LResult<u64> {
        let n = self.len_unchecked()?;
        if n == u64::MAX || n.saturating_mul(min_bytes.max(1)) > self.remaining() as u64 {
            return Err(self.eof());
        }
        Ok(n)
    }

    /// A plain length; a special encoding here is corruption.
    #[inline]
    pub fn length(&mut self) -> LResult<u64> {
        match self.len_or_enc()? {
            (v, false) => Ok(v),
            (v, true) => Err(self.err(format!(
                "Unexpected encoded value {v} where a length was expected"
            ))),
        }
    }

    /// A length used to size something: it may not exceed what the rest of the input could
    /// possibly hold (`min_bytes` per item), so a corrupt count cannot make us reserve huge
    /// amounts of memory.
    pub fn count(&mut self, min_bytes: u64) -> LResult<u64> {
        let n = self.length()?;
        if n.saturating_mul(min_bytes.max(1)) > self.remaining() as u64 {
            return Err(self.eof());
        }
        Ok(n)
    }

    /// A string in any of its encodings (rdbGenericLoadStringObject).
    pub fn string(&mut self) -> LResult<RdbStr<'a>> {
        let (len, enc) = self.len_or_enc()?;
        if !enc {
            if len > MAX_STRING {
                return Err(self.err("String too long"));
            }
            return Ok(RdbStr::Borrowed(self.take(len)?));
        }
        match len as u8 {
            ENC_INT8 => Ok(RdbStr::Int(self.u8()? as i8 as i64)),
            ENC_INT16 => Ok(RdbStr::Int(i16::from_le_bytes(self.array()?) as i64)),
            ENC_INT32 => Ok(RdbStr::Int(i32::from_le_bytes(self.array()?) as i64)),
            ENC_LZF => self.lzf_string().map(RdbStr::Owned),
            e => Err(self.err(format!("Unknown RDB string encoding type {e}"))),
        }
    }

    /// The bytes of a string in any encoding.
    #[inline]
    pub fn bytes(&mut self) -> LResult<Cow<'a, [u8]>> {
        Ok(self.string()?.into_cow())
    }

    /// An LZF-compressed string (rdbLoadLzfStringObject): compressed length, original length,
    /// data. The original length is bounded by LZF's best possible ratio before allocating.
    fn lzf_string(&mut self) -> LResult<Vec<u8>> {
        let clen = self.length()?;
        let len = self.length()?;
        if len > MAX_STRING {
            return Err(self.err("String too long"));
        }
        let data = self.take(clen)?;
        if len == 0 || len > clen.saturating_mul(crate::util::lzf::MAX_RATIO) {
            return Err(self.err("Invalid LZF compressed string"));
        }
        crate::util::lzf::decompress(data, len as usize)
            .ok_or_else(|| self.err("Invalid LZF compressed string"))
    }

    /// A binary double (8 bytes LE).
    pub fn binary_double(&mut self) -> LResult<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// An ASCII double (rdbLoadDoubleValue, old sorted sets): a length byte with 253 NaN,
    /// 254 +inf and 255 -inf, else that many characters.
    pub fn ascii_double(&mut self) -> LResult<f64> {
        let n = self.u8()?;
        match n {
            255 => Ok(f64::NEG_INFINITY),
            254 => Ok(f64::INFINITY),
            253 => Ok(f64::NAN),
            _ => {
                let s = self.take(n as u64)?;
                parse_c_double(s).ok_or_else(|| self.err("Invalid double value"))
            }
        }
    }
}

/// Parses a double the way C's `strtod` accepts a whole string (decimal, exponent, inf, nan).
fn parse_c_double(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    t.parse::<f64>().ok()
}

// --- old compact encodings: ziplist and zipmap. Nothing in memory uses them any more; the
// --- loader walks them (validating as it goes) and converts their elements.

/// One element of a ziplist or listpack: an integer or a byte string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'a> {
    /// Integer-encoded.
    Int(i64),
    /// String-encoded.
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element as bytes (integers formatted).
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Elem::Int(v) => {
                let mut tmp = [0u8; 20];
                fmt_i64(v, &mut tmp).to_vec()
            }
            Elem::Str(s) => s.to_vec(),
        }
    }

    /// The element as an Sds.
    pub fn to_sds(&self) -> Sds {
        match *self {
            Elem::Int(v) => {
                let mut tmp = [0u8; 20];
                Sds::from_slice(fmt_i64(v, &mut tmp))
            }
            Elem::Str(s) => Sds::from_slice(s),
        }
    }

    /// The element as a score (zzlGetScore): integers directly, strings parsed as doubles.
    fn to_score(self) -> Option<f64> {
        match self {
            Elem::Int(v) => Some(v as f64),
            Elem::Str(s) => parse_c_double(s).filter(|d| !d.is_nan()),
        }
    }
}

/// Ziplist header: zlbytes u32, zltail u32, zllen u16.
const ZIPLIST_HEADER: usize = 10;

/// Walks a ziplist blob with full validation (ziplistValidateIntegrity, deep): header bytes
/// and tail offset consistent, every entry's prevlen equal to the previous entry's size,
/// encodings and lengths within the blob, the end marker last, the count as declared.
/// Calls `each` per element; returns the element count.
pub fn ziplist_walk<'a>(zl: &'a [u8], mut each: impl FnMut(Elem<'a>) -> bool) -> Option<usize> {
    let size = zl.len();
    if size < ZIPLIST_HEADER + 1 {
        return None;
    }
    let zlbytes = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let zltail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let zllen = u16::from_le_bytes([zl[8], zl[9]]);
    if zlbytes != size || zl[size - 1] != 0xFF || zltail > size - 1 {
        return None;
    }
    let end = size - 1;
    let mut p = ZIPLIST_HEADER;
    let mut prev_size = 0usize;
    let mut last_entry = ZIPLIST_HEADER;
    let mut count = 0usize;
    while p < end {
        let start = p;
        // prevlen
        let prevlen = if zl[p] < 254 {
            p += 1;
            zl[start] as usize
        } else if zl[p] == 254 {
            if p + 5 > end {
                return None;
            }
            p += 5;
            u32::from_le_bytes([zl[start + 1], zl[start + 2], zl[start + 3], zl[start + 4]])
                as usize
        } else {
            return None;
        };
        if prevlen != prev_size {
            return None;
        }
        if p >= end {
            return None;
        }
        let b = zl[p];
        let (hdr, elem_len, elem): (usize, usize, Option<i64>) = match b >> 6 {
            0 => (1, (b & 0x3F) as usize, None),
            1 => {
                if p + 2 > end {
                    return None;
                }
                (2, (((b & 0x3F) as usize) << 8) | zl[p + 1] as usize, None)
            }
            2 => {
                if b != 0x80 || p + 5 > end {
                    return None;
                }
                let l = u32::from_be_bytes([zl[p + 1], zl[p + 2], zl[p + 3], zl[p + 4]]);
                (5, l as usize, None)
            }
            _ => {
                let width = match b {
                    0xC0 => 2,
                    0xD0 => 4,
                    0xE0 => 8,
                    0xF0 => 3,
                    0xFE => 1,
                    0xF1..=0xFD => 0,
                    _ => return None,
                };
                if p + 1 + width > end {
                    return None;
                }
                let d = &zl[p + 1..p + 1 + width];
                let v = match b {
                    0xC0 => i16::from_le_bytes([d[0], d[1]]) as i64,
                    0xD0 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
                    0xE0 => i64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]),
                    0xF0 => (i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64,
                    0xFE => d[0] as i8 as i64,
                    _ => ((b & 0x0F) as i64) - 1,
                };
                (1, width, Some(v))
            }
        };
        let data_start = p + hdr;
        let data_end = data_start.checked_add(elem_len)?;
        if data_end > end {
            return None;
        }
        let e = match elem {
            Some(v) => Elem::Int(v),
            None => Elem::Str(&zl[data_start..data_end]),
        };
        if !each(e) {
            return None;
        }
        count += 1;
        last_entry = start;
        prev_size = data_end - start;
        p = data_end;
    }
    if p != end || zltail != last_entry {
        return None;
    }
    if zllen != u16::MAX && zllen as usize != count {
        return None;
    }
    Some(count)
}

/// Walks a zipmap blob (Redis < 2.6 small hashes) with full validation
/// (zipmapValidateIntegrity): per entry a key length and key, a value length, a free-space
/// byte, the value and its free space; the end marker last; the count as declared when it
/// is below 254. Calls `each(field, value)`; returns the pair count.
pub fn zipmap_walk<'a>(
    zm: &'a [u8],
    mut each: impl FnMut(&'a [u8], &'a [u8]) -> bool,
) -> Option<usize> {
    fn read_len(zm: &[u8], p: &mut usize) -> Option<usize> {
        let b = *zm.get(*p)?;
        match b {
            0..=253 => {
                *p += 1;
                Some(b as usize)
            }
            254 => {
                let d = zm.get(*p + 1..*p + 5)?;
                *p += 5;
                Some(u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize)
            }
            _ => None,
        }
    }
    let size = zm.len();
    if size < 2 || zm[size - 1] != 0xFF {
        return None;
    }
    let declared = zm[0];
    let mut p = 1;
    let mut count = 0usize;
    while p < size - 1 {
        let klen = read_len(zm, &mut p)?;
        let key = zm.get(p..p.checked_add(klen)?)?;
        p += klen;
        if p >= size - 1 {
            return None;
        }
        let vlen = read_len(zm, &mut p)?;
        let free = *zm.get(p)? as usize;
        p += 1;
        let val = zm.get(p..p.checked_add(vlen)?)?;
        p = p.checked_add(vlen)?.checked_add(free)?;
        if p > size - 1 {
            return None;
        }
        if !each(key, val) {
            return None;
        }
        count += 1;
    }
    if p != size - 1 {
        return None;
    }
    if declared < 254 && declared as usize != count {
        return None;
    }
    Some(count)
}

// --- the neutral decoded form of aggregates, handed to the per-type builders.

/// One quicklist node as stored.
pub enum ListNode {
    /// A listpack blob (not yet validated).
    Packed(Vec<u8>),
    /// One large element stored on its own (quicklist PLAIN node).
    Plain(Vec<u8>),
}

/// A list as decoded.
pub enum ListParts {
    /// Quicklist 2 nodes (RDB 10).
    Nodes(Vec<ListNode>),
    /// Elements from older encodings (linked list, ziplist, ziplist quicklist), in order.
    Elements(Vec<Vec<u8>>),
}

/// A set as decoded.
pub enum SetParts {
    /// An intset blob (not yet validated).
    IntSet(Vec<u8>),
    /// Distinct members (duplicates already refused).
    Members(Vec<Sds>),
}

/// A sorted set as decoded.
pub enum ZSetParts {
    /// A listpack blob of member, score pairs (not yet validated).
    Listpack(Vec<u8>),
    /// Distinct members with non-NaN scores, in file order (the skiplist's tail first for
    /// RDB 10 files).
    Members(Vec<(Sds, f64)>),
}

/// A hash as decoded.
pub enum HashParts {
    /// A listpack blob of field, value pairs (not yet validated).
    Listpack(Vec<u8>),
    /// Distinct fields with their values.
    Fields(Vec<(Sds, Sds)>),
}

/// A decoded value before it becomes an object.
pub enum Parsed {
    /// A string (already in its final form).
    Str(Value),
    /// A list.
    List(ListParts),
    /// A set.
    Set(SetParts),
    /// A sorted set.
    ZSet(ZSetParts),
    /// A hash.
    Hash(HashParts),
    /// A stream (built and checked while parsing).
    Stream(Box<Stream>),
}

/// What loading one value produced.
pub enum Loaded {
    /// The value.
    Value(Value),
    /// An empty aggregate: Redis skips such keys (RDB_LOAD_ERR_EMPTY_KEY).
    Empty,
}

/// True when `t` is a value type this loader knows (rdbIsObjectType).
pub fn is_object_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=19)
}

/// Decodes one value of RDB type `t` and builds it (rdbLoadObject).
pub fn load_object(r: &mut Reader<'_>, t: u8, cfg: &Config) -> LResult<Loaded> {
    let start = r.pos;
    let parsed = match parse_object(r, t)? {
        Some(p) => p,
        None => return Ok(Loaded::Empty),
    };
    let built = match parsed {
        Parsed::Str(v) => Ok(Some(v)),
        Parsed::List(p) => build_list(p, cfg),
        Parsed::Set(p) => build_set(p, cfg),
        Parsed::ZSet(p) => build_zset(p, cfg),
        Parsed::Hash(p) => build_hash(p, cfg),
        Parsed::Stream(s) => Ok(Some(Value::Stream(s))),
    };
    match built {
        Ok(Some(v)) => Ok(Loaded::Value(v)),
        Ok(None) => Ok(Loaded::Empty),
        Err(msg) => Err(LoadError { offset: start, msg }),
    }
}

/// Reads `n` elements of a set, sorted set or hash with `next`, refusing a repeated member or
/// field with `duplicate` (Redis checks each insert into the new object).
///
/// The duplicate check copies nothing: `slots` is an open-addressing table of indices into
/// `v` (slot = index + 1, 0 = free), probed linearly from the member's keyed hash and kept at
/// most half full. A candidate is compared with `v[index]`, the member already read. The
/// keyed hash (the dictionaries' SipHash) matters: a RESTORE payload is client-controlled,
/// and crafted collisions would make linear probing quadratic.
fn read_unique<T>(
    r: &mut Reader<'_>,
    n: u64,
    duplicate: &str,
    mut next: impl FnMut(&mut Reader<'_>) -> LResult<(Sds, T)>,
) -> LResult<Vec<(Sds, T)>> {
    let n = n as usize; // bounded by the input's length (Reader::count)
    let mut v: Vec<(Sds, T)> = Vec::with_capacity(n);
    let mask = n.saturating_mul(2).next_power_of_two() - 1;
    let mut slots = vec![0usize; mask + 1];
    for _ in 0..n {
        let (m, rest) = next(r)?;
        let mut i = crate::ds::dict::hash_key(m.as_bytes()) as usize & mask;
        while let Some(j) = slots[i].checked_sub(1) {
            if v[j].0 == m {
                return Err(r.err(duplicate));
            }
            i = (i + 1) & mask;
        }
        slots[i] = v.len() + 1;
        v.push((m, rest));
    }
    Ok(v)
}

/// Decodes one value of RDB type `t` into its neutral form, validating the old compact
/// encodings on the way; None for an empty aggregate.
pub fn parse_object(r: &mut Reader<'_>, t: u8) -> LResult<Option<Parsed>> {
    Ok(Some(match t {
        TYPE_STRING => Parsed::Str(r.string()?.into_value()),
        TYPE_LIST => {
            let n = r.count(1)?;
            if n == 0 {
                return Ok(None);
            }
            let mut v = Vec::with_capacity(n as usize);
            for _ in 0..n {
                v.push(r.bytes()?.into_owned());
            }
            Parsed::List(ListParts::Elements(v))
        }
        TYPE_SET => {
            let n = r.count(1)?;
            if n == 0 {
                return Ok(None);
            }
            let v = read_unique(r, n, "Duplicate set members detected", |r| {
                Ok((r.string()?.into_sds(), ()))
            })?;
            Parsed::Set(SetParts::Members(v.into_iter().map(|(m, ())| m).collect()))
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count(2)?;
            if n == 0 {
                return Ok(None);
            }
            let v = read_unique(r, n, "Duplicate zset fields detected", |r| {
                let m = r.string()?.into_sds();
                let score = if t == TYPE_ZSET_2 {
                    r.binary_double()?
                } else {
                    r.ascii_double()?
                };
                if score.is_nan() {
                    return Err(r.err("Zset with NAN score detected"));
                }
                Ok((m, score))
            })?;
            Parsed::ZSet(ZSetParts::Members(v))
        }
        TYPE_HASH => {
            let n = r.count(2)?;
            if n == 0 {
                return Ok(None);
            }
            let v = read_unique(r, n, "Duplicate hash fields detected", |r| {
                Ok((r.string()?.into_sds(), r.string()?.into_sds()))
            })?;
            Parsed::Hash(HashParts::Fields(v))
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let n = r.count(2)?;
            if n == 0 {
                return Ok(None);
            }
            if t == TYPE_LIST_QUICKLIST {
                let mut elems = Vec::new();
                for _ in 0..n {
                    let blob = r.bytes()?;
                    let ok = ziplist_walk(&blob, |e| {
                        elems.push(e.to_vec());
                        true
                    });
                    if ok.is_none() {
                        return Err(r.err("Ziplist integrity check failed."));
                    }
                }
                if elems.is_empty() {
                    return Ok(None);
                }
                Parsed::List(ListParts::Elements(elems))
            } else {
                let mut nodes = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let container = r.length()?;
                    if container != QUICKLIST_NODE_PLAIN && container != QUICKLIST_NODE_PACKED {
                        return Err(r.err("Quicklist integrity check failed."));
                    }
                    let blob = r.bytes()?.into_owned();
                    // An empty node string is refused without a corruption report (Redis's
                    // rdbLoadObject returns NULL: "Short read" at start-up, "Bad data
                    // format" for RESTORE); no element is short enough to be plain and
                    // empty, and an empty listpack still has its 7 bytes.
                    if blob.is_empty() {
                        return Err(r.eof());
                    }
                    if container == QUICKLIST_NODE_PLAIN {
                        nodes.push(ListNode::Plain(blob));
                    } else {
                        r.sanitized();
                        nodes.push(ListNode::Packed(blob));
                    }
                }
                Parsed::List(ListParts::Nodes(nodes))
            }
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.bytes()?;
            let mut elems = Vec::new();
            if ziplist_walk(&blob, |e| {
                elems.push(e.to_vec());
                true
            })
            .is_none()
            {
                return Err(r.err("Ziplist integrity check failed."));
            }
            if elems.is_empty() {
                return Ok(None);
            }
            Parsed::List(ListParts::Elements(elems))
        }
        TYPE_SET_INTSET => {
            let blob = r.bytes()?.into_owned();
            r.sanitized();
            // An empty intset is an empty key; malformed blobs are refused by the builder.
            if blob.len() >= 8 && blob[4..8] == [0, 0, 0, 0] {
                return Ok(None);
            }
            Parsed::Set(SetParts::IntSet(blob))
        }
        TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST => {
            let blob = r.bytes()?;
            let is_zset = t == TYPE_ZSET_ZIPLIST;
            let mut keys: Vec<Sds> = Vec::new();
            let mut vals: Vec<Elem<'_>> = Vec::new();
            let mut i = 0usize;
            let walked = ziplist_walk(&blob, |e| {
                if i.is_multiple_of(2) {
                    keys.push(e.to_sds());
                } else {
                    vals.push(e);
                }
                i += 1;
                true
            });
            let what = if is_zset { "Zset" } else { "Hash" };
            if walked.is_none() || !i.is_multiple_of(2) {
                return Err(r.err(format!("{what} ziplist integrity check failed.")));
            }
            if keys.is_empty() {
                return Ok(None);
            }
            let mut seen = crate::ds::dict::Dict::<Sds, ()>::with_capacity(keys.len());
            for k in &keys {
                if seen.add(k.clone(), ()).is_err() {
                    return Err(r.err(format!("{what} ziplist integrity check failed.")));
                }
            }
            if is_zset {
                let mut out = Vec::with_capacity(keys.len());
                for (k, v) in keys.into_iter().zip(vals) {
                    let s = v
                        .to_score()
                        .ok_or_else(|| r.err("Zset ziplist integrity check failed."))?;
                    out.push((k, s));
                }
                Parsed::ZSet(ZSetParts::Members(out))
            } else {
                let out = keys
                    .into_iter()
                    .zip(vals)
                    .map(|(k, v)| (k, v.to_sds()))
                    .collect();
                Parsed::Hash(HashParts::Fields(out))
            }
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.bytes()?;
            let mut fields = Vec::new();
            let mut seen = crate::ds::dict::Dict::<Sds, ()>::new();
            let ok = zipmap_walk(&blob, |k, v| {
                let k = Sds::from_slice(k);
                if seen.add(k.clone(), ()).is_err() {
                    return false;
                }
                fields.push((k, Sds::from_slice(v)));
                true
            });
            if ok.is_none() {
                return Err(r.err("Zipmap integrity check failed."));
            }
            if fields.is_empty() {
                return Ok(None);
            }
            Parsed::Hash(HashParts::Fields(fields))
        }
        TYPE_HASH_LISTPACK => {
            let blob = r.bytes()?.into_owned();
            r.sanitized();
            if is_empty_listpack(&blob) {
                return Ok(None);
            }
            Parsed::Hash(HashParts::Listpack(blob))
        }
        TYPE_ZSET_LISTPACK => {
            let blob = r.bytes()?.into_owned();
            r.sanitized();
            if is_empty_listpack(&blob) {
                return Ok(None);
            }
            Parsed::ZSet(ZSetParts::Listpack(blob))
        }
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            return Err(
                r.err("The RDB file contains module data I can't load: this server has no modules")
            )
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            Parsed::Stream(Box::new(load_stream(r, t == TYPE_STREAM_LISTPACKS_2)?))
        }
        _ => return Err(r.err(format!("Unknown RDB encoding type {t}"))),
    }))
}

/// Reads a stream (rdbLoadObject's stream part). `v2` is STREAM_LISTPACKS_2 (7.0), which adds
/// the first and max deleted IDs, entries added and each group's entries read; for the older
/// type they are derived as Redis derives them. Lengths are read as Redis reads them (see
/// [`Reader::len_unchecked`]) and a node's listpack header count is not checked, as Redis
/// does not, so what redis-server accepts loads here too. Every node's listpack and entry
/// structure is checked whatever `sanitize-dump-payload` says (our readers rely on it); in deep
/// mode ([`Reader::deep`]) a node must also hold exactly as many entries as its master entry
/// counts, and every group PEL entry must have a consumer, as Redis checks only then. A
/// consumer's entry must be in its group's PEL in both modes.
fn load_stream(r: &mut Reader<'_>, v2: bool) -> LResult<Stream> {
    let mut s = Stream::new();
    let nodes = r.count_unchecked(2)?;
    for _ in 0..nodes {
        let key = r.bytes()?;
        if key.len() != 16 {
            return Err(r.err("Stream node key entry is not the size of a stream ID"));
        }
        let blob = r.bytes()?.into_owned();
        r.sanitized();
        let deep = r.deep;
        let lp = Listpack::from_bytes_any_count(blob)
            .ok()
            .filter(|lp| crate::types::stream::validate_node(lp, deep))
            .ok_or_else(|| r.err("Stream listpack integrity check failed."))?;
        if lp.first().is_none() {
            return Err(r.err("Empty listpack inside stream"));
        }
        if s.rax.contains(&key) {
            return Err(r.err("Listpack re-added with existing key"));
        }
        s.rax.insert(&key, lp);
    }
    s.length = r.len_unchecked()?;
    s.last_id = StreamId::new(r.len_unchecked()?, r.len_unchecked()?);
    if v2 {
        s.first_id = StreamId::new(r.len_unchecked()?, r.len_unchecked()?);
        s.max_deleted_entry_id = StreamId::new(r.len_unchecked()?, r.len_unchecked()?);
        s.entries_added = r.len_unchecked()?;
    } else {
        s.entries_added = s.length;
        s.first_id = s.edge_id(true, true);
    }
    if s.length != 0 && s.rax.is_empty() {
        return Err(r.err("Stream length inconsistent with rax entries"));
    }
    let ngroups = r.count_unchecked(3)?;
    for _ in 0..ngroups {
        let name = r.bytes()?.into_owned();
        let id = StreamId::new(r.len_unchecked()?, r.len_unchecked()?);
        let entries_read = if v2 {
            r.len_unchecked()? as i64
        } else {
            s.estimate_distance(id)
        };
        if !s.create_group(&name, id, entries_read) {
            return Err(r.err(format!(
                "Duplicated consumer group name {}",
                String::from_utf8_lossy(&name)
            )));
        }
        let g = s.group_mut(&name).expect("just created");
        let pel = r.count_unchecked(17)?;
        for _ in 0..pel {
            let raw = r.take(16)?;
            let delivery_time = i64::from_le_bytes(r.array()?);
            let delivery_count = r.len_unchecked()?;
            if g.pel.contains(raw) {
                return Err(r.err("Duplicated global PEL entry loading stream consumer group"));
            }
            g.pel.insert(
                raw,
                Nack {
                    consumer: None,
                    delivery_time,
                    delivery_count,
                },
            );
        }
        let nconsumers = r.count_unchecked(10)?;
        for _ in 0..nconsumers {
            let cname = r.bytes()?.into_owned();
            if !g.create_consumer(&cname, 0) {
                return Err(r.err("Duplicate stream consumer detected."));
            }
            let seen = i64::from_le_bytes(r.array()?);
            let c = g.consumers.get_mut(&cname).expect("just created");
            c.seen_time = seen;
            let n = r.count_unchecked(16)?;
            for _ in 0..n {
                let raw = r.take(16)?;
                let Some(nack) = g.pel.get_mut(raw) else {
                    return Err(r.err("Consumer entry not found in group global PEL"));
                };
                nack.consumer = Some(cname.clone());
                if c.pel.contains(raw) {
                    return Err(
                        r.err("Duplicated consumer PEL entry loading a stream consumer group")
                    );
                }
                c.pel.insert(raw, ());
            }
        }
        let mut orphan = false;
        if r.deep {
            g.pel.for_each(|_, n| orphan |= n.consumer.is_none());
        }
        if orphan {
            return Err(r.err("Stream CG PEL entry without consumer"));
        }
    }
    Ok(s)
}

/// True for a well-formed header of a listpack with zero elements (an empty key).
fn is_empty_listpack(b: &[u8]) -> bool {
    b.len() == 7 && b[0..4] == [7, 0, 0, 0] && b[4..6] == [0, 0] && b[6] == 0xFF
}

// --- per-type builders: neutral form -> object, applying the type's encoding thresholds and
// --- validating blobs with the type's own checks.

/// Builds a list (quicklist).
fn build_list(p: ListParts, cfg: &Config) -> Result<Option<Value>, String> {
    use crate::ds::listpack::Listpack;
    use crate::ds::quicklist::Quicklist;
    // The configured options, as rdbLoadObject's quicklistSetOptions; the file's node
    // boundaries are kept (quicklistAppendListpack), empty listpacks skipped.
    let fill = cfg
        .list_max_listpack_size
        .clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    let mut ql = Quicklist::new(fill, cfg.list_compress_depth);
    match p {
        ListParts::Nodes(nodes) => {
            for n in nodes {
                match n {
                    ListNode::Packed(blob) => {
                        let lp = Listpack::from_bytes(blob)
                            .map_err(|_| "Listpack integrity check failed.".to_string())?;
                        ql.append_listpack(lp);
                    }
                    ListNode::Plain(v) => ql.append_plain(v),
                }
            }
        }
        ListParts::Elements(elems) => {
            for e in &elems {
                ql.push_tail(e);
            }
        }
    }
    if ql.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::List(Box::new(List::from_quicklist(ql)))))
}

/// Builds a set (intset or hash table by `set-max-intset-entries`).
fn build_set(p: SetParts, cfg: &Config) -> Result<Option<Value>, String> {
    let max = cfg.set_max_intset_entries;
    let set = match p {
        SetParts::IntSet(blob) => Set::from_intset_blob(blob, max)
            .ok_or_else(|| "Intset integrity check failed.".to_string())?,
        SetParts::Members(members) => {
            // As rdbLoadObject: an intset unless there are more members than the limit
            // allows; a non-integer member converts it on the way.
            let mut s = if members.len() as u64 > max.min(1 << 30) {
                Set::hashtable_with_capacity(members.len())
            } else {
                Set::new_intset()
            };
            for m in &members {
                s.add(m.as_bytes(), max);
            }
            s
        }
    };
    if set.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Set(Box::new(set))))
}

/// Builds a sorted set with Redis 7.0's rules (ZSet::from_listpack_bytes, ZSet::from_members):
/// - `ZSetParts::Listpack(blob)`: deep-validate as a listpack of (member, score) pairs: even
///   count, no member twice, every score a valid non-NaN double, else the error
///   "Zset listpack integrity check failed."; then convert to a skiplist when it holds more
///   than `zset-max-listpack-entries` members, else keep the listpack.
/// - `ZSetParts::Members(v)` (distinct members, non-NaN scores, in file order: ZSET_2 files
///   list the highest score first): build the skiplist + dict, then convert to a listpack
///   when count <= `zset-max-listpack-entries`, every member is at most
///   `zset-max-listpack-value` bytes and the total fits a listpack (lpSafeToAdd).
fn build_zset(p: ZSetParts, cfg: &Config) -> Result<Option<Value>, String> {
    let lim = crate::types::zset::Limits::from_config(cfg);
    let z = match p {
        ZSetParts::Listpack(blob) => ZSet::from_listpack_bytes(blob, &lim)
            .ok_or_else(|| "Zset listpack integrity check failed.".to_string())?,
        ZSetParts::Members(v) => ZSet::from_members(v, &lim)
            .ok_or_else(|| "Duplicate zset fields detected".to_string())?,
    };
    Ok(Some(Value::ZSet(Box::new(z))))
}

/// Builds a hash (listpack or hash table by `hash-max-listpack-*`).
fn build_hash(p: HashParts, cfg: &Config) -> Result<Option<Value>, String> {
    let lim = crate::types::hash::Limits::from_config(cfg);
    let h = match p {
        HashParts::Listpack(blob) => {
            let lp = Hash::validate_listpack(blob)
                .map_err(|_| "Hash listpack integrity check failed.".to_string())?;
            Hash::from_listpack(lp, &lim)
        }
        HashParts::Fields(pairs) => Hash::from_pairs(pairs, &lim),
    };
    Ok(Some(Value::Hash(Box::new(h))))
}

/// Decodes a DUMP payload (after [`verify_dump_payload`]) into a value: a type byte and a
/// body, ignoring the 10-byte footer. Errors mean "Bad data format". `deep` is the
/// integrity validation asked for (see [`Reader::deep`]); `sanitizations` grows by the blobs
/// checked deeply, whatever the outcome (INFO's dump_payload_sanitizations).
pub fn load_dump_payload(
    p: &[u8],
    cfg: &Config,
    deep: bool,
    sanitizations: &mut u64,
) -> LResult<Value> {
    let body = &p[..p.len().saturating_sub(10)];
    let mut r = Reader::new(body);
    r.deep = deep;
    let res = load_dump_body(&mut r, cfg);
    *sanitizations += r.sanitizations;
    res
}

fn load_dump_body(r: &mut Reader<'_>, cfg: &Config) -> LResult<Value> {
    let t = r.u8()?;
    if !is_object_type(t) {
        return Err(r.err(format!("Unknown RDB encoding type {t}")));
    }
    match load_object(r, t, cfg)? {
        Loaded::Value(v) => Ok(v),
        Loaded::Empty => Err(r.err("Empty keys are not allowed")),
    }
}

// =============================================================================================
// Whole files
// =============================================================================================

/// Eviction metadata written before each key, by maxmemory-policy family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionMeta {
    /// No LRU/LFU policy: nothing written.
    None,
    /// An LRU policy: idle seconds from this LRU clock.
    Lru {
        /// The server's LRU clock at save time.
        lru_clock: u32,
    },
    /// An LFU policy: the decayed counter.
    Lfu {
        /// Unix seconds at save time.
        now_secs: i64,
        /// lfu-decay-time.
        decay_minutes: i64,
    },
}

impl EvictionMeta {
    /// The metadata of one object.
    #[inline]
    fn of(self, lru: u32) -> (Option<u64>, Option<u8>) {
        match self {
            EvictionMeta::None => (None, None),
            EvictionMeta::Lru { lru_clock } => (Some(idle_secs(lru_clock, lru)), None),
            EvictionMeta::Lfu {
                now_secs,
                decay_minutes,
            } => (None, Some(lfu_decayed(lru, now_secs, decay_minutes))),
        }
    }
}

/// estimateObjectIdleTime in seconds: the 24-bit LRU clock minus the object's, wrapping.
pub fn idle_secs(lru_clock: u32, obj_lru: u32) -> u64 {
    let max = crate::server::LRU_CLOCK_MAX as u64;
    let (now, then) = (lru_clock as u64 & max, obj_lru as u64 & max);
    if now >= then {
        now - then
    } else {
        now + (max - then)
    }
}

/// LFUDecrAndReturn: the LFU counter (low 8 bits) decayed by one per `decay_minutes` elapsed
/// since the access time in the high 16 bits (minutes, wrapping).
pub fn lfu_decayed(lru: u32, now_secs: i64, decay_minutes: i64) -> u8 {
    let now = crate::evict::lfu_time_in_minutes(now_secs);
    crate::evict::lfu_decr_and_return(lru, now, decay_minutes)
}

/// The aux fields and choices of one save.
#[derive(Clone, Debug)]
pub struct SaveOptions {
    /// rdbcompression.
    pub compress: bool,
    /// rdbchecksum: write the CRC (else 8 zero bytes).
    pub checksum: bool,
    /// LRU/LFU data per key.
    pub eviction: EvictionMeta,
    /// aux ctime: Unix seconds.
    pub ctime: i64,
    /// aux used-mem.
    pub used_mem: u64,
    /// rdb-key-save-delay, in microseconds per key (negative: sleep 1 us with probability
    /// 1/-n), for tests that need a slow BGSAVE.
    pub key_save_delay: i64,
    /// aux aof-base: 1 when this RDB is the base file of a multi-part AOF.
    pub aof_base: bool,
    /// aux repl-stream-db, repl-id, repl-offset (rdbSaveInfo): where the replication stream
    /// stood at this snapshot, so a restarted replica (or master) can continue it.
    pub repl: Option<(i64, String, i64)>,
    /// The code of every function library (saved as RDB_OPCODE_FUNCTION2 records).
    pub functions: Vec<Vec<u8>>,
}

/// Where the file writer sends full chunks. The file writer in `super` flushes to disk; tests
/// and DEBUG use a Vec.
pub trait Sink {
    /// Writes a chunk; an error aborts the save.
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()>;
    /// Called every ~1024 keys with the number saved so far (child progress reports).
    fn progress(&mut self, _keys: u64) {}
}

impl Sink for Vec<u8> {
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }
}

/// Chunk size at which the encoder's buffer is checksummed and flushed.
const FLUSH_AT: usize = 64 * 1024;

/// Encodes the whole dataset (rdbSaveRio) into `sink`: header, aux fields, every non-empty
/// database, EOF and checksum. Returns the number of keys written.
pub fn save_rdb(dbs: &[Db], opts: &SaveOptions, sink: &mut dyn Sink) -> std::io::Result<u64> {
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 4096);
    let mut crc = CRC64.digest();
    let flush = |buf: &mut Vec<u8>, crc: &mut Crc64Digest, sink: &mut dyn Sink| {
        if opts.checksum {
            crc.update(buf);
        }
        let r = sink.write_chunk(buf);
        buf.clear();
        r
    };
    buf.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    save_aux(
        &mut buf,
        "redis-ver",
        crate::server::REDIS_VERSION.as_bytes(),
    );
    save_aux_int(&mut buf, "redis-bits", 64);
    save_aux_int(&mut buf, "ctime", opts.ctime);
    save_aux_int(&mut buf, "used-mem", opts.used_mem as i64);
    if let Some((db, id, offset)) = &opts.repl {
        save_aux_int(&mut buf, "repl-stream-db", *db);
        save_aux(&mut buf, "repl-id", id.as_bytes());
        save_aux_int(&mut buf, "repl-offset", *offset);
    }
    save_aux_int(&mut buf, "aof-base", opts.aof_base as i64);
    crate::scripting::functions::save_functions(&mut buf, &opts.functions, opts.compress);
    let mut keys = 0u64;
    for (id, db) in dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        buf.push(OPCODE_SELECTDB);
        save_len(&mut buf, id as u64);
        buf.push(OPCODE_RESIZEDB);
        save_len(&mut buf, db.dict.len() as u64);
        save_len(&mut buf, db.expires.len() as u64);
        let has_expires = !db.expires.is_empty();
        for (k, o) in db.dict.iter() {
            let kb = k.as_bytes();
            let expire_ms = if has_expires {
                db.expires.peek(kb).copied()
            } else {
                None
            };
            let (idle_secs, freq) = opts.eviction.of(o.lru);
            let meta = KeyMeta {
                expire_ms,
                idle_secs,
                freq,
            };
            save_key_value(&mut buf, kb, o, meta, opts.compress);
            if buf.len() >= FLUSH_AT {
                flush(&mut buf, &mut crc, sink)?;
            }
            keys += 1;
            if keys & 1023 == 0 {
                sink.progress(keys);
            }
            if opts.key_save_delay != 0 {
                debug_delay(opts.key_save_delay);
            }
        }
    }
    buf.push(OPCODE_EOF);
    if opts.checksum {
        crc.update(&buf);
        let sum = crc.finalize();
        buf.extend_from_slice(&sum.to_le_bytes());
    } else {
        buf.extend_from_slice(&[0u8; 8]);
    }
    sink.write_chunk(&buf)?;
    Ok(keys)
}

/// debugDelay: sleeps `usec` microseconds; a negative value sleeps 1 us with probability
/// 1/-usec.
pub(super) fn debug_delay(usec: i64) {
    let us = if usec < 0 {
        let r = crate::util::ustime() as u64;
        u64::from(
            r.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .is_multiple_of(usec.unsigned_abs()),
        )
    } else {
        usec as u64
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// The loading context: what the server's configuration decides while loading.
pub struct LoadOptions<'c> {
    /// Thresholds for encodings, eviction policy.
    pub config: &'c Config,
    /// Unix ms: keys that expired before this are skipped (a master discards them).
    pub now_ms: i64,
    /// Skip already-expired keys (false for AOF preambles and replicas).
    pub drop_expired: bool,
    /// A key already present replaces the old value (DEBUG RELOAD MERGE) instead of being
    /// corruption.
    pub allow_dup: bool,
    /// rdbchecksum: verify the file's CRC.
    pub verify_checksum: bool,
    /// The LRU clock, for IDLE metadata.
    pub lru_clock: u32,
}

/// What a load found.
#[derive(Default, Debug)]
pub struct LoadInfo {
    /// The file's format version.
    pub rdbver: u16,
    /// Keys added.
    pub keys_loaded: u64,
    /// Keys skipped because their TTL had passed.
    pub keys_expired: u64,
    /// Empty aggregates skipped.
    pub empty_keys_skipped: u64,
    /// The aux fields, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The checksum was zero (saved with rdbchecksum no): not verified.
    pub checksum_disabled: bool,
    /// Blobs checked deeply (sanitize-dump-payload yes): see [`Reader::sanitizations`].
    pub sanitizations: u64,
    /// Bytes the RDB took: an AOF with an RDB preamble continues with commands there.
    pub consumed: usize,
    /// The code of each function library, in file order (the caller loads them).
    pub functions: Vec<Vec<u8>>,
}

/// Decodes a whole RDB file into `dbs` (rdbLoadRio). `on_aux` sees each aux field as it is
/// read (the server logs some). On error the databases hold what was loaded so far: callers
/// abort or empty them.
pub fn load_rdb(
    data: &[u8],
    dbs: &mut [Db],
    opts: &LoadOptions<'_>,
    on_aux: &mut dyn FnMut(&[u8], &[u8]),
) -> LResult<LoadInfo> {
    let mut r = Reader::new(data);
    // sanitize-dump-payload yes checks files too; `clients` never does (server.loading).
    r.deep = opts.config.sanitize_dump_payload == 1;
    let magic = r
        .take(9)
        .map_err(|_| r.err("Wrong signature trying to load DB from file"))?;
    if &magic[..5] != b"REDIS" {
        return Err(LoadError {
            offset: 0,
            msg: "Wrong signature trying to load DB from file".into(),
        });
    }
    if !magic[5..].iter().all(u8::is_ascii_digit) {
        return Err(LoadError {
            offset: 0,
            msg: "Wrong signature trying to load DB from file".into(),
        });
    }
    let ver = atoi(&magic[5..]);
    if !(1..=RDB_VERSION as i64).contains(&ver) {
        return Err(LoadError {
            offset: 5,
            msg: format!("Can't handle RDB format version {ver}"),
        });
    }
    let mut info = LoadInfo {
        rdbver: ver as u16,
        ..Default::default()
    };
    let lfu_policy = opts.config.maxmemory_policy_name().ends_with("-lfu");
    let mut db = 0usize;
    let mut expire_ms: Option<i64> = None;
    let mut idle: Option<u64> = None;
    let mut freq: Option<u8> = None;
    loop {
        let t = r.u8()?;
        match t {
            OPCODE_EXPIRETIME => {
                // A signed 32-bit count of seconds, as rdbLoadTime reads it.
                expire_ms = Some(i32::from_le_bytes(r.array()?) as i64 * 1000);
                continue;
            }
            OPCODE_EXPIRETIME_MS => {
                expire_ms = Some(i64::from_le_bytes(r.array()?));
                continue;
            }
            OPCODE_FREQ => {
                freq = Some(r.u8()?);
                continue;
            }
            OPCODE_IDLE => {
                idle = Some(r.length()?);
                continue;
            }
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                let id = r.length()?;
                if id >= dbs.len() as u64 {
                    return Err(r.err(format!("FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting\n", dbs.len())));
                }
                db = id as usize;
                continue;
            }
            OPCODE_RESIZEDB => {
                let size = r.length()?;
                let expires = r.length()?;
                // Each key takes at least 3 bytes: never trust a hint beyond the file's size.
                let cap = (r.remaining() / 3) as u64;
                let d = &mut dbs[db];
                if d.dict.is_empty() {
                    d.dict.expand(size.min(cap) as usize);
                }
                if d.expires.is_empty() {
                    d.expires.expand(expires.min(cap) as usize);
                }
                continue;
            }
            OPCODE_AUX => {
                let k = r.bytes()?;
                let v = r.bytes()?;
                on_aux(&k, &v);
                info.aux.push((k.into_owned(), v.into_owned()));
                continue;
            }
            OPCODE_MODULE_AUX => return Err(r.err(
                "The RDB file contains AUX module data I can't load: this server has no modules",
            )),
            OPCODE_FUNCTION_PRE_GA => {
                return Err(r.err("Pre-release function format not supported."))
            }
            OPCODE_FUNCTION2 => {
                let code = r.bytes()?;
                info.functions.push(code.into_owned());
                continue;
            }
            _ => {}
        }
        if !is_object_type(t) {
            return Err(r.err(format!("Unknown RDB encoding type {t}")));
        }
        let key_bytes = r.bytes()?;
        let loaded = load_object(&mut r, t, opts.config)?;
        let (exp, id, fr) = (expire_ms.take(), idle.take(), freq.take());
        let value = match loaded {
            Loaded::Value(v) => v,
            Loaded::Empty => {
                info.empty_keys_skipped += 1;
                if info.empty_keys_skipped <= 10 {
                    crate::log_notice!(
                        "rdbLoadObject skipping empty key: {}",
                        String::from_utf8_lossy(&key_bytes)
                    );
                }
                continue;
            }
        };
        if opts.drop_expired {
            if let Some(when) = exp {
                if when < opts.now_ms {
                    info.keys_expired += 1;
                    continue;
                }
            }
        }
        let mut obj = RObj::new(value, opts.lru_clock);
        if lfu_policy {
            // Without a FREQ record the object starts as a new one does (LFU_INIT_VAL).
            obj.lru = match fr {
                Some(f) => ((((opts.now_ms / 1000 / 60) & 65535) as u32) << 8) | f as u32,
                None => crate::evict::lfu_init(opts.now_ms / 1000),
            };
        } else if let Some(idle) = id {
            let abs = opts.lru_clock as i64 - idle.min(i64::MAX as u64) as i64;
            obj.lru = if abs >= 0 { abs as u32 } else { 0 };
        }
        let d = &mut dbs[db];
        let h = crate::ds::dict::hash_key(&key_bytes);
        let key = Sds::from_slice(&key_bytes);
        let replaced = match exp {
            Some(when) => {
                d.expires.insert_with_hash(h, key.clone(), when);
                d.dict.insert_with_hash(h, key, obj).is_some()
            }
            None => {
                let old = d.dict.insert_with_hash(h, key, obj).is_some();
                if old && !d.expires.is_empty() {
                    d.expires.remove_with_hash(h, &key_bytes);
                }
                old
            }
        };
        if !replaced {
            d.index_added(&key_bytes, h);
        }
        if replaced && !opts.allow_dup {
            return Err(r.err(format!(
                "RDB has duplicated key '{}' in DB {}",
                String::from_utf8_lossy(&key_bytes),
                db
            )));
        }
        info.keys_loaded += 1;
    }
    if info.rdbver >= 5 {
        let covered = r.pos;
        let stored = u64::from_le_bytes(r.array()?);
        if opts.verify_checksum {
            if stored == 0 {
                info.checksum_disabled = true;
            } else {
                let expected = crc64(&data[..covered]);
                if expected != stored {
                    return Err(LoadError {
                        offset: covered,
                        msg: format!(
                            "Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). Aborting now."
                        ),
                    });
                }
            }
        }
    }
    info.consumed = r.pos;
    info.sanitizations = r.sanitizations;
    Ok(info)
}

/// C's atoi over the version digits.
fn atoi(s: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            break;
        }
        v = v * 10 + (b - b'0') as i64;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_members_are_refused() {
        // count, then length-prefixed strings (and 8-byte binary scores for TYPE_ZSET_2).
        let set = [2u8, 1, b'a', 1, b'a'];
        let hash = [2u8, 1, b'f', 1, b'x', 1, b'f', 1, b'y'];
        let mut zset = vec![2u8, 1, b'm'];
        zset.extend_from_slice(&1.0f64.to_le_bytes());
        zset.extend_from_slice(&[1, b'm']);
        zset.extend_from_slice(&2.0f64.to_le_bytes());
        let cases: [(u8, &[u8], &str); 3] = [
            (TYPE_SET, &set, "Duplicate set members detected"),
            (TYPE_HASH, &hash, "Duplicate hash fields detected"),
            (TYPE_ZSET_2, &zset, "Duplicate zset fields detected"),
        ];
        for (t, body, want) in cases {
            let err = parse_object(&mut Reader::new(body), t)
                .err()
                .expect("refused");
            assert!(format!("{err:?}").contains(want), "{err:?}");
        }
        let distinct = [2u8, 1, b'a', 1, b'b'];
        assert!(parse_object(&mut Reader::new(&distinct), TYPE_SET).is_ok());
    }

    #[test]
    fn repeated_member_among_many_is_refused() {
        // 1000 distinct members fill read_unique's index table with probe chains; a repeat of
        // any earlier one, however far back, must still be found.
        let body = |extra: Option<u32>| {
            let n = 1000 + u32::from(extra.is_some());
            let mut b = vec![LEN_32BIT];
            b.extend_from_slice(&n.to_be_bytes());
            for i in (0..1000).chain(extra) {
                let m = format!("m{i}");
                b.push(m.len() as u8);
                b.extend_from_slice(m.as_bytes());
            }
            b
        };
        match parse_object(&mut Reader::new(&body(None)), TYPE_SET) {
            Ok(Some(Parsed::Set(SetParts::Members(v)))) => assert_eq!(v.len(), 1000),
            _ => panic!("1000 distinct members refused"),
        }
        for dup in [0, 499, 999] {
            let err = parse_object(&mut Reader::new(&body(Some(dup))), TYPE_SET)
                .err()
                .expect("refused");
            assert_eq!(err.msg, "Duplicate set members detected");
        }
    }

    #[test]
    fn lengths() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0]),
            (63, &[63]),
            (64, &[0x40, 64]),
            (16383, &[0x7F, 0xFF]),
            (16384, &[0x80, 0, 0, 0x40, 0]),
            (u32::MAX as u64, &[0x80, 0xFF, 0xFF, 0xFF, 0xFF]),
            (1 << 32, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for &(n, bytes) in cases {
            let mut v = Vec::new();
            save_len(&mut v, n);
            assert_eq!(v, bytes, "{n}");
            assert_eq!(Reader::new(&v).length().unwrap(), n);
        }
    }

    #[test]
    fn strings_like_redis() {
        // Bytes taken from redis-server 7.0.15 dumps.
        let mut v = Vec::new();
        save_string(&mut v, b"bar", true);
        assert_eq!(v, b"\x03bar");
        v.clear();
        save_i64(&mut v, 12345);
        assert_eq!(v, b"\xc1\x39\x30");
        v.clear();
        save_i64(&mut v, 123456789012);
        assert_eq!(v, b"\x0c123456789012");
        v.clear();
        save_string(&mut v, &[b'a'; 48], true);
        assert_eq!(v, b"\xc3\x09\x30\x01aa\xe0\x23\x00\x01aa");
        v.clear();
        save_string(&mut v, b"-129", true);
        assert_eq!(v, b"\xc1\x7f\xff");
        v.clear();
        save_string(&mut v, b"012", true);
        assert_eq!(v, b"\x03012");
        for s in [
            &b"bar"[..],
            b"12345",
            b"-1",
            b"123456789012",
            &[b'a'; 48],
            b"",
        ] {
            let mut v = Vec::new();
            save_string(&mut v, s, true);
            let mut r = Reader::new(&v);
            assert_eq!(&r.bytes().unwrap()[..], s);
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn dump_payload_matches_redis() {
        // redis-cli DUMP foo (value "bar") on 7.0.15.
        let o = RObj::string(b"bar", 0);
        let p = create_dump_payload(&o, true);
        assert_eq!(p, b"\x00\x03bar\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17");
        assert_eq!(verify_dump_payload(&p, false), Some(10));
        let mut bad = p.clone();
        bad[2] ^= 1;
        assert_eq!(verify_dump_payload(&bad, false), None);
        assert_eq!(verify_dump_payload(&p[..9], false), None);
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn ziplist_walks() {
        // ["hi", 300, 7] as a ziplist.
        let mut zl = vec![0u8; 10];
        let e1 = [0u8, 0x02, b'h', b'i'];
        let e2 = [4u8, 0xC0, 0x2C, 0x01];
        let e3 = [4u8, 0xF8];
        zl.extend_from_slice(&e1);
        let tail2 = zl.len();
        zl.extend_from_slice(&e2);
        let tail3 = zl.len();
        zl.extend_from_slice(&e3);
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(tail3 as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&3u16.to_le_bytes());
        let _ = tail2;
        let mut got = Vec::new();
        assert_eq!(
            ziplist_walk(&zl, |e| {
                got.push(e.to_vec());
                true
            }),
            Some(3)
        );
        assert_eq!(got, vec![b"hi".to_vec(), b"300".to_vec(), b"7".to_vec()]);
        for i in 0..zl.len() {
            let mut z = zl.clone();
            z[i] ^= 0x41;
            let _ = ziplist_walk(&z, |_| true);
            let _ = ziplist_walk(&zl[..i], |_| true);
        }
    }
}
