//! Geohashing as Redis computes it (geohash.c, geohash_helper.c): the 52-bit interleaved hash
//! a geo member's score holds, the nine boxes a radius or box search visits, and the haversine
//! distance, all in the same double operations so that results print with the same digits.
//!
//! ```text
//!  score = 52-bit integer, bits interleaved from the most significant pair down:
//!   bit 51   50   49   48  ...   1    0
//!      lon25 lat25 lon24 lat24 ... lon0 lat0
//!  lat = (latitude  + 85.05112878) / 170.10225756 * 2^26, truncated to an integer
//!  lon = (longitude + 180)         / 360          * 2^26, truncated to an integer
//!  (a coordinate exactly at the top of its range gives 2^26, one bit more, as in Redis)
//!
//!  search: step s (1..26) chosen from the radius; the center box and its 8 neighbours at
//!  that step, each a score range [hash << (52-2s), (hash+1) << (52-2s)):
//!    NW  N  NE
//!     W  C  E        visited in the order C, N, S, E, W, NE, NW, SE, SW; boxes that cannot
//!    SW  S  SE       reach the search area are dropped, and a box equal to the previous one
//!                    is skipped
//! ```

pub use crate::util::num::c_double_to_u64;
/// Latitude limits of the geo index (EPSG:900913 / Web Mercator).
pub const LAT_MIN: f64 = -85.05112878;
/// Upper latitude limit.
pub const LAT_MAX: f64 = 85.05112878;
/// Longitude limits.
pub const LONG_MIN: f64 = -180.0;
/// Upper longitude limit.
pub const LONG_MAX: f64 = 180.0;
/// The step of stored scores (26 bits per coordinate).
pub const STEP_MAX: u8 = 26;

const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84, in meters.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

/// A hash of `step` bits per coordinate (GeoHashBits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HashBits {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u8,
}

impl HashBits {
    /// HASHISZERO: a dropped neighbour.
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

/// A coordinate interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// The box a hash stands for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    /// Longitude interval.
    pub longitude: Range,
    /// Latitude interval.
    pub latitude: Range,
}

const LONG_RANGE: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the 32 bits of `v` to the even bit positions.
#[inline]
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bits of `x` into 32 bits.
#[inline]
fn gather(mut x: u64) -> u32 {
    x &= 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// C's `(uint32_t)` of a non-negative double below 2^32 (truncation).
#[inline]
fn to_u32(d: f64) -> u32 {
    d as u32
}

/// geohashEncode: None when a coordinate is outside the index limits or its range.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<HashBits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    let scale = (1u64 << step) as f64;
    lat_offset *= scale;
    long_offset *= scale;
    Some(HashBits {
        bits: spread(to_u32(lat_offset)) | (spread(to_u32(long_offset)) << 1),
        step,
    })
}

/// geohashEncodeWGS84.
pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, step)
}

/// geohashDecode: the box of a hash.
pub fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let ilato = gather(hash.bits);
    let ilono = gather(hash.bits >> 1);
    let div = (1u64 << hash.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    Some(Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_range.min + (ilato.wrapping_add(1) as f64 * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: long_range.min + (ilono.wrapping_add(1) as f64 * 1.0 / div) * long_scale,
        },
    })
}

