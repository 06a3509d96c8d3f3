//! Differential tests of the geo commands against the oracle redis-server: thousands of
//! random points (a seeded generator, so every run is the same) searched every way the
//! commands allow, compared digit for digit (distances, coordinates, hashes, order); points
//! at the poles' limits and the antimeridian; every error in Redis's checking order; the
//! stored results of STORE/STOREDIST/GEOSEARCHSTORE; and what the AOF receives.

mod common;

use common::*;

/// A small deterministic generator (64-bit LCG, top bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() as f64 / (1u64 << 53) as f64) * (hi - lo)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const LAT_MAX: f64 = 85.05112878;

/// Adds `n` random points named `{prefix}{i}` to `key` (some clustered around a few centers,
/// some anywhere), in batches; returns the names.
fn add_points(d: &mut Diff, rng: &mut Rng, key: &str, prefix: &str, n: usize) -> Vec<String> {
    let centers = [
        (13.36, 38.11),
        (-122.4, 37.77),
        (179.9, -16.5),
        (0.0, 0.0),
        (2.35, 48.85),
    ];
    let mut names = Vec::new();
    let mut args: Vec<String> = vec!["GEOADD".into(), key.into()];
    for i in 0..n {
        let (lon, lat) = if i % 3 == 0 {
            (rng.range(-180.0, 180.0), rng.range(-LAT_MAX, LAT_MAX))
        } else {
            let (cx, cy) = centers[rng.below(centers.len() as u64) as usize];
            let lon: f64 = (cx + rng.range(-2.0, 2.0)).clamp(-180.0, 180.0);
            let lat: f64 = (cy + rng.range(-2.0, 2.0)).clamp(-LAT_MAX, LAT_MAX);
            (lon, lat)
        };
        let name = format!("{prefix}{i}");
        args.push(format!("{lon:.7}"));
        args.push(format!("{lat:.7}"));
        args.push(name.clone());
        names.push(name);
        if args.len() > 3 * 200 {
            d.cmd(&args);
            args.truncate(2);
        }
    }
    if args.len() > 2 {
        d.cmd(&args);
    }
    names
}

