//! The hygiene policy (`hygiene-policy.toml`): allowed segments per kind and site, connection
//! allow-lists per kind (and site), expected heartbeats, and how old a credential may get.
//!
//! ```toml
//! [credentials]
//! max_age_days = 365            # a login older than this is stale (default 365)
//!
//! [heartbeat]                   # expected silence at most, per kind (defaults in docs/hygiene.md)
//! camera = "5m"
//! sensor = "2h"
//!
//! [[segments]]                  # where devices of a kind (at a site) may sit
//! kind = "camera"               # or kinds = ["camera", "nvr"]; absent: every kind
//! site = "PAR"                  # absent: every site
//! allow = ["10.10.50.0/24", "vlan:50", "segment:cctv"]
//!
//! [[connections]]               # where devices of a kind (at a site) may talk to
//! kind = "camera"
//! allow = [
//!   { to = "10.10.90.20/32", ports = [554, 443, "8000-8010"], proto = "tcp" },
//!   { to = ["10.10.0.53", "10.20.0.53"], ports = [53], proto = "udp" },
//! ]
//! ```
//!
//! When several `segments` (or `connections`) entries match a device, only the most specific
//! ones count: kind and site given, then kind only, then site only, then neither. Their allowed
//! ranges are joined. A device no entry matches is not checked.

use crate::error::{HygieneError, read_text};
use crate::read::OneOrMany;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// The whole policy. [`Policy::default`] is the policy when none is configured: credentials
/// older than 365 days are stale, default heartbeats, no segment or connection rules.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Credential rules.
    pub credential_max_age_days: i64,
    /// Expected heartbeat per kind, seconds (overrides [`default_heartbeat_secs`]).
    pub heartbeat: BTreeMap<String, u64>,
    /// Allowed segments.
    pub segments: Vec<SegmentRule>,
    /// Connection allow-lists.
    pub connections: Vec<ConnectionRule>,
    /// Segment-to-segment flows that are forbidden whoever sends them.
    pub segment_flows: Vec<SegmentFlowRule>,
}

/// Flows from some segments to others that are forbidden, whatever device sends them (also an
/// address of a device segment that is not in the inventory).
#[derive(Debug, Clone)]
pub struct SegmentFlowRule {
    /// Name, as the alert shows it.
    pub name: String,
    /// Source segments.
    pub from: Vec<IpNet>,
    /// Forbidden destination segments.
    pub deny: Vec<IpNet>,
    /// Public (internet) destinations are forbidden too (`deny = ["internet"]`).
    pub deny_internet: bool,
}

impl SegmentFlowRule {
    /// Whether a flow from `src` to `dst` breaks this rule.
    pub fn forbids(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.from.iter().any(|n| n.contains(&src))
            && (self.deny.iter().any(|n| n.contains(&dst))
                || (self.deny_internet && crate::flow::is_public(dst)))
    }
}

/// Which devices an entry is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Kinds (lower case); empty: every kind.
    pub kinds: Vec<String>,
    /// Site; `None`: every site.
    pub site: Option<String>,
}

impl Scope {
    /// 3 for kind and site, 2 for kind, 1 for site, 0 for neither; `None` when it does not
    /// apply to a device of `kind` at `site`.
    pub fn specificity(&self, kind: &str, site: Option<&str>) -> Option<u8> {
        let kind_ok = self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind);
        let site_ok = match (&self.site, site) {
            (None, _) => true,
            (Some(s), Some(d)) => s.eq_ignore_ascii_case(d),
            (Some(_), None) => false,
        };
        (kind_ok && site_ok)
            .then(|| u8::from(!self.kinds.is_empty()) * 2 + u8::from(self.site.is_some()))
    }
}

/// One allowed place in the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An address range.
    Cidr(IpNet),
    /// A VLAN id.
    Vlan(u16),
    /// A named segment (the inventory's `segment` column).
    Named(String),
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Cidr(net) => write!(f, "{net}"),
            Segment::Vlan(v) => write!(f, "vlan:{v}"),
            Segment::Named(n) => write!(f, "segment:{n}"),
        }
    }
}

/// Allowed segments for the devices of a scope.
#[derive(Debug, Clone)]
pub struct SegmentRule {
    /// Which devices.
    pub scope: Scope,
    /// Where they may sit.
    pub allow: Vec<Segment>,
}

/// Transport protocol of a flow or an allow entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1) or ICMPv6 (58).
    Icmp,
    /// Any other IP protocol number.
    Other(u8),
}

