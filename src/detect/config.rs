//! Detection thresholds and allowlists: a TOML file with documented defaults.
//!
//! `trailhound hunt --print-config` prints the defaults below as a file to start from; every key
//! is optional, unknown keys are rejected with the list of valid ones.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;

/// Everything a hunt can be tuned with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub learning: Learning,
    pub failed_then_success: FailedThenSuccess,
    pub odd_ip: OddIp,
    pub unusual_hour: UnusualHour,
    pub deep_role_chain: DeepRoleChain,
    pub impossible_travel: ImpossibleTravel,
    pub role_enumeration: RoleEnumeration,
    pub api_enumeration: ApiEnumeration,
    pub fan_out: FanOut,
    pub location: Location,
    pub allowlist: Allowlist,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiEnumeration {
    /// Distinct APIs (service + call) denied to one principal...
    pub min_apis: usize,
    /// ...across at least this many services...
    pub min_services: usize,
    /// ...within this many minutes.
    pub window_minutes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FanOut {
    /// Distinct roles one caller (a key or a session) of a root principal opens sessions in...
    pub min_roles: usize,
    /// ...or distinct accounts...
    pub min_accounts: usize,
    /// ...within this many minutes.
    pub window_minutes: i64,
}

/// Where an address says nothing about where a person is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Location {
    /// Networks whose addresses are egress points, not places: cloud providers and hosting
    /// (workloads, CI runners) and corporate or privacy egress (SASE, VPN, secure web gateways,
    /// relays). Their country is not taken as where a person is: impossible_travel skips them
    /// and odd_ip judges only the network. Add your own VPN's AS number here.
    pub egress_asns: Vec<u32>,
}

impl Default for ApiEnumeration {
    fn default() -> Self {
        ApiEnumeration {
            min_apis: 20,
            min_services: 3,
            window_minutes: 60,
        }
    }
}

impl Default for FanOut {
    fn default() -> Self {
        FanOut {
            min_roles: 5,
            min_accounts: 4,
            window_minutes: 10,
        }
    }
}

/// Cloud and hosting providers, then corporate and privacy egress networks.
pub const EGRESS_ASNS: [u32; 30] = [
    // Amazon, Microsoft, Google, Oracle, Alibaba, IBM, Tencent
    16509, 14618, 8075, 8068, 15169, 396982, 31898, 45102, 36351, 132203,
    // DigitalOcean, Linode, OVH, Hetzner, Vultr, Scaleway, Contabo, M247, Leaseweb
    14061, 63949, 16276, 24940, 20473, 12876, 51167, 9009, 60781,
    // Zscaler, Netskope, Cloudflare (WARP, gateway), Cisco Umbrella, Akamai and Fastly
    // (iCloud Private Relay egress), Apple
    53813, 62044, 22616, 55256, 13335, 36692, 20940, 16625, 36183, 54113, 714,
];

impl Default for Location {
    fn default() -> Self {
        Location {
            egress_asns: EGRESS_ASNS.to_vec(),
        }
    }
}

