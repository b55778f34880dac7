//! Connection monitoring: flow records from devices checked against the allow-lists of the
//! policy (`[[connections]]`, see [`crate::policy`]).
//!
//! [`FlowMonitor`] is built once from the inventory and the policy: a hash map from each
//! device address to the device and the compiled allow-list of its kind and site (address
//! ranges as masked 128-bit integers, IPv4 mapped into `::ffff:0:0/96`). Evaluating a flow is
//! one hash lookup and a scan of that short list, with no allocation.
//!
//! Flow files are CSV with a header, or JSON Lines, with the columns `time` (RFC 3339, epoch
//! milliseconds, or `YYYY-MM-DD HH:MM:SS`), `src_ip`, `src_port`, `dst_ip`, `dst_port`,
//! `proto` (`tcp`, `udp`, `icmp` or a number). nfdump's CSV names (`ts`, `sa`, `sp`, `da`,
//! `dp`, `pr`) and `src`/`dst`/`protocol` are read too.

use crate::error::{HygieneError, RowError, read_text};
use crate::finding::{Finding, Severity, checks};
use crate::inventory::{Device, parse_time_ms};
use crate::policy::{Policy, Proto};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::Path;

/// One flow record (a connection or a firewall log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// Start time, epoch milliseconds.
    pub time_ms: i64,
    /// Source address.
    pub src: IpAddr,
    /// Source port (0 when none).
    pub src_port: u16,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port (0 when none).
    pub dst_port: u16,
    /// Transport protocol.
    pub proto: Proto,
}

/// What the monitor says about one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowVerdict {
    /// The source is not an inventory device.
    NotADevice,
    /// The source is a device without an allow-list for its kind and site.
    Unmonitored(u32),
    /// Allowed by the device's allow-list.
    Allowed(u32),
    /// Not allowed: an alert about the device (index into the monitor's devices).
    Alert(u32),
}

/// A multiplicative hash for the address map (keys are addresses, not attacker-chosen
/// strings; a flow source picks at most which bucket it lands in).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u128(&mut self, n: u128) {
        let folded = (n as u64) ^ ((n >> 64) as u64).rotate_left(17);
        self.0 = (self.0 ^ folded).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type AddrMap<V> = HashMap<u128, V, BuildHasherDefault<AddrHasher>>;

/// An address as a 128-bit number (IPv4 as `::ffff:a.b.c.d`).
fn key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => 0xffff_0000_0000u128 | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn net_key(net: &IpNet) -> (u128, u128) {
    let (base, prefix) = match net {
        IpNet::V4(n) => (key(IpAddr::V4(n.network())), 96 + u32::from(n.prefix_len())),
        IpNet::V6(n) => (key(IpAddr::V6(n.network())), u32::from(n.prefix_len())),
    };
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (base & mask, mask)
}

#[derive(Debug, Clone)]
struct CompiledAllow {
    nets: Vec<(u128, u128)>,
    ports: Vec<(u16, u16)>,
    proto: Option<Proto>,
}

impl CompiledAllow {
    #[inline]
    fn allows(&self, dst: u128, port: u16, proto: Proto) -> bool {
        self.proto.is_none_or(|p| p == proto)
            && (self.ports.is_empty() || self.ports.iter().any(|(a, b)| (*a..=*b).contains(&port)))
            && self.nets.iter().any(|(base, mask)| dst & mask == *base)
    }
}

/// The evaluator (see the module comment).
#[derive(Debug, Clone)]
pub struct FlowMonitor {
    by_addr: AddrMap<(u32, Option<u32>)>,
    ids: Vec<String>,
    sites: Vec<Option<String>>,
    zones: Vec<Option<String>>,
    lists: Vec<Vec<CompiledAllow>>,
    last_seen: Vec<i64>,
}

