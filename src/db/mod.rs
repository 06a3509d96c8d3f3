//! The keyspace: numbered databases, each a main dict and an expires dict (db.c).
//!
//! Every command reaches keys through the lookups here, so lazy expiry, keyspace hit/miss
//! statistics, the LRU clock and modification signals happen in one place.
//! Invariant: a key present in `expires` is present in `dict`.
//!
//! Both dicts of a database grow only within maxmemory (Redis's `dictExpandAllowed`): inserts
//! here pass [`keyspace_may_grow`], so a database at its memory limit keeps its table (until
//! the load factor passes 1.618) instead of doubling it and evicting a table's worth of keys
//! to pay for the new bucket array. Values' own dicts (hashes, sets, zsets) grow freely.

pub mod expire;

use crate::ds::dict::{hash_key, Dict};
use crate::ds::sds::Sds;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::RObj;

/// One numbered database.
pub struct Db {
    /// Its index (SELECT n).
    pub id: usize,
    /// Key -> value.
    pub dict: Dict<Sds, RObj>,
    /// Key -> absolute expiry time in Unix milliseconds.
    pub expires: Dict<Sds, i64>,
    /// The active expire cycle's scan cursor over `expires`.
    pub expires_cursor: u64,
    /// Running average TTL of sampled keys (INFO keyspace avg_ttl).
    pub avg_ttl: i64,
    /// The keys by hash slot, for db 0 in cluster mode (cluster::slot_index); kept by every
    /// path that adds a key to `dict` or removes one.
    pub slot_index: Option<Box<crate::cluster::slot_index::SlotIndex>>,
}

impl Db {
    /// An empty database.
    pub fn new(id: usize) -> Db {
        Db {
            id,
            dict: Dict::new(),
            expires: Dict::new(),
            expires_cursor: 0,
            avg_ttl: 0,
            slot_index: None,
        }
    }

    /// Records a key just added to `dict` (`h`: its hash) in the slot index, if any.
    #[inline]
    pub fn index_added(&mut self, key: &[u8], h: u64) {
        if let Some(ix) = self.slot_index.as_mut() {
            ix.add(key, h);
        }
    }

    /// Forgets a key just removed from `dict` in the slot index, if any.
    #[inline]
    pub fn index_removed(&mut self, key: &[u8]) {
        if let Some(ix) = self.slot_index.as_mut() {
            ix.remove(key, hash_key(key));
        }
    }

    /// Expiry time of `key`, if it has one.
    #[inline]
    pub fn get_expire(&mut self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.dict = Dict::new();
        self.expires = Dict::new();
        self.expires_cursor = 0;
        self.avg_ttl = 0;
        if let Some(ix) = self.slot_index.as_mut() {
            ix.clear();
        }
    }
}

/// The growth check of the keyspace and expires dicts (the memory half of dictExpandAllowed,
/// overMaxmemoryAfterAlloc): a table may take `bytes` more for its new bucket array only if
/// used memory stays within `maxmemory` (0: no limit). The dict itself grows anyway past
/// [`crate::ds::dict::DICT_MAX_LOAD_FACTOR`], and only asks when an insert is due to grow.
#[inline]
pub fn keyspace_may_grow(maxmemory: u64) -> impl Fn(usize) -> bool {
    move |bytes| !crate::evict::over_limit_after_alloc(maxmemory, bytes)
}

/// How a lookup treats the key's metadata.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Read access: count a hit or miss and refresh the LRU clock.
    Read,
    /// Write access: refresh the LRU clock, no hit/miss statistics.
    Write,
    /// No side effects besides lazy expiry (TYPE, OBJECT, EXISTS-like probes).
    NoTouch,
}