/// geohashDecodeAreaToLongLat: the box's center, clamped to the index limits.
fn area_center(a: &Area) -> [f64; 2] {
    let lon = ((a.longitude.min + a.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.latitude.min + a.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [lon, lat]
}

/// decodeGeohash: a member's (longitude, latitude) from its score.
pub fn decode_score(score: f64) -> [f64; 2] {
    let hash = HashBits {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    // A step-26 hash is never "zero", so decoding always succeeds.
    match decode(LONG_RANGE, LAT_RANGE, hash) {
        Some(a) => area_center(&a),
        None => [0.0, 0.0],
    }
}

/// The score GEOADD stores for a valid coordinate pair.
pub fn score_of(longitude: f64, latitude: f64) -> u64 {
    encode_wgs84(longitude, latitude, STEP_MAX)
        .map(align52)
        .unwrap_or(0)
}

/// GEOHASH's 11-character standard geohash of a score (re-encoded on the -90..90 range).
pub fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let [lon, lat] = decode_score(score);
    let r_long = Range {
        min: -180.0,
        max: 180.0,
    };
    let r_lat = Range {
        min: -90.0,
        max: 90.0,
    };
    let bits = encode(r_long, r_lat, lon, lat, 26)
        .map(|h| h.bits)
        .unwrap_or(0);
    let mut out = [0u8; 11];
    for (i, b) in out.iter_mut().enumerate() {
        let idx = if i == 10 {
            0
        } else {
            ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
        };
        *b = ALPHABET[idx];
    }
    out
}

/// geohashAlign52Bits: a hash as a 52-bit score.
#[inline]
pub fn align52(h: HashBits) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

fn move_x(h: &mut HashBits, d: i8) {
    if d == 0 || h.step == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let shift = 64 - h.step as u32 * 2;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    h.bits = x | y;
}

fn move_y(h: &mut HashBits, d: i8) {
    if d == 0 || h.step == 0 {
        return;
    }
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let shift = 64 - h.step as u32 * 2;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    h.bits = x | y;
}

/// The eight neighbours of a box (GeoHashNeighbors).
#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbors {
    pub north: HashBits,
    pub east: HashBits,
    pub west: HashBits,
    pub south: HashBits,
    pub north_east: HashBits,
    pub south_east: HashBits,
    pub north_west: HashBits,
    pub south_west: HashBits,
}

/// geohashNeighbors.
pub fn neighbors(h: &HashBits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut n = *h;
        move_x(&mut n, dx);
        move_y(&mut n, dy);
        n
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        south_west: at(-1, -1),
        north_east: at(1, 1),
        south_east: at(1, -1),
    }
}

/// The area a search covers (GeoShape): a circle of `radius` or a box of `width` x `height`,
/// in units of `conversion` meters, around (`xy[0]` longitude, `xy[1]` latitude).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Center (longitude, latitude).
    pub xy: [f64; 2],
    /// Meters per unit.
    pub conversion: f64,
    /// The kind and size.
    pub kind: ShapeKind,
}

