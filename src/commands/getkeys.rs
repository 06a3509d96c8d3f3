//! Finding the keys of a call without running it (db.c's getKeysFromCommandWithSpecs), for
//! COMMAND GETKEYS and COMMAND GETKEYSANDFLAGS.
//!
//! Two sources, tried in Redis's order:
//!
//! ```text
//!   key specs (meta.rs, KeySpec)          used when the command has a spec that is a real key
//!     begin_search: index | keyword       and no spec says variable_flags; a spec that cannot
//!     find_keys:    range | keynum        be applied (unknown form, bad numkeys, out of range,
//!     flags: RO RW OW RM access ...       incomplete) sends the search to ...
//!                                   \
//!   getkeys procedures (`procedure`)       ... the command's own procedure: SORT's STORE, SET's
//!                                          GET, BITFIELD's subcommands, numkeys parsed by atoi
//! ```
//!
//! Positions are indexes into the call's argv, whose element 0 is the command name.

use super::keys::cstr;
use super::meta::{
    BeginSearch, CommandMeta, FindKeys, KeySpec, KEY_ACCESS, KEY_DELETE, KEY_INCOMPLETE,
    KEY_NOT_KEY, KEY_OW, KEY_RO, KEY_RW, KEY_UPDATE, KEY_VARIABLE_FLAGS,
};
use crate::util::num::atoi;

/// One key of a call: its index in argv and the `KEY_*` flags of how the command uses it
/// (0 when a procedure does not tell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Index into argv (0 is the command name).
    pub pos: usize,
    /// Bit set of `KEY_*` flags.
    pub flags: u32,
}

/// A getkeys procedure: argv (command name first) to keys.
type Procedure = fn(&[&[u8]]) -> Vec<KeyRef>;

/// The command's getkeys procedure, as Redis 7.0's table assigns them. Only the commands
/// whose key specs cannot always say where the keys are, or with which flags, have one.
fn procedure(m: &CommandMeta) -> Option<Procedure> {
    Some(match m.name {
        // (store key, numkeys, first key, step), as genericGetKeys takes them.
        "sintercard" | "zunion" | "zinter" | "zdiff" | "zintercard" | "lmpop" | "zmpop" => {
            |a| numkeys_keys(a, 0, 1, 2)
        }
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => |a| numkeys_keys(a, 0, 2, 3),
        "zunionstore" | "zinterstore" | "zdiffstore" => |a| numkeys_keys(a, 1, 2, 3),
        "sort" => sort_keys,
        "sort_ro" => |_| {
            vec![KeyRef {
                pos: 1,
                flags: KEY_RO | KEY_ACCESS,
            }]
        },
        "set" => set_keys,
        "bitfield" => bitfield_keys,
        "migrate" => migrate_keys,
        "georadius" | "georadiusbymember" => georadius_keys,
        "xread" | "xreadgroup" => xread_keys,
        _ => return None,
    })
}

/// doesCommandHaveKeys: a procedure, or a spec for something that is a key (not a shard
/// channel).
pub fn has_keys(m: &CommandMeta) -> bool {
    procedure(m).is_some() || m.key_specs.iter().any(|s| s.flags & KEY_NOT_KEY == 0)
}

/// Where the one key of a command whose calls always have exactly one key at a fixed
/// position is (GET, HGET, LRANGE...): a single key spec at a fixed index with no range, no
/// variable flags and no getkeys procedure. For such a command `get_keys` returns that
/// position whenever the call is long enough, so hot paths (client-side caching) can skip
/// building an argv vector. None for every other command.
pub fn single_key_pos(m: &CommandMeta) -> Option<usize> {
    if procedure(m).is_some() || m.key_specs.len() != 1 {
        return None;
    }
    let spec = &m.key_specs[0];
    if spec.flags & (KEY_NOT_KEY | KEY_VARIABLE_FLAGS | KEY_INCOMPLETE) != 0 {
        return None;
    }
    match (spec.begin, spec.find) {
        (BeginSearch::Index(i), FindKeys::Range { lastkey: 0, .. }) if i >= 1 => {
            usize::try_from(i).ok()
        }
        _ => None,
    }
}

/// The keys of the call `argv` (getKeysFromCommandWithSpecs): from the key specs when they
/// apply and their flags are fixed, else from the command's procedure; empty when neither
/// finds any. `argv` must satisfy the command's arity.
pub fn get_keys(m: &CommandMeta, argv: &[&[u8]]) -> Vec<KeyRef> {
    let real_spec = m.key_specs.iter().any(|s| s.flags & KEY_NOT_KEY == 0);
    let variable = m
        .key_specs
        .iter()
        .any(|s| s.flags & KEY_VARIABLE_FLAGS != 0);
    if real_spec && !variable {
        if let Some(keys) = keys_from_specs(m.key_specs, argv) {
            return keys;
        }
    }
    procedure(m).map(|p| p(argv)).unwrap_or_default()
}

