//! maxmemory and eviction (evict.c): when used memory passes `maxmemory`, keys are removed
//! according to `maxmemory-policy` before the next command runs.
//!
//! Memory layout:
//!
//! ```text
//!  Server::evict: EvictState
//!  +-------------------------------------------------------------------------------+
//!  | pool: [PoolEntry; 16]   the eviction pool, kept across calls                   |
//!  |    [0] worst candidate  ...  [15] best candidate       (ascending score)        |
//!  |    PoolEntry { score: u64, key: Vec<u8> (buffer reused), db, used }            |
//!  |    used entries always form a prefix: [used used used . . . . . . . . . . . .]  |
//!  | scratch: Vec<u8> + spans   keys sampled from an expires table (volatile-lru/lfu)|
//!  | next_db                    round robin of the random policies                   |
//!  | proc_running               evictionTimeProc scheduled (memory still over limit) |
//!  | exceeded_since / total     INFO's (total|current)_eviction_exceeded_time         |
//!  +-------------------------------------------------------------------------------+
//!
//!  RObj::lru (24 bits used)
//!    LRU (and noeviction, random, ttl):  [        seconds clock (24 bits)        ]
//!    LFU policies:                        [ minutes, 16 bits | log counter, 8 bits ]
//! ```
//!
//! LRU and LFU are approximations, exactly as Redis makes them: each round samples
//! `maxmemory-samples` keys of every database into the pool, which keeps the 16 best
//! candidates seen so far (highest idle time, lowest decayed LFU counter, or nearest expiry);
//! the best candidate that still exists is evicted. Keeping the pool across rounds is what
//! makes 5 samples per round behave almost like true LRU.
//!
//! One call to [`perform_evictions`] frees what is needed to get back under the limit, but
//! stops after `maxmemory-eviction-tenacity`'s time budget; the rest is left to
//! [`eviction_time_proc`], which the event loop runs on every iteration while
//! `proc_running` is set. Memory is accounted by the counting global allocator
//! (`server::alloc`), so client buffers count, as in Redis; nothing is excluded because there
//! is no replication backlog or AOF buffer to exclude.

use crate::config::MaxmemoryPolicy;
use crate::db::Db;
use crate::server::alloc::used_memory;
use crate::server::Server;
use crate::types::object::RObj;
use std::cell::Cell;

/// Candidates kept in the eviction pool (EVPOOL_SIZE).
pub const EVPOOL_SIZE: usize = 16;

/// Key buffers up to this size are kept allocated in their pool slot (EVPOOL_CACHED_SDS_SIZE):
/// refilling a slot then costs a copy, not an allocation.
const EVPOOL_CACHED_KEY_SIZE: usize = 255;

/// The LFU counter of a new object (LFU_INIT_VAL): new keys get a few accesses' worth of
/// credit so they are not the first ones evicted.
pub const LFU_INIT_VAL: u8 = 5;

/// What [`perform_evictions`] achieved (EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EvictResult {
    /// Under the limit, or eviction is not allowed right now.
    Ok,
    /// Still over the limit; the time proc keeps evicting between commands.
    Running,
    /// Over the limit with nothing left to evict (or noeviction): deny-OOM commands fail.
    Fail,
}

/// One slot of the eviction pool.
#[derive(Default)]
struct PoolEntry {
    /// Eviction score: idle ms, 255 - LFU counter, or u64::MAX - expire time.
    score: u64,
    /// The key's bytes (the buffer survives the slot being emptied).
    key: Vec<u8>,
    /// Database of the key.
    db: usize,
    /// Whether the slot holds a candidate.
    used: bool,
}

/// Eviction state that lives between calls: the pool, the round robin of the random
/// policies, the time proc flag and the over-the-limit time statistics.
#[derive(Default)]
pub struct EvictState {
    pool: [PoolEntry; EVPOOL_SIZE],
    /// Keys sampled from an expires table, concatenated (volatile-lru / volatile-lfu).
    scratch: Vec<u8>,
    /// (start, len) of each key in `scratch`.
    spans: Vec<(usize, usize)>,
    /// Random policies visit databases round robin (evict.c's static next_db).
    next_db: usize,
    /// Set while memory is over the limit and the time proc must keep evicting.
    pub proc_running: bool,
    /// Start of the current over-the-limit period (stat_last_eviction_exceeded_time).
    exceeded_since: Option<u64>,
    /// Sum of finished over-the-limit periods, µs (stat_total_eviction_exceeded_time).
    total_exceeded_us: u64,
}

