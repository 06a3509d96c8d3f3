//! The cluster bus message codec, byte for byte as Redis 7.0's `clusterMsg` (cluster.h).
//! Every integer is big-endian (network order).
//!
//! ```text
//! offset  size  field
//!      0     4  sig            "RCmb"
//!      4     4  totlen         length of the whole message
//!      8     2  ver            1
//!     10     2  port           sender's client port
//!     12     2  type           PING 0, PONG 1, MEET 2, FAIL 3, PUBLISH 4, AUTH_REQUEST 5,
//!                              AUTH_ACK 6, UPDATE 7, MFSTART 8, MODULE 9, PUBLISHSHARD 10
//!     14     2  count          gossip sections that follow (PING/PONG/MEET)
//!     16     8  currentEpoch
//!     24     8  configEpoch    the sender's, or its master's for a replica
//!     32     8  offset         replication offset
//!     40    40  sender         sender's name
//!     80  2048  myslots        bitmap: slot s is bit (s & 7) of byte s / 8
//!   2128    40  slaveof        master's name, all zero for a master
//!   2168    46  myip           announced IP, NUL padded (all zero: use the socket's)
//!   2214     2  extensions     number of extensions after the gossip (PING/PONG/MEET)
//!   2216    30  (unused)
//!   2246     2  pport          plaintext port when port is TLS
//!   2248     2  cport          sender's bus port
//!   2250     2  flags          sender's node flags
//!   2252     1  state          0 OK, 1 FAIL, as the sender sees the cluster
//!   2253     3  mflags         mflags[0]: 1 PAUSED, 2 FORCEACK, 4 EXT_DATA
//!   2256        data:
//!               PING/PONG/MEET: count x gossip (104 bytes each), then the extensions
//!                 gossip: name 40 | ping_sent u32 (s) | pong_received u32 (s) | ip 46 |
//!                         port u16 | cport u16 | flags u16 | pport u16 | unused u16
//!                 extension: length u32 (all of it, a multiple of 8) | type u16 | unused u16
//!                            | data (hostname: NUL-terminated, zero padded)
//!               FAIL: name 40
//!               PUBLISH/PUBLISHSHARD: channel_len u32 | message_len u32 | channel | message
//!               UPDATE: configEpoch u64 | name 40 | slots 2048
//!               MODULE: module_id u64 | len u32 | type u8 | payload (len)
//!               AUTH_REQUEST, AUTH_ACK, MFSTART: nothing
//! ```
//!
//! [`decode`] applies clusterIsValidPacket's checks: a message whose length does not add up
//! for its type (a lying gossip count, extensions running past the end) is rejected, and the
//! link that sent it is closed; a version other than 1 or an unknown type is ignored. It
//! never panics and never allocates in proportion to a count it has not checked.

use super::node::{Name, NAMELEN};
use super::slots::{SlotBitmap, SLOTS};

/// PING.
pub const PING: u16 = 0;
/// PONG (the answer to PING and MEET).
pub const PONG: u16 = 1;
/// MEET: a PING that makes the receiver add the sender.
pub const MEET: u16 = 2;
/// FAIL: a node is failing.
pub const FAIL: u16 = 3;
/// PUBLISH: a Pub/Sub message for every node.
pub const PUBLISH: u16 = 4;
/// A replica asks for a vote.
pub const FAILOVER_AUTH_REQUEST: u16 = 5;
/// A master gives its vote.
pub const FAILOVER_AUTH_ACK: u16 = 6;
/// UPDATE: another node's slots configuration.
pub const UPDATE: u16 = 7;
/// MFSTART: pause clients for a manual failover.
pub const MFSTART: u16 = 8;
/// MODULE: a module's message.
pub const MODULE: u16 = 9;
/// PUBLISHSHARD: a sharded Pub/Sub message.
pub const PUBLISHSHARD: u16 = 10;
/// The number of message types.
pub const TYPE_COUNT: usize = 11;

