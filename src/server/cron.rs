//! Timed work: serverCron (`hz` times a second) and shutdown.

use super::client::{Client, REPLY_CHUNK_BYTES, REPLY_MIN_BYTES};
use super::Server;
use crate::db::expire::{active_expire_cycle, CycleKind};
use crate::{log_notice, log_verbose};
use std::cmp::Ordering;

/// One serverCron tick: clocks, statistics samples, client timeouts, active expiry, dict
/// resizing and incremental rehashing.
pub fn server_cron(srv: &mut Server) {
    let now = crate::util::mstime();
    srv.cmd_time_ms = now;
    srv.unix_time = now / 1000;
    srv.lru_clock = super::lru_clock_at(now);
    srv.cronloops += 1;
    sample_ops(srv, now);
    clients_cron(srv, now);
    databases_cron(srv);
    crate::persistence::cron(srv);
    crate::replication::cron(srv);
    if srv.cluster.is_some() {
        crate::cluster::cron(srv, now);
    }
    // The tracking table also shrinks to tracking-table-max-keys while the server is idle
    // (after CONFIG SET lowered it), not only when a command comes in.
    if srv.tracking.clients > 0 {
        crate::tracking::limit_used_slots(srv);
    }
    srv.tracking.cron();
    // MIGRATE's cached connections unused for 10 s (migrateCloseTimedoutSockets).
    if !srv.migrate.is_empty() {
        super::migrate_conn::close_idle(srv, now / 1000);
    }
}

/// Records instantaneous_ops_per_sec samples every 100 ms.
fn sample_ops(srv: &mut Server, now: i64) {
    let st = &mut srv.stats;
    let last = st.ops_samples[(st.ops_sample_idx + 15) % 16].0;
    if now - last < 100 {
        return;
    }
    let i = st.ops_sample_idx;
    st.ops_samples[i] = (now, st.total_commands_processed);
    st.ops_input_samples[i] = (now, st.net_input_bytes);
    st.ops_output_samples[i] = (now, st.net_output_bytes);
    st.ops_repl_input_samples[i] = (now, st.net_repl_input_bytes);
    st.ops_repl_output_samples[i] = (now, st.net_repl_output_bytes);
    st.ops_sample_idx = (i + 1) % 16;
}

/// Per-second rate over the recorded samples.
pub fn instantaneous(samples: &[(i64, u64); 16], idx: usize) -> f64 {
    let newest = samples[(idx + 15) % 16];
    let oldest = samples[idx];
    if oldest.0 == 0 || newest.0 <= oldest.0 {
        return 0.0;
    }
    (newest.1 - oldest.1) as f64 * 1000.0 / (newest.0 - oldest.0) as f64
}

/// Closes idle clients (`timeout`) and shrinks query buffers that grew for one big request.
fn clients_cron(srv: &mut Server, now: i64) {
    let timeout_ms = srv.config.timeout * 1000;
    let mut to_close = Vec::new();
    for (idx, slot) in srv.clients.iter_mut() {
        let Some(c) = slot.as_deref_mut() else {
            continue;
        };
        if timeout_ms > 0
            && !c.monitor
            && !c.master_link
            && c.replica.is_none()
            && now - c.last_interaction_ms > timeout_ms
        {
            log_verbose!("Closing idle client");
            to_close.push(idx);
            continue;
        }
        let used = c.qbuf.len() - c.qpos;
        if c.qbuf.capacity() > 32 * 1024 && used < c.qbuf.capacity() / 2 && c.qbuf_peak < 32 * 1024
        {
            if c.qpos > 0 {
                c.qbuf.drain(..c.qpos);
                c.parser.shifted(c.qpos);
                c.qpos = 0;
            }
            c.qbuf.shrink_to(used.max(1024));
        }
        c.qbuf_peak = used;
        match resize_reply_buffer(
            c,
            now,
            srv.reply_buffer_resizing,
            srv.reply_buffer_peak_reset_ms,
        ) {
            Ordering::Less => srv.stats.reply_buffer_shrinks += 1,
            Ordering::Greater => srv.stats.reply_buffer_expands += 1,
            Ordering::Equal => {}
        }
    }
    for idx in to_close {
        super::net::close_client_now(srv, idx);
    }
}

