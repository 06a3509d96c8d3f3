//! SipHash-1-2: the keyed hash behind every [`Dict`](super::dict::Dict).
//!
//! Redis hashes dictionary keys with SipHash using 1 compression round and 2
//! finalization rounds (the reference design uses 2 and 4). The reduced
//! variant costs about as much as MurmurHash2 while still being keyed, so a
//! client that does not know the per-process 16-byte seed cannot craft keys
//! that all land in one bucket (hash flooding). We produce the same 64-bit
//! values as Redis for the same seed.
//!
//! State layout (four 64-bit lanes; the key is read as two little-endian u64):
//!
//! ```text
//!   key[0..8]  -> k0      key[8..16] -> k1
//!   v0 = k0 ^ "somepseu"  v1 = k1 ^ "dorandom"
//!   v2 = k0 ^ "lygenera"  v3 = k1 ^ "tedbytes"
//!
//!   input:  | m0 (8 bytes LE) | m1 | ... | tail (0..7 bytes) + len<<56 |
//!           each word m: v3 ^= m; C x SipRound; v0 ^= m
//!   final:  v2 ^= 0xff; D x SipRound; out = v0 ^ v1 ^ v2 ^ v3
//! ```
//!
//! The round counts are const generics so the tests can run the 2-4 variant
//! against the published reference vectors; production code only uses 1-2.

/// Initial lane constants: the ASCII of "somepseudorandomlygeneratedbytes".
const INIT: [u64; 4] = [
    0x736f_6d65_7073_6575,
    0x646f_7261_6e64_6f6d,
    0x6c79_6765_6e65_7261,
    0x7465_6462_7974_6573,
];

/// One SipRound over the four lanes (add-rotate-xor network).
#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// Lower-cases the ASCII letters among the eight bytes packed in `w` at
/// once (SWAR), so the case-insensitive hash keeps a word-at-a-time loop.
#[inline(always)]
fn lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, on its low 7 bits (no carries cross bytes): the high bit of
    // b + (0x80 - 'A') is set iff b >= 'A', of b + (0x80 - 'Z' - 1) iff
    // b > 'Z'. Bytes >= 0x80 are excluded by `ascii`.
    let ascii = !w & HIGH;
    let low7 = w & !HIGH;
    let ge_a = (low7 + ONES * (0x80 - b'A' as u64)) & HIGH;
    let gt_z = (low7 + ONES * (0x80 - b'Z' as u64 - 1)) & HIGH;
    let upper = ge_a & !gt_z & ascii;
    w | (upper >> 2) // 0x80 >> 2 == 0x20, the ASCII case bit
}

