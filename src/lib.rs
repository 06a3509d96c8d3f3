//! ferrodis: a Redis-compatible in-memory data server that mirrors Redis 7.0's architecture.
//!
//! Layout, in reading order (see ARCHITECTURE.md for the invariants):
//! - `main.rs` parses the command line and calls [`server::run`].
//! - [`config`]: redis.conf parsing and the parameter table.
//! - [`server`]: the event loop on mio, clients, serverCron/beforeSleep, logging.
//! - [`protocol`]: the request parser (RESP and inline) and the reply encoder (RESP2/RESP3).
//! - [`commands`]: the command table (data) and one module per command group.
//! - [`replication`]: the master's side of replication: SYNC/PSYNC, the backlog.
//! - [`cluster`]: Redis Cluster: slots, nodes.conf, the cluster bus, redirections.
//! - [`db`]: databases, lookups with lazy expiry, active expiry.
//! - [`evict`]: maxmemory: the eviction policies, the eviction pool, LRU/LFU arithmetic.
//! - [`types`]: the object model; one file per type.
//! - [`ds`]: our data structures: sds, dict (incremental rehash, SCAN).
//! - [`util`]: Redis's number rules, glob matching, argument splitting.

pub mod acl;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod db;
pub mod ds;
pub mod evict;
pub mod multi;
pub mod persistence;
pub mod propagate;
pub mod protocol;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod tracking;
pub mod types;
pub mod util;