impl EvictState {
    /// INFO total_eviction_exceeded_time: ms spent over maxmemory, current period included
    /// only once it ends (as Redis).
    pub fn total_exceeded_ms(&self) -> u64 {
        self.total_exceeded_us / 1000
    }

    /// INFO current_eviction_exceeded_time: ms since memory went over the limit, 0 when under.
    pub fn current_exceeded_ms(&self) -> u64 {
        match self.exceeded_since {
            Some(t) => crate::util::clock::elapsed_us(t, crate::util::clock::now()) / 1000,
            None => 0,
        }
    }

    /// Forgets the exceeded-time statistics (CONFIG RESETSTAT, resetServerStats): a period in
    /// progress restarts at the next eviction round that finds memory still over the limit.
    pub fn reset_stats(&mut self) {
        self.total_exceeded_us = 0;
        self.exceeded_since = None;
    }

    /// Candidates currently in the pool as (db, key, score), best last (for tests).
    pub fn pool_snapshot(&self) -> Vec<(usize, Vec<u8>, u64)> {
        self.pool
            .iter()
            .filter(|e| e.used)
            .map(|e| (e.db, e.key.clone(), e.score))
            .collect()
    }

    /// Offers a candidate to the pool.
    #[cfg(test)]
    fn pool_insert(&mut self, score: u64, key: &[u8], db: usize) {
        pool_insert(&mut self.pool, score, key, db);
    }
}

/// Offers a candidate to the pool (the insertion part of evictionPoolPopulate). The pool stays
/// sorted by ascending score; a candidate worse than all 16 kept ones is dropped, otherwise the
/// worst one makes room.
fn pool_insert(pool: &mut [PoolEntry; EVPOOL_SIZE], score: u64, key: &[u8], db: usize) {
    let mut k = 0;
    while k < EVPOOL_SIZE && pool[k].used && pool[k].score < score {
        k += 1;
    }
    if k == 0 && pool[EVPOOL_SIZE - 1].used {
        // Worse than the worst candidate and no free slot.
        return;
    }
    if k < EVPOOL_SIZE && !pool[k].used {
        // The first free slot: nothing to move.
    } else if !pool[EVPOOL_SIZE - 1].used {
        // Free space on the right: shift k.. right by one; the free last slot (and its
        // buffer) comes round to k.
        pool[k..].rotate_right(1);
    } else {
        // Full: drop the worst (slot 0) by shifting 1..k left; its buffer comes to k-1.
        k -= 1;
        pool[..=k].rotate_left(1);
    }
    let e = &mut pool[k];
    if key.len() > EVPOOL_CACHED_KEY_SIZE || e.key.capacity() > 2 * EVPOOL_CACHED_KEY_SIZE {
        // A big key gets its own buffer, and a slot never keeps a big one for long.
        e.key = Vec::with_capacity(key.len().max(EVPOOL_CACHED_KEY_SIZE));
    } else if e.key.capacity() == 0 {
        e.key.reserve_exact(EVPOOL_CACHED_KEY_SIZE);
    }
    e.key.clear();
    e.key.extend_from_slice(key);
    e.score = score;
    e.db = db;
    e.used = true;
}

// ---------------------------------------------------------------------------------------------
// Policy families

/// True for the LFU policies, whose objects carry LFU data in `lru`.
#[inline]
pub fn is_lfu(p: MaxmemoryPolicy) -> bool {
    matches!(
        p,
        MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
    )
}

/// True for the LRU policies.
#[inline]
pub fn is_lru(p: MaxmemoryPolicy) -> bool {
    matches!(
        p,
        MaxmemoryPolicy::AllkeysLru | MaxmemoryPolicy::VolatileLru
    )
}

