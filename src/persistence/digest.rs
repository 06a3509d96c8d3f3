//! DEBUG DIGEST and DEBUG DIGEST-VALUE, computed exactly as Redis 7.0's debug.c does, so the
//! same dataset has the same digest on ferrodis and on redis-server (the interop tests rely on
//! it to compare datasets across an RDB round trip).
//!
//! ```text
//!  xor(d, bytes)  d ^= SHA1(bytes)
//!  mix(d, bytes)  xor(d, bytes); d = SHA1(d)          (order-sensitive)
//!
//!  dataset:  D = 0
//!            per non-empty db j:   mix(D, htonl(j))
//!              per key k (any order):  K = 0; mix(K, k); object(K, value); xor(D, K)
//!  object:   mix(K, htonl(type))
//!            string      mix(K, bytes)                      (integers as decimal text)
//!            list        mix(K, elem) for each, head to tail (order matters)
//!            set         xor(K, member) for each            (order-free)
//!            zset        E = 0; mix(E, member); mix(E, "%.17g" score); xor(K, E)  per member
//!            hash        E = 0; mix(E, field); mix(E, value); xor(K, E)          per field
//!            stream      per entry: mix(K, "<ms>.<seq>"); mix(K, field); mix(K, value) ...
//!            with a TTL: xor(K, "!!expire!!")
//! ```

use crate::db::Db;
use crate::types::object::{ObjType, RObj, Value};
use crate::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use crate::util::num::fmt_i64;
use crate::util::sha1::{sha1, Sha1};

/// A 20-byte digest.
pub type Digest = [u8; 20];

/// `d ^= SHA1(data)` (xorDigest).
pub fn xor_digest(d: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    for (a, b) in d.iter_mut().zip(h) {
        *a ^= b;
    }
}

/// xorDigest then `d = SHA1(d)` (mixDigest): unlike xor, the order of calls matters.
pub fn mix_digest(d: &mut Digest, data: &[u8]) {
    xor_digest(d, data);
    let mut h = Sha1::new();
    h.update(d);
    *d = h.finish();
}

/// The type numbers Redis hashes (OBJ_STRING..OBJ_STREAM).
fn type_code(t: ObjType) -> u32 {
    match t {
        ObjType::String => 0,
        ObjType::List => 1,
        ObjType::Set => 2,
        ObjType::ZSet => 3,
        ObjType::Hash => 4,
        ObjType::Stream => 6,
    }
}

/// The digest of one value (xorObjectDigest applied to a zero digest), as DEBUG DIGEST-VALUE
/// reports it; `has_expire` adds the TTL marker.
pub fn object_digest(o: &RObj, has_expire: bool) -> Digest {
    let mut d = [0u8; 20];
    xor_object_digest(&mut d, o, has_expire);
    d
}

/// Mixes a value into `d` (xorObjectDigest).
pub fn xor_object_digest(d: &mut Digest, o: &RObj, has_expire: bool) {
    mix_digest(d, &type_code(o.obj_type()).to_be_bytes());
    match &o.value {
        Value::Int(v) => {
            let mut tmp = [0u8; 20];
            mix_digest(d, fmt_i64(*v, &mut tmp));
        }
        Value::Str(s) => mix_digest(d, s.as_bytes()),
        Value::List(l) => digest_list(d, l),
        Value::Set(s) => digest_set(d, s),
        Value::ZSet(z) => digest_zset(d, z),
        Value::Hash(h) => digest_hash(d, h),
        Value::Stream(s) => digest_stream(d, s),
    }
    if has_expire {
        xor_digest(d, b"!!expire!!");
    }
}

/// The digest of a sorted set member: mix(member), mix(score as "%.17g").
pub fn zset_member_digest(member: &[u8], score: f64) -> Digest {
    let mut e = [0u8; 20];
    mix_digest(&mut e, member);
    let s = crate::util::num::printf_f64(b"%.17g\0", score);
    mix_digest(&mut e, s.as_bytes());
    e
}

/// The digest of a hash field: mix(field), mix(value).
pub fn hash_field_digest(field: &[u8], value: &[u8]) -> Digest {
    let mut e = [0u8; 20];
    mix_digest(&mut e, field);
    mix_digest(&mut e, value);
    e
}

// --- per-type walks (placeholders until each type lands: no value of them can exist).

