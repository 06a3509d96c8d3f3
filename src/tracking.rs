//! Client-side caching (tracking.c): which connections may hold which keys in a local cache,
//! and the invalidation messages that tell them a key changed.
//!
//! ```text
//!  Server::tracking (Tracking)
//!  +------------+
//!  | table    --+--> Dict<Sds, Ids>       default mode: key -> ids of the clients that read it
//!  |            |      "user:1" -> One(7)             (Ids in Redis's rax order of the ids'
//!  |            |      "user:2" -> Many([9, 7])        little-endian bytes)
//!  | items      |    ids summed over the table (INFO tracking_total_items)
//!  | prefixes --+--> PrefixMap<Bcast>     broadcast mode, in byte order of the prefixes:
//!  |            |      ""      -> { clients [4],    keys {"a": 0, "b": 4} }  key -> id of its
//!  |            |      "user:" -> { clients [4, 9], keys {} }                 last modifier
//!  | deferred --+--> Vec<Deferred>        messages for clients out of their slot (the running
//!  |            |                         one), delivered when they are back in hand
//!  | clients    |    connections with tracking on (INFO tracking_clients)
//!  | current    |    id of the client whose command is being processed (0: none)
//!  | executing  |    that client is inside call() (its own invalidations wait for its reply)
//!  +------------+
//!
//!  Client::tracking: Option<Box<ClientTracking>>   (None: tracking off)
//!  +---------------------------------------------------------+
//!  | flags     BCAST OPTIN OPTOUT CACHING NOLOOP BROKEN_REDIR |
//!  | redirect  id of the connection that receives the messages, 0 for itself
//!  | prefixes  BCAST prefixes, sorted (CLIENT TRACKINGINFO lists them in this order)
//!  +---------------------------------------------------------+
//! ```
//!
//! Invariants: a client id is in `prefixes[p].clients` exactly while that client has BCAST on
//! and `p` in its `ClientTracking::prefixes`; `clients` counts the clients whose `tracking` is
//! Some. The table is not cleaned when a client turns tracking off or disconnects (Redis's
//! choice: a client with millions of entries would stall the server): its id stays until the
//! key is invalidated, and ids that name no tracking client are skipped then.
//!
//! Delivery follows Redis 7.0.15, checked against the oracle byte for byte:
//! - a key change invalidates the key for every client that read it (the key leaves the table)
//!   and, for broadcast clients, is collected per matching prefix and sent from the event
//!   loop's before-sleep as one array per prefix;
//! - the message goes to the REDIRECT connection when there is one: as a RESP3 push, or as a
//!   `__redis__:invalidate` Pub/Sub message when that connection is RESP2 and subscribed; a
//!   tracking client whose redirect target is gone gets a `tracking-redir-broken` push (RESP3);
//! - the running client's own invalidations wait until its command (a whole EXEC) has replied;
//!   with NOLOOP they are not sent at all; FLUSHDB/FLUSHALL send one null instead of keys;
//! - an invalidation caused while a client's command is being admitted (tracking-table-max-keys,
//!   maxmemory eviction) reaches it before that command's reply.
//!
//! The running client is out of its slot of `Server::clients` while its command executes, so
//! messages for it are *deferred* and handed over by `flush_deferred` (before its reply at the
//! admission gates, after it at the end) and `flush_delivered` (a redirected message, inline
//! before the reply where Redis writes it). Nothing here touches a socket.

use crate::commands::Args;
use crate::ds::dict::Dict;
use crate::ds::prefixmap::PrefixMap;
use crate::ds::sds::Sds;
use crate::server::client::Client;
use crate::server::Server;

/// BCAST mode: invalidations by prefix, no table entries.
pub const BCAST: u8 = 1 << 0;
/// OPTIN: keys are tracked only after CLIENT CACHING YES.
pub const OPTIN: u8 = 1 << 1;
/// OPTOUT: keys are tracked unless CLIENT CACHING NO.
pub const OPTOUT: u8 = 1 << 2;
/// CLIENT CACHING was given for the next command.
pub const CACHING: u8 = 1 << 3;
/// No invalidations for the client's own writes.
pub const NOLOOP: u8 = 1 << 4;
/// The redirect target went away (CLIENT LIST flag R).
pub const BROKEN_REDIR: u8 = 1 << 5;

