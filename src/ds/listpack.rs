//! `Listpack`: Redis 7.0's compact serialised list of strings and integers (listpack.c), byte for
//! byte, because the same blob is what RDB files and `DUMP` payloads carry for small lists,
//! hashes, sets and sorted sets.
//!
//! ```text
//!  +-------------+-----------+---------+---------+-----+---------+------+
//!  | total bytes | num elems | entry 0 | entry 1 | ... | entry N | 0xFF |
//!  |  u32 LE     |  u16 LE   |         |         |     |         | EOF  |
//!  +-------------+-----------+---------+---------+-----+---------+------+
//!   (num elems = 65535 means "unknown, count by walking")
//!
//!  entry = [ encoding (+ length) | data ] [ backlen ]
//!
//!  first byte          meaning                       encoding+data size
//!  0xxxxxxx            7-bit uint 0..127              1
//!  10LLLLLL            string, 6-bit length           1 + L
//!  110vvvvv vvvvvvvv   13-bit int -4096..4095         2       (two's complement, BE-ish)
//!  1110LLLL LLLLLLLL   string, 12-bit length          2 + L
//!  11110000 L L L L    string, 32-bit LE length       5 + L
//!  0xF1 / F2 / F3 / F4 16 / 24 / 32 / 64-bit LE int   3 / 5 / 5 / 9 (1 + width)
//!  0xF5..0xFE          invalid                        -
//!
//!  backlen = size of "encoding+data", written so it can be read right-to-left: the LAST byte
//!  holds the lowest 7 bits, every byte but the first one written has bit 7 set. 1..5 bytes
//!  (Redis's thresholds: <=127, <16383, <2097151, <268435455, else 5).
//!
//!  Worked example: the list ["hi", 300]
//!    0e 00 00 00   total bytes = 14
//!    02 00         2 elements
//!    82 68 69 03   6-bit string "hi" (0x80|2), backlen 3
//!    c1 2c 02      13-bit int 300 = 0x12c -> 0xc0|0x01, 0x2c, backlen 2
//!    ff            end
//! ```
//!
//! Strings that parse as integers under `string2ll` rules (no sign `+`, no leading zeros, no
//! spaces, fit in i64) are always stored in an integer encoding, exactly as Redis does, so the
//! bytes match the oracle's. Positions handed out by this API are byte offsets of an entry's
//! first byte; any mutation invalidates every position except the one the mutator returns.
//!
//! Memory: the blob lives in one heap block whose capacity is rounded to jemalloc-like size
//! classes (<= 25% slack, amortised growth) instead of doubling, and is shrunk after deletions.
//! The handle is 16 bytes (`LpBuf`: pointer, u32 length, u32 capacity; a listpack is at most
//! 4 GiB by its header), so a type that holds a listpack or a boxed table in one enum (a small
//! hash or sorted set) is 16 bytes too.

use crate::util::num::{fmt_i64, parse_i64};
use std::cmp::Ordering;
use std::fmt;

/// Header size: 4 bytes total length plus 2 bytes element count.
pub const HDR_SIZE: usize = 6;
/// Size of an empty listpack (header plus the EOF byte), what `lpBytes` reports for it.
pub const EMPTY_SIZE: usize = HDR_SIZE + 1;
/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: callers convert to a bigger encoding instead of letting a
/// listpack grow past 1 GiB (see [`Listpack::safe_to_add`]).
pub const MAX_SAFETY_SIZE: usize = 1 << 30;
/// Maximum bytes of a decimal i64 (`-9223372036854775808`), for callers formatting elements.
pub const INTBUF_SIZE: usize = 20;

const EOF: u8 = 0xFF;
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// One element as stored: either an integer encoding or a byte string borrowed from the
/// listpack. Also the input type of every inserting method, so callers that already hold an
/// integer skip the formatting/parsing round trip.
#[derive(Clone, Copy, Debug)]
pub enum LpElem<'a> {
    /// Integer-encoded element (any string that is a canonical i64 ends up here).
    Int(i64),
    /// String-encoded element.
    Str(&'a [u8]),
}

impl<'a> LpElem<'a> {
    /// Formats the element into `buf` (integers) or returns the borrowed bytes, without
    /// allocating: the common path for writing replies.
    pub fn as_bytes<'b>(&self, buf: &'b mut [u8; INTBUF_SIZE]) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            LpElem::Int(v) => fmt_i64(v, buf),
            LpElem::Str(s) => s,
        }
    }

    /// Owned copy of the string form, for callers that must keep it past a mutation.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = [0u8; INTBUF_SIZE];
        self.as_bytes(&mut b).to_vec()
    }

    /// Appends the string form to `out` (reply buffers, key building).
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let mut b = [0u8; INTBUF_SIZE];
        out.extend_from_slice(self.as_bytes(&mut b));
    }

    /// Length of the string form in bytes (the `sz` Redis passes around).
    pub fn str_len(&self) -> usize {
        match *self {
            LpElem::Int(v) => crate::util::num::i64_len(v),
            LpElem::Str(s) => s.len(),
        }
    }

    /// The integer value if the element is integer-encoded or a canonical integer string;
    /// what commands such as HINCRBY need.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            LpElem::Int(v) => Some(v),
            LpElem::Str(s) => parse_i64(s),
        }
    }

    /// Whether the element's string form equals `s` (`lpCompare`). Integer entries only match
    /// canonical integer strings, so no formatting is needed.
    pub fn eq_bytes(&self, s: &[u8]) -> bool {
        match *self {
            LpElem::Str(x) => x == s,
            LpElem::Int(v) => {
                // A canonical i64 is 1..=20 bytes; anything else cannot match.
                !s.is_empty() && s.len() <= INTBUF_SIZE && parse_i64(s) == Some(v)
            }
        }
    }

    /// Byte-wise (memcmp) ordering of the string forms: the order sorted sets use for
    /// lexicographic ranges.
    pub fn cmp_bytes(&self, s: &[u8]) -> Ordering {
        let mut b = [0u8; INTBUF_SIZE];
        self.as_bytes(&mut b).cmp(s)
    }
}

/// Equality of the string forms: `Int(5)` equals `Str(b"5")`.
impl PartialEq for LpElem<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (LpElem::Int(a), LpElem::Int(b)) => a == b,
            (a, LpElem::Str(s)) => a.eq_bytes(s),
            (LpElem::Str(s), b) => b.eq_bytes(s),
        }
    }
}
impl Eq for LpElem<'_> {}

impl<'a> From<&'a [u8]> for LpElem<'a> {
    fn from(s: &'a [u8]) -> Self {
        LpElem::Str(s)
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for LpElem<'a> {
    fn from(s: &'a [u8; N]) -> Self {
        LpElem::Str(s)
    }
}
impl<'a> From<&'a Vec<u8>> for LpElem<'a> {
    fn from(s: &'a Vec<u8>) -> Self {
        LpElem::Str(s)
    }
}
impl<'a> From<&'a str> for LpElem<'a> {
    fn from(s: &'a str) -> Self {
        LpElem::Str(s.as_bytes())
    }
}
impl From<i64> for LpElem<'static> {
    fn from(v: i64) -> Self {
        LpElem::Int(v)
    }
}

/// Returned by [`Listpack::from_bytes`] for a blob that is not a well-formed listpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidListpack;

impl fmt::Display for InvalidListpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid listpack")
    }
}
impl std::error::Error for InvalidListpack {}

/// An element encoded and ready to be copied into the buffer.
enum Encoded<'a> {
    Int { buf: [u8; 9], len: u8 },
    Str(&'a [u8]),
}

