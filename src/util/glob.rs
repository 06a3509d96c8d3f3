//! Glob-style matching with the exact semantics of Redis 7.0's `stringmatchlen` (util.c).
//!
//! KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and ACL key patterns all go through this one
//! function, and clients see its every quirk, so it reproduces Redis byte for byte rather than
//! following POSIX `fnmatch`:
//!
//! - `*` matches any run of bytes, `?` exactly one byte.
//! - `[abc]`, `[a-z]` (bounds may be given in either order), `[^...]` negation, `\x` inside a
//!   class matches `x` literally (and case-sensitively even in `nocase` mode). An unterminated
//!   class such as `[abc` ends at the end of the pattern instead of failing.
//! - Range bounds compare as C `char`, which is signed on the platforms Redis ships on, so a
//!   byte >= 0x80 sorts *below* 0x00 inside a range.
//! - `\x` outside a class matches `x` literally; a trailing lone `\` matches a backslash.
//! - `nocase` folds only ASCII letters (Redis runs with the "C" ctype locale).
//! - Matching an empty subject only succeeds for the empty pattern (Redis's loop never runs when
//!   the subject is empty, and callers such as KEYS special-case a bare `*` themselves).
//!
//! Redis implements `*` by recursion plus a "skip longer matches" flag that stops the
//! exponential blow-up of patterns like `*a*a*a*b`, and refuses to descend more than 1000 star
//! groups deep. Here the recursion is replaced by the equivalent single backtrack point (only
//! the most recent star is ever retried, which is exactly what the flag achieves), so matching
//! is O(pattern * subject) in the worst case and needs no stack; the depth limit is kept by
//! counting star groups, so a pattern whose match needs its 1001st non-trailing star group
//! fails just as it does in Redis.

/// Star groups deeper than this make the match fail (Redis's recursion guard).
const MAX_STAR_NESTING: u32 = 1000;

/// Outcome of running the pattern from one starting point (one Redis recursion frame).
enum Attempt {
    /// The frame returned: `true` for a match.
    Done(bool),
    /// The frame reached a non-trailing star group; the payload is the pattern index just
    /// after the group.
    Star(usize),
}

/// Lowercases an ASCII letter, leaving every other byte alone (C-locale `tolower`).
#[inline(always)]
fn lower(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

/// Reports whether `s` matches the glob `pattern`, exactly as Redis 7.0's
/// `stringmatchlen(pattern, s, nocase)` would; `nocase` folds ASCII letters. Never panics, runs
/// in O(pattern * subject) time and constant space, whatever the input.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Fast path for the most common pattern of all.
    if pattern == b"*" {
        return !s.is_empty();
    }
    let plen = pattern.len();
    let slen = s.len();
    // Backtrack point: (pattern index after the star group, subject index of the current
    // attempt, star ordinal).
    let mut back: Option<(usize, usize, u32)> = None;
    let mut p = 0usize;
    let mut i = 0usize;
    loop {
        match attempt(pattern, s, nocase, &mut p, &mut i) {
            Attempt::Done(true) => return true,
            Attempt::Done(false) => {
                // The frame failed: its caller (the latest star) tries one byte further.
                match back.as_mut() {
                    None => return false,
                    Some((after_star, start, _)) => {
                        *start += 1;
                        if *start >= slen {
                            return false;
                        }
                        p = *after_star;
                        i = *start;
                    }
                }
            }
            Attempt::Star(after_star) => {
                let ordinal = back.map_or(0, |b| b.2) + 1;
                if ordinal > MAX_STAR_NESTING {
                    return false;
                }
                back = Some((after_star, i, ordinal));
                p = after_star;
            }
        }
        debug_assert!(p <= plen && i <= slen);
    }
}

