//! `Rax`: a compressed radix tree with the shape of Redis's rax.c, so that the node counts
//! XINFO STREAM reports (`radix-tree-nodes`) are the same as redis-server's for the same
//! sequence of inserts and removals. Streams keep their listpacks in one, keyed by the
//! 128-bit big-endian ID of each listpack's master entry; consumer groups keep their pending
//! entries (PEL) and consumers in others.
//!
//! ```text
//!  Characters label the edges, not the nodes. A node is either
//!
//!  non-compressed: one edge per child, edge bytes sorted     compressed: one child, reached
//!  +--------+------+---+---+---+---+-----+-----+-------+     through all its bytes in a row
//!  | iskey  | size | a | b | c | | | *a  | *b  | value?|     +-------+------+---+---+---+----+-------+
//!  +--------+------+---+---+---+---+-----+-----+-------+     | iskey | size | f | o | o | *c | value?|
//!      size = number of children (0 for a leaf)              +-------+------+---+---+---+----+-------+
//!                                                                size = number of bytes (>= 2)
//!
//!  `iskey` says that the string spelled by the path from the root to the node (not counting
//!  the node's own bytes) is a key; its value sits in the node. Storing "foo" and "foobar":
//!
//!     (root) "foo" -> [key "foo"] "bar" -> [key "foobar"] (leaf)
//!
//!  and adding "footer" splits the second compressed node into a non-compressed one:
//!
//!     (root) "foo" -> [key "foo"] |b| -> "ar" -> [key "foobar"]
//!                                 |t| -> "er" -> [key "footer"]
//! ```
//!
//! Nodes live in an arena (`Vec<Node>` with a free list) and point at each other by index,
//! which lets insert and remove follow rax.c step by step: insertion splits a compressed node
//! where the new key leaves it (rax.c's "ALGO 1" and "ALGO 2") and adds the remaining bytes as
//! one compressed node; removal frees the chain of nodes that only led to the removed key and
//! then merges the chain of single-child non-key nodes around the change into one compressed
//! node, with rax.c's exact conditions (a node is never merged into a key node, for instance),
//! so `node_count` follows redis-server's `numnodes`.
//!
//! Iteration ([`Iter`]) keeps the path from the root as a stack of (node, child slot) and the
//! key spelled so far; seeks (`^ $ = >= > <= <`) walk down once and then step.

/// Index of a node in the arena.
type NodeId = u32;

/// One radix tree node (see the drawing above).
#[derive(Clone)]
struct Node<V> {
    /// Edge bytes: one per child, sorted (non-compressed), or the run leading to the only
    /// child (compressed).
    chars: Vec<u8>,
    /// Children: `chars.len()` of them, or one when compressed.
    children: Vec<NodeId>,
    /// True for a compressed node.
    compr: bool,
    /// The value when this node is a key (`iskey`).
    value: Option<V>,
}

impl<V> Node<V> {
    fn empty() -> Node<V> {
        Node {
            chars: Vec::new(),
            children: Vec::new(),
            compr: false,
            value: None,
        }
    }

    /// rax.c's `size`: bytes of a compressed node, children of the other kind.
    #[inline]
    fn size(&self) -> usize {
        self.chars.len()
    }

    #[inline]
    fn is_key(&self) -> bool {
        self.value.is_some()
    }

    /// Bytes the edge to child `slot` spells.
    #[inline]
    fn edge(&self, slot: usize) -> &[u8] {
        if self.compr {
            &self.chars
        } else {
            &self.chars[slot..slot + 1]
        }
    }

    /// Number of children.
    #[inline]
    fn nchildren(&self) -> usize {
        self.children.len()
    }

    /// The node stops a merge chain: it holds a key or branches (rax.c's
    /// `iskey || (!iscompr && size != 1)`).
    #[inline]
    fn stops_chain(&self) -> bool {
        self.is_key() || (!self.compr && self.size() != 1)
    }
}

/// A compressed radix tree mapping byte strings to `V`, in byte order.
#[derive(Clone)]
pub struct Rax<V> {
    nodes: Vec<Node<V>>,
    free: Vec<NodeId>,
    head: NodeId,
    numele: u64,
    numnodes: u64,
}

impl<V> Default for Rax<V> {
    fn default() -> Self {
        Rax::new()
    }
}