impl Proto {
    /// Reads `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub fn parse(text: &str) -> Option<Proto> {
        let t = text.trim().to_lowercase();
        Some(match t.as_str() {
            "tcp" | "6" => Proto::Tcp,
            "udp" | "17" => Proto::Udp,
            "icmp" | "icmpv6" | "ipv6-icmp" | "1" | "58" => Proto::Icmp,
            _ => Proto::Other(t.parse().ok()?),
        })
    }
}

/// One allowed destination.
#[derive(Debug, Clone)]
pub struct Allow {
    /// Destination ranges.
    pub to: Vec<IpNet>,
    /// Port ranges (inclusive); empty: every port.
    pub ports: Vec<(u16, u16)>,
    /// Protocol; `None`: any.
    pub proto: Option<Proto>,
}

/// Connection allow-list for the devices of a scope.
#[derive(Debug, Clone)]
pub struct ConnectionRule {
    /// Which devices.
    pub scope: Scope,
    /// Where they may connect.
    pub allow: Vec<Allow>,
}

/// Default expected heartbeat per kind, seconds (`None`: not watched unless the policy or the
/// device says so).
pub fn default_heartbeat_secs(kind: &str) -> Option<u64> {
    Some(match kind {
        "camera" | "nvr" | "vms" | "encoder" => 300,
        "controller" | "panel" | "intercom" => 600,
        "reader" => 3600,
        "sensor" | "alarm" => 3600,
        _ => return None,
    })
}

