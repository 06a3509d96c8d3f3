//! `Quicklist`: Redis 7.0's list encoding (quicklist.c), a doubly linked list of listpack
//! nodes. Node boundaries are visible in RDB files and `DUMP` payloads (one listpack per node),
//! so the fill, split, merge and compression decisions below follow Redis step by step.
//!
//! ```text
//!   Quicklist = Small { lp: Listpack, fill: i16, compress: u16 }     (24 bytes, no node)
//!             | Nodes(Box<NodeList>)
//!
//!   Small: a list of at most one node that is a raw listpack, which is how nearly every
//!   short list lives: only the listpack, no node list, arena or node header. It is the
//!   quicklist with that one node for every purpose but memory; anything it does not do in
//!   place (LINSERT, LREM, a push that needs a second node, a plain element) turns it into
//!   a NodeList first, and every operation on a NodeList left with one raw node turns it back.
//!
//!   NodeList { nodes: Slab<Node>, head, tail, count (elements), fill, compress }
//!
//!      head                                                                       tail
//!       |                                                                           |
//!       v                                                                           v
//!   +--------+  next   +--------+  next   +---------+  next   +--------+  next   +--------+
//!   | node 3 | ------> | node 0 | ------> | node 7  | ------> | node 4 | ------> | node 1 | -> NIL
//!   | RAW lp | <------ | LZF    | <------ | PLAIN   | <------ | LZF    | <------ | RAW lp |
//!   +--------+  prev   +--------+  prev   | LZF of  |  prev   +--------+  prev   +--------+
//!    count 5            count 5           | element |          count 5            count 2
//!                                         +---------+
//!                                          count 1
//!   (compress depth 1: one node at each end stays raw, interior nodes hold an LZF blob of
//!    their bytes when that saves >= 8 bytes and they are >= 48 bytes; node 7 is a PLAIN
//!    node: one element of >= packed_threshold bytes stored as-is, no listpack around it,
//!    compressed like any other interior node)
//!
//!   Node { prev, next: u32 slab keys (NIL = u32::MAX), count, sz = uncompressed bytes
//!          (listpack bytes, or the plain element's length),
//!          data: Packed(Listpack) | Plain(Vec<u8>) | Lzf(Box<[u8]>) (of either),
//!          plain (container PLAIN: count is 1, never merged, split or appended to),
//!          recompress, dont_compress }
//!
//!   Worked example, fill 2, RPUSH a b c -> two nodes:
//!     node 1: 0d000000 0200 81 61 02 81 62 02 ff   ["a","b"]
//!     node 2: 0a000000 0100 81 63 02 ff            ["c"]
//!   Packed threshold 4, RPUSH a large b -> three nodes, the middle one PLAIN:
//!     node 1: 0a000000 0100 81 61 02 ff            ["a"]
//!     node 2: 6c 61 72 67 65                       "large" (sz 5, count 1)
//!     node 3: 0a000000 0100 81 62 02 ff            ["b"]
//! ```
//!
//! Fill (`list-max-listpack-size`): negative -1..-5 caps a node's listpack at 4/8/16/32/64 KiB
//! (estimated as current bytes + element length + 8 before the insert); positive N caps the
//! element count at N, but a node never grows past 8 KiB (SIZE_SAFETY_LIMIT) either way.
//! Elements of at least [`packed_threshold`] bytes (1 GiB; `DEBUG QUICKLIST-PACKED-THRESHOLD`
//! lowers it) live alone in a "plain" node holding the raw bytes: a push or insert of one
//! makes a new node (splitting a packed node when the insert lands inside it), LSET turns a
//! packed element into a plain node and back, and RDB writes the node with container PLAIN.
//!
//! Reads have side effects on compression, as in Redis, whose iterators compress every raw
//! node they leave: callers that read through the lending [`Iter`] call
//! [`Quicklist::settle_after_read`] afterwards so that DUMP payloads stay identical.
//!
//! Nodes live in a `Slab` arena and link by index, so there is no `unsafe`. Deleting elements
//! never merges nodes (Redis does not either); only the split on insert merges neighbours.

use crate::ds::listpack::{Listpack, LpElem};
use slab::Slab;
use std::sync::atomic::{AtomicUsize, Ordering};

const NIL: u32 = u32::MAX;

/// Byte caps for fill -1..-5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A count-limited node still never exceeds this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Over-estimate of the bytes one entry adds beyond its string length.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Listpacks smaller than this are not worth compressing.
const MIN_COMPRESS_BYTES: usize = 48;
/// Compression must save at least this many bytes to be kept.
const MIN_COMPRESS_IMPROVE: usize = 8;

/// Largest positive fill (Redis stores it in a 16-bit signed field).
pub const FILL_MAX: i32 = (1 << 15) - 1;
/// Largest compress depth (16-bit field).
pub const COMPRESS_MAX: u32 = (1 << 16) - 1;
/// Default `list-max-listpack-size`.
pub const DEFAULT_FILL: i32 = -2;

#[cfg(not(test))]
static PACKED_THRESHOLD: AtomicUsize = AtomicUsize::new(1 << 30);

// Unit tests run on many threads at once: each has its own threshold, so a test that lowers
// it cannot change the lists of another (the server has one thread, and the global).
#[cfg(test)]
thread_local! {
    static PACKED_THRESHOLD: AtomicUsize = const { AtomicUsize::new(1 << 30) };
}

/// Elements at least this long get a plain node of their own. Global like Redis's
/// `packed_threshold`, which `DEBUG QUICKLIST-PACKED-THRESHOLD` changes for all lists.
pub fn packed_threshold() -> usize {
    #[cfg(not(test))]
    return PACKED_THRESHOLD.load(Ordering::Relaxed);
    #[cfg(test)]
    return PACKED_THRESHOLD.with(|t| t.load(Ordering::Relaxed));
}

/// `quicklistisSetPackedThreshold`: 0 restores the 1 GiB default; values above 4 GiB - 1 MiB
/// are refused (returns false), since a listpack cannot exceed 4 GiB.
pub fn set_packed_threshold(sz: u64) -> bool {
    if sz > (1u64 << 32) - (1 << 20) {
        return false;
    }
    let v = if sz == 0 { 1 << 30 } else { sz as usize };
    #[cfg(not(test))]
    PACKED_THRESHOLD.store(v, Ordering::Relaxed);
    #[cfg(test)]
    PACKED_THRESHOLD.with(|t| t.store(v, Ordering::Relaxed));
    true
}

#[inline]
fn is_large(sz: usize) -> bool {
    sz >= packed_threshold()
}

#[derive(Clone)]
enum Data {
    Packed(Listpack),
    Plain(Vec<u8>),
    Lzf(Box<[u8]>),
}

#[derive(Clone)]
struct Node {
    prev: u32,
    next: u32,
    count: u32,
    /// Uncompressed payload bytes (listpack bytes or plain element length).
    sz: usize,
    data: Data,
    plain: bool,
    /// Decompressed temporarily for use; compress again when done.
    recompress: bool,
    /// Temporarily exempt from compression (replace-with-large-element path).
    dont_compress: bool,
}

impl Node {
    fn packed(lp: Listpack) -> Node {
        Node {
            prev: NIL,
            next: NIL,
            count: lp.len() as u32,
            sz: lp.bytes(),
            data: Data::Packed(lp),
            plain: false,
            recompress: false,
            dont_compress: false,
        }
    }

    fn plain(v: &[u8]) -> Node {
        Node {
            prev: NIL,
            next: NIL,
            count: 1,
            sz: v.len(),
            data: Data::Plain(v.to_vec()),
            plain: true,
            recompress: false,
            dont_compress: false,
        }
    }

    fn is_compressed(&self) -> bool {
        matches!(self.data, Data::Lzf(_))
    }

    /// The listpack of a raw packed node (callers decompress first).
    fn lp(&self) -> &Listpack {
        match &self.data {
            Data::Packed(lp) => lp,
            _ => unreachable!("quicklist node is not a raw listpack"),
        }
    }

    fn lp_mut(&mut self) -> &mut Listpack {
        match &mut self.data {
            Data::Packed(lp) => lp,
            _ => unreachable!("quicklist node is not a raw listpack"),
        }
    }

    fn update_sz(&mut self) {
        self.sz = self.lp().bytes();
    }

    /// The element at `p` of a raw node (plain nodes have one element, `p` ignored).
    fn elem(&self, p: usize) -> LpElem<'_> {
        match &self.data {
            Data::Packed(lp) => lp.get(p),
            Data::Plain(v) => LpElem::Str(v),
            Data::Lzf(_) => unreachable!("compressed quicklist node read in place"),
        }
    }
}

fn lzf_decompress(comp: &[u8], sz: usize) -> Vec<u8> {
    match lzf::decompress(comp, sz) {
        Ok(v) if v.len() == sz => v,
        // The blob was produced by our LZF compressor from exactly `sz` bytes.
        _ => unreachable!("quicklist LZF node does not decompress"),
    }
}

/// Raw payload of a node as a read-only view for RDB writers.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'a> {
    /// A listpack node, uncompressed (RDB container 2, stored as a plain RDB string).
    Packed(&'a Listpack),
    /// A plain node: one element stored as-is (RDB container 1).
    Plain(&'a [u8]),
    /// An LZF-compressed node: Redis writes `lzf` as an LZF RDB blob with `raw_len`.
    Compressed {
        /// Whether the decompressed bytes are a plain element rather than a listpack.
        plain: bool,
        /// The LZF bytes.
        lzf: &'a [u8],
        /// Length after decompression.
        raw_len: usize,
    },
}

/// A list of strings: Redis 7.0's quicklist. See the module comment.
///
/// A list of at most one raw listpack node is kept in the small form: the node's listpack and
/// the two options, 32 bytes, with no node list, arena or node header around it. It is the
/// same quicklist as a node list holding that one node (every reply, DEBUG and RDB output
/// treats it as one PACKED RAW node), so only memory tells them apart. Operations the small
/// form does not do itself turn it into a node list first and back afterwards ([`settle`]).
///
/// [`settle`]: Quicklist::settle
#[derive(Clone)]
pub struct Quicklist(Repr);

#[derive(Clone)]
enum Repr {
    /// No node (the listpack is empty) or one raw packed node, at rest.
    Small {
        lp: Listpack,
        /// `fill`, already clamped to -5..=FILL_MAX.
        fill: i16,
        /// `compress`, already clamped to 0..=COMPRESS_MAX.
        compress: u16,
    },
    /// Anything else: two nodes or more, a plain node.
    Nodes(Box<NodeList>),
}

/// `list-max-listpack-size` clamped as `quicklistSetFill` does.
fn clamp_fill(fill: i32) -> i32 {
    fill.clamp(-5, FILL_MAX)
}

/// `list-compress-depth` clamped as `quicklistSetCompressDepth` does.
fn clamp_compress(depth: i64) -> u32 {
    depth.clamp(0, COMPRESS_MAX as i64) as u32
}

/// Whether `sz` bytes are within the byte cap of a negative fill.
fn size_meets_optimization(fill: i32, sz: usize) -> bool {
    if fill >= 0 {
        return false;
    }
    let i = (-fill - 1) as usize;
    i < OPTIMIZATION_LEVEL.len() && sz <= OPTIMIZATION_LEVEL[i]
}

/// `_quicklistNodeAllowInsert` for a packed node of `node_sz` bytes and `node_count`
/// elements receiving an element of `sz` bytes.
fn allow_insert_packed(fill: i32, node_sz: usize, node_count: usize, sz: usize) -> bool {
    if is_large(sz) {
        return false;
    }
    let new_sz = node_sz + sz + SIZE_ESTIMATE_OVERHEAD;
    if size_meets_optimization(fill, new_sz) {
        true
    } else if new_sz > SIZE_SAFETY_LIMIT {
        false
    } else {
        (node_count as i64) < fill as i64
    }
}

impl Default for Quicklist {
    fn default() -> Self {
        Quicklist::new(DEFAULT_FILL, 0)
    }
}

impl std::fmt::Debug for Quicklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Quicklist {{ count: {}, nodes: {}, fill: {}, compress: {} }}",
            self.len(),
            self.node_count(),
            self.fill(),
            self.compress_depth()
        )
    }
}

