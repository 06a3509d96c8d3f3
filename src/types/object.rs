//! The object model: what a key maps to (object.c's robj).
//!
//! ```text
//!  RObj (24 bytes)
//!  +---------------------------+-----------+-------+-----+
//!  | value: Value (16 bytes)   | lru: u32  | flags | pad |
//!  +---------------------------+-----------+-------+-----+
//!   Value::Int(i64)        "int" encoding
//!   Value::Str(Sds)        "embstr" (<= 44 bytes, never mutated) or "raw" (RAW flag, or longer)
//!   (later types add one boxed variant each: lists, hashes, sets, sorted sets, streams)
//! ```
//!
//! `Value` is as big as an `Sds` (16 bytes): the other variants' discriminants live in the
//! niche of the Sds tag byte. A keyspace entry (key `Sds` + `RObj` + next) is 48 bytes.
//!
//! `lru` is Redis's 24-bit LRU clock (seconds resolution) or, under an LFU policy, 16 bits of
//! minutes plus an 8-bit logarithmic counter. There is no refcount: values are owned by the
//! keyspace; OBJECT REFCOUNT reports what Redis would (shared integers 0..9999 report INT_MAX).

use crate::ds::sds::Sds;
use crate::types::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};
use crate::util::num::{fmt_i64, parse_i64};

/// Strings up to this length are "embstr" in Redis (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_LIMIT: usize = 44;
/// Integers below this are Redis's shared integers (OBJ_SHARED_INTEGERS).
pub const SHARED_INTEGERS: i64 = 10000;
/// Set when a string was modified in place (APPEND, SETRANGE, SETBIT...): Redis reports "raw".
pub const FLAG_RAW: u8 = 1;

/// The value stored under a key.
pub enum Value {
    /// A string that is a canonical 64-bit integer.
    Int(i64),
    /// Any other string.
    Str(Sds),
    /// A list (quicklist).
    List(Box<List>),
    /// A hash (listpack or hashtable).
    Hash(Box<Hash>),
    /// A set (intset, or hashtable).
    Set(Box<Set>),
    /// A sorted set (listpack or skiplist + dict).
    ZSet(Box<ZSet>),
    /// A stream (radix tree of listpacks).
    Stream(Box<Stream>),
}

/// A value plus the per-object metadata eviction and OBJECT need.
pub struct RObj {
    /// The data.
    pub value: Value,
    /// LRU clock or LFU data.
    pub lru: u32,
    /// FLAG_* bits.
    pub flags: u8,
}

/// Redis's type names, for TYPE and SCAN TYPE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ObjType {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
}

impl ObjType {
    /// The name TYPE answers.
    pub fn name(self) -> &'static str {
        match self {
            ObjType::String => "string",
            ObjType::List => "list",
            ObjType::Set => "set",
            ObjType::ZSet => "zset",
            ObjType::Hash => "hash",
            ObjType::Stream => "stream",
        }
    }

    /// Parses a TYPE name (SCAN's TYPE option), case-insensitively.
    pub fn from_name(s: &[u8]) -> Option<ObjType> {
        let t = s.to_ascii_lowercase();
        Some(match &t[..] {
            b"string" => ObjType::String,
            b"list" => ObjType::List,
            b"set" => ObjType::Set,
            b"zset" => ObjType::ZSet,
            b"hash" => ObjType::Hash,
            b"stream" => ObjType::Stream,
            _ => return None,
        })
    }
}

/// The shared WRONGTYPE error.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

impl RObj {
    /// Wraps a value with a fresh clock.
    #[inline]
    pub fn new(value: Value, lru: u32) -> RObj {
        RObj {
            value,
            lru,
            flags: 0,
        }
    }

    /// A string object built as SET builds it (tryObjectEncoding): an integer when the bytes are
    /// a canonical integer of at most 20 characters, else the bytes.
    #[inline]
    pub fn string(bytes: &[u8], lru: u32) -> RObj {
        RObj::new(string_value(bytes), lru)
    }

