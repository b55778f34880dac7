//! Background traffic: a working day at every site of a directory — people arriving and leaving
//! through the entrance and office doors, SSH logins from their workstations, remote workers on
//! the VPN, camera motion, outbound firewall flows — as records in the public input formats
//! (onvif-ej, RFC 5424 syslog, CEF). Deterministic for a seed (`StdRng::seed_from_u64`).
//!
//! The same generator is the workload of the benchmarks: [`synthetic_directory`] makes a
//! directory of N people, devices and sites, and `onesec drill generate` streams its day to a
//! file or to the listeners at a chosen rate.

use crate::scenario::{Background, parse_clock_time};
use chrono::{NaiveDate, TimeZone};
use onesec_directory::{Directory, PersonStatus, Tz};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{IpAddr, Ipv4Addr};

/// One generated record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Event time (UTC milliseconds).
    pub at_ms: i64,
    /// Decoder name: `onvif-ej`, `syslog` (CEF is sent as syslog).
    pub format: &'static str,
    /// The record, one line.
    pub line: String,
}

/// Someone who comes to work (or works remotely).
#[derive(Debug, Clone)]
struct Worker {
    account: String,
    badge: Option<String>,
    site: usize,
    workstation: IpAddr,
}

/// What a site offers the background: its doors, hosts and cameras.
#[derive(Debug, Clone)]
struct SiteKit {
    tz: Tz,
    controller: String,
    entry_in: Option<String>,
    entry_out: Option<String>,
    office_reader: Option<String>,
    servers: Vec<String>,
    cameras: Vec<String>,
    vpn: Option<String>,
    firewall: String,
}

/// The people and places background traffic is made of, read from a directory.
#[derive(Debug, Clone)]
pub struct Population {
    workers: Vec<Worker>,
    sites: Vec<SiteKit>,
}

impl Population {
    /// Active people with a home site and the doors, hosts and cameras of their sites.
    /// People on leave or terminated make no background (their use is what rules look for).
    pub fn from_directory(directory: &Directory) -> Population {
        let sites: Vec<SiteKit> = directory
            .sites()
            .iter()
            .map(|site| site_kit(directory, &site.id, site.tz))
            .collect();
        let site_index = |id: &str| directory.sites().iter().position(|s| s.id == id);
        let mut workers = Vec::new();
        for (n, person) in directory.people().iter().enumerate() {
            if person.status != PersonStatus::Active {
                continue;
            }
            let Some(site) = site_index(&person.home_site) else {
                continue;
            };
            let Some(account) = person.accounts.iter().find(|a| !a.contains('\\')) else {
                continue;
            };
            workers.push(Worker {
                account: account.clone(),
                badge: person.badges.first().cloned(),
                site,
                workstation: office_address(directory, &directory.sites()[site].id, n),
            });
        }
        Population { workers, sites }
    }

    /// How many people make traffic.
    pub fn people(&self) -> usize {
        self.workers.len()
    }

    /// Every record of the profile between `from_ms` and `to_ms`, in time order.
    pub fn background(&self, profile: &Background, from_ms: i64, to_ms: i64) -> Vec<Record> {
        let mut rng = StdRng::seed_from_u64(profile.seed);
        let mut out = Vec::new();
        let arrive = parse_clock_time(&profile.arrive).unwrap_or(8 * 60 + 30);
        let leave = parse_clock_time(&profile.leave).unwrap_or(17 * 60 + 15);
        let first_day = day_of(from_ms - 86_400_000);
        let last_day = day_of(to_ms + 86_400_000);
        let mut day = first_day;
        while day <= last_day {
            for worker in &self.workers {
                let kit = &self.sites[worker.site];
                let midnight = local_midnight_ms(kit.tz, day);
                let jitter = |rng: &mut StdRng| rng.random_range(-40..=40i64) * 60_000;
                let in_ms = midnight + i64::from(arrive) * 60_000 + jitter(&mut rng);
                let out_ms = midnight + i64::from(leave) * 60_000 + jitter(&mut rng);
                self.working_day(profile, worker, kit, (in_ms, out_ms), &mut rng, &mut out);
            }
            for kit in &self.sites {
                let midnight = local_midnight_ms(kit.tz, day);
                camera_motion(profile, kit, midnight, &mut rng, &mut out);
            }
            day = day.succ_opt().unwrap_or(day);
            if day == NaiveDate::MAX {
                break;
            }
        }
        out.retain(|r| r.at_ms >= from_ms && r.at_ms < to_ms);
        out.sort_by_key(|r| r.at_ms);
        out
    }