/// The message type names of CLUSTER INFO (clusterGetMessageTypeString).
pub fn type_name(t: u16) -> &'static str {
    match t {
        PING => "ping",
        PONG => "pong",
        MEET => "meet",
        FAIL => "fail",
        PUBLISH => "publish",
        PUBLISHSHARD => "publishshard",
        FAILOVER_AUTH_REQUEST => "auth-req",
        FAILOVER_AUTH_ACK => "auth-ack",
        UPDATE => "update",
        MFSTART => "mfstart",
        MODULE => "module",
        _ => "unknown",
    }
}

/// The size of the header (CLUSTERMSG_MIN_LEN in 7.0).
pub const HEADER_LEN: usize = 2256;
/// The size of one gossip section.
pub const GOSSIP_LEN: usize = 104;
/// The size of an IP field (NET_IP_STR_LEN).
pub const IP_LEN: usize = 46;
/// The bus protocol version.
pub const PROTO_VER: u16 = 1;
/// mflags[0]: the master is paused for a manual failover.
pub const FLAG0_PAUSED: u8 = 1;
/// mflags[0]: vote even if the master is up.
pub const FLAG0_FORCEACK: u8 = 2;
/// mflags[0]: extensions follow the gossip.
pub const FLAG0_EXT_DATA: u8 = 4;
/// Extension type: the sender's hostname.
pub const EXT_HOSTNAME: u16 = 0;
/// The largest message we accept (Redis has no limit; a lying totlen must not make us
/// buffer gigabytes).
pub const MAX_MESSAGE_LEN: usize = 1 << 30;

/// The header fields, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub kind: u16,
    /// Sender's client port.
    pub port: u16,
    /// Gossip count (PING/PONG/MEET).
    pub count: u16,
    /// The sender's currentEpoch.
    pub current_epoch: u64,
    /// The sender's config epoch (its master's for a replica).
    pub config_epoch: u64,
    /// Replication offset.
    pub offset: u64,
    /// Sender's name.
    pub sender: Name,
    /// The slots the sender (or its master) serves.
    pub myslots: SlotBitmap,
    /// Sender's master (all zero for a master).
    pub slaveof: Name,
    /// Announced IP (empty: use the socket's address).
    pub myip: String,
    /// Extensions count.
    pub extensions: u16,
    /// Plaintext port.
    pub pport: u16,
    /// Bus port.
    pub cport: u16,
    /// Sender's node flags.
    pub flags: u16,
    /// Cluster state as the sender sees it (0 OK).
    pub state: u8,
    /// Message flags.
    pub mflags: [u8; 3],
}

impl Default for Header {
    fn default() -> Self {
        Header {
            kind: PING,
            port: 0,
            count: 0,
            current_epoch: 0,
            config_epoch: 0,
            offset: 0,
            sender: [0; NAMELEN],
            myslots: SlotBitmap::default(),
            slaveof: [0; NAMELEN],
            myip: String::new(),
            extensions: 0,
            pport: 0,
            cport: 0,
            flags: 0,
            state: 0,
            mflags: [0; 3],
        }
    }
}

/// One gossip section: what the sender knows about a third node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    /// Its name.
    pub name: Name,
    /// Unix seconds of the sender's last ping to it.
    pub ping_sent: u32,
    /// Unix seconds of the last pong the sender got from it.
    pub pong_received: u32,
    /// Its IP.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// Its bus port.
    pub cport: u16,
    /// Its flags as the sender sees them.
    pub flags: u16,
    /// Its plaintext port.
    pub pport: u16,
}

/// A PING/PONG/MEET extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ext {
    /// The sender's announced hostname.
    Hostname(String),
    /// A type we do not use (kept to be skipped).
    Other(u16),
}

