//! Partial quicksort (Redis's pqsort.c, after NetBSD's qsort by Bentley & McIlroy): sorts
//! only as much of a slice as it takes for positions `lrange..=rrange` to hold what a full
//! sort would put there. GEORADIUS/GEOSEARCH with COUNT use it, and because it is not stable,
//! which of several equally distant points come first depends on this exact algorithm: the
//! steps below (median of three / ninther pivot, three-way partition with the equal keys
//! swapped to the ends, insertion sort under 7 elements or when a pass swapped nothing) are
//! Redis's, on element indexes instead of byte pointers.

use std::cmp::Ordering;

/// Sorts `v` so that positions `lrange..=rrange` are in their final order under `cmp`.
pub fn pqsort<T>(
    v: &mut [T],
    lrange: usize,
    rrange: usize,
    mut cmp: impl FnMut(&T, &T) -> Ordering,
) {
    let n = v.len();
    sort_range(v, 0, n, lrange, rrange, &mut cmp);
}

fn insertion<T>(v: &mut [T], a: usize, n: usize, cmp: &mut impl FnMut(&T, &T) -> Ordering) {
    for pm in a + 1..a + n {
        let mut pl = pm;
        while pl > a && cmp(&v[pl - 1], &v[pl]) == Ordering::Greater {
            v.swap(pl, pl - 1);
            pl -= 1;
        }
    }
}

fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> usize {
    use Ordering::*;
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], i: usize, j: usize, n: usize) {
    for k in 0..n {
        v.swap(i + k, j + k);
    }
}

/// `_pqsort` on the `n` elements from index `a`.
fn sort_range<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    lrange: usize,
    rrange: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    // A part [s, s+cnt) matters unless the wanted range lies wholly outside it.
    let wanted = |s: usize, cnt: usize| !(rrange < s || lrange >= s + cnt);
    loop {
        if n < 7 {
            insertion(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let mut swapped = false;
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = ((a + n - 1) as isize, a + n - 1);
        loop {
            while pb as isize <= pc {
                let r = cmp(&v[pb], &v[a]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&v[pc as usize], &v[a]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pc as usize, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion(v, a, n, cmp);
            return;
        }
        let pc = pc as usize;
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r) {
            sort_range(v, a, r, lrange, rrange, cmp);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if wanted(a, n) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_the_requested_prefix() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            for k in [0usize, 1, 3, 10, 99] {
                if len == 0 || k >= len {
                    continue;
                }
                let mut v: Vec<u32> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        ((seed >> 33) % 50) as u32
                    })
                    .collect();
                let mut want = v.clone();
                want.sort();
                pqsort(&mut v, 0, k, |a, b| a.cmp(b));
                assert_eq!(&v[..=k], &want[..=k], "len {len} k {k}");
            }
        }
    }
}
