//! What is normal for each principal, as learned from the stored history: where it comes from
//! (countries, networks, address blocks), with what (user agents), when (hour of week), which
//! roles it assumes, and since when. Written to `STATE/baselines.json` after every run and
//! explained by `trailhound baseline show`.

use crate::detect::{agent_family, principal_text, week_hour, WEEKDAYS};
use crate::event::{format_iso, Event, Millis, Text};
use crate::geoip::GeoIp;
use crate::graph::{Graph, Lookup};
use serde::{Deserialize, Serialize};
// foldhash, not SipHash (the graph's map): every event of a night is counted here.
use crate::graph::HashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One principal's profile. Counts are calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub principal: String,
    pub first_seen: String,
    pub last_seen: String,
    pub events: u64,
    pub errors: u64,
    #[serde(deserialize_with = "in_bulk")]
    pub accounts: BTreeMap<String, u64>,
    #[serde(deserialize_with = "in_bulk")]
    pub countries: BTreeMap<String, u64>,
    /// `AS<number> <organisation>`.
    #[serde(deserialize_with = "in_bulk")]
    pub asns: BTreeMap<String, u64>,
    /// Source address blocks: /24 for IPv4, /48 for IPv6; service names as they are. Each
    /// block expires when unseen for a while (`report --block-days`), as a principal does for
    /// longer: a principal that stays active keeps calling from new blocks (clouds' addresses,
    /// mobile networks). The calls are those since the principal last came back to it.
    #[serde(deserialize_with = "in_bulk")]
    pub networks: BTreeMap<String, Seen>,
    /// User agent families (the first word of the agent, lowercased, without its version).
    #[serde(deserialize_with = "in_bulk")]
    pub user_agents: BTreeMap<String, u64>,
    /// Calls per hour of the week, UTC; index 0 is Monday 00:00.
    pub hour_of_week: Vec<u64>,
    /// Roles this principal's chains assumed (successful AssumeRole* calls).
    #[serde(deserialize_with = "in_bulk")]
    pub roles_assumed: BTreeMap<String, u64>,
}

/// Calls from an address block, and when the last was made (for expiry). `baselines.json` and
/// other text give the calls only; the engine state (MessagePack) both, as `[calls, last]`. A
/// block read with its calls only (from `baselines.json`, or an engine state of an earlier
/// version) was last seen when its principal was ([`Seen::UNKNOWN`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub calls: u64,
    pub last: Millis,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            calls: 0,
            last: Seen::UNKNOWN,
        }
    }
}

impl Seen {
    /// The time of a block read with its calls only.
    pub const UNKNOWN: Millis = Millis::MIN;
}

/// Both counts of a block: calls added, the later last call.
impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Seen) {
        self.calls += o.calls;
        self.last = self.last.max(o.last);
    }
}

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_u64(self.calls)
        } else {
            (self.calls, self.last).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seen, D::Error> {
        struct Calls;
        impl<'de> serde::de::Visitor<'de> for Calls {
            type Value = Seen;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("calls, or [calls, last seen]")
            }
            fn visit_u64<E: serde::de::Error>(self, calls: u64) -> Result<Seen, E> {
                Ok(Seen {
                    calls,
                    last: Seen::UNKNOWN,
                })
            }
            fn visit_i64<E: serde::de::Error>(self, calls: i64) -> Result<Seen, E> {
                u64::try_from(calls)
                    .map_err(|_| E::custom(format!("{calls} calls")))
                    .and_then(|c| self.visit_u64(c))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
                let calls = a
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let last = a
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?;
                Ok(Seen { calls, last })
            }
        }
        d.deserialize_any(Calls)
    }
}

/// Every principal's profile, learned slice by slice as events stream, with when each was
/// first and last seen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(deserialize_with = "in_bulk")]
    profiles: BTreeMap<String, Profile>,
    #[serde(deserialize_with = "in_bulk")]
    spans: BTreeMap<String, (Millis, Millis)>,
}

/// A map read back into a B-tree built in bulk from its entries (serde's own inserts each
/// entry, searching the tree for it: most of reading a state's profiles). A map written in key
/// order, as profiles are, is sorted already; a key written twice keeps its last value, as
/// inserting would.
fn in_bulk<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> serde::de::Visitor<'de>
        for Entries<K, V>
    {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(m.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(e) = m.next_entry()? {
                entries.push(e);
            }
            Ok(entries.into_iter().collect())
        }
    }
    d.deserialize_map(Entries(std::marker::PhantomData))
}

