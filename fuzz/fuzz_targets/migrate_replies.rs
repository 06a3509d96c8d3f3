//! Fuzz target for what a MIGRATE target sends back: arbitrary bytes, fed in chunks, cut into
//! reply lines by `migrate_conn::take_lines` as the connection layer does, for a Job that
//! expects a number of lines given by the first byte.
//!
//! What counts as a crash: a panic, more lines than wanted, a line longer than 1023 bytes or
//! holding a newline, or bytes lost (every byte ends in a line, a dropped CR/LF, or what is
//! left in the buffer).
#![no_main]

use ferrodis::server::migrate_conn::take_lines;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let want = (ctl & 0x0f) as usize;
    let chunk = ((ctl >> 4) as usize + 1) * 7;
    let mut inbuf = Vec::new();
    let mut lines = Vec::new();
    for part in rest.chunks(chunk) {
        inbuf.extend_from_slice(part);
        take_lines(&mut inbuf, want, &mut lines);
        assert!(lines.len() <= want);
    }
    for l in &lines {
        assert!(l.len() <= 1023 && !l.contains(&b'\n'));
    }
    if lines.len() < want {
        // Not enough lines: no newline may be left unread.
        assert!(!inbuf.contains(&b'\n'));
    }
    assert!(lines.iter().map(|l| l.len()).sum::<usize>() + inbuf.len() <= rest.len());
});
