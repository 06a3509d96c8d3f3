//! Hash slots: which of the 16384 slots a key belongs to (cluster.c's keyHashSlot, crc16.c).
//!
//! A key's slot is CRC16 (the XMODEM variant: polynomial 0x1021, initial value 0, no
//! reflection) of the key modulo 16384, or of its hash tag: when the key holds a `{` followed
//! later by a `}` with at least one byte between them, only those bytes are hashed, so
//! `{user1000}.following` and `{user1000}.followers` share a slot. An empty tag (`{}`) does
//! not count and the whole key is hashed.
//!
//! Also here: the slot bitmap (2048 bytes, slot `s` at bit `s & 7` of byte `s / 8`), the
//! layout the bus messages and `clusterNode.slots` use.

/// The number of hash slots (CLUSTER_SLOTS).
pub const SLOTS: usize = 16384;

/// CRC16 XMODEM, table-driven (one byte per step).
const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut b = 0;
        while b < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            b += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

static CRC16_TABLE: [u16; 256] = crc16_table();

/// CRC16 of `buf` (XMODEM: CRC16("123456789") is 0x31C3).
pub fn crc16(buf: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in buf {
        crc = (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize];
    }
    crc
}

/// The bytes of `key` that decide its slot: the hash tag when there is a non-empty one.
pub fn hash_part(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(len) => &key[open + 1..open + 1 + len],
    }
}

/// The hash slot of `key` (keyHashSlot).
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_part(key)) & (SLOTS as u16 - 1)
}

/// A set of slots as the 2048-byte bitmap the bus sends.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap(Box::new([0; SLOTS / 8]))
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap({:?})", ranges(self))
    }
}

impl SlotBitmap {
    /// True when `slot` is in the set.
    #[inline]
    pub fn get(&self, slot: usize) -> bool {
        self.0[slot >> 3] & (1 << (slot & 7)) != 0
    }

    /// Adds `slot`.
    #[inline]
    pub fn set(&mut self, slot: usize) {
        self.0[slot >> 3] |= 1 << (slot & 7);
    }

    /// Removes `slot`.
    #[inline]
    pub fn clear(&mut self, slot: usize) {
        self.0[slot >> 3] &= !(1 << (slot & 7));
    }

    /// How many slots are in the set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// True when no slot is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

/// The set's slots as inclusive ranges, in order (how CLUSTER NODES prints them).
pub fn ranges(b: &SlotBitmap) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for s in 0..=SLOTS {
        let on = s < SLOTS && b.get(s);
        match (on, start) {
            (true, None) => start = Some(s),
            (false, Some(st)) => {
                out.push((st as u16, (s - 1) as u16));
                start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn slots_match_redis() {
        // Values from redis-server 7.0.15's CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), 3443);
        assert_eq!(key_slot(b"{user1000}.followers"), 3443);
        assert_eq!(key_slot(b"user1000"), 3443);
        // An empty tag hashes the whole key; the first '{' and the first '}' after it count.
        assert_eq!(hash_part(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_part(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_part(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_part(b"{"), b"{");
        assert_eq!(hash_part(b"a}b{c"), b"a}b{c");
    }

    #[test]
    fn bitmap_ranges() {
        let mut b = SlotBitmap::default();
        for s in [0, 1, 2, 5, 16383] {
            b.set(s);
        }
        assert_eq!(ranges(&b), vec![(0, 2), (5, 5), (16383, 16383)]);
        assert_eq!(b.count(), 5);
        b.clear(1);
        assert!(!b.get(1));
        assert_eq!(b.0[0], 0b0010_0101);
    }
}