/// The principal of each event of a slice, as profiles count it ([`principal_text`]): `None`
/// for shared copies of cross-account calls and calls of no known principal. Held apart from
/// the graph (the shared texts cloned, not copied), so a slice can be counted on another
/// thread while the engine takes the next.
pub fn principals(events: &[Event], sessions: &impl Lookup) -> Vec<Option<Text>> {
    events
        .iter()
        .map(|e| {
            if e.shared_copy {
                None
            } else {
                principal_text(sessions, e).cloned()
            }
        })
        .collect()
}

/// Events counted per principal before they are added to the profiles (one map update per
/// distinct value, not per event): several slices may be counted, block by block beside other
/// counts of the same block while its events are in the cache, before [`Profiles::add`].
pub struct Counter {
    /// How long a principal may stay away from an address block and come back to the same
    /// count: after a longer absence its calls are counted afresh, as the block expired
    /// ([`Profiles::expire_blocks`]) between nightly runs would have been. So one run over many
    /// days and nightly runs over the same days keep the same counts (events come in time
    /// order).
    block_gap: Millis,
    /// Each address counted, looked up once: the indices of its country, network and address
    /// block in `names`.
    place_of: HashMap<Text, Place>,
    /// Each user agent counted, its family found once: its index in `names`.
    family_of: HashMap<Text, u32>,
    /// The countries, networks, blocks and families counted, each once.
    names: Vec<String>,
    index: HashMap<String, u32>,
    principals: HashMap<Text, Counts>,
}

/// What the counted events tell of one principal; countries, networks, blocks and user agent
/// families by their index in the counter's names.
struct Counts {
    first: Millis,
    last: Millis,
    events: u64,
    errors: u64,
    accounts: HashMap<Text, u64>,
    countries: HashMap<u32, u64>,
    asns: HashMap<u32, u64>,
    /// Calls from each address block since the principal last came back to it.
    networks: HashMap<u32, Streak>,
    user_agents: HashMap<u32, u64>,
    hour_of_week: HashMap<usize, u64>,
    roles_assumed: HashMap<Text, u64>,
}

/// Calls from an address block as a counter counts them: those since the principal last
/// came back to it after more than the counter's gap (`fresh`: the counter saw that absence
/// itself), the first and the last of them.
#[derive(Clone, Copy)]
struct Streak {
    calls: u64,
    first: Millis,
    last: Millis,
    fresh: bool,
}

impl Streak {
    fn new(at: Millis) -> Streak {
        Streak {
            calls: 1,
            first: at,
            last: at,
            fresh: false,
        }
    }

    /// One more call at `at`: counted afresh after an absence longer than `gap`.
    fn call(&mut self, at: Millis, gap: Millis) {
        if at.saturating_sub(self.last) > gap {
            *self = Streak {
                fresh: true,
                ..Streak::new(at)
            };
        } else {
            // A call delivered late may come before the first.
            self.calls += 1;
            self.first = self.first.min(at);
            self.last = self.last.max(at);
        }
    }
}

impl Default for Counter {
    fn default() -> Counter {
        Counter::new(Millis::MAX)
    }
}

/// Where an address is: country, `AS<number> <organisation>`, address block (indices of
/// names).
type Place = (Option<u32>, Option<u32>, u32);

/// Counts `key` in `m`, the key's text shared, not copied.
fn bump(m: &mut HashMap<Text, u64>, key: &Text) {
    match m.get_mut(&**key) {
        Some(n) => *n += 1,
        None => {
            m.insert(key.clone(), 1);
        }
    }
}

impl Counter {
    /// A counter that counts a principal's calls from an address block afresh when it comes
    /// back to the block after more than `block_gap` away.
    pub fn new(block_gap: Millis) -> Counter {
        Counter {
            block_gap,
            place_of: HashMap::default(),
            family_of: HashMap::default(),
            names: Vec::new(),
            index: HashMap::default(),
            principals: HashMap::default(),
        }
    }

