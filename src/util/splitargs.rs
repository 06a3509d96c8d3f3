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

/// `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Redis's `sdssplitargs` over one line, appending unescaped arguments to `scratch` and
/// their (start, len) ranges to `ranges`: no allocation per argument, for inline commands. Returns false for unbalanced quotes. Like the C
/// original it treats the end of `line` (or a NUL, which the caller never passes) as the
/// string terminator.
///
/// Rules: blanks (`isspace`) separate arguments; outside quotes an argument ends at
/// space, tab, CR, LF; `"..."` understands `\n \r \t \b \a \xHH` and `\<any>`; `'...'`
/// understands only `\'`; a closing quote must be followed by a blank or the end.
pub fn split_args_into(
    line: &[u8],
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> bool {
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return true;
        }
        let token_start = scratch.len();
        let mut in_double = false;
        let mut in_single = false;
        let mut done = false;
        while !done {
            let c = at(p);
            if in_double {
                let hex = match (c, at(p + 1)) {
                    (b'\\', b'x') => hex_value(at(p + 2)).zip(hex_value(at(p + 3))),
                    _ => None,
                };
                if let Some((hi, lo)) = hex {
                    scratch.push(hi * 16 + lo);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    // Covers `\x` without two hex digits too: it stands for 'x'.
                    p += 1;
                    scratch.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    scratch.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    scratch.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    scratch.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => scratch.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        ranges.push((token_start, scratch.len() - token_start));
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
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    if !split_args_into(line, &mut ranges, &mut scratch) {
        return None;
    }
    Some(
        ranges
            .into_iter()
            .map(|(start, len)| scratch[start..start + len].to_vec())
            .collect(),
    )
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
