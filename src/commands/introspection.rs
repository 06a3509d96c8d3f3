//! Introspection: COMMAND (from the table's data), SLOWLOG, LATENCY, MONITOR.

use super::connection::reply_help;
use super::getkeys;
use super::meta::{self, CommandMeta};
use super::{Args, Handler};
use crate::server::client::{Client, ReplyMode};
use crate::server::stats::SlowlogEntry;
use crate::server::Server;
use crate::util::glob::glob_match;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("command", command_command),
    ("command|count", command_count_command),
    ("command|info", command_info_command),
    ("command|docs", command_docs_command),
    ("command|list", command_list_command),
    ("command|getkeys", command_getkeys_command),
    ("command|getkeysandflags", command_getkeysandflags_command),
    ("command|help", command_help_command),
    ("slowlog|get", slowlog_get_command),
    ("slowlog|len", slowlog_len_command),
    ("slowlog|reset", slowlog_reset_command),
    ("slowlog|help", slowlog_help_command),
    ("latency|latest", latency_latest_command),
    ("latency|history", latency_history_command),
    ("latency|reset", latency_reset_command),
    ("latency|doctor", latency_doctor_command),
    ("latency|help", latency_help_command),
    ("latency|histogram", latency_histogram_command),
    ("monitor", monitor_command),
];

/// Metadata of every implemented top-level command, in table order.
fn implemented(srv: &Server) -> Vec<&'static CommandMeta> {
    let mut v: Vec<&'static CommandMeta> = srv
        .commands
        .top_level()
        .map(|i| srv.commands.cmds[i].meta)
        .collect();
    v.sort_by_key(|m| m.name);
    v
}

/// Finds an implemented command or subcommand by name ("get", "client|list").
fn find(srv: &mut Server, name: &[u8]) -> Option<&'static CommandMeta> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((p, sub)) => {
            let pi = srv.commands.lookup(p.as_bytes())?;
            let si = srv.commands.lookup_sub(pi, sub.as_bytes())?;
            Some(srv.commands.cmds[si].meta)
        }
        None => {
            let i = srv.commands.lookup(s.as_bytes())?;
            Some(srv.commands.cmds[i].meta)
        }
    }
}

/// COMMAND: every command's info entry.
fn command_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let all = implemented(srv);
    c.out.array(all.len());
    for m in all {
        m.info.write_resp(&mut c.out.buf, c.out.resp3);
    }
}

fn command_count_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.commands.top_level().count() as i64);
}

fn command_info_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() == 2 {
        return command_command(srv, c, args);
    }
    c.out.array(args.len() - 2);
    for name in args.iter_from(2) {
        match find(srv, name) {
            Some(m) => m.info.write_resp(&mut c.out.buf, c.out.resp3),
            // addReplyNull: `$-1` in RESP2.
            None => c.out.null(),
        }
    }
}

fn command_docs_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let list: Vec<&'static CommandMeta> = if args.len() == 2 {
        implemented(srv)
    } else {
        args.iter_from(2)
            .filter_map(|n| find(srv, n))
            .collect::<Vec<_>>()
    };
    c.out.map(list.len());
    for m in list {
        c.out.bulk(m.name.as_bytes());
        m.docs.write_resp(&mut c.out.buf, c.out.resp3);
    }
}

fn command_list_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let all = implemented(srv);
    let mut names: Vec<&'static str> = Vec::new();
    let push_all = |names: &mut Vec<&'static str>, m: &'static CommandMeta| {
        names.push(m.name);
        for s in m.subcommands {
            names.push(s.name);
        }
    };
    if args.len() == 2 {
        for m in all {
            push_all(&mut names, m);
        }
    } else if args.len() == 5 && args.is(2, "filterby") {
        let val = args.get(4);
        for m in all {
            let mut cands = vec![m];
            cands.extend(m.subcommands.iter());
            for x in cands {
                let keep = if args.is(3, "module") {
                    false
                } else if args.is(3, "aclcat") {
                    meta::ACL_CATEGORIES
                        .iter()
                        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(val))
                        .is_some_and(|&(_, b)| x.acl_categories & b != 0)
                } else if args.is(3, "pattern") {
                    glob_match(val, x.name.as_bytes(), true)
                } else {
                    c.out.err("ERR syntax error");
                    return;
                };
                if keep {
                    names.push(x.name);
                }
            }
        }
    } else {
        c.out.err("ERR syntax error");
        return;
    }
    c.out.array(names.len());
    for n in names {
        c.out.bulk(n.as_bytes());
    }
}