/// True for the allkeys-* policies, which evict from the whole keyspace rather than from the
/// keys with a TTL.
#[inline]
pub fn is_allkeys(p: MaxmemoryPolicy) -> bool {
    matches!(
        p,
        MaxmemoryPolicy::AllkeysLru | MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::AllkeysRandom
    )
}

// ---------------------------------------------------------------------------------------------
// LRU and LFU arithmetic

/// estimateObjectIdleTime: ms since the object was last touched, from the 24-bit seconds
/// clock (wrapping once).
#[inline]
pub fn estimate_idle_ms(lru_clock: u32, obj_lru: u32) -> u64 {
    let (now, then) = (u64::from(lru_clock), u64::from(obj_lru));
    let secs = if now >= then {
        now - then
    } else {
        now + u64::from(crate::server::LRU_CLOCK_MAX).saturating_sub(then)
    };
    secs * 1000
}

/// LFUGetTimeInMinutes: the low 16 bits of Unix time in minutes.
#[inline]
pub fn lfu_time_in_minutes(unix_secs: i64) -> u32 {
    ((unix_secs / 60) & 65535) as u32
}

/// LFUTimeElapsed: minutes from `ldt` to `now`, both 16-bit minute stamps wrapping once.
#[inline]
pub fn lfu_time_elapsed(ldt: u32, now: u32) -> u32 {
    if now >= ldt {
        now - ldt
    } else {
        65535u32.saturating_sub(ldt) + now
    }
}

/// LFUDecrAndReturn: the LFU counter after one decrement per `lfu-decay-time` minutes since
/// the last access. The object itself is not changed (only a real access stores the result).
#[inline]
pub fn lfu_decr_and_return(lru: u32, now_min: u32, decay_minutes: i64) -> u8 {
    // Only 24 bits are meaningful; masking keeps stray high bits from skewing the time.
    let ldt = (lru >> 8) & 65535;
    let counter = (lru & 255) as u8;
    if decay_minutes <= 0 {
        return counter;
    }
    let periods = i64::from(lfu_time_elapsed(ldt, now_min)) / decay_minutes;
    if periods >= i64::from(counter) {
        0
    } else {
        counter - periods as u8
    }
}

thread_local! {
    /// State of the generator behind LFULogIncr's coin flips (splitmix64). The LFU counter
    /// only needs well-spread numbers, not unpredictable ones.
    static LFU_RNG: Cell<u64> = const { Cell::new(0x2545_f491_4f6c_dd1d) };
}

/// A uniform double in [0, 1) (Redis uses rand()/RAND_MAX).
#[inline]
fn rand_unit() -> f64 {
    LFU_RNG.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    })
}

/// LFULogIncr: increments the counter with probability 1 / ((counter - LFU_INIT_VAL) *
/// lfu-log-factor + 1), so it grows logarithmically with the number of accesses; saturates
/// at 255.
#[inline]
pub fn lfu_log_incr(counter: u8, log_factor: i64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = (f64::from(counter) - f64::from(LFU_INIT_VAL)).max(0.0);
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if rand_unit() < p {
        counter + 1
    } else {
        counter
    }
}

/// updateLFU: the new `lru` of an object being accessed under an LFU policy: decay, then a
/// logarithmic increment, stamped with the current minute.
#[inline]
pub fn update_lfu(lru: u32, unix_secs: i64, decay_minutes: i64, log_factor: i64) -> u32 {
    let now = lfu_time_in_minutes(unix_secs);
    let counter = lfu_log_incr(lfu_decr_and_return(lru, now, decay_minutes), log_factor);
    (now << 8) | u32::from(counter)
}

/// The `lru` of a new object under an LFU policy (createObject): this minute, LFU_INIT_VAL.
#[inline]
pub fn lfu_init(unix_secs: i64) -> u32 {
    (lfu_time_in_minutes(unix_secs) << 8) | u32::from(LFU_INIT_VAL)
}

/// evictionTimeLimitUs: the time one eviction round may take for a tenacity of 0..100:
/// linear up to 500 µs at 10 (the default), then +15% per step, unlimited at 100.
pub fn eviction_time_limit_us(tenacity: i64) -> u64 {
    let t = tenacity.clamp(0, 100);
    if t <= 10 {
        50 * t as u64
    } else if t < 100 {
        (500.0 * 1.15f64.powf(t as f64 - 10.0)) as u64
    } else {
        u64::MAX
    }
}

