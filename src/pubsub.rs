//! Pub/Sub (pubsub.c): who listens to what, and message delivery.
//!
//! Memory layout:
//!
//! ```text
//!  Server::pubsub (PubSub)
//!  +-----------+
//!  | channels -+--> Dict<Sds, Vec<usize>>   "news" -> [tok 7, tok 3, tok 12]
//!  | patterns -+--> Dict<Sds, Vec<usize>>   "n*"   -> [tok 3]
//!  | shard    -+--> Dict<Sds, Vec<usize>>   "sc"   -> [tok 9]
//!  | held     -+--> Vec<(tok, frame)>        messages for a client that is out of its slot
//!  | scratch  -+--> Vec<u8>                  reused to build each frame
//!  +-----------+
//!
//!  Client::subs: Option<Box<ClientSubs>>   (None until the first subscription)
//!  +----------------------------------+
//!  | channels: HashSet<Box<[u8]>>     |
//!  | patterns: Vec<Box<[u8]>>         |  subscription order
//!  | shard:    HashSet<Box<[u8]>>     |
//!  +----------------------------------+
//! ```
//!
//! Subscribers are named by their client token (slab index). Invariant: token `t` is in
//! `channels[ch]` exactly while the client in slot `t` has `ch` in its `ClientSubs::channels`
//! (same for patterns and shard channels); `free_client` drops both sides before the slot can
//! be reused. The token lists keep subscription order, which is the order Redis 7.0 delivers in
//! (its per-channel client lists are appended to). A client's patterns are a list too, as in
//! 7.0, so PUNSUBSCRIBE without arguments answers in subscription order.
//!
//! Delivery writes the frame straight into each subscriber's output buffer and queues it for
//! writing before the loop sleeps; a subscriber whose buffer passes `client-output-buffer-limit
//! pubsub` is marked to be closed and gets nothing more. The RESP2 and RESP3 frames differ only
//! in their first byte (`*` array / `>` push), so a frame is built once per publish.
//!
//! The client whose command is running is out of its slab slot, so a message for it (a RESP3
//! client publishing to its own channel, a keyspace event of its own write) is *held* and put
//! into its output when the command returns: `call` inserts it before the command's reply, the
//! place Redis's reply order gives it for the usual notify-then-reply handlers.

use crate::commands::Args;
use crate::ds::dict::Dict;
use crate::ds::sds::Sds;
use crate::server::client::{Client, ReplyMode};
use crate::server::Server;
use crate::util::glob::glob_match;
use std::collections::HashSet;

/// Index of the pubsub class in `Config::client_output_buffer_limit` (normal, replica, pubsub).
const PUBSUB_LIMIT_CLASS: usize = 2;

/// The server's subscription registries.
#[derive(Default)]
pub struct PubSub {
    /// Channel -> subscriber tokens, in subscription order.
    pub channels: Dict<Sds, Vec<usize>>,
    /// Pattern -> subscriber tokens, in subscription order.
    pub patterns: Dict<Sds, Vec<usize>>,
    /// Shard channel -> subscriber tokens (SSUBSCRIBE; no patterns).
    pub shard: Dict<Sds, Vec<usize>>,
    /// Frames for clients that were out of their slot when a message arrived, in RESP2 form
    /// (`*`, turned into a `>` push for a RESP3 client when delivered), and subscription
    /// confirmations of a client whose replies are discarded, already in its protocol.
    pub held: Vec<(usize, Vec<u8>)>,
    /// Reused frame buffer (no allocation per PUBLISH once warm).
    scratch: Vec<u8>,
}

impl PubSub {
    /// INFO pubsub_channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// INFO pubsub_patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// INFO pubsubshard_channels.
    pub fn shard_channel_count(&self) -> usize {
        self.shard.len()
    }

    /// True when nobody is subscribed to anything (keyspace events can skip building channels).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty()
    }
}

/// One client's subscriptions.
#[derive(Default)]
pub struct ClientSubs {
    /// SUBSCRIBE channels.
    pub channels: HashSet<Box<[u8]>>,
    /// PSUBSCRIBE patterns, in subscription order.
    pub patterns: Vec<Box<[u8]>>,
    /// SSUBSCRIBE shard channels.
    pub shard: HashSet<Box<[u8]>>,
}