/// The command a call names, as lookupCommand finds it: a container followed by an argument
/// names that subcommand (or nothing when it has no such subcommand). `args[from]` is the
/// call's command name.
fn find_call(srv: &Server, args: &Args, from: usize) -> Option<&'static CommandMeta> {
    let i = srv.commands.lookup(args.get(from))?;
    if args.len() - from == 1 || srv.commands.cmds[i].subcommands.is_empty() {
        return Some(srv.commands.cmds[i].meta);
    }
    let s = srv.commands.lookup_sub(i, args.get(from + 1))?;
    Some(srv.commands.cmds[s].meta)
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS (getKeysSubcommandImpl): the keys of the call that
/// follows, found by the table's key specs or the command's getkeys procedure, each with
/// its key flags when asked.
fn getkeys_generic(srv: &mut Server, c: &mut Client, args: &Args, with_flags: bool) {
    let Some(m) = find_call(srv, args, 2) else {
        return c.out.err("ERR Invalid command specified");
    };
    if !getkeys::has_keys(m) {
        return c.out.err("ERR The command has no key arguments");
    }
    if !m.arity_ok(args.len() - 2) {
        return c
            .out
            .err("ERR Invalid number of arguments specified for command");
    }
    let argv: Vec<&[u8]> = args.iter_from(2).collect();
    let keys = getkeys::get_keys(m, &argv);
    if keys.is_empty() && !m.has(meta::FLAG_NO_MANDATORY_KEYS) {
        return c.out.err("ERR Invalid arguments specified for command");
    }
    c.out.array(keys.len());
    for k in keys {
        if with_flags {
            c.out.array(2);
            c.out.bulk(argv[k.pos]);
            let names = meta::KEY_FLAG_NAMES
                .iter()
                .filter(|(_, b)| k.flags & b != 0);
            c.out.set(names.clone().count());
            for (name, _) in names {
                c.out.simple(name);
            }
        } else {
            c.out.bulk(argv[k.pos]);
        }
    }
}

fn command_getkeys_command(srv: &mut Server, c: &mut Client, args: &Args) {
    getkeys_generic(srv, c, args, false);
}

fn command_getkeysandflags_command(srv: &mut Server, c: &mut Client, args: &Args) {
    getkeys_generic(srv, c, args, true);
}

fn command_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

/// Records a command in the slow log when it took at least `slowlog-log-slower-than` µs.
#[inline]
pub fn slowlog_push(srv: &mut Server, c: &Client, args: &Args, dur_us: u64) {
    let threshold = srv.config.slowlog_log_slower_than;
    if threshold < 0 || (dur_us as i64) < threshold {
        return;
    }
    slowlog_record(srv, c, args, dur_us);
}

/// The slow part of `slowlog_push`: builds and stores the entry.
#[cold]
fn slowlog_record(srv: &mut Server, c: &Client, args: &Args, dur_us: u64) {
    const MAX_ARGC: usize = 32;
    const MAX_STRING: usize = 128;
    let argc = args.len();
    let shown = argc.min(MAX_ARGC);
    let mut argv = Vec::with_capacity(shown);
    for i in 0..shown {
        if shown != argc && i == shown - 1 {
            argv.push(format!("... ({} more arguments)", argc - shown + 1).into_bytes());
            break;
        }
        let a = args.get(i);
        let a: &[u8] = if super::acl::is_redacted(args, i) {
            b"(redacted)"
        } else {
            a
        };
        if a.len() > MAX_STRING {
            let mut v = a[..MAX_STRING].to_vec();
            v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            argv.push(v);
        } else {
            argv.push(a.to_vec());
        }
    }
    let entry = SlowlogEntry {
        id: srv.slowlog_next_id,
        time: srv.cmd_time_ms / 1000,
        duration_us: dur_us,
        argv,
        peer: c.addr.clone(),
        name: c
            .name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default(),
    };
    srv.slowlog_next_id += 1;
    srv.slowlog.push_front(entry);
    let max = srv.config.slowlog_max_len as usize;
    srv.slowlog.truncate(max);
}

