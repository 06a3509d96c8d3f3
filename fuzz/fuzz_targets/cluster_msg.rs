//! Fuzz target for the cluster bus message parser and nodes.conf loading: arbitrary bytes
//! are decoded as a bus message (`cluster::msg::decode`, after the 8-byte frame check a
//! link makes), and the same bytes are parsed as a nodes.conf (`nodes_conf::parse`).
//!
//! What counts as a crash: a panic, or a message that decodes but, encoded again, does not
//! decode to a message of the same type, sender and gossip count.
#![no_main]

use ferrodis::cluster::msg;
use ferrodis::cluster::{nodes_conf, Cluster};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if msg::frame_len(data).is_ok() {
        if let Ok(m) = msg::decode(data) {
            let again = msg::decode(&msg::encode(&m)).expect("re-encoded message decodes");
            assert_eq!(again.hdr.kind, m.hdr.kind);
            assert_eq!(again.hdr.sender, m.hdr.sender);
            if let (msg::Body::Ping { gossip: a, .. }, msg::Body::Ping { gossip: b, .. }) =
                (&again.body, &m.body)
            {
                assert_eq!(a.len(), b.len());
            }
        }
    }
    let mut cl = Cluster::new("nodes.conf".into(), 0);
    let _ = nodes_conf::parse(&mut cl, data, 0);
});