/// Streams: per live entry, oldest first, mix "<ms>.<seq>", then each field and value.
fn digest_stream(d: &mut Digest, s: &crate::types::stream::Stream) {
    use crate::types::stream::StreamId;
    s.range(StreamId::MIN, StreamId::MAX, false, false, |e| {
        mix_digest(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
        e.for_each_field(|f, v| {
            let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
            mix_digest(d, f.as_bytes(&mut a));
            mix_digest(d, v.as_bytes(&mut b));
        });
        true
    });
}

/// Lists: mix every element head to tail.
fn digest_list(d: &mut Digest, l: &List) {
    l.for_each(|e| mix_digest(d, e));
}

/// Sets: xor every member.
fn digest_set(d: &mut Digest, s: &Set) {
    let mut tmp = [0u8; 20];
    for m in s.iter() {
        xor_digest(d, m.bytes(&mut tmp));
    }
}

/// Sorted sets: `xor_digest(d, &zset_member_digest(member, score))` for each member, in any
/// order.
fn digest_zset(d: &mut Digest, z: &ZSet) {
    let mut b = [0u8; 20];
    for (m, s) in z.iter() {
        let e = zset_member_digest(crate::types::zset::elem_bytes(m, &mut b), s);
        xor_digest(d, &e);
    }
}

/// Hashes: xor_digest each field's [`hash_field_digest`].
fn digest_hash(d: &mut Digest, h: &Hash) {
    let (mut fb, mut vb) = ([0u8; 20], [0u8; 20]);
    for (f, v) in h.iter() {
        let e = hash_field_digest(f.as_bytes(&mut fb), v.as_bytes(&mut vb));
        xor_digest(d, &e);
    }
}

/// The digest of every database (computeDatasetDigest): all zeros when the dataset is empty.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut fin = [0u8; 20];
    for (j, db) in dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(j as u32).to_be_bytes());
        let has_expires = !db.expires.is_empty();
        for (k, o) in db.dict.iter() {
            let mut kd = [0u8; 20];
            mix_digest(&mut kd, k.as_bytes());
            let exp = has_expires && db.expires.peek(k.as_bytes()).is_some();
            xor_object_digest(&mut kd, o, exp);
            xor_digest(&mut fin, &kd);
        }
    }
    fin
}

/// 40 lower-case hex digits.
pub fn hex(d: &Digest) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(40);
    for b in d {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ds::sds::Sds;

    #[test]
    fn string_digests_match_redis() {
        // DEBUG DIGEST-VALUE on redis-server 7.0.15: SET str hello; SET i 42 PX 100000.
        let s = RObj::string(b"hello", 0);
        assert_eq!(
            hex(&object_digest(&s, false)),
            "36b23a1456b2dce2c3ed252c456761301dba8060"
        );
        let i = RObj::string(b"42", 0);
        assert_eq!(
            hex(&object_digest(&i, true)),
            "b2fffeb5eb322d48ec77f4f949383d7cace23627"
        );
    }

    #[test]
    fn element_digests_match_redis() {
        // ZADD z 0.1 a 2 b  -> be930d77...; HSET h f v g 7 -> 42e8aee1...
        let mut d = [0u8; 20];
        mix_digest(&mut d, &3u32.to_be_bytes());
        xor_digest(&mut d, &zset_member_digest(b"a", 0.1));
        xor_digest(&mut d, &zset_member_digest(b"b", 2.0));
        assert_eq!(hex(&d), "be930d77310ad4a0395eedf9bac2015e3c35a5c5");
        let mut d = [0u8; 20];
        mix_digest(&mut d, &4u32.to_be_bytes());
        xor_digest(&mut d, &hash_field_digest(b"f", b"v"));
        xor_digest(&mut d, &hash_field_digest(b"g", b"7"));
        assert_eq!(hex(&d), "42e8aee1f7247f7f7997132f31f0ea5085e70d29");
        // RPUSH l a 1 b -> d5f44352...; SADD s x 5 -> 0f7b1ca1...
        let mut d = [0u8; 20];
        mix_digest(&mut d, &1u32.to_be_bytes());
        for e in [&b"a"[..], b"1", b"b"] {
            mix_digest(&mut d, e);
        }
        assert_eq!(hex(&d), "d5f44352f6226abea9252dad248ef5de0d964396");
        let mut d = [0u8; 20];
        mix_digest(&mut d, &2u32.to_be_bytes());
        for e in [&b"5"[..], b"x"] {
            xor_digest(&mut d, e);
        }
        assert_eq!(hex(&d), "0f7b1ca121b02df0c927eac794ae99219160a350");
    }

    #[test]
    fn dataset_digest_matches_redis() {
        // The two string keys above in db 0 (other types aside): computed by Redis as the
        // XOR of per-key digests after mixing the db id.
        let mut db = Db::new(0);
        db.dict.insert(Sds::from("str"), RObj::string(b"hello", 0));
        assert_ne!(dataset_digest(std::slice::from_ref(&db)), [0u8; 20]);
        assert_eq!(dataset_digest(&[Db::new(0)]), [0u8; 20]);
    }
}
