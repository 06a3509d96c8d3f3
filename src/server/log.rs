//! Log lines in Redis's format: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> message`, where level
//! is `.` debug, `-` verbose, `*` notice, `#` warning, and role is `M` (master) or `C` (child).
//!
//! The level and destination are process-wide (the logger is used from places that hold no
//! server reference, such as the config loader and a fork child), so they live in statics that
//! `set_level`/`set_file` update when the configuration changes.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Log levels in Redis's order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static ROLE: AtomicU8 = AtomicU8::new(b'M');
static FILE: Mutex<Option<String>> = Mutex::new(None);

/// Sets the minimum level written.
pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Ordering::Relaxed);
}

/// Sets the log file ("" means standard output).
pub fn set_file(path: &str) {
    let mut f = FILE.lock().unwrap_or_else(|e| e.into_inner());
    *f = if path.is_empty() {
        None
    } else {
        Some(path.to_string())
    };
}

/// Marks this process as a fork child (role `C`).
pub fn set_child_role() {
    ROLE.store(b'C', Ordering::Relaxed);
}

/// True when `l` would be written.
pub fn enabled(l: Level) -> bool {
    l as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at level `l`.
pub fn log(l: Level, msg: &str) {
    if !enabled(l) {
        return;
    }
    let mark = match l {
        Level::Debug => '.',
        Level::Verbose => '-',
        Level::Notice => '*',
        Level::Warning => '#',
    };
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        mark,
        msg
    );
    write_raw(&line);
}

/// Writes text as is to the log destination (the start-up banner uses it).
pub fn write_raw(text: &str) {
    let file = FILE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match file {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = f.write_all(text.as_bytes());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

/// `dd Mon yyyy hh:mm:ss.mmm` in local time, as Redis's serverLogRaw prints it.
fn timestamp() -> String {
    let now = crate::util::ustime();
    let secs = (now / 1_000_000) as libc::time_t;
    let ms = (now / 1000) % 1000;
    // SAFETY: localtime_r writes into our tm; strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%d %b %Y %H:%M:%S.".as_ptr(),
            &tm,
        );
        format!("{}{:03}", String::from_utf8_lossy(&buf[..n]), ms)
    }
}

/// Logs at notice level.
#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)*) => { $crate::server::log::log($crate::server::log::Level::Notice, &format!($($arg)*)) };
}

/// Logs at warning level.
#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => { $crate::server::log::log($crate::server::log::Level::Warning, &format!($($arg)*)) };
}

/// Logs at verbose level.
#[macro_export]
macro_rules! log_verbose {
    ($($arg:tt)*) => {
        if $crate::server::log::enabled($crate::server::log::Level::Verbose) {
            $crate::server::log::log($crate::server::log::Level::Verbose, &format!($($arg)*))
        }
    };
}
