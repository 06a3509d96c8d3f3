//! The wire: requests in (RESP multibulk and inline), replies out (RESP2 and RESP3).

pub mod parser;
pub mod reply;