// ---------------------------------------------------------------------------------------------
// Memory state

/// getMaxmemoryState: None when under the limit (or no limit), else the bytes to free.
#[inline]
pub fn bytes_to_free(srv: &Server) -> Option<u64> {
    let limit = srv.config.maxmemory;
    if limit == 0 {
        return None;
    }
    // No replication backlog or AOF buffer exists, so nothing is "not counted".
    let used = used_memory() as u64;
    (used > limit).then(|| used - limit)
}

/// overMaxmemoryAfterAlloc: whether allocating `more` bytes would pass the limit.
pub fn over_maxmemory_after_alloc(srv: &Server, more: usize) -> bool {
    over_limit_after_alloc(srv.config.maxmemory, more)
}

/// [`over_maxmemory_after_alloc`] for a caller that holds the limit but cannot lend the whole
/// server (the keyspace dicts deciding whether to grow, while a database is borrowed).
#[inline]
pub fn over_limit_after_alloc(maxmemory: u64, more: usize) -> bool {
    maxmemory != 0 && (used_memory() as u64).saturating_add(more as u64) > maxmemory
}

/// isPerformEvictions: no eviction while loading or while clients are paused (the dataset
/// must stay still then).
#[inline]
fn evictions_allowed(srv: &Server) -> bool {
    let paused = (srv.pause_until_ms != 0 && srv.cmd_time_ms < srv.pause_until_ms)
        || crate::replication::failover::pauses_writes(srv);
    !srv.loading && !paused
}

// ---------------------------------------------------------------------------------------------
// Eviction

/// performEvictions: if memory is over `maxmemory`, evicts keys by the policy until it is not
/// or the tenacity time budget is spent (then the time proc goes on). Runs before every
/// command when a limit is set; [`EvictResult::Fail`] makes deny-OOM commands fail.
#[inline]
pub fn perform_evictions(srv: &mut Server) -> EvictResult {
    // replica-ignore-maxmemory (yes by default): a replica's memory follows its master's.
    if srv.repl.is_replica() {
        return EvictResult::Ok;
    }
    if !evictions_allowed(srv) {
        return EvictResult::Ok;
    }
    let result = match bytes_to_free(srv) {
        None => EvictResult::Ok,
        Some(tofree) => evict_slow(srv, tofree),
    };
    update_metrics(srv, result);
    result
}

/// Tracks how long memory stays over the limit (INFO *_eviction_exceeded_time).
#[inline]
fn update_metrics(srv: &mut Server, result: EvictResult) {
    let st = &mut srv.evict;
    match result {
        EvictResult::Running | EvictResult::Fail => {
            if st.exceeded_since.is_none() {
                st.exceeded_since = Some(crate::util::clock::now());
            }
        }
        EvictResult::Ok => {
            if let Some(t) = st.exceeded_since.take() {
                st.total_exceeded_us +=
                    crate::util::clock::elapsed_us(t, crate::util::clock::now());
            }
        }
    }
}

/// The per-round inputs of the scores, read once from the server.
#[derive(Clone, Copy)]
struct ScoreParams {
    policy: MaxmemoryPolicy,
    samples: usize,
    lru_clock: u32,
    now_min: u32,
    decay: i64,
}

impl ScoreParams {
    /// The pool score of an object (higher = better candidate).
    #[inline]
    fn object_score(&self, o: &RObj) -> u64 {
        if is_lfu(self.policy) {
            // Inverted frequency, so that the pool still evicts the largest score.
            255 - u64::from(lfu_decr_and_return(o.lru, self.now_min, self.decay))
        } else {
            estimate_idle_ms(self.lru_clock, o.lru)
        }
    }
}

/// The score of an expire time under volatile-ttl: the sooner, the better.
#[inline]
fn ttl_score(when_ms: i64) -> u64 {
    u64::MAX.wrapping_sub(when_ms as u64)
}

