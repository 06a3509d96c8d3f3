//! Timed work: serverCron (`hz` times a second) and shutdown.

use super::Server;
use crate::db::expire::{active_expire_cycle, CycleKind};
use crate::{log_notice, log_verbose};

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
        if timeout_ms > 0 && !c.monitor && now - c.last_interaction_ms > timeout_ms {
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
    }
    for idx in to_close {
        super::net::close_client_now(srv, idx);
    }
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
