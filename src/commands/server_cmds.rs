//! Server commands: DBSIZE FLUSHDB FLUSHALL TIME CONFIG SHUTDOWN LOLWUT DEBUG MEMORY
//! (server.c, config.c's command wrappers, debug.c, object.c's MEMORY, lolwut*.c).
//!
//! CONFIG's logic lives in `crate::config`; the handlers here only parse arguments, reply, and
//! apply the side effects a changed parameter has on the running server (log level, clients'
//! authentication when the password goes away).

use super::connection::{reply_help, subcommand_syntax_error};
use super::{Args, Handler};
use crate::ds::sds::Sds;
use crate::log_warning;
use crate::server::alloc::{rss, used_memory};
use crate::server::client::Client;
use crate::server::stats::{CmdStat, Stats};
use crate::server::{Server, REDIS_VERSION};
use crate::types::object::RObj;
use crate::util::num::{atoi, parse_i64};
use std::fmt::Write as _;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("module|list", module_list_command),
    ("module|load", module_load_command),
    ("module|loadex", module_load_command),
    ("module|unload", module_unload_command),
    ("module|help", module_help_command),
    ("dbsize", dbsize_command),
    ("flushdb", flushdb_command),
    ("flushall", flushall_command),
    ("time", time_command),
    ("config|get", config_get_command),
    ("config|set", config_set_command),
    ("config|resetstat", config_resetstat_command),
    ("config|rewrite", config_rewrite_command),
    ("config|help", config_help_command),
    ("shutdown", shutdown_command),
    ("lolwut", lolwut_command),
    ("debug", debug_command),
    ("memory|usage", memory_usage_command),
    ("memory|stats", memory_stats_command),
    ("memory|doctor", memory_doctor_command),
    ("memory|malloc-stats", memory_malloc_stats_command),
    ("memory|purge", memory_purge_command),
    ("memory|help", memory_help_command),
];

/// An error reply from a message that may or may not carry its code (errors from
/// `crate::config` are Redis's full messages; anything else gets Redis's generic `ERR`).
fn reply_error(c: &mut Client, msg: &str) {
    let code = msg.split(' ').next().unwrap_or("");
    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()) {
        c.out.err(msg);
    } else {
        c.out.err(&format!("ERR {msg}"));
    }
}

fn dbsize_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.int(srv.dbs[c.db].dict.len() as i64);
}

/// Parses FLUSHDB/FLUSHALL's optional SYNC|ASYNC; replies on a syntax error. Both modes free
/// synchronously: there is no lazy-free thread.
fn flush_flags_ok(c: &mut Client, args: &Args) -> bool {
    if args.len() > 2 || (args.len() == 2 && !args.is(1, "sync") && !args.is(1, "async")) {
        c.out.err("ERR syntax error");
        return false;
    }
    true
}

fn flushdb_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if !flush_flags_ok(c, args) {
        return;
    }
    let removed = srv.dbs[c.db].dict.len() as u64;
    // WATCHed keys about to vanish invalidate their transactions (signalFlushedDb).
    srv.touch_all_watched_keys_in_db(c.db, None);
    srv.dbs[c.db].clear();
    // Client-side caches are told to drop everything, whichever db they read.
    crate::tracking::invalidate_on_flush(srv);
    srv.dirty += removed;
    // Propagated even when the db was already empty, as Redis does.
    srv.force_propagation();
    c.out.ok();
}

fn flushall_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if !flush_flags_ok(c, args) {
        return;
    }
    let mut removed = 0;
    // WATCHed keys about to vanish invalidate their transactions (signalFlushedDb).
    srv.touch_all_watched_keys();
    for db in srv.dbs.iter_mut() {
        removed += db.dict.len() as u64;
        db.clear();
    }
    crate::tracking::invalidate_on_flush(srv);
    srv.dirty += removed + 1;
    crate::persistence::after_flushall(srv);
    // Propagated even when everything was already empty (and after the save reset dirty).
    srv.force_propagation();
    c.out.ok();
}

fn time_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    let now = crate::util::ustime();
    c.out.array(2);
    c.out.bulk_i64(now / 1_000_000);
    c.out.bulk_i64(now % 1_000_000);
}

// ---------------------------------------------------------------------------------------------
// CONFIG

fn config_get_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let patterns: Vec<&[u8]> = args.iter_from(2).collect();
    // Raw bytes: a value such as requirepass may be binary.
    let pairs = srv.config.get_raw(&patterns);
    c.out.map(pairs.len());
    for (k, v) in pairs {
        c.out.bulk(&k);
        c.out.bulk(&v);
    }
}

/// CONFIG SET name value [name value ...]: all or nothing (the config module validates and
/// applies atomically), then the running server catches up with what changed.
fn config_set_command(srv: &mut Server, c: &mut Client, args: &Args) {
    if !args.len().is_multiple_of(2) {
        return c.out.err("ERR syntax error");
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..args.len())
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    let backup = srv.config.clone();
    match srv.config.set_from(&pairs, is_local_client(c)) {
        Ok(changed) => {
            // The listeners first: a port or address that cannot be listened on fails the
            // whole CONFIG SET, and every parameter goes back to its old value (Redis runs
            // the other apply functions too, then runs them again on the old values; none of
            // them leaves a trace that outlives the restore). The first of port / bind given
            // does the rebinding, with every new value, and names the failure.
            if let Some(&name) = changed.iter().find(|n| matches!(**n, "port" | "bind")) {
                if !crate::server::net::rebind_tcp(srv) {
                    srv.config.restore(backup, &changed);
                    if !crate::server::net::rebind_tcp(srv) {
                        log_warning!("Failed applying restored configuration.");
                    }
                    let why = if name == "port" {
                        "Unable to listen on this port. Check server logs."
                    } else {
                        "Failed to bind to specified addresses."
                    };
                    return reply_error(
                        c,
                        &format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ),
                    );
                }
            }
            // tls-port as port: the context (if none yet) and listeners, or nothing changes.
            if changed.contains(&"tls-port") {
                if let Err(why) = crate::server::net::rebind_tls(srv) {
                    srv.config.restore(backup, &changed);
                    if crate::server::net::rebind_tls(srv).is_err() {
                        log_warning!("Failed applying restored configuration.");
                    }
                    return reply_error(
                        c,
                        &format!(
                            "ERR CONFIG SET failed (possibly related to argument 'tls-port') - {why}"
                        ),
                    );
                }
            }
            // Certificates, CAs, protocols, suites: one new context for all of them.
            if let Some(&name) = changed
                .iter()
                .find(|n| crate::server::tls::CONTEXT_PARAMS.contains(n))
            {
                if let Err(why) = crate::server::net::reconfigure_tls(srv) {
                    srv.config.restore(backup, &changed);
                    return reply_error(
                        c,
                        &format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ),
                    );
                }
            }
            for &name in &changed {
                if let Err(why) = apply_config_change(srv, c, name) {
                    srv.config.restore(backup, &changed);
                    return reply_error(
                        c,
                        &format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ),
                    );
                }
            }
            c.out.ok();
        }
        Err(e) => reply_error(c, &e),
    }
}

