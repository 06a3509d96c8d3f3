//! C `long double` numbers, as Redis's INCRBYFLOAT and HINCRBYFLOAT compute them.
//!
//! Redis parses both operands with `strtold`, adds them in `long double` and prints the sum with
//! `"%.17Lf"`, trimming trailing zeroes (util.c's string2ld and ld2string in LD_STR_HUMAN mode).
//! On x86-64 that type is the x87 80-bit extended format (64-bit mantissa), so `SET x 10.5;
//! INCRBYFLOAT x 0.1` answers `10.6` where `f64` arithmetic would print `10.59999999999999964`.
//! Rust has no such type; rather than emulate it, the arithmetic and formatting happen in C
//! (`ldouble.c`, compiled by build.rs) with the same libc Redis uses, so every digit matches by
//! construction on every platform (binary128 on AArch64 included).
//!
//! ```text
//!  LongDouble (16 bytes, 16-aligned): the C object representation, opaque to Rust
//!  x86-64:  +----------------------------+----------------------+---------------+
//!           | mantissa (8 bytes, explicit| sign + exponent      | padding       |
//!           | integer bit)               | (2 bytes)            | (6 bytes)     |
//!           +----------------------------+----------------------+---------------+
//!  AArch64: +------------------------------------------------------------------+
//!           | IEEE 754 binary128: sign, 15-bit exponent, 112-bit fraction      |
//!           +------------------------------------------------------------------+
//! ```
//!
//! Padding bytes are unspecified, so values are never compared bytewise.

use std::fmt;

/// Redis's MAX_LONG_DOUBLE_CHARS: longer inputs are rejected, and no output is longer.
pub const LD_MAX_CHARS: usize = 5 * 1024;

/// A C `long double`, carried as its 16-byte object representation.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct LongDouble {
    bytes: [u8; 16],
}

/// How `format_long_double` prints, after ld2string's modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LdMode {
    /// `%.17Lg` (LD_STR_AUTO).
    Auto,
    /// `%.17Lf` without trailing zeroes, `-0` as `0` (LD_STR_HUMAN): what INCRBYFLOAT stores.
    Human,
    /// `%La` (LD_STR_HEX): exact, for serialisation.
    Hex,
}

extern "C" {
    fn ferrodis_ld_parse(s: *const u8, len: usize, out: *mut u8) -> libc::c_int;
    fn ferrodis_ld_from_i64(v: libc::c_longlong, out: *mut u8);
    fn ferrodis_ld_from_f64(v: f64, out: *mut u8);
    fn ferrodis_ld_to_f64(a: *const u8) -> f64;
    fn ferrodis_ld_add(a: *const u8, b: *const u8, out: *mut u8);
    fn ferrodis_ld_is_finite(a: *const u8) -> libc::c_int;
    fn ferrodis_ld_timeout_ms(a: *const u8) -> libc::c_longlong;
    fn ferrodis_ld_format(a: *const u8, mode: libc::c_int, out: *mut u8, len: usize) -> usize;
}

impl LongDouble {
    const ZEROED: LongDouble = LongDouble { bytes: [0; 16] };

    /// The exact value of a 64-bit integer (an int-encoded string's value).
    pub fn from_i64(v: i64) -> LongDouble {
        let mut r = LongDouble::ZEROED;
        // SAFETY: `r.bytes` has the 16 bytes the C side writes.
        unsafe { ferrodis_ld_from_i64(v, r.bytes.as_mut_ptr()) };
        r
    }

    /// The exact value of a double.
    pub fn from_f64(v: f64) -> LongDouble {
        let mut r = LongDouble::ZEROED;
        // SAFETY: as above.
        unsafe { ferrodis_ld_from_f64(v, r.bytes.as_mut_ptr()) };
        r
    }

    /// The nearest double.
    pub fn to_f64(self) -> f64 {
        // SAFETY: reads the 16 bytes of a value produced by the C side.
        unsafe { ferrodis_ld_to_f64(self.bytes.as_ptr()) }
    }

    /// Seconds to whole milliseconds as Redis's blocking timeouts compute them:
    /// `(long long)ceill(self * 1000.0L)`, out-of-range values giving i64::MIN.
    pub fn timeout_ms(self) -> i64 {
        // SAFETY: reads 16 bytes.
        unsafe { ferrodis_ld_timeout_ms(self.bytes.as_ptr()) }
    }

    /// False for NaN and the infinities: INCRBYFLOAT refuses to store those.
    pub fn is_finite(self) -> bool {
        // SAFETY: reads 16 bytes.
        unsafe { ferrodis_ld_is_finite(self.bytes.as_ptr()) != 0 }
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// `self + other` in C long double arithmetic (may be infinite).
    fn add(self, other: LongDouble) -> LongDouble {
        let mut r = LongDouble::ZEROED;
        // SAFETY: two valid inputs, one 16-byte output.
        unsafe {
            ferrodis_ld_add(
                self.bytes.as_ptr(),
                other.bytes.as_ptr(),
                r.bytes.as_mut_ptr(),
            )
        };
        r
    }
}

impl fmt::Debug for LongDouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format_long_double(*self, LdMode::Auto);
        write!(f, "LongDouble({})", String::from_utf8_lossy(&s))
    }
}

