//! `Sds`: the byte string every key and string value is stored in.
//!
//! Redis's sds keeps a small header in front of the bytes. Ours keeps short strings *inside* the
//! 16-byte handle itself, so a key like `key:123456`, a member like `member:12345` or a value
//! like `value:123456` costs no heap allocation at all; longer strings live in one heap block
//! that can grow in place (APPEND, SETRANGE, SETBIT) like an sds with free space.
//!
//! ```text
//!  inline (len <= 15):                     heap (len > 15, or grown by a mutation):
//!  byte 0 ................... 14   15       byte 0 ...... 7  8 .... 11  12 .. 14  15
//!  +---------------------------+-----+      +-------------+----------+---------+------+
//!  | bytes (15 max)            | len |      | ptr         | len u32  | spare   | 0x10 |
//!  +---------------------------+-----+      +-------------+----------+---------+------+
//!  "key:1" = 6b 65 79 3a 31 00 .. 00 05     ptr -> [len bytes | spare bytes]   (u24, LE)
//! ```
//!
//! The last byte is the tag: 0..=15 is an inline length, 0x10 a heap string. Its other 239
//! values are a niche, so an enum that holds an `Sds` in one variant (the object model's
//! `Value`) stays 16 bytes and a dict entry of key + value + next fits jemalloc's 48-byte
//! class (keyspace, hash tables) or its 32-byte class (expires, sorted-set dicts).
//!
//! Invariants: `len <= u32::MAX` (strings are capped at 4 GiB, far above Redis's 512 MB
//! `proto-max-bulk-len` default, which config clamps); a heap block has `len + spare` bytes
//! and `spare <= MAX_SPARE` (a grown string with more slack is shrunk to fit, as Redis caps
//! its greedy preallocation at 1 MB).

use std::fmt;

/// Bytes that fit in the handle without a heap block.
pub const INLINE_CAP: usize = 15;

/// Most spare capacity a heap string keeps (the 24-bit field).
const MAX_SPARE: usize = (1 << 24) - 1;

/// The tag byte: an inline length or `Heap`.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // the inline lengths are made by transmute in `inline_tag`
enum Tag {
    L0 = 0,
    L1,
    L2,
    L3,
    L4,
    L5,
    L6,
    L7,
    L8,
    L9,
    L10,
    L11,
    L12,
    L13,
    L14,
    L15,
    Heap,
}

#[inline]
fn inline_tag(len: usize) -> Tag {
    assert!(len <= INLINE_CAP);
    // SAFETY: Tag is repr(u8) with every value 0..=15 a variant (L0..L15).
    unsafe { std::mem::transmute::<u8, Tag>(len as u8) }
}

/// The first 8 bytes: the heap pointer, or inline bytes 0..8.
#[derive(Clone, Copy)]
#[repr(C)]
union Head {
    ptr: *mut u8,
    bytes: [u8; 8],
}

/// A binary-safe byte string with inline storage for short contents.
#[repr(C)]
pub struct Sds {
    head: Head,
    /// Inline bytes 8..15, or the heap string's len (4 bytes LE) and spare (3 bytes LE).
    tail: [u8; 7],
    tag: Tag,
}

// SAFETY: `Sds` owns its heap block exclusively, like `Vec<u8>`.
unsafe impl Send for Sds {}
unsafe impl Sync for Sds {}

impl Sds {
    /// The empty string (no allocation).
    pub const fn empty() -> Sds {
        Sds {
            head: Head { bytes: [0; 8] },
            tail: [0; 7],
            tag: Tag::L0,
        }
    }

    /// Copies `s`, inline when it fits.
    #[inline]
    pub fn from_slice(s: &[u8]) -> Sds {
        if s.len() <= INLINE_CAP {
            let mut out = Sds::empty();
            out.tag = inline_tag(s.len());
            // SAFETY: the handle's first 15 bytes are the inline buffer (repr(C): head, then
            // tail), and s.len() <= 15.
            unsafe {
                std::ptr::copy_nonoverlapping(s.as_ptr(), &mut out as *mut Sds as *mut u8, s.len())
            };
            out
        } else {
            Sds::heap_from_vec(s.to_vec())
        }
    }

