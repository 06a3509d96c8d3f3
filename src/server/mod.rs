//! The server: its shared state (`Server`), the event loop that drives clients, and the timed
//! work (serverCron, beforeSleep). Redis's server.c, ae.c and networking.c live here.
//!
//! Architecture invariant: only this module touches sockets. Command handlers receive a
//! `&mut Server` and a `&mut Client` and write replies into `Client::out`.

pub mod alloc;
pub mod blocked;
pub mod busypoll;
pub mod client;
pub mod cron;
pub mod log;
pub mod migrate_conn;
pub mod net;
pub mod notify;
pub mod stats;
pub mod tls;

use crate::commands::CommandTable;
use crate::config::Config;
use crate::db::Db;
use crate::{log_notice, log_warning};
use client::Client;
use slab::Slab;
use stats::Stats;

/// Redis's LRU clock: seconds, wrapping at 24 bits (LRU_CLOCK_MAX).
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The version we report everywhere a client or tool may check it.
pub const REDIS_VERSION: &str = "7.0.15";

/// The default DEBUG REPLYBUFFER PEAK-RESET-TIME (REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME).
pub const REPLY_BUFFER_PEAK_RESET_MS: i64 = 5000;

/// Everything commands may touch: databases, configuration, clients, statistics.
pub struct Server {
    /// The configuration in force (CONFIG SET changes it).
    pub config: Config,
    /// The numbered databases.
    pub dbs: Vec<Db>,
    /// Every connected client, by mio token. The client whose command is running is taken out
    /// of its slot (None) while its command executes.
    pub clients: Slab<Option<Box<Client>>>,
    /// The command table.
    pub commands: CommandTable,
    /// Counters for INFO.
    pub stats: Stats,
    /// Next CLIENT ID.
    pub next_client_id: u64,
    /// The LRU clock, refreshed by serverCron.
    pub lru_clock: u32,
    /// Unix ms fixed for the duration of one command (commandTimeSnapshot): expiry decisions
    /// inside a command are consistent.
    pub cmd_time_ms: i64,
    /// Clock reading (util::clock) that ended the last command of the batch being run, so
    /// the next command starts from it instead of reading the clock again; 0 when no
    /// batch is running (the next command reads the clock). Cleared wherever time that is
    /// not command work may pass: before a client's input is run and before `before_sleep`.
    pub cmd_clock: u64,
    /// Unix seconds cached by serverCron.
    pub unix_time: i64,
    /// True while a dataset loads (no expiry then).
    pub loading: bool,
    /// The pid of a running fork child (BGSAVE), if any.
    pub child_pid: Option<i32>,
    /// RDB persistence state: last save, BGSAVE child, save statistics.
    pub persist: crate::persistence::PersistState,
    /// Changes since the last save.
    pub dirty: u64,
    /// Unix ms at start-up.
    pub start_time_ms: i64,
    /// How many times serverCron ran.
    pub cronloops: u64,
    /// Set by SHUTDOWN or a signal: the loop exits after this iteration.
    pub shutdown_asap: bool,
    /// Clients with output to write before the loop sleeps (tokens).
    pub pending_writes: Vec<usize>,
    /// Clients to close before the loop sleeps (tokens).
    pub pending_close: Vec<usize>,
    /// The process id (cached; getpid is a syscall).
    pub pid: i32,
    /// The TCP port actually bound (for INFO when port 0 was asked).
    pub port: u16,
    /// The path of the executable and the config file, for INFO.
    pub executable: String,
    /// SLOWLOG entries, newest first.
    pub slowlog: std::collections::VecDeque<stats::SlowlogEntry>,
    /// Next SLOWLOG id.
    pub slowlog_next_id: u64,
    /// Clients paused until this Unix ms (CLIENT PAUSE), and whether only writes are paused.
    pub pause_until_ms: i64,
    /// CLIENT PAUSE WRITE rather than ALL.
    pub pause_write_only: bool,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire_enabled: bool,
    /// DEBUG REPLYBUFFER RESIZING: whether serverCron resizes reply buffers.
    pub reply_buffer_resizing: bool,
    /// DEBUG REPLYBUFFER PEAK-RESET-TIME: how often a reply buffer's peak restarts, in ms;
    /// negative for never.
    pub reply_buffer_peak_reset_ms: i64,
    /// Connected clients in MONITOR mode.
    pub monitors: Vec<usize>,
    /// The poller's registry, for changing a client's interest from anywhere.
    pub registry: Option<mio::Registry>,
    /// The listening sockets (net.rs; replaced by CONFIG SET port / bind).
    pub listeners: net::Listeners,
    /// Active expiry's state between cycles.
    pub expire_state: crate::db::expire::ExpireState,
    /// LATENCY events: name -> samples.
    pub latency: std::collections::HashMap<&'static str, stats::LatencySeries>,
    /// Clients whose next command waits for CLIENT PAUSE to end (tokens).
    pub paused_clients: Vec<usize>,
    /// Clients blocked on keys.
    pub blocking: blocked::Blocking,
    /// maxmemory eviction: the pool kept across rounds and its statistics (crate::evict).
    pub evict: crate::evict::EvictState,
    /// Pub/Sub channel, pattern and shard-channel subscribers (crate::pubsub).
    pub pubsub: crate::pubsub::PubSub,
    /// WATCHed keys and dirty transactions (crate::multi).
    pub watches: crate::multi::Watches,
    /// A random 40-hex-digit id for this run (INFO run_id).
    pub run_id: String,
    /// Replication's state: IDs, offset, backlog, replicas (crate::replication).
    pub repl: crate::replication::Replication,
    /// True while commands from our master's stream run (server.current_client ==
    /// server.master): keys past their TTL still exist for them.
    pub executing_master: bool,
    /// Command propagation: effects collected during a call, emitted to the consumers
    /// (crate::propagate).
    pub prop: crate::propagate::Propagation,
    /// The append-only file while it is on (persistence::aof).
    pub aof: Option<crate::persistence::aof::Aof>,
    /// The AOF's manifest in force, read at start-up whether the AOF is on or off.
    pub aof_manifest: crate::persistence::aof::Manifest,
    /// The total size of the AOF files loaded at start-up.
    pub aof_loaded_size: u64,
    /// The size of the base file among them (where automatic rewrites measure growth from).
    pub aof_loaded_base_size: u64,
    /// Client-side caching: the tracking table, broadcast prefixes, deferred messages
    /// (crate::tracking).
    pub tracking: crate::tracking::Tracking,
    /// CLIENT ID -> slot of every connected client (lookupClientByID).
    pub clients_by_id: crate::ds::dict::Dict<[u8; 8], usize>,
    /// ACL users and the ACL LOG (crate::acl).
    pub acl: crate::acl::Acl,
    /// Lua scripting: the interpreter and the script cache (crate::scripting).
    pub scripting: crate::scripting::Scripting,
    /// Poller events (tokens) that a busy script's event pass left for the loop
    /// (net::process_events_while_blocked).
    pub deferred_events: Vec<usize>,
    /// Cluster mode's state (crate::cluster): Some exactly with `cluster-enabled yes`.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// MIGRATE's cached connections and the MIGRATEs in flight (migrate_conn).
    pub migrate: migrate_conn::Conns,
}

