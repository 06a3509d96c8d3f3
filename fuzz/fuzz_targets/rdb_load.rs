//! Fuzz target for the RDB loader: arbitrary bytes as a whole RDB file, as a DUMP payload
//! body, and as the old compact blobs (ziplist, zipmap) must be refused with an error or
//! loaded, never panic or read out of bounds. Whatever loads must survive a save/load round
//! trip with the same DEBUG DIGEST.
//!
//! Input layout: byte 0 selects the entry point (file, payload, ziplist, zipmap); the rest is
//! the data. File inputs get a valid "REDIS0010" header prepended when byte 0 is odd, so the
//! fuzzer spends its time past the signature check; checksums are not verified (the fuzzer
//! could not forge them), which exercises the parsers on everything.
#![no_main]

use ferrodis::config::Config;
use ferrodis::db::Db;
use ferrodis::persistence::{digest, rdb};
use libfuzzer_sys::fuzz_target;

fn dbs() -> Vec<Db> {
    (0..16).map(Db::new).collect()
}

fn load(data: &[u8], cfg: &Config) -> Option<Vec<Db>> {
    let mut d = dbs();
    let opts = rdb::LoadOptions {
        config: cfg,
        now_ms: 0,
        drop_expired: false,
        allow_dup: false,
        verify_checksum: false,
        lru_clock: 0,
    };
    rdb::load_rdb(data, &mut d, &opts, &mut |_, _| {}).ok()?;
    Some(d)
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let cfg = Config::default();
    match mode % 8 {
        0 | 1 => {
            let file = if mode & 1 == 1 {
                [b"REDIS0010".as_slice(), data].concat()
            } else {
                data.to_vec()
            };
            if let Some(loaded) = load(&file, &cfg) {
                let want = digest::dataset_digest(&loaded);
                let opts = rdb::SaveOptions {
                    compress: true,
                    checksum: true,
                    eviction: rdb::EvictionMeta::None,
                    ctime: 0,
                    used_mem: 0,
                    key_save_delay: 0,
                    aof_base: false,
                    repl: None,
                };
                let mut out = Vec::new();
                rdb::save_rdb(&loaded, &opts, &mut out).unwrap();
                let again = load(&out, &cfg).expect("our own dump loads");
                assert_eq!(digest::dataset_digest(&again), want);
            }
        }
        2 | 3 => {
            // A DUMP payload: the footer is appended so only the body is fuzzed.
            let mut p = data.to_vec();
            p.extend_from_slice(&rdb::RDB_VERSION.to_le_bytes());
            let crc = rdb::crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            assert!(rdb::verify_dump_payload(&p, false).is_some());
            // Selector 2: sanitize-dump-payload no (shallow); 3: yes (deep).
            let deep = mode % 8 == 3;
            let mut n = 0;
            if let Ok(v) = rdb::load_dump_payload(&p, &cfg, deep, &mut n) {
                let o = ferrodis::types::object::RObj::new(v, 0);
                let again = rdb::create_dump_payload(&o, true);
                let v2 = rdb::load_dump_payload(&again, &cfg, deep, &mut n)
                    .expect("our own payload loads");
                let o2 = ferrodis::types::object::RObj::new(v2, 0);
                assert_eq!(
                    digest::object_digest(&o, false),
                    digest::object_digest(&o2, false)
                );
            }
        }
        4 | 5 => {
            let _ = rdb::ziplist_walk(data, |_| true);
        }
        _ => {
            let _ = rdb::zipmap_walk(data, |_, _| true);
        }
    }
});