    /// Takes ownership of `v`'s heap block (no copy). Short vectors are moved inline.
    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            return Sds::from_slice(&v);
        }
        Sds::heap_from_vec(v)
    }

    /// Takes `v` as a heap string even when it is short: used for strings that are about to be
    /// mutated again (Redis's "raw" encoding), so appends grow in place.
    pub fn heap_from_vec(mut v: Vec<u8>) -> Sds {
        assert!(v.len() <= u32::MAX as usize, "Sds longer than 4 GiB");
        if v.capacity() - v.len() > MAX_SPARE {
            // A boxed slice has exactly len bytes, so the Vec rebuilt from it has no spare.
            v = Vec::from(v.into_boxed_slice());
        }
        if v.capacity() == 0 {
            v.reserve(1);
        }
        let len = v.len();
        let spare = v.capacity() - len;
        let mut v = std::mem::ManuallyDrop::new(v);
        let mut tail = [0u8; 7];
        tail[..4].copy_from_slice(&(len as u32).to_le_bytes());
        tail[4..].copy_from_slice(&(spare as u32).to_le_bytes()[..3]);
        Sds {
            head: Head {
                ptr: v.as_mut_ptr(),
            },
            tail,
            tag: Tag::Heap,
        }
    }

    #[inline]
    fn heap_len(&self) -> usize {
        u32::from_le_bytes([self.tail[0], self.tail[1], self.tail[2], self.tail[3]]) as usize
    }

    #[inline]
    fn heap_cap(&self) -> usize {
        self.heap_len() + u32::from_le_bytes([self.tail[4], self.tail[5], self.tail[6], 0]) as usize
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        if self.tag == Tag::Heap {
            // SAFETY: ptr/len describe the live heap block this handle owns.
            unsafe { std::slice::from_raw_parts(self.head.ptr, self.heap_len()) }
        } else {
            // SAFETY: the first 15 bytes of the handle are the inline buffer; tag <= 15.
            unsafe {
                std::slice::from_raw_parts(self as *const Sds as *const u8, self.tag as usize)
            }
        }
    }

    /// Mutable view of the bytes (length unchanged).
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        if self.tag == Tag::Heap {
            // SAFETY: as above, and we hold &mut self.
            unsafe { std::slice::from_raw_parts_mut(self.head.ptr, self.heap_len()) }
        } else {
            let len = self.tag as usize;
            // SAFETY: as above, and we hold &mut self.
            unsafe { std::slice::from_raw_parts_mut(self as *mut Sds as *mut u8, len) }
        }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        if self.tag == Tag::Heap {
            self.heap_len()
        } else {
            self.tag as usize
        }
    }

    /// True when the string has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the bytes live in a heap block.
    pub fn is_heap(&self) -> bool {
        self.tag == Tag::Heap
    }

    /// Heap bytes owned beyond the handle (for memory accounting).
    pub fn heap_size(&self) -> usize {
        if self.tag == Tag::Heap {
            self.heap_cap()
        } else {
            0
        }
    }

    /// Runs `f` on the contents as a `Vec<u8>` and stores the result back as a heap string, so
    /// growth is amortised like an sds with free space.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut v = std::mem::take(self).into_vec();
        let r = f(&mut v);
        *self = Sds::heap_from_vec(v);
        r
    }

    /// Appends `s`.
    pub fn extend_from_slice(&mut self, s: &[u8]) {
        self.edit(|v| v.extend_from_slice(s));
    }

    /// Converts into a `Vec<u8>` (no copy for heap strings).
    pub fn into_vec(self) -> Vec<u8> {
        let me = std::mem::ManuallyDrop::new(self);
        if me.tag == Tag::Heap {
            // SAFETY: rebuilds the Vec taken apart in heap_from_vec; `me` is not dropped.
            unsafe { Vec::from_raw_parts(me.head.ptr, me.heap_len(), me.heap_cap()) }
        } else {
            me.as_bytes().to_vec()
        }
    }

    /// Releases spare capacity of a heap string.
    pub fn shrink_to_fit(&mut self) {
        if self.tag == Tag::Heap && self.heap_cap() > self.heap_len() {
            self.edit(|v| v.shrink_to_fit());
        }
    }
}

