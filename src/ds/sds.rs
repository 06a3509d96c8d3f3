//! `Sds`: the byte string every key and string value is stored in.
//!
//! Redis's sds keeps a small header in front of the bytes. Ours keeps short strings *inside* the
//! 24-byte handle itself, so a key like `key:123456` or a value like `value:123456` costs no heap
//! allocation at all; longer strings live in one heap block that can grow in place (APPEND,
//! SETRANGE, SETBIT) like an sds with free space.
//!
//! ```text
//!  inline (len <= 22):                      heap (len > 22, or grown by a mutation):
//!  byte 0   1    2 .......... 23              byte 0   1..7    8 ........ 15   16..19  20..23
//!  +-----+-----+------------------+           +-----+-------+--------------+-------+-------+
//!  | tag | len | bytes (22 max)   |           | tag |  pad  | ptr -> bytes | len   | cap   |
//!  +-----+-----+------------------+           +-----+-------+--------------+-------+-------+
//!  "key:1" = 00 05 6b 65 79 3a 31 00 ...                    ptr -> [len bytes | cap-len spare]
//! ```
//!
//! The tag byte leaves spare values, so an enum that holds an `Sds` in one variant (the object
//! model's `Value`) stays 24 bytes: Rust stores the outer discriminant in the niche.
//!
//! Invariant: `len <= cap <= u32::MAX`; strings are capped at 4 GiB, far above Redis's 512 MB
//! `proto-max-bulk-len` default (config clamps it).

use std::fmt;
use std::ptr::NonNull;

/// Bytes that fit in the handle without a heap block.
pub const INLINE_CAP: usize = 22;

/// A binary-safe byte string with inline storage for short contents.
pub struct Sds(Repr);

enum Repr {
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Heap {
        ptr: NonNull<u8>,
        len: u32,
        cap: u32,
    },
}

// SAFETY: `Sds` owns its heap block exclusively, like `Vec<u8>`.
unsafe impl Send for Sds {}
unsafe impl Sync for Sds {}

impl Sds {
    /// The empty string (no allocation).
    pub const fn empty() -> Sds {
        Sds(Repr::Inline {
            len: 0,
            buf: [0; INLINE_CAP],
        })
    }

    /// Copies `s`, inline when it fits.
    pub fn from_slice(s: &[u8]) -> Sds {
        if s.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..s.len()].copy_from_slice(s);
            Sds(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Sds::from_vec(s.to_vec())
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
        if v.capacity() > u32::MAX as usize {
            v.shrink_to_fit();
        }
        assert!(v.len() <= u32::MAX as usize, "Sds longer than 4 GiB");
        if v.capacity() == 0 {
            v.reserve(1);
        }
        let mut v = std::mem::ManuallyDrop::new(v);
        let ptr = NonNull::new(v.as_mut_ptr()).expect("Vec pointer is non-null");
        Sds(Repr::Heap {
            ptr,
            len: v.len() as u32,
            cap: v.capacity() as u32,
        })
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            // SAFETY: ptr/len come from a live Vec we own.
            Repr::Heap { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len as usize)
            },
        }
    }

    /// Mutable view of the bytes (length unchanged).
    #[inline]
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { len, buf } => &mut buf[..*len as usize],
            // SAFETY: as above, and we hold &mut self.
            Repr::Heap { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts_mut(ptr.as_ptr(), *len as usize)
            },
        }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Inline { len, .. } => *len as usize,
            Repr::Heap { len, .. } => *len as usize,
        }
    }

    /// True when the string has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the bytes live in a heap block.
    pub fn is_heap(&self) -> bool {
        matches!(self.0, Repr::Heap { .. })
    }

    /// Heap bytes owned beyond the handle (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap { cap, .. } => *cap as usize,
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
        match &me.0 {
            Repr::Inline { len, buf } => buf[..*len as usize].to_vec(),
            // SAFETY: rebuilds the Vec we took apart in heap_from_vec; `me` is not dropped.
            Repr::Heap { ptr, len, cap } => unsafe {
                Vec::from_raw_parts(ptr.as_ptr(), *len as usize, *cap as usize)
            },
        }
    }

    /// Releases spare capacity of a heap string.
    pub fn shrink_to_fit(&mut self) {
        if let Repr::Heap { len, cap, .. } = self.0 {
            if len < cap {
                self.edit(|v| v.shrink_to_fit());
            }
        }
    }
}

impl Drop for Sds {
    fn drop(&mut self) {
        if let Repr::Heap { ptr, len, cap } = self.0 {
            // SAFETY: reconstructs the Vec taken apart in heap_from_vec.
            unsafe {
                drop(Vec::from_raw_parts(
                    ptr.as_ptr(),
                    len as usize,
                    cap as usize,
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
    fn handle_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Sds>(), 24);
        assert_eq!(std::mem::size_of::<Option<Sds>>(), 24);
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