impl<V> std::fmt::Debug for Rax<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rax({} keys, {} nodes)", self.numele, self.numnodes)
    }
}

/// Where a walk stopped (raxLowWalk).
struct Walk {
    /// Bytes of the key consumed.
    i: usize,
    /// The node reached.
    node: NodeId,
    /// Inside a compressed node: how many of its bytes matched.
    split: usize,
    /// Link to `node`: None for the head, else (parent, slot).
    link: Option<(NodeId, usize)>,
}

impl<V> Rax<V> {
    /// An empty tree: one node, the head (rax.c's raxNew).
    pub fn new() -> Rax<V> {
        Rax {
            nodes: vec![Node::empty()],
            free: Vec::new(),
            head: 0,
            numele: 0,
            numnodes: 1,
        }
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> u64 {
        self.numele
    }

    /// True without keys.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.numele == 0
    }

    /// Number of nodes, counted as rax.c counts them (XINFO's radix-tree-nodes).
    #[inline]
    pub fn node_count(&self) -> u64 {
        self.numnodes
    }

    /// Heap bytes of the node arena (not counting the values' own heap).
    pub fn heap_size(&self) -> usize {
        let mut n = self.nodes.capacity() * std::mem::size_of::<Node<V>>()
            + self.free.capacity() * std::mem::size_of::<NodeId>();
        for node in &self.nodes {
            n += node.chars.capacity() + node.children.capacity() * 4;
        }
        n
    }