    /// Counts events whose principals are known: `principals[i]` is that of `events[i]`
    /// ([`principals`]); events of none are not counted.
    pub fn count(&mut self, events: &[Event], principals: &[Option<Text>], geo: &GeoIp) {
        let Counter {
            block_gap,
            place_of,
            family_of,
            names,
            index,
            principals: counts,
        } = self;
        let gap = *block_gap;
        let mut name = |n: String| -> u32 {
            *index.entry(n).or_insert_with_key(|n| {
                names.push(n.clone());
                (names.len() - 1) as u32
            })
        };
        for (e, p) in events.iter().zip(principals) {
            let Some(p) = p else {
                continue;
            };
            let c = match counts.get_mut(&**p) {
                Some(c) => c,
                None => counts.entry(p.clone()).or_insert_with(|| Counts {
                    first: e.event_time,
                    last: e.event_time,
                    events: 0,
                    errors: 0,
                    accounts: HashMap::default(),
                    countries: HashMap::default(),
                    asns: HashMap::default(),
                    networks: HashMap::default(),
                    user_agents: HashMap::default(),
                    hour_of_week: HashMap::default(),
                    roles_assumed: HashMap::default(),
                }),
            };
            c.first = c.first.min(e.event_time);
            c.last = c.last.max(e.event_time);
            c.events += 1;
            c.errors += u64::from(e.is_error);
            if let Some(a) = &e.recipient_account_id {
                bump(&mut c.accounts, a);
            }
            if let Some(ip) = &e.source_ip {
                let (country, asn, net) = match place_of.get(&**ip) {
                    Some(place) => *place,
                    None => {
                        let i = geo.lookup(ip);
                        let asn = i.asn.map(|a| {
                            format!("AS{a} {}", i.as_org.as_deref().unwrap_or(""))
                                .trim()
                                .to_string()
                        });
                        let place = (
                            i.country.map(&mut name),
                            asn.map(&mut name),
                            name(network(ip)),
                        );
                        place_of.insert(ip.clone(), place);
                        place
                    }
                };
                if let Some(country) = country {
                    *c.countries.entry(country).or_default() += 1;
                }
                if let Some(asn) = asn {
                    *c.asns.entry(asn).or_default() += 1;
                }
                c.networks
                    .entry(net)
                    .and_modify(|streak| streak.call(e.event_time, gap))
                    .or_insert_with(|| Streak::new(e.event_time));
            }
            if let Some(ua) = &e.user_agent {
                let f = match family_of.get(&**ua) {
                    Some(f) => *f,
                    None => {
                        let f = name(agent_family(ua));
                        family_of.insert(ua.clone(), f);
                        f
                    }
                };
                *c.user_agents.entry(f).or_default() += 1;
            }
            let (wd, h) = week_hour(e.event_time);
            *c.hour_of_week.entry(wd * 24 + h).or_default() += 1;
            if e.is_issuing_call && !e.is_error {
                if let Some(r) = &e.sts().requested_role_arn {
                    bump(&mut c.roles_assumed, r);
                }
            }
        }
    }

    /// How many addresses, user agents and principals it holds: what it costs in memory.
    pub fn held(&self) -> usize {
        self.place_of.len() + self.family_of.len() + self.principals.len()
    }
}

impl Profiles {
    /// Learns from a slice of events (shared copies of cross-account calls not counted).
    pub fn observe(&mut self, events: &[Event], sessions: &impl Lookup, geo: &GeoIp) {
        self.observe_as(events, &principals(events, sessions), geo);
    }

    /// Learns from a slice of events whose principals are known: `principals[i]` is that of
    /// `events[i]` ([`principals`]); events of none are not counted.
    pub fn observe_as(&mut self, events: &[Event], principals: &[Option<Text>], geo: &GeoIp) {
        let mut counter = Counter::default();
        counter.count(events, principals, geo);
        self.add(counter);
    }