/// How much history a principal needs before it is judged against it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Learning {
    /// Days between a principal's first event and the first finding that compares with its history.
    pub min_days: f64,
    /// Events a principal must have made before its history is trusted.
    pub min_events: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FailedThenSuccess {
    /// Denied AssumeRole* calls needed before a success.
    pub min_failures: usize,
    /// Window for AssumeRole* denials and the success, in minutes.
    pub window_minutes: i64,
    /// Window for failed console sign-ins before a successful one, in hours.
    pub console_window_hours: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OddIp {
    /// Compare countries.
    pub countries: bool,
    /// Compare autonomous systems (networks).
    pub asns: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UnusualHour {
    /// Active days a principal needs before its hours are judged.
    pub min_active_days: usize,
    /// Events it needs.
    pub min_events: u64,
    /// An hour is unusual when, across all days, less than this share of the principal's events
    /// fell within one hour of it (UTC), and none on the same weekday within one hour.
    pub max_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DeepRoleChain {
    /// Sessions at least this deep are reported.
    pub min_depth: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ImpossibleTravel {
    /// Speed above which two places cannot both be real, in km/h.
    pub max_speed_kmh: f64,
    /// Places closer than this are not compared (country centroids are coarse), in km.
    pub min_distance_km: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RoleEnumeration {
    /// Distinct roles denied to one caller...
    pub min_roles: usize,
    /// ...within this many minutes.
    pub window_minutes: i64,
}

/// Sources never reported as odd.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Allowlist {
    /// Networks, e.g. "203.0.113.0/24" (a VPN egress).
    pub cidrs: Vec<String>,
    /// Autonomous system numbers, e.g. 16509.
    pub asns: Vec<u32>,
    /// Principals (root principal ARN, role ARN or subject) never reported.
    pub principals: Vec<String>,
}

impl Default for Learning {
    fn default() -> Self {
        Learning {
            min_days: 3.0,
            min_events: 3,
        }
    }
}

impl Default for FailedThenSuccess {
    fn default() -> Self {
        FailedThenSuccess {
            min_failures: 2,
            window_minutes: 15,
            console_window_hours: 72,
        }
    }
}

impl Default for OddIp {
    fn default() -> Self {
        OddIp {
            countries: true,
            asns: true,
        }
    }
}

impl Default for UnusualHour {
    fn default() -> Self {
        UnusualHour {
            min_active_days: 5,
            min_events: 50,
            max_share: 0.005,
        }
    }
}

impl Default for DeepRoleChain {
    fn default() -> Self {
        DeepRoleChain { min_depth: 3 }
    }
}

impl Default for ImpossibleTravel {
    fn default() -> Self {
        ImpossibleTravel {
            max_speed_kmh: 1000.0,
            min_distance_km: 500.0,
        }
    }
}

impl Default for RoleEnumeration {
    fn default() -> Self {
        RoleEnumeration {
            min_roles: 5,
            window_minutes: 60,
        }
    }
}

/// A parsed CIDR.
#[derive(Debug, Clone, Copy)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = s.split_once('/').unwrap_or((s, ""));
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a CIDR like 203.0.113.0/24"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = if bits.is_empty() {
            max
        } else {
            bits.parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The longest window a detection takes: a year, in minutes.
const MAX_WINDOW_MINUTES: i64 = 366 * 24 * 60;

impl DetectConfig {
    /// Reads a config file; every problem is reported at once, with the file name.
    pub fn load(path: &Path) -> Result<DetectConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let cfg: DetectConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let problems = cfg.validate();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems
                .iter()
                .map(|p| format!("{}: {p}", path.display()))
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    /// Every problem with the values, one line each.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        for c in &self.allowlist.cidrs {
            if let Err(e) = Cidr::parse(c) {
                p.push(format!("allowlist.cidrs: {e}"));
            }
        }
        // Windows are multiplied out to milliseconds: keep them positive and far from overflow.
        for (key, value, max) in [
            (
                "failed_then_success.window_minutes",
                self.failed_then_success.window_minutes,
                MAX_WINDOW_MINUTES,
            ),
            (
                "failed_then_success.console_window_hours",
                self.failed_then_success.console_window_hours,
                MAX_WINDOW_MINUTES / 60,
            ),
            (
                "role_enumeration.window_minutes",
                self.role_enumeration.window_minutes,
                MAX_WINDOW_MINUTES,
            ),
            (
                "api_enumeration.window_minutes",
                self.api_enumeration.window_minutes,
                MAX_WINDOW_MINUTES,
            ),
            (
                "fan_out.window_minutes",
                self.fan_out.window_minutes,
                MAX_WINDOW_MINUTES,
            ),
        ] {
            if !(1..=max).contains(&value) {
                p.push(format!("{key}: must be between 1 and {max}"));
            }
        }
        if self.failed_then_success.min_failures == 0 {
            p.push("failed_then_success.min_failures: must be at least 1".into());
        }
        if self.deep_role_chain.min_depth < 2 {
            p.push("deep_role_chain.min_depth: must be at least 2 (1 is every session)".into());
        }
        if !(0.0..=1.0).contains(&self.unusual_hour.max_share) {
            p.push("unusual_hour.max_share: must be between 0 and 1".into());
        }
        if self.role_enumeration.min_roles < 2 {
            p.push("role_enumeration.min_roles: must be at least 2".into());
        }
        if self.api_enumeration.min_apis < 2 {
            p.push("api_enumeration.min_apis: must be at least 2".into());
        }
        if self.fan_out.min_roles < 2 || self.fan_out.min_accounts < 2 {
            p.push("fan_out.min_roles and fan_out.min_accounts: must be at least 2".into());
        }
        p
    }

    pub fn cidrs(&self) -> Vec<Cidr> {
        self.allowlist
            .cidrs
            .iter()
            .filter_map(|c| Cidr::parse(c).ok())
            .collect()
    }

    /// The defaults, as a commented TOML file.
    pub fn default_toml() -> String {
        let body = toml::to_string_pretty(&DetectConfig::default()).unwrap_or_default();
        format!(
            "# trailhound hunt configuration: the defaults. Every key is optional.\n\
             # learning: history a principal needs before odd_ip/unusual_hour compare with it.\n\
             # allowlist: cidrs, asns and principals that are never reported.\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.1.0.0/33").is_err());
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn unknown_keys_are_rejected_and_defaults_round_trip() {
        let e = toml::from_str::<DetectConfig>("[odd_ip]\ncountrys = true\n").unwrap_err();
        assert!(e.to_string().contains("countrys"), "{e}");
        let back: DetectConfig = toml::from_str(&DetectConfig::default_toml()).unwrap();
        assert_eq!(back, DetectConfig::default());
    }

    #[test]
    fn windows_out_of_range_are_rejected() {
        // Found by `trailhound fuzz` (seed 1, input 7291): a window of i64::MAX minutes
        // overflowed to a negative window and role_enumeration indexed past its list.
        let mut c = DetectConfig::default();
        c.role_enumeration.window_minutes = i64::MAX;
        c.failed_then_success.window_minutes = 0;
        c.failed_then_success.console_window_hours = -1;
        let p = c.validate();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("between 1 and"), "{p:?}");
    }

    #[test]
    fn every_problem_is_listed() {
        let mut c = DetectConfig::default();
        c.allowlist.cidrs = vec!["nope".into(), "1.2.3.0/99".into()];
        c.deep_role_chain.min_depth = 1;
        assert_eq!(c.validate().len(), 3);
    }
}