/// clientsCronResizeOutputBuffer on the modelled reply buffer (`Client::rbs`): halve it
/// or more when its peak used less than half (down to `peak + 1`, at least 1 KiB), double
/// it when the peak filled it (up to 16 KiB); every `reset_ms` the peak restarts from what
/// the buffer holds now, so an idle client's buffer shrinks. Sizes are what jemalloc would
/// hand Redis for the request (`jemalloc_usable`). Nothing happens while resizing is off.
/// Returns whether the buffer shrank (Less), grew (Greater) or kept its size.
pub fn resize_reply_buffer(c: &mut Client, now: i64, enabled: bool, reset_ms: i64) -> Ordering {
    if !enabled {
        return Ordering::Equal;
    }
    let (shrink_to, expand_to) = (c.rbs / 2, c.rbs * 2);
    let mut new_size = 0;
    if shrink_to >= REPLY_MIN_BYTES && c.rbp < shrink_to {
        new_size = REPLY_MIN_BYTES.max(c.rbp + 1);
    } else if expand_to < REPLY_CHUNK_BYTES * 2 && c.rbp == c.rbs {
        new_size = REPLY_CHUNK_BYTES.min(expand_to);
    }
    if reset_ms >= 0 && now - c.rbp_reset_ms >= reset_ms {
        c.rbp = c.out.buf.len().min(c.rbs);
        c.rbp_reset_ms = now;
    }
    if new_size == 0 {
        return Ordering::Equal;
    }
    let old = c.rbs;
    c.rbs = jemalloc_usable(new_size);
    c.rbs.cmp(&old)
}

/// The size jemalloc's allocation of `n` bytes really has (its size class), which is what
/// zmalloc_usable reports to Redis: four classes per doubling above 64 bytes.
fn jemalloc_usable(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 64 {
        return n.div_ceil(16) * 16;
    }
    let spacing = n.next_power_of_two() / 8;
    n.div_ceil(spacing) * spacing
}

/// Active expiry, then dict maintenance: shrink under-filled tables and spend up to 1 ms
/// rehashing (activerehashing), but never while a fork child shares our pages.
fn databases_cron(srv: &mut Server) {
    active_expire_cycle(srv, CycleKind::Slow);
    if srv.child_pid.is_some() {
        return;
    }
    for db in srv.dbs.iter_mut() {
        db.dict.resize_if_needed();
        db.expires.resize_if_needed();
    }
    if srv.config.activerehashing {
        for db in srv.dbs.iter_mut() {
            if db.dict.is_rehashing() {
                db.dict.rehash_for(1000);
                break;
            }
            if db.expires.is_rehashing() {
                db.expires.rehash_for(1000);
                break;
            }
        }
    }
}

/// Last work before exit (prepareForShutdown): the final save (`flags` are SHUTDOWN's
/// SAVE/NOSAVE/NOW/FORCE bits), then pid file and unix socket removal. False when the save
/// failed without FORCE: the shutdown is cancelled and the server keeps running.
pub fn prepare_for_shutdown(srv: &mut Server, flags: u8) -> bool {
    log_notice!("User requested shutdown...");
    if !crate::persistence::shutdown(srv, flags) {
        crate::log_warning!(
            "Errors trying to shut down the server. Check the logs for more information."
        );
        return false;
    }
    srv.persist.shutdown_done = true;
    if let Some(p) = srv.config.unixsocket.as_deref() {
        let _ = std::fs::remove_file(p);
    }
    if let Some(p) = srv.config.pidfile.as_deref() {
        if !p.is_empty() {
            log_notice!("Removing the pid file.");
            let _ = std::fs::remove_file(p);
        }
    }
    log_notice!("Redis is now ready to exit, bye bye...");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_size_classes() {
        for (n, class) in [
            (1, 8),
            (17, 32),
            (65, 80),
            (1024, 1024),
            (1025, 1280),
            (2001, 2048),
            (2049, 2560),
            (3001, 3072),
            (8192, 8192),
            (9000, 10240),
            (16384, 16384),
        ] {
            assert_eq!(jemalloc_usable(n), class, "{n}");
        }
    }
}
