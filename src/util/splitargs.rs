//! Splitting a line into arguments with the quoting rules of Redis's `sdssplitargs` (sds.c).
//!
//! Config files, `--name value` command-line options and inline commands typed into a raw
//! connection are all tokenised this way, so the rules are reproduced exactly:
//!
//! - Tokens are separated by whitespace (C `isspace`: space, `\t`, `\n`, `\v`, `\f`, `\r`);
//!   inside an unquoted token only space, `\t`, `\n` and `\r` end it.
//! - `"double quotes"` understand `\n \r \t \b \a`, `\xHH` (two hex digits) and `\<any>`
//!   meaning that byte itself.
//! - `'single quotes'` only understand `\'`.
//! - A closing quote must be followed by whitespace or the end of the line, and an unclosed
//!   quote is an error: both make the whole split fail (`None`).
//! - A quote can start in the middle of a token (`ab"c d"` is the single token `abc d`).
//! - The line ends at its first NUL byte, as a C string does.

/// C's `isspace` in the "C" locale.
#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Value of an ASCII hex digit, if it is one.
#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into arguments exactly like Redis's `sdssplitargs`, returning `None` on
/// unbalanced quotes or a closing quote not followed by a space. An empty or all-blank line
/// gives an empty vector. Never panics.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Everything after a NUL is invisible to the C implementation.
    let line = match line.iter().position(|&b| b == 0) {
        Some(n) => &line[..n],
        None => line,
    };
    // Byte at `k`, or NUL past the end (the C terminator).
    let at = |k: usize| -> u8 { line.get(k).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    let next = at(p + 1);
                    if next != 0 && !is_space(next) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    let next = at(p + 1);
                    if next != 0 && !is_space(next) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => cur.push(c),
                }
            }
            p += 1;
        }
        args.push(cur);
    }
}

/// Appends `s` to `out` quoted the way Redis's `sdscatrepr` does (`"..."` with `\n`, `\r`,
/// `\t`, `\a`, `\b`, `\\`, `\"` and `\xhh` escapes), so that `split_args` reads it back as the
/// same bytes. Used wherever Redis writes a value it must be able to parse again (CONFIG
/// REWRITE, command-line options).
pub fn cat_repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\x");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::{cat_repr, split_args};

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain() {
        assert_eq!(split("set a b").unwrap(), ["set", "a", "b"]);
        assert_eq!(split("  set   a\tb  ").unwrap(), ["set", "a", "b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("   \t ").unwrap(), Vec::<String>::new());
        // \v and \f are skipped between tokens but do not end a token.
        assert_eq!(split("\x0ba\x0bb").unwrap(), ["a\x0bb"]);
    }

    #[test]
    fn double_quotes() {
        assert_eq!(split(r#"a "b c" d"#).unwrap(), ["a", "b c", "d"]);
        assert_eq!(
            split(r#""\n\r\t\b\a\\\"\q""#).unwrap(),
            ["\n\r\t\x08\x07\\\"q"]
        );
        assert_eq!(
            split_args(br#""\x41\xff\x4""#).unwrap(),
            [b"A\xffx4".to_vec()]
        );
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(split(r#"ab"c d""#).unwrap(), ["abc d"]);
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r#""abc"d"#), None);
        assert_eq!(split(r#""abc\"#), None);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'a b' c").unwrap(), ["a b", "c"]);
        assert_eq!(split(r"'it\'s'").unwrap(), ["it's"]);
        assert_eq!(split(r"'a\nb'").unwrap(), ["a\\nb"]);
        assert_eq!(split(r"''").unwrap(), [""]);
        assert_eq!(split(r"'abc"), None);
        assert_eq!(split(r"'abc'x"), None);
    }

    #[test]
    fn nul_ends_line() {
        assert_eq!(
            split_args(b"a b\0c d").unwrap(),
            [b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split_args(b"\"ab\0cd\""), None);
    }

    #[test]
    fn repr_round_trips() {
        let samples: [&[u8]; 4] = [
            b"plain",
            b"a \"q\" \\ b",
            b"\n\r\t\x07\x08",
            b"\x00\x01\xff",
        ];
        for s in samples {
            let mut out = Vec::new();
            cat_repr(&mut out, s);
            if !s.contains(&0) {
                assert_eq!(split_args(&out).unwrap(), [s.to_vec()]);
            }
        }
        let mut out = Vec::new();
        cat_repr(&mut out, b"a\"b c\\n");
        assert_eq!(out, br#""a\"b c\\n""#);
    }

    use proptest::prelude::*;
    proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = split_args(&line);
        }

        #[test]
        fn repr_is_inverse(s in proptest::collection::vec(1u8..=255, 0..32)) {
            let mut out = Vec::new();
            cat_repr(&mut out, &s);
            prop_assert_eq!(split_args(&out), Some(vec![s]));
        }
    }
}