impl Client {
    /// Channels + patterns (the count SUBSCRIBE/PSUBSCRIBE replies carry).
    pub fn subscription_count(&self) -> usize {
        self.subs
            .as_ref()
            .map_or(0, |s| s.channels.len() + s.patterns.len())
    }

    /// Shard channels (the count SSUBSCRIBE replies carry).
    pub fn shard_subscription_count(&self) -> usize {
        self.subs.as_ref().map_or(0, |s| s.shard.len())
    }

    /// CLIENT LIST sub=.
    pub fn sub_count(&self) -> usize {
        self.subs.as_ref().map_or(0, |s| s.channels.len())
    }

    /// CLIENT LIST psub=.
    pub fn psub_count(&self) -> usize {
        self.subs.as_ref().map_or(0, |s| s.patterns.len())
    }

    /// True while subscribed to anything (Redis's CLIENT_PUBSUB flag: CLIENT LIST flag `P`,
    /// the pubsub output-buffer class, and in RESP2 the restricted command set).
    #[inline]
    pub fn in_pubsub(&self) -> bool {
        match &self.subs {
            None => false,
            Some(s) => !s.channels.is_empty() || !s.patterns.is_empty() || !s.shard.is_empty(),
        }
    }
}

/// Which registry a channel operation addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Shard,
}

impl Kind {
    fn sub_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Shard => b"ssubscribe",
        }
    }
    fn unsub_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

fn registry(srv: &mut Server, kind: Kind) -> &mut Dict<Sds, Vec<usize>> {
    match kind {
        Kind::Channel => &mut srv.pubsub.channels,
        Kind::Shard => &mut srv.pubsub.shard,
    }
}

fn client_set(c: &mut Client, kind: Kind) -> &mut HashSet<Box<[u8]>> {
    let subs = c.subs.get_or_insert_with(Default::default);
    match kind {
        Kind::Channel => &mut subs.channels,
        Kind::Shard => &mut subs.shard,
    }
}

fn count_for(c: &Client, kind: Kind) -> usize {
    match kind {
        Kind::Channel => c.subscription_count(),
        Kind::Shard => c.shard_subscription_count(),
    }
}

/// Adds `token` to the list of `key` in `reg`.
fn reg_add(reg: &mut Dict<Sds, Vec<usize>>, key: &[u8], token: usize) {
    match reg.get_mut(key) {
        Some(v) => v.push(token),
        None => {
            reg.insert(Sds::from_slice(key), vec![token]);
        }
    }
}

/// Removes `token` from the list of `key` in `reg`, and the key when nobody is left (so
/// subscribing to millions of channels and leaving does not leak them).
fn reg_remove(reg: &mut Dict<Sds, Vec<usize>>, key: &[u8], token: usize) {
    let empty = match reg.get_mut(key) {
        Some(v) => {
            if let Some(i) = v.iter().position(|&t| t == token) {
                v.remove(i);
            }
            v.is_empty()
        }
        None => false,
    };
    if empty {
        reg.remove(key);
    }
}

/// Writes a subscription confirmation: [kind, name|null, count] as a push. A confirmation is
/// a push, not a reply, in RESP2 as in RESP3 (Redis marks the client CLIENT_PUSHING while it
/// writes one): under CLIENT REPLY OFF or SKIP it is held, in the client's protocol, and goes
/// out after the command's discarded reply, in order with messages held for the client.
fn reply_sub_event(
    srv: &mut Server,
    c: &mut Client,
    kind: &[u8],
    name: Option<&[u8]>,
    count: usize,
) {
    let at = c.out.buf.len();
    c.out.push(3);
    c.out.bulk(kind);
    match name {
        Some(n) => c.out.bulk(n),
        None => c.out.null(),
    }
    c.out.int(count as i64);
    if replies_discarded(c) {
        let frame = c.out.buf.split_off(at);
        srv.pubsub.held.push((c.token, frame));
    }
}