impl FlowMonitor {
    /// Builds the monitor for the devices (those with an address) and the policy.
    pub fn new(devices: &[Device], policy: &Policy) -> FlowMonitor {
        let mut lists: Vec<Vec<CompiledAllow>> = Vec::new();
        let mut list_of: HashMap<Vec<usize>, u32> = HashMap::new();
        let mut monitor = FlowMonitor {
            by_addr: AddrMap::default(),
            ids: Vec::with_capacity(devices.len()),
            sites: Vec::with_capacity(devices.len()),
            zones: Vec::with_capacity(devices.len()),
            lists: Vec::new(),
            last_seen: Vec::with_capacity(devices.len()),
        };
        for device in devices {
            let index = monitor.ids.len() as u32;
            monitor.ids.push(device.id.clone());
            monitor.sites.push(device.site.clone());
            monitor.zones.push(device.zone.clone());
            monitor
                .last_seen
                .push(device.last_seen_ms.unwrap_or(i64::MIN));
            let Some(ip) = device.ip else { continue };
            let rules = policy.connection_rules(&device.kind, device.site.as_deref());
            let list = if rules.is_empty() {
                None
            } else {
                let next = lists.len() as u32;
                let id = *list_of.entry(rules.clone()).or_insert(next);
                if id == next {
                    lists.push(
                        rules
                            .iter()
                            .flat_map(|&r| policy.connections[r].allow.iter())
                            .map(|a| CompiledAllow {
                                nets: a.to.iter().map(net_key).collect(),
                                ports: a.ports.clone(),
                                proto: a.proto,
                            })
                            .collect(),
                    );
                }
                Some(id)
            };
            monitor.by_addr.insert(key(ip), (index, list));
        }
        monitor.lists = lists;
        monitor
    }

    /// Checks one flow from a device and records the device as seen.
    #[inline]
    pub fn evaluate(&mut self, flow: &Flow) -> FlowVerdict {
        let verdict = self.verdict(flow);
        if let FlowVerdict::Unmonitored(device)
        | FlowVerdict::Allowed(device)
        | FlowVerdict::Alert(device) = verdict
        {
            let seen = &mut self.last_seen[device as usize];
            if flow.time_ms > *seen {
                *seen = flow.time_ms;
            }
        }
        verdict
    }

    /// The verdict on one flow without noting the device as seen (for a monitor shared by
    /// threads, as the service's ingest uses it).
    pub fn verdict(&self, flow: &Flow) -> FlowVerdict {
        let Some(&(device, list)) = self.by_addr.get(&key(flow.src)) else {
            return FlowVerdict::NotADevice;
        };
        let Some(list) = list else {
            return FlowVerdict::Unmonitored(device);
        };
        let dst = key(flow.dst);
        if self.lists[list as usize]
            .iter()
            .any(|a| a.allows(dst, flow.dst_port, flow.proto))
        {
            FlowVerdict::Allowed(device)
        } else {
            FlowVerdict::Alert(device)
        }
    }

    /// The device with address `ip`, if any (the destination of a flow to a device).
    pub fn device_at(&self, ip: IpAddr) -> Option<u32> {
        self.by_addr.get(&key(ip)).map(|&(device, _)| device)
    }

    /// The id of device `index`.
    pub fn device_id(&self, index: u32) -> &str {
        &self.ids[index as usize]
    }

    /// The latest time each device was seen (inventory `last_seen` or a flow from it), by id.
    pub fn last_seen(&self) -> impl Iterator<Item = (&str, i64)> {
        self.ids
            .iter()
            .zip(&self.last_seen)
            .filter(|(_, t)| **t != i64::MIN)
            .map(|(id, t)| (id.as_str(), *t))
    }

    /// Runs every flow and gathers the alerts.
    pub fn run<'a>(&mut self, flows: impl IntoIterator<Item = &'a Flow>) -> FlowReport {
        let mut report = FlowReport::default();
        for flow in flows {
            report.flows += 1;
            match self.evaluate(flow) {
                FlowVerdict::NotADevice => {}
                FlowVerdict::Unmonitored(_) => report.unmonitored += 1,
                FlowVerdict::Allowed(_) => report.allowed += 1,
                FlowVerdict::Alert(device) => {
                    let group = report
                        .alerts
                        .entry((device, flow.dst, flow.dst_port, proto_name(flow.proto)))
                        .or_insert(AlertGroup {
                            count: 0,
                            first_ms: flow.time_ms,
                            last_ms: flow.time_ms,
                        });
                    group.count += 1;
                    group.first_ms = group.first_ms.min(flow.time_ms);
                    group.last_ms = group.last_ms.max(flow.time_ms);
                }
            }
        }
        report
    }

    /// The report's alerts as findings (one per device, destination, port and protocol;
    /// high when the destination is a public address, medium otherwise).
    pub fn findings(&self, report: &FlowReport) -> Vec<Finding> {
        report
            .alerts
            .iter()
            .map(|((device, dst, port, proto), group)| {
                let i = *device as usize;
                let public = is_public(*dst);
                let time = |ms: i64| {
                    chrono::DateTime::from_timestamp_millis(ms)
                        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_else(|| ms.to_string())
                };
                Finding {
                    check: checks::CONN_UNEXPECTED.id,
                    severity: if public {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    device: self.ids[i].clone(),
                    site: self.sites[i].clone(),
                    zone: self.zones[i].clone(),
                    title: format!(
                        "connection to {dst}:{port}/{proto}{}, not in the allow-list",
                        if public { " (internet)" } else { "" }
                    ),
                    evidence: format!(
                        "{} flow(s) from {} to {dst}:{port}/{proto}, {} to {}",
                        group.count,
                        self.ids[i],
                        time(group.first_ms),
                        time(group.last_ms)
                    ),
                    cve: None,
                    controls: checks::CONN_UNEXPECTED.controls,
                }
            })
            .collect()
    }
}