    fn alloc(&mut self, node: Node<V>) -> NodeId {
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            id
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as NodeId
        }
    }

    fn release(&mut self, id: NodeId) -> Node<V> {
        self.free.push(id);
        std::mem::replace(&mut self.nodes[id as usize], Node::empty())
    }

    #[inline]
    fn n(&self, id: NodeId) -> &Node<V> {
        &self.nodes[id as usize]
    }

    #[inline]
    fn nm(&mut self, id: NodeId) -> &mut Node<V> {
        &mut self.nodes[id as usize]
    }

    fn set_link(&mut self, link: Option<(NodeId, usize)>, to: NodeId) {
        match link {
            None => self.head = to,
            Some((p, slot)) => self.nm(p).children[slot] = to,
        }
    }

    /// Follows `s` from the head as far as it matches (raxLowWalk), recording parents in
    /// `stack` when given.
    fn walk(&self, s: &[u8], mut stack: Option<&mut Vec<NodeId>>) -> Walk {
        let mut h = self.head;
        let mut link = None;
        let mut i = 0;
        let mut j = 0;
        loop {
            let node = self.n(h);
            if node.size() == 0 || i >= s.len() {
                break;
            }
            if node.compr {
                j = 0;
                while j < node.size() && i < s.len() && node.chars[j] == s[i] {
                    j += 1;
                    i += 1;
                }
                if j != node.size() {
                    break;
                }
                j = 0;
            } else {
                match node.chars.iter().position(|&c| c == s[i]) {
                    Some(p) => j = p,
                    None => break,
                }
                i += 1;
            }
            if let Some(st) = stack.as_deref_mut() {
                st.push(h);
            }
            let slot = if node.compr { 0 } else { j };
            link = Some((h, slot));
            h = node.children[slot];
            j = 0;
        }
        Walk {
            i,
            node: h,
            split: j,
            link,
        }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let w = self.walk(key, None);
        let node = self.n(w.node);
        if w.i != key.len() || (node.compr && w.split != 0) {
            return None;
        }
        node.value.as_ref()
    }

    /// The value stored under `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let w = self.walk(key, None);
        let node = self.nm(w.node);
        if w.i != key.len() || (node.compr && w.split != 0) {
            return None;
        }
        node.value.as_mut()
    }

    /// True when `key` is stored.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Stores `value` under `key`, returning the value it replaces (raxInsert).
    pub fn insert(&mut self, s: &[u8], value: V) -> Option<V> {
        let w = self.walk(s, None);
        let (mut i, mut h, j, link) = (w.i, w.node, w.split, w.link);
        let len = s.len();
        if i == len && (!self.n(h).compr || j == 0) {
            let old = self.nm(h).value.replace(value);
            if old.is_none() {
                self.numele += 1;
            }
            return old;
        }
        if self.n(h).compr && i != len {
            // ALGO 1: the key leaves the compressed node at byte j. The node becomes
            // [trimmed "chars[..j]"] -> [split |chars[j]|] -> [postfix "chars[j+1..]"] -> next,
            // and the split node gets the key's byte below.
            let old = self.release(h);
            let next = old.children[0];
            let postfix_len = old.size() - j - 1;
            let (split_value, trimmed_value) = if j == 0 {
                (old.value, None)
            } else {
                (None, old.value)
            };
            let postfix = if postfix_len > 0 {
                self.numnodes += 1;
                self.alloc(Node {
                    chars: old.chars[j + 1..].to_vec(),
                    children: vec![next],
                    compr: postfix_len > 1,
                    value: None,
                })
            } else {
                next
            };
            let split = self.alloc(Node {
                chars: vec![old.chars[j]],
                children: vec![postfix],
                compr: false,
                value: split_value,
            });
            if j == 0 {
                self.set_link(link, split);
            } else {
                let trimmed = self.alloc(Node {
                    chars: old.chars[..j].to_vec(),
                    children: vec![split],
                    compr: j > 1,
                    value: trimmed_value,
                });
                self.set_link(link, trimmed);
                self.numnodes += 1;
            }
            h = split;
        } else if self.n(h).compr && i == len {
            // ALGO 2: the key ends inside the compressed node: split it in two there, the
            // second half being the new key's node.
            let old = self.release(h);
            let next = old.children[0];
            let postfix = self.alloc(Node {
                chars: old.chars[j..].to_vec(),
                children: vec![next],
                compr: old.size() - j > 1,
                value: Some(value),
            });
            self.numnodes += 1;
            let trimmed = self.alloc(Node {
                chars: old.chars[..j].to_vec(),
                children: vec![postfix],
                compr: j > 1,
                value: old.value,
            });
            self.set_link(link, trimmed);
            self.numele += 1;
            return None;
        }
        // Add the missing bytes: a compressed node for a run, one child for a single byte.
        while i < len {
            let child = self.alloc(Node::empty());
            let node = self.nm(h);
            if node.size() == 0 && len - i > 1 {
                node.chars = s[i..].to_vec();
                node.children = vec![child];
                node.compr = true;
                i = len;
            } else {
                let c = s[i];
                let pos = node
                    .chars
                    .iter()
                    .position(|&x| x > c)
                    .unwrap_or(node.size());
                node.chars.insert(pos, c);
                node.children.insert(pos, child);
                i += 1;
            }
            self.numnodes += 1;
            h = child;
        }
        let old = self.nm(h).value.replace(value);
        if old.is_none() {
            self.numele += 1;
        }
        old
    }

    /// Removes `key`, returning its value (raxRemove, with its node recompression).
    pub fn remove(&mut self, s: &[u8]) -> Option<V> {
        let mut stack = Vec::new();
        let w = self.walk(s, Some(&mut stack));
        let mut h = w.node;
        {
            let node = self.n(h);
            if w.i != s.len() || (node.compr && w.split != 0) || !node.is_key() {
                return None;
            }
        }
        let old = self.nm(h).value.take();
        self.numele -= 1;
        let mut trycompress = false;
        if self.n(h).size() == 0 {
            // Free the nodes that only led here, up to a key or a branching node.
            let mut child = None;
            while h != self.head {
                child = Some(h);
                self.release(h);
                self.numnodes -= 1;
                h = stack.pop().expect("a non-head node has a parent");
                if self.n(h).stops_chain() {
                    break;
                }
            }
            if let Some(child) = child {
                let node = self.nm(h);
                if node.compr {
                    node.chars.clear();
                    node.children.clear();
                    node.compr = false;
                } else {
                    let slot = node
                        .children
                        .iter()
                        .position(|&c| c == child)
                        .expect("child is linked from its parent");
                    node.chars.remove(slot);
                    node.children.remove(slot);
                }
                let node = self.n(h);
                if node.size() == 1 && !node.is_key() {
                    trycompress = true;
                }
            }
        } else if self.n(h).size() == 1 {
            trycompress = true;
        }
        if trycompress {
            // Go up to the first node of the compressible chain.
            let mut parent;
            loop {
                parent = stack.pop();
                match parent {
                    Some(p) if !self.n(p).stops_chain() => h = p,
                    _ => break,
                }
            }
            let start = h;
            let mut nodes = 1;
            let mut cur = h;
            while self.n(cur).size() != 0 {
                let node = self.n(cur);
                cur = node.children[node.nchildren() - 1];
                if self.n(cur).stops_chain() {
                    break;
                }
                nodes += 1;
            }
            if nodes > 1 {
                let mut chars = Vec::new();
                let mut cur = start;
                loop {
                    if self.n(cur).size() == 0 {
                        break;
                    }
                    let node = self.release(cur);
                    self.numnodes -= 1;
                    chars.extend_from_slice(&node.chars);
                    cur = node.children[node.children.len() - 1];
                    if self.n(cur).stops_chain() {
                        break;
                    }
                }
                let new = self.alloc(Node {
                    chars,
                    children: vec![cur],
                    compr: true,
                    value: None,
                });
                self.numnodes += 1;
                match parent {
                    Some(p) => {
                        let slot = self
                            .n(p)
                            .children
                            .iter()
                            .position(|&c| c == start)
                            .expect("start is linked from its parent");
                        self.nm(p).children[slot] = new;
                    }
                    None => self.head = new,
                }
            }
        }
        old
    }

    /// An iterator, not positioned: call [`Iter::seek`] first.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            rax: self,
            stack: Vec::new(),
            node: self.head,
            key: Vec::new(),
            state: State::Eof,
        }
    }

    /// The first key and its value.
    pub fn first(&self) -> Option<(Vec<u8>, &V)> {
        let mut it = self.iter();
        it.seek(Seek::First, b"");
        it.next().map(|(k, v)| (k.to_vec(), v))
    }

    /// The last key and its value.
    pub fn last(&self) -> Option<(Vec<u8>, &V)> {
        let mut it = self.iter();
        it.seek(Seek::Last, b"");
        it.next().map(|(k, v)| (k.to_vec(), v))
    }

    /// The last key and its value, mutably.
    pub fn last_mut(&mut self) -> Option<(Vec<u8>, &mut V)> {
        let k = self.last()?.0;
        let v = self.get_mut(&k)?;
        Some((k, v))
    }

    /// Calls `f` on every key and value, in order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &V)) {
        let mut it = self.iter();
        it.seek(Seek::First, b"");
        while let Some((k, v)) = it.next() {
            f(k, v);
        }
    }
}

