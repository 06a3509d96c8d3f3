//! The list type (t_list.c's list API): what the list commands, SORT, COPY, RDB and DEBUG see of
//! a list, over its one encoding.
//!
//! Redis 7.0 stores every list as a quicklist (OBJECT ENCODING answers "quicklist" even for a
//! one-element list; the listpack encoding for small lists only came with 7.2), so a `List` is
//! a [`Quicklist`] plus nothing: the type exists so that commands never reach into the data
//! structure and so that a later second encoding would only touch this file.
//!
//! ```text
//!   RObj.value = Value::List(Box<List>)      (24 bytes, a 32-byte jemalloc class: a Quicklist)
//!                              |
//!                              v
//!   List { ql: Quicklist }  one raw listpack node or none: Small { lp, fill, compress }
//!                           else: Nodes(Box<NodeList { nodes: Slab<Node>, head, tail, .. }>)
//!                              |
//!        head                  v                                       tail
//!   +-----------+  next  +-----------+  next          ...        +-----------+
//!   | listpack  | -----> | LZF blob  | ----->                     | listpack  |
//!   | "a" "b" 7 | <----- | (depth 1) | <-----                     | "x" 42    |
//!   +-----------+  prev  +-----------+                            +-----------+
//!
//!   fill     = list-max-listpack-size when the list was created (-2: 8 KiB per node)
//!   compress = list-compress-depth when the list was created (0: no node compressed)
//! ```
//!
//! As in Redis, the two options are copied into the list when it is created (push to a missing
//! key, LMOVE to a missing destination, RDB load); CONFIG SET changes only lists created later.
//! SORT ... STORE is the exception Redis 7.0 has: it builds its list with the defaults (-2, 0).

use crate::ds::listpack::{LpElem, INTBUF_SIZE};
use crate::ds::quicklist::{CursorMut, Iter, Quicklist};

/// A list value: Redis 7.0's quicklist encoding.
pub struct List {
    ql: Quicklist,
}

impl List {
    /// An empty list with `list-max-listpack-size` = `fill` and `list-compress-depth` =
    /// `compress` (clamped as `quicklistSetOptions` does: fill to -5..=32767, depth to
    /// 0..=65535). Config values are `i64`; anything outside `i32` is clamped first.
    pub fn new(fill: i64, compress: i64) -> List {
        let fill = fill.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        List {
            ql: Quicklist::new(fill, compress),
        }
    }

    /// An empty list with the options in force in `cfg` (what LPUSH/RPUSH/LMOVE create).
    pub fn from_config(cfg: &crate::config::Config) -> List {
        List::new(cfg.list_max_listpack_size, cfg.list_compress_depth)
    }

    /// An empty list with Redis's built-in defaults (fill -2, no compression), what SORT STORE
    /// creates in 7.0 regardless of the configuration.
    pub fn with_defaults() -> List {
        List::new(crate::ds::quicklist::DEFAULT_FILL as i64, 0)
    }

    /// Wraps a quicklist built elsewhere (the RDB loader appends the stored nodes with
    /// `Quicklist::append_listpack` / `append_plain`, keeping the file's node boundaries).
    pub fn from_quicklist(ql: Quicklist) -> List {
        List { ql }
    }

    /// The underlying quicklist, read-only: RDB saving walks `quicklist().nodes()` to write
    /// one blob per node (RDB_TYPE_LIST_QUICKLIST_2); DEBUG reads node statistics.
    pub fn quicklist(&self) -> &Quicklist {
        &self.ql
    }

    /// DEBUG QUICKLIST's dump of the nodes (`quicklistRepr`); `full` adds their contents and
    /// leaves compressed nodes decompressed, as Redis does.
    pub fn debug_repr(&mut self, full: bool) -> String {
        self.ql.repr(full)
    }

    /// OBJECT ENCODING's answer: always "quicklist" in Redis 7.0.
    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    /// Number of elements (LLEN).
    #[inline]
    pub fn len(&self) -> usize {
        self.ql.len()
    }

