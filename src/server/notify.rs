//! Keyspace notifications (notify.c).
//!
//! A command that changes a key calls `Server::notify_keyspace_event(class, event, key, db)`
//! at the point Redis calls notifyKeyspaceEvent. When `notify-keyspace-events` enables the
//! class, the event is published through Pub/Sub as
//! `__keyspace@<db>__:<key>` with the event name as message (flag K) and
//! `__keyevent@<db>__:<event>` with the key as message (flag E).
//! The class flags below are Redis's bit values; `config.rs` parses and prints them
//! (`K E g $ l s h z x e t m d n A`).

use super::Server;

/// K: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// E: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// g: generic commands (DEL, EXPIRE, RENAME...).
pub const GENERIC: u32 = 1 << 2;
/// $: string commands.
pub const STRING: u32 = 1 << 3;
/// l: list commands.
pub const LIST: u32 = 1 << 4;
/// s: set commands.
pub const SET: u32 = 1 << 5;
/// h: hash commands.
pub const HASH: u32 = 1 << 6;
/// z: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// x: expired events (lazy and active expiry).
pub const EXPIRED: u32 = 1 << 8;
/// e: evicted events (maxmemory).
pub const EVICTED: u32 = 1 << 9;
/// t: stream commands.
pub const STREAM: u32 = 1 << 10;
/// m: key misses (lookups of missing keys; not part of A).
pub const KEY_MISS: u32 = 1 << 11;
/// Module key-loaded events (never selectable by the user).
pub const LOADED: u32 = 1 << 12;
/// d: module key types.
pub const MODULE: u32 = 1 << 13;
/// n: new keys (not part of A).
pub const NEW: u32 = 1 << 14;

impl Server {
    /// Fires a keyspace event of `class` (notifyKeyspaceEvent). Returns at once unless the
    /// class is enabled in `notify-keyspace-events`; events nobody subscribes to are dropped
    /// without building their channel names (nothing could observe them).
    #[inline]
    pub fn notify_keyspace_event(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let flags = self.config.notify_keyspace_events;
        if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 || self.pubsub.is_idle() {
            return;
        }
        self.publish_keyspace_event(flags, event, key, db);
    }

    /// Builds the channel names and publishes (the slow half of notify_keyspace_event).
    #[cold]
    fn publish_keyspace_event(&mut self, flags: u32, event: &str, key: &[u8], db: usize) {
        let mut tmp = [0u8; 20];
        let dbs = crate::util::num::fmt_i64(db as i64, &mut tmp);
        let mut chan = Vec::with_capacity(16 + dbs.len() + key.len().max(event.len()));
        if flags & KEYSPACE != 0 {
            chan.extend_from_slice(b"__keyspace@");
            chan.extend_from_slice(dbs);
            chan.extend_from_slice(b"__:");
            chan.extend_from_slice(key);
            crate::pubsub::publish(self, &chan, event.as_bytes(), false);
        }
        if flags & KEYEVENT != 0 {
            chan.clear();
            chan.extend_from_slice(b"__keyevent@");
            chan.extend_from_slice(dbs);
            chan.extend_from_slice(b"__:");
            chan.extend_from_slice(event.as_bytes());
            crate::pubsub::publish(self, &chan, key, false);
        }
    }
}