/// A search area's kind.
#[derive(Clone, Copy, Debug)]
pub enum ShapeKind {
    /// BYRADIUS.
    Circle { radius: f64 },
    /// BYBOX.
    Rect { width: f64, height: f64 },
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

#[inline]
fn deg_rad(a: f64) -> f64 {
    a * D_R
}
#[inline]
fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// geohashBoundingBox: [min lon, min lat, max lon, max lat] of the search area, wider at the
/// edge nearer the pole.
pub fn bounding_box(shape: &Shape) -> [f64; 4] {
    let [longitude, latitude] = shape.xy;
    let (height, width) = match shape.kind {
        ShapeKind::Circle { radius } => (shape.conversion * radius, shape.conversion * radius),
        ShapeKind::Rect { width, height } => (
            shape.conversion * (height / 2.0),
            shape.conversion * (width / 2.0),
        ),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
    let southern = latitude < 0.0;
    let (min_lon, max_lon) = if southern {
        (longitude - long_delta_bottom, longitude + long_delta_bottom)
    } else {
        (longitude - long_delta_top, longitude + long_delta_top)
    };
    [min_lon, latitude - lat_delta, max_lon, latitude + lat_delta]
}

/// The boxes a search visits (GeoHashRadius): the center box and its neighbours, some zeroed.
#[derive(Clone, Copy, Debug)]
pub struct SearchAreas {
    /// The center box.
    pub hash: HashBits,
    /// Its neighbours (zero when dropped).
    pub neighbors: Neighbors,
}

impl SearchAreas {
    /// The nine boxes in Redis's visiting order: C, N, S, E, W, NE, NW, SE, SW.
    pub fn in_order(&self) -> [HashBits; 9] {
        let n = &self.neighbors;
        [
            self.hash,
            n.north,
            n.south,
            n.east,
            n.west,
            n.north_east,
            n.north_west,
            n.south_east,
            n.south_west,
        ]
    }
}

/// geohashCalculateAreasByShapeWGS84.
pub fn areas_by_shape(shape: &Shape) -> SearchAreas {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape);
    let [longitude, latitude] = shape.xy;
    let radius_meters = match shape.kind {
        ShapeKind::Circle { radius } => radius,
        ShapeKind::Rect { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * shape.conversion;
    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let enc = |steps| encode(LONG_RANGE, LAT_RANGE, longitude, latitude, steps).unwrap_or_default();
    let dec = |h| decode(LONG_RANGE, LAT_RANGE, h).unwrap_or_default();
    let mut hash = enc(steps);
    let mut nb = neighbors(&hash);
    let mut area = dec(hash);

    let decrease = {
        let north = dec(nb.north);
        let south = dec(nb.south);
        let east = dec(nb.east);
        let west = dec(nb.west);
        north.latitude.max < max_lat
            || south.latitude.min > min_lat
            || east.longitude.max < max_lon
            || west.longitude.min > min_lon
    };
    if steps > 1 && decrease {
        steps -= 1;
        hash = enc(steps);
        nb = neighbors(&hash);
        area = dec(hash);
    }
    if steps >= 2 {
        let zero = HashBits::default();
        if area.latitude.min < min_lat {
            nb.south = zero;
            nb.south_west = zero;
            nb.south_east = zero;
        }
        if area.latitude.max > max_lat {
            nb.north = zero;
            nb.north_east = zero;
            nb.north_west = zero;
        }
        if area.longitude.min < min_lon {
            nb.west = zero;
            nb.south_west = zero;
            nb.north_west = zero;
        }
        if area.longitude.max > max_lon {
            nb.east = zero;
            nb.south_east = zero;
            nb.north_east = zero;
        }
    }
    SearchAreas {
        hash,
        neighbors: nb,
    }
}

/// The score range [min, max) holding every point of a box (scoresOfGeoHashBox).
pub fn box_scores(h: HashBits) -> (f64, f64) {
    let min = align52(h);
    let max = align52(HashBits {
        bits: h.bits.wrapping_add(1),
        step: h.step,
    });
    (min as f64, max as f64)
}

/// geohashGetLatDistance: the distance along a meridian (the haversine with equal longitudes,
/// where asin(sin(x)) is x).
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// geohashGetDistance: the haversine great-circle distance in meters; when the longitudes
/// give exactly no difference, the shorter meridian form (so a point at the same longitude
/// gets that form's last digits, as from redis-server).
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// geoWithinShape after decoding: the distance from the center when `(x2, y2)` is inside.
pub fn distance_if_within(shape: &Shape, x2: f64, y2: f64) -> Option<f64> {
    let [x1, y1] = shape.xy;
    match shape.kind {
        ShapeKind::Circle { radius } => {
            let d = distance(x1, y1, x2, y2);
            // As in Redis, only "farther than the radius" excludes (a NaN distance is kept).
            if d > radius * shape.conversion {
                None
            } else {
                Some(d)
            }
        }
        ShapeKind::Rect { width, height } => {
            let width_m = width * shape.conversion;
            let height_m = height * shape.conversion;
            if lat_distance(y2, y1) > height_m / 2.0 {
                return None;
            }
            if distance(x2, y2, x1, y2) > width_m / 2.0 {
                return None;
            }
            Some(distance(x1, y1, x2, y2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_roundtrip() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(gather(spread(v)), v);
            assert_eq!(gather(spread(v) << 1 >> 1), v);
        }
    }

    #[test]
    fn encode_decode_center() {
        // Palermo, the example of Redis's documentation: score 3479099956230698.
        let s = score_of(13.361389, 38.115556);
        assert_eq!(s, 3479099956230698);
        let [lon, lat] = decode_score(s as f64);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert_eq!(&geohash_string(s as f64), b"sqc8b49rny0");
    }

    #[test]
    fn neighbours_move_one_box() {
        let h = encode_wgs84(13.36, 38.11, 10).unwrap();
        let n = neighbors(&h);
        let c = decode(LONG_RANGE, LAT_RANGE, h).unwrap();
        let e = decode(LONG_RANGE, LAT_RANGE, n.east).unwrap();
        assert_eq!(c.longitude.max, e.longitude.min);
        let no = decode(LONG_RANGE, LAT_RANGE, n.north).unwrap();
        assert_eq!(c.latitude.max, no.latitude.min);
    }
}