/// evictionPoolPopulate: samples keys of one database into the pool.
fn pool_populate(st: &mut EvictState, p: &ScoreParams, dbid: usize, db: &mut Db) {
    match p.policy {
        MaxmemoryPolicy::VolatileTtl => {
            let pool = &mut st.pool;
            db.expires.sample(p.samples, |k, &when| {
                pool_insert(pool, ttl_score(when), k.as_bytes(), dbid)
            });
        }
        _ if is_allkeys(p.policy) => {
            let pool = &mut st.pool;
            db.dict.sample(p.samples, |k, o| {
                pool_insert(pool, p.object_score(o), k.as_bytes(), dbid)
            });
        }
        _ => {
            // Sampled from the expires table: the objects live in the main dict.
            let EvictState {
                pool,
                scratch,
                spans,
                ..
            } = st;
            scratch.clear();
            spans.clear();
            db.expires.sample(p.samples, |k, _| {
                spans.push((scratch.len(), k.as_bytes().len()));
                scratch.extend_from_slice(k.as_bytes());
            });
            for &(at, len) in spans.iter() {
                let key = &scratch[at..at + len];
                if let Some(o) = db.dict.peek(key) {
                    pool_insert(pool, p.object_score(o), key, dbid);
                }
            }
        }
    }
}

/// Evicts the next key under a pool policy: the best pool entry that still exists (entries
/// are not removed when their key is deleted by other means, so some are ghosts, skipped as in
/// Redis); the pool is refilled from every database whenever it runs dry. Returns the bytes
/// the deletion freed, or None when no database has a candidate.
fn evict_from_pool(srv: &mut Server) -> Option<i64> {
    let policy = srv.config.maxmemory_policy;
    let p = ScoreParams {
        policy,
        samples: srv.config.maxmemory_samples.max(1) as usize,
        lru_clock: srv.lru_clock,
        now_min: lfu_time_in_minutes(srv.cmd_time_ms / 1000),
        decay: srv.config.lfu_decay_time,
    };
    let allkeys = is_allkeys(policy);
    loop {
        let mut total_keys = 0;
        for (i, db) in srv.dbs.iter_mut().enumerate() {
            let keys = if allkeys {
                db.dict.len()
            } else {
                db.expires.len()
            };
            if keys != 0 {
                pool_populate(&mut srv.evict, &p, i, db);
                total_keys += keys;
            }
        }
        if total_keys == 0 {
            return None;
        }
        for k in (0..EVPOOL_SIZE).rev() {
            let e = &mut srv.evict.pool[k];
            if !e.used {
                continue;
            }
            e.used = false;
            e.score = 0;
            let db = e.db;
            // volatile-*: the key must still have a TTL. allkeys-*: the deletion itself tells
            // a ghost, which saves a lookup per eviction.
            if !allkeys && srv.dbs[db].expires.peek(&e.key).is_none() {
                continue;
            }
            // The bytes leave their buffer while the deletion (which needs the whole server)
            // runs, then the buffer goes back for reuse.
            let key = std::mem::take(&mut e.key);
            let freed = evict_key(srv, db, &key);
            srv.evict.pool[k].key = key;
            if freed.is_some() {
                return freed;
            }
        }
    }
}

/// Picks a random key for the random policies, visiting databases round robin so that every
/// database gives up keys; the key is copied into `scratch`.
fn pick_random(srv: &mut Server) -> Option<usize> {
    let allkeys = srv.config.maxmemory_policy == MaxmemoryPolicy::AllkeysRandom;
    let n = srv.dbs.len();
    for _ in 0..n {
        srv.evict.next_db = (srv.evict.next_db + 1) % n;
        let j = srv.evict.next_db;
        let db = &mut srv.dbs[j];
        let key = if allkeys {
            db.dict.random_entry().map(|(k, _)| k.as_bytes())
        } else {
            db.expires.random_entry().map(|(k, _)| k.as_bytes())
        };
        if let Some(k) = key {
            srv.evict.scratch.clear();
            srv.evict.scratch.extend_from_slice(k);
            return Some(j);
        }
    }
    None
}

