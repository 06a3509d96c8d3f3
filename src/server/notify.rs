//! Keyspace notification classes (notify.c). Delivery arrives with Pub/Sub; until then events
//! are computed and dropped when `notify-keyspace-events` selects nothing.

use super::Server;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const LOADED: u32 = 1 << 12; // module only
pub const MODULE: u32 = 1 << 13; // d
pub const NEW: u32 = 1 << 14; // n

impl Server {
    /// Fires a keyspace event of `class` (notifyKeyspaceEvent). A no-op unless the class is
    /// enabled in `notify-keyspace-events`.
    #[inline]
    pub fn notify_keyspace_event(&mut self, class: u32, _event: &str, _key: &[u8], _db: usize) {
        if self.config.notify_keyspace_events & class == 0 {
            // Not enabled: nothing to do.
        }
    }
}
