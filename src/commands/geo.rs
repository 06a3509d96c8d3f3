//! The `geo` command group (geo.c): GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO],
//! GEORADIUSBYMEMBER[_RO], GEOSEARCH, GEOSEARCHSTORE. A geo set is a sorted set whose scores
//! are 52-bit geohashes (`util/geohash.rs`); these handlers parse, search the score ranges of
//! the nine boxes around the center, and reply in Redis's formats: distances with "%.4f",
//! coordinates as `ld2string` prints them in human mode.
//!
//! GEOADD is ZADD underneath, as in Redis: it propagates (to the AOF) as the ZADD it turned
//! into, with the integer scores it computed. GEORADIUS ... STORE and GEOSEARCHSTORE propagate
//! as written.

use super::string::{cstr, ERR_NOT_INT, ERR_SYNTAX};
use super::{Args, Handler};
use crate::ds::listpack::INTBUF_SIZE;
use crate::ds::sds::Sds;
use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::notify;
use crate::server::Server;
use crate::types::object::{RObj, Value, WRONGTYPE};
use crate::types::zset::{elem_bytes, parse_score, AddFlags, AddOutcome, Limits, ScoreRange, ZSet};
use crate::util::geohash::{self, Shape, ShapeKind};
use crate::util::ldouble::{format_long_double, LdMode, LongDouble};
use crate::util::num::{parse_i64, printf_f64};

/// This module's commands.
pub const HANDLERS: &[(&str, Handler)] = &[
    ("geoadd", geoadd_command),
    ("geodist", geodist_command),
    ("geohash", geohash_command),
    ("geopos", geopos_command),
    ("georadius", georadius_command),
    ("georadius_ro", georadius_ro_command),
    ("georadiusbymember", georadiusbymember_command),
    ("georadiusbymember_ro", georadiusbymember_ro_command),
    ("geosearch", geosearch_command),
    ("geosearchstore", geosearchstore_command),
];

const ERR_FLOAT: &str = "ERR value is not a valid float";
const ERR_MEMBER: &str = "ERR could not decode requested zset member";

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

/// getDoubleFromObjectOrReply with Redis's message (`msg` without "ERR ").
fn double_or_reply(out: &mut Reply, arg: &[u8], msg: Option<&str>) -> Option<f64> {
    let v = parse_score(arg);
    if v.is_none() {
        match msg {
            Some(m) => out.err(&format!("ERR {m}")),
            None => out.err(ERR_FLOAT),
        }
    }
    v
}

/// extractLongLatOrReply: a longitude then a latitude, inside the index limits.
fn long_lat_or_reply(out: &mut Reply, lon: &[u8], lat: &[u8]) -> Option<[f64; 2]> {
    let x = double_or_reply(out, lon, None)?;
    let y = double_or_reply(out, lat, None)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        out.err(&format!(
            "ERR invalid longitude,latitude pair {},{}",
            printf_f64(b"%f\0", x),
            printf_f64(b"%f\0", y)
        ));
        return None;
    }
    Some([x, y])
}

/// extractUnitOrReply: meters per unit.
fn unit_or_reply(out: &mut Reply, unit: &[u8]) -> Option<f64> {
    let u = cstr(unit);
    let is = |s: &str| u.eq_ignore_ascii_case(s.as_bytes());
    if is("m") {
        Some(1.0)
    } else if is("km") {
        Some(1000.0)
    } else if is("ft") {
        Some(0.3048)
    } else if is("mi") {
        Some(1609.34)
    } else {
        out.err("ERR unsupported unit provided. please use M, KM, FT, MI");
        None
    }
}

/// extractDistanceOrReply: (radius, meters per unit).
fn distance_or_reply(out: &mut Reply, num: &[u8], unit: &[u8]) -> Option<(f64, f64)> {
    let d = double_or_reply(out, num, Some("need numeric radius"))?;
    if d < 0.0 {
        out.err("ERR radius cannot be negative");
        return None;
    }
    Some((d, unit_or_reply(out, unit)?))
}