/// Random searches of every form on `key`, compared byte for byte.
fn random_searches(d: &mut Diff, rng: &mut Rng, key: &str, names: &[String], rounds: usize) {
    let units = ["m", "km", "ft", "mi", "KM"];
    let centers = [
        (13.36, 38.11),
        (-122.4, 37.77),
        (179.9, -16.5),
        (0.0, 0.0),
        (2.35, 48.85),
    ];
    for _ in 0..rounds {
        let (lon, lat) = if rng.below(2) == 0 {
            let (cx, cy) = centers[rng.below(centers.len() as u64) as usize];
            (cx + rng.range(-1.0, 1.0), cy + rng.range(-1.0, 1.0))
        } else {
            (rng.range(-180.0, 180.0), rng.range(-LAT_MAX, LAT_MAX))
        };
        let (lon, lat) = (lon.clamp(-180.0, 180.0), lat.clamp(-LAT_MAX, LAT_MAX));
        let unit = rng.pick(&units);
        let scale = match unit {
            "m" => 1000.0,
            "ft" => 3280.0,
            "mi" => 0.62,
            _ => 1.0,
        };
        let radius = format!("{:.3}", rng.range(0.0, 400.0) * scale);
        let member = &names[rng.below(names.len() as u64) as usize];
        let mut opts: Vec<String> = Vec::new();
        for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if rng.below(2) == 0 {
                opts.push(o.into());
            }
        }
        match rng.below(4) {
            0 => opts.push("ASC".into()),
            1 => opts.push("DESC".into()),
            _ => {}
        }
        if rng.below(3) == 0 {
            opts.push("COUNT".into());
            opts.push((1 + rng.below(20)).to_string());
            if rng.below(3) == 0 {
                opts.push("ANY".into());
            }
        }
        let lon_s = format!("{lon:.6}");
        let lat_s = format!("{lat:.6}");
        let mut cmds: Vec<Vec<String>> = Vec::new();
        let base = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        cmds.push(base(&["GEORADIUS", key, &lon_s, &lat_s, &radius, unit]));
        cmds.push(base(&["GEORADIUS_RO", key, &lon_s, &lat_s, &radius, unit]));
        cmds.push(base(&["GEORADIUSBYMEMBER", key, member, &radius, unit]));
        cmds.push(base(&["GEORADIUSBYMEMBER_RO", key, member, &radius, unit]));
        let w = format!("{:.3}", rng.range(0.0, 800.0) * scale);
        let h = format!("{:.3}", rng.range(0.0, 800.0) * scale);
        cmds.push(base(&[
            "GEOSEARCH",
            key,
            "FROMLONLAT",
            &lon_s,
            &lat_s,
            "BYRADIUS",
            &radius,
            unit,
        ]));
        cmds.push(base(&[
            "GEOSEARCH",
            key,
            "FROMMEMBER",
            member,
            "BYRADIUS",
            &radius,
            unit,
        ]));
        cmds.push(base(&[
            "GEOSEARCH",
            key,
            "FROMLONLAT",
            &lon_s,
            &lat_s,
            "BYBOX",
            &w,
            &h,
            unit,
        ]));
        cmds.push(base(&[
            "GEOSEARCH",
            key,
            "BYBOX",
            &w,
            &h,
            unit,
            "FROMMEMBER",
            member,
        ]));
        for mut c in cmds {
            c.extend(opts.iter().cloned());
            d.cmd(&c);
        }
        // The stored forms: same searches, results as sorted sets.
        let mut store_opts: Vec<String> = opts
            .iter()
            .filter(|o| !o.starts_with("WITH"))
            .cloned()
            .collect();
        let mut c = vec![
            "GEORADIUS".to_string(),
            key.into(),
            lon_s.clone(),
            lat_s.clone(),
            radius.clone(),
            unit.into(),
        ];
        c.append(&mut store_opts.clone());
        c.push(
            if rng.below(2) == 0 {
                "STORE"
            } else {
                "STOREDIST"
            }
            .into(),
        );
        c.push("dst".into());
        d.cmd(&c);
        d.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
        let mut c = vec![
            "GEOSEARCHSTORE".to_string(),
            "dst2".into(),
            key.into(),
            "FROMMEMBER".into(),
            member.clone(),
            "BYBOX".into(),
            w.clone(),
            h.clone(),
            unit.into(),
        ];
        c.append(&mut store_opts);
        if rng.below(2) == 0 {
            c.push("STOREDIST".into());
        }
        d.cmd(&c);
        d.cmd(&["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]);
        d.cmd(&["OBJECT", "ENCODING", "dst2"]);
        // Point reads.
        let m2 = &names[rng.below(names.len() as u64) as usize];
        d.cmd(&["GEODIST", key, member, m2, unit]);
        d.cmd(&["GEOPOS", key, member, m2, "nosuch"]);
        d.cmd(&["GEOHASH", key, member, m2, "nosuch"]);
    }
}

#[test]
fn random_points_digit_for_digit() {
    let mut d = Diff::new();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    // A listpack-encoded set (100 points) and a skiplist one (3000).
    let small = add_points(&mut d, &mut rng, "small", "s", 100);
    let big = add_points(&mut d, &mut rng, "big", "b", 3000);
    d.cmd(&["OBJECT", "ENCODING", "small"]);
    d.cmd(&["OBJECT", "ENCODING", "big"]);
    d.cmd(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]);
    let all: Vec<&str> = big.iter().map(|s| s.as_str()).collect();
    for chunk in all.chunks(500) {
        let mut c = vec!["GEOPOS", "big"];
        c.extend(chunk);
        d.cmd(&c);
        c[0] = "GEOHASH";
        d.cmd(&c);
    }
    random_searches(&mut d, &mut rng, "small", &small, 60);
    random_searches(&mut d, &mut rng, "big", &big, 150);
    let _ = d.both(&["HELLO", "3"]);
    random_searches(&mut d, &mut rng, "big", &big, 30);
}

