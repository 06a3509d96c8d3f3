//! Our own data structures. Invariant: nothing here knows about clients, replies or commands.

pub mod dict;
pub mod intset;
pub mod listpack;
pub mod prefixmap;
pub mod quicklist;
pub mod rax;
pub mod sds;
pub mod siphash;
pub mod skiplist;