/// Parses a number as Redis's `string2ld`: strtold must consume every byte, no leading white
/// space, no NaN, no overflow to infinity nor underflow to zero; `inf` and `-inf` are accepted.
/// None is what Redis reports as "value is not a valid float".
pub fn parse_long_double(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= LD_MAX_CHARS {
        return None;
    }
    let mut r = LongDouble::ZEROED;
    // SAFETY: `s` is valid for `s.len()` bytes (the C side copies them into its own
    // NUL-terminated buffer); the output is 16 bytes.
    let ok = unsafe { ferrodis_ld_parse(s.as_ptr(), s.len(), r.bytes.as_mut_ptr()) };
    (ok != 0).then_some(r)
}

/// Prints a value as Redis's `ld2string` does in `mode` (INCRBYFLOAT uses `LdMode::Human`).
pub fn format_long_double(v: LongDouble, mode: LdMode) -> Vec<u8> {
    let mut buf = vec![0u8; LD_MAX_CHARS];
    let n = format_long_double_into(v, mode, &mut buf);
    buf.truncate(n);
    buf
}

/// Like `format_long_double` into a caller's buffer; returns the length written, 0 when the
/// buffer is too small (LD_MAX_CHARS always suffices).
pub fn format_long_double_into(v: LongDouble, mode: LdMode, out: &mut [u8]) -> usize {
    let m = match mode {
        LdMode::Auto => 0,
        LdMode::Human => 1,
        LdMode::Hex => 2,
    };
    // SAFETY: the C side writes at most `out.len()` bytes into `out`.
    let n = unsafe { ferrodis_ld_format(v.bytes.as_ptr(), m, out.as_mut_ptr(), out.len()) };
    n.min(out.len())
}

/// Why `incr_by_float` refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IncrFloatError {
    /// An operand is not a valid float ("ERR value is not a valid float").
    NotAFloat,
    /// The sum is NaN or infinite ("ERR increment would produce NaN or Infinity").
    NanOrInfinity,
}

impl IncrFloatError {
    /// Redis's error text for this refusal.
    pub fn message(self) -> &'static str {
        match self {
            IncrFloatError::NotAFloat => "ERR value is not a valid float",
            IncrFloatError::NanOrInfinity => "ERR increment would produce NaN or Infinity",
        }
    }
}

/// The whole of INCRBYFLOAT's arithmetic: `current` (already a long double) plus the text
/// `incr`, checked and printed in human form. Shared with HINCRBYFLOAT.
pub fn incr_by_float(current: LongDouble, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let incr = parse_long_double(incr).ok_or(IncrFloatError::NotAFloat)?;
    let sum = current + incr;
    if !sum.is_finite() {
        return Err(IncrFloatError::NanOrInfinity);
    }
    Ok(format_long_double(sum, LdMode::Human))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(s: &str) -> String {
        let v = parse_long_double(s.as_bytes()).expect("parses");
        String::from_utf8(format_long_double(v, LdMode::Human)).unwrap()
    }

    fn incr(a: &str, b: &str) -> Result<String, IncrFloatError> {
        let cur = parse_long_double(a.as_bytes()).ok_or(IncrFloatError::NotAFloat)?;
        incr_by_float(cur, b.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(incr("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(incr("10", "1").unwrap(), "11");
        assert_eq!(incr("0", "-0").unwrap(), "0");
        assert_eq!(incr("1", "-1.5").unwrap(), "-0.5");
        assert_eq!(incr("3.0e3", "200").unwrap(), "3200");
        assert_eq!(incr("5.0e3", "2.0e-3").unwrap(), "5000.00199999999999978");
        assert_eq!(
            incr("0", "-0.000000000000000001").unwrap(),
            "0",
            "-0 after trimming prints as 0"
        );
    }

    #[test]
    fn parsing_rules() {
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e5000", "-1e5000", "1e-5000", "1.5x", "1\0x",
        ] {
            assert!(parse_long_double(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(parse_long_double(&vec![b'1'; LD_MAX_CHARS]).is_none());
        assert_eq!(human("inf"), "inf");
        assert_eq!(human("-inf"), "-inf");
        assert_eq!(human("0x10"), "16");
        assert_eq!(human("1e3"), "1000");
        assert_eq!(human("+5"), "5");
    }

    #[test]
    fn infinities_are_refused() {
        assert_eq!(incr("inf", "1"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(incr("inf", "-inf"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(incr("1", "x"), Err(IncrFloatError::NotAFloat));
    }

    #[test]
    fn modes_and_conversions() {
        let v = LongDouble::from_i64(-42);
        assert_eq!(format_long_double(v, LdMode::Auto), b"-42");
        assert_eq!(LongDouble::from_f64(1.5).to_f64(), 1.5);
        assert_eq!(
            format_long_double(LongDouble::from_i64(i64::MIN), LdMode::Human),
            b"-9223372036854775808"
        );
        let big = parse_long_double(b"1e4000").unwrap();
        let s = format_long_double(big, LdMode::Human);
        assert!(
            s.len() == 4000
                && s.starts_with(
                    b"9999999999999999999965463873099623784932492583506957631301508333"
                )
        );
        let mut small = [0u8; 2];
        assert_eq!(format_long_double_into(big, LdMode::Human, &mut small), 0);
    }
}
