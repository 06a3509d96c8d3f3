//! INFO (server.c's genRedisInfoString): the same sections and field names as Redis 7.0.15,
//! so monitoring tools that parse Redis's INFO parse ours. Fields for subsystems ferrodis does
//! not have yet (replication, AOF, modules) report what an idle Redis reports.

use super::{Args, Handler};
use crate::server::alloc::{rss, used_memory};
use crate::server::client::Client;
use crate::server::cron::instantaneous;
use crate::server::{Server, REDIS_VERSION};
use std::fmt::Write;

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[("info", info_command)];

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

fn info_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut wanted: Vec<String> = Vec::new();
    if args.len() == 1 {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in args.iter_from(1) {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => {
                wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
                wanted.extend(ALL_EXTRA.iter().map(|s| s.to_string()));
            }
            _ => wanted.push(s),
        }
    }
    let text = gen_info(srv, &wanted);
    c.out.verbatim(text.as_bytes(), "txt");
}

/// INFO latencystats: for each command with recorded calls, the latency at each of the
/// `latency-tracking-info-percentiles`, in microseconds with three decimals
/// (fillPercentileDistributionLatencies). Redis lists commands in its command dict's
/// order, which is random per process; we list them by name.
fn latency_stats(srv: &Server, out: &mut String) {
    let percentiles = &srv.config.latency_tracking_info_percentiles;
    let labels: Vec<String> = percentiles
        .iter()
        .map(|&p| crate::config::format_percentile(p))
        .collect();
    let mut rows: Vec<_> = srv
        .commands
        .cmds
        .iter()
        .filter_map(|c| c.latency.as_deref().map(|h| (c.meta.name, h)))
        .collect();
    rows.sort_by_key(|r| r.0);
    for (name, h) in rows {
        let _ = write!(out, "latency_percentiles_usec_{name}:");
        for (j, (&p, label)) in percentiles.iter().zip(&labels).enumerate() {
            if j > 0 {
                out.push(',');
            }
            let usec = h.value_at_percentile(p) as f64 / 1000.0;
            let _ = write!(out, "p{label}={usec:.3}");
        }
        out.push_str("\r\n");
    }
}

/// Human-readable bytes as Redis's bytesToHuman.
pub fn bytes_to_human(n: u64) -> String {
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{:.2}K", d / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.2}M", d / (1024.0 * 1024.0))
    } else if n < 1024u64.pow(4) {
        format!("{:.2}G", d / 1024f64.powi(3))
    } else if n < 1024u64.pow(5) {
        format!("{:.2}T", d / 1024f64.powi(4))
    } else {
        format!("{:.2}P", d / 1024f64.powi(5))
    }
}

fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(ru.ru_stime), t(ru.ru_utime))
    }
}

fn uname() -> String {
    // SAFETY: uname fills the struct; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        let f = |s: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(s.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe {
        (libc::sysconf(libc::_SC_PHYS_PAGES) as u64) * (libc::sysconf(libc::_SC_PAGESIZE) as u64)
    }
}