impl Encoded<'_> {
    fn new(e: LpElem<'_>) -> Encoded<'_> {
        match e {
            LpElem::Int(v) => Encoded::int(v),
            LpElem::Str(s) => match parse_i64(s) {
                Some(v) => Encoded::int(v),
                None => Encoded::Str(s),
            },
        }
    }

    /// `lpEncodeGetType`'s integer branch: the narrowest of the six integer encodings.
    fn int(v: i64) -> Encoded<'static> {
        let mut buf = [0u8; 9];
        let u = v as u64;
        let len = if (0..=127).contains(&v) {
            buf[0] = v as u8;
            1
        } else if (-4096..=4095).contains(&v) {
            let w = (u & 0x1FFF) as u16;
            buf[0] = 0xC0 | (w >> 8) as u8;
            buf[1] = w as u8;
            2
        } else if (-32768..=32767).contains(&v) {
            buf[0] = 0xF1;
            buf[1..3].copy_from_slice(&(v as i16).to_le_bytes());
            3
        } else if (-8388608..=8388607).contains(&v) {
            buf[0] = 0xF2;
            buf[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
            4
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            buf[0] = 0xF3;
            buf[1..5].copy_from_slice(&(v as i32).to_le_bytes());
            5
        } else {
            buf[0] = 0xF4;
            buf[1..9].copy_from_slice(&v.to_le_bytes());
            9
        };
        Encoded::Int { buf, len }
    }

    /// Size of encoding + data (without backlen).
    fn len(&self) -> usize {
        match self {
            Encoded::Int { len, .. } => *len as usize,
            Encoded::Str(s) => str_header_len(s.len()) + s.len(),
        }
    }

    /// Writes encoding + data + backlen into `out`, which is exactly `entry_size(self.len())`.
    fn write(&self, out: &mut [u8]) {
        let l = self.len();
        match self {
            Encoded::Int { buf, len } => {
                out[..*len as usize].copy_from_slice(&buf[..*len as usize])
            }
            Encoded::Str(s) => {
                let n = s.len();
                let h = if n < 64 {
                    out[0] = 0x80 | n as u8;
                    1
                } else if n < 4096 {
                    out[0] = 0xE0 | (n >> 8) as u8;
                    out[1] = n as u8;
                    2
                } else {
                    out[0] = 0xF0;
                    out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
                    5
                };
                out[h..h + n].copy_from_slice(s);
            }
        }
        write_backlen(&mut out[l..], l);
    }
}

fn str_header_len(n: usize) -> usize {
    if n < 64 {
        1
    } else if n < 4096 {
        2
    } else {
        5
    }
}

/// Bytes `lpEncodeBacklen` uses for an entry of `l` bytes (note Redis's `<` thresholds).
#[inline]
fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Encoding + data + backlen.
#[inline]
fn entry_size(l: usize) -> usize {
    l + backlen_size(l)
}

fn write_backlen(out: &mut [u8], l: usize) {
    let n = backlen_size(l);
    // out[n-1] holds the lowest 7 bits; out[0] the highest and no continuation bit.
    for (i, b) in out[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let part = ((l >> shift) & 127) as u8;
        *b = if i == 0 {
            (l >> shift) as u8
        } else {
            part | 128
        };
    }
}

/// Size of encoding + data of the entry starting at `p`, or `None` for an invalid first byte.
/// Reads the length bytes, so `buf` must hold them (bounds are checked by indexing).
#[inline]
fn encoded_size(buf: &[u8], p: usize) -> Option<usize> {
    let b = buf[p];
    Some(if b & 0x80 == 0 {
        1
    } else if b & 0xC0 == 0x80 {
        1 + (b & 0x3F) as usize
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        2 + ((((b & 0x0F) as usize) << 8) | buf[p + 1] as usize)
    } else {
        match b {
            0xF0 => {
                5 + u32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]) as usize
            }
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => return None,
        }
    })
}

/// Bytes of encoding needed before the length of an entry is known (`lpCurrentEncodedSizeBytes`).
fn size_bytes(b: u8) -> Option<usize> {
    if b & 0x80 == 0 || b & 0xC0 == 0x80 || b & 0xE0 == 0xC0 {
        Some(1)
    } else if b & 0xF0 == 0xE0 {
        Some(2)
    } else {
        match b {
            0xF0 => Some(5),
            0xF1..=0xF4 => Some(1),
            _ => None,
        }
    }
}

/// Decodes the element at `p` of a well-formed buffer.
#[inline]
fn decode(buf: &[u8], p: usize) -> LpElem<'_> {
    let b = buf[p];
    if b & 0x80 == 0 {
        LpElem::Int(b as i64)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3F) as usize;
        LpElem::Str(&buf[p + 1..p + 1 + n])
    } else if b & 0xE0 == 0xC0 {
        let u = (((b & 0x1F) as u16) << 8) | buf[p + 1] as u16;
        // Sign-extend 13 bits.
        LpElem::Int(((u << 3) as i16 >> 3) as i64)
    } else if b & 0xF0 == 0xE0 {
        let n = (((b & 0x0F) as usize) << 8) | buf[p + 1] as usize;
        LpElem::Str(&buf[p + 2..p + 2 + n])
    } else {
        match b {
            0xF0 => {
                let n = u32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]);
                LpElem::Str(&buf[p + 5..p + 5 + n as usize])
            }
            0xF1 => LpElem::Int(i16::from_le_bytes([buf[p + 1], buf[p + 2]]) as i64),
            0xF2 => {
                let v = i32::from_le_bytes([0, buf[p + 1], buf[p + 2], buf[p + 3]]) >> 8;
                LpElem::Int(v as i64)
            }
            0xF3 => LpElem::Int(
                i32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]) as i64,
            ),
            0xF4 => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&buf[p + 1..p + 9]);
                LpElem::Int(i64::from_le_bytes(w))
            }
            // Unreachable in a validated listpack; Redis returns this marker value too.
            _ => LpElem::Int(12345678900000000 + b as i64),
        }
    }
}

/// jemalloc-like size class for `n` bytes: 16-byte steps up to 128, then four classes per
/// power of two. Keeps slack under 25% while making growth amortised O(1).
fn size_class(n: usize) -> usize {
    if n <= 128 {
        return (n.max(16) + 15) & !15;
    }
    let k = usize::BITS - 1 - (n - 1).leading_zeros(); // 2^k < n <= 2^(k+1)
    let step = 1usize << (k - 2);
    (n + step - 1) & !(step - 1)
}

/// A `Vec<u8>` in 16 bytes: the listpack's storage. Lengths and capacities are u32 (a
/// listpack's header counts its bytes in a u32); mutations run on the rebuilt `Vec`.
struct LpBuf {
    ptr: std::ptr::NonNull<u8>,
    len: u32,
    cap: u32,
}

// SAFETY: an `LpBuf` owns its block exclusively, like the `Vec<u8>` it was taken from.
unsafe impl Send for LpBuf {}
unsafe impl Sync for LpBuf {}

impl LpBuf {
    fn from_vec(v: Vec<u8>) -> LpBuf {
        assert!(v.len() <= u32::MAX as usize, "listpack longer than 4 GiB");
        let v = if v.capacity() > u32::MAX as usize {
            Vec::from(v.into_boxed_slice())
        } else {
            v
        };
        let mut v = std::mem::ManuallyDrop::new(v);
        LpBuf {
            ptr: std::ptr::NonNull::new(v.as_mut_ptr()).expect("Vec pointer is non-null"),
            len: v.len() as u32,
            cap: v.capacity() as u32,
        }
    }

    fn into_vec(self) -> Vec<u8> {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: ptr/len/cap are the parts of a Vec taken apart in from_vec; `me` is not
        // dropped, so the block has one owner again.
        unsafe { Vec::from_raw_parts(me.ptr.as_ptr(), me.len as usize, me.cap as usize) }
    }