/// Where [`Iter::seek`] positions the iterator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// `^`: the first key.
    First,
    /// `$`: the last key.
    Last,
    /// `=`: the key itself.
    Eq,
    /// `>=`.
    Ge,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `<`.
    Lt,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing (more) to return.
    Eof,
    /// Positioned by a seek; the next `next` or `prev` returns this element.
    Seeked,
    /// Positioned on an element already returned.
    Returned,
}

/// An ordered cursor over a [`Rax`] (raxIterator). After a seek, the first `next()` or
/// `prev()` returns the element found; later calls step forward or backward.
pub struct Iter<'a, V> {
    rax: &'a Rax<V>,
    /// The path: (node, slot of the child taken).
    stack: Vec<(NodeId, usize)>,
    node: NodeId,
    key: Vec<u8>,
    state: State,
}

impl<'a, V> Iter<'a, V> {
    #[inline]
    fn n(&self, id: NodeId) -> &'a Node<V> {
        &self.rax.nodes[id as usize]
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.key.clear();
        self.node = self.rax.head;
    }

    /// Moves down to child `slot` of the current node.
    fn push(&mut self, slot: usize) {
        let node = self.n(self.node);
        self.key.extend_from_slice(node.edge(slot));
        self.stack.push((self.node, slot));
        self.node = node.children[slot];
    }

    /// Moves up to the parent; returns the slot we came from.
    fn pop(&mut self) -> Option<usize> {
        let (p, slot) = self.stack.pop()?;
        let l = self.n(p).edge(slot).len();
        self.key.truncate(self.key.len() - l);
        self.node = p;
        Some(slot)
    }

    /// From the current node, the first key of its subtree (itself if it is a key).
    fn descend_first(&mut self) -> bool {
        loop {
            let node = self.n(self.node);
            if node.is_key() {
                return true;
            }
            if node.nchildren() == 0 {
                return false;
            }
            self.push(0);
        }
    }

    /// From the current node, the last key of its subtree.
    fn descend_last(&mut self) -> bool {
        loop {
            let node = self.n(self.node);
            if node.nchildren() == 0 {
                return node.is_key();
            }
            self.push(node.nchildren() - 1);
        }
    }

    /// The first key after the whole subtree of the current node.
    fn up_next(&mut self) -> bool {
        while let Some(slot) = self.pop() {
            let node = self.n(self.node);
            if !node.compr && slot + 1 < node.nchildren() {
                self.push(slot + 1);
                return self.descend_first();
            }
        }
        false
    }

    /// The last key before the current node (its ancestors and their earlier children).
    fn up_prev(&mut self) -> bool {
        while let Some(slot) = self.pop() {
            let node = self.n(self.node);
            if !node.compr && slot > 0 {
                self.push(slot - 1);
                return self.descend_last();
            }
            if node.is_key() {
                return true;
            }
        }
        false
    }

    /// Positions on the smallest key >= `k`.
    fn seek_ge(&mut self, k: &[u8]) -> bool {
        self.reset();
        let mut pos = 0;
        loop {
            let node = self.n(self.node);
            if pos == k.len() {
                return self.descend_first();
            }
            if node.size() == 0 {
                return self.up_next();
            }
            let rem = &k[pos..];
            if node.compr {
                let m = node
                    .chars
                    .iter()
                    .zip(rem)
                    .take_while(|(a, b)| a == b)
                    .count();
                if m == node.size() {
                    self.push(0);
                    pos += m;
                    continue;
                }
                if m == rem.len() || node.chars[m] > rem[m] {
                    self.push(0);
                    return self.descend_first();
                }
                return self.up_next();
            }
            let c = rem[0];
            match node.chars.iter().position(|&x| x >= c) {
                Some(idx) if node.chars[idx] == c => {
                    self.push(idx);
                    pos += 1;
                }
                Some(idx) => {
                    self.push(idx);
                    return self.descend_first();
                }
                None => return self.up_next(),
            }
        }
    }

    /// Positions on the largest key <= `k`.
    fn seek_le(&mut self, k: &[u8]) -> bool {
        self.reset();
        let mut pos = 0;
        loop {
            let node = self.n(self.node);
            if pos == k.len() || node.size() == 0 {
                return node.is_key() || self.up_prev();
            }
            let rem = &k[pos..];
            if node.compr {
                let m = node
                    .chars
                    .iter()
                    .zip(rem)
                    .take_while(|(a, b)| a == b)
                    .count();
                if m == node.size() {
                    self.push(0);
                    pos += m;
                    continue;
                }
                if m < rem.len() && node.chars[m] < rem[m] {
                    self.push(0);
                    return self.descend_last();
                }
                return node.is_key() || self.up_prev();
            }
            let c = rem[0];
            match node.chars.iter().rposition(|&x| x <= c) {
                Some(idx) if node.chars[idx] == c => {
                    self.push(idx);
                    pos += 1;
                }
                Some(idx) => {
                    self.push(idx);
                    return self.descend_last();
                }
                None => return node.is_key() || self.up_prev(),
            }
        }
    }

    /// Positions the iterator (raxSeek). `k` is ignored for `First` and `Last`.
    pub fn seek(&mut self, op: Seek, k: &[u8]) {
        let found = match op {
            Seek::First => {
                self.reset();
                self.descend_first()
            }
            Seek::Last => {
                self.reset();
                self.descend_last()
            }
            Seek::Ge => self.seek_ge(k),
            Seek::Le => self.seek_le(k),
            Seek::Eq => self.seek_ge(k) && self.key == k,
            Seek::Gt => self.seek_ge(k) && (self.key != k || self.step_next()),
            Seek::Lt => self.seek_le(k) && (self.key != k || self.up_prev()),
        };
        self.state = if found { State::Seeked } else { State::Eof };
    }

    /// One step forward from the current key.
    fn step_next(&mut self) -> bool {
        if self.n(self.node).nchildren() > 0 {
            self.push(0);
            self.descend_first()
        } else {
            self.up_next()
        }
    }

    /// The next element in key order (raxNext).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<(&[u8], &'a V)> {
        match self.state {
            State::Eof => return None,
            State::Seeked => self.state = State::Returned,
            State::Returned => {
                if !self.step_next() {
                    self.state = State::Eof;
                    return None;
                }
            }
        }
        let v = self.n(self.node).value.as_ref()?;
        Some((&self.key, v))
    }

    /// The previous element in key order (raxPrev).
    pub fn prev(&mut self) -> Option<(&[u8], &'a V)> {
        match self.state {
            State::Eof => return None,
            State::Seeked => self.state = State::Returned,
            State::Returned => {
                if !self.up_prev() {
                    self.state = State::Eof;
                    return None;
                }
            }
        }
        let v = self.n(self.node).value.as_ref()?;
        Some((&self.key, v))
    }

    /// True once the iterator has nothing more to return (raxEOF).
    pub fn eof(&self) -> bool {
        self.state == State::Eof
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn keys(r: &Rax<u32>) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        r.for_each(|k, _| v.push(k.to_vec()));
        v
    }

    #[test]
    fn insert_find_remove() {
        let mut r = Rax::new();
        assert_eq!(r.node_count(), 1);
        assert_eq!(r.insert(b"foo", 1), None);
        assert_eq!(r.node_count(), 2);
        assert_eq!(r.insert(b"foobar", 2), None);
        assert_eq!(r.node_count(), 3);
        assert_eq!(r.insert(b"footer", 3), None);
        // "foo" -> [foo] |b,t| -> "ar" -> [] ; "er" -> []: 6 nodes as in the header drawing.
        assert_eq!(r.node_count(), 6);
        assert_eq!(r.get(b"foo"), Some(&1));
        assert_eq!(r.get(b"fo"), None);
        assert_eq!(r.get(b"foob"), None);
        assert_eq!(r.insert(b"foo", 7), Some(1));
        assert_eq!(r.len(), 3);
        assert_eq!(
            keys(&r),
            vec![b"foo".to_vec(), b"foobar".to_vec(), b"footer".to_vec()]
        );
        assert_eq!(r.remove(b"footer"), Some(3));
        assert_eq!(r.remove(b"footer"), None);
        assert_eq!(r.remove(b"foo"), Some(7));
        // Back to one compressed run: head "foobar" -> [].
        assert_eq!(r.node_count(), 2);
        assert_eq!(r.remove(b"foobar"), Some(2));
        assert_eq!(r.node_count(), 1);
        assert!(r.is_empty());
        assert_eq!(r.insert(b"", 9), None);
        assert_eq!(r.get(b""), Some(&9));
        assert_eq!(r.remove(b""), Some(9));
    }

    #[test]
    fn rax_c_node_counts() {
        // The shapes from rax.c's comments: "ANNIBALE" then each insertion case.
        for (second, nodes) in [
            (&b"ANNIENTARE"[..], 6), // "ANNI" |B,E| "ALE" [] ; "NTARE" []
            (b"ANNIBALI", 4),        // "ANNIBAL" |E,I| [] ; []
            (b"AGO", 6),             // |A| |N,G| "NIBALE" [] ; |O| []
            (b"CIAO", 5),            // |A,C| "NNIBALE" [] ; "IAO" []
            (b"ANNI", 3),            // "ANNI" "BALE" []
        ] {
            let mut r = Rax::new();
            r.insert(b"ANNIBALE", 1);
            r.insert(second, 2);
            assert_eq!(r.node_count(), nodes, "{:?}", std::str::from_utf8(second));
            r.remove(second);
            // rax.c only recompresses around a node of size 1: removing "ANNI" leaves the
            // key-less "ANNI" -> "BALE" -> [] chain as it is.
            let after = if second == b"ANNI" { 3 } else { 2 };
            assert_eq!(r.node_count(), after, "{:?}", std::str::from_utf8(second));
            assert_eq!(r.get(b"ANNIBALE"), Some(&1));
        }
    }

    #[test]
    fn seeks() {
        let mut r = Rax::new();
        for k in [&b"b"[..], b"ba", b"bc", b"d", b"dd"] {
            r.insert(k, 0);
        }
        let at = |op, k: &[u8]| {
            let mut it = r.iter();
            it.seek(op, k);
            it.next().map(|(k, _)| k.to_vec())
        };
        assert_eq!(at(Seek::Ge, b"bb"), Some(b"bc".to_vec()));
        assert_eq!(at(Seek::Gt, b"bc"), Some(b"d".to_vec()));
        assert_eq!(at(Seek::Le, b"bb"), Some(b"ba".to_vec()));
        assert_eq!(at(Seek::Lt, b"ba"), Some(b"b".to_vec()));
        assert_eq!(at(Seek::Lt, b"b"), None);
        assert_eq!(at(Seek::Le, b"z"), Some(b"dd".to_vec()));
        assert_eq!(at(Seek::Ge, b"e"), None);
        assert_eq!(at(Seek::Eq, b"d"), Some(b"d".to_vec()));
        assert_eq!(at(Seek::Eq, b"c"), None);
        assert_eq!(at(Seek::First, b""), Some(b"b".to_vec()));
        assert_eq!(at(Seek::Last, b""), Some(b"dd".to_vec()));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, u32),
        Remove(Vec<u8>),
        Seek(u8, Vec<u8>, bool, u8),
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        // A small alphabet and short keys make shared prefixes, splits and merges common.
        prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, b'a', 255]), 0..6)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => key().prop_map(Op::Remove),
            2 => (0u8..7, key(), any::<bool>(), 0u8..5).prop_map(|(o, k, f, n)| Op::Seek(o, k, f, n)),
        ]
    }

    /// The elements a seek then `steps` moves in one direction visit, from the model.
    fn model_seek(
        m: &BTreeMap<Vec<u8>, u32>,
        op: Seek,
        k: &[u8],
        forward: bool,
        steps: usize,
    ) -> Vec<Vec<u8>> {
        use std::ops::Bound::*;
        let start: Option<&Vec<u8>> = match op {
            Seek::First => m.keys().next(),
            Seek::Last => m.keys().next_back(),
            Seek::Eq => m.get_key_value(k).map(|(k, _)| k),
            Seek::Ge => m
                .range::<[u8], _>((Included(k), Unbounded))
                .next()
                .map(|x| x.0),
            Seek::Gt => m
                .range::<[u8], _>((Excluded(k), Unbounded))
                .next()
                .map(|x| x.0),
            Seek::Le => m
                .range::<[u8], _>((Unbounded, Included(k)))
                .next_back()
                .map(|x| x.0),
            Seek::Lt => m
                .range::<[u8], _>((Unbounded, Excluded(k)))
                .next_back()
                .map(|x| x.0),
        };
        let Some(s) = start else { return vec![] };
        let it: Box<dyn Iterator<Item = &Vec<u8>>> = if forward {
            Box::new(
                m.range::<[u8], _>((Included(&s[..]), Unbounded))
                    .map(|x| x.0),
            )
        } else {
            Box::new(
                m.range::<[u8], _>((Unbounded, Included(&s[..])))
                    .rev()
                    .map(|x| x.0),
            )
        };
        it.take(steps + 1).cloned().collect()
    }

    /// Counts reachable nodes, to check `numnodes` bookkeeping.
    fn reachable(r: &Rax<u32>) -> u64 {
        let mut n = 0;
        let mut todo = vec![r.head];
        while let Some(id) = todo.pop() {
            n += 1;
            let node = r.n(id);
            assert!(
                node.size() > 0 || node.is_key() || id == r.head,
                "dangling non-key leaf"
            );
            if node.compr {
                assert_eq!(node.children.len(), 1);
            } else {
                assert_eq!(node.children.len(), node.chars.len());
                assert!(node.chars.windows(2).all(|w| w[0] < w[1]));
            }
            todo.extend(node.children.iter().copied());
        }
        n
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn model(ops in prop::collection::vec(op(), 1..120)) {
            let mut r = Rax::new();
            let mut m: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
            let seeks = [Seek::First, Seek::Last, Seek::Eq, Seek::Ge, Seek::Gt, Seek::Le, Seek::Lt];
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(r.insert(&k, v), m.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(r.remove(&k), m.remove(&k)),
                    Op::Seek(o, k, fwd, n) => {
                        let op = seeks[o as usize];
                        let want = model_seek(&m, op, &k, fwd, n as usize);
                        let mut it = r.iter();
                        it.seek(op, &k);
                        let mut got = Vec::new();
                        for _ in 0..=n {
                            let e = if fwd { it.next() } else { it.prev() };
                            match e {
                                Some((k, _)) => got.push(k.to_vec()),
                                None => break,
                            }
                        }
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(r.len(), m.len() as u64);
                prop_assert_eq!(reachable(&r), r.node_count());
                for (k, v) in &m {
                    prop_assert_eq!(r.get(k), Some(v));
                }
            }
            prop_assert_eq!(keys(&r), m.keys().cloned().collect::<Vec<_>>());
        }
    }
}