    fn working_day(
        &self,
        profile: &Background,
        worker: &Worker,
        kit: &SiteKit,
        (in_ms, out_ms): (i64, i64),
        rng: &mut StdRng,
        out: &mut Vec<Record>,
    ) {
        let on_site = worker.badge.is_some();
        if profile.doors
            && let Some(badge) = &worker.badge
        {
            if let Some(reader) = &kit.entry_in {
                out.push(badge_record(&kit.controller, reader, badge, "in", in_ms));
            }
            if let Some(reader) = &kit.office_reader {
                let at = in_ms + rng.random_range(30..120i64) * 1000;
                out.push(badge_record(&kit.controller, reader, badge, "in", at));
            }
            if let Some(reader) = &kit.entry_out {
                out.push(badge_record(&kit.controller, reader, badge, "out", out_ms));
            }
        }
        if !on_site
            && profile.vpn
            && let Some(vpn) = &kit.vpn
        {
            out.push(vpn_record(vpn, worker, in_ms, rng));
        }
        let span = (out_ms - in_ms - 20 * 60_000).max(60_000);
        if on_site && !kit.servers.is_empty() {
            for _ in 0..profile.logins_per_person {
                let at = in_ms + 10 * 60_000 + rng.random_range(0..span);
                let server = &kit.servers[rng.random_range(0..kit.servers.len())];
                out.push(ssh_record(server, worker, at, rng));
            }
        }
        let hours = ((out_ms - in_ms) / 3_600_000).max(0) as u32;
        if on_site {
            for _ in 0..profile.flows_per_person_per_hour * hours {
                let at = in_ms + rng.random_range(0..(out_ms - in_ms).max(1));
                out.push(flow_record(&kit.firewall, worker, at, rng));
            }
        }
    }
}

fn site_kit(directory: &Directory, site: &str, tz: Tz) -> SiteKit {
    let devices: Vec<_> = directory
        .devices()
        .iter()
        .filter(|d| d.site.as_deref() == Some(site))
        .collect();
    let host_of = |kind: &str| -> Vec<String> {
        devices
            .iter()
            .filter(|d| d.kind == kind)
            .filter_map(|d| d.hostname.clone())
            .collect()
    };
    let portals: Vec<_> = directory
        .portals()
        .iter()
        .filter(|p| p.site == site)
        .collect();
    let entrance = portals
        .iter()
        .find(|p| p.from.as_deref() == Some("outside"));
    let reader_with = |dir: &str| {
        entrance.and_then(|p| {
            p.readers
                .iter()
                .find(|r| r.direction.is_some_and(|d| d.as_str() == dir))
                .map(|r| r.id.clone())
        })
    };
    let office_reader = portals
        .iter()
        .find(|p| directory.zone(&p.zone).is_some_and(|z| z.has_tag("office")))
        .and_then(|p| p.readers.first().map(|r| r.id.clone()));
    let lower = site.to_ascii_lowercase();
    SiteKit {
        tz,
        controller: host_of("controller")
            .into_iter()
            .next()
            .unwrap_or_else(|| format!("ctl-{lower}")),
        entry_in: reader_with("in"),
        entry_out: reader_with("out"),
        office_reader,
        servers: host_of("server"),
        cameras: host_of("camera"),
        vpn: host_of("vpn-gateway").into_iter().next(),
        firewall: format!("fw-{lower}"),
    }
}

/// An address in the site's office segment for the person's workstation (so the login comes
/// from inside the company).
fn office_address(directory: &Directory, site: &str, n: usize) -> IpAddr {
    let segment = directory
        .zones()
        .iter()
        .filter(|z| z.site == site && z.has_tag("office"))
        .flat_map(|z| z.segments.iter())
        .find_map(|s| match s.network() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        });
    let base = segment.unwrap_or(Ipv4Addr::new(10, 0, 20, 0)).octets();
    IpAddr::V4(Ipv4Addr::new(
        base[0],
        base[1],
        base[2],
        100 + (n % 150) as u8,
    ))
}

fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

