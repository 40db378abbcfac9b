//! Every source address the generator writes, in ONE table.
//!
//! Each pool says what it stands for and where a GeoIP database should place it (country, ASN and
//! provider). The entries were checked against `data/geoip/dbip-country.mmdb` and
//! `data/geoip/asn.mmdb` (three addresses in every /24 of each prefix, and each single address:
//! all in the stated country and ASN): adjust a pool here if a newer database moves it. All are real, routable public addresses (no documentation
//! ranges), except the VPC pool, which is private on purpose (calls through a VPC endpoint).
//!
//! A pool holds single addresses (`a.b.c.d`) or prefixes (`a.b.c.d/len`); a draw from a prefix
//! picks a host in it (never the network or broadcast address).

use super::rng::Draw;

/// A named set of addresses with the location a GeoIP lookup should give.
pub(crate) struct Pool {
    /// What the addresses stand for (documentation; listed by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub purpose: &'static str,
    pub country: &'static str,
    pub asn: &'static str,
    pub nets: &'static [&'static str],
}

// ---------------------------------------------------------------------------------------------
// purpose                                   country  ASN / provider
// ---------------------------------------------------------------------------------------------
/// maria.gonzalez, New York office uplink.
pub(crate) const NY_OFFICE: Pool = Pool {
    purpose: "New York office (maria.gonzalez)",
    country: "US",
    asn: "AS174 Cogent Communications",
    nets: &["38.122.20.10"],
};
/// maria.gonzalez, home (Verizon Fios).
pub(crate) const NY_HOME: Pool = Pool {
    purpose: "New York home (maria.gonzalez)",
    country: "US",
    asn: "AS701 Verizon Business",
    nets: &["100.37.12.40"],
};
/// On-prem servers of the reporting and partner-portal service users (NY colocation).
pub(crate) const NY_DATACENTER: Pool = Pool {
    purpose: "New York colocation (svc-reporting, svc-portal)",
    country: "US",
    asn: "AS6461 Zayo Bandwidth",
    nets: &["64.125.14.10"],
};
/// priya.raman, home in Austin (works late evenings).
pub(crate) const AUSTIN_HOME: Pool = Pool {
    purpose: "Austin home (priya.raman)",
    country: "US",
    asn: "AS11427 Charter Communications",
    nets: &["70.112.44.9"],
};
/// priya.raman, coworking space in Austin.
pub(crate) const AUSTIN_COWORK: Pool = Pool {
    purpose: "Austin coworking (priya.raman)",
    country: "US",
    asn: "AS7018 AT&T",
    nets: &["99.61.20.5"],
};
/// jonas.weber, Berlin office.
pub(crate) const BERLIN_OFFICE: Pool = Pool {
    purpose: "Berlin office (jonas.weber)",
    country: "DE",
    asn: "AS3320 Deutsche Telekom",
    nets: &["217.6.4.23"],
};
/// jonas.weber, Berlin home (cable).
pub(crate) const BERLIN_HOME: Pool = Pool {
    purpose: "Berlin home (jonas.weber)",
    country: "DE",
    asn: "AS3209 Vodafone GmbH",
    nets: &["91.64.120.3"],
};
/// tom.harris, London office.
pub(crate) const LONDON_OFFICE: Pool = Pool {
    purpose: "London office (tom.harris)",
    country: "GB",
    asn: "AS2856 British Telecommunications",
    nets: &["81.128.100.9"],
};
/// tom.harris, London home.
pub(crate) const LONDON_HOME: Pool = Pool {
    purpose: "London home (tom.harris)",
    country: "GB",
    asn: "AS5089 Virgin Media",
    nets: &["82.14.200.3"],
};
/// li.chen (Okta SAML), Los Angeles office.
pub(crate) const LA_OFFICE: Pool = Pool {
    purpose: "Los Angeles office (li.chen, SAML)",
    country: "US",
    asn: "AS174 Cogent Communications",
    nets: &["38.104.120.18"],
};
/// li.chen (Okta SAML), home.
pub(crate) const LA_HOME: Pool = Pool {
    purpose: "Los Angeles home (li.chen, SAML)",
    country: "US",
    asn: "AS7922 Comcast Cable",
    nets: &["73.189.20.2"],
};
/// GitHub-hosted Actions runners: Microsoft Azure, many addresses of one provider.
pub(crate) const GITHUB_RUNNERS: Pool = Pool {
    purpose: "GitHub-hosted Actions runners (Azure)",
    country: "US",
    asn: "AS8075 Microsoft Corporation",
    nets: &[
        "20.29.0.0/16",
        "20.57.0.0/16",
        "40.76.0.0/16",
        "52.168.0.0/16",
        "13.90.0.0/16",
        "52.179.0.0/16",
        "13.64.0.0/16",
        "40.84.0.0/16",
    ],
};
/// Lambda functions and other AWS-hosted callers in us-east-1: AS14618 (Amazon's us-east-1 EC2
/// network) only, so that one function's addresses stay in one network. (Not 44.192.0.0/11: a
/// few of its /24s are placed in Canada and Israel.)
pub(crate) const AWS_US_EAST_1: Pool = Pool {
    purpose: "AWS us-east-1 (Lambda egress, EC2)",
    country: "US",
    asn: "AS14618 Amazon.com",
    nets: &[
        "3.80.0.0/12",
        "18.204.0.0/14",
        "34.192.0.0/12",
        "3.208.0.0/12",
        "52.72.0.0/15",
        "100.24.0.0/13",
    ],
};
/// AWS-hosted callers in us-west-2.
pub(crate) const AWS_US_WEST_2: Pool = Pool {
    purpose: "AWS us-west-2 (Lambda egress, EC2)",
    country: "US",
    asn: "AS16509 Amazon.com",
    nets: &["35.80.0.0/12", "44.224.0.0/11", "54.184.0.0/13"],
};
/// AWS-hosted callers in eu-central-1.
pub(crate) const AWS_EU_CENTRAL_1: Pool = Pool {
    purpose: "AWS eu-central-1 (Lambda egress, EC2)",
    country: "DE",
    asn: "AS16509 Amazon.com",
    nets: &["3.64.0.0/12"],
};
/// Elastic IPs of the sample's EC2 instances (app-1, app-2 in us-east-1; batch in us-west-2).
/// app-1 calls AWS through VPC endpoints (see [`VPC_PRIVATE`]), so its address shows only in
/// descriptions.
pub(crate) const EC2_EIPS: Pool = Pool {
    purpose: "EC2 instance public addresses (app-1, app-2, batch-1)",
    country: "US",
    asn: "AS14618 (us-east-1) / AS16509 (us-west-2) Amazon.com",
    nets: &["3.87.142.19", "44.204.83.121", "35.88.163.45"],
};
/// Private VPC addresses, seen when an instance calls through an interface VPC endpoint.
pub(crate) const VPC_PRIVATE: Pool = Pool {
    purpose: "VPC private addresses (calls through a VPC endpoint)",
    country: "-",
    asn: "- (RFC 1918)",
    nets: &["10.20.0.0/16"],
};
/// Attacker of `failed_then_success` / `odd_ip`: a hosting provider in a country no normal
/// principal uses.
pub(crate) const ATTACKER_HOSTING: Pool = Pool {
    purpose: "attacker using svc-reporting's stolen access key",
    country: "RU",
    asn: "AS198610 Beget LLC",
    nets: &["45.146.165.37"],
};
/// Where the stolen instance credentials are used from (`credential_exfiltration`).
pub(crate) const EXFIL_VPS: Pool = Pool {
    purpose: "VPS using app-1's stolen instance-profile credentials",
    country: "SG",
    asn: "AS14061 DigitalOcean",
    nets: &["159.89.200.117"],
};
/// Home and office networks of the extra people a large corpus adds, by country.
pub(crate) const CORPUS_US: Pool = Pool {
    purpose: "corpus staff, United States",
    country: "US",
    asn: "AS7922 Comcast / AS701 Verizon / AS11427 Charter",
    nets: &["73.97.0.0/16", "100.37.0.0/16", "70.112.0.0/16"],
};
pub(crate) const CORPUS_DE: Pool = Pool {
    purpose: "corpus staff, Germany",
    country: "DE",
    asn: "AS3209 Vodafone / AS3320 Deutsche Telekom",
    nets: &["91.64.0.0/16", "188.192.0.0/16", "217.86.0.0/16"],
};
pub(crate) const CORPUS_GB: Pool = Pool {
    purpose: "corpus staff, United Kingdom",
    country: "GB",
    asn: "AS5089 Virgin Media / AS2856 BT",
    nets: &["82.14.0.0/16", "86.30.0.0/16", "81.128.0.0/16"],
};