#[test]
fn poles_antimeridian_and_limits() {
    let mut d = Diff::new();
    d.run(
        r#"
        GEOADD g 180 85.05112878 ne 180 -85.05112878 se -180 85.05112878 nw -180 -85.05112878 sw
        GEOADD g 0 0 origin 179.9999999 0.5 east -179.9999999 0.5 west 0 85.05 north 0 -85.05 south
        GEOADD g 180.0000001 0 bad
        GEOADD g -180.0000001 0 bad
        GEOADD g 0 85.05112879 bad
        GEOADD g 0 -85.05112879 bad
        GEOADD g 0 90 bad
        GEOADD g inf 0 bad
        GEOADD g 0 -inf bad
        GEOADD g 1e-320 -0 tiny
        GEOADD g 0x10 0x1p3 hexa
        ZRANGE g 0 -1 WITHSCORES
        GEOPOS g ne se nw sw origin east west north south tiny hexa
        GEOHASH g ne se nw sw origin east west north south tiny hexa
        GEODIST g east west
        GEODIST g east west km
        GEODIST g ne sw mi
        GEODIST g north south ft
        GEODIST g origin origin
        GEORADIUS g 180 0.5 50 km WITHDIST WITHCOORD ASC
        GEORADIUS g -180 0.5 50 km WITHDIST WITHCOORD DESC
        GEORADIUS g 0 85 500 km WITHDIST ASC
        GEORADIUS g 0 -85 500 km WITHDIST ASC
        GEORADIUS g 90 85.05112878 3000 km WITHDIST WITHHASH ASC
        GEORADIUS g 0 0 20000 km WITHDIST ASC
        GEORADIUS g 0 0 0 m WITHDIST
        GEORADIUS g 0 0 0 km
        GEORADIUSBYMEMBER g east 100 km WITHDIST ASC
        GEORADIUSBYMEMBER g ne 10000 km WITHCOORD ASC COUNT 3
        GEOSEARCH g FROMLONLAT 179.99 0 BYBOX 200 200 km WITHDIST ASC
        GEOSEARCH g FROMLONLAT -179.99 0 BYBOX 200 200 km WITHDIST ASC
        GEOSEARCH g FROMLONLAT 0 85 BYBOX 40000 1000 km WITHDIST ASC
        GEOSEARCH g FROMLONLAT 0 -85 BYBOX 40000 1000 km WITHDIST ASC
        GEOSEARCH g FROMMEMBER origin BYBOX 0 0 km WITHDIST
        GEOSEARCH g FROMMEMBER origin BYRADIUS 1e10 km WITHDIST ASC
        GEOSEARCH g FROMMEMBER origin BYRADIUS 0.0000001 m
        ZADD notgeo -1 neg 0 zero inf pinf -inf ninf 4503599627370496 big 1e300 huge 9.2233720368547758e18 top 1.5 frac
        GEOPOS notgeo neg zero pinf ninf big huge top frac
        GEOHASH notgeo neg zero pinf ninf big huge top frac
        GEODIST notgeo neg frac
        GEORADIUS notgeo 0 0 20000 km WITHHASH WITHCOORD
        GEOSEARCH notgeo FROMMEMBER frac BYRADIUS 20000 km WITHHASH
        "#,
    );
    let _ = d.both(&["HELLO", "3"]);
    d.run(
        r#"
        GEOPOS g ne origin nosuch
        GEORADIUS g 180 0.5 50 km WITHDIST WITHCOORD WITHHASH ASC
        GEODIST g east west
        GEODIST g east nosuch
        GEODIST nokey a b
        GEOPOS nokey a
        "#,
    );
}

#[test]
fn equal_distances_order_as_redis_sorts_them() {
    let mut d = Diff::new();
    // Many members at the same few spots: ties everywhere, sorted fully (stable) and
    // partially (COUNT, Redis's pqsort).
    let mut args: Vec<String> = vec!["GEOADD".into(), "t".into()];
    for i in 0..300 {
        let spot = i % 7;
        args.push(format!("{}", 10.0 + spot as f64 * 0.01));
        args.push(format!("{}", 20.0 + (spot % 3) as f64 * 0.01));
        args.push(format!("m{i}"));
    }
    d.cmd(&args);
    for count in [
        "1", "2", "5", "7", "8", "40", "41", "100", "299", "300", "1000",
    ] {
        for order in ["ASC", "DESC"] {
            d.cmd(&[
                "GEORADIUS",
                "t",
                "10",
                "20",
                "100",
                "km",
                order,
                "COUNT",
                count,
            ]);
            d.cmd(&[
                "GEOSEARCH",
                "t",
                "FROMLONLAT",
                "10.02",
                "20.01",
                "BYRADIUS",
                "100",
                "km",
                order,
                "COUNT",
                count,
                "WITHDIST",
            ]);
            d.cmd(&[
                "GEOSEARCH",
                "t",
                "FROMMEMBER",
                "m3",
                "BYBOX",
                "100",
                "100",
                "km",
                order,
                "COUNT",
                count,
                "ANY",
            ]);
        }
        d.cmd(&[
            "GEORADIUS",
            "t",
            "10",
            "20",
            "100",
            "km",
            "COUNT",
            count,
            "ANY",
        ]);
    }
    d.cmd(&["GEORADIUS", "t", "10", "20", "100", "km", "ASC"]);
    d.cmd(&["GEORADIUS", "t", "10", "20", "100", "km", "DESC"]);
}