/// Subscribes `c` to a channel (pubsubSubscribeChannel); replies either way.
fn subscribe_channel(srv: &mut Server, c: &mut Client, ch: &[u8], kind: Kind) -> bool {
    let added = client_set(c, kind).insert(ch.into());
    if added {
        reg_add(registry(srv, kind), ch, c.token);
    }
    let n = count_for(c, kind);
    reply_sub_event(srv, c, kind.sub_name(), Some(ch), n);
    added
}

/// Unsubscribes `c` from a channel (pubsubUnsubscribeChannel); replies when `notify`.
fn unsubscribe_channel(
    srv: &mut Server,
    c: &mut Client,
    ch: &[u8],
    kind: Kind,
    notify: bool,
) -> bool {
    let removed = match &mut c.subs {
        Some(s) => match kind {
            Kind::Channel => s.channels.remove(ch),
            Kind::Shard => s.shard.remove(ch),
        },
        None => false,
    };
    if removed {
        reg_remove(registry(srv, kind), ch, c.token);
    }
    if notify {
        let n = count_for(c, kind);
        reply_sub_event(srv, c, kind.unsub_name(), Some(ch), n);
    }
    removed
}

/// Unsubscribes from every channel of `kind` (pubsubUnsubscribeAllChannels); with `notify`,
/// one reply per channel, or a single [unsubscribe, null, count] when there were none.
fn unsubscribe_all_channels(srv: &mut Server, c: &mut Client, kind: Kind, notify: bool) -> usize {
    let names: Vec<Box<[u8]>> = match &c.subs {
        Some(s) => match kind {
            Kind::Channel => s.channels.iter().cloned().collect(),
            Kind::Shard => s.shard.iter().cloned().collect(),
        },
        None => Vec::new(),
    };
    let mut count = 0;
    for ch in &names {
        count += unsubscribe_channel(srv, c, ch, kind, notify) as usize;
    }
    if notify && count == 0 {
        let n = count_for(c, kind);
        reply_sub_event(srv, c, kind.unsub_name(), None, n);
    }
    count
}

/// Subscribes `c` to a pattern (pubsubSubscribePattern); replies either way.
fn subscribe_pattern(srv: &mut Server, c: &mut Client, pat: &[u8]) -> bool {
    let subs = c.subs.get_or_insert_with(Default::default);
    let added = !subs.patterns.iter().any(|p| &p[..] == pat);
    if added {
        subs.patterns.push(pat.into());
        reg_add(&mut srv.pubsub.patterns, pat, c.token);
    }
    let n = c.subscription_count();
    reply_sub_event(srv, c, b"psubscribe", Some(pat), n);
    added
}

/// Unsubscribes `c` from a pattern (pubsubUnsubscribePattern); replies when `notify`.
fn unsubscribe_pattern(srv: &mut Server, c: &mut Client, pat: &[u8], notify: bool) -> bool {
    let removed = match &mut c.subs {
        Some(s) => match s.patterns.iter().position(|p| &p[..] == pat) {
            Some(i) => {
                s.patterns.remove(i);
                true
            }
            None => false,
        },
        None => false,
    };
    if removed {
        reg_remove(&mut srv.pubsub.patterns, pat, c.token);
    }
    if notify {
        let n = c.subscription_count();
        reply_sub_event(srv, c, b"punsubscribe", Some(pat), n);
    }
    removed
}

/// Unsubscribes from every pattern, in subscription order (pubsubUnsubscribeAllPatterns).
fn unsubscribe_all_patterns(srv: &mut Server, c: &mut Client, notify: bool) -> usize {
    let pats: Vec<Box<[u8]>> = c.subs.as_ref().map_or(Vec::new(), |s| s.patterns.clone());
    let mut count = 0;
    for p in &pats {
        count += unsubscribe_pattern(srv, c, p, notify) as usize;
    }
    if notify && count == 0 {
        let n = c.subscription_count();
        reply_sub_event(srv, c, b"punsubscribe", None, n);
    }
    count
}