/// What follows the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG, MEET.
    Ping {
        /// Gossip sections.
        gossip: Vec<Gossip>,
        /// Extensions.
        exts: Vec<Ext>,
    },
    /// FAIL about a node.
    Fail(Name),
    /// PUBLISH or PUBLISHSHARD.
    Publish {
        /// The channel.
        channel: Vec<u8>,
        /// The message.
        message: Vec<u8>,
    },
    /// UPDATE of a node's slots.
    Update {
        /// Its config epoch.
        config_epoch: u64,
        /// Its name.
        name: Name,
        /// Its slots.
        slots: SlotBitmap,
    },
    /// MODULE message.
    Module {
        /// Module id.
        module_id: u64,
        /// Message type.
        kind: u8,
        /// Payload.
        payload: Vec<u8>,
    },
    /// AUTH_REQUEST, AUTH_ACK, MFSTART.
    Empty,
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header (`count`, `extensions` and the EXT_DATA flag are set by [`encode`]).
    pub hdr: Header,
    /// The data.
    pub body: Body,
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not "RCmb", or a totlen under the header's size: the link is closed.
    BadSignatureOrLength,
    /// The lengths do not add up for the type (Redis's "Received invalid ... packet"): the
    /// link is closed.
    Invalid(String),
    /// A protocol version other than 1, or a type we do not know: ignored, the link stays.
    Ignored,
}

/// Checks the first 8 bytes of a message (what clusterReadHandler checks before it reads
/// the rest): the signature and a total length of at least a header. Returns the total
/// length.
pub fn frame_len(first8: &[u8]) -> Result<usize, DecodeError> {
    if first8.len() < 8 || &first8[..4] != b"RCmb" {
        return Err(DecodeError::BadSignatureOrLength);
    }
    let totlen = u32::from_be_bytes([first8[4], first8[5], first8[6], first8[7]]) as usize;
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&totlen) {
        return Err(DecodeError::BadSignatureOrLength);
    }
    Ok(totlen)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn name_at(b: &[u8], at: usize) -> Name {
    let mut n = [0u8; NAMELEN];
    n.copy_from_slice(&b[at..at + NAMELEN]);
    n
}