/// Deletes an evicted key with its side effects: statistics, WATCH/blocking signal and the
/// `evicted` keyspace event. Returns the bytes freed by the deletion alone (what Redis
/// counts: buffers filled by the notification are not the keyspace's), or None when the key
/// did not exist.
fn evict_key(srv: &mut Server, db: usize, key: &[u8]) -> Option<i64> {
    let before = used_memory() as i64;
    // lazyfree-lazy-eviction has no background thread to hand the value to: values are
    // always freed here, which also makes the freed amount exact.
    if !srv.delete_key(db, key) {
        return None;
    }
    let freed = before - used_memory() as i64;
    let lazy = srv.config.lazyfree_lazy_eviction;
    srv.propagate_deletion(db, key, lazy);
    srv.stats.evicted_keys += 1;
    srv.signal_deleted_key(db, key);
    srv.notify_keyspace_event(crate::server::notify::EVICTED, "evicted", key, db);
    Some(freed)
}

/// The eviction loop of performEvictions, entered when `tofree` bytes must go.
#[cold]
#[inline(never)]
fn evict_slow(srv: &mut Server, tofree: u64) -> EvictResult {
    let policy = srv.config.maxmemory_policy;
    if policy == MaxmemoryPolicy::NoEviction {
        return EvictResult::Fail;
    }
    let limit_us = eviction_time_limit_us(srv.config.maxmemory_eviction_tenacity);
    let start = crate::util::clock::now();
    let random = matches!(
        policy,
        MaxmemoryPolicy::AllkeysRandom | MaxmemoryPolicy::VolatileRandom
    );
    let mut freed: i64 = 0;
    let mut keys_freed: u64 = 0;
    let mut result = EvictResult::Ok;
    while freed < tofree as i64 {
        let evicted = if random {
            match pick_random(srv) {
                Some(db) => {
                    let key = std::mem::take(&mut srv.evict.scratch);
                    let freed = evict_key(srv, db, &key);
                    srv.evict.scratch = key;
                    freed
                }
                None => None,
            }
        } else {
            evict_from_pool(srv)
        };
        let Some(delta) = evicted else {
            // Nothing left that the policy may evict.
            result = EvictResult::Fail;
            break;
        };
        freed += delta;
        keys_freed += 1;
        if keys_freed.is_multiple_of(16) {
            let spent = crate::util::clock::elapsed_us(start, crate::util::clock::now());
            if spent > limit_us {
                // Still over the limit: keep evicting between commands.
                srv.evict.proc_running = true;
                break;
            }
        }
    }
    if result == EvictResult::Ok && srv.evict.proc_running {
        result = EvictResult::Running;
    }
    if srv.config.latency_monitor_threshold > 0 {
        let ms = crate::util::clock::elapsed_us(start, crate::util::clock::now()) / 1000;
        crate::commands::introspection::latency_add_sample(srv, "eviction-cycle", ms);
    }
    result
}

/// startEvictionTimeProc: asks the event loop to keep evicting between iterations (after
/// CONFIG SET maxmemory lowered the limit, or when a round ran out of time).
pub fn start_eviction_time_proc(srv: &mut Server) {
    srv.evict.proc_running = true;
}

/// evictionTimeProc: one eviction round from the event loop while `proc_running`. Returns
/// true while it must run again on the next iteration (the loop should then not sleep).
pub fn eviction_time_proc(srv: &mut Server) -> bool {
    if !srv.evict.proc_running {
        return false;
    }
    if perform_evictions(srv) == EvictResult::Running {
        return true;
    }
    // Under the limit, or nothing left to evict.
    srv.evict.proc_running = false;
    false
}

