//! ACL checks of the commands scripts and functions call (issue 20): redis.call of a command,
//! key or channel the calling user may not use fails with Redis 7.0's texts, is logged in ACL
//! LOG with context "lua", and redis.acl_check_cmd answers for the calling user.

mod common;

use common::*;

/// Masks what depends on the clock or the connection in a RESP2 ACL LOG reply: age-seconds,
/// and the connection's id, addresses, fd, ages and sizes in client-info.
fn mask_log(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply).to_string();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_string());
        if lines[i] == "age-seconds\r" {
            out.push("X".into());
            i += 3;
            continue;
        }
        if lines[i] == "client-info\r" && i + 2 < lines.len() {
            let masked: Vec<String> = lines[i + 2]
                .trim_end_matches('\r')
                .split(' ')
                .map(|f| match f.split_once('=') {
                    Some((k, _))
                        if matches!(
                            k,
                            "id" | "addr"
                                | "laddr"
                                | "fd"
                                | "age"
                                | "idle"
                                | "qbuf-free"
                                | "tot-mem"
                        ) =>
                    {
                        format!("{k}=X")
                    }
                    _ => f.to_string(),
                })
                .collect();
            out.push("X".into());
            out.push(masked.join(" "));
            i += 3;
            continue;
        }
        i += 1;
    }
    out.join("\n").into_bytes()
}

#[test]
fn inner_calls_are_checked_for_the_calling_user() {
    let mut admin = Diff::new();
    admin.run(
        "ACL SETUSER u on nopass +@all -set -config|set ~k* &ch* -function
         FUNCTION LOAD \"#!lua name=lib\\nredis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)\\nredis.register_function('pub', function(keys, args) return redis.call('publish', args[1], 'm') end)\"
         ACL LOG RESET",
    );
    let mut d = admin.another();
    d.cmd(&["AUTH", "u", "x"]);
    d.run(
        "EVAL \"return redis.call('set','k1','v')\" 0
         EVAL \"return redis.call('get','x')\" 0
         EVAL \"return redis.call('get','k1')\" 0
         EVAL \"return redis.call('publish','other','m')\" 0
         EVAL \"return redis.call('publish','chan','m')\" 0
         EVAL \"return redis.pcall('set','k1','v')\" 0
         EVAL \"return redis.pcall('config','set','maxmemory','0')\" 0
         EVAL \"return redis.pcall('config','get','maxmemory')\" 0
         EVAL \"return redis.call('mset','k1','a','x','b')\" 0
         EVAL \"return redis.acl_check_cmd('set','k','v')\" 0
         EVAL \"return redis.acl_check_cmd('get','x')\" 0
         EVAL \"return redis.acl_check_cmd('get','k')\" 0
         EVAL \"return redis.acl_check_cmd('nosuch')\" 0
         EVALSHA_RO nosuchsha1nosuchsha1nosuchsha1nosuchsha1 0
         FCALL setter 1 k1 v
         FCALL pub 0 other
         FCALL pub 0 chan
         EVAL \"return redis.call('config','set','x','y')\" 0",
    );
    // Each denial is in ACL LOG with context lua, the inner command as the object, the
    // caller's EVAL or FCALL in client-info.
    let (f, r) = admin.both(&["ACL", "LOG"]);
    assert_same("ACL LOG", &mask_log(&f), &mask_log(&r));
    assert!(String::from_utf8_lossy(&f).contains("lua"));
    // The default user is not restricted.
    admin.run(
        "EVAL \"return redis.call('set','x','v')\" 0
         EVAL \"return redis.acl_check_cmd('set','x','v')\" 0",
    );
}