    /// True when empty. Empty lists are never stored: commands delete the key instead.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ql.is_empty()
    }

    /// Heap bytes owned beyond the `List` itself (MEMORY USAGE, accounting): the node arena
    /// and every node's payload.
    pub fn heap_size(&self) -> usize {
        self.ql
            .memory_usage()
            .saturating_sub(std::mem::size_of::<Quicklist>())
    }

    /// A deep copy with the same node layout and options (COPY, quicklistDup).
    pub fn duplicate(&self) -> List {
        List { ql: self.ql.dup() }
    }

    /// Pushes `v` at the head (LPUSH) or the tail (RPUSH).
    #[inline]
    pub fn push(&mut self, v: &[u8], head: bool) {
        self.ql.push(v, head)
    }

    /// Pops the head or tail element as an owned string; None when empty.
    pub fn pop(&mut self, head: bool) -> Option<Vec<u8>> {
        self.ql.pop(head)
    }

    /// Pops the head or tail element, handing it to `f` before it is freed, so a reply can be
    /// written from the listpack bytes without a copy.
    #[inline]
    pub fn pop_with<R>(&mut self, head: bool, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        self.ql.pop_with(head, f)
    }

    /// Calls `f` with the element at `index` (negative counts from the tail); None when out of
    /// range (LINDEX).
    pub fn get_with<R>(&self, index: i64, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        self.ql.get_with(index, f)
    }

    /// After reading `count` elements from `index` (towards the head with `reverse`) through
    /// `get_with` or `iter_at`: applies the compression Redis's iterator would have done on
    /// the nodes it visited (see `Quicklist::settle_after_read`), so DUMP stays identical.
    pub fn settle_after_read(&mut self, index: i64, count: usize, reverse: bool) {
        self.ql.settle_after_read(index, count, reverse)
    }

    /// LSET: replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        self.ql.replace(index, v)
    }

    /// LINSERT: inserts `v` before or after the first element equal to `pivot`, scanning from
    /// the head; false when no element matches.
    pub fn insert_at_pivot(&mut self, pivot: &[u8], v: &[u8], after: bool) -> bool {
        let mut cur = self.ql.cursor(false);
        loop {
            match cur.next() {
                None => return false,
                Some(e) if e.eq_bytes(pivot) => break,
                Some(_) => {}
            }
        }
        cur.insert(after, v)
    }

    /// LREM: removes elements equal to `v`, from the head when `count >= 0` or from the tail
    /// when negative, at most |count| of them (0: all). Returns how many were removed.
    pub fn remove(&mut self, v: &[u8], count: i64) -> usize {
        let limit = count.unsigned_abs();
        let mut cur: CursorMut<'_> = self.ql.cursor(count < 0);
        let mut removed = 0u64;
        loop {
            let hit = match cur.next() {
                None => break,
                Some(e) => e.eq_bytes(v),
            };
            if hit {
                cur.delete();
                removed += 1;
                if limit != 0 && removed == limit {
                    break;
                }
            }
        }
        removed as usize
    }

    /// Deletes `count` elements from index `start` (negative from the tail), clamped to the
    /// list (quicklistDelRange). LTRIM is `del_range(0, ltrim)` then `del_range(-rtrim, rtrim)`;
    /// LPOP/RPOP with COUNT delete the range they replied.
    pub fn del_range(&mut self, start: i64, count: i64) {
        self.ql.del_range(start, count);
    }

    /// Read-only iterator from element `index` (negative from the tail) towards the tail, or
    /// towards the head with `reverse`. Lending: `while let Some(e) = it.next() { .. }`.
    #[inline]
    pub fn iter_at(&self, index: i64, reverse: bool) -> Iter<'_> {
        self.ql.iter_at(index, reverse)
    }

    /// Read-only iterator head to tail.
    pub fn iter(&self) -> Iter<'_> {
        self.ql.iter()
    }

    /// Every element head to tail as owned strings (SORT's input, tests).
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        let mut it = self.ql.iter();
        while let Some(e) = it.next() {
            out.push(e.to_vec());
        }
        out
    }

    /// Calls `f` with every element head to tail, formatted as bytes (DEBUG DIGEST, RDB
    /// writers that want strings).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let mut it = self.ql.iter();
        let mut buf = [0u8; INTBUF_SIZE];
        while let Some(e) = it.next() {
            f(e.as_bytes(&mut buf));
        }
    }

    /// A list holding `items` in order (SORT ... STORE, tests).
    pub fn from_items<'a>(
        items: impl IntoIterator<Item = &'a [u8]>,
        fill: i64,
        compress: i64,
    ) -> List {
        let mut l = List::new(fill, compress);
        for v in items {
            l.push(v, false);
        }
        l
    }

    /// The quicklist part of DEBUG OBJECT's line, with its leading space, as debug.c prints it:
    /// ` ql_nodes:N ql_avg_node:%.2f ql_listpack_max:fill ql_compressed:0|1
    /// ql_uncompressed_size:N`.
    pub fn debug_object_extra(&self) -> String {
        let nodes = self.ql.node_count();
        let avg = self.len() as f64 / nodes as f64;
        format!(
            " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
            nodes,
            avg,
            self.ql.fill(),
            (self.ql.compress_depth() != 0) as u8,
            self.ql.uncompressed_size()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<String> {
        l.to_vecs()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    #[test]
    fn push_pop_and_index() {
        let mut l = List::new(-2, 0);
        for v in ["b", "c", "12"] {
            l.push(v.as_bytes(), false);
        }
        l.push(b"a", true);
        assert_eq!(items(&l), ["a", "b", "c", "12"]);
        assert_eq!(l.get_with(-1, |e| e.to_vec()), Some(b"12".to_vec()));
        assert_eq!(l.get_with(4, |e| e.to_vec()), None);
        assert_eq!(l.pop(false), Some(b"12".to_vec()));
        assert_eq!(l.pop(true), Some(b"a".to_vec()));
        assert_eq!(l.len(), 2);
        assert_eq!(l.encoding_name(), "quicklist");
    }

    #[test]
    fn insert_remove_set() {
        let mut l = List::new(2, 1);
        for v in ["a", "x", "b", "x", "c", "x"] {
            l.push(v.as_bytes(), false);
        }
        assert!(l.insert_at_pivot(b"b", b"B", true));
        assert!(!l.insert_at_pivot(b"zz", b"B", true));
        assert_eq!(items(&l), ["a", "x", "b", "B", "x", "c", "x"]);
        assert_eq!(l.remove(b"x", -2), 2);
        assert_eq!(items(&l), ["a", "x", "b", "B", "c"]);
        assert_eq!(l.remove(b"x", 0), 1);
        assert!(l.set(-1, b"C"));
        assert!(!l.set(10, b"C"));
        assert_eq!(items(&l), ["a", "b", "B", "C"]);
        l.del_range(1, 2);
        assert_eq!(items(&l), ["a", "C"]);
    }

    #[test]
    fn options_are_clamped_and_reported() {
        let l = List::new(i64::MAX, 3);
        assert_eq!(l.quicklist().fill(), crate::ds::quicklist::FILL_MAX);
        let l = List::new(i64::MIN, -1);
        assert_eq!(l.quicklist().fill(), -5);
        assert_eq!(l.quicklist().compress_depth(), 0);
        let mut l = List::new(-2, 1);
        l.push(b"abc", false);
        assert_eq!(
            l.debug_object_extra(),
            " ql_nodes:1 ql_avg_node:1.00 ql_listpack_max:-2 ql_compressed:1 ql_uncompressed_size:12"
        );
    }

    #[test]
    fn duplicate_is_deep() {
        let mut l = List::from_items([&b"1"[..], b"2"], -2, 0);
        let d = l.duplicate();
        l.push(b"3", false);
        assert_eq!(d.len(), 2);
        assert_eq!(l.len(), 3);
        assert!(l.heap_size() > 0);
    }
}