#[test]
fn geoadd_options_and_replies() {
    let mut d = Diff::new();
    d.run(
        r#"
        GEOADD k 1 1 a 2 2 b
        GEOADD k NX 3 3 a 4 4 c
        GEOADD k XX 5 5 a 6 6 d
        GEOADD k CH 7 7 a 8 8 b 9 9 e
        GEOADD k XX CH 1 1 a 1 1 zz
        GEOADD k NX CH 2 2 a 2 2 f
        GEOADD k CH NX XX 1 1 a
        GEOADD k nx xx 1 1 a
        GEOADD k ch ch ch
        GEOADD k 1 1
        GEOADD k 1 1 a 2
        GEOADD k GT 1 1 a
        GEOADD k x 1 a
        GEOADD k 1 y a
        GEOADD k 1 1 a 200 1 b
        GEOADD k 1 1 a 1 100 b
        GEOADD k 1 1 a 1 " 1" b
        GEOADD k 1 1 a nan 1 b
        GEOADD newkey XX 1 1 a
        EXISTS newkey
        ZRANGE k 0 -1 WITHSCORES
        OBJECT ENCODING k
        LPUSH list x
        GEOADD list 1 1 a
        GEODIST list a b
        GEOPOS list a
        GEOHASH list a
        GEORADIUS list 0 0 1 km
        GEORADIUSBYMEMBER list a 1 km
        GEOSEARCH list FROMLONLAT 0 0 BYRADIUS 1 km
        GEOSEARCHSTORE dst list FROMLONLAT 0 0 BYRADIUS 1 km
        GEOSEARCHSTORE list k FROMLONLAT 1 1 BYRADIUS 1000 km
        TYPE list
        ZRANGE list 0 -1 WITHSCORES
        "#,
    );
    // Encodings follow ZADD's limits.
    d.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "2"]);
    d.run(
        r#"
        GEOADD e 1 1 a 2 2 b
        OBJECT ENCODING e
        GEOADD e 3 3 c
        OBJECT ENCODING e
        GEOSEARCHSTORE e2 e FROMLONLAT 2 2 BYRADIUS 200 km
        OBJECT ENCODING e2
        GEOSEARCHSTORE e3 e FROMLONLAT 2 2 BYRADIUS 2000 km
        OBJECT ENCODING e3
        "#,
    );
}