    /// Runs `f` on the bytes as a `Vec` (no copy) and keeps the result.
    fn with<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut v = std::mem::replace(self, LpBuf::from_vec(Vec::new())).into_vec();
        let r = f(&mut v);
        *self = LpBuf::from_vec(v);
        r
    }

    #[inline]
    fn len(&self) -> usize {
        self.len as usize
    }

    fn capacity(&self) -> usize {
        self.cap as usize
    }

    fn extend_from_slice(&mut self, s: &[u8]) {
        self.with(|v| v.extend_from_slice(s))
    }

    fn push(&mut self, b: u8) {
        self.with(|v| v.push(b))
    }

    fn pop(&mut self) -> Option<u8> {
        self.with(|v| v.pop())
    }

    fn truncate(&mut self, n: usize) {
        self.with(|v| v.truncate(n))
    }

    fn resize(&mut self, n: usize, b: u8) {
        self.with(|v| v.resize(n, b))
    }

    fn reserve_exact(&mut self, n: usize) {
        self.with(|v| v.reserve_exact(n))
    }

    fn shrink_to(&mut self, n: usize) {
        self.with(|v| v.shrink_to(n))
    }

    fn shrink_to_fit(&mut self) {
        self.with(|v| v.shrink_to_fit())
    }
}

impl Drop for LpBuf {
    fn drop(&mut self) {
        // SAFETY: as in into_vec; the handle is not used after drop.
        drop(unsafe {
            Vec::from_raw_parts(self.ptr.as_ptr(), self.len as usize, self.cap as usize)
        });
    }
}

impl std::ops::Deref for LpBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the first len bytes of the block are initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl std::ops::DerefMut for LpBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }
}

impl Clone for LpBuf {
    fn clone(&self) -> LpBuf {
        LpBuf::from_vec(self.to_vec())
    }
}

impl PartialEq for LpBuf {
    fn eq(&self, other: &LpBuf) -> bool {
        **self == **other
    }
}
impl Eq for LpBuf {}

/// A listpack owning its bytes. See the module comment for the layout.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    buf: LpBuf,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl fmt::Debug for Listpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for e in self.iter() {
            match e {
                LpElem::Int(v) => l.entry(&v),
                LpElem::Str(s) => l.entry(&String::from_utf8_lossy(s)),
            };
        }
        l.finish()
    }
}

impl Listpack {
    /// An empty listpack (`lpNew(0)`): 7 bytes.
    pub fn new() -> Listpack {
        Listpack::with_capacity(0)
    }

    /// An empty listpack with room for `cap` bytes, for callers that know the final size
    /// (conversions, RDB loading).
    pub fn with_capacity(cap: usize) -> Listpack {
        let mut buf = Vec::with_capacity(cap.max(EMPTY_SIZE));
        buf.extend_from_slice(&[EMPTY_SIZE as u8, 0, 0, 0, 0, 0, EOF]);
        Listpack {
            buf: LpBuf::from_vec(buf),
        }
    }