fn slowlog_get_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut count: usize = 10;
    if args.len() == 3 {
        // getRangeLongFromObjectOrReply(-1, LONG_MAX) with its own message, which Redis also
        // sends for a count that is no integer.
        match crate::util::num::parse_i64(args.get(2)) {
            Some(n) if n >= -1 => {
                count = if n == -1 { usize::MAX } else { n as usize };
            }
            _ => return c.out.err("ERR count should be greater than or equal to -1"),
        }
    } else if args.len() > 3 {
        return c
            .out
            .err("ERR wrong number of arguments for 'slowlog|get' command");
    }
    let n = count.min(srv.slowlog.len());
    c.out.array(n);
    for e in srv.slowlog.iter().take(n) {
        c.out.array(6);
        c.out.int(e.id as i64);
        c.out.int(e.time);
        c.out.int(e.duration_us as i64);
        c.out.array(e.argv.len());
        for a in &e.argv {
            c.out.bulk(a);
        }
        c.out.bulk(e.peer.as_bytes());
        c.out.bulk(e.name.as_bytes());
    }
}

fn slowlog_len_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.slowlog.len() as i64);
}

fn slowlog_reset_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    srv.slowlog.clear();
    c.out.ok();
}

fn slowlog_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

/// Records a latency sample for `event` when it reached `latency-monitor-threshold` ms.
pub fn latency_add_sample(srv: &mut Server, event: &'static str, ms: u64) {
    let threshold = srv.config.latency_monitor_threshold;
    if threshold == 0 || (ms as i64) < threshold {
        return;
    }
    let now = srv.cmd_time_ms / 1000;
    let series = srv.latency.entry(event).or_default();
    if let Some(last) = series.samples.back_mut() {
        if last.0 == now {
            last.1 = last.1.max(ms);
            series.max = series.max.max(ms);
            return;
        }
    }
    series.samples.push_back((now, ms));
    if series.samples.len() > 160 {
        series.samples.pop_front();
    }
    series.max = series.max.max(ms);
}

fn latency_latest_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.array(srv.latency.len());
    let mut events: Vec<_> = srv.latency.iter().collect();
    events.sort_by_key(|(k, _)| **k);
    for (name, s) in events {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        c.out.array(4);
        c.out.bulk(name.as_bytes());
        c.out.int(t);
        c.out.int(ms as i64);
        c.out.int(s.max as i64);
    }
}

fn latency_history_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    match srv.latency.get(name.as_str()) {
        None => c.out.array(0),
        Some(s) => {
            c.out.array(s.samples.len());
            for &(t, ms) in &s.samples {
                c.out.array(2);
                c.out.int(t);
                c.out.int(ms as i64);
            }
        }
    }
}

fn latency_reset_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() == 2 {
        let n = srv.latency.len();
        srv.latency.clear();
        return c.out.int(n as i64);
    }
    let mut n = 0;
    for name in args.iter_from(2) {
        let name = String::from_utf8_lossy(name).into_owned();
        if srv.latency.remove(name.as_str()).is_some() {
            n += 1;
        }
    }
    c.out.int(n);
}

fn latency_doctor_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let text = if srv.latency.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better.\n".to_string()
    } else {
        let mut t = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, s)) in srv.latency.iter().enumerate() {
            t.push_str(&format!(
                "{}. {}: {} latency spikes (average {}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.\n",
                i + 1,
                name,
                s.samples.len(),
                s.samples.iter().map(|x| x.1).sum::<u64>() / s.samples.len().max(1) as u64,
                s.max
            ));
        }
        t
    };
    c.out.verbatim(text.as_bytes(), "txt");
}