/// Drops the shard channels of `slots` (removeChannelsInSlot, when our shard stops serving a
/// slot): each subscriber is unsubscribed and told with a `sunsubscribe` push carrying the
/// shard subscriptions it has left.
pub fn remove_shard_channels_in_slots(srv: &mut Server, slots: &[u16]) {
    if srv.pubsub.shard.is_empty() {
        return;
    }
    let channels: Vec<Vec<u8>> = srv
        .pubsub
        .shard
        .iter()
        .map(|(k, _)| k.as_bytes().to_vec())
        .filter(|k| slots.contains(&crate::cluster::slots::key_slot(k)))
        .collect();
    for ch in channels {
        let tokens = srv.pubsub.shard.get(&ch[..]).cloned().unwrap_or_default();
        for tok in tokens {
            let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
                continue;
            };
            unsubscribe_channel(srv, &mut c, &ch, Kind::Shard, true);
            srv.schedule_write(&mut c);
            srv.clients[tok] = Some(c);
        }
        srv.pubsub.shard.remove(&ch[..]);
    }
}

/// Drops every subscription of `c` without replying: RESET and disconnection.
pub fn unsubscribe_all(srv: &mut Server, c: &mut Client) {
    if c.subs.is_none() {
        return;
    }
    unsubscribe_all_channels(srv, c, Kind::Channel, false);
    unsubscribe_all_channels(srv, c, Kind::Shard, false);
    unsubscribe_all_patterns(srv, c, false);
    c.subs = None;
}

/// Forgets a client that is going away: its subscriptions and any message held for it.
pub fn client_freed(srv: &mut Server, c: &mut Client) {
    unsubscribe_all(srv, c);
    if !srv.pubsub.held.is_empty() {
        let t = c.token;
        srv.pubsub.held.retain(|(tok, _)| *tok != t);
    }
}

// ---------------------------------------------------------------------------------------------
// Commands (called by crate::commands::pubsub)

/// True when a DENY BLOCKING client (running inside EXEC or a script) may not subscribe:
/// Redis lets SUBSCRIBE/PSUBSCRIBE through inside MULTI/EXEC for backward compatibility.
fn subscribe_denied(c: &Client) -> bool {
    c.deny_blocking && c.multi.is_none()
}

/// SUBSCRIBE channel [channel ...].
pub fn subscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    if subscribe_denied(c) {
        return c
            .out
            .err("ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    for ch in args.iter_from(1) {
        subscribe_channel(srv, c, ch, Kind::Channel);
    }
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: refused to any DENY BLOCKING client.
pub fn ssubscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    if c.deny_blocking {
        return c
            .out
            .err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    for ch in args.iter_from(1) {
        subscribe_channel(srv, c, ch, Kind::Shard);
    }
}

/// PSUBSCRIBE pattern [pattern ...].
pub fn psubscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    if subscribe_denied(c) {
        return c
            .out
            .err("ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    for p in args.iter_from(1) {
        subscribe_pattern(srv, c, p);
    }
}

/// Frees the subscription record once nothing is left in it.
fn tidy(c: &mut Client) {
    if c.subs.is_some() && !c.in_pubsub() {
        c.subs = None;
    }
}

/// UNSUBSCRIBE [channel ...] / SUNSUBSCRIBE [shardchannel ...].
fn unsubscribe_kind(srv: &mut Server, c: &mut Client, args: &Args, kind: Kind) {
    if args.len() == 1 {
        unsubscribe_all_channels(srv, c, kind, true);
    } else {
        for ch in args.iter_from(1) {
            unsubscribe_channel(srv, c, ch, kind, true);
        }
    }
    tidy(c);
}

/// UNSUBSCRIBE [channel ...].
pub fn unsubscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    unsubscribe_kind(srv, c, args, Kind::Channel);
}

/// SUNSUBSCRIBE [shardchannel ...].
pub fn sunsubscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    unsubscribe_kind(srv, c, args, Kind::Shard);
}