    /// Adopts an untrusted blob (RDB file, `RESTORE` payload) after a full validation that
    /// never reads out of bounds: header total matches the blob, every entry's encoding,
    /// length and backlen are consistent, the walk ends exactly at the final EOF byte and the
    /// element count matches. An "unknown" count is replaced by the real one when it fits,
    /// as Redis's `lpLength` would do on first use.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Listpack, InvalidListpack> {
        let count = validate(&bytes, |_| true).ok_or(InvalidListpack)?;
        let mut lp = Listpack {
            buf: LpBuf::from_vec(bytes),
        };
        if lp.header_count() == NUMELE_UNKNOWN && count < NUMELE_UNKNOWN as usize {
            lp.set_count(count);
        }
        Ok(lp)
    }

    /// Adopts an untrusted stream node blob: [`Listpack::from_bytes`]'s checks but the
    /// header's element count, which is kept as it is (Redis never checks it for streams).
    pub fn from_bytes_any_count(bytes: Vec<u8>) -> Result<Listpack, InvalidListpack> {
        validate_any_count(&bytes).ok_or(InvalidListpack)?;
        Ok(Listpack {
            buf: LpBuf::from_vec(bytes),
        })
    }

    /// Adopts bytes this crate produced itself (e.g. a quicklist node it compressed and now
    /// decompresses), skipping the O(n) walk. Never use it for bytes from outside.
    pub(crate) fn from_trusted(bytes: Vec<u8>) -> Listpack {
        debug_assert!(validate(&bytes, |_| true).is_some());
        Listpack {
            buf: LpBuf::from_vec(bytes),
        }
    }

    /// The raw bytes, exactly what RDB stores.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Gives the bytes back (e.g. to hand a node to an RDB writer or a compressor).
    pub fn into_vec(self) -> Vec<u8> {
        self.buf.into_vec()
    }

    /// Total bytes (`lpBytes`); the unit fill limits and `*-max-listpack-*` rules use.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes actually reserved, for MEMORY USAGE style accounting.
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// Number of elements (`lpLength`): O(1) from the header unless it says "unknown"
    /// (65535 or more elements), then a walk.
    pub fn len(&self) -> usize {
        let n = self.header_count();
        if n != NUMELE_UNKNOWN {
            return n as usize;
        }
        let mut count = 0;
        let mut p = self.first();
        while let Some(q) = p {
            count += 1;
            p = self.next(q);
        }
        count
    }

    /// Whether there are no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf[HDR_SIZE] == EOF
    }

    /// `lpSafeToAdd`: whether growing by `add` bytes keeps the listpack under 1 GiB. Callers
    /// (hash/set/zset encodings) convert to a hash table instead when this fails.
    pub fn safe_to_add(&self, add: usize) -> bool {
        self.buf.len().saturating_add(add) <= MAX_SAFETY_SIZE
    }

    /// Releases spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    #[inline]
    fn header_count(&self) -> u16 {
        u16::from_le_bytes([self.buf[4], self.buf[5]])
    }

    fn set_count(&mut self, n: usize) {
        let v = if n >= NUMELE_UNKNOWN as usize {
            NUMELE_UNKNOWN
        } else {
            n as u16
        };
        self.buf[4..6].copy_from_slice(&v.to_le_bytes());
    }

    fn add_count(&mut self, delta: isize) {
        let n = self.header_count();
        if n != NUMELE_UNKNOWN {
            self.set_count((n as isize + delta) as usize);
        }
    }

    fn set_total(&mut self) {
        let t = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&t.to_le_bytes());
    }

    // ----------------------------------------------------------------------------------------
    // Navigation
    // ----------------------------------------------------------------------------------------

    /// Position of the first element.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        if self.buf[HDR_SIZE] == EOF {
            None
        } else {
            Some(HDR_SIZE)
        }
    }

    /// Position of the last element.
    #[inline]
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len() - 1)
    }

    #[inline]
    fn skip(&self, p: usize) -> usize {
        // Positions come from this API, so the entry is well formed.
        let l = encoded_size(&self.buf, p).unwrap_or(1);
        p + entry_size(l)
    }

    /// Position of the element after `p`.
    #[inline]
    pub fn next(&self, p: usize) -> Option<usize> {
        let q = self.skip(p);
        if self.buf[q] == EOF {
            None
        } else {
            Some(q)
        }
    }

    /// Position of the element before `p` (`p` may also be the EOF position).
    #[inline]
    pub fn prev(&self, p: usize) -> Option<usize> {
        if p <= HDR_SIZE {
            return None;
        }
        // Step back by the canonical backlen size of the decoded length, as lpPrev does:
        // a stream node may carry a non-canonical backlen Redis accepts (see
        // `validate_any_count`).
        let (l, _) = decode_backlen(&self.buf, p - 1)?;
        p.checked_sub(backlen_size(l) + l)
    }

    /// Position of the element at `index`, negative counting from the tail (-1 is the
    /// last), or `None` when out of range (`lpSeek`, walking from the nearer end).
    pub fn seek(&self, index: i64) -> Option<usize> {
        let n = self.header_count();
        let (forward, mut idx) = if n != NUMELE_UNKNOWN {
            let n = n as i64;
            let i = if index < 0 { n + index } else { index };
            if i < 0 || i >= n {
                return None;
            }
            if i > n / 2 {
                (false, i - n)
            } else {
                (true, i)
            }
        } else {
            (index >= 0, index)
        };
        if forward {
            let mut p = self.first();
            while idx > 0 {
                p = self.next(p?);
                idx -= 1;
            }
            p
        } else {
            let mut p = self.last();
            while idx < -1 {
                p = self.prev(p?);
                idx += 1;
            }
            p
        }
    }

    /// The element at position `p`.
    #[inline]
    pub fn get(&self, p: usize) -> LpElem<'_> {
        decode(&self.buf, p)
    }

    /// Forward/backward iterator over the elements.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            front: HDR_SIZE,
            back: self.buf.len() - 1,
        }
    }

    /// Iterator over the elements from position `p` (inclusive) to the end.
    pub fn iter_from(&self, p: usize) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            front: p.clamp(HDR_SIZE, self.buf.len() - 1),
            back: self.buf.len() - 1,
        }
    }

    /// `lpFind`: the first element at or after `p` whose string form equals `value`,
    /// comparing one element then skipping `skip` (1 for field/value pairs, so only fields
    /// are compared).
    pub fn find(&self, p: usize, value: &[u8], skip: usize) -> Option<usize> {
        let as_int = if value.len() <= INTBUF_SIZE {
            parse_i64(value)
        } else {
            None
        };
        let buf = &self.buf;
        let mut p = p;
        let mut skipcnt = 0usize;
        loop {
            let b = buf[p];
            // Fast paths for the two most common shapes: short strings and small integers
            // (entry + 1-byte backlen, no full decode).
            if b & 0xC0 == 0x80 {
                let n = (b & 0x3F) as usize;
                if skipcnt == 0 {
                    if n == value.len() && &buf[p + 1..p + 1 + n] == value {
                        return Some(p);
                    }
                    skipcnt = skip;
                } else {
                    skipcnt -= 1;
                }
                p += n + 2;
                continue;
            }
            if b & 0x80 == 0 {
                if skipcnt == 0 {
                    if as_int == Some(b as i64) {
                        return Some(p);
                    }
                    skipcnt = skip;
                } else {
                    skipcnt -= 1;
                }
                p += 2;
                continue;
            }
            if b == EOF {
                return None;
            }
            if skipcnt == 0 {
                let hit = match decode(buf, p) {
                    LpElem::Str(s) => s == value,
                    LpElem::Int(v) => as_int == Some(v),
                };
                if hit {
                    return Some(p);
                }
                skipcnt = skip;
            } else {
                skipcnt -= 1;
            }
            p = self.skip(p);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Mutation
    // ----------------------------------------------------------------------------------------

    /// Grows the buffer's reservation to the size class of `total` bytes.
    fn reserve_total(&mut self, total: usize) {
        if total > self.buf.capacity() {
            let want = size_class(total);
            self.buf.reserve_exact(want - self.buf.len());
        }
    }

    /// Gives back memory after shrinking when more than a quarter (and 64 bytes) is spare.
    fn maybe_shrink(&mut self) {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        if cap - len > 64 && cap - len > len / 4 {
            self.buf.shrink_to(size_class(len));
        }
    }

    /// Replaces `remove` bytes at `at` by `enc` (or nothing), moving the tail. Returns `at`.
    fn splice(&mut self, at: usize, remove: usize, enc: Option<&Encoded<'_>>) -> usize {
        let new_len = enc.map_or(0, |e| entry_size(e.len()));
        let old_total = self.buf.len();
        let new_total = old_total - remove + new_len;
        assert!(
            new_total <= u32::MAX as usize,
            "listpack would exceed 4 GiB; callers must check safe_to_add"
        );
        if new_len > remove {
            self.reserve_total(new_total);
            self.buf.resize(new_total, 0);
            self.buf.copy_within(at + remove..old_total, at + new_len);
        } else if new_len < remove {
            self.buf.copy_within(at + remove..old_total, at + new_len);
            self.buf.truncate(new_total);
            self.maybe_shrink();
        }
        if let Some(e) = enc {
            e.write(&mut self.buf[at..at + new_len]);
        }
        self.set_total();
        at
    }

    /// Inserts `v` before the element at `p` (or at the end when `p` is the EOF position).
    /// Returns the new element's position.
    ///
    /// # Panics
    /// If the listpack would exceed 4 GiB; callers bound sizes with [`Self::safe_to_add`].
    pub fn insert_before<'b>(&mut self, p: usize, v: impl Into<LpElem<'b>>) -> usize {
        let enc = Encoded::new(v.into());
        let at = self.splice(p, 0, Some(&enc));
        self.add_count(1);
        at
    }

    /// Inserts `v` after the element at `p`. Returns the new element's position.
    pub fn insert_after<'b>(&mut self, p: usize, v: impl Into<LpElem<'b>>) -> usize {
        let q = self.skip(p);
        self.insert_before(q, v)
    }

    /// Appends `v` (`lpAppend`). Returns its position.
    pub fn push_back<'b>(&mut self, v: impl Into<LpElem<'b>>) -> usize {
        let eof = self.buf.len() - 1;
        self.insert_before(eof, v)
    }

    /// Prepends `v` (`lpPrepend`). Returns its position (always the first).
    pub fn push_front<'b>(&mut self, v: impl Into<LpElem<'b>>) -> usize {
        self.insert_before(HDR_SIZE, v)
    }

    /// Replaces the element at `p` by `v` (`lpReplace`). Returns its position (unchanged).
    pub fn replace<'b>(&mut self, p: usize, v: impl Into<LpElem<'b>>) -> usize {
        let old = self.skip(p) - p;
        let enc = Encoded::new(v.into());
        self.splice(p, old, Some(&enc))
    }

    /// Deletes the element at `p` (`lpDelete`) and returns the position of the element that
    /// followed it, if any.
    pub fn delete(&mut self, p: usize) -> Option<usize> {
        let old = self.skip(p) - p;
        self.splice(p, old, None);
        self.add_count(-1);
        if self.buf[p] == EOF {
            None
        } else {
            Some(p)
        }
    }

    /// Deletes up to `count` elements starting at the element at `p`; returns how many were
    /// deleted (`lpDeleteRangeWithEntry`).
    pub fn delete_range_at(&mut self, p: usize, count: usize) -> usize {
        let mut q = p;
        let mut n = 0;
        while n < count && self.buf[q] != EOF {
            q = self.skip(q);
            n += 1;
        }
        if n > 0 {
            self.splice(p, q - p, None);
            self.add_count(-(n as isize));
        }
        n
    }

    /// Deletes `count` elements starting at `index` (negative from the tail), clamped to the
    /// end (`lpDeleteRange`). Out-of-range `index` deletes nothing. Returns how many were
    /// deleted.
    pub fn delete_range(&mut self, index: i64, count: usize) -> usize {
        let Some(p) = self.seek(index) else { return 0 };
        let len = self.len();
        let idx = if index < 0 {
            (len as i64 + index) as usize
        } else {
            index as usize
        };
        if len - idx <= count {
            // Everything from p on goes: cut the buffer there.
            self.buf.truncate(p);
            self.buf.push(EOF);
            self.set_total();
            self.set_count(idx);
            self.maybe_shrink();
            len - idx
        } else {
            let n = self.delete_range_at(p, count);
            // The walk above knows the exact count even when the header said "unknown".
            self.set_count(len - n);
            n
        }
    }

    /// `lpMerge`: concatenates `first` then `second`, reusing the allocation of the one with
    /// more elements (appending to it or prepending to it), as quicklist node merges do.
    pub fn merge(first: Listpack, second: Listpack) -> Listpack {
        let (n1, n2) = (first.len(), second.len());
        let total = first.bytes() + second.bytes() - EMPTY_SIZE;
        let mut target = if n1 >= n2 {
            let mut t = first;
            t.reserve_total(total);
            t.buf.pop(); // EOF
            t.buf.extend_from_slice(&second.buf[HDR_SIZE..]);
            t
        } else {
            let mut t = second;
            let ins = first.bytes() - EMPTY_SIZE;
            let old = t.buf.len();
            t.reserve_total(total);
            t.buf.resize(total, 0);
            t.buf.copy_within(HDR_SIZE..old, HDR_SIZE + ins);
            t.buf[HDR_SIZE..HDR_SIZE + ins].copy_from_slice(&first.buf[HDR_SIZE..HDR_SIZE + ins]);
            t
        };
        target.set_total();
        target.set_count(n1 + n2);
        target
    }

    /// A human-readable dump of every entry (`lpRepr`, for DEBUG LISTPACK and DEBUG
    /// QUICKLIST): header totals, then per entry its index, offset, size and bytes, and the
    /// value. Redis's version also prints addresses; they mean nothing here and are left out.
    pub fn repr(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{{total bytes {}}} {{num entries {}}}",
            self.bytes(),
            self.header_count()
        );
        let mut index = 0;
        let mut p = self.first();
        while let Some(q) = p {
            let end = self.skip(q);
            let hex: String = self.buf[q..end].iter().fold(String::new(), |mut h, b| {
                let _ = write!(h, "{b:02x}|");
                h
            });
            let _ = writeln!(s, "{{\n\tindex: {index:2},\n\toffset: {q:2},");
            let _ = writeln!(s, "\thdr+entrylen+backlen: {:2},", end - q);
            let _ = writeln!(s, "\tbytes: {hex}");
            match self.get(q) {
                LpElem::Int(v) => {
                    let _ = writeln!(s, "\t[int]{v}\n}}");
                }
                LpElem::Str(v) => {
                    let _ = writeln!(s, "\t[str]{}\n}}", String::from_utf8_lossy(v));
                }
            }
            index += 1;
            p = self.next(q);
        }
        s.push_str("{end}\n\n");
        s
    }
}

