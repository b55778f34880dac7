//! Device hygiene for the connected physical estate: cameras, readers, controllers, panels,
//! sensors and recorders held to the same rules as IT.
//!
//! What goes in:
//!
//! * an **inventory** ([`Inventory`]): the directory's `devices.csv` with more columns, or a
//!   CSV / JSON file of its own; bad rows are reported with line and column, good rows kept;
//! * **knowledge** ([`Knowledge`]): the CISA KEV catalogue ([`KevCatalog`]), vendor advisories
//!   with version ranges ([`Advisories`]: a simple TOML/JSON format and CSAF 2.0), vendor
//!   default logins ([`DefaultCreds`]) and the site's [`Policy`] (allowed segments,
//!   connection allow-lists, heartbeats, credential age);
//! * optionally **flow records** ([`Flow`], [`FlowFile`]) checked by a [`FlowMonitor`].
//!
//! What comes out: [`Finding`]s (check id, severity, device, evidence, the ISO/IEC 27001:2022
//! Annex A and IEC 62443 controls the check maps to) and a [`Posture`] per device, zone and
//! site. Vendor names are normalised ([`vendor`]) and firmware versions compared as vendors
//! write them ([`version`]). Everything is documented for users in `docs/hygiene.md`.
//!
//! ```no_run
//! use onesec_hygiene::{Assessment, Clock, Inventory, Knowledge, KevCatalog};
//! # fn main() -> Result<(), onesec_hygiene::HygieneError> {
//! let inventory = Inventory::load("devices.csv".as_ref())?;
//! let knowledge = Knowledge {
//!     kev: Some(KevCatalog::load("known_exploited_vulnerabilities.json".as_ref())?),
//!     ..Knowledge::default()
//! };
//! let assessment = Assessment::new(&inventory, &knowledge, Clock::now(), &[]);
//! for f in &assessment.findings {
//!     println!("{} {} {} {}", f.severity, f.device, f.check, f.title);
//! }
//! # Ok(()) }
//! ```
//!
//! **Architecture invariant:** no network and no clock of its own: files are read where the
//! caller says, time is the [`Clock`] passed in. The same inputs give the same findings.

pub mod advisory;
mod check;
pub mod creds;
mod error;
pub mod finding;
pub mod flow;
mod inventory;
pub mod kev;
pub mod policy;
mod posture;
mod read;
pub mod vendor;
pub mod version;

pub use advisory::{Advisories, Advisory};
pub use check::{Clock, Knowledge, PHYSICAL_KINDS, is_physical};
pub use creds::DefaultCreds;
pub use error::{HygieneError, RowError};
pub use finding::{Check, Control, Finding, Severity, checks};
pub use flow::{Flow, FlowFile, FlowMonitor, FlowReport, FlowVerdict};
pub use inventory::{CredentialState, Device, Inventory, Protocol, parse_time_ms};
pub use kev::KevCatalog;
pub use policy::Policy;
pub use posture::{DevicePosture, GroupPosture, Posture, device_score};

use serde::Serialize;
use std::path::PathBuf;

/// Where the knowledge comes from (the `[hygiene]` section of the configuration, or the
/// `onesec devices check` flags). Every path is optional.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// CISA KEV JSON.
    pub kev: Option<PathBuf>,
    /// Advisory files (simple TOML/JSON or CSAF 2.0).
    pub advisories: Vec<PathBuf>,
    /// Default-credential cheat sheet CSV.
    pub default_creds: Option<PathBuf>,
    /// Policy TOML.
    pub policy: Option<PathBuf>,
}

impl Knowledge {
    /// Loads every file named in `sources`; the first unreadable or malformed file is the error.
    pub fn load(sources: &Sources) -> Result<Knowledge, HygieneError> {
        let mut knowledge = Knowledge::default();
        if let Some(path) = &sources.kev {
            let kev = KevCatalog::load(path)?;
            tracing::info!(file = %path.display(), version = %kev.version, entries = kev.entries.len(), "KEV catalogue loaded");
            knowledge.kev = Some(kev);
        }
        for path in &sources.advisories {
            knowledge.advisories.extend(Advisories::load(path)?);
        }
        if let Some(path) = &sources.default_creds {
            let creds = DefaultCreds::load(path)?;
            for e in &creds.errors {
                tracing::warn!(error = %e, "default-credentials row skipped");
            }
            knowledge.creds = Some(creds);
        }
        if let Some(path) = &sources.policy {
            knowledge.policy = Policy::load(path)?;
        }
        Ok(knowledge)
    }
}

/// Which devices to show: all filters given must hold.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Site id (case-insensitive).
    pub site: Option<String>,
    /// Kind (case-insensitive).
    pub kind: Option<String>,
    /// Devices with a finding: a check id (`VULN-KEV`), an id prefix (`VULN`, `EXP`), a
    /// severity (`high`: a finding at least that severe) or `any`.
    pub finding: Option<String>,
}