    /// Adds what a counter counted. Counts are sums, first and last seen a minimum and a
    /// maximum, so neither the order of the principals nor how the events were cut into
    /// counters matters. An address block's calls start again when the counter's first call
    /// from it comes after more than the counter's gap (see [`Counter::new`]): counters added
    /// in the order of their events count as one counter over them all would.
    pub fn add(&mut self, counter: Counter) {
        fn add<K: AsRef<str>, V: std::ops::AddAssign>(
            m: &mut BTreeMap<String, V>,
            counts: impl IntoIterator<Item = (K, V)>,
        ) {
            for (k, n) in counts {
                match m.get_mut(k.as_ref()) {
                    Some(have) => *have += n,
                    None => {
                        m.insert(k.as_ref().to_string(), n);
                    }
                }
            }
        }
        let Counter {
            block_gap,
            names,
            principals,
            ..
        } = counter;
        fn named<V>(names: &[String], m: HashMap<u32, V>) -> impl Iterator<Item = (&str, V)> {
            m.into_iter().map(|(i, n)| (names[i as usize].as_str(), n))
        }
        for (p, c) in principals {
            let p = &*p;
            match self.spans.get_mut(p) {
                Some(span) => {
                    span.0 = span.0.min(c.first);
                    span.1 = span.1.max(c.last);
                }
                None => {
                    self.spans.insert(p.to_string(), (c.first, c.last));
                }
            }
            let prof = match self.profiles.get_mut(p) {
                Some(prof) => prof,
                None => self
                    .profiles
                    .entry(p.to_string())
                    .or_insert_with(|| Profile {
                        principal: p.to_string(),
                        hour_of_week: vec![0; 168],
                        ..Profile::default()
                    }),
            };
            prof.events += c.events;
            prof.errors += c.errors;
            add(&mut prof.accounts, c.accounts);
            add(&mut prof.countries, named(&names, c.countries));
            add(&mut prof.asns, named(&names, c.asns));
            for (block, streak) in named(&names, c.networks) {
                let seen = Seen {
                    calls: streak.calls,
                    last: streak.last,
                };
                match prof.networks.get_mut(block) {
                    // Back within the gap: the same count goes on.
                    Some(had)
                        if !streak.fresh
                            && (had.last == Seen::UNKNOWN
                                || streak.first.saturating_sub(had.last) <= block_gap) =>
                    {
                        *had += seen
                    }
                    Some(had) => *had = seen,
                    None => {
                        prof.networks.insert(block.to_string(), seen);
                    }
                }
            }
            add(&mut prof.user_agents, named(&names, c.user_agents));
            add(&mut prof.roles_assumed, c.roles_assumed);
            for (h, n) in c.hour_of_week {
                if let Some(v) = prof.hour_of_week.get_mut(h) {
                    *v += n;
                }
            }
        }
    }

    /// Combines the profiles of shards: counts added, first and last seen widened.
    pub fn merge(mut self, other: Profiles) -> Profiles {
        fn add<V: Default + std::ops::AddAssign>(
            a: &mut BTreeMap<String, V>,
            b: BTreeMap<String, V>,
        ) {
            for (k, n) in b {
                *a.entry(k).or_default() += n;
            }
        }
        for (p, o) in other.profiles {
            match self.profiles.get_mut(&p) {
                None => {
                    self.profiles.insert(p, o);
                }
                Some(m) => {
                    m.events += o.events;
                    m.errors += o.errors;
                    add(&mut m.accounts, o.accounts);
                    add(&mut m.countries, o.countries);
                    add(&mut m.asns, o.asns);
                    add(&mut m.networks, o.networks);
                    add(&mut m.user_agents, o.user_agents);
                    add(&mut m.roles_assumed, o.roles_assumed);
                    for (x, y) in m.hour_of_week.iter_mut().zip(o.hour_of_week) {
                        *x += y;
                    }
                }
            }
        }
        for (p, (a, b)) in other.spans {
            let e = self.spans.entry(p).or_insert((a, b));
            *e = (e.0.min(a), e.1.max(b));
        }
        self
    }