/// Reads the backlen whose last byte is at `p`: (entry length, backlen byte count).
#[inline]
fn decode_backlen(buf: &[u8], p: usize) -> Option<(usize, usize)> {
    let mut val = 0usize;
    let mut shift = 0;
    let mut i = p;
    loop {
        let b = buf[i];
        val |= ((b & 127) as usize) << shift;
        if b & 128 == 0 {
            return Some((val, p - i + 1));
        }
        shift += 7;
        if shift > 28 || i == 0 {
            return None;
        }
        i -= 1;
    }
}

/// Full validation of an untrusted blob (`lpValidateIntegrity` with deep checks, slightly
/// stricter: the backlen must be the canonical encoding and the walk must end on the final
/// byte). `each` sees every element and may reject the blob (duplicate checks, pair counts).
/// Returns the element count.
pub fn validate(bytes: &[u8], each: impl FnMut(LpElem<'_>) -> bool) -> Option<usize> {
    validate_inner(bytes, each, true)
}

/// What Redis checks of a stream node's listpack (lpValidateIntegrity without deep checks,
/// then its own walk with lpValidateNext): [`validate`] without the element-count check, and
/// a backlen only has to decode (reading right to left, as lpDecodeBacklen does) to the
/// entry's length, canonical or not.
pub fn validate_any_count(bytes: &[u8]) -> Option<usize> {
    validate_inner(bytes, |_| true, false)
}

fn validate_inner(
    bytes: &[u8],
    mut each: impl FnMut(LpElem<'_>) -> bool,
    check_count: bool,
) -> Option<usize> {
    let size = bytes.len();
    if size < EMPTY_SIZE || size > u32::MAX as usize {
        return None;
    }
    let total = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if total != size || bytes[size - 1] != EOF {
        return None;
    }
    let last = size - 1;
    let mut p = HDR_SIZE;
    let mut count = 0usize;
    while p < last {
        let b = bytes[p];
        let hdr = size_bytes(b)?;
        if p + hdr > last {
            return None;
        }
        let l = encoded_size(bytes, p)?;
        let e = entry_size(l);
        let end = p.checked_add(e)?;
        if end > last {
            return None;
        }
        let mut bl = [0u8; 5];
        write_backlen(&mut bl, l);
        let canonical = bytes[p + l..end] == bl[..e - l];
        if !canonical && (check_count || decode_backlen(bytes, end - 1).map(|x| x.0) != Some(l)) {
            return None;
        }
        if !each(decode(bytes, p)) {
            return None;
        }
        count += 1;
        p = end;
    }
    let n = u16::from_le_bytes([bytes[4], bytes[5]]);
    if check_count && n != NUMELE_UNKNOWN && n as usize != count {
        return None;
    }
    Some(count)
}

/// Iterator over a listpack's elements, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    /// Position of the next element from the front.
    front: usize,
    /// Position just past the next element from the back (EOF initially).
    back: usize,
}

impl<'a> Iter<'a> {
    /// Position of the element the next `next()` call returns, for callers that want to
    /// mutate there after iterating.
    pub fn position(&self) -> Option<usize> {
        if self.front < self.back {
            Some(self.front)
        } else {
            None
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = LpElem<'a>;

    #[inline]
    fn next(&mut self) -> Option<LpElem<'a>> {
        if self.front >= self.back {
            return None;
        }
        let p = self.front;
        let l = encoded_size(self.buf, p).unwrap_or(1);
        self.front = p + entry_size(l);
        Some(decode(self.buf, p))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<LpElem<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (l, _) = decode_backlen(self.buf, self.back - 1)?;
        self.back = self.back.checked_sub(l + backlen_size(l))?;
        Some(decode(self.buf, self.back))
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection (DEBUG LAYOUT, ferrodis-observatory)
// ---------------------------------------------------------------------------------------------

/// Bytes of an element's value copied into a layout; longer values are cut (the full length
/// stays in [`EntryLayout::value_len`]), so a layout is small whatever the elements hold.
pub const LAYOUT_PREVIEW: usize = 64;

/// One entry as it lies in the buffer: where it starts and how its bytes divide into the
/// encoding (type and length), the data and the back-length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryLayout {
    /// Byte offset of the entry's first byte from the start of the listpack.
    pub offset: usize,
    /// The first byte, which selects the encoding.
    pub encoding_byte: u8,
    /// The encoding's name: "7bit-uint", "6bit-str", "13bit-int", "12bit-str", "32bit-str",
    /// "16bit-int", "24bit-int", "32bit-int" or "64bit-int".
    pub encoding: &'static str,
    /// Bytes of encoding: the type bits and, for strings, the length (1, 2 or 5).
    pub encoding_len: usize,
    /// Bytes after the encoding and before the back-length (the string, or the integer's
    /// remaining bytes; 0 for a 7-bit integer, which lives in the encoding byte).
    pub data_len: usize,
    /// The value the back-length holds: `encoding_len + data_len`.
    pub backlen: usize,
    /// Bytes the back-length takes (1..5).
    pub backlen_len: usize,
    /// True for the integer encodings.
    pub is_int: bool,
    /// Length of the element's string form.
    pub value_len: usize,
    /// The element's string form, at most [`LAYOUT_PREVIEW`] bytes.
    pub value: Vec<u8>,
}

impl EntryLayout {
    /// Total bytes of the entry: encoding, data and back-length.
    pub fn size(&self) -> usize {
        self.encoding_len + self.data_len + self.backlen_len
    }
}

/// A listpack's header and its first entries, read-only plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListpackLayout {
    /// The header's total-bytes field.
    pub total_bytes: u32,
    /// The header's element-count field (65535 means "count by walking").
    pub num_elements: u16,
    /// Offset of the EOF byte (`total_bytes - 1`).
    pub eof_offset: usize,
    /// The first entries, in order; at most the limit passed in.
    pub entries: Vec<EntryLayout>,
    /// True when the walk stopped at the limit before the EOF byte.
    pub truncated: bool,
}

/// Name and encoding length of an entry's first byte (`None` for the invalid bytes).
fn encoding_of(b: u8) -> Option<(&'static str, usize)> {
    Some(if b & 0x80 == 0 {
        ("7bit-uint", 1)
    } else if b & 0xC0 == 0x80 {
        ("6bit-str", 1)
    } else if b & 0xE0 == 0xC0 {
        ("13bit-int", 1)
    } else if b & 0xF0 == 0xE0 {
        ("12bit-str", 2)
    } else {
        match b {
            0xF0 => ("32bit-str", 5),
            0xF1 => ("16bit-int", 1),
            0xF2 => ("24bit-int", 1),
            0xF3 => ("32bit-int", 1),
            0xF4 => ("64bit-int", 1),
            _ => return None,
        }
    })
}

/// The layout of the well-formed listpack `buf` (one this crate built or validated), walking
/// at most `limit` entries: the cost is O(limit), not O(size).
pub fn layout_of(buf: &[u8], limit: usize) -> ListpackLayout {
    let total = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let mut out = ListpackLayout {
        total_bytes: total,
        num_elements: u16::from_le_bytes([buf[4], buf[5]]),
        eof_offset: buf.len() - 1,
        entries: Vec::new(),
        truncated: false,
    };
    let mut p = HDR_SIZE;
    while buf[p] != EOF {
        if out.entries.len() >= limit {
            out.truncated = true;
            break;
        }
        let b = buf[p];
        let (Some((encoding, encoding_len)), Some(l)) = (encoding_of(b), encoded_size(buf, p))
        else {
            break;
        };
        let elem = decode(buf, p);
        let mut tmp = [0u8; INTBUF_SIZE];
        let s = elem.as_bytes(&mut tmp);
        out.entries.push(EntryLayout {
            offset: p,
            encoding_byte: b,
            encoding,
            encoding_len,
            data_len: l - encoding_len,
            backlen: l,
            backlen_len: backlen_size(l),
            is_int: matches!(elem, LpElem::Int(_)),
            value_len: s.len(),
            value: s[..s.len().min(LAYOUT_PREVIEW)].to_vec(),
        });
        p += entry_size(l);
    }
    out
}

impl Listpack {
    /// The header and the first `limit` entries as they lie in memory (DEBUG LAYOUT).
    pub fn layout(&self, limit: usize) -> ListpackLayout {
        layout_of(&self.buf, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handle_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Listpack>(), 16);
        let mut lp = Listpack::with_capacity(100);
        assert_eq!(lp.allocated(), 100);
        lp.push_back(&b"x"[..]);
        let c = lp.clone();
        assert!(c == lp);
        assert_eq!(c.into_vec(), lp.as_bytes());
    }

    #[test]
    fn layout_of_the_worked_example() {
        let mut lp = Listpack::new();
        lp.push_back(&b"hi"[..]);
        lp.push_back(300i64);
        let l = lp.layout(10);
        assert_eq!((l.total_bytes, l.num_elements, l.eof_offset), (14, 2, 13));
        assert!(!l.truncated);
        let e: Vec<_> = l
            .entries
            .iter()
            .map(|e| {
                (
                    e.offset,
                    e.encoding_byte,
                    e.encoding,
                    e.encoding_len,
                    e.data_len,
                )
            })
            .collect();
        assert_eq!(
            e,
            [(6, 0x82, "6bit-str", 1, 2), (10, 0xc1, "13bit-int", 1, 1)]
        );
        assert_eq!((l.entries[0].backlen, l.entries[0].size()), (3, 4));
        assert_eq!(l.entries[1].value, b"300");
        let one = lp.layout(1);
        assert!(one.truncated && one.entries.len() == 1);
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn elems(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    fn from_list(items: &[&[u8]]) -> Listpack {
        let mut lp = Listpack::new();
        for i in items {
            lp.push_back(*i);
        }
        lp
    }

    #[test]
    fn worked_example() {
        let mut lp = Listpack::new();
        lp.push_back("hi");
        lp.push_back(300);
        assert_eq!(lp.as_bytes(), &hex("0e000000 0200 82686903 c12c02 ff")[..]);
        assert_eq!(lp.get(lp.last().unwrap()), LpElem::Int(300));
    }

    #[test]
    fn empty() {
        let lp = Listpack::new();
        assert_eq!(lp.as_bytes(), &[7, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(lp.len(), 0);
        assert!(lp.is_empty());
        assert_eq!(lp.first(), None);
        assert_eq!(lp.last(), None);
        assert_eq!(lp.seek(0), None);
        assert_eq!(lp.seek(-1), None);
        assert_eq!(lp.iter().count(), 0);
    }

    #[test]
    fn integer_encodings_roundtrip() {
        let cases: &[(i64, usize)] = &[
            (0, 1),
            (127, 1),
            (128, 2),
            (4095, 2),
            (-1, 2),
            (-4096, 2),
            (4096, 3),
            (-4097, 3),
            (32767, 3),
            (-32768, 3),
            (32768, 4),
            (8388607, 4),
            (-8388608, 4),
            (8388608, 5),
            (i32::MAX as i64, 5),
            (i32::MIN as i64, 5),
            (i32::MAX as i64 + 1, 9),
            (i64::MAX, 9),
            (i64::MIN, 9),
        ];
        for &(v, enc) in cases {
            for input in [LpElem::Int(v), LpElem::Str(v.to_string().as_bytes())] {
                let mut lp = Listpack::new();
                lp.push_back(input);
                assert_eq!(lp.bytes(), EMPTY_SIZE + enc + 1, "{v}");
                assert_eq!(lp.get(HDR_SIZE), LpElem::Int(v));
                assert!(matches!(lp.get(HDR_SIZE), LpElem::Int(_)));
            }
        }
        // Not canonical: stays a string.
        for s in ["01", "+1", "-0", " 1", "1 ", "9223372036854775808", "", "-"] {
            let mut lp = Listpack::new();
            lp.push_back(s);
            assert_eq!(lp.get(HDR_SIZE), LpElem::Str(s.as_bytes()));
            assert!(matches!(lp.get(HDR_SIZE), LpElem::Str(_)));
        }
    }

    #[test]
    fn string_encodings_and_backlen_thresholds() {
        for n in [
            0usize, 1, 63, 64, 125, 126, 127, 128, 4095, 4096, 16376, 16377, 16378, 16379, 16383,
            70000,
        ] {
            let s = vec![b'x'; n];
            let mut lp = Listpack::new();
            lp.push_back(&s);
            lp.push_back("tail");
            let l = str_header_len(n) + n;
            assert_eq!(lp.bytes(), EMPTY_SIZE + entry_size(l) + 6, "n={n}");
            assert_eq!(lp.get(lp.first().unwrap()), LpElem::Str(&s[..]));
            assert_eq!(lp.prev(lp.last().unwrap()), Some(HDR_SIZE));
            assert_eq!(lp.iter().rev().nth(1).unwrap(), LpElem::Str(&s[..]));
            assert!(Listpack::from_bytes(lp.as_bytes().to_vec()).is_ok());
        }
        // Redis's backlen quirk: 16383 needs 3 bytes (threshold is `<`).
        assert_eq!(backlen_size(16382), 2);
        assert_eq!(backlen_size(16383), 3);
        let mut b = [0u8; 5];
        for l in [
            0usize, 127, 128, 16382, 16383, 2097150, 2097151, 268435454, 268435455,
        ] {
            write_backlen(&mut b, l);
            let n = backlen_size(l);
            assert_eq!(decode_backlen(&b, n - 1), Some((l, n)), "{l}");
        }
    }

    /// Fixtures from redis-server 7.0.15 (`DUMP` with rdbcompression no; the listpack is the
    /// RDB string inside the quicklist node / hash payload).
    #[test]
    fn oracle_fixture_list_encodings() {
        // RPUSH l1 a 1 -1 127 128 4095 -4096 4096 32767 -32768 32768 8388607 -8388608
        //   2147483647 -2147483648 9223372036854775807 -9223372036854775808 01 +1 ""
        let want = hex(
            "5f000000 1400 816102 0101 dfff02 7f01 c08002 cfff02 d00002 f1001003 f1ff7f03 \
             f1008003 f200800004 f2ffff7f04 f200008004 f3ffffff7f05 f30000008005 \
             f4ffffffffffffff7f09 f4000000000000008009 82303103 822b3103 8001 ff",
        );
        let items: Vec<&[u8]> = vec![
            b"a",
            b"1",
            b"-1",
            b"127",
            b"128",
            b"4095",
            b"-4096",
            b"4096",
            b"32767",
            b"-32768",
            b"32768",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483648",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"01",
            b"+1",
            b"",
        ];
        let lp = from_list(&items);
        assert_eq!(lp.as_bytes(), &want[..]);
        let back = Listpack::from_bytes(want).unwrap();
        assert_eq!(
            elems(&back),
            items.iter().map(|s| s.to_vec()).collect::<Vec<_>>()
        );
    }

    /// `HSET h1 name alice age 30 score -7 city "" big 99999999999` and
    /// `ZADD z1 1 a 2.5 b -3 c 1e20 d` on redis-server 7.0.15: DUMP is type byte 16/17, the
    /// RDB string length, then the listpack.
    #[test]
    fn oracle_fixture_hash_and_zset() {
        let dump = hex(
            "103c3c0000000a00846e616d650585616c6963650683616765041e018573636f726506dff90284\
             636974790580018362696704f4ffe776481700000009ff0a0092fdf8b9068507db",
        );
        let lp = from_list(&[
            b"name",
            b"alice",
            b"age",
            b"30",
            b"score",
            b"-7",
            b"city",
            b"",
            b"big",
            b"99999999999",
        ]);
        assert_eq!(dump[0], 16);
        assert_eq!(dump[1] as usize, lp.bytes());
        assert_eq!(&dump[2..2 + lp.bytes()], lp.as_bytes());
        assert_eq!(lp.find(HDR_SIZE, b"city", 1), lp.seek(6));
        assert_eq!(lp.find(HDR_SIZE, b"30", 1), None);

        let dump = hex(
            "1124240000000800816302dffd02816102010181620283322e35048164028531652b323006ff0a00\
             fa2fa3233c43ef1d",
        );
        let lp = from_list(&[b"c", b"-3", b"a", b"1", b"b", b"2.5", b"d", b"1e+20"]);
        assert_eq!(dump[0], 17);
        assert_eq!(&dump[2..2 + lp.bytes()], lp.as_bytes());
    }

    #[test]
    fn navigation_and_seek() {
        let items: Vec<Vec<u8>> = (0..50).map(|i| format!("v{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
        let lp = from_list(&refs);
        for i in 0..50i64 {
            assert_eq!(lp.get(lp.seek(i).unwrap()).to_vec(), items[i as usize]);
            assert_eq!(lp.get(lp.seek(i - 50).unwrap()).to_vec(), items[i as usize]);
        }
        assert_eq!(lp.seek(50), None);
        assert_eq!(lp.seek(-51), None);
        assert_eq!(lp.seek(i64::MIN), None);
        assert_eq!(lp.seek(i64::MAX), None);
        let mut p = lp.last();
        let mut n = 0;
        while let Some(q) = p {
            n += 1;
            p = lp.prev(q);
        }
        assert_eq!(n, 50);
    }

    #[test]
    fn delete_range_like_redis() {
        let mut lp = from_list(&[b"abc", b"def", b"bob", b"foo"]);
        assert_eq!(lp.delete_range(4, 1), 0);
        assert_eq!(lp.delete_range(-5, 1), 0);
        assert_eq!(lp.delete_range(0, 1), 1);
        assert_eq!(
            elems(&lp),
            vec![b"def".to_vec(), b"bob".to_vec(), b"foo".to_vec()]
        );
        assert_eq!(lp.delete_range(-3, 3), 3);
        assert_eq!(lp.bytes(), EMPTY_SIZE);
        let mut lp = from_list(&[b"abc", b"def", b"bob", b"foo"]);
        assert_eq!(lp.delete_range(1, usize::MAX), 3);
        assert_eq!(lp.len(), 1);
    }

    #[test]
    fn find_with_skip() {
        let lp = from_list(&[b"abc", b"def", b"123", b"456", b"def", b"x"]);
        assert_eq!(lp.find(HDR_SIZE, b"abc", 1), Some(HDR_SIZE));
        assert_eq!(
            lp.get(lp.find(HDR_SIZE, b"123", 1).unwrap()),
            LpElem::Int(123)
        );
        // "def" at index 1 is a value (skipped); index 4 is a field.
        assert_eq!(lp.find(HDR_SIZE, b"def", 1), lp.seek(4));
        assert_eq!(lp.find(HDR_SIZE, b"def", 0), lp.seek(1));
        assert_eq!(lp.find(HDR_SIZE, b"456", 1), None);
        assert_eq!(lp.find(HDR_SIZE, b"0123", 0), None);
    }

    #[test]
    fn merge_both_ways() {
        let a = from_list(&[b"abc", b"def"]);
        let b = from_list(&[b"bob", b"foo", b"1"]);
        let m = Listpack::merge(a.clone(), b.clone());
        assert_eq!(
            elems(&m),
            vec![
                b"abc".to_vec(),
                b"def".to_vec(),
                b"bob".to_vec(),
                b"foo".to_vec(),
                b"1".to_vec()
            ]
        );
        assert_eq!(m.len(), 5);
        let m2 = Listpack::merge(b, a);
        assert_eq!(m2.len(), 5);
        assert_eq!(m2.get(m2.seek(3).unwrap()), LpElem::Str(b"abc"));
        assert!(Listpack::from_bytes(m.into_vec()).is_ok());
        assert!(Listpack::from_bytes(m2.into_vec()).is_ok());
    }

    #[test]
    fn validation_rejects_garbage() {
        let good = from_list(&[b"hello", b"12", b"world"]).into_vec();
        assert!(Listpack::from_bytes(good.clone()).is_ok());
        for bad in [
            vec![],
            vec![7, 0, 0, 0, 0, 0],
            vec![7, 0, 0, 0, 1, 0, 0xff],
            vec![8, 0, 0, 0, 0, 0, 0xff],
            vec![7, 0, 0, 0, 0, 0, 0xfe],
            vec![9, 0, 0, 0, 0, 0, 0xff, 0, 0xff], // mid EOF + trailing junk
            vec![9, 0, 0, 0, 1, 0, 0xf5, 1, 0xff], // invalid encoding
            vec![9, 0, 0, 0, 1, 0, 0x05, 2, 0xff], // wrong backlen
            vec![10, 0, 0, 0, 1, 0, 0xf0, 0xff, 0xff, 0xff], // 32-bit string header cut
        ] {
            assert!(Listpack::from_bytes(bad.clone()).is_err(), "{bad:?}");
        }
        // Every truncation / single-byte corruption must be rejected or parse safely.
        for cut in 0..good.len() {
            let mut b = good[..cut].to_vec();
            if b.len() >= 4 {
                b[..4].copy_from_slice(&(cut as u32).to_le_bytes());
            }
            let _ = Listpack::from_bytes(b);
        }
        for i in 0..good.len() {
            for v in [0u8, 0x7f, 0x80, 0xbf, 0xe0, 0xf0, 0xf4, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                if let Ok(lp) = Listpack::from_bytes(b) {
                    let _ = elems(&lp);
                    let _: Vec<_> = lp.iter().rev().collect();
                }
            }
        }
        // Unknown count gets normalised.
        let mut b = good.clone();
        b[4] = 0xff;
        b[5] = 0xff;
        assert_eq!(Listpack::from_bytes(b).unwrap().as_bytes(), &good[..]);
    }

    #[test]
    fn unknown_count_walks() {
        let mut lp = Listpack::new();
        for i in 0..70000 {
            lp.push_back(i % 100);
        }
        assert_eq!(lp.header_count(), NUMELE_UNKNOWN);
        assert_eq!(lp.len(), 70000);
        assert_eq!(lp.get(lp.seek(-1).unwrap()), LpElem::Int(99));
        assert_eq!(lp.get(lp.seek(69999).unwrap()), LpElem::Int(99));
        assert_eq!(lp.seek(70000), None);
        assert_eq!(lp.delete_range(0, 10000), 10000);
        assert_eq!(lp.len(), 60000);
        assert_eq!(lp.header_count(), 60000);
        assert!(validate(lp.as_bytes(), |_| true).is_some());
    }

    #[test]
    fn elem_helpers() {
        let mut b = [0u8; INTBUF_SIZE];
        assert_eq!(LpElem::Int(-12).as_bytes(&mut b), b"-12");
        assert!(LpElem::Int(7).eq_bytes(b"7"));
        assert!(!LpElem::Int(7).eq_bytes(b"07"));
        assert_eq!(LpElem::Int(10).cmp_bytes(b"9"), Ordering::Less);
        assert_eq!(LpElem::Int(5), LpElem::Str(b"5"));
        assert_eq!(LpElem::Str(b"-3").as_i64(), Some(-3));
        assert_eq!(LpElem::Int(i64::MIN).str_len(), 20);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        Insert(usize, bool, Vec<u8>),
        Replace(usize, Vec<u8>),
        Delete(usize),
        DeleteRange(i64, usize),
        MergeWith(Vec<Vec<u8>>, bool),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            (-5000i64..5000).prop_map(|v| v.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..80),
            (0usize..5000).prop_map(|n| vec![b'z'; n]),
            Just(b"01".to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            value().prop_map(Op::PushBack),
            value().prop_map(Op::PushFront),
            (any::<usize>(), any::<bool>(), value()).prop_map(|(i, a, v)| Op::Insert(i, a, v)),
            (any::<usize>(), value()).prop_map(|(i, v)| Op::Replace(i, v)),
            any::<usize>().prop_map(Op::Delete),
            (-20i64..20, 0usize..6).prop_map(|(i, n)| Op::DeleteRange(i, n)),
            (proptest::collection::vec(value(), 0..4), any::<bool>())
                .prop_map(|(v, f)| Op::MergeWith(v, f)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn model(ops in proptest::collection::vec(op(), 1..60)) {
            let mut lp = Listpack::new();
            let mut m: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::PushBack(v) => { lp.push_back(&v); m.push(v); }
                    Op::PushFront(v) => { lp.push_front(&v); m.insert(0, v); }
                    Op::Insert(i, after, v) => {
                        if !m.is_empty() {
                            let i = i % m.len();
                            let p = lp.seek(i as i64).unwrap();
                            let q = if after { lp.insert_after(p, &v) } else { lp.insert_before(p, &v) };
                            let at = if after { i + 1 } else { i };
                            prop_assert_eq!(lp.get(q).to_vec(), v.clone());
                            m.insert(at, v);
                        }
                    }
                    Op::Replace(i, v) => {
                        if !m.is_empty() {
                            let i = i % m.len();
                            let p = lp.seek(-(i as i64) - 1).unwrap();
                            lp.replace(p, &v);
                            let j = m.len() - 1 - i;
                            m[j] = v;
                        }
                    }
                    Op::Delete(i) => {
                        if !m.is_empty() {
                            let i = i % m.len();
                            let p = lp.seek(i as i64).unwrap();
                            let next = lp.delete(p);
                            m.remove(i);
                            prop_assert_eq!(next.map(|q| lp.get(q).to_vec()), m.get(i).cloned());
                        }
                    }
                    Op::DeleteRange(i, n) => {
                        let len = m.len() as i64;
                        let idx = if i < 0 { len + i } else { i };
                        let d = lp.delete_range(i, n);
                        if idx >= 0 && idx < len {
                            let end = (idx as usize + n).min(m.len());
                            m.drain(idx as usize..end);
                            prop_assert_eq!(d, end - idx as usize);
                        } else {
                            prop_assert_eq!(d, 0);
                        }
                    }
                    Op::MergeWith(vs, front) => {
                        let mut other = Listpack::new();
                        for v in &vs { other.push_back(v); }
                        if front {
                            lp = Listpack::merge(other, lp);
                            let mut n = vs.clone(); n.append(&mut m); m = n;
                        } else {
                            lp = Listpack::merge(lp, other);
                            m.extend(vs);
                        }
                    }
                }
                prop_assert_eq!(lp.len(), m.len());
                prop_assert_eq!(&elems(&lp), &m);
                let rev: Vec<Vec<u8>> = lp.iter().rev().map(|e| e.to_vec()).collect();
                let mut mr = m.clone(); mr.reverse();
                prop_assert_eq!(rev, mr);
                prop_assert_eq!(validate(lp.as_bytes(), |_| true), Some(m.len()));
                // Bytes equal a fresh build (encoding is a function of the contents).
                let mut fresh = Listpack::new();
                for v in &m { fresh.push_back(v); }
                prop_assert_eq!(fresh.as_bytes(), lp.as_bytes());
                prop_assert!(lp.allocated() <= size_class(lp.bytes()).max(64) * 2);
            }
            // Mixed-direction iteration meets in the middle exactly once.
            let mut it = lp.iter();
            let mut seen = 0;
            loop {
                let a = it.next(); let b = it.next_back();
                seen += a.is_some() as usize + b.is_some() as usize;
                if a.is_none() || b.is_none() { break; }
            }
            prop_assert_eq!(seen, m.len());
            for (i, v) in m.iter().enumerate() {
                prop_assert_eq!(lp.find(HDR_SIZE, v, 0).map(|p| lp.get(p).to_vec()), Some(v.clone()));
                let _ = i;
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut b = b;
            if b.len() >= 4 { let n = b.len() as u32; b[..4].copy_from_slice(&n.to_le_bytes()); }
            if let Ok(lp) = Listpack::from_bytes(b) {
                let n = lp.len();
                prop_assert_eq!(lp.iter().count(), n);
                prop_assert_eq!(lp.iter().rev().count(), n);
            }
        }
    }
}
