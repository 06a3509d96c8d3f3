//! The reply encoder: one `Reply` per client, an output buffer plus the protocol version.
//!
//! Command handlers write replies here and never see a socket (networking.c's addReply* family).
//! Each method picks the RESP2 or RESP3 form as Redis does: maps become flat arrays in RESP2,
//! sets become arrays, doubles become bulk strings, nulls become `$-1`/`*-1`, booleans become
//! integers, pushes become arrays.

use crate::util::num::{fmt_f64, fmt_i64};

/// A client's pending output and the protocol it speaks.
#[derive(Default)]
pub struct Reply {
    /// Bytes not yet written to the socket, from `sent` on.
    pub buf: Vec<u8>,
    /// How much of `buf` the socket has taken.
    pub sent: usize,
    /// True after HELLO 3.
    pub resp3: bool,
    /// Error replies emitted since the last `take_errors`, for INFO errorstats and
    /// failed_calls (only allocated when an error happens).
    pub errors: Vec<String>,
}

/// A placeholder for an aggregate length written later (`addReplyDeferredLen`).
#[derive(Clone, Copy, Debug)]
pub struct Deferred(usize);

impl Reply {
    /// Bytes waiting to be written.
    #[inline]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Appends raw protocol bytes.
    #[inline]
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: i64) {
        let mut tmp = [0u8; 20];
        self.buf.push(prefix);
        self.buf.extend_from_slice(fmt_i64(n, &mut tmp));
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// A status reply `+<s>`.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` carries its code (`ERR ...`, `WRONGTYPE ...`); when it does not
    /// start with an upper-case code word Redis's `-ERR ` is put in front, as addReplyError does
    /// for messages without a leading '-'. Newlines are replaced by spaces (they would break
    /// the protocol).
    pub fn err(&mut self, msg: &str) {
        let msg = msg.strip_prefix('-').unwrap_or(msg);
        self.buf.push(b'-');
        self.buf.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
        let code_end = msg.find(' ').unwrap_or(msg.len());
        self.errors.push(msg[..code_end].to_string());
    }

    /// `-ERR <msg>`.
    pub fn err_generic(&mut self, msg: &str) {
        self.err(&format!("ERR {msg}"));
    }

    /// An integer `:<n>`.
    #[inline]
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_i64(&mut self, n: i64) {
        let mut tmp = [0u8; 20];
        let s = fmt_i64(n, &mut tmp);
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// The null bulk string (`$-1` / `_`).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.raw(b"_\r\n");
        } else {
            self.raw(b"*-1\r\n");
        }
    }

    /// An array header of `n` elements.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header of `n` key/value pairs (RESP2: an array of 2n).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set header (RESP2: an array).
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push header (RESP2: an array), for Pub/Sub messages and invalidations.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double (RESP3 `,`; RESP2 a bulk string) formatted as Redis's addReplyDouble (%.17g).
    pub fn double(&mut self, d: f64) {
        let s = fmt_f64(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean (RESP3 `#t`/`#f`; RESP2 `:1`/`:0`).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.raw(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A verbatim string (RESP3 `=` with a 3-letter format; RESP2 a bulk string).
    pub fn verbatim(&mut self, s: &[u8], format: &str) {
        if self.resp3 {
            self.header(b'=', (s.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// A big number (RESP3 `(`; RESP2 a bulk string).
    pub fn bignum(&mut self, s: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// An array of bulk strings.
    pub fn bulks<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for i in items {
            self.bulk(i);
        }
    }

    /// Reserves room for an aggregate header whose length is known only later.
    pub fn defer(&mut self) -> Deferred {
        Deferred(self.buf.len())
    }

    fn fill_deferred(&mut self, d: Deferred, prefix: u8, n: usize) {
        let mut tmp = [0u8; 20];
        let digits = fmt_i64(n as i64, &mut tmp);
        let mut head = Vec::with_capacity(digits.len() + 3);
        head.push(prefix);
        head.extend_from_slice(digits);
        head.extend_from_slice(b"\r\n");
        self.buf.splice(d.0..d.0, head);
    }

    /// Completes a deferred array.
    pub fn set_deferred_array(&mut self, d: Deferred, n: usize) {
        self.fill_deferred(d, b'*', n);
    }

    /// Completes a deferred map of `n` pairs.
    pub fn set_deferred_map(&mut self, d: Deferred, n: usize) {
        if self.resp3 {
            self.fill_deferred(d, b'%', n);
        } else {
            self.fill_deferred(d, b'*', 2 * n);
        }
    }

    /// Completes a deferred set.
    pub fn set_deferred_set(&mut self, d: Deferred, n: usize) {
        self.fill_deferred(d, if self.resp3 { b'~' } else { b'*' }, n);
    }

    /// Drops everything after `len` (used by CLIENT REPLY SKIP/OFF to discard a reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_forms() {
        let mut r = Reply::default();
        r.map(2);
        r.null();
        r.double(1.5);
        r.boolean(true);
        assert_eq!(r.buf, b"*4\r\n$-1\r\n$3\r\n1.5\r\n:1\r\n");
        let mut r = Reply {
            resp3: true,
            ..Default::default()
        };
        r.map(2);
        r.null();
        r.double(1.5);
        r.boolean(true);
        assert_eq!(r.buf, b"%2\r\n_\r\n,1.5\r\n#t\r\n");
    }

    #[test]
    fn deferred_lengths() {
        let mut r = Reply::default();
        r.int(1);
        let d = r.defer();
        r.bulk(b"a");
        r.bulk(b"b");
        r.set_deferred_array(d, 2);
        assert_eq!(r.buf, b":1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    }

    #[test]
    fn errors_are_recorded() {
        let mut r = Reply::default();
        r.err("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert_eq!(r.errors, vec!["WRONGTYPE".to_string()]);
        assert!(r.buf.starts_with(b"-WRONGTYPE "));
    }
}
