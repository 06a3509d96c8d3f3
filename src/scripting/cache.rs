//! The script cache (eval.c's `lua_scripts` dict): SHA1 -> body and flags.
//!
//! ```text
//!  ScriptCache
//!  +--------------------------------------------+
//!  | by_sha: "e0e1f9fa...8db" -> Script          |   Script { body, flags }
//!  |         (40 lower-case hex digits)          |   the compiled chunk lives in the Lua
//!  | mem:    bytes of bodies + keys (INFO)       |   registry under "f_<sha>"
//!  +--------------------------------------------+
//! ```
//!
//! The body is kept so SCRIPT EXISTS can answer and so EVALSHA could be rewritten as EVAL;
//! the flags come from the `#!lua flags=...` shebang.

use std::collections::HashMap;

/// Script flags from the shebang (scripts_flags_def).
pub const FLAG_NO_WRITES: u64 = 1 << 0;
pub const FLAG_ALLOW_OOM: u64 = 1 << 1;
pub const FLAG_ALLOW_STALE: u64 = 1 << 2;
pub const FLAG_NO_CLUSTER: u64 = 1 << 3;
pub const FLAG_ALLOW_CROSS_SLOT: u64 = 1 << 4;
/// No shebang: the script runs as in Redis 6 (SCRIPT_FLAG_EVAL_COMPAT_MODE).
pub const FLAG_EVAL_COMPAT: u64 = 1 << 5;

/// The shebang flag names, as Redis spells them.
const FLAG_NAMES: &[(&str, u64)] = &[
    ("no-writes", FLAG_NO_WRITES),
    ("allow-oom", FLAG_ALLOW_OOM),
    ("allow-stale", FLAG_ALLOW_STALE),
    ("no-cluster", FLAG_NO_CLUSTER),
    ("allow-cross-slot-keys", FLAG_ALLOW_CROSS_SLOT),
];

/// The flag a name stands for, in any letter case (function flags).
pub fn flag_by_name(name: &[u8]) -> Option<u64> {
    FLAG_NAMES
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, bit)| bit)
}

/// The names of the flags set in `flags`, in Redis's order (FUNCTION LIST).
pub fn flag_names(flags: u64) -> Vec<&'static str> {
    FLAG_NAMES
        .iter()
        .filter(|(_, bit)| flags & bit != 0)
        .map(|&(n, _)| n)
        .collect()
}

/// One cached script.
pub struct Script {
    pub body: Vec<u8>,
    pub flags: u64,
}

/// SHA1 (lower-case hex) -> script.
#[derive(Default)]
pub struct ScriptCache {
    pub by_sha: HashMap<[u8; 40], Script>,
    /// Bytes held by bodies and keys (INFO used_memory_scripts_eval's body part).
    pub mem: usize,
}

impl ScriptCache {
    /// Adds a script (already compiled into the Lua registry).
    pub fn add(&mut self, sha: [u8; 40], body: &[u8], flags: u64) {
        self.mem += body.len() + 40;
        self.by_sha.insert(
            sha,
            Script {
                body: body.to_vec(),
                flags,
            },
        );
    }

    /// Forgets everything (SCRIPT FLUSH).
    pub fn clear(&mut self) {
        self.by_sha.clear();
        self.mem = 0;
    }
}

/// The SHA1 of `body` as 40 lower-case hex digits (sha1hex).
pub fn sha1hex(body: &[u8]) -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = crate::util::sha1::sha1(body);
    let mut out = [0u8; 40];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// The cache key for an EVALSHA argument: its first 40 bytes in lower case (Redis copies 40
/// characters whatever the length; a shorter one never matches).
pub fn sha_key(arg: &[u8]) -> Option<[u8; 40]> {
    if arg.len() < 40 {
        return None;
    }
    let mut k = [0u8; 40];
    for (d, s) in k.iter_mut().zip(arg) {
        *d = s.to_ascii_lowercase();
    }
    Some(k)
}

/// Parses the shebang line of a body (evalExtractShebangFlags). Returns the flags and how
/// many bytes the shebang takes (the body is compiled from there, so line numbers hold), or
/// Redis's error message.
pub fn parse_shebang(body: &[u8]) -> Result<(u64, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((FLAG_EVAL_COMPAT, 0));
    }
    let Some(len) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = &body[..len];
    let mut parts = line.split(|&b| b == b' ');
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = 0;
    // Runs of spaces separate like one (sdssplitargs).
    for p in parts.filter(|p| !p.is_empty()) {
        let Some(list) = p.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(p)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(|&b| b == b',') {
            match FLAG_NAMES.iter().find(|(n, _)| n.as_bytes() == f) {
                Some(&(_, bit)) => flags |= bit,
                None => {
                    return Err(format!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(f)
                    ))
                }
            }
        }
    }
    Ok((flags, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse_shebang(b"return 1"), Ok((FLAG_EVAL_COMPAT, 0)));
        assert_eq!(parse_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,allow-oom\nx"),
            Ok((FLAG_NO_WRITES | FLAG_ALLOW_OOM, 31))
        );
        assert_eq!(parse_shebang(b"#!lua flags=\nx"), Ok((0, 12)));
        assert!(parse_shebang(b"#!lua").is_err());
        assert_eq!(
            parse_shebang(b"#!lua flags=x\n").unwrap_err(),
            "Unexpected flag in script shebang: x"
        );
    }

    #[test]
    fn sha_of_empty() {
        assert_eq!(&sha1hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