/// The effect a changed parameter has on the rest of the server (config.c's apply functions
/// that reach beyond the configuration; the config module itself handles loglevel, hz, dir).
/// Parameters read where they are used (timeout, slowlog-*, notify-keyspace-events...) need
/// nothing here.
fn apply_config_change(srv: &mut Server, c: &mut Client, name: &str) -> Result<(), String> {
    match name {
        "appendonly" => {
            use crate::persistence::aof_rewrite;
            if !srv.config.appendonly && srv.aof.is_some() {
                aof_rewrite::stop_append_only(srv);
            } else if srv.config.appendonly
                && srv.aof.is_none()
                && aof_rewrite::start_append_only(srv, c.multi.is_some()).is_err()
            {
                return Err("Unable to turn on AOF. Check server logs.".into());
            }
        }
        // The default user's password (ACLUpdateDefaultUserPassword). With none it becomes
        // "nopass" and no connection needs AUTH (authRequired() reads the default user);
        // connections already authenticated stay so.
        "requirepass" => {
            let pass = srv.config.requirepass.clone();
            srv.acl.set_default_password(pass.as_deref());
        }
        // Our announced address changes in our own entry, nodes.conf and the next messages.
        "cluster-announce-ip"
        | "cluster-announce-port"
        | "cluster-announce-bus-port"
        | "cluster-announce-hostname" => {
            crate::cluster::update_myself_announced(srv);
            if let Some(cl) = srv.cluster.as_mut() {
                cl.todo |= crate::cluster::TODO_SAVE_CONFIG;
            }
        }
        "maxmemory" => {
            let used = used_memory() as u64;
            if srv.config.maxmemory != 0 && srv.config.maxmemory < used {
                log_warning!(
                    "WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.",
                    srv.config.maxmemory,
                    used
                );
            }
            if srv.config.maxmemory != 0 {
                crate::evict::start_eviction_time_proc(srv);
            }
        }
        _ => {}
    }
    Ok(())
}

/// CONFIG RESETSTAT: zeroes INFO stats, commandstats, latency histograms and errorstats
/// (resetServerStats, resetCommandTableStats, resetErrorTableStats). Peak memory, the slow log and latency
/// samples are kept, as in Redis.
fn config_resetstat_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    reset_stats(srv);
    c.out.ok();
}

/// Resets every statistic CONFIG RESETSTAT covers.
pub fn reset_stats(srv: &mut Server) {
    let peak = srv.stats.peak_memory;
    let startup = srv.stats.startup_memory;
    srv.stats = Stats {
        peak_memory: peak,
        startup_memory: startup,
        ..Stats::default()
    };
    for cmd in srv.commands.cmds.iter_mut() {
        cmd.stat = CmdStat::default();
        cmd.latency = None;
    }
    srv.evict.reset_stats();
}

fn config_rewrite_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    if srv.config.config_file().is_none() {
        return c.out.err("ERR The server is running without a config file");
    }
    // The `user` lines describe the ACL users as they are now (rewriteConfigUserOption).
    srv.config.users = srv
        .acl
        .iter()
        .map(|(_, u)| {
            let mut line = vec![u.name.clone()];
            line.extend(u.describe().split(|&b| b == b' ').map(|a| a.to_vec()));
            line
        })
        .collect();
    match srv.config.rewrite() {
        Ok(()) => {
            log_warning!("CONFIG REWRITE executed with success.");
            c.out.ok();
        }
        // The config module logs the failure and words the reply.
        Err(e) => reply_error(c, &e),
    }
}

fn config_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// SHUTDOWN

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On success the client gets no reply: the
/// server stops after this event-loop iteration (the final save arrives with persistence;
/// there are no replicas to wait for, so NOW changes nothing yet).
fn shutdown_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for i in 1..args.len() {
        if args.is(i, "nosave") {
            nosave = true;
        } else if args.is(i, "save") {
            save = true;
        } else if args.is(i, "now") {
            now = true;
        } else if args.is(i, "force") {
            force = true;
        } else if args.is(i, "abort") {
            abort = true;
        } else {
            return c.out.err("ERR syntax error");
        }
    }
    let any_flag = nosave || save || now || force;
    if (abort && any_flag) || (nosave && save) {
        return c.out.err("ERR syntax error");
    }
    if abort {
        // A shutdown never waits (no replicas), so none can be in progress.
        return c.out.err("ERR No shutdown in progress.");
    }
    use crate::persistence::{SHUTDOWN_FORCE, SHUTDOWN_NOSAVE, SHUTDOWN_NOW, SHUTDOWN_SAVE};
    let flags = [
        (save, SHUTDOWN_SAVE),
        (nosave, SHUTDOWN_NOSAVE),
        (now, SHUTDOWN_NOW),
        (force, SHUTDOWN_FORCE),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, bit)| acc | bit);
    // A busy script: only SHUTDOWN NOSAVE, which then stops the script (its hook sees
    // shutdown_asap) and the loop exits.
    if srv.scripting.timed_out && !nosave {
        return c.out.err(crate::scripting::busy_error(srv));
    }
    if crate::server::cron::prepare_for_shutdown(srv, flags) {
        srv.shutdown_asap = true;
    } else {
        c.out.err("ERR Errors trying to SHUTDOWN. Check logs.");
    }
}

// ---------------------------------------------------------------------------------------------
// LOLWUT

/// C's rand() stand-in for the generative LOLWUT art: xorshift64*, values in 0..=RAND_MAX.
struct Rand(u64);

/// glibc's RAND_MAX.
const RAND_MAX: i64 = i32::MAX as i64;

impl Rand {
    fn new() -> Rand {
        let seed = crate::util::ustime() as u64 ^ 0x9E37_79B9_7F4A_7C15;
        Rand(seed | 1)
    }
    fn next(&mut self) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as i64 & RAND_MAX
    }
}

/// A grid of small color indexes that LOLWUT draws on (lolwut.c's lwCanvas).
struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, bg: u8) -> Canvas {
        let n = (width.max(0) * height.max(0)) as usize;
        Canvas {
            width,
            height,
            pixels: vec![bg; n],
        }
    }
    fn set(&mut self, x: i64, y: i64, color: u8) {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return;
        }
        self.pixels[(x + y * self.width) as usize] = color;
    }
    fn get(&self, x: i64, y: i64) -> u8 {
        if x < 0 || x >= self.width || y < 0 || y >= self.height {
            return 0;
        }
        self.pixels[(x + y * self.width) as usize]
    }
    /// Bresenham's line, as lwDrawLine.
    fn line(&mut self, mut x1: i64, mut y1: i64, x2: i64, y2: i64, color: u8) {
        let dx = (x2 - x1).abs();
        let dy = (y2 - y1).abs();
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }
    /// A square of diagonal `size` centered at x,y and rotated by `angle`, with lwDrawSquare's
    /// mix of single and double precision so the corners land on the same pixels.
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32, color: u8) {
        use std::f64::consts::PI;
        // Redis divides by this truncated literal, not by SQRT_2; the last digits decide
        // which pixel a corner rounds to.
        #[allow(clippy::approx_constant)]
        let mut size = (size as f64 / 1.4142135623) as f32;
        size = (size as f64).round() as f32;
        let mut k = (PI / 4.0 + angle as f64) as f32;
        let mut px = [0i64; 4];
        let mut py = [0i64; 4];
        for j in 0..4 {
            px[j] = ((k as f64).sin() * size as f64 + x as f64).round() as i64;
            py[j] = ((k as f64).cos() * size as f64 + y as f64).round() as i64;
            k = (k as f64 + PI / 2.0) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }
}