impl Quicklist {
    /// A new empty list with `list-max-listpack-size` = `fill` and `list-compress-depth` =
    /// `compress` (both clamped like `quicklistNew`).
    pub fn new(fill: i32, compress: i64) -> Quicklist {
        #[cfg(test)]
        if tests::NEVER_SMALL.with(|f| f.get()) {
            let nl = NodeList::new(clamp_fill(fill), clamp_compress(compress));
            return Quicklist(Repr::Nodes(Box::new(nl)));
        }
        Quicklist(Repr::Small {
            lp: Listpack::new(),
            fill: clamp_fill(fill) as i16,
            compress: clamp_compress(compress) as u16,
        })
    }

    /// Sets the fill factor, clamped to -5..=FILL_MAX; affects later inserts only.
    pub fn set_fill(&mut self, fill: i32) {
        match &mut self.0 {
            Repr::Small { fill: f, .. } => *f = clamp_fill(fill) as i16,
            Repr::Nodes(nl) => nl.fill = clamp_fill(fill),
        }
    }

    /// Sets the compress depth, clamped to 0..=COMPRESS_MAX; affects later operations only.
    pub fn set_compress_depth(&mut self, depth: i64) {
        match &mut self.0 {
            Repr::Small { compress, .. } => *compress = clamp_compress(depth) as u16,
            Repr::Nodes(nl) => nl.compress = clamp_compress(depth),
        }
    }

    /// The fill factor (DEBUG OBJECT's `ql_listpack_max`).
    pub fn fill(&self) -> i32 {
        match &self.0 {
            Repr::Small { fill, .. } => *fill as i32,
            Repr::Nodes(nl) => nl.fill,
        }
    }

    /// The compress depth.
    pub fn compress_depth(&self) -> u32 {
        match &self.0 {
            Repr::Small { compress, .. } => *compress as u32,
            Repr::Nodes(nl) => nl.compress,
        }
    }

    /// Number of elements (`LLEN`).
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small { lp, .. } => lp.len(),
            Repr::Nodes(nl) => nl.count,
        }
    }

    /// Whether the list has no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Small { lp, .. } => lp.is_empty(),
            Repr::Nodes(nl) => nl.count == 0,
        }
    }

    /// Number of nodes (DEBUG OBJECT's `ql_nodes`).
    pub fn node_count(&self) -> usize {
        match &self.0 {
            Repr::Small { lp, .. } => !lp.is_empty() as usize,
            Repr::Nodes(nl) => nl.nodes.len(),
        }
    }

    /// Sum of the uncompressed node sizes (DEBUG OBJECT's `ql_uncompressed_size`).
    pub fn uncompressed_size(&self) -> usize {
        match &self.0 {
            Repr::Small { lp, .. } if lp.is_empty() => 0,
            Repr::Small { lp, .. } => lp.bytes(),
            Repr::Nodes(nl) => nl.nodes.iter().map(|(_, n)| n.sz).sum(),
        }
    }

    /// Bytes this list occupies, itself included, for MEMORY USAGE style accounting: the
    /// small form's listpack buffer, or the boxed node list, its arena and node payloads.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Quicklist>()
            + match &self.0 {
                Repr::Small { lp, .. } => lp.allocated(),
                Repr::Nodes(nl) => nl.memory_usage(),
            }
    }

    /// Whether the list is in the small form (one raw listpack node or none).
    pub fn is_small(&self) -> bool {
        matches!(self.0, Repr::Small { .. })
    }

    /// The node list, turning the small form into one (its listpack becomes the only node).
    fn nodes_mut(&mut self) -> &mut NodeList {
        if let Repr::Small { fill, compress, .. } = self.0 {
            let nl = Box::new(NodeList::new(fill as i32, compress as u32));
            if let Repr::Small { lp, .. } = std::mem::replace(&mut self.0, Repr::Nodes(nl)) {
                if let Repr::Nodes(nl) = &mut self.0 {
                    nl.append_listpack(lp);
                }
            }
        }
        match &mut self.0 {
            Repr::Nodes(nl) => nl,
            Repr::Small { .. } => unreachable!("just turned into a node list"),
        }
    }

    /// Back to the small form when the node list is down to one raw packed node or none.
    fn settle(&mut self) {
        let Repr::Nodes(nl) = &mut self.0 else {
            return;
        };
        #[cfg(test)]
        if tests::NEVER_SMALL.with(|f| f.get()) {
            return;
        }
        if let Some(lp) = nl.take_single() {
            let (fill, compress) = (nl.fill as i16, nl.compress as u16);
            self.0 = Repr::Small { lp, fill, compress };
        }
    }

    /// Runs `f` on the node form, then settles.
    fn with_nodes<R>(&mut self, f: impl FnOnce(&mut NodeList) -> R) -> R {
        let r = f(self.nodes_mut());
        self.settle();
        r
    }

    fn src(&self) -> Src<'_> {
        match &self.0 {
            Repr::Small { lp, .. } => Src::Small(lp),
            Repr::Nodes(nl) => Src::Nodes(nl),
        }
    }

    /// LPUSH one element (`quicklistPushHead`).
    pub fn push_head(&mut self, v: &[u8]) {
        if let Repr::Small { lp, fill, .. } = &mut self.0 {
            // An empty list gets a new node; else the node takes it if the fill allows.
            if (lp.is_empty() && !is_large(v.len()))
                || allow_insert_packed(*fill as i32, lp.bytes(), lp.len(), v.len())
            {
                lp.push_front(v);
                return;
            }
        }
        self.with_nodes(|nl| nl.push_head(v))
    }

    /// RPUSH one element (`quicklistPushTail`).
    pub fn push_tail(&mut self, v: &[u8]) {
        if let Repr::Small { lp, fill, .. } = &mut self.0 {
            if (lp.is_empty() && !is_large(v.len()))
                || allow_insert_packed(*fill as i32, lp.bytes(), lp.len(), v.len())
            {
                lp.push_back(v);
                return;
            }
        }
        self.with_nodes(|nl| nl.push_tail(v))
    }

    /// Pushes at the head (`head = true`) or tail.
    pub fn push(&mut self, v: &[u8], head: bool) {
        if head {
            self.push_head(v)
        } else {
            self.push_tail(v)
        }
    }

    /// Pops the head or tail element, handing it to `f` before it is deleted (so replies can
    /// be written without a copy). `None` when the list is empty.
    pub fn pop_with<R>(&mut self, head: bool, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        if let Repr::Small { lp, .. } = &mut self.0 {
            let p = if head { lp.first()? } else { lp.last()? };
            let r = f(lp.get(p));
            lp.delete(p);
            return Some(r);
        }
        self.with_nodes(|nl| nl.pop_with(head, f))
    }

    /// Pops the head or tail element as an owned string.
    pub fn pop(&mut self, head: bool) -> Option<Vec<u8>> {
        self.pop_with(head, |e| e.to_vec())
    }

    /// Calls `f` with the element at `index` (negative from the tail); `None` if out of range.
    /// A compressed node is decompressed into a temporary copy, leaving the list unchanged.
    pub fn get_with<R>(&self, index: i64, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        match &self.0 {
            Repr::Small { lp, .. } => Some(f(lp.get(lp.seek(index)?))),
            Repr::Nodes(nl) => nl.get_with(index, f),
        }
    }

    /// The element at `index` as an owned string (LINDEX).
    pub fn get(&self, index: i64) -> Option<Vec<u8>> {
        self.get_with(index, |e| e.to_vec())
    }

    /// LSET: replaces the element at `index` (`quicklistReplaceAtIndex`). False if out of
    /// range.
    pub fn replace(&mut self, index: i64, v: &[u8]) -> bool {
        if let Repr::Small { lp, .. } = &mut self.0 {
            // In place, as the node list does for a packed node and a small element.
            if !is_large(v.len()) {
                let Some(p) = lp.seek(index) else {
                    return false;
                };
                lp.replace(p, v);
                return true;
            }
        }
        let mut c = self.cursor_at(index, true);
        if c.next().is_none() {
            return false;
        }
        c.replace(v);
        true
    }

    /// Inserts `v` before or after the element at `index` (LINSERT once the pivot index is
    /// known). False if out of range.
    pub fn insert(&mut self, index: i64, after: bool, v: &[u8]) -> bool {
        let mut c = self.cursor_at(index, false);
        if c.next().is_none() {
            return false;
        }
        c.insert(after, v);
        true
    }

    /// The compression side effects of Redis reading `count` elements from `index` (towards
    /// the head with `reverse`) through a quicklist iterator, for callers that read through
    /// the lending [`Iter`] or [`Quicklist::get_with`], which never change the list. A list of
    /// one node has none (its only node is an end node, never compressed).
    pub fn settle_after_read(&mut self, index: i64, count: usize, reverse: bool) {
        if let Repr::Nodes(nl) = &mut self.0 {
            nl.settle_after_read(index, count, reverse);
        }
    }

    /// `quicklistDelRange`: deletes `count` elements from `start` (negative from the tail),
    /// clamped to the list. Returns whether anything was deleted. LTRIM is
    /// `del_range(0, ltrim)` then `del_range(-rtrim, rtrim)`.
    pub fn del_range(&mut self, start: i64, count: i64) -> bool {
        if let Repr::Small { lp, .. } = &mut self.0 {
            if count <= 0 {
                return false;
            }
            let len = lp.len() as u64;
            let abs = if start >= 0 {
                start as u64
            } else {
                match len.checked_sub(start.unsigned_abs()) {
                    Some(a) => a,
                    None => return false,
                }
            };
            if abs >= len {
                return false;
            }
            let extent = (count as u64).min(len - abs);
            lp.delete_range(abs as i64, extent as usize);
            return true;
        }
        self.with_nodes(|nl| nl.del_range(start, count))
    }

    /// `quicklistRotate`: moves the tail element to the head.
    pub fn rotate(&mut self) {
        self.with_nodes(|nl| nl.rotate())
    }

    /// Read-only iterator from the head.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_at(0, false)
    }

    /// Read-only iterator from the tail towards the head.
    pub fn iter_rev(&self) -> Iter<'_> {
        self.iter_at(-1, true)
    }

    /// Read-only iterator starting at element `index` (negative from the tail), moving
    /// towards the tail or, with `reverse`, towards the head. Empty if out of range.
    pub fn iter_at(&self, index: i64, reverse: bool) -> Iter<'_> {
        match &self.0 {
            Repr::Small { lp, .. } => {
                let pos = lp.seek(index);
                Iter {
                    src: Src::Small(lp),
                    node: if pos.is_some() { 0 } else { NIL },
                    pos: pos.unwrap_or(0),
                    reverse,
                    scratch: None,
                    pending_move: false,
                }
            }
            Repr::Nodes(nl) => nl.iter_at(index, reverse),
        }
    }

    /// Mutable cursor from the head (or tail with `reverse`) that can delete the element it
    /// is on and keep going (LREM), or insert/replace there (LINSERT).
    pub fn cursor(&mut self, reverse: bool) -> CursorMut<'_> {
        let nl = self.nodes_mut();
        let node = if reverse { nl.tail } else { nl.head };
        CursorMut {
            outer: self,
            node,
            offset: if reverse { -1 } else { 0 },
            pos: None,
            reverse,
            cur: None,
        }
    }

    /// Mutable cursor whose first `next()` returns element `index`; exhausted if out of range.
    pub fn cursor_at(&mut self, index: i64, reverse: bool) -> CursorMut<'_> {
        let (node, offset) = self.nodes_mut().cursor_start(index, reverse);
        CursorMut {
            outer: self,
            node,
            offset,
            pos: None,
            reverse,
            cur: None,
        }
    }

    /// The nodes from head to tail, for RDB saving (`RDB_TYPE_LIST_QUICKLIST_2`).
    pub fn nodes(&self) -> Nodes<'_> {
        let node = match &self.0 {
            Repr::Small { lp, .. } if lp.is_empty() => NIL,
            Repr::Small { .. } => 0,
            Repr::Nodes(nl) => nl.head,
        };
        Nodes {
            src: self.src(),
            node,
        }
    }

    /// Appends a listpack loaded from RDB as a new tail node (`quicklistAppendListpack`),
    /// without merging. Empty listpacks are skipped (Redis's loader drops them) and the call
    /// returns false.
    pub fn append_listpack(&mut self, lp: Listpack) -> bool {
        if lp.is_empty() {
            return false;
        }
        if let Repr::Small { lp: cur, .. } = &mut self.0 {
            if cur.is_empty() {
                *cur = lp;
                return true;
            }
        }
        self.with_nodes(|nl| nl.append_listpack(lp))
    }

    /// Appends a plain node loaded from RDB (`quicklistAppendPlainNode`).
    pub fn append_plain(&mut self, data: Vec<u8>) {
        self.with_nodes(|nl| nl.append_plain(data))
    }

    /// `quicklistDup` (COPY): the same nodes, compressed or not, appended one by one to a new
    /// list with the same options. Appending runs the usual compression at the ends, so a
    /// node the original kept raw outside the compress depth comes out compressed in the copy
    /// (and a compressed node that ends up at an end comes out raw), exactly as in Redis.
    /// A small list's copy has an exact-size buffer, as Redis's copy of the listpack.
    pub fn dup(&self) -> Quicklist {
        match &self.0 {
            Repr::Small { lp, fill, compress } => Quicklist(Repr::Small {
                lp: lp.clone(),
                fill: *fill,
                compress: *compress,
            }),
            Repr::Nodes(nl) => {
                let mut q = Quicklist(Repr::Nodes(Box::new(nl.dup())));
                q.settle();
                q
            }
        }
    }

    /// A human-readable dump of the list and its nodes (`quicklistRepr`, DEBUG QUICKLIST).
    /// With `full` every node's contents are printed too; a compressed node is decompressed
    /// for that and, as in Redis (whose `quicklistRecompressOnly` finds no recompress mark on
    /// it), stays raw afterwards, which later DUMP payloads show.
    pub fn repr(&mut self, full: bool) -> String {
        self.with_nodes(|nl| nl.repr(full))
    }
}

