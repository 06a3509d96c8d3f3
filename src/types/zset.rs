//! The sorted sets type: its encodings and conversions. Placeholder until the sorted sets issue lands:
//! the enum has no variants, so no value of this type can exist yet.

/// A sorted sets value.
pub enum ZSet {}

impl ZSet {
    /// OBJECT ENCODING's answer.
    pub fn encoding_name(&self) -> &'static str {
        match *self {}
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match *self {}
    }

    /// True when empty (never stored: empty aggregates are deleted).
    pub fn is_empty(&self) -> bool {
        match *self {}
    }

    /// Heap bytes owned (MEMORY USAGE, accounting).
    pub fn heap_size(&self) -> usize {
        match *self {}
    }

    /// A deep copy (COPY).
    pub fn duplicate(&self) -> ZSet {
        match *self {}
    }
}