    /// Each principal's profile as counted (first and last seen not filled in: see
    /// [`Profiles::finished`]).
    pub fn counted(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    pub fn contains(&self, principal: &str) -> bool {
        self.profiles.contains_key(principal)
    }

    /// Whether the principal was seen calling from this country.
    pub fn seen_in(&self, principal: &str, country: &str) -> bool {
        self.profiles
            .get(principal)
            .is_some_and(|p| p.countries.contains_key(country))
    }

    /// Drops a principal's profile (a baseline reset).
    pub fn forget(&mut self, principal: &str) {
        self.profiles.remove(principal);
        self.spans.remove(principal);
    }

    /// Drops the profiles of principals not seen since `before`.
    pub fn expire(&mut self, before: Millis) {
        let gone: Vec<String> = self
            .spans
            .iter()
            .filter(|(_, (_, last))| *last < before)
            .map(|(p, _)| p.clone())
            .collect();
        for p in gone {
            self.forget(&p);
        }
    }

    /// Drops the address blocks each principal was not seen calling from since `before`. A
    /// block of unknown time (from an earlier version's state) is taken as last seen when its
    /// principal was, now.
    pub fn expire_blocks(&mut self, before: Millis) {
        for (p, prof) in self.profiles.iter_mut() {
            let principal_last = self.spans.get(p).map_or(Seen::UNKNOWN, |s| s.1);
            prof.networks.retain(|_, seen| {
                if seen.last == Seen::UNKNOWN {
                    seen.last = principal_last;
                }
                seen.last >= before
            });
        }
    }

    /// The profiles, with first and last seen filled in.
    pub fn finished(&self) -> BTreeMap<String, Profile> {
        let mut out = self.profiles.clone();
        for (p, prof) in out.iter_mut() {
            if let Some((a, b)) = self.spans.get(p) {
                prof.first_seen = format_iso(*a);
                prof.last_seen = format_iso(*b);
            }
        }
        out
    }
}

/// A profile as `baselines.json` holds it, borrowed, with first and last seen filled in: the
/// fields of [`Profile`], in its order.
#[derive(Serialize)]
struct FinishedProfile<'a> {
    principal: &'a str,
    first_seen: String,
    last_seen: String,
    events: u64,
    errors: u64,
    accounts: &'a BTreeMap<String, u64>,
    countries: &'a BTreeMap<String, u64>,
    asns: &'a BTreeMap<String, u64>,
    networks: &'a BTreeMap<String, Seen>,
    user_agents: &'a BTreeMap<String, u64>,
    hour_of_week: &'a [u64],
    roles_assumed: &'a BTreeMap<String, u64>,
}

impl Profiles {
    /// `baselines.json`: what [`Profiles::finished`] gives, as indented JSON, written to `w`
    /// as it is made, without copying the profiles.
    pub fn write_finished_json(&self, w: impl std::io::Write) -> serde_json::Result<()> {
        struct All<'a>(&'a Profiles);
        impl Serialize for All<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let Profiles { profiles, spans } = self.0;
                s.collect_map(profiles.iter().map(|(k, p)| {
                    let span = spans.get(k);
                    let seen =
                        |t: Option<Millis>, had: &String| t.map_or_else(|| had.clone(), format_iso);
                    (
                        k,
                        FinishedProfile {
                            principal: &p.principal,
                            first_seen: seen(span.map(|s| s.0), &p.first_seen),
                            last_seen: seen(span.map(|s| s.1), &p.last_seen),
                            events: p.events,
                            errors: p.errors,
                            accounts: &p.accounts,
                            countries: &p.countries,
                            asns: &p.asns,
                            networks: &p.networks,
                            user_agents: &p.user_agents,
                            hour_of_week: &p.hour_of_week,
                            roles_assumed: &p.roles_assumed,
                        },
                    )
                }))
            }
        }
        serde_json::to_writer_pretty(w, &All(self))
    }
}

/// Profiles of every principal in `events` (shared copies of cross-account calls not counted).
pub fn profiles(events: &[Event], graph: &Graph, geo: &GeoIp) -> BTreeMap<String, Profile> {
    let mut p = Profiles::default();
    p.observe(events, graph, geo);
    p.finished()
}

/// The address block of a source: a.b.c.0/24, x:x:x::/48, or the value itself (a service name).
pub fn network(source: &str) -> String {
    match source.parse::<IpAddr>() {
        Ok(IpAddr::V4(v)) => {
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v)) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => source.to_string(),
    }
}