/// Parses `90s`, `5m`, `2h`, `1d` or plain seconds.
pub fn parse_duration_secs(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    credentials: RawCredentials,
    #[serde(default)]
    heartbeat: BTreeMap<String, String>,
    #[serde(default)]
    segments: Vec<RawSegmentRule>,
    #[serde(default)]
    connections: Vec<RawConnectionRule>,
    #[serde(default)]
    segment_flows: Vec<RawSegmentFlow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegmentFlow {
    name: String,
    from: OneOrMany,
    deny: OneOrMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    #[serde(default = "default_max_age")]
    max_age_days: i64,
}

impl Default for RawCredentials {
    fn default() -> Self {
        RawCredentials {
            max_age_days: default_max_age(),
        }
    }
}

fn default_max_age() -> i64 {
    365
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegmentRule {
    kind: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
    site: Option<String>,
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectionRule {
    kind: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
    site: Option<String>,
    allow: Vec<RawAllow>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(u16),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    to: OneOrMany,
    #[serde(default)]
    ports: Vec<RawPort>,
    proto: Option<String>,
}

fn scope(kind: Option<String>, kinds: Vec<String>, site: Option<String>) -> Scope {
    let mut kinds: Vec<String> = kinds
        .into_iter()
        .chain(kind)
        .map(|k| k.to_lowercase())
        .collect();
    kinds.retain(|k| k != "*");
    Scope {
        kinds,
        site: site.filter(|s| s != "*"),
    }
}

fn segment(text: &str) -> Result<Segment, String> {
    let t = text.trim();
    if let Some(v) = t.strip_prefix("vlan:").or_else(|| t.strip_prefix("VLAN:")) {
        return v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=4094).contains(n))
            .map(Segment::Vlan)
            .ok_or_else(|| format!("`{t}`: expected vlan:<1-4094>"));
    }
    if let Some(name) = t.strip_prefix("segment:") {
        return Ok(Segment::Named(name.trim().to_string()));
    }
    net(t).map(Segment::Cidr)
}

fn segment_flow(i: usize, rule: RawSegmentFlow) -> Result<SegmentFlowRule, String> {
    let name = rule.name.clone();
    let at = |r: String| format!("segment_flows[{i}] ({name}): {r}");
    let from = rule
        .from
        .into_vec()
        .iter()
        .map(|t| net(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(at)?;
    let mut deny = Vec::new();
    let mut deny_internet = false;
    for target in rule.deny.into_vec() {
        match target.trim() {
            "internet" | "public" => deny_internet = true,
            t => deny.push(net(t).map_err(at)?),
        }
    }
    if from.is_empty() || (deny.is_empty() && !deny_internet) {
        return Err(at("needs at least one `from` and one `deny` segment".into()));
    }
    Ok(SegmentFlowRule {
        name: rule.name,
        from,
        deny,
        deny_internet,
    })
}

/// A CIDR or a single address (host bits are cleared).
fn net(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    t.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!(
            "`{t}`: expected a CIDR such as 10.10.50.0/24, an address, vlan:<id> or segment:<name>"
        )
    })
}

fn port_range(p: &RawPort) -> Result<(u16, u16), String> {
    match p {
        RawPort::Number(n) => Ok((*n, *n)),
        RawPort::Text(t) => {
            let parse = |s: &str| s.trim().parse::<u16>().ok();
            let range = match t.split_once('-') {
                Some((a, b)) => parse(a).zip(parse(b)),
                None => parse(t).map(|n| (n, n)),
            };
            range
                .filter(|(a, b)| a <= b)
                .ok_or_else(|| format!("port `{t}`: expected a port or a range such as 8000-8010"))
        }
    }
}

impl Policy {
    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Policy, HygieneError> {
        let text = read_text(path)?;
        Policy::from_toml(&path.display().to_string(), &text)
    }

    /// Reads policy TOML (`name` is used in messages).
    pub fn from_toml(name: &str, text: &str) -> Result<Policy, HygieneError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| HygieneError::toml(name, &e))?;
        let fail = |reason: String| HygieneError::format(name, reason);
        let mut heartbeat = BTreeMap::new();
        for (kind, value) in raw.heartbeat {
            let secs = parse_duration_secs(&value).ok_or_else(|| {
                fail(format!(
                    "heartbeat.{kind} = {value:?}: expected a duration such as 300s, 5m, 2h"
                ))
            })?;
            heartbeat.insert(kind.to_lowercase(), secs);
        }
        let mut segments = Vec::new();
        for (i, rule) in raw.segments.into_iter().enumerate() {
            let allow = rule
                .allow
                .iter()
                .map(|s| segment(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|r| fail(format!("segments[{i}].allow: {r}")))?;
            segments.push(SegmentRule {
                scope: scope(rule.kind, rule.kinds, rule.site),
                allow,
            });
        }
        let mut connections = Vec::new();
        for (i, rule) in raw.connections.into_iter().enumerate() {
            let mut allow = Vec::new();
            for (j, a) in rule.allow.into_iter().enumerate() {
                let at = |r: String| fail(format!("connections[{i}].allow[{j}]: {r}"));
                let to =
                    a.to.into_vec()
                        .iter()
                        .map(|t| match t.trim() {
                            "any" | "*" => Ok(vec!["0.0.0.0/0".parse().ok(), "::/0".parse().ok()]
                                .into_iter()
                                .flatten()
                                .collect()),
                            t => net(t).map(|n| vec![n]),
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(at)?
                        .into_iter()
                        .flatten()
                        .collect();
                let ports = a
                    .ports
                    .iter()
                    .map(port_range)
                    .collect::<Result<_, _>>()
                    .map_err(at)?;
                let proto = match a.proto.as_deref().map(str::trim) {
                    None | Some("any") | Some("*") => None,
                    Some(p) => Some(Proto::parse(p).ok_or_else(|| {
                        at(format!(
                            "proto `{p}`: expected tcp, udp, icmp, any or a number"
                        ))
                    })?),
                };
                allow.push(Allow { to, ports, proto });
            }
            connections.push(ConnectionRule {
                scope: scope(rule.kind, rule.kinds, rule.site),
                allow,
            });
        }
        let segment_flows = raw
            .segment_flows
            .into_iter()
            .enumerate()
            .map(|(i, rule)| segment_flow(i, rule).map_err(&fail))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            credential_max_age_days: raw.credentials.max_age_days,
            heartbeat,
            segments,
            connections,
            segment_flows,
        })
    }

    /// The first segment-flow rule a flow from `src` to `dst` breaks.
    pub fn forbidden_segment_flow(&self, src: IpAddr, dst: IpAddr) -> Option<&SegmentFlowRule> {
        self.segment_flows.iter().find(|r| r.forbids(src, dst))
    }

    /// The expected heartbeat of a device of `kind`, seconds.
    pub fn heartbeat_secs(&self, kind: &str) -> Option<u64> {
        self.heartbeat
            .get(kind)
            .copied()
            .or_else(|| default_heartbeat_secs(kind))
    }

    /// The most specific segment rules for a device (see the module comment).
    pub fn segment_rules(&self, kind: &str, site: Option<&str>) -> Vec<&SegmentRule> {
        most_specific(&self.segments, |r| r.scope.specificity(kind, site))
    }

    /// Indices of the most specific connection rules for a device.
    pub fn connection_rules(&self, kind: &str, site: Option<&str>) -> Vec<usize> {
        let best = self
            .connections
            .iter()
            .filter_map(|r| r.scope.specificity(kind, site))
            .max();
        let Some(best) = best else { return Vec::new() };
        (0..self.connections.len())
            .filter(|&i| self.connections[i].scope.specificity(kind, site) == Some(best))
            .collect()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            credential_max_age_days: default_max_age(),
            heartbeat: BTreeMap::new(),
            segments: Vec::new(),
            connections: Vec::new(),
            segment_flows: Vec::new(),
        }
    }
}