/// A NUL-terminated (or full) string field.
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes one whole message (`buf` is exactly `totlen` bytes, as [`frame_len`] said).
pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
    let totlen = frame_len(buf)?;
    if totlen != buf.len() {
        return Err(DecodeError::Invalid(format!(
            "message of {} bytes with totlen {totlen}",
            buf.len()
        )));
    }
    if be16(buf, 8) != PROTO_VER {
        return Err(DecodeError::Ignored);
    }
    let kind = be16(buf, 12);
    let count = be16(buf, 14);
    let mut slots = SlotBitmap::default();
    slots.0.copy_from_slice(&buf[80..80 + SLOTS / 8]);
    let hdr = Header {
        kind,
        port: be16(buf, 10),
        count,
        current_epoch: be64(buf, 16),
        config_epoch: be64(buf, 24),
        offset: be64(buf, 32),
        sender: name_at(buf, 40),
        myslots: slots,
        slaveof: name_at(buf, 2128),
        myip: cstr(&buf[2168..2168 + IP_LEN]),
        extensions: be16(buf, 2214),
        pport: be16(buf, 2246),
        cport: be16(buf, 2248),
        flags: be16(buf, 2250),
        state: buf[2252],
        mflags: [buf[2253], buf[2254], buf[2255]],
    };
    let data = &buf[HEADER_LEN..];
    let invalid = |expected: usize| {
        Err(DecodeError::Invalid(format!(
            "Received invalid {} packet of length {totlen} but expected length {expected}",
            type_name(kind)
        )))
    };
    let body = match kind {
        PING | PONG | MEET => {
            let gossip_len = GOSSIP_LEN * count as usize;
            if gossip_len > data.len() {
                return invalid(HEADER_LEN + gossip_len);
            }
            let mut gossip = Vec::with_capacity(count as usize);
            for g in data[..gossip_len].chunks_exact(GOSSIP_LEN) {
                gossip.push(Gossip {
                    name: name_at(g, 0),
                    ping_sent: be32(g, 40),
                    pong_received: be32(g, 44),
                    ip: cstr(&g[48..48 + IP_LEN]),
                    port: be16(g, 94),
                    cport: be16(g, 96),
                    flags: be16(g, 98),
                    pport: be16(g, 100),
                });
            }
            let mut exts = Vec::new();
            let mut at = gossip_len;
            if hdr.mflags[0] & FLAG0_EXT_DATA != 0 {
                for _ in 0..hdr.extensions {
                    if data.len() - at < 8 {
                        return Err(DecodeError::Invalid(format!(
                            "Received invalid {} packet with extension data that exceeds total packet length ({totlen})",
                            type_name(kind)
                        )));
                    }
                    let len = be32(data, at) as usize;
                    let ety = be16(data, at + 4);
                    if !len.is_multiple_of(8) || len < 8 {
                        return Err(DecodeError::Invalid(format!(
                            "Received a {} packet without proper padding ({len} bytes)",
                            type_name(kind)
                        )));
                    }
                    if data.len() - at < len {
                        return Err(DecodeError::Invalid(format!(
                            "Received invalid {} packet with extension data that exceeds total packet length ({totlen})",
                            type_name(kind)
                        )));
                    }
                    let payload = &data[at + 8..at + len];
                    exts.push(match ety {
                        EXT_HOSTNAME => Ext::Hostname(cstr(payload)),
                        t => Ext::Other(t),
                    });
                    at += len;
                }
            }
            if at != data.len() {
                return invalid(HEADER_LEN + at);
            }
            Body::Ping { gossip, exts }
        }
        FAIL => {
            if data.len() != NAMELEN {
                return invalid(HEADER_LEN + NAMELEN);
            }
            Body::Fail(name_at(data, 0))
        }
        PUBLISH | PUBLISHSHARD => {
            if data.len() < 8 {
                return invalid(HEADER_LEN + 8);
            }
            let clen = be32(data, 0) as usize;
            let mlen = be32(data, 4) as usize;
            let expected = 8usize.saturating_add(clen).saturating_add(mlen);
            if expected != data.len() {
                return invalid(HEADER_LEN.saturating_add(expected));
            }
            Body::Publish {
                channel: data[8..8 + clen].to_vec(),
                message: data[8 + clen..].to_vec(),
            }
        }
        FAILOVER_AUTH_REQUEST | FAILOVER_AUTH_ACK | MFSTART => {
            if !data.is_empty() {
                return invalid(HEADER_LEN);
            }
            Body::Empty
        }
        UPDATE => {
            if data.len() != 8 + NAMELEN + SLOTS / 8 {
                return invalid(HEADER_LEN + 8 + NAMELEN + SLOTS / 8);
            }
            let mut slots = SlotBitmap::default();
            slots.0.copy_from_slice(&data[48..]);
            Body::Update {
                config_epoch: be64(data, 0),
                name: name_at(data, 8),
                slots,
            }
        }
        MODULE => {
            if data.len() < 13 {
                return invalid(HEADER_LEN + 13);
            }
            let len = be32(data, 8) as usize;
            if 13usize.saturating_add(len) != data.len() {
                return invalid(HEADER_LEN.saturating_add(13).saturating_add(len));
            }
            Body::Module {
                module_id: be64(data, 0),
                kind: data[12],
                payload: data[13..].to_vec(),
            }
        }
        _ => return Err(DecodeError::Ignored),
    };
    Ok(Message { hdr, body })
}

fn put_str(out: &mut [u8], s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(out.len() - 1);
    out[..n].copy_from_slice(&b[..n]);
}