/// Georg Nees's "Schotter": rows of squares that get more disordered going down (lolwut5.c).
fn draw_schotter(cols: i64, per_row: i64, per_col: i64, rng: &mut Rand) -> Canvas {
    let canvas_width = cols * 2;
    let padding: i64 = if canvas_width > 4 { 2 } else { 0 };
    let side: f32 = (canvas_width - padding * 2) as f32 / per_row as f32;
    let canvas_height = (side * per_col as f32 + (padding * 2) as f32) as i64;
    let mut canvas = Canvas::new(canvas_width, canvas_height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i64;
            let mut angle = 0f32;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in r.iter_mut() {
                    *v = rng.next() as f32 / RAND_MAX as f32 / per_col as f32 * y as f32;
                }
                for v in r.iter_mut() {
                    if rng.next() % 2 == 1 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i64;
                sy = (sy as f32 + r[2] * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// Renders a canvas as braille characters, each covering 2x4 pixels.
fn render_braille(canvas: &Canvas) -> Vec<u8> {
    let mut out = Vec::new();
    let mut y = 0;
    while y < canvas.height {
        let mut x = 0;
        while x < canvas.width {
            let bits = [
                (x, y),
                (x, y + 1),
                (x, y + 2),
                (x + 1, y),
                (x + 1, y + 1),
                (x + 1, y + 2),
                (x, y + 3),
                (x + 1, y + 3),
            ];
            let mut byte = 0u32;
            for (i, &(px, py)) in bits.iter().enumerate() {
                if canvas.get(px, py) != 0 {
                    byte |= 1 << i;
                }
            }
            let code = 0x2800 + byte;
            out.push(0xE0 | (code >> 12) as u8);
            out.push(0x80 | ((code >> 6) & 0x3F) as u8);
            out.push(0x80 | (code & 0x3F) as u8);
            x += 2;
        }
        if y != canvas.height - 1 {
            out.push(b'\n');
        }
        y += 4;
    }
    out
}

/// One building of the LOLWUT 6 skyline.
struct Skyscraper {
    xoff: i64,
    width: i64,
    height: i64,
    windows: bool,
    color: u8,
}

fn draw_skyscraper(canvas: &mut Canvas, si: &Skyscraper, rng: &mut Rand) {
    let starty = canvas.height - 1;
    let endy = starty - si.height + 1;
    let mut y = starty;
    while y >= endy {
        for x in si.xoff..si.xoff + si.width {
            // The roof is four pixels narrower.
            if y == endy && (x <= si.xoff + 1 || x >= si.xoff + si.width - 2) {
                continue;
            }
            let mut color = si.color;
            if si.windows
                && x > si.xoff + 1
                && x < si.xoff + si.width - 2
                && y > endy + 1
                && y < starty - 1
            {
                let relx = x - (si.xoff + 1);
                let rely = y - (endy + 1);
                // Windows are two pixels wide and one tall (terminal cells are not square).
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = 1 + (rng.next() % 2) as u8;
                        if color != si.color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
            }
            canvas.set(x, y, color);
        }
        y -= 1;
    }
}

/// A city skyline in the gray levels of an 8-bit console (lolwut6.c).
fn draw_skyline(canvas: &mut Canvas, rng: &mut Rand) {
    let h = canvas.height;
    for color in [2u8, 1u8] {
        let mut offset: i64 = -10;
        while offset < canvas.width {
            offset += rng.next() % 8;
            let width = 10 + rng.next() % 9;
            let height = if color == 2 {
                h / 2 + (rng.next() % h) / 2
            } else {
                h / 2 + (rng.next() % h) / 3
            };
            let si = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            draw_skyscraper(canvas, &si, rng);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset: i64 = -10;
    while offset < canvas.width {
        offset += rng.next() % 8;
        let mut width = 5 + rng.next() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + (rng.next() % h) / 2;
        let si = Skyscraper {
            xoff: offset,
            width,
            height,
            windows: true,
            color: 0,
        };
        draw_skyscraper(canvas, &si, rng);
        offset += width + 5;
    }
}

/// Renders the skyline with the four grays of a color terminal.
fn render_ansi(canvas: &Canvas) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let ce: &[u8] = match canvas.get(x, y) {
                1 => b"0;90;100m",
                2 => b"0;37;47m",
                3 => b"0;97;107m",
                _ => b"0;30;40m",
            };
            out.extend_from_slice(b"\x1b[");
            out.extend_from_slice(ce);
            out.extend_from_slice(b" \x1b[0m");
        }
        if y != canvas.height - 1 {
            out.push(b'\n');
        }
    }
    out
}

/// Parses LOLWUT's optional numeric arguments starting at `from`; None after replying.
fn lolwut_params(c: &mut Client, args: &Args, from: usize, defaults: &mut [i64]) -> bool {
    for (k, d) in defaults.iter_mut().enumerate() {
        if from + k < args.len() {
            match parse_i64(args.get(from + k)) {
                Some(v) => *d = v,
                None => {
                    c.out.err("ERR value is not an integer or out of range");
                    return false;
                }
            }
        }
    }
    true
}

/// LOLWUT [VERSION v] [...]: 7.0's own version prints just the version line; VERSION 5 and 6
/// draw the art of those releases (random on every call, as in Redis).
fn lolwut_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    let mut ver: Option<u32> = None;
    let mut from = 1;
    if args.len() >= 3 && args.is(1, "version") {
        match parse_i64(args.get(2)) {
            Some(v) => ver = Some(v as u32),
            None => return c.out.err("ERR value is not an integer or out of range"),
        }
        from = 3;
    }
    let mut rng = Rand::new();
    let mut out = match ver {
        Some(5) => {
            let mut p = [66i64, 8, 12];
            if !lolwut_params(c, args, from, &mut p) {
                return;
            }
            let cols = p[0].clamp(1, 1000);
            let per_row = p[1].clamp(1, 200);
            let per_col = p[2].clamp(1, 200);
            let canvas = draw_schotter(cols, per_row, per_col, &mut rng);
            let mut s = render_braille(&canvas);
            s.extend_from_slice(b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
            s
        }
        Some(6) => {
            let mut p = [80i64, 20];
            if !lolwut_params(c, args, from, &mut p) {
                return;
            }
            let cols = p[0].clamp(1, 1000);
            let rows = p[1].clamp(1, 1000);
            let mut canvas = Canvas::new(cols, rows, 3);
            draw_skyline(&mut canvas, &mut rng);
            let mut s = render_ansi(&canvas);
            s.extend_from_slice(
                b"\nDedicated to the 8 bit game developers of past and present.\n\
                  Original 8 bit image from Plaguemon by hikikomori. Redis ver. ",
            );
            s
        }
        _ => b"Redis ver. ".to_vec(),
    };
    out.extend_from_slice(REDIS_VERSION.as_bytes());
    out.push(b'\n');
    c.out.verbatim(&out, "txt");
}

// ---------------------------------------------------------------------------------------------
// DEBUG

/// True when the peer is on this machine (islocalClient): a unix socket or a loopback address.
fn is_local_client(c: &Client) -> bool {
    c.is_unix || c.addr.starts_with("127.0.0.1:") || c.addr.starts_with("[::1]:")
}

/// enable-debug-command: "no" refuses DEBUG, "local" allows it from this machine only.
fn debug_allowed(srv: &Server, c: &Client) -> bool {
    match srv.config.enable_debug_command {
        crate::config::PROTECTED_ACTION_YES => true,
        crate::config::PROTECTED_ACTION_LOCAL => is_local_client(c),
        _ => false,
    }
}

const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// The refusal of a command flagged `protected` (DEBUG, MODULE LOAD/LOADEX/UNLOAD) that the
/// enable-debug-command / enable-module-command settings do not allow this client.
/// process_command asks before authentication, ACLs and MULTI queueing, as processCommand
/// does, so the handlers below never see a refused call.
pub(crate) fn protected_refusal(srv: &Server, c: &Client, name: &str) -> Option<&'static str> {
    if name == "debug" {
        (!debug_allowed(srv, c)).then_some(DEBUG_NOT_ALLOWED)
    } else if name.starts_with("module|") {
        (!module_allowed(srv, c)).then_some(MODULE_NOT_ALLOWED)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// MODULE: there is no module system; the command answers as a Redis with no module loaded,
// behind enable-module-command as Redis guards it.

const MODULE_NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn module_allowed(srv: &Server, c: &Client) -> bool {
    match srv.config.enable_module_command {
        crate::config::PROTECTED_ACTION_YES => true,
        crate::config::PROTECTED_ACTION_LOCAL => is_local_client(c),
        _ => false,
    }
}

fn module_list_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out.array(0);
}

/// MODULE LOAD / LOADEX: no library can be loaded here.
fn module_load_command(_srv: &mut Server, c: &mut Client, args: &Args) {
    log_warning!(
        "Module {} failed to load: modules are not supported by this server",
        String::from_utf8_lossy(args.get(2))
    );
    c.out
        .err("ERR Error loading the extension. Please check the server logs.");
}

fn module_unload_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out
        .err("ERR Error unloading module: no such module with that name");
}

fn module_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
}

/// C's strtod over the prefix that parses (DEBUG SLEEP accepts "0.5", "1e-3", garbage = 0).
fn strtod_prefix(s: &[u8]) -> f64 {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(4096);
    let mut buf = Vec::with_capacity(end + 1);
    buf.extend_from_slice(&s[..end]);
    buf.push(0);
    // SAFETY: buf is NUL-terminated; strtod only reads up to the NUL.
    unsafe { libc::strtod(buf.as_ptr() as *const libc::c_char, std::ptr::null_mut()) }
}

/// Bytes rdbSaveLen takes to encode `len`.
fn rdb_len_size(len: usize) -> usize {
    if len < 1 << 6 {
        1
    } else if len < 1 << 14 {
        2
    } else if len as u64 <= u32::MAX as u64 {
        5
    } else {
        9
    }
}

/// Bytes rdbEncodeInteger uses for `v`, or None when it does not fit 32 bits.
fn rdb_int_size(v: i64) -> Option<usize> {
    if v >= i8::MIN as i64 && v <= i8::MAX as i64 {
        Some(2)
    } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        Some(3)
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        Some(5)
    } else {
        None
    }
}