/// Alerts of one device towards one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlertGroup {
    /// Flows.
    pub count: u64,
    /// First flow time.
    pub first_ms: i64,
    /// Last flow time.
    pub last_ms: i64,
}

/// What a run over flows found.
#[derive(Debug, Clone, Default)]
pub struct FlowReport {
    /// Flows read.
    pub flows: u64,
    /// Flows from devices the allow-lists allow.
    pub allowed: u64,
    /// Flows from devices without an allow-list.
    pub unmonitored: u64,
    /// Alerts by (device index, destination, port, protocol).
    pub alerts: BTreeMap<(u32, IpAddr, u16, &'static str), AlertGroup>,
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::Other(_) => "ip",
    }
}

/// Whether an address is on the public internet (not private, loopback, link-local, shared
/// CGNAT space, multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

const FLOW_COLUMNS: &[(&str, &[&str])] = &[
    ("time", &["time", "ts", "timestamp", "start", "first_seen"]),
    (
        "src_ip",
        &["src_ip", "sa", "src", "srcaddr", "source", "src_addr"],
    ),
    ("src_port", &["src_port", "sp", "srcport", "sport"]),
    (
        "dst_ip",
        &["dst_ip", "da", "dst", "dstaddr", "destination", "dst_addr"],
    ),
    ("dst_port", &["dst_port", "dp", "dstport", "dport"]),
    ("proto", &["proto", "pr", "protocol"]),
];

fn flow_from(get: &dyn Fn(&str) -> Option<String>) -> Result<Flow, (&'static str, String)> {
    let field = |name: &'static str| -> Option<String> {
        FLOW_COLUMNS
            .iter()
            .find(|(c, _)| *c == name)
            .and_then(|(_, aliases)| aliases.iter().find_map(|a| get(a)))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let time = field("time").ok_or(("time", "a time is required".to_string()))?;
    let time_ms = parse_time_ms(&time).ok_or((
        "time",
        format!(
            "invalid value `{time}` (expected RFC 3339, epoch milliseconds or YYYY-MM-DD HH:MM:SS)"
        ),
    ))?;
    let ip = |name: &'static str| -> Result<IpAddr, (&'static str, String)> {
        let text = field(name).ok_or((name, "an address is required".to_string()))?;
        text.parse().map_err(|_| {
            (
                name,
                format!("invalid value `{text}` (expected an IP address)"),
            )
        })
    };
    let port = |name: &'static str| -> Result<u16, (&'static str, String)> {
        match field(name) {
            None => Ok(0),
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=65535.0).contains(p))
                .map(|p| p as u16)
                .ok_or((
                    name,
                    format!("invalid value `{text}` (expected a port 0-65535)"),
                )),
        }
    };
    let proto = match field("proto") {
        None => Proto::Tcp,
        Some(text) => Proto::parse(&text).ok_or((
            "proto",
            format!("invalid value `{text}` (expected tcp, udp, icmp or a number)"),
        ))?,
    };
    Ok(Flow {
        time_ms,
        src: ip("src_ip")?,
        src_port: port("src_port")?,
        dst: ip("dst_ip")?,
        dst_port: port("dst_port")?,
        proto,
    })
}

/// Flows read from a file, and the refused rows.
#[derive(Debug, Clone, Default)]
pub struct FlowFile {
    /// Good flows in file order.
    pub flows: Vec<Flow>,
    /// Refused rows.
    pub errors: Vec<RowError>,
}

impl FlowFile {
    /// Reads CSV (with a header) or JSON Lines (first non-blank character `{`).
    pub fn load(path: &Path) -> Result<FlowFile, HygieneError> {
        let text = read_text(path)?;
        FlowFile::parse(&path.display().to_string(), &text)
    }