/// The generic SipHash-C-D core over the already split key `k0`/`k1`.
/// `NOCASE` folds ASCII upper case to lower case before mixing, so that
/// "KEY" and "key" collide on purpose (used by case-insensitive tables).
#[inline(always)]
fn sip<const C: usize, const D: usize, const NOCASE: bool>(data: &[u8], k0: u64, k1: u64) -> u64 {
    let mut v = [INIT[0] ^ k0, INIT[1] ^ k1, INIT[2] ^ k0, INIT[3] ^ k1];
    let (words, tail) = data.as_chunks::<8>();
    for w in words {
        let mut m = u64::from_le_bytes(*w);
        if NOCASE {
            m = lower_word(m);
        }
        v[3] ^= m;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= m;
    }
    // Only the low 8 bits of the length matter (the top byte of the last word).
    let mut b = (data.len() as u64) << 56;
    for (i, &byte) in tail.iter().enumerate() {
        let byte = if NOCASE {
            byte.to_ascii_lowercase()
        } else {
            byte
        };
        b |= u64::from(byte) << (8 * i);
    }
    v[3] ^= b;
    for _ in 0..C {
        round(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..D {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Splits a 16-byte key into the two little-endian words SipHash works on;
/// callers hashing often keep the words and use [`siphash_words`].
#[inline]
pub fn split_key(key: &[u8; 16]) -> (u64, u64) {
    let (a, b) = key.split_at(8);
    let mut k0 = [0u8; 8];
    let mut k1 = [0u8; 8];
    k0.copy_from_slice(a);
    k1.copy_from_slice(b);
    (u64::from_le_bytes(k0), u64::from_le_bytes(k1))
}

/// SipHash-1-2 of `data` under `key`, bit-identical to Redis's `siphash()`.
/// This is the hash of every dictionary key (through `dict::hash_key`).
#[inline]
pub fn siphash(data: &[u8], key: &[u8; 16]) -> u64 {
    let (k0, k1) = split_key(key);
    sip::<1, 2, false>(data, k0, k1)
}

/// SipHash-1-2 on a key already split by [`split_key`]; lets the dictionary
/// keep its seed as two atomics instead of re-decoding 16 bytes per lookup.
#[inline]
pub fn siphash_words(data: &[u8], k0: u64, k1: u64) -> u64 {
    sip::<1, 2, false>(data, k0, k1)
}

/// Case-insensitive SipHash-1-2 (ASCII letters only), bit-identical to Redis's
/// `siphash_nocase()`: tables keyed by command or config names need "GET" and
/// "get" to hash alike without building a lower-cased copy first.
#[inline]
pub fn siphash_nocase(data: &[u8], key: &[u8; 16]) -> u64 {
    let (k0, k1) = split_key(key);
    sip::<1, 2, true>(data, k0, k1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Published SipHash-2-4 64-bit reference outputs (vectors.h
    /// `vectors_sip64` of the reference implementation) for key 00..0f and
    /// message 00..(n-1), n = 0..63, read as little-endian u64 values.
    const SIP24_VECTORS: [u64; 64] = [
        0x726fdb47dd0e0e31,
        0x74f839c593dc67fd,
        0x0d6c8009d9a94f5a,
        0x85676696d7fb7e2d,
        0xcf2794e0277187b7,
        0x18765564cd99a68d,
        0xcbc9466e58fee3ce,
        0xab0200f58b01d137,
        0x93f5f5799a932462,
        0x9e0082df0ba9e4b0,
        0x7a5dbbc594ddb9f3,
        0xf4b32f46226bada7,
        0x751e8fbc860ee5fb,
        0x14ea5627c0843d90,
        0xf723ca908e7af2ee,
        0xa129ca6149be45e5,
        0x3f2acc7f57c29bdb,
        0x699ae9f52cbe4794,
        0x4bc1b3f0968dd39c,
        0xbb6dc91da77961bd,
        0xbed65cf21aa2ee98,
        0xd0f2cbb02e3b67c7,
        0x93536795e3a33e88,
        0xa80c038ccd5ccec8,
        0xb8ad50c6f649af94,
        0xbce192de8a85b8ea,
        0x17d835b85bbb15f3,
        0x2f2e6163076bcfad,
        0xde4daaaca71dc9a5,
        0xa6a2506687956571,
        0xad87a3535c49ef28,
        0x32d892fad841c342,
        0x7127512f72f27cce,
        0xa7f32346f95978e3,
        0x12e0b01abb051238,
        0x15e034d40fa197ae,
        0x314dffbe0815a3b4,
        0x027990f029623981,
        0xcadcd4e59ef40c4d,
        0x9abfd8766a33735c,
        0x0e3ea96b5304a7d0,
        0xad0c42d6fc585992,
        0x187306c89bc215a9,
        0xd4a60abcf3792b95,
        0xf935451de4f21df2,
        0xa9538f0419755787,
        0xdb9acddff56ca510,
        0xd06c98cd5c0975eb,
        0xe612a3cb9ecba951,
        0xc766e62cfcadaf96,
        0xee64435a9752fe72,
        0xa192d576b245165a,
        0x0a8787bf8ecb74b2,
        0x81b3e73d20b49b6f,
        0x7fa8220ba3b2ecea,
        0x245731c13ca42499,
        0xb78dbfaf3a8d83bd,
        0xea1ad565322a1a0b,
        0x60e61c23a3795013,
        0x6606d7e446282b93,
        0x6ca4ecb15c5f91e1,
        0x9f626da15c9625f3,
        0xe51b38608ef25f57,
        0x958a324ceb064572,
    ];

    /// SipHash-1-2 outputs for the same inputs (key 00..0f, message
    /// 00..(n-1)), produced by Redis 7.0's siphash() transcribed into a
    /// throw-away C program outside the tree.
    const SIP12_VECTORS: [(usize, u64); 18] = [
        (0, 0xcea28b51565c12e2),
        (1, 0x94aaf38c34ce7ba6),
        (2, 0xfe7a42c2c5fab434),
        (3, 0x1c0d255229c3364c),
        (4, 0x8be7847a474dfdf5),
        (5, 0x2858f0420f752296),
        (6, 0xe61a8a7d8ac52626),
        (7, 0xf03c4cbcf492b05a),
        (8, 0x606845b4d093af74),
        (9, 0xe304e78271c74a56),
        (10, 0xc936e00e33b32633),
        (11, 0x226212e5f29ab45c),
        (12, 0xa4377b74fbbfe0da),
        (13, 0x624317667190806f),
        (14, 0x4a72ad78e3e197d7),
        (15, 0xec8f61bc1c8966a6),
        (16, 0x1311f4dfe747a751),
        (63, 0xff6d07afacbad6d9),
    ];

    fn ref_key() -> [u8; 16] {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    fn ref_msg(n: usize) -> Vec<u8> {
        (0..n).map(|i| i as u8).collect()
    }

    #[test]
    fn sip24_matches_reference_vectors() {
        let (k0, k1) = split_key(&ref_key());
        for (n, want) in SIP24_VECTORS.iter().enumerate() {
            assert_eq!(sip::<2, 4, false>(&ref_msg(n), k0, k1), *want, "len {n}");
        }
    }

    #[test]
    #[allow(deprecated)]
    fn sip24_matches_std_siphasher() {
        use std::hash::Hasher;
        let key = *b"0123456789abcdef";
        let (k0, k1) = split_key(&key);
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..data.len() {
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            h.write(&data[..n]);
            assert_eq!(
                sip::<2, 4, false>(&data[..n], k0, k1),
                h.finish(),
                "len {n}"
            );
        }
    }

    #[test]
    fn sip12_matches_redis() {
        let key = ref_key();
        for &(n, want) in SIP12_VECTORS.iter() {
            assert_eq!(siphash(&ref_msg(n), &key), want, "len {n}");
        }
        assert_eq!(
            siphash(b"hello world", b"1234567812345678"),
            0x89cb5e38dae0f000
        );
    }

    #[test]
    fn nocase_folds_ascii_only() {
        let key = *b"1234567812345678";
        assert_eq!(
            siphash(b"hello world", &key),
            siphash_nocase(b"hello world", &key)
        );
        assert_eq!(
            siphash(b"hello world", &key),
            siphash_nocase(b"HELLO world", &key)
        );
        assert_ne!(
            siphash(b"HELLO world", &key),
            siphash_nocase(b"HELLO world", &key)
        );
        // Every byte value in every position of a word and of the tail:
        // nocase(x) must equal plain(lowercase(x)).
        for pos in 0..19 {
            for b in 0..=255u8 {
                let mut m = vec![b'x'; 19];
                m[pos] = b;
                let lower = m.to_ascii_lowercase();
                assert_eq!(siphash_nocase(&m, &key), siphash(&lower, &key), "{pos} {b}");
            }
        }
    }

    #[test]
    fn lower_word_matches_bytewise() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b, b'A', b'Z', b'@', b'[', b'a', 0xC1, b]);
            let want = u64::from_le_bytes(w.to_le_bytes().map(|c| c.to_ascii_lowercase()));
            assert_eq!(lower_word(w), want, "{b}");
        }
    }

    proptest! {
        #[test]
        fn prop_words_and_nocase_agree(
            data in proptest::collection::vec(any::<u8>(), 0..70),
            key in any::<[u8; 16]>(),
        ) {
            let (k0, k1) = split_key(&key);
            prop_assert_eq!(siphash_words(&data, k0, k1), siphash(&data, &key));
            prop_assert_eq!(
                siphash_nocase(&data, &key),
                siphash(&data.to_ascii_lowercase(), &key)
            );
        }
    }
}
