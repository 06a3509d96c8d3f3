//! The client matrix (issue 25): real client libraries in several languages, each running its
//! scenario from tests/clients/ (see tests/clients/run.sh) against a ferrodis of its own. A
//! scenario prints one line per check and exits 0 when all pass; its whole output is shown
//! when it fails. Each run is bounded by a timeout and its process group is killed after it.
//!
//! The libraries are installed by tests/clients/install.sh (`make test` and .ci/run call it). A
//! scenario whose runtime or library is missing fails, unless FERRODIS_CLIENTS_OPTIONAL=1, when
//! it is reported as skipped.

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);
/// run.sh's exit code for a missing runtime or library (as in automake's "skipped").
const SKIPPED: i32 = 77;

fn scenario(name: &str) {
    let server = ferrodis();
    let root = env!("CARGO_MANIFEST_DIR");
    let log = scratch_dir("client", name).join("out.log");
    let out = fs::File::create(&log).unwrap();
    let mut child = Command::new("bash")
        .arg(format!("{root}/tests/clients/run.sh"))
        .arg(name)
        .env("FERRODIS_PORT", server.port().to_string())
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .expect("cannot run bash tests/clients/run.sh");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    // Whatever the scenario started (threads, forked workers) goes with its process group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let output = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_dir_all(log.parent().unwrap());
    match status {
        None => panic!(
            "client scenario {name} timed out after {}s; its output:\n{output}",
            TIMEOUT.as_secs()
        ),
        Some(s) if s.success() => {
            // The first line names the library and its version.
            println!("{name}: {}", output.lines().next().unwrap_or(""));
        }
        Some(s) if s.code() == Some(SKIPPED) => {
            if std::env::var("FERRODIS_CLIENTS_OPTIONAL").as_deref() == Ok("1") {
                println!("{name}: skipped: {}", output.trim());
            } else {
                panic!(
                    "client scenario {name} cannot run: {}\nrun tests/clients/install.sh, or set \
                     FERRODIS_CLIENTS_OPTIONAL=1 to skip it",
                    output.trim()
                );
            }
        }
        Some(s) => panic!("client scenario {name} failed ({s}); its output:\n{output}"),
    }
}

macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test]
        fn $test() {
            scenario($name);
        })*

        /// Every scenario run.sh knows has a test here.
        #[test]
        fn every_scenario_has_a_test() {
            let out = Command::new("bash")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/run.sh"))
                .arg("--list")
                .output()
                .unwrap();
            let listed: Vec<String> =
                String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
            assert_eq!(listed, vec![$($name.to_string()),*]);
        }
    };
}

scenarios! {
    py_sync_resp2 => "py-sync-resp2",
    py_sync_resp3 => "py-sync-resp3",
    py_hiredis_resp2 => "py-hiredis-resp2",
    py_hiredis_resp3 => "py-hiredis-resp3",
    py_async_resp2 => "py-async-resp2",
    py_async_resp3 => "py-async-resp3",
    py_rq => "py-rq",
    node_ioredis => "node-ioredis",
    node_redis => "node-redis",
    c_hiredis => "c-hiredis",
    ruby_redis => "ruby-redis",
    php_redis => "php-redis",
}
