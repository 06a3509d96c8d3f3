//! Fuzz target for the replica's reading of its master's link: arbitrary bytes arrive as what
//! a master sent, from the reply to PING through the handshake replies, `+FULLRESYNC` or
//! `+CONTINUE`, the snapshot (`$<len>` or `$EOF:<mark>`, loaded from memory as with
//! repl-diskless-load swapdb, so no file is written) and then the replication stream, which
//! runs as commands. Byte 0 of the input sets the size of each read (1 to 256 bytes), so reads
//! end anywhere, inside a header or a command too; the rest is what the master sent.
//!
//! What counts as a crash: any panic; and afterwards a database that is not whole (a key in
//! `expires` without a value). Reading stops at the first read the replica refuses (a false
//! from `process_link_input`: the server would drop the link).
#![no_main]

use ferrodis::config::Config;
use ferrodis::replication::replica;
use ferrodis::server::Server;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn base_config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = Config::default();
        c.load_text(b"save \"\"\nrepl-diskless-load swapdb\nproto-max-bulk-len 1mb\n")
            .expect("the fuzz configuration loads");
        c
    })
}

fuzz_target!(|data: &[u8]| {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        ferrodis::server::log::set_level(ferrodis::server::log::Level::Warning);
        ferrodis::server::log::set_file("/dev/null");
        ferrodis::util::clock::init();
    });
    let mut srv = Server::new(base_config().clone());
    let tok = srv.add_detached_client();
    replica::attach_detached_link(&mut srv, tok);
    let Some((&size, data)) = data.split_first() else {
        return;
    };
    for read in data.chunks(size as usize + 1) {
        let Some(Some(mut c)) = srv.clients.get_mut(tok).map(|s| s.take()) else {
            break;
        };
        c.qbuf.extend_from_slice(read);
        let keep = replica::process_link_input(&mut srv, &mut c);
        srv.clients[tok] = Some(c);
        if !keep {
            break;
        }
    }
    for db in &srv.dbs {
        for (k, _) in db.expires.iter() {
            assert!(
                db.dict.peek(k.as_bytes()).is_some(),
                "db {}: key {:?} has an expire but no value",
                db.id,
                String::from_utf8_lossy(k.as_bytes())
            );
        }
    }
});
