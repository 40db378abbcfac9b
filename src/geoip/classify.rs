//! Parsing and classifying CloudTrail `sourceIPAddress` values, without any database.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::AddrClass;

/// Parses a `sourceIPAddress` value and says what kind of source it is.
///
/// The address is returned for every address class (IPv4-mapped IPv6 addresses come back as
/// IPv4), and `None` for service names, `"AWS Internal"` and anything unparsable.
pub fn classify(source: &str) -> (AddrClass, Option<IpAddr>) {
    let s = source.trim();
    if let Some(ip) = parse_ip(s) {
        let ip = ip.to_canonical();
        return (class_of(ip), Some(ip));
    }
    if s.eq_ignore_ascii_case("AWS Internal") {
        (AddrClass::AwsInternal, None)
    } else if is_service_name(s) {
        (AddrClass::AwsService, None)
    } else {
        (AddrClass::Unparsable, None)
    }
}

/// An IPv4 or IPv6 address, also accepting what CloudTrail writes that Rust's parser rejects:
/// IPv4 octets with leading zeros (`035.249.253.232`, read as decimal 35), an IPv6 zone
/// (`fe80::1%eth0`) and brackets (`[2001:db8::1]`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(v4) = parse_ipv4_leading_zeros(s) {
        return Some(IpAddr::V4(v4));
    }
    let inner = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(s);
    let addr = match inner.split_once('%') {
        Some((_, "")) => return None,
        Some((addr, _zone)) => addr,
        None => inner,
    };
    if addr.len() == s.len() {
        return None;
    }
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// Dotted decimal with exactly four parts of one to three digits each, each at most 255;
/// leading zeros are decimal, not octal.
fn parse_ipv4_leading_zeros(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// A DNS-name-like token such as `ec2.amazonaws.com`: dot-separated non-empty labels of ASCII
/// letters, digits, `-` and `_`, with at least one letter overall.
fn is_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The class of a parsed address. Only [`AddrClass::Public`] addresses are looked up.
pub fn class_of(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(a) => class_v4(a),
        IpAddr::V6(a) => class_v6(a),
    }
}

/// IPv4 networks that are not globally routable and not private, loopback or link-local.
const V4_RESERVED: [([u8; 4], u32); 8] = [
    // "this network"
    ([0, 0, 0, 0], 8),
    // IETF protocol assignments
    ([192, 0, 0, 0], 24),
    // TEST-NET-1, -2, -3 (documentation)
    ([192, 0, 2, 0], 24),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    // benchmarking
    ([198, 18, 0, 0], 15),
    // multicast
    ([224, 0, 0, 0], 4),
    // reserved for future use, including the broadcast address 255.255.255.255
    ([240, 0, 0, 0], 4),
];

const V4_PRIVATE: [([u8; 4], u32); 4] = [
    ([10, 0, 0, 0], 8),
    ([172, 16, 0, 0], 12),
    ([192, 168, 0, 0], 16),
    // carrier-grade NAT
    ([100, 64, 0, 0], 10),
];

/// IPv6 networks that are not globally routable and not private, loopback or link-local.
const V6_RESERVED: [(u128, u32); 5] = [
    // unspecified, IPv4-compatible and other IETF-reserved space (IPv4-mapped addresses are
    // turned into IPv4 before this)
    (0, 8),
    // discard-only
    (0x0100 << 112, 64),
    // documentation
    (0x2001_0db8 << 96, 32),
    (0x3fff << 112, 20),
    // multicast
    (0xff00 << 112, 8),
];

const V6_PRIVATE: [(u128, u32); 2] = [
    // unique local
    (0xfc00 << 112, 7),
    // site-local (deprecated)
    (0xfec0 << 112, 10),
];

/// Whether `addr` is in the network of `len` leading bits of `net`, in a `bits`-bit space.
fn in_net(addr: u128, net: u128, len: u32, bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(bits - len).unwrap_or(0);
    addr & mask == net & mask
}