/// Runs the pattern from `(p, i)` until the frame returns or reaches a star group.
#[inline(always)]
fn attempt(pattern: &[u8], s: &[u8], nocase: bool, p: &mut usize, i: &mut usize) -> Attempt {
    let plen = pattern.len();
    let slen = s.len();
    // Bytes past the end read as NUL, like the terminator Redis's sds strings carry.
    let at = |k: usize| -> u8 { pattern.get(k).copied().unwrap_or(0) };
    while *p < plen && *i < slen {
        match pattern[*p] {
            b'*' => {
                while at(*p + 1) == b'*' {
                    *p += 1;
                }
                if *p + 1 == plen {
                    return Attempt::Done(true); // trailing star matches the rest
                }
                return Attempt::Star(*p + 1);
            }
            b'?' => *i += 1,
            b'[' => {
                *p += 1;
                let negate = at(*p) == b'^';
                if negate {
                    *p += 1;
                }
                let c = s[*i];
                let mut matched = false;
                loop {
                    let rem = plen - *p;
                    let pc = at(*p);
                    if pc == b'\\' && rem >= 2 {
                        *p += 1;
                        if pattern[*p] == c {
                            matched = true;
                        }
                    } else if pc == b']' {
                        break;
                    } else if rem == 0 {
                        // Unterminated class: step back so the shared advance below lands
                        // exactly on the end of the pattern.
                        *p -= 1;
                        break;
                    } else if rem >= 3 && pattern[*p + 1] == b'-' {
                        // Bounds and subject compare as signed C chars.
                        let mut start = pc as i8 as i32;
                        let mut end = pattern[*p + 2] as i8 as i32;
                        let mut ch = c as i8 as i32;
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower_signed(start);
                            end = lower_signed(end);
                            ch = lower_signed(ch);
                        }
                        *p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if nocase {
                        if lower(pc) == lower(c) {
                            matched = true;
                        }
                    } else if pc == c {
                        matched = true;
                    }
                    *p += 1;
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return Attempt::Done(false);
                }
                *i += 1;
            }
            b => {
                let mut pc = b;
                if b == b'\\' && plen - *p >= 2 {
                    *p += 1;
                    pc = pattern[*p];
                }
                let c = s[*i];
                let equal = if nocase {
                    lower(pc) == lower(c)
                } else {
                    pc == c
                };
                if !equal {
                    return Attempt::Done(false);
                }
                *i += 1;
            }
        }
        *p += 1;
        if *i == slen {
            // Subject used up: only trailing stars may remain.
            while at(*p) == b'*' {
                *p += 1;
            }
            break;
        }
    }
    Attempt::Done(*p >= plen && *i >= slen)
}

