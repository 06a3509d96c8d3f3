//! Fuzz target for the intset: arbitrary bytes as an RDB/RESTORE intset blob must be either
//! rejected or adopted as a fully working set (never a panic or out-of-bounds read), and the
//! same bytes read as an operation script must keep the set equal to a `BTreeSet<i64>` model.
//!
//! Script layout: one op byte (low 2 bits = add/remove/contains/remove_at, bits 2..3 = value
//! width 1/2/4/8 bytes), then that many little-endian bytes, sign-extended.
#![no_main]

use ferrodis::ds::intset::{validate_integrity, IntSet};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

/// Invariants every `IntSet` must hold; returns its members.
fn check(s: &IntSet) -> Vec<i64> {
    let v: Vec<i64> = s.iter().collect();
    assert_eq!(v.len(), s.len());
    assert!(
        v.windows(2).all(|w| w[0] < w[1]),
        "members not strictly ascending"
    );
    assert!(matches!(s.encoding(), 2 | 4 | 8));
    assert_eq!(s.blob_len(), 8 + s.len() * s.encoding());
    assert_eq!(s.as_bytes().len(), s.blob_len());
    assert_eq!(s.min(), v.first().copied());
    assert_eq!(s.max(), v.last().copied());
    v
}

/// The blob path: validate, adopt, then exercise the adopted set until it is empty.
fn adopt(data: &[u8]) {
    let shallow = validate_integrity(data, false);
    let Some(mut s) = IntSet::from_bytes(data.to_vec()) else {
        return;
    };
    assert!(shallow, "deep validation passed where shallow failed");
    assert_eq!(
        s.as_bytes(),
        data,
        "adopted blob must be kept byte for byte"
    );
    let members = check(&s);
    for (i, &m) in members.iter().enumerate() {
        assert!(s.contains(m));
        assert_eq!(s.get(i), Some(m));
    }
    assert_eq!(s.get(members.len()), None);
    let enc = s.encoding();
    // Adding a neighbour of every member and removing it again must leave the blob unchanged
    // whenever the encoding did not have to grow.
    for &m in &members {
        let n = m.wrapping_add(1);
        if s.add(n) {
            assert!(s.remove(n));
        }
    }
    if s.encoding() == enc {
        assert_eq!(s.as_bytes(), data);
    }
    let mut left = members.len();
    while let Some(i) = s.random_index(left as u64 * 7919) {
        assert!(s.remove_at(i).is_some());
        left -= 1;
        assert_eq!(s.len(), left);
    }
    assert!(s.is_empty());
}

/// The script path: decode ops and compare with the model after each one.
fn script(mut data: &[u8]) {
    let mut s = IntSet::new();
    let mut m = BTreeSet::new();
    while let Some((&op, rest)) = data.split_first() {
        let width = 1usize << ((op >> 2) & 3);
        let Some((raw, rest)) = rest.split_at_checked(width) else {
            break;
        };
        data = rest;
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(raw);
        let shift = 64 - 8 * width as u32;
        let v = (i64::from_le_bytes(b) << shift) >> shift;
        match op & 3 {
            0 => assert_eq!(s.add(v), m.insert(v)),
            1 => assert_eq!(s.remove(v), m.remove(&v)),
            2 => assert_eq!(s.contains(v), m.contains(&v)),
            _ => {
                let i = (v as u64 % 64) as usize;
                let want = m.iter().nth(i).copied();
                assert_eq!(s.remove_at(i), want);
                if let Some(x) = want {
                    m.remove(&x);
                }
            }
        }
        assert_eq!(check(&s), m.iter().copied().collect::<Vec<_>>());
    }
}

fuzz_target!(|data: &[u8]| {
    adopt(data);
    script(data);
});