/// PUNSUBSCRIBE [pattern ...].
pub fn punsubscribe(srv: &mut Server, c: &mut Client, args: &Args) {
    if args.len() == 1 {
        unsubscribe_all_patterns(srv, c, true);
    } else {
        for p in args.iter_from(1) {
            unsubscribe_pattern(srv, c, p, true);
        }
    }
    tidy(c);
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// Appends a RESP2 aggregate of bulk strings: `*<n>` then each part as `$<len>`.
fn build_frame(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let mut tmp = [0u8; 20];
    out.clear();
    out.push(b'*');
    out.extend_from_slice(crate::util::num::fmt_i64(parts.len() as i64, &mut tmp));
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.push(b'$');
        out.extend_from_slice(crate::util::num::fmt_i64(p.len() as i64, &mut tmp));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes a RESP2-form frame in the client's protocol (`>` instead of `*` in RESP3).
#[inline]
fn write_frame(c: &mut Client, frame: &[u8]) {
    if c.out.resp3 {
        c.out.buf.push(b'>');
        c.out.buf.extend_from_slice(&frame[1..]);
    } else {
        c.out.buf.extend_from_slice(frame);
    }
}

/// The parts of the server a delivery touches, borrowed apart from the registries.
struct Sink<'a> {
    clients: &'a mut slab::Slab<Option<Box<Client>>>,
    pending_writes: &'a mut Vec<usize>,
    pending_close: &'a mut Vec<usize>,
    held: &'a mut Vec<(usize, Vec<u8>)>,
    limit: (u64, u64, u64),
    now_ms: i64,
}

impl Sink<'_> {
    /// Delivers one frame to the subscriber in slot `tok`.
    #[inline]
    fn send(&mut self, tok: usize, frame: &[u8]) {
        match self.clients.get_mut(tok) {
            Some(Some(c)) => {
                // A client being closed takes no more output (prepareClientToWrite refuses),
                // but it still counts as a receiver.
                if c.close_asap || c.close_after_reply {
                    return;
                }
                write_frame(c, frame);
                if crate::server::net::output_buffer_limit_reached(c, self.limit, self.now_ms) {
                    crate::log_warning!(
                        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                        c.info_line(self.now_ms)
                    );
                    c.close_asap = true;
                    self.pending_close.push(tok);
                } else {
                    c.queue_write(self.pending_writes);
                }
            }
            // Out of its slot: the client whose command is running (or one being served
            // after blocking). Its frame waits for `flush_held`.
            Some(None) => self.held.push((tok, frame.to_vec())),
            None => {}
        }
    }
}

/// Publishes `msg` on `channel` to channel subscribers and, unless `shard`, to matching
/// pattern subscribers (pubsubPublishMessage). Returns the number of receivers.
pub fn publish(srv: &mut Server, channel: &[u8], msg: &[u8], shard: bool) -> i64 {
    let Server {
        pubsub,
        clients,
        pending_writes,
        pending_close,
        config,
        cmd_time_ms,
        ..
    } = srv;
    let PubSub {
        channels,
        patterns,
        shard: shard_reg,
        held,
        scratch,
    } = pubsub;
    let mut sink = Sink {
        clients,
        pending_writes,
        pending_close,
        held,
        limit: config.client_output_buffer_limit[PUBSUB_LIMIT_CLASS],
        now_ms: *cmd_time_ms,
    };
    let mut receivers = 0i64;
    let reg = if shard { &*shard_reg } else { &*channels };
    if let Some(subs) = reg.peek(channel) {
        let kind: &[u8] = if shard { b"smessage" } else { b"message" };
        build_frame(scratch, &[kind, channel, msg]);
        for &tok in subs {
            sink.send(tok, scratch);
            receivers += 1;
        }
    }
    if !shard && !patterns.is_empty() {
        for (pat, subs) in patterns.iter() {
            if !glob_match(pat.as_bytes(), channel, false) {
                continue;
            }
            build_frame(scratch, &[b"pmessage", pat.as_bytes(), channel, msg]);
            for &tok in subs {
                sink.send(tok, scratch);
                receivers += 1;
            }
        }
    }
    receivers
}