/// A profile in words, for people.
pub fn explain(p: &Profile) -> String {
    let top = |m: &BTreeMap<String, u64>, n: usize| -> String {
        let mut v: Vec<(&String, &u64)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total: u64 = m.values().sum::<u64>().max(1);
        let mut parts: Vec<String> = v
            .iter()
            .take(n)
            .map(|(k, c)| format!("{k} ({}%)", (**c * 100 + total / 2) / total))
            .collect();
        if v.len() > n {
            parts.push(format!("and {} more", v.len() - n));
        }
        if parts.is_empty() {
            "none seen".into()
        } else {
            parts.join(", ")
        }
    };
    let blocks: BTreeMap<String, u64> = p
        .networks
        .iter()
        .map(|(k, seen)| (k.clone(), seen.calls))
        .collect();
    let mut days: Vec<String> = Vec::new();
    for (d, name) in WEEKDAYS.iter().enumerate() {
        let hours: Vec<usize> = (0..24)
            .filter(|h| p.hour_of_week.get(d * 24 + h).copied().unwrap_or(0) > 0)
            .collect();
        if let (Some(a), Some(b)) = (hours.first(), hours.last()) {
            days.push(format!("{name} {a:02}-{:02}h", b + 1));
        }
    }
    format!(
        "{}\n  seen: {} to {} ({} calls, {} errors)\n  accounts: {}\n  countries: {}\n  networks (ASN): {}\n  address blocks: {}\n  user agents: {}\n  active (UTC): {}\n  roles assumed: {}\n",
        p.principal,
        p.first_seen,
        p.last_seen,
        p.events,
        p.errors,
        top(&p.accounts, 5),
        top(&p.countries, 8),
        top(&p.asns, 6),
        top(&blocks, 6),
        top(&p.user_agents, 6),
        if days.is_empty() { "never".into() } else { days.join(", ") },
        top(&p.roles_assumed, 8),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;
    const ANA: &str = "arn:aws:iam::111122223333:user/ana";

    /// A call of user ana at `at` from `ip`.
    fn event(at: Millis, ip: &str) -> Event {
        let json = format!(
            r#"{{"eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"ListBuckets",
            "sourceIPAddress":"{ip}","userIdentity":{{"type":"IAMUser","arn":"{ANA}"}}}}"#,
            format_iso(at)
        );
        let raw: crate::event::raw::RawRecord = serde_json::from_str(&json).unwrap();
        crate::event::normalize(&raw, &mut crate::event::Interner::default()).unwrap()
    }

    /// The principal of `n` events of ana.
    fn who(n: usize) -> Vec<Option<Text>> {
        vec![Some(Text::from(ANA)); n]
    }

    #[test]
    fn address_blocks_unseen_for_the_history_window_expire_with_their_principal_still_active() {
        let day = DAY;
        let geo = GeoIp::bundled().unwrap();
        let ana = ANA;
        let mut p = Profiles::default();
        // Day 0 from two blocks; day 100 from one of them again.
        let first = [event(0, "198.51.100.7"), event(day, "203.0.113.9")];
        p.observe_as(&first, &who(2), &geo);
        p.observe_as(&[event(100 * day, "203.0.113.10")], &who(1), &geo);
        p.expire(10 * day);
        p.expire_blocks(10 * day);
        let blocks: Vec<(&str, u64)> = p.profiles[ana]
            .networks
            .iter()
            .map(|(k, s)| (k.as_str(), s.calls))
            .collect();
        assert_eq!(
            blocks,
            [("203.0.113.0/24", 2)],
            "one block expired, the principal kept"
        );
        assert_eq!(p.profiles[ana].networks["203.0.113.0/24"].last, 100 * day);

        // The engine state keeps each block's last call; baselines.json the calls only.
        let mut packed = Vec::new();
        rmp_serde::encode::write_named(&mut packed, &p).unwrap();
        let back: Profiles = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(back.profiles, p.profiles);
        let mut json = Vec::new();
        p.write_finished_json(&mut json).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"203.0.113.0/24\": 2\n"), "{json}");

        // An earlier version's state has the calls only: its blocks are taken as last seen
        // when their principal was, at the next expiry, and expire a history window later.
        let calls_only = rmp_serde::to_vec(&7u64).unwrap();
        let seen: Seen = rmp_serde::from_slice(&calls_only).unwrap();
        assert_eq!(
            seen,
            Seen {
                calls: 7,
                last: Seen::UNKNOWN
            }
        );
        let mut old = Profiles::default();
        old.observe_as(&[event(0, "198.51.100.7")], &who(1), &geo);
        old.observe_as(&[event(5 * day, "203.0.113.9")], &who(1), &geo);
        for seen in old.profiles.get_mut(ana).unwrap().networks.values_mut() {
            seen.last = Seen::UNKNOWN;
        }
        old.expire_blocks(0);
        assert!(old.profiles[ana]
            .networks
            .values()
            .all(|s| s.last == 5 * day));
        old.observe_as(&[event(20 * day, "192.0.2.1")], &who(1), &geo);
        old.expire_blocks(6 * day);
        let left: Vec<&String> = old.profiles[ana].networks.keys().collect();
        assert_eq!(left, ["192.0.2.0/24"]);
    }

    #[test]
    fn a_principal_back_to_a_block_after_the_gap_is_counted_afresh_however_its_calls_were_cut() {
        let geo = GeoIp::bundled().unwrap();
        let gap = 3 * DAY;
        // Days 0 and 1, then four days away (more than the gap), then days 5 and 6; a call
        // from another block in between (day 4.5) keeps the principal active.
        let calls: Vec<Event> = [0, 2, 9, 10, 12]
            .iter()
            .map(|&half| {
                let ip = if half == 9 {
                    "198.51.100.7"
                } else {
                    "203.0.113.9"
                };
                event(half * DAY / 2, ip)
            })
            .collect();
        let block = |p: &Profiles| p.profiles[ANA].networks["203.0.113.0/24"];
        let want = Seen {
            calls: 2,
            last: 6 * DAY,
        };
        // One counter over all of them.
        let mut once = Profiles::default();
        let mut counter = Counter::new(gap);
        counter.count(&calls, &who(calls.len()), &geo);
        once.add(counter);
        assert_eq!(block(&once), want);
        // A counter per call, added in turn (a run adds its counter when it holds many values).
        let mut cut = Profiles::default();
        // A run a night, each expiring the blocks unseen for the gap, as `report` does.
        let mut nightly = Profiles::default();
        for (i, call) in calls.iter().enumerate() {
            let mut counter = Counter::new(gap);
            counter.count(std::slice::from_ref(call), &who(1), &geo);
            cut.add(counter);
            let mut counter = Counter::new(gap);
            counter.count(std::slice::from_ref(call), &who(1), &geo);
            nightly.add(counter);
            nightly.expire_blocks(call.event_time - gap);
            // The night of day 4.5 let the block go.
            let kept = nightly.profiles[ANA]
                .networks
                .contains_key("203.0.113.0/24");
            assert_eq!(kept, i != 2, "night {i}");
        }
        assert_eq!(block(&cut), want);
        assert_eq!(block(&nightly), want);
        assert_eq!(once.profiles, nightly.profiles);
        // Without a gap, calls add up however long the principal stayed away.
        let mut always = Profiles::default();
        always.observe_as(&calls, &who(calls.len()), &geo);
        assert_eq!(block(&always).calls, 4);
    }

    #[test]
    fn networks_are_address_blocks() {
        assert_eq!(network("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network("2001:db8:1:2::5"), "2001:db8:1::/48");
        assert_eq!(network("ec2.amazonaws.com"), "ec2.amazonaws.com");
    }

    #[test]
    fn profiles_read_back_as_saved_their_maps_built_in_bulk_as_inserting_would() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let events = crate::ingest::ingest_paths(&[dir]).unwrap().events;
        let mut graph = crate::graph::GraphState::default();
        graph.observe(&events);
        let mut profiles = Profiles::default();
        profiles.observe(&events, &graph.finish(), &GeoIp::bundled().unwrap());
        assert!(profiles.profiles.len() > 10);
        let mut packed = Vec::new();
        rmp_serde::encode::write_named(&mut packed, &profiles).unwrap();
        let back: Profiles = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(back.profiles, profiles.profiles);
        assert_eq!(back.spans, profiles.spans);
        // `baselines.json` as written, streamed: the finished profiles, indented.
        let mut written = Vec::new();
        profiles.write_finished_json(&mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string_pretty(&profiles.finished()).unwrap()
        );
        // Out of order, and a key twice: the last value, as inserting one by one keeps.
        let p: Profile = serde_json::from_str(
            r#"{"principal":"p","first_seen":"","last_seen":"","events":3,"errors":0,
            "accounts":{},"countries":{"US":1,"DE":2,"US":5},"asns":{},"networks":{},
            "user_agents":{},"hour_of_week":[],"roles_assumed":{}}"#,
        )
        .unwrap();
        let want: BTreeMap<String, u64> = [("DE".into(), 2), ("US".into(), 5)].into();
        assert_eq!(p.countries, want);
    }
}