#[test]
fn search_errors_in_redis_order() {
    let mut d = Diff::new();
    d.cmd(&[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    d.run(
        r#"
        GEORADIUS g 200 0 1 km
        GEORADIUS g 0 100 1 km
        GEORADIUS g x 0 1 km
        GEORADIUS g 0 0 x km
        GEORADIUS g 0 0 -1 km
        GEORADIUS g 0 0 1 parsecs
        GEORADIUS g 0 0 1 km COUNT
        GEORADIUS g 0 0 1 km COUNT 0
        GEORADIUS g 0 0 1 km COUNT -5
        GEORADIUS g 0 0 1 km COUNT abc
        GEORADIUS g 0 0 1 km ANY
        GEORADIUS g 0 0 1 km COUNT 1 ANY
        GEORADIUS g 0 0 1 km WITHDIST STORE dst
        GEORADIUS g 0 0 1 km STORE dst WITHCOORD
        GEORADIUS g 0 0 1 km STOREDIST dst WITHHASH
        GEORADIUS g 0 0 1 km STORE
        GEORADIUS g 0 0 1 km BOGUS
        GEORADIUS g 0 0 1 km FROMLONLAT 0 0
        GEORADIUS_RO g 0 0 1 km STORE dst
        GEORADIUS_RO g 0 0 1 km STOREDIST dst
        GEORADIUSBYMEMBER g nosuch 1 km
        GEORADIUSBYMEMBER g Palermo x km
        GEORADIUSBYMEMBER g Palermo 1 lightyears
        GEORADIUSBYMEMBER nokey nosuch 1 km
        GEORADIUSBYMEMBER nokey nosuch 1 km STORE dst
        GEORADIUSBYMEMBER_RO g Palermo 200 km STORE dst
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km STORE dst
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ANY
        GEOSEARCH g BYRADIUS 200 km ASC
        GEOSEARCH g FROMLONLAT 15 37 ASC WITHDIST
        GEOSEARCH g FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 200 km
        GEOSEARCH g FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 200 km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX -1 1 km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 -1 km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX x 1 km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 y km
        GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1 furlongs
        GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 1
        GEOSEARCH g FROMLONLAT 15 BYRADIUS 1 km
        GEOSEARCH g FROMMEMBER nosuch BYRADIUS 1 km
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1
        geosearch g frommember Palermo
        GeoSearch g BYRADIUS 1 km WITHDIST
        GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 1 km
        GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km
        GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km ANY
        GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST WITHHASH WITHCOORD COUNT 1 DESC
        GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST
        GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km STORE x
        GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYRADIUS 1 km
        EXISTS dst
        SET dst x
        GEOSEARCHSTORE dst nokey FROMLONLAT 0 0 BYRADIUS 1 km
        EXISTS dst
        GEORADIUS g 15 37 200 km STORE dst
        ZRANGE dst 0 -1 WITHSCORES
        GEORADIUS g 15 37 200 km COUNT 1 STOREDIST dst
        ZRANGE dst 0 -1 WITHSCORES
        GEORADIUS g 0 0 1 km STORE dst
        EXISTS dst
        GEORADIUS nokey 0 0 1 km STORE dst
        GEORADIUSBYMEMBER g Palermo 100 km STORE dst
        ZRANGE dst 0 -1 WITHSCORES
        GEODIST g Palermo Catania km extra
        GEODIST g Palermo Catania furlongs
        GEODIST g Palermo
        GEODIST nokey Palermo Catania furlongs
        GEODIST g Palermo nosuch
        GEOHASH nokey a b
        GEOHASH g
        GEOPOS g
        "#,
    );
}

/// The AOF's incremental file of a server started with the default names.
fn incr_aof(s: &Server) -> Vec<u8> {
    std::fs::read(s.dir().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap_or_default()
}

#[test]
fn geo_and_hll_writes_reach_the_aof_as_redis_writes_them() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let f = ferrodis_with(&args);
    let r = oracle_with(&args);
    let mut d = Diff::from_servers(f, r);
    d.run(
        r#"
        GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOADD g NX CH 1 1 a 13.361389 38.115556 Palermo
        GEOADD g XX 2 2 nosuch
        GEOADD g XX CH 2 2 a
        GEORADIUS g 15 37 200 km STORE dst
        GEORADIUS g 15 37 200 km STOREDIST dst2 COUNT 1
        GEORADIUS g 15 37 200 km WITHDIST
        GEORADIUS g 0 0 1 km STORE dst
        GEORADIUSBYMEMBER g Palermo 300 km STORE dst3
        GEOSEARCHSTORE dst4 g FROMMEMBER Palermo BYBOX 400 400 km STOREDIST
        GEOSEARCHSTORE dst4 nokey FROMMEMBER Palermo BYBOX 400 400 km
        PFADD h a b c
        PFADD h a
        PFCOUNT h
        PFCOUNT h
        PFADD h2 x
        PFCOUNT h h2
        PFMERGE m h h2
        PFDEBUG GETREG m
        PFDEBUG TODENSE m
        PFDEBUG ENCODING m
        PFCOUNT m
        "#,
    );
    let f = incr_aof(d.ferrodis_server());
    let r = incr_aof(d.redis_server());
    assert_eq!(escape(&f), escape(&r));
}

#[test]
fn nearly_equal_longitudes_take_the_meridian_form_only_when_exactly_equal() {
    let mut d = Diff::new();
    d.cmd(&["GEOADD", "g", "10", "20", "p", "-150.5", "-60.25", "q"]);
    for m in ["p", "q"] {
        let pos = parse_reply(&d.cmd(&["GEOPOS", "g", m])).unwrap();
        let xy = &pos.items().unwrap()[0];
        let lon: f64 = xy.items().unwrap()[0].text().unwrap().parse().unwrap();
        let lat: f64 = xy.items().unwrap()[1].text().unwrap().parse().unwrap();
        for dlon in [0.0, 1e-14, -1e-14, 1e-13, 1e-12, 1e-9] {
            for dlat in [0.0, 1e-3] {
                let x = format!("{:.17}", lon + dlon);
                let y = format!("{:.17}", lat + dlat);
                d.cmd(&["GEORADIUS", "g", &x, &y, "10", "km", "STOREDIST", "dst"]);
                d.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
                d.cmd(&[
                    "GEOSEARCHSTORE",
                    "dst",
                    "g",
                    "FROMLONLAT",
                    &x,
                    &y,
                    "BYBOX",
                    "10",
                    "10",
                    "km",
                    "STOREDIST",
                ]);
                d.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
            }
        }
    }
}