/// LATENCY HISTOGRAM [command ...]: each command's calls and the cumulative distribution of
/// their durations. Without arguments every command (and subcommand) with recorded calls is
/// listed; a named container lists itself and its subcommands; unknown names are skipped.
/// Redis lists commands in its command dict's order, which is random per process; we list
/// them by name, and named commands in the order given.
fn latency_histogram_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let cmds = &srv.commands.cmds;
    let has_data = |i: &usize| cmds[*i].latency.is_some();
    let by_name = |v: &mut Vec<usize>| v.sort_by_key(|&i| cmds[i].meta.name);
    let mut picked: Vec<usize> = Vec::new();
    if args.len() == 2 {
        picked.extend((0..cmds.len()).filter(has_data));
        by_name(&mut picked);
    } else {
        for name in args.iter_from(2) {
            let Some(i) = srv.commands.lookup_fullname(name) else {
                continue;
            };
            picked.extend(Some(i).filter(has_data));
            let mut subs: Vec<usize> = cmds[i]
                .subcommands
                .iter()
                .map(|s| s.1)
                .filter(has_data)
                .collect();
            by_name(&mut subs);
            picked.extend(subs);
        }
    }
    c.out.map(picked.len());
    for i in picked {
        let cmd = &srv.commands.cmds[i];
        c.out.bulk(cmd.meta.name.as_bytes());
        if let Some(h) = cmd.latency.as_deref() {
            fill_command_cdf(c, h);
        }
    }
}

/// One command's entry of LATENCY HISTOGRAM (fillCommandCDF): `calls`, and `histogram_usec`
/// mapping each power-of-two step from 1024 ns (printed in whole microseconds, as the
/// highest value of the histogram counter the step lands on: 1, 2, 4, 8, 16, 33, 66, ...)
/// to the number of calls up to it, leaving out steps that add no calls.
fn fill_command_cdf(c: &mut Client, h: &crate::util::histogram::Histogram) {
    let mut steps: Vec<(u64, u64)> = Vec::new();
    let mut previous = 0;
    for (highest_ns, cumulative) in h.log_steps(1024, 2) {
        if cumulative > previous {
            steps.push((highest_ns / 1000, cumulative));
        }
        previous = cumulative;
    }
    c.out.map(2);
    c.out.bulk(b"calls");
    c.out.int(h.total_count() as i64);
    c.out.bulk(b"histogram_usec");
    c.out.map(steps.len());
    for (usec, count) in steps {
        c.out.int(usec as i64);
        c.out.int(count as i64);
    }
}

fn latency_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
}

/// MONITOR: this client receives every command from now on.
fn monitor_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if c.monitor {
        return;
    }
    c.monitor = true;
    srv.monitors.push(c.token);
    c.out.ok();
}

/// Sends the command that just ran to every MONITOR client (replicationFeedMonitors),
/// including `c` itself when it is one (its line goes after its reply). A monitor under
/// CLIENT REPLY OFF gets nothing: the feed is output like any reply, not a push; `c`'s own
/// line is dropped with its reply when that is discarded.
pub fn feed_monitors(srv: &mut Server, c: &mut Client, args: &Args) {
    let now = crate::util::ustime();
    let line = format!(
        "+{}.{:06} [{} {}]",
        now / 1_000_000,
        now % 1_000_000,
        c.db,
        if c.is_unix {
            format!("unix:{}", srv.config.unixsocket.as_deref().unwrap_or(""))
        } else {
            c.addr.clone()
        }
    );
    let mut line = line.into_bytes();
    for (i, a) in args.iter_from(0).enumerate() {
        line.push(b' ');
        let a: &[u8] = if super::acl::is_redacted(args, i) {
            b"(redacted)"
        } else {
            a
        };
        crate::util::splitargs::cat_repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    if c.monitor {
        c.out.raw(&line);
    }
    let monitors = srv.monitors.clone();
    for t in monitors {
        if let Some(Some(m)) = srv.clients.get_mut(t) {
            if m.reply_mode == ReplyMode::Off {
                continue;
            }
            m.out.raw(&line);
            m.queue_write(&mut srv.pending_writes);
        }
    }
}