/// All pools, for listing and checking.
#[cfg(test)]
pub(crate) const ALL: &[&Pool] = &[
    &NY_OFFICE,
    &NY_HOME,
    &NY_DATACENTER,
    &AUSTIN_HOME,
    &AUSTIN_COWORK,
    &BERLIN_OFFICE,
    &BERLIN_HOME,
    &LONDON_OFFICE,
    &LONDON_HOME,
    &LA_OFFICE,
    &LA_HOME,
    &GITHUB_RUNNERS,
    &AWS_US_EAST_1,
    &AWS_US_WEST_2,
    &AWS_EU_CENTRAL_1,
    &EC2_EIPS,
    &VPC_PRIVATE,
    &ATTACKER_HOSTING,
    &EXFIL_VPS,
    &CORPUS_US,
    &CORPUS_DE,
    &CORPUS_GB,
];

fn parse(net: &str) -> ([u8; 4], u32) {
    let (addr, len) = match net.split_once('/') {
        Some((a, l)) => (a, l.parse().unwrap_or(32)),
        None => (net, 32),
    };
    let mut o = [0u8; 4];
    for (slot, part) in o.iter_mut().zip(addr.split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    (o, len)
}

impl Pool {
    /// The `i`-th entry's first address (for single-address entries: the address).
    pub(crate) fn nth(&self, i: usize) -> [u8; 4] {
        parse(self.nets[i % self.nets.len()]).0
    }

    /// A random address of the pool.
    pub(crate) fn draw<R: Draw>(&self, rng: &mut R) -> [u8; 4] {
        let (base, len) = parse(self.nets[rng.below(self.nets.len() as u64) as usize]);
        if len >= 31 {
            return base;
        }
        let host_bits = 32 - len;
        let size = 1u64 << host_bits;
        let host = 1 + rng.below(size - 2) as u32;
        let b = u32::from_be_bytes(base) & (u32::MAX << host_bits);
        (b | host).to_be_bytes()
    }

    /// Whether `ip` lies in one of the pool's entries.
    #[cfg(test)]
    pub(crate) fn contains(&self, ip: [u8; 4]) -> bool {
        self.nets.iter().any(|n| {
            let (base, len) = parse(n);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from_be_bytes(base) & mask == u32::from_be_bytes(ip) & mask
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_and_contain_their_draws() {
        let mut rng = crate::rng::derive(1, "ips");
        for p in ALL {
            assert!(!p.purpose.is_empty() && !p.country.is_empty() && !p.asn.is_empty());
            for _ in 0..50 {
                let ip = p.draw(&mut rng);
                assert!(p.contains(ip), "{} drew {ip:?}", p.purpose);
                assert_ne!(ip[0], 0);
                // Never a documentation range.
                let doc = matches!(ip, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]);
                assert!(!doc);
            }
        }
    }
}