/// The OOM error of deny-OOM commands (shared.oomerr), as passed to the reply encoder.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(st: &EvictState) -> Vec<(Vec<u8>, u64)> {
        st.pool_snapshot()
            .into_iter()
            .map(|(_, k, s)| (k, s))
            .collect()
    }

    #[test]
    fn pool_keeps_best_sixteen_sorted() {
        let mut st = EvictState::default();
        // Scores 0..40 in a scrambled order.
        for i in 0..40u64 {
            let s = (i * 17) % 40;
            st.pool_insert(s, format!("k{s}").as_bytes(), 0);
        }
        let got = keys(&st);
        assert_eq!(got.len(), EVPOOL_SIZE);
        let scores: Vec<u64> = got.iter().map(|x| x.1).collect();
        assert_eq!(scores, (24..40).collect::<Vec<_>>());
        for (k, s) in got {
            assert_eq!(k, format!("k{s}").into_bytes());
        }
        // A worse candidate than all kept ones is dropped.
        st.pool_insert(1, b"low", 0);
        assert_eq!(keys(&st)[0].1, 24);
    }

    #[test]
    fn pool_inserts_in_the_middle_with_free_space() {
        let mut st = EvictState::default();
        st.pool_insert(10, b"a", 0);
        st.pool_insert(30, b"c", 1);
        st.pool_insert(20, b"b", 2);
        st.pool_insert(5, b"z", 3);
        let got = st.pool_snapshot();
        let order: Vec<&[u8]> = got.iter().map(|x| &x.1[..]).collect();
        assert_eq!(order, vec![&b"z"[..], b"a", b"b", b"c"]);
        assert_eq!(got[3].0, 1);
        // Big keys get their own buffer.
        let big = vec![b'x'; 1000];
        st.pool_insert(40, &big, 0);
        assert_eq!(st.pool_snapshot()[4].1, big);
    }

    #[test]
    fn lfu_decay_and_increment() {
        let now_secs = 1000 * 60;
        let now = lfu_time_in_minutes(now_secs);
        assert_eq!(lfu_decr_and_return((now << 8) | 5, now, 1), 5);
        assert_eq!(lfu_decr_and_return(((now - 2) << 8) | 5, now, 1), 3);
        assert_eq!(lfu_decr_and_return(((now - 100) << 8) | 5, now, 1), 0);
        assert_eq!(lfu_decr_and_return(((now - 100) << 8) | 5, now, 0), 5);
        assert_eq!(lfu_decr_and_return(((now - 10) << 8) | 20, now, 5), 18);
        // Wrap of the 16-bit minute stamp.
        assert_eq!(lfu_time_elapsed(65530, 3), 8);
        // Below LFU_INIT_VAL + 1 the increment is certain.
        for c in 0..=LFU_INIT_VAL {
            assert_eq!(lfu_log_incr(c, 10), c + 1);
        }
        assert_eq!(lfu_log_incr(255, 10), 255);
        // Logarithmic, as redis.conf's table for lfu-log-factor 10: 100K hits ~ 142.
        let mut c = 0;
        for _ in 0..100_000 {
            c = lfu_log_incr(c, 10);
        }
        assert!((125..=160).contains(&c), "counter {c}");
        let lru = update_lfu(lfu_init(now_secs), now_secs, 1, 10);
        assert_eq!(lru >> 8, now);
        assert_eq!(lru & 255, 6);
    }

    #[test]
    fn idle_time_wraps() {
        assert_eq!(estimate_idle_ms(100, 90), 10_000);
        let max = crate::server::LRU_CLOCK_MAX;
        assert_eq!(estimate_idle_ms(5, max - 5), 10_000);
    }

    #[test]
    fn stray_high_bits_never_panic() {
        // `lru` should hold 24 bits; anything else must still give a number, not a panic.
        assert_eq!(estimate_idle_ms(0, u32::MAX), 0);
        assert_eq!(lfu_decr_and_return(u32::MAX, 0, 1), 255);
        assert_eq!(lfu_time_elapsed(u32::MAX, 3), 3);
        assert!(update_lfu(u32::MAX, i64::MAX, i64::MAX, i64::MAX) >> 24 == 0);
        assert!(update_lfu(0, -1, 1, 10) >> 24 == 0);
    }

    #[test]
    fn tenacity_limits() {
        assert_eq!(eviction_time_limit_us(0), 0);
        assert_eq!(eviction_time_limit_us(10), 500);
        assert_eq!(eviction_time_limit_us(11), 575);
        assert!(eviction_time_limit_us(99) > 100_000_000);
        assert_eq!(eviction_time_limit_us(100), u64::MAX);
    }

    #[test]
    fn ttl_scores_prefer_sooner() {
        assert!(ttl_score(1000) > ttl_score(2000));
    }
}