/// The length of liblzf 3.6's `lzf_compress(data, out_len)` output as Redis builds it (HLOG 16,
/// VERY_FAST, a zeroed hash table), or None when the output would not fit in `out_len`.
///
/// Only the length is computed, but every step that decides it is reproduced, including one
/// quirk: when a match may extend 17 or 18 bytes, liblzf's unrolled comparison runs past that
/// limit and the match swallows the one or two final bytes that would otherwise be literals.
/// The `lzf` crate does not have that quirk, so its sizes differ for such inputs.
pub fn lzf_compressed_len(data: &[u8], out_len: usize) -> Option<usize> {
    const HLOG: u32 = 16;
    const HSIZE: usize = 1 << HLOG;
    const MAX_LIT: usize = 1 << 5;
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let n = data.len();
    if n == 0 || out_len == 0 {
        return None;
    }
    if n < 3 {
        // Too short for a match: liblzf goes straight to its final literal run, which it only
        // starts with room for three more bytes.
        return (out_len >= 4).then_some(n + 1);
    }
    let frst = |p: usize| ((data[p] as u32) << 8) | data[p + 1] as u32;
    let next = |v: u32, p: usize| (v << 8) | data[p + 2] as u32;
    let idx =
        |h: u32| ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1);
    // Positions of earlier 3-byte prefixes; 0 (the start) never qualifies as a match source.
    let mut htab = vec![0usize; HSIZE];
    let mut ip = 0usize;
    let mut op = 1usize; // the first literal run's length byte
    let mut lit = 0usize;
    let mut hval = frst(ip);
    while ip < n - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab[slot];
        htab[slot] = ip;
        let off = ip.wrapping_sub(r).wrapping_sub(1);
        if off < MAX_OFF
            && r > 0
            && data[r + 2] == data[ip + 2]
            && data[r..r + 2] == data[ip..ip + 2]
        {
            let mut len = 2usize;
            let maxlen = (n - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            if lit == 0 {
                op -= 1;
            }
            'scan: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if data[r + len] != data[ip + len] {
                            break 'scan;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && data[r + len] == data[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            op += if len < 7 { 1 } else { 2 };
            op += 1; // low byte of the offset
            lit = 0;
            op += 1; // next literal run's length byte
            ip += len + 1;
            if ip >= n - 2 {
                break;
            }
            ip -= 2;
            hval = frst(ip);
            for _ in 0..2 {
                hval = next(hval, ip);
                htab[idx(hval)] = ip;
                ip += 1;
            }
        } else {
            if op >= out_len {
                return None;
            }
            lit += 1;
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < n {
        lit += 1;
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            lit = 0;
            op += 1;
        }
    }
    if lit == 0 {
        op -= 1;
    }
    Some(op)
}