/// Encodes a message; `count`, `extensions`, the EXT_DATA flag and `totlen` come from the
/// body.
pub fn encode(m: &Message) -> Vec<u8> {
    let h = &m.hdr;
    let mut out = vec![0u8; HEADER_LEN];
    out[0..4].copy_from_slice(b"RCmb");
    out[8..10].copy_from_slice(&PROTO_VER.to_be_bytes());
    out[10..12].copy_from_slice(&h.port.to_be_bytes());
    out[12..14].copy_from_slice(&h.kind.to_be_bytes());
    out[16..24].copy_from_slice(&h.current_epoch.to_be_bytes());
    out[24..32].copy_from_slice(&h.config_epoch.to_be_bytes());
    out[32..40].copy_from_slice(&h.offset.to_be_bytes());
    out[40..80].copy_from_slice(&h.sender);
    out[80..80 + SLOTS / 8].copy_from_slice(&h.myslots.0[..]);
    out[2128..2168].copy_from_slice(&h.slaveof);
    put_str(&mut out[2168..2168 + IP_LEN], &h.myip);
    out[2246..2248].copy_from_slice(&h.pport.to_be_bytes());
    out[2248..2250].copy_from_slice(&h.cport.to_be_bytes());
    out[2250..2252].copy_from_slice(&h.flags.to_be_bytes());
    out[2252] = h.state;
    out[2253..2256].copy_from_slice(&h.mflags);
    let mut count = h.count;
    let mut extensions = 0u16;
    match &m.body {
        Body::Ping { gossip, exts } => {
            count = gossip.len() as u16;
            for g in gossip {
                let mut e = [0u8; GOSSIP_LEN];
                e[..40].copy_from_slice(&g.name);
                e[40..44].copy_from_slice(&g.ping_sent.to_be_bytes());
                e[44..48].copy_from_slice(&g.pong_received.to_be_bytes());
                put_str(&mut e[48..48 + IP_LEN], &g.ip);
                e[94..96].copy_from_slice(&g.port.to_be_bytes());
                e[96..98].copy_from_slice(&g.cport.to_be_bytes());
                e[98..100].copy_from_slice(&g.flags.to_be_bytes());
                e[100..102].copy_from_slice(&g.pport.to_be_bytes());
                out.extend_from_slice(&e);
            }
            for x in exts {
                if let Ext::Hostname(name) = x {
                    // 8-byte header, the name and its NUL, padded to a multiple of 8.
                    let len = (8 + name.len() + 1).div_ceil(8) * 8;
                    let start = out.len();
                    out.resize(start + len, 0);
                    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
                    out[start + 4..start + 6].copy_from_slice(&EXT_HOSTNAME.to_be_bytes());
                    out[start + 8..start + 8 + name.len()].copy_from_slice(name.as_bytes());
                    extensions += 1;
                }
            }
            if extensions > 0 {
                out[2253] |= FLAG0_EXT_DATA;
            }
        }
        Body::Fail(name) => out.extend_from_slice(name),
        Body::Publish { channel, message } => {
            out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
        }
        Body::Update {
            config_epoch,
            name,
            slots,
        } => {
            out.extend_from_slice(&config_epoch.to_be_bytes());
            out.extend_from_slice(name);
            out.extend_from_slice(&slots.0[..]);
        }
        Body::Module {
            module_id,
            kind,
            payload,
        } => {
            out.extend_from_slice(&module_id.to_be_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.push(*kind);
            out.extend_from_slice(payload);
        }
        Body::Empty => {}
    }
    out[14..16].copy_from_slice(&count.to_be_bytes());
    out[2214..2216].copy_from_slice(&extensions.to_be_bytes());
    let totlen = out.len() as u32;
    out[4..8].copy_from_slice(&totlen.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ping() -> Message {
        let mut hdr = Header {
            kind: PING,
            port: 7000,
            current_epoch: 5,
            config_epoch: 3,
            offset: 1234,
            sender: [b'a'; 40],
            myip: "127.0.0.1".into(),
            cport: 17000,
            flags: 1,
            ..Header::default()
        };
        hdr.myslots.set(0);
        hdr.myslots.set(16383);
        Message {
            hdr,
            body: Body::Ping {
                gossip: vec![Gossip {
                    name: [b'b'; 40],
                    ping_sent: 1,
                    pong_received: 2,
                    ip: "10.0.0.2".into(),
                    port: 7001,
                    cport: 17001,
                    flags: 2,
                    pport: 0,
                }],
                exts: vec![Ext::Hostname("host-a".into())],
            },
        }
    }

    #[test]
    fn layout_offsets() {
        let b = encode(&sample_ping());
        assert_eq!(&b[..4], b"RCmb");
        assert_eq!(b.len(), HEADER_LEN + GOSSIP_LEN + 16);
        assert_eq!(be32(&b, 4) as usize, b.len());
        assert_eq!(be16(&b, 8), 1);
        assert_eq!(be16(&b, 10), 7000);
        assert_eq!(be16(&b, 14), 1);
        assert_eq!(be64(&b, 16), 5);
        assert_eq!(&b[40..80], &[b'a'; 40]);
        assert_eq!(b[80], 1);
        assert_eq!(b[80 + 2047], 0x80);
        assert_eq!(&b[2168..2177], b"127.0.0.1");
        assert_eq!(be16(&b, 2214), 1);
        assert_eq!(be16(&b, 2248), 17000);
        assert_eq!(b[2253], FLAG0_EXT_DATA);
        let g = &b[HEADER_LEN..];
        assert_eq!(&g[..40], &[b'b'; 40]);
        assert_eq!(be16(g, 94), 7001);
        let x = &g[GOSSIP_LEN..];
        assert_eq!(be32(x, 0), 16);
        assert_eq!(&x[8..15], b"host-a\0");
    }

    #[test]
    fn round_trips() {
        let mut m = sample_ping();
        let mut d = decode(&encode(&m)).unwrap();
        m.hdr.count = 1;
        m.hdr.extensions = 1;
        m.hdr.mflags[0] = FLAG0_EXT_DATA;
        assert_eq!(d, m);
        for body in [
            Body::Fail([b'c'; 40]),
            Body::Publish {
                channel: b"ch".to_vec(),
                message: b"hello".to_vec(),
            },
            Body::Update {
                config_epoch: 9,
                name: [b'd'; 40],
                slots: SlotBitmap::default(),
            },
            Body::Empty,
        ] {
            let kind = match body {
                Body::Fail(_) => FAIL,
                Body::Publish { .. } => PUBLISH,
                Body::Update { .. } => UPDATE,
                _ => MFSTART,
            };
            let m = Message {
                hdr: Header {
                    kind,
                    ..Header::default()
                },
                body,
            };
            d = decode(&encode(&m)).unwrap();
            assert_eq!(d, m);
        }
    }

    #[test]
    fn bad_messages_are_rejected() {
        let good = encode(&sample_ping());
        // Signature.
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(decode(&b), Err(DecodeError::BadSignatureOrLength));
        // totlen under a header, and totlen not the buffer's length.
        let mut b = good.clone();
        b[4..8].copy_from_slice(&100u32.to_be_bytes());
        assert_eq!(decode(&b), Err(DecodeError::BadSignatureOrLength));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(DecodeError::Invalid(_))
        ));
        // A gossip count that lies, either way.
        for count in [0u16, 2, 65535] {
            let mut b = good.clone();
            b[14..16].copy_from_slice(&count.to_be_bytes());
            assert!(
                matches!(decode(&b), Err(DecodeError::Invalid(_))),
                "{count}"
            );
        }
        // Extensions: too many, or a length that is not padded.
        let mut b = good.clone();
        b[2214..2216].copy_from_slice(&2u16.to_be_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Invalid(_))));
        let mut b = good.clone();
        let at = HEADER_LEN + GOSSIP_LEN;
        b[at..at + 4].copy_from_slice(&12u32.to_be_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Invalid(_))));
        // Unknown type and other versions are ignored, not errors.
        let mut b = good.clone();
        b[12..14].copy_from_slice(&77u16.to_be_bytes());
        assert_eq!(decode(&b), Err(DecodeError::Ignored));
        let mut b = good.clone();
        b[8..10].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(decode(&b), Err(DecodeError::Ignored));
        // PUBLISH lengths that overflow.
        let mut m = Message {
            hdr: Header {
                kind: PUBLISH,
                ..Header::default()
            },
            body: Body::Publish {
                channel: b"c".to_vec(),
                message: b"m".to_vec(),
            },
        };
        let mut b = encode(&m);
        b[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Invalid(_))));
        m.hdr.kind = FAIL;
        m.body = Body::Fail([0; 40]);
        let mut b = encode(&m);
        b.push(0);
        let n = b.len() as u32;
        b[4..8].copy_from_slice(&n.to_be_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Invalid(_))));
    }
}