impl Drop for Sds {
    fn drop(&mut self) {
        if self.tag == Tag::Heap {
            // SAFETY: reconstructs the Vec taken apart in heap_from_vec.
            unsafe {
                drop(Vec::from_raw_parts(
                    self.head.ptr,
                    self.heap_len(),
                    self.heap_cap(),
                ))
            }
        }
    }
}

impl Clone for Sds {
    fn clone(&self) -> Sds {
        Sds::from_slice(self.as_bytes())
    }
}

impl PartialEq for Sds {
    fn eq(&self, other: &Sds) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Sds {}

impl PartialOrd for Sds {
    fn partial_cmp(&self, other: &Sds) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sds {
    fn cmp(&self, other: &Sds) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Sds {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h)
    }
}

impl fmt::Debug for Sds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sds({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl Default for Sds {
    fn default() -> Sds {
        Sds::empty()
    }
}

impl From<&[u8]> for Sds {
    fn from(s: &[u8]) -> Sds {
        Sds::from_slice(s)
    }
}

impl From<&str> for Sds {
    fn from(s: &str) -> Sds {
        Sds::from_slice(s.as_bytes())
    }
}

impl crate::ds::dict::DictKey for Sds {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handle_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Sds>(), 16);
        assert_eq!(std::mem::size_of::<Option<Sds>>(), 16);
    }

    #[test]
    fn inline_boundary() {
        for n in 0..=40usize {
            let bytes: Vec<u8> = (0..n as u8).map(|b| b.wrapping_mul(37)).collect();
            let s = Sds::from_slice(&bytes);
            assert_eq!(s.is_heap(), n > INLINE_CAP, "{n}");
            assert_eq!(s.as_bytes(), &bytes[..]);
            assert_eq!(s.len(), n);
            assert_eq!(s.heap_size(), if n > INLINE_CAP { n } else { 0 });
            let mut m = s.clone();
            m.as_bytes_mut().reverse();
            let mut r = bytes.clone();
            r.reverse();
            assert_eq!(m.as_bytes(), &r[..]);
            assert_eq!(Sds::from_vec(bytes.clone()).into_vec(), bytes);
            assert_eq!(Sds::heap_from_vec(bytes.clone()).as_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn large_spare_is_trimmed() {
        let mut v = Vec::with_capacity(MAX_SPARE + 100);
        v.extend_from_slice(b"abc");
        let s = Sds::heap_from_vec(v);
        assert_eq!(s.as_bytes(), b"abc");
        assert_eq!(s.heap_size(), 3);
        let mut big = Sds::from_slice(b"x");
        big.edit(|v| v.resize(20 << 20, b'y'));
        assert_eq!(big.len(), 20 << 20);
        assert!(big.heap_size() - big.len() <= MAX_SPARE);
        big.extend_from_slice(b"z");
        assert_eq!(big.as_bytes()[20 << 20], b'z');
    }

    #[test]
    fn inline_and_heap() {
        let a = Sds::from_slice(b"key:1");
        assert!(!a.is_heap());
        assert_eq!(a.as_bytes(), b"key:1");
        let long = vec![7u8; 100];
        let b = Sds::from_slice(&long);
        assert!(b.is_heap());
        assert_eq!(b.as_bytes(), &long[..]);
        assert_eq!(b.clone(), b);
    }

    #[test]
    fn append_grows_in_place() {
        let mut s = Sds::from_slice(b"ab");
        for _ in 0..1000 {
            s.extend_from_slice(b"cd");
        }
        assert_eq!(s.len(), 2002);
        assert!(s.heap_size() >= 2002);
    }

    proptest! {
        #[test]
        fn model(ops in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20)) {
            let mut s = Sds::empty();
            let mut m: Vec<u8> = Vec::new();
            for op in ops {
                if op.len() % 3 == 0 {
                    s = Sds::from_slice(&op);
                    m = op.clone();
                } else {
                    s.extend_from_slice(&op);
                    m.extend_from_slice(&op);
                }
                prop_assert_eq!(s.as_bytes(), &m[..]);
                prop_assert_eq!(s.len(), m.len());
            }
            prop_assert_eq!(s.into_vec(), m);
        }
    }
}
