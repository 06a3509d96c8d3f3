//! Active expiry (expire.c's activeExpireCycle).
//!
//! Lazy expiry alone would keep keys that are never read again. Each serverCron tick runs a
//! *slow* cycle bounded to a percentage of CPU time, and each event-loop iteration may run a
//! *fast* cycle of about 1 ms. A cycle walks the databases round-robin; in each it scans the
//! expires dict with a SCAN cursor (so successive cycles cover the whole dict), sampling
//! `keys_per_loop` keys and deleting the expired ones, and repeats while more than
//! `acceptable_stale`% of the sample had expired. `active-expire-effort` (1..10) scales all of it.

use crate::server::Server;

/// Which cycle runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CycleKind {
    /// From beforeSleep: short, and skipped when the last slow cycle was not cut by time.
    Fast,
    /// From serverCron.
    Slow,
}

/// State kept between cycles.
#[derive(Default)]
pub struct ExpireState {
    /// Next database to visit.
    pub current_db: usize,
    /// The last cycle stopped because of its time limit.
    pub timelimit_exit: bool,
    /// Start of the last fast cycle, µs.
    pub last_fast_cycle_us: i64,
}

const KEYS_PER_LOOP: usize = 20;
const FAST_DURATION_US: i64 = 1000;
const SLOW_TIME_PERC: i64 = 25;
const ACCEPTABLE_STALE: usize = 10;
const DBS_PER_CALL: usize = 16;

/// Runs one expire cycle.
pub fn active_expire_cycle(srv: &mut Server, kind: CycleKind) {
    // A replica waits for its master's DELs (it hides expired keys on reads).
    if !srv.active_expire_enabled || srv.loading || srv.repl.is_replica() {
        return;
    }
    // While clients are paused the dataset stays as it is: no key expires.
    if (srv.pause_until_ms != 0 && crate::util::mstime() < srv.pause_until_ms)
        || crate::replication::failover::pauses_writes(srv)
    {
        return;
    }
    let effort = (srv.config.active_expire_effort.clamp(1, 10) - 1) as usize;
    let keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort;
    let fast_duration = FAST_DURATION_US + FAST_DURATION_US / 4 * effort as i64;
    let slow_perc = SLOW_TIME_PERC + 2 * effort as i64;
    let acceptable_stale = ACCEPTABLE_STALE - effort;
    let start = crate::util::ustime();

    if kind == CycleKind::Fast {
        // Only when the previous cycle ran out of time (keys may be piling up), and not
        // more often than every 2 * fast_duration.
        if !srv.expire_state.timelimit_exit
            && srv.stats.expired_stale_perc < acceptable_stale as f64
        {
            return;
        }
        if start < srv.expire_state.last_fast_cycle_us + fast_duration * 2 {
            return;
        }
        srv.expire_state.last_fast_cycle_us = start;
    }
    let ndbs = srv.dbs.len();
    let dbs_per_call = if srv.expire_state.timelimit_exit {
        ndbs
    } else {
        DBS_PER_CALL.min(ndbs)
    };
    let hz = srv.config.hz.clamp(1, 500);
    let timelimit = if kind == CycleKind::Fast {
        fast_duration
    } else {
        (1_000_000 * slow_perc / hz / 100).max(1)
    };
    srv.expire_state.timelimit_exit = false;
    let mut total_sampled = 0usize;
    let mut total_expired = 0usize;
    let mut batch: Vec<(crate::ds::sds::Sds, i64)> = Vec::with_capacity(keys_per_loop);

    for _ in 0..dbs_per_call {
        if srv.expire_state.timelimit_exit {
            break;
        }
        let dbi = srv.expire_state.current_db % ndbs;
        srv.expire_state.current_db = srv.expire_state.current_db.wrapping_add(1);
        loop {
            let now = crate::util::mstime();
            srv.cmd_time_ms = now;
            let db = &mut srv.dbs[dbi];
            let num = db.expires.len();
            if num == 0 {
                db.avg_ttl = 0;
                break;
            }
            let want = num.min(keys_per_loop);
            let max_buckets = want * 20;
            batch.clear();
            let mut checked_buckets = 0;
            let mut cursor = db.expires_cursor;
            while batch.len() < want && checked_buckets < max_buckets {
                cursor = db
                    .expires
                    .scan(cursor, |k, when| batch.push((k.clone(), *when)));
                checked_buckets += 1;
                if cursor == 0 {
                    break;
                }
            }
            db.expires_cursor = cursor;
            let mut expired = 0;
            let mut ttl_sum: i64 = 0;
            let mut ttl_samples: i64 = 0;
            let sampled = batch.len();
            for (k, when) in batch.drain(..) {
                if when < now {
                    srv.delete_expired(dbi, k.as_bytes());
                    expired += 1;
                } else {
                    ttl_sum += when - now;
                    ttl_samples += 1;
                }
            }
            total_sampled += sampled;
            total_expired += expired;
            if ttl_samples > 0 {
                let avg = ttl_sum / ttl_samples;
                let db = &mut srv.dbs[dbi];
                db.avg_ttl = if db.avg_ttl == 0 {
                    avg
                } else {
                    (db.avg_ttl / 50) * 49 + (avg / 50)
                };
            }
            if crate::util::ustime() - start > timelimit {
                srv.expire_state.timelimit_exit = true;
                srv.stats.expired_time_cap_reached_count += 1;
                break;
            }
            let repeat = sampled > 0 && expired * 100 / sampled > acceptable_stale;
            if !repeat || cursor == 0 && sampled < keys_per_loop {
                break;
            }
        }
    }
    let elapsed = crate::util::ustime() - start;
    srv.stats.expire_cycle_time_used_us += elapsed.max(0) as u64;
    crate::commands::introspection::latency_add_sample(
        srv,
        "expire-cycle",
        elapsed.max(0) as u64 / 1000,
    );
    let current_perc = if total_sampled > 0 {
        total_expired as f64 / total_sampled as f64
    } else {
        0.0
    };
    srv.stats.expired_stale_perc = current_perc * 0.05 + srv.stats.expired_stale_perc * 0.95;
}