fn most_specific<T>(rules: &[T], spec: impl Fn(&T) -> Option<u8>) -> Vec<&T> {
    let best = rules.iter().filter_map(&spec).max();
    match best {
        None => Vec::new(),
        Some(best) => rules.iter().filter(|r| spec(r) == Some(best)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[credentials]
max_age_days = 180

[heartbeat]
camera = "10m"

[[segments]]
site = "PAR"
allow = ["10.10.0.0/16"]

[[segments]]
kind = "camera"
allow = ["10.10.50.0/24", "vlan:50"]

[[segments]]
kind = "camera"
site = "LYO"
allow = ["10.20.50.0/24"]

[[connections]]
kinds = ["camera", "nvr"]
allow = [
  { to = "10.10.90.20", ports = [554, "8000-8010"], proto = "tcp" },
  { to = ["10.10.0.53", "10.20.0.53"], ports = [53], proto = "udp" },
]
"#;

    #[test]
    fn segment_flows_read_and_judge_by_address() {
        let text = r#"
[[segment_flows]]
name = "cctv-out"
from = ["10.10.50.0/24"]
deny = ["10.10.20.0/24", "internet"]
"#;
        let policy = Policy::from_toml("p.toml", text).unwrap();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let rule = policy.forbidden_segment_flow(ip("10.10.50.7"), ip("10.10.20.9"));
        assert_eq!(rule.map(|r| r.name.as_str()), Some("cctv-out"));
        assert!(
            policy
                .forbidden_segment_flow(ip("10.10.50.7"), ip("1.1.1.1"))
                .is_some()
        );
        assert!(
            policy
                .forbidden_segment_flow(ip("10.10.50.7"), ip("10.10.90.20"))
                .is_none()
        );
        assert!(
            policy
                .forbidden_segment_flow(ip("10.10.20.9"), ip("10.10.50.7"))
                .is_none()
        );
        let empty = "[[segment_flows]]\nname = \"x\"\nfrom = \"10.0.0.0/8\"\ndeny = []\n";
        let error = Policy::from_toml("p.toml", empty).unwrap_err().to_string();
        assert!(error.contains("segment_flows[0] (x)"), "{error}");
        let bad = "[[segment_flows]]\nname = \"y\"\nfrom = \"vlan:50\"\ndeny = \"internet\"\n";
        let error = Policy::from_toml("p.toml", bad).unwrap_err().to_string();
        assert!(error.contains("vlan:50"), "{error}");
    }

    #[test]
    fn reads_and_picks_the_most_specific_rules() {
        let p = Policy::from_toml("p.toml", POLICY).unwrap();
        assert_eq!(p.credential_max_age_days, 180);
        assert_eq!(p.heartbeat_secs("camera"), Some(600));
        assert_eq!(p.heartbeat_secs("reader"), Some(3600));
        assert_eq!(p.heartbeat_secs("workstation"), None);
        let par_cam = p.segment_rules("camera", Some("PAR"));
        assert_eq!(par_cam.len(), 1);
        assert_eq!(par_cam[0].allow[1], Segment::Vlan(50));
        assert_eq!(p.segment_rules("camera", Some("LYO"))[0].allow.len(), 1);
        assert_eq!(p.segment_rules("reader", Some("PAR"))[0].allow.len(), 1);
        assert!(p.segment_rules("reader", Some("LYO")).is_empty());
        assert_eq!(p.connection_rules("nvr", None), vec![0]);
        let allow = &p.connections[0].allow;
        assert_eq!(allow[0].ports, vec![(554, 554), (8000, 8010)]);
        assert_eq!(allow[1].to.len(), 2);
        assert_eq!(allow[1].proto, Some(Proto::Udp));
    }

    #[test]
    fn bad_policies_say_where() {
        let e =
            Policy::from_toml("p.toml", "[[segments]]\nallow = [\"10.0.0.0/33\"]\n").unwrap_err();
        assert!(e.to_string().contains("segments[0].allow"), "{e}");
        let e = Policy::from_toml("p.toml", "[heartbeat]\ncamera = \"soon\"\n").unwrap_err();
        assert!(e.to_string().contains("heartbeat.camera"), "{e}");
        let e = Policy::from_toml("p.toml", "[[segmnts]]\n").unwrap_err();
        assert!(e.to_string().contains("segmnts"), "{e}");
        let e = Policy::from_toml(
            "p.toml",
            "[[connections]]\nallow = [{ to = \"any\", ports = [\"9-1\"] }]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("connections[0].allow[0]"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("5m"), Some(300));
        assert_eq!(parse_duration_secs("300"), Some(300));
        assert_eq!(parse_duration_secs("1d"), Some(86_400));
        assert_eq!(parse_duration_secs("x"), None);
    }
}
