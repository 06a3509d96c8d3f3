//! The script cache (eval.c's `lua_scripts` dict): SHA1 -> body and flags.
//!
//! ```text
//!  ScriptCache
//!  +--------------------------------------------+
//!  | by_sha: [20-byte binary SHA1] -> Script     |   Script { hex, body, flags, lua_ref }
//!  |         (hashed by its first 8 bytes: a     |   the compiled chunk lives in the Lua
//!  |          SHA1 is already uniform)           |   registry at integer key `lua_ref`
//!  | mem:    bytes of bodies + keys (INFO)       |
//!  +--------------------------------------------+
//! ```
//!
//! EVALSHA's argument is decoded from hex on the stack (any letter case, its first 40
//! characters, as Redis compares them), so finding a script allocates nothing and hashes 8
//! bytes. The body is kept so SCRIPT EXISTS can answer and so EVALSHA could be rewritten as
//! EVAL; the flags come from the `#!lua flags=...` shebang.

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
    /// Its SHA1 as 40 lower-case hex digits (error messages, logs).
    pub hex: [u8; 40],
    pub body: Vec<u8>,
    pub flags: u64,
    /// The registry slot of its compiled function (luaL_ref).
    pub lua_ref: std::os::raw::c_int,
}

/// A binary SHA1 as a map key: its hash is its first 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShaKey([u8; 20]);

impl std::hash::Hash for ShaKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(w));
    }
}

/// The hasher of [`ShaKey`]: keeps the one word it is given.
#[derive(Default)]
pub struct ShaHasher(u64);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only ShaKey is hashed here, through write_u64; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// SHA1 -> script.
#[derive(Default)]
pub struct ScriptCache {
    by_sha: HashMap<ShaKey, Script, std::hash::BuildHasherDefault<ShaHasher>>,
    /// Bytes held by bodies and keys (INFO used_memory_scripts_eval's body part).
    pub mem: usize,
}

impl ScriptCache {
    /// Adds a script (already compiled into the Lua registry at `lua_ref`).
    pub fn add(&mut self, hex: [u8; 40], body: &[u8], flags: u64, lua_ref: std::os::raw::c_int) {
        let Some(key) = sha_key(&hex) else {
            return;
        };
        self.mem += body.len() + 40;
        self.by_sha.insert(
            key,
            Script {
                hex,
                body: body.to_vec(),
                flags,
                lua_ref,
            },
        );
    }

    /// The script whose SHA1 is the hex text `sha` (EVALSHA's argument: its first 40
    /// characters in any letter case; a shorter one or one that is not hex matches nothing).
    #[inline]
    pub fn get(&self, sha: &[u8]) -> Option<&Script> {
        self.by_sha.get(&sha_key(sha)?)
    }

    /// True when the script `sha` (as [`ScriptCache::get`] reads it) is cached.
    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// How many scripts are cached.
    pub fn len(&self) -> usize {
        self.by_sha.len()
    }

    /// True when no script is cached.
    pub fn is_empty(&self) -> bool {
        self.by_sha.is_empty()
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

/// The cache key for an EVALSHA argument: its first 40 characters decoded from hex in any
/// letter case (Redis copies 40 characters whatever the length and compares them lowered;
/// a shorter argument, or one that is not hex, never matches a real SHA1).
pub fn sha_key(arg: &[u8]) -> Option<ShaKey> {
    let hex = arg.get(..40)?;
    let mut k = [0u8; 20];
    let mut bad = 0u8;
    for (d, pair) in k.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(pair[0])],
            HEX_VALUE[usize::from(pair[1])],
        );
        bad |= hi | lo;
        *d = (hi << 4) | (lo & 15);
    }
    // A byte that is not a hex digit maps to 0xFF: its high bits mark the whole key bad.
    (bad & 0xF0 == 0).then_some(ShaKey(k))
}

/// A hex digit's value (either case), 0xFF for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

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
    fn sha_keys_decode_hex_in_any_case() {
        let hex = sha1hex(b"return 1");
        let upper = hex.to_ascii_uppercase();
        assert!(sha_key(&hex) == sha_key(&upper));
        let mut longer = hex.to_vec();
        longer.extend_from_slice(b"zz");
        assert!(sha_key(&longer) == sha_key(&hex));
        assert!(sha_key(&hex[..39]).is_none());
        let mut bad = hex;
        bad[5] = b'g';
        assert!(sha_key(&bad).is_none());
        let mut c = ScriptCache::default();
        c.add(hex, b"return 1", 0, 7);
        assert_eq!(c.get(&upper).map(|s| s.lua_ref), Some(7));
        assert_eq!(c.get(&upper).map(|s| s.hex), Some(hex));
        assert!(!c.contains(&sha1hex(b"return 2")));
    }

    #[test]
    fn sha_of_empty() {
        assert_eq!(&sha1hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
