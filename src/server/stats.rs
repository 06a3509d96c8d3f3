//! Counters behind INFO stats, commandstats and errorstats, and SLOWLOG entries.

use std::collections::HashMap;

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_time_used_us: u64,
    pub evicted_keys: u64,
    pub evicted_clients: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Bytes read from our master and written to our replicas (total_net_repl_*_bytes;
    /// 7.0.15 counts them in net_input/output_bytes too).
    pub net_repl_input_bytes: u64,
    pub net_repl_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub dump_payload_sanitizations: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Reply buffers resized by the clients cron (INFO reply_buffer_shrinks/expands).
    pub reply_buffer_shrinks: u64,
    pub reply_buffer_expands: u64,
    /// Error replies by error code (INFO errorstats), e.g. "ERR", "WRONGTYPE".
    pub errors: HashMap<String, u64>,
    /// Samples for instantaneous_ops_per_sec: (unix ms, total commands) ring.
    pub ops_samples: [(i64, u64); 16],
    pub ops_sample_idx: usize,
    pub ops_input_samples: [(i64, u64); 16],
    pub ops_output_samples: [(i64, u64); 16],
    pub ops_repl_input_samples: [(i64, u64); 16],
    pub ops_repl_output_samples: [(i64, u64); 16],
    /// Highest used_memory seen.
    pub peak_memory: u64,
    /// used_memory right after start-up.
    pub startup_memory: u64,
}

/// Per-command statistics (INFO commandstats).
#[derive(Default, Clone, Copy)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One SLOWLOG entry.
pub struct SlowlogEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: u64,
    pub argv: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

/// One LATENCY event's samples: (unix seconds, ms), at most 160, and the all-time max.
#[derive(Default)]
pub struct LatencySeries {
    pub samples: std::collections::VecDeque<(i64, u64)>,
    pub max: u64,
}