/// Size of a string as an RDB file stores it (rdbSaveRawString): a short canonical integer is
/// stored as an integer, a string over 20 bytes LZF-compressed when that saves at least four
/// bytes, anything else as length + bytes.
pub fn rdb_string_len(s: &[u8], compress: bool) -> usize {
    if s.len() <= 11 {
        if let Some(n) = parse_i64(s).and_then(rdb_int_size) {
            return n;
        }
    }
    if compress && s.len() > 20 {
        if let Some(z) = lzf_compressed_len(s, s.len() - 4).filter(|&z| z > 0) {
            return 1 + rdb_len_size(z) + rdb_len_size(s.len()) + z;
        }
    }
    rdb_len_size(s.len()) + s.len()
}

/// DEBUG OBJECT's serializedlength for a value.
fn rdb_object_len(o: &RObj, compress: bool) -> usize {
    if let crate::types::object::Value::Int(v) = o.value {
        if let Some(n) = rdb_int_size(v) {
            return n;
        }
    }
    if let crate::types::object::Value::List(_) = o.value {
        // rdbSavedObjectLen: the body RDB would write (nodes, PLAIN/PACKED, LZF blobs).
        let mut body = Vec::new();
        crate::persistence::rdb::save_object(&mut body, o, compress);
        return body.len();
    }
    let mut tmp = [0u8; 20];
    match o.str_bytes(&mut tmp) {
        Some(s) => rdb_string_len(s, compress),
        None => o.heap_size(),
    }
}

/// OBJECT REFCOUNT's answer: Redis shares the integers 0..9999 (refcount INT_MAX).
fn refcount(o: &RObj) -> i64 {
    match o.value {
        crate::types::object::Value::Int(v)
            if (0..crate::types::object::SHARED_INTEGERS).contains(&v) =>
        {
            i32::MAX as i64
        }
        _ => 1,
    }
}

/// DEBUG <subcommand> ...: the subset of debug.c that makes sense here (see DEBUG HELP).
fn debug_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let sub = args.get(1).to_ascii_lowercase();
    let argc = args.len();
    match (&sub[..], argc) {
        (b"help", 2) => debug_help(c),
        (b"sleep", 3) => {
            let secs = strtod_prefix(args.get(2));
            let us = secs * 1_000_000.0;
            if us >= 1.0 {
                let us = if us.is_finite() {
                    us.min(u64::MAX as f64) as u64
                } else {
                    u64::MAX
                };
                std::thread::sleep(std::time::Duration::from_micros(us));
            }
            c.out.ok();
        }
        (b"object", 3) => debug_object(srv, c, args.get(2)),
        (b"set-active-expire", 3) => {
            srv.active_expire_enabled = atoi(args.get(2)) != 0;
            c.out.ok();
        }
        (b"populate", 3..=5) => debug_populate(srv, c, args),
        (b"protocol", 3) => debug_protocol(c, args.get(2)),
        (b"log", 3) => {
            log_warning!("DEBUG LOG: {}", String::from_utf8_lossy(args.get(2)));
            c.out.ok();
        }
        (b"error", 3) => {
            // The argument is the whole error line, code included; sent as is, which also keeps
            // it out of the error statistics (Redis uses addReplySds here).
            c.out.raw(b"-");
            let msg: Vec<u8> = args
                .get(2)
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            c.out.raw(&msg);
            c.out.raw(b"\r\n");
        }
        (b"htstats", 3) => {
            let Some(id) = parse_i64(args.get(2)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            if id < 0 || id >= srv.dbs.len() as i64 {
                return c.out.err("ERR Out of range database");
            }
            let db = &srv.dbs[id as usize];
            let mut s = String::from("[Dictionary HT]\n");
            s.push_str(&db.dict.stats());
            s.push_str("[Expires HT]\n");
            s.push_str(&db.expires.stats());
            c.out.verbatim(s.as_bytes(), "txt");
        }
        (b"change-repl-id", 2) => {
            log_warning!("Changing replication IDs after receiving DEBUG change-repl-id");
            srv.repl.replid = crate::replication::random_replid();
            srv.repl.replid2 = "0".repeat(40);
            srv.repl.second_replid_offset = -1;
            c.out.ok();
        }
        (b"replybuffer", 4) => {
            let (what, val) = (args.get(2), args.get(3));
            if what.eq_ignore_ascii_case(b"peak-reset-time") {
                srv.reply_buffer_peak_reset_ms = if val.eq_ignore_ascii_case(b"never") {
                    -1
                } else if val.eq_ignore_ascii_case(b"reset") {
                    crate::server::REPLY_BUFFER_PEAK_RESET_MS
                } else {
                    match crate::util::num::parse_i64(val) {
                        Some(ms) => ms,
                        None => return c.out.err("ERR value is not an integer or out of range"),
                    }
                };
            } else if what.eq_ignore_ascii_case(b"resizing") {
                srv.reply_buffer_resizing = atoi(val) != 0;
            } else {
                return subcommand_syntax_error(c, args);
            }
            c.out.ok();
        }
        (b"listpack", 3) => debug_listpack(srv, c, args.get(2)),
        // ferrodis-only: the value as it lies in memory (commands/layout.rs).
        (b"layout", _) => super::layout::debug_layout(srv, c, args),
        (b"quicklist", 3 | 4) => {
            // atoi into a C int: "2" or "-1" print the contents, "x" does not.
            let full = argc == 4 && atoi(args.get(3)) != 0;
            debug_quicklist(srv, c, args.get(2), full)
        }
        (b"quicklist-packed-threshold", 3) => match crate::config::memtoull(args.get(2)) {
            Some(sz) if crate::ds::quicklist::set_packed_threshold(sz) => c.out.ok(),
            _ => c
                .out
                .err("ERR argument must be a memory value bigger than 1 and smaller than 4gb"),
        },
        (b"digest", 2) => super::persistence::debug_digest(srv, c),
        (b"digest-value", _) => super::persistence::debug_digest_value(srv, c, args),
        (b"reload", _) => super::persistence::debug_reload(srv, c, args),
        (b"loadaof", _) => {
            crate::persistence::aof::debug_loadaof(srv);
            c.out.ok();
        }
        _ => subcommand_syntax_error(c, args),
    }
}

/// Writes a DEBUG dump to stdout, as Redis's printf does; a closed or broken stdout is
/// ignored rather than a reason to panic (print! would).
fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// DEBUG LISTPACK key: prints a listpack-encoded hash or sorted set to stdout (lpRepr). The
/// key is looked up as OBJECT does (lazy expiry, no LRU touch).
fn debug_listpack(srv: &mut Server, c: &mut Client, key: &[u8]) {
    use crate::types::object::Value;
    let found = super::keys::read_notouch(srv, c.db, key, false, |o| match &o.value {
        Value::Hash(h) => h.as_listpack().map(|lp| lp.repr()),
        Value::ZSet(z) => z.listpack().map(|lp| lp.repr()),
        _ => None,
    });
    match found {
        None => c.out.err("ERR no such key"),
        Some(None) => c.out.err("ERR Not a listpack encoded object."),
        Some(Some(text)) => {
            print_stdout(&text);
            c.out.simple("Listpack structure printed on stdout");
        }
    }
}

