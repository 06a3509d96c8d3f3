//! Fuzz target for the configuration parsers a client (or a config file) feeds: config file
//! text, CONFIG SET name/value pairs, CONFIG GET glob patterns. None may panic, a failed
//! CONFIG SET must leave the configuration untouched (every field), CONFIG GET must report exactly the
//! parameters its patterns match, and CONFIG REWRITE's output must load back to the same
//! CONFIG GET * (both for the loaded file and after the CONFIG SETs).
//!
//! Input layout: parts separated by 0x1E (ASCII RS). Part 0 is the config file text; part 1
//! holds CONFIG GET patterns; every later part is one CONFIG SET call. Within parts 1.., the
//! arguments are separated by 0x1F (ASCII US); a CONFIG SET's odd last argument is dropped.
//!
//! Directives with side effects outside the process's memory are left out: `include` (reads
//! any file), `logfile` (creates one) and `dir` (changes the fuzzer's working directory); their
//! lines are blanked, and CONFIG SET calls naming `dir` are skipped.
#![no_main]

use ferrodis::config::Config;
use ferrodis::util::glob::glob_match;
use ferrodis::util::splitargs::split_args;
use libfuzzer_sys::fuzz_target;

const PART_SEP: u8 = 0x1e;
const ARG_SEP: u8 = 0x1f;

/// Directive names (lowercase) the target never lets through.
const UNSAFE: [&[u8]; 3] = [b"include", b"logfile", b"dir"];

/// The config text with every line naming an unsafe directive blanked (line numbers kept).
fn safe_text(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if n > 0 {
            out.push(b'\n');
        }
        let first = split_args(line).and_then(|a| a.into_iter().next());
        if !first.is_some_and(|w| UNSAFE.iter().any(|u| w.eq_ignore_ascii_case(u))) {
            out.extend_from_slice(line);
        }
    }
    out
}

fn everything(c: &Config) -> Vec<(Vec<u8>, Vec<u8>)> {
    c.get_raw(&[b"*"])
}

/// CONFIG REWRITE over `old` must load back into a fresh configuration with the same values.
fn round_trip(c: &Config, old: &[u8]) {
    let out = c.rewrite_content(old);
    let mut again = Config::default();
    if let Err(e) = again.load_text(&out) {
        panic!(
            "CONFIG REWRITE output does not load: {e}\n--- rewritten ---\n{}",
            String::from_utf8_lossy(&out)
        );
    }
    let (want, got) = (everything(c), everything(&again));
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(
            w,
            g,
            "CONFIG GET differs after rewrite + load\n--- rewritten ---\n{}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(want.len(), got.len());
}

/// CONFIG GET: no name twice, and every visible name a glob pattern matches is reported.
fn check_get(c: &Config, patterns: &[&[u8]]) {
    let got = c.get_raw(patterns);
    let _ = c.get(patterns);
    for (k, (name, _)) in got.iter().enumerate() {
        assert!(
            !got[..k].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)),
            "CONFIG GET reported {name:?} twice"
        );
    }
    let all = everything(c);
    for &pat in patterns {
        if !pat.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
            continue;
        }
        for (name, _) in &all {
            if glob_match(pat, name, true) {
                assert!(
                    got.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)),
                    "pattern {pat:?} matches {name:?} but CONFIG GET left it out"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == PART_SEP);
    let text = safe_text(parts.next().unwrap_or_default());
    let patterns: Vec<&[u8]> = parts
        .next()
        .map(|p| p.split(|&b| b == ARG_SEP).collect())
        .unwrap_or_default();

    let mut cfg = Config::default();
    let loaded = cfg.load_text(&text).is_ok();
    if loaded {
        round_trip(&cfg, &text);
    } else {
        // Redis exits when its config file does not load; carry on from the defaults.
        cfg = Config::default();
    }

    for call in parts.take(8) {
        let args: Vec<&[u8]> = call.split(|&b| b == ARG_SEP).collect();
        let pairs: Vec<(&[u8], &[u8])> = args.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        if pairs.is_empty() || pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"dir")) {
            continue;
        }
        // Debug shows every field, hidden parameters included.
        let before = format!("{cfg:?}");
        if cfg.set(&pairs).is_err() {
            assert_eq!(
                before,
                format!("{cfg:?}"),
                "a failed CONFIG SET changed the config"
            );
        }
    }

    check_get(&cfg, &patterns);
    round_trip(&cfg, if loaded { &text } else { b"" });
});
