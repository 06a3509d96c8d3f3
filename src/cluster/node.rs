//! A cluster node as this server knows it (cluster.h's clusterNode): its name, address,
//! flags, epoch, slots, master, the times of the last ping and pong, its links.
//!
//! Nodes live in a slab inside [`super::Cluster`]; everything that points at a node (the slot
//! table, a replica's master, a link) holds its slab key, and removing a node clears those.

use super::slots::SlotBitmap;

/// The length of a node name: 40 hex digits (CLUSTER_NAMELEN).
pub const NAMELEN: usize = 40;

/// A node name.
pub type Name = [u8; NAMELEN];

/// The node is a master.
pub const MASTER: u16 = 1;
/// The node is a replica.
pub const SLAVE: u16 = 2;
/// The node did not answer within node-timeout (possibly failing, our view only).
pub const PFAIL: u16 = 4;
/// A majority of masters agreed that the node is failing.
pub const FAIL: u16 = 8;
/// This node.
pub const MYSELF: u16 = 16;
/// Met but not yet answered our first ping: its real name is still unknown.
pub const HANDSHAKE: u16 = 32;
/// Its address is unknown.
pub const NOADDR: u16 = 64;
/// Send it a MEET rather than a PING.
pub const MEET: u16 = 128;
/// A master eligible for replica migration.
pub const MIGRATE_TO: u16 = 256;
/// A replica that will not try to fail over.
pub const NOFAILOVER: u16 = 512;

/// The all-zero name the bus uses for "no master".
pub const NULL_NAME: Name = [0; NAMELEN];

/// One node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its name (40 hex digits; random for a node still in handshake).
    pub name: Name,
    /// MASTER, SLAVE, PFAIL, ...
    pub flags: u16,
    /// The config epoch it announced (or we gave it).
    pub config_epoch: u64,
    /// The slots it serves, as it announced them.
    pub slots: SlotBitmap,
    /// How many slots it serves.
    pub numslots: usize,
    /// The master of a replica (slab key), when we know it.
    pub slaveof: Option<usize>,
    /// Its replicas (slab keys).
    pub replicas: Vec<usize>,
    /// Unix ms of the creation of this entry.
    pub ctime: i64,
    /// Unix ms of the ping we sent that is still unanswered (0: none).
    pub ping_sent: i64,
    /// Unix ms of the last pong.
    pub pong_received: i64,
    /// Unix ms of the last bytes received from it.
    pub data_received: i64,
    /// Unix ms when FAIL was set.
    pub fail_time: i64,
    /// Unix ms of our last vote for a replica of this master.
    pub voted_time: i64,
    /// Its replication offset as last announced.
    pub repl_offset: i64,
    /// Unix ms when repl_offset was last updated.
    pub repl_offset_time: i64,
    /// Its IP address (empty while unknown).
    pub ip: String,
    /// Its announced hostname (empty: none).
    pub hostname: String,
    /// Its client port.
    pub port: u16,
    /// Its plaintext client port when `port` is TLS.
    pub pport: u16,
    /// Its cluster bus port.
    pub cport: u16,
    /// Our outbound link to it (a link slot in `Cluster::links`).
    pub link: Option<usize>,
    /// The link it opened to us, once we know who is on the other end.
    pub inbound_link: Option<usize>,
    /// Masters that reported it as failing: (reporter's slab key, Unix ms of the report).
    pub fail_reports: Vec<(usize, i64)>,
}

impl Node {
    /// A new node entry (createClusterNode).
    pub fn new(name: Name, flags: u16, now_ms: i64) -> Node {
        Node {
            name,
            flags,
            config_epoch: 0,
            slots: SlotBitmap::default(),
            numslots: 0,
            slaveof: None,
            replicas: Vec::new(),
            ctime: now_ms,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset: 0,
            repl_offset_time: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            link: None,
            inbound_link: None,
            fail_reports: Vec::new(),
        }
    }

    /// The name as text.
    /// The port clients are given: the plaintext `pport` for `use_pport` (a plain client
    /// of a tls-cluster) when the node announced one, else `port`.
    pub fn client_port(&self, use_pport: bool) -> u16 {
        if use_pport && self.pport != 0 {
            self.pport
        } else {
            self.port
        }
    }

    pub fn name_str(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("")
    }

    /// True for a master.
    #[inline]
    pub fn is_master(&self) -> bool {
        self.flags & MASTER != 0
    }

    /// True for a replica.
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.flags & SLAVE != 0
    }

    /// True while the handshake has not completed.
    #[inline]
    pub fn in_handshake(&self) -> bool {
        self.flags & HANDSHAKE != 0
    }

    /// True for FAIL.
    #[inline]
    pub fn failed(&self) -> bool {
        self.flags & FAIL != 0
    }

    /// True for PFAIL.
    #[inline]
    pub fn timed_out(&self) -> bool {
        self.flags & PFAIL != 0
    }

    /// The flags as CLUSTER NODES prints them (representClusterNodeFlags).
    pub fn flags_text(&self) -> String {
        const NAMES: [(u16, &str); 8] = [
            (MYSELF, "myself"),
            (MASTER, "master"),
            (SLAVE, "slave"),
            (PFAIL, "fail?"),
            (FAIL, "fail"),
            (HANDSHAKE, "handshake"),
            (NOADDR, "noaddr"),
            (NOFAILOVER, "nofailover"),
        ];
        let parts: Vec<&str> = NAMES
            .iter()
            .filter(|(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
            .collect();
        if parts.is_empty() {
            "noflags".to_string()
        } else {
            parts.join(",")
        }
    }
}

/// True when `name` is 40 hex digits in lower case, as verifyClusterNodeId wants (Redis
/// checks the length and the hex alphabet; both cases pass its check, but names it makes are
/// lower case).
pub fn valid_name(name: &[u8]) -> bool {
    name.len() == NAMELEN
        && name
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A random node name (getRandomHexChars).
pub fn random_name() -> Name {
    let mut out = [0u8; NAMELEN];
    let mut bytes = [0u8; NAMELEN / 2];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_text_as_redis() {
        let mut n = Node::new(random_name(), MYSELF | MASTER, 0);
        assert_eq!(n.flags_text(), "myself,master");
        n.flags = 0;
        assert_eq!(n.flags_text(), "noflags");
        n.flags = SLAVE | PFAIL | HANDSHAKE;
        assert_eq!(n.flags_text(), "slave,fail?,handshake");
    }

    #[test]
    fn names() {
        let n = random_name();
        assert!(valid_name(&n));
        assert_ne!(n, random_name());
        assert!(!valid_name(b"abc"));
    }
}