impl Server {
    /// Deletes `key` if its TTL has passed; true when the key is expired (expireIfNeeded).
    /// While clients are paused an expired key is reported expired but kept: it is deleted
    /// once the pause ends.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let d = &mut self.dbs[db];
        if d.expires.is_empty() {
            return false;
        }
        let Some(&when) = d.expires.get(key) else {
            return false;
        };
        if self.loading || when >= self.cmd_time_ms {
            return false;
        }
        // A replica never deletes on its own: its master's DEL will come. Its master's
        // commands see the key; everyone else sees it gone.
        if self.repl.is_replica() {
            return !self.executing_master;
        }
        if !self.expiry_paused() {
            self.delete_expired(db, key);
        }
        true
    }

    /// True while CLIENT PAUSE (WRITE or ALL) is in force: the dataset must not change, so
    /// keys past their TTL read as missing but are not deleted (checkClientPauseTimeout-
    /// AndReturnIfPaused in expireIfNeeded). Write commands never run then.
    #[inline]
    pub fn expiry_paused(&self) -> bool {
        (self.pause_until_ms != 0 && self.cmd_time_ms < self.pause_until_ms)
            || crate::replication::failover::pauses_writes(self)
    }

    /// Removes a key whose TTL passed, with the statistics and events of an expiry.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        let d = &mut self.dbs[db];
        d.expires.remove(key);
        if d.dict.remove(key).is_some() {
            d.index_removed(key);
        }
        self.stats.expired_keys += 1;
        let lazy = self.config.lazyfree_lazy_expire;
        self.propagate_deletion(db, key, lazy);
        self.notify_keyspace_event(crate::server::notify::EXPIRED, "expired", key, db);
        self.signal_deleted_key(db, key);
    }

    /// Looks a key up, expiring it lazily first. The key is hashed once for both dicts (they
    /// share the hash function and seed).
    #[inline]
    pub fn lookup(&mut self, db: usize, key: &[u8], touch: Touch) -> Option<&mut RObj> {
        let h = hash_key(key);
        let d = &mut self.dbs[db];
        if !d.expires.is_empty() {
            if let Some(&when) = d.expires.get_with_hash(h, key) {
                if !self.loading && when < self.cmd_time_ms {
                    if touch == Touch::Write || !self.expiry_paused() {
                        self.delete_expired(db, key);
                    }
                    if touch == Touch::Read {
                        self.notify_keyspace_event(notify::KEY_MISS, "keymiss", key, db);
                        self.stats.keyspace_misses += 1;
                    }
                    return None;
                }
            }
        }
        // lookupKey fires keymiss for read misses. Checked apart (only when the class is on)
        // because the miss branch below cannot reach `self` while `found` may be returned.
        if touch == Touch::Read
            && self.config.notify_keyspace_events & notify::KEY_MISS != 0
            && self.dbs[db].dict.peek_with_hash(h, key).is_none()
        {
            self.stats.keyspace_misses += 1;
            self.notify_keyspace_event(notify::KEY_MISS, "keymiss", key, db);
            return None;
        }
        let lru = self.lru_clock;
        let no_child = self.child_pid.is_none();
        // Under an LFU policy `lru` holds the LFU counter: an access updates it (updateLFU)
        // instead of stamping the clock (crate::evict).
        let lfu = crate::evict::is_lfu(self.config.maxmemory_policy);
        let found = self.dbs[db].dict.get_mut_with_hash(h, key);
        if touch == Touch::Read {
            if found.is_some() {
                self.stats.keyspace_hits += 1;
            } else {
                self.stats.keyspace_misses += 1;
            }
        }
        match found {
            Some(o) => {
                if touch != Touch::NoTouch && no_child {
                    if lfu {
                        o.lru = crate::evict::update_lfu(
                            o.lru,
                            self.cmd_time_ms / 1000,
                            self.config.lfu_decay_time,
                            self.config.lfu_log_factor,
                        );
                    } else {
                        o.lru = lru;
                    }
                }
                Some(o)
            }
            None => None,
        }
    }

    /// lookupKeyRead.
    #[inline]
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&mut RObj> {
        self.lookup(db, key, Touch::Read)
    }

    /// lookupKeyWrite.
    #[inline]
    pub fn lookup_write(&mut self, db: usize, key: &[u8]) -> Option<&mut RObj> {
        self.lookup(db, key, Touch::Write)
    }

    /// True when the key exists (after lazy expiry), without touching it.
    pub fn key_exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.lookup(db, key, Touch::NoTouch).is_some()
    }

    /// Stores `obj` under `key`, replacing any value; the TTL is dropped unless `keep_ttl`
    /// (setKey). Signals the modification.
    pub fn set_key(&mut self, db: usize, key: &[u8], mut obj: RObj, keep_ttl: bool) {
        let h = hash_key(key);
        let lfu = crate::evict::is_lfu(self.config.maxmemory_policy);
        if lfu {
            self.init_lfu(&mut obj);
        }
        let d = &mut self.dbs[db];
        match d.dict.get_mut_with_hash(h, key) {
            Some(slot) => {
                if lfu {
                    // dbOverwrite keeps the old value's LFU data, after the access setKey's
                    // lookupKeyWrite counts.
                    obj.lru = crate::evict::update_lfu(
                        slot.lru,
                        self.cmd_time_ms / 1000,
                        self.config.lfu_decay_time,
                        self.config.lfu_log_factor,
                    );
                }
                *slot = obj;
                if !keep_ttl && !d.expires.is_empty() {
                    d.expires.remove_with_hash(h, key);
                }
            }
            None => {
                let may_grow = keyspace_may_grow(self.config.maxmemory);
                d.dict
                    .insert_with_hash_guarded(h, Sds::from_slice(key), obj, may_grow);
                d.index_added(key, h);
                self.notify_keyspace_event(notify::NEW, "new", key, db);
            }
        }
        self.signal_modified_key(db, key);
    }

    /// Adds a key known to be absent (dbAdd).
    pub fn add_key(&mut self, db: usize, key: &[u8], mut obj: RObj) {
        if crate::evict::is_lfu(self.config.maxmemory_policy) {
            self.init_lfu(&mut obj);
        }
        let may_grow = keyspace_may_grow(self.config.maxmemory);
        let d = &mut self.dbs[db];
        d.dict.insert_guarded(Sds::from_slice(key), obj, may_grow);
        if d.slot_index.is_some() {
            d.index_added(key, hash_key(key));
        }
        self.notify_keyspace_event(notify::NEW, "new", key, db);
        self.signal_modified_key(db, key);
    }

    /// Under an LFU policy, gives an object built in this command its initial LFU data
    /// (createObject: this minute, LFU_INIT_VAL). Handlers build objects with the LRU stamp
    /// `lru_clock`, which is how a new object is told from one moved between keys (RENAME,
    /// MOVE), whose LFU data must survive as in Redis.
    #[inline]
    fn init_lfu(&self, obj: &mut RObj) {
        if obj.lru == self.lru_clock {
            obj.lru = crate::evict::lfu_init(self.cmd_time_ms / 1000);
        }
    }

    /// Deletes a key and its TTL; true when it existed (dbDelete, without the signal).
    pub fn delete_key(&mut self, db: usize, key: &[u8]) -> bool {
        let d = &mut self.dbs[db];
        if d.dict.remove(key).is_some() {
            if !d.expires.is_empty() {
                d.expires.remove(key);
            }
            d.index_removed(key);
            true
        } else {
            false
        }
    }

    /// Sets an absolute expiry time (setExpire). The key must exist.
    pub fn set_expire(&mut self, db: usize, key: &[u8], when_ms: i64) {
        let d = &mut self.dbs[db];
        if let Some(e) = d.expires.get_mut(key) {
            *e = when_ms;
        } else {
            let may_grow = keyspace_may_grow(self.config.maxmemory);
            d.expires
                .insert_guarded(Sds::from_slice(key), when_ms, may_grow);
        }
    }

    /// Removes a TTL; true when there was one.
    pub fn remove_expire(&mut self, db: usize, key: &[u8]) -> bool {
        self.dbs[db].expires.remove(key).is_some()
    }

    /// The key's expiry time, if any.
    pub fn get_expire(&mut self, db: usize, key: &[u8]) -> Option<i64> {
        self.dbs[db].get_expire(key)
    }

    /// Called on every change to a key by a command (signalModifiedKey): invalidates WATCH,
    /// wakes clients blocked on the key, and invalidates client-side caches of it.
    #[inline]
    pub fn signal_modified_key(&mut self, db: usize, key: &[u8]) {
        self.touch_watched_key(db, key);
        self.signal_key_as_ready(db, key);
        self.tracking_invalidate_key(key, true);
    }

    /// `signal_modified_key` for a deletion the server makes on its own (expiry, eviction:
    /// Redis's signalModifiedKey(NULL, ...)): no client made the change, so a NOLOOP
    /// broadcast client is told even when its own command ran into the expired key.
    #[inline]
    pub fn signal_deleted_key(&mut self, db: usize, key: &[u8]) {
        self.touch_watched_key(db, key);
        self.signal_key_as_ready(db, key);
        self.tracking_invalidate_key(key, false);
    }

    /// Picks a random key that is not expired (RANDOMKEY, dbRandomKey); None when the db is
    /// empty. Expired keys met on the way are deleted, so the loop ends; while clients are
    /// paused they are kept, and when every key has a TTL, 100 expired picks in a row end
    /// the search with an expired key (Redis 7.0 loops forever there; later versions stop).
    pub fn random_key(&mut self, db: usize) -> Option<Sds> {
        let mut tries = 100;
        loop {
            let d = &mut self.dbs[db];
            let all_volatile = d.dict.len() == d.expires.len();
            let key = d.dict.random_entry().map(|(k, _)| k.clone())?;
            if d.expires.is_empty() || !self.expire_if_needed(db, key.as_bytes()) {
                return Some(key);
            }
            if all_volatile && self.expiry_paused() {
                tries -= 1;
                if tries == 0 {
                    return Some(key);
                }
            }
        }
    }
}