/// extractBoxOrReply: (width, height, meters per unit).
fn box_or_reply(out: &mut Reply, w: &[u8], h: &[u8], unit: &[u8]) -> Option<(f64, f64, f64)> {
    let w = double_or_reply(out, w, Some("need numeric width"))?;
    let h = double_or_reply(out, h, Some("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        out.err("ERR height or width cannot be negative");
        return None;
    }
    Some((w, h, unit_or_reply(out, unit)?))
}

/// addReplyDoubleDistance: "%.4f" as a bulk string.
fn reply_distance(out: &mut Reply, d: f64) {
    out.bulk(printf_f64(b"%.4f\0", d).as_bytes());
}

/// addReplyHumanLongDouble: a coordinate as ld2string prints it in human mode (a bulk string
/// in RESP2, a double in RESP3).
fn reply_coord(out: &mut Reply, v: f64) {
    let s = format_long_double(LongDouble::from_f64(v), LdMode::Human);
    if out.resp3 {
        out.raw(b",");
        out.raw(&s);
        out.raw(b"\r\n");
    } else {
        out.bulk(&s);
    }
}

/// C's `(long long)` of a double on x86-64 (cvttsd2si): out of range gives LLONG_MIN.
fn c_double_to_i64(d: f64) -> i64 {
    if d.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// The key's sorted set for reading: Ok(None) when missing, Err after a WRONGTYPE reply.
fn read_zset<'a>(
    srv: &'a mut Server,
    c: &mut Client,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, ()> {
    match srv.lookup_read(c.db, key) {
        None => Ok(None),
        Some(o) => match &mut o.value {
            Value::ZSet(z) => Ok(Some(&mut **z)),
            _ => {
                c.out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// GEOADD
// ---------------------------------------------------------------------------------------------

/// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
fn geoadd_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let o = cstr(args.get(longidx));
        if o.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if o.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let elements = (args.len() - longidx) / 3;
    let mut scores = Vec::with_capacity(elements);
    for i in 0..elements {
        let at = longidx + 3 * i;
        let Some([x, y]) = long_lat_or_reply(&mut c.out, args.get(at), args.get(at + 1)) else {
            return;
        };
        scores.push(geohash::score_of(x, y));
    }
    // From here on this is ZADD key [opts] score member ..., which is also what propagates.
    if elements == 0 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    srv.rewrite_command(|| {
        let mut v: Vec<Vec<u8>> = Vec::with_capacity(longidx + 2 * elements);
        v.push(b"zadd".to_vec());
        for i in 1..longidx {
            v.push(args.get(i).to_vec());
        }
        for (i, s) in scores.iter().enumerate() {
            v.push(s.to_string().into_bytes());
            v.push(args.get(longidx + 3 * i + 2).to_vec());
        }
        v
    });
    let flags = AddFlags {
        nx,
        xx,
        ..AddFlags::default()
    };
    let lim = Limits::from_config(&srv.config);
    let db = c.db;
    let key = args.get(1);
    let (mut added, mut updated) = (0usize, 0usize);
    let run = |z: &mut ZSet, added: &mut usize, updated: &mut usize| {
        for (i, &s) in scores.iter().enumerate() {
            match z.add(s as f64, args.get(longidx + 3 * i + 2), flags, &lim) {
                AddOutcome::Added(_) => *added += 1,
                AddOutcome::Updated(_) => *updated += 1,
                _ => {}
            }
        }
    };
    let mut created = false;
    match srv.lookup_write(db, key) {
        Some(o) => match &mut o.value {
            Value::ZSet(z) => run(z, &mut added, &mut updated),
            _ => {
                c.out.err(WRONGTYPE);
                return;
            }
        },
        None => {
            if !xx {
                let mut z = ZSet::create(args.get(longidx + 2).len(), &lim);
                run(&mut z, &mut added, &mut updated);
                let lru = srv.lru_clock;
                srv.add_key(db, key, RObj::new(Value::ZSet(Box::new(z)), lru));
                created = true;
            }
        }
    }
    c.out.int(if ch { added + updated } else { added } as i64);
    if added > 0 || updated > 0 {
        srv.dirty += (added + updated) as u64;
        if !created {
            srv.signal_modified_key(db, key);
        }
        srv.notify_keyspace_event(notify::ZSET, "zadd", key, db);
    }
}

// ---------------------------------------------------------------------------------------------
// GEODIST, GEOHASH, GEOPOS
// ---------------------------------------------------------------------------------------------

/// GEODIST key member1 member2 [M|KM|FT|MI]
fn geodist_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut to_meter = 1.0;
    if args.len() == 5 {
        match unit_or_reply(&mut c.out, args.get(4)) {
            Some(u) => to_meter = u,
            None => return,
        }
    } else if args.len() > 5 {
        c.out.err(ERR_SYNTAX);
        return;
    }
    let z = match read_zset(srv, c, args.get(1)) {
        Err(()) => return,
        Ok(None) => {
            c.out.null();
            return;
        }
        Ok(Some(z)) => z,
    };
    let (Some(s1), Some(s2)) = (z.score(args.get(2)), z.score(args.get(3))) else {
        c.out.null();
        return;
    };
    let [x1, y1] = geohash::decode_score(s1);
    let [x2, y2] = geohash::decode_score(s2);
    reply_distance(&mut c.out, geohash::distance(x1, y1, x2, y2) / to_meter);
}

/// GEOHASH key [member ...]
fn geohash_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut z = match read_zset(srv, c, args.get(1)) {
        Err(()) => return,
        Ok(z) => z,
    };
    c.out.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.as_deref_mut().and_then(|z| z.score(m)) {
            None => c.out.null(),
            Some(s) => c.out.bulk(&geohash::geohash_string(s)),
        }
    }
}

/// GEOPOS key [member ...]
fn geopos_command(srv: &mut Server, c: &mut Client, args: &Args) {
    let mut z = match read_zset(srv, c, args.get(1)) {
        Err(()) => return,
        Ok(z) => z,
    };
    c.out.array(args.len() - 2);
    for m in args.iter_from(2) {
        match z.as_deref_mut().and_then(|z| z.score(m)) {
            None => c.out.null_array(),
            Some(s) => {
                let [x, y] = geohash::decode_score(s);
                c.out.array(2);
                reply_coord(&mut c.out, x);
                reply_coord(&mut c.out, y);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The searches
// ---------------------------------------------------------------------------------------------

/// One point found (geoPoint).
struct GeoPoint {
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// geoGetPointsInRange: appends the members with scores in [min, max) that lie inside the
/// shape, stopping once `limit` (when non-zero) points have been gathered.
fn points_in_range(
    z: &ZSet,
    min: f64,
    max: f64,
    shape: &Shape,
    out: &mut Vec<GeoPoint>,
    limit: usize,
) {
    let range = ScoreRange {
        min,
        max,
        minex: false,
        maxex: true,
    };
    let full = |out: &Vec<GeoPoint>| !out.is_empty() && limit != 0 && out.len() >= limit;
    match z {
        ZSet::SkipList(zs) => {
            // The walk reads each node's score only; a member is copied only when its point
            // is inside the shape (most candidates of the nine boxes are not).
            let zsl = &zs.zsl;
            let mut p = zsl.first_in_range(&range);
            while let Some(x) = p {
                let score = zsl.score(x);
                if !range.lte_max(score) {
                    break;
                }
                let [lon, lat] = geohash::decode_score(score);
                if let Some(dist) = geohash::distance_if_within(shape, lon, lat) {
                    out.push(GeoPoint {
                        lon,
                        lat,
                        dist,
                        score,
                        member: zsl.member(x).to_vec(),
                    });
                }
                if full(out) {
                    break;
                }
                p = zsl.next(x);
            }
        }
        ZSet::Listpack(_) => {
            let mut done = false;
            z.visit_range(&range, 0, -1, false, |e, score| {
                if done {
                    return;
                }
                let [lon, lat] = geohash::decode_score(score);
                if let Some(dist) = geohash::distance_if_within(shape, lon, lat) {
                    let mut b = [0u8; INTBUF_SIZE];
                    out.push(GeoPoint {
                        lon,
                        lat,
                        dist,
                        score,
                        member: elem_bytes(e, &mut b).to_vec(),
                    });
                }
                done = full(out);
            });
        }
    }
}

/// membersOfAllNeighbors: the nine boxes in order, skipping dropped ones and a box equal to
/// the last one searched.
fn members_of_all_neighbors(z: &ZSet, shape: &Shape, limit: usize) -> Vec<GeoPoint> {
    let areas = geohash::areas_by_shape(shape);
    let boxes = areas.in_order();
    let mut out = Vec::new();
    let mut last_processed = 0usize;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        if last_processed != 0 && *b == boxes[last_processed] {
            continue;
        }
        if !out.is_empty() && limit != 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::box_scores(*b);
        points_in_range(z, min, max, shape, &mut out, limit);
        last_processed = i;
    }
    out
}

// georadiusGeneric flags.
const RADIUS_COORDS: u32 = 1 << 0;
const RADIUS_MEMBER: u32 = 1 << 1;
const RADIUS_NOSTORE: u32 = 1 << 2;
const GEOSEARCH: u32 = 1 << 3;
const GEOSEARCHSTORE: u32 = 1 << 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

fn georadius_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 1, RADIUS_COORDS);
}
fn georadius_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 1, RADIUS_COORDS | RADIUS_NOSTORE);
}
fn georadiusbymember_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 1, RADIUS_MEMBER);
}
fn georadiusbymember_ro_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 1, RADIUS_MEMBER | RADIUS_NOSTORE);
}
fn geosearch_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 1, GEOSEARCH);
}
fn geosearchstore_command(srv: &mut Server, c: &mut Client, args: &Args) {
    georadius_generic(srv, c, args, 2, GEOSEARCH | GEOSEARCHSTORE);
}