/// getKeysUsingKeySpecs: every spec in order (shard-channel specs skipped); None when one
/// cannot be applied to this call or is incomplete.
fn keys_from_specs(specs: &[KeySpec], argv: &[&[u8]]) -> Option<Vec<KeyRef>> {
    // Redis computes positions in C int; argc is far below i32::MAX (the query buffer
    // limit), so only the numkeys argument needs care.
    let argc = i32::try_from(argv.len()).ok()?;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags & KEY_NOT_KEY != 0 {
            continue;
        }
        let first = match spec.begin {
            BeginSearch::Index(pos) => pos,
            BeginSearch::Keyword { keyword, startfrom } => {
                match find_keyword(argv, argc, keyword, startfrom) {
                    Some(i) => i + 1,
                    // Keyword absent: this spec has no keys in this call.
                    None => continue,
                }
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    // Only lastkey -1 takes a limit: the first 1/limit of what remains.
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                if keynumidx >= argc {
                    return None;
                }
                let at = usize::try_from(first + keynumidx).ok()?;
                let n = crate::util::num::parse_i64(argv.get(at)?).filter(|&n| n >= 0)?;
                let first = first + firstkey;
                // Redis casts numkeys to int: a count of 2^32 + 1 reads as 1.
                (first, first.wrapping_add(n as i32).wrapping_sub(1), keystep)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc || step <= 0 {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push(KeyRef {
                pos: i as usize,
                flags: spec.flags,
            });
            i += step;
        }
        if spec.flags & KEY_INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}

/// Index of `keyword` for a keyword begin_search: searched from `startfrom` up to (not
/// including) the last argument, or, for a negative `startfrom`, from `argc + startfrom`
/// down to (not including) argument 1; arguments compare as C strings, ignoring case.
fn find_keyword(argv: &[&[u8]], argc: i32, keyword: &str, startfrom: i32) -> Option<i32> {
    let (start, end) = if startfrom > 0 {
        (startfrom, argc - 1)
    } else {
        (argc + startfrom, 1)
    };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            return None;
        }
        if cstr(argv[i as usize]).eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i = if start <= end { i + 1 } else { i - 1 };
    }
    None
}

/// genericGetKeys: `numkeys` keys counted by the argument at `count_at` (read with atoi),
/// from `first_at` on, plus the destination at `store_at` (0 for none). No flags: the specs
/// of these commands carry them. No keys when the count is below 1 or past the arguments.
fn numkeys_keys(argv: &[&[u8]], store_at: usize, count_at: usize, first_at: usize) -> Vec<KeyRef> {
    let Some(count) = argv.get(count_at) else {
        return Vec::new();
    };
    let n = atoi(count);
    let room = argv.len().saturating_sub(first_at);
    if n < 1 || n as usize > room {
        return Vec::new();
    }
    let mut keys: Vec<KeyRef> = (0..n as usize)
        .map(|i| KeyRef {
            pos: first_at + i,
            flags: 0,
        })
        .collect();
    if store_at != 0 {
        keys.push(KeyRef {
            pos: store_at,
            flags: 0,
        });
    }
    keys
}

/// sortGetKeys: the sorted key, and the destination of the last STORE that has a value. The
/// scan skips the arguments of LIMIT (2), GET and BY (1) so that a pattern or a number
/// spelled "store" is not taken for the option.
fn sort_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut keys = vec![KeyRef {
        pos: 1,
        flags: KEY_RO | KEY_ACCESS,
    }];
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = cstr(argv[i]);
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store.map(|pos| KeyRef {
        pos,
        flags: KEY_OW | KEY_UPDATE,
    }));
    keys
}