    /// The type of the value.
    pub fn obj_type(&self) -> ObjType {
        match self.value {
            Value::Int(_) | Value::Str(_) => ObjType::String,
            Value::List(_) => ObjType::List,
            Value::Hash(_) => ObjType::Hash,
            Value::Set(_) => ObjType::Set,
            Value::ZSet(_) => ObjType::ZSet,
            Value::Stream(_) => ObjType::Stream,
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding_name(&self) -> &'static str {
        match &self.value {
            Value::Int(_) => "int",
            Value::Str(s) => {
                if self.flags & FLAG_RAW != 0 || s.len() > EMBSTR_LIMIT {
                    "raw"
                } else {
                    "embstr"
                }
            }
            Value::List(l) => l.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }

    /// True when the value is a string.
    #[inline]
    pub fn is_string(&self) -> bool {
        matches!(self.value, Value::Int(_) | Value::Str(_))
    }

    /// The string's bytes, formatting integers into `tmp`. None for non-strings.
    #[inline]
    pub fn str_bytes<'a>(&'a self, tmp: &'a mut [u8; 20]) -> Option<&'a [u8]> {
        match &self.value {
            Value::Int(i) => Some(fmt_i64(*i, tmp)),
            Value::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The string's length (STRLEN). 0 for non-strings.
    pub fn str_len(&self) -> usize {
        match &self.value {
            Value::Int(i) => crate::util::num::i64_len(*i),
            Value::Str(s) => s.len(),
            _ => 0,
        }
    }

    /// Turns an int-encoded or embstr string into a mutable raw Sds (dbUnshareStringValue) and
    /// returns it, for in-place modification (APPEND, SETRANGE, SETBIT).
    pub fn make_raw(&mut self) -> Option<&mut Sds> {
        let cur = std::mem::replace(&mut self.value, Value::Int(0));
        let s = match cur {
            Value::Int(i) => {
                let mut tmp = [0u8; 20];
                Sds::heap_from_vec(fmt_i64(i, &mut tmp).to_vec())
            }
            Value::Str(s) if s.is_heap() => s,
            Value::Str(s) => Sds::heap_from_vec(s.into_vec()),
            other => {
                self.value = other;
                return None;
            }
        };
        self.value = Value::Str(s);
        self.flags |= FLAG_RAW;
        match &mut self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Bytes this object owns on the heap beyond its slot (for MEMORY USAGE and accounting).
    pub fn heap_size(&self) -> usize {
        match &self.value {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Value::Set(s) => std::mem::size_of::<Set>() + s.heap_size(),
            Value::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_size(),
            Value::Stream(s) => std::mem::size_of::<Stream>() + s.heap_size(),
        }
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> RObj {
        let value = match &self.value {
            Value::Int(i) => Value::Int(*i),
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(Box::new(l.duplicate())),
            Value::Hash(h) => Value::Hash(Box::new(h.duplicate())),
            Value::Set(s) => Value::Set(Box::new(s.duplicate())),
            Value::ZSet(z) => Value::ZSet(Box::new(z.duplicate())),
            Value::Stream(s) => Value::Stream(Box::new(s.duplicate())),
        };
        RObj {
            value,
            lru: self.lru,
            flags: self.flags,
        }
    }
}

/// The value SET stores for `bytes`.
#[inline]
pub fn string_value(bytes: &[u8]) -> Value {
    if bytes.len() <= 20 {
        if let Some(i) = parse_i64(bytes) {
            return Value::Int(i);
        }
    }
    Value::Str(Sds::from_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 16);
        assert_eq!(std::mem::size_of::<RObj>(), 24);
    }

    #[test]
    fn encodings() {
        assert_eq!(RObj::string(b"123", 0).encoding_name(), "int");
        assert_eq!(RObj::string(b"0123", 0).encoding_name(), "embstr");
        assert_eq!(RObj::string(&[b'a'; 44], 0).encoding_name(), "embstr");
        assert_eq!(RObj::string(&[b'a'; 45], 0).encoding_name(), "raw");
        let mut o = RObj::string(b"12", 0);
        o.make_raw().unwrap().extend_from_slice(b"3");
        assert_eq!(o.encoding_name(), "raw");
        let mut t = [0u8; 20];
        assert_eq!(o.str_bytes(&mut t), Some(&b"123"[..]));
    }
}