/// georadiusGeneric: every search command, checking its arguments in Redis's order.
fn georadius_generic(srv: &mut Server, c: &mut Client, args: &Args, src_idx: usize, flags: u32) {
    let db = c.db;
    // The source set is looked up (and its type checked) before any argument.
    let exists = match read_zset(srv, c, args.get(src_idx)) {
        Err(()) => return,
        Ok(z) => z.is_some(),
    };
    let score_of = |srv: &mut Server, member: &[u8]| -> Option<f64> {
        match srv.dbs[db].dict.peek(args.get(src_idx)).map(|o| &o.value) {
            Some(Value::ZSet(z)) => z.score_peek(member),
            _ => None,
        }
    };
    let mut shape = Shape {
        xy: [0.0, 0.0],
        conversion: 0.0,
        kind: ShapeKind::Circle { radius: 0.0 },
    };
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    let base_args;
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        let Some(xy) = long_lat_or_reply(&mut c.out, args.get(2), args.get(3)) else {
            return;
        };
        shape.xy = xy;
        let Some((r, conv)) = distance_or_reply(&mut c.out, args.get(4), args.get(5)) else {
            return;
        };
        shape.kind = ShapeKind::Circle { radius: r };
        shape.conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 && !exists {
        base_args = 5;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        let Some(s) = score_of(srv, args.get(2)) else {
            c.out.err(ERR_MEMBER);
            return;
        };
        shape.xy = geohash::decode_score(s);
        let Some((r, conv)) = distance_or_reply(&mut c.out, args.get(3), args.get(4)) else {
            return;
        };
        shape.kind = ShapeKind::Circle { radius: r };
        shape.conversion = conv;
    } else {
        // GEOSEARCH / GEOSEARCHSTORE
        if flags & GEOSEARCHSTORE != 0 {
            base_args = 3;
            storekey = Some(args.get(1));
        } else {
            base_args = 2;
        }
    }

    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let argc = args.len();
    if argc > base_args {
        let remaining = argc - base_args;
        let mut i = 0;
        while i < remaining {
            let arg = cstr(args.get(base_args + i));
            let is = |s: &str| arg.eq_ignore_ascii_case(s.as_bytes());
            let search = flags & GEOSEARCH != 0;
            let can_store = flags & RADIUS_NOSTORE == 0 && !search;
            if is("withdist") {
                withdist = true;
            } else if is("withhash") {
                withhash = true;
            } else if is("withcoord") {
                withcoords = true;
            } else if is("any") {
                any = true;
            } else if is("asc") {
                sort = Sort::Asc;
            } else if is("desc") {
                sort = Sort::Desc;
            } else if is("count") && i + 1 < remaining {
                let Some(n) = parse_i64(args.get(base_args + i + 1)) else {
                    c.out.err(ERR_NOT_INT);
                    return;
                };
                if n <= 0 {
                    c.out.err("ERR COUNT must be > 0");
                    return;
                }
                count = n;
                i += 1;
            } else if is("store") && i + 1 < remaining && can_store {
                storekey = Some(args.get(base_args + i + 1));
                storedist = false;
                i += 1;
            } else if is("storedist") && i + 1 < remaining && can_store {
                storekey = Some(args.get(base_args + i + 1));
                storedist = true;
                i += 1;
            } else if is("storedist") && search && flags & GEOSEARCHSTORE != 0 {
                storedist = true;
            } else if is("frommember") && i + 1 < remaining && search && !fromloc {
                if !exists {
                    frommember = true;
                    i += 2;
                    continue;
                }
                let Some(s) = score_of(srv, args.get(base_args + i + 1)) else {
                    c.out.err(ERR_MEMBER);
                    return;
                };
                shape.xy = geohash::decode_score(s);
                frommember = true;
                i += 1;
            } else if is("fromlonlat") && i + 2 < remaining && search && !frommember {
                let at = base_args + i + 1;
                let Some(xy) = long_lat_or_reply(&mut c.out, args.get(at), args.get(at + 1)) else {
                    return;
                };
                shape.xy = xy;
                fromloc = true;
                i += 2;
            } else if is("byradius") && i + 2 < remaining && search && !bybox {
                let at = base_args + i + 1;
                let Some((r, conv)) = distance_or_reply(&mut c.out, args.get(at), args.get(at + 1))
                else {
                    return;
                };
                shape.kind = ShapeKind::Circle { radius: r };
                shape.conversion = conv;
                byradius = true;
                i += 2;
            } else if is("bybox") && i + 3 < remaining && search && !byradius {
                let at = base_args + i + 1;
                let Some((w, h, conv)) =
                    box_or_reply(&mut c.out, args.get(at), args.get(at + 1), args.get(at + 2))
                else {
                    return;
                };
                shape.kind = ShapeKind::Rect {
                    width: w,
                    height: h,
                };
                shape.conversion = conv;
                bybox = true;
                i += 3;
            } else {
                c.out.err(ERR_SYNTAX);
                return;
            }
            i += 1;
        }
    }

    if storekey.is_some() && (withdist || withhash || withcoords) {
        c.out.err(&format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if flags & GEOSEARCHSTORE != 0 {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        ));
        return;
    }
    let name = String::from_utf8_lossy(cstr(args.get(0))).into_owned();
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        c.out.err(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
        return;
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        c.out.err(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
        return;
    }
    if any && count == 0 {
        c.out.err("ERR the ANY argument requires COUNT argument");
        return;
    }

    if !exists {
        match storekey {
            Some(dst) => {
                if srv.delete_key(db, dst) {
                    srv.signal_modified_key(db, dst);
                    srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
                    srv.dirty += 1;
                }
                c.out.int(0);
            }
            None => c.out.array(0),
        }
        return;
    }

    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }

    let mut points = match srv.dbs[db].dict.peek(args.get(src_idx)).map(|o| &o.value) {
        Some(Value::ZSet(z)) => {
            members_of_all_neighbors(z, &shape, if any { count as usize } else { 0 })
        }
        _ => Vec::new(),
    };

    if points.is_empty() && storekey.is_none() {
        c.out.array(0);
        return;
    }
    let result_length = points.len();
    let returned = if count == 0 || (result_length as i64) < count {
        result_length
    } else {
        count as usize
    };
    if sort != Sort::None {
        let asc = |a: &GeoPoint, b: &GeoPoint| {
            if a.dist > b.dist {
                std::cmp::Ordering::Greater
            } else if a.dist == b.dist {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            }
        };
        if returned == result_length {
            // glibc's qsort is a merge sort: stable, like this one.
            if sort == Sort::Asc {
                points.sort_by(asc);
            } else {
                points.sort_by(|a, b| asc(b, a));
            }
        } else {
            crate::util::pqsort::pqsort(&mut points, 0, returned - 1, |a, b| {
                if sort == Sort::Asc {
                    asc(a, b)
                } else {
                    asc(b, a)
                }
            });
        }
    }
    points.truncate(returned);

    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            c.out.array(returned);
            for gp in &points {
                let dist = gp.dist / shape.conversion;
                if options > 0 {
                    c.out.array(options + 1);
                }
                c.out.bulk(&gp.member);
                if withdist {
                    reply_distance(&mut c.out, dist);
                }
                if withhash {
                    c.out.int(c_double_to_i64(gp.score));
                }
                if withcoords {
                    c.out.array(2);
                    reply_coord(&mut c.out, gp.lon);
                    reply_coord(&mut c.out, gp.lat);
                }
            }
        }
        Some(dst) => {
            if returned > 0 {
                let mut pairs: Vec<(Sds, f64)> = points
                    .iter()
                    .map(|gp| {
                        let s = if storedist {
                            gp.dist / shape.conversion
                        } else {
                            gp.score
                        };
                        (Sds::from_slice(&gp.member), s)
                    })
                    .collect();
                pairs.sort_unstable_by(|a, b| {
                    a.1.partial_cmp(&b.1)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
                });
                let z = ZSet::from_sorted(pairs, &Limits::from_config(&srv.config));
                let lru = srv.lru_clock;
                srv.set_key(db, dst, RObj::new(Value::ZSet(Box::new(z)), lru), false);
                let ev = if flags & GEOSEARCH != 0 {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                srv.notify_keyspace_event(notify::ZSET, ev, dst, db);
                srv.dirty += returned as u64;
            } else if srv.delete_key(db, dst) {
                srv.signal_modified_key(db, dst);
                srv.notify_keyspace_event(notify::GENERIC, "del", dst, db);
                srv.dirty += 1;
            }
            c.out.int(returned as i64);
        }
    }
}