/// The linked nodes of a list that has outgrown the small form (see [`Quicklist`]): Redis's
/// `quicklist` struct with its nodes in an arena.
#[derive(Clone)]
struct NodeList {
    nodes: Slab<Node>,
    head: u32,
    tail: u32,
    count: usize,
    fill: i32,
    compress: u32,
}

impl NodeList {
    /// An empty node list with options already clamped.
    fn new(fill: i32, compress: u32) -> NodeList {
        NodeList {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
            count: 0,
            fill,
            compress,
        }
    }

    /// Takes the listpack out when the list is down to one raw packed node at rest (an empty
    /// one when no node is left), leaving the node list empty; None otherwise.
    fn take_single(&mut self) -> Option<Listpack> {
        match self.nodes.len() {
            0 => Some(Listpack::new()),
            1 => {
                let n = self.n(self.head);
                if n.plain || n.recompress || n.dont_compress || !matches!(n.data, Data::Packed(_))
                {
                    return None;
                }
                let n = self.nodes.remove(self.head as usize);
                self.head = NIL;
                self.tail = NIL;
                self.count = 0;
                match n.data {
                    Data::Packed(lp) => Some(lp),
                    _ => unreachable!("checked above"),
                }
            }
            _ => None,
        }
    }

    /// Heap bytes of this (boxed) node list: itself, its arena and every node's payload.
    fn memory_usage(&self) -> usize {
        let payload: usize = self
            .nodes
            .iter()
            .map(|(_, n)| match &n.data {
                Data::Packed(lp) => lp.allocated(),
                Data::Plain(v) => v.capacity(),
                Data::Lzf(b) => b.len(),
            })
            .sum();
        std::mem::size_of::<NodeList>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + payload
    }

    // ----------------------------------------------------------------------------------------
    // Node plumbing
    // ----------------------------------------------------------------------------------------