fn local_midnight_ms(tz: Tz, day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| midnight.and_utc().timestamp_millis())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn badge_record(controller: &str, reader: &str, badge: &str, direction: &str, at: i64) -> Record {
    let payload = serde_json::json!({
        "UtcTime": rfc3339(at),
        "PropertyOperation": "Changed",
        "Source": {"AccessPointToken": reader},
        "Data": {"CredentialToken": badge, "External": "false", "Direction": direction},
    });
    let line = serde_json::json!({
        "topic": format!("onesec-drill/{controller}/onvif-ej/AccessControl/AccessGranted/Credential/&{reader}"),
        "payload": payload,
    });
    Record {
        at_ms: at,
        format: "onvif-ej",
        line: line.to_string(),
    }
}

fn motion_record(camera: &str, state: bool, at: i64) -> Record {
    let line = serde_json::json!({
        "topic": format!("onesec-drill/{camera}/onvif-ej/VideoSource/MotionAlarm/&VideoSource_1"),
        "payload": {
            "UtcTime": rfc3339(at),
            "PropertyOperation": "Changed",
            "Source": {"Source": "VideoSource_1"},
            "Data": {"State": if state { "true" } else { "false" }},
        },
    });
    Record {
        at_ms: at,
        format: "onvif-ej",
        line: line.to_string(),
    }
}

fn camera_motion(
    profile: &Background,
    kit: &SiteKit,
    midnight: i64,
    rng: &mut StdRng,
    out: &mut Vec<Record>,
) {
    let day_start = midnight + 7 * 3_600_000;
    for camera in &kit.cameras {
        for _ in 0..profile.camera_motion_per_hour * 11 {
            let at = day_start + rng.random_range(0..11 * 3_600_000i64);
            out.push(motion_record(camera, true, at));
            let end = at + rng.random_range(15..90i64) * 1000;
            out.push(motion_record(camera, false, end));
        }
    }
}

fn ssh_record(server: &str, worker: &Worker, at: i64, rng: &mut StdRng) -> Record {
    let pid = rng.random_range(1000..60000u32);
    let port = rng.random_range(40000..60000u32);
    Record {
        at_ms: at,
        format: "syslog",
        line: format!(
            "<86>1 {} {server} sshd {pid} - - Accepted publickey for {} from {} port {port} ssh2",
            rfc3339(at),
            worker.account,
            worker.workstation
        ),
    }
}

fn vpn_record(vpn: &str, worker: &Worker, at: i64, rng: &mut StdRng) -> Record {
    let port = rng.random_range(40000..60000u32);
    let home = Ipv4Addr::new(203, 0, 113, rng.random_range(10..250u8));
    Record {
        at_ms: at,
        format: "syslog",
        line: format!(
            "<86>1 {} {vpn} openvpn 902 - - {home}:{port} [{}] Peer Connection Initiated with [AF_INET]{home}:{port}",
            rfc3339(at),
            worker.account
        ),
    }
}

fn flow_record(firewall: &str, worker: &Worker, at: i64, rng: &mut StdRng) -> Record {
    let dst = Ipv4Addr::new(198, 51, 100, rng.random_range(1..250u8));
    let spt = rng.random_range(40000..60000u32);
    let (out_bytes, in_bytes) = (
        rng.random_range(500..20_000u32),
        rng.random_range(1_000..200_000u32),
    );
    Record {
        at_ms: at,
        format: "syslog",
        line: format!(
            "<134>1 {} {firewall} firewall - - - CEF:0|onesec|drill-firewall|1.0|flow|Traffic allowed|3|src={} spt={spt} dst={dst} dpt=443 proto=TCP act=allow out={out_bytes} in={in_bytes} suser={}",
            rfc3339(at),
            worker.workstation,
            worker.account
        ),
    }
}