/// DEBUG QUICKLIST key [full]: prints a list's nodes to stdout (quicklistRepr); with `full`
/// their contents too, which leaves compressed nodes decompressed as in Redis.
fn debug_quicklist(srv: &mut Server, c: &mut Client, key: &[u8], full: bool) {
    use crate::types::object::Value;
    let is_list =
        super::keys::read_notouch(srv, c.db, key, false, |o| matches!(o.value, Value::List(_)));
    match is_list {
        None => c.out.err("ERR no such key"),
        Some(false) => c.out.err("ERR Not a quicklist encoded object."),
        Some(true) => {
            if let Some(RObj {
                value: Value::List(l),
                ..
            }) = srv.dbs[c.db].dict.get_mut(key)
            {
                print_stdout(&l.debug_repr(full));
            }
            c.out.simple("Quicklist structure printed on stdout");
        }
    }
}

/// DEBUG OBJECT key: the low-level view of a value. Looks the key up without lazy expiry and
/// without touching it, as Redis does.
fn debug_object(srv: &mut Server, c: &mut Client, key: &[u8]) {
    let compress = srv.config.rdbcompression;
    let clock = srv.lru_clock;
    let Some(o) = srv.dbs[c.db].dict.get(key) else {
        return c.out.err("ERR no such key");
    };
    let idle = if clock >= o.lru {
        clock - o.lru
    } else {
        clock + (crate::server::LRU_CLOCK_MAX - o.lru)
    };
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        o as *const RObj,
        refcount(o),
        o.encoding_name(),
        rdb_object_len(o, compress),
        o.lru,
        idle
    );
    if let crate::types::object::Value::List(l) = &o.value {
        // The quicklist's node statistics, plain nodes counting their element's length.
        let ql = l.quicklist();
        let nodes = ql.node_count();
        let _ = write!(
            line,
            " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} \
             ql_uncompressed_size:{}",
            ql.len() as f64 / nodes as f64,
            ql.fill(),
            (ql.compress_depth() != 0) as u8,
            ql.uncompressed_size()
        );
    }
    c.out.simple(&line);
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` -> `value:N` for N in 0..count,
/// skipping keys that exist. With a size the value is `value:N` cut or zero-padded to that
/// many bytes. As in Redis the key is built in a 128-byte buffer (so at most 127 bytes, and a
/// prefix stops at a NUL byte), nothing is propagated and `dirty` is not touched.
fn debug_populate(srv: &mut Server, c: &mut Client, args: &Args) {
    let positive = |a: &[u8]| parse_i64(a).filter(|&v| v >= 0);
    let Some(count) = positive(args.get(2)) else {
        return c.out.err("ERR value is out of range, must be positive");
    };
    let db = c.db;
    let count = count as u64;
    // dictTryExpand: refuse a count whose table could not even be allocated.
    let mut probe: Vec<usize> = Vec::new();
    let slots = count.checked_next_power_of_two().unwrap_or(u64::MAX);
    if usize::try_from(slots).map_or(true, |s| probe.try_reserve_exact(s).is_err()) {
        return c.out.err("ERR OOM in dictTryExpand");
    }
    drop(probe);
    // Redis asks for `count` buckets, not len + count: a table already holding more entries
    // is left alone.
    srv.dbs[db]
        .dict
        .expand(usize::try_from(count).unwrap_or(usize::MAX));
    let mut size = 0usize;
    if args.len() == 5 {
        match positive(args.get(4)) {
            Some(v) => size = v as usize,
            None => return c.out.err("ERR value is out of range, must be positive"),
        }
    }
    let prefix: &[u8] = if args.len() >= 4 {
        let p = args.get(3);
        &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())]
    } else {
        b"key"
    };
    let lru = srv.lru_clock;
    let mut key = Vec::with_capacity(prefix.len().min(127) + 21);
    // The value buffer grows when the first key needs it: with a count of 0 a huge size
    // allocates nothing, and a size that cannot be allocated is an error, not an abort.
    let mut val = Vec::new();
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        key.truncate(127);
        if srv.lookup_write(db, &key).is_some() {
            continue;
        }
        if val.capacity() < size && val.try_reserve_exact(size).is_err() {
            return c.out.err("ERR OOM allocating the value");
        }
        val.clear();
        val.extend_from_slice(b"value:");
        val.extend_from_slice(j.to_string().as_bytes());
        if size != 0 {
            val.resize(size, 0);
        }
        srv.add_key(db, &key, RObj::string(&val, lru));
    }
    c.out.ok();
}

/// DEBUG PROTOCOL type: one sample of each reply type, for client library tests.
fn debug_protocol(c: &mut Client, name: &[u8]) {
    let n = name.to_ascii_lowercase();
    match &n[..] {
        b"string" => c.out.bulk(b"Hello World"),
        b"integer" => c.out.int(12345),
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => c.out.double(3.141),
        b"bignum" => c.out.bignum(b"1234567999999999999999999999999999999"),
        b"null" => c.out.null(),
        b"array" => {
            c.out.array(3);
            for j in 0..3 {
                c.out.int(j);
            }
        }
        b"set" => {
            c.out.set(3);
            for j in 0..3 {
                c.out.int(j);
            }
        }
        b"map" => {
            c.out.map(3);
            for j in 0..3 {
                c.out.int(j);
                c.out.boolean(j == 1);
            }
        }
        b"attrib" => {
            if c.out.resp3 {
                c.out.raw(b"|1\r\n");
                c.out.bulk(b"key-popularity");
                c.out.array(2);
                c.out.bulk(b"key:123");
                c.out.int(90);
            }
            c.out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !c.out.resp3 {
                return c.out.err("ERR RESP2 is not supported by this command");
            }
            c.out.push(2);
            c.out.bulk(b"server-cpu-usage");
            c.out.int(42);
            c.out.bulk(b"Some real reply following the push reply");
        }
        b"true" => c.out.boolean(true),
        b"false" => c.out.boolean(false),
        b"verbatim" => c.out.verbatim(b"This is a verbatim\nstring", "txt"),
        _ => c.out.err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"),
    }
}

/// DEBUG HELP: Redis 7.0.15's text, including the subcommands not implemented here, so tools
/// that parse it see what they expect.
fn debug_help(c: &mut Client) {
    reply_help(
        c,
        "DEBUG",
        &[
            "AOF-FLUSH-SLEEP <microsec>",
            "    Server will sleep before flushing the AOF, this is used for testing.",
            "ASSERT",
            "    Crash by assertion failed.",
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "CONFIG-REWRITE-FORCE-ALL",
            "    Like CONFIG REWRITE but writes all configuration options, including",
            "    keywords not listed in original configuration file or default values.",
            "CRASH-AND-RECOVER [<milliseconds>]",
            "    Hard crash and restart after a <milliseconds> delay (default 0).",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LEAK <string>",
            "    Create a memory leak of the input string.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "HTSTATS <dbid>",
            "    Return hash table statistics of the specified Redis database.",
            "HTSTATS-KEY <key>",
            "    Like HTSTATS but for the hash table stored at <key>'s value.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "REPLICATE <string>",
            "    Replicates the provided string to replicas, allowing data divergence.",
            "MALLCTL <key> [<val>]",
            "    Get or set a malloc tuning integer.",
            "MALLCTL-STR <key> [<val>]",
            "    Get or set a malloc tuning string.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "DROP-CLUSTER-PACKET-FILTER <packet-type>",
            "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
            "OOM",
            "    Crash the server simulating an out-of-memory error.",
            "PANIC",
            "    Crash the server simulating a panic.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "RESTART [<milliseconds>]",
            "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
            "SDSLEN <key>",
            "    Show low level SDS string info representing `key` and value.",
            "SEGFAULT",
            "    Crash the server with sigsegv.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
            "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
            "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "STRINGMATCH-TEST",
            "    Run a fuzz tester against the stringmatchlen() function.",
            "STRUCTSIZE",
            "    Return the size of different Redis core C structures.",
            "LISTPACK <key>",
            "    Show low level info about the listpack encoding of <key>.",
            "QUICKLIST <key> [<0|1>]",
            "    Show low level info about the quicklist encoding of <key>.",
            "    The optional argument (0 by default) sets the level of detail",
            "CLIENT-EVICTION",
            "    Show low level client eviction pools info (maxmemory-clients).",
            "PAUSE-CRON <0|1>",
            "    Stop periodic cron job processing.",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
            "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
            "    In case NEVER is provided the last observed peak will never be reset",
            "    In case RESET is provided the peak reset time will be restored to the default value",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable the reply buffer resize cron job",
            "CLUSTERLINK KILL <to|from|all> <node-id>",
            "    Kills the link based on the direction to/from (both) with the provided node.",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// MEMORY

/// Bytes the allocator really takes for a request of `n`, so MEMORY USAGE reports what a key
/// costs, not what it asked for (Redis asks jemalloc for the usable size). jemalloc rounds up
/// to its size classes: 8, 16, then multiples of 16 up to 128, then four classes per doubling
/// (160, 192, 224, 256, 320, ...).
#[cfg(feature = "jemalloc")]
fn malloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => (n + 15) & !15,
        _ => {
            // n in (2^k, 2^(k+1)]: classes are 2^(k-2) apart.
            let k = usize::BITS - 1 - (n - 1).leading_zeros();
            let spacing = 1usize << (k - 2);
            (n + spacing - 1) & !(spacing - 1)
        }
    }
}

/// Bytes glibc malloc really takes for a request of `n` (8-byte header, 16-byte granularity,
/// 32-byte minimum chunk), when ferrodis is built without jemalloc.
#[cfg(not(feature = "jemalloc"))]
fn malloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// What one key costs: its dict entry box (key handle, object, chain link), its bucket slot,
/// the key's heap block if it outgrew the inline form, and the value's heap data.
pub fn key_memory_usage(key: &Sds, o: &RObj) -> usize {
    let entry =
        std::mem::size_of::<Sds>() + std::mem::size_of::<RObj>() + std::mem::size_of::<usize>();
    let value = if o.is_string() {
        malloc_size(o.heap_size())
    } else {
        o.heap_size()
    };
    malloc_size(entry) + std::mem::size_of::<usize>() + malloc_size(key.heap_size()) + value
}

/// MEMORY USAGE key [SAMPLES count]. Our value sizes are exact, so SAMPLES is parsed and
/// checked like Redis but not needed. No lazy expiry, as in Redis.
fn memory_usage_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut j = 3;
    while j < args.len() {
        if args.is(j, "samples") && j + 1 < args.len() {
            let Some(n) = parse_i64(args.get(j + 1)) else {
                return c.out.err("ERR value is not an integer or out of range");
            };
            if n < 0 {
                return c.out.err("ERR syntax error");
            }
            j += 2;
        } else {
            return c.out.err("ERR syntax error");
        }
    }
    match srv.dbs[c.db].dict.get_key_value(args.get(2)) {
        Some((k, o)) => {
            let n = key_memory_usage(k, o);
            c.out.int(n as i64);
        }
        None => c.out.null(),
    }
}

/// The breakdown behind MEMORY STATS and MEMORY DOCTOR (getMemoryOverheadData).
struct MemOverhead {
    peak: u64,
    total: u64,
    startup: u64,
    clients_normal: u64,
    num_clients: u64,
    /// (db id, main table bytes, expires table bytes) for dbs that have keys.
    dbs: Vec<(usize, u64, u64)>,
    overhead_total: u64,
    total_keys: u64,
    bytes_per_key: u64,
    dataset: u64,
    dataset_perc: f32,
    peak_perc: f32,
    rss: u64,
}

fn memory_overhead(srv: &mut Server, c: &Client) -> MemOverhead {
    let total = used_memory() as u64;
    if total > srv.stats.peak_memory {
        srv.stats.peak_memory = total;
    }
    let peak = srv.stats.peak_memory;
    let startup = srv.stats.startup_memory;
    let mut clients_normal = c.mem_usage() as u64;
    let mut num_clients = 1;
    for (_, slot) in srv.clients.iter() {
        if let Some(o) = slot.as_deref() {
            clients_normal += o.mem_usage() as u64;
            num_clients += 1;
        }
    }
    let mut overhead_total = startup + clients_normal;
    let mut dbs = Vec::new();
    let mut total_keys = 0u64;
    for (i, db) in srv.dbs.iter().enumerate() {
        let keys = db.dict.len() as u64;
        if keys == 0 {
            continue;
        }
        total_keys += keys;
        let main = db.dict.mem_usage() as u64;
        let exp = db.expires.mem_usage() as u64;
        overhead_total += main + exp;
        dbs.push((i, main, exp));
    }
    let net = total.saturating_sub(startup);
    let dataset = total.saturating_sub(overhead_total);
    MemOverhead {
        peak,
        total,
        startup,
        clients_normal,
        num_clients,
        dbs,
        overhead_total,
        total_keys,
        bytes_per_key: net.checked_div(total_keys).unwrap_or(0),
        dataset,
        dataset_perc: if net > 0 {
            dataset as f32 * 100.0 / net as f32
        } else {
            0.0
        },
        peak_perc: if peak > 0 {
            total as f32 * 100.0 / peak as f32
        } else {
            0.0
        },
        rss: rss() as u64,
    }
}

/// MEMORY STATS: the same map as Redis 7.0 (allocator figures are the counting allocator's,
/// which has no separate active/resident view: active = allocated, resident = RSS).
fn memory_stats_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let m = memory_overhead(srv, c);
    let ratio = |a: u64, b: u64| if b > 0 { a as f32 / b as f32 } else { 0.0 };
    c.out.map(27 + m.dbs.len());
    let ints: [(&str, u64); 10] = [
        ("peak.allocated", m.peak),
        ("total.allocated", m.total),
        ("startup.allocated", m.startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", m.clients_normal),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    for (k, v) in ints {
        c.out.bulk(k.as_bytes());
        c.out.int(v as i64);
    }
    for &(id, main, exp) in &m.dbs {
        c.out.bulk(format!("db.{id}").as_bytes());
        c.out.map(3);
        c.out.bulk(b"overhead.hashtable.main");
        c.out.int(main as i64);
        c.out.bulk(b"overhead.hashtable.expires");
        c.out.int(exp as i64);
        c.out.bulk(b"overhead.hashtable.slot-to-keys");
        c.out.int(0);
    }
    let int = |c: &mut Client, k: &str, v: u64| {
        c.out.bulk(k.as_bytes());
        c.out.int(v as i64);
    };
    let dbl = |c: &mut Client, k: &str, v: f32| {
        c.out.bulk(k.as_bytes());
        c.out.double(v as f64);
    };
    int(c, "overhead.total", m.overhead_total);
    int(c, "keys.count", m.total_keys);
    int(c, "keys.bytes-per-key", m.bytes_per_key);
    int(c, "dataset.bytes", m.dataset);
    dbl(c, "dataset.percentage", m.dataset_perc);
    dbl(c, "peak.percentage", m.peak_perc);
    int(c, "allocator.allocated", m.total);
    int(c, "allocator.active", m.total);
    int(c, "allocator.resident", m.rss);
    dbl(c, "allocator-fragmentation.ratio", 1.0);
    int(c, "allocator-fragmentation.bytes", 0);
    dbl(c, "allocator-rss.ratio", ratio(m.rss, m.total));
    int(c, "allocator-rss.bytes", m.rss.saturating_sub(m.total));
    dbl(c, "rss-overhead.ratio", 1.0);
    int(c, "rss-overhead.bytes", 0);
    dbl(c, "fragmentation", ratio(m.rss, m.total));
    int(c, "fragmentation.bytes", m.rss.saturating_sub(m.total));
}

/// MEMORY DOCTOR: Redis's report, with its thresholds applied to our figures.
fn memory_doctor_command(srv: &mut Server, c: &mut Client, _args: &Args) {
    let m = memory_overhead(srv, c);
    let mut empty = false;
    let mut big_peak = false;
    let mut high_frag = false;
    let mut big_client_buf = false;
    if m.total < 5 * 1024 * 1024 {
        empty = true;
    } else {
        big_peak = m.peak as f32 / m.total as f32 > 1.5;
        let frag = m.rss as f32 / m.total as f32;
        high_frag = frag > 1.4 && m.rss.saturating_sub(m.total) > 10 << 20;
        big_client_buf = m.clients_normal / m.num_clients.max(1) > 200 * 1024;
    }
    let text = if !(empty || big_peak || high_frag || big_client_buf) {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
    } else if empty {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let mut s = String::from(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
        );
        if big_peak {
            s.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
        }
        if high_frag {
            s.push_str(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
        }
        if big_client_buf {
            s.push_str(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
        }
        s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
        s
    };
    c.out.verbatim(text.as_bytes(), "txt");
}

/// MEMORY MALLOC-STATS: what Redis answers when built without jemalloc.
fn memory_malloc_stats_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    c.out
        .verbatim(b"Stats not supported for the current allocator", "txt");
}

/// MEMORY PURGE: asks glibc to give free heap pages back to the kernel.
fn memory_purge_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    c.out.ok();
}

fn memory_help_command(_srv: &mut Server, c: &mut Client, _args: &Args) {
    reply_help(
        c,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdb_lengths() {
        assert_eq!(rdb_string_len(b"bar", true), 4);
        assert_eq!(rdb_string_len(b"123", true), 2);
        assert_eq!(rdb_string_len(b"-129", true), 3);
        assert_eq!(rdb_string_len(b"100000", true), 5);
        assert_eq!(rdb_string_len(b"012", true), 4);
        assert_eq!(rdb_string_len(&[b'a'; 61], true), 12);
        // Sizes the oracle reports for runs of 'a' (liblzf's overshooting match included).
        for (n, want) in [
            (20, 21),
            (21, 9),
            (22, 11),
            (23, 12),
            (25, 12),
            (45, 12),
            (100, 13),
        ] {
            assert_eq!(rdb_string_len(&vec![b'a'; n], true), want, "{n} bytes");
        }
        assert_eq!(rdb_string_len(&[b'a'; 61], false), 62);
        assert_eq!(rdb_len_size(63), 1);
        assert_eq!(rdb_len_size(64), 2);
        assert_eq!(rdb_len_size(16384), 5);
    }

    #[test]
    fn lzf_length_never_panics() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..600usize {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // A small alphabet so that matches of every length occur.
                    b"ab"[(x & 1) as usize] + u8::from(x.is_multiple_of(3))
                })
                .collect();
            for out in [0, 1, len / 2, len.saturating_sub(4), len + 64] {
                if let Some(z) = lzf_compressed_len(&data, out) {
                    assert!(z <= out);
                }
            }
        }
    }

    #[test]
    fn c_parsers() {
        assert_eq!(strtod_prefix(b"0.5s"), 0.5);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
    }

    #[test]
    fn schotter_is_deterministic_without_random_rows() {
        // With at most two rows of squares no randomness is used: one braille cell for the
        // smallest canvas, as the oracle prints it.
        let mut rng = Rand::new();
        let canvas = draw_schotter(1, 1, 1, &mut rng);
        assert_eq!(render_braille(&canvas), "\u{280b}\n".as_bytes());
    }

    #[test]
    fn skyline_sizes() {
        let mut rng = Rand::new();
        let mut canvas = Canvas::new(1, 1, 3);
        draw_skyline(&mut canvas, &mut rng);
        assert_eq!(render_ansi(&canvas), b"\x1b[0;97;107m \x1b[0m");
        let mut canvas = Canvas::new(80, 20, 3);
        draw_skyline(&mut canvas, &mut rng);
        assert_eq!(
            render_ansi(&canvas).iter().filter(|&&b| b == b'\n').count(),
            19
        );
    }

    #[test]
    #[cfg(not(feature = "jemalloc"))]
    fn malloc_sizes() {
        assert_eq!(malloc_size(0), 0);
        assert_eq!(malloc_size(1), 32);
        assert_eq!(malloc_size(24), 32);
        assert_eq!(malloc_size(25), 48);
        assert_eq!(malloc_size(64), 80);
    }

    #[test]
    #[cfg(feature = "jemalloc")]
    fn malloc_sizes() {
        let cases = [
            (0, 0),
            (1, 8),
            (8, 8),
            (9, 16),
            (24, 32),
            (64, 64),
            (65, 80),
            (128, 128),
            (129, 160),
            (256, 256),
            (257, 320),
            (1000, 1024),
            (1025, 1280),
            (14336, 14336),
            (16385, 20480),
        ];
        for (n, want) in cases {
            assert_eq!(malloc_size(n), want, "malloc_size({n})");
        }
    }
}