    #[inline]
    fn n(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    #[inline]
    fn nm(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    /// `_quicklistNodeAllowInsert`.
    fn allow_insert(&self, id: u32, sz: usize) -> bool {
        if id == NIL {
            return false;
        }
        let n = self.n(id);
        !n.plain && allow_insert_packed(self.fill, n.sz, n.count as usize, sz)
    }

    /// `_quicklistNodeAllowMerge`.
    fn allow_merge(&self, a: u32, b: u32) -> bool {
        if a == NIL || b == NIL {
            return false;
        }
        let (a, b) = (self.n(a), self.n(b));
        if a.plain || b.plain {
            return false;
        }
        // Minus one header + EOF pair (Redis subtracts 11, its ziplist-era constant).
        let merge_sz = (a.sz + b.sz).saturating_sub(11);
        if size_meets_optimization(self.fill, merge_sz) {
            true
        } else if merge_sz > SIZE_SAFETY_LIMIT {
            false
        } else {
            (a.count as i64 + b.count as i64) <= self.fill as i64
        }
    }

    /// `__quicklistCompressNode`: compress an interior raw node if worthwhile.
    fn compress_node_raw(&mut self, id: u32) {
        let n = self.nm(id);
        if n.dont_compress {
            return;
        }
        n.recompress = false;
        // Redis asserts the node is interior; an end node simply stays raw here.
        if n.prev == NIL || n.next == NIL {
            return;
        }
        if n.sz < MIN_COMPRESS_BYTES {
            return;
        }
        let raw: &[u8] = match &n.data {
            Data::Packed(lp) => lp.as_bytes(),
            Data::Plain(v) => v,
            Data::Lzf(_) => return,
        };
        // Redis's lzf_compress with an output buffer of the node's size, so the blob (which
        // RDB and DUMP write as is) is byte for byte redis-server's. The `lzf` crate's
        // compressor differs from liblzf where a match runs to the end of the input, which
        // a plain node of repeated bytes shows.
        if let Some(c) = crate::util::lzf::compress(raw, n.sz) {
            if c.len() + MIN_COMPRESS_IMPROVE < n.sz {
                n.data = Data::Lzf(c.into_boxed_slice());
            }
        }
    }

    /// `quicklistCompressNode`: compress `id` if it is a raw node.
    fn compress_node(&mut self, id: u32) {
        if id != NIL && !self.n(id).is_compressed() {
            self.compress_node_raw(id);
        }
    }

    /// `quicklistDecompressNode`.
    fn decompress_node(&mut self, id: u32) {
        if id == NIL {
            return;
        }
        let n = self.nm(id);
        if let Data::Lzf(c) = &n.data {
            let raw = lzf_decompress(c, n.sz);
            n.data = if n.plain {
                Data::Plain(raw)
            } else {
                Data::Packed(Listpack::from_trusted(raw))
            };
            n.recompress = false;
        }
    }

    /// `quicklistDecompressNodeForUse`: decompress and remember to compress again.
    fn decompress_for_use(&mut self, id: u32) {
        if id != NIL && self.n(id).is_compressed() {
            self.decompress_node(id);
            self.nm(id).recompress = true;
        }
    }

    /// `quicklistRecompressOnly`.
    fn recompress_only(&mut self, id: u32) {
        if self.n(id).recompress {
            self.compress_node(id);
        }
    }

    /// `quicklistCompress`.
    fn compress(&mut self, id: u32) {
        if self.n(id).recompress {
            self.compress_node(id);
        } else {
            self.compress_around(id);
        }
    }

    /// `__quicklistCompress`: make the `compress` nodes at each end raw, compress `node` if
    /// it is deeper than that, and compress the first node past the depth on each side.
    fn compress_around(&mut self, node: u32) {
        let len = self.nodes.len();
        if len == 0 || self.compress == 0 || len < self.compress as usize * 2 {
            return;
        }
        let (mut fwd, mut rev) = (self.head, self.tail);
        let mut in_depth = false;
        for _ in 0..self.compress {
            self.decompress_node(fwd);
            self.decompress_node(rev);
            if fwd == node || rev == node {
                in_depth = true;
            }
            if fwd == rev || self.n(fwd).next == rev {
                return;
            }
            fwd = self.n(fwd).next;
            rev = self.n(rev).prev;
        }
        if !in_depth {
            self.compress_node(node);
        }
        self.compress_node(fwd);
        self.compress_node(rev);
    }

    /// `__quicklistInsertNode`: link `node` before/after `old` (NIL for an empty list) and
    /// apply compression. Returns the new node's id.
    fn insert_node(&mut self, old: u32, mut node: Node, after: bool) -> u32 {
        let was_empty = self.nodes.is_empty();
        node.prev = NIL;
        node.next = NIL;
        if old != NIL {
            if after {
                node.prev = old;
                node.next = self.n(old).next;
            } else {
                node.next = old;
                node.prev = self.n(old).prev;
            }
        }
        let id = self.nodes.insert(node) as u32;
        assert!(id != NIL, "quicklist node arena exhausted");
        if old != NIL {
            let (p, nx) = (self.n(id).prev, self.n(id).next);
            if after {
                if nx != NIL {
                    self.nm(nx).prev = id;
                }
                self.nm(old).next = id;
            } else {
                if p != NIL {
                    self.nm(p).next = id;
                }
                self.nm(old).prev = id;
            }
        }
        if after && self.tail == old {
            self.tail = id;
        }
        if !after && self.head == old {
            self.head = id;
        }
        if was_empty {
            self.head = id;
            self.tail = id;
        }
        if old != NIL {
            self.compress(old);
        }
        self.compress(id);
        id
    }

    /// `__quicklistDelNode`: unlink and free a node, then fix compression at the ends.
    fn del_node(&mut self, id: u32) {
        let n = self.nodes.remove(id as usize);
        if n.next != NIL {
            self.nm(n.next).prev = n.prev;
        }
        if n.prev != NIL {
            self.nm(n.prev).next = n.next;
        }
        if id == self.tail {
            self.tail = n.prev;
        }
        if id == self.head {
            self.head = n.next;
        }
        self.count -= n.count as usize;
        self.compress_around(NIL);
    }

    /// `quicklistDelIndex`: delete the element at `p` of raw node `id`. Returns whether the
    /// node went away, and the position of the following element in the node.
    fn del_index(&mut self, id: u32, p: usize) -> (bool, Option<usize>) {
        if self.n(id).plain {
            self.del_node(id);
            return (true, None);
        }
        let n = self.nm(id);
        let next = n.lp_mut().delete(p);
        n.count -= 1;
        if n.count == 0 {
            self.del_node(id);
            self.count -= 1;
            return (true, None);
        }
        n.update_sz();
        self.count -= 1;
        (false, next)
    }

    fn insert_plain(&mut self, old: u32, v: &[u8], after: bool) {
        self.insert_node(old, Node::plain(v), after);
        self.count += 1;
    }

    /// `_quicklistSplitNode`: `id` keeps [0, offset] (after) or [offset, end) (before); the
    /// returned unlinked node holds the rest.
    fn split_node(&mut self, id: u32, offset: usize, after: bool) -> Node {
        let n = self.nm(id);
        let mut other = n.lp().clone();
        if after {
            n.lp_mut().delete_range(offset as i64 + 1, usize::MAX);
            other.delete_range(0, offset + 1);
        } else {
            n.lp_mut().delete_range(0, offset);
            other.delete_range(offset as i64, usize::MAX);
        }
        n.count = n.lp().len() as u32;
        n.update_sz();
        Node::packed(other)
    }

    /// `_quicklistListpackMerge`: merge `a` (left) and `b` into the node with more elements,
    /// delete the other. Returns the kept node.
    fn merge_pair(&mut self, a: u32, b: u32) -> u32 {
        self.decompress_node(a);
        self.decompress_node(b);
        let la = std::mem::replace(&mut self.nm(a).data, Data::Plain(Vec::new()));
        let lb = std::mem::replace(&mut self.nm(b).data, Data::Plain(Vec::new()));
        let (Data::Packed(la), Data::Packed(lb)) = (la, lb) else {
            unreachable!("merging a non-listpack node")
        };
        let (keep, drop) = if la.len() >= lb.len() { (a, b) } else { (b, a) };
        let merged = Listpack::merge(la, lb);
        let k = self.nm(keep);
        k.count = merged.len() as u32;
        k.sz = merged.bytes();
        k.data = Data::Packed(merged);
        self.nm(drop).count = 0;
        self.del_node(drop);
        self.compress(keep);
        keep
    }

    /// `_quicklistMergeNodes`: try merging the two nodes before `center`, the two after it,
    /// then `center` with its neighbours.
    fn merge_nodes(&mut self, center: u32) {
        let prev = self.n(center).prev;
        let prev_prev = if prev != NIL { self.n(prev).prev } else { NIL };
        let next = self.n(center).next;
        let next_next = if next != NIL { self.n(next).next } else { NIL };
        if self.allow_merge(prev, prev_prev) {
            self.merge_pair(prev_prev, prev);
        }
        if self.allow_merge(next, next_next) {
            self.merge_pair(next, next_next);
        }
        let cprev = self.n(center).prev;
        let target = if self.allow_merge(center, cprev) {
            self.merge_pair(cprev, center)
        } else {
            center
        };
        let tnext = self.n(target).next;
        if self.allow_merge(target, tnext) {
            self.merge_pair(target, tnext);
        }
    }

    /// `_quicklistInsert`: insert `v` before/after the element at `pos` (index `offset`) of
    /// raw node `id`, splitting and merging nodes like Redis.
    fn insert_at_entry(&mut self, id: u32, offset: usize, pos: usize, after: bool, v: &[u8]) {
        let sz = v.len();
        let full = !self.allow_insert(id, sz);
        let (count, next, prev, plain) = {
            let n = self.n(id);
            (n.count as usize, n.next, n.prev, n.plain)
        };
        let at_tail = after && offset + 1 == count;
        let at_head = !after && offset == 0;
        let avail_next = at_tail && self.allow_insert(next, sz);
        let avail_prev = at_head && self.allow_insert(prev, sz);

        if is_large(sz) {
            if plain || at_tail || at_head {
                self.insert_plain(id, v, after);
            } else {
                self.decompress_for_use(id);
                let rest = self.split_node(id, offset, after);
                let entry = self.insert_node(id, Node::plain(v), after);
                self.insert_node(entry, rest, after);
                self.count += 1;
            }
            return;
        }

        if !full {
            self.decompress_for_use(id);
            let n = self.nm(id);
            if after {
                n.lp_mut().insert_after(pos, v);
            } else {
                n.lp_mut().insert_before(pos, v);
            }
            n.count += 1;
            n.update_sz();
            self.recompress_only(id);
        } else if at_tail && avail_next {
            self.decompress_for_use(next);
            let n = self.nm(next);
            n.lp_mut().push_front(v);
            n.count += 1;
            n.update_sz();
            self.recompress_only(next);
            self.recompress_only(id);
        } else if at_head && avail_prev {
            self.decompress_for_use(prev);
            let n = self.nm(prev);
            n.lp_mut().push_back(v);
            n.count += 1;
            n.update_sz();
            self.recompress_only(prev);
            self.recompress_only(id);
        } else if at_tail || at_head {
            let mut lp = Listpack::new();
            lp.push_front(v);
            self.insert_node(id, Node::packed(lp), after);
        } else {
            self.decompress_for_use(id);
            let mut rest = self.split_node(id, offset, after);
            if after {
                rest.lp_mut().push_front(v);
            } else {
                rest.lp_mut().push_back(v);
            }
            rest.count += 1;
            rest.update_sz();
            self.insert_node(id, rest, after);
            self.merge_nodes(id);
        }
        self.count += 1;
    }

    /// Node and in-node offset of element `index` (negative from the tail), walking from
    /// the nearer end (`quicklistGetIteratorAtIdx`).
    fn locate(&self, index: i64) -> Option<(u32, usize)> {
        let count = self.count as u64;
        let abs = if index >= 0 {
            index as u64
        } else {
            count.checked_sub(index.unsigned_abs())?
        };
        if abs >= count {
            return None;
        }
        if abs <= (count - 1) / 2 {
            let (mut n, mut accum) = (self.head, 0u64);
            while n != NIL {
                let c = self.n(n).count as u64;
                if accum + c > abs {
                    return Some((n, (abs - accum) as usize));
                }
                accum += c;
                n = self.n(n).next;
            }
        } else {
            let back = count - 1 - abs;
            let (mut n, mut accum) = (self.tail, 0u64);
            while n != NIL {
                let c = self.n(n).count as u64;
                if accum + c > back {
                    return Some((n, (c - 1 - (back - accum)) as usize));
                }
                accum += c;
                n = self.n(n).prev;
            }
        }
        None
    }

    // ----------------------------------------------------------------------------------------
    // Public operations
    // ----------------------------------------------------------------------------------------

    /// LPUSH one element (`quicklistPushHead`).
    fn push_head(&mut self, v: &[u8]) {
        if is_large(v.len()) {
            self.insert_plain(self.head, v, false);
            return;
        }
        if self.allow_insert(self.head, v.len()) {
            let h = self.head;
            let n = self.nm(h);
            n.lp_mut().push_front(v);
            n.update_sz();
            n.count += 1;
        } else {
            let mut lp = Listpack::new();
            lp.push_front(v);
            self.insert_node(self.head, Node::packed(lp), false);
        }
        self.count += 1;
    }

    /// RPUSH one element (`quicklistPushTail`).
    fn push_tail(&mut self, v: &[u8]) {
        if is_large(v.len()) {
            self.insert_plain(self.tail, v, true);
            return;
        }
        if self.allow_insert(self.tail, v.len()) {
            let t = self.tail;
            let n = self.nm(t);
            n.lp_mut().push_back(v);
            n.update_sz();
            n.count += 1;
        } else {
            let mut lp = Listpack::new();
            lp.push_back(v);
            self.insert_node(self.tail, Node::packed(lp), true);
        }
        self.count += 1;
    }

    /// Pops the head or tail element, handing it to `f` before it is deleted (so replies can
    /// be written without a copy). `None` when the list is empty.
    fn pop_with<R>(&mut self, head: bool, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        let id = if head { self.head } else { self.tail };
        if id == NIL {
            return None;
        }
        // The ends are never compressed; decompress defensively all the same.
        self.decompress_node(id);
        let n = self.n(id);
        let p = if n.plain {
            0
        } else {
            let lp = n.lp();
            if head {
                lp.first()?
            } else {
                lp.last()?
            }
        };
        let r = f(n.elem(p));
        self.del_index(id, p);
        Some(r)
    }

    /// Calls `f` with the element at `index` (negative from the tail); `None` if out of range.
    /// A compressed node is decompressed into a temporary copy, leaving the list unchanged.
    fn get_with<R>(&self, index: i64, f: impl FnOnce(LpElem<'_>) -> R) -> Option<R> {
        let (id, off) = self.locate(index)?;
        let n = self.n(id);
        match &n.data {
            Data::Packed(lp) => Some(f(lp.get(lp.seek(off as i64)?))),
            Data::Plain(v) => Some(f(LpElem::Str(v))),
            Data::Lzf(c) => {
                let raw = lzf_decompress(c, n.sz);
                if n.plain {
                    Some(f(LpElem::Str(&raw)))
                } else {
                    let lp = Listpack::from_trusted(raw);
                    Some(f(lp.get(lp.seek(off as i64)?)))
                }
            }
        }
    }

    /// The compression side effects of Redis reading `count` elements from `index` (towards
    /// the head with `reverse`) through a quicklist iterator, for callers that read through
    /// the lending [`Iter`] or [`Quicklist::get_with`], which never change the list.
    ///
    /// Redis's iterator decompresses each node it enters "for use" and calls
    /// `quicklistCompress` on it when it leaves or is released: a node it found compressed is
    /// compressed again (no change), but a raw node gets `__quicklistCompress`, which
    /// compresses that node when it lies deeper than the compress depth, and the first node
    /// past the depth at each end. So a node left raw outside the depth (it grew past
    /// MIN_COMPRESS_BYTES by an in-place LINSERT, or DEBUG QUICKLIST decompressed it) is
    /// compressed by the next LINDEX/LRANGE/LPOS that reads it, which DUMP shows.
    fn settle_after_read(&mut self, index: i64, count: usize, reverse: bool) {
        if self.compress == 0 || count == 0 {
            return;
        }
        let Some((mut id, off)) = self.locate(index) else {
            return;
        };
        let mut avail = if reverse {
            off + 1
        } else {
            self.n(id).count as usize - off
        };
        let mut left = count;
        loop {
            if !self.n(id).is_compressed() {
                self.compress(id);
            }
            if left <= avail {
                break;
            }
            left -= avail;
            id = if reverse {
                self.n(id).prev
            } else {
                self.n(id).next
            };
            if id == NIL {
                break;
            }
            avail = self.n(id).count as usize;
        }
    }

    /// `quicklistDelRange`: deletes `count` elements from `start` (negative from the tail),
    /// clamped to the list. Returns whether anything was deleted. LTRIM is
    /// `del_range(0, ltrim)` then `del_range(-rtrim, rtrim)`.
    fn del_range(&mut self, start: i64, count: i64) -> bool {
        if count <= 0 {
            return false;
        }
        let mut extent = count as u64;
        if start >= 0 {
            extent = extent.min((self.count as u64).saturating_sub(start as u64));
        } else {
            extent = extent.min(start.unsigned_abs());
        }
        let Some((mut id, mut offset)) = self.locate(start) else {
            return false;
        };
        // Redis finds the start with an iterator and releases it at once, which runs
        // quicklistCompress on the start node before anything is deleted.
        self.compress(id);
        while extent > 0 && id != NIL {
            let next = self.n(id).next;
            let ncount = self.n(id).count as u64;
            let entire = offset == 0 && extent >= ncount;
            let del = if entire {
                ncount
            } else if extent + offset as u64 >= ncount {
                ncount - offset as u64
            } else {
                extent
            };
            if entire || self.n(id).plain {
                self.del_node(id);
            } else {
                self.decompress_for_use(id);
                let n = self.nm(id);
                n.lp_mut().delete_range(offset as i64, del as usize);
                n.update_sz();
                n.count -= del as u32;
                let empty = n.count == 0;
                self.count -= del as usize;
                if empty {
                    self.del_node(id);
                } else {
                    self.recompress_only(id);
                }
            }
            extent -= del;
            id = next;
            offset = 0;
        }
        true
    }

    /// `quicklistRotate`: moves the tail element to the head.
    fn rotate(&mut self) {
        if self.count <= 1 {
            return;
        }
        let t = self.tail;
        if self.n(t).plain {
            // Relink the tail node as the new head. Redis leaves compression alone here (its
            // rotate is test-only); we re-establish the raw-ends rule so later pushes never
            // meet a compressed end node.
            let new_tail = self.n(t).prev;
            let old_head = self.head;
            self.nm(old_head).prev = t;
            self.nm(new_tail).next = NIL;
            let n = self.nm(t);
            n.next = old_head;
            n.prev = NIL;
            self.head = t;
            self.tail = new_tail;
            self.decompress_node(new_tail);
            self.compress_around(NIL);
            return;
        }
        let v = {
            let lp = self.n(t).lp();
            match lp.last() {
                Some(p) => lp.get(p).to_vec(),
                None => return,
            }
        };
        self.push_head(&v);
        let t = self.tail;
        if let Some(p) = self.n(t).lp().last() {
            self.del_index(t, p);
        }
    }

    /// Read-only iterator starting at element `index` (negative from the tail), moving
    /// towards the tail or, with `reverse`, towards the head. Empty if out of range.
    fn iter_at(&self, index: i64, reverse: bool) -> Iter<'_> {
        let mut it = Iter {
            src: Src::Nodes(self),
            node: NIL,
            pos: 0,
            reverse,
            scratch: None,
            pending_move: false,
        };
        if let Some((id, off)) = self.locate(index) {
            it.enter(id);
            let pos = if self.n(id).plain {
                Some(0)
            } else {
                it.cur_lp().seek(off as i64)
            };
            match pos {
                Some(p) => it.pos = p,
                None => it.node = NIL,
            }
        }
        it
    }

    /// Where a cursor starting at element `index` begins: its node and its offset in the
    /// node (negative from the node's tail when `reverse`); NIL when out of range.
    fn cursor_start(&self, index: i64, reverse: bool) -> (u32, i64) {
        match self.locate(index) {
            Some((id, off)) => {
                let off = if reverse {
                    off as i64 - self.n(id).count as i64
                } else {
                    off as i64
                };
                (id, off)
            }
            None => (NIL, 0),
        }
    }

    /// Appends a listpack loaded from RDB as a new tail node (`quicklistAppendListpack`),
    /// without merging. Empty listpacks are skipped (Redis's loader drops them) and the call
    /// returns false.
    fn append_listpack(&mut self, lp: Listpack) -> bool {
        if lp.is_empty() {
            return false;
        }
        let node = Node::packed(lp);
        let c = node.count as usize;
        self.insert_node(self.tail, node, true);
        self.count += c;
        true
    }

    /// `quicklistDup` (COPY): the same nodes, compressed or not, appended one by one to a new
    /// list with the same options. Appending runs the usual compression at the ends, so a
    /// node the original kept raw outside the compress depth comes out compressed in the copy
    /// (and a compressed node that ends up at an end comes out raw), exactly as in Redis.
    fn dup(&self) -> NodeList {
        let mut copy = NodeList::new(self.fill, self.compress);
        let mut id = self.head;
        while id != NIL {
            let n = self.n(id);
            let node = Node {
                prev: NIL,
                next: NIL,
                count: n.count,
                sz: n.sz,
                data: n.data.clone(),
                plain: n.plain,
                recompress: false,
                dont_compress: false,
            };
            copy.count += node.count as usize;
            copy.insert_node(copy.tail, node, true);
            id = n.next;
        }
        copy
    }

    /// A human-readable dump of the list and its nodes (`quicklistRepr`, DEBUG QUICKLIST).
    /// With `full` every node's contents are printed too; a compressed node is decompressed
    /// for that and, as in Redis (whose `quicklistRecompressOnly` finds no recompress mark on
    /// it), stays raw afterwards, which later DUMP payloads show.
    fn repr(&mut self, full: bool) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{{count : {}}}", self.count);
        let _ = writeln!(s, "{{len : {}}}", self.nodes.len());
        let _ = writeln!(s, "{{fill : {}}}", self.fill);
        let _ = writeln!(s, "{{compress : {}}}", self.compress);
        let _ = writeln!(s, "{{bookmark_count : 0}}");
        let (mut id, mut i) = (self.head, 0);
        while id != NIL {
            let n = self.n(id);
            let _ = writeln!(s, "{{quicklist node({i})");
            let _ = writeln!(
                s,
                "{{container : {}, encoding: {}, size: {}, count: {}, recompress: {}, \
                 attempted_compress: 0}}",
                if n.plain { "PLAIN" } else { "PACKED" },
                if n.is_compressed() { "LZF" } else { "RAW" },
                n.sz,
                n.count,
                n.recompress as u8
            );
            if full {
                self.decompress_node(id);
                match &self.n(id).data {
                    Data::Packed(lp) => {
                        let _ = write!(s, "{{ listpack:\n{}}}\n", lp.repr());
                    }
                    Data::Plain(v) => {
                        let _ = writeln!(s, "{{ entry : {} }}", String::from_utf8_lossy(v));
                    }
                    Data::Lzf(_) => {}
                }
                self.recompress_only(id);
            }
            s.push_str("}\n");
            id = self.n(id).next;
            i += 1;
        }
        s
    }

    /// Appends a plain node loaded from RDB (`quicklistAppendPlainNode`).
    fn append_plain(&mut self, data: Vec<u8>) {
        let mut node = Node::plain(&[]);
        node.sz = data.len();
        node.data = Data::Plain(data);
        self.insert_node(self.tail, node, true);
        self.count += 1;
    }
}

/// Read-only iterator; a lending iterator because elements of a compressed node borrow a
/// temporary decompressed copy: `while let Some(e) = it.next() { ... }`.
pub struct Iter<'a> {
    src: Src<'a>,
    /// The current node (0 in a small list), NIL when done.
    node: u32,
    /// Position of the element `next` returns in the current node.
    pos: usize,
    reverse: bool,
    /// Decompressed copy of the current node when it is compressed.
    scratch: Option<Data>,
    /// The current node is used up; move on at the next call.
    pending_move: bool,
}

