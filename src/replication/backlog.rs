//! The replication backlog (replication.c's repl_backlog): the last `repl-backlog-size` bytes
//! of the replication stream, so a replica that lost its link can continue from its offset
//! (PSYNC) instead of taking a whole new snapshot.
//!
//! ```text
//!  buf (capacity = repl-backlog-size), written round and round:
//!
//!   0                 idx                                   cap
//!   +-----------------+--------------------------------------+
//!   | newer bytes ... |  older bytes (when histlen == cap)   |
//!   +-----------------+--------------------------------------+
//!                     ^ next byte is written here
//!
//!  master_repl_offset  = offset of the last byte ever written (0: none yet)
//!  first_byte_offset() = master_repl_offset - histlen + 1: the oldest byte still held
//! ```
//!
//! A replica asking for offset `o` (the first byte it lacks) can continue when
//! `first_byte_offset() <= o <= master_repl_offset + 1`.

/// The circular buffer.
pub struct Backlog {
    buf: Vec<u8>,
    /// Where the next byte goes.
    idx: usize,
    /// Bytes of history held (at most the capacity).
    histlen: usize,
    /// Stream offset of the last byte written.
    end_offset: i64,
}

impl Backlog {
    /// An empty backlog of `size` bytes whose stream is at `offset` (the master's offset when
    /// it was created: the next byte written is `offset + 1`).
    pub fn new(size: usize, offset: i64) -> Backlog {
        Backlog {
            buf: vec![0; size.max(1)],
            idx: 0,
            histlen: 0,
            end_offset: offset,
        }
    }

    /// The capacity.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of history held.
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Offset of the oldest byte held (repl_backlog_off; end + 1 when empty).
    pub fn first_byte_offset(&self) -> i64 {
        self.end_offset - self.histlen as i64 + 1
    }

    /// Appends stream bytes (feedReplicationBacklog).
    pub fn feed(&mut self, mut data: &[u8]) {
        self.end_offset += data.len() as i64;
        let cap = self.buf.len();
        if data.len() > cap {
            data = &data[data.len() - cap..];
        }
        while !data.is_empty() {
            let n = (cap - self.idx).min(data.len());
            self.buf[self.idx..self.idx + n].copy_from_slice(&data[..n]);
            self.idx = (self.idx + n) % cap;
            self.histlen = (self.histlen + n).min(cap);
            data = &data[n..];
        }
    }

    /// The bytes from stream offset `from` to the end, or None when they are no longer (or
    /// not yet) held (addReplyReplicationBacklog's range check).
    pub fn copy_from(&self, from: i64) -> Option<Vec<u8>> {
        if from < self.first_byte_offset() || from > self.end_offset + 1 {
            return None;
        }
        let skip = (from - self.first_byte_offset()) as usize;
        let len = self.histlen - skip;
        let cap = self.buf.len();
        let start = (self.idx + cap - self.histlen + skip) % cap;
        let mut out = Vec::with_capacity(len);
        let first = (cap - start).min(len);
        out.extend_from_slice(&self.buf[start..start + first]);
        out.extend_from_slice(&self.buf[..len - first]);
        Some(out)
    }

    /// Changes the capacity keeping the newest history that fits (resizeReplicationBacklog).
    pub fn resize(&mut self, size: usize) {
        let size = size.max(1);
        if size == self.buf.len() {
            return;
        }
        let keep_from = self.end_offset - self.histlen.min(size) as i64 + 1;
        let data = self.copy_from(keep_from).unwrap_or_default();
        let end = self.end_offset;
        *self = Backlog::new(size, end - data.len() as i64);
        self.feed(&data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_and_serves_ranges() {
        let mut b = Backlog::new(8, 100);
        assert_eq!(b.first_byte_offset(), 101);
        assert_eq!(b.copy_from(101), Some(vec![]));
        b.feed(b"abcde");
        assert_eq!(b.copy_from(101).unwrap(), b"abcde");
        assert_eq!(b.copy_from(103).unwrap(), b"cde");
        b.feed(b"fghij");
        // 10 bytes written into 8: "cdefghij" held, from offset 103.
        assert_eq!(b.first_byte_offset(), 103);
        assert_eq!(b.copy_from(103).unwrap(), b"cdefghij");
        assert_eq!(b.copy_from(102), None);
        assert_eq!(b.copy_from(111).unwrap(), b"");
        assert_eq!(b.copy_from(112), None);
        b.resize(4);
        assert_eq!(b.copy_from(107).unwrap(), b"ghij");
        b.resize(16);
        b.feed(b"k");
        assert_eq!(b.copy_from(107).unwrap(), b"ghijk");
    }

    proptest! {
        /// Against a model: the whole stream kept in a Vec.
        #[test]
        fn matches_a_model(cap in 1usize..40, writes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..50), 0..30), probe in 0i64..1500) {
            let mut b = Backlog::new(cap, 0);
            let mut all = Vec::new();
            for w in &writes {
                b.feed(w);
                all.extend_from_slice(w);
            }
            let held = all.len().min(cap);
            prop_assert_eq!(b.histlen(), held);
            prop_assert_eq!(b.first_byte_offset(), (all.len() - held) as i64 + 1);
            let from = probe % (all.len() as i64 + 3);
            let want = if from >= b.first_byte_offset() && from <= all.len() as i64 + 1 {
                Some(all[(from - 1) as usize..].to_vec())
            } else {
                None
            };
            prop_assert_eq!(b.copy_from(from), want);
        }
    }
}
