//! Number parsing and printing with Redis's exact rules (util.c: string2ll, ll2string,
//! string2d, d2string; object.c: getLongLongFromObject).
//!
//! Clients see these rules directly: `INCR` on `" 1"`, `"+1"` or `"01"` must fail as Redis fails,
//! and scores must print with the same digits, so nothing here may use Rust's own lenient parsing
//! or shortest-round-trip float formatting.

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: optional `-`, digits, no
/// leading zeros (except the number 0 itself), no `+`, no spaces, no overflow.
#[inline]
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [b'1'..=b'9', ..] if digits.len() <= 19 => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses an unsigned 64-bit integer with `string2ull`'s rules (digits only).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Formats `v` in decimal into `buf`, returning the used tail of the buffer.
#[inline]
pub fn fmt_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Number of decimal digits `v` prints as (sign included).
pub fn i64_len(v: i64) -> usize {
    let mut buf = [0u8; 20];
    fmt_i64(v, &mut buf).len()
}

/// Parses a double as Redis's `string2d` does: strtod over the whole string, no leading space,
/// NaN rejected, and a value out of range (strtod's ERANGE with an infinite or zero result,
/// such as `1e400` or `1e-400`) rejected. `inf`, `-inf`, `+inf` and `infinity` are accepted
/// as strtod accepts them.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() >= 5120 || s[0].is_ascii_whitespace() {
        return None;
    }
    let mut tmp = [0u8; 5120 + 1];
    tmp[..s.len()].copy_from_slice(s);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: tmp is NUL-terminated; strtod reads up to the NUL and sets `end` inside it.
    // errno is thread-local and strtod sets it only on range errors, so clear it first.
    let (v, errno) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(tmp.as_ptr() as *const libc::c_char, &mut end);
        (v, *libc::__errno_location())
    };
    let used = end as usize - tmp.as_ptr() as usize;
    if used != s.len() || v.is_nan() {
        return None;
    }
    if errno == libc::ERANGE && (v.is_infinite() || v == 0.0) {
        return None;
    }
    Some(v)
}

/// Formats a double as Redis's `d2string` does (`%.17g`, with `inf`/`-inf`, and integral values
/// in the safe range printed without an exponent).
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Redis's d2string prints integral doubles in (-(2^52-1), 2^52) through ll2string.
    if v.fract() == 0.0 && v > -4503599627370495.0 && v < 4503599627370496.0 {
        return format!("{}", v as i64);
    }
    printf_f64(b"%.17g\0", v)
}

/// `snprintf(fmt, v)` for a `%...g`/`%...f` format with one double argument.
pub fn printf_f64(fmt: &[u8], v: f64) -> String {
    debug_assert_eq!(fmt.last(), Some(&0));
    let mut buf = [0u8; 512];
    // SAFETY: fmt is NUL-terminated and takes exactly one double; buf is large enough and
    // snprintf never writes past its length argument.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr() as *const libc::c_char,
            v,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// C's atoi on glibc: leading white space, a sign, digits (strtol, saturating to a long),
/// then truncated to an int.
pub fn atoi(s: &[u8]) -> i32 {
    // A C string ends at its first NUL.
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    for &b in s[i..].iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(b - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    v as i32
}

/// C's `(uint64_t)` of a double as x86-64 code computes it (cvttsd2si, with the 2^63 split
/// for large values); out-of-range inputs give what the hardware gives. Redis converts HLL
/// estimates and geohash scores this way.
pub fn c_double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    fn cvtt(d: f64) -> u64 {
        if d.is_nan() || !(-TWO63..TWO63).contains(&d) {
            1u64 << 63
        } else {
            d as i64 as u64
        }
    }
    if d.is_nan() || d < TWO63 {
        cvtt(d)
    } else {
        cvtt(d - TWO63) ^ (1u64 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_glibc() {
        for (s, n) in [
            (&b"12"[..], 12),
            (b"  -3x", -3),
            (b"+7", 7),
            (b"x1", 0),
            (b"", 0),
            (b"4294967297", 1),
            (b"99999999999999999999", -1),
            (b"1\x002", 1),
        ] {
            assert_eq!(atoi(s), n, "{:?}", String::from_utf8_lossy(s));
        }
    }

    use proptest::prelude::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"9223372036854775808",
            b"1a",
            b"-9223372036854775809",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn doubles_print_like_redis() {
        assert_eq!(fmt_f64(1.5), "1.5");
        assert_eq!(fmt_f64(3.0), "3");
        assert_eq!(fmt_f64(0.1), "0.10000000000000001");
        assert_eq!(fmt_f64(f64::INFINITY), "inf");
        assert_eq!(fmt_f64(1e300), "1.0000000000000001e+300");
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1.5x"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"-1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"1e308"), Some(1e308));
        assert_eq!(parse_f64(b"0"), Some(0.0));
    }

    proptest! {
        #[test]
        fn roundtrip(v in any::<i64>()) {
            let mut b = [0u8; 20];
            let s = fmt_i64(v, &mut b).to_vec();
            prop_assert_eq!(s.clone(), v.to_string().into_bytes());
            prop_assert_eq!(parse_i64(&s), Some(v));
        }
    }
}