fn class_v4(a: Ipv4Addr) -> AddrClass {
    let n = u128::from(u32::from(a));
    let any = |nets: &[([u8; 4], u32)]| {
        nets.iter()
            .any(|&(net, len)| in_net(n, u128::from(u32::from_be_bytes(net)), len, 32))
    };
    if a.is_loopback() {
        AddrClass::Loopback
    } else if any(&V4_PRIVATE) {
        AddrClass::Private
    } else if a.is_link_local() {
        AddrClass::LinkLocal
    } else if any(&V4_RESERVED) {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn class_v6(a: Ipv6Addr) -> AddrClass {
    let n = u128::from(a);
    let any = |nets: &[(u128, u32)]| nets.iter().any(|&(net, len)| in_net(n, net, len, 128));
    if a.is_loopback() {
        AddrClass::Loopback
    } else if in_net(n, 0xfe80 << 112, 10, 128) {
        AddrClass::LinkLocal
    } else if any(&V6_PRIVATE) {
        AddrClass::Private
    } else if any(&V6_RESERVED) {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s).0
    }

    #[test]
    fn classes_of_ipv4() {
        for s in [
            "8.8.8.8",
            "3.80.10.10",
            "1.1.1.1",
            "223.255.255.255",
            "100.128.0.1",
        ] {
            assert_eq!(class(s), AddrClass::Public, "{s}");
        }
        for s in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
        ] {
            assert_eq!(class(s), AddrClass::Private, "{s}");
        }
        assert_eq!(class("172.32.0.1"), AddrClass::Public);
        assert_eq!(class("172.15.255.255"), AddrClass::Public);
        assert_eq!(class("127.0.0.1"), AddrClass::Loopback);
        assert_eq!(class("127.255.0.9"), AddrClass::Loopback);
        assert_eq!(class("169.254.169.254"), AddrClass::LinkLocal);
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
        ] {
            assert_eq!(class(s), AddrClass::Reserved, "{s}");
        }
    }

    #[test]
    fn classes_of_ipv6() {
        assert_eq!(class("2001:4860:4860::8888"), AddrClass::Public);
        assert_eq!(class("2600:1f18::1"), AddrClass::Public);
        assert_eq!(class("::1"), AddrClass::Loopback);
        assert_eq!(class("fe80::1"), AddrClass::LinkLocal);
        assert_eq!(class("febf::1"), AddrClass::LinkLocal);
        assert_eq!(class("fe80::1%eth0"), AddrClass::LinkLocal);
        assert_eq!(class("fc00::1"), AddrClass::Private);
        assert_eq!(class("fd12:3456::1"), AddrClass::Private);
        for s in [
            "::",
            "2001:db8::1",
            "2001:db8:ffff::",
            "ff02::1",
            "3fff::1",
            "100::1",
        ] {
            assert_eq!(class(s), AddrClass::Reserved, "{s}");
        }
    }

    #[test]
    fn ipv4_mapped_becomes_ipv4() {
        assert_eq!(
            classify("::ffff:8.8.8.8"),
            (
                AddrClass::Public,
                Some(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)))
            )
        );
        assert_eq!(classify("::ffff:10.0.0.1").0, AddrClass::Private);
        assert_eq!(
            classify("[2001:4860:4860::8888]").1,
            Some("2001:4860:4860::8888".parse().unwrap())
        );
    }

    #[test]
    fn leading_zeros_are_decimal() {
        assert_eq!(
            classify("035.249.253.232"),
            (
                AddrClass::Public,
                Some(IpAddr::V4(Ipv4Addr::new(35, 249, 253, 232)))
            )
        );
        assert_eq!(
            classify("255.090.254.5").1,
            Some(IpAddr::V4(Ipv4Addr::new(255, 90, 254, 5)))
        );
        assert_eq!(
            classify("010.000.000.001"),
            (
                AddrClass::Private,
                Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
            )
        );
        assert_eq!(
            classify(" 8.8.8.8 ").1,
            Some(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)))
        );
        for bad in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "0001.2.3.4",
            "1..2.3",
            "1.2.3.-4",
        ] {
            assert_eq!(classify(bad), (AddrClass::Unparsable, None), "{bad}");
        }
    }

    #[test]
    fn names_and_odd_values() {
        for s in [
            "ec2.amazonaws.com",
            "lambda.amazonaws.com",
            "signin.amazonaws.com",
            "cloudformation.amazonaws.com",
            "s3.cn-north-1.amazonaws.com.cn",
            "internal.example",
        ] {
            assert_eq!(classify(s), (AddrClass::AwsService, None), "{s}");
        }
        assert_eq!(classify("AWS Internal"), (AddrClass::AwsInternal, None));
        assert_eq!(classify("aws internal"), (AddrClass::AwsInternal, None));
        for s in [
            "",
            "  ",
            "-",
            "not an address",
            "ec2",
            "a..b",
            "x.amazonaws.com/",
            "fe80::1%",
        ] {
            assert_eq!(classify(s), (AddrClass::Unparsable, None), "{s:?}");
        }
    }
}
