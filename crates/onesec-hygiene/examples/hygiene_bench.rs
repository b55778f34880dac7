//! Benchmark: hygiene checks over a generated estate and flow monitoring, on one thread.
//!
//! ```sh
//! cargo run --release -p onesec-hygiene --example hygiene_bench -- [DEVICES] [FLOWS]
//! ```
//!
//! Defaults: 100 000 devices, 5 000 000 flows. The real KEV catalogue and default-credential
//! sheet are read from `../shared` (through `onesec-testdata`) when present. Prints the time of
//! each stage and the rates; results are recorded in `docs/benchmarks.md`.

use onesec_hygiene::policy::Proto;
use onesec_hygiene::{
    Advisories, Clock, DefaultCreds, Flow, FlowMonitor, FlowVerdict, Inventory, KevCatalog,
    Knowledge, Policy,
};
/// xorshift64*, so runs are comparable.
use onesec_testdata::XorShift64Star as Rng;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const MODELS: &[(&str, &str, &str, &str)] = &[
    (
        "camera",
        "Hikvision",
        "DS-2CD2043G0-I",
        "V5.5.0 build 170725",
    ),
    ("camera", "Axis Communications", "P3245-LV", "10.12.114"),
    ("camera", "Dahua", "IPC-HFW2431S", "2.800.0000000.16.R"),
    ("camera", "Hanwha Vision", "XNV-8080R", "2.21.02"),
    ("nvr", "Milestone Systems", "Husky X2", "2023 R2"),
    ("reader", "HID Global", "Signo 40", "10.0.2.1"),
    ("controller", "HID Mercury", "LP1502", "1.29.1"),
    ("controller", "LenelS2", "LNL-X4420", "1.310"),
    ("panel", "Bosch", "B5512", "3.10.028"),
    ("camera", "Reolink", "RLC-410W", "v3.0.0.136"),
];

const PROTOCOLS: &[&str] = &[
    "https",
    "https;rtsp",
    "http;https;rtsp;onvif",
    "osdp-sc",
    "osdp",
    "https;telnet",
];
const CREDS: &[&str] = &[
    "",
    "default",
    "rotated",
    "managed",
    "never-rotated",
    "changed",
];

fn inventory(n: usize, rng: &mut Rng) -> String {
    let mut csv = String::from(
        "id,kind,vendor,model,firmware,ip,vlan,site,zone,protocols,credential_state,last_rotated,last_seen\n",
    );
    for i in 0..n {
        let (kind, vendor, model, firmware) = MODELS[rng.below(MODELS.len() as u64) as usize];
        let site = ["PAR", "LYO", "EDI", "MTL"][i % 4];
        let ip =
            Ipv4Addr::from(0x0A00_0000u32 + (i as u32 % 4) * 0x0001_0000 + 0x3200 + i as u32 / 4);
        let vlan = if rng.below(20) == 0 { 20 } else { 50 };
        let protocols = PROTOCOLS[rng.below(PROTOCOLS.len() as u64) as usize];
        let creds = CREDS[rng.below(CREDS.len() as u64) as usize];
        let rotated = if creds == "rotated" { "2025-03-01" } else { "" };
        let seen = 1_767_225_600_000u64 - rng.below(900_000);
        let _ = writeln!(
            csv,
            "D{i},{kind},{vendor},{model},{firmware},{ip},{vlan},{site},{site}-Z{},{protocols},{creds},{rotated},{seen}",
            i % 50
        );
    }
    csv
}

const POLICY: &str = r#"
[[segments]]
kinds = ["camera", "nvr", "reader", "controller", "panel"]
allow = ["vlan:50"]

[[connections]]
kinds = ["camera", "nvr"]
allow = [
  { to = "10.99.90.20", ports = [554, 443, "8000-8010"], proto = "tcp" },
  { to = "10.99.0.0/24", ports = [53, 123], proto = "udp" },
]