/// Puts the frames held for `c` into its output: at byte `at` of its buffer (the start of
/// the reply of the command that produced them), or at the end.
pub fn flush_held(srv: &mut Server, c: &mut Client, at: Option<usize>) {
    if srv.pubsub.held.iter().all(|(t, _)| *t != c.token) {
        return;
    }
    let mut bytes = Vec::new();
    let tok = c.token;
    let resp3 = c.out.resp3;
    srv.pubsub.held.retain(|(t, frame)| {
        if *t != tok {
            return true;
        }
        if resp3 && frame[0] == b'*' {
            bytes.push(b'>');
            bytes.extend_from_slice(&frame[1..]);
        } else {
            bytes.extend_from_slice(frame);
        }
        false
    });
    match at {
        Some(pos) if pos >= c.out.sent && pos <= c.out.buf.len() => {
            c.out.buf.splice(pos..pos, bytes);
        }
        _ => c.out.buf.extend_from_slice(&bytes),
    }
}

impl Server {
    /// Delivers at once the Pub/Sub messages held for the running client `c`, after what it
    /// has written so far. A handler that replies *before* firing its keyspace event (Redis's
    /// EXPIRE success path, GETDEL, GETEX, LPOP/RPOP, ZPOPMIN...) calls this right after
    /// `notify_keyspace_event`, so a RESP3 client subscribed to its own key sees the push after
    /// the reply, as in Redis. Without the call, `call` puts held messages before the reply
    /// (right for the usual notify-then-reply handlers).
    #[inline]
    pub fn flush_pushes(&mut self, c: &mut Client) {
        if !self.pubsub.held.is_empty() && !replies_discarded(c) {
            flush_held(self, c, None);
        }
        if self.tracking.has_deferred() && !replies_discarded(c) {
            crate::tracking::flush_delivered(self, c, None);
        }
    }
}

/// True when the client's replies are being discarded (CLIENT REPLY OFF/SKIP): held messages
/// then go after the discarded reply instead of inside it, since pushes are never discarded.
#[inline]
pub fn replies_discarded(c: &Client) -> bool {
    matches!(c.reply_mode, ReplyMode::Off | ReplyMode::Skip)
}

// ---------------------------------------------------------------------------------------------
// PUBSUB introspection

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
pub fn channel_list(srv: &mut Server, c: &mut Client, pat: Option<&[u8]>, shard: bool) {
    let reg = if shard {
        &srv.pubsub.shard
    } else {
        &srv.pubsub.channels
    };
    let d = c.out.defer();
    let mut n = 0;
    for (ch, _) in reg.iter() {
        if pat.is_none_or(|p| glob_match(p, ch.as_bytes(), false)) {
            c.out.bulk(ch.as_bytes());
            n += 1;
        }
    }
    c.out.set_deferred_array(d, n);
}

/// PUBSUB NUMSUB / SHARDNUMSUB channel...: flat [name, count, ...] array in both protocols.
pub fn numsub(srv: &mut Server, c: &mut Client, args: &Args, shard: bool) {
    let reg = if shard {
        &srv.pubsub.shard
    } else {
        &srv.pubsub.channels
    };
    c.out.array((args.len() - 2) * 2);
    for ch in args.iter_from(2) {
        c.out.bulk(ch);
        c.out.int(reg.peek(ch).map_or(0, |v| v.len()) as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let mut v = Vec::new();
        build_frame(&mut v, &[b"message", b"ch", b""]);
        assert_eq!(v, b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n");
        build_frame(&mut v, &[b"pmessage", b"c*", b"ch", b"hello"]);
        assert_eq!(
            v,
            b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$5\r\nhello\r\n"
        );
    }

    #[test]
    fn registry_add_remove_keeps_order() {
        let mut reg: Dict<Sds, Vec<usize>> = Dict::new();
        reg_add(&mut reg, b"a", 3);
        reg_add(&mut reg, b"a", 1);
        reg_add(&mut reg, b"a", 2);
        reg_remove(&mut reg, b"a", 1);
        assert_eq!(reg.peek(b"a"), Some(&vec![3, 2]));
        reg_remove(&mut reg, b"a", 3);
        reg_remove(&mut reg, b"a", 2);
        assert!(reg.peek(b"a").is_none());
        assert!(reg.is_empty());
        // Removing what is not there is harmless.
        reg_remove(&mut reg, b"zz", 9);
    }
}