    /// Reads flow text (`name` is used in messages).
    pub fn parse(name: &str, text: &str) -> Result<FlowFile, HygieneError> {
        let mut out = FlowFile::default();
        if text.trim_start().starts_with('{') {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let line_no = i as u64 + 1;
                let row = |field: Option<&str>, reason: String| RowError {
                    file: name.into(),
                    line: line_no,
                    column: None,
                    field: field.map(str::to_string),
                    reason,
                };
                match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                    Ok(map) => {
                        let get = |k: &str| {
                            map.get(k).map(|v| match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                        };
                        match flow_from(&get) {
                            Ok(f) => out.flows.push(f),
                            Err((field, reason)) => out.errors.push(row(Some(field), reason)),
                        }
                    }
                    Err(e) => out
                        .errors
                        .push(row(None, format!("not a JSON object: {e}"))),
                }
            }
            return Ok(out);
        }
        let (mut reader, headers) = crate::read::csv_with_header(name, text, true)?;
        for required in ["src_ip", "dst_ip", "time"] {
            let aliases = FLOW_COLUMNS
                .iter()
                .find(|(c, _)| *c == required)
                .map_or(&[][..], |(_, a)| *a);
            if !aliases.iter().any(|a| headers.iter().any(|h| h == a)) {
                return Err(HygieneError::Format {
                    file: name.into(),
                    line: Some(1),
                    column: None,
                    reason: format!(
                        "missing column `{required}` (the header has: {})",
                        headers.join(",")
                    ),
                });
            }
        }
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    out.errors.push(RowError {
                        file: name.into(),
                        line: e.position().map_or(0, |p| p.line()),
                        column: None,
                        field: None,
                        reason: format!("not readable as CSV: {e}"),
                    });
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let get = |k: &str| {
                headers
                    .iter()
                    .position(|h| h == k)
                    .and_then(|i| record.get(i))
                    .map(str::to_string)
            };
            match flow_from(&get) {
                Ok(f) => out.flows.push(f),
                Err((field, reason)) => {
                    let column = FLOW_COLUMNS
                        .iter()
                        .find(|(c, _)| *c == field)
                        .and_then(|(_, a)| {
                            a.iter().find_map(|a| headers.iter().position(|h| h == a))
                        })
                        .map(|i| i as u64 + 1);
                    out.errors.push(RowError {
                        file: name.into(),
                        line,
                        column,
                        field: Some(field.into()),
                        reason,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    const POLICY: &str = r#"
[[connections]]
kind = "camera"
allow = [
  { to = "10.10.90.20", ports = [554, 443], proto = "tcp" },
  { to = "10.10.0.0/16", ports = [53, 123], proto = "udp" },
]

[[connections]]
kind = "camera"
site = "LYO"
allow = [{ to = "10.20.90.0/24" }]
"#;

    fn monitor() -> FlowMonitor {
        let inv = Inventory::from_csv(
            "i.csv",
            "id,kind,ip,site\nCAM-1,camera,10.10.50.21,PAR\nCAM-2,camera,10.20.50.21,LYO\n\
             PC-1,workstation,10.10.20.44,PAR\nCAM-6,camera,fd00::21,PAR\n",
        )
        .unwrap();
        FlowMonitor::new(&inv.devices, &Policy::from_toml("p.toml", POLICY).unwrap())
    }

    fn flow(src: &str, dst: &str, port: u16, proto: Proto) -> Flow {
        Flow {
            time_ms: 1_000,
            src: src.parse().unwrap(),
            src_port: 40_000,
            dst: dst.parse().unwrap(),
            dst_port: port,
            proto,
        }
    }

    #[test]
    fn allow_lists_decide() {
        let mut m = monitor();
        let v = |m: &mut FlowMonitor, f: Flow| m.evaluate(&f);
        assert_eq!(
            v(&mut m, flow("10.10.50.21", "10.10.90.20", 554, Proto::Tcp)),
            FlowVerdict::Allowed(0)
        );
        assert_eq!(
            v(&mut m, flow("10.10.50.21", "10.10.90.20", 22, Proto::Tcp)),
            FlowVerdict::Alert(0)
        );
        assert_eq!(
            v(&mut m, flow("10.10.50.21", "10.10.0.53", 53, Proto::Udp)),
            FlowVerdict::Allowed(0)
        );
        assert_eq!(
            v(&mut m, flow("10.10.50.21", "10.10.0.53", 53, Proto::Tcp)),
            FlowVerdict::Alert(0)
        );
        assert_eq!(
            v(&mut m, flow("10.10.50.21", "8.8.8.8", 53, Proto::Udp)),
            FlowVerdict::Alert(0)
        );
        // LYO cameras have their own, more specific list
        assert_eq!(
            v(&mut m, flow("10.20.50.21", "10.20.90.7", 9999, Proto::Udp)),
            FlowVerdict::Allowed(1)
        );
        assert_eq!(
            v(&mut m, flow("10.20.50.21", "10.10.90.20", 554, Proto::Tcp)),
            FlowVerdict::Alert(1)
        );
        assert_eq!(
            v(&mut m, flow("10.10.20.44", "1.1.1.1", 443, Proto::Tcp)),
            FlowVerdict::Unmonitored(2)
        );
        assert_eq!(
            v(&mut m, flow("10.99.0.1", "1.1.1.1", 443, Proto::Tcp)),
            FlowVerdict::NotADevice
        );
        assert_eq!(
            v(&mut m, flow("fd00::21", "2606:4700::1111", 443, Proto::Tcp)),
            FlowVerdict::Alert(3)
        );
        assert_eq!(
            v(
                &mut m,
                flow("::ffff:10.10.50.21", "::ffff:10.10.90.20", 443, Proto::Tcp)
            ),
            FlowVerdict::Allowed(0)
        );
    }

    #[test]
    fn runs_group_alerts_into_findings() {
        let mut m = monitor();
        let flows = [
            flow("10.10.50.21", "203.0.113.9", 443, Proto::Tcp),
            flow("10.10.50.21", "45.33.32.156", 443, Proto::Tcp),
            Flow {
                time_ms: 5_000,
                ..flow("10.10.50.21", "45.33.32.156", 443, Proto::Tcp)
            },
            flow("10.10.50.21", "10.10.20.44", 445, Proto::Tcp),
            flow("10.10.50.21", "10.10.90.20", 554, Proto::Tcp),
        ];
        let report = m.run(&flows);
        assert_eq!(
            (report.flows, report.allowed, report.alerts.len()),
            (5, 1, 3)
        );
        let findings = m.findings(&report);
        let internet = findings
            .iter()
            .find(|f| f.title.contains("45.33.32.156"))
            .unwrap();
        assert_eq!(internet.severity, Severity::High);
        assert!(
            internet.evidence.starts_with("2 flow(s)"),
            "{}",
            internet.evidence
        );
        let lateral = findings
            .iter()
            .find(|f| f.title.contains("10.10.20.44"))
            .unwrap();
        assert_eq!(lateral.severity, Severity::Medium);
        assert_eq!(lateral.controls[0].id, "A.8.16");
        let doc = findings
            .iter()
            .find(|f| f.title.contains("203.0.113.9"))
            .unwrap();
        assert_eq!(
            doc.severity,
            Severity::Medium,
            "documentation range is not the internet"
        );
        assert_eq!(
            m.last_seen().find(|(id, _)| *id == "CAM-1"),
            Some(("CAM-1", 5_000))
        );
    }

    #[test]
    fn flow_files_csv_nfdump_and_json_lines() {
        let csv = "time,src_ip,src_port,dst_ip,dst_port,proto\n\
                   2026-01-01T00:00:00Z,10.10.50.21,40000,8.8.8.8,53,udp\n\
                   2026-01-01T00:00:01Z,10.10.50.21,40000,8.8.8.999,53,udp\n\
                   1767225602000,10.10.50.21,,10.10.90.20,554,6\n";
        let f = FlowFile::parse("f.csv", csv).unwrap();
        assert_eq!(f.flows.len(), 2);
        assert_eq!(f.flows[1].proto, Proto::Tcp);
        assert_eq!(
            f.errors[0].to_string(),
            "f.csv:3:4: column `dst_ip`: invalid value `8.8.8.999` (expected an IP address)"
        );
        let nfdump = "ts,te,td,sa,da,sp,dp,pr\n2026-01-01 00:00:00.000,2026-01-01 00:00:01.000,1.0,10.10.50.21,1.1.1.1,5000,443,TCP\n";
        let f = FlowFile::parse("n.csv", nfdump).unwrap();
        assert_eq!(f.flows[0].dst_port, 443);
        assert_eq!(f.flows[0].time_ms, 1_767_225_600_000);
        let jsonl = "{\"time\": 1, \"src\": \"10.10.50.21\", \"dst\": \"1.1.1.1\", \"dst_port\": 443}\n{\"time\": 2}\n";
        let f = FlowFile::parse("j.jsonl", jsonl).unwrap();
        assert_eq!((f.flows.len(), f.errors.len()), (1, 1));
        assert_eq!(f.errors[0].line, 2);
        assert!(FlowFile::parse("x.csv", "a,b\n1,2\n").is_err());
    }

    #[test]
    fn public_addresses() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(!is_public("10.1.2.3".parse().unwrap()));
        assert!(!is_public("100.64.1.1".parse().unwrap()));
        assert!(!is_public("fd00::1".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }
}