/// What a reader walks: the one listpack of a small list, or the node list.
#[derive(Clone, Copy)]
enum Src<'a> {
    Small(&'a Listpack),
    Nodes(&'a NodeList),
}

/// The payload of the node an iterator is in, as it reads it.
enum Cur<'b> {
    Lp(&'b Listpack),
    Plain(&'b [u8]),
}

impl<'a> Iter<'a> {
    /// Moves into node `id` of a node list, decompressing it into `scratch` if needed.
    fn enter(&mut self, id: u32) {
        self.node = id;
        self.scratch = None;
        let Src::Nodes(ql) = self.src else {
            return;
        };
        let n = ql.n(id);
        if let Data::Lzf(c) = &n.data {
            let raw = lzf_decompress(c, n.sz);
            self.scratch = Some(if n.plain {
                Data::Plain(raw)
            } else {
                Data::Packed(Listpack::from_trusted(raw))
            });
        }
    }

    fn cur(&self) -> Cur<'_> {
        let data = match (&self.scratch, self.src) {
            (Some(d), _) => d,
            (None, Src::Small(lp)) => return Cur::Lp(lp),
            (None, Src::Nodes(ql)) => &ql.n(self.node).data,
        };
        match data {
            Data::Packed(lp) => Cur::Lp(lp),
            Data::Plain(v) => Cur::Plain(v),
            Data::Lzf(_) => unreachable!("scratch is decompressed"),
        }
    }

    fn cur_lp(&self) -> &Listpack {
        match self.cur() {
            Cur::Lp(lp) => lp,
            Cur::Plain(_) => unreachable!("not a listpack node"),
        }
    }

    /// The next element, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<LpElem<'_>> {
        if self.pending_move {
            self.pending_move = false;
            let nx = match self.src {
                Src::Small(_) => NIL,
                Src::Nodes(ql) => {
                    let n = ql.n(self.node);
                    if self.reverse {
                        n.prev
                    } else {
                        n.next
                    }
                }
            };
            if nx == NIL {
                self.node = NIL;
                self.scratch = None;
            } else {
                self.enter(nx);
                self.pos = match self.cur() {
                    Cur::Lp(lp) => {
                        let p = if self.reverse { lp.last() } else { lp.first() };
                        p.unwrap_or(0)
                    }
                    Cur::Plain(_) => 0,
                };
            }
        }
        if self.node == NIL {
            return None;
        }
        let cur = self.pos;
        let following = match self.cur() {
            Cur::Lp(lp) => {
                if self.reverse {
                    lp.prev(cur)
                } else {
                    lp.next(cur)
                }
            }
            Cur::Plain(_) => None,
        };
        match following {
            Some(p) => self.pos = p,
            None => self.pending_move = true,
        }
        Some(match self.cur() {
            Cur::Lp(lp) => lp.get(cur),
            Cur::Plain(v) => LpElem::Str(v),
        })
    }
}

/// Mutable cursor (Redis's `quicklistIter` + `quicklistEntry`): nodes it visits are
/// decompressed for use and compressed again when it leaves them or is dropped.
pub struct CursorMut<'a> {
    /// The list, in its node form while the cursor lives (it settles back on drop).
    outer: &'a mut Quicklist,
    node: u32,
    /// Index in the node: from the head going forward, negative from the tail in reverse.
    offset: i64,
    /// Position of the current element (`None`: seek `offset` on the next call).
    pos: Option<usize>,
    reverse: bool,
    /// The element last returned: node, position, offset.
    cur: Option<(u32, usize, i64)>,
}

impl CursorMut<'_> {
    fn ql(&self) -> &NodeList {
        match &self.outer.0 {
            Repr::Nodes(nl) => nl,
            Repr::Small { .. } => unreachable!("a cursor works on the node form"),
        }
    }

    fn qm(&mut self) -> &mut NodeList {
        match &mut self.outer.0 {
            Repr::Nodes(nl) => nl,
            Repr::Small { .. } => unreachable!("a cursor works on the node form"),
        }
    }

    /// Advances and returns the next element (`quicklistNext`).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<LpElem<'_>> {
        let (id, p) = loop {
            if self.node == NIL {
                self.cur = None;
                return None;
            }
            let id = self.node;
            let plain = self.ql().n(id).plain;
            if self.pos.is_none() {
                self.qm().decompress_for_use(id);
                self.pos = if plain {
                    Some(0)
                } else {
                    self.ql().n(id).lp().seek(self.offset)
                };
            } else if plain {
                self.pos = None;
            } else if let Some(p) = self.pos {
                let lp = self.ql().n(id).lp();
                self.pos = if self.reverse { lp.prev(p) } else { lp.next(p) };
                self.offset += if self.reverse { -1 } else { 1 };
            }
            if let Some(p) = self.pos {
                break (id, p);
            }
            // This node is done: recompress it and move on.
            self.qm().compress(id);
            let n = self.ql().n(id);
            self.node = if self.reverse { n.prev } else { n.next };
            self.offset = if self.reverse { -1 } else { 0 };
            self.pos = None;
        };
        self.cur = Some((id, p, self.offset));
        Some(self.ql().n(id).elem(p))
    }

    /// Deletes the element last returned by `next` (`quicklistDelEntry`); iteration then
    /// continues with the element after it. False if there is no current element.
    pub fn delete(&mut self) -> bool {
        let Some((id, p, _)) = self.cur.take() else {
            return false;
        };
        let (prev, next) = {
            let n = self.ql().n(id);
            (n.prev, n.next)
        };
        let (gone, _) = self.qm().del_index(id, p);
        self.pos = None;
        if gone {
            if self.reverse {
                self.node = prev;
                self.offset = -1;
            } else {
                self.node = next;
                self.offset = 0;
            }
        }
        true
    }

    fn normalized_offset(&self, id: u32, off: i64) -> usize {
        if off >= 0 {
            off as usize
        } else {
            (self.ql().n(id).count as i64 + off) as usize
        }
    }

    /// Inserts `v` before or after the element last returned by `next` (LINSERT); the
    /// cursor is spent afterwards, as Redis resets its iterator. False without a current
    /// element.
    pub fn insert(mut self, after: bool, v: &[u8]) -> bool {
        let Some((id, p, off)) = self.cur.take() else {
            return false;
        };
        let off = self.normalized_offset(id, off);
        self.node = NIL;
        self.qm().insert_at_entry(id, off, p, after, v);
        true
    }

    /// Replaces the element last returned by `next` (`quicklistReplaceEntry`); the cursor is
    /// spent afterwards. False without a current element.
    pub fn replace(mut self, v: &[u8]) -> bool {
        let Some((id, p, off)) = self.cur.take() else {
            return false;
        };
        let off = self.normalized_offset(id, off);
        self.node = NIL;
        let ql = self.qm();
        let plain = ql.n(id).plain;
        if !plain && !is_large(v.len()) {
            let n = ql.nm(id);
            n.lp_mut().replace(p, v);
            n.update_sz();
            ql.compress(id);
        } else if plain {
            if is_large(v.len()) {
                let n = ql.nm(id);
                n.data = Data::Plain(v.to_vec());
                n.sz = v.len();
                ql.compress(id);
            } else {
                ql.insert_at_entry(id, off, p, true, v);
                ql.del_node(id);
            }
        } else {
            // A listpack element becomes a plain node: insert after, then drop the original.
            ql.nm(id).dont_compress = true;
            ql.insert_at_entry(id, off, p, true, v);
            if ql.n(id).count == 1 {
                ql.del_node(id);
            } else {
                if let Some(q) = ql.n(id).lp().last() {
                    ql.del_index(id, q);
                }
                ql.nm(id).dont_compress = false;
                ql.compress(id);
                let nx = ql.n(id).next;
                if nx != NIL {
                    ql.compress(nx);
                }
            }
        }
        true
    }
}

impl Drop for CursorMut<'_> {
    fn drop(&mut self) {
        if self.node != NIL && self.ql().nodes.contains(self.node as usize) {
            let node = self.node;
            self.qm().compress(node);
        }
        self.outer.settle();
    }
}

/// Iterator over node payloads, head to tail (see [`Quicklist::nodes`]).
pub struct Nodes<'a> {
    src: Src<'a>,
    /// The next node (0 for a small list's listpack), NIL at the end.
    node: u32,
}