/// The tracking state of one connection (Some while tracking is on).
#[derive(Debug, Default)]
pub struct ClientTracking {
    /// `BCAST` ... `BROKEN_REDIR`.
    pub flags: u8,
    /// Id of the connection that receives the messages; 0 for this one.
    pub redirect: u64,
    /// BCAST prefixes, in byte order.
    pub prefixes: Vec<Box<[u8]>>,
}

/// The clients that read a key. One id is by far the common case and costs no allocation.
/// `Many` boxes its vector so the enum stays two words: with the `Sds` key and the chain link
/// a table entry is then 48 bytes, one allocator size class below a bare `Vec`'s 56.
#[allow(clippy::box_collection)]
enum Ids {
    One(u64),
    Many(Box<Vec<u64>>),
}

/// The order Redis walks a key's ids in: its rax is keyed by the id's in-memory (little-endian)
/// bytes, compared as bytes.
#[inline]
fn rax_order(id: u64) -> u64 {
    u64::from_be_bytes(id.to_le_bytes())
}

impl Ids {
    fn len(&self) -> usize {
        match self {
            Ids::One(_) => 1,
            Ids::Many(v) => v.len(),
        }
    }

    /// Adds `id`; false when it was there.
    fn insert(&mut self, id: u64) -> bool {
        match self {
            Ids::One(x) if *x == id => false,
            Ids::One(x) => {
                let mut v = vec![*x, id];
                v.sort_by_key(|&i| rax_order(i));
                *self = Ids::Many(Box::new(v));
                true
            }
            Ids::Many(v) => match v.binary_search_by_key(&rax_order(id), |&i| rax_order(i)) {
                Ok(_) => false,
                Err(at) => {
                    v.insert(at, id);
                    true
                }
            },
        }
    }

    fn to_vec(&self) -> Vec<u64> {
        match self {
            Ids::One(x) => vec![*x],
            Ids::Many(v) => (**v).clone(),
        }
    }
}

/// One prefix of the broadcast table.
#[derive(Default)]
struct Bcast {
    /// Ids of the clients subscribed to the prefix, ascending.
    clients: Vec<u64>,
    /// Keys changed since the last broadcast -> id of the client that changed each last (0:
    /// the server itself: expiry, eviction).
    keys: Dict<Sds, u64>,
}

/// A message for a client that was out of its slot when it was produced.
enum Deferred {
    /// An invalidation for a tracking client (`key` None: everything, after a flush);
    /// `own`: the client was the one being processed (NOLOOP applies).
    Invalidate {
        token: usize,
        key: Option<Box<[u8]>>,
        own: bool,
    },
    /// A message some tracking client redirects to this client; its frame depends on the
    /// receiver's protocol and Pub/Sub state, so it is built on delivery.
    Deliver { token: usize, payload: Vec<u8> },
}

impl Deferred {
    fn token(&self) -> usize {
        match self {
            Deferred::Invalidate { token, .. } | Deferred::Deliver { token, .. } => *token,
        }
    }
}

/// The server's tracking state (see the module comment).
#[derive(Default)]
pub struct Tracking {
    /// Some client has turned tracking on since start-up (Redis allocates its tables then):
    /// until that, key changes skip this module entirely.
    enabled: bool,
    table: Dict<Sds, Ids>,
    items: u64,
    prefixes: PrefixMap<Bcast>,
    deferred: Vec<Deferred>,
    /// Connections with tracking on.
    pub clients: u64,
    /// Id of the client being processed (Redis's server.current_client), 0 for none.
    pub current: u64,
    /// The current client is inside call() (CLIENT_EXECUTING_COMMAND).
    pub executing: bool,
    /// Rounds of tracking-table-max-keys eviction that ended still over the limit.
    timeout_counter: u32,
}

impl Tracking {
    /// INFO tracking_total_keys.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// INFO tracking_total_items.
    pub fn total_items(&self) -> u64 {
        self.items
    }

