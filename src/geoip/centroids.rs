//! Where a country's addresses are, and distances on the Earth.
//!
//! `data/geoip/country-centroids.csv` holds, per ISO 3166-1 alpha-2 code, the centroid of the
//! country's IPv4 addresses in the DB-IP "IP to City Lite" database (CC BY 4.0, IP Geolocation
//! by DB-IP, <https://db-ip.com>): each network's position weighted by its number of
//! addresses, averaged on the unit sphere. It is built by `tools/build-asn-mmdb
//! country-centroids`; see `data/geoip/README.md`. A centroid is where a country's users
//! typically are (for the US: the Midwest), not its geographic centre.

use std::collections::HashMap;
use std::sync::OnceLock;

static CENTROIDS_CSV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/geoip/country-centroids.csv"
));

/// Mean Earth radius (IUGG), in km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Latitude/longitude (degrees) where a country's addresses are, from
/// `data/geoip/country-centroids.csv`; `None` for a code it does not list. The code is matched
/// without regard to ASCII case.
pub fn country_centroid(country_code: &str) -> Option<(f64, f64)> {
    let code: [u8; 2] = country_code.as_bytes().try_into().ok()?;
    centroids()
        .get(&code.map(|b| b.to_ascii_uppercase()))
        .copied()
}

/// Great-circle distance in km between two latitude/longitude pairs in degrees (haversine,
/// mean Earth radius 6371.0088 km).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points.
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The table, parsed on first use.
fn centroids() -> &'static HashMap<[u8; 2], (f64, f64)> {
    static TABLE: OnceLock<HashMap<[u8; 2], (f64, f64)>> = OnceLock::new();
    TABLE.get_or_init(|| parse(CENTROIDS_CSV))
}

/// `country_code,latitude,longitude,networks` rows after a header line. Rows that do not parse
/// are left out (a test checks that the bundled file has none).
fn parse(csv: &str) -> HashMap<[u8; 2], (f64, f64)> {
    csv.lines().skip(1).filter_map(parse_row).collect()
}

fn parse_row(line: &str) -> Option<([u8; 2], (f64, f64))> {
    let mut fields = line.trim().split(',');
    let code: [u8; 2] = fields.next()?.as_bytes().try_into().ok()?;
    if !code.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let lat: f64 = fields.next()?.parse().ok()?;
    let lon: f64 = fields.next()?.parse().ok()?;
    let valid = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
    valid.then_some((code, (lat, lon)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tolerance: f64) -> bool {
        (got - want).abs() <= tolerance
    }

    #[test]
    fn every_row_of_the_bundled_table_parses() {
        let mut lines = CENTROIDS_CSV.lines();
        assert_eq!(
            lines.next(),
            Some("country_code,latitude,longitude,networks")
        );
        let rows: Vec<&str> = lines.collect();
        assert!(rows.len() > 200, "{}", rows.len());
        for row in &rows {
            assert!(parse_row(row).is_some(), "{row:?}");
            assert_eq!(row.split(',').count(), 4, "{row:?}");
            assert!(
                row.split(',').nth(3).unwrap().parse::<u64>().unwrap() > 0,
                "{row:?}"
            );
        }
        assert_eq!(centroids().len(), rows.len());
        let codes: Vec<&str> = rows.iter().map(|r| &r[..2]).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
    }

    #[test]
    fn centroids_of_some_countries() {
        // Inside the country's bounding box (mainland where it has one).
        let inside = |code: &str, lat: (f64, f64), lon: (f64, f64)| {
            let (la, lo) = country_centroid(code).unwrap_or_else(|| panic!("{code}"));
            assert!(
                (lat.0..=lat.1).contains(&la) && (lon.0..=lon.1).contains(&lo),
                "{code}: {la}, {lo}"
            );
        };
        inside("DE", (47.3, 55.1), (5.9, 15.0));
        // Continental US (not pulled off it by Alaska, Hawaii or the territories).
        inside("US", (25.0, 49.0), (-124.7, -67.0));
        inside("GB", (49.9, 58.7), (-8.2, 1.8));
        inside("JP", (31.0, 45.5), (129.5, 145.8));
        inside("AU", (-43.6, -10.7), (113.3, 153.6));
        inside("BR", (-33.7, 5.3), (-73.9, -34.8));
        inside("RO", (43.6, 48.3), (20.3, 29.7));
        // Countries across the antimeridian: averaged on the sphere, not in longitude.
        inside("RU", (41.2, 81.9), (27.0, 180.0));
        inside("NZ", (-47.3, -34.4), (166.4, 178.6));
        let (_, fj) = country_centroid("FJ").unwrap();
        assert!(fj.abs() > 175.0, "FJ longitude {fj}");

        assert_eq!(country_centroid("de"), country_centroid("DE"));
        for unknown in ["ZZ", "XX", "", "D", "DEU", "é"] {
            assert_eq!(country_centroid(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn great_circle_distances() {
        let berlin = (52.52, 13.405);
        let new_york = (40.7128, -74.006);
        let d = distance_km(berlin, new_york);
        assert!(close(d, 6385.0, 6385.0 * 0.01), "{d}");
        assert!(close(distance_km(new_york, berlin), d, 1e-9));
        assert_eq!(distance_km(berlin, berlin), 0.0);
        // A quarter of the circumference along the equator, half of it from pole to pole.
        let quarter = std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_KM;
        assert!(close(distance_km((0.0, 0.0), (0.0, 90.0)), quarter, 1e-6));
        assert!(close(
            distance_km((90.0, 0.0), (-90.0, 0.0)),
            2.0 * quarter,
            1e-6
        ));
        assert!(close(
            distance_km((0.0, 0.0), (0.0, 180.0)),
            2.0 * quarter,
            1e-6
        ));
        // Across the antimeridian: Fiji (Suva) to Samoa (Apia) is about 1150 km, not 40,000.
        let d = distance_km((-18.14, 178.44), (-13.83, -171.76));
        assert!(close(d, 1150.0, 30.0), "{d}");
    }
}