impl Server {
    /// A server with empty databases for `config`.
    pub fn new(config: Config) -> Server {
        let dbs = (0..config.databases.max(1) as usize).map(Db::new).collect();
        let now = crate::util::mstime();
        Server {
            dbs,
            clients: Slab::new(),
            commands: CommandTable::with_renames(&config.rename_commands),
            stats: Stats::default(),
            // Redis creates two clients at start-up, the Lua clients of EVAL and of FUNCTION
            // (ids 1 and 2): its first connection is client 3.
            next_client_id: 3,
            lru_clock: lru_clock_at(now),
            cmd_time_ms: now,
            cmd_clock: 0,
            unix_time: now / 1000,
            loading: false,
            child_pid: None,
            persist: Default::default(),
            dirty: 0,
            start_time_ms: now,
            cronloops: 0,
            shutdown_asap: false,
            pending_writes: Vec::new(),
            pending_close: Vec::new(),
            pid: std::process::id() as i32,
            port: config.port,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            slowlog: Default::default(),
            slowlog_next_id: 0,
            pause_until_ms: 0,
            pause_write_only: false,
            active_expire_enabled: true,
            reply_buffer_resizing: true,
            reply_buffer_peak_reset_ms: REPLY_BUFFER_PEAK_RESET_MS,
            monitors: Vec::new(),
            registry: None,
            listeners: Default::default(),
            expire_state: Default::default(),
            latency: Default::default(),
            blocking: Default::default(),
            evict: Default::default(),
            pubsub: Default::default(),
            watches: Default::default(),
            paused_clients: Vec::new(),
            run_id: random_hex40(),
            repl: crate::replication::Replication::new(random_hex40()),
            executing_master: false,
            prop: Default::default(),
            aof: None,
            aof_manifest: Default::default(),
            aof_loaded_size: 0,
            aof_loaded_base_size: 0,
            tracking: Default::default(),
            clients_by_id: Default::default(),
            acl: crate::acl::Acl::with_default_password(config.requirepass.as_deref()),
            scripting: Default::default(),
            deferred_events: Vec::new(),
            cluster: None,
            migrate: Default::default(),
            config,
        }
    }