impl<'a> Iterator for Nodes<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        if self.node == NIL {
            return None;
        }
        let ql = match self.src {
            Src::Small(lp) => {
                self.node = NIL;
                return Some(NodeRef::Packed(lp));
            }
            Src::Nodes(ql) => ql,
        };
        let n = ql.n(self.node);
        self.node = n.next;
        Some(match &n.data {
            Data::Packed(lp) => NodeRef::Packed(lp),
            Data::Plain(v) => NodeRef::Plain(v),
            Data::Lzf(c) => NodeRef::Compressed {
                plain: n.plain,
                lzf: c,
                raw_len: n.sz,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection (DEBUG LAYOUT, ferrodis-observatory)
// ---------------------------------------------------------------------------------------------

/// One node of a [`QuicklistLayout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLayout {
    /// Position from the head (0 is the head).
    pub index: usize,
    /// Container PLAIN (one element stored as-is) rather than PACKED (a listpack).
    pub plain: bool,
    /// Encoding LZF: the node holds a compressed blob of its bytes.
    pub compressed: bool,
    /// Elements in the node.
    pub count: u32,
    /// Uncompressed bytes (the listpack's size, or the plain element's length).
    pub sz: usize,
    /// Bytes of the LZF blob when compressed.
    pub compressed_sz: Option<usize>,
    /// Decompressed for use and due to be compressed again.
    pub recompress: bool,
    /// The node's listpack (decompressed into a copy when the node is compressed), with at
    /// most as many entries as the caller's budget had left; `None` for plain nodes and once
    /// the budget is spent.
    pub listpack: Option<crate::ds::listpack::ListpackLayout>,
    /// A plain node's first bytes (at most `LAYOUT_PREVIEW`; `None` when it is compressed).
    pub plain_preview: Option<Vec<u8>>,
}

/// A quicklist's options and its first nodes, read-only plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicklistLayout {
    /// Elements in the whole list.
    pub count: usize,
    /// Nodes in the whole list.
    pub node_count: usize,
    /// `list-max-listpack-size` as the list was created with it.
    pub fill: i32,
    /// `list-compress-depth` as the list was created with it.
    pub compress_depth: u32,
    /// The first nodes, head to tail.
    pub nodes: Vec<NodeLayout>,
    /// True when nodes were left out.
    pub truncated: bool,
}

impl Quicklist {
    /// The options and the first `limit` nodes, head to tail, with at most `limit` listpack
    /// entries in all (DEBUG LAYOUT). Costs O(limit) nodes plus the decompression of the
    /// compressed nodes shown (each at most a node's byte cap); the list is not changed, so a
    /// compressed node stays compressed.
    pub fn layout(&self, limit: usize) -> QuicklistLayout {
        let (lp, fill, compress) = match &self.0 {
            Repr::Small { lp, fill, compress } => (lp, fill, compress),
            Repr::Nodes(nl) => return nl.layout(limit),
        };
        let mut out = QuicklistLayout {
            count: lp.len(),
            node_count: self.node_count(),
            fill: *fill as i32,
            compress_depth: *compress as u32,
            nodes: Vec::new(),
            truncated: false,
        };
        if !lp.is_empty() {
            if limit == 0 {
                out.truncated = true;
            } else {
                out.nodes.push(NodeLayout {
                    index: 0,
                    plain: false,
                    compressed: false,
                    count: lp.len() as u32,
                    sz: lp.bytes(),
                    compressed_sz: None,
                    recompress: false,
                    listpack: Some(lp.layout(limit)),
                    plain_preview: None,
                });
            }
        }
        out
    }
}

impl NodeList {
    /// [`Quicklist::layout`] of a node list.
    fn layout(&self, limit: usize) -> QuicklistLayout {
        use crate::ds::listpack::{layout_of, LAYOUT_PREVIEW};
        let mut out = QuicklistLayout {
            count: self.count,
            node_count: self.nodes.len(),
            fill: self.fill,
            compress_depth: self.compress,
            nodes: Vec::new(),
            truncated: false,
        };
        let mut budget = limit;
        let mut id = self.head;
        while id != NIL {
            if out.nodes.len() >= limit {
                out.truncated = true;
                break;
            }
            let n = self.n(id);
            let mut node = NodeLayout {
                index: out.nodes.len(),
                plain: n.plain,
                compressed: n.is_compressed(),
                count: n.count,
                sz: n.sz,
                compressed_sz: None,
                recompress: n.recompress,
                listpack: None,
                plain_preview: None,
            };
            match &n.data {
                Data::Packed(lp) if budget > 0 => node.listpack = Some(lp.layout(budget)),
                Data::Plain(v) => {
                    node.plain_preview = Some(v[..v.len().min(LAYOUT_PREVIEW)].to_vec())
                }
                Data::Lzf(c) => {
                    node.compressed_sz = Some(c.len());
                    if !n.plain && budget > 0 {
                        node.listpack = Some(layout_of(&lzf_decompress(c, n.sz), budget));
                    }
                }
                Data::Packed(_) => {}
            }
            if let Some(lp) = &node.listpack {
                budget -= lp.entries.len();
            }
            out.nodes.push(node);
            id = n.next;
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    thread_local! {
        /// Set while a test drives its reference list: no small form at all, every list a
        /// node list (what the small form must be indistinguishable from).
        pub(super) static NEVER_SMALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Runs `f` with the small form disabled (see [`NEVER_SMALL`]).
    fn never_small<R>(f: impl FnOnce() -> R) -> R {
        NEVER_SMALL.with(|x| x.set(true));
        let r = f();
        NEVER_SMALL.with(|x| x.set(false));
        r
    }

    /// Every node as RDB would see it: (kind, bytes, raw length of a compressed node).
    fn node_bytes(ql: &Quicklist) -> Vec<(u8, Vec<u8>, usize)> {
        ql.nodes()
            .map(|n| match n {
                NodeRef::Packed(lp) => (0, lp.as_bytes().to_vec(), 0),
                NodeRef::Plain(v) => (1, v.to_vec(), 0),
                NodeRef::Compressed {
                    plain,
                    lzf,
                    raw_len,
                } => (2 + plain as u8, lzf.to_vec(), raw_len),
            })
            .collect()
    }

    /// Serialises tests that depend on (or change) the global packed threshold.
    pub(crate) static THRESHOLD_LOCK: Mutex<()> = Mutex::new(());

    fn lock() -> std::sync::MutexGuard<'static, ()> {
        THRESHOLD_LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn layout_shows_nodes_and_compression() {
        let mut ql = Quicklist::new(2, 1);
        for i in 0..8 {
            ql.push_tail(format!("{i}{}", "x".repeat(40)).as_bytes());
        }
        let l = ql.layout(100);
        assert_eq!(
            (l.count, l.node_count, l.fill, l.compress_depth),
            (8, 4, 2, 1)
        );
        let comp: Vec<bool> = l.nodes.iter().map(|n| n.compressed).collect();
        assert_eq!(comp, [false, true, true, false]);
        for n in &l.nodes {
            let lp = n.listpack.as_ref().unwrap();
            assert_eq!(lp.total_bytes as usize, n.sz);
            assert_eq!(lp.entries.len(), 2);
            assert_eq!(n.compressed_sz.is_some(), n.compressed);
        }
        assert!(l.nodes[1].compressed_sz.unwrap() < l.nodes[1].sz);
        assert_eq!(
            l.nodes[2].listpack.as_ref().unwrap().entries[0].value[0],
            b'4'
        );
        // The budget bounds nodes and entries alike.
        let small = ql.layout(3);
        assert!(small.truncated && small.nodes.len() == 3);
        let shown: usize = small
            .nodes
            .iter()
            .filter_map(|n| n.listpack.as_ref())
            .map(|l| l.entries.len())
            .sum();
        assert_eq!(shown, 3);
    }

    fn contents(ql: &Quicklist) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut it = ql.iter();
        while let Some(e) = it.next() {
            v.push(e.to_vec());
        }
        v
    }

    fn contents_rev(ql: &Quicklist) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut it = ql.iter_rev();
        while let Some(e) = it.next() {
            v.push(e.to_vec());
        }
        v.reverse();
        v
    }

    /// The list in its node form (a copy; a small list becomes one node).
    fn node_list(ql: &Quicklist) -> NodeList {
        let mut copy = ql.clone();
        copy.nodes_mut().clone()
    }

    /// Element counts per node, head to tail.
    fn shape(ql: &Quicklist) -> Vec<usize> {
        let ql = &node_list(ql);
        let mut out = Vec::new();
        let mut id = ql.head;
        while id != NIL {
            out.push(ql.n(id).count as usize);
            id = ql.n(id).next;
        }
        out
    }

    /// Structural invariants: links, counts, sizes, compression of the end nodes, and the
    /// small form exactly when there is at most one node and it is a raw listpack.
    fn check(outer: &Quicklist) {
        let ql = &node_list(outer);
        let one_raw = ql.nodes.len() == 1 && matches!(ql.n(ql.head).data, Data::Packed(_));
        assert_eq!(
            outer.is_small(),
            ql.nodes.is_empty() || one_raw,
            "small form iff at most one raw packed node"
        );
        assert_eq!(outer.len(), ql.count);
        assert_eq!(outer.node_count(), ql.nodes.len());
        let mut id = ql.head;
        let mut prev = NIL;
        let mut total = 0;
        let mut pos = 0;
        let len = ql.nodes.len();
        while id != NIL {
            let n = ql.n(id);
            assert_eq!(n.prev, prev, "prev link");
            assert!(n.count > 0, "empty node");
            let (count, sz) = match &n.data {
                Data::Packed(lp) => (lp.len(), lp.bytes()),
                Data::Plain(v) => (1, v.len()),
                Data::Lzf(c) => {
                    let raw = lzf_decompress(c, n.sz);
                    if n.plain {
                        (1, raw.len())
                    } else {
                        let lp = Listpack::from_bytes(raw).expect("valid node");
                        (lp.len(), lp.bytes())
                    }
                }
            };
            assert_eq!(count, n.count as usize, "node count");
            assert_eq!(sz, n.sz, "node sz");
            assert!(!n.dont_compress);
            let d = ql.compress as usize;
            if d > 0 && (pos < d || pos >= len.saturating_sub(d)) {
                assert!(
                    !n.is_compressed(),
                    "node {pos}/{len} within depth {d} is compressed"
                );
            }
            total += count;
            prev = id;
            id = n.next;
            pos += 1;
        }
        assert_eq!(prev, ql.tail, "tail");
        assert_eq!(pos, len, "node count");
        assert_eq!(total, ql.count, "element count");
    }

    fn compressed_nodes(ql: &Quicklist) -> usize {
        ql.nodes()
            .filter(|n| matches!(n, NodeRef::Compressed { .. }))
            .count()
    }

    #[test]
    fn worked_example() {
        let mut ql = Quicklist::new(2, 0);
        for v in [b"a", b"b", b"c"] {
            ql.push_tail(v);
        }
        let nodes: Vec<Vec<u8>> = ql
            .nodes()
            .map(|n| match n {
                NodeRef::Packed(lp) => lp.as_bytes().to_vec(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            nodes,
            vec![
                vec![0x0d, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x81, b'b', 2, 0xff],
                vec![0x0a, 0, 0, 0, 1, 0, 0x81, b'c', 2, 0xff],
            ]
        );
    }

    #[test]
    fn fill_rules() {
        let _g = lock();
        // Count limit.
        let mut ql = Quicklist::new(5, 0);
        for i in 0..23 {
            ql.push_tail(format!("{i}").as_bytes());
        }
        assert_eq!(shape(&ql), vec![5, 5, 5, 5, 3]);
        // Count limit still obeys the 8 KiB safety limit.
        let mut ql = Quicklist::new(1000, 0);
        let big = vec![b'x'; 1000];
        for _ in 0..20 {
            ql.push_tail(&big);
        }
        // Entries take 1004 bytes: 7 + 1004n + 1000 + 8 <= 8192 admits an 8th, not a 9th.
        assert_eq!(shape(&ql)[0], 8);
        // Size limit -1 = 4 KiB.
        let mut ql = Quicklist::new(-1, 0);
        for _ in 0..20 {
            ql.push_head(&big);
        }
        // 7 + 3*1004 + 1000 + 8 = 4027 admits a 4th entry, 7 + 4*1004 + 1008 does not.
        assert_eq!(shape(&ql), vec![4, 4, 4, 4, 4]);
        for n in ql.nodes() {
            let NodeRef::Packed(lp) = n else {
                panic!("raw listpack nodes expected")
            };
            assert!(lp.bytes() <= 4096);
        }
        // Fill 0: one element per node.
        let mut ql = Quicklist::new(0, 0);
        for i in 0..4 {
            ql.push_tail(format!("{i}").as_bytes());
        }
        assert_eq!(shape(&ql), vec![1, 1, 1, 1]);
        // Clamping.
        assert_eq!(Quicklist::new(-100, -3).fill(), -5);
        assert_eq!(Quicklist::new(i32::MAX, 1 << 40).fill(), FILL_MAX);
        assert_eq!(Quicklist::new(1, 1 << 40).compress_depth(), COMPRESS_MAX);
    }

    #[test]
    fn compression_depth() {
        let mut ql = Quicklist::new(4, 1);
        for i in 0..40 {
            ql.push_tail(format!("value-{i:04}-padding-padding-padding").as_bytes());
        }
        check(&ql);
        assert_eq!(ql.node_count(), 10);
        // Head and tail raw, the 8 interior nodes compressed.
        let kinds: Vec<bool> = ql
            .nodes()
            .map(|n| matches!(n, NodeRef::Compressed { .. }))
            .collect();
        assert_eq!(
            kinds,
            [false, true, true, true, true, true, true, true, true, false]
        );
        assert_eq!(contents(&ql), contents_rev(&ql));
        assert_eq!(
            ql.get(17).unwrap(),
            b"value-0017-padding-padding-padding".to_vec()
        );
        // Depth 3 keeps three at each end raw.
        let mut ql2 = Quicklist::new(4, 3);
        for i in 0..40 {
            ql2.push_head(format!("value-{i:04}-padding-padding-padding").as_bytes());
        }
        check(&ql2);
        assert_eq!(compressed_nodes(&ql2), 4);
        // Small nodes are not worth compressing.
        let mut ql3 = Quicklist::new(2, 1);
        for i in 0..10 {
            ql3.push_tail(format!("{i}").as_bytes());
        }
        assert_eq!(compressed_nodes(&ql3), 0);
    }

    #[test]
    fn index_insert_replace_delete() {
        let mut ql = Quicklist::new(3, 1);
        for i in 0..10 {
            ql.push_tail(format!("v{i}").as_bytes());
        }
        assert_eq!(ql.get(0).unwrap(), b"v0");
        assert_eq!(ql.get(-1).unwrap(), b"v9");
        assert_eq!(ql.get(-10).unwrap(), b"v0");
        assert_eq!(ql.get(10), None);
        assert_eq!(ql.get(-11), None);
        assert_eq!(ql.get(i64::MIN), None);
        assert!(ql.insert(4, true, b"after4"));
        assert!(ql.insert(0, false, b"first"));
        assert!(!ql.insert(100, false, b"x"));
        assert!(ql.replace(-1, b"last"));
        assert!(!ql.replace(-100, b"x"));
        check(&ql);
        let want: Vec<&[u8]> = vec![
            b"first", b"v0", b"v1", b"v2", b"v3", b"v4", b"after4", b"v5", b"v6", b"v7", b"v8",
            b"last",
        ];
        assert_eq!(
            contents(&ql),
            want.iter().map(|s| s.to_vec()).collect::<Vec<_>>()
        );
        assert!(ql.del_range(1, 3));
        assert!(ql.del_range(-2, 100));
        assert!(!ql.del_range(50, 1));
        assert!(!ql.del_range(0, 0));
        check(&ql);
        assert_eq!(ql.len(), 7);
        assert_eq!(ql.pop(true).unwrap(), b"first");
        assert_eq!(ql.pop(false).unwrap(), b"v7");
        ql.rotate();
        assert_eq!(ql.get(0).unwrap(), b"v6");
        check(&ql);
        while ql.pop(false).is_some() {}
        assert_eq!(ql.node_count(), 0);
        assert_eq!(ql.pop(true), None);
        check(&ql);
    }

    #[test]
    fn cursor_lrem_both_ways() {
        let mut ql = Quicklist::new(2, 1);
        for i in 0..30 {
            ql.push_tail(if i % 3 == 0 {
                b"x".as_slice()
            } else {
                b"keep-this-one"
            });
        }
        // Remove the last 4 "x" from the tail.
        let mut removed = 0;
        {
            let mut c = ql.cursor(true);
            while let Some(e) = c.next() {
                if e.eq_bytes(b"x") {
                    c.delete();
                    removed += 1;
                    if removed == 4 {
                        break;
                    }
                }
            }
        }
        check(&ql);
        assert_eq!(ql.len(), 26);
        let xs: Vec<usize> = contents(&ql)
            .iter()
            .enumerate()
            .filter(|(_, v)| v.as_slice() == b"x")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(xs.len(), 6);
        // Now remove every "keep-this-one" from the head.
        {
            let mut c = ql.cursor(false);
            while let Some(e) = c.next() {
                if e.eq_bytes(b"keep-this-one") {
                    c.delete();
                }
            }
        }
        check(&ql);
        assert_eq!(contents(&ql), vec![b"x".to_vec(); 6]);
    }

    #[test]
    fn iter_at_both_ways() {
        let mut ql = Quicklist::new(3, 2);
        for i in 0..50 {
            ql.push_tail(format!("element-number-{i}-with-some-padding").as_bytes());
        }
        let all = contents(&ql);
        for start in [-60i64, -50, -49, -1, 0, 1, 17, 49, 50] {
            for rev in [false, true] {
                let mut got = Vec::new();
                let mut it = ql.iter_at(start, rev);
                while let Some(e) = it.next() {
                    got.push(e.to_vec());
                }
                let abs = if start < 0 { 50 + start } else { start };
                let want: Vec<Vec<u8>> = if !(0..50).contains(&abs) {
                    vec![]
                } else if rev {
                    all[..=abs as usize].iter().rev().cloned().collect()
                } else {
                    all[abs as usize..].to_vec()
                };
                assert_eq!(got, want, "start {start} rev {rev}");
            }
        }
    }

    #[test]
    fn worked_example_plain() {
        let _g = lock();
        assert!(set_packed_threshold(4));
        let mut ql = Quicklist::new(2, 0);
        for v in [&b"a"[..], b"large", b"b"] {
            ql.push_tail(v);
        }
        set_packed_threshold(0);
        let nodes: Vec<(bool, Vec<u8>)> = ql
            .nodes()
            .map(|n| match n {
                NodeRef::Packed(lp) => (false, lp.as_bytes().to_vec()),
                NodeRef::Plain(v) => (true, v.to_vec()),
                NodeRef::Compressed { .. } => panic!("no compression at depth 0"),
            })
            .collect();
        assert_eq!(
            nodes,
            vec![
                (false, vec![0x0a, 0, 0, 0, 1, 0, 0x81, b'a', 2, 0xff]),
                (true, b"large".to_vec()),
                (false, vec![0x0a, 0, 0, 0, 1, 0, 0x81, b'b', 2, 0xff]),
            ]
        );
        assert_eq!(ql.uncompressed_size(), 25);
    }

    #[test]
    fn plain_nodes() {
        let _g = lock();
        assert!(set_packed_threshold(10));
        let mut ql = Quicklist::new(-2, 1);
        ql.push_tail(b"small");
        ql.push_tail(b"this one is large");
        ql.push_head(b"another large one");
        ql.push_tail(b"tiny");
        assert!(ql.insert(1, true, b"large insert in the middle"));
        assert!(ql.insert(3, false, b"x"));
        assert!(ql.replace(0, b"s"));
        assert!(ql.replace(3, b"big replacement value"));
        check(&ql);
        let want: Vec<&[u8]> = vec![
            b"s",
            b"small",
            b"large insert in the middle",
            b"big replacement value",
            b"this one is large",
            b"tiny",
        ];
        assert_eq!(
            contents(&ql),
            want.iter().map(|s| s.to_vec()).collect::<Vec<_>>()
        );
        let plain = ql
            .nodes()
            .filter(|n| matches!(n, NodeRef::Plain(_)))
            .count();
        assert_eq!(plain, 3);
        ql.rotate();
        assert_eq!(ql.get(0).unwrap(), b"tiny");
        ql.rotate();
        assert_eq!(ql.get(0).unwrap(), b"this one is large");
        check(&ql);
        assert!(ql.del_range(1, 3));
        check(&ql);
        assert!(!set_packed_threshold(1 << 33));
        assert!(set_packed_threshold(0));
        assert_eq!(packed_threshold(), 1 << 30);
    }

    #[test]
    fn rdb_append_and_nodes() {
        let mut ql = Quicklist::new(-2, 1);
        let mut lp = Listpack::new();
        lp.push_back("a");
        assert!(!ql.append_listpack(Listpack::new()));
        for _ in 0..3 {
            let mut big = Listpack::new();
            for i in 0..20 {
                big.push_back(format!("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa{i}").as_str());
            }
            assert!(ql.append_listpack(big));
        }
        ql.append_plain(b"plain".to_vec());
        check(&ql);
        assert_eq!(ql.len(), 61);
        assert_eq!(ql.node_count(), 4);
        let kinds: Vec<&str> = ql
            .nodes()
            .map(|n| match n {
                NodeRef::Packed(_) => "packed",
                NodeRef::Plain(_) => "plain",
                NodeRef::Compressed { .. } => "lzf",
            })
            .collect();
        assert_eq!(kinds, ["packed", "lzf", "lzf", "plain"]);
        let dup = ql.clone();
        assert_eq!(contents(&dup), contents(&ql));
        assert!(ql.uncompressed_size() > 0);
        assert!(ql.memory_usage() > 0);
    }

    #[test]
    fn small_form_footprint_and_transitions() {
        assert_eq!(std::mem::size_of::<Quicklist>(), 24);
        let mut ql = Quicklist::new(-2, 0);
        assert!(ql.is_small() && ql.node_count() == 0);
        for j in 0..10 {
            ql.push_tail(format!("element:{j}").as_bytes());
        }
        // 6 header bytes + 10 entries of 11 bytes + EOF = 117 bytes, in a 128-byte buffer:
        // the whole list is 24 + 128 bytes.
        assert!(ql.is_small());
        assert_eq!((ql.node_count(), ql.uncompressed_size()), (1, 117));
        assert_eq!(ql.memory_usage(), 24 + 128);
        // Fill 2: the third element needs a second node, and popping it goes back.
        let mut ql = Quicklist::new(2, 1);
        ql.push_tail(b"a");
        ql.push_tail(b"b");
        assert!(ql.is_small());
        ql.push_tail(b"c");
        assert!(!ql.is_small() && ql.node_count() == 2);
        assert_eq!(ql.pop(false), Some(b"c".to_vec()));
        assert!(ql.is_small() && ql.node_count() == 1);
        check(&ql);
        // A large element is a plain node: never the small form, even alone.
        let _g = lock();
        set_packed_threshold(4);
        let mut ql = Quicklist::new(-2, 0);
        ql.push_tail(b"large");
        set_packed_threshold(0);
        assert!(!ql.is_small() && ql.node_count() == 1);
        check(&ql);
        // LREM through a cursor leaves the small form as it found it.
        let mut ql = Quicklist::new(-2, 0);
        for v in [b"x", b"y", b"x"] {
            ql.push_tail(v);
        }
        assert_eq!(lrem(&mut ql, b"x", 0), 2);
        assert!(ql.is_small() && ql.len() == 1);
        check(&ql);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Insert(i64, bool, Vec<u8>),
        Replace(i64, Vec<u8>),
        DelRange(i64, i64),
        Rotate,
        Rem(Vec<u8>, i64),
        Trim(i64, i64),
        /// A read's compression side effects (LRANGE and friends).
        Settle(i64, usize, bool),
        /// COPY: the list is replaced by its duplicate.
        Dup,
        /// DEBUG QUICKLIST key 1: every node decompressed.
        ReprFull,
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (0u8..4).prop_map(|i| format!("v{i}").into_bytes()),
            2 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            2 => (0usize..200).prop_map(|n| b"abcdefgh".iter().cycle().take(n).copied().collect()),
            1 => (500usize..3000).prop_map(|n| vec![b'q'; n]),
            1 => proptest::collection::vec(any::<u8>(), 0..30),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), value()).prop_map(|(h, v)| Op::Push(h, v)),
            2 => any::<bool>().prop_map(Op::Pop),
            3 => (-40i64..40, any::<bool>(), value()).prop_map(|(i, a, v)| Op::Insert(i, a, v)),
            2 => (-40i64..40, value()).prop_map(|(i, v)| Op::Replace(i, v)),
            1 => (-40i64..40, -2i64..8).prop_map(|(s, c)| Op::DelRange(s, c)),
            1 => Just(Op::Rotate),
            1 => ((0u8..4).prop_map(|i| format!("v{i}").into_bytes()), -3i64..4)
                .prop_map(|(v, c)| Op::Rem(v, c)),
            1 => (-30i64..30, -30i64..30).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => (-30i64..30, 0usize..40, any::<bool>()).prop_map(|(i, n, r)| Op::Settle(i, n, r)),
            1 => Just(Op::Dup),
            1 => Just(Op::ReprFull),
        ]
    }

    fn model_abs(len: usize, i: i64) -> Option<usize> {
        let a = if i < 0 { len as i64 + i } else { i };
        (0..len as i64).contains(&a).then_some(a as usize)
    }

    /// With the threshold fixed for a whole run: a plain node holds exactly one element of at
    /// least `threshold` bytes, and every such element is in a plain node.
    fn check_plain(ql: &Quicklist, threshold: usize) {
        let ql = &node_list(ql);
        let mut id = ql.head;
        while id != NIL {
            let n = ql.n(id);
            let raw = match &n.data {
                Data::Lzf(c) => Some(lzf_decompress(c, n.sz)),
                _ => None,
            };
            if n.plain {
                assert_eq!(n.count, 1, "plain node with {} elements", n.count);
                assert!(n.sz >= threshold, "plain node of {} bytes", n.sz);
            } else {
                let lp = match (&n.data, raw) {
                    (Data::Packed(lp), _) => lp.clone(),
                    (_, Some(raw)) => Listpack::from_trusted(raw),
                    _ => unreachable!(),
                };
                for e in lp.iter() {
                    assert!(e.str_len() < threshold, "large element packed");
                }
            }
            id = n.next;
        }
    }

    /// LREM through the cursor, as the list type does it.
    fn lrem(ql: &mut Quicklist, v: &[u8], count: i64) -> u64 {
        let mut removed = 0;
        let mut c = ql.cursor(count < 0);
        while let Some(e) = c.next() {
            if e.eq_bytes(v) {
                c.delete();
                removed += 1;
                if count != 0 && removed == count.unsigned_abs() {
                    break;
                }
            }
        }
        removed
    }

    /// LTRIM's arithmetic (t_list.c) on top of del_range; returns (ltrim, rtrim).
    fn ltrim(ql: &mut Quicklist, start: i64, end: i64) -> (i64, i64) {
        let llen = ql.len() as i64;
        let mut s = if start < 0 { llen + start } else { start };
        let mut e = if end < 0 { llen + end } else { end };
        if s < 0 {
            s = 0;
        }
        let (ltrim, rtrim) = if s > e || s >= llen {
            (llen, 0)
        } else {
            if e >= llen {
                e = llen - 1;
            }
            (s, llen - e - 1)
        };
        ql.del_range(0, ltrim);
        ql.del_range(-rtrim, rtrim);
        (ltrim, rtrim)
    }

    /// `op` on the reference list, which never takes the small form.
    fn apply_reference(ql: &mut Quicklist, op: &Op) {
        never_small(|| match op {
            Op::Push(h, v) => ql.push(v, *h),
            Op::Pop(h) => {
                ql.pop(*h);
            }
            Op::Insert(i, after, v) => {
                ql.insert(*i, *after, v);
            }
            Op::Replace(i, v) => {
                ql.replace(*i, v);
            }
            Op::DelRange(s, c) => {
                ql.del_range(*s, *c);
            }
            Op::Rotate => ql.rotate(),
            Op::Rem(v, count) => {
                lrem(ql, v, *count);
            }
            Op::Settle(i, n, r) => ql.settle_after_read(*i, *n, *r),
            Op::Dup => *ql = ql.dup(),
            Op::ReprFull => {
                ql.repr(true);
            }
            Op::Trim(s, e) => {
                ltrim(ql, *s, *e);
            }
        })
    }

    fn run_model(fill: i32, depth: i64, ops: Vec<Op>) -> Result<(), TestCaseError> {
        run_model_with(fill, depth, ops, None)
    }

    fn run_model_with(
        fill: i32,
        depth: i64,
        ops: Vec<Op>,
        threshold: Option<usize>,
    ) -> Result<(), TestCaseError> {
        let mut ql = Quicklist::new(fill, depth);
        let mut reference = never_small(|| Quicklist::new(fill, depth));
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            apply_reference(&mut reference, &op);
            match op {
                Op::Push(h, v) => {
                    ql.push(&v, h);
                    if h {
                        m.push_front(v)
                    } else {
                        m.push_back(v)
                    }
                }
                Op::Pop(h) => {
                    let got = ql.pop(h);
                    let want = if h { m.pop_front() } else { m.pop_back() };
                    prop_assert_eq!(got, want);
                }
                Op::Insert(i, after, v) => {
                    let ok = ql.insert(i, after, &v);
                    let a = model_abs(m.len(), i);
                    prop_assert_eq!(ok, a.is_some());
                    if let Some(a) = a {
                        m.insert(if after { a + 1 } else { a }, v);
                    }
                }
                Op::Replace(i, v) => {
                    let ok = ql.replace(i, &v);
                    let a = model_abs(m.len(), i);
                    prop_assert_eq!(ok, a.is_some());
                    if let Some(a) = a {
                        m[a] = v;
                    }
                }
                Op::DelRange(s, c) => {
                    let ok = ql.del_range(s, c);
                    let a = model_abs(m.len(), s);
                    prop_assert_eq!(ok, c > 0 && a.is_some());
                    if let (Some(a), true) = (a, c > 0) {
                        let end = (a + c as usize).min(m.len());
                        m.drain(a..end);
                    }
                }
                Op::Rotate => {
                    ql.rotate();
                    if m.len() > 1 {
                        let v = m.pop_back().unwrap();
                        m.push_front(v);
                    }
                }
                Op::Rem(v, count) => {
                    let removed = lrem(&mut ql, &v, count);
                    let mut left = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let mut out: VecDeque<Vec<u8>> = VecDeque::new();
                    if count < 0 {
                        for x in m.iter().rev() {
                            if left > 0 && *x == v {
                                left -= 1
                            } else {
                                out.push_front(x.clone())
                            }
                        }
                    } else {
                        for x in m.iter() {
                            if left > 0 && *x == v {
                                left -= 1
                            } else {
                                out.push_back(x.clone())
                            }
                        }
                    }
                    prop_assert_eq!(m.len() - out.len(), removed as usize);
                    m = out;
                }
                Op::Settle(index, n, reverse) => ql.settle_after_read(index, n, reverse),
                Op::Dup => {
                    let copy = ql.dup();
                    prop_assert_eq!(copy.fill(), ql.fill());
                    prop_assert_eq!(copy.compress_depth(), ql.compress_depth());
                    prop_assert_eq!(copy.node_count(), ql.node_count());
                    ql = copy;
                }
                Op::ReprFull => {
                    let text = ql.repr(true);
                    let head = format!("{{count : {}}}", m.len());
                    prop_assert!(text.starts_with(&head), "{}", text);
                    prop_assert_eq!(compressed_nodes(&ql), 0);
                }
                Op::Trim(start, end) => {
                    let llen = m.len() as i64;
                    let (ltrim, rtrim) = ltrim(&mut ql, start, end);
                    let keep: VecDeque<Vec<u8>> = m
                        .iter()
                        .skip(ltrim as usize)
                        .take((llen - ltrim - rtrim).max(0) as usize)
                        .cloned()
                        .collect();
                    m = keep;
                }
            }
            check(&ql);
            if let Some(t) = threshold {
                check_plain(&ql, t);
            }
            // The small form is invisible: the same nodes, bytes and DEBUG QUICKLIST text as
            // a list that never takes it.
            prop_assert!(!reference.is_small() || reference.is_empty());
            prop_assert_eq!(node_bytes(&ql), node_bytes(&reference));
            let want_repr = never_small(|| reference.repr(false));
            prop_assert_eq!(ql.repr(false), want_repr);
            let want: Vec<Vec<u8>> = m.iter().cloned().collect();
            prop_assert_eq!(ql.len(), want.len());
            prop_assert_eq!(&contents(&ql), &want);
            prop_assert_eq!(&contents_rev(&ql), &want);
        }
        for (i, v) in m.iter().enumerate() {
            let a = ql.get(i as i64);
            let b = ql.get(i as i64 - m.len() as i64);
            prop_assert_eq!(a.as_ref(), Some(v));
            prop_assert_eq!(b.as_ref(), Some(v));
        }
        Ok(())
    }

    fn fill() -> impl Strategy<Value = i32> {
        prop_oneof![-5i32..=-1, 0i32..=5, Just(32), Just(128)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn model(fill in fill(), depth in 0i64..4, ops in proptest::collection::vec(op(), 1..80)) {
            run_model(fill, depth, ops)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(60))]
        #[test]
        fn model_with_plain_nodes(fill in fill(), depth in 0i64..3,
                                  ops in proptest::collection::vec(op(), 1..60)) {
            let _g = lock();
            set_packed_threshold(150);
            let r = run_model_with(fill, depth, ops, Some(150));
            set_packed_threshold(0);
            r?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Small thresholds (1 to 64 bytes) against the model: most values are then plain,
        /// so lists alternate plain and packed nodes, and every insert, LSET and delete
        /// path meets both kinds side by side, compressed or not.
        #[test]
        fn model_with_small_thresholds(fill in fill(), depth in 0i64..3,
                                       threshold in 1usize..64,
                                       ops in proptest::collection::vec(op(), 1..80)) {
            let _g = lock();
            set_packed_threshold(threshold as u64);
            let r = run_model_with(fill, depth, ops, Some(threshold));
            set_packed_threshold(0);
            r?;
        }
    }
}

/// Micro benchmark, run with
/// `cargo test --release --lib quicklist::bench -- --ignored --nocapture`.
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;

    fn report(what: &str, n: usize, t: Instant) {
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        eprintln!("{what:<44} {ns:>9.1} ns/op");
    }

    #[test]
    #[ignore]
    fn bench() {
        const N: usize = 1_000_000;
        for (fill, depth) in [(-2, 0), (-2, 1), (128, 0)] {
            eprintln!("fill {fill} depth {depth}:");
            let vals: Vec<Vec<u8>> = (0..N)
                .map(|i| format!("element:{i}").into_bytes())
                .collect();
            let mut ql = Quicklist::new(fill, depth);
            let t = Instant::now();
            for v in &vals {
                ql.push_tail(v);
            }
            report("  push_tail", N, t);
            let t = Instant::now();
            let mut it = ql.iter();
            let mut bytes = 0;
            while let Some(e) = it.next() {
                bytes += e.str_len();
            }
            report("  iterate", N, t);
            assert!(bytes > 0);
            let t = Instant::now();
            let mut x = 0usize;
            for i in 0..10_000 {
                x += ql.get_with((i * 7919 % N) as i64, |e| e.str_len()).unwrap();
            }
            report("  get random index (LINDEX)", 10_000, t);
            assert!(x > 0);
            let t = Instant::now();
            for i in 0..10_000 {
                ql.insert((i * 7919 % N) as i64, true, b"inserted");
            }
            report("  insert at random index (LINSERT)", 10_000, t);
            let t = Instant::now();
            let mut popped = 0;
            while ql.pop_with(true, |e| e.str_len()).is_some() {
                popped += 1;
            }
            report("  pop_head until empty", popped, t);
            eprintln!("  nodes at peak ~{}", N / 100);
        }
        // Listpack: hash-like field lookups in a 128-pair listpack.
        let mut lp = Listpack::new();
        for i in 0..128 {
            lp.push_back(format!("field:{i}").as_bytes());
            lp.push_back(format!("{i}").as_bytes());
        }
        let fields: Vec<Vec<u8>> = (0..128)
            .map(|i| format!("field:{i}").into_bytes())
            .collect();
        let t = Instant::now();
        let mut hits = 0;
        for i in 0..100_000 {
            hits += lp.find(HDR_SIZE, &fields[i % 128], 1).is_some() as usize;
        }
        report("listpack find in 128 pairs", 100_000, t);
        assert_eq!(hits, 100_000);
        const HDR_SIZE: usize = crate::ds::listpack::HDR_SIZE;
    }
}