/// Builds the INFO text for the requested sections.
pub fn gen_info(srv: &mut Server, wanted: &[String]) -> String {
    let mut out = String::new();
    let has = |s: &str| wanted.iter().any(|w| w == s);
    let mut sections = 0;
    let mut section = |out: &mut String, title: &str| {
        if sections > 0 {
            out.push_str("\r\n");
        }
        sections += 1;
        let _ = write!(out, "# {title}\r\n");
    };
    let now_ms = crate::util::mstime();
    if has("server") {
        section(&mut out, "Server");
        let uptime = (now_ms - srv.start_time_ms) / 1000;
        let _ = write!(
            out,
            "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:ferrodis{}\r\nredis_mode:{}\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
            env!("CARGO_PKG_VERSION"),
            if srv.cluster.is_some() { "cluster" } else { "standalone" },
            uname(),
            srv.pid,
            srv.run_id,
            srv.port,
            crate::util::ustime(),
            uptime,
            uptime / 86400,
            srv.config.hz,
            srv.config.hz,
            srv.lru_clock,
            srv.executable,
            srv.config
                .config_file()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
    }
    if has("clients") {
        section(&mut out, "Clients");
        let mut max_in = 0;
        let mut max_out = 0;
        for (_, c) in srv.clients.iter() {
            if let Some(c) = c {
                max_in = max_in.max(c.qbuf_peak);
                max_out = max_out.max(c.out.buf.capacity());
            }
        }
        let _ = write!(
            out,
            "connected_clients:{}\r\ncluster_connections:{}\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
            srv.clients.len(),
            // getClusterConnectionsCount: a link each way with every other node.
            srv.cluster.as_ref().map_or(0, |cl| (cl.nodes.len() - 1) * 2),
            srv.config.maxclients,
            max_in,
            max_out,
            // Clients held by CLIENT PAUSE are blocked too (BLOCKED_POSTPONE).
            srv.blocking.count + srv.paused_clients.len(),
            srv.tracking.clients,
            srv.blocking.deadlines.len()
        );
    }
    if has("memory") {
        section(&mut out, "Memory");
        let used = used_memory() as u64;
        if used > srv.stats.peak_memory {
            srv.stats.peak_memory = used;
        }
        let peak = srv.stats.peak_memory;
        let rss = rss() as u64;
        let clients_mem: u64 = srv
            .clients
            .iter()
            .filter_map(|(_, c)| c.as_ref().map(|c| c.mem_usage() as u64))
            .sum();
        let overhead = srv.stats.startup_memory + clients_mem;
        let dataset = used.saturating_sub(overhead);
        let frag = if used > 0 {
            rss as f64 / used as f64
        } else {
            0.0
        };
        let maxmem = srv.config.maxmemory;
        let lua = srv.scripting.lua_memory();
        let lua_h = bytes_to_human(lua);
        let scripts_eval = srv.scripting.cache.mem as u64;
        let nscripts = srv.scripting.cache.len();
        let funcs = &srv.scripting.functions;
        let (nfuncs, nlibs) = (funcs.count(), funcs.libraries.len());
        let (vm_funcs, funcs_mem) = (funcs.vm_memory(), funcs.overhead());
        let vm_total = lua + vm_funcs;
        let vm_total_h = bytes_to_human(vm_total);
        let scripts = scripts_eval + funcs_mem;
        let scripts_h = bytes_to_human(scripts);
        let _ = write!(
            out,
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:{}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{used}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{lua_h}\r\nused_memory_scripts_eval:{scripts_eval}\r\nnumber_of_cached_scripts:{nscripts}\r\nnumber_of_functions:{nfuncs}\r\nnumber_of_libraries:{nlibs}\r\nused_memory_vm_functions:{vm_funcs}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{vm_total_h}\r\nused_memory_functions:{funcs_mem}\r\nused_memory_scripts:{scripts}\r\nused_memory_scripts_human:{scripts_h}\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{clients_mem}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:{}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
            bytes_to_human(used),
            bytes_to_human(rss),
            bytes_to_human(peak),
            if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 },
            srv.stats.startup_memory,
            if used > srv.stats.startup_memory {
                dataset as f64 * 100.0 / (used - srv.stats.startup_memory) as f64
            } else {
                0.0
            },
            total_system_memory(),
            bytes_to_human(total_system_memory()),
            bytes_to_human(maxmem),
            srv.config.maxmemory_policy_name(),
            frag,
            rss as i64 - used as i64,
            rss as i64 - used as i64,
            crate::server::alloc::ALLOCATOR_NAME,
        );
    }
    if has("persistence") {
        section(&mut out, "Persistence");
        out.push_str(&crate::persistence::info_section(srv));
    }
    if has("stats") {
        section(&mut out, "Stats");
        let st = &srv.stats;
        let idx = st.ops_sample_idx;
        let _ = write!(
            out,
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:{}\r\ntotal_net_repl_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:{:.2}\r\ninstantaneous_output_repl_kbps:{:.2}\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:{}\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:{}\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:{}\r\ntotal_forks:{}\r\nmigrate_cached_sockets:{}\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:{}\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:{}\r\nreply_buffer_expands:{}\r\n",
            st.total_connections_received,
            st.total_commands_processed,
            instantaneous(&st.ops_samples, idx) as u64,
            st.net_input_bytes,
            st.net_output_bytes,
            st.net_repl_input_bytes,
            st.net_repl_output_bytes,
            instantaneous(&st.ops_input_samples, idx) / 1024.0,
            instantaneous(&st.ops_output_samples, idx) / 1024.0,
            instantaneous(&st.ops_repl_input_samples, idx) / 1024.0,
            instantaneous(&st.ops_repl_output_samples, idx) / 1024.0,
            st.rejected_connections,
            st.sync_full,
            st.sync_partial_ok,
            st.sync_partial_err,
            st.expired_keys,
            st.expired_stale_perc * 100.0,
            st.expired_time_cap_reached_count,
            st.expire_cycle_time_used_us / 1000,
            st.evicted_keys,
            st.evicted_clients,
            srv.evict.total_exceeded_ms(),
            srv.evict.current_exceeded_ms(),
            st.keyspace_hits,
            st.keyspace_misses,
            srv.pubsub.channel_count(),
            srv.pubsub.pattern_count(),
            srv.pubsub.shard_channel_count(),
            srv.persist.latest_fork_usec,
            srv.persist.total_forks,
            srv.migrate.len(),
            srv.tracking.total_keys(),
            srv.tracking.total_items(),
            srv.tracking.total_prefixes(),
            st.unexpected_error_replies,
            st.total_error_replies,
            st.dump_payload_sanitizations,
            st.total_reads_processed,
            st.total_writes_processed,
            st.reply_buffer_shrinks,
            st.reply_buffer_expands,
        );
    }
    if has("replication") {
        section(&mut out, "Replication");
        out.push_str(&crate::replication::info_section(srv));
    }
    if has("cpu") {
        section(&mut out, "CPU");
        let (ss, su) = rusage(libc::RUSAGE_SELF);
        let (cs, cu) = rusage(libc::RUSAGE_CHILDREN);
        let (ts, tu) = rusage(libc::RUSAGE_THREAD);
        let _ = write!(
            out,
            "used_cpu_sys:{ss:.6}\r\nused_cpu_user:{su:.6}\r\nused_cpu_sys_children:{cs:.6}\r\nused_cpu_user_children:{cu:.6}\r\nused_cpu_sys_main_thread:{ts:.6}\r\nused_cpu_user_main_thread:{tu:.6}\r\n"
        );
    }
    if has("modules") {
        section(&mut out, "Modules");
    }
    if has("commandstats") {
        section(&mut out, "Commandstats");
        let mut rows: Vec<(&str, crate::server::stats::CmdStat)> = srv
            .commands
            .cmds
            .iter()
            .filter(|c| c.stat.calls + c.stat.rejected_calls + c.stat.failed_calls > 0)
            .map(|c| (c.meta.name, c.stat))
            .collect();
        rows.sort_by_key(|r| r.0);
        for (name, s) in rows {
            let per = if s.calls > 0 {
                s.usec as f64 / s.calls as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                s.calls, s.usec, s.rejected_calls, s.failed_calls
            );
        }
    }
    if has("errorstats") {
        section(&mut out, "Errorstats");
        let mut rows: Vec<_> = srv.stats.errors.iter().collect();
        rows.sort();
        for (code, n) in rows {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }
    if has("latencystats") {
        section(&mut out, "Latencystats");
        if srv.config.latency_tracking {
            latency_stats(srv, &mut out);
        }
    }
    if has("cluster") {
        section(&mut out, "Cluster");
        out.push_str(if srv.cluster.is_some() {
            "cluster_enabled:1\r\n"
        } else {
            "cluster_enabled:0\r\n"
        });
    }
    if has("keyspace") {
        section(&mut out, "Keyspace");
        for db in srv.dbs.iter() {
            let keys = db.dict.len();
            if keys > 0 {
                let _ = write!(
                    out,
                    "db{}:keys={},expires={},avg_ttl={}\r\n",
                    db.id,
                    keys,
                    db.expires.len(),
                    db.avg_ttl
                );
            }
        }
    }
    out
}