    /// Number of connected clients.
    pub fn connected_clients(&self) -> usize {
        self.clients.len()
    }

    /// Runs `f` on every connected client other than the one executing (which the caller has).
    pub fn for_each_other_client(&mut self, mut f: impl FnMut(&mut Client)) {
        for (_, slot) in self.clients.iter_mut() {
            if let Some(c) = slot.as_deref_mut() {
                f(c);
            }
        }
    }

    /// The slot of the client with CLIENT ID `id` (lookupClientByID); its client may be out of
    /// the slot (running).
    #[inline]
    pub fn client_token(&self, id: u64) -> Option<usize> {
        self.clients_by_id.peek(&id.to_le_bytes()).copied()
    }

    /// Records a new client in the id index (every slot insertion calls it).
    pub fn index_client(&mut self, id: u64, token: usize) {
        self.clients_by_id.insert(id.to_le_bytes(), token);
    }

    /// Redis's authRequired: the client has not authenticated and the default user is not an
    /// enabled nopass user.
    #[inline]
    pub fn auth_required(&self, c: &Client) -> bool {
        !c.authenticated && {
            let d = self.acl.default_user();
            !d.nopass() || !d.enabled()
        }
    }

    /// Whether a new connection (or one after RESET) starts authenticated: the default user
    /// is an enabled nopass user.
    pub fn new_client_authenticated(&self) -> bool {
        let d = self.acl.default_user();
        d.nopass() && d.enabled()
    }

    /// Queues a client's output for writing before the loop sleeps.
    #[inline]
    pub fn schedule_write(&mut self, c: &mut Client) {
        c.queue_write(&mut self.pending_writes);
    }
}

/// 40 random hex digits (getRandomHexChars).
fn random_hex40() -> String {
    let mut bytes = [0u8; 20];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 24-bit LRU clock at Unix ms `now` (getLRUClock: seconds resolution).
pub fn lru_clock_at(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_CLOCK_MAX
}

/// `ferrodis-server --version`.
pub fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc={} bits=64 build=ferrodis-{}",
        alloc::ALLOCATOR_NAME,
        env!("CARGO_PKG_VERSION")
    )
}

/// `ferrodis-server --help`.
pub const USAGE: &str = "Usage: ./ferrodis-server [/path/to/redis.conf] [options] [-]
       ./ferrodis-server - (read config from stdin)
       ./ferrodis-server -v or --version
       ./ferrodis-server -h or --help

Examples:
       ./ferrodis-server (run the server with default conf)
       ./ferrodis-server /etc/redis/6379.conf
       ./ferrodis-server --port 7777
       ./ferrodis-server /etc/myredis.conf --loglevel verbose -
       ./ferrodis-server /etc/myredis.conf --loglevel verbose";

/// Fills the dict hash seed from the kernel's random source (dictSetHashFunctionSeed), so
/// clients cannot choose keys that all collide.
fn seed_hash() {
    let mut seed = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut seed);
    }
    if seed == [0u8; 16] {
        let t = crate::util::ustime() as u64 ^ ((std::process::id() as u64) << 32);
        seed[..8].copy_from_slice(&t.to_le_bytes());
    }
    crate::ds::dict::set_hash_seed(seed);
}

/// Turns the process into a daemon (daemonize yes): fork, the parent exits, the child starts a
/// new session and points its standard streams at /dev/null.
fn daemonize() {
    // SAFETY: called before any thread exists; the usual fork/setsid/dup2 sequence.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Starts the server with `config` and runs until shutdown; returns the process exit code.
pub fn start(config: Config) -> i32 {
    log::set_level(config.loglevel);
    log::set_file(&config.logfile);
    if config.daemonize {
        daemonize();
    }
    seed_hash();
    let pid = std::process::id();
    log_notice!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    log_notice!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={}, just started",
        REDIS_VERSION,
        pid
    );
    match config.loaded_from_args() {
        true => log_notice!("Configuration loaded"),
        false => log_warning!("Warning: no config file specified, using the default config. In order to specify a config file use {} /path/to/redis.conf", std::env::args().next().unwrap_or_default()),
    }
    if let Some(p) = config.pidfile.as_deref() {
        if !p.is_empty() {
            let _ = std::fs::write(p, format!("{pid}\n"));
        }
    }
    let mode = if config.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    log_notice!("Running mode={mode}, port={}.", config.port);
    net::run(config)
}