    /// INFO tracking_total_prefixes.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// True when messages wait for a client that is out of its slot.
    #[inline]
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// serverCron's share: gives back the bucket array of a table that invalidations
    /// emptied (Redis's rax frees its nodes as keys leave; a dict keeps its buckets).
    pub fn cron(&mut self) {
        if self.enabled {
            self.table.resize_if_needed();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

/// `*1\r\n$<len>\r\n<key>\r\n`: the key array of a default-mode invalidation.
fn key_payload(key: &[u8]) -> Vec<u8> {
    let mut tmp = [0u8; 20];
    let mut p = Vec::with_capacity(key.len() + 16);
    p.extend_from_slice(b"*1\r\n$");
    p.extend_from_slice(crate::util::num::fmt_i64(key.len() as i64, &mut tmp));
    p.extend_from_slice(b"\r\n");
    p.extend_from_slice(key);
    p.extend_from_slice(b"\r\n");
    p
}

/// The null that stands for "every key" after a flush, in the tracking client's protocol
/// (Redis picks it by the tracking client, even when the message is redirected).
fn null_payload(resp3: bool) -> &'static [u8] {
    if resp3 {
        b"_\r\n"
    } else {
        b"$-1\r\n"
    }
}

/// The whole message for receiver `dest`, or None when it cannot receive one: a RESP3 push,
/// or for a RESP2 connection that subscribed (and is a redirect target) a Pub/Sub message on
/// `__redis__:invalidate`.
fn frame_for(dest: &Client, redirected: bool, payload: &[u8]) -> Option<Vec<u8>> {
    let head: &[u8] = if dest.out.resp3 {
        b">2\r\n$10\r\ninvalidate\r\n"
    } else if redirected && dest.in_pubsub() {
        b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
    } else {
        return None;
    };
    let mut f = Vec::with_capacity(head.len() + payload.len());
    f.extend_from_slice(head);
    f.extend_from_slice(payload);
    Some(f)
}

/// Appends a message to `c`'s output (pushes go out whatever CLIENT REPLY says), queues the
/// write and applies client-output-buffer-limit, as addReply does for a message.
fn emit(srv: &mut Server, c: &mut Client, frame: &[u8]) {
    if c.close_asap || c.close_after_reply {
        return;
    }
    c.out.raw(frame);
    let class = if c.in_pubsub() { 2 } else { 0 };
    let limit = srv.config.client_output_buffer_limit[class];
    if crate::server::net::output_buffer_limit_reached(c, limit, srv.cmd_time_ms) {
        crate::log_warning!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.info_line(srv.cmd_time_ms)
        );
        c.close_asap = true;
        srv.pending_close.push(c.token);
    } else {
        srv.schedule_write(c);
    }
}

/// Runs `f` on the client in slot `tok` with the client taken out of its slot (so `f` may use
/// the server freely). Returns None when the slot is empty or its client is out.
fn with_slot<R>(
    srv: &mut Server,
    tok: usize,
    f: impl FnOnce(&mut Server, &mut Client) -> R,
) -> Option<R> {
    let mut c = srv.clients.get_mut(tok)?.take()?;
    let r = f(srv, &mut c);
    srv.clients[tok] = Some(c);
    Some(r)
}

/// sendTrackingMessage: delivers `payload` (protocol bytes: the key array, a broadcast array,
/// or a null) on behalf of tracking client `tc`, which the caller holds: to the connection
/// `tc` redirects to, or to `tc` itself.
fn send_message(srv: &mut Server, tc: &mut Client, payload: &[u8]) {
    let redirect = tc.tracking.as_ref().map_or(0, |t| t.redirect);
    if redirect == 0 || redirect == tc.id {
        if let Some(f) = frame_for(tc, redirect != 0, payload) {
            emit(srv, tc, &f);
        }
        return;
    }
    let Some(tok) = srv.client_token(redirect) else {
        if let Some(t) = tc.tracking.as_mut() {
            t.flags |= BROKEN_REDIR;
        }
        // Only a RESP3 connection can be told.
        if tc.out.resp3 {
            let mut tmp = [0u8; 20];
            let mut f = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
            f.extend_from_slice(crate::util::num::fmt_i64(redirect as i64, &mut tmp));
            f.extend_from_slice(b"\r\n");
            emit(srv, tc, &f);
        }
        return;
    };
    let delivered = with_slot(srv, tok, |srv, dest| {
        if let Some(f) = frame_for(dest, true, payload) {
            emit(srv, dest, &f);
        }
    });
    if delivered.is_none() {
        // The receiver is out of its slot: the running client (or one being served after
        // blocking). Redis writes into its reply stream at this point.
        srv.tracking.deferred.push(Deferred::Deliver {
            token: tok,
            payload: payload.to_vec(),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Turning tracking on and off

/// Subscribes `c` to broadcast prefix `p` (enableBcastTrackingForPrefix).
fn add_prefix(srv: &mut Server, c: &mut Client, p: &[u8]) {
    let b = srv.tracking.prefixes.get_or_insert_with(p, Bcast::default);
    if let Err(at) = b.clients.binary_search(&c.id) {
        b.clients.insert(at, c.id);
        if let Some(t) = c.tracking.as_mut() {
            if let Err(at) = t.prefixes.binary_search_by(|x| (**x).cmp(p)) {
                t.prefixes.insert(at, p.into());
            }
        }
    }
}

/// CLIENT TRACKING ON (enableTracking): `options` are the mode flags asked for; BCAST
/// prefixes add to those already registered (none given: the empty prefix, every key).
pub fn enable(srv: &mut Server, c: &mut Client, redirect: u64, options: u8, prefixes: &[&[u8]]) {
    srv.tracking.enabled = true;
    if c.tracking.is_none() {
        srv.tracking.clients += 1;
        c.tracking = Some(Box::default());
    }
    if let Some(t) = c.tracking.as_mut() {
        // CACHING survives a re-enable; the mode flags and a broken redirect do not.
        t.flags &= CACHING;
        t.flags |= options & (BCAST | OPTIN | OPTOUT | NOLOOP);
        t.redirect = redirect;
    }
    if options & BCAST != 0 {
        if prefixes.is_empty() {
            add_prefix(srv, c, b"");
        }
        for p in prefixes {
            add_prefix(srv, c, p);
        }
    }
}

/// CLIENT TRACKING OFF, RESET and disconnection (disableTracking): leaves the broadcast
/// prefixes; the client's ids stay in the table until their keys are invalidated.
pub fn disable(srv: &mut Server, c: &mut Client) {
    let Some(t) = c.tracking.take() else {
        return;
    };
    for p in &t.prefixes {
        let empty = match srv.tracking.prefixes.get_mut(p) {
            Some(b) => {
                if let Ok(i) = b.clients.binary_search(&c.id) {
                    b.clients.remove(i);
                }
                b.clients.is_empty()
            }
            None => false,
        };
        if empty {
            srv.tracking.prefixes.remove(p);
        }
    }
    srv.tracking.clients -= 1;
}

/// A client is going away: its tracking state, and messages deferred for its slot.
pub fn client_freed(srv: &mut Server, c: &mut Client) {
    disable(srv, c);
    if srv.tracking.has_deferred() {
        let tok = c.token;
        srv.tracking.deferred.retain(|d| d.token() != tok);
    }
}

/// C string view of `b` (Redis formats prefixes with %s).
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Two prefixes collide when one is a prefix of the other (the same key would match both).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// checkPrefixCollisionsOrReply: rejects prefixes that overlap the client's own or each other.
/// Returns whether to go on enabling. Like Redis 7.0, an overlap found among the given
/// prefixes after the first one is reported *and* tracking is still enabled (the caller then
/// answers +OK as well).
pub fn check_prefix_collisions(c: &mut Client, prefixes: &[&[u8]]) -> bool {
    for (i, p) in prefixes.iter().enumerate() {
        if let Some(t) = c.tracking.as_ref() {
            if let Some(old) = t.prefixes.iter().find(|old| overlap(old, p)) {
                let msg = format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    cstr(p),
                    cstr(old)
                );
                c.out.err(&msg);
                return false;
            }
        }
        if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
            let msg = format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                cstr(p),
                cstr(q)
            );
            c.out.err(&msg);
            return i != 0;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Remembering keys

/// trackingRememberKeys: after a read-only command of a default-mode tracking client, records
/// that it may now cache the command's keys (unless OPTIN without CACHING YES, or OPTOUT with
/// CACHING NO). `idx` is the command's table index.
pub fn remember_keys(srv: &mut Server, c: &Client, idx: usize, args: &Args) {
    let Some(t) = c.tracking.as_deref() else {
        return;
    };
    let f = t.flags;
    if f & BCAST != 0 {
        return;
    }
    let caching = f & CACHING != 0;
    if (f & OPTIN != 0 && !caching) || (f & OPTOUT != 0 && caching) {
        return;
    }
    let cmd = &srv.commands.cmds[idx];
    let meta = cmd.meta;
    if meta.flags & crate::commands::meta::FLAG_PUBSUB != 0 {
        return;
    }
    match cmd.single_key {
        Some(pos) if pos < args.len() => remember(srv, args.get(pos), c.id),
        Some(_) => {}
        None => {
            let argv: Vec<&[u8]> = args.iter_from(0).collect();
            for k in crate::commands::getkeys::get_keys(meta, &argv) {
                remember(srv, argv[k.pos], c.id);
            }
        }
    }
}

/// Adds `id` to the readers of `key`.
#[inline]
fn remember(srv: &mut Server, key: &[u8], id: u64) {
    let tr = &mut srv.tracking;
    match tr.table.get_mut(key) {
        Some(ids) => {
            if ids.insert(id) {
                tr.items += 1;
            }
        }
        None => {
            tr.table.insert(Sds::from_slice(key), Ids::One(id));
            tr.items += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invalidation

impl Server {
    /// The tracking half of signalModifiedKey: `key` changed, by the client being processed
    /// (`by_client`) or by the server itself (expiry, eviction: no client to spare in NOLOOP
    /// broadcast mode).
    #[inline]
    pub fn tracking_invalidate_key(&mut self, key: &[u8], by_client: bool) {
        if !self.tracking.enabled {
            return;
        }
        let modifier = if by_client { self.tracking.current } else { 0 };
        invalidate_key(self, key, modifier, true);
    }
}

/// trackingInvalidateKey: collects `key` for the broadcast prefixes it matches (when
/// `bcast`), then sends an invalidation to every default-mode client that read it and drops
/// it from the table.
fn invalidate_key(srv: &mut Server, key: &[u8], modifier: u64, bcast: bool) {
    let tr = &mut srv.tracking;
    if bcast && !tr.prefixes.is_empty() {
        tr.prefixes.for_each_prefix_mut(key, |_, b| {
            b.keys.insert(Sds::from_slice(key), modifier);
        });
    }
    if tr.table.is_empty() {
        return;
    }
    let Some((_, ids)) = tr.table.remove(key) else {
        return;
    };
    tr.items -= ids.len() as u64;
    let mut payload: Option<Vec<u8>> = None;
    for id in ids.to_vec() {
        let Some(tok) = srv.client_token(id) else {
            continue;
        };
        let sent = with_slot(srv, tok, |srv, target| {
            let Some(t) = target.tracking.as_ref() else {
                return;
            };
            // A client that switched to BCAST gets nothing for what it read before.
            if t.flags & BCAST != 0 {
                return;
            }
            let p = payload.get_or_insert_with(|| key_payload(key));
            send_message(srv, target, p);
        });
        if sent.is_none() {
            // Out of its slot: the client being processed (its own write, or an eviction
            // while its command is admitted), or one served after blocking.
            let own = id == srv.tracking.current;
            srv.tracking.deferred.push(Deferred::Invalidate {
                token: tok,
                key: Some(key.into()),
                own,
            });
        }
    }
}

/// trackingInvalidateKeysOnFlush: FLUSHDB / FLUSHALL / DEBUG RELOAD tell every tracking
/// client "everything" with a null, in connection order, and empty the table.
pub fn invalidate_on_flush(srv: &mut Server) {
    if srv.tracking.clients > 0 {
        let mut targets: Vec<(u64, usize)> = Vec::new();
        for (tok, slot) in srv.clients.iter() {
            match slot {
                Some(c) if c.tracking.is_some() => targets.push((c.id, tok)),
                Some(_) => {}
                // Whether the client out of its slot tracks is seen on delivery.
                None => srv.tracking.deferred.push(Deferred::Invalidate {
                    token: tok,
                    key: None,
                    own: false,
                }),
            }
        }
        targets.sort_unstable();
        for (_, tok) in targets {
            with_slot(srv, tok, |srv, c| {
                let p = null_payload(c.out.resp3);
                send_message(srv, c, p);
            });
        }
    }
    if srv.tracking.enabled {
        srv.tracking.table = Dict::new();
        srv.tracking.items = 0;
    }
}

/// trackingLimitUsedSlots: while the table holds more keys than tracking-table-max-keys,
/// invalidates random keys, as if they changed (but not for broadcast). The effort grows with
/// each call that ends still over the limit.
pub fn limit_used_slots(srv: &mut Server) {
    let max = srv.config.tracking_table_max_keys;
    if !srv.tracking.enabled || max == 0 {
        return;
    }
    if srv.tracking.table.len() as u64 <= max {
        srv.tracking.timeout_counter = 0;
        return;
    }
    let mut effort = 100 * (u64::from(srv.tracking.timeout_counter) + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = srv
            .tracking
            .table
            .random_entry()
            .map(|(k, _)| k.as_bytes().to_vec())
        else {
            break;
        };
        invalidate_key(srv, &key, 0, false);
        if srv.tracking.table.len() as u64 <= max {
            srv.tracking.timeout_counter = 0;
            return;
        }
    }
    srv.tracking.timeout_counter = srv.tracking.timeout_counter.saturating_add(1);
}

/// trackingBroadcastInvalidationMessages, from before-sleep: for each prefix in byte order
/// with changed keys, one array of those keys (in byte order) to each subscribed client; a
/// NOLOOP client's array leaves out the keys it changed last, and it gets none when that
/// leaves nothing.
pub fn broadcast(srv: &mut Server) {
    if !srv.tracking.enabled || srv.tracking.clients == 0 || srv.tracking.prefixes.is_empty() {
        return;
    }
    // Per prefix with changes: its keys (with their last modifier) and its clients.
    type Round = (Vec<(Sds, u64)>, Vec<u64>);
    let mut rounds: Vec<Round> = Vec::new();
    for (_, b) in srv.tracking.prefixes.iter_mut() {
        if b.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut b.keys);
        let mut keys: Vec<(Sds, u64)> = keys.iter().map(|(k, &m)| (k.clone(), m)).collect();
        keys.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        rounds.push((keys, b.clients.clone()));
    }
    for (keys, clients) in rounds {
        let all = bcast_payload(&keys, 0);
        for id in clients {
            let Some(tok) = srv.client_token(id) else {
                continue;
            };
            with_slot(srv, tok, |srv, c| {
                let noloop = c.tracking.as_ref().is_some_and(|t| t.flags & NOLOOP != 0);
                if noloop {
                    if let Some(p) = bcast_payload(&keys, c.id) {
                        send_message(srv, c, &p);
                    }
                } else if let Some(p) = all.as_deref() {
                    send_message(srv, c, p);
                }
            });
        }
    }
}

/// trackingBuildBroadcastReply: the array of `keys`, leaving out those last changed by client
/// `skip` (0: none); None when that leaves none.
fn bcast_payload(keys: &[(Sds, u64)], skip: u64) -> Option<Vec<u8>> {
    let n = keys.iter().filter(|(_, m)| skip == 0 || *m != skip).count();
    if n == 0 {
        return None;
    }
    let mut tmp = [0u8; 20];
    let mut p = Vec::with_capacity(16 + keys.len() * 16);
    p.push(b'*');
    p.extend_from_slice(crate::util::num::fmt_i64(n as i64, &mut tmp));
    p.extend_from_slice(b"\r\n");
    for (k, m) in keys {
        if skip != 0 && *m == skip {
            continue;
        }
        p.push(b'$');
        p.extend_from_slice(crate::util::num::fmt_i64(k.len() as i64, &mut tmp));
        p.extend_from_slice(b"\r\n");
        p.extend_from_slice(k.as_bytes());
        p.extend_from_slice(b"\r\n");
    }
    Some(p)
}

// ---------------------------------------------------------------------------------------------
// Delivering deferred messages to a client back in hand

/// Delivers everything deferred for `c`, in order, at the end of its output: invalidations of
/// its own keys (NOLOOP and tracking state checked now), nulls of flushes, redirected
/// messages.
pub fn flush_deferred(srv: &mut Server, c: &mut Client) {
    if !srv.tracking.deferred.iter().any(|d| d.token() == c.token) {
        return;
    }
    let all = std::mem::take(&mut srv.tracking.deferred);
    let (mine, others): (Vec<Deferred>, Vec<Deferred>) =
        all.into_iter().partition(|d| d.token() == c.token);
    srv.tracking.deferred = others;
    for d in mine {
        match d {
            Deferred::Invalidate { key, own, .. } => {
                let Some(t) = c.tracking.as_ref() else {
                    continue;
                };
                match key {
                    Some(k) => {
                        if t.flags & BCAST != 0 || (own && t.flags & NOLOOP != 0) {
                            continue;
                        }
                        send_message(srv, c, &key_payload(&k));
                    }
                    None => {
                        let p = null_payload(c.out.resp3);
                        send_message(srv, c, p);
                    }
                }
            }
            Deferred::Deliver { payload, .. } => {
                if let Some(f) = frame_for(c, true, &payload) {
                    emit(srv, c, &f);
                }
            }
        }
    }
}

/// Delivers the redirected messages deferred for `c` (the running client) at byte `at` of its
/// output (the start of its command's reply, where Redis's inline write lands for the usual
/// change-then-reply handlers), or at the end. Its own invalidations keep waiting.
pub fn flush_delivered(srv: &mut Server, c: &mut Client, at: Option<usize>) {
    let tok = c.token;
    if !srv
        .tracking
        .deferred
        .iter()
        .any(|d| matches!(d, Deferred::Deliver { token, .. } if *token == tok))
    {
        return;
    }
    let mut bytes = Vec::new();
    let mut kept = Vec::new();
    for d in std::mem::take(&mut srv.tracking.deferred) {
        match d {
            Deferred::Deliver { token, payload } if token == tok => {
                if !(c.close_asap || c.close_after_reply) {
                    if let Some(f) = frame_for(c, true, &payload) {
                        bytes.extend_from_slice(&f);
                    }
                }
            }
            d => kept.push(d),
        }
    }
    srv.tracking.deferred = kept;
    match at {
        Some(pos) if pos >= c.out.sent && pos <= c.out.buf.len() => {
            c.out.buf.splice(pos..pos, bytes);
        }
        _ => c.out.raw(&bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_rax_order_and_no_duplicates() {
        let mut ids = Ids::One(1);
        assert!(!ids.insert(1));
        assert!(ids.insert(256));
        assert!(ids.insert(2));
        assert!(!ids.insert(256));
        // Little-endian bytes compared as bytes: 256 is 00 01 .., before 01 00 .. and 02 00 ..
        assert_eq!(ids.to_vec(), vec![256, 1, 2]);
        assert_eq!(ids.len(), 3);
        assert_eq!(std::mem::size_of::<Ids>(), 16);
    }

    #[test]
    fn payloads() {
        assert_eq!(key_payload(b"k1"), b"*1\r\n$2\r\nk1\r\n".to_vec());
        let keys = vec![(Sds::from_slice(b"a"), 3), (Sds::from_slice(b"bb"), 4)];
        assert_eq!(
            bcast_payload(&keys, 0).unwrap(),
            b"*2\r\n$1\r\na\r\n$2\r\nbb\r\n".to_vec()
        );
        assert_eq!(
            bcast_payload(&keys, 3).unwrap(),
            b"*1\r\n$2\r\nbb\r\n".to_vec()
        );
        assert_eq!(bcast_payload(&keys[..1], 3), None);
    }

    #[test]
    fn prefix_overlap_is_symmetric_prefixhood() {
        assert!(overlap(b"", b"a"));
        assert!(overlap(b"ab", b"a"));
        assert!(overlap(b"a", b"a"));
        assert!(!overlap(b"ab", b"ac"));
    }
}