/// setGetKeys: the key is read too when a GET option follows the value.
fn set_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let get = argv
        .iter()
        .skip(3)
        .any(|a| cstr(a).eq_ignore_ascii_case(b"get"));
    let flags = if get {
        KEY_RW | KEY_ACCESS | KEY_UPDATE
    } else {
        KEY_OW | KEY_UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

/// bitfieldGetKeys: read-only when every operation is a complete GET (or OVERFLOW); any SET,
/// INCRBY or malformed operation makes it a write.
fn bitfield_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut readonly = true;
    let mut i = 2;
    while i < argv.len() {
        let rem = argv.len() - i - 1;
        let a = cstr(argv[i]);
        if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
            i += 2;
        } else if (a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby")) && rem >= 3
        {
            readonly = false;
            break;
        } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
            i += 1;
        } else {
            readonly = false;
            break;
        }
        i += 1;
    }
    let flags = if readonly {
        KEY_RO | KEY_ACCESS
    } else {
        KEY_RW | KEY_ACCESS | KEY_UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

/// migrateGetKeys: argument 3, or with the KEYS option (and an empty argument 3) every
/// argument after KEYS; COPY, REPLACE, AUTH and AUTH2 are stepped over while searching.
fn migrate_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let (mut first, mut num) = (3, 1);
    if argv.len() > 6 {
        let mut i = 6;
        while i < argv.len() {
            let a = cstr(argv[i]);
            if a.eq_ignore_ascii_case(b"keys") {
                if argv[3].is_empty() {
                    first = i + 1;
                    num = argv.len() - first;
                } else {
                    num = 0;
                }
                break;
            }
            if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (first..first + num)
        .map(|pos| KeyRef {
            pos,
            flags: KEY_RW | KEY_ACCESS | KEY_DELETE,
        })
        .collect()
}

/// georadiusGetKeys: the key, and the last STORE / STOREDIST destination from argument 5 on.
fn georadius_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut keys = vec![KeyRef { pos: 1, flags: 0 }];
    let mut stored = None;
    let mut i = 5;
    while i < argv.len() {
        let a = cstr(argv[i]);
        if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < argv.len()
        {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(stored.map(|pos| KeyRef { pos, flags: 0 }));
    keys
}

/// xreadGetKeys: after the options, STREAMS is followed by N keys and N IDs.
fn xread_keys(argv: &[&[u8]]) -> Vec<KeyRef> {
    let mut streams = None;
    let mut i = 1;
    while i < argv.len() {
        let a = cstr(argv[i]);
        if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"streams") {
            streams = Some(i);
            break;
        } else if !a.eq_ignore_ascii_case(b"noack") {
            break;
        }
        i += 1;
    }
    let Some(at) = streams else {
        return Vec::new();
    };
    let rest = argv.len() - at - 1;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Vec::new();
    }
    (at + 1..at + 1 + rest / 2)
        .map(|pos| KeyRef { pos, flags: 0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::meta::{lookup, lookup_fullname, COMMANDS};

    fn keys(line: &str) -> Vec<(usize, u32)> {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let m = lookup_fullname(argv[0].to_ascii_lowercase().as_slice()).unwrap();
        get_keys(m, &argv)
            .into_iter()
            .map(|k| (k.pos, k.flags))
            .collect()
    }

    #[test]
    fn specs_and_procedures() {
        assert_eq!(keys("get k"), [(1, KEY_RO | KEY_ACCESS)]);
        assert_eq!(
            keys("mset a 1 b 2"),
            [(1, KEY_OW | KEY_UPDATE), (3, KEY_OW | KEY_UPDATE)]
        );
        let ro = KEY_RO | KEY_ACCESS;
        assert_eq!(
            keys("zunionstore d 2 a b"),
            [(1, KEY_OW | KEY_UPDATE), (3, ro), (4, ro)]
        );
        // A bad count sends the search to the procedure, which reads the count with atoi.
        assert_eq!(keys("zunionstore d 1x a"), [(3, 0), (1, 0)]);
        assert_eq!(keys("zunionstore d 0 a"), []);
        assert_eq!(keys("zunionstore d 3 a"), []);
        // (int)numkeys: 2^32 + 1 keys is one key.
        assert_eq!(keys("zunion 4294967297 a"), [(2, ro)]);
        assert_eq!(keys("set k v"), [(1, KEY_OW | KEY_UPDATE)]);
        assert_eq!(
            keys("set k v ex 1 GeT"),
            [(1, KEY_RW | KEY_ACCESS | KEY_UPDATE)]
        );
        assert_eq!(keys("bitfield k get u8 0"), [(1, ro)]);
        assert_eq!(
            keys("bitfield k get u8"),
            [(1, KEY_RW | KEY_ACCESS | KEY_UPDATE)]
        );
        assert_eq!(
            keys("sort k limit 0 1 store d"),
            [(1, ro), (6, KEY_OW | KEY_UPDATE)]
        );
        assert_eq!(keys("sort k by store"), [(1, ro)]);
        assert_eq!(keys("xread count 2 streams a b 0 0"), [(4, ro), (5, ro)]);
        // Three arguments after STREAMS: the range stops at the first half, rounded down.
        assert_eq!(keys("xread streams a b 0"), [(2, ro)]);
        assert_eq!(keys("georadius k 0 0 1 m store"), [(1, ro)]);
        assert_eq!(
            keys("georadius k 0 0 1 m store d"),
            [(1, ro), (7, KEY_OW | KEY_UPDATE)]
        );
        let mig = KEY_RW | KEY_ACCESS | KEY_DELETE;
        assert_eq!(keys("migrate h 1 k 0 5"), [(3, mig)]);
        assert_eq!(keys("migrate h 1  0 5 keys a b"), [(7, mig), (8, mig)]);
        assert_eq!(keys("spublish ch m"), []);
    }

    #[test]
    fn every_movable_command_has_a_way_to_its_keys() {
        // A command whose keys move has a procedure, or only keyword/keynum specs the
        // search can apply on its own (none of 7.0's lack a procedure).
        for m in COMMANDS {
            if m.has(crate::commands::meta::FLAG_MOVABLEKEYS) {
                assert!(procedure(m).is_some(), "{}", m.name);
            }
        }
        assert!(has_keys(lookup(b"get").unwrap()));
        assert!(!has_keys(lookup(b"spublish").unwrap()));
        assert!(!has_keys(lookup(b"ping").unwrap()));
    }
}