/// C-locale `tolower` on a value that came from a signed `char`.
#[inline(always)]
fn lower_signed(v: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&v) {
        v + 32
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("*", "abc"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "abc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
        assert!(m("a**", "a"));
        assert!(m("a*****b", "ab"));
    }

    #[test]
    fn empty_subject_and_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
    }

    #[test]
    fn quirks() {
        // Unterminated class still matches.
        assert!(m("[abc", "a"));
        assert!(m("[abc", "c"));
        assert!(!m("[abc", "d"));
        // Trailing lone backslash is literal.
        assert!(m("a\\", "a\\"));
        // Escape inside a class.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // Empty class `[]` never matches, and `[^]` matches anything.
        assert!(!m("[]", "a"));
        assert!(m("[^]", "a"));
        // High bytes sort below 0 inside ranges (signed char).
        assert!(!glob_match(b"[\x00-\xff]", b"a", false));
        assert!(glob_match(b"[\x80-\x7f]", b"a", false));
        assert!(glob_match(b"[\x80-\x81]", b"\x80", false));
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(glob_match(b"h[A-Z]llo", b"hello", true));
        assert!(glob_match(b"h[E]llo", b"hello", true));
        assert!(!glob_match(b"h[\\E]llo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
    }

    #[test]
    fn pathological_is_fast() {
        let s = vec![b'a'; 10_000];
        let mut p = Vec::new();
        for _ in 0..200 {
            p.extend_from_slice(b"*a");
        }
        p.extend_from_slice(b"*b");
        let t = std::time::Instant::now();
        assert!(!glob_match(&p, &s, false));
        assert!(t.elapsed().as_secs() < 2);
    }

    #[test]
    fn nesting_limit() {
        let key = vec![b'a'; 1201];
        for (k, expect) in [(999, true), (1000, true), (1001, false), (1100, false)] {
            let mut p = b"a".to_vec();
            for _ in 0..k {
                p.extend_from_slice(b"*a");
            }
            assert_eq!(glob_match(&p, &key, false), expect, "k={k}");
        }
        // A trailing star beyond the limit still matches.
        let mut p = Vec::new();
        for _ in 0..1000 {
            p.extend_from_slice(b"*a");
        }
        p.push(b'*');
        assert!(glob_match(&p, &key, false));
    }

    /// Straight transcription of Redis's recursive algorithm, used as the reference for the
    /// property test below.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn at(p: &[u8], k: usize) -> u8 {
            p.get(k).copied().unwrap_or(0)
        }
        fn imp(
            p: &[u8],
            mut pi: usize,
            s: &[u8],
            mut si: usize,
            nc: bool,
            skip: &mut bool,
            nest: u32,
        ) -> bool {
            if nest > 1000 {
                return false;
            }
            let low = |b: u8| b.to_ascii_lowercase();
            while pi < p.len() && si < s.len() {
                match p[pi] {
                    b'*' => {
                        while at(p, pi + 1) == b'*' {
                            pi += 1;
                        }
                        if pi + 1 == p.len() {
                            return true;
                        }
                        while si < s.len() {
                            if imp(p, pi + 1, s, si, nc, skip, nest + 1) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            si += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => si += 1,
                    b'[' => {
                        pi += 1;
                        let not = at(p, pi) == b'^';
                        if not {
                            pi += 1;
                        }
                        let mut mt = false;
                        loop {
                            let rem = p.len() - pi;
                            if at(p, pi) == b'\\' && rem >= 2 {
                                pi += 1;
                                if p[pi] == s[si] {
                                    mt = true;
                                }
                            } else if at(p, pi) == b']' {
                                break;
                            } else if rem == 0 {
                                pi -= 1;
                                break;
                            } else if rem >= 3 && p[pi + 1] == b'-' {
                                let (mut a, mut b) = (p[pi] as i8 as i32, p[pi + 2] as i8 as i32);
                                let mut c = s[si] as i8 as i32;
                                if a > b {
                                    std::mem::swap(&mut a, &mut b);
                                }
                                if nc {
                                    let l =
                                        |v: i32| if (65..=90).contains(&v) { v + 32 } else { v };
                                    a = l(a);
                                    b = l(b);
                                    c = l(c);
                                }
                                pi += 2;
                                if c >= a && c <= b {
                                    mt = true;
                                }
                            } else if (nc && low(p[pi]) == low(s[si])) || p[pi] == s[si] {
                                mt = true;
                            }
                            pi += 1;
                        }
                        if not {
                            mt = !mt;
                        }
                        if !mt {
                            return false;
                        }
                        si += 1;
                    }
                    c0 => {
                        let mut c = c0;
                        if c0 == b'\\' && p.len() - pi >= 2 {
                            pi += 1;
                            c = p[pi];
                        }
                        let eq = if nc { low(c) == low(s[si]) } else { c == s[si] };
                        if !eq {
                            return false;
                        }
                        si += 1;
                    }
                }
                pi += 1;
                if si == s.len() {
                    while at(p, pi) == b'*' {
                        pi += 1;
                    }
                    break;
                }
            }
            pi >= p.len() && si >= s.len()
        }
        let mut skip = false;
        imp(p, 0, s, 0, nocase, &mut skip, 0)
    }

    use proptest::prelude::*;

    fn pat_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b'*'),
            Just(b'?'),
            Just(b'['),
            Just(b']'),
            Just(b'^'),
            Just(b'-'),
            Just(b'\\'),
            Just(b'a'),
            Just(b'b'),
            Just(b'A'),
            Just(0x80u8),
            any::<u8>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn never_panics_and_agrees_with_reference(
            p in proptest::collection::vec(pat_byte(), 0..16),
            s in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'A'), Just(b'-'), Just(b']'), Just(b'\\'), any::<u8>()], 0..12),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(glob_match(&p, &s, nocase), reference(&p, &s, nocase));
        }

        #[test]
        fn arbitrary_bytes_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64), s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = glob_match(&p, &s, false);
            let _ = glob_match(&p, &s, true);
        }
    }
}
