//! LZF for RDB strings and quicklist nodes: our compressor, the `lzf` crate's decompressor.
//!
//! Why our own compressor: the crate allocates and zeroes a fresh 512 KiB hash table on every
//! call, which costs more than compressing a typical 30-byte value; SAVE compresses every
//! string over 20 bytes, so that would make saving a large dataset many times slower than
//! Redis. This is the same algorithm as Redis's lzf_c.c (liblzf 3.6, VERY_FAST, hash log 16),
//! so the output is byte-identical to what redis-server writes, with one difference in state:
//! the hash table is reused across calls without clearing, which is safe because every
//! candidate match is verified against the input (Redis leaves its table uninitialised for
//! the same reason).
//!
//! ```text
//!  compressed stream = run*
//!  literal run    000LLLLL  then L+1 bytes                  (1..32 literal bytes)
//!  short backref  LLLooooo oooooooo                          (copy L+2 bytes, L in 1..6,
//!  long backref   111ooooo LLLLLLLL oooooooo                  from offset o+1 back;
//!                                                              long: copy L+9 bytes)
//!  hash table: 65536 u32 slots, slot = hash(next 3 bytes) -> last position seen
//! ```

use std::cell::RefCell;

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// Upper bound of original/compressed size: a 3-byte long backreference expands to at most
/// 264 bytes. The loader refuses a declared length beyond this before allocating.
pub const MAX_RATIO: u64 = 90;

thread_local! {
    /// The reusable hash table (positions; stale entries are harmless, see the module comment).
    static HTAB: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

#[inline]
fn first(d: &[u8], i: usize) -> u32 {
    ((d[i] as u32) << 8) | d[i + 1] as u32
}

#[inline]
fn next(h: u32, d: &[u8], i: usize) -> u32 {
    (h << 8) | d[i + 2] as u32
}

#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `max_out` bytes (lzf_compress); None when it does not fit
/// (the caller then stores the string uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.len() < 3 || max_out == 0 || input.len() > u32::MAX as usize {
        return None;
    }
    HTAB.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() != HSIZE {
            *t = vec![0u32; HSIZE];
        }
        compress_with(input, max_out, &mut t)
    })
}

fn compress_with(d: &[u8], max_out: usize, htab: &mut [u32]) -> Option<Vec<u8>> {
    let in_end = d.len();
    let mut out = vec![0u8; max_out];
    let out_end = max_out;
    let mut op = 1usize; // out[0] holds the first literal run's length
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval = first(d, 0);
    while ip < in_end - 2 {
        hval = next(hval, d, ip);
        let slot = idx(hval);
        let r = htab[slot] as usize;
        htab[slot] = ip as u32;
        let off = ip.wrapping_sub(r).wrapping_sub(1);
        if off < MAX_OFF && r > 0 && d[r + 2] == d[ip + 2] && d[r] == d[ip] && d[r + 1] == d[ip + 1]
        {
            let mut len = 2usize;
            let maxlen = (in_end - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo an empty run
                                         // liblzf first compares up to 16 bytes unrolled without looking at maxlen
                                         // (in bounds: maxlen > 16 leaves 18 bytes), then continues one at a time; the
                                         // unrolled part can run a match up to 2 bytes past maxlen, and Redis's output
                                         // depends on that, so it is kept.
            let mut mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if d[r + len] != d[ip + len] {
                        mismatch = true;
                        break;
                    }
                }
            }
            if !mismatch {
                loop {
                    len += 1;
                    if !(len < maxlen && d[r + len] == d[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_end - 2 {
                break;
            }
            ip -= 2;
            hval = first(d, ip);
            hval = next(hval, d, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
            hval = next(hval, d, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = d[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_end {
        lit += 1;
        out[op] = d[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Decompresses `data` that must expand to exactly `len` bytes (lzf_decompress plus Redis's
/// length check); None for corrupt input.
pub fn decompress(data: &[u8], len: usize) -> Option<Vec<u8>> {
    match lzf::decompress(data, len) {
        Ok(v) if v.len() == len => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_output() {
        // redis-server 7.0.15 stores 48 'a's as this.
        let z = compress(&[b'a'; 48], 44).unwrap();
        assert_eq!(z, b"\x01aa\xe0\x23\x00\x01aa");
    }

    #[test]
    fn round_trips() {
        let mut seed = 12345u64;
        for n in [3usize, 4, 21, 33, 100, 1000, 70000] {
            for kind in 0..3 {
                let data: Vec<u8> = (0..n)
                    .map(|i| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        match kind {
                            0 => (i % 7) as u8,
                            1 => (seed >> 60) as u8,
                            _ => (seed >> 33) as u8,
                        }
                    })
                    .collect();
                if let Some(z) = compress(&data, n + 64) {
                    assert_eq!(decompress(&z, n).unwrap(), data, "n={n} kind={kind}");
                    assert!(decompress(&z, n + 1).is_none());
                }
                // Tight budgets either fit or refuse, never overflow.
                for budget in [1, 2, 3, n / 2, n.saturating_sub(4)] {
                    if let Some(z) = compress(&data, budget) {
                        assert!(z.len() <= budget);
                        assert_eq!(decompress(&z, n).unwrap(), data);
                    }
                }
            }
        }
    }

    #[test]
    fn corrupt_input_is_refused() {
        assert!(decompress(b"", 5).is_none());
        assert!(decompress(b"\x20\x00", 5).is_none());
        assert!(decompress(b"\x05ab", 6).is_none());
    }
}
