//! Fuzz target for the request parser: arbitrary bytes, delivered in arbitrary read
//! splits, must never panic, and must give the same commands whether they arrive in one
//! read or many (with or without buffer compaction), since a client controls both.
//!
//! Input layout: byte 0 = flags (bit 0 authenticated, bit 1 compact on Incomplete,
//! bit 2 tiny proto-max-bulk-len), byte 1 = number of split points (mod 8), then two bytes
//! per split point, then the request bytes.
#![no_main]

use ferrodis::protocol::parser::{
    Argv, Limits, Parse, RequestParser, DEFAULT_PROTO_MAX_BULK_LEN, PROTO_INLINE_MAX_SIZE,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Cmd(Vec<Vec<u8>>),
    Skip,
    Err(Vec<u8>),
}

/// Plays the server's connection: append each read, parse until the buffer runs dry,
/// check every outcome against the parser's contract.
fn run(chunks: &[&[u8]], limits: Limits, compact: bool) -> Vec<Ev> {
    let mut parser = RequestParser::new();
    let mut argv = Argv::new();
    let mut buf = Vec::new();
    let mut pos = 0;
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&buf, pos, &mut argv, &limits) {
                Parse::Command { next } => {
                    assert!(next > pos && next <= buf.len(), "next out of range");
                    assert!(!argv.is_empty(), "command without arguments");
                    for &(start, len) in &argv.ranges {
                        let src_len = if argv.inline {
                            argv.scratch.len()
                        } else {
                            buf.len()
                        };
                        assert!(start + len <= src_len, "argument range out of bounds");
                        if !argv.inline {
                            assert!(start >= pos && start + len <= next, "range outside command");
                        }
                    }
                    events.push(Ev::Cmd(argv.iter(&buf).map(<[u8]>::to_vec).collect()));
                    pos = next;
                }
                Parse::Skip { next } => {
                    assert!(next > pos && next <= buf.len(), "skip out of range");
                    assert!(argv.is_empty(), "skip with arguments");
                    events.push(Ev::Skip);
                    pos = next;
                }
                Parse::Incomplete { keep_from } => {
                    assert_eq!(keep_from, pos, "keep_from must be where the request starts");
                    if compact {
                        buf.drain(..keep_from);
                        parser.shifted(keep_from);
                        pos = 0;
                    }
                    break;
                }
                Parse::Error(e) => {
                    events.push(Ev::Err(e.as_bytes().to_vec()));
                    return events;
                }
            }
        }
    }
    events
}

/// RESP encoding of one command, as a client would send it.
fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&nsplits, rest)) = rest.split_first() else {
        return;
    };
    let nsplits = usize::from(nsplits % 8);
    let Some((cut_bytes, input)) = rest.split_at_checked(nsplits * 2) else {
        return;
    };
    let limits = Limits {
        proto_max_bulk_len: if flags & 4 != 0 {
            16
        } else {
            DEFAULT_PROTO_MAX_BULK_LEN
        },
        authenticated: flags & 1 != 0,
    };
    let compact = flags & 2 != 0;

    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (input.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut last = 0;
    for c in cuts {
        chunks.push(&input[last..c]);
        last = c;
    }
    chunks.push(&input[last..]);

    let whole = run(&[input], limits, false);
    let split = run(&chunks, limits, compact);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    let by_byte = run(&bytewise, limits, !compact);
    // The 64 KiB limits depend on how the bytes were split (as in Redis); below that the
    // outcome must not.
    if input.len() <= PROTO_INLINE_MAX_SIZE {
        assert_eq!(whole, split, "split reads changed the outcome");
        assert_eq!(whole, by_byte, "byte-by-byte reads changed the outcome");
    }

    // Every command parsed re-encodes to RESP that parses back to itself.
    for ev in &whole {
        if let Ev::Cmd(args) = ev {
            let again = run(&[&encode(args)], Limits::default(), false);
            assert_eq!(
                again,
                vec![Ev::Cmd(args.clone())],
                "re-encoded command differs"
            );
        }
    }
});