/// A made-up company of `people` people and `devices` devices (cameras and servers, spread
/// over the sites) on `sites` sites, as the three directory files: `people.csv`,
/// `sites.yaml`, `devices.csv`. The benchmark workload's population.
pub fn synthetic_directory(people: usize, devices: usize, sites: usize) -> [String; 3] {
    const ZONES: [&str; 3] = ["Europe/London", "America/Toronto", "Europe/Paris"];
    let sites = sites.max(1);
    let mut people_csv =
        String::from("person_id,name,department,status,accounts,badges,home_site\n");
    for n in 0..people {
        let site = n % sites + 1;
        // One in ten works remotely (no badge, VPN).
        let badge = if n % 10 == 9 {
            String::new()
        } else {
            format!("0x{:06X}", 0x100000 + n)
        };
        people_csv.push_str(&format!(
            "p{n:06},Person {n},Staff,active,u{n:06},{badge},S{site:02}\n"
        ));
    }
    let mut sites_yaml = String::from("sites:\n");
    let mut devices_csv = String::from("device_id,kind,hostname,ip,site,zone\n");
    for s in 1..=sites {
        let tz = ZONES[(s - 1) % ZONES.len()];
        let (a, b) = (10 + s / 250, s % 250);
        sites_yaml.push_str(&format!(
            "  - id: S{s:02}\n    name: Site {s}\n    timezone: {tz}\n    zones:\n      - {{ id: S{s:02}-RECEPTION, name: Reception, tags: [public] }}\n      - {{ id: S{s:02}-OFFICE, name: Office, tags: [office], segments: [{a}.{b}.20.0/24] }}\n      - {{ id: S{s:02}-SRV, name: Server room, tags: [restricted, server-room], segments: [{a}.{b}.90.0/24] }}\n    portals:\n      - id: S{s:02}-D-MAIN\n        name: Main entrance\n        zone: S{s:02}-RECEPTION\n        from: outside\n        readers:\n          - {{ id: R-S{s:02}-IN, direction: in }}\n          - {{ id: R-S{s:02}-OUT, direction: out }}\n      - {{ id: S{s:02}-D-OFF, name: Office door, zone: S{s:02}-OFFICE, from: S{s:02}-RECEPTION, readers: [R-S{s:02}-OFF] }}\n"
        ));
        devices_csv.push_str(&format!(
            "CTL-S{s:02},controller,ctl-s{s:02},{a}.{b}.50.5,S{s:02},S{s:02}-RECEPTION\nVPN-S{s:02},vpn-gateway,vpn-s{s:02},{a}.{b}.90.3,S{s:02},S{s:02}-SRV\n"
        ));
    }
    for d in 0..devices {
        let s = d % sites + 1;
        let (a, b) = (10 + s / 250, s % 250);
        let host = 10 + (d / sites) % 240;
        let (kind, zone, prefix, octet) = if d % 3 == 2 {
            ("server", "SRV", "srv", 90)
        } else {
            ("camera", "OFFICE", "cam", 50)
        };
        devices_csv.push_str(&format!(
            "D{d:05},{kind},{prefix}-s{s:02}-{d:05},{a}.{b}.{octet}.{host},S{s:02},S{s:02}-{zone}\n"
        ));
    }
    [people_csv, sites_yaml, devices_csv]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn population() -> Population {
        let [people, sites, devices] = synthetic_directory(40, 12, 2);
        let directory = Directory::from_texts(Some(&people), Some(&sites), Some(&devices)).unwrap();
        Population::from_directory(&directory)
    }

    const DAY: i64 = 1_777_939_200_000; // 2026-05-05T00:00:00Z

    #[test]
    fn the_same_seed_gives_the_same_day_and_another_seed_another() {
        let population = population();
        let profile = Background::default();
        let a = population.background(&profile, DAY, DAY + 86_400_000);
        let b = population.background(&profile, DAY, DAY + 86_400_000);
        assert!(a.len() > 100, "{}", a.len());
        assert_eq!(a, b);
        let other = Background {
            seed: 2,
            ..Background::default()
        };
        assert_ne!(a, population.background(&other, DAY, DAY + 86_400_000));
    }

    #[test]
    fn a_day_has_its_rhythm_and_every_kind_of_record() {
        let population = population();
        assert_eq!(population.people(), 40);
        let day = population.background(&Background::default(), DAY, DAY + 86_400_000);
        assert!(day.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        for needle in [
            "AccessGranted",
            "MotionAlarm",
            "Accepted publickey",
            "CEF:0",
            "Peer Connection",
        ] {
            assert!(day.iter().any(|r| r.line.contains(needle)), "{needle}");
        }
        // Nobody badges in at night (site local time is London or Toronto: 03:00 UTC is night
        // in both).
        let night = DAY + 3 * 3_600_000;
        assert!(
            !day.iter().any(|r| r.line.contains("AccessGranted")
                && (night..night + 3_600_000).contains(&r.at_ms))
        );
    }

    #[test]
    fn the_synthetic_directory_loads_with_every_device() {
        let [people, sites, devices] = synthetic_directory(25, 30, 3);
        let directory = Directory::from_texts(Some(&people), Some(&sites), Some(&devices)).unwrap();
        assert_eq!(directory.people().len(), 25);
        assert_eq!(directory.sites().len(), 3);
        assert_eq!(directory.devices().len(), 30 + 2 * 3);
    }
}