[[connections]]
kinds = ["reader", "controller", "panel"]
allow = [{ to = "10.99.90.30/31", ports = [443, 3001], proto = "tcp" }]
"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let devices: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let flows: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);

    let t = Instant::now();
    let kev = onesec_testdata::shared("data/kev/known_exploited_vulnerabilities.json")
        .map(|p| KevCatalog::load(&p).expect("KEV loads"));
    let creds = onesec_testdata::shared("data/default-creds/DefaultCreds-Cheat-Sheet.csv")
        .map(|p| DefaultCreds::load(&p).expect("default credentials load"));
    let advisories = Advisories::from_toml(
        "bench.toml",
        r#"
[[advisory]]
cve = "CVE-2021-36260"
vendor = "Hikvision"
products = ["DS-2CD*"]
affected = [">= 5.4.0, < 5.5.800"]
"#,
    )
    .expect("advisories parse");
    let policy = Policy::from_toml("bench.toml", POLICY).expect("policy parses");
    let knowledge = Knowledge {
        kev,
        advisories,
        creds,
        policy,
    };
    println!(
        "knowledge loaded            {:>10.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let text = inventory(devices, &mut rng);
    let t = Instant::now();
    let inv = Inventory::from_csv("bench.csv", &text).expect("inventory parses");
    let dt = t.elapsed().as_secs_f64();
    assert!(inv.errors.is_empty(), "{:?}", &inv.errors[..1]);
    println!(
        "inventory parse  {devices:>8} dev {:>10.1} ms  {:>12.0} devices/s",
        dt * 1e3,
        devices as f64 / dt
    );

    let clock = Clock::at(1_767_225_600_000);
    let t = Instant::now();
    let findings = knowledge.check_all(&inv.devices, clock);
    let dt = t.elapsed().as_secs_f64();
    println!(
        "hygiene checks   {devices:>8} dev {:>10.1} ms  {:>12.0} devices/s  ({} findings)",
        dt * 1e3,
        devices as f64 / dt,
        findings.len()
    );
    let t = Instant::now();
    let posture = onesec_hygiene::Posture::new(&inv.devices, &findings);
    println!(
        "posture                      {:>10.1} ms  ({} sites, {} zones)",
        t.elapsed().as_secs_f64() * 1e3,
        posture.sites.len(),
        posture.zones.len()
    );

    let t = Instant::now();
    let mut monitor = FlowMonitor::new(&inv.devices, &knowledge.policy);
    println!(
        "flow monitor build           {:>10.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    // (address, is a camera or recorder): each device mostly talks to its own servers
    let addrs: Vec<(IpAddr, bool)> = inv
        .devices
        .iter()
        .filter_map(|d| {
            d.ip.map(|ip| (ip, matches!(d.kind.as_str(), "camera" | "nvr")))
        })
        .collect();
    let mut batch = Vec::with_capacity(flows);
    for i in 0..flows {
        let (src, video) = if rng.below(10) == 0 {
            // not a device (a workstation)
            (
                IpAddr::V4(Ipv4Addr::from(0x0A14_0000u32 + rng.below(65_536) as u32)),
                true,
            )
        } else {
            addrs[rng.below(addrs.len() as u64) as usize]
        };
        // about 2 % of the flows break the allow-lists
        let (dst, port, proto) = match (rng.below(100), video) {
            (0, _) => (IpAddr::V4(Ipv4Addr::new(45, 33, 32, 156)), 443, Proto::Tcp),
            (1, _) => (IpAddr::V4(Ipv4Addr::new(10, 2, 20, 44)), 445, Proto::Tcp),
            (_, false) => (IpAddr::V4(Ipv4Addr::new(10, 99, 90, 31)), 3001, Proto::Tcp),
            (2..=40, true) => (IpAddr::V4(Ipv4Addr::new(10, 99, 0, 53)), 53, Proto::Udp),
            (_, true) => (IpAddr::V4(Ipv4Addr::new(10, 99, 90, 20)), 554, Proto::Tcp),
        };
        batch.push(Flow {
            time_ms: 1_767_225_600_000 + i as i64,
            src,
            src_port: 40_000,
            dst,
            dst_port: port,
            proto,
        });
    }
    let t = Instant::now();
    let (mut alerts, mut allowed) = (0u64, 0u64);
    for flow in &batch {
        match monitor.evaluate(black_box(flow)) {
            FlowVerdict::Alert(_) => alerts += 1,
            FlowVerdict::Allowed(_) => allowed += 1,
            _ => {}
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "flow evaluate    {flows:>8} flw {:>10.1} ms  {:>12.0} flows/s  ({alerts} alerts, {allowed} allowed)",
        dt * 1e3,
        flows as f64 / dt
    );
    let t = Instant::now();
    let report = monitor.run(&batch);
    let grouped = monitor.findings(&report);
    let dt = t.elapsed().as_secs_f64();
    println!(
        "flow run+group   {flows:>8} flw {:>10.1} ms  {:>12.0} flows/s  ({} alert groups)",
        dt * 1e3,
        flows as f64 / dt,
        grouped.len()
    );
}
