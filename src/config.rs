//! TEMPORARY minimal configuration (being replaced by the full parameter table).
//! The typed pub fields and the method signatures below are what the rest of the server uses.

use crate::server::log::Level;
use std::path::{Path, PathBuf};

/// The eviction policies (maxmemory-policy).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MaxmemoryPolicy {
    VolatileLru,
    AllkeysLru,
    VolatileLfu,
    AllkeysLfu,
    VolatileRandom,
    AllkeysRandom,
    VolatileTtl,
    NoEviction,
}

/// The server configuration.
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub tcp_backlog: i64,
    pub protected_mode: bool,
    pub databases: i64,
    pub hz: i64,
    pub maxclients: i64,
    pub timeout: i64,
    pub tcp_keepalive: i64,
    pub requirepass: Option<Vec<u8>>,
    pub loglevel: Level,
    pub logfile: String,
    pub daemonize: bool,
    pub pidfile: Option<String>,
    pub dir: String,
    pub dbfilename: String,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub notify_keyspace_events: u32,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: i64,
    pub latency_monitor_threshold: i64,
    pub activerehashing: bool,
    pub active_expire_effort: i64,
    pub enable_debug_command: u8,
    pub maxmemory: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    pub maxmemory_samples: i64,
    pub lfu_log_factor: i64,
    pub lfu_decay_time: i64,
    config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            unixsocket: None,
            unixsocketperm: 0,
            tcp_backlog: 511,
            protected_mode: true,
            databases: 16,
            hz: 10,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            requirepass: None,
            loglevel: Level::Notice,
            logfile: String::new(),
            daemonize: false,
            pidfile: None,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            notify_keyspace_events: 0,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            activerehashing: true,
            active_expire_effort: 1,
            enable_debug_command: 0,
            maxmemory: 0,
            maxmemory_policy: MaxmemoryPolicy::NoEviction,
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            config_file: None,
        }
    }
}

impl Config {
    /// Parses `redis-server`-style arguments.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut c = Config::default();
        let mut i = 0;
        while i < args.len() {
            let name = args[i].trim_start_matches("--").to_string();
            let val = args.get(i + 1).cloned().unwrap_or_default();
            match name.as_str() {
                "port" => c.port = val.parse().map_err(|_| "bad port".to_string())?,
                "save" | "appendonly" | "enable-debug-command" => {}
                _ => {}
            }
            if name == "enable-debug-command" && val == "yes" {
                c.enable_debug_command = 1;
            }
            i += 2;
        }
        Ok(c)
    }

    /// The config file in use.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// maxmemory-policy's name.
    pub fn maxmemory_policy_name(&self) -> &'static str {
        "noeviction"
    }

    /// CONFIG GET.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for p in patterns {
            let all = [
                ("save", String::new()),
                ("appendonly", "no".to_string()),
                ("port", self.port.to_string()),
            ];
            for (k, val) in all {
                if crate::util::glob::glob_match(p, k.as_bytes(), true) {
                    v.push((k.to_string(), val));
                }
            }
        }
        v
    }

    /// CONFIG SET.
    pub fn set(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<&'static str>, String> {
        let _ = pairs;
        Err("ERR CONFIG SET is not available yet".into())
    }
}
