//! The object model: one file per type, each owning its encodings and conversions.

pub mod object;