impl DeviceFilter {
    fn finding_matches(&self, f: &Finding) -> bool {
        let Some(want) = self.finding.as_deref().map(str::trim) else {
            return true;
        };
        if want.eq_ignore_ascii_case("any") {
            return true;
        }
        if let Some(severity) = Severity::parse(want) {
            return f.severity >= severity;
        }
        let id = f.check.to_ascii_lowercase();
        let want = want.to_ascii_lowercase();
        id == want || id.starts_with(&format!("{want}-"))
    }
}

/// One device with its posture and findings.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport<'a> {
    /// The inventory row.
    pub device: &'a Device,
    /// Score.
    pub score: u32,
    /// Findings (all of them, not only those the filter asked for).
    pub findings: Vec<&'a Finding>,
}

/// Findings and posture of an inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// The devices checked.
    pub devices: Vec<Device>,
    /// Every finding, device by device.
    pub findings: Vec<Finding>,
    /// Scores.
    pub posture: Posture,
    /// Inventory rows refused.
    pub errors: Vec<RowError>,
}

impl Assessment {
    /// Checks every device of `inventory` and, when `flows` is not empty, its connections
    /// (flows also count as the device being seen, for liveness).
    pub fn new(
        inventory: &Inventory,
        knowledge: &Knowledge,
        clock: Clock,
        flows: &[Flow],
    ) -> Assessment {
        let mut devices = inventory.devices.clone();
        let mut flow_findings = Vec::new();
        if !flows.is_empty() {
            let mut monitor = FlowMonitor::new(&devices, &knowledge.policy);
            let report = monitor.run(flows);
            flow_findings = monitor.findings(&report);
            let seen: std::collections::HashMap<&str, i64> = monitor.last_seen().collect();
            for d in &mut devices {
                if let Some(t) = seen.get(d.id.as_str()) {
                    d.last_seen_ms = Some(*t);
                }
            }
        }
        let mut findings = knowledge.check_all(&devices, clock);
        findings.extend(flow_findings);
        let order: std::collections::HashMap<&str, usize> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect();
        findings.sort_by_key(|f| {
            (
                order.get(f.device.as_str()).copied().unwrap_or(usize::MAX),
                std::cmp::Reverse(f.severity),
            )
        });
        let posture = Posture::new(&devices, &findings);
        Assessment {
            devices,
            findings,
            posture,
            errors: inventory.errors.clone(),
        }
    }

    /// The devices the filter selects, each with its score and findings.
    pub fn select(&self, filter: &DeviceFilter) -> Vec<DeviceReport<'_>> {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref()
                .is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w.trim())))
        };
        self.devices
            .iter()
            .zip(&self.posture.devices)
            .filter(|(d, _)| eq(&filter.site, d.site.as_deref()) && eq(&filter.kind, Some(&d.kind)))
            .map(|(d, p)| DeviceReport {
                device: d,
                score: p.score,
                findings: self.findings.iter().filter(|f| f.device == d.id).collect(),
            })
            .filter(|r| {
                filter.finding.is_none() || r.findings.iter().any(|f| filter.finding_matches(f))
            })
            .collect()
    }

    /// One device by id (case-insensitive).
    pub fn device(&self, id: &str) -> Option<DeviceReport<'_>> {
        let i = self
            .devices
            .iter()
            .position(|d| d.id.eq_ignore_ascii_case(id))?;
        let d = &self.devices[i];
        Some(DeviceReport {
            device: d,
            score: self.posture.devices[i].score,
            findings: self.findings.iter().filter(|f| f.device == d.id).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_devices() {
        let inv = Inventory::from_csv(
            "i.csv",
            "id,kind,vendor,model,firmware,site,protocols,credential_state\n\
             A,camera,Axis,P1,1,PAR,telnet,managed\n\
             B,reader,HID,R1,1,PAR,osdp-sc,managed\n\
             C,camera,Axis,P1,1,LYO,https,default\n",
        )
        .unwrap();
        let clock = Clock {
            today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            now_ms: None,
        };
        let a = Assessment::new(&inv, &Knowledge::default(), clock, &[]);
        let ids = |f: DeviceFilter| -> Vec<String> {
            a.select(&f).iter().map(|r| r.device.id.clone()).collect()
        };
        assert_eq!(ids(DeviceFilter::default()), ["A", "B", "C"]);
        let site = |s: &str| DeviceFilter {
            site: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(ids(site("par")), ["A", "B"]);
        let finding = |s: &str| DeviceFilter {
            finding: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(ids(finding("EXP")), ["A"]);
        assert_eq!(ids(finding("cred-default")), ["C"]);
        assert_eq!(ids(finding("critical")), ["C"]);
        assert_eq!(ids(finding("any")), ["A", "C"]);
        let kind = DeviceFilter {
            kind: Some("Camera".into()),
            site: Some("LYO".into()),
            ..Default::default()
        };
        assert_eq!(ids(kind), ["C"]);
        assert_eq!(a.device("b").map(|r| r.score), Some(100));
    }
}
